/* dump.h - a consistent snapshot of the whole tree, serialised as an
 * uncompressed backup archive (the container format of docs/backup.md).
 *
 * Consistency: the snapshot is captured inside ONE tree_walk, which holds the
 * tree's read lock for its whole duration, so no change can be half in it.
 * The global version, the root's attributes and tree_checksum are read in
 * the same walk (read functions may be called from walk callbacks); only a
 * tree with no inode besides the root is captured outside a walk, with a
 * version-before == version-after check and retries.  Capturing only takes
 * references to the immutable content blobs, so the lock is held for a
 * moment; serialising (hashing, writing to a slow consumer) happens after
 * the lock is released, from the captured snapshot. */
#ifndef PVECFS_DUMP_H
#define PVECFS_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tree.h"

/* Who made the snapshot; written into the manifest. */
struct dump_info {
	const char *cluster; /* cluster name ("" in local mode) */
	const char *node;    /* this node's name */
	int64_t time;        /* seconds since the epoch; 0 = now */
};

/* What was dumped. */
struct dump_summary {
	uint64_t version;      /* the tree version the snapshot is at */
	char checksum[65];     /* tree_checksum at that version */
	uint64_t entries;      /* inodes including the root */
	uint64_t bytes;        /* archive bytes written */
};

/* Receives the archive in order; returns 0 or a negative errno (which
 * aborts the dump and is returned by dump_tree). */
typedef int (*dump_write_fn)(void *ctx, const void *data, size_t size);

/* Serialises the whole tree at one version.  0 and *summary (may be NULL)
 * filled, or a negative errno (-ENOMEM, or the writer's error). */
int dump_tree(struct tree *t, const struct dump_info *info, dump_write_fn write, void *ctx,
	      struct dump_summary *summary);

/* dump_tree into a new file at `path` (created with O_EXCL, mode 0600,
 * fsync'd; removed again on failure). */
int dump_tree_to_file(struct tree *t, const struct dump_info *info, const char *path,
		      struct dump_summary *summary);

#endif
