/* fs_file.c - see fs_file.h. */
#include "fs_file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfs.h"
#include "cleanup.h"
#include "tree.h"
#include "virtual.h"

struct fs_file {
	pthread_mutex_t lock;
	struct tree *tree;
	uint64_t inode;
	int virtual_index;      /* -1 for a tree file */
	int flags;
	struct tree_blob *base; /* content at open (reads until the first write) */
	char *buf;              /* private copy once written */
	size_t size, cap;
	bool copied;            /* buf holds the content (base no longer used) */
	bool dirty;             /* buf must be committed */
	bool has_mtime;         /* commit with `mtime` instead of now */
	int64_t mtime;
	struct stat st;         /* attributes at open */
	int error;              /* sticky: a failed write or commit */
};

static int file_new(int flags, struct fs_file **out)
{
	struct fs_file *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	f->flags = flags;
	f->virtual_index = -1;
	*out = f;
	return 0;
}

int fs_file_open(struct tree *t, uint64_t inode, int flags, const struct stat *st, struct fs_file **out)
{
	struct fs_file *f;
	int r = file_new(flags, &f);
	if (r < 0)
		return r;
	f->st = *st;
	f->tree = t;
	f->inode = inode;
	if (flags & O_TRUNC) {
		/* Truncation is a change of its own even if nothing is written. */
		f->copied = true;
		f->dirty = true;
	} else {
		r = tree_get_blob(t, inode, &f->base);
		if (r < 0) {
			fs_file_close(f);
			return r;
		}
		f->size = f->base->size;
	}
	*out = f;
	return 0;
}

int fs_file_open_virtual(struct cfs *cfs, size_t index, int flags, struct fs_file **out)
{
	struct fs_file *f;
	int r = file_new(flags, &f);
	if (r < 0)
		return r;
	f->virtual_index = (int)index;
	size_t len = 0;
	_cleanup_free_ char *text = virtual_render(cfs, index, &len);
	if (!text) {
		fs_file_close(f);
		return -ENOMEM;
	}
	f->base = tree_blob_new(text, len);
	if (!f->base) {
		fs_file_close(f);
		return -ENOMEM;
	}
	f->size = len;
	if (flags & O_TRUNC) {
		f->copied = true;
		f->size = 0;
	}
	*out = f;
	return 0;
}

void fs_file_close(struct fs_file *f)
{
	if (!f)
		return;
	tree_blob_unref(f->base);
	free(f->buf);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static const char *content(struct fs_file *f)
{
	return f->copied ? f->buf : (f->base ? f->base->data : NULL);
}

/* A handle without writes of its own follows the file: every read sees the
 * content of the last commit, like a read of a local file after another
 * process rewrote it (and like the kernel's page cache, which must never
 * be filled with an older version than the one the next opener gets).  If
 * the inode is gone (removed, or replaced by a rename), the handle keeps
 * the last content it saw, as an open unlinked file does. */
static void follow_current_version(struct fs_file *f)
{
	struct tree_blob *current;
	if (f->copied || f->virtual_index >= 0 || tree_get_blob(f->tree, f->inode, &current) < 0)
		return;
	tree_blob_unref(f->base);
	f->base = current;
	f->size = current->size;
}

size_t fs_file_read(struct fs_file *f, char *buf, size_t size, off_t off)
{
	pthread_mutex_lock(&f->lock);
	follow_current_version(f);
	size_t n = 0;
	if ((size_t)off < f->size) {
		n = f->size - (size_t)off < size ? f->size - (size_t)off : size;
		memcpy(buf, content(f) + off, n);
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* Makes buf hold at least `need` bytes of the current content. */
static int ensure_copy(struct fs_file *f, size_t need)
{
	if (need > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		while (cap < need)
			cap *= 2;
		char *nbuf = realloc(f->buf, cap);
		if (!nbuf)
			return -ENOMEM;
		f->buf = nbuf;
		f->cap = cap;
	}
	if (!f->copied) {
		if (f->size)
			memcpy(f->buf, f->base->data, f->size);
		f->copied = true;
	}
	return 0;
}

int fs_file_write(struct fs_file *f, const char *buf, size_t size, off_t off, size_t max_size)
{
	pthread_mutex_lock(&f->lock);
	int r = f->error;
	if (f->flags & O_APPEND)
		off = (off_t)f->size;
	size_t end = (size_t)off + size;
	if (r == 0 && end > max_size)
		r = -EFBIG;
	if (r == 0)
		r = ensure_copy(f, end > f->size ? end : f->size);
	if (r == 0) {
		if ((size_t)off > f->size)
			memset(f->buf + f->size, 0, (size_t)off - f->size);
		memcpy(f->buf + off, buf, size);
		if (end > f->size)
			f->size = end;
		f->dirty = true;
		f->has_mtime = false; /* a write sets the mtime again */
	}
	if (r < 0 && r != -ENOMEM)
		f->error = r;
	pthread_mutex_unlock(&f->lock);
	return r;
}

int fs_file_truncate(struct fs_file *f, off_t size, size_t max_size)
{
	pthread_mutex_lock(&f->lock);
	int r = f->error;
	if (r == 0 && (size < 0 || (size_t)size > max_size))
		r = -EFBIG;
	if (r == 0)
		r = ensure_copy(f, (size_t)size > f->size ? (size_t)size : f->size);
	if (r == 0) {
		if ((size_t)size > f->size)
			memset(f->buf + f->size, 0, (size_t)size - f->size);
		f->size = (size_t)size;
		f->dirty = true;
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

int fs_file_stat(struct fs_file *f, struct stat *st)
{
	pthread_mutex_lock(&f->lock);
	*st = f->st;
	st->st_size = (off_t)f->size;
	if (f->has_mtime)
		st->st_mtime = st->st_ctime = (time_t)f->mtime;
	pthread_mutex_unlock(&f->lock);
	return f->virtual_index >= 0 ? -ENOENT : 0;
}

bool fs_file_set_mtime(struct fs_file *f, int64_t mtime)
{
	pthread_mutex_lock(&f->lock);
	bool pending = f->dirty && !f->error;
	if (pending) {
		f->has_mtime = true;
		f->mtime = mtime;
	}
	pthread_mutex_unlock(&f->lock);
	return pending;
}

size_t fs_file_size(struct fs_file *f)
{
	pthread_mutex_lock(&f->lock);
	size_t n = f->size;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static int commit_virtual(struct fs_file *f, struct cfs *cfs)
{
	return virtual_write(cfs, (size_t)f->virtual_index, f->buf ? f->buf : "", f->size);
}

static int commit_tree_file(struct fs_file *f, struct cfs *cfs)
{
	_cleanup_free_ char *path = tree_path(f->tree, f->inode);
	if (!path)
		return -ENOENT; /* removed while open: the content has nowhere to go */
	struct change c = {
		.op = CHANGE_WRITE, .path = path, .data = f->buf ? f->buf : "", .size = f->size,
		.mtime = f->has_mtime ? f->mtime : (int64_t)time(NULL),
	};
	return cfs_submit(cfs, &c);
}

int fs_file_commit(struct fs_file *f, struct cfs *cfs)
{
	pthread_mutex_lock(&f->lock);
	int r = f->error;
	if (r == 0 && f->dirty) {
		r = f->virtual_index >= 0 ? commit_virtual(f, cfs) : commit_tree_file(f, cfs);
		f->dirty = false;
		if (r < 0)
			f->error = r;
		else
			r = 1;
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}
