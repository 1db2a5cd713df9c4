/* tree.c - the in-memory inode tree (see tree.h for the contract).
 *
 * Representation.  Every inode is one `struct node` allocated together with
 * its name.  A global hash table maps inode number -> node (the key points at
 * node->inode, so it costs no extra allocation); a directory keeps its
 * entries in a hash table keyed by name (pointing at child->name), created
 * lazily on the first entry so empty directories and files carry no table.
 * A file holds a reference to an immutable `struct tree_blob`; a write
 * swaps in a new blob, so readers holding the old one keep a snapshot.
 * Per-inode overhead on x86-64: node header 45 bytes + malloc header, one
 * slot in the inode table and one in the parent's table (~20 bytes each,
 * times the table's slack), blob header 16 bytes + malloc header: about
 * 150-200 bytes plus the name.
 *
 * Invariants (between public calls, under the lock):
 *  - the root is inode 1, has no parent and an empty name;
 *  - every other node is in exactly one directory's table and in the inode
 *    table, and its parent chain ends at the root (no cycles);
 *  - no node's inode or version exceeds the global version, so the next
 *    version is always free to become an inode number;
 *  - `bytes` is the sum of file sizes, the inode table's size the inode count.
 *
 * Determinism: tree_apply() depends only on the tree and the change; hash
 * table order is never observable (listing sorts by name, walking and the
 * checksum sort by inode).  A change is checked completely, and everything
 * it needs is allocated, before the first modification, so a failed change
 * leaves the tree untouched and consumes no version.
 *
 * Locking: one rwlock per tree.  It prefers readers, so read functions may
 * be called from tree_list/tree_walk callbacks (which run under the read
 * lock); those callbacks must not call tree_apply, tree_load_*, tree_swap or
 * tree_free. */
#include "tree.h"

#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"

/* Like PATH_MAX: the longest path is 4095 bytes plus its terminator. */
#define TREE_PATH_MAX 4096

struct node {
	uint64_t inode; /* also the key of the inode table */
	uint64_t version;
	int64_t mtime;
	struct node *parent; /* NULL for the root */
	union {
		struct tree_blob *blob; /* TREE_FILE, never NULL */
		GHashTable *children;   /* TREE_DIR, NULL until the first entry */
	} u;
	uint32_t writer;
	uint8_t type; /* enum tree_type */
	char name[];  /* "" for the root */
};

enum tree_phase {
	TREE_FRESH,   /* only the root, nothing applied or loaded yet */
	TREE_LOADING, /* tree_load_node called, tree_load_finish not yet */
	TREE_READY,
};

/* A loaded node waiting for tree_load_finish to link it to its parent. */
struct pending_link {
	struct node *node;
	uint64_t parent;
};

/* Everything tree_swap exchanges. */
struct tree_state {
	uint64_t version;
	struct node *root;
	GHashTable *inodes; /* &node->inode -> node; owns the nodes */
	size_t bytes;       /* sum of file sizes */
	enum tree_phase phase;
	GArray *pending;    /* TREE_LOADING: struct pending_link */
	bool root_loaded;
	int load_error;     /* first error of tree_load_node, reported by finish */
};

struct tree {
	pthread_rwlock_t lock;
	struct tree_limits limits; /* configuration, not content: not swapped */
	struct tree_state s;
};

/* ---- blobs ---- */

struct tree_blob *tree_blob_new(const void *data, size_t size)
{
	if (size > SIZE_MAX - sizeof(struct tree_blob))
		return NULL;
	struct tree_blob *b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->refs = 1;
	b->size = size;
	if (size)
		memcpy(b->data, data, size);
	return b;
}

struct tree_blob *tree_blob_ref(struct tree_blob *b)
{
	if (b)
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
	return b;
}

void tree_blob_unref(struct tree_blob *b)
{
	if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(b);
}

/* ---- nodes ---- */

static struct node *node_new(uint64_t inode, enum tree_type type, const char *name)
{
	size_t len = strlen(name);
	size_t bytes = offsetof(struct node, name) + len + 1;
	/* Never below sizeof: the compiler (rightly) objects to a partial
	 * struct, and malloc rounds up to that anyway. */
	struct node *n = calloc(1, bytes < sizeof(*n) ? sizeof(*n) : bytes);
	if (!n)
		return NULL;
	n->inode = inode;
	n->type = type;
	memcpy(n->name, name, len + 1);
	return n;
}

static void node_free(struct node *n)
{
	if (n->type == TREE_FILE)
		tree_blob_unref(n->u.blob);
	else if (n->u.children)
		g_hash_table_destroy(n->u.children);
	free(n);
}

static size_t node_size(const struct node *n)
{
	if (n->type == TREE_FILE)
		return n->u.blob->size;
	return n->u.children ? g_hash_table_size(n->u.children) : 0;
}

static void node_attr(const struct node *n, struct tree_attr *out)
{
	*out = (struct tree_attr){
		.inode = n->inode,
		.parent = n->parent ? n->parent->inode : 0,
		.version = n->version,
		.mtime = n->mtime,
		.writer = n->writer,
		.type = n->type,
		.size = node_size(n),
	};
}

static struct node *node_child(const struct node *dir, const char *name)
{
	if (dir->type != TREE_DIR || !dir->u.children)
		return NULL;
	return g_hash_table_lookup(dir->u.children, name);
}

static void dir_add(struct node *dir, struct node *child)
{
	if (!dir->u.children)
		dir->u.children = g_hash_table_new(g_str_hash, g_str_equal);
	g_hash_table_replace(dir->u.children, child->name, child);
	child->parent = dir;
}

static void dir_remove(struct node *dir, struct node *child)
{
	g_hash_table_remove(dir->u.children, child->name);
	child->parent = NULL;
}

/* What every change does to the inodes it touches. */
static void node_touch(struct node *n, uint64_t version, const struct change *c)
{
	n->version = version;
	n->mtime = c->mtime;
	n->writer = c->writer;
}

static bool node_is_ancestor_or_self(const struct node *ancestor, const struct node *n)
{
	for (; n; n = n->parent)
		if (n == ancestor)
			return true;
	return false;
}

/* ---- state ---- */

static int state_init(struct tree_state *s)
{
	*s = (struct tree_state){ .version = 1, .phase = TREE_FRESH };
	s->root = node_new(TREE_ROOT_INODE, TREE_DIR, "");
	if (!s->root)
		return -ENOMEM;
	s->root->version = 1;
	s->inodes = g_hash_table_new(g_int64_hash, g_int64_equal);
	g_hash_table_replace(s->inodes, &s->root->inode, s->root);
	return 0;
}

static void state_clear(struct tree_state *s)
{
	if (s->inodes) {
		GHashTableIter it;
		gpointer value;
		g_hash_table_iter_init(&it, s->inodes);
		while (g_hash_table_iter_next(&it, NULL, &value))
			node_free(value);
		g_hash_table_destroy(s->inodes);
	}
	if (s->pending)
		g_array_free(s->pending, TRUE);
	*s = (struct tree_state){ 0 };
}

static struct node *state_node(const struct tree_state *s, uint64_t inode)
{
	return g_hash_table_lookup(s->inodes, &inode);
}

static size_t state_inodes(const struct tree_state *s)
{
	return g_hash_table_size(s->inodes);
}

static int compare_inode(const void *a, const void *b)
{
	const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* All nodes sorted by inode; free the result with free(). */
static struct node **state_sorted(const struct tree_state *s, size_t *n)
{
	*n = state_inodes(s);
	struct node **all = malloc(*n * sizeof(*all));
	if (!all)
		return NULL;
	GHashTableIter it;
	gpointer value;
	size_t i = 0;
	g_hash_table_iter_init(&it, s->inodes);
	while (g_hash_table_iter_next(&it, NULL, &value))
		all[i++] = value;
	qsort(all, *n, sizeof(*all), compare_inode);
	return all;
}

/* ---- tree object ---- */

int tree_new(const struct tree_limits *limits, struct tree **out)
{
	static const struct tree_limits defaults = TREE_LIMITS_DEFAULT;
	struct tree *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	int r = state_init(&t->s);
	if (r < 0) {
		free(t);
		return r;
	}
	t->limits = limits ? *limits : defaults;
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_READER_NP);
	pthread_rwlock_init(&t->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	*out = t;
	return 0;
}

void tree_free(struct tree *t)
{
	if (!t)
		return;
	state_clear(&t->s);
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

uint64_t tree_version(struct tree *t)
{
	pthread_rwlock_rdlock(&t->lock);
	uint64_t v = t->s.version;
	pthread_rwlock_unlock(&t->lock);
	return v;
}

void tree_usage(struct tree *t, size_t *inodes, size_t *bytes)
{
	pthread_rwlock_rdlock(&t->lock);
	if (inodes)
		*inodes = state_inodes(&t->s);
	if (bytes)
		*bytes = t->s.bytes;
	pthread_rwlock_unlock(&t->lock);
}

const struct tree_limits *tree_get_limits(struct tree *t)
{
	return &t->limits; /* never changes after tree_new */
}

void tree_swap(struct tree *a, struct tree *b)
{
	if (a == b)
		return;
	struct tree *first = a < b ? a : b, *second = a < b ? b : a;
	pthread_rwlock_wrlock(&first->lock);
	pthread_rwlock_wrlock(&second->lock);
	struct tree_state tmp = a->s;
	a->s = b->s;
	b->s = tmp;
	pthread_rwlock_unlock(&second->lock);
	pthread_rwlock_unlock(&first->lock);
}

/* ---- paths ---- */

/* Syntax only: absolute, components non-empty, not "." or "..", each at most
 * TREE_NAME_MAX bytes, the whole shorter than TREE_PATH_MAX.  (A C string
 * cannot hold a NUL; the wire format rejects embedded NULs.) */
static int path_check(const char *path)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	if (strnlen(path, TREE_PATH_MAX) >= TREE_PATH_MAX)
		return -ENAMETOOLONG;
	if (path[1] == '\0')
		return 0;
	for (const char *p = path + 1;;) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 0)
			return -EINVAL;
		if (len > TREE_NAME_MAX)
			return -ENAMETOOLONG;
		if (p[0] == '.' && (len == 1 || (len == 2 && p[1] == '.')))
			return -EINVAL;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

static bool path_is_root(const char *path)
{
	return strcmp(path, "/") == 0;
}

/* Walks the first `len` bytes of a checked path ("" and "/" are the root). */
static int walk(const struct tree_state *s, const char *path, size_t len, struct node **out)
{
	struct node *n = s->root;
	size_t i = 0;
	while (i < len) {
		i++; /* the '/' */
		size_t start = i;
		while (i < len && path[i] != '/')
			i++;
		if (i == start)
			break; /* trailing "/" of the root path */
		if (n->type != TREE_DIR)
			return -ENOTDIR;
		char name[TREE_NAME_MAX + 1];
		memcpy(name, path + start, i - start);
		name[i - start] = '\0';
		n = node_child(n, name);
		if (!n)
			return -ENOENT;
	}
	*out = n;
	return 0;
}

static int resolve(const struct tree_state *s, const char *path, struct node **out)
{
	return walk(s, path, strlen(path), out);
}

/* The directory holding a path's last component and that entry (or NULL). */
struct location {
	struct node *dir;
	const char *name;
	struct node *node;
};

static int locate(const struct tree_state *s, const char *path, struct location *loc)
{
	const char *slash = strrchr(path, '/');
	int r = walk(s, path, (size_t)(slash - path), &loc->dir);
	if (r < 0)
		return r;
	if (loc->dir->type != TREE_DIR)
		return -ENOTDIR;
	loc->name = slash + 1;
	loc->node = node_child(loc->dir, loc->name);
	return 0;
}

/* ---- guest ids ---- */

bool tree_path_vmid(const char *path, uint32_t *vmid)
{
	static const char prefix[] = "/nodes/";
	if (!path || strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return false;
	const char *p = path + sizeof(prefix) - 1;
	const char *slash = strchr(p, '/');
	if (!slash || slash == p)
		return false;
	p = slash + 1;
	if (strncmp(p, "qemu-server/", 12) == 0)
		p += 12;
	else if (strncmp(p, "lxc/", 4) == 0)
		p += 4;
	else
		return false;
	if (*p < '1' || *p > '9')
		return false; /* no leading zero, no sign */
	uint32_t id = 0;
	int digits = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (digits == 9)
			return false; /* vmids stop at 999999999 */
		id = id * 10 + (uint32_t)(*p - '0');
	}
	if (strcmp(p, ".conf") != 0)
		return false;
	if (vmid)
		*vmid = id;
	return true;
}

/* Whether a guest config for vmid exists on any node, other than the files
 * `skip1`/`skip2` (the one being renamed and the one it replaces).  Looks
 * up two names per node directory: no scan of the guests. */
static bool vmid_taken(const struct tree_state *s, uint32_t vmid, const struct node *skip1,
		       const struct node *skip2)
{
	static const char *const kinds[] = { "qemu-server", "lxc" };
	struct node *nodes = node_child(s->root, "nodes");
	if (!nodes || nodes->type != TREE_DIR || !nodes->u.children)
		return false;
	char name[32];
	snprintf(name, sizeof(name), "%" PRIu32 ".conf", vmid);
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, nodes->u.children);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
			struct node *kind = node_child(value, kinds[k]);
			struct node *conf = kind ? node_child(kind, name) : NULL;
			if (conf && conf->type == TREE_FILE && conf != skip1 && conf != skip2)
				return true;
		}
	}
	return false;
}

/* ---- apply ---- */

static int check_expect(const struct change *c, const struct node *n)
{
	if (c->expect_version && (!n || n->version != c->expect_version))
		return -ESTALE;
	return 0;
}

static int check_content(const struct tree *t, size_t new_size, size_t old_size)
{
	if (new_size > t->limits.max_file_size)
		return -EFBIG;
	if (t->s.bytes - old_size + new_size > t->limits.max_total_size)
		return -ENOSPC;
	return 0;
}

static void result_dirty(struct tree_result *res, const struct node *n)
{
	for (int i = 0; i < res->n_dirty; i++)
		if (res->dirty[i] == n->inode)
			return;
	res->dirty[res->n_dirty++] = n->inode;
}

/* CHANGE_CREATE and CHANGE_MKDIR. */
static int apply_create(struct tree *t, const struct change *c, uint64_t version,
			enum tree_type type, struct tree_result *res)
{
	struct tree_state *s = &t->s;
	if (path_is_root(c->path))
		return -EEXIST;
	struct location loc;
	int r = locate(s, c->path, &loc);
	if (r < 0)
		return r;
	if (loc.node)
		return -EEXIST;
	r = check_expect(c, NULL);
	if (r < 0)
		return r;
	size_t size = type == TREE_FILE ? c->size : 0;
	if (size && !c->data)
		return -EINVAL;
	r = check_content(t, size, 0);
	if (r < 0)
		return r;
	if (state_inodes(s) + 1 > t->limits.max_inodes)
		return -ENOSPC;
	uint32_t vmid;
	if (type == TREE_FILE && tree_path_vmid(c->path, &vmid) && vmid_taken(s, vmid, NULL, NULL))
		return -EEXIST;
	if (state_node(s, version))
		return -EUCLEAN; /* impossible while the invariants hold */

	struct node *n = node_new(version, type, loc.name);
	if (!n)
		return -ENOMEM;
	if (type == TREE_FILE) {
		n->u.blob = tree_blob_new(c->data, size);
		if (!n->u.blob) {
			free(n);
			return -ENOMEM;
		}
	}
	node_touch(n, version, c);
	dir_add(loc.dir, n);
	g_hash_table_replace(s->inodes, &n->inode, n);
	s->bytes += size;
	node_touch(loc.dir, version, c);
	res->inode = n->inode;
	res->parent = loc.dir->inode;
	result_dirty(res, n);
	result_dirty(res, loc.dir);
	return 0;
}

static int apply_write(struct tree *t, const struct change *c, uint64_t version,
		       struct tree_result *res)
{
	struct tree_state *s = &t->s;
	struct node *n;
	int r = resolve(s, c->path, &n);
	if (r < 0)
		return r;
	if (n->type != TREE_FILE)
		return -EISDIR;
	r = check_expect(c, n);
	if (r < 0)
		return r;
	if (c->size && !c->data)
		return -EINVAL;
	r = check_content(t, c->size, n->u.blob->size);
	if (r < 0)
		return r;
	struct tree_blob *blob = tree_blob_new(c->data, c->size);
	if (!blob)
		return -ENOMEM;
	s->bytes = s->bytes - n->u.blob->size + blob->size;
	tree_blob_unref(n->u.blob);
	n->u.blob = blob;
	node_touch(n, version, c);
	res->inode = n->inode;
	res->parent = n->parent->inode;
	result_dirty(res, n);
	return 0;
}

/* Drops a node (a file or an empty directory) from its directory and the
 * inode table and frees it. */
static void state_remove(struct tree_state *s, struct node *n)
{
	dir_remove(n->parent, n);
	g_hash_table_remove(s->inodes, &n->inode);
	if (n->type == TREE_FILE)
		s->bytes -= n->u.blob->size;
	node_free(n);
}

/* CHANGE_UNLINK and CHANGE_RMDIR. */
static int apply_remove(struct tree *t, const struct change *c, uint64_t version,
			struct tree_result *res)
{
	struct tree_state *s = &t->s;
	if (path_is_root(c->path))
		return -EINVAL;
	struct location loc;
	int r = locate(s, c->path, &loc);
	if (r < 0)
		return r;
	struct node *n = loc.node;
	if (!n)
		return -ENOENT;
	if (c->op == CHANGE_UNLINK && n->type == TREE_DIR)
		return -EISDIR;
	if (c->op == CHANGE_RMDIR && n->type != TREE_DIR)
		return -ENOTDIR;
	if (c->op == CHANGE_RMDIR && node_size(n) > 0)
		return -ENOTEMPTY;
	r = check_expect(c, n);
	if (r < 0)
		return r;
	res->inode = n->inode;
	res->removed[res->n_removed++] = n->inode;
	state_remove(s, n);
	node_touch(loc.dir, version, c);
	res->parent = loc.dir->inode;
	result_dirty(res, loc.dir);
	return 0;
}

static int check_rename(const struct tree_state *s, const struct change *c,
			const struct location *from, const struct location *to)
{
	struct node *src = from->node;
	if (src->type == TREE_DIR && node_is_ancestor_or_self(src, to->dir))
		return -EINVAL;
	if (to->node && to->node->type == TREE_DIR) {
		if (src->type != TREE_DIR)
			return -EISDIR;
		if (node_size(to->node) > 0)
			return -ENOTEMPTY;
	} else if (to->node && src->type == TREE_DIR) {
		return -ENOTDIR;
	}
	/* Project rule: only empty directories move (keeps path-based
	 * permissions, locks and guest ids simple to reason about). */
	if (src->type == TREE_DIR && node_size(src) > 0)
		return -ENOTEMPTY;
	int r = check_expect(c, src);
	if (r < 0)
		return r;
	uint32_t vmid;
	if (src->type == TREE_FILE && tree_path_vmid(c->to, &vmid) &&
	    vmid_taken(s, vmid, src, to->node))
		return -EEXIST;
	return 0;
}

/* Renaming to the path itself succeeds without consuming a version:
 * res->version stays 0 and nothing is dirty. */
static int apply_rename(struct tree *t, const struct change *c, uint64_t version,
			struct tree_result *res)
{
	struct tree_state *s = &t->s;
	int r = path_check(c->to);
	if (r < 0)
		return r;
	if (path_is_root(c->path) || path_is_root(c->to))
		return -EINVAL;
	struct location from, to;
	r = locate(s, c->path, &from);
	if (r < 0)
		return r;
	if (!from.node)
		return -ENOENT;
	r = locate(s, c->to, &to);
	if (r < 0)
		return r;
	struct node *src = from.node;
	if (to.node == src) {
		r = check_expect(c, src);
		if (r < 0)
			return r;
		res->inode = src->inode;
		res->parent = res->old_parent = from.dir->inode;
		return 0;
	}
	r = check_rename(s, c, &from, &to);
	if (r < 0)
		return r;

	/* The name lives inside the node: a new name needs a new node. */
	struct node *moved = src;
	if (strcmp(src->name, to.name) != 0) {
		moved = node_new(src->inode, src->type, to.name);
		if (!moved)
			return -ENOMEM;
	}
	if (to.node) {
		res->removed[res->n_removed++] = to.node->inode;
		state_remove(s, to.node);
	}
	dir_remove(from.dir, src);
	if (moved != src) {
		memcpy(moved, src, offsetof(struct node, name));
		g_hash_table_replace(s->inodes, &moved->inode, moved);
		if (moved->type == TREE_DIR && moved->u.children) {
			GHashTableIter it;
			gpointer child;
			g_hash_table_iter_init(&it, moved->u.children);
			while (g_hash_table_iter_next(&it, NULL, &child))
				((struct node *)child)->parent = moved;
		}
		free(src); /* its blob/children now belong to moved */
	}
	dir_add(to.dir, moved);
	node_touch(moved, version, c);
	node_touch(to.dir, version, c);
	node_touch(from.dir, version, c);
	res->inode = moved->inode;
	res->parent = to.dir->inode;
	res->old_parent = from.dir->inode;
	result_dirty(res, moved);
	result_dirty(res, to.dir);
	result_dirty(res, from.dir);
	return 0;
}

static int apply_mtime(struct tree *t, const struct change *c, uint64_t version,
		       struct tree_result *res)
{
	struct node *n;
	int r = resolve(&t->s, c->path, &n);
	if (r < 0)
		return r;
	r = check_expect(c, n);
	if (r < 0)
		return r;
	node_touch(n, version, c);
	res->inode = n->inode;
	res->parent = n->parent ? n->parent->inode : 0;
	result_dirty(res, n);
	return 0;
}

static int apply_locked(struct tree *t, const struct change *c, struct tree_result *res)
{
	if (t->s.phase == TREE_LOADING)
		return -EBUSY;
	int r = path_check(c->path);
	if (r < 0)
		return r;
	uint64_t version = t->s.version + 1;
	switch (c->op) {
	case CHANGE_CREATE:
		r = apply_create(t, c, version, TREE_FILE, res);
		break;
	case CHANGE_MKDIR:
		r = apply_create(t, c, version, TREE_DIR, res);
		break;
	case CHANGE_WRITE:
		r = apply_write(t, c, version, res);
		break;
	case CHANGE_UNLINK:
	case CHANGE_RMDIR:
		r = apply_remove(t, c, version, res);
		break;
	case CHANGE_RENAME:
		r = apply_rename(t, c, version, res);
		break;
	case CHANGE_MTIME:
		r = apply_mtime(t, c, version, res);
		break;
	default:
		r = -EINVAL;
	}
	if (r < 0 || res->n_dirty == 0)
		return r; /* failed, or a no-op rename */
	res->version = version;
	t->s.version = version;
	t->s.phase = TREE_READY;
	return 0;
}

int tree_apply(struct tree *t, const struct change *c, struct tree_result *res)
{
	if (!c || !res)
		return -EINVAL;
	*res = (struct tree_result){ 0 };
	pthread_rwlock_wrlock(&t->lock);
	int r = apply_locked(t, c, res);
	pthread_rwlock_unlock(&t->lock);
	if (r < 0)
		*res = (struct tree_result){ 0 };
	return r;
}

/* ---- lookups ---- */

int tree_getattr(struct tree *t, uint64_t inode, struct tree_attr *out)
{
	pthread_rwlock_rdlock(&t->lock);
	struct node *n = state_node(&t->s, inode);
	if (n)
		node_attr(n, out);
	pthread_rwlock_unlock(&t->lock);
	return n ? 0 : -ENOENT;
}

int tree_lookup(struct tree *t, uint64_t parent, const char *name, struct tree_attr *out)
{
	int r = 0;
	pthread_rwlock_rdlock(&t->lock);
	struct node *dir = state_node(&t->s, parent);
	struct node *n = dir ? node_child(dir, name) : NULL;
	if (!dir)
		r = -ENOENT;
	else if (dir->type != TREE_DIR)
		r = -ENOTDIR;
	else if (!n)
		r = -ENOENT;
	else
		node_attr(n, out);
	pthread_rwlock_unlock(&t->lock);
	return r;
}

int tree_resolve(struct tree *t, const char *path, struct tree_attr *out)
{
	int r = path_check(path);
	if (r < 0)
		return r;
	pthread_rwlock_rdlock(&t->lock);
	struct node *n;
	r = resolve(&t->s, path, &n);
	if (r == 0)
		node_attr(n, out);
	pthread_rwlock_unlock(&t->lock);
	return r;
}

static char *node_path(const struct node *n)
{
	if (!n->parent)
		return strdup("/");
	size_t len = 0;
	for (const struct node *p = n; p->parent; p = p->parent)
		len += 1 + strlen(p->name);
	char *path = malloc(len + 1);
	if (!path)
		return NULL;
	path[len] = '\0';
	for (const struct node *p = n; p->parent; p = p->parent) {
		size_t l = strlen(p->name);
		len -= l;
		memcpy(path + len, p->name, l);
		path[--len] = '/';
	}
	return path;
}

char *tree_path(struct tree *t, uint64_t inode)
{
	pthread_rwlock_rdlock(&t->lock);
	struct node *n = state_node(&t->s, inode);
	char *path = n ? node_path(n) : NULL;
	pthread_rwlock_unlock(&t->lock);
	return path;
}

int tree_get_blob(struct tree *t, uint64_t inode, struct tree_blob **out)
{
	int r = 0;
	pthread_rwlock_rdlock(&t->lock);
	struct node *n = state_node(&t->s, inode);
	if (!n)
		r = -ENOENT;
	else if (n->type != TREE_FILE)
		r = -EISDIR;
	else
		*out = tree_blob_ref(n->u.blob);
	pthread_rwlock_unlock(&t->lock);
	return r;
}

static int compare_name(const void *a, const void *b)
{
	const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
	return strcmp(x->name, y->name);
}

static int list_locked(struct tree_state *s, uint64_t inode, tree_dir_cb cb, void *ctx)
{
	struct node *dir = state_node(s, inode);
	if (!dir)
		return -ENOENT;
	if (dir->type != TREE_DIR)
		return -ENOTDIR;
	size_t n = node_size(dir);
	if (n == 0)
		return 0;
	_cleanup_free_ struct node **entries = malloc(n * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	GHashTableIter it;
	gpointer value;
	size_t i = 0;
	g_hash_table_iter_init(&it, dir->u.children);
	while (g_hash_table_iter_next(&it, NULL, &value))
		entries[i++] = value;
	qsort(entries, n, sizeof(*entries), compare_name);
	for (i = 0; i < n; i++) {
		struct tree_attr attr;
		node_attr(entries[i], &attr);
		int r = cb(ctx, entries[i]->name, &attr);
		if (r != 0)
			return r;
	}
	return 0;
}

int tree_list(struct tree *t, uint64_t dir, tree_dir_cb cb, void *ctx)
{
	pthread_rwlock_rdlock(&t->lock);
	int r = list_locked(&t->s, dir, cb, ctx);
	pthread_rwlock_unlock(&t->lock);
	return r;
}

static int walk_locked(struct tree_state *s, tree_node_cb cb, void *ctx)
{
	size_t n;
	_cleanup_free_ struct node **all = state_sorted(s, &n);
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (all[i]->inode == TREE_ROOT_INODE)
			continue;
		struct tree_attr attr;
		node_attr(all[i], &attr);
		int r = cb(ctx, &attr, all[i]->name,
			   all[i]->type == TREE_FILE ? all[i]->u.blob : NULL);
		if (r != 0)
			return r;
	}
	return 0;
}

int tree_walk(struct tree *t, tree_node_cb cb, void *ctx)
{
	pthread_rwlock_rdlock(&t->lock);
	int r = walk_locked(&t->s, cb, ctx);
	pthread_rwlock_unlock(&t->lock);
	return r;
}

/* ---- checksum ---- */

static void put_le(GChecksum *sum, uint64_t v, int bytes)
{
	uint8_t buf[8];
	for (int i = 0; i < bytes; i++)
		buf[i] = (uint8_t)(v >> (8 * i));
	g_checksum_update(sum, buf, bytes);
}

static void checksum_node(GChecksum *sum, const struct node *n)
{
	struct tree_attr a;
	node_attr(n, &a);
	size_t name_len = strlen(n->name);
	put_le(sum, a.inode, 8);
	put_le(sum, a.parent, 8);
	put_le(sum, a.version, 8);
	put_le(sum, a.writer, 4);
	put_le(sum, (uint64_t)a.mtime, 8);
	put_le(sum, (uint64_t)a.type, 4);
	put_le(sum, name_len, 4);
	g_checksum_update(sum, (const guchar *)n->name, (gssize)name_len);
	put_le(sum, a.size, 8);
	if (n->type == TREE_FILE && n->u.blob->size)
		g_checksum_update(sum, (const guchar *)n->u.blob->data, (gssize)n->u.blob->size);
}

void tree_checksum(struct tree *t, char hex[65])
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	pthread_rwlock_rdlock(&t->lock);
	size_t n;
	_cleanup_free_ struct node **all = state_sorted(&t->s, &n);
	for (size_t i = 0; all && i < n; i++)
		checksum_node(sum, all[i]);
	put_le(sum, t->s.version, 8);
	pthread_rwlock_unlock(&t->lock);
	if (!all)
		snprintf(hex, 65, "%064d", 0); /* out of memory: matches no real tree */
	else
		snprintf(hex, 65, "%s", g_checksum_get_string(sum));
	g_checksum_free(sum);
}

/* ---- loading ---- */

static bool name_valid(const char *name)
{
	size_t len = name ? strnlen(name, TREE_NAME_MAX + 1) : 0;
	return len > 0 && len <= TREE_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

static int load_root(struct tree_state *s, const struct tree_attr *attr)
{
	if (attr->type != TREE_DIR || attr->parent != 0 || s->root_loaded)
		return -EUCLEAN;
	s->root_loaded = true;
	s->root->version = attr->version;
	s->root->mtime = attr->mtime;
	s->root->writer = attr->writer;
	return 0;
}

static int load_node_locked(struct tree_state *s, const struct tree_attr *attr, const char *name,
			    const void *data, size_t size)
{
	if (s->phase == TREE_READY)
		return -EBUSY;
	s->phase = TREE_LOADING;
	if (!attr || (attr->type != TREE_DIR && attr->type != TREE_FILE))
		return -EUCLEAN;
	if (attr->inode == TREE_ROOT_INODE)
		return load_root(s, attr);
	if (attr->inode == 0 || attr->parent == 0 || !name_valid(name) || state_node(s, attr->inode))
		return -EUCLEAN;
	if (attr->type == TREE_DIR && size > 0)
		return -EUCLEAN;
	if (attr->type == TREE_FILE && (attr->size != size || (size && !data)))
		return -EUCLEAN;
	struct node *n = node_new(attr->inode, attr->type, name);
	if (!n)
		return -ENOMEM;
	if (attr->type == TREE_FILE) {
		n->u.blob = tree_blob_new(data, size);
		if (!n->u.blob) {
			free(n);
			return -ENOMEM;
		}
	}
	n->version = attr->version;
	n->mtime = attr->mtime;
	n->writer = attr->writer;
	if (!s->pending)
		s->pending = g_array_new(FALSE, FALSE, sizeof(struct pending_link));
	struct pending_link link = { n, attr->parent };
	g_array_append_val(s->pending, link);
	g_hash_table_replace(s->inodes, &n->inode, n);
	s->bytes += size;
	return 0;
}

int tree_load_node(struct tree *t, const struct tree_attr *attr, const char *name,
		   const void *data, size_t size)
{
	pthread_rwlock_wrlock(&t->lock);
	int r = load_node_locked(&t->s, attr, name, data, size);
	if (r < 0 && r != -EBUSY && t->s.load_error == 0) {
		t->s.load_error = r;
		log_error("tree load: bad node %" PRIu64 " (%s): %s", attr ? attr->inode : 0,
			  name ? name : "", strerror(-r));
	}
	pthread_rwlock_unlock(&t->lock);
	return r;
}

static int link_pending(struct tree_state *s)
{
	for (guint i = 0; s->pending && i < s->pending->len; i++) {
		struct pending_link *l = &g_array_index(s->pending, struct pending_link, i);
		struct node *parent = state_node(s, l->parent);
		if (!parent || parent->type != TREE_DIR) {
			log_error("tree load: inode %" PRIu64 " has parent %" PRIu64 ", which %s",
				  l->node->inode, l->parent,
				  parent ? "is not a directory" : "does not exist");
			return -EUCLEAN;
		}
		if (node_child(parent, l->node->name)) {
			log_error("tree load: two entries named '%s' in directory %" PRIu64,
				  l->node->name, l->parent);
			return -EUCLEAN;
		}
		dir_add(parent, l->node);
	}
	return 0;
}

/* Every node reachable from the root: with one parent per node, the nodes
 * that are not form cycles. */
static size_t count_reachable(const struct tree_state *s)
{
	size_t count = 0;
	GPtrArray *stack = g_ptr_array_new();
	g_ptr_array_add(stack, s->root);
	while (stack->len > 0) {
		struct node *n = g_ptr_array_remove_index_fast(stack, stack->len - 1);
		count++;
		if (n->type != TREE_DIR || !n->u.children)
			continue;
		GHashTableIter it;
		gpointer child;
		g_hash_table_iter_init(&it, n->u.children);
		while (g_hash_table_iter_next(&it, NULL, &child))
			g_ptr_array_add(stack, child);
	}
	g_ptr_array_free(stack, TRUE);
	return count;
}

static int finish_locked(struct tree_state *s, uint64_t version)
{
	if (s->phase == TREE_READY)
		return -EBUSY;
	if (s->load_error)
		return -EUCLEAN;
	if (version < 1) {
		log_error("tree load: global version 0");
		return -EUCLEAN;
	}
	int r = link_pending(s);
	if (r < 0)
		return r;
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, s->inodes);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct node *n = value;
		if (n->version > version || n->inode > version) {
			log_error("tree load: inode %" PRIu64 " (version %" PRIu64
				  ") is beyond the tree's version %" PRIu64,
				  n->inode, n->version, version);
			return -EUCLEAN;
		}
	}
	if (count_reachable(s) != state_inodes(s)) {
		log_error("tree load: some directories form a cycle");
		return -EUCLEAN;
	}
	s->version = version;
	return 0;
}

int tree_load_finish(struct tree *t, uint64_t version)
{
	pthread_rwlock_wrlock(&t->lock);
	int r = finish_locked(&t->s, version);
	if (r == -EUCLEAN) {
		/* Leave a valid empty tree rather than half-linked nodes. */
		state_clear(&t->s);
		r = state_init(&t->s) < 0 ? -ENOMEM : -EUCLEAN;
	} else if (r == 0) {
		if (t->s.pending)
			g_array_free(t->s.pending, TRUE);
		t->s.pending = NULL;
		t->s.phase = TREE_READY;
	}
	pthread_rwlock_unlock(&t->lock);
	return r;
}
