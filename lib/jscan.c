// SPDX-License-Identifier: MIT
/*
 * The validating JSON scanner of jscan.h: recursive descent over the raw
 * bytes, no allocation, no copies.  gw-capture runs it on every event it
 * stores (lib/evsum.c), a few hundred thousand lines a second, so the
 * loop that skips the inside of strings, where most of an event's bytes
 * are, looks at 16 bytes at a time with SSE2 when the compiler has it.
 * Member names are matched only inside objects the schema names; the rest
 * of the text is validated and skipped.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ascii.h"
#include "jscan.h"

struct scan {
	const char *end;
	struct gw_jval *out;
};

/* Bytes that end the plain run inside a string: '"', '\\', controls. */
static const uint8_t str_stop[256] = {
	[0 ... 0x1f] = 1,
	['"'] = 1,
	['\\'] = 1,
};

static const char *
scan_value(struct scan *, const char *, int, const struct gw_jfield *);

static inline const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Skips plain string bytes; returns the first '"', '\\' or control. */
static inline const char *
skip_plain(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i bslash = _mm_set1_epi8('\\');
	const __m128i ctl = _mm_set1_epi8(0x1f);

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		/* max(v, 0x1f) == 0x1f exactly when v <= 0x1f, unsigned. */
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
		                             _mm_cmpeq_epi8(v, bslash)),
		    _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
		int mask = _mm_movemask_epi8(m);

		if (mask != 0)
			return p + __builtin_ctz((unsigned)mask);
		p += 16;
	}
#endif
	while (p < end && !str_stop[(uint8_t)*p])
		p++;
	return p;
}

/*
 * Scans the inside of a string from just after its opening quote.
 * Returns the closing quote, or NULL when the string is malformed or
 * unterminated.  Sets *esc when it holds an escape.
 */
static const char *
scan_string(const char *p, const char *end, uint8_t *esc)
{
	for (;;) {
		p = skip_plain(p, end);
		if (p == end)
			return NULL;
		if (*p == '"')
			return p;
		if (*p != '\\')
			return NULL; /* a raw control character */
		*esc = 1;
		if (++p == end)
			return NULL;
		switch (*p) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			p++;
			break;
		case 'u':
			if (end - p < 5 || gw_hexval(p[1]) < 0 ||
			    gw_hexval(p[2]) < 0 || gw_hexval(p[3]) < 0 ||
			    gw_hexval(p[4]) < 0)
				return NULL;
			p += 5;
			break;
		default:
			return NULL;
		}
	}
}

static inline int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259 §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *
scan_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p == end)
		return NULL;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9') {
		while (p < end && is_digit(*p))
			p++;
	} else
		return NULL;
	if (p < end && *p == '.') {
		p++;
		if (p == end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	return p;
}

static const struct gw_jfield *
find_field(const struct gw_jschema *schema, const char *k, size_t n)
{
	size_t i;

	for (i = 0; i < schema->n; i++) {
		const struct gw_jfield *f = &schema->fields[i];

		if (f->keylen == n && memcmp(f->key, k, n) == 0)
			return f;
	}
	return NULL;
}

/* From just after '{'; returns just after the matching '}'. */
static const char *
scan_object(
    struct scan *sc, const char *p, int depth, const struct gw_jschema *schema)
{
	const struct gw_jfield *f;
	const char *key, *q;
	uint8_t esc;

	if (depth > GW_JSCAN_MAX_DEPTH)
		return NULL;
	p = skip_ws(p, sc->end);
	if (p < sc->end && *p == '}')
		return p + 1;
	for (;;) {
		if (p == sc->end || *p != '"')
			return NULL;
		key = p + 1;
		esc = 0;
		if ((q = scan_string(key, sc->end, &esc)) == NULL)
			return NULL;
		f = NULL;
		if (schema != NULL && !esc)
			f = find_field(schema, key, (size_t)(q - key));
		p = skip_ws(q + 1, sc->end);
		if (p == sc->end || *p != ':')
			return NULL;
		p = skip_ws(p + 1, sc->end);
		if ((p = scan_value(sc, p, depth, f)) == NULL)
			return NULL;
		p = skip_ws(p, sc->end);
		if (p == sc->end)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = skip_ws(p + 1, sc->end);
	}
}

/* From just after '['; returns just after the matching ']'. */
static const char *
scan_array(struct scan *sc, const char *p, int depth)
{
	if (depth > GW_JSCAN_MAX_DEPTH)
		return NULL;
	p = skip_ws(p, sc->end);
	if (p < sc->end && *p == ']')
		return p + 1;
	for (;;) {
		if ((p = scan_value(sc, p, depth, NULL)) == NULL)
			return NULL;
		p = skip_ws(p, sc->end);
		if (p == sc->end)
			return NULL;
		if (*p == ']')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = skip_ws(p + 1, sc->end);
	}
}

static const char *
scan_literal(const char *p, const char *end, const char *lit, size_t n)
{
	if ((size_t)(end - p) < n || memcmp(p, lit, n) != 0)
		return NULL;
	return p + n;
}

/*
 * Scans the value at <p> (no leading whitespace) inside a container at
 * <depth>; <f> is the schema field it belongs to, or NULL.
 */
static const char *
scan_value(struct scan *sc, const char *p, int depth, const struct gw_jfield *f)
{
	struct gw_jval v;
	const char *q;

	if (p == sc->end)
		return NULL;
	v.p = p;
	v.esc = 0;
	switch (*p) {
	case '"':
		if ((q = scan_string(p + 1, sc->end, &v.esc)) == NULL)
			return NULL;
		v.type = GW_JSTRING;
		v.p = p + 1;
		v.len = (uint32_t)(q - (p + 1));
		q++;
		goto done;
	case '{':
		q = scan_object(
		    sc, p + 1, depth + 1, f != NULL ? f->sub : NULL);
		v.type = GW_JOBJECT;
		break;
	case '[':
		q = scan_array(sc, p + 1, depth + 1);
		v.type = GW_JARRAY;
		break;
	case 't':
		q = scan_literal(p, sc->end, "true", 4);
		v.type = GW_JTRUE;
		break;
	case 'f':
		q = scan_literal(p, sc->end, "false", 5);
		v.type = GW_JFALSE;
		break;
	case 'n':
		q = scan_literal(p, sc->end, "null", 4);
		v.type = GW_JNULL;
		break;
	default:
		q = scan_number(p, sc->end);
		v.type = GW_JNUMBER;
		break;
	}
	if (q == NULL)
		return NULL;
	v.len = (uint32_t)(q - p);
done:
	if (f != NULL && f->slot >= 0 && sc->out != NULL)
		sc->out[f->slot] = v;
	return q;
}

int
gw_jscan(const char *s, size_t len, const struct gw_jschema *schema,
    struct gw_jval *out)
{
	struct scan sc;
	const char *p;

	if (len > UINT32_MAX)
		return -1;
	sc.end = s + len;
	sc.out = out;
	p = skip_ws(s, sc.end);
	if (p == sc.end || *p != '{')
		return -1;
	if ((p = scan_object(&sc, p + 1, 1, schema)) == NULL)
		return -1;
	return skip_ws(p, sc.end) == sc.end ? 0 : -1;
}

/* Appends code point <cp> as UTF-8; returns the new length or -1. */
static long
put_utf8(char *buf, size_t cap, size_t n, uint32_t cp)
{
	unsigned char u[4];
	size_t k;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	if (cap - n < k)
		return -1;
	memcpy(buf + n, u, k);
	return (long)(n + k);
}

static uint32_t
hex4(const char *p)
{
	return (uint32_t)(gw_hexval(p[0]) << 12 | gw_hexval(p[1]) << 8 |
	    gw_hexval(p[2]) << 4 | gw_hexval(p[3]));
}

long
gw_jscan_unescape(const struct gw_jval *v, char *buf, size_t cap)
{
	const char *p, *end;
	size_t n = 0;
	uint32_t cp, lo;
	long r;
	char c;

	if (v->type != GW_JSTRING)
		return -1;
	p = v->p;
	end = v->p + v->len;
	/* The scanner validated the escapes, so they are whole here. */
	while (p < end) {
		if (*p != '\\') {
			if (n == cap)
				return -1;
			buf[n++] = *p++;
			continue;
		}
		c = p[1];
		p += 2;
		switch (c) {
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u':
			cp = hex4(p);
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 6 &&
			    p[0] == '\\' && p[1] == 'u' &&
			    (lo = hex4(p + 2)) >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;
			if ((r = put_utf8(buf, cap, n, cp)) == -1)
				return -1;
			n = (size_t)r;
			continue;
		default: /* '"', '\\', '/' stand for themselves */
			break;
		}
		if (n == cap)
			return -1;
		buf[n++] = c;
	}
	return (long)n;
}

int
gw_jscan_int(const struct gw_jval *v, int64_t *out)
{
	const char *p = v->p, *end = v->p + v->len;
	uint64_t u = 0, lim;
	int neg = 0;

	if (v->type != GW_JNUMBER || p == end)
		return -1;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (!is_digit(*p))
			return -1;
		if (u > (lim - (uint64_t)(*p - '0')) / 10)
			return -1;
		u = u * 10 + (uint64_t)(*p - '0');
	}
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}
