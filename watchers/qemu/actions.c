/* actions.c - what the qemu watcher does to QEMU processes, and what it
 * says about them (the status store, the log).
 *
 * Starts and stops run together, on the watcher loop.  A reconcile pass
 * only *decides*: each start or stop it wants is queued here (queue_start,
 * queue_stop), and at the end of the pass run_actions launches every
 * queued QEMU (fork/exec, no waiting) and sends every system_powerdown.
 * What they wait for goes on the watcher loop: the -daemonize parents'
 * pidfds, the QMP sockets (greeting, capabilities, cont, query-status),
 * the pidfds of QEMUs being stopped, and one timerfd for the earliest of
 * their deadlines (vm.h: vm_launch_*, vm_stop_*).  So the loop keeps
 * handling events while they run: a VM written `running` while another
 * waits out a 180 s shutdown timeout starts at once.  A VM that fails or
 * hangs delays no other: each action is applied to its VM and reported
 * (reconcile_after_action) as soon as it is finished.  A VM with an action
 * in flight is left alone by the passes; the report after its action looks
 * at it again.  No threads: each action owns its launch or stop alone, and
 * everything runs on the watcher's thread.
 *
 * Supervision: each running QEMU's QMP socket is on the watcher loop
 * (on_qmp); check_alive notices an exit (guest power-off or crash).
 * Adoption: try_adopt takes over a QEMU found by its pid file. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "qemud.h"
#include "tapnet.h"

struct qemu_action {
	struct qvm *q;
	bool stop;
	bool begun;
	/* a start */
	struct qemu_cmd cmd;
	char *conf_text;
	struct vm_launch *launch;
	int result;
	char err[1024];
	/* a stop */
	unsigned timeout_s;
	struct vm_stopping *stopping;
};

static void action_free(struct qemu_action *a)
{
	if (!a)
		return;
	vm_launch_free(a->launch);
	vm_stop_free(a->stopping);
	qemu_cmd_clear(&a->cmd);
	free(a->conf_text);
	free(a);
}

/* ---- status ---- */

int run_file(struct qemud *d, unsigned vmid, const char *ext, char **path)
{
	return asprintf(path, "%s/qemu/%u.%s", d->run_dir, vmid, ext) < 0 ? -ENOMEM : 0;
}

void publish(struct qemud *d, struct qvm *q, const char *state, bool pending, const char *lock,
		    json_object *warnings)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "pid", q->vm ? json_object_new_int(vm_pid(q->vm)) : NULL);
	json_object_object_add(o, "started", q->vm ? json_object_new_int64(q->started) : NULL);
	_cleanup_free_ char *qmp = NULL;
	if (q->vm && run_file(d, q->vmid, "qmp", &qmp) == 0)
		json_object_object_add(o, "qmp", json_object_new_string(qmp));
	else
		json_object_object_add(o, "qmp", NULL);
	json_object_object_add(o, "pending", json_object_new_boolean(pending));
	json_object_object_add(o, "error", q->error ? json_object_new_string(q->error) : NULL);
	if (lock)
		json_object_object_add(o, "lock", json_object_new_string(lock));
	json_object_object_add(o, "restarts", json_object_new_int((int)q->restarts));
	json_object_object_add(o, "warnings", warnings ? warnings : json_object_new_array());
	char key[32];
	snprintf(key, sizeof(key), "qemu/%u", q->vmid);
	watch_status_set(d->ctx, key, o);
}

/* Records an error: logged when it is new, kept for the status. */
void set_error(struct qemud *d, struct qvm *q, const char *action, const char *text)
{
	if (!q->error || strcmp(q->error, text) != 0) {
		char f[1200];
		size_t len = 0;
		f[0] = '\0';
		watch_kv_append(f, sizeof(f), &len, "action", action);
		watch_kv_append(f, sizeof(f), &len, "result", "error");
		watch_kv_append(f, sizeof(f), &len, "error", text);
		watch_log(d->ctx, LOG_ERR, "vmid=%u %s", q->vmid, f);
	}
	free(q->error);
	q->error = strdup(text);
}

void clear_error(struct qvm *q)
{
	free(q->error);
	q->error = NULL;
}

/* ---- the process of a VM ---- */

void forget_process(struct qemud *d, struct qvm *q)
{
	if (q->qmp_fd >= 0)
		watch_remove_fd(d->ctx, q->qmp_fd);
	q->qmp_fd = -1;
	vm_free(q->vm);
	q->vm = NULL;
	free(q->running_conf);
	q->running_conf = NULL;
	q->guest_off = false;
	free(q->run_macs);
	q->run_macs = NULL;
	q->n_run_macs = 0;
	q->run_memory = q->run_vcpus = 0;
}

/* A QEMU went away: VMs refused because of what ran (a duplicate MAC) may
 * start now, so look at every VM that is in error again. */
void recheck_refused(struct qemud *d)
{
	for (size_t i = 0; i < d->n_vms; i++)
		if (!d->vms[i]->vm && d->vms[i]->error) {
			char key[16];
			snprintf(key, sizeof(key), "%u", d->vms[i]->vmid);
			watch_mark_dirty(d->ctx, key);
		}
}

static void on_qmp(struct watch_ctx *ctx, int fd, short revents, void *userdata)
{
	(void)revents;
	struct qvm *q = userdata;
	struct qmp *qmp = q->vm ? vm_qmp(q->vm) : NULL;
	char key[16];
	snprintf(key, sizeof(key), "%u", q->vmid);
	int r = qmp ? qmp_pump(qmp, 0) : -ECONNRESET;
	struct qmp_event *ev;
	while (qmp && qmp_pop_event(qmp, &ev) == 1) {
		json_object *reason = NULL;
		if (strcmp(ev->name, "SHUTDOWN") == 0) {
			const char *why = ev->data && json_object_object_get_ex(ev->data, "reason", &reason)
						  ? json_object_get_string(reason)
						  : "";
			watch_log(ctx, LOG_INFO, "vmid=%u event=shutdown reason=%s", q->vmid, why);
			if (strcmp(why, "guest-shutdown") == 0)
				q->guest_off = true;
			watch_mark_dirty(ctx, key);
		}
		qmp_event_free(ev);
	}
	if (r == -ECONNRESET) {
		/* QEMU closed its monitor: it is exiting.  Stop polling the
		 * fd (it stays readable) and look at the VM now. */
		watch_remove_fd(ctx, fd);
		q->qmp_fd = -1;
		watch_mark_dirty(ctx, key);
	}
}

static void watch_process(struct qemud *d, struct qvm *q)
{
	struct qmp *qmp = vm_qmp(q->vm);
	if (qmp && watch_add_fd(d->ctx, qmp_fd(qmp), POLLIN, on_qmp, q) == 0)
		q->qmp_fd = qmp_fd(qmp);
}

/* Whether our QEMU still runs; notices and reports an exit. */
void check_alive(struct qemud *d, struct qvm *q)
{
	if (!q->vm)
		return;
	/* A closed monitor (qmp_fd -1) means QEMU is on its way out: give
	 * the exit a moment to complete instead of missing it. */
	if (vm_wait_exit(q->vm, q->qmp_fd < 0 ? 5000 : 0) == 0)
		return;
	if (q->qmp_fd >= 0)
		on_qmp(d->ctx, q->qmp_fd, 0, q); /* the last events, e.g. SHUTDOWN */
	pid_t pid = vm_pid(q->vm);
	if (q->guest_off) {
		watch_log(d->ctx, LOG_INFO, "vmid=%u event=guest-poweroff pid=%d", q->vmid, (int)pid);
		_cleanup_free_ char *state = NULL;
		if (vm_file(d, d->node, q->vmid, "state", &state) == 0 &&
		    watch_action(d->ctx, "write stopped to %u.state", q->vmid)) {
			int r = write_text(state, "stopped\n");
			if (r < 0)
				watch_log(d->ctx, LOG_ERR, "vmid=%u action=write-state result=error error=\"%s\"",
					  q->vmid, strerror(-r));
		}
		q->onboot_start = false;
		forget_process(d, q);
		recheck_refused(d);
		return;
	}
	time_t now = time(NULL);
	if (now - q->started > RESTART_RESET_S)
		watch_backoff_reset(&q->restart);
	unsigned delay = watch_backoff_next(&q->restart);
	q->restart_at = mono_ms() + delay;
	q->crashed = true;
	watch_log(d->ctx, LOG_WARNING, "vmid=%u event=crashed pid=%d restart_after_ms=%u", q->vmid, (int)pid, delay);
	watch_cluster_log(d->ctx, LOG_ERR, "VM %u crashed: QEMU pid %d exited unexpectedly", q->vmid, (int)pid);
	forget_process(d, q);
	recheck_refused(d);
}

void try_adopt(struct qemud *d, struct qvm *q, const char *conf_text)
{
	_cleanup_free_ char *pid_path = NULL, *qmp_path = NULL;
	if (run_file(d, q->vmid, "pid", &pid_path) < 0 || run_file(d, q->vmid, "qmp", &qmp_path) < 0)
		return;
	if (access(pid_path, F_OK) != 0)
		return;
	char err[512] = "";
	struct vm *vm;
	int r = vm_adopt(pid_path, qmp_path, 10000, &vm, err, sizeof(err));
	if (r < 0) {
		watch_log(d->ctx, LOG_WARNING, "vmid=%u action=adopt result=error error=\"%s\"", q->vmid,
			  err[0] ? err : strerror(-r));
		return;
	}
	q->vm = vm;
	struct stat st;
	q->started = stat(pid_path, &st) == 0 ? st.st_mtime : time(NULL);
	q->running_conf = conf_text ? strdup(conf_text) : NULL;
	watch_process(d, q);
	watch_log(d->ctx, LOG_INFO, "vmid=%u action=adopt result=ok pid=%d", q->vmid, (int)vm_pid(vm));
}

/* QEMU takes its taps with it when it exits; a leftover one (persistent,
 * or from a QEMU that died badly) would keep the VM on its bridge. */
static void remove_taps(struct qemud *d, unsigned vmid)
{
	char err[256] = "";
	int r = tapnet_remove_vm_taps(vmid, err, sizeof(err));
	if (r > 0)
		watch_log(d->ctx, LOG_INFO, "vmid=%u action=remove-taps result=ok removed=%d", vmid, r);
	else if (r < 0)
		watch_log(d->ctx, LOG_ERR, "vmid=%u action=remove-taps result=error error=\"%s\"", vmid, err);
}

/* ---- starts and stops ---- */

static int queue(struct qemud *d, struct qemu_action *a)
{
	struct qemu_action **n = realloc(d->actions, (d->n_actions + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	d->actions = n;
	d->actions[d->n_actions++] = a;
	return 0;
}

int queue_start(struct qemud *d, struct qvm *q, struct qemu_cmd *cmd, const char *conf_text)
{
	struct qemu_action *a = calloc(1, sizeof(*a));
	if (!a || !(a->conf_text = strdup(conf_text)) || queue(d, a) < 0) {
		if (a)
			free(a->conf_text);
		free(a);
		qemu_cmd_clear(cmd);
		return -ENOMEM;
	}
	a->q = q;
	a->cmd = *cmd;
	memset(cmd, 0, sizeof(*cmd));
	q->starting = true;
	return 0;
}

int queue_stop(struct qemud *d, struct qvm *q, unsigned timeout_s, const char *why)
{
	struct qemu_action *a = calloc(1, sizeof(*a));
	if (!a || queue(d, a) < 0) {
		free(a);
		return -ENOMEM;
	}
	a->q = q;
	a->stop = true;
	a->timeout_s = timeout_s;
	q->stopping = true;
	watch_log(d->ctx, LOG_INFO, "vmid=%u action=stop reason=\"%s\" timeout_s=%u", q->vmid, why, timeout_s);
	return 0;
}

/* Launch or ask: nothing here waits. */
static void action_begin(struct qemud *d, struct qemu_action *a)
{
	a->begun = true;
	if (a->stop) {
		/* The stop reads the monitor now (the powerdown's reply); the
		 * supervision takes it back if the stop fails. */
		if (a->q->qmp_fd >= 0)
			watch_remove_fd(d->ctx, a->q->qmp_fd);
		a->q->qmp_fd = -1;
		a->result = vm_stop_begin(a->q->vm, (int)(a->timeout_s * 1000), &a->stopping);
		return;
	}
	a->result = vm_launch_begin(&a->cmd, START_TIMEOUT_MS, &a->launch, a->err, sizeof(a->err));
}

/* Its fds into pfds (at most 2); returns how many, with *wake its deadline.
 * -1: nothing left to wait for. */
static int action_poll(const struct qemu_action *a, struct pollfd *pfds, int64_t *wake)
{
	enum vm_stop_how how;
	if (!a->begun)
		return -1;
	if (a->stop)
		return a->stopping && vm_stop_result(a->stopping, &how) == -EINPROGRESS
			       ? (int)vm_stop_poll(a->stopping, pfds, wake)
			       : -1;
	if (!a->launch || vm_launch_finished(a->launch))
		return -1;
	return vm_launch_poll(a->launch, pfds, wake);
}

static void action_step(struct qemu_action *a)
{
	if (!a->begun)
		return;
	if (a->stop && a->stopping)
		vm_stop_step(a->stopping);
	else if (!a->stop && a->launch && !vm_launch_finished(a->launch))
		vm_launch_step(a->launch);
}

static void apply_start(struct qemud *d, struct qemu_action *a)
{
	struct qvm *q = a->q;
	q->starting = false;
	struct vm *vm = NULL;
	if (a->launch) {
		a->result = vm_launch_step(a->launch);
		if (a->result < 0)
			snprintf(a->err, sizeof(a->err), "%s", vm_launch_error(a->launch));
		vm = vm_launch_take(a->launch);
	}
	if (!vm) {
		forget_process(d, q); /* the resources reserved for it */
		set_error(d, q, "start", a->err[0] ? a->err : strerror(a->result < 0 ? -a->result : EIO));
		unsigned delay = watch_backoff_next(&q->restart);
		q->restart_at = mono_ms() + delay;
		char key[16];
		snprintf(key, sizeof(key), "%u", q->vmid);
		watch_mark_dirty_after(d->ctx, key, delay);
		return;
	}
	if (q->crashed)
		q->restarts++;
	q->crashed = false;
	q->vm = vm;
	q->started = time(NULL);
	q->running_conf = TAKE_PTR(a->conf_text);
	clear_error(q);
	watch_process(d, q);
	watch_log(d->ctx, LOG_INFO, "vmid=%u action=start result=ok pid=%d", q->vmid, (int)vm_pid(vm));
}

static void apply_stop(struct qemud *d, struct qemu_action *a)
{
	struct qvm *q = a->q;
	q->stopping = false;
	enum vm_stop_how how = VM_STOPPED_ALREADY;
	int r = a->stopping ? vm_stop_result(a->stopping, &how) : a->result;
	if (r < 0) {
		set_error(d, q, "stop", strerror(-r));
		watch_process(d, q);
		return;
	}
	static const char *const names[] = { "graceful", "quit", "kill", "already" };
	watch_log(d->ctx, how == VM_STOPPED_GRACEFULLY || how == VM_STOPPED_ALREADY ? LOG_INFO : LOG_WARNING,
		  "vmid=%u action=stop result=ok how=%s", q->vmid, names[how]);
	if (how == VM_STOPPED_BY_QUIT || how == VM_STOPPED_BY_KILL)
		watch_cluster_log(d->ctx, LOG_WARNING, "VM %u did not shut down within %u s: ended with %s", q->vmid,
				  a->timeout_s, how == VM_STOPPED_BY_QUIT ? "quit" : "SIGKILL");
	q->crashed = false;
	watch_backoff_reset(&q->restart);
	q->restart_at = 0;
	clear_error(q);
	vm_stop_free(TAKE_PTR(a->stopping)); /* before forget_process frees the vm */
	forget_process(d, q);
	remove_taps(d, q->vmid);
	recheck_refused(d);
}

static bool action_finished(const struct qemu_action *a)
{
	enum vm_stop_how how;
	if (!a->begun)
		return false;
	if (a->stop)
		return !a->stopping || vm_stop_result(a->stopping, &how) != -EINPROGRESS;
	return !a->launch || vm_launch_finished(a->launch);
}

/* Every stop at once (they wait on guests, not on the CPU); starts up to
 * d->max_starts at a time (QEMU's set-up is CPU work: a burst of hundreds
 * would only share the CPU). */
static void begin_more(struct qemud *d)
{
	size_t starting = 0;
	for (size_t i = 0; i < d->n_actions; i++)
		if (!d->actions[i]->stop && d->actions[i]->begun)
			starting++;
	for (size_t i = 0; i < d->n_actions; i++) {
		struct qemu_action *a = d->actions[i];
		if (a->begun || (!a->stop && d->max_starts && starting >= d->max_starts))
			continue;
		starting += !a->stop;
		action_begin(d, a);
	}
}

static void on_action_fd(struct watch_ctx *ctx, int fd, short revents, void *userdata);

static void unregister_fds(struct qemud *d)
{
	for (size_t i = 0; i < d->n_action_fds; i++)
		watch_remove_fd(d->ctx, d->action_fds[i]);
	d->n_action_fds = 0;
}

/* Put what the actions in flight wait for on the watcher loop: their fds,
 * and the earliest deadline on the timerfd. */
static void register_fds(struct qemud *d)
{
	int64_t wake = INT64_MAX;
	int *fds = realloc(d->action_fds, (2 * d->n_actions + 1) * sizeof(*fds));
	if (fds)
		d->action_fds = fds;
	for (size_t i = 0; i < d->n_actions; i++) {
		struct pollfd pfds[2];
		int64_t w;
		int k = action_poll(d->actions[i], pfds, &w);
		if (k < 0)
			continue;
		wake = w < wake ? w : wake;
		for (int j = 0; j < k && fds; j++)
			if (watch_add_fd(d->ctx, pfds[j].fd, POLLIN, on_action_fd, d) == 0)
				d->action_fds[d->n_action_fds++] = pfds[j].fd;
	}
	if (!fds) /* no memory for the list: look again soon */
		wake = mono_ms() + 100;
	struct itimerspec its = { 0 };
	if (wake != INT64_MAX) {
		wake = wake < 1 ? 1 : wake; /* 0 would disarm */
		its.it_value.tv_sec = wake / 1000;
		its.it_value.tv_nsec = (wake % 1000) * 1000000;
	}
	if (d->action_timer >= 0)
		timerfd_settime(d->action_timer, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Step every action in flight; apply and report the finished ones; begin
 * those waiting for a slot. */
static void progress(struct qemud *d)
{
	/* First off the loop: a step may close an fd whose number is then
	 * reused by someone else. */
	unregister_fds(d);
	for (size_t i = 0; i < d->n_actions;) {
		struct qemu_action *a = d->actions[i];
		action_step(a);
		if (!action_finished(a)) {
			i++;
			continue;
		}
		d->actions[i] = d->actions[--d->n_actions]; /* order does not matter */
		unsigned vmid = a->q->vmid;
		if (a->stop)
			apply_stop(d, a);
		else
			apply_start(d, a);
		action_free(a);
		reconcile_after_action(d, vmid);
		begin_more(d);
		i = 0; /* the report may have changed the list: start over */
	}
	begin_more(d);
	register_fds(d);
}

static void on_action_fd(struct watch_ctx *ctx, int fd, short revents, void *userdata)
{
	(void)ctx, (void)fd, (void)revents;
	progress(userdata);
}

static void on_action_timer(struct watch_ctx *ctx, int fd, short revents, void *userdata)
{
	(void)ctx, (void)revents;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	progress(userdata);
}

void run_actions(struct qemud *d)
{
	if (d->action_timer < 0 && d->n_actions) {
		d->action_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (d->action_timer >= 0 && watch_add_fd(d->ctx, d->action_timer, POLLIN, on_action_timer, d) < 0) {
			close(d->action_timer);
			d->action_timer = -1;
		}
		if (d->action_timer < 0)
			watch_log(d->ctx, LOG_ERR, "action=timerfd result=error error=\"%s\"", strerror(errno));
	}
	progress(d);
}

void actions_shutdown(struct qemud *d)
{
	unregister_fds(d);
	/* A start not finished is undone (its QEMU killed: the next watcher
	 * starts it again); a stop in flight is left to the guest. */
	for (size_t i = 0; i < d->n_actions; i++) {
		d->actions[i]->q->starting = d->actions[i]->q->stopping = false;
		action_free(d->actions[i]);
	}
	free(d->actions);
	d->actions = NULL;
	d->n_actions = 0;
	free(d->action_fds);
	d->action_fds = NULL;
	if (d->action_timer >= 0) {
		watch_remove_fd(d->ctx, d->action_timer);
		close(d->action_timer);
		d->action_timer = -1;
	}
}
