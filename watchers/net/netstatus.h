/* netstatus.h - what the network watcher publishes about each link, and
 * how `pvecfs-net status` prints it.
 *
 * Status store keys of a node (values are JSON objects):
 *   "net"         the last pass: result (applied: the files are in effect;
 *                 rejected, failed, dry-run), error {file, line, reason} or null, actions and
 *                 changes of the last pass that changed something, restores
 *                 (hand changes undone since start), warnings ["file:line:
 *                 text"], cluster_address and its source (corosync, option,
 *                 none) with a note.
 *   "net/<link>"  one link: kind, file, line, declared {mtu, up, master,
 *                 addresses, ports} (null if no longer declared), actual
 *                 {kind, mtu, up, master, addresses} (null if absent),
 *                 in_sync, pending [what a pass would still change],
 *                 warnings [...]. */
#ifndef PVECFS_NET_NETSTATUS_H
#define PVECFS_NET_NETSTATUS_H

#include <json-c/json.h>
#include <stddef.h>

#include "netdesired.h"
#include "netlink.h"
#include "reconcile.h"

/* The status of link `name`: d is its declaration (NULL if none), have the
 * kernel now, pending the plan from `have` (NULL: unknown). */
json_object *netstatus_link(const struct nd_state *want, const struct nd_link *d, const char *name,
			    const struct nl_snapshot *have, const struct rc_plan *pending);

/* A JSON list of warning texts bounded in size (a status value has a
 * limit): past the budget, the rest is counted and the list ends with
 * "N more warnings not shown (see the log)". */
struct netstatus_warnings {
	json_object *array;
	size_t bytes, dropped;
};
void netstatus_warnings_init(struct netstatus_warnings *list);
void netstatus_warnings_add(struct netstatus_warnings *list, const char *text);
json_object *netstatus_warnings_finish(struct netstatus_warnings *list); /* the array */

/* "file:line: text" of a warning. */
void netstatus_warning_text(const struct nd_warning *w, char *buf, size_t size);

/* One human line (or a few) for a status entry of `node`. */
void netstatus_print(const char *node, const char *key, const char *value);

#endif
