/* dfsm.c - see dfsm.h.
 *
 * A round starts at every confchg: every member multicasts a STATE (round
 * id, version, tree checksum, whether it was synced when the round began,
 * whether its database was changed in local mode).  The round id is a hash
 * of the member list: STATEs of an earlier membership never count.  When a
 * member holds the STATE of every member it decides, and all decide the
 * same: the leader is the best state (not local-marked, highest version,
 * was synced, lowest node id).  Members whose state equals the leader's are
 * synced at once and apply their queue; the leader then multicasts its
 * state as of that moment (UPDATE frames, then UPDATE_DONE) and the others
 * build it aside, check its checksum, swap it in and apply their queue.
 *
 * Queue: CHANGES frames delivered while not synced are kept, tagged with
 * the round in which they arrived.  If the leader was synced when the round
 * began, its state already holds everything delivered before the round, so
 * older entries are dropped; otherwise nobody applied them and all keep
 * them.  Every member applies the same rule, so all end identical. */
#include "dfsm.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"

#define UPDATE_CHUNK (512 * 1024)

struct member_state {
	uint32_t nodeid;
	uint32_t pid;
	bool have;        /* STATE received this round */
	uint64_t version;
	bool was_synced;
	bool local_marked;
	char checksum[65];
};

struct queued {
	uint64_t round;
	uint32_t sender;
	size_t len;
	uint8_t frame[];
};

struct dfsm {
	struct tree *tree;
	struct apply *apply;
	uint32_t nodeid;
	bool local_marked;
	const struct dfsm_ops *ops;
	void *ctx;

	bool synced;
	uint64_t round;      /* local count of confchgs */
	uint64_t round_id;   /* hash of the member list: carried in sync frames */
	struct member_state *members;
	size_t n_members;
	bool decided;
	bool diverged;       /* local-mode edits differ from the cluster: read-only */
	const struct member_state *leader;
	struct tree *incoming; /* the leader's state being received */
	uint64_t incoming_count;
	GQueue queue;          /* struct queued * */
	uint64_t counter;      /* our sync frames */

	uint64_t rounds_done;
	double round_started, last_round_seconds;
};

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int dfsm_new(struct tree *tree, struct apply *apply, uint32_t nodeid, bool local_marked,
	     const struct dfsm_ops *ops, void *ctx, struct dfsm **out)
{
	struct dfsm *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->tree = tree;
	d->apply = apply;
	d->nodeid = nodeid;
	d->local_marked = local_marked;
	d->ops = ops;
	d->ctx = ctx;
	g_queue_init(&d->queue);
	*out = d;
	return 0;
}

void dfsm_free(struct dfsm *d)
{
	if (!d)
		return;
	g_queue_clear_full(&d->queue, free);
	tree_free(d->incoming);
	free(d->members);
	free(d);
}

bool dfsm_synced(struct dfsm *d) { return d->synced; }

void dfsm_stats(struct dfsm *d, uint64_t *rounds, double *last_seconds)
{
	*rounds = d->rounds_done;
	*last_seconds = d->last_round_seconds;
}

static void node_label(struct dfsm *d, uint32_t nodeid, char *buf, size_t len)
{
	if (d->ops->node_name)
		d->ops->node_name(d->ctx, nodeid, buf, len);
	else
		snprintf(buf, len, "node %u", nodeid);
}

static void set_synced(struct dfsm *d, bool synced)
{
	if (d->synced == synced)
		return;
	d->synced = synced;
	if (synced) {
		d->rounds_done++;
		d->last_round_seconds = now_seconds() - d->round_started;
	}
	if (d->ops->sync_changed)
		d->ops->sync_changed(d->ctx, synced);
}

/* ---- applying CHANGES frames ---- */

static int decode_changes(struct msg_reader *r, uint32_t sender, struct change **out, size_t *n)
{
	uint32_t count = msg_get_u32(r);
	if (r->error || count > (uint32_t)(r->end - r->p))
		return -EBADMSG;
	struct change *c = calloc(count ? count : 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		int e = msg_get_change(r, sender, &c[i]);
		if (e < 0) {
			free(c);
			return e;
		}
	}
	int e = msg_reader_done(r);
	if (e < 0) {
		free(c);
		return e;
	}
	*out = c;
	*n = count;
	return 0;
}

/* Applies an opened CHANGES frame. */
static void apply_changes(struct dfsm *d, uint32_t sender, const struct msg_header *h, struct msg_reader *r)
{
	_cleanup_free_ struct change *changes = NULL;
	size_t n = 0;
	int e = decode_changes(r, h->sender, &changes, &n);
	if (e < 0) {
		char name[64];
		node_label(d, sender, name, sizeof(name));
		log_error("dropping a malformed change message from %s: %s", name, strerror(-e));
		return; /* an own frame always decodes: it was built here */
	}
	_cleanup_free_ int *results = calloc(n ? n : 1, sizeof(int));
	if (!results)
		return;
	apply_batch(d->apply, changes, n, results);
	if (h->sender == d->nodeid && d->ops->completed)
		d->ops->completed(d->ctx, h->counter, results, n);
}

/* Applies a queued frame (it was checked when it was delivered). */
static void apply_frame(struct dfsm *d, uint32_t sender, const void *frame, size_t len)
{
	struct msg_header h;
	struct msg_reader r;
	if (msg_open(frame, len, &h, &r) < 0)
		return;
	apply_changes(d, sender, &h, &r);
	msg_reader_release(&r);
}

static void enqueue(struct dfsm *d, uint32_t sender, const void *frame, size_t len)
{
	struct queued *q = malloc(sizeof(*q) + len);
	if (!q) {
		log_error("out of memory queueing a change during sync");
		return;
	}
	q->round = d->round;
	q->sender = sender;
	q->len = len;
	memcpy(q->frame, frame, len);
	g_queue_push_tail(&d->queue, q);
}

static void apply_queue(struct dfsm *d)
{
	struct queued *q;
	while ((q = g_queue_pop_head(&d->queue))) {
		apply_frame(d, q->sender, q->frame, q->len);
		free(q);
	}
}

static void drop_older_rounds(struct dfsm *d)
{
	struct queued *q;
	while ((q = g_queue_peek_head(&d->queue)) && q->round < d->round) {
		g_queue_pop_head(&d->queue);
		free(q);
	}
}

/* ---- sending ---- */

static int send_frame(struct dfsm *d, struct msg_buf *b)
{
	int e = msg_finish(b);
	if (e == 0)
		e = d->ops->send(d->ctx, b->data, b->len);
	if (e < 0)
		log_error("cannot send a sync message: %s", strerror(-e));
	return e;
}

static void send_state(struct dfsm *d, bool was_synced)
{
	char sum[65];
	tree_checksum(d->tree, sum);
	struct msg_buf b;
	msg_buf_init(&b);
	msg_begin(&b, MSG_STATE, d->nodeid, d->round_id, ++d->counter);
	msg_put_u64(&b, tree_version(d->tree));
	msg_put_u8(&b, was_synced);
	msg_put_u8(&b, d->local_marked);
	msg_put_blob(&b, sum, 65);
	send_frame(d, &b);
	msg_buf_free(&b);
}

struct update_sender {
	struct dfsm *d;
	struct msg_buf b;
	uint32_t in_frame;
	size_t count_pos;
	uint64_t total;
	int error;
};

static void update_begin_frame(struct update_sender *u)
{
	msg_begin(&u->b, MSG_UPDATE, u->d->nodeid, u->d->round_id, ++u->d->counter);
	u->count_pos = u->b.len;
	msg_put_u32(&u->b, 0);
	u->in_frame = 0;
}

static void update_flush(struct update_sender *u)
{
	if (u->in_frame == 0 || u->error)
		return;
	uint8_t *p = u->b.data + u->count_pos;
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(u->in_frame >> (8 * i));
	u->error = send_frame(u->d, &u->b);
	update_begin_frame(u);
}

static void update_put_node(struct update_sender *u, const struct tree_attr *a, const char *name,
			    const struct tree_blob *blob)
{
	msg_put_u64(&u->b, a->inode);
	msg_put_u64(&u->b, a->parent);
	msg_put_u64(&u->b, a->version);
	msg_put_u64(&u->b, (uint64_t)a->mtime);
	msg_put_u32(&u->b, a->writer);
	msg_put_u8(&u->b, (uint8_t)a->type);
	msg_put_blob(&u->b, name, strlen(name));
	msg_put_blob(&u->b, blob ? blob->data : NULL, blob ? blob->size : 0);
	u->in_frame++;
	u->total++;
	if (u->b.len >= UPDATE_CHUNK)
		update_flush(u);
}

static int update_walk_cb(void *ctx, const struct tree_attr *a, const char *name, const struct tree_blob *blob)
{
	update_put_node(ctx, a, name, blob);
	return ((struct update_sender *)ctx)->error;
}

/* The leader's state as of now, before it applies anything queued. */
static void send_update(struct dfsm *d)
{
	struct update_sender u = { .d = d };
	msg_buf_init(&u.b);
	update_begin_frame(&u);
	struct tree_attr root;
	tree_getattr(d->tree, TREE_ROOT_INODE, &root);
	update_put_node(&u, &root, "", NULL);
	tree_walk(d->tree, update_walk_cb, &u);
	update_flush(&u);
	if (!u.error) {
		char sum[65];
		tree_checksum(d->tree, sum);
		msg_begin(&u.b, MSG_UPDATE_DONE, d->nodeid, d->round_id, ++d->counter);
		msg_put_u64(&u.b, tree_version(d->tree));
		msg_put_u64(&u.b, u.total);
		msg_put_blob(&u.b, sum, 65);
		send_frame(d, &u.b);
	}
	msg_buf_free(&u.b);
	log_info("sync: sent the state (version %llu, %llu inodes) to the members that differ",
		 (unsigned long long)tree_version(d->tree), (unsigned long long)u.total);
}

/* ---- the round ---- */

static int compare_members(const void *a, const void *b)
{
	const struct dfsm_member *x = a, *y = b;
	if (x->nodeid != y->nodeid)
		return x->nodeid < y->nodeid ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static uint64_t hash_members(const struct dfsm_member *m, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		uint32_t words[2] = { m[i].nodeid, m[i].pid };
		for (int w = 0; w < 2; w++)
			for (int k = 0; k < 4; k++) {
				h ^= (words[w] >> (8 * k)) & 0xff;
				h *= 1099511628211ULL;
			}
	}
	return h ? h : 1;
}

void dfsm_confchg(struct dfsm *d, const struct dfsm_member *members, size_t n)
{
	_cleanup_free_ struct dfsm_member *ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return;
	memcpy(ids, members, n * sizeof(*ids));
	qsort(ids, n, sizeof(*ids), compare_members);

	bool was_synced = d->synced;
	set_synced(d, false);
	d->round++;
	d->round_id = hash_members(ids, n);
	d->round_started = now_seconds();
	d->decided = false;
	d->diverged = false;
	d->leader = NULL;
	tree_free(d->incoming);
	d->incoming = NULL;
	free(d->members);
	d->members = calloc(n ? n : 1, sizeof(*d->members));
	d->n_members = d->members ? n : 0;
	for (size_t i = 0; i < d->n_members; i++) {
		d->members[i].nodeid = ids[i].nodeid;
		d->members[i].pid = ids[i].pid;
	}
	log_info("sync: membership changed (%zu members), round %llu starts",
		 n, (unsigned long long)d->round);
	send_state(d, was_synced);
}

static struct member_state *find_member(struct dfsm *d, uint32_t nodeid, uint32_t pid)
{
	for (size_t i = 0; i < d->n_members; i++)
		if (d->members[i].nodeid == nodeid && d->members[i].pid == pid)
			return &d->members[i];
	return NULL;
}

/* This daemon's own entry: the member with our node id that sent a STATE
 * (a foreign process on our node never does). */
static struct member_state *find_self(struct dfsm *d)
{
	for (size_t i = 0; i < d->n_members; i++)
		if (d->members[i].nodeid == d->nodeid && d->members[i].have)
			return &d->members[i];
	return NULL;
}

/* Orders candidate states: true if a is a better leader than b. */
static bool better_leader(const struct member_state *a, const struct member_state *b)
{
	if (a->local_marked != b->local_marked)
		return !a->local_marked;
	if (a->version != b->version)
		return a->version > b->version;
	if (a->was_synced != b->was_synced)
		return a->was_synced;
	return a->nodeid < b->nodeid;
}

static bool same_state(const struct member_state *a, const struct member_state *b)
{
	return a->version == b->version && strcmp(a->checksum, b->checksum) == 0;
}

static void finish_round(struct dfsm *d)
{
	apply_queue(d);
	d->local_marked = false; /* this node now holds the cluster's state */
	set_synced(d, true);
	log_info("sync: round %llu done, version %llu", (unsigned long long)d->round,
		 (unsigned long long)tree_version(d->tree));
}

static void decide(struct dfsm *d)
{
	const struct member_state *leader = NULL;
	for (size_t i = 0; i < d->n_members; i++)
		if (d->members[i].have && (!leader || better_leader(&d->members[i], leader)))
			leader = &d->members[i];
	if (!leader)
		return;
	d->leader = leader;
	d->decided = true;
	if (leader->was_synced)
		drop_older_rounds(d);

	bool anyone_differs = false;
	for (size_t i = 0; i < d->n_members; i++)
		anyone_differs |= d->members[i].have && !same_state(&d->members[i], leader);
	const struct member_state *me = find_self(d);
	char name[64];
	node_label(d, leader->nodeid, name, sizeof(name));
	if (me && !same_state(me, leader) && me->local_marked && !leader->local_marked) {
		/* Never overwrite what was edited in local mode: an operator decides. */
		log_error("sync: this node's database was changed in local mode and differs from the "
			  "cluster's (local %s version %llu, cluster %s version %llu at %s): staying "
			  "read-only; see README \"Local mode and the cluster\" to pick a side",
			  me->checksum, (unsigned long long)me->version, leader->checksum,
			  (unsigned long long)leader->version, name);
		g_queue_clear_full(&d->queue, free);
		d->leader = NULL;
		d->diverged = true;
		if (d->ops->diverged)
			d->ops->diverged(d->ctx);
		return;
	}
	if (me && !same_state(me, leader)) {
		log_info("sync: leader is %s (version %llu); receiving its state", name,
			 (unsigned long long)leader->version);
		return; /* wait for UPDATE_DONE */
	}
	if (leader->nodeid == d->nodeid && anyone_differs)
		send_update(d);
	finish_round(d);
}

static void on_state(struct dfsm *d, uint32_t pid, const struct msg_header *h, struct msg_reader *r)
{
	uint64_t version = msg_get_u64(r);
	uint8_t was_synced = msg_get_u8(r);
	uint8_t local_marked = msg_get_u8(r);
	size_t n;
	const char *sum = msg_get_blob(r, &n);
	if (msg_reader_done(r) < 0 || n != 65 || sum[64] != '\0')
		return;
	struct member_state *m = find_member(d, h->sender, pid);
	if (!m || d->decided || h->epoch != d->round_id)
		return; /* from an earlier membership */
	m->have = true;
	m->version = version;
	m->was_synced = was_synced;
	m->local_marked = local_marked;
	memcpy(m->checksum, sum, 65);
	for (size_t i = 0; i < d->n_members; i++)
		if (!d->members[i].have)
			return;
	decide(d);
}

static bool receiving_update(struct dfsm *d, uint32_t pid, const struct msg_header *h)
{
	return d->decided && !d->synced && d->leader && h->sender == d->leader->nodeid &&
	       pid == d->leader->pid && h->epoch == d->round_id;
}

static void on_update(struct dfsm *d, uint32_t pid, const struct msg_header *h, struct msg_reader *r)
{
	if (!receiving_update(d, pid, h))
		return;
	if (!d->incoming && tree_new(tree_get_limits(d->tree), &d->incoming) < 0)
		return;
	uint32_t count = msg_get_u32(r);
	for (uint32_t i = 0; i < count && !r->error; i++) {
		struct tree_attr a = { 0 };
		a.inode = msg_get_u64(r);
		a.parent = msg_get_u64(r);
		a.version = msg_get_u64(r);
		a.mtime = (int64_t)msg_get_u64(r);
		a.writer = msg_get_u32(r);
		a.type = (enum tree_type)msg_get_u8(r);
		size_t name_len, size;
		const char *name = msg_get_blob(r, &name_len);
		const void *data = msg_get_blob(r, &size);
		if (r->error || name_len > TREE_NAME_MAX)
			break;
		char nbuf[TREE_NAME_MAX + 1];
		memcpy(nbuf, name, name_len);
		nbuf[name_len] = 0;
		a.size = size;
		if (tree_load_node(d->incoming, &a, nbuf, data, size) < 0)
			r->error = -EBADMSG;
		else
			d->incoming_count++;
	}
	if (msg_reader_done(r) < 0) {
		log_error("sync: malformed state update from the leader; waiting for the next round");
		tree_free(d->incoming);
		d->incoming = NULL;
		d->leader = NULL; /* ignore the rest of this round's updates */
	}
}

static void on_update_done(struct dfsm *d, uint32_t pid, const struct msg_header *h, struct msg_reader *r)
{
	if (!receiving_update(d, pid, h))
		return;
	uint64_t version = msg_get_u64(r);
	uint64_t total = msg_get_u64(r);
	size_t n;
	const char *sum = msg_get_blob(r, &n);
	struct tree *fresh = d->incoming;
	d->incoming = NULL;
	char got[65] = "";
	int e = msg_reader_done(r);
	if (e == 0 && (!fresh || n != 65 || total != d->incoming_count))
		e = -EBADMSG;
	if (e == 0)
		e = tree_load_finish(fresh, version);
	if (e == 0) {
		tree_checksum(fresh, got);
		if (strcmp(got, sum) != 0)
			e = -EBADMSG;
	}
	d->incoming_count = 0;
	if (e < 0) {
		log_error("sync: the leader's state did not arrive intact (%s); staying read-only until "
			  "the next membership change", strerror(-e));
		tree_free(fresh);
		return;
	}
	e = apply_replace_tree(d->apply, fresh);
	tree_free(fresh);
	if (e < 0) {
		log_error("sync: cannot store the leader's state: %s", strerror(-e));
		return;
	}
	log_info("sync: installed the leader's state (version %llu, %llu inodes)",
		 (unsigned long long)version, (unsigned long long)total);
	finish_round(d);
}

void dfsm_deliver(struct dfsm *d, uint32_t nodeid, uint32_t pid, const void *frame, size_t len)
{
	struct msg_header h;
	struct msg_reader r;
	int e = msg_open(frame, len, &h, &r);
	if (e == -EPROTONOSUPPORT) {
		char name[64];
		node_label(d, nodeid, name, sizeof(name));
		log_error("ignoring a message from %s: it speaks protocol version %u, this node %u",
			  name, h.version, MSG_PROTO_VERSION);
		return;
	}
	if (e == 0 && h.sender != nodeid)
		e = -EBADMSG;
	if (e < 0) {
		char name[64];
		node_label(d, nodeid, name, sizeof(name));
		log_error("dropping a malformed message from %s (%zu bytes): %s", name, len, strerror(-e));
		return;
	}
	switch (h.type) {
	case MSG_CHANGES:
		if (d->synced)
			apply_changes(d, nodeid, &h, &r);
		else if (!d->diverged)
			enqueue(d, nodeid, frame, len);
		break;
	case MSG_STATE:
		on_state(d, pid, &h, &r);
		break;
	case MSG_UPDATE:
		on_update(d, pid, &h, &r);
		break;
	case MSG_UPDATE_DONE:
		on_update_done(d, pid, &h, &r);
		break;
	default:
		if (d->ops->other)
			d->ops->other(d->ctx, &h, &r);
		break;
	}
	msg_reader_release(&r);
}

void dfsm_tick(struct dfsm *d)
{
	if (d->decided || d->n_members == 0 || now_seconds() - d->round_started < DFSM_STATE_TIMEOUT)
		return;
	if (!find_self(d))
		return; /* our own STATE is not back yet: the group is not moving */
	for (size_t i = 0; i < d->n_members; i++) {
		if (d->members[i].have)
			continue;
		char name[64];
		node_label(d, d->members[i].nodeid, name, sizeof(name));
		log_warn("sync: process %u on %s joined the group but sent no state within %d s; "
			 "deciding without it", d->members[i].pid, name, DFSM_STATE_TIMEOUT);
	}
	decide(d);
}
