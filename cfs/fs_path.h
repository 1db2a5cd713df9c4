/* fs_path.h - path rules of the mount: which paths are private (priv/ and
 * nodes/<n>/priv/: root only), and the mode bits every path gets. */
#ifndef PVECFS_FS_PATH_H
#define PVECFS_FS_PATH_H

#include <stdbool.h>
#include <sys/types.h>

#include "tree.h"

bool fs_path_is_private(const char *path);
mode_t fs_path_mode(const char *path, enum tree_type type);

#endif
