/* archive.h - reading, verifying and writing pvecfs backup archives
 * (docs/backup.md): our own container (ARCHIVE_* in archive_format.h, the
 * payloads optionally zstd-compressed) and POSIX pax/ustar tar (optionally
 * inside one zstd stream) whose first member is MANIFEST.json.
 *
 * Reading always verifies everything before the caller sees any of it: the
 * structure, the whole-archive checksum (container), every file's SHA-256
 * against the manifest, and the tree checksum of the tree the archive
 * rebuilds against the manifest's.  So a restore never starts from a
 * damaged archive.  Problems are collected one per line, each naming the
 * file it concerns when there is one ("nodes/n1/qemu-server/100.conf:
 * content checksum mismatch"). */
#ifndef PVECFS_ARCHIVE_H
#define PVECFS_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree.h"

enum archive_kind { ARCHIVE_CONTAINER = 1, ARCHIVE_TAR = 2 };

struct archive_entry {
	char *path;             /* relative to the root, "" for the root */
	struct tree_attr attr;  /* inode, parent, version, mtime, writer, type, size */
	uint8_t *data;          /* file content (NULL for directories) */
	size_t size;
	char sha256[65];        /* from the manifest (files) */
	bool seen;              /* verification: a manifest entry met its content */
};

struct archive {
	enum archive_kind kind;
	bool compressed;
	char *manifest;         /* the MANIFEST JSON text, verbatim */
	char *cluster, *node;
	uint64_t version;
	int64_t time;
	char tree_checksum[65];
	struct archive_entry *entries; /* [0] is the root; sorted by path */
	size_t n_entries;
};

/* Reads and fully verifies `path`.  0 and *out; or -ENOENT/-EIO (cannot
 * read), -EINVAL (not an archive), -EBADMSG (damaged or truncated) with
 * *problems set to malloc'd text, one problem per line. */
int archive_read_file(const char *path, struct archive **out, char **problems);
/* The same from memory (takes no ownership). */
int archive_read_buffer(const uint8_t *data, size_t size, struct archive **out, char **problems);
void archive_free(struct archive *a);

/* A tree holding exactly the archive's inodes (for restore into a data dir
 * and for the checksum check).  0 or -EUCLEAN / -ENOMEM. */
int archive_build_tree(const struct archive *a, struct tree **out);

/* Writers; 0 or a negative errno.  The container is the default backup
 * format; tar is for people and other tools. */
int archive_write_container(const struct archive *a, int fd, bool zstd);
int archive_write_tar(const struct archive *a, int fd, bool zstd);

/* Finds the entry for `path` (binary search), NULL if absent. */
const struct archive_entry *archive_find(const struct archive *a, const char *path);

#endif
