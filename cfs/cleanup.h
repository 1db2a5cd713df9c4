/* cleanup.h - scope-bound release of memory and file descriptors.
 *
 * `_cleanup_free_ char *p = NULL;` frees p on every return path; TAKE_PTR
 * hands ownership out of such a variable.  This replaces goto ladders. */
#ifndef PVECFS_CLEANUP_H
#define PVECFS_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p) { free(*(void **)p); }
static inline void cleanup_closep(int *fd) { if (*fd >= 0) { int e = errno; close(*fd); errno = e; } }
static inline void cleanup_fclosep(FILE **f) { if (*f) fclose(*f); }

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(cleanup_freep)
#define _cleanup_close_ _cleanup_(cleanup_closep)
#define _cleanup_fclose_ _cleanup_(cleanup_fclosep)

#define TAKE_PTR(p) ({ __typeof__(p) _tp = (p); (p) = NULL; _tp; })
#define TAKE_FD(fd) ({ int _tf = (fd); (fd) = -1; _tf; })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
