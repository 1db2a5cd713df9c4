/* notify.h - keeps the kernel's caches honest: after every applied change
 * the affected inodes and directory entries are invalidated through the
 * FUSE notify calls.  This must not run in a FUSE request thread (the
 * kernel may hold the very directory lock the invalidation needs while it
 * waits for that request's reply), so changes are queued and a dedicated
 * thread performs the invalidations in order. */
#ifndef PVECFS_NOTIFY_H
#define PVECFS_NOTIFY_H

#include "apply.h"

struct fuse_session;
struct tree;
struct notify;

int notify_new(struct tree *tree, struct notify **out);
/* Starts the thread once the session is mounted. */
int notify_start(struct notify *n, struct fuse_session *se);
/* Drains the queue and stops the thread; further changes are ignored. */
void notify_stop(struct notify *n);
void notify_free(struct notify *n);

struct apply_observer notify_observer(struct notify *n);

/* Blocks until everything queued so far has been invalidated (tests, sync). */
void notify_flush(struct notify *n);

#endif
