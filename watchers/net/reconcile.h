/* reconcile.h - from desired and actual network state to an ordered plan.
 *
 * reconcile_plan() compares a desired state (netdesired.h) with a kernel
 * snapshot (netlink.h) and returns the list of changes that make the kernel
 * match, in an order the kernel accepts (deletions, port releases, creations,
 * options, MTUs from the bottom of the stack up, ports, VLANs, addresses,
 * links up).  A plan that would remove or down the link carrying the
 * cluster address is refused as a whole unless the file confirms it.
 * reconcile_preflight() asks the kernel whether it supports every link type
 * the plan creates, so that a plan the kernel cannot carry out is rejected
 * before anything changes; reconcile_execute() then applies it in order. */
#ifndef PVECFS_NET_RECONCILE_H
#define PVECFS_NET_RECONCILE_H

#include <stdio.h>

#include "netdesired.h"
#include "netlink.h"

enum rc_op {
	RC_DELETE_LINK,
	RC_ADDR_DEL,
	RC_RELEASE_PORT,
	RC_CREATE_BOND,
	RC_CREATE_BRIDGE,
	RC_CREATE_VLAN,
	RC_MARK_OWNED,
	RC_BRIDGE_OPTS,
	RC_BOND_OPTS,
	RC_SET_MTU,
	RC_SET_DOWN,
	RC_SET_MASTER,
	RC_VLAN_DEL,
	RC_VLAN_ADD,
	RC_ADDR_ADD,
	RC_SET_UP,
};

struct rc_action {
	enum rc_op op;
	char link[IFNAMSIZ];
	char other[IFNAMSIZ]; /* master, VLAN parent, or the kind for deletes */
	unsigned num, num2;   /* mtu (num2: old mtu), VLAN id, VLAN range lo..hi */
	bool self;            /* bridge VLAN on the bridge itself */
	struct nd_addr addr;
	struct nl_bridge_opts br;
	struct nl_bond_opts bond;
	const char *file; /* declaration this action comes from, or NULL */
	unsigned line;
};

struct rc_plan {
	struct rc_action *actions;
	size_t n_actions;
};

struct rc_options {
	const char *keep_address; /* the cluster ring address, or NULL */
};

/* 0 with *out, -EINVAL (a declared link clashes with a link of another
 * type), -EPERM (the plan touches the cluster link without confirmation),
 * each with err filled, or -ENOMEM. */
int reconcile_plan(const struct nd_state *want, const struct nl_snapshot *have, const struct rc_options *opt,
		   struct rc_plan **out, struct net_error *err);
void reconcile_plan_free(struct rc_plan *plan);

/* -EOPNOTSUPP with err ("kernel has no 802.1q support: cannot create
 * vmbr0.100") if the kernel lacks something the plan needs; probe_filtering
 * allows a throw-away bridge to be created to test VLAN filtering. */
int reconcile_preflight(const struct rc_plan *plan, struct nl_ctx *nl, bool probe_filtering,
			struct net_error *err);
/* Apply in order; stops at the first failure (err names the action).  The
 * next run starts from whatever the kernel then looks like. */
int reconcile_execute(const struct rc_plan *plan, struct nl_ctx *nl, struct net_error *err);

/* "create bridge vmbr0", "set vmbr0 mtu 9000 (was 1500)", ... */
void reconcile_describe(const struct rc_action *a, char *buf, size_t size);

#endif
