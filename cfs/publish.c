/* publish.c - see publish.h.  Local mode: apply directly; cluster mode:
 * multicast (replicate.c), every node applies on delivery, this one too. */
#include "publish.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cfs.h"
#include "clusterlog.h"
#include "nodestatus.h"
#include "replicate.h"

int cfs_publish_status(struct cfs *cfs, const char *key, const char *value)
{
	if (!cfs->nodestatus)
		return -ENODEV;
	if (cfs->cluster)
		return replicate_status(cfs, key, value);
	return nodestatus_apply_set(cfs->nodestatus, cfs->opt.node, key, value);
}

int cfs_publish_log(struct cfs *cfs, struct clusterlog_entry *e)
{
	if (!cfs->clusterlog)
		return -ENODEV;
	if (!e->node[0])
		snprintf(e->node, sizeof(e->node), "%s", cfs->opt.node);
	if (!e->uid)
		e->uid = clusterlog_new_uid(cfs->clusterlog);
	if (!e->time)
		e->time = (int64_t)time(NULL);
	if (cfs->cluster)
		return replicate_log(cfs, e);
	int r = clusterlog_apply(cfs->clusterlog, e);
	return r < 0 ? r : 0;
}

void cfs_log_cluster(struct cfs *cfs, int pri, const char *fmt, ...)
{
	struct clusterlog_entry e = { .pri = pri, .pid = (uint32_t)getpid() };
	char msg[CLUSTERLOG_MSG_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clusterlog_entry_set(&e, NULL, "root@pam", "pvecfs", msg);
	cfs_publish_log(cfs, &e);
}
