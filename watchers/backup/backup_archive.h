/* backup_archive.h - vzdump backup archives in a dump directory.
 *
 * Names follow vzdump: `vzdump-<type>-<vmid>-YYYY_MM_DD-HH_MM_SS.<format>[.<compression>]`
 * with type qemu or lxc, format vma or tar, compression zst, gz or lzo; the
 * time in the name is local time.  Siblings of an archive share its name:
 * `<stem>.log` (stem = the name up to the format), `<archive>.notes` and
 * `<archive>.protected`.  Protection: like PVE on directory storages, an
 * archive is protected when a file `<archive>.protected` exists next to it
 * (its content does not matter). */
#ifndef PVECFS_BACKUP_ARCHIVE_H
#define PVECFS_BACKUP_ARCHIVE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "prune.h"

struct backup_archive {
	char name[NAME_MAX + 1];
	char type[8];        /* "qemu" or "lxc" */
	unsigned vmid;
	time_t time;
	size_t stem_len;     /* length of the name before ".vma"/".tar" */
	bool is_protected;
	enum prune_reason reason; /* set by backup_plan_prune() */
};

/* Parse an archive file name.  Returns 0 and fills *OUT (is_protected and
 * reason cleared), or -EINVAL if NAME is not a backup archive (logs, notes,
 * markers, temporary and unrelated files). */
int backup_archive_parse_name(const char *name, struct backup_archive *out);

/* List the archives in DIR (unsorted), with their protection marker.
 * VMID 0 lists all guests, otherwise only that guest.  Returns 0 and a
 * malloc'ed array in *OUT (free()), or a negative errno. */
int backup_archive_list(const char *dir, unsigned vmid, struct backup_archive **out, size_t *n);

/* Apply SPEC to each backup group (same type and vmid) of ARCHIVES: sorts
 * them by vmid, then type, then newest first, and sets each reason.
 * Returns 0 or -ENOMEM. */
int backup_plan_prune(const struct prune_spec *spec, struct backup_archive *archives, size_t n);

/* Remove ARCHIVE from DIR with its .log and .notes siblings (missing
 * siblings are fine).  Refuses (-EPERM) a protected archive.  Returns 0 or
 * the first negative errno. */
int backup_archive_remove(const char *dir, const struct backup_archive *archive);

#endif
