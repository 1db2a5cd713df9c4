/* cfgschema.c - checking section configs against per-type key tables
 * (see cfgschema.h). */
#include "cfgschema.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "propstr.h"
#include "sectioncfg.h"
#include "value.h"

static int check_list(const struct cfgschema_key *k, const char *value, struct parse_error *err)
{
	struct propstr_list list;
	int r = propstr_split_list(&list, k->key, value, ',', err);
	for (size_t i = 0; r == 0 && i < list.count; i++)
		r = value_parse_enum(k->key, list.items[i], k->allowed, NULL, err);
	propstr_list_free(&list);
	return r;
}

static int check_kind(const struct cfgschema_key *k, const char *value, struct parse_error *err)
{
	switch (k->kind) {
	case CFGSCHEMA_STRING:
		return 0;
	case CFGSCHEMA_TEXT:
		return value[0] ? 0 : parse_error_fail(err, k->key, "empty value");
	case CFGSCHEMA_INT:
		return value_parse_int(k->key, value, k->min, k->max, NULL, err);
	case CFGSCHEMA_BOOL:
		return value[0] ? value_parse_bool(k->key, value, NULL, err) : 0;
	case CFGSCHEMA_ENUM:
		return value_parse_enum(k->key, value, k->allowed, NULL, err);
	case CFGSCHEMA_LIST:
		return check_list(k, value, err);
	case CFGSCHEMA_SIZE:
		return value_parse_size(k->key, value, NULL, err);
	case CFGSCHEMA_PATH:
		return value[0] == '/' ? 0 : parse_error_fail(err, k->key, "'%.64s' is not an absolute path", value);
	case CFGSCHEMA_IDENT:
		return value_parse_ident(k->key, value, 64, err);
	}
	return parse_error_fail(err, k->key, "bad schema");
}

int cfgschema_check_value(const struct cfgschema_key *key, const char *value, struct parse_error *err)
{
	int r = check_kind(key, value, err);
	if (r == 0 && key->check)
		r = key->check(key->key, value, err);
	return r;
}

const struct cfgschema_type *cfgschema_find_type(const struct cfgschema *schema, const char *type)
{
	for (const struct cfgschema_type *t = schema->types; t->type; t++)
		if (strcmp(t->type, type) == 0)
			return t;
	return NULL;
}

static const struct cfgschema_key *find_key(const struct cfgschema_type *t, const char *key)
{
	for (const struct cfgschema_key *k = t->keys; k->key; k++)
		if (strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

static int check_section(const struct cfgschema_type *t, const struct sectioncfg_section *s, const char *file,
			 parse_warn_fn warn, void *userdata, struct parse_error *err)
{
	for (size_t i = 0; i < s->count; i++) {
		const struct sectioncfg_entry *e = &s->entries[i];
		const struct cfgschema_key *k = find_key(t, e->key);
		if (!k) {
			parse_warn(warn, userdata, file, e->line, e->key, "unknown key for type '%.32s'", s->type);
			continue;
		}
		if (cfgschema_check_value(k, e->value, err) < 0) {
			parse_error_at(err, file, e->line);
			return -EINVAL;
		}
	}
	for (const struct cfgschema_key *k = t->keys; k->key; k++) {
		if (k->required && !sectioncfg_find_key(s, k->key)) {
			parse_error_fail(err, k->key, "required by %.32s '%.64s' but missing", s->type, s->id);
			parse_error_at(err, file, s->line);
			return -EINVAL;
		}
	}
	if (t->check_section && t->check_section(s, err) < 0) {
		parse_error_at(err, file, s->line);
		return -EINVAL;
	}
	return 0;
}

int cfgschema_check(const struct cfgschema *schema, const struct sectioncfg *cfg, const char *file,
		    parse_warn_fn warn, void *userdata, struct parse_error *err)
{
	for (size_t i = 0; i < cfg->count; i++) {
		const struct sectioncfg_section *s = &cfg->sections[i];
		const struct cfgschema_type *t = cfgschema_find_type(schema, s->type);
		if (!t) {
			parse_warn(warn, userdata, file, s->line, NULL, "unknown section type '%.32s' in %s", s->type,
				   schema->name);
			continue;
		}
		int r = check_section(t, s, file, warn, userdata, err);
		if (r < 0)
			return r;
	}
	return 0;
}
