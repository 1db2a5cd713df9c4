/* clusterlog.h - the cluster log: a bounded, time-ordered list of short
 * messages from every node (who started a VM, a backup failed, a node
 * joined), shown as the .clusterlog virtual file and by `pvecfsctl log`.
 *
 * Entries are merged in (time, node, uid) order, so every node that received
 * the same entries shows the same log whatever order they arrived in; an
 * entry seen twice (same node and uid) is kept once.  When full, the oldest
 * entry goes.  The log is RAM only. */
#ifndef PVECFS_CLUSTERLOG_H
#define PVECFS_CLUSTERLOG_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTERLOG_DEFAULT_CAPACITY 1000
#define CLUSTERLOG_TAG_MAX 63
#define CLUSTERLOG_NODE_MAX 63
#define CLUSTERLOG_USER_MAX 63
#define CLUSTERLOG_MSG_MAX 1024

struct clusterlog_entry {
	uint64_t uid;  /* unique per node (clusterlog_new_uid on the sending node) */
	int64_t time;  /* seconds since the epoch */
	int pri;       /* syslog priority, 0..7 */
	uint32_t pid;
	char tag[CLUSTERLOG_TAG_MAX + 1];
	char node[CLUSTERLOG_NODE_MAX + 1];
	char user[CLUSTERLOG_USER_MAX + 1];
	char msg[CLUSTERLOG_MSG_MAX + 1];
};

struct clusterlog;

int clusterlog_new(size_t capacity, struct clusterlog **out);
void clusterlog_free(struct clusterlog *cl);

/* Fills the string fields of e (truncating to their sizes). */
void clusterlog_entry_set(struct clusterlog_entry *e, const char *node, const char *user,
			  const char *tag, const char *msg);

/* A uid that no earlier entry of this node used, even across restarts (it
 * starts from the clock in microseconds and only increases). */
uint64_t clusterlog_new_uid(struct clusterlog *cl);

/* Inserts a copy of e in order.  0 inserted, 1 already present (same node
 * and uid: nothing changed), -EINVAL (empty node or tag, pri out of range). */
int clusterlog_apply(struct clusterlog *cl, const struct clusterlog_entry *e);

size_t clusterlog_count(struct clusterlog *cl);

/* Calls cb (outside the lock, oldest first) for the newest `max` entries of
 * node; stops at and returns cb's first non-zero result. */
typedef int (*clusterlog_cb)(void *ctx, const struct clusterlog_entry *e);
int clusterlog_foreach_of_node(struct clusterlog *cl, const char *node, size_t max,
			       clusterlog_cb cb, void *ctx);

/* The log as JSON text {"data": [...]}, newest first, at most `limit`
 * entries (0: all).  malloc'd, NULL on ENOMEM. */
char *clusterlog_json(struct clusterlog *cl, size_t limit);

#endif
