/* fs_file.h - an open file of the mount.
 *
 * Reads are served from an immutable version of the content (a tree blob:
 * the newest committed one at each read, for a handle without writes of its
 * own), so a reader never sees a half-written file.  Writes go to a private copy made on the first write and are
 * committed as one CHANGE_WRITE at close (flush) or fsync.  A write that
 * fails (EFBIG, ...) poisons the handle: nothing of it is ever committed
 * and every later flush reports the error. */
#ifndef PVECFS_FS_FILE_H
#define PVECFS_FS_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct cfs;
struct tree;
struct fs_file;

/* st: the file's attributes at open (answers fstat after a rename-over). */
int fs_file_open(struct tree *t, uint64_t inode, int flags, const struct stat *st, struct fs_file **out);
int fs_file_open_virtual(struct cfs *cfs, size_t index, int flags, struct fs_file **out);
void fs_file_close(struct fs_file *f);

size_t fs_file_read(struct fs_file *f, char *buf, size_t size, off_t off);
int fs_file_write(struct fs_file *f, const char *buf, size_t size, off_t off, size_t max_size);
int fs_file_truncate(struct fs_file *f, off_t size, size_t max_size);
size_t fs_file_size(struct fs_file *f);
/* Attributes of the open file (size and mtime as pending). */
int fs_file_stat(struct fs_file *f, struct stat *st);
/* Records an mtime for the pending commit; false if nothing is pending
 * (then the caller applies it as a change of its own). */
bool fs_file_set_mtime(struct fs_file *f, int64_t mtime);

/* Commits pending writes: 1 if something was committed, 0 if there was
 * nothing to commit, or a negative errno. */
int fs_file_commit(struct fs_file *f, struct cfs *cfs);

#endif
