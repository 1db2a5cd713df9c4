/* daemon.c - `pvecfs-qemu run`: make this node's QEMU processes match
 * nodes/<node>/qemu-server/<vmid>.conf and <vmid>.state.  This file
 * decides; actions.c acts and reports (see qemud.h for the split).
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
 * and acts: a start, or a stop with startup down= (else --shutdown-timeout,
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
 * The starts and stops a pass decides run at once, from the end of the
 * pass on, on the watcher loop (actions.c): 20 VMs written `running` together
 * start in about the time of the slowest, not of all of them in a row, and
 * a VM whose QEMU fails or hangs costs the others nothing (at most
 * --max-parallel-starts, default 32, QEMUs set up at once: a burst of
 * hundreds would only share the CPU).  Each VM acted on is looked at again
 * as soon as its action is done, to publish its new state.
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
#include <getopt.h>
#include <limits.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "qemud.h"
#include "schemas.h"
#include "sectioncfg.h"
#include "storage.h"

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

/* ---- files ---- */

int vm_file(struct qemud *d, const char *node, unsigned vmid, const char *ext, char **path)
{
	return asprintf(path, "%s/nodes/%s/qemu-server/%u.%s", watch_root(d->ctx), node, vmid, ext) < 0 ? -ENOMEM
												       : 0;
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
			if (o == q || (!o->vm && !o->starting))
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

/* ---- status ---- */

/* ---- actions ---- */

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
	if (d->follow_up) { /* the next pass starts it */
		watch_mark_dirty(d->ctx, key);
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
	/* Reserved now, so a VM queued after it in this pass cannot take its
	 * MAC; released again if the start fails. */
	remember_resources(q, vmconf_view(conf));
	if (queue_start(d, q, &cmd, conf_text) < 0) {
		forget_process(d, q);
		set_error(d, q, "start", strerror(ENOMEM));
	}
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
	if (d->follow_up) { /* the next pass stops it */
		char key[16];
		snprintf(key, sizeof(key), "%u", q->vmid);
		watch_mark_dirty(d->ctx, key);
		return;
	}
	if (!watch_action(d->ctx, "stop vm %u (%s)", q->vmid, why))
		return;
	if (queue_stop(d, q, timeout_s, why) < 0)
		set_error(d, q, "stop", strerror(ENOMEM));
}

/* ---- reconcile ---- */

static void reconcile_vm(struct qemud *d, unsigned vmid, bool first)
{
	struct qvm *q = get_vm(d, vmid);
	if (!q || q->starting || q->stopping) /* already acted on in this pass */
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
	if (q->starting || q->stopping)
		return; /* reported once it is done (reconcile_after_action) */
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

/* Called by actions.c as soon as an action on vmid is done: publish its
 * new state (without acting again: what changed meanwhile is left to the
 * next pass), and let the onboot sequence go on once its group is up. */
void reconcile_after_action(struct qemud *d, unsigned vmid)
{
	d->follow_up = true;
	reconcile_vm(d, vmid, false);
	d->follow_up = false;
	if (d->onboot_in_flight) {
		char key[16];
		snprintf(key, sizeof(key), "%u", vmid);
		watch_mark_dirty(d->ctx, key); /* a pass, which runs the sequence */
	}
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

static bool onboot_group_starting(const struct qemud *d)
{
	for (size_t i = 0; i < d->n_vms; i++)
		if (d->vms[i]->onboot_start && d->vms[i]->starting)
			return true;
	return false;
}

/* At watcher start, VMs with onboot: 1 (and no .state file) start group by
 * group in startup order= order (no order: last), waiting the group's
 * largest up= seconds after it before the next group.  The wait is a timer
 * on the loop, never a sleep: events keep being handled meanwhile. */
static void run_onboot_sequence(struct qemud *d)
{
	if (d->onboot_in_flight) {
		if (onboot_group_starting(d))
			return; /* the report after its last start brings us back */
		d->onboot_in_flight = false;
		d->onboot_next_ms = mono_ms() + d->onboot_group_up * 1000;
	}
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
		/* up= counts from when the group is running (or failed). */
		d->onboot_in_flight = true;
		d->onboot_group_up = up;
		run_actions(d);
		if (onboot_group_starting(d))
			return;
		d->onboot_in_flight = false;
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
	run_actions(d);
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
		{ "max-parallel-starts", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	char hostname[256];
	struct qemud d = { .run_dir = "/run/pvecfs", .shutdown_timeout_s = 180, .max_starts = 32, .action_timer = -1 };
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
		case 'P':
			d.max_starts = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !*optarg || d.max_starts == 0 || d.max_starts > 1024) {
				fprintf(stderr, "error: --max-parallel-starts must be 1..1024\n");
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
				"[--shutdown-timeout S] [--accel auto|kvm|tcg] [--socket PATH] [--state FILE] "
				"[--max-parallel-starts N]\n");
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
	actions_shutdown(&d);
	while (d.n_vms)
		drop_vm(&d, d.vms[0]);
	free(d.vms);
	watch_free(d.ctx);
	return r < 0 ? 1 : 0;
}

