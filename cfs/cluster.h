/* cluster.h - replication over corosync CPG.
 *
 * One thread owns the corosync connections (CPG, quorum, cmap) and runs
 * their dispatch, the sender and the reconnect timer.  Submitted changes
 * wait in a queue; the sender packs everything waiting into one MSG_CHANGES
 * frame (many requests share one CPG round and one SQLite transaction) and
 * the submitting threads sleep until their frame comes back in the agreed
 * order and has been applied here (dfsm.c). */
#ifndef PVECFS_CLUSTER_H
#define PVECFS_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "change.h"
#include "cluster_view.h"

struct cfs;
struct cluster;

int cluster_start(struct cfs *cfs, struct cluster **out);
void cluster_stop(struct cluster *cl);

/* Multicasts c and waits until it is applied here: 0 or a negative errno.
 * -EACCES when not quorate (or not connected to corosync), -EIO if the
 * connection broke while the change was in flight (it may or may not have
 * been applied: check the tree), -ETIMEDOUT after CLUSTER_SUBMIT_TIMEOUT. */
#define CLUSTER_SUBMIT_TIMEOUT 60
int cluster_submit(struct cluster *cl, struct change *c);

/* Multicasts a frame that is not a tree change (status store, cluster
 * log); it is handed to dfsm's `other` hook on every member. */
int cluster_send_other(struct cluster *cl, const void *frame, size_t len);

bool cluster_quorate(struct cluster *cl);
bool cluster_synced(struct cluster *cl);
uint32_t cluster_nodeid(struct cluster *cl);
void cluster_fill_view(struct cluster *cl, struct cluster_view *view);

#endif
