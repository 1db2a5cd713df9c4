/* netvmnic.h - footgun reports about the NICs of this node's VMs.
 *
 * A VM config line `net0: virtio=MAC,bridge=vmbr0,tag=100,mtu=9000` asks
 * pvecfs-qemu to plug the VM's tap into a bridge that pvecfs-net manages.
 * When the bridge does not fit the NIC, the VM fails to start (no such
 * bridge, a tag on a bridge without VLAN filtering) or starts and silently
 * loses traffic (a tag outside bridge-vids, an MTU above the bridge's).
 * These checks compare every NIC of the current config of every
 * nodes/<node>/qemu-server/<vmid>.conf with the desired links (and, for a
 * bridge that is not declared, with the kernel) and add one warning per
 * problem to the desired state, at the NIC's file and line:
 *
 *   .../qemu-server/100.conf:4: net0: VLAN tag 100 on bridge vmbr0, which is
 *   not VLAN-aware (bridge-vlan-aware yes is missing at .../interfaces:5)
 *
 * They are reports only: nothing here changes a VM config, a tap, the
 * desired links or the plan.  A VM config that does not parse is one
 * warning (file:line: key 'k': reason) and the other VMs are still checked. */
#ifndef PVECFS_NET_NETVMNIC_H
#define PVECFS_NET_NETVMNIC_H

#include <stddef.h>

#include "netdesired.h"
#include "netlink.h"
#include "vmconf_view.h"

/* What a run looked at (for logs and status). */
struct netvmnic_counts {
	size_t configs;    /* VM configs read */
	size_t nics;       /* NICs checked */
	size_t unparsable; /* configs that did not parse */
};

/* One NIC of the VM config `file`.  have may be NULL (kernel unknown). */
int netvmnic_check_nic(struct nd_state *want, const struct nl_snapshot *have, const char *file,
		       const struct vmconf_nic *nic);

/* The text of one VM config: parse it, check its NICs (or add the parse
 * warning).  counts may be NULL.  0 or -ENOMEM. */
int netvmnic_check_config(struct nd_state *want, const struct nl_snapshot *have, const char *file,
			  const char *text, size_t len, struct netvmnic_counts *counts);

/* Every ROOT/nodes/NODE/qemu-server/<vmid>.conf, in name order.  A missing
 * directory means no VMs.  0 or -ENOMEM. */
int netvmnic_check_node(struct nd_state *want, const struct nl_snapshot *have, const char *root,
			const char *node, struct netvmnic_counts *counts);

#endif
