/* test-ifupdown.c - the interfaces-file parser and the desired state built
 * from it: grammar, precise file:line errors, kinds, ports, VLANs, SDN. */
#include <errno.h>
#include <string.h>

#include "ifupdown.h"
#include "netdesired.h"
#include "testlib.h"

static struct ifd_file *parse_ok(const char *text)
{
	struct ifd_file *f = NULL;
	struct net_error err = { 0 };
	int r = ifupdown_parse("interfaces", text, strlen(text), &f, &err);
	if (r < 0)
		fprintf(stderr, "  unexpected error: %s:%u: %s\n", err.file, err.line, err.reason);
	return f;
}

/* Parse (and build, when the grammar is fine); return the error. */
static int parse_err(const char *text, struct net_error *err)
{
	struct ifd_file *f = NULL;
	memset(err, 0, sizeof(*err));
	int r = ifupdown_parse("interfaces", text, strlen(text), &f, err);
	if (r < 0)
		return r;
	struct nd_state *s = NULL;
	r = netdesired_build(f, NULL, &s, err);
	netdesired_free(s);
	ifupdown_free(f);
	return r;
}

static struct nd_state *build_ok(const char *text, const struct nd_sdn *sdn)
{
	struct ifd_file *f = parse_ok(text);
	struct nd_state *s = NULL;
	struct net_error err = { 0 };
	if (f && netdesired_build(f, sdn, &s, &err) < 0)
		fprintf(stderr, "  unexpected error: %s:%u: %s\n", err.file, err.line, err.reason);
	ifupdown_free(f);
	return s;
}

static void test_parses_stanzas_options_and_autos(void)
{
	struct ifd_file *f = parse_ok("# a comment\nauto lo eno1\niface lo inet loopback\n\n"
				      "iface eno1 inet manual\n\nauto vmbr0\niface vmbr0 inet static\n"
				      "\taddress 198.18.0.1/24\n\tbridge-ports eno1\n\tbridge-stp off\n");
	CHECK(f);
	CHECK_INT(f->n_stanzas, 3);
	CHECK_STR(f->stanzas[2].name, "vmbr0");
	CHECK_STR(f->stanzas[2].method, "static");
	CHECK_INT(f->stanzas[2].line, 8);
	CHECK_INT(f->stanzas[2].n_options, 3);
	CHECK_STR(f->stanzas[2].options[0].value, "198.18.0.1/24");
	CHECK_INT(f->stanzas[2].options[2].line, 11);
	CHECK(ifupdown_is_auto(f, "eno1"));
	CHECK(ifupdown_is_auto(f, "vmbr0"));
	CHECK(!f->allow_cluster_link_change);
	ifupdown_free(f);
}

static void test_continuation_lines_keep_first_line_number(void)
{
	struct ifd_file *f = parse_ok("iface vmbr0 inet manual\n\tbridge-ports eno1 \\\n\t\teno2\n\tmtu 9000\n");
	CHECK(f);
	CHECK_STR(ifupdown_option(&f->stanzas[0], "bridge_ports")->value, "eno1  \t\teno2");
	CHECK_INT(ifupdown_option(&f->stanzas[0], "bridge-ports")->line, 2);
	CHECK_INT(ifupdown_option(&f->stanzas[0], "mtu")->line, 4);
	ifupdown_free(f);
}

static void test_confirmation_comment_is_recognised(void)
{
	struct ifd_file *f = parse_ok("#   pvecfs-net: allow-cluster-link-change  \niface eno1 inet manual\n");
	CHECK(f && f->allow_cluster_link_change);
	ifupdown_free(f);
	f = parse_ok("# pvecfs-net: allow-cluster-link-change please\n");
	CHECK(f && !f->allow_cluster_link_change);
	ifupdown_free(f);
}

static void test_grammar_errors_name_file_and_line(void)
{
	struct net_error err;
	CHECK_INT(parse_err("\n\taddress 1.2.3.4/24\n", &err), -EINVAL);
	CHECK_STR(err.file, "interfaces");
	CHECK_INT(err.line, 2);
	CHECK(strstr(err.reason, "outside of an 'iface' stanza"));

	CHECK_INT(parse_err("iface eno1 inet manual\niface eno1 inet static\n", &err), -EINVAL);
	CHECK_INT(err.line, 2);
	CHECK(strstr(err.reason, "duplicate") && strstr(err.reason, "line 1"));

	CHECK_INT(parse_err("iface eno1 ipx manual\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "address family"));
	CHECK_INT(parse_err("iface eno1 inet bogus\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "unknown method"));
	CHECK_INT(parse_err("iface averyveryverylongname inet manual\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "longer than 15"));
	CHECK_INT(parse_err("iface eno1:1 inet static\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "alias"));
	CHECK_INT(parse_err("source /etc/network/interfaces.d/*\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "not supported"));
	CHECK_INT(parse_err("auto\n", &err), -EINVAL);
	CHECK_INT(parse_err("iface a inet manual\n\tBad-Key 1\n", &err), -EINVAL);
	CHECK_INT(err.line, 2);
	const char nul[] = "iface a inet manual\n\0";
	struct ifd_file *f = NULL;
	CHECK_INT(ifupdown_parse("interfaces", nul, sizeof(nul) - 1, &f, &err), -EINVAL);
	CHECK(strstr(err.reason, "NUL"));
}

static void test_value_errors_name_the_option_line(void)
{
	struct net_error err;
	CHECK_INT(parse_err("iface vmbr0 inet static\n\tbridge-ports none\n\taddress 300.1.2.3/24\n", &err), -EINVAL);
	CHECK_INT(err.line, 3);
	CHECK(strstr(err.reason, "invalid address"));
	CHECK_INT(parse_err("iface vmbr0 inet static\n\taddress 198.18.0.1\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "prefix"));
	CHECK_INT(parse_err("iface vmbr0 inet6 static\n\taddress fd00::1\n\tnetmask 255.255.255.0\n", &err), -EINVAL);
	CHECK_INT(err.line, 3);
	CHECK_INT(parse_err("iface vmbr0 inet manual\n\tbridge-ports none\n\tmtu 99999\n", &err), -EINVAL);
	CHECK_INT(err.line, 3);
	CHECK_INT(parse_err("iface vmbr0 inet manual\n\tbridge-ports none\n\tbridge-vids 2-5000\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "bridge-vids"));
	CHECK_INT(parse_err("iface vmbr0 inet manual\n\tbridge-ports none\n\tbridge-vlan-aware maybe\n", &err),
		  -EINVAL);
	CHECK_INT(parse_err("iface bond0 inet manual\n\tbond-slaves none\n\tbond-mode fastest\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "bond-mode"));
	CHECK_INT(parse_err("iface eno1 inet manual\n\tbridge-stp on\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "only valid on a bridge"));
	CHECK_INT(parse_err("iface x inet manual\n\tbridge-ports a\n\tbond-slaves b\n", &err), -EINVAL);
	CHECK_INT(err.line, 1);
}

static void test_netmask_and_prefix_forms(void)
{
	struct nd_state *s = build_ok("iface eno1 inet static\n\taddress 198.18.5.1\n\tnetmask 255.255.252.0\n"
				      "iface eno2 inet6 static\n\taddress fd00::1/64\n", NULL);
	CHECK(s);
	char buf[80];
	CHECK_STR(nd_addr_format(&netdesired_find(s, "eno1")->addrs[0], buf, sizeof(buf)), "198.18.5.1/22");
	CHECK_STR(nd_addr_format(&netdesired_find(s, "eno2")->addrs[0], buf, sizeof(buf)), "fd00::1/64");
	netdesired_free(s);
}

static void test_bridge_bond_vlan_model(void)
{
	struct nd_state *s = build_ok(
		"auto bond0\niface bond0 inet manual\n\tbond-slaves eno1 eno2\n\tbond-mode 802.3ad\n"
		"\tbond-miimon 100\n\tbond-xmit-hash-policy layer3+4\n\n"
		"auto vmbr0\niface vmbr0 inet static\n\taddress 198.18.0.1/24\n\tgateway 198.18.0.254\n"
		"\tbridge-ports bond0\n\tbridge-stp off\n\tbridge-fd 0\n\tbridge-vlan-aware yes\n"
		"\tbridge-vids 2-4094\n\tmtu 9000\n\n"
		"auto vmbr0.100\niface vmbr0.100 inet static\n\taddress 198.19.0.1/24\n\n"
		"iface vlan7 inet manual\n\tvlan-raw-device eno3\n", NULL);
	CHECK(s);
	struct nd_link *bond = netdesired_find(s, "bond0"), *br = netdesired_find(s, "vmbr0");
	CHECK(bond && bond->kind == ND_BOND && bond->bond_mode == 4 && bond->miimon == 100);
	CHECK_INT(bond->xmit_hash_policy, 1);
	CHECK_STR(bond->master, "vmbr0");
	CHECK(br && br->kind == ND_BRIDGE && br->vlan_aware && br->mtu == 9000 && br->up);
	CHECK(br->stp == 0 && br->forward_delay == 0);
	CHECK(nd_vids_has(&br->vids, 2) && nd_vids_has(&br->vids, 4094) && !nd_vids_has(&br->vids, 1));
	struct nd_link *e1 = netdesired_find(s, "eno1");
	CHECK(e1 && e1->implicit && e1->kind == ND_EXISTING);
	CHECK_STR(e1->master, "bond0");
	struct nd_link *v = netdesired_find(s, "vmbr0.100");
	CHECK(v && v->kind == ND_VLAN && v->vid == 100);
	CHECK_STR(v->parent, "vmbr0");
	struct nd_link *v7 = netdesired_find(s, "vlan7");
	CHECK(v7 && v7->vid == 7);
	CHECK_STR(v7->parent, "eno3");
	CHECK(netdesired_find(s, "eno3") && netdesired_find(s, "eno3")->implicit);
	netdesired_free(s);
}

static void test_structural_errors(void)
{
	struct net_error err;
	CHECK_INT(parse_err("iface vmbr0 inet manual\n\tbridge-ports eno1\n"
			    "iface vmbr1 inet manual\n\tbridge-ports eno1\n", &err), -EINVAL);
	CHECK_INT(err.line, 4);
	CHECK(strstr(err.reason, "already a port of vmbr0"));
	CHECK_INT(parse_err("iface vmbr0 inet manual\n\tbridge-ports vmbr1\n"
			    "iface vmbr1 inet manual\n\tbridge-ports none\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "cannot be a port"));
	CHECK_INT(parse_err("iface vmbr0 inet manual\n\tbridge-ports vmbr0.5\n", &err), -EINVAL);
	CHECK(strstr(err.reason, "loop"));
	CHECK_INT(parse_err("iface a.5 inet manual\niface b inet manual\n\tvlan-raw-device a\n\tvlan-id 5\n", &err),
		  -EINVAL);
	CHECK(strstr(err.reason, "declared twice"));
	CHECK_INT(parse_err("iface bond0 inet manual\n\tbond-slaves vmbr9\n"
			    "iface vmbr9 inet manual\n\tbridge-ports none\n", &err), -EINVAL);
}

static void test_static_footguns_are_warnings(void)
{
	struct nd_state *s = build_ok(
		"iface eno1 inet manual\n\tmtu 1500\n"
		"iface vmbr0 inet manual\n\tbridge-ports eno1\n\tmtu 9000\n"
		"iface vmbr0.5 inet manual\n"
		"iface vmbr1 inet manual\n\tbridge-ports none\n\tbridge-vlan-aware yes\n\tbridge-vids 10-20\n"
		"iface vmbr1.30 inet manual\n\tpost-up echo hi\n", NULL);
	CHECK(s);
	bool mtu = false, aware = false, vids = false, script = false;
	for (size_t i = 0; i < s->n_warnings; i++) {
		const char *t = s->warnings[i].text;
		mtu |= strstr(t, "MTU mismatch") && s->warnings[i].line == 1;
		aware |= strstr(t, "not VLAN-aware") != NULL;
		vids |= strstr(t, "outside bridge-vids") != NULL;
		script |= strstr(t, "post-up") && s->warnings[i].line == 12;
	}
	CHECK(mtu && aware && vids && script);
	netdesired_free(s);
}

static void test_sdn_simple_and_vlan_zones(void)
{
	struct nd_zone zones[] = {
		{ .name = "z1", .type = "simple", .line = 1 },
		{ .name = "z2", .type = "vlan", .bridge = "vmbr0", .mtu = 9000, .line = 4 },
	};
	struct nd_vnet vnets[] = {
		{ .name = "vnet1", .zone = "z1", .line = 1 },
		{ .name = "vnet2", .zone = "z2", .tag = 100, .line = 4 },
	};
	struct nd_sdn sdn = { "zones.cfg", "vnets.cfg", zones, 2, vnets, 2 };
	struct nd_state *s = build_ok("iface vmbr0 inet manual\n\tbridge-ports none\n", &sdn);
	CHECK(s);
	struct nd_link *v1 = netdesired_find(s, "vnet1"), *v2 = netdesired_find(s, "vnet2");
	CHECK(v1 && v1->kind == ND_BRIDGE && v1->from_sdn && v1->up);
	CHECK(v2 && v2->kind == ND_BRIDGE && v2->mtu == 9000);
	struct nd_link *port = netdesired_find(s, "vmbr0.100");
	CHECK(port && port->kind == ND_VLAN && port->vid == 100);
	CHECK_STR(port->master, "vnet2");
	bool mtu = false;
	for (size_t i = 0; i < s->n_warnings; i++)
		mtu |= strstr(s->warnings[i].text, "vnet vnet2 has mtu 9000") && !strcmp(s->warnings[i].file, "vnets.cfg");
	CHECK(mtu);
	netdesired_free(s);

	struct nd_vnet bad[] = { { .name = "vnet3", .zone = "nozone", .line = 7 } };
	struct nd_sdn sdn2 = { "zones.cfg", "vnets.cfg", zones, 2, bad, 1 };
	struct ifd_file *f = parse_ok("iface vmbr0 inet manual\n\tbridge-ports none\n");
	struct net_error err = { 0 };
	CHECK_INT(netdesired_build(f, &sdn2, &s, &err), -EINVAL);
	CHECK_STR(err.file, "vnets.cfg");
	CHECK_INT(err.line, 7);
	ifupdown_free(f);
}

static const struct test tests[] = {
	TEST(test_parses_stanzas_options_and_autos),
	TEST(test_continuation_lines_keep_first_line_number),
	TEST(test_confirmation_comment_is_recognised),
	TEST(test_grammar_errors_name_file_and_line),
	TEST(test_value_errors_name_the_option_line),
	TEST(test_netmask_and_prefix_forms),
	TEST(test_bridge_bond_vlan_model),
	TEST(test_structural_errors),
	TEST(test_static_footguns_are_warnings),
	TEST(test_sdn_simple_and_vlan_zones),
};
TEST_MAIN(tests)
