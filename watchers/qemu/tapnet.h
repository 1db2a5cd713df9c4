/* tapnet.h - put a VM's tap interface on its bridge, via rtnetlink.
 *
 * QEMU creates tap<vmid>i<N> itself (-netdev tap,ifname=...,script=no, run
 * as root); the watcher then enslaves it to the bridge, gives it the MTU and
 * brings it up (one RTM_NEWLINK with IFLA_MASTER + IFLA_MTU + IFF_UP), and for
 * a `tag=` makes the tag the port's only VLAN, PVID and egress-untagged
 * (RTM_SETLINK/RTM_DELLINK with AF_BRIDGE + IFLA_BRIDGE_VLAN_INFO), which
 * needs a VLAN-aware bridge (vlan_filtering=1).
 *
 * Each function opens its own short-lived netlink socket: these are rare
 * operations (VM start) and a socket per call keeps no state around.  All
 * functions return 0 or a negative errno and, on failure, write a one-line
 * reason naming the interface into err (if non-NULL). */
#ifndef PVECFS_QEMU_TAPNET_H
#define PVECFS_QEMU_TAPNET_H

#include <stddef.h>

/* Enslave ifname to bridge, set its MTU (0: the bridge's MTU) and bring it
 * up.  -ENODEV: ifname or bridge missing, or bridge is not a bridge. */
int tapnet_attach(const char *ifname, const char *bridge, unsigned mtu, char *err, size_t errlen);

/* Make vid the PVID and untagged VLAN of ifname (a port of bridge) and its
 * only VLAN: the default VLAN 1 and any earlier tag are removed.  -EOPNOTSUPP if bridge is not VLAN-aware or the kernel
 * has no bridge VLAN filtering; -ERANGE for a vid outside 1..4094. */
int tapnet_set_vlan(const char *ifname, const char *bridge, unsigned vid, char *err, size_t errlen);

/* Remove every interface named tap<vmid>i<N> that is still there (QEMU
 * normally takes its taps with it; a persistent or leftover one would keep
 * the VM's MAC on the bridge).  Returns how many were removed, or a negative
 * errno (the last failure) with err set. */
int tapnet_remove_vm_taps(unsigned vmid, char *err, size_t errlen);

/* The MTU of an interface (from sysfs); negative errno if it does not exist. */
int tapnet_get_mtu(const char *ifname);

#endif
