/* vm.c - see vm.h.
 *
 * Why pidfds: after -daemonize QEMU is not our child, so waitpid() cannot
 * tell when it exits, and a pid alone can be reused by the time we signal
 * it.  A pidfd taken right after reading the pid file (and checked against
 * the process's command line) pins that very process: poll() on it says
 * "exited", pidfd_send_signal() can never hit a stranger. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "tapnet.h"

struct vm {
	pid_t pid;
	int pidfd;
	struct qmp *qmp;
	char *pid_path, *qmp_path;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_left(int64_t deadline)
{
	int64_t left = deadline - now_ms();
	return left < 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

static int set_err(char *err, size_t errlen, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int set_err(char *err, size_t errlen, int r, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

static int pidfd_open_pid(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	return fd < 0 ? -errno : fd;
}

static int pidfd_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

pid_t vm_pid(const struct vm *vm) { return vm->pid; }
struct qmp *vm_qmp(struct vm *vm) { return vm->qmp; }

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	qmp_close(vm->qmp);
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	free(vm->pid_path);
	free(vm->qmp_path);
	free(vm);
}

static void vm_freep(struct vm **vm) { vm_free(*vm); }

int vm_read_pid_file(const char *path, pid_t *pid)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	long v;
	if (fscanf(f, "%ld", &v) != 1 || v <= 1 || v > 0x3fffffff)
		return -EBADMSG;
	*pid = (pid_t)v;
	return 0;
}

/* Read /proc/<pid>/cmdline: NUL-separated arguments; returns the length. */
static ssize_t read_cmdline(pid_t pid, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

bool vm_process_matches(pid_t pid, const char *pid_path)
{
	/* QEMU command lines of big VMs run to a few KiB; 64 KiB is ample. */
	const size_t size = 1 << 16;
	_cleanup_free_ char *cmdline = malloc(size);
	if (!cmdline)
		return false;
	ssize_t len = read_cmdline(pid, cmdline, size - 1);
	bool match = false;
	if (len > 0) {
		cmdline[len] = '\0';
		/* Look for the two arguments "-pidfile" "<pid_path>". */
		for (char *arg = cmdline; arg < cmdline + len; arg += strlen(arg) + 1) {
			char *next = arg + strlen(arg) + 1;
			if (strcmp(arg, "-pidfile") == 0 && next < cmdline + len && strcmp(next, pid_path) == 0) {
				match = true;
				break;
			}
		}
	}
	return match;
}

int vm_wait_exit(struct vm *vm, int timeout_ms)
{
	struct pollfd pfd = { .fd = vm->pidfd, .events = POLLIN };
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int n = poll(&pfd, 1, ms_left(deadline));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int vm_query_status(struct vm *vm, int timeout_ms, char **status)
{
	*status = NULL;
	if (!vm->qmp)
		return -ENOTCONN;
	json_object *ret = NULL, *st;
	int r = qmp_execute(vm->qmp, "query-status", NULL, timeout_ms, &ret);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(ret, "status", &st) && json_object_is_type(st, json_type_string))
		*status = strdup(json_object_get_string(st));
	else
		r = -EBADMSG;
	json_object_put(ret);
	return r < 0 ? r : *status ? 0 : -ENOMEM;
}

/* Take hold of the process named by pid_path: pid, pidfd, and the check that
 * it is the QEMU that wrote that pid file. */
static int pin_process(struct vm *vm, char *err, size_t errlen)
{
	int r = vm_read_pid_file(vm->pid_path, &vm->pid);
	if (r < 0)
		return set_err(err, errlen, r, "%s: %s", vm->pid_path,
			       r == -EBADMSG ? "does not contain a pid" : strerror(-r));
	vm->pidfd = pidfd_open_pid(vm->pid);
	if (vm->pidfd < 0) {
		r = vm->pidfd;
		return set_err(err, errlen, r == -ESRCH ? -ESRCH : r, "%s: process %d %s", vm->pid_path, (int)vm->pid,
			       r == -ESRCH ? "is not running (stale pid file)" : strerror(-r));
	}
	/* Checked after the pidfd is open: if the pid was reused in between,
	 * the pidfd refers to the new process and this check rejects it. */
	if (!vm_process_matches(vm->pid, vm->pid_path))
		return set_err(err, errlen, -ESTALE, "%s: process %d is not the QEMU of this pid file", vm->pid_path,
			       (int)vm->pid);
	return 0;
}

static struct vm *vm_new(const char *pid_path, const char *qmp_path)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	vm->pidfd = -1;
	vm->pid_path = strdup(pid_path);
	vm->qmp_path = strdup(qmp_path);
	if (!vm->pid_path || !vm->qmp_path) {
		vm_free(vm);
		return NULL;
	}
	return vm;
}

static int connect_qmp(struct vm *vm, int timeout_ms, char *err, size_t errlen)
{
	_cleanup_free_ char *why = NULL;
	int r = qmp_connect(vm->qmp_path, timeout_ms, &vm->qmp, &why);
	if (r < 0)
		return set_err(err, errlen, r, "%s", why ? why : strerror(-r));
	return 0;
}

int vm_adopt(const char *pid_path, const char *qmp_path, int timeout_ms, struct vm **ret, char *err,
	     size_t errlen)
{
	*ret = NULL;
	_cleanup_(vm_freep) struct vm *vm = vm_new(pid_path, qmp_path);
	if (!vm)
		return -ENOMEM;
	int r = pin_process(vm, err, errlen);
	if (r < 0)
		return r;
	r = connect_qmp(vm, timeout_ms, err, errlen);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(vm);
	return 0;
}

/* ---- start ---- */

static int check_not_running(const struct qemu_cmd *cmd, char *err, size_t errlen)
{
	pid_t pid;
	if (vm_read_pid_file(cmd->pid_path, &pid) < 0)
		return 0;
	if (kill(pid, 0) == 0 && vm_process_matches(pid, cmd->pid_path))
		return set_err(err, errlen, -EEXIST, "VM %u is already running (pid %d)", cmd->vmid, (int)pid);
	return 0;
}

static int check_volumes(const struct qemu_cmd *cmd, char *err, size_t errlen)
{
	for (size_t i = 0; i < cmd->n_volumes; i++) {
		struct stat st;
		if (stat(cmd->volumes[i], &st) < 0)
			return set_err(err, errlen, -errno, "VM %u: volume %s: %s", cmd->vmid, cmd->volumes[i],
				       strerror(errno));
	}
	return 0;
}

/* mkdir -p of the directory that holds path. */
static int make_parent_dir(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(dir, 0755) < 0 && errno != EEXIST ? -errno : 0;
		*p = '/';
		if (r < 0)
			return r;
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void exec_qemu(const struct qemu_cmd *cmd, int out_fd)
{
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(127);
	syscall(SYS_close_range, 3, ~0U, 0);
	execvp(cmd->argv[0], cmd->argv);
	dprintf(2, "cannot run %s: %s\n", cmd->argv[0], strerror(errno));
	_exit(127);
}

/* Run QEMU until its -daemonize parent exits; collect what it printed.
 * Returns 0 when it exited with status 0. */
static int launch_qemu(const struct qemu_cmd *cmd, int64_t deadline, char *err, size_t errlen)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return set_err(err, errlen, -errno, "pipe: %s", strerror(errno));
	pid_t child = fork();
	if (child < 0) {
		int r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return set_err(err, errlen, r, "fork: %s", strerror(-r));
	}
	if (child == 0)
		exec_qemu(cmd, pipefd[1]);
	close(pipefd[1]);
	_cleanup_close_ int rfd = pipefd[0];
	fcntl(rfd, F_SETFL, O_NONBLOCK);

	char out[1024] = "";
	size_t out_len = 0;
	int status = 0;
	bool exited = false;
	while (!exited) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		if (poll(&pfd, 1, 100) > 0) {
			ssize_t n = read(rfd, out + out_len, sizeof(out) - 1 - out_len);
			if (n > 0)
				out_len += (size_t)n;
		}
		exited = waitpid(child, &status, WNOHANG) == child;
		if (!exited && now_ms() >= deadline) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			return set_err(err, errlen, -ETIMEDOUT, "VM %u: QEMU did not finish its set-up in time",
				       cmd->vmid);
		}
	}
	ssize_t n = read(rfd, out + out_len, sizeof(out) - 1 - out_len);
	if (n > 0)
		out_len += (size_t)n;
	out[out_len] = '\0';
	while (out_len && (out[out_len - 1] == '\n' || out[out_len - 1] == '\r'))
		out[--out_len] = '\0';
	for (char *c = out; *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return set_err(err, errlen, -EIO, "VM %u: QEMU failed (%s %d): %s", cmd->vmid,
			       WIFEXITED(status) ? "exit status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			       out_len ? out : "no message");
	if (out_len)
		log_warn("VM %u: QEMU said: %s", cmd->vmid, out);
	return 0;
}

static int attach_nics(const struct qemu_cmd *cmd, struct vm *vm, int64_t deadline, char *err, size_t errlen)
{
	for (size_t i = 0; i < cmd->n_nics; i++) {
		const struct qemu_nic *nic = &cmd->nics[i];
		if (!nic->bridge)
			continue;
		int r = tapnet_attach(nic->ifname, nic->bridge, nic->mtu, err, errlen);
		if (r < 0)
			return r;
		if (nic->tag) {
			r = tapnet_set_vlan(nic->ifname, nic->bridge, nic->tag, err, errlen);
			if (r < 0)
				return r;
		}
		if (nic->link_down) {
			json_object *args = json_object_new_object();
			char id[16];
			snprintf(id, sizeof(id), "net%u", nic->index);
			json_object_object_add(args, "name", json_object_new_string(id));
			json_object_object_add(args, "up", json_object_new_boolean(0));
			r = qmp_execute(vm->qmp, "set_link", args, ms_left(deadline), NULL);
			json_object_put(args);
			if (r < 0)
				return set_err(err, errlen, r, "VM %u: %s", cmd->vmid, qmp_last_error(vm->qmp));
		}
	}
	return 0;
}

/* The VM is set up and paused: let it run and confirm. */
static int resume_and_confirm(const struct qemu_cmd *cmd, struct vm *vm, int64_t deadline, char *err,
			      size_t errlen)
{
	int r = qmp_execute(vm->qmp, "cont", NULL, ms_left(deadline), NULL);
	if (r < 0)
		return set_err(err, errlen, r, "VM %u: %s", cmd->vmid, qmp_last_error(vm->qmp));
	_cleanup_free_ char *status = NULL;
	r = vm_query_status(vm, ms_left(deadline), &status);
	if (r < 0)
		return set_err(err, errlen, r, "VM %u: query-status: %s", cmd->vmid, qmp_last_error(vm->qmp));
	if (strcmp(status, "running") != 0)
		return set_err(err, errlen, -EIO, "VM %u: QEMU is '%s' after cont, not running", cmd->vmid, status);
	return 0;
}

/* A start failed after QEMU was launched: end that QEMU, leave nothing. */
static void abort_start(struct vm *vm)
{
	if (vm->pidfd < 0)
		return;
	pidfd_signal(vm->pidfd, SIGKILL);
	vm_wait_exit(vm, 5000);
	unlink(vm->pid_path);
	unlink(vm->qmp_path);
}

int vm_start(const struct qemu_cmd *cmd, int timeout_ms, struct vm **ret, char *err, size_t errlen)
{
	*ret = NULL;
	int64_t deadline = now_ms() + timeout_ms;
	int r = check_not_running(cmd, err, errlen);
	if (r < 0)
		return r;
	r = check_volumes(cmd, err, errlen);
	if (r < 0)
		return r;
	if ((r = make_parent_dir(cmd->pid_path)) < 0 || (r = make_parent_dir(cmd->qmp_path)) < 0)
		return set_err(err, errlen, r, "VM %u: cannot create the run directory: %s", cmd->vmid, strerror(-r));
	/* A pid file left by a QEMU that died without removing it. */
	unlink(cmd->pid_path);

	_cleanup_(vm_freep) struct vm *vm = vm_new(cmd->pid_path, cmd->qmp_path);
	if (!vm)
		return -ENOMEM;
	r = launch_qemu(cmd, deadline, err, errlen);
	if (r < 0)
		return r;
	r = pin_process(vm, err, errlen);
	if (r >= 0)
		r = connect_qmp(vm, ms_left(deadline), err, errlen);
	if (r >= 0)
		r = attach_nics(cmd, vm, deadline, err, errlen);
	if (r >= 0)
		r = resume_and_confirm(cmd, vm, deadline, err, errlen);
	if (r < 0) {
		abort_start(vm);
		return r;
	}
	log_info("VM %u: started, pid %d (%s)", cmd->vmid, (int)vm->pid, cmd->kvm ? "KVM" : "TCG");
	*ret = TAKE_PTR(vm);
	return 0;
}

/* ---- stop ---- */

/* QEMU removes its pid file on a clean exit; after a kill it cannot. */
static void remove_leftovers(struct vm *vm)
{
	pid_t pid;
	if (vm_read_pid_file(vm->pid_path, &pid) == 0 && pid == vm->pid)
		unlink(vm->pid_path);
	struct stat st;
	if (stat(vm->qmp_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(vm->qmp_path);
}

static int qmp_simple(struct vm *vm, const char *command, int timeout_ms)
{
	if (!vm->qmp)
		return -ENOTCONN;
	return qmp_execute(vm->qmp, command, NULL, timeout_ms, NULL);
}

int vm_stop(struct vm *vm, int timeout_ms, enum vm_stop_how *how)
{
	if (vm_wait_exit(vm, 0) == 1) {
		*how = VM_STOPPED_ALREADY;
		remove_leftovers(vm);
		return 0;
	}
	int r = qmp_simple(vm, "system_powerdown", 5000);
	if (r < 0 && r != -ECONNRESET)
		log_warn("pid %d: system_powerdown failed: %s", (int)vm->pid,
			 vm->qmp ? qmp_last_error(vm->qmp) : strerror(-r));
	else if (vm_wait_exit(vm, timeout_ms) == 1) {
		*how = VM_STOPPED_GRACEFULLY;
		remove_leftovers(vm);
		return 0;
	}
	log_warn("pid %d: guest did not shut down within %d ms, ending QEMU with quit", (int)vm->pid, timeout_ms);
	r = qmp_simple(vm, "quit", 5000);
	if ((r == 0 || r == -ECONNRESET) && vm_wait_exit(vm, 10000) == 1) {
		*how = VM_STOPPED_BY_QUIT;
		remove_leftovers(vm);
		return 0;
	}
	log_warn("pid %d: QEMU did not exit after quit, killing it", (int)vm->pid);
	r = pidfd_signal(vm->pidfd, SIGKILL);
	if (r < 0 && r != -ESRCH)
		return r;
	if (vm_wait_exit(vm, 10000) != 1)
		return -ETIMEDOUT;
	*how = VM_STOPPED_BY_KILL;
	remove_leftovers(vm);
	return 0;
}
