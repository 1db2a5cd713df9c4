/* membership.h - quorum (libquorum) and the configured node list and cluster
 * name (libcmap) of the local corosync. */
#ifndef PVECFS_MEMBERSHIP_H
#define PVECFS_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster_view.h"

struct membership;

/* Connects to corosync's quorum and cmap services; -ENOTCONN if corosync is
 * not running.  changed(ctx, quorate) is called from quorum_dispatch(). */
int membership_connect(void (*changed)(void *ctx, bool quorate), void *ctx, struct membership **out);
void membership_disconnect(struct membership *q);

int membership_fd(struct membership *q);
/* Dispatches pending notifications; a negative errno if the connection broke. */
int membership_dispatch(struct membership *q);
bool membership_quorate(struct membership *q);

/* The local node's name in corosync's node list (-ENOTCONN without
 * corosync, -ENOENT if it has no name there). */
int membership_local_node_name(char *buf, size_t len);

/* Fills cluster name, config version and the node list (online flags false). */
int membership_read_nodelist(struct membership *q, struct cluster_view *view);

#endif
