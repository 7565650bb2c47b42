// SPDX-License-Identifier: MIT
/*
 * CEL values outside of any expression: the arena they live in, the
 * evaluation context's helpers, equality and ordering as CEL defines them
 * (numbers compare across int, uint and double by value), map lookup,
 * UTF-8 counting, and the two ways a value leaves the engine: CEL's
 * string() form and JSON.  The evaluator and the function library both
 * build on these.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

#include "cel_impl.h"

#define ARENA_ALIGN   16
#define ARENA_MIN     4096
#define ARENA_DEFAULT (16u << 20)

struct cel_arena_block {
	struct cel_arena_block *next;
	size_t size, used;
	/* Keeps the data that follows aligned for any value. */
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

const char *
cel_type_name(enum cel_type t)
{
	static const char *const names[] = { "null_type", "bool", "int", "uint",
		"double", "string", "bytes", "list", "map",
		"google.protobuf.Timestamp", "google.protobuf.Duration", "type",
		"dyn" };

	if ((unsigned)t >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[t];
}

void
cel_arena_init(struct cel_arena *a, size_t max)
{
	memset(a, 0, sizeof(*a));
	a->max = max ? max : ARENA_DEFAULT;
}

void *
cel_arena_alloc(struct cel_arena *a, size_t n)
{
	struct cel_arena_block *b, *last;
	size_t size;
	void *p;

	if (n > SIZE_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n == 0)
		n = ARENA_ALIGN;
	/*
	 * Blocks after <cur> are empty since the last reset; taking them in
	 * order means the same sequence of allocations lands in the same
	 * blocks every time, which is what makes a warm arena allocate
	 * nothing.
	 */
	last = NULL;
	for (b = a->cur != NULL ? a->cur : a->head; b != NULL; b = b->next) {
		last = b;
		if (b->size - b->used >= n)
			goto found;
	}
	size = ARENA_MIN << (a->grows < 10 ? a->grows : 10);
	if (size < n)
		size = n;
	if (a->held + size > a->max) {
		size = n;
		if (a->held + size > a->max) {
			errno = ENOMEM;
			return NULL;
		}
	}
	if ((b = malloc(sizeof(*b) + size)) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	b->next = NULL;
	b->size = size;
	b->used = 0;
	a->held += size;
	a->grows++;
	if (last == NULL) {
		for (last = a->head; last != NULL && last->next != NULL;)
			last = last->next;
	}
	if (last == NULL)
		a->head = b;
	else
		last->next = b;
found:
	a->cur = b;
	p = b->data + b->used;
	b->used += n;
	return p;
}

void *
cel_arena_dup(struct cel_arena *a, const void *src, size_t n)
{
	void *p;

	if ((p = cel_arena_alloc(a, n)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, src, n);
	return p;
}

void
cel_arena_reset(struct cel_arena *a)
{
	struct cel_arena_block *b;

	for (b = a->head; b != NULL; b = b->next)
		b->used = 0;
	a->cur = a->head;
}

void
cel_arena_fini(struct cel_arena *a)
{
	struct cel_arena_block *b, *next;

	if (a == NULL)
		return;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head = a->cur = NULL;
	a->held = 0;
}

void
cel_ctx_init(struct cel_ctx *ctx, struct cel_arena *arena, void *host,
    int (*resolve)(void *, int, struct cel_value *, struct cel_arena *))
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->arena = arena;
	ctx->host = host;
	ctx->resolve = resolve;
}

int
cel_ctx_error(struct cel_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
	va_end(ap);
	return -1;
}

static int
is_num(enum cel_type t)
{
	return t == CEL_INT || t == CEL_UINT || t == CEL_DOUBLE;
}

/* int64 against a double, exactly: converting the int could round. */
static int
cmp_int_double(int64_t i, double d)
{
	int64_t t;
	double frac;

	if (isnan(d))
		return 2;
	if (d < -9223372036854775808.0)
		return 1;
	if (d >= 9223372036854775808.0)
		return -1;
	t = (int64_t)d;
	if (i != t)
		return i < t ? -1 : 1;
	frac = d - (double)t;
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int
cmp_uint_double(uint64_t u, double d)
{
	uint64_t t;
	double frac;

	if (isnan(d))
		return 2;
	if (d < 0)
		return 1;
	if (d >= 18446744073709551616.0)
		return -1;
	t = (uint64_t)d;
	if (u != t)
		return u < t ? -1 : 1;
	frac = d - (double)t;
	return frac > 0 ? -1 : 0;
}

static int
cmp_num(const struct cel_value *a, const struct cel_value *b)
{
	switch (a->type) {
	case CEL_INT:
		if (b->type == CEL_INT)
			return a->i < b->i ? -1 : a->i > b->i;
		if (b->type == CEL_UINT) {
			if (a->i < 0)
				return -1;
			return (uint64_t)a->i < b->u ? -1
			                             : (uint64_t)a->i > b->u;
		}
		return cmp_int_double(a->i, b->d);
	case CEL_UINT:
		if (b->type == CEL_UINT)
			return a->u < b->u ? -1 : a->u > b->u;
		if (b->type == CEL_INT) {
			if (b->i < 0)
				return 1;
			return a->u < (uint64_t)b->i ? -1
			                             : a->u > (uint64_t)b->i;
		}
		return cmp_uint_double(a->u, b->d);
	default:
		if (b->type == CEL_DOUBLE) {
			if (isnan(a->d) || isnan(b->d))
				return 2;
			return a->d < b->d ? -1 : a->d > b->d;
		}
		/* Swap and negate; 2 (NaN) stays 2. */
		{
			int r = cmp_num(b, a);
			return r == 2 ? 2 : -r;
		}
	}
}

static int
cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int r;

	r = alen == 0 || blen == 0 ? 0
	                           : memcmp(a, b, alen < blen ? alen : blen);
	if (r != 0)
		return r < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen;
}

/*
 * Returns -1, 0 or 1; 2 when a NaN makes the pair unordered (every
 * comparison is then false); -2 when the kinds cannot be ordered.
 */
int
cel_value_cmp(const struct cel_value *a, const struct cel_value *b)
{
	if (is_num(a->type) && is_num(b->type))
		return cmp_num(a, b);
	if (a->type != b->type)
		return -2;
	switch (a->type) {
	case CEL_BOOL:
		return a->b < b->b ? -1 : a->b > b->b;
	case CEL_STRING:
	case CEL_BYTES:
		return cmp_bytes(a->s.ptr, a->s.len, b->s.ptr, b->s.len);
	case CEL_TIMESTAMP:
	case CEL_DURATION:
		return a->ns < b->ns ? -1 : a->ns > b->ns;
	default:
		return -2;
	}
}

int
cel_value_equal(const struct cel_value *a, const struct cel_value *b)
{
	size_t i;
	const struct cel_value *v;

	if (is_num(a->type) && is_num(b->type))
		return cmp_num(a, b) == 0;
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case CEL_NULL:
		return 1;
	case CEL_BOOL:
		return a->b == b->b;
	case CEL_STRING:
	case CEL_BYTES:
		return a->s.len == b->s.len &&
		    (a->s.len == 0 ||
		        memcmp(a->s.ptr, b->s.ptr, a->s.len) == 0);
	case CEL_TIMESTAMP:
	case CEL_DURATION:
		return a->ns == b->ns;
	case CEL_TYPE:
		return a->t == b->t;
	case CEL_LIST:
		if (a->list.len != b->list.len)
			return 0;
		for (i = 0; i < a->list.len; i++)
			if (!cel_value_equal(
			        &a->list.items[i], &b->list.items[i]))
				return 0;
		return 1;
	case CEL_MAP:
		if (a->map.len != b->map.len)
			return 0;
		for (i = 0; i < a->map.len; i++) {
			v = cel_map_get(b, &a->map.entries[i].key);
			if (v == NULL ||
			    !cel_value_equal(&a->map.entries[i].val, v))
				return 0;
		}
		return 1;
	default:
		return 0;
	}
}

const struct cel_value *
cel_map_get(const struct cel_value *map, const struct cel_value *key)
{
	const struct cel_map_entry *e;
	size_t i;

	for (i = 0; i < map->map.len; i++) {
		e = &map->map.entries[i];
		/* The common case first: string keys, as in headers. */
		if (key->type == CEL_STRING && e->key.type == CEL_STRING) {
			if (e->key.s.len == key->s.len &&
			    (key->s.len == 0 ||
			        memcmp(e->key.s.ptr, key->s.ptr, key->s.len) ==
			            0))
				return &e->val;
		} else if (cel_value_equal(&e->key, key))
			return &e->val;
	}
	return NULL;
}

/*
 * Length of the UTF-8 sequence at <s> (<n> bytes left), or 0 if it is not
 * a valid one: overlong forms, surrogates and values past U+10FFFF are
 * refused, as RFC 3629 says.
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

size_t
cel_utf8_next(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t l, i;
	uint32_t v;

	if ((l = utf8_seq(u, n)) == 0) {
		if (cp != NULL)
			*cp = 0xfffd;
		return 1;
	}
	if (cp != NULL) {
		v = l == 1   ? u[0]
		    : l == 2 ? u[0] & 0x1fu
		    : l == 3 ? u[0] & 0x0fu
		             : u[0] & 0x07u;
		for (i = 1; i < l; i++)
			v = v << 6 | (u[i] & 0x3fu);
		*cp = v;
	}
	return l;
}

int
cel_utf8_valid(const char *s, size_t n)
{
	size_t i, l;

	for (i = 0; i < n; i += l)
		if ((l = utf8_seq((const unsigned char *)s + i, n - i)) == 0)
			return 0;
	return 1;
}

size_t
cel_utf8_len(const char *s, size_t n)
{
	size_t i, l, count = 0;

	for (i = 0; i < n; i += l, count++)
		if ((l = utf8_seq((const unsigned char *)s + i, n - i)) == 0)
			l = 1;
	return count;
}

/*
 * The shortest decimal digits that read back as <d> (finite, not 0):
 * <digits> gets them without a point, the return value is their count and
 * <exp> the decimal exponent of the first one.
 */
static int
shortest_digits(double d, char *digits, int *exp)
{
	char tmp[40], *p, *e;
	int prec, n = 0;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	e = strchr(tmp, 'e');
	*exp = (int)strtol(e + 1, NULL, 10);
	for (p = tmp; p < e; p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	return n;
}

/* Go's strconv.FormatFloat(d, 'g' or 'f' or 'e', -1, 64) for finite d. */
static size_t
format_go(double d, char *buf, size_t len, int g, int jsonish)
{
	char digits[24];
	int nd, exp, use_e;
	size_t n;

	if (d == 0)
		return (size_t)snprintf(
		    buf, len, "%s", signbit(d) ? "-0" : "0");
	nd = shortest_digits(d, digits, &exp);
	if (jsonish)
		use_e = fabs(d) < 1e-6 || fabs(d) >= 1e21;
	else
		use_e = g && (exp < -4 || exp >= 6);
	if (use_e) {
		n = (size_t)snprintf(buf, len, "%.*e", nd - 1, d);
		/* Go's JSON writes e-7 where C writes e-07. */
		if (jsonish && n >= 4 && n < len && buf[n - 4] == 'e' &&
		    buf[n - 2] == '0') {
			buf[n - 2] = buf[n - 1];
			buf[--n] = '\0';
		}
		return n;
	}
	return (size_t)snprintf(
	    buf, len, "%.*f", nd - exp - 1 > 0 ? nd - exp - 1 : 0, d);
}

size_t
cel_format_double(double d, char *buf)
{
	if (isnan(d))
		return (size_t)snprintf(buf, 32, "NaN");
	if (isinf(d))
		return (size_t)snprintf(buf, 32, "%s", d > 0 ? "+Inf" : "-Inf");
	return format_go(d, buf, 32, 1, 0);
}

/*
 * Days since 1970-01-01 to a proleptic Gregorian date and back, for any
 * day an int64 of nanoseconds can reach (the era arithmetic floors, so
 * days before the epoch work too).
 */
void
cel_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z, era, doe, yoe, doy, mp;

	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int64_t
cel_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped. */
size_t
cel_format_timestamp(int64_t ns, char *buf, size_t len)
{
	int64_t secs, days, sod, y;
	int64_t frac;
	int m, d, n, w;

	secs = ns / NS_PER_SEC;
	frac = ns % NS_PER_SEC;
	if (frac < 0) {
		frac += NS_PER_SEC;
		secs--;
	}
	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	cel_civil_from_days(days, &y, &m, &d);
	n = snprintf(buf, len, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m,
	    d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	if (frac != 0 && n > 0 && (size_t)n < len) {
		for (w = 9; frac % 10 == 0; w--)
			frac /= 10;
		n += snprintf(buf + n, len - (size_t)n, ".%0*" PRId64, w, frac);
	}
	if (n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "Z");
	return n < 0 ? 0 : (size_t)n;
}

/* Seconds with up to nine decimals, as cel-go's string(duration). */
size_t
cel_format_duration(int64_t ns, char *buf, size_t len)
{
	uint64_t mag, secs, frac;
	int n, w;

	mag = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	secs = mag / NS_PER_SEC;
	frac = mag % NS_PER_SEC;
	n = snprintf(buf, len, "%s%" PRIu64, ns < 0 ? "-" : "", secs);
	if (frac != 0 && n > 0 && (size_t)n < len) {
		for (w = 9; frac % 10 == 0; w--)
			frac /= 10;
		n += snprintf(buf + n, len - (size_t)n, ".%0*" PRIu64, w, frac);
	}
	if (n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "s");
	return n < 0 ? 0 : (size_t)n;
}

/*
 * The string() form of a scalar into <buf> (64 bytes are enough), without
 * the arena: error messages use it too.  Returns the length, or -1 for a
 * kind that has none.
 */
static int
scalar_format(const struct cel_value *v, char *buf, size_t len)
{
	switch (v->type) {
	case CEL_BOOL:
		return snprintf(buf, len, "%s", v->b ? "true" : "false");
	case CEL_TYPE:
		return snprintf(buf, len, "%s", cel_type_name(v->t));
	case CEL_INT:
		return snprintf(buf, len, "%" PRId64, v->i);
	case CEL_UINT:
		return snprintf(buf, len, "%" PRIu64, v->u);
	case CEL_DOUBLE:
		return (int)cel_format_double(v->d, buf);
	case CEL_TIMESTAMP:
		return (int)cel_format_timestamp(v->ns, buf, len);
	case CEL_DURATION:
		return (int)cel_format_duration(v->ns, buf, len);
	default:
		return -1;
	}
}

int
cel_value_to_string(
    const struct cel_value *v, struct cel_arena *arena, struct cel_value *out)
{
	char buf[64];
	int n;
	char *p;

	switch (v->type) {
	case CEL_STRING:
		*out = *v;
		return 0;
	case CEL_BYTES:
		if (!cel_utf8_valid(v->s.ptr, v->s.len)) {
			errno = EINVAL;
			return -1;
		}
		*out = cel_str(v->s.ptr, v->s.len);
		return 0;
	case CEL_BOOL:
		*out = v->b ? cel_str("true", 4) : cel_str("false", 5);
		return 0;
	case CEL_TYPE:
		*out =
		    cel_str(cel_type_name(v->t), strlen(cel_type_name(v->t)));
		return 0;
	default:
		break;
	}
	if ((n = scalar_format(v, buf, sizeof(buf))) < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((p = cel_arena_dup(arena, buf, (size_t)n)) == NULL)
		return -1;
	*out = cel_str(p, (size_t)n);
	return 0;
}

static int
json_key(const struct cel_value *k, struct gw_buf *b)
{
	char buf[32];
	int n;

	switch (k->type) {
	case CEL_STRING:
		return gw_json_str(b, k->s.ptr, k->s.len);
	case CEL_BOOL:
		return gw_json_cstr(b, k->b ? "true" : "false");
	case CEL_INT:
		n = snprintf(buf, sizeof(buf), "%" PRId64, k->i);
		return gw_json_str(b, buf, (size_t)n);
	case CEL_UINT:
		n = snprintf(buf, sizeof(buf), "%" PRIu64, k->u);
		return gw_json_str(b, buf, (size_t)n);
	default:
		errno = EINVAL;
		return -1;
	}
}

int
cel_value_to_json(const struct cel_value *v, struct gw_buf *b)
{
	char buf[64];
	size_t i, n;

	switch (v->type) {
	case CEL_NULL:
		return gw_buf_add(b, "null", 4);
	case CEL_BOOL:
		return gw_json_bool(b, v->b);
	case CEL_INT:
		return gw_json_i64(b, v->i);
	case CEL_UINT:
		return gw_json_u64(b, v->u);
	case CEL_DOUBLE:
		if (!isfinite(v->d)) {
			errno = EINVAL;
			return -1;
		}
		n = format_go(v->d, buf, sizeof(buf), 0, 1);
		return gw_buf_add(b, buf, n);
	case CEL_STRING:
		return gw_json_str(b, v->s.ptr, v->s.len);
	case CEL_BYTES:
		return gw_json_base64(b, v->s.ptr, v->s.len);
	case CEL_TIMESTAMP:
		n = cel_format_timestamp(v->ns, buf, sizeof(buf));
		return gw_json_str(b, buf, n);
	case CEL_DURATION:
		n = cel_format_duration(v->ns, buf, sizeof(buf));
		return gw_json_str(b, buf, n);
	case CEL_TYPE:
		return gw_json_cstr(b, cel_type_name(v->t));
	case CEL_LIST:
		if (gw_buf_addc(b, '[') == -1)
			return -1;
		for (i = 0; i < v->list.len; i++) {
			if (i > 0 && gw_buf_addc(b, ',') == -1)
				return -1;
			if (cel_value_to_json(&v->list.items[i], b) == -1)
				return -1;
		}
		return gw_buf_addc(b, ']');
	case CEL_MAP:
		if (gw_buf_addc(b, '{') == -1)
			return -1;
		for (i = 0; i < v->map.len; i++) {
			if (i > 0 && gw_buf_addc(b, ',') == -1)
				return -1;
			if (json_key(&v->map.entries[i].key, b) == -1 ||
			    gw_buf_addc(b, ':') == -1 ||
			    cel_value_to_json(&v->map.entries[i].val, b) == -1)
				return -1;
		}
		return gw_buf_addc(b, '}');
	default:
		errno = EINVAL;
		return -1;
	}
}

void
cel_value_describe(const struct cel_value *v, char *buf, size_t len)
{
	char tmp[64];

	if (v->type == CEL_STRING) {
		snprintf(buf, len, "'%.*s'", v->s.len > 64 ? 64 : (int)v->s.len,
		    v->s.ptr);
		return;
	}
	if (scalar_format(v, tmp, sizeof(tmp)) >= 0)
		snprintf(buf, len, "%s", tmp);
	else
		snprintf(buf, len, "%s", cel_type_name(v->type));
}
