/* textlines.c - numbered lines of a config file (see textlines.h). */
#include "textlines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int line_of_offset(const char *text, size_t offset)
{
	int line = 1;
	for (size_t i = 0; i < offset; i++)
		line += text[i] == '\n';
	return line;
}

int textlines_init(struct textlines *tl, const char *text, size_t len, const char *file,
		   struct parse_error *err)
{
	*tl = (struct textlines){ 0 };
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		parse_error_fail(err, NULL, "contains a NUL byte (not a text file)");
		parse_error_at(err, file, line_of_offset(text, (size_t)(nul - text)));
		return -EINVAL;
	}
	tl->buf = malloc(len + 1);
	if (!tl->buf)
		return -ENOMEM;
	memcpy(tl->buf, text, len);
	tl->buf[len] = '\0';
	tl->next = len ? tl->buf : NULL;
	return 0;
}

char *textlines_next(struct textlines *tl)
{
	char *line = tl->next;
	if (!line)
		return NULL;
	char *nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		tl->next = nl[1] ? nl + 1 : NULL;
	} else {
		tl->next = NULL;
	}
	size_t n = strlen(line);
	if (n && line[n - 1] == '\r')
		line[n - 1] = '\0';
	tl->lineno++;
	return line;
}

char *textlines_take_buffer(struct textlines *tl)
{
	char *b = tl->buf;
	*tl = (struct textlines){ 0 };
	return b;
}

void textlines_free(struct textlines *tl)
{
	free(tl->buf);
	*tl = (struct textlines){ 0 };
}

char *text_rstrip(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

char *text_lstrip(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}
