/* netstatus.c - see netstatus.h. */
#include "netstatus.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

void netstatus_warning_text(const struct nd_warning *w, char *buf, size_t size)
{
	if (w->line)
		snprintf(buf, size, "%s:%u: %s", w->file, w->line, w->text);
	else
		snprintf(buf, size, "%s: %s", w->file, w->text);
}

/* A status value may hold at most 64 KiB (NODESTATUS_VALUE_MAX): a node
 * with hundreds of VM NIC reports must not lose its whole entry, so the
 * list keeps the first warnings up to this many bytes and then says how
 * many more there are (all of them are in the log). */
#define WARNINGS_BUDGET (32 * 1024)

void netstatus_warnings_init(struct netstatus_warnings *list)
{
	*list = (struct netstatus_warnings){ .array = json_object_new_array() };
}

void netstatus_warnings_add(struct netstatus_warnings *list, const char *text)
{
	size_t n = strlen(text);
	if (list->dropped || list->bytes + n > WARNINGS_BUDGET) {
		list->dropped++;
		return;
	}
	list->bytes += n;
	json_object_array_add(list->array, json_object_new_string(text));
}

json_object *netstatus_warnings_finish(struct netstatus_warnings *list)
{
	if (list->dropped) {
		char more[128];
		snprintf(more, sizeof(more), "%zu more warnings not shown (see the log)", list->dropped);
		json_object_array_add(list->array, json_object_new_string(more));
	}
	return list->array;
}

static json_object *addr_list(const struct nd_addr *addrs, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		char buf[80];
		json_object_array_add(a, json_object_new_string(nd_addr_format(&addrs[i], buf, sizeof(buf))));
	}
	return a;
}

static json_object *declared(const struct nd_state *want, const struct nd_link *d)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "mtu", d->mtu ? json_object_new_int((int)d->mtu) : NULL);
	json_object_object_add(o, "up", json_object_new_boolean(d->up));
	json_object_object_add(o, "master", d->master[0] ? json_object_new_string(d->master) : NULL);
	json_object_object_add(o, "addresses", addr_list(d->addrs, d->n_addrs));
	if (d->kind == ND_BRIDGE || d->kind == ND_BOND) {
		json_object *ports = json_object_new_array();
		for (size_t i = 0; i < want->n_links; i++)
			if (strcmp(want->links[i].master, d->name) == 0)
				json_object_array_add(ports, json_object_new_string(want->links[i].name));
		json_object_object_add(o, "ports", ports);
	}
	if (d->kind == ND_VLAN) {
		json_object_object_add(o, "parent", json_object_new_string(d->parent));
		json_object_object_add(o, "vid", json_object_new_int((int)d->vid));
	}
	return o;
}

static json_object *actual(const struct nl_snapshot *have, const struct nl_link *l)
{
	json_object *o = json_object_new_object();
	const struct nl_link *m = l->master ? nl_find_ifindex(have, l->master) : NULL;
	json_object_object_add(o, "kind", json_object_new_string(l->kind[0] ? l->kind : "device"));
	json_object_object_add(o, "mtu", json_object_new_int((int)l->mtu));
	json_object_object_add(o, "up", json_object_new_boolean(l->flags & IFF_UP));
	json_object_object_add(o, "master", m ? json_object_new_string(m->name) : NULL);
	json_object_object_add(o, "owned", json_object_new_boolean(nl_link_is_owned(l)));
	json_object *addrs = json_object_new_array();
	for (size_t i = 0; i < have->n_addrs; i++) {
		char buf[80];
		if (have->addrs[i].ifindex != l->ifindex || have->addrs[i].scope == RT_SCOPE_LINK)
			continue;
		json_object_array_add(addrs, json_object_new_string(nd_addr_format(&have->addrs[i].addr, buf,
										   sizeof(buf))));
	}
	json_object_object_add(o, "addresses", addrs);
	return o;
}

/* A warning belongs to a link if it points at the link's declaration line
 * or names the link as a word. */
static bool warning_is_about(const struct nd_warning *w, const struct nd_link *d, const char *name)
{
	if (d && w->line && w->line == d->line && d->file && strcmp(w->file, d->file) == 0)
		return true;
	size_t n = strlen(name);
	for (const char *p = strstr(w->text, name); p; p = strstr(p + 1, name)) {
		bool start = p == w->text || strchr(" '\"(", p[-1]);
		bool end = !p[n] || strchr(" '\",:;.)", p[n]);
		if (start && end)
			return true;
	}
	return false;
}

json_object *netstatus_link(const struct nd_state *want, const struct nd_link *d, const char *name,
			    const struct nl_snapshot *have, const struct rc_plan *pending)
{
	const struct nl_link *l = nl_find_link(have, name);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string(d ? nd_kind_name(d->kind) : l ? l->kind : "?"));
	json_object_object_add(o, "file", d && d->file ? json_object_new_string(d->file) : NULL);
	json_object_object_add(o, "line", d ? json_object_new_int((int)d->line) : NULL);
	json_object_object_add(o, "declared", d ? declared(want, d) : NULL);
	json_object_object_add(o, "actual", l ? actual(have, l) : NULL);
	json_object *todo = json_object_new_array();
	for (size_t i = 0; pending && i < pending->n_actions; i++) {
		if (strcmp(pending->actions[i].link, name) != 0)
			continue;
		char what[256];
		reconcile_describe(&pending->actions[i], what, sizeof(what));
		json_object_array_add(todo, json_object_new_string(what));
	}
	bool in_sync = pending && json_object_array_length(todo) == 0 && (d ? l != NULL : true);
	json_object_object_add(o, "in_sync", json_object_new_boolean(in_sync));
	json_object_object_add(o, "pending", todo);
	struct netstatus_warnings warnings;
	netstatus_warnings_init(&warnings);
	for (size_t i = 0; want && i < want->n_warnings; i++) {
		if (!warning_is_about(&want->warnings[i], d, name))
			continue;
		char text[700];
		netstatus_warning_text(&want->warnings[i], text, sizeof(text));
		netstatus_warnings_add(&warnings, text);
	}
	json_object_object_add(o, "warnings", netstatus_warnings_finish(&warnings));
	return o;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

static void print_strings(const char *node, const char *name, const char *label, json_object *o, const char *key)
{
	json_object *a;
	if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		printf("%s %s %s: %s\n", node, name, label, json_object_get_string(json_object_array_get_idx(a, i)));
}

static void print_summary(const char *node, json_object *o)
{
	json_object *err;
	printf("%s net result=%s actions=%s changes=%s restores=%s cluster-address=%s (%s)\n", node,
	       str_of(o, "result") ?: "?", str_of(o, "actions") ?: "0", str_of(o, "changes") ?: "0",
	       str_of(o, "restores") ?: "0", str_of(o, "cluster_address") ?: "none",
	       str_of(o, "cluster_address_source") ?: "?");
	if (json_object_object_get_ex(o, "error", &err) && err) {
		const char *line = str_of(err, "line");
		printf("%s net error: %s%s%s: %s\n", node, str_of(err, "file") ?: "", line && strcmp(line, "0") ? ":" : "",
		       line && strcmp(line, "0") ? line : "", str_of(err, "reason") ?: "");
	}
	print_strings(node, "net", "warning", o, "warnings");
}

static void print_link(const char *node, const char *name, json_object *o)
{
	json_object *dec = NULL, *act = NULL, *sync = NULL;
	json_object_object_get_ex(o, "declared", &dec);
	json_object_object_get_ex(o, "actual", &act);
	json_object_object_get_ex(o, "in_sync", &sync);
	printf("%s %s %s %s", node, name, str_of(o, "kind") ?: "?",
	       json_object_get_boolean(sync) ? "in-sync" : "out-of-sync");
	if (!dec)
		printf(" undeclared");
	if (!act) {
		printf(" absent\n");
	} else {
		json_object *up = NULL;
		json_object_object_get_ex(act, "up", &up);
		printf(" mtu=%s %s", str_of(act, "mtu") ?: "?", json_object_get_boolean(up) ? "up" : "down");
		if (str_of(act, "master"))
			printf(" master=%s", str_of(act, "master"));
		json_object *addrs;
		if (json_object_object_get_ex(act, "addresses", &addrs))
			for (size_t i = 0; i < json_object_array_length(addrs); i++)
				printf("%s%s", i ? "," : " addresses=",
				       json_object_get_string(json_object_array_get_idx(addrs, i)));
		printf("\n");
	}
	print_strings(node, name, "pending", o, "pending");
	print_strings(node, name, "warning", o, "warnings");
}

void netstatus_print(const char *node, const char *key, const char *value)
{
	json_object *o = json_tokener_parse(value);
	if (!o) {
		printf("%s %s (unreadable status)\n", node, key);
		return;
	}
	if (strcmp(key, "net") == 0)
		print_summary(node, o);
	else if (strncmp(key, "net/", 4) == 0)
		print_link(node, key + 4, o);
	json_object_put(o);
}
