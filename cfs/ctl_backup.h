/* ctl_backup.h - the backup subcommands of pvecfsctl (docs/backup.md).
 * Each takes the API socket (NULL: --socket in argv, $PVECFS_API or
 * /run/pvecfs/api.sock), the subcommand's argv (argv[0] is its name) and
 * returns the process exit status: 0 success, 1 failure (nothing changed
 * unless the message says otherwise), 2 usage error or confirmation
 * needed (--yes). */
#ifndef PVECFS_CTL_BACKUP_H
#define PVECFS_CTL_BACKUP_H

int ctl_backup_main(const char *socket, int argc, char **argv);
int ctl_verify_main(const char *socket, int argc, char **argv);
int ctl_restore_main(const char *socket, int argc, char **argv);
int ctl_export_main(const char *socket, int argc, char **argv);
int ctl_import_main(const char *socket, int argc, char **argv);

#endif
