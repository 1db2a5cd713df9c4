/* change.h - one mutation of the tree, the unit of the single write path.
 *
 * Every FUSE mutation becomes a `struct change`; in local mode it is applied
 * directly, in a cluster it travels in a CPG message (msg.h) and is applied on
 * delivery on every node.  Everything that must be identical on every node
 * (mtime, writer) is carried here; the version it gets is assigned by the
 * apply (tree version + 1), never by the sender. */
#ifndef PVECFS_CHANGE_H
#define PVECFS_CHANGE_H

#include <stddef.h>
#include <stdint.h>

enum change_op {
	CHANGE_CREATE = 1, /* new regular file at path with data; EEXIST if path exists */
	CHANGE_WRITE = 2,  /* replace the whole content of the file at path */
	CHANGE_MKDIR = 3,  /* new directory; EEXIST if path exists */
	CHANGE_UNLINK = 4, /* remove the file at path */
	CHANGE_RMDIR = 5,  /* remove the empty directory at path */
	CHANGE_RENAME = 6, /* move path to `to`, atomically replacing a file there */
	CHANGE_MTIME = 7,  /* set the mtime of path */
};

struct change {
	enum change_op op;
	uint32_t writer;         /* node id of the originating node */
	int64_t mtime;           /* seconds; the new mtime of what the change touches */
	uint64_t expect_version; /* if non-zero: apply only if path's version equals it (else ESTALE) */
	const char *path;        /* absolute within the tree, "/a/b" */
	const char *to;          /* CHANGE_RENAME target */
	const void *data;        /* CHANGE_CREATE / CHANGE_WRITE content */
	size_t size;
};

const char *change_op_name(enum change_op op);

#endif
