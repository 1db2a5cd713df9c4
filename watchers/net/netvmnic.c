/* netvmnic.c - footgun reports about VM NICs; see netvmnic.h.
 *
 * Which bridge a NIC names decides what is checked:
 *   - declared in the interfaces file (or a vnet of sdn/vnets.cfg): its
 *     declaration is the truth (the kernel may not have caught up yet);
 *   - not declared: the kernel's link, if any, and a report that
 *     pvecfs-net does not manage it (another node will not have it);
 *   - neither: the VM cannot start.
 * A NIC without bridge= uses QEMU's user networking and is not checked. */
#include "netvmnic.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "vmconf.h"

/* VM configs are a few KiB; anything near this is not one. */
#define VM_CONFIG_MAX (1024 * 1024)

/* "FILE:LINE" of a declaration, for the reports. */
static void where(const struct nd_link *l, char *buf, size_t size)
{
	if (l->file && l->line)
		snprintf(buf, size, "%s:%u", l->file, l->line);
	else
		snprintf(buf, size, "%s", l->file ? l->file : "?");
}

/* Tag and trunks on a bridge that is (not) VLAN-aware, and the tag within
 * bridge-vids.  vids is NULL when the VIDs are not known (vnets, bridges
 * pvecfs-net does not manage). */
static int check_vlan(struct nd_state *want, const char *file, const struct vmconf_nic *nic, const char *bridge,
		      bool vlan_aware, const char *declared_at, const struct nd_vids *vids, bool vids_declared)
{
	unsigned line = (unsigned)nic->line;
	int r = 0;
	if (!vlan_aware) {
		if (nic->tag)
			r = netdesired_warn(want, file, line,
					    "%s: VLAN tag %d on bridge %s, which is not VLAN-aware "
					    "(bridge-vlan-aware yes is missing at %s): pvecfs-qemu cannot tag the tap",
					    nic->key, nic->tag, bridge, declared_at);
		if (r == 0 && nic->trunks)
			r = netdesired_warn(want, file, line,
					    "%s: trunks %s on bridge %s, which is not VLAN-aware "
					    "(bridge-vlan-aware yes is missing at %s)",
					    nic->key, nic->trunks, bridge, declared_at);
		return r;
	}
	if (!nic->tag || !vids)
		return 0;
	if (!vids_declared)
		return netdesired_warn(want, file, line,
				       "%s: VLAN tag %d on bridge %s, whose bridge-vids is not declared (at %s): "
				       "its ports carry VLAN 1 only",
				       nic->key, nic->tag, bridge, declared_at);
	if (!nd_vids_has(vids, (unsigned)nic->tag))
		return netdesired_warn(want, file, line, "%s: VLAN tag %d is outside bridge-vids of %s (at %s)",
				       nic->key, nic->tag, bridge, declared_at);
	return 0;
}

static int check_mtu(struct nd_state *want, const char *file, const struct vmconf_nic *nic, const char *bridge,
		     unsigned bridge_mtu)
{
	if (nic->mtu <= 1 || (unsigned)nic->mtu <= bridge_mtu)
		return 0; /* mtu=1 means "the bridge's" */
	return netdesired_warn(want, file, (unsigned)nic->line, "%s: mtu %d is above the mtu %u of bridge %s", nic->key,
			       nic->mtu, bridge_mtu, bridge);
}

/* A vnet bridge already puts the VM on the vnet's VLAN: a VM tag (or
 * trunks) only works on a vnet with `vlanaware 1` (Proxmox refuses to
 * start such a VM otherwise). */
static int check_vnet(struct nd_state *want, const char *file, const struct vmconf_nic *nic,
		      const struct nd_link *vnet)
{
	if (vnet->vlan_aware || (!nic->tag && !nic->trunks))
		return 0;
	char at[300], carries[64] = "", what[96];
	where(vnet, at, sizeof(at));
	if (vnet->sdn_tag)
		snprintf(carries, sizeof(carries), " (VLAN %u)", vnet->sdn_tag);
	if (nic->tag)
		snprintf(what, sizeof(what), "VLAN tag %d", nic->tag);
	else
		snprintf(what, sizeof(what), "trunks %.80s", nic->trunks);
	return netdesired_warn(want, file, (unsigned)nic->line,
			       "%s: %s on SDN vnet %s, which is not vlanaware: the vnet already carries its "
			       "own traffic%s; drop the %s or set 'vlanaware 1' at %s",
			       nic->key, what, vnet->name, carries, nic->tag ? "tag" : "trunks", at);
}

static int check_declared(struct nd_state *want, const struct nl_snapshot *have, const char *file,
			  const struct vmconf_nic *nic, const struct nd_link *b)
{
	char at[300];
	where(b, at, sizeof(at));
	if (b->kind != ND_BRIDGE)
		return netdesired_warn(want, file, (unsigned)nic->line,
				       "%s: bridge=%s names a %s declared at %s, not a bridge", nic->key, b->name,
				       nd_kind_name(b->kind), at);
	const struct nl_link *k = have ? nl_find_link(have, b->name) : NULL;
	unsigned mtu = b->mtu ? b->mtu : k && k->mtu ? k->mtu : 1500;
	int r = check_mtu(want, file, nic, b->name, mtu);
	if (r < 0)
		return r;
	if (b->from_sdn)
		return check_vnet(want, file, nic, b);
	return check_vlan(want, file, nic, b->name, b->vlan_aware, at, &b->vids, b->vids_declared);
}

static int check_undeclared(struct nd_state *want, const struct nl_snapshot *have, const char *file,
			    const struct vmconf_nic *nic)
{
	unsigned line = (unsigned)nic->line;
	const struct nl_link *k = have ? nl_find_link(have, nic->bridge) : NULL;
	const char *sources = "the interfaces file or sdn/vnets.cfg";
	if (!k && have)
		return netdesired_warn(want, file, line,
				       "%s: bridge %s is not declared in %s and does not exist: the VM cannot start",
				       nic->key, nic->bridge, sources);
	if (!k) /* `check`: the kernel is not looked at */
		return netdesired_warn(want, file, line,
				       "%s: bridge %s is not declared in %s: pvecfs-net will not create it", nic->key,
				       nic->bridge, sources);
	if (strcmp(k->kind, "bridge") != 0)
		return netdesired_warn(want, file, line, "%s: bridge=%s names a %s link, not a bridge", nic->key,
				       nic->bridge, k->kind[0] ? k->kind : "network");
	int r = netdesired_warn(want, file, line,
				"%s: bridge %s is not declared in %s: it exists here, but pvecfs-net does not "
				"manage it (other nodes will not have it)",
				nic->key, nic->bridge, sources);
	if (r == 0)
		r = check_mtu(want, file, nic, nic->bridge, k->mtu);
	if (r == 0 && k->vlan_filtering >= 0)
		r = check_vlan(want, file, nic, nic->bridge, k->vlan_filtering == 1, "the kernel's bridge", NULL, false);
	return r;
}

int netvmnic_check_nic(struct nd_state *want, const struct nl_snapshot *have, const char *file,
		       const struct vmconf_nic *nic)
{
	if (!nic->bridge || !nic->bridge[0])
		return 0;
	const struct nd_link *b = netdesired_find(want, nic->bridge);
	return b ? check_declared(want, have, file, nic, b) : check_undeclared(want, have, file, nic);
}

int netvmnic_check_config(struct nd_state *want, const struct nl_snapshot *have, const char *file,
			  const char *text, size_t len, struct netvmnic_counts *counts)
{
	struct netvmnic_counts ignored;
	counts = counts ? counts : &ignored;
	struct parse_error err;
	parse_error_clear(&err);
	_cleanup_(vmconf_freep) struct vmconf *conf = NULL;
	counts->configs++;
	/* Unknown keys and properties are pvecfs-qemu's to report. */
	int r = vmconf_parse(text, len, file, NULL, NULL, &conf, &err);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		counts->unparsable++;
		char key[PARSE_ERROR_KEY_MAX + 16] = "";
		if (err.key[0])
			snprintf(key, sizeof(key), "key '%s': ", err.key);
		return netdesired_warn(want, file, (unsigned)err.line,
				       "%s%s; VM config does not parse, its NICs are not checked", key, err.reason);
	}
	const struct vmconf_view *view = vmconf_view(conf);
	for (size_t i = 0; i < view->nic_count; i++) {
		counts->nics++;
		if ((r = netvmnic_check_nic(want, have, file, &view->nics[i])) < 0)
			return r;
	}
	return 0;
}

/* "<digits>.conf": a VM config (not a .state file, not an editor's temp). */
static int is_vm_config(const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	return n > 5 && strcmp(e->d_name + n - 5, ".conf") == 0 &&
	       strspn(e->d_name, "0123456789") == n - 5;
}

/* A VM config that is not checked at all: one warning, then 1 (skip it);
 * -ENOMEM if even the warning cannot be kept. */
static int skip_config(struct nd_state *want, const char *path, const char *why)
{
	int r = netdesired_warn(want, path, 0, "%s; its NICs are not checked", why);
	return r < 0 ? r : 1;
}

/* Reads a VM config: 0 and its text, 1 to skip it (gone since the
 * listing, or reported), or -ENOMEM. */
static int read_config(struct nd_state *want, const char *path, char **text, size_t *len)
{
	char why[128];
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f && errno == ENOENT)
		return 1; /* removed since the listing: the next pass sees that */
	if (!f) {
		snprintf(why, sizeof(why), "cannot read VM config: %s", strerror(errno));
		return skip_config(want, path, why);
	}
	_cleanup_free_ char *buf = malloc(VM_CONFIG_MAX + 1);
	if (!buf)
		return -ENOMEM;
	size_t n = fread(buf, 1, VM_CONFIG_MAX + 1, f);
	if (ferror(f)) {
		snprintf(why, sizeof(why), "cannot read VM config: %s", strerror(errno));
		return skip_config(want, path, why);
	}
	if (n > VM_CONFIG_MAX) {
		snprintf(why, sizeof(why), "VM config is larger than %d bytes", VM_CONFIG_MAX);
		return skip_config(want, path, why);
	}
	buf[n] = '\0';
	*text = TAKE_PTR(buf);
	*len = n;
	return 0;
}

static void free_dirents(struct dirent **list, int n)
{
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

int netvmnic_check_node(struct nd_state *want, const struct nl_snapshot *have, const char *root,
			const char *node, struct netvmnic_counts *counts)
{
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/nodes/%s/qemu-server", root, node) < 0)
		return -ENOMEM;
	struct dirent **list = NULL;
	int n = scandir(dir, &list, is_vm_config, versionsort);
	if (n < 0)
		return errno == ENOMEM ? -ENOMEM : 0; /* no directory: no VMs */
	int r = 0;
	for (int i = 0; r == 0 && i < n; i++) {
		_cleanup_free_ char *path = NULL, *text = NULL;
		size_t len = 0;
		if (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
		int got = read_config(want, path, &text, &len);
		if (got < 0)
			r = got;
		else if (got == 0)
			r = netvmnic_check_config(want, have, path, text, len, counts);
	}
	free_dirents(list, n);
	return r;
}
