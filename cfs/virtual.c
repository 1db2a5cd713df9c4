/* virtual.c - see virtual.h.  JSON shapes follow pmxcfs so tools that know
 * /etc/pve read them unchanged; every field is documented in the README. */
#include "virtual.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs.h"
#include "cleanup.h"
#include "cluster_view.h"
#include "log.h"
#include "tree.h"

static const struct virtual_entry entries[] = {
	{ ".version", VIRTUAL_FILE, false },
	{ ".members", VIRTUAL_FILE, false },
	{ ".vmlist", VIRTUAL_FILE, false },
	{ ".clusterlog", VIRTUAL_FILE, false },
	{ ".debug", VIRTUAL_FILE, true },
	{ "local", VIRTUAL_SYMLINK, false },
	{ "qemu-server", VIRTUAL_SYMLINK, false },
	{ "lxc", VIRTUAL_SYMLINK, false },
};
enum { V_VERSION, V_MEMBERS, V_VMLIST, V_CLUSTERLOG, V_DEBUG, V_LOCAL, V_QEMU, V_LXC };

/* Files whose versions .version reports, as pmxcfs does. */
static const char *const versioned_files[] = {
	"corosync.conf", "datacenter.cfg", "storage.cfg", "user.cfg", "jobs.cfg",
	"domains.cfg", "vzdump.cron", "ha/resources.cfg", "ha/groups.cfg", "ha/rules.cfg",
	"sdn/zones.cfg", "sdn/vnets.cfg", "sdn/subnets.cfg", "priv/shadow.cfg",
	"priv/token.cfg", "firewall/cluster.fw",
};

size_t virtual_count(void) { return ARRAY_SIZE(entries); }
const struct virtual_entry *virtual_get(size_t i) { return i < ARRAY_SIZE(entries) ? &entries[i] : NULL; }
uint64_t virtual_inode(size_t i) { return VIRTUAL_INODE_BASE + i; }
bool virtual_is_inode(uint64_t inode) { return inode >= VIRTUAL_INODE_BASE && inode < VIRTUAL_INODE_BASE + ARRAY_SIZE(entries); }

int virtual_index(uint64_t inode)
{
	return virtual_is_inode(inode) ? (int)(inode - VIRTUAL_INODE_BASE) : -ENOENT;
}

int virtual_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(entries); i++)
		if (strcmp(entries[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

static char *json_to_text(json_object *o, size_t *len)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = NULL;
	if (asprintf(&out, "%s\n", s) < 0)
		out = NULL;
	json_object_put(o);
	if (out)
		*len = strlen(out);
	return out;
}

static char *render_version(struct cfs *cfs, size_t *len)
{
	json_object *o = json_object_new_object();
	uint64_t version = tree_version(cfs->tree);
	json_object_object_add(o, "starttime", json_object_new_int64(cfs->start_time));
	json_object_object_add(o, "version", json_object_new_int64((int64_t)version));
	for (size_t i = 0; i < ARRAY_SIZE(versioned_files); i++) {
		char path[256];
		struct tree_attr attr;
		snprintf(path, sizeof(path), "/%s", versioned_files[i]);
		if (tree_resolve(cfs->tree, path, &attr) == 0)
			json_object_object_add(o, versioned_files[i], json_object_new_int64((int64_t)attr.version));
	}
	return json_to_text(o, len);
}

static char *render_members(struct cfs *cfs, size_t *len)
{
	struct cluster_view view;
	cluster_view_get(cfs, &view);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "nodename", json_object_new_string(cfs->opt.node));
	json_object_object_add(o, "version", json_object_new_int64((int64_t)view.config_version));
	json_object *cl = json_object_new_object();
	json_object_object_add(cl, "name", json_object_new_string(view.cluster_name));
	json_object_object_add(cl, "version", json_object_new_int64((int64_t)view.config_version));
	json_object_object_add(cl, "nodes", json_object_new_int(view.n_nodes));
	json_object_object_add(cl, "quorate", json_object_new_int(view.quorate ? 1 : 0));
	json_object_object_add(o, "cluster", cl);
	json_object *list = json_object_new_object();
	for (int i = 0; i < view.n_nodes; i++) {
		json_object *n = json_object_new_object();
		json_object_object_add(n, "id", json_object_new_int64(view.nodes[i].id));
		json_object_object_add(n, "online", json_object_new_int(view.nodes[i].online ? 1 : 0));
		json_object_object_add(n, "ip", json_object_new_string(view.nodes[i].ip));
		json_object_object_add(list, view.nodes[i].name, n);
	}
	json_object_object_add(o, "nodelist", list);
	return json_to_text(o, len);
}

struct vmlist_walk {
	struct cfs *cfs;
	json_object *ids;
	const char *node;
	const char *type;
};

static int vmlist_guest(void *ctx, const char *name, const struct tree_attr *attr)
{
	struct vmlist_walk *w = ctx;
	char path[600];
	uint32_t vmid;
	snprintf(path, sizeof(path), "/nodes/%s/%s/%s", w->node,
		 strcmp(w->type, "qemu") == 0 ? "qemu-server" : "lxc", name);
	if (attr->type != TREE_FILE || !tree_path_vmid(path, &vmid))
		return 0;
	json_object *e = json_object_new_object();
	json_object_object_add(e, "node", json_object_new_string(w->node));
	json_object_object_add(e, "type", json_object_new_string(w->type));
	json_object_object_add(e, "version", json_object_new_int64((int64_t)attr->version));
	char key[16];
	snprintf(key, sizeof(key), "%u", vmid);
	json_object_object_add(w->ids, key, e);
	return 0;
}

static int vmlist_node(void *ctx, const char *name, const struct tree_attr *attr)
{
	struct vmlist_walk *w = ctx;
	static const char *const kinds[][2] = { { "qemu-server", "qemu" }, { "lxc", "lxc" } };
	if (attr->type != TREE_DIR)
		return 0;
	w->node = name;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct tree_attr dir;
		if (tree_lookup(w->cfs->tree, attr->inode, kinds[k][0], &dir) < 0)
			continue;
		w->type = kinds[k][1];
		tree_list(w->cfs->tree, dir.inode, vmlist_guest, w);
	}
	return 0;
}

static char *render_vmlist(struct cfs *cfs, size_t *len)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int64((int64_t)tree_version(cfs->tree)));
	struct vmlist_walk w = { .cfs = cfs, .ids = json_object_new_object() };
	struct tree_attr nodes;
	if (tree_resolve(cfs->tree, "/nodes", &nodes) == 0)
		tree_list(cfs->tree, nodes.inode, vmlist_node, &w);
	json_object_object_add(o, "ids", w.ids);
	return json_to_text(o, len);
}

static char *render_clusterlog(struct cfs *cfs, size_t *len)
{
	char *text = cluster_view_clusterlog_json(cfs);
	if (text)
		*len = strlen(text);
	return text;
}

char *virtual_render(struct cfs *cfs, size_t i, size_t *len)
{
	char *out = NULL;
	*len = 0;
	switch (i) {
	case V_VERSION: return render_version(cfs, len);
	case V_MEMBERS: return render_members(cfs, len);
	case V_VMLIST: return render_vmlist(cfs, len);
	case V_CLUSTERLOG: return render_clusterlog(cfs, len);
	case V_DEBUG:
		out = strdup(log_get_debug() ? "1\n" : "0\n");
		break;
	case V_LOCAL:
		if (asprintf(&out, "nodes/%s", cfs->opt.node) < 0)
			out = NULL;
		break;
	case V_QEMU:
		if (asprintf(&out, "nodes/%s/qemu-server", cfs->opt.node) < 0)
			out = NULL;
		break;
	case V_LXC:
		if (asprintf(&out, "nodes/%s/lxc", cfs->opt.node) < 0)
			out = NULL;
		break;
	}
	if (out)
		*len = strlen(out);
	return out;
}

int virtual_write(struct cfs *cfs, size_t i, const char *data, size_t len)
{
	if (i != V_DEBUG)
		return -EACCES;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
		len--;
	if (len != 1 || (data[0] != '0' && data[0] != '1'))
		return -EINVAL;
	log_set_debug(data[0] == '1');
	log_info("debug logging %s", data[0] == '1' ? "on" : "off");
	return 0;
}
