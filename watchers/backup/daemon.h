/* daemon.h - the subcommands of pvecfs-backup built on the watcher loop and
 * the VM archives: `run` (the daemon), `run-now`, `restore-test`.  See
 * daemon.c and watchers/backup/README.md. */
#ifndef PVECFS_BACKUP_DAEMON_H
#define PVECFS_BACKUP_DAEMON_H

int backup_cmd_run(int argc, char **argv);
int backup_cmd_run_now(int argc, char **argv);
int backup_cmd_restore_test(int argc, char **argv);

#endif
