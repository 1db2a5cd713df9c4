/* parse_error.c - building and formatting struct parse_error.
 *
 * Fixed-size buffers on purpose: a parser can report an error from any
 * depth without allocating, and the error can be copied or kept by value.
 * Long file names, keys or reasons are truncated, never overflowed. */
#include "parse_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void copy_truncated(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void parse_error_clear(struct parse_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

__attribute__((format(printf, 3, 0)))
static void set_reason_v(struct parse_error *err, const char *key, const char *fmt, va_list ap)
{
	copy_truncated(err->key, sizeof(err->key), key ? key : "");
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
}

int parse_error_fail(struct parse_error *err, const char *key, const char *fmt, ...)
{
	if (!err)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	set_reason_v(err, key, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void parse_error_at(struct parse_error *err, const char *file, int line)
{
	if (!err)
		return;
	if (file)
		copy_truncated(err->file, sizeof(err->file), file);
	err->line = line;
}

void parse_error_nest(struct parse_error *err, const char *outer_key)
{
	if (!err)
		return;
	/* Room for both parts; the result is cut to the reason's size. */
	char reason[PARSE_ERROR_KEY_MAX + PARSE_ERROR_REASON_MAX + 2];
	if (err->key[0])
		snprintf(reason, sizeof(reason), "%s: %s", err->key, err->reason);
	else
		snprintf(reason, sizeof(reason), "%s", err->reason);
	copy_truncated(err->reason, sizeof(err->reason), reason);
	copy_truncated(err->key, sizeof(err->key), outer_key ? outer_key : "");
}

char *parse_error_format(const struct parse_error *err, char *buf, size_t size)
{
	if (!buf || size == 0)
		return buf;
	size_t used = 0;
	buf[0] = '\0';
#define APPEND(...) do { \
		if (used < size) { \
			int n_ = snprintf(buf + used, size - used, __VA_ARGS__); \
			used += n_ > 0 ? (size_t)n_ : 0; \
		} } while (0)
	if (err->file[0]) {
		APPEND("%s", err->file);
		if (err->line > 0)
			APPEND(":%d", err->line);
		APPEND(": ");
	} else if (err->line > 0) {
		APPEND("line %d: ", err->line);
	}
	if (err->key[0])
		APPEND("key '%s': ", err->key);
	APPEND("%s", err->reason);
#undef APPEND
	return buf;
}

void parse_warn(parse_warn_fn warn, void *userdata, const char *file, int line, const char *key,
		const char *fmt, ...)
{
	if (!warn)
		return;
	struct parse_error w;
	parse_error_clear(&w);
	parse_error_at(&w, file, line);
	va_list ap;
	va_start(ap, fmt);
	set_reason_v(&w, key, fmt, ap);
	va_end(ap);
	warn(userdata, &w);
}
