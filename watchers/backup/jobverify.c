/* jobverify.c - `pvecfs-backup job-verify JOBID`: the restore drill of a
 * backup job (also reached as `pvecfsctl backup-job verify JOBID`).
 *
 * A backup nobody ever restored is a hope, not a backup.  The drill takes
 * the job from jobs.cfg, finds its `dir` storage's dump directory through
 * storage.cfg and then:
 *   vzdump job:      for each guest the job selects that has archives in the
 *                    dump directory, the newest archive is unpacked into a
 *                    scratch directory and every member checked against its
 *                    manifest (vmbackup_verify, as `restore-test`);
 *   pvecfs-tree job: the newest pvecfs-tree-<id>-*.pvecfs archive must pass
 *                    `pvecfsctl verify` and `pvecfsctl restore --data` into a
 *                    scratch data directory, which rebuilds config.db and
 *                    reads it back comparing the tree checksum with the
 *                    manifest's (docs/backup.md "Restore").
 * Scratch directories are removed afterwards.  It reads the files directly
 * (no daemon needed for a guest job), so it works on any node that sees
 * the storage.  Exit status 0 every archive passed, 1 a failure or nothing
 * to verify, 2 bad usage. */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup_archive.h"
#include "cleanup.h"
#include "job.h"
#include "schemas.h"
#include "sectioncfg.h"
#include "vmbackup.h"
#include "watchloop.h"

#define EXIT_USAGE 2

struct drill {
	const char *root;
	const char *tmp_base;
	const char *pvecfsctl;
	const char *socket;
	char dump_dir[PATH_MAX];
	unsigned ok, failed;
};

static void drop_warning(void *userdata, const struct parse_error *w)
{
	(void)userdata;
	(void)w;
}

static int load_job(const struct drill *dr, const char *id, struct job_list *jobs, const struct job **job)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	char err[512];
	if (asprintf(&path, "%s/jobs.cfg", dr->root) < 0)
		return -ENOMEM;
	ssize_t len = watch_read_file(path, &text);
	if (len < 0) {
		fprintf(stderr, "pvecfs-backup: cannot read %s: %s\n", path, strerror((int)-len));
		return (int)len;
	}
	if (job_list_parse(text, (size_t)len, "jobs.cfg", jobs, err, sizeof(err)) < 0) {
		fprintf(stderr, "pvecfs-backup: %s\n", err);
		return -EINVAL;
	}
	*job = job_find(jobs, id);
	if (!*job) {
		fprintf(stderr, "pvecfs-backup: no backup job '%s' in %s\n", id, path);
		return -ENOENT;
	}
	return 0;
}

/* The dump directory of the job's storage (a `dir` storage). */
static int find_dump_dir(struct drill *dr, const struct job *job)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	if (asprintf(&path, "%s/storage.cfg", dr->root) < 0)
		return -ENOMEM;
	ssize_t len = watch_read_file(path, &text);
	if (len < 0) {
		fprintf(stderr, "pvecfs-backup: cannot read %s: %s\n", path, strerror((int)-len));
		return (int)len;
	}
	struct sectioncfg *cfg = NULL;
	struct parse_error pe;
	parse_error_clear(&pe);
	if (sectioncfg_parse(text, (size_t)len, "storage.cfg", &schema_storage_cfg, drop_warning, NULL, &cfg, &pe) < 0) {
		char t[PARSE_ERROR_TEXT_MAX];
		fprintf(stderr, "pvecfs-backup: %s\n", parse_error_format(&pe, t, sizeof(t)));
		return -EINVAL;
	}
	int r = 0;
	const struct sectioncfg_section *s = sectioncfg_find(cfg, NULL, job->storage);
	if (!s) {
		fprintf(stderr, "pvecfs-backup: storage '%s' does not exist in storage.cfg\n", job->storage);
		r = -ENOENT;
	} else if (strcmp(s->type, "dir") != 0) {
		fprintf(stderr, "pvecfs-backup: storage '%s' is of type '%s'; backups live on dir storages only\n",
			job->storage, s->type);
		r = -EOPNOTSUPP;
	} else if (snprintf(dr->dump_dir, sizeof(dr->dump_dir), "%s/dump", sectioncfg_get(s, "path")) >=
		   (int)sizeof(dr->dump_dir)) {
		r = -ENAMETOOLONG;
	}
	sectioncfg_free(cfg);
	return r;
}

static void report(struct drill *dr, const char *what, const char *name, int r, const char *err)
{
	if (r == 0) {
		dr->ok++;
		printf("ok %s %s\n", what, name);
	} else {
		dr->failed++;
		printf("FAILED %s %s: %s\n", what, name, err && *err ? err : strerror(-r));
	}
}

static int cmp_by_vmid(const void *a, const void *b)
{
	const struct backup_archive *x = a, *y = b;
	return x->vmid < y->vmid ? -1 : x->vmid > y->vmid;
}

static int drill_guests(struct drill *dr, const struct job *job)
{
	_cleanup_free_ struct backup_archive *all = NULL;
	size_t n = 0, n_newest = 0;
	int r = backup_archive_list(dr->dump_dir, 0, &all, &n);
	if (r == -ENOENT)
		n = 0; /* no dump directory yet: no archive */
	else if (r < 0) {
		fprintf(stderr, "pvecfs-backup: cannot list %s: %s\n", dr->dump_dir, strerror(-r));
		return r;
	}
	/* Keep the newest qemu archive of each selected guest, in place. */
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i].type, "qemu") != 0 || !job_selects(job, all[i].vmid))
			continue;
		size_t j = 0;
		while (j < n_newest && all[j].vmid != all[i].vmid)
			j++;
		if (j == n_newest)
			all[n_newest++] = all[i];
		else if (all[i].time > all[j].time)
			all[j] = all[i];
	}
	if (n_newest == 0) {
		fprintf(stderr, "pvecfs-backup: job %s has no guest archive in %s\n", job->id, dr->dump_dir);
		return -ENOENT;
	}
	qsort(all, n_newest, sizeof(*all), cmp_by_vmid);
	for (size_t i = 0; i < n_newest; i++) {
		char path[PATH_MAX + NAME_MAX + 2], err[600] = "", what[32];
		snprintf(path, sizeof(path), "%s/%s", dr->dump_dir, all[i].name);
		snprintf(what, sizeof(what), "vm %u", all[i].vmid);
		printf("# restoring %s\n", path);
		fflush(stdout);
		r = vmbackup_verify(path, dr->tmp_base, false, stdout, err, sizeof(err));
		report(dr, what, all[i].name, r, err);
	}
	return 0;
}

/* Runs pvecfsctl [--socket S] ARGS...; stdout goes to our stdout. */
static int run_ctl(const struct drill *dr, const char *const *args, char *err, size_t errlen)
{
	const char *argv[12];
	size_t i = 0;
	argv[i++] = dr->pvecfsctl;
	if (dr->socket) {
		argv[i++] = "--socket";
		argv[i++] = dr->socket;
	}
	for (; *args && i < ARRAY_SIZE(argv) - 1; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(err, errlen, "pvecfsctl %s failed (%s %d)", argv[dr->socket ? 3 : 1],
		 WIFEXITED(status) ? "exit status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -EIO;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int drill_tree(struct drill *dr, const struct job *job)
{
	DIR *dir = opendir(dr->dump_dir);
	if (!dir && errno == ENOENT) {
		fprintf(stderr, "pvecfs-backup: job %s has no tree archive: %s does not exist\n", job->id, dr->dump_dir);
		return -ENOENT;
	}
	if (!dir) {
		fprintf(stderr, "pvecfs-backup: cannot list %s: %s\n", dr->dump_dir, strerror(errno));
		return -errno;
	}
	char newest[NAME_MAX + 1] = "";
	time_t newest_t = 0, t;
	struct dirent *e;
	while ((e = readdir(dir)))
		if (backup_tree_archive_time(e->d_name, job->id, &t) && (!newest[0] || t > newest_t)) {
			newest_t = t;
			snprintf(newest, sizeof(newest), "%s", e->d_name);
		}
	closedir(dir);
	if (!newest[0]) {
		fprintf(stderr, "pvecfs-backup: job %s has no tree archive in %s\n", job->id, dr->dump_dir);
		return -ENOENT;
	}
	char path[PATH_MAX + NAME_MAX + 2], scratch[PATH_MAX], err[300] = "";
	snprintf(path, sizeof(path), "%s/%s", dr->dump_dir, newest);
	printf("# verifying %s\n", path);
	const char *verify[] = { "verify", path, NULL };
	int r = run_ctl(dr, verify, err, sizeof(err));
	report(dr, "tree-verify", newest, r, err);
	if (r < 0)
		return 0;
	const char *base = dr->tmp_base ? dr->tmp_base : getenv("TMPDIR");
	snprintf(scratch, sizeof(scratch), "%s/pvecfs-drill-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(scratch)) {
		snprintf(err, sizeof(err), "cannot create a scratch directory under %s: %s",
			 base && *base ? base : "/tmp", strerror(errno));
		report(dr, "tree-restore", newest, -errno, err);
		return 0;
	}
	printf("# restoring %s into %s\n", newest, scratch);
	const char *restore[] = { "restore", path, "--data", scratch, NULL };
	r = run_ctl(dr, restore, err, sizeof(err));
	report(dr, "tree-restore", newest, r, err);
	nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int backup_cmd_job_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "tmpdir", required_argument, NULL, 't' },
		{ "pvecfsctl", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct drill dr = { .root = "/etc/pve", .pvecfsctl = "pvecfsctl" };
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': dr.root = optarg; break;
		case 't': dr.tmp_base = optarg; break;
		case 'p': dr.pvecfsctl = optarg; break;
		case 's': dr.socket = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: pvecfs-backup job-verify JOBID [--root DIR] [--tmpdir DIR] [--pvecfsctl PATH] "
				"[--socket PATH]\n");
		return EXIT_USAGE;
	}
	const char *id = argv[optind];
	struct job_list jobs = { 0 };
	const struct job *job = NULL;
	int r = load_job(&dr, id, &jobs, &job);
	if (r == 0)
		r = find_dump_dir(&dr, job);
	if (r == 0)
		r = job->kind == JOB_TREE ? drill_tree(&dr, job) : drill_guests(&dr, job);
	if (r == 0)
		printf("job %s: %u archive check(s) passed, %u failed\n", id, dr.ok, dr.failed);
	job_list_clear(&jobs);
	return r < 0 || dr.failed ? 1 : 0;
}
