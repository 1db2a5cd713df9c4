/* cmdline.c - see cmdline.h: the argument vector, and building it from a
 * VM config. */
#include "cmdline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdint.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "log.h"
#include "parse_error.h"
#include "vmconf.h"

int qemu_cmd_add(struct qemu_cmd *cmd, const char *arg)
{
	if (cmd->argc + 2 > cmd->argv_cap) {
		size_t cap = cmd->argv_cap ? cmd->argv_cap * 2 : 64;
		char **argv = realloc(cmd->argv, cap * sizeof(*argv));
		if (!argv)
			return -ENOMEM;
		cmd->argv = argv;
		cmd->argv_cap = cap;
	}
	char *copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	cmd->argv[cmd->argc++] = copy;
	cmd->argv[cmd->argc] = NULL;
	return 0;
}

int qemu_cmd_addf(struct qemu_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *arg = NULL;
	int n = vasprintf(&arg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	return qemu_cmd_add(cmd, arg);
}

void qemu_cmd_clear(struct qemu_cmd *cmd)
{
	for (size_t i = 0; i < cmd->argc; i++)
		free(cmd->argv[i]);
	free(cmd->argv);
	for (size_t i = 0; i < cmd->n_nics; i++)
		free(cmd->nics[i].bridge);
	free(cmd->nics);
	for (size_t i = 0; i < cmd->n_volumes; i++)
		free(cmd->volumes[i]);
	free(cmd->volumes);
	free(cmd->qmp_path);
	free(cmd->pid_path);
	memset(cmd, 0, sizeof(*cmd));
}

bool qemu_kvm_usable(void)
{
	_cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	return fd >= 0;
}

/* ---- building the command from a VM config ----
 *
 * The argument order follows what Proxmox VE produces (identity, control
 * sockets, firmware, CPU and memory, devices, drives, NICs), which makes a
 * diff against `qm showcmd` readable.  Devices get stable ids derived from
 * the config key (drive-scsi0 / scsi0, net0) so QMP commands and logs can
 * name them. */

struct build {
	struct qemu_cmd *cmd;
	unsigned vmid;
	const struct vmconf_view *v;
	const char *file;
	const struct qemu_cmd_options *o;
	struct parse_error *err;
	const char *run_dir;
	bool have_scsi_controller[64];
	bool have_ahci[8];
};

__attribute__((format(printf, 4, 5)))
static int fail_key(struct build *b, const char *key, int line, const char *fmt, ...)
{
	char reason[PARSE_ERROR_REASON_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	parse_error_fail(b->err, key, "%s", reason);
	parse_error_at(b->err, b->file, line);
	return -EINVAL;
}

static void note(struct build *b, const char *text)
{
	if (b->o->note)
		b->o->note(b->o->note_data, text);
	else
		log_info("%s", text);
}

/* Add the pair "-opt" "value". */
__attribute__((format(printf, 3, 4)))
static int add_opt(struct build *b, const char *opt, const char *fmt, ...)
{
	int r = qemu_cmd_add(b->cmd, opt);
	if (r < 0)
		return r;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *value = NULL;
	int n = vasprintf(&value, fmt, ap);
	va_end(ap);
	return n < 0 ? -ENOMEM : qemu_cmd_add(b->cmd, value);
}

static bool device_usable(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	return fd >= 0;
}

/* The position of key in the boot order (bootindex 100, 101, ...), or -1.
 * Without `boot: order=` the legacy letters apply ("cdn" by default): c the
 * first hard disk, d the first CD-ROM, n the first NIC. */
static int boot_index(const struct build *b, const char *key)
{
	const struct vmconf_view *v = b->v;
	if (v->boot_order.count > 0 || !v->boot_legacy) {
		for (size_t i = 0; i < v->boot_order.count; i++)
			if (strcmp(v->boot_order.items[i], key) == 0)
				return 100 + (int)i;
		if (v->boot_order.count > 0)
			return -1;
	}
	const char *letters = v->boot_legacy ? v->boot_legacy : "cdn";
	for (int i = 0; letters[i]; i++) {
		const char *first = NULL;
		if (letters[i] == 'n') {
			first = v->nic_count ? v->nics[0].key : NULL;
		} else if (letters[i] == 'c' || letters[i] == 'd') {
			bool want_cd = letters[i] == 'd';
			for (size_t j = 0; j < v->disk_count && !first; j++) {
				const struct vmconf_disk *d = &v->disks[j];
				if (strcmp(d->bus, "efidisk") && strcmp(d->bus, "tpmstate") && d->cdrom == want_cd)
					first = d->key;
			}
		}
		if (first && strcmp(first, key) == 0)
			return 100 + i;
	}
	return -1;
}

static int add_identity(struct build *b)
{
	const struct vmconf_view *v = b->v;
	int r;
	if ((r = add_opt(b, "-name", "guest=%s,debug-threads=on", v->name ? v->name : "vm")) < 0 ||
	    (r = qemu_cmd_add(b->cmd, "-no-user-config")) < 0 || (r = qemu_cmd_add(b->cmd, "-nodefaults")) < 0)
		return r;
	if (asprintf(&b->cmd->qmp_path, "%s/qemu/%u.qmp", b->run_dir, b->vmid) < 0 ||
	    asprintf(&b->cmd->pid_path, "%s/qemu/%u.pid", b->run_dir, b->vmid) < 0)
		return -ENOMEM;
	/* A second monitor for short-lived clients (the backup watcher): QEMU
	 * serves one client per monitor and the qemu watcher keeps the first. */
	if ((r = add_opt(b, "-qmp", "unix:%s,server=on,wait=off", b->cmd->qmp_path)) < 0 ||
	    (r = add_opt(b, "-qmp", "unix:%s/qemu/%u.backup.qmp,server=on,wait=off", b->run_dir, b->vmid)) < 0 ||
	    (r = add_opt(b, "-pidfile", "%s", b->cmd->pid_path)) < 0 || (r = qemu_cmd_add(b->cmd, "-daemonize")) < 0)
		return r;
	if (v->smbios_uuid && (r = add_opt(b, "-smbios", "type=1,uuid=%s", v->smbios_uuid)) < 0)
		return r;
	if (b->o->start_paused && (r = qemu_cmd_add(b->cmd, "-S")) < 0)
		return r;
	return 0;
}

/* PVE writes machine versions with a "+pveN" suffix for its own patches;
 * upstream QEMU knows the version without it. */
static int add_machine(struct build *b)
{
	const struct vmconf_view *v = b->v;
	char type[64];
	snprintf(type, sizeof(type), "%s", v->machine ? v->machine : (v->q35 ? "q35" : "pc"));
	char *plus = strstr(type, "+pve");
	if (plus)
		*plus = '\0';
	return add_opt(b, "-machine", "type=%s,accel=%s", type, b->cmd->kvm ? "kvm" : "tcg");
}

static const char *find_ovmf_code(struct build *b, const char *efitype)
{
	static const char *const code_4m[] = { "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd",
					       NULL };
	static const char *const code_2m[] = { "/usr/share/OVMF/OVMF_CODE.fd", NULL };
	if (b->o->ovmf_code)
		return b->o->ovmf_code;
	const char *const *list = efitype && strcmp(efitype, "2m") == 0 ? code_2m : code_4m;
	for (size_t i = 0; list[i]; i++)
		if (access(list[i], R_OK) == 0)
			return list[i];
	return NULL;
}

/* ---- volumes ---- */

static const char *format_from_name(const char *path, bool block_device)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (block_device || !dot || (slash && dot < slash))
		return "raw";
	if (strcmp(dot, ".qcow2") == 0)
		return "qcow2";
	if (strcmp(dot, ".vmdk") == 0)
		return "vmdk";
	return "raw";
}

static int resolve_volume(struct build *b, const struct vmconf_disk *d, char **path, bool *block_device)
{
	*block_device = false;
	if (d->volume[0] == '/') {
		*path = strdup(d->volume);
		struct stat st;
		*block_device = stat(d->volume, &st) == 0 && S_ISBLK(st.st_mode);
		return *path ? 0 : -ENOMEM;
	}
	if (!b->o->resolve_volume)
		return fail_key(b, d->key, d->line, "volume '%s': no storage configuration to resolve it", d->volume);
	int r = b->o->resolve_volume(b->o->resolver_data, b->vmid, d->volume, path, block_device, b->err);
	if (r < 0) {
		char reason[PARSE_ERROR_REASON_MAX];
		snprintf(reason, sizeof(reason), "%s", b->err->reason);
		return fail_key(b, d->key, d->line, "%s", reason);
	}
	return 0;
}

static int remember_volume(struct build *b, const char *path)
{
	char **v = realloc(b->cmd->volumes, (b->cmd->n_volumes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	b->cmd->volumes = v;
	v[b->cmd->n_volumes] = strdup(path);
	if (!v[b->cmd->n_volumes])
		return -ENOMEM;
	b->cmd->n_volumes++;
	return 0;
}

static int add_firmware(struct build *b)
{
	const struct vmconf_view *v = b->v;
	if (v->bios != VMCONF_BIOS_OVMF)
		return 0; /* SeaBIOS is QEMU's default */
	const struct vmconf_disk *efi = vmconf_view_disk(v, "efidisk0");
	if (!efi)
		return fail_key(b, "bios", 0, "ovmf needs an efidisk0 to keep the EFI variables");
	const char *code = find_ovmf_code(b, efi->efitype);
	if (!code) {
		fail_key(b, "bios", 0, "no OVMF firmware found in /usr/share/OVMF (install the ovmf package)");
		return -ENOENT;
	}
	_cleanup_free_ char *vars = NULL;
	bool block;
	int r = resolve_volume(b, efi, &vars, &block);
	if (r < 0)
		return r;
	const char *format = efi->format ? efi->format : format_from_name(vars, block);
	if ((r = add_opt(b, "-drive", "if=pflash,unit=0,format=raw,readonly=on,file=%s", code)) < 0 ||
	    (r = add_opt(b, "-drive", "if=pflash,unit=1,id=drive-efidisk0,format=%s,file=%s", format, vars)) < 0)
		return r;
	return remember_volume(b, vars);
}

static int add_cpu_and_memory(struct build *b)
{
	const struct vmconf_view *v = b->v;
	long long total = v->sockets * v->cores;
	long long online = v->vcpus > 0 && v->vcpus < total ? v->vcpus : total;
	int r = add_opt(b, "-smp", "cpus=%lld,sockets=%lld,cores=%lld,maxcpus=%lld", online, v->sockets, v->cores,
			total);
	if (r < 0)
		return r;
	const char *model = v->cpu ? v->cpu : "kvm64";
	if (!b->cmd->kvm && strcmp(model, "host") == 0) {
		/* "host" passes the host CPU through and needs KVM; "max" is
		 * TCG's closest equivalent (every feature TCG emulates). */
		note(b, "cpu 'host' needs KVM; using 'max' under TCG");
		model = "max";
	}
	_cleanup_free_ char *flags = NULL;
	if (v->cpu_flags && v->cpu_flags[0]) {
		flags = strdup(v->cpu_flags); /* "+aes;-pcid" -> ",+aes,-pcid" */
		if (!flags)
			return -ENOMEM;
		for (char *c = flags; *c; c++)
			if (*c == ';')
				*c = ',';
	}
	if ((r = add_opt(b, "-cpu", "%s%s%s", model, flags ? "," : "", flags ? flags : "")) < 0)
		return r;
	return add_opt(b, "-m", "%lld", v->memory);
}

static int add_display(struct build *b)
{
	const char *vga = b->v->vga ? b->v->vga : "std";
	static const struct {
		const char *vga, *device;
	} map[] = {
		{ "std", "VGA" },	  { "cirrus", "cirrus-vga" }, { "vmware", "vmware-svga" },
		{ "qxl", "qxl-vga" }, { "virtio", "virtio-vga" },
	};
	/* Without a VNC display QEMU would pick a local GUI, or fall back
	 * to VNC on a TCP port: say explicitly that there is none. */
	if (strcmp(vga, "none") == 0)
		return add_opt(b, "-display", "none");
	if (strncmp(vga, "serial", 6) == 0) {
		int n = vga[6] - '0';
		if (n < 0 || n > 3 || vga[7] || !b->v->serial[n])
			return fail_key(b, "vga", 0, "'%s' needs the serial port %s to be configured", vga, vga);
		return add_opt(b, "-display", "none"); /* the console is that serial port */
	}
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (strcmp(vga, map[i].vga) == 0) {
			int r = add_opt(b, "-device", "%s,id=vga", map[i].device);
			return r < 0 ? r : add_opt(b, "-vnc", "unix:%s/qemu/%u.vnc", b->run_dir, b->vmid);
		}
	}
	return fail_key(b, "vga", 0, "display type '%s' is not supported by pvecfs-qemu", vga);
}

static int add_serial_ports(struct build *b)
{
	for (int i = 0; i < 4; i++) {
		const char *s = b->v->serial[i];
		if (!s)
			continue;
		int r;
		if (strcmp(s, "socket") == 0)
			r = add_opt(b, "-chardev", "socket,id=serial%d,path=%s/qemu/%u.serial%d,server=on,wait=off", i,
				    b->run_dir, b->vmid, i);
		else
			r = add_opt(b, "-chardev", "serial,id=serial%d,path=%s", i, s);
		if (r < 0 || (r = add_opt(b, "-device", "isa-serial,chardev=serial%d", i)) < 0)
			return r;
	}
	return 0;
}

static int add_guest_services(struct build *b)
{
	const struct vmconf_view *v = b->v;
	int r;
	if (!(v->has_balloon && v->balloon == 0) &&
	    (r = add_opt(b, "-device", "virtio-balloon-pci,id=balloon0")) < 0)
		return r;
	if (v->agent) {
		if ((r = add_opt(b, "-chardev", "socket,path=%s/qemu/%u.qga,server=on,wait=off,id=qga0", b->run_dir,
				 b->vmid)) < 0 ||
		    (r = add_opt(b, "-device", "virtio-serial,id=qga-serial0")) < 0 ||
		    (r = add_opt(b, "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0")) < 0)
			return r;
	}
	if (v->vmgenid && strcmp(v->vmgenid, "0") != 0 && (r = add_opt(b, "-device", "vmgenid,guid=%s", v->vmgenid)) < 0)
		return r;
	if (v->ostype && strncmp(v->ostype, "win", 3) == 0 && (r = add_opt(b, "-rtc", "driftfix=slew,base=localtime")) < 0)
		return r;
	return 0;
}

/* ---- disks ---- */

/* The SCSI controller model for scsihw, and how many targets one has. */
static int scsi_controller(struct build *b, const char **model, int *per_controller)
{
	const char *hw = b->v->scsihw ? b->v->scsihw : "lsi";
	static const struct {
		const char *scsihw, *model;
		int per;
	} map[] = {
		{ "lsi", "lsi", 7 },
		{ "lsi53c810", "lsi53c810", 7 },
		{ "megasas", "megasas", 8 },
		{ "pvscsi", "pvscsi", 8 },
		{ "virtio-scsi-pci", "virtio-scsi-pci", 256 },
		{ "virtio-scsi-single", "virtio-scsi-pci", 1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (strcmp(hw, map[i].scsihw) == 0) {
			*model = map[i].model;
			*per_controller = map[i].per;
			return 0;
		}
	}
	return fail_key(b, "scsihw", 0, "SCSI controller '%s' is not supported by pvecfs-qemu", hw);
}

static bool is_virtio_scsi_single(const struct build *b)
{
	return b->v->scsihw && strcmp(b->v->scsihw, "virtio-scsi-single") == 0;
}

/* The controller a SCSI disk hangs off, created on first use, and the
 * address on it ("bus=scsihw0.0,scsi-id=3"). */
static int scsi_address(struct build *b, const struct vmconf_disk *d, char *addr, size_t size)
{
	const char *model = NULL;
	int per = 1, r;
	if ((r = scsi_controller(b, &model, &per)) < 0)
		return r;
	bool single = is_virtio_scsi_single(b);
	bool virtio = strcmp(model, "virtio-scsi-pci") == 0;
	int controller = d->index / per;
	const char *prefix = single ? "virtioscsi" : "scsihw";
	if (!b->have_scsi_controller[controller]) {
		b->have_scsi_controller[controller] = true;
		if (single && d->iothread) {
			if ((r = add_opt(b, "-object", "iothread,id=iothread-virtioscsi%d", controller)) < 0 ||
			    (r = add_opt(b, "-device", "%s,id=%s%d,iothread=iothread-virtioscsi%d", model, prefix,
					 controller, controller)) < 0)
				return r;
		} else if ((r = add_opt(b, "-device", "%s,id=%s%d", model, prefix, controller)) < 0) {
			return r;
		}
	}
	if (virtio)
		snprintf(addr, size, "bus=%s%d.0,channel=0,scsi-id=0,lun=%d", prefix, controller, single ? 0 : d->index);
	else
		snprintf(addr, size, "bus=%s%d.0,scsi-id=%d", prefix, controller, d->index % per);
	return 0;
}

/* The -device for a disk: the bus-specific front end of drive-<key>. */
static int disk_device(struct build *b, const struct vmconf_disk *d, char *dev, size_t size)
{
	char addr[96];
	int r;
	if (strcmp(d->bus, "scsi") == 0) {
		if ((r = scsi_address(b, d, addr, sizeof(addr))) < 0)
			return r;
		snprintf(dev, size, "%s,%s,drive=drive-%s,id=%s", d->cdrom ? "scsi-cd" : "scsi-hd", addr, d->key, d->key);
	} else if (strcmp(d->bus, "virtio") == 0) {
		if (d->cdrom)
			return fail_key(b, d->key, d->line, "a CD-ROM cannot be a virtio disk");
		if (d->iothread && (r = add_opt(b, "-object", "iothread,id=iothread-%s", d->key)) < 0)
			return r;
		snprintf(dev, size, "virtio-blk-pci,drive=drive-%s,id=%s%s%s", d->key, d->key,
			 d->iothread ? ",iothread=iothread-" : "", d->iothread ? d->key : "");
	} else if (strcmp(d->bus, "sata") == 0) {
		int controller = d->index / 6;
		if (!b->have_ahci[controller]) {
			b->have_ahci[controller] = true;
			if ((r = add_opt(b, "-device", "ahci,id=ahci%d,multifunction=on", controller)) < 0)
				return r;
		}
		snprintf(dev, size, "%s,bus=ahci%d.%d,drive=drive-%s,id=%s", d->cdrom ? "ide-cd" : "ide-hd", controller,
			 d->index % 6, d->key, d->key);
	} else if (strcmp(d->bus, "ide") == 0) {
		/* i440fx: two IDE buses with two units each; q35's built-in
		 * AHCI: six buses with one unit each. */
		if (b->v->q35)
			snprintf(addr, sizeof(addr), "bus=ide.%d,unit=0", d->index);
		else
			snprintf(addr, sizeof(addr), "bus=ide.%d,unit=%d", d->index / 2, d->index % 2);
		snprintf(dev, size, "%s,%s,drive=drive-%s,id=%s", d->cdrom ? "ide-cd" : "ide-hd", addr, d->key, d->key);
	} else {
		return fail_key(b, d->key, d->line, "disks on '%s' are not supported by pvecfs-qemu", d->bus);
	}
	if (d->ssd && !d->cdrom && strcmp(d->bus, "virtio") != 0) {
		size_t len = strlen(dev);
		snprintf(dev + len, size - len, ",rotation_rate=1");
	}
	int boot = boot_index(b, d->key);
	if (boot >= 0) {
		size_t len = strlen(dev);
		snprintf(dev + len, size - len, ",bootindex=%d", boot);
	}
	return 0;
}

/* aio: io_uring unless the config says otherwise; native needs O_DIRECT,
 * i.e. cache=none or directsync. */
static int disk_aio(struct build *b, const struct vmconf_disk *d, const char *cache, const char **aio)
{
	const char *want = propstr_get(&d->props, "aio");
	*aio = want ? want : "io_uring";
	if (strcmp(*aio, "io_uring") && strcmp(*aio, "threads") && strcmp(*aio, "native"))
		return fail_key(b, d->key, d->line, "aio: '%s' is not one of io_uring, native, threads", *aio);
	if (strcmp(*aio, "native") == 0 && strcmp(cache, "none") && strcmp(cache, "directsync"))
		return fail_key(b, d->key, d->line, "aio=native needs cache=none or cache=directsync, not cache=%s",
				cache);
	return 0;
}

/* The -drive (back end) of one disk.  Returns 1 when the disk has no
 * medium to attach (volume "none" on a hard disk): it is left out. */
static int disk_drive(struct build *b, const struct vmconf_disk *d, char **drive)
{
	bool empty = strcmp(d->volume, "none") == 0;
	if (empty && !d->cdrom)
		return 1;
	if (empty) {
		/* An empty CD-ROM drive the guest (or QMP) can load later. */
		return asprintf(drive, "if=none,id=drive-%s,media=cdrom", d->key) < 0 ? -ENOMEM : 0;
	}
	_cleanup_free_ char *path = NULL;
	bool block = false;
	int r;
	if (strcmp(d->volume, "cdrom") == 0) {
		path = strdup("/dev/cdrom");
		block = true;
		if (!path)
			return -ENOMEM;
	} else if ((r = resolve_volume(b, d, &path, &block)) < 0) {
		return r;
	}
	if (strchr(path, ','))
		return fail_key(b, d->key, d->line, "volume path '%s' contains a comma", path);
	const char *format = d->format ? d->format : format_from_name(path, block);
	const char *cache = d->cache ? d->cache : "none";
	const char *aio;
	if ((r = disk_aio(b, d, cache, &aio)) < 0)
		return r;
	bool discard = d->discard && strcmp(d->discard, "on") == 0;
	if ((r = remember_volume(b, path)) < 0)
		return r;
	return asprintf(drive, "file=%s,if=none,id=drive-%s,%sformat=%s,cache=%s,aio=%s%s", path, d->key,
			d->cdrom ? "media=cdrom,readonly=on," : "", format, cache, aio,
			discard ? ",discard=unmap,detect-zeroes=unmap" : "") < 0
		       ? -ENOMEM
		       : 0;
}

static int add_disks(struct build *b)
{
	const struct vmconf_view *v = b->v;
	for (size_t i = 0; i < v->disk_count; i++) {
		const struct vmconf_disk *d = &v->disks[i];
		if (strcmp(d->bus, "efidisk") == 0)
			continue; /* firmware */
		if (strcmp(d->bus, "tpmstate") == 0)
			return fail_key(b, d->key, d->line, "a TPM (swtpm) is not supported by pvecfs-qemu");
		_cleanup_free_ char *drive = NULL;
		int r = disk_drive(b, d, &drive);
		if (r < 0)
			return r;
		if (r == 1)
			continue;
		char dev[256];
		if ((r = disk_device(b, d, dev, sizeof(dev))) < 0 || (r = add_opt(b, "-drive", "%s", drive)) < 0 ||
		    (r = add_opt(b, "-device", "%s", dev)) < 0)
			return r;
	}
	return 0;
}

/* ---- NICs ---- */

static const char *nic_device_model(const char *model)
{
	static const struct {
		const char *model, *device;
	} map[] = {
		{ "virtio", "virtio-net-pci" }, { "e1000", "e1000" },     { "e1000e", "e1000e" },
		{ "rtl8139", "rtl8139" },	{ "vmxnet3", "vmxnet3" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(model, map[i].model) == 0)
			return map[i].device;
	return NULL;
}

/* A NIC without a MAC in the config still needs a stable one, or the guest
 * sees a new card on every start: derive it from vmid and index, in the
 * locally administered range PVE uses (BC:24:11). */
static void stable_mac(unsigned vmid, int index, char mac[18])
{
	uint32_t h = 2166136261u;
	uint32_t in[2] = { vmid, (uint32_t)index };
	for (size_t i = 0; i < sizeof(in); i++)
		h = (h ^ ((const unsigned char *)in)[i]) * 16777619u;
	snprintf(mac, 18, "BC:24:11:%02X:%02X:%02X", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

static int remember_nic(struct build *b, const struct vmconf_nic *n)
{
	struct qemu_nic *nics = realloc(b->cmd->nics, (b->cmd->n_nics + 1) * sizeof(*nics));
	if (!nics)
		return -ENOMEM;
	b->cmd->nics = nics;
	struct qemu_nic *nic = &nics[b->cmd->n_nics];
	memset(nic, 0, sizeof(*nic));
	nic->index = (unsigned)n->index;
	snprintf(nic->ifname, sizeof(nic->ifname), "tap%ui%d", b->vmid, n->index);
	if (!(nic->bridge = strdup(n->bridge)))
		return -ENOMEM;
	nic->mtu = n->mtu > 1 ? (unsigned)n->mtu : 0;
	nic->tag = n->tag > 0 ? (unsigned)n->tag : 0;
	nic->link_down = n->link_down;
	b->cmd->n_nics++;
	return 0;
}

static int add_nic(struct build *b, const struct vmconf_nic *n, bool vhost)
{
	const char *device = nic_device_model(n->model);
	if (!device)
		return fail_key(b, n->key, n->line, "NIC model '%s' is not supported by pvecfs-qemu", n->model);
	bool virtio = strcmp(n->model, "virtio") == 0;
	char mac[18];
	if (n->mac[0])
		snprintf(mac, sizeof(mac), "%s", n->mac);
	else
		stable_mac(b->vmid, n->index, mac);
	int r;
	char queues[48] = "";
	if (virtio && n->queues > 1)
		snprintf(queues, sizeof(queues), ",queues=%d", n->queues);
	if (n->bridge) {
		char ifname[16];
		snprintf(ifname, sizeof(ifname), "tap%ui%d", b->vmid, n->index);
		r = add_opt(b, "-netdev", "tap,id=%s,ifname=%s,script=no,downscript=no%s%s", n->key, ifname,
			    virtio && vhost ? ",vhost=on" : "", queues);
		if (r >= 0)
			r = remember_nic(b, n);
	} else {
		/* No bridge: QEMU's user-mode network (NAT), as PVE does. */
		r = add_opt(b, "-netdev", "user,id=%s", n->key);
	}
	if (r < 0)
		return r;
	char extra[128] = "";
	size_t len = 0;
	if (virtio && n->queues > 1)
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, ",mq=on,vectors=%d", 2 * n->queues + 2);
	if (virtio && n->mtu > 1)
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, ",host_mtu=%d", n->mtu);
	int boot = boot_index(b, n->key);
	if (boot >= 0)
		snprintf(extra + len, sizeof(extra) - len, ",bootindex=%d", boot);
	return add_opt(b, "-device", "%s,mac=%s,netdev=%s,id=%s%s", device, mac, n->key, n->key, extra);
}

static int add_nics(struct build *b)
{
	bool vhost = b->v->nic_count > 0 && b->cmd->kvm && device_usable("/dev/vhost-net");
	for (size_t i = 0; i < b->v->nic_count; i++) {
		int r = add_nic(b, &b->v->nics[i], vhost);
		if (r < 0)
			return r;
	}
	return 0;
}

/* `args:` is appended as it is, split at blanks (no quoting: PVE's own
 * shell-like splitting is not reproduced; a value with a space cannot be
 * given this way). */
static int add_raw_args(struct build *b)
{
	if (!b->v->args)
		return 0;
	_cleanup_free_ char *copy = strdup(b->v->args);
	if (!copy)
		return -ENOMEM;
	char *save = NULL;
	for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		int r = qemu_cmd_add(b->cmd, tok);
		if (r < 0)
			return r;
	}
	return 0;
}

static int decide_accel(struct build *b)
{
	switch (b->o->accel) {
	case QEMU_ACCEL_KVM:
		b->cmd->kvm = true;
		break;
	case QEMU_ACCEL_TCG:
		b->cmd->kvm = false;
		break;
	default:
		b->cmd->kvm = qemu_kvm_usable();
		if (!b->cmd->kvm) {
			char text[128];
			snprintf(text, sizeof(text), "VM %u: /dev/kvm is not usable, running under TCG (slow)", b->vmid);
			note(b, text);
		}
	}
	return 0;
}

int qemu_cmd_build(struct qemu_cmd *cmd, unsigned vmid, const struct vmconf *conf, const char *file,
		   const struct qemu_cmd_options *opts, struct parse_error *err)
{
	struct build b = {
		.cmd = cmd,
		.vmid = vmid,
		.v = vmconf_view(conf),
		.file = file,
		.o = opts,
		.err = err,
		.run_dir = opts->run_dir ? opts->run_dir : "/run/pvecfs",
	};
	parse_error_clear(err);
	cmd->vmid = vmid;
	int r;
	if ((r = decide_accel(&b)) < 0 || (r = qemu_cmd_add(cmd, opts->qemu_binary ? opts->qemu_binary : "qemu-system-x86_64")) < 0 ||
	    (r = add_identity(&b)) < 0 || (r = add_firmware(&b)) < 0 || (r = add_cpu_and_memory(&b)) < 0 ||
	    (r = add_machine(&b)) < 0 || (r = add_opt(&b, "-boot", "menu=on,strict=on,reboot-timeout=1000")) < 0 ||
	    (r = add_display(&b)) < 0 || (r = add_serial_ports(&b)) < 0 || (r = add_guest_services(&b)) < 0 ||
	    (r = add_disks(&b)) < 0 || (r = add_nics(&b)) < 0 || (r = add_raw_args(&b)) < 0) {
		if (r == -ENOMEM)
			parse_error_fail(err, NULL, "out of memory");
		qemu_cmd_clear(cmd);
		return r;
	}
	return 0;
}
