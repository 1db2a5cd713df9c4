/* schemas.c - schema tables of storage.cfg, jobs.cfg, ha/<name>.cfg, sdn/<name>.cfg.
 *
 * Only the keys that pvecfs or its watchers act on are typed strictly; the
 * other keys PVE knows for a type are listed as strings so that they are
 * not reported as unknown.  schemas/README documents the same keys for
 * people. */
#include "schemas.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "propstr.h"
#include "sectioncfg.h"
#include "value.h"

#define K_STR(k) { .key = (k), .kind = CFGSCHEMA_STRING }
#define K_TEXT(k) { .key = (k), .kind = CFGSCHEMA_TEXT }
#define K_BOOL(k) { .key = (k), .kind = CFGSCHEMA_BOOL }
#define K_INT(k, lo, hi) { .key = (k), .kind = CFGSCHEMA_INT, .min = (lo), .max = (hi) }
#define K_ENUM(k, list) { .key = (k), .kind = CFGSCHEMA_ENUM, .allowed = (list) }
#define K_LIST(k, list) { .key = (k), .kind = CFGSCHEMA_LIST, .allowed = (list) }
#define K_PATH(k) { .key = (k), .kind = CFGSCHEMA_PATH }
#define K_IDENT(k) { .key = (k), .kind = CFGSCHEMA_IDENT }
#define K_CHECK(k, fn) { .key = (k), .kind = CFGSCHEMA_TEXT, .check = (fn) }
#define REQUIRED(...) { __VA_ARGS__ }

/* ---- value checks ---- */

int schema_check_prune_backups(const char *key, const char *value, struct parse_error *err)
{
	static const char *const periods[] = { "keep-last", "keep-hourly", "keep-daily", "keep-weekly",
					       "keep-monthly", "keep-yearly", NULL };
	struct propstr ps;
	int r = propstr_parse(&ps, value, NULL, err);
	for (size_t i = 0; r == 0 && i < ps.count; i++) {
		const struct propstr_item *it = &ps.items[i];
		if (strcmp(it->key, "keep-all") == 0) {
			bool all;
			r = value_parse_bool(it->key, it->value, &all, err);
			if (r == 0 && all && ps.count > 1)
				r = parse_error_fail(err, it->key, "keep-all=1 must stand alone");
		} else if (value_in_list(it->key, periods)) {
			r = value_parse_int(it->key, it->value, 0, 1000000, NULL, err);
		} else {
			r = parse_error_fail(err, it->key, "unknown retention option");
		}
	}
	propstr_free(&ps);
	if (r < 0)
		parse_error_nest(err, key);
	return r;
}

int schema_check_vmid_list(const char *key, const char *value, struct parse_error *err)
{
	struct propstr_list list;
	int r = propstr_split_list(&list, key, value, ',', err);
	for (size_t i = 0; r == 0 && i < list.count; i++)
		r = value_parse_int(key, list.items[i], 100, 999999999, NULL, err);
	propstr_list_free(&list);
	return r;
}

/* Apply check to each "name[:suffix]" of a comma list. */
static int check_pairs(const char *key, const char *value,
		       int (*check)(const char *key, const char *name, const char *suffix, struct parse_error *err),
		       struct parse_error *err)
{
	struct propstr_list list;
	int r = propstr_split_list(&list, key, value, ',', err);
	if (r == 0 && list.count == 0)
		r = parse_error_fail(err, key, "empty list");
	for (size_t i = 0; r == 0 && i < list.count; i++) {
		char *item = list.items[i];
		char *colon = strchr(item, ':');
		if (colon)
			*colon = '\0';
		r = check(key, item, colon ? colon + 1 : NULL, err);
	}
	propstr_list_free(&list);
	return r;
}

static int check_node_priority(const char *key, const char *name, const char *prio, struct parse_error *err)
{
	int r = value_parse_ident(key, name, 63, err);
	if (r == 0 && prio)
		r = value_parse_int(key, prio, 0, 1000, NULL, err);
	return r;
}

int schema_check_ha_nodes(const char *key, const char *value, struct parse_error *err)
{
	return check_pairs(key, value, check_node_priority, err);
}

static int check_resource_id(const char *key, const char *type, const char *id, struct parse_error *err)
{
	if (!id || (strcmp(type, "vm") != 0 && strcmp(type, "ct") != 0))
		return parse_error_fail(err, key, "'%.32s' is not vm:<id> or ct:<id>", type);
	return value_parse_int(key, id, 100, 999999999, NULL, err);
}

int schema_check_ha_resources(const char *key, const char *value, struct parse_error *err)
{
	return check_pairs(key, value, check_resource_id, err);
}

static int check_node_name(const char *key, const char *name, const char *suffix, struct parse_error *err)
{
	if (suffix)
		return parse_error_fail(err, key, "'%.32s:%.32s' is not a node name", name, suffix);
	return value_parse_ident(key, name, 63, err);
}

static int check_node_list(const char *key, const char *value, struct parse_error *err)
{
	return check_pairs(key, value, check_node_name, err);
}

/* ---- storage.cfg ---- */

static const char *const storage_content[] = { "images", "rootdir", "vztmpl", "iso", "backup", "snippets",
					       "import", "none", NULL };
static const char *const image_formats[] = { "raw", "qcow2", "vmdk", "subvol", NULL };

#define STORAGE_COMMON \
	K_LIST("content", storage_content), K_BOOL("disable"), K_CHECK("nodes", check_node_list), \
	K_BOOL("shared"), K_STR("bwlimit"), K_CHECK("prune-backups", schema_check_prune_backups), \
	K_INT("maxfiles", 0, 1000000), K_ENUM("format", image_formats), K_STR("comment")

static const struct cfgschema_key storage_dir_keys[] = {
	{ .key = "path", .kind = CFGSCHEMA_PATH, .required = true },
	STORAGE_COMMON, K_BOOL("mkdir"), K_STR("is_mountpoint"), K_BOOL("create-base-path"),
	K_BOOL("create-subdirs"), K_STR("preallocation"), K_STR("content-dirs"), { NULL },
};
static const struct cfgschema_key storage_lvmthin_keys[] = {
	{ .key = "vgname", .kind = CFGSCHEMA_TEXT, .required = true },
	{ .key = "thinpool", .kind = CFGSCHEMA_TEXT, .required = true },
	STORAGE_COMMON, { NULL },
};
static const struct cfgschema_key storage_lvm_keys[] = {
	{ .key = "vgname", .kind = CFGSCHEMA_TEXT, .required = true },
	STORAGE_COMMON, K_BOOL("saferemove"), K_STR("saferemove_throughput"), K_STR("base"), K_BOOL("tagged_only"),
	{ NULL },
};
static const struct cfgschema_key storage_nfs_keys[] = {
	{ .key = "server", .kind = CFGSCHEMA_TEXT, .required = true },
	{ .key = "export", .kind = CFGSCHEMA_PATH, .required = true },
	{ .key = "path", .kind = CFGSCHEMA_PATH, .required = true },
	STORAGE_COMMON, K_STR("options"), K_BOOL("mkdir"), K_BOOL("create-base-path"), K_BOOL("create-subdirs"),
	K_STR("preallocation"), K_STR("content-dirs"), { NULL },
};
static const struct cfgschema_key storage_zfspool_keys[] = {
	{ .key = "pool", .kind = CFGSCHEMA_TEXT, .required = true },
	STORAGE_COMMON, K_BOOL("sparse"), K_STR("blocksize"), K_STR("mountpoint"), { NULL },
};
static const struct cfgschema_key storage_cifs_keys[] = {
	{ .key = "server", .kind = CFGSCHEMA_TEXT, .required = true },
	{ .key = "share", .kind = CFGSCHEMA_TEXT, .required = true },
	{ .key = "path", .kind = CFGSCHEMA_PATH, .required = true },
	STORAGE_COMMON, K_STR("username"), K_STR("domain"), K_STR("smbversion"), K_STR("subdir"), K_STR("options"),
	K_BOOL("mkdir"), K_STR("preallocation"), { NULL },
};
static const struct cfgschema_key storage_pbs_keys[] = {
	{ .key = "server", .kind = CFGSCHEMA_TEXT, .required = true },
	{ .key = "datastore", .kind = CFGSCHEMA_TEXT, .required = true },
	STORAGE_COMMON, K_STR("username"), K_STR("fingerprint"), K_STR("namespace"), K_INT("port", 1, 65535),
	K_STR("encryption-key"), K_STR("master-pubkey"), { NULL },
};

static const struct cfgschema_type storage_types[] = {
	{ "dir", storage_dir_keys, NULL },       { "lvmthin", storage_lvmthin_keys, NULL },
	{ "lvm", storage_lvm_keys, NULL },       { "nfs", storage_nfs_keys, NULL },
	{ "zfspool", storage_zfspool_keys, NULL }, { "cifs", storage_cifs_keys, NULL },
	{ "pbs", storage_pbs_keys, NULL },       { NULL },
};
const struct cfgschema schema_storage_cfg = { "storage.cfg", storage_types };

/* ---- jobs.cfg ---- */

static const char *const vzdump_modes[] = { "snapshot", "suspend", "stop", NULL };
static const char *const vzdump_compress[] = { "0", "1", "gzip", "lzo", "zstd", NULL };
static const char *const vzdump_mailnotification[] = { "always", "failure", NULL };

static const struct cfgschema_key vzdump_keys[] = {
	{ .key = "schedule", .kind = CFGSCHEMA_TEXT, .required = true },
	K_BOOL("enabled"), K_IDENT("storage"), K_BOOL("all"), K_CHECK("vmid", schema_check_vmid_list),
	K_CHECK("exclude", schema_check_vmid_list), K_CHECK("node", check_node_list), K_ENUM("mode", vzdump_modes),
	K_ENUM("compress", vzdump_compress), K_CHECK("prune-backups", schema_check_prune_backups),
	K_INT("bwlimit", 0, 1LL << 40), K_STR("notes-template"), K_ENUM("mailnotification", vzdump_mailnotification),
	K_STR("mailto"), K_STR("comment"), K_IDENT("pool"), K_BOOL("repeat-missed"), K_STR("starttime"),
	K_STR("dow"), K_STR("notification-mode"), K_STR("notification-policy"), K_STR("notification-target"),
	K_BOOL("protected"), K_BOOL("remove"), K_INT("zstd", 0, 256), K_INT("pigz", 0, 256),
	K_INT("ionice", 0, 8), K_STR("lockwait"), K_STR("stopwait"), K_STR("tmpdir"), K_STR("dumpdir"),
	K_STR("script"), K_STR("performance"), K_STR("fleecing"), K_INT("maxfiles", 0, 1000000),
	K_INT("stagger", 0, 3600), { NULL },
};

/* A backup job names its guests: all 1, a vmid list, or a pool. */
static int check_vzdump_section(const struct sectioncfg_section *s, struct parse_error *err)
{
	const char *all = sectioncfg_get(s, "all");
	bool has_all = all && strcmp(all, "0") != 0;
	if (!has_all && !sectioncfg_get(s, "vmid") && !sectioncfg_get(s, "pool"))
		return parse_error_fail(err, NULL, "backup job '%.64s' names no guests (all 1, vmid or pool)", s->id);
	return 0;
}

/* pvecfs's own job type: a backup of the config tree, once per cluster. */
static const struct cfgschema_key tree_backup_keys[] = {
	{ .key = "schedule", .kind = CFGSCHEMA_TEXT, .required = true },
	K_BOOL("enabled"), K_IDENT("storage"), K_CHECK("prune-backups", schema_check_prune_backups),
	K_CHECK("node", check_node_list), K_STR("comment"), K_INT("stagger", 0, 3600), { NULL },
};

static const struct cfgschema_type jobs_types[] = {
	{ "vzdump", vzdump_keys, check_vzdump_section },
	{ "pvecfs-tree", tree_backup_keys, NULL },
	{ NULL },
};
const struct cfgschema schema_jobs_cfg = { "jobs.cfg", jobs_types };

/* ---- ha ---- */

static const char *const ha_states[] = { "started", "stopped", "disabled", "ignored", "enabled", NULL };
static const struct cfgschema_key ha_resource_keys[] = {
	K_ENUM("state", ha_states), K_INT("max_restart", 0, 10), K_INT("max_relocate", 0, 10), K_BOOL("failback"),
	K_IDENT("group"), K_STR("comment"), { NULL },
};
static const struct cfgschema_type ha_resource_types[] = {
	{ "vm", ha_resource_keys, NULL },
	{ "ct", ha_resource_keys, NULL },
	{ NULL },
};
const struct cfgschema schema_ha_resources_cfg = { "ha/resources.cfg", ha_resource_types };

static const char *const affinities[] = { "positive", "negative", NULL };
static const struct cfgschema_key ha_node_affinity_keys[] = {
	{ .key = "resources", .kind = CFGSCHEMA_TEXT, .required = true, .check = schema_check_ha_resources },
	{ .key = "nodes", .kind = CFGSCHEMA_TEXT, .required = true, .check = schema_check_ha_nodes },
	K_BOOL("strict"), K_BOOL("disable"), K_STR("comment"), { NULL },
};
static const struct cfgschema_key ha_resource_affinity_keys[] = {
	{ .key = "resources", .kind = CFGSCHEMA_TEXT, .required = true, .check = schema_check_ha_resources },
	{ .key = "affinity", .kind = CFGSCHEMA_ENUM, .required = true, .allowed = affinities },
	K_BOOL("disable"), K_STR("comment"), { NULL },
};
static const struct cfgschema_type ha_rule_types[] = {
	{ "node-affinity", ha_node_affinity_keys, NULL },
	{ "resource-affinity", ha_resource_affinity_keys, NULL },
	{ NULL },
};
const struct cfgschema schema_ha_rules_cfg = { "ha/rules.cfg", ha_rule_types };

static const struct cfgschema_key ha_group_keys[] = {
	{ .key = "nodes", .kind = CFGSCHEMA_TEXT, .required = true, .check = schema_check_ha_nodes },
	K_BOOL("restricted"), K_BOOL("nofailback"), K_STR("comment"), { NULL },
};
static const struct cfgschema_type ha_group_types[] = {
	{ "group", ha_group_keys, NULL },
	{ NULL },
};
const struct cfgschema schema_ha_groups_cfg = { "ha/groups.cfg", ha_group_types };

/* ---- sdn ---- */

#define ZONE_COMMON \
	K_CHECK("nodes", check_node_list), K_INT("mtu", 576, 65520), K_STR("ipam"), K_STR("dns"), \
	K_STR("reversedns"), K_STR("dnszone"), K_STR("dhcp")

static const struct cfgschema_key zone_simple_keys[] = { ZONE_COMMON, { NULL } };
static const struct cfgschema_key zone_vlan_keys[] = {
	{ .key = "bridge", .kind = CFGSCHEMA_IDENT, .required = true },
	ZONE_COMMON, { NULL },
};
static const struct cfgschema_type zone_types[] = {
	{ "simple", zone_simple_keys, NULL },
	{ "vlan", zone_vlan_keys, NULL },
	{ NULL },
};
const struct cfgschema schema_sdn_zones_cfg = { "sdn/zones.cfg", zone_types };

static const struct cfgschema_key vnet_keys[] = {
	{ .key = "zone", .kind = CFGSCHEMA_IDENT, .required = true },
	K_INT("tag", 1, 16777215), K_STR("alias"), K_BOOL("vlanaware"), K_BOOL("isolate-ports"), { NULL },
};
static const struct cfgschema_type vnet_types[] = {
	{ "vnet", vnet_keys, NULL },
	{ NULL },
};
const struct cfgschema schema_sdn_vnets_cfg = { "sdn/vnets.cfg", vnet_types };

static const struct cfgschema_key subnet_keys[] = {
	{ .key = "vnet", .kind = CFGSCHEMA_IDENT, .required = true },
	K_STR("gateway"), K_BOOL("snat"), K_STR("dhcp-range"), K_STR("dnszoneprefix"), { NULL },
};
static const struct cfgschema_type subnet_types[] = {
	{ "subnet", subnet_keys, NULL },
	{ NULL },
};
const struct cfgschema schema_sdn_subnets_cfg = { "sdn/subnets.cfg", subnet_types };

/* ---- lookup ---- */

const struct cfgschema *schema_for_path(const char *path)
{
	static const struct cfgschema *const all[] = {
		&schema_storage_cfg, &schema_jobs_cfg, &schema_ha_resources_cfg, &schema_ha_rules_cfg,
		&schema_ha_groups_cfg, &schema_sdn_zones_cfg, &schema_sdn_vnets_cfg, &schema_sdn_subnets_cfg,
	};
	while (path[0] == '/')
		path++;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(path, all[i]->name) == 0)
			return all[i];
	return NULL;
}
