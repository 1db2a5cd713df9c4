/* cmdline.h - turn a VM config into the QEMU command that runs it.
 *
 * The result, struct qemu_cmd, is everything needed to start and manage the
 * VM: the argument vector, the run-time paths QEMU will create (QMP socket,
 * pid file), the NICs whose taps the watcher must put on bridges after QEMU
 * created them, and the volumes that must exist before starting.  Building
 * it touches nothing: `pvecfs-qemu showcmd` prints it, vm_start() runs it.
 *
 * Run-time layout under the run dir (default /run/pvecfs):
 *   qemu/<vmid>.qmp  qemu/<vmid>.pid  qemu/<vmid>.qga  qemu/<vmid>.vnc
 *   qemu/<vmid>.serial<N>
 * Taps are named tap<vmid>i<N> for netN, as in Proxmox VE. */
#ifndef PVECFS_QEMU_CMDLINE_H
#define PVECFS_QEMU_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

struct qemu_nic {
	unsigned index;		/* N of netN */
	char ifname[16];	/* tap<vmid>i<N> */
	char *bridge;		/* NULL: QEMU user networking is not used; no bridge, no attach */
	unsigned mtu;		/* 0: the bridge's MTU */
	unsigned tag;		/* VLAN, 0: none */
	bool link_down;
};

struct qemu_cmd {
	unsigned vmid;
	char **argv;		/* NULL-terminated; argv[0] is the QEMU binary */
	size_t argc, argv_cap;
	char *qmp_path, *pid_path;
	struct qemu_nic *nics;
	size_t n_nics;
	char **volumes;		/* files/devices that must exist when starting */
	size_t n_volumes;
	bool kvm;		/* decided: KVM (true) or TCG */
};

/* Which accelerator to use: decide from /dev/kvm, or force one (tests,
 * machines where KVM is present but must not be used). */
enum qemu_accel { QEMU_ACCEL_AUTO, QEMU_ACCEL_KVM, QEMU_ACCEL_TCG };

/* Append one argument (copied) / a printf-formatted argument.  -ENOMEM. */
int qemu_cmd_add(struct qemu_cmd *cmd, const char *arg);
int qemu_cmd_addf(struct qemu_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Release everything the command owns (not the struct itself). */
void qemu_cmd_clear(struct qemu_cmd *cmd);

/* True if /dev/kvm can be opened read-write (what QEMU needs for -accel kvm). */
bool qemu_kvm_usable(void);

struct vmconf;
struct parse_error;

/* Turn a volume "storage:name" of VM vmid into a path (malloc'ed) and say
 * whether it is a block device.  Fails with a parse_error whose key is left
 * for the caller to fill (the disk key).  See storage.h for the storage.cfg
 * implementation. */
typedef int (*qemu_volume_resolver_fn)(void *userdata, unsigned vmid, const char *volume, char **path,
				       bool *block_device, struct parse_error *err);

struct qemu_cmd_options {
	const char *run_dir;		/* default /run/pvecfs */
	const char *qemu_binary;	/* default qemu-system-x86_64 */
	enum qemu_accel accel;
	bool start_paused;		/* add -S: vm_start sets up the taps, then cont */
	const char *ovmf_code;		/* NULL: search /usr/share/OVMF */
	qemu_volume_resolver_fn resolve_volume; /* NULL: only absolute paths work */
	void *resolver_data;
	/* Where to say "KVM not usable, using TCG" and other notes; NULL: log_info. */
	void (*note)(void *userdata, const char *text);
	void *note_data;
};

/* Build the command for VM vmid from its parsed config (file names it in
 * errors).  Returns 0, or -EINVAL with err = "file:line: key 'k': reason"
 * for what cannot be run (an unsupported storage, a volume that cannot be
 * resolved, a serial0 vga without serial0...), -ENOENT when the firmware is
 * missing.  Nothing is touched; cmd must be zeroed, qemu_cmd_clear it. */
int qemu_cmd_build(struct qemu_cmd *cmd, unsigned vmid, const struct vmconf *conf, const char *file,
		   const struct qemu_cmd_options *opts, struct parse_error *err);

#endif
