/* netsdn.c - SDN zones and vnets as netdesired.h input; see netsdn.h. */
#include "netsdn.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "sectioncfg.h"

#define SDN_MAX_FILE (4u << 20)

void netsdn_clear(struct nd_sdn *sdn)
{
	free((char *)sdn->zones_file);
	free((char *)sdn->vnets_file);
	free(sdn->zones);
	free(sdn->vnets);
	*sdn = (struct nd_sdn){ 0 };
}

/* Read a whole file; -ENOENT if it is missing. */
static int read_text(const char *path, char **out, size_t *len, struct net_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e != ENOENT)
			net_error_set(err, path, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	_cleanup_free_ char *buf = malloc(SDN_MAX_FILE + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, SDN_MAX_FILE + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			net_error_set(err, path, 0, "cannot read: %s", strerror(e));
			return -e;
		}
		if (r == 0)
			break;
		got += r;
		if (got > SDN_MAX_FILE)
			return net_error_set(err, path, 0, "file is larger than %u bytes", SDN_MAX_FILE);
	}
	*len = got;
	*out = TAKE_PTR(buf);
	return 0;
}

static int parse_cfg(const char *path, struct sectioncfg **cfg, struct net_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_text(path, &text, &len, err);
	if (r == -ENOENT) {
		*cfg = NULL;
		return 0;
	}
	if (r < 0)
		return r;
	struct parse_error pe = { 0 };
	r = sectioncfg_parse(text, len, path, NULL, NULL, NULL, cfg, &pe);
	if (r < 0 && r != -ENOMEM) {
		char msg[PARSE_ERROR_TEXT_MAX];
		const char *reason = pe.reason;
		if (pe.key[0]) {
			snprintf(msg, sizeof(msg), "key '%s': %s", pe.key, pe.reason);
			reason = msg;
		}
		return net_error_set(err, path, pe.line, "%s", reason);
	}
	return r;
}

static bool node_listed(const char *nodes, const char *node)
{
	size_t n = strlen(node);
	for (const char *p = nodes; *p;) {
		size_t len = strcspn(p, ", \t");
		if (len == n && strncmp(p, node, n) == 0)
			return true;
		p += len;
		p += strspn(p, ", \t");
	}
	return false;
}

static int number(const char *file, const struct sectioncfg_section *s, const char *key, unsigned long min,
		  unsigned long max, unsigned *out, struct net_error *err)
{
	const struct sectioncfg_entry *e = sectioncfg_find_key(s, key);
	if (!e)
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(e->value, &end, 10);
	if (!isdigit((unsigned char)e->value[0]) || *end || errno || v < min || v > max)
		return net_error_set(err, file, e->line, "%s %s: invalid %s '%s' (%lu..%lu)", s->type, s->id, key,
				     e->value, min, max);
	*out = v;
	return 0;
}

static int read_zones(const struct sectioncfg *cfg, const char *file, const char *node, struct nd_sdn *sdn,
		      struct net_error *err)
{
	sdn->zones = calloc(cfg->count + 1, sizeof(*sdn->zones));
	if (!sdn->zones)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->count; i++) {
		const struct sectioncfg_section *s = &cfg->sections[i];
		const char *nodes = sectioncfg_get(s, "nodes");
		if (nodes && *nodes && !node_listed(nodes, node))
			continue;
		struct nd_zone *z = &sdn->zones[sdn->n_zones];
		if (strlen(s->id) >= sizeof(z->name) || strlen(s->type) >= sizeof(z->type))
			return net_error_set(err, file, s->line, "zone name or type too long");
		snprintf(z->name, sizeof(z->name), "%s", s->id);
		snprintf(z->type, sizeof(z->type), "%s", s->type);
		z->line = s->line;
		const struct sectioncfg_entry *b = sectioncfg_find_key(s, "bridge");
		if (b) {
			if (!b->value[0] || strlen(b->value) >= IFNAMSIZ || strpbrk(b->value, " \t/"))
				return net_error_set(err, file, b->line, "zone %s: invalid bridge '%s'", s->id, b->value);
			snprintf(z->bridge, sizeof(z->bridge), "%s", b->value);
		}
		int r = number(file, s, "mtu", 68, 65535, &z->mtu, err);
		if (r < 0)
			return r;
		sdn->n_zones++;
	}
	return 0;
}

static int read_vnets(const struct sectioncfg *cfg, const char *file, struct nd_sdn *sdn, struct net_error *err)
{
	sdn->vnets = calloc(cfg->count + 1, sizeof(*sdn->vnets));
	if (!sdn->vnets)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->count; i++) {
		const struct sectioncfg_section *s = &cfg->sections[i];
		if (strcmp(s->type, "vnet") != 0)
			return net_error_set(err, file, s->line, "unknown section type '%s' (expected vnet)", s->type);
		const char *zone = sectioncfg_get(s, "zone");
		struct nd_vnet *v = &sdn->vnets[sdn->n_vnets];
		if (strlen(s->id) >= sizeof(v->name) || (zone && strlen(zone) >= sizeof(v->zone)))
			return net_error_set(err, file, s->line, "vnet or zone name too long");
		snprintf(v->name, sizeof(v->name), "%s", s->id);
		snprintf(v->zone, sizeof(v->zone), "%s", zone ? zone : "");
		v->line = s->line;
		unsigned aware = 0;
		int r = number(file, s, "tag", 1, 4094, &v->tag, err);
		if (r == 0)
			r = number(file, s, "vlanaware", 0, 1, &aware, err);
		if (r < 0)
			return r;
		v->vlanaware = aware;
		sdn->n_vnets++;
	}
	return 0;
}

/* Zones of other nodes were left out; their vnets go too. */
static void drop_foreign_vnets(struct nd_sdn *sdn, const struct sectioncfg *zones)
{
	size_t keep = 0;
	for (size_t i = 0; i < sdn->n_vnets; i++) {
		bool here = false, known = false;
		for (size_t j = 0; j < sdn->n_zones; j++)
			here |= strcmp(sdn->zones[j].name, sdn->vnets[i].zone) == 0;
		for (size_t j = 0; zones && j < zones->count; j++)
			known |= strcmp(zones->sections[j].id, sdn->vnets[i].zone) == 0;
		if (here || !known)
			sdn->vnets[keep++] = sdn->vnets[i];
	}
	sdn->n_vnets = keep;
}

int netsdn_load(const char *root, const char *node, struct nd_sdn *out, struct net_error *err)
{
	struct nd_sdn sdn = { 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *zones = NULL;
	_cleanup_(sectioncfg_freep) struct sectioncfg *vnets = NULL;
	char *zf = NULL, *vf = NULL;
	if (asprintf(&zf, "%s/sdn/zones.cfg", root) < 0)
		return -ENOMEM;
	sdn.zones_file = zf;
	if (asprintf(&vf, "%s/sdn/vnets.cfg", root) < 0) {
		netsdn_clear(&sdn);
		return -ENOMEM;
	}
	sdn.vnets_file = vf;
	int r = parse_cfg(zf, &zones, err);
	if (r == 0)
		r = parse_cfg(vf, &vnets, err);
	if (r == 0 && zones)
		r = read_zones(zones, zf, node, &sdn, err);
	if (r == 0 && vnets)
		r = read_vnets(vnets, vf, &sdn, err);
	if (r < 0) {
		netsdn_clear(&sdn);
		return r;
	}
	drop_foreign_vnets(&sdn, zones);
	*out = sdn;
	return 0;
}
