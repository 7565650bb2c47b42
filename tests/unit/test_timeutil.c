// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/timeutil.c: RFC 3339 formatting against gmtime_r(3)
 * and back through the parser, the parser's refusals, and the duration
 * and size strings users type on command lines and in configs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "timeutil.h"

#define SEC 1000000000ULL

static const char *
fmt(uint64_t ns)
{
	static char buf[GW_RFC3339_LEN];

	memset(buf, 'x', sizeof(buf));
	CHECK(gw_rfc3339(ns, buf) == 27);
	CHECK(buf[27] == '\0');
	return buf;
}

static uint64_t
parse(const char *s)
{
	uint64_t ns = 12345;

	if (gw_parse_rfc3339(s, &ns) == -1) {
		fprintf(stderr, "parse failed: %s\n", s);
		harness_failed_checks++;
		return 0;
	}
	return ns;
}

static int
parse_fails(const char *s)
{
	uint64_t ns = 0;

	errno = 0;
	return gw_parse_rfc3339(s, &ns) == -1 && errno == EINVAL;
}

static uint64_t
dur(const char *s)
{
	uint64_t ns = 0;

	if (gw_parse_duration(s, &ns) == -1) {
		fprintf(stderr, "duration failed: %s\n", s);
		harness_failed_checks++;
	}
	return ns;
}

static int
dur_errno(const char *s)
{
	uint64_t ns = 0;

	errno = 0;
	return gw_parse_duration(s, &ns) == -1 ? errno : 0;
}

static uint64_t
size(const char *s)
{
	uint64_t n = 0;

	if (gw_parse_size(s, &n) == -1) {
		fprintf(stderr, "size failed: %s\n", s);
		harness_failed_checks++;
	}
	return n;
}

static int
size_errno(const char *s)
{
	uint64_t n = 0;

	errno = 0;
	return gw_parse_size(s, &n) == -1 ? errno : 0;
}

/* Small deterministic generator so failures reproduce. */
static uint64_t
next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

TEST(rfc3339_known_values)
{
	CHECK_STREQ(fmt(0), "1970-01-01T00:00:00.000000Z");
	CHECK_STREQ(fmt(1795536526123456789ULL), "2026-11-24T16:08:46.123456Z");
	CHECK_STREQ(
	    fmt(1709251199 * SEC + 999999999), "2024-02-29T23:59:59.999999Z");
	CHECK_STREQ(fmt(946684800 * SEC + 1000), "2000-01-01T00:00:00.000001Z");
	CHECK_STREQ(fmt(4107587696 * SEC), "2100-03-01T12:34:56.000000Z");
	CHECK_STREQ(fmt(UINT64_MAX), "2554-07-21T23:34:33.709551Z");
}

/*
 * The cache keys on the second: values that share a cache slot, or that
 * come back after other seconds, must still print their own date.
 */
TEST(rfc3339_cache_does_not_leak_between_seconds)
{
	uint64_t t = 1795536526 * SEC;

	CHECK_STREQ(fmt(t), "2026-11-24T16:08:46.000000Z");
	CHECK_STREQ(fmt(t + 4 * SEC), "2026-11-24T16:08:50.000000Z");
	CHECK_STREQ(
	    fmt(t + 4 * SEC + 86400 * 4 * SEC), "2026-11-28T16:08:50.000000Z");
	CHECK_STREQ(fmt(t + 500), "2026-11-24T16:08:46.000000Z");
	CHECK_STREQ(fmt(t + 1 * SEC + 7000), "2026-11-24T16:08:47.000007Z");
	CHECK_STREQ(fmt(t), "2026-11-24T16:08:46.000000Z");
}

TEST(rfc3339_matches_gmtime)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL, ns;
	char want[64];
	struct tm tm;
	time_t sec;
	int i, bad = 0;

	for (i = 0; i < 200000 && bad < 5; i++) {
		/* Up to year ~2500, with a bias towards nearby seconds. */
		ns = next_rand(&x) % (16725225600ULL * SEC);
		if (i % 2)
			ns = 1795536526 * SEC + next_rand(&x) % (100 * SEC);
		sec = (time_t)(ns / SEC);
		gmtime_r(&sec, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want + 19, sizeof(want) - 19, ".%06uZ",
		    (unsigned)(ns % SEC / 1000));
		if (strcmp(fmt(ns), want) != 0) {
			fprintf(stderr, "%llu: %s != %s\n",
			    (unsigned long long)ns, fmt(ns), want);
			bad++;
		}
	}
	CHECK(bad == 0);
}

TEST(rfc3339_round_trip)
{
	uint64_t x = 42, ns;
	int i, bad = 0;

	for (i = 0; i < 100000; i++) {
		ns = next_rand(&x) % (16725225600ULL * SEC);
		if (parse(fmt(ns)) != ns / 1000 * 1000)
			bad++;
	}
	CHECK(bad == 0);
	ns = gw_now_ns();
	CHECK(parse(fmt(ns)) == ns / 1000 * 1000);
}

TEST(rfc3339_parse_forms)
{
	uint64_t t = 1795536526 * SEC;

	CHECK(parse("2026-11-24T16:08:46Z") == t);
	CHECK(parse("2026-11-24t16:08:46z") == t);
	CHECK(parse("2026-11-24 16:08:46Z") == t);
	CHECK(parse("2026-11-24T16:08:46.5Z") == t + 500000000);
	CHECK(parse("2026-11-24T16:08:46.123456789Z") == t + 123456789);
	/* Digits past the nanosecond are dropped, not rounded. */
	CHECK(parse("2026-11-24T16:08:46.1234567899Z") == t + 123456789);
	CHECK(parse("2026-11-24T18:08:46+02:00") == t);
	CHECK(parse("2026-11-24T10:38:46-05:30") == t);
	CHECK(parse("2026-11-24T16:08:46+00:00") == t);
	CHECK(parse("2026-11-24T16:08:46-00:00") == t);
	CHECK(parse("1970-01-01T00:00:00Z") == 0);
	CHECK(parse("2024-02-29T00:00:00Z") == 1709164800 * SEC);
	CHECK(parse("2000-02-29T00:00:00Z") == 951782400 * SEC);
	/* A leap second reads as the first second of the next minute. */
	CHECK(parse("2016-12-31T23:59:60Z") == 1483228800 * SEC);
}

TEST(rfc3339_parse_refusals)
{
	CHECK(parse_fails(""));
	CHECK(parse_fails("2026"));
	CHECK(parse_fails("2026-11-24"));
	CHECK(parse_fails("2026-11-24T16:08:46"));
	CHECK(parse_fails("2026-11-24T16:08:46ZZ"));
	CHECK(parse_fails("2026-11-24T16:08:46Z "));
	CHECK(parse_fails(" 2026-11-24T16:08:46Z"));
	CHECK(parse_fails("2026-11-24T16:08:46.Z"));
	CHECK(parse_fails("2026-11-24T16:08Z"));
	CHECK(parse_fails("2026-13-24T16:08:46Z"));
	CHECK(parse_fails("2026-00-24T16:08:46Z"));
	CHECK(parse_fails("2026-11-31T16:08:46Z"));
	CHECK(parse_fails("2023-02-29T16:08:46Z"));
	CHECK(parse_fails("1900-02-29T16:08:46Z"));
	CHECK(parse_fails("2026-11-24T24:00:00Z"));
	CHECK(parse_fails("2026-11-24T16:60:46Z"));
	CHECK(parse_fails("2026-11-24T16:08:61Z"));
	CHECK(parse_fails("2026-11-24T16:08:46+0200"));
	CHECK(parse_fails("2026-11-24T16:08:46+24:00"));
	CHECK(parse_fails("2026-1-24T16:08:46Z"));
	CHECK(parse_fails("26-11-24T16:08:46Z"));
	/* Before the epoch, and past what 64 bits of ns can hold. */
	CHECK(parse_fails("1969-12-31T23:59:59Z"));
	CHECK(parse_fails("1970-01-01T00:30:00+01:00"));
	CHECK(parse_fails("2600-01-01T00:00:00Z"));
}

TEST(clocks)
{
	uint64_t a, b;

	/* After 2020-01-01: the realtime clock is in ns, not s or µs. */
	CHECK(gw_now_ns() > 1577836800 * SEC);
	a = gw_mono_ns();
	b = gw_mono_ns();
	CHECK(b >= a);
}

TEST(durations)
{
	CHECK(dur("1h30m") == 5400 * SEC);
	CHECK(dur("500ms") == 500000000);
	CHECK(dur("90d") == 90 * 86400 * SEC);
	CHECK(dur("30") == 30 * SEC);
	CHECK(dur("0") == 0);
	CHECK(dur("1s") == SEC);
	CHECK(dur("1m") == 60 * SEC);
	CHECK(dur("10ns") == 10);
	CHECK(dur("250us") == 250000);
	CHECK(dur("250\xc2\xb5s") == 250000);
	CHECK(dur("1d2h3m4s5ms6us7ns") ==
	    86400 * SEC + 7200 * SEC + 180 * SEC + 4 * SEC + 5000000 + 6000 +
	        7);
	CHECK(dur("1.5h") == 5400 * SEC);
	CHECK(dur("0.25s") == 250000000);
	CHECK(dur("1.5") == 1500000000);
	CHECK(dur("2m2m") == 240 * SEC);
	/* Largest that fits: about 213503 days. */
	CHECK(dur("213503d") == 213503ULL * 86400 * SEC);
}

TEST(duration_refusals)
{
	CHECK(dur_errno("") == EINVAL);
	CHECK(dur_errno("h") == EINVAL);
	CHECK(dur_errno("1h30") == EINVAL);
	CHECK(dur_errno("-1s") == EINVAL);
	CHECK(dur_errno("+1s") == EINVAL);
	CHECK(dur_errno("1x") == EINVAL);
	CHECK(dur_errno("1hr") == EINVAL);
	CHECK(dur_errno("5mins") == EINVAL);
	CHECK(dur_errno("1 h") == EINVAL);
	CHECK(dur_errno(" 1h") == EINVAL);
	CHECK(dur_errno("1h ") == EINVAL);
	CHECK(dur_errno("1.h") == EINVAL);
	CHECK(dur_errno(".5h") == EINVAL);
	CHECK(dur_errno("1H") == EINVAL);
	CHECK(dur_errno("213504d") == ERANGE);
	CHECK(dur_errno("99999999999999999999999s") == ERANGE);
	CHECK(dur_errno("200000d200000d") == ERANGE);
}

/* --since and --until: an age back from "now", or an RFC 3339 time. */
TEST(when)
{
	const uint64_t now = 1764000000 * SEC + 123456789; /* 2025-11-24 */
	int64_t us = 42;

	CHECK(gw_parse_when("1h", now, &us) == 0 &&
	    us == (int64_t)((now - 3600 * SEC) / 1000));
	CHECK(gw_parse_when("0", now, &us) == 0 && us == (int64_t)(now / 1000));
	CHECK(gw_parse_when("1d12h", now, &us) == 0 &&
	    us == (int64_t)((now - 36 * 3600 * SEC) / 1000));
	CHECK(gw_parse_when("2026-11-24T16:08:46.123456Z", now, &us) == 0 &&
	    us == 1795536526123456);
	CHECK(gw_parse_when("2026-11-24T18:08:46+02:00", now, &us) == 0 &&
	    us == 1795536526000000);
	us = 42;
	errno = 0;
	CHECK(gw_parse_when("yesterday", now, &us) == -1 && errno == EINVAL);
	CHECK(gw_parse_when("", now, &us) == -1 && errno == EINVAL);
	CHECK(gw_parse_when("-1h", now, &us) == -1 && us == 42);
}

TEST(sizes)
{
	CHECK(size("512") == 512);
	CHECK(size("0") == 0);
	CHECK(size("10K") == 10240);
	CHECK(size("10k") == 10240);
	CHECK(size("10KB") == 10240);
	CHECK(size("10kb") == 10240);
	CHECK(size("10KiB") == 10240);
	CHECK(size("1M") == 1048576);
	CHECK(size("1MiB") == 1048576);
	CHECK(size("64MB") == 64ULL << 20);
	CHECK(size("1G") == 1ULL << 30);
	CHECK(size("1GiB") == 1ULL << 30);
	CHECK(size("2T") == 2ULL << 40);
	CHECK(size("1.5M") == 1572864);
	CHECK(size("100B") == 100);
	CHECK(size_errno("") == EINVAL);
	CHECK(size_errno("K") == EINVAL);
	CHECK(size_errno("10Ki") == EINVAL);
	CHECK(size_errno("10 K") == EINVAL);
	CHECK(size_errno("10X") == EINVAL);
	CHECK(size_errno("10KBB") == EINVAL);
	CHECK(size_errno("-1") == EINVAL);
	CHECK(size_errno("16777216T") == ERANGE);
	CHECK(size_errno("18446744073709551616") == ERANGE);
	CHECK(size("18446744073709551615") == UINT64_MAX);
}

int
main(void)
{
	RUN(rfc3339_known_values);
	RUN(rfc3339_cache_does_not_leak_between_seconds);
	RUN(rfc3339_matches_gmtime);
	RUN(rfc3339_round_trip);
	RUN(rfc3339_parse_forms);
	RUN(rfc3339_parse_refusals);
	RUN(clocks);
	RUN(durations);
	RUN(duration_refusals);
	RUN(when);
	RUN(sizes);
	return harness_done();
}
