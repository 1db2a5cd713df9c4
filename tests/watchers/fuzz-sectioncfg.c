/* fuzz-sectioncfg.c - fuzz target for sectioncfg_parse with each schema.
 *
 * The first byte picks the schema (or none), the rest is the file. */
#include <stdint.h>

#include "fuzz-common.h"
#include "schemas.h"
#include "sectioncfg.h"

static const struct cfgschema *const schemas[] = {
	NULL, &schema_storage_cfg, &schema_jobs_cfg, &schema_ha_resources_cfg, &schema_ha_rules_cfg,
	&schema_ha_groups_cfg, &schema_sdn_zones_cfg, &schema_sdn_vnets_cfg, &schema_sdn_subnets_cfg,
};

static void check_success(const struct sectioncfg *cfg, int max_line)
{
	int last = 0;
	for (size_t s = 0; s < cfg->count; s++) {
		const struct sectioncfg_section *sec = &cfg->sections[s];
		FUZZ_ASSERT(sec->line > last && sec->type[0] && sec->id[0]);
		FUZZ_ASSERT(!strpbrk(sec->id, " \t"));
		FUZZ_ASSERT(sectioncfg_find(cfg, sec->type, sec->id) == sec);
		last = sec->line;
		for (size_t i = 0; i < sec->count; i++) {
			const struct sectioncfg_entry *e = &sec->entries[i];
			FUZZ_ASSERT(e->line > last && e->line <= max_line);
			FUZZ_ASSERT(e->key[0] && !strpbrk(e->key, " \t"));
			FUZZ_ASSERT(sectioncfg_find_key(sec, e->key) == e);
			last = e->line;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const struct cfgschema *schema = schemas[data[0] % (sizeof(schemas) / sizeof(schemas[0]))];
	const char *file = schema ? schema->name : "x.cfg";
	data++;
	size--;
	struct sectioncfg *cfg = NULL;
	struct parse_error err;
	int warnings = 0;
	int r = sectioncfg_parse((const char *)data, size, file, schema, fuzz_count_warning, &warnings, &cfg, &err);
	int max_line = fuzz_count_lines(data, size);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
		FUZZ_ASSERT(cfg == NULL);
		if (r == -EINVAL)
			fuzz_check_error(&err, file, max_line);
		return 0;
	}
	check_success(cfg, max_line);
	sectioncfg_free(cfg);
	return 0;
}
