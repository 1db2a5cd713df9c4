/* archive_format.h - the byte layout of a pvecfs backup container
 * (docs/backup.md is the specification; the words here are the same).
 *
 *   header   "PVECFSBK" | u32 format version (1) | u32 flags      16 bytes
 *   records  u32 type | u32 name length | u64 stored length |
 *            u64 raw length | name | stored payload                24 + ...
 *   trailer  "PVBKTAIL" | u64 bytes of header+records |
 *            SHA-256 of header+records                            48 bytes
 *
 * All integers are little-endian.  Flag ARCHIVE_FLAG_ZSTD: every payload
 * is stored as one zstd frame (with content checksum) of its raw bytes;
 * otherwise stored == raw.  Records: one MANIFEST (JSON, first), one ENTRY
 * per inode (root first, name = path relative to the root, "" for the
 * root), one END (u64 number of ENTRY records, last, never compressed).
 * The path is kept outside the compressed payload so damage can always be
 * named.
 *
 * This header is shared by the daemon's dump (which writes uncompressed
 * containers) and the CLI's reader/writer; it has no dependencies. */
#ifndef PVECFS_ARCHIVE_FORMAT_H
#define PVECFS_ARCHIVE_FORMAT_H

#include <stdint.h>
#include <string.h>

#define ARCHIVE_MAGIC "PVECFSBK"
#define ARCHIVE_TAIL_MAGIC "PVBKTAIL"
#define ARCHIVE_VERSION 1
#define ARCHIVE_FLAG_ZSTD 1u
#define ARCHIVE_HEADER_SIZE 16
#define ARCHIVE_RECORD_HEADER_SIZE 24
#define ARCHIVE_TRAILER_SIZE 48
#define ARCHIVE_ENTRY_HEADER_SIZE 40 /* inode parent version mtime writer type */

enum archive_record_type {
	ARCHIVE_RECORD_MANIFEST = 1,
	ARCHIVE_RECORD_ENTRY = 2,
	ARCHIVE_RECORD_END = 3,
};

static inline void archive_put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t archive_get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void archive_encode_header(uint8_t out[ARCHIVE_HEADER_SIZE], uint32_t flags)
{
	memcpy(out, ARCHIVE_MAGIC, 8);
	archive_put_le(out + 8, ARCHIVE_VERSION, 4);
	archive_put_le(out + 12, flags, 4);
}

static inline void archive_encode_record_header(uint8_t out[ARCHIVE_RECORD_HEADER_SIZE], uint32_t type,
						uint32_t name_len, uint64_t stored_len, uint64_t raw_len)
{
	archive_put_le(out, type, 4);
	archive_put_le(out + 4, name_len, 4);
	archive_put_le(out + 8, stored_len, 8);
	archive_put_le(out + 16, raw_len, 8);
}

/* The fixed part of an ENTRY payload; the content follows it. */
struct archive_entry_header {
	uint64_t inode, parent, version;
	int64_t mtime;
	uint32_t writer, type; /* type: enum tree_type */
};

static inline void archive_encode_entry_header(uint8_t out[ARCHIVE_ENTRY_HEADER_SIZE],
					       const struct archive_entry_header *h)
{
	archive_put_le(out, h->inode, 8);
	archive_put_le(out + 8, h->parent, 8);
	archive_put_le(out + 16, h->version, 8);
	archive_put_le(out + 24, (uint64_t)h->mtime, 8);
	archive_put_le(out + 32, h->writer, 4);
	archive_put_le(out + 36, h->type, 4);
}

static inline void archive_decode_entry_header(const uint8_t in[ARCHIVE_ENTRY_HEADER_SIZE],
					       struct archive_entry_header *h)
{
	h->inode = archive_get_le(in, 8);
	h->parent = archive_get_le(in + 8, 8);
	h->version = archive_get_le(in + 16, 8);
	h->mtime = (int64_t)archive_get_le(in + 24, 8);
	h->writer = (uint32_t)archive_get_le(in + 32, 4);
	h->type = (uint32_t)archive_get_le(in + 36, 4);
}

#endif
