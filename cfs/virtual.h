/* virtual.h - the generated, read-only status files at the root of the
 * mount (.version .members .vmlist .clusterlog .debug) and the built-in
 * symlinks (local, qemu-server, lxc -> nodes/<this node>/...).
 *
 * They are not in the tree: they have fixed inode numbers in a range the
 * tree never reaches and their content is rendered on open. */
#ifndef PVECFS_VIRTUAL_H
#define PVECFS_VIRTUAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfs;

#define VIRTUAL_INODE_BASE 0x7fff000000000000ULL

enum virtual_kind { VIRTUAL_FILE, VIRTUAL_SYMLINK };

struct virtual_entry {
	const char *name;
	enum virtual_kind kind;
	bool writable; /* .debug */
};

/* Number of virtual entries and the i-th of them. */
size_t virtual_count(void);
const struct virtual_entry *virtual_get(size_t i);

/* Index of the entry named name at the root, or -ENOENT. */
int virtual_find(const char *name);
bool virtual_is_inode(uint64_t inode);
uint64_t virtual_inode(size_t i);
int virtual_index(uint64_t inode); /* -ENOENT if not virtual */

/* Renders a virtual file or a symlink target; malloc'd, *len set. */
char *virtual_render(struct cfs *cfs, size_t i, size_t *len);

/* Writes to a virtual file: .debug accepts "0"/"1"; others -EACCES. */
int virtual_write(struct cfs *cfs, size_t i, const char *data, size_t len);

#endif
