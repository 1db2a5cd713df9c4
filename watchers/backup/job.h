/* job.h - backup jobs from jobs.cfg and when they are due.
 *
 * Two section types (schemas/README "jobs.cfg"):
 *   vzdump: <id>       back up guests: schedule, enabled, storage, vmid /
 *                      all + exclude, node, mode, compress, prune-backups,
 *                      notes-template, bwlimit (KiB/s)
 *   pvecfs-tree: <id>  back up the config tree itself (pvecfsctl backup):
 *                      schedule, enabled, storage, prune-backups, node
 * Unknown section types are ignored (other job kinds live in the same file).
 *
 * Schedule state: the time of the last slot a job handled on this node
 * (ran, skipped for the lock, or failed) is kept per job in the state file
 * <run>/backup/schedule.state, one "<jobid> <epoch>" line each.  A job is
 * due when its schedule has a slot after that time and at or before now;
 * it then runs once, for the most recent such slot - a daemon that was down
 * over several slots catches up once, not once per slot. */
#ifndef PVECFS_BACKUP_JOB_H
#define PVECFS_BACKUP_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bkstream.h"
#include "calendar.h"
#include "prune.h"

enum job_kind { JOB_VZDUMP, JOB_TREE };

struct job {
	enum job_kind kind;
	char *id;
	char *schedule_text;
	struct calendar_event schedule;
	bool enabled;
	char *storage;       /* NULL: "local" */
	bool all;
	unsigned *vmids, *exclude;
	size_t n_vmids, n_exclude;
	char **nodes;        /* NULL: every node */
	size_t n_nodes;
	char *mode;          /* snapshot (default), suspend, stop */
	enum bk_compress compress;
	bool has_prune;
	struct prune_spec prune;
	char *notes_template;
	uint64_t bwlimit_kib;
	int stagger_s;       /* `stagger S` of the job; -1: the daemon's --stagger */
};

struct job_list {
	struct job *jobs;
	size_t n;
};

/* Parse jobs.cfg text.  -EINVAL with err filled ("jobs.cfg:3: key
 * 'schedule': ...") for anything the schema or the schedule parser
 * rejects: then no job of the file runs. */
int job_list_parse(const char *text, size_t len, const char *file, struct job_list *out, char *err, size_t errlen);
void job_list_clear(struct job_list *list);
const struct job *job_find(const struct job_list *list, const char *id);

/* Whether job covers node (no `node` key: every node). */
bool job_runs_on(const struct job *job, const char *node);
/* Whether vmid is selected by the job (vmid list, or all minus exclude). */
bool job_selects(const struct job *job, unsigned vmid);

/* The most recent slot in (after, now], or 0 if none.  Searches at most a
 * year back. */
time_t job_due_slot(const struct job *job, time_t after, time_t now);
/* The next slot after t, or 0 if the schedule never fires again. */
time_t job_next_slot(const struct job *job, time_t t);

/* The stagger delay of a scheduled run, in ms, 0..max_s*1000: a hash
 * (FNV-1a) of the job id and the node name, so each node/job pair starts
 * at its own fixed offset after the slot - the nodes of a cluster spread
 * out, and a node's timing is the same on every run (no randomness to
 * explain in logs). */
unsigned job_stagger_ms(const char *jobid, const char *node, unsigned max_s);

/* ---- schedule state ---- */

struct job_state_entry {
	char *id;
	time_t last;
};
struct job_state {
	struct job_state_entry *e;
	size_t n;
};
/* A missing file is an empty state (0); a malformed line is skipped. */
int job_state_load(const char *path, struct job_state *st);
int job_state_save(const char *path, const struct job_state *st);
/* 0 when unknown. */
time_t job_state_get(const struct job_state *st, const char *id);
int job_state_set(struct job_state *st, const char *id, time_t last);
void job_state_clear(struct job_state *st);

#endif
