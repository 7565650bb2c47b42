/* SPDX-License-Identifier: MIT */
/*
 * A JSON writer that appends straight into a gw_buf: no tree, no
 * allocation beyond the buffer.  It is what builds events on the proxy's
 * hot path.  Callers write keys and values in order; commas are theirs to
 * place (gw_json_key() takes a "first" flag) so no state is kept.
 * Parsing JSON is jansson's job.
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

/*
 * Appends <n> bytes that are already JSON.  Same contract as gw_buf_add(),
 * with the case where the room is there inline: an event is a few hundred
 * small appends into a buffer that has the room, and a call into buf.c
 * costs more than the copy.
 */
static inline int
gw_json_raw(struct gw_buf *b, const void *p, size_t n)
{
	if (b->data != NULL && n <= b->cap - b->off - b->len &&
	    n <= b->max - b->len) {
		memcpy(b->data + b->off + b->len, p, n);
		b->len += n;
		return 0;
	}
	return gw_buf_add(b, p, n);
}

/*
 * Appends <s> (<n> bytes, may contain NUL) as a quoted JSON string,
 * escaping as RFC 8259 requires.  Invalid UTF-8 bytes are written as
 * U+FFFD.  Returns 0, or -1 with the buffer unchanged.
 */
int gw_json_str(struct gw_buf *, const char *s, size_t n);
int gw_json_cstr(struct gw_buf *, const char *s); /* NULL → null */
/*
 * Appends the escaped form of <s> without the quotes, for a string built
 * from several pieces (a URL from scheme, host and path).  Returns 0, or
 * -1 with the buffer unchanged.
 */
int gw_json_escape(struct gw_buf *, const char *s, size_t n);
/* Appends ,"key": (or "key": when <first>); key is written unescaped. */
int gw_json_key(struct gw_buf *, const char *key, int first);
int gw_json_u64(struct gw_buf *, uint64_t);
int gw_json_i64(struct gw_buf *, int64_t);
int gw_json_bool(struct gw_buf *, int);
/* Appends an RFC 3339 (µs) string for wall-clock <ns>; 0 writes null. */
int gw_json_ts(struct gw_buf *, uint64_t ns);
/* Appends <n> bytes as a base64 string. */
int gw_json_base64(struct gw_buf *, const void *, size_t n);
/*
 * Length of the well-formed UTF-8 sequence (RFC 3629) that starts at <s>
 * and ends by <end> (<s> < <end>): 1 for an ASCII byte (NUL included),
 * 2 to 4 for a multi-byte one, or 0 when the bytes there do not start one.
 * Overlong forms, surrogates and code points past U+10FFFF are refused,
 * as Unicode's table 3-7 says.  Inline: scanners call it per character.
 */
static inline size_t
gw_utf8_seq(const char *s, const char *end)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if ((size_t)(end - s) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}
/* Returns 1 if <s> is valid UTF-8 with no NUL, else 0. */
int gw_utf8_valid(const char *s, size_t n);
/*
 * Returns the length to keep of <s> (<n> bytes) cut to at most <max>
 * bytes without splitting a UTF-8 sequence: <n> when it fits, else <max>
 * or up to three bytes less.
 */
size_t gw_utf8_cut(const char *s, size_t n, size_t max);

#endif
