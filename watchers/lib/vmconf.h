/* vmconf.h - the VM config file nodes/<node>/qemu-server/<vmid>.conf.
 *
 * vmconf_parse turns the whole text of a VM config into:
 *   - sections: sections[0] is always the current config (the part before
 *     the first [header]); then, in file order, one per [snapshot],
 *     [PENDING] and [special:cloudinit];
 *   - per section, every `key: value` line in file order with its line
 *     number (unknown keys are kept, so nothing is lost on a rewrite), and
 *     the description: the '#' lines before the section's first key, joined
 *     with newlines, %XX escapes decoded;
 *   - a validated view of the current config (vmconf_view.h): typed
 *     scalars with their defaults, disks and NICs.
 *
 * Fatal (return -EINVAL, err says file:line: key 'k': reason): a NUL byte,
 * a line that is not `key: value`, a malformed or repeated [header], a key
 * given twice in one section (both lines named), a bad value for a known
 * key of the current config.  Snapshot, pending and cloud-init sections are
 * kept as strings and not validated: they describe a VM that is not running.
 * Warnings (never fatal) go to the warn callback: unknown keys and unknown
 * properties of the current config, a parent that names no snapshot. */
#ifndef PVECFS_VMCONF_H
#define PVECFS_VMCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "parse_error.h"
#include "vmconf_view.h"

enum vmconf_section_kind {
	VMCONF_CURRENT,
	VMCONF_SNAPSHOT,
	VMCONF_PENDING,
	VMCONF_CLOUDINIT,
};

struct vmconf_entry {
	const char *key;
	const char *value; /* trimmed; may be "" */
	int line;
};

struct vmconf_section {
	enum vmconf_section_kind kind;
	const char *name;   /* NULL for the current config, else the header text */
	int line;           /* line of the [header]; 0 for the current config */
	char *description;  /* NULL when there is none */
	size_t count;
	struct vmconf_entry *entries;
};

struct vmconf {
	size_t section_count; /* >= 1 */
	struct vmconf_section *sections;
	struct vmconf_view view; /* of sections[0] */
	char *buf;               /* the text; keys and values point into it */
};

/* Parse text[0..len) of the file `file` (used in messages only). */
int vmconf_parse(const char *text, size_t len, const char *file, parse_warn_fn warn, void *userdata,
		 struct vmconf **out, struct parse_error *err);
void vmconf_free(struct vmconf *conf);
static inline void vmconf_freep(struct vmconf **conf)
{
	if (*conf)
		vmconf_free(*conf);
}

const struct vmconf_section *vmconf_current(const struct vmconf *conf);
/* NULL when absent. */
const struct vmconf_section *vmconf_snapshot(const struct vmconf *conf, const char *name);
const struct vmconf_section *vmconf_pending(const struct vmconf *conf);
const struct vmconf_section *vmconf_cloudinit(const struct vmconf *conf);

/* Raw value of key in a section, or NULL. */
const char *vmconf_get(const struct vmconf_section *section, const char *key);
const struct vmconf_entry *vmconf_find(const struct vmconf_section *section, const char *key);

/* The validated view of the current config. */
static inline const struct vmconf_view *vmconf_view(const struct vmconf *conf)
{
	return &conf->view;
}

/* Decode %XX escapes in place (PVE stores descriptions URL-encoded);
 * a '%' not followed by two hex digits is kept as it is. */
void vmconf_decode_description(char *s);

#endif
