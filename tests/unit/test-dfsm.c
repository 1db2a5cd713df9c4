/* test-dfsm.c - the sync protocol on a simulated bus.
 *
 * Each simulated node has its own tree, SQLite store (in a temp dir),
 * applier and dfsm.  The bus is what CPG guarantees and nothing more: one
 * total order of frames and membership changes, delivered to every member
 * of the current membership.  Frames a node multicasts are appended to the
 * order; the test pumps it.  No corosync here: the real thing is covered by
 * tests/cluster. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "apply.h"
#include "dfsm.h"
#include "msg.h"
#include "store.h"
#include "testlib.h"
#include "tree.h"

#define MAX_NODES 5

struct bus_item {
	struct bus_item *next;
	uint32_t sender;
	bool confchg;
	struct dfsm_member members[MAX_NODES + 1];
	size_t n_members;
	size_t len;
	uint8_t frame[];
};

struct sim_node {
	uint32_t id;
	bool up;
	char dir[64];
	struct tree *tree;
	struct store *store;
	struct apply *apply;
	struct dfsm *dfsm;
	uint64_t counter;
	int completed;
	bool synced;
};

static struct sim {
	struct sim_node nodes[MAX_NODES + 1];
	struct bus_item *head, *tail;
} sim;

static void bus_append(struct bus_item *it)
{
	if (sim.tail)
		sim.tail->next = it;
	else
		sim.head = it;
	sim.tail = it;
}

static int sim_send(void *ctx, const void *frame, size_t len)
{
	struct sim_node *n = ctx;
	struct bus_item *it = calloc(1, sizeof(*it) + len);
	it->sender = n->id;
	it->len = len;
	memcpy(it->frame, frame, len);
	bus_append(it);
	return 0;
}

static void sim_completed(void *ctx, uint64_t counter, const int *results, size_t n)
{
	((struct sim_node *)ctx)->completed += (int)n;
}

static void sim_sync_changed(void *ctx, bool synced) { ((struct sim_node *)ctx)->synced = synced; }

static const struct dfsm_ops sim_ops = {
	.send = sim_send, .completed = sim_completed, .sync_changed = sim_sync_changed,
};

static void node_open(uint32_t id, bool local_marked)
{
	struct sim_node *n = &sim.nodes[id];
	n->id = id;
	if (!n->dir[0]) {
		snprintf(n->dir, sizeof(n->dir), "/tmp/pvecfs-dfsm.XXXXXX");
		if (!mkdtemp(n->dir))
			abort();
	}
	char *why = NULL;
	struct tree_limits lim = TREE_LIMITS_DEFAULT;
	if (store_open(n->dir, &n->store, &why) < 0 || tree_new(&lim, &n->tree) < 0 ||
	    store_load(n->store, n->tree, &why) < 0 || apply_new(n->tree, n->store, &n->apply) < 0 ||
	    dfsm_new(n->tree, n->apply, id, local_marked, &sim_ops, n, &n->dfsm) < 0) {
		fprintf(stderr, "node %u: %s\n", id, why ? why : "setup failed");
		abort();
	}
	n->up = true;
	n->synced = false;
}

static void node_close(uint32_t id)
{
	struct sim_node *n = &sim.nodes[id];
	dfsm_free(n->dfsm);
	apply_free(n->apply);
	store_close(n->store);
	tree_free(n->tree);
	n->dfsm = NULL;
	n->up = false;
}

static void node_wipe(uint32_t id)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", sim.nodes[id].dir);
	if (system(cmd) != 0)
		abort();
	sim.nodes[id].dir[0] = 0;
}

/* Simulated daemons are process 100+id on node id; a foreign process (not a
 * pvecfs daemon) joined to the group is process 999 on node 1. */
#define SIM_PID(id) (100 + (id))
#define FOREIGN 999

/* A membership change in the total order: the listed nodes are the group. */
static void confchg_with(const uint32_t *ids, size_t n, bool foreign)
{
	struct bus_item *it = calloc(1, sizeof(*it));
	it->confchg = true;
	for (size_t i = 0; i < n; i++)
		it->members[i] = (struct dfsm_member){ ids[i], SIM_PID(ids[i]) };
	if (foreign)
		it->members[n++] = (struct dfsm_member){ 1, FOREIGN };
	it->n_members = n;
	bus_append(it);
}

static void confchg(const uint32_t *ids, size_t n) { confchg_with(ids, n, false); }

static bool is_member(const struct bus_item *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_members; i++)
		if (c->members[i].nodeid == id)
			return true;
	return false;
}

/* Delivers everything in order (including what is sent meanwhile). */
static void pump(void)
{
	static struct dfsm_member members[MAX_NODES + 1];
	static size_t n_members;
	struct bus_item *it;
	while ((it = sim.head)) {
		sim.head = it->next;
		if (!sim.head)
			sim.tail = NULL;
		if (it->confchg) {
			memcpy(members, it->members, sizeof(members));
			n_members = it->n_members;
			for (size_t i = 0; i < it->n_members; i++)
				if (it->members[i].pid != FOREIGN)
					dfsm_confchg(sim.nodes[it->members[i].nodeid].dfsm, it->members, it->n_members);
		} else {
			struct bus_item view = { .n_members = n_members };
			memcpy(view.members, members, sizeof(members));
			if (is_member(&view, it->sender))
				for (size_t i = 0; i < n_members; i++)
					if (members[i].pid != FOREIGN)
						dfsm_deliver(sim.nodes[members[i].nodeid].dfsm, it->sender,
							     SIM_PID(it->sender), it->frame, it->len);
		}
		free(it);
	}
}

/* Node `id` multicasts a batch of writes of /f<k> for k in [from, to). */
static void send_writes(uint32_t id, int from, int to, const char *content)
{
	struct sim_node *n = &sim.nodes[id];
	struct msg_buf b;
	msg_buf_init(&b);
	msg_begin(&b, MSG_CHANGES, id, 0, ++n->counter);
	msg_put_u32(&b, (uint32_t)(2 * (to - from)));
	for (int k = from; k < to; k++) {
		char path[32];
		snprintf(path, sizeof(path), "/f%d", k);
		struct change c = { .op = CHANGE_CREATE, .path = path, .mtime = 1000 + k };
		msg_put_change(&b, &c);
		struct change w = { .op = CHANGE_WRITE, .path = path, .mtime = 2000 + k,
				    .data = content, .size = strlen(content) };
		msg_put_change(&b, &w);
	}
	msg_finish(&b);
	sim_send(n, b.data, b.len);
	msg_buf_free(&b);
}

static bool same_tree(uint32_t a, uint32_t b)
{
	char x[65], y[65];
	tree_checksum(sim.nodes[a].tree, x);
	tree_checksum(sim.nodes[b].tree, y);
	return strcmp(x, y) == 0 && tree_version(sim.nodes[a].tree) == tree_version(sim.nodes[b].tree);
}

static void sim_reset(void)
{
	for (uint32_t i = 1; i <= MAX_NODES; i++) {
		if (sim.nodes[i].up)
			node_close(i);
		if (sim.nodes[i].dir[0])
			node_wipe(i);
	}
	memset(&sim, 0, sizeof(sim));
}

static void start_nodes(size_t n)
{
	uint32_t ids[MAX_NODES];
	for (uint32_t i = 1; i <= n; i++) {
		node_open(i, false);
		ids[i - 1] = i;
	}
	confchg(ids, n);
	pump();
}

static void test_fresh_nodes_sync_and_replicate(void)
{
	sim_reset();
	start_nodes(3);
	for (uint32_t i = 1; i <= 3; i++)
		CHECK(sim.nodes[i].synced);
	send_writes(2, 0, 10, "hello");
	pump();
	CHECK_INT(sim.nodes[2].completed, 20);
	CHECK_INT(sim.nodes[1].completed, 0);
	CHECK(same_tree(1, 2) && same_tree(1, 3));
	CHECK_INT(tree_version(sim.nodes[3].tree), 21);
	sim_reset();
}

static void test_node_that_missed_changes_catches_up(void)
{
	sim_reset();
	start_nodes(3);
	uint32_t two[] = { 1, 2 };
	confchg(two, 2);
	pump();
	node_close(3);
	for (int k = 0; k < 2500; k += 250)
		send_writes(1, k, k + 250, "vm config");
	pump();
	CHECK_INT(tree_version(sim.nodes[1].tree), 5001);
	node_open(3, false);
	CHECK_INT(tree_version(sim.nodes[3].tree), 1);
	uint32_t three[] = { 1, 2, 3 };
	confchg(three, 3);
	pump();
	CHECK(sim.nodes[3].synced);
	CHECK(same_tree(1, 3));
	/* and it persisted what it received */
	node_close(3);
	node_open(3, false);
	CHECK(same_tree(1, 3));
	sim_reset();
}

static void test_node_with_deleted_database_catches_up(void)
{
	sim_reset();
	start_nodes(3);
	send_writes(1, 0, 100, "x");
	pump();
	node_close(2);
	node_wipe(2);
	uint32_t two[] = { 1, 3 };
	confchg(two, 2);
	pump();
	node_open(2, false);
	uint32_t three[] = { 1, 2, 3 };
	confchg(three, 3);
	pump();
	CHECK(same_tree(1, 2));
	sim_reset();
}

/* Writes delivered between the confchg and the end of the sync are queued
 * on every node and applied after the leader's state, in order. */
static void test_changes_during_sync_are_queued_and_replayed(void)
{
	sim_reset();
	start_nodes(2);
	send_writes(1, 0, 50, "before");
	pump();
	node_open(3, false);
	uint32_t three[] = { 1, 2, 3 };
	confchg(three, 3);
	send_writes(2, 50, 60, "during"); /* in the order before any STATE */
	pump();
	CHECK(sim.nodes[3].synced);
	CHECK(same_tree(1, 3) && same_tree(2, 3));
	CHECK_INT(sim.nodes[2].completed, 20);
	struct tree_attr a;
	CHECK_INT(tree_resolve(sim.nodes[3].tree, "/f55", &a), 0);
	sim_reset();
}

/* The leader vanishes before its update arrives: the next round converges. */
static void test_membership_change_during_sync_converges(void)
{
	sim_reset();
	start_nodes(2);
	send_writes(1, 0, 30, "data");
	pump();
	node_open(3, false);
	uint32_t three[] = { 1, 2, 3 };
	confchg(three, 3);
	/* deliver only the confchg and the STATEs: stop before the update */
	struct bus_item *it = sim.head;
	sim.head = NULL;
	sim.tail = NULL;
	/* deliver the confchg alone, then a new membership without node 1 */
	it->next = NULL;
	sim.head = sim.tail = it;
	uint32_t members_none[] = { 2, 3 };
	pump(); /* confchg: every member sends STATE (appended) */
	/* node 1 leaves before the STATEs are delivered */
	struct bus_item *states = sim.head;
	sim.head = sim.tail = NULL;
	confchg(members_none, 2);
	for (struct bus_item *s = states; s;) {
		struct bus_item *next = s->next;
		free(s);
		s = next;
	}
	send_writes(2, 30, 35, "after");
	pump();
	CHECK(sim.nodes[2].synced && sim.nodes[3].synced);
	CHECK(same_tree(2, 3));
	struct tree_attr a;
	CHECK_INT(tree_resolve(sim.nodes[3].tree, "/f33", &a), 0);
	CHECK_INT(tree_resolve(sim.nodes[3].tree, "/f5", &a), 0);
	sim_reset();
}

static void test_local_mode_database_never_wins(void)
{
	sim_reset();
	start_nodes(2);
	send_writes(1, 0, 5, "cluster");
	pump();
	/* node 3 was edited in local mode and counts higher than the cluster */
	node_open(3, true);
	struct change c = { .op = CHANGE_CREATE, .path = "/local-only", .mtime = 1 };
	for (int i = 0; i < 40; i++) {
		int r;
		char p[32];
		snprintf(p, sizeof(p), "/local%d", i);
		c.path = p;
		apply_batch(sim.nodes[3].apply, &c, 1, &r);
	}
	char before[65], after[65];
	tree_checksum(sim.nodes[3].tree, before);
	uint32_t three[] = { 1, 2, 3 };
	confchg(three, 3);
	pump();
	tree_checksum(sim.nodes[3].tree, after);
	CHECK(!sim.nodes[3].synced);
	CHECK_STR(after, before);              /* its edits are kept */
	CHECK(sim.nodes[1].synced && same_tree(1, 2)); /* the cluster went on */
	struct tree_attr a;
	CHECK_INT(tree_resolve(sim.nodes[1].tree, "/local0", &a), -ENOENT);
	sim_reset();
}

static void test_malformed_frame_is_dropped(void)
{
	sim_reset();
	start_nodes(3);
	send_writes(1, 0, 3, "ok");
	pump();
	char before[65];
	tree_checksum(sim.nodes[2].tree, before);
	struct msg_buf b;
	msg_buf_init(&b);
	msg_begin(&b, MSG_CHANGES, 1, 0, 99);
	msg_put_u32(&b, 1);
	msg_put_u8(&b, CHANGE_CREATE);
	msg_finish(&b); /* valid CRC, truncated body */
	sim_send(&sim.nodes[1], b.data, b.len);
	b.data[b.len - 1] ^= 0xff;
	sim_send(&sim.nodes[1], b.data, b.len); /* bad CRC */
	msg_buf_free(&b);
	pump();
	char after[65];
	tree_checksum(sim.nodes[2].tree, after);
	CHECK_STR(after, before);
	send_writes(3, 10, 11, "still works");
	pump();
	CHECK(same_tree(1, 2) && same_tree(2, 3));
	sim_reset();
}

/* A process in the group that never sends a STATE (not a pvecfs daemon)
 * holds the round only until DFSM_STATE_TIMEOUT. */
static void test_silent_member_is_decided_without(void)
{
	sim_reset();
	start_nodes(2);
	uint32_t two[] = { 1, 2 };
	confchg_with(two, 2, true);
	send_writes(2, 0, 3, "queued");
	pump();
	CHECK(!sim.nodes[1].synced && !sim.nodes[2].synced);
	for (uint32_t i = 1; i <= 2; i++) {
		dfsm_tick(sim.nodes[i].dfsm); /* too early: nothing happens */
		CHECK(!sim.nodes[i].synced);
	}
	sleep(DFSM_STATE_TIMEOUT);
	for (uint32_t i = 1; i <= 2; i++)
		dfsm_tick(sim.nodes[i].dfsm);
	pump();
	CHECK(sim.nodes[1].synced && sim.nodes[2].synced);
	CHECK(same_tree(1, 2));
	CHECK_INT(sim.nodes[2].completed, 6);
	sim_reset();
}

static const struct test tests[] = {
	TEST(test_silent_member_is_decided_without),
	TEST(test_fresh_nodes_sync_and_replicate),
	TEST(test_node_that_missed_changes_catches_up),
	TEST(test_node_with_deleted_database_catches_up),
	TEST(test_changes_during_sync_are_queued_and_replayed),
	TEST(test_membership_change_during_sync_converges),
	TEST(test_local_mode_database_never_wins),
	TEST(test_malformed_frame_is_dropped),
};
TEST_MAIN(tests)
