/* fs_path.c - see fs_path.h.  Permissions follow the path, never chmod:
 * directories 0755 and files 0640 (owner root, group www-data), and
 * 0700/0600 for everything in or below priv/ and nodes/<node>/priv/. */
#include "fs_path.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool has_component_prefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool fs_path_is_private(const char *path)
{
	if (has_component_prefix(path, "/priv"))
		return true;
	if (strncmp(path, "/nodes/", 7) != 0)
		return false;
	const char *node_end = strchr(path + 7, '/');
	return node_end && has_component_prefix(node_end, "/priv");
}

mode_t fs_path_mode(const char *path, enum tree_type type)
{
	bool priv = fs_path_is_private(path);
	if (type == TREE_DIR)
		return S_IFDIR | (priv ? 0700 : 0755);
	return S_IFREG | (priv ? 0600 : 0640);
}

int fs_path_check_access(mode_t mode, bool is_root, bool in_group, int mask)
{
	if (is_root) {
		bool any_x = (mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
		return (mask & X_OK) && !S_ISDIR(mode) && !any_x ? -EACCES : 0;
	}
	/* the owner is always root: a caller here gets group or other bits */
	mode_t bits = in_group ? (mode >> 3) & 7 : mode & 7;
	if (((mask & R_OK) && !(bits & 4)) || ((mask & W_OK) && !(bits & 2)) || ((mask & X_OK) && !(bits & 1)))
		return -EACCES;
	return 0;
}

bool fs_path_mode_is_private(mode_t mode) { return (mode & (S_IRWXG | S_IRWXO)) == 0; }
