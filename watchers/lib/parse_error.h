/* parse_error.h - one precise error (or warning) from a config parser.
 *
 * Every parser in watchers/lib reports what went wrong as a struct
 * parse_error: the file, the 1-based line, the key involved and a reason in
 * plain words, so a watcher can log one line that a person can act on:
 *
 *   nodes/n1/qemu-server/100.conf:7: key 'memory': '12x' is not a number
 *
 * The low-level value parsers (value.h, propstr.h) know neither file nor
 * line: they fill key and reason only (parse_error_fail), and the config
 * parser that called them adds the position (parse_error_at).  Warnings
 * (unknown keys, ...) use the same struct and go to a parse_warn_fn. */
#ifndef PVECFS_PARSE_ERROR_H
#define PVECFS_PARSE_ERROR_H

#include <stddef.h>

#define PARSE_ERROR_FILE_MAX 256
#define PARSE_ERROR_KEY_MAX 64
#define PARSE_ERROR_REASON_MAX 256
/* Enough for file + line + key + reason and the punctuation between. */
#define PARSE_ERROR_TEXT_MAX (PARSE_ERROR_FILE_MAX + PARSE_ERROR_KEY_MAX + PARSE_ERROR_REASON_MAX + 48)

struct parse_error {
	char file[PARSE_ERROR_FILE_MAX]; /* "" when unknown */
	int line;                        /* 1-based; 0 when unknown */
	char key[PARSE_ERROR_KEY_MAX];   /* "" when the error is not about one key */
	char reason[PARSE_ERROR_REASON_MAX];
};

/* Called once per warning; the struct is only valid during the call. */
typedef void (*parse_warn_fn)(void *userdata, const struct parse_error *warning);

/* Empty every field. */
void parse_error_clear(struct parse_error *err);

/* Set key (may be NULL for none) and the printf-formatted reason, keep the
 * position.  Returns -EINVAL so callers can `return parse_error_fail(...)`.
 * err may be NULL (the error is then only returned). */
int parse_error_fail(struct parse_error *err, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Set the position (file may be NULL to keep the current one). */
void parse_error_at(struct parse_error *err, const char *file, int line);

/* Turn an error about a sub-key of a property string into an error about
 * the config key that holds it: key 'tag': "..." inside net0 becomes
 * key 'net0': "tag: ...". */
void parse_error_nest(struct parse_error *err, const char *outer_key);

/* "file:line: key 'k': reason", leaving out the parts that are unknown.
 * Always NUL-terminates (truncating if size is too small); returns buf. */
char *parse_error_format(const struct parse_error *err, char *buf, size_t size);

/* Build a warning at a position and hand it to warn (if warn is not NULL). */
void parse_warn(parse_warn_fn warn, void *userdata, const char *file, int line, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
