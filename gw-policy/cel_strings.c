// SPDX-License-Identifier: MIT
/*
 * cel-go's strings extension as ngrok documents it (reference/ngrok-
 * traffic-policy.md §3.3): split, replace, substring, trim, indexOf,
 * lastIndexOf, charAt, join, reverse, lowerAscii/upperAscii and their
 * Unicode forms lower/upper.  format() and strings.quote() are
 * cel_format.c's.  String positions count code points, as in CEL.
 * Results go into the evaluation arena.
 */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "cel_impl.h"

static void *
alloc(struct cel_call *c, size_t n)
{
	void *p;

	if ((p = cel_arena_alloc(c->ctx->arena, n)) == NULL)
		cel_ctx_error(c->ctx, "out of memory for the evaluation");
	return p;
}

static const char *
find(const struct cel_value *h, size_t from, const struct cel_value *n)
{
	if (n->s.len == 0)
		return h->s.ptr + from;
	if (from > h->s.len)
		return NULL;
	return memmem(h->s.ptr + from, h->s.len - from, n->s.ptr, n->s.len);
}

static int
change_case(struct cel_call *c, const struct cel_value *a,
    struct cel_value *out, int upper)
{
	char *p;
	size_t i;
	char lo = upper ? 'a' : 'A', hi = upper ? 'z' : 'Z';

	/* Most header values are already in the wanted case: share them. */
	for (i = 0; i < a[0].s.len; i++)
		if (a[0].s.ptr[i] >= lo && a[0].s.ptr[i] <= hi)
			break;
	if (i == a[0].s.len) {
		*out = a[0];
		return 0;
	}
	if ((p = alloc(c, a[0].s.len)) == NULL)
		return -1;
	memcpy(p, a[0].s.ptr, a[0].s.len);
	for (; i < a[0].s.len; i++)
		if (p[i] >= lo && p[i] <= hi)
			p[i] = (char)(p[i] ^ 0x20);
	*out = cel_str(p, a[0].s.len);
	return 0;
}

static int
f_lower(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return change_case(c, a, out, 0);
}

static int
f_upper(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return change_case(c, a, out, 1);
}

/* Byte offset of code point <idx>, or -1 past the end. */
static int64_t
cp_offset(const struct cel_value *s, int64_t idx)
{
	size_t off = 0;

	for (; idx > 0; idx--) {
		if (off >= s->s.len)
			return -1;
		off += cel_utf8_next(s->s.ptr + off, s->s.len - off, NULL);
	}
	return (int64_t)off;
}

/* Code point index of byte offset <off> (a sequence boundary). */
static int64_t
cp_index(const struct cel_value *s, size_t off)
{
	return (int64_t)cel_utf8_len(s->s.ptr, off);
}

/*
 * Go's strings.SplitN: at most <max> parts (all if negative), an empty
 * separator splits into code points.
 */
static int
split(struct cel_call *c, const struct cel_value *a, int64_t max,
    struct cel_value *out)
{
	const struct cel_value *s = &a[0], *sep = &a[1];
	struct cel_value *items;
	const char *p, *q, *end = s->s.ptr + s->s.len;
	size_t n = 0, cap, l;

	if (max == 0) {
		*out = cel_list(NULL, 0);
		return 0;
	}
	cap = sep->s.len == 0 ? cel_utf8_len(s->s.ptr, s->s.len) : 1;
	if (sep->s.len > 0)
		for (p = s->s.ptr; (q = find(s, (size_t)(p - s->s.ptr), sep));
		     p = q + sep->s.len)
			cap++;
	if (max > 0 && (uint64_t)max < cap)
		cap = (size_t)max;
	if (cap == 0) {
		*out = cel_list(NULL, 0);
		return 0;
	}
	if ((items = alloc(c, cap * sizeof(*items))) == NULL)
		return -1;
	for (p = s->s.ptr; n + 1 < cap; n++) {
		if (sep->s.len == 0) {
			l = cel_utf8_next(p, (size_t)(end - p), NULL);
			items[n] = cel_str(p, l);
			p += l;
			continue;
		}
		q = find(s, (size_t)(p - s->s.ptr), sep);
		items[n] = cel_str(p, (size_t)(q - p));
		p = q + sep->s.len;
	}
	items[n++] = cel_str(p, (size_t)(end - p));
	*out = cel_list(items, n);
	return 0;
}

static int
f_split(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return split(c, a, c->nargs == 3 ? a[2].i : -1, out);
}

/* Go's strings.Replace, <max> replacements (all if negative). */
static int
f_replace(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	const struct cel_value *s = &a[0], *old = &a[1], *rep = &a[2];
	int64_t max = c->nargs == 4 ? a[3].i : -1;
	size_t count = 0, len, off, pos, l;
	const char *q;
	char *p;

	for (off = 0; max < 0 || count < (uint64_t)max; count++) {
		if (old->s.len == 0) {
			if (off > s->s.len)
				break;
			off += off < s->s.len ? cel_utf8_next(s->s.ptr + off,
			                            s->s.len - off, NULL)
			                      : 1;
			continue;
		}
		if ((q = find(s, off, old)) == NULL)
			break;
		off = (size_t)(q - s->s.ptr) + old->s.len;
	}
	if (count == 0) {
		*out = *s;
		return 0;
	}
	if (rep->s.len > old->s.len &&
	    (rep->s.len - old->s.len) > (SIZE_MAX / 2) / count)
		return cel_ctx_error(c->ctx, "replace() result too long");
	len = s->s.len + count * rep->s.len - count * old->s.len;
	if ((p = alloc(c, len)) == NULL)
		return -1;
	for (off = 0, pos = 0; count > 0; count--) {
		if (old->s.len == 0) {
			memcpy(p + pos, rep->s.ptr, rep->s.len);
			pos += rep->s.len;
			if (off < s->s.len) {
				l = cel_utf8_next(
				    s->s.ptr + off, s->s.len - off, NULL);
				memcpy(p + pos, s->s.ptr + off, l);
				pos += l;
				off += l;
			}
			continue;
		}
		q = find(s, off, old);
		l = (size_t)(q - s->s.ptr) - off;
		memcpy(p + pos, s->s.ptr + off, l);
		pos += l;
		if (rep->s.len > 0)
			memcpy(p + pos, rep->s.ptr, rep->s.len);
		pos += rep->s.len;
		off += l + old->s.len;
	}
	if (off < s->s.len)
		memcpy(p + pos, s->s.ptr + off, s->s.len - off);
	*out = cel_str(p, len);
	return 0;
}

static int
f_substring(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	int64_t start = a[1].i, end, bs, be;

	end = c->nargs == 3 ? a[2].i
	                    : (int64_t)cel_utf8_len(a[0].s.ptr, a[0].s.len);
	if (start < 0 || end < start)
		return cel_ctx_error(c->ctx,
		    "substring: index out of range: %lld, %lld",
		    (long long)start, (long long)end);
	if ((bs = cp_offset(&a[0], start)) < 0 ||
	    (be = cp_offset(&a[0], end)) < 0)
		return cel_ctx_error(c->ctx,
		    "substring: index out of range: %lld, %lld",
		    (long long)start, (long long)end);
	*out = cel_str(a[0].s.ptr + bs, (size_t)(be - bs));
	return 0;
}

static int
is_space(uint32_t cp)
{
	return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85 ||
	    cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	    cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
	    cp == 0x3000;
}

static int
f_trim(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	const char *s = a[0].s.ptr;
	size_t start = 0, end = a[0].s.len, l, k;
	uint32_t cp;

	(void)c;
	while (start < end) {
		l = cel_utf8_next(s + start, end - start, &cp);
		if (!is_space(cp))
			break;
		start += l;
	}
	while (end > start) {
		/* Back up to the start of the last sequence. */
		for (k = end - 1; k > start &&
		     ((unsigned char)s[k] & 0xc0) == 0x80 && end - k < 4;)
			k--;
		l = cel_utf8_next(s + k, end - k, &cp);
		if (k + l != end || !is_space(cp))
			break;
		end = k;
	}
	*out = cel_str(s + start, end - start);
	return 0;
}

static int
f_index_of(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	int64_t from = c->nargs == 3 ? a[2].i : 0, off;
	const char *q;

	if (from < 0 || (off = cp_offset(&a[0], from)) < 0)
		return cel_ctx_error(c->ctx,
		    "indexOf: index out of range: %lld", (long long)from);
	q = find(&a[0], (size_t)off, &a[1]);
	*out =
	    cel_int(q == NULL ? -1 : cp_index(&a[0], (size_t)(q - a[0].s.ptr)));
	return 0;
}

static int
f_last_index_of(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	int64_t len = (int64_t)cel_utf8_len(a[0].s.ptr, a[0].s.len);
	int64_t from = c->nargs == 3 ? a[2].i : len, off, last = -1;
	const char *q;
	size_t pos = 0;

	if (from < 0 || from > len)
		return cel_ctx_error(c->ctx,
		    "lastIndexOf: index out of range: %lld", (long long)from);
	if (a[1].s.len == 0) {
		*out = cel_int(from);
		return 0;
	}
	off = cp_offset(&a[0], from);
	/* The last match that starts at or before <off>. */
	while ((q = find(&a[0], pos, &a[1])) != NULL && q - a[0].s.ptr <= off) {
		last = q - a[0].s.ptr;
		pos = (size_t)last + 1;
	}
	*out = cel_int(last < 0 ? -1 : cp_index(&a[0], (size_t)last));
	return 0;
}

static int
f_char_at(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	int64_t off;

	if (a[1].i < 0 || (off = cp_offset(&a[0], a[1].i)) < 0)
		return cel_ctx_error(c->ctx, "charAt: index out of range: %lld",
		    (long long)a[1].i);
	if ((size_t)off == a[0].s.len)
		*out = cel_str(a[0].s.ptr + off, 0);
	else
		*out = cel_str(a[0].s.ptr + off,
		    cel_utf8_next(
		        a[0].s.ptr + off, a[0].s.len - (size_t)off, NULL));
	return 0;
}

static int
f_join(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	const struct cel_value *l = &a[0];
	size_t i, len = 0, seplen = c->nargs == 2 ? a[1].s.len : 0, pos = 0;
	char *p;

	for (i = 0; i < l->list.len; i++) {
		if (l->list.items[i].type != CEL_STRING)
			return cel_ctx_error(c->ctx,
			    "join: list element %zu is '%s', not string", i,
			    cel_type_name(l->list.items[i].type));
		len += l->list.items[i].s.len + (i ? seplen : 0);
	}
	if ((p = alloc(c, len)) == NULL)
		return -1;
	for (i = 0; i < l->list.len; i++) {
		if (i > 0 && seplen > 0) {
			memcpy(p + pos, a[1].s.ptr, seplen);
			pos += seplen;
		}
		if (l->list.items[i].s.len > 0)
			memcpy(p + pos, l->list.items[i].s.ptr,
			    l->list.items[i].s.len);
		pos += l->list.items[i].s.len;
	}
	*out = cel_str(p, len);
	return 0;
}

static int
f_reverse(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	size_t off, l, n = a[0].s.len;
	char *p;

	if ((p = alloc(c, n)) == NULL)
		return -1;
	for (off = 0; off < n; off += l) {
		l = cel_utf8_next(a[0].s.ptr + off, n - off, NULL);
		memcpy(p + n - off - l, a[0].s.ptr + off, l);
	}
	*out = cel_str(p, n);
	return 0;
}

/* UTF-8 of <cp> into <p> (NULL only measures); returns its length. */
static size_t
utf8_put(uint32_t cp, char *p)
{
	char tmp[4];
	size_t n;

	if (p == NULL)
		p = tmp;
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | cp >> 6);
		n = 2;
	} else if (cp < 0x10000) {
		p[0] = (char)(0xe0 | cp >> 12);
		p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		n = 3;
	} else {
		p[0] = (char)(0xf0 | cp >> 18);
		p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		n = 4;
	}
	p[n - 1] = (char)(0x80 | (cp & 0x3f));
	return n;
}

/*
 * glibc's built-in C.UTF-8 locale carries Unicode's simple case mappings,
 * the ones Go's unicode.ToLower/ToUpper apply.  Opened once; without it
 * only ASCII letters change.
 */
static locale_t
utf8_locale(void)
{
	static locale_t loc;
	static int tried;

	if (!tried) {
		tried = 1;
		loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	return loc;
}

static uint32_t
map_case(uint32_t cp, int upper, locale_t loc)
{
	if (cp < 0x80 || loc == (locale_t)0) {
		if (upper && cp >= 'a' && cp <= 'z')
			return cp - 32;
		if (!upper && cp >= 'A' && cp <= 'Z')
			return cp + 32;
		return cp;
	}
	return (uint32_t)(upper ? towupper_l((wint_t)cp, loc)
	                        : towlower_l((wint_t)cp, loc));
}

/*
 * Go's strings.ToLower/ToUpper: every code point mapped on its own (no
 * special casing), an invalid byte becoming U+FFFD, as strings.Map does.
 */
static int
unicode_case(struct cel_call *c, const struct cel_value *a,
    struct cel_value *out, int upper)
{
	const char *s = a[0].s.ptr;
	size_t n = a[0].s.len, i, l, len = 0, pos = 0;
	locale_t loc = utf8_locale();
	int changed = 0;
	uint32_t cp, m;
	char *p;

	for (i = 0; i < n && (unsigned char)s[i] < 0x80; i++)
		;
	if (i == n)
		return change_case(c, a, out, upper);
	for (i = 0; i < n; i += l) {
		l = cel_utf8_next(s + i, n - i, &cp);
		m = map_case(cp, upper, loc);
		len += utf8_put(m, NULL);
		/* An invalid byte is a change too: it becomes U+FFFD. */
		changed |= m != cp || utf8_put(cp, NULL) != l;
	}
	if (!changed) {
		*out = a[0];
		return 0;
	}
	if ((p = alloc(c, len)) == NULL)
		return -1;
	for (i = 0; i < n; i += l) {
		l = cel_utf8_next(s + i, n - i, &cp);
		pos += utf8_put(map_case(cp, upper, loc), p + pos);
	}
	*out = cel_str(p, pos);
	return 0;
}

static int
f_lower_unicode(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return unicode_case(c, a, out, 0);
}

static int
f_upper_unicode(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return unicode_case(c, a, out, 1);
}

const struct cel_builtin cel_strings_builtins[] = {
	{ "string string.lowerAscii()", f_lower, 0, NULL },
	{ "string string.upperAscii()", f_upper, 0, NULL },
	{ "list(string) string.split(string)", f_split, 0, NULL },
	{ "list(string) string.split(string, int)", f_split, 0, NULL },
	{ "string string.replace(string, string)", f_replace, 0, NULL },
	{ "string string.replace(string, string, int)", f_replace, 0, NULL },
	{ "string string.substring(int)", f_substring, 0, NULL },
	{ "string string.substring(int, int)", f_substring, 0, NULL },
	{ "string string.trim()", f_trim, 0, NULL },
	{ "int string.indexOf(string)", f_index_of, 0, NULL },
	{ "int string.indexOf(string, int)", f_index_of, 0, NULL },
	{ "int string.lastIndexOf(string)", f_last_index_of, 0, NULL },
	{ "int string.lastIndexOf(string, int)", f_last_index_of, 0, NULL },
	{ "string string.charAt(int)", f_char_at, 0, NULL },
	{ "string list(string).join()", f_join, 0, NULL },
	{ "string list(string).join(string)", f_join, 0, NULL },
	{ "string string.reverse()", f_reverse, 0, NULL },
	{ "string string.lower()", f_lower_unicode, 0, NULL },
	{ "string string.upper()", f_upper_unicode, 0, NULL },
};

const size_t cel_strings_nbuiltins =
    sizeof(cel_strings_builtins) / sizeof(cel_strings_builtins[0]);
