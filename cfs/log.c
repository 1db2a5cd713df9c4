/* log.c - see log.h.  The only process-wide state here is the log target and
 * the debug flag: both are set once at start (debug also via .debug) and read
 * with relaxed atomics. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static bool log_to_stderr = true;
static bool log_debug_on;

void log_open(const char *ident, bool to_stderr)
{
	log_to_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_debug(bool on) { __atomic_store_n(&log_debug_on, on, __ATOMIC_RELAXED); }
bool log_get_debug(void) { return __atomic_load_n(&log_debug_on, __ATOMIC_RELAXED); }

static const char *priority_name(int priority)
{
	switch (priority) {
	case LOG_DEBUG: return "debug";
	case LOG_INFO: return "info";
	case LOG_NOTICE: return "notice";
	case LOG_WARNING: return "warning";
	default: return "error";
	}
}

static void log_vmsg(int priority, const char *fmt, va_list ap)
{
	if (!log_to_stderr) {
		vsyslog(priority, fmt, ap);
		return;
	}
	char line[2048];
	vsnprintf(line, sizeof(line), fmt, ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	localtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, priority_name(priority), line);
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(priority, fmt, ap);
	va_end(ap);
}

int log_error_errno(int r, const char *fmt, ...)
{
	char buf[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "%s: %s", buf, strerror(r < 0 ? -r : r));
	return r;
}
