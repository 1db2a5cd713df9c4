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

/* One start in progress.  It owns everything of its VM until it is taken
 * (vm_launch_take) or freed; nothing is shared between launches. */
enum launch_stage {
	LAUNCH_SETUP,	 /* QEMU's -daemonize parent runs: collect its output */
	LAUNCH_CONNECT,	 /* it exited 0: connect to the QMP socket */
	LAUNCH_GREETING, /* connected: wait for the greeting */
	LAUNCH_CAPS,	 /* qmp_capabilities sent */
	LAUNCH_CONT,	 /* taps attached, cont sent */
	LAUNCH_STATUS,	 /* query-status sent */
	LAUNCH_DONE,	 /* running: the vm can be taken */
	LAUNCH_FAILED,	 /* err says why; QEMU is gone */
};

struct vm_launch {
	const struct qemu_cmd *cmd; /* borrowed until the launch is done */
	struct vm *vm;
	enum launch_stage stage;
	int64_t deadline;
	int64_t retry_at; /* LAUNCH_CONNECT: the next connect attempt */
	pid_t child;	  /* the -daemonize parent, our child */
	int child_fd;	  /* its pidfd */
	int out_fd;	  /* its stdout+stderr */
	char out[1024];
	size_t out_len;
	int64_t qmp_id; /* the reply awaited */
	int result;
	char err[1024];
};

static void launch_close_setup(struct vm_launch *l)
{
	if (l->child > 0) {
		kill(l->child, SIGKILL);
		waitpid(l->child, NULL, 0);
		l->child = 0;
	}
	if (l->child_fd >= 0)
		close(l->child_fd);
	if (l->out_fd >= 0)
		close(l->out_fd);
	l->child_fd = l->out_fd = -1;
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

static int launch_fail(struct vm_launch *l, int r)
{
	bool in_setup = l->stage == LAUNCH_SETUP;
	launch_close_setup(l);
	/* A QEMU stuck in its set-up (e.g. a chardev waiting for a client) has
	 * already daemonized and written its pid file: end it too. */
	if (in_setup && l->vm->pidfd < 0 && pin_process(l->vm, NULL, 0) < 0 && l->vm->pidfd >= 0) {
		close(l->vm->pidfd); /* not that QEMU: never signal it */
		l->vm->pidfd = -1;
	}
	abort_start(l->vm);
	l->stage = LAUNCH_FAILED;
	l->result = r;
	if (!l->err[0])
		snprintf(l->err, sizeof(l->err), "VM %u: %s", l->cmd->vmid, strerror(-r));
	return r;
}

void vm_launch_free(struct vm_launch *l)
{
	if (!l)
		return;
	if (l->stage != LAUNCH_DONE && l->stage != LAUNCH_FAILED && l->vm)
		launch_fail(l, -ECANCELED);
	launch_close_setup(l);
	vm_free(l->vm);
	free(l);
}

static void launch_freep(struct vm_launch **l) { vm_launch_free(*l); }

int vm_launch_begin(const struct qemu_cmd *cmd, int timeout_ms, struct vm_launch **ret, char *err, size_t errlen)
{
	*ret = NULL;
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

	_cleanup_(launch_freep) struct vm_launch *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cmd = cmd;
	l->child_fd = l->out_fd = -1;
	l->deadline = now_ms() + timeout_ms;
	if (!(l->vm = vm_new(cmd->pid_path, cmd->qmp_path)))
		return -ENOMEM;
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
		return set_err(err, errlen, -errno, "pipe: %s", strerror(errno));
	l->out_fd = pipefd[0];
	pid_t child = fork();
	if (child < 0) {
		close(pipefd[1]);
		return set_err(err, errlen, -errno, "fork: %s", strerror(errno));
	}
	if (child == 0)
		exec_qemu(cmd, pipefd[1]);
	close(pipefd[1]);
	l->child = child;
	l->child_fd = pidfd_open_pid(child);
	if (l->child_fd < 0)
		return set_err(err, errlen, l->child_fd, "pidfd_open: %s", strerror(-l->child_fd));
	*ret = TAKE_PTR(l);
	return 0;
}

static void collect_output(struct vm_launch *l)
{
	ssize_t n;
	while (l->out_len < sizeof(l->out) - 1 &&
	       (n = read(l->out_fd, l->out + l->out_len, sizeof(l->out) - 1 - l->out_len)) > 0)
		l->out_len += (size_t)n;
	l->out[l->out_len] = '\0';
}

/* The -daemonize parent exits once QEMU is set up (or failed to be). */
static int launch_step_setup(struct vm_launch *l)
{
	collect_output(l);
	int status = 0;
	if (waitpid(l->child, &status, WNOHANG) != l->child)
		return 0;
	l->child = 0;
	collect_output(l);
	launch_close_setup(l);
	char *out = l->out;
	size_t len = l->out_len;
	while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	for (char *c = out; *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(l->err, sizeof(l->err), "VM %u: QEMU failed (%s %d): %.900s", l->cmd->vmid,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), len ? out : "no message");
		return launch_fail(l, -EIO);
	}
	if (len)
		log_warn("VM %u: QEMU said: %s", l->cmd->vmid, out);
	int r = pin_process(l->vm, l->err, sizeof(l->err));
	if (r < 0)
		return launch_fail(l, r);
	l->stage = LAUNCH_CONNECT;
	return 1;
}

static int launch_step_connect(struct vm_launch *l)
{
	if (now_ms() < l->retry_at)
		return 0;
	int r = qmp_open(l->vm->qmp_path, &l->vm->qmp);
	if (r == -ENOENT || r == -ECONNREFUSED || r == -EAGAIN) {
		l->retry_at = now_ms() + 20; /* QEMU still opening it */
		return 0;
	}
	if (r < 0) {
		snprintf(l->err, sizeof(l->err), "%s: cannot connect: %s", l->vm->qmp_path, strerror(-r));
		return launch_fail(l, r);
	}
	l->stage = LAUNCH_GREETING;
	l->qmp_id = QMP_ID_GREETING;
	return 1;
}

static int launch_send(struct vm_launch *l, const char *command, enum launch_stage next)
{
	int r = qmp_send(l->vm->qmp, command, NULL, &l->qmp_id);
	if (r < 0) {
		snprintf(l->err, sizeof(l->err), "VM %u: %s", l->cmd->vmid, qmp_last_error(l->vm->qmp));
		return launch_fail(l, r);
	}
	l->stage = next;
	return 1;
}

/* A QMP stage: the awaited reply arrived; act on it. */
static int launch_on_reply(struct vm_launch *l, json_object *ret)
{
	switch (l->stage) {
	case LAUNCH_GREETING: return launch_send(l, "qmp_capabilities", LAUNCH_CAPS);
	case LAUNCH_CAPS: {
		int r = attach_nics(l->cmd, l->vm, l->deadline, l->err, sizeof(l->err));
		return r < 0 ? launch_fail(l, r) : launch_send(l, "cont", LAUNCH_CONT);
	}
	case LAUNCH_CONT: return launch_send(l, "query-status", LAUNCH_STATUS);
	case LAUNCH_STATUS: {
		json_object *st;
		const char *status = ret && json_object_object_get_ex(ret, "status", &st) ? json_object_get_string(st)
											: NULL;
		if (!status || strcmp(status, "running") != 0) {
			snprintf(l->err, sizeof(l->err), "VM %u: QEMU is '%s' after cont, not running", l->cmd->vmid,
				 status ? status : "?");
			return launch_fail(l, -EIO);
		}
		log_info("VM %u: started, pid %d (%s)", l->cmd->vmid, (int)l->vm->pid, l->cmd->kvm ? "KVM" : "TCG");
		l->stage = LAUNCH_DONE;
		return 1;
	}
	default: return -EINVAL;
	}
}

static int launch_step_qmp(struct vm_launch *l)
{
	json_object *ret = NULL;
	int r = qmp_receive(l->vm->qmp, l->qmp_id, &ret);
	if (r < 0) {
		const char *why = qmp_last_error(l->vm->qmp);
		snprintf(l->err, sizeof(l->err), "VM %u: %s", l->cmd->vmid, why[0] ? why : strerror(-r));
		return launch_fail(l, r);
	}
	if (r == 1) {
		r = launch_on_reply(l, ret);
	}
	json_object_put(ret);
	return r;
}

int vm_launch_step(struct vm_launch *l)
{
	for (;;) {
		int r;
		switch (l->stage) {
		case LAUNCH_SETUP: r = launch_step_setup(l); break;
		case LAUNCH_CONNECT: r = launch_step_connect(l); break;
		case LAUNCH_DONE: return 1;
		case LAUNCH_FAILED: return l->result;
		default: r = launch_step_qmp(l); break;
		}
		if (r < 0)
			return r;
		if (r == 0)
			break;
	}
	if (now_ms() >= l->deadline) {
		snprintf(l->err, sizeof(l->err), "VM %u: %s", l->cmd->vmid,
			 l->stage == LAUNCH_SETUP ? "QEMU did not finish its set-up in time"
						  : "QEMU did not answer on its QMP socket in time");
		return launch_fail(l, -ETIMEDOUT);
	}
	return 0;
}

int vm_launch_poll(const struct vm_launch *l, struct pollfd *pfd, int64_t *wake_ms)
{
	*wake_ms = l->deadline;
	pfd->events = POLLIN;
	pfd->revents = 0;
	switch (l->stage) {
	case LAUNCH_SETUP: pfd->fd = l->child_fd; return 1;
	case LAUNCH_CONNECT:
		*wake_ms = l->retry_at < l->deadline ? l->retry_at : l->deadline;
		return 0;
	case LAUNCH_DONE:
	case LAUNCH_FAILED: return 0;
	default: pfd->fd = qmp_fd(l->vm->qmp); return 1;
	}
}

bool vm_launch_finished(const struct vm_launch *l)
{
	return l->stage == LAUNCH_DONE || l->stage == LAUNCH_FAILED;
}

const char *vm_launch_error(const struct vm_launch *l) { return l->err; }

struct vm *vm_launch_take(struct vm_launch *l)
{
	return l->stage == LAUNCH_DONE ? TAKE_PTR(l->vm) : NULL;
}

int vm_start(const struct qemu_cmd *cmd, int timeout_ms, struct vm **ret, char *err, size_t errlen)
{
	*ret = NULL;
	struct vm_launch *l;
	int r = vm_launch_begin(cmd, timeout_ms, &l, err, errlen);
	if (r < 0)
		return r;
	while ((r = vm_launch_step(l)) == 0) {
		struct pollfd pfd;
		int64_t wake;
		int n = vm_launch_poll(l, &pfd, &wake);
		if (poll(&pfd, (nfds_t)n, ms_left(wake)) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
	}
	if (r < 0)
		set_err(err, errlen, r, "%s", vm_launch_error(l));
	*ret = vm_launch_take(l);
	vm_launch_free(l);
	return r < 0 ? r : 0;
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

/* One stop in progress: system_powerdown, wait for the exit; quit, wait;
 * SIGKILL, wait.  Each wait is on the pidfd, so one poll loop serves many
 * stops, each with its own deadline. */
enum stop_stage { STOP_POWERDOWN, STOP_QUIT, STOP_KILL, STOP_DONE };

struct vm_stopping {
	struct vm *vm;	  /* borrowed */
	int timeout_ms;
	enum stop_stage stage;
	int64_t deadline; /* of the current stage */
	int64_t qmp_id;	  /* the powerdown reply awaited, -1: none */
	enum vm_stop_how how;
	int result;
};

static int stop_send(struct vm *vm, const char *command, int64_t *id)
{
	if (!vm->qmp)
		return -ENOTCONN;
	return qmp_send(vm->qmp, command, NULL, id);
}

static void stop_finish(struct vm_stopping *s, enum vm_stop_how how, int result)
{
	s->how = how;
	s->result = result;
	if (result == 0)
		remove_leftovers(s->vm);
	s->stage = STOP_DONE;
}

static void stop_quit(struct vm_stopping *s)
{
	log_warn("pid %d: guest did not shut down within %d ms, ending QEMU with quit", (int)s->vm->pid,
		 s->timeout_ms);
	int64_t id;
	int r = stop_send(s->vm, "quit", &id);
	s->stage = STOP_QUIT;
	s->qmp_id = -1; /* QEMU may exit before it answers: only the exit counts */
	s->deadline = r < 0 && r != -ECONNRESET ? 0 /* cannot even ask: kill */ : now_ms() + 10000;
}

static void stop_kill(struct vm_stopping *s)
{
	log_warn("pid %d: QEMU did not exit after quit, killing it", (int)s->vm->pid);
	int r = pidfd_signal(s->vm->pidfd, SIGKILL);
	if (r < 0 && r != -ESRCH)
		return stop_finish(s, VM_STOPPED_BY_KILL, r);
	s->stage = STOP_KILL;
	s->deadline = now_ms() + 10000;
}

int vm_stop_begin(struct vm *vm, int timeout_ms, struct vm_stopping **ret)
{
	struct vm_stopping *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct vm_stopping){ .vm = vm, .timeout_ms = timeout_ms, .qmp_id = -1 };
	*ret = s;
	if (vm_wait_exit(vm, 0) == 1) {
		stop_finish(s, VM_STOPPED_ALREADY, 0);
		return 0;
	}
	int r = stop_send(vm, "system_powerdown", &s->qmp_id);
	if (r < 0 && r != -ECONNRESET) {
		log_warn("pid %d: system_powerdown failed: %s", (int)vm->pid,
			 vm->qmp ? qmp_last_error(vm->qmp) : strerror(-r));
		stop_quit(s);
		return 0;
	}
	if (r < 0)
		s->qmp_id = -1;
	s->stage = STOP_POWERDOWN;
	s->deadline = now_ms() + timeout_ms;
	return 0;
}

size_t vm_stop_poll(const struct vm_stopping *s, struct pollfd *pfd, int64_t *wake_ms)
{
	*wake_ms = s->deadline;
	if (s->stage == STOP_DONE)
		return 0;
	pfd[0] = (struct pollfd){ .fd = s->vm->pidfd, .events = POLLIN };
	if (s->qmp_id < 0)
		return 1;
	pfd[1] = (struct pollfd){ .fd = qmp_fd(s->vm->qmp), .events = POLLIN };
	return 2;
}

int vm_stop_step(struct vm_stopping *s)
{
	if (s->stage == STOP_DONE)
		return 1;
	struct vm *vm = s->vm;
	if (vm_wait_exit(vm, 0) == 1) {
		static const enum vm_stop_how how[] = { VM_STOPPED_GRACEFULLY, VM_STOPPED_BY_QUIT,
							VM_STOPPED_BY_KILL };
		stop_finish(s, how[s->stage], 0);
		return 1;
	}
	if (s->qmp_id >= 0) {
		int r = qmp_receive(vm->qmp, s->qmp_id, NULL);
		if (r != 0)
			s->qmp_id = -1;
		if (r < 0 && r != -ECONNRESET) {
			log_warn("pid %d: system_powerdown failed: %s", (int)vm->pid, qmp_last_error(vm->qmp));
			stop_quit(s);
		}
	}
	if (now_ms() < s->deadline)
		return 0;
	switch (s->stage) {
	case STOP_POWERDOWN: stop_quit(s); break;
	case STOP_QUIT: stop_kill(s); break;
	default: stop_finish(s, VM_STOPPED_BY_KILL, -ETIMEDOUT); break;
	}
	return s->stage == STOP_DONE;
}

int vm_stop_result(const struct vm_stopping *s, enum vm_stop_how *how)
{
	*how = s->how;
	return s->stage == STOP_DONE ? s->result : -EINPROGRESS;
}

void vm_stop_free(struct vm_stopping *s) { free(s); }

int vm_stop(struct vm *vm, int timeout_ms, enum vm_stop_how *how)
{
	struct vm_stopping *s;
	int r = vm_stop_begin(vm, timeout_ms, &s);
	if (r < 0)
		return r;
	while (vm_stop_step(s) == 0) {
		struct pollfd pfd[2];
		int64_t wake;
		size_t n = vm_stop_poll(s, pfd, &wake);
		if (poll(pfd, n, ms_left(wake)) < 0 && errno != EINTR)
			break;
	}
	r = vm_stop_result(s, how);
	vm_stop_free(s);
	return r;
}
