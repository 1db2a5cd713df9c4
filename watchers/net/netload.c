/* netload.c - see netload.h. */
#include "netload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "netsdn.h"

static void ifupdown_freep(struct ifd_file **f) { ifupdown_free(*f); }
static void netsdn_clearp(struct nd_sdn *s) { netsdn_clear(s); }

int net_load_desired(const char *root, const char *node, struct nd_state **out, struct net_error *err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/nodes/%s/interfaces", root, node) < 0)
		return -ENOMEM;
	_cleanup_(ifupdown_freep) struct ifd_file *ifaces = NULL;
	int r = ifupdown_parse_file(path, &ifaces, err);
	if (r < 0)
		return r;
	_cleanup_(netsdn_clearp) struct nd_sdn sdn = { 0 };
	if ((r = netsdn_load(root, node, &sdn, err)) < 0)
		return r;
	return netdesired_build(ifaces, &sdn, out, err);
}

/* FNV-1a over the bytes of one file, with a marker for a missing one. */
static uint64_t digest_file(uint64_t h, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return (h ^ 0xff) * 0x100000001b3ULL;
	int c;
	while ((c = getc(f)) != EOF)
		h = (h ^ (unsigned char)c) * 0x100000001b3ULL;
	fclose(f);
	return (h ^ 0xfe) * 0x100000001b3ULL;
}

uint64_t net_sources_digest(const char *root, const char *node)
{
	char path[4096];
	uint64_t h = 0xcbf29ce484222325ULL;
	snprintf(path, sizeof(path), "%s/nodes/%s/interfaces", root, node);
	h = digest_file(h, path);
	snprintf(path, sizeof(path), "%s/sdn/zones.cfg", root);
	h = digest_file(h, path);
	snprintf(path, sizeof(path), "%s/sdn/vnets.cfg", root);
	return digest_file(h, path);
}
