/* watchloop.h - the loop every watcher daemon shares (libwatchloop.a).
 *
 * A watcher is level-triggered (DESIGN.md rule 7): an event from pvecfs only
 * says "look again at this".  The loop owns everything around that:
 *
 *   - the connection to the socket API (api.sock): connect, subscribe to the
 *     watcher's path prefixes, reconnect with exponential backoff (0.1 s ..
 *     5 s) while the daemon is down or restarting;
 *   - the last revision handled, saved in a state file after every pass that
 *     left nothing dirty, so a restarted watcher subscribes from there and
 *     learns what changed while it was down;
 *   - the dirty set: each event path is turned into a key by the watcher's
 *     key_of callback (e.g. "100" for nodes/n1/qemu-server/100.conf), or
 *     means "everything"; bursts are coalesced (debounce, default 50 ms,
 *     never more than 1 s behind a steady stream);
 *   - full passes: after every (re)connect, after a `resync` event and
 *     periodically (default 60 s).  The first pass after a connect also
 *     lists the keys whose events were replayed from the saved revision, so
 *     a change made while the watcher was down is handled exactly once;
 *   - the watcher's own triggers: fds to poll (QMP sockets...) and delayed
 *     marks (restart backoff);
 *   - dry-run (watch_action), structured key=value logs to stderr, status
 *     publishing (nodestatus_set with a JSON value, republished after a
 *     reconnect), the cluster log, and a clean exit on SIGTERM/SIGINT: the
 *     current action finishes, the revision is saved, watch_run returns 0.
 *
 * A reconcile that returns a negative errno keeps its keys dirty; they are
 * retried with a backoff (1 s .. 30 s) and the saved revision does not move
 * past them.  Everything runs in one thread; callbacks may block (a VM stop
 * takes seconds) - signals wait until they return. */
#ifndef PVECFS_WATCHLOOP_H
#define PVECFS_WATCHLOOP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

struct watch_ctx;

/* What one reconcile pass must look at. */
struct watch_pass {
	bool all;                 /* look at everything (keys may still list what changed) */
	const char *const *keys;  /* the dirty keys, each once */
	size_t n_keys;
	uint64_t rev;             /* the newest revision the pass covers */
	bool first;               /* first pass after a (re)connect or at start */
};

/* Maps an event path ("/nodes/n1/qemu-server/100.conf", relative to the
 * mount, starting with '/') to a key.  Returns 1 with key filled, 0 to ignore
 * the path, 2 for "everything is dirty".  NULL callback: every event marks
 * everything. */
typedef int (*watch_key_fn)(void *userdata, const char *path, char *key, size_t size);
/* Makes reality match the files for pass->keys (or everything).  0, or a
 * negative errno to retry the same keys later. */
typedef int (*watch_reconcile_fn)(struct watch_ctx *ctx, const struct watch_pass *pass, void *userdata);
/* Called when a watched fd is ready (revents from poll). */
typedef void (*watch_fd_fn)(struct watch_ctx *ctx, int fd, short revents, void *userdata);

struct watch_options {
	const char *name;            /* "qemu": the watcher= field of logs, cluster-log tag */
	const char *root;            /* the mount; default /etc/pve */
	const char *socket;          /* NULL: $PVECFS_API, else /run/pvecfs/api.sock */
	const char *state_file;      /* NULL: nothing is saved, every start is a full pass */
	const char *const *prefixes; /* subscribed path prefixes; n_prefixes 0: everything */
	size_t n_prefixes;
	unsigned resync_interval_ms; /* 0: 60000 */
	unsigned debounce_ms;        /* 0: 50 */
	bool dry_run;
	bool debug;                  /* log level=debug lines too */
	watch_key_fn key_of;
	watch_reconcile_fn reconcile;
	void *userdata;
};

/* ---- running ---- */

int watch_new(const struct watch_options *opts, struct watch_ctx **out);
void watch_free(struct watch_ctx *ctx);
static inline void watch_freep(struct watch_ctx **ctx)
{
	watch_free(*ctx);
}
/* Runs until SIGTERM/SIGINT (returns 0) or a fatal error (negative errno).
 * Blocks SIGTERM and SIGINT in the calling thread. */
int watch_run(struct watch_ctx *ctx);
/* Whether a stop was requested (checks pending signals): a long reconcile
 * may end early between keys; the keys it skipped stay dirty. */
bool watch_should_stop(struct watch_ctx *ctx);

const char *watch_root(const struct watch_ctx *ctx);
const char *watch_name(const struct watch_ctx *ctx);
bool watch_dry_run(const struct watch_ctx *ctx);

/* ---- the watcher's own triggers ---- */

/* Marks key (NULL: everything) dirty now / after delay_ms. */
void watch_mark_dirty(struct watch_ctx *ctx, const char *key);
void watch_mark_dirty_after(struct watch_ctx *ctx, const char *key, unsigned delay_ms);
/* Polls fd for `events` and calls cb; one registration per fd.  Removing
 * from inside a callback is allowed.  -EEXIST, -ENOMEM. */
int watch_add_fd(struct watch_ctx *ctx, int fd, short events, watch_fd_fn cb, void *userdata);
void watch_remove_fd(struct watch_ctx *ctx, int fd);

/* ---- side effects ---- */

/* Call before each side effect.  Dry-run: logs "dry-run: would <what>" and
 * returns false (do not act); else returns true. */
bool watch_action(struct watch_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A log line: ts=... level=... watcher=<name> <fields>, where fields is
 * already key=value text (use watch_kv_append to build it safely). */
void watch_log(struct watch_ctx *ctx, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Publishes value (a JSON object, consumed) under key in this node's status
 * store; unchanged values are not resent; all are resent after a reconnect.
 * Not connected: kept and sent on connect (returns 0).  Dry-run: logged
 * only.  value NULL: delete. */
int watch_status_set(struct watch_ctx *ctx, const char *key, json_object *value);
/* Appends to the cluster log with tag = the watcher's name (dry-run: logged
 * only).  -ENOTCONN when the daemon is not reachable. */
int watch_cluster_log(struct watch_ctx *ctx, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Any other API call on the watcher's connection (see api_client_call). */
int watch_api_call(struct watch_ctx *ctx, const char *call, json_object *args, json_object **result);

/* This host's name up to the first dot: a watcher's default node name. */
void watch_short_hostname(char *buf, size_t size);

/* Reads a whole file (at most 64 MiB): its length, or a negative errno. */
ssize_t watch_read_file(const char *path, char **text);

/* ---- building blocks, public for tests ---- */

/* Exponential backoff: first `min_ms`, doubling, at most `max_ms`. */
struct watch_backoff {
	unsigned min_ms, max_ms, next_ms;
};
void watch_backoff_init(struct watch_backoff *b, unsigned min_ms, unsigned max_ms);
unsigned watch_backoff_next(struct watch_backoff *b); /* the delay to wait now */
void watch_backoff_reset(struct watch_backoff *b);

/* When a dirty set first marked at first_ms and last marked at last_ms is
 * due: last + debounce, but never later than first + max_delay. */
int64_t watch_debounce_due(int64_t first_ms, int64_t last_ms, unsigned debounce_ms, unsigned max_delay_ms);

/* State file: "revision=N\n", written atomically (temp file + rename).
 * Load: 0 and *rev, -ENOENT (no file), -EBADMSG (not such a file). */
int watch_state_load(const char *path, uint64_t *rev);
int watch_state_save(const char *path, uint64_t rev);

/* Appends " key=value" to buf (len: its current length, updated), quoting
 * the value with "..." and \" \\ \n escapes if it is empty or holds a space,
 * '"', '=', '\\' or a control character.  Truncates safely. */
void watch_kv_append(char *buf, size_t size, size_t *len, const char *key, const char *value);
/* The whole line without newline: "ts=<RFC3339 UTC, ms> level=<l>
 * watcher=<name> <fields>". */
void watch_format_line(char *buf, size_t size, int64_t epoch_ms, int priority, const char *name,
		       const char *fields);

#endif
