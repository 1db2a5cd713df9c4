/* test-watchloop.c - the parts of the watcher loop that need no daemon:
 * reconnect/retry backoff, debounce deadlines, the state file (round trip,
 * atomic replace, rejected garbage) and key=value log formatting. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"
#include "watchloop.h"

static void test_backoff_doubles_from_min_to_max(void)
{
	struct watch_backoff b;
	watch_backoff_init(&b, 100, 5000);
	unsigned want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_INT(watch_backoff_next(&b), want[i]);
}

static void test_backoff_reset_starts_over(void)
{
	struct watch_backoff b;
	watch_backoff_init(&b, 100, 5000);
	watch_backoff_next(&b);
	watch_backoff_next(&b);
	watch_backoff_reset(&b);
	CHECK_INT(watch_backoff_next(&b), 100);
	CHECK_INT(watch_backoff_next(&b), 200);
}

static void test_backoff_max_below_min_is_min(void)
{
	struct watch_backoff b;
	watch_backoff_init(&b, 1000, 10);
	CHECK_INT(watch_backoff_next(&b), 1000);
	CHECK_INT(watch_backoff_next(&b), 1000);
}

static void test_debounce_waits_for_quiet(void)
{
	/* One event at t=1000: due 50 ms later. */
	CHECK_INT(watch_debounce_due(1000, 1000, 50, 1000), 1050);
	/* Another at 1030 pushes it. */
	CHECK_INT(watch_debounce_due(1000, 1030, 50, 1000), 1080);
}

static void test_debounce_is_bounded_by_max_delay(void)
{
	/* A steady stream since 1000: due no later than 2000. */
	CHECK_INT(watch_debounce_due(1000, 1990, 50, 1000), 2000);
	CHECK_INT(watch_debounce_due(1000, 5000, 50, 1000), 2000);
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/test-watchloop.XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static void test_state_file_round_trip(void)
{
	char *dir = tmpdir();
	CHECK(dir);
	char path[256];
	snprintf(path, sizeof(path), "%s/qemu.state", dir);
	uint64_t rev = 1;
	CHECK_INT(watch_state_load(path, &rev), -ENOENT);
	CHECK_INT(rev, 1); /* untouched on error */
	CHECK_INT(watch_state_save(path, 42), 0);
	CHECK_INT(watch_state_load(path, &rev), 0);
	CHECK_INT(rev, 42);
	CHECK_INT(watch_state_save(path, UINT64_MAX), 0);
	CHECK_INT(watch_state_load(path, &rev), 0);
	CHECK(rev == UINT64_MAX);
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	CHECK(access(tmp, F_OK) != 0); /* the temp file was renamed away */
	unlink(path);
	rmdir(dir);
	free(dir);
}

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror("write");
		close(fd);
	}
}

static void test_state_file_garbage_is_rejected(void)
{
	char *dir = tmpdir();
	CHECK(dir);
	char path[256];
	snprintf(path, sizeof(path), "%s/s", dir);
	const char *bad[] = { "", "revision=", "revision=abc\n", "rev=5\n", "revision=5x\n", "12\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(path, bad[i]);
		uint64_t rev = 7;
		CHECK_INT(watch_state_load(path, &rev), -EBADMSG);
		CHECK_INT(rev, 7);
	}
	write_text(path, "revision=9");
	uint64_t rev = 0;
	CHECK_INT(watch_state_load(path, &rev), 0);
	CHECK_INT(rev, 9);
	unlink(path);
	rmdir(dir);
	free(dir);
}

static void test_state_file_save_fails_in_missing_dir(void)
{
	CHECK_INT(watch_state_save("/nonexistent-dir-watchloop/x.state", 1), -ENOENT);
}

static void test_kv_plain_values_are_bare(void)
{
	char buf[128];
	size_t len = 0;
	buf[0] = '\0';
	watch_kv_append(buf, sizeof(buf), &len, "vmid", "100");
	watch_kv_append(buf, sizeof(buf), &len, "action", "start");
	CHECK_STR(buf, "vmid=100 action=start");
	CHECK_INT(len, strlen(buf));
}

static void test_kv_values_with_spaces_quotes_and_newlines_are_quoted(void)
{
	char buf[256];
	size_t len = 0;
	buf[0] = '\0';
	watch_kv_append(buf, sizeof(buf), &len, "msg", "dry-run: would start vm 100");
	watch_kv_append(buf, sizeof(buf), &len, "e", "");
	watch_kv_append(buf, sizeof(buf), &len, "q", "a\"b\\c\nd=e\tf");
	CHECK_STR(buf, "msg=\"dry-run: would start vm 100\" e=\"\" q=\"a\\\"b\\\\c\\nd=e\\x09f\"");
}

static void test_kv_truncates_safely(void)
{
	char buf[12];
	size_t len = 0;
	buf[0] = '\0';
	watch_kv_append(buf, sizeof(buf), &len, "key", "a long value that does not fit");
	CHECK_INT(strlen(buf), sizeof(buf) - 1);
	CHECK_INT(len, sizeof(buf) - 1);
	watch_kv_append(buf, sizeof(buf), &len, "more", "x"); /* full: nothing happens */
	CHECK_INT(strlen(buf), sizeof(buf) - 1);
}

static void test_log_line_has_ts_level_and_watcher(void)
{
	char line[256];
	/* 2024-02-29 12:34:56.789 UTC */
	watch_format_line(line, sizeof(line), 1709210096789LL, LOG_INFO, "qemu", "vmid=100 action=start result=ok");
	CHECK_STR(line, "ts=2024-02-29T12:34:56.789Z level=info watcher=qemu vmid=100 action=start result=ok");
	watch_format_line(line, sizeof(line), 0, LOG_WARNING, "net", "");
	CHECK_STR(line, "ts=1970-01-01T00:00:00.000Z level=warning watcher=net");
	watch_format_line(line, sizeof(line), 0, LOG_ERR, "x", "a=1");
	CHECK(strstr(line, " level=error ") != NULL);
}

static void test_read_file_reports_errno(void)
{
	char *text = (char *)1;
	CHECK_INT(watch_read_file("/nonexistent-watchloop-file", &text), -ENOENT);
	CHECK(text == NULL);
	CHECK_INT(watch_read_file("/", &text), -EISDIR);
}

static int never_called(struct watch_ctx *ctx, const struct watch_pass *pass, void *userdata)
{
	(void)ctx; (void)pass; (void)userdata;
	return 0;
}

static void test_new_requires_name_and_reconcile(void)
{
	struct watch_ctx *ctx = (struct watch_ctx *)1;
	struct watch_options o = { .reconcile = never_called };
	CHECK_INT(watch_new(&o, &ctx), -EINVAL);
	CHECK(ctx == NULL);
	o = (struct watch_options){ .name = "t" };
	CHECK_INT(watch_new(&o, &ctx), -EINVAL);
	o = (struct watch_options){ .name = "t", .reconcile = never_called };
	CHECK_INT(watch_new(&o, &ctx), 0);
	CHECK_STR(watch_root(ctx), "/etc/pve");
	CHECK_STR(watch_name(ctx), "t");
	CHECK(!watch_dry_run(ctx));
	CHECK(watch_action(ctx, "start vm %d", 100)); /* not dry-run: act */
	watch_free(ctx);
}

static void test_dry_run_action_says_what_and_refuses(void)
{
	struct watch_ctx *ctx;
	struct watch_options o = { .name = "t", .reconcile = never_called, .dry_run = true, .root = "/r" };
	CHECK_INT(watch_new(&o, &ctx), 0);
	CHECK_STR(watch_root(ctx), "/r");
	CHECK(!watch_action(ctx, "start vm %d", 100));
	/* Status and cluster log are not sent in dry-run, and do not fail. */
	CHECK_INT(watch_status_set(ctx, "qemu/100", json_object_new_object()), 0);
	CHECK_INT(watch_cluster_log(ctx, LOG_WARNING, "x"), 0);
	watch_free(ctx);
}

static const struct test tests[] = {
	TEST(test_backoff_doubles_from_min_to_max),
	TEST(test_backoff_reset_starts_over),
	TEST(test_backoff_max_below_min_is_min),
	TEST(test_debounce_waits_for_quiet),
	TEST(test_debounce_is_bounded_by_max_delay),
	TEST(test_state_file_round_trip),
	TEST(test_state_file_garbage_is_rejected),
	TEST(test_state_file_save_fails_in_missing_dir),
	TEST(test_kv_plain_values_are_bare),
	TEST(test_kv_values_with_spaces_quotes_and_newlines_are_quoted),
	TEST(test_kv_truncates_safely),
	TEST(test_log_line_has_ts_level_and_watcher),
	TEST(test_read_file_reports_errno),
	TEST(test_new_requires_name_and_reconcile),
	TEST(test_dry_run_action_says_what_and_refuses),
};
TEST_MAIN(tests)
