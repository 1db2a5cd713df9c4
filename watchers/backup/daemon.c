/* daemon.c - `pvecfs-backup run`: run this node's share of the backup jobs
 * of jobs.cfg at their scheduled times; also `run-now` and `restore-test`.
 *
 * A controller on the shared watcher loop (watchloop.h).  It subscribes to
 * /jobs.cfg, /storage.cfg and /nodes/<node>/backup-run/; every event, the
 * periodic pass and a timer set to the next scheduled slot lead to one
 * reconcile pass, which:
 *   1. parses jobs.cfg; a file that does not parse is reported (status key
 *      "backup/config", a log line and one cluster-log line per distinct
 *      error) and nothing runs until it is fixed;
 *   2. takes run-now triggers: a file nodes/<node>/backup-run/<jobid> (its
 *      content does not matter) is removed and that job runs at once on
 *      this node, without stagger and without the cluster lock;
 *   3. runs each enabled job of this node whose schedule has a slot after
 *      the last slot it handled (job.h: at most once per pass, for the most
 *      recent slot, so a daemon that was down catches up once), after a
 *      stagger delay of 0..--stagger seconds (default 5), fixed per job and
 *      node (job_stagger_ms: a hash), that keeps the nodes of a cluster
 *      from starting together.  It first takes the
 *      cluster lock priv/lock/backup-<jobid>-<slot> (a config tree job: one
 *      node per cluster) or priv/lock/backup-<jobid>-<slot>-<node> (a guest
 *      job: each node backs up its own guests, once), joblock.h: renewed
 *      while the job runs, marked done when it ends.  A lock that is held
 *      (not expired) or done means the slot is someone else's or finished:
 *      the job is skipped, which is logged and reported.  An expired lock
 *      without `done` is a dead runner's: removed (utime 0, 0) and taken.
 *      Locks of earlier slots are cleaned up after each pass.
 *   4. sets a timer for the next slot of any job.
 * A job's results go to the status store under "backup/<jobid>" and one
 * cluster-log line per run; retention runs after each successful archive.
 *
 * A job that is new to this node (no entry in the schedule state) starts
 * counting from now: it does not catch up on slots before it existed. */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backup_archive.h"
#include "cleanup.h"
#include "job.h"
#include "joblock.h"
#include "prune.h"
#include "schemas.h"
#include "sectioncfg.h"
#include "vmbackup.h"
#include "watchloop.h"

#define EXIT_USAGE 2
#define MAX_WAIT_MS 60000

struct backupd {
	struct watch_ctx *ctx;
	const char *node;
	const char *run_dir;
	const char *socket;   /* passed to pvecfsctl; NULL: its default/$PVECFS_API */
	const char *pvecfsctl;
	char *state_path;
	unsigned stagger_s;
	unsigned agent_timeout_ms;
	unsigned stop_timeout_s;
	unsigned lock_renew_s; /* renew a held cluster lock this often */
	struct job_state state;
	/* Per job, the start of its last successful run on this node
	 * (<run>/backup/last-ok.state, same format as the schedule state):
	 * what `pvecfsctl status` judges staleness by. */
	char *last_ok_path;
	struct job_state last_ok;
	/* $PVECFS_BACKUP_FAKE_TIME_FILE (tests): see backup_now(). */
	const char *fake_time_file;
	time_t fake_now, fake_reported;
	char *config_error; /* the jobs.cfg error last reported */
};

/* One run of one job on this node. */
struct job_run {
	const struct job *job;
	const char *trigger; /* "schedule", "catch-up", "run-now" */
	time_t slot;
	time_t started;
	json_object *archives, *errors, *pruned;
	uint64_t size;       /* bytes of the archives written */
	unsigned skipped_locked;
};

/* The daemon's clock.  With $PVECFS_BACKUP_FAKE_TIME_FILE set, the epoch
 * seconds in that file, re-read at each call, stand in for the real clock
 * for everything the schedule decides (due slots, archive names, results),
 * so a test can walk the daemon through days, months and DST changes in
 * seconds.  A file that cannot be read keeps the last value. */
static time_t backup_now(struct backupd *d)
{
	if (!d->fake_time_file)
		return time(NULL);
	_cleanup_free_ char *text = NULL;
	if (watch_read_file(d->fake_time_file, &text) > 0) {
		char *end;
		long long v = strtoll(text, &end, 10);
		if (end != text && v > 0)
			d->fake_now = (time_t)v;
	}
	return d->fake_now ? d->fake_now : time(NULL);
}

/* Adds the size of dir/name to the run's total. */
static void add_size(struct job_run *run, const char *dir, const char *name)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;
	if (asprintf(&path, "%s/%s", dir, name) >= 0 && stat(path, &st) == 0)
		run->size += (uint64_t)st.st_size;
}

static bool valid_job_id(const char *id)
{
	if (!*id || strlen(id) > 128 || id[0] == '.')
		return false;
	for (const char *p = id; *p; p++)
		if (*p == '/' || *p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* A log line about a job: job=<id> plus already formatted fields, and a
 * msg="..." if text is given. */
__attribute__((format(printf, 5, 6))) static void jlog(struct backupd *d, int pri, const char *job, const char *fields,
							const char *fmt, ...)
{
	char buf[1600], text[1024];
	size_t len = 0;
	buf[0] = '\0';
	if (job)
		watch_kv_append(buf, sizeof(buf), &len, "job", job);
	if (fields && *fields) {
		snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? " " : "", fields);
		len = strlen(buf);
	}
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		watch_kv_append(buf, sizeof(buf), &len, "msg", text);
	}
	watch_log(d->ctx, pri, "%s", buf);
}

static int mkdir_p(const char *path)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	return mkdir(p, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* ---- storage ---- */

struct dumpdest {
	struct sectioncfg *storage_cfg;
	char *storage_file;
	char *dump_dir;
	bool has_prune;
	struct prune_spec prune;
};

static void dumpdest_clear(struct dumpdest *dd)
{
	if (dd->storage_cfg)
		sectioncfg_free(dd->storage_cfg);
	free(dd->storage_file);
	free(dd->dump_dir);
	*dd = (struct dumpdest){ 0 };
}

static void ignore_warning(void *userdata, const struct parse_error *w)
{
	(void)userdata;
	(void)w;
}

/* The job's storage: must be a `dir` storage; its dump directory is
 * created if missing.  err gets the reason. */
static int resolve_storage(struct backupd *d, const struct job *job, struct dumpdest *dd, char *err, size_t errlen)
{
	if (asprintf(&dd->storage_file, "%s/storage.cfg", watch_root(d->ctx)) < 0)
		return -ENOMEM;
	_cleanup_free_ char *text = NULL;
	ssize_t len = watch_read_file(dd->storage_file, &text);
	if (len < 0) {
		snprintf(err, errlen, "cannot read storage.cfg: %s", strerror((int)-len));
		return (int)len;
	}
	struct parse_error pe;
	parse_error_clear(&pe);
	if (sectioncfg_parse(text, (size_t)len, "storage.cfg", &schema_storage_cfg, ignore_warning, NULL,
			     &dd->storage_cfg, &pe) < 0) {
		char t[PARSE_ERROR_TEXT_MAX];
		snprintf(err, errlen, "%s", parse_error_format(&pe, t, sizeof(t)));
		return -EINVAL;
	}
	const struct sectioncfg_section *s = sectioncfg_find(dd->storage_cfg, NULL, job->storage);
	if (!s) {
		snprintf(err, errlen, "storage '%s' does not exist in storage.cfg", job->storage);
		return -ENOENT;
	}
	if (strcmp(s->type, "dir") != 0) {
		snprintf(err, errlen, "storage '%s' is of type '%s'; backups go to dir storages only", job->storage,
			 s->type);
		return -EOPNOTSUPP;
	}
	const char *prune = sectioncfg_get(s, "prune-backups");
	if (prune && prune_spec_parse(prune, &dd->prune, NULL, 0) == 0)
		dd->has_prune = true;
	if (job->has_prune) {
		dd->prune = job->prune;
		dd->has_prune = true;
	}
	if (asprintf(&dd->dump_dir, "%s/dump", sectioncfg_get(s, "path")) < 0)
		return -ENOMEM;
	if (!watch_dry_run(d->ctx)) {
		int r = mkdir_p(dd->dump_dir);
		if (r < 0) {
			snprintf(err, errlen, "cannot create %s: %s", dd->dump_dir, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* ---- retention ---- */

static void note_pruned(struct job_run *run, const char *name)
{
	json_object_array_add(run->pruned, json_object_new_string(name));
}

static void prune_vm(struct backupd *d, struct job_run *run, const struct dumpdest *dd, unsigned vmid)
{
	if (!dd->has_prune || prune_spec_keeps_all(&dd->prune))
		return;
	_cleanup_free_ struct backup_archive *a = NULL;
	size_t n = 0;
	int r = backup_archive_list(dd->dump_dir, vmid, &a, &n);
	if (r == 0)
		r = backup_plan_prune(&dd->prune, a, n);
	if (r < 0) {
		jlog(d, LOG_ERR, run->job->id, "action=prune result=error", "cannot prune %s: %s", dd->dump_dir,
		     strerror(-r));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char f[400];
		bool keep = prune_reason_keeps(a[i].reason);
		snprintf(f, sizeof(f), "action=prune vmid=%u archive=%s decision=%s reason=%s", vmid, a[i].name,
			 keep ? "keep" : "remove", prune_reason_name(a[i].reason));
		jlog(d, LOG_INFO, run->job->id, f, NULL);
		if (keep || !watch_action(d->ctx, "remove %s/%s", dd->dump_dir, a[i].name))
			continue;
		if ((r = backup_archive_remove(dd->dump_dir, &a[i])) < 0)
			jlog(d, LOG_ERR, run->job->id, "action=prune result=error", "cannot remove %s: %s", a[i].name,
			     strerror(-r));
		else
			note_pruned(run, a[i].name);
	}
}

/* Tree archives: pvecfs-tree-<jobid>-YYYY_MM_DD-HH_MM_SS.pvecfs. */
bool backup_tree_archive_time(const char *name, const char *jobid, time_t *t)
{
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "pvecfs-tree-%s-", jobid);
	size_t pl = strlen(prefix);
	if (strncmp(name, prefix, pl) != 0 || strlen(name) != pl + 19 + 7 || strcmp(name + pl + 19, ".pvecfs") != 0)
		return false;
	struct tm tm = { .tm_isdst = -1 };
	int used = 0;
	if (sscanf(name + pl, "%4d_%2d_%2d-%2d_%2d_%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec, &used) != 6 || used != 19)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = mktime(&tm);
	return *t != (time_t)-1;
}

static void prune_tree(struct backupd *d, struct job_run *run, const struct dumpdest *dd)
{
	if (!dd->has_prune || prune_spec_keeps_all(&dd->prune))
		return;
	DIR *dir = opendir(dd->dump_dir);
	if (!dir)
		return;
	struct prune_item *items = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		time_t t;
		struct prune_item *grown;
		if (!backup_tree_archive_time(e->d_name, run->job->id, &t) ||
		    !(grown = realloc(items, (n + 1) * sizeof(*items))))
			continue;
		items = grown;
		items[n++] = (struct prune_item){ .name = strdup(e->d_name), .time = t };
	}
	closedir(dir);
	if (prune_apply(&dd->prune, items, n) == 0)
		for (size_t i = 0; i < n; i++) {
			if (!items[i].name)
				continue;
			bool keep = prune_reason_keeps(items[i].reason);
			char f[300];
			snprintf(f, sizeof(f), "action=prune archive=%s decision=%s reason=%s", items[i].name,
				 keep ? "keep" : "remove", prune_reason_name(items[i].reason));
			jlog(d, LOG_INFO, run->job->id, f, NULL);
			if (keep || !watch_action(d->ctx, "remove %s/%s", dd->dump_dir, items[i].name))
				continue;
			_cleanup_free_ char *path = NULL;
			if (asprintf(&path, "%s/%s", dd->dump_dir, items[i].name) >= 0 && unlink(path) == 0)
				note_pruned(run, items[i].name);
		}
	for (size_t i = 0; i < n; i++)
		free((char *)items[i].name);
	free(items);
}

/* ---- guest jobs ---- */

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

/* The vmids of this node's VMs the job selects, sorted. */
static int list_vms(struct backupd *d, const struct job *job, unsigned **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/nodes/%s/qemu-server", watch_root(d->ctx), d->node) < 0)
		return -ENOMEM;
	DIR *dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	size_t cap = 0;
	while ((e = readdir(dir))) {
		char *end;
		unsigned long v = strtoul(e->d_name, &end, 10);
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || strcmp(end, ".conf") != 0 || v < 100 ||
		    v > 999999999 || !job_selects(job, (unsigned)v))
			continue;
		if (*n == cap) {
			unsigned *g = realloc(*out, (cap = cap ? cap * 2 : 16) * sizeof(*g));
			if (!g) {
				closedir(dir);
				return -ENOMEM;
			}
			*out = g;
		}
		(*out)[(*n)++] = (unsigned)v;
	}
	closedir(dir);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_unsigned);
	return 0;
}

static void on_progress(void *userdata, unsigned vmid, const char *line)
{
	struct backupd *d = userdata;
	char f[64];
	snprintf(f, sizeof(f), "vmid=%u", vmid);
	jlog(d, LOG_INFO, NULL, f, "%s", line);
}

static void run_guests(struct backupd *d, struct job_run *run, const struct dumpdest *dd)
{
	const struct job *job = run->job;
	_cleanup_free_ unsigned *ids = NULL;
	size_t n = 0;
	int r = list_vms(d, job, &ids, &n);
	if (r < 0) {
		json_object_array_add(run->errors, json_object_new_string(strerror(-r)));
		return;
	}
	if (n == 0)
		jlog(d, LOG_INFO, job->id, "action=backup", "no VM of node %s is selected", d->node);
	for (size_t i = 0; i < n && !watch_should_stop(d->ctx); i++) {
		if (!watch_action(d->ctx, "back up VM %u into %s (mode %s)", ids[i], dd->dump_dir, job->mode))
			continue;
		struct vmbackup_opts o = {
			.vmid = ids[i], .root = watch_root(d->ctx), .node = d->node, .run_dir = d->run_dir,
			.dump_dir = dd->dump_dir, .storage = dd->storage_cfg, .storage_file = dd->storage_file,
			.compress = job->compress, .mode = job->mode, .bwlimit_kib = job->bwlimit_kib,
			.notes_template = job->notes_template, .when = backup_now(d),
			.agent_timeout_ms = d->agent_timeout_ms, .stop_timeout_s = d->stop_timeout_s,
			.progress = on_progress, .userdata = d,
		};
		struct vmbackup_result res;
		r = vmbackup_run(&o, &res);
		char f[128];
		snprintf(f, sizeof(f), "vmid=%u action=backup result=%s", ids[i], r < 0 ? "error" : "ok");
		if (r < 0) {
			char e[600];
			snprintf(e, sizeof(e), "VM %u: %s", ids[i], res.error);
			json_object_array_add(run->errors, json_object_new_string(e));
			jlog(d, LOG_ERR, job->id, f, "%s", e);
			continue;
		}
		json_object_array_add(run->archives, json_object_new_string(res.archive));
		add_size(run, dd->dump_dir, res.archive);
		jlog(d, LOG_INFO, job->id, f, "wrote %s (%llu bytes of disks)", res.archive,
		     (unsigned long long)res.bytes);
		prune_vm(d, run, dd, ids[i]);
	}
}

/* ---- config tree jobs ---- */

static int run_pvecfsctl(struct backupd *d, const char *out_path, char *err, size_t errlen)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		const char *argv[8];
		int i = 0;
		argv[i++] = d->pvecfsctl;
		if (d->socket) {
			argv[i++] = "--socket";
			argv[i++] = d->socket;
		}
		argv[i++] = "backup";
		argv[i++] = "-o";
		argv[i++] = out_path;
		argv[i] = NULL;
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(d->pvecfsctl, (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", d->pvecfsctl, strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(err, errlen, "%s backup failed (%s %d)", d->pvecfsctl, WIFEXITED(status) ? "exit status" : "signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -EIO;
}

static void run_tree(struct backupd *d, struct job_run *run, const struct dumpdest *dd)
{
	char stamp[32], name[NAME_MAX + 1], err[300] = "";
	time_t now = backup_now(d);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y_%m_%d-%H_%M_%S", &tm);
	snprintf(name, sizeof(name), "pvecfs-tree-%s-%s.pvecfs", run->job->id, stamp);
	if (!watch_action(d->ctx, "back up the config tree into %s/%s", dd->dump_dir, name))
		return;
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dd->dump_dir, name) < 0)
		return;
	int r = run_pvecfsctl(d, path, err, sizeof(err));
	if (r < 0) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(-r));
		json_object_array_add(run->errors, json_object_new_string(err));
		jlog(d, LOG_ERR, run->job->id, "action=tree-backup result=error", "%s", err);
		return;
	}
	json_object_array_add(run->archives, json_object_new_string(name));
	add_size(run, dd->dump_dir, name);
	jlog(d, LOG_INFO, run->job->id, "action=tree-backup result=ok", "wrote %s", name);
	prune_tree(d, run, dd);
}

/* ---- one job run ---- */

/* The schedule's interval around t (the gap between its next two slots),
 * 0 if it does not fire twice more: `pvecfsctl status` calls a job stale
 * when its last success is older than twice that. */
static int64_t schedule_interval(const struct job *job, time_t t)
{
	time_t a = job_next_slot(job, t), b = a ? job_next_slot(job, a) : 0;
	return a && b ? (int64_t)(b - a) : 0;
}

static void publish_run(struct backupd *d, struct job_run *run, const char *result, const char *reason)
{
	time_t now = backup_now(d);
	json_object *o = json_object_new_object();
	if (strcmp(result, "ok") == 0) {
		job_state_set(&d->last_ok, run->job->id, run->started);
		int r = job_state_save(d->last_ok_path, &d->last_ok);
		if (r < 0)
			jlog(d, LOG_ERR, NULL, "action=save-state result=error", "cannot write %s: %s", d->last_ok_path,
			     strerror(-r));
	}
	time_t last_ok = job_state_get(&d->last_ok, run->job->id);
	const char *error = reason ? reason
				   : json_object_array_length(run->errors)
					     ? json_object_get_string(json_object_array_get_idx(run->errors, 0))
					     : NULL;
	json_object_object_add(o, "start", json_object_new_int64(run->started));
	json_object_object_add(o, "end", json_object_new_int64(now));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)run->size));
	json_object_object_add(o, "status", json_object_new_string(result));
	if (error)
		json_object_object_add(o, "error", json_object_new_string(error));
	if (last_ok)
		json_object_object_add(o, "last_ok", json_object_new_int64(last_ok));
	json_object_object_add(o, "interval", json_object_new_int64(schedule_interval(run->job, now)));
	json_object_object_add(o, "last", json_object_new_int64(run->started));
	json_object_object_add(o, "slot", json_object_new_int64(run->slot));
	json_object_object_add(o, "trigger", json_object_new_string(run->trigger));
	json_object_object_add(o, "result", json_object_new_string(result));
	json_object_object_add(o, "duration", json_object_new_int64(now - run->started));
	json_object_object_add(o, "archives", json_object_get(run->archives));
	json_object_object_add(o, "pruned", json_object_get(run->pruned));
	json_object_object_add(o, "errors", json_object_get(run->errors));
	if (reason)
		json_object_object_add(o, "reason", json_object_new_string(reason));
	char key[200];
	snprintf(key, sizeof(key), "backup/%s", run->job->id);
	watch_status_set(d->ctx, key, o);
	size_t n_arch = json_object_array_length(run->archives), n_err = json_object_array_length(run->errors);
	int pri = strcmp(result, "error") == 0 ? LOG_ERR : strcmp(result, "skipped") == 0 ? LOG_NOTICE : LOG_INFO;
	if (reason)
		watch_cluster_log(d->ctx, pri, "backup job %s (%s) on %s: %s: %s", run->job->id, run->trigger, d->node,
				  result, reason);
	else
		watch_cluster_log(d->ctx, pri, "backup job %s (%s) on %s: %s, %zu archive(s), %zu error(s) in %lld s%s%s",
				  run->job->id, run->trigger, d->node, result, n_arch, n_err,
				  (long long)(now - run->started), n_err ? ": " : "",
				  n_err ? json_object_get_string(json_object_array_get_idx(run->errors, 0)) : "");
}

/* The cluster lock of a scheduled run: its name (joblock.h) and whether
 * this run may go on.  Returns 1 go on (taken, or in dry-run), 0 skip
 * (why in err), <0 error (why in err). */
static int take_lock(struct backupd *d, const struct job_run *run, char *name, size_t size, char *err, size_t errlen)
{
	if (run->job->kind == JOB_TREE)
		snprintf(name, size, "backup-%s-%lld", run->job->id, (long long)run->slot);
	else
		snprintf(name, size, "backup-%s-%lld-%s", run->job->id, (long long)run->slot, d->node);
	if (!watch_action(d->ctx, "take the cluster lock %s", name))
		return 1;
	enum joblock_outcome how;
	int r = joblock_take(watch_root(d->ctx), name, &how);
	if (r < 0) {
		snprintf(err, errlen, "cannot take cluster lock %s: %s", name, strerror(-r));
		return r;
	}
	switch (how) {
	case JOBLOCK_TAKEN:
		return 1;
	case JOBLOCK_TAKEN_OVER: {
		char f[400];
		size_t len = 0;
		f[0] = '\0';
		watch_kv_append(f, sizeof(f), &len, "action", "lock");
		watch_kv_append(f, sizeof(f), &len, "result", "taken-over");
		watch_kv_append(f, sizeof(f), &len, "lock", name);
		jlog(d, LOG_NOTICE, run->job->id, f, "the lock had expired (its runner died): removed and taken");
		watch_cluster_log(d->ctx, LOG_NOTICE, "backup job %s: expired cluster lock %s (its runner died) removed; %s runs the slot",
				  run->job->id, name, d->node);
		return 1;
	}
	case JOBLOCK_DONE:
		snprintf(err, errlen, "cluster lock %s is marked done: the slot was already run", name);
		return 0;
	case JOBLOCK_HELD:
	default:
		snprintf(err, errlen, "cluster lock %s is held: another runner has this slot", name);
		return 0;
	}
}

/* Whether lock `name` belongs to a job that jobs.cfg no longer has (this
 * node's runs of it, or its config-tree runs). */
static bool lock_of_removed_job(const char *name, const char *node, const struct job_list *jobs)
{
	char id[256];
	return (joblock_name_job(name, node, id, sizeof(id)) || joblock_name_job(name, NULL, id, sizeof(id))) &&
	       !job_find(jobs, id);
}

/* Locks of this node's jobs for slots before the last one it handled, and
 * locks of jobs removed from jobs.cfg, are no use any more: released if
 * their run is done, removed if they have expired (a dead runner's), kept
 * while someone renews them. */
static void clean_old_locks(struct backupd *d, const struct job_list *jobs)
{
	_cleanup_free_ char *dirpath = NULL;
	if (asprintf(&dirpath, "%s/priv/lock", watch_root(d->ctx)) < 0)
		return;
	DIR *dir = opendir(dirpath);
	if (!dir)
		return;
	char **old = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (strncmp(e->d_name, "backup-", 7) != 0)
			continue;
		bool stale = lock_of_removed_job(e->d_name, d->node, jobs);
		for (size_t i = 0; i < jobs->n && !stale; i++) {
			const struct job *job = &jobs->jobs[i];
			time_t slot, last = job_state_get(&d->state, job->id);
			stale = last && job_runs_on(job, d->node) &&
				joblock_name_slot(e->d_name, job->id, job->kind == JOB_TREE ? NULL : d->node, &slot) &&
				slot < last;
		}
		char **g;
		if (!stale || !(g = realloc(old, (n + 1) * sizeof(*g))))
			continue;
		old = g;
		old[n++] = strdup(e->d_name);
	}
	closedir(dir);
	for (size_t i = 0; i < n; i++) {
		if (old[i] && watch_action(d->ctx, "remove the old cluster lock %s if it is done or expired", old[i])) {
			int r = joblock_remove(watch_root(d->ctx), old[i]);
			char f[400];
			size_t len = 0;
			f[0] = '\0';
			watch_kv_append(f, sizeof(f), &len, "action", "lock-cleanup");
			watch_kv_append(f, sizeof(f), &len, "lock", old[i]);
			watch_kv_append(f, sizeof(f), &len, "result", r > 0 ? "removed" : r == 0 ? "held" : "error");
			if (r < 0)
				jlog(d, LOG_ERR, NULL, f, "%s", strerror(-r));
			else
				jlog(d, r > 0 ? LOG_INFO : LOG_DEBUG, NULL, f, NULL);
		}
		free(old[i]);
	}
	free(old);
}

/* A job's own `stagger S` wins over the daemon's --stagger. */
static void stagger(struct backupd *d, const struct job *job)
{
	unsigned max_s = job->stagger_s >= 0 ? (unsigned)job->stagger_s : d->stagger_s;
	if (!max_s)
		return;
	unsigned ms = job_stagger_ms(job->id, d->node, max_s);
	char f[64];
	snprintf(f, sizeof(f), "action=stagger delay_ms=%u", ms);
	jlog(d, LOG_INFO, job->id, f, NULL);
	for (unsigned waited = 0; waited < ms && !watch_should_stop(d->ctx); waited += 100)
		usleep(100000);
}

/* The run has ended: stop renewing and mark the slot done, so that its
 * lock is never taken over once it expires. */
static void finish_lock(struct backupd *d, const struct job *job, const char *lock, struct joblock_renewer *renewer)
{
	unsigned renewals = 0;
	int e = 0;
	joblock_renewer_stop(renewer, &renewals, &e);
	char f[400];
	size_t len = 0;
	f[0] = '\0';
	watch_kv_append(f, sizeof(f), &len, "action", "lock-renew");
	watch_kv_append(f, sizeof(f), &len, "lock", lock);
	snprintf(f + len, sizeof(f) - len, " renewals=%u", renewals);
	if (e) {
		jlog(d, LOG_WARNING, job->id, f, "renewing the lock failed (%s): it may have been taken over",
		     strerror(e));
		return;
	}
	jlog(d, LOG_INFO, job->id, f, NULL);
	int r = joblock_mark_done(watch_root(d->ctx), lock);
	if (r < 0)
		jlog(d, LOG_ERR, job->id, "action=lock-done result=error", "cannot mark %s done: %s", lock,
		     strerror(-r));
}

static void run_job(struct backupd *d, const struct job *job, const char *trigger, time_t slot)
{
	struct job_run run = { .job = job, .trigger = trigger, .slot = slot };
	char f[200], err[400] = "";
	snprintf(f, sizeof(f), "action=run trigger=%s slot=%lld kind=%s now=%lld", trigger, (long long)slot,
		 job->kind == JOB_TREE ? "pvecfs-tree" : "vzdump", (long long)backup_now(d));
	jlog(d, LOG_INFO, job->id, f, NULL);
	char lock[300] = "";
	struct joblock_renewer *renewer = NULL;
	if (strcmp(trigger, "run-now") != 0) {
		stagger(d, job);
		int r = take_lock(d, &run, lock, sizeof(lock), err, sizeof(err));
		if (r <= 0) {
			run.archives = json_object_new_array();
			run.errors = json_object_new_array();
			run.pruned = json_object_new_array();
			run.started = backup_now(d);
			if (r == 0) {
				jlog(d, LOG_NOTICE, job->id, "action=run result=skipped", "%s", err);
				publish_run(d, &run, "skipped", err);
			} else {
				jlog(d, LOG_ERR, job->id, "action=run result=error", "%s", err);
				publish_run(d, &run, "error", err);
			}
			json_object_put(run.archives);
			json_object_put(run.errors);
			json_object_put(run.pruned);
			return;
		}
		if (!watch_dry_run(d->ctx)) {
			r = joblock_renewer_start(watch_root(d->ctx), lock, d->lock_renew_s, &renewer);
			if (r < 0)
				jlog(d, LOG_ERR, job->id, "action=lock-renew result=error",
				     "cannot start renewing %s: %s", lock, strerror(-r));
		}
	}
	run.started = backup_now(d);
	run.archives = json_object_new_array();
	run.errors = json_object_new_array();
	run.pruned = json_object_new_array();
	struct dumpdest dd = { 0 };
	int r = resolve_storage(d, job, &dd, err, sizeof(err));
	if (r < 0) {
		json_object_array_add(run.errors, json_object_new_string(err));
		jlog(d, LOG_ERR, job->id, "action=run result=error", "%s", err);
	} else if (job->kind == JOB_TREE) {
		run_tree(d, &run, &dd);
	} else {
		run_guests(d, &run, &dd);
	}
	bool failed = json_object_array_length(run.errors) > 0;
	snprintf(f, sizeof(f), "action=run result=%s archives=%zu", failed ? "error" : "ok",
		 json_object_array_length(run.archives));
	jlog(d, failed ? LOG_ERR : LOG_INFO, job->id, f, NULL);
	if (renewer)
		finish_lock(d, job, lock, renewer);
	if (!watch_dry_run(d->ctx))
		publish_run(d, &run, failed ? "error" : "ok", NULL);
	dumpdest_clear(&dd);
	json_object_put(run.archives);
	json_object_put(run.errors);
	json_object_put(run.pruned);
}

/* ---- the pass ---- */

static void report_config(struct backupd *d, const char *error)
{
	if (!error) {
		if (d->config_error) {
			jlog(d, LOG_INFO, NULL, "config=jobs.cfg result=ok", "jobs.cfg parses again");
			free(d->config_error);
			d->config_error = NULL;
		}
		watch_status_set(d->ctx, "backup/config", NULL);
		return;
	}
	jlog(d, LOG_ERR, NULL, "config=jobs.cfg result=error", "%s; no backup job runs until it is fixed", error);
	if (d->config_error && strcmp(d->config_error, error) == 0)
		return;
	free(d->config_error);
	d->config_error = strdup(error);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "result", json_object_new_string("error"));
	json_object_object_add(o, "error", json_object_new_string(error));
	json_object_object_add(o, "time", json_object_new_int64(time(NULL)));
	watch_status_set(d->ctx, "backup/config", o);
	watch_cluster_log(d->ctx, LOG_ERR, "backup: %s; no backup job runs on %s until it is fixed", error, d->node);
}

static int load_jobs(struct backupd *d, struct job_list *jobs, bool *ok)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	*ok = false;
	if (asprintf(&path, "%s/jobs.cfg", watch_root(d->ctx)) < 0)
		return -ENOMEM;
	ssize_t len = watch_read_file(path, &text);
	if (len == -ENOENT) {
		report_config(d, NULL);
		*ok = true;
		return 0;
	}
	char err[600];
	if (len < 0) {
		snprintf(err, sizeof(err), "jobs.cfg: cannot read: %s", strerror((int)-len));
		report_config(d, err);
		return 0;
	}
	int r = job_list_parse(text, (size_t)len, "jobs.cfg", jobs, err, sizeof(err));
	if (r == -ENOMEM)
		return r;
	report_config(d, r < 0 ? err : NULL);
	*ok = r == 0;
	return 0;
}

static void take_triggers(struct backupd *d, const struct job_list *jobs)
{
	_cleanup_free_ char *dirpath = NULL;
	if (asprintf(&dirpath, "%s/nodes/%s/backup-run", watch_root(d->ctx), d->node) < 0)
		return;
	DIR *dir = opendir(dirpath);
	if (!dir)
		return;
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		char **g;
		if (e->d_name[0] == '.' || !(g = realloc(names, (n + 1) * sizeof(*g))))
			continue;
		names = g;
		names[n++] = strdup(e->d_name);
	}
	closedir(dir);
	for (size_t i = 0; i < n; i++) {
		if (!names[i])
			continue;
		const struct job *job = job_find(jobs, names[i]);
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/%s", dirpath, names[i]) < 0 ||
		    !watch_action(d->ctx, "take the run-now trigger %s and run job %s", path, names[i]))
			continue;
		if (unlink(path) < 0) {
			if (errno != ENOENT)
				jlog(d, LOG_ERR, names[i], "action=trigger result=error", "cannot remove %s: %s", path,
				     strerror(errno));
			continue;
		}
		if (!job) {
			jlog(d, LOG_ERR, names[i], "action=trigger result=error", "run-now for a job that jobs.cfg does not define");
			watch_cluster_log(d->ctx, LOG_ERR, "backup: run-now on %s for unknown job %s", d->node, names[i]);
			continue;
		}
		run_job(d, job, "run-now", backup_now(d));
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void save_state(struct backupd *d)
{
	if (watch_dry_run(d->ctx))
		return;
	int r = job_state_save(d->state_path, &d->state);
	if (r < 0)
		jlog(d, LOG_ERR, NULL, "action=save-state result=error", "cannot write %s: %s", d->state_path,
		     strerror(-r));
}

static void run_scheduled(struct backupd *d, const struct job_list *jobs)
{
	time_t now = backup_now(d), next = 0;
	for (size_t i = 0; i < jobs->n && !watch_should_stop(d->ctx); i++) {
		const struct job *job = &jobs->jobs[i];
		if (!job->enabled || !job_runs_on(job, d->node))
			continue;
		time_t last = job_state_get(&d->state, job->id);
		if (!last) {
			/* New to this node: count from now. */
			job_state_set(&d->state, job->id, now);
			save_state(d);
			last = now;
		}
		time_t slot = job_due_slot(job, last, now);
		if (slot) {
			/* Recorded first: a crash in the middle does not run the
			 * slot twice. */
			time_t first_next = job_next_slot(job, last);
			job_state_set(&d->state, job->id, slot);
			save_state(d);
			run_job(d, job, slot > first_next || now - slot > 120 ? "catch-up" : "schedule", slot);
			now = backup_now(d);
		}
		time_t t = job_next_slot(job, job_state_get(&d->state, job->id) > now
							? job_state_get(&d->state, job->id)
							: now);
		if (t && (!next || t < next))
			next = t;
	}
	if (d->fake_time_file) {
		/* The fake clock jumps whenever the test says: look again soon,
		 * and say which fake time this pass has fully handled. */
		if (now != d->fake_reported) {
			char f[64];
			snprintf(f, sizeof(f), "action=clock now=%lld", (long long)now);
			jlog(d, LOG_INFO, NULL, f, NULL);
			d->fake_reported = now;
		}
		watch_mark_dirty_after(d->ctx, NULL, 200);
	} else if (next) {
		int64_t ms = ((int64_t)next - (int64_t)time(NULL)) * 1000 + 200;
		watch_mark_dirty_after(d->ctx, NULL, (unsigned)(ms < 0 ? 0 : ms > MAX_WAIT_MS ? MAX_WAIT_MS : ms));
	}
}

static void on_recovered(void *userdata, unsigned vmid, int error)
{
	struct backupd *d = userdata;
	char f[64];
	snprintf(f, sizeof(f), "vmid=%u action=recover-stopped result=%s", vmid, error ? "error" : "ok");
	if (error) {
		jlog(d, LOG_ERR, NULL, f, "cannot write running back to %u.state: %s", vmid, strerror(-error));
		return;
	}
	jlog(d, LOG_WARNING, NULL, f, "a stop-mode backup that did not finish had stopped the VM: asked to start it again");
	watch_cluster_log(d->ctx, LOG_WARNING,
			  "backup: VM %u was left stopped by an unfinished stop-mode backup on %s: started again", vmid,
			  d->node);
}

static int reconcile(struct watch_ctx *ctx, const struct watch_pass *pass, void *userdata)
{
	(void)ctx;
	struct backupd *d = userdata;
	struct job_list jobs = { 0 };
	bool ok;
	/* Before any job: a VM our own earlier run (which died) left stopped. */
	if (pass->first && !watch_dry_run(d->ctx)) {
		int n = vmbackup_recover_stopped(watch_root(d->ctx), d->node, d->run_dir, on_recovered, d);
		if (n < 0)
			jlog(d, LOG_ERR, NULL, "action=recover-stopped result=error", "%s", strerror(-n));
	}
	int r = load_jobs(d, &jobs, &ok);
	if (r < 0)
		return r;
	if (ok) {
		take_triggers(d, &jobs);
		run_scheduled(d, &jobs);
		clean_old_locks(d, &jobs);
	}
	job_list_clear(&jobs);
	return 0;
}

/* ---- subcommands ---- */

static bool parse_seconds(const char *s, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

int backup_cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },	{ "node", required_argument, NULL, 'n' },
		{ "run", required_argument, NULL, 'R' },	{ "dry-run", no_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },	{ "stagger", required_argument, NULL, 'g' },
		{ "pvecfsctl", required_argument, NULL, 'c' },	{ "agent-timeout", required_argument, NULL, 'a' },
		{ "stop-timeout", required_argument, NULL, 't' }, { "debug", no_argument, NULL, 'D' },
		{ "lock-renew", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	char hostname[256];
	struct backupd d = { .run_dir = "/run/pvecfs", .stagger_s = 5, .agent_timeout_ms = 2000,
			     .stop_timeout_s = 600, .lock_renew_s = 30 };
	const char *env_ctl = getenv("PVECFS_CTL");
	d.pvecfsctl = env_ctl ? env_ctl : "pvecfsctl";
	struct watch_options o = { .name = "backup", .reconcile = reconcile, .userdata = &d };
	unsigned agent_s = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.root = optarg; break;
		case 'n': d.node = optarg; break;
		case 'R': d.run_dir = optarg; break;
		case 'd': o.dry_run = true; break;
		case 's': o.socket = optarg; break;
		case 'c': d.pvecfsctl = optarg; break;
		case 'D': o.debug = true; break;
		case 'g':
			if (!parse_seconds(optarg, 3600, &d.stagger_s)) {
				fprintf(stderr, "pvecfs-backup: --stagger must be 0..3600 seconds\n");
				return EXIT_USAGE;
			}
			break;
		case 'a':
			if (!parse_seconds(optarg, 600, &agent_s) || agent_s == 0) {
				fprintf(stderr, "pvecfs-backup: --agent-timeout must be 1..600 seconds\n");
				return EXIT_USAGE;
			}
			d.agent_timeout_ms = agent_s * 1000;
			break;
		case 't':
			if (!parse_seconds(optarg, 86400, &d.stop_timeout_s) || d.stop_timeout_s == 0) {
				fprintf(stderr, "pvecfs-backup: --stop-timeout must be 1..86400 seconds\n");
				return EXIT_USAGE;
			}
			break;
		case 'L':
			if (!parse_seconds(optarg, 3600, &d.lock_renew_s) || d.lock_renew_s == 0) {
				fprintf(stderr, "pvecfs-backup: --lock-renew must be 1..3600 seconds\n");
				return EXIT_USAGE;
			}
			break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: pvecfs-backup run [--root DIR] [--node NAME] [--run DIR] [--dry-run] "
				"[--stagger S] [--socket PATH] [--pvecfsctl PATH] [--agent-timeout S] [--stop-timeout S] "
				"[--lock-renew S] [--debug]\n");
		return EXIT_USAGE;
	}
	if (!d.node) {
		watch_short_hostname(hostname, sizeof(hostname));
		d.node = hostname;
	}
	_cleanup_free_ char *socket = NULL, *bdir = NULL, *state = NULL, *trig = NULL;
	if (!o.socket && !getenv("PVECFS_API")) {
		if (asprintf(&socket, "%s/api.sock", d.run_dir) < 0)
			return 1;
		o.socket = socket;
	}
	d.socket = o.socket;
	if (asprintf(&bdir, "%s/backup", d.run_dir) < 0 || asprintf(&state, "%s/watcher.state", bdir) < 0 ||
	    asprintf(&d.state_path, "%s/schedule.state", bdir) < 0 ||
	    asprintf(&d.last_ok_path, "%s/last-ok.state", bdir) < 0 ||
	    asprintf(&trig, "/nodes/%s/backup-run/", d.node) < 0)
		return 1;
	if (mkdir_p(bdir) < 0) {
		fprintf(stderr, "pvecfs-backup: cannot create %s: %s\n", bdir, strerror(errno));
		return 1;
	}
	const char *prefixes[] = { "/jobs.cfg", "/storage.cfg", trig };
	o.prefixes = prefixes;
	o.n_prefixes = ARRAY_SIZE(prefixes);
	o.state_file = state;
	int r = job_state_load(d.state_path, &d.state);
	if (r < 0) {
		fprintf(stderr, "pvecfs-backup: cannot read %s: %s\n", d.state_path, strerror(-r));
		return 1;
	}
	if ((r = job_state_load(d.last_ok_path, &d.last_ok)) < 0) {
		fprintf(stderr, "pvecfs-backup: cannot read %s: %s\n", d.last_ok_path, strerror(-r));
		return 1;
	}
	const char *fake = getenv("PVECFS_BACKUP_FAKE_TIME_FILE");
	d.fake_time_file = fake && *fake ? fake : NULL;
	r = watch_new(&o, &d.ctx);
	if (r < 0) {
		fprintf(stderr, "pvecfs-backup: %s\n", strerror(-r));
		return 1;
	}
	r = watch_run(d.ctx);
	watch_free(d.ctx);
	job_state_clear(&d.state);
	job_state_clear(&d.last_ok);
	free(d.state_path);
	free(d.last_ok_path);
	free(d.config_error);
	return r < 0 ? 1 : 0;
}

int backup_cmd_run_now(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "node", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = "/etc/pve", *node = NULL;
	char hostname[256];
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'n': node = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: pvecfs-backup run-now JOBID [--root DIR] [--node NAME]\n");
		return EXIT_USAGE;
	}
	const char *id = argv[optind];
	if (!valid_job_id(id)) {
		fprintf(stderr, "pvecfs-backup: '%s' is not a job id\n", id);
		return EXIT_USAGE;
	}
	if (!node) {
		watch_short_hostname(hostname, sizeof(hostname));
		node = hostname;
	}
	_cleanup_free_ char *dir = NULL, *path = NULL;
	if (asprintf(&dir, "%s/nodes/%s/backup-run", root, node) < 0 || asprintf(&path, "%s/%s", dir, id) < 0)
		return 1;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "pvecfs-backup: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	FILE *f = fopen(path, "we");
	if (!f) {
		fprintf(stderr, "pvecfs-backup: cannot create %s: %s\n", path, strerror(errno));
		return 1;
	}
	fprintf(f, "requested %lld\n", (long long)time(NULL));
	if (fclose(f) != 0) {
		fprintf(stderr, "pvecfs-backup: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("requested job %s on node %s (%s)\n", id, node, path);
	return 0;
}

int backup_cmd_restore_test(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tmpdir", required_argument, NULL, 't' },
		{ "keep", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tmp = NULL;
	bool keep = false;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't': tmp = optarg; break;
		case 'k': keep = true; break;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: pvecfs-backup restore-test ARCHIVE [--tmpdir DIR] [--keep]\n");
		return EXIT_USAGE;
	}
	char err[600];
	int r = vmbackup_verify(argv[optind], tmp, keep, stdout, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "pvecfs-backup: %s: %s\n", argv[optind], err[0] ? err : strerror(-r));
		return 1;
	}
	return 0;
}
