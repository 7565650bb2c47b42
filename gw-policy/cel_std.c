// SPDX-License-Identifier: MIT
/*
 * CEL's standard functions on strings, lists and conversions: size,
 * contains, startsWith, endsWith, matches (PCRE2, compiled once when the
 * pattern is a constant and cached otherwise), the string extensions
 * ngrok documents (lowerAscii, split, replace, substring, trim, indexOf,
 * join, ...) and int(), uint(), double(), string(), bytes(), bool(),
 * type(), dyn().  String positions count code points, as in CEL.  Results
 * go into the evaluation arena.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel_impl.h"

#define RECACHE_SLOTS 8
/* Backtracking steps a match may take: RE2 is linear, PCRE2 is not. */
#define MATCH_LIMIT 1000000

struct cel_regex {
	struct cel_regex *next;
	pcre2_code *code;
	pcre2_match_data *md;
	char *pat; /* the pattern, for the run-time cache */
	size_t len;
};

struct cel_recache {
	pcre2_match_context *mctx;
	struct cel_regex *slots[RECACHE_SLOTS];
	unsigned next;
};

static void *
alloc(struct cel_call *c, size_t n)
{
	void *p;

	if ((p = cel_arena_alloc(c->ctx->arena, n)) == NULL)
		cel_ctx_error(c->ctx, "out of memory for the evaluation");
	return p;
}

static void
regex_free(struct cel_regex *re)
{
	if (re == NULL)
		return;
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	free(re->pat);
	free(re);
}

/*
 * Compiles <pat>.  Returns the regex, or NULL with a message in <msg>
 * and the pattern offset of the problem in <*off>.
 */
static struct cel_regex *
regex_new(const char *pat, size_t len, char *msg, size_t msglen, size_t *off)
{
	struct cel_regex *re;
	int code;

	if ((re = calloc(1, sizeof(*re))) == NULL ||
	    (re->pat = malloc(len + 1)) == NULL) {
		free(re);
		snprintf(msg, msglen, "out of memory");
		*off = 0;
		return NULL;
	}
	memcpy(re->pat, pat, len);
	re->pat[len] = '\0';
	re->len = len;
	re->code = pcre2_compile((PCRE2_SPTR)pat, len,
	    PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, off, NULL);
	if (re->code == NULL) {
		pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, msglen);
		regex_free(re);
		return NULL;
	}
	/* JIT is an optimisation: the interpreter works without it. */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	re->md = pcre2_match_data_create(1, NULL);
	if (re->md == NULL) {
		snprintf(msg, msglen, "out of memory");
		*off = 0;
		regex_free(re);
		return NULL;
	}
	return re;
}

static struct cel_recache *
recache_new(void)
{
	struct cel_recache *rc;

	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		return NULL;
	if ((rc->mctx = pcre2_match_context_create(NULL)) == NULL) {
		free(rc);
		return NULL;
	}
	pcre2_set_match_limit(rc->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(rc->mctx, MATCH_LIMIT / 10);
	return rc;
}

void
cel_regex_free_all(struct cel_program *prog)
{
	struct cel_regex *re, *next;
	unsigned i;

	for (re = prog->regexes; re != NULL; re = next) {
		next = re->next;
		regex_free(re);
	}
	prog->regexes = NULL;
	if (prog->cache != NULL) {
		for (i = 0; i < RECACHE_SLOTS; i++)
			regex_free(prog->cache->slots[i]);
		pcre2_match_context_free(prog->cache->mctx);
		free(prog->cache);
		prog->cache = NULL;
	}
}

/* Compiles a constant pattern at load time: a bad one is a load error. */
static int
matches_prepare(
    struct cel_program *prog, struct cel_node *n, struct cel_error *err)
{
	const struct cel_node *p = n->args[1];
	struct cel_regex *re;
	char msg[120];
	size_t off;

	if (prog->cache == NULL && (prog->cache = recache_new()) == NULL) {
		err->col = n->col;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -1;
	}
	if (p->kind != N_CONST || p->val.type != CEL_STRING)
		return 0;
	re = regex_new(p->val.s.ptr, p->val.s.len, msg, sizeof(msg), &off);
	if (re == NULL) {
		err->col = p->col;
		snprintf(err->msg, sizeof(err->msg),
		    "invalid regular expression at offset %zu: %s", off, msg);
		return -1;
	}
	re->next = prog->regexes;
	prog->regexes = re;
	n->aux = re;
	return 0;
}

static int
f_matches(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	struct cel_recache *rc = c->prog->cache;
	struct cel_regex *re = c->node->aux;
	char msg[120];
	size_t off;
	unsigned i;
	int r;

	if (rc == NULL)
		return cel_ctx_error(c->ctx, "matches() was not prepared");
	if (re == NULL) {
		for (i = 0; i < RECACHE_SLOTS; i++) {
			re = rc->slots[i];
			if (re != NULL && re->len == a[1].s.len &&
			    memcmp(re->pat, a[1].s.ptr, re->len) == 0)
				break;
		}
		if (i == RECACHE_SLOTS) {
			re = regex_new(
			    a[1].s.ptr, a[1].s.len, msg, sizeof(msg), &off);
			if (re == NULL)
				return cel_ctx_error(c->ctx,
				    "invalid regular expression at offset %zu: %s",
				    off, msg);
			i = rc->next++ % RECACHE_SLOTS;
			regex_free(rc->slots[i]);
			rc->slots[i] = re;
		}
	}
	r = pcre2_match(re->code, (PCRE2_SPTR)a[0].s.ptr, a[0].s.len, 0, 0,
	    re->md, rc->mctx);
	if (r >= 0 || r == PCRE2_ERROR_NOMATCH) {
		*out = cel_bool(r >= 0);
		return 0;
	}
	pcre2_get_error_message(r, (PCRE2_UCHAR *)msg, sizeof(msg));
	return cel_ctx_error(c->ctx, "regex match failed: %s", msg);
}

static int
f_size(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	(void)c;
	switch (a[0].type) {
	case CEL_STRING:
		*out = cel_int((int64_t)cel_utf8_len(a[0].s.ptr, a[0].s.len));
		break;
	case CEL_BYTES:
		*out = cel_int((int64_t)a[0].s.len);
		break;
	case CEL_LIST:
		*out = cel_int((int64_t)a[0].list.len);
		break;
	default:
		*out = cel_int((int64_t)a[0].map.len);
		break;
	}
	return 0;
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
f_contains(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	(void)c;
	*out = cel_bool(find(&a[0], 0, &a[1]) != NULL);
	return 0;
}

static int
f_starts(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	(void)c;
	*out = cel_bool(a[1].s.len <= a[0].s.len &&
	    (a[1].s.len == 0 ||
	        memcmp(a[0].s.ptr, a[1].s.ptr, a[1].s.len) == 0));
	return 0;
}

static int
f_ends(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	(void)c;
	*out = cel_bool(a[1].s.len <= a[0].s.len &&
	    (a[1].s.len == 0 ||
	        memcmp(a[0].s.ptr + a[0].s.len - a[1].s.len, a[1].s.ptr,
	            a[1].s.len) == 0));
	return 0;
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

/* Copies a string argument NUL-terminated for strto*(3). */
static int
cstring(struct cel_call *c, const struct cel_value *s, char *buf, size_t len)
{
	if (s->s.len >= len || memchr(s->s.ptr, '\0', s->s.len) != NULL)
		return cel_ctx_error(c->ctx, "cannot convert '%.*s'",
		    (int)(s->s.len > 40 ? 40 : s->s.len), s->s.ptr);
	memcpy(buf, s->s.ptr, s->s.len);
	buf[s->s.len] = '\0';
	return 0;
}

static int
f_int(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	char buf[64], *end;
	long long v;

	switch (a[0].type) {
	case CEL_INT:
		*out = a[0];
		return 0;
	case CEL_UINT:
		if (a[0].u > INT64_MAX)
			return cel_ctx_error(c->ctx, "int() overflow");
		*out = cel_int((int64_t)a[0].u);
		return 0;
	case CEL_DOUBLE:
		if (!(a[0].d > -9223372036854775809.0 &&
		        a[0].d < 9223372036854775808.0))
			return cel_ctx_error(c->ctx, "int() overflow");
		*out = cel_int((int64_t)a[0].d);
		return 0;
	case CEL_DURATION:
		*out = cel_int(a[0].ns);
		return 0;
	case CEL_TIMESTAMP:
		v = a[0].ns / NS_PER_SEC;
		if (a[0].ns % NS_PER_SEC < 0)
			v--;
		*out = cel_int(v);
		return 0;
	default:
		if (cstring(c, &a[0], buf, sizeof(buf)) == -1)
			return -1;
		errno = 0;
		v = strtoll(buf, &end, 10);
		if (end == buf || *end != '\0' || errno != 0 || buf[0] == ' ' ||
		    buf[0] == '+')
			return cel_ctx_error(
			    c->ctx, "cannot convert '%s' to int", buf);
		*out = cel_int(v);
		return 0;
	}
}

static int
f_uint(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	char buf[64], *end;
	unsigned long long v;

	switch (a[0].type) {
	case CEL_UINT:
		*out = a[0];
		return 0;
	case CEL_INT:
		if (a[0].i < 0)
			return cel_ctx_error(c->ctx, "uint() overflow");
		*out = cel_uint((uint64_t)a[0].i);
		return 0;
	case CEL_DOUBLE:
		if (!(a[0].d > -1.0 && a[0].d < 18446744073709551616.0))
			return cel_ctx_error(c->ctx, "uint() overflow");
		*out = cel_uint((uint64_t)a[0].d);
		return 0;
	default:
		if (cstring(c, &a[0], buf, sizeof(buf)) == -1)
			return -1;
		errno = 0;
		v = strtoull(buf, &end, 10);
		if (end == buf || *end != '\0' || errno != 0 ||
		    (buf[0] < '0' || buf[0] > '9'))
			return cel_ctx_error(
			    c->ctx, "cannot convert '%s' to uint", buf);
		*out = cel_uint(v);
		return 0;
	}
}

static int
f_double(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	char buf[128], *end;
	double d;

	switch (a[0].type) {
	case CEL_DOUBLE:
		*out = a[0];
		return 0;
	case CEL_INT:
		*out = cel_double((double)a[0].i);
		return 0;
	case CEL_UINT:
		*out = cel_double((double)a[0].u);
		return 0;
	default:
		if (cstring(c, &a[0], buf, sizeof(buf)) == -1)
			return -1;
		d = strtod(buf, &end);
		if (end == buf || *end != '\0' || buf[0] == ' ')
			return cel_ctx_error(
			    c->ctx, "cannot convert '%s' to double", buf);
		*out = cel_double(d);
		return 0;
	}
}

static int
f_string(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	if (cel_value_to_string(&a[0], c->ctx->arena, out) == 0)
		return 0;
	if (errno == ENOMEM)
		return cel_ctx_error(
		    c->ctx, "out of memory for the evaluation");
	return cel_ctx_error(c->ctx, "cannot convert %s to string%s",
	    cel_type_name(a[0].type),
	    a[0].type == CEL_BYTES ? ": invalid UTF-8" : "");
}

static int
f_bytes(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	(void)c;
	*out = cel_bytes(a[0].s.ptr, a[0].s.len);
	return 0;
}

static int
f_bool(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true",
		"True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false",
		"False" };
	size_t i;

	if (a[0].type == CEL_BOOL) {
		*out = a[0];
		return 0;
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strlen(yes[i]) == a[0].s.len &&
		    memcmp(yes[i], a[0].s.ptr, a[0].s.len) == 0) {
			*out = cel_bool(1);
			return 0;
		}
		if (strlen(no[i]) == a[0].s.len &&
		    memcmp(no[i], a[0].s.ptr, a[0].s.len) == 0) {
			*out = cel_bool(0);
			return 0;
		}
	}
	return cel_ctx_error(c->ctx, "cannot convert '%.*s' to bool",
	    (int)(a[0].s.len > 40 ? 40 : a[0].s.len), a[0].s.ptr);
}

static int
f_type(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	(void)c;
	out->type = CEL_TYPE;
	out->t = a[0].type;
	return 0;
}

static int
f_dyn(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	(void)c;
	*out = a[0];
	return 0;
}

/* lists.range(n): [0, 1, ..., n-1]. */
static int
f_range(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	struct cel_value *items;
	int64_t i;

	if (a[0].i < 0 || a[0].i > 100000)
		return cel_ctx_error(
		    c->ctx, "lists.range: bad size %lld", (long long)a[0].i);
	if (a[0].i == 0) {
		*out = cel_list(NULL, 0);
		return 0;
	}
	if ((items = alloc(c, (size_t)a[0].i * sizeof(*items))) == NULL)
		return -1;
	for (i = 0; i < a[0].i; i++)
		items[i] = cel_int(i);
	*out = cel_list(items, (size_t)a[0].i);
	return 0;
}

static int
f_slice(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	if (a[1].i < 0 || a[2].i < a[1].i || (uint64_t)a[2].i > a[0].list.len)
		return cel_ctx_error(c->ctx,
		    "slice: index out of range: %lld, %lld", (long long)a[1].i,
		    (long long)a[2].i);
	*out = cel_list(a[0].list.items + a[1].i, (size_t)(a[2].i - a[1].i));
	return 0;
}

const struct cel_builtin cel_std_builtins[] = {
	{ "int size(string)", f_size, 0, NULL },
	{ "int size(bytes)", f_size, 0, NULL },
	{ "int size(list)", f_size, 0, NULL },
	{ "int size(map)", f_size, 0, NULL },
	{ "int string.size()", f_size, 0, NULL },
	{ "int bytes.size()", f_size, 0, NULL },
	{ "int list.size()", f_size, 0, NULL },
	{ "int map.size()", f_size, 0, NULL },
	{ "bool string.contains(string)", f_contains, 0, NULL },
	{ "bool string.startsWith(string)", f_starts, 0, NULL },
	{ "bool string.endsWith(string)", f_ends, 0, NULL },
	{ "bool string.matches(string)", f_matches, 0, matches_prepare },
	{ "bool matches(string, string)", f_matches, 0, matches_prepare },
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
	{ "int int(int)", f_int, 0, NULL },
	{ "int int(uint)", f_int, 0, NULL },
	{ "int int(double)", f_int, 0, NULL },
	{ "int int(string)", f_int, 0, NULL },
	{ "int int(timestamp)", f_int, 0, NULL },
	{ "int int(duration)", f_int, 0, NULL },
	{ "uint uint(uint)", f_uint, 0, NULL },
	{ "uint uint(int)", f_uint, 0, NULL },
	{ "uint uint(double)", f_uint, 0, NULL },
	{ "uint uint(string)", f_uint, 0, NULL },
	{ "double double(double)", f_double, 0, NULL },
	{ "double double(int)", f_double, 0, NULL },
	{ "double double(uint)", f_double, 0, NULL },
	{ "double double(string)", f_double, 0, NULL },
	{ "string string(string)", f_string, 0, NULL },
	{ "string string(bool)", f_string, 0, NULL },
	{ "string string(int)", f_string, 0, NULL },
	{ "string string(uint)", f_string, 0, NULL },
	{ "string string(double)", f_string, 0, NULL },
	{ "string string(bytes)", f_string, 0, NULL },
	{ "string string(timestamp)", f_string, 0, NULL },
	{ "string string(duration)", f_string, 0, NULL },
	{ "string string(type)", f_string, 0, NULL },
	{ "bytes bytes(bytes)", f_bytes, 0, NULL },
	{ "bytes bytes(string)", f_bytes, 0, NULL },
	{ "bool bool(bool)", f_bool, 0, NULL },
	{ "bool bool(string)", f_bool, 0, NULL },
	{ "type type(dyn)", f_type, 0, NULL },
	{ "dyn dyn(dyn)", f_dyn, 0, NULL },
	{ "list(int) lists.range(int)", f_range, 0, NULL },
	{ "list list.slice(int, int)", f_slice, 0, NULL },
};

const size_t cel_std_nbuiltins =
    sizeof(cel_std_builtins) / sizeof(cel_std_builtins[0]);
