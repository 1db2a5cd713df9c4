/* archive_internal.h - what archive.c and archive_tar.c share: the parsed
 * but not yet verified items of an archive, and the problem list. */
#ifndef PVECFS_ARCHIVE_INTERNAL_H
#define PVECFS_ARCHIVE_INTERNAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "archive.h"
#include "archive_format.h"

/* One ENTRY record or tar member, as found. */
struct archive_item {
	char *path;
	bool have_header;                 /* container: attributes in the record */
	struct archive_entry_header h;    /* container only */
	uint32_t type;                    /* enum tree_type */
	int64_t mtime;                    /* tar only */
	uint8_t *data;                    /* owned */
	size_t size;
	bool damaged;                     /* already reported */
};

struct archive_parse {
	GString *problems;   /* one line per problem */
	char *manifest;      /* MANIFEST text */
	GArray *items;       /* struct archive_item */
	bool stop;           /* structure broken: do not look further */
};

void archive_problem(struct archive_parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tar (already decompressed) -> items + manifest. */
void archive_tar_parse(const uint8_t *data, size_t size, struct archive_parse *p);
/* archive -> a tar stream. */
int archive_tar_build(const struct archive *a, GByteArray *out);

/* zstd helpers. */
int archive_zstd_decompress(const uint8_t *data, size_t size, size_t limit, GByteArray *out, const char **why);
int archive_zstd_compress(const uint8_t *data, size_t size, GByteArray *out);

#endif
