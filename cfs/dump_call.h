/* dump_call.h - the socket API call "dump" (docs/backup.md): the daemon
 * writes a consistent snapshot of the tree (an uncompressed backup
 * container, see dump.h) to a new file named by the caller, and answers
 * with the version and checksum it is at.  Root only.
 *
 *   {"id":1,"call":"dump","path":"/abs/new-file"}
 *   {"id":1,"result":{"path":"...","version":V,"checksum":"...","entries":N,"bytes":B}}
 *
 * A file rather than a stream on the socket: the archive can be far larger
 * than a JSON line or a client's output buffer, and the caller (pvecfsctl,
 * root) creates it next to its final destination.  The file is created
 * with O_EXCL|O_NOFOLLOW and mode 0600, so nothing existing is overwritten. */
#ifndef PVECFS_DUMP_CALL_H
#define PVECFS_DUMP_CALL_H

#include "api_calls.h"

int dump_api_call(const struct api_caller *c, json_object *req, json_object **result, char **error);

#endif
