/* cfs.h - the daemon's context: options and the modules it wires together.
 *
 * There are no process-wide globals: main() builds one struct cfs and every
 * module reaches what it needs through it (FUSE through the session's user
 * data, corosync callbacks through their context pointer). */
#ifndef PVECFS_CFS_H
#define PVECFS_CFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "change.h"
#include "tree.h"

struct cfs_options {
	const char *node;     /* this node's name */
	const char *mount;    /* mount point, default /etc/pve */
	const char *data;     /* holds config.db, default /var/lib/pvecfs */
	const char *run;      /* pid file, sockets, default /run/pvecfs */
	bool foreground;
	bool local;           /* no corosync */
	bool debug;
	struct tree_limits limits;
	unsigned lock_timeout; /* seconds until a priv/lock directory expires */
	double cache_timeout;  /* kernel entry/attr cache timeout, seconds */
	size_t event_log_size; /* events kept in RAM for subscribers to resume from */
	bool no_replay;        /* no inotify replay of other nodes' changes */
};

struct store;
struct apply;
struct locks;
struct fs;
struct notify;
struct cluster;
struct events;
struct nodestatus;
struct clusterlog;
struct api;
struct msg_header;
struct msg_reader;

struct cfs {
	struct cfs_options opt;
	uint32_t node_id;       /* 0 in local mode until the cluster says otherwise */
	gid_t www_gid;          /* group of the tree: www-data if it exists, else root */
	time_t start_time;
	struct tree *tree;
	struct store *store;
	struct apply *apply;
	struct locks *locks;
	struct fs *fs;
	struct notify *notify;
	struct cluster *cluster; /* NULL in local mode */
	struct events *events;         /* event log (apply observer) */
	struct nodestatus *nodestatus; /* per-node status, RAM only */
	struct clusterlog *clusterlog; /* the cluster log, RAM only */
	struct api *api;               /* the Unix socket API */
};

/* The single write path: submit one change made on this node and wait until
 * it is applied here (or failed).  Returns 0 or a negative errno; -EACCES
 * while writes are not allowed (no quorum, store failure). */
int cfs_submit(struct cfs *cfs, struct change *c);

/* Whether writes are currently accepted (quorate and healthy). */
bool cfs_writable(struct cfs *cfs);

/* A delivered cluster frame that is not a tree change (status, log). */
void cfs_deliver_other(struct cfs *cfs, const struct msg_header *h, struct msg_reader *r);
/* A node left the CPG group: drop what it published. */
void cfs_node_left(struct cfs *cfs, uint32_t nodeid);
/* The group changed: publish this node's ephemeral state again. */
void cfs_membership_changed(struct cfs *cfs);

/* Creates the directories every node needs if missing (via cfs_submit). */
int cfs_ensure_layout(struct cfs *cfs);

#endif
