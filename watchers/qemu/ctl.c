/* ctl.c - the client subcommands of pvecfs-qemu: `status` (what the
 * watchers of the cluster published), `start` and `stop` (write the desired
 * state to <vmid>.state; the watcher of the VM's node acts), and the small
 * helpers the daemon shares with them. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apiclient.h"
#include "cleanup.h"
#include "qemud.h"

int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "123" -> 123 if it is a VM id (100..999999999), else 0. */
unsigned parse_vmid(const char *s, size_t len)
{
	if (len == 0 || len > 9 || s[0] == '0')
		return 0;
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v >= 100 ? v : 0;
}

int write_text(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		return -EIO;
	int r = close(TAKE_FD(fd));
	return r < 0 ? -errno : 0;
}

struct client_opts {
	const char *socket, *root, *node, *run;
	bool json;
};

static int parse_client_opts(int argc, char **argv, struct client_opts *co)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' }, { "root", required_argument, NULL, 'r' },
		{ "node", required_argument, NULL, 'n' },   { "run", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },	    { NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': co->socket = optarg; break;
		case 'r': co->root = optarg; break;
		case 'n': co->node = optarg; break;
		case 'R': co->run = optarg; break;
		case 'j': co->json = true; break;
		default: return -EINVAL;
		}
	}
	return 0;
}

static void print_vm_status(const char *node, const char *vmid, const char *value)
{
	json_object *o = json_tokener_parse(value), *v;
	const char *state = o && json_object_object_get_ex(o, "state", &v) ? json_object_get_string(v) : "?";
	printf("%s %s %s", node, vmid, state);
	if (o && json_object_object_get_ex(o, "pid", &v) && v)
		printf(" pid=%d", json_object_get_int(v));
	if (o && json_object_object_get_ex(o, "pending", &v) && json_object_get_boolean(v))
		printf(" pending");
	if (o && json_object_object_get_ex(o, "lock", &v) && v)
		printf(" lock=%s", json_object_get_string(v));
	if (o && json_object_object_get_ex(o, "error", &v) && v)
		printf(" error=\"%s\"", json_object_get_string(v));
	printf("\n");
	json_object_put(o);
}

int qemu_cmd_status(int argc, char **argv)
{
	struct client_opts co = { 0 };
	if (parse_client_opts(argc, argv, &co) < 0 || argc - optind > 1) {
		fprintf(stderr, "usage: pvecfs-qemu status [vmid] [--socket PATH] [--json]\n");
		return EXIT_USAGE;
	}
	unsigned vmid = 0;
	if (optind < argc && !(vmid = parse_vmid(argv[optind], strlen(argv[optind])))) {
		fprintf(stderr, "error: '%s' is not a VM id\n", argv[optind]);
		return EXIT_USAGE;
	}
	struct api_client *c = NULL;
	int r = api_client_connect(co.socket, &c);
	json_object *args = json_object_new_object(), *result = NULL;
	char key[32];
	if (vmid) {
		snprintf(key, sizeof(key), "qemu/%u", vmid);
		json_object_object_add(args, "key", json_object_new_string(key));
	}
	if (r == 0)
		r = api_client_call(c, "nodestatus_get", args, &result, 10000);
	json_object_put(args);
	if (r < 0) {
		fprintf(stderr, "error: %s\n", api_client_error(c));
		api_client_close(c);
		return 1;
	}
	api_client_close(c);
	json_object *nodes;
	bool any = false;
	if (json_object_object_get_ex(result, "nodes", &nodes)) {
		json_object_object_foreach(nodes, node, keys) {
			json_object_object_foreach(keys, k, value) {
				if (strncmp(k, "qemu/", 5) != 0)
					continue;
				any = true;
				if (co.json)
					printf("%s %s %s\n", node, k + 5, json_object_get_string(value));
				else
					print_vm_status(node, k + 5, json_object_get_string(value));
			}
		}
	}
	json_object_put(result);
	if (vmid && !any) {
		fprintf(stderr, "error: no node reports VM %u\n", vmid);
		return 1;
	}
	return 0;
}

static int write_state_cmd(int argc, char **argv, const char *state)
{
	struct client_opts co = { .root = "/etc/pve" };
	if (parse_client_opts(argc, argv, &co) < 0 || argc - optind != 1) {
		fprintf(stderr, "usage: pvecfs-qemu %s <vmid> [--root DIR] [--node NAME]\n",
			strcmp(state, "running\n") == 0 ? "start" : "stop");
		return EXIT_USAGE;
	}
	unsigned vmid = parse_vmid(argv[optind], strlen(argv[optind]));
	if (!vmid) {
		fprintf(stderr, "error: '%s' is not a VM id\n", argv[optind]);
		return EXIT_USAGE;
	}
	char hostname[256];
	if (!co.node) {
		watch_short_hostname(hostname, sizeof(hostname));
		co.node = hostname;
	}
	_cleanup_free_ char *conf = NULL, *path = NULL;
	if (asprintf(&conf, "%s/nodes/%s/qemu-server/%u.conf", co.root, co.node, vmid) < 0 ||
	    asprintf(&path, "%s/nodes/%s/qemu-server/%u.state", co.root, co.node, vmid) < 0)
		return 1;
	if (access(conf, F_OK) != 0) {
		fprintf(stderr, "error: %s: %s\n", conf, strerror(errno));
		return 1;
	}
	int r = write_text(path, state);
	if (r < 0) {
		fprintf(stderr, "error: %s: %s\n", path, strerror(-r));
		return 1;
	}
	return 0;
}

int qemu_cmd_start(int argc, char **argv) { return write_state_cmd(argc, argv, "running\n"); }
int qemu_cmd_stop(int argc, char **argv) { return write_state_cmd(argc, argv, "stopped\n"); }
