/* cluster_view.c - see cluster_view.h.  Local mode: one node, quorate. */
#include "cluster_view.h"

#include <stdio.h>
#include <string.h>

#include "cfs.h"
#include "cluster.h"
#include "clusterlog.h"

void cluster_view_get(struct cfs *cfs, struct cluster_view *view)
{
	if (cfs->cluster) {
		cluster_fill_view(cfs->cluster, view);
		return;
	}
	memset(view, 0, sizeof(*view));
	snprintf(view->cluster_name, sizeof(view->cluster_name), "%s", "local");
	view->config_version = 1;
	view->quorate = true;
	view->n_nodes = 1;
	snprintf(view->nodes[0].name, sizeof(view->nodes[0].name), "%s", cfs->opt.node);
	view->nodes[0].id = cfs->node_id;
	view->nodes[0].online = true;
	snprintf(view->nodes[0].ip, sizeof(view->nodes[0].ip), "%s", "127.0.0.1");
}

char *cluster_view_clusterlog_json(struct cfs *cfs)
{
	if (cfs->clusterlog)
		return clusterlog_json(cfs->clusterlog, 0);
	return strdup("{\n  \"data\": []\n}\n");
}
