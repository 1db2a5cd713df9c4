/* cfgschema.h - per-type key schemas for section config files.
 *
 * A schema lists, per section type, the keys that type allows, what each
 * value must look like and which keys are required.  sectioncfg_parse runs
 * cfgschema_check after parsing when the caller passes a schema; the data
 * tables for the files pvecfs knows are in schemas.c.
 *
 * Policy, in line with "unknown keys are reported, never dropped": an
 * unknown section type or an unknown key is a warning; a bad value or a
 * missing required key is an error.  Booleans accept 0/1, and a bare key
 * (empty value) means 1, as PVE writes true flags. */
#ifndef PVECFS_CFGSCHEMA_H
#define PVECFS_CFGSCHEMA_H

#include <stdbool.h>

#include "parse_error.h"

struct sectioncfg;
struct sectioncfg_section;

enum cfgschema_kind {
	CFGSCHEMA_STRING, /* anything, also "" */
	CFGSCHEMA_TEXT,   /* non-empty */
	CFGSCHEMA_INT,    /* min..max */
	CFGSCHEMA_BOOL,   /* 0, 1 or "" (= 1) */
	CFGSCHEMA_ENUM,   /* one of allowed */
	CFGSCHEMA_LIST,   /* comma-separated, each one of allowed */
	CFGSCHEMA_SIZE,   /* number with K/M/G/T */
	CFGSCHEMA_PATH,   /* absolute path */
	CFGSCHEMA_IDENT,  /* letter first, then letters, digits, - _ . */
};

struct cfgschema_key {
	const char *key;
	enum cfgschema_kind kind;
	bool required;
	long long min, max;         /* CFGSCHEMA_INT */
	const char *const *allowed; /* CFGSCHEMA_ENUM, CFGSCHEMA_LIST */
	/* Extra check after the kind's, may be NULL.  Fills key and reason. */
	int (*check)(const char *key, const char *value, struct parse_error *err);
};

struct cfgschema_type {
	const char *type;
	const struct cfgschema_key *keys; /* ends with { NULL } */
	/* Extra check of a whole section (e.g. "all or vmid"), may be NULL;
	 * fills key and reason, the position is set by the caller. */
	int (*check_section)(const struct sectioncfg_section *section, struct parse_error *err);
};

struct cfgschema {
	const char *name;                   /* "storage.cfg" */
	const struct cfgschema_type *types; /* ends with { NULL } */
};

/* Validate every section of cfg against schema. */
int cfgschema_check(const struct cfgschema *schema, const struct sectioncfg *cfg, const char *file,
		    parse_warn_fn warn, void *userdata, struct parse_error *err);
/* Validate one value against one key description. */
int cfgschema_check_value(const struct cfgschema_key *key, const char *value, struct parse_error *err);
const struct cfgschema_type *cfgschema_find_type(const struct cfgschema *schema, const char *type);

#endif
