/* vmconf_view.c - typed checks of a VM's current config (see vmconf_view.h).
 *
 * One rule per known key (or family of indexed keys such as scsi0-30): a
 * check function that validates the value and fills the view.  A table
 * instead of a chain of strcmp()s so the list of keys reads like the
 * format's documentation.  Keys the table does not know are kept by
 * vmconf.c and reported here as warnings.  Checks that need two keys
 * (balloon <= memory, vcpus <= cores * sockets) run after all keys. */
#include "vmconf_view.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"
#include "vmconf.h"

#define MEMORY_MAX_MIB 8388608LL /* 8 TiB */

struct view_builder {
	struct vmconf_view *view;
	const char *file;
	parse_warn_fn warn;
	void *userdata;
	struct parse_error *err;
	size_t held_cap, disk_cap, nic_cap;
	const struct vmconf_entry *vcpus_entry, *balloon_entry;
};

typedef int (*key_check_fn)(struct view_builder *b, const struct vmconf_entry *e, int index);

struct key_rule {
	const char *name;   /* exact key, or prefix of an indexed key */
	int max_index;      /* -1: not indexed */
	key_check_fn check; /* NULL: known, kept as a string, not checked */
};

/* ---- helpers ---- */

static void warn_entry(struct view_builder *b, const struct vmconf_entry *e, const char *reason)
{
	parse_warn(b->warn, b->userdata, b->file, e->line, e->key, "%s", reason);
}

/* Parse e's value as a property string and keep it alive in the view so
 * strings can point into it.  Errors are nested under the config key. */
static int hold_propstr(struct view_builder *b, const struct vmconf_entry *e, const char *default_key,
			struct propstr **out)
{
	struct vmconf_view *v = b->view;
	if (v->held_count == b->held_cap) {
		size_t cap = b->held_cap ? b->held_cap * 2 : 8;
		struct propstr *h = realloc(v->held, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		v->held = h;
		b->held_cap = cap;
	}
	int r = propstr_parse(&v->held[v->held_count], e->value, default_key, b->err);
	if (r < 0) {
		parse_error_nest(b->err, e->key);
		return r;
	}
	*out = &v->held[v->held_count++];
	return 0;
}

static int nested(struct view_builder *b, const struct vmconf_entry *e, int r)
{
	if (r < 0)
		parse_error_nest(b->err, e->key);
	return r;
}

static void warn_unknown_props(struct view_builder *b, const struct vmconf_entry *e, const struct propstr *ps,
			       const char *const *known)
{
	propstr_warn_unknown(ps, known, e->key, b->warn, b->userdata, b->file, e->line);
}

static int check_int_into(struct view_builder *b, const struct vmconf_entry *e, long long min, long long max,
			  long long *out)
{
	return value_parse_int(e->key, e->value, min, max, out, b->err);
}

static int check_bool_into(struct view_builder *b, const struct vmconf_entry *e, bool *out)
{
	return value_parse_bool(e->key, e->value, out, b->err);
}

/* A DNS-style name: letters, digits, '-' and '.', starting with a letter
 * or digit. */
static int check_dns_name(struct view_builder *b, const struct vmconf_entry *e)
{
	const char *s = e->value;
	size_t len = strlen(s);
	if (len == 0 || len > 128 || !isalnum((unsigned char)s[0]))
		return parse_error_fail(b->err, e->key, "'%.64s' is not a valid name", s);
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return parse_error_fail(b->err, e->key, "'%.64s' is not a valid name", e->value);
	return 0;
}

/* ---- scalars ---- */

static int check_name(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	b->view->name = e->value;
	return check_dns_name(b, e);
}

static int check_memory(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const known[] = { "current", NULL };
	struct propstr *ps;
	int r = hold_propstr(b, e, "current", &ps);
	if (r < 0)
		return r;
	warn_unknown_props(b, e, ps, known);
	/* The plain form "memory: 2048" reports errors on the key itself. */
	if (ps->count == 1 && strcmp(e->value, ps->items[0].value) == 0)
		return check_int_into(b, e, 16, MEMORY_MAX_MIB, &b->view->memory);
	return nested(b, e, propstr_get_int(ps, "current", 16, MEMORY_MAX_MIB, 512, &b->view->memory, b->err));
}

static int check_balloon(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	b->view->has_balloon = true;
	b->balloon_entry = e;
	return check_int_into(b, e, 0, MEMORY_MAX_MIB, &b->view->balloon);
}

static int check_cores(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	return check_int_into(b, e, 1, 1024, &b->view->cores);
}

static int check_sockets(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	return check_int_into(b, e, 1, 64, &b->view->sockets);
}

static int check_vcpus(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	b->vcpus_entry = e;
	return check_int_into(b, e, 1, 65536, &b->view->vcpus);
}

static int check_numa(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	return check_bool_into(b, e, &b->view->numa);
}

static int check_plain_bool(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	return check_bool_into(b, e, NULL);
}

static int check_onboot(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	return check_bool_into(b, e, &b->view->onboot);
}

static int check_protection(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	return check_bool_into(b, e, &b->view->protection);
}

static int check_template(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	return check_bool_into(b, e, &b->view->template_);
}

/* CPU model names such as host, kvm64, x86-64-v2-AES, custom-foo. */
static int check_cpu(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const known[] = { "cputype", "flags", "hidden", "hv-vendor-id", "phys-bits",
					     "host-phys-bits", "reported-model", NULL };
	struct propstr *ps;
	int r = hold_propstr(b, e, "cputype", &ps);
	if (r < 0)
		return r;
	warn_unknown_props(b, e, ps, known);
	const char *type = propstr_get(ps, "cputype");
	if (!type)
		return parse_error_fail(b->err, e->key, "no cpu type in '%.64s'", e->value);
	bool ok = isalnum((unsigned char)type[0]);
	for (const char *c = type; ok && *c; c++)
		ok = isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.';
	if (!ok)
		return parse_error_fail(b->err, e->key, "'%.64s' is not a cpu type", type);
	b->view->cpu = type;
	b->view->cpu_flags = propstr_get(ps, "flags");
	return 0;
}

/* "pc", "q35", "pc-i440fx-8.1", "pc-q35-8.1+pve0". */
static bool machine_type_ok(const char *t)
{
	if (strcmp(t, "pc") == 0 || strcmp(t, "q35") == 0)
		return true;
	const char *rest;
	if (strncmp(t, "pc-i440fx-", 10) == 0)
		rest = t + 10;
	else if (strncmp(t, "pc-q35-", 7) == 0)
		rest = t + 7;
	else
		return false;
	/* version: digits '.' digits, then optionally "+pve" digits */
	if (!isdigit((unsigned char)*rest))
		return false;
	while (isdigit((unsigned char)*rest))
		rest++;
	if (*rest++ != '.' || !isdigit((unsigned char)*rest))
		return false;
	while (isdigit((unsigned char)*rest))
		rest++;
	if (*rest == '\0')
		return true;
	if (strncmp(rest, "+pve", 4) != 0 || !isdigit((unsigned char)rest[4]))
		return false;
	for (rest += 4; isdigit((unsigned char)*rest); rest++)
		;
	return *rest == '\0';
}

static int check_machine(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const known[] = { "type", "viommu", "enable-s3", "enable-s4", NULL };
	struct propstr *ps;
	int r = hold_propstr(b, e, "type", &ps);
	if (r < 0)
		return r;
	warn_unknown_props(b, e, ps, known);
	const char *type = propstr_get(ps, "type");
	if (!type || !machine_type_ok(type))
		return parse_error_fail(b->err, e->key, "'%.64s' is not a machine type (pc, q35, pc-i440fx-X.Y, pc-q35-X.Y)",
					type ? type : e->value);
	b->view->machine = type;
	b->view->q35 = strcmp(type, "q35") == 0 || strncmp(type, "pc-q35-", 7) == 0;
	return 0;
}

static int check_bios(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const allowed[] = { "seabios", "ovmf", NULL };
	const char *v;
	int r = value_parse_enum(e->key, e->value, allowed, &v, b->err);
	if (r == 0)
		b->view->bios = strcmp(v, "ovmf") == 0 ? VMCONF_BIOS_OVMF : VMCONF_BIOS_SEABIOS;
	return r;
}

static int check_ostype(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const allowed[] = { "other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8",
					       "win10", "win11", "l24", "l26", "solaris", NULL };
	return value_parse_enum(e->key, e->value, allowed, &b->view->ostype, b->err);
}

static int check_scsihw(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const allowed[] = { "lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single",
					       "megasas", "pvscsi", NULL };
	return value_parse_enum(e->key, e->value, allowed, &b->view->scsihw, b->err);
}

static int check_vga(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const types[] = { "std", "cirrus", "vmware", "qxl", "qxl2", "qxl3", "qxl4", "serial0",
					     "serial1", "serial2", "serial3", "virtio", "virtio-gl", "none", NULL };
	static const char *const known[] = { "type", "memory", "clipboard", NULL };
	struct propstr *ps;
	int r = hold_propstr(b, e, "type", &ps);
	if (r < 0)
		return r;
	warn_unknown_props(b, e, ps, known);
	long long mem;
	r = propstr_get_enum(ps, "type", types, NULL, &b->view->vga, b->err);
	if (r == 0)
		r = propstr_get_int(ps, "memory", 4, 512, 0, &mem, b->err);
	return nested(b, e, r);
}

static int check_agent(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const types[] = { "virtio", "isa", NULL };
	static const char *const known[] = { "enabled", "fstrim_cloned_disks", "type", "freeze-fs-on-backup", NULL };
	struct propstr *ps;
	int r = hold_propstr(b, e, "enabled", &ps);
	if (r < 0)
		return r;
	warn_unknown_props(b, e, ps, known);
	const char *type;
	bool freeze;
	r = propstr_get_bool(ps, "enabled", false, &b->view->agent, b->err);
	if (r == 0)
		r = propstr_get_bool(ps, "fstrim_cloned_disks", false, &b->view->agent_fstrim, b->err);
	if (r == 0)
		r = propstr_get_bool(ps, "freeze-fs-on-backup", true, &freeze, b->err);
	if (r == 0)
		r = propstr_get_enum(ps, "type", types, "virtio", &type, b->err);
	return nested(b, e, r);
}

static int check_serial(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	if (strcmp(e->value, "socket") != 0 && strncmp(e->value, "/dev/", 5) != 0)
		return parse_error_fail(b->err, e->key, "'%.64s' is neither 'socket' nor a /dev/ path", e->value);
	b->view->serial[index] = e->value;
	return 0;
}

static int check_smbios1(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const known[] = { "uuid", "manufacturer", "product", "version", "serial", "sku",
					     "family", "base64", NULL };
	struct propstr *ps;
	int r = hold_propstr(b, e, NULL, &ps);
	if (r < 0)
		return r;
	warn_unknown_props(b, e, ps, known);
	const char *uuid = propstr_get(ps, "uuid");
	if (uuid && (r = value_parse_uuid("uuid", uuid, b->err)) < 0)
		return nested(b, e, r);
	b->view->smbios_uuid = uuid;
	return 0;
}

static int check_startup(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const known[] = { "order", "up", "down", NULL };
	struct propstr *ps;
	int r = hold_propstr(b, e, NULL, &ps);
	if (r < 0)
		return r;
	warn_unknown_props(b, e, ps, known);
	struct vmconf_startup *s = &b->view->startup;
	r = propstr_get_int(ps, "order", 0, 1000000, -1, &s->order, b->err);
	if (r == 0)
		r = propstr_get_int(ps, "up", 0, 86400, -1, &s->up, b->err);
	if (r == 0)
		r = propstr_get_int(ps, "down", 0, 86400, -1, &s->down, b->err);
	return nested(b, e, r);
}

static int check_lock(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const allowed[] = { "backup", "clone", "create", "migrate", "rollback", "snapshot",
					       "snapshot-delete", "suspending", "suspended", NULL };
	return value_parse_enum(e->key, e->value, allowed, &b->view->lock, b->err);
}

static int check_string(struct view_builder *b, const struct vmconf_entry *e, const char **out)
{
	*out = e->value;
	return 0;
}

static int check_tags(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	return check_string(b, e, &b->view->tags);
}

static int check_args(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	return check_string(b, e, &b->view->args);
}

static int check_hotplug(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const parts[] = { "network", "disk", "cpu", "memory", "usb", "cloudinit", NULL };
	b->view->hotplug = e->value;
	if (strcmp(e->value, "0") == 0 || strcmp(e->value, "1") == 0)
		return 0;
	struct propstr_list list;
	int r = propstr_split_list(&list, e->key, e->value, ',', b->err);
	for (size_t i = 0; r == 0 && i < list.count; i++)
		r = value_parse_enum(e->key, list.items[i], parts, NULL, b->err);
	if (r == 0 && list.count == 0)
		r = parse_error_fail(b->err, e->key, "empty value");
	propstr_list_free(&list);
	return r;
}

static int check_vmgenid(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	b->view->vmgenid = e->value;
	if (strcmp(e->value, "0") == 0 || strcmp(e->value, "1") == 0)
		return 0;
	return value_parse_uuid(e->key, e->value, b->err);
}

static int check_parent(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	b->view->parent = e->value;
	return value_parse_ident(e->key, e->value, 40, b->err);
}

static bool boot_device_ok(const char *dev)
{
	static const struct { const char *prefix; int max; } others[] = { { "hostpci", 15 }, { "usb", 14 } };
	if (vmconf_is_disk_key(dev, NULL, NULL) || vmconf_is_nic_key(dev, NULL))
		return true;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		size_t n = strlen(others[i].prefix);
		if (strncmp(dev, others[i].prefix, n) == 0 && dev[n] && strspn(dev + n, "0123456789") == strlen(dev + n) &&
		    strlen(dev + n) <= 2 && atoi(dev + n) <= others[i].max)
			return true;
	}
	return false;
}

static int check_boot(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	/* Old style "boot: cdn" (floppy a, disk c, cdrom d, network n). */
	if (e->value[0] && !strchr(e->value, '=')) {
		if (strspn(e->value, "acdn") != strlen(e->value) || strlen(e->value) > 4)
			return parse_error_fail(b->err, e->key, "'%.64s' is neither order=... nor a legacy a/c/d/n list",
						e->value);
		b->view->boot_legacy = e->value;
		return 0;
	}
	static const char *const known[] = { "order", "legacy", NULL };
	struct propstr *ps;
	int r = hold_propstr(b, e, NULL, &ps);
	if (r < 0)
		return r;
	warn_unknown_props(b, e, ps, known);
	const char *order = propstr_get(ps, "order");
	if (!order)
		return 0;
	propstr_list_free(&b->view->boot_order);
	r = propstr_split_list(&b->view->boot_order, "order", order, ';', b->err);
	for (size_t i = 0; r == 0 && i < b->view->boot_order.count; i++) {
		const char *dev = b->view->boot_order.items[i];
		if (!boot_device_ok(dev))
			r = parse_error_fail(b->err, "order", "'%.32s' is not a disk or network device", dev);
	}
	return nested(b, e, r);
}

static int check_bootdisk(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	if (!vmconf_is_disk_key(e->value, NULL, NULL))
		return parse_error_fail(b->err, e->key, "'%.64s' is not a disk", e->value);
	return 0;
}

/* ---- disks ---- */

static const struct {
	const char *bus;
	int max_index;
} disk_buses[] = {
	{ "scsi", 30 }, { "virtio", 15 }, { "sata", 5 }, { "ide", 3 }, { "efidisk", 0 }, { "tpmstate", 0 },
};

/* "<prefix><index>" with index in 0..max and no leading zeros. */
static bool indexed_key(const char *key, const char *prefix, int max, int *index)
{
	size_t n = strlen(prefix);
	if (strncmp(key, prefix, n) != 0)
		return false;
	const char *d = key + n;
	size_t digits = strspn(d, "0123456789");
	if (digits == 0 || digits > 3 || d[digits] != '\0' || (digits > 1 && d[0] == '0'))
		return false;
	int i = atoi(d);
	if (i > max)
		return false;
	if (index)
		*index = i;
	return true;
}

bool vmconf_is_disk_key(const char *key, const char **bus, int *index)
{
	for (size_t i = 0; i < sizeof(disk_buses) / sizeof(disk_buses[0]); i++) {
		if (indexed_key(key, disk_buses[i].bus, disk_buses[i].max_index, index)) {
			if (bus)
				*bus = disk_buses[i].bus;
			return true;
		}
	}
	return false;
}

bool vmconf_is_nic_key(const char *key, int *index)
{
	return indexed_key(key, "net", 31, index);
}

/* "none", "cdrom", an absolute path, or "storage:volume". */
static int check_volume(const char *volume, struct parse_error *err)
{
	if (strcmp(volume, "none") == 0 || strcmp(volume, "cdrom") == 0 || volume[0] == '/')
		return 0;
	const char *colon = strchr(volume, ':');
	if (!colon || colon[1] == '\0')
		return parse_error_fail(err, "file", "'%.64s' is not storage:volume, none, cdrom or a path", volume);
	char storage[65];
	size_t n = (size_t)(colon - volume);
	if (n >= sizeof(storage))
		return parse_error_fail(err, "file", "storage name in '%.64s' is too long", volume);
	memcpy(storage, volume, n);
	storage[n] = '\0';
	return value_parse_ident("file", storage, 64, err);
}

static int fill_disk(struct vmconf_disk *d, struct parse_error *err)
{
	static const char *const caches[] = { "none", "writethrough", "writeback", "unsafe", "directsync", NULL };
	static const char *const discards[] = { "on", "ignore", NULL };
	static const char *const medias[] = { "disk", "cdrom", NULL };
	static const char *const formats[] = { "raw", "qcow2", "vmdk", "qed", "qcow", "cow", "cloop", NULL };
	static const char *const efitypes[] = { "2m", "4m", NULL };
	static const char *const tpm_versions[] = { "v1.2", "v2.0", NULL };
	const struct propstr *ps = &d->props;
	d->volume = propstr_get(ps, "file");
	if (!d->volume)
		return parse_error_fail(err, NULL, "no volume");
	const char *media;
	bool ro, replicate;
	int r = check_volume(d->volume, err);
	if (r == 0)
		r = propstr_get_size(ps, "size", 0, &d->size, err);
	if (r == 0)
		r = propstr_get_enum(ps, "cache", caches, NULL, &d->cache, err);
	if (r == 0)
		r = propstr_get_enum(ps, "discard", discards, NULL, &d->discard, err);
	if (r == 0)
		r = propstr_get_enum(ps, "media", medias, "disk", &media, err);
	if (r == 0)
		r = propstr_get_enum(ps, "format", formats, NULL, &d->format, err);
	if (r == 0)
		r = propstr_get_bool(ps, "iothread", false, &d->iothread, err);
	if (r == 0)
		r = propstr_get_bool(ps, "ssd", false, &d->ssd, err);
	if (r == 0)
		r = propstr_get_bool(ps, "backup", true, &d->backup, err);
	if (r == 0)
		r = propstr_get_bool(ps, "ro", false, &ro, err);
	if (r == 0)
		r = propstr_get_bool(ps, "replicate", true, &replicate, err);
	if (r == 0)
		r = propstr_get_enum(ps, "efitype", efitypes, NULL, &d->efitype, err);
	if (r == 0)
		r = propstr_get_enum(ps, "version", tpm_versions, NULL, &d->tpm_version, err);
	if (r == 0)
		d->cdrom = strcmp(media, "cdrom") == 0 || strcmp(d->volume, "cdrom") == 0;
	return r;
}

static int check_disk(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const known[] = {
		"file", "media", "size", "cache", "iothread", "discard", "format", "ssd", "backup", "replicate",
		"aio", "serial", "wwn", "ro", "snapshot", "shared", "detect_zeroes", "model", "queues", "werror",
		"rerror", "cyls", "heads", "secs", "trans", "import-from", "efitype", "pre-enrolled-keys", "version",
		"iops", "iops_max", "iops_rd", "iops_rd_max", "iops_wr", "iops_wr_max", "iops_max_length",
		"iops_rd_max_length", "iops_wr_max_length", "mbps", "mbps_max", "mbps_rd", "mbps_rd_max", "mbps_wr",
		"mbps_wr_max", "product", "vendor", NULL,
	};
	struct vmconf_view *v = b->view;
	if (v->disk_count == b->disk_cap) {
		size_t cap = b->disk_cap ? b->disk_cap * 2 : 4;
		struct vmconf_disk *d = realloc(v->disks, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		v->disks = d;
		b->disk_cap = cap;
	}
	struct vmconf_disk *d = &v->disks[v->disk_count];
	*d = (struct vmconf_disk){ .key = e->key, .index = index, .line = e->line };
	vmconf_is_disk_key(e->key, &d->bus, NULL);
	int r = propstr_parse(&d->props, e->value, "file", b->err);
	if (r < 0)
		return nested(b, e, r);
	v->disk_count++; /* counted from here on so vmconf_view_free frees props */
	warn_unknown_props(b, e, &d->props, known);
	return nested(b, e, fill_disk(d, b->err));
}

/* ---- NICs ---- */

static int fill_nic(struct vmconf_nic *n, struct parse_error *err)
{
	const struct propstr *ps = &n->props;
	int r = propstr_find_nic_model(ps, &n->model, n->mac, err);
	if (r < 0)
		return r;
	n->bridge = propstr_get(ps, "bridge");
	if (n->bridge && (r = value_parse_ident("bridge", n->bridge, 15, err)) < 0)
		return r;
	long long tag, mtu, queues;
	r = propstr_get_int(ps, "tag", 1, 4094, 0, &tag, err);
	if (r == 0)
		r = propstr_get_int(ps, "mtu", 1, 65520, 0, &mtu, err);
	if (r == 0 && mtu > 1 && mtu < 576)
		r = parse_error_fail(err, "mtu", "%lld is below 576 (use 1 for the bridge's MTU)", mtu);
	if (r == 0)
		r = propstr_get_int(ps, "queues", 0, 64, 0, &queues, err);
	if (r == 0)
		r = propstr_get_bool(ps, "firewall", false, &n->firewall, err);
	if (r == 0)
		r = propstr_get_bool(ps, "link_down", false, &n->link_down, err);
	const char *rate = propstr_get(ps, "rate");
	if (r == 0 && rate) {
		n->has_rate = true;
		r = value_parse_milli("rate", rate, &n->rate_milli, err);
	}
	n->trunks = propstr_get(ps, "trunks");
	if (r == 0 && n->trunks && strspn(n->trunks, "0123456789;-") != strlen(n->trunks))
		r = parse_error_fail(err, "trunks", "'%.64s' is not a ';'-separated list of VLAN ids", n->trunks);
	n->tag = (int)tag;
	n->mtu = (int)mtu;
	n->queues = (int)queues;
	return r;
}

static int check_nic(struct view_builder *b, const struct vmconf_entry *e, int index)
{
	static const char *const known[] = { "model", "macaddr", "bridge", "tag", "mtu", "firewall", "link_down",
					     "queues", "rate", "trunks", NULL };
	struct vmconf_view *v = b->view;
	if (v->nic_count == b->nic_cap) {
		size_t cap = b->nic_cap ? b->nic_cap * 2 : 4;
		struct vmconf_nic *n = realloc(v->nics, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		v->nics = n;
		b->nic_cap = cap;
	}
	struct vmconf_nic *n = &v->nics[v->nic_count];
	*n = (struct vmconf_nic){ .key = e->key, .index = index, .line = e->line };
	int r = propstr_parse(&n->props, e->value, "model", b->err);
	if (r < 0)
		return nested(b, e, r);
	v->nic_count++;
	for (size_t i = 0; i < n->props.count; i++) {
		const char *k = n->props.items[i].key;
		if (!value_in_list(k, known) && !value_in_list(k, propstr_nic_models))
			parse_warn(b->warn, b->userdata, b->file, e->line, e->key, "unknown property '%.64s'", k);
	}
	return nested(b, e, fill_nic(n, b->err));
}

/* ---- the table ---- */

static const struct key_rule key_rules[] = {
	{ "name", -1, check_name },
	{ "memory", -1, check_memory },
	{ "balloon", -1, check_balloon },
	{ "cores", -1, check_cores },
	{ "sockets", -1, check_sockets },
	{ "vcpus", -1, check_vcpus },
	{ "numa", -1, check_numa },
	{ "cpu", -1, check_cpu },
	{ "machine", -1, check_machine },
	{ "bios", -1, check_bios },
	{ "ostype", -1, check_ostype },
	{ "scsihw", -1, check_scsihw },
	{ "onboot", -1, check_onboot },
	{ "protection", -1, check_protection },
	{ "template", -1, check_template },
	{ "vga", -1, check_vga },
	{ "agent", -1, check_agent },
	{ "serial", 3, check_serial },
	{ "smbios1", -1, check_smbios1 },
	{ "startup", -1, check_startup },
	{ "lock", -1, check_lock },
	{ "tags", -1, check_tags },
	{ "args", -1, check_args },
	{ "boot", -1, check_boot },
	{ "bootdisk", -1, check_bootdisk },
	{ "hotplug", -1, check_hotplug },
	{ "vmgenid", -1, check_vmgenid },
	{ "parent", -1, check_parent },
	{ "scsi", 30, check_disk },
	{ "virtio", 15, check_disk },
	{ "sata", 5, check_disk },
	{ "ide", 3, check_disk },
	{ "efidisk", 0, check_disk },
	{ "tpmstate", 0, check_disk },
	{ "net", 31, check_nic },
	{ "acpi", -1, check_plain_bool },
	{ "kvm", -1, check_plain_bool },
	{ "tablet", -1, check_plain_bool },
	{ "localtime", -1, check_plain_bool },
	{ "freeze", -1, check_plain_bool },
	{ "reboot", -1, check_plain_bool },
	{ "keephugepages", -1, check_plain_bool },
	/* Known, kept as strings, checked by whoever uses them. */
	{ "hostpci", 15, NULL }, { "usb", 14, NULL }, { "unused", 255, NULL }, { "ipconfig", 31, NULL },
	{ "parallel", 2, NULL }, { "numa", 7, NULL }, { "virtiofs", 9, NULL },
	{ "ciuser", -1, NULL }, { "cipassword", -1, NULL }, { "citype", -1, NULL }, { "ciupgrade", -1, NULL },
	{ "cicustom", -1, NULL }, { "nameserver", -1, NULL }, { "searchdomain", -1, NULL },
	{ "sshkeys", -1, NULL }, { "keyboard", -1, NULL }, { "shares", -1, NULL }, { "cpulimit", -1, NULL },
	{ "cpuunits", -1, NULL }, { "affinity", -1, NULL }, { "audio0", -1, NULL }, { "rng0", -1, NULL },
	{ "watchdog", -1, NULL }, { "spice_enhancements", -1, NULL }, { "hookscript", -1, NULL },
	{ "migrate_downtime", -1, NULL }, { "migrate_speed", -1, NULL }, { "meta", -1, NULL },
	{ "digest", -1, NULL }, { "snaptime", -1, NULL }, { "vmstate", -1, NULL },
	{ "runningmachine", -1, NULL }, { "runningcpu", -1, NULL }, { "arch", -1, NULL },
	{ "hugepages", -1, NULL }, { "ivshmem", -1, NULL }, { "startdate", -1, NULL }, { "tdf", -1, NULL },
	{ "amd-sev", -1, NULL }, { "description", -1, NULL },
};

static const struct key_rule *find_rule(const char *key, int *index)
{
	for (size_t i = 0; i < sizeof(key_rules) / sizeof(key_rules[0]); i++) {
		const struct key_rule *rule = &key_rules[i];
		*index = 0;
		if (rule->max_index < 0 ? strcmp(key, rule->name) == 0
					: indexed_key(key, rule->name, rule->max_index, index))
			return rule;
	}
	return NULL;
}

/* Checks that involve two keys, after every key is known. */
static int check_combinations(struct view_builder *b)
{
	struct vmconf_view *v = b->view;
	if (b->balloon_entry && v->balloon > v->memory) {
		parse_error_fail(b->err, "balloon", "%lld MiB is more than memory (%lld MiB)", v->balloon, v->memory);
		parse_error_at(b->err, b->file, b->balloon_entry->line);
		return -EINVAL;
	}
	long long max_vcpus = v->cores * v->sockets;
	if (b->vcpus_entry && v->vcpus > max_vcpus) {
		parse_error_fail(b->err, "vcpus", "%lld is more than cores * sockets (%lld)", v->vcpus, max_vcpus);
		parse_error_at(b->err, b->file, b->vcpus_entry->line);
		return -EINVAL;
	}
	if (!b->vcpus_entry)
		v->vcpus = max_vcpus;
	return 0;
}

static void set_defaults(struct vmconf_view *v)
{
	*v = (struct vmconf_view){
		.memory = 512,
		.cores = 1,
		.sockets = 1,
		.cpu = "kvm64",
		.machine = "pc",
		.bios = VMCONF_BIOS_SEABIOS,
		.scsihw = "lsi",
		.startup = { .order = -1, .up = -1, .down = -1 },
	};
}

int vmconf_view_build(struct vmconf_view *view, const struct vmconf_section *current, const char *file,
		      parse_warn_fn warn, void *userdata, struct parse_error *err)
{
	set_defaults(view);
	struct view_builder b = { .view = view, .file = file, .warn = warn, .userdata = userdata, .err = err };
	for (size_t i = 0; i < current->count; i++) {
		const struct vmconf_entry *e = &current->entries[i];
		int index;
		const struct key_rule *rule = find_rule(e->key, &index);
		if (!rule) {
			warn_entry(&b, e, "unknown key");
			continue;
		}
		if (!rule->check)
			continue;
		int r = rule->check(&b, e, index);
		if (r < 0) {
			if (r == -EINVAL)
				parse_error_at(err, file, e->line);
			return r;
		}
	}
	return check_combinations(&b);
}

void vmconf_view_free(struct vmconf_view *view)
{
	for (size_t i = 0; i < view->disk_count; i++)
		propstr_free(&view->disks[i].props);
	for (size_t i = 0; i < view->nic_count; i++)
		propstr_free(&view->nics[i].props);
	for (size_t i = 0; i < view->held_count; i++)
		propstr_free(&view->held[i]);
	free(view->disks);
	free(view->nics);
	free(view->held);
	propstr_list_free(&view->boot_order);
	*view = (struct vmconf_view){ 0 };
}

const struct vmconf_disk *vmconf_view_disk(const struct vmconf_view *view, const char *key)
{
	for (size_t i = 0; i < view->disk_count; i++)
		if (strcmp(view->disks[i].key, key) == 0)
			return &view->disks[i];
	return NULL;
}

const struct vmconf_nic *vmconf_view_nic(const struct vmconf_view *view, const char *key)
{
	for (size_t i = 0; i < view->nic_count; i++)
		if (strcmp(view->nics[i].key, key) == 0)
			return &view->nics[i];
	return NULL;
}
