/* api.c - see api.h.  The transport: socket, access check, per-client
 * buffers, request framing, subscriptions; the calls are in api_calls.c.
 *
 * Threading: the serving thread owns every client.  Other threads only
 * touch the event log (events.h), whose wakeup writes to our eventfd.  After
 * every wakeup or request the thread moves new events into the subscribed
 * clients' output buffers (while they have room), filtering by prefix.  A
 * client that does not read falls behind in the event log; once the log has
 * dropped events it has not received, or its unsent output exceeds
 * API_OUTPUT_MAX, it is sent a resync (if its socket takes it) and closed:
 * it reconnects and resumes from the last revision it saw. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api_calls.h"
#include "cfs.h"
#include "cleanup.h"
#include "cluster_view.h"
#include "events.h"
#include "log.h"

#define API_MAX_CLIENTS 512
#define API_READ_CHUNK 65536
#define API_EVENT_BATCH 256
#define API_PUMP_LIMIT (256 * 1024) /* stop moving events to a client beyond this */

enum access { ACCESS_NONE, ACCESS_READ, ACCESS_ADMIN };

struct client {
	struct client *next;
	int fd;
	uid_t uid;
	pid_t pid;
	enum access access;
	char *in;            /* bytes received, not yet a complete line */
	size_t in_len, in_cap;
	char *out;           /* bytes to send: out[out_off..out_len) */
	size_t out_len, out_off, out_cap;
	bool closing;        /* close once out is sent (or at once if it cannot be) */
	bool dead;           /* close now */
	bool subscribed;
	bool held_back;      /* the last pump stopped at API_PUMP_LIMIT */
	struct events_cursor cursor;
	char **prefixes;
	size_t n_prefixes;
};

struct api {
	struct cfs *cfs;
	char *path;
	int listen_fd;
	int wake_fd;
	atomic_bool stopping;
	pthread_t thread;
	struct client *clients;
	size_t n_clients;
	atomic_uint n_subscribers; /* no subscriber: applied changes need no wakeup */
	atomic_bool wake_pending;  /* an unread wakeup is in the eventfd */
};

/* ---- output ---- */

static size_t pending(const struct client *c)
{
	return c->out_len - c->out_off;
}

static int out_append(struct client *c, const char *s, size_t len)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len + 1 > c->out_cap) {
		if (c->out_off > 0) { /* reclaim what was sent */
			memmove(c->out, c->out + c->out_off, pending(c));
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (c->out_len + len + 1 > cap)
			cap *= 2;
		char *p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, len);
	c->out_len += len;
	c->out[c->out_len++] = '\n';
	return 0;
}

/* Queues one JSON line; consumes o. */
static void send_json(struct client *c, json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (out_append(c, s, len) < 0)
		c->dead = true;
	json_object_put(o);
}

static void send_error(struct client *c, json_object *id, int r, const char *msg)
{
	json_object *o = json_object_new_object();
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
	json_object_object_add(o, "error", json_object_new_string(msg ? msg : strerror(-r)));
	if (r < 0)
		json_object_object_add(o, "errno", json_object_new_int(-r));
	send_json(c, o);
}

static void flush_client(struct client *c)
{
	while (pending(c) > 0) {
		ssize_t n = send(c->fd, c->out + c->out_off, pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				c->dead = true;
			if (errno != EINTR)
				break;
			continue;
		}
		c->out_off += (size_t)n;
	}
	if (pending(c) == 0) {
		c->out_off = c->out_len = 0;
		if (c->closing)
			c->dead = true;
	}
}

/* ---- events ---- */

static bool has_prefix(const char *path, const char *prefix)
{
	return path && strncmp(path, prefix, strlen(prefix)) == 0;
}

/* An event concerns a prefix if either path starts with it, or if it changed
 * a directory above it (rename or rmdir of a parent moves or removes
 * everything below). */
static bool ancestor_of_prefix(const char *path, const char *prefix)
{
	size_t n = path ? strlen(path) : 0;
	return n > 0 && strncmp(prefix, path, n) == 0 && (prefix[n] == '/' || path[n - 1] == '/');
}

static bool wanted(const struct client *c, const struct event *ev)
{
	if (ev->op == EVENT_RESYNC || c->n_prefixes == 0)
		return true;
	for (size_t i = 0; i < c->n_prefixes; i++) {
		const char *p = c->prefixes[i];
		if (has_prefix(ev->path, p) || has_prefix(ev->old_path, p) ||
		    ancestor_of_prefix(ev->path, p) || ancestor_of_prefix(ev->old_path, p))
			return true;
	}
	return false;
}

static const char *node_name(const struct cluster_view *view, uint32_t id)
{
	for (int i = 0; i < view->n_nodes; i++)
		if (view->nodes[i].id == id)
			return view->nodes[i].name;
	return NULL;
}

static json_object *event_json(const struct event *ev, const struct cluster_view *view)
{
	json_object *e = json_object_new_object();
	json_object_object_add(e, "rev", json_object_new_uint64(ev->rev));
	json_object_object_add(e, "op", json_object_new_string(event_op_name(ev->op)));
	if (ev->op != EVENT_RESYNC) {
		json_object_object_add(e, "path", json_object_new_string(ev->path));
		if (ev->old_path)
			json_object_object_add(e, "old_path", json_object_new_string(ev->old_path));
		const char *name = node_name(view, ev->nodeid);
		if (name)
			json_object_object_add(e, "node", json_object_new_string(name));
		json_object_object_add(e, "nodeid", json_object_new_int64(ev->nodeid));
		json_object_object_add(e, "time", json_object_new_int64(ev->time));
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "event", e);
	return o;
}

/* The client cannot keep up: replace what it has not started to receive by
 * a resync, try to send that once, and close. */
static void cut_client(struct api *api, struct client *c)
{
	char *nl = c->out_off > 0 && c->out[c->out_off - 1] != '\n'
			   ? memchr(c->out + c->out_off, '\n', pending(c))
			   : NULL;
	c->out_len = nl ? (size_t)(nl - c->out) + 1 : c->out_off;
	struct event ev = { .op = EVENT_RESYNC, .rev = events_last(api->cfs->events) };
	struct cluster_view none = { 0 };
	send_json(c, event_json(&ev, &none));
	c->closing = true;
	flush_client(c);
	c->dead = true;
	log_warn("api: subscriber pid %d (uid %u) does not read its events: disconnected",
		 (int)c->pid, (unsigned)c->uid);
}

/* Moves events into the client's buffer while it has room; what does not
 * fit stays in the event log, behind the client's cursor.  A client that
 * stops reading therefore costs at most API_PUMP_LIMIT here; when the log
 * has moved past its cursor (the read gives a resync while output is still
 * and we were holding events back) it is not keeping up and is cut; a
 * resync for any other reason (a reset, an old `from`) is sent in-band. */
static void pump_client(struct api *api, struct client *c, const struct cluster_view *view)
{
	struct event batch[API_EVENT_BATCH];
	for (;;) {
		if (pending(c) >= API_PUMP_LIMIT) {
			c->held_back = true; /* the log now holds events this client is owed */
			if (events_cursor_lost(api->cfs->events, &c->cursor) || pending(c) > API_OUTPUT_MAX)
				cut_client(api, c);
			return;
		}
		int n = events_read(api->cfs->events, &c->cursor, batch, API_EVENT_BATCH);
		if (n == 0)
			c->held_back = false;
		if (n <= 0)
			return; /* -ENOMEM: try again on the next wakeup */
		if (batch[0].op == EVENT_RESYNC && c->held_back) {
			cut_client(api, c);
			return;
		}
		for (int i = 0; i < n; i++) {
			if (!c->dead && wanted(c, &batch[i]))
				send_json(c, event_json(&batch[i], view));
			event_clear(&batch[i]);
		}
		if (c->dead)
			return;
	}
}

static void pump_events(struct api *api)
{
	bool any = false;
	for (struct client *c = api->clients; c; c = c->next)
		any |= c->subscribed && !c->dead && !c->closing;
	if (!any)
		return;
	struct cluster_view view;
	cluster_view_get(api->cfs, &view);
	for (struct client *c = api->clients; c; c = c->next)
		if (c->subscribed && !c->dead && !c->closing)
			pump_client(api, c, &view);
}

/* ---- requests ---- */

static void free_prefixes(struct client *c)
{
	for (size_t i = 0; i < c->n_prefixes; i++)
		free(c->prefixes[i]);
	free(c->prefixes);
	c->prefixes = NULL;
	c->n_prefixes = 0;
}

static int parse_prefixes(struct client *c, json_object *req, char **error)
{
	json_object *list;
	int r = api_member(req, "prefixes", json_type_array, &list, error);
	if (r <= 0)
		return r;
	size_t n = json_object_array_length(list);
	if (n > 256)
		return api_error(error, -EINVAL, "at most 256 prefixes");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(list, i);
		const char *s = json_object_is_type(p, json_type_string) ? json_object_get_string(p) : NULL;
		if (!s || s[0] != '/' || strlen(s) > 4096)
			return api_error(error, -EINVAL, "prefixes must be absolute paths (\"/nodes/...\")");
	}
	c->prefixes = calloc(n, sizeof(char *));
	if (!c->prefixes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		c->prefixes[i] = strdup(json_object_get_string(json_object_array_get_idx(list, i)));
		c->n_prefixes++;
		if (!c->prefixes[i])
			return -ENOMEM;
	}
	return 0;
}

static int call_subscribe(struct api *api, struct client *c, json_object *req,
			  json_object **result, char **error)
{
	json_object *from;
	if (c->subscribed)
		return api_error(error, -EALREADY, "already subscribed on this connection");
	int r = api_member(req, "from", json_type_int, &from, error);
	if (r < 0)
		return r;
	if (from && json_object_get_int64(from) < 0)
		return api_error(error, -EINVAL, "'from' must be a revision (>= 0)");
	r = parse_prefixes(c, req, error);
	if (r < 0) {
		free_prefixes(c);
		return *error ? r : api_error(error, r, "%s", strerror(-r));
	}
	c->cursor = from ? events_cursor_from(api->cfs->events, json_object_get_uint64(from))
			 : events_cursor_live(api->cfs->events);
	c->subscribed = true;
	atomic_fetch_add(&api->n_subscribers, 1);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_uint64(events_last(api->cfs->events)));
	*result = o;
	return 0;
}

static void handle_request(struct api *api, struct client *c, const char *line, size_t len)
{
	enum json_tokener_error jerr;
	json_tokener *tok = json_tokener_new_ex(64);
	json_object *req = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
	jerr = tok ? json_tokener_get_error(tok) : json_tokener_error_parse_eof;
	if (req && tok && (size_t)json_tokener_get_parse_end(tok) < len)
		jerr = json_tokener_error_parse_unexpected; /* trailing garbage */
	json_tokener_free(tok);
	if (!req || jerr != json_tokener_success || !json_object_is_type(req, json_type_object)) {
		json_object_put(req);
		send_error(c, NULL, -EINVAL, "invalid request: expected one JSON object per line");
		return;
	}
	json_object *id = NULL, *call = NULL, *result = NULL;
	_cleanup_free_ char *error = NULL;
	json_object_object_get_ex(req, "id", &id);
	int r;
	if (!json_object_object_get_ex(req, "call", &call) || !json_object_is_type(call, json_type_string)) {
		r = api_error(&error, -EINVAL, "missing 'call'");
	} else if (strcmp(json_object_get_string(call), "subscribe") == 0) {
		r = call_subscribe(api, c, req, &result, &error);
	} else {
		struct api_caller caller = { api->cfs, c->access == ACCESS_ADMIN, c->pid };
		r = api_call(&caller, json_object_get_string(call), req, &result, &error);
	}
	if (r < 0) {
		send_error(c, id, r, error);
	} else {
		json_object *o = json_object_new_object();
		if (id)
			json_object_object_add(o, "id", json_object_get(id));
		json_object_object_add(o, "result", result ? result : json_object_new_object());
		send_json(c, o);
	}
	json_object_put(req);
}

/* A request that long is not one we serve; rather than resynchronise on the
 * next newline, tell the client and close. */
static void refuse_long_line(struct client *c)
{
	send_error(c, NULL, -E2BIG, "request line longer than 1 MiB: closing");
	c->closing = true;
}

static void read_client(struct api *api, struct client *c)
{
	for (;;) {
		if (c->in_cap - c->in_len < API_READ_CHUNK) {
			size_t cap = c->in_len + API_READ_CHUNK;
			char *p = realloc(c->in, cap);
			if (!p) {
				c->dead = true;
				return;
			}
			c->in = p;
			c->in_cap = cap;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			c->dead = true;
			return;
		}
		if (n < 0)
			return;
		size_t start = 0, scanned = c->in_len;
		c->in_len += (size_t)n;
		char *nl;
		while (!c->closing && (nl = memchr(c->in + scanned, '\n', c->in_len - scanned))) {
			size_t end = (size_t)(nl - c->in);
			if (end - start > API_LINE_MAX)
				refuse_long_line(c);
			else if (end > start)
				handle_request(api, c, c->in + start, end - start);
			start = scanned = end + 1;
		}
		if (!c->closing) {
			memmove(c->in, c->in + start, c->in_len - start);
			c->in_len -= start;
			if (c->in_len > API_LINE_MAX)
				refuse_long_line(c);
		}
		if (c->closing) { /* whatever else it sent is ignored */
			c->in_len = 0;
			return;
		}
	}
}

/* ---- connections ---- */

static bool in_group_list(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *p = line + 7, *end;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);
			if (end == p)
				return false;
			if ((gid_t)g == gid)
				return true;
			p = end;
		}
	}
	return false;
}

static enum access peer_access(struct api *api, const struct ucred *cred)
{
	if (cred->uid == 0)
		return ACCESS_ADMIN;
	gid_t www = api->cfs->www_gid;
	if (cred->gid == www || in_group_list(cred->pid, www))
		return ACCESS_READ;
	return ACCESS_NONE;
}

static void refuse(int fd, const char *why)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "{\"error\":\"%s\",\"errno\":%d}\n", why, EACCES);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("api: cannot tell a refused client why: %m");
	close(fd);
}

static void accept_clients(struct api *api)
{
	for (;;) {
		int fd = accept4(api->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			close(fd);
			continue;
		}
		enum access access = peer_access(api, &cred);
		if (access == ACCESS_NONE) {
			log_info("api: refused uid %u pid %d", (unsigned)cred.uid, (int)cred.pid);
			refuse(fd, "permission denied");
			continue;
		}
		if (api->n_clients >= API_MAX_CLIENTS) {
			refuse(fd, "too many clients");
			continue;
		}
		struct client *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->uid = cred.uid;
		c->pid = cred.pid;
		c->access = access;
		c->next = api->clients;
		api->clients = c;
		api->n_clients++;
	}
}

static void free_client(struct client *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	free_prefixes(c);
	free(c);
}

static void reap_clients(struct api *api)
{
	struct client **pp = &api->clients;
	while (*pp) {
		struct client *c = *pp;
		if (c->dead) {
			*pp = c->next;
			if (c->subscribed)
				atomic_fetch_sub(&api->n_subscribers, 1);
			free_client(c);
			api->n_clients--;
		} else {
			pp = &c->next;
		}
	}
}

/* Read first, then clear: a wakeup that comes in between finds the flag
 * still set and writes nothing, but its event is moved by pump_events(),
 * which runs after this in the same round. */
static void drain_wake(struct api *api)
{
	uint64_t v;
	if (read(api->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("api: wake read: %m");
	atomic_store(&api->wake_pending, false);
}

static void *serve(void *arg)
{
	struct api *api = arg;
	struct pollfd *pfd = NULL;
	size_t pfd_cap = 0;
	while (!atomic_load(&api->stopping)) {
		size_t n = 2 + api->n_clients;
		if (n > pfd_cap) {
			struct pollfd *p = realloc(pfd, n * sizeof(*p));
			if (!p) {
				sleep(1);
				continue;
			}
			pfd = p;
			pfd_cap = n;
		}
		pfd[0] = (struct pollfd){ .fd = api->listen_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = api->wake_fd, .events = POLLIN };
		size_t i = 2;
		for (struct client *c = api->clients; c; c = c->next, i++)
			pfd[i] = (struct pollfd){ .fd = c->fd,
						  .events = (short)((c->closing ? 0 : POLLIN) |
								    (pending(c) ? POLLOUT : 0)) };
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN)
			drain_wake(api);
		i = 2;
		for (struct client *c = api->clients; c; c = c->next, i++) {
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				c->closing ? (void)(c->dead = true) : read_client(api, c);
		}
		pump_events(api);
		for (struct client *c = api->clients; c; c = c->next)
			if (!c->dead)
				flush_client(c);
		reap_clients(api);
		if (pfd[0].revents & POLLIN)
			accept_clients(api);
	}
	free(pfd);
	return NULL;
}

static void wake_thread(struct api *api)
{
	uint64_t one = 1;
	if (write(api->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("api: wake write: %m");
}

/* Called for every applied change: cheap unless someone is subscribed, and
 * one eventfd write per burst. */
static void wake(void *ctx)
{
	struct api *api = ctx;
	if (atomic_load(&api->n_subscribers) == 0 || atomic_exchange(&api->wake_pending, true))
		return;
	wake_thread(api);
}

static int listen_at(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	/* Everyone may connect; the peer's credentials decide what it may do. */
	if (chmod(path, 0666) < 0 || listen(fd, 64) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int api_start(struct cfs *cfs, const char *path, struct api **out)
{
	struct api *api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->cfs = cfs;
	api->listen_fd = api->wake_fd = -1;
	api->path = strdup(path);
	int r = api->path ? listen_at(path) : -ENOMEM;
	if (r >= 0) {
		api->listen_fd = r;
		api->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		r = api->wake_fd < 0 ? -errno : 0;
	}
	if (r == 0)
		r = -pthread_create(&api->thread, NULL, serve, api);
	if (r < 0) {
		log_error_errno(r, "cannot start the API on %s", path);
		if (api->listen_fd >= 0) {
			close(api->listen_fd);
			unlink(path);
		}
		if (api->wake_fd >= 0)
			close(api->wake_fd);
		free(api->path);
		free(api);
		return r;
	}
	events_set_wakeup(cfs->events, wake, api);
	wake(api);
	*out = api;
	return 0;
}

void api_stop(struct api *api)
{
	if (!api)
		return;
	events_set_wakeup(api->cfs->events, NULL, NULL);
	atomic_store(&api->stopping, true);
	wake_thread(api);
	pthread_join(api->thread, NULL);
	while (api->clients) {
		struct client *c = api->clients;
		api->clients = c->next;
		free_client(c);
	}
	close(api->listen_fd);
	close(api->wake_fd);
	unlink(api->path);
	free(api->path);
	free(api);
}
