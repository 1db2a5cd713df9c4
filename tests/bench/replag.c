/* replag.c - replication measurements for the cluster benchmark
 * (tests/bench/cluster).
 *
 * The harness nodes' FUSE mounts are all reachable from the host through
 * /proc/<holder>/root/... (tests/cluster/harness.sh, node_path), so one
 * process can write through node 1's mount and watch node 2's, and time the
 * difference on one clock.  Modes:
 *
 *   replag poll [--count N] SRC DST
 *       N times: overwrite SRC (open O_TRUNC, write, close) with new
 *       content, then read DST in a tight loop until it holds that content.
 *       Reports "commit" (the write+close on node 1) and "visible" (start
 *       of the write until node 2 serves the new content).
 *   replag inotify [--count N] SRC DSTDIR
 *       N times: overwrite SRC, wait for IN_CLOSE_WRITE of the same name
 *       under DSTDIR (pvecfs replays remote changes as real inotify
 *       events).  Reports "inotify".
 *   replag events [--count N] --socket SOCK --path TREEPATH SRC
 *       N times: overwrite SRC, wait for the `write` event of TREEPATH (the
 *       same file as the API names it, e.g. /bench/ev) from a subscriber on
 *       SOCK (node 2's API socket).  Reports "event".
 *   replag writers [--files N] [--keep | --remove-only] DIR...
 *       One writer process per DIR argument (repeat a DIR for several
 *       writers in it); together they create N files of 512 bytes
 *       (create+write+close), starting at one signal.  Reports ops/s over
 *       the wall time until the last writer finished, and per-file
 *       latencies.  The files are removed afterwards (untimed, by the
 *       writers in parallel) unless --keep; --remove-only removes what an
 *       earlier --keep run with the same arguments left, and prints nothing.
 *   replag join --socket SOCK --version V [--timeout S]
 *       Polls the API `status` of SOCK (retrying while the daemon is not
 *       up yet) until it is writable with a version >= V; prints the
 *       CLOCK_REALTIME time it saw that, so a script can subtract the time
 *       it started the daemon.
 *
 * Output: one line "replag workload=MODE key=value ...".  Every mode has a
 * bound (--timeout per operation, default 10 s): a benchmark that hangs on
 * a lost update is worse than one that reports the failure.  Exit status 0
 * on success, 1 on errors (a message on stderr), 2 on usage errors. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apiclient.h"
#include "benchstat.h"
#include "cleanup.h"

#define CONTENT_MAX 512
#define WRITER_FILE_SIZE 512
#define WARMUP_ROUNDS 3

struct replag_opts {
	unsigned count;    /* poll, inotify, events */
	unsigned files;    /* writers */
	bool keep;         /* writers */
	bool remove_only;  /* writers */
	unsigned timeout_s;
	const char *socket;
	const char *tree_path;
	unsigned long long version;
	char **args;
	int nargs;
};

static int64_t timeout_ns(const struct replag_opts *o) { return (int64_t)o->timeout_s * 1000000000; }

static int errmsg(const char *what, const char *path, int r)
{
	fprintf(stderr, "replag: %s %s: %s\n", what, path ? path : "", strerror(-r));
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

/* open(O_TRUNC)+write+close: the commit point in pvecfs is the close. */
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

/* Reads up to size bytes; the byte count or a negative errno. */
static ssize_t get_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : 0;
			close(fd);
			return e < 0 ? e : (ssize_t)got;
		}
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
}

static size_t make_content(char *buf, unsigned round)
{
	int n = snprintf(buf, CONTENT_MAX, "replag round %u pid %d\n", round, (int)getpid());
	return (size_t)n;
}

/* ---- poll: readable on node 2 ---- */

static int wait_content(const char *path, const char *want, size_t len, int64_t deadline)
{
	char buf[CONTENT_MAX + 1];
	for (;;) {
		ssize_t n = get_file(path, buf, sizeof(buf));
		if (n == (ssize_t)len && memcmp(buf, want, len) == 0)
			return 0;
		if (n < 0 && n != -ENOENT)
			return (int)n;
		if (bench_now_ns() > deadline)
			return -ETIMEDOUT;
	}
}

static int run_poll(const struct replag_opts *o)
{
	const char *src = o->args[0], *dst = o->args[1];
	struct bench_samples commit, visible;
	char buf[CONTENT_MAX];
	int r = 0;
	if (bench_samples_init(&commit, o->count) < 0 || bench_samples_init(&visible, o->count) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < o->count + WARMUP_ROUNDS && r == 0; i++) {
		size_t len = make_content(buf, i);
		int64_t t0 = bench_now_ns();
		r = put_file(src, buf, len);
		int64_t t1 = bench_now_ns();
		if (r < 0)
			return errmsg("write", src, r);
		r = wait_content(dst, buf, len, t1 + timeout_ns(o));
		int64_t t2 = bench_now_ns();
		if (r < 0)
			return errmsg("waiting for the new content of", dst, r);
		if (i >= WARMUP_ROUNDS) {
			bench_samples_add(&commit, t0, t1);
			bench_samples_add(&visible, t0, t2);
		}
	}
	printf("replag workload=poll count=%u", o->count);
	bench_print_percentiles("commit", &commit);
	bench_print_percentiles("visible", &visible);
	printf("\n");
	bench_samples_free(&commit);
	bench_samples_free(&visible);
	return 0;
}

/* ---- inotify: the replayed event on node 2 ---- */

/* Waits for IN_CLOSE_WRITE of `name` on the inotify fd. */
static int wait_close_write(int ifd, const char *name, int64_t deadline)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		int64_t left_ms = (deadline - bench_now_ns()) / 1000000;
		if (left_ms < 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };
		int p = poll(&pfd, 1, (int)left_ms + 1);
		if (p < 0 && errno != EINTR)
			return -errno;
		if (p <= 0)
			continue;
		ssize_t n = read(ifd, buf, sizeof(buf));
		if (n < 0)
			return errno == EINTR || errno == EAGAIN ? 0 : -errno;
		bool found = false;
		for (char *e = buf; e < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)e;
			if (ev->mask & IN_Q_OVERFLOW)
				return -EOVERFLOW;
			if (ev->mask & IN_IGNORED)
				return -ENOENT; /* the watched directory went away */
			if ((ev->mask & IN_CLOSE_WRITE) && ev->len && strcmp(ev->name, name) == 0)
				found = true;
			e += sizeof(*ev) + ev->len;
		}
		if (found)
			return 0;
	}
}

static int run_inotify(const struct replag_opts *o)
{
	const char *src = o->args[0], *dstdir = o->args[1];
	const char *name = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
	struct bench_samples lat;
	char buf[CONTENT_MAX];
	_cleanup_close_ int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0)
		return errmsg("inotify_init1", NULL, -errno);
	if (inotify_add_watch(ifd, dstdir, IN_CLOSE_WRITE) < 0)
		return errmsg("inotify_add_watch", dstdir, -errno);
	if (bench_samples_init(&lat, o->count) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < o->count + WARMUP_ROUNDS; i++) {
		size_t len = make_content(buf, i);
		int64_t t0 = bench_now_ns();
		int r = put_file(src, buf, len);
		if (r < 0)
			return errmsg("write", src, r);
		r = wait_close_write(ifd, name, t0 + timeout_ns(o));
		int64_t t1 = bench_now_ns();
		if (r < 0)
			return errmsg("waiting for IN_CLOSE_WRITE in", dstdir, r);
		if (i >= WARMUP_ROUNDS)
			bench_samples_add(&lat, t0, t1);
		/* let a second event of the same change (if any) arrive before the next
		 * round, and drop it, so it cannot be taken for the next round's */
		usleep(2000);
		char drain[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
		while (read(ifd, drain, sizeof(drain)) > 0)
			;
	}
	printf("replag workload=inotify count=%u", o->count);
	bench_print_percentiles("inotify", &lat);
	printf("\n");
	bench_samples_free(&lat);
	return 0;
}

/* ---- events: a subscriber of node 2's socket API ---- */

static void api_client_closep(struct api_client **c)
{
	if (*c)
		api_client_close(*c);
}

static int wait_write_event(struct api_client *c, const char *tree_path, int64_t deadline)
{
	for (;;) {
		int64_t left_ms = (deadline - bench_now_ns()) / 1000000;
		if (left_ms < 0)
			return -ETIMEDOUT;
		struct api_event ev = { 0 };
		int r = api_client_next_event(c, &ev, (int)left_ms + 1);
		if (r < 0)
			return r;
		bool match = r > 0 && !ev.resync && ev.path && strcmp(ev.op, "write") == 0 &&
			     strcmp(ev.path, tree_path) == 0;
		bool resync = r > 0 && ev.resync;
		if (r > 0)
			api_event_clear(&ev);
		if (resync)
			return -ESTALE;
		if (match)
			return 0;
	}
}

static int run_events(const struct replag_opts *o)
{
	const char *src = o->args[0];
	_cleanup_(api_client_closep) struct api_client *c = NULL;
	int r = api_client_connect(o->socket, &c);
	if (r < 0) {
		fprintf(stderr, "replag: connect %s: %s\n", o->socket, c ? api_client_error(c) : strerror(-r));
		return r;
	}
	const char *prefixes[] = { o->tree_path };
	r = api_client_subscribe(c, prefixes, 1, NULL, NULL);
	if (r < 0) {
		fprintf(stderr, "replag: subscribe: %s\n", api_client_error(c));
		return r;
	}
	struct bench_samples lat;
	char buf[CONTENT_MAX];
	if (bench_samples_init(&lat, o->count) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < o->count + WARMUP_ROUNDS; i++) {
		size_t len = make_content(buf, i);
		int64_t t0 = bench_now_ns();
		r = put_file(src, buf, len);
		if (r < 0)
			return errmsg("write", src, r);
		r = wait_write_event(c, o->tree_path, t0 + timeout_ns(o));
		int64_t t1 = bench_now_ns();
		if (r < 0) {
			fprintf(stderr, "replag: waiting for the write event of %s: %s\n", o->tree_path,
				r == -ESTALE ? "got resync" : strerror(-r));
			return r;
		}
		if (i >= WARMUP_ROUNDS)
			bench_samples_add(&lat, t0, t1);
	}
	printf("replag workload=events count=%u", o->count);
	bench_print_percentiles("event", &lat);
	printf("\n");
	bench_samples_free(&lat);
	return 0;
}

/* ---- writers: create+write+close throughput ---- */

static void writer_path(char *out, size_t size, const char *dir, unsigned writer, unsigned i)
{
	snprintf(out, size, "%s/bw%u-%u.conf", dir, writer, i);
}

static void wait_eof(int fd)
{
	char c;
	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
}

/* One writer: wait for the start (EOF on `start`), write its files, say
 * done (one byte on `done`), wait for the removal signal (EOF on
 * `remove`), remove them unless keep.  Exit status 0/1. */
static int writer_child(const struct replag_opts *o, unsigned w, unsigned n, double *lat_us, int start,
			int done, int remove)
{
	char buf[WRITER_FILE_SIZE], path[PATH_MAX];
	int failed = 0;
	memset(buf, 'w', sizeof(buf));
	buf[sizeof(buf) - 1] = '\n';
	wait_eof(start);
	for (unsigned i = 0; i < n && !failed && !o->remove_only; i++) {
		writer_path(path, sizeof(path), o->args[w], w, i);
		int64_t t0 = bench_now_ns();
		int r = put_file(path, buf, sizeof(buf));
		lat_us[i] = (double)(bench_now_ns() - t0) / 1000.0;
		if (r < 0)
			failed = errmsg("create", path, r);
	}
	if (write(done, "d", 1) != 1)
		failed = -EIO;
	wait_eof(remove);
	for (unsigned i = 0; i < n && !o->keep; i++) {
		writer_path(path, sizeof(path), o->args[w], w, i);
		if (unlink(path) < 0 && errno != ENOENT)
			failed = errmsg("unlink", path, -errno);
	}
	return failed ? 1 : 0;
}

static int run_writers(const struct replag_opts *o)
{
	unsigned nw = (unsigned)o->nargs;
	unsigned per = o->files / nw ? o->files / nw : 1;
	size_t total = (size_t)per * nw, bytes = total * sizeof(double);
	double *lat = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lat == MAP_FAILED)
		return -errno;
	int start[2], done[2], remove[2];
	if (pipe2(start, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0 || pipe2(remove, O_CLOEXEC) < 0)
		return -errno;
	_cleanup_free_ pid_t *pids = calloc(nw, sizeof(pid_t));
	if (!pids)
		return -ENOMEM;
	fflush(stdout);
	int r = 0;
	unsigned started = 0;
	for (unsigned w = 0; w < nw && r == 0; w++, started++) {
		pids[w] = fork();
		if (pids[w] < 0) {
			r = errmsg("fork", NULL, -errno);
			break;
		}
		if (pids[w] == 0) {
			close(start[1]);
			close(done[0]);
			close(remove[1]);
			_exit(writer_child(o, w, per, lat + (size_t)w * per, start[0], done[1], remove[0]));
		}
	}
	close(start[0]);
	close(done[1]);
	close(remove[0]);
	int64_t t0 = bench_now_ns();
	close(start[1]);
	unsigned finished = 0;
	char c;
	while (finished < started) {
		ssize_t n = read(done[0], &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a writer died without saying done */
		finished++;
	}
	int64_t t1 = bench_now_ns();
	close(remove[1]);
	close(done[0]);
	for (unsigned w = 0; w < started; w++) {
		int status;
		while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			r = -EIO;
	}
	if (r == 0 && finished == nw && o->remove_only) {
		/* nothing to report */
	} else if (r == 0 && finished == nw) {
		struct bench_samples s = { .us = lat, .n = total, .cap = total };
		double secs = (double)(t1 - t0) / 1e9;
		printf("replag workload=writers writers=%u ops=%zu seconds=%.4f ops_per_s=%.1f", nw, total, secs,
		       (double)total / secs);
		bench_print_percentiles("create", &s);
		printf("\n");
	} else if (r == 0) {
		r = -EIO;
	}
	munmap(lat, bytes);
	if (r < 0)
		fprintf(stderr, "replag: writers failed\n");
	return r;
}

/* ---- join: until a (re)started daemon has caught up ---- */

static int status_version(const char *socket, unsigned long long *version, bool *writable)
{
	_cleanup_(api_client_closep) struct api_client *c = NULL;
	int r = api_client_connect(socket, &c);
	if (r < 0)
		return r;
	json_object *res = NULL, *v = NULL, *w = NULL;
	r = api_client_call(c, "status", NULL, &res, 2000);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(res, "version", &v) || !json_object_object_get_ex(res, "writable", &w)) {
		json_object_put(res);
		return -EPROTO;
	}
	*version = (unsigned long long)json_object_get_int64(v);
	*writable = json_object_get_boolean(w);
	json_object_put(res);
	return 0;
}

static int run_join(const struct replag_opts *o)
{
	int64_t deadline = bench_now_ns() + timeout_ns(o);
	unsigned long long version = 0;
	bool writable = false;
	int r = -ENOENT;
	while (bench_now_ns() < deadline) {
		r = status_version(o->socket, &version, &writable);
		if (r == 0 && writable && version >= o->version) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			printf("replag workload=join version=%llu realtime_ns=%lld\n", version,
			       (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
			return 0;
		}
		usleep(2000);
	}
	fprintf(stderr, "replag: join: %s not writable at version >= %llu after %us (last: %s, version %llu, %s)\n",
		o->socket, o->version, o->timeout_s, r < 0 ? strerror(-r) : "answered", version,
		writable ? "writable" : "not writable");
	return -ETIMEDOUT;
}

/* ---- command line ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: replag poll [--count N] SRC DST\n"
		"       replag inotify [--count N] SRC DSTDIR\n"
		"       replag events [--count N] --socket SOCK --path TREEPATH SRC\n"
		"       replag writers [--files N] [--keep | --remove-only] DIR...\n"
		"       replag join --socket SOCK --version V\n"
		"Common: --timeout S (per operation; join: overall; default 10)\n");
}

static int parse_number(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct replag_opts *o, const char **mode)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'c' },  { "files", required_argument, NULL, 'f' },
		{ "keep", no_argument, NULL, 'k' },         { "timeout", required_argument, NULL, 't' },
		{ "remove-only", no_argument, NULL, 'R' },
		{ "socket", required_argument, NULL, 's' }, { "path", required_argument, NULL, 'p' },
		{ "version", required_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long long v;
	int c, r = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1 && r == 0) {
		switch (c) {
		case 'c': r = parse_number(optarg, 1000000, &v); o->count = (unsigned)v; break;
		case 'f': r = parse_number(optarg, 1000000, &v); o->files = (unsigned)v; break;
		case 't': r = parse_number(optarg, 86400, &v); o->timeout_s = (unsigned)v; break;
		case 'v': r = parse_number(optarg, ULLONG_MAX, &o->version); break;
		case 'k': o->keep = true; break;
		case 'R': o->remove_only = true; break;
		case 's': o->socket = optarg; break;
		case 'p': o->tree_path = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (r < 0 || optind >= argc || o->count == 0 || o->files == 0 || o->timeout_s == 0) {
		if (r < 0)
			fprintf(stderr, "replag: bad number '%s'\n", optarg);
		return -EINVAL;
	}
	*mode = argv[optind];
	o->args = argv + optind + 1;
	o->nargs = argc - optind - 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct replag_opts o = { .count = 200, .files = 2000, .timeout_s = 10 };
	const char *mode = NULL;
	if (parse_args(argc, argv, &o, &mode) < 0) {
		usage(stderr);
		return 2;
	}
	bool ok = (strcmp(mode, "poll") == 0 && o.nargs == 2) ||
		  (strcmp(mode, "inotify") == 0 && o.nargs == 2) ||
		  (strcmp(mode, "events") == 0 && o.nargs == 1 && o.socket && o.tree_path) ||
		  (strcmp(mode, "writers") == 0 && o.nargs >= 1 && o.nargs <= 256) ||
		  (strcmp(mode, "join") == 0 && o.nargs == 0 && o.socket);
	if (!ok) {
		usage(stderr);
		return 2;
	}
	int r;
	if (strcmp(mode, "poll") == 0)
		r = run_poll(&o);
	else if (strcmp(mode, "inotify") == 0)
		r = run_inotify(&o);
	else if (strcmp(mode, "events") == 0)
		r = run_events(&o);
	else if (strcmp(mode, "writers") == 0)
		r = run_writers(&o);
	else
		r = run_join(&o);
	fflush(stdout);
	return r < 0 ? 1 : 0;
}
