/* msg.h - the cluster wire format.
 *
 * Every CPG message is one frame:
 *
 *   offset size  field
 *   0      4     magic "PVEC" (0x43455650, little-endian)
 *   4      2     protocol version (MSG_PROTO_VERSION)
 *   6      2     type (enum msg_type)
 *   8      4     total length in bytes, header included
 *   12     4     CRC-32 (zlib polynomial) of the whole frame with this field zero
 *   16     4     sender node id
 *   20     4     flags: MSG_FLAG_ZSTD = the body is u32 length + zstd data
 *   24     8     epoch (sync round the message belongs to; 0 for normal traffic)
 *   32     8     counter (per sender, increasing)
 *   40     ...   body (type specific, see msg.c)
 *
 * All integers are little-endian.  A frame that is short, has a bad magic,
 * length or CRC, or a body that does not decode exactly, is rejected as a
 * whole (-EBADMSG) and nothing of it is applied.  A frame with a newer
 * protocol version is rejected with -EPROTONOSUPPORT so the caller can log
 * the sender by name. */
#ifndef PVECFS_MSG_H
#define PVECFS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "change.h"

#define MSG_MAGIC 0x43455650u
#define MSG_PROTO_VERSION 1
#define MSG_HEADER_SIZE 40
#define MSG_MAX_SIZE (64u * 1024 * 1024)
#define MSG_FLAG_ZSTD 1u
/* Bodies at least this large are sent compressed when that saves space. */
#define MSG_COMPRESS_MIN (8u * 1024)

enum msg_type {
	MSG_CHANGES = 1,     /* a batch of changes (normal traffic) */
	MSG_STATE = 2,       /* sync: a member's state summary */
	MSG_UPDATE = 3,      /* sync: part of the leader's state */
	MSG_UPDATE_DONE = 4, /* sync: end of the leader's state */
	MSG_STATUS = 5,      /* per-node status store key/value */
	MSG_LOG = 6,         /* cluster log entry */
};

struct msg_header {
	uint16_t version;
	uint16_t type;
	uint32_t length;
	uint32_t sender;
	uint32_t flags;
	uint64_t epoch;
	uint64_t counter;
};

/* A growable output buffer for building frames. */
struct msg_buf {
	uint8_t *data;
	size_t len, cap;
	int error; /* sticky -ENOMEM */
};

void msg_buf_init(struct msg_buf *b);
void msg_buf_free(struct msg_buf *b);
void msg_put_u8(struct msg_buf *b, uint8_t v);
void msg_put_u16(struct msg_buf *b, uint16_t v);
void msg_put_u32(struct msg_buf *b, uint32_t v);
void msg_put_u64(struct msg_buf *b, uint64_t v);
void msg_put_bytes(struct msg_buf *b, const void *p, size_t n);
/* A length-prefixed (u32) byte string. */
void msg_put_blob(struct msg_buf *b, const void *p, size_t n);

/* Starts a frame; msg_finish() compresses a large body (zstd, if that
 * saves space) and fills length and CRC.  Returns 0 or -ENOMEM /
 * -EMSGSIZE. */
void msg_begin(struct msg_buf *b, enum msg_type type, uint32_t sender, uint64_t epoch, uint64_t counter);
int msg_finish(struct msg_buf *b);

/* A reader over a received frame's body. */
struct msg_reader {
	const uint8_t *p, *end;
	int error;      /* sticky -EBADMSG on overrun */
	uint8_t *owned; /* the decompressed body, if the frame was compressed */
};

/* Checks a received frame and fills the header; the body reader starts
 * after the header (decompressed if needed: release the reader with
 * msg_reader_release() after a successful open). */
int msg_open(const void *frame, size_t len, struct msg_header *h, struct msg_reader *r);
void msg_reader_release(struct msg_reader *r);
uint8_t msg_get_u8(struct msg_reader *r);
uint16_t msg_get_u16(struct msg_reader *r);
uint32_t msg_get_u32(struct msg_reader *r);
uint64_t msg_get_u64(struct msg_reader *r);
const void *msg_get_bytes(struct msg_reader *r, size_t n);
const void *msg_get_blob(struct msg_reader *r, size_t *n);
/* -EBADMSG unless the whole body was consumed without overrun. */
int msg_reader_done(const struct msg_reader *r);

/* MSG_CHANGES body: u32 count, then per change: u8 op, i64 mtime,
 * u64 expect_version, blob path (with NUL), blob to (empty if none, else
 * with NUL), blob data. */
void msg_put_change(struct msg_buf *b, const struct change *c);
/* Decodes one change; strings and data point into the frame. */
int msg_get_change(struct msg_reader *r, uint32_t sender, struct change *c);

#endif
