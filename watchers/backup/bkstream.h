/* bkstream.h - the byte streams and the tar layer of VM backup archives.
 *
 * A VM backup (vmbackup.h) is a POSIX ustar archive, compressed as a whole
 * with zstd or gzip, or not at all.  Writing goes through a bkstream_out
 * (compressor in front of a file descriptor); reading through a bkstream_in
 * that recognises the compression from the first bytes (zstd magic
 * 28 b5 2f fd, gzip 1f 8b, else plain).  The tar layer is the minimal
 * subset we write: regular files with names up to 99 bytes, sizes above
 * 8 GiB in the GNU base-256 form, two zero blocks at the end.
 *
 * Everything returns 0 (or a count) or a negative errno; a damaged
 * compressed stream is -EBADMSG. */
#ifndef PVECFS_BACKUP_BKSTREAM_H
#define PVECFS_BACKUP_BKSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

enum bk_compress { BK_COMPRESS_NONE, BK_COMPRESS_GZIP, BK_COMPRESS_ZSTD };

/* "0" -> none, "gzip" -> gzip, "zstd" -> zstd; -EINVAL otherwise. */
int bk_compress_parse(const char *text, enum bk_compress *out);
/* The archive name suffix: "", ".gz", ".zst". */
const char *bk_compress_suffix(enum bk_compress c);

struct bkstream_out;
int bkstream_out_open(int fd, enum bk_compress c, struct bkstream_out **out);
int bkstream_out_write(struct bkstream_out *s, const void *buf, size_t len);
/* Ends the compressed frame and flushes; the fd stays open. */
int bkstream_out_finish(struct bkstream_out *s);
void bkstream_out_free(struct bkstream_out *s);
static inline void bkstream_out_freep(struct bkstream_out **s)
{
	bkstream_out_free(*s);
}

struct bkstream_in;
int bkstream_in_open(int fd, struct bkstream_in **out);
/* Reads up to len bytes: the count, 0 at the end, or a negative errno. */
ssize_t bkstream_in_read(struct bkstream_in *s, void *buf, size_t len);
/* Reads exactly len bytes: 0, -EPIPE (truncated), or a negative errno. */
int bkstream_in_read_full(struct bkstream_in *s, void *buf, size_t len);
void bkstream_in_free(struct bkstream_in *s);
static inline void bkstream_in_freep(struct bkstream_in **s)
{
	bkstream_in_free(*s);
}

#define TAR_BLOCK 512
#define TAR_NAME_MAX 99

/* A regular file's header.  -ENAMETOOLONG for names over TAR_NAME_MAX. */
int tar_write_header(struct bkstream_out *s, const char *name, uint64_t size, time_t mtime);
/* Zero padding after size bytes of data. */
int tar_write_padding(struct bkstream_out *s, uint64_t size);
/* The two zero blocks that end an archive. */
int tar_write_end(struct bkstream_out *s);

/* Reads the next header: 1 and name/size, 0 at the end of the archive,
 * -EBADMSG for a header that is not ustar or has a bad checksum, -EPIPE
 * when the stream ends early. */
int tar_read_header(struct bkstream_in *s, char name[TAR_NAME_MAX + 2], uint64_t *size);
int tar_skip_padding(struct bkstream_in *s, uint64_t size);

#endif
