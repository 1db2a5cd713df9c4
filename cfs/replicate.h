/* replicate.h - the per-node status store and the cluster log in cluster
 * mode: publishing multicasts a MSG_STATUS / MSG_LOG frame and every node
 * (this one included) applies it on delivery.  The status store is not
 * persisted: after every membership change each node multicasts its own
 * entries (and its recent log entries) again so that joining nodes learn
 * them, and the status entries of a node that left the group are dropped. */
#ifndef PVECFS_REPLICATE_H
#define PVECFS_REPLICATE_H

#include <stdint.h>

#include "clusterlog.h"
#include "msg.h"

struct cfs;

int replicate_status(struct cfs *cfs, const char *key, const char *value);
int replicate_log(struct cfs *cfs, const struct clusterlog_entry *e);

/* A delivered MSG_STATUS / MSG_LOG frame. */
void replicate_deliver(struct cfs *cfs, const struct msg_header *h, struct msg_reader *r);
/* The node left the group (no process of it remains). */
void replicate_node_left(struct cfs *cfs, uint32_t nodeid);
/* After a membership change: multicast this node's own status entries and
 * its newest cluster-log entries. */
#define REPLICATE_LOG_REPUBLISH 100
void replicate_republish(struct cfs *cfs);

#endif
