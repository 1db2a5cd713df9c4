/* watchloop.c - see watchloop.h.
 *
 * One thread, one poll(): the signalfd, the API socket (when connected) and
 * the watcher's fds.  Each turn of the loop: reconnect if due, drain events
 * into the dirty set, fire due timers, start a periodic full pass if due,
 * run a pass if the dirty set is due (debounced), then sleep until the
 * earliest of those deadlines.
 *
 * Revisions: seen_rev is the newest revision we know of (events and the
 * subscribe reply); handled_rev is the revision up to which every change has
 * been reconciled.  handled_rev only moves when a pass ends with nothing
 * dirty and no retry outstanding, and only it is saved: a crash at any point
 * replays what was not finished. */
#include "watchloop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apiclient.h"
#include "cleanup.h"

#define WATCH_MAX_DELAY_MS 1000      /* a steady stream of events still gets a pass this often */
#define WATCH_DIRTY_KEYS_MAX 4096    /* beyond that: everything is dirty */
#define WATCH_REPLAY_QUIET_MS 200    /* replayed events arrive together with the subscribe reply */
#define WATCH_REPLAY_MAX_MS 2000
#define WATCH_CALL_TIMEOUT_MS 10000

struct watch_timer {
	char *key; /* NULL: everything */
	int64_t due;
	bool retry; /* a failed key: the revision must not move past it */
};

struct watch_fd {
	int fd;
	short events;
	watch_fd_fn cb;
	void *userdata;
	bool removed;
};

struct watch_status {
	char *key;
	char *value; /* NULL: to delete */
	bool sent;
};

struct watch_ctx {
	struct watch_options opt; /* strings below are owned copies */
	char *root, *name, *socket, *state_file;
	char **prefixes;

	struct api_client *api; /* NULL while disconnected */
	struct watch_backoff reconnect;
	int64_t reconnect_due;
	bool ever_connected, warned_down;

	char **keys; /* the dirty set */
	size_t n_keys, cap_keys;
	bool all, first;
	int64_t dirty_first, dirty_last;

	struct watch_timer *timers;
	size_t n_timers;
	struct watch_backoff retry;

	struct watch_fd *fds;
	size_t n_fds;

	struct watch_status *status;
	size_t n_status;

	uint64_t seen_rev, handled_rev, saved_rev;
	bool have_rev;
	int64_t resync_due;
	int sigfd;
	bool stopping;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- building blocks ---- */

void watch_backoff_init(struct watch_backoff *b, unsigned min_ms, unsigned max_ms)
{
	b->min_ms = min_ms;
	b->max_ms = max_ms < min_ms ? min_ms : max_ms;
	b->next_ms = min_ms;
}

unsigned watch_backoff_next(struct watch_backoff *b)
{
	unsigned d = b->next_ms;
	b->next_ms = d > b->max_ms / 2 ? b->max_ms : d * 2;
	return d;
}

void watch_backoff_reset(struct watch_backoff *b) { b->next_ms = b->min_ms; }

int64_t watch_debounce_due(int64_t first_ms, int64_t last_ms, unsigned debounce_ms, unsigned max_delay_ms)
{
	int64_t due = last_ms + debounce_ms, cap = first_ms + max_delay_ms;
	return due < cap ? due : cap;
}

int watch_state_load(const char *path, uint64_t *rev)
{
	_cleanup_free_ char *text = NULL;
	ssize_t len = watch_read_file(path, &text);
	if (len < 0)
		return (int)len;
	unsigned long long v;
	int end = 0;
	if (sscanf(text, "revision=%llu%n", &v, &end) != 1 || (text[end] != '\n' && text[end] != '\0'))
		return -EBADMSG;
	*rev = v;
	return 0;
}

int watch_state_save(const char *path, uint64_t rev)
{
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	char line[64];
	int n = snprintf(line, sizeof(line), "revision=%llu\n", (unsigned long long)rev);
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0) {
		int r = errno ? -errno : -EIO;
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		int r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}

static bool needs_quotes(const char *v)
{
	if (!*v)
		return true;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			return true;
	return false;
}

static void put(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len + 1 >= size)
		return;
	size_t room = size - 1 - *len;
	if (n > room)
		n = room;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

void watch_kv_append(char *buf, size_t size, size_t *len, const char *key, const char *value)
{
	if (!size)
		return;
	if (!value)
		value = "";
	if (*len)
		put(buf, size, len, " ", 1);
	put(buf, size, len, key, strlen(key));
	put(buf, size, len, "=", 1);
	if (!needs_quotes(value)) {
		put(buf, size, len, value, strlen(value));
		return;
	}
	put(buf, size, len, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\')
			snprintf(esc, sizeof(esc), "\\%c", *p);
		else if (*p == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (*p < ' ' || *p == 0x7f)
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
		else
			snprintf(esc, sizeof(esc), "%c", *p);
		put(buf, size, len, esc, strlen(esc));
	}
	put(buf, size, len, "\"", 1);
}

static const char *level_name(int priority)
{
	switch (priority) {
	case LOG_DEBUG: return "debug";
	case LOG_INFO: return "info";
	case LOG_NOTICE: return "notice";
	case LOG_WARNING: return "warning";
	default: return "error";
	}
}

void watch_format_line(char *buf, size_t size, int64_t epoch_ms, int priority, const char *name,
		       const char *fields)
{
	time_t secs = (time_t)(epoch_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(buf, size, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s watcher=%s%s%s", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(epoch_ms % 1000),
		 level_name(priority), name, fields && *fields ? " " : "", fields ? fields : "");
}

void watch_short_hostname(char *buf, size_t size)
{
	if (gethostname(buf, size) < 0)
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
	buf[strcspn(buf, ".")] = '\0';
}

ssize_t watch_read_file(const char *path, char **text)
{
	*text = NULL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= (64u << 20))
				return -EFBIG;
			char *n = realloc(buf, cap *= 2);
			if (!n)
				return -ENOMEM;
			buf = n;
		}
		ssize_t got = read(fd, buf + len, cap - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	*text = TAKE_PTR(buf);
	return (ssize_t)len;
}

/* ---- logging and side effects ---- */

static void vlog_line(struct watch_ctx *ctx, int priority, const char *fmt, va_list ap)
{
	if (priority == LOG_DEBUG && !ctx->opt.debug)
		return;
	char fields[2048], line[2300];
	vsnprintf(fields, sizeof(fields), fmt, ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	watch_format_line(line, sizeof(line), (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, priority,
			  ctx->name, fields);
	fprintf(stderr, "%s\n", line);
}

void watch_log(struct watch_ctx *ctx, int priority, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog_line(ctx, priority, fmt, ap);
	va_end(ap);
}

/* Logs fields + msg="text". */
static void log_msgf(struct watch_ctx *ctx, int priority, const char *fields, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void log_msgf(struct watch_ctx *ctx, int priority, const char *fields, const char *fmt, ...)
{
	char text[1024], buf[1400];
	size_t len = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	buf[0] = '\0';
	if (fields && *fields)
		put(buf, sizeof(buf), &len, fields, strlen(fields));
	watch_kv_append(buf, sizeof(buf), &len, "msg", text);
	watch_log(ctx, priority, "%s", buf);
}

bool watch_action(struct watch_ctx *ctx, const char *fmt, ...)
{
	if (!ctx->opt.dry_run)
		return true;
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_msgf(ctx, LOG_INFO, "dry_run=1", "dry-run: would %s", what);
	return false;
}

const char *watch_root(const struct watch_ctx *ctx) { return ctx->root; }
const char *watch_name(const struct watch_ctx *ctx) { return ctx->name; }
bool watch_dry_run(const struct watch_ctx *ctx) { return ctx->opt.dry_run; }

/* ---- connection ---- */

static void disconnect(struct watch_ctx *ctx, const char *why)
{
	if (!ctx->api)
		return;
	log_msgf(ctx, LOG_WARNING, "event=disconnected", "lost pvecfs: %s", why);
	api_client_close(ctx->api);
	ctx->api = NULL;
	watch_backoff_reset(&ctx->reconnect);
	ctx->reconnect_due = now_ms() + watch_backoff_next(&ctx->reconnect);
}

/* A call failed: if the connection is unusable, drop it. */
static int call_failed(struct watch_ctx *ctx, int r)
{
	if (ctx->api && (r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ETIMEDOUT || r == -EBADMSG))
		disconnect(ctx, api_client_error(ctx->api));
	return r;
}

int watch_api_call(struct watch_ctx *ctx, const char *call, json_object *args, json_object **result)
{
	if (result)
		*result = NULL;
	if (!ctx->api)
		return -ENOTCONN;
	int r = api_client_call(ctx->api, call, args, result, WATCH_CALL_TIMEOUT_MS);
	return r < 0 ? call_failed(ctx, r) : r;
}

static int send_status(struct watch_ctx *ctx, struct watch_status *s)
{
	json_object *args = json_object_new_object();
	json_object_object_add(args, "key", json_object_new_string(s->key));
	json_object_object_add(args, "value", s->value ? json_object_new_string(s->value) : NULL);
	int r = watch_api_call(ctx, "nodestatus_set", args, NULL);
	json_object_put(args);
	if (r == -ENOENT && !s->value)
		r = 0; /* deleting what the daemon no longer has */
	if (r == 0)
		s->sent = true;
	return r;
}

static void drop_status(struct watch_ctx *ctx, size_t i)
{
	free(ctx->status[i].key);
	free(ctx->status[i].value);
	ctx->status[i] = ctx->status[--ctx->n_status];
}

static void flush_status(struct watch_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n_status && ctx->api;) {
		struct watch_status *s = &ctx->status[i];
		if (!s->sent && send_status(ctx, s) < 0)
			log_msgf(ctx, LOG_WARNING, "", "cannot publish status %s: %s", s->key,
				 ctx->api ? api_client_error(ctx->api) : "disconnected");
		if (s->sent && !s->value) {
			drop_status(ctx, i);
			continue;
		}
		i++;
	}
}

int watch_status_set(struct watch_ctx *ctx, const char *key, json_object *value)
{
	_cleanup_free_ char *text = NULL;
	if (value) {
		text = strdup(json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN));
		json_object_put(value);
		if (!text)
			return -ENOMEM;
	}
	struct watch_status *s = NULL;
	for (size_t i = 0; i < ctx->n_status; i++)
		if (strcmp(ctx->status[i].key, key) == 0)
			s = &ctx->status[i];
	if (s && s->sent && ((!s->value && !text) || (s->value && text && strcmp(s->value, text) == 0)))
		return 0;
	if (!s) {
		if (!text)
			return 0; /* never published: nothing to delete */
		struct watch_status *n = realloc(ctx->status, (ctx->n_status + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		ctx->status = n;
		s = &ctx->status[ctx->n_status];
		*s = (struct watch_status){ .key = strdup(key) };
		if (!s->key)
			return -ENOMEM;
		ctx->n_status++;
	}
	free(s->value);
	s->value = TAKE_PTR(text);
	s->sent = false;
	if (ctx->opt.dry_run) {
		char f[512];
		size_t len = 0;
		f[0] = '\0';
		watch_kv_append(f, sizeof(f), &len, "status", key);
		watch_kv_append(f, sizeof(f), &len, "value", s->value ? s->value : "(delete)");
		watch_log(ctx, LOG_DEBUG, "dry_run=1 %s", f);
		s->sent = true;
		if (!s->value)
			drop_status(ctx, (size_t)(s - ctx->status));
		return 0;
	}
	if (!ctx->api)
		return 0; /* sent on connect */
	int r = send_status(ctx, s);
	if (r == 0 && !s->value)
		drop_status(ctx, (size_t)(s - ctx->status));
	return r == -ENOTCONN ? 0 : r;
}

int watch_cluster_log(struct watch_ctx *ctx, int priority, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx->opt.dry_run) {
		log_msgf(ctx, LOG_INFO, "dry_run=1", "dry-run: would add to the cluster log: %s", msg);
		return 0;
	}
	json_object *args = json_object_new_object();
	json_object_object_add(args, "tag", json_object_new_string(ctx->name));
	json_object_object_add(args, "msg", json_object_new_string(msg));
	json_object_object_add(args, "pri", json_object_new_int(priority));
	int r = watch_api_call(ctx, "log_append", args, NULL);
	json_object_put(args);
	if (r < 0)
		log_msgf(ctx, LOG_WARNING, "", "cannot add to the cluster log (%s): %s", strerror(-r), msg);
	return r;
}

/* ---- dirty set and timers ---- */

static void clear_keys(struct watch_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n_keys; i++)
		free(ctx->keys[i]);
	ctx->n_keys = 0;
}

static bool is_dirty(const struct watch_ctx *ctx) { return ctx->all || ctx->n_keys > 0; }

static void touch_dirty(struct watch_ctx *ctx)
{
	int64_t now = now_ms();
	if (!is_dirty(ctx))
		ctx->dirty_first = now;
	ctx->dirty_last = now;
}

void watch_mark_dirty(struct watch_ctx *ctx, const char *key)
{
	touch_dirty(ctx);
	if (!key || ctx->n_keys >= WATCH_DIRTY_KEYS_MAX) {
		ctx->all = true;
		return;
	}
	for (size_t i = 0; i < ctx->n_keys; i++)
		if (strcmp(ctx->keys[i], key) == 0)
			return;
	if (ctx->n_keys == ctx->cap_keys) {
		size_t cap = ctx->cap_keys ? ctx->cap_keys * 2 : 16;
		char **n = realloc(ctx->keys, cap * sizeof(*n));
		if (!n) {
			ctx->all = true;
			return;
		}
		ctx->keys = n;
		ctx->cap_keys = cap;
	}
	char *k = strdup(key);
	if (!k) {
		ctx->all = true;
		return;
	}
	ctx->keys[ctx->n_keys++] = k;
}

static void add_timer(struct watch_ctx *ctx, const char *key, unsigned delay_ms, bool retry)
{
	int64_t due = now_ms() + delay_ms;
	for (size_t i = 0; i < ctx->n_timers; i++) {
		struct watch_timer *t = &ctx->timers[i];
		if ((!t->key && !key) || (t->key && key && strcmp(t->key, key) == 0)) {
			if (due < t->due)
				t->due = due;
			t->retry |= retry;
			return;
		}
	}
	struct watch_timer *n = realloc(ctx->timers, (ctx->n_timers + 1) * sizeof(*n));
	char *k = key ? strdup(key) : NULL;
	if (!n || (key && !k)) {
		if (n)
			ctx->timers = n;
		free(k);
		watch_mark_dirty(ctx, key); /* cannot wait: look now */
		return;
	}
	ctx->timers = n;
	ctx->timers[ctx->n_timers++] = (struct watch_timer){ .key = k, .due = due, .retry = retry };
}

void watch_mark_dirty_after(struct watch_ctx *ctx, const char *key, unsigned delay_ms)
{
	add_timer(ctx, key, delay_ms, false);
}

static void fire_timers(struct watch_ctx *ctx, int64_t now)
{
	for (size_t i = 0; i < ctx->n_timers;) {
		struct watch_timer *t = &ctx->timers[i];
		if (t->due > now) {
			i++;
			continue;
		}
		watch_mark_dirty(ctx, t->key);
		free(t->key);
		ctx->timers[i] = ctx->timers[--ctx->n_timers];
	}
}

static bool retry_pending(const struct watch_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n_timers; i++)
		if (ctx->timers[i].retry)
			return true;
	return false;
}

int watch_add_fd(struct watch_ctx *ctx, int fd, short events, watch_fd_fn cb, void *userdata)
{
	for (size_t i = 0; i < ctx->n_fds; i++)
		if (ctx->fds[i].fd == fd && !ctx->fds[i].removed)
			return -EEXIST;
	struct watch_fd *n = realloc(ctx->fds, (ctx->n_fds + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	ctx->fds = n;
	ctx->fds[ctx->n_fds++] = (struct watch_fd){ fd, events, cb, userdata, false };
	return 0;
}

void watch_remove_fd(struct watch_ctx *ctx, int fd)
{
	for (size_t i = 0; i < ctx->n_fds; i++)
		if (ctx->fds[i].fd == fd)
			ctx->fds[i].removed = true;
}

static void compact_fds(struct watch_ctx *ctx)
{
	size_t j = 0;
	for (size_t i = 0; i < ctx->n_fds; i++)
		if (!ctx->fds[i].removed)
			ctx->fds[j++] = ctx->fds[i];
	ctx->n_fds = j;
}

/* ---- events ---- */

static void mark_path(struct watch_ctx *ctx, const char *path)
{
	if (!path)
		return;
	if (!ctx->opt.key_of) {
		watch_mark_dirty(ctx, NULL);
		return;
	}
	char key[256];
	int r = ctx->opt.key_of(ctx->opt.userdata, path, key, sizeof(key));
	if (r == 1)
		watch_mark_dirty(ctx, key);
	else if (r == 2)
		watch_mark_dirty(ctx, NULL);
}

static void handle_event(struct watch_ctx *ctx, const struct api_event *ev)
{
	if (ev->rev > ctx->seen_rev)
		ctx->seen_rev = ev->rev;
	if (ev->resync) {
		log_msgf(ctx, LOG_NOTICE, "event=resync", "pvecfs asks for a full resync at revision %llu",
			 (unsigned long long)ev->rev);
		watch_mark_dirty(ctx, NULL);
		return;
	}
	watch_log(ctx, LOG_DEBUG, "event=%s rev=%llu path=%s", ev->op, (unsigned long long)ev->rev,
		  ev->path ? ev->path : "");
	mark_path(ctx, ev->path);
	mark_path(ctx, ev->old_path);
}

/* Drains what the client has; waits up to quiet_ms for more. */
static void drain_events(struct watch_ctx *ctx, int quiet_ms, int max_ms)
{
	int64_t end = now_ms() + max_ms;
	while (ctx->api) {
		struct api_event ev;
		int left = (int)(end - now_ms());
		int r = api_client_next_event(ctx->api, &ev, left <= 0 ? 0 : (quiet_ms < left ? quiet_ms : left));
		if (r < 0) {
			disconnect(ctx, api_client_error(ctx->api));
			return;
		}
		if (r == 0)
			return;
		handle_event(ctx, &ev);
		api_event_clear(&ev);
	}
}

static void try_connect(struct watch_ctx *ctx)
{
	struct api_client *c = NULL;
	int r = api_client_connect(ctx->socket, &c);
	uint64_t version = 0;
	if (r == 0)
		r = api_client_subscribe(c, (const char *const *)ctx->prefixes, ctx->opt.n_prefixes,
					 ctx->have_rev ? &ctx->handled_rev : NULL, &version);
	if (r < 0) {
		unsigned delay = watch_backoff_next(&ctx->reconnect);
		if (!ctx->warned_down)
			log_msgf(ctx, LOG_WARNING, "event=connect result=failed", "%s; retrying",
				 c ? api_client_error(c) : strerror(-r));
		ctx->warned_down = true;
		watch_log(ctx, LOG_DEBUG, "event=connect result=failed retry_ms=%u", delay);
		api_client_close(c);
		ctx->reconnect_due = now_ms() + delay;
		return;
	}
	ctx->api = c;
	ctx->warned_down = false;
	watch_backoff_reset(&ctx->reconnect);
	if (version > ctx->seen_rev)
		ctx->seen_rev = version;
	if (ctx->have_rev)
		watch_log(ctx, LOG_INFO, "event=connected from=%llu version=%llu",
			  (unsigned long long)ctx->handled_rev, (unsigned long long)version);
	else
		watch_log(ctx, LOG_INFO, "event=connected version=%llu", (unsigned long long)version);
	ctx->ever_connected = true;
	/* Replayed events come right behind the reply: collect their keys so
	 * the first (full) pass can name them. */
	drain_events(ctx, WATCH_REPLAY_QUIET_MS, WATCH_REPLAY_MAX_MS);
	if (!ctx->api)
		return;
	for (size_t i = 0; i < ctx->n_status; i++)
		ctx->status[i].sent = false;
	flush_status(ctx);
	watch_mark_dirty(ctx, NULL);
	ctx->first = true;
}

/* ---- passes ---- */

static void save_revision(struct watch_ctx *ctx)
{
	ctx->have_rev = true;
	if (!ctx->state_file || ctx->opt.dry_run || ctx->saved_rev == ctx->handled_rev)
		return;
	int r = watch_state_save(ctx->state_file, ctx->handled_rev);
	if (r < 0) {
		log_msgf(ctx, LOG_WARNING, "", "cannot save revision to %s: %s", ctx->state_file, strerror(-r));
		return;
	}
	ctx->saved_rev = ctx->handled_rev;
}

static void run_pass(struct watch_ctx *ctx)
{
	char **keys = ctx->keys;
	size_t n = ctx->n_keys;
	struct watch_pass pass = {
		.all = ctx->all, .keys = (const char *const *)keys, .n_keys = n,
		.rev = ctx->seen_rev, .first = ctx->first,
	};
	/* Detach the set: the callback may mark new keys. */
	ctx->keys = NULL;
	ctx->n_keys = ctx->cap_keys = 0;
	ctx->all = ctx->first = false;
	int r = ctx->opt.reconcile(ctx, &pass, ctx->opt.userdata);
	if (r < 0) {
		unsigned delay = watch_backoff_next(&ctx->retry);
		log_msgf(ctx, LOG_WARNING, "result=retry", "reconcile failed (%s); retrying in %u ms",
			 strerror(-r), delay);
		if (pass.all)
			add_timer(ctx, NULL, delay, true);
		for (size_t i = 0; i < n; i++)
			add_timer(ctx, keys[i], delay, true);
	} else {
		watch_backoff_reset(&ctx->retry);
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	if (r == 0 && !is_dirty(ctx) && !retry_pending(ctx) && ctx->api) {
		ctx->handled_rev = pass.rev;
		save_revision(ctx);
	}
}

/* ---- the loop ---- */

static int64_t earliest(int64_t a, int64_t b) { return a < b ? a : b; }

static int64_t next_deadline(struct watch_ctx *ctx)
{
	int64_t due = ctx->resync_due;
	if (!ctx->api)
		due = earliest(due, ctx->reconnect_due);
	else if (is_dirty(ctx))
		due = earliest(due, watch_debounce_due(ctx->dirty_first, ctx->dirty_last, ctx->opt.debounce_ms,
							WATCH_MAX_DELAY_MS));
	for (size_t i = 0; i < ctx->n_timers; i++)
		due = earliest(due, ctx->timers[i].due);
	return due;
}

static void read_signal(struct watch_ctx *ctx)
{
	struct signalfd_siginfo si;
	while (read(ctx->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (!ctx->stopping)
			watch_log(ctx, LOG_INFO, "event=stop signal=%s", strsignal((int)si.ssi_signo));
		ctx->stopping = true;
	}
}

bool watch_should_stop(struct watch_ctx *ctx)
{
	if (ctx->sigfd >= 0)
		read_signal(ctx);
	return ctx->stopping;
}

static void poll_once(struct watch_ctx *ctx, int timeout)
{
	size_t n = ctx->n_fds + 2;
	_cleanup_free_ struct pollfd *p = calloc(n, sizeof(*p));
	if (!p) {
		usleep(10000);
		return;
	}
	size_t k = 0;
	p[k++] = (struct pollfd){ .fd = ctx->sigfd, .events = POLLIN };
	int api_index = -1;
	if (ctx->api) {
		api_index = (int)k;
		p[k++] = (struct pollfd){ .fd = api_client_fd(ctx->api), .events = POLLIN };
	}
	size_t first_watched = k;
	size_t n_watched = ctx->n_fds;
	for (size_t i = 0; i < n_watched; i++)
		p[k++] = (struct pollfd){ .fd = ctx->fds[i].fd, .events = ctx->fds[i].events };
	int r = poll(p, k, timeout);
	if (r <= 0)
		return;
	if (p[0].revents)
		read_signal(ctx);
	if (api_index >= 0 && p[api_index].revents)
		drain_events(ctx, 0, 0);
	for (size_t i = 0; i < n_watched; i++) {
		struct watch_fd *f = &ctx->fds[i];
		short rev = p[first_watched + i].revents;
		if (rev && !f->removed && f->fd == p[first_watched + i].fd)
			f->cb(ctx, f->fd, rev, f->userdata);
	}
	compact_fds(ctx);
}

int watch_run(struct watch_ctx *ctx)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	ctx->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (ctx->sigfd < 0)
		return -errno;
	if (ctx->state_file) {
		int r = watch_state_load(ctx->state_file, &ctx->handled_rev);
		if (r == 0) {
			ctx->have_rev = true;
			ctx->saved_rev = ctx->seen_rev = ctx->handled_rev;
		} else if (r != -ENOENT) {
			log_msgf(ctx, LOG_WARNING, "", "ignoring state file %s: %s", ctx->state_file, strerror(-r));
		}
	}
	watch_log(ctx, LOG_INFO, "event=start dry_run=%d", ctx->opt.dry_run);
	ctx->reconnect_due = now_ms();
	ctx->resync_due = now_ms() + ctx->opt.resync_interval_ms;
	while (!watch_should_stop(ctx)) {
		int64_t now = now_ms();
		if (!ctx->api && now >= ctx->reconnect_due)
			try_connect(ctx);
		if (ctx->api)
			drain_events(ctx, 0, 0);
		now = now_ms();
		fire_timers(ctx, now);
		if (now >= ctx->resync_due) {
			if (ctx->api)
				watch_mark_dirty(ctx, NULL);
			ctx->resync_due = now + ctx->opt.resync_interval_ms;
		}
		if (ctx->api && is_dirty(ctx) &&
		    now >= watch_debounce_due(ctx->dirty_first, ctx->dirty_last, ctx->opt.debounce_ms,
					      WATCH_MAX_DELAY_MS)) {
			run_pass(ctx);
			continue;
		}
		int64_t wait = next_deadline(ctx) - now_ms();
		poll_once(ctx, wait < 0 ? 0 : (wait > 60000 ? 60000 : (int)wait));
	}
	if (ctx->api && !is_dirty(ctx) && !retry_pending(ctx) && ctx->handled_rev)
		save_revision(ctx);
	watch_log(ctx, LOG_INFO, "event=exit revision=%llu", (unsigned long long)ctx->handled_rev);
	return 0;
}

/* ---- setup ---- */

int watch_new(const struct watch_options *opts, struct watch_ctx **out)
{
	*out = NULL;
	if (!opts->name || !opts->reconcile)
		return -EINVAL;
	_cleanup_(watch_freep) struct watch_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->sigfd = -1;
	ctx->opt = *opts;
	ctx->name = strdup(opts->name);
	ctx->root = strdup(opts->root ? opts->root : "/etc/pve");
	ctx->socket = opts->socket ? strdup(opts->socket) : NULL;
	ctx->state_file = opts->state_file ? strdup(opts->state_file) : NULL;
	ctx->prefixes = calloc(opts->n_prefixes + 1, sizeof(char *));
	if (!ctx->name || !ctx->root || (opts->socket && !ctx->socket) || (opts->state_file && !ctx->state_file) ||
	    !ctx->prefixes)
		return -ENOMEM;
	for (size_t i = 0; i < opts->n_prefixes; i++)
		if (!(ctx->prefixes[i] = strdup(opts->prefixes[i])))
			return -ENOMEM;
	if (!ctx->opt.resync_interval_ms)
		ctx->opt.resync_interval_ms = 60000;
	if (!ctx->opt.debounce_ms)
		ctx->opt.debounce_ms = 50;
	watch_backoff_init(&ctx->reconnect, 100, 5000);
	watch_backoff_init(&ctx->retry, 1000, 30000);
	*out = TAKE_PTR(ctx);
	return 0;
}

void watch_free(struct watch_ctx *ctx)
{
	if (!ctx)
		return;
	api_client_close(ctx->api);
	if (ctx->sigfd >= 0)
		close(ctx->sigfd);
	clear_keys(ctx);
	free(ctx->keys);
	for (size_t i = 0; i < ctx->n_timers; i++)
		free(ctx->timers[i].key);
	free(ctx->timers);
	free(ctx->fds);
	while (ctx->n_status)
		drop_status(ctx, 0);
	free(ctx->status);
	for (size_t i = 0; ctx->prefixes && ctx->prefixes[i]; i++)
		free(ctx->prefixes[i]);
	free(ctx->prefixes);
	free(ctx->name);
	free(ctx->root);
	free(ctx->socket);
	free(ctx->state_file);
	free(ctx);
}
