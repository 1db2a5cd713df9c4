/* store.c - the durable copy of the tree in SQLite, <dir>/config.db (see store.h).
 *
 * Layout (schema version STORE_SCHEMA_VERSION, PRAGMA application_id
 * STORE_APPLICATION_ID so that we never mistake another program's SQLite
 * file for ours):
 *   tree(inode PK, parent, version, writer, mtime, type, name, data, crc)
 *       one row per inode, the root (inode 1, name "") included once it has
 *       changed; data is NULL for directories, a BLOB for files; crc is a
 *       CRC-32 over all the other fields (row_crc) so that a damaged row is
 *       found on load even when SQLite's own structure is intact.
 *   meta(key PK, value) "version" = the global version as of the last full
 *       replacement (store_replace_all); the current one is the larger of it
 *       and MAX(tree.version), since every change leaves its version on a
 *       row it touched.  Plus whatever store_meta_set stores.
 *
 * Opening is two-phase so that a database we refuse is never modified: a
 * read-only connection first checks the application id, the schema version
 * and PRAGMA quick_check; only then is the read-write connection opened.  A
 * missing database is created under a temporary name and renamed into place,
 * so config.db either does not exist or carries our schema (a zero-length or
 * half-created config.db is therefore never ours and is refused).
 *
 * Durability: WAL with synchronous=NORMAL.  A committed transaction is in the
 * WAL (written with write(2)) before COMMIT returns, so it survives kill -9 of
 * the daemon; it is not fsync'ed per commit, so a power loss may lose the last
 * transactions (never corrupting the file).  That is the target: the cluster
 * resyncs a node that lost its tail, while per-commit fsync would cap us at a
 * few hundred commits per second.
 *
 * locking_mode=EXCLUSIVE: one daemon per database.  The read-write connection
 * takes the file lock on its first access and keeps it until store_close, so
 * a second store_open on the same file fails with -EBUSY; it also lets WAL
 * keep its index in heap memory instead of a -shm file.
 *
 * Functions that take `char **why` report the reason there (the caller logs
 * it); the transaction functions log their own errors with the file name.
 * Hot paths use statements prepared once in store_open. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <zlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

#define STORE_FILE_NAME "config.db"
#define STORE_APPLICATION_ID 0x50564346 /* "PVCF" */
#define STORE_SCHEMA_VERSION 1
#define STORE_WAL_SIZE_LIMIT (64 * 1024 * 1024)
/* A checkpoint fsyncs the WAL and the database: with SQLite's default (every
 * 1000 pages, 4 MiB) a stream of 1 MiB files paid one every fourth commit.
 * Every 64 MiB of changes instead; the WAL then stays below ~64 MiB. */
#define STORE_WAL_CHECKPOINT_PAGES 16384
/* The checkpoint's fsync of the WAL would write all of it at once (~60 ms
 * for 64 MiB here, stalling the commit that triggered it): every 1,024
 * pages (4 MiB) the kernel is asked to start writing the WAL out, without
 * waiting, so that little is left for that fsync. */
#define STORE_WAL_WRITEBACK_PAGES 1024

/* Appended to every "damaged" message; takes the path as its %s argument. */
#define RECOVERY_ADVICE \
	"stop, move %s aside, restore with `pvecfsctl restore` or rejoin the cluster to resync"

struct store {
	sqlite3 *db;
	char *path;
	int wal_fd;             /* <path>-wal, for early writeback; -1 until opened */
	int wal_written_back;   /* WAL frames whose writeback was started */
	sqlite3_stmt *begin;
	sqlite3_stmt *commit;
	sqlite3_stmt *rollback;
	sqlite3_stmt *put;
	sqlite3_stmt *delete;
	sqlite3_stmt *meta_get;
	sqlite3_stmt *meta_set;
};

static const char schema_sql[] =
	"CREATE TABLE tree(inode INTEGER PRIMARY KEY, parent INTEGER NOT NULL,"
	" version INTEGER NOT NULL, writer INTEGER NOT NULL, mtime INTEGER NOT NULL,"
	" type INTEGER NOT NULL, name TEXT NOT NULL, data BLOB, crc INTEGER NOT NULL);"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT INTO meta(key, value) VALUES('version', '1');";

static const char select_rows_sql[] =
	"SELECT inode, parent, version, writer, mtime, type, name, data, crc"
	" FROM tree ORDER BY inode";

/* ---- CRC-32 (IEEE, zlib's implementation): computed for every row written
 * (up to 1 MiB each) and checked for every row loaded. */

static uint32_t crc32_update(uint32_t crc, const void *buf, size_t len)
{
	return (uint32_t)crc32_z(crc, buf, len);
}

static unsigned char *put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

/* The checksum of a row: its fixed fields in a little-endian layout, then
 * the name and the content, with their lengths so that bytes cannot move
 * from one to the other unnoticed. */
static uint32_t row_crc(const struct tree_attr *a, const char *name, size_t name_len,
			const void *data, size_t size)
{
	unsigned char head[8 * 3 + 4 + 8 + 4 + 4 + 8];
	unsigned char *p = head;
	p = put_le(p, a->inode, 8);
	p = put_le(p, a->parent, 8);
	p = put_le(p, a->version, 8);
	p = put_le(p, a->writer, 4);
	p = put_le(p, (uint64_t)a->mtime, 8);
	p = put_le(p, (uint32_t)a->type, 4);
	p = put_le(p, name_len, 4);
	p = put_le(p, size, 8);
	uint32_t crc = crc32_update(0, head, (size_t)(p - head));
	crc = crc32_update(crc, name, name_len);
	return crc32_update(crc, data, size);
}

/* ---- errors */

static int errno_from_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: return 0;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return -EUCLEAN;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_READONLY: return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH: return -EACCES;
	case SQLITE_TOOBIG: return -EFBIG;
	default: return -EIO;
	}
}

static bool sqlite_is_corrupt(int rc)
{
	return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

/* Sets *why (if why is not NULL) to a formatted message; returns r. */
static int __attribute__((format(printf, 3, 4))) fail_why(char **why, int r, const char *fmt, ...)
{
	if (!why)
		return r;
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	free(*why);
	*why = msg;
	return r;
}

/* Logs a failed database operation and returns the matching negative errno. */
static int store_fail(struct store *s, int rc, const char *what)
{
	int r = errno_from_sqlite(rc);
	if (sqlite_is_corrupt(rc))
		log_error("%s: %s: %s: the database is damaged; " RECOVERY_ADVICE, s->path,
			  what, sqlite3_errmsg(s->db), s->path);
	else
		log_error("%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return r;
}

/* Steps a statement that returns no rows, then resets it for reuse. */
static int run_stmt(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, what);
}

/* ---- creating a new database */

static void fsync_dir_of(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	if (!dir)
		return;
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	_cleanup_close_ int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		(void)fsync(fd);
}

static void unlink_with_suffix(const char *path, const char *suffix)
{
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s%s", path, suffix) >= 0)
		(void)unlink(p);
}

/* Writes a fresh, empty database at tmp (journal mode WAL is persistent in
 * the file header; closing checkpoints and removes the WAL). */
static int write_new_database(const char *tmp, char **why)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK) {
		_cleanup_free_ char *sql = NULL;
		if (asprintf(&sql,
			     "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;"
			     " PRAGMA synchronous=FULL; BEGIN; PRAGMA application_id=%d;"
			     " PRAGMA user_version=%d; %s COMMIT;",
			     STORE_APPLICATION_ID, STORE_SCHEMA_VERSION, schema_sql) < 0)
			rc = SQLITE_NOMEM;
		else
			rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	int r = 0;
	if (rc != SQLITE_OK)
		r = fail_why(why, errno_from_sqlite(rc), "%s: cannot create the database: %s", tmp,
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	if (sqlite3_close(db) != SQLITE_OK && r == 0)
		r = fail_why(why, -EIO, "%s: cannot close the new database: %s", tmp,
			     sqlite3_errmsg(db));
	return r;
}

/* Creates path atomically: build it under a temporary name, then rename. */
static int create_database(const char *path, char **why)
{
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.new", path) < 0)
		return -ENOMEM;
	/* Leftovers of an interrupted creation are never a real database. */
	(void)unlink(tmp);
	unlink_with_suffix(tmp, "-wal");
	unlink_with_suffix(tmp, "-journal");
	unlink_with_suffix(tmp, "-shm");

	/* The tree holds secrets (priv/): the file and its WAL (which SQLite
	 * creates with the database's mode) are for root only. */
	_cleanup_close_ int created = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (created < 0)
		return fail_why(why, -errno, "%s: cannot create the database: %m", tmp);
	int r = write_new_database(tmp, why);
	if (r == 0) {
		_cleanup_close_ int fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0)
			r = fail_why(why, -errno, "%s: cannot sync the new database: %m", tmp);
	}
	if (r == 0 && rename(tmp, path) < 0)
		r = fail_why(why, -errno, "%s: cannot create the database: %m", path);
	if (r < 0) {
		(void)unlink(tmp);
		unlink_with_suffix(tmp, "-wal");
		return r;
	}
	fsync_dir_of(path);
	log_info("%s: created an empty database", path);
	return 0;
}

/* ---- checking an existing database, read-only */

static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int check_identity(sqlite3 *db, const char *path, char **why)
{
	int64_t id = 0, schema = 0;
	int rc = query_int(db, "PRAGMA application_id", &id);
	if ((rc & 0xff) == SQLITE_NOTADB)
		return fail_why(why, -EINVAL,
				"%s: not a pvecfs database (%s); move it away to start with an"
				" empty tree, or restore from a backup", path, sqlite3_errmsg(db));
	if ((rc & 0xff) == SQLITE_BUSY)
		return fail_why(why, -EBUSY,
				"%s: the database is locked by another process (is another"
				" pvecfs running on it?)", path);
	if (sqlite_is_corrupt(rc))
		return fail_why(why, -EUCLEAN, "%s: cannot read the database: %s; " RECOVERY_ADVICE,
				path, sqlite3_errmsg(db), path);
	if (rc != SQLITE_OK)
		return fail_why(why, errno_from_sqlite(rc), "%s: cannot read the database: %s",
				path, sqlite3_errmsg(db));
	if (id != STORE_APPLICATION_ID)
		return fail_why(why, -EINVAL,
				"%s: not a pvecfs database (application_id 0x%08" PRIx64
				", expected 0x%08x); move it away to start with an empty tree,"
				" or restore from a backup", path, (uint64_t)(uint32_t)id,
				STORE_APPLICATION_ID);
	rc = query_int(db, "PRAGMA user_version", &schema);
	if (rc != SQLITE_OK)
		return fail_why(why, errno_from_sqlite(rc), "%s: cannot read the schema version: %s",
				path, sqlite3_errmsg(db));
	if (schema > STORE_SCHEMA_VERSION)
		return fail_why(why, -EINVAL,
				"%s: schema version %" PRId64 " is newer than this pvecfs knows (%d);"
				" run a newer pvecfs, or restore from a backup", path, schema,
				STORE_SCHEMA_VERSION);
	if (schema != STORE_SCHEMA_VERSION)
		return fail_why(why, -EINVAL, "%s: unknown schema version %" PRId64 " (expected %d)",
				path, schema, STORE_SCHEMA_VERSION);
	return 0;
}

static int check_integrity(sqlite3 *db, const char *path, char **why)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	int r = 0;
	if (rc == SQLITE_ROW) {
		const char *res = (const char *)sqlite3_column_text(st, 0);
		if (!res || strcmp(res, "ok") != 0)
			r = fail_why(why, -EUCLEAN, "%s: integrity check failed: %s; " RECOVERY_ADVICE,
				     path, res ? res : "(no result)", path);
	} else {
		r = fail_why(why, sqlite_is_corrupt(rc) ? -EUCLEAN : errno_from_sqlite(rc),
			     "%s: integrity check failed: %s; " RECOVERY_ADVICE, path,
			     sqlite3_errmsg(db), path);
	}
	sqlite3_finalize(st);
	return r;
}

/* The columns we use exist (a same-id database of a broken build, say). */
static int check_tables(sqlite3 *db, const char *path, char **why)
{
	static const char *const probes[] = {
		"SELECT inode, parent, version, writer, mtime, type, name, data, crc FROM tree LIMIT 0",
		"SELECT key, value FROM meta LIMIT 0",
	};
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(db, probes[i], -1, &st, NULL);
		sqlite3_finalize(st);
		if (rc != SQLITE_OK)
			return fail_why(why, sqlite_is_corrupt(rc) ? -EUCLEAN : -EINVAL,
					"%s: the schema does not match pvecfs schema %d: %s", path,
					STORE_SCHEMA_VERSION, sqlite3_errmsg(db));
	}
	return 0;
}

static void remove_created_sidecars(const char *wal, bool had_wal, const char *shm, bool had_shm)
{
	struct stat st;
	if (!had_wal && stat(wal, &st) == 0 && st.st_size == 0)
		(void)unlink(wal);
	if (!had_shm)
		(void)unlink(shm);
}

/* All the checks that decide whether we may use path, on a read-only
 * connection so that a refused file stays byte-identical. */
static int check_database(const char *path, char **why)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return fail_why(why, -errno, "%s: %m", path);
	if (!S_ISREG(st.st_mode))
		return fail_why(why, -EINVAL, "%s: not a regular file", path);
	if (st.st_size == 0)
		return fail_why(why, -EINVAL,
				"%s: not a pvecfs database (empty file); move it away to start"
				" with an empty tree, or restore from a backup", path);

	/* A read-only connection to a WAL database creates an empty -wal and
	 * a -shm file (which our exclusive-mode connection never uses): remove
	 * the ones it created so that a refused database is left as found. */
	_cleanup_free_ char *wal = NULL, *shm = NULL;
	if (asprintf(&wal, "%s-wal", path) < 0 || asprintf(&shm, "%s-shm", path) < 0)
		return -ENOMEM;
	bool had_wal = access(wal, F_OK) == 0, had_shm = access(shm, F_OK) == 0;

	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	int r;
	if (rc != SQLITE_OK)
		r = fail_why(why, errno_from_sqlite(rc), "%s: cannot open the database: %s", path,
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	else
		sqlite3_extended_result_codes(db, 1);
	if (rc == SQLITE_OK)
		r = check_identity(db, path, why);
	if (rc == SQLITE_OK && r == 0)
		r = check_integrity(db, path, why);
	if (rc == SQLITE_OK && r == 0)
		r = check_tables(db, path, why);
	sqlite3_close(db);
	if (r != -EBUSY) /* else they belong to the process holding the lock */
		remove_created_sidecars(wal, had_wal, shm, had_shm);
	return r;
}

/* ---- the read-write connection */

static void finalize_statements(struct store *s)
{
	sqlite3_stmt **all[] = { &s->begin, &s->commit, &s->rollback, &s->put,
				 &s->delete, &s->meta_get, &s->meta_set };
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		sqlite3_finalize(*all[i]);
		*all[i] = NULL;
	}
}

static int prepare_statements(struct store *s, char **why)
{
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} defs[] = {
		{ &s->begin, "BEGIN IMMEDIATE" },
		{ &s->commit, "COMMIT" },
		{ &s->rollback, "ROLLBACK" },
		{ &s->put, "INSERT OR REPLACE INTO tree(inode, parent, version, writer, mtime,"
			   " type, name, data, crc) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)" },
		{ &s->delete, "DELETE FROM tree WHERE inode = ?1" },
		{ &s->meta_get, "SELECT value FROM meta WHERE key = ?1" },
		{ &s->meta_set, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(defs); i++) {
		int rc = sqlite3_prepare_v3(s->db, defs[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
					    defs[i].st, NULL);
		if (rc != SQLITE_OK)
			return fail_why(why, errno_from_sqlite(rc), "%s: cannot prepare \"%s\": %s",
					s->path, defs[i].sql, sqlite3_errmsg(s->db));
	}
	return 0;
}

/* Opens the checked database for writing and takes the exclusive lock. */
/* Called by SQLite after every commit with the WAL's frame count.  It
 * replaces SQLite's own auto-checkpoint hook, so it checkpoints too. */
static int wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
	struct store *s = ctx;
	if (frames < s->wal_written_back)
		s->wal_written_back = 0; /* the WAL restarted from its beginning */
	if (frames >= STORE_WAL_CHECKPOINT_PAGES) {
		int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_warn("%s: checkpoint failed: %s", s->path, sqlite3_errstr(rc));
		s->wal_written_back = 0;
		return SQLITE_OK;
	}
	if (frames - s->wal_written_back < STORE_WAL_WRITEBACK_PAGES)
		return SQLITE_OK;
	if (s->wal_fd < 0) {
		_cleanup_free_ char *wal = NULL;
		if (asprintf(&wal, "%s-wal", s->path) >= 0)
			s->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
	}
	/* From the first frame not yet handed over (a frame is a 24-byte
	 * header and a page of the default 4 KiB), so that the call need not
	 * walk what is already written back. */
	if (s->wal_fd >= 0)
		sync_file_range(s->wal_fd, (off_t)s->wal_written_back * (4096 + 24), 0, SYNC_FILE_RANGE_WRITE);
	s->wal_written_back = frames;
	return SQLITE_OK;
}

static int open_read_write(struct store *s, char **why)
{
	int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK)
		return fail_why(why, errno_from_sqlite(rc), "%s: cannot open the database: %s",
				s->path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	sqlite3_extended_result_codes(s->db, 1);

	/* locking_mode before journal_mode: WAL then never uses a -shm file.
	 * journal_mode reads the database and so takes the lock now. */
	_cleanup_free_ char *pragmas = NULL;
	if (asprintf(&pragmas,
		     "PRAGMA locking_mode=EXCLUSIVE; PRAGMA synchronous=NORMAL;"
		     " PRAGMA foreign_keys=OFF; PRAGMA journal_size_limit=%d;",
		     STORE_WAL_SIZE_LIMIT) < 0)
		return -ENOMEM;
	rc = sqlite3_exec(s->db, pragmas, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail_why(why, errno_from_sqlite(rc), "%s: cannot configure the database: %s",
				s->path, sqlite3_errmsg(s->db));

	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	bool wal = rc == SQLITE_ROW &&
		   strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if ((rc & 0xff) == SQLITE_BUSY)
		return fail_why(why, -EBUSY,
				"%s: the database is locked by another process (is another"
				" pvecfs running on it?)", s->path);
	if (!wal)
		return fail_why(why, rc == SQLITE_ROW ? -EIO : errno_from_sqlite(rc),
				"%s: cannot switch to WAL mode: %s", s->path,
				rc == SQLITE_ROW ? "refused" : sqlite3_errmsg(s->db));
	sqlite3_wal_hook(s->db, wal_hook, s);
	return prepare_statements(s, why);
}

int store_open(const char *dir, struct store **out, char **why)
{
	*out = NULL;
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (asprintf(&s->path, "%s/%s", dir, STORE_FILE_NAME) < 0) {
		s->path = NULL;
		free(s);
		return -ENOMEM;
	}
	s->wal_fd = -1;

	int r = 0;
	struct stat st;
	if (stat(s->path, &st) < 0) {
		if (errno == ENOENT)
			r = create_database(s->path, why);
		else
			r = fail_why(why, -errno, "%s: %m", s->path);
	}
	if (r == 0)
		r = check_database(s->path, why);
	if (r == 0)
		r = open_read_write(s, why);
	if (r < 0) {
		store_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->db && !sqlite3_get_autocommit(s->db))
		store_rollback(s);
	finalize_statements(s);
	/* Closing the last connection checkpoints the WAL into the file. */
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		log_error("%s: cannot close the database: %s", s->path, sqlite3_errmsg(s->db));
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	free(s->path);
	free(s);
}

/* ---- transactions */

int store_begin(struct store *s)
{
	return run_stmt(s, s->begin, "BEGIN");
}

int store_put(struct store *s, const struct tree_attr *attr, const char *name,
	      const void *data, size_t size)
{
	if (!name || (attr->type != TREE_DIR && attr->type != TREE_FILE))
		return -EINVAL;
	if (attr->type == TREE_DIR) {
		data = NULL;
		size = 0;
	} else if (!data) {
		data = "";
		size = 0;
	}
	size_t name_len = strlen(name);
	uint32_t crc = row_crc(attr, name, name_len, data, size);

	sqlite3_stmt *st = s->put;
	int rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)attr->inode);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)attr->parent);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)attr->version);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, attr->writer);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 5, attr->mtime);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 6, (int)attr->type);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text64(st, 7, name, name_len, SQLITE_STATIC, SQLITE_UTF8);
	if (rc == SQLITE_OK)
		rc = data ? sqlite3_bind_blob64(st, 8, data, size, SQLITE_STATIC)
			  : sqlite3_bind_null(st, 8);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 9, crc);
	if (rc != SQLITE_OK) {
		sqlite3_clear_bindings(st);
		return store_fail(s, rc, "storing an inode");
	}
	return run_stmt(s, st, "storing an inode");
}

int store_delete(struct store *s, uint64_t inode)
{
	int rc = sqlite3_bind_int64(s->delete, 1, (sqlite3_int64)inode);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "deleting an inode");
	return run_stmt(s, s->delete, "deleting an inode");
}

int store_commit(struct store *s, uint64_t version)
{
	/* The global version is not written here: every applied change leaves
	 * it on a row it touched (the inode, or its directory for a removal),
	 * so it is MAX(version) at load.  One page less per commit. */
	(void)version;
	int r = run_stmt(s, s->commit, "COMMIT");
	if (r < 0)
		store_rollback(s);
	return r;
}

void store_rollback(struct store *s)
{
	/* Safe to call when no transaction is open (SQLite may already have
	 * rolled back after an I/O error, or begin failed). */
	if (sqlite3_get_autocommit(s->db))
		return;
	(void)run_stmt(s, s->rollback, "ROLLBACK");
}

/* ---- metadata */

int store_meta_get(struct store *s, const char *key, char **value)
{
	*value = NULL;
	sqlite3_stmt *st = s->meta_get;
	int rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	int r = 0;
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		*value = strdup(text ? text : "");
		if (!*value)
			r = -ENOMEM;
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = store_fail(s, rc, "reading metadata");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = s->meta_set;
	int rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		sqlite3_clear_bindings(st);
		return store_fail(s, rc, "writing metadata");
	}
	return run_stmt(s, st, "writing metadata");
}

/* ---- loading */

/* Hands one row to the tree after checking its checksum and shape. */
static int load_row(struct store *s, sqlite3_stmt *st, struct tree *t, char **why)
{
	struct tree_attr attr = {
		.inode = (uint64_t)sqlite3_column_int64(st, 0),
		.parent = (uint64_t)sqlite3_column_int64(st, 1),
		.version = (uint64_t)sqlite3_column_int64(st, 2),
		.writer = (uint32_t)sqlite3_column_int64(st, 3),
		.mtime = sqlite3_column_int64(st, 4),
		.type = (enum tree_type)sqlite3_column_int(st, 5),
	};
	const char *name = (const char *)sqlite3_column_text(st, 6);
	size_t name_len = (size_t)sqlite3_column_bytes(st, 6);
	const void *data = NULL;
	size_t size = 0;
	if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
		data = sqlite3_column_blob(st, 7);
		size = (size_t)sqlite3_column_bytes(st, 7);
		if (!data)
			data = ""; /* zero-length blob */
	}
	int64_t stored = sqlite3_column_int64(st, 8);
	if (!name)
		return sqlite3_errcode(s->db) == SQLITE_NOMEM ? -ENOMEM
			: fail_why(why, -EUCLEAN, "%s: row of inode %" PRIu64 " has no name; "
				   RECOVERY_ADVICE, s->path, attr.inode, s->path);

	uint32_t crc = row_crc(&attr, name, name_len, data, size);
	if (stored != (int64_t)crc || strlen(name) != name_len)
		return fail_why(why, -EUCLEAN,
				"%s: row of inode %" PRIu64 " (\"%s\" in directory %" PRIu64 ")"
				" fails its checksum (stored %08" PRIx64 ", computed %08" PRIx32
				"): the database is damaged; " RECOVERY_ADVICE,
				s->path, attr.inode, name, attr.parent, (uint64_t)stored, crc, s->path);
	if ((attr.type == TREE_DIR && data) || (attr.type == TREE_FILE && !data))
		return fail_why(why, -EUCLEAN,
				"%s: row of inode %" PRIu64 " (\"%s\") has type %d and %s content; "
				RECOVERY_ADVICE, s->path, attr.inode, name, attr.type,
				data ? "file" : "no", s->path);
	attr.size = attr.type == TREE_FILE ? size : 0;

	int r = tree_load_node(t, &attr, name, data, size);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return fail_why(why, -EUCLEAN,
				"%s: row of inode %" PRIu64 " (\"%s\" in directory %" PRIu64 ")"
				" rejected by the tree: %s; " RECOVERY_ADVICE, s->path,
				attr.inode, name, attr.parent, strerror(-r), s->path);
	return 0;
}

static int load_version(struct store *s, uint64_t *version, char **why)
{
	_cleanup_free_ char *text = NULL;
	int r = store_meta_get(s, "version", &text);
	if (r == -ENOENT)
		return fail_why(why, -EUCLEAN, "%s: the global version is missing; "
				RECOVERY_ADVICE, s->path, s->path);
	if (r < 0)
		return fail_why(why, r, "%s: cannot read the global version: %s", s->path,
				strerror(-r));
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end || v == 0)
		return fail_why(why, -EUCLEAN, "%s: bad global version \"%s\"; "
				RECOVERY_ADVICE, s->path, text, s->path);
	*version = v;
	/* meta holds the version of the last full replacement; later commits
	 * are found as the highest row version. */
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT MAX(version) FROM tree", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
		uint64_t highest = (uint64_t)sqlite3_column_int64(st, 0);
		if (highest > *version)
			*version = highest;
	}
	sqlite3_finalize(st);
	return 0;
}

int store_load(struct store *s, struct tree *t, char **why)
{
	uint64_t version = 0;
	int r = load_version(s, &version, why);
	if (r < 0)
		return r;

	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, select_rows_sql, -1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		r = load_row(s, st, t, why);
		if (r < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = fail_why(why, sqlite_is_corrupt(rc) ? -EUCLEAN : errno_from_sqlite(rc),
			     "%s: cannot read the tree: %s%s", s->path, sqlite3_errmsg(s->db),
			     sqlite_is_corrupt(rc) ? "; the database is damaged" : "");
	sqlite3_finalize(st);
	if (r < 0)
		return r;

	r = tree_load_finish(t, version);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return fail_why(why, -EUCLEAN, "%s: the stored tree is inconsistent (%s); "
				RECOVERY_ADVICE, s->path, strerror(-r), s->path);
	return 0;
}

/* ---- replacing everything (state sync) */

static int put_walked_node(void *ctx, const struct tree_attr *attr, const char *name,
			   const struct tree_blob *blob)
{
	return store_put(ctx, attr, name, blob ? blob->data : NULL, blob ? blob->size : 0);
}

int store_replace_all(struct store *s, struct tree *t)
{
	struct tree_attr root;
	int r = tree_getattr(t, TREE_ROOT_INODE, &root);
	if (r < 0)
		return r;
	r = store_begin(s);
	if (r < 0)
		return r;
	int rc = sqlite3_exec(s->db, "DELETE FROM tree", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		r = store_fail(s, rc, "clearing the tree");
	if (r == 0)
		r = store_put(s, &root, "", NULL, 0);
	if (r == 0)
		r = tree_walk(t, put_walked_node, s);
	if (r == 0)
		return store_commit(s, tree_version(t));
	store_rollback(s);
	return r < 0 ? r : -EIO;
}
