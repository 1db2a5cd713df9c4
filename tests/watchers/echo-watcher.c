/* echo-watcher.c - the smallest watcher, for suite-watchloop.
 *
 * Every event path maps to itself without the leading '/' as the key ("w/a";
 * a path with "ALL" in it means everything).  Each pass logs one line
 *   reconcile all=0|1 first=0|1 rev=N keys=a,b
 * and, for each key, "acts": appends the key and the file's content to the
 * --out file after watch_action() (so dry-run changes nothing).  It also
 * publishes status "echo/passes" = {"passes": N}.
 *
 * usage: echo-watcher --out FILE [--root DIR] [--socket PATH] [--state FILE]
 *        [--prefix P]... [--dry-run] [--resync-interval MS] */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watchloop.h"

struct echo {
	const char *out;
	unsigned passes;
};

static int key_of(void *userdata, const char *path, char *key, size_t size)
{
	(void)userdata;
	if (strstr(path, "ALL"))
		return 2;
	while (*path == '/')
		path++;
	if (!*path)
		return 0;
	snprintf(key, size, "%s", path);
	return 1;
}

static int act(struct echo *e, const char *key, const char *content)
{
	FILE *f = fopen(e->out, "a");
	if (!f)
		return -errno;
	fprintf(f, "%s %s\n", key, content);
	return fclose(f) == 0 ? 0 : -errno;
}

static int reconcile(struct watch_ctx *ctx, const struct watch_pass *pass, void *userdata)
{
	struct echo *e = userdata;
	char keys[4096] = "";
	size_t len = 0;
	for (size_t i = 0; i < pass->n_keys && len < sizeof(keys) - 1; i++)
		len += (size_t)snprintf(keys + len, sizeof(keys) - len, "%s%s", i ? "," : "", pass->keys[i]);
	watch_log(ctx, LOG_INFO, "reconcile all=%d first=%d rev=%llu keys=%s", pass->all, pass->first,
		  (unsigned long long)pass->rev, keys[0] ? keys : "-");
	for (size_t i = 0; i < pass->n_keys; i++) {
		if (!watch_action(ctx, "record %s", pass->keys[i]))
			continue;
		char path[4096], *text = NULL;
		snprintf(path, sizeof(path), "%s/%s", watch_root(ctx), pass->keys[i]);
		ssize_t n = watch_read_file(path, &text);
		int r = act(e, pass->keys[i], n >= 0 ? text : "(absent)");
		free(text);
		if (r < 0)
			return r;
	}
	e->passes++;
	json_object *st = json_object_new_object();
	json_object_object_add(st, "passes", json_object_new_int((int)e->passes));
	watch_status_set(ctx, "echo/passes", st);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },      { "root", required_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 's' },   { "state", required_argument, NULL, 'S' },
		{ "prefix", required_argument, NULL, 'p' },   { "dry-run", no_argument, NULL, 'n' },
		{ "resync-interval", required_argument, NULL, 'i' }, { NULL, 0, NULL, 0 },
	};
	struct echo e = { 0 };
	const char *prefixes[16];
	struct watch_options o = { .name = "echo", .key_of = key_of, .reconcile = reconcile, .userdata = &e,
				   .prefixes = prefixes };
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': e.out = optarg; break;
		case 'r': o.root = optarg; break;
		case 's': o.socket = optarg; break;
		case 'S': o.state_file = optarg; break;
		case 'n': o.dry_run = true; break;
		case 'i': o.resync_interval_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p':
			if (o.n_prefixes < 16)
				prefixes[o.n_prefixes++] = optarg;
			break;
		default: return 2;
		}
	}
	if (!e.out || optind != argc) {
		fprintf(stderr, "usage: echo-watcher --out FILE [--root DIR] [--socket PATH] [--state FILE] "
				"[--prefix P]... [--dry-run] [--resync-interval MS]\n");
		return 2;
	}
	struct watch_ctx *ctx;
	int r = watch_new(&o, &ctx);
	if (r < 0) {
		fprintf(stderr, "echo-watcher: %s\n", strerror(-r));
		return 1;
	}
	r = watch_run(ctx);
	watch_free(ctx);
	return r < 0 ? 1 : 0;
}
