/* daemon.c - `pvecfs-qemu run`: make this node's QEMU processes match
 * nodes/<node>/qemu-server/<vmid>.conf and <vmid>.state.  Also `status`,
 * `start`, `stop`.
 *
 * A controller on the shared watcher loop (watchloop.h): every event under
 * /nodes/ that names a <vmid>.conf or <vmid>.state marks that vmid dirty;
 * storage.cfg marks everything.  reconcile_vm() then compares, per vmid:
 *
 *   desired: `running` or `stopped` from <vmid>.state.  No .state file:
 *            running if the config says onboot: 1 when this watcher started
 *            (remembered while the file stays absent; these start in
 *            startup order= order, up= seconds between groups), else
 *            stopped.  No
 *            config in this node's directory (deleted, or moved to another
 *            node by a migration): stopped - the other node's watcher starts it.
 *   actual:  the struct vm we hold (started or adopted) and whether its
 *            process is alive.
 *
 * and acts: vm_start, or vm_stop with startup down= (else --shutdown-timeout,
 * default 180 s; a guest that ignores ACPI is ended with quit and that is a
 * cluster-log warning); after a stop, taps of the VM still present are
 * removed.  Before a start, what needs the whole node is checked: memory
 * above the host's MemTotal and a MAC already used by a running VM here are
 * refused (an error for that VM only; retried when another QEMU goes away).
 * A config with `lock:` is left alone and reported; a
 * config that does not parse is reported (file:line: key: reason) and the
 * VM is left as it is.  A running VM whose config changed is reported as
 * `pending` (applied on its next start).
 *
 * Supervision: each QEMU's QMP socket is polled.  A SHUTDOWN event with
 * reason guest-shutdown means the guest powered itself off: the watcher then
 * writes `stopped` to <vmid>.state, so desired follows the guest instead of
 * the watcher starting it again (an operator's power-off inside the guest
 * is a decision, not a failure).  Any other exit (kill -9, a QEMU crash, a
 * panic) is a crash: reported (status `crashed`, cluster log) and, if the
 * VM is still desired running, restarted with a backoff (1 s doubling to
 * 60 s; reset after 5 minutes of running).
 *
 * After a watcher restart the first pass adopts every QEMU found by its pid
 * file (vm_adopt) instead of starting it again; its running config is
 * unknown, so it is taken to be the current one.
 *
 * Status store key "qemu/<vmid>": {"state": running|stopped|crashed|error,
 * "pid", "started", "qmp", "pending", "error", "lock", "restarts",
 * "warnings": [footguns: emulated IDE disks or e1000/rtl8139 NICs, no guest
 * agent, more than 2 snapshots, and for a running VM the node's vCPU (above
 * 3:1) and memory overcommit; logged when they change]}. */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <glob.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apiclient.h"
#include "cleanup.h"
#include "cmdline.h"
#include "schemas.h"
#include "sectioncfg.h"
#include "storage.h"
#include "tapnet.h"
#include "vm.h"
#include "vmconf.h"
#include "watchloop.h"

#define EXIT_USAGE 2
#define START_TIMEOUT_MS 60000
#define RESTART_RESET_S 300

struct qvm {
	unsigned vmid;
	struct vm *vm;          /* NULL: not running here as far as we know */
	int qmp_fd;             /* registered with the loop, or -1 */
	int64_t started;        /* epoch seconds */
	char *running_conf;     /* the config text the QEMU was started from */
	bool guest_off;         /* SHUTDOWN guest-shutdown seen */
	bool crashed;
	bool onboot_start;      /* desired running because of onboot at watcher start */
	bool onboot_waiting;    /* ... and not released by the onboot sequence yet */
	long long onboot_order; /* startup order= (LLONG_MAX: none, after all others) */
	long long onboot_up;    /* startup up= seconds to wait after it, 0: none */
	unsigned restarts;
	struct watch_backoff restart;
	int64_t restart_at;     /* monotonic ms: not before */
	char *error;            /* the last reported error (logged once) */
	char *warnings;         /* the last logged warnings, joined by "; " */
	/* What the running QEMU was started with (for the node's totals and
	 * the duplicate-MAC check); zero/empty while it is not running. */
	long long run_memory, run_vcpus;
	char (*run_macs)[18];
	size_t n_run_macs;
};

struct qemud {
	struct watch_ctx *ctx;
	const char *node;
	const char *run_dir;
	enum qemu_accel accel;
	unsigned shutdown_timeout_s;
	bool first_done; /* the first pass of this process happened */
	long long host_memory_mib; /* MemTotal; 0: unknown */
	long host_cpus;
	int64_t onboot_next_ms; /* monotonic: the next onboot group not before */
	struct qvm **vms;
	size_t n_vms;
	char prefix[300]; /* "/nodes/<node>/qemu-server/" */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* "123" -> 123 if it is a VM id (100..999999999), else 0. */
static unsigned parse_vmid(const char *s, size_t len)
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

/* "<vmid>.conf" / "<vmid>.state" -> vmid, else 0. */
static unsigned vmid_of_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot || (strcmp(dot, ".conf") != 0 && strcmp(dot, ".state") != 0))
		return 0;
	return parse_vmid(name, (size_t)(dot - name));
}

/* ---- the table of VMs ---- */

static struct qvm *find_vm(struct qemud *d, unsigned vmid)
{
	for (size_t i = 0; i < d->n_vms; i++)
		if (d->vms[i]->vmid == vmid)
			return d->vms[i];
	return NULL;
}

static struct qvm *get_vm(struct qemud *d, unsigned vmid)
{
	struct qvm *q = find_vm(d, vmid);
	if (q)
		return q;
	struct qvm **n = realloc(d->vms, (d->n_vms + 1) * sizeof(*n));
	if (!n)
		return NULL;
	d->vms = n;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->vmid = vmid;
	q->qmp_fd = -1;
	watch_backoff_init(&q->restart, 1000, 60000);
	d->vms[d->n_vms++] = q;
	return q;
}

static void forget_process(struct qemud *d, struct qvm *q)
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
static void recheck_refused(struct qemud *d)
{
	for (size_t i = 0; i < d->n_vms; i++)
		if (!d->vms[i]->vm && d->vms[i]->error) {
			char key[16];
			snprintf(key, sizeof(key), "%u", d->vms[i]->vmid);
			watch_mark_dirty(d->ctx, key);
		}
}

static void drop_vm(struct qemud *d, struct qvm *q)
{
	forget_process(d, q);
	free(q->error);
	free(q->warnings);
	for (size_t i = 0; i < d->n_vms; i++)
		if (d->vms[i] == q) {
			d->vms[i] = d->vms[--d->n_vms];
			break;
		}
	free(q);
}

/* ---- supervision ---- */

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

/* ---- files ---- */

static int vm_file(struct qemud *d, const char *node, unsigned vmid, const char *ext, char **path)
{
	return asprintf(path, "%s/nodes/%s/qemu-server/%u.%s", watch_root(d->ctx), node, vmid, ext) < 0 ? -ENOMEM
												       : 0;
}

static int run_file(struct qemud *d, unsigned vmid, const char *ext, char **path)
{
	return asprintf(path, "%s/qemu/%u.%s", d->run_dir, vmid, ext) < 0 ? -ENOMEM : 0;
}

/* The desired state file: 1 running, 0 stopped, -ENOENT absent, -EBADMSG. */
static int read_desired(const char *path)
{
	_cleanup_free_ char *text = NULL;
	ssize_t len = watch_read_file(path, &text);
	if (len < 0)
		return (int)len;
	text[strcspn(text, " \t\r\n")] = '\0';
	if (strcmp(text, "running") == 0)
		return 1;
	if (strcmp(text, "stopped") == 0)
		return 0;
	return -EBADMSG;
}

static int write_text(const char *path, const char *text)
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

static void print_warning(void *userdata, const struct parse_error *warning)
{
	struct qemud *d = userdata;
	char text[PARSE_ERROR_TEXT_MAX];
	watch_log(d->ctx, LOG_DEBUG, "warning=\"%s\"", parse_error_format(warning, text, sizeof(text)));
}

static void print_note(void *userdata, const char *text)
{
	struct qemud *d = userdata;
	watch_log(d->ctx, LOG_DEBUG, "note=\"%s\"", text);
}

static int load_storage(struct qemud *d, struct sectioncfg **cfg, char **file, struct parse_error *err)
{
	*cfg = NULL;
	if (asprintf(file, "%s/storage.cfg", watch_root(d->ctx)) < 0)
		return -ENOMEM;
	_cleanup_free_ char *text = NULL;
	ssize_t len = watch_read_file(*file, &text);
	if (len == -ENOENT)
		return 0;
	if (len < 0) {
		parse_error_fail(err, NULL, "cannot read: %s", strerror((int)-len));
		parse_error_at(err, *file, 0);
		return -EINVAL;
	}
	return sectioncfg_parse(text, (size_t)len, *file, &schema_storage_cfg, print_warning, d, cfg, err);
}

/* ---- the node: host size, what runs, footguns ---- */

/* MemTotal from /proc/meminfo in MiB; 0 if unknown. */
static long long read_host_memory_mib(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	if (!f)
		return 0;
	char line[256];
	long long kib = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lld kB", &kib) == 1)
			break;
	fclose(f);
	return kib / 1024;
}

/* Note what the QEMU now running was started with. */
static void remember_resources(struct qvm *q, const struct vmconf_view *view)
{
	free(q->run_macs);
	q->run_macs = NULL;
	q->n_run_macs = 0;
	q->run_memory = view->memory;
	q->run_vcpus = view->vcpus;
	if (view->nic_count && !(q->run_macs = calloc(view->nic_count, sizeof(*q->run_macs))))
		return;
	for (size_t i = 0; i < view->nic_count; i++)
		if (view->nics[i].mac[0])
			memcpy(q->run_macs[q->n_run_macs++], view->nics[i].mac, sizeof(q->run_macs[0]));
}

/* Refuse what cannot work on this node before launching anything: more
 * memory than the host has, or a MAC that a running VM here already uses
 * (two guests with one MAC on a bridge break each other's traffic).
 * 0 or -EINVAL with why. */
static int check_fits_node(struct qemud *d, struct qvm *q, const struct vmconf_view *view, char *why,
			   size_t whylen)
{
	if (d->host_memory_mib && view->memory > d->host_memory_mib) {
		snprintf(why, whylen, "memory %lld MiB is more than this host has (MemTotal %lld MiB)", view->memory,
			 d->host_memory_mib);
		return -EINVAL;
	}
	for (size_t i = 0; i < view->nic_count; i++) {
		const struct vmconf_nic *nic = &view->nics[i];
		if (!nic->mac[0])
			continue;
		for (size_t j = 0; j < d->n_vms; j++) {
			const struct qvm *o = d->vms[j];
			if (o == q || !o->vm)
				continue;
			for (size_t k = 0; k < o->n_run_macs; k++)
				if (strcasecmp(o->run_macs[k], nic->mac) == 0) {
					snprintf(why, whylen, "%s: MAC %s is already used by running VM %u on this node",
						 nic->key, nic->mac, o->vmid);
					return -EINVAL;
				}
		}
	}
	return 0;
}

#define MAX_WARNINGS 16

struct warnings {
	size_t n;
	char text[MAX_WARNINGS][160];
};

static void warn_add(struct warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_add(struct warnings *w, const char *fmt, ...)
{
	if (w->n == MAX_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->text[w->n++], sizeof(w->text[0]), fmt, ap);
	va_end(ap);
}

/* The classic footguns of one config (emulated devices where VirtIO would
 * do, no guest agent, a long snapshot chain) and, for a running VM, of the
 * node it runs on (vCPU overcommit above 3:1, memory overcommit). */
static void collect_warnings(struct qemud *d, const struct qvm *q, const struct vmconf *conf, struct warnings *w)
{
	const struct vmconf_view *view = vmconf_view(conf);
	for (size_t i = 0; i < view->disk_count; i++) {
		const struct vmconf_disk *disk = &view->disks[i];
		if (strcmp(disk->bus, "ide") == 0 && !disk->cdrom)
			warn_add(w, "%s: emulated IDE disk (slow): use virtio or scsi with virtio-scsi", disk->key);
	}
	for (size_t i = 0; i < view->nic_count; i++) {
		const struct vmconf_nic *nic = &view->nics[i];
		if (nic->model && (strcmp(nic->model, "e1000") == 0 || strcmp(nic->model, "e1000e") == 0 ||
				   strcmp(nic->model, "rtl8139") == 0))
			warn_add(w, "%s: emulated %s NIC (slow): use virtio", nic->key, nic->model);
	}
	if (!view->agent)
		warn_add(w, "no guest agent (agent: 1): no clean freeze for backups, no guest IP report");
	size_t snapshots = 0;
	for (size_t i = 0; i < conf->section_count; i++)
		if (conf->sections[i].kind == VMCONF_SNAPSHOT)
			snapshots++;
	if (snapshots > 2)
		warn_add(w, "%zu snapshots: a long chain slows every disk access; keep at most 2", snapshots);
	if (!q->vm)
		return;
	long long vcpus = 0, memory = 0;
	for (size_t i = 0; i < d->n_vms; i++)
		if (d->vms[i]->vm) {
			vcpus += d->vms[i]->run_vcpus;
			memory += d->vms[i]->run_memory;
		}
	if (d->host_cpus > 0 && vcpus > 3 * d->host_cpus)
		warn_add(w, "vCPU overcommit on this node: %lld vCPUs of running VMs on %ld CPUs (more than 3:1)",
			 vcpus, d->host_cpus);
	if (d->host_memory_mib && memory > d->host_memory_mib)
		warn_add(w, "memory overcommit on this node: %lld MiB for running VMs, MemTotal %lld MiB", memory,
			 d->host_memory_mib);
}

/* Logs the warnings when they changed; returns them as a JSON array. */
static json_object *report_warnings(struct qemud *d, struct qvm *q, const struct warnings *w)
{
	char joined[MAX_WARNINGS * 162] = "";
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < w->n; i++) {
		json_object_array_add(a, json_object_new_string(w->text[i]));
		if (i)
			strcat(joined, "; ");
		strcat(joined, w->text[i]);
	}
	if (!q->warnings || strcmp(q->warnings, joined) != 0) {
		for (size_t i = 0; i < w->n; i++)
			watch_log(d->ctx, LOG_WARNING, "vmid=%u warning=\"%s\"", q->vmid, w->text[i]);
		free(q->warnings);
		q->warnings = strdup(joined);
	}
	return a;
}

/* ---- status ---- */

static void publish(struct qemud *d, struct qvm *q, const char *state, bool pending, const char *lock,
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
static void set_error(struct qemud *d, struct qvm *q, const char *action, const char *text)
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

static void clear_error(struct qvm *q)
{
	free(q->error);
	q->error = NULL;
}

/* ---- actions ---- */

/* Whether our QEMU still runs; notices and reports an exit. */
static void check_alive(struct qemud *d, struct qvm *q)
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

static void try_adopt(struct qemud *d, struct qvm *q, const char *conf_text)
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

static void do_start(struct qemud *d, struct qvm *q, const struct vmconf *conf, const char *conf_path,
		     const char *conf_text)
{
	int64_t now = mono_ms();
	char key[16];
	snprintf(key, sizeof(key), "%u", q->vmid);
	if (q->restart_at > now) {
		watch_mark_dirty_after(d->ctx, key, (unsigned)(q->restart_at - now));
		return;
	}
	char why[1024] = "";
	if (check_fits_node(d, q, vmconf_view(conf), why, sizeof(why)) < 0) {
		set_error(d, q, "start", why);
		return;
	}
	struct parse_error err;
	parse_error_clear(&err);
	__attribute__((cleanup(sectioncfg_freep))) struct sectioncfg *storage = NULL;
	_cleanup_free_ char *storage_file = NULL;
	char text[PARSE_ERROR_TEXT_MAX];
	if (load_storage(d, &storage, &storage_file, &err) < 0) {
		set_error(d, q, "start", parse_error_format(&err, text, sizeof(text)));
		return;
	}
	struct qemu_storage resolver = { .cfg = storage, .file = storage_file, .node = d->node };
	struct qemu_cmd_options opts = {
		.run_dir = d->run_dir, .accel = d->accel, .start_paused = true,
		.resolve_volume = qemu_storage_resolve, .resolver_data = &resolver,
		.note = print_note, .note_data = d,
	};
	struct qemu_cmd cmd = { 0 };
	int r = qemu_cmd_build(&cmd, q->vmid, conf, conf_path, &opts, &err);
	if (r < 0) {
		set_error(d, q, "start", err.reason[0] ? parse_error_format(&err, text, sizeof(text)) : strerror(-r));
		qemu_cmd_clear(&cmd);
		return;
	}
	if (!watch_action(d->ctx, "start vm %u", q->vmid)) {
		qemu_cmd_clear(&cmd);
		return;
	}
	struct vm *vm;
	r = vm_start(&cmd, START_TIMEOUT_MS, &vm, why, sizeof(why));
	qemu_cmd_clear(&cmd);
	if (r < 0) {
		set_error(d, q, "start", why[0] ? why : strerror(-r));
		unsigned delay = watch_backoff_next(&q->restart);
		q->restart_at = mono_ms() + delay;
		watch_mark_dirty_after(d->ctx, key, delay);
		return;
	}
	if (q->crashed)
		q->restarts++;
	q->crashed = false;
	q->vm = vm;
	q->started = time(NULL);
	q->running_conf = strdup(conf_text);
	clear_error(q);
	watch_process(d, q);
	watch_log(d->ctx, LOG_INFO, "vmid=%u action=start result=ok pid=%d", q->vmid, (int)vm_pid(vm));
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

/* Whether the config of vmid is in another node's directory (a migration)
 * rather than gone from the tree. */
static bool config_on_other_node(struct qemud *d, unsigned vmid)
{
	_cleanup_free_ char *pattern = NULL;
	if (asprintf(&pattern, "%s/nodes/*/qemu-server/%u.conf", watch_root(d->ctx), vmid) < 0)
		return false;
	glob_t g;
	bool found = glob(pattern, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
	globfree(&g);
	return found;
}

static void do_stop(struct qemud *d, struct qvm *q, long long down_s, const char *why)
{
	unsigned timeout_s = down_s > 0 ? (unsigned)down_s : d->shutdown_timeout_s;
	if (!watch_action(d->ctx, "stop vm %u (%s)", q->vmid, why))
		return;
	watch_log(d->ctx, LOG_INFO, "vmid=%u action=stop reason=\"%s\" timeout_s=%u", q->vmid, why, timeout_s);
	enum vm_stop_how how = VM_STOPPED_ALREADY;
	int r = vm_stop(q->vm, (int)(timeout_s * 1000), &how);
	if (r < 0) {
		set_error(d, q, "stop", strerror(-r));
		return;
	}
	static const char *const names[] = { "graceful", "quit", "kill", "already" };
	watch_log(d->ctx, how == VM_STOPPED_GRACEFULLY || how == VM_STOPPED_ALREADY ? LOG_INFO : LOG_WARNING,
		  "vmid=%u action=stop result=ok how=%s", q->vmid, names[how]);
	if (how == VM_STOPPED_BY_QUIT || how == VM_STOPPED_BY_KILL)
		watch_cluster_log(d->ctx, LOG_WARNING, "VM %u did not shut down within %u s: ended with %s", q->vmid,
				  timeout_s, how == VM_STOPPED_BY_QUIT ? "quit" : "SIGKILL");
	q->crashed = false;
	watch_backoff_reset(&q->restart);
	q->restart_at = 0;
	clear_error(q);
	forget_process(d, q);
	remove_taps(d, q->vmid);
	recheck_refused(d);
}

/* ---- reconcile ---- */

static void reconcile_vm(struct qemud *d, unsigned vmid, bool first)
{
	struct qvm *q = get_vm(d, vmid);
	if (!q)
		return;
	_cleanup_free_ char *conf_path = NULL, *state_path = NULL, *text = NULL;
	if (vm_file(d, d->node, vmid, "conf", &conf_path) < 0 || vm_file(d, d->node, vmid, "state", &state_path) < 0)
		return;
	ssize_t len = watch_read_file(conf_path, &text);
	if (first && !q->vm)
		try_adopt(d, q, len >= 0 ? text : NULL);
	check_alive(d, q);

	if (len < 0) {
		/* No config here: deleted, or migrated to another node. */
		if (q->vm)
			do_stop(d, q, -1,
				len != -ENOENT			       ? "config unreadable"
				: config_on_other_node(d, vmid) ? "config no longer on this node"
								: "config deleted");
		if (!q->vm) {
			char key[32];
			snprintf(key, sizeof(key), "qemu/%u", vmid);
			watch_status_set(d->ctx, key, NULL);
			drop_vm(d, q);
		}
		return;
	}
	struct parse_error err;
	parse_error_clear(&err);
	__attribute__((cleanup(vmconf_freep))) struct vmconf *conf = NULL;
	if (vmconf_parse(text, (size_t)len, conf_path, print_warning, d, &conf, &err) < 0) {
		char t[PARSE_ERROR_TEXT_MAX];
		set_error(d, q, "parse", parse_error_format(&err, t, sizeof(t)));
		publish(d, q, "error", false, NULL, NULL);
		return;
	}
	const struct vmconf_view *view = vmconf_view(conf);
	bool pending = q->vm && q->running_conf && strcmp(q->running_conf, text) != 0;
	if (view->lock) {
		watch_log(d->ctx, LOG_DEBUG, "vmid=%u lock=%s action=none", vmid, view->lock);
		publish(d, q, q->vm ? "running" : "stopped", pending, view->lock, NULL);
		return;
	}
	int desired = read_desired(state_path);
	if (desired == -ENOENT) {
		if (first && !d->first_done && view->onboot) {
			q->onboot_start = true;
			q->onboot_waiting = !q->vm;
			q->onboot_order = view->startup.order >= 0 ? view->startup.order : LLONG_MAX;
			q->onboot_up = view->startup.up > 0 ? view->startup.up : 0;
		}
		desired = q->onboot_start ? 1 : 0;
	} else if (desired < 0) {
		char t[600];
		snprintf(t, sizeof(t), "%s: %s", state_path,
			 desired == -EBADMSG ? "must be 'running' or 'stopped'" : strerror(-desired));
		set_error(d, q, "read-state", t);
		publish(d, q, "error", pending, NULL, NULL);
		return;
	} else {
		q->onboot_start = false;
		q->onboot_waiting = false;
	}
	if (desired && !q->vm && q->onboot_start && q->onboot_waiting)
		; /* started by run_onboot_sequence, in its order */
	else if (desired && !q->vm)
		do_start(d, q, conf, conf_path, text);
	else if (!desired && q->vm)
		do_stop(d, q, view->startup.down, "desired stopped");
	else if (!q->crashed)
		clear_error(q);
	pending = q->vm && q->running_conf && strcmp(q->running_conf, text) != 0;
	if (q->vm && !pending)
		remember_resources(q, view);
	struct warnings w = { 0 };
	collect_warnings(d, q, conf, &w);
	const char *state = q->vm ? "running" : q->error ? "error" : q->crashed ? "crashed" : "stopped";
	publish(d, q, state, pending, NULL, report_warnings(d, q, &w));
}

static int add_unique(unsigned **ids, size_t *n, unsigned id)
{
	for (size_t i = 0; i < *n; i++)
		if ((*ids)[i] == id)
			return 0;
	unsigned *p = realloc(*ids, (*n + 1) * sizeof(**ids));
	if (!p)
		return -ENOMEM;
	*ids = p;
	(*ids)[(*n)++] = id;
	return 0;
}

/* Every vmid with a file in dir whose name vmid_of_name accepts (ext: only
 * names ending in it). */
static int scan_dir(const char *dir, const char *ext, unsigned **ids, size_t *n)
{
	DIR *dh = opendir(dir);
	if (!dh)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(dh))) {
		const char *dot = strrchr(de->d_name, '.');
		if (!dot || strcmp(dot, ext) != 0)
			continue;
		unsigned id = parse_vmid(de->d_name, (size_t)(dot - de->d_name));
		if (id)
			r = add_unique(ids, n, id);
	}
	closedir(dh);
	return r;
}

/* The onboot VMs still waiting, lowest startup order first (then vmid). */
static struct qvm *next_onboot(struct qemud *d)
{
	struct qvm *best = NULL;
	for (size_t i = 0; i < d->n_vms; i++) {
		struct qvm *q = d->vms[i];
		if (!q->onboot_waiting)
			continue;
		if (!best || q->onboot_order < best->onboot_order ||
		    (q->onboot_order == best->onboot_order && q->vmid < best->vmid))
			best = q;
	}
	return best;
}

/* At watcher start, VMs with onboot: 1 (and no .state file) start group by
 * group in startup order= order (no order: last), waiting the group's
 * largest up= seconds after it before the next group.  The wait is a timer
 * on the loop, never a sleep: events keep being handled meanwhile. */
static void run_onboot_sequence(struct qemud *d)
{
	struct qvm *head;
	while ((head = next_onboot(d))) {
		int64_t now = mono_ms();
		if (now < d->onboot_next_ms) {
			char key[16];
			snprintf(key, sizeof(key), "%u", head->vmid);
			watch_mark_dirty_after(d->ctx, key, (unsigned)(d->onboot_next_ms - now));
			return;
		}
		long long order = head->onboot_order, up = 0;
		unsigned group[64];
		size_t n = 0;
		for (struct qvm *q; n < 64 && (q = next_onboot(d)) && q->onboot_order == order;) {
			q->onboot_waiting = false;
			up = q->onboot_up > up ? q->onboot_up : up;
			group[n++] = q->vmid;
		}
		for (size_t i = 0; i < n; i++) {
			if (order != LLONG_MAX)
				watch_log(d->ctx, LOG_INFO, "vmid=%u action=onboot order=%lld up_s=%lld", group[i],
					  order, up);
			else
				watch_log(d->ctx, LOG_INFO, "vmid=%u action=onboot order=none", group[i]);
			reconcile_vm(d, group[i], false);
		}
		d->onboot_next_ms = mono_ms() + up * 1000;
	}
}

static int reconcile(struct watch_ctx *ctx, const struct watch_pass *pass, void *userdata)
{
	struct qemud *d = userdata;
	_cleanup_free_ unsigned *ids = NULL;
	size_t n = 0;
	int r = 0;
	bool first = pass->first && !d->first_done;
	if (pass->all) {
		_cleanup_free_ char *dir = NULL, *rundir = NULL;
		if (asprintf(&dir, "%s/nodes/%s/qemu-server", watch_root(ctx), d->node) < 0 ||
		    asprintf(&rundir, "%s/qemu", d->run_dir) < 0)
			return -ENOMEM;
		r = scan_dir(dir, ".conf", &ids, &n);
		if (r < 0) {
			watch_log(ctx, LOG_ERR, "action=scan result=error dir=%s error=\"%s\"", dir, strerror(-r));
			return r;
		}
		if (first && (r = scan_dir(rundir, ".pid", &ids, &n)) < 0)
			return r;
		for (size_t i = 0; i < d->n_vms; i++)
			if ((r = add_unique(&ids, &n, d->vms[i]->vmid)) < 0)
				return r;
	}
	for (size_t i = 0; i < pass->n_keys; i++) {
		unsigned id = parse_vmid(pass->keys[i], strlen(pass->keys[i]));
		if (id && (r = add_unique(&ids, &n, id)) < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		if (watch_should_stop(ctx)) {
			for (size_t j = i; j < n; j++) { /* left for the next run */
				char key[16];
				snprintf(key, sizeof(key), "%u", ids[j]);
				watch_mark_dirty(ctx, key);
			}
			break;
		}
		reconcile_vm(d, ids[i], first);
	}
	if (pass->first)
		d->first_done = true;
	if (!watch_should_stop(ctx))
		run_onboot_sequence(d);
	return 0;
}

/* /nodes/<any>/qemu-server/<vmid>.conf|.state -> "<vmid>" (any node: a
 * migration renames from this node's directory to another's); storage.cfg
 * -> everything. */
static int key_of(void *userdata, const char *path, char *key, size_t size)
{
	(void)userdata;
	if (strcmp(path, "/storage.cfg") == 0)
		return 2;
	if (strncmp(path, "/nodes/", 7) != 0)
		return 0;
	const char *slash = strchr(path + 7, '/');
	if (!slash || strncmp(slash, "/qemu-server/", 13) != 0)
		return 0;
	const char *name = slash + 13;
	if (strchr(name, '/'))
		return 0;
	unsigned id = vmid_of_name(name);
	if (!id)
		return 0;
	snprintf(key, size, "%u", id);
	return 1;
}

/* ---- subcommands ---- */

int qemu_cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },	   { "node", required_argument, NULL, 'n' },
		{ "run", required_argument, NULL, 'R' },	   { "dry-run", no_argument, NULL, 'd' },
		{ "shutdown-timeout", required_argument, NULL, 't' }, { "accel", required_argument, NULL, 'a' },
		{ "socket", required_argument, NULL, 's' },	   { "state", required_argument, NULL, 'S' },
		{ "resync-interval", required_argument, NULL, 'i' }, { "debug", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	char hostname[256];
	struct qemud d = { .run_dir = "/run/pvecfs", .shutdown_timeout_s = 180 };
	const char *prefixes[] = { "/nodes/", "/storage.cfg" };
	struct watch_options o = { .name = "qemu", .prefixes = prefixes, .n_prefixes = 2, .key_of = key_of,
				   .reconcile = reconcile, .userdata = &d };
	const char *accel_env = getenv("PVECFS_QEMU_ACCEL");
	if (accel_env && parse_accel(accel_env, &d.accel) < 0) {
		fprintf(stderr, "error: PVECFS_QEMU_ACCEL must be auto, kvm or tcg\n");
		return EXIT_USAGE;
	}
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.root = optarg; break;
		case 'n': d.node = optarg; break;
		case 'R': d.run_dir = optarg; break;
		case 'd': o.dry_run = true; break;
		case 's': o.socket = optarg; break;
		case 'S': o.state_file = optarg; break;
		case 'D': o.debug = true; break;
		case 'i': o.resync_interval_ms = (unsigned)strtoul(optarg, NULL, 10) * 1000; break;
		case 't':
			d.shutdown_timeout_s = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !*optarg || d.shutdown_timeout_s == 0 || d.shutdown_timeout_s > 86400) {
				fprintf(stderr, "error: --shutdown-timeout must be 1..86400 seconds\n");
				return EXIT_USAGE;
			}
			break;
		case 'a':
			if (parse_accel(optarg, &d.accel) < 0) {
				fprintf(stderr, "error: --accel must be auto, kvm or tcg\n");
				return EXIT_USAGE;
			}
			break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: pvecfs-qemu run [--root DIR] [--node NAME] [--run DIR] [--dry-run] "
				"[--shutdown-timeout S] [--accel auto|kvm|tcg] [--socket PATH] [--state FILE]\n");
		return EXIT_USAGE;
	}
	if (!d.node) {
		watch_short_hostname(hostname, sizeof(hostname));
		d.node = hostname;
	}
	_cleanup_free_ char *socket = NULL, *state = NULL, *qdir = NULL;
	if (!o.socket && !getenv("PVECFS_API")) {
		if (asprintf(&socket, "%s/api.sock", d.run_dir) < 0)
			return 1;
		o.socket = socket;
	}
	if (asprintf(&qdir, "%s/qemu", d.run_dir) < 0)
		return 1;
	if (mkdir(qdir, 0750) < 0 && errno != EEXIST) {
		fprintf(stderr, "error: cannot create %s: %s\n", qdir, strerror(errno));
		return 1;
	}
	if (!o.state_file) {
		if (asprintf(&state, "%s/watcher.state", qdir) < 0)
			return 1;
		o.state_file = state;
	}
	d.host_memory_mib = read_host_memory_mib();
	d.host_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int r = watch_new(&o, &d.ctx);
	if (r < 0) {
		fprintf(stderr, "error: %s\n", strerror(-r));
		return 1;
	}
	r = watch_run(d.ctx);
	/* Exit leaves the QEMUs running: the next watcher adopts them. */
	while (d.n_vms)
		drop_vm(&d, d.vms[0]);
	free(d.vms);
	watch_free(d.ctx);
	return r < 0 ? 1 : 0;
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
