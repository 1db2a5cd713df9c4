/* netcheck.h - footgun reports that need the kernel's view.
 *
 * netdesired.c reports what the files alone show (declared MTUs that do not
 * fit, tags outside bridge-vids...).  These checks compare the declarations
 * with the links that exist: ports that do not exist, bridges whose ports
 * have a smaller MTU, bond slaves with different speeds or MTUs.  They only
 * read (netlink snapshot, /sys/class/net) and add warnings to the state. */
#ifndef PVECFS_NET_NETCHECK_H
#define PVECFS_NET_NETCHECK_H

#include "netdesired.h"
#include "netlink.h"

int netcheck_run(struct nd_state *want, const struct nl_snapshot *have);

#endif
