/* daemon.h - `pvecfs-net run` (the network watcher daemon on the shared
 * watcher loop) and `pvecfs-net status`.  See daemon.c. */
#ifndef PVECFS_NET_DAEMON_H
#define PVECFS_NET_DAEMON_H

int net_cmd_run(int argc, char **argv);
int net_cmd_status(int argc, char **argv);

#endif
