/* prune.c - decide which backups of a group to keep (`prune-backups`).
 *
 * The rules, in the words of FORMATS.md "Retention" and as Proxmox VE and
 * Proxmox Backup Server apply them:
 *  1. Backups are sorted newest first.  Protected ones are marked
 *     "protected" up front: they are always kept and count for nothing, so
 *     they neither use up a slot of an option nor cover a period.
 *  2. The options run in the order last, hourly, daily, weekly, monthly,
 *     yearly.  Each one only looks at backups no earlier option has marked.
 *     keep-last is the period option whose period is the backup itself.
 *  3. An option first collects the periods already covered by backups kept
 *     by earlier options; those periods do not count again.  It then walks
 *     the unmarked backups newest first: the first backup of a new period is
 *     kept (reason = the option) and the period counts; a later (older)
 *     backup of a period this option already kept is marked "remove" right
 *     away, so a later option cannot pick it either.  The walk stops when N
 *     periods are kept; backups after that stay unmarked for later options.
 *  4. Whatever is still unmarked at the end is removed.
 * A spec with no options (or keep-all=1) keeps everything ("keep-all").
 *
 * Periods are computed in local time; weeks are ISO weeks (Monday-Sunday,
 * numbered in their ISO year, so 2024-12-30 is in week 1 of 2025). */
#include "prune.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

static const char *const option_names[PRUNE_OPTION_COUNT] = {
	"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly",
};

const char *prune_option_name(enum prune_option option)
{
	return option < PRUNE_OPTION_COUNT ? option_names[option] : "?";
}

const char *prune_reason_name(enum prune_reason reason)
{
	switch (reason) {
	case PRUNE_REASON_KEEP_LAST: return "keep-last";
	case PRUNE_REASON_KEEP_HOURLY: return "keep-hourly";
	case PRUNE_REASON_KEEP_DAILY: return "keep-daily";
	case PRUNE_REASON_KEEP_WEEKLY: return "keep-weekly";
	case PRUNE_REASON_KEEP_MONTHLY: return "keep-monthly";
	case PRUNE_REASON_KEEP_YEARLY: return "keep-yearly";
	case PRUNE_REASON_KEEP_ALL: return "keep-all";
	case PRUNE_REASON_PROTECTED: return "protected";
	case PRUNE_REASON_REMOVE: return "remove";
	case PRUNE_UNDECIDED: break;
	}
	return "undecided";
}

bool prune_reason_keeps(enum prune_reason reason)
{
	return reason != PRUNE_REASON_REMOVE && reason != PRUNE_UNDECIDED;
}

/* ---- parsing ---- */

/* Message: "invalid prune-backups 'TEXT': BEFORE'WHAT'AFTER". */
static int spec_fail(char *err, size_t errlen, const char *text, const char *before, const char *what,
		     size_t what_len, const char *after)
{
	if (err && errlen) {
		if (what)
			snprintf(err, errlen, "invalid prune-backups '%s': %s'%.*s'%s", text, before, (int)what_len,
				 what, after);
		else
			snprintf(err, errlen, "invalid prune-backups '%s': %s%s", text, before, after);
	}
	return -EINVAL;
}

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s))
		(*s)++, (*len)--;
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* Parse a decimal value 0..INT_MAX; false if it is anything else. */
static bool parse_count(const char *s, size_t len, unsigned *out)
{
	unsigned long long v = 0;
	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > INT_MAX)
		return false;
	*out = (unsigned)v;
	return true;
}

static int parse_pair(const char *text, const char *item, size_t len, struct prune_spec *spec, bool seen[],
		      char *err, size_t errlen)
{
	const char *eq = memchr(item, '=', len);
	const char *key = item, *value;
	size_t key_len, value_len;
	unsigned count;
	int option;

	if (!eq)
		return spec_fail(err, errlen, text, "missing '=' in ", item, len, "");
	key_len = (size_t)(eq - item);
	value = eq + 1;
	value_len = len - key_len - 1;
	trim(&key, &key_len);
	trim(&value, &value_len);

	if (key_len == strlen("keep-all") && strncmp(key, "keep-all", key_len) == 0)
		option = PRUNE_OPTION_COUNT; /* keep-all's slot in SEEN */
	else {
		for (option = 0; option < PRUNE_OPTION_COUNT; option++)
			if (strlen(option_names[option]) == key_len && strncmp(key, option_names[option], key_len) == 0)
				break;
		if (option == PRUNE_OPTION_COUNT)
			return spec_fail(err, errlen, text, "unknown option ", key, key_len, "");
	}
	if (seen[option])
		return spec_fail(err, errlen, text, "option ", key, key_len, " given twice");
	seen[option] = true;
	if (value_len && value[0] == '-')
		return spec_fail(err, errlen, text, "negative value ", value, value_len, "");
	if (!parse_count(value, value_len, &count))
		return spec_fail(err, errlen, text, "value ", value, value_len, " is not a number");
	if (option == PRUNE_OPTION_COUNT) {
		if (count > 1)
			return spec_fail(err, errlen, text, "keep-all must be 0 or 1, not ", value, value_len, "");
		spec->keep_all = count == 1;
	} else
		spec->keep[option] = count;
	return 0;
}

int prune_spec_parse(const char *text, struct prune_spec *spec, char *err, size_t errlen)
{
	struct prune_spec parsed = { 0 };
	bool seen[PRUNE_OPTION_COUNT + 1] = { false };
	const char *s = text;
	int r;

	if (err && errlen)
		err[0] = '\0';
	size_t total = strlen(text);
	trim(&s, &total);
	while (total > 0) {
		const char *comma = memchr(s, ',', total);
		size_t len = comma ? (size_t)(comma - s) : total;
		const char *item = s;
		size_t item_len = len;
		trim(&item, &item_len);
		if (item_len == 0)
			return spec_fail(err, errlen, text, "empty item in list", NULL, 0, "");
		if ((r = parse_pair(text, item, item_len, &parsed, seen, err, errlen)) < 0)
			return r;
		if (!comma)
			break;
		s = comma + 1;
		total -= len + 1;
		if (total == 0)
			return spec_fail(err, errlen, text, "empty item in list", NULL, 0, "");
	}
	if (parsed.keep_all) {
		for (int i = 0; i < PRUNE_OPTION_COUNT; i++)
			if (parsed.keep[i])
				return spec_fail(err, errlen, text, "keep-all=1 cannot be combined with ",
						 NULL, 0, option_names[i]);
	}
	*spec = parsed;
	return 0;
}

bool prune_spec_keeps_all(const struct prune_spec *spec)
{
	if (spec->keep_all)
		return true;
	for (int i = 0; i < PRUNE_OPTION_COUNT; i++)
		if (spec->keep[i])
			return false;
	return true;
}

int prune_spec_format(const struct prune_spec *spec, char *buf, size_t len)
{
	size_t used = 0;
	int total = 0;
	if (prune_spec_keeps_all(spec))
		return snprintf(buf, len, "keep-all=1");
	if (len)
		buf[0] = '\0';
	for (int i = 0; i < PRUNE_OPTION_COUNT; i++) {
		if (!spec->keep[i])
			continue;
		int n = snprintf(buf + used, used < len ? len - used : 0, "%s%s=%u", total ? "," : "",
				 option_names[i], spec->keep[i]);
		if (n < 0)
			return n;
		total += n;
		used = (size_t)total < len ? (size_t)total : len;
	}
	return total;
}

/* ---- applying ---- */

/* The period of T for OPTION as one number; keep-last's period is the item. */
static int64_t period_of(enum prune_option option, time_t t, size_t index)
{
	struct tm tm;
	char week[16];
	if (option == PRUNE_KEEP_LAST || !localtime_r(&t, &tm))
		return -(int64_t)index - 1; /* unique per item */
	int64_t year = tm.tm_year + 1900, month = tm.tm_mon + 1;
	switch (option) {
	case PRUNE_KEEP_HOURLY: return ((year * 100 + month) * 100 + tm.tm_mday) * 100 + tm.tm_hour;
	case PRUNE_KEEP_DAILY: return (year * 100 + month) * 100 + tm.tm_mday;
	case PRUNE_KEEP_WEEKLY:
		/* "%G%V": ISO year and week, e.g. 202501 */
		if (strftime(week, sizeof(week), "%G%V", &tm) == 0)
			return -(int64_t)index - 1;
		return strtoll(week, NULL, 10);
	case PRUNE_KEEP_MONTHLY: return year * 100 + month;
	case PRUNE_KEEP_YEARLY: return year;
	default: return -(int64_t)index - 1;
	}
}

static bool contains(const int64_t *ids, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* One option's pass over the items (rule 3 above).  COVERED and KEPT are
 * scratch arrays of at least N entries. */
static void mark_option(enum prune_option option, unsigned count, struct prune_item *items, size_t n,
			int64_t *covered, int64_t *kept)
{
	size_t n_covered = 0, n_kept = 0;
	enum prune_reason keep_reason = PRUNE_REASON_KEEP_LAST + option;

	for (size_t i = 0; i < n; i++) {
		enum prune_reason r = items[i].reason;
		if (r >= PRUNE_REASON_KEEP_LAST && r <= PRUNE_REASON_KEEP_YEARLY)
			covered[n_covered++] = period_of(option, items[i].time, i);
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].reason != PRUNE_UNDECIDED)
			continue;
		int64_t id = period_of(option, items[i].time, i);
		if (contains(covered, n_covered, id))
			continue;
		if (contains(kept, n_kept, id)) {
			items[i].reason = PRUNE_REASON_REMOVE;
			continue;
		}
		if (n_kept >= count)
			break;
		kept[n_kept++] = id;
		items[i].reason = keep_reason;
	}
}

static int newest_first(const void *a, const void *b)
{
	const struct prune_item *x = a, *y = b;
	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return -strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

int prune_apply(const struct prune_spec *spec, struct prune_item *items, size_t n)
{
	bool keep_all = prune_spec_keeps_all(spec);

	if (n == 0)
		return 0;
	qsort(items, n, sizeof(*items), newest_first);
	for (size_t i = 0; i < n; i++)
		items[i].reason = items[i].is_protected ? PRUNE_REASON_PROTECTED
				  : keep_all		? PRUNE_REASON_KEEP_ALL
							: PRUNE_UNDECIDED;
	if (!keep_all) {
		_cleanup_free_ int64_t *covered = calloc(n, sizeof(*covered));
		_cleanup_free_ int64_t *kept = calloc(n, sizeof(*kept));
		if (!covered || !kept)
			return -ENOMEM;
		for (int option = 0; option < PRUNE_OPTION_COUNT; option++)
			if (spec->keep[option])
				mark_option(option, spec->keep[option], items, n, covered, kept);
	}
	for (size_t i = 0; i < n; i++)
		if (items[i].reason == PRUNE_UNDECIDED)
			items[i].reason = PRUNE_REASON_REMOVE;
	return 0;
}
