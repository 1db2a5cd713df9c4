/* vmbackup.h - back up one VM into a vzdump-named archive, and check one.
 *
 * Archive (docs: watchers/backup/README.md "VM archive format"): a ustar
 * archive, compressed as a whole (zstd, gzip or none, bkstream.h), named
 * vzdump-qemu-<vmid>-YYYY_MM_DD-HH_MM_SS.vma[.zst|.gz] - our own container,
 * not Proxmox's VMA - holding, in this order:
 *   qemu-server.conf       the VM config as it was at backup time
 *   disks/<key>.raw        each backed-up disk as a raw image (scsi0, ...)
 *   manifest.json          {"format": "pvecfs-vm-backup-1", "vmid", "node",
 *                          "time", "mode", "name", "config_sha256",
 *                          "disks": [{"key", "volume", "file", "size",
 *                          "sha256"}]}
 * Next to it: <stem>.log (what happened, one timestamped line per step) and
 * <archive>.notes when the job has a notes-template.  The archive is
 * written as a hidden temporary file and renamed when complete, so a
 * listing never sees half an archive.
 *
 * How the disks are read depends on the VM's state and the job's mode:
 *   stopped VM (any mode)  the volume files are copied directly;
 *   snapshot               QMP `transaction` of blockdev-backup (sync=full)
 *                          jobs, one per disk, into temporary raw files;
 *                          the point in time is the start of the
 *                          transaction; the guest keeps running.  With
 *                          `agent: 1` the guest's filesystems are frozen
 *                          (guest-fsfreeze-freeze) around the start and
 *                          thawed right after; an agent that does not
 *                          answer within agent_timeout_ms is logged and
 *                          skipped;
 *   suspend                QMP stop, copy the files, QMP cont;
 *   stop                   `stopped` is written to <vmid>.state, the backup
 *                          waits until the qemu watcher has ended the QEMU,
 *                          copies the files, then writes `running` back.
 *                          <run>/backup/stopped/<vmid> exists meanwhile, so
 *                          that a daemon that died in between restarts the
 *                          VM when it starts again (vmbackup_recover_stopped).
 * bwlimit (KiB/s) throttles our own copy loop and is the speed of the
 * block jobs. */
#ifndef PVECFS_BACKUP_VMBACKUP_H
#define PVECFS_BACKUP_VMBACKUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "bkstream.h"

struct sectioncfg;

struct vmbackup_opts {
	unsigned vmid;
	const char *root;      /* the mount */
	const char *node;      /* this node: nodes/<node>/qemu-server/<vmid>.conf */
	const char *run_dir;   /* <run>/qemu/<vmid>.{pid,qmp,qga} */
	const char *dump_dir;  /* where the archive goes */
	const struct sectioncfg *storage; /* storage.cfg, for volumes */
	const char *storage_file;
	enum bk_compress compress;
	const char *mode;      /* snapshot | suspend | stop */
	uint64_t bwlimit_kib;  /* 0: unlimited */
	const char *notes_template; /* NULL: no .notes */
	time_t when;           /* the time in the name */
	unsigned agent_timeout_ms;
	unsigned stop_timeout_s;
	/* Each log line also goes here (the daemon's log); may be NULL. */
	void (*progress)(void *userdata, unsigned vmid, const char *line);
	void *userdata;
};

struct vmbackup_result {
	char archive[NAME_MAX + 1];
	char log[NAME_MAX + 1];
	uint64_t bytes;          /* disk bytes backed up */
	bool was_running;
	char error[512];         /* on failure */
};

/* Returns 0, or a negative errno with res->error saying why; a failed
 * backup leaves no archive (its .log stays, saying what failed). */
int vmbackup_run(const struct vmbackup_opts *opts, struct vmbackup_result *res);

/* Unpacks archive into a new directory under tmp_base (NULL: $TMPDIR or
 * /tmp) and checks every member against the manifest (sizes and SHA-256 of
 * the config and of each disk image).  Prints one line per member to out.
 * Returns 0 when everything matches, -EBADMSG with err filled when not,
 * other negative errnos for I/O failures.  keep: leave the directory
 * (its path is printed). */
int vmbackup_verify(const char *archive, const char *tmp_base, bool keep, FILE *out, char *err, size_t errlen);

/* For each VM a stop-mode backup stopped and did not start again (the
 * daemon died): writes `running` back to its .state file if that still
 * says `stopped`, and removes the marker.  report (may be NULL) is called
 * per VM with 0 or a negative errno.  Returns the number of VMs found. */
int vmbackup_recover_stopped(const char *root, const char *node, const char *run_dir,
			     void (*report)(void *userdata, unsigned vmid, int error), void *userdata);

/* "vzdump-qemu-<vmid>-YYYY_MM_DD-HH_MM_SS" for when (local time). */
void vmbackup_stem(unsigned vmid, time_t when, char *buf, size_t size);

#endif
