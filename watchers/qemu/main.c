/* main.c - pvecfs-qemu, the VM watcher: entry point and subcommands.
 *
 * Subcommands live in one table; each is a function taking its own
 * arguments: `showcmd` (print the QEMU command of a VM, one argument per
 * line, without starting anything) and, in daemon.c, the daemon `run` and
 * the one-shot `status`, `start`, `stop`.
 *
 * Exit status: 0 success; 2 for a usage error or a config that cannot be
 * turned into a command (the message names file:line: key and the reason);
 * 1 for other failures. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmdline.h"
#include "daemon.h"
#include "log.h"
#include "schemas.h"
#include "sectioncfg.h"
#include "storage.h"
#include "vmconf.h"
#include "watchloop.h"

#define EXIT_CONFIG 2

struct subcommand {
	const char *name;
	const char *usage;
	int (*run)(int argc, char **argv);
};

static void print_warning(void *userdata, const struct parse_error *warning)
{
	char text[PARSE_ERROR_TEXT_MAX];
	fprintf(stderr, "warning: %s\n", parse_error_format(warning, text, sizeof(text)));
}

static void print_note(void *userdata, const char *text) { fprintf(stderr, "note: %s\n", text); }

static int config_error(const struct parse_error *err)
{
	char text[PARSE_ERROR_TEXT_MAX];
	fprintf(stderr, "error: %s\n", parse_error_format(err, text, sizeof(text)));
	return EXIT_CONFIG;
}

/* "100" -> <root>/nodes/<node>/qemu-server/100.conf; a path is taken as it
 * is and its file name must be <vmid>.conf. */
static int locate_config(const char *arg, const char *root, const char *node, unsigned *vmid, char **path)
{
	char *end;
	errno = 0;
	unsigned long id = strtoul(arg, &end, 10);
	if (arg[0] >= '0' && arg[0] <= '9' && *end == '\0') {
		if (errno || id < 100 || id > 999999999)
			return -ERANGE;
		*vmid = (unsigned)id;
		return asprintf(path, "%s/nodes/%s/qemu-server/%lu.conf", root, node, id) < 0 ? -ENOMEM : 0;
	}
	const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
	id = strtoul(base, &end, 10);
	if (end == base || strcmp(end, ".conf") != 0 || id < 100 || id > 999999999)
		return -EINVAL;
	*vmid = (unsigned)id;
	return (*path = strdup(arg)) ? 0 : -ENOMEM;
}

static int load_storage(const char *root, struct sectioncfg **cfg, char **file, struct parse_error *err)
{
	*cfg = NULL;
	if (asprintf(file, "%s/storage.cfg", root) < 0)
		return -ENOMEM;
	_cleanup_free_ char *text = NULL;
	ssize_t len = watch_read_file(*file, &text);
	if (len == -ENOENT)
		return 0; /* no storages: only absolute volume paths work */
	if (len < 0) {
		parse_error_fail(err, NULL, "cannot read: %s", strerror((int)-len));
		parse_error_at(err, *file, 0);
		return -EINVAL;
	}
	return sectioncfg_parse(text, (size_t)len, *file, &schema_storage_cfg, print_warning, NULL, cfg, err);
}

static int parse_accel(const char *s, enum qemu_accel *accel)
{
	if (strcmp(s, "auto") == 0)
		*accel = QEMU_ACCEL_AUTO;
	else if (strcmp(s, "kvm") == 0)
		*accel = QEMU_ACCEL_KVM;
	else if (strcmp(s, "tcg") == 0)
		*accel = QEMU_ACCEL_TCG;
	else
		return -EINVAL;
	return 0;
}

static int cmd_showcmd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },  { "node", required_argument, NULL, 'n' },
		{ "run", required_argument, NULL, 'R' },   { "accel", required_argument, NULL, 'a' },
		{ "paused", no_argument, NULL, 'S' },	   { NULL, 0, NULL, 0 },
	};
	const char *root = "/etc/pve", *node = NULL;
	char hostname[256];
	struct qemu_cmd_options opts = { .note = print_note };
	const char *accel_env = getenv("PVECFS_QEMU_ACCEL");
	if (accel_env && parse_accel(accel_env, &opts.accel) < 0) {
		fprintf(stderr, "error: PVECFS_QEMU_ACCEL must be auto, kvm or tcg\n");
		return EXIT_CONFIG;
	}
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'n': node = optarg; break;
		case 'R': opts.run_dir = optarg; break;
		case 'S': opts.start_paused = true; break;
		case 'a':
			if (parse_accel(optarg, &opts.accel) < 0) {
				fprintf(stderr, "error: --accel must be auto, kvm or tcg\n");
				return EXIT_CONFIG;
			}
			break;
		default: return EXIT_CONFIG;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: pvecfs-qemu showcmd <vmid>|<path/to/vmid.conf> [--root DIR] [--node NAME] "
				"[--run DIR] [--accel auto|kvm|tcg] [--paused]\n");
		return EXIT_CONFIG;
	}
	if (!node) {
		watch_short_hostname(hostname, sizeof(hostname));
		node = hostname;
	}
	unsigned vmid;
	_cleanup_free_ char *conf_path = NULL;
	int r = locate_config(argv[optind], root, node, &vmid, &conf_path);
	if (r < 0) {
		fprintf(stderr, "error: '%s' is neither a VM id (100..999999999) nor a path to <vmid>.conf\n",
			argv[optind]);
		return EXIT_CONFIG;
	}
	_cleanup_free_ char *text = NULL;
	ssize_t len = watch_read_file(conf_path, &text);
	if (len < 0) {
		fprintf(stderr, "error: %s: %s\n", conf_path, strerror((int)-len));
		return EXIT_CONFIG;
	}
	struct parse_error err;
	parse_error_clear(&err);
	__attribute__((cleanup(vmconf_freep))) struct vmconf *conf = NULL;
	if (vmconf_parse(text, (size_t)len, conf_path, print_warning, NULL, &conf, &err) < 0)
		return config_error(&err);
	__attribute__((cleanup(sectioncfg_freep))) struct sectioncfg *storage = NULL;
	_cleanup_free_ char *storage_file = NULL;
	if (load_storage(root, &storage, &storage_file, &err) < 0)
		return config_error(&err);
	struct qemu_storage resolver = { .cfg = storage, .file = storage_file, .node = node };
	opts.resolve_volume = qemu_storage_resolve;
	opts.resolver_data = &resolver;

	struct qemu_cmd cmd = { 0 };
	r = qemu_cmd_build(&cmd, vmid, conf, conf_path, &opts, &err);
	if (r == -ENOMEM) {
		fprintf(stderr, "error: out of memory\n");
		return 1;
	}
	if (r < 0)
		return config_error(&err);
	for (size_t i = 0; i < cmd.argc; i++)
		printf("%s\n", cmd.argv[i]);
	qemu_cmd_clear(&cmd);
	return fflush(stdout) == 0 ? 0 : 1;
}

static const struct subcommand subcommands[] = {
	{ "showcmd", "showcmd <vmid>|<path> [--root DIR] [--node NAME] [--run DIR] [--accel auto|kvm|tcg]",
	  cmd_showcmd },
	{ "run", "run [--root DIR] [--node NAME] [--run DIR] [--dry-run] [--shutdown-timeout S] [--accel auto|kvm|tcg]\n"
		 "      [--max-parallel-starts N] [--socket PATH] [--state FILE] [--resync-interval S] [--debug]",
	  qemu_cmd_run },
	{ "status", "status [vmid] [--socket PATH] [--json]", qemu_cmd_status },
	{ "start", "start <vmid> [--root DIR] [--node NAME]   (writes running to <vmid>.state)", qemu_cmd_start },
	{ "stop", "stop <vmid> [--root DIR] [--node NAME]    (writes stopped to <vmid>.state)", qemu_cmd_stop },
};

static int usage(FILE *out)
{
	fprintf(out, "usage: pvecfs-qemu <command> [options]\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
		fprintf(out, "  %s\n", subcommands[i].usage);
	return EXIT_CONFIG;
}

int main(int argc, char **argv)
{
	log_open("pvecfs-qemu", true);
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "pvecfs-qemu: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
