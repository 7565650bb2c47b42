// SPDX-License-Identifier: MIT
/*
 * cel-go's string formatting: "fmt".format([args]) with the clauses %s,
 * %d, %f and %e (with an optional .N precision), %b, %x, %X, %o and %%,
 * written as cel-go's second formatter does, and strings.quote(s).  A
 * constant format is checked when the expression loads.  Also the
 * cel_sbuf, a string that grows in the evaluation arena.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel_impl.h"

/* Digits after the point that %.Nf and %.Ne may ask for. */
#define FMT_MAX_PRECISION 100
/* Nesting of lists and maps that %s walks into. */
#define FMT_MAX_DEPTH 32

void
cel_sbuf_init(struct cel_sbuf *b, struct cel_ctx *ctx, size_t hint)
{
	b->ctx = ctx;
	b->p = NULL;
	b->len = 0;
	b->cap = hint < 16 ? 16 : hint;
}

/* Makes room for <n> more bytes; returns where they go, or NULL. */
static char *
sbuf_room(struct cel_sbuf *b, size_t n)
{
	size_t cap = b->cap;
	char *p;

	if (b->p != NULL && b->cap - b->len >= n)
		return b->p + b->len;
	if (b->p != NULL)
		cap *= 2;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 4) {
			cel_ctx_error(b->ctx, "string too long");
			return NULL;
		}
		cap *= 2;
	}
	if ((p = cel_arena_alloc(b->ctx->arena, cap)) == NULL) {
		cel_ctx_error(b->ctx, "out of memory for the evaluation");
		return NULL;
	}
	if (b->len > 0)
		memcpy(p, b->p, b->len);
	b->p = p;
	b->cap = cap;
	return p + b->len;
}

int
cel_sbuf_add(struct cel_sbuf *b, const void *s, size_t n)
{
	char *p;

	if (n == 0)
		return 0;
	if ((p = sbuf_room(b, n)) == NULL)
		return -1;
	memcpy(p, s, n);
	b->len += n;
	return 0;
}

static int
sbuf_adds(struct cel_sbuf *b, const char *s)
{
	return cel_sbuf_add(b, s, strlen(s));
}

static int sbuf_printf(struct cel_sbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
sbuf_printf(struct cel_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return cel_ctx_error(b->ctx, "format: cannot format");
	if ((p = sbuf_room(b, (size_t)n + 1)) == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

struct cel_value
cel_sbuf_value(const struct cel_sbuf *b)
{
	return cel_str(b->p, b->len);
}

/*
 * strings.quote(s), as cel-go: double quotes around the text, with \a \b
 * \f \n \r \t \v \\ and \" escaped, other bytes as they are and invalid
 * UTF-8 replaced by U+FFFD.
 */
static int
f_quote(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	static const char from[] = "\a\b\f\n\r\t\v\\\"", to[] = "abfnrtv\\\"";
	const char *s = a[0].s.ptr, *e;
	size_t n = a[0].s.len, i, l;
	struct cel_sbuf b;
	char esc[2] = { '\\', 0 };
	uint32_t cp;
	int r = 0;

	cel_sbuf_init(&b, c->ctx, n + 2);
	r |= cel_sbuf_add(&b, "\"", 1);
	for (i = 0; i < n && r == 0; i += l) {
		l = cel_utf8_next(s + i, n - i, &cp);
		if (cp == 0xfffd && l == 1)
			r |= cel_sbuf_add(&b, "\xef\xbf\xbd", 3);
		else if (l == 1 && s[i] != '\0' &&
		    (e = strchr(from, s[i])) != NULL) {
			esc[1] = to[e - from];
			r |= cel_sbuf_add(&b, esc, 2);
		} else
			r |= cel_sbuf_add(&b, s + i, l);
	}
	r |= cel_sbuf_add(&b, "\"", 1);
	if (r != 0)
		return -1;
	*out = cel_sbuf_value(&b);
	return 0;
}

/* One clause of a format string: %[.N]verb. */
struct fmt_clause {
	char verb;
	int prec;   /* 6 unless given */
	size_t len; /* bytes after the '%' */
};

/*
 * Reads the clause after a '%' from <n> bytes at <s>.  Returns 0, or -1
 * with the reason in <msg>.
 */
static int
fmt_parse(
    const char *s, size_t n, struct fmt_clause *cl, char *msg, size_t msglen)
{
	size_t i = 0, l;
	int prec = 6, digits = 0;

	if (i < n && s[i] == '.') {
		for (i++, prec = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			if (prec > FMT_MAX_PRECISION)
				break;
			prec = prec * 10 + (s[i] - '0');
			digits++;
		}
		if (prec > FMT_MAX_PRECISION) {
			snprintf(msg, msglen,
			    "precision exceeds the maximum of %d",
			    FMT_MAX_PRECISION);
			return -1;
		}
		if (digits == 0 && i < n) {
			snprintf(msg, msglen, "missing precision after '.'");
			return -1;
		}
	}
	if (i >= n) {
		snprintf(msg, msglen, "unexpected end of string");
		return -1;
	}
	if (strchr("sdfebxXo", s[i]) == NULL || s[i] == '\0') {
		l = cel_utf8_next(s + i, n - i, NULL);
		snprintf(msg, msglen, "unrecognized formatting clause \"%.*s\"",
		    (int)l, s + i);
		return -1;
	}
	cl->verb = s[i];
	cl->prec = prec;
	cl->len = i + 1;
	return 0;
}

/*
 * Counts the clauses of a format string (%% is none).  Returns 0, or -1
 * with the reason in <msg> and the clause's byte offset in *<off>.
 */
static int
fmt_count(const char *s, size_t n, size_t *count, size_t *off, char *msg,
    size_t msglen)
{
	struct fmt_clause cl;
	size_t i;

	*count = 0;
	for (i = 0; i < n; i++) {
		if (s[i] != '%')
			continue;
		if (i + 1 < n && s[i + 1] == '%') {
			i++;
			continue;
		}
		*off = i;
		if (fmt_parse(s + i + 1, n - i - 1, &cl, msg, msglen) == -1)
			return -1;
		i += cl.len;
		(*count)++;
	}
	return 0;
}

/*
 * Whether a clause takes a value of kind <k>: NULL if it does, else the
 * end of cel-go's message ("... was given <type>" follows).
 */
static const char *
fmt_refuses(char verb, enum cel_type k)
{
	int num = k == CEL_INT || k == CEL_UINT;

	if (k == CEL_DYN)
		return NULL;
	switch (verb) {
	case 'd':
		return num || k == CEL_DOUBLE
		    ? NULL
		    : "decimal clause can only be used on ints, uints, and "
		      "doubles";
	case 'f':
		return num || k == CEL_DOUBLE
		    ? NULL
		    : "fixed-point clause can only be used on ints, uints, and "
		      "doubles";
	case 'e':
		return num || k == CEL_DOUBLE
		    ? NULL
		    : "scientific clause can only be used on ints, uints, and "
		      "doubles";
	case 'b':
		return num || k == CEL_BOOL
		    ? NULL
		    : "only ints, uints, and bools can be formatted as binary";
	case 'x':
	case 'X':
		return num || k == CEL_STRING || k == CEL_BYTES
		    ? NULL
		    : "only ints, uints, bytes, and strings can be formatted "
		      "as hex";
	case 'o':
		return num ? NULL
		           : "octal clause can only be used on ints and uints";
	default:
		return NULL;
	}
}

/* NaN and the infinities as cel-go's clauses write them. */
static const char *
fmt_special(double d)
{
	if (isnan(d))
		return "NaN";
	if (isinf(d))
		return d > 0 ? "Infinity" : "-Infinity";
	return NULL;
}

/*
 * Go's strconv.FormatFloat(d, 'f', -1, 64): the shortest digits that read
 * back as <d>, written without an exponent (1e21 is 1 and 21 zeros).
 */
static int
fmt_shortest(struct cel_sbuf *b, double d)
{
	char tmp[40], digits[24], *e, *p;
	int prec, exp, nd = 0, r = 0, i;

	if (fmt_special(d) != NULL)
		return sbuf_adds(b, fmt_special(d));
	if (d == 0)
		return sbuf_adds(b, signbit(d) ? "-0" : "0");
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	e = strchr(tmp, 'e');
	exp = (int)strtol(e + 1, NULL, 10);
	for (p = tmp; p < e; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (d < 0)
		r |= cel_sbuf_add(b, "-", 1);
	if (exp < 0) {
		r |= cel_sbuf_add(b, "0.", 2);
		for (i = 0; i < -exp - 1; i++)
			r |= cel_sbuf_add(b, "0", 1);
		r |= cel_sbuf_add(b, digits, (size_t)nd);
	} else if (exp >= nd - 1) {
		r |= cel_sbuf_add(b, digits, (size_t)nd);
		for (i = 0; i < exp - nd + 1; i++)
			r |= cel_sbuf_add(b, "0", 1);
	} else {
		r |= cel_sbuf_add(b, digits, (size_t)exp + 1);
		r |= cel_sbuf_add(b, ".", 1);
		r |= cel_sbuf_add(b, digits + exp + 1, (size_t)(nd - exp - 1));
	}
	return r ? -1 : 0;
}

/* An integer in base 2, 8 or 16, a minus sign before a negative one. */
static int
fmt_radix(
    struct cel_sbuf *b, const struct cel_value *v, unsigned base, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[66], *p = buf + sizeof(buf);
	uint64_t u;
	int neg = 0;

	if (v->type == CEL_INT && v->i < 0) {
		neg = 1;
		u = (uint64_t)0 - (uint64_t)v->i;
	} else
		u = v->type == CEL_INT ? (uint64_t)v->i : v->u;
	do {
		*--p = digits[u % base];
		u /= base;
	} while (u > 0);
	if (neg)
		*--p = '-';
	return cel_sbuf_add(b, p, (size_t)(buf + sizeof(buf) - p));
}

static int fmt_string(struct cel_sbuf *, const struct cel_value *, int depth);

/*
 * %s of a map: "{k: v, ...}" ordered by the keys' text, as cel-go's
 * second formatter.  Keys are formatted apart first, to sort them.
 */
static int
fmt_map(struct cel_sbuf *b, const struct cel_value *v, int depth)
{
	size_t n = v->map.len, i, j;
	struct cel_value *keys, *order;
	struct cel_sbuf kb;

	if (n == 0)
		return cel_sbuf_add(b, "{}", 2);
	keys = cel_arena_alloc(b->ctx->arena, 2 * n * sizeof(*keys));
	if (keys == NULL)
		return cel_ctx_error(
		    b->ctx, "out of memory for the evaluation");
	order = keys + n;
	for (i = 0; i < n; i++) {
		cel_sbuf_init(&kb, b->ctx, 16);
		if (fmt_string(&kb, &v->map.entries[i].key, depth + 1) == -1)
			return -1;
		keys[i] = cel_sbuf_value(&kb);
		order[i] = cel_int((int64_t)i);
	}
	if (cel_list_sort(b->ctx, "format", order, keys, n, order) == -1)
		return -1;
	if (cel_sbuf_add(b, "{", 1) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		j = (size_t)order[i].i;
		if ((i > 0 && cel_sbuf_add(b, ", ", 2) == -1) ||
		    cel_sbuf_add(b, keys[j].s.ptr, keys[j].s.len) == -1 ||
		    cel_sbuf_add(b, ": ", 2) == -1 ||
		    fmt_string(b, &v->map.entries[j].val, depth + 1) == -1)
			return -1;
	}
	return cel_sbuf_add(b, "}", 1);
}

/*
 * %s: any value, as cel-go's second formatter writes it: strings and
 * bytes as they are, doubles in their shortest form without exponent,
 * timestamps in RFC 3339, durations in seconds ("1.5s"), lists "[a, b]"
 * and maps "{k: v}" with their elements unquoted.
 */
static int
fmt_string(struct cel_sbuf *b, const struct cel_value *v, int depth)
{
	char buf[64];
	size_t i, n;

	if (depth > FMT_MAX_DEPTH)
		return cel_ctx_error(b->ctx,
		    "format: value nested deeper than %d", FMT_MAX_DEPTH);
	switch (v->type) {
	case CEL_NULL:
		return cel_sbuf_add(b, "null", 4);
	case CEL_BOOL:
		return sbuf_adds(b, v->b ? "true" : "false");
	case CEL_INT:
		return sbuf_printf(b, "%" PRId64, v->i);
	case CEL_UINT:
		return sbuf_printf(b, "%" PRIu64, v->u);
	case CEL_DOUBLE:
		return fmt_shortest(b, v->d);
	case CEL_STRING:
	case CEL_BYTES:
		return cel_sbuf_add(b, v->s.ptr, v->s.len);
	case CEL_TIMESTAMP:
		n = cel_format_timestamp(v->ns, buf, sizeof(buf));
		return cel_sbuf_add(b, buf, n);
	case CEL_DURATION:
		n = cel_format_duration(v->ns, buf, sizeof(buf));
		return cel_sbuf_add(b, buf, n);
	case CEL_TYPE:
		return sbuf_adds(b, cel_type_name(v->t));
	case CEL_LIST:
		if (cel_sbuf_add(b, "[", 1) == -1)
			return -1;
		for (i = 0; i < v->list.len; i++)
			if ((i > 0 && cel_sbuf_add(b, ", ", 2) == -1) ||
			    fmt_string(b, &v->list.items[i], depth + 1) == -1)
				return -1;
		return cel_sbuf_add(b, "]", 1);
	case CEL_MAP:
		return fmt_map(b, v, depth);
	default:
		return cel_ctx_error(
		    b->ctx, "format: cannot format %s", cel_type_name(v->type));
	}
}

/* One clause applied to its argument. */
static int
fmt_arg(
    struct cel_sbuf *b, const struct fmt_clause *cl, const struct cel_value *v)
{
	const char *why;
	double d;
	size_t i;

	if ((why = fmt_refuses(cl->verb, v->type)) != NULL)
		return cel_ctx_error(b->ctx, "format: %s, was given %s", why,
		    cel_type_name(v->type));
	switch (cl->verb) {
	case 's':
		return fmt_string(b, v, 0);
	case 'd':
		return v->type == CEL_DOUBLE ? fmt_shortest(b, v->d)
		                             : fmt_string(b, v, 0);
	case 'f':
	case 'e':
		d = v->type == CEL_DOUBLE ? v->d
		    : v->type == CEL_INT  ? (double)v->i
		                          : (double)v->u;
		if (fmt_special(d) != NULL)
			return sbuf_adds(b, fmt_special(d));
		return cl->verb == 'f' ? sbuf_printf(b, "%.*f", cl->prec, d)
		                       : sbuf_printf(b, "%.*e", cl->prec, d);
	case 'b':
		if (v->type == CEL_BOOL)
			return sbuf_adds(b, v->b ? "1" : "0");
		return fmt_radix(b, v, 2, 0);
	case 'o':
		return fmt_radix(b, v, 8, 0);
	default: /* x, X */
		if (v->type == CEL_INT || v->type == CEL_UINT)
			return fmt_radix(b, v, 16, cl->verb == 'X');
		for (i = 0; i < v->s.len; i++)
			if (sbuf_printf(b, cl->verb == 'X' ? "%02X" : "%02x",
			        (unsigned char)v->s.ptr[i]) == -1)
				return -1;
		return 0;
	}
}

/*
 * A constant format string is checked at load: its clauses parse, and
 * when the arguments are a list literal, their number and the kinds the
 * checker knows fit the clauses.  What is only known at run time is
 * checked there, with the same messages.
 */
static int
format_prepare(
    struct cel_program *prog, struct cel_node *n, struct cel_error *err)
{
	const struct cel_node *f = n->args[0], *l = n->args[1];
	struct fmt_clause cl;
	size_t count, off, nargs, i, k;
	enum cel_type kind;
	const char *why;
	char msg[120];

	(void)prog;
	if (f->kind != N_CONST || f->val.type != CEL_STRING)
		return 0;
	if (fmt_count(f->val.s.ptr, f->val.s.len, &count, &off, msg,
	        sizeof(msg)) == -1) {
		err->col = f->col;
		snprintf(err->msg, sizeof(err->msg),
		    "format: %s (at byte %zu of the format)", msg, off);
		return -1;
	}
	if (l->kind == N_LIST)
		nargs = l->nargs;
	else if (l->kind == N_CONST && l->val.type == CEL_LIST)
		nargs = l->val.list.len;
	else
		return 0;
	if (nargs != count) {
		err->col = n->col;
		snprintf(err->msg, sizeof(err->msg),
		    "format: the format has %zu clause%s but %zu argument%s "
		    "%s given",
		    count, count == 1 ? "" : "s", nargs, nargs == 1 ? "" : "s",
		    nargs == 1 ? "was" : "were");
		return -1;
	}
	for (i = 0, k = 0; i < f->val.s.len; i++) {
		if (f->val.s.ptr[i] != '%')
			continue;
		if (i + 1 < f->val.s.len && f->val.s.ptr[i + 1] == '%') {
			i++;
			continue;
		}
		fmt_parse(f->val.s.ptr + i + 1, f->val.s.len - i - 1, &cl, msg,
		    sizeof(msg));
		i += cl.len;
		kind = l->kind == N_LIST ? l->args[k]->type->kind
		                         : l->val.list.items[k].type;
		if ((why = fmt_refuses(cl.verb, kind)) != NULL) {
			err->col = l->kind == N_LIST ? l->args[k]->col : l->col;
			snprintf(err->msg, sizeof(err->msg),
			    "format: %s, was given %s", why,
			    cel_type_name(kind));
			return -1;
		}
		k++;
	}
	return 0;
}

/* "fmt".format(args), cel-go's string formatting. */
static int
f_format(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	const char *f = a[0].s.ptr, *q;
	size_t n = a[0].s.len, i, k = 0, count, off;
	struct fmt_clause cl;
	struct cel_sbuf b;
	char msg[120];

	if (fmt_count(f, n, &count, &off, msg, sizeof(msg)) == -1)
		return cel_ctx_error(
		    c->ctx, "format: %s (at byte %zu of the format)", msg, off);
	if (count != a[1].list.len)
		return cel_ctx_error(c->ctx,
		    "format: the format has %zu clause%s but %zu argument%s "
		    "%s given",
		    count, count == 1 ? "" : "s", a[1].list.len,
		    a[1].list.len == 1 ? "" : "s",
		    a[1].list.len == 1 ? "was" : "were");
	if (memchr(f, '%', n) == NULL) {
		*out = a[0];
		return 0;
	}
	cel_sbuf_init(&b, c->ctx, n + 16 * count);
	for (i = 0; i < n;) {
		if (f[i] != '%') {
			q = memchr(f + i, '%', n - i);
			off = q != NULL ? (size_t)(q - f) : n;
			if (cel_sbuf_add(&b, f + i, off - i) == -1)
				return -1;
			i = off;
			continue;
		}
		if (i + 1 < n && f[i + 1] == '%') {
			if (cel_sbuf_add(&b, "%", 1) == -1)
				return -1;
			i += 2;
			continue;
		}
		(void)fmt_parse(f + i + 1, n - i - 1, &cl, msg, sizeof(msg));
		if (fmt_arg(&b, &cl, &a[1].list.items[k++]) == -1)
			return -1;
		i += 1 + cl.len;
	}
	*out = cel_sbuf_value(&b);
	return 0;
}

const struct cel_builtin cel_format_builtins[] = {
	{ "string strings.quote(string)", f_quote, 0, NULL },
	{ "string string.format(list)", f_format, 0, format_prepare },
};

const size_t cel_format_nbuiltins =
    sizeof(cel_format_builtins) / sizeof(cel_format_builtins[0]);
