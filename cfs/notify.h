/* notify.h - keeps the kernel honest about changes it did not see.
 *
 * 1. Cache invalidation: after every applied change the affected inodes and
 *    directory entries are invalidated (fuse_lowlevel_notify_inval_*).
 * 2. inotify replay: a change made on another node is replayed on the local
 *    mount by a dedicated thread performing the matching syscall (open with
 *    O_CREAT + close, open + close after a write, mkdir, unlink, rmdir,
 *    rename, utimensat), so the kernel emits exactly the inotify events a
 *    local change would have produced.  The FUSE handlers recognise that
 *    thread's requests (notify_is_replayer) and treat them as already
 *    applied: lookups are answered from the replayed change (a name being
 *    created looks absent, a name being removed looks present) and the
 *    mutation itself succeeds without submitting anything.
 *
 * Both must not run in a FUSE request thread (the kernel may hold the very
 * directory lock an invalidation needs while it waits for that request's
 * reply), so work is queued and one thread performs it in order. */
#ifndef PVECFS_NOTIFY_H
#define PVECFS_NOTIFY_H

#include <stdbool.h>
#include <sys/types.h>

#include "apply.h"

struct cfs;
struct fuse_session;
struct notify;

int notify_new(struct cfs *cfs, bool replay, struct notify **out);
/* Starts the thread once the session is mounted. */
int notify_start(struct notify *n, struct fuse_session *se);
/* Stops the thread (waits a bounded time; a thread stuck on a dying mount
 * is left to process exit).  Returns false if it did not stop. */
bool notify_stop(struct notify *n);
void notify_free(struct notify *n);

struct apply_observer notify_observer(struct notify *n);

/* The kernel must forget what it knows of path and its directory: for
 * changes the daemon makes itself, not through a request of the kernel
 * (the node's directories at start, a lock removed by utime 0). */
void notify_forget(struct notify *n, const char *path);

/* Blocks until everything queued so far has been performed. */
void notify_flush(struct notify *n);

/* ---- for the FUSE handlers ---- */

/* Whether a request comes from the replay thread. */
bool notify_is_replayer(struct notify *n, pid_t pid);
/* The replay thread's view of (parent, name): 1 = present with *attr,
 * 0 = absent, -1 = not part of the replayed change (use the tree). */
int notify_replay_lookup(struct notify *n, uint64_t parent, const char *name, struct tree_attr *attr);
/* Attributes of what the current replayed change creates (0 or -ENOENT). */
int notify_replay_attr(struct notify *n, struct tree_attr *attr);

#endif
