/* storage.c - see storage.h. */
#include "storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

static bool node_allowed(const char *nodes, const char *node)
{
	size_t len = strlen(node);
	for (const char *p = nodes; *p;) {
		size_t n = strcspn(p, ", ");
		if (n == len && strncmp(p, node, n) == 0)
			return true;
		p += n;
		p += strspn(p, ", ");
	}
	return false;
}

/* Volume names are file names (dir) or LV names: no "..", no leading '/',
 * no empty component, no ',' (QEMU's option separator). */
static bool name_is_safe(const char *name)
{
	if (!name[0] || name[0] == '/' || strchr(name, ',') || strstr(name, "//"))
		return false;
	for (const char *p = name; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
			return false;
	}
	return true;
}

static int dir_path(const char *base, unsigned vmid, const char *name, char **path)
{
	char prefix[24];
	int n = snprintf(prefix, sizeof(prefix), "%u/", vmid);
	int r;
	if (strncmp(name, "iso/", 4) == 0)
		r = asprintf(path, "%s/template/iso/%s", base, name + 4);
	else if (strncmp(name, prefix, (size_t)n) == 0)
		r = asprintf(path, "%s/images/%s", base, name);
	else
		r = asprintf(path, "%s/images/%u/%s", base, vmid, name);
	return r < 0 ? -ENOMEM : 0;
}

int qemu_storage_resolve(void *userdata, unsigned vmid, const char *volume, char **path, bool *block_device,
			 struct parse_error *err)
{
	const struct qemu_storage *st = userdata;
	*path = NULL;
	*block_device = false;
	const char *colon = strchr(volume, ':');
	if (!colon || colon == volume)
		return parse_error_fail(err, NULL, "volume '%s' is not storage:name or an absolute path", volume);
	_cleanup_free_ char *id = strndup(volume, (size_t)(colon - volume));
	const char *name = colon + 1;
	if (!id)
		return -ENOMEM;
	if (!name_is_safe(name))
		return parse_error_fail(err, NULL, "volume name '%s' is not allowed", name);
	const char *where = st->file ? st->file : "storage.cfg";
	const struct sectioncfg_section *s = st->cfg ? sectioncfg_find(st->cfg, NULL, id) : NULL;
	if (!s)
		return parse_error_fail(err, NULL, "storage '%s' is not defined in %s", id, where);
	const char *disable = sectioncfg_get(s, "disable");
	if (disable && strcmp(disable, "0") != 0)
		return parse_error_fail(err, NULL, "storage '%s' is disabled", id);
	const char *nodes = sectioncfg_get(s, "nodes");
	if (nodes && st->node && !node_allowed(nodes, st->node))
		return parse_error_fail(err, NULL, "storage '%s' is not available on node '%s' (nodes %s)", id, st->node,
					nodes);

	if (strcmp(s->type, "dir") == 0) {
		const char *base = sectioncfg_get(s, "path");
		if (!base || base[0] != '/')
			return parse_error_fail(err, NULL, "storage '%s' (%s:%d) has no absolute path", id, where, s->line);
		return dir_path(base, vmid, name, path);
	}
	if (strcmp(s->type, "lvm") == 0 || strcmp(s->type, "lvmthin") == 0) {
		const char *vg = sectioncfg_get(s, "vgname");
		if (!vg || !vg[0])
			return parse_error_fail(err, NULL, "storage '%s' (%s:%d) has no vgname", id, where, s->line);
		if (strchr(name, '/'))
			return parse_error_fail(err, NULL, "volume name '%s' is not a logical volume name", name);
		*block_device = true;
		return asprintf(path, "/dev/%s/%s", vg, name) < 0 ? -ENOMEM : 0;
	}
	return parse_error_fail(err, NULL, "storage '%s' of type '%s' is not supported by pvecfs-qemu", id, s->type);
}
