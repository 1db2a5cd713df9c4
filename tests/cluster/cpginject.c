/* cpginject.c - multicasts hand-made frames on the pvecfs CPG group, for the
 * cluster fault tests (suite-faults).
 *
 * Usage: cpginject [--group NAME] [--stay SECONDS] KIND...
 *
 * Joins the CPG group (default "pvecfs") of the local corosync, waits until
 * the join is seen, multicasts one frame per KIND in the order given, waits
 * until corosync has delivered all of them back (so they are in the
 * group's total order before we go), optionally stays a member for SECONDS
 * more, then leaves.  KINDs:
 *
 *   garbage          random bytes that do not start with the frame magic
 *   badcrc           a well-formed CHANGES frame (creates /cpginject-badcrc)
 *                    whose CRC field is wrong
 *   truncated        a CHANGES frame (creates /cpginject-truncated) whose
 *                    body is cut short but whose length and CRC fit the cut
 *                    frame: only decoding the body can catch it
 *   version          a correct CHANGES frame (creates /cpginject-version)
 *                    that claims protocol version MSG_PROTO_VERSION + 1
 *   valid:PATH       a correct CHANGES frame creating file PATH with the
 *                    content "cpginject\n" (the control: it shows the
 *                    injector's frames do reach the daemons, and since
 *                    delivery is totally ordered, once PATH shows up every
 *                    earlier frame has been handled)
 *
 * Frames are built with cfs/msg.c, so they are the real wire format; the
 * sender field is this node's id (what the daemons check against the CPG
 * sender) and the counter is far above anything a daemon uses, so the
 * node's own pvecfs never mistakes a frame for one of its own requests.
 *
 * Prints one line per step; exits 0 when every frame was delivered back,
 * 1 on errors, 2 on usage errors. */
#include <corosync/cpg.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cfs/change.h"
#include "cfs/msg.h"

#define INJECT_COUNTER_BASE (UINT64_C(1) << 62)
#define INJECT_MTIME 1000000000
#define WAIT_SECONDS 15

struct injector {
	cpg_handle_t handle;
	uint32_t nodeid;
	uint32_t pid;
	bool joined;
	unsigned sent;      /* frames multicast */
	unsigned delivered; /* our own frames seen back */
};

static void on_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid,
		       void *msg, size_t len)
{
	(void)group;
	(void)msg;
	(void)len;
	struct injector *in = NULL;
	cpg_context_get(h, (void **)&in);
	if (in && nodeid == in->nodeid && pid == in->pid)
		in->delivered++;
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
	struct injector *in = NULL;
	cpg_context_get(h, (void **)&in);
	if (!in)
		return;
	for (size_t i = 0; i < n_members; i++)
		if (members[i].nodeid == in->nodeid && members[i].pid == in->pid)
			in->joined = true;
	printf("confchg: %zu members\n", n_members);
	fflush(stdout);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Dispatches CPG events until done(in) or `seconds` pass. */
static int dispatch_until(struct injector *in, bool (*done)(const struct injector *), double seconds)
{
	int fd;
	if (cpg_fd_get(in->handle, &fd) != CS_OK)
		return -EIO;
	double end = now() + seconds;
	while (!done || !done(in)) {
		double left = end - now();
		if (left <= 0)
			return done ? -ETIMEDOUT : 0;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && cpg_dispatch(in->handle, CS_DISPATCH_ALL) != CS_OK)
			return -EIO;
	}
	return 0;
}

static bool is_joined(const struct injector *in) { return in->joined; }

static bool all_delivered(const struct injector *in) { return in->delivered >= in->sent; }

/* A CHANGES frame with one CREATE of path. */
static void build_create(struct msg_buf *b, uint32_t nodeid, uint64_t counter, const char *path)
{
	static const char content[] = "cpginject\n";
	struct change c = {
		.op = CHANGE_CREATE, .writer = nodeid, .mtime = INJECT_MTIME,
		.path = path, .data = content, .size = sizeof(content) - 1,
	};
	msg_begin(b, MSG_CHANGES, nodeid, 0, counter);
	msg_put_u32(b, 1);
	msg_put_change(b, &c);
}

static void fill_random(uint8_t *p, size_t n)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? read(fd, p, n) : -1;
	if (fd >= 0)
		close(fd);
	for (size_t i = got > 0 ? (size_t)got : 0; i < n; i++)
		p[i] = (uint8_t)rand();
}

/* Builds the frame for one KIND into b.  Returns 0 or -EINVAL. */
static int build_frame(struct msg_buf *b, const char *kind, uint32_t nodeid, uint64_t counter)
{
	if (strcmp(kind, "garbage") == 0) {
		uint8_t junk[256];
		fill_random(junk, sizeof(junk));
		junk[0] = 'X'; /* never the magic by accident */
		b->len = 0;
		msg_put_bytes(b, junk, sizeof(junk));
		return b->error;
	}
	if (strcmp(kind, "badcrc") == 0) {
		build_create(b, nodeid, counter, "/cpginject-badcrc");
		int e = msg_finish(b);
		if (e == 0)
			b->data[12] ^= 0x5a;
		return e;
	}
	if (strcmp(kind, "truncated") == 0) {
		build_create(b, nodeid, counter, "/cpginject-truncated");
		if (b->error)
			return b->error;
		b->len -= 6; /* cut into the content blob; msg_finish fits length and CRC */
		return msg_finish(b);
	}
	if (strcmp(kind, "version") == 0) {
		build_create(b, nodeid, counter, "/cpginject-version");
		if (b->error)
			return b->error;
		b->data[4] = (uint8_t)(MSG_PROTO_VERSION + 1);
		b->data[5] = 0;
		return msg_finish(b);
	}
	if (strncmp(kind, "valid:", 6) == 0 && kind[6] == '/') {
		build_create(b, nodeid, counter, kind + 6);
		return msg_finish(b);
	}
	return -EINVAL;
}

static int send_frame(struct injector *in, const struct msg_buf *b)
{
	struct iovec iov = { .iov_base = b->data, .iov_len = b->len };
	for (int tries = 0; tries < 100; tries++) {
		cs_error_t r = cpg_mcast_joined(in->handle, CPG_TYPE_AGREED, &iov, 1);
		if (r == CS_OK)
			return 0;
		if (r != CS_ERR_TRY_AGAIN)
			return -EIO;
		usleep(20000);
	}
	return -EAGAIN;
}

static void usage(void)
{
	fprintf(stderr, "usage: cpginject [--group NAME] [--stay SECONDS] "
			"garbage|badcrc|truncated|version|valid:/PATH...\n");
}

int main(int argc, char **argv)
{
	const char *group_name = "pvecfs";
	double stay = 0;
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc) {
			usage();
			return 2;
		}
		if (strcmp(argv[i], "--group") == 0)
			group_name = argv[i + 1];
		else if (strcmp(argv[i], "--stay") == 0)
			stay = atof(argv[i + 1]);
		else {
			usage();
			return 2;
		}
	}
	if (i >= argc || strlen(group_name) >= CPG_MAX_NAME_LENGTH) {
		usage();
		return 2;
	}
	struct msg_buf b;
	msg_buf_init(&b);
	for (int k = i; k < argc; k++)
		if (build_frame(&b, argv[k], 1, 1) < 0) {
			fprintf(stderr, "cpginject: unknown kind '%s'\n", argv[k]);
			usage();
			msg_buf_free(&b);
			return 2;
		}

	struct injector in = { .pid = (uint32_t)getpid() };
	cpg_model_v1_data_t model = {
		.model = CPG_MODEL_V1, .cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg,
	};
	if (cpg_model_initialize(&in.handle, CPG_MODEL_V1, (cpg_model_data_t *)&model, &in) != CS_OK) {
		fprintf(stderr, "cpginject: cannot connect to corosync\n");
		msg_buf_free(&b);
		return 1;
	}
	int rc = 1;
	unsigned int local = 0;
	struct cpg_name group = { .length = (uint32_t)strlen(group_name) };
	memcpy(group.value, group_name, group.length);
	if (cpg_local_get(in.handle, &local) != CS_OK || cpg_join(in.handle, &group) != CS_OK) {
		fprintf(stderr, "cpginject: cannot join group %s\n", group_name);
		goto done;
	}
	in.nodeid = local;
	if (dispatch_until(&in, is_joined, WAIT_SECONDS) < 0) {
		fprintf(stderr, "cpginject: the join was not confirmed\n");
		goto done;
	}
	printf("joined %s as node %u pid %u\n", group_name, in.nodeid, in.pid);
	for (int k = i; k < argc; k++) {
		int e = build_frame(&b, argv[k], in.nodeid, INJECT_COUNTER_BASE + (uint64_t)k);
		if (e == 0)
			e = send_frame(&in, &b);
		if (e < 0) {
			fprintf(stderr, "cpginject: sending %s failed: %s\n", argv[k], strerror(-e));
			goto done;
		}
		in.sent++;
		printf("sent %s (%zu bytes)\n", argv[k], b.len);
		fflush(stdout);
	}
	if (dispatch_until(&in, all_delivered, WAIT_SECONDS) < 0) {
		fprintf(stderr, "cpginject: only %u of %u frames came back\n", in.delivered, in.sent);
		goto done;
	}
	printf("delivered %u frames\n", in.delivered);
	fflush(stdout);
	if (stay > 0 && dispatch_until(&in, NULL, stay) < 0)
		goto done;
	rc = 0;
done:
	cpg_leave(in.handle, &group);
	cpg_finalize(in.handle);
	msg_buf_free(&b);
	if (rc == 0)
		printf("left\n");
	return rc;
}
