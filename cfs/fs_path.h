/* fs_path.h - path rules of the mount: which paths are private (priv/ and
 * nodes/<n>/priv/: root only), and the mode bits every path gets. */
#ifndef PVECFS_FS_PATH_H
#define PVECFS_FS_PATH_H

#include <stdbool.h>
#include <sys/types.h>

#include "tree.h"

bool fs_path_is_private(const char *path);
mode_t fs_path_mode(const char *path, enum tree_type type);

/* Whether a caller may access an inode of `mode` (owned by root) with mask
 * (R_OK | W_OK | X_OK): 0 or -EACCES.  The mount does not ask the kernel for
 * default_permissions (which re-reads a directory's attributes after every
 * change in it: one more round trip per create, mkdir, unlink, rename), so
 * the daemon checks modes itself.  in_group: the caller has the inode's
 * group as its own or a supplementary group.  Root may read and write
 * anything; it may execute only what has an x bit (as the kernel does). */
int fs_path_check_access(mode_t mode, bool is_root, bool in_group, int mask);

/* Whether an inode of this mode is private (no group or other bits): its
 * attributes must not be cached by the kernel, or a caller other than root
 * could stat it without the daemon checking the way there. */
bool fs_path_mode_is_private(mode_t mode);

#endif
