// SPDX-License-Identifier: MIT
/*
 * ngrok's Traffic Policy functions that depend on nothing but their
 * arguments (reference/ngrok-traffic-policy.md §3.3): IP ranges
 * (inCidrRange, inCidrRanges, isPrivateIp), JSON (json.decode,
 * json.encode, with jansson), base64, basic_auth.encode and rand.*, plus
 * secrets.get, which is refused at load: gw has no vault.  URLs and query
 * strings are cel_url.c's, the hash.* functions cel_hash.c's; the
 * request-dependent ones (getReqHeader, ...) belong to the policy engine,
 * which declares them with cel_env_func().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "buf.h"

#include "base64.h"
#include "cel_impl.h"

static void *
alloc(struct cel_call *c, size_t n)
{
	void *p;

	if ((p = cel_arena_alloc(c->ctx->arena, n)) == NULL)
		cel_ctx_error(c->ctx, "out of memory for the evaluation");
	return p;
}

/*
 * Parses an IP address into <ip>; returns its length (4 or 16, an
 * IPv4-mapped IPv6 address counting as IPv4, as Go does) or 0.
 */
static int
parse_ip(const char *s, size_t n, unsigned char ip[16], int unmap)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };
	char buf[64];

	if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, ip) == 1)
		return 4;
	if (inet_pton(AF_INET6, buf, ip) != 1)
		return 0;
	if (unmap && memcmp(ip, mapped, sizeof(mapped)) == 0) {
		memmove(ip, ip + 12, 4);
		return 4;
	}
	return 16;
}

/* 1 if <ip> is in <cidr>, 0 if not, -1 if the CIDR is invalid. */
static int
cidr_contains(const unsigned char *ip, int iplen, const char *cidr, size_t n)
{
	unsigned char net[16];
	const char *slash;
	int len, bits = 0, i;
	size_t k;

	if ((slash = memchr(cidr, '/', n)) == NULL)
		return -1;
	if ((len = parse_ip(cidr, (size_t)(slash - cidr), net, 0)) == 0)
		return -1;
	k = (size_t)(slash - cidr) + 1;
	if (k == n || n - k > 3)
		return -1;
	for (; k < n; k++) {
		if (cidr[k] < '0' || cidr[k] > '9')
			return -1;
		bits = bits * 10 + (cidr[k] - '0');
	}
	if (bits > len * 8)
		return -1;
	if (len != iplen)
		return 0;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (ip[i] != net[i])
			return 0;
	if (bits > 0 && ((ip[i] ^ net[i]) & (0xff << (8 - bits)) & 0xff))
		return 0;
	return 1;
}

static int
f_in_cidr_range(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	unsigned char ip[16];
	int len;

	(void)c;
	len = parse_ip(a[0].s.ptr, a[0].s.len, ip, 1);
	*out = cel_bool(
	    len > 0 && cidr_contains(ip, len, a[1].s.ptr, a[1].s.len) == 1);
	return 0;
}

static int
f_in_cidr_ranges(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	const struct cel_value *v;
	unsigned char ip[16];
	size_t i;
	int len;

	(void)c;
	*out = cel_bool(0);
	if ((len = parse_ip(a[0].s.ptr, a[0].s.len, ip, 1)) == 0)
		return 0;
	for (i = 0; i < a[1].list.len; i++) {
		v = &a[1].list.items[i];
		/* Invalid entries are ignored, as ngrok documents. */
		if (v->type == CEL_STRING &&
		    cidr_contains(ip, len, v->s.ptr, v->s.len) == 1) {
			*out = cel_bool(1);
			break;
		}
	}
	return 0;
}

/* Go's net.IP.IsPrivate: RFC 1918 and RFC 4193 (fc00::/7). */
static int
f_is_private_ip(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	unsigned char ip[16];
	int len;

	(void)c;
	len = parse_ip(a[0].s.ptr, a[0].s.len, ip, 1);
	if (len == 4)
		*out = cel_bool(ip[0] == 10 ||
		    (ip[0] == 172 && (ip[1] & 0xf0) == 16) ||
		    (ip[0] == 192 && ip[1] == 168));
	else
		*out = cel_bool(len == 16 && (ip[0] & 0xfe) == 0xfc);
	return 0;
}

/* Converts a jansson value into the arena, recursively. */
static int
from_json(struct cel_call *c, json_t *j, struct cel_value *out)
{
	struct cel_map_entry *ent;
	struct cel_value *items;
	const char *key;
	json_t *v;
	size_t i, n;
	char *p;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		n = json_object_size(j);
		ent = n ? alloc(c, n * sizeof(*ent)) : NULL;
		if (n && ent == NULL)
			return -1;
		i = 0;
		json_object_foreach(j, key, v)
		{
			n = strlen(key);
			if ((p = cel_arena_dup(c->ctx->arena, key, n)) == NULL)
				return cel_ctx_error(c->ctx, "out of memory");
			ent[i].key = cel_str(p, n);
			if (from_json(c, v, &ent[i].val) == -1)
				return -1;
			i++;
		}
		*out = cel_map(ent, i);
		return 0;
	case JSON_ARRAY:
		n = json_array_size(j);
		items = n ? alloc(c, n * sizeof(*items)) : NULL;
		if (n && items == NULL)
			return -1;
		json_array_foreach(j, i, v)
		{
			if (from_json(c, v, &items[i]) == -1)
				return -1;
		}
		*out = cel_list(items, n);
		return 0;
	case JSON_STRING:
		n = json_string_length(j);
		if ((p = cel_arena_dup(
		         c->ctx->arena, json_string_value(j), n)) == NULL)
			return cel_ctx_error(c->ctx, "out of memory");
		*out = cel_str(p, n);
		return 0;
	case JSON_INTEGER:
		*out = cel_double((double)json_integer_value(j));
		return 0;
	case JSON_REAL:
		*out = cel_double(json_real_value(j));
		return 0;
	case JSON_TRUE:
		*out = cel_bool(1);
		return 0;
	case JSON_FALSE:
		*out = cel_bool(0);
		return 0;
	default:
		*out = cel_null();
		return 0;
	}
}

/*
 * json.decode(s): numbers become doubles, as Go's encoding/json decodes
 * into interface{} (and 1.0 == 1 in CEL).
 */
static int
f_json_decode(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	json_error_t jerr;
	json_t *j;
	int r;

	j = json_loadb(a[0].s.ptr, a[0].s.len,
	    JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
	if (j == NULL)
		return cel_ctx_error(c->ctx, "json.decode: %s at offset %d",
		    jerr.text, jerr.position);
	r = from_json(c, j, out);
	json_decref(j);
	return r;
}

static int
f_is_json(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	json_t *j;

	(void)c;
	j = json_loadb(
	    a[0].s.ptr, a[0].s.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	*out = cel_bool(j != NULL);
	json_decref(j);
	return 0;
}

static int
f_json_encode(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	struct gw_buf b;
	char *p;
	int r = 0;

	gw_buf_init(&b, 16u << 20);
	if (cel_value_to_json(&a[0], &b) == -1)
		r = cel_ctx_error(c->ctx, "json.encode: cannot encode %s",
		    errno == EINVAL ? "NaN or infinity" : "(too large)");
	else if ((p = cel_arena_dup(c->ctx->arena, gw_buf_head(&b), b.len)) ==
	    NULL)
		r = cel_ctx_error(c->ctx, "out of memory");
	else
		*out = cel_str(p, b.len);
	gw_buf_fini(&b);
	return r;
}

static int
f_b64_encode(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	char *p;

	if ((p = alloc(c, (a[0].s.len + 2) / 3 * 4)) == NULL)
		return -1;
	*out = cel_str(p, gw_base64_encode(a[0].s.ptr, a[0].s.len, p));
	return 0;
}

/* Standard alphabet with padding, strictly, as Go's StdEncoding. */
static int
f_b64_decode(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	unsigned char *p;
	size_t k;

	if ((p = alloc(c, GW_BASE64_DECODED_MAX(a[0].s.len))) == NULL)
		return -1;
	if (gw_base64_decode(a[0].s.ptr, a[0].s.len, p, &k, GW_BASE64_STRICT) ==
	    -1)
		return cel_ctx_error(
		    c->ctx, "base64.decode: invalid base64 input");
	*out = cel_bytes(p, k);
	return 0;
}

static int
f_basic_auth(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	size_t n = a[0].s.len + 1 + a[1].s.len;
	char *raw, *p;

	if ((raw = alloc(c, n)) == NULL ||
	    (p = alloc(c, 6 + (n + 2) / 3 * 4)) == NULL)
		return -1;
	memcpy(raw, a[0].s.ptr, a[0].s.len);
	raw[a[0].s.len] = ':';
	memcpy(raw + a[0].s.len + 1, a[1].s.ptr, a[1].s.len);
	memcpy(p, "Basic ", 6);
	*out = cel_str(p, 6 + gw_base64_encode(raw, n, p + 6));
	return 0;
}

/* splitmix64, seeded once from getrandom(2), when the host has none. */
static uint64_t
random64(struct cel_ctx *ctx)
{
	static uint64_t state;
	static int seeded;
	uint64_t z;

	if (ctx->random != NULL)
		return ctx->random(ctx->host);
	if (!seeded) {
		if (getrandom(&state, sizeof(state), 0) != sizeof(state))
			state =
			    (uint64_t)(uintptr_t)&state ^ 0x9e3779b97f4a7c15;
		seeded = 1;
	}
	z = (state += 0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
	return z ^ (z >> 31);
}

/* rand.int(min, max): uniform in [min, max], both included. */
static int
f_rand_int(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	uint64_t span, r, limit;

	if (a[0].i > a[1].i)
		return cel_ctx_error(c->ctx, "rand.int: min %lld > max %lld",
		    (long long)a[0].i, (long long)a[1].i);
	span = (uint64_t)a[1].i - (uint64_t)a[0].i + 1;
	r = random64(c->ctx);
	if (span != 0) {
		/* Rejection keeps the draw uniform when span is not 2^k. */
		limit = UINT64_MAX - UINT64_MAX % span;
		while (r >= limit)
			r = random64(c->ctx);
		r %= span;
	}
	*out = cel_int((int64_t)((uint64_t)a[0].i + r));
	return 0;
}

static int
f_rand_double(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	(void)a;
	*out = cel_double((double)(random64(c->ctx) >> 11) * 0x1.0p-53);
	return 0;
}

/*
 * secrets.get(vault, name) reads ngrok's hosted vault, which gw does not
 * have: a policy that uses it is refused when it loads rather than
 * failing each request.
 */
static int
secrets_prepare(
    struct cel_program *prog, struct cel_node *n, struct cel_error *err)
{
	(void)prog;
	err->col = n->col;
	snprintf(err->msg, sizeof(err->msg),
	    "secrets.get() is not supported: gw has no secret vault; put "
	    "the value in the policy or in a set-vars action");
	return -1;
}

static int
f_secrets_get(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	(void)a;
	(void)out;
	return cel_ctx_error(c->ctx, "secrets.get() is not supported");
}

const struct cel_builtin cel_ngrok_builtins[] = {
	{ "bool inCidrRange(string, string)", f_in_cidr_range, 0, NULL },
	{ "bool inCidrRanges(string, list)", f_in_cidr_ranges, 0, NULL },
	{ "bool isPrivateIp(string)", f_is_private_ip, 0, NULL },
	{ "bool string.isPrivateIp()", f_is_private_ip, 0, NULL },
	{ "dyn json.decode(string)", f_json_decode, 0, NULL },
	{ "dyn string.decodeJson()", f_json_decode, 0, NULL },
	{ "bool string.isJson()", f_is_json, 0, NULL },
	{ "string json.encode(dyn)", f_json_encode, 0, NULL },
	{ "string list.encodeJson()", f_json_encode, 0, NULL },
	{ "string map.encodeJson()", f_json_encode, 0, NULL },
	{ "bytes base64.decode(string)", f_b64_decode, 0, NULL },
	{ "bytes string.decodeBase64()", f_b64_decode, 0, NULL },
	{ "string base64.encode(bytes)", f_b64_encode, 0, NULL },
	{ "string base64.encode(string)", f_b64_encode, 0, NULL },
	{ "string bytes.encodeBase64()", f_b64_encode, 0, NULL },
	{ "string string.encodeBase64()", f_b64_encode, 0, NULL },
	{ "string basic_auth.encode(string, string)", f_basic_auth, 0, NULL },
	{ "int rand.int(int, int)", f_rand_int, CEL_FN_IMPURE, NULL },
	{ "double rand.double()", f_rand_double, CEL_FN_IMPURE, NULL },
	{ "string secrets.get(string, string)", f_secrets_get, CEL_FN_IMPURE,
	    secrets_prepare },
};

const size_t cel_ngrok_nbuiltins =
    sizeof(cel_ngrok_builtins) / sizeof(cel_ngrok_builtins[0]);
