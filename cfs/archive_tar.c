/* archive_tar.c - the tar form of a backup: POSIX ustar headers, with a
 * pax extended header ('x') for paths that do not fit the 100-byte name
 * field.  MANIFEST.json is the first member, then every directory (name
 * ending in '/') and file of the tree in path order, so `tar -tf` lists it
 * and `tar -xf` unpacks a plain copy.  inode numbers, versions and writers
 * live in the manifest only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_internal.h"
#include "cleanup.h"

#define TAR_BLOCK 512
#define TAR_MANIFEST "MANIFEST.json"

/* ---- writing ---- */

static void put_octal(uint8_t *field, size_t width, uint64_t v)
{
	/* width-1 digits and a NUL */
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(width - 1), (unsigned long long)v);
	memcpy(field, tmp, width - 1);
	field[width - 1] = 0;
}

static unsigned header_sum(const uint8_t *h)
{
	unsigned sum = 0;
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum;
}

static void put_header(GByteArray *out, const char *name, char type, uint64_t size, int64_t mtime,
		       unsigned mode)
{
	uint8_t h[TAR_BLOCK] = { 0 };
	snprintf((char *)h, 100, "%s", name);
	put_octal(h + 100, 8, mode);
	put_octal(h + 108, 8, 0);
	put_octal(h + 116, 8, 0);
	put_octal(h + 124, 12, size);
	put_octal(h + 136, 12, mtime > 0 ? (uint64_t)mtime : 0);
	h[156] = (uint8_t)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	char sum[8];
	snprintf(sum, sizeof(sum), "%06o", header_sum(h));
	memcpy(h + 148, sum, 7);
	h[155] = ' ';
	g_byte_array_append(out, h, sizeof(h));
}

static void put_data(GByteArray *out, const void *data, size_t size)
{
	static const uint8_t zeros[TAR_BLOCK];
	if (size)
		g_byte_array_append(out, data, (guint)size);
	if (size % TAR_BLOCK)
		g_byte_array_append(out, zeros, (guint)(TAR_BLOCK - size % TAR_BLOCK));
}

/* "<len> path=<name>\n" where <len> counts the whole record itself. */
static char *pax_record(const char *key, const char *value)
{
	size_t body = strlen(key) + strlen(value) + 3; /* ' ' '=' '\n' */
	size_t len = body + 1;
	while (len != body + (size_t)snprintf(NULL, 0, "%zu", len))
		len = body + (size_t)snprintf(NULL, 0, "%zu", len);
	return g_strdup_printf("%zu %s=%s\n", len, key, value);
}

static void put_member(GByteArray *out, const char *name, char type, const void *data, size_t size,
		       int64_t mtime, unsigned mode)
{
	if (strlen(name) >= 100) {
		g_autofree char *rec = pax_record("path", name);
		put_header(out, "PaxHeader/long-name", 'x', strlen(rec), mtime, 0644);
		put_data(out, rec, strlen(rec));
	}
	put_header(out, name, type, size, mtime, mode);
	put_data(out, data, size);
}

int archive_tar_build(const struct archive *a, GByteArray *out)
{
	put_member(out, TAR_MANIFEST, '0', a->manifest, strlen(a->manifest), a->time, 0644);
	for (size_t i = 1; i < a->n_entries; i++) {
		const struct archive_entry *e = &a->entries[i];
		if (e->attr.type == TREE_DIR) {
			g_autofree char *name = g_strconcat(e->path, "/", NULL);
			put_member(out, name, '5', NULL, 0, e->attr.mtime, 0755);
		} else {
			put_member(out, e->path, '0', e->data, e->size, e->attr.mtime, 0644);
		}
	}
	static const uint8_t end[2 * TAR_BLOCK];
	g_byte_array_append(out, end, sizeof(end));
	return 0;
}

/* ---- reading ---- */

static int parse_octal(const uint8_t *field, size_t width, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < width && field[i] == ' ')
		i++;
	size_t digits = 0;
	for (; i < width && field[i] >= '0' && field[i] <= '7'; i++, digits++)
		v = v * 8 + (uint64_t)(field[i] - '0');
	for (; i < width; i++)
		if (field[i] != 0 && field[i] != ' ')
			return -EINVAL;
	if (!digits)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool block_is_zero(const uint8_t *b)
{
	for (int i = 0; i < TAR_BLOCK; i++)
		if (b[i])
			return false;
	return true;
}

/* pax records: only "path" and "mtime" matter to us. */
static void parse_pax(const uint8_t *data, size_t size, char **path, int64_t *mtime, bool *have_mtime)
{
	size_t pos = 0;
	while (pos < size) {
		char *end;
		unsigned long len = strtoul((const char *)data + pos, &end, 10);
		if (len == 0 || len > size - pos || *end != ' ')
			return;
		const char *kv = end + 1, *stop = (const char *)data + pos + len - 1; /* at '\n' */
		const char *eq = memchr(kv, '=', (size_t)(stop - kv));
		if (eq && eq - kv == 4 && !memcmp(kv, "path", 4)) {
			g_free(*path);
			*path = g_strndup(eq + 1, (size_t)(stop - eq - 1));
		} else if (eq && eq - kv == 5 && !memcmp(kv, "mtime", 5)) {
			*mtime = strtoll(eq + 1, NULL, 10);
			*have_mtime = true;
		}
		pos += len;
	}
}

static char *ustar_name(const uint8_t *h)
{
	g_autofree char *name = g_strndup((const char *)h, 100);
	g_autofree char *prefix = g_strndup((const char *)h + 345, 155);
	return *prefix ? g_strconcat(prefix, "/", name, NULL) : g_strdup(name);
}

/* Strips "./" and a trailing '/'; NULL if the path is unusable. */
static char *clean_path(const char *raw)
{
	while (!strncmp(raw, "./", 2))
		raw += 2;
	char *p = g_strdup(raw);
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		p[--n] = 0;
	bool ok = n > 0 && p[0] != '/';
	if (ok) {
		gchar **parts = g_strsplit(p, "/", -1);
		for (gchar **it = parts; *it; it++)
			if (!**it || !strcmp(*it, ".") || !strcmp(*it, "..") || strlen(*it) > TREE_NAME_MAX)
				ok = false;
		g_strfreev(parts);
	}
	if (!ok) {
		g_free(p);
		return NULL;
	}
	return p;
}

void archive_tar_parse(const uint8_t *data, size_t size, struct archive_parse *p)
{
	size_t pos = 0, members = 0;
	g_autofree char *pax_path = NULL;
	int64_t pax_mtime = 0;
	bool have_pax_mtime = false, ended = false;
	while (pos + TAR_BLOCK <= size) {
		const uint8_t *h = data + pos;
		if (block_is_zero(h)) {
			ended = true;
			break;
		}
		uint64_t sum, len, mtime;
		if (parse_octal(h + 148, 8, &sum) < 0 || sum != header_sum(h) || parse_octal(h + 124, 12, &len) < 0) {
			archive_problem(p, "tar: damaged member header at byte %zu", pos);
			p->stop = true;
			return;
		}
		if (parse_octal(h + 136, 12, &mtime) < 0)
			mtime = 0;
		g_autofree char *name = pax_path ? TAKE_PTR(pax_path) : ustar_name(h);
		pos += TAR_BLOCK;
		size_t padded = (size_t)((len + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK);
		if (len > size - pos || padded > size - pos) {
			archive_problem(p, "%s: truncated (the archive ends inside it)", name);
			p->stop = true;
			return;
		}
		const uint8_t *body = data + pos;
		pos += padded;
		char type = (char)h[156];
		if (type == 'x') {
			parse_pax(body, len, &pax_path, &pax_mtime, &have_pax_mtime);
			continue;
		}
		if (type == 'g')
			continue;
		int64_t when = have_pax_mtime ? pax_mtime : (int64_t)mtime;
		have_pax_mtime = false;
		if (members++ == 0) {
			if (strcmp(name, TAR_MANIFEST) != 0 || type != '0') {
				archive_problem(p, "tar: the first member is %s, not %s (not a pvecfs backup?)", name, TAR_MANIFEST);
				p->stop = true;
				return;
			}
			p->manifest = g_strndup((const char *)body, len);
			continue;
		}
		if (type != '0' && type != 0 && type != '5') {
			archive_problem(p, "%s: unsupported tar member type '%c'", name, type);
			continue;
		}
		char *path = clean_path(name);
		if (!path) {
			archive_problem(p, "tar: a member has an invalid path '%s'", name);
			continue;
		}
		struct archive_item it = {
			.path = path, .type = type == '5' ? TREE_DIR : TREE_FILE, .mtime = when,
			.data = type == '5' ? NULL : g_memdup2(body, len), .size = type == '5' ? 0 : len,
		};
		g_array_append_val(p->items, it);
	}
	if (!ended)
		archive_problem(p, "tar: truncated (no end-of-archive marker after %zu bytes)", size);
}
