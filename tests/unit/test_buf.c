/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/buf.c: the hard maximum, appends that fail leaving the
 * buffer as it was, consuming and compacting, printf growth and handing the
 * data out with gw_buf_take().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "harness.h"

/* Does <b> hold exactly the string <s>? */
static int
buf_is(const struct gw_buf *b, const char *s)
{
	size_t n = strlen(s);

	return b->len == n && (n == 0 || memcmp(gw_buf_head(b), s, n) == 0);
}

TEST(test_bounds)
{
	struct gw_buf b;

	gw_buf_init(&b, 8);
	CHECK(gw_buf_add(&b, "12345678", 8) == 0);
	CHECK(buf_is(&b, "12345678"));
	errno = 0;
	CHECK(gw_buf_addc(&b, 'x') == -1 && errno == ENOBUFS);
	CHECK(gw_buf_add(&b, "x", 1) == -1 && errno == ENOBUFS);
	CHECK(gw_buf_reserve(&b, 1) == NULL && errno == ENOBUFS);
	CHECK(gw_buf_avail(&b) == 0);
	CHECK(buf_is(&b, "12345678"));
	/* Never allocated far past what the maximum allows. */
	CHECK(b.cap <= 8);
	gw_buf_fini(&b);
	CHECK(b.data == NULL && b.len == 0);
	gw_buf_fini(NULL);

	/* Reserving nothing on a fresh buffer is not a failure. */
	gw_buf_init(&b, 8);
	CHECK(gw_buf_reserve(&b, 0) != NULL);
	gw_buf_fini(&b);

	/* 0 means no limit. */
	gw_buf_init(&b, 0);
	CHECK(gw_buf_reserve(&b, 100000) != NULL);
	gw_buf_fini(&b);
}

TEST(test_failed_append_unchanged)
{
	struct gw_buf b;
	char *data;
	size_t off, cap;

	gw_buf_init(&b, 10);
	CHECK(gw_buf_adds(&b, "abcdef") == 0);
	gw_buf_consume(&b, 2);
	data = b.data;
	off = b.off;
	cap = b.cap;
	CHECK(gw_buf_add(&b, "1234567", 7) == -1);
	CHECK(gw_buf_printf(&b, "%s", "1234567") == -1);
	CHECK(gw_buf_addu(&b, 12345678ULL) == -1);
	CHECK(gw_buf_addi(&b, -1234567LL) == -1);
	CHECK(buf_is(&b, "cdef"));
	CHECK(b.data == data && b.off == off && b.cap == cap);
	/* What fits still goes in. */
	CHECK(gw_buf_add(&b, "123456", 6) == 0);
	CHECK(buf_is(&b, "cdef123456"));
	gw_buf_fini(&b);
}

TEST(test_consume_compact)
{
	struct gw_buf b;
	char *t;
	int i;

	gw_buf_init(&b, 16);
	CHECK(gw_buf_adds(&b, "0123456789abcdef") == 0);
	gw_buf_consume(&b, 10);
	CHECK(buf_is(&b, "abcdef"));
	/* The consumed room is reused: the data moves to the front. */
	CHECK(gw_buf_adds(&b, "ghijklmnop") == 0);
	CHECK(buf_is(&b, "abcdefghijklmnop"));
	CHECK(b.off == 0);
	gw_buf_consume(&b, 100);
	CHECK(b.len == 0 && b.off == 0);

	/* reserve + commit */
	t = gw_buf_reserve(&b, 4);
	CHECK(t != NULL);
	if (t != NULL) {
		memcpy(t, "wxyz", 4);
		gw_buf_commit(&b, 3);
	}
	CHECK(buf_is(&b, "wxy"));
	gw_buf_reset(&b);
	CHECK(b.len == 0 && b.data != NULL);

	/* Many small appends and consumes stay within the maximum. */
	for (i = 0; i < 1000; i++) {
		CHECK(gw_buf_adds(&b, "abc") == 0);
		gw_buf_consume(&b, 3);
	}
	CHECK(b.len == 0 && b.cap <= 16);
	gw_buf_fini(&b);
}

TEST(test_printf_growth)
{
	struct gw_buf b;
	char big[3000];

	gw_buf_init(&b, 0);
	CHECK(gw_buf_printf(&b, "%s", "") == 0);
	CHECK(b.len == 0);
	CHECK(gw_buf_printf(&b, "%d-%s", 42, "x") == 0);
	CHECK(buf_is(&b, "42-x"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* Past the first allocation: must grow and redo the format. */
	CHECK(gw_buf_printf(&b, "[%s]", big) == 0);
	CHECK(b.len == 4 + 2 + sizeof(big) - 1);
	CHECK(memcmp(gw_buf_head(&b), "42-x[aaa", 8) == 0);
	CHECK(gw_buf_head(&b)[b.len - 1] == ']');
	gw_buf_fini(&b);

	/* Exactly filling the maximum succeeds, as gw_buf_add() does. */
	gw_buf_init(&b, 10);
	CHECK(gw_buf_printf(&b, "%s", "0123456789") == 0);
	CHECK(buf_is(&b, "0123456789"));
	CHECK(gw_buf_printf(&b, "%s", "x") == -1 && errno == ENOBUFS);
	gw_buf_fini(&b);

	gw_buf_init(&b, 10);
	CHECK(gw_buf_adds(&b, "01234") == 0);
	CHECK(gw_buf_printf(&b, "%d", 56789) == 0);
	CHECK(buf_is(&b, "0123456789"));
	gw_buf_fini(&b);
}

TEST(test_numbers)
{
	struct gw_buf b;

	gw_buf_init(&b, 0);
	CHECK(gw_buf_addu(&b, 0) == 0);
	CHECK(gw_buf_addc(&b, ' ') == 0);
	CHECK(gw_buf_addu(&b, 18446744073709551615ULL) == 0);
	CHECK(gw_buf_addc(&b, ' ') == 0);
	CHECK(gw_buf_addi(&b, -9223372036854775807LL - 1) == 0);
	CHECK(gw_buf_addc(&b, ' ') == 0);
	CHECK(gw_buf_addi(&b, 17) == 0);
	CHECK(buf_is(&b, "0 18446744073709551615 -9223372036854775808 17"));
	gw_buf_fini(&b);
}

TEST(test_take)
{
	struct gw_buf b;
	char *s;

	/* Empty buffer: an empty string. */
	gw_buf_init(&b, 0);
	s = gw_buf_take(&b);
	CHECK_STREQ(s, "");
	free(s);

	/* After a consume: the string starts at the unconsumed data. */
	CHECK(gw_buf_adds(&b, "hello world") == 0);
	gw_buf_consume(&b, 6);
	s = gw_buf_take(&b);
	CHECK_STREQ(s, "world");
	CHECK(b.data == NULL && b.len == 0 && b.off == 0);
	free(s);

	/* Full to the maximum: no room for the NUL, still works. */
	gw_buf_init(&b, 5);
	CHECK(gw_buf_adds(&b, "abcde") == 0);
	s = gw_buf_take(&b);
	CHECK_STREQ(s, "abcde");
	CHECK(b.data == NULL && b.len == 0);
	free(s);
	/* The buffer is usable again. */
	CHECK(gw_buf_adds(&b, "xy") == 0);
	CHECK(buf_is(&b, "xy"));
	gw_buf_fini(&b);
}

int
main(void)
{
	RUN(test_bounds);
	RUN(test_failed_append_unchanged);
	RUN(test_consume_compact);
	RUN(test_printf_growth);
	RUN(test_numbers);
	RUN(test_take);
	return harness_done();
}
