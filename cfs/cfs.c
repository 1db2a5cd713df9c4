/* cfs.c - the single write path's entry (cfs_submit) and the tree layout
 * every node needs (nodes/<node>/{qemu-server,lxc,priv}, priv/lock). */
#include "cfs.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "apply.h"
#include "cluster.h"
#include "locks.h"
#include "log.h"
#include "msg.h"
#include "notify.h"
#include "replicate.h"

bool cfs_writable(struct cfs *cfs)
{
	if (apply_failed(cfs->apply))
		return false;
	return !cfs->cluster || cluster_quorate(cfs->cluster);
}

int cfs_submit(struct cfs *cfs, struct change *c)
{
	c->writer = cfs->node_id;
	if (cfs->cluster)
		return cluster_submit(cfs->cluster, c);
	if (apply_failed(cfs->apply))
		return -EACCES;
	int result;
	int r = apply_batch(cfs->apply, c, 1, &result);
	return r < 0 ? r : result;
}

int cfs_ensure_layout(struct cfs *cfs)
{
	char paths[5][512];
	snprintf(paths[0], sizeof(paths[0]), "/nodes");
	snprintf(paths[1], sizeof(paths[1]), "/nodes/%s", cfs->opt.node);
	snprintf(paths[2], sizeof(paths[2]), "/nodes/%s/qemu-server", cfs->opt.node);
	snprintf(paths[3], sizeof(paths[3]), "/nodes/%s/lxc", cfs->opt.node);
	snprintf(paths[4], sizeof(paths[4]), "/nodes/%s/priv", cfs->opt.node);
	const char *fixed[] = { "/priv", LOCKS_DIR };
	for (size_t i = 0; i < 7; i++) {
		const char *path = i < 5 ? paths[i] : fixed[i - 5];
		struct tree_attr a;
		if (tree_resolve(cfs->tree, path, &a) == 0)
			continue;
		struct change c = { .op = CHANGE_MKDIR, .path = path, .mtime = (int64_t)time(NULL) };
		int r = cfs_submit(cfs, &c);
		if (r < 0 && r != -EEXIST)
			return log_error_errno(r, "cannot create %s", path);
		if (cfs->notify)
			notify_forget(cfs->notify, path); /* a lookup may have cached its absence */
	}
	return 0;
}

void cfs_deliver_other(struct cfs *cfs, const struct msg_header *h, struct msg_reader *r)
{
	replicate_deliver(cfs, h, r);
}

void cfs_node_left(struct cfs *cfs, uint32_t nodeid)
{
	replicate_node_left(cfs, nodeid);
}

void cfs_membership_changed(struct cfs *cfs)
{
	replicate_republish(cfs);
}
