/* fsop.c - one file system call per invocation, for the tests/fs suites.
 *
 * Shell error text differs between tools and locales; the tests need the
 * errno itself.  Each command performs the named system call(s) and, on
 * failure, prints "<step> <ERRNO-NAME>" (e.g. "link EPERM") on stdout and
 * exits 1.  Success prints nothing unless the command reads something, and
 * exits 0.  Usage errors exit 2.
 *
 * Flags for open-like commands are a comma-separated list of
 * rdonly,wronly,rdwr,creat,excl,trunc,append (e.g. "wronly,creat,trunc").
 *
 * Commands that hold a file open (write-hold, hold) print "ready" on stdout
 * (flushed) once the data is written, so a test can wait for that line and
 * then look at the file from outside while the handle is still open. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static int report(const char *step)
{
	const char *name = strerrorname_np(errno);
	printf("%s %s\n", step, name ? name : "E?");
	fflush(stdout);
	return 1;
}

static int parse_flags(const char *s, int *out)
{
	static const struct {
		const char *name;
		int flag;
	} table[] = {
		{ "rdonly", O_RDONLY }, { "wronly", O_WRONLY }, { "rdwr", O_RDWR },
		{ "creat", O_CREAT },   { "excl", O_EXCL },     { "trunc", O_TRUNC },
		{ "append", O_APPEND }, { "directory", O_DIRECTORY },
	};
	int flags = 0;
	char *copy = strdup(s), *save = NULL;
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
			if (strcmp(tok, table[i].name) == 0)
				break;
		if (i == sizeof(table) / sizeof(table[0])) {
			fprintf(stderr, "fsop: unknown flag '%s'\n", tok);
			free(copy);
			return -EINVAL;
		}
		flags |= table[i].flag;
	}
	free(copy);
	*out = flags;
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int open_flags(const char *path, const char *flagstr, int *fd)
{
	int flags;
	if (parse_flags(flagstr, &flags) < 0)
		exit(2);
	*fd = open(path, flags | O_CLOEXEC, 0644);
	return *fd < 0 ? -1 : 0;
}

/* open PATH FLAGS: open and close. */
static int cmd_open(char **a)
{
	int fd;
	if (open_flags(a[0], a[1], &fd) < 0)
		return report("open");
	if (close(fd) < 0)
		return report("close");
	return 0;
}

/* write PATH FLAGS DATA: open, one write of DATA, close. */
static int cmd_write(char **a)
{
	int fd;
	if (open_flags(a[0], a[1], &fd) < 0)
		return report("open");
	if (write_all(fd, a[2], strlen(a[2])) < 0)
		return report("write");
	if (close(fd) < 0)
		return report("close");
	return 0;
}

/* write-futimens PATH FLAGS DATA SECONDS: open, write, futimens (mtime and
 * atime SECONDS) on the open descriptor, close: what tar and cp -p do. */
static int cmd_write_futimens(char **a)
{
	int fd;
	if (open_flags(a[0], a[1], &fd) < 0)
		return report("open");
	if (write_all(fd, a[2], strlen(a[2])) < 0)
		return report("write");
	struct timespec ts[2] = { { .tv_sec = (time_t)strtoll(a[3], NULL, 10) },
				  { .tv_sec = (time_t)strtoll(a[3], NULL, 10) } };
	if (futimens(fd, ts) < 0)
		return report("futimens");
	if (close(fd) < 0)
		return report("close");
	return 0;
}

/* fill PATH FLAGS SIZE: open, write SIZE bytes of 'x' in 4 KiB calls, close. */
static int cmd_fill(char **a)
{
	int fd;
	size_t size = strtoull(a[2], NULL, 10);
	char buf[4096];
	memset(buf, 'x', sizeof(buf));
	if (open_flags(a[0], a[1], &fd) < 0)
		return report("open");
	while (size > 0) {
		size_t n = size < sizeof(buf) ? size : sizeof(buf);
		if (write_all(fd, buf, n) < 0)
			return report("write");
		size -= n;
	}
	if (close(fd) < 0)
		return report("close");
	return 0;
}

/* pwrite PATH OFFSET DATA: open O_WRONLY, pwrite at OFFSET, close. */
static int cmd_pwrite(char **a)
{
	int fd = open(a[0], O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return report("open");
	size_t len = strlen(a[2]);
	if (pwrite(fd, a[2], len, (off_t)strtoll(a[1], NULL, 10)) != (ssize_t)len)
		return report("pwrite");
	if (close(fd) < 0)
		return report("close");
	return 0;
}

/* hold PATH FLAGS DATA SECONDS [fsync]: open, write, optionally fsync, print
 * "ready", sleep, close. */
static int hold(const char *path, const char *flags, const char *data, const char *secs, bool do_fsync)
{
	int fd;
	if (open_flags(path, flags, &fd) < 0)
		return report("open");
	if (write_all(fd, data, strlen(data)) < 0)
		return report("write");
	if (do_fsync && fsync(fd) < 0)
		return report("fsync");
	printf("ready\n");
	fflush(stdout);
	double s = atof(secs);
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	if (close(fd) < 0)
		return report("close");
	printf("closed\n");
	fflush(stdout);
	return 0;
}

static int cmd_write_hold(char **a) { return hold(a[0], "wronly,creat,trunc", a[1], a[2], false); }

static int cmd_hold(char **a, int n)
{
	return hold(a[0], a[1], a[2], a[3], n > 4 && strcmp(a[4], "fsync") == 0);
}

/* read PATH: print the content. */
static int cmd_read(char **a)
{
	int fd = open(a[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return report("open");
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	if (n < 0)
		return report("read");
	close(fd);
	return 0;
}

/* burst DIR N: write DIR/f0..f<N-1> (content from burst_content), print
 * each index after its close succeeded, flushed, so that a killed run leaves
 * the list of acknowledged files. */
static int cmd_burst(char **a)
{
	long n = strtol(a[1], NULL, 10);
	char path[4096], data[2048];
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%ld", a[0], i);
		size_t len = 0;
		for (int line = 0; line < 20; line++)
			len += (size_t)snprintf(data + len, sizeof(data) - len, "file %ld line %02d\n", i, line);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return report("open");
		if (write_all(fd, data, len) < 0)
			return report("write");
		if (close(fd) < 0)
			return report("close");
		printf("%ld\n", i);
		fflush(stdout);
	}
	return 0;
}

static int simple(const char *cmd, int r)
{
	return r < 0 ? report(cmd) : 0;
}

static int cmd_utime(char **a)
{
	struct timespec ts[2];
	if (strcmp(a[1], "now") == 0) {
		ts[0].tv_nsec = ts[1].tv_nsec = UTIME_NOW;
		ts[0].tv_sec = ts[1].tv_sec = 0;
	} else {
		ts[0].tv_sec = ts[1].tv_sec = (time_t)strtoll(a[1], NULL, 10);
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
	}
	return simple("utime", utimensat(AT_FDCWD, a[0], ts, 0));
}

static int cmd_ftruncate(char **a)
{
	int fd = open(a[0], O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return report("open");
	if (ftruncate(fd, (off_t)strtoll(a[1], NULL, 10)) < 0)
		return report("ftruncate");
	if (close(fd) < 0)
		return report("close");
	return 0;
}

static int cmd_stat(char **a)
{
	struct stat st;
	if (lstat(a[0], &st) < 0)
		return report("stat");
	printf("%llu %o %u %u %lld %lld\n", (unsigned long long)st.st_ino, st.st_mode, st.st_uid,
	       st.st_gid, (long long)st.st_size, (long long)st.st_mtime);
	return 0;
}

struct command {
	const char *name;
	int nargs;
	const char *usage;
};

static const struct command commands[] = {
	{ "link", 2, "A B" },
	{ "mknod", 1, "PATH (a character device 1:3)" },
	{ "mkfifo", 1, "PATH" },
	{ "symlink", 2, "TARGET PATH" },
	{ "setxattr", 3, "PATH NAME VALUE" },
	{ "getxattr", 2, "PATH NAME" },
	{ "open", 2, "PATH FLAGS" },
	{ "write", 3, "PATH FLAGS DATA" },
	{ "write-futimens", 4, "PATH FLAGS DATA SECONDS" },
	{ "fill", 3, "PATH FLAGS SIZE" },
	{ "pwrite", 3, "PATH OFFSET DATA" },
	{ "write-hold", 3, "PATH DATA SECONDS" },
	{ "hold", 4, "PATH FLAGS DATA SECONDS [fsync]" },
	{ "read", 1, "PATH" },
	{ "burst", 2, "DIR N" },
	{ "rename", 2, "A B" },
	{ "rename-noreplace", 2, "A B" },
	{ "rename-exchange", 2, "A B" },
	{ "utime", 2, "PATH SECONDS|now" },
	{ "truncate", 2, "PATH SIZE" },
	{ "ftruncate", 2, "PATH SIZE" },
	{ "chmod", 2, "PATH OCTAL-MODE" },
	{ "chown", 3, "PATH UID GID" },
	{ "mkdir", 1, "PATH" },
	{ "rmdir", 1, "PATH" },
	{ "unlink", 1, "PATH" },
	{ "stat", 1, "PATH (prints inode mode uid gid size mtime)" },
};

static void usage(void)
{
	fprintf(stderr, "usage: fsop COMMAND ARGS...\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "  %s %s\n", commands[i].name, commands[i].usage);
}

static int run(const char *cmd, char **a, int n)
{
	if (!strcmp(cmd, "link"))
		return simple(cmd, link(a[0], a[1]));
	if (!strcmp(cmd, "mknod"))
		return simple(cmd, mknod(a[0], S_IFCHR | 0600, makedev(1, 3)));
	if (!strcmp(cmd, "mkfifo"))
		return simple(cmd, mkfifo(a[0], 0600));
	if (!strcmp(cmd, "symlink"))
		return simple(cmd, symlink(a[0], a[1]));
	if (!strcmp(cmd, "setxattr"))
		return simple(cmd, setxattr(a[0], a[1], a[2], strlen(a[2]), 0));
	if (!strcmp(cmd, "getxattr")) {
		char buf[256];
		return simple(cmd, (int)getxattr(a[0], a[1], buf, sizeof(buf)));
	}
	if (!strcmp(cmd, "open"))
		return cmd_open(a);
	if (!strcmp(cmd, "write"))
		return cmd_write(a);
	if (!strcmp(cmd, "write-futimens"))
		return cmd_write_futimens(a);
	if (!strcmp(cmd, "fill"))
		return cmd_fill(a);
	if (!strcmp(cmd, "pwrite"))
		return cmd_pwrite(a);
	if (!strcmp(cmd, "write-hold"))
		return cmd_write_hold(a);
	if (!strcmp(cmd, "hold"))
		return cmd_hold(a, n);
	if (!strcmp(cmd, "read"))
		return cmd_read(a);
	if (!strcmp(cmd, "burst"))
		return cmd_burst(a);
	if (!strcmp(cmd, "rename"))
		return simple(cmd, rename(a[0], a[1]));
	if (!strcmp(cmd, "rename-noreplace"))
		return simple("rename", renameat2(AT_FDCWD, a[0], AT_FDCWD, a[1], RENAME_NOREPLACE));
	if (!strcmp(cmd, "rename-exchange"))
		return simple("rename", renameat2(AT_FDCWD, a[0], AT_FDCWD, a[1], RENAME_EXCHANGE));
	if (!strcmp(cmd, "utime"))
		return cmd_utime(a);
	if (!strcmp(cmd, "truncate"))
		return simple(cmd, truncate(a[0], (off_t)strtoll(a[1], NULL, 10)));
	if (!strcmp(cmd, "ftruncate"))
		return cmd_ftruncate(a);
	if (!strcmp(cmd, "chmod"))
		return simple(cmd, chmod(a[0], (mode_t)strtoul(a[1], NULL, 8)));
	if (!strcmp(cmd, "chown"))
		return simple(cmd, chown(a[0], (uid_t)strtol(a[1], NULL, 10), (gid_t)strtol(a[2], NULL, 10)));
	if (!strcmp(cmd, "mkdir"))
		return simple(cmd, mkdir(a[0], 0755));
	if (!strcmp(cmd, "rmdir"))
		return simple(cmd, rmdir(a[0]));
	if (!strcmp(cmd, "unlink"))
		return simple(cmd, unlink(a[0]));
	if (!strcmp(cmd, "stat"))
		return cmd_stat(a);
	usage();
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, argv[1]) == 0) {
			if (argc - 2 < commands[i].nargs) {
				fprintf(stderr, "usage: fsop %s %s\n", commands[i].name, commands[i].usage);
				return 2;
			}
			return run(argv[1], argv + 2, argc - 2);
		}
	}
	usage();
	return 2;
}
