// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/json.c: the exact bytes of escapes, what jansson (a
 * strict parser, like every consumer of our events) reads back, UTF-8
 * repair, base64 against RFC 4648's vectors, and the promise that a
 * failed append leaves the buffer exactly as it was.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "harness.h"
#include "json.h"
#include "timeutil.h"

#define FFFD "\xef\xbf\xbd"

/* Returns what gw_json_str() writes for <s>, NUL-terminated (static). */
static const char *
jstr(const char *s, size_t n)
{
	static char out[4096];
	struct gw_buf b;

	gw_buf_init(&b, 0);
	CHECK(gw_json_str(&b, s, n) == 0);
	CHECK(b.len < sizeof(out));
	memcpy(out, gw_buf_head(&b), b.len);
	out[b.len] = '\0';
	gw_buf_fini(&b);
	return out;
}

/* Parses what gw_json_str() writes for <s> and compares with <want>. */
static int
reads_back_as(const char *s, size_t n, const char *want, size_t want_n)
{
	const char *enc = jstr(s, n);
	json_error_t err;
	json_t *j;
	int ok;

	j = json_loads(enc, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (j == NULL) {
		fprintf(stderr, "jansson: %s in %s\n", err.text, enc);
		return 0;
	}
	ok = json_is_string(j) && json_string_length(j) == want_n &&
	    memcmp(json_string_value(j), want, want_n) == 0;
	json_decref(j);
	return ok;
}

static uint64_t
next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

TEST(escapes_exact_bytes)
{
	CHECK_STREQ(jstr("", 0), "\"\"");
	CHECK_STREQ(jstr("plain text", 10), "\"plain text\"");
	CHECK_STREQ(jstr("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	CHECK_STREQ(jstr("\n\r\t\b\f", 5), "\"\\n\\r\\t\\b\\f\"");
	CHECK_STREQ(jstr("\x01\x1f", 2), "\"\\u0001\\u001f\"");
	CHECK_STREQ(jstr("a\0b", 3), "\"a\\u0000b\"");
	/* DEL and '/' need no escape in JSON. */
	CHECK_STREQ(jstr("\x7f/", 2), "\"\x7f/\"");
	CHECK_STREQ(jstr("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14),
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST(control_chars_read_back)
{
	char all[32];
	int i;

	for (i = 0; i < 32; i++)
		all[i] = (char)i;
	CHECK(reads_back_as(all, 32, all, 32));
	CHECK(reads_back_as("say \"hi\"\\", 9, "say \"hi\"\\", 9));
}

TEST(invalid_utf8_becomes_fffd)
{
	/* A stray continuation byte and bytes that never occur. */
	CHECK_STREQ(jstr("a\x80z", 3), "\"a" FFFD "z\"");
	CHECK_STREQ(jstr("\xff\xfe", 2), "\"" FFFD FFFD "\"");
	/* Overlong forms: "/" as two bytes, NUL as two bytes. */
	CHECK_STREQ(jstr("\xc0\xaf", 2), "\"" FFFD FFFD "\"");
	CHECK_STREQ(jstr("\xc0\x80", 2), "\"" FFFD FFFD "\"");
	CHECK_STREQ(jstr("\xe0\x80\xaf", 3), "\"" FFFD FFFD FFFD "\"");
	/* A UTF-16 surrogate, and a code point past U+10FFFF. */
	CHECK_STREQ(jstr("\xed\xa0\x80", 3), "\"" FFFD FFFD FFFD "\"");
	CHECK_STREQ(jstr("\xf4\x90\x80\x80", 4), "\"" FFFD FFFD FFFD FFFD "\"");
	/* A sequence cut short, at the end and in the middle. */
	CHECK_STREQ(jstr("x\xe2\x82", 3), "\"x" FFFD FFFD "\"");
	CHECK_STREQ(jstr("\xe2\x82x", 3), "\"" FFFD FFFD "x\"");
	/* The largest code point and the last before the surrogates pass. */
	CHECK_STREQ(jstr("\xf4\x8f\xbf\xbf\xed\x9f\xbf", 7),
	    "\"\xf4\x8f\xbf\xbf\xed\x9f\xbf\"");
	CHECK(reads_back_as("a\xff", 2, "a" FFFD, 4));
}

/* Whatever the bytes, the output is one string jansson accepts. */
TEST(random_bytes_always_parse)
{
	static const unsigned char pick[] = { 'a', 'Z', ' ', '"', '\\', 0, '\n',
		0x1f, 0x7f, 0x80, 0xbf, 0xc2, 0xc3, 0xe0, 0xe2, 0xed, 0xef,
		0xf0, 0xf4, 0xf5, 0xff, 0xa9, 0x82, 0x9f };
	char in[64];
	uint64_t x = 7;
	size_t n, i;
	int round, bad = 0;
	json_error_t err;
	json_t *j;

	for (round = 0; round < 20000; round++) {
		n = next_rand(&x) % sizeof(in);
		for (i = 0; i < n; i++)
			in[i] = (char)pick[next_rand(&x) % sizeof(pick)];
		j = json_loads(
		    jstr(in, n), JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
		if (j == NULL || !json_is_string(j)) {
			bad++;
			continue;
		}
		/* Valid input comes back byte for byte. */
		if (gw_utf8_valid(in, n) &&
		    (json_string_length(j) != n ||
		        memcmp(json_string_value(j), in, n) != 0))
			bad++;
		json_decref(j);
	}
	CHECK(bad == 0);
}

TEST(utf8_valid)
{
	CHECK(gw_utf8_valid("", 0));
	CHECK(gw_utf8_valid("hello", 5));
	CHECK(gw_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	CHECK(!gw_utf8_valid("a\0b", 3));
	CHECK(!gw_utf8_valid("\xc3", 1));
	CHECK(!gw_utf8_valid("\xc0\xaf", 2));
	CHECK(!gw_utf8_valid("\xed\xa0\x80", 3));
	CHECK(!gw_utf8_valid("\xf4\x90\x80\x80", 4));
	CHECK(!gw_utf8_valid("\xff", 1));
	/* Control characters are valid text; JSON escapes them. */
	CHECK(gw_utf8_valid("\x01\n", 2));
}

/* The edges of Unicode's table 3-7, each side. */
TEST(utf8_seq)
{
	static const struct {
		const char *s;
		size_t n, want;
	} rows[] = {
		{ "\0", 1, 1 },
		{ "\x7f", 1, 1 },
		{ "\x80", 1, 0 },             /* a lone continuation byte */
		{ "\xc1\xbf", 2, 0 },         /* overlong */
		{ "\xc2\x80", 2, 2 },         /* U+0080 */
		{ "\xdf\xbf", 2, 2 },         /* U+07FF */
		{ "\xc3\x28", 2, 0 },         /* not a continuation */
		{ "\xc3\xa9", 1, 0 },         /* cut short by <end> */
		{ "\xe0\x9f\xbf", 3, 0 },     /* overlong */
		{ "\xe0\xa0\x80", 3, 3 },     /* U+0800 */
		{ "\xed\x9f\xbf", 3, 3 },     /* U+D7FF */
		{ "\xed\xa0\x80", 3, 0 },     /* U+D800, a surrogate */
		{ "\xef\xbf\xbf", 3, 3 },     /* U+FFFF */
		{ "\xe2\x82\x28", 3, 0 },     /* bad third byte */
		{ "\xf0\x8f\xbf\xbf", 4, 0 }, /* overlong */
		{ "\xf0\x90\x80\x80", 4, 4 }, /* U+10000 */
		{ "\xf4\x8f\xbf\xbf", 4, 4 }, /* U+10FFFF */
		{ "\xf4\x90\x80\x80", 4, 0 }, /* past U+10FFFF */
		{ "\xf0\x9f\x98\x80", 3, 0 }, /* cut short by <end> */
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xff", 1, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t got = gw_utf8_seq(rows[i].s, rows[i].s + rows[i].n);

		if (got != rows[i].want)
			fprintf(stderr, "row %zu: %zu, want %zu\n", i, got,
			    rows[i].want);
		CHECK(got == rows[i].want);
	}
}

TEST(utf8_cut)
{
	/* "aé€😀" = 1 + 2 + 3 + 4 bytes */
	const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";

	CHECK(gw_utf8_cut(s, 10, 20) == 10);
	CHECK(gw_utf8_cut(s, 10, 10) == 10);
	CHECK(gw_utf8_cut(s, 10, 9) == 6);
	CHECK(gw_utf8_cut(s, 10, 8) == 6);
	CHECK(gw_utf8_cut(s, 10, 7) == 6);
	CHECK(gw_utf8_cut(s, 10, 6) == 6);
	CHECK(gw_utf8_cut(s, 10, 5) == 3);
	CHECK(gw_utf8_cut(s, 10, 4) == 3);
	CHECK(gw_utf8_cut(s, 10, 2) == 1);
	CHECK(gw_utf8_cut(s, 10, 1) == 1);
	CHECK(gw_utf8_cut(s, 10, 0) == 0);
	/* Invalid bytes may be cut anywhere: they print as U+FFFD anyway. */
	CHECK(gw_utf8_cut("\x80\x80\x80\x80\x80", 5, 3) == 3);
}

TEST(scalars)
{
	struct gw_buf b;

	gw_buf_init(&b, 0);
	CHECK(gw_json_key(&b, "a", 1) == 0);
	CHECK(gw_json_u64(&b, UINT64_MAX) == 0);
	CHECK(gw_json_key(&b, "b", 0) == 0);
	CHECK(gw_json_i64(&b, INT64_MIN) == 0);
	CHECK(gw_json_key(&b, "c", 0) == 0);
	CHECK(gw_json_bool(&b, 1) == 0);
	CHECK(gw_buf_addc(&b, ',') == 0);
	CHECK(gw_json_bool(&b, 0) == 0);
	CHECK(gw_json_key(&b, "d", 0) == 0);
	CHECK(gw_json_cstr(&b, NULL) == 0);
	CHECK(gw_json_key(&b, "e", 0) == 0);
	CHECK(gw_json_ts(&b, 0) == 0);
	CHECK(gw_json_key(&b, "f", 0) == 0);
	CHECK(gw_json_ts(&b, 1795536526123456789ULL) == 0);
	CHECK(gw_buf_addc(&b, '\0') == 0);
	CHECK_STREQ(gw_buf_head(&b),
	    "\"a\":18446744073709551615,\"b\":-9223372036854775808,"
	    "\"c\":true,false,\"d\":null,\"e\":null,"
	    "\"f\":\"2026-11-24T16:08:46.123456Z\"");
	gw_buf_fini(&b);
}

TEST(base64_rfc4648_vectors)
{
	static const char *const want[] = { "\"\"", "\"Zg==\"", "\"Zm8=\"",
		"\"Zm9v\"", "\"Zm9vYg==\"", "\"Zm9vYmE=\"", "\"Zm9vYmFy\"" };
	struct gw_buf b;
	size_t n;

	gw_buf_init(&b, 0);
	for (n = 0; n <= 6; n++) {
		gw_buf_reset(&b);
		CHECK(gw_json_base64(&b, "foobar", n) == 0);
		CHECK(gw_buf_addc(&b, '\0') == 0);
		CHECK_STREQ(gw_buf_head(&b), want[n]);
	}
	gw_buf_reset(&b);
	CHECK(gw_json_base64(&b, "\x00\x01\xfe\xff", 4) == 0);
	CHECK(gw_buf_addc(&b, '\0') == 0);
	CHECK_STREQ(gw_buf_head(&b), "\"AAH+/w==\"");
	gw_buf_fini(&b);
}

/*
 * Runs <write> into a buffer holding a prefix and capped at every size
 * from the prefix up to what the write needs: every attempt that does not
 * fit must fail with ENOBUFS and leave the bytes exactly as they were.
 */
static int
all_or_nothing(int (*write)(struct gw_buf *))
{
	static const char prefix[] = "prefix:";
	struct gw_buf b;
	size_t need, max;
	int bad = 0;

	gw_buf_init(&b, 0);
	if (gw_buf_adds(&b, prefix) == -1 || write(&b) == -1)
		return 0;
	need = b.len;
	gw_buf_fini(&b);
	for (max = sizeof(prefix) - 1; max <= need; max++) {
		gw_buf_init(&b, max);
		/* Consumed bytes at the front make the buffer compact. */
		CHECK(gw_buf_adds(&b, "xx") == 0);
		gw_buf_consume(&b, 2);
		CHECK(gw_buf_adds(&b, prefix) == 0);
		errno = 0;
		if (max < need) {
			if (write(&b) != -1 || errno != ENOBUFS ||
			    b.len != sizeof(prefix) - 1 ||
			    memcmp(gw_buf_head(&b), prefix, b.len) != 0)
				bad++;
		} else if (write(&b) != 0 || b.len != need)
			bad++;
		gw_buf_fini(&b);
	}
	return bad == 0;
}

/* Runs of plain bytes between every kind of escape and repair. */
static const char mixed[] = "run\"of\\\x01 text\xff\xc3\xa9\n";

static int
w_str(struct gw_buf *b)
{
	return gw_json_str(b, mixed, sizeof(mixed) - 1);
}

static int
w_escape(struct gw_buf *b)
{
	return gw_json_escape(b, mixed, sizeof(mixed) - 1);
}

static int
w_cstr(struct gw_buf *b)
{
	return gw_json_cstr(b, "some \"string\"");
}

static int
w_null(struct gw_buf *b)
{
	return gw_json_cstr(b, NULL);
}

static int
w_key(struct gw_buf *b)
{
	return gw_json_key(b, "status_code", 0);
}

static int
w_key_first(struct gw_buf *b)
{
	return gw_json_key(b, "status_code", 1);
}

static int
w_u64(struct gw_buf *b)
{
	return gw_json_u64(b, 1234567890123ULL);
}

static int
w_i64(struct gw_buf *b)
{
	return gw_json_i64(b, -1234567);
}

static int
w_bool(struct gw_buf *b)
{
	return gw_json_bool(b, 0);
}

static int
w_ts(struct gw_buf *b)
{
	return gw_json_ts(b, 1795536526123456789ULL);
}

static int
w_base64(struct gw_buf *b)
{
	return gw_json_base64(b, "\x00\x01\x02\x03\x04", 5);
}

TEST(full_buffer_leaves_buffer_unchanged)
{
	CHECK(all_or_nothing(w_str));
	CHECK(all_or_nothing(w_escape));
	CHECK(all_or_nothing(w_cstr));
	CHECK(all_or_nothing(w_null));
	CHECK(all_or_nothing(w_key));
	CHECK(all_or_nothing(w_key_first));
	CHECK(all_or_nothing(w_u64));
	CHECK(all_or_nothing(w_i64));
	CHECK(all_or_nothing(w_bool));
	CHECK(all_or_nothing(w_ts));
	CHECK(all_or_nothing(w_base64));
}

TEST(long_string)
{
	struct gw_buf b;
	char *s;
	size_t i, n = 100000;

	s = malloc(n);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	for (i = 0; i < n; i++)
		s[i] = i % 1000 == 999 ? '\n' : 'a' + (char)(i % 26);
	gw_buf_init(&b, 0);
	CHECK(gw_json_str(&b, s, n) == 0);
	CHECK(b.len == n + 2 + n / 1000);
	gw_buf_fini(&b);
	free(s);
}

int
main(void)
{
	RUN(escapes_exact_bytes);
	RUN(control_chars_read_back);
	RUN(invalid_utf8_becomes_fffd);
	RUN(random_bytes_always_parse);
	RUN(utf8_valid);
	RUN(utf8_seq);
	RUN(utf8_cut);
	RUN(scalars);
	RUN(base64_rfc4648_vectors);
	RUN(full_buffer_leaves_buffer_unchanged);
	RUN(long_string);
	return harness_done();
}
