// SPDX-License-Identifier: MIT
/*
 * Unit tests of gw-policy's rate-limit buckets: the sliding window's
 * arithmetic, Retry-After, separate limiters and keys, long keys, and the
 * bound on memory when keys keep coming.
 */
#include <stdio.h>
#include <string.h>

#include "../../gw-policy/ratelimit.h"
#include "harness.h"

#define S   1000000000ULL
#define MIN (60 * S)

static int
hit(struct rl_table *t, const char *key, uint64_t cap, uint64_t now,
    struct rl_result *r)
{
	rl_hit(t, 7, key, strlen(key), cap, MIN, now, r);
	return !r->limited;
}

TEST(capacity_within_one_window)
{
	struct rl_table *t = rl_new(100);
	struct rl_result r;
	uint64_t now = 1000 * MIN + 5 * S;
	int i, ok = 0;

	for (i = 0; i < 10; i++)
		ok += hit(t, "1.2.3.4", 5, now + (uint64_t)i, &r);
	CHECK(ok == 5);
	CHECK(r.limited);
	CHECK(r.remaining == 0);
	/* Nothing from a previous window: wait for this one to end. */
	CHECK(r.retry_after_s == 55);
	CHECK(r.reset_s == 55);
	rl_free(t);
}

TEST(remaining_counts_down)
{
	struct rl_table *t = rl_new(100);
	struct rl_result r;
	uint64_t now = 2000 * MIN;

	CHECK(hit(t, "k", 3, now, &r) && r.remaining == 2);
	CHECK(hit(t, "k", 3, now, &r) && r.remaining == 1);
	CHECK(hit(t, "k", 3, now, &r) && r.remaining == 0);
	CHECK(!hit(t, "k", 3, now, &r));
	rl_free(t);
}

TEST(previous_window_weighs_in)
{
	struct rl_table *t = rl_new(100);
	struct rl_result r;
	uint64_t w0 = 3000 * MIN;
	int i, ok = 0;

	for (i = 0; i < 10; i++)
		ok += hit(t, "k", 10, w0 + S, &r);
	CHECK(ok == 10);
	/* A quarter into the next window, 3/4 of the 10 still count. */
	ok = 0;
	for (i = 0; i < 10; i++)
		ok += hit(t, "k", 10, w0 + MIN + 15 * S, &r);
	CHECK(ok == 3);
	CHECK(r.limited);
	/* 3 + 10·(60−t)/60 stays ≥ 10 until t passes 18 s: 3 s more. */
	CHECK(r.retry_after_s >= 3 && r.retry_after_s <= 4);
	/* Two windows later the old counts are gone. */
	CHECK(hit(t, "k", 10, w0 + 3 * MIN, &r));
	CHECK(r.remaining == 9);
	rl_free(t);
}

TEST(keys_and_limiters_are_separate)
{
	struct rl_table *t = rl_new(100);
	struct rl_result r;
	uint64_t now = 4000 * MIN;

	CHECK(hit(t, "a", 1, now, &r));
	CHECK(!hit(t, "a", 1, now, &r));
	CHECK(hit(t, "b", 1, now, &r));
	rl_hit(t, 8, "a", 1, 1, MIN, now, &r);
	CHECK(!r.limited);
	CHECK(rl_size(t) == 3);
	rl_free(t);
}

TEST(long_keys)
{
	struct rl_table *t = rl_new(100);
	struct rl_result r;
	char a[300], b[300];
	uint64_t now = 5000 * MIN;

	memset(a, 'x', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[299] = 'y';
	rl_hit(t, 1, a, sizeof(a), 1, MIN, now, &r);
	CHECK(!r.limited);
	rl_hit(t, 1, a, sizeof(a), 1, MIN, now, &r);
	CHECK(r.limited);
	rl_hit(t, 1, b, sizeof(b), 1, MIN, now, &r);
	CHECK(!r.limited);
	rl_free(t);
}

TEST(a_million_keys_stay_under_the_bound)
{
	struct rl_table *t = rl_new(10000);
	struct rl_result r;
	char key[32];
	uint64_t now = 6000 * MIN;
	int i, n;

	for (i = 0; i < 1000000; i++) {
		n = snprintf(key, sizeof(key), "10.%d.%d.%d", i >> 16,
		    (i >> 8) & 255, i & 255);
		rl_hit(t, 1, key, (size_t)n, 5, MIN, now, &r);
	}
	CHECK(rl_size(t) == 10000);
	CHECK(rl_evictions(t) == 1000000 - 10000);
	/* The most recent keys are still tracked, the oldest forgotten. */
	n = snprintf(key, sizeof(key), "10.%d.%d.%d", 999999 >> 16,
	    (999999 >> 8) & 255, 999999 & 255);
	rl_hit(t, 1, key, (size_t)n, 1, MIN, now, &r);
	CHECK(r.limited);
	rl_hit(t, 1, "10.0.0.0", 8, 1, MIN, now, &r);
	CHECK(!r.limited);
	rl_free(t);
}

int
main(void)
{
	RUN(capacity_within_one_window);
	RUN(remaining_counts_down);
	RUN(previous_window_weighs_in);
	RUN(keys_and_limiters_are_separate);
	RUN(long_keys);
	RUN(a_million_keys_stay_under_the_bound);
	return harness_done();
}
