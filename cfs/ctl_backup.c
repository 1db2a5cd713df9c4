/* ctl_backup.c - pvecfsctl backup, verify, restore, export, import.
 *
 * A backup is always taken by the daemon (the API call "dump", see
 * dump_call.h), which snapshots the tree under one read lock: writes go on
 * and the archive holds exactly one version.  The CLI verifies what it got
 * and re-encodes it (zstd container or tar).  Every restore path reads and
 * verifies the whole archive before it changes anything, so a damaged
 * archive changes nothing. */
#include "ctl_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glib.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "archive.h"
#include "cleanup.h"
#include "restore_diff.h"
#include "store.h"

#define DEFAULT_SOCKET "/run/pvecfs/api.sock" /* = API_CLIENT_DEFAULT_SOCKET */
#define DEFAULT_MOUNT "/etc/pve"
#define API_TIMEOUT_SEC 300

enum { OPT_SOCKET = 256, OPT_FORMAT, OPT_DATA, OPT_MOUNT, OPT_DRY_RUN, OPT_YES };

/* Options shared by the subcommands (each uses its own subset). */
struct ctl_opts {
	const char *socket, *output, *format, *data, *mount;
	bool dry_run, yes;
	int first_arg; /* optind after parsing */
};

static int parse_opts(const char *socket, int argc, char **argv, const char *usage, struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "data", required_argument, NULL, OPT_DATA },
		{ "mount", required_argument, NULL, OPT_MOUNT },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	*o = (struct ctl_opts){ .socket = socket ? socket : getenv("PVECFS_API") };
	if (!o->socket)
		o->socket = DEFAULT_SOCKET;
	optind = 0; /* full re-initialisation: pvecfsctl already ran getopt in "+" mode */
	opterr = 1;
	int c;
	while ((c = getopt_long(argc, argv, "o:hn", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET: o->socket = optarg; break;
		case 'o': o->output = optarg; break;
		case OPT_FORMAT: o->format = optarg; break;
		case OPT_DATA: o->data = optarg; break;
		case OPT_MOUNT: o->mount = optarg; break;
		case 'n': /* fallthrough */
		case OPT_DRY_RUN: o->dry_run = true; break;
		case OPT_YES: o->yes = true; break;
		case 'h': printf("usage: pvecfsctl %s\n", usage); exit(0);
		default: fprintf(stderr, "usage: pvecfsctl %s\n", usage); return -EINVAL;
		}
	}
	o->first_arg = optind;
	return 0;
}

/* ---- the dump call ---- */

static int api_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = { .tv_sec = API_TIMEOUT_SEC };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Reads lines until the reply with id 1 (events may come in between). */
static json_object *api_read_reply(int fd)
{
	g_autoptr(GString) line = g_string_new(NULL);
	char ch;
	for (;;) {
		ssize_t n = read(fd, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		if (ch != '\n') {
			g_string_append_c(line, ch);
			continue;
		}
		json_object *o = json_tokener_parse(line->str), *id;
		g_string_truncate(line, 0);
		if (o && json_object_object_get_ex(o, "id", &id) && json_object_get_int(id) == 1)
			return o;
		json_object_put(o);
	}
}

/* Asks the daemon to dump the tree into `path` (which must not exist). */
static int api_dump(const struct ctl_opts *o, const char *path)
{
	const char *sock = o->socket;
	_cleanup_close_ int fd = api_connect(sock);
	if (fd < 0) {
		fprintf(stderr, "pvecfsctl: cannot connect to the pvecfs API at %s: %s (is the daemon running?)\n", sock,
			strerror(-fd));
		return fd;
	}
	json_object *req = json_object_new_object();
	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "call", json_object_new_string("dump"));
	json_object_object_add(req, "path", json_object_new_string(path));
	g_autofree char *text = g_strconcat(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), "\n", NULL);
	json_object_put(req);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		fprintf(stderr, "pvecfsctl: cannot send to %s: %m\n", sock);
		return -EIO;
	}
	json_object *reply = api_read_reply(fd), *err;
	if (!reply) {
		fprintf(stderr, "pvecfsctl: no answer from the pvecfs API at %s\n", sock);
		return -EIO;
	}
	int r = 0;
	if (json_object_object_get_ex(reply, "error", &err)) {
		fprintf(stderr, "pvecfsctl: the daemon cannot make a backup: %s\n", json_object_get_string(err));
		r = -EIO;
	}
	json_object_put(reply);
	return r;
}

/* A verified snapshot from the daemon, via a temporary file in `dir`. */
static int fetch_snapshot(const struct ctl_opts *o, const char *dir, struct archive **out)
{
	char real[PATH_MAX];
	if (!realpath(dir, real)) {
		fprintf(stderr, "pvecfsctl: %s: %m\n", dir);
		return -errno;
	}
	g_autofree char *tmp = g_strdup_printf("%s/.pvecfs-dump-%d-%08x", real, (int)getpid(), g_random_int());
	int r = api_dump(o, tmp);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	g_autofree char *problems = NULL;
	r = archive_read_file(tmp, out, &problems);
	unlink(tmp);
	if (r < 0)
		fprintf(stderr, "pvecfsctl: the daemon's snapshot does not verify:\n%s", problems ? problems : "");
	return r;
}

/* ---- backup ---- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* Writes to <out>.tmp then renames: a failed backup leaves no half file. */
static int write_archive(const struct archive *a, const char *out, bool tar, bool zstd)
{
	if (!strcmp(out, "-"))
		return tar ? archive_write_tar(a, STDOUT_FILENO, zstd) : archive_write_container(a, STDOUT_FILENO, zstd);
	g_autofree char *tmp = g_strdup_printf("%s.tmp-%d", out, (int)getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = tar ? archive_write_tar(a, fd, zstd) : archive_write_container(a, fd, zstd);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, out) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int ctl_backup_main(const char *socket, int argc, char **argv)
{
	struct ctl_opts o;
	if (parse_opts(socket, argc, argv, "backup [-o FILE] [--format zstd|tar] [--socket PATH]", &o) < 0)
		return 2;
	if (o.first_arg != argc) {
		fprintf(stderr, "pvecfsctl backup: unexpected argument '%s'\n", argv[o.first_arg]);
		return 2;
	}
	const char *format = o.format ? o.format : "zstd";
	bool tar = !strcmp(format, "tar");
	if (!tar && strcmp(format, "zstd") != 0) {
		fprintf(stderr, "pvecfsctl backup: unknown format '%s' (zstd or tar)\n", format);
		return 2;
	}
	bool to_stdout = o.output && !strcmp(o.output, "-");
	g_autofree char *dir = o.output && !to_stdout ? g_path_get_dirname(o.output) : g_strdup(to_stdout ? "/tmp" : ".");
	struct archive *a = NULL;
	if (fetch_snapshot(&o, dir, &a) < 0)
		return 1;
	g_autofree char *name = o.output ? g_strdup(o.output)
					 : g_strdup_printf("pvecfs-backup-%s-v%llu.%s", a->node,
							   (unsigned long long)a->version, tar ? "tar" : "pvecfs");
	bool zstd = tar ? ends_with(name, ".zst") : true;
	int r = write_archive(a, name, tar, zstd);
	if (r < 0) {
		fprintf(stderr, "pvecfsctl backup: cannot write %s: %s\n", name, strerror(-r));
		archive_free(a);
		return 1;
	}
	fprintf(to_stdout ? stderr : stdout, "backup of node %s at version %llu (%zu entries, tree %.16s...) written to %s\n",
		a->node, (unsigned long long)a->version, a->n_entries, a->tree_checksum, name);
	archive_free(a);
	return 0;
}

/* ---- verify ---- */

static int read_verified(const char *cmd, const char *file, struct archive **out)
{
	g_autofree char *problems = NULL;
	int r = archive_read_file(file, out, &problems);
	if (r == 0)
		return 0;
	fputs(problems ? problems : "", stderr);
	if (r == -EBADMSG)
		fprintf(stderr, "pvecfsctl %s: %s is damaged; nothing was changed\n", cmd, file);
	else if (r == -EINVAL)
		fprintf(stderr, "pvecfsctl %s: %s is not a pvecfs backup; nothing was changed\n", cmd, file);
	return r;
}

int ctl_verify_main(const char *socket, int argc, char **argv)
{
	struct ctl_opts o;
	if (parse_opts(socket, argc, argv, "verify FILE", &o) < 0)
		return 2;
	if (argc - o.first_arg != 1) {
		fprintf(stderr, "usage: pvecfsctl verify FILE\n");
		return 2;
	}
	const char *file = argv[o.first_arg];
	struct archive *a;
	if (read_verified("verify", file, &a) < 0)
		return 1;
	printf("%s: OK: %s backup of cluster '%s' node %s at version %llu, %zu entries, tree checksum %s\n", file,
	       a->kind == ARCHIVE_TAR ? (a->compressed ? "tar.zst" : "tar") : "pvecfs", a->cluster, a->node,
	       (unsigned long long)a->version, a->n_entries, a->tree_checksum);
	archive_free(a);
	return 0;
}

/* ---- restore into a mount (and import) ---- */

/* Writes need quorum: refuse up front rather than stop half-way. */
static int check_quorate(const char *mount)
{
	g_autofree char *members_path = g_strconcat(mount, "/.members", NULL);
	g_autofree char *text = NULL;
	if (!g_file_get_contents(members_path, &text, NULL, NULL))
		return 0; /* not a pvecfs mount? the writes will tell */
	json_object *m = json_tokener_parse(text), *cluster, *quorate;
	bool ok = !m || !json_object_object_get_ex(m, "cluster", &cluster) ||
		  !json_object_object_get_ex(cluster, "quorate", &quorate) || json_object_get_int(quorate) != 0;
	json_object_put(m);
	if (!ok) {
		fprintf(stderr, "pvecfsctl: the cluster is not quorate: %s is read-only; nothing was changed\n", mount);
		return -EACCES;
	}
	return 0;
}

static int plan_and_apply(const char *cmd, const struct rd_set *want, const char *live, bool dry_run, bool yes,
			  bool needs_quorum)
{
	struct rd_plan *plan;
	g_autofree char *why = NULL;
	if (rd_plan_make(live, want, &plan, &why) < 0) {
		fprintf(stderr, "pvecfsctl %s: %s\n", cmd, why ? why : "cannot compare");
		return 1;
	}
	size_t n = rd_plan_count(plan);
	rd_plan_print(plan, stdout);
	fflush(stdout);
	int rc = 0;
	if (n == 0) {
		printf("nothing to change: %s already matches\n", live);
	} else if (dry_run) {
		printf("%zu change%s (dry run: nothing was changed)\n", n, n == 1 ? "" : "s");
	} else if (!yes) {
		fprintf(stderr, "pvecfsctl %s: add --yes to apply these %zu changes\n", cmd, n);
		rc = 2;
	} else if (needs_quorum && check_quorate(live) < 0) {
		rc = 1;
	} else if (rd_plan_apply(plan, live, &why) < 0) {
		fprintf(stderr, "pvecfsctl %s: %s; %s is partly changed, run the command again to finish\n", cmd, why,
			live);
		rc = 1;
	} else {
		printf("applied %zu change%s to %s\n", n, n == 1 ? "" : "s", live);
	}
	rd_plan_free(plan);
	return rc;
}

static int restore_to_mount(const struct archive *a, const struct ctl_opts *o)
{
	struct rd_set *want;
	rd_set_from_archive(a, &want);
	int rc = plan_and_apply("restore", want, o->mount, o->dry_run, o->yes, true);
	rd_set_free(want);
	return rc;
}

/* ---- restore into a stopped node's data directory ---- */

static int lock_data_dir(const char *data)
{
	g_autofree char *path = g_strconcat(data, "/.lock", NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "pvecfsctl restore: cannot open %s: %m\n", path);
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0)
			pid[strcspn(pid, "\n")] = 0;
		fprintf(stderr, "pvecfsctl restore: data directory %s is in use by a running pvecfs%s%s%s; stop it first "
			"(or restore through its mount with --mount); nothing was changed\n",
			data, n > 0 ? " (pid " : "", n > 0 ? pid : "", n > 0 ? ")" : "");
		close(fd);
		return -EBUSY;
	}
	return fd;
}

/* A new database holding exactly the archive's tree, in a fresh directory. */
static int build_db(const struct archive *a, const char *dir)
{
	struct tree *t;
	int r = archive_build_tree(a, &t);
	if (r < 0)
		return r;
	struct store *s;
	g_autofree char *why = NULL;
	r = store_open(dir, &s, &why);
	if (r == 0) {
		r = store_replace_all(s, t);
		store_close(s);
	} else {
		fprintf(stderr, "pvecfsctl restore: %s\n", why ? why : "cannot create the database");
	}
	tree_free(t);
	return r;
}

/* The old database moves aside as config.db.before-restore (with its WAL,
 * if a crash left one); then the new one is renamed into place. */
static int swap_db(const char *data, const char *newdir)
{
	g_autofree char *db = g_strconcat(data, "/config.db", NULL);
	g_autofree char *old = g_strconcat(data, "/config.db.before-restore", NULL);
	g_autofree char *fresh = g_strconcat(newdir, "/config.db", NULL);
	if (access(db, F_OK) == 0) {
		const char *side[] = { "-wal", "-shm" };
		for (size_t i = 0; i < ARRAY_SIZE(side); i++) {
			g_autofree char *from = g_strconcat(db, side[i], NULL);
			g_autofree char *to = g_strconcat(old, side[i], NULL);
			unlink(to);
			if (rename(from, to) < 0 && errno != ENOENT)
				return -errno;
		}
		unlink(old);
		if (link(db, old) < 0)
			return -errno;
	}
	if (rename(fresh, db) < 0)
		return -errno;
	_cleanup_close_ int dfd = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

static void remove_dir(const char *dir)
{
	const char *names[] = { "config.db", "config.db-wal", "config.db-shm" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		g_autofree char *p = g_strconcat(dir, "/", names[i], NULL);
		unlink(p);
	}
	rmdir(dir);
}

/* Reads the restored database back: it must give the archive's tree. */
static int check_restored(const struct archive *a, const char *data)
{
	struct store *s;
	struct tree *t;
	g_autofree char *why = NULL;
	struct tree_limits limits = { SIZE_MAX / 2, SIZE_MAX / 2, SIZE_MAX / 2 };
	int r = store_open(data, &s, &why);
	if (r < 0)
		return r;
	r = tree_new(&limits, &t);
	if (r == 0) {
		r = store_load(s, t, &why);
		char sum[65];
		tree_checksum(t, sum);
		if (r == 0 && strcmp(sum, a->tree_checksum) != 0)
			r = -EIO;
		tree_free(t);
	}
	store_close(s);
	return r;
}

static int restore_to_data(const struct archive *a, const struct ctl_opts *o)
{
	if (mkdir(o->data, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "pvecfsctl restore: cannot create %s: %m\n", o->data);
		return 1;
	}
	_cleanup_close_ int lock = lock_data_dir(o->data);
	if (lock < 0)
		return 1;
	if (o->dry_run) {
		printf("would replace %s/config.db with version %llu (%zu entries); the old one would be kept as "
		       "config.db.before-restore\n", o->data, (unsigned long long)a->version, a->n_entries);
		return 0;
	}
	g_autofree char *newdir = g_strdup_printf("%s/.restore-%d", o->data, (int)getpid());
	remove_dir(newdir);
	if (mkdir(newdir, 0700) < 0) {
		fprintf(stderr, "pvecfsctl restore: cannot create %s: %m\n", newdir);
		return 1;
	}
	int r = build_db(a, newdir);
	if (r == 0)
		r = swap_db(o->data, newdir);
	remove_dir(newdir);
	if (r < 0) {
		fprintf(stderr, "pvecfsctl restore: cannot write the new database in %s: %s; %s/config.db is unchanged\n",
			o->data, strerror(-r), o->data);
		return 1;
	}
	if (check_restored(a, o->data) < 0) {
		fprintf(stderr, "pvecfsctl restore: the restored database in %s does not read back as the archive's tree; "
			"the previous one is %s/config.db.before-restore\n", o->data, o->data);
		return 1;
	}
	printf("restored version %llu (%zu entries) into %s/config.db; the previous database is kept as "
	       "config.db.before-restore\n", (unsigned long long)a->version, a->n_entries, o->data);
	return 0;
}

int ctl_restore_main(const char *socket, int argc, char **argv)
{
	static const char usage[] = "restore FILE (--data DIR | --mount DIR [--dry-run] [--yes])";
	struct ctl_opts o;
	if (parse_opts(socket, argc, argv, usage, &o) < 0)
		return 2;
	if (argc - o.first_arg != 1 || !o.data == !o.mount) {
		fprintf(stderr, "usage: pvecfsctl %s\n", usage);
		return 2;
	}
	struct archive *a;
	if (read_verified("restore", argv[o.first_arg], &a) < 0)
		return 1;
	int rc = o.data ? restore_to_data(a, &o) : restore_to_mount(a, &o);
	archive_free(a);
	return rc;
}

/* ---- export / import ---- */

int ctl_export_main(const char *socket, int argc, char **argv)
{
	static const char usage[] = "export DIR [--mount M | --socket PATH]";
	struct ctl_opts o;
	if (parse_opts(socket, argc, argv, usage, &o) < 0)
		return 2;
	if (argc - o.first_arg != 1) {
		fprintf(stderr, "usage: pvecfsctl %s\n", usage);
		return 2;
	}
	const char *dir = argv[o.first_arg];
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "pvecfsctl export: cannot create %s: %m\n", dir);
		return 1;
	}
	struct archive *a = NULL;
	struct rd_set *want = NULL;
	g_autofree char *why = NULL;
	if (o.mount) {
		/* Read through the mount: simple, but not one version. */
		if (rd_set_from_dir(o.mount, &want, &why) < 0) {
			fprintf(stderr, "pvecfsctl export: %s\n", why);
			return 1;
		}
	} else {
		if (fetch_snapshot(&o, dir, &a) < 0)
			return 1;
		rd_set_from_archive(a, &want);
	}
	int rc = plan_and_apply("export", want, dir, false, true, false);
	rd_set_free(want);
	archive_free(a);
	return rc;
}

int ctl_import_main(const char *socket, int argc, char **argv)
{
	static const char usage[] = "import DIR [--mount M] [--dry-run] [--yes]";
	struct ctl_opts o;
	if (parse_opts(socket, argc, argv, usage, &o) < 0)
		return 2;
	if (argc - o.first_arg != 1) {
		fprintf(stderr, "usage: pvecfsctl %s\n", usage);
		return 2;
	}
	struct rd_set *want;
	g_autofree char *why = NULL;
	if (rd_set_from_dir(argv[o.first_arg], &want, &why) < 0) {
		fprintf(stderr, "pvecfsctl import: %s; nothing was changed\n", why);
		return 1;
	}
	int rc = plan_and_apply("import", want, o.mount ? o.mount : DEFAULT_MOUNT, o.dry_run, o.yes, true);
	rd_set_free(want);
	return rc;
}
