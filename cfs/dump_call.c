/* dump_call.c - see dump_call.h. */
#include "dump_call.h"

#include <errno.h>
#include <string.h>

#include "cfs.h"
#include "cluster_view.h"
#include "dump.h"
#include "log.h"

int dump_api_call(const struct api_caller *c, json_object *req, json_object **result, char **error)
{
	json_object *v;
	int r = api_member(req, "path", json_type_string, &v, error);
	if (r < 0)
		return r;
	if (r == 0)
		return api_error(error, -EINVAL, "missing argument 'path'");
	const char *path = json_object_get_string(v);
	if (path[0] != '/')
		return api_error(error, -EINVAL, "'path' must be absolute");

	struct cluster_view view;
	cluster_view_get(c->cfs, &view);
	struct dump_info info = { .cluster = view.cluster_name, .node = c->cfs->opt.node };
	struct dump_summary sum;
	r = dump_tree_to_file(c->cfs->tree, &info, path, &sum);
	if (r < 0)
		return api_error(error, r, "cannot dump the tree to %s: %s", path, strerror(-r));
	log_info("dumped the tree at version %llu to %s (%llu bytes)", (unsigned long long)sum.version, path,
		 (unsigned long long)sum.bytes);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "version", json_object_new_uint64(sum.version));
	json_object_object_add(o, "checksum", json_object_new_string(sum.checksum));
	json_object_object_add(o, "entries", json_object_new_uint64(sum.entries));
	json_object_object_add(o, "bytes", json_object_new_uint64(sum.bytes));
	*result = o;
	return 0;
}
