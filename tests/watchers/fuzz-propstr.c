/* fuzz-propstr.c - fuzz target for property strings and value parsers.
 *
 * The input (up to the first NUL) is parsed as a property string with and
 * without a default key; every item then goes through every typed getter,
 * the NIC model finder and the list splitter. */
#include <stdint.h>

#include "fuzz-common.h"
#include "propstr.h"
#include "value.h"

static void exercise_items(const struct propstr *ps)
{
	static const char *const words[] = { "on", "ignore", "none", NULL };
	struct parse_error err;
	for (size_t i = 0; i < ps->count; i++) {
		const char *key = ps->items[i].key;
		const char *value = ps->items[i].value;
		FUZZ_ASSERT(propstr_get(ps, key) == value); /* keys are unique */
		FUZZ_ASSERT(!strchr(value, ','));
		long long n;
		bool b;
		uint64_t sz, milli;
		const char *e;
		char mac[18];
		if (propstr_get_int(ps, key, -1000, 1000, 0, &n, &err) == 0)
			FUZZ_ASSERT(n >= -1000 && n <= 1000);
		if (propstr_get_bool(ps, key, false, &b, &err) == 0)
			FUZZ_ASSERT(strcmp(value, "0") == 0 || strcmp(value, "1") == 0);
		(void)propstr_get_size(ps, key, 0, &sz, &err);
		if (propstr_get_enum(ps, key, words, NULL, &e, &err) == 0)
			FUZZ_ASSERT(strcmp(e, value) == 0);
		if (propstr_get_mac(ps, key, mac, &err) == 0)
			FUZZ_ASSERT(strlen(mac) == 17);
		(void)value_parse_milli(key, value, &milli, &err);
		(void)value_parse_uuid(key, value, &err);
		(void)value_parse_ident(key, value, 15, &err);
		struct propstr_list list;
		if (propstr_split_list(&list, key, value, ';', &err) == 0) {
			for (size_t j = 0; j < list.count; j++)
				FUZZ_ASSERT(list.items[j][0] != '\0');
			propstr_list_free(&list);
		}
	}
	const char *model;
	char mac[18];
	if (propstr_find_nic_model(ps, &model, mac, &err) == 0)
		FUZZ_ASSERT(value_in_list(model, propstr_nic_models));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	static const char *const default_keys[] = { "file", NULL };
	for (size_t k = 0; k < 2; k++) {
		struct propstr ps;
		struct parse_error err;
		parse_error_clear(&err);
		int r = propstr_parse(&ps, text, default_keys[k], &err);
		if (r < 0) {
			FUZZ_ASSERT(ps.count == 0 && ps.items == NULL);
			fuzz_check_error(&err, NULL, 0);
			continue;
		}
		exercise_items(&ps);
		propstr_free(&ps);
	}
	free(text);
	return 0;
}
