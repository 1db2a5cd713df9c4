/* clusterlog.c - see clusterlog.h.
 *
 * Invariant (under `lock`): entries[0..count) sorted ascending by (time,
 * node, uid), no two with the same (node, uid).  Inserting is a binary search
 * and a memmove: with ~1000 entries that is cheaper and simpler than a tree.
 * Entries are fixed-size so the array owns everything. */
#include "clusterlog.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct clusterlog {
	pthread_mutex_t lock;
	struct clusterlog_entry *entries;
	size_t capacity, count;
	uint64_t last_uid;
};

int clusterlog_new(size_t capacity, struct clusterlog **out)
{
	if (capacity == 0)
		return -EINVAL;
	struct clusterlog *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->entries = calloc(capacity, sizeof(*cl->entries));
	if (!cl->entries) {
		free(cl);
		return -ENOMEM;
	}
	pthread_mutex_init(&cl->lock, NULL);
	cl->capacity = capacity;
	*out = cl;
	return 0;
}

void clusterlog_free(struct clusterlog *cl)
{
	if (!cl)
		return;
	pthread_mutex_destroy(&cl->lock);
	free(cl->entries);
	free(cl);
}

void clusterlog_entry_set(struct clusterlog_entry *e, const char *node, const char *user,
			  const char *tag, const char *msg)
{
	snprintf(e->node, sizeof(e->node), "%s", node ? node : "");
	snprintf(e->user, sizeof(e->user), "%s", user ? user : "");
	snprintf(e->tag, sizeof(e->tag), "%s", tag ? tag : "");
	snprintf(e->msg, sizeof(e->msg), "%s", msg ? msg : "");
}

uint64_t clusterlog_new_uid(struct clusterlog *cl)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t now = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	pthread_mutex_lock(&cl->lock);
	cl->last_uid = now > cl->last_uid ? now : cl->last_uid + 1;
	uint64_t uid = cl->last_uid;
	pthread_mutex_unlock(&cl->lock);
	return uid;
}

static int compare(const struct clusterlog_entry *a, const struct clusterlog_entry *b)
{
	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	int r = strcmp(a->node, b->node);
	if (r)
		return r < 0 ? -1 : 1;
	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	return 0;
}

static bool is_duplicate(struct clusterlog *cl, const struct clusterlog_entry *e)
{
	for (size_t i = 0; i < cl->count; i++)
		if (cl->entries[i].uid == e->uid && strcmp(cl->entries[i].node, e->node) == 0)
			return true;
	return false;
}

int clusterlog_apply(struct clusterlog *cl, const struct clusterlog_entry *e)
{
	if (!e->node[0] || !e->tag[0] || e->pri < 0 || e->pri > 7)
		return -EINVAL;
	pthread_mutex_lock(&cl->lock);
	if (is_duplicate(cl, e)) {
		pthread_mutex_unlock(&cl->lock);
		return 1;
	}
	size_t lo = 0, hi = cl->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (compare(&cl->entries[mid], e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (cl->count == cl->capacity) {
		if (lo == 0) { /* older than everything kept: it would go first */
			pthread_mutex_unlock(&cl->lock);
			return 0;
		}
		memmove(&cl->entries[0], &cl->entries[1], (lo - 1) * sizeof(*e));
		lo--;
	} else {
		memmove(&cl->entries[lo + 1], &cl->entries[lo], (cl->count - lo) * sizeof(*e));
		cl->count++;
	}
	cl->entries[lo] = *e;
	pthread_mutex_unlock(&cl->lock);
	return 0;
}

int clusterlog_foreach_of_node(struct clusterlog *cl, const char *node, size_t max,
			       clusterlog_cb cb, void *ctx)
{
	pthread_mutex_lock(&cl->lock);
	size_t n = 0;
	struct clusterlog_entry *copy = malloc((max ? max : 1) * sizeof(*copy));
	if (!copy) {
		pthread_mutex_unlock(&cl->lock);
		return -ENOMEM;
	}
	for (size_t i = cl->count; i-- > 0 && n < max;)
		if (strcmp(cl->entries[i].node, node) == 0)
			copy[n++] = cl->entries[i];
	pthread_mutex_unlock(&cl->lock);
	int r = 0;
	while (n-- > 0 && r == 0) /* oldest first */
		r = cb(ctx, &copy[n]);
	free(copy);
	return r;
}

size_t clusterlog_count(struct clusterlog *cl)
{
	pthread_mutex_lock(&cl->lock);
	size_t n = cl->count;
	pthread_mutex_unlock(&cl->lock);
	return n;
}

static json_object *entry_json(const struct clusterlog_entry *e)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "uid", json_object_new_uint64(e->uid));
	json_object_object_add(o, "time", json_object_new_int64(e->time));
	json_object_object_add(o, "pri", json_object_new_int(e->pri));
	json_object_object_add(o, "tag", json_object_new_string(e->tag));
	json_object_object_add(o, "pid", json_object_new_int64(e->pid));
	json_object_object_add(o, "node", json_object_new_string(e->node));
	json_object_object_add(o, "user", json_object_new_string(e->user));
	json_object_object_add(o, "msg", json_object_new_string(e->msg));
	return o;
}

char *clusterlog_json(struct clusterlog *cl, size_t limit)
{
	json_object *root = json_object_new_object();
	json_object *data = json_object_new_array();
	pthread_mutex_lock(&cl->lock);
	size_t n = limit && limit < cl->count ? limit : cl->count;
	for (size_t i = 0; i < n; i++)
		json_object_array_add(data, entry_json(&cl->entries[cl->count - 1 - i]));
	pthread_mutex_unlock(&cl->lock);
	json_object_object_add(root, "data", data);
	const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = NULL;
	if (asprintf(&out, "%s\n", s) < 0)
		out = NULL;
	json_object_put(root);
	return out;
}
