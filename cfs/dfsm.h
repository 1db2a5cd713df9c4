/* dfsm.h - the replicated state machine over a totally ordered message
 * stream: applies delivered batches of changes and runs the state sync on
 * every membership change (see "Sync protocol" in the README, which uses
 * the same words as this code: round, STATE, leader, UPDATE, UPDATE_DONE,
 * queue).
 *
 * It knows nothing of corosync: cluster.c feeds it confchg() and deliver()
 * in CPG's agreed order and gives it a send() callback; the simulation test
 * feeds it from a fake bus.  All calls come from one thread. */
#ifndef PVECFS_DFSM_H
#define PVECFS_DFSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "msg.h"
#include "tree.h"

struct dfsm;

struct dfsm_ops {
	/* Multicast a finished frame to the group (agreed order). */
	int (*send)(void *ctx, const void *frame, size_t len);
	/* Our own batch `counter` was applied: results[i] per change. */
	void (*completed)(void *ctx, uint64_t counter, const int *results, size_t n);
	/* Sync finished (true) or started (false). */
	void (*sync_changed)(void *ctx, bool synced);
	/* This node's local-mode edits differ from the cluster: it stays
	 * read-only until the next round (optional). */
	void (*diverged)(void *ctx);
	/* A delivered frame of a type dfsm does not handle (status, log). */
	void (*other)(void *ctx, const struct msg_header *h, struct msg_reader *r);
	/* A node's name for log lines. */
	void (*node_name)(void *ctx, uint32_t nodeid, char *buf, size_t len);
};

int dfsm_new(struct tree *tree, struct apply *apply, uint32_t nodeid, bool local_marked,
	     const struct dfsm_ops *ops, void *ctx, struct dfsm **out);
void dfsm_free(struct dfsm *d);

/* A member of the CPG group: a process on a node. */
struct dfsm_member {
	uint32_t nodeid;
	uint32_t pid;
};

/* A new membership (any order). */
void dfsm_confchg(struct dfsm *d, const struct dfsm_member *members, size_t n);
/* A delivered frame from the process (nodeid, pid). */
void dfsm_deliver(struct dfsm *d, uint32_t nodeid, uint32_t pid, const void *frame, size_t len);
/* Called about once a second: a round that waited DFSM_STATE_TIMEOUT
 * seconds for STATEs decides without the silent members (a process in the
 * group that is not a pvecfs daemon, or a stuck one), naming them. */
#define DFSM_STATE_TIMEOUT 10
void dfsm_tick(struct dfsm *d);

bool dfsm_synced(struct dfsm *d);
/* Number of sync rounds completed and the time the last one took. */
void dfsm_stats(struct dfsm *d, uint64_t *rounds, double *last_seconds);

#endif
