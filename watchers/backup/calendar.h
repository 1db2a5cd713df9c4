/* calendar.h - schedules as calendar events, the way Proxmox VE writes them.
 *
 * A schedule is `[WEEKDAYS] [[YEARS-]MONTHS-DAYS] [HOURS:MINUTES[:SECONDS]]`
 * after systemd.time(7), with the Proxmox reading of a lone number: it is
 * minutes (a star with step 15 = every 15 minutes, `30/10` = at 30, 40 and 50 past each
 * hour).  Specials: minutely, hourly, daily, weekly (Monday 00:00), monthly,
 * yearly/annually, quarterly, semiannually.  See FORMATS.md "Schedules".
 *
 * A parsed event is a plain value: one bit set per allowed value of each
 * field.  calendar_next() finds the next fire time in local time; the way
 * daylight-saving changes are handled is described in calendar.c. */
#ifndef PVECFS_BACKUP_CALENDAR_H
#define PVECFS_BACKUP_CALENDAR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Years a schedule can name or fire in. */
#define CALENDAR_YEAR_MIN 1970
#define CALENDAR_YEAR_MAX 2199

/* A set of small integers 0..255 (field values, years as year - 1970). */
struct calendar_set {
	uint64_t bits[4];
};

struct calendar_event {
	struct calendar_set weekdays; /* 0 = Sunday .. 6 = Saturday (tm_wday) */
	struct calendar_set years;    /* year - CALENDAR_YEAR_MIN */
	struct calendar_set months;   /* 1..12 */
	struct calendar_set days;     /* 1..31 */
	struct calendar_set hours;    /* 0..23 */
	struct calendar_set minutes;  /* 0..59 */
	struct calendar_set seconds;  /* 0..59 */
};

/* Parse EXPR into *EV.  Returns 0, or -EINVAL with a message in ERR such as
 * "invalid schedule 'mon..xyz 02:00': unknown weekday 'xyz' (column 6)".
 * ERR may be NULL.  *EV is only written on success. */
int calendar_parse(const char *expr, struct calendar_event *ev, char *err, size_t errlen);

/* The first time strictly after AFTER at which EV fires, in local time (TZ).
 * Returns 0 and sets *NEXT, or -ERANGE if EV never fires again before the
 * end of CALENDAR_YEAR_MAX (e.g. `*-02-30`, or a year in the past). */
int calendar_next(const struct calendar_event *ev, time_t after, time_t *next);

/* True if VALUE is in SET (out-of-range values are never in it). */
int calendar_set_has(const struct calendar_set *set, int value);

#endif
