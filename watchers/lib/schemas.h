/* schemas.h - the schemas of the section config files pvecfs knows.
 *
 * Data tables for cfgschema (see cfgschema.h and schemas/README).  Pass
 * one to sectioncfg_parse, or let schema_for_path pick it from the path
 * relative to the mount point. */
#ifndef PVECFS_SCHEMAS_H
#define PVECFS_SCHEMAS_H

#include "cfgschema.h"

extern const struct cfgschema schema_storage_cfg;      /* storage.cfg */
extern const struct cfgschema schema_jobs_cfg;         /* jobs.cfg */
extern const struct cfgschema schema_ha_resources_cfg; /* ha/resources.cfg */
extern const struct cfgschema schema_ha_rules_cfg;     /* ha/rules.cfg */
extern const struct cfgschema schema_ha_groups_cfg;    /* ha/groups.cfg */
extern const struct cfgschema schema_sdn_zones_cfg;    /* sdn/zones.cfg */
extern const struct cfgschema schema_sdn_vnets_cfg;    /* sdn/vnets.cfg */
extern const struct cfgschema schema_sdn_subnets_cfg;  /* sdn/subnets.cfg */

/* The schema for "storage.cfg", "ha/rules.cfg", ...; NULL if none. */
const struct cfgschema *schema_for_path(const char *path);

/* Value checks that other code needs too. */
/* "keep-last=3,keep-daily=7" (or "keep-all=1" alone). */
int schema_check_prune_backups(const char *key, const char *value, struct parse_error *err);
/* "100,101": VM ids 100..999999999. */
int schema_check_vmid_list(const char *key, const char *value, struct parse_error *err);
/* "n1:2,n2:1,n3": node names with an optional priority. */
int schema_check_ha_nodes(const char *key, const char *value, struct parse_error *err);
/* "vm:100,ct:101". */
int schema_check_ha_resources(const char *key, const char *value, struct parse_error *err);

#endif
