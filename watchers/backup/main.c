/* main.c - pvecfs-backup: the backup watcher's command line.
 *
 * Subcommands (a dispatch table):
 *   run [--root DIR] [--node NAME] [--run DIR] [--dry-run] [--stagger S] ...
 *       the backup watcher daemon (daemon.c)
 *   run-now JOBID [--root DIR] [--node NAME]
 *       ask this node's daemon to run a job now (a trigger file)
 *   restore-test ARCHIVE [--tmpdir DIR] [--keep]
 *       unpack a VM archive and check it against its manifest
 *   job-verify JOBID [--root DIR] [--tmpdir DIR] [--pvecfsctl PATH]
 *       the restore drill of a job (jobverify.c)
 *   schedule EXPR [--from "YYYY-MM-DD HH:MM[:SS]"] [--iterations N]
 *       print the next N fire times of a calendar event, local time
 *   prune [--dry-run] --prune-backups SPEC [--vmid N] DIR
 *       apply a retention spec to the vzdump archives in DIR
 * Exit status: 0 success, 1 an operation failed (directory unreadable, a
 * removal failed), 2 bad usage or an expression/spec that does not parse. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backup_archive.h"
#include "calendar.h"
#include "cleanup.h"
#include "daemon.h"
#include "prune.h"

#define EXIT_USAGE 2

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static const struct command *commands_table(size_t *n);

static void print_usage(FILE *out)
{
	size_t n;
	const struct command *cmds = commands_table(&n);
	fprintf(out, "Usage: pvecfs-backup COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %s\n", cmds[i].usage);
	fprintf(out, "\nExit status: 0 ok, 1 an operation failed, 2 bad usage or input.\n");
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "pvecfs-backup: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pvecfs-backup --help'.\n");
	return EXIT_USAGE;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* "YYYY-MM-DD HH:MM[:SS]" in local time. */
static bool parse_local_time(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	int year, month, day, hour, minute, second = 0, used = 0;
	if (sscanf(s, "%4d-%2d-%2d %2d:%2d%n", &year, &month, &day, &hour, &minute, &used) != 5)
		return false;
	if (s[used] == ':') {
		int more = 0;
		if (sscanf(s + used, ":%2d%n", &second, &more) != 1)
			return false;
		used += more;
	}
	if (s[used] || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
		return false;
	tm = (struct tm){ .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day, .tm_hour = hour,
			  .tm_min = minute, .tm_sec = second, .tm_isdst = -1 };
	*out = mktime(&tm);
	return *out != (time_t)-1 && tm.tm_mday == day;
}

static int cmd_schedule(int argc, char **argv)
{
	static const struct option options[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	time_t from = time(NULL);
	unsigned iterations = 1;
	struct calendar_event ev;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "f:n:h", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!parse_local_time(optarg, &from))
				return usage_error("invalid --from time '%s' (want \"YYYY-MM-DD HH:MM[:SS]\")", optarg);
			break;
		case 'n':
			if (!parse_uint(optarg, 100000, &iterations) || iterations == 0)
				return usage_error("invalid --iterations '%s' (1..100000)", optarg);
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_error("schedule needs exactly one expression");
	if (calendar_parse(argv[optind], &ev, err, sizeof(err)) < 0) {
		fprintf(stderr, "pvecfs-backup: %s\n", err);
		return EXIT_USAGE;
	}
	for (unsigned i = 0; i < iterations; i++) {
		struct tm tm;
		char buf[64];
		if (calendar_next(&ev, from, &from) < 0) {
			if (i == 0)
				fprintf(stderr, "pvecfs-backup: schedule '%s' never fires again\n", argv[optind]);
			return i == 0 ? 1 : 0;
		}
		localtime_r(&from, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%s\n", buf);
	}
	return 0;
}

static int cmd_prune(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dry-run", no_argument, NULL, 'd' },
		{ "prune-backups", required_argument, NULL, 'p' },
		{ "vmid", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	_cleanup_free_ struct backup_archive *archives = NULL;
	const char *spec_text = NULL, *dir;
	struct prune_spec spec;
	bool dry_run = false;
	unsigned vmid = 0;
	size_t n = 0;
	char err[512];
	int c, r, status = 0;

	while ((c = getopt_long(argc, argv, "dp:v:h", options, NULL)) != -1) {
		switch (c) {
		case 'd': dry_run = true; break;
		case 'p': spec_text = optarg; break;
		case 'v':
			if (!parse_uint(optarg, 999999999, &vmid) || vmid == 0)
				return usage_error("invalid --vmid '%s'", optarg);
			break;
		case 'h': print_usage(stdout); return 0;
		default: return EXIT_USAGE;
		}
	}
	if (!spec_text)
		return usage_error("prune needs --prune-backups SPEC");
	if (argc - optind != 1)
		return usage_error("prune needs exactly one directory");
	dir = argv[optind];
	if (prune_spec_parse(spec_text, &spec, err, sizeof(err)) < 0) {
		fprintf(stderr, "pvecfs-backup: %s\n", err);
		return EXIT_USAGE;
	}
	if ((r = backup_archive_list(dir, vmid, &archives, &n)) < 0) {
		fprintf(stderr, "pvecfs-backup: cannot list '%s': %s\n", dir, strerror(-r));
		return 1;
	}
	if ((r = backup_plan_prune(&spec, archives, n)) < 0) {
		fprintf(stderr, "pvecfs-backup: prune: %s\n", strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		bool keep = prune_reason_keeps(archives[i].reason);
		printf("%s %s (%s)\n", keep ? "keep" : "remove", archives[i].name, prune_reason_name(archives[i].reason));
		if (keep || dry_run)
			continue;
		if ((r = backup_archive_remove(dir, &archives[i])) < 0) {
			fprintf(stderr, "pvecfs-backup: cannot remove '%s/%s': %s\n", dir, archives[i].name, strerror(-r));
			status = 1;
		}
	}
	fflush(stdout);
	return status;
}

static const struct command commands[] = {
	{ "run", backup_cmd_run,
	  "run [--root DIR] [--node NAME] [--run DIR] [--dry-run] [--stagger S] [--socket PATH]\n"
	  "    [--pvecfsctl PATH] [--agent-timeout S] [--stop-timeout S] [--debug]\n"
	  "      the backup watcher: run this node's backup jobs of jobs.cfg on schedule" },
	{ "run-now", backup_cmd_run_now,
	  "run-now JOBID [--root DIR] [--node NAME]\n"
	  "      create nodes/NODE/backup-run/JOBID: that node's daemon runs the job now" },
	{ "restore-test", backup_cmd_restore_test,
	  "restore-test ARCHIVE [--tmpdir DIR] [--keep]\n"
	  "      unpack a VM backup archive and check every member against its manifest" },
	{ "job-verify", backup_cmd_job_verify,
	  "job-verify JOBID [--root DIR] [--tmpdir DIR] [--pvecfsctl PATH] [--socket PATH]\n"
	  "      restore drill: check the newest archive of each guest of the job (or, for a\n"
	  "      pvecfs-tree job, verify and restore the newest tree archive into a scratch dir)" },
	{ "schedule", cmd_schedule,
	  "schedule EXPR [--from \"YYYY-MM-DD HH:MM[:SS]\"] [--iterations N]\n"
	  "      print the next N (default 1) times EXPR fires after --from (default now)" },
	{ "prune", cmd_prune,
	  "prune [--dry-run] --prune-backups SPEC [--vmid N] DIR\n"
	  "      print 'keep|remove NAME (REASON)' for each archive in DIR, newest first per guest,\n"
	  "      and remove (with .log and .notes) those not kept unless --dry-run" },
};

static const struct command *commands_table(size_t *n)
{
	*n = ARRAY_SIZE(commands);
	return commands;
}

int main(int argc, char **argv)
{
	tzset();
	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		print_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			int r = commands[i].run(argc - 1, argv + 1);
			if (fflush(stdout) != 0 && r == 0)
				r = 1;
			return r;
		}
	}
	return usage_error("unknown command '%s'", argv[1]);
}
