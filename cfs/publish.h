/* publish.h - how this node publishes node status and cluster log entries.
 *
 * Both stores (nodestatus, clusterlog) are replicated in cluster mode: a
 * publish goes to every node, which then applies it.  In local mode it is
 * applied here directly.  Everything that writes into those stores on behalf
 * of this node (the socket API, the daemon's own log lines) goes through
 * these two functions, so the routing is decided in one place. */
#ifndef PVECFS_PUBLISH_H
#define PVECFS_PUBLISH_H

#include "clusterlog.h"

struct cfs;

/* Sets (value != NULL) or deletes this node's key.  0 or the negative errno
 * of nodestatus_apply_set (see nodestatus_strerror()). */
int cfs_publish_status(struct cfs *cfs, const char *key, const char *value);

/* Adds an entry to the cluster log.  Fills in node (this node) and uid when
 * they are empty/zero, time when zero.  0 or a negative errno. */
int cfs_publish_log(struct cfs *cfs, struct clusterlog_entry *e);

/* Convenience for the daemon's own messages (tag "pvecfs", user "root@pam"). */
void cfs_log_cluster(struct cfs *cfs, int pri, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
