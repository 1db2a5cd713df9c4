/* sectioncfg.c - section config parsing (see sectioncfg.h).
 *
 * Line-oriented state machine with two states: outside a section (only
 * headers, comments and blank lines allowed) and inside one (indented
 * properties; a blank line or a new header closes it).  A header needs no
 * blank line before it: PVE writes one, people editing by hand forget. */
#include "sectioncfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgschema.h"
#include "textlines.h"

struct sectioncfg_parser {
	struct sectioncfg *cfg;
	const char *file;
	struct parse_error *err;
	bool in_section;
	size_t section_cap;
	size_t entry_cap;
};

__attribute__((format(printf, 4, 5)))
static int fail_at(struct sectioncfg_parser *p, int line, const char *key, const char *fmt, ...)
{
	char reason[PARSE_ERROR_REASON_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	parse_error_fail(p->err, key, "%s", reason);
	parse_error_at(p->err, p->file, line);
	return -EINVAL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int add_section(struct sectioncfg_parser *p, const char *type, const char *id, int line)
{
	struct sectioncfg *cfg = p->cfg;
	if (cfg->count == p->section_cap) {
		size_t cap = p->section_cap ? p->section_cap * 2 : 8;
		struct sectioncfg_section *s = realloc(cfg->sections, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		cfg->sections = s;
		p->section_cap = cap;
	}
	cfg->sections[cfg->count++] = (struct sectioncfg_section){ .type = type, .id = id, .line = line };
	p->entry_cap = 0;
	p->in_section = true;
	return 0;
}

static int add_entry(struct sectioncfg_parser *p, const char *key, const char *value, int line)
{
	struct sectioncfg_section *sec = &p->cfg->sections[p->cfg->count - 1];
	if (sec->count == p->entry_cap) {
		size_t cap = p->entry_cap ? p->entry_cap * 2 : 8;
		struct sectioncfg_entry *e = realloc(sec->entries, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		sec->entries = e;
		p->entry_cap = cap;
	}
	sec->entries[sec->count++] = (struct sectioncfg_entry){ .key = key, .value = value, .line = line };
	return 0;
}

/* "type: id" at column 0. */
static int parse_header(struct sectioncfg_parser *p, char *line, int lineno)
{
	char *colon = strchr(line, ':');
	if (!colon || colon == line || !is_blank(colon[1]))
		return fail_at(p, lineno, NULL, "malformed section header '%.64s' (expected 'type: id')", line);
	for (char *c = line; c < colon; c++)
		if (is_blank(*c))
			return fail_at(p, lineno, NULL, "section type '%.*s' contains a space", (int)(colon - line),
				       line);
	*colon = '\0';
	char *id = text_lstrip(colon + 1);
	if (id[0] == '\0')
		return fail_at(p, lineno, NULL, "section '%.64s' has an empty id", line);
	if (strpbrk(id, " \t"))
		return fail_at(p, lineno, NULL, "section id '%.64s' contains a space", id);
	const struct sectioncfg_section *first = sectioncfg_find(p->cfg, line, id);
	if (first)
		return fail_at(p, lineno, NULL, "section '%.32s: %.64s' given twice (first at line %d)", line, id,
			       first->line);
	return add_section(p, line, id, lineno);
}

/* Indented "key value" or "key". */
static int parse_property(struct sectioncfg_parser *p, char *line, int lineno)
{
	char *key = text_lstrip(line);
	if (!p->in_section)
		return fail_at(p, lineno, NULL, "property '%.64s' outside of a section", key);
	char *end = key + strcspn(key, " \t");
	char *value = end;
	if (*end) {
		*end = '\0';
		value = text_lstrip(end + 1);
	}
	const struct sectioncfg_section *sec = &p->cfg->sections[p->cfg->count - 1];
	const struct sectioncfg_entry *first = sectioncfg_find_key(sec, key);
	if (first)
		return fail_at(p, lineno, key, "given twice in section '%.64s' (first at line %d)", sec->id,
			       first->line);
	return add_entry(p, key, value, lineno);
}

static int parse_line(struct sectioncfg_parser *p, char *line, int lineno)
{
	text_rstrip(line);
	char *content = text_lstrip(line);
	if (content[0] == '\0') {
		p->in_section = false;
		return 0;
	}
	if (content[0] == '#')
		return 0;
	if (is_blank(line[0]))
		return parse_property(p, line, lineno);
	return parse_header(p, line, lineno);
}

int sectioncfg_parse(const char *text, size_t len, const char *file, const struct cfgschema *schema,
		     parse_warn_fn warn, void *userdata, struct sectioncfg **out, struct parse_error *err)
{
	*out = NULL;
	parse_error_clear(err);
	struct textlines tl;
	int r = textlines_init(&tl, text, len, file, err);
	if (r < 0)
		return r;
	struct sectioncfg *cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		textlines_free(&tl);
		return -ENOMEM;
	}
	struct sectioncfg_parser p = { .cfg = cfg, .file = file, .err = err };
	for (char *line; r == 0 && (line = textlines_next(&tl));)
		r = parse_line(&p, line, tl.lineno);
	cfg->buf = textlines_take_buffer(&tl);
	if (r == 0 && schema)
		r = cfgschema_check(schema, cfg, file, warn, userdata, err);
	if (r < 0) {
		sectioncfg_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

void sectioncfg_free(struct sectioncfg *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->count; i++)
		free(cfg->sections[i].entries);
	free(cfg->sections);
	free(cfg->buf);
	free(cfg);
}

const struct sectioncfg_section *sectioncfg_find(const struct sectioncfg *cfg, const char *type, const char *id)
{
	for (size_t i = 0; i < cfg->count; i++) {
		const struct sectioncfg_section *s = &cfg->sections[i];
		if ((!type || strcmp(s->type, type) == 0) && strcmp(s->id, id) == 0)
			return s;
	}
	return NULL;
}

const struct sectioncfg_entry *sectioncfg_find_key(const struct sectioncfg_section *section, const char *key)
{
	for (size_t i = 0; i < section->count; i++)
		if (strcmp(section->entries[i].key, key) == 0)
			return &section->entries[i];
	return NULL;
}

const char *sectioncfg_get(const struct sectioncfg_section *section, const char *key)
{
	const struct sectioncfg_entry *e = sectioncfg_find_key(section, key);
	return e ? e->value : NULL;
}
