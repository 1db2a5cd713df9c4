/* fuzz-common.h - helpers shared by the fuzz targets.
 *
 * Invariant checks abort() so both the standalone driver and libFuzzer
 * report them as crashes. */
#ifndef PVECFS_FUZZ_COMMON_H
#define PVECFS_FUZZ_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_error.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} } while (0)

/* A failed parse must explain itself: a non-empty reason and, when the
 * parser knows the file, a formatted text that starts with it. */
static inline void fuzz_check_error(const struct parse_error *err, const char *file, int max_line)
{
	char text[PARSE_ERROR_TEXT_MAX];
	parse_error_format(err, text, sizeof(text));
	FUZZ_ASSERT(err->reason[0] != '\0');
	FUZZ_ASSERT(err->line >= 0 && err->line <= max_line);
	if (file)
		FUZZ_ASSERT(strncmp(text, file, strlen(file)) == 0);
}

static inline void fuzz_count_warning(void *userdata, const struct parse_error *w)
{
	char text[PARSE_ERROR_TEXT_MAX];
	parse_error_format(w, text, sizeof(text));
	FUZZ_ASSERT(w->reason[0] != '\0');
	(*(int *)userdata)++;
}

static inline int fuzz_count_lines(const unsigned char *data, size_t size)
{
	int lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	return lines;
}

#endif
