/* calendar.c - parse calendar-event schedules and compute their next time.
 *
 * Parsing: the expression is split at blanks into at most three tokens, in
 * this order: weekdays (a token starting with a letter), a date (a token
 * with '-'), a time (a token with ':') or, instead of a time, a lone minute
 * spec (Proxmox: `0/5`, `30/10`, `15`, or a star with a step).  Every part is
 * a comma-separated list of items `*`, `N`, `A..B`, `N/STEP`, `A..B/STEP` and
 * a star with `/STEP` (weekdays: names and ranges only).  Omitted parts:
 * every weekday, every date, 00:00:00 - except with a lone minute spec,
 * where the hour is `*`.  Errors name the
 * offending token and its 1-based column.
 *
 * Next time, and daylight saving: the search runs on the local wall clock
 * (year, month, day, hour, minute, second as a person reads them), not on
 * seconds since the epoch: it looks for the first wall-clock time that
 * matches the event and is later than the wall-clock time of AFTER, then
 * converts it to an instant.  Two consequences, both the same as systemd's:
 *  - a wall-clock time that does not exist (skipped by the spring change,
 *    e.g. 02:30 on the last Sunday of March in Europe) is skipped; the event
 *    fires at its next matching time, it is not moved to 03:00;
 *  - a wall-clock time that exists twice (the hour repeated in autumn) fires
 *    once, at its first occurrence; only when AFTER already lies in the
 *    repeated hour does the second occurrence count.
 * The conversion does not trust mktime()'s tm_isdst guessing: it tries the
 * UTC offsets in force around that wall time and keeps the earliest instant
 * after AFTER whose local time really is that wall time. */
#include "calendar.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- sets ---- */

static void set_add(struct calendar_set *set, int value)
{
	set->bits[value / 64] |= UINT64_C(1) << (value % 64);
}

int calendar_set_has(const struct calendar_set *set, int value)
{
	if (value < 0 || value > 255)
		return 0;
	return (set->bits[value / 64] >> (value % 64)) & 1;
}

static void set_add_range(struct calendar_set *set, int from, int to, int step, int offset)
{
	for (int v = from; v <= to; v += step)
		set_add(set, v - offset);
}

/* ---- parsing ---- */

/* One field of the event: its name for messages, its bounds, where it goes. */
struct field {
	const char *name;
	int min, max;
	bool names;   /* weekday names instead of numbers, no steps */
};

static const struct field field_weekday = { "weekday", 0, 6, true };
static const struct field field_year = { "year", CALENDAR_YEAR_MIN, CALENDAR_YEAR_MAX, false };
static const struct field field_month = { "month", 1, 12, false };
static const struct field field_day = { "day", 1, 31, false };
static const struct field field_hour = { "hour", 0, 23, false };
static const struct field field_minute = { "minute", 0, 59, false };
static const struct field field_second = { "second", 0, 59, false };

struct parser {
	const char *expr;
	char *err;
	size_t errlen;
};

/* A piece of the expression: [s, s + len). */
struct span {
	const char *s;
	size_t len;
};

static int parse_fail(const struct parser *p, struct span at, const char *what)
{
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "invalid schedule '%s': %s '%.*s' (column %zu)", p->expr, what,
			 (int)at.len, at.s, (size_t)(at.s - p->expr) + 1);
	return -EINVAL;
}

static bool span_eq(struct span a, const char *word)
{
	return strlen(word) == a.len && strncasecmp(a.s, word, a.len) == 0;
}

/* Find SEP in SP; splits it into *HEAD and *TAIL.  False if SEP is absent. */
static bool span_split(struct span sp, const char *sep, struct span *head, struct span *tail)
{
	size_t n = strlen(sep);
	for (size_t i = 0; i + n <= sp.len; i++) {
		if (memcmp(sp.s + i, sep, n) == 0) {
			*head = (struct span){ sp.s, i };
			*tail = (struct span){ sp.s + i + n, sp.len - i - n };
			return true;
		}
	}
	return false;
}

static bool span_has(struct span sp, char c)
{
	return memchr(sp.s, c, sp.len) != NULL;
}

static int weekday_from_name(struct span sp)
{
	static const char *const names[7][2] = {
		{ "sun", "sunday" },   { "mon", "monday" }, { "tue", "tuesday" }, { "wed", "wednesday" },
		{ "thu", "thursday" }, { "fri", "friday" }, { "sat", "saturday" },
	};
	for (int i = 0; i < 7; i++)
		if (span_eq(sp, names[i][0]) || span_eq(sp, names[i][1]))
			return i;
	return -1;
}

/* Read one value of field F from SP into *V. */
static int parse_value(const struct parser *p, const struct field *f, struct span sp, int *v)
{
	char msg[64];
	if (f->names) {
		*v = weekday_from_name(sp);
		return *v < 0 ? parse_fail(p, sp, "unknown weekday") : 0;
	}
	if (sp.len == 0 || sp.len > 4) {
		snprintf(msg, sizeof(msg), "invalid %s", f->name);
		return parse_fail(p, sp, msg);
	}
	int n = 0;
	for (size_t i = 0; i < sp.len; i++) {
		if (!isdigit((unsigned char)sp.s[i])) {
			snprintf(msg, sizeof(msg), "invalid %s", f->name);
			return parse_fail(p, sp, msg);
		}
		n = n * 10 + (sp.s[i] - '0');
	}
	if (n < f->min || n > f->max) {
		snprintf(msg, sizeof(msg), "%s out of range %d..%d:", f->name, f->min, f->max);
		return parse_fail(p, sp, msg);
	}
	*v = n;
	return 0;
}

/* One list item: `*`, `N`, `A..B`, with an optional `/STEP`. */
static int parse_item(const struct parser *p, const struct field *f, struct span item, struct calendar_set *set,
		      int offset)
{
	struct span range = item, step_sp, a, b;
	int from = f->min, to = f->max, step = 1, r;
	bool repeats = span_split(item, "/", &range, &step_sp);

	if (repeats) {
		if (f->names)
			return parse_fail(p, item, "weekdays take no repetition:");
		if (step_sp.len == 0 || step_sp.len > 4 || strspn(step_sp.s, "0123456789") < step_sp.len)
			return parse_fail(p, step_sp, "invalid repetition");
		step = 0;
		for (size_t i = 0; i < step_sp.len; i++)
			step = step * 10 + (step_sp.s[i] - '0');
		if (step < 1)
			return parse_fail(p, step_sp, "repetition must be at least 1, not");
	}
	if (span_eq(range, "*")) {
		/* every value, or every STEP from the field's start */
	} else if (span_split(range, "..", &a, &b)) {
		if ((r = parse_value(p, f, a, &from)) < 0 || (r = parse_value(p, f, b, &to)) < 0)
			return r;
		if (to < from)
			return parse_fail(p, range, "range goes backwards:");
	} else {
		if ((r = parse_value(p, f, range, &from)) < 0)
			return r;
		/* `N` alone is one value; `N/STEP` repeats up to the field's end */
		if (!repeats)
			to = from;
	}
	set_add_range(set, from, to, step, offset);
	return 0;
}

/* A comma-separated list of items for field F. */
static int parse_list(const struct parser *p, const struct field *f, struct span sp, struct calendar_set *set,
		      int offset)
{
	struct span rest = sp, item;
	int r;
	memset(set, 0, sizeof(*set));
	if (sp.len == 0) {
		char msg[32];
		snprintf(msg, sizeof(msg), "missing %s", f->name);
		return parse_fail(p, sp, msg);
	}
	for (;;) {
		bool more = span_split(rest, ",", &item, &rest);
		if (!more)
			item = rest;
		if (item.len == 0)
			return parse_fail(p, sp, "empty item in list");
		if ((r = parse_item(p, f, item, set, offset)) < 0)
			return r;
		if (!more)
			return 0;
	}
}

static void set_all(struct calendar_set *set, const struct field *f, int offset)
{
	memset(set, 0, sizeof(*set));
	set_add_range(set, f->min, f->max, 1, offset);
}

static void set_one(struct calendar_set *set, int value)
{
	memset(set, 0, sizeof(*set));
	set_add(set, value);
}

/* `[YEARS-]MONTHS-DAYS` */
static int parse_date(const struct parser *p, struct span sp, struct calendar_event *ev)
{
	struct span parts[3], rest = sp;
	size_t n = 0;
	int r;
	while (n < 3 && span_split(rest, "-", &parts[n], &rest))
		n++;
	if (n == 3 || n == 0)
		return parse_fail(p, sp, "invalid date");
	parts[n++] = rest;
	if (n == 3 && (r = parse_list(p, &field_year, parts[0], &ev->years, CALENDAR_YEAR_MIN)) < 0)
		return r;
	if ((r = parse_list(p, &field_month, parts[n - 2], &ev->months, 0)) < 0)
		return r;
	return parse_list(p, &field_day, parts[n - 1], &ev->days, 0);
}

/* `HOURS:MINUTES[:SECONDS]` */
static int parse_time(const struct parser *p, struct span sp, struct calendar_event *ev)
{
	struct span hours, minutes, seconds;
	int r;
	if (!span_split(sp, ":", &hours, &minutes))
		return parse_fail(p, sp, "invalid time");
	if (span_split(minutes, ":", &minutes, &seconds)) {
		if (span_has(seconds, ':'))
			return parse_fail(p, sp, "invalid time");
		if ((r = parse_list(p, &field_second, seconds, &ev->seconds, 0)) < 0)
			return r;
	}
	if ((r = parse_list(p, &field_hour, hours, &ev->hours, 0)) < 0)
		return r;
	return parse_list(p, &field_minute, minutes, &ev->minutes, 0);
}

struct special {
	const char *name;
	const char *expansion;
};

static const struct special specials[] = {
	{ "minutely", "*-*-* *:*:00" },
	{ "hourly", "*-*-* *:00:00" },
	{ "daily", "*-*-* 00:00:00" },
	{ "weekly", "mon *-*-* 00:00:00" },
	{ "monthly", "*-*-01 00:00:00" },
	{ "yearly", "*-01-01 00:00:00" },
	{ "annually", "*-01-01 00:00:00" },
	{ "quarterly", "*-01,04,07,10-01 00:00:00" },
	{ "semiannually", "*-01,07-01 00:00:00" },
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int parse_tokens(const struct parser *p, struct calendar_event *ev)
{
	struct span tokens[4];
	size_t n = 0, i = 0;
	const char *s = p->expr;
	int r;

	for (;;) {
		while (is_blank(*s))
			s++;
		if (!*s)
			break;
		const char *start = s;
		while (*s && !is_blank(*s))
			s++;
		tokens[n++] = (struct span){ start, (size_t)(s - start) };
		if (n == sizeof(tokens) / sizeof(tokens[0]))
			break; /* the last one is reported as unexpected */
	}
	if (n == 0)
		return parse_fail(p, (struct span){ p->expr, strlen(p->expr) }, "empty expression");

	set_all(&ev->weekdays, &field_weekday, 0);
	set_all(&ev->years, &field_year, CALENDAR_YEAR_MIN);
	set_all(&ev->months, &field_month, 0);
	set_all(&ev->days, &field_day, 0);
	set_one(&ev->hours, 0);
	set_one(&ev->minutes, 0);
	set_one(&ev->seconds, 0);

	if (i < n && isalpha((unsigned char)tokens[i].s[0])) {
		if ((r = parse_list(p, &field_weekday, tokens[i], &ev->weekdays, 0)) < 0)
			return r;
		i++;
	}
	if (i < n && span_has(tokens[i], '-') && !span_has(tokens[i], ':')) {
		if ((r = parse_date(p, tokens[i], ev)) < 0)
			return r;
		i++;
	}
	if (i < n && span_has(tokens[i], ':')) {
		if ((r = parse_time(p, tokens[i], ev)) < 0)
			return r;
		i++;
	} else if (i < n && !isalpha((unsigned char)tokens[i].s[0]) && !span_has(tokens[i], '-')) {
		/* Proxmox: a lone spec is minutes of every hour */
		set_all(&ev->hours, &field_hour, 0);
		if ((r = parse_list(p, &field_minute, tokens[i], &ev->minutes, 0)) < 0)
			return r;
		i++;
	}
	if (i < n)
		return parse_fail(p, tokens[i], isalpha((unsigned char)tokens[i].s[0]) && i > 0
							? "weekdays must come first, unexpected"
							: "unexpected");
	return 0;
}

int calendar_parse(const char *expr, struct calendar_event *ev, char *err, size_t errlen)
{
	struct parser p = { expr, err, errlen };
	struct calendar_event parsed;
	const char *s = expr;
	size_t len;
	int r;

	if (err && errlen)
		err[0] = '\0';
	while (is_blank(*s))
		s++;
	len = strcspn(s, " \t");
	if (s[len + strspn(s + len, " \t")] == '\0') {
		for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
			if (span_eq((struct span){ s, len }, specials[i].name)) {
				struct parser sp = { specials[i].expansion, err, errlen };
				r = parse_tokens(&sp, &parsed);
				if (r == 0)
					*ev = parsed;
				return r;
			}
		}
	}
	r = parse_tokens(&p, &parsed);
	if (r == 0)
		*ev = parsed;
	return r;
}

/* ---- next fire time ---- */

/* A local wall-clock time, fields as people write them (month 1..12). */
struct wall {
	int year, month, day, hour, minute, second;
};

static bool is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* 0 = Sunday; Sakamoto's method on the proleptic Gregorian calendar. */
static int weekday_of(int year, int month, int day)
{
	static const int t[] = { 0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4 };
	if (month < 3)
		year -= 1;
	return (year + year / 4 - year / 100 + year / 400 + t[month - 1] + day) % 7;
}

static void next_year(struct wall *w)
{
	*w = (struct wall){ .year = w->year + 1, .month = 1, .day = 1 };
}

static void next_month(struct wall *w)
{
	if (w->month == 12)
		return next_year(w);
	*w = (struct wall){ .year = w->year, .month = w->month + 1, .day = 1 };
}

static void next_day(struct wall *w)
{
	if (w->day >= days_in_month(w->year, w->month))
		return next_month(w);
	w->day++;
	w->hour = w->minute = w->second = 0;
}

static void next_hour(struct wall *w)
{
	if (w->hour == 23)
		return next_day(w);
	w->hour++;
	w->minute = w->second = 0;
}

static void next_minute(struct wall *w)
{
	if (w->minute == 59)
		return next_hour(w);
	w->minute++;
	w->second = 0;
}

static void next_second(struct wall *w)
{
	if (w->second >= 59)
		return next_minute(w);
	w->second++;
}

/* Move *W forward to the first wall time >= *W that EV matches. */
static int find_match(const struct calendar_event *ev, struct wall *w)
{
	for (;;) {
		if (w->year > CALENDAR_YEAR_MAX)
			return -ERANGE;
		if (!calendar_set_has(&ev->years, w->year - CALENDAR_YEAR_MIN))
			next_year(w);
		else if (!calendar_set_has(&ev->months, w->month))
			next_month(w);
		else if (w->day > days_in_month(w->year, w->month) || !calendar_set_has(&ev->days, w->day) ||
			 !calendar_set_has(&ev->weekdays, weekday_of(w->year, w->month, w->day)))
			next_day(w);
		else if (!calendar_set_has(&ev->hours, w->hour))
			next_hour(w);
		else if (!calendar_set_has(&ev->minutes, w->minute))
			next_minute(w);
		else if (!calendar_set_has(&ev->seconds, w->second))
			next_second(w);
		else
			return 0;
	}
}

static bool wall_equals_tm(const struct wall *w, const struct tm *tm)
{
	return tm->tm_year + 1900 == w->year && tm->tm_mon + 1 == w->month && tm->tm_mday == w->day &&
	       tm->tm_hour == w->hour && tm->tm_min == w->minute && tm->tm_sec == w->second;
}

/* The earliest instant after AFTER whose local time is *W; false if none
 * (the wall time falls into a gap of the time zone). */
static bool wall_to_instant(const struct wall *w, time_t after, time_t *out)
{
	struct tm tm = { .tm_year = w->year - 1900, .tm_mon = w->month - 1, .tm_mday = w->day,
			 .tm_hour = w->hour, .tm_min = w->minute, .tm_sec = w->second };
	time_t as_utc = timegm(&tm);
	static const long probes[] = { -86400, -43200, 0, 43200, 86400 };
	bool found = false;

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		time_t probe = as_utc + probes[i], t;
		struct tm local;
		if (!localtime_r(&probe, &local))
			continue;
		t = as_utc - local.tm_gmtoff;
		if (!localtime_r(&t, &local) || !wall_equals_tm(w, &local) || t <= after)
			continue;
		if (!found || t < *out)
			*out = t;
		found = true;
	}
	return found;
}

int calendar_next(const struct calendar_event *ev, time_t after, time_t *next)
{
	struct tm base;
	struct wall w;
	int r;

	if (!localtime_r(&after, &base))
		return -ERANGE;
	w = (struct wall){ base.tm_year + 1900, base.tm_mon + 1, base.tm_mday,
			   base.tm_hour, base.tm_min, base.tm_sec };
	if (w.year < CALENDAR_YEAR_MIN)
		w = (struct wall){ .year = CALENDAR_YEAR_MIN, .month = 1, .day = 1 };
	else
		next_second(&w);
	for (;;) {
		if ((r = find_match(ev, &w)) < 0)
			return r;
		if (wall_to_instant(&w, after, next))
			return 0;
		next_second(&w);
	}
}
