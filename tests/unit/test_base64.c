// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/base64.c: RFC 4648's vectors both ways, every byte
 * value round-tripped, padding optional or required, and what strict
 * decoding refuses (bad characters, missing padding, non-canonical bits).
 */
#include <string.h>

#include "base64.h"
#include "harness.h"

static const char *const vec[][2] = { { "", "" }, { "f", "Zg==" },
	{ "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };

/* Decodes <s> with <flags>; returns the length or -1, text in out. */
static long
dec(const char *s, int flags, char *out)
{
	size_t n;

	if (gw_base64_decode(s, strlen(s), (unsigned char *)out, &n, flags) ==
	    -1)
		return -1;
	out[n] = '\0';
	return (long)n;
}

TEST(test_rfc4648_vectors)
{
	char out[64];
	size_t i, n;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		n = gw_base64_encode(vec[i][0], strlen(vec[i][0]), out);
		out[n] = '\0';
		CHECK_STREQ(out, vec[i][1]);
		CHECK(n == GW_BASE64_ENCODED_LEN(strlen(vec[i][0])));
		CHECK(dec(vec[i][1], GW_BASE64_STRICT, out) ==
		    (long)strlen(vec[i][0]));
		CHECK_STREQ(out, vec[i][0]);
	}
}

TEST(test_every_byte_round_trips)
{
	unsigned char in[256], back[GW_BASE64_DECODED_MAX(344)];
	char enc[GW_BASE64_ENCODED_LEN(256)];
	size_t i, n, m;

	for (i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	n = gw_base64_encode(in, sizeof(in), enc);
	CHECK(n == sizeof(enc));
	CHECK(gw_base64_decode(enc, n, back, &m, GW_BASE64_STRICT) == 0);
	CHECK(m == 256 && memcmp(in, back, 256) == 0);
}

TEST(test_padding_and_refusals)
{
	char out[64];

	/* Lenient: padding may be left out. */
	CHECK(dec("Zm8", 0, out) == 2);
	CHECK_STREQ(out, "fo");
	CHECK(dec("dXNlcjpwYXNz", 0, out) == 9);
	CHECK_STREQ(out, "user:pass");
	/* Strict wants it, and canonical bits under it. */
	CHECK(dec("Zm8", GW_BASE64_STRICT, out) == -1);
	CHECK(dec("Zm9=", GW_BASE64_STRICT, out) == -1);
	CHECK(dec("Zm8=", GW_BASE64_STRICT, out) == 2);
	/* Never: bad characters, a lone character, too much padding. */
	CHECK(dec("Zm9v!", 0, out) == -1);
	CHECK(dec("Z", 0, out) == -1);
	CHECK(dec("Zg===", 0, out) == -1);
	CHECK(dec("Zm 9v", 0, out) == -1);
	CHECK(dec("Zg=", 0, out) == -1);
}

int
main(void)
{
	RUN(test_rfc4648_vectors);
	RUN(test_every_byte_round_trips);
	RUN(test_padding_and_refusals);
	return harness_done();
}
