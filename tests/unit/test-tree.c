/* test-tree.c - unit tests of the in-memory tree (cfs/tree.c, cfs/change.c).
 *
 * One behaviour per test.  Every failing change is checked to leave the tree
 * exactly as it was (same checksum, same version): a failed change must
 * consume no version and change nothing, or the cluster diverges. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cleanup.h"
#include "testlib.h"
#include "tree.h"

#define WRITER 7
#define MTIME 1700000000

static struct tree *tree_with(size_t max_file, size_t max_total, size_t max_inodes)
{
	struct tree_limits limits = { max_file, max_total, max_inodes };
	struct tree *t = NULL;
	if (tree_new(&limits, &t) < 0)
		abort();
	return t;
}

static struct tree *tree_default(void)
{
	struct tree *t = NULL;
	if (tree_new(NULL, &t) < 0)
		abort();
	return t;
}

static int apply_full(struct tree *t, enum change_op op, const char *path, const char *to,
		      const char *data, uint64_t expect, struct tree_result *res)
{
	struct tree_result scratch;
	struct change c = {
		.op = op,
		.writer = WRITER,
		.mtime = MTIME + (int64_t)tree_version(t),
		.expect_version = expect,
		.path = path,
		.to = to,
		.data = data,
		.size = data ? strlen(data) : 0,
	};
	return tree_apply(t, &c, res ? res : &scratch);
}

static int op(struct tree *t, enum change_op o, const char *path, const char *arg)
{
	if (o == CHANGE_RENAME)
		return apply_full(t, o, path, arg, NULL, 0, NULL);
	return apply_full(t, o, path, NULL, arg, 0, NULL);
}

/* Runs `expr` (an int expression) and checks it returns -err and that the
 * tree's version and checksum did not move. */
#define CHECK_FAILS(t, expr, err) do { \
	char _before[65], _after[65]; \
	uint64_t _v = tree_version(t); \
	tree_checksum(t, _before); \
	CHECK_INT((expr), -(err)); \
	tree_checksum(t, _after); \
	CHECK_STR(_after, _before); \
	CHECK_INT(tree_version(t), _v); \
	} while (0)

#define CHECK_OK(expr) CHECK_INT((expr), 0)

static bool has(const uint64_t *list, int n, uint64_t inode)
{
	for (int i = 0; i < n; i++)
		if (list[i] == inode)
			return true;
	return false;
}

static uint64_t inode_of(struct tree *t, const char *path)
{
	struct tree_attr a;
	return tree_resolve(t, path, &a) == 0 ? a.inode : 0;
}

/* Content of the file at path as a malloc'd string (NULL if none). */
static char *content_of(struct tree *t, const char *path)
{
	struct tree_blob *b = NULL;
	uint64_t inode = inode_of(t, path);
	if (!inode || tree_get_blob(t, inode, &b) < 0)
		return NULL;
	char *s = strndup(b->data, b->size);
	tree_blob_unref(b);
	return s;
}

#define CHECK_CONTENT(t, path, expected) do { \
	char *_c = content_of(t, path); \
	int _ok = _c && strcmp(_c, expected) == 0; \
	free(_c); \
	CHECK(_ok); \
	} while (0)

/* ---- basics ---- */

static void test_empty_tree_is_root_at_version_1(void)
{
	struct tree *t = tree_default();
	struct tree_attr a;
	CHECK_INT(tree_version(t), 1);
	CHECK_OK(tree_getattr(t, TREE_ROOT_INODE, &a));
	CHECK_INT(a.type, TREE_DIR);
	CHECK_INT(a.parent, 0);
	CHECK_INT(a.version, 1);
	CHECK_INT(a.mtime, 0);
	CHECK_INT(a.size, 0);
	CHECK_OK(tree_resolve(t, "/", &a));
	CHECK_INT(a.inode, TREE_ROOT_INODE);
	char *p = tree_path(t, TREE_ROOT_INODE);
	CHECK_STR(p, "/");
	free(p);
	size_t inodes, bytes;
	tree_usage(t, &inodes, &bytes);
	CHECK_INT(inodes, 1);
	CHECK_INT(bytes, 0);
	CHECK_INT(tree_get_limits(t)->max_file_size, 1024 * 1024);
	tree_free(t);
}

static void test_create_file_gets_next_version_as_inode(void)
{
	struct tree *t = tree_default();
	struct tree_result res;
	CHECK_OK(apply_full(t, CHANGE_CREATE, "/a.cfg", NULL, "hello", 0, &res));
	CHECK_INT(res.version, 2);
	CHECK_INT(res.inode, 2);
	CHECK_INT(res.parent, TREE_ROOT_INODE);
	CHECK_INT(res.n_removed, 0);
	CHECK(has(res.dirty, res.n_dirty, 2) && has(res.dirty, res.n_dirty, 1));
	CHECK_INT(tree_version(t), 2);
	struct tree_attr a;
	CHECK_OK(tree_resolve(t, "/a.cfg", &a));
	CHECK_INT(a.inode, 2);
	CHECK_INT(a.type, TREE_FILE);
	CHECK_INT(a.version, 2);
	CHECK_INT(a.mtime, MTIME + 1);
	CHECK_INT(a.writer, WRITER);
	CHECK_INT(a.size, 5);
	CHECK_CONTENT(t, "/a.cfg", "hello");
	CHECK_OK(tree_getattr(t, TREE_ROOT_INODE, &a));
	CHECK_INT(a.version, 2);
	CHECK_INT(a.mtime, MTIME + 1);
	CHECK_INT(a.writer, WRITER);
	CHECK_INT(a.size, 1);
	size_t inodes, bytes;
	tree_usage(t, &inodes, &bytes);
	CHECK_INT(inodes, 2);
	CHECK_INT(bytes, 5);
	tree_free(t);
}

static void test_create_empty_file(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_CREATE, "/empty", NULL));
	CHECK_CONTENT(t, "/empty", "");
	tree_free(t);
}

static void test_mkdir_creates_directory(void)
{
	struct tree *t = tree_default();
	struct tree_result res;
	CHECK_OK(apply_full(t, CHANGE_MKDIR, "/d", NULL, NULL, 0, &res));
	CHECK_INT(res.inode, 2);
	CHECK_OK(op(t, CHANGE_MKDIR, "/d/e", NULL));
	struct tree_attr a;
	CHECK_OK(tree_resolve(t, "/d/e", &a));
	CHECK_INT(a.type, TREE_DIR);
	CHECK_INT(a.inode, 3);
	CHECK_INT(a.parent, 2);
	CHECK_OK(tree_resolve(t, "/d", &a));
	CHECK_INT(a.version, 3); /* the parent is touched too */
	CHECK_INT(a.size, 1);
	struct tree_blob *b = NULL;
	CHECK_INT(tree_get_blob(t, 2, &b), -EISDIR);
	tree_free(t);
}

static void test_write_replaces_content_and_keeps_inode(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_CREATE, "/f", "one"));
	struct tree_result res;
	CHECK_OK(apply_full(t, CHANGE_WRITE, "/f", NULL, "second", 0, &res));
	CHECK_INT(res.version, 3);
	CHECK_INT(res.inode, 2);
	CHECK_INT(res.n_dirty, 1);
	CHECK_INT(res.dirty[0], 2);
	struct tree_attr a;
	CHECK_OK(tree_resolve(t, "/f", &a));
	CHECK_INT(a.inode, 2);
	CHECK_INT(a.version, 3);
	CHECK_INT(a.size, 6);
	CHECK_CONTENT(t, "/f", "second");
	size_t bytes;
	tree_usage(t, NULL, &bytes);
	CHECK_INT(bytes, 6);
	tree_free(t);
}

static void test_unlink_removes_file(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_MKDIR, "/d", NULL));
	CHECK_OK(op(t, CHANGE_CREATE, "/d/f", "abc"));
	struct tree_result res;
	CHECK_OK(apply_full(t, CHANGE_UNLINK, "/d/f", NULL, NULL, 0, &res));
	CHECK_INT(res.version, 4);
	CHECK_INT(res.inode, 3);
	CHECK_INT(res.n_removed, 1);
	CHECK_INT(res.removed[0], 3);
	CHECK_INT(res.parent, 2);
	CHECK(has(res.dirty, res.n_dirty, 2));
	struct tree_attr a;
	CHECK_INT(tree_getattr(t, 3, &a), -ENOENT);
	CHECK_INT(tree_resolve(t, "/d/f", &a), -ENOENT);
	CHECK_OK(tree_getattr(t, 2, &a));
	CHECK_INT(a.version, 4);
	CHECK_INT(a.size, 0);
	size_t inodes, bytes;
	tree_usage(t, &inodes, &bytes);
	CHECK_INT(inodes, 2);
	CHECK_INT(bytes, 0);
	tree_free(t);
}

static void test_rmdir_removes_empty_directory(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_MKDIR, "/d", NULL));
	struct tree_result res;
	CHECK_OK(apply_full(t, CHANGE_RMDIR, "/d", NULL, NULL, 0, &res));
	CHECK_INT(res.removed[0], 2);
	CHECK_INT(res.n_removed, 1);
	CHECK_INT(inode_of(t, "/d"), 0);
	tree_free(t);
}

static void test_rename_moves_file_and_keeps_inode(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_MKDIR, "/a", NULL));
	CHECK_OK(op(t, CHANGE_MKDIR, "/b", NULL));
	CHECK_OK(op(t, CHANGE_CREATE, "/a/f", "x"));
	struct tree_result res;
	CHECK_OK(apply_full(t, CHANGE_RENAME, "/a/f", "/b/g", NULL, 0, &res));
	CHECK_INT(res.version, 5);
	CHECK_INT(res.inode, 4);
	CHECK_INT(res.parent, 3);
	CHECK_INT(res.old_parent, 2);
	CHECK_INT(res.n_dirty, 3);
	CHECK(has(res.dirty, 3, 2) && has(res.dirty, 3, 3) && has(res.dirty, 3, 4));
	CHECK_INT(res.n_removed, 0);
	CHECK_INT(inode_of(t, "/a/f"), 0);
	CHECK_INT(inode_of(t, "/b/g"), 4);
	CHECK_CONTENT(t, "/b/g", "x");
	char *p = tree_path(t, 4);
	CHECK_STR(p, "/b/g");
	free(p);
	struct tree_attr a;
	CHECK_OK(tree_getattr(t, 2, &a));
	CHECK_INT(a.version, 5);
	CHECK_OK(tree_getattr(t, 4, &a));
	CHECK_INT(a.version, 5);
	CHECK_INT(a.parent, 3);
	tree_free(t);
}

static void test_rename_within_directory_keeps_content(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_CREATE, "/f", "data"));
	struct tree_result res;
	CHECK_OK(apply_full(t, CHANGE_RENAME, "/f", "/g", NULL, 0, &res));
	CHECK_INT(res.n_dirty, 2); /* moved inode + the one directory */
	CHECK_INT(inode_of(t, "/g"), 2);
	CHECK_CONTENT(t, "/g", "data");
	CHECK_INT(inode_of(t, "/f"), 0);
	tree_free(t);
}

static void test_rename_replaces_existing_file(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_CREATE, "/new", "NEW"));
	CHECK_OK(op(t, CHANGE_CREATE, "/cfg", "OLD!"));
	struct tree_result res;
	CHECK_OK(apply_full(t, CHANGE_RENAME, "/new", "/cfg", NULL, 0, &res));
	CHECK_INT(res.n_removed, 1);
	CHECK_INT(res.removed[0], 3);
	CHECK_INT(inode_of(t, "/cfg"), 2);
	CHECK_CONTENT(t, "/cfg", "NEW");
	struct tree_attr a;
	CHECK_INT(tree_getattr(t, 3, &a), -ENOENT);
	size_t inodes, bytes;
	tree_usage(t, &inodes, &bytes);
	CHECK_INT(inodes, 2);
	CHECK_INT(bytes, 3);
	tree_free(t);
}

static void test_rename_empty_directory(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_MKDIR, "/d", NULL));
	CHECK_OK(op(t, CHANGE_MKDIR, "/p", NULL));
	CHECK_OK(op(t, CHANGE_RENAME, "/d", "/p/e"));
	struct tree_attr a;
	CHECK_OK(tree_resolve(t, "/p/e", &a));
	CHECK_INT(a.inode, 2);
	CHECK_INT(a.type, TREE_DIR);
	CHECK_OK(op(t, CHANGE_CREATE, "/p/e/f", "x")); /* still a working directory */
	CHECK_INT(inode_of(t, "/p/e/f"), 5);
	tree_free(t);
}

static void test_rename_directory_after_emptying_it(void)
{
	/* The lazily allocated, now empty entry table moves with the node. */
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_MKDIR, "/d", NULL));
	CHECK_OK(op(t, CHANGE_CREATE, "/d/f", NULL));
	CHECK_OK(op(t, CHANGE_UNLINK, "/d/f", NULL));
	CHECK_OK(op(t, CHANGE_RENAME, "/d", "/renamed"));
	CHECK_OK(op(t, CHANGE_CREATE, "/renamed/g", "y"));
	char *p = tree_path(t, inode_of(t, "/renamed/g"));
	CHECK_STR(p, "/renamed/g");
	free(p);
	tree_free(t);
}

static void test_rename_directory_onto_empty_directory(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_MKDIR, "/d", NULL));
	CHECK_OK(op(t, CHANGE_MKDIR, "/e", NULL));
	struct tree_result res;
	CHECK_OK(apply_full(t, CHANGE_RENAME, "/d", "/e", NULL, 0, &res));
	CHECK_INT(res.n_removed, 1);
	CHECK_INT(res.removed[0], 3);
	CHECK_INT(inode_of(t, "/e"), 2);
	CHECK_INT(inode_of(t, "/d"), 0);
	tree_free(t);
}

static void test_rename_to_itself_is_a_noop_without_version(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_CREATE, "/f", "x"));
	char before[65], after[65];
	tree_checksum(t, before);
	struct tree_result res;
	CHECK_OK(apply_full(t, CHANGE_RENAME, "/f", "/f", NULL, 0, &res));
	CHECK_INT(res.version, 0);
	CHECK_INT(res.n_dirty, 0);
	CHECK_INT(res.n_removed, 0);
	CHECK_INT(res.inode, 2);
	CHECK_INT(tree_version(t), 2);
	tree_checksum(t, after);
	CHECK_STR(after, before);
	tree_free(t);
}

static void test_mtime_sets_mtime_and_bumps_version(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_CREATE, "/f", "x"));
	struct tree_attr root_before, a;
	CHECK_OK(tree_getattr(t, TREE_ROOT_INODE, &root_before));
	struct change c = { .op = CHANGE_MTIME, .writer = 3, .mtime = 42, .path = "/f" };
	struct tree_result res;
	CHECK_OK(tree_apply(t, &c, &res));
	CHECK_INT(res.version, 3);
	CHECK_INT(res.n_dirty, 1);
	CHECK_OK(tree_getattr(t, 2, &a));
	CHECK_INT(a.mtime, 42);
	CHECK_INT(a.version, 3);
	CHECK_INT(a.writer, 3);
	CHECK_OK(tree_getattr(t, TREE_ROOT_INODE, &a));
	CHECK_INT(a.version, root_before.version); /* no entry changed */
	c.path = "/";
	c.mtime = 43;
	CHECK_OK(tree_apply(t, &c, &res));
	CHECK_OK(tree_getattr(t, TREE_ROOT_INODE, &a));
	CHECK_INT(a.mtime, 43);
	CHECK_INT(a.version, 4);
	tree_free(t);
}

static void test_change_op_names(void)
{
	CHECK_STR(change_op_name(CHANGE_CREATE), "create");
	CHECK_STR(change_op_name(CHANGE_WRITE), "write");
	CHECK_STR(change_op_name(CHANGE_MKDIR), "mkdir");
	CHECK_STR(change_op_name(CHANGE_UNLINK), "unlink");
	CHECK_STR(change_op_name(CHANGE_RMDIR), "rmdir");
	CHECK_STR(change_op_name(CHANGE_RENAME), "rename");
	CHECK_STR(change_op_name(CHANGE_MTIME), "mtime");
	CHECK_STR(change_op_name((enum change_op)99), "unknown");
}

/* ---- errors: each leaves the tree untouched ---- */

/* A small populated tree: /d (dir with /d/f), /e (empty dir), /f (file). */
static struct tree *populated(void)
{
	struct tree *t = tree_default();
	if (op(t, CHANGE_MKDIR, "/d", NULL) || op(t, CHANGE_CREATE, "/d/f", "in d") ||
	    op(t, CHANGE_MKDIR, "/e", NULL) || op(t, CHANGE_CREATE, "/f", "top"))
		abort();
	return t;
}

static void test_create_existing_is_eexist(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/f", "again"), EEXIST);
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/d", "again"), EEXIST);
	CHECK_FAILS(t, op(t, CHANGE_MKDIR, "/f", NULL), EEXIST);
	CHECK_FAILS(t, op(t, CHANGE_MKDIR, "/e", NULL), EEXIST);
	tree_free(t);
}

static void test_create_root_is_eexist(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/", "x"), EEXIST);
	CHECK_FAILS(t, op(t, CHANGE_MKDIR, "/", NULL), EEXIST);
	tree_free(t);
}

static void test_create_without_parent_is_enoent(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/nope/x", "x"), ENOENT);
	CHECK_FAILS(t, op(t, CHANGE_MKDIR, "/nope/x", NULL), ENOENT);
	tree_free(t);
}

static void test_create_under_file_is_enotdir(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/f/x", "x"), ENOTDIR);
	CHECK_FAILS(t, op(t, CHANGE_MKDIR, "/f/x/y", NULL), ENOTDIR);
	tree_free(t);
}

static void test_write_missing_is_enoent(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_WRITE, "/missing", "x"), ENOENT);
	tree_free(t);
}

static void test_write_directory_is_eisdir(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_WRITE, "/d", "x"), EISDIR);
	CHECK_FAILS(t, op(t, CHANGE_WRITE, "/", "x"), EISDIR);
	tree_free(t);
}

static void test_unlink_errors(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_UNLINK, "/missing", NULL), ENOENT);
	CHECK_FAILS(t, op(t, CHANGE_UNLINK, "/e", NULL), EISDIR);
	CHECK_FAILS(t, op(t, CHANGE_UNLINK, "/", NULL), EINVAL);
	CHECK_FAILS(t, op(t, CHANGE_UNLINK, "/f/x", NULL), ENOTDIR);
	tree_free(t);
}

static void test_rmdir_errors(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_RMDIR, "/d", NULL), ENOTEMPTY);
	CHECK_FAILS(t, op(t, CHANGE_RMDIR, "/f", NULL), ENOTDIR);
	CHECK_FAILS(t, op(t, CHANGE_RMDIR, "/missing", NULL), ENOENT);
	CHECK_FAILS(t, op(t, CHANGE_RMDIR, "/", NULL), EINVAL);
	tree_free(t);
}

static void test_rename_missing_source_is_enoent(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/missing", "/x"), ENOENT);
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/f", "/nope/x"), ENOENT);
	tree_free(t);
}

static void test_rename_onto_nonempty_directory_is_enotempty(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/e", "/d"), ENOTEMPTY);
	tree_free(t);
}

static void test_rename_directory_onto_file_is_enotdir(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/e", "/f"), ENOTDIR);
	tree_free(t);
}

static void test_rename_file_onto_directory_is_eisdir(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/f", "/e"), EISDIR);
	tree_free(t);
}

static void test_rename_into_own_subtree_is_einval(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/e", "/e/sub"), EINVAL);
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/d", "/d/sub"), EINVAL);
	tree_free(t);
}

static void test_rename_nonempty_directory_is_enotempty(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/d", "/moved"), ENOTEMPTY);
	tree_free(t);
}

static void test_rename_root_is_einval(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/", "/x"), EINVAL);
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/f", "/"), EINVAL);
	tree_free(t);
}

static void test_rename_bad_target_path_is_rejected(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/f", "relative"), EINVAL);
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/f", NULL), EINVAL);
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/f", "/d/.."), EINVAL);
	tree_free(t);
}

static void test_mtime_missing_is_enoent(void)
{
	struct tree *t = populated();
	CHECK_FAILS(t, op(t, CHANGE_MTIME, "/missing", NULL), ENOENT);
	tree_free(t);
}

static void test_unknown_operation_is_einval(void)
{
	struct tree *t = populated();
	struct change c = { .op = (enum change_op)42, .path = "/f" };
	struct tree_result res;
	CHECK_FAILS(t, tree_apply(t, &c, &res), EINVAL);
	tree_free(t);
}

static void test_invalid_paths_are_einval(void)
{
	static const char *const bad[] = {
		"", "x", "relative/path", "//x", "/x/", "/d//f", "/.", "/..", "/d/.", "/d/../f", NULL,
	};
	struct tree *t = populated();
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_FAILS(t, op(t, CHANGE_CREATE, bad[i], "x"), EINVAL);
		CHECK_FAILS(t, op(t, CHANGE_MKDIR, bad[i], NULL), EINVAL);
		CHECK_FAILS(t, op(t, CHANGE_UNLINK, bad[i], NULL), EINVAL);
	}
	struct tree_attr a;
	CHECK_INT(tree_resolve(t, "relative", &a), -EINVAL);
	CHECK_OK(op(t, CHANGE_CREATE, "/.hidden", "dotfiles are fine"));
	CHECK_OK(op(t, CHANGE_CREATE, "/...", "so are three dots"));
	tree_free(t);
}

static void test_long_component_is_enametoolong(void)
{
	struct tree *t = populated();
	char path[300];
	path[0] = '/';
	memset(path + 1, 'n', 256);
	path[257] = '\0';
	CHECK_FAILS(t, op(t, CHANGE_CREATE, path, "x"), ENAMETOOLONG);
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/f", path), ENAMETOOLONG);
	path[256] = '\0'; /* 255 bytes: the limit itself is fine */
	CHECK_OK(op(t, CHANGE_CREATE, path, "x"));
	tree_free(t);
}

static void test_long_path_is_enametoolong(void)
{
	/* 15 directories of 255 bytes: "/" + 255 each = 3840 bytes. */
	struct tree *t = tree_default();
	char path[5000] = "";
	size_t len = 0;
	for (int i = 0; i < 15; i++) {
		path[len++] = '/';
		memset(path + len, 'a' + i, 255);
		len += 255;
		path[len] = '\0';
		CHECK_OK(op(t, CHANGE_MKDIR, path, NULL));
	}
	/* 3840 + "/" + 255 = 4096 bytes: one more than PATH_MAX allows. */
	path[len] = '/';
	memset(path + len + 1, 'z', 255);
	path[len + 256] = '\0';
	CHECK_FAILS(t, op(t, CHANGE_CREATE, path, "x"), ENAMETOOLONG);
	path[len + 255] = '\0'; /* 4095 bytes: fits */
	CHECK_OK(op(t, CHANGE_CREATE, path, "x"));
	char *back = tree_path(t, inode_of(t, path));
	CHECK_STR(back, path);
	free(back);
	tree_free(t);
}

/* ---- expect_version ---- */

static void test_expect_version_match_applies(void)
{
	struct tree *t = populated();
	struct tree_attr a;
	CHECK_OK(tree_resolve(t, "/f", &a));
	CHECK_OK(apply_full(t, CHANGE_WRITE, "/f", NULL, "v2", a.version, NULL));
	CHECK_CONTENT(t, "/f", "v2");
	tree_free(t);
}

static void test_expect_version_mismatch_is_estale(void)
{
	struct tree *t = populated();
	struct tree_attr a;
	CHECK_OK(tree_resolve(t, "/f", &a));
	uint64_t stale = a.version - 1;
	CHECK_FAILS(t, apply_full(t, CHANGE_WRITE, "/f", NULL, "v2", stale, NULL), ESTALE);
	CHECK_FAILS(t, apply_full(t, CHANGE_UNLINK, "/f", NULL, NULL, stale, NULL), ESTALE);
	CHECK_FAILS(t, apply_full(t, CHANGE_RENAME, "/f", "/g", NULL, stale, NULL), ESTALE);
	CHECK_FAILS(t, apply_full(t, CHANGE_MTIME, "/f", NULL, NULL, stale, NULL), ESTALE);
	CHECK_FAILS(t, apply_full(t, CHANGE_RMDIR, "/e", NULL, NULL, 1, NULL), ESTALE);
	/* Expecting a version of something that does not exist. */
	CHECK_FAILS(t, apply_full(t, CHANGE_CREATE, "/new", NULL, "x", 5, NULL), ESTALE);
	CHECK_CONTENT(t, "/f", "top");
	tree_free(t);
}

/* ---- limits ---- */

static void test_file_over_max_size_is_efbig(void)
{
	struct tree *t = tree_with(4, 1000, 100);
	CHECK_OK(op(t, CHANGE_CREATE, "/ok", "1234"));
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/big", "12345"), EFBIG);
	CHECK_FAILS(t, op(t, CHANGE_WRITE, "/ok", "12345"), EFBIG);
	CHECK_CONTENT(t, "/ok", "1234");
	tree_free(t);
}

static void test_total_size_over_limit_is_enospc(void)
{
	struct tree *t = tree_with(100, 10, 100);
	CHECK_OK(op(t, CHANGE_CREATE, "/a", "123456"));
	CHECK_OK(op(t, CHANGE_CREATE, "/b", "1234")); /* exactly 10 */
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/c", "1"), ENOSPC);
	CHECK_FAILS(t, op(t, CHANGE_WRITE, "/b", "12345"), ENOSPC);
	CHECK_OK(op(t, CHANGE_WRITE, "/b", "1"));  /* shrinking frees space */
	CHECK_OK(op(t, CHANGE_CREATE, "/c", "123"));
	size_t bytes;
	tree_usage(t, NULL, &bytes);
	CHECK_INT(bytes, 10);
	CHECK_OK(op(t, CHANGE_UNLINK, "/a", NULL));
	tree_usage(t, NULL, &bytes);
	CHECK_INT(bytes, 4);
	tree_free(t);
}

static void test_inode_count_over_limit_is_enospc(void)
{
	struct tree *t = tree_with(100, 1000, 3); /* root + 2 */
	CHECK_OK(op(t, CHANGE_MKDIR, "/d", NULL));
	CHECK_OK(op(t, CHANGE_CREATE, "/d/f", "x"));
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/g", "x"), ENOSPC);
	CHECK_FAILS(t, op(t, CHANGE_MKDIR, "/e", NULL), ENOSPC);
	/* Replacing and writing need no new inode. */
	CHECK_OK(op(t, CHANGE_WRITE, "/d/f", "y"));
	CHECK_OK(op(t, CHANGE_UNLINK, "/d/f", NULL));
	CHECK_OK(op(t, CHANGE_MKDIR, "/e", NULL));
	size_t inodes;
	tree_usage(t, &inodes, NULL);
	CHECK_INT(inodes, 3);
	tree_free(t);
}

/* ---- guest ids ---- */

static void test_path_vmid_recognises_guest_configs(void)
{
	uint32_t vmid = 0;
	CHECK(tree_path_vmid("/nodes/n1/qemu-server/100.conf", &vmid));
	CHECK_INT(vmid, 100);
	CHECK(tree_path_vmid("/nodes/n2/lxc/999999999.conf", &vmid));
	CHECK_INT(vmid, 999999999);
	CHECK(tree_path_vmid("/nodes/n2/lxc/1.conf", &vmid));
	CHECK_INT(vmid, 1);
	CHECK(!tree_path_vmid("/nodes/n1/qemu-server/0100.conf", &vmid));
	CHECK(!tree_path_vmid("/nodes/n1/qemu-server/0.conf", &vmid));
	CHECK(!tree_path_vmid("/nodes/n1/qemu-server/1000000000.conf", &vmid));
	CHECK(!tree_path_vmid("/nodes/n1/qemu-server/100.conf.tmp", &vmid));
	CHECK(!tree_path_vmid("/nodes/n1/qemu-server/100.state", &vmid));
	CHECK(!tree_path_vmid("/nodes/n1/qemu-server/abc.conf", &vmid));
	CHECK(!tree_path_vmid("/nodes/n1/qemu-server/.conf", &vmid));
	CHECK(!tree_path_vmid("/nodes/n1/openvz/100.conf", &vmid));
	CHECK(!tree_path_vmid("/nodes//qemu-server/100.conf", &vmid));
	CHECK(!tree_path_vmid("/nodes/n1/x/qemu-server/100.conf", &vmid));
	CHECK(!tree_path_vmid("/qemu-server/100.conf", &vmid));
	CHECK(!tree_path_vmid(NULL, &vmid));
}

/* /nodes/{a,b}/{qemu-server,lxc}, and VM 100 on node a. */
static struct tree *cluster_tree(void)
{
	static const char *const dirs[] = {
		"/nodes", "/nodes/a", "/nodes/a/qemu-server", "/nodes/a/lxc",
		"/nodes/b", "/nodes/b/qemu-server", "/nodes/b/lxc",
	};
	struct tree *t = tree_default();
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (op(t, CHANGE_MKDIR, dirs[i], NULL))
			abort();
	if (op(t, CHANGE_CREATE, "/nodes/a/qemu-server/100.conf", "memory: 512\n"))
		abort();
	return t;
}

static void test_duplicate_vmid_on_other_node_is_eexist(void)
{
	struct tree *t = cluster_tree();
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/nodes/b/qemu-server/100.conf", "x"), EEXIST);
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/nodes/b/lxc/100.conf", "x"), EEXIST);
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/nodes/a/lxc/100.conf", "x"), EEXIST);
	CHECK_OK(op(t, CHANGE_CREATE, "/nodes/b/qemu-server/101.conf", "x"));
	CHECK_OK(op(t, CHANGE_CREATE, "/nodes/b/qemu-server/100.state", "running"));
	tree_free(t);
}

static void test_rename_onto_taken_vmid_is_eexist(void)
{
	struct tree *t = cluster_tree();
	CHECK_OK(op(t, CHANGE_CREATE, "/nodes/b/qemu-server/101.conf", "x"));
	CHECK_OK(op(t, CHANGE_CREATE, "/nodes/b/tmp", "x"));
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/nodes/b/qemu-server/101.conf",
			  "/nodes/b/qemu-server/100.conf"), EEXIST);
	CHECK_FAILS(t, op(t, CHANGE_RENAME, "/nodes/b/tmp", "/nodes/b/lxc/100.conf"), EEXIST);
	tree_free(t);
}

static void test_migration_rename_keeps_vmid(void)
{
	struct tree *t = cluster_tree();
	uint64_t inode = inode_of(t, "/nodes/a/qemu-server/100.conf");
	CHECK_OK(op(t, CHANGE_RENAME, "/nodes/a/qemu-server/100.conf",
		    "/nodes/b/qemu-server/100.conf"));
	CHECK_INT(inode_of(t, "/nodes/b/qemu-server/100.conf"), inode);
	CHECK_INT(inode_of(t, "/nodes/a/qemu-server/100.conf"), 0);
	CHECK_CONTENT(t, "/nodes/b/qemu-server/100.conf", "memory: 512\n");
	/* ...and the id is free again on node a only after it moved away. */
	CHECK_FAILS(t, op(t, CHANGE_CREATE, "/nodes/a/qemu-server/100.conf", "x"), EEXIST);
	tree_free(t);
}

static void test_atomic_save_of_guest_config_replaces_it(void)
{
	/* Editors write a temporary file and rename it over the config. */
	struct tree *t = cluster_tree();
	CHECK_OK(op(t, CHANGE_CREATE, "/nodes/a/qemu-server/.100.conf.tmp", "memory: 1024\n"));
	CHECK_OK(op(t, CHANGE_RENAME, "/nodes/a/qemu-server/.100.conf.tmp",
		    "/nodes/a/qemu-server/100.conf"));
	CHECK_CONTENT(t, "/nodes/a/qemu-server/100.conf", "memory: 1024\n");
	tree_free(t);
}

static void test_vmid_is_free_after_unlink(void)
{
	struct tree *t = cluster_tree();
	CHECK_OK(op(t, CHANGE_UNLINK, "/nodes/a/qemu-server/100.conf", NULL));
	CHECK_OK(op(t, CHANGE_CREATE, "/nodes/b/lxc/100.conf", "x"));
	tree_free(t);
}

/* ---- determinism ---- */

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Applies `n` pseudo-random changes over a small name space, so that every
 * operation both succeeds and fails often.  Returns the number applied, or
 * -1 if a failed change moved the version. */
static long random_changes(struct tree *t, uint64_t seed, int n)
{
	static const char *const paths[] = {
		"/a", "/b", "/c", "/a/x", "/a/y", "/b/x", "/b/z", "/c/x", "/a/x/p", "/b/z/q",
		"/nodes", "/nodes/n1", "/nodes/n2", "/nodes/n1/qemu-server",
		"/nodes/n2/qemu-server", "/nodes/n1/qemu-server/100.conf",
		"/nodes/n2/qemu-server/100.conf", "/nodes/n2/qemu-server/101.conf",
	};
	uint64_t s = seed * 2654435761u + 1;
	long applied = 0;
	for (int i = 0; i < n; i++) {
		char data[64];
		snprintf(data, sizeof(data), "content %d %" PRIu64, i, rng_next(&s) % 1000);
		struct change c = {
			.op = (enum change_op)(1 + rng_next(&s) % 7),
			.writer = (uint32_t)(rng_next(&s) % 4),
			.mtime = (int64_t)i,
			.path = paths[rng_next(&s) % ARRAY_SIZE(paths)],
			.to = paths[rng_next(&s) % ARRAY_SIZE(paths)],
			.data = data,
			.size = rng_next(&s) % 2 ? strlen(data) : 0,
		};
		uint64_t before = tree_version(t);
		struct tree_result res;
		int r = tree_apply(t, &c, &res);
		if (r == 0 && res.version)
			applied++;
		if (r < 0 && tree_version(t) != before)
			return -1;
	}
	return applied;
}

static void test_same_changes_give_identical_trees(void)
{
	struct tree *a = tree_default(), *b = tree_default();
	long na = random_changes(a, 1, 5000), nb = random_changes(b, 1, 5000);
	CHECK(na > 500);
	CHECK_INT(na, nb);
	CHECK_INT(tree_version(a), tree_version(b));
	char sa[65], sb[65];
	tree_checksum(a, sa);
	tree_checksum(b, sb);
	CHECK_STR(sa, sb);
	CHECK_INT(strlen(sa), 64);
	tree_free(a);
	tree_free(b);
}

static void test_different_changes_give_different_checksums(void)
{
	struct tree *a = tree_default(), *b = tree_default();
	CHECK(random_changes(a, 1, 5000) > 0);
	CHECK(random_changes(b, 2, 5000) > 0);
	char sa[65], sb[65];
	tree_checksum(a, sa);
	tree_checksum(b, sb);
	CHECK(strcmp(sa, sb) != 0);
	tree_free(a);
	tree_free(b);
}

static void test_checksum_covers_mtime_and_content(void)
{
	struct tree *a = tree_default(), *b = tree_default();
	struct change c = { .op = CHANGE_CREATE, .mtime = 5, .path = "/f", .data = "abc", .size = 3 };
	struct tree_result res;
	CHECK_OK(tree_apply(a, &c, &res));
	c.mtime = 6;
	CHECK_OK(tree_apply(b, &c, &res));
	char sa[65], sb[65];
	tree_checksum(a, sa);
	tree_checksum(b, sb);
	CHECK(strcmp(sa, sb) != 0);
	tree_free(b);
	CHECK_OK(tree_new(NULL, &b));
	c.mtime = 5;
	c.data = "abd";
	CHECK_OK(tree_apply(b, &c, &res));
	tree_checksum(b, sb);
	CHECK(strcmp(sa, sb) != 0);
	tree_free(a);
	tree_free(b);
}

/* ---- listing and walking ---- */

struct names {
	char buf[256];
	int calls;
	int stop_after;
};

static int collect_name(void *ctx, const char *name, const struct tree_attr *attr)
{
	struct names *n = ctx;
	strcat(n->buf, name);
	strcat(n->buf, attr->type == TREE_DIR ? "/ " : " ");
	return ++n->calls == n->stop_after ? 99 : 0;
}

static void test_list_is_in_name_order(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_CREATE, "/b", "x"));
	CHECK_OK(op(t, CHANGE_MKDIR, "/a", NULL));
	CHECK_OK(op(t, CHANGE_CREATE, "/C", "x"));
	CHECK_OK(op(t, CHANGE_CREATE, "/aa", "x"));
	struct names n = { .buf = "" };
	CHECK_OK(tree_list(t, TREE_ROOT_INODE, collect_name, &n));
	CHECK_STR(n.buf, "C a/ aa b ");
	struct names stop = { .buf = "", .stop_after = 2 };
	CHECK_INT(tree_list(t, TREE_ROOT_INODE, collect_name, &stop), 99);
	CHECK_STR(stop.buf, "C a/ ");
	struct names empty = { .buf = "" };
	CHECK_OK(tree_list(t, inode_of(t, "/a"), collect_name, &empty));
	CHECK_INT(empty.calls, 0);
	CHECK_INT(tree_list(t, inode_of(t, "/b"), collect_name, &n), -ENOTDIR);
	CHECK_INT(tree_list(t, 999, collect_name, &n), -ENOENT);
	tree_free(t);
}

static void test_lookup_by_parent_and_name(void)
{
	struct tree *t = populated();
	struct tree_attr a;
	CHECK_OK(tree_lookup(t, TREE_ROOT_INODE, "d", &a));
	CHECK_INT(a.type, TREE_DIR);
	CHECK_OK(tree_lookup(t, a.inode, "f", &a));
	CHECK_INT(a.size, 4);
	CHECK_INT(tree_lookup(t, TREE_ROOT_INODE, "zz", &a), -ENOENT);
	CHECK_INT(tree_lookup(t, inode_of(t, "/f"), "x", &a), -ENOTDIR);
	CHECK_INT(tree_lookup(t, 12345, "x", &a), -ENOENT);
	CHECK_INT(tree_resolve(t, "/f/x", &a), -ENOTDIR);
	CHECK(tree_path(t, 12345) == NULL);
	tree_free(t);
}

struct walk_log {
	uint64_t last;
	int count;
	bool ordered;
};

static int walk_check_order(void *ctx, const struct tree_attr *attr, const char *name,
			    const struct tree_blob *blob)
{
	struct walk_log *w = ctx;
	if (attr->inode <= w->last || attr->inode == TREE_ROOT_INODE ||
	    (attr->type == TREE_FILE) != (blob != NULL))
		w->ordered = false;
	w->last = attr->inode;
	w->count++;
	return 0;
}

static void test_walk_is_in_inode_order_without_root(void)
{
	struct tree *t = tree_default();
	CHECK(random_changes(t, 3, 2000) > 0);
	struct walk_log w = { .ordered = true };
	CHECK_OK(tree_walk(t, walk_check_order, &w));
	CHECK(w.ordered);
	size_t inodes;
	tree_usage(t, &inodes, NULL);
	CHECK_INT(w.count, inodes - 1);
	tree_free(t);
}

/* ---- loading ---- */

static int copy_into(void *ctx, const struct tree_attr *attr, const char *name,
		     const struct tree_blob *blob)
{
	return tree_load_node(ctx, attr, name, blob ? blob->data : NULL, blob ? blob->size : 0);
}

static int load_root_attrs(struct tree *from, struct tree *to)
{
	struct tree_attr root;
	int r = tree_getattr(from, TREE_ROOT_INODE, &root);
	return r < 0 ? r : tree_load_node(to, &root, "", NULL, 0);
}

static void test_load_round_trip_gives_same_checksum(void)
{
	struct tree *a = tree_default(), *b = tree_default();
	CHECK(random_changes(a, 4, 3000) > 0);
	CHECK_OK(tree_walk(a, copy_into, b));
	CHECK_OK(load_root_attrs(a, b));
	CHECK_OK(tree_load_finish(b, tree_version(a)));
	char sa[65], sb[65];
	tree_checksum(a, sa);
	tree_checksum(b, sb);
	CHECK_STR(sb, sa);
	size_t ia, ba, ib, bb;
	tree_usage(a, &ia, &ba);
	tree_usage(b, &ib, &bb);
	CHECK_INT(ib, ia);
	CHECK_INT(bb, ba);
	/* The loaded tree keeps working, identically. */
	CHECK(random_changes(a, 5, 500) >= 0);
	CHECK(random_changes(b, 5, 500) >= 0);
	tree_checksum(a, sa);
	tree_checksum(b, sb);
	CHECK_STR(sb, sa);
	tree_free(a);
	tree_free(b);
}

struct node_row {
	struct tree_attr attr;
	char name[64];
	char data[64];
};

static int collect_rows(void *ctx, const struct tree_attr *attr, const char *name,
			const struct tree_blob *blob)
{
	struct node_row **rows = ctx;
	struct node_row *r = (*rows)++;
	r->attr = *attr;
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->data, sizeof(r->data), "%.*s", blob ? (int)blob->size : 0,
		 blob ? blob->data : "");
	return 0;
}

static void test_load_accepts_children_before_parents(void)
{
	struct tree *a = populated(), *b = tree_default();
	CHECK_OK(op(a, CHANGE_MKDIR, "/d/sub", NULL));
	CHECK_OK(op(a, CHANGE_CREATE, "/d/sub/deep", "deep"));
	struct node_row rows[16], *end = rows;
	CHECK_OK(tree_walk(a, collect_rows, &end));
	for (struct node_row *r = end; r-- > rows;)
		CHECK_OK(tree_load_node(b, &r->attr, r->name, r->data, strlen(r->data)));
	CHECK_OK(load_root_attrs(a, b));
	CHECK_OK(tree_load_finish(b, tree_version(a)));
	char sa[65], sb[65];
	tree_checksum(a, sa);
	tree_checksum(b, sb);
	CHECK_STR(sb, sa);
	CHECK_CONTENT(b, "/d/sub/deep", "deep");
	tree_free(a);
	tree_free(b);
}

static void test_load_finish_of_nothing_is_an_empty_tree(void)
{
	struct tree *t = tree_default(), *fresh = tree_default();
	CHECK_OK(tree_load_finish(t, 1));
	char s1[65], s2[65];
	tree_checksum(t, s1);
	tree_checksum(fresh, s2);
	CHECK_STR(s1, s2);
	tree_free(t);
	tree_free(fresh);
}

static void test_apply_while_loading_is_ebusy(void)
{
	struct tree *t = tree_default();
	struct tree_attr d = { .inode = 2, .parent = 1, .version = 2, .type = TREE_DIR };
	CHECK_OK(tree_load_node(t, &d, "d", NULL, 0));
	CHECK_INT(op(t, CHANGE_MKDIR, "/x", NULL), -EBUSY);
	CHECK_OK(tree_load_finish(t, 2));
	CHECK_OK(op(t, CHANGE_MKDIR, "/x", NULL));
	CHECK_INT(tree_load_node(t, &d, "e", NULL, 0), -EBUSY);
	tree_free(t);
}

/* Loads rows and finishes at `version`; returns finish's result and checks
 * that a failed load leaves a valid empty tree. */
static int load_rows(const struct tree_attr *attrs, const char *const *names, int n,
		     uint64_t version, bool *left_empty)
{
	struct tree *t = tree_default();
	for (int i = 0; i < n; i++)
		(void)tree_load_node(t, &attrs[i], names[i], attrs[i].type == TREE_FILE ? "x" : NULL,
				     attrs[i].type == TREE_FILE ? 1 : 0);
	int r = tree_load_finish(t, version);
	size_t inodes, bytes;
	tree_usage(t, &inodes, &bytes);
	*left_empty = tree_version(t) == 1 && inodes == 1 && bytes == 0;
	tree_free(t);
	return r;
}

#define DIR_ROW(i, p, v) { .inode = (i), .parent = (p), .version = (v), .type = TREE_DIR }
#define FILE_ROW(i, p, v) { .inode = (i), .parent = (p), .version = (v), .type = TREE_FILE, .size = 1 }

static void test_load_valid_rows_succeed(void)
{
	struct tree_attr rows[] = { DIR_ROW(2, 1, 2), FILE_ROW(3, 2, 3) };
	const char *names[] = { "d", "f" };
	bool empty;
	CHECK_OK(load_rows(rows, names, 2, 3, &empty));
	CHECK(!empty);
}

static void test_load_missing_parent_is_euclean(void)
{
	struct tree_attr rows[] = { DIR_ROW(2, 1, 2), FILE_ROW(3, 9, 3) };
	const char *names[] = { "d", "f" };
	bool empty;
	CHECK_INT(load_rows(rows, names, 2, 10, &empty), -EUCLEAN);
	CHECK(empty);
}

static void test_load_parent_that_is_a_file_is_euclean(void)
{
	struct tree_attr rows[] = { FILE_ROW(2, 1, 2), FILE_ROW(3, 2, 3) };
	const char *names[] = { "f", "g" };
	bool empty;
	CHECK_INT(load_rows(rows, names, 2, 3, &empty), -EUCLEAN);
	CHECK(empty);
}

static void test_load_duplicate_name_is_euclean(void)
{
	struct tree_attr rows[] = { FILE_ROW(2, 1, 2), FILE_ROW(3, 1, 3) };
	const char *names[] = { "same", "same" };
	bool empty;
	CHECK_INT(load_rows(rows, names, 2, 3, &empty), -EUCLEAN);
	CHECK(empty);
}

static void test_load_cycle_is_euclean(void)
{
	struct tree_attr rows[] = { DIR_ROW(2, 3, 2), DIR_ROW(3, 2, 3), DIR_ROW(4, 4, 4) };
	const char *names[] = { "a", "b", "self" };
	bool empty;
	CHECK_INT(load_rows(rows, names, 2, 4, &empty), -EUCLEAN);
	CHECK(empty);
	CHECK_INT(load_rows(rows + 2, names + 2, 1, 4, &empty), -EUCLEAN);
	CHECK(empty);
}

static void test_load_version_newer_than_tree_is_euclean(void)
{
	struct tree_attr rows[] = { DIR_ROW(2, 1, 2), FILE_ROW(3, 2, 9) };
	const char *names[] = { "d", "f" };
	bool empty;
	CHECK_INT(load_rows(rows, names, 2, 5, &empty), -EUCLEAN);
	CHECK(empty);
	/* An inode above the version would collide with a future create. */
	struct tree_attr high[] = { FILE_ROW(7, 1, 2) };
	CHECK_INT(load_rows(high, names, 1, 5, &empty), -EUCLEAN);
	/* And the root's own version counts too. */
	struct tree_attr root[] = { DIR_ROW(1, 0, 8) };
	const char *root_name[] = { "" };
	CHECK_INT(load_rows(root, root_name, 1, 5, &empty), -EUCLEAN);
}

static void test_load_duplicate_inode_is_euclean(void)
{
	struct tree *t = tree_default();
	struct tree_attr f = FILE_ROW(2, 1, 2);
	CHECK_OK(tree_load_node(t, &f, "f", "x", 1));
	CHECK_INT(tree_load_node(t, &f, "g", "x", 1), -EUCLEAN);
	CHECK_INT(tree_load_finish(t, 5), -EUCLEAN);
	CHECK_INT(tree_version(t), 1);
	tree_free(t);
}

static void test_load_malformed_rows_are_euclean(void)
{
	struct tree *t = tree_default();
	struct tree_attr root_file = FILE_ROW(1, 0, 1);
	struct tree_attr orphan = FILE_ROW(2, 0, 2);
	struct tree_attr zero = FILE_ROW(0, 1, 2);
	struct tree_attr badtype = { .inode = 2, .parent = 1, .version = 2, .type = 9 };
	struct tree_attr f = FILE_ROW(2, 1, 2);
	CHECK_INT(tree_load_node(t, &root_file, "", "x", 1), -EUCLEAN);
	CHECK_INT(tree_load_node(t, &orphan, "o", "x", 1), -EUCLEAN);
	CHECK_INT(tree_load_node(t, &zero, "z", "x", 1), -EUCLEAN);
	CHECK_INT(tree_load_node(t, &badtype, "b", NULL, 0), -EUCLEAN);
	CHECK_INT(tree_load_node(t, &f, "a/b", "x", 1), -EUCLEAN);
	CHECK_INT(tree_load_node(t, &f, "..", "x", 1), -EUCLEAN);
	CHECK_INT(tree_load_node(t, &f, "", "x", 1), -EUCLEAN);
	CHECK_INT(tree_load_node(t, &f, "f", "xy", 2), -EUCLEAN); /* size disagrees */
	CHECK_INT(tree_load_finish(t, 5), -EUCLEAN);
	tree_free(t);
}

/* ---- blobs and swapping ---- */

static void test_blob_survives_a_write(void)
{
	struct tree *t = tree_default();
	CHECK_OK(op(t, CHANGE_CREATE, "/f", "old content"));
	struct tree_blob *snap = NULL;
	CHECK_OK(tree_get_blob(t, 2, &snap));
	CHECK_OK(op(t, CHANGE_WRITE, "/f", "new"));
	CHECK_OK(op(t, CHANGE_UNLINK, "/f", NULL));
	CHECK_INT(snap->size, 11);
	CHECK(memcmp(snap->data, "old content", 11) == 0);
	CHECK_INT(__atomic_load_n(&snap->refs, __ATOMIC_RELAXED), 1);
	tree_blob_unref(snap);
	tree_free(t);
}

static void test_blob_refcount(void)
{
	struct tree_blob *b = tree_blob_new("abc", 3);
	CHECK(b != NULL);
	CHECK_INT(b->refs, 1);
	CHECK(tree_blob_ref(b) == b);
	CHECK_INT(b->refs, 2);
	tree_blob_unref(b);
	CHECK_INT(b->refs, 1);
	tree_blob_unref(b);
	tree_blob_unref(NULL);
	CHECK(tree_blob_ref(NULL) == NULL);
}

static void test_swap_exchanges_contents(void)
{
	struct tree *a = populated(), *b = tree_default();
	CHECK_OK(op(b, CHANGE_CREATE, "/only-in-b", "b"));
	char sa[65], sb[65], after_a[65], after_b[65];
	tree_checksum(a, sa);
	tree_checksum(b, sb);
	uint64_t va = tree_version(a), vb = tree_version(b);
	tree_swap(a, b);
	tree_checksum(a, after_a);
	tree_checksum(b, after_b);
	CHECK_STR(after_a, sb);
	CHECK_STR(after_b, sa);
	CHECK_INT(tree_version(a), vb);
	CHECK_INT(tree_version(b), va);
	CHECK_CONTENT(a, "/only-in-b", "b");
	CHECK_CONTENT(b, "/f", "top");
	tree_swap(b, a); /* either argument order */
	tree_checksum(a, after_a);
	CHECK_STR(after_a, sa);
	tree_swap(a, a);
	tree_checksum(a, after_a);
	CHECK_STR(after_a, sa);
	tree_free(a);
	tree_free(b);
}

/* ---- concurrency ---- */

struct reader {
	struct tree *tree;
	volatile int stop;
	long reads;
};

static int count_entry(void *ctx, const char *name, const struct tree_attr *attr)
{
	struct reader *r = ctx;
	struct tree_blob *b = NULL;
	if (attr->type == TREE_FILE && tree_get_blob(r->tree, attr->inode, &b) == 0)
		tree_blob_unref(b);
	__atomic_add_fetch(&r->reads, 1, __ATOMIC_RELAXED);
	return 0;
}

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		struct tree_attr a;
		if (tree_resolve(r->tree, "/a", &a) == 0 && a.type == TREE_DIR)
			tree_list(r->tree, a.inode, count_entry, r);
		tree_list(r->tree, TREE_ROOT_INODE, count_entry, r);
		char *p = tree_path(r->tree, tree_version(r->tree));
		free(p);
	}
	return NULL;
}

static void test_readers_run_alongside_apply(void)
{
	struct tree *t = tree_default(), *serial = tree_default();
	struct reader r = { .tree = t };
	pthread_t threads[2];
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_create(&threads[i], NULL, read_loop, &r));
	long applied = random_changes(t, 6, 3000);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	CHECK(applied > 0);
	CHECK_INT(random_changes(serial, 6, 3000), applied);
	char a[65], b[65];
	tree_checksum(t, a);
	tree_checksum(serial, b);
	CHECK_STR(a, b);
	tree_free(t);
	tree_free(serial);
}

static const struct test tests[] = {
	TEST(test_empty_tree_is_root_at_version_1),
	TEST(test_create_file_gets_next_version_as_inode),
	TEST(test_create_empty_file),
	TEST(test_mkdir_creates_directory),
	TEST(test_write_replaces_content_and_keeps_inode),
	TEST(test_unlink_removes_file),
	TEST(test_rmdir_removes_empty_directory),
	TEST(test_rename_moves_file_and_keeps_inode),
	TEST(test_rename_within_directory_keeps_content),
	TEST(test_rename_replaces_existing_file),
	TEST(test_rename_empty_directory),
	TEST(test_rename_directory_after_emptying_it),
	TEST(test_rename_directory_onto_empty_directory),
	TEST(test_rename_to_itself_is_a_noop_without_version),
	TEST(test_mtime_sets_mtime_and_bumps_version),
	TEST(test_change_op_names),
	TEST(test_create_existing_is_eexist),
	TEST(test_create_root_is_eexist),
	TEST(test_create_without_parent_is_enoent),
	TEST(test_create_under_file_is_enotdir),
	TEST(test_write_missing_is_enoent),
	TEST(test_write_directory_is_eisdir),
	TEST(test_unlink_errors),
	TEST(test_rmdir_errors),
	TEST(test_rename_missing_source_is_enoent),
	TEST(test_rename_onto_nonempty_directory_is_enotempty),
	TEST(test_rename_directory_onto_file_is_enotdir),
	TEST(test_rename_file_onto_directory_is_eisdir),
	TEST(test_rename_into_own_subtree_is_einval),
	TEST(test_rename_nonempty_directory_is_enotempty),
	TEST(test_rename_root_is_einval),
	TEST(test_rename_bad_target_path_is_rejected),
	TEST(test_mtime_missing_is_enoent),
	TEST(test_unknown_operation_is_einval),
	TEST(test_invalid_paths_are_einval),
	TEST(test_long_component_is_enametoolong),
	TEST(test_long_path_is_enametoolong),
	TEST(test_expect_version_match_applies),
	TEST(test_expect_version_mismatch_is_estale),
	TEST(test_file_over_max_size_is_efbig),
	TEST(test_total_size_over_limit_is_enospc),
	TEST(test_inode_count_over_limit_is_enospc),
	TEST(test_path_vmid_recognises_guest_configs),
	TEST(test_duplicate_vmid_on_other_node_is_eexist),
	TEST(test_rename_onto_taken_vmid_is_eexist),
	TEST(test_migration_rename_keeps_vmid),
	TEST(test_atomic_save_of_guest_config_replaces_it),
	TEST(test_vmid_is_free_after_unlink),
	TEST(test_same_changes_give_identical_trees),
	TEST(test_different_changes_give_different_checksums),
	TEST(test_checksum_covers_mtime_and_content),
	TEST(test_list_is_in_name_order),
	TEST(test_lookup_by_parent_and_name),
	TEST(test_walk_is_in_inode_order_without_root),
	TEST(test_load_round_trip_gives_same_checksum),
	TEST(test_load_accepts_children_before_parents),
	TEST(test_load_finish_of_nothing_is_an_empty_tree),
	TEST(test_apply_while_loading_is_ebusy),
	TEST(test_load_valid_rows_succeed),
	TEST(test_load_missing_parent_is_euclean),
	TEST(test_load_parent_that_is_a_file_is_euclean),
	TEST(test_load_duplicate_name_is_euclean),
	TEST(test_load_cycle_is_euclean),
	TEST(test_load_version_newer_than_tree_is_euclean),
	TEST(test_load_duplicate_inode_is_euclean),
	TEST(test_load_malformed_rows_are_euclean),
	TEST(test_blob_survives_a_write),
	TEST(test_blob_refcount),
	TEST(test_swap_exchanges_contents),
	TEST(test_readers_run_alongside_apply),
};

TEST_MAIN(tests)
