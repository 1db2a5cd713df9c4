/* test-prune.c - prune-backups: spec parsing and the retention rules.
 *
 * Times are in UTC (TZ=UTC is set first) so that periods are unambiguous;
 * 2024-01-01 is a Monday, so ISO week N of 2024 starts on 2024-01-(7N-6). */
#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include "prune.h"
#include "testlib.h"

static time_t utc(const char *text)
{
	struct tm tm = { 0 };
	if (!strptime(text, "%Y-%m-%d %H:%M", &tm))
		abort();
	return timegm(&tm);
}

/* Build items from "YYYY-MM-DD HH:MM" strings; a leading '!' marks a
 * protected backup.  Names are the time strings themselves. */
static size_t make_items(struct prune_item *items, const char *const *times, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool prot = times[i][0] == '!';
		items[i] = (struct prune_item){ .name = times[i] + prot, .time = utc(times[i] + prot),
						.is_protected = prot, .reason = PRUNE_REASON_REMOVE };
	}
	return n;
}

/* Apply SPEC and compare "name=reason" for all items, newest first, with
 * EXPECTED (one "name=reason" per item, comma separated). */
static bool prunes_to(const char *spec_text, struct prune_item *items, size_t n, const char *expected)
{
	struct prune_spec spec;
	char err[256], got[4096] = "";
	size_t used = 0;
	if (prune_spec_parse(spec_text, &spec, err, sizeof(err)) < 0) {
		fprintf(stderr, "  spec '%s': %s\n", spec_text, err);
		return false;
	}
	if (prune_apply(&spec, items, n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		used += snprintf(got + used, sizeof(got) - used, "%s%s=%s", i ? "," : "", items[i].name,
				 prune_reason_name(items[i].reason));
	if (strcmp(got, expected) != 0) {
		fprintf(stderr, "  spec '%s':\n    got      %s\n    expected %s\n", spec_text, got, expected);
		return false;
	}
	return true;
}

static void test_month_of_dailies_daily7_weekly4(void)
{
	static char names[31][20];
	const char *times[31];
	struct prune_item items[31];
	for (int d = 1; d <= 31; d++) {
		snprintf(names[d - 1], sizeof(names[0]), "2024-01-%02d 02:00", d);
		times[d - 1] = names[d - 1];
	}
	make_items(items, times, 31);
	/* daily keeps Jan 31..25; those cover ISO weeks 4 (22-28) and 5 (29-);
	 * weekly then keeps the newest of weeks 3, 2, 1 (21, 14, 7): only 3 of
	 * 4 weeks exist.  The other days of those weeks are removed. */
	char expected[2048] = "";
	size_t used = 0;
	for (int d = 31; d >= 1; d--) {
		const char *reason = d >= 25 ? "keep-daily" : (d == 21 || d == 14 || d == 7) ? "keep-weekly" : "remove";
		used += snprintf(expected + used, sizeof(expected) - used, "%s2024-01-%02d 02:00=%s", d == 31 ? "" : ",", d,
				 reason);
	}
	CHECK(prunes_to("keep-daily=7,keep-weekly=4", items, 31, expected));
	int kept = 0;
	for (int i = 0; i < 31; i++)
		kept += prune_reason_keeps(items[i].reason);
	CHECK_INT(kept, 10);
}

static void test_keep_last_skips_protected(void)
{
	const char *times[] = { "2024-01-01 00:00", "2024-01-02 00:00", "2024-01-03 00:00", "!2024-01-04 00:00",
				"2024-01-05 00:00" };
	struct prune_item items[5];
	make_items(items, times, 5);
	CHECK(prunes_to("keep-last=3", items, 5,
			"2024-01-05 00:00=keep-last,2024-01-04 00:00=protected,2024-01-03 00:00=keep-last,"
			"2024-01-02 00:00=keep-last,2024-01-01 00:00=remove"));
}

static void test_protected_kept_even_with_everything_else_removed(void)
{
	const char *times[] = { "!2023-01-01 00:00", "2024-01-01 00:00", "2024-01-02 00:00" };
	struct prune_item items[3];
	make_items(items, times, 3);
	CHECK(prunes_to("keep-last=1", items, 3,
			"2024-01-02 00:00=keep-last,2024-01-01 00:00=remove,2023-01-01 00:00=protected"));
}

static void test_covered_period_gets_no_second_backup(void)
{
	const char *times[] = { "2024-01-03 20:00", "2024-01-03 08:00", "2024-01-02 20:00", "2024-01-02 08:00",
				"2024-01-01 20:00" };
	struct prune_item items[5];
	make_items(items, times, 5);
	/* Jan 3 is covered by keep-last, so keep-daily keeps Jan 2 and Jan 1 */
	CHECK(prunes_to("keep-last=1,keep-daily=2", items, 5,
			"2024-01-03 20:00=keep-last,2024-01-03 08:00=remove,2024-01-02 20:00=keep-daily,"
			"2024-01-02 08:00=remove,2024-01-01 20:00=keep-daily"));
}

static void test_backup_passed_over_by_an_option_is_not_taken_by_a_later_one(void)
{
	/* Jan 30 shares ISO week 5 with Feb 1; keep-weekly passes over it, so
	 * January's monthly backup is Jan 20, not Jan 30. */
	const char *times[] = { "2024-02-05 10:00", "2024-02-01 10:00", "2024-01-30 10:00", "2024-01-20 10:00" };
	struct prune_item items[4];
	make_items(items, times, 4);
	CHECK(prunes_to("keep-weekly=2,keep-monthly=3", items, 4,
			"2024-02-05 10:00=keep-weekly,2024-02-01 10:00=keep-weekly,2024-01-30 10:00=remove,"
			"2024-01-20 10:00=keep-monthly"));
}

static void test_keep_hourly(void)
{
	const char *times[] = { "2024-01-01 10:00", "2024-01-01 10:20", "2024-01-01 10:40", "2024-01-01 11:00",
				"2024-01-01 11:20", "2024-01-01 12:40", "2024-01-01 12:50" };
	struct prune_item items[7];
	make_items(items, times, 7);
	CHECK(prunes_to("keep-hourly=2", items, 7,
			"2024-01-01 12:50=keep-hourly,2024-01-01 12:40=remove,2024-01-01 11:20=keep-hourly,"
			"2024-01-01 11:00=remove,2024-01-01 10:40=remove,2024-01-01 10:20=remove,"
			"2024-01-01 10:00=remove"));
}

static void test_iso_weeks_cross_the_new_year(void)
{
	/* 2024-12-30 (Mon) .. 2025-01-05 (Sun) is ISO week 1 of 2025 */
	const char *times[] = { "2025-01-05 00:00", "2024-12-30 00:00", "2024-12-29 00:00", "2024-12-23 00:00" };
	struct prune_item items[4];
	make_items(items, times, 4);
	CHECK(prunes_to("keep-weekly=2", items, 4,
			"2025-01-05 00:00=keep-weekly,2024-12-30 00:00=remove,2024-12-29 00:00=keep-weekly,"
			"2024-12-23 00:00=remove"));
}

static void test_keep_monthly_and_yearly(void)
{
	const char *times[] = { "2024-01-01 00:00", "2023-12-31 23:00", "2023-12-01 00:00", "2023-01-01 00:00",
				"2022-06-01 00:00", "2021-06-01 00:00" };
	struct prune_item items[6];
	make_items(items, times, 6);
	/* monthly: Jan 2024, Dec 2023 (Dec 1 removed as its second);
	 * yearly: 2024 and 2023 are covered, so 2022 and 2021 */
	CHECK(prunes_to("keep-monthly=2,keep-yearly=2", items, 6,
			"2024-01-01 00:00=keep-monthly,2023-12-31 23:00=keep-monthly,2023-12-01 00:00=remove,"
			"2023-01-01 00:00=remove,2022-06-01 00:00=keep-yearly,2021-06-01 00:00=keep-yearly"));
}

static void test_keep_all_and_empty_spec_keep_everything(void)
{
	const char *times[] = { "2024-01-01 00:00", "!2024-01-02 00:00", "2024-01-03 00:00" };
	struct prune_item items[3];
	make_items(items, times, 3);
	CHECK(prunes_to("keep-all=1", items, 3,
			"2024-01-03 00:00=keep-all,2024-01-02 00:00=protected,2024-01-01 00:00=keep-all"));
	make_items(items, times, 3);
	CHECK(prunes_to("", items, 3, "2024-01-03 00:00=keep-all,2024-01-02 00:00=protected,2024-01-01 00:00=keep-all"));
	make_items(items, times, 3);
	CHECK(prunes_to("keep-all=0,keep-last=1", items, 3,
			"2024-01-03 00:00=keep-last,2024-01-02 00:00=protected,2024-01-01 00:00=remove"));
}

static void test_equal_times_sorted_by_name(void)
{
	struct prune_item items[] = {
		{ .name = "a", .time = 100 },
		{ .name = "c", .time = 100 },
		{ .name = "b", .time = 200 },
	};
	CHECK(prunes_to("keep-last=2", items, 3, "b=keep-last,c=keep-last,a=remove"));
	CHECK_INT(prune_apply(&(struct prune_spec){ 0 }, NULL, 0), 0);
}

static bool spec_rejected(const char *text, const char *want)
{
	struct prune_spec spec = { .keep = { 42 } };
	char err[256];
	int r = prune_spec_parse(text, &spec, err, sizeof(err));
	if (r != -EINVAL || !strstr(err, want) || spec.keep[0] != 42) {
		fprintf(stderr, "  '%s': r=%d err='%s', expected -EINVAL and '%s'\n", text, r, err, want);
		return false;
	}
	return true;
}

static void test_spec_parse(void)
{
	struct prune_spec spec;
	char buf[128];
	CHECK_INT(prune_spec_parse("keep-last=3,keep-daily=7", &spec, NULL, 0), 0);
	CHECK_INT(spec.keep[PRUNE_KEEP_LAST], 3);
	CHECK_INT(spec.keep[PRUNE_KEEP_DAILY], 7);
	CHECK_INT(spec.keep[PRUNE_KEEP_WEEKLY], 0);
	CHECK(!spec.keep_all);
	CHECK_INT(prune_spec_parse(" keep-yearly = 2 , keep-hourly=24,keep-weekly=4,keep-monthly=6 ", &spec, NULL, 0), 0);
	prune_spec_format(&spec, buf, sizeof(buf));
	CHECK_STR(buf, "keep-hourly=24,keep-weekly=4,keep-monthly=6,keep-yearly=2");
	CHECK_INT(prune_spec_parse("keep-all=1", &spec, NULL, 0), 0);
	CHECK(spec.keep_all && prune_spec_keeps_all(&spec));
	prune_spec_format(&spec, buf, sizeof(buf));
	CHECK_STR(buf, "keep-all=1");
	CHECK_INT(prune_spec_parse("keep-last=0", &spec, NULL, 0), 0);
	CHECK(prune_spec_keeps_all(&spec));
	CHECK_STR(prune_option_name(PRUNE_KEEP_MONTHLY), "keep-monthly");
}

static void test_spec_errors(void)
{
	char err[256];
	struct prune_spec spec;
	CHECK_INT(prune_spec_parse("keep-last=3,keep-fortnightly=2", &spec, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "invalid prune-backups 'keep-last=3,keep-fortnightly=2': unknown option 'keep-fortnightly'");
	CHECK(spec_rejected("keep-daily=seven", "value 'seven' is not a number"));
	CHECK(spec_rejected("keep-daily=7x", "value '7x' is not a number"));
	CHECK(spec_rejected("keep-daily=", "value '' is not a number"));
	CHECK(spec_rejected("keep-daily=99999999999", "value '99999999999' is not a number"));
	CHECK(spec_rejected("keep-last=-1", "negative value '-1'"));
	CHECK(spec_rejected("keep-all=1,keep-last=2", "keep-all=1 cannot be combined with keep-last"));
	CHECK(spec_rejected("keep-weekly=2,keep-all=1", "keep-all=1 cannot be combined with keep-weekly"));
	CHECK(spec_rejected("keep-all=2", "keep-all must be 0 or 1, not '2'"));
	CHECK(spec_rejected("keep-last=1,keep-last=2", "option 'keep-last' given twice"));
	CHECK(spec_rejected("keep-last", "missing '=' in 'keep-last'"));
	CHECK(spec_rejected("keep-last=1,,keep-daily=2", "empty item in list"));
	CHECK(spec_rejected("keep-last=1,", "empty item in list"));
	CHECK(spec_rejected("=3", "unknown option ''"));
}

static void test_reasons(void)
{
	CHECK(prune_reason_keeps(PRUNE_REASON_PROTECTED));
	CHECK(prune_reason_keeps(PRUNE_REASON_KEEP_ALL));
	CHECK(!prune_reason_keeps(PRUNE_REASON_REMOVE));
	CHECK(!prune_reason_keeps(PRUNE_UNDECIDED));
	CHECK_STR(prune_reason_name(PRUNE_REASON_KEEP_YEARLY), "keep-yearly");
	CHECK_STR(prune_reason_name(PRUNE_REASON_REMOVE), "remove");
}

static const struct test tests[] = {
	TEST(test_month_of_dailies_daily7_weekly4),
	TEST(test_keep_last_skips_protected),
	TEST(test_protected_kept_even_with_everything_else_removed),
	TEST(test_covered_period_gets_no_second_backup),
	TEST(test_backup_passed_over_by_an_option_is_not_taken_by_a_later_one),
	TEST(test_keep_hourly),
	TEST(test_iso_weeks_cross_the_new_year),
	TEST(test_keep_monthly_and_yearly),
	TEST(test_keep_all_and_empty_spec_keep_everything),
	TEST(test_equal_times_sorted_by_name),
	TEST(test_spec_parse),
	TEST(test_spec_errors),
	TEST(test_reasons),
};

int main(int argc, char **argv)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return testlib_run(tests, sizeof(tests) / sizeof(tests[0]), argv[0], argc, argv);
}
