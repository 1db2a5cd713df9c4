/* test-clusterlog.c - merge order, dedupe, capacity, JSON shape. */
#include <errno.h>
#include <json-c/json.h>

#include "clusterlog.h"
#include "testlib.h"

static struct clusterlog_entry entry(int64_t time, const char *node, uint64_t uid, const char *msg)
{
	struct clusterlog_entry e = { .uid = uid, .time = time, .pri = 6, .pid = 42 };
	clusterlog_entry_set(&e, node, "root@pam", "test", msg);
	return e;
}

/* The messages of the log, newest first, joined by spaces. */
static void messages(struct clusterlog *cl, size_t limit, char *out, size_t size)
{
	char *text = clusterlog_json(cl, limit);
	json_object *o = json_tokener_parse(text), *data;
	out[0] = 0;
	if (o && json_object_object_get_ex(o, "data", &data)) {
		for (size_t i = 0; i < json_object_array_length(data); i++) {
			json_object *m;
			json_object_object_get_ex(json_object_array_get_idx(data, i), "msg", &m);
			if (i)
				strncat(out, " ", size - strlen(out) - 1);
			strncat(out, json_object_get_string(m), size - strlen(out) - 1);
		}
	}
	json_object_put(o);
	free(text);
}

static void test_entries_are_merged_by_time_node_uid(void)
{
	struct clusterlog *cl;
	CHECK_INT(clusterlog_new(10, &cl), 0);
	struct clusterlog_entry es[] = {
		entry(20, "n2", 1, "c"), entry(10, "n1", 5, "a"), entry(20, "n1", 9, "b"),
		entry(30, "n1", 1, "e"), entry(20, "n2", 2, "d"),
	};
	for (size_t i = 0; i < 5; i++)
		CHECK_INT(clusterlog_apply(cl, &es[i]), 0);
	char buf[256];
	messages(cl, 0, buf, sizeof(buf));
	CHECK_STR(buf, "e d c b a");
	messages(cl, 2, buf, sizeof(buf));
	CHECK_STR(buf, "e d");
	clusterlog_free(cl);
}

static void test_same_entries_in_any_order_give_the_same_log(void)
{
	struct clusterlog *a, *b;
	CHECK_INT(clusterlog_new(10, &a), 0);
	CHECK_INT(clusterlog_new(10, &b), 0);
	struct clusterlog_entry es[] = {
		entry(5, "n3", 1, "x"), entry(5, "n1", 7, "y"), entry(4, "n2", 1, "z"), entry(5, "n1", 3, "w"),
	};
	for (size_t i = 0; i < 4; i++) {
		clusterlog_apply(a, &es[i]);
		clusterlog_apply(b, &es[3 - i]);
	}
	char *ta = clusterlog_json(a, 0), *tb = clusterlog_json(b, 0);
	CHECK_STR(ta, tb);
	free(ta);
	free(tb);
	clusterlog_free(a);
	clusterlog_free(b);
}

static void test_duplicates_are_kept_once(void)
{
	struct clusterlog *cl;
	CHECK_INT(clusterlog_new(10, &cl), 0);
	struct clusterlog_entry e = entry(10, "n1", 5, "a");
	CHECK_INT(clusterlog_apply(cl, &e), 0);
	CHECK_INT(clusterlog_apply(cl, &e), 1);
	/* same uid on another node is a different entry */
	struct clusterlog_entry other = entry(10, "n2", 5, "a");
	CHECK_INT(clusterlog_apply(cl, &other), 0);
	CHECK_INT(clusterlog_count(cl), 2);
	clusterlog_free(cl);
}

static void test_full_log_drops_the_oldest(void)
{
	struct clusterlog *cl;
	CHECK_INT(clusterlog_new(3, &cl), 0);
	const char *msgs[] = { "m1", "m2", "m3", "m4", "m5" };
	for (int i = 0; i < 5; i++) {
		struct clusterlog_entry e = entry(100 + i, "n1", (uint64_t)i + 1, msgs[i]);
		CHECK_INT(clusterlog_apply(cl, &e), 0);
	}
	char buf[256];
	messages(cl, 0, buf, sizeof(buf));
	CHECK_STR(buf, "m5 m4 m3");
	/* an entry older than everything kept does not displace anything */
	struct clusterlog_entry old = entry(1, "n1", 99, "old");
	CHECK_INT(clusterlog_apply(cl, &old), 0);
	messages(cl, 0, buf, sizeof(buf));
	CHECK_STR(buf, "m5 m4 m3");
	/* one in the middle pushes the oldest out */
	struct clusterlog_entry mid = entry(103, "n0", 50, "mid");
	CHECK_INT(clusterlog_apply(cl, &mid), 0);
	messages(cl, 0, buf, sizeof(buf));
	CHECK_STR(buf, "m5 m4 mid");
	clusterlog_free(cl);
}

static void test_invalid_entries_are_refused(void)
{
	struct clusterlog *cl;
	CHECK_INT(clusterlog_new(3, &cl), 0);
	struct clusterlog_entry e = entry(1, "", 1, "x");
	CHECK_INT(clusterlog_apply(cl, &e), -EINVAL);
	e = entry(1, "n1", 1, "x");
	e.pri = 8;
	CHECK_INT(clusterlog_apply(cl, &e), -EINVAL);
	e.pri = 3;
	e.tag[0] = 0;
	CHECK_INT(clusterlog_apply(cl, &e), -EINVAL);
	CHECK_INT(clusterlog_count(cl), 0);
	clusterlog_free(cl);
}

static void test_json_has_every_field(void)
{
	struct clusterlog *cl;
	CHECK_INT(clusterlog_new(3, &cl), 0);
	struct clusterlog_entry e = entry(1234, "n1", 77, "hello \"world\"");
	clusterlog_apply(cl, &e);
	char *text = clusterlog_json(cl, 0);
	json_object *o = json_tokener_parse(text), *data, *v;
	free(text);
	CHECK(o);
	CHECK(json_object_object_get_ex(o, "data", &data));
	json_object *x = json_object_array_get_idx(data, 0);
	CHECK(json_object_object_get_ex(x, "uid", &v) && json_object_get_int64(v) == 77);
	CHECK(json_object_object_get_ex(x, "time", &v) && json_object_get_int64(v) == 1234);
	CHECK(json_object_object_get_ex(x, "pri", &v) && json_object_get_int(v) == 6);
	CHECK(json_object_object_get_ex(x, "pid", &v) && json_object_get_int(v) == 42);
	CHECK(json_object_object_get_ex(x, "tag", &v) && strcmp(json_object_get_string(v), "test") == 0);
	CHECK(json_object_object_get_ex(x, "user", &v) && strcmp(json_object_get_string(v), "root@pam") == 0);
	CHECK(json_object_object_get_ex(x, "node", &v) && strcmp(json_object_get_string(v), "n1") == 0);
	CHECK(json_object_object_get_ex(x, "msg", &v) &&
	      strcmp(json_object_get_string(v), "hello \"world\"") == 0);
	json_object_put(o);
	clusterlog_free(cl);
}

static void test_new_uids_only_increase(void)
{
	struct clusterlog *cl;
	CHECK_INT(clusterlog_new(3, &cl), 0);
	uint64_t prev = clusterlog_new_uid(cl);
	for (int i = 0; i < 1000; i++) {
		uint64_t u = clusterlog_new_uid(cl);
		CHECK(u > prev);
		prev = u;
	}
	clusterlog_free(cl);
}

static const struct test tests[] = {
	TEST(test_entries_are_merged_by_time_node_uid),
	TEST(test_same_entries_in_any_order_give_the_same_log),
	TEST(test_duplicates_are_kept_once),
	TEST(test_full_log_drops_the_oldest),
	TEST(test_invalid_entries_are_refused),
	TEST(test_json_has_every_field),
	TEST(test_new_uids_only_increase),
};
TEST_MAIN(tests)
