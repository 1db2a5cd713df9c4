/* daemon.h - the subcommands of pvecfs-qemu built on the watcher loop:
 * `run` (the daemon), `status`, `start`, `stop`.  See daemon.c. */
#ifndef PVECFS_QEMU_DAEMON_H
#define PVECFS_QEMU_DAEMON_H

int qemu_cmd_run(int argc, char **argv);
int qemu_cmd_status(int argc, char **argv);
int qemu_cmd_start(int argc, char **argv);
int qemu_cmd_stop(int argc, char **argv);

#endif
