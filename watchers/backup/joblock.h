/* joblock.h - the cluster locks of scheduled backup runs.
 *
 * A run of a scheduled job holds <mount>/priv/lock/<name> (a directory,
 * README "Locks": mkdir succeeds for one caller in the cluster; the lock
 * expires --lock-timeout seconds, 120 by default, after a node last saw it
 * created or renewed; utime(path, 0, 0) removes an expired lock and fails
 * with EBUSY otherwise; utime(path, now) from the holder's node renews it;
 * rmdir releases it).  Over its life a backup lock is:
 *   taken     mkdir by the runner;
 *   renewed   every renew interval by a thread of the runner while the job
 *             runs, so a long run never looks dead;
 *   done      a `done` directory inside it once the run has ended: the slot
 *             is finished, whoever comes later skips it; a non-empty lock
 *             cannot be removed by utime(0, 0), so expiry does not undo it;
 *   removed   by the cleanup (joblock_remove) once its slot is old.
 * A lock without `done` whose runner stopped renewing (its node or daemon
 * died) expires: the next runner removes it with utime(0, 0) and takes it
 * (joblock_take), so a crash cannot block a slot forever - including a
 * crash of this node's own earlier run. */
#ifndef PVECFS_BACKUP_JOBLOCK_H
#define PVECFS_BACKUP_JOBLOCK_H

#include <stdbool.h>
#include <time.h>

enum joblock_outcome {
	JOBLOCK_TAKEN,      /* it did not exist: ours now */
	JOBLOCK_TAKEN_OVER, /* it existed and had expired: removed, ours now */
	JOBLOCK_HELD,       /* it exists and has not expired: someone runs the slot */
	JOBLOCK_DONE,       /* it exists and is marked done: the slot was run */
};

/* Takes root/priv/lock/name.  Returns 0 with *outcome set, or a negative
 * errno (the lock directory cannot be created or asked about). */
int joblock_take(const char *root, const char *name, enum joblock_outcome *outcome);

/* Marks the lock done (see above). */
int joblock_mark_done(const char *root, const char *name);

/* Removes an old lock: one marked done is released (its `done` and the
 * lock removed); any other only if it has expired (utime 0, 0).  Returns 1
 * removed, 0 still held (not expired), negative errno on other errors. */
int joblock_remove(const char *root, const char *name);

/* The slot of a lock name of job jobid: "backup-<jobid>-<slot>" when node
 * is NULL (a config-tree job), "backup-<jobid>-<slot>-<node>" otherwise. */
bool joblock_name_slot(const char *name, const char *jobid, const char *node, time_t *slot);

/* The job id of a backup lock name whatever its job: "backup-<id>-<slot>"
 * (a config-tree job, node NULL) or "backup-<id>-<slot>-<node>".  Copies
 * the id into id (at most len bytes with the NUL); false if the name is not
 * of that form or the id does not fit.  Used to find the locks of jobs
 * that were removed from jobs.cfg. */
bool joblock_name_job(const char *name, const char *node, char *id, size_t len);

/* A thread renewing a taken lock (utime now) every interval_s seconds. */
struct joblock_renewer;
int joblock_renewer_start(const char *root, const char *name, unsigned interval_s, struct joblock_renewer **out);
/* Stops and frees it; *renewals gets how many renewals succeeded and
 * *error the first failure (0 if none: ENOENT/EPERM mean the lock was
 * lost, e.g. removed by another node after it had expired). */
void joblock_renewer_stop(struct joblock_renewer *r, unsigned *renewals, int *error);

#endif
