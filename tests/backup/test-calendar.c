/* test-calendar.c - calendar-event schedules: parsing, next fire times, errors.
 *
 * Expected times were checked by hand against a calendar (and, for the forms
 * systemd also knows, against `systemd-analyze calendar`; suite-backup-unit
 * repeats that cross-check on the machine when systemd-analyze exists). */
#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include "calendar.h"
#include "testlib.h"

static void use_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static time_t local(const char *text)
{
	struct tm tm = { .tm_isdst = -1 };
	if (!strptime(text, "%Y-%m-%d %H:%M:%S", &tm))
		abort();
	return mktime(&tm);
}

/* Run EXPR from FROM and compare the next times with EXPECTED (comma
 * separated "YYYY-MM-DD HH:MM:SS").  Prints the first difference. */
static bool fires(const char *expr, const char *from, const char *expected)
{
	struct calendar_event ev;
	char err[256], want[64];
	const char *p = expected;
	time_t t = local(from);

	if (calendar_parse(expr, &ev, err, sizeof(err)) < 0) {
		fprintf(stderr, "  '%s' does not parse: %s\n", expr, err);
		return false;
	}
	while (*p) {
		size_t len = strcspn(p, ",");
		char got[64];
		struct tm tm;
		snprintf(want, sizeof(want), "%.*s", (int)len, p);
		int r = calendar_next(&ev, t, &t);
		if (r < 0) {
			fprintf(stderr, "  '%s': calendar_next failed (%d), expected %s\n", expr, r, want);
			return false;
		}
		localtime_r(&t, &tm);
		strftime(got, sizeof(got), "%Y-%m-%d %H:%M:%S", &tm);
		if (strcmp(got, want) != 0) {
			fprintf(stderr, "  '%s' from %s: got %s, expected %s\n", expr, from, got, want);
			return false;
		}
		p += len + (p[len] == ',');
	}
	return true;
}

/* EXPR must fail to parse with a message containing WANT. */
static bool rejects(const char *expr, const char *want)
{
	struct calendar_event ev;
	char err[256];
	memset(&ev, 0x5a, sizeof(ev));
	int r = calendar_parse(expr, &ev, err, sizeof(err));
	if (r != -EINVAL || !strstr(err, want)) {
		fprintf(stderr, "  '%s': r=%d err='%s', expected -EINVAL and '%s'\n", expr, r, err, want);
		return false;
	}
	/* the event is left untouched on failure */
	for (size_t i = 0; i < sizeof(ev); i++)
		if (((unsigned char *)&ev)[i] != 0x5a)
			return false;
	return true;
}

static void test_lone_number_is_minutes(void)
{
	use_tz("UTC");
	CHECK(fires("*/15", "2024-01-01 10:07:00",
		    "2024-01-01 10:15:00,2024-01-01 10:30:00,2024-01-01 10:45:00,2024-01-01 11:00:00"));
	CHECK(fires("30/10", "2024-01-01 10:31:00",
		    "2024-01-01 10:40:00,2024-01-01 10:50:00,2024-01-01 11:30:00"));
	CHECK(fires("5", "2024-01-01 10:05:00", "2024-01-01 11:05:00,2024-01-01 12:05:00"));
	CHECK(fires("*", "2024-01-01 10:05:30", "2024-01-01 10:06:00,2024-01-01 10:07:00"));
	CHECK(fires("mon..wed 30/10", "2024-01-03 23:45:00", "2024-01-03 23:50:00,2024-01-08 00:30:00"));
}

static void test_next_is_strictly_after(void)
{
	use_tz("UTC");
	CHECK(fires("12:05", "2024-01-01 12:05:00", "2024-01-02 12:05:00"));
	CHECK(fires("12:05", "2024-01-01 12:04:59", "2024-01-01 12:05:00"));
	CHECK(fires("daily", "2023-12-31 23:59:59", "2024-01-01 00:00:00,2024-01-02 00:00:00"));
}

static void test_weekdays(void)
{
	use_tz("UTC");
	/* 2024-01-05 is a Friday */
	CHECK(fires("sat,sun 02:00", "2024-01-05 12:00:00",
		    "2024-01-06 02:00:00,2024-01-07 02:00:00,2024-01-13 02:00:00"));
	CHECK(fires("mon..fri", "2024-01-05 12:00:00", "2024-01-08 00:00:00,2024-01-09 00:00:00"));
	CHECK(fires("Mon,Wed..Fri 1:2:3", "2024-01-01 00:00:00",
		    "2024-01-01 01:02:03,2024-01-03 01:02:03,2024-01-04 01:02:03,2024-01-05 01:02:03,"
		    "2024-01-08 01:02:03"));
	CHECK(fires("tuesday,SAT 23:59", "2024-01-01 00:00:00", "2024-01-02 23:59:00,2024-01-06 23:59:00"));
	CHECK(fires("fri 12..13:5/20", "2024-01-05 12:30:00",
		    "2024-01-05 12:45:00,2024-01-05 13:05:00,2024-01-05 13:25:00,2024-01-05 13:45:00,"
		    "2024-01-12 12:05:00"));
}

static void test_hours_lists_ranges_steps(void)
{
	use_tz("UTC");
	CHECK(fires("mon..fri 8..17,22:0/15", "2024-01-05 17:50:00",
		    "2024-01-05 22:00:00,2024-01-05 22:15:00,2024-01-05 22:30:00,2024-01-05 22:45:00,"
		    "2024-01-08 08:00:00"));
	CHECK(fires("12,14,16,18,20,22:5", "2024-01-01 21:00:00", "2024-01-01 22:05:00,2024-01-02 12:05:00"));
	CHECK(fires("*/2:0", "2024-01-01 03:00:00", "2024-01-01 04:00:00,2024-01-01 06:00:00"));
	CHECK(fires("0/6:30", "2024-01-01 18:31:00", "2024-01-02 00:30:00,2024-01-02 06:30:00"));
	CHECK(fires("8..18/5:0", "2024-01-01 00:00:00",
		    "2024-01-01 08:00:00,2024-01-01 13:00:00,2024-01-01 18:00:00,2024-01-02 08:00:00"));
	CHECK(fires("*:*:0/20", "2024-01-01 00:00:50", "2024-01-01 00:01:00,2024-01-01 00:01:20"));
	CHECK(fires("*-*-* 1..3:0,30:0/20", "2024-01-01 03:30:40",
		    "2024-01-02 01:00:00,2024-01-02 01:00:20,2024-01-02 01:00:40,2024-01-02 01:30:00"));
}

static void test_dates(void)
{
	use_tz("UTC");
	CHECK(fires("*-05", "2024-01-05 00:00:00", "2024-02-05 00:00:00,2024-03-05 00:00:00"));
	/* first Saturday of each month */
	CHECK(fires("sat *-1..7 15:00", "2024-01-01 00:00:00",
		    "2024-01-06 15:00:00,2024-02-03 15:00:00,2024-03-02 15:00:00,2024-04-06 15:00:00"));
	CHECK(fires("*-02-29 12:00", "2024-03-01 00:00:00", "2028-02-29 12:00:00,2032-02-29 12:00:00"));
	CHECK(fires("*-*-31", "2024-04-01 00:00:00", "2024-05-31 00:00:00,2024-07-31 00:00:00,2024-08-31 00:00:00"));
	CHECK(fires("2015-10-21", "2015-01-01 00:00:00", "2015-10-21 00:00:00"));
	CHECK(fires("2024..2030/3-01..03-1/10 4/5:7", "2024-01-01 00:00:00",
		    "2024-01-01 04:07:00,2024-01-01 09:07:00,2024-01-01 14:07:00,2024-01-01 19:07:00,"
		    "2024-01-11 04:07:00"));
	CHECK(fires("2024/2-06-15", "2024-06-15 00:00:00", "2026-06-15 00:00:00,2028-06-15 00:00:00"));
}

static void test_specials(void)
{
	use_tz("UTC");
	const char *from = "2024-05-15 10:20:30";
	CHECK(fires("minutely", from, "2024-05-15 10:21:00,2024-05-15 10:22:00"));
	CHECK(fires("hourly", from, "2024-05-15 11:00:00,2024-05-15 12:00:00"));
	CHECK(fires("daily", from, "2024-05-16 00:00:00,2024-05-17 00:00:00"));
	CHECK(fires("weekly", from, "2024-05-20 00:00:00,2024-05-27 00:00:00"));
	CHECK(fires("monthly", from, "2024-06-01 00:00:00,2024-07-01 00:00:00"));
	CHECK(fires("yearly", from, "2025-01-01 00:00:00,2026-01-01 00:00:00"));
	CHECK(fires("annually", from, "2025-01-01 00:00:00"));
	CHECK(fires("quarterly", from, "2024-07-01 00:00:00,2024-10-01 00:00:00,2025-01-01 00:00:00"));
	CHECK(fires("semiannually", from, "2024-07-01 00:00:00,2025-01-01 00:00:00"));
	CHECK(fires("  Daily  ", from, "2024-05-16 00:00:00"));
}

static void test_dst_spring_gap_is_skipped(void)
{
	/* Europe/Berlin: 2024-03-31 02:00 CET jumps to 03:00 CEST */
	use_tz("Europe/Berlin");
	CHECK(fires("02:30", "2024-03-30 12:00:00", "2024-04-01 02:30:00"));
	CHECK(fires("02:30", "2024-03-30 03:00:00", "2024-04-01 02:30:00,2024-04-02 02:30:00"));
	CHECK(fires("hourly", "2024-03-31 00:30:00", "2024-03-31 01:00:00,2024-03-31 03:00:00,2024-03-31 04:00:00"));
	CHECK(fires("*:0/20", "2024-03-31 01:30:00",
		    "2024-03-31 01:40:00,2024-03-31 03:00:00,2024-03-31 03:20:00"));
}

static void test_dst_autumn_repeat_fires_once(void)
{
	/* Europe/Berlin: 2024-10-27 03:00 CEST goes back to 02:00 CET */
	use_tz("Europe/Berlin");
	struct calendar_event ev;
	time_t t, from = local("2024-10-27 01:50:00");
	CHECK_INT(calendar_parse("02:30", &ev, NULL, 0), 0);
	CHECK_INT(calendar_next(&ev, from, &t), 0);
	CHECK_INT(t, 1729989000); /* 2024-10-27 00:30 UTC = 02:30 CEST, the first one */
	CHECK_INT(calendar_next(&ev, t, &t), 0);
	CHECK_INT(t, 1730079000); /* 2024-10-28 01:30 UTC = 02:30 CET the next day */
	/* from inside the repeated hour (02:10 CET), its 02:30 CET still counts */
	CHECK_INT(calendar_next(&ev, 1729991400, &t), 0); /* 01:10 UTC */
	CHECK_INT(t, 1729992600);                                 /* 01:30 UTC */
	CHECK(fires("*:0/20", "2024-10-27 02:10:00", "2024-10-27 02:20:00,2024-10-27 02:40:00,2024-10-27 03:00:00"));
}

static void test_never_fires_again(void)
{
	use_tz("UTC");
	struct calendar_event ev;
	time_t t = 0;
	CHECK_INT(calendar_parse("*-02-30", &ev, NULL, 0), 0);
	CHECK_INT(calendar_next(&ev, local("2024-01-01 00:00:00"), &t), -ERANGE);
	CHECK_INT(calendar_parse("2020-01-01", &ev, NULL, 0), 0);
	CHECK_INT(calendar_next(&ev, local("2024-01-01 00:00:00"), &t), -ERANGE);
	CHECK_INT(calendar_parse("2199-12-31 23:59:59", &ev, NULL, 0), 0);
	CHECK_INT(calendar_next(&ev, local("2199-12-31 23:59:58"), &t), 0);
	CHECK_INT(calendar_next(&ev, t, &t), -ERANGE);
}

static void test_errors_name_token_and_column(void)
{
	char err[256];
	struct calendar_event ev;
	CHECK_INT(calendar_parse("mon..xyz 02:00", &ev, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "invalid schedule 'mon..xyz 02:00': unknown weekday 'xyz' (column 6)");
	CHECK(rejects("", "empty expression"));
	CHECK(rejects("   ", "empty expression"));
	CHECK(rejects("funday", "unknown weekday 'funday' (column 1)"));
	CHECK(rejects("25:00", "hour out of range 0..23: '25'"));
	CHECK(rejects("12:60", "minute out of range 0..59: '60' (column 4)"));
	CHECK(rejects("12:00:61", "second out of range 0..59: '61'"));
	CHECK(rejects("*-13-01", "month out of range 1..12: '13'"));
	CHECK(rejects("*-01-00", "day out of range 1..31: '00'"));
	CHECK(rejects("1969-01-01", "year out of range 1970..2199: '1969'"));
	CHECK(rejects("*:0/0", "repetition must be at least 1, not '0' (column 5)"));
	CHECK(rejects("*:0/x", "invalid repetition 'x'"));
	CHECK(rejects("fri..mon", "range goes backwards: 'fri..mon'"));
	CHECK(rejects("10..8:00", "range goes backwards: '10..8'"));
	CHECK(rejects("mon/2", "weekdays take no repetition"));
	CHECK(rejects("1,,2", "empty item in list '1,,2'"));
	CHECK(rejects("02:00 mon", "weekdays must come first, unexpected 'mon' (column 7)"));
	CHECK(rejects("mon 02:00 03:00", "unexpected '03:00' (column 11)"));
	CHECK(rejects("daily 02:00", "unknown weekday 'daily'"));
	CHECK(rejects("1:2:3:4", "invalid time '1:2:3:4'"));
	CHECK(rejects("1-2-3-4", "invalid date '1-2-3-4'"));
	CHECK(rejects("a:b", "unknown weekday"));
	CHECK(rejects("1x:00", "invalid hour '1x'"));
	CHECK(rejects("-5", "missing month '' (column 1)"));
	CHECK(rejects("mon.. 02:00", "unknown weekday '' (column 6)"));
}

static void test_set_membership(void)
{
	struct calendar_event ev;
	CHECK_INT(calendar_parse("sat,sun *-1,12-1..7 8..17/3:15", &ev, NULL, 0), 0);
	CHECK(calendar_set_has(&ev.weekdays, 6) && calendar_set_has(&ev.weekdays, 0));
	CHECK(!calendar_set_has(&ev.weekdays, 1));
	CHECK(calendar_set_has(&ev.months, 1) && calendar_set_has(&ev.months, 12) && !calendar_set_has(&ev.months, 2));
	CHECK(calendar_set_has(&ev.days, 7) && !calendar_set_has(&ev.days, 8));
	CHECK(calendar_set_has(&ev.hours, 8) && calendar_set_has(&ev.hours, 17) && !calendar_set_has(&ev.hours, 9));
	CHECK(calendar_set_has(&ev.minutes, 15) && !calendar_set_has(&ev.minutes, 0));
	CHECK(calendar_set_has(&ev.seconds, 0) && !calendar_set_has(&ev.seconds, 1));
	CHECK(!calendar_set_has(&ev.minutes, -1) && !calendar_set_has(&ev.minutes, 256));
}

static const struct test tests[] = {
	TEST(test_lone_number_is_minutes),
	TEST(test_next_is_strictly_after),
	TEST(test_weekdays),
	TEST(test_hours_lists_ranges_steps),
	TEST(test_dates),
	TEST(test_specials),
	TEST(test_dst_spring_gap_is_skipped),
	TEST(test_dst_autumn_repeat_fires_once),
	TEST(test_never_fires_again),
	TEST(test_errors_name_token_and_column),
	TEST(test_set_membership),
};
TEST_MAIN(tests)
