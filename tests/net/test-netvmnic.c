/* test-netvmnic.c - the VM NIC footgun checks of pvecfs-net (netvmnic.h):
 * each footgun gives one warning at the NIC's file:line naming the key,
 * fitting NICs give none, an unparsable VM config is one warning and the
 * next config is still checked, and the desired links are never changed. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifupdown.h"
#include "netdesired.h"
#include "netlink.h"
#include "netvmnic.h"
#include "testlib.h"

#define IFACES \
	"auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports eno1\n" \
	"\nauto vmbr1\niface vmbr1 inet manual\n\tbridge-ports eno2\n\tbridge-vlan-aware yes\n\tbridge-vids 10-20 30\n" \
	"\nauto vmbr2\niface vmbr2 inet manual\n\tbridge-ports none\n\tbridge-vlan-aware yes\n" \
	"\nauto bond0\niface bond0 inet manual\n\tbond-slaves eno3\n\tbond-mode active-backup\n" \
	"\nauto vmbr9\niface vmbr9 inet manual\n\tbridge-ports none\n\tmtu 9000\n"

#define VM "qemu-server/100.conf"
#define MAC "virtio=BC:24:11:00:00:01"
#define MAC2 "virtio=BC:24:11:00:00:02"

static struct nd_state *build(void)
{
	static struct nd_zone zones[] = { { .name = "z1", .type = "simple", .line = 1 } };
	static struct nd_vnet vnets[] = {
		{ .name = "vnet1", .zone = "z1", .line = 1 },
		{ .name = "vnet2", .zone = "z1", .vlanaware = true, .line = 4 },
	};
	struct nd_sdn sdn = { .zones_file = "sdn/zones.cfg", .vnets_file = "sdn/vnets.cfg", .zones = zones,
			      .n_zones = 1, .vnets = vnets, .n_vnets = 2 };
	struct ifd_file *f = NULL;
	struct net_error err = { 0 };
	struct nd_state *s = NULL;
	if (ifupdown_parse("interfaces", IFACES, strlen(IFACES), &f, &err) < 0 ||
	    netdesired_build(f, &sdn, &s, &err) < 0)
		fprintf(stderr, "  unexpected error: %s:%u: %s\n", err.file, err.line, err.reason);
	ifupdown_free(f);
	if (s) /* the files' own warnings are not what these tests look at */
		s->n_warnings = 0;
	return s;
}

/* Check one VM config; returns the number of warnings it added. */
static size_t check_text(struct nd_state *s, const struct nl_snapshot *have, const char *text,
			 struct netvmnic_counts *counts)
{
	size_t before = s->n_warnings;
	size_t links = s->n_links;
	int r = netvmnic_check_config(s, have, VM, text, strlen(text), counts);
	if (r < 0 || s->n_links != links)
		return (size_t)-1;
	return s->n_warnings - before;
}

static bool has_warning(const struct nd_state *s, unsigned line, const char *text)
{
	for (size_t i = 0; i < s->n_warnings; i++)
		if (s->warnings[i].line == line && strcmp(s->warnings[i].file, VM) == 0 &&
		    strstr(s->warnings[i].text, text))
			return true;
	return false;
}

static void test_fitting_nics_give_no_warning(void)
{
	struct nd_state *s = build();
	CHECK(s);
	struct netvmnic_counts c = { 0 };
	size_t n = check_text(s, NULL,
			      "name: ok\nnet0: " MAC ",bridge=vmbr0\nnet1: " MAC2 ",bridge=vmbr1,tag=15\n"
			      "net2: e1000,bridge=vmbr1,tag=30,mtu=1\nnet3: " MAC "\nnet4: virtio,bridge=vmbr9,mtu=9000\n"
			      "net5: virtio,bridge=vnet1\nnet6: virtio,bridge=vnet2,tag=7\n",
			      &c);
	netdesired_free(s);
	CHECK_INT(n, 0);
	CHECK_INT(c.configs, 1);
	CHECK_INT(c.nics, 7);
	CHECK_INT(c.unparsable, 0);
}

static void test_tag_on_bridge_that_is_not_vlan_aware(void)
{
	struct nd_state *s = build();
	CHECK(s);
	size_t n = check_text(s, NULL, "name: a\nnet0: " MAC ",bridge=vmbr0,tag=100\n", NULL);
	bool found = has_warning(s, 2, "net0: VLAN tag 100 on bridge vmbr0, which is not VLAN-aware "
				       "(bridge-vlan-aware yes is missing at interfaces:2)");
	netdesired_free(s);
	CHECK_INT(n, 1);
	CHECK(found);
}

static void test_trunks_on_bridge_that_is_not_vlan_aware(void)
{
	struct nd_state *s = build();
	CHECK(s);
	size_t n = check_text(s, NULL, "net3: " MAC ",bridge=vmbr0,trunks=10;20\n", NULL);
	bool found = has_warning(s, 1, "net3: trunks 10;20 on bridge vmbr0, which is not VLAN-aware");
	netdesired_free(s);
	CHECK_INT(n, 1);
	CHECK(found);
}

static void test_tag_outside_bridge_vids(void)
{
	struct nd_state *s = build();
	CHECK(s);
	size_t n = check_text(s, NULL, "net0: " MAC ",bridge=vmbr1,tag=25\nnet1: " MAC2 ",bridge=vmbr1,tag=20\n",
			      NULL);
	bool found = has_warning(s, 1, "net0: VLAN tag 25 is outside bridge-vids of vmbr1 (at interfaces:6)");
	netdesired_free(s);
	CHECK_INT(n, 1);
	CHECK(found);
}

static void test_tag_on_vlan_aware_bridge_without_bridge_vids(void)
{
	struct nd_state *s = build();
	CHECK(s);
	size_t n = check_text(s, NULL, "net0: " MAC ",bridge=vmbr2,tag=5\n", NULL);
	bool found = has_warning(s, 1, "net0: VLAN tag 5 on bridge vmbr2, whose bridge-vids is not declared");
	netdesired_free(s);
	CHECK_INT(n, 1);
	CHECK(found);
}

static void test_bridge_not_declared_and_absent(void)
{
	struct nd_state *s = build();
	CHECK(s);
	struct nl_snapshot empty = { 0 };
	size_t n = check_text(s, &empty, "\n\nnet2: " MAC ",bridge=vmbr7\n", NULL);
	bool found = has_warning(s, 3, "net2: bridge vmbr7 is not declared in the interfaces file or "
				       "sdn/vnets.cfg and does not exist: the VM cannot start");
	/* without the kernel (`pvecfs-net check`) it can only say what the files say */
	size_t m = check_text(s, NULL, "net2: " MAC ",bridge=vmbr7\n", NULL);
	bool files_only = has_warning(s, 1, "net2: bridge vmbr7 is not declared in the interfaces file or "
					    "sdn/vnets.cfg: pvecfs-net will not create it");
	netdesired_free(s);
	CHECK_INT(n, 1);
	CHECK(found);
	CHECK_INT(m, 1);
	CHECK(files_only);
}

static void test_bridge_not_declared_but_in_the_kernel(void)
{
	struct nd_state *s = build();
	CHECK(s);
	struct nl_link links[] = {
		{ .ifindex = 5, .name = "hand0", .kind = "bridge", .mtu = 1500, .vlan_filtering = 0 },
		{ .ifindex = 6, .name = "eno5", .kind = "", .mtu = 1500, .vlan_filtering = -1 },
	};
	struct nl_snapshot have = { .links = links, .n_links = 2 };
	size_t n = check_text(s, &have, "net0: " MAC ",bridge=hand0,tag=3,mtu=9000\nnet1: virtio,bridge=eno5\n",
			      NULL);
	bool unmanaged = has_warning(s, 1, "net0: bridge hand0 is not declared in the interfaces file or "
					   "sdn/vnets.cfg: it exists here, but pvecfs-net does not manage it");
	bool mtu = has_warning(s, 1, "net0: mtu 9000 is above the mtu 1500 of bridge hand0");
	bool tag = has_warning(s, 1, "net0: VLAN tag 3 on bridge hand0, which is not VLAN-aware");
	bool nic = has_warning(s, 2, "net1: bridge=eno5 names a network link, not a bridge");
	netdesired_free(s);
	CHECK_INT(n, 4);
	CHECK(unmanaged && mtu && tag && nic);
}

static void test_bridge_names_a_bond(void)
{
	struct nd_state *s = build();
	CHECK(s);
	size_t n = check_text(s, NULL, "net0: " MAC ",bridge=bond0\n", NULL);
	bool found = has_warning(s, 1, "net0: bridge=bond0 names a bond declared at interfaces:17, not a bridge");
	netdesired_free(s);
	CHECK_INT(n, 1);
	CHECK(found);
}

static void test_nic_mtu_above_bridge_mtu(void)
{
	struct nd_state *s = build();
	CHECK(s);
	/* vmbr0 declares no mtu: the kernel's counts, else 1500 */
	struct nl_link links[] = { { .ifindex = 2, .name = "vmbr0", .kind = "bridge", .mtu = 1400 } };
	struct nl_snapshot have = { .links = links, .n_links = 1 };
	size_t n = check_text(s, &have, "net0: " MAC ",bridge=vmbr0,mtu=1500\nnet1: virtio,bridge=vmbr9,mtu=9001\n",
			      NULL);
	bool kernel = has_warning(s, 1, "net0: mtu 1500 is above the mtu 1400 of bridge vmbr0");
	bool declared = has_warning(s, 2, "net1: mtu 9001 is above the mtu 9000 of bridge vmbr9");
	netdesired_free(s);
	CHECK_INT(n, 2);
	CHECK(kernel && declared);
}

static void test_tag_on_vnet_that_is_not_vlanaware(void)
{
	struct nd_state *s = build();
	CHECK(s);
	size_t n = check_text(s, NULL, "net0: " MAC ",bridge=vnet1,tag=42\n", NULL);
	bool found = has_warning(s, 1, "net0: VLAN tag 42 on SDN vnet vnet1, which is not vlanaware: the vnet "
				       "already carries its own traffic; drop the tag or set 'vlanaware 1' at "
				       "sdn/vnets.cfg:1");
	netdesired_free(s);
	CHECK_INT(n, 1);
	CHECK(found);
}

static void test_unparsable_config_is_one_warning_and_the_next_is_checked(void)
{
	struct nd_state *s = build();
	CHECK(s);
	struct netvmnic_counts c = { 0 };
	size_t bad = check_text(s, NULL, "name: bad\nnet0: " MAC ",bridge=vmbr0,tag=100\nnet1: virtio,tag=5000\n",
				&c);
	bool parse = has_warning(s, 3, "key 'net1': tag: ");
	bool says = has_warning(s, 3, "VM config does not parse, its NICs are not checked");
	bool no_nic = !has_warning(s, 2, "VLAN tag 100");
	size_t good = check_text(s, NULL, "net0: " MAC ",bridge=vmbr0,tag=7\n", &c);
	netdesired_free(s);
	CHECK_INT(bad, 1);
	CHECK(parse && says && no_nic);
	CHECK_INT(good, 1);
	CHECK_INT(c.configs, 2);
	CHECK_INT(c.unparsable, 1);
	CHECK_INT(c.nics, 1);
}

static int write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	size_t n = fwrite(text, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -EIO;
}

static void test_node_reads_only_vm_configs_and_skips_oversized_ones(void)
{
	char root[] = "/tmp/test-netvmnic.XXXXXX", dir[600], cmd[700];
	CHECK(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/nodes/n1/qemu-server", root);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", dir);
	CHECK(system(cmd) == 0);
	const char *tagged = "net0: " MAC ",bridge=vmbr0,tag=9\n";
	size_t big_len = 1024 * 1024 + 1;
	char *big = malloc(big_len);
	CHECK(big);
	memset(big, '#', big_len);
	int w = write_file(dir, "100.conf", tagged, strlen(tagged));
	w = w ?: write_file(dir, "100.state", "running\n", 8);
	w = w ?: write_file(dir, "100.conf.tmp", tagged, strlen(tagged));
	w = w ?: write_file(dir, "notes.conf", tagged, strlen(tagged));
	w = w ?: write_file(dir, "101.conf", big, big_len);
	free(big);
	struct nd_state *s = build();
	struct netvmnic_counts c = { 0 };
	int r = s ? netvmnic_check_node(s, NULL, root, "n1", &c) : -1;
	size_t warnings = s ? s->n_warnings : 0;
	char path100[700], path101[700];
	snprintf(path100, sizeof(path100), "%s/100.conf", dir);
	snprintf(path101, sizeof(path101), "%s/101.conf", dir);
	bool tag = false, too_big = false;
	for (size_t i = 0; s && i < s->n_warnings; i++) {
		tag |= strcmp(s->warnings[i].file, path100) == 0 && strstr(s->warnings[i].text, "VLAN tag 9");
		too_big |= strcmp(s->warnings[i].file, path101) == 0 &&
			   strstr(s->warnings[i].text, "larger than 1048576 bytes; its NICs are not checked");
	}
	/* no qemu-server directory: no VMs, no warning */
	size_t before = s ? s->n_warnings : 0;
	int r2 = s ? netvmnic_check_node(s, NULL, root, "n2", NULL) : -1;
	bool none = s && s->n_warnings == before;
	netdesired_free(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0);
	CHECK_INT(w, 0);
	CHECK_INT(r, 0);
	CHECK_INT(warnings, 2);
	CHECK(tag && too_big);
	CHECK_INT(c.configs, 1);
	CHECK_INT(r2, 0);
	CHECK(none);
}

static const struct test tests[] = {
	TEST(test_node_reads_only_vm_configs_and_skips_oversized_ones),
	TEST(test_fitting_nics_give_no_warning),
	TEST(test_tag_on_bridge_that_is_not_vlan_aware),
	TEST(test_trunks_on_bridge_that_is_not_vlan_aware),
	TEST(test_tag_outside_bridge_vids),
	TEST(test_tag_on_vlan_aware_bridge_without_bridge_vids),
	TEST(test_bridge_not_declared_and_absent),
	TEST(test_bridge_not_declared_but_in_the_kernel),
	TEST(test_bridge_names_a_bond),
	TEST(test_nic_mtu_above_bridge_mtu),
	TEST(test_tag_on_vnet_that_is_not_vlanaware),
	TEST(test_unparsable_config_is_one_warning_and_the_next_is_checked),
};
TEST_MAIN(tests)
