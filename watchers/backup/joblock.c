/* joblock.c - see joblock.h.  Plain POSIX calls on the mount: the rules
 * (who wins a mkdir, when a lock has expired, who may renew) are pvecfs's
 * (cfs/locks.c, cfs/fs.c); this file only follows them.  The renewer is a
 * thread because a backup run blocks the watcher loop for its whole length
 * (QMP waits, copies, a child pvecfsctl), and the renewal must not depend on
 * any of them returning in time. */
#include "joblock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

#define DONE_NAME "done"
#define TAKE_TRIES 3

static int lock_path(const char *root, const char *name, const char *sub, char **out)
{
	int n = sub ? asprintf(out, "%s/priv/lock/%s/%s", root, name, sub)
		    : asprintf(out, "%s/priv/lock/%s", root, name);
	return n < 0 ? -ENOMEM : 0;
}

static bool is_done(const char *root, const char *name)
{
	_cleanup_free_ char *done = NULL;
	struct stat st;
	return lock_path(root, name, DONE_NAME, &done) == 0 && stat(done, &st) == 0;
}

/* utime(path, 0, 0): 0 removed, -EBUSY not expired, -ENOTEMPTY done. */
static int ask_removal(const char *path)
{
	const struct timespec zero[2] = { { 0, 0 }, { 0, 0 } };
	return utimensat(AT_FDCWD, path, zero, 0) < 0 ? -errno : 0;
}

int joblock_take(const char *root, const char *name, enum joblock_outcome *outcome)
{
	_cleanup_free_ char *path = NULL;
	int r = lock_path(root, name, NULL, &path);
	if (r < 0)
		return r;
	bool removed = false;
	for (int i = 0; i < TAKE_TRIES; i++) {
		if (mkdir(path, 0700) == 0) {
			*outcome = removed ? JOBLOCK_TAKEN_OVER : JOBLOCK_TAKEN;
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
		if (is_done(root, name)) {
			*outcome = JOBLOCK_DONE;
			return 0;
		}
		r = ask_removal(path);
		if (r == -EBUSY) {
			*outcome = JOBLOCK_HELD;
			return 0;
		}
		if (r == -ENOTEMPTY) { /* marked done since we looked */
			*outcome = JOBLOCK_DONE;
			return 0;
		}
		if (r == 0)
			removed = true;
		else if (r != -ENOENT) /* ENOENT: released meanwhile: try again */
			return r;
	}
	/* Someone else keeps winning the mkdir right after each removal. */
	*outcome = JOBLOCK_HELD;
	return 0;
}

int joblock_mark_done(const char *root, const char *name)
{
	_cleanup_free_ char *done = NULL;
	int r = lock_path(root, name, DONE_NAME, &done);
	if (r < 0)
		return r;
	return mkdir(done, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

int joblock_remove(const char *root, const char *name)
{
	_cleanup_free_ char *path = NULL, *done = NULL;
	int r;
	if ((r = lock_path(root, name, NULL, &path)) < 0 || (r = lock_path(root, name, DONE_NAME, &done)) < 0)
		return r;
	if (is_done(root, name)) {
		/* The run ended: nobody holds it any more. */
		if (rmdir(done) < 0 && errno != ENOENT)
			return -errno;
		return rmdir(path) < 0 && errno != ENOENT ? -errno : 1;
	}
	r = ask_removal(path);
	if (r == 0 || r == -ENOENT)
		return 1;
	return r == -EBUSY || r == -ENOTEMPTY ? 0 : r;
}

bool joblock_name_slot(const char *name, const char *jobid, const char *node, time_t *slot)
{
	size_t idlen = strlen(jobid);
	if (strncmp(name, "backup-", 7) != 0 || strncmp(name + 7, jobid, idlen) != 0 || name[7 + idlen] != '-')
		return false;
	const char *p = name + 8 + idlen, *digits = p;
	long long v = 0;
	/* at most 18 digits: a 19th could overflow; a longer name is refused */
	for (; *p >= '0' && *p <= '9' && p - digits < 18; p++)
		v = v * 10 + (*p - '0');
	if (p == digits)
		return false;
	if (node ? (*p != '-' || strcmp(p + 1, node) != 0) : *p != '\0')
		return false;
	*slot = (time_t)v;
	return true;
}

bool joblock_name_job(const char *name, const char *node, char *id, size_t len)
{
	if (strncmp(name, "backup-", 7) != 0)
		return false;
	const char *rest = name + 7, *end = rest + strlen(rest);
	if (node) {
		size_t nlen = strlen(node);
		if ((size_t)(end - rest) < nlen + 1 || strcmp(end - nlen, node) != 0)
			return false;
		end -= nlen + 1;
		if (*end != '-')
			return false;
	}
	const char *digits = end;
	while (digits > rest && digits[-1] >= '0' && digits[-1] <= '9')
		digits--;
	if (digits == end || end - digits > 18 || digits - rest < 2 || digits[-1] != '-')
		return false;
	size_t idlen = (size_t)(digits - 1 - rest);
	if (idlen + 1 > len)
		return false;
	memcpy(id, rest, idlen);
	id[idlen] = '\0';
	/* the slot must read back the same way */
	time_t slot;
	return joblock_name_slot(name, id, node, &slot);
}

/* ---- the renewer ---- */

struct joblock_renewer {
	pthread_t thread;
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	bool stop;
	char *path;
	unsigned interval_s;
	unsigned renewals;
	int error;
};

static void *renew_loop(void *arg)
{
	struct joblock_renewer *r = arg;
	pthread_mutex_lock(&r->mutex);
	while (!r->stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += r->interval_s;
		while (!r->stop && pthread_cond_timedwait(&r->cond, &r->mutex, &until) != ETIMEDOUT)
			;
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->mutex);
		int e = utimensat(AT_FDCWD, r->path, NULL, 0) < 0 ? errno : 0; /* now */
		pthread_mutex_lock(&r->mutex);
		if (e == 0)
			r->renewals++;
		else if (!r->error)
			r->error = e;
	}
	pthread_mutex_unlock(&r->mutex);
	return NULL;
}

int joblock_renewer_start(const char *root, const char *name, unsigned interval_s, struct joblock_renewer **out)
{
	struct joblock_renewer *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int e = lock_path(root, name, NULL, &r->path);
	if (e < 0) {
		free(r);
		return e;
	}
	r->interval_s = interval_s ? interval_s : 1;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&r->mutex, NULL);
	e = pthread_create(&r->thread, NULL, renew_loop, r);
	if (e) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->mutex);
		free(r->path);
		free(r);
		return -e;
	}
	*out = r;
	return 0;
}

void joblock_renewer_stop(struct joblock_renewer *r, unsigned *renewals, int *error)
{
	pthread_mutex_lock(&r->mutex);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mutex);
	pthread_join(r->thread, NULL);
	if (renewals)
		*renewals = r->renewals;
	if (error)
		*error = r->error;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mutex);
	free(r->path);
	free(r);
}
