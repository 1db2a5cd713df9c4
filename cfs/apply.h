/* apply.h - the one function that changes the tree: apply a batch of changes
 * to the in-memory tree and persist them in one SQLite transaction.
 *
 * Local mode calls it directly for each submitted change; the cluster calls
 * it on CPG delivery, on every node, in delivery order.  Observers (kernel
 * cache invalidation, the event log, lock expiry) are told about every
 * applied change, in order, after it is durable. */
#ifndef PVECFS_APPLY_H
#define PVECFS_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "change.h"
#include "store.h"
#include "tree.h"

struct apply;

struct apply_observer {
	/* A change was applied and committed (called under the apply lock, in
	 * order: must not block and must not submit changes). */
	void (*applied)(void *ctx, const struct change *c, const struct tree_result *res);
	/* The whole tree was replaced (state sync, reload after a store error). */
	void (*reset)(void *ctx);
	/* Optional, called just before reset() with the tree's previous
	 * content (read-only, valid only during the call), so an observer can
	 * compute what changed. */
	void (*replaced)(void *ctx, struct tree *old);
	void *ctx;
};

int apply_new(struct tree *tree, struct store *store, struct apply **out);
void apply_free(struct apply *a);
int apply_add_observer(struct apply *a, const struct apply_observer *o);

/* Applies changes[0..n) in order in one transaction; results[i] is 0 or the
 * negative errno of change i (a failed change changes nothing).  Returns 0,
 * or -EIO if the store failed: then nothing of the batch is kept (the tree is
 * reloaded from the store), every result is -EIO and the applier refuses
 * further batches until apply_reset() (writes stop, the node must resync). */
int apply_batch(struct apply *a, const struct change *changes, size_t n, int *results);

/* Replaces the tree's content with `fresh` (persisted in one transaction)
 * and clears a failed state; observers get replaced() and reset().
 * Afterwards `fresh` holds the previous content (the caller frees it). */
int apply_replace_tree(struct apply *a, struct tree *fresh);

bool apply_failed(struct apply *a);

#endif
