/* netsdn.h - reading sdn/zones.cfg and sdn/vnets.cfg for pvecfs-net.
 *
 * The section-config grammar is watchers/lib/sectioncfg.h; this file picks
 * out what the network watcher needs (zone type, bridge, mtu, nodes; vnet
 * zone, tag, vlanaware) and checks those values, with file:line errors.
 * A zone restricted to other nodes (`nodes n2,n3`) is left out, and so are
 * its vnets.  Missing files mean no SDN. */
#ifndef PVECFS_NET_NETSDN_H
#define PVECFS_NET_NETSDN_H

#include "ifupdown.h"
#include "netdesired.h"

/* Read DIR/sdn/zones.cfg and DIR/sdn/vnets.cfg for node. */
int netsdn_load(const char *root, const char *node, struct nd_sdn *out, struct net_error *err);
void netsdn_clear(struct nd_sdn *sdn);

#endif
