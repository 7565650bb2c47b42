/* SPDX-License-Identifier: MIT */
/*
 * The unit-test harness: TEST() defines a case, RUN() runs it and prints
 * one TAP-like line ("ok - name" / "not ok - name") that tests/run counts,
 * CHECK() reports file:line and the failed expression without stopping the
 * case.  Each test program ends with "return harness_done();".
 */
#ifndef GW_HARNESS_H
#define GW_HARNESS_H

#include <stdio.h>
#include <string.h>

static int harness_failed_checks;
static int harness_failed_cases;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
			    __LINE__, #cond);                                  \
			harness_failed_checks++;                               \
		}                                                              \
	} while (0)

#define CHECK_STREQ(a, b)                                                      \
	do {                                                                   \
		const char *ha_ = (a), *hb_ = (b);                             \
		if (ha_ == NULL || hb_ == NULL || strcmp(ha_, hb_)) {          \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, \
			    __LINE__, ha_ ? ha_ : "(null)",                    \
			    hb_ ? hb_ : "(null)");                             \
			harness_failed_checks++;                               \
		}                                                              \
	} while (0)

#define RUN(name)                                       \
	do {                                            \
		int before_ = harness_failed_checks;    \
		name();                                 \
		if (harness_failed_checks != before_) { \
			harness_failed_cases++;         \
			printf("not ok - %s\n", #name); \
		} else                                  \
			printf("ok - %s\n", #name);     \
		fflush(stdout);                         \
	} while (0)

static inline int
harness_done(void)
{
	return harness_failed_cases ? 1 : 0;
}

#endif
