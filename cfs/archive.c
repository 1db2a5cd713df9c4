/* archive.c - see archive.h.  Parsing collects items and problems without
 * trusting anything; verification then checks the items against the
 * manifest and the rebuilt tree against the manifest's tree checksum. */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "archive_internal.h"
#include "cleanup.h"

#define ARCHIVE_MAX_BYTES ((size_t)4 << 30) /* refuse to inflate beyond this */

void archive_problem(struct archive_parse *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_string_append_vprintf(p->problems, fmt, ap);
	va_end(ap);
	g_string_append_c(p->problems, '\n');
}

/* ---- zstd ---- */

int archive_zstd_decompress(const uint8_t *data, size_t size, size_t limit, GByteArray *out, const char **why)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	if (!ds)
		return -ENOMEM;
	ZSTD_initDStream(ds);
	ZSTD_inBuffer in = { data, size, 0 };
	uint8_t buf[65536];
	size_t last = 1;
	int r = 0;
	for (;;) {
		ZSTD_outBuffer o = { buf, sizeof(buf), 0 };
		last = ZSTD_decompressStream(ds, &o, &in);
		if (ZSTD_isError(last)) {
			*why = ZSTD_getErrorName(last);
			r = -EBADMSG;
			break;
		}
		g_byte_array_append(out, buf, (guint)o.pos);
		if (out->len > limit) {
			*why = "too large";
			r = -EFBIG;
			break;
		}
		/* Done when all input is consumed and the decoder had room left. */
		if (in.pos == in.size && o.pos < o.size)
			break;
	}
	if (r == 0 && last != 0) {
		*why = "the compressed data ends too early";
		r = -EBADMSG;
	}
	ZSTD_freeDStream(ds);
	return r;
}

int archive_zstd_compress(const uint8_t *data, size_t size, GByteArray *out)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	if (!cc)
		return -ENOMEM;
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	size_t bound = ZSTD_compressBound(size);
	guint at = out->len;
	g_byte_array_set_size(out, (guint)(at + bound));
	size_t n = ZSTD_compress2(cc, out->data + at, bound, data, size);
	ZSTD_freeCCtx(cc);
	if (ZSTD_isError(n)) {
		g_byte_array_set_size(out, at);
		return -EIO;
	}
	g_byte_array_set_size(out, (guint)(at + n));
	return 0;
}

/* ---- container parsing ---- */

static bool path_valid(const char *path, size_t len)
{
	if (len == 0)
		return true; /* the root */
	if (memchr(path, 0, len) || path[0] == '/' || path[len - 1] == '/')
		return false;
	const char *p = path, *end = path + len;
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
		if (n == 0 || n > TREE_NAME_MAX || (n == 1 && p[0] == '.') || (n == 2 && !memcmp(p, "..", 2)))
			return false;
		p += n + 1;
	}
	return true;
}

static void add_item(struct archive_parse *p, const char *path, size_t path_len, const uint8_t *payload,
		     size_t size, bool compressed)
{
	struct archive_item it = { .path = g_strndup(path, path_len) };
	g_autoptr(GByteArray) raw = g_byte_array_new();
	const char *why = NULL;
	if (compressed && archive_zstd_decompress(payload, size, ARCHIVE_MAX_BYTES, raw, &why) < 0) {
		archive_problem(p, "%s: content damaged (zstd: %s)", *it.path ? it.path : "/", why);
		it.damaged = true;
	} else if (!compressed) {
		g_byte_array_append(raw, payload, (guint)size);
	}
	if (!it.damaged && raw->len < ARCHIVE_ENTRY_HEADER_SIZE) {
		archive_problem(p, "%s: entry record too short", *it.path ? it.path : "/");
		it.damaged = true;
	}
	if (!it.damaged) {
		archive_decode_entry_header(raw->data, &it.h);
		it.have_header = true;
		it.type = it.h.type;
		it.size = raw->len - ARCHIVE_ENTRY_HEADER_SIZE;
		it.data = g_memdup2(raw->data + ARCHIVE_ENTRY_HEADER_SIZE, it.size);
	}
	g_array_append_val(p->items, it);
}

static void parse_record(struct archive_parse *p, uint32_t type, const char *name, size_t name_len,
			 const uint8_t *payload, size_t stored, size_t raw_len, bool compressed,
			 uint64_t *end_count, bool *have_end)
{
	if (type == ARCHIVE_RECORD_MANIFEST) {
		g_autoptr(GByteArray) raw = g_byte_array_new();
		const char *why = NULL;
		if (p->manifest || p->items->len)
			archive_problem(p, "archive: the manifest is not the first record");
		else if (compressed && archive_zstd_decompress(payload, stored, ARCHIVE_MAX_BYTES, raw, &why) < 0)
			archive_problem(p, "archive: the manifest is damaged (zstd: %s)", why);
		else {
			if (!compressed)
				g_byte_array_append(raw, payload, (guint)stored);
			p->manifest = g_strndup((const char *)raw->data, raw->len);
		}
	} else if (type == ARCHIVE_RECORD_ENTRY) {
		if (!path_valid(name, name_len)) {
			archive_problem(p, "archive: an entry has an invalid path '%.*s'", (int)name_len, name);
			return;
		}
		add_item(p, name, name_len, payload, stored, compressed);
		struct archive_item *it = &g_array_index(p->items, struct archive_item, p->items->len - 1);
		if (!it->damaged && it->size + ARCHIVE_ENTRY_HEADER_SIZE != raw_len)
			archive_problem(p, "%s: record length mismatch", *it->path ? it->path : "/");
	} else if (type == ARCHIVE_RECORD_END) {
		/* Never compressed: 8 bytes, the number of ENTRY records. */
		if (stored == 8 && raw_len == 8) {
			*end_count = archive_get_le(payload, 8);
			*have_end = true;
		} else {
			archive_problem(p, "archive: the end record is damaged");
		}
	} else {
		archive_problem(p, "archive: unknown record type %u (damaged?)", type);
		p->stop = true;
	}
}

static void parse_container(const uint8_t *data, size_t size, struct archive_parse *p, bool *compressed)
{
	uint32_t version = (uint32_t)archive_get_le(data + 8, 4);
	uint32_t flags = (uint32_t)archive_get_le(data + 12, 4);
	if (version != ARCHIVE_VERSION || (flags & ~ARCHIVE_FLAG_ZSTD)) {
		archive_problem(p, "archive: unsupported container version %u (flags %#x); this pvecfsctl reads version %d",
				version, flags, ARCHIVE_VERSION);
		p->stop = true;
		return;
	}
	*compressed = flags & ARCHIVE_FLAG_ZSTD;
	size_t end = size;
	bool have_trailer = size >= ARCHIVE_HEADER_SIZE + ARCHIVE_TRAILER_SIZE &&
			    !memcmp(data + size - ARCHIVE_TRAILER_SIZE, ARCHIVE_TAIL_MAGIC, 8) &&
			    archive_get_le(data + size - ARCHIVE_TRAILER_SIZE + 8, 8) == size - ARCHIVE_TRAILER_SIZE;
	if (have_trailer) {
		end = size - ARCHIVE_TRAILER_SIZE;
		uint8_t digest[32];
		gsize len = sizeof(digest);
		GChecksum *sha = g_checksum_new(G_CHECKSUM_SHA256);
		g_checksum_update(sha, data, end);
		g_checksum_get_digest(sha, digest, &len);
		g_checksum_free(sha);
		if (memcmp(digest, data + end + 16, 32) != 0)
			archive_problem(p, "archive: whole-archive checksum mismatch (the archive is damaged)");
	} else {
		archive_problem(p, "archive: truncated or damaged at the end (no valid trailer after %zu bytes)", size);
	}

	uint64_t end_count = 0;
	bool have_end = false;
	size_t pos = ARCHIVE_HEADER_SIZE, n_records = 0;
	while (pos < end && !p->stop) {
		if (have_end) {
			archive_problem(p, "archive: data after the end record");
			break;
		}
		if (end - pos < ARCHIVE_RECORD_HEADER_SIZE) {
			archive_problem(p, "archive: truncated inside a record header at byte %zu", pos);
			return;
		}
		const uint8_t *rh = data + pos;
		uint32_t type = (uint32_t)archive_get_le(rh, 4);
		uint64_t name_len = archive_get_le(rh + 4, 4), stored = archive_get_le(rh + 8, 8);
		uint64_t raw_len = archive_get_le(rh + 16, 8);
		size_t avail = end - pos - ARCHIVE_RECORD_HEADER_SIZE;
		if (name_len > avail || stored > avail - name_len) {
			const char *name = (const char *)rh + ARCHIVE_RECORD_HEADER_SIZE;
			if (name_len <= avail && name_len < 4096 && type == ARCHIVE_RECORD_ENTRY)
				archive_problem(p, "%.*s: truncated (the archive ends inside its record)", (int)name_len, name);
			else
				archive_problem(p, "archive: truncated or damaged in record %zu at byte %zu", n_records, pos);
			return;
		}
		const char *name = (const char *)rh + ARCHIVE_RECORD_HEADER_SIZE;
		parse_record(p, type, name, name_len, (const uint8_t *)name + name_len, stored, raw_len, *compressed,
			     &end_count, &have_end);
		pos += ARCHIVE_RECORD_HEADER_SIZE + name_len + stored;
		n_records++;
	}
	if (p->stop)
		return;
	if (!have_end)
		archive_problem(p, "archive: truncated (no end record)");
	else if (end_count != p->items->len)
		archive_problem(p, "archive: %llu entries expected, %u found", (unsigned long long)end_count,
				p->items->len);
}

/* ---- manifest ---- */

static int json_get(json_object *o, const char *key, json_type type, json_object **out)
{
	return json_object_object_get_ex(o, key, out) && json_object_is_type(*out, type) ? 0 : -EINVAL;
}

static int manifest_entry(json_object *f, struct archive_entry *e)
{
	json_object *v;
	if (json_get(f, "path", json_type_string, &v) < 0)
		return -EINVAL;
	e->path = g_strdup(json_object_get_string(v));
	if (!path_valid(e->path, strlen(e->path)) || !*e->path)
		return -EINVAL;
	if (json_get(f, "type", json_type_string, &v) < 0)
		return -EINVAL;
	const char *type = json_object_get_string(v);
	e->attr.type = !strcmp(type, "dir") ? TREE_DIR : !strcmp(type, "file") ? TREE_FILE : 0;
	if (!e->attr.type)
		return -EINVAL;
	static const char *const keys[] = { "inode", "parent", "version", "mtime", "writer" };
	int64_t vals[5];
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (json_get(f, keys[i], json_type_int, &v) < 0)
			return -EINVAL;
		vals[i] = json_object_get_int64(v);
	}
	e->attr.inode = (uint64_t)vals[0];
	e->attr.parent = (uint64_t)vals[1];
	e->attr.version = (uint64_t)vals[2];
	e->attr.mtime = vals[3];
	e->attr.writer = (uint32_t)vals[4];
	if (e->attr.type == TREE_FILE) {
		if (json_get(f, "size", json_type_int, &v) < 0)
			return -EINVAL;
		e->attr.size = (uint64_t)json_object_get_int64(v);
		if (json_get(f, "sha256", json_type_string, &v) < 0 || strlen(json_object_get_string(v)) != 64)
			return -EINVAL;
		snprintf(e->sha256, sizeof(e->sha256), "%s", json_object_get_string(v));
	}
	return 0;
}

static int compare_entries(const void *a, const void *b)
{
	return strcmp(((const struct archive_entry *)a)->path, ((const struct archive_entry *)b)->path);
}

static int parse_manifest(struct archive_parse *p, struct archive *a)
{
	enum json_tokener_error jerr;
	json_object *m = json_tokener_parse_verbose(p->manifest, &jerr);
	json_object *v, *root, *files;
	int r = -EINVAL;
	if (!m) {
		archive_problem(p, "manifest: not valid JSON (%s)", json_tokener_error_desc(jerr));
		return -EINVAL;
	}
	if (json_get(m, "format", json_type_string, &v) < 0 || strcmp(json_object_get_string(v), "pvecfs-backup")) {
		archive_problem(p, "manifest: not a pvecfs-backup manifest");
		goto out;
	}
	if (json_get(m, "format_version", json_type_int, &v) < 0 || json_object_get_int(v) != ARCHIVE_VERSION) {
		archive_problem(p, "manifest: unsupported format_version");
		goto out;
	}
	if (json_get(m, "cluster", json_type_string, &v) < 0 || !(a->cluster = g_strdup(json_object_get_string(v))) ||
	    json_get(m, "node", json_type_string, &v) < 0 || !(a->node = g_strdup(json_object_get_string(v))) ||
	    json_get(m, "version", json_type_int, &v) < 0 || !(a->version = (uint64_t)json_object_get_int64(v)) ||
	    json_get(m, "time", json_type_int, &v) < 0 || ((a->time = json_object_get_int64(v)), false) ||
	    json_get(m, "tree_checksum", json_type_string, &v) < 0 || strlen(json_object_get_string(v)) != 64 ||
	    json_get(m, "root", json_type_object, &root) < 0 || json_get(m, "files", json_type_array, &files) < 0) {
		archive_problem(p, "manifest: a required field is missing or has the wrong type");
		goto out;
	}
	snprintf(a->tree_checksum, sizeof(a->tree_checksum), "%s", json_object_get_string(v));
	size_t n = json_object_array_length(files);
	a->entries = g_new0(struct archive_entry, n + 1);
	a->n_entries = n + 1;
	struct archive_entry *re = &a->entries[0];
	re->path = g_strdup("");
	re->attr = (struct tree_attr){ .inode = TREE_ROOT_INODE, .type = TREE_DIR };
	if (json_get(root, "version", json_type_int, &v) == 0)
		re->attr.version = (uint64_t)json_object_get_int64(v);
	if (json_get(root, "mtime", json_type_int, &v) == 0)
		re->attr.mtime = json_object_get_int64(v);
	if (json_get(root, "writer", json_type_int, &v) == 0)
		re->attr.writer = (uint32_t)json_object_get_int64(v);
	for (size_t i = 0; i < n; i++) {
		if (manifest_entry(json_object_array_get_idx(files, i), &a->entries[i + 1]) < 0) {
			archive_problem(p, "manifest: file entry %zu is invalid", i);
			goto out;
		}
	}
	qsort(a->entries, a->n_entries, sizeof(*a->entries), compare_entries);
	for (size_t i = 1; i < a->n_entries; i++)
		if (!strcmp(a->entries[i - 1].path, a->entries[i].path)) {
			archive_problem(p, "manifest: %s is listed twice", a->entries[i].path);
			goto out;
		}
	r = 0;
out:
	json_object_put(m);
	return r;
}

const struct archive_entry *archive_find(const struct archive *a, const char *path)
{
	struct archive_entry key = { .path = (char *)path };
	return bsearch(&key, a->entries, a->n_entries, sizeof(key), compare_entries);
}

/* ---- verification ---- */

static bool attrs_match(const struct archive_item *it, const struct archive_entry *e)
{
	if (!it->have_header)
		return it->mtime == e->attr.mtime;
	return it->h.inode == e->attr.inode && it->h.parent == e->attr.parent && it->h.version == e->attr.version &&
	       it->h.mtime == e->attr.mtime && it->h.writer == e->attr.writer;
}

static void check_item(struct archive_parse *p, struct archive *a, struct archive_item *it)
{
	const char *shown = *it->path ? it->path : "/";
	struct archive_entry *e = (struct archive_entry *)archive_find(a, it->path);
	if (!e) {
		archive_problem(p, "%s: not in the manifest", shown);
		return;
	}
	if (e->seen) {
		archive_problem(p, "%s: appears twice in the archive", shown);
		return;
	}
	e->seen = true;
	if (it->damaged)
		return;
	if (it->type != e->attr.type) {
		archive_problem(p, "%s: type differs from the manifest", shown);
		return;
	}
	if (!attrs_match(it, e))
		archive_problem(p, "%s: attributes (inode, version, mtime, writer) differ from the manifest", shown);
	if (e->attr.type != TREE_FILE)
		return;
	g_autofree char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, it->data ? it->data : (const uint8_t *)"", it->size);
	if (it->size != e->attr.size || strcmp(hex, e->sha256) != 0) {
		archive_problem(p, "%s: content checksum mismatch", shown);
		return;
	}
	e->data = TAKE_PTR(it->data);
	e->size = it->size;
}

static void check_items(struct archive_parse *p, struct archive *a)
{
	for (guint i = 0; i < p->items->len; i++)
		check_item(p, a, &g_array_index(p->items, struct archive_item, i));
	for (size_t i = 0; i < a->n_entries; i++)
		if (!a->entries[i].seen && (a->kind == ARCHIVE_CONTAINER || i > 0))
			archive_problem(p, "%s: missing from the archive", *a->entries[i].path ? a->entries[i].path : "/");
}

int archive_build_tree(const struct archive *a, struct tree **out)
{
	/* The archive may come from a daemon with larger limits: the rebuilt
	 * tree must hold whatever the snapshot held. */
	struct tree_limits limits = { SIZE_MAX / 2, SIZE_MAX / 2, SIZE_MAX / 2 };
	struct tree *t;
	int r = tree_new(&limits, &t);
	if (r < 0)
		return r;
	for (size_t i = 0; i < a->n_entries && r >= 0; i++) {
		const struct archive_entry *e = &a->entries[i];
		const char *slash = strrchr(e->path, '/');
		struct tree_attr attr = e->attr;
		attr.size = e->size;
		r = tree_load_node(t, &attr, slash ? slash + 1 : e->path, e->data, e->size);
	}
	if (r >= 0)
		r = tree_load_finish(t, a->version);
	if (r < 0) {
		tree_free(t);
		return r == -ENOMEM ? r : -EUCLEAN;
	}
	*out = t;
	return 0;
}

static void check_tree(struct archive_parse *p, struct archive *a)
{
	struct tree *t;
	if (archive_build_tree(a, &t) < 0) {
		archive_problem(p, "archive: the entries do not form a valid tree");
		return;
	}
	char sum[65];
	tree_checksum(t, sum);
	tree_free(t);
	if (strcmp(sum, a->tree_checksum) != 0)
		archive_problem(p, "archive: tree checksum mismatch (rebuilt %s, manifest %s)", sum, a->tree_checksum);
}

void archive_free(struct archive *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_entries; i++) {
		g_free(a->entries[i].path);
		g_free(a->entries[i].data);
	}
	g_free(a->entries);
	g_free(a->manifest);
	g_free(a->cluster);
	g_free(a->node);
	g_free(a);
}

static void parse_free(struct archive_parse *p)
{
	for (guint i = 0; i < p->items->len; i++) {
		struct archive_item *it = &g_array_index(p->items, struct archive_item, i);
		g_free(it->path);
		g_free(it->data);
	}
	g_array_free(p->items, TRUE);
	g_free(p->manifest);
}

static bool is_tar(const uint8_t *data, size_t size)
{
	return size >= 512 && !memcmp(data + 257, "ustar", 5);
}

static bool is_zstd(const uint8_t *data, size_t size)
{
	return size >= 4 && !memcmp(data, "\x28\xb5\x2f\xfd", 4);
}

/* Splits by format; -EINVAL if it is none of ours. */
static int parse_any(const uint8_t *data, size_t size, struct archive_parse *p, struct archive *a)
{
	if (size >= ARCHIVE_HEADER_SIZE && !memcmp(data, ARCHIVE_MAGIC, 8)) {
		a->kind = ARCHIVE_CONTAINER;
		parse_container(data, size, p, &a->compressed);
		return 0;
	}
	if (is_zstd(data, size)) {
		g_autoptr(GByteArray) tar = g_byte_array_new();
		const char *why = NULL;
		a->compressed = true;
		a->kind = ARCHIVE_TAR;
		if (archive_zstd_decompress(data, size, ARCHIVE_MAX_BYTES, tar, &why) < 0) {
			archive_problem(p, "archive: the zstd stream is damaged or truncated (%s)", why);
			if (!is_tar(tar->data, tar->len))
				return 0;
		}
		if (!is_tar(tar->data, tar->len)) {
			archive_problem(p, "not a pvecfs backup: a zstd file that does not hold a tar archive");
			return -EINVAL;
		}
		archive_tar_parse(tar->data, tar->len, p);
		return 0;
	}
	if (is_tar(data, size)) {
		a->kind = ARCHIVE_TAR;
		archive_tar_parse(data, size, p);
		return 0;
	}
	archive_problem(p, "not a pvecfs backup archive (neither a pvecfs container nor a tar with MANIFEST.json)");
	return -EINVAL;
}

int archive_read_buffer(const uint8_t *data, size_t size, struct archive **out, char **problems)
{
	struct archive_parse p = { .problems = g_string_new(NULL), .items = g_array_new(FALSE, TRUE, sizeof(struct archive_item)) };
	struct archive *a = g_new0(struct archive, 1);
	int r = parse_any(data, size, &p, a);
	if (r == 0 && !p.stop && !p.manifest)
		archive_problem(&p, "archive: no manifest");
	if (r == 0 && !p.stop && p.manifest && parse_manifest(&p, a) == 0) {
		check_items(&p, a);
		if (p.problems->len == 0)
			check_tree(&p, a);
	}
	if (r == 0 && p.problems->len)
		r = -EBADMSG;
	a->manifest = TAKE_PTR(p.manifest);
	parse_free(&p);
	if (r < 0) {
		*problems = g_string_free(p.problems, FALSE);
		archive_free(a);
		return r;
	}
	g_string_free(p.problems, TRUE);
	*problems = NULL;
	*out = a;
	return 0;
}

int archive_read_file(const char *path, struct archive **out, char **problems)
{
	gchar *data = NULL;
	gsize size = 0;
	GError *err = NULL;
	*problems = NULL;
	if (!g_file_get_contents(path, &data, &size, &err)) {
		int r = err->domain == G_FILE_ERROR && err->code == G_FILE_ERROR_NOENT ? -ENOENT : -EIO;
		*problems = g_strdup_printf("cannot read %s: %s\n", path, err->message);
		g_error_free(err);
		return r;
	}
	int r = archive_read_buffer((const uint8_t *)data, size, out, problems);
	g_free(data);
	return r;
}

/* ---- writing ---- */

static int write_all(int fd, const void *data, size_t size)
{
	const char *p = data;
	while (size > 0) {
		ssize_t n = write(fd, p, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		size -= (size_t)n;
	}
	return 0;
}

static int put_record(GByteArray *out, uint32_t type, const char *name, const uint8_t *raw, size_t raw_len,
		      bool zstd)
{
	g_autoptr(GByteArray) stored = g_byte_array_new();
	if (zstd) {
		int r = archive_zstd_compress(raw, raw_len, stored);
		if (r < 0)
			return r;
	} else {
		g_byte_array_append(stored, raw, (guint)raw_len);
	}
	size_t name_len = name ? strlen(name) : 0;
	uint8_t rh[ARCHIVE_RECORD_HEADER_SIZE];
	archive_encode_record_header(rh, type, (uint32_t)name_len, stored->len, raw_len);
	g_byte_array_append(out, rh, sizeof(rh));
	g_byte_array_append(out, (const guint8 *)name, (guint)name_len);
	g_byte_array_append(out, stored->data, stored->len);
	return 0;
}

int archive_write_container(const struct archive *a, int fd, bool zstd)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	uint8_t header[ARCHIVE_HEADER_SIZE];
	archive_encode_header(header, zstd ? ARCHIVE_FLAG_ZSTD : 0);
	g_byte_array_append(out, header, sizeof(header));
	int r = put_record(out, ARCHIVE_RECORD_MANIFEST, NULL, (const uint8_t *)a->manifest, strlen(a->manifest), zstd);
	for (size_t i = 0; r == 0 && i < a->n_entries; i++) {
		const struct archive_entry *e = &a->entries[i];
		g_autoptr(GByteArray) raw = g_byte_array_sized_new((guint)(ARCHIVE_ENTRY_HEADER_SIZE + e->size));
		struct archive_entry_header h = {
			.inode = e->attr.inode, .parent = e->attr.parent, .version = e->attr.version,
			.mtime = e->attr.mtime, .writer = e->attr.writer, .type = (uint32_t)e->attr.type,
		};
		uint8_t eh[ARCHIVE_ENTRY_HEADER_SIZE];
		archive_encode_entry_header(eh, &h);
		g_byte_array_append(raw, eh, sizeof(eh));
		if (e->size)
			g_byte_array_append(raw, e->data, (guint)e->size);
		r = put_record(out, ARCHIVE_RECORD_ENTRY, e->path, raw->data, raw->len, zstd);
	}
	/* The end record is never compressed: it is tiny. */
	uint8_t count[8];
	archive_put_le(count, a->n_entries, 8);
	if (r == 0)
		r = put_record(out, ARCHIVE_RECORD_END, NULL, count, sizeof(count), false);
	if (r < 0)
		return r;
	uint8_t trailer[ARCHIVE_TRAILER_SIZE];
	memcpy(trailer, ARCHIVE_TAIL_MAGIC, 8);
	archive_put_le(trailer + 8, out->len, 8);
	gsize len = 32;
	GChecksum *sha = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sha, out->data, out->len);
	g_checksum_get_digest(sha, trailer + 16, &len);
	g_checksum_free(sha);
	g_byte_array_append(out, trailer, sizeof(trailer));
	return write_all(fd, out->data, out->len);
}

int archive_write_tar(const struct archive *a, int fd, bool zstd)
{
	g_autoptr(GByteArray) tar = g_byte_array_new();
	int r = archive_tar_build(a, tar);
	if (r < 0)
		return r;
	if (!zstd)
		return write_all(fd, tar->data, tar->len);
	g_autoptr(GByteArray) z = g_byte_array_new();
	r = archive_zstd_compress(tar->data, tar->len, z);
	return r < 0 ? r : write_all(fd, z->data, z->len);
}
