/* value.h - typed checks of single config values.
 *
 * The smallest building blocks of the config parsers: turn one string into
 * an integer with a range, a 0/1 boolean, a byte size with K/M/G/T suffix,
 * a MAC address, one of a list of allowed words, a UUID, a name.  Each
 * returns 0 or -EINVAL and on failure fills key and reason of err (not the
 * position; see parse_error.h).  They never accept leading or trailing
 * garbage: "12x", " 12", "" are all errors. */
#ifndef PVECFS_VALUE_H
#define PVECFS_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "parse_error.h"

/* Decimal integer (optional leading '-') within [min, max]. */
int value_parse_int(const char *key, const char *s, long long min, long long max, long long *out,
		    struct parse_error *err);
/* Non-negative decimal number with an optional fraction ("12.5"), stored
 * in thousandths to stay in integers: "12.5" -> 12500. */
int value_parse_milli(const char *key, const char *s, uint64_t *out_milli, struct parse_error *err);
/* "0" or "1" only. */
int value_parse_bool(const char *key, const char *s, bool *out, struct parse_error *err);
/* Bytes: a number (fraction allowed) with an optional K, M, G or T suffix
 * (powers of 1024); no suffix means bytes. */
int value_parse_size(const char *key, const char *s, uint64_t *out, struct parse_error *err);
/* Six two-digit hex groups separated by ':'; multicast addresses (lowest
 * bit of the first octet set) are refused since a NIC cannot have one.
 * out (may be NULL) receives the canonical upper-case form. */
int value_parse_mac(const char *key, const char *s, char out[18], struct parse_error *err);
/* One of the NULL-terminated allowed list; *out points into allowed. */
int value_parse_enum(const char *key, const char *s, const char *const *allowed, const char **out,
		     struct parse_error *err);
/* 8-4-4-4-12 hex digits. */
int value_parse_uuid(const char *key, const char *s, struct parse_error *err);
/* An identifier: starts with a letter, then letters, digits, '-', '_', '.';
 * at most max_len characters.  Used for storage ids, bridges, snapshots. */
int value_parse_ident(const char *key, const char *s, size_t max_len, struct parse_error *err);

/* True if s is in the NULL-terminated list. */
bool value_in_list(const char *s, const char *const *list);

#endif
