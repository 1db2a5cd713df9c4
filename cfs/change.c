/* change.c - names of change operations, for logs and events.
 *
 * A `struct change` is plain data (see change.h); the only behaviour that
 * belongs to it on its own is a stable, human-readable name for its
 * operation.  These names appear in the event log and the socket API, so
 * they are part of the external interface and must not change. */
#include "change.h"

const char *change_op_name(enum change_op op)
{
	switch (op) {
	case CHANGE_CREATE:
		return "create";
	case CHANGE_WRITE:
		return "write";
	case CHANGE_MKDIR:
		return "mkdir";
	case CHANGE_UNLINK:
		return "unlink";
	case CHANGE_RMDIR:
		return "rmdir";
	case CHANGE_RENAME:
		return "rename";
	case CHANGE_MTIME:
		return "mtime";
	}
	return "unknown";
}
