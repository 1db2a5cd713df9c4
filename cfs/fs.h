/* fs.h - the FUSE3 low-level filesystem: turns POSIX calls on the mount into
 * reads of the tree and changes submitted on the single write path. */
#ifndef PVECFS_FS_H
#define PVECFS_FS_H

struct cfs;
struct fs;
struct fuse_session;

/* Creates the session and mounts it on cfs->opt.mount. */
int fs_mount(struct cfs *cfs, struct fs **out);
struct fuse_session *fs_session(struct fs *fs);
/* Runs the multi-threaded loop until fs_exit() (or an unmount). */
int fs_loop(struct fs *fs);
/* Makes fs_loop() return: safe from any thread. */
void fs_exit(struct fs *fs);
/* Unmounts and frees. */
void fs_unmount(struct fs *fs);

#endif
