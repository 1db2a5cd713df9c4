/* vmbackup.c - see vmbackup.h.
 *
 * One backup is a struct vmb: the options, the parsed config, the list of
 * disks to read (with where their bytes come from: the volume itself, or a
 * temporary copy a block job made), the open .log file and the archive
 * stream.  The steps are small functions run in order by vmbackup_run();
 * every step logs what it did, and any failure ends the backup with the
 * reason in the log, the result and the caller's log. */
#include "vmbackup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "parse_error.h"
#include "qmp.h"
#include "sectioncfg.h"
#include "storage.h"
#include "vm.h"
#include "vmconf.h"

#define QMP_TIMEOUT_MS 10000
#define BLOCK_JOB_TIMEOUT_MS (6 * 3600 * 1000)
#define COPY_CHUNK (1024 * 1024)
#define MAX_DISKS 64

struct disk_src {
	char key[32];
	char volume[PATH_MAX];
	char *path;     /* where to read the bytes now */
	char *tmp_copy; /* the block job's target, removed at the end */
	uint64_t size;
	char sha256[65];
};

struct vmb {
	const struct vmbackup_opts *o;
	struct vmbackup_result *res;
	char stem[128]; /* "vzdump-qemu-<vmid>-<time>": short */
	char *conf_text;
	size_t conf_len;
	struct vmconf *conf;
	struct disk_src disks[MAX_DISKS];
	size_t n_disks;
	FILE *log;
	pid_t pid; /* the running QEMU, 0 if none */
	struct qmp *qmp;
	bool paused, state_changed;
	char *tmp_dir;  /* <dump>/.<stem>.tmp.d: block job targets */
	char *tmp_file; /* <dump>/.<archive>.tmp */
	int64_t throttle_start_ms;
	uint64_t throttle_bytes;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vmbackup_stem(unsigned vmid, time_t when, char *buf, size_t size)
{
	struct tm tm;
	localtime_r(&when, &tm);
	char t[32];
	strftime(t, sizeof(t), "%Y_%m_%d-%H_%M_%S", &tm);
	snprintf(buf, size, "vzdump-qemu-%u-%s", vmid, t);
}

__attribute__((format(printf, 3, 4))) static void blog(struct vmb *b, const char *level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (b->log) {
		time_t now = time(NULL);
		struct tm tm;
		char ts[32];
		localtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(b->log, "%s %s: %s\n", ts, level, text);
		fflush(b->log);
	}
	if (b->o->progress)
		b->o->progress(b->o->userdata, b->o->vmid, text);
}

/* Logs the error, keeps the first reason in the result, returns r. */
__attribute__((format(printf, 3, 4))) static int bfail(struct vmb *b, int r, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	blog(b, "ERROR", "%s", text);
	if (!b->res->error[0])
		snprintf(b->res->error, sizeof(b->res->error), "%s", text);
	return r < 0 ? r : -EIO;
}

/* ---- bandwidth ---- */

static void throttle(struct vmb *b, size_t just_copied)
{
	if (!b->o->bwlimit_kib)
		return;
	if (!b->throttle_start_ms)
		b->throttle_start_ms = mono_ms();
	b->throttle_bytes += just_copied;
	/* When the bytes so far should be done at the limit, and wait for it. */
	int64_t due = b->throttle_start_ms + (int64_t)(b->throttle_bytes * 1000 / (b->o->bwlimit_kib * 1024));
	int64_t wait = due - mono_ms();
	if (wait > 0)
		usleep((useconds_t)(wait > 5000 ? 5000 : wait) * 1000);
}

/* ---- config and disks ---- */

static void ignore_warning(void *userdata, const struct parse_error *w)
{
	(void)userdata;
	(void)w;
}

static int load_config(struct vmb *b)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/nodes/%s/qemu-server/%u.conf", b->o->root, b->o->node, b->o->vmid) < 0)
		return -ENOMEM;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bfail(b, -errno, "cannot read %s: %s", path, strerror(errno));
	GString *s = g_string_new(NULL);
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		g_string_append_len(s, buf, n);
	close(fd);
	b->conf_len = s->len;
	b->conf_text = g_string_free(s, FALSE);
	struct parse_error err;
	parse_error_clear(&err);
	if (vmconf_parse(b->conf_text, b->conf_len, path, ignore_warning, NULL, &b->conf, &err) < 0) {
		char text[PARSE_ERROR_TEXT_MAX];
		return bfail(b, -EINVAL, "bad config: %s", parse_error_format(&err, text, sizeof(text)));
	}
	if (vmconf_view(b->conf)->lock)
		return bfail(b, -EBUSY, "VM %u is locked (lock: %s)", b->o->vmid, vmconf_view(b->conf)->lock);
	return 0;
}

static int file_size(const char *path, uint64_t *size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	off_t end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		return -errno;
	*size = (uint64_t)end;
	return 0;
}

static int resolve_disks(struct vmb *b)
{
	const struct vmconf_view *v = vmconf_view(b->conf);
	struct qemu_storage st = { .cfg = b->o->storage, .file = b->o->storage_file, .node = b->o->node };
	for (size_t i = 0; i < v->disk_count; i++) {
		const struct vmconf_disk *d = &v->disks[i];
		if (d->cdrom || strcmp(d->volume, "none") == 0 || strcmp(d->bus, "tpmstate") == 0)
			continue;
		if (!d->backup) {
			blog(b, "INFO", "skipping %s (backup=0)", d->key);
			continue;
		}
		if (b->n_disks == MAX_DISKS)
			return bfail(b, -E2BIG, "more than %d disks", MAX_DISKS);
		struct disk_src *s = &b->disks[b->n_disks];
		snprintf(s->key, sizeof(s->key), "%s", d->key);
		snprintf(s->volume, sizeof(s->volume), "%s", d->volume);
		if (d->volume[0] == '/') {
			s->path = strdup(d->volume);
		} else {
			struct parse_error err;
			bool block = false;
			parse_error_clear(&err);
			if (qemu_storage_resolve(&st, b->o->vmid, d->volume, &s->path, &block, &err) < 0)
				return bfail(b, -EINVAL, "%s: %s", d->key, err.reason);
		}
		if (!s->path)
			return -ENOMEM;
		b->n_disks++;
		int r = file_size(s->path, &s->size);
		if (r < 0)
			return bfail(b, r, "%s: cannot open %s: %s", d->key, s->path, strerror(-r));
		blog(b, "INFO", "disk %s: %s (%s, %llu bytes)", s->key, s->volume, s->path,
		     (unsigned long long)s->size);
	}
	return 0;
}

/* ---- the running QEMU ---- */

static void find_qemu(struct vmb *b)
{
	_cleanup_free_ char *pid_path = NULL;
	pid_t pid;
	if (asprintf(&pid_path, "%s/qemu/%u.pid", b->o->run_dir, b->o->vmid) < 0)
		return;
	if (vm_read_pid_file(pid_path, &pid) == 0 && vm_process_matches(pid, pid_path))
		b->pid = pid;
}

/* The qemu watcher holds <vmid>.qmp while it supervises the VM; a QEMU
 * started with a second monitor at <vmid>.backup.qmp is reached there. */
static int connect_qmp(struct vmb *b)
{
	static const char *const names[] = { "backup.qmp", "qmp" };
	int r = -ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *path = NULL, *msg = NULL;
		if (asprintf(&path, "%s/qemu/%u.%s", b->o->run_dir, b->o->vmid, names[i]) < 0)
			return -ENOMEM;
		if (access(path, F_OK) != 0)
			continue;
		r = qmp_connect(path, 5000, &b->qmp, &msg);
		if (r == 0) {
			blog(b, "INFO", "connected to QMP at %s", path);
			return 0;
		}
		blog(b, "WARN", "QMP %s: %s", path, msg ? msg : strerror(-r));
	}
	return bfail(b, r, "cannot reach the QMP monitor of VM %u (%s)%s", b->o->vmid, strerror(-r),
		     r == -ETIMEDOUT ? "; another client (the qemu watcher?) holds it" : "");
}

static int qmp_call(struct vmb *b, const char *cmd, json_object *args, json_object **ret)
{
	int r = qmp_execute(b->qmp, cmd, args, QMP_TIMEOUT_MS, ret);
	if (r < 0)
		return bfail(b, r, "QMP %s failed: %s", cmd, qmp_last_error(b->qmp));
	return 0;
}

/* ---- guest agent ---- */

/* One request to the guest agent; 0 if it answered with "return" within
 * the timeout.  Without a guest OS nobody answers: that is not an error. */
static int agent_call(struct vmb *b, const char *command)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/qemu/%u.qga", b->o->run_dir, b->o->vmid) < 0)
		return -ENOMEM;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	char req[128];
	int n = snprintf(req, sizeof(req), "{\"execute\":\"%s\"}\n", command);
	if (write(fd, req, (size_t)n) != n)
		return -EIO;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int timeout = b->o->agent_timeout_ms ? (int)b->o->agent_timeout_ms : 2000;
	if (poll(&p, 1, timeout) <= 0)
		return -ETIMEDOUT;
	char reply[512];
	ssize_t got = read(fd, reply, sizeof(reply) - 1);
	if (got <= 0)
		return -ECONNRESET;
	reply[got] = '\0';
	return strstr(reply, "\"return\"") ? 0 : -EIO;
}

static bool freeze_guest(struct vmb *b)
{
	if (!vmconf_view(b->conf)->agent)
		return false;
	int r = agent_call(b, "guest-fsfreeze-freeze");
	if (r < 0) {
		blog(b, "WARN", "guest agent: fsfreeze failed (%s); continuing without freezing", strerror(-r));
		return false;
	}
	blog(b, "INFO", "guest filesystems frozen");
	return true;
}

static void thaw_guest(struct vmb *b)
{
	int r = agent_call(b, "guest-fsfreeze-thaw");
	if (r < 0)
		blog(b, "WARN", "guest agent: fsfreeze-thaw failed: %s", strerror(-r));
	else
		blog(b, "INFO", "guest filesystems thawed");
}

/* ---- snapshot mode: block jobs ---- */

static int add_target(struct vmb *b, struct disk_src *s)
{
	if (asprintf(&s->tmp_copy, "%s/%s.raw", b->tmp_dir, s->key) < 0)
		return -ENOMEM;
	_cleanup_close_ int fd = open(s->tmp_copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)s->size) < 0)
		return bfail(b, -errno, "cannot create %s: %s", s->tmp_copy, strerror(errno));
	json_object *file = json_object_new_object(), *args = json_object_new_object();
	json_object_object_add(file, "driver", json_object_new_string("file"));
	json_object_object_add(file, "filename", json_object_new_string(s->tmp_copy));
	char node[64];
	snprintf(node, sizeof(node), "pvecfs-bk-%s", s->key);
	json_object_object_add(args, "driver", json_object_new_string("raw"));
	json_object_object_add(args, "node-name", json_object_new_string(node));
	json_object_object_add(args, "file", file);
	int r = qmp_call(b, "blockdev-add", args, NULL);
	json_object_put(args);
	return r;
}

static void del_target(struct vmb *b, struct disk_src *s)
{
	char node[64];
	snprintf(node, sizeof(node), "pvecfs-bk-%s", s->key);
	json_object *args = json_object_new_object();
	json_object_object_add(args, "node-name", json_object_new_string(node));
	if (qmp_execute(b->qmp, "blockdev-del", args, QMP_TIMEOUT_MS, NULL) < 0)
		blog(b, "WARN", "blockdev-del %s: %s", node, qmp_last_error(b->qmp));
	json_object_put(args);
}

/* The guest's size of a drive (query-block), which the target must match. */
static int drive_size(struct vmb *b, const char *key, uint64_t *size)
{
	json_object *ret = NULL;
	int r = qmp_call(b, "query-block", NULL, &ret);
	if (r < 0)
		return r;
	char dev[64];
	snprintf(dev, sizeof(dev), "drive-%s", key);
	r = -ENODEV;
	for (size_t i = 0; ret && i < json_object_array_length(ret); i++) {
		json_object *e = json_object_array_get_idx(ret, i), *v, *ins, *img;
		if (json_object_object_get_ex(e, "device", &v) && strcmp(json_object_get_string(v), dev) == 0 &&
		    json_object_object_get_ex(e, "inserted", &ins) && json_object_object_get_ex(ins, "image", &img) &&
		    json_object_object_get_ex(img, "virtual-size", &v)) {
			*size = (uint64_t)json_object_get_int64(v);
			r = 0;
		}
	}
	json_object_put(ret);
	if (r < 0)
		return bfail(b, r, "QMP knows no drive %s", dev);
	return 0;
}

static int start_jobs(struct vmb *b)
{
	json_object *actions = json_object_new_array();
	for (size_t i = 0; i < b->n_disks; i++) {
		struct disk_src *s = &b->disks[i];
		char dev[64], node[64];
		snprintf(dev, sizeof(dev), "drive-%s", s->key);
		snprintf(node, sizeof(node), "pvecfs-bk-%s", s->key);
		json_object *data = json_object_new_object(), *a = json_object_new_object();
		json_object_object_add(data, "device", json_object_new_string(dev));
		json_object_object_add(data, "target", json_object_new_string(node));
		json_object_object_add(data, "sync", json_object_new_string("full"));
		json_object_object_add(data, "job-id", json_object_new_string(node));
		if (b->o->bwlimit_kib)
			json_object_object_add(data, "speed", json_object_new_int64((int64_t)b->o->bwlimit_kib * 1024));
		json_object_object_add(a, "type", json_object_new_string("blockdev-backup"));
		json_object_object_add(a, "data", data);
		json_object_array_add(actions, a);
	}
	json_object *args = json_object_new_object();
	json_object_object_add(args, "actions", actions);
	bool frozen = freeze_guest(b);
	int r = qmp_call(b, "transaction", args, NULL);
	if (frozen)
		thaw_guest(b);
	json_object_put(args);
	if (r == 0)
		blog(b, "INFO", "started %zu backup job(s) (point in time: now)", b->n_disks);
	return r;
}

static int wait_jobs(struct vmb *b)
{
	size_t done = 0;
	int64_t deadline = mono_ms() + BLOCK_JOB_TIMEOUT_MS;
	while (done < b->n_disks) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return bfail(b, -ETIMEDOUT, "backup jobs did not finish in time");
		int r = qmp_wait_event(b->qmp, NULL, left > 60000 ? 60000 : (int)left);
		if (r < 0)
			return bfail(b, r, "QMP connection lost while waiting for the backup jobs");
		struct qmp_event *ev;
		while (qmp_pop_event(b->qmp, &ev) == 1) {
			json_object *v;
			const char *dev = ev->data && json_object_object_get_ex(ev->data, "device", &v)
						  ? json_object_get_string(v)
						  : "";
			bool mine = strncmp(dev, "pvecfs-bk-", 10) == 0;
			if (mine && strcmp(ev->name, "BLOCK_JOB_COMPLETED") == 0) {
				if (json_object_object_get_ex(ev->data, "error", &v)) {
					r = bfail(b, -EIO, "backup job %s failed: %s", dev, json_object_get_string(v));
					qmp_event_free(ev);
					return r;
				}
				blog(b, "INFO", "backup job %s completed", dev);
				done++;
			} else if (mine && strcmp(ev->name, "BLOCK_JOB_CANCELLED") == 0) {
				qmp_event_free(ev);
				return bfail(b, -ECANCELED, "backup job %s was cancelled", dev);
			}
			qmp_event_free(ev);
		}
	}
	return 0;
}

static int snapshot_disks(struct vmb *b)
{
	int r;
	if ((r = connect_qmp(b)) < 0)
		return r;
	if (asprintf(&b->tmp_dir, "%s/.%s.tmp.d", b->o->dump_dir, b->stem) < 0)
		return -ENOMEM;
	if (mkdir(b->tmp_dir, 0700) < 0 && errno != EEXIST)
		return bfail(b, -errno, "cannot create %s: %s", b->tmp_dir, strerror(errno));
	size_t added = 0;
	for (; added < b->n_disks; added++) {
		struct disk_src *s = &b->disks[added];
		if ((r = drive_size(b, s->key, &s->size)) < 0 || (r = add_target(b, s)) < 0)
			break;
	}
	if (r == 0 && (r = start_jobs(b)) == 0)
		r = wait_jobs(b);
	for (size_t i = 0; i < added; i++)
		del_target(b, &b->disks[i]);
	if (r < 0)
		return r;
	for (size_t i = 0; i < b->n_disks; i++) {
		free(b->disks[i].path);
		b->disks[i].path = strdup(b->disks[i].tmp_copy);
		if (!b->disks[i].path)
			return -ENOMEM;
	}
	return 0;
}

/* ---- suspend and stop modes ---- */

static int suspend_vm(struct vmb *b)
{
	int r = connect_qmp(b);
	if (r == 0 && (r = qmp_call(b, "stop", NULL, NULL)) == 0) {
		b->paused = true;
		blog(b, "INFO", "VM paused for the backup");
	}
	return r;
}

static void resume_vm(struct vmb *b)
{
	if (!b->paused)
		return;
	if (qmp_call(b, "cont", NULL, NULL) == 0)
		blog(b, "INFO", "VM resumed");
	b->paused = false;
}

static int write_state(struct vmb *b, const char *state)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/nodes/%s/qemu-server/%u.state", b->o->root, b->o->node, b->o->vmid) < 0)
		return -ENOMEM;
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return bfail(b, -errno, "cannot write %s: %s", path, strerror(errno));
	size_t len = strlen(state);
	if (write(fd, state, len) != (ssize_t)len || close(TAKE_FD(fd)) < 0)
		return bfail(b, -EIO, "cannot write %s", path);
	return 0;
}

/* <run>/backup/stopped/<vmid>: exists while a stop-mode backup has the
 * VM stopped.  A backup daemon that dies in that window leaves it behind,
 * and the next start of the daemon writes `running` back
 * (vmbackup_recover_stopped): a crash must not keep a VM down. */
static int stop_marker_path(const char *run_dir, const char *name, char **out)
{
	return asprintf(out, "%s/backup/stopped%s%s", run_dir, name ? "/" : "", name ? name : "") < 0 ? -ENOMEM : 0;
}

static int set_stop_marker(struct vmb *b)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	char vmid[16];
	snprintf(vmid, sizeof(vmid), "%u", b->o->vmid);
	if (stop_marker_path(b->o->run_dir, NULL, &dir) < 0 || stop_marker_path(b->o->run_dir, vmid, &path) < 0)
		return -ENOMEM;
	_cleanup_free_ char *parent = g_path_get_dirname(dir);
	if ((mkdir(parent, 0755) < 0 && errno != EEXIST) || (mkdir(dir, 0755) < 0 && errno != EEXIST))
		return bfail(b, -errno, "cannot create %s: %s", dir, strerror(errno));
	_cleanup_free_ char *text = NULL;
	if (asprintf(&text, "%s\n", b->o->node) < 0)
		return -ENOMEM;
	if (!g_file_set_contents(path, text, -1, NULL))
		return bfail(b, -EIO, "cannot write %s", path);
	return 0;
}

static void clear_stop_marker(struct vmb *b)
{
	_cleanup_free_ char *path = NULL;
	char vmid[16];
	snprintf(vmid, sizeof(vmid), "%u", b->o->vmid);
	if (stop_marker_path(b->o->run_dir, vmid, &path) == 0)
		unlink(path);
}

static int stop_vm(struct vmb *b)
{
	int r = set_stop_marker(b);
	if (r < 0)
		return r;
	r = write_state(b, "stopped\n");
	if (r < 0) {
		clear_stop_marker(b);
		return r;
	}
	b->state_changed = true;
	blog(b, "INFO", "asked the qemu watcher to stop the VM (wrote stopped to %u.state)", b->o->vmid);
	unsigned limit = b->o->stop_timeout_s ? b->o->stop_timeout_s : 600;
	for (int64_t end = mono_ms() + (int64_t)limit * 1000; mono_ms() < end; usleep(200000))
		if (kill(b->pid, 0) < 0 && errno == ESRCH) {
			blog(b, "INFO", "VM stopped");
			return 0;
		}
	return bfail(b, -ETIMEDOUT, "VM %u did not stop within %u s", b->o->vmid, limit);
}

static void restart_vm(struct vmb *b)
{
	if (b->state_changed && write_state(b, "running\n") == 0) {
		blog(b, "INFO", "asked the qemu watcher to start the VM again (wrote running to %u.state)",
		     b->o->vmid);
		clear_stop_marker(b);
	}
	b->state_changed = false;
}

int vmbackup_recover_stopped(const char *root, const char *node, const char *run_dir,
			     void (*report)(void *userdata, unsigned vmid, int error), void *userdata)
{
	_cleanup_free_ char *dir = NULL;
	if (stop_marker_path(run_dir, NULL, &dir) < 0)
		return -ENOMEM;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		unsigned long vmid = strtoul(e->d_name, &end, 10);
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || *end || vmid > 999999999)
			continue;
		_cleanup_free_ char *marker = NULL, *state = NULL, *text = NULL;
		if (asprintf(&marker, "%s/%s", dir, e->d_name) < 0 ||
		    asprintf(&state, "%s/nodes/%s/qemu-server/%lu.state", root, node, vmid) < 0)
			break;
		int r = 0;
		/* Only a `stopped` we wrote is undone: a config gone or moved
		 * to another node, or a state someone changed since, is left. */
		if (g_file_get_contents(state, &text, NULL, NULL) && strcmp(text, "stopped\n") == 0 &&
		    !g_file_set_contents(state, "running\n", -1, NULL))
			r = -EIO;
		if (r == 0)
			unlink(marker);
		if (report)
			report(userdata, (unsigned)vmid, r);
		n++;
	}
	closedir(d);
	return n;
}

/* ---- the archive ---- */

static int copy_member(struct vmb *b, struct bkstream_out *out, struct disk_src *s)
{
	char name[64];
	snprintf(name, sizeof(name), "disks/%s.raw", s->key);
	_cleanup_close_ int fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bfail(b, -errno, "cannot open %s: %s", s->path, strerror(errno));
	int r = tar_write_header(out, name, s->size, b->o->when);
	if (r < 0)
		return bfail(b, r, "cannot write the archive: %s", strerror(-r));
	_cleanup_free_ char *buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	uint64_t left = s->size;
	while (left > 0 && r == 0) {
		size_t want = left > COPY_CHUNK ? COPY_CHUNK : (size_t)left;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = bfail(b, n < 0 ? -errno : -EPIPE, "reading %s: %s", s->path,
				  n < 0 ? strerror(errno) : "shorter than its size");
			break;
		}
		g_checksum_update(sum, (const guchar *)buf, (gssize)n);
		if ((r = bkstream_out_write(out, buf, (size_t)n)) < 0)
			r = bfail(b, r, "cannot write the archive: %s", strerror(-r));
		left -= (uint64_t)n;
		throttle(b, (size_t)n);
	}
	if (r == 0)
		r = tar_write_padding(out, s->size);
	snprintf(s->sha256, sizeof(s->sha256), "%s", g_checksum_get_string(sum));
	g_checksum_free(sum);
	if (r == 0) {
		b->res->bytes += s->size;
		blog(b, "INFO", "%s: %llu bytes, sha256 %s", name, (unsigned long long)s->size, s->sha256);
	}
	return r;
}

static int write_blob(struct bkstream_out *out, const char *name, const char *data, size_t len, time_t when)
{
	int r = tar_write_header(out, name, len, when);
	if (r == 0)
		r = bkstream_out_write(out, data, len);
	if (r == 0)
		r = tar_write_padding(out, len);
	return r;
}

static char *manifest_json(struct vmb *b)
{
	json_object *m = json_object_new_object(), *disks = json_object_new_array();
	const struct vmconf_view *v = vmconf_view(b->conf);
	gchar *conf_sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)b->conf_text, b->conf_len);
	json_object_object_add(m, "format", json_object_new_string("pvecfs-vm-backup-1"));
	json_object_object_add(m, "vmid", json_object_new_int64(b->o->vmid));
	json_object_object_add(m, "node", json_object_new_string(b->o->node));
	json_object_object_add(m, "time", json_object_new_int64(b->o->when));
	json_object_object_add(m, "mode", json_object_new_string(b->pid ? b->o->mode : "stopped"));
	json_object_object_add(m, "name", v->name ? json_object_new_string(v->name) : NULL);
	json_object_object_add(m, "config_size", json_object_new_int64((int64_t)b->conf_len));
	json_object_object_add(m, "config_sha256", json_object_new_string(conf_sum));
	g_free(conf_sum);
	for (size_t i = 0; i < b->n_disks; i++) {
		struct disk_src *s = &b->disks[i];
		json_object *d = json_object_new_object();
		char file[64];
		snprintf(file, sizeof(file), "disks/%s.raw", s->key);
		json_object_object_add(d, "key", json_object_new_string(s->key));
		json_object_object_add(d, "volume", json_object_new_string(s->volume));
		json_object_object_add(d, "file", json_object_new_string(file));
		json_object_object_add(d, "size", json_object_new_int64((int64_t)s->size));
		json_object_object_add(d, "sha256", json_object_new_string(s->sha256));
		json_object_array_add(disks, d);
	}
	json_object_object_add(m, "disks", disks);
	char *text = strdup(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY));
	json_object_put(m);
	return text;
}

static int write_archive(struct vmb *b)
{
	if (asprintf(&b->tmp_file, "%s/.%s.tmp", b->o->dump_dir, b->res->archive) < 0)
		return -ENOMEM;
	_cleanup_close_ int fd = open(b->tmp_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return bfail(b, -errno, "cannot create %s: %s", b->tmp_file, strerror(errno));
	_cleanup_(bkstream_out_freep) struct bkstream_out *out = NULL;
	int r = bkstream_out_open(fd, b->o->compress, &out);
	if (r < 0)
		return r;
	if ((r = write_blob(out, "qemu-server.conf", b->conf_text, b->conf_len, b->o->when)) < 0)
		return bfail(b, r, "cannot write the archive: %s", strerror(-r));
	for (size_t i = 0; i < b->n_disks; i++)
		if ((r = copy_member(b, out, &b->disks[i])) < 0)
			return r;
	_cleanup_free_ char *manifest = manifest_json(b);
	if (!manifest)
		return -ENOMEM;
	if ((r = write_blob(out, "manifest.json", manifest, strlen(manifest), b->o->when)) < 0 ||
	    (r = tar_write_end(out)) < 0 || (r = bkstream_out_finish(out)) < 0)
		return bfail(b, r, "cannot write the archive: %s", strerror(-r));
	if (fsync(fd) < 0)
		return bfail(b, -errno, "fsync %s: %s", b->tmp_file, strerror(errno));
	/* A VM removed while we copied (nothing locks its config against
	 * that here) gets no archive: a backup of a guest that no longer
	 * exists would be kept and pruned as if it still did. */
	_cleanup_free_ char *conf = NULL;
	if (asprintf(&conf, "%s/nodes/%s/qemu-server/%u.conf", b->o->root, b->o->node, b->o->vmid) < 0)
		return -ENOMEM;
	if (access(conf, F_OK) < 0 && errno == ENOENT)
		return bfail(b, -ENOENT, "VM %u was removed during the backup (%s is gone); no archive kept",
			     b->o->vmid, conf);
	_cleanup_free_ char *final = NULL;
	if (asprintf(&final, "%s/%s", b->o->dump_dir, b->res->archive) < 0)
		return -ENOMEM;
	if (rename(b->tmp_file, final) < 0)
		return bfail(b, -errno, "cannot rename to %s: %s", final, strerror(errno));
	free(b->tmp_file);
	b->tmp_file = NULL;
	return 0;
}

/* {{guestname}} {{vmid}} {{node}} substituted; the rest copied. */
static void write_notes(struct vmb *b)
{
	if (!b->o->notes_template || !*b->o->notes_template)
		return;
	const char *name = vmconf_view(b->conf)->name;
	char vmid[16];
	snprintf(vmid, sizeof(vmid), "%u", b->o->vmid);
	GString *s = g_string_new(NULL);
	for (const char *p = b->o->notes_template; *p;) {
		if (strncmp(p, "{{guestname}}", 13) == 0) {
			g_string_append(s, name ? name : vmid);
			p += 13;
		} else if (strncmp(p, "{{vmid}}", 8) == 0) {
			g_string_append(s, vmid);
			p += 8;
		} else if (strncmp(p, "{{node}}", 8) == 0) {
			g_string_append(s, b->o->node);
			p += 8;
		} else if (strncmp(p, "\\n", 2) == 0) {
			g_string_append_c(s, '\n');
			p += 2;
		} else {
			g_string_append_c(s, *p++);
		}
	}
	g_string_append_c(s, '\n');
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s.notes", b->o->dump_dir, b->res->archive) >= 0 &&
	    !g_file_set_contents(path, s->str, (gssize)s->len, NULL))
		blog(b, "WARN", "cannot write %s", path);
	g_string_free(s, TRUE);
}

/* ---- the whole backup ---- */

/* Temporaries of an earlier backup of this VM that died half-way
 * (.<archive>.tmp, .<stem>.tmp.d/): never renamed, so no listing saw them,
 * but they would fill the storage.  Only this node backs up this VM, and
 * one backup at a time, so whatever matches is stale. */
static void remove_stale_temporaries(struct vmb *b)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), ".vzdump-qemu-%u-", b->o->vmid);
	DIR *dir = opendir(b->o->dump_dir);
	if (!dir)
		return;
	struct dirent *e;
	while ((e = readdir(dir))) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		bool is_dir = len > 6 && strcmp(e->d_name + len - 6, ".tmp.d") == 0;
		if (!is_dir && !(len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0))
			continue;
		if (is_dir) {
			int fd = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			DIR *sub = fd >= 0 ? fdopendir(fd) : NULL;
			if (!sub && fd >= 0)
				close(fd);
			for (struct dirent *f; sub && (f = readdir(sub));)
				if (strcmp(f->d_name, ".") && strcmp(f->d_name, ".."))
					unlinkat(dirfd(sub), f->d_name, 0);
			if (sub)
				closedir(sub);
		}
		if (unlinkat(dirfd(dir), e->d_name, is_dir ? AT_REMOVEDIR : 0) == 0)
			blog(b, "WARN", "removed %s, left by an earlier backup that did not finish", e->d_name);
	}
	closedir(dir);
}

static int open_log(struct vmb *b)
{
	_cleanup_free_ char *path = NULL;
	snprintf(b->res->log, sizeof(b->res->log), "%s.log", b->stem);
	if (asprintf(&path, "%s/%s", b->o->dump_dir, b->res->log) < 0)
		return -ENOMEM;
	b->log = fopen(path, "we");
	if (!b->log)
		return bfail(b, -errno, "cannot create %s: %s", path, strerror(errno));
	return 0;
}

static int read_disks(struct vmb *b)
{
	find_qemu(b);
	b->res->was_running = b->pid != 0;
	if (!b->pid) {
		blog(b, "INFO", "VM %u is not running: copying its volumes", b->o->vmid);
		return 0;
	}
	blog(b, "INFO", "VM %u is running (pid %d), mode %s", b->o->vmid, (int)b->pid, b->o->mode);
	if (strcmp(b->o->mode, "suspend") == 0)
		return suspend_vm(b);
	if (strcmp(b->o->mode, "stop") == 0)
		return stop_vm(b);
	return snapshot_disks(b);
}

static void cleanup_vmb(struct vmb *b)
{
	resume_vm(b);
	restart_vm(b);
	qmp_close(b->qmp);
	for (size_t i = 0; i < b->n_disks; i++) {
		if (b->disks[i].tmp_copy)
			unlink(b->disks[i].tmp_copy);
		free(b->disks[i].tmp_copy);
		free(b->disks[i].path);
	}
	if (b->tmp_dir)
		rmdir(b->tmp_dir);
	if (b->tmp_file)
		unlink(b->tmp_file);
	free(b->tmp_dir);
	free(b->tmp_file);
	if (b->conf)
		vmconf_free(b->conf);
	g_free(b->conf_text);
	if (b->log)
		fclose(b->log);
}

int vmbackup_run(const struct vmbackup_opts *opts, struct vmbackup_result *res)
{
	*res = (struct vmbackup_result){ 0 };
	struct vmb b = { .o = opts, .res = res };
	vmbackup_stem(opts->vmid, opts->when, b.stem, sizeof(b.stem));
	snprintf(res->archive, sizeof(res->archive), "%s.vma%s", b.stem, bk_compress_suffix(opts->compress));
	int64_t start = mono_ms();
	int r = open_log(&b);
	if (r == 0) {
		blog(&b, "INFO", "starting backup of VM %u on node %s into %s/%s", opts->vmid, opts->node,
		     opts->dump_dir, res->archive);
		remove_stale_temporaries(&b);
		r = load_config(&b);
	}
	if (r == 0)
		r = resolve_disks(&b);
	if (r == 0)
		r = read_disks(&b);
	/* Block jobs made copies: the guest may run on while we archive. */
	if (r == 0 && b.tmp_dir)
		qmp_close(TAKE_PTR(b.qmp));
	if (r == 0)
		r = write_archive(&b);
	resume_vm(&b);
	restart_vm(&b);
	if (r == 0) {
		write_notes(&b);
		blog(&b, "INFO", "backup of VM %u finished: %s, %llu bytes in %.1f s", opts->vmid, res->archive,
		     (unsigned long long)res->bytes, (double)(mono_ms() - start) / 1000.0);
	} else {
		res->archive[0] = '\0';
		if (!res->error[0])
			snprintf(res->error, sizeof(res->error), "%s", strerror(-r));
		blog(&b, "ERROR", "backup of VM %u failed: %s", opts->vmid, res->error);
	}
	cleanup_vmb(&b);
	return r;
}

/* ---- verification ---- */

struct member {
	char name[TAR_NAME_MAX + 2];
	uint64_t size;
	char sha256[65];
};

static int extract_member(struct bkstream_in *in, int dirfd, struct member *m, char **text)
{
	/* members are "x" or "disks/x": make the directory on demand */
	if (strncmp(m->name, "disks/", 6) == 0 && mkdirat(dirfd, "disks", 0700) < 0 && errno != EEXIST)
		return -errno;
	if (strstr(m->name, "..") || m->name[0] == '/')
		return -EBADMSG;
	_cleanup_close_ int fd = openat(dirfd, m->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	GString *keep = text ? g_string_new(NULL) : NULL;
	_cleanup_free_ char *buf = malloc(COPY_CHUNK);
	int r = buf ? 0 : -ENOMEM;
	for (uint64_t left = m->size; r == 0 && left > 0;) {
		size_t want = left > COPY_CHUNK ? COPY_CHUNK : (size_t)left;
		if ((r = bkstream_in_read_full(in, buf, want)) < 0)
			break;
		g_checksum_update(sum, (const guchar *)buf, (gssize)want);
		if (keep && keep->len < (1u << 20))
			g_string_append_len(keep, buf, (gssize)want);
		if (write(fd, buf, want) != (ssize_t)want)
			r = -EIO;
		left -= want;
	}
	if (r == 0)
		r = tar_skip_padding(in, m->size);
	snprintf(m->sha256, sizeof(m->sha256), "%s", g_checksum_get_string(sum));
	g_checksum_free(sum);
	if (keep)
		*text = g_string_free(keep, r < 0);
	return r;
}

static void remove_tree(const char *dir)
{
	_cleanup_free_ char *disks = NULL;
	if (asprintf(&disks, "%s/disks", dir) < 0)
		return;
	const char *dirs[] = { disks, dir };
	for (size_t i = 0; i < 2; i++) {
		DIR *d = opendir(dirs[i]);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
		rmdir(dirs[i]);
	}
}

__attribute__((format(printf, 3, 4))) static int verr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static const struct member *find_member(const struct member *m, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].name, name) == 0)
			return &m[i];
	return NULL;
}

static int check_manifest(const char *text, const struct member *m, size_t n, FILE *out, char *err, size_t errlen)
{
	json_object *man = text ? json_tokener_parse(text) : NULL, *v, *disks;
	if (!man)
		return verr(err, errlen, "the archive has no readable manifest.json");
	int r = 0;
	const struct member *conf = find_member(m, n, "qemu-server.conf");
	if (!conf)
		r = verr(err, errlen, "the archive has no qemu-server.conf");
	else if (!json_object_object_get_ex(man, "config_sha256", &v) || strcmp(json_object_get_string(v), conf->sha256))
		r = verr(err, errlen, "qemu-server.conf: checksum %s does not match the manifest", conf->sha256);
	else
		fprintf(out, "ok qemu-server.conf %llu sha256=%s\n", (unsigned long long)conf->size, conf->sha256);
	size_t n_disks = json_object_object_get_ex(man, "disks", &disks) ? json_object_array_length(disks) : 0;
	for (size_t i = 0; r == 0 && i < n_disks; i++) {
		json_object *d = json_object_array_get_idx(disks, i), *file, *sha, *size;
		if (!json_object_object_get_ex(d, "file", &file) || !json_object_object_get_ex(d, "sha256", &sha) ||
		    !json_object_object_get_ex(d, "size", &size)) {
			r = verr(err, errlen, "manifest.json: disk entry %zu is incomplete", i);
			break;
		}
		const struct member *dm = find_member(m, n, json_object_get_string(file));
		if (!dm)
			r = verr(err, errlen, "%s: listed in the manifest but missing", json_object_get_string(file));
		else if ((int64_t)dm->size != json_object_get_int64(size))
			r = verr(err, errlen, "%s: %llu bytes, the manifest says %lld", dm->name,
				 (unsigned long long)dm->size, (long long)json_object_get_int64(size));
		else if (strcmp(dm->sha256, json_object_get_string(sha)) != 0)
			r = verr(err, errlen, "%s: checksum %s does not match the manifest (%s)", dm->name, dm->sha256,
				 json_object_get_string(sha));
		else
			fprintf(out, "ok %s %llu sha256=%s\n", dm->name, (unsigned long long)dm->size, dm->sha256);
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		if (strncmp(m[i].name, "disks/", 6) == 0) {
			bool listed = false;
			for (size_t j = 0; j < n_disks; j++) {
				json_object *file;
				if (json_object_object_get_ex(json_object_array_get_idx(disks, j), "file", &file) &&
				    strcmp(json_object_get_string(file), m[i].name) == 0)
					listed = true;
			}
			if (!listed)
				r = verr(err, errlen, "%s: not listed in the manifest", m[i].name);
		}
	if (r == 0)
		fprintf(out, "verified: %zu disk image(s) match the manifest\n", n_disks);
	json_object_put(man);
	return r;
}

int vmbackup_verify(const char *archive, const char *tmp_base, bool keep, FILE *out, char *err, size_t errlen)
{
	err[0] = '\0';
	_cleanup_close_ int fd = open(archive, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		snprintf(err, errlen, "cannot open %s: %s", archive, strerror(errno));
		return r;
	}
	if (!tmp_base)
		tmp_base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/pvecfs-restore-test.XXXXXX", tmp_base) < 0)
		return -ENOMEM;
	if (!mkdtemp(dir)) {
		int r = -errno;
		snprintf(err, errlen, "cannot create a directory under %s: %s", tmp_base, strerror(errno));
		return r;
	}
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_(bkstream_in_freep) struct bkstream_in *in = NULL;
	int r = dfd < 0 ? -errno : bkstream_in_open(fd, &in);
	struct member members[MAX_DISKS + 2];
	size_t n = 0;
	_cleanup_free_ char *manifest = NULL;
	while (r == 0) {
		struct member m = { 0 };
		int h = tar_read_header(in, m.name, &m.size);
		if (h <= 0) {
			if (h < 0)
				r = verr(err, errlen, "the archive is damaged or truncated after %zu member(s): %s", n,
					 strerror(-h));
			break;
		}
		if (n == ARRAY_SIZE(members) || find_member(members, n, m.name)) {
			r = verr(err, errlen, "unexpected member %s", m.name);
			break;
		}
		bool is_manifest = strcmp(m.name, "manifest.json") == 0;
		int x = extract_member(in, dfd, &m, is_manifest ? &manifest : NULL);
		if (x < 0) {
			if (x == -EPIPE || x == -EBADMSG)
				r = verr(err, errlen, "the archive is damaged or truncated inside %s", m.name);
			else
				r = verr(err, errlen, "%s: cannot unpack: %s", m.name, strerror(-x));
			break;
		}
		members[n++] = m;
	}
	if (r == 0)
		r = check_manifest(manifest, members, n, out, err, errlen);
	if (keep)
		fprintf(out, "unpacked into %s\n", dir);
	else
		remove_tree(dir);
	return r;
}
