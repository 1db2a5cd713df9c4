/* storage.h - where a VM's volume "storage:name" lives on this node,
 * according to storage.cfg.
 *
 * Supported storage types and the path of a volume:
 *   dir: <path>/images/<vmid>/<name>   ("<vmid>/<file>" names, as PVE writes
 *        them, map to <path>/images/<vmid>/<file>; "iso/<file>" to
 *        <path>/template/iso/<file>)
 *   lvm, lvmthin: /dev/<vgname>/<name> (a block device)
 * Any other type is refused with "storage 'nas' of type 'nfs' is not
 * supported by pvecfs-qemu"; so are a missing storage, a disabled one, one
 * restricted to other nodes, and names that try to leave the storage
 * ("..").  Whether the file exists is checked when the VM starts
 * (vm_start), not here: showcmd works for a VM whose disk is elsewhere. */
#ifndef PVECFS_QEMU_STORAGE_H
#define PVECFS_QEMU_STORAGE_H

#include <stdbool.h>

#include "parse_error.h"
#include "sectioncfg.h"

struct qemu_storage {
	const struct sectioncfg *cfg; /* NULL: there is no storage.cfg */
	const char *file;             /* its path, for messages */
	const char *node;             /* this node, for `nodes` restrictions; NULL: no check */
};

/* A qemu_volume_resolver_fn (cmdline.h); userdata is a struct qemu_storage. */
int qemu_storage_resolve(void *userdata, unsigned vmid, const char *volume, char **path, bool *block_device,
			 struct parse_error *err);

#endif
