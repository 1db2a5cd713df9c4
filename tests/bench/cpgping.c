/* cpgping.c - the CPG round floor, for the cluster benchmark
 * (tests/bench/cluster).
 *
 * pvecfs answers a write only once its message has gone through one
 * corosync CPG round in agreed order and come back; a write on node 1 is
 * readable on node 2 at the earliest when that same message is delivered
 * there.  So the replication latency of the file system can never beat a
 * bare CPG multicast, and the benchmark reports both side by side.  This
 * program measures the bare multicast, on its own CPG group (never the
 * daemon's), with 32-byte messages:
 *
 *   cpgping echo [--group NAME] [--timeout S]          (node 2)
 *   cpgping ping [--group NAME] [--count N] [--peer NODEID] [--timeout S]
 *                                                       (node 1)
 *
 * The echo side joins the group and answers every PING of another node
 * with a PONG carrying the CLOCK_MONOTONIC time it received the PING (the
 * harness nodes share one kernel clock), until a QUIT arrives or --timeout
 * (default 300 s) runs out.  The ping side joins, waits until the peer's
 * node id (default 2) is in the group, sends a few unmeasured warm-up
 * pings, then --count (default 200) pings one at a time and prints
 *
 *   cpgping count=N self_p50_us=.. self_p99_us=.. self_max_us=..
 *           peer_p50_us=.. peer_p99_us=.. peer_max_us=..
 *           echo_p50_us=.. echo_p99_us=.. echo_max_us=..
 *
 * (one line) where self = multicast until our own message is delivered back
 * to us (what a pvecfs writer waits for), peer = multicast until the peer
 * received it (what a reader on node 2 waits for at best), echo = until the
 * peer's answer arrived (two rounds).  Then it multicasts QUIT and leaves.
 * Exit status 0 when every ping was answered, 1 on errors, 2 on usage. */
#include <corosync/cpg.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "benchstat.h"

#define PING_MAGIC 0x474e4950u /* "PING" */
#define WARMUP_PINGS 5
#define ONE_PING_TIMEOUT_NS (INT64_C(10) * 1000000000)

enum ping_kind { KIND_PING = 1, KIND_PONG = 2, KIND_QUIT = 3 };

struct ping_msg {
	uint32_t magic;
	uint32_t kind;
	uint32_t seq;
	uint32_t reserved;
	int64_t recv_ns; /* PONG: when the echo side received the PING */
	int64_t unused;
};

struct pinger {
	cpg_handle_t handle;
	uint32_t nodeid, pid;
	uint32_t peer;       /* node id that must be in the group */
	bool peer_joined;
	bool quit;           /* echo: QUIT seen */
	bool echo_mode;
	uint32_t seq;        /* ping: the ping in flight */
	int64_t self_ns;     /* ping: our own PING delivered back, 0 until then */
	int64_t echo_ns;     /* ping: its PONG delivered, 0 until then */
	int64_t peer_recv_ns;
	int error;           /* first multicast error in a callback */
};

static int mcast(struct pinger *p, enum ping_kind kind, uint32_t seq, int64_t recv_ns)
{
	struct ping_msg m = { .magic = PING_MAGIC, .kind = kind, .seq = seq, .recv_ns = recv_ns };
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	for (int tries = 0; tries < 2000; tries++) {
		cs_error_t r = cpg_mcast_joined(p->handle, CPG_TYPE_AGREED, &iov, 1);
		if (r == CS_OK)
			return 0;
		if (r != CS_ERR_TRY_AGAIN)
			return -EIO;
		usleep(1000); /* corosync's send queue is full: wait, it drains */
	}
	return -EAGAIN;
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid,
		       void *msg, size_t len)
{
	(void)group;
	int64_t now = bench_now_ns(); /* first thing: this is the measurement */
	struct pinger *p = NULL;
	cpg_context_get(h, (void **)&p);
	struct ping_msg m;
	if (!p || len != sizeof(m))
		return;
	memcpy(&m, msg, sizeof(m));
	if (m.magic != PING_MAGIC)
		return;
	bool own = nodeid == p->nodeid && pid == p->pid;
	if (p->echo_mode) {
		if (m.kind == KIND_QUIT)
			p->quit = true;
		else if (m.kind == KIND_PING && !own && p->error == 0)
			p->error = mcast(p, KIND_PONG, m.seq, now);
		return;
	}
	if (m.seq != p->seq)
		return;
	if (m.kind == KIND_PING && own)
		p->self_ns = now;
	else if (m.kind == KIND_PONG && nodeid == p->peer) {
		p->echo_ns = now;
		p->peer_recv_ns = m.recv_ns;
	}
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *group, const struct cpg_address *members,
		       size_t n_members, const struct cpg_address *left, size_t n_left,
		       const struct cpg_address *joined, size_t n_joined)
{
	(void)group;
	(void)left;
	(void)n_left;
	(void)joined;
	(void)n_joined;
	struct pinger *p = NULL;
	cpg_context_get(h, (void **)&p);
	if (!p)
		return;
	p->peer_joined = false;
	for (size_t i = 0; i < n_members; i++)
		if (members[i].nodeid == p->peer && !(members[i].nodeid == p->nodeid && members[i].pid == p->pid))
			p->peer_joined = true;
}

/* Dispatches CPG callbacks until done(p) or the deadline; 0, -ETIMEDOUT
 * or -EIO. */
static int dispatch_until(struct pinger *p, bool (*done)(const struct pinger *), int64_t deadline_ns)
{
	int fd;
	if (cpg_fd_get(p->handle, &fd) != CS_OK)
		return -EIO;
	while (!done(p)) {
		if (p->error)
			return p->error;
		int64_t left_ms = (deadline_ns - bench_now_ns()) / 1000000;
		if (left_ms <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, left_ms > 100 ? 100 : (int)left_ms + 1);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && cpg_dispatch(p->handle, CS_DISPATCH_ALL) != CS_OK)
			return -EIO;
	}
	return p->error;
}

static bool peer_is_there(const struct pinger *p) { return p->peer_joined; }
static bool ping_answered(const struct pinger *p) { return p->self_ns && p->echo_ns; }
static bool own_ping_back(const struct pinger *p) { return p->self_ns != 0; }
static bool quit_seen(const struct pinger *p) { return p->quit; }

/* One ping; on success the three samples are added. */
static int ping_once(struct pinger *p, uint32_t seq, struct bench_samples *self,
		     struct bench_samples *peer, struct bench_samples *echo)
{
	p->seq = seq;
	p->self_ns = p->echo_ns = p->peer_recv_ns = 0;
	int64_t t0 = bench_now_ns();
	int r = mcast(p, KIND_PING, seq, 0);
	if (r == 0)
		r = dispatch_until(p, ping_answered, t0 + ONE_PING_TIMEOUT_NS);
	if (r < 0)
		return r;
	if (self) {
		bench_samples_add(self, t0, p->self_ns);
		bench_samples_add(peer, t0, p->peer_recv_ns);
		bench_samples_add(echo, t0, p->echo_ns);
	}
	return 0;
}

static int run_ping(struct pinger *p, unsigned count, int64_t deadline_ns)
{
	struct bench_samples self, peer, echo;
	int r = dispatch_until(p, peer_is_there, deadline_ns);
	if (r < 0) {
		fprintf(stderr, "cpgping: node %u did not join the group: %s\n", p->peer, strerror(-r));
		return r;
	}
	if (bench_samples_init(&self, count) < 0 || bench_samples_init(&peer, count) < 0 ||
	    bench_samples_init(&echo, count) < 0)
		return -ENOMEM;
	uint32_t seq = 1;
	for (unsigned i = 0; i < WARMUP_PINGS && r == 0; i++)
		r = ping_once(p, seq++, NULL, NULL, NULL);
	for (unsigned i = 0; i < count && r == 0; i++)
		r = ping_once(p, seq++, &self, &peer, &echo);
	if (r < 0) {
		fprintf(stderr, "cpgping: ping %u: %s\n", seq - 1, strerror(-r));
	} else {
		printf("cpgping count=%u", count);
		bench_print_percentiles("self", &self);
		bench_print_percentiles("peer", &peer);
		bench_print_percentiles("echo", &echo);
		printf("\n");
		fflush(stdout);
	}
	bench_samples_free(&self);
	bench_samples_free(&peer);
	bench_samples_free(&echo);
	/* tell the echo side to go, and wait until QUIT is in the total order */
	p->seq = 0;
	p->self_ns = 0;
	int q = mcast(p, KIND_QUIT, 0, 0);
	if (q == 0)
		dispatch_until(p, own_ping_back, bench_now_ns() + ONE_PING_TIMEOUT_NS);
	return r;
}

static int run_echo(struct pinger *p, int64_t deadline_ns)
{
	int r = dispatch_until(p, quit_seen, deadline_ns);
	if (r < 0)
		fprintf(stderr, "cpgping echo: %s\n", r == -ETIMEDOUT ? "no QUIT before the timeout" : strerror(-r));
	return r;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: cpgping echo [--group NAME] [--timeout S]\n"
		     "       cpgping ping [--group NAME] [--count N] [--peer NODEID] [--timeout S]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "group", required_argument, NULL, 'g' },   { "count", required_argument, NULL, 'c' },
		{ "peer", required_argument, NULL, 'p' },    { "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },          { 0 },
	};
	const char *group_name = "pvecfs-bench-ping";
	unsigned long count = 200, peer = 2, timeout_s = 300;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		unsigned long *target = c == 'c' ? &count : c == 'p' ? &peer : c == 't' ? &timeout_s : NULL;
		if (c == 'g') {
			group_name = optarg;
		} else if (target) {
			errno = 0;
			*target = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || *target == 0 || *target > 1000000) {
				fprintf(stderr, "cpgping: bad number '%s'\n", optarg);
				return 2;
			}
		} else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (argc - optind != 1 || (strcmp(argv[optind], "ping") && strcmp(argv[optind], "echo")) ||
	    strlen(group_name) >= CPG_MAX_NAME_LENGTH) {
		usage(stderr);
		return 2;
	}
	struct pinger p = { .peer = (uint32_t)peer, .echo_mode = strcmp(argv[optind], "echo") == 0 };
	cpg_model_v1_data_t model = {
		.model = CPG_MODEL_V1, .cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg,
	};
	if (cpg_model_initialize(&p.handle, CPG_MODEL_V1, (cpg_model_data_t *)&model, &p) != CS_OK) {
		fprintf(stderr, "cpgping: cannot connect to corosync (cpg)\n");
		return 1;
	}
	struct cpg_name group = { .length = (uint32_t)strlen(group_name) };
	memcpy(group.value, group_name, group.length);
	unsigned int local = 0;
	if (cpg_local_get(p.handle, &local) != CS_OK || cpg_join(p.handle, &group) != CS_OK) {
		fprintf(stderr, "cpgping: cannot join group %s\n", group_name);
		cpg_finalize(p.handle);
		return 1;
	}
	p.nodeid = local;
	p.pid = (uint32_t)getpid();
	int64_t deadline = bench_now_ns() + (int64_t)timeout_s * 1000000000;
	int r = p.echo_mode ? run_echo(&p, deadline) : run_ping(&p, (unsigned)count, deadline);
	cpg_leave(p.handle, &group);
	cpg_finalize(p.handle);
	return r < 0 ? 1 : 0;
}
