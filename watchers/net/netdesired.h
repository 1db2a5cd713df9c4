/* netdesired.h - the desired network state of one node.
 *
 * Built from the node's `interfaces` file and the SDN zones and vnets; it is
 * what the kernel should look like, independent of what it looks like now.
 * Every declared link remembers the file and line that declared it, so that
 * validation errors and footgun reports point at the declaration.  Building
 * either succeeds completely or fails with one file:line: reason error. */
#ifndef PVECFS_NET_NETDESIRED_H
#define PVECFS_NET_NETDESIRED_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <net/if.h>

#include "ifupdown.h"

enum nd_kind {
	ND_EXISTING, /* a link pvecfs-net does not create (NIC, loopback) */
	ND_BRIDGE,
	ND_BOND,
	ND_VLAN,
};

const char *nd_kind_name(enum nd_kind kind);

struct nd_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

/* Format as "a.b.c.d/p" into buf (at least 64 bytes); returns buf. */
char *nd_addr_format(const struct nd_addr *a, char *buf, size_t size);
/* Parse "ADDR/PREFIX" (or ADDR alone, then prefix is the host prefix). */
int nd_addr_parse(const char *text, struct nd_addr *out, bool need_prefix);
bool nd_addr_equal(const struct nd_addr *a, const struct nd_addr *b);

#define ND_VID_WORDS (4096 / 64)
struct nd_vids {
	uint64_t bits[ND_VID_WORDS];
};
static inline bool nd_vids_has(const struct nd_vids *v, unsigned vid)
{
	return vid < 4096 && (v->bits[vid / 64] >> (vid % 64)) & 1;
}
static inline void nd_vids_set(struct nd_vids *v, unsigned vid, bool on)
{
	if (vid >= 4096)
		return;
	if (on)
		v->bits[vid / 64] |= UINT64_C(1) << (vid % 64);
	else
		v->bits[vid / 64] &= ~(UINT64_C(1) << (vid % 64));
}

/* Kernel bonding modes, numbered as IFLA_BOND_MODE expects. */
int nd_bond_mode_parse(const char *text);
const char *nd_bond_mode_name(int mode);
int nd_xmit_hash_policy_parse(const char *text);

struct nd_link {
	char name[IFNAMSIZ];
	enum nd_kind kind;
	const char *file; /* points into the nd_state's file names */
	unsigned line;    /* of the declaration */
	bool up;          /* `auto`: bring it up */
	unsigned mtu;     /* 0: not declared */
	char master[IFNAMSIZ]; /* bridge or bond this link is a port of, or "" */
	unsigned master_line;

	struct nd_addr *addrs;
	size_t n_addrs;
	unsigned addr_lines[8]; /* line of the first 8 addresses, for reports */
	char gateway[64]; /* kept and validated; routes are not managed yet */

	/* bridge */
	bool vlan_aware;
	int stp;           /* -1 not declared, 0 off, 1 on */
	int forward_delay; /* seconds, -1 not declared */
	bool vids_declared;
	struct nd_vids vids; /* bridge-vids, applied to the ports */
	/* bond */
	int bond_mode;     /* -1 not declared (kernel default balance-rr) */
	int miimon;        /* -1 not declared */
	int xmit_hash_policy; /* -1 not declared */
	/* vlan */
	char parent[IFNAMSIZ];
	unsigned vid;

	/* declared through bridge-ports/bond-slaves only (no iface stanza) */
	bool implicit;
	/* comes from sdn/vnets.cfg (the vnet bridge or its vlan port) */
	bool from_sdn;
	unsigned sdn_tag; /* vnet tag, 0 none */
};

/* A non-fatal report ("footgun"): something that will probably not do what
 * the author meant.  Kept with the file and line it is about. */
struct nd_warning {
	char file[256];
	unsigned line;
	char text[384];
};

struct nd_state {
	struct nd_link *links;
	size_t n_links;
	bool allow_cluster_link_change;
	struct nd_warning *warnings;
	size_t n_warnings;
	char *files[3]; /* interfaces, zones.cfg, vnets.cfg (owned strings) */
};

/* SDN input, as read from sdn/zones.cfg and sdn/vnets.cfg. */
struct nd_zone {
	char name[64];
	char type[32]; /* simple, vlan, ... */
	char bridge[IFNAMSIZ];
	unsigned mtu;
	unsigned line;
};
struct nd_vnet {
	char name[64];
	char zone[64];
	unsigned tag;
	bool vlanaware;
	unsigned line;
};
struct nd_sdn {
	const char *zones_file, *vnets_file;
	struct nd_zone *zones;
	size_t n_zones;
	struct nd_vnet *vnets;
	size_t n_vnets;
};

/* Build the desired state.  sdn may be NULL.  Returns 0, -EINVAL with err
 * filled (nothing is returned), or -ENOMEM. */
int netdesired_build(const struct ifd_file *ifaces, const struct nd_sdn *sdn, struct nd_state **out,
		     struct net_error *err);
void netdesired_free(struct nd_state *s);

struct nd_link *netdesired_find(const struct nd_state *s, const char *name);
int netdesired_warn(struct nd_state *s, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
