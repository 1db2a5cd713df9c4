/* fs_path.c - see fs_path.h.  Permissions follow the path, never chmod:
 * directories 0755 and files 0640 (owner root, group www-data), and
 * 0700/0600 for everything in or below priv/ and nodes/<node>/priv/. */
#include "fs_path.h"

#include <string.h>
#include <sys/stat.h>

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
