/* restore_diff.h - make a live directory tree (a pvecfs mount, or a plain
 * export directory) equal to a wanted set of directories and files, with
 * a plan that can be shown first (+ create, ~ modify, - delete).
 *
 * Used by `pvecfsctl restore --mount`, `import` (wanted = archive / plain
 * directory, live = the mount) and `export` (wanted = the tree, live = the
 * export directory).  Through a mount every step is an ordinary change
 * (mkdir, write-at-close, unlink, rmdir, utimens), so a running cluster
 * replicates it like any edit.
 *
 * Never compared or touched, on either side: symlinks, entries at the top
 * level whose name starts with '.' (the virtual status files, .git), and
 * what is inside priv/lock (cluster locks held by running operations). */
#ifndef PVECFS_RESTORE_DIFF_H
#define PVECFS_RESTORE_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "archive.h"
#include "tree.h"

struct rd_node {
	char *path;            /* relative, "" for the top directory */
	enum tree_type type;
	int64_t mtime;
	const uint8_t *data;   /* files */
	size_t size;
};

struct rd_set;
/* The wanted set from an archive (borrows its content: keep `a` alive). */
int rd_set_from_archive(const struct archive *a, struct rd_set **out);
/* The wanted set from a plain directory (reads every file). */
int rd_set_from_dir(const char *dir, struct rd_set **out, char **why);
void rd_set_free(struct rd_set *s);

struct rd_plan;
int rd_plan_make(const char *live, const struct rd_set *want, struct rd_plan **out, char **why);
size_t rd_plan_count(const struct rd_plan *p);
void rd_plan_print(const struct rd_plan *p, FILE *out);
/* Applies the plan: deletions (deepest first), directories, files, then
 * mtimes (directories deepest first).  0, or a negative errno and *why
 * naming the path that failed. */
int rd_plan_apply(const struct rd_plan *p, const char *live, char **why);
void rd_plan_free(struct rd_plan *p);

#endif
