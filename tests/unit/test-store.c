/* test-store.c - unit tests of cfs/store.c, the SQLite copy of the tree.
 *
 * Every test works in its own temporary directory.  Trees are built with
 * tree_apply() and persisted the way the daemon does it (the dirty and
 * removed inodes of each tree_result, one transaction per change), so a
 * round trip through the store must give the same tree_checksum().  Damaged
 * and foreign databases must be refused with the documented errno, a reason,
 * and without a single byte of the file changing. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "store.h"
#include "testlib.h"
#include "tree.h"

/* ---- helpers */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

struct scratch {
	char dir[64];
	char db[96];
};

static void scratch_init(struct scratch *sc)
{
	snprintf(sc->dir, sizeof(sc->dir), "/tmp/test-store-XXXXXX");
	if (!mkdtemp(sc->dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(sc->db, sizeof(sc->db), "%s/config.db", sc->dir);
}

static void scratch_cleanup(struct scratch *sc)
{
	nftw(sc->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#define _cleanup_scratch_ _cleanup_(scratch_cleanup)

static void tree_freep(struct tree **t) { tree_free(*t); }
static void store_closep(struct store **s) { store_close(*s); }
#define _cleanup_tree_ _cleanup_(tree_freep)
#define _cleanup_store_ _cleanup_(store_closep)

static struct tree *new_tree(void)
{
	struct tree_limits limits = TREE_LIMITS_DEFAULT;
	struct tree *t = NULL;
	if (tree_new(&limits, &t) < 0) {
		fprintf(stderr, "tree_new failed\n");
		exit(2);
	}
	return t;
}

/* Reads a whole file; *size = -1 if it cannot be read. */
static char *read_file(const char *path, ssize_t *size)
{
	*size = -1;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return NULL;
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return NULL;
	ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		free(buf);
		return NULL;
	}
	*size = n;
	return buf;
}

static bool write_file(const char *path, const void *data, size_t size)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	return fd >= 0 && write(fd, data, size) == (ssize_t)size;
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Persists one inode as the daemon's apply path does. */
static int persist_inode(struct store *s, struct tree *t, uint64_t inode)
{
	struct tree_attr attr;
	int r = tree_getattr(t, inode, &attr);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = tree_path(t, inode);
	if (!path)
		return -ENOENT;
	struct tree_blob *blob = NULL;
	if (attr.type == TREE_FILE && (r = tree_get_blob(t, inode, &blob)) < 0)
		return r;
	r = store_put(s, &attr, inode == TREE_ROOT_INODE ? "" : base_name(path),
		      blob ? blob->data : NULL, blob ? blob->size : 0);
	tree_blob_unref(blob);
	return r;
}

/* Applies c to t and persists what it touched in one transaction. */
static int apply_persisted(struct tree *t, struct store *s, const struct change *c)
{
	int r = store_begin(s);
	if (r < 0)
		return r;
	struct tree_result res;
	r = tree_apply(t, c, &res);
	for (int i = 0; r == 0 && i < res.n_removed; i++)
		r = store_delete(s, res.removed[i]);
	for (int i = 0; r == 0 && i < res.n_dirty; i++)
		r = persist_inode(s, t, res.dirty[i]);
	if (r == 0)
		return store_commit(s, tree_version(t));
	store_rollback(s);
	return r;
}

static struct change mkdir_change(const char *path, int64_t mtime)
{
	return (struct change){ .op = CHANGE_MKDIR, .writer = 1, .mtime = mtime, .path = path };
}

static struct change file_change(enum change_op op, const char *path, const char *text,
				 int64_t mtime)
{
	return (struct change){ .op = op, .writer = 2, .mtime = mtime, .path = path,
				.data = text, .size = strlen(text) };
}

/* A small tree exercising every kind of change; -errno of the first failure. */
static int build_sample(struct tree *t, struct store *s)
{
	struct change rename = { .op = CHANGE_RENAME, .writer = 3, .mtime = 1700000050,
				 .path = "/nodes/n1/qemu-server/100.conf",
				 .to = "/nodes/n1/qemu-server/101.conf" };
	struct change unlink = { .op = CHANGE_UNLINK, .writer = 1, .mtime = 1700000060,
				 .path = "/datacenter.cfg" };
	struct change touch = { .op = CHANGE_MTIME, .writer = 1, .mtime = 1700000070,
				.path = "/nodes/n1" };
	struct change changes[] = {
		mkdir_change("/nodes", 1700000000),
		mkdir_change("/nodes/n1", 1700000001),
		mkdir_change("/nodes/n1/qemu-server", 1700000002),
		file_change(CHANGE_CREATE, "/nodes/n1/qemu-server/100.conf", "memory: 512\n", 1700000010),
		file_change(CHANGE_WRITE, "/nodes/n1/qemu-server/100.conf", "memory: 2048\ncores: 2\n", 1700000020),
		file_change(CHANGE_CREATE, "/datacenter.cfg", "keyboard: en-us\n", 1700000030),
		file_change(CHANGE_CREATE, "/storage.cfg", "dir: local\n\tpath /var/lib/vz\n", 1700000040),
		file_change(CHANGE_CREATE, "/empty", "", 1700000045),
		rename,
		unlink,
		touch,
	};
	for (size_t i = 0; i < ARRAY_SIZE(changes); i++) {
		int r = apply_persisted(t, s, &changes[i]);
		if (r < 0) {
			fprintf(stderr, "  change %zu (%s) failed: %s\n", i, changes[i].path, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Writes a store with many pages (files of a few KiB) and closes it. */
static int build_big_database(const char *dir, int files)
{
	struct store *s = NULL;
	_cleanup_free_ char *why = NULL;
	int r = store_open(dir, &s, &why);
	if (r < 0)
		return r;
	struct tree *t = new_tree();
	char text[4000];
	r = apply_persisted(t, s, &(struct change){ .op = CHANGE_MKDIR, .writer = 1,
						     .mtime = 1, .path = "/big" });
	for (int i = 0; r == 0 && i < files; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/big/f%03d", i);
		memset(text, 'a' + i % 26, sizeof(text) - 1);
		text[sizeof(text) - 1] = '\0';
		struct change c = file_change(CHANGE_CREATE, path, text, 100 + i);
		r = apply_persisted(t, s, &c);
	}
	tree_free(t);
	store_close(s);
	return r;
}

/* Opens and loads dir's store into a fresh tree; returns its checksum. */
static int load_checksum(const char *dir, char hex[65], uint64_t *version)
{
	struct store *s = NULL;
	_cleanup_free_ char *why = NULL;
	int r = store_open(dir, &s, &why);
	if (r < 0) {
		fprintf(stderr, "  store_open: %s\n", why ? why : strerror(-r));
		return r;
	}
	struct tree *t = new_tree();
	r = store_load(s, t, &why);
	if (r < 0)
		fprintf(stderr, "  store_load: %s\n", why ? why : strerror(-r));
	else {
		tree_checksum(t, hex);
		*version = tree_version(t);
	}
	tree_free(t);
	store_close(s);
	return r;
}

/* Runs sql directly on a database file, bypassing the store. */
static int raw_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		fprintf(stderr, "  sqlite: %s\n", db ? sqlite3_errmsg(db) : "open failed");
	sqlite3_close(db);
	return rc;
}

/* Expects store_open on sc to fail with one of two errnos, a reason
 * containing `reason`, and config.db byte-identical afterwards. */
static bool open_is_refused(struct scratch *sc, int err1, int err2, const char *reason)
{
	ssize_t before_size, after_size;
	_cleanup_free_ char *before = read_file(sc->db, &before_size);
	char wal[128], shm[128];
	snprintf(wal, sizeof(wal), "%s-wal", sc->db);
	snprintf(shm, sizeof(shm), "%s-shm", sc->db);
	bool had_wal = file_exists(wal), had_shm = file_exists(shm);
	struct store *s = NULL;
	_cleanup_free_ char *why = NULL;
	int r = store_open(sc->dir, &s, &why);
	if (r >= 0) {
		fprintf(stderr, "  store_open succeeded on a bad database\n");
		store_close(s);
		return false;
	}
	printf("# refused (%s): %s\n", strerror(-r), why ? why : "(no reason)");
	_cleanup_free_ char *after = read_file(sc->db, &after_size);
	bool ok = (r == err1 || r == err2) && s == NULL && why && strstr(why, sc->db) &&
		  (!reason || strstr(why, reason)) && before_size == after_size &&
		  (before_size <= 0 || memcmp(before, after, (size_t)before_size) == 0) &&
		  had_wal == file_exists(wal) && had_shm == file_exists(shm);
	if (!ok)
		fprintf(stderr, "  r=%d why=%s size %zd -> %zd\n", r, why ? why : "(null)",
			before_size, after_size);
	return ok;
}

/* ---- tests */

static void test_missing_database_is_created_and_loads_as_empty_tree(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	_cleanup_store_ struct store *s = NULL;
	_cleanup_free_ char *why = NULL;
	CHECK_INT(store_open(sc.dir, &s, &why), 0);
	struct stat st;
	CHECK_INT(stat(sc.db, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600); /* secrets live in it */
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "%s.new", sc.db);
	CHECK(!file_exists(tmp));

	_cleanup_tree_ struct tree *loaded = new_tree();
	_cleanup_tree_ struct tree *empty = new_tree();
	CHECK_INT(store_load(s, loaded, &why), 0);
	CHECK_INT(tree_version(loaded), 1);
	char a[65], b[65];
	tree_checksum(loaded, a);
	tree_checksum(empty, b);
	CHECK_STR(a, b);
}

static void test_round_trip_gives_identical_tree(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	_cleanup_tree_ struct tree *t = new_tree();
	struct store *s = NULL;
	_cleanup_free_ char *why = NULL;
	CHECK_INT(store_open(sc.dir, &s, &why), 0);
	int r = build_sample(t, s);
	store_close(s);
	CHECK_INT(r, 0);

	char want[65], got[65];
	uint64_t version = 0;
	tree_checksum(t, want);
	CHECK_INT(load_checksum(sc.dir, got, &version), 0);
	CHECK_STR(got, want);
	CHECK_INT(version, tree_version(t));
}

static void test_rollback_leaves_database_unchanged(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	_cleanup_tree_ struct tree *t = new_tree();
	struct store *s = NULL;
	_cleanup_free_ char *why = NULL;
	CHECK_INT(store_open(sc.dir, &s, &why), 0);
	if (build_sample(t, s) < 0) {
		store_close(s);
		CHECK(!"build_sample");
	}
	struct tree_attr attr;
	int r = tree_resolve(t, "/storage.cfg", &attr);
	if (r == 0)
		r = store_begin(s);
	if (r == 0)
		r = store_delete(s, attr.inode);
	if (r == 0) {
		attr.inode = 9999;
		r = store_put(s, &attr, "ghost", "boo", 3);
	}
	if (r == 0)
		r = store_meta_set(s, "ghost", "1");
	store_rollback(s);
	store_rollback(s); /* a second rollback is harmless */
	_cleanup_free_ char *value = NULL;
	int meta = store_meta_get(s, "ghost", &value);
	store_close(s);
	CHECK_INT(r, 0);
	CHECK_INT(meta, -ENOENT);

	char want[65], got[65];
	uint64_t version = 0;
	tree_checksum(t, want);
	CHECK_INT(load_checksum(sc.dir, got, &version), 0);
	CHECK_STR(got, want);
	CHECK_INT(version, tree_version(t));
}

static void test_foreign_sqlite_database_is_refused_untouched(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	CHECK_INT(raw_sql(sc.db, "CREATE TABLE notes(text); INSERT INTO notes VALUES('mine');"), SQLITE_OK);
	CHECK(open_is_refused(&sc, -EINVAL, -EINVAL, "not a pvecfs database (application_id"));
}

static void test_garbage_file_is_refused_untouched(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	char junk[8192];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	CHECK(write_file(sc.db, junk, sizeof(junk)));
	CHECK(open_is_refused(&sc, -EINVAL, -EINVAL, "not a pvecfs database"));
}

static void test_empty_file_is_refused_untouched(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	CHECK(write_file(sc.db, "", 0));
	CHECK(open_is_refused(&sc, -EINVAL, -EINVAL, "not a pvecfs database"));
}

static void test_newer_schema_is_refused_untouched(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	_cleanup_free_ char *why = NULL;
	struct store *s = NULL;
	CHECK_INT(store_open(sc.dir, &s, &why), 0);
	store_close(s);
	CHECK_INT(raw_sql(sc.db, "PRAGMA user_version=7;"), SQLITE_OK);
	CHECK(open_is_refused(&sc, -EINVAL, -EINVAL, "newer"));
}

static void test_truncated_database_is_refused_untouched(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	CHECK_INT(build_big_database(sc.dir, 60), 0);
	struct stat st;
	CHECK_INT(stat(sc.db, &st), 0);
	CHECK(st.st_size > 100 * 1024);
	CHECK_INT(truncate(sc.db, st.st_size / 2), 0);
	/* Either way the reason must say what to do ("move ... aside/away"). */
	CHECK(open_is_refused(&sc, -EUCLEAN, -EINVAL, "move"));
}

static void test_flipped_byte_in_row_is_caught_by_checksum(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	_cleanup_tree_ struct tree *t = new_tree();
	struct store *s = NULL;
	_cleanup_free_ char *why = NULL;
	CHECK_INT(store_open(sc.dir, &s, &why), 0);
	int r = build_sample(t, s);
	store_close(s);
	CHECK_INT(r, 0);
	struct tree_attr attr;
	CHECK_INT(tree_resolve(t, "/storage.cfg", &attr), 0);

	/* "dir: local" -> "dir: locaL": SQLite stays consistent, only our crc can tell. */
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "UPDATE tree SET data = CAST(replace(CAST(data AS TEXT), 'local', 'locaL') AS BLOB)"
		 " WHERE inode = %" PRIu64 ";", attr.inode);
	CHECK_INT(raw_sql(sc.db, sql), SQLITE_OK);

	CHECK_INT(store_open(sc.dir, &s, &why), 0);
	_cleanup_tree_ struct tree *loaded = new_tree();
	r = store_load(s, loaded, &why);
	store_close(s);
	printf("# refused: %s\n", why ? why : "(no reason)");
	CHECK_INT(r, -EUCLEAN);
	char inode_text[64];
	snprintf(inode_text, sizeof(inode_text), "inode %" PRIu64 " (\"storage.cfg\"", attr.inode);
	CHECK(why && strstr(why, inode_text) && strstr(why, "checksum"));
}

static void test_replace_all_stores_exactly_the_new_tree(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	_cleanup_tree_ struct tree *old = new_tree();
	struct store *s = NULL;
	_cleanup_free_ char *why = NULL;
	CHECK_INT(store_open(sc.dir, &s, &why), 0);
	int r = build_sample(old, s);

	/* A different tree, built without the store (as state sync does). */
	_cleanup_tree_ struct tree *fresh = new_tree();
	struct tree_result res;
	struct change a = mkdir_change("/other", 1800000000);
	struct change b = file_change(CHANGE_CREATE, "/other/x", "x\n", 1800000001);
	struct change c = file_change(CHANGE_CREATE, "/top", "top\n", 1800000002);
	if (r == 0)
		r = tree_apply(fresh, &a, &res);
	if (r == 0)
		r = tree_apply(fresh, &b, &res);
	if (r == 0)
		r = tree_apply(fresh, &c, &res);
	if (r == 0)
		r = store_replace_all(s, fresh);
	store_close(s);
	CHECK_INT(r, 0);

	char want[65], got[65];
	uint64_t version = 0;
	tree_checksum(fresh, want);
	CHECK_INT(load_checksum(sc.dir, got, &version), 0);
	CHECK_STR(got, want);
	CHECK_INT(version, tree_version(fresh));
}

static void test_meta_get_set_and_persist(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	struct store *s = NULL;
	_cleanup_free_ char *why = NULL, *v1 = NULL, *v2 = NULL, *v3 = NULL;
	CHECK_INT(store_open(sc.dir, &s, &why), 0);
	int missing = store_meta_get(s, "epoch", &v1);
	int set1 = store_meta_set(s, "epoch", "4:17");
	int set2 = store_meta_set(s, "epoch", "5:2");
	int get = store_meta_get(s, "epoch", &v2);
	store_close(s);
	CHECK_INT(missing, -ENOENT);
	CHECK(v1 == NULL);
	CHECK_INT(set1, 0);
	CHECK_INT(set2, 0);
	CHECK_INT(get, 0);
	CHECK_STR(v2, "5:2");

	CHECK_INT(store_open(sc.dir, &s, &why), 0);
	get = store_meta_get(s, "epoch", &v3);
	store_close(s);
	CHECK_INT(get, 0);
	CHECK_STR(v3, "5:2");
}

static void test_second_open_fails_while_first_is_open(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	/* Another process, as a second daemon would be.  It is forked before
	 * any connection exists (SQLite connections must not cross fork) and
	 * waits on a pipe until the first store is open. */
	int go[2];
	CHECK_INT(pipe(go), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char byte;
		close(go[1]);
		if (read(go[0], &byte, 1) != 1)
			_exit(2);
		struct store *other = NULL;
		char *reason = NULL;
		int r = store_open(sc.dir, &other, &reason);
		printf("# second daemon: %s\n", reason ? reason : "(opened)");
		fflush(stdout);
		bool refused = r == -EBUSY && reason && strstr(reason, "locked");
		free(reason);
		store_close(other);
		_exit(refused ? 0 : 1);
	}
	close(go[0]);
	struct store *first = NULL, *second = NULL, *third = NULL;
	_cleanup_free_ char *why = NULL, *why2 = NULL, *why3 = NULL;
	int r1 = store_open(sc.dir, &first, &why);
	int status = 0;
	if (write(go[1], "x", 1) != 1 || waitpid(pid, &status, 0) != pid)
		status = -1;
	close(go[1]);
	/* And a second connection in this process. */
	int r2 = store_open(sc.dir, &second, &why2);
	store_close(second);
	store_close(first);
	int r3 = store_open(sc.dir, &third, &why3);
	store_close(third);
	CHECK_INT(r1, 0);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(r2, -EBUSY);
	CHECK_INT(r3, 0);
}

static void test_commits_survive_kill_9(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	/* The child commits, reports its checksum, says so on the pipe and
	 * waits to be killed with the store still open (no checkpoint). */
	int ready[2];
	CHECK_INT(pipe(ready), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		struct store *s = NULL;
		char *why = NULL;
		struct tree *t = new_tree();
		if (store_open(sc.dir, &s, &why) < 0 || build_sample(t, s) < 0)
			_exit(1);
		char hex[65];
		tree_checksum(t, hex);
		char path[128];
		snprintf(path, sizeof(path), "%s/checksum", sc.dir);
		if (!write_file(path, hex, 64) || write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	char byte;
	bool child_ready = read(ready[0], &byte, 1) == 1;
	close(ready[0]);
	kill(pid, SIGKILL);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(child_ready);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	char wal[128];
	snprintf(wal, sizeof(wal), "%s-wal", sc.db);
	CHECK(file_exists(wal)); /* the commits are only in the WAL */

	char path[128];
	snprintf(path, sizeof(path), "%s/checksum", sc.dir);
	ssize_t n;
	_cleanup_free_ char *want = read_file(path, &n);
	CHECK_INT(n, 64);
	want[64] = '\0';
	char got[65];
	uint64_t version = 0;
	CHECK_INT(load_checksum(sc.dir, got, &version), 0);
	CHECK_STR(got, want);
}

static void test_single_change_commit_rate(void)
{
	_cleanup_scratch_ struct scratch sc;
	scratch_init(&sc);
	_cleanup_tree_ struct tree *t = new_tree();
	struct store *s = NULL;
	_cleanup_free_ char *why = NULL;
	CHECK_INT(store_open(sc.dir, &s, &why), 0);
	struct change c = file_change(CHANGE_CREATE, "/bench.conf", "memory: 512\n", 1);
	int r = apply_persisted(t, s, &c);
	const int rounds = 3000;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; r == 0 && i < rounds; i++) {
		char text[64];
		snprintf(text, sizeof(text), "memory: %d\ncores: 2\n", 512 + i);
		c = file_change(CHANGE_WRITE, "/bench.conf", text, 2 + i);
		r = apply_persisted(t, s, &c);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	store_close(s);
	CHECK_INT(r, 0);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# store: %d single-change transactions in %.3f s = %.0f commits/s\n", rounds,
	       secs, rounds / secs);
}

static const struct test tests[] = {
	TEST(test_missing_database_is_created_and_loads_as_empty_tree),
	TEST(test_round_trip_gives_identical_tree),
	TEST(test_rollback_leaves_database_unchanged),
	TEST(test_foreign_sqlite_database_is_refused_untouched),
	TEST(test_garbage_file_is_refused_untouched),
	TEST(test_empty_file_is_refused_untouched),
	TEST(test_newer_schema_is_refused_untouched),
	TEST(test_truncated_database_is_refused_untouched),
	TEST(test_flipped_byte_in_row_is_caught_by_checksum),
	TEST(test_replace_all_stores_exactly_the_new_tree),
	TEST(test_meta_get_set_and_persist),
	TEST(test_second_open_fails_while_first_is_open),
	TEST(test_commits_survive_kill_9),
	TEST(test_single_change_commit_rate),
};

TEST_MAIN(tests)
