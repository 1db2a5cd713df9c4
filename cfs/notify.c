/* notify.c - see notify.h.
 *
 * The observer records, per applied change, the inodes whose attributes or
 * content changed and the (directory, name) entries that appeared or
 * vanished; the thread turns them into fuse_lowlevel_notify_inval_inode /
 * _inval_entry calls.  ENOENT from the kernel (nothing cached) is normal. */
#include "notify.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"

enum inval_kind { INVAL_INODE, INVAL_ENTRY };

struct inval {
	struct inval *next;
	enum inval_kind kind;
	uint64_t inode;  /* INVAL_INODE: the inode; INVAL_ENTRY: the directory */
	char name[];     /* INVAL_ENTRY */
};

struct notify {
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* work queued or stop */
	pthread_cond_t drained;   /* queue empty and thread idle */
	struct inval *head, *tail;
	bool busy, stopping, started;
	pthread_t thread;
	struct fuse_session *se;
	struct tree *tree;
};

int notify_new(struct tree *tree, struct notify **out)
{
	struct notify *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	pthread_cond_init(&n->drained, NULL);
	n->tree = tree;
	*out = n;
	return 0;
}

static void enqueue(struct notify *n, enum inval_kind kind, uint64_t inode, const char *name)
{
	size_t len = name ? strlen(name) + 1 : 1;
	struct inval *i = malloc(sizeof(*i) + len);
	if (!i)
		return; /* the cache timeout bounds the staleness */
	i->next = NULL;
	i->kind = kind;
	i->inode = inode;
	memcpy(i->name, name ? name : "", len);
	if (n->tail)
		n->tail->next = i;
	else
		n->head = i;
	n->tail = i;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static void notify_applied(void *ctx, const struct change *c, const struct tree_result *res)
{
	struct notify *n = ctx;
	pthread_mutex_lock(&n->lock);
	if (!n->started || n->stopping) {
		pthread_mutex_unlock(&n->lock);
		return;
	}
	for (int i = 0; i < res->n_dirty; i++)
		enqueue(n, INVAL_INODE, res->dirty[i], NULL);
	for (int i = 0; i < res->n_removed; i++)
		enqueue(n, INVAL_INODE, res->removed[i], NULL);
	switch (c->op) {
	case CHANGE_CREATE:
	case CHANGE_MKDIR:
	case CHANGE_UNLINK:
	case CHANGE_RMDIR:
		enqueue(n, INVAL_ENTRY, res->parent, base_name(c->path));
		break;
	case CHANGE_RENAME:
		enqueue(n, INVAL_ENTRY, res->old_parent, base_name(c->path));
		enqueue(n, INVAL_ENTRY, res->parent, base_name(c->to));
		break;
	default:
		break;
	}
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

/* After a tree replacement everything may differ: drop the whole root's
 * entries by invalidating every directory we know is cached is not
 * possible, so invalidate the root inode; the short entry timeout of
 * children bounds the rest (the sync module queues precise invalidations). */
static void notify_reset(void *ctx)
{
	struct notify *n = ctx;
	pthread_mutex_lock(&n->lock);
	if (n->started && !n->stopping) {
		enqueue(n, INVAL_INODE, FUSE_ROOT_ID, NULL);
		pthread_cond_signal(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);
}

struct apply_observer notify_observer(struct notify *n)
{
	return (struct apply_observer){ .applied = notify_applied, .reset = notify_reset, .ctx = n };
}

static void perform(struct notify *n, const struct inval *i)
{
	int r;
	if (i->kind == INVAL_INODE)
		r = fuse_lowlevel_notify_inval_inode(n->se, i->inode, 0, 0);
	else
		r = fuse_lowlevel_notify_inval_entry(n->se, i->inode, i->name, strlen(i->name));
	if (r < 0 && r != -ENOENT)
		log_debug("cache invalidation of inode %llu %s failed: %s",
			  (unsigned long long)i->inode, i->name, strerror(-r));
}

static void *notify_thread(void *arg)
{
	struct notify *n = arg;
	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->head && !n->stopping) {
			n->busy = false;
			pthread_cond_broadcast(&n->drained);
			pthread_cond_wait(&n->cond, &n->lock);
		}
		if (!n->head && n->stopping)
			break;
		struct inval *i = n->head;
		n->head = i->next;
		if (!n->head)
			n->tail = NULL;
		n->busy = true;
		pthread_mutex_unlock(&n->lock);
		if (!n->stopping)
			perform(n, i);
		free(i);
		pthread_mutex_lock(&n->lock);
	}
	n->busy = false;
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
	while (n->started && (n->head || n->busy))
		pthread_cond_wait(&n->drained, &n->lock);
	pthread_mutex_unlock(&n->lock);
}

void notify_stop(struct notify *n)
{
	pthread_mutex_lock(&n->lock);
	if (!n->started || n->stopping) {
		pthread_mutex_unlock(&n->lock);
		return;
	}
	n->stopping = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	notify_stop(n);
	while (n->head) {
		struct inval *i = n->head;
		n->head = i->next;
		free(i);
	}
	pthread_cond_destroy(&n->cond);
	pthread_cond_destroy(&n->drained);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
