/* main.c - pvecfs-net: make this node's kernel links match the files.
 *
 *   pvecfs-net apply --root DIR --node NAME [--dry-run] [--keep-address IP] [--state FILE]
 *   pvecfs-net check --root DIR --node NAME
 *   pvecfs-net run [--root DIR] [--node NAME] [--dry-run] [--keep-address IP] ...
 *   pvecfs-net status [LINK] [--socket PATH] [--json]
 *
 * `apply` reads DIR/nodes/NAME/interfaces and DIR/sdn/{zones,vnets}.cfg,
 * builds the desired state, compares it with the kernel (rtnetlink), and
 * applies the difference; it prints every action, the footgun reports and a
 * summary line with the number of netlink changes.  A file that does not
 * parse or validate, a plan the kernel cannot carry out, or a plan that would
 * cut the cluster link is rejected before anything changes.  Both also
 * check the NICs of the node's VM configs against the links (netvmnic.h,
 * reports only).  `check` only parses and validates.  `run` is the daemon (daemon.c): the same
 * load/plan/apply steps on every change of the files or of the kernel;
 * `status` prints what it published.
 *
 * Exit status: 0 done, 1 rejected or failed, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "ifupdown.h"
#include "netcheck.h"
#include "netdesired.h"
#include "netlink.h"
#include "netload.h"
#include "netvmnic.h"
#include "reconcile.h"

struct net_opts {
	const char *root;
	const char *node;
	const char *keep_address;
	const char *state_file;
	bool dry_run;
};

static void print_error(const struct net_error *e)
{
	if (e->line)
		fprintf(stderr, "pvecfs-net: error: %s:%u: %s\n", e->file, e->line, e->reason);
	else if (e->file[0])
		fprintf(stderr, "pvecfs-net: error: %s: %s\n", e->file, e->reason);
	else
		fprintf(stderr, "pvecfs-net: error: %s\n", e->reason);
}

static void print_warnings(const struct nd_state *s)
{
	for (size_t i = 0; i < s->n_warnings; i++)
		if (s->warnings[i].line)
			printf("warning: %s:%u: %s\n", s->warnings[i].file, s->warnings[i].line, s->warnings[i].text);
		else
			printf("warning: %s: %s\n", s->warnings[i].file, s->warnings[i].text);
}

static void netdesired_freep(struct nd_state **s) { netdesired_free(*s); }
static void nl_closep(struct nl_ctx **c) { nl_close(*c); }
static void nl_snapshot_freep(struct nl_snapshot **s) { nl_snapshot_free(*s); }
static void reconcile_plan_freep(struct rc_plan **p) { reconcile_plan_free(*p); }

/* Files -> desired state; err says where it went wrong. */
static int load_desired(const struct net_opts *o, struct nd_state **out, struct net_error *err)
{
	return net_load_desired(o->root, o->node, out, err);
}

static int write_state(const char *path, const struct nl_snapshot *after, unsigned changes, size_t actions)
{
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "# pvecfs-net: result of the last apply\nchanges %u\nactions %zu\n", changes, actions);
	for (size_t i = 0; after && i < after->n_links; i++)
		if (nl_link_is_owned(&after->links[i]))
			fprintf(f, "owned %s %s\n", after->links[i].kind, after->links[i].name);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct net_opts *o, bool apply)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },     { "node", required_argument, NULL, 'n' },
		{ "dry-run", no_argument, NULL, 'd' },        { "keep-address", required_argument, NULL, 'k' },
		{ "state", required_argument, NULL, 's' },    { NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:n:dk:s:", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o->root = optarg; break;
		case 'n': o->node = optarg; break;
		case 'd': if (!apply) return -EINVAL; o->dry_run = true; break;
		case 'k': {
			struct nd_addr a;
			if (!apply || nd_addr_parse(optarg, &a, false) < 0 || strchr(optarg, '/')) {
				fprintf(stderr, "pvecfs-net: --keep-address needs an IP address\n");
				return -EINVAL;
			}
			o->keep_address = optarg;
			break;
		}
		case 's': if (!apply) return -EINVAL; o->state_file = optarg; break;
		default: return -EINVAL;
		}
	}
	if (optind != argc || !o->root || !o->node || !*o->node || strchr(o->node, '/')) {
		fprintf(stderr, "pvecfs-net: --root DIR and --node NAME are required\n");
		return -EINVAL;
	}
	return 0;
}

static int cmd_check(int argc, char **argv)
{
	struct net_opts o = { 0 };
	if (parse_opts(argc, argv, &o, false) < 0)
		return 2;
	struct net_error err = { 0 };
	_cleanup_(netdesired_freep) struct nd_state *want = NULL;
	int r = load_desired(&o, &want, &err);
	if (r < 0) {
		if (r == -ENOMEM)
			err = (struct net_error){ .reason = "out of memory" };
		print_error(&err);
		return 1;
	}
	if (netvmnic_check_node(want, NULL, o.root, o.node, NULL) < 0) {
		fprintf(stderr, "pvecfs-net: out of memory\n");
		return 1;
	}
	print_warnings(want);
	printf("ok: %zu links declared, %zu warnings\n", want->n_links, want->n_warnings);
	return 0;
}

static int cmd_apply(int argc, char **argv)
{
	struct net_opts o = { 0 };
	if (parse_opts(argc, argv, &o, true) < 0)
		return 2;
	struct net_error err = { 0 };
	_cleanup_(netdesired_freep) struct nd_state *want = NULL;
	_cleanup_(nl_closep) struct nl_ctx *nl = NULL;
	_cleanup_(nl_snapshot_freep) struct nl_snapshot *have = NULL;
	_cleanup_(reconcile_plan_freep) struct rc_plan *plan = NULL;
	int r = load_desired(&o, &want, &err);
	if (r == 0 && (r = nl_open(&nl)) < 0)
		err = (struct net_error){ .reason = "cannot open rtnetlink socket" };
	if (r == 0 && (r = nl_dump(nl, &have)) < 0)
		snprintf(err.reason, sizeof(err.reason), "cannot read links and addresses: %s", strerror(-r));
	if (r == 0 && (r = netcheck_run(want, have)) < 0)
		err = (struct net_error){ .reason = "out of memory" };
	if (r == 0 && (r = netvmnic_check_node(want, have, o.root, o.node, NULL)) < 0)
		err = (struct net_error){ .reason = "out of memory" };
	if (r == 0)
		print_warnings(want);
	struct rc_options ropt = { .keep_address = o.keep_address };
	if (r == 0)
		r = reconcile_plan(want, have, &ropt, &plan, &err);
	if (r == 0)
		r = reconcile_preflight(plan, nl, !o.dry_run, &err);
	if (r < 0) {
		if (r == -ENOMEM)
			err = (struct net_error){ .reason = "out of memory" };
		print_error(&err);
		printf("summary: rejected, actions=0 netlink-changes=%u warnings=%zu\n", nl ? nl_changes(nl) : 0,
		       want ? want->n_warnings : 0);
		return 1;
	}
	for (size_t i = 0; i < plan->n_actions; i++) {
		char what[256];
		reconcile_describe(&plan->actions[i], what, sizeof(what));
		printf("%s: %s\n", o.dry_run ? "would" : "action", what);
	}
	if (o.dry_run) {
		printf("summary: dry-run, actions=%zu netlink-changes=0 warnings=%zu\n", plan->n_actions,
		       want->n_warnings);
		return 0;
	}
	fflush(stdout);
	r = reconcile_execute(plan, nl, &err);
	if (r < 0) {
		print_error(&err);
		printf("summary: failed, actions=%zu netlink-changes=%u warnings=%zu\n", plan->n_actions,
		       nl_changes(nl), want->n_warnings);
		return 1;
	}
	printf("summary: applied, actions=%zu netlink-changes=%u warnings=%zu\n", plan->n_actions, nl_changes(nl),
	       want->n_warnings);
	if (o.state_file) {
		_cleanup_(nl_snapshot_freep) struct nl_snapshot *after = NULL;
		unsigned changes = nl_changes(nl);
		if (nl_dump(nl, &after) < 0 || (r = write_state(o.state_file, after, changes, plan->n_actions)) < 0) {
			fprintf(stderr, "pvecfs-net: error: %s: cannot write state file\n", o.state_file);
			return 1;
		}
	}
	return 0;
}

static int cmd_help(int argc, char **argv);

/* The subcommands.  `run` (the daemon) and `status` live in daemon.c. */
static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{ "apply", cmd_apply, "apply --root DIR --node NAME [--dry-run] [--keep-address IP] [--state FILE]" },
	{ "check", cmd_check, "check --root DIR --node NAME" },
	{ "run", net_cmd_run, "run [--root DIR] [--node NAME] [--dry-run] [--keep-address IP] [--socket PATH] "
			      "[--state FILE] [--resync-interval S] [--debug]" },
	{ "status", net_cmd_status, "status [LINK] [--socket PATH] [--json]" },
	{ "help", cmd_help, "help" },
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		printf("  pvecfs-net %s\n", commands[i].usage);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(0, NULL);
		return 2;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "pvecfs-net: unknown command '%s'\n", argv[1]);
	cmd_help(0, NULL);
	return 2;
}
