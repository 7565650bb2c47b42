/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/ndjson.c.  Reading: lines split across feeds, "\r"
 * kept, an over-long line skipped and reported once with its number while
 * the next line comes out intact, an unterminated last line handed out as
 * partial, and memory that never passes max_line plus one chunk.  Writing:
 * a full queue drops whole lines only, a slow non-blocking reader gets
 * every byte in order, a reader that went away gives EPIPE and drops, and
 * a blocking fd is written in full.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ndjson.h"

/* Is the line <p>/<n> the string <s>? */
static int
line_is(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && (n == 0 || memcmp(p, s, n) == 0);
}

/* Feeds the string <s>. */
static int
feed(struct gw_lines *l, const char *s)
{
	return gw_lines_feed(l, s, strlen(s));
}

TEST(test_lines_split)
{
	struct gw_lines l;
	const char *p;
	size_t n;

	CHECK(gw_lines_init(&l, 100) == 0);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_AGAIN);
	CHECK(feed(&l, "{\"a\":1}\n{\"b\"") == 0);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_OK);
	CHECK(line_is(p, n, "{\"a\":1}") && l.lineno == 1);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_AGAIN);
	CHECK(feed(&l, ":2}\r\n\n{\"c\":3}\n") == 0);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_OK);
	/* "\r" is the caller's business. */
	CHECK(line_is(p, n, "{\"b\":2}\r") && l.lineno == 2);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_OK);
	CHECK(n == 0 && l.lineno == 3);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_OK);
	CHECK(line_is(p, n, "{\"c\":3}") && l.lineno == 4);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_AGAIN);
	gw_lines_end(&l);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_EOF);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_EOF);
	CHECK(l.n_too_long == 0 && l.n_partial == 0);
	gw_lines_fini(&l);
	gw_lines_fini(NULL);

	errno = 0;
	CHECK(gw_lines_init(&l, 0) == -1 && errno == EINVAL);
}

TEST(test_lines_bytewise)
{
	static const char text[] = "one\ntwo\r\n\nfour\nfive";
	static const char *const want[] = { "one", "two\r", "", "four" };
	struct gw_lines l;
	enum gw_line_status st;
	const char *p;
	size_t i, n, got = 0;

	CHECK(gw_lines_init(&l, 8) == 0);
	for (i = 0; i < sizeof(text) - 1; i++) {
		CHECK(gw_lines_feed(&l, text + i, 1) == 0);
		while ((st = gw_lines_next(&l, &p, &n)) == GW_LINE_OK) {
			CHECK(got < 4 && line_is(p, n, want[got]));
			got++;
		}
		CHECK(st == GW_LINE_AGAIN);
	}
	CHECK(got == 4);
	gw_lines_end(&l);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_PARTIAL);
	CHECK(line_is(p, n, "five") && l.lineno == 5 && l.n_partial == 1);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_EOF);
	gw_lines_fini(&l);
}

TEST(test_lines_too_long)
{
	struct gw_lines l;
	enum gw_line_status st;
	const char *p;
	size_t i, n;
	int reported = 0, ok_next = 0;

	/* The long line arrives in pieces and is reported once. */
	CHECK(gw_lines_init(&l, 10) == 0);
	CHECK(feed(&l, "short\n") == 0);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_OK);
	CHECK(line_is(p, n, "short"));
	for (i = 0; i < 10; i++) {
		CHECK(feed(&l, "xxxx") == 0);
		/* Never more than one line's worth plus what was fed. */
		CHECK(l.buf.len <= 10 + 4);
		while ((st = gw_lines_next(&l, &p, &n)) != GW_LINE_AGAIN) {
			CHECK(st == GW_LINE_TOO_LONG);
			CHECK(l.lineno == 2);
			reported++;
		}
	}
	CHECK(feed(&l, "xx\nnext\n") == 0);
	while ((st = gw_lines_next(&l, &p, &n)) != GW_LINE_AGAIN) {
		CHECK(st == GW_LINE_OK);
		CHECK(line_is(p, n, "next") && l.lineno == 3);
		ok_next++;
	}
	CHECK(reported == 1 && ok_next == 1 && l.n_too_long == 1);

	/* A long line that arrives whole, newline included. */
	CHECK(feed(&l, "0123456789A\n0123456789\n") == 0);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_TOO_LONG);
	CHECK(l.lineno == 4 && l.n_too_long == 2 && p == NULL && n == 0);
	/* Exactly max_line is fine. */
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_OK);
	CHECK(line_is(p, n, "0123456789") && l.lineno == 5);

	/* Unterminated and too long at the end: reported, not partial. */
	CHECK(feed(&l, "0123456789AB") == 0);
	gw_lines_end(&l);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_TOO_LONG);
	CHECK(l.lineno == 6);
	CHECK(gw_lines_next(&l, &p, &n) == GW_LINE_EOF);
	CHECK(l.n_partial == 0 && l.n_too_long == 3);
	gw_lines_fini(&l);
}

TEST(test_lines_feed_bounds)
{
	struct gw_lines l;
	enum gw_line_status st;
	const char *p;
	char *big;
	size_t i, n, lines = 0;

	/* 200 KiB of 9-byte lines in one feed: taken whole. */
	big = malloc(200 * 1024);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	for (i = 0; i < 200 * 1024; i++)
		big[i] = i % 10 == 9 ? '\n' : 'a';
	CHECK(gw_lines_init(&l, 16) == 0);
	CHECK(gw_lines_feed(&l, big, 200 * 1024) == 0);
	/* Not drained: more than fits is refused rather than piled up. */
	errno = 0;
	CHECK(gw_lines_feed(&l, big, 200 * 1024) == -1 && errno == ENOBUFS);
	while ((st = gw_lines_next(&l, &p, &n)) == GW_LINE_OK) {
		CHECK(n == 9);
		lines++;
	}
	CHECK(st == GW_LINE_AGAIN && lines == 200 * 1024 / 10);
	/* Drained: accepted again. */
	CHECK(gw_lines_feed(&l, big, 200 * 1024) == 0);
	gw_lines_fini(&l);
	free(big);
}

/* Writes <n> bytes of <p> to blocking <fd>. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Reads from a pipe fed by a child: 1000 short lines, one of 300 KiB, 1000
 * more, and an unterminated tail.  The reader must never hold more than
 * max_line + GW_LINES_CHUNK bytes.
 */
TEST(test_lines_read_pipe)
{
	struct gw_lines l;
	enum gw_line_status st;
	const char *p;
	char line[32];
	size_t n, most = 0;
	ssize_t r;
	int fds[2], status, ok = 0, long_at = 0, partial = 0, eof = 0;
	int bad = 0;
	pid_t pid;

	CHECK(pipe2(fds, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid != -1);
	if (pid == -1)
		return;
	if (pid == 0) {
		char *huge = malloc(300 * 1024);
		int i, len;

		close(fds[0]);
		if (huge == NULL)
			_exit(1);
		memset(huge, 'z', 300 * 1024);
		huge[300 * 1024 - 1] = '\n';
		for (i = 0; i < 2000; i++) {
			if (i == 1000 &&
			    write_all(fds[1], huge, 300 * 1024) == -1)
				_exit(1);
			len = snprintf(line, sizeof(line), "{\"n\":%d}\n", i);
			if (write_all(fds[1], line, (size_t)len) == -1)
				_exit(1);
		}
		if (write_all(fds[1], "{\"tail\"", 7) == -1)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	CHECK(gw_lines_init(&l, 1024) == 0);
	while (!eof) {
		r = gw_lines_read(&l, fds[0]);
		CHECK(r >= 0);
		if (r < 0)
			break;
		if (l.buf.len > most)
			most = l.buf.len;
		while ((st = gw_lines_next(&l, &p, &n)) != GW_LINE_AGAIN) {
			if (st == GW_LINE_OK) {
				snprintf(line, sizeof(line), "{\"n\":%d}", ok);
				bad += !line_is(p, n, line);
				ok++;
			} else if (st == GW_LINE_TOO_LONG)
				long_at = (int)l.lineno;
			else if (st == GW_LINE_PARTIAL)
				partial = line_is(p, n, "{\"tail\"");
			else {
				eof = 1;
				break;
			}
		}
	}
	CHECK(ok == 2000 && bad == 0);
	CHECK(long_at == 1001 && l.n_too_long == 1);
	CHECK(partial && l.lineno == 2002);
	CHECK(most <= 1024 + GW_LINES_CHUNK);
	CHECK(l.buf.cap <= 1024 + GW_LINES_CHUNK);
	gw_lines_fini(&l);
	close(fds[0]);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
}

TEST(test_out_drop_whole_lines)
{
	struct gw_out o;
	struct gw_buf *b;
	char buf[64];
	int p[2];

	CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
	gw_out_init(&o, p[1], 32);
	CHECK(gw_out_line(&o, "0123456789", 10) == 0);
	CHECK(gw_out_line(&o, "abcdefghij", 10) == 0);
	CHECK(gw_out_pending(&o) == 22);
	/* 11 more bytes do not fit in 32. */
	CHECK(gw_out_line(&o, "ABCDEFGHIJ", 10) == -1);
	CHECK(o.dropped == 1 && o.dropped_bytes == 11);
	CHECK(gw_out_pending(&o) == 22);

	/* Built in place: the part that fitted is taken back. */
	b = gw_out_begin(&o);
	CHECK(gw_buf_adds(b, "{\"k\":") == 0);
	CHECK(gw_buf_adds(b, "\"vvvvvvv\"}") == -1);
	CHECK(gw_out_end(&o, 1) == -1);
	CHECK(o.dropped == 2 && gw_out_pending(&o) == 22);

	/* Fits, but its newline does not. */
	b = gw_out_begin(&o);
	CHECK(gw_buf_adds(b, "0123456789") == 0);
	CHECK(gw_out_end(&o, 0) == -1);
	CHECK(o.dropped == 3 && gw_out_pending(&o) == 22);

	/* Exactly fills the queue. */
	b = gw_out_begin(&o);
	CHECK(gw_buf_adds(b, "012345678") == 0);
	CHECK(gw_out_end(&o, 0) == 0);
	CHECK(gw_out_pending(&o) == 32 && o.lines == 3);

	CHECK(gw_out_flush(&o) == 0);
	CHECK(gw_out_pending(&o) == 0);
	CHECK(read(p[0], buf, sizeof(buf)) == 32);
	CHECK(memcmp(buf, "0123456789\nabcdefghij\n012345678\n", 32) == 0);
	/* Room again after the flush. */
	CHECK(gw_out_line(&o, "ABCDEFGHIJ", 10) == 0);
	gw_out_fini(&o);
	gw_out_fini(NULL);
	close(p[0]);
	close(p[1]);
}

TEST(test_out_slow_reader)
{
	struct gw_out o;
	struct gw_buf *b;
	char *got, line[128];
	size_t have = 0, want = 0, total;
	ssize_t r;
	int p[2], i, rc, waits = 0, rounds;

	CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
	/* As small a pipe as the kernel allows, so the writer must wait. */
	(void)fcntl(p[1], F_SETPIPE_SZ, 4096);
	gw_out_init(&o, p[1], 1 << 20);
	for (i = 0; i < 3000; i++) {
		b = gw_out_begin(&o);
		rc = gw_buf_printf(b, "{\"seq\":%d,\"pad\":\"%040d\"}", i, i);
		CHECK(rc == 0);
		CHECK(gw_out_end(&o, 0) == 0);
	}
	total = gw_out_pending(&o);
	got = malloc(total);
	CHECK(got != NULL && o.dropped == 0);
	if (got == NULL)
		return;
	/* Alternate flushing and reading a little, as a slow reader would. */
	for (rounds = 0; rounds < 1000000; rounds++) {
		rc = gw_out_flush(&o);
		CHECK(rc == 0 || rc == 1);
		if (rc == 1)
			waits++;
		r = read(p[0], got + have,
		    total - have < 1000 ? total - have : 1000);
		if (r > 0)
			have += (size_t)r;
		if (rc == 0 && have == total)
			break;
		if (rc == -1)
			break;
	}
	CHECK(have == total && waits > 0 && gw_out_pending(&o) == 0);
	/* Every line, whole and in order. */
	for (i = 0; i < 3000 && want < have; i++) {
		int len = snprintf(line, sizeof(line),
		    "{\"seq\":%d,\"pad\":\"%040d\"}\n", i, i);

		if (want + (size_t)len > have ||
		    memcmp(got + want, line, (size_t)len) != 0)
			break;
		want += (size_t)len;
	}
	CHECK(i == 3000 && want == total);
	free(got);
	gw_out_fini(&o);
	close(p[0]);
	close(p[1]);
}

TEST(test_out_epipe)
{
	struct gw_out o;
	int p[2];

	signal(SIGPIPE, SIG_IGN);
	CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
	gw_out_init(&o, p[1], 1024);
	CHECK(gw_out_line(&o, "{\"a\":1}", 7) == 0);
	CHECK(gw_out_line(&o, "{\"a\":2}", 7) == 0);
	close(p[0]);
	errno = 0;
	CHECK(gw_out_flush(&o) == -1 && errno == EPIPE);
	CHECK(o.error == EPIPE);
	/* The queue is gone and its lines count as dropped. */
	CHECK(gw_out_pending(&o) == 0);
	CHECK(o.dropped == 2 && o.dropped_bytes == 16);
	/* Later lines too, whichever way they come. */
	CHECK(gw_out_line(&o, "{\"a\":3}", 7) == -1);
	gw_buf_adds(gw_out_begin(&o), "{\"a\":4}");
	CHECK(gw_out_end(&o, 0) == -1);
	CHECK(o.dropped == 4 && gw_out_pending(&o) == 0);
	errno = 0;
	CHECK(gw_out_flush(&o) == -1 && errno == EPIPE);
	gw_out_fini(&o);
	close(p[1]);
}

TEST(test_out_blocking)
{
	struct gw_out o;
	char buf[4096];
	uint64_t sum = 0, want = 0;
	ssize_t r;
	int p[2], res[2], i, status;
	pid_t pid;

	/* A child reads slowly; the blocking flush must wait for it. */
	CHECK(pipe2(p, O_CLOEXEC) == 0 && pipe2(res, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid != -1);
	if (pid == -1)
		return;
	if (pid == 0) {
		close(p[1]);
		close(res[0]);
		for (;;) {
			r = read(p[0], buf, 512);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			for (i = 0; i < r; i++)
				sum += (unsigned char)buf[i];
		}
		_exit(write(res[1], &sum, sizeof(sum)) == sizeof(sum) ? 0 : 1);
	}
	close(p[0]);
	close(res[1]);
	gw_out_init(&o, p[1], 4 << 20);
	for (i = 0; i < 20000; i++) {
		size_t k;
		int len;

		len = snprintf(
		    buf, sizeof(buf), "{\"i\":%d,\"x\":\"%0100d\"}", i, i);

		CHECK(gw_out_line(&o, buf, (size_t)len) == 0);
		for (k = 0; k < (size_t)len; k++)
			want += (unsigned char)buf[k];
		want += '\n';
	}
	CHECK(gw_out_pending(&o) > 1 << 20);
	CHECK(gw_out_flush(&o) == 0);
	CHECK(gw_out_pending(&o) == 0);
	close(p[1]);
	CHECK(read(res[0], &sum, sizeof(sum)) == sizeof(sum));
	CHECK(sum == want);
	close(res[0]);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	gw_out_fini(&o);
}

int
main(void)
{
	RUN(test_lines_split);
	RUN(test_lines_bytewise);
	RUN(test_lines_too_long);
	RUN(test_lines_feed_bounds);
	RUN(test_lines_read_pipe);
	RUN(test_out_drop_whole_lines);
	RUN(test_out_slow_reader);
	RUN(test_out_epipe);
	RUN(test_out_blocking);
	return harness_done();
}
