/* main.c - the pvecfs daemon: options, start-up checks, wiring of the
 * modules (tree, store, apply, locks, notify, fs) and clean shutdown.
 *
 * Shutdown: SIGTERM/SIGINT are blocked in every thread and taken by a
 * sigwait thread, which exits the FUSE loop and unmounts; main() then
 * stops the notify thread and closes the database. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "apply.h"
#include "cfs.h"
#include "clusterlog.h"
#include "events.h"
#include "nodestatus.h"
#include "publish.h"
#include "cleanup.h"
#include "cluster.h"
#include "daemon.h"
#include "fs.h"
#include "locks.h"
#include "log.h"
#include "membership.h"
#include "notify.h"
#include "store.h"
#include "tree.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pvecfs [options]\n"
		"The cluster configuration filesystem.\n\n"
		"  -f, --foreground         stay in the foreground, log to stderr\n"
		"  -l, --local              local mode: no corosync, this node alone\n"
		"  -d, --debug              debug logging (also: echo 1 > <mount>/.debug)\n"
		"      --mount DIR          mount point (default /etc/pve)\n"
		"      --data DIR           database directory (default /var/lib/pvecfs)\n"
		"      --run DIR            pid file and sockets (default /run/pvecfs)\n"
		"      --node NAME          this node's name (default: its corosync node name,\n"
		"                           else the host name)\n"
		"      --max-file-size N    largest file, bytes, K/M/G suffixes (default 1M)\n"
		"      --max-total-size N   sum of all file sizes (default 128M)\n"
		"      --max-inodes N       files and directories (default 262144)\n"
		"      --lock-timeout SEC   priv/lock expiry (default 120)\n"
		"      --cache-timeout SEC  kernel attribute/entry cache (default 10)\n"
		"      --no-inotify-replay  do not replay other nodes' changes as inotify events\n"
		"      --event-log-size N   events kept for API subscribers to resume (default 10000)\n"
		"  -h, --help               this text\n"
		"  -V, --version            the version\n");
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end || v == 0)
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

enum {
	OPT_MOUNT = 256, OPT_DATA, OPT_RUN, OPT_NODE, OPT_MAX_FILE, OPT_MAX_TOTAL,
	OPT_MAX_INODES, OPT_LOCK_TIMEOUT, OPT_CACHE_TIMEOUT, OPT_NO_REPLAY,
	OPT_EVENT_LOG_SIZE,
};

static int parse_options(int argc, char **argv, struct cfs_options *o)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "local", no_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "mount", required_argument, NULL, OPT_MOUNT },
		{ "data", required_argument, NULL, OPT_DATA },
		{ "run", required_argument, NULL, OPT_RUN },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "max-file-size", required_argument, NULL, OPT_MAX_FILE },
		{ "max-total-size", required_argument, NULL, OPT_MAX_TOTAL },
		{ "max-inodes", required_argument, NULL, OPT_MAX_INODES },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ "cache-timeout", required_argument, NULL, OPT_CACHE_TIMEOUT },
		{ "no-inotify-replay", no_argument, NULL, OPT_NO_REPLAY },
		{ "event-log-size", required_argument, NULL, OPT_EVENT_LOG_SIZE },
		{ NULL, 0, NULL, 0 },
	};
	int c, r = 0;
	while ((c = getopt_long(argc, argv, "fldhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': o->foreground = true; break;
		case 'l': o->local = true; break;
		case 'd': o->debug = true; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("pvecfs %s\n", PACKAGE_VERSION); exit(0);
		case OPT_MOUNT: o->mount = optarg; break;
		case OPT_DATA: o->data = optarg; break;
		case OPT_RUN: o->run = optarg; break;
		case OPT_NODE: o->node = optarg; break;
		case OPT_MAX_FILE: r = parse_size(optarg, &o->limits.max_file_size); break;
		case OPT_MAX_TOTAL: r = parse_size(optarg, &o->limits.max_total_size); break;
		case OPT_MAX_INODES: r = parse_size(optarg, &o->limits.max_inodes); break;
		case OPT_LOCK_TIMEOUT: o->lock_timeout = (unsigned)atoi(optarg); break;
		case OPT_CACHE_TIMEOUT: o->cache_timeout = atof(optarg); break;
		case OPT_NO_REPLAY: o->no_replay = true; break;
		case OPT_EVENT_LOG_SIZE: r = parse_size(optarg, &o->event_log_size); break;
		default: usage(stderr); return -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "pvecfs: invalid value '%s'\n", optarg);
			return r;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pvecfs: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static char *default_node_name(void)
{
	char host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	host[strcspn(host, ".")] = 0;
	return strdup(host);
}

static gid_t www_data_gid(void)
{
	struct group *g = getgrnam("www-data");
	return g ? g->gr_gid : 0;
}

static int make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		fprintf(stderr, "pvecfs: cannot create %s: %s\n", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Opens the database and loads the tree: everything that can refuse to
 * start for a reason in the data directory. */
static int open_state(struct cfs *cfs)
{
	_cleanup_free_ char *why = NULL;
	int r = store_open(cfs->opt.data, &cfs->store, &why);
	if (r < 0) {
		fprintf(stderr, "pvecfs: %s\n", why ? why : strerror(-r));
		return r;
	}
	r = tree_new(&cfs->opt.limits, &cfs->tree);
	if (r < 0)
		return r;
	r = store_load(cfs->store, cfs->tree, &why);
	if (r < 0) {
		fprintf(stderr, "pvecfs: %s\n", why ? why : strerror(-r));
		return r;
	}
	return 0;
}

static int wire_modules(struct cfs *cfs)
{
	int r = apply_new(cfs->tree, cfs->store, &cfs->apply);
	if (r == 0)
		r = locks_new(cfs->opt.lock_timeout, &cfs->locks);
	if (r == 0)
		r = notify_new(cfs, !cfs->opt.no_replay, &cfs->notify);
	if (r == 0)
		r = events_new(cfs->opt.event_log_size, tree_version(cfs->tree), &cfs->events);
	if (r == 0)
		r = nodestatus_new(&cfs->nodestatus);
	if (r == 0)
		r = clusterlog_new(CLUSTERLOG_DEFAULT_CAPACITY, &cfs->clusterlog);
	if (r < 0)
		return r;
	struct apply_observer lo = locks_observer(cfs->locks), no = notify_observer(cfs->notify);
	struct apply_observer eo = events_observer(cfs->events, cfs->tree);
	apply_add_observer(cfs->apply, &lo);
	apply_add_observer(cfs->apply, &no);
	apply_add_observer(cfs->apply, &eo);
	locks_seed(cfs->locks, cfs->tree);
	return 0;
}

static void *signal_thread(void *arg)
{
	struct cfs *cfs = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	int sig = 0;
	sigwait(&set, &sig);
	log_notice("received %s, unmounting %s", strsignal(sig), cfs->opt.mount);
	fs_exit(cfs->fs);
	return NULL;
}

/* In cluster mode the node's directories can only be created once the
 * node is quorate and synced: a short-lived thread waits for that. */
static void *layout_thread(void *arg)
{
	struct cfs *cfs = arg;
	for (;;) {
		if (cfs_writable(cfs) && cluster_synced(cfs->cluster) && cfs_ensure_layout(cfs) == 0)
			return NULL;
		sleep(1);
	}
}

static int start_cluster(struct cfs *cfs)
{
	int r = cluster_start(cfs, &cfs->cluster);
	if (r < 0)
		return log_error_errno(r, "cannot start the cluster thread");
	pthread_t t;
	r = pthread_create(&t, NULL, layout_thread, cfs);
	if (r == 0)
		pthread_detach(t);
	return -r;
}

static void teardown(struct cfs *cfs)
{
	if (cfs->api)
		cfs_log_cluster(cfs, LOG_NOTICE, "pvecfs stopping on node %s", cfs->opt.node);
	cluster_stop(cfs->cluster);
	cfs->cluster = NULL;
	api_stop(cfs->api); /* after the cluster: nothing applies any more */
	cfs->api = NULL;
	if (cfs->notify)
		notify_stop(cfs->notify);
	fs_unmount(cfs->fs);
	notify_free(cfs->notify);
	locks_free(cfs->locks);
	apply_free(cfs->apply);
	events_free(cfs->events);
	nodestatus_free(cfs->nodestatus);
	clusterlog_free(cfs->clusterlog);
	store_close(cfs->store);
	tree_free(cfs->tree);
}

int main(int argc, char **argv)
{
	struct cfs cfs = {
		.opt = {
			.mount = "/etc/pve", .data = "/var/lib/pvecfs", .run = "/run/pvecfs",
			.limits = TREE_LIMITS_DEFAULT, .lock_timeout = 120, .cache_timeout = 10.0,
			.event_log_size = 10000,
		},
	};
	if (parse_options(argc, argv, &cfs.opt) < 0)
		return 2;
	_cleanup_free_ char *hostname = NULL;
	char corosync_name[256];
	if (!cfs.opt.node && !cfs.opt.local &&
	    membership_local_node_name(corosync_name, sizeof(corosync_name)) == 0)
		cfs.opt.node = corosync_name; /* the corosync node name of this node */
	if (!cfs.opt.node)
		cfs.opt.node = hostname = default_node_name();
	log_open("pvecfs", true);
	log_set_debug(cfs.opt.debug);
	cfs.www_gid = www_data_gid();
	cfs.start_time = time(NULL);

	char err[1024];
	if (make_dir(cfs.opt.data, 0700) < 0 || make_dir(cfs.opt.run, 0755) < 0)
		return 1;
	int lock_fd = daemon_lock_data_dir(cfs.opt.data, err, sizeof(err));
	if (lock_fd < 0 || daemon_check_mountpoint(cfs.opt.mount, err, sizeof(err)) < 0) {
		fprintf(stderr, "pvecfs: %s\n", err);
		return 1;
	}
	if (open_state(&cfs) < 0 || wire_modules(&cfs) < 0) {
		teardown(&cfs);
		return 1;
	}
	if (cfs.opt.local) {
		/* A database changed in local mode never wins a cluster sync. */
		if (store_meta_set(cfs.store, "local_mode", "1") < 0 || cfs_ensure_layout(&cfs) < 0) {
			teardown(&cfs);
			return 1;
		}
	}

	int ready_fd = -1;
	if (!cfs.opt.foreground) {
		ready_fd = daemon_detach();
		log_open("pvecfs", false);
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!cfs.opt.local && start_cluster(&cfs) < 0) {
		daemon_ready(ready_fd, 1);
		teardown(&cfs);
		return 1;
	}
	_cleanup_free_ char *api_path = NULL;
	if (asprintf(&api_path, "%s/%s", cfs.opt.run, API_SOCKET_NAME) < 0 ||
	    api_start(&cfs, api_path, &cfs.api) < 0) {
		daemon_ready(ready_fd, 1);
		teardown(&cfs);
		return 1;
	}
	int r = fs_mount(&cfs, &cfs.fs);
	if (r < 0) {
		log_error("cannot mount on %s", cfs.opt.mount);
		daemon_ready(ready_fd, 1);
		teardown(&cfs);
		return 1;
	}
	notify_start(cfs.notify, fs_session(cfs.fs));
	daemon_write_pidfile(cfs.opt.run);
	pthread_t sig_thread;
	pthread_create(&sig_thread, NULL, signal_thread, &cfs);
	log_notice("pvecfs %s: node %s, mounted on %s, version %llu", PACKAGE_VERSION, cfs.opt.node,
		   cfs.opt.mount, (unsigned long long)tree_version(cfs.tree));
	cfs_log_cluster(&cfs, LOG_NOTICE, "pvecfs %s started on node %s, version %llu", PACKAGE_VERSION,
			cfs.opt.node, (unsigned long long)tree_version(cfs.tree));
	daemon_ready(ready_fd, 0);

	r = fs_loop(cfs.fs);
	/* The loop also ends when someone unmounts us: let the signal thread go. */
	pthread_cancel(sig_thread);
	pthread_join(sig_thread, NULL);
	daemon_remove_pidfile(cfs.opt.run);
	teardown(&cfs);
	close(lock_fd);
	log_notice("stopped");
	return r < 0 ? 1 : 0;
}
