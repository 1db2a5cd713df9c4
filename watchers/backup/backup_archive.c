/* archive.c - find, group, prune and remove vzdump archives in a directory.
 *
 * Only names that parse completely are archives; everything else in the
 * directory (logs, notes, markers, `.tmp` leftovers of a running backup,
 * foreign files) is ignored, so pruning can never remove a file it does not
 * understand.  Whether an archive is protected is read once at listing time
 * and checked again right before removal. */
#include "backup_archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

static const char *const formats[] = { ".vma", ".tar" };
static const char *const compressions[] = { "", ".zst", ".gz", ".lzo" };

/* Read exactly N digits from *S into *V. */
static bool read_digits(const char **s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*s)[i];
		if (c < '0' || c > '9')
			return false;
		*v = *v * 10 + (c - '0');
	}
	*s += n;
	return true;
}

static bool read_char(const char **s, char c)
{
	if (**s != c)
		return false;
	(*s)++;
	return true;
}

/* `YYYY_MM_DD-HH_MM_SS` as local time. */
static bool read_time(const char **s, time_t *out)
{
	int year, month, day, hour, minute, second;
	if (!read_digits(s, 4, &year) || !read_char(s, '_') || !read_digits(s, 2, &month) || !read_char(s, '_') ||
	    !read_digits(s, 2, &day) || !read_char(s, '-') || !read_digits(s, 2, &hour) || !read_char(s, '_') ||
	    !read_digits(s, 2, &minute) || !read_char(s, '_') || !read_digits(s, 2, &second))
		return false;
	if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
		return false;
	struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day, .tm_hour = hour,
			 .tm_min = minute, .tm_sec = second, .tm_isdst = -1 };
	time_t t = mktime(&tm);
	/* mktime normalises 31 February into March: reject such dates */
	if (t == (time_t)-1 || tm.tm_mday != day || tm.tm_mon != month - 1)
		return false;
	*out = t;
	return true;
}

int backup_archive_parse_name(const char *name, struct backup_archive *out)
{
	struct backup_archive a = { 0 };
	const char *s = name;
	size_t type_len;
	char *end;

	if (strlen(name) > NAME_MAX || strncmp(s, "vzdump-", 7) != 0)
		return -EINVAL;
	s += 7;
	type_len = strcspn(s, "-");
	if (!((type_len == 4 && strncmp(s, "qemu", 4) == 0) || (type_len == 3 && strncmp(s, "lxc", 3) == 0)))
		return -EINVAL;
	memcpy(a.type, s, type_len);
	s += type_len + 1;
	if (*s < '1' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long vmid = strtoul(s, &end, 10);
	if (errno || vmid > 999999999UL || *end != '-')
		return -EINVAL;
	a.vmid = (unsigned)vmid;
	s = end + 1;
	if (!read_time(&s, &a.time))
		return -EINVAL;
	a.stem_len = (size_t)(s - name);
	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		size_t flen = strlen(formats[f]);
		if (strncmp(s, formats[f], flen) != 0)
			continue;
		for (size_t c = 0; c < sizeof(compressions) / sizeof(compressions[0]); c++) {
			if (strcmp(s + flen, compressions[c]) == 0) {
				strcpy(a.name, name);
				*out = a;
				return 0;
			}
		}
	}
	return -EINVAL;
}

static bool sibling_exists(int dirfd, const char *name, const char *suffix)
{
	char path[NAME_MAX * 2];
	struct stat st;
	snprintf(path, sizeof(path), "%s%s", name, suffix);
	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

int backup_archive_list(const char *dir, unsigned vmid, struct backup_archive **out, size_t *n)
{
	_cleanup_(closedirp) DIR *d = opendir(dir);
	_cleanup_free_ struct backup_archive *list = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;

	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		struct backup_archive a;
		if (backup_archive_parse_name(de->d_name, &a) < 0 || (vmid && a.vmid != vmid))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		a.is_protected = sibling_exists(dirfd(d), a.name, ".protected");
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct backup_archive *grown = realloc(list, ncap * sizeof(*list));
			if (!grown)
				return -ENOMEM;
			list = grown;
			cap = ncap;
		}
		list[count++] = a;
	}
	if (errno)
		return -errno;
	*out = TAKE_PTR(list);
	*n = count;
	return 0;
}

static int by_group_newest_first(const void *pa, const void *pb)
{
	const struct backup_archive *a = pa, *b = pb;
	if (a->vmid != b->vmid)
		return a->vmid < b->vmid ? -1 : 1;
	int c = strcmp(a->type, b->type);
	if (c)
		return c;
	if (a->time != b->time)
		return a->time > b->time ? -1 : 1;
	return -strcmp(a->name, b->name);
}

/* Prune one group: archives [0, n) of the same guest, newest first. */
static int plan_group(const struct prune_spec *spec, struct backup_archive *group, size_t n)
{
	_cleanup_free_ struct prune_item *items = calloc(n, sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		items[i] = (struct prune_item){ .name = group[i].name, .time = group[i].time,
						.is_protected = group[i].is_protected };
	int r = prune_apply(spec, items, n);
	if (r < 0)
		return r;
	/* prune_apply sorted the items the same way (newest first, then name
	 * descending), so item i belongs to archive i; check it all the same */
	for (size_t i = 0; i < n; i++) {
		if (items[i].name != group[i].name)
			return -EINVAL;
		group[i].reason = items[i].reason;
	}
	return 0;
}

int backup_plan_prune(const struct prune_spec *spec, struct backup_archive *archives, size_t n)
{
	size_t start = 0;
	if (n == 0)
		return 0;
	qsort(archives, n, sizeof(*archives), by_group_newest_first);
	for (size_t i = 1; i <= n; i++) {
		if (i < n && archives[i].vmid == archives[start].vmid && strcmp(archives[i].type, archives[start].type) == 0)
			continue;
		int r = plan_group(spec, archives + start, i - start);
		if (r < 0)
			return r;
		start = i;
	}
	return 0;
}

static int unlink_in(int dirfd, const char *name, const char *suffix, bool must_exist)
{
	char path[NAME_MAX * 2];
	snprintf(path, sizeof(path), "%s%s", name, suffix);
	if (unlinkat(dirfd, path, 0) < 0 && (must_exist || errno != ENOENT))
		return -errno;
	return 0;
}

int backup_archive_remove(const char *dir, const struct backup_archive *archive)
{
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char stem[NAME_MAX + 1];
	int r, first = 0;

	if (dirfd < 0)
		return -errno;
	if (archive->is_protected || sibling_exists(dirfd, archive->name, ".protected"))
		return -EPERM;
	if ((r = unlink_in(dirfd, archive->name, "", true)) < 0)
		return r;
	snprintf(stem, sizeof(stem), "%.*s", (int)archive->stem_len, archive->name);
	if ((r = unlink_in(dirfd, stem, ".log", false)) < 0)
		first = r;
	if ((r = unlink_in(dirfd, archive->name, ".notes", false)) < 0 && !first)
		first = r;
	return first;
}
