/* warnings.c - the classic footguns of a VM config and of the node it runs
 * on, for the status store ("warnings") and the log (when they change).
 * They never stop a VM: they say what will hurt. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemud.h"

static void warn_add(struct warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_add(struct warnings *w, const char *fmt, ...)
{
	if (w->n == MAX_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->text[w->n++], sizeof(w->text[0]), fmt, ap);
	va_end(ap);
}

/* The classic footguns of one config (emulated devices where VirtIO would
 * do, no guest agent, a long snapshot chain) and, for a running VM, of the
 * node it runs on (vCPU overcommit above 3:1, memory overcommit). */
void collect_warnings(struct qemud *d, const struct qvm *q, const struct vmconf *conf, struct warnings *w)
{
	const struct vmconf_view *view = vmconf_view(conf);
	for (size_t i = 0; i < view->disk_count; i++) {
		const struct vmconf_disk *disk = &view->disks[i];
		if (strcmp(disk->bus, "ide") == 0 && !disk->cdrom)
			warn_add(w, "%s: emulated IDE disk (slow): use virtio or scsi with virtio-scsi", disk->key);
	}
	for (size_t i = 0; i < view->nic_count; i++) {
		const struct vmconf_nic *nic = &view->nics[i];
		if (nic->model && (strcmp(nic->model, "e1000") == 0 || strcmp(nic->model, "e1000e") == 0 ||
				   strcmp(nic->model, "rtl8139") == 0))
			warn_add(w, "%s: emulated %s NIC (slow): use virtio", nic->key, nic->model);
	}
	if (!view->agent)
		warn_add(w, "no guest agent (agent: 1): no clean freeze for backups, no guest IP report");
	size_t snapshots = 0;
	for (size_t i = 0; i < conf->section_count; i++)
		if (conf->sections[i].kind == VMCONF_SNAPSHOT)
			snapshots++;
	if (snapshots > 2)
		warn_add(w, "%zu snapshots: a long chain slows every disk access; keep at most 2", snapshots);
	if (!q->vm)
		return;
	long long vcpus = 0, memory = 0;
	for (size_t i = 0; i < d->n_vms; i++)
		if (d->vms[i]->vm) {
			vcpus += d->vms[i]->run_vcpus;
			memory += d->vms[i]->run_memory;
		}
	if (d->host_cpus > 0 && vcpus > 3 * d->host_cpus)
		warn_add(w, "vCPU overcommit on this node: %lld vCPUs of running VMs on %ld CPUs (more than 3:1)",
			 vcpus, d->host_cpus);
	if (d->host_memory_mib && memory > d->host_memory_mib)
		warn_add(w, "memory overcommit on this node: %lld MiB for running VMs, MemTotal %lld MiB", memory,
			 d->host_memory_mib);
}

/* Logs the warnings when they changed; returns them as a JSON array. */
json_object *report_warnings(struct qemud *d, struct qvm *q, const struct warnings *w)
{
	char joined[MAX_WARNINGS * 162] = "";
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < w->n; i++) {
		json_object_array_add(a, json_object_new_string(w->text[i]));
		if (i)
			strcat(joined, "; ");
		strcat(joined, w->text[i]);
	}
	if (!q->warnings || strcmp(q->warnings, joined) != 0) {
		for (size_t i = 0; i < w->n; i++)
			watch_log(d->ctx, LOG_WARNING, "vmid=%u warning=\"%s\"", q->vmid, w->text[i]);
		free(q->warnings);
		q->warnings = strdup(joined);
	}
	return a;
}
