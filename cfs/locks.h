/* locks.h - expiry of cluster lock directories (priv/lock/<name>).
 *
 * `mkdir priv/lock/<name>` has one winner cluster-wide because it is an
 * ordinary change in the total order.  Expiry is node-local knowledge: a lock
 * expires `timeout` seconds after this node first saw its current version
 * (created or renewed).  A removal request (utime 0) is turned into an RMDIR
 * that carries the version the requester saw as expired, so a lock renewed
 * meanwhile is never removed (the apply fails with ESTALE). */
#ifndef PVECFS_LOCKS_H
#define PVECFS_LOCKS_H

#include <stdbool.h>
#include <stdint.h>

#include "apply.h"
#include "tree.h"

#define LOCKS_DIR "/priv/lock"

struct locks;

int locks_new(unsigned timeout_seconds, struct locks **out);
void locks_free(struct locks *l);

/* Observer to register with apply_add_observer(). */
struct apply_observer locks_observer(struct locks *l);

/* Records every existing lock of t as first seen now (at start and after a
 * tree replacement). */
void locks_seed(struct locks *l, struct tree *t);

/* Whether path is a lock directory (LOCKS_DIR/<name>). */
bool locks_is_lock_path(const char *path);

/* Whether the lock at path, at the given version, has expired here. */
bool locks_expired(struct locks *l, const char *path, uint64_t version);

#endif
