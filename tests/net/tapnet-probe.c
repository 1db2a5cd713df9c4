/* tapnet-probe.c - run the real tap set-up of pvecfs-qemu (watchers/qemu/
 * tapnet.c) where the kernel can do it: the QEMU guest of
 * tests/net/suite-net-vm, whose kernel has bridge VLAN filtering (the host's
 * has not, so tests/qemu only sees the error path there).
 *
 *   tapnet-probe start [--keep-on-error] VMID 'netN: ...'...
 *       Does for one VM what the watcher does when it starts it: parses the
 *       netN lines as part of a VM config (vmconf_parse), builds the QEMU
 *       command (qemu_cmd_build: tap names, bridge, MTU, tag), creates each
 *       tap as QEMU's `-netdev tap,ifname=...` does, then puts the taps on
 *       their bridges with the calls of vm.c's attach_nics() in its order:
 *       tapnet_attach(), then tapnet_set_vlan() when there is a tag.
 *       attach_nics() is static, so this repeats its sequence over the public
 *       tapnet API.  On success the taps are made persistent, so the guest's
 *       shell can inspect them after this exits (the "running VM").  On a
 *       failure the taps go away with this process, as they go away with
 *       QEMU when vm_start() aborts a start; --keep-on-error keeps them, to
 *       inspect what the failed call left.
 *   tapnet-probe attach IFNAME BRIDGE MTU TAG
 *       The same attach + tag sequence for an existing link (a veth end).
 *   tapnet-probe set-vlan IFNAME BRIDGE VID
 *       tapnet_set_vlan() alone (a retag, or a vid the config cannot hold).
 *   tapnet-probe remove VMID
 *       tapnet_remove_vm_taps(), what the watcher runs after a VM stopped.
 *
 * Exit status 0, or 1 with "error: REASON (ERRNO-NAME)" on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmdline.h"
#include "log.h"
#include "tapnet.h"
#include "vmconf.h"

#define MAX_TAPS 8

static int fail(int r, const char *msg)
{
	const char *name = strerrorname_np(-r);
	fprintf(stderr, "error: %s (%s)\n", msg, name ? name : "?");
	return 1;
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 65535)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* Create tap ifname the way QEMU's tap backend does (multi-queue off, vnet
 * header on, no packet info) and return its fd: the tap lives as long as the
 * fd unless it is made persistent. */
static int create_tap(const char *ifname)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct ifreq ifr = { 0 };
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* What attach_nics() in watchers/qemu/vm.c does for one NIC, in its order. */
static int attach_nic(const char *ifname, const char *bridge, unsigned mtu, unsigned tag, char *err, size_t errlen)
{
	int r = tapnet_attach(ifname, bridge, mtu, err, errlen);
	if (r < 0)
		return r;
	if (tag)
		r = tapnet_set_vlan(ifname, bridge, tag, err, errlen);
	return r;
}

static void print_warning(void *userdata, const struct parse_error *warning)
{
	(void)userdata;
	char text[PARSE_ERROR_TEXT_MAX];
	fprintf(stderr, "warning: %s\n", parse_error_format(warning, text, sizeof(text)));
}

/* The VM config of the probe: just enough to build a command, plus the
 * netN lines. */
static char *config_text(char **lines, int n)
{
	size_t len = 64;
	for (int i = 0; i < n; i++)
		len += strlen(lines[i]) + 1;
	char *text = malloc(len);
	if (!text)
		return NULL;
	size_t at = (size_t)snprintf(text, len, "name: probe\nmemory: 128\n");
	for (int i = 0; i < n; i++)
		at += (size_t)snprintf(text + at, len - at, "%s\n", lines[i]);
	return text;
}

static int build_cmd(unsigned vmid, char **lines, int n, struct qemu_cmd *cmd)
{
	_cleanup_free_ char *text = config_text(lines, n);
	if (!text)
		return fail(-ENOMEM, "out of memory");
	char file[64];
	snprintf(file, sizeof(file), "%u.conf", vmid);
	struct parse_error err = { 0 };
	char msg[PARSE_ERROR_TEXT_MAX];
	__attribute__((cleanup(vmconf_freep))) struct vmconf *conf = NULL;
	if (vmconf_parse(text, strlen(text), file, print_warning, NULL, &conf, &err) < 0)
		return fail(-EINVAL, parse_error_format(&err, msg, sizeof(msg)));
	struct qemu_cmd_options opts = {
		.run_dir = "/tmp/tapnet-probe", .accel = QEMU_ACCEL_TCG, .start_paused = true,
	};
	int r = qemu_cmd_build(cmd, vmid, conf, file, &opts, &err);
	if (r < 0)
		return fail(r, err.reason[0] ? parse_error_format(&err, msg, sizeof(msg)) : strerror(-r));
	return 0;
}

static void close_taps(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int persist_taps(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0 && ioctl(fds[i], TUNSETPERSIST, 1) < 0)
			return -errno;
	return 0;
}

/* Create the taps of cmd, then attach them; on failure report it and keep
 * or drop the taps. */
static int start_taps(const struct qemu_cmd *cmd, int *fds, bool keep_on_error)
{
	char err[512] = "";
	int r = 0;
	for (size_t i = 0; i < cmd->n_nics && r >= 0; i++) {
		fds[i] = create_tap(cmd->nics[i].ifname);
		if (fds[i] < 0) {
			r = fds[i];
			snprintf(err, sizeof(err), "cannot create tap %s: %s", cmd->nics[i].ifname, strerror(-r));
		}
	}
	for (size_t i = 0; i < cmd->n_nics && r >= 0; i++) {
		const struct qemu_nic *nic = &cmd->nics[i];
		if (!nic->bridge)
			continue;
		r = attach_nic(nic->ifname, nic->bridge, nic->mtu, nic->tag, err, sizeof(err));
		if (r >= 0)
			printf("%s bridge=%s mtu=%u tag=%u: ok\n", nic->ifname, nic->bridge, nic->mtu, nic->tag);
	}
	if (r >= 0 || keep_on_error) {
		int p = persist_taps(fds, cmd->n_nics);
		if (p < 0 && r >= 0) {
			r = p;
			snprintf(err, sizeof(err), "cannot make the taps persistent: %s", strerror(-p));
		}
	}
	return r < 0 ? fail(r, err) : 0;
}

static int do_start(int argc, char **argv)
{
	bool keep_on_error = false;
	if (argc > 0 && strcmp(argv[0], "--keep-on-error") == 0) {
		keep_on_error = true;
		argc--, argv++;
	}
	unsigned vmid;
	if (argc < 2 || parse_uint(argv[0], &vmid) < 0 || argc - 1 > MAX_TAPS)
		return fail(-EINVAL, "usage: start [--keep-on-error] VMID 'netN: ...'...");
	struct qemu_cmd cmd = { 0 };
	if (build_cmd(vmid, argv + 1, argc - 1, &cmd) != 0) {
		qemu_cmd_clear(&cmd);
		return 1;
	}
	int fds[MAX_TAPS];
	for (size_t i = 0; i < MAX_TAPS; i++)
		fds[i] = -1;
	int rc = start_taps(&cmd, fds, keep_on_error);
	close_taps(fds, cmd.n_nics);
	qemu_cmd_clear(&cmd);
	return rc;
}

int main(int argc, char **argv)
{
	log_open("tapnet-probe", true);
	char err[512] = "";
	unsigned a, b;
	int r;
	if (argc >= 2 && strcmp(argv[1], "start") == 0)
		return do_start(argc - 2, argv + 2);
	if (argc == 6 && strcmp(argv[1], "attach") == 0 && parse_uint(argv[4], &a) == 0 &&
	    parse_uint(argv[5], &b) == 0) {
		r = attach_nic(argv[2], argv[3], a, b, err, sizeof(err));
		return r < 0 ? fail(r, err) : 0;
	}
	if (argc == 5 && strcmp(argv[1], "set-vlan") == 0 && parse_uint(argv[4], &a) == 0) {
		r = tapnet_set_vlan(argv[2], argv[3], a, err, sizeof(err));
		return r < 0 ? fail(r, err) : 0;
	}
	if (argc == 3 && strcmp(argv[1], "remove") == 0 && parse_uint(argv[2], &a) == 0) {
		r = tapnet_remove_vm_taps(a, err, sizeof(err));
		if (r < 0)
			return fail(r, err);
		printf("removed %d\n", r);
		return 0;
	}
	fprintf(stderr, "usage: see the top of tapnet-probe.c\n");
	return 2;
}
