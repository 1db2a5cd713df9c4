/* apiclient.h - a client of the pvecfs socket API, for pvecfsctl and the
 * watchers (libpvecfsclient.a).
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; api_client_error() then holds a sentence for the user (the
 * daemon's message for a refused call).  One connection is one subscription
 * at most; events that arrive while a call waits for its reply are queued
 * and returned by api_client_next_event() in order. */
#ifndef PVECFS_APICLIENT_H
#define PVECFS_APICLIENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_CLIENT_DEFAULT_SOCKET "/run/pvecfs/api.sock"

struct api_client;

struct api_event {
	uint64_t rev;
	char op[16];     /* "create" "write" "mkdir" "rmdir" "unlink" "rename" "utime" "resync" */
	bool resync;     /* op is "resync": relist everything, continue after rev */
	const char *path;      /* NULL for resync */
	const char *old_path;  /* rename only */
	const char *node;      /* originating node's name, NULL if unknown */
	uint32_t nodeid;
	int64_t time;
	json_object *raw; /* the whole {"rev":..} object */
};
void api_event_clear(struct api_event *ev);

/* Connects to `path`, or $PVECFS_API, or API_CLIENT_DEFAULT_SOCKET.  On
 * failure *out is still set (so the error text can be read) and must be
 * freed with api_client_close(). */
int api_client_connect(const char *path, struct api_client **out);
void api_client_close(struct api_client *c);
const char *api_client_error(struct api_client *c);
/* The socket, to poll() for POLLIN alongside other work. */
int api_client_fd(struct api_client *c);

/* Calls `call` with the members of `args` (may be NULL; not consumed);
 * waits up to timeout_ms (-1: forever).  On success *result is a new
 * reference (put it with json_object_put), if result is not NULL.
 * A refused call returns -errno as sent by the daemon. */
int api_client_call(struct api_client *c, const char *call, json_object *args,
		    json_object **result, int timeout_ms);

/* Subscribes to events under the given path prefixes (n == 0: everything),
 * from revision *from (NULL: only what happens from now on).  *version, if
 * not NULL, receives the daemon's current version. */
int api_client_subscribe(struct api_client *c, const char *const *prefixes, size_t n,
			 const uint64_t *from, uint64_t *version);

/* The next event: 1 and *ev filled (clear it with api_event_clear), 0 on
 * timeout, negative errno (-ECONNRESET when the daemon closed). */
int api_client_next_event(struct api_client *c, struct api_event *ev, int timeout_ms);

#endif
