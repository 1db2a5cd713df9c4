/* bkstream.c - see bkstream.h.
 *
 * The compressors are streaming (libzstd ZSTD_compressStream2, zlib deflate
 * with a gzip wrapper), so a disk image of any size passes through a fixed
 * 128 KiB buffer.  The reader decompresses one input chunk at a time and
 * hands out what it produced; a zstd input may hold several frames. */
#include "bkstream.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "cleanup.h"

#define CHUNK (128 * 1024)

int bk_compress_parse(const char *text, enum bk_compress *out)
{
	if (strcmp(text, "0") == 0)
		*out = BK_COMPRESS_NONE;
	else if (strcmp(text, "gzip") == 0)
		*out = BK_COMPRESS_GZIP;
	else if (strcmp(text, "zstd") == 0)
		*out = BK_COMPRESS_ZSTD;
	else
		return -EINVAL;
	return 0;
}

const char *bk_compress_suffix(enum bk_compress c)
{
	return c == BK_COMPRESS_ZSTD ? ".zst" : c == BK_COMPRESS_GZIP ? ".gz" : "";
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- output ---- */

struct bkstream_out {
	int fd;
	enum bk_compress c;
	ZSTD_CCtx *zstd;
	z_stream gz;
	bool gz_open;
	unsigned char buf[CHUNK];
};

int bkstream_out_open(int fd, enum bk_compress c, struct bkstream_out **out)
{
	*out = NULL;
	struct bkstream_out *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->c = c;
	if (c == BK_COMPRESS_ZSTD) {
		s->zstd = ZSTD_createCCtx();
		if (!s->zstd || ZSTD_isError(ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_compressionLevel, 3))) {
			bkstream_out_free(s);
			return -ENOMEM;
		}
	} else if (c == BK_COMPRESS_GZIP) {
		/* windowBits 15 + 16: a gzip header and trailer. */
		if (deflateInit2(&s->gz, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			free(s);
			return -ENOMEM;
		}
		s->gz_open = true;
	}
	*out = s;
	return 0;
}

static int zstd_push(struct bkstream_out *s, const void *buf, size_t len, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { buf, len, 0 };
	for (;;) {
		ZSTD_outBuffer o = { s->buf, sizeof(s->buf), 0 };
		size_t left = ZSTD_compressStream2(s->zstd, &o, &in, mode);
		if (ZSTD_isError(left))
			return -EIO;
		int r = write_all(s->fd, s->buf, o.pos);
		if (r < 0)
			return r;
		if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
			return 0;
	}
}

static int gzip_push(struct bkstream_out *s, const void *buf, size_t len, int flush)
{
	s->gz.next_in = (Bytef *)buf;
	s->gz.avail_in = (uInt)len;
	for (;;) {
		s->gz.next_out = s->buf;
		s->gz.avail_out = sizeof(s->buf);
		int z = deflate(&s->gz, flush);
		if (z == Z_STREAM_ERROR)
			return -EIO;
		int r = write_all(s->fd, s->buf, sizeof(s->buf) - s->gz.avail_out);
		if (r < 0)
			return r;
		if (flush == Z_FINISH ? z == Z_STREAM_END : (s->gz.avail_in == 0 && s->gz.avail_out != 0))
			return 0;
	}
}

int bkstream_out_write(struct bkstream_out *s, const void *buf, size_t len)
{
	switch (s->c) {
	case BK_COMPRESS_ZSTD: return zstd_push(s, buf, len, ZSTD_e_continue);
	case BK_COMPRESS_GZIP: {
		/* zlib counts in uInt: feed large buffers in pieces. */
		const char *p = buf;
		while (len) {
			size_t n = len > (1u << 30) ? (1u << 30) : len;
			int r = gzip_push(s, p, n, Z_NO_FLUSH);
			if (r < 0)
				return r;
			p += n;
			len -= n;
		}
		return 0;
	}
	default: return write_all(s->fd, buf, len);
	}
}

int bkstream_out_finish(struct bkstream_out *s)
{
	if (s->c == BK_COMPRESS_ZSTD)
		return zstd_push(s, NULL, 0, ZSTD_e_end);
	if (s->c == BK_COMPRESS_GZIP)
		return gzip_push(s, NULL, 0, Z_FINISH);
	return 0;
}

void bkstream_out_free(struct bkstream_out *s)
{
	if (!s)
		return;
	ZSTD_freeCCtx(s->zstd);
	if (s->gz_open)
		deflateEnd(&s->gz);
	free(s);
}

/* ---- input ---- */

struct bkstream_in {
	int fd;
	enum bk_compress c;
	ZSTD_DCtx *zstd;
	z_stream gz;
	bool gz_open, gz_end, eof;
	unsigned char in[CHUNK];
	size_t in_pos, in_len;
};

static int fill(struct bkstream_in *s)
{
	if (s->in_pos < s->in_len || s->eof)
		return 0;
	for (;;) {
		ssize_t n = read(s->fd, s->in, sizeof(s->in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s->in_pos = 0;
		s->in_len = (size_t)n;
		s->eof = n == 0;
		return 0;
	}
}

int bkstream_in_open(int fd, struct bkstream_in **out)
{
	*out = NULL;
	_cleanup_free_ struct bkstream_in *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	/* Read at least 4 bytes (or everything) to see the magic. */
	while (s->in_len < 4) {
		ssize_t n = read(fd, s->in + s->in_len, sizeof(s->in) - s->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		s->in_len += (size_t)n;
	}
	static const unsigned char zmagic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	if (s->in_len >= 4 && memcmp(s->in, zmagic, 4) == 0) {
		s->c = BK_COMPRESS_ZSTD;
		if (!(s->zstd = ZSTD_createDCtx()))
			return -ENOMEM;
	} else if (s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
		s->c = BK_COMPRESS_GZIP;
		if (inflateInit2(&s->gz, 15 + 16) != Z_OK)
			return -ENOMEM;
		s->gz_open = true;
	}
	*out = TAKE_PTR(s);
	return 0;
}

static ssize_t read_plain(struct bkstream_in *s, void *buf, size_t len)
{
	int r = fill(s);
	if (r < 0)
		return r;
	size_t n = s->in_len - s->in_pos;
	if (n > len)
		n = len;
	memcpy(buf, s->in + s->in_pos, n);
	s->in_pos += n;
	return (ssize_t)n;
}

static ssize_t read_zstd(struct bkstream_in *s, void *buf, size_t len)
{
	for (;;) {
		int r = fill(s);
		if (r < 0)
			return r;
		ZSTD_inBuffer in = { s->in, s->in_len, s->in_pos };
		ZSTD_outBuffer o = { buf, len, 0 };
		size_t z = ZSTD_decompressStream(s->zstd, &o, &in);
		if (ZSTD_isError(z))
			return -EBADMSG;
		s->in_pos = in.pos;
		if (o.pos > 0)
			return (ssize_t)o.pos;
		if (s->eof)
			return z == 0 ? 0 : -EPIPE; /* z != 0: inside a frame */
	}
}

static ssize_t read_gzip(struct bkstream_in *s, void *buf, size_t len)
{
	if (len > (1u << 30))
		len = 1u << 30;
	while (!s->gz_end) {
		int r = fill(s);
		if (r < 0)
			return r;
		s->gz.next_in = s->in + s->in_pos;
		s->gz.avail_in = (uInt)(s->in_len - s->in_pos);
		s->gz.next_out = buf;
		s->gz.avail_out = (uInt)len;
		int z = inflate(&s->gz, Z_NO_FLUSH);
		s->in_pos = s->in_len - s->gz.avail_in;
		if (z == Z_STREAM_END)
			s->gz_end = true;
		else if (z != Z_OK && z != Z_BUF_ERROR)
			return -EBADMSG;
		size_t got = len - s->gz.avail_out;
		if (got > 0)
			return (ssize_t)got;
		if (s->eof && !s->gz_end)
			return -EPIPE;
	}
	return 0;
}

ssize_t bkstream_in_read(struct bkstream_in *s, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	switch (s->c) {
	case BK_COMPRESS_ZSTD: return read_zstd(s, buf, len);
	case BK_COMPRESS_GZIP: return read_gzip(s, buf, len);
	default: return read_plain(s, buf, len);
	}
}

int bkstream_in_read_full(struct bkstream_in *s, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = bkstream_in_read(s, p, len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void bkstream_in_free(struct bkstream_in *s)
{
	if (!s)
		return;
	ZSTD_freeDCtx(s->zstd);
	if (s->gz_open)
		inflateEnd(&s->gz);
	free(s);
}

/* ---- tar ---- */

/* width - 1 octal digits and a NUL; value must fit (callers check). */
static void put_octal(char *field, size_t width, uint64_t value)
{
	field[width - 1] = '\0';
	for (size_t i = width - 1; i > 0; i--, value >>= 3)
		field[i - 1] = (char)('0' + (value & 7));
}

static unsigned header_sum(const unsigned char *h)
{
	unsigned sum = 0;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum;
}

int tar_write_header(struct bkstream_out *s, const char *name, uint64_t size, time_t mtime)
{
	unsigned char h[TAR_BLOCK] = { 0 };
	size_t len = strlen(name);
	if (len == 0 || len > TAR_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(h, name, len);
	put_octal((char *)h + 100, 8, 0644);
	put_octal((char *)h + 108, 8, 0);
	put_octal((char *)h + 116, 8, 0);
	if (size < (1ULL << 33)) {
		put_octal((char *)h + 124, 12, size);
	} else { /* GNU base-256: high bit set, big-endian value */
		h[124] = 0x80;
		for (int i = 11; i >= 1; i--, size >>= 8)
			h[124 + i] = (unsigned char)(size & 0xff);
	}
	put_octal((char *)h + 136, 12, (uint64_t)(mtime < 0 ? 0 : mtime));
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	snprintf((char *)h + 148, 8, "%06o", header_sum(h));
	h[155] = ' ';
	return bkstream_out_write(s, h, sizeof(h));
}

int tar_write_padding(struct bkstream_out *s, uint64_t size)
{
	static const unsigned char zero[TAR_BLOCK];
	size_t pad = (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
	return pad ? bkstream_out_write(s, zero, pad) : 0;
}

int tar_write_end(struct bkstream_out *s)
{
	static const unsigned char zero[2 * TAR_BLOCK];
	return bkstream_out_write(s, zero, sizeof(zero));
}

static int parse_octal(const unsigned char *field, size_t width, uint64_t *out)
{
	if (field[0] & 0x80) {
		uint64_t v = 0;
		for (size_t i = 1; i < width; i++)
			v = (v << 8) | field[i];
		*out = v;
		return 0;
	}
	uint64_t v = 0;
	size_t i = 0;
	while (i < width && field[i] == ' ')
		i++;
	for (; i < width && field[i] >= '0' && field[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(field[i] - '0');
	if (i < width && field[i] != '\0' && field[i] != ' ')
		return -EBADMSG;
	*out = v;
	return 0;
}

int tar_read_header(struct bkstream_in *s, char name[TAR_NAME_MAX + 2], uint64_t *size)
{
	unsigned char h[TAR_BLOCK];
	int r = bkstream_in_read_full(s, h, sizeof(h));
	if (r < 0)
		return r;
	bool zero = true;
	for (size_t i = 0; i < TAR_BLOCK && zero; i++)
		zero = h[i] == 0;
	if (zero)
		return 0;
	uint64_t sum;
	if (memcmp(h + 257, "ustar", 5) != 0 || parse_octal(h + 148, 8, &sum) < 0 || sum != header_sum(h) ||
	    parse_octal(h + 124, 12, size) < 0)
		return -EBADMSG;
	if (h[156] != '0' && h[156] != '\0')
		return -EBADMSG; /* we only ever write regular files */
	memcpy(name, h, 100);
	name[100] = '\0';
	name[TAR_NAME_MAX + 1] = '\0';
	return 1;
}

int tar_skip_padding(struct bkstream_in *s, uint64_t size)
{
	unsigned char pad[TAR_BLOCK];
	size_t n = (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
	return n ? bkstream_in_read_full(s, pad, n) : 0;
}
