/* netdesired.c - from the interfaces file and SDN config to desired links.
 *
 * Two passes over the stanzas: the first decides what each interface is
 * (bridge if it has bridge-ports, bond if it has bond-slaves, VLAN if it has
 * vlan-raw-device or is named PARENT.VID, otherwise an existing link such as
 * a NIC) and reads its own options; the second links interfaces together
 * (ports, slaves, VLAN parents), adding implicit entries for ports that have
 * no stanza.  SDN vnets are expanded last into bridges (and, in a vlan zone,
 * a VLAN link on the zone's bridge as their port).  Checks that only need the
 * files are done here; those that need the kernel's state are in netcheck.c. */
#include "netdesired.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"

#define ND_MAX_LINKS 4096

const char *nd_kind_name(enum nd_kind kind)
{
	switch (kind) {
	case ND_BRIDGE: return "bridge";
	case ND_BOND: return "bond";
	case ND_VLAN: return "vlan";
	default: return "link";
	}
}

char *nd_addr_format(const struct nd_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	inet_ntop(a->family, a->addr, ip, sizeof(ip));
	snprintf(buf, size, "%s/%u", ip, a->prefix);
	return buf;
}

int nd_addr_parse(const char *text, struct nd_addr *out, bool need_prefix)
{
	char ip[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, text, n);
	ip[n] = '\0';
	*out = (struct nd_addr){ 0 };
	unsigned max;
	if (inet_pton(AF_INET, ip, out->addr) == 1)
		out->family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, ip, out->addr) == 1)
		out->family = AF_INET6, max = 128;
	else
		return -EINVAL;
	if (!slash) {
		if (need_prefix)
			return -EINVAL;
		out->prefix = max;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long p = strtoul(slash + 1, &end, 10);
	if (!isdigit((unsigned char)slash[1]) || *end || errno || p > max)
		return -EINVAL;
	out->prefix = p;
	return 0;
}

bool nd_addr_equal(const struct nd_addr *a, const struct nd_addr *b)
{
	size_t len = a->family == AF_INET ? 4 : 16;
	return a->family == b->family && a->prefix == b->prefix && memcmp(a->addr, b->addr, len) == 0;
}

static const char *const bond_modes[] = {
	"balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb",
};

int nd_bond_mode_parse(const char *text)
{
	for (size_t i = 0; i < ARRAY_SIZE(bond_modes); i++)
		if (strcmp(text, bond_modes[i]) == 0 || (text[0] == (char)('0' + i) && !text[1]))
			return i;
	return -EINVAL;
}

const char *nd_bond_mode_name(int mode)
{
	return mode >= 0 && (size_t)mode < ARRAY_SIZE(bond_modes) ? bond_modes[mode] : "?";
}

int nd_xmit_hash_policy_parse(const char *text)
{
	static const char *const policies[] = { "layer2", "layer3+4", "layer2+3", "encap2+3",
						"encap3+4", "vlan+srcmac" };
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++)
		if (strcmp(text, policies[i]) == 0)
			return i;
	return -EINVAL;
}

void netdesired_free(struct nd_state *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_links; i++)
		free(s->links[i].addrs);
	free(s->links);
	free(s->warnings);
	for (size_t i = 0; i < ARRAY_SIZE(s->files); i++)
		free(s->files[i]);
	free(s);
}

static void netdesired_freep(struct nd_state **s) { netdesired_free(*s); }

struct nd_link *netdesired_find(const struct nd_state *s, const char *name)
{
	for (size_t i = 0; i < s->n_links; i++)
		if (strcmp(s->links[i].name, name) == 0)
			return &s->links[i];
	return NULL;
}

int netdesired_warn(struct nd_state *s, const char *file, unsigned line, const char *fmt, ...)
{
	struct nd_warning *w = realloc(s->warnings, (s->n_warnings + 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	s->warnings = w;
	w = &w[s->n_warnings++];
	snprintf(w->file, sizeof(w->file), "%s", file ? file : "");
	w->line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->text, sizeof(w->text), fmt, ap);
	va_end(ap);
	return 0;
}

/* Links are found by name and added as declarations are met; pointers into
 * the array are only held within one step (the array may move). */
static struct nd_link *add_link(struct nd_state *s, const char *name, enum nd_kind kind, const char *file,
				unsigned line)
{
	if (s->n_links >= ND_MAX_LINKS)
		return NULL;
	struct nd_link *l = realloc(s->links, (s->n_links + 1) * sizeof(*l));
	if (!l)
		return NULL;
	s->links = l;
	l = &l[s->n_links++];
	*l = (struct nd_link){ .kind = kind, .file = file, .line = line, .stp = -1, .forward_delay = -1,
			       .bond_mode = -1, .miimon = -1, .xmit_hash_policy = -1 };
	snprintf(l->name, sizeof(l->name), "%s", name);
	return l;
}

struct builder {
	struct nd_state *s;
	const struct ifd_file *f;
	const char *file; /* == s->files[0] */
	struct net_error *err;
};

static int parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (*end || errno || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *text)
{
	if (!strcmp(text, "yes") || !strcmp(text, "on") || !strcmp(text, "1"))
		return 1;
	if (!strcmp(text, "no") || !strcmp(text, "off") || !strcmp(text, "0"))
		return 0;
	return -EINVAL;
}

/* "2-4094", "10 20 30-40" or "10,20". */
static int parse_vids(const char *text, struct nd_vids *out)
{
	_cleanup_free_ char *copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	*out = (struct nd_vids){ 0 };
	int n = 0;
	for (char *save, *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		unsigned long lo, hi;
		char *dash = strchr(tok, '-');
		if (dash)
			*dash = '\0';
		if (parse_uint(tok, 1, 4094, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (dash && (parse_uint(dash + 1, 1, 4094, &hi) < 0 || hi < lo))
			return -EINVAL;
		for (unsigned long v = lo; v <= hi; v++)
			nd_vids_set(out, v, true);
		n++;
	}
	return n ? 0 : -EINVAL;
}

static bool stanza_has(const struct ifd_stanza *st, const char *key)
{
	return ifupdown_option(st, key) != NULL;
}

/* Decide the kind of a stanza's interface from its options and name. */
static int stanza_kind(struct builder *b, const struct ifd_stanza *st, enum nd_kind *kind)
{
	bool bridge = stanza_has(st, "bridge-ports"), bond = stanza_has(st, "bond-slaves");
	bool vlan = stanza_has(st, "vlan-raw-device");
	const char *dot = strrchr(st->name, '.');
	if (!vlan && dot && dot[1] && strspn(dot + 1, "0123456789") == strlen(dot + 1))
		vlan = true;
	if (bridge + bond + vlan > 1)
		return net_error_set(b->err, b->file, st->line,
				     "interface '%s' cannot be more than one of bridge, bond and VLAN", st->name);
	*kind = bridge ? ND_BRIDGE : bond ? ND_BOND : vlan ? ND_VLAN : ND_EXISTING;
	return 0;
}

static int add_address(struct builder *b, struct nd_link *l, const struct ifd_stanza *st,
		       const struct ifd_option *o)
{
	struct nd_addr a;
	const struct ifd_option *nm = ifupdown_option(st, "netmask");
	if (nd_addr_parse(o->value, &a, false) < 0)
		return net_error_set(b->err, b->file, o->line, "invalid address '%s'", o->value);
	/* ifupdown2 takes either family in either stanza; so do we */
	int want = a.family;
	if (!strchr(o->value, '/')) {
		struct in_addr mask;
		unsigned long p;
		if (!nm)
			return net_error_set(b->err, b->file, o->line,
					     "address '%s' has no prefix length (write ADDRESS/PREFIX)", o->value);
		if (parse_uint(nm->value, 0, want == AF_INET ? 32 : 128, &p) == 0)
			a.prefix = p;
		else if (want == AF_INET && inet_pton(AF_INET, nm->value, &mask) == 1) {
			uint32_t m = ntohl(mask.s_addr);
			a.prefix = __builtin_popcount(m);
			if (m != (a.prefix ? ~UINT32_C(0) << (32 - a.prefix) : 0))
				return net_error_set(b->err, b->file, nm->line, "netmask '%s' is not contiguous",
						     nm->value);
		} else
			return net_error_set(b->err, b->file, nm->line, "invalid netmask '%s'", nm->value);
	}
	for (size_t i = 0; i < l->n_addrs; i++)
		if (nd_addr_equal(&l->addrs[i], &a))
			return net_error_set(b->err, b->file, o->line, "address '%s' is declared twice on %s",
					     o->value, l->name);
	struct nd_addr *arr = realloc(l->addrs, (l->n_addrs + 1) * sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	l->addrs = arr;
	if (l->n_addrs < ARRAY_SIZE(l->addr_lines))
		l->addr_lines[l->n_addrs] = o->line;
	arr[l->n_addrs++] = a;
	return 0;
}

/* Options that are valid in ifupdown2 files but that pvecfs-net does not
 * act on: reported once per use so nobody believes they took effect. */
static bool is_script_option(const char *key)
{
	static const char *const scripts[] = { "pre-up", "up", "post-up", "pre-down", "down", "post-down" };
	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++)
		if (strcmp(key, scripts[i]) == 0)
			return true;
	return false;
}

static int read_option(struct builder *b, size_t li, const struct ifd_stanza *st, const struct ifd_option *o)
{
	struct nd_link *l = &b->s->links[li];
	const char *k = o->key, *v = o->value;
	unsigned long n;
	int r;
#define KEY(name) (strcmp(k, name) == 0 || ({ \
	char _t[64]; snprintf(_t, sizeof(_t), "%s", name); \
	for (char *_c = _t; *_c; _c++) if (*_c == '-') *_c = '_'; \
	strcmp(k, _t) == 0; }))
#define NEED_KIND(kd) do { if (l->kind != (kd)) \
	return net_error_set(b->err, b->file, o->line, "'%s' is only valid on a %s", k, nd_kind_name(kd)); \
	} while (0)

	if (KEY("address"))
		return add_address(b, l, st, o);
	if (KEY("netmask") || KEY("bridge-ports") || KEY("bond-slaves"))
		return 0; /* read with address / in the second pass */
	if (KEY("gateway")) {
		struct nd_addr a;
		if (nd_addr_parse(v, &a, false) < 0 || strchr(v, '/'))
			return net_error_set(b->err, b->file, o->line, "invalid gateway '%s'", v);
		snprintf(l->gateway, sizeof(l->gateway), "%s", v);
		return 0;
	}
	if (KEY("mtu")) {
		if (parse_uint(v, 68, 65535, &n) < 0)
			return net_error_set(b->err, b->file, o->line, "invalid mtu '%s' (68..65535)", v);
		if (l->mtu && l->mtu != n)
			return net_error_set(b->err, b->file, o->line, "conflicting mtu for %s", l->name);
		l->mtu = n;
		return 0;
	}
	if (KEY("bridge-stp")) {
		NEED_KIND(ND_BRIDGE);
		if ((r = parse_bool(v)) < 0)
			return net_error_set(b->err, b->file, o->line, "bridge-stp must be on or off, not '%s'", v);
		l->stp = r;
		return 0;
	}
	if (KEY("bridge-fd")) {
		NEED_KIND(ND_BRIDGE);
		if (parse_uint(v, 0, 30, &n) < 0)
			return net_error_set(b->err, b->file, o->line, "invalid bridge-fd '%s' (0..30 seconds)", v);
		l->forward_delay = n;
		return 0;
	}
	if (KEY("bridge-vlan-aware")) {
		NEED_KIND(ND_BRIDGE);
		if ((r = parse_bool(v)) < 0)
			return net_error_set(b->err, b->file, o->line,
					     "bridge-vlan-aware must be yes or no, not '%s'", v);
		l->vlan_aware = r;
		return 0;
	}
	if (KEY("bridge-vids")) {
		NEED_KIND(ND_BRIDGE);
		if ((r = parse_vids(v, &l->vids)) < 0)
			return r == -ENOMEM ? r : net_error_set(b->err, b->file, o->line,
				"invalid bridge-vids '%s' (VLAN ids or ranges within 1-4094)", v);
		l->vids_declared = true;
		return 0;
	}
	if (KEY("bond-mode")) {
		NEED_KIND(ND_BOND);
		if ((l->bond_mode = nd_bond_mode_parse(v)) < 0)
			return net_error_set(b->err, b->file, o->line, "unknown bond-mode '%s'", v);
		return 0;
	}
	if (KEY("bond-miimon")) {
		NEED_KIND(ND_BOND);
		if (parse_uint(v, 0, 100000, &n) < 0)
			return net_error_set(b->err, b->file, o->line, "invalid bond-miimon '%s'", v);
		l->miimon = n;
		return 0;
	}
	if (KEY("bond-xmit-hash-policy")) {
		NEED_KIND(ND_BOND);
		if ((l->xmit_hash_policy = nd_xmit_hash_policy_parse(v)) < 0)
			return net_error_set(b->err, b->file, o->line, "unknown bond-xmit-hash-policy '%s'", v);
		return 0;
	}
	if (KEY("vlan-raw-device")) {
		NEED_KIND(ND_VLAN);
		if (strlen(v) == 0 || strlen(v) >= IFNAMSIZ || strchr(v, ' '))
			return net_error_set(b->err, b->file, o->line, "invalid vlan-raw-device '%s'", v);
		snprintf(l->parent, sizeof(l->parent), "%s", v);
		return 0;
	}
	if (KEY("vlan-id")) {
		NEED_KIND(ND_VLAN);
		if (parse_uint(v, 1, 4094, &n) < 0)
			return net_error_set(b->err, b->file, o->line, "invalid vlan-id '%s' (1..4094)", v);
		l->vid = n;
		return 0;
	}
	if (is_script_option(k))
		return netdesired_warn(b->s, b->file, o->line, "'%s' commands are not run by pvecfs-net", k);
	return netdesired_warn(b->s, b->file, o->line, "option '%s' is not applied by pvecfs-net", k);
#undef KEY
#undef NEED_KIND
}

/* First pass: one link per interface name, with its own options. */
static int read_stanza(struct builder *b, const struct ifd_stanza *st)
{
	enum nd_kind kind = ND_EXISTING;
	int r = stanza_kind(b, st, &kind);
	if (r < 0)
		return r;
	struct nd_link *l = netdesired_find(b->s, st->name);
	if (l && l->kind != kind)
		return net_error_set(b->err, b->file, st->line, "'%s' is a %s here but a %s at line %u",
				     st->name, nd_kind_name(kind), nd_kind_name(l->kind), l->line);
	if (!l && !(l = add_link(b->s, st->name, kind, b->file, st->line)))
		return -ENOMEM;
	size_t li = l - b->s->links;
	l->up = ifupdown_is_auto(b->f, st->name);
	if (strcmp(st->method, "dhcp") == 0)
		netdesired_warn(b->s, b->file, st->line, "method dhcp is not supported by pvecfs-net: %s gets no address",
				st->name);
	for (size_t i = 0; i < st->n_options; i++)
		if ((r = read_option(b, li, st, &st->options[i])) < 0)
			return r;
	return 0;
}

/* Second pass, bridges and bonds: their ports point back at them. */
static int attach_ports(struct builder *b, size_t li, const struct ifd_option *o)
{
	_cleanup_free_ char *copy = strdup(o->value);
	if (!copy)
		return -ENOMEM;
	struct nd_link master = b->s->links[li]; /* a copy: the array may move */
	if (!*o->value)
		return net_error_set(b->err, b->file, o->line, "'%s' needs interface names or 'none'", o->key);
	for (char *save, *p = strtok_r(copy, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (strcmp(p, "none") == 0)
			continue;
		if (strlen(p) >= IFNAMSIZ)
			return net_error_set(b->err, b->file, o->line, "invalid interface name '%s'", p);
		if (strcmp(p, master.name) == 0)
			return net_error_set(b->err, b->file, o->line, "%s cannot be a port of itself", p);
		struct nd_link *port = netdesired_find(b->s, p);
		if (!port) {
			/* as in ifupdown2, a port named PARENT.VID is a VLAN link */
			const char *dot = strrchr(p, '.');
			bool vlan = dot && dot != p && dot[1] && strspn(dot + 1, "0123456789") == strlen(dot + 1);
			if (!(port = add_link(b->s, p, vlan ? ND_VLAN : ND_EXISTING, b->file, o->line)))
				return -ENOMEM;
			port->implicit = true;
		}
		if (port->master[0])
			return net_error_set(b->err, b->file, o->line, "%s is already a port of %s (line %u)", p,
					     port->master, port->master_line);
		if (port->kind == ND_BRIDGE)
			return net_error_set(b->err, b->file, o->line, "bridge %s cannot be a port of %s", p,
					     master.name);
		if (master.kind == ND_BOND && port->kind != ND_EXISTING)
			return net_error_set(b->err, b->file, o->line,
					     "bond slave %s must be a network device, not a %s", p,
					     nd_kind_name(port->kind));
		snprintf(port->master, sizeof(port->master), "%s", master.name);
		port->master_line = o->line;
	}
	return 0;
}

static int resolve_vlan(struct builder *b, size_t li)
{
	struct nd_link *l = &b->s->links[li];
	const char *dot = strrchr(l->name, '.');
	if (!l->parent[0]) {
		if (!dot || dot == l->name)
			return net_error_set(b->err, l->file, l->line,
					     "VLAN %s needs vlan-raw-device or a name PARENT.VID", l->name);
		snprintf(l->parent, sizeof(l->parent), "%.*s", (int)(dot - l->name), l->name);
	}
	if (!l->vid) {
		const char *digits = dot ? dot + 1 : l->name + strcspn(l->name, "0123456789");
		unsigned long n;
		if (parse_uint(digits, 1, 4094, &n) < 0)
			return net_error_set(b->err, l->file, l->line,
					     "VLAN %s: no vlan-id and no VLAN id (1..4094) in its name", l->name);
		l->vid = n;
	}
	if (strcmp(l->parent, l->name) == 0)
		return net_error_set(b->err, l->file, l->line, "VLAN %s cannot sit on itself", l->name);
	char parent[IFNAMSIZ], name[IFNAMSIZ];
	unsigned vid = l->vid, line = l->line;
	snprintf(parent, sizeof(parent), "%s", l->parent);
	snprintf(name, sizeof(name), "%s", l->name);
	for (size_t i = 0; i < b->s->n_links; i++) {
		struct nd_link *o = &b->s->links[i];
		if (i != li && o->kind == ND_VLAN && o->vid == vid && strcmp(o->parent, parent) == 0)
			return net_error_set(b->err, b->file, line, "VLAN %u on %s is declared twice (%s and %s)",
					     vid, parent, o->name, name);
	}
	if (!netdesired_find(b->s, parent)) {
		struct nd_link *p = add_link(b->s, parent, ND_EXISTING, b->file, line);
		if (!p)
			return -ENOMEM;
		p->implicit = true;
	}
	return 0;
}

/* Depth of a link in the stack: lower links (ports, slaves, VLAN parents)
 * come first.  Also detects loops such as a bridge's own VLAN as its port. */
static int link_depth(const struct nd_state *s, const struct nd_link *l, unsigned guard)
{
	if (guard > s->n_links + 1)
		return -ELOOP;
	int d = 0;
	if (l->kind == ND_VLAN) {
		struct nd_link *p = netdesired_find(s, l->parent);
		int pd = p ? link_depth(s, p, guard + 1) : 0;
		if (pd < 0)
			return pd;
		d = pd + 1;
	}
	for (size_t i = 0; i < s->n_links; i++) {
		if (strcmp(s->links[i].master, l->name) != 0)
			continue;
		int pd = link_depth(s, &s->links[i], guard + 1);
		if (pd < 0)
			return pd;
		if (pd + 1 > d)
			d = pd + 1;
	}
	return d;
}

static int check_loops(struct builder *b)
{
	for (size_t i = 0; i < b->s->n_links; i++)
		if (link_depth(b->s, &b->s->links[i], 0) < 0)
			return net_error_set(b->err, b->s->links[i].file, b->s->links[i].line,
					     "%s is part of a loop of ports and VLAN parents", b->s->links[i].name);
	return 0;
}

/* A link that comes up needs what it sits on: ports of an `auto` bridge or
 * bond and the parent of an `auto` VLAN come up with it (as in ifupdown2). */
static void propagate_up(struct nd_state *s)
{
	for (bool again = true; again;) {
		again = false;
		for (size_t i = 0; i < s->n_links; i++) {
			struct nd_link *l = &s->links[i];
			struct nd_link *m = l->master[0] ? netdesired_find(s, l->master) : NULL;
			if (!l->up && m && m->up)
				l->up = again = true;
			struct nd_link *p = l->kind == ND_VLAN ? netdesired_find(s, l->parent) : NULL;
			if (l->up && p && !p->up)
				p->up = again = true;
		}
	}
}

/* Footguns visible in the files alone. */
static void static_checks(struct nd_state *s)
{
	for (size_t i = 0; i < s->n_links; i++) {
		struct nd_link *l = &s->links[i];
		struct nd_link *m = l->master[0] ? netdesired_find(s, l->master) : NULL;
		if (m && m->kind == ND_BRIDGE && m->mtu && l->mtu && l->mtu < m->mtu)
			netdesired_warn(s, l->file, l->line, "MTU mismatch: %s has mtu %u but its bridge %s has mtu %u",
					l->name, l->mtu, m->name, m->mtu);
		if (l->kind == ND_VLAN) {
			struct nd_link *p = netdesired_find(s, l->parent);
			unsigned pmtu = p && p->mtu ? p->mtu : 1500;
			if (l->mtu > pmtu)
				netdesired_warn(s, l->file, l->line, "MTU mismatch: VLAN %s has mtu %u above %s's %u",
						l->name, l->mtu, l->parent, pmtu);
			if (p && p->kind == ND_BRIDGE && !l->from_sdn) {
				if (!p->vlan_aware)
					netdesired_warn(s, l->file, l->line,
							"VLAN tag %u on bridge %s, which is not VLAN-aware "
							"(bridge-vlan-aware yes is missing)", l->vid, p->name);
				else if (!nd_vids_has(&p->vids, l->vid))
					netdesired_warn(s, l->file, l->line,
							"VLAN tag %u is outside bridge-vids of %s", l->vid, p->name);
			}
		}
		if (l->kind == ND_BOND) {
			unsigned first = 0;
			for (size_t j = 0; j < s->n_links; j++) {
				struct nd_link *sl = &s->links[j];
				if (strcmp(sl->master, l->name) != 0 || !sl->mtu)
					continue;
				if (first && sl->mtu != first)
					netdesired_warn(s, sl->file, sl->line,
							"bond %s: slave %s has mtu %u, another slave has %u", l->name,
							sl->name, sl->mtu, first);
				first = first ? first : sl->mtu;
			}
		}
	}
}


static const struct nd_zone *find_zone(const struct nd_sdn *sdn, const char *name)
{
	for (size_t i = 0; i < sdn->n_zones; i++)
		if (strcmp(sdn->zones[i].name, name) == 0)
			return &sdn->zones[i];
	return NULL;
}

static int check_zone(struct builder *b, const struct nd_zone *z, bool *supported)
{
	const char *zf = b->s->files[1];
	*supported = false;
	if (strcmp(z->type, "simple") == 0) {
		*supported = true;
		return 0;
	}
	if (strcmp(z->type, "vlan") != 0)
		return netdesired_warn(b->s, zf, z->line,
				       "zone %s: type '%s' is not supported yet; its vnets are not created",
				       z->name, z->type);
	if (!z->bridge[0])
		return net_error_set(b->err, zf, z->line, "vlan zone %s needs 'bridge'", z->name);
	struct nd_link *br = netdesired_find(b->s, z->bridge);
	if (!br || br->kind != ND_BRIDGE || br->from_sdn)
		return net_error_set(b->err, zf, z->line, "vlan zone %s: bridge %s is not declared in %s",
				     z->name, z->bridge, b->file);
	*supported = true;
	return 0;
}

/* The vnet's port in a vlan zone: PARENT.TAG, shared with a declaration of
 * the same VLAN in the interfaces file if there is one. */
static int add_vnet_vlan_port(struct builder *b, const struct nd_vnet *v, const struct nd_zone *z)
{
	const char *vf = b->s->files[2];
	char name[IFNAMSIZ + 8];
	snprintf(name, sizeof(name), "%s.%u", z->bridge, v->tag);
	if (strlen(name) >= IFNAMSIZ)
		return net_error_set(b->err, vf, v->line, "vnet %s: VLAN link name %s is too long", v->name, name);
	struct nd_link *p = netdesired_find(b->s, name);
	if (p && (p->kind != ND_VLAN || p->vid != v->tag || strcmp(p->parent, z->bridge) != 0 || p->master[0]))
		return net_error_set(b->err, vf, v->line, "vnet %s: %s is declared differently at %s:%u",
				     v->name, name, p->file, p->line);
	if (!p) {
		if (!(p = add_link(b->s, name, ND_VLAN, vf, v->line)))
			return -ENOMEM;
		p->from_sdn = true;
		p->up = true;
		p->vid = v->tag;
		snprintf(p->parent, sizeof(p->parent), "%s", z->bridge);
		p->mtu = z->mtu;
	}
	snprintf(p->master, sizeof(p->master), "%s", v->name);
	p->master_line = v->line;

	struct nd_link *br = netdesired_find(b->s, z->bridge);
	unsigned pmtu = br->mtu ? br->mtu : 1500;
	if (z->mtu > pmtu)
		netdesired_warn(b->s, vf, v->line, "MTU mismatch: vnet %s has mtu %u (zone %s) above %s's %u",
				v->name, z->mtu, z->name, br->name, pmtu);
	if (!br->vlan_aware)
		netdesired_warn(b->s, vf, v->line,
				"vnet %s: VLAN tag %u on bridge %s, which is not VLAN-aware "
				"(bridge-vlan-aware yes is missing)", v->name, v->tag, br->name);
	else if (!nd_vids_has(&br->vids, v->tag))
		netdesired_warn(b->s, vf, v->line, "vnet %s: VLAN tag %u is outside bridge-vids of %s",
				v->name, v->tag, br->name);
	return 0;
}

static int add_vnet(struct builder *b, const struct nd_vnet *v, const struct nd_zone *z)
{
	const char *vf = b->s->files[2];
	size_t len = strlen(v->name);
	if (len == 0 || len >= IFNAMSIZ || strspn(v->name, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len)
		return net_error_set(b->err, vf, v->line,
				     "vnet name '%s' is not a valid interface name (1-15 letters, digits, '-', '_')",
				     v->name);
	struct nd_link *clash = netdesired_find(b->s, v->name);
	if (clash)
		return net_error_set(b->err, vf, v->line, "vnet %s: the name is already used at %s:%u", v->name,
				     clash->file, clash->line);
	bool vlan = strcmp(z->type, "vlan") == 0;
	if (vlan && !v->tag)
		return net_error_set(b->err, vf, v->line, "vnet %s in vlan zone %s needs a tag (1..4094)",
				     v->name, z->name);
	if (!vlan && v->tag)
		netdesired_warn(b->s, vf, v->line, "vnet %s: tag %u is ignored in simple zone %s", v->name,
				v->tag, z->name);
	struct nd_link *l = add_link(b->s, v->name, ND_BRIDGE, vf, v->line);
	if (!l)
		return -ENOMEM;
	l->from_sdn = true;
	l->up = true;
	l->mtu = z->mtu;
	l->vlan_aware = v->vlanaware;
	l->sdn_tag = v->tag;
	return vlan ? add_vnet_vlan_port(b, v, z) : 0;
}

static int expand_sdn(struct builder *b, const struct nd_sdn *sdn)
{
	int r;
	_cleanup_free_ bool *supported = calloc(sdn->n_zones + 1, sizeof(bool));
	if (!supported)
		return -ENOMEM;
	for (size_t i = 0; i < sdn->n_zones; i++)
		if ((r = check_zone(b, &sdn->zones[i], &supported[i])) < 0)
			return r;
	for (size_t i = 0; i < sdn->n_vnets; i++) {
		const struct nd_vnet *v = &sdn->vnets[i];
		const struct nd_zone *z = find_zone(sdn, v->zone);
		if (!v->zone[0])
			return net_error_set(b->err, b->s->files[2], v->line, "vnet %s has no zone", v->name);
		if (!z)
			return net_error_set(b->err, b->s->files[2], v->line, "vnet %s: zone '%s' is not defined in %s",
					     v->name, v->zone, b->s->files[1]);
		if (supported[z - sdn->zones] && (r = add_vnet(b, v, z)) < 0)
			return r;
	}
	return 0;
}

int netdesired_build(const struct ifd_file *ifaces, const struct nd_sdn *sdn, struct nd_state **out,
		     struct net_error *err)
{
	_cleanup_(netdesired_freep) struct nd_state *s = calloc(1, sizeof(*s));
	if (!s || !(s->files[0] = strdup(ifaces->path)))
		return -ENOMEM;
	if (sdn && (!(s->files[1] = strdup(sdn->zones_file ? sdn->zones_file : "sdn/zones.cfg")) ||
		    !(s->files[2] = strdup(sdn->vnets_file ? sdn->vnets_file : "sdn/vnets.cfg"))))
		return -ENOMEM;
	s->allow_cluster_link_change = ifaces->allow_cluster_link_change;
	struct builder b = { .s = s, .f = ifaces, .file = s->files[0], .err = err };
	int r;
	for (size_t i = 0; i < ifaces->n_stanzas; i++)
		if ((r = read_stanza(&b, &ifaces->stanzas[i])) < 0)
			return r;
	for (size_t i = 0; i < ifaces->n_stanzas; i++) {
		const struct ifd_stanza *st = &ifaces->stanzas[i];
		size_t li = netdesired_find(s, st->name) - s->links;
		for (size_t j = 0; j < st->n_options; j++) {
			const struct ifd_option *o = &st->options[j];
			if (!strcmp(o->key, "bridge-ports") || !strcmp(o->key, "bridge_ports") ||
			    !strcmp(o->key, "bond-slaves") || !strcmp(o->key, "bond_slaves"))
				if ((r = attach_ports(&b, li, o)) < 0)
					return r;
		}
	}
	for (size_t i = 0; i < s->n_links; i++)
		if (s->links[i].kind == ND_VLAN && (r = resolve_vlan(&b, i)) < 0)
			return r;
	for (size_t i = 0; i < ifaces->n_autos; i++)
		if (!netdesired_find(s, ifaces->autos[i]))
			netdesired_warn(s, b.file, ifaces->auto_lines[i], "'auto %s' without an iface stanza",
					ifaces->autos[i]);
	if (sdn && (r = expand_sdn(&b, sdn)) < 0)
		return r;
	if ((r = check_loops(&b)) < 0)
		return r;
	propagate_up(s);
	static_checks(s);
	*out = TAKE_PTR(s);
	return 0;
}
