// SPDX-License-Identifier: MIT
/*
 * CEL's standard functions: size, contains, startsWith, endsWith, matches
 * (PCRE2, compiled once when the pattern is a constant and cached
 * otherwise) and the conversions int(), uint(), double(), string(),
 * bytes(), bool(), type(), dyn().  The cel-go extensions that ngrok
 * documents are cel_strings.c's (split, format, ...) and cel_list.c's
 * (sort, flatten, ...).  Results go into the evaluation arena.
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
};

const size_t cel_std_nbuiltins =
    sizeof(cel_std_builtins) / sizeof(cel_std_builtins[0]);
