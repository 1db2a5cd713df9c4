/* fuzz-vmconf.c - fuzz target for vmconf_parse (see fuzz-driver.c).
 *
 * Beyond "does not crash": a failure has a reason and a line inside the
 * input; a success has the current section first, entries with lines in
 * order, and a view whose every disk and NIC is a key of the config. */
#include <stdint.h>

#include "fuzz-common.h"
#include "vmconf.h"

static void check_success(const struct vmconf *conf, int max_line)
{
	FUZZ_ASSERT(conf->section_count >= 1);
	FUZZ_ASSERT(conf->sections[0].kind == VMCONF_CURRENT);
	int last = 0;
	for (size_t s = 0; s < conf->section_count; s++) {
		const struct vmconf_section *sec = &conf->sections[s];
		FUZZ_ASSERT(s == 0 || sec->line > last);
		last = sec->line;
		for (size_t i = 0; i < sec->count; i++) {
			FUZZ_ASSERT(sec->entries[i].line > last && sec->entries[i].line <= max_line);
			last = sec->entries[i].line;
			FUZZ_ASSERT(vmconf_find(sec, sec->entries[i].key) == &sec->entries[i]);
		}
	}
	const struct vmconf_view *v = vmconf_view(conf);
	for (size_t i = 0; i < v->disk_count; i++) {
		FUZZ_ASSERT(vmconf_get(vmconf_current(conf), v->disks[i].key) != NULL);
		FUZZ_ASSERT(v->disks[i].volume != NULL);
	}
	for (size_t i = 0; i < v->nic_count; i++) {
		FUZZ_ASSERT(vmconf_is_nic_key(v->nics[i].key, NULL));
		FUZZ_ASSERT(v->nics[i].model != NULL);
	}
	FUZZ_ASSERT(v->memory >= 16 && v->cores >= 1 && v->sockets >= 1);
	FUZZ_ASSERT(v->vcpus <= v->cores * v->sockets);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char file[] = "nodes/n1/qemu-server/100.conf";
	struct vmconf *conf = NULL;
	struct parse_error err;
	int warnings = 0;
	int r = vmconf_parse((const char *)data, size, file, fuzz_count_warning, &warnings, &conf, &err);
	int max_line = fuzz_count_lines(data, size);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
		FUZZ_ASSERT(conf == NULL);
		if (r == -EINVAL)
			fuzz_check_error(&err, file, max_line);
		return 0;
	}
	check_success(conf, max_line);
	vmconf_free(conf);
	return 0;
}
