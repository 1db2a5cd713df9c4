/* test-nodestatus.c - set/get/delete, limits (nothing changes on error),
 * dropping a node, listing order. */
#include <errno.h>

#include "nodestatus.h"
#include "testlib.h"

static void test_set_get_delete(void)
{
	struct nodestatus *ns;
	CHECK_INT(nodestatus_new(&ns), 0);
	char *v = NULL;
	CHECK_INT(nodestatus_get(ns, "n1", "qemu/100", &v), -ENOENT);
	CHECK_INT(nodestatus_apply_set(ns, "n1", "qemu/100", "{\"state\":\"running\"}"), 0);
	CHECK_INT(nodestatus_get(ns, "n1", "qemu/100", &v), 0);
	CHECK_STR(v, "{\"state\":\"running\"}");
	free(v);
	CHECK_INT(nodestatus_apply_set(ns, "n1", "qemu/100", "stopped"), 0);
	CHECK_INT(nodestatus_get(ns, "n1", "qemu/100", &v), 0);
	CHECK_STR(v, "stopped");
	free(v);
	CHECK_INT(nodestatus_get(ns, "n2", "qemu/100", &v), -ENOENT);
	CHECK_INT(nodestatus_apply_set(ns, "n1", "qemu/100", NULL), 0);
	CHECK_INT(nodestatus_get(ns, "n1", "qemu/100", &v), -ENOENT);
	CHECK_INT(nodestatus_apply_set(ns, "n1", "qemu/100", NULL), -ENOENT);
	nodestatus_free(ns);
}

static void test_limits_are_enforced_and_change_nothing(void)
{
	struct nodestatus *ns;
	CHECK_INT(nodestatus_new(&ns), 0);
	char key[NODESTATUS_KEY_MAX + 2];
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = 0;
	CHECK_INT(nodestatus_apply_set(ns, "n1", key, "v"), -ENAMETOOLONG);
	key[NODESTATUS_KEY_MAX] = 0; /* exactly the limit */
	CHECK_INT(nodestatus_apply_set(ns, "n1", key, "v"), 0);
	char *big = malloc(NODESTATUS_VALUE_MAX + 2);
	memset(big, 'x', NODESTATUS_VALUE_MAX + 1);
	big[NODESTATUS_VALUE_MAX + 1] = 0;
	CHECK_INT(nodestatus_apply_set(ns, "n1", key, big), -EFBIG);
	big[NODESTATUS_VALUE_MAX] = 0;
	CHECK_INT(nodestatus_apply_set(ns, "n1", "big", big), 0);
	free(big);
	char *v;
	CHECK_INT(nodestatus_get(ns, "n1", key, &v), 0);
	CHECK_STR(v, "v");
	free(v);
	CHECK_INT(nodestatus_apply_set(ns, "n1", "", "v"), -EINVAL);
	CHECK_INT(nodestatus_apply_set(ns, "n1", "a\nb", "v"), -EINVAL);
	CHECK_INT(nodestatus_apply_set(ns, "", "a", "v"), -EINVAL);
	CHECK_INT(nodestatus_count(ns, "n1"), 2);
	CHECK_STR(nodestatus_strerror(-EFBIG), "value too large: at most 65536 bytes");
	nodestatus_free(ns);
}

static void test_key_count_limit_per_node(void)
{
	struct nodestatus *ns;
	CHECK_INT(nodestatus_new(&ns), 0);
	char key[32];
	for (int i = 0; i < NODESTATUS_KEYS_MAX; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		CHECK_INT(nodestatus_apply_set(ns, "n1", key, "v"), 0);
	}
	CHECK_INT(nodestatus_apply_set(ns, "n1", "one-more", "v"), -ENOSPC);
	CHECK_INT(nodestatus_count(ns, "n1"), NODESTATUS_KEYS_MAX);
	/* replacing an existing key is still fine, and other nodes have their own room */
	CHECK_INT(nodestatus_apply_set(ns, "n1", "k0", "w"), 0);
	CHECK_INT(nodestatus_apply_set(ns, "n2", "one-more", "v"), 0);
	CHECK_INT(nodestatus_apply_set(ns, "n1", "k1", NULL), 0);
	CHECK_INT(nodestatus_apply_set(ns, "n1", "one-more", "v"), 0);
	nodestatus_free(ns);
}

static int collect(void *ctx, const char *node, const char *key, const char *value)
{
	char *out = ctx;
	snprintf(out + strlen(out), 256 - strlen(out), "%s:%s=%s ", node, key, value);
	return 0;
}

static void test_drop_node_and_listing(void)
{
	struct nodestatus *ns;
	CHECK_INT(nodestatus_new(&ns), 0);
	nodestatus_apply_set(ns, "n2", "b", "2");
	nodestatus_apply_set(ns, "n1", "z", "1");
	nodestatus_apply_set(ns, "n1", "a", "0");
	nodestatus_apply_set(ns, "n3", "a", "3");
	char out[256] = "";
	nodestatus_foreach(ns, NULL, NULL, collect, out);
	CHECK_STR(out, "n1:a=0 n1:z=1 n2:b=2 n3:a=3 ");
	out[0] = 0;
	nodestatus_foreach(ns, NULL, "a", collect, out);
	CHECK_STR(out, "n1:a=0 n3:a=3 ");
	out[0] = 0;
	nodestatus_foreach(ns, "n1", NULL, collect, out);
	CHECK_STR(out, "n1:a=0 n1:z=1 ");
	nodestatus_drop_node(ns, "n1");
	out[0] = 0;
	nodestatus_foreach(ns, NULL, NULL, collect, out);
	CHECK_STR(out, "n2:b=2 n3:a=3 ");
	nodestatus_drop_node(ns, "nobody");
	nodestatus_free(ns);
}

static const struct test tests[] = {
	TEST(test_set_get_delete),
	TEST(test_limits_are_enforced_and_change_nothing),
	TEST(test_key_count_limit_per_node),
	TEST(test_drop_node_and_listing),
};
TEST_MAIN(tests)
