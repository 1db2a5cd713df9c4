/* netload.c - see netload.h. */
#include "netload.h"

#include <dirent.h>
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

static uint64_t digest_string(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xfd) * 0x100000001b3ULL;
}

static int is_conf(const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	return n > 5 && strcmp(e->d_name + n - 5, ".conf") == 0;
}

/* The VM configs (names and contents, in name order): their NICs are
 * checked against the links, so an edit brings new reports. */
static uint64_t digest_vm_configs(uint64_t h, const char *root, const char *node)
{
	char dir[4096], path[4400];
	snprintf(dir, sizeof(dir), "%s/nodes/%s/qemu-server", root, node);
	struct dirent **list = NULL;
	int n = scandir(dir, &list, is_conf, alphasort);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		h = digest_file(digest_string(h, list[i]->d_name), path);
		free(list[i]);
	}
	free(list);
	return h;
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
	h = digest_file(h, path);
	return digest_vm_configs(h, root, node);
}
