/* fs.c - see fs.h.  FUSE3 low-level operations.
 *
 * Discipline (after libfuse's passthrough_ll): every request gets exactly
 * one reply on every path; state is reached through fuse_req_userdata().
 *
 * Inode numbers are the tree's (stable across restarts), so forget() has
 * nothing to do: a request for an inode that is gone gets ENOENT.  Virtual
 * files and symlinks have fixed numbers above the tree's range.
 *
 * Writes are buffered per open file (fs_file.c) and committed as one
 * change at close/fsync.  Kernel caches (entries, attributes, pages,
 * readdir) are kept for cache_timeout seconds and invalidated explicitly
 * after each change (notify.c); page cache reuse on open is allowed only if
 * the file's version is the one last opened. */
#include "fs.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cfs.h"
#include "cleanup.h"
#include "fs_file.h"
#include "fs_path.h"
#include "locks.h"
#include "log.h"
#include "notify.h"
#include "tree.h"
#include "virtual.h"

struct fs {
	struct cfs *cfs;
	struct fuse_session *se;
	double timeout;
	pthread_mutex_t opened_lock;
	GHashTable *opened_version; /* inode -> version when last opened (keep_cache) */
	GHashTable *open_files;     /* inode -> GSList of struct fs_file * with writes */
};

/* An open directory.  Its listing is made at the first readdir, not at
 * opendir: while the kernel's readdir cache is valid, no readdir comes and
 * listing a large directory would be wasted work. */
struct fs_dir {
	uint64_t ino, parent;
	bool listed;
	size_t n;
	struct fs_dir_entry {
		char *name;
		struct stat st;
	} *entries;
};

static struct fs *fs_of(fuse_req_t req) { return fuse_req_userdata(req); }
static bool caller_is_root(fuse_req_t req) { return fuse_req_ctx(req)->uid == 0; }

static int64_t now_seconds(void) { return (int64_t)time(NULL); }

/* ---- attributes ---- */

static void fill_stat(struct fs *fs, const struct tree_attr *a, const char *path, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->inode;
	st->st_mode = fs_path_mode(path, a->type);
	st->st_nlink = a->type == TREE_DIR ? 2 : 1;
	st->st_uid = 0;
	st->st_gid = fs->cfs->www_gid;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_mtime = st->st_ctime = st->st_atime = (time_t)a->mtime;
}

static int virtual_stat(struct fs *fs, size_t i, struct stat *st)
{
	const struct virtual_entry *v = virtual_get(i);
	size_t len = 0;
	_cleanup_free_ char *text = virtual_render(fs->cfs, i, &len);
	if (!text)
		return -ENOMEM;
	memset(st, 0, sizeof(*st));
	st->st_ino = virtual_inode(i);
	st->st_nlink = 1;
	st->st_gid = fs->cfs->www_gid;
	st->st_size = (off_t)len;
	st->st_mtime = st->st_ctime = st->st_atime = fs->cfs->start_time;
	if (v->kind == VIRTUAL_SYMLINK)
		st->st_mode = S_IFLNK | 0777;
	else
		st->st_mode = S_IFREG | (v->writable ? 0640 : 0440);
	return 0;
}

static int inode_stat(struct fs *fs, uint64_t inode, struct stat *st)
{
	if (virtual_is_inode(inode))
		return virtual_stat(fs, (size_t)virtual_index(inode), st);
	struct tree_attr a;
	int r = tree_getattr(fs->cfs->tree, inode, &a);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = tree_path(fs->cfs->tree, inode);
	if (!path)
		return -ENOENT;
	fill_stat(fs, &a, path, st);
	return 0;
}

/* How long the kernel may keep an inode's attributes: private inodes not at
 * all, so that a stat by anyone but root reaches fs_getattr's check. */
static double attr_timeout(const struct fs *fs, const struct stat *st)
{
	return fs_path_mode_is_private(st->st_mode) ? 0 : fs->timeout;
}

static void reply_entry_for(fuse_req_t req, struct fs *fs, uint64_t inode)
{
	struct fuse_entry_param e = { .ino = inode, .entry_timeout = fs->timeout };
	int r = inode_stat(fs, inode, &e.attr);
	e.attr_timeout = attr_timeout(fs, &e.attr);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

/* ---- permissions (see fs_path_check_access) ---- */

static bool caller_in_group(fuse_req_t req, gid_t gid)
{
	if (fuse_req_ctx(req)->gid == gid)
		return true;
	gid_t groups[64];
	int n = fuse_req_getgroups(req, 64, groups);
	for (int i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* 0 if the caller may access inode with mask (R_OK | W_OK | X_OK). */
static int caller_may(fuse_req_t req, struct fs *fs, fuse_ino_t inode, int mask)
{
	bool root = fuse_req_ctx(req)->uid == 0;
	if (root && !(mask & X_OK))
		return 0;
	struct stat st;
	int r = inode_stat(fs, inode, &st);
	if (r < 0)
		return r;
	return fs_path_check_access(st.st_mode, root, !root && caller_in_group(req, st.st_gid), mask);
}

static int open_mask(int flags)
{
	switch (flags & O_ACCMODE) {
	case O_WRONLY: return W_OK;
	case O_RDWR: return R_OK | W_OK;
	default: return R_OK;
	}
}

/* ---- paths and submission ---- */

/* The tree path of parent/name, malloc'd; NULL + *err on failure. */
static char *child_path(struct fs *fs, fuse_ino_t parent, const char *name, int *err)
{
	if (strlen(name) > TREE_NAME_MAX) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	if (virtual_is_inode(parent)) {
		*err = -ENOTDIR;
		return NULL;
	}
	_cleanup_free_ char *dir = tree_path(fs->cfs->tree, parent);
	if (!dir) {
		*err = -ENOENT;
		return NULL;
	}
	char *path = NULL;
	if (asprintf(&path, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name) < 0) {
		*err = -ENOMEM;
		return NULL;
	}
	return path;
}

/* Root-level names that belong to virtual entries can't be created. */
static bool is_reserved(fuse_ino_t parent, const char *name)
{
	return parent == FUSE_ROOT_ID && virtual_find(name) >= 0;
}

/* Requests made by the inotify replay thread (notify.h) describe a change
 * that is already applied: they succeed without submitting anything. */
static bool from_replayer(fuse_req_t req)
{
	return notify_is_replayer(fs_of(req)->cfs->notify, fuse_req_ctx(req)->pid);
}

/* An entry the replay thread must see (an inode possibly not in the tree). */
static void reply_replay_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
			       const struct tree_attr *a, double timeout)
{
	struct fs *fs = fs_of(req);
	int r;
	_cleanup_free_ char *path = child_path(fs, parent, name, &r);
	if (!path) {
		fuse_reply_err(req, -r);
		return;
	}
	struct fuse_entry_param e = { .ino = a->inode, .attr_timeout = timeout, .entry_timeout = timeout };
	fill_stat(fs, a, path, &e.attr);
	fuse_reply_entry(req, &e);
}

static int submit(struct fs *fs, enum change_op op, const char *path, const char *to,
		  const void *data, size_t size)
{
	struct change c = {
		.op = op, .path = path, .to = to, .data = data, .size = size, .mtime = now_seconds(),
	};
	return cfs_submit(fs->cfs, &c);
}

/* Writable open files per inode: utimens arrives without a file handle
 * (the kernel does not pass one), yet must reach pending writes. */
static void track_open_file(struct fs *fs, uint64_t inode, struct fs_file *f, bool add)
{
	pthread_mutex_lock(&fs->opened_lock);
	gpointer key = GSIZE_TO_POINTER((gsize)inode);
	GSList *list = g_hash_table_lookup(fs->open_files, key);
	list = add ? g_slist_prepend(list, f) : g_slist_remove(list, f);
	if (list)
		g_hash_table_insert(fs->open_files, key, list);
	else
		g_hash_table_remove(fs->open_files, key);
	pthread_mutex_unlock(&fs->opened_lock);
}

/* Gives mtime to the pending writes of inode; false if there are none. */
static bool set_pending_mtime(struct fs *fs, uint64_t inode, int64_t mtime)
{
	bool any = false;
	pthread_mutex_lock(&fs->opened_lock);
	for (GSList *l = g_hash_table_lookup(fs->open_files, GSIZE_TO_POINTER((gsize)inode)); l; l = l->next)
		any |= fs_file_set_mtime(l->data, mtime);
	pthread_mutex_unlock(&fs->opened_lock);
	return any;
}

/* ---- operations ---- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	if (parent == FUSE_ROOT_ID) {
		int v = virtual_find(name);
		if (v >= 0) {
			reply_entry_for(req, fs, virtual_inode((size_t)v));
			return;
		}
	}
	if (strlen(name) > TREE_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	struct tree_attr a;
	if (from_replayer(req)) {
		int answer = notify_replay_lookup(fs->cfs->notify, parent, name, &a);
		if (answer == 1) {
			reply_replay_entry(req, parent, name, &a, 0);
			return;
		}
		if (answer == 0) {
			fuse_reply_err(req, ENOENT); /* not cached */
			return;
		}
	}
	int r = caller_is_root(req) ? 0 : caller_may(req, fs, parent, X_OK);
	if (r == 0)
		r = virtual_is_inode(parent) ? -ENOTDIR : tree_lookup(fs->cfs->tree, parent, name, &a);
	if (r == -ENOENT) {
		/* Negative entries are cached too (creations invalidate them),
		 * except in private directories: only root may learn there that
		 * a name does not exist. */
		struct stat dir;
		bool cache = inode_stat(fs, parent, &dir) == 0 && !fs_path_mode_is_private(dir.st_mode);
		struct fuse_entry_param e = { .ino = 0, .entry_timeout = cache ? fs->timeout : 0 };
		fuse_reply_entry(req, &e);
		return;
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	reply_entry_for(req, fs, a.inode);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct stat st;
	int r = inode_stat(fs, ino, &st);
	/* stat needs search permission on the directory holding the inode. */
	struct tree_attr a;
	if (r == 0 && !caller_is_root(req) && !virtual_is_inode(ino) && tree_getattr(fs->cfs->tree, ino, &a) == 0 &&
	    a.parent)
		r = caller_may(req, fs, a.parent, X_OK);
	/* A file replaced by rename while open: answer for the open file. */
	if (r == -ENOENT && fi && fi->fh && !virtual_is_inode(ino) &&
	    fs_file_stat((struct fs_file *)(uintptr_t)fi->fh, &st) == 0)
		r = 0;
	/* The inode was replaced or removed behind a cached name: ESTALE makes
	 * the kernel's path walk retry with a fresh lookup. */
	if (r == -ENOENT)
		r = -ESTALE;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, attr_timeout(fs, &st));
}

/* utimens on a lock directory: mtime 0 asks for removal of an expired lock,
 * any other time renews it (only from the node that holds it). */
static int touch_lock(struct fs *fs, const char *path, const struct tree_attr *a, int64_t mtime)
{
	if (mtime == 0) {
		if (!locks_expired(fs->cfs->locks, path, a->version))
			return -EBUSY;
		struct change c = { .op = CHANGE_RMDIR, .path = path, .expect_version = a->version,
				    .mtime = now_seconds() };
		int r = cfs_submit(fs->cfs, &c);
		if (r == 0)
			notify_forget(fs->cfs->notify, path); /* the kernel saw a setattr, not an rmdir */
		return r == -ESTALE ? -EBUSY : r;
	}
	if (a->writer != fs->cfs->node_id)
		return -EPERM;
	struct change c = { .op = CHANGE_MTIME, .path = path, .mtime = mtime };
	return cfs_submit(fs->cfs, &c);
}

static int set_times(struct fs *fs, const char *path, const struct tree_attr *a,
		     const struct stat *attr, int to_set)
{
	int64_t mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now_seconds() : (int64_t)attr->st_mtime;
	if (a->type == TREE_DIR && locks_is_lock_path(path))
		return touch_lock(fs, path, a, mtime);
	struct change c = { .op = CHANGE_MTIME, .path = path, .mtime = mtime };
	return cfs_submit(fs->cfs, &c);
}

static int check_owner_mode(struct fs *fs, const char *path, const struct tree_attr *a,
			    const struct stat *attr, int to_set)
{
	if ((to_set & FUSE_SET_ATTR_MODE) &&
	    (attr->st_mode & 07777) != (fs_path_mode(path, a->type) & 07777))
		return -EPERM;
	if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != 0)
		return -EPERM;
	if ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->cfs->www_gid)
		return -EPERM;
	return 0;
}

static int truncate_path(struct fs *fs, const char *path, uint64_t inode, off_t size)
{
	if ((size_t)size > tree_get_limits(fs->cfs->tree)->max_file_size)
		return -EFBIG;
	struct tree_blob *blob;
	int r = tree_get_blob(fs->cfs->tree, inode, &blob);
	if (r < 0)
		return r;
	_cleanup_free_ char *data = calloc(1, size ? (size_t)size : 1);
	if (!data) {
		tree_blob_unref(blob);
		return -ENOMEM;
	}
	memcpy(data, blob->data, blob->size < (size_t)size ? blob->size : (size_t)size);
	tree_blob_unref(blob);
	return submit(fs, CHANGE_WRITE, path, NULL, data, (size_t)size);
}

static int setattr_virtual(fuse_ino_t ino, int to_set)
{
	/* `echo 1 > .debug` truncates first: allow that as a no-op. */
	int allowed = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		      FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
	if (to_set & ~allowed)
		return -EPERM;
	return virtual_get((size_t)virtual_index(ino))->writable ? 0 : -EACCES;
}

static int setattr_tree(fuse_req_t req, struct fs *fs, fuse_ino_t ino, const struct stat *attr,
			int to_set, struct fuse_file_info *fi, int64_t *pending_mtime)
{
	struct tree_attr a;
	int r = tree_getattr(fs->cfs->tree, ino, &a);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = tree_path(fs->cfs->tree, ino);
	if (!path)
		return -ENOENT;
	r = check_owner_mode(fs, path, &a, attr, to_set);
	if (r < 0)
		return r;
	bool mutates = to_set & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW);
	if (mutates && !caller_is_root(req))
		return -EACCES;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		size_t max = tree_get_limits(fs->cfs->tree)->max_file_size;
		if (a.type == TREE_DIR)
			r = -EISDIR;
		else if (fi && fi->fh)
			r = fs_file_truncate((struct fs_file *)(uintptr_t)fi->fh, attr->st_size, max);
		else
			r = truncate_path(fs, path, ino, attr->st_size);
		if (r < 0)
			return r;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		/* Writes pending on this open file commit with this mtime
		 * (tar and cp -p set it before close). */
		int64_t mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now_seconds() : (int64_t)attr->st_mtime;
		if (a.type == TREE_FILE && set_pending_mtime(fs, ino, mtime)) {
			*pending_mtime = mtime;
			return 0;
		}
		r = set_times(fs, path, &a, attr, to_set);
	}
	return r;
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct stat before, st;
	int64_t pending_mtime = 0;
	int r = inode_stat(fs, ino, &before);
	if (r == 0 && !from_replayer(req))
		r = virtual_is_inode(ino) ? setattr_virtual(ino, to_set)
					  : setattr_tree(req, fs, ino, attr, to_set, fi, &pending_mtime);
	if (r == 0) {
		r = inode_stat(fs, ino, &st);
		if (r == -ENOENT) { /* an expired lock removed by utime(0) */
			st = before;
			r = 0;
		}
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* Report what the pending commit will store. */
	if (pending_mtime)
		st.st_mtime = st.st_ctime = (time_t)pending_mtime;
	/* An open file being truncated reports its pending size. */
	if ((to_set & FUSE_SET_ATTR_SIZE) && fi && fi->fh && !virtual_is_inode(ino))
		st.st_size = (off_t)fs_file_size((struct fs_file *)(uintptr_t)fi->fh);
	fuse_reply_attr(req, &st, attr_timeout(fs, &st));
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	int v = virtual_index(ino);
	if (v < 0 || virtual_get((size_t)v)->kind != VIRTUAL_SYMLINK) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	size_t len;
	_cleanup_free_ char *target = virtual_render(fs->cfs, (size_t)v, &len);
	if (!target)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_readlink(req, target);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EPERM);
}

/* Shared by mkdir/unlink/rmdir: a change on parent/name, then a reply. */
static int entry_change(fuse_req_t req, fuse_ino_t parent, const char *name, enum change_op op,
			uint64_t *inode)
{
	struct fs *fs = fs_of(req);
	if (!caller_is_root(req))
		return -EACCES;
	if (is_reserved(parent, name))
		return op == CHANGE_MKDIR ? -EEXIST : -EACCES;
	int r;
	_cleanup_free_ char *path = child_path(fs, parent, name, &r);
	if (!path)
		return r;
	r = submit(fs, op, path, NULL, NULL, 0);
	if (r == 0 && inode) {
		struct tree_attr a;
		r = tree_resolve(fs->cfs->tree, path, &a);
		*inode = a.inode;
	}
	return r;
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct tree_attr a;
	if (from_replayer(req)) {
		if (notify_replay_attr(fs_of(req)->cfs->notify, &a) < 0)
			fuse_reply_err(req, EIO);
		else
			reply_replay_entry(req, parent, name, &a, fs_of(req)->timeout);
		return;
	}
	uint64_t inode = 0;
	int r = entry_change(req, parent, name, CHANGE_MKDIR, &inode);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry_for(req, fs_of(req), inode);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (from_replayer(req))
		fuse_reply_err(req, 0);
	else
		fuse_reply_err(req, -entry_change(req, parent, name, CHANGE_UNLINK, NULL));
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (from_replayer(req))
		fuse_reply_err(req, 0);
	else
		fuse_reply_err(req, -entry_change(req, parent, name, CHANGE_RMDIR, NULL));
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	int r = 0;
	if (from_replayer(req)) {
		fuse_reply_err(req, 0);
		return;
	}
	if (!caller_is_root(req))
		r = -EACCES;
	else if (flags & RENAME_EXCHANGE)
		r = -EINVAL;
	else if (is_reserved(parent, name) || is_reserved(newparent, newname))
		r = -EACCES;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	_cleanup_free_ char *from = child_path(fs, parent, name, &r);
	_cleanup_free_ char *to = from ? child_path(fs, newparent, newname, &r) : NULL;
	if (!to) {
		fuse_reply_err(req, -r);
		return;
	}
	struct tree_attr a;
	if ((flags & RENAME_NOREPLACE) && tree_resolve(fs->cfs->tree, to, &a) == 0) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	fuse_reply_err(req, -submit(fs, CHANGE_RENAME, from, to, NULL, 0));
}

/* ---- files ---- */

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* Page cache may be kept only if nothing changed since the last open. */
static bool may_keep_cache(struct fs *fs, uint64_t inode, uint64_t version)
{
	pthread_mutex_lock(&fs->opened_lock);
	gpointer key = GSIZE_TO_POINTER((gsize)inode);
	gpointer old = g_hash_table_lookup(fs->opened_version, key);
	bool keep = old && GPOINTER_TO_SIZE(old) == (gsize)version;
	if (!keep)
		g_hash_table_insert(fs->opened_version, key, GSIZE_TO_POINTER((gsize)version));
	pthread_mutex_unlock(&fs->opened_lock);
	return keep;
}

static int open_virtual(fuse_req_t req, struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	size_t v = (size_t)virtual_index(ino);
	if (wants_write(fi->flags) && !virtual_get(v)->writable)
		return -EACCES;
	struct fs_file *f;
	int r = fs_file_open_virtual(fs->cfs, v, fi->flags, &f);
	if (r < 0)
		return r;
	fi->fh = (uintptr_t)f;
	fi->direct_io = 1;
	fi->noflush = !wants_write(fi->flags);
	fuse_reply_open(req, fi);
	return 0;
}

static int open_tree_file(fuse_req_t req, struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (wants_write(fi->flags) && !caller_is_root(req))
		return -EACCES;
	struct tree_attr a;
	int r = tree_getattr(fs->cfs->tree, ino, &a);
	if (r == -ENOENT)
		return -ESTALE; /* replaced meanwhile: the kernel looks the name up again */
	if (r < 0)
		return r;
	if (a.type == TREE_DIR)
		return -EISDIR;
	_cleanup_free_ char *path = tree_path(fs->cfs->tree, ino);
	if (!path)
		return -ESTALE;
	struct stat st;
	fill_stat(fs, &a, path, &st);
	struct fs_file *f;
	r = fs_file_open(fs->cfs->tree, ino, fi->flags, &st, &f);
	if (r == -ENOENT)
		return -ESTALE; /* replaced since tree_getattr above: look it up again */
	if (r < 0)
		return r;
	fi->fh = (uintptr_t)f;
	if (wants_write(fi->flags))
		track_open_file(fs, ino, f, true);
	/* Writes bypass the page cache: until the commit at close they are
	 * this handle's alone, and readers must not see them. */
	fi->direct_io = wants_write(fi->flags);
	fi->keep_cache = !fi->direct_io && may_keep_cache(fs, ino, a.version);
	/* A reader's close() has nothing to commit: spare it the FLUSH round trip. */
	fi->noflush = !wants_write(fi->flags);
	fuse_reply_open(req, fi);
	return 0;
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int r = caller_may(req, fs, ino, open_mask(fi->flags));
	if (r == 0)
		r = virtual_is_inode(ino) ? open_virtual(req, fs, ino, fi) : open_tree_file(req, fs, ino, fi);
	if (r < 0)
		fuse_reply_err(req, -r);
}

/* The replay of a remote creation: open what is already there. */
static void replay_create(fuse_req_t req, fuse_ino_t parent, const char *name, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct tree_attr a;
	struct fs_file *f = NULL;
	int r = notify_replay_attr(fs->cfs->notify, &a);
	_cleanup_free_ char *path = r == 0 ? child_path(fs, parent, name, &r) : NULL;
	struct fuse_entry_param e = { .ino = a.inode, .attr_timeout = fs->timeout, .entry_timeout = fs->timeout };
	if (r == 0 && (r = tree_getattr(fs->cfs->tree, a.inode, &a)) == 0) {
		fill_stat(fs, &a, path, &e.attr);
		r = fs_file_open(fs->cfs->tree, a.inode, fi->flags & ~O_TRUNC, &e.attr, &f);
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)f;
	fuse_reply_create(req, &e, fi);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	if (from_replayer(req)) {
		replay_create(req, parent, name, fi);
		return;
	}
	int r = caller_is_root(req) ? 0 : -EACCES;
	if (r == 0 && is_reserved(parent, name))
		r = -EEXIST;
	_cleanup_free_ char *path = r == 0 ? child_path(fs, parent, name, &r) : NULL;
	if (r == 0)
		r = submit(fs, CHANGE_CREATE, path, NULL, NULL, 0);
	bool created = r == 0;
	struct tree_attr a;
	if (r == -EEXIST && !(fi->flags & O_EXCL)) {
		/* Lost a race: open what the other creator made.  If the name
		 * is still free, the EEXIST was a duplicate VMID. */
		if (tree_resolve(fs->cfs->tree, path, &a) == 0)
			r = 0;
	}
	if (r == 0)
		r = tree_resolve(fs->cfs->tree, path, &a);
	if (r == 0 && a.type == TREE_DIR)
		r = -EISDIR;
	struct fuse_entry_param e = { .ino = a.inode, .attr_timeout = fs->timeout, .entry_timeout = fs->timeout };
	struct fs_file *f = NULL;
	if (r == 0) {
		fill_stat(fs, &a, path, &e.attr);
		e.attr_timeout = attr_timeout(fs, &e.attr);
		r = fs_file_open(fs->cfs->tree, a.inode, created ? (fi->flags & ~O_TRUNC) : fi->flags, &e.attr, &f);
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)f;
	fi->direct_io = wants_write(fi->flags);
	track_open_file(fs, a.inode, f, true);
	may_keep_cache(fs, a.inode, a.version);
	fuse_reply_create(req, &e, fi);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	_cleanup_free_ char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t n = fs_file_read(f, buf, size, off);
	fuse_reply_buf(req, buf, n);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	int r = fs_file_write(f, buf, size, off, tree_get_limits(fs->cfs->tree)->max_file_size);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
}

/* Commits an open file's writes.  The kernel may hold attributes fetched
 * before the commit gave the file its mtime: drop them now (attributes
 * only, which never blocks), not later from the notify thread. */
static int commit_open_file(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int r = fs_file_commit((struct fs_file *)(uintptr_t)fi->fh, fs->cfs);
	if (r > 0) {
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
		r = 0;
	}
	return r;
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -commit_open_file(fs_of(req), ino, fi));
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -commit_open_file(fs_of(req), ino, fi));
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	/* close() already committed in flush; this catches handles that were
	 * never flushed (e.g. the last mmap reference). */
	commit_open_file(fs, ino, fi);
	if (!virtual_is_inode(ino))
		track_open_file(fs, ino, f, false);
	fs_file_close(f);
	fuse_reply_err(req, 0);
}

/* ---- directories ---- */

struct dir_fill {
	struct fs *fs;
	const char *dir_path;
	GArray *entries;
};

static int dir_fill_one(void *ctx, const char *name, const struct tree_attr *a)
{
	struct dir_fill *d = ctx;
	struct fs_dir_entry e = { .name = strdup(name) };
	if (!e.name)
		return -ENOMEM;
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", strcmp(d->dir_path, "/") == 0 ? "" : d->dir_path, name) < 0) {
		free(e.name);
		return -ENOMEM;
	}
	fill_stat(d->fs, a, path, &e.st);
	g_array_append_val(d->entries, e);
	return 0;
}

static void add_dot_entries(struct dir_fill *d, uint64_t ino, uint64_t parent)
{
	struct fs_dir_entry dot = { .name = strdup(".") }, dotdot = { .name = strdup("..") };
	dot.st.st_ino = ino;
	dot.st.st_mode = S_IFDIR;
	dotdot.st.st_ino = parent ? parent : ino;
	dotdot.st.st_mode = S_IFDIR;
	g_array_append_val(d->entries, dot);
	g_array_append_val(d->entries, dotdot);
}

static void add_virtual_entries(struct dir_fill *d)
{
	for (size_t i = 0; i < virtual_count(); i++) {
		struct fs_dir_entry e = { .name = strdup(virtual_get(i)->name) };
		virtual_stat(d->fs, i, &e.st);
		g_array_append_val(d->entries, e);
	}
}

static void free_dir(struct fs_dir *dir)
{
	if (!dir)
		return;
	for (size_t i = 0; i < dir->n; i++)
		free(dir->entries[i].name);
	free(dir->entries);
	free(dir);
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct tree_attr a;
	int r = virtual_is_inode(ino) ? -ENOTDIR : tree_getattr(fs->cfs->tree, ino, &a);
	if (r == 0 && a.type != TREE_DIR)
		r = -ENOTDIR;
	if (r == 0)
		r = caller_may(req, fs, ino, R_OK);
	struct fs_dir *dir = r == 0 ? calloc(1, sizeof(*dir)) : NULL;
	if (r == 0 && !dir)
		r = -ENOMEM;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	dir->ino = ino;
	dir->parent = a.parent;
	fi->fh = (uintptr_t)dir;
	/* The kernel may serve readdir from its cache while the directory's
	 * version is unchanged (changes made through this kernel drop that
	 * cache themselves; others change the version). */
	fi->cache_readdir = 1;
	fi->keep_cache = may_keep_cache(fs, ino, a.version);
	fuse_reply_open(req, fi);
}

/* Snapshots the directory's entries into dir (once per open handle). */
static int list_dir(struct fs *fs, struct fs_dir *dir)
{
	_cleanup_free_ char *path = tree_path(fs->cfs->tree, dir->ino);
	if (!path)
		return -ENOENT;
	struct dir_fill d = { .fs = fs, .dir_path = path,
			      .entries = g_array_new(FALSE, FALSE, sizeof(struct fs_dir_entry)) };
	add_dot_entries(&d, dir->ino, dir->parent);
	if (dir->ino == FUSE_ROOT_ID)
		add_virtual_entries(&d);
	int r = tree_list(fs->cfs->tree, dir->ino, dir_fill_one, &d);
	dir->n = d.entries->len;
	dir->entries = (struct fs_dir_entry *)(void *)g_array_free(d.entries, FALSE);
	dir->listed = true;
	return r;
}

static void fs_readdir_common(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = fs_of(req);
	struct fs_dir *dir = (struct fs_dir *)(uintptr_t)fi->fh;
	int r = dir->listed ? 0 : list_dir(fs, dir);
	_cleanup_free_ char *buf = r == 0 ? malloc(size) : NULL;
	if (r == 0 && !buf)
		r = -ENOMEM;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	size_t used = 0;
	for (size_t i = (size_t)off; i < dir->n; i++) {
		struct fs_dir_entry *e = &dir->entries[i];
		size_t need;
		if (plus) {
			bool dot = strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0;
			/* "." and ".." carry no entry: the kernel does not look them up. */
			struct fuse_entry_param ep = { .ino = dot ? 0 : e->st.st_ino, .attr = e->st,
						       .attr_timeout = attr_timeout(fs, &e->st),
						       .entry_timeout = fs->timeout };
			ep.attr.st_ino = e->st.st_ino;
			need = fuse_add_direntry_plus(req, buf + used, size - used, e->name, &ep, (off_t)i + 1);
		} else {
			need = fuse_add_direntry(req, buf + used, size - used, e->name, &e->st, (off_t)i + 1);
		}
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	fs_readdir_common(req, size, off, fi, false);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	fs_readdir_common(req, size, off, fi, true);
}

/* access(2), and chdir: the kernel asks because default_permissions is off. */
static void fs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	fuse_reply_err(req, mask == F_OK ? 0 : -caller_may(req, fs_of(req), ino, mask));
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	free_dir((struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	size_t inodes, bytes;
	tree_usage(fs->cfs->tree, &inodes, &bytes);
	const struct tree_limits *l = tree_get_limits(fs->cfs->tree);
	struct statvfs sv = {
		.f_bsize = 4096, .f_frsize = 4096,
		.f_blocks = l->max_total_size / 4096,
		.f_bfree = (l->max_total_size - bytes) / 4096,
		.f_bavail = (l->max_total_size - bytes) / 4096,
		.f_files = l->max_inodes, .f_ffree = l->max_inodes - inodes,
		.f_favail = l->max_inodes - inodes, .f_namemax = TREE_NAME_MAX,
	};
	fuse_reply_statfs(req, &sv);
}

/* ENOSYS makes the kernel stop asking (and report EOPNOTSUPP to callers). */
static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fuse_reply_err(req, ENOSYS);
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	fuse_reply_err(req, ENOSYS);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	fuse_reply_err(req, ENOSYS);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, ENOSYS);
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	fuse_reply_err(req, EOPNOTSUPP);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.symlink = fs_symlink,
	.rename = fs_rename,
	.link = fs_link,
	.open = fs_open,
	.create = fs_create,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.fsync = fs_fsync,
	.release = fs_release,
	.access = fs_access,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.releasedir = fs_releasedir,
	.statfs = fs_statfs,
	.setxattr = fs_setxattr,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
	.fallocate = fs_fallocate,
};

/* ---- session ---- */

int fs_mount(struct cfs *cfs, struct fs **out)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->cfs = cfs;
	fs->timeout = cfs->opt.cache_timeout;
	pthread_mutex_init(&fs->opened_lock, NULL);
	fs->opened_version = g_hash_table_new(g_direct_hash, g_direct_equal);
	fs->open_files = g_hash_table_new(g_direct_hash, g_direct_equal);

	char *argv[] = { "pvecfs", "-o", "fsname=pvecfs,subtype=pvecfs,allow_other", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	fuse_opt_free_args(&args);
	if (!fs->se) {
		fs_unmount(fs);
		return -EIO;
	}
	if (fuse_session_mount(fs->se, cfs->opt.mount) != 0) {
		fs_unmount(fs);
		return -EIO;
	}
	*out = fs;
	return 0;
}

struct fuse_session *fs_session(struct fs *fs) { return fs->se; }

int fs_loop(struct fs *fs)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_idle_threads(cfg, 4);
	fuse_loop_cfg_set_max_threads(cfg, 16);
	int r = fuse_session_loop_mt(fs->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r < 0 ? r : 0;
}

void fs_exit(struct fs *fs)
{
	fuse_session_exit(fs->se);
	/* Workers sleep in read(/dev/fuse): unmounting wakes them (ENODEV). */
	fuse_session_unmount(fs->se);
}

void fs_unmount(struct fs *fs)
{
	if (!fs)
		return;
	if (fs->se) {
		fuse_session_unmount(fs->se);
		fuse_session_destroy(fs->se);
	}
	g_hash_table_destroy(fs->opened_version);
	g_hash_table_destroy(fs->open_files);
	pthread_mutex_destroy(&fs->opened_lock);
	free(fs);
}
