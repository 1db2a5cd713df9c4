/* publish.c - see publish.h.  Local mode: apply directly.  The integrator
 * routes these through CPG in cluster mode (every node applies on
 * delivery, this one included). */
#include "publish.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cfs.h"
#include "clusterlog.h"
#include "nodestatus.h"

int cfs_publish_status(struct cfs *cfs, const char *key, const char *value)
{
	if (!cfs->nodestatus)
		return -ENODEV;
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
