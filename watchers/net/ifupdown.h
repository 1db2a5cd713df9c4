/* ifupdown.h - parser for the node's `interfaces` file (ifupdown2 syntax).
 *
 * The parser only knows the file's grammar: `auto`/`allow-*` lines, `iface
 * NAME FAMILY METHOD` stanzas and their indented `key value` options,
 * comments and backslash continuations.  What the options mean is decided by
 * netdesired.c, which needs the line of every option to report errors as
 * file:line: reason.  Repeated stanzas for one interface (inet and inet6)
 * are kept as separate stanzas. */
#ifndef PVECFS_NET_IFUPDOWN_H
#define PVECFS_NET_IFUPDOWN_H

#include <stdbool.h>
#include <stddef.h>

/* A parse or validation error: where and why.  Shared by the whole watcher. */
struct net_error {
	char file[256];
	unsigned line; /* 0: the error is not about one line */
	char reason[512];
};

/* Fill err (if not NULL) and return -EINVAL; printf-style reason. */
int net_error_set(struct net_error *err, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

struct ifd_option {
	char *key;   /* as written, e.g. "bridge-ports" or "bridge_ports" */
	char *value; /* the rest of the line, whitespace-trimmed, may be "" */
	unsigned line;
};

struct ifd_stanza {
	char *name;
	char *family; /* inet, inet6 */
	char *method; /* static, manual, dhcp, loopback, ... */
	unsigned line;
	struct ifd_option *options;
	size_t n_options;
};

struct ifd_file {
	char *path;
	struct ifd_stanza *stanzas;
	size_t n_stanzas;
	char **autos; /* interfaces named on `auto`/`allow-hotplug` lines */
	unsigned *auto_lines;
	size_t n_autos;
	/* the file has the comment `# pvecfs-net: allow-cluster-link-change` */
	bool allow_cluster_link_change;
};

#define IFD_ALLOW_CLUSTER_LINK_CHANGE "pvecfs-net: allow-cluster-link-change"

/* Parse text (len bytes, need not be NUL-terminated); path is used in
 * errors.  Returns 0 and *out, or -EINVAL with err filled, or -ENOMEM. */
int ifupdown_parse(const char *path, const char *text, size_t len, struct ifd_file **out,
		   struct net_error *err);
/* Read and parse a file; -errno (with err filled) if it cannot be read. */
int ifupdown_parse_file(const char *path, struct ifd_file **out, struct net_error *err);
void ifupdown_free(struct ifd_file *f);

/* Is name marked auto?  Options lookup within one stanza (first match;
 * '-' and '_' in keys are equivalent as in ifupdown2). */
bool ifupdown_is_auto(const struct ifd_file *f, const char *name);
const struct ifd_option *ifupdown_option(const struct ifd_stanza *s, const char *key);

#endif
