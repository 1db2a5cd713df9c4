/* replicate.c - see replicate.h.
 *
 * MSG_STATUS body: blob node, blob key, u8 has_value, blob value.
 * MSG_LOG body: u64 uid, i64 time, u32 pri, u32 pid, blob tag, blob node,
 * blob user, blob msg.  Strings travel without NUL and may not contain one. */
#include "replicate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cfs.h"
#include "cluster.h"
#include "cluster_view.h"
#include "log.h"
#include "nodestatus.h"

static void put_string(struct msg_buf *b, const char *s)
{
	msg_put_blob(b, s, s ? strlen(s) : 0);
}

/* Copies a string blob into buf (len bytes with NUL); false if it does not
 * fit or contains a NUL. */
static bool get_string(struct msg_reader *r, char *buf, size_t len)
{
	size_t n;
	const char *s = msg_get_blob(r, &n);
	if (!s || n >= len || memchr(s, '\0', n))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static int send_frame(struct cfs *cfs, struct msg_buf *b)
{
	int r = msg_finish(b);
	if (r == 0)
		r = cluster_send_other(cfs->cluster, b->data, b->len);
	msg_buf_free(b);
	return r;
}

int replicate_status(struct cfs *cfs, const char *key, const char *value)
{
	int r = nodestatus_check(key, value);
	if (r < 0)
		return r;
	struct msg_buf b;
	msg_buf_init(&b);
	msg_begin(&b, MSG_STATUS, cluster_nodeid(cfs->cluster), 0, 0);
	put_string(&b, cfs->opt.node);
	put_string(&b, key);
	msg_put_u8(&b, value != NULL);
	put_string(&b, value);
	return send_frame(cfs, &b);
}

int replicate_log(struct cfs *cfs, const struct clusterlog_entry *e)
{
	struct msg_buf b;
	msg_buf_init(&b);
	msg_begin(&b, MSG_LOG, cluster_nodeid(cfs->cluster), 0, 0);
	msg_put_u64(&b, e->uid);
	msg_put_u64(&b, (uint64_t)e->time);
	msg_put_u32(&b, (uint32_t)e->pri);
	msg_put_u32(&b, e->pid);
	put_string(&b, e->tag);
	put_string(&b, e->node);
	put_string(&b, e->user);
	put_string(&b, e->msg);
	return send_frame(cfs, &b);
}

static void deliver_status(struct cfs *cfs, struct msg_reader *r)
{
	char node[256], key[1024];
	static char value[70 * 1024];
	bool ok = get_string(r, node, sizeof(node)) && get_string(r, key, sizeof(key));
	bool has_value = msg_get_u8(r);
	ok = ok && get_string(r, value, sizeof(value)) && msg_reader_done(r) == 0;
	if (!ok) {
		log_error("dropping a malformed status message");
		return;
	}
	int e = nodestatus_apply_set(cfs->nodestatus, node, key, has_value ? value : NULL);
	if (e < 0)
		log_warn("status %s of %s not stored: %s", key, node, nodestatus_strerror(e));
}

static void deliver_log(struct cfs *cfs, struct msg_reader *r)
{
	struct clusterlog_entry e = { 0 };
	e.uid = msg_get_u64(r);
	e.time = (int64_t)msg_get_u64(r);
	e.pri = (int)msg_get_u32(r);
	e.pid = msg_get_u32(r);
	bool ok = get_string(r, e.tag, sizeof(e.tag)) && get_string(r, e.node, sizeof(e.node)) &&
		  get_string(r, e.user, sizeof(e.user)) && get_string(r, e.msg, sizeof(e.msg)) &&
		  msg_reader_done(r) == 0;
	if (!ok || e.pri < 0 || e.pri > 7) {
		log_error("dropping a malformed cluster log message");
		return;
	}
	clusterlog_apply(cfs->clusterlog, &e);
}

void replicate_deliver(struct cfs *cfs, const struct msg_header *h, struct msg_reader *r)
{
	if (h->type == MSG_STATUS && cfs->nodestatus)
		deliver_status(cfs, r);
	else if (h->type == MSG_LOG && cfs->clusterlog)
		deliver_log(cfs, r);
	else
		log_debug("ignoring a cluster message of unknown type %u from node %u", h->type, h->sender);
}

void replicate_node_left(struct cfs *cfs, uint32_t nodeid)
{
	struct cluster_view view;
	cluster_view_get(cfs, &view);
	for (int i = 0; i < view.n_nodes; i++) {
		if (view.nodes[i].id != nodeid)
			continue;
		log_info("node %s left: dropping its status entries", view.nodes[i].name);
		if (cfs->nodestatus)
			nodestatus_drop_node(cfs->nodestatus, view.nodes[i].name);
	}
}

static int republish_one(void *ctx, const char *node, const char *key, const char *value)
{
	replicate_status(ctx, key, value);
	return 0;
}

static int republish_log_entry(void *ctx, const struct clusterlog_entry *e)
{
	replicate_log(ctx, e);
	return 0;
}

void replicate_republish(struct cfs *cfs)
{
	if (cfs->nodestatus)
		nodestatus_foreach(cfs->nodestatus, cfs->opt.node, NULL, republish_one, cfs);
	/* Joining nodes learn the recent log; duplicates are dropped on apply. */
	if (cfs->clusterlog)
		clusterlog_foreach_of_node(cfs->clusterlog, cfs->opt.node, REPLICATE_LOG_REPUBLISH,
					   republish_log_entry, cfs);
}
