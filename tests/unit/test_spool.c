/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for gw-export's disk spool (gw-export/spool.c), in a
 * temporary directory removed at the end: lines come back whole and in
 * order; out-of-order acks never move the delivered position past an
 * unacked batch; released lines come back before newer ones, in smaller
 * pieces when asked (the 413 path); a restart resumes after the last ack
 * and re-sends what was out; kill -9 at random points (by the parent, or
 * by the child itself) loses no flushed line and re-sends at most what
 * was acked since the last flush; torn lines are cut; segments roll and
 * delivered ones are deleted, also when a crash left them behind; a torn
 * state file means re-sending, never skipping; a full spool blocks or
 * drops its oldest segments (counted), even under a batch that is out;
 * the in-flight cap and window; a second opener and a directory that is
 * not a spool are refused, the latter untouched; modes are 0700/0600; a
 * full disk keeps the lines buffered; random operations and restarts
 * against a model of every line.  Prints a throughput figure (not
 * judged).
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../gw-export/spool.h"
#include "harness.h"
#include "timeutil.h"

static char base[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory name under the test's base (not created). */
static const char *
newdir(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", base, name);
	return buf;
}

/* Event line <n>: its length varies with n (40 to 240 bytes). */
static size_t
mkline(char *buf, size_t cap, uint64_t n)
{
	static const char pad[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	int len = snprintf(buf, cap, "{\"n\":%llu,\"pad\":\"%.*s\"}",
	    (unsigned long long)n, (int)(n * 7919 % 200), pad);

	return (size_t)len;
}

static int
put(struct spool *sp, uint64_t n)
{
	char buf[512];

	return spool_append(sp, buf, mkline(buf, sizeof(buf), n));
}

/* The number of a line made by mkline(), or -1 when it is not one. */
static long long
num_of(const char *line, size_t len)
{
	char buf[512];
	long long n;

	if (len < 6 || memcmp(line, "{\"n\":", 5) != 0)
		return -1;
	n = atoll(line + 5);
	if (n < 0 || mkline(buf, sizeof(buf), (uint64_t)n) != len ||
	    memcmp(buf, line, len) != 0)
		return -1;
	return n;
}

/* 1 when batch <b> holds exactly lines <from> .. <from> + <count> - 1. */
static int
batch_is(const struct spool_batch *b, long long from, size_t count)
{
	struct spool_line_iter it;
	const char *line;
	size_t len, k = 0;

	spool_batch_lines(b, &it);
	while (spool_line_next(&it, &line, &len) == 1) {
		if (num_of(line, len) != from + (long long)k)
			return 0;
		k++;
	}
	return k == count && b->count == count;
}

static struct spool *
sopen(const char *dir, const struct spool_opts *o)
{
	struct gw_error err;
	struct spool *sp;

	memset(&err, 0, sizeof(err));
	sp = spool_open(dir, o, &err);
	if (sp == NULL)
		fprintf(stderr, "spool_open %s: %s\n", dir, err.msg);
	return sp;
}

/*
 * Hands out and acks everything in batches of <max>.  Stores the line
 * numbers in <out> (up to <cap>) and returns how many lines came, or -1
 * when a line is not one of mkline()'s or something failed.
 */
static long
drain(struct spool *sp, long long *out, size_t cap, size_t max)
{
	struct spool_batch b;
	struct spool_line_iter it;
	const char *line;
	size_t len;
	long n = 0;
	int rc;

	spool_batch_init(&b);
	while ((rc = spool_next(sp, &b, max, 1 << 20)) == 1) {
		spool_batch_lines(&b, &it);
		while (spool_line_next(&it, &line, &len) == 1) {
			long long v = num_of(line, len);

			if (v < 0) {
				n = -1;
				goto out;
			}
			if ((size_t)n < cap)
				out[n] = v;
			n++;
		}
		if (spool_ack(sp, &b) == -1) {
			n = -1;
			goto out;
		}
	}
	if (rc == -1)
		n = -1;
out:
	spool_batch_fini(&b);
	return n;
}

/* 1 when out[0..n) counts up by one from <from>. */
static int
consecutive(const long long *out, long n, long long from)
{
	for (long i = 0; i < n; i++)
		if (out[i] != from + i)
			return 0;
	return 1;
}

/* Number of segment files in <dir>. */
static int
count_segments(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 7 && strcmp(de->d_name + len - 7, ".ndjson") == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* The path of the newest segment of <dir> into <buf>. */
static int
newest_segment(const char *dir, char *buf, size_t cap)
{
	struct dirent *de;
	char best[64] = "";
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 7 && strcmp(de->d_name + len - 7, ".ndjson") == 0 &&
		    len < sizeof(best) && strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	if (best[0] == '\0')
		return -1;
	snprintf(buf, cap, "%s/%s", dir, best);
	return 0;
}

/* The number that names the oldest segment of <dir>, or 0. */
static uint64_t
oldest_segment(const char *dir)
{
	struct dirent **names;
	uint64_t oldest = 0;
	int n = scandir(dir, &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		if (oldest == 0 && names[i]->d_name[0] == '0')
			oldest = strtoull(names[i]->d_name, NULL, 10);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	return oldest;
}

TEST(test_round_trip)
{
	struct spool_batch b;
	struct spool_stats st;
	long long out[2000];
	char dir[128];
	struct spool *sp;
	uint64_t i;
	long n;

	/* Missing parents are created. */
	sp = sopen(newdir(dir, sizeof(dir), "rt/parent/dd"), NULL);
	CHECK(sp != NULL);
	if (sp == NULL)
		return;
	for (i = 0; i < 1000; i++)
		CHECK(put(sp, i) == 0);
	/* spool_next() flushes what it hands out. */
	spool_batch_init(&b);
	CHECK(spool_next(sp, &b, 100, 1 << 20) == 1);
	CHECK(b.first == 0 && b.count == 100 && b.start == 0);
	CHECK(batch_is(&b, 0, 100));
	CHECK(b.end - b.start == b.len);
	CHECK(spool_ack(sp, &b) == 0);
	/* A byte limit cuts a batch at a line end. */
	CHECK(spool_next(sp, &b, 1000, 1000) == 1);
	CHECK(b.len <= 1000 && b.count > 0 && batch_is(&b, 100, b.count));
	CHECK(spool_ack(sp, &b) == 0);
	n = drain(sp, out, 2000, 128);
	CHECK(n > 0 && consecutive(out, n, (long long)(100 + b.count)));
	CHECK(n > 0 && out[n - 1] == 999);
	CHECK(spool_next(sp, &b, 100, 1 << 20) == 0 && b.count == 0);
	spool_stats(sp, &st);
	CHECK(st.appended == 1000 && st.acked == 1000 && st.pending == 0);
	CHECK(st.pending_bytes == 0 && st.inflight == 0 && st.segments == 1);
	/* Appending goes on after everything was delivered. */
	for (i = 1000; i < 1010; i++)
		CHECK(put(sp, i) == 0);
	CHECK(spool_next(sp, &b, 100, 1 << 20) == 1);
	CHECK(b.first == 1000 && batch_is(&b, 1000, 10));
	CHECK(spool_ack(sp, &b) == 0);
	spool_batch_fini(&b);
	spool_batch_fini(&b);
	spool_batch_fini(NULL);
	spool_close(sp);
	spool_close(NULL);
}

TEST(test_out_of_order_acks)
{
	struct spool_batch b1, b2, b3;
	struct spool_stats st;
	char dir[128];
	struct spool *sp;
	uint64_t i;

	sp = sopen(newdir(dir, sizeof(dir), "ooo"), NULL);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 300; i++)
		CHECK(put(sp, i) == 0);
	spool_batch_init(&b1);
	spool_batch_init(&b2);
	spool_batch_init(&b3);
	CHECK(spool_next(sp, &b1, 100, 1 << 20) == 1 && batch_is(&b1, 0, 100));
	CHECK(
	    spool_next(sp, &b2, 100, 1 << 20) == 1 && batch_is(&b2, 100, 100));
	CHECK(
	    spool_next(sp, &b3, 100, 1 << 20) == 1 && batch_is(&b3, 200, 100));
	CHECK(spool_ack(sp, &b2) == 0);
	CHECK(spool_ack(sp, &b2) == 0); /* twice: nothing more */
	spool_stats(sp, &st);
	CHECK(st.pending == 300 && st.inflight == 2 && st.acked == 100);
	/* The position did not pass batch 1: a restart sends it all again. */
	CHECK(spool_flush(sp) == 0);
	spool_close(sp);
	sp = sopen(dir, NULL);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	spool_stats(sp, &st);
	CHECK(st.pending == 300);
	CHECK(spool_next(sp, &b1, 100, 1 << 20) == 1 && batch_is(&b1, 0, 100));
	CHECK(
	    spool_next(sp, &b2, 100, 1 << 20) == 1 && batch_is(&b2, 100, 100));
	CHECK(
	    spool_next(sp, &b3, 100, 1 << 20) == 1 && batch_is(&b3, 200, 100));
	CHECK(spool_ack(sp, &b3) == 0);
	CHECK(spool_ack(sp, &b1) == 0);
	spool_stats(sp, &st);
	CHECK(st.pending == 200); /* 100..199 are still out */
	CHECK(spool_ack(sp, &b2) == 0);
	spool_stats(sp, &st);
	CHECK(st.pending == 0 && st.inflight == 0);
	spool_close(sp);
	/* Nothing comes back after a restart. */
	sp = sopen(dir, NULL);
	CHECK(sp != NULL && spool_next(sp, &b1, 100, 1 << 20) == 0);
	spool_close(sp);
	spool_batch_fini(&b1);
	spool_batch_fini(&b2);
	spool_batch_fini(&b3);
}

TEST(test_release)
{
	struct spool_batch b1, b2, b3, stale;
	struct spool_stats st;
	long long out[400];
	char dir[128];
	struct spool *sp;
	uint64_t i;
	long n;

	sp = sopen(newdir(dir, sizeof(dir), "release"), NULL);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 300; i++)
		CHECK(put(sp, i) == 0);
	spool_batch_init(&b1);
	spool_batch_init(&b2);
	spool_batch_init(&b3);
	CHECK(spool_next(sp, &b1, 100, 1 << 20) == 1 && batch_is(&b1, 0, 100));
	CHECK(
	    spool_next(sp, &b2, 100, 1 << 20) == 1 && batch_is(&b2, 100, 100));
	/* Released lines come back before newer ones. */
	CHECK(spool_release(sp, &b1) == 0);
	CHECK(spool_ack(sp, &b1) == -1 && errno == EINVAL);
	CHECK(spool_next(sp, &b3, 100, 1 << 20) == 1 && batch_is(&b3, 0, 100));
	/* 413: give it back and ask for fewer; the rest stays first. */
	stale = b3;
	CHECK(spool_release(sp, &b3) == 0);
	CHECK(spool_next(sp, &b3, 30, 1 << 20) == 1 && batch_is(&b3, 0, 30));
	CHECK(spool_ack(sp, &stale) == -1 && errno == EINVAL);
	CHECK(spool_next(sp, &b1, 100, 1 << 20) == 1 && batch_is(&b1, 30, 70));
	spool_stats(sp, &st);
	CHECK(st.inflight == 3 && st.released == 200);
	/* Then fresh lines again. */
	CHECK(spool_release(sp, &b2) == 0);
	CHECK(spool_ack(sp, &b3) == 0);
	CHECK(spool_ack(sp, &b1) == 0);
	n = drain(sp, out, 400, 64);
	CHECK(n == 200 && consecutive(out, n, 100));
	spool_stats(sp, &st);
	CHECK(st.pending == 0 && st.inflight == 0 && st.acked == 300);
	/* A batch that is not out is refused. */
	memset(&stale, 0, sizeof(stale));
	CHECK(spool_ack(sp, &stale) == -1 && errno == EINVAL);
	CHECK(spool_release(sp, &stale) == -1 && errno == EINVAL);
	spool_close(sp);
	spool_batch_fini(&b1);
	spool_batch_fini(&b2);
	spool_batch_fini(&b3);
}

TEST(test_restart)
{
	struct spool_batch b1, b2;
	struct spool_stats st;
	long long out[1000];
	char dir[128];
	struct spool *sp;
	uint64_t i;
	long n;

	sp = sopen(newdir(dir, sizeof(dir), "restart"), NULL);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 500; i++)
		CHECK(put(sp, i) == 0);
	spool_batch_init(&b1);
	spool_batch_init(&b2);
	CHECK(spool_next(sp, &b1, 100, 1 << 20) == 1);
	CHECK(spool_next(sp, &b2, 100, 1 << 20) == 1);
	CHECK(spool_ack(sp, &b1) == 0);
	spool_close(sp); /* b2 is still out: not delivered */
	spool_batch_fini(&b1);

	sp = sopen(dir, NULL);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	spool_stats(sp, &st);
	CHECK(st.pending == 400 && st.appended == 0 && st.torn_bytes == 0);
	/* Appends after the restart go after the old lines. */
	for (i = 500; i < 600; i++)
		CHECK(put(sp, i) == 0);
	n = drain(sp, out, 1000, 77);
	CHECK(n == 500 && consecutive(out, n, 100));
	spool_close(sp);
	spool_batch_fini(&b2);
}

/* Bounds a crashing child publishes, before (hi) and after (lo) acting. */
struct crash_bounds {
	volatile uint64_t a_lo; /* lines appended when a flush returned */
	volatile uint64_t a_hi; /* lines an append may have added */
	volatile uint64_t k_lo; /* delivered position when a flush returned */
	volatile uint64_t k_hi; /* the end of every batch ever acked */
	volatile uint64_t ops;
};

/* The child: random appends, flushes, batches, acks and releases. */
static void
crash_child(
    const char *dir, unsigned seed, long kill_at, struct crash_bounds *cb)
{
	struct spool_opts o = { 0 };
	struct spool_batch b[6];
	struct spool_stats st;
	uint64_t a = 0, end;
	struct spool *sp;
	int out[6] = { 0 };
	long op;
	int j, k;

	srand(seed);
	o.segment_bytes = 64 * 1024; /* many rolls and deletions */
	o.buffer_bytes = 8192;
	if ((sp = spool_open(dir, &o, NULL)) == NULL)
		_exit(2);
	for (j = 0; j < 6; j++)
		spool_batch_init(&b[j]);
	for (op = 0; op < 5000000; op++) {
		cb->ops = (uint64_t)op;
		if (op == kill_at)
			raise(SIGKILL);
		j = rand() % 6;
		switch (rand() % 8) {
		case 0:
		case 1:
		case 2:
			for (k = rand() % 20; k >= 0; k--) {
				cb->a_hi = a + 1;
				if (put(sp, a) == -1)
					_exit(3);
				a++;
			}
			break;
		case 3:
			if (spool_flush(sp) == -1)
				_exit(4);
			spool_stats(sp, &st);
			cb->a_lo = a;
			cb->k_lo = a - st.pending;
			break;
		case 4:
		case 5:
			if (!out[j] &&
			    spool_next(sp, &b[j], (size_t)(rand() % 50 + 1),
			        1 << 20) == 1)
				out[j] = 1;
			break;
		case 6:
			if (!out[j])
				break;
			end = b[j].first + b[j].count;
			if (end > cb->k_hi)
				cb->k_hi = end;
			if (spool_ack(sp, &b[j]) == -1)
				_exit(5);
			out[j] = 0;
			break;
		default:
			if (out[j] && spool_release(sp, &b[j]) == -1)
				_exit(6);
			out[j] = 0;
			break;
		}
	}
	_exit(0);
}

/*
 * Kills a child using the spool at a random point (it kills itself when
 * <self> is set), then checks what a restart hands out: consecutive
 * whole lines from the last flushed position (or a later ack) to at
 * least the last flushed line.
 */
static void
crash_round(unsigned seed, int self)
{
	enum { CAP = 1000000 };
	struct crash_bounds *cb;
	long long *out;
	struct spool_stats st;
	struct timespec ts;
	char dir[128], name[32];
	struct spool *sp;
	int status;
	pid_t pid;
	long n;

	snprintf(name, sizeof(name), "crash%u", seed);
	newdir(dir, sizeof(dir), name);
	cb = mmap(NULL, sizeof(*cb), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cb == MAP_FAILED) {
		CHECK(0);
		return;
	}
	memset((void *)cb, 0, sizeof(*cb));
	fflush(NULL);
	if ((pid = fork()) == 0)
		crash_child(dir, seed,
		    self ? 2000 + (long)(seed * 7717 % 20000) : -1, cb);
	CHECK(pid > 0);
	if (!self) {
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(20 + seed * 37 % 100) * 1000000;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(cb->ops > 100); /* it got somewhere */

	sp = sopen(dir, NULL);
	if (sp == NULL) {
		CHECK(0);
		goto out;
	}
	spool_stats(sp, &st);
	if ((out = malloc(CAP * sizeof(*out))) == NULL) {
		CHECK(0);
		spool_close(sp);
		goto out;
	}
	n = drain(sp, out, CAP, 500);
	CHECK(n >= 0 && n <= CAP);
	if (n > 0) {
		CHECK(consecutive(out, n, out[0]));
		/* No gap at the front, and nothing acked before the last
		 * flush comes again. */
		CHECK((uint64_t)out[0] >= cb->k_lo);
		CHECK((uint64_t)out[0] <= cb->k_hi);
		/* Every flushed line is there, and nothing never appended. */
		CHECK((uint64_t)out[n - 1] + 1 >= cb->a_lo);
		CHECK((uint64_t)out[n - 1] + 1 <= cb->a_hi);
	} else {
		CHECK(n == 0 && cb->a_lo <= cb->k_hi);
	}
	if (getenv("GW_TEST_VERBOSE") != NULL)
		printf("# crash %u: %llu ops, appended %llu..%llu, delivered "
		       "%llu..%llu, restart sends %lld..%lld, torn %llu\n",
		    seed, (unsigned long long)cb->ops,
		    (unsigned long long)cb->a_lo, (unsigned long long)cb->a_hi,
		    (unsigned long long)cb->k_lo, (unsigned long long)cb->k_hi,
		    n > 0 ? out[0] : -1, n > 0 ? out[n - 1] : -1,
		    (unsigned long long)st.torn_bytes);
	free(out);
	spool_close(sp);
out:
	munmap((void *)cb, sizeof(*cb));
}

TEST(test_kill9)
{
	for (unsigned seed = 1; seed <= 4; seed++)
		crash_round(seed, 0);
	for (unsigned seed = 11; seed <= 14; seed++)
		crash_round(seed, 1);
}

TEST(test_torn_line)
{
	static const char torn[] = "{\"n\":10,\"pad\":\"abc";
	struct spool_stats st;
	long long out[100];
	char dir[128], seg[256];
	struct spool *sp;
	uint64_t i;
	long n;
	int fd;

	sp = sopen(newdir(dir, sizeof(dir), "torn"), NULL);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 10; i++)
		CHECK(put(sp, i) == 0);
	spool_close(sp);
	/* A crash in the middle of writing line 10. */
	CHECK(newest_segment(dir, seg, sizeof(seg)) == 0);
	fd = open(seg, O_WRONLY | O_APPEND);
	CHECK(fd != -1 &&
	    write(fd, torn, sizeof(torn) - 1) == (ssize_t)(sizeof(torn) - 1));
	close(fd);

	sp = sopen(dir, NULL);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	spool_stats(sp, &st);
	CHECK(st.torn_bytes == sizeof(torn) - 1 && st.pending == 10);
	for (i = 10; i < 20; i++)
		CHECK(put(sp, i) == 0);
	n = drain(sp, out, 100, 7);
	CHECK(n == 20 && consecutive(out, n, 0));
	spool_close(sp);
}

TEST(test_segments)
{
	struct spool_opts o = { 0 };
	struct spool_batch b;
	struct spool_stats st;
	long long out[3000];
	char dir[128];
	struct spool *sp;
	uint64_t i;
	int before;
	long n;

	o.segment_bytes = 4096;
	sp = sopen(newdir(dir, sizeof(dir), "segs"), &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 1000; i++)
		CHECK(put(sp, i) == 0);
	CHECK(spool_flush(sp) == 0);
	spool_stats(sp, &st);
	before = count_segments(dir);
	/* ~120 bytes a line: about 34 lines a segment. */
	CHECK(before > 20 && (uint64_t)before == st.segments);
	CHECK(st.disk_bytes == st.pending_bytes);
	/* A batch never crosses a segment. */
	spool_batch_init(&b);
	CHECK(spool_next(sp, &b, 1000, 1 << 20) == 1);
	CHECK(b.count < 100 && b.seg == 0 && batch_is(&b, 0, b.count));
	CHECK(spool_ack(sp, &b) == 0);
	CHECK(count_segments(dir) == before - 1);
	CHECK(spool_next(sp, &b, 1000, 1 << 20) == 1);
	CHECK(b.seg == b.first && b.start == 0);
	CHECK(spool_ack(sp, &b) == 0);
	spool_batch_fini(&b);
	/* Half delivered, half the segments gone. */
	n = drain(sp, out, 3000, 1000);
	CHECK(n > 900 && n < 1000 && out[n - 1] == 999);
	CHECK(count_segments(dir) == 1);
	spool_stats(sp, &st);
	CHECK(st.segments == 1 && st.pending == 0);
	spool_close(sp);
	/* The restart sees the same. */
	sp = sopen(dir, &o);
	CHECK(sp != NULL && drain(sp, out, 3000, 1000) == 0);
	for (i = 1000; i < 1100; i++)
		CHECK(put(sp, i) == 0);
	n = drain(sp, out, 3000, 1000);
	CHECK(n == 100 && consecutive(out, n, 1000));
	spool_close(sp);
}

TEST(test_block)
{
	struct spool_opts o = { 0 };
	struct spool_batch b;
	struct spool_stats st;
	char dir[128];
	struct spool *sp;
	uint64_t i;
	long long out[1000];
	long n;

	o.max_bytes = 16384;
	o.segment_bytes = 4096;
	o.full = SPOOL_BLOCK;
	sp = sopen(newdir(dir, sizeof(dir), "block"), &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 1000; i++)
		if (put(sp, i) == -1)
			break;
	CHECK(errno == ENOBUFS && i > 50 && i < 200);
	CHECK(put(sp, i) == -1 && errno == ENOBUFS);
	spool_stats(sp, &st);
	CHECK(st.refused == 2 && st.appended == i && st.dropped == 0);
	CHECK(st.pending_bytes <= 16384 && spool_room(sp) < 300);
	/* Out is not delivered: still full. */
	spool_batch_init(&b);
	CHECK(spool_next(sp, &b, 10, 1 << 20) == 1);
	CHECK(put(sp, i) == -1 && errno == ENOBUFS);
	CHECK(spool_ack(sp, &b) == 0);
	CHECK(spool_room(sp) > 1000);
	CHECK(put(sp, i) == 0);
	spool_batch_fini(&b);
	n = drain(sp, out, 1000, 100);
	CHECK(n == (long)i + 1 - 10 && consecutive(out, n, 10));
	spool_stats(sp, &st);
	CHECK(spool_room(sp) == 16384 && st.pending == 0);
	spool_close(sp);
}

TEST(test_drop_oldest)
{
	struct spool_opts o = { 0 };
	struct spool_batch b, b2;
	struct spool_stats st;
	long long out[2000];
	char dir[128];
	struct spool *sp;
	uint64_t i;
	long n;

	o.max_bytes = 16384;
	o.segment_bytes = 4096;
	o.full = SPOOL_DROP_OLDEST;
	sp = sopen(newdir(dir, sizeof(dir), "drop"), &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	/* A batch out and one acked behind it when their segment goes. */
	for (i = 0; i < 6; i++)
		CHECK(put(sp, i) == 0);
	spool_batch_init(&b);
	spool_batch_init(&b2);
	CHECK(spool_next(sp, &b, 1, 1 << 20) == 1 && batch_is(&b, 0, 1));
	CHECK(spool_next(sp, &b2, 5, 1 << 20) == 1 && batch_is(&b2, 1, 5));
	CHECK(spool_ack(sp, &b2) == 0);
	for (i = 6; i < 1000; i++)
		CHECK(put(sp, i) == 0);
	spool_stats(sp, &st);
	CHECK(st.dropped > 800 && st.refused == 0 && st.acked == 5);
	CHECK(st.pending_bytes <= 16384 && st.inflight == 0);
	CHECK(count_segments(dir) <= 5);
	/* Acking or releasing it later is accepted and does nothing. */
	CHECK(spool_ack(sp, &b) == 0 && spool_release(sp, &b) == 0);
	spool_stats(sp, &st);
	CHECK(st.acked == 5 && st.waiting == st.pending);
	spool_batch_fini(&b);
	spool_batch_fini(&b2);
	n = drain(sp, out, 2000, 100);
	/* Dropped: everything before the first line left but the 5 acked. */
	CHECK(n > 0 && (uint64_t)out[0] == st.dropped + 5);
	CHECK(n > 0 && (uint64_t)n == st.pending);
	CHECK(n > 0 && consecutive(out, n, out[0]) && out[n - 1] == 999);
	spool_close(sp);
}

TEST(test_inflight_cap)
{
	struct spool_opts o = { 0 };
	struct spool_batch b0, b1, b;
	struct spool_stats st;
	long long out[200];
	char dir[128];
	struct spool *sp;
	uint64_t i;
	int k;
	long n;

	o.max_inflight = 2;
	sp = sopen(newdir(dir, sizeof(dir), "inflight"), &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 100; i++)
		CHECK(put(sp, i) == 0);
	spool_batch_init(&b0);
	spool_batch_init(&b1);
	spool_batch_init(&b);
	CHECK(spool_next(sp, &b0, 5, 1 << 20) == 1);
	CHECK(spool_next(sp, &b1, 5, 1 << 20) == 1);
	CHECK(spool_next(sp, &b, 5, 1 << 20) == 0 && b.count == 0);
	spool_stats(sp, &st);
	CHECK(st.inflight == 2 && st.waiting == 90 && st.pending == 100);
	CHECK(spool_ack(sp, &b1) == 0);
	/* Acked batches wait behind b0, up to a window of ranges. */
	for (k = 0; k < 20; k++) {
		if (spool_next(sp, &b, 5, 1 << 20) != 1)
			break;
		CHECK(spool_ack(sp, &b) == 0);
	}
	spool_stats(sp, &st);
	CHECK(k > 2 && k < 10 && st.inflight == 1 && st.pending == 100);
	CHECK(spool_ack(sp, &b0) == 0);
	spool_stats(sp, &st);
	CHECK(st.pending == 100 - 10 - 5 * (uint64_t)k);
	n = drain(sp, out, 200, 5);
	CHECK(n == (long)st.pending && consecutive(out, n, 100 - n));
	spool_batch_fini(&b0);
	spool_batch_fini(&b1);
	spool_batch_fini(&b);
	spool_close(sp);
}

/* Copies file <from> to <to>. */
static int
copy_file(const char *from, const char *to)
{
	char buf[8192];
	size_t n;
	FILE *in, *out;
	int rc = 0;

	if ((in = fopen(from, "r")) == NULL)
		return -1;
	if ((out = fopen(to, "w")) == NULL) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	fclose(in);
	if (fclose(out) != 0)
		rc = -1;
	return rc;
}

/* Copies the segments of <from> that <to> lacks; returns how many. */
static int
copy_segments(const char *from, const char *to)
{
	char a[512], c[512];
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d;

	if ((d = opendir(from)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len <= 7 || strcmp(de->d_name + len - 7, ".ndjson") != 0)
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
		snprintf(c, sizeof(c), "%s/%s", to, de->d_name);
		if (stat(c, &st) == 0)
			continue;
		if (copy_file(a, c) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Acks batches of up to 40 lines until at least <n> events are acked. */
static uint64_t
ack_some(struct spool *sp, uint64_t n)
{
	struct spool_batch b;
	struct spool_stats st;

	spool_batch_init(&b);
	do {
		if (spool_next(sp, &b, 40, 1 << 20) != 1 ||
		    spool_ack(sp, &b) == -1)
			break;
		spool_stats(sp, &st);
	} while (st.acked < n);
	spool_batch_fini(&b);
	spool_stats(sp, &st);
	return st.acked;
}

TEST(test_recovery)
{
	struct spool_opts o = { 0 };
	struct spool_stats st;
	long long out[400];
	char dir[128], bak[128], path[256];
	struct spool *sp;
	uint64_t i, acked, oldest;
	int before, fd;
	long n;

	/* A crash after the position was written, before the delivered
	 * segments were deleted: the next opening deletes them. */
	o.segment_bytes = 4096;
	sp = sopen(newdir(dir, sizeof(dir), "leftover"), &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 300; i++)
		CHECK(put(sp, i) == 0);
	CHECK(spool_flush(sp) == 0);
	newdir(bak, sizeof(bak), "leftover.bak");
	CHECK(mkdir(bak, 0700) == 0);
	CHECK(copy_segments(dir, bak) > 5);
	acked = ack_some(sp, 150);
	CHECK(acked >= 150 && acked < 300);
	spool_close(sp);
	before = count_segments(dir);
	CHECK(copy_segments(bak, dir) > 2);
	sp = sopen(dir, &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	CHECK(count_segments(dir) == before);
	spool_stats(sp, &st);
	CHECK(st.pending == 300 - acked && st.segments == (uint64_t)before);
	n = drain(sp, out, 400, 50);
	CHECK(
	    n == (long)(300 - acked) && consecutive(out, n, (long long)acked));
	spool_close(sp);

	/* A torn state file: everything still on disk is sent again. */
	sp = sopen(newdir(dir, sizeof(dir), "badstate"), &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 300; i++)
		CHECK(put(sp, i) == 0);
	acked = ack_some(sp, 150);
	spool_close(sp);
	oldest = oldest_segment(dir);
	CHECK(oldest > 0 && oldest <= acked);
	snprintf(path, sizeof(path), "%s/gw-spool.state", dir);
	fd = open(path, O_WRONLY);
	CHECK(fd != -1 && pwrite(fd, "garbage!", 8, 0) == 8 &&
	    pwrite(fd, "garbage!", 8, 64) == 8);
	close(fd);
	sp = sopen(dir, &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	spool_stats(sp, &st);
	CHECK(st.pending == 300 - oldest);
	n = drain(sp, out, 400, 50);
	CHECK(n == (long)(300 - oldest) &&
	    consecutive(out, n, (long long)oldest));
	spool_close(sp);
	/* Written again on close: nothing more to send. */
	sp = sopen(dir, &o);
	spool_stats(sp, &st);
	CHECK(sp != NULL && st.pending == 0);
	spool_close(sp);
}

TEST(test_one_opener)
{
	struct gw_error err;
	struct spool *a, *b;
	char dir[128], pid[32];

	a = sopen(newdir(dir, sizeof(dir), "lock"), NULL);
	CHECK(a != NULL);
	memset(&err, 0, sizeof(err));
	b = spool_open(dir, NULL, &err);
	CHECK(b == NULL && errno == EBUSY);
	snprintf(pid, sizeof(pid), "(pid %ld)", (long)getpid());
	CHECK(strstr(err.msg, pid) != NULL);
	CHECK(strstr(err.msg, dir) != NULL);
	spool_close(a);
	b = sopen(dir, NULL);
	CHECK(b != NULL);
	spool_close(b);
}

/* Writes <text> to <dir>/<name>. */
static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* The names in <dir>, sorted, joined by spaces, into <buf>. */
static void
listing(const char *dir, char *buf, size_t cap)
{
	struct dirent **names;
	size_t len = 0;
	int n;

	buf[0] = '\0';
	n = scandir(dir, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.')
			len += (size_t)snprintf(buf + len,
			    len < cap ? cap - len : 0, "%s ", names[i]->d_name);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

TEST(test_not_a_spool)
{
	struct gw_error err;
	struct spool *sp;
	char dir[128], before[512], after[512];
	struct stat st;

	newdir(dir, sizeof(dir), "notaspool");
	CHECK(mkdir(dir, 0755) == 0);
	write_file(dir, "notes.txt", "keep me\n");
	write_file(dir, "00000000000000000000.ndjson", "{\"x\":1}\n");
	listing(dir, before, sizeof(before));
	memset(&err, 0, sizeof(err));
	sp = spool_open(dir, NULL, &err);
	CHECK(sp == NULL && errno == EINVAL);
	CHECK(strstr(err.msg, "not a gw-export spool") != NULL);
	listing(dir, after, sizeof(after));
	CHECK_STREQ(after, before);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0755);

	/* Another program's marker, a newer spool. */
	newdir(dir, sizeof(dir), "otherformat");
	CHECK(mkdir(dir, 0700) == 0);
	write_file(
	    dir, "gw-spool.json", "{\"format\":\"gw-store\",\"version\":1}");
	sp = spool_open(dir, NULL, &err);
	CHECK(sp == NULL && errno == EINVAL);
	newdir(dir, sizeof(dir), "newer");
	CHECK(mkdir(dir, 0700) == 0);
	write_file(
	    dir, "gw-spool.json", "{\"format\":\"gw-spool\",\"version\":9}");
	listing(dir, before, sizeof(before));
	sp = spool_open(dir, NULL, &err);
	CHECK(sp == NULL && errno == EPROTONOSUPPORT);
	CHECK(strstr(err.msg, "version 9") != NULL);
	listing(dir, after, sizeof(after));
	CHECK_STREQ(after, before);

	/* An empty directory becomes a spool, keeping its mode. */
	newdir(dir, sizeof(dir), "empty");
	CHECK(mkdir(dir, 0750) == 0);
	sp = sopen(dir, NULL);
	CHECK(sp != NULL);
	spool_close(sp);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0750);
}

TEST(test_modes)
{
	struct spool_batch b;
	struct dirent *de;
	struct stat st;
	char dir[128], path[512];
	struct spool *sp;
	int files = 0;
	DIR *d;

	umask(022);
	sp = sopen(newdir(dir, sizeof(dir), "modes/dd"), NULL);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	CHECK(put(sp, 0) == 0 && put(sp, 1) == 0);
	spool_batch_init(&b);
	CHECK(spool_next(sp, &b, 1, 1 << 20) == 1);
	CHECK(spool_ack(sp, &b) == 0 && spool_flush(sp) == 0);
	spool_batch_fini(&b);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	snprintf(path, sizeof(path), "%s/modes", base);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
	d = opendir(dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
		files++;
	}
	if (d != NULL)
		closedir(d);
	CHECK(files == 4); /* marker, lock, state, one segment */
	spool_close(sp);
}

TEST(test_bad_input)
{
	struct spool_opts o = { 0 };
	struct spool_batch b;
	enum spool_full full;
	char dir[128], *big;
	struct spool *sp;
	size_t blen = 10000;

	o.max_bytes = 65536;
	o.buffer_bytes = 4096;
	sp = sopen(newdir(dir, sizeof(dir), "bad"), &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	CHECK(spool_append(sp, "", 0) == -1 && errno == EINVAL);
	CHECK(spool_append(sp, "{}\n{}", 5) == -1 && errno == EINVAL);
	big = malloc(20000);
	if (big == NULL)
		return;
	memset(big, 'x', 20000);
	/* A quarter of max_bytes is the longest line. */
	CHECK(spool_append(sp, big, 16385) == -1 && errno == EMSGSIZE);
	/* A line longer than the buffer is written straight through, and a
	 * batch holds it even when asked for fewer bytes. */
	CHECK(put(sp, 0) == 0);
	CHECK(spool_append(sp, big, blen) == 0);
	CHECK(put(sp, 1) == 0);
	spool_batch_init(&b);
	CHECK(spool_next(sp, &b, 0, 100) == -1 && errno == EINVAL);
	CHECK(spool_next(sp, &b, 10, 0) == -1 && errno == EINVAL);
	CHECK(spool_next(sp, &b, 10, 100) == 1 && batch_is(&b, 0, 1));
	CHECK(spool_ack(sp, &b) == 0);
	CHECK(spool_next(sp, &b, 10, 100) == 1 && b.count == 1 &&
	    b.len == blen + 1 && memcmp(b.data, big, blen) == 0);
	CHECK(spool_ack(sp, &b) == 0);
	CHECK(spool_next(sp, &b, 10, 100) == 1 && batch_is(&b, 1, 1));
	CHECK(spool_ack(sp, &b) == 0);
	spool_batch_fini(&b);
	free(big);
	spool_close(sp);

	CHECK(spool_parse_full("block", &full) == 0 && full == SPOOL_BLOCK);
	CHECK(spool_parse_full("drop_oldest", &full) == 0 &&
	    full == SPOOL_DROP_OLDEST);
	CHECK(spool_parse_full("drop", &full) == -1 && errno == EINVAL);
}

TEST(test_disk_full)
{
	struct spool_opts o = { 0 };
	struct rlimit saved, lim;
	struct stat st;
	long long out[100];
	char dir[128], seg[256];
	struct spool *sp;
	int flush_rc, flush_errno;
	uint64_t i;
	long n;

	o.buffer_bytes = 4096;
	sp = sopen(newdir(dir, sizeof(dir), "full"), &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 20; i++)
		CHECK(put(sp, i) == 0);
	CHECK(spool_flush(sp) == 0);
	CHECK(newest_segment(dir, seg, sizeof(seg)) == 0);
	CHECK(stat(seg, &st) == 0);

	/* Room for one line and a half. */
	signal(SIGXFSZ, SIG_IGN);
	CHECK(getrlimit(RLIMIT_FSIZE, &saved) == 0);
	lim = saved;
	lim.rlim_cur = (rlim_t)st.st_size + 150;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	for (i = 20; i < 40; i++)
		CHECK(put(sp, i) == 0);
	flush_rc = spool_flush(sp);
	flush_errno = errno;
	setrlimit(RLIMIT_FSIZE, &saved);
	signal(SIGXFSZ, SIG_DFL);
	CHECK(flush_rc == -1 && flush_errno == EFBIG);

	/* The torn line was cut; the buffered lines follow when space
	 * returns. */
	CHECK(spool_flush(sp) == 0);
	spool_close(sp);
	sp = sopen(dir, &o);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	n = drain(sp, out, 100, 9);
	CHECK(n == 40 && consecutive(out, n, 0));
	spool_close(sp);
}

/*
 * Throughput: gw-export's steady state (appends flushed every 64 KiB of
 * input, batches of 1,000 events or 5 MB taken and acked as they come),
 * and appends alone.  Printed, not judged.
 */
TEST(test_throughput)
{
	enum { N = 300000, LINE = 420 };
	struct spool_batch b;
	struct spool_stats st;
	char dir[128], line[LINE + 1];
	struct spool *sp;
	uint64_t t0, t_pipe, t_app, t_open, t_read, in = 0;
	clock_t c0, c_pipe;
	size_t i, got = 0;
	int rc;

	memset(line, 'x', sizeof(line));
	memcpy(line, "{\"n\":", 5);
	line[LINE - 1] = '}';
	sp = sopen(newdir(dir, sizeof(dir), "bench"), NULL);
	if (sp == NULL) {
		CHECK(0);
		return;
	}
	spool_batch_init(&b);
	t0 = gw_mono_ns();
	c0 = clock();
	for (i = 0; i < N; i++) {
		rc = spool_append(sp, line, LINE - (i & 63));
		in += LINE - (i & 63) + 1;
		if (rc == -1)
			break;
		if (in >= 64 * 1024) {
			in = 0;
			if (spool_flush(sp) == -1)
				break;
			while (spool_next(sp, &b, 1000, 5 * 1024 * 1024) == 1) {
				got += b.count;
				(void)spool_ack(sp, &b);
			}
		}
	}
	while (spool_next(sp, &b, 1000, 5 * 1024 * 1024) == 1) {
		got += b.count;
		(void)spool_ack(sp, &b);
	}
	CHECK(spool_flush(sp) == 0);
	t_pipe = gw_mono_ns() - t0;
	c_pipe = clock() - c0;
	CHECK(i == N && got == N);

	/* Appends alone, then reads alone. */
	t0 = gw_mono_ns();
	for (i = 0; i < N; i++)
		if (spool_append(sp, line, LINE - (i & 63)) == -1)
			break;
	CHECK(spool_flush(sp) == 0);
	t_app = gw_mono_ns() - t0;
	/* Opening counts the lines of the newest segment (64 MiB). */
	spool_close(sp);
	t0 = gw_mono_ns();
	sp = sopen(dir, NULL);
	t_open = gw_mono_ns() - t0;
	if (sp == NULL) {
		CHECK(0);
		spool_batch_fini(&b);
		return;
	}
	t0 = gw_mono_ns();
	got = 0;
	while (spool_next(sp, &b, 1000, 5 * 1024 * 1024) == 1) {
		got += b.count;
		(void)spool_ack(sp, &b);
	}
	t_read = gw_mono_ns() - t0;
	CHECK(got == N);
	spool_stats(sp, &st);
	CHECK(st.pending == 0);
	printf("# spool: %d events of ~%d bytes: append+flush+next+ack "
	       "%.0f events/s (%.2f CPU s per million); appends alone %.0f "
	       "events/s; reopening with %d pending %.1f ms; next+ack alone "
	       "%.0f events/s\n",
	    N, LINE - 32, (double)N * 1e9 / (double)t_pipe,
	    (double)c_pipe / CLOCKS_PER_SEC * 1e6 / N,
	    (double)N * 1e9 / (double)t_app, N, (double)t_open / 1e6,
	    (double)N * 1e9 / (double)t_read);
	spool_batch_fini(&b);
	spool_close(sp);
}

/*
 * Random appends, batches of random sizes, acks and releases in random
 * order, flushes and restarts, checked against a model of every line:
 * each batch starts at the lowest line waiting (released lines first)
 * and holds only waiting lines, and in the end every line was delivered.
 */
TEST(test_random_ops)
{
	enum { MAXN = 60000, SLOTS = 8 };
	enum { WAITING, OUT, DONE };
	struct spool_opts o = { 0 };
	struct spool_batch b[SLOTS];
	unsigned char *state;
	char dir[128];
	struct spool *sp;
	uint64_t a = 0, low = 0, i;
	int out[SLOTS] = { 0 }, j, bad = 0, op;

	state = calloc(MAXN, 1);
	if (state == NULL)
		return;
	o.segment_bytes = 4096;
	o.buffer_bytes = 4096;
	o.max_inflight = SLOTS;
	sp = sopen(newdir(dir, sizeof(dir), "random"), &o);
	for (j = 0; j < SLOTS; j++)
		spool_batch_init(&b[j]);
	srand(42);
	for (op = 0; sp != NULL && op < 40000 && !bad; op++) {
		j = rand() % SLOTS;
		switch (rand() % 10) {
		case 0:
		case 1:
		case 2:
			for (int k = rand() % 8; k >= 0 && a < MAXN; k--)
				bad |= put(sp, a++) != 0;
			break;
		case 3:
		case 4:
			if (out[j])
				break;
			if (spool_next(sp, &b[j], (size_t)(rand() % 20 + 1),
			        (size_t)(rand() % 3000 + 1)) != 1)
				break;
			out[j] = 1;
			while (low < a && state[low] != WAITING)
				low++;
			/* The lowest waiting line comes first. */
			bad |= b[j].first != low;
			bad |=
			    !batch_is(&b[j], (long long)b[j].first, b[j].count);
			for (i = b[j].first; i < b[j].first + b[j].count; i++) {
				bad |= i >= a || state[i] != WAITING;
				state[i] = OUT;
			}
			break;
		case 5:
		case 6:
			if (!out[j])
				break;
			bad |= spool_ack(sp, &b[j]) != 0;
			for (i = b[j].first; i < b[j].first + b[j].count; i++)
				state[i] = DONE;
			out[j] = 0;
			break;
		case 7:
			if (!out[j])
				break;
			bad |= spool_release(sp, &b[j]) != 0;
			for (i = b[j].first; i < b[j].first + b[j].count; i++)
				state[i] = WAITING;
			low = 0;
			out[j] = 0;
			break;
		case 8:
			bad |= spool_flush(sp) != 0;
			break;
		default:
			if (rand() % 20 != 0)
				break;
			/* Restart: what was out, or acked after a line still
			 * out, comes again. */
			spool_close(sp);
			for (i = 0; i < a && state[i] == DONE; i++)
				;
			for (; i < a; i++)
				state[i] = WAITING;
			memset(out, 0, sizeof(out));
			low = 0;
			sp = sopen(dir, &o);
			break;
		}
	}
	CHECK(!bad && sp != NULL && op == 40000);
	for (j = 0; j < SLOTS; j++) {
		if (sp != NULL && out[j]) {
			CHECK(spool_release(sp, &b[j]) == 0);
			for (i = b[j].first; i < b[j].first + b[j].count; i++)
				state[i] = WAITING;
		}
		spool_batch_fini(&b[j]);
	}
	if (sp != NULL) {
		long long *got = malloc(MAXN * sizeof(*got));
		long n = got != NULL ? drain(sp, got, MAXN, 50) : -1;

		for (long k = 0; k < n; k++)
			if (got[k] >= 0 && (uint64_t)got[k] < a)
				state[got[k]] = DONE;
		for (i = 0; i < a; i++)
			bad |= state[i] != DONE;
		CHECK(n >= 0 && !bad && a > 10000);
		free(got);
	}
	spool_close(sp);
	free(state);
}

int
main(void)
{
	snprintf(base, sizeof(base), "/tmp/gw-test-spool.XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_round_trip);
	RUN(test_out_of_order_acks);
	RUN(test_release);
	RUN(test_restart);
	RUN(test_kill9);
	RUN(test_torn_line);
	RUN(test_segments);
	RUN(test_block);
	RUN(test_drop_oldest);
	RUN(test_inflight_cap);
	RUN(test_recovery);
	RUN(test_one_opener);
	RUN(test_not_a_spool);
	RUN(test_modes);
	RUN(test_bad_input);
	RUN(test_disk_full);
	RUN(test_random_ops);
	RUN(test_throughput);
	if (getenv("GW_TEST_KEEP") != NULL)
		printf("# kept %s\n", base);
	else
		rm_rf(base);
	return harness_done();
}
