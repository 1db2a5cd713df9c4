/* reconcile.c - the difference between desired and actual links, as a plan.
 *
 * Rules (see also watchers/net/README.md):
 * - Links are deleted only if pvecfs-net created them (IFLA_IFALIAS
 *   "pvecfs-net") and they are no longer declared, or must be recreated
 *   because their type or VLAN changed.  Addresses are deleted only if
 *   pvecfs-net added them (IFA_PROTO NL_OWNER_ADDR_PROTO).
 * - A declared bridge or bond owns its port list: ports that are not listed
 *   are released, except guest ports (tap*, veth*, fwpr*, fwln*) that the VM
 *   and container watchers attach.
 * - Other links that are neither created by pvecfs-net nor declared are
 *   never touched.
 * - The link carrying the cluster address, and every link below it, is never
 *   deleted, downed or detached, and the address is never removed, unless the
 *   interfaces file carries IFD_ALLOW_CLUSTER_LINK_CHANGE.
 * Planning is pure: it reads the snapshot and writes nothing. */
#include "reconcile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"

void reconcile_plan_free(struct rc_plan *plan)
{
	if (!plan)
		return;
	free(plan->actions);
	free(plan);
}

static void reconcile_plan_freep(struct rc_plan **p) { reconcile_plan_free(*p); }

struct planner {
	const struct nd_state *want;
	const struct nl_snapshot *have;
	struct rc_plan *plan;
	struct net_error *err;
	bool *doomed;    /* per snapshot link: deleted by this plan */
	bool *protected; /* per snapshot link: carries the cluster address */
	const char *keep_address;
	int keep_ifindex;
};

static struct rc_action *push(struct planner *p, enum rc_op op, const char *link, const struct nd_link *decl)
{
	struct rc_plan *plan = p->plan;
	struct rc_action *a = realloc(plan->actions, (plan->n_actions + 1) * sizeof(*a));
	if (!a)
		return NULL;
	plan->actions = a;
	a = &a[plan->n_actions++];
	*a = (struct rc_action){ .op = op };
	snprintf(a->link, sizeof(a->link), "%s", link);
	if (decl) {
		a->file = decl->file;
		a->line = decl->line;
	}
	return a;
}

/* The snapshot link of this name if it survives the plan's deletions. */
static const struct nl_link *live(const struct planner *p, const char *name)
{
	const struct nl_link *l = nl_find_link(p->have, name);
	return l && !p->doomed[l - p->have->links] ? l : NULL;
}

static bool is_guest_port(const char *name)
{
	static const char *const prefixes[] = { "tap", "veth", "fwpr", "fwln" };
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static const char *kind_of(enum nd_kind k)
{
	return k == ND_BRIDGE ? "bridge" : k == ND_BOND ? "bond" : k == ND_VLAN ? "vlan" : "";
}

/* Will this desired link exist once the plan has run? */
static bool will_exist(const struct planner *p, const struct nd_link *d, unsigned depth)
{
	if (depth > p->want->n_links)
		return false;
	if (d->kind == ND_EXISTING)
		return live(p, d->name) != NULL;
	if (d->kind == ND_VLAN) {
		const struct nd_link *parent = netdesired_find(p->want, d->parent);
		return parent ? will_exist(p, parent, depth + 1) : live(p, d->parent) != NULL;
	}
	return true;
}

static int depth_of(const struct nd_state *s, const struct nd_link *l, unsigned guard)
{
	int d = 0;
	if (guard > s->n_links)
		return 0;
	if (l->kind == ND_VLAN) {
		const struct nd_link *par = netdesired_find(s, l->parent);
		d = par ? depth_of(s, par, guard + 1) + 1 : 1;
	}
	for (size_t i = 0; i < s->n_links; i++)
		if (strcmp(s->links[i].master, l->name) == 0) {
			int pd = depth_of(s, &s->links[i], guard + 1) + 1;
			d = pd > d ? pd : d;
		}
	return d;
}

static int max_depth(const struct nd_state *s)
{
	int m = 0;
	for (size_t i = 0; i < s->n_links; i++) {
		int d = depth_of(s, &s->links[i], 0);
		m = d > m ? d : m;
	}
	return m;
}

/* ---- the cluster link ---- */

static void mark_protected(struct planner *p, int ifindex, unsigned guard)
{
	const struct nl_link *l = nl_find_ifindex(p->have, ifindex);
	if (!l || guard > p->have->n_links || p->protected[l - p->have->links])
		return;
	p->protected[l - p->have->links] = true;
	if (l->parent && strcmp(l->kind, "vlan") == 0) /* (a veth's IFLA_LINK is its peer) */
		mark_protected(p, l->parent, guard + 1);
	for (size_t i = 0; i < p->have->n_links; i++)
		if (p->have->links[i].master == ifindex)
			mark_protected(p, p->have->links[i].ifindex, guard + 1);
}

static void find_cluster_link(struct planner *p)
{
	struct nd_addr keep;
	if (!p->keep_address || nd_addr_parse(p->keep_address, &keep, false) < 0)
		return;
	for (size_t i = 0; i < p->have->n_addrs; i++) {
		const struct nl_address *a = &p->have->addrs[i];
		size_t len = a->addr.family == AF_INET ? 4 : 16;
		if (a->addr.family == keep.family && memcmp(a->addr.addr, keep.addr, len) == 0) {
			p->keep_ifindex = a->ifindex;
			mark_protected(p, a->ifindex, 0);
		}
	}
}

static bool is_protected(const struct planner *p, const char *name)
{
	const struct nl_link *l = nl_find_link(p->have, name);
	return l && p->protected[l - p->have->links];
}

/* ---- steps ---- */

static bool needs_recreate(const struct nl_link *h, const struct nd_link *d, const struct nl_snapshot *have)
{
	if (strcmp(h->kind, kind_of(d->kind)) != 0)
		return true;
	if (d->kind == ND_VLAN) {
		const struct nl_link *par = nl_find_ifindex(have, h->parent);
		return h->vid != d->vid || !par || strcmp(par->name, d->parent) != 0;
	}
	if (d->kind == ND_BOND && d->bond_mode >= 0 && h->bond_mode >= 0 && h->bond_mode != d->bond_mode)
		return true; /* the mode of a bond cannot change while it has slaves */
	return false;
}

static int plan_deletions(struct planner *p)
{
	/* VLANs first: they sit on top of the bridges and bonds. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->have->n_links; i++) {
			const struct nl_link *h = &p->have->links[i];
			if (!nl_link_is_owned(h) || (pass == 0) != (strcmp(h->kind, "vlan") == 0))
				continue;
			const struct nd_link *d = netdesired_find(p->want, h->name);
			if (d && d->kind == ND_EXISTING)
				continue; /* declared as a plain link: keep it, never recreate */
			if (d && !needs_recreate(h, d, p->have))
				continue;
			struct rc_action *a = push(p, RC_DELETE_LINK, h->name, d);
			if (!a)
				return -ENOMEM;
			snprintf(a->other, sizeof(a->other), "%s", h->kind);
			p->doomed[i] = true;
		}
	/* Links stacked on a deleted link go with it. */
	for (bool again = true; again;) {
		again = false;
		for (size_t i = 0; i < p->have->n_links; i++) {
			const struct nl_link *h = &p->have->links[i];
			const struct nl_link *par = h->parent ? nl_find_ifindex(p->have, h->parent) : NULL;
			if (!p->doomed[i] && strcmp(h->kind, "vlan") == 0 && par && p->doomed[par - p->have->links])
				p->doomed[i] = again = true;
		}
	}
	return 0;
}

static bool addr_declared(const struct nd_link *d, const struct nd_addr *a)
{
	for (size_t i = 0; d && i < d->n_addrs; i++)
		if (nd_addr_equal(&d->addrs[i], a))
			return true;
	return false;
}

static int plan_address_removals(struct planner *p)
{
	for (size_t i = 0; i < p->have->n_addrs; i++) {
		const struct nl_address *a = &p->have->addrs[i];
		const struct nl_link *h = nl_find_ifindex(p->have, a->ifindex);
		if (!h || p->doomed[h - p->have->links] || a->proto != NL_OWNER_ADDR_PROTO)
			continue;
		const struct nd_link *d = netdesired_find(p->want, h->name);
		if (addr_declared(d, &a->addr))
			continue;
		struct rc_action *ac = push(p, RC_ADDR_DEL, h->name, d);
		if (!ac)
			return -ENOMEM;
		ac->addr = a->addr;
	}
	return 0;
}

static int plan_port_releases(struct planner *p)
{
	for (size_t i = 0; i < p->have->n_links; i++) {
		const struct nl_link *h = &p->have->links[i];
		const struct nl_link *m = h->master ? nl_find_ifindex(p->have, h->master) : NULL;
		if (p->doomed[i] || !m || p->doomed[m - p->have->links] || is_guest_port(h->name))
			continue;
		const struct nd_link *dm = netdesired_find(p->want, m->name);
		if (!dm || (dm->kind != ND_BRIDGE && dm->kind != ND_BOND))
			continue; /* a master nobody declared: not ours to change */
		const struct nd_link *d = netdesired_find(p->want, h->name);
		if (d && d->master[0])
			continue; /* moved (or kept) by plan_ports */
		struct rc_action *a = push(p, RC_RELEASE_PORT, h->name, dm);
		if (!a)
			return -ENOMEM;
		snprintf(a->other, sizeof(a->other), "%s", m->name);
	}
	return 0;
}

static void bridge_opts_of(const struct nd_link *d, struct nl_bridge_opts *o)
{
	*o = (struct nl_bridge_opts){ .vlan_filtering = d->vlan_aware ? 1 : -1, .stp = d->stp,
				      .forward_delay = d->forward_delay };
}

static int plan_creations(struct planner *p)
{
	static const enum nd_kind order[] = { ND_BOND, ND_BRIDGE, ND_VLAN };
	static const enum rc_op ops[] = { RC_CREATE_BOND, RC_CREATE_BRIDGE, RC_CREATE_VLAN };
	int maxd = max_depth(p->want);
	for (size_t k = 0; k < ARRAY_SIZE(order); k++)
		for (int depth = 0; depth <= maxd; depth++)
			for (size_t i = 0; i < p->want->n_links; i++) {
				const struct nd_link *d = &p->want->links[i];
				if (d->kind != order[k] || live(p, d->name) || !will_exist(p, d, 0) ||
				    (order[k] == ND_VLAN && depth_of(p->want, d, 0) != depth) ||
				    (order[k] != ND_VLAN && depth))
					continue;
				struct rc_action *a = push(p, ops[k], d->name, d);
				if (!a)
					return -ENOMEM;
				bridge_opts_of(d, &a->br);
				a->bond = (struct nl_bond_opts){ d->bond_mode, d->miimon, d->xmit_hash_policy };
				a->num = d->vid;
				snprintf(a->other, sizeof(a->other), "%s", d->parent);
				if (!push(p, RC_MARK_OWNED, d->name, d))
					return -ENOMEM;
			}
	return 0;
}

static int plan_options(struct planner *p)
{
	for (size_t i = 0; i < p->want->n_links; i++) {
		const struct nd_link *d = &p->want->links[i];
		const struct nl_link *h = live(p, d->name);
		if (!h)
			continue;
		if (d->kind == ND_BRIDGE) {
			struct nl_bridge_opts o = { -1, -1, -1 };
			int vf = h->vlan_filtering < 0 ? 0 : h->vlan_filtering;
			if (vf != d->vlan_aware)
				o.vlan_filtering = d->vlan_aware;
			if (d->stp >= 0 && h->stp != d->stp)
				o.stp = d->stp;
			if (d->forward_delay >= 0 && h->forward_delay != d->forward_delay)
				o.forward_delay = d->forward_delay;
			if (o.vlan_filtering < 0 && o.stp < 0 && o.forward_delay < 0)
				continue;
			struct rc_action *a = push(p, RC_BRIDGE_OPTS, d->name, d);
			if (!a)
				return -ENOMEM;
			a->br = o;
		} else if (d->kind == ND_BOND) {
			struct nl_bond_opts o = { -1, -1, -1 };
			if (d->miimon >= 0 && h->miimon != d->miimon)
				o.miimon = d->miimon;
			if (d->xmit_hash_policy >= 0 && h->xmit_hash_policy != d->xmit_hash_policy)
				o.xmit_hash_policy = d->xmit_hash_policy;
			if (o.miimon < 0 && o.xmit_hash_policy < 0)
				continue;
			struct rc_action *a = push(p, RC_BOND_OPTS, d->name, d);
			if (!a)
				return -ENOMEM;
			a->bond = o;
		}
	}
	return 0;
}

static int plan_mtus(struct planner *p)
{
	int maxd = max_depth(p->want);
	for (int depth = 0; depth <= maxd; depth++)
		for (size_t i = 0; i < p->want->n_links; i++) {
			const struct nd_link *d = &p->want->links[i];
			if (!d->mtu || depth_of(p->want, d, 0) != depth || !will_exist(p, d, 0))
				continue;
			const struct nd_link *m = d->master[0] ? netdesired_find(p->want, d->master) : NULL;
			if (m && m->kind == ND_BOND)
				continue; /* a bond sets its slaves' MTU itself */
			const struct nl_link *h = live(p, d->name);
			if (h && h->mtu == d->mtu)
				continue;
			struct rc_action *a = push(p, RC_SET_MTU, d->name, d);
			if (!a)
				return -ENOMEM;
			a->num = d->mtu;
			a->num2 = h ? h->mtu : 0;
		}
	return 0;
}

static int plan_ports(struct planner *p)
{
	/* Bond slaves first: a bond may itself be a bridge port. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->want->n_links; i++) {
			const struct nd_link *d = &p->want->links[i];
			const struct nd_link *m = d->master[0] ? netdesired_find(p->want, d->master) : NULL;
			if (!m || (pass == 0) != (m->kind == ND_BOND) || !will_exist(p, d, 0) || !will_exist(p, m, 0))
				continue;
			const struct nl_link *h = live(p, d->name), *hm = live(p, m->name);
			if (h && hm && h->master == hm->ifindex)
				continue;
			if (m->kind == ND_BOND && h && (h->flags & IFF_UP) && !push(p, RC_SET_DOWN, d->name, d))
				return -ENOMEM;
			struct rc_action *a = push(p, RC_SET_MASTER, d->name, d);
			if (!a)
				return -ENOMEM;
			a->line = d->master_line ? d->master_line : d->line;
			snprintf(a->other, sizeof(a->other), "%s", m->name);
		}
	return 0;
}

static int push_vlan_diff(struct planner *p, const struct nd_link *decl, const char *port, bool self,
			  const struct nd_vids *want, const struct nd_vids *have)
{
	for (int add = 0; add < 2; add++)
		for (unsigned v = 1; v <= 4094; v++) {
			bool w = nd_vids_has(want, v), h = nd_vids_has(have, v);
			if ((add && (!w || h)) || (!add && (w || !h)))
				continue;
			unsigned hi = v;
			while (hi + 1 <= 4094 && nd_vids_has(want, hi + 1) == w && nd_vids_has(have, hi + 1) == h &&
			       hi + 1 != 1)
				hi++;
			struct rc_action *a = push(p, add ? RC_VLAN_ADD : RC_VLAN_DEL, port, decl);
			if (!a)
				return -ENOMEM;
			a->num = v;
			a->num2 = hi;
			a->self = self;
			v = hi;
		}
	return 0;
}

/* VLAN-aware bridges with bridge-vids: every (non-guest) port carries those
 * VLANs plus the default PVID 1; the bridge itself carries the VLANs of the
 * VLAN links stacked on it. */
static int plan_bridge_vlans(struct planner *p)
{
	for (size_t i = 0; i < p->want->n_links; i++) {
		const struct nd_link *b = &p->want->links[i];
		if (b->kind != ND_BRIDGE || !b->vlan_aware)
			continue;
		struct nd_vids self_want = { 0 }, deflt = { 0 };
		nd_vids_set(&deflt, 1, true);
		nd_vids_set(&self_want, 1, true);
		for (size_t j = 0; j < p->want->n_links; j++) {
			const struct nd_link *d = &p->want->links[j];
			if (d->kind == ND_VLAN && strcmp(d->parent, b->name) == 0)
				nd_vids_set(&self_want, d->vid, true);
		}
		const struct nl_link *hb = live(p, b->name);
		int r = push_vlan_diff(p, b, b->name, true, &self_want, hb && hb->has_vlans ? &hb->vids : &deflt);
		if (r < 0 || !b->vids_declared)
			return r;
		struct nd_vids port_want = b->vids;
		nd_vids_set(&port_want, 1, true);
		for (size_t j = 0; j < p->want->n_links; j++) {
			const struct nd_link *d = &p->want->links[j];
			if (strcmp(d->master, b->name) != 0 || !will_exist(p, d, 0))
				continue;
			const struct nl_link *h = live(p, d->name);
			bool attached = h && hb && h->master == hb->ifindex && h->has_vlans;
			if ((r = push_vlan_diff(p, b, d->name, false, &port_want, attached ? &h->vids : &deflt)) < 0)
				return r;
		}
	}
	return 0;
}

static int plan_addresses(struct planner *p)
{
	for (size_t i = 0; i < p->want->n_links; i++) {
		const struct nd_link *d = &p->want->links[i];
		if (!d->n_addrs || !will_exist(p, d, 0))
			continue;
		const struct nl_link *h = live(p, d->name);
		for (size_t k = 0; k < d->n_addrs; k++) {
			bool present = false;
			for (size_t j = 0; h && j < p->have->n_addrs; j++)
				present |= p->have->addrs[j].ifindex == h->ifindex &&
					   nd_addr_equal(&p->have->addrs[j].addr, &d->addrs[k]);
			if (present)
				continue;
			struct rc_action *a = push(p, RC_ADDR_ADD, d->name, d);
			if (!a)
				return -ENOMEM;
			a->addr = d->addrs[k];
			if (k < ARRAY_SIZE(d->addr_lines))
				a->line = d->addr_lines[k];
		}
	}
	return 0;
}

static int plan_up(struct planner *p)
{
	int maxd = max_depth(p->want);
	for (int depth = 0; depth <= maxd; depth++)
		for (size_t i = 0; i < p->want->n_links; i++) {
			const struct nd_link *d = &p->want->links[i];
			if (!d->up || depth_of(p->want, d, 0) != depth || !will_exist(p, d, 0))
				continue;
			const struct nl_link *h = live(p, d->name);
			const struct nd_link *m = d->master[0] ? netdesired_find(p->want, d->master) : NULL;
			bool downed_for_bond = m && m->kind == ND_BOND && h && !(h->master && live(p, m->name) &&
						h->master == live(p, m->name)->ifindex);
			if (h && (h->flags & IFF_UP) && !downed_for_bond)
				continue;
			if (!push(p, RC_SET_UP, d->name, d))
				return -ENOMEM;
		}
	return 0;
}

/* A declared bridge/bond/VLAN whose name is taken by a link of another type
 * that pvecfs-net did not create: replacing it could cut anything. */
static int check_clashes(struct planner *p)
{
	for (size_t i = 0; i < p->want->n_links; i++) {
		const struct nd_link *d = &p->want->links[i];
		const struct nl_link *h = nl_find_link(p->have, d->name);
		if (!h || d->kind == ND_EXISTING || nl_link_is_owned(h) || !needs_recreate(h, d, p->have))
			continue;
		if (strcmp(h->kind, kind_of(d->kind)) == 0 && d->kind == ND_BOND)
			continue; /* mode differs on a bond we did not create: left alone */
		return net_error_set(p->err, d->file, d->line,
				     "%s exists as a %s that pvecfs-net did not create and does not match the "
				     "declared %s; remove it or rename the declaration",
				     d->name, h->kind[0] ? h->kind : "device", nd_kind_name(d->kind));
	}
	return 0;
}

static int check_protection(struct planner *p)
{
	if (!p->keep_ifindex || p->want->allow_cluster_link_change)
		return 0;
	struct nd_addr keep;
	nd_addr_parse(p->keep_address, &keep, false);
	const struct nl_link *carrier = nl_find_ifindex(p->have, p->keep_ifindex);
	for (size_t i = 0; i < p->plan->n_actions; i++) {
		const struct rc_action *a = &p->plan->actions[i];
		bool hit = false;
		switch (a->op) {
		case RC_DELETE_LINK:
		case RC_SET_DOWN:
		case RC_RELEASE_PORT:
			hit = is_protected(p, a->link);
			break;
		case RC_SET_MASTER: /* moving a port of the cluster link, or the link itself */
			hit = is_protected(p, a->link);
			break;
		case RC_ADDR_DEL: {
			size_t len = keep.family == AF_INET ? 4 : 16;
			hit = a->addr.family == keep.family && !memcmp(a->addr.addr, keep.addr, len);
			break;
		}
		default:
			break;
		}
		if (!hit)
			continue;
		char what[256];
		reconcile_describe(a, what, sizeof(what));
		net_error_set(p->err, a->file ? a->file : p->want->files[0], a->line,
			      "refusing to %s: %s carries the cluster address %s; add the comment "
			      "'# %s' to the interfaces file to confirm", what, carrier ? carrier->name : "?",
			      p->keep_address, IFD_ALLOW_CLUSTER_LINK_CHANGE);
		return -EPERM;
	}
	return 0;
}

int reconcile_plan(const struct nd_state *want, const struct nl_snapshot *have, const struct rc_options *opt,
		   struct rc_plan **out, struct net_error *err)
{
	_cleanup_(reconcile_plan_freep) struct rc_plan *plan = calloc(1, sizeof(*plan));
	_cleanup_free_ bool *doomed = calloc(have->n_links + 1, sizeof(bool));
	_cleanup_free_ bool *protected = calloc(have->n_links + 1, sizeof(bool));
	if (!plan || !doomed || !protected)
		return -ENOMEM;
	struct planner p = { .want = want, .have = have, .plan = plan, .err = err, .doomed = doomed,
			     .protected = protected, .keep_address = opt ? opt->keep_address : NULL };
	find_cluster_link(&p);
	int r;
	if ((r = check_clashes(&p)) < 0 || (r = plan_deletions(&p)) < 0 || (r = plan_address_removals(&p)) < 0 ||
	    (r = plan_port_releases(&p)) < 0 || (r = plan_creations(&p)) < 0 || (r = plan_options(&p)) < 0 ||
	    (r = plan_mtus(&p)) < 0 || (r = plan_ports(&p)) < 0 || (r = plan_bridge_vlans(&p)) < 0 ||
	    (r = plan_addresses(&p)) < 0 || (r = plan_up(&p)) < 0 || (r = check_protection(&p)) < 0)
		return r;
	*out = TAKE_PTR(plan);
	return 0;
}

void reconcile_describe(const struct rc_action *a, char *buf, size_t size)
{
	char addr[80];
	switch (a->op) {
	case RC_DELETE_LINK:
		snprintf(buf, size, "delete %s %s", a->other[0] ? a->other : "link", a->link);
		break;
	case RC_ADDR_DEL:
		snprintf(buf, size, "remove address %s from %s", nd_addr_format(&a->addr, addr, sizeof(addr)), a->link);
		break;
	case RC_RELEASE_PORT:
		snprintf(buf, size, "release %s from %s", a->link, a->other);
		break;
	case RC_CREATE_BOND:
		snprintf(buf, size, "create bond %s (mode %s)", a->link,
			 a->bond.mode >= 0 ? nd_bond_mode_name(a->bond.mode) : "default");
		break;
	case RC_CREATE_BRIDGE:
		snprintf(buf, size, "create bridge %s%s", a->link, a->br.vlan_filtering == 1 ? " (VLAN-aware)" : "");
		break;
	case RC_CREATE_VLAN:
		snprintf(buf, size, "create vlan %s (id %u on %s)", a->link, a->num, a->other);
		break;
	case RC_MARK_OWNED:
		snprintf(buf, size, "mark %s as created by pvecfs-net", a->link);
		break;
	case RC_BRIDGE_OPTS:
		snprintf(buf, size, "set bridge %s%s%s%s", a->link,
			 a->br.vlan_filtering == 1 ? " vlan_filtering 1" : a->br.vlan_filtering == 0 ? " vlan_filtering 0" : "",
			 a->br.stp == 1 ? " stp on" : a->br.stp == 0 ? " stp off" : "",
			 a->br.forward_delay >= 0 ? " forward_delay" : "");
		break;
	case RC_BOND_OPTS:
		snprintf(buf, size, "set bond %s options", a->link);
		break;
	case RC_SET_MTU:
		if (a->num2)
			snprintf(buf, size, "set %s mtu %u (was %u)", a->link, a->num, a->num2);
		else
			snprintf(buf, size, "set %s mtu %u", a->link, a->num);
		break;
	case RC_SET_DOWN:
		snprintf(buf, size, "set %s down", a->link);
		break;
	case RC_SET_MASTER:
		snprintf(buf, size, "set %s master %s", a->link, a->other);
		break;
	case RC_VLAN_DEL:
	case RC_VLAN_ADD:
		if (a->num == a->num2)
			snprintf(buf, size, "%s VLAN %u %s %s%s", a->op == RC_VLAN_ADD ? "add" : "remove", a->num,
				 a->op == RC_VLAN_ADD ? "to" : "from", a->link, a->self ? " (self)" : "");
		else
			snprintf(buf, size, "%s VLANs %u-%u %s %s%s", a->op == RC_VLAN_ADD ? "add" : "remove", a->num,
				 a->num2, a->op == RC_VLAN_ADD ? "to" : "from", a->link, a->self ? " (self)" : "");
		break;
	case RC_ADDR_ADD:
		snprintf(buf, size, "add address %s to %s", nd_addr_format(&a->addr, addr, sizeof(addr)), a->link);
		break;
	case RC_SET_UP:
		snprintf(buf, size, "set %s up", a->link);
		break;
	}
}

/* ---- kernel ---- */

static const char *kind_feature(const char *kind)
{
	if (strcmp(kind, "vlan") == 0)
		return "802.1q";
	if (strcmp(kind, "bond") == 0)
		return "bonding";
	return kind;
}

/* Every missing feature is reported (in plan order), not only the first,
 * so one run tells the whole story. */
static void add_missing(struct net_error *err, bool *first, const struct rc_action *a, bool filtering,
			const char *what)
{
	char msg[200];
	if (filtering)
		snprintf(msg, sizeof(msg), "kernel has no %s support: cannot make %s VLAN-aware", what, a->link);
	else
		snprintf(msg, sizeof(msg), "kernel has no %s support: cannot create %s", what, a->link);
	if (*first) {
		net_error_set(err, a->file, a->line, "%s", msg);
		*first = false;
	} else if (err) {
		size_t len = strlen(err->reason);
		snprintf(err->reason + len, sizeof(err->reason) - len, "; %s (line %u)", msg, a->line);
	}
}

int reconcile_preflight(const struct rc_plan *plan, struct nl_ctx *nl, bool probe_filtering, struct net_error *err)
{
	int checked[3] = { 0 }; /* bond, bridge, vlan: 0 unknown, 1 ok, -1 missing */
	int filtering = 0;
	bool first = true;
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct rc_action *a = &plan->actions[i];
		if (a->op >= RC_CREATE_BOND && a->op <= RC_CREATE_VLAN) {
			int k = a->op - RC_CREATE_BOND;
			const char *kind = k == 0 ? "bond" : k == 1 ? "bridge" : "vlan";
			if (!checked[k])
				checked[k] = nl_probe_kind(nl, kind) == -EOPNOTSUPP ? -1 : 1;
			if (checked[k] < 0)
				add_missing(err, &first, a, false, kind_feature(kind));
		}
		bool wants_filtering = (a->op == RC_CREATE_BRIDGE || a->op == RC_BRIDGE_OPTS) && a->br.vlan_filtering == 1;
		if (wants_filtering && probe_filtering) {
			if (!filtering)
				filtering = nl_probe_vlan_filtering(nl) == -EOPNOTSUPP ? -1 : 1;
			if (filtering < 0)
				add_missing(err, &first, a, true, "bridge VLAN filtering");
		}
	}
	return first ? 0 : -EOPNOTSUPP;
}

static int ifindex_of(const char *name)
{
	unsigned i = if_nametoindex(name);
	return i ? (int)i : -ENODEV;
}

static int execute_one(const struct rc_action *a, struct nl_ctx *nl)
{
	int idx = 0, other = 0;
	if (a->op != RC_CREATE_BOND && a->op != RC_CREATE_BRIDGE && a->op != RC_CREATE_VLAN &&
	    (idx = ifindex_of(a->link)) < 0)
		return idx;
	if ((a->op == RC_SET_MASTER || a->op == RC_CREATE_VLAN) && (other = ifindex_of(a->other)) < 0)
		return other;
	switch (a->op) {
	case RC_DELETE_LINK: return nl_delete_link(nl, idx);
	case RC_ADDR_DEL: return nl_addr_del(nl, idx, &a->addr);
	case RC_RELEASE_PORT: return nl_set_master(nl, idx, 0);
	case RC_CREATE_BOND: return nl_create_bond(nl, a->link, &a->bond);
	case RC_CREATE_BRIDGE: return nl_create_bridge(nl, a->link, &a->br);
	case RC_CREATE_VLAN: return nl_create_vlan(nl, a->link, other, a->num);
	case RC_MARK_OWNED: return nl_set_alias(nl, idx, NL_OWNER_ALIAS);
	case RC_BRIDGE_OPTS: return nl_set_bridge_opts(nl, idx, &a->br);
	case RC_BOND_OPTS: return nl_set_bond_opts(nl, idx, &a->bond);
	case RC_SET_MTU: return nl_set_mtu(nl, idx, a->num);
	case RC_SET_DOWN: return nl_set_up(nl, idx, false);
	case RC_SET_MASTER: return nl_set_master(nl, idx, other);
	case RC_VLAN_DEL: return nl_bridge_vlan(nl, idx, false, a->num, a->num2, a->self, false);
	case RC_VLAN_ADD: return nl_bridge_vlan(nl, idx, true, a->num, a->num2, a->self, a->num == 1);
	case RC_ADDR_ADD: return nl_addr_add(nl, idx, &a->addr);
	case RC_SET_UP: return nl_set_up(nl, idx, true);
	}
	return -EINVAL;
}

int reconcile_execute(const struct rc_plan *plan, struct nl_ctx *nl, struct net_error *err)
{
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct rc_action *a = &plan->actions[i];
		int r = execute_one(a, nl);
		if (r < 0) {
			char what[256];
			reconcile_describe(a, what, sizeof(what));
			if (r == -EOPNOTSUPP && a->op == RC_CREATE_VLAN)
				net_error_set(err, a->file, a->line, "kernel has no 802.1q support: cannot create %s",
					      a->link);
			else
				net_error_set(err, a->file, a->line, "cannot %s: %s", what, strerror(-r));
			return r;
		}
	}
	return 0;
}
