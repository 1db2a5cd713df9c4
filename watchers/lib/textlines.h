/* textlines.h - split a config file's text into numbered lines.
 *
 * Both config parsers read whole files that arrive as (pointer, length)
 * from the filesystem or a fuzzer, not as C strings.  textlines copies the
 * text once, refuses NUL bytes (a config file is text, and a NUL would cut
 * a value short without anyone noticing), and hands out lines split in
 * place with "\n" or "\r\n" removed.  The buffer outlives the reader when
 * it is taken with textlines_take_buffer, so parsed keys and values can
 * point into it. */
#ifndef PVECFS_TEXTLINES_H
#define PVECFS_TEXTLINES_H

#include <stddef.h>

#include "parse_error.h"

struct textlines {
	char *buf;
	char *next;   /* start of the next line, NULL at the end */
	int lineno;   /* number of the line last returned, 1-based */
};

/* Copy text.  Fails with -EINVAL (err at the line of the NUL byte) or
 * -ENOMEM. */
int textlines_init(struct textlines *tl, const char *text, size_t len, const char *file,
		   struct parse_error *err);
/* The next line (writable, NUL-terminated), or NULL at the end. */
char *textlines_next(struct textlines *tl);
/* Hand the buffer to the caller (who frees it); the reader is done. */
char *textlines_take_buffer(struct textlines *tl);
void textlines_free(struct textlines *tl);

/* Remove trailing spaces and tabs in place; returns s. */
char *text_rstrip(char *s);
/* First character that is not a space or tab. */
char *text_lstrip(char *s);

#endif
