/* membership.c - see membership.h. */
#include "membership.h"

#include <corosync/cmap.h>
#include <corosync/corotypes.h>
#include <corosync/quorum.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct membership {
	quorum_handle_t qh;
	cmap_handle_t cmap;
	bool quorate;
	void (*changed)(void *ctx, bool quorate);
	void *ctx;
};

static void on_quorum(quorum_handle_t handle, uint32_t quorate, uint64_t ring_seq,
		      uint32_t n, uint32_t *members)
{
	struct membership *q = NULL;
	if (quorum_context_get(handle, (const void **)&q) != CS_OK || !q)
		return;
	if (q->quorate != !!quorate)
		log_notice("quorum %s (%u nodes in the partition)", quorate ? "regained" : "lost", n);
	q->quorate = quorate;
	if (q->changed)
		q->changed(q->ctx, quorate);
}

int membership_connect(void (*changed)(void *ctx, bool quorate), void *ctx, struct membership **out)
{
	struct membership *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->changed = changed;
	q->ctx = ctx;
	quorum_model_v0_data_t model = { .model = QUORUM_MODEL_V0, .quorum_notify_fn = on_quorum };
	uint32_t type;
	if (quorum_model_initialize(&q->qh, QUORUM_MODEL_V0, (quorum_model_data_t *)&model, &type, q) != CS_OK) {
		free(q);
		return -ENOTCONN;
	}
	if (cmap_initialize(&q->cmap) != CS_OK) {
		quorum_finalize(q->qh);
		free(q);
		return -ENOTCONN;
	}
	int quorate = 0;
	if (quorum_getquorate(q->qh, &quorate) != CS_OK ||
	    quorum_trackstart(q->qh, CS_TRACK_CHANGES) != CS_OK) {
		membership_disconnect(q);
		return -ENOTCONN;
	}
	q->quorate = quorate;
	*out = q;
	return 0;
}

void membership_disconnect(struct membership *q)
{
	if (!q)
		return;
	quorum_finalize(q->qh);
	cmap_finalize(q->cmap);
	free(q);
}

int membership_fd(struct membership *q)
{
	int fd = -1;
	quorum_fd_get(q->qh, &fd);
	return fd;
}

int membership_dispatch(struct membership *q)
{
	cs_error_t e = quorum_dispatch(q->qh, CS_DISPATCH_ALL);
	return e == CS_OK || e == CS_ERR_TRY_AGAIN ? 0 : -ENOTCONN;
}

bool membership_quorate(struct membership *q) { return q->quorate; }

static void copy_string(cmap_handle_t cmap, const char *key, char *buf, size_t len)
{
	char *s = NULL;
	if (cmap_get_string(cmap, key, &s) == CS_OK && s) {
		snprintf(buf, len, "%s", s);
		free(s);
	}
}

int membership_read_nodelist(struct membership *q, struct cluster_view *view)
{
	copy_string(q->cmap, "totem.cluster_name", view->cluster_name, sizeof(view->cluster_name));
	uint64_t cv = 0;
	if (cmap_get_uint64(q->cmap, "totem.config_version", &cv) == CS_OK)
		view->config_version = cv;
	view->n_nodes = 0;
	for (int i = 0; i < 1024 && view->n_nodes < CLUSTER_VIEW_MAX_NODES; i++) {
		char key[128];
		uint32_t id;
		snprintf(key, sizeof(key), "nodelist.node.%d.nodeid", i);
		if (cmap_get_uint32(q->cmap, key, &id) != CS_OK)
			break;
		struct cluster_view_node *n = &view->nodes[view->n_nodes++];
		memset(n, 0, sizeof(*n));
		n->id = id;
		snprintf(key, sizeof(key), "nodelist.node.%d.name", i);
		copy_string(q->cmap, key, n->name, sizeof(n->name));
		snprintf(key, sizeof(key), "nodelist.node.%d.ring0_addr", i);
		copy_string(q->cmap, key, n->ip, sizeof(n->ip));
		if (!n->name[0])
			memcpy(n->name, n->ip, sizeof(n->name));
	}
	return 0;
}

int membership_local_node_name(char *buf, size_t len)
{
	cmap_handle_t cmap;
	if (cmap_initialize(&cmap) != CS_OK)
		return -ENOTCONN;
	uint32_t me = 0;
	int r = -ENOENT;
	if (cmap_get_uint32(cmap, "runtime.votequorum.this_node_id", &me) == CS_OK) {
		for (int i = 0; i < 1024 && r == -ENOENT; i++) {
			char key[128];
			uint32_t id;
			snprintf(key, sizeof(key), "nodelist.node.%d.nodeid", i);
			if (cmap_get_uint32(cmap, key, &id) != CS_OK)
				break;
			if (id != me)
				continue;
			snprintf(key, sizeof(key), "nodelist.node.%d.name", i);
			buf[0] = '\0';
			copy_string(cmap, key, buf, len);
			r = buf[0] ? 0 : -ENOENT;
		}
	}
	cmap_finalize(cmap);
	return r;
}
