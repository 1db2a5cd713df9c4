/* propstr.c - property string parsing and typed lookups (see propstr.h).
 *
 * The text is copied once and split in place: items point into that copy,
 * so a parsed property string is two allocations whatever its length. */
#include "propstr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

const char *const propstr_nic_models[] = {
	"virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "ne2k_pci", "ne2k_isa", "i82551",
	"i82557b", "i82559er", "pcnet", "e1000-82540em", "e1000-82544gc", "e1000-82545em", NULL,
};

void propstr_free(struct propstr *ps)
{
	free(ps->items);
	free(ps->buf);
	*ps = (struct propstr){ 0 };
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

/* Split one item in place into key and value. */
static int split_item(char *item, size_t index, const char *default_key, struct propstr_item *out,
		      struct parse_error *err)
{
	if (item[0] == '\0')
		return parse_error_fail(err, NULL, "empty item at position %zu", index + 1);
	char *eq = strchr(item, '=');
	if (!eq) {
		if (index != 0 || !default_key)
			return parse_error_fail(err, NULL, "item '%.64s' has no '='", item);
		out->key = default_key;
		out->value = item;
		return 0;
	}
	*eq = '\0';
	if (item[0] == '\0')
		return parse_error_fail(err, NULL, "item '=%.64s' has an empty key", eq + 1);
	out->key = item;
	out->value = eq + 1;
	return 0;
}

int propstr_parse(struct propstr *ps, const char *text, const char *default_key, struct parse_error *err)
{
	*ps = (struct propstr){ 0 };
	struct propstr tmp = { 0 };
	tmp.buf = strdup(text);
	size_t max_items = count_char(text, ',') + 1;
	tmp.items = calloc(max_items, sizeof(*tmp.items));
	if (!tmp.buf || !tmp.items) {
		propstr_free(&tmp);
		return -ENOMEM;
	}
	if (text[0] == '\0') {
		*ps = tmp; /* an empty string is an empty list */
		return 0;
	}
	char *item = tmp.buf;
	for (size_t i = 0; item; i++) {
		char *comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		int r = split_item(item, i, default_key, &tmp.items[i], err);
		if (r == 0 && propstr_has(&tmp, tmp.items[i].key))
			r = parse_error_fail(err, tmp.items[i].key, "given twice");
		if (r < 0) {
			propstr_free(&tmp);
			return r;
		}
		tmp.count = i + 1;
		item = comma ? comma + 1 : NULL;
	}
	*ps = tmp;
	return 0;
}

const char *propstr_get(const struct propstr *ps, const char *key)
{
	for (size_t i = 0; i < ps->count; i++)
		if (strcmp(ps->items[i].key, key) == 0)
			return ps->items[i].value;
	return NULL;
}

bool propstr_has(const struct propstr *ps, const char *key)
{
	return propstr_get(ps, key) != NULL;
}

int propstr_get_int(const struct propstr *ps, const char *key, long long min, long long max, long long def,
		    long long *out, struct parse_error *err)
{
	const char *v = propstr_get(ps, key);
	if (!v) {
		*out = def;
		return 0;
	}
	return value_parse_int(key, v, min, max, out, err);
}

int propstr_get_bool(const struct propstr *ps, const char *key, bool def, bool *out, struct parse_error *err)
{
	const char *v = propstr_get(ps, key);
	if (!v) {
		*out = def;
		return 0;
	}
	return value_parse_bool(key, v, out, err);
}

int propstr_get_size(const struct propstr *ps, const char *key, uint64_t def, uint64_t *out,
		     struct parse_error *err)
{
	const char *v = propstr_get(ps, key);
	if (!v) {
		*out = def;
		return 0;
	}
	return value_parse_size(key, v, out, err);
}

int propstr_get_enum(const struct propstr *ps, const char *key, const char *const *allowed, const char *def,
		     const char **out, struct parse_error *err)
{
	const char *v = propstr_get(ps, key);
	if (!v) {
		*out = def;
		return 0;
	}
	return value_parse_enum(key, v, allowed, out, err);
}

int propstr_get_mac(const struct propstr *ps, const char *key, char out[18], struct parse_error *err)
{
	const char *v = propstr_get(ps, key);
	out[0] = '\0';
	if (!v)
		return 0;
	return value_parse_mac(key, v, out, err);
}

void propstr_warn_unknown(const struct propstr *ps, const char *const *known, const char *config_key,
			  parse_warn_fn warn, void *userdata, const char *file, int line)
{
	for (size_t i = 0; i < ps->count; i++)
		if (!value_in_list(ps->items[i].key, known))
			parse_warn(warn, userdata, file, line, config_key, "unknown property '%.64s'",
				   ps->items[i].key);
}

int propstr_find_nic_model(const struct propstr *ps, const char **model, char mac[18], struct parse_error *err)
{
	*model = NULL;
	mac[0] = '\0';
	const char *mac_text = NULL;
	for (size_t i = 0; i < ps->count; i++) {
		const struct propstr_item *it = &ps->items[i];
		const char *name = NULL, *addr = NULL;
		if (strcmp(it->key, "model") == 0) {
			name = it->value;
			addr = propstr_get(ps, "macaddr");
		} else if (value_in_list(it->key, propstr_nic_models)) {
			name = it->key;
			addr = it->value[0] ? it->value : NULL;
		} else {
			continue;
		}
		if (*model)
			return parse_error_fail(err, it->key, "a second NIC model (first was '%s')", *model);
		int r = value_parse_enum("model", name, propstr_nic_models, model, err);
		if (r < 0)
			return r;
		mac_text = addr;
	}
	if (!*model)
		return parse_error_fail(err, NULL, "no NIC model (one of virtio, e1000, e1000e, rtl8139, vmxnet3, ...)");
	if (mac_text)
		return value_parse_mac("macaddr", mac_text, mac, err);
	return 0;
}

void propstr_list_free(struct propstr_list *list)
{
	free(list->items);
	free(list->buf);
	*list = (struct propstr_list){ 0 };
}

int propstr_split_list(struct propstr_list *list, const char *key, const char *text, char sep,
		       struct parse_error *err)
{
	*list = (struct propstr_list){ 0 };
	struct propstr_list tmp = { 0 };
	tmp.buf = strdup(text);
	tmp.items = calloc(count_char(text, sep) + 1, sizeof(*tmp.items));
	if (!tmp.buf || !tmp.items) {
		propstr_list_free(&tmp);
		return -ENOMEM;
	}
	if (text[0] != '\0') {
		for (char *entry = tmp.buf; entry;) {
			char *next = strchr(entry, sep);
			if (next)
				*next++ = '\0';
			if (entry[0] == '\0') {
				propstr_list_free(&tmp);
				return parse_error_fail(err, key, "empty entry in '%.64s'", text);
			}
			tmp.items[tmp.count++] = entry;
			entry = next;
		}
	}
	*list = tmp;
	return 0;
}
