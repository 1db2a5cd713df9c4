/* daemon.c - `pvecfs-net run`: keep this node's kernel links matching
 * nodes/<node>/interfaces and sdn/{zones,vnets}.cfg; and `pvecfs-net status`.
 *
 * A controller on the shared watcher loop (watchloop.h).  Two things make a
 * pass due:
 *   - the files: events under /nodes/<node>/ naming `interfaces`, and under
 *     /sdn/ (key "files");
 *   - the kernel: a netlink notification (netmon.h) about a link this
 *     watcher manages - declared, a declared port, or created by it - means
 *     somebody changed it by hand (key "drift").
 * plus the loop's full passes (start, reconnect, periodic).  Every pass is
 * level-triggered and whole: it reads the files, builds the desired state,
 * dumps the kernel, plans, and applies the plan with the same code as
 * `pvecfs-net apply` (reconcile.h).  A file that does not parse or
 * validate, a kernel that lacks a needed feature, or a plan that would cut
 * the cluster link rejects the pass before anything changes; the reason
 * (file:line: reason) goes to the log and to the status store.  When the
 * files did not change since the last successful apply, every change of a
 * pass is undoing a hand change and is logged as such:
 *   action=restore link=vmbr0 field=mtu from=1400 to=9000 change="..."
 *
 * The cluster link: the ring0 address of this node in corosync's nodelist
 * (clusteraddr.h), looked up at every pass, or --keep-address.  Without
 * corosync (local mode) nothing is protected, and the log says so.
 *
 * The VM configs of the node (/nodes/<node>/qemu-server/<vmid>.conf, key
 * "vms") are read at every pass too: their NICs are checked against the
 * links (netvmnic.h) and the problems join the warnings.  They never change
 * the plan, so an edit of a VM config alone makes zero netlink changes.
 *
 * Our own changes also produce notifications; after a pass that changed
 * something, the ones already queued are read and dropped.  A notification
 * that arrives later (carrier, operstate) costs one pass that finds nothing
 * to do: zero netlink changes.
 *
 * Status store: see netstatus.h ("net" and "net/<link>"). */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apiclient.h"
#include "cleanup.h"
#include "clusteraddr.h"
#include "netcheck.h"
#include "netdesired.h"
#include "netlink.h"
#include "netload.h"
#include "netmon.h"
#include "netstatus.h"
#include "netvmnic.h"
#include "reconcile.h"
#include "watchloop.h"

#define EXIT_USAGE 2
#define KEY_FILES "files"
#define KEY_DRIFT "drift"
#define KEY_VMS "vms"

struct netd {
	struct watch_ctx *ctx;
	const char *node;
	const char *keep_option; /* --keep-address */
	struct netmon *mon;

	/* links whose notifications mean drift (from the last pass) */
	char (*managed)[IFNAMSIZ];
	size_t n_managed;
	/* "net/<link>" keys published by the last pass */
	char **published;
	size_t n_published;

	uint64_t applied_digest; /* inputs of the last successful apply */
	bool have_applied;
	uint64_t reported_digest; /* inputs whose warnings/errors were logged */
	bool have_reported;

	char cluster_addr[64];
	char cluster_note[300]; /* the last logged lookup result */
	const char *cluster_source;

	unsigned restores;
	unsigned last_actions, last_changes; /* of the last pass that changed something */
	char prefix[300];                     /* "/nodes/<node>/" */
};

static void netdesired_freep(struct nd_state **s) { netdesired_free(*s); }
static void nl_closep(struct nl_ctx **c) { nl_close(*c); }
static void nl_snapshot_freep(struct nl_snapshot **s) { nl_snapshot_free(*s); }
static void reconcile_plan_freep(struct rc_plan **p) { reconcile_plan_free(*p); }

/* ---- the cluster link ---- */

/* Sets d->cluster_addr ("" = nothing to protect) and logs when the answer
 * changes. */
static void resolve_cluster_address(struct netd *d)
{
	char addr[64] = "", why[256] = "", note[300];
	const char *source;
	if (d->keep_option) {
		snprintf(addr, sizeof(addr), "%s", d->keep_option);
		source = "option";
		snprintf(note, sizeof(note), "address=%s source=option", addr);
	} else {
		int r = cluster_ring_address(d->node, addr, sizeof(addr), why, sizeof(why));
		if (r == 0) {
			source = "corosync";
			snprintf(note, sizeof(note), "address=%s source=corosync", addr);
		} else {
			addr[0] = '\0';
			source = "none";
			snprintf(note, sizeof(note), "%s", why);
		}
	}
	if (strcmp(note, d->cluster_note) != 0) {
		char f[600];
		size_t len = 0;
		f[0] = '\0';
		watch_kv_append(f, sizeof(f), &len, "event", "cluster-address");
		watch_kv_append(f, sizeof(f), &len, "source", source);
		if (addr[0]) {
			watch_kv_append(f, sizeof(f), &len, "address", addr);
			watch_log(d->ctx, LOG_INFO, "%s msg=\"links carrying %s are protected\"", f, addr);
		} else {
			char msg[400];
			snprintf(msg, sizeof(msg), "%s: local mode, no cluster link to protect (--keep-address names one)",
				 why);
			watch_kv_append(f, sizeof(f), &len, "msg", msg);
			watch_log(d->ctx, strcmp(why, "") && !strstr(why, "not reachable") ? LOG_WARNING : LOG_INFO, "%s",
				  f);
		}
		snprintf(d->cluster_note, sizeof(d->cluster_note), "%s", note);
	}
	snprintf(d->cluster_addr, sizeof(d->cluster_addr), "%s", addr);
	d->cluster_source = source;
}

/* ---- drift ---- */

static bool is_managed(const struct netd *d, const char *name)
{
	for (size_t i = 0; i < d->n_managed; i++)
		if (strcmp(d->managed[i], name) == 0)
			return true;
	return false;
}

static void on_notification(void *userdata, const char *link, const char *what)
{
	struct netd *d = userdata;
	if (!*link || !is_managed(d, link))
		return;
	watch_log(d->ctx, LOG_DEBUG, "event=netlink what=%s link=%s", what, link);
	watch_mark_dirty(d->ctx, KEY_DRIFT);
}

static void on_monitor(struct watch_ctx *ctx, int fd, short revents, void *userdata)
{
	(void)fd;
	(void)revents;
	struct netd *d = userdata;
	int r = netmon_read(d->mon, on_notification, d);
	if (r == -ENOBUFS) {
		watch_log(ctx, LOG_WARNING, "event=netlink-overrun msg=\"notifications were lost: full pass\"");
		watch_mark_dirty(ctx, NULL);
	} else if (r < 0) {
		watch_log(ctx, LOG_ERR, "event=netlink-error error=\"%s\"", strerror(-r));
	}
}

static void ignore_notification(void *userdata, const char *link, const char *what)
{
	(void)userdata;
	(void)link;
	(void)what;
}

/* The links a notification is drift for: declared ones (ports included)
 * and the ones we created. */
static int remember_managed(struct netd *d, const struct nd_state *want, const struct nl_snapshot *have)
{
	size_t n = want->n_links + (have ? have->n_links : 0);
	char(*m)[IFNAMSIZ] = calloc(n + 1, IFNAMSIZ);
	if (!m)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < want->n_links; i++)
		snprintf(m[k++], IFNAMSIZ, "%s", want->links[i].name);
	for (size_t i = 0; have && i < have->n_links; i++)
		if (nl_link_is_owned(&have->links[i]))
			snprintf(m[k++], IFNAMSIZ, "%s", have->links[i].name);
	free(d->managed);
	d->managed = m;
	d->n_managed = k;
	return 0;
}

/* ---- logging a change ---- */

static const char *master_name(const struct nl_snapshot *have, const char *link)
{
	const struct nl_link *l = nl_find_link(have, link);
	const struct nl_link *m = l && l->master ? nl_find_ifindex(have, l->master) : NULL;
	return m ? m->name : "none";
}

/* field/from/to of an action, as seen against the snapshot it was planned
 * from. */
static void action_fields(const struct rc_action *a, const struct nl_snapshot *have, char *field, char *from,
			  char *to, size_t size)
{
	char addr[80];
	snprintf(from, size, "-");
	snprintf(to, size, "-");
	switch (a->op) {
	case RC_SET_MTU:
		snprintf(field, size, "mtu");
		if (a->num2)
			snprintf(from, size, "%u", a->num2);
		snprintf(to, size, "%u", a->num);
		break;
	case RC_SET_MASTER:
		snprintf(field, size, "master");
		snprintf(from, size, "%s", master_name(have, a->link));
		snprintf(to, size, "%s", a->other);
		break;
	case RC_RELEASE_PORT:
		snprintf(field, size, "master");
		snprintf(from, size, "%s", a->other);
		snprintf(to, size, "none");
		break;
	case RC_SET_UP:
	case RC_SET_DOWN:
		snprintf(field, size, "state");
		snprintf(from, size, a->op == RC_SET_UP ? "down" : "up");
		snprintf(to, size, a->op == RC_SET_UP ? "up" : "down");
		break;
	case RC_ADDR_ADD:
	case RC_ADDR_DEL:
		snprintf(field, size, "address");
		nd_addr_format(&a->addr, addr, sizeof(addr));
		snprintf(a->op == RC_ADDR_ADD ? to : from, size, "%s", addr);
		break;
	case RC_CREATE_BRIDGE:
	case RC_CREATE_BOND:
	case RC_CREATE_VLAN:
		snprintf(field, size, "link");
		snprintf(from, size, "absent");
		snprintf(to, size, "%s", a->op == RC_CREATE_BRIDGE ? "bridge" : a->op == RC_CREATE_BOND ? "bond" : "vlan");
		break;
	case RC_DELETE_LINK:
		snprintf(field, size, "link");
		snprintf(from, size, "%s", a->other[0] ? a->other : "link");
		snprintf(to, size, "absent");
		break;
	case RC_VLAN_ADD:
	case RC_VLAN_DEL:
		snprintf(field, size, "vlans");
		break;
	case RC_MARK_OWNED:
		snprintf(field, size, "alias");
		snprintf(to, size, NL_OWNER_ALIAS);
		break;
	default:
		snprintf(field, size, "options");
		break;
	}
}

static void log_action(struct netd *d, const struct rc_action *a, const struct nl_snapshot *have, bool restore)
{
	char what[256], field[96], from[96], to[96], f[1024];
	size_t len = 0;
	reconcile_describe(a, what, sizeof(what));
	action_fields(a, have, field, from, to, sizeof(field));
	f[0] = '\0';
	watch_kv_append(f, sizeof(f), &len, "action", restore ? "restore" : "apply");
	watch_kv_append(f, sizeof(f), &len, "link", a->link);
	watch_kv_append(f, sizeof(f), &len, "field", field);
	watch_kv_append(f, sizeof(f), &len, "from", from);
	watch_kv_append(f, sizeof(f), &len, "to", to);
	watch_kv_append(f, sizeof(f), &len, "change", what);
	watch_log(d->ctx, LOG_INFO, "%s", f);
}

/* ---- status ---- */

static json_object *error_json(const struct net_error *err)
{
	json_object *e = json_object_new_object();
	json_object_object_add(e, "file", json_object_new_string(err->file));
	json_object_object_add(e, "line", json_object_new_int((int)err->line));
	json_object_object_add(e, "reason", json_object_new_string(err->reason));
	return e;
}

static void publish_summary(struct netd *d, const char *result, const struct net_error *err,
			    const struct nd_state *want)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "result", json_object_new_string(result));
	json_object_object_add(o, "error", err ? error_json(err) : NULL);
	json_object_object_add(o, "actions", json_object_new_int((int)d->last_actions));
	json_object_object_add(o, "changes", json_object_new_int((int)d->last_changes));
	json_object_object_add(o, "restores", json_object_new_int((int)d->restores));
	struct netstatus_warnings w;
	netstatus_warnings_init(&w);
	for (size_t i = 0; want && i < want->n_warnings; i++) {
		char text[700];
		netstatus_warning_text(&want->warnings[i], text, sizeof(text));
		netstatus_warnings_add(&w, text);
	}
	json_object_object_add(o, "warnings", netstatus_warnings_finish(&w));
	json_object_object_add(o, "cluster_address",
			       d->cluster_addr[0] ? json_object_new_string(d->cluster_addr) : NULL);
	json_object_object_add(o, "cluster_address_source", json_object_new_string(d->cluster_source));
	watch_status_set(d->ctx, "net", o);
}

static bool in_names(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static int add_name(char ***names, size_t *n, const char *name)
{
	if (in_names(*names, *n, name))
		return 0;
	char **m = realloc(*names, (*n + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	*names = m;
	if (!(m[*n] = strdup(name)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* "net/<link>" for every declared link and every link we created; keys of
 * links that are gone from both are deleted. */
static int publish_links(struct netd *d, const struct nd_state *want, const struct nl_snapshot *have,
			 const struct rc_plan *pending)
{
	char **keys = NULL;
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; r == 0 && i < want->n_links; i++) {
		char key[300];
		snprintf(key, sizeof(key), "net/%s", want->links[i].name);
		if (in_names(keys, n, key))
			continue;
		if ((r = add_name(&keys, &n, key)) == 0)
			watch_status_set(d->ctx, key, netstatus_link(want, &want->links[i], want->links[i].name,
								     have, pending));
	}
	for (size_t i = 0; r == 0 && i < have->n_links; i++) {
		char key[300];
		snprintf(key, sizeof(key), "net/%s", have->links[i].name);
		if (!nl_link_is_owned(&have->links[i]) || in_names(keys, n, key))
			continue;
		if ((r = add_name(&keys, &n, key)) == 0)
			watch_status_set(d->ctx, key, netstatus_link(want, NULL, have->links[i].name, have, pending));
	}
	if (r < 0) {
		free_names(keys, n);
		return r;
	}
	for (size_t i = 0; i < d->n_published; i++)
		if (!in_names(keys, n, d->published[i]))
			watch_status_set(d->ctx, d->published[i], NULL);
	free_names(d->published, d->n_published);
	d->published = keys;
	d->n_published = n;
	return 0;
}

/* ---- one pass ---- */

static void log_warnings(struct netd *d, const struct nd_state *want)
{
	for (size_t i = 0; i < want->n_warnings; i++) {
		char text[700], f[900];
		size_t len = 0;
		netstatus_warning_text(&want->warnings[i], text, sizeof(text));
		f[0] = '\0';
		watch_kv_append(f, sizeof(f), &len, "event", "warning");
		watch_kv_append(f, sizeof(f), &len, "msg", text);
		watch_log(d->ctx, LOG_WARNING, "%s", f);
	}
}

/* A rejected or failed pass: one log line (once per version of the files
 * for a rejection), the summary status, nothing else. */
static void report_error(struct netd *d, const char *result, struct net_error *err, int r, uint64_t digest,
			 const struct nd_state *want)
{
	if (r == -ENOMEM)
		*err = (struct net_error){ .reason = "out of memory" };
	bool fresh = !d->have_reported || d->reported_digest != digest || strcmp(result, "rejected") != 0;
	if (fresh) {
		char where[300], f[1200];
		size_t len = 0;
		if (err->line)
			snprintf(where, sizeof(where), "%s:%u", err->file, err->line);
		else
			snprintf(where, sizeof(where), "%s", err->file[0] ? err->file : "-");
		f[0] = '\0';
		watch_kv_append(f, sizeof(f), &len, "event", "pass");
		watch_kv_append(f, sizeof(f), &len, "result", result);
		watch_kv_append(f, sizeof(f), &len, "file", where);
		watch_kv_append(f, sizeof(f), &len, "reason", err->reason);
		watch_log(d->ctx, LOG_ERR, "%s msg=\"nothing applied\"", f);
	}
	d->reported_digest = digest;
	d->have_reported = true;
	publish_summary(d, result, err, want);
}

/* After a change: the kernel as it is now, and what a pass would still do
 * (for in_sync per link).  Failures leave the snapshot or the plan NULL. */
static void replan(struct netd *d, const struct nd_state *want, struct nl_ctx *nl, struct nl_snapshot **after,
		   struct rc_plan **pending)
{
	struct net_error err = { 0 };
	struct rc_options ropt = { .keep_address = d->cluster_addr[0] ? d->cluster_addr : NULL };
	if (nl_dump(nl, after) < 0) {
		*after = NULL;
		return;
	}
	if (reconcile_plan(want, *after, &ropt, pending, &err) < 0)
		*pending = NULL;
}

/* "all", or the dirty keys ("files", "drift", "files,drift"). */
static void describe_trigger(const struct watch_pass *pass, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	if (pass->all)
		len += (size_t)snprintf(buf, size, "all");
	for (size_t i = 0; i < pass->n_keys && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "", pass->keys[i]);
	if (!buf[0])
		snprintf(buf, size, "-");
}

static int reconcile_pass(struct watch_ctx *ctx, const struct watch_pass *pass, void *userdata)
{
	struct netd *d = userdata;
	uint64_t digest = net_sources_digest(watch_root(ctx), d->node);
	resolve_cluster_address(d);
	struct net_error err = { 0 };
	_cleanup_(netdesired_freep) struct nd_state *want = NULL;
	_cleanup_(nl_closep) struct nl_ctx *nl = NULL;
	_cleanup_(nl_snapshot_freep) struct nl_snapshot *have = NULL;
	_cleanup_(reconcile_plan_freep) struct rc_plan *plan = NULL;
	int r = net_load_desired(watch_root(ctx), d->node, &want, &err);
	if (r < 0) {
		report_error(d, "rejected", &err, r, digest, NULL);
		return r == -ENOMEM ? r : 0; /* a fixed file brings the next pass */
	}
	if ((r = nl_open(&nl)) < 0) {
		err = (struct net_error){ .reason = "cannot open rtnetlink socket" };
		report_error(d, "failed", &err, r, digest, want);
		return r;
	}
	if ((r = nl_dump(nl, &have)) < 0) {
		snprintf(err.reason, sizeof(err.reason), "cannot read links and addresses: %s", strerror(-r));
		report_error(d, "failed", &err, r, digest, want);
		return r;
	}
	if ((r = netcheck_run(want, have)) < 0)
		return r;
	/* Reports only: the VMs' NICs never change the plan. */
	struct netvmnic_counts vms = { 0 };
	if ((r = netvmnic_check_node(want, have, watch_root(ctx), d->node, &vms)) < 0)
		return r;
	bool new_inputs = !d->have_reported || d->reported_digest != digest;
	struct rc_options ropt = { .keep_address = d->cluster_addr[0] ? d->cluster_addr : NULL };
	r = reconcile_plan(want, have, &ropt, &plan, &err);
	if (r == 0)
		r = reconcile_preflight(plan, nl, !watch_dry_run(ctx), &err);
	if (r < 0) {
		if (new_inputs)
			log_warnings(d, want);
		report_error(d, "rejected", &err, r, digest, want);
		return r == -ENOMEM ? r : 0;
	}
	if (new_inputs)
		log_warnings(d, want);
	d->reported_digest = digest;
	d->have_reported = true;
	bool restore = d->have_applied && d->applied_digest == digest;
	if (watch_dry_run(ctx)) {
		for (size_t i = 0; i < plan->n_actions; i++) {
			char what[256];
			reconcile_describe(&plan->actions[i], what, sizeof(what));
			watch_action(ctx, "%s", what);
		}
		watch_log(ctx, LOG_INFO, "event=pass result=dry-run actions=%zu changes=0 warnings=%zu", plan->n_actions,
			  want->n_warnings);
		publish_summary(d, "dry-run", NULL, want);
		publish_links(d, want, have, plan);
		return remember_managed(d, want, have);
	}
	for (size_t i = 0; i < plan->n_actions; i++)
		log_action(d, &plan->actions[i], have, restore);
	r = plan->n_actions ? reconcile_execute(plan, nl, &err) : 0;
	unsigned changes = nl_changes(nl);
	if (plan->n_actions && changes) /* drop the notifications of our own changes */
		netmon_read(d->mon, ignore_notification, NULL);
	if (r < 0) {
		d->last_actions = (unsigned)plan->n_actions;
		d->last_changes = changes;
		report_error(d, "failed", &err, r, digest, want);
		return r; /* retried with a backoff */
	}
	if (plan->n_actions) {
		d->last_actions = (unsigned)plan->n_actions;
		d->last_changes = changes;
		if (restore)
			d->restores++;
	}
	d->applied_digest = digest;
	d->have_applied = true;
	char trigger[64];
	describe_trigger(pass, trigger, sizeof(trigger));
	watch_log(ctx, plan->n_actions || pass->first ? LOG_INFO : LOG_DEBUG,
		  "event=pass result=%s trigger=%s restore=%d actions=%zu changes=%u warnings=%zu",
		  plan->n_actions ? "applied" : "in-sync", trigger, restore && plan->n_actions, plan->n_actions,
		  changes, want->n_warnings);
	_cleanup_(nl_snapshot_freep) struct nl_snapshot *after = NULL;
	_cleanup_(reconcile_plan_freep) struct rc_plan *pending = NULL;
	if (plan->n_actions)
		replan(d, want, nl, &after, &pending);
	const struct nl_snapshot *now = plan->n_actions ? after : have;
	/* "applied" whether this pass changed something or found all in place:
	 * the status says the files are in effect, not what the last pass did. */
	publish_summary(d, "applied", NULL, want);
	if (now && (r = publish_links(d, want, now, plan->n_actions ? pending : plan)) < 0)
		return r;
	return remember_managed(d, want, now);
}

/* "<vmid>.conf" directly in qemu-server/ (not .state, not a temp file). */
static bool is_vm_config_name(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, ".conf") == 0 && strspn(name, "0123456789") == n - 5;
}

/* /nodes/<node>/interfaces and anything under /sdn/ -> "files";
 * /nodes/<node>/qemu-server/<vmid>.conf -> "vms" (their NICs are checked
 * against the links: a pass that only reports). */
static int key_of(void *userdata, const char *path, char *key, size_t size)
{
	const struct netd *d = userdata;
	size_t n = strlen(d->prefix);
	if (strncmp(path, "/sdn/", 5) == 0 || (strncmp(path, d->prefix, n) == 0 && strcmp(path + n, "interfaces") == 0)) {
		snprintf(key, size, KEY_FILES);
		return 1;
	}
	if (strncmp(path, d->prefix, n) == 0 && strncmp(path + n, "qemu-server/", 12) == 0 &&
	    is_vm_config_name(path + n + 12)) {
		snprintf(key, size, KEY_VMS);
		return 1;
	}
	return 0;
}

/* ---- subcommands ---- */

static void usage_run(void)
{
	fprintf(stderr, "usage: pvecfs-net run [--root DIR] [--node NAME] [--dry-run] [--keep-address IP] "
			"[--socket PATH] [--state FILE] [--resync-interval S] [--debug]\n");
}

int net_cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },	     { "node", required_argument, NULL, 'n' },
		{ "dry-run", no_argument, NULL, 'd' },		     { "keep-address", required_argument, NULL, 'k' },
		{ "socket", required_argument, NULL, 's' },	     { "state", required_argument, NULL, 'S' },
		{ "resync-interval", required_argument, NULL, 'i' }, { "debug", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	char hostname[256];
	struct netd d = { .cluster_source = "none" };
	const char *prefixes[2];
	struct watch_options o = { .name = "net", .prefixes = prefixes, .n_prefixes = 2, .key_of = key_of,
				   .reconcile = reconcile_pass, .userdata = &d };
	int c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.root = optarg; break;
		case 'n': d.node = optarg; break;
		case 'd': o.dry_run = true; break;
		case 's': o.socket = optarg; break;
		case 'S': o.state_file = optarg; break;
		case 'D': o.debug = true; break;
		case 'k': {
			struct nd_addr a;
			if (nd_addr_parse(optarg, &a, false) < 0 || strchr(optarg, '/')) {
				fprintf(stderr, "pvecfs-net: --keep-address needs an IP address\n");
				return EXIT_USAGE;
			}
			d.keep_option = optarg;
			break;
		}
		case 'i': {
			unsigned long s = strtoul(optarg, &end, 10);
			if (*end || !*optarg || s == 0 || s > 86400) {
				fprintf(stderr, "pvecfs-net: --resync-interval must be 1..86400 seconds\n");
				return EXIT_USAGE;
			}
			o.resync_interval_ms = (unsigned)s * 1000;
			break;
		}
		default: usage_run(); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage_run();
		return EXIT_USAGE;
	}
	if (!d.node) {
		watch_short_hostname(hostname, sizeof(hostname));
		d.node = hostname;
	}
	if (!*d.node || strchr(d.node, '/') || strlen(d.node) > 200) {
		fprintf(stderr, "pvecfs-net: invalid node name '%s'\n", d.node);
		return EXIT_USAGE;
	}
	snprintf(d.prefix, sizeof(d.prefix), "/nodes/%s/", d.node);
	prefixes[0] = d.prefix;
	prefixes[1] = "/sdn/";
	int r = netmon_open(&d.mon);
	if (r < 0) {
		fprintf(stderr, "pvecfs-net: cannot listen to rtnetlink: %s\n", strerror(-r));
		return 1;
	}
	if ((r = watch_new(&o, &d.ctx)) < 0) {
		fprintf(stderr, "pvecfs-net: %s\n", strerror(-r));
		netmon_close(d.mon);
		return 1;
	}
	if ((r = watch_add_fd(d.ctx, netmon_fd(d.mon), POLLIN, on_monitor, &d)) == 0)
		r = watch_run(d.ctx);
	watch_free(d.ctx);
	netmon_close(d.mon);
	free(d.managed);
	free_names(d.published, d.n_published);
	if (r < 0)
		fprintf(stderr, "pvecfs-net: %s\n", strerror(-r));
	return r < 0 ? 1 : 0;
}

static int usage_status(void)
{
	fprintf(stderr, "usage: pvecfs-net status [LINK] [--socket PATH] [--json]\n");
	return EXIT_USAGE;
}

int net_cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket = NULL;
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': socket = optarg; break;
		case 'j': json = true; break;
		default: return usage_status();
		}
	}
	if (argc - optind > 1)
		return usage_status();
	const char *link = optind < argc ? argv[optind] : NULL;
	struct api_client *api = NULL;
	json_object *result = NULL;
	int r = api_client_connect(socket, &api);
	if (r == 0)
		r = api_client_call(api, "nodestatus_get", NULL, &result, 10000);
	if (r < 0) {
		fprintf(stderr, "pvecfs-net: %s\n", api_client_error(api));
		api_client_close(api);
		return 1;
	}
	api_client_close(api);
	json_object *nodes;
	bool any = false;
	if (json_object_object_get_ex(result, "nodes", &nodes)) {
		json_object_object_foreach(nodes, node, keys) {
			json_object_object_foreach(keys, k, value) {
				if (strcmp(k, "net") != 0 && strncmp(k, "net/", 4) != 0)
					continue;
				if (link && (strncmp(k, "net/", 4) != 0 || strcmp(k + 4, link) != 0))
					continue;
				any = true;
				if (json)
					printf("%s %s %s\n", node, k, json_object_get_string(value));
				else
					netstatus_print(node, k, json_object_get_string(value));
			}
		}
	}
	json_object_put(result);
	if (link && !any) {
		fprintf(stderr, "pvecfs-net: no node reports link %s\n", link);
		return 1;
	}
	return 0;
}
