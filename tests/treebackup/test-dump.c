/* test-dump.c - dump_tree (consistent snapshot under writes) and the
 * archive formats: round trips, damage named by path, truncation. */
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "archive.h"
#include "dump.h"
#include "testlib.h"

static int apply(struct tree *t, enum change_op op, const char *path, const char *data)
{
	struct change c = { .op = op, .writer = 1, .mtime = 1700000000, .path = path, .data = data,
			    .size = data ? strlen(data) : 0 };
	struct tree_result res;
	return tree_apply(t, &c, &res);
}

static int rename_node(struct tree *t, const char *from, const char *to)
{
	struct change c = { .op = CHANGE_RENAME, .writer = 2, .mtime = 1700000001, .path = from, .to = to };
	struct tree_result res;
	return tree_apply(t, &c, &res);
}

static struct tree *sample_tree(void)
{
	struct tree_limits limits = TREE_LIMITS_DEFAULT;
	struct tree *t;
	if (tree_new(&limits, &t) < 0)
		return NULL;
	apply(t, CHANGE_MKDIR, "/nodes", NULL);
	apply(t, CHANGE_MKDIR, "/nodes/n1", NULL);
	apply(t, CHANGE_MKDIR, "/nodes/n1/qemu-server", NULL);
	apply(t, CHANGE_CREATE, "/nodes/n1/qemu-server/100.conf", "memory: 512\ncores: 2\n");
	apply(t, CHANGE_CREATE, "/storage.cfg", "dir: local\n\tpath /var/lib/vz\n");
	apply(t, CHANGE_CREATE, "/empty", "");
	apply(t, CHANGE_CREATE, "/moved.cfg", "x\n");
	apply(t, CHANGE_MKDIR, "/later", NULL);
	/* A child whose parent has a higher inode number than itself. */
	rename_node(t, "/moved.cfg", "/later/moved.cfg");
	return t;
}

static int collect(void *ctx, const void *data, size_t size)
{
	g_byte_array_append(ctx, data, (guint)size);
	return 0;
}

static GByteArray *dump(struct tree *t, struct dump_summary *sum)
{
	GByteArray *buf = g_byte_array_new();
	struct dump_info info = { .cluster = "c1", .node = "n1", .time = 1700000100 };
	if (dump_tree(t, &info, collect, buf, sum) < 0) {
		g_byte_array_free(buf, TRUE);
		return NULL;
	}
	return buf;
}

static void test_dump_round_trip_equals_tree(void)
{
	struct tree *t = sample_tree();
	struct dump_summary sum;
	GByteArray *buf = dump(t, &sum);
	CHECK(buf);
	char want[65];
	tree_checksum(t, want);
	CHECK_STR(sum.checksum, want);
	CHECK_INT(sum.version, tree_version(t));
	CHECK_INT(sum.bytes, buf->len);
	struct archive *a;
	char *problems = NULL;
	int r = archive_read_buffer(buf->data, buf->len, &a, &problems);
	if (r < 0)
		fprintf(stderr, "%s", problems);
	CHECK_INT(r, 0);
	CHECK_STR(a->tree_checksum, want);
	CHECK_STR(a->node, "n1");
	CHECK_STR(a->cluster, "c1");
	CHECK_INT(a->n_entries, 9);
	const struct archive_entry *e = archive_find(a, "nodes/n1/qemu-server/100.conf");
	CHECK(e && e->size == strlen("memory: 512\ncores: 2\n") && !memcmp(e->data, "memory: 512", 11));
	CHECK(archive_find(a, "later/moved.cfg"));
	CHECK(archive_find(a, "empty") && archive_find(a, "empty")->size == 0);
	struct tree *back;
	CHECK_INT(archive_build_tree(a, &back), 0);
	char got[65];
	tree_checksum(back, got);
	CHECK_STR(got, want);
	tree_free(back);
	archive_free(a);
	g_byte_array_free(buf, TRUE);
	tree_free(t);
}

static void test_dump_of_root_only_tree(void)
{
	struct tree_limits limits = TREE_LIMITS_DEFAULT;
	struct tree *t;
	CHECK_INT(tree_new(&limits, &t), 0);
	struct dump_summary sum;
	GByteArray *buf = dump(t, &sum);
	CHECK(buf);
	struct archive *a;
	char *problems = NULL;
	CHECK_INT(archive_read_buffer(buf->data, buf->len, &a, &problems), 0);
	CHECK_INT(a->n_entries, 1);
	archive_free(a);
	g_byte_array_free(buf, TRUE);
	tree_free(t);
}

static int failing_writer(void *ctx, const void *data, size_t size)
{
	(void)data; (void)size;
	return ++*(int *)ctx > 3 ? -EIO : 0;
}

static void test_writer_error_aborts_dump(void)
{
	struct tree *t = sample_tree();
	int calls = 0;
	struct dump_info info = { .node = "n1" };
	CHECK_INT(dump_tree(t, &info, failing_writer, &calls, NULL), -EIO);
	tree_free(t);
}

/* ---- consistency under writes ---- */

struct writer {
	struct tree *t;
	atomic_bool stop;
	atomic_long rounds;
};

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	char num[32];
	for (long n = 1; !atomic_load(&w->stop); n++) {
		snprintf(num, sizeof(num), "%ld\n", n);
		apply(w->t, CHANGE_WRITE, "/a", num);
		apply(w->t, CHANGE_WRITE, "/b", num);
		atomic_store(&w->rounds, n);
	}
	return NULL;
}

static long value_of(const struct archive *a, const char *path)
{
	const struct archive_entry *e = archive_find(a, path);
	if (!e)
		return -1;
	g_autofree char *text = g_strndup((const char *)e->data, e->size);
	return strtol(text, NULL, 10);
}

static void test_snapshots_are_consistent_under_writes(void)
{
	struct tree *t = sample_tree();
	apply(t, CHANGE_CREATE, "/a", "0\n");
	apply(t, CHANGE_CREATE, "/b", "0\n");
	struct writer w = { .t = t };
	pthread_t th;
	pthread_create(&th, NULL, write_loop, &w);
	int dumps = 0, moving = 0;
	uint64_t last_version = 0;
	for (; dumps < 300; dumps++) {
		struct dump_summary sum;
		GByteArray *buf = dump(t, &sum);
		if (!buf)
			break;
		struct archive *a;
		char *problems = NULL;
		int r = archive_read_buffer(buf->data, buf->len, &a, &problems);
		g_byte_array_free(buf, TRUE);
		if (r < 0) {
			fprintf(stderr, "  dump %d does not verify:\n%s", dumps, problems);
			break;
		}
		long va = value_of(a, "a"), vb = value_of(a, "b");
		bool ok = vb <= va && va <= vb + 1 && a->version == sum.version;
		moving += sum.version != last_version;
		last_version = sum.version;
		archive_free(a);
		if (!ok) {
			fprintf(stderr, "  inconsistent snapshot: a=%ld b=%ld\n", va, vb);
			break;
		}
	}
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	CHECK_INT(dumps, 300);
	CHECK(moving > 1); /* the writer really ran during the dumps */
	tree_free(t);
}

/* ---- archive formats ---- */

static GByteArray *encode(const struct archive *a, bool tar, bool zstd)
{
	int fd = memfd_create("archive", 0);
	if (fd < 0)
		return NULL;
	int r = tar ? archive_write_tar(a, fd, zstd) : archive_write_container(a, fd, zstd);
	GByteArray *out = g_byte_array_new();
	off_t size = lseek(fd, 0, SEEK_END);
	g_byte_array_set_size(out, (guint)size);
	if (r < 0 || pread(fd, out->data, (size_t)size, 0) != size) {
		g_byte_array_free(out, TRUE);
		out = NULL;
	}
	close(fd);
	return out;
}

static struct archive *sample_archive(void)
{
	struct tree *t = sample_tree();
	GByteArray *buf = dump(t, NULL);
	tree_free(t);
	struct archive *a = NULL;
	char *problems = NULL;
	archive_read_buffer(buf->data, buf->len, &a, &problems);
	g_byte_array_free(buf, TRUE);
	return a;
}

static void check_round_trip(bool tar, bool zstd)
{
	struct archive *a = sample_archive();
	GByteArray *enc = encode(a, tar, zstd);
	struct archive *b;
	char *problems = NULL;
	int r = archive_read_buffer(enc->data, enc->len, &b, &problems);
	if (r < 0)
		fprintf(stderr, "%s", problems);
	CHECK_INT(r, 0);
	CHECK_INT(b->kind, tar ? ARCHIVE_TAR : ARCHIVE_CONTAINER);
	CHECK_INT(b->compressed, zstd);
	CHECK_STR(b->tree_checksum, a->tree_checksum);
	CHECK_INT(b->n_entries, a->n_entries);
	archive_free(a);
	archive_free(b);
	g_byte_array_free(enc, TRUE);
}

static void test_container_zstd_round_trip(void) { check_round_trip(false, true); }
static void test_tar_round_trip(void) { check_round_trip(true, false); }
static void test_tar_zstd_round_trip(void) { check_round_trip(true, true); }

static char *problems_of(const uint8_t *data, size_t size, int want_r)
{
	struct archive *a = NULL;
	char *problems = NULL;
	int r = archive_read_buffer(data, size, &a, &problems);
	archive_free(a);
	if (r != want_r) {
		fprintf(stderr, "  read returned %d, expected %d\n", r, want_r);
		g_free(problems);
		return NULL;
	}
	return problems ? problems : g_strdup("");
}

/* Flips a byte in the middle of the stored payload of the record for `path`. */
static void flip_in_record(GByteArray *enc, const char *path, bool zstd)
{
	size_t pos = 16;
	while (pos + 24 < enc->len) {
		uint32_t name_len = (uint32_t)(enc->data[pos + 4] | enc->data[pos + 5] << 8);
		uint64_t stored = 0;
		for (int i = 0; i < 8; i++)
			stored |= (uint64_t)enc->data[pos + 8 + i] << (8 * i);
		if (name_len == strlen(path) && !memcmp(enc->data + pos + 24, path, name_len)) {
			/* plain: in the content, after the 40-byte entry header */
			enc->data[pos + 24 + name_len + (zstd ? stored / 2 : stored - 3)] ^= 0x40;
			return;
		}
		pos += 24 + name_len + stored;
	}
}

static void test_flipped_byte_names_the_file(void)
{
	const char *victim = "nodes/n1/qemu-server/100.conf";
	for (int zstd = 0; zstd <= 1; zstd++) {
		struct archive *a = sample_archive();
		GByteArray *enc = encode(a, false, zstd);
		archive_free(a);
		flip_in_record(enc, victim, zstd);
		g_autofree char *p = problems_of(enc->data, enc->len, -EBADMSG);
		CHECK(p);
		if (!strstr(p, "nodes/n1/qemu-server/100.conf: content"))
			fprintf(stderr, "  zstd=%d:\n%s", zstd, p);
		CHECK(strstr(p, "nodes/n1/qemu-server/100.conf: content"));
		g_byte_array_free(enc, TRUE);
	}
}

static void test_flipped_byte_in_plain_tar_names_the_file(void)
{
	struct archive *a = sample_archive();
	GByteArray *enc = encode(a, true, false);
	archive_free(a);
	char *hit = memmem(enc->data, enc->len, "cores: 2", 8);
	CHECK(hit);
	hit[0] ^= 0x01;
	g_autofree char *p = problems_of(enc->data, enc->len, -EBADMSG);
	CHECK(p);
	CHECK(strstr(p, "nodes/n1/qemu-server/100.conf: content checksum mismatch"));
	g_byte_array_free(enc, TRUE);
}

static void test_truncated_archives_are_reported(void)
{
	for (int kind = 0; kind < 3; kind++) {
		struct archive *a = sample_archive();
		GByteArray *enc = encode(a, kind > 0, kind == 2);
		archive_free(a);
		g_autofree char *p = problems_of(enc->data, enc->len * 2 / 3, -EBADMSG);
		CHECK(p);
		CHECK(strstr(p, "truncated") || strstr(p, "ends too early") || strstr(p, "damaged"));
		g_byte_array_free(enc, TRUE);
	}
}

static void test_not_an_archive(void)
{
	const char text[] = "hello, this is not an archive at all\n";
	g_autofree char *p = problems_of((const uint8_t *)text, sizeof(text), -EINVAL);
	CHECK(p);
	CHECK(strstr(p, "not a pvecfs backup"));
	g_autofree char *empty = problems_of((const uint8_t *)"", 0, -EINVAL);
	CHECK(empty);
}

static const struct test tests[] = {
	TEST(test_dump_round_trip_equals_tree),
	TEST(test_dump_of_root_only_tree),
	TEST(test_writer_error_aborts_dump),
	TEST(test_snapshots_are_consistent_under_writes),
	TEST(test_container_zstd_round_trip),
	TEST(test_tar_round_trip),
	TEST(test_tar_zstd_round_trip),
	TEST(test_flipped_byte_names_the_file),
	TEST(test_flipped_byte_in_plain_tar_names_the_file),
	TEST(test_truncated_archives_are_reported),
	TEST(test_not_an_archive),
};
TEST_MAIN(tests)
