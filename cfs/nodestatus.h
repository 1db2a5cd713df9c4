/* nodestatus.h - the per-node status store: key -> value per node name.
 *
 * Watchers publish the actual state of their node here (key "qemu/100",
 * value a small JSON text); every node can read every node's entries.  It is
 * RAM only: a restarted node republishes.  In cluster mode the integrator
 * replicates sets through CPG and drops a node's entries when it leaves; this
 * module only stores what it is told (nodestatus_apply_set) and checks the
 * limits, identically on every node. */
#ifndef PVECFS_NODESTATUS_H
#define PVECFS_NODESTATUS_H

#include <stddef.h>

#define NODESTATUS_KEY_MAX 256          /* bytes */
#define NODESTATUS_VALUE_MAX (64 * 1024) /* bytes */
#define NODESTATUS_KEYS_MAX 4096        /* per node */
#define NODESTATUS_NODE_MAX 63          /* bytes of a node name */

struct nodestatus;

int nodestatus_new(struct nodestatus **out);
void nodestatus_free(struct nodestatus *ns);

/* Whether (key, value) may be stored at all: 0, or -EINVAL (empty key,
 * control characters), -ENAMETOOLONG (key too long), -EFBIG (value too
 * large).  value NULL means delete and is always valid. */
int nodestatus_check(const char *key, const char *value);
/* A sentence for an error of nodestatus_check / nodestatus_apply_set. */
const char *nodestatus_strerror(int r);

/* Sets (value != NULL) or deletes (value NULL) node's key.  0, or the
 * errors of nodestatus_check, -ENOSPC (the node has NODESTATUS_KEYS_MAX keys
 * already), -ENOENT (delete of a missing key), -ENOMEM.  On error nothing
 * changed. */
int nodestatus_apply_set(struct nodestatus *ns, const char *node, const char *key, const char *value);
/* Forgets everything node published (it left the cluster). */
void nodestatus_drop_node(struct nodestatus *ns, const char *node);

/* A copy of node's value for key (free it), or -ENOENT. */
int nodestatus_get(struct nodestatus *ns, const char *node, const char *key, char **value);
/* Number of keys node has. */
size_t nodestatus_count(struct nodestatus *ns, const char *node);

/* Calls cb for every entry, nodes and keys in name order, restricted to
 * `node` and/or `key` when they are not NULL.  Runs under the store's lock:
 * cb must not call back into it.  Returns what a non-zero cb returned, or 0. */
typedef int (*nodestatus_cb)(void *ctx, const char *node, const char *key, const char *value);
int nodestatus_foreach(struct nodestatus *ns, const char *node, const char *key,
		       nodestatus_cb cb, void *ctx);

#endif
