/* log.h - the daemon's and tools' logging: syslog or stderr, debug switchable
 * at run time (the .debug virtual file).  log_error_errno() returns the
 * negative errno it logs so callers can `return log_error_errno(r, ...)`. */
#ifndef PVECFS_LOG_H
#define PVECFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_open(const char *ident, bool to_stderr);
void log_set_debug(bool on);
bool log_get_debug(void);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs at LOG_ERR with strerror(-r) appended; returns r (negative errno). */
int log_error_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_get_debug()) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)

#endif
