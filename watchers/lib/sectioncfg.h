/* sectioncfg.h - section config files: storage.cfg, jobs.cfg, ha/<name>.cfg,
 * sdn/<name>.cfg.
 *
 *   <type>: <id>
 *   <TAB or spaces><key> <value>
 *   <blank line ends the section>
 *
 * The parser keeps sections and their keys in file order with line
 * numbers.  A key's value is the rest of the line, trimmed; a key alone is
 * a flag with value "".  '#' lines are comments anywhere.
 *
 * Fatal (-EINVAL, err = file:line: key 'k': reason): a NUL byte, a
 * property line outside a section, a malformed header (no ': ', empty
 * type, empty id or an id with spaces), the same type and id twice, the
 * same key twice in a section, and whatever the optional schema rejects
 * (cfgschema.h).  The schema's warnings (unknown type, unknown key) go to
 * the warn callback. */
#ifndef PVECFS_SECTIONCFG_H
#define PVECFS_SECTIONCFG_H

#include <stddef.h>

#include "parse_error.h"

struct cfgschema;

struct sectioncfg_entry {
	const char *key;
	const char *value; /* "" for a flag */
	int line;
};

struct sectioncfg_section {
	const char *type;
	const char *id;
	int line; /* of the header */
	size_t count;
	struct sectioncfg_entry *entries;
};

struct sectioncfg {
	size_t count;
	struct sectioncfg_section *sections;
	char *buf; /* the text; every string points into it */
};

/* schema may be NULL (no validation). */
int sectioncfg_parse(const char *text, size_t len, const char *file, const struct cfgschema *schema,
		     parse_warn_fn warn, void *userdata, struct sectioncfg **out, struct parse_error *err);
void sectioncfg_free(struct sectioncfg *cfg);
static inline void sectioncfg_freep(struct sectioncfg **cfg)
{
	if (*cfg)
		sectioncfg_free(*cfg);
}

/* type may be NULL to match any type. */
const struct sectioncfg_section *sectioncfg_find(const struct sectioncfg *cfg, const char *type, const char *id);
const struct sectioncfg_entry *sectioncfg_find_key(const struct sectioncfg_section *section, const char *key);
/* The value of key, or NULL when absent. */
const char *sectioncfg_get(const struct sectioncfg_section *section, const char *key);

#endif
