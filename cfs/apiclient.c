/* apiclient.c - see apiclient.h.
 *
 * The connection is a blocking stream socket used with poll() for timeouts;
 * received bytes are split into lines, each parsed as one JSON object.
 * Replies are matched by id; event lines met on the way are queued. */
#include "apiclient.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

#define CLIENT_LINE_MAX (16 * 1024 * 1024)

struct queued_event {
	struct queued_event *next;
	json_object *event;
};

struct api_client {
	int fd;
	char error[512];
	char *buf;
	size_t len, cap;
	int64_t next_id;
	struct queued_event *head, *tail;
};

static int set_error(struct api_client *c, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int set_error(struct api_client *c, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return r;
}

const char *api_client_error(struct api_client *c)
{
	return c ? c->error : "out of memory";
}

int api_client_fd(struct api_client *c)
{
	return c->fd;
}

int api_client_connect(const char *path, struct api_client **out)
{
	struct api_client *c = calloc(1, sizeof(*c));
	*out = c;
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->next_id = 1;
	if (!path)
		path = getenv("PVECFS_API");
	if (!path || !*path)
		path = API_CLIENT_DEFAULT_SOCKET;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return set_error(c, -ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(addr.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return set_error(c, -errno, "socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return set_error(c, -errno, "cannot connect to %s: %s", path, strerror(errno));
	return 0;
}

void api_client_close(struct api_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	while (c->head) {
		struct queued_event *q = c->head;
		c->head = q->next;
		json_object_put(q->event);
		free(q);
	}
	free(c->buf);
	free(c);
}

void api_event_clear(struct api_event *ev)
{
	json_object_put(ev->raw);
	memset(ev, 0, sizeof(*ev));
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(struct api_client *c, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return set_error(c, -errno, "cannot send to pvecfs: %s", strerror(errno));
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Takes one complete line out of buf, parsed: 1, or 0 if none yet. */
static int take_line(struct api_client *c, json_object **out)
{
	char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
	if (!nl)
		return 0;
	*nl = 0;
	json_object *o = json_tokener_parse(c->buf);
	size_t used = (size_t)(nl - c->buf) + 1;
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return set_error(c, -EBADMSG, "pvecfs sent a malformed line");
	}
	*out = o;
	return 1;
}

/* Reads the next line, waiting until the deadline (-1: none). */
static int read_line(struct api_client *c, json_object **out, int64_t deadline)
{
	for (;;) {
		int r = take_line(c, out);
		if (r != 0)
			return r;
		int timeout = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			timeout = left > 0 ? (int)left : 0;
		}
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		r = poll(&p, 1, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return set_error(c, -errno, "poll: %s", strerror(errno));
		if (r == 0)
			return 0;
		if (c->cap - c->len < 65536) {
			if (c->cap > CLIENT_LINE_MAX)
				return set_error(c, -EBADMSG, "pvecfs sent a line that is too long");
			char *b = realloc(c->buf, c->cap + 65536);
			if (!b)
				return set_error(c, -ENOMEM, "out of memory");
			c->buf = b;
			c->cap += 65536;
		}
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return set_error(c, -errno, "cannot read from pvecfs: %s", strerror(errno));
		if (n == 0)
			return set_error(c, -ECONNRESET, "pvecfs closed the connection");
		c->len += (size_t)n;
	}
}

static void queue_event(struct api_client *c, json_object *event)
{
	struct queued_event *q = malloc(sizeof(*q));
	if (!q) {
		json_object_put(event);
		return;
	}
	q->next = NULL;
	q->event = event;
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
}

/* A line without "event" and without a matching id is an unsolicited
 * error (e.g. the refusal sent right after connecting). */
static int reply_error(struct api_client *c, json_object *line)
{
	json_object *err, *no;
	if (!json_object_object_get_ex(line, "error", &err))
		return 0;
	int e = json_object_object_get_ex(line, "errno", &no) ? json_object_get_int(no) : EIO;
	return set_error(c, e > 0 ? -e : -EIO, "%s", json_object_get_string(err));
}

/* The daemon closed before it took our request: it may have said why
 * (a refused connection gets one error line). */
static int refusal(struct api_client *c, int r)
{
	json_object *o = NULL;
	if (read_line(c, &o, now_ms() + 1000) > 0) {
		int e = reply_error(c, o);
		json_object_put(o);
		if (e < 0)
			return e;
	}
	return set_error(c, r, "pvecfs closed the connection");
}

int api_client_call(struct api_client *c, const char *call, json_object *args,
		    json_object **result, int timeout_ms)
{
	if (result)
		*result = NULL;
	if (c->fd < 0)
		return set_error(c, -ENOTCONN, "not connected");
	int64_t id = c->next_id++;
	json_object *req = json_object_new_object();
	if (args) {
		json_object_object_foreach(args, key, value)
			json_object_object_add(req, key, json_object_get(value));
	}
	json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "call", json_object_new_string(call));
	size_t len;
	const char *s = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
	_cleanup_free_ char *line = malloc(len + 1);
	if (!line) {
		json_object_put(req);
		return set_error(c, -ENOMEM, "out of memory");
	}
	memcpy(line, s, len);
	line[len] = '\n';
	json_object_put(req);
	int r = send_all(c, line, len + 1);
	if (r == -EPIPE || r == -ECONNRESET)
		return refusal(c, r);
	if (r < 0)
		return r;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		json_object *o = NULL, *v;
		r = read_line(c, &o, deadline);
		if (r <= 0) {
			if (r == 0)
				return set_error(c, -ETIMEDOUT, "no reply from pvecfs to '%s'", call);
			return r;
		}
		if (json_object_object_get_ex(o, "event", &v)) {
			queue_event(c, json_object_get(v));
			json_object_put(o);
			continue;
		}
		json_object *idv;
		bool ours = json_object_object_get_ex(o, "id", &idv) && json_object_get_int64(idv) == id;
		if (!ours && !json_object_object_get_ex(o, "id", &idv)) {
			r = reply_error(c, o);
			json_object_put(o);
			if (r < 0)
				return r;
			continue;
		}
		if (!ours) {
			json_object_put(o);
			continue;
		}
		r = reply_error(c, o);
		if (r == 0 && result && json_object_object_get_ex(o, "result", &v))
			*result = json_object_get(v);
		json_object_put(o);
		return r;
	}
}

int api_client_subscribe(struct api_client *c, const char *const *prefixes, size_t n,
			 const uint64_t *from, uint64_t *version)
{
	json_object *args = json_object_new_object();
	json_object *list = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, json_object_new_string(prefixes[i]));
	json_object_object_add(args, "prefixes", list);
	if (from)
		json_object_object_add(args, "from", json_object_new_uint64(*from));
	json_object *result = NULL, *v;
	int r = api_client_call(c, "subscribe", args, &result, 30000);
	json_object_put(args);
	if (r == 0 && version)
		*version = json_object_object_get_ex(result, "version", &v) ? json_object_get_uint64(v) : 0;
	json_object_put(result);
	return r;
}

static const char *string_member(json_object *o, const char *name)
{
	json_object *v;
	return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static int64_t int_member(json_object *o, const char *name)
{
	json_object *v;
	return json_object_object_get_ex(o, name, &v) ? json_object_get_int64(v) : 0;
}

static void fill_event(struct api_event *ev, json_object *o)
{
	memset(ev, 0, sizeof(*ev));
	ev->raw = o;
	json_object *v;
	ev->rev = json_object_object_get_ex(o, "rev", &v) ? json_object_get_uint64(v) : 0;
	snprintf(ev->op, sizeof(ev->op), "%s", string_member(o, "op") ? string_member(o, "op") : "");
	ev->resync = strcmp(ev->op, "resync") == 0;
	/* The strings belong to raw and live as long as it does. */
	ev->path = string_member(o, "path");
	ev->old_path = string_member(o, "old_path");
	ev->node = string_member(o, "node");
	ev->nodeid = (uint32_t)int_member(o, "nodeid");
	ev->time = int_member(o, "time");
}

int api_client_next_event(struct api_client *c, struct api_event *ev, int timeout_ms)
{
	if (c->head) {
		struct queued_event *q = c->head;
		c->head = q->next;
		if (!c->head)
			c->tail = NULL;
		fill_event(ev, q->event);
		free(q);
		return 1;
	}
	if (c->fd < 0)
		return set_error(c, -ENOTCONN, "not connected");
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		json_object *o = NULL, *v;
		int r = read_line(c, &o, deadline);
		if (r <= 0)
			return r;
		if (json_object_object_get_ex(o, "event", &v)) {
			fill_event(ev, json_object_get(v));
			json_object_put(o);
			return 1;
		}
		r = reply_error(c, o);
		json_object_put(o);
		if (r < 0)
			return r;
	}
}
