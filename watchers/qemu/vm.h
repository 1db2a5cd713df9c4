/* vm.h - lifecycle primitives of one running QEMU: start, stop, adopt.
 *
 * These are the actions the qemu watcher's reconcile loop takes; they decide
 * nothing about *whether* a VM should run.
 *
 * start: check volumes exist and no QEMU of this vmid runs; launch QEMU
 *   paused (-S) with -daemonize, whose parent exits only when the VM is set up
 *   (so QEMU's errors arrive on its stderr, which we capture); read the pid
 *   file; connect QMP; put every tap on its bridge (MTU, up, VLAN); `cont`;
 *   confirm with query-status.  Any failure after launch kills that QEMU, so
 *   a failed start leaves nothing running.
 * stop: system_powerdown (ACPI) and wait for the process to exit within the
 *   timeout; a guest that ignores it is then ended with QMP `quit` (logged as
 *   a warning), and a QEMU that ignores that too with SIGKILL.
 * adopt: after a watcher restart, find the QEMU of a vmid from its pid file,
 *   check that the process is alive and really is that VM's QEMU (its command
 *   line names the same pid file), and connect to its QMP socket.
 *
 * A struct vm holds the pid, a pidfd to wait for the exit (QEMU is not our
 * child after -daemonize) and the QMP connection. */
#ifndef PVECFS_QEMU_VM_H
#define PVECFS_QEMU_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cmdline.h"
#include "qmp.h"

struct vm;

/* Start the VM described by cmd.  timeout_ms bounds QEMU's set-up and every
 * QMP step.  Returns 0 and *ret, or: -EEXIST (a QEMU of this vmid already
 * runs), -ENOENT (a volume is missing), the QEMU exit status as -EIO with its
 * stderr in err, netlink errors from tapnet.  err gets a one-line reason. */
int vm_start(const struct qemu_cmd *cmd, int timeout_ms, struct vm **ret, char *err, size_t errlen);

/* Starting several VMs at once: each start is a small state machine (QEMU's
 * -daemonize parent running -> QMP connect -> greeting -> capabilities ->
 * taps -> cont -> query-status) whose every step is non-blocking, so one
 * poll loop drives them all and a slow or failing QEMU delays nobody else.
 * A launch owns its VM alone until vm_launch_take; vm_launch_free of an
 * unfinished or failed launch kills its QEMU and removes its files. */
struct vm_launch;
struct pollfd;
/* The checks and the fork/exec; returns at once.  Errors as vm_start. */
int vm_launch_begin(const struct qemu_cmd *cmd, int timeout_ms, struct vm_launch **ret, char *err,
		    size_t errlen);
/* What to wait for: returns 1 with *pfd filled (one fd, POLLIN) or 0 (only
 * a time); *wake_ms is the monotonic time by which to step anyway. */
int vm_launch_poll(const struct vm_launch *l, struct pollfd *pfd, int64_t *wake_ms);
/* Advance as far as possible without blocking: 1 running, 0 in progress,
 * negative errno failed (vm_launch_error says why; QEMU is gone). */
int vm_launch_step(struct vm_launch *l);
bool vm_launch_finished(const struct vm_launch *l);
const char *vm_launch_error(const struct vm_launch *l);
/* The started VM (NULL unless the launch succeeded); the caller owns it. */
struct vm *vm_launch_take(struct vm_launch *l);
void vm_launch_free(struct vm_launch *l);

/* Find and connect to the running QEMU whose pid file is pid_path and QMP
 * socket qmp_path.  -ENOENT: no pid file; -ESRCH: the process is gone (a
 * stale pid file); -ESTALE: the pid belongs to another program; QMP errors. */
int vm_adopt(const char *pid_path, const char *qmp_path, int timeout_ms, struct vm **ret, char *err,
	     size_t errlen);

enum vm_stop_how {
	VM_STOPPED_GRACEFULLY,	/* the guest shut down after system_powerdown */
	VM_STOPPED_BY_QUIT,	/* it did not in time; QMP quit ended QEMU */
	VM_STOPPED_BY_KILL,	/* QEMU ignored quit too; SIGKILL */
	VM_STOPPED_ALREADY,	/* it was not running any more */
};

/* Stop gracefully, waiting up to timeout_ms for the guest; see above. */
int vm_stop(struct vm *vm, int timeout_ms, enum vm_stop_how *how);

/* Stopping several VMs at once, the same way: vm_stop_begin sends
 * system_powerdown and returns; the caller polls what vm_stop_poll gives
 * (the pidfd, and the QMP socket until the powerdown is answered; returns
 * how many of pfd[0..1] it filled) until *wake_ms, and calls vm_stop_step
 * (1: finished, 0: not yet), which moves on to quit and SIGKILL at each
 * deadline.  vm_stop_result gives what vm_stop would have returned.  The
 * vm stays the caller's; free the stopping before the vm. */
struct vm_stopping;
int vm_stop_begin(struct vm *vm, int timeout_ms, struct vm_stopping **ret);
size_t vm_stop_poll(const struct vm_stopping *s, struct pollfd *pfd, int64_t *wake_ms);
int vm_stop_step(struct vm_stopping *s);
int vm_stop_result(const struct vm_stopping *s, enum vm_stop_how *how);
void vm_stop_free(struct vm_stopping *s);

/* QEMU's run state from query-status ("running", "paused", "shutdown"...),
 * malloc'ed. */
int vm_query_status(struct vm *vm, int timeout_ms, char **status);

/* Wait up to timeout_ms for the QEMU process to exit: 1 gone, 0 still there. */
int vm_wait_exit(struct vm *vm, int timeout_ms);

pid_t vm_pid(const struct vm *vm);
struct qmp *vm_qmp(struct vm *vm);
/* Disconnect and forget (the QEMU keeps running). */
void vm_free(struct vm *vm);

/* Read a pid file: the pid, -ENOENT, or -EBADMSG if it holds no pid. */
int vm_read_pid_file(const char *path, pid_t *pid);
/* True if pid is alive and its command line has `-pidfile pid_path`. */
bool vm_process_matches(pid_t pid, const char *pid_path);

#endif
