/* notify.c - see notify.h.
 *
 * The observer turns each applied change into work items: inode and entry
 * invalidations, then (for a change from another node) one replay item.
 * After a state sync replaced the whole tree it invalidates every inode and
 * entry of the old and the new tree and replays the difference (by inode:
 * new inodes are creations, vanished ones removals, moved ones renames,
 * rewritten files writes).  ENOENT from an invalidation (nothing cached) is
 * normal.  Entry invalidations take the directory's lock in the kernel, so
 * they are only done for changes the kernel did not make itself. */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfs.h"
#include "cleanup.h"
#include "log.h"

enum work_kind { WORK_INVAL_INODE, WORK_INVAL_ENTRY, WORK_REPLAY };

struct work {
	struct work *next;
	enum work_kind kind;
	uint64_t inode;       /* INVAL_INODE: the inode; INVAL_ENTRY: the directory */
	char *name;           /* INVAL_ENTRY */
	/* WORK_REPLAY: what the change did, as the FUSE handlers need it */
	enum change_op op;
	struct tree_attr attr; /* the created/removed/moved/written inode */
	uint64_t parent, old_parent, replaced;
	char *base, *old_base; /* names in parent / old_parent */
	char *path, *to;       /* mount-relative paths for the syscall */
	int64_t mtime;
};

struct notify {
	struct cfs *cfs;
	bool replay;
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* work queued or stop */
	pthread_cond_t drained; /* queue empty and thread idle (or thread gone) */
	struct work *head, *tail;
	bool busy, stopping, started, finished;
	pthread_t thread;
	pid_t thread_tid;
	struct fuse_session *se;
	const struct work *current; /* the replay in progress */
};

static void work_free(struct work *w)
{
	if (!w)
		return;
	free(w->name);
	free(w->base);
	free(w->old_base);
	free(w->path);
	free(w->to);
	free(w);
}

int notify_new(struct cfs *cfs, bool replay, struct notify **out)
{
	struct notify *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	pthread_cond_init(&n->drained, NULL);
	n->cfs = cfs;
	n->replay = replay;
	*out = n;
	return 0;
}

/* ---- queueing (lock held) ---- */

static void push(struct notify *n, struct work *w)
{
	if (n->tail)
		n->tail->next = w;
	else
		n->head = w;
	n->tail = w;
}

static void push_inval_inode(struct notify *n, uint64_t inode)
{
	struct work *w = calloc(1, sizeof(*w));
	if (!w)
		return; /* the cache timeout bounds the staleness */
	w->kind = WORK_INVAL_INODE;
	w->inode = inode;
	push(n, w);
}

static void push_inval_entry(struct notify *n, uint64_t dir, const char *name)
{
	struct work *w = calloc(1, sizeof(*w));
	if (!w || !(w->name = strdup(name))) {
		free(w);
		return;
	}
	w->kind = WORK_INVAL_ENTRY;
	w->inode = dir;
	push(n, w);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static bool accepting(struct notify *n)
{
	return n->started && !n->stopping;
}

/* A replay item for a change whose tree_result is res; attr describes the
 * inode as the replay must present it. */
static void push_replay(struct notify *n, enum change_op op, const struct tree_attr *attr,
			uint64_t parent, uint64_t old_parent, uint64_t replaced,
			const char *path, const char *to, int64_t mtime)
{
	struct work *w = calloc(1, sizeof(*w));
	if (!w)
		return;
	w->kind = WORK_REPLAY;
	w->op = op;
	w->attr = *attr;
	w->parent = parent;
	w->old_parent = old_parent;
	w->replaced = replaced;
	w->mtime = mtime;
	w->path = strdup(path);
	w->to = to ? strdup(to) : NULL;
	w->base = strdup(base_name(to ? to : path));
	w->old_base = strdup(base_name(path));
	if (!w->path || (to && !w->to) || !w->base || !w->old_base) {
		work_free(w);
		return;
	}
	push(n, w);
}

/* ---- the observer ---- */

static void queue_replay_of_change(struct notify *n, const struct change *c, const struct tree_result *res)
{
	struct tree_attr attr = { .inode = res->inode, .parent = res->parent, .version = res->version,
				  .mtime = c->mtime, .writer = c->writer };
	switch (c->op) {
	case CHANGE_CREATE:
	case CHANGE_WRITE:
	case CHANGE_UNLINK:
		attr.type = TREE_FILE;
		break;
	case CHANGE_MKDIR:
	case CHANGE_RMDIR:
		attr.type = TREE_DIR;
		break;
	default: {
		struct tree_attr now;
		attr.type = tree_getattr(n->cfs->tree, res->inode, &now) == 0 ? now.type : TREE_FILE;
		attr.size = now.size;
	}
	}
	push_replay(n, c->op, &attr, res->parent, res->old_parent, res->n_removed ? res->removed[0] : 0,
		    c->path, c->to, c->mtime);
}

/* What the kernel must forget after a change made elsewhere: attributes of
 * every touched inode and the entries that appeared or vanished. */
static void queue_remote_invalidations(struct notify *n, const struct change *c, const struct tree_result *res)
{
	for (int i = 0; i < res->n_dirty; i++)
		push_inval_inode(n, res->dirty[i]);
	for (int i = 0; i < res->n_removed; i++)
		push_inval_inode(n, res->removed[i]);
	switch (c->op) {
	case CHANGE_CREATE:
	case CHANGE_MKDIR:
	case CHANGE_UNLINK:
	case CHANGE_RMDIR:
		push_inval_entry(n, res->parent, base_name(c->path));
		break;
	case CHANGE_RENAME:
		push_inval_entry(n, res->old_parent, base_name(c->path));
		push_inval_entry(n, res->parent, base_name(c->to));
		break;
	default:
		break;
	}
}

static void notify_applied(void *ctx, const struct change *c, const struct tree_result *res)
{
	struct notify *n = ctx;
	pthread_mutex_lock(&n->lock);
	if (!accepting(n)) {
		pthread_mutex_unlock(&n->lock);
		return;
	}
	/* A change made through this mount: the kernel updated its own entries
	 * and directory attributes (fs.c drops a file's attributes itself when a
	 * commit at close gives it a new mtime, and changes the daemon makes on
	 * its own are announced with notify_forget()). */
	bool remote = c->writer != n->cfs->node_id;
	bool queued = n->head != NULL;
	if (remote)
		queue_remote_invalidations(n, c, res);
	if (n->replay && remote)
		queue_replay_of_change(n, c, res);
	if (!queued && n->head)
		pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

struct sync_diff {
	struct notify *n;
	struct tree *other;  /* the tree to compare with */
	struct tree *self;   /* the tree being walked */
	bool walking_new;
};

/* Every inode and entry of either tree may be cached: invalidate them all,
 * and replay what differs. */
static int diff_node(void *ctx, const struct tree_attr *a, const char *name, const struct tree_blob *blob)
{
	struct sync_diff *d = ctx;
	struct notify *n = d->n;
	push_inval_inode(n, a->inode);
	push_inval_entry(n, a->parent, name);
	if (!n->replay)
		return 0;
	struct tree_attr o;
	bool in_other = tree_getattr(d->other, a->inode, &o) == 0;
	_cleanup_free_ char *path = tree_path(d->self, a->inode);
	if (!path)
		return 0;
	if (d->walking_new) {
		if (!in_other) {
			push_replay(n, a->type == TREE_DIR ? CHANGE_MKDIR : CHANGE_CREATE, a, a->parent, 0, 0,
				    path, NULL, a->mtime);
		} else if (o.parent != a->parent || (o.version != a->version && a->type == TREE_DIR)) {
			_cleanup_free_ char *old_path = tree_path(d->other, a->inode);
			if (old_path && strcmp(old_path, path) != 0)
				push_replay(n, CHANGE_RENAME, a, a->parent, o.parent, 0, old_path, path, a->mtime);
		} else if (o.version != a->version && a->type == TREE_FILE) {
			push_replay(n, CHANGE_WRITE, a, a->parent, 0, 0, path, NULL, a->mtime);
		}
	} else if (!in_other) {
		push_replay(n, a->type == TREE_DIR ? CHANGE_RMDIR : CHANGE_UNLINK, a, a->parent, 0, 0,
			    path, NULL, a->mtime);
	}
	return 0;
}

static void notify_replaced(void *ctx, struct tree *old)
{
	struct notify *n = ctx;
	pthread_mutex_lock(&n->lock);
	if (accepting(n)) {
		struct sync_diff d = { .n = n, .other = old, .self = n->cfs->tree, .walking_new = true };
		push_inval_inode(n, FUSE_ROOT_ID);
		tree_walk(n->cfs->tree, diff_node, &d);
		d = (struct sync_diff){ .n = n, .other = n->cfs->tree, .self = old, .walking_new = false };
		tree_walk(old, diff_node, &d);
		pthread_cond_signal(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);
}

void notify_forget(struct notify *n, const char *path)
{
	_cleanup_free_ char *parent = strdup(path);
	if (!parent)
		return;
	char *slash = strrchr(parent, '/');
	if (!slash)
		return;
	const char *name = path + (slash - parent) + 1;
	if (slash == parent)
		slash[1] = '\0'; /* "/" */
	else
		*slash = '\0';
	struct tree_attr dir;
	if (tree_resolve(n->cfs->tree, parent, &dir) < 0)
		return;
	pthread_mutex_lock(&n->lock);
	if (accepting(n)) {
		bool queued = n->head != NULL;
		push_inval_inode(n, dir.inode);
		push_inval_entry(n, dir.inode, name);
		if (!queued)
			pthread_cond_signal(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);
}

struct apply_observer notify_observer(struct notify *n)
{
	return (struct apply_observer){ .applied = notify_applied, .replaced = notify_replaced, .ctx = n };
}

/* ---- the FUSE side of a replay ---- */

bool notify_is_replayer(struct notify *n, pid_t pid)
{
	return n && n->replay && pid == __atomic_load_n(&n->thread_tid, __ATOMIC_RELAXED) && pid != 0;
}

int notify_replay_lookup(struct notify *n, uint64_t parent, const char *name, struct tree_attr *attr)
{
	int answer = -1;
	pthread_mutex_lock(&n->lock);
	const struct work *w = n->current;
	if (w) {
		bool at_new = parent == w->parent && strcmp(name, w->base) == 0;
		bool at_old = parent == w->old_parent && strcmp(name, w->old_base) == 0;
		switch (w->op) {
		case CHANGE_CREATE:
		case CHANGE_MKDIR:
			if (at_new)
				answer = 0;
			break;
		case CHANGE_UNLINK:
		case CHANGE_RMDIR:
			if (at_new) {
				*attr = w->attr;
				answer = 1;
			}
			break;
		case CHANGE_RENAME:
			if (at_old) {
				*attr = w->attr;
				answer = 1;
			} else if (at_new) {
				answer = 0;
				if (w->replaced) {
					*attr = w->attr;
					attr->inode = w->replaced;
					answer = 1;
				}
			}
			break;
		default:
			break;
		}
	}
	pthread_mutex_unlock(&n->lock);
	return answer;
}

int notify_replay_attr(struct notify *n, struct tree_attr *attr)
{
	int r = -ENOENT;
	pthread_mutex_lock(&n->lock);
	if (n->current) {
		*attr = n->current->attr;
		r = 0;
	}
	pthread_mutex_unlock(&n->lock);
	return r;
}

/* ---- the thread ---- */

static int replay_syscall(struct notify *n, const struct work *w)
{
	char path[8192], to[8192];
	snprintf(path, sizeof(path), "%s%s", n->cfs->opt.mount, w->path);
	if (w->to)
		snprintf(to, sizeof(to), "%s%s", n->cfs->opt.mount, w->to);
	int fd;
	switch (w->op) {
	case CHANGE_CREATE:
	case CHANGE_WRITE:
		/* A creation is opened read-only: its content comes with the write
		 * that follows it, whose replay is the one IN_CLOSE_WRITE a local
		 * `echo x > f` would have produced. */
		fd = open(path, (w->op == CHANGE_CREATE ? O_RDONLY | O_CREAT : O_WRONLY) | O_CLOEXEC, 0640);
		if (fd < 0)
			return -errno;
		close(fd);
		return 0;
	case CHANGE_MKDIR:
		return mkdir(path, 0755) < 0 ? -errno : 0;
	case CHANGE_UNLINK:
		return unlink(path) < 0 ? -errno : 0;
	case CHANGE_RMDIR:
		return rmdir(path) < 0 ? -errno : 0;
	case CHANGE_RENAME:
		return rename(path, to) < 0 ? -errno : 0;
	case CHANGE_MTIME: {
		/* both times, as touch does: the kernel reports IN_ATTRIB */
		struct timespec ts[2] = { { .tv_sec = w->mtime }, { .tv_sec = w->mtime } };
		return utimensat(AT_FDCWD, path, ts, 0) < 0 ? -errno : 0;
	}
	}
	return -EINVAL;
}

static void perform(struct notify *n, struct work *w)
{
	int r = 0;
	switch (w->kind) {
	case WORK_INVAL_INODE:
		/* Attributes only: dropping pages would wait for page locks held
		 * by reads that wait for us (a deadlock if the daemon is killed).
		 * Page caches are dropped at the next open instead: fs.c grants
		 * keep_cache only if the version did not change. */
		r = fuse_lowlevel_notify_inval_inode(n->se, w->inode, -1, 0);
		break;
	case WORK_INVAL_ENTRY:
		r = fuse_lowlevel_notify_inval_entry(n->se, w->inode, w->name, strlen(w->name));
		break;
	case WORK_REPLAY:
		pthread_mutex_lock(&n->lock);
		n->current = w;
		pthread_mutex_unlock(&n->lock);
		r = replay_syscall(n, w);
		pthread_mutex_lock(&n->lock);
		n->current = NULL;
		pthread_mutex_unlock(&n->lock);
		if (r < 0)
			log_debug("inotify replay of %s %s: %s", change_op_name(w->op), w->path, strerror(-r));
		return;
	}
	if (r < 0 && r != -ENOENT)
		log_debug("cache invalidation of inode %llu %s failed: %s",
			  (unsigned long long)w->inode, w->name ? w->name : "", strerror(-r));
}

static void *notify_thread(void *arg)
{
	struct notify *n = arg;
	__atomic_store_n(&n->thread_tid, gettid(), __ATOMIC_RELAXED);
	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->head && !n->stopping) {
			n->busy = false;
			pthread_cond_broadcast(&n->drained);
			pthread_cond_wait(&n->cond, &n->lock);
		}
		if (n->stopping)
			break;
		struct work *w = n->head;
		n->head = w->next;
		if (!n->head)
			n->tail = NULL;
		n->busy = true;
		pthread_mutex_unlock(&n->lock);
		perform(n, w);
		work_free(w);
		pthread_mutex_lock(&n->lock);
	}
	n->busy = false;
	n->finished = true;
	pthread_cond_broadcast(&n->drained);
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int notify_start(struct notify *n, struct fuse_session *se)
{
	n->se = se;
	n->started = true;
	int r = pthread_create(&n->thread, NULL, notify_thread, n);
	if (r != 0) {
		n->started = false;
		return -r;
	}
	return 0;
}

void notify_flush(struct notify *n)
{
	pthread_mutex_lock(&n->lock);
	while (n->started && !n->finished && (n->head || n->busy))
		pthread_cond_wait(&n->drained, &n->lock);
	pthread_mutex_unlock(&n->lock);
}

bool notify_stop(struct notify *n)
{
	pthread_mutex_lock(&n->lock);
	if (!n->started || n->stopping) {
		bool done = !n->started || n->finished;
		pthread_mutex_unlock(&n->lock);
		return done;
	}
	n->stopping = true;
	pthread_cond_signal(&n->cond);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 3;
	while (!n->finished && pthread_cond_timedwait(&n->drained, &n->lock, &deadline) != ETIMEDOUT)
		;
	bool finished = n->finished;
	pthread_mutex_unlock(&n->lock);
	if (finished)
		pthread_join(n->thread, NULL);
	else
		log_warn("the notify thread is stuck on the mount; leaving it to process exit");
	return finished;
}

void notify_free(struct notify *n)
{
	if (!n || !notify_stop(n))
		return;
	while (n->head) {
		struct work *w = n->head;
		n->head = w->next;
		work_free(w);
	}
	pthread_cond_destroy(&n->cond);
	pthread_cond_destroy(&n->drained);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
