/* prune.h - retention of backups, with Proxmox VE's `prune-backups` semantics.
 *
 * A spec is parsed from a property string (`keep-last=3,keep-daily=7`) and
 * applied to one backup group (the archives of one guest): every item gets a
 * reason that says whether it is kept and why.  See FORMATS.md "Retention"
 * and prune.c for the exact rules. */
#ifndef PVECFS_BACKUP_PRUNE_H
#define PVECFS_BACKUP_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The period options, in the order they are applied. */
enum prune_option {
	PRUNE_KEEP_LAST,
	PRUNE_KEEP_HOURLY,
	PRUNE_KEEP_DAILY,
	PRUNE_KEEP_WEEKLY,
	PRUNE_KEEP_MONTHLY,
	PRUNE_KEEP_YEARLY,
	PRUNE_OPTION_COUNT,
};

struct prune_spec {
	unsigned keep[PRUNE_OPTION_COUNT]; /* 0 = option not used */
	bool keep_all;
};

/* What happens to one backup and why.  The names are what the CLI prints. */
enum prune_reason {
	PRUNE_UNDECIDED,      /* internal: not yet marked */
	PRUNE_REASON_KEEP_LAST,
	PRUNE_REASON_KEEP_HOURLY,
	PRUNE_REASON_KEEP_DAILY,
	PRUNE_REASON_KEEP_WEEKLY,
	PRUNE_REASON_KEEP_MONTHLY,
	PRUNE_REASON_KEEP_YEARLY,
	PRUNE_REASON_KEEP_ALL,
	PRUNE_REASON_PROTECTED,
	PRUNE_REASON_REMOVE,
};

/* One backup of a group.  NAME is not owned (it only travels with the item). */
struct prune_item {
	const char *name;
	time_t time;
	bool is_protected;
	enum prune_reason reason; /* output of prune_apply() */
};

/* Option name as written in a spec ("keep-daily"). */
const char *prune_option_name(enum prune_option option);

/* Parse a `prune-backups` property string.  An empty string is a spec with
 * no options, which keeps everything (as in PVE, where keep-all is the
 * default).  Returns 0, or -EINVAL with a message in ERR (may be NULL) for
 * an unknown key, a value that is not a non-negative integer, a key given
 * twice, a missing '=', or keep-all=1 together with another option.
 * A value of 0 means the option is not used.  *SPEC is only written on
 * success. */
int prune_spec_parse(const char *text, struct prune_spec *spec, char *err, size_t errlen);

/* Write SPEC back as a property string (options in canonical order, "keep-all=1"
 * for a spec that keeps everything).  Returns the length snprintf would. */
int prune_spec_format(const struct prune_spec *spec, char *buf, size_t len);

/* True if SPEC keeps every backup (keep-all=1 or no option set). */
bool prune_spec_keeps_all(const struct prune_spec *spec);

/* Sort ITEMS newest first (equal times: by name, descending) and set each
 * item's reason.  Periods (hour, day, ISO week, month, year) are taken in
 * local time.  Returns 0 or -ENOMEM. */
int prune_apply(const struct prune_spec *spec, struct prune_item *items, size_t n);

/* "keep-last", ..., "keep-all", "protected", "remove". */
const char *prune_reason_name(enum prune_reason reason);

/* True for the reasons that keep a backup (protected included). */
bool prune_reason_keeps(enum prune_reason reason);

#endif
