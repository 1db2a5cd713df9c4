/* apply.c - see apply.h.
 *
 * Invariant: after apply_batch() returns, the tree in RAM equals what
 * config.db holds.  On a store error the batch's in-memory effects are undone
 * by reloading the tree from the database (rare, and simpler and more
 * obviously correct than undo logs), and the applier is marked failed. */
#include "apply.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"

#define APPLY_MAX_OBSERVERS 8

struct apply {
	pthread_mutex_t lock;
	struct tree *tree;
	struct store *store;
	bool failed;
	struct apply_observer observers[APPLY_MAX_OBSERVERS];
	int n_observers;
};

int apply_new(struct tree *tree, struct store *store, struct apply **out)
{
	struct apply *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->tree = tree;
	a->store = store;
	*out = a;
	return 0;
}

void apply_free(struct apply *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int apply_add_observer(struct apply *a, const struct apply_observer *o)
{
	if (a->n_observers == APPLY_MAX_OBSERVERS)
		return -ENOSPC;
	a->observers[a->n_observers++] = *o;
	return 0;
}

bool apply_failed(struct apply *a)
{
	pthread_mutex_lock(&a->lock);
	bool failed = a->failed;
	pthread_mutex_unlock(&a->lock);
	return failed;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static int persist_inode(struct apply *a, uint64_t inode)
{
	struct tree_attr attr;
	int r = tree_getattr(a->tree, inode, &attr);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = tree_path(a->tree, inode);
	if (!path)
		return -ENOENT;
	struct tree_blob *blob = NULL;
	if (attr.type == TREE_FILE) {
		r = tree_get_blob(a->tree, inode, &blob);
		if (r < 0)
			return r;
	}
	r = store_put(a->store, &attr, inode == TREE_ROOT_INODE ? "" : base_name(path),
		      blob ? blob->data : NULL, blob ? blob->size : 0);
	tree_blob_unref(blob);
	return r;
}

static int persist_result(struct apply *a, const struct tree_result *res)
{
	for (int i = 0; i < res->n_removed; i++) {
		int r = store_delete(a->store, res->removed[i]);
		if (r < 0)
			return r;
	}
	for (int i = 0; i < res->n_dirty; i++) {
		int r = persist_inode(a, res->dirty[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Tells observers the tree was replaced; `old` holds the previous content. */
static void notify_replaced(struct apply *a, struct tree *old)
{
	for (int i = 0; i < a->n_observers; i++) {
		if (a->observers[i].replaced)
			a->observers[i].replaced(a->observers[i].ctx, old);
		if (a->observers[i].reset)
			a->observers[i].reset(a->observers[i].ctx);
	}
}

/* Undo in-memory effects of a batch whose commit failed. */
static void reload_after_store_error(struct apply *a)
{
	struct tree *fresh = NULL;
	_cleanup_free_ char *why = NULL;
	a->failed = true;
	if (tree_new(tree_get_limits(a->tree), &fresh) < 0)
		return;
	if (store_load(a->store, fresh, &why) < 0) {
		log_error("cannot reload the tree after a database error: %s; writes stay disabled",
			  why ? why : "unknown");
		tree_free(fresh);
		return;
	}
	tree_swap(a->tree, fresh);
	notify_replaced(a, fresh);
	tree_free(fresh);
}

int apply_batch(struct apply *a, const struct change *changes, size_t n, int *results)
{
	_cleanup_free_ struct tree_result *res = calloc(n ? n : 1, sizeof(*res));
	if (!res)
		return -ENOMEM;

	pthread_mutex_lock(&a->lock);
	int r = a->failed ? -EIO : store_begin(a->store);
	size_t applied = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		results[i] = tree_apply(a->tree, &changes[i], &res[i]);
		if (results[i] < 0 || res[i].version == 0) /* failed, or a no-op rename */
			continue;
		applied++;
		r = persist_result(a, &res[i]);
	}
	if (r == 0 && applied > 0)
		r = store_commit(a->store, tree_version(a->tree));
	else if (r == 0)
		store_rollback(a->store); /* nothing to write */
	if (r < 0) {
		if (!a->failed) {
			log_error("database write failed (%s): writes are disabled until resync",
				  strerror(-r));
			store_rollback(a->store);
			if (applied > 0)
				reload_after_store_error(a);
			else
				a->failed = true;
		}
		for (size_t i = 0; i < n; i++)
			results[i] = -EIO;
		pthread_mutex_unlock(&a->lock);
		return -EIO;
	}
	for (size_t i = 0; i < n; i++) {
		if (results[i] < 0 || res[i].version == 0)
			continue;
		for (int k = 0; k < a->n_observers; k++)
			a->observers[k].applied(a->observers[k].ctx, &changes[i], &res[i]);
	}
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int apply_replace_tree(struct apply *a, struct tree *fresh)
{
	pthread_mutex_lock(&a->lock);
	int r = store_replace_all(a->store, fresh);
	if (r == 0) {
		tree_swap(a->tree, fresh);
		a->failed = false;
		notify_replaced(a, fresh);
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}
