/* test-qmp.c - unit tests of the QMP client (watchers/qemu/qmp.c).
 *
 * Message parsing is tested as a pure function; the client's behaviour on a
 * connection (greeting, id matching, events between a command and its reply,
 * late replies, errors, timeouts, a peer that closes) against a scripted fake
 * QMP server in a child process, so each case is deterministic.  The real
 * QEMU is exercised by tests/qemu/suite-qemu. */
#include "testlib.h"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "qmp.h"

static void test_parse_greeting(void)
{
	struct qmp_message m;
	CHECK_INT(qmp_message_parse("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "
				    "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}",
				    &m),
		  0);
	CHECK_INT(m.kind, QMP_MSG_GREETING);
	CHECK(m.value != NULL);
	qmp_message_clear(&m);
}

static void test_parse_return_with_id(void)
{
	struct qmp_message m;
	CHECK_INT(qmp_message_parse("{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": 42}", &m), 0);
	CHECK_INT(m.kind, QMP_MSG_RETURN);
	CHECK_INT(m.id, 42);
	json_object *s;
	CHECK(json_object_object_get_ex(m.value, "status", &s));
	CHECK_STR(json_object_get_string(s), "running");
	qmp_message_clear(&m);
}

static void test_parse_return_without_id_has_id_minus_one(void)
{
	struct qmp_message m;
	CHECK_INT(qmp_message_parse("{\"return\": {}}", &m), 0);
	CHECK_INT(m.kind, QMP_MSG_RETURN);
	CHECK_INT(m.id, -1);
	qmp_message_clear(&m);
	/* A string id (legal QMP, never sent by us) is not one of ours. */
	CHECK_INT(qmp_message_parse("{\"return\": {}, \"id\": \"x\"}", &m), 0);
	CHECK_INT(m.id, -1);
	qmp_message_clear(&m);
}

static void test_parse_error(void)
{
	struct qmp_message m;
	CHECK_INT(qmp_message_parse("{\"id\": 3, \"error\": {\"class\": \"CommandNotFound\", \"desc\": "
				    "\"The command nope has not been found\"}}",
				    &m),
		  0);
	CHECK_INT(m.kind, QMP_MSG_ERROR);
	CHECK_INT(m.id, 3);
	CHECK_STR(m.error_class, "CommandNotFound");
	CHECK_STR(m.error_desc, "The command nope has not been found");
	qmp_message_clear(&m);
}

static void test_parse_event(void)
{
	struct qmp_message m;
	CHECK_INT(qmp_message_parse("{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 123456}, "
				    "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}",
				    &m),
		  0);
	CHECK_INT(m.kind, QMP_MSG_EVENT);
	CHECK_STR(m.event, "SHUTDOWN");
	CHECK_INT(m.seconds, 1700000000);
	CHECK_INT(m.microseconds, 123456);
	json_object *reason;
	CHECK(json_object_object_get_ex(m.value, "reason", &reason));
	CHECK_STR(json_object_get_string(reason), "guest-shutdown");
	qmp_message_clear(&m);
	/* Events without data are fine (STOP, RESUME, POWERDOWN). */
	CHECK_INT(qmp_message_parse("{\"event\": \"POWERDOWN\"}", &m), 0);
	CHECK_STR(m.event, "POWERDOWN");
	CHECK(m.value == NULL);
	qmp_message_clear(&m);
}

static void test_parse_rejects_malformed(void)
{
	static const char *const bad[] = {
		"", "not json", "[1,2]", "42", "{\"what\": 1}", "{\"error\": \"x\"}",
		"{\"error\": {\"desc\": \"no class\"}}", "{\"event\": 5}", "{\"QMP\": 1}", "{\"return\": {}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct qmp_message m;
		if (qmp_message_parse(bad[i], &m) != -EBADMSG) {
			fprintf(stderr, "  accepted: %s\n", bad[i]);
			CHECK(0);
		}
		CHECK(m.root == NULL);
	}
}

static void test_error_class_mapping(void)
{
	CHECK_INT(qmp_error_class_to_errno("CommandNotFound"), -EOPNOTSUPP);
	CHECK_INT(qmp_error_class_to_errno("DeviceNotFound"), -ENODEV);
	CHECK_INT(qmp_error_class_to_errno("GenericError"), -EINVAL);
	CHECK_INT(qmp_error_class_to_errno("SomethingNew"), -EINVAL);
	CHECK_INT(qmp_error_class_to_errno(NULL), -EINVAL);
}

/* ---- a scripted fake QMP server ---- */

static char sock_path[108];

static void send_text(int fd, const char *s)
{
	size_t len = strlen(s);
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n <= 0)
			_exit(3);
		s += n;
		len -= (size_t)n;
	}
}

static void send_reply(int fd, long id, const char *body)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "{%s, \"id\": %ld}\r\n", body, id);
	send_text(fd, buf);
}

/* Reply to each command by name: see the cases below. */
static void serve_one_client(int cfd, bool send_greeting)
{
	FILE *in = fdopen(dup(cfd), "r");
	if (send_greeting)
		send_text(cfd, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 3, \"minor\": 2, \"major\": 9}, "
			       "\"package\": \"\"}, \"capabilities\": []}}\r\n");
	char line[4096];
	while (fgets(line, sizeof(line), in)) {
		json_object *req = json_tokener_parse(line), *v;
		if (!req)
			_exit(4);
		long id = json_object_object_get_ex(req, "id", &v) ? json_object_get_int64(v) : -1;
		const char *cmd = json_object_object_get_ex(req, "execute", &v) ? json_object_get_string(v) : "";
		if (strcmp(cmd, "qmp_capabilities") == 0) {
			send_reply(cfd, id, "\"return\": {}");
		} else if (strcmp(cmd, "query-status") == 0) {
			/* An event and a stale reply before the real one, the real
			 * one split across two writes. */
			send_text(cfd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n");
			send_text(cfd, "{\"return\": {\"status\": \"paused\"}, \"id\": 99999}\r\n");
			char buf[256];
			snprintf(buf, sizeof(buf), "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %ld}\r\n",
				 id);
			size_t half = strlen(buf) / 2;
			char first[256];
			memcpy(first, buf, half);
			first[half] = '\0';
			send_text(cfd, first);
			usleep(50000);
			send_text(cfd, buf + half);
		} else if (strcmp(cmd, "echo") == 0) {
			json_object *args;
			char body[300];
			snprintf(body, sizeof(body), "\"return\": %s",
				 json_object_object_get_ex(req, "arguments", &args)
					 ? json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN)
					 : "null");
			send_reply(cfd, id, body);
		} else if (strcmp(cmd, "hang") == 0) {
			/* no reply */
		} else if (strcmp(cmd, "events") == 0) {
			send_reply(cfd, id, "\"return\": {}");
			usleep(100000);
			send_text(cfd, "{\"event\": \"POWERDOWN\"}\r\n{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true}}\r\n");
		} else if (strcmp(cmd, "garbage") == 0) {
			send_text(cfd, "this is not json\r\n");
		} else if (strcmp(cmd, "quit") == 0) {
			send_reply(cfd, id, "\"return\": {}");
			send_text(cfd, "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}}\r\n");
			_exit(0);
		} else {
			char body[300];
			snprintf(body, sizeof(body),
				 "\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command %s has not been found\"}",
				 cmd);
			send_reply(cfd, id, body);
		}
		json_object_put(req);
	}
	_exit(0);
}

/* Start a fake server that accepts one client; returns its pid. */
static pid_t start_fake_server(bool send_greeting)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/test-qmp.%d.sock", (int)getpid());
	unlink(sock_path);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, sock_path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		alarm(30);
		int cfd = accept(lfd, NULL, NULL);
		if (cfd < 0)
			_exit(2);
		serve_one_client(cfd, send_greeting);
	}
	close(lfd);
	return pid;
}

static void stop_fake_server(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(sock_path);
}

static void test_connect_negotiates_and_reads_version(void)
{
	pid_t pid = start_fake_server(true);
	CHECK(pid > 0);
	struct qmp *q;
	int r = qmp_connect(sock_path, 5000, &q, NULL);
	if (r < 0)
		stop_fake_server(pid);
	CHECK_INT(r, 0);
	int a, b, c;
	qmp_version(q, &a, &b, &c);
	qmp_close(q);
	stop_fake_server(pid);
	CHECK_INT(a, 9);
	CHECK_INT(b, 2);
	CHECK_INT(c, 3);
}

static void test_reply_matched_by_id_and_events_queued(void)
{
	pid_t pid = start_fake_server(true);
	struct qmp *q;
	CHECK_INT(qmp_connect(sock_path, 5000, &q, NULL), 0);
	json_object *ret = NULL;
	int r = qmp_execute(q, "query-status", NULL, 5000, &ret);
	json_object *st = NULL;
	bool ok = r == 0 && json_object_object_get_ex(ret, "status", &st) &&
		  strcmp(json_object_get_string(st), "running") == 0;
	json_object_put(ret);
	struct qmp_event *ev = NULL;
	int popped = qmp_pop_event(q, &ev);
	bool stop_seen = popped == 1 && strcmp(ev->name, "STOP") == 0 && ev->seconds == 1 && ev->microseconds == 2;
	qmp_event_free(ev);
	int more = qmp_pop_event(q, &ev);
	qmp_close(q);
	stop_fake_server(pid);
	CHECK_INT(r, 0);
	CHECK(ok);
	CHECK(stop_seen);
	CHECK_INT(more, 0);
}

static void test_arguments_are_sent(void)
{
	pid_t pid = start_fake_server(true);
	struct qmp *q;
	CHECK_INT(qmp_connect(sock_path, 5000, &q, NULL), 0);
	json_object *args = json_object_new_object(), *ret = NULL, *v = NULL;
	json_object_object_add(args, "device", json_object_new_string("net0"));
	int r = qmp_execute(q, "echo", args, 5000, &ret);
	bool ok = r == 0 && json_object_object_get_ex(ret, "device", &v) &&
		  strcmp(json_object_get_string(v), "net0") == 0;
	json_object_put(args);
	json_object_put(ret);
	qmp_close(q);
	stop_fake_server(pid);
	CHECK_INT(r, 0);
	CHECK(ok);
}

static void test_error_reply_gives_errno_and_message(void)
{
	pid_t pid = start_fake_server(true);
	struct qmp *q;
	CHECK_INT(qmp_connect(sock_path, 5000, &q, NULL), 0);
	json_object *ret = (json_object *)1;
	int r = qmp_execute(q, "nope", NULL, 5000, &ret);
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", qmp_last_error(q));
	/* The connection stays usable after an error. */
	int r2 = qmp_execute(q, "echo", NULL, 5000, NULL);
	qmp_close(q);
	stop_fake_server(pid);
	CHECK_INT(r, -EOPNOTSUPP);
	CHECK(ret == NULL);
	CHECK_STR(msg, "nope: CommandNotFound: The command nope has not been found");
	CHECK_INT(r2, 0);
}

static void test_timeout_then_late_reply_is_not_mistaken(void)
{
	pid_t pid = start_fake_server(true);
	struct qmp *q;
	CHECK_INT(qmp_connect(sock_path, 5000, &q, NULL), 0);
	int r = qmp_execute(q, "hang", NULL, 200, NULL);
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", qmp_last_error(q));
	/* query-status's fake sends a stale reply with another id first. */
	json_object *ret = NULL, *st = NULL;
	int r2 = qmp_execute(q, "query-status", NULL, 5000, &ret);
	bool running = r2 == 0 && json_object_object_get_ex(ret, "status", &st) &&
		       strcmp(json_object_get_string(st), "running") == 0;
	json_object_put(ret);
	qmp_close(q);
	stop_fake_server(pid);
	CHECK_INT(r, -ETIMEDOUT);
	CHECK_STR(msg, "hang: no reply in time");
	CHECK_INT(r2, 0);
	CHECK(running);
}

static void test_wait_event_after_reply(void)
{
	pid_t pid = start_fake_server(true);
	struct qmp *q;
	CHECK_INT(qmp_connect(sock_path, 5000, &q, NULL), 0);
	int r = qmp_execute(q, "events", NULL, 5000, NULL);
	int none = qmp_wait_event(q, "RESET", 0);
	int got = qmp_wait_event(q, "SHUTDOWN", 5000);
	struct qmp_event *a = NULL, *b = NULL;
	qmp_pop_event(q, &a);
	qmp_pop_event(q, &b);
	bool order = a && b && strcmp(a->name, "POWERDOWN") == 0 && strcmp(b->name, "SHUTDOWN") == 0 && b->data;
	qmp_event_free(a);
	qmp_event_free(b);
	qmp_close(q);
	stop_fake_server(pid);
	CHECK_INT(r, 0);
	CHECK_INT(none, 0);
	CHECK_INT(got, 1);
	CHECK(order);
}

static void test_quit_then_close_is_connreset_with_events_kept(void)
{
	pid_t pid = start_fake_server(true);
	struct qmp *q;
	CHECK_INT(qmp_connect(sock_path, 5000, &q, NULL), 0);
	int r = qmp_execute(q, "quit", NULL, 5000, NULL);
	int p = qmp_pump(q, 5000);
	int p2 = qmp_pump(q, 5000);
	int later = qmp_execute(q, "echo", NULL, 1000, NULL);
	struct qmp_event *ev = NULL;
	qmp_pop_event(q, &ev);
	bool shutdown = ev && strcmp(ev->name, "SHUTDOWN") == 0;
	qmp_event_free(ev);
	qmp_close(q);
	stop_fake_server(pid);
	CHECK_INT(r, 0);
	CHECK(p == 1 || p == -ECONNRESET);
	CHECK_INT(p2, -ECONNRESET);
	CHECK_INT(later, -ECONNRESET);
	CHECK(shutdown);
}

static void test_malformed_message_is_ebadmsg(void)
{
	pid_t pid = start_fake_server(true);
	struct qmp *q;
	CHECK_INT(qmp_connect(sock_path, 5000, &q, NULL), 0);
	int r = qmp_execute(q, "garbage", NULL, 5000, NULL);
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", qmp_last_error(q));
	qmp_close(q);
	stop_fake_server(pid);
	CHECK_INT(r, -EBADMSG);
	CHECK(strstr(msg, "malformed QMP message: this is not json") != NULL);
}

static void test_no_greeting_times_out(void)
{
	pid_t pid = start_fake_server(false);
	struct qmp *q = (struct qmp *)1;
	char *err = NULL;
	int r = qmp_connect(sock_path, 300, &q, &err);
	stop_fake_server(pid);
	bool said = err && strstr(err, "no QMP greeting");
	free(err);
	CHECK_INT(r, -ETIMEDOUT);
	CHECK(q == NULL);
	CHECK(said);
}

static void test_connect_to_missing_socket_fails_at_deadline(void)
{
	struct qmp *q;
	char *err = NULL;
	int r = qmp_connect("/tmp/test-qmp.does-not-exist.sock", 150, &q, &err);
	bool said = err && strstr(err, "cannot connect");
	free(err);
	CHECK_INT(r, -ENOENT);
	CHECK(said);
	char longpath[300];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	CHECK_INT(qmp_connect(longpath, 0, &q, NULL), -ENAMETOOLONG);
}

static const struct test tests[] = {
	TEST(test_parse_greeting),
	TEST(test_parse_return_with_id),
	TEST(test_parse_return_without_id_has_id_minus_one),
	TEST(test_parse_error),
	TEST(test_parse_event),
	TEST(test_parse_rejects_malformed),
	TEST(test_error_class_mapping),
	TEST(test_connect_negotiates_and_reads_version),
	TEST(test_reply_matched_by_id_and_events_queued),
	TEST(test_arguments_are_sent),
	TEST(test_error_reply_gives_errno_and_message),
	TEST(test_timeout_then_late_reply_is_not_mistaken),
	TEST(test_wait_event_after_reply),
	TEST(test_quit_then_close_is_connreset_with_events_kept),
	TEST(test_malformed_message_is_ebadmsg),
	TEST(test_no_greeting_times_out),
	TEST(test_connect_to_missing_socket_fails_at_deadline),
};

TEST_MAIN(tests)
