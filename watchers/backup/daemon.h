/* daemon.h - the subcommands of pvecfs-backup built on the watcher loop and
 * the VM archives: `run` (the daemon), `run-now`, `restore-test`.  See
 * daemon.c and watchers/backup/README.md. */
#ifndef PVECFS_BACKUP_DAEMON_H
#define PVECFS_BACKUP_DAEMON_H

#include <stdbool.h>
#include <time.h>

int backup_cmd_run(int argc, char **argv);
int backup_cmd_run_now(int argc, char **argv);
int backup_cmd_restore_test(int argc, char **argv);
/* jobverify.c: the restore drill of one job. */
int backup_cmd_job_verify(int argc, char **argv);

/* Whether name is pvecfs-tree-<jobid>-YYYY_MM_DD-HH_MM_SS.pvecfs; *t gets
 * the (local) time in the name. */
bool backup_tree_archive_time(const char *name, const char *jobid, time_t *t);

#endif
