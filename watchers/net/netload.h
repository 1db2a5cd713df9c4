/* netload.h - the files of one node -> its desired network state.
 *
 * Shared by `pvecfs-net apply`/`check` and the daemon, so that both read
 * exactly the same inputs: ROOT/nodes/NODE/interfaces (required) and
 * ROOT/sdn/zones.cfg + vnets.cfg (optional). */
#ifndef PVECFS_NET_NETLOAD_H
#define PVECFS_NET_NETLOAD_H

#include <stdint.h>

#include "ifupdown.h"
#include "netdesired.h"

/* 0 and *out, -EINVAL/-ENOENT/... with err filled, or -ENOMEM. */
int net_load_desired(const char *root, const char *node, struct nd_state **out, struct net_error *err);

/* A 64-bit digest of the three input files' contents (a missing file
 * counts as such) and of the node's VM configs (nodes/NODE/qemu-server/
 * <vmid>.conf, whose NICs are checked against the links): equal digests mean
 * the inputs did not change. */
uint64_t net_sources_digest(const char *root, const char *node);

#endif
