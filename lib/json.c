// SPDX-License-Identifier: MIT
/*
 * The streaming JSON writer (see json.h).  Strings are escaped as RFC 8259
 * requires and made valid UTF-8 on the way, because event fields carry
 * whatever a client sent and every consumer downstream (jansson, jq,
 * Datadog) rejects a line with a bad byte in it.  Runs of bytes that need
 * no escaping are copied with one append, which is most of every event.
 * Each function leaves the buffer as it found it when it fails, so a
 * caller can build a record piece by piece and drop it whole.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base64.h"
#include "json.h"
#include "timeutil.h"

static const char hex[] = "0123456789abcdef";

int
gw_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] >= 0x01 && p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] == 0 || (k = gw_utf8_seq(s + i, s + n)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

size_t
gw_utf8_cut(const char *s, size_t n, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t lead;

	if (n <= max)
		return n;
	/* Back up over at most three continuation bytes to a lead byte. */
	lead = max;
	while (lead > 0 && max - lead < 3 && (p[lead] & 0xc0) == 0x80)
		lead--;
	/* Cut before a whole sequence that spans <max>; bad bytes may split. */
	if (lead < max && gw_utf8_seq(s + lead, s + n) > max - lead)
		return lead;
	return max;
}

int
gw_json_escape(struct gw_buf *b, const char *s, size_t n)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t mark = b->len, i = 0, run = 0, k;
	char esc[6];
	unsigned c;

	if (n == 0)
		return 0;
	while (i < n) {
		c = p[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80 && (k = gw_utf8_seq(s + i, s + n)) != 0) {
			i += k;
			continue;
		}
		if (gw_json_raw(b, s + run, i - run) == -1)
			goto fail;
		esc[0] = '\\';
		k = 2;
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			if (c >= 0x80) {
				/* A byte that starts no valid sequence. */
				memcpy(esc, fffd, 3);
				k = 3;
				break;
			}
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			k = 6;
			break;
		}
		if (gw_json_raw(b, esc, k) == -1)
			goto fail;
		run = ++i;
	}
	if (gw_json_raw(b, s + run, n - run) == -1)
		goto fail;
	return 0;
fail:
	b->len = mark;
	return -1;
}

int
gw_json_str(struct gw_buf *b, const char *s, size_t n)
{
	size_t mark = b->len, i;
	unsigned char c;
	char *t;

	/* Most strings are short and plain ASCII: one reserve, one copy. */
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
			break;
	}
	if (i == n) {
		if ((t = gw_buf_reserve(b, n + 2)) == NULL)
			return -1;
		t[0] = '"';
		if (n > 0)
			memcpy(t + 1, s, n);
		t[n + 1] = '"';
		gw_buf_commit(b, n + 2);
		return 0;
	}
	if (gw_json_raw(b, "\"", 1) == -1 || gw_json_escape(b, s, n) == -1 ||
	    gw_json_raw(b, "\"", 1) == -1) {
		b->len = mark;
		return -1;
	}
	return 0;
}

int
gw_json_cstr(struct gw_buf *b, const char *s)
{
	if (s == NULL)
		return gw_json_raw(b, "null", 4);
	return gw_json_str(b, s, strlen(s));
}

int
gw_json_key(struct gw_buf *b, const char *key, int first)
{
	size_t n = strlen(key), total = n + (first ? 3 : 4);
	char *t;

	if ((t = gw_buf_reserve(b, total)) == NULL)
		return -1;
	if (!first)
		*t++ = ',';
	*t++ = '"';
	memcpy(t, key, n);
	t += n;
	*t++ = '"';
	*t = ':';
	gw_buf_commit(b, total);
	return 0;
}

int
gw_json_u64(struct gw_buf *b, uint64_t v)
{
	char tmp[20], *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return gw_json_raw(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int
gw_json_i64(struct gw_buf *b, int64_t v)
{
	char tmp[20], *p = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	return gw_json_raw(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int
gw_json_bool(struct gw_buf *b, int v)
{
	return v ? gw_json_raw(b, "true", 4) : gw_json_raw(b, "false", 5);
}

int
gw_json_ts(struct gw_buf *b, uint64_t ns)
{
	char t[GW_RFC3339_LEN + 1];
	size_t n;

	if (ns == 0)
		return gw_json_raw(b, "null", 4);
	t[0] = '"';
	n = gw_rfc3339(ns, t + 1);
	t[n + 1] = '"';
	return gw_json_raw(b, t, n + 2);
}

int
gw_json_base64(struct gw_buf *b, const void *data, size_t n)
{
	size_t out;
	char *t;

	if (n > (SIZE_MAX - 2) / 4 * 3 - 3) {
		errno = ENOBUFS;
		return -1;
	}
	out = GW_BASE64_ENCODED_LEN(n) + 2;
	if ((t = gw_buf_reserve(b, out)) == NULL)
		return -1;
	t[0] = '"';
	(void)gw_base64_encode(data, n, t + 1);
	t[out - 1] = '"';
	gw_buf_commit(b, out);
	return 0;
}
