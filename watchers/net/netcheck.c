/* netcheck.c - footguns visible only with the kernel's state; see netcheck.h. */
#include "netcheck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* Link speed in Mb/s from sysfs, or -1 (unknown, down, virtual). */
static long link_speed(const char *name)
{
	char path[64 + IFNAMSIZ];
	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", name);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	long speed;
	if (!f || fscanf(f, "%ld", &speed) != 1)
		return -1;
	return speed;
}

/* The MTU the link will have: declared, else what the kernel has now. */
static unsigned effective_mtu(const struct nd_link *d, const struct nl_snapshot *have)
{
	if (d->mtu)
		return d->mtu;
	const struct nl_link *h = nl_find_link(have, d->name);
	return h ? h->mtu : 0;
}

static int check_missing(struct nd_state *want, const struct nl_snapshot *have, const struct nd_link *d)
{
	if (d->kind != ND_EXISTING || nl_find_link(have, d->name))
		return 0;
	if (d->master[0])
		return netdesired_warn(want, d->file, d->master_line ? d->master_line : d->line,
				       "port %s of %s does not exist", d->name, d->master);
	for (size_t i = 0; i < want->n_links; i++)
		if (want->links[i].kind == ND_VLAN && strcmp(want->links[i].parent, d->name) == 0)
			return netdesired_warn(want, want->links[i].file, want->links[i].line,
					       "%s: VLAN parent %s does not exist", want->links[i].name, d->name);
	return netdesired_warn(want, d->file, d->line, "%s is declared but does not exist", d->name);
}

static int check_bridge_ports(struct nd_state *want, const struct nl_snapshot *have, size_t bi)
{
	const struct nd_link *b = &want->links[bi];
	unsigned bmtu = effective_mtu(b, have);
	if (!bmtu)
		bmtu = 1500;
	for (size_t i = 0; i < want->n_links; i++) {
		const struct nd_link *p = &want->links[i];
		if (strcmp(p->master, b->name) != 0)
			continue;
		unsigned pmtu = effective_mtu(p, have);
		if (pmtu && pmtu < bmtu) {
			int r = netdesired_warn(want, p->file, p->master_line ? p->master_line : p->line,
						"MTU mismatch: bridge %s has mtu %u but its port %s has mtu %u",
						want->links[bi].name, bmtu, p->name, pmtu);
			if (r < 0)
				return r;
			b = &want->links[bi];
		}
	}
	return 0;
}

static int check_bond_slaves(struct nd_state *want, const struct nl_snapshot *have, size_t bi)
{
	long speed0 = -1;
	unsigned mtu0 = 0;
	char first[IFNAMSIZ] = "";
	for (size_t i = 0; i < want->n_links; i++) {
		const struct nd_link *s = &want->links[i];
		if (strcmp(s->master, want->links[bi].name) != 0)
			continue;
		const struct nl_link *h = nl_find_link(have, s->name);
		if (!h)
			continue;
		long speed = link_speed(s->name);
		unsigned mtu = s->mtu ? s->mtu : h->mtu;
		int r = 0;
		if (!first[0]) {
			snprintf(first, sizeof(first), "%s", s->name);
			speed0 = speed;
			mtu0 = mtu;
			continue;
		}
		if (speed > 0 && speed0 > 0 && speed != speed0)
			r = netdesired_warn(want, s->file, s->master_line ? s->master_line : s->line,
					    "bond %s: slave %s runs at %ld Mb/s but %s at %ld Mb/s",
					    want->links[bi].name, s->name, speed, first, speed0);
		else if (mtu != mtu0)
			r = netdesired_warn(want, s->file, s->master_line ? s->master_line : s->line,
					    "bond %s: slave %s has mtu %u but %s has mtu %u", want->links[bi].name,
					    s->name, mtu, first, mtu0);
		if (r < 0)
			return r;
	}
	return 0;
}

int netcheck_run(struct nd_state *want, const struct nl_snapshot *have)
{
	size_t n = want->n_links;
	for (size_t i = 0; i < n; i++) {
		int r = check_missing(want, have, &want->links[i]);
		if (r == 0 && want->links[i].kind == ND_BRIDGE)
			r = check_bridge_ports(want, have, i);
		if (r == 0 && want->links[i].kind == ND_BOND)
			r = check_bond_slaves(want, have, i);
		if (r < 0)
			return r;
	}
	return 0;
}
