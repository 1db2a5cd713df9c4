/* test-propstr.c - property strings, typed values and parse_error text. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "parse_error.h"
#include "propstr.h"
#include "testlib.h"
#include "value.h"

static char text_buf[PARSE_ERROR_TEXT_MAX];
#define ERRTEXT(e) parse_error_format(&(e), text_buf, sizeof(text_buf))

static void test_items_keep_order_and_default_key(void)
{
	struct propstr ps;
	struct parse_error err = { 0 };
	CHECK_INT(propstr_parse(&ps, "local-lvm:vm-100-disk-0,size=32G,iothread=1", "file", &err), 0);
	CHECK_INT(ps.count, 3);
	CHECK_STR(ps.items[0].key, "file");
	CHECK_STR(ps.items[0].value, "local-lvm:vm-100-disk-0");
	CHECK_STR(ps.items[1].key, "size");
	CHECK_STR(ps.items[2].key, "iothread");
	CHECK_STR(propstr_get(&ps, "size"), "32G");
	CHECK(propstr_get(&ps, "cache") == NULL);
	propstr_free(&ps);
}

static void test_empty_value_is_kept(void)
{
	struct propstr ps;
	struct parse_error err = { 0 };
	CHECK_INT(propstr_parse(&ps, "a=,b=2", NULL, &err), 0);
	CHECK_STR(propstr_get(&ps, "a"), "");
	propstr_free(&ps);
}

static void test_empty_string_is_empty_list(void)
{
	struct propstr ps;
	struct parse_error err = { 0 };
	CHECK_INT(propstr_parse(&ps, "", "file", &err), 0);
	CHECK_INT(ps.count, 0);
	propstr_free(&ps);
}

static void test_syntax_errors(void)
{
	struct propstr ps;
	struct parse_error err = { 0 };
	CHECK_INT(propstr_parse(&ps, "a=1,,b=2", NULL, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "empty item at position 2");
	CHECK_INT(ps.count, 0);
	CHECK_INT(propstr_parse(&ps, "a=1,bare", "file", &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "item 'bare' has no '='");
	CHECK_INT(propstr_parse(&ps, "bare,a=1", NULL, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "item 'bare' has no '='");
	CHECK_INT(propstr_parse(&ps, "=x", NULL, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "item '=x' has an empty key");
	CHECK_INT(propstr_parse(&ps, "tag=1,tag=2", NULL, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'tag': given twice");
	CHECK_INT(propstr_parse(&ps, "vol,file=x", "file", &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'file': given twice");
	CHECK_INT(propstr_parse(&ps, "a=1,", NULL, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "empty item at position 2");
}

static void test_typed_getters(void)
{
	struct propstr ps;
	struct parse_error err = { 0 };
	CHECK_INT(propstr_parse(&ps, "tag=100,firewall=1,size=1.5G,cache=none,bad=12x,neg=-3", NULL, &err), 0);
	long long i;
	bool b;
	uint64_t sz;
	const char *e;
	static const char *const caches[] = { "none", "writeback", NULL };
	CHECK_INT(propstr_get_int(&ps, "tag", 1, 4094, 0, &i, &err), 0);
	CHECK_INT(i, 100);
	CHECK_INT(propstr_get_int(&ps, "missing", 1, 4094, 7, &i, &err), 0);
	CHECK_INT(i, 7);
	CHECK_INT(propstr_get_int(&ps, "neg", -5, 5, 0, &i, &err), 0);
	CHECK_INT(i, -3);
	CHECK_INT(propstr_get_bool(&ps, "firewall", false, &b, &err), 0);
	CHECK(b);
	CHECK_INT(propstr_get_size(&ps, "size", 0, &sz, &err), 0);
	CHECK_INT(sz, 1536ULL << 20);
	CHECK_INT(propstr_get_enum(&ps, "cache", caches, NULL, &e, &err), 0);
	CHECK_STR(e, "none");
	CHECK_INT(propstr_get_int(&ps, "bad", 0, 10, 0, &i, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'bad': '12x' is not a number");
	CHECK_INT(propstr_get_int(&ps, "tag", 1, 10, 0, &i, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'tag': 100 is out of range 1..10");
	CHECK_INT(propstr_get_bool(&ps, "tag", false, &b, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'tag': '100' is not a boolean (0 or 1)");
	CHECK_INT(propstr_get_enum(&ps, "bad", caches, NULL, &e, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'bad': '12x' is not one of: none, writeback");
	CHECK_INT(propstr_get_size(&ps, "bad", 0, &sz, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'bad': '12x' is not a size (number with K, M, G or T)");
	propstr_free(&ps);
}

static void test_sizes(void)
{
	struct parse_error err = { 0 };
	uint64_t v;
	CHECK_INT(value_parse_size("size", "4M", &v, &err), 0);
	CHECK_INT(v, 4 << 20);
	CHECK_INT(value_parse_size("size", "32G", &v, &err), 0);
	CHECK_INT(v, 32ULL << 30);
	CHECK_INT(value_parse_size("size", "2T", &v, &err), 0);
	CHECK_INT(v, 2ULL << 40);
	CHECK_INT(value_parse_size("size", "512", &v, &err), 0);
	CHECK_INT(v, 512);
	CHECK_INT(value_parse_size("size", "1k", &v, &err), 0);
	CHECK_INT(v, 1024);
	CHECK_INT(value_parse_size("size", "G", &v, &err), -EINVAL);
	CHECK_INT(value_parse_size("size", "1GB", &v, &err), -EINVAL);
	CHECK_INT(value_parse_size("size", "1.G", &v, &err), -EINVAL);
	CHECK_INT(value_parse_size("size", "99999999999999T", &v, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'size': '99999999999999T' is too large");
}

static void test_integers_refuse_garbage_and_overflow(void)
{
	struct parse_error err = { 0 };
	long long v;
	CHECK_INT(value_parse_int("k", "", 0, 10, &v, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'k': '' is not a number");
	CHECK_INT(value_parse_int("k", " 1", 0, 10, &v, &err), -EINVAL);
	CHECK_INT(value_parse_int("k", "+1", 0, 10, &v, &err), -EINVAL);
	CHECK_INT(value_parse_int("k", "-", 0, 10, &v, &err), -EINVAL);
	CHECK_INT(value_parse_int("k", "99999999999999999999", 0, 10, &v, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'k': '99999999999999999999' is out of range");
	CHECK_INT(value_parse_int("k", "-9223372036854775808", LLONG_MIN, 0, &v, &err), 0);
	CHECK(v == LLONG_MIN);
	CHECK_INT(value_parse_int("k", "9223372036854775807", 0, LLONG_MAX, &v, &err), 0);
	CHECK(v == LLONG_MAX);
	uint64_t m;
	CHECK_INT(value_parse_milli("rate", "12.5", &m, &err), 0);
	CHECK_INT(m, 12500);
	CHECK_INT(value_parse_milli("rate", "12.", &m, &err), -EINVAL);
}

static void test_mac_addresses(void)
{
	struct parse_error err = { 0 };
	char mac[18];
	CHECK_INT(value_parse_mac("macaddr", "bc:24:11:5e:7a:01", mac, &err), 0);
	CHECK_STR(mac, "BC:24:11:5E:7A:01");
	CHECK_INT(value_parse_mac("macaddr", "BC:24:11:5E:7A", mac, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'macaddr': 'BC:24:11:5E:7A' is not a MAC address");
	CHECK_INT(value_parse_mac("macaddr", "BC-24-11-5E-7A-01", mac, &err), -EINVAL);
	CHECK_INT(value_parse_mac("macaddr", "GC:24:11:5E:7A:01", mac, &err), -EINVAL);
	CHECK_INT(value_parse_mac("macaddr", "01:00:5E:00:00:01", mac, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'macaddr': '01:00:5E:00:00:01' is a multicast MAC address");
}

static void test_uuid_and_ident(void)
{
	struct parse_error err = { 0 };
	CHECK_INT(value_parse_uuid("uuid", "7b10d7af-b932-4c66-b2c3-3996152ec465", &err), 0);
	CHECK_INT(value_parse_uuid("uuid", "7b10d7af-b932-4c66-b2c3-3996152ec46", &err), -EINVAL);
	CHECK_INT(value_parse_uuid("uuid", "7b10d7afxb932-4c66-b2c3-3996152ec465", &err), -EINVAL);
	CHECK_INT(value_parse_ident("bridge", "vmbr0", 15, &err), 0);
	CHECK_INT(value_parse_ident("bridge", "0vmbr", 15, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'bridge': '0vmbr' does not start with a letter");
	CHECK_INT(value_parse_ident("bridge", "vm br", 15, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'bridge': 'vm br' contains ' '");
	CHECK_INT(value_parse_ident("bridge", "averyveryverylongbridge", 15, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'bridge': 'averyveryverylongbridge' is longer than 15 characters");
}

static void test_nic_model_short_form(void)
{
	struct propstr ps;
	struct parse_error err = { 0 };
	CHECK_INT(propstr_parse(&ps, "virtio=A2:C0:43:77:08:A0,bridge=vmbr0,tag=100,firewall=1", "model", &err), 0);
	const char *model;
	char mac[18];
	CHECK_INT(propstr_find_nic_model(&ps, &model, mac, &err), 0);
	CHECK_STR(model, "virtio");
	CHECK_STR(mac, "A2:C0:43:77:08:A0");
	propstr_free(&ps);

	CHECK_INT(propstr_parse(&ps, "e1000,bridge=vmbr1", "model", &err), 0);
	CHECK_INT(propstr_find_nic_model(&ps, &model, mac, &err), 0);
	CHECK_STR(model, "e1000");
	CHECK_STR(mac, "");
	propstr_free(&ps);
}

static void test_nic_model_long_form_and_errors(void)
{
	struct propstr ps;
	struct parse_error err = { 0 };
	const char *model;
	char mac[18];
	CHECK_INT(propstr_parse(&ps, "model=vmxnet3,macaddr=02:00:00:00:00:01", "model", &err), 0);
	CHECK_INT(propstr_find_nic_model(&ps, &model, mac, &err), 0);
	CHECK_STR(model, "vmxnet3");
	CHECK_STR(mac, "02:00:00:00:00:01");
	propstr_free(&ps);

	CHECK_INT(propstr_parse(&ps, "bridge=vmbr0", "model", &err), 0);
	CHECK_INT(propstr_find_nic_model(&ps, &model, mac, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "no NIC model (one of virtio, e1000, e1000e, rtl8139, vmxnet3, ...)");
	propstr_free(&ps);

	CHECK_INT(propstr_parse(&ps, "virtio=02:00:00:00:00:01,e1000=02:00:00:00:00:02", "model", &err), 0);
	CHECK_INT(propstr_find_nic_model(&ps, &model, mac, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'e1000': a second NIC model (first was 'virtio')");
	propstr_free(&ps);

	CHECK_INT(propstr_parse(&ps, "foo,bridge=vmbr0", "model", &err), 0);
	CHECK_INT(propstr_find_nic_model(&ps, &model, mac, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'model': 'foo' is not one of: virtio, e1000, e1000e, rtl8139, vmxnet3, ne2k_pci, ne2k_isa, i82551, i82557b, i82559er, pcnet, e1000-82540em, e1000-82544gc, e1000-82545em");
	propstr_free(&ps);

	CHECK_INT(propstr_parse(&ps, "virtio=zz", "model", &err), 0);
	CHECK_INT(propstr_find_nic_model(&ps, &model, mac, &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'macaddr': 'zz' is not a MAC address");
	propstr_free(&ps);
}

static void test_boot_order_list(void)
{
	struct propstr ps;
	struct propstr_list list;
	struct parse_error err = { 0 };
	CHECK_INT(propstr_parse(&ps, "order=scsi0;ide2;net0", NULL, &err), 0);
	CHECK_INT(propstr_split_list(&list, "order", propstr_get(&ps, "order"), ';', &err), 0);
	CHECK_INT(list.count, 3);
	CHECK_STR(list.items[0], "scsi0");
	CHECK_STR(list.items[1], "ide2");
	CHECK_STR(list.items[2], "net0");
	propstr_list_free(&list);
	propstr_free(&ps);
	CHECK_INT(propstr_split_list(&list, "order", "scsi0;;net0", ';', &err), -EINVAL);
	CHECK_STR(ERRTEXT(err), "key 'order': empty entry in 'scsi0;;net0'");
	CHECK_INT(list.count, 0);
}

static void test_error_format_and_nesting(void)
{
	struct parse_error err;
	parse_error_clear(&err);
	parse_error_fail(&err, "tag", "'abc' is not a number");
	parse_error_nest(&err, "net0");
	parse_error_at(&err, "nodes/n1/qemu-server/100.conf", 9);
	CHECK_STR(ERRTEXT(err), "nodes/n1/qemu-server/100.conf:9: key 'net0': tag: 'abc' is not a number");
	parse_error_clear(&err);
	parse_error_fail(&err, NULL, "contains a NUL byte");
	CHECK_STR(ERRTEXT(err), "contains a NUL byte");
	parse_error_at(&err, NULL, 3);
	CHECK_STR(ERRTEXT(err), "line 3: contains a NUL byte");
	char small[8];
	CHECK_STR(parse_error_format(&err, small, sizeof(small)), "line 3:");
}

static const struct test tests[] = {
	TEST(test_items_keep_order_and_default_key),
	TEST(test_empty_value_is_kept),
	TEST(test_empty_string_is_empty_list),
	TEST(test_syntax_errors),
	TEST(test_typed_getters),
	TEST(test_sizes),
	TEST(test_integers_refuse_garbage_and_overflow),
	TEST(test_mac_addresses),
	TEST(test_uuid_and_ident),
	TEST(test_nic_model_short_form),
	TEST(test_nic_model_long_form_and_errors),
	TEST(test_boot_order_list),
	TEST(test_error_format_and_nesting),
};
TEST_MAIN(tests)
