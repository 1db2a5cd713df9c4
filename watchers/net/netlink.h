/* netlink.h - the kernel side of pvecfs-net, over rtnetlink with libmnl.
 *
 * Reads a snapshot of links (with bridge, bond and VLAN details and bridge
 * port VLANs) and addresses, and changes one thing per request.  Every
 * request that changes the kernel and succeeds is counted: a run that finds
 * nothing to do makes zero of them, which is how idempotence is tested.
 * Probes (asking whether the kernel supports a link kind) change nothing and
 * are not counted. */
#ifndef PVECFS_NET_NETLINK_H
#define PVECFS_NET_NETLINK_H

#include <stdbool.h>
#include <net/if.h>

#include "netdesired.h"

/* The IFLA_IFALIAS of every link pvecfs-net creates: how it recognises its
 * own links after a restart, and the only links it ever deletes. */
#define NL_OWNER_ALIAS "pvecfs-net"
/* The IFA_PROTO of every address pvecfs-net adds, for the same reason. */
#define NL_OWNER_ADDR_PROTO 0x70

struct nl_link {
	int ifindex;
	char name[IFNAMSIZ];
	char kind[16]; /* IFLA_INFO_KIND: "bridge", "bond", "vlan", "veth"...; "" if none */
	int master;    /* ifindex, 0 none */
	int parent;    /* IFLA_LINK (VLAN parent), 0 none */
	unsigned mtu;
	unsigned flags; /* IFF_* */
	char alias[64];
	unsigned vid;            /* vlan */
	int vlan_filtering;      /* bridge, -1 unknown */
	int stp;                 /* bridge, -1 unknown */
	int forward_delay;       /* bridge, seconds, -1 unknown */
	int bond_mode, miimon, xmit_hash_policy; /* bond, -1 unknown */
	bool has_vlans;          /* bridge port VLANs were reported */
	struct nd_vids vids;
	unsigned pvid;
};

struct nl_address {
	int ifindex;
	struct nd_addr addr;
	unsigned proto;
	unsigned scope;
};

struct nl_snapshot {
	struct nl_link *links;
	size_t n_links;
	struct nl_address *addrs;
	size_t n_addrs;
};

struct nl_ctx;

int nl_open(struct nl_ctx **out);
void nl_close(struct nl_ctx *ctx);
unsigned nl_changes(const struct nl_ctx *ctx);

int nl_dump(struct nl_ctx *ctx, struct nl_snapshot **out);
void nl_snapshot_free(struct nl_snapshot *snap);
const struct nl_link *nl_find_link(const struct nl_snapshot *snap, const char *name);
const struct nl_link *nl_find_ifindex(const struct nl_snapshot *snap, int ifindex);
bool nl_link_is_owned(const struct nl_link *l);

/* Changes.  All return 0 or a negative errno; -EOPNOTSUPP from a create
 * means the kernel lacks that link type. */
struct nl_bridge_opts {
	int vlan_filtering; /* -1: leave */
	int stp;            /* -1: leave */
	int forward_delay;  /* seconds, -1: leave */
};
struct nl_bond_opts {
	int mode, miimon, xmit_hash_policy; /* -1: leave */
};
int nl_create_bridge(struct nl_ctx *ctx, const char *name, const struct nl_bridge_opts *o);
int nl_create_bond(struct nl_ctx *ctx, const char *name, const struct nl_bond_opts *o);
int nl_create_vlan(struct nl_ctx *ctx, const char *name, int parent, unsigned vid);
int nl_set_bridge_opts(struct nl_ctx *ctx, int ifindex, const struct nl_bridge_opts *o);
int nl_set_bond_opts(struct nl_ctx *ctx, int ifindex, const struct nl_bond_opts *o);
int nl_delete_link(struct nl_ctx *ctx, int ifindex);
int nl_set_master(struct nl_ctx *ctx, int ifindex, int master);
int nl_set_mtu(struct nl_ctx *ctx, int ifindex, unsigned mtu);
int nl_set_up(struct nl_ctx *ctx, int ifindex, bool up);
int nl_set_alias(struct nl_ctx *ctx, int ifindex, const char *alias);
int nl_addr_add(struct nl_ctx *ctx, int ifindex, const struct nd_addr *a);
int nl_addr_del(struct nl_ctx *ctx, int ifindex, const struct nd_addr *a);
/* Add or remove VLANs lo..hi on a bridge port (or the bridge itself with
 * self); pvid_untagged marks a single VLAN as the port's PVID, untagged. */
int nl_bridge_vlan(struct nl_ctx *ctx, int ifindex, bool add, unsigned lo, unsigned hi, bool self,
		   bool pvid_untagged);

/* 0 if the kernel can create links of this kind, -EOPNOTSUPP if not. */
int nl_probe_kind(struct nl_ctx *ctx, const char *kind);
/* 0 if bridges can filter VLANs, -EOPNOTSUPP if not (creates and deletes a
 * throw-away bridge; not counted as a change). */
int nl_probe_vlan_filtering(struct nl_ctx *ctx);

#endif
