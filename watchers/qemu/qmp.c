/* qmp.c - see qmp.h.
 *
 * Structure: bytes from the socket go into an input buffer; complete lines
 * are cut off it and parsed by qmp_message_parse(), a pure function the unit
 * tests drive directly.  Replies are matched to commands by "id"; events go
 * to a bounded FIFO.  Every blocking step is a poll() bounded by an absolute
 * monotonic deadline, so a hung QEMU costs the caller at most its timeout. */
#include "qmp.h"

#include <errno.h>
#include <fcntl.h>
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

/* A line longer than this is not something QEMU sends for the commands we
 * use; treat it as a broken peer instead of growing without bound. */
#define QMP_MAX_LINE (16u << 20)

struct qmp {
	int fd;
	char *in;		/* unparsed input */
	size_t in_len, in_cap;
	bool closed;		/* peer closed the connection */
	int64_t next_id;
	struct qmp_event *head, *tail;
	unsigned n_events, dropped;
	int version[3];
	char command[64];	/* the last command sent (for error texts) */
	char error[512];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_left(int64_t deadline)
{
	int64_t left = deadline - now_ms();
	return left < 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

static int set_error(struct qmp *q, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_error(struct qmp *q, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q->error, sizeof(q->error), fmt, ap);
	va_end(ap);
	return r;
}

/* ---- message parsing (no I/O) ---- */

void qmp_message_clear(struct qmp_message *msg)
{
	if (msg->root)
		json_object_put(msg->root);
	memset(msg, 0, sizeof(*msg));
	msg->id = -1;
}

static void parse_timestamp(json_object *root, struct qmp_message *msg)
{
	json_object *ts, *v;
	if (!json_object_object_get_ex(root, "timestamp", &ts) || !json_object_is_type(ts, json_type_object))
		return;
	if (json_object_object_get_ex(ts, "seconds", &v))
		msg->seconds = json_object_get_int64(v);
	if (json_object_object_get_ex(ts, "microseconds", &v))
		msg->microseconds = json_object_get_int64(v);
}

static int classify_message(json_object *root, struct qmp_message *msg)
{
	json_object *v, *id;

	if (json_object_object_get_ex(root, "id", &id) && json_object_is_type(id, json_type_int))
		msg->id = json_object_get_int64(id);

	if (json_object_object_get_ex(root, "return", &v)) {
		msg->kind = QMP_MSG_RETURN;
		msg->value = v;
		return 0;
	}
	if (json_object_object_get_ex(root, "error", &v)) {
		json_object *cls, *desc;
		if (!json_object_is_type(v, json_type_object) ||
		    !json_object_object_get_ex(v, "class", &cls) || !json_object_is_type(cls, json_type_string))
			return -EBADMSG;
		msg->kind = QMP_MSG_ERROR;
		msg->error_class = json_object_get_string(cls);
		msg->error_desc = json_object_object_get_ex(v, "desc", &desc) && json_object_is_type(desc, json_type_string)
					  ? json_object_get_string(desc)
					  : "";
		return 0;
	}
	if (json_object_object_get_ex(root, "event", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return -EBADMSG;
		msg->kind = QMP_MSG_EVENT;
		msg->event = json_object_get_string(v);
		if (json_object_object_get_ex(root, "data", &v))
			msg->value = v;
		parse_timestamp(root, msg);
		return 0;
	}
	if (json_object_object_get_ex(root, "QMP", &v) && json_object_is_type(v, json_type_object)) {
		msg->kind = QMP_MSG_GREETING;
		msg->value = v;
		return 0;
	}
	return -EBADMSG;
}

int qmp_message_parse(const char *text, struct qmp_message *msg)
{
	memset(msg, 0, sizeof(*msg));
	msg->id = -1;
	enum json_tokener_error jerr;
	json_object *root = json_tokener_parse_verbose(text, &jerr);
	if (!root)
		return -EBADMSG;
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return -EBADMSG;
	}
	msg->root = root;
	int r = classify_message(root, msg);
	if (r < 0)
		qmp_message_clear(msg);
	return r;
}

int qmp_error_class_to_errno(const char *error_class)
{
	static const struct {
		const char *cls;
		int err;
	} map[] = {
		{ "CommandNotFound", -EOPNOTSUPP },
		{ "DeviceNotFound", -ENODEV },
		{ "DeviceNotActive", -ENODEV },
		{ "KVMMissingCap", -ENXIO },
	};
	for (size_t i = 0; error_class && i < ARRAY_SIZE(map); i++)
		if (strcmp(map[i].cls, error_class) == 0)
			return map[i].err;
	return -EINVAL;
}

/* ---- event queue ---- */

void qmp_event_free(struct qmp_event *ev)
{
	if (!ev)
		return;
	if (ev->data)
		json_object_put(ev->data);
	free(ev->name);
	free(ev);
}

static int queue_event(struct qmp *q, const struct qmp_message *msg)
{
	struct qmp_event *ev = calloc(1, sizeof(*ev));
	if (!ev || !(ev->name = strdup(msg->event))) {
		free(ev);
		return -ENOMEM;
	}
	ev->data = msg->value ? json_object_get(msg->value) : NULL;
	ev->seconds = msg->seconds;
	ev->microseconds = msg->microseconds;
	if (q->tail)
		q->tail->next = ev;
	else
		q->head = ev;
	q->tail = ev;
	q->n_events++;
	while (q->n_events > QMP_EVENT_QUEUE_MAX) {
		struct qmp_event *old;
		qmp_pop_event(q, &old);
		qmp_event_free(old);
		q->dropped++;
	}
	return 0;
}

int qmp_pop_event(struct qmp *q, struct qmp_event **ev)
{
	if (!q->head) {
		*ev = NULL;
		return 0;
	}
	*ev = q->head;
	q->head = q->head->next;
	if (!q->head)
		q->tail = NULL;
	(*ev)->next = NULL;
	q->n_events--;
	return 1;
}

unsigned qmp_events_dropped(const struct qmp *q) { return q->dropped; }

static bool event_queued(const struct qmp *q, const char *name)
{
	for (const struct qmp_event *ev = q->head; ev; ev = ev->next)
		if (!name || strcmp(ev->name, name) == 0)
			return true;
	return false;
}

/* ---- socket I/O ---- */

/* Read what is available within the deadline into the input buffer.
 * Returns >0 bytes read, 0 on timeout, -ECONNRESET on EOF. */
static int read_input(struct qmp *q, int64_t deadline)
{
	if (q->closed)
		return -ECONNRESET;
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	int n = poll(&pfd, 1, ms_left(deadline));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 0;
	if (q->in_cap - q->in_len < 4096) {
		if (q->in_cap >= QMP_MAX_LINE)
			return set_error(q, -EMSGSIZE, "QMP message longer than %u bytes", QMP_MAX_LINE);
		size_t cap = q->in_cap ? q->in_cap * 2 : 8192;
		char *in = realloc(q->in, cap);
		if (!in)
			return -ENOMEM;
		q->in = in;
		q->in_cap = cap;
	}
	ssize_t got = read(q->fd, q->in + q->in_len, q->in_cap - q->in_len - 1);
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : (errno == ECONNRESET ? (q->closed = true, -ECONNRESET) : -errno);
	if (got == 0) {
		q->closed = true;
		return -ECONNRESET;
	}
	q->in_len += (size_t)got;
	return (int)got;
}

/* Cut the next complete line off the input buffer and parse it.
 * Returns 1 and *msg, 0 if no complete line is buffered, -EBADMSG. */
static int next_message(struct qmp *q, struct qmp_message *msg)
{
	for (;;) {
		char *nl = q->in_len ? memchr(q->in, '\n', q->in_len) : NULL;
		if (!nl)
			return 0;
		*nl = '\0';
		size_t used = (size_t)(nl - q->in) + 1;
		bool blank = strspn(q->in, " \t\r") == strlen(q->in);
		int r = blank ? 0 : qmp_message_parse(q->in, msg);
		if (r < 0)
			set_error(q, r, "malformed QMP message: %.200s", q->in);
		memmove(q->in, q->in + used, q->in_len - used);
		q->in_len -= used;
		if (r < 0)
			return r;
		if (!blank)
			return 1;
	}
}

/* Handle every buffered message that is not the awaited reply: queue events,
 * drop stale replies.  Stops at and returns (1) a reply whose id is want_id,
 * or a greeting when want_greeting; 0 when the buffer is drained. */
static int drain_messages(struct qmp *q, int64_t want_id, bool want_greeting, struct qmp_message *out)
{
	struct qmp_message msg;
	int r;
	while ((r = next_message(q, &msg)) > 0) {
		switch (msg.kind) {
		case QMP_MSG_EVENT:
			r = queue_event(q, &msg);
			qmp_message_clear(&msg);
			if (r < 0)
				return r;
			break;
		case QMP_MSG_GREETING:
			if (want_greeting) {
				*out = msg;
				return 1;
			}
			qmp_message_clear(&msg);
			break;
		case QMP_MSG_RETURN:
		case QMP_MSG_ERROR:
			if (want_id >= 0 && msg.id == want_id) {
				*out = msg;
				return 1;
			}
			/* A late reply to a command that already timed out. */
			qmp_message_clear(&msg);
			break;
		}
	}
	return r;
}

static int wait_message(struct qmp *q, int64_t want_id, bool want_greeting, int64_t deadline,
			struct qmp_message *out)
{
	for (;;) {
		int r = drain_messages(q, want_id, want_greeting, out);
		if (r != 0)
			return r;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		r = read_input(q, deadline);
		if (r < 0)
			return r;
	}
}

static int write_all(struct qmp *q, const char *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(q->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EPIPE)
			return q->closed = true, -ECONNRESET;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		struct pollfd pfd = { .fd = q->fd, .events = POLLOUT };
		if (poll(&pfd, 1, ms_left(deadline)) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

/* ---- public API ---- */

int qmp_fd(const struct qmp *q) { return q->fd; }
const char *qmp_last_error(const struct qmp *q) { return q->error; }

void qmp_version(const struct qmp *q, int *major, int *minor, int *micro)
{
	*major = q->version[0];
	*minor = q->version[1];
	*micro = q->version[2];
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	struct qmp_event *ev;
	while (qmp_pop_event(q, &ev))
		qmp_event_free(ev);
	if (q->fd >= 0)
		close(q->fd);
	free(q->in);
	free(q);
}

/* Write one command line; returns its id in *id. */
static int send_command(struct qmp *q, const char *command, json_object *arguments, int64_t deadline,
			int64_t *id)
{
	q->error[0] = '\0';
	snprintf(q->command, sizeof(q->command), "%s", command);
	*id = q->next_id++;
	json_object *req = json_object_new_object();
	if (!req)
		return -ENOMEM;
	json_object_object_add(req, "execute", json_object_new_string(command));
	if (arguments)
		json_object_object_add(req, "arguments", json_object_get(arguments));
	json_object_object_add(req, "id", json_object_new_int64(*id));
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	_cleanup_free_ char *line = NULL;
	if (asprintf(&line, "%s\n", text) < 0)
		line = NULL;
	json_object_put(req);
	if (!line)
		return -ENOMEM;
	int r = write_all(q, line, strlen(line), deadline);
	if (r < 0)
		return set_error(q, r, "%s: sending failed: %s", command, strerror(-r));
	return 0;
}

/* The reply msg to the last command: 0 and *ret_return, or its error. */
static int take_reply(struct qmp *q, struct qmp_message *msg, json_object **ret_return)
{
	int r = 0;
	if (msg->kind == QMP_MSG_ERROR)
		r = set_error(q, qmp_error_class_to_errno(msg->error_class), "%s: %s: %s", q->command,
			      msg->error_class, msg->error_desc);
	else if (ret_return)
		*ret_return = json_object_get(msg->value);
	qmp_message_clear(msg);
	return r;
}

static int execute_until(struct qmp *q, const char *command, json_object *arguments, int64_t deadline,
			 json_object **ret_return)
{
	if (ret_return)
		*ret_return = NULL;
	int64_t id;
	int r = send_command(q, command, arguments, deadline, &id);
	if (r < 0)
		return r;
	struct qmp_message msg;
	r = wait_message(q, id, false, deadline, &msg);
	if (r == -ETIMEDOUT)
		return set_error(q, r, "%s: no reply in time", command);
	if (r == -ECONNRESET)
		return set_error(q, r, "%s: QEMU closed the connection", command);
	if (r < 0)
		return q->error[0] ? r : set_error(q, r, "%s: %s", command, strerror(-r));
	return take_reply(q, &msg, ret_return);
}

int qmp_execute(struct qmp *q, const char *command, json_object *arguments, int timeout_ms,
		json_object **ret_return)
{
	return execute_until(q, command, arguments, now_ms() + timeout_ms, ret_return);
}

int qmp_pump(struct qmp *q, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct qmp_message none;
	for (;;) {
		int r = drain_messages(q, -1, false, &none);
		if (r < 0)
			return r;
		r = read_input(q, deadline);
		if (r < 0) {
			int d = drain_messages(q, -1, false, &none);
			return d < 0 ? d : r;
		}
		if (r == 0)
			break;
		/* Got data: drain it, then only take what is immediately there. */
		deadline = now_ms();
	}
	return (int)q->n_events;
}

int qmp_wait_event(struct qmp *q, const char *name, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct qmp_message none;
	for (;;) {
		int r = drain_messages(q, -1, false, &none);
		if (r < 0)
			return r;
		if (event_queued(q, name))
			return 1;
		if (now_ms() >= deadline)
			return 0;
		r = read_input(q, deadline);
		if (r < 0) {
			drain_messages(q, -1, false, &none);
			return event_queued(q, name) ? 1 : r;
		}
	}
}

static int connect_socket(const char *path, int64_t deadline, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (;;) {
		_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			*ret_fd = TAKE_FD(fd);
			return 0;
		}
		int r = -errno;
		if (r != -ENOENT && r != -ECONNREFUSED && r != -EAGAIN)
			return r;
		if (now_ms() >= deadline)
			return r;
		struct timespec pause = { 0, 50 * 1000000 };
		nanosleep(&pause, NULL);
	}
}

static void read_greeting_version(struct qmp *q, json_object *greeting)
{
	json_object *version, *qemu, *v;
	if (!json_object_object_get_ex(greeting, "version", &version) ||
	    !json_object_object_get_ex(version, "qemu", &qemu))
		return;
	static const char *const keys[] = { "major", "minor", "micro" };
	for (int i = 0; i < 3; i++)
		if (json_object_object_get_ex(qemu, keys[i], &v))
			q->version[i] = json_object_get_int(v);
}

static int handshake(struct qmp *q, const char *path, int64_t deadline)
{
	struct qmp_message msg;
	int r = wait_message(q, -1, true, deadline, &msg);
	if (r == -ETIMEDOUT)
		return set_error(q, r, "%s: no QMP greeting in time (QEMU hung, or another client holds the monitor)",
				 path);
	if (r < 0)
		return q->error[0] ? r : set_error(q, r, "%s: reading the QMP greeting: %s", path, strerror(-r));
	read_greeting_version(q, msg.value);
	qmp_message_clear(&msg);
	r = execute_until(q, "qmp_capabilities", NULL, deadline, NULL);
	if (r < 0) {
		char why[sizeof(q->error)];
		snprintf(why, sizeof(why), "%s", q->error);
		return set_error(q, r, "%s: %s", path, why);
	}
	return 0;
}

/* A connection on fd (taken over: closed on failure). */
static int qmp_wrap(int fd, struct qmp **ret)
{
	struct qmp *q = calloc(1, sizeof(*q));
	if (!q) {
		close(fd);
		return -ENOMEM;
	}
	q->fd = fd;
	q->next_id = 1;
	*ret = q;
	return 0;
}

int qmp_connect(const char *path, int timeout_ms, struct qmp **ret, char **errmsg)
{
	int64_t deadline = now_ms() + timeout_ms;
	*ret = NULL;
	if (errmsg)
		*errmsg = NULL;
	int fd = -1;
	int r = connect_socket(path, deadline, &fd);
	if (r < 0) {
		if (errmsg && asprintf(errmsg, "%s: cannot connect: %s", path, strerror(-r)) < 0)
			*errmsg = NULL;
		return r;
	}
	struct qmp *q;
	r = qmp_wrap(fd, &q);
	if (r < 0)
		return r;
	r = handshake(q, path, deadline);
	if (r < 0) {
		if (errmsg)
			*errmsg = strdup(q->error);
		qmp_close(q);
		return r;
	}
	*ret = q;
	return 0;
}

/* ---- non-blocking use ---- */

int qmp_open(const char *path, struct qmp **ret)
{
	*ret = NULL;
	int fd = -1;
	int r = connect_socket(path, 0, &fd);
	return r < 0 ? r : qmp_wrap(fd, ret);
}

int qmp_send(struct qmp *q, const char *command, json_object *arguments, int64_t *id)
{
	/* A command line is far smaller than the socket buffer: the write
	 * completes at once unless QEMU stopped reading for a second. */
	return send_command(q, command, arguments, now_ms() + 1000, id);
}

int qmp_receive(struct qmp *q, int64_t id, json_object **ret_return)
{
	if (ret_return)
		*ret_return = NULL;
	for (;;) {
		struct qmp_message msg;
		int r = drain_messages(q, id == QMP_ID_GREETING ? -1 : id, id == QMP_ID_GREETING, &msg);
		if (r < 0)
			return r;
		if (r > 0 && id == QMP_ID_GREETING) {
			read_greeting_version(q, msg.value);
			qmp_message_clear(&msg);
			return 1;
		}
		if (r > 0)
			return (r = take_reply(q, &msg, ret_return)) < 0 ? r : 1;
		r = read_input(q, now_ms());
		if (r == -ECONNRESET)
			return set_error(q, r, "%s: QEMU closed the connection",
					 id == QMP_ID_GREETING ? "greeting" : q->command);
		if (r <= 0)
			return r;
	}
}
