/* ctl.c - pvecfsctl, the command line client of the pvecfs socket API.
 *
 *   pvecfsctl [--socket PATH] COMMAND [ARGS...]
 *
 * Commands are a table (name, handler, usage) so new ones (backup, restore)
 * are one entry each.  Exit codes: 0 done, 1 error (a message on stderr),
 * 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apiclient.h"
#include "cleanup.h"
#include "ctl_backup.h"

#define EXIT_USAGE 2

struct ctl {
	const char *socket;
	struct api_client *client;
};

struct command {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
	const char *usage;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "pvecfsctl: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'pvecfsctl --help'.\n");
	va_end(ap);
	return EXIT_USAGE;
}

static int connect_ctl(struct ctl *ctl)
{
	int r = api_client_connect(ctl->socket, &ctl->client);
	if (r < 0) {
		fprintf(stderr, "pvecfsctl: %s\n", api_client_error(ctl->client));
		return 1;
	}
	return 0;
}

/* Runs one call and prints an error; 0 or 1. */
static int call(struct ctl *ctl, const char *name, json_object *args, json_object **result)
{
	if (connect_ctl(ctl) != 0)
		return 1;
	int r = api_client_call(ctl->client, name, args, result, 30000);
	if (r < 0) {
		fprintf(stderr, "pvecfsctl: %s\n", api_client_error(ctl->client));
		return 1;
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

static void print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The "backup_jobs" section of status: one entry per backup/<jobid> key a
 * node's backup watcher published (watchers/backup/README.md "Results"),
 * with "state": "failed" (last run failed, or jobs.cfg does not parse),
 * "stale" (no success within twice the schedule's interval), or the last
 * run's status. */
static json_object *backup_job_entry(const char *node, const char *key, const char *value, time_t now)
{
	json_object *v = json_tokener_parse(value), *x;
	if (!v || !json_object_is_type(v, json_type_object)) {
		json_object_put(v);
		return NULL;
	}
	json_object *e = json_object_new_object();
	json_object_object_add(e, "node", json_object_new_string(node));
	bool config = strcmp(key, "backup/config") == 0;
	json_object_object_add(e, "job", json_object_new_string(config ? "(jobs.cfg)" : key + strlen("backup/")));
	const char *status = json_object_object_get_ex(v, "status", &x) || json_object_object_get_ex(v, "result", &x)
				     ? json_object_get_string(x) : "unknown";
	int64_t last_ok = json_object_object_get_ex(v, "last_ok", &x) ? json_object_get_int64(x) : 0;
	int64_t start = json_object_object_get_ex(v, "start", &x) ? json_object_get_int64(x) : 0;
	int64_t interval = json_object_object_get_ex(v, "interval", &x) ? json_object_get_int64(x) : 0;
	int64_t since = last_ok ? last_ok : start;
	const char *state = strcmp(status, "error") == 0 ? "failed"
			    : interval > 0 && since && now - since > 2 * interval ? "stale" : status;
	json_object_object_add(e, "state", json_object_new_string(state));
	static const char *const copy[] = { "start", "end", "size", "status", "error", "last_ok", "interval", "trigger" };
	for (size_t i = 0; i < ARRAY_SIZE(copy); i++)
		if (json_object_object_get_ex(v, copy[i], &x))
			json_object_object_add(e, copy[i], json_object_get(x));
	json_object_put(v);
	return e;
}

static json_object *backup_jobs_section(json_object *nodes)
{
	json_object *list = json_object_new_array();
	time_t now = time(NULL);
	json_object_object_foreach(nodes, node, keys) {
		if (!json_object_is_type(keys, json_type_object))
			continue;
		json_object_object_foreach(keys, key, value) {
			json_object *e;
			if (strncmp(key, "backup/", 7) == 0 &&
			    (e = backup_job_entry(node, key, json_object_get_string(value), now)))
				json_object_array_add(list, e);
		}
	}
	return list;
}

static int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return usage_error("status takes no arguments");
	json_object *result = NULL, *status = NULL, *nodes;
	if (call(ctl, "status", NULL, &result) != 0)
		return 1;
	/* What every node's watchers published, next to the membership.
	 * call() connects anew: the first connection is closed here, not
	 * leaked. */
	api_client_close(ctl->client);
	ctl->client = NULL;
	if (call(ctl, "nodestatus_get", NULL, &status) == 0 &&
	    json_object_object_get_ex(status, "nodes", &nodes)) {
		json_object_object_add(result, "node_status", json_object_get(nodes));
		json_object_object_add(result, "backup_jobs", backup_jobs_section(nodes));
	}
	json_object_put(status);
	print_json(result);
	json_object_put(result);
	return 0;
}

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void print_event(const struct api_event *ev, bool json)
{
	if (json)
		printf("%s\n", json_object_to_json_string_ext(ev->raw, JSON_C_TO_STRING_PLAIN |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (ev->resync)
		printf("%" PRIu64 " resync\n", ev->rev);
	else if (ev->old_path)
		printf("%" PRIu64 " %s %s %s\n", ev->rev, ev->op, ev->old_path, ev->path);
	else
		printf("%" PRIu64 " %s %s\n", ev->rev, ev->op, ev->path ? ev->path : "");
	fflush(stdout);
}

static int cmd_events(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t from = 0, count = 0;
	bool has_from = false, json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (parse_u64(optarg, &from) < 0)
				return usage_error("--from needs a revision, not '%s'", optarg);
			has_from = true;
			break;
		case 'c':
			if (parse_u64(optarg, &count) < 0 || count == 0)
				return usage_error("--count needs a positive number, not '%s'", optarg);
			break;
		case 'j': json = true; break;
		default: return EXIT_USAGE;
		}
	}
	for (int i = optind; i < argc; i++)
		if (argv[i][0] != '/')
			return usage_error("prefixes are absolute paths in the tree: '%s'", argv[i]);
	if (connect_ctl(ctl) != 0)
		return 1;
	int r = api_client_subscribe(ctl->client, (const char *const *)argv + optind,
				     (size_t)(argc - optind), has_from ? &from : NULL, NULL);
	if (r < 0) {
		fprintf(stderr, "pvecfsctl: %s\n", api_client_error(ctl->client));
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_interrupt };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (uint64_t seen = 0; !interrupted && (count == 0 || seen < count);) {
		struct api_event ev;
		r = api_client_next_event(ctl->client, &ev, 500);
		if (r < 0) {
			fprintf(stderr, "pvecfsctl: %s\n", api_client_error(ctl->client));
			return 1;
		}
		if (r == 0)
			continue;
		print_event(&ev, json);
		api_event_clear(&ev);
		seen++;
	}
	return 0;
}

static int log_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tag", required_argument, NULL, 't' },
		{ "pri", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tag = "pvecfsctl", *user = NULL;
	uint64_t pri = 6;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 't': tag = optarg; break;
		case 'u': user = optarg; break;
		case 'p':
			if (parse_u64(optarg, &pri) < 0 || pri > 7)
				return usage_error("--pri needs a syslog priority 0..7, not '%s'", optarg);
			break;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_error("log add needs exactly one MESSAGE argument");
	json_object *args = json_object_new_object();
	json_object_object_add(args, "tag", json_object_new_string(tag));
	json_object_object_add(args, "msg", json_object_new_string(argv[optind]));
	json_object_object_add(args, "pri", json_object_new_int((int)pri));
	if (user)
		json_object_object_add(args, "user", json_object_new_string(user));
	json_object *result = NULL;
	int r = call(ctl, "log_append", args, &result);
	json_object_put(args);
	json_object_put(result);
	return r;
}

static void print_log(json_object *result)
{
	json_object *data;
	if (!json_object_object_get_ex(result, "data", &data))
		return;
	for (size_t i = 0; i < json_object_array_length(data); i++) {
		json_object *e = json_object_array_get_idx(data, i), *v;
		time_t t = json_object_object_get_ex(e, "time", &v) ? (time_t)json_object_get_int64(v) : 0;
		char when[32];
		struct tm tm;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
#define FIELD(name) (json_object_object_get_ex(e, name, &v) ? json_object_get_string(v) : "")
		printf("%s %s %s[%s]: %s: %s\n", when, FIELD("node"), FIELD("tag"), FIELD("pid"),
		       FIELD("user"), FIELD("msg"));
#undef FIELD
	}
}

static int cmd_log(struct ctl *ctl, int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "add") == 0)
		return log_add(ctl, argc - 1, argv + 1);
	if (argc > 1 && argv[1][0] != '-') /* `log MESSAGE` */
		return log_add(ctl, argc, argv);
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t limit = 50;
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (parse_u64(optarg, &limit) < 0 || limit > 1000000)
				return usage_error("--limit needs a number, not '%s'", optarg);
			break;
		case 'j': json = true; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s' (messages go first: log MESSAGE)", argv[optind]);
	json_object *args = json_object_new_object();
	json_object_object_add(args, "limit", json_object_new_int64((int64_t)limit));
	json_object *result = NULL;
	int r = call(ctl, "log_read", args, &result);
	json_object_put(args);
	if (r == 0)
		json ? print_json(result) : print_log(result);
	json_object_put(result);
	return r;
}

static int nodestatus_get(struct ctl *ctl, int argc, char **argv)
{
	if (argc > 3)
		return usage_error("nodestatus get takes at most NODE and KEY");
	json_object *args = json_object_new_object();
	if (argc > 1)
		json_object_object_add(args, "node", json_object_new_string(argv[1]));
	if (argc > 2)
		json_object_object_add(args, "key", json_object_new_string(argv[2]));
	json_object *result = NULL, *nodes, *keys, *value;
	int r = call(ctl, "nodestatus_get", args, &result);
	json_object_put(args);
	if (r != 0)
		return r;
	if (argc == 3) { /* one value: print it bare, fail if missing */
		if (json_object_object_get_ex(result, "nodes", &nodes) &&
		    json_object_object_get_ex(nodes, argv[1], &keys) &&
		    json_object_object_get_ex(keys, argv[2], &value)) {
			printf("%s\n", json_object_get_string(value));
		} else {
			fprintf(stderr, "pvecfsctl: node %s has no status '%s'\n", argv[1], argv[2]);
			r = 1;
		}
	} else if (json_object_object_get_ex(result, "nodes", &nodes)) {
		print_json(nodes);
	}
	json_object_put(result);
	return r;
}

static int cmd_nodestatus(struct ctl *ctl, int argc, char **argv)
{
	if (argc == 1 || strcmp(argv[1], "get") == 0)
		return nodestatus_get(ctl, argc > 1 ? argc - 1 : 1, argc > 1 ? argv + 1 : argv);
	if (strcmp(argv[1], "set") == 0 || strcmp(argv[1], "delete") == 0) {
		bool set = strcmp(argv[1], "set") == 0;
		if (argc != (set ? 4 : 3))
			return usage_error("%s", set ? "nodestatus set needs KEY VALUE"
						     : "nodestatus delete needs KEY");
		json_object *args = json_object_new_object();
		json_object_object_add(args, "key", json_object_new_string(argv[2]));
		json_object_object_add(args, "value", set ? json_object_new_string(argv[3]) : NULL);
		json_object *result = NULL;
		int r = call(ctl, "nodestatus_set", args, &result);
		json_object_put(args);
		json_object_put(result);
		return r;
	}
	return usage_error("unknown nodestatus command '%s'", argv[1]);
}

static int cmd_help(struct ctl *ctl, int argc, char **argv);

/* The names for the status store calls. */
static int cmd_get_status(struct ctl *ctl, int argc, char **argv) { return nodestatus_get(ctl, argc, argv); }

static int cmd_set_status(struct ctl *ctl, int argc, char **argv)
{
	if (argc != 3)
		return usage_error("set-status needs KEY VALUE");
	char *args[] = { "nodestatus", "set", argv[1], argv[2], NULL };
	return cmd_nodestatus(ctl, 4, args);
}

/* Backup subcommands live in ctl_backup.c. */
static int cmd_backup(struct ctl *ctl, int argc, char **argv) { return ctl_backup_main(ctl->socket, argc, argv); }
static int cmd_verify(struct ctl *ctl, int argc, char **argv) { return ctl_verify_main(ctl->socket, argc, argv); }
static int cmd_restore(struct ctl *ctl, int argc, char **argv) { return ctl_restore_main(ctl->socket, argc, argv); }
static int cmd_export(struct ctl *ctl, int argc, char **argv) { return ctl_export_main(ctl->socket, argc, argv); }
static int cmd_import(struct ctl *ctl, int argc, char **argv) { return ctl_import_main(ctl->socket, argc, argv); }

/* backup-job run|verify ID: the backup watcher's own subcommands (run-now,
 * job-verify in watchers/backup), executed rather than linked so pvecfsctl
 * does not pull in the watcher's libraries.  The binary: $PVECFS_BACKUP, else
 * watchers/backup/pvecfs-backup next to us (build tree), else PATH. */
static int cmd_backup_job(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "verify") != 0))
		return usage_error("backup-job needs run|verify JOBID");
	bool verify = strcmp(argv[1], "verify") == 0;
	char self[PATH_MAX], bin[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	const char *env = getenv("PVECFS_BACKUP");
	char *slash = strrchr(self, '/');
	if (env && *env)
		snprintf(bin, sizeof(bin), "%s", env);
	else if (slash && snprintf(bin, sizeof(bin), "%.*s/watchers/backup/pvecfs-backup", (int)(slash - self), self) &&
		 access(bin, X_OK) == 0)
		;
	else
		snprintf(bin, sizeof(bin), "pvecfs-backup");
	char **args = calloc((size_t)argc + 8, sizeof(*args));
	if (!args)
		return 1;
	int i = 0;
	args[i++] = bin;
	args[i++] = verify ? "job-verify" : "run-now";
	for (int k = 2; k < argc; k++)
		args[i++] = argv[k];
	if (verify && n > 0) {
		args[i++] = "--pvecfsctl";
		args[i++] = self;
	}
	if (verify && ctl->socket) {
		args[i++] = "--socket";
		args[i++] = (char *)ctl->socket;
	}
	fflush(stdout);
	execvp(bin, args);
	fprintf(stderr, "pvecfsctl: cannot run %s: %s\n", bin, strerror(errno));
	free(args);
	return 1;
}

static const struct command commands[] = {
	{ "status", cmd_status, "status                                   node, quorum, members, version, backup jobs" },
	{ "events", cmd_events, "events [--from REV] [--count N] [--json] [PREFIX...]\n"
				"                                           print events until Ctrl-C" },
	{ "log", cmd_log, "log [--limit N] [--json]                 the cluster log, newest first\n"
			  "  log add [--tag T] [--pri P] [--user U] MESSAGE" },
	{ "watch", cmd_events, "watch [--from REV] [--count N] [--json] [PREFIX...]  same as events" },
	{ "get-status", cmd_get_status, "get-status [NODE [KEY]]                  same as nodestatus get" },
	{ "set-status", cmd_set_status, "set-status KEY VALUE                     same as nodestatus set" },
	{ "nodestatus", cmd_nodestatus, "nodestatus [get [NODE [KEY]]]           published node status\n"
					"  nodestatus set KEY VALUE | delete KEY" },
	{ "backup", cmd_backup, "backup [-o FILE] [--format zstd|tar]      archive of the tree at one version" },
	{ "verify", cmd_verify, "verify FILE                              check an archive and every checksum" },
	{ "restore", cmd_restore, "restore FILE --data DIR                  rebuild a stopped node's config.db\n"
				  "  restore FILE --mount DIR [--dry-run] [--yes]  restore through a mount" },
	{ "export", cmd_export, "export DIR [--mount M]                   the tree as a plain directory" },
	{ "backup-job", cmd_backup_job, "backup-job run JOBID [--root DIR] [--node NAME]  run a backup job now\n"
					"  backup-job verify JOBID [--root DIR] [--tmpdir DIR]  restore drill of a job" },
	{ "import", cmd_import, "import DIR [--mount M] [--dry-run] [--yes]  apply a plain directory" },
	{ "help", cmd_help, "help                                     this text" },
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: pvecfsctl [--socket PATH] COMMAND [ARGS...]\n"
		     "Talks to the pvecfs daemon (socket: $PVECFS_API or %s).\n\nCommands:\n",
		API_CLIENT_DEFAULT_SOCKET);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %s\n", commands[i].usage);
	fprintf(out, "\nExit status: 0 ok, 1 error, 2 usage error.\n");
}

static int cmd_help(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl; (void)argc; (void)argv;
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { 0 };
	int c;
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': ctl.socket = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	int r = -1;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, argv[optind]) == 0)
			r = commands[i].run(&ctl, argc - optind, argv + optind);
	if (r < 0)
		r = usage_error("unknown command '%s'", argv[optind]);
	api_client_close(ctl.client);
	return r;
}
