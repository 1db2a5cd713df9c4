/* msg.c - see msg.h. */
#include "msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

void msg_buf_init(struct msg_buf *b) { memset(b, 0, sizeof(*b)); }

void msg_buf_free(struct msg_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static uint8_t *reserve(struct msg_buf *b, size_t n)
{
	if (b->error)
		return NULL;
	if (b->len + n > MSG_MAX_SIZE) {
		b->error = -EMSGSIZE;
		return NULL;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *d = realloc(b->data, cap);
		if (!d) {
			b->error = -ENOMEM;
			return NULL;
		}
		b->data = d;
		b->cap = cap;
	}
	uint8_t *p = b->data + b->len;
	b->len += n;
	return p;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_n(struct msg_buf *b, uint64_t v, int n)
{
	uint8_t *p = reserve(b, (size_t)n);
	if (p)
		put_le(p, v, n);
}

void msg_put_u8(struct msg_buf *b, uint8_t v) { put_n(b, v, 1); }
void msg_put_u16(struct msg_buf *b, uint16_t v) { put_n(b, v, 2); }
void msg_put_u32(struct msg_buf *b, uint32_t v) { put_n(b, v, 4); }
void msg_put_u64(struct msg_buf *b, uint64_t v) { put_n(b, v, 8); }

void msg_put_bytes(struct msg_buf *b, const void *p, size_t n)
{
	uint8_t *d = reserve(b, n);
	if (d && n)
		memcpy(d, p, n);
}

void msg_put_blob(struct msg_buf *b, const void *p, size_t n)
{
	msg_put_u32(b, (uint32_t)n);
	msg_put_bytes(b, p, n);
}

void msg_begin(struct msg_buf *b, enum msg_type type, uint32_t sender, uint64_t epoch, uint64_t counter)
{
	b->len = 0;
	b->error = 0;
	msg_put_u32(b, MSG_MAGIC);
	msg_put_u16(b, MSG_PROTO_VERSION);
	msg_put_u16(b, (uint16_t)type);
	msg_put_u32(b, 0); /* length */
	msg_put_u32(b, 0); /* crc */
	msg_put_u32(b, sender);
	msg_put_u32(b, 0); /* flags */
	msg_put_u64(b, epoch);
	msg_put_u64(b, counter);
}

static uint32_t frame_crc(const uint8_t *frame, size_t len)
{
	static const uint8_t zero[4];
	uLong crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, frame, 12);
	crc = crc32(crc, zero, 4);
	crc = crc32_z(crc, frame + 16, len - 16);
	return (uint32_t)crc;
}

/* Replaces a large body by u32 length + its zstd compression, if smaller
 * (config text compresses several times; a 1 MiB file then costs a
 * fraction of a CPG round trip's bandwidth). */
static void compress_body(struct msg_buf *b)
{
	size_t body = b->len - MSG_HEADER_SIZE;
	if (body < MSG_COMPRESS_MIN)
		return;
	size_t bound = ZSTD_compressBound(body);
	uint8_t *out = malloc(MSG_HEADER_SIZE + 4 + bound);
	if (!out)
		return;
	size_t n = ZSTD_compress(out + MSG_HEADER_SIZE + 4, bound, b->data + MSG_HEADER_SIZE, body, 1);
	if (ZSTD_isError(n) || n + 4 >= body - body / 8) {
		free(out); /* not worth it */
		return;
	}
	memcpy(out, b->data, MSG_HEADER_SIZE);
	put_le(out + MSG_HEADER_SIZE, body, 4);
	put_le(out + 20, get_le(out + 20, 4) | MSG_FLAG_ZSTD, 4);
	free(b->data);
	b->data = out;
	b->len = b->cap = MSG_HEADER_SIZE + 4 + n;
}

int msg_finish(struct msg_buf *b)
{
	if (b->error)
		return b->error;
	compress_body(b);
	put_le(b->data + 8, b->len, 4);
	put_le(b->data + 12, frame_crc(b->data, b->len), 4);
	return 0;
}

/* A compressed body: u32 original length, then the zstd frame. */
static int decompress_body(struct msg_reader *r)
{
	if (r->end - r->p < 4)
		return -EBADMSG;
	size_t body = (size_t)get_le(r->p, 4);
	if (body > MSG_MAX_SIZE)
		return -EBADMSG;
	uint8_t *out = malloc(body ? body : 1);
	if (!out)
		return -ENOMEM;
	size_t n = ZSTD_decompress(out, body, r->p + 4, (size_t)(r->end - r->p - 4));
	if (ZSTD_isError(n) || n != body) {
		free(out);
		return -EBADMSG;
	}
	r->owned = out;
	r->p = out;
	r->end = out + body;
	return 0;
}

int msg_open(const void *frame, size_t len, struct msg_header *h, struct msg_reader *r)
{
	const uint8_t *p = frame;
	r->owned = NULL;
	if (len < MSG_HEADER_SIZE || get_le(p, 4) != MSG_MAGIC)
		return -EBADMSG;
	h->version = (uint16_t)get_le(p + 4, 2);
	h->type = (uint16_t)get_le(p + 6, 2);
	h->length = (uint32_t)get_le(p + 8, 4);
	h->sender = (uint32_t)get_le(p + 16, 4);
	h->flags = (uint32_t)get_le(p + 20, 4);
	h->epoch = get_le(p + 24, 8);
	h->counter = get_le(p + 32, 8);
	if (h->length != len)
		return -EBADMSG;
	if ((uint32_t)get_le(p + 12, 4) != frame_crc(p, len))
		return -EBADMSG;
	if (h->version > MSG_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h->version == 0)
		return -EBADMSG;
	r->p = p + MSG_HEADER_SIZE;
	r->end = p + len;
	r->error = 0;
	if (h->flags & ~MSG_FLAG_ZSTD)
		return -EBADMSG;
	return h->flags & MSG_FLAG_ZSTD ? decompress_body(r) : 0;
}

void msg_reader_release(struct msg_reader *r)
{
	free(r->owned);
	r->owned = NULL;
}

static const uint8_t *take(struct msg_reader *r, size_t n)
{
	if (r->error || (size_t)(r->end - r->p) < n) {
		r->error = -EBADMSG;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

static uint64_t get_n(struct msg_reader *r, int n)
{
	const uint8_t *p = take(r, (size_t)n);
	return p ? get_le(p, n) : 0;
}

uint8_t msg_get_u8(struct msg_reader *r) { return (uint8_t)get_n(r, 1); }
uint16_t msg_get_u16(struct msg_reader *r) { return (uint16_t)get_n(r, 2); }
uint32_t msg_get_u32(struct msg_reader *r) { return (uint32_t)get_n(r, 4); }
uint64_t msg_get_u64(struct msg_reader *r) { return get_n(r, 8); }
const void *msg_get_bytes(struct msg_reader *r, size_t n) { return take(r, n); }

const void *msg_get_blob(struct msg_reader *r, size_t *n)
{
	*n = msg_get_u32(r);
	return take(r, *n);
}

int msg_reader_done(const struct msg_reader *r)
{
	return r->error ? r->error : (r->p == r->end ? 0 : -EBADMSG);
}

void msg_put_change(struct msg_buf *b, const struct change *c)
{
	msg_put_u8(b, (uint8_t)c->op);
	msg_put_u64(b, (uint64_t)c->mtime);
	msg_put_u64(b, c->expect_version);
	msg_put_blob(b, c->path, strlen(c->path) + 1);
	if (c->to)
		msg_put_blob(b, c->to, strlen(c->to) + 1);
	else
		msg_put_blob(b, NULL, 0);
	msg_put_blob(b, c->data, c->size);
}

/* A string blob must be NUL-terminated with no NUL inside. */
static const char *get_string(struct msg_reader *r, bool optional)
{
	size_t n;
	const char *s = msg_get_blob(r, &n);
	if (!s)
		return NULL;
	if (n == 0 && optional)
		return NULL;
	if (n == 0 || s[n - 1] != '\0' || strlen(s) != n - 1) {
		r->error = -EBADMSG;
		return NULL;
	}
	return s;
}

int msg_get_change(struct msg_reader *r, uint32_t sender, struct change *c)
{
	memset(c, 0, sizeof(*c));
	uint8_t op = msg_get_u8(r);
	c->mtime = (int64_t)msg_get_u64(r);
	c->expect_version = msg_get_u64(r);
	c->path = get_string(r, false);
	c->to = get_string(r, true);
	c->data = msg_get_blob(r, &c->size);
	c->writer = sender;
	if (r->error)
		return r->error;
	if (op < CHANGE_CREATE || op > CHANGE_MTIME || !c->path ||
	    ((op == CHANGE_RENAME) != (c->to != NULL)))
		return -EBADMSG;
	c->op = (enum change_op)op;
	return 0;
}
