/* qemud.h - the state of `pvecfs-qemu run`, shared by its modules:
 *   daemon.c   decides, per VM, what should happen (reconcile, onboot);
 *   actions.c  does it: the starts and stops a pass decided run together
 *              (on the watcher loop, per-VM deadlines), supervision of running
 *              QEMUs, adoption, the status store;
 *   warnings.c the footguns of a config and of the node;
 *   ctl.c      the client subcommands and small file helpers.
 * Everything runs on the watcher loop's one thread: a struct qvm is only
 * touched from there, and an action in flight owns its VM's launch or stop
 * alone until its result is applied.  Internal to pvecfs-qemu. */
#ifndef PVECFS_QEMU_QEMUD_H
#define PVECFS_QEMU_QEMUD_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmdline.h"
#include "vm.h"
#include "vmconf.h"
#include "watchloop.h"

#define EXIT_USAGE 2
#define START_TIMEOUT_MS 60000
#define RESTART_RESET_S 300

struct qvm {
	unsigned vmid;
	struct vm *vm;          /* NULL: not running here as far as we know */
	int qmp_fd;             /* registered with the loop, or -1 */
	int64_t started;        /* epoch seconds */
	char *running_conf;     /* the config text the QEMU was started from */
	bool guest_off;         /* SHUTDOWN guest-shutdown seen */
	bool crashed;
	bool starting;          /* a start of this pass is queued or running */
	bool stopping;          /* a stop of this pass is queued or running */
	bool onboot_start;      /* desired running because of onboot at watcher start */
	bool onboot_waiting;    /* ... and not released by the onboot sequence yet */
	long long onboot_order; /* startup order= (LLONG_MAX: none, after all others) */
	long long onboot_up;    /* startup up= seconds to wait after it, 0: none */
	unsigned restarts;
	struct watch_backoff restart;
	int64_t restart_at;     /* monotonic ms: not before */
	char *error;            /* the last reported error (logged once) */
	char *warnings;         /* the last logged warnings, joined by "; " */
	/* What the running QEMU was started with (for the node's totals and
	 * the duplicate-MAC check); zero/empty while it is not running. */
	long long run_memory, run_vcpus;
	char (*run_macs)[18];
	size_t n_run_macs;
};

struct qemu_action;

struct qemud {
	struct watch_ctx *ctx;
	const char *node;
	const char *run_dir;
	enum qemu_accel accel;
	unsigned shutdown_timeout_s;
	bool first_done; /* the first pass of this process happened */
	long long host_memory_mib; /* MemTotal; 0: unknown */
	long host_cpus;
	int64_t onboot_next_ms; /* monotonic: the next onboot group not before */
	struct qvm **vms;
	size_t n_vms;
	struct qemu_action **actions; /* queued by this pass (actions.c) */
	size_t n_actions;
	bool follow_up; /* re-looking at VMs just acted on: queue nothing */
	unsigned max_starts; /* QEMU starts in flight at once, 0: no limit */
	int action_timer;    /* timerfd for the actions' deadlines, -1: none yet */
	int *action_fds;     /* what the actions in flight have on the loop */
	size_t n_action_fds;
	bool onboot_in_flight; /* an onboot group is starting */
	long long onboot_group_up; /* ... and its up= seconds */
	char prefix[300]; /* "/nodes/<node>/qemu-server/" */
};

/* ctl.c */
unsigned parse_vmid(const char *s, size_t len);
int write_text(const char *path, const char *text);
int64_t mono_ms(void);

/* daemon.c */
int vm_file(struct qemud *d, const char *node, unsigned vmid, const char *ext, char **path);

/* actions.c: status */
int run_file(struct qemud *d, unsigned vmid, const char *ext, char **path);
void publish(struct qemud *d, struct qvm *q, const char *state, bool pending, const char *lock,
	     json_object *warnings);
void set_error(struct qemud *d, struct qvm *q, const char *action, const char *text);
void clear_error(struct qvm *q);
/* actions.c: the process of a VM */
void forget_process(struct qemud *d, struct qvm *q);
void recheck_refused(struct qemud *d);
void check_alive(struct qemud *d, struct qvm *q);
void try_adopt(struct qemud *d, struct qvm *q, const char *conf_text);
/* actions.c: starts and stops.  queue_start takes cmd over (and zeroes
 * it); run_actions begins what was queued and puts what it waits for on
 * the watcher loop; as each action finishes, its result is applied to its
 * VM and reconcile_after_action(d, vmid) (daemon.c) reports it, which must
 * queue nothing.  actions_shutdown, at exit, undoes starts in flight. */
int queue_start(struct qemud *d, struct qvm *q, struct qemu_cmd *cmd, const char *conf_text);
int queue_stop(struct qemud *d, struct qvm *q, unsigned timeout_s, const char *why);
void run_actions(struct qemud *d);
void actions_shutdown(struct qemud *d);
void reconcile_after_action(struct qemud *d, unsigned vmid);

/* warnings.c */
#define MAX_WARNINGS 16
struct warnings {
	size_t n;
	char text[MAX_WARNINGS][160];
};
void collect_warnings(struct qemud *d, const struct qvm *q, const struct vmconf *conf, struct warnings *w);
json_object *report_warnings(struct qemud *d, struct qvm *q, const struct warnings *w);

#endif
