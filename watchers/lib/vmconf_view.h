/* vmconf_view.h - the validated, typed view of a VM's current config.
 *
 * Built by vmconf_parse from the current section only.  Every known key is
 * checked; absent keys get their documented default.  Strings point into
 * memory owned by the struct vmconf (valid until vmconf_free); a NULL
 * string means "not set".  Disks and NICs are listed in file order. */
#ifndef PVECFS_VMCONF_VIEW_H
#define PVECFS_VMCONF_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse_error.h"
#include "propstr.h"

struct vmconf_section;

enum vmconf_bios { VMCONF_BIOS_SEABIOS, VMCONF_BIOS_OVMF };

struct vmconf_disk {
	const char *key;     /* "scsi0", "virtio1", "efidisk0", "tpmstate0", ... */
	const char *bus;     /* "scsi", "virtio", "sata", "ide", "efidisk", "tpmstate" */
	int index;
	int line;
	const char *volume;  /* "storage:name", "none", "cdrom" or an absolute path */
	uint64_t size;       /* bytes; 0 when not given */
	const char *cache;   /* none|writethrough|writeback|unsafe|directsync, NULL = default */
	const char *discard; /* on|ignore, NULL = default */
	const char *format;  /* NULL = from the volume */
	bool iothread;
	bool cdrom;          /* media=cdrom or volume "cdrom" */
	bool ssd;
	bool backup;         /* default 1 */
	const char *efitype; /* efidisk0: 2m|4m */
	const char *tpm_version; /* tpmstate0: v1.2|v2.0 */
	struct propstr props; /* every property, in order */
};

struct vmconf_nic {
	const char *key;     /* "net0" */
	int index;
	int line;
	const char *model;   /* virtio, e1000, e1000e, rtl8139, vmxnet3, ... */
	char mac[18];        /* upper case; "" when not given */
	const char *bridge;  /* NULL when not given */
	int tag;             /* VLAN 1..4094; 0 = untagged */
	int mtu;             /* 0 = not given; 1 = same as the bridge */
	bool firewall;
	bool link_down;
	int queues;          /* 0 = default */
	bool has_rate;
	uint64_t rate_milli; /* MB/s in thousandths */
	const char *trunks;  /* raw "10;20;30" or NULL */
	struct propstr props;
};

struct vmconf_startup {
	long long order; /* -1 = any */
	long long up;    /* seconds; -1 = not given */
	long long down;  /* seconds; -1 = not given */
};

struct vmconf_view {
	const char *name;
	long long memory;    /* MiB, default 512 */
	bool has_balloon;
	long long balloon;   /* MiB; 0 = off */
	long long cores;     /* default 1 */
	long long sockets;   /* default 1 */
	long long vcpus;     /* default cores * sockets */
	bool numa;
	const char *cpu;     /* cpu type, default "kvm64" */
	const char *cpu_flags;
	const char *machine; /* machine type, default "pc" */
	bool q35;
	enum vmconf_bios bios;
	const char *ostype;  /* NULL = other */
	const char *scsihw;  /* default "lsi" */
	bool onboot, protection, template_;
	const char *vga;     /* vga type; NULL = std */
	bool agent;
	bool agent_fstrim;
	const char *serial[4]; /* "socket" or a /dev path, NULL = none */
	const char *smbios_uuid;
	struct vmconf_startup startup;
	const char *lock;    /* a locked VM must not be started or changed */
	const char *tags;
	const char *args;
	const char *hotplug;
	const char *vmgenid;
	const char *parent;  /* current snapshot */
	struct propstr_list boot_order; /* "order=" entries, in order */
	const char *boot_legacy; /* old "boot: cdn", NULL otherwise */
	size_t disk_count;
	struct vmconf_disk *disks;
	size_t nic_count;
	struct vmconf_nic *nics;
	/* property strings the strings above point into */
	size_t held_count;
	struct propstr *held;
};

/* Build view from the current section; file is for messages. */
int vmconf_view_build(struct vmconf_view *view, const struct vmconf_section *current, const char *file,
		      parse_warn_fn warn, void *userdata, struct parse_error *err);
void vmconf_view_free(struct vmconf_view *view);

const struct vmconf_disk *vmconf_view_disk(const struct vmconf_view *view, const char *key);
const struct vmconf_nic *vmconf_view_nic(const struct vmconf_view *view, const char *key);

/* Key classification: "scsi0".."scsi30", "virtio0".."virtio15",
 * "sata0".."sata5", "ide0".."ide3", "efidisk0", "tpmstate0"; "net0".."net31".
 * bus/index may be NULL. */
bool vmconf_is_disk_key(const char *key, const char **bus, int *index);
bool vmconf_is_nic_key(const char *key, int *index);

#endif
