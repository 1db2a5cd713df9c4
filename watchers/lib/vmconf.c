/* vmconf.c - structure of a VM config: sections, key: value lines,
 * descriptions, duplicates (see vmconf.h).  Typed checks of the current
 * config live in vmconf_view.c.
 *
 * The text is copied once (textlines) and split in place; entries point
 * into that copy, which the struct vmconf keeps.  Sections and entries
 * grow by doubling. */
#include "vmconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textlines.h"
#include "value.h"

/* Snapshot names: PVE allows 2..40 characters, a letter first. */
#define VMCONF_SNAPNAME_MAX 40

struct vmconf_parser {
	struct vmconf *conf;
	const char *file;
	parse_warn_fn warn;
	void *userdata;
	struct parse_error *err;
	size_t section_cap;
	size_t entry_cap; /* of the last section */
};

static struct vmconf_section *last_section(struct vmconf_parser *p)
{
	return &p->conf->sections[p->conf->section_count - 1];
}

__attribute__((format(printf, 4, 5)))
static int fail_at(struct vmconf_parser *p, int line, const char *key, const char *fmt, ...)
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

static int add_section(struct vmconf_parser *p, enum vmconf_section_kind kind, const char *name, int line)
{
	struct vmconf *conf = p->conf;
	if (conf->section_count == p->section_cap) {
		size_t cap = p->section_cap ? p->section_cap * 2 : 4;
		struct vmconf_section *s = realloc(conf->sections, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		conf->sections = s;
		p->section_cap = cap;
	}
	conf->sections[conf->section_count++] = (struct vmconf_section){
		.kind = kind,
		.name = name,
		.line = line,
	};
	p->entry_cap = 0;
	return 0;
}

static int add_entry(struct vmconf_parser *p, const char *key, const char *value, int line)
{
	struct vmconf_section *sec = last_section(p);
	if (sec->count == p->entry_cap) {
		size_t cap = p->entry_cap ? p->entry_cap * 2 : 16;
		struct vmconf_entry *e = realloc(sec->entries, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		sec->entries = e;
		p->entry_cap = cap;
	}
	sec->entries[sec->count++] = (struct vmconf_entry){ .key = key, .value = value, .line = line };
	return 0;
}

static int append_description(struct vmconf_section *sec, const char *comment)
{
	size_t old = sec->description ? strlen(sec->description) : 0;
	size_t add = strlen(comment);
	char *d = realloc(sec->description, old + add + 2);
	if (!d)
		return -ENOMEM;
	if (old)
		d[old++] = '\n';
	memcpy(d + old, comment, add + 1);
	vmconf_decode_description(d + old);
	sec->description = d;
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void vmconf_decode_description(char *s)
{
	char *out = s;
	for (const char *in = s; *in;) {
		int hi, lo;
		/* %00 would cut the string short: keep it as text. */
		if (in[0] == '%' && (hi = hex_digit(in[1])) >= 0 && (lo = hex_digit(in[2])) >= 0 && (hi | lo)) {
			*out++ = (char)(hi * 16 + lo);
			in += 3;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
}

static int parse_header(struct vmconf_parser *p, char *line, int lineno)
{
	size_t n = strlen(line);
	if (n < 2 || line[n - 1] != ']')
		return fail_at(p, lineno, NULL, "malformed section header '%.64s' (expected [name])", line);
	line[n - 1] = '\0';
	char *name = line + 1;
	enum vmconf_section_kind kind = VMCONF_SNAPSHOT;
	if (strcmp(name, "PENDING") == 0) {
		kind = VMCONF_PENDING;
	} else if (strcmp(name, "special:cloudinit") == 0) {
		kind = VMCONF_CLOUDINIT;
	} else if (strncmp(name, "special:", 8) == 0) {
		return fail_at(p, lineno, NULL, "unknown special section [%.64s]", name);
	} else {
		struct parse_error why;
		parse_error_clear(&why);
		if (value_parse_ident(NULL, name, VMCONF_SNAPNAME_MAX, &why) < 0)
			return fail_at(p, lineno, NULL, "bad snapshot name: %s", why.reason);
	}
	for (size_t i = 1; i < p->conf->section_count; i++) {
		const struct vmconf_section *other = &p->conf->sections[i];
		if (strcmp(other->name, name) == 0)
			return fail_at(p, lineno, NULL, "section [%.64s] given twice (first at line %d)", name,
				       other->line);
	}
	return add_section(p, kind, name, lineno);
}

static bool key_char_ok(char c)
{
	return islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_' || c == '-';
}

/* "key: value" or "key:" (empty value). */
static int parse_key_line(struct vmconf_parser *p, char *line, int lineno)
{
	char *colon = strchr(line, ':');
	bool key_ok = colon && colon != line && islower((unsigned char)line[0]);
	for (char *c = line; key_ok && c < colon; c++)
		key_ok = key_char_ok(*c);
	if (!key_ok || (colon[1] != ' ' && colon[1] != '\t' && colon[1] != '\0'))
		return fail_at(p, lineno, NULL, "expected 'key: value', got '%.64s'", line);
	*colon = '\0';
	char *value = text_lstrip(colon + 1);
	const struct vmconf_entry *first = vmconf_find(last_section(p), line);
	if (first)
		return fail_at(p, lineno, line, "given twice (first at line %d)", first->line);
	return add_entry(p, line, value, lineno);
}

static int parse_line(struct vmconf_parser *p, char *line, int lineno)
{
	struct vmconf_section *sec = last_section(p);
	if (line[0] == '#') {
		/* Only comments before the first key describe the VM (or the
		 * snapshot); later ones are plain comments and are dropped. */
		return sec->count == 0 ? append_description(sec, line + 1) : 0;
	}
	text_rstrip(line);
	if (text_lstrip(line)[0] == '\0')
		return 0;
	if (line[0] == '[')
		return parse_header(p, line, lineno);
	return parse_key_line(p, line, lineno);
}

static int parse_all_lines(struct vmconf_parser *p, struct textlines *tl)
{
	int r = add_section(p, VMCONF_CURRENT, NULL, 0);
	for (char *line; r == 0 && (line = textlines_next(tl));)
		r = parse_line(p, line, tl->lineno);
	return r;
}

static void warn_missing_parent(struct vmconf_parser *p)
{
	const struct vmconf_entry *parent = vmconf_find(&p->conf->sections[0], "parent");
	if (parent && !vmconf_snapshot(p->conf, parent->value))
		parse_warn(p->warn, p->userdata, p->file, parent->line, "parent",
			   "names no snapshot section ('%.64s')", parent->value);
}

int vmconf_parse(const char *text, size_t len, const char *file, parse_warn_fn warn, void *userdata,
		 struct vmconf **out, struct parse_error *err)
{
	*out = NULL;
	parse_error_clear(err);
	struct textlines tl;
	int r = textlines_init(&tl, text, len, file, err);
	if (r < 0)
		return r;
	struct vmconf *conf = calloc(1, sizeof(*conf));
	if (!conf) {
		textlines_free(&tl);
		return -ENOMEM;
	}
	struct vmconf_parser p = {
		.conf = conf, .file = file, .warn = warn, .userdata = userdata, .err = err,
	};
	r = parse_all_lines(&p, &tl);
	conf->buf = textlines_take_buffer(&tl);
	if (r == 0)
		r = vmconf_view_build(&conf->view, &conf->sections[0], file, warn, userdata, err);
	if (r < 0) {
		vmconf_free(conf);
		return r;
	}
	warn_missing_parent(&p);
	*out = conf;
	return 0;
}

void vmconf_free(struct vmconf *conf)
{
	if (!conf)
		return;
	vmconf_view_free(&conf->view);
	for (size_t i = 0; i < conf->section_count; i++) {
		free(conf->sections[i].description);
		free(conf->sections[i].entries);
	}
	free(conf->sections);
	free(conf->buf);
	free(conf);
}

const struct vmconf_section *vmconf_current(const struct vmconf *conf)
{
	return &conf->sections[0];
}

static const struct vmconf_section *find_section(const struct vmconf *conf, enum vmconf_section_kind kind,
						 const char *name)
{
	for (size_t i = 1; i < conf->section_count; i++) {
		const struct vmconf_section *s = &conf->sections[i];
		if (s->kind == kind && (!name || strcmp(s->name, name) == 0))
			return s;
	}
	return NULL;
}

const struct vmconf_section *vmconf_snapshot(const struct vmconf *conf, const char *name)
{
	return find_section(conf, VMCONF_SNAPSHOT, name);
}

const struct vmconf_section *vmconf_pending(const struct vmconf *conf)
{
	return find_section(conf, VMCONF_PENDING, NULL);
}

const struct vmconf_section *vmconf_cloudinit(const struct vmconf *conf)
{
	return find_section(conf, VMCONF_CLOUDINIT, NULL);
}

const struct vmconf_entry *vmconf_find(const struct vmconf_section *section, const char *key)
{
	for (size_t i = 0; i < section->count; i++)
		if (strcmp(section->entries[i].key, key) == 0)
			return &section->entries[i];
	return NULL;
}

const char *vmconf_get(const struct vmconf_section *section, const char *key)
{
	const struct vmconf_entry *e = vmconf_find(section, key);
	return e ? e->value : NULL;
}
