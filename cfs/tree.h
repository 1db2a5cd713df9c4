/* tree.h - the in-memory inode tree: the one source of truth in RAM.
 *
 * All mutations go through tree_apply(), which is deterministic: the same
 * sequence of changes applied to the same tree gives byte-identical trees
 * (inode numbers, versions, mtimes, content).  The global version increases
 * by one per applied change and is the inode number of anything it creates.
 * The root directory is inode 1 (TREE_ROOT_INODE); an empty tree has version 1.
 *
 * Concurrency: every function takes the tree's internal rwlock; readers run in
 * parallel with each other and are serialised against tree_apply.  File
 * content is immutable per version and reference counted (struct tree_blob),
 * so an open file can keep a snapshot without copying. */
#ifndef PVECFS_TREE_H
#define PVECFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "change.h"

#define TREE_ROOT_INODE 1
#define TREE_NAME_MAX 255

enum tree_type { TREE_DIR = 1, TREE_FILE = 2 };

struct tree_limits {
	size_t max_file_size;  /* EFBIG beyond (default 1 MiB) */
	size_t max_total_size; /* ENOSPC beyond, sum of file sizes (default 128 MiB) */
	size_t max_inodes;     /* ENOSPC beyond, files + dirs incl. root (default 262144) */
};
#define TREE_LIMITS_DEFAULT { 1024 * 1024, 128 * 1024 * 1024, 262144 }

struct tree_attr {
	uint64_t inode;
	uint64_t parent;  /* 0 for the root */
	uint64_t version; /* version of the last change of this inode */
	int64_t mtime;    /* seconds */
	uint32_t writer;  /* node id of the last writer */
	enum tree_type type;
	uint64_t size;    /* file: bytes; dir: number of entries */
};

/* Immutable, reference-counted file content. */
struct tree_blob {
	unsigned refs;   /* atomic */
	size_t size;
	char data[];
};
struct tree_blob *tree_blob_new(const void *data, size_t size);
struct tree_blob *tree_blob_ref(struct tree_blob *b);
void tree_blob_unref(struct tree_blob *b);

struct tree;

int tree_new(const struct tree_limits *limits, struct tree **out);
void tree_free(struct tree *t);

uint64_t tree_version(struct tree *t);
void tree_usage(struct tree *t, size_t *inodes, size_t *bytes);
const struct tree_limits *tree_get_limits(struct tree *t);

/* Lookups: 0 or -ENOENT / -ENOTDIR. */
int tree_getattr(struct tree *t, uint64_t inode, struct tree_attr *out);
int tree_lookup(struct tree *t, uint64_t parent, const char *name, struct tree_attr *out);
int tree_resolve(struct tree *t, const char *path, struct tree_attr *out);
/* The path of inode ("/" for the root), malloc'd; NULL if gone. */
char *tree_path(struct tree *t, uint64_t inode);
/* A reference to a file's current content (-EISDIR for a directory). */
int tree_get_blob(struct tree *t, uint64_t inode, struct tree_blob **out);

/* Calls cb for each entry of directory `dir` in name order (stop early by
 * returning non-zero, which is returned).  -ENOTDIR / -ENOENT. */
typedef int (*tree_dir_cb)(void *ctx, const char *name, const struct tree_attr *attr);
int tree_list(struct tree *t, uint64_t dir, tree_dir_cb cb, void *ctx);

/* Calls cb for every inode except the root, in inode order, with its name
 * and content (NULL blob for directories).  Used by store, sync and backup. */
typedef int (*tree_node_cb)(void *ctx, const struct tree_attr *attr, const char *name,
			    const struct tree_blob *blob);
int tree_walk(struct tree *t, tree_node_cb cb, void *ctx);

/* What one applied change touched: the store persists `dirty` and deletes
 * `removed`; notify invalidates; events name the operation. */
struct tree_result {
	uint64_t version;  /* the version the change got */
	uint64_t inode;    /* the inode created / written / moved / removed */
	uint64_t parent;   /* directory whose entries changed (new parent for rename) */
	uint64_t old_parent; /* rename: the source directory */
	uint64_t dirty[4];
	int n_dirty;
	uint64_t removed[2];
	int n_removed;
};

/* Apply one change.  0 and *res filled, or a negative errno and nothing
 * changed: -ENOENT, -EEXIST, -ENOTDIR, -EISDIR, -ENOTEMPTY, -EINVAL (bad path,
 * rename into own subtree), -ENAMETOOLONG, -EFBIG, -ENOSPC, -ESTALE
 * (expect_version mismatch).  Checks VMID uniqueness for
 * /nodes/<n>/{qemu-server,lxc}/<vmid>.conf (EEXIST). */
int tree_apply(struct tree *t, const struct change *c, struct tree_result *res);

/* Whether a path is a guest config, and its vmid. */
bool tree_path_vmid(const char *path, uint32_t *vmid);

/* Loading a stored tree: add nodes in any order, then finish, which links
 * and verifies the structure (parents exist and are directories, unique
 * names, no cycles, versions <= the global version): -EUCLEAN if not. */
int tree_load_node(struct tree *t, const struct tree_attr *attr, const char *name,
		   const void *data, size_t size);
int tree_load_finish(struct tree *t, uint64_t version);

/* SHA-256 over every inode's attributes, name and content, in inode order:
 * equal on two nodes iff the trees are identical.  hex: 65 bytes. */
void tree_checksum(struct tree *t, char hex[65]);

/* Exchange the contents of two trees (used by state sync). */
void tree_swap(struct tree *a, struct tree *b);

#endif
