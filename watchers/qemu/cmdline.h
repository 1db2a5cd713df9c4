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

#endif
