/* events.c - see events.h.
 *
 * Invariants (under `lock`): ring[] holds `count` events starting at
 * `head`, revisions strictly increasing; base <= every rev <= last; the log
 * is complete for (base, last].  Evicting the oldest event moves base to its
 * revision.  The observer runs under the apply lock, so it only copies the
 * paths into the ring and pokes the reader; formatting and filtering happen
 * in the reader's thread. */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "tree.h"

struct events {
	pthread_mutex_t lock;
	struct event *ring;
	size_t capacity, head, count;
	uint64_t base, last;
	uint64_t generation;
	void (*wake)(void *ctx);
	void *wake_ctx;
	struct tree *tree; /* where a reset takes the new version from */
};

const char *event_op_name(enum event_op op)
{
	switch (op) {
	case EVENT_CREATE: return "create";
	case EVENT_WRITE: return "write";
	case EVENT_MKDIR: return "mkdir";
	case EVENT_RMDIR: return "rmdir";
	case EVENT_UNLINK: return "unlink";
	case EVENT_RENAME: return "rename";
	case EVENT_UTIME: return "utime";
	case EVENT_RESYNC: return "resync";
	}
	return "unknown";
}

static enum event_op op_of_change(enum change_op op)
{
	switch (op) {
	case CHANGE_CREATE: return EVENT_CREATE;
	case CHANGE_WRITE: return EVENT_WRITE;
	case CHANGE_MKDIR: return EVENT_MKDIR;
	case CHANGE_UNLINK: return EVENT_UNLINK;
	case CHANGE_RMDIR: return EVENT_RMDIR;
	case CHANGE_RENAME: return EVENT_RENAME;
	case CHANGE_MTIME: return EVENT_UTIME;
	}
	return EVENT_RESYNC; /* an unknown change: readers must look again */
}

void event_clear(struct event *ev)
{
	free(ev->path);
	free(ev->old_path);
	ev->path = ev->old_path = NULL;
}

int events_new(size_t capacity, uint64_t version, struct events **out)
{
	if (capacity == 0)
		return -EINVAL;
	struct events *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ring = calloc(capacity, sizeof(*e->ring));
	if (!e->ring) {
		free(e);
		return -ENOMEM;
	}
	pthread_mutex_init(&e->lock, NULL);
	e->capacity = capacity;
	e->base = e->last = version;
	*out = e;
	return 0;
}

static void drop_all(struct events *e)
{
	for (size_t i = 0; i < e->count; i++)
		event_clear(&e->ring[(e->head + i) % e->capacity]);
	e->head = e->count = 0;
}

void events_free(struct events *e)
{
	if (!e)
		return;
	drop_all(e);
	free(e->ring);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

void events_set_wakeup(struct events *e, void (*wake)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&e->lock);
	e->wake = wake;
	e->wake_ctx = ctx;
	pthread_mutex_unlock(&e->lock);
}

/* Called with the lock held, so that events_set_wakeup(e, NULL, NULL)
 * guarantees no later call into the old reader.  wake() must not block. */
static void wake_reader_locked(struct events *e)
{
	if (e->wake)
		e->wake(e->wake_ctx);
}

/* Appends under the lock; evicts the oldest event when full. */
static void append_locked(struct events *e, struct event *ev)
{
	if (e->count == e->capacity) {
		struct event *oldest = &e->ring[e->head];
		e->base = oldest->rev;
		event_clear(oldest);
		e->head = (e->head + 1) % e->capacity;
		e->count--;
	}
	e->ring[(e->head + e->count) % e->capacity] = *ev;
	e->count++;
	e->last = ev->rev;
}

void events_record(struct events *e, const struct change *c, const struct tree_result *res)
{
	bool rename = c->op == CHANGE_RENAME;
	struct event ev = {
		.rev = res->version,
		.op = op_of_change(c->op),
		.nodeid = c->writer,
		.time = c->mtime,
		.path = strdup(rename ? c->to : c->path),
		.old_path = rename ? strdup(c->path) : NULL,
	};
	pthread_mutex_lock(&e->lock);
	if (!ev.path || (rename && !ev.old_path) || ev.rev <= e->last) {
		/* Out of memory (or a revision that does not follow): we cannot
		 * describe this change, so nobody may resume across it. */
		log_warn("event log: cannot record revision %llu; subscribers will resync",
			 (unsigned long long)ev.rev);
		event_clear(&ev);
		drop_all(e);
		e->generation++;
		if (res->version > e->last)
			e->last = res->version;
		e->base = e->last;
	} else {
		append_locked(e, &ev);
	}
	wake_reader_locked(e);
	pthread_mutex_unlock(&e->lock);
}

void events_reset(struct events *e, uint64_t version)
{
	pthread_mutex_lock(&e->lock);
	drop_all(e);
	e->generation++;
	e->base = e->last = version;
	wake_reader_locked(e);
	pthread_mutex_unlock(&e->lock);
}

static void observer_applied(void *ctx, const struct change *c, const struct tree_result *res)
{
	events_record(ctx, c, res);
}

/* After a replacement the tree's version is whatever the sync brought: the
 * log restarts there. */
static void observer_reset(void *ctx)
{
	struct events *e = ctx;
	uint64_t v = e->tree ? tree_version(e->tree) : events_last(e);
	events_reset(e, v);
}

struct apply_observer events_observer(struct events *e, struct tree *tree)
{
	e->tree = tree;
	return (struct apply_observer){ .applied = observer_applied, .reset = observer_reset, .ctx = e };
}

uint64_t events_last(struct events *e)
{
	pthread_mutex_lock(&e->lock);
	uint64_t v = e->last;
	pthread_mutex_unlock(&e->lock);
	return v;
}

uint64_t events_base(struct events *e)
{
	pthread_mutex_lock(&e->lock);
	uint64_t v = e->base;
	pthread_mutex_unlock(&e->lock);
	return v;
}

struct events_cursor events_cursor_live(struct events *e)
{
	pthread_mutex_lock(&e->lock);
	struct events_cursor c = { .rev = e->last, .generation = e->generation };
	pthread_mutex_unlock(&e->lock);
	return c;
}

struct events_cursor events_cursor_from(struct events *e, uint64_t rev)
{
	pthread_mutex_lock(&e->lock);
	struct events_cursor c = { .rev = rev, .generation = e->generation };
	pthread_mutex_unlock(&e->lock);
	return c;
}

/* Index (0..count) of the first event with rev > after. */
static size_t first_after(struct events *e, uint64_t after)
{
	size_t lo = 0, hi = e->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e->ring[(e->head + mid) % e->capacity].rev <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int copy_event(struct event *dst, const struct event *src)
{
	*dst = *src;
	dst->path = strdup(src->path);
	dst->old_path = src->old_path ? strdup(src->old_path) : NULL;
	if (!dst->path || (src->old_path && !dst->old_path)) {
		event_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

static bool cursor_lost_locked(struct events *e, const struct events_cursor *cur)
{
	return cur->generation != e->generation || cur->rev < e->base || cur->rev > e->last;
}

bool events_cursor_lost(struct events *e, const struct events_cursor *cur)
{
	pthread_mutex_lock(&e->lock);
	bool lost = cursor_lost_locked(e, cur);
	pthread_mutex_unlock(&e->lock);
	return lost;
}

int events_read(struct events *e, struct events_cursor *cur, struct event *out, size_t max)
{
	if (max == 0)
		return 0;
	pthread_mutex_lock(&e->lock);
	if (cursor_lost_locked(e, cur)) {
		out[0] = (struct event){ .op = EVENT_RESYNC, .rev = e->last };
		cur->rev = e->last;
		cur->generation = e->generation;
		pthread_mutex_unlock(&e->lock);
		return 1;
	}
	size_t n = 0;
	for (size_t i = first_after(e, cur->rev); i < e->count && n < max; i++, n++) {
		if (copy_event(&out[n], &e->ring[(e->head + i) % e->capacity]) < 0) {
			while (n > 0)
				event_clear(&out[--n]);
			pthread_mutex_unlock(&e->lock);
			return -ENOMEM;
		}
	}
	if (n > 0)
		cur->rev = out[n - 1].rev;
	pthread_mutex_unlock(&e->lock);
	return (int)n;
}
