/* qmp.h - a small QMP (QEMU Machine Protocol) client over a unix socket.
 *
 * The watcher talks to each QEMU through its QMP socket: it confirms a start
 * (query-status), asks for a graceful stop (system_powerdown), forces one
 * (quit), and learns what the guest did from asynchronous events (SHUTDOWN,
 * POWERDOWN, STOP, RESUME, ...).
 *
 * Protocol facts the code relies on: every server message is one JSON object
 * on one line ending in "\r\n"; the first is the greeting {"QMP": {...}};
 * commands may carry an "id" that QEMU echoes in the reply, which is how a
 * late reply to a command that timed out is told apart from the current one;
 * events ({"event": ..., "data": ..., "timestamp": ...}) may arrive at any
 * time, also between a command and its reply.  The client never blocks past
 * a caller's deadline: the socket is non-blocking and every wait is a poll()
 * with the time that is left.
 *
 * Errors are negative errno values; the text of the last error (QMP error
 * class and description, or what went wrong locally) is kept in the client
 * and returned by qmp_last_error().  One struct qmp is one connection and is
 * not thread-safe. */
#ifndef PVECFS_QEMU_QMP_H
#define PVECFS_QEMU_QMP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct qmp;

/* An asynchronous QMP event, queued in arrival order. */
struct qmp_event {
	char *name;		/* "SHUTDOWN", "POWERDOWN", "STOP", ... */
	json_object *data;	/* owned; NULL when the event has no data */
	int64_t seconds;	/* QEMU's timestamp */
	int64_t microseconds;
	struct qmp_event *next;
};

void qmp_event_free(struct qmp_event *ev);

/* What one server message is (qmp_message_parse). */
enum qmp_message_kind {
	QMP_MSG_GREETING,	/* {"QMP": {"version": ..., "capabilities": [...]}} */
	QMP_MSG_RETURN,		/* {"return": X, "id": N} */
	QMP_MSG_ERROR,		/* {"error": {"class": C, "desc": D}, "id": N} */
	QMP_MSG_EVENT,		/* {"event": E, "data": {...}, "timestamp": {...}} */
};

struct qmp_message {
	enum qmp_message_kind kind;
	json_object *root;	/* owned: the whole message */
	int64_t id;		/* the "id" member if it is an integer, else -1 */
	json_object *value;	/* borrowed from root: "return" / event "data" / greeting "QMP" */
	const char *error_class; /* borrowed, QMP_MSG_ERROR only */
	const char *error_desc;	/* borrowed, QMP_MSG_ERROR only */
	const char *event;	/* borrowed, QMP_MSG_EVENT only */
	int64_t seconds, microseconds; /* event timestamp, 0 if absent */
};

/* Parse one line of server output.  Returns 0 and fills *msg (release with
 * qmp_message_clear), or -EBADMSG if the text is not JSON or not one of the
 * four kinds of messages. */
int qmp_message_parse(const char *text, struct qmp_message *msg);
void qmp_message_clear(struct qmp_message *msg);

/* The negative errno for a QMP error class: CommandNotFound -> -EOPNOTSUPP,
 * DeviceNotFound/DeviceNotActive -> -ENODEV, KVMMissingCap -> -ENXIO,
 * GenericError and anything else -> -EINVAL. */
int qmp_error_class_to_errno(const char *error_class);

/* Connect to the QMP socket at path, read the greeting and negotiate
 * capabilities, all within timeout_ms.  While the socket does not exist yet
 * or refuses connections (QEMU still starting) it retries until the deadline.
 * Returns 0 and *ret, or -ENOENT / -ECONNREFUSED (nothing listening at the
 * deadline), -ETIMEDOUT (no greeting: QEMU hung, or another client holds the
 * monitor), -EBADMSG, -ENAMETOOLONG.  If errmsg is non-NULL it receives a
 * malloc'ed explanation on failure. */
int qmp_connect(const char *path, int timeout_ms, struct qmp **ret, char **errmsg);
void qmp_close(struct qmp *q);

/* The connection's file descriptor, for a caller's own poll loop (POLLIN
 * means: call qmp_pump(q, 0)). */
int qmp_fd(const struct qmp *q);

/* QEMU's version from the greeting, e.g. 7, 2, 22. */
void qmp_version(const struct qmp *q, int *major, int *minor, int *micro);

/* Execute command with arguments (borrowed, may be NULL) and wait at most
 * timeout_ms for its reply.  Returns 0 and *ret_return (a new reference the
 * caller puts; ret_return may be NULL) or a negative errno: the mapped QMP
 * error class (qmp_last_error() says "Class: desc"), -ETIMEDOUT,
 * -ECONNRESET (QEMU closed the connection), -EIO.  Events read while waiting
 * are queued. */
int qmp_execute(struct qmp *q, const char *command, json_object *arguments, int timeout_ms,
		json_object **ret_return);

/* Read whatever the server sent within timeout_ms (0: only what is already
 * there) and queue the events.  Returns the number of events now queued, or
 * -ECONNRESET once QEMU has closed the connection (events read before that
 * stay queued). */
int qmp_pump(struct qmp *q, int timeout_ms);

/* Wait up to timeout_ms until an event named name (NULL: any) is queued.
 * Returns 1 if one is, 0 on timeout, -ECONNRESET on close. */
int qmp_wait_event(struct qmp *q, const char *name, int timeout_ms);

/* Take the oldest queued event: returns 1 and *ev (qmp_event_free it) or 0
 * if the queue is empty. */
int qmp_pop_event(struct qmp *q, struct qmp_event **ev);

/* Non-blocking use, for a caller that drives many QEMUs from one poll loop
 * (starting several VMs at once): qmp_open connects without waiting for
 * anything (-ENOENT / -ECONNREFUSED: nothing listens yet, try again later);
 * the caller then polls qmp_fd for POLLIN and calls qmp_receive, first for
 * QMP_ID_GREETING, then for each command it sent with qmp_send (the
 * handshake, qmp_capabilities, is the caller's first command).  qmp_receive
 * returns 1 when the awaited message was there (for a command: with
 * *ret_return, a new reference, or the command's error as a negative errno
 * with qmp_last_error set), 0 when it has not arrived yet, -ECONNRESET when
 * QEMU closed the connection.  Events read meanwhile are queued. */
#define QMP_ID_GREETING 0
int qmp_open(const char *path, struct qmp **ret);
int qmp_send(struct qmp *q, const char *command, json_object *arguments, int64_t *id);
int qmp_receive(struct qmp *q, int64_t id, json_object **ret_return);

/* Text of the last failure on this connection ("" if none). */
const char *qmp_last_error(const struct qmp *q);

/* At most this many events are queued; the oldest are dropped beyond it
 * (counted by qmp_events_dropped) so a caller that never polls cannot make
 * the client grow without bound. */
#define QMP_EVENT_QUEUE_MAX 256
unsigned qmp_events_dropped(const struct qmp *q);

#endif
