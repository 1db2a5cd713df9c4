/* clusteraddr.h - the corosync ring address of this node, from libcmap.
 *
 * pvecfs-net must never cut the link corosync talks over: a node that loses
 * it loses quorum, and with it the very files that would undo the change.
 * The address is read from corosync's own configuration map at every pass
 * (corosync may start after the watcher, or the nodelist may change):
 * nodelist.node.N.ring0_addr of the entry whose nodeid is
 * runtime.votequorum.this_node_id, or, when that key is missing, the entry
 * whose name is this node's name.  A ring0_addr that is a host name is
 * resolved.  No corosync (local mode) is not an error: there is nothing to
 * protect then. */
#ifndef PVECFS_NET_CLUSTERADDR_H
#define PVECFS_NET_CLUSTERADDR_H

#include <stddef.h>

/* 0 with the numeric address in buf; -ENOTCONN if corosync does not answer;
 * -ENOENT if the nodelist has no entry for this node (why: a sentence);
 * -EINVAL if the entry's ring0_addr does not resolve. */
int cluster_ring_address(const char *node, char *buf, size_t size, char *why, size_t why_size);

#endif
