/* store.h - the durable copy of the tree: SQLite in WAL mode, <data>/config.db.
 *
 * RAM is the truth, the store is the copy: reads never come here.  Each
 * applied batch of changes is written in one transaction (store_begin, the
 * rows the tree reported dirty/removed, store_commit with the new global
 * version).  On open the database is checked (application id, schema
 * version, integrity, per-row checksums); a corrupt or foreign database is
 * refused with a message saying what is wrong and how to recover, and is
 * never modified. */
#ifndef PVECFS_STORE_H
#define PVECFS_STORE_H

#include <stdint.h>

#include "tree.h"

struct store;

/* Opens (creating if absent) <dir>/config.db.  On failure returns a negative
 * errno (-EINVAL foreign/unknown schema, -EUCLEAN corrupt, -EIO, ...) and
 * sets *why to a malloc'd human-readable reason naming the file. */
int store_open(const char *dir, struct store **out, char **why);
void store_close(struct store *s);

/* Loads every row into the (empty) tree and finishes it. -EUCLEAN + *why on
 * damage (bad row checksum, broken structure). */
int store_load(struct store *s, struct tree *t, char **why);

/* One transaction per applied batch. */
int store_begin(struct store *s);
int store_put(struct store *s, const struct tree_attr *attr, const char *name,
	      const void *data, size_t size);
int store_delete(struct store *s, uint64_t inode);
int store_commit(struct store *s, uint64_t version);
void store_rollback(struct store *s);

/* Replaces the whole stored tree with t in one transaction (state sync). */
int store_replace_all(struct store *s, struct tree *t);

/* Small key/value metadata kept with the tree (e.g. cluster epoch marks). */
int store_meta_get(struct store *s, const char *key, char **value); /* -ENOENT */
int store_meta_set(struct store *s, const char *key, const char *value);

#endif
