// SPDX-License-Identifier: MIT
/*
 * Unit tests of gw-replay's --expect and --rate (gw-replay/spec.c): which
 * statuses meet an expectation, the default "!5xx", "same", negation,
 * lists, and what is refused; rates per second, minute, hour and per
 * duration, and bad rates.
 */
#include <stdint.h>
#include <string.h>

#include "../../gw-replay/gw-replay.h"
#include "harness.h"

static int
parse(struct expect *x, const char *s)
{
	struct gw_error err;

	memset(x, 0, sizeof(*x));
	memset(&err, 0, sizeof(err));
	return expect_parse(x, s, &err);
}

TEST(expect_default_not_5xx)
{
	struct expect x;

	CHECK(parse(&x, "!5xx") == 0);
	CHECK(expect_met(&x, 200, 429));
	CHECK(expect_met(&x, 429, 429));
	CHECK(expect_met(&x, 301, 0));
	CHECK(!expect_met(&x, 500, 200));
	CHECK(!expect_met(&x, 503, 200));
	/* No answer never meets an expectation. */
	CHECK(!expect_met(&x, 0, 200));
	CHECK_STREQ(x.text, "!5xx");
}

TEST(expect_classes_statuses_lists)
{
	struct expect x;

	CHECK(parse(&x, "2xx") == 0);
	CHECK(expect_met(&x, 200, 0) && expect_met(&x, 299, 0));
	CHECK(!expect_met(&x, 300, 0) && !expect_met(&x, 199, 0));
	CHECK(parse(&x, "2xx,404, 3XX") == 0);
	CHECK(expect_met(&x, 404, 0) && expect_met(&x, 302, 0));
	CHECK(!expect_met(&x, 403, 0));
	CHECK(parse(&x, "2xx,!204") == 0);
	CHECK(expect_met(&x, 200, 0) && !expect_met(&x, 204, 0));
	/* Repeated --expect: the items add up, and so does the text. */
	CHECK(parse(&x, "200") == 0);
	CHECK(expect_parse(&x, "201", NULL) == 0);
	CHECK(expect_met(&x, 201, 0) && !expect_met(&x, 202, 0));
	CHECK_STREQ(x.text, "200,201");
}

TEST(expect_same)
{
	struct expect x;

	CHECK(parse(&x, "same") == 0);
	CHECK(expect_met(&x, 429, 429));
	CHECK(!expect_met(&x, 200, 429));
	CHECK(!expect_met(&x, 200, 0));
	CHECK(parse(&x, "!same") == 0);
	CHECK(!expect_met(&x, 429, 429) && expect_met(&x, 200, 429));
}

TEST(expect_refused)
{
	struct expect x;

	CHECK(parse(&x, "") == -1);
	CHECK(parse(&x, "2xy") == -1);
	CHECK(parse(&x, "600") == -1);
	CHECK(parse(&x, "6xx") == -1);
	CHECK(parse(&x, "20") == -1);
	CHECK(parse(&x, "2xx,") == -1);
	CHECK(parse(&x, "ok") == -1);
}

static uint64_t
rate(const char *s)
{
	uint64_t ns = 0;

	return rate_parse(s, &ns, NULL) == 0 ? ns : 0;
}

TEST(rates)
{
	CHECK(rate("10/s") == 100000000ull);
	CHECK(rate("10") == 100000000ull);
	CHECK(rate("600/m") == 100000000ull);
	CHECK(rate("60/min") == 1000000000ull);
	CHECK(rate("3600/h") == 1000000000ull);
	CHECK(rate("2/5s") == 2500000000ull);
	CHECK(rate("1/500ms") == 500000000ull);
	CHECK(rate("0.5/s") == 2000000000ull);
	CHECK(rate("1000000/s") == 1000ull);
	CHECK(rate("0/s") == 0);
	CHECK(rate("-1/s") == 0);
	CHECK(rate("fast") == 0);
	CHECK(rate("10/") == 0);
	CHECK(rate("10/x") == 0);
	CHECK(rate("/s") == 0);
	CHECK(rate("10/0s") == 0);
	CHECK(rate("nan/s") == 0);
	CHECK(rate("1e300/s") == 0);
}

int
main(void)
{
	RUN(expect_default_not_5xx);
	RUN(expect_classes_statuses_lists);
	RUN(expect_same);
	RUN(expect_refused);
	RUN(rates);
	return harness_done();
}
