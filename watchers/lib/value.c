/* value.c - typed checks of single config values (see value.h).
 *
 * Written by hand instead of strtoll/strtod so that the accepted syntax is
 * exactly what the formats allow (no leading spaces, no '+', no hex, no
 * locale) and overflow is detected before it happens.  Values are quoted in
 * reasons, cut to 64 bytes so one huge value cannot drown the message. */
#include "value.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define VALUE_QUOTE_MAX 64

bool value_in_list(const char *s, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* Parse digits at *p into an unsigned value; false on overflow or none. */
static bool parse_digits(const char **p, unsigned long long limit, unsigned long long *out)
{
	const char *s = *p;
	unsigned long long v = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (limit - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return true;
}

int value_parse_int(const char *key, const char *s, long long min, long long max, long long *out,
		    struct parse_error *err)
{
	const char *p = s;
	bool negative = *p == '-';
	if (negative)
		p++;
	unsigned long long magnitude;
	unsigned long long limit = negative ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	const char *digits = p;
	if (!parse_digits(&p, limit, &magnitude)) {
		if (isdigit((unsigned char)*digits))
			return parse_error_fail(err, key, "'%.*s' is out of range", VALUE_QUOTE_MAX, s);
		return parse_error_fail(err, key, "'%.*s' is not a number", VALUE_QUOTE_MAX, s);
	}
	if (*p != '\0')
		return parse_error_fail(err, key, "'%.*s' is not a number", VALUE_QUOTE_MAX, s);
	long long v = negative ? (long long)(0 - magnitude) : (long long)magnitude;
	if (v < min || v > max)
		return parse_error_fail(err, key, "%lld is out of range %lld..%lld", v, min, max);
	if (out)
		*out = v;
	return 0;
}

/* A number with an optional fraction, as thousandths in *milli (digits
 * beyond the third after the point are dropped); leaves *p after it. */
static bool parse_decimal_milli(const char **p, uint64_t *milli)
{
	unsigned long long whole;
	if (!parse_digits(p, UINT64_MAX / 1000, &whole))
		return false;
	uint64_t frac = 0;
	if (**p == '.') {
		(*p)++;
		if (!isdigit((unsigned char)**p))
			return false;
		unsigned scale = 100;
		for (; isdigit((unsigned char)**p); (*p)++) {
			frac += (uint64_t)(**p - '0') * scale;
			scale /= 10;
		}
	}
	*milli = whole * 1000 + frac;
	return true;
}

int value_parse_milli(const char *key, const char *s, uint64_t *out_milli, struct parse_error *err)
{
	const char *p = s;
	uint64_t milli;
	if (!parse_decimal_milli(&p, &milli) || *p != '\0')
		return parse_error_fail(err, key, "'%.*s' is not a number", VALUE_QUOTE_MAX, s);
	if (out_milli)
		*out_milli = milli;
	return 0;
}

int value_parse_bool(const char *key, const char *s, bool *out, struct parse_error *err)
{
	if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
		return parse_error_fail(err, key, "'%.*s' is not a boolean (0 or 1)", VALUE_QUOTE_MAX, s);
	if (out)
		*out = s[0] == '1';
	return 0;
}

static int size_shift(char suffix)
{
	switch (toupper((unsigned char)suffix)) {
	case 'K': return 10;
	case 'M': return 20;
	case 'G': return 30;
	case 'T': return 40;
	default: return -1;
	}
}

int value_parse_size(const char *key, const char *s, uint64_t *out, struct parse_error *err)
{
	const char *p = s;
	uint64_t milli;
	if (!parse_decimal_milli(&p, &milli))
		return parse_error_fail(err, key, "'%.*s' is not a size", VALUE_QUOTE_MAX, s);
	int shift = 0;
	if (*p != '\0') {
		shift = size_shift(*p);
		if (shift < 0 || p[1] != '\0')
			return parse_error_fail(err, key, "'%.*s' is not a size (number with K, M, G or T)",
						VALUE_QUOTE_MAX, s);
	}
	/* milli * 2^shift / 1000 must fit in 64 bits. */
	if (milli > (UINT64_MAX >> shift))
		return parse_error_fail(err, key, "'%.*s' is too large", VALUE_QUOTE_MAX, s);
	uint64_t bytes = (milli << shift) / 1000;
	if (out)
		*out = bytes;
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)toupper((unsigned char)c);
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int value_parse_mac(const char *key, const char *s, char out[18], struct parse_error *err)
{
	if (strlen(s) != 17)
		return parse_error_fail(err, key, "'%.*s' is not a MAC address", VALUE_QUOTE_MAX, s);
	for (int i = 0; i < 17; i++) {
		bool ok = (i % 3 == 2) ? s[i] == ':' : hex_value(s[i]) >= 0;
		if (!ok)
			return parse_error_fail(err, key, "'%s' is not a MAC address", s);
	}
	if (hex_value(s[1]) & 1)
		return parse_error_fail(err, key, "'%s' is a multicast MAC address", s);
	if (out) {
		for (int i = 0; i < 17; i++)
			out[i] = (char)toupper((unsigned char)s[i]);
		out[17] = '\0';
	}
	return 0;
}

int value_parse_enum(const char *key, const char *s, const char *const *allowed, const char **out,
		     struct parse_error *err)
{
	for (const char *const *a = allowed; a && *a; a++) {
		if (strcmp(s, *a) == 0) {
			if (out)
				*out = *a;
			return 0;
		}
	}
	char list[160] = "";
	size_t used = 0;
	for (const char *const *a = allowed; a && *a && used < sizeof(list); a++) {
		int n = snprintf(list + used, sizeof(list) - used, "%s%s", a == allowed ? "" : ", ", *a);
		used += n > 0 ? (size_t)n : 0;
	}
	return parse_error_fail(err, key, "'%.*s' is not one of: %s", VALUE_QUOTE_MAX, s, list);
}

int value_parse_uuid(const char *key, const char *s, struct parse_error *err)
{
	static const int dash_at[] = { 8, 13, 18, 23 };
	bool ok = strlen(s) == 36;
	for (int i = 0; ok && i < 36; i++) {
		bool dash = false;
		for (size_t d = 0; d < sizeof(dash_at) / sizeof(dash_at[0]); d++)
			dash |= i == dash_at[d];
		ok = dash ? s[i] == '-' : hex_value(s[i]) >= 0;
	}
	if (!ok)
		return parse_error_fail(err, key, "'%.*s' is not a UUID", VALUE_QUOTE_MAX, s);
	return 0;
}

int value_parse_ident(const char *key, const char *s, size_t max_len, struct parse_error *err)
{
	size_t len = strlen(s);
	if (len == 0)
		return parse_error_fail(err, key, "empty name");
	if (len > max_len)
		return parse_error_fail(err, key, "'%.*s' is longer than %zu characters", VALUE_QUOTE_MAX, s,
					max_len);
	if (!isalpha((unsigned char)s[0]))
		return parse_error_fail(err, key, "'%.*s' does not start with a letter", VALUE_QUOTE_MAX, s);
	for (const char *p = s; *p; p++) {
		if (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.')
			continue;
		if (isprint((unsigned char)*p))
			return parse_error_fail(err, key, "'%.*s' contains '%c'", VALUE_QUOTE_MAX, s, *p);
		return parse_error_fail(err, key, "name contains byte 0x%02x", (unsigned char)*p);
	}
	return 0;
}
