/* netmon.h - rtnetlink notifications about links and addresses (drift).
 *
 * The daemon reconciles when the files change, but someone can also change
 * the kernel by hand (`ip link set vmbr0 mtu 1400`, a port released, a link
 * downed, an address removed).  This module listens on a second rtnetlink
 * socket bound to RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR
 * and reports, for each notification, the name of the link it is about, so
 * that the daemon can start a pass when a link it manages changed.  The
 * socket is non-blocking; its fd goes into the watcher loop's poll set.  If
 * the kernel dropped notifications (the socket buffer overflowed) the
 * caller is told to look at everything. */
#ifndef PVECFS_NET_NETMON_H
#define PVECFS_NET_NETMON_H

#include <stdbool.h>

struct netmon;

/* Called for each notification: the link's name ("" if unknown), what
 * happened ("link", "dellink", "addr", "deladdr"). */
typedef void (*netmon_fn)(void *userdata, const char *link, const char *what);

int netmon_open(struct netmon **out);
void netmon_close(struct netmon *m);
int netmon_fd(const struct netmon *m);
/* Reads every queued notification and calls cb for each.  Returns the
 * number read, -ENOBUFS if notifications were lost (look at everything),
 * or another negative errno. */
int netmon_read(struct netmon *m, netmon_fn cb, void *userdata);

#endif
