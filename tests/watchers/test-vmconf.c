/* test-vmconf.c - the VM config parser: structure, typed view, errors. */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "parse_error.h"
#include "testlib.h"
#include "vmconf.h"

#define FILE_NAME "nodes/n1/qemu-server/100.conf"

static char text_buf[PARSE_ERROR_TEXT_MAX];
#define ERRTEXT(e) parse_error_format(&(e), text_buf, sizeof(text_buf))

/* Warnings collected as formatted lines, separated by '\n'. */
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

static const char full_config[] =
	"#Web front end\n"
	"#managed by the ops team%2C see wiki\n"
	"agent: enabled=1,fstrim_cloned_disks=1\n"
	"balloon: 1024\n"
	"bios: ovmf\n"
	"boot: order=scsi0;ide2;net0\n"
	"cores: 2\n"
	"cpu: x86-64-v2-AES\n"
	"efidisk0: local-lvm:vm-100-disk-1,efitype=4m,pre-enrolled-keys=1,size=4M\n"
	"ide2: none,media=cdrom\n"
	"machine: pc-q35-8.1+pve0\n"
	"memory: 2048\n"
	"name: web01\n"
	"net0: virtio=BC:24:11:5E:7A:01,bridge=vmbr0,tag=100,firewall=1,mtu=9000,queues=4,rate=12.5\n"
	"net1: model=e1000,macaddr=bc:24:11:5e:7a:02,bridge=vmbr1,link_down=1\n"
	"numa: 0\n"
	"onboot: 1\n"
	"ostype: l26\n"
	"parent: before-upgrade\n"
	"scsi0: local-lvm:vm-100-disk-0,size=32G,iothread=1,discard=on,cache=none,ssd=1\n"
	"scsihw: virtio-scsi-single\n"
	"serial0: socket\n"
	"smbios1: uuid=7b10d7af-b932-4c66-b2c3-3996152ec465\n"
	"sockets: 2\n"
	"startup: order=2,up=30,down=120\n"
	"tags: prod;web\n"
	"tpmstate0: local-lvm:vm-100-disk-2,size=4M,version=v2.0\n"
	"vga: serial0\n"
	"vmgenid: 1f2b2b1e-8d49-4a3f-9f5c-1b2c3d4e5f60\n"
	"\n"
	"[before-upgrade]\n"
	"#state before the upgrade\n"
	"memory: 1024\n"
	"cores: nonsense\n"
	"scsi0: local-lvm:vm-100-disk-0,size=32G\n"
	"snaptime: 1764236400\n"
	"vmstate: 0\n"
	"\n"
	"[PENDING]\n"
	"memory: 4096\n"
	"delete: balloon\n"
	"\n"
	"[special:cloudinit]\n"
	"ipconfig0: ip=dhcp\n";

static struct vmconf *parse_ok(const char *text, struct warnings *ws)
{
	struct vmconf *conf = NULL;
	struct parse_error err;
	int r = vmconf_parse(text, strlen(text), FILE_NAME, collect_warning, ws, &conf, &err);
	if (r < 0)
		fprintf(stderr, "  unexpected error: %s\n", ERRTEXT(err));
	return conf;
}

/* Parse text that must fail; returns the formatted error. */
static const char *parse_fail(const char *text)
{
	struct vmconf *conf = (struct vmconf *)1;
	struct parse_error err;
	int r = vmconf_parse(text, strlen(text), FILE_NAME, NULL, NULL, &conf, &err);
	if (r != -EINVAL || conf != NULL)
		return "(parse did not fail with -EINVAL and a NULL config)";
	return ERRTEXT(err);
}

static void test_full_config_sections(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf = parse_ok(full_config, &ws);
	CHECK(conf);
	CHECK_INT(ws.count, 0);
	CHECK_INT(conf->section_count, 4);
	const struct vmconf_section *cur = vmconf_current(conf);
	CHECK_INT(cur->kind, VMCONF_CURRENT);
	CHECK(cur->name == NULL);
	CHECK_STR(cur->description, "Web front end\nmanaged by the ops team, see wiki");
	CHECK_INT(cur->count, 27);
	CHECK_STR(cur->entries[0].key, "agent");
	CHECK_INT(cur->entries[0].line, 3);
	CHECK_STR(vmconf_get(cur, "memory"), "2048");
	const struct vmconf_section *snap = vmconf_snapshot(conf, "before-upgrade");
	CHECK(snap);
	CHECK_INT(snap->line, 31);
	CHECK_STR(snap->description, "state before the upgrade");
	CHECK_STR(vmconf_get(snap, "memory"), "1024");
	CHECK_STR(vmconf_get(snap, "cores"), "nonsense"); /* not validated */
	CHECK(vmconf_snapshot(conf, "other") == NULL);
	CHECK(vmconf_pending(conf));
	CHECK_STR(vmconf_get(vmconf_pending(conf), "delete"), "balloon");
	CHECK(vmconf_cloudinit(conf));
	CHECK_STR(vmconf_get(vmconf_cloudinit(conf), "ipconfig0"), "ip=dhcp");
}

static void test_full_config_scalars(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf = parse_ok(full_config, &ws);
	CHECK(conf);
	const struct vmconf_view *v = vmconf_view(conf);
	CHECK_STR(v->name, "web01");
	CHECK_INT(v->memory, 2048);
	CHECK(v->has_balloon);
	CHECK_INT(v->balloon, 1024);
	CHECK_INT(v->cores, 2);
	CHECK_INT(v->sockets, 2);
	CHECK_INT(v->vcpus, 4);
	CHECK(!v->numa);
	CHECK_STR(v->cpu, "x86-64-v2-AES");
	CHECK_STR(v->machine, "pc-q35-8.1+pve0");
	CHECK(v->q35);
	CHECK_INT(v->bios, VMCONF_BIOS_OVMF);
	CHECK_STR(v->ostype, "l26");
	CHECK_STR(v->scsihw, "virtio-scsi-single");
	CHECK(v->onboot);
	CHECK(!v->protection);
	CHECK_STR(v->vga, "serial0");
	CHECK(v->agent);
	CHECK(v->agent_fstrim);
	CHECK_STR(v->serial[0], "socket");
	CHECK(v->serial[1] == NULL);
	CHECK_STR(v->smbios_uuid, "7b10d7af-b932-4c66-b2c3-3996152ec465");
	CHECK_INT(v->startup.order, 2);
	CHECK_INT(v->startup.up, 30);
	CHECK_INT(v->startup.down, 120);
	CHECK(v->lock == NULL);
	CHECK_STR(v->tags, "prod;web");
	CHECK_STR(v->parent, "before-upgrade");
	CHECK_INT(v->boot_order.count, 3);
	CHECK_STR(v->boot_order.items[0], "scsi0");
	CHECK_STR(v->boot_order.items[2], "net0");
}

static void test_full_config_disks(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf = parse_ok(full_config, &ws);
	CHECK(conf);
	const struct vmconf_view *v = vmconf_view(conf);
	CHECK_INT(v->disk_count, 4);
	const struct vmconf_disk *d = vmconf_view_disk(v, "scsi0");
	CHECK(d);
	CHECK_STR(d->bus, "scsi");
	CHECK_INT(d->index, 0);
	CHECK_INT(d->line, 20);
	CHECK_STR(d->volume, "local-lvm:vm-100-disk-0");
	CHECK_INT(d->size, 32ULL << 30);
	CHECK(d->iothread);
	CHECK_STR(d->discard, "on");
	CHECK_STR(d->cache, "none");
	CHECK(d->ssd);
	CHECK(d->backup);
	CHECK(!d->cdrom);
	d = vmconf_view_disk(v, "ide2");
	CHECK(d);
	CHECK(d->cdrom);
	CHECK_STR(d->volume, "none");
	d = vmconf_view_disk(v, "efidisk0");
	CHECK(d);
	CHECK_STR(d->bus, "efidisk");
	CHECK_STR(d->efitype, "4m");
	CHECK_INT(d->size, 4 << 20);
	d = vmconf_view_disk(v, "tpmstate0");
	CHECK(d);
	CHECK_STR(d->tpm_version, "v2.0");
	CHECK(vmconf_view_disk(v, "virtio0") == NULL);
}

static void test_full_config_nics(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf = parse_ok(full_config, &ws);
	CHECK(conf);
	const struct vmconf_view *v = vmconf_view(conf);
	CHECK_INT(v->nic_count, 2);
	const struct vmconf_nic *n = vmconf_view_nic(v, "net0");
	CHECK(n);
	CHECK_STR(n->model, "virtio");
	CHECK_STR(n->mac, "BC:24:11:5E:7A:01");
	CHECK_STR(n->bridge, "vmbr0");
	CHECK_INT(n->tag, 100);
	CHECK_INT(n->mtu, 9000);
	CHECK(n->firewall);
	CHECK(!n->link_down);
	CHECK_INT(n->queues, 4);
	CHECK(n->has_rate);
	CHECK_INT(n->rate_milli, 12500);
	n = vmconf_view_nic(v, "net1");
	CHECK(n);
	CHECK_STR(n->model, "e1000");
	CHECK_STR(n->mac, "BC:24:11:5E:7A:02");
	CHECK(n->link_down);
	CHECK_INT(n->tag, 0);
}

static void test_defaults_of_an_empty_config(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf = parse_ok("", &ws);
	CHECK(conf);
	const struct vmconf_view *v = vmconf_view(conf);
	CHECK_INT(conf->section_count, 1);
	CHECK(vmconf_current(conf)->description == NULL);
	CHECK_INT(v->memory, 512);
	CHECK_INT(v->cores, 1);
	CHECK_INT(v->sockets, 1);
	CHECK_INT(v->vcpus, 1);
	CHECK_STR(v->cpu, "kvm64");
	CHECK_STR(v->machine, "pc");
	CHECK(!v->q35);
	CHECK_INT(v->bios, VMCONF_BIOS_SEABIOS);
	CHECK(!v->agent);
	CHECK(!v->has_balloon);
	CHECK_INT(v->startup.order, -1);
	CHECK_INT(v->disk_count, 0);
	CHECK_INT(v->nic_count, 0);
}

static void test_crlf_trailing_spaces_and_late_comments(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf =
		parse_ok("# desc\r\nname: a1  \r\n# not a description\r\nmemory:   1024\t\r\nagent:\r\n", &ws);
	CHECK(conf);
	const struct vmconf_section *cur = vmconf_current(conf);
	CHECK_STR(cur->description, " desc");
	CHECK_STR(vmconf_get(cur, "name"), "a1");
	CHECK_STR(vmconf_get(cur, "memory"), "1024");
	CHECK_STR(vmconf_get(cur, "agent"), "");
	CHECK_INT(vmconf_view(conf)->memory, 1024);
}

static void test_memory_property_string_form(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf = parse_ok("memory: current=4096\n", &ws);
	CHECK(conf);
	CHECK_INT(vmconf_view(conf)->memory, 4096);
}

static void test_unknown_keys_are_kept_and_warned(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf =
		parse_ok("name: a\nfrobnicate: yes\nnet0: virtio,bridge=vmbr0,speed=fast\nhostpci0: 0000:01:00\n"
			 "parent: gone\n\n[snap1]\nwhatever: 1\n",
			 &ws);
	CHECK(conf);
	CHECK_STR(vmconf_get(vmconf_current(conf), "frobnicate"), "yes");
	CHECK_INT(ws.count, 3);
	CHECK_STR(ws.text, FILE_NAME ":2: key 'frobnicate': unknown key\n"
			   FILE_NAME ":3: key 'net0': unknown property 'speed'\n"
			   FILE_NAME ":5: key 'parent': names no snapshot section ('gone')\n");
}

static void test_lock_and_legacy_boot(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf = parse_ok("lock: backup\nboot: cdn\nbootdisk: scsi0\n", &ws);
	CHECK(conf);
	CHECK_STR(vmconf_view(conf)->lock, "backup");
	CHECK_STR(vmconf_view(conf)->boot_legacy, "cdn");
	CHECK_INT(vmconf_view(conf)->boot_order.count, 0);
}

static void test_agent_plain_and_property_forms(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *a = parse_ok("agent: 1\n", &ws);
	_cleanup_(vmconf_freep) struct vmconf *b = parse_ok("agent: enabled=0,type=isa\n", &ws);
	CHECK(a && b);
	CHECK(vmconf_view(a)->agent);
	CHECK(!vmconf_view(b)->agent);
}

static void test_structural_errors(void)
{
	CHECK_STR(parse_fail("name: a\nmemory 512\n"), FILE_NAME ":2: expected 'key: value', got 'memory 512'");
	CHECK_STR(parse_fail("name:a\n"), FILE_NAME ":1: expected 'key: value', got 'name:a'");
	CHECK_STR(parse_fail(": x\n"), FILE_NAME ":1: expected 'key: value', got ': x'");
	CHECK_STR(parse_fail("Name: x\n"), FILE_NAME ":1: expected 'key: value', got 'Name: x'");
	CHECK_STR(parse_fail("name: a\n\nmemory: 512\ncores: 1\nmemory: 1024\n"),
		  FILE_NAME ":5: key 'memory': given twice (first at line 3)");
	CHECK_STR(parse_fail("name: a\n[snap\n"), FILE_NAME ":2: malformed section header '[snap' (expected [name])");
	CHECK_STR(parse_fail("[]\n"), FILE_NAME ":1: bad snapshot name: empty name");
	CHECK_STR(parse_fail("[1snap]\n"), FILE_NAME ":1: bad snapshot name: '1snap' does not start with a letter");
	CHECK_STR(parse_fail("[special:foo]\n"), FILE_NAME ":1: unknown special section [special:foo]");
	CHECK_STR(parse_fail("[s1]\nmemory: 1\n\n[s1]\n"), FILE_NAME ":4: section [s1] given twice (first at line 1)");
	CHECK_STR(parse_fail("[s1]\nmemory: 1\nmemory: 2\n"), FILE_NAME ":3: key 'memory': given twice (first at line 2)");
}

static void test_nul_byte_is_refused(void)
{
	static const char text[] = "name: a\nmemory: 5\0" "12\n";
	struct vmconf *conf = NULL;
	struct parse_error err;
	CHECK_INT(vmconf_parse(text, sizeof(text) - 1, FILE_NAME, NULL, NULL, &conf, &err), -EINVAL);
	CHECK(conf == NULL);
	CHECK_STR(ERRTEXT(err), FILE_NAME ":2: contains a NUL byte (not a text file)");
}

static void test_value_errors(void)
{
	CHECK_STR(parse_fail("name: a\nmemory: 12x\n"), FILE_NAME ":2: key 'memory': '12x' is not a number");
	CHECK_STR(parse_fail("memory: 8\n"), FILE_NAME ":1: key 'memory': 8 is out of range 16..8388608");
	CHECK_STR(parse_fail("memory: current=1x\n"), FILE_NAME ":1: key 'memory': current: '1x' is not a number");
	CHECK_STR(parse_fail("cores: 0\n"), FILE_NAME ":1: key 'cores': 0 is out of range 1..1024");
	CHECK_STR(parse_fail("name: web_01\n"), FILE_NAME ":1: key 'name': 'web_01' is not a valid name");
	CHECK_STR(parse_fail("numa: yes\n"), FILE_NAME ":1: key 'numa': 'yes' is not a boolean (0 or 1)");
	CHECK_STR(parse_fail("bios: uefi\n"), FILE_NAME ":1: key 'bios': 'uefi' is not one of: seabios, ovmf");
	CHECK_STR(parse_fail("machine: q36\n"),
		  FILE_NAME ":1: key 'machine': 'q36' is not a machine type (pc, q35, pc-i440fx-X.Y, pc-q35-X.Y)");
	CHECK_STR(parse_fail("machine: pc-q35-8.1+pvex\n"),
		  FILE_NAME ":1: key 'machine': 'pc-q35-8.1+pvex' is not a machine type (pc, q35, pc-i440fx-X.Y, pc-q35-X.Y)");
	CHECK_STR(parse_fail("cpu: ho st\n"), FILE_NAME ":1: key 'cpu': 'ho st' is not a cpu type");
	CHECK_STR(parse_fail("ostype: dos\n"),
		  FILE_NAME ":1: key 'ostype': 'dos' is not one of: other, wxp, w2k, w2k3, w2k8, wvista, win7, win8, win10, win11, l24, l26, solaris");
	CHECK_STR(parse_fail("agent: enabled=2\n"), FILE_NAME ":1: key 'agent': enabled: '2' is not a boolean (0 or 1)");
	CHECK_STR(parse_fail("serial0: tcp\n"), FILE_NAME ":1: key 'serial0': 'tcp' is neither 'socket' nor a /dev/ path");
	CHECK_STR(parse_fail("smbios1: uuid=xyz\n"), FILE_NAME ":1: key 'smbios1': uuid: 'xyz' is not a UUID");
	CHECK_STR(parse_fail("startup: order=1,up=x\n"), FILE_NAME ":1: key 'startup': up: 'x' is not a number");
	CHECK_STR(parse_fail("startup: 5\n"), FILE_NAME ":1: key 'startup': item '5' has no '='");
	CHECK_STR(parse_fail("lock: forever\n"),
		  FILE_NAME ":1: key 'lock': 'forever' is not one of: backup, clone, create, migrate, rollback, snapshot, snapshot-delete, suspending, suspended");
	CHECK_STR(parse_fail("boot: order=scsi0;floppy\n"),
		  FILE_NAME ":1: key 'boot': order: 'floppy' is not a disk or network device");
	CHECK_STR(parse_fail("boot: order=scsi0;;net0\n"), FILE_NAME ":1: key 'boot': order: empty entry in 'scsi0;;net0'");
	CHECK_STR(parse_fail("boot: xyz\n"), FILE_NAME ":1: key 'boot': 'xyz' is neither order=... nor a legacy a/c/d/n list");
	CHECK_STR(parse_fail("hotplug: network,floppy\n"),
		  FILE_NAME ":1: key 'hotplug': 'floppy' is not one of: network, disk, cpu, memory, usb, cloudinit");
	CHECK_STR(parse_fail("vmgenid: 2\n"), FILE_NAME ":1: key 'vmgenid': '2' is not a UUID");
	CHECK_STR(parse_fail("memory: 1024\nballoon: 2048\n"),
		  FILE_NAME ":2: key 'balloon': 2048 MiB is more than memory (1024 MiB)");
	CHECK_STR(parse_fail("vcpus: 3\ncores: 2\n"), FILE_NAME ":1: key 'vcpus': 3 is more than cores * sockets (2)");
}

static void test_disk_errors(void)
{
	CHECK_STR(parse_fail("scsi0: size=32G\n"), FILE_NAME ":1: key 'scsi0': no volume");
	CHECK_STR(parse_fail("scsi0: local-lvm:vm-100-disk-0,size=32Q\n"),
		  FILE_NAME ":1: key 'scsi0': size: '32Q' is not a size (number with K, M, G or T)");
	CHECK_STR(parse_fail("scsi0: local-lvm:vm-100-disk-0,cache=fast\n"),
		  FILE_NAME ":1: key 'scsi0': cache: 'fast' is not one of: none, writethrough, writeback, unsafe, directsync");
	CHECK_STR(parse_fail("virtio0: vm-100-disk-0\n"),
		  FILE_NAME ":1: key 'virtio0': file: 'vm-100-disk-0' is not storage:volume, none, cdrom or a path");
	CHECK_STR(parse_fail("sata0: 1local:vm-1\n"), FILE_NAME ":1: key 'sata0': file: '1local' does not start with a letter");
	CHECK_STR(parse_fail("scsi0: local:x,iothread=yes\n"),
		  FILE_NAME ":1: key 'scsi0': iothread: 'yes' is not a boolean (0 or 1)");
	CHECK_STR(parse_fail("ide0: local:x,media=floppy\n"), FILE_NAME ":1: key 'ide0': media: 'floppy' is not one of: disk, cdrom");
	CHECK_STR(parse_fail("efidisk0: local:x,efitype=8m\n"), FILE_NAME ":1: key 'efidisk0': efitype: '8m' is not one of: 2m, 4m");
	CHECK_STR(parse_fail("scsi0: local:x,,size=1G\n"), FILE_NAME ":1: key 'scsi0': empty item at position 2");
}

static void test_disk_and_nic_key_ranges(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf =
		parse_ok("scsi31: local:x\nide4: local:y\nnet32: virtio\nsata05: local:z\n", &ws);
	CHECK(conf);
	CHECK_INT(vmconf_view(conf)->disk_count, 0);
	CHECK_INT(vmconf_view(conf)->nic_count, 0);
	CHECK_INT(ws.count, 4); /* all four are unknown keys */
	const char *bus;
	int index;
	CHECK(vmconf_is_disk_key("scsi30", &bus, &index));
	CHECK_STR(bus, "scsi");
	CHECK_INT(index, 30);
	CHECK(vmconf_is_disk_key("virtio15", NULL, NULL));
	CHECK(!vmconf_is_disk_key("virtio16", NULL, NULL));
	CHECK(vmconf_is_disk_key("tpmstate0", NULL, NULL));
	CHECK(!vmconf_is_disk_key("efidisk1", NULL, NULL));
	CHECK(vmconf_is_nic_key("net31", &index));
	CHECK_INT(index, 31);
	CHECK(!vmconf_is_nic_key("net", NULL));
}

static void test_nic_errors(void)
{
	CHECK_STR(parse_fail("net0: bridge=vmbr0\n"),
		  FILE_NAME ":1: key 'net0': no NIC model (one of virtio, e1000, e1000e, rtl8139, vmxnet3, ...)");
	CHECK_STR(parse_fail("net0: virtio=BC:24:11:5E:7A,bridge=vmbr0\n"),
		  FILE_NAME ":1: key 'net0': macaddr: 'BC:24:11:5E:7A' is not a MAC address");
	CHECK_STR(parse_fail("net0: virtio=BC:24:11:5E:7A:01,tag=4095\n"),
		  FILE_NAME ":1: key 'net0': tag: 4095 is out of range 1..4094");
	CHECK_STR(parse_fail("net0: virtio=BC:24:11:5E:7A:01,tag=abc\n"),
		  FILE_NAME ":1: key 'net0': tag: 'abc' is not a number");
	CHECK_STR(parse_fail("net0: virtio,mtu=100\n"), FILE_NAME ":1: key 'net0': mtu: 100 is below 576 (use 1 for the bridge's MTU)");
	CHECK_STR(parse_fail("net0: virtio,firewall=on\n"), FILE_NAME ":1: key 'net0': firewall: 'on' is not a boolean (0 or 1)");
	CHECK_STR(parse_fail("net0: virtio,bridge=vmbr 0\n"), FILE_NAME ":1: key 'net0': bridge: 'vmbr 0' contains ' '");
	CHECK_STR(parse_fail("net0: virtio,rate=fast\n"), FILE_NAME ":1: key 'net0': rate: 'fast' is not a number");
	CHECK_STR(parse_fail("net0: virtio,queues=65\n"), FILE_NAME ":1: key 'net0': queues: 65 is out of range 0..64");
}

static void test_snapshot_keys_are_not_validated(void)
{
	struct warnings ws = { 0 };
	_cleanup_(vmconf_freep) struct vmconf *conf =
		parse_ok("memory: 1024\nparent: s1\n\n[s1]\nmemory: lots\nnet0: garbage\nunknownkey: 1\n", &ws);
	CHECK(conf);
	CHECK_INT(ws.count, 0);
	CHECK_STR(vmconf_get(vmconf_snapshot(conf, "s1"), "memory"), "lots");
	CHECK_INT(vmconf_view(conf)->memory, 1024);
}

static const struct test tests[] = {
	TEST(test_full_config_sections),
	TEST(test_full_config_scalars),
	TEST(test_full_config_disks),
	TEST(test_full_config_nics),
	TEST(test_defaults_of_an_empty_config),
	TEST(test_crlf_trailing_spaces_and_late_comments),
	TEST(test_memory_property_string_form),
	TEST(test_unknown_keys_are_kept_and_warned),
	TEST(test_lock_and_legacy_boot),
	TEST(test_agent_plain_and_property_forms),
	TEST(test_structural_errors),
	TEST(test_nul_byte_is_refused),
	TEST(test_value_errors),
	TEST(test_disk_errors),
	TEST(test_disk_and_nic_key_ranges),
	TEST(test_nic_errors),
	TEST(test_snapshot_keys_are_not_validated),
};
TEST_MAIN(tests)
