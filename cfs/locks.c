/* locks.c - see locks.h.  A hash table path -> (version, first seen on the
 * monotonic clock), maintained by the apply observer. */
#include "locks.h"

#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lock_seen {
	uint64_t version;
	double seen; /* CLOCK_MONOTONIC seconds */
};

struct locks {
	pthread_mutex_t lock;
	GHashTable *seen; /* path -> struct lock_seen */
	unsigned timeout;
	struct tree *tree; /* for seeding after a reset */
};

static double monotonic_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int locks_new(unsigned timeout_seconds, struct locks **out)
{
	struct locks *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	l->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	l->timeout = timeout_seconds;
	*out = l;
	return 0;
}

void locks_free(struct locks *l)
{
	if (!l)
		return;
	g_hash_table_destroy(l->seen);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

bool locks_is_lock_path(const char *path)
{
	size_t n = strlen(LOCKS_DIR);
	return strncmp(path, LOCKS_DIR "/", n + 1) == 0 && path[n + 1] && !strchr(path + n + 1, '/');
}

static void record(struct locks *l, const char *path, uint64_t version)
{
	struct lock_seen *s = g_new(struct lock_seen, 1);
	s->version = version;
	s->seen = monotonic_now();
	g_hash_table_replace(l->seen, g_strdup(path), s);
}

static void locks_applied(void *ctx, const struct change *c, const struct tree_result *res)
{
	struct locks *l = ctx;
	bool from = locks_is_lock_path(c->path);
	bool to = c->op == CHANGE_RENAME && locks_is_lock_path(c->to);
	if (!from && !to)
		return;
	pthread_mutex_lock(&l->lock);
	switch (c->op) {
	case CHANGE_MKDIR:
	case CHANGE_MTIME:
		record(l, c->path, res->version);
		break;
	case CHANGE_RMDIR:
		g_hash_table_remove(l->seen, c->path);
		break;
	case CHANGE_RENAME:
		g_hash_table_remove(l->seen, c->path);
		if (to)
			record(l, c->to, res->version);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&l->lock);
}

static int seed_one(void *ctx, const char *name, const struct tree_attr *attr)
{
	struct locks *l = ctx;
	char path[512];
	snprintf(path, sizeof(path), LOCKS_DIR "/%s", name);
	record(l, path, attr->version);
	return 0;
}

void locks_seed(struct locks *l, struct tree *t)
{
	struct tree_attr dir;
	pthread_mutex_lock(&l->lock);
	l->tree = t;
	g_hash_table_remove_all(l->seen);
	if (tree_resolve(t, LOCKS_DIR, &dir) == 0)
		tree_list(t, dir.inode, seed_one, l);
	pthread_mutex_unlock(&l->lock);
}

static void locks_reset(void *ctx)
{
	struct locks *l = ctx;
	if (l->tree)
		locks_seed(l, l->tree);
}

struct apply_observer locks_observer(struct locks *l)
{
	return (struct apply_observer){ .applied = locks_applied, .reset = locks_reset, .ctx = l };
}

bool locks_expired(struct locks *l, const char *path, uint64_t version)
{
	pthread_mutex_lock(&l->lock);
	struct lock_seen *s = g_hash_table_lookup(l->seen, path);
	bool expired;
	if (!s || s->version != version)
		expired = false; /* not seen at this version yet: its clock starts now */
	else
		expired = monotonic_now() - s->seen >= l->timeout;
	if (!s || s->version != version)
		record(l, path, version);
	pthread_mutex_unlock(&l->lock);
	return expired;
}
