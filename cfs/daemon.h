/* daemon.h - process chores of the pvecfs daemon: the data-dir lock, the
 * mount-point checks (incl. cleaning a stale mount left by a crash), the pid
 * file and detaching from the terminal with a readiness report to the
 * parent (so `pvecfs` only returns once the mount is up, or with the error). */
#ifndef PVECFS_DAEMON_H
#define PVECFS_DAEMON_H

#include <stddef.h>

/* Takes an exclusive lock on <data>/.lock (kept for the process lifetime).
 * -EBUSY + message if another daemon holds it. Returns the fd. */
int daemon_lock_data_dir(const char *data, char *err, size_t errlen);

/* The mount point must exist, be a directory and be empty; a stale FUSE
 * mount (ENOTCONN) is lazily unmounted first. */
int daemon_check_mountpoint(const char *mount, char *err, size_t errlen);

int daemon_write_pidfile(const char *run);
void daemon_remove_pidfile(const char *run);

/* Forks; the parent waits for daemon_ready() and exits with its status.
 * Returns the fd to report readiness on (in the child). */
int daemon_detach(void);
/* Reports status (0 = running) to the waiting parent and detaches stdio. */
void daemon_ready(int fd, int status);

#endif
