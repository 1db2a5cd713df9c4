/* api_calls.h - the request/reply calls of the socket API (everything but
 * subscribe, which lives with the connection state in api.c).  Internal to
 * the API: api.c parses a request line and hands the object here. */
#ifndef PVECFS_API_CALLS_H
#define PVECFS_API_CALLS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

struct cfs;

struct api_caller {
	struct cfs *cfs;
	bool admin; /* uid 0: may change things */
	pid_t pid;  /* the peer, recorded in cluster log entries */
};

/* Runs call `name` with the request object `req`.  0 and *result (a new
 * reference), or a negative errno and *error (malloc'd text).  -ENOSYS for
 * an unknown call, -EPERM for a call the caller may not make. */
int api_call(const struct api_caller *caller, const char *name, json_object *req,
	     json_object **result, char **error);

/* Helpers shared with api.c's subscribe. */
int api_error(char **error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Optional member of type `type`: 1 present, 0 absent (or null), or an
 * error about a wrong type. */
int api_member(json_object *req, const char *name, json_type type, json_object **out, char **error);

#endif
