/* test-sectioncfg.c - section config parsing and the schemas. */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "parse_error.h"
#include "schemas.h"
#include "sectioncfg.h"
#include "testlib.h"

static char text_buf[PARSE_ERROR_TEXT_MAX];
#define ERRTEXT(e) parse_error_format(&(e), text_buf, sizeof(text_buf))

struct warnings {
	int count;
	char text[4096];
};

static void collect_warning(void *userdata, const struct parse_error *w)
{
	struct warnings *ws = userdata;
	char line[PARSE_ERROR_TEXT_MAX];
	size_t used = strlen(ws->text);
	snprintf(ws->text + used, sizeof(ws->text) - used, "%s\n", parse_error_format(w, line, sizeof(line)));
	ws->count++;
}

static struct sectioncfg *parse_ok(const char *file, const char *text, const struct cfgschema *schema,
				   struct warnings *ws)
{
	struct sectioncfg *cfg = NULL;
	struct parse_error err;
	if (sectioncfg_parse(text, strlen(text), file, schema, collect_warning, ws, &cfg, &err) < 0)
		fprintf(stderr, "  unexpected error: %s\n", ERRTEXT(err));
	return cfg;
}

static const char *parse_fail(const char *file, const char *text, const struct cfgschema *schema)
{
	struct sectioncfg *cfg = (struct sectioncfg *)1;
	struct parse_error err;
	int r = sectioncfg_parse(text, strlen(text), file, schema, NULL, NULL, &cfg, &err);
	if (r != -EINVAL || cfg != NULL)
		return "(parse did not fail with -EINVAL and a NULL config)";
	return ERRTEXT(err);
}

static const char storage_cfg[] =
	"# storages of the demo cluster\n"
	"dir: local\n"
	"\tpath /var/lib/vz\n"
	"\tcontent iso,vztmpl,backup,images\n"
	"\tprune-backups keep-daily=7\n"
	"\tshared 0\n"
	"\n"
	"lvmthin: local-lvm\n"
	"        thinpool data\n"
	"        vgname pve\n"
	"        content rootdir,images\n"
	"        disable\n"
	"\n"
	"nfs: nas\n"
	"\tserver 198.18.0.10\n"
	"\texport /export/pve\n"
	"\tpath /mnt/pve/nas\n"
	"\toptions vers=4.2,soft\n";

static void test_storage_cfg_sections_in_order(void)
{
	struct warnings ws = { 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *cfg =
		parse_ok("storage.cfg", storage_cfg, &schema_storage_cfg, &ws);
	CHECK(cfg);
	CHECK_INT(ws.count, 0);
	CHECK_INT(cfg->count, 3);
	const struct sectioncfg_section *s = &cfg->sections[0];
	CHECK_STR(s->type, "dir");
	CHECK_STR(s->id, "local");
	CHECK_INT(s->line, 2);
	CHECK_INT(s->count, 4);
	CHECK_STR(s->entries[0].key, "path");
	CHECK_STR(s->entries[0].value, "/var/lib/vz");
	CHECK_INT(s->entries[0].line, 3);
	CHECK_STR(sectioncfg_get(s, "content"), "iso,vztmpl,backup,images");
	s = sectioncfg_find(cfg, "lvmthin", "local-lvm");
	CHECK(s);
	CHECK_STR(sectioncfg_get(s, "vgname"), "pve");
	CHECK_STR(sectioncfg_get(s, "disable"), "");
	CHECK(sectioncfg_get(s, "path") == NULL);
	CHECK(sectioncfg_find(cfg, NULL, "nas"));
	CHECK(sectioncfg_find(cfg, "dir", "nas") == NULL);
	CHECK_STR(sectioncfg_get(sectioncfg_find(cfg, "nfs", "nas"), "options"), "vers=4.2,soft");
}

static void test_value_is_rest_of_line_trimmed(void)
{
	struct warnings ws = { 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *cfg =
		parse_ok("jobs.cfg", "vzdump: j1\n\tschedule   mon..fri 22:30  \r\n\tnotes-template {{guestname}} nightly\n",
			 NULL, &ws);
	CHECK(cfg);
	CHECK_STR(sectioncfg_get(&cfg->sections[0], "schedule"), "mon..fri 22:30");
	CHECK_STR(sectioncfg_get(&cfg->sections[0], "notes-template"), "{{guestname}} nightly");
}

static void test_comments_anywhere_and_header_without_blank_line(void)
{
	struct warnings ws = { 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *cfg =
		parse_ok("x.cfg", "# top\nvm: 100\n# inside\n\tstate started\n    # indented comment\nvm: 101\n\tstate stopped\n\n\n",
			 NULL, &ws);
	CHECK(cfg);
	CHECK_INT(cfg->count, 2);
	CHECK_INT(cfg->sections[0].count, 1);
	CHECK_STR(sectioncfg_get(&cfg->sections[1], "state"), "stopped");
}

static void test_same_id_in_different_types_is_fine(void)
{
	struct warnings ws = { 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *cfg = parse_ok("x.cfg", "vm: 100\n\nct: 100\n", NULL, &ws);
	CHECK(cfg);
	CHECK_INT(cfg->count, 2);
}

static void test_empty_file(void)
{
	struct warnings ws = { 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *cfg = parse_ok("x.cfg", "", NULL, &ws);
	CHECK(cfg);
	CHECK_INT(cfg->count, 0);
}

static void test_structural_errors(void)
{
	CHECK_STR(parse_fail("storage.cfg", "\tpath /x\n", NULL),
		  "storage.cfg:1: property 'path /x' outside of a section");
	CHECK_STR(parse_fail("storage.cfg", "dir: a\n\tpath /x\n\n\tcontent iso\n", NULL),
		  "storage.cfg:4: property 'content iso' outside of a section");
	CHECK_STR(parse_fail("storage.cfg", "dir local\n", NULL),
		  "storage.cfg:1: malformed section header 'dir local' (expected 'type: id')");
	CHECK_STR(parse_fail("storage.cfg", "dir:local\n", NULL),
		  "storage.cfg:1: malformed section header 'dir:local' (expected 'type: id')");
	CHECK_STR(parse_fail("storage.cfg", ": local\n", NULL),
		  "storage.cfg:1: malformed section header ': local' (expected 'type: id')");
	CHECK_STR(parse_fail("storage.cfg", "dir: \n", NULL), "storage.cfg:1: malformed section header 'dir:' (expected 'type: id')");
	CHECK_STR(parse_fail("storage.cfg", "dir:  \t\n", NULL), "storage.cfg:1: malformed section header 'dir:' (expected 'type: id')");
	CHECK_STR(parse_fail("storage.cfg", "dir: my local\n", NULL), "storage.cfg:1: section id 'my local' contains a space");
	CHECK_STR(parse_fail("storage.cfg", "d ir: local\n", NULL), "storage.cfg:1: section type 'd ir' contains a space");
	CHECK_STR(parse_fail("storage.cfg", "dir: a\n\tpath /x\n\ndir: b\n\ndir: a\n", NULL),
		  "storage.cfg:6: section 'dir: a' given twice (first at line 1)");
	CHECK_STR(parse_fail("storage.cfg", "dir: a\n\tpath /x\n\tshared 1\n\tpath /y\n", NULL),
		  "storage.cfg:4: key 'path': given twice in section 'a' (first at line 2)");
	CHECK_STR(parse_fail("storage.cfg", "dir: a\n\tpath /x\npath /y\n", NULL),
		  "storage.cfg:3: malformed section header 'path /y' (expected 'type: id')");
	static const char nul[] = "dir: a\n\tpath /x\0y\n";
	struct sectioncfg *cfg = NULL;
	struct parse_error err;
	CHECK_INT(sectioncfg_parse(nul, sizeof(nul) - 1, "storage.cfg", NULL, NULL, NULL, &cfg, &err), -EINVAL);
	CHECK(cfg == NULL);
	CHECK_STR(ERRTEXT(err), "storage.cfg:2: contains a NUL byte (not a text file)");
}

static void test_storage_schema_errors(void)
{
	const struct cfgschema *s = &schema_storage_cfg;
	CHECK_STR(parse_fail("storage.cfg", "dir: local\n\tcontent iso\n", s),
		  "storage.cfg:1: key 'path': required by dir 'local' but missing");
	CHECK_STR(parse_fail("storage.cfg", "dir: local\n\tpath var/lib/vz\n", s),
		  "storage.cfg:2: key 'path': 'var/lib/vz' is not an absolute path");
	CHECK_STR(parse_fail("storage.cfg", "lvmthin: t\n\tvgname pve\n", s),
		  "storage.cfg:1: key 'thinpool': required by lvmthin 't' but missing");
	CHECK_STR(parse_fail("storage.cfg", "lvm: l\n\tcontent images\n", s),
		  "storage.cfg:1: key 'vgname': required by lvm 'l' but missing");
	CHECK_STR(parse_fail("storage.cfg", "dir: d\n\tpath /x\n\tcontent iso,movies\n", s),
		  "storage.cfg:3: key 'content': 'movies' is not one of: images, rootdir, vztmpl, iso, backup, snippets, import, none");
	CHECK_STR(parse_fail("storage.cfg", "dir: d\n\tpath /x\n\tshared yes\n", s),
		  "storage.cfg:3: key 'shared': 'yes' is not a boolean (0 or 1)");
	CHECK_STR(parse_fail("storage.cfg", "dir: d\n\tpath /x\n\tprune-backups keep-daily=x\n", s),
		  "storage.cfg:3: key 'prune-backups': keep-daily: 'x' is not a number");
	CHECK_STR(parse_fail("storage.cfg", "dir: d\n\tpath /x\n\tprune-backups keep-all=1,keep-last=2\n", s),
		  "storage.cfg:3: key 'prune-backups': keep-all: keep-all=1 must stand alone");
	CHECK_STR(parse_fail("storage.cfg", "dir: d\n\tpath /x\n\tprune-backups keep-forever=1\n", s),
		  "storage.cfg:3: key 'prune-backups': keep-forever: unknown retention option");
	CHECK_STR(parse_fail("storage.cfg", "dir: d\n\tpath /x\n\tnodes n1,n 2\n", s),
		  "storage.cfg:3: key 'nodes': 'n 2' contains ' '");
}

static void test_unknown_types_and_keys_are_warnings(void)
{
	struct warnings ws = { 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *cfg =
		parse_ok("storage.cfg", "rbd: ceph\n\tpool rbd\n\ndir: d\n\tpath /x\n\tcolour blue\n", &schema_storage_cfg, &ws);
	CHECK(cfg);
	CHECK_INT(ws.count, 2);
	CHECK_STR(ws.text, "storage.cfg:1: unknown section type 'rbd' in storage.cfg\n"
			   "storage.cfg:6: key 'colour': unknown key for type 'dir'\n");
	CHECK_STR(sectioncfg_get(&cfg->sections[1], "colour"), "blue");
}

static const char jobs_cfg[] =
	"vzdump: backup-nightly\n"
	"\tschedule mon..fri 22:30\n"
	"\tenabled 1\n"
	"\tstorage backup\n"
	"\tall 1\n"
	"\texclude 102\n"
	"\tmode snapshot\n"
	"\tcompress zstd\n"
	"\tprune-backups keep-last=3,keep-daily=7,keep-weekly=4\n"
	"\tnotes-template {{guestname}} nightly\n"
	"\n"
	"vzdump: backup-weekly-db\n"
	"\tschedule sat 02:00\n"
	"\tvmid 101,102\n"
	"\tmode stop\n";

static void test_jobs_schema(void)
{
	struct warnings ws = { 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *cfg = parse_ok("jobs.cfg", jobs_cfg, &schema_jobs_cfg, &ws);
	CHECK(cfg);
	CHECK_INT(ws.count, 0);
	const struct cfgschema *s = &schema_jobs_cfg;
	CHECK_STR(parse_fail("jobs.cfg", "vzdump: j\n\tall 1\n", s), "jobs.cfg:1: key 'schedule': required by vzdump 'j' but missing");
	CHECK_STR(parse_fail("jobs.cfg", "vzdump: j\n\tschedule daily\n\tmode fast\n\tall 1\n", s),
		  "jobs.cfg:3: key 'mode': 'fast' is not one of: snapshot, suspend, stop");
	CHECK_STR(parse_fail("jobs.cfg", "vzdump: j\n\tschedule daily\n\tvmid 100,abc\n", s),
		  "jobs.cfg:3: key 'vmid': 'abc' is not a number");
	CHECK_STR(parse_fail("jobs.cfg", "vzdump: j\n\tschedule daily\n\tvmid 99\n", s),
		  "jobs.cfg:3: key 'vmid': 99 is out of range 100..999999999");
	CHECK_STR(parse_fail("jobs.cfg", "vzdump: j\n\tschedule daily\n", s),
		  "jobs.cfg:1: backup job 'j' names no guests (all 1, vmid or pool)");
	CHECK_STR(parse_fail("jobs.cfg", "vzdump: j\n\tschedule daily\n\tall 0\n", s),
		  "jobs.cfg:1: backup job 'j' names no guests (all 1, vmid or pool)");
}

static void test_ha_schemas(void)
{
	struct warnings ws = { 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *res = parse_ok(
		"ha/resources.cfg", "vm: 100\n\tstate started\n\tmax_restart 1\n\tmax_relocate 1\n\nvm: 101\n\tcomment database\n",
		schema_for_path("ha/resources.cfg"), &ws);
	CHECK(res);
	_cleanup_(sectioncfg_freep) struct sectioncfg *rules = parse_ok(
		"ha/rules.cfg",
		"node-affinity: web\n\tresources vm:100\n\tnodes n1:2,n2:1,n3\n\tstrict 0\n\n"
		"resource-affinity: apart\n\tresources vm:100,vm:101\n\taffinity negative\n",
		schema_for_path("/ha/rules.cfg"), &ws);
	CHECK(rules);
	_cleanup_(sectioncfg_freep) struct sectioncfg *groups = parse_ok(
		"ha/groups.cfg", "group: g1\n\tnodes n1:2,n2\n\trestricted 1\n", schema_for_path("ha/groups.cfg"), &ws);
	CHECK(groups);
	CHECK_INT(ws.count, 0);
	CHECK_STR(parse_fail("ha/resources.cfg", "vm: 100\n\tstate running\n", &schema_ha_resources_cfg),
		  "ha/resources.cfg:2: key 'state': 'running' is not one of: started, stopped, disabled, ignored, enabled");
	CHECK_STR(parse_fail("ha/rules.cfg", "node-affinity: r\n\tresources vm:100\n\tnodes n1:x\n", &schema_ha_rules_cfg),
		  "ha/rules.cfg:3: key 'nodes': 'x' is not a number");
	CHECK_STR(parse_fail("ha/rules.cfg", "node-affinity: r\n\tresources qemu:100\n\tnodes n1\n", &schema_ha_rules_cfg),
		  "ha/rules.cfg:2: key 'resources': 'qemu' is not vm:<id> or ct:<id>");
	CHECK_STR(parse_fail("ha/rules.cfg", "resource-affinity: r\n\tresources vm:100\n", &schema_ha_rules_cfg),
		  "ha/rules.cfg:1: key 'affinity': required by resource-affinity 'r' but missing");
}

static void test_sdn_schemas(void)
{
	struct warnings ws = { 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *zones =
		parse_ok("sdn/zones.cfg", "simple: z1\n\nvlan: z2\n\tbridge vmbr0\n", schema_for_path("sdn/zones.cfg"), &ws);
	CHECK(zones);
	_cleanup_(sectioncfg_freep) struct sectioncfg *vnets = parse_ok(
		"sdn/vnets.cfg", "vnet: v100\n\tzone z2\n\ttag 100\n\tvlanaware 0\n", schema_for_path("sdn/vnets.cfg"), &ws);
	CHECK(vnets);
	CHECK_INT(ws.count, 0);
	CHECK_STR(parse_fail("sdn/zones.cfg", "vlan: z2\n", &schema_sdn_zones_cfg),
		  "sdn/zones.cfg:1: key 'bridge': required by vlan 'z2' but missing");
	CHECK_STR(parse_fail("sdn/vnets.cfg", "vnet: v\n\tzone z\n\ttag 0\n", &schema_sdn_vnets_cfg),
		  "sdn/vnets.cfg:3: key 'tag': 0 is out of range 1..16777215");
	CHECK(schema_for_path("user.cfg") == NULL);
}

static const struct test tests[] = {
	TEST(test_storage_cfg_sections_in_order),
	TEST(test_value_is_rest_of_line_trimmed),
	TEST(test_comments_anywhere_and_header_without_blank_line),
	TEST(test_same_id_in_different_types_is_fine),
	TEST(test_empty_file),
	TEST(test_structural_errors),
	TEST(test_storage_schema_errors),
	TEST(test_unknown_types_and_keys_are_warnings),
	TEST(test_jobs_schema),
	TEST(test_ha_schemas),
	TEST(test_sdn_schemas),
};
TEST_MAIN(tests)
