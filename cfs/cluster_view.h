/* cluster_view.h - what the rest of the daemon may know about the cluster:
 * a snapshot of name, membership and quorum (for .members, the API and the
 * write gate), and the cluster log.  In local mode it describes this node
 * alone, always quorate. */
#ifndef PVECFS_CLUSTER_VIEW_H
#define PVECFS_CLUSTER_VIEW_H

#include <stdbool.h>
#include <stdint.h>

struct cfs;

#define CLUSTER_VIEW_MAX_NODES 64

struct cluster_view_node {
	char name[64];
	uint32_t id;
	bool online;
	char ip[64];
};

struct cluster_view {
	char cluster_name[64];
	uint64_t config_version;
	bool quorate;
	int n_nodes;
	struct cluster_view_node nodes[CLUSTER_VIEW_MAX_NODES];
};

void cluster_view_get(struct cfs *cfs, struct cluster_view *view);

/* The cluster log as .clusterlog JSON ({"data": [...]}, newest first). */
char *cluster_view_clusterlog_json(struct cfs *cfs);

#endif
