/* daemon.c - see daemon.h. */
#include "daemon.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

int daemon_lock_data_dir(const char *data, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/.lock", data);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0)
			pid[strcspn(pid, "\n")] = 0;
		snprintf(err, errlen, "data directory %s is in use by another pvecfs%s%s%s", data,
			 n > 0 ? " (pid " : "", n > 0 ? pid : "", n > 0 ? ")" : "");
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) < 0)
		log_warn("cannot write pid to %s: %m", path);
	return fd;
}

static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *e;
	int empty = 1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

/* Whether something is mounted on path (from mountinfo: a stat of a FUSE
 * mount is answered from the kernel's cache even when its daemon is dead). */
static bool is_mount_point(const char *path)
{
	_cleanup_free_ char *real = realpath(path, NULL);
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		char mnt[4096];
		/* id parent major:minor root mount-point ... */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
		    (strcmp(mnt, path) == 0 || (real && strcmp(mnt, real) == 0)))
			found = true;
	}
	return found;
}

int daemon_check_mountpoint(const char *mount, char *err, size_t errlen)
{
	struct stat st;
	struct statfs sfs;
	if (is_mount_point(mount)) {
		if (statfs(mount, &sfs) == 0) {
			snprintf(err, errlen, "%s is already a mount point (is another pvecfs running?)", mount);
			return -EBUSY;
		}
		/* A crashed daemon left its mount behind. */
		log_warn("cleaning stale mount on %s left by a previous pvecfs (%s)", mount, strerror(errno));
		if (umount2(mount, MNT_DETACH) < 0) {
			snprintf(err, errlen, "stale mount on %s cannot be removed: %s", mount, strerror(errno));
			return -errno;
		}
	}
	if (stat(mount, &st) < 0) {
		int e = errno;
		snprintf(err, errlen, "mount point %s: %s", mount,
			 e == ENOENT ? "does not exist (create it first)" : strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "mount point %s is not a directory", mount);
		return -ENOTDIR;
	}
	int r = dir_is_empty(mount);
	if (r < 0) {
		snprintf(err, errlen, "mount point %s: %s", mount, strerror(-r));
		return r;
	}
	if (r == 0) {
		snprintf(err, errlen, "mount point %s is not empty (is another pvecfs mounted there?)", mount);
		return -ENOTEMPTY;
	}
	return 0;
}

int daemon_write_pidfile(const char *run)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/pvecfs.pid", run);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	_cleanup_fclose_ FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	if (fflush(f) != 0)
		return -errno;
	if (rename(tmp, path) < 0)
		return -errno;
	return 0;
}

void daemon_remove_pidfile(const char *run)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/pvecfs.pid", run);
	unlink(path);
}

int daemon_detach(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		char status = 1;
		if (read(p[0], &status, 1) != 1)
			status = 1; /* the child died before reporting */
		_exit(status);
	}
	close(p[0]);
	setsid();
	return p[1];
}

void daemon_ready(int fd, int status)
{
	if (fd < 0)
		return;
	if (status == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			if (null > STDERR_FILENO)
				close(null);
		}
	}
	char c = (char)status;
	if (write(fd, &c, 1) < 0) {
		/* the parent is gone: nothing to report to */
	}
	close(fd);
}
