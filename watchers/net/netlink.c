/* netlink.c - rtnetlink requests and dumps with libmnl.
 *
 * One NETLINK_ROUTE socket per context; requests are sent one at a time with
 * NLM_F_ACK and the answer is read before the next is sent, so an error
 * belongs to exactly one request.  Dumps collect into a snapshot: links
 * (RTM_GETLINK), bridge port VLANs (RTM_GETLINK on AF_BRIDGE with the
 * compressed VLAN filter) and addresses (RTM_GETADDR). */
#include "netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

/* Big enough for a dump message with bridge VLAN lists. */
#define NL_BUF_SIZE 65536
#define USER_HZ 100 /* bridge timers are exchanged in clock_t units */

struct nl_ctx {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
	unsigned changes;
	char *buf;
};

int nl_open(struct nl_ctx **out)
{
	struct nl_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->buf = malloc(NL_BUF_SIZE);
	ctx->sock = mnl_socket_open(NETLINK_ROUTE);
	if (!ctx->buf || !ctx->sock || mnl_socket_bind(ctx->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = ctx->buf && ctx->sock ? errno : ENOMEM;
		nl_close(ctx);
		return -(e ? e : EIO);
	}
	ctx->portid = mnl_socket_get_portid(ctx->sock);
	ctx->seq = time(NULL);
	*out = ctx;
	return 0;
}

void nl_close(struct nl_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->sock)
		mnl_socket_close(ctx->sock);
	free(ctx->buf);
	free(ctx);
}

unsigned nl_changes(const struct nl_ctx *ctx) { return ctx->changes; }

/* Send nlh and read until its ACK or the end of its dump; cb sees data. */
static int nl_talk(struct nl_ctx *ctx, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	nlh->nlmsg_seq = ++ctx->seq;
	/* dumps end with NLMSG_DONE; an extra ACK would be left unread */
	nlh->nlmsg_flags |= NLM_F_REQUEST | ((nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP ? 0 : NLM_F_ACK);
	if (mnl_socket_sendto(ctx->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(ctx->sock, ctx->buf, NL_BUF_SIZE);
		if (n < 0)
			return -errno;
		int r = mnl_cb_run(ctx->buf, n, nlh->nlmsg_seq, ctx->portid, cb, data);
		if (r < 0)
			return errno ? -errno : -EIO;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

/* A change: counted when the kernel accepted it. */
static int nl_change(struct nl_ctx *ctx, struct nlmsghdr *nlh)
{
	int r = nl_talk(ctx, nlh, NULL, NULL);
	if (r == 0)
		ctx->changes++;
	return r;
}

static struct nlmsghdr *link_msg(char *buf, int type, int flags, int family, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = family;
	ifi->ifi_index = ifindex;
	return nlh;
}

/* ---- snapshot ---- */

struct dump_state {
	struct nl_snapshot *snap;
	int err;
};

void nl_snapshot_free(struct nl_snapshot *snap)
{
	if (!snap)
		return;
	free(snap->links);
	free(snap->addrs);
	free(snap);
}

static void nl_snapshot_freep(struct nl_snapshot **s) { nl_snapshot_free(*s); }

const struct nl_link *nl_find_link(const struct nl_snapshot *snap, const char *name)
{
	for (size_t i = 0; i < snap->n_links; i++)
		if (strcmp(snap->links[i].name, name) == 0)
			return &snap->links[i];
	return NULL;
}

const struct nl_link *nl_find_ifindex(const struct nl_snapshot *snap, int ifindex)
{
	for (size_t i = 0; i < snap->n_links; i++)
		if (snap->links[i].ifindex == ifindex)
			return &snap->links[i];
	return NULL;
}

bool nl_link_is_owned(const struct nl_link *l) { return strcmp(l->alias, NL_OWNER_ALIAS) == 0; }

/* Attributes by type; types beyond max (a kernel newer than our headers)
 * are skipped. */
struct attr_table {
	const struct nlattr **tb;
	unsigned max;
};
#define ATTRS(tb) (&(struct attr_table){ (tb), ARRAY_SIZE(tb) - 1 })

static int collect_attr(const struct nlattr *attr, void *data)
{
	struct attr_table *t = data;
	unsigned type = mnl_attr_get_type(attr);
	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static void parse_link_info_data(struct nl_link *l, const struct nlattr *info_data)
{
	const struct nlattr *tb[IFLA_BR_MAX + IFLA_BOND_MAX + IFLA_VLAN_MAX + 1] = { 0 };
	mnl_attr_parse_nested(info_data, collect_attr, ATTRS(tb));
	if (strcmp(l->kind, "bridge") == 0) {
		if (tb[IFLA_BR_VLAN_FILTERING])
			l->vlan_filtering = mnl_attr_get_u8(tb[IFLA_BR_VLAN_FILTERING]);
		if (tb[IFLA_BR_STP_STATE])
			l->stp = mnl_attr_get_u32(tb[IFLA_BR_STP_STATE]) != 0;
		if (tb[IFLA_BR_FORWARD_DELAY])
			l->forward_delay = mnl_attr_get_u32(tb[IFLA_BR_FORWARD_DELAY]) / USER_HZ;
	} else if (strcmp(l->kind, "bond") == 0) {
		if (tb[IFLA_BOND_MODE])
			l->bond_mode = mnl_attr_get_u8(tb[IFLA_BOND_MODE]);
		if (tb[IFLA_BOND_MIIMON])
			l->miimon = mnl_attr_get_u32(tb[IFLA_BOND_MIIMON]);
		if (tb[IFLA_BOND_XMIT_HASH_POLICY])
			l->xmit_hash_policy = mnl_attr_get_u8(tb[IFLA_BOND_XMIT_HASH_POLICY]);
	} else if (strcmp(l->kind, "vlan") == 0) {
		if (tb[IFLA_VLAN_ID])
			l->vid = mnl_attr_get_u16(tb[IFLA_VLAN_ID]);
	}
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_state *st = data;
	struct nl_snapshot *snap = st->snap;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
	mnl_attr_parse(nlh, sizeof(*ifi), collect_attr, ATTRS(tb));
	if (!tb[IFLA_IFNAME])
		return MNL_CB_OK;
	struct nl_link *arr = realloc(snap->links, (snap->n_links + 1) * sizeof(*arr));
	if (!arr) {
		st->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	snap->links = arr;
	struct nl_link *l = &arr[snap->n_links++];
	*l = (struct nl_link){ .ifindex = ifi->ifi_index, .flags = ifi->ifi_flags, .vlan_filtering = -1,
			       .stp = -1, .forward_delay = -1, .bond_mode = -1, .miimon = -1,
			       .xmit_hash_policy = -1 };
	snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_MTU])
		l->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_MASTER])
		l->master = mnl_attr_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_LINK] && (int)mnl_attr_get_u32(tb[IFLA_LINK]) != ifi->ifi_index)
		l->parent = mnl_attr_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_IFALIAS])
		snprintf(l->alias, sizeof(l->alias), "%.*s", (int)mnl_attr_get_payload_len(tb[IFLA_IFALIAS]),
			 (const char *)mnl_attr_get_payload(tb[IFLA_IFALIAS]));
	l->alias[strcspn(l->alias, "\n")] = '\0';
	if (tb[IFLA_LINKINFO]) {
		const struct nlattr *info[IFLA_INFO_MAX + 1] = { 0 };
		mnl_attr_parse_nested(tb[IFLA_LINKINFO], collect_attr, ATTRS(info));
		if (info[IFLA_INFO_KIND])
			snprintf(l->kind, sizeof(l->kind), "%s", mnl_attr_get_str(info[IFLA_INFO_KIND]));
		if (info[IFLA_INFO_DATA])
			parse_link_info_data(l, info[IFLA_INFO_DATA]);
	}
	return MNL_CB_OK;
}

/* AF_BRIDGE dump: the VLANs of each bridge port (and bridge). */
static int bridge_vlan_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_state *st = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
	mnl_attr_parse(nlh, sizeof(*ifi), collect_attr, ATTRS(tb));
	struct nl_link *l = (struct nl_link *)nl_find_ifindex(st->snap, ifi->ifi_index);
	if (!l || !tb[IFLA_AF_SPEC])
		return MNL_CB_OK;
	const struct nlattr *a;
	unsigned range_start = 0;
	mnl_attr_for_each_nested(a, tb[IFLA_AF_SPEC]) {
		if (mnl_attr_get_type(a) != IFLA_BRIDGE_VLAN_INFO ||
		    mnl_attr_get_payload_len(a) < sizeof(struct bridge_vlan_info))
			continue;
		const struct bridge_vlan_info *vi = mnl_attr_get_payload(a);
		l->has_vlans = true;
		if (vi->flags & BRIDGE_VLAN_INFO_PVID)
			l->pvid = vi->vid;
		if (vi->flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) {
			range_start = vi->vid;
			continue;
		}
		unsigned lo = (vi->flags & BRIDGE_VLAN_INFO_RANGE_END) && range_start ? range_start : vi->vid;
		for (unsigned v = lo; v <= vi->vid; v++)
			nd_vids_set(&l->vids, v, true);
		range_start = 0;
	}
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_state *st = data;
	struct nl_snapshot *snap = st->snap;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	mnl_attr_parse(nlh, sizeof(*ifa), collect_attr, ATTRS(tb));
	const struct nlattr *ip = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	size_t len = ifa->ifa_family == AF_INET ? 4 : ifa->ifa_family == AF_INET6 ? 16 : 0;
	if (!ip || !len || mnl_attr_get_payload_len(ip) < len)
		return MNL_CB_OK;
	struct nl_address *arr = realloc(snap->addrs, (snap->n_addrs + 1) * sizeof(*arr));
	if (!arr) {
		st->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	snap->addrs = arr;
	struct nl_address *a = &arr[snap->n_addrs++];
	*a = (struct nl_address){ .ifindex = ifa->ifa_index, .scope = ifa->ifa_scope };
	a->addr.family = ifa->ifa_family;
	a->addr.prefix = ifa->ifa_prefixlen;
	memcpy(a->addr.addr, mnl_attr_get_payload(ip), len);
	if (tb[IFA_PROTO])
		a->proto = mnl_attr_get_u8(tb[IFA_PROTO]);
	return MNL_CB_OK;
}

static int dump(struct nl_ctx *ctx, struct dump_state *st, int type, int family, uint32_t ext_mask, mnl_cb_t cb)
{
	_cleanup_free_ char *buf = calloc(1, MNL_SOCKET_BUFFER_SIZE);
	if (!buf)
		return -ENOMEM;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_DUMP;
	if (type == RTM_GETADDR) {
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		ifa->ifa_family = family;
	} else {
		struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
		ifi->ifi_family = family;
		if (ext_mask)
			mnl_attr_put_u32(nlh, IFLA_EXT_MASK, ext_mask);
	}
	int r = nl_talk(ctx, nlh, cb, st);
	return st->err ? st->err : r;
}

int nl_dump(struct nl_ctx *ctx, struct nl_snapshot **out)
{
	_cleanup_(nl_snapshot_freep) struct nl_snapshot *snap = calloc(1, sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	struct dump_state st = { .snap = snap };
	int r = dump(ctx, &st, RTM_GETLINK, AF_UNSPEC, 0, link_cb);
	if (r < 0)
		return r;
	r = dump(ctx, &st, RTM_GETLINK, AF_BRIDGE, RTEXT_FILTER_BRVLAN_COMPRESSED, bridge_vlan_cb);
	if (r < 0 && r != -EOPNOTSUPP)
		return r;
	if ((r = dump(ctx, &st, RTM_GETADDR, AF_UNSPEC, 0, addr_cb)) < 0)
		return r;
	*out = TAKE_PTR(snap);
	return 0;
}

/* ---- changes ---- */

static void put_bridge_opts(struct nlmsghdr *nlh, const struct nl_bridge_opts *o)
{
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	struct nlattr *d = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	if (o && o->stp >= 0)
		mnl_attr_put_u32(nlh, IFLA_BR_STP_STATE, o->stp);
	if (o && o->forward_delay >= 0)
		mnl_attr_put_u32(nlh, IFLA_BR_FORWARD_DELAY, o->forward_delay * USER_HZ);
	if (o && o->vlan_filtering >= 0)
		mnl_attr_put_u8(nlh, IFLA_BR_VLAN_FILTERING, o->vlan_filtering);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, li);
}

static void put_bond_opts(struct nlmsghdr *nlh, const struct nl_bond_opts *o)
{
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bond");
	struct nlattr *d = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	if (o && o->mode >= 0)
		mnl_attr_put_u8(nlh, IFLA_BOND_MODE, o->mode);
	if (o && o->miimon >= 0)
		mnl_attr_put_u32(nlh, IFLA_BOND_MIIMON, o->miimon);
	if (o && o->xmit_hash_policy >= 0)
		mnl_attr_put_u8(nlh, IFLA_BOND_XMIT_HASH_POLICY, o->xmit_hash_policy);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, li);
}

#define NEW_FLAGS (NLM_F_CREATE | NLM_F_EXCL)

int nl_create_bridge(struct nl_ctx *ctx, const char *name, const struct nl_bridge_opts *o)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NEW_FLAGS, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	put_bridge_opts(nlh, o);
	return nl_change(ctx, nlh);
}

int nl_create_bond(struct nl_ctx *ctx, const char *name, const struct nl_bond_opts *o)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NEW_FLAGS, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	put_bond_opts(nlh, o);
	return nl_change(ctx, nlh);
}

int nl_create_vlan(struct nl_ctx *ctx, const char *name, int parent, unsigned vid)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NEW_FLAGS, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_LINK, parent);
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vlan");
	struct nlattr *d = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u16(nlh, IFLA_VLAN_ID, vid);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, li);
	return nl_change(ctx, nlh);
}

int nl_set_bridge_opts(struct nl_ctx *ctx, int ifindex, const struct nl_bridge_opts *o)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, AF_UNSPEC, ifindex);
	put_bridge_opts(nlh, o);
	return nl_change(ctx, nlh);
}

int nl_set_bond_opts(struct nl_ctx *ctx, int ifindex, const struct nl_bond_opts *o)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, AF_UNSPEC, ifindex);
	put_bond_opts(nlh, o);
	return nl_change(ctx, nlh);
}

int nl_delete_link(struct nl_ctx *ctx, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	return nl_change(ctx, link_msg(buf, RTM_DELLINK, 0, AF_UNSPEC, ifindex));
}

int nl_set_master(struct nl_ctx *ctx, int ifindex, int master)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, AF_UNSPEC, ifindex);
	mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	return nl_change(ctx, nlh);
}

int nl_set_mtu(struct nl_ctx *ctx, int ifindex, unsigned mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, AF_UNSPEC, ifindex);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_change(ctx, nlh);
}

int nl_set_up(struct nl_ctx *ctx, int ifindex, bool up)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, AF_UNSPEC, ifindex);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	return nl_change(ctx, nlh);
}

int nl_set_alias(struct nl_ctx *ctx, int ifindex, const char *alias)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, AF_UNSPEC, ifindex);
	mnl_attr_put_str(nlh, IFLA_IFALIAS, alias);
	return nl_change(ctx, nlh);
}

static int addr_change(struct nl_ctx *ctx, int type, int ifindex, const struct nd_addr *a)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = type == RTM_NEWADDR ? NEW_FLAGS : 0;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = a->family;
	ifa->ifa_prefixlen = a->prefix;
	ifa->ifa_index = ifindex;
	size_t len = a->family == AF_INET ? 4 : 16;
	mnl_attr_put(nlh, IFA_LOCAL, len, a->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, a->addr);
	if (type == RTM_NEWADDR)
		mnl_attr_put_u8(nlh, IFA_PROTO, NL_OWNER_ADDR_PROTO);
	return nl_change(ctx, nlh);
}

int nl_addr_add(struct nl_ctx *ctx, int ifindex, const struct nd_addr *a)
{
	return addr_change(ctx, RTM_NEWADDR, ifindex, a);
}

int nl_addr_del(struct nl_ctx *ctx, int ifindex, const struct nd_addr *a)
{
	return addr_change(ctx, RTM_DELADDR, ifindex, a);
}

int nl_bridge_vlan(struct nl_ctx *ctx, int ifindex, bool add, unsigned lo, unsigned hi, bool self,
		   bool pvid_untagged)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, add ? RTM_SETLINK : RTM_DELLINK, 0, AF_BRIDGE, ifindex);
	struct nlattr *spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	mnl_attr_put_u16(nlh, IFLA_BRIDGE_FLAGS, self ? BRIDGE_FLAGS_SELF : BRIDGE_FLAGS_MASTER);
	struct bridge_vlan_info vi = { .vid = lo };
	if (pvid_untagged && lo == hi)
		vi.flags = BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED;
	if (lo != hi) {
		vi.flags = BRIDGE_VLAN_INFO_RANGE_BEGIN;
		mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi);
		vi = (struct bridge_vlan_info){ .flags = BRIDGE_VLAN_INFO_RANGE_END, .vid = hi };
	}
	mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi);
	mnl_attr_nest_end(nlh, spec);
	return nl_change(ctx, nlh);
}

/* A create request for a link named "pvecfs/probe": the kernel looks the
 * kind up first (-EOPNOTSUPP when it has no such driver) and only later
 * rejects the name, so nothing is ever created. */
int nl_probe_kind(struct nl_ctx *ctx, const char *kind)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NEW_FLAGS, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "pvecfs/probe");
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, li);
	int r = nl_talk(ctx, nlh, NULL, NULL);
	return r == -EOPNOTSUPP ? r : 0;
}

int nl_probe_vlan_filtering(struct nl_ctx *ctx)
{
	char name[IFNAMSIZ];
	snprintf(name, sizeof(name), "pvecfsprb%d", (int)(getpid() % 100000));
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NEW_FLAGS, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	put_bridge_opts(nlh, &(struct nl_bridge_opts){ .vlan_filtering = 1, .stp = -1, .forward_delay = -1 });
	int r = nl_talk(ctx, nlh, NULL, NULL);
	if (r < 0)
		return r == -EOPNOTSUPP ? r : 0;
	int ifindex = if_nametoindex(name);
	if (ifindex > 0) {
		nlh = link_msg(buf, RTM_DELLINK, 0, AF_UNSPEC, ifindex);
		nl_talk(ctx, nlh, NULL, NULL);
	}
	return 0;
}
