/* fsbench.c - file system micro-benchmarks for `make bench` (tests/bench/run).
 *
 * pvecfs replaces pmxcfs, whose published figures are per-operation rates of
 * a handful of workloads that Proxmox VE actually performs on /etc/pve:
 * writing VM configs, reading and stat-ing them (the GUI and the daemons
 * poll), listing the config directory, saving a file by writing a temporary
 * and renaming it over the target, taking a lock by mkdir/rmdir, writing a
 * large-ish file, and several processes writing at once.  This program runs
 * those workloads against any directory, so the same binary measures pvecfs,
 * tmpfs and a FUSE passthrough file system, and prints one machine-readable
 * line per workload:
 *
 *   fsbench workload=create ops=2000 seconds=0.1473 ops_per_s=13577.5 p50_us=61.2 p99_us=190.4
 *
 * Every operation is timed on its own (CLOCK_MONOTONIC) to get p50/p99
 * latencies; ops/s is the operation count over the summed wall time of the
 * timed loop (for the parallel writers: over the wall time from the start
 * signal until the last writer finished).  Untimed setup and cleanup steps
 * (creating files a workload needs, removing what it left) are kept out of
 * the numbers.
 *
 * The "many" mode fills a tree with 100,000 small files and prints the
 * resident memory of a daemon (given by --pid) next to the bytes stored, so
 * the run script can compare memory use with what the tree holds.
 *
 * Any failed system call prints "fsbench: <workload>: <call> <path>: <error>"
 * on stderr and exits 1: a benchmark that silently measures failures would
 * report nonsense speeds.  Usage errors exit 2. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

#define CONF_SIZE 512
#define OVERWRITE_SIZE 4096
#define BIG_CHUNK (64 * 1024)
#define BIG_CHUNKS 16 /* 1 MiB: the default --max-file-size of pvecfs */
#define FIRST_VMID 100
#define PARALLEL_FIRST_VMID 1000000u
#define PARALLEL_VMID_STRIDE 100000u
#define OVERWRITE_NAME "99998.conf"
#define RENAME_NAME "99999.conf"
#define BIG_NAME "bench-1m.bin"
#define LOCK_NAME "bench-lock"

struct bench_opts {
	const char *dir;      /* where the workloads run */
	const char *lockdir;  /* parent of the lock directory (default: dir) */
	unsigned files;       /* VM configs for create/read/stat/readdir/unlink */
	unsigned iters;       /* overwrite, rename and lock cycles */
	unsigned warm_passes; /* stat passes after the first (cold) one */
	unsigned readdir_iters;
	unsigned big_iters;   /* 1 MiB files written */
	unsigned writers;     /* parallel writer processes */
	unsigned many_dirs, many_per_dir;
	pid_t daemon_pid;     /* for "many": whose RSS to report */
};

/* Latency samples of one workload, in microseconds. */
struct samples {
	double *us;
	size_t n, cap;
	double seconds; /* summed wall time of the timed operations */
};

static void samples_free(struct samples *s) { free(s->us); }
#define _cleanup_samples_ _cleanup_(samples_free)

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int samples_init(struct samples *s, size_t cap)
{
	*s = (struct samples){ .us = calloc(cap ? cap : 1, sizeof(double)), .cap = cap };
	return s->us ? 0 : -ENOMEM;
}

static void samples_add(struct samples *s, int64_t start_ns, int64_t end_ns)
{
	double us = (double)(end_ns - start_ns) / 1000.0;
	if (s->n < s->cap)
		s->us[s->n++] = us;
	s->seconds += us / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double percentile(const double *sorted, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static void report(const char *workload, struct samples *s, double wall_seconds)
{
	qsort(s->us, s->n, sizeof(double), cmp_double);
	double secs = wall_seconds > 0 ? wall_seconds : s->seconds;
	printf("fsbench workload=%s ops=%zu seconds=%.4f ops_per_s=%.1f p50_us=%.1f p99_us=%.1f\n",
	       workload, s->n, secs, secs > 0 ? (double)s->n / secs : 0.0,
	       percentile(s->us, s->n, 50), percentile(s->us, s->n, 99));
	fflush(stdout);
}

/* Prints the failed call and returns the negative errno it carried. */
static int fail(const char *workload, const char *call, const char *path, int r)
{
	fprintf(stderr, "fsbench: %s: %s %s: %s\n", workload, call, path, strerror(-r));
	return r;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* open(O_WRONLY|O_CREAT|O_TRUNC) + write + close: how editors and PVE's
 * own tools write a file.  The close counts: pvecfs commits there. */
static int put_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	int r = write_all(fd, buf, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

/* A plausible 512-byte VM config; the padding is a description comment. */
static void make_vm_config(char *buf, size_t size, unsigned vmid)
{
	int n = snprintf(buf, size,
			 "boot: order=scsi0;net0\ncores: 2\nmemory: 2048\nname: vm%u\n"
			 "net0: virtio=BC:24:11:%02X:%02X:%02X,bridge=vmbr0\n"
			 "ostype: l26\nscsi0: local-lvm:vm-%u-disk-0,size=32G\n"
			 "scsihw: virtio-scsi-single\nsmbios1: uuid=00000000-0000-4000-8000-%012u\n"
			 "vmgenid: 00000000-0000-4000-8000-000000000000\ntags: bench;",
			 vmid, (vmid >> 16) & 0xff, (vmid >> 8) & 0xff, vmid & 0xff, vmid, vmid);
	size_t used = n > 0 && (size_t)n < size ? (size_t)n : 0;
	memset(buf + used, 'x', size - used - 1);
	buf[size - 1] = '\n';
}

static void conf_path(char *out, size_t size, const char *dir, unsigned vmid)
{
	snprintf(out, size, "%s/%u.conf", dir, vmid);
}

/* ---- the workloads ---- */

static int bench_create(const struct bench_opts *o)
{
	_cleanup_samples_ struct samples s = { 0 };
	char buf[CONF_SIZE], path[PATH_MAX];
	int r = samples_init(&s, o->files);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < o->files; i++) {
		unsigned vmid = FIRST_VMID + i;
		make_vm_config(buf, sizeof(buf), vmid);
		conf_path(path, sizeof(path), o->dir, vmid);
		int64_t t0 = now_ns();
		r = put_file(path, buf, sizeof(buf));
		int64_t t1 = now_ns();
		if (r < 0)
			return fail("create", "write", path, r);
		samples_add(&s, t0, t1);
	}
	report("create", &s, 0);
	return 0;
}

static int read_one(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size);
	int r = n < 0 ? -errno : (int)n;
	close(fd);
	return r;
}

static int bench_read(const struct bench_opts *o)
{
	_cleanup_samples_ struct samples s = { 0 };
	char buf[8192], path[PATH_MAX];
	int r = samples_init(&s, o->files);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < o->files; i++) {
		conf_path(path, sizeof(path), o->dir, FIRST_VMID + i);
		int64_t t0 = now_ns();
		r = read_one(path, buf, sizeof(buf));
		int64_t t1 = now_ns();
		if (r < 0)
			return fail("read", "read", path, r);
		if (r != CONF_SIZE)
			return fail("read", "short read of", path, -EIO);
		samples_add(&s, t0, t1);
	}
	report("read", &s, 0);
	return 0;
}

/* One cold pass (reported as stat_cold), then warm passes (reported as
 * stat): with a kernel attribute cache the warm ones never reach the
 * daemon, which is what makes stat-heavy pollers cheap. */
static int bench_stat(const struct bench_opts *o)
{
	_cleanup_samples_ struct samples cold = { 0 }, warm = { 0 };
	char path[PATH_MAX];
	struct stat st;
	int r = samples_init(&cold, o->files);
	if (r == 0)
		r = samples_init(&warm, (size_t)o->files * o->warm_passes);
	if (r < 0)
		return r;
	for (unsigned pass = 0; pass <= o->warm_passes; pass++) {
		struct samples *s = pass == 0 ? &cold : &warm;
		for (unsigned i = 0; i < o->files; i++) {
			conf_path(path, sizeof(path), o->dir, FIRST_VMID + i);
			int64_t t0 = now_ns();
			r = stat(path, &st) < 0 ? -errno : 0;
			int64_t t1 = now_ns();
			if (r < 0)
				return fail("stat", "stat", path, r);
			samples_add(s, t0, t1);
		}
	}
	report("stat_cold", &cold, 0);
	report("stat", &warm, 0);
	return 0;
}

static int list_dir(const char *dir, unsigned *count)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	unsigned n = 0;
	errno = 0;
	while (readdir(d))
		n++;
	int r = errno ? -errno : 0;
	closedir(d);
	*count = n;
	return r;
}

static int bench_readdir(const struct bench_opts *o)
{
	_cleanup_samples_ struct samples s = { 0 };
	int r = samples_init(&s, o->readdir_iters);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < o->readdir_iters; i++) {
		unsigned n = 0;
		int64_t t0 = now_ns();
		r = list_dir(o->dir, &n);
		int64_t t1 = now_ns();
		if (r < 0)
			return fail("readdir", "readdir", o->dir, r);
		if (n < o->files)
			return fail("readdir", "too few entries in", o->dir, -EIO);
		samples_add(&s, t0, t1);
	}
	report("readdir", &s, 0);
	return 0;
}

static int bench_overwrite(const struct bench_opts *o)
{
	_cleanup_samples_ struct samples s = { 0 };
	char buf[OVERWRITE_SIZE], path[PATH_MAX];
	int r = samples_init(&s, o->iters);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s", o->dir, OVERWRITE_NAME);
	for (unsigned i = 0; i < o->iters; i++) {
		memset(buf, 'a' + (int)(i % 26), sizeof(buf));
		buf[sizeof(buf) - 1] = '\n';
		int64_t t0 = now_ns();
		r = put_file(path, buf, sizeof(buf));
		int64_t t1 = now_ns();
		if (r < 0)
			return fail("overwrite", "write", path, r);
		samples_add(&s, t0, t1);
	}
	if (unlink(path) < 0)
		return fail("overwrite", "unlink", path, -errno);
	report("overwrite", &s, 0);
	return 0;
}

/* Write "<target>.tmp.<pid>", then rename it over the target: PVE's
 * file_set_contents, and every careful editor. */
static int bench_rename(const struct bench_opts *o)
{
	_cleanup_samples_ struct samples s = { 0 };
	char buf[CONF_SIZE], path[PATH_MAX], tmp[PATH_MAX + 32];
	int r = samples_init(&s, o->iters);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s", o->dir, RENAME_NAME);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	make_vm_config(buf, sizeof(buf), 99999);
	for (unsigned i = 0; i < o->iters; i++) {
		int64_t t0 = now_ns();
		r = put_file(tmp, buf, sizeof(buf));
		if (r < 0)
			return fail("rename", "write", tmp, r);
		if (rename(tmp, path) < 0)
			return fail("rename", "rename", tmp, -errno);
		int64_t t1 = now_ns();
		samples_add(&s, t0, t1);
	}
	if (unlink(path) < 0)
		return fail("rename", "unlink", path, -errno);
	report("rename", &s, 0);
	return 0;
}

/* mkdir + rmdir of one directory: how PVE takes and drops a cluster lock. */
static int bench_lock(const struct bench_opts *o)
{
	_cleanup_samples_ struct samples s = { 0 };
	char path[PATH_MAX];
	int r = samples_init(&s, o->iters);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s", o->lockdir ? o->lockdir : o->dir, LOCK_NAME);
	for (unsigned i = 0; i < o->iters; i++) {
		int64_t t0 = now_ns();
		if (mkdir(path, 0700) < 0)
			return fail("lock", "mkdir", path, -errno);
		if (rmdir(path) < 0)
			return fail("lock", "rmdir", path, -errno);
		int64_t t1 = now_ns();
		samples_add(&s, t0, t1);
	}
	report("lock", &s, 0);
	return 0;
}

static int put_big_file(const char *path, const char *chunk)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	int r = 0;
	for (unsigned c = 0; c < BIG_CHUNKS && r == 0; c++)
		r = write_all(fd, chunk, BIG_CHUNK);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

static int bench_write1m(const struct bench_opts *o)
{
	_cleanup_samples_ struct samples s = { 0 };
	_cleanup_free_ char *chunk = malloc(BIG_CHUNK);
	char path[PATH_MAX];
	int r = samples_init(&s, o->big_iters);
	if (r < 0 || !chunk)
		return -ENOMEM;
	memset(chunk, 'z', BIG_CHUNK);
	snprintf(path, sizeof(path), "%s/%s", o->dir, BIG_NAME);
	for (unsigned i = 0; i < o->big_iters; i++) {
		int64_t t0 = now_ns();
		r = put_big_file(path, chunk);
		int64_t t1 = now_ns();
		if (r < 0)
			return fail("write1m", "write", path, r);
		samples_add(&s, t0, t1);
	}
	if (unlink(path) < 0)
		return fail("write1m", "unlink", path, -errno);
	report("write1m", &s, 0);
	return 0;
}

static int bench_unlink(const struct bench_opts *o)
{
	_cleanup_samples_ struct samples s = { 0 };
	char path[PATH_MAX];
	int r = samples_init(&s, o->files);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < o->files; i++) {
		conf_path(path, sizeof(path), o->dir, FIRST_VMID + i);
		int64_t t0 = now_ns();
		r = unlink(path) < 0 ? -errno : 0;
		int64_t t1 = now_ns();
		if (r < 0)
			return fail("unlink", "unlink", path, r);
		samples_add(&s, t0, t1);
	}
	report("unlink", &s, 0);
	return 0;
}

/* ---- parallel writers ---- */

static unsigned parallel_vmid(unsigned writer, unsigned i)
{
	return PARALLEL_FIRST_VMID + writer * PARALLEL_VMID_STRIDE + i;
}

/* One writer process: wait for the start signal (EOF on the pipe), create
 * its files, store its latencies in the shared array.  Exit status 0/1. */
static int parallel_child(const struct bench_opts *o, unsigned writer, unsigned per_writer,
			  int start_fd, double *lat_us)
{
	char buf[CONF_SIZE], path[PATH_MAX], c;
	while (read(start_fd, &c, 1) < 0 && errno == EINTR)
		;
	for (unsigned i = 0; i < per_writer; i++) {
		unsigned vmid = parallel_vmid(writer, i);
		make_vm_config(buf, sizeof(buf), vmid);
		conf_path(path, sizeof(path), o->dir, vmid);
		int64_t t0 = now_ns();
		int r = put_file(path, buf, sizeof(buf));
		int64_t t1 = now_ns();
		if (r < 0) {
			fail("parallel", "write", path, r);
			return 1;
		}
		lat_us[i] = (double)(t1 - t0) / 1000.0;
	}
	return 0;
}

static int wait_writers(const pid_t *pids, unsigned n)
{
	int r = 0;
	for (unsigned w = 0; w < n; w++) {
		int status;
		if (pids[w] <= 0)
			continue;
		while (waitpid(pids[w], &status, 0) < 0) {
			if (errno != EINTR)
				return -errno;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			r = -EIO;
	}
	return r;
}

static int remove_parallel_files(const struct bench_opts *o, unsigned per_writer)
{
	char path[PATH_MAX];
	for (unsigned w = 0; w < o->writers; w++)
		for (unsigned i = 0; i < per_writer; i++) {
			conf_path(path, sizeof(path), o->dir, parallel_vmid(w, i));
			if (unlink(path) < 0 && errno != ENOENT)
				return fail("parallel", "unlink", path, -errno);
		}
	return 0;
}

static int bench_parallel(const struct bench_opts *o)
{
	unsigned per_writer = o->files / o->writers;
	if (per_writer < 25)
		per_writer = 25;
	size_t total = (size_t)per_writer * o->writers;
	size_t bytes = total * sizeof(double);
	double *lat = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lat == MAP_FAILED)
		return -errno;
	_cleanup_free_ pid_t *pids = calloc(o->writers, sizeof(pid_t));
	int start[2];
	if (!pids || pipe2(start, O_CLOEXEC) < 0) {
		munmap(lat, bytes);
		return -ENOMEM;
	}
	fflush(stdout);
	int r = 0;
	for (unsigned w = 0; w < o->writers && r == 0; w++) {
		pids[w] = fork();
		if (pids[w] < 0) {
			r = fail("parallel", "fork", "writer", -errno);
		} else if (pids[w] == 0) {
			close(start[1]);
			_exit(parallel_child(o, w, per_writer, start[0], lat + (size_t)w * per_writer));
		}
	}
	close(start[0]);
	int64_t t0 = now_ns();
	close(start[1]); /* EOF starts every writer at once */
	int wr = wait_writers(pids, o->writers);
	int64_t t1 = now_ns();
	if (r == 0 && wr < 0)
		r = fail("parallel", "writer", "process", wr);
	if (r == 0) {
		struct samples s = { .us = lat, .n = total, .cap = total };
		report("parallel", &s, (double)(t1 - t0) / 1e9);
		r = remove_parallel_files(o, per_writer);
	}
	munmap(lat, bytes);
	return r;
}

/* ---- 100,000 small files and the daemon's memory ---- */

static long read_rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		long kb;
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			return kb;
	}
	return -ENOENT;
}

static int bench_many(const struct bench_opts *o)
{
	char path[PATH_MAX], buf[256];
	uint64_t stored = 0;
	long rss_before = o->daemon_pid > 0 ? read_rss_kb(o->daemon_pid) : 0;
	_cleanup_samples_ struct samples s = { 0 };
	int r = samples_init(&s, (size_t)o->many_dirs * o->many_per_dir);
	if (r < 0)
		return r;
	for (unsigned d = 0; d < o->many_dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%03u", o->dir, d);
		if (mkdir(path, 0755) < 0)
			return fail("many", "mkdir", path, -errno);
		for (unsigned i = 0; i < o->many_per_dir; i++) {
			/* 100..200 bytes, varying so no size is special */
			size_t len = 100 + (d * 7919u + i * 37u) % 101;
			memset(buf, 'a' + (int)((d + i) % 26), len);
			buf[len - 1] = '\n';
			snprintf(path, sizeof(path), "%s/d%03u/f%04u", o->dir, d, i);
			int64_t t0 = now_ns();
			r = put_file(path, buf, len);
			int64_t t1 = now_ns();
			if (r < 0)
				return fail("many", "write", path, r);
			samples_add(&s, t0, t1);
			stored += len;
		}
	}
	long rss = o->daemon_pid > 0 ? read_rss_kb(o->daemon_pid) : 0;
	if (rss < 0 || rss_before < 0)
		return fail("many", "read VmRSS of", "daemon", rss < 0 ? (int)rss : (int)rss_before);
	report("many_create", &s, 0);
	printf("fsbench workload=many files=%zu dirs=%u stored_bytes=%" PRIu64
	       " rss_before_kb=%ld rss_kb=%ld\n",
	       s.n, o->many_dirs, stored, rss_before, rss);
	fflush(stdout);
	return 0;
}

/* ---- command line ---- */

static const struct {
	const char *name;
	int (*run)(const struct bench_opts *o);
} workloads[] = {
	{ "create", bench_create },   { "read", bench_read },
	{ "stat", bench_stat },       { "readdir", bench_readdir },
	{ "overwrite", bench_overwrite }, { "rename", bench_rename },
	{ "lock", bench_lock },       { "write1m", bench_write1m },
	{ "unlink", bench_unlink },   { "parallel", bench_parallel },
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: fsbench [OPTIONS] WORKLOAD DIR\n"
		"Workloads: create read stat readdir overwrite rename lock write1m unlink\n"
		"           parallel, all (every one of them, in that order), many\n"
		"  read/stat/readdir need the files of `create`; `unlink` removes them.\n"
		"Options:\n"
		"  --files N          VM configs (default 2000, at most 10000)\n"
		"  --iters N          overwrite/rename/lock cycles (default: --files)\n"
		"  --warm-passes N    stat passes after the cold one (default 3)\n"
		"  --readdir-iters N  directory listings (default 200000/files, >= 10)\n"
		"  --big-iters N      1 MiB files written (default 20)\n"
		"  --writers N        parallel writer processes (default 8)\n"
		"  --lockdir DIR      where the lock directory is made (default DIR)\n"
		"  --pid PID          daemon whose VmRSS `many` reports\n"
		"  --many-dirs N      directories for `many` (default 100)\n"
		"  --many-files N     files per directory for `many` (default 1000)\n"
		"Output: one line per workload, `fsbench workload=NAME ops=N seconds=S\n"
		"ops_per_s=R p50_us=L p99_us=L`; `many` adds stored_bytes and rss_kb.\n");
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct bench_opts *o, const char **workload)
{
	static const struct option longopts[] = {
		{ "files", required_argument, NULL, 'n' },
		{ "iters", required_argument, NULL, 'i' },
		{ "warm-passes", required_argument, NULL, 'w' },
		{ "readdir-iters", required_argument, NULL, 'r' },
		{ "big-iters", required_argument, NULL, 'b' },
		{ "writers", required_argument, NULL, 'p' },
		{ "lockdir", required_argument, NULL, 'L' },
		{ "pid", required_argument, NULL, 'P' },
		{ "many-dirs", required_argument, NULL, 'D' },
		{ "many-files", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned pid = 0;
	int c, r = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1 && r == 0) {
		switch (c) {
		case 'n': r = parse_uint(optarg, 1, 10000, &o->files); break;
		case 'i': r = parse_uint(optarg, 1, 10000000, &o->iters); break;
		case 'w': r = parse_uint(optarg, 1, 1000, &o->warm_passes); break;
		case 'r': r = parse_uint(optarg, 1, 1000000, &o->readdir_iters); break;
		case 'b': r = parse_uint(optarg, 1, 100000, &o->big_iters); break;
		case 'p': r = parse_uint(optarg, 1, 256, &o->writers); break;
		case 'L': o->lockdir = optarg; break;
		case 'P': r = parse_uint(optarg, 1, INT_MAX, &pid); break;
		case 'D': r = parse_uint(optarg, 1, 1000, &o->many_dirs); break;
		case 'F': r = parse_uint(optarg, 1, 10000, &o->many_per_dir); break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (r < 0) {
		fprintf(stderr, "fsbench: bad value for an option: %s\n", optarg);
		return r;
	}
	if (argc - optind != 2)
		return -EINVAL;
	*workload = argv[optind];
	o->dir = argv[optind + 1];
	o->daemon_pid = (pid_t)pid;
	if (o->iters == 0)
		o->iters = o->files;
	if (o->readdir_iters == 0)
		o->readdir_iters = 200000 / o->files < 10 ? 10 : 200000 / o->files;
	return 0;
}

static bool known_workload(const char *name)
{
	if (strcmp(name, "many") == 0 || strcmp(name, "all") == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(workloads); i++)
		if (strcmp(name, workloads[i].name) == 0)
			return true;
	return false;
}

static int run_workload(const struct bench_opts *o, const char *name)
{
	if (strcmp(name, "many") == 0)
		return bench_many(o);
	bool all = strcmp(name, "all") == 0;
	for (size_t i = 0; i < ARRAY_SIZE(workloads); i++) {
		if (!all && strcmp(name, workloads[i].name) != 0)
			continue;
		int r = workloads[i].run(o);
		if (r < 0)
			return r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
		.files = 2000, .warm_passes = 3, .big_iters = 20, .writers = 8,
		.many_dirs = 100, .many_per_dir = 1000,
	};
	const char *workload = NULL;
	if (parse_args(argc, argv, &o, &workload) < 0) {
		usage(stderr);
		return 2;
	}
	if (!known_workload(workload)) {
		fprintf(stderr, "fsbench: unknown workload '%s'\n", workload);
		usage(stderr);
		return 2;
	}
	return run_workload(&o, workload) < 0 ? 1 : 0;
}
