/* nodestatus.c - see nodestatus.h.
 *
 * Two levels of GHashTable (node -> key -> value), all strings owned by the
 * tables; one mutex, since writers (the API thread, the cluster thread) and
 * readers (the API thread) are few and the critical sections short.
 * Iteration sorts names so listings are stable. */
#include "nodestatus.h"

#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct nodestatus {
	pthread_mutex_t lock;
	GHashTable *nodes; /* char *node -> GHashTable (char *key -> char *value) */
};

int nodestatus_new(struct nodestatus **out)
{
	struct nodestatus *ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	pthread_mutex_init(&ns->lock, NULL);
	ns->nodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					  (GDestroyNotify)g_hash_table_destroy);
	*out = ns;
	return 0;
}

void nodestatus_free(struct nodestatus *ns)
{
	if (!ns)
		return;
	g_hash_table_destroy(ns->nodes);
	pthread_mutex_destroy(&ns->lock);
	free(ns);
}

static bool valid_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int nodestatus_check(const char *key, const char *value)
{
	if (!key || !*key || !valid_text(key))
		return -EINVAL;
	if (strlen(key) > NODESTATUS_KEY_MAX)
		return -ENAMETOOLONG;
	if (value && strlen(value) > NODESTATUS_VALUE_MAX)
		return -EFBIG;
	return 0;
}

const char *nodestatus_strerror(int r)
{
	switch (r) {
	case -EINVAL: return "invalid key: it must be non-empty text without control characters";
	case -ENAMETOOLONG: return "key too long: at most 256 bytes";
	case -EFBIG: return "value too large: at most 65536 bytes";
	case -ENOSPC: return "too many keys: at most 4096 per node";
	case -ENOENT: return "no such key";
	case -ENOMEM: return "out of memory";
	}
	return "node status error";
}

static bool valid_node(const char *node)
{
	return node && *node && strlen(node) <= NODESTATUS_NODE_MAX && valid_text(node);
}

int nodestatus_apply_set(struct nodestatus *ns, const char *node, const char *key, const char *value)
{
	if (!valid_node(node))
		return -EINVAL;
	int r = nodestatus_check(key, value);
	if (r < 0)
		return r;
	pthread_mutex_lock(&ns->lock);
	GHashTable *keys = g_hash_table_lookup(ns->nodes, node);
	if (!value) {
		r = keys && g_hash_table_remove(keys, key) ? 0 : -ENOENT;
		if (keys && g_hash_table_size(keys) == 0)
			g_hash_table_remove(ns->nodes, node);
	} else if (keys && !g_hash_table_contains(keys, key) &&
		   g_hash_table_size(keys) >= NODESTATUS_KEYS_MAX) {
		r = -ENOSPC;
	} else {
		if (!keys) {
			keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
			g_hash_table_insert(ns->nodes, g_strdup(node), keys);
		}
		g_hash_table_insert(keys, g_strdup(key), g_strdup(value));
	}
	pthread_mutex_unlock(&ns->lock);
	return r;
}

void nodestatus_drop_node(struct nodestatus *ns, const char *node)
{
	pthread_mutex_lock(&ns->lock);
	g_hash_table_remove(ns->nodes, node);
	pthread_mutex_unlock(&ns->lock);
}

int nodestatus_get(struct nodestatus *ns, const char *node, const char *key, char **value)
{
	pthread_mutex_lock(&ns->lock);
	GHashTable *keys = g_hash_table_lookup(ns->nodes, node);
	const char *v = keys ? g_hash_table_lookup(keys, key) : NULL;
	char *copy = v ? strdup(v) : NULL;
	pthread_mutex_unlock(&ns->lock);
	if (!v)
		return -ENOENT;
	if (!copy)
		return -ENOMEM;
	*value = copy;
	return 0;
}

size_t nodestatus_count(struct nodestatus *ns, const char *node)
{
	pthread_mutex_lock(&ns->lock);
	GHashTable *keys = g_hash_table_lookup(ns->nodes, node);
	size_t n = keys ? g_hash_table_size(keys) : 0;
	pthread_mutex_unlock(&ns->lock);
	return n;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(a, b);
}

static int foreach_key(GHashTable *keys, const char *node, const char *key,
		       nodestatus_cb cb, void *ctx)
{
	if (key) {
		const char *v = g_hash_table_lookup(keys, key);
		return v ? cb(ctx, node, key, v) : 0;
	}
	GList *names = g_list_sort(g_hash_table_get_keys(keys), compare_names);
	int r = 0;
	for (GList *l = names; l && r == 0; l = l->next)
		r = cb(ctx, node, l->data, g_hash_table_lookup(keys, l->data));
	g_list_free(names);
	return r;
}

int nodestatus_foreach(struct nodestatus *ns, const char *node, const char *key,
		       nodestatus_cb cb, void *ctx)
{
	int r = 0;
	pthread_mutex_lock(&ns->lock);
	if (node) {
		GHashTable *keys = g_hash_table_lookup(ns->nodes, node);
		if (keys)
			r = foreach_key(keys, node, key, cb, ctx);
	} else {
		GList *names = g_list_sort(g_hash_table_get_keys(ns->nodes), compare_names);
		for (GList *l = names; l && r == 0; l = l->next)
			r = foreach_key(g_hash_table_lookup(ns->nodes, l->data), l->data, key, cb, ctx);
		g_list_free(names);
	}
	pthread_mutex_unlock(&ns->lock);
	return r;
}
