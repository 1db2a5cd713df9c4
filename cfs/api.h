/* api.h - the Unix socket API of the daemon (<run>/api.sock).
 *
 * Line-delimited JSON: a client sends {"id":N,"call":"...",...} lines and
 * gets {"id":N,"result":{...}} or {"id":N,"error":"...","errno":E} lines;
 * a subscribed client also gets {"event":{...}} lines.  The protocol is
 * described in docs/api.md.  Access is decided once per connection by the
 * peer's credentials: uid 0 may do everything, members of the www-data group
 * may read (status, subscribe, *_get, log_read), everybody else is refused.
 *
 * One thread serves every client with poll() on non-blocking sockets; each
 * client has a bounded output buffer, and a client that does not read its
 * events is sent a resync and disconnected, so no client can hold up the
 * daemon or the other clients. */
#ifndef PVECFS_API_H
#define PVECFS_API_H

struct cfs;
struct api;

#define API_SOCKET_NAME "api.sock"
#define API_LINE_MAX (1024 * 1024)     /* longest request line */
#define API_OUTPUT_MAX (1024 * 1024)   /* per-client unsent output before a cut */

/* Creates the socket at `path` (mode 0666; a stale socket is replaced) and
 * starts the serving thread.  cfs->events, ->nodestatus, ->clusterlog must
 * exist.  0 or a negative errno. */
int api_start(struct cfs *cfs, const char *path, struct api **out);

/* Stops the thread, disconnects every client, removes the socket. */
void api_stop(struct api *api);

#endif
