// SPDX-License-Identifier: MIT
/*
 * ngrok's hash.* functions (reference/ngrok-traffic-policy.md §3.3), as
 * hash.md5(x) and as x.md5(), for strings and bytes.  Every one returns
 * the digest as lower-case hex, zero-padded to the digest's width, which
 * is what Go prints for hex.EncodeToString(h.Sum(nil)).  md5 and the SHA
 * family come from OpenSSL, crc32 (IEEE) from zlib; crc64 (Go's
 * crc64.ECMA table, the reflected ECMA-182 polynomial, i.e. CRC-64/XZ)
 * and xxhash64 (XXH64, seed 0) are written here: both are a few lines,
 * and libxxhash would be one more package to install for one function.
 */
#include <openssl/evp.h>
#include <string.h>
#include <zlib.h>

#include "cel_impl.h"

static const char hexdigits[] = "0123456789abcdef";

/* Writes <len> bytes of <buf> as hex into the arena. */
static int
hex_out(struct cel_call *c, const unsigned char *buf, size_t len,
    struct cel_value *out)
{
	size_t i;
	char *p;

	if ((p = cel_arena_alloc(c->ctx->arena, 2 * len)) == NULL)
		return cel_ctx_error(
		    c->ctx, "out of memory for the evaluation");
	for (i = 0; i < len; i++) {
		p[2 * i] = hexdigits[buf[i] >> 4];
		p[2 * i + 1] = hexdigits[buf[i] & 15];
	}
	*out = cel_str(p, 2 * len);
	return 0;
}

/* A 64-bit sum, big-endian as Go's Sum() appends it. */
static int
hex_u64(struct cel_call *c, uint64_t v, size_t bytes, struct cel_value *out)
{
	unsigned char buf[8];
	size_t i;

	for (i = 0; i < bytes; i++)
		buf[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	return hex_out(c, buf, bytes, out);
}

static int
digest(struct cel_call *c, const struct cel_value *a, struct cel_value *out,
    const EVP_MD *md)
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int len;

	if (EVP_Digest(a[0].s.ptr, a[0].s.len, buf, &len, md, NULL) != 1)
		return cel_ctx_error(c->ctx, "hash: digest failed");
	return hex_out(c, buf, len, out);
}

static int
f_md5(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return digest(c, a, out, EVP_md5());
}

static int
f_sha1(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return digest(c, a, out, EVP_sha1());
}

static int
f_sha256(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return digest(c, a, out, EVP_sha256());
}

static int
f_sha512(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return digest(c, a, out, EVP_sha512());
}

static int
f_crc32(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	uLong crc;

	crc = crc32_z(0L, (const Bytef *)a[0].s.ptr, a[0].s.len);
	return hex_u64(c, (uint64_t)crc, 4, out);
}

/*
 * Go's crc64.Checksum(s, crc64.MakeTable(crc64.ECMA)): the reflected
 * polynomial, all bits set before and inverted after.
 */
static int
f_crc64(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	static uint64_t table[256];
	static int ready;
	const unsigned char *s = (const unsigned char *)a[0].s.ptr;
	uint64_t crc;
	size_t i;
	int j;

	if (!ready) {
		for (i = 0; i < 256; i++) {
			crc = i;
			for (j = 0; j < 8; j++)
				crc = crc & 1 ? crc >> 1 ^ 0xc96c5795d7870f42ULL
				              : crc >> 1;
			table[i] = crc;
		}
		ready = 1;
	}
	crc = ~(uint64_t)0;
	for (i = 0; i < a[0].s.len; i++)
		crc = table[(crc ^ s[i]) & 0xff] ^ crc >> 8;
	return hex_u64(c, ~crc, 8, out);
}

#define XXH_P1 0x9e3779b185ebca87ULL
#define XXH_P2 0xc2b2ae3d27d4eb4fULL
#define XXH_P3 0x165667b19e3779f9ULL
#define XXH_P4 0x85ebca77c2b2ae63ULL
#define XXH_P5 0x27d4eb2f165667c5ULL

static uint64_t
rotl64(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

/* Little-endian loads, whatever the host's byte order. */
static uint64_t
le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
le32(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24;
}

static uint64_t
xxh_round(uint64_t acc, uint64_t in)
{
	acc += in * XXH_P2;
	return rotl64(acc, 31) * XXH_P1;
}

static uint64_t
xxh_merge(uint64_t acc, uint64_t v)
{
	acc ^= xxh_round(0, v);
	return acc * XXH_P1 + XXH_P4;
}

/* XXH64 as its specification (xxhash.com, doc/xxhash_spec.md) gives it. */
static uint64_t
xxh64(const unsigned char *p, size_t n, uint64_t seed)
{
	const unsigned char *end = p + n;
	uint64_t h, v1, v2, v3, v4;

	if (n >= 32) {
		v1 = seed + XXH_P1 + XXH_P2;
		v2 = seed + XXH_P2;
		v3 = seed;
		v4 = seed - XXH_P1;
		for (; end - p >= 32; p += 32) {
			v1 = xxh_round(v1, le64(p));
			v2 = xxh_round(v2, le64(p + 8));
			v3 = xxh_round(v3, le64(p + 16));
			v4 = xxh_round(v4, le64(p + 24));
		}
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) +
		    rotl64(v4, 18);
		h = xxh_merge(h, v1);
		h = xxh_merge(h, v2);
		h = xxh_merge(h, v3);
		h = xxh_merge(h, v4);
	} else
		h = seed + XXH_P5;
	h += (uint64_t)n;
	for (; end - p >= 8; p += 8) {
		h ^= xxh_round(0, le64(p));
		h = rotl64(h, 27) * XXH_P1 + XXH_P4;
	}
	if (end - p >= 4) {
		h ^= le32(p) * XXH_P1;
		h = rotl64(h, 23) * XXH_P2 + XXH_P3;
		p += 4;
	}
	for (; p < end; p++) {
		h ^= *p * XXH_P5;
		h = rotl64(h, 11) * XXH_P1;
	}
	h ^= h >> 33;
	h *= XXH_P2;
	h ^= h >> 29;
	h *= XXH_P3;
	h ^= h >> 32;
	return h;
}

static int
f_xxhash64(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return hex_u64(
	    c, xxh64((const unsigned char *)a[0].s.ptr, a[0].s.len, 0), 8, out);
}

const struct cel_builtin cel_hash_builtins[] = {
	{ "string hash.md5(string)", f_md5, 0, NULL },
	{ "string hash.md5(bytes)", f_md5, 0, NULL },
	{ "string string.md5()", f_md5, 0, NULL },
	{ "string bytes.md5()", f_md5, 0, NULL },
	{ "string hash.sha1(string)", f_sha1, 0, NULL },
	{ "string hash.sha1(bytes)", f_sha1, 0, NULL },
	{ "string string.sha1()", f_sha1, 0, NULL },
	{ "string bytes.sha1()", f_sha1, 0, NULL },
	{ "string hash.sha256(string)", f_sha256, 0, NULL },
	{ "string hash.sha256(bytes)", f_sha256, 0, NULL },
	{ "string string.sha256()", f_sha256, 0, NULL },
	{ "string bytes.sha256()", f_sha256, 0, NULL },
	{ "string hash.sha512(string)", f_sha512, 0, NULL },
	{ "string hash.sha512(bytes)", f_sha512, 0, NULL },
	{ "string string.sha512()", f_sha512, 0, NULL },
	{ "string bytes.sha512()", f_sha512, 0, NULL },
	{ "string hash.crc32(string)", f_crc32, 0, NULL },
	{ "string hash.crc32(bytes)", f_crc32, 0, NULL },
	{ "string string.crc32()", f_crc32, 0, NULL },
	{ "string bytes.crc32()", f_crc32, 0, NULL },
	{ "string hash.crc64(string)", f_crc64, 0, NULL },
	{ "string hash.crc64(bytes)", f_crc64, 0, NULL },
	{ "string string.crc64()", f_crc64, 0, NULL },
	{ "string bytes.crc64()", f_crc64, 0, NULL },
	{ "string hash.xxhash64(string)", f_xxhash64, 0, NULL },
	{ "string hash.xxhash64(bytes)", f_xxhash64, 0, NULL },
	{ "string string.xxhash64()", f_xxhash64, 0, NULL },
	{ "string bytes.xxhash64()", f_xxhash64, 0, NULL },
};

const size_t cel_hash_nbuiltins =
    sizeof(cel_hash_builtins) / sizeof(cel_hash_builtins[0]);
