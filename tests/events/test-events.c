/* test-events.c - the event log: order, resume, resync boundaries,
 * wraparound, reset. */
#include <errno.h>

#include "events.h"
#include "testlib.h"

static void record(struct events *e, enum change_op op, uint64_t version, const char *path,
		   const char *to)
{
	struct change c = { .op = op, .writer = 3, .mtime = 1000 + (int64_t)version, .path = path, .to = to };
	struct tree_result res = { .version = version };
	events_record(e, &c, &res);
}

static void clear_all(struct event *ev, int n)
{
	for (int i = 0; i < n; i++)
		event_clear(&ev[i]);
}

static void test_events_carry_change_fields(void)
{
	struct events *e;
	CHECK_INT(events_new(10, 5, &e), 0);
	struct events_cursor cur = events_cursor_live(e);
	record(e, CHANGE_CREATE, 6, "/a", NULL);
	record(e, CHANGE_RENAME, 7, "/a", "/b");
	record(e, CHANGE_MTIME, 8, "/b", NULL);
	struct event ev[8];
	int n = events_read(e, &cur, ev, 8);
	CHECK_INT(n, 3);
	CHECK_INT(ev[0].rev, 6);
	CHECK_STR(event_op_name(ev[0].op), "create");
	CHECK_STR(ev[0].path, "/a");
	CHECK(ev[0].old_path == NULL);
	CHECK_INT(ev[0].nodeid, 3);
	CHECK_INT(ev[0].time, 1006);
	CHECK_STR(event_op_name(ev[1].op), "rename");
	CHECK_STR(ev[1].path, "/b");
	CHECK_STR(ev[1].old_path, "/a");
	CHECK_STR(event_op_name(ev[2].op), "utime");
	CHECK_INT(cur.rev, 8);
	clear_all(ev, n);
	CHECK_INT(events_read(e, &cur, ev, 8), 0);
	events_free(e);
}

static void test_live_cursor_skips_the_past(void)
{
	struct events *e;
	CHECK_INT(events_new(10, 1, &e), 0);
	record(e, CHANGE_MKDIR, 2, "/d", NULL);
	struct events_cursor cur = events_cursor_live(e);
	CHECK_INT(cur.rev, 2);
	struct event ev[4];
	CHECK_INT(events_read(e, &cur, ev, 4), 0);
	record(e, CHANGE_RMDIR, 3, "/d", NULL);
	CHECK_INT(events_read(e, &cur, ev, 4), 1);
	CHECK_INT(ev[0].rev, 3);
	clear_all(ev, 1);
	events_free(e);
}

static void test_resume_from_start_version_gives_only_new_events(void)
{
	/* A restarted daemon: empty log at the database's version. */
	struct events *e;
	CHECK_INT(events_new(10, 40, &e), 0);
	struct events_cursor cur = events_cursor_from(e, 40);
	struct event ev[4];
	CHECK_INT(events_read(e, &cur, ev, 4), 0);
	record(e, CHANGE_WRITE, 41, "/f", NULL);
	CHECK_INT(events_read(e, &cur, ev, 4), 1);
	CHECK_INT(ev[0].op, EVENT_WRITE);
	CHECK_INT(ev[0].rev, 41);
	clear_all(ev, 1);
	events_free(e);
}

static void test_resume_before_log_start_gives_resync(void)
{
	struct events *e;
	CHECK_INT(events_new(10, 40, &e), 0);
	record(e, CHANGE_WRITE, 41, "/f", NULL);
	struct events_cursor cur = events_cursor_from(e, 39);
	struct event ev[4];
	CHECK_INT(events_read(e, &cur, ev, 4), 1);
	CHECK_INT(ev[0].op, EVENT_RESYNC);
	CHECK_INT(ev[0].rev, 41);
	CHECK_INT(cur.rev, 41);
	/* then live events */
	record(e, CHANGE_UNLINK, 42, "/f", NULL);
	CHECK_INT(events_read(e, &cur, ev, 4), 1);
	CHECK_INT(ev[0].rev, 42);
	clear_all(ev, 1);
	events_free(e);
}

static void test_resume_from_the_future_gives_resync(void)
{
	struct events *e;
	CHECK_INT(events_new(10, 40, &e), 0);
	struct events_cursor cur = events_cursor_from(e, 99);
	struct event ev[4];
	CHECK_INT(events_read(e, &cur, ev, 4), 1);
	CHECK_INT(ev[0].op, EVENT_RESYNC);
	CHECK_INT(ev[0].rev, 40);
	events_free(e);
}

static void test_wraparound_keeps_the_newest_and_moves_base(void)
{
	struct events *e;
	CHECK_INT(events_new(4, 0, &e), 0);
	for (uint64_t v = 1; v <= 10; v++)
		record(e, CHANGE_WRITE, v, "/f", NULL);
	CHECK_INT(events_base(e), 6);
	CHECK_INT(events_last(e), 10);
	struct event ev[8];
	/* exactly at the boundary: served */
	struct events_cursor cur = events_cursor_from(e, 6);
	int n = events_read(e, &cur, ev, 8);
	CHECK_INT(n, 4);
	CHECK_INT(ev[0].rev, 7);
	CHECK_INT(ev[3].rev, 10);
	clear_all(ev, n);
	/* one before the boundary: resync */
	cur = events_cursor_from(e, 5);
	CHECK_INT(events_read(e, &cur, ev, 8), 1);
	CHECK_INT(ev[0].op, EVENT_RESYNC);
	/* a slow reader overtaken by the ring */
	cur = events_cursor_from(e, 8);
	CHECK(!events_cursor_lost(e, &cur));
	for (uint64_t v = 11; v <= 20; v++)
		record(e, CHANGE_WRITE, v, "/f", NULL);
	CHECK(events_cursor_lost(e, &cur));
	CHECK_INT(events_read(e, &cur, ev, 8), 1);
	CHECK_INT(ev[0].op, EVENT_RESYNC);
	CHECK_INT(ev[0].rev, 20);
	events_free(e);
}

static void test_partial_reads_continue_where_they_stopped(void)
{
	struct events *e;
	CHECK_INT(events_new(100, 0, &e), 0);
	for (uint64_t v = 1; v <= 50; v++)
		record(e, CHANGE_WRITE, v, "/f", NULL);
	struct events_cursor cur = events_cursor_from(e, 10);
	struct event ev[16];
	uint64_t expect = 11;
	int n;
	while ((n = events_read(e, &cur, ev, 16)) > 0) {
		for (int i = 0; i < n; i++)
			CHECK_INT(ev[i].rev, expect++);
		clear_all(ev, n);
	}
	CHECK_INT(expect, 51);
	events_free(e);
}

static void test_reset_makes_every_reader_resync_once(void)
{
	struct events *e;
	CHECK_INT(events_new(10, 0, &e), 0);
	record(e, CHANGE_WRITE, 1, "/f", NULL);
	struct events_cursor a = events_cursor_live(e), b = events_cursor_from(e, 0);
	events_reset(e, 77);
	CHECK_INT(events_base(e), 77);
	record(e, CHANGE_WRITE, 78, "/g", NULL);
	struct event ev[4];
	CHECK_INT(events_read(e, &a, ev, 4), 1);
	CHECK_INT(ev[0].op, EVENT_RESYNC);
	CHECK_INT(ev[0].rev, 78);
	CHECK_INT(events_read(e, &b, ev, 4), 1);
	CHECK_INT(ev[0].op, EVENT_RESYNC);
	CHECK_INT(events_read(e, &a, ev, 4), 0);
	/* even a cursor whose revision is in range must resync after a reset */
	struct events_cursor c = events_cursor_from(e, 77);
	events_reset(e, 78);
	CHECK_INT(events_read(e, &c, ev, 4), 1);
	CHECK_INT(ev[0].op, EVENT_RESYNC);
	events_free(e);
}

static int wakes;
static void count_wake(void *ctx)
{
	(void)ctx;
	wakes++;
}

static void test_append_and_reset_wake_the_reader(void)
{
	struct events *e;
	CHECK_INT(events_new(10, 0, &e), 0);
	wakes = 0;
	events_set_wakeup(e, count_wake, NULL);
	record(e, CHANGE_WRITE, 1, "/f", NULL);
	events_reset(e, 5);
	CHECK_INT(wakes, 2);
	events_set_wakeup(e, NULL, NULL);
	record(e, CHANGE_WRITE, 6, "/f", NULL);
	CHECK_INT(wakes, 2);
	events_free(e);
}

static void test_zero_capacity_is_refused(void)
{
	struct events *e = NULL;
	CHECK_INT(events_new(0, 0, &e), -EINVAL);
	CHECK(e == NULL);
}

static const struct test tests[] = {
	TEST(test_events_carry_change_fields),
	TEST(test_live_cursor_skips_the_past),
	TEST(test_resume_from_start_version_gives_only_new_events),
	TEST(test_resume_before_log_start_gives_resync),
	TEST(test_resume_from_the_future_gives_resync),
	TEST(test_wraparound_keeps_the_newest_and_moves_base),
	TEST(test_partial_reads_continue_where_they_stopped),
	TEST(test_reset_makes_every_reader_resync_once),
	TEST(test_append_and_reset_wake_the_reader),
	TEST(test_zero_capacity_is_refused),
};
TEST_MAIN(tests)
