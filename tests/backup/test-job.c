/* test-job.c - backup jobs (jobs.cfg parsing, selection, due slots, the
 * schedule state file) and the archive streams (tar over zstd/gzip/plain,
 * damage and truncation detected).  TZ=UTC. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bkstream.h"
#include "job.h"
#include "joblock.h"
#include "testlib.h"

static time_t utc(const char *text)
{
	struct tm tm = { 0 };
	if (!strptime(text, "%Y-%m-%d %H:%M", &tm))
		abort();
	return timegm(&tm);
}

static int parse(const char *text, struct job_list *jobs, char *err, size_t errlen)
{
	return job_list_parse(text, strlen(text), "jobs.cfg", jobs, err, errlen);
}

static void test_parse_vzdump_and_tree_jobs(void)
{
	struct job_list jobs;
	char err[512] = "";
	const char *text = "vzdump: b1\n\tschedule sat 02:00\n\tall 1\n\texclude 102\n\tnode n1,n2\n"
			   "\tmode stop\n\tcompress gzip\n\tprune-backups keep-last=3\n\tbwlimit 1024\n"
			   "\tnotes-template {{guestname}}\n\n"
			   "pvecfs-tree: t1\n\tschedule daily\n\tstorage backup\n\tenabled 0\n\n"
			   "other: x\n\tfoo bar\n";
	CHECK_INT(parse(text, &jobs, err, sizeof(err)), 0);
	CHECK_INT(jobs.n, 2);
	const struct job *b = job_find(&jobs, "b1"), *t = job_find(&jobs, "t1");
	CHECK(b && t && !job_find(&jobs, "x"));
	CHECK_INT(b->kind, JOB_VZDUMP);
	CHECK(b->enabled && b->all && b->has_prune && b->prune.keep[PRUNE_KEEP_LAST] == 3);
	CHECK_STR(b->mode, "stop");
	CHECK_STR(b->storage, "local");
	CHECK_INT(b->compress, BK_COMPRESS_GZIP);
	CHECK_INT(b->bwlimit_kib, 1024);
	CHECK(job_selects(b, 100) && !job_selects(b, 102));
	CHECK(job_runs_on(b, "n2") && !job_runs_on(b, "n3"));
	CHECK_INT(t->kind, JOB_TREE);
	CHECK(!t->enabled && job_runs_on(t, "n9"));
	CHECK_STR(t->storage, "backup");
	CHECK_INT(t->compress, BK_COMPRESS_ZSTD);
	job_list_clear(&jobs);
}

static void test_vmid_list_selects_only_those(void)
{
	struct job_list jobs;
	char err[512];
	CHECK_INT(parse("vzdump: b\n\tschedule daily\n\tvmid 100,105\n", &jobs, err, sizeof(err)), 0);
	CHECK(job_selects(&jobs.jobs[0], 105) && !job_selects(&jobs.jobs[0], 101));
	job_list_clear(&jobs);
}

static void test_bad_files_are_refused_whole(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "vzdump: b\n\tschedule mon..xyz\n\tvmid 100\n", "jobs.cfg:2: key 'schedule'" },
		{ "vzdump: b\n\tschedule daily\n\tvmid 100\n\tcompress lzo\n", "key 'compress'" },
		{ "vzdump: b\n\tschedule daily\n", "names no guests" },
		{ "vzdump: b\n\tschedule daily\n\tvmid 100\n\tmode sleepy\n", "key 'mode'" },
		{ "pvecfs-tree: t\n\tstorage local\n", "key 'schedule': required" },
		{ "pvecfs-tree: t\n\tschedule daily\n\tprune-backups keep-often=2\n", "key 'prune-backups'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct job_list jobs = { 0 };
		char err[512] = "";
		CHECK_INT(parse(cases[i].text, &jobs, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].want)) {
			fprintf(stderr, "  case %zu: '%s' does not contain '%s'\n", i, err, cases[i].want);
			testlib_failed = 1;
			return;
		}
		CHECK_INT(jobs.n, 0);
	}
}

static void test_due_slot_is_the_most_recent_once(void)
{
	struct job_list jobs;
	char err[512];
	CHECK_INT(parse("pvecfs-tree: t\n\tschedule daily\n", &jobs, err, sizeof(err)), 0);
	const struct job *j = &jobs.jobs[0];
	time_t now = utc("2024-03-10 12:00");
	/* Three midnights missed: only the latest is due. */
	CHECK_INT(job_due_slot(j, utc("2024-03-07 12:00"), now), utc("2024-03-10 00:00"));
	/* Handled it: nothing more is due until the next midnight. */
	CHECK_INT(job_due_slot(j, utc("2024-03-10 00:00"), now), 0);
	CHECK_INT(job_next_slot(j, now), utc("2024-03-11 00:00"));
	/* A very old last run: at most a year back, still one slot. */
	CHECK_INT(job_due_slot(j, utc("2000-01-01 00:00"), now), utc("2024-03-10 00:00"));
	job_list_clear(&jobs);
}

static void test_state_file_round_trip(void)
{
	char path[] = "/tmp/test-job-state.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	unlink(path);
	struct job_state st;
	CHECK_INT(job_state_load(path, &st), 0); /* missing: empty */
	CHECK_INT(st.n, 0);
	CHECK_INT(job_state_set(&st, "a", 100), 0);
	CHECK_INT(job_state_set(&st, "b", 200), 0);
	CHECK_INT(job_state_set(&st, "a", 300), 0);
	CHECK_INT(job_state_save(path, &st), 0);
	job_state_clear(&st);
	CHECK_INT(job_state_load(path, &st), 0);
	CHECK_INT(job_state_get(&st, "a"), 300);
	CHECK_INT(job_state_get(&st, "b"), 200);
	CHECK_INT(job_state_get(&st, "c"), 0);
	job_state_clear(&st);
	unlink(path);
}

/* ---- streams ---- */

static int write_sample(const char *path, enum bk_compress c, size_t big)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	struct bkstream_out *out = NULL;
	int r = bkstream_out_open(fd, c, &out);
	char *data = malloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 7 + i / 1000);
	if (r == 0)
		r = tar_write_header(out, "a.txt", 5, 0);
	if (r == 0)
		r = bkstream_out_write(out, "hello", 5);
	if (r == 0)
		r = tar_write_padding(out, 5);
	if (r == 0)
		r = tar_write_header(out, "disks/b.raw", big, 0);
	if (r == 0)
		r = bkstream_out_write(out, data, big);
	if (r == 0)
		r = tar_write_padding(out, big);
	if (r == 0)
		r = tar_write_end(out);
	if (r == 0)
		r = bkstream_out_finish(out);
	bkstream_out_free(out);
	free(data);
	close(fd);
	return r;
}

/* Reads the sample back: 0 if it is intact, else the first error. */
static int read_sample(const char *path, size_t big)
{
	int fd = open(path, O_RDONLY);
	struct bkstream_in *in = NULL;
	int r = bkstream_in_open(fd, &in);
	char name[TAR_NAME_MAX + 2], buf[16];
	uint64_t size;
	if (r == 0 && (r = tar_read_header(in, name, &size)) == 1)
		r = strcmp(name, "a.txt") || size != 5 ? -EINVAL : 0;
	if (r == 0 && (r = bkstream_in_read_full(in, buf, 5)) == 0)
		r = memcmp(buf, "hello", 5) ? -EINVAL : tar_skip_padding(in, 5);
	if (r == 0 && (r = tar_read_header(in, name, &size)) == 1)
		r = strcmp(name, "disks/b.raw") || size != big ? -EINVAL : 0;
	char *data = malloc(big);
	if (r == 0 && (r = bkstream_in_read_full(in, data, big)) == 0)
		for (size_t i = 0; i < big && r == 0; i++)
			if (data[i] != (char)(i * 7 + i / 1000))
				r = -EINVAL;
	if (r == 0 && (r = tar_skip_padding(in, big)) == 0)
		r = tar_read_header(in, name, &size); /* 0: end */
	free(data);
	bkstream_in_free(in);
	close(fd);
	return r;
}

static void test_streams_round_trip(void)
{
	const enum bk_compress kinds[] = { BK_COMPRESS_NONE, BK_COMPRESS_GZIP, BK_COMPRESS_ZSTD };
	char path[] = "/tmp/test-job-stream.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	for (size_t i = 0; i < 3; i++) {
		CHECK_INT(write_sample(path, kinds[i], 3 * 1024 * 1024 + 17), 0);
		CHECK_INT(read_sample(path, 3 * 1024 * 1024 + 17), 0);
		/* Cut in the middle: reported, never a silent short read. */
		struct stat st;
		CHECK_INT(stat(path, &st), 0);
		CHECK_INT(truncate(path, st.st_size / 2), 0);
		int r = read_sample(path, 3 * 1024 * 1024 + 17);
		CHECK(r == -EPIPE || r == -EBADMSG);
	}
	unlink(path);
}

static void test_bad_tar_header_is_refused(void)
{
	char path[] = "/tmp/test-job-tar.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(write_sample(path, BK_COMPRESS_NONE, 100), 0);
	fd = open(path, O_WRONLY);
	CHECK(pwrite(fd, "X", 1, 3) == 1); /* the name: checksum no longer matches */
	close(fd);
	CHECK_INT(read_sample(path, 100), -EBADMSG);
	unlink(path);
	struct bkstream_out *out = NULL;
	CHECK_INT(bkstream_out_open(-1, BK_COMPRESS_NONE, &out), 0);
	char longname[120];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_INT(tar_write_header(out, longname, 1, 0), -ENAMETOOLONG);
	bkstream_out_free(out);
}

/* The stagger offset is a pure function of (job, node), inside
 * 0..max*1000 ms, 0 when staggering is off, and spreads node/job pairs. */
static void test_stagger_is_deterministic_per_job_and_node(void)
{
	CHECK_INT(job_stagger_ms("job1", "n1", 0), 0);
	CHECK_INT(job_stagger_ms("job1", "n1", 60), job_stagger_ms("job1", "n1", 60));
	/* FNV-1a of "job1\nn1", by hand: fixes the function across versions. */
	uint32_t h = 2166136261u;
	for (const char *p = "job1\nn1"; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	CHECK_INT(job_stagger_ms("job1", "n1", 60), (int)(h % 60001));
	unsigned distinct = 0, seen[16];
	char node[8];
	for (int i = 0; i < 16; i++) {
		snprintf(node, sizeof(node), "n%d", i);
		unsigned ms = job_stagger_ms("job1", node, 300);
		CHECK(ms <= 300000);
		bool dup = false;
		for (unsigned k = 0; k < distinct; k++)
			dup = dup || seen[k] == ms;
		if (!dup)
			seen[distinct++] = ms;
	}
	CHECK(distinct >= 14); /* 16 nodes out of 300001 values: collisions are rare */
	CHECK(job_stagger_ms("job1", "n1", 300) != job_stagger_ms("job2", "n1", 300));
	CHECK(job_stagger_ms("ab", "c", 1) <= 1000);
	/* The separator matters: ("a", "bc") and ("ab", "c") differ. */
	CHECK(job_stagger_ms("a", "bc", 3600) != job_stagger_ms("ab", "c", 3600));
}

/* `stagger S` on a job overrides the daemon's default; absent means -1. */
static void test_stagger_key(void)
{
	struct job_list jobs;
	char err[256];
	const char *good = "vzdump: b\n\tschedule daily\n\tvmid 100\n\tstagger 30\n\n"
			   "pvecfs-tree: t\n\tschedule daily\n";
	const char *bad = "vzdump: b\n\tschedule daily\n\tvmid 100\n\tstagger soon\n";
	CHECK_INT(job_list_parse(good, strlen(good), "jobs.cfg", &jobs, err, sizeof(err)), 0);
	CHECK_INT(jobs.n, 2);
	CHECK_INT(jobs.jobs[0].stagger_s, 30);
	CHECK_INT(jobs.jobs[1].stagger_s, -1);
	job_list_clear(&jobs);
	CHECK_INT(job_list_parse(bad, strlen(bad), "jobs.cfg", &jobs, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "stagger") != NULL);
}

/* Lock names: the job id may contain '-', the slot is digits, a guest
 * job's lock ends in exactly -<node>. */
static void test_lock_names_give_their_slot(void)
{
	time_t slot = 0;
	CHECK(joblock_name_slot("backup-t1-1700000000", "t1", NULL, &slot));
	CHECK_INT((long long)slot, 1700000000LL);
	CHECK(joblock_name_slot("backup-a-b-c-42-n1", "a-b-c", "n1", &slot));
	CHECK_INT((long long)slot, 42LL);
	CHECK(!joblock_name_slot("backup-a-b-c-42-n1", "a-b-c", "n2", &slot));   /* another node */
	CHECK(!joblock_name_slot("backup-a-b-c-42-n1", "a-b-c", "n", &slot));    /* node prefix only */
	CHECK(!joblock_name_slot("backup-a-b-c-42-n1", "a-b-c", NULL, &slot));   /* a tree lock has no node */
	CHECK(!joblock_name_slot("backup-t1-1700000000", "t1", "n1", &slot));    /* no node where one is needed */
	CHECK(!joblock_name_slot("backup-t1x-1700000000", "t1", NULL, &slot));   /* another job */
	CHECK(!joblock_name_slot("backup-a-1-1700000000", "a", NULL, &slot));    /* job "a-1", not "a" */
	CHECK(!joblock_name_slot("backup-t1-", "t1", NULL, &slot));              /* no slot */
	CHECK(!joblock_name_slot("backup-t1-12x", "t1", NULL, &slot));
	CHECK(!joblock_name_slot("ha-t1-12", "t1", NULL, &slot));
	CHECK(!joblock_name_slot("backup-t1-99999999999999999999", "t1", NULL, &slot)); /* too long */
}

/* Any backup lock name gives its job id (to find locks of removed jobs). */
static void test_lock_names_give_their_job(void)
{
	char id[16];
	CHECK(joblock_name_job("backup-a-b-c-42-n1", "n1", id, sizeof(id)));
	CHECK_STR(id, "a-b-c");
	CHECK(joblock_name_job("backup-t1-1700000000", NULL, id, sizeof(id)));
	CHECK_STR(id, "t1");
	CHECK(!joblock_name_job("backup-a-42-n2", "n1", id, sizeof(id)));        /* another node's */
	CHECK(!joblock_name_job("backup-a-42-n2", NULL, id, sizeof(id)));        /* not a tree lock either */
	CHECK(!joblock_name_job("backup-42", NULL, id, sizeof(id)));             /* no id */
	CHECK(!joblock_name_job("backup--42", NULL, id, sizeof(id)));            /* empty id */
	CHECK(!joblock_name_job("backup-a-x", NULL, id, sizeof(id)));            /* no slot */
	CHECK(!joblock_name_job("backup-a-b-c-d-e-f-g-h-1", NULL, id, 8));      /* id does not fit */
	CHECK(!joblock_name_job("other-a-1", NULL, id, sizeof(id)));
}

static const struct test tests[] = {
	TEST(test_stagger_key),
	TEST(test_lock_names_give_their_job),
	TEST(test_stagger_is_deterministic_per_job_and_node),
	TEST(test_parse_vzdump_and_tree_jobs),
	TEST(test_vmid_list_selects_only_those),
	TEST(test_bad_files_are_refused_whole),
	TEST(test_due_slot_is_the_most_recent_once),
	TEST(test_state_file_round_trip),
	TEST(test_streams_round_trip),
	TEST(test_bad_tar_header_is_refused),
	TEST(test_lock_names_give_their_slot),
};

int main(int argc, char **argv)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return testlib_run(tests, sizeof(tests) / sizeof(tests[0]), argv[0], argc, argv);
}
