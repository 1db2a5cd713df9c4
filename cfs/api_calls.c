/* api_calls.c - see api_calls.h.  Every call validates its arguments fully
 * before it changes anything, and answers with a sentence a person can act
 * on.  Calls are a table so new ones (backup, restore) are one line each. */
#include "api_calls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cfs.h"
#include "cleanup.h"
#include "cluster_view.h"
#include "clusterlog.h"
#include "dump_call.h"
#include "events.h"
#include "nodestatus.h"
#include "publish.h"
#include "tree.h"

int api_error(char **error, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(error, fmt, ap) < 0)
		*error = NULL;
	va_end(ap);
	return r;
}

int api_member(json_object *req, const char *name, json_type type, json_object **out, char **error)
{
	json_object *v = NULL;
	*out = NULL;
	if (!json_object_object_get_ex(req, name, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, type))
		return api_error(error, -EINVAL, "'%s' must be of type %s", name, json_type_to_name(type));
	*out = v;
	return 1;
}

static int required_string(json_object *req, const char *name, const char **out, char **error)
{
	json_object *v;
	int r = api_member(req, name, json_type_string, &v, error);
	if (r < 0)
		return r;
	if (r == 0)
		return api_error(error, -EINVAL, "missing argument '%s'", name);
	*out = json_object_get_string(v);
	return 0;
}

static int optional_string(json_object *req, const char *name, const char **out, char **error)
{
	json_object *v;
	int r = api_member(req, name, json_type_string, &v, error);
	*out = r > 0 ? json_object_get_string(v) : NULL;
	return r < 0 ? r : 0;
}

static int optional_uint(json_object *req, const char *name, int64_t max, int64_t *out, char **error)
{
	json_object *v;
	int r = api_member(req, name, json_type_int, &v, error);
	if (r <= 0)
		return r;
	int64_t n = json_object_get_int64(v);
	if (n < 0 || n > max)
		return api_error(error, -EINVAL, "'%s' must be between 0 and %lld", name, (long long)max);
	*out = n;
	return 1;
}

static int call_status(const struct api_caller *c, json_object *req, json_object **result, char **error)
{
	(void)req; (void)error;
	struct cfs *cfs = c->cfs;
	struct cluster_view view;
	cluster_view_get(cfs, &view);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "node", json_object_new_string(cfs->opt.node));
	json_object_object_add(o, "nodeid", json_object_new_int64(cfs->node_id));
	json_object_object_add(o, "cluster", json_object_new_string(view.cluster_name));
	json_object_object_add(o, "quorate", json_object_new_boolean(view.quorate));
	json_object_object_add(o, "writable", json_object_new_boolean(cfs_writable(cfs)));
	json_object_object_add(o, "version", json_object_new_uint64(tree_version(cfs->tree)));
	json_object_object_add(o, "events_base", json_object_new_uint64(events_base(cfs->events)));
	json_object *members = json_object_new_array();
	for (int i = 0; i < view.n_nodes; i++) {
		json_object *n = json_object_new_object();
		json_object_object_add(n, "name", json_object_new_string(view.nodes[i].name));
		json_object_object_add(n, "id", json_object_new_int64(view.nodes[i].id));
		json_object_object_add(n, "online", json_object_new_boolean(view.nodes[i].online));
		json_object_object_add(n, "ip", json_object_new_string(view.nodes[i].ip));
		json_object_array_add(members, n);
	}
	json_object_object_add(o, "members", members);
	*result = o;
	return 0;
}

static int add_status_entry(void *ctx, const char *node, const char *key, const char *value)
{
	json_object *nodes = ctx, *keys;
	if (!json_object_object_get_ex(nodes, node, &keys)) {
		keys = json_object_new_object();
		json_object_object_add(nodes, node, keys);
	}
	json_object_object_add(keys, key, json_object_new_string(value));
	return 0;
}

static int call_nodestatus_get(const struct api_caller *c, json_object *req, json_object **result,
			       char **error)
{
	const char *node, *key;
	int r = optional_string(req, "node", &node, error);
	if (r == 0)
		r = optional_string(req, "key", &key, error);
	if (r < 0)
		return r;
	json_object *nodes = json_object_new_object();
	nodestatus_foreach(c->cfs->nodestatus, node, key, add_status_entry, nodes);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "nodes", nodes);
	*result = o;
	return 0;
}

static int call_nodestatus_set(const struct api_caller *c, json_object *req, json_object **result,
			       char **error)
{
	const char *key, *value;
	json_object *v;
	int r = required_string(req, "key", &key, error);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(req, "value", &v))
		return api_error(error, -EINVAL, "missing argument 'value' (a string, or null to delete)");
	r = api_member(req, "value", json_type_string, &v, error);
	if (r < 0)
		return r;
	value = v ? json_object_get_string(v) : NULL;
	r = nodestatus_check(key, value);
	if (r == 0)
		r = cfs_publish_status(c->cfs, key, value);
	if (r < 0)
		return api_error(error, r, "%s", nodestatus_strerror(r));
	*result = json_object_new_object();
	return 0;
}

static int call_log_append(const struct api_caller *c, json_object *req, json_object **result,
			   char **error)
{
	const char *tag = NULL, *msg = NULL, *user = NULL;
	int64_t pri = LOG_INFO;
	int r = required_string(req, "tag", &tag, error);
	if (r == 0)
		r = required_string(req, "msg", &msg, error);
	if (r == 0)
		r = optional_string(req, "user", &user, error);
	if (r == 0)
		r = optional_uint(req, "pri", 7, &pri, error);
	if (r < 0)
		return r;
	if (!*tag || strlen(tag) > CLUSTERLOG_TAG_MAX)
		return api_error(error, -EINVAL, "'tag' must be 1 to %d bytes", CLUSTERLOG_TAG_MAX);
	if (!*msg || strlen(msg) > CLUSTERLOG_MSG_MAX)
		return api_error(error, -EINVAL, "'msg' must be 1 to %d bytes", CLUSTERLOG_MSG_MAX);
	if (user && (!*user || strlen(user) > CLUSTERLOG_USER_MAX))
		return api_error(error, -EINVAL, "'user' must be 1 to %d bytes", CLUSTERLOG_USER_MAX);
	struct clusterlog_entry e = { .pri = (int)pri, .pid = (uint32_t)c->pid };
	clusterlog_entry_set(&e, NULL, user ? user : "root@pam", tag, msg);
	r = cfs_publish_log(c->cfs, &e);
	if (r < 0)
		return api_error(error, r, "cannot add to the cluster log: %s", strerror(-r));
	json_object *o = json_object_new_object();
	json_object_object_add(o, "uid", json_object_new_uint64(e.uid));
	*result = o;
	return 0;
}

static int call_log_read(const struct api_caller *c, json_object *req, json_object **result,
			 char **error)
{
	int64_t limit = 0;
	int r = optional_uint(req, "limit", 1000000, &limit, error);
	if (r < 0)
		return r;
	_cleanup_free_ char *text = clusterlog_json(c->cfs->clusterlog, (size_t)limit);
	json_object *o = text ? json_tokener_parse(text) : NULL;
	if (!o)
		return api_error(error, -ENOMEM, "out of memory");
	*result = o;
	return 0;
}

struct api_call_def {
	const char *name;
	bool admin;
	int (*fn)(const struct api_caller *c, json_object *req, json_object **result, char **error);
};

static const struct api_call_def calls[] = {
	{ "status", false, call_status },
	{ "nodestatus_get", false, call_nodestatus_get },
	{ "nodestatus_set", true, call_nodestatus_set },
	{ "log_append", true, call_log_append },
	{ "log_read", false, call_log_read },
	{ "dump", true, dump_api_call },
};

int api_call(const struct api_caller *caller, const char *name, json_object *req,
	     json_object **result, char **error)
{
	*result = NULL;
	*error = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		if (strcmp(calls[i].name, name) != 0)
			continue;
		if (calls[i].admin && !caller->admin)
			return api_error(error, -EPERM, "permission denied: '%s' needs root", name);
		return calls[i].fn(caller, req, result, error);
	}
	return api_error(error, -ENOSYS, "unknown call '%s'", name);
}
