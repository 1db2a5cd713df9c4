/* events.h - the event log: one event per applied change, in apply order.
 *
 * The log is an apply observer.  Every applied change appends an event whose
 * revision is the global version the change got (identical on every node),
 * so a subscriber can resume from the last revision it saw, after its own
 * restart or the daemon's.  The log is a bounded ring in RAM: it covers the
 * revisions (base, last] completely and nothing before `base`.
 *
 * Readers (the socket API) keep a cursor (struct events_cursor).  A cursor
 * that points before `base`, after `last`, or that predates a reset (the
 * whole tree was replaced by a sync: nobody can know what changed) reads a
 * resync instead of events: the reader must relist everything, then it
 * continues from the revision the resync names.  Events are never invented
 * and never silently skipped. */
#ifndef PVECFS_EVENTS_H
#define PVECFS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"

enum event_op {
	EVENT_CREATE = 1,
	EVENT_WRITE,
	EVENT_MKDIR,
	EVENT_RMDIR,
	EVENT_UNLINK,
	EVENT_RENAME,
	EVENT_UTIME,
	EVENT_RESYNC, /* not stored: what a reader gets when it cannot be served */
};

struct event {
	uint64_t rev;
	enum event_op op;
	uint32_t nodeid; /* the originating node (change->writer) */
	int64_t time;    /* change->mtime, seconds */
	char *path;      /* the path after the change (rename: the new path) */
	char *old_path;  /* rename: the old path; else NULL */
};

/* The API name of an operation ("create", ..., "utime", "resync"). */
const char *event_op_name(enum event_op op);

struct events;

/* A log of at most `capacity` events that starts (empty) at `version`, the
 * tree's current version. */
int events_new(size_t capacity, uint64_t version, struct events **out);
void events_free(struct events *e);

/* The observer to register with apply_add_observer(); on a reset the log
 * restarts at tree_version(tree). */
struct apply_observer events_observer(struct events *e, struct tree *tree);

/* Called (with the log's lock held) after events were appended or the
 * log was reset: wakes the reader thread.  Must not block. */
void events_set_wakeup(struct events *e, void (*wake)(void *ctx), void *ctx);

/* What the observer does; public for tests and for cluster code that has
 * changes without an apply. */
void events_record(struct events *e, const struct change *c, const struct tree_result *res);
/* The tree was replaced: every reader must resync; the log restarts empty
 * at `version`. */
void events_reset(struct events *e, uint64_t version);

/* The newest revision known to the log (the tree version at the last
 * append or reset). */
uint64_t events_last(struct events *e);
/* The oldest revision a reader can resume from. */
uint64_t events_base(struct events *e);

struct events_cursor {
	uint64_t rev;        /* the last revision the reader has seen */
	uint64_t generation; /* the log's reset generation the cursor belongs to */
};

/* A cursor for a reader that wants only what comes after now. */
struct events_cursor events_cursor_live(struct events *e);
/* A cursor for a reader resuming after revision `rev`; the first read
 * gives a resync if `rev` is no longer (or not yet) covered by the log. */
struct events_cursor events_cursor_from(struct events *e, uint64_t rev);

/* Whether the next read from this cursor would give a resync. */
bool events_cursor_lost(struct events *e, const struct events_cursor *cur);

/* Copies up to `max` events after the cursor into out[] (deep copies: free
 * with event_clear()) and advances the cursor.  If the cursor cannot be
 * served, out[0] is a single EVENT_RESYNC whose rev is the revision to
 * continue from, and the cursor moves there.  Returns the number of events
 * (0: nothing new) or -ENOMEM. */
int events_read(struct events *e, struct events_cursor *cur, struct event *out, size_t max);

void event_clear(struct event *ev);

#endif
