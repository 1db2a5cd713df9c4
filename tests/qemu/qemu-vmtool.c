/* qemu-vmtool.c - drive the lifecycle primitives of watchers/qemu/vm.c from
 * a shell test, one action per run (which is also how "watcher restarts" are
 * simulated: every run after start must adopt the VM).
 *
 *   qemu-vmtool start --vmid N [--nic IFNAME,BRIDGE,MTU,TAG]... [--volume PATH]... -- QEMU-ARGV...
 *       (the pid file and QMP socket are taken from -pidfile and -qmp
 *        unix:PATH,... in QEMU-ARGV, as pvecfs-qemu showcmd prints them)
 *   qemu-vmtool status PIDFILE QMPSOCK      prints the run state
 *   qemu-vmtool stop PIDFILE QMPSOCK TIMEOUT-MS   prints how it stopped
 *   qemu-vmtool adopt PIDFILE QMPSOCK       prints "adopted PID"
 *   qemu-vmtool tapnet-attach IFNAME BRIDGE MTU / tapnet-vlan IFNAME BRIDGE VID
 *
 * Exit status: 0 ok; 1 with the error (and its errno name) on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "tapnet.h"
#include "vm.h"

static int fail(int r, const char *msg)
{
	fprintf(stderr, "error: %s (%s)\n", msg, strerrorname_np(-r) ? strerrorname_np(-r) : "?");
	return 1;
}

static int take_paths_from_argv(struct qemu_cmd *cmd)
{
	for (size_t i = 1; i + 1 < cmd->argc; i++) {
		if (strcmp(cmd->argv[i], "-pidfile") == 0)
			cmd->pid_path = strdup(cmd->argv[i + 1]);
		/* the first -qmp is the watcher's monitor (a second one serves backups) */
		if (!cmd->qmp_path && strcmp(cmd->argv[i], "-qmp") == 0 && strncmp(cmd->argv[i + 1], "unix:", 5) == 0)
			cmd->qmp_path = strndup(cmd->argv[i + 1] + 5, strcspn(cmd->argv[i + 1] + 5, ","));
	}
	return cmd->pid_path && cmd->qmp_path ? 0 : -EINVAL;
}

static int add_nic(struct qemu_cmd *cmd, const char *spec)
{
	char ifname[16], bridge[32];
	unsigned mtu, tag;
	if (sscanf(spec, "%15[^,],%31[^,],%u,%u", ifname, bridge, &mtu, &tag) != 4)
		return -EINVAL;
	struct qemu_nic *nics = realloc(cmd->nics, (cmd->n_nics + 1) * sizeof(*nics));
	if (!nics)
		return -ENOMEM;
	cmd->nics = nics;
	struct qemu_nic *nic = &nics[cmd->n_nics++];
	memset(nic, 0, sizeof(*nic));
	nic->index = (unsigned)cmd->n_nics - 1;
	snprintf(nic->ifname, sizeof(nic->ifname), "%s", ifname);
	nic->bridge = strdup(bridge);
	nic->mtu = mtu;
	nic->tag = tag;
	return 0;
}

static int add_volume(struct qemu_cmd *cmd, const char *path)
{
	char **v = realloc(cmd->volumes, (cmd->n_volumes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	cmd->volumes = v;
	v[cmd->n_volumes++] = strdup(path);
	return 0;
}

static int do_start(int argc, char **argv)
{
	struct qemu_cmd cmd = { 0 };
	int i = 0;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (i + 1 >= argc)
			return fail(-EINVAL, "option without value");
		if (strcmp(argv[i], "--vmid") == 0)
			cmd.vmid = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--nic") == 0) {
			if (add_nic(&cmd, argv[++i]) < 0)
				return fail(-EINVAL, "bad --nic");
		} else if (strcmp(argv[i], "--volume") == 0)
			add_volume(&cmd, argv[++i]);
		else
			return fail(-EINVAL, "unknown option");
	}
	for (i++; i < argc; i++)
		qemu_cmd_add(&cmd, argv[i]);
	if (cmd.argc == 0 || take_paths_from_argv(&cmd) < 0)
		return fail(-EINVAL, "QEMU argv needs -pidfile and -qmp unix:");
	struct vm *vm;
	char err[512] = "";
	int r = vm_start(&cmd, 60000, &vm, err, sizeof(err));
	qemu_cmd_clear(&cmd);
	if (r < 0)
		return fail(r, err);
	printf("started %d\n", (int)vm_pid(vm));
	vm_free(vm);
	return 0;
}

static int adopt(const char *pid_path, const char *qmp_path, struct vm **vm)
{
	char err[512] = "";
	int r = vm_adopt(pid_path, qmp_path, 10000, vm, err, sizeof(err));
	if (r < 0)
		fail(r, err);
	return r;
}

static int do_status(char **argv)
{
	struct vm *vm;
	if (adopt(argv[0], argv[1], &vm) < 0)
		return 1;
	_cleanup_free_ char *status = NULL;
	int r = vm_query_status(vm, 10000, &status);
	if (r < 0) {
		fail(r, qmp_last_error(vm_qmp(vm)));
		vm_free(vm);
		return 1;
	}
	printf("%s\n", status);
	vm_free(vm);
	return 0;
}

static int do_stop(char **argv)
{
	struct vm *vm;
	if (adopt(argv[0], argv[1], &vm) < 0)
		return 1;
	enum vm_stop_how how;
	int r = vm_stop(vm, atoi(argv[2]), &how);
	vm_free(vm);
	if (r < 0)
		return fail(r, "stop failed");
	static const char *const names[] = { "graceful", "quit", "kill", "already" };
	printf("%s\n", names[how]);
	return 0;
}

static int do_adopt(char **argv)
{
	struct vm *vm;
	if (adopt(argv[0], argv[1], &vm) < 0)
		return 1;
	printf("adopted %d\n", (int)vm_pid(vm));
	vm_free(vm);
	return 0;
}

int main(int argc, char **argv)
{
	log_open("qemu-vmtool", true);
	char err[512] = "";
	int r;
	if (argc >= 2 && strcmp(argv[1], "start") == 0)
		return do_start(argc - 2, argv + 2);
	if (argc == 4 && strcmp(argv[1], "status") == 0)
		return do_status(argv + 2);
	if (argc == 5 && strcmp(argv[1], "stop") == 0)
		return do_stop(argv + 2);
	if (argc == 4 && strcmp(argv[1], "adopt") == 0)
		return do_adopt(argv + 2);
	if (argc == 5 && strcmp(argv[1], "tapnet-attach") == 0) {
		r = tapnet_attach(argv[2], argv[3], (unsigned)atoi(argv[4]), err, sizeof(err));
		return r < 0 ? fail(r, err) : 0;
	}
	if (argc == 5 && strcmp(argv[1], "tapnet-vlan") == 0) {
		r = tapnet_set_vlan(argv[2], argv[3], (unsigned)atoi(argv[4]), err, sizeof(err));
		return r < 0 ? fail(r, err) : 0;
	}
	fprintf(stderr, "usage: see the top of qemu-vmtool.c\n");
	return 2;
}
