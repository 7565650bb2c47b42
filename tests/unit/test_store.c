/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the store (lib/store*.c), in a temporary directory that
 * is removed at the end: events read back whole and in order both ways,
 * by time range and by id; segments per hour and per size; torn tails
 * left by a crash seen past by readers and repaired by the next writer;
 * a reader following a writer; one writer at a time; directories that
 * are not stores (or are newer ones) refused and left untouched; file
 * modes; retention by age and size; a full disk (RLIMIT_FSIZE) undone
 * and recovered from; and the bytes per event of a realistic stream.
 * With --bench N it times ingest and reads of N realistic events
 * (printed, never judged).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

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

#include "buf.h"
#include "event.h"
#include "evid.h"
#include "evsum.h"
#include "harness.h"
#include "store.h"
#include "timeutil.h"

#define SEC  1000000000ULL
#define HOUR (3600 * SEC)
#define DAY  (24 * HOUR)

static char base[64];
static int ndirs;
/* Event time only moves forward, so that ids carry the events' times. */
static uint64_t clk;

/* A new empty path under the test directory (not created). */
static const char *
newdir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/s%d", base, ndirs++);
	return buf;
}

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Builds a small event at <ts> into <buf>; its id goes to <id>. */
static size_t
mk(char *buf, size_t cap, uint64_t ts, int n, int status, char *id)
{
	char t[GW_RFC3339_LEN], idbuf[GW_EVID_LEN + 1];
	int len;

	if (id == NULL)
		id = idbuf;
	gw_evid_new(ts, id);
	gw_rfc3339(ts, t);
	len = snprintf(buf, cap,
	    "{\"event_id\":\"%s\",\"event_type\":\"http_request_complete.v0\","
	    "\"event_timestamp\":\"%s\",\"principal\":null,\"object\":{"
	    "\"conn\":{\"client_ip\":\"10.0.%d.%d\"},\"http\":{\"request\":{"
	    "\"method\":\"GET\",\"url\":{\"host\":\"h%d.example\"}},"
	    "\"response\":{\"status_code\":%d}},\"duration_ns\":%d,"
	    "\"n\":%d}}",
	    id, t, n / 256 % 256, n % 256, n % 3, status, n * 1000, n);
	return (size_t)len;
}

static int
put(struct gw_store *st, const char *line, size_t len)
{
	struct gw_evsum s;

	if (gw_evsum_extract(&s, line, len) == -1)
		return -2;
	return gw_store_append(st, line, len, &s);
}

/* Appends event <n> at the clock and advances it by <step>. */
static int
put_n(struct gw_store *st, int n, uint64_t step, char *id)
{
	char buf[1024];
	size_t len = mk(buf, sizeof(buf), clk, n, 200 + n % 5, id);

	clk += step;
	return put(st, buf, len);
}

/* The "n" member of an event line made by mk(), or -1. */
static int
n_of(const char *line, size_t len)
{
	const char *p = memmem(line, len, "\"n\":", 4);

	return p != NULL ? atoi(p + 4) : -1;
}

static struct gw_store *
wopen(const char *dir, const struct gw_store_opts *o)
{
	struct gw_error err;
	struct gw_store *st;

	st = gw_store_open(dir, GW_STORE_WRITE | GW_STORE_CREATE, o, &err);
	if (st == NULL)
		fprintf(stderr, "open %s: %s\n", dir, err.msg);
	return st;
}

static struct gw_store *
ropen(const char *dir)
{
	struct gw_error err;
	struct gw_store *st;

	st = gw_store_open(dir, 0, NULL, &err);
	if (st == NULL)
		fprintf(stderr, "open %s: %s\n", dir, err.msg);
	return st;
}

/*
 * Reads every event of the store; checks that the "n" members run from
 * <first> by <step> (+1 or -1; 0 checks nothing) and returns how many
 * there were, or -1.
 */
static long
walk(struct gw_store *st, int64_t since, int64_t until, int flags, int first,
    int step)
{
	struct gw_store_cur *c;
	const struct gw_evsum *s;
	const char *line;
	size_t len;
	long cnt = 0;
	int r, want = first;

	if ((c = gw_store_cur_new(st, since, until, flags)) == NULL)
		return -1;
	while ((r = gw_store_cur_next(c, &s)) == 1) {
		if (gw_store_cur_line(c, &line, &len) == -1 ||
		    (step != 0 && n_of(line, len) != want)) {
			fprintf(stderr,
			    "walk: event %ld: want n=%d, got %.*s\n", cnt, want,
			    (int)len, line);
			cnt = -1;
			break;
		}
		want += step;
		cnt++;
	}
	if (r == -1)
		cnt = -1;
	gw_store_cur_free(c);
	return cnt;
}

/* Counts files in <dir> whose name ends in <ext>. */
static int
count_files(const char *dir, const char *ext)
{
	char cmd[256];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '%s$'", dir, ext);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

/* The path of the <k>th (0-based) segment file with extension <ext>. */
static int
seg_path(const char *dir, int k, const char *ext, char *out, size_t len)
{
	char cmd[256];
	FILE *f;
	int ok = -1;

	snprintf(cmd, sizeof(cmd), "ls %s | grep '%s$' | sed -n %dp", dir, ext,
	    k + 1);
	if ((f = popen(cmd, "r")) != NULL) {
		char name[128];

		if (fgets(name, sizeof(name), f) != NULL) {
			name[strcspn(name, "\n")] = '\0';
			snprintf(out, len, "%s/%s", dir, name);
			ok = 0;
		}
		pclose(f);
	}
	return ok;
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static int
sum_eq(const struct gw_evsum *a, const struct gw_evsum *b)
{
	return a->ts_us == b->ts_us && a->duration_ns == b->duration_ns &&
	    memcmp(a->client_ip, b->client_ip, 16) == 0 &&
	    a->host_hash == b->host_hash && a->status == b->status &&
	    a->method == b->method && a->kind == b->kind &&
	    a->flags == b->flags;
}

TEST(test_roundtrip)
{
	char dir[128], path[256], line[1024];
	struct gw_store_cur *c;
	const struct gw_evsum *s;
	struct gw_evsum want;
	struct gw_store *st;
	struct gw_store_opts o = { .frame_bytes = 8192 };
	int64_t t0 = (int64_t)(clk / 1000);
	struct stat sb;
	const char *p;
	size_t len;
	int i, ok;

	clk = clk / HOUR * HOUR + HOUR; /* all in one hour */
	t0 = (int64_t)(clk / 1000);
	st = wopen(newdir(dir, sizeof(dir)), &o);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	for (i = 0; i < 1000; i++)
		CHECK(put_n(st, i, 1000000, NULL) == 0);
	/* Lines are refused, not stored, when they cannot be NDJSON. */
	memset(&want, 0, sizeof(want));
	CHECK(gw_store_append(st, "{}\n{}", 5, &want) == -1 && errno == EINVAL);
	CHECK(gw_store_append(st, "", 0, &want) == -1 && errno == EINVAL);
	CHECK(gw_store_flush(st) == 0);
	CHECK(gw_store_flush(st) == 0); /* nothing to write */
	gw_store_close(st);

	/* Modes: the directory 0700, every file 0600. */
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	snprintf(path, sizeof(path), "%s/gw-store.json", dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	snprintf(path, sizeof(path), "%s/gw-store.lock", dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(seg_path(dir, 0, ".zst", path, sizeof(path)) == 0);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(seg_path(dir, 0, ".idx", path, sizeof(path)) == 0);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(count_files(dir, ".idx") == 1);

	st = ropen(dir);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(walk(st, INT64_MIN, INT64_MAX, 0, 0, 1) == 1000);
	CHECK(walk(st, INT64_MIN, INT64_MAX, GW_CUR_REVERSE, 999, -1) == 1000);
	/* [since, until): events 100 to 199, each way. */
	CHECK(walk(st, t0 + 100000, t0 + 200000, 0, 100, 1) == 100);
	CHECK(
	    walk(st, t0 + 100000, t0 + 200000, GW_CUR_REVERSE, 199, -1) == 100);
	CHECK(walk(st, t0 + 5000000, INT64_MAX, 0, 0, 1) == 0);

	/* Summaries come back as extracted, without asking for lines. */
	c = gw_store_cur_new(st, INT64_MIN, INT64_MAX, 0);
	CHECK(c != NULL);
	CHECK(gw_store_cur_line(c, &p, &len) == -1 && errno == EINVAL);
	ok = 1;
	clk -= 1000 * 1000000ULL; /* mk() the same events again */
	for (i = 0; c != NULL && i < 1000; i++) {
		size_t n = mk(line, sizeof(line), clk + (uint64_t)i * 1000000,
		    i, 200 + i % 5, NULL);

		gw_evsum_extract(&want, line, n);
		if (gw_store_cur_next(c, &s) != 1 || !sum_eq(s, &want))
			ok = 0;
	}
	clk += 1000 * 1000000ULL;
	CHECK(ok);
	CHECK(c != NULL && gw_store_cur_next(c, &s) == 0);
	CHECK(c != NULL && gw_store_cur_skipped(c) == 0);
	gw_store_cur_free(c);
	/* A reader cannot write. */
	CHECK(gw_store_append(st, "{}", 2, &want) == -1 && errno == EBADF);
	CHECK(gw_store_retain(st, 1, 0, 0, NULL) == -1 && errno == EBADF);
	gw_store_close(st);
}

TEST(test_find)
{
	char dir[128], ids[5][GW_EVID_LEN + 1], buf[1024], absent[64];
	char other[64], ts[GW_RFC3339_LEN];
	struct gw_store_opts o = { .frame_bytes = 4096 };
	struct gw_store *st;
	char *line;
	size_t len;
	int i;

	st = wopen(newdir(dir, sizeof(dir)), &o);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	for (i = 0; i < 500; i++) {
		CHECK(put_n(st, i, 1000, i % 100 == 0 ? ids[i / 100] : NULL) ==
		    0);
		if (i != 250)
			continue;
		/*
		 * An id not stored, and an event in the same frame that names
		 * it in replay_of.
		 */
		gw_evid_new(clk, absent);
		gw_evid_new(clk + 1, other);
		gw_rfc3339(clk + 1, ts);
		clk += 1000;
		len = (size_t)snprintf(buf, sizeof(buf),
		    "{\"event_id\":\"%s\",\"event_timestamp\":\"%s\","
		    "\"object\":{\"replay_of\":\"%s\",\"n\":-7}}",
		    other, ts, absent);
		CHECK(put(st, buf, len) == 0);
	}
	CHECK(gw_store_flush(st) == 0);

	for (i = 0; i < 5; i++) {
		line = NULL;
		CHECK(gw_store_find(st, ids[i], GW_EVID_LEN, &line, &len) == 0);
		CHECK(line != NULL && n_of(line, len) == i * 100);
		CHECK(line != NULL && strlen(line) == len);
		free(line);
	}
	CHECK(gw_store_find(st, absent, GW_EVID_LEN, &line, &len) == 1);
	CHECK(gw_store_find(st, other, GW_EVID_LEN, &line, &len) == 0);
	CHECK(n_of(line, len) == -7);
	free(line);
	CHECK(gw_store_find(st, "ev_nope", 7, &line, &len) == 1);
	CHECK(gw_store_find(st, ids[0], GW_EVID_LEN - 1, &line, &len) == 1);
	gw_store_close(st);
}

TEST(test_rollover)
{
	char dir[128];
	struct gw_store_opts o = { .frame_bytes = 2048 };
	struct gw_store *st;
	int i;

	/* Three hours of events, then a late one: three segments. */
	clk = clk / HOUR * HOUR + HOUR;
	st = wopen(newdir(dir, sizeof(dir)), &o);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	for (i = 0; i < 300; i++)
		CHECK(put_n(st, i, 36 * SEC, NULL) == 0);
	{
		char buf[1024];
		size_t len =
		    mk(buf, sizeof(buf), clk - 2 * HOUR, 300, 200, NULL);

		CHECK(put(st, buf, len) == 0);
	}
	gw_store_close(st);
	CHECK(count_files(dir, ".idx") == 3);
	CHECK(count_files(dir, ".zst") == 3);
	st = ropen(dir);
	CHECK(st != NULL);
	CHECK(st != NULL && walk(st, INT64_MIN, INT64_MAX, 0, 0, 1) == 301);
	CHECK(st != NULL &&
	    walk(st, INT64_MIN, INT64_MAX, GW_CUR_REVERSE, 300, -1) == 301);
	gw_store_close(st);

	/* A size limit: a new segment whenever one reaches 4 KiB. */
	o.segment_bytes = 4096;
	st = wopen(newdir(dir, sizeof(dir)), &o);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	for (i = 0; i < 400; i++)
		CHECK(put_n(st, i, 1000, NULL) == 0);
	gw_store_close(st);
	CHECK(count_files(dir, ".idx") > 3);
	st = ropen(dir);
	CHECK(st != NULL && walk(st, INT64_MIN, INT64_MAX, 0, 0, 1) == 400);
	CHECK(st != NULL &&
	    walk(st, INT64_MIN, INT64_MAX, GW_CUR_REVERSE, 399, -1) == 400);
	gw_store_close(st);
}

/* Writes <n> events as frames of 10, from event number <from>. */
static void
fill(const char *dir, int from, int n)
{
	struct gw_store *st = wopen(dir, NULL);
	int i;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	for (i = from; i < from + n; i++) {
		CHECK(put_n(st, i, 1000, NULL) == 0);
		if (i % 10 == 9)
			CHECK(gw_store_flush(st) == 0);
	}
	gw_store_close(st);
}

static long
count_all(const char *dir)
{
	struct gw_store *st = ropen(dir);
	long n;

	if (st == NULL)
		return -1;
	n = walk(st, INT64_MIN, INT64_MAX, 0, 0, 1);
	gw_store_close(st);
	return n;
}

static void
append_bytes(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	CHECK(fd != -1);
	if (fd != -1) {
		CHECK(write(fd, s, n) == (ssize_t)n);
		close(fd);
	}
}

TEST(test_torn_tails)
{
	char dir[128], zst[256], idx[256], garbage[70];
	off_t zlen, ilen;

	clk = clk / HOUR * HOUR + HOUR;
	newdir(dir, sizeof(dir));
	fill(dir, 0, 50);
	CHECK(count_all(dir) == 50);
	CHECK(seg_path(dir, 0, ".zst", zst, sizeof(zst)) == 0);
	CHECK(seg_path(dir, 0, ".idx", idx, sizeof(idx)) == 0);
	zlen = file_size(zst);
	ilen = file_size(idx);
	CHECK(ilen == 32 + 5 * 64);

	/* A unit written without its record: invisible, then cut. */
	append_bytes(zst, "(\xb5/\xfd partial frame", 18);
	CHECK(count_all(dir) == 50);
	fill(dir, 50, 10);
	CHECK(count_all(dir) == 60);
	CHECK(file_size(idx) == ilen + 64);
	zlen = file_size(zst);
	ilen = file_size(idx);

	/* Garbage after the last record. */
	memset(garbage, 'g', sizeof(garbage));
	append_bytes(idx, garbage, sizeof(garbage));
	CHECK(count_all(dir) == 60);
	fill(dir, 60, 10);
	CHECK(count_all(dir) == 70);
	CHECK(file_size(idx) == ilen + 64);
	ilen = file_size(idx);
	zlen = file_size(zst);

	/* A record torn in the middle. */
	CHECK(truncate(idx, ilen - 20) == 0);
	CHECK(count_all(dir) == 60);
	fill(dir, 60, 10);
	CHECK(count_all(dir) == 70);
	CHECK(file_size(idx) == ilen);
	ilen = file_size(idx);

	/* The data cut in the middle of the last unit (its record kept). */
	zlen = file_size(zst);
	CHECK(truncate(zst, zlen - 10) == 0);
	CHECK(count_all(dir) == 60);
	fill(dir, 60, 10);
	CHECK(count_all(dir) == 70);
	CHECK(file_size(idx) == ilen);

	/* A segment created but never given a header: removed. */
	clk += HOUR;
	fill(dir, 70, 10);
	CHECK(count_files(dir, ".idx") == 2);
	CHECK(seg_path(dir, 1, ".idx", idx, sizeof(idx)) == 0);
	CHECK(truncate(idx, 0) == 0);
	CHECK(count_all(dir) == 70);
	fill(dir, 70, 10);
	CHECK(count_all(dir) == 80);
	CHECK(count_files(dir, ".idx") == 2);
	CHECK(count_files(dir, ".zst") == 2);
	(void)zlen;
}

TEST(test_follow)
{
	char dir[128];
	struct gw_store *w, *r;
	struct gw_store_cur *tail, *fwd;
	const struct gw_evsum *s;
	const char *line;
	size_t len;
	int i, got, want;

	clk = clk / HOUR * HOUR + HOUR;
	w = wopen(newdir(dir, sizeof(dir)), NULL);
	r = ropen(dir);
	CHECK(w != NULL && r != NULL);
	if (w == NULL || r == NULL)
		goto out;
	tail = gw_store_cur_new(r, INT64_MIN, INT64_MAX, GW_CUR_TAIL);
	CHECK(tail != NULL);
	if (tail == NULL)
		goto out;
	CHECK(gw_store_cur_next(tail, &s) == 0);
	CHECK(gw_store_cur_refresh(tail) == 0);

	/* Unflushed events are not visible; flushed ones are. */
	for (i = 0; i < 25; i++)
		CHECK(put_n(w, i, 1000, NULL) == 0);
	CHECK(gw_store_cur_refresh(tail) == 0);
	CHECK(gw_store_flush(w) == 0);
	CHECK(gw_store_cur_refresh(tail) == 1);
	for (got = 0, want = 0; gw_store_cur_next(tail, &s) == 1; got++)
		if (gw_store_cur_line(tail, &line, &len) == 0 &&
		    n_of(line, len) == want)
			want++;
	CHECK(got == 25 && want == 25);

	/* More frames, then two new hours before the reader looks. */
	for (i = 25; i < 50; i++)
		CHECK(put_n(w, i, 1000, NULL) == 0);
	CHECK(gw_store_flush(w) == 0);
	clk += HOUR;
	for (i = 50; i < 60; i++)
		CHECK(put_n(w, i, 1000, NULL) == 0);
	clk += HOUR;
	for (i = 60; i < 70; i++)
		CHECK(put_n(w, i, 1000, NULL) == 0);
	CHECK(gw_store_flush(w) == 0);
	CHECK(gw_store_cur_refresh(tail) == 1);
	for (got = 0; gw_store_cur_next(tail, &s) == 1; got++)
		if (gw_store_cur_line(tail, &line, &len) == 0 &&
		    n_of(line, len) == want)
			want++;
	CHECK(got == 45 && want == 70);
	CHECK(gw_store_cur_refresh(tail) == 0);

	/* A new tail starts at the end; a forward cursor from the start. */
	fwd = gw_store_cur_new(r, INT64_MIN, INT64_MAX, GW_CUR_TAIL);
	CHECK(fwd != NULL && gw_store_cur_next(fwd, &s) == 0);
	gw_store_cur_free(fwd);
	CHECK(walk(r, INT64_MIN, INT64_MAX, 0, 0, 1) == 70);
	CHECK(gw_store_cur_new(r, 0, 1, GW_CUR_TAIL | GW_CUR_REVERSE) == NULL);
	fwd = gw_store_cur_new(r, INT64_MIN, INT64_MAX, GW_CUR_REVERSE);
	CHECK(fwd != NULL && gw_store_cur_refresh(fwd) == -1);
	gw_store_cur_free(fwd);
	gw_store_cur_free(tail);
out:
	gw_store_close(w);
	gw_store_close(r);
}

TEST(test_one_writer)
{
	char dir[128];
	struct gw_store *a, *b, *r;
	struct gw_error err;
	char pid[32];

	a = wopen(newdir(dir, sizeof(dir)), NULL);
	CHECK(a != NULL);
	errno = 0;
	b = gw_store_open(dir, GW_STORE_WRITE, NULL, &err);
	CHECK(b == NULL && errno == EBUSY);
	snprintf(pid, sizeof(pid), "(pid %ld)", (long)getpid());
	CHECK(b == NULL && strstr(err.msg, pid) != NULL);
	r = ropen(dir); /* readers take no lock */
	CHECK(r != NULL);
	gw_store_close(r);
	gw_store_close(a);
	b = gw_store_open(dir, GW_STORE_WRITE, NULL, &err);
	CHECK(b != NULL);
	gw_store_close(b);
}

static void
write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd != -1);
	if (fd != -1) {
		CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
		close(fd);
	}
}

TEST(test_not_a_store)
{
	char dir[128], path[256], cmd[300];
	struct gw_error err;
	struct gw_store *st;
	struct stat sb;

	/* A directory with something else in it is never touched. */
	newdir(dir, sizeof(dir));
	CHECK(mkdir(dir, 0755) == 0);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	write_file(path, "mine\n");
	errno = 0;
	st = gw_store_open(dir, GW_STORE_WRITE | GW_STORE_CREATE, NULL, &err);
	CHECK(st == NULL && errno == EINVAL);
	CHECK(strstr(err.msg, "not a gw store") != NULL);
	st = gw_store_open(dir, 0, NULL, &err);
	CHECK(st == NULL && errno == EINVAL);
	snprintf(cmd, sizeof(cmd), "test \"$(ls -A %s)\" = notes.txt", dir);
	CHECK(system(cmd) == 0);
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0755);

	/* A marker that is not ours. */
	snprintf(path, sizeof(path), "%s/gw-store.json", dir);
	write_file(path, "{\"format\":\"other\",\"version\":1}");
	st = gw_store_open(dir, GW_STORE_WRITE | GW_STORE_CREATE, NULL, &err);
	CHECK(st == NULL && errno == EINVAL);
	write_file(path, "garbage");
	st = gw_store_open(dir, GW_STORE_WRITE | GW_STORE_CREATE, NULL, &err);
	CHECK(st == NULL && errno == EINVAL);

	/* A newer format. */
	write_file(path, "{\"format\":\"gw-store\",\"version\":2}\n");
	errno = 0;
	st = gw_store_open(dir, GW_STORE_WRITE | GW_STORE_CREATE, NULL, &err);
	CHECK(st == NULL && errno == EPROTONOSUPPORT);
	CHECK(strstr(err.msg, "version 2 is newer") != NULL);
	st = gw_store_open(dir, 0, NULL, &err);
	CHECK(st == NULL && errno == EPROTONOSUPPORT);
	snprintf(cmd, sizeof(cmd),
	    "test \"$(ls -A %s | tr '\\n' ' ')\" = 'gw-store.json notes.txt '",
	    dir);
	CHECK(system(cmd) == 0);

	/* An empty directory is a store only when asked to create one. */
	newdir(dir, sizeof(dir));
	CHECK(mkdir(dir, 0750) == 0);
	errno = 0;
	st = gw_store_open(dir, 0, NULL, &err);
	CHECK(st == NULL && errno == ENOENT);
	st = gw_store_open(dir, GW_STORE_WRITE, NULL, &err);
	CHECK(st == NULL && errno == ENOENT);
	st = gw_store_open(dir, GW_STORE_WRITE | GW_STORE_CREATE, NULL, &err);
	CHECK(st != NULL);
	gw_store_close(st);
	st = gw_store_open(dir, 0, NULL, &err);
	CHECK(st != NULL);
	CHECK(st != NULL && walk(st, INT64_MIN, INT64_MAX, 0, 0, 1) == 0);
	gw_store_close(st);
	/* Missing parents are made too, as mkdir -p does. */
	snprintf(path, sizeof(path), "%s/no/such", base);
	st = gw_store_open(path, GW_STORE_WRITE | GW_STORE_CREATE, NULL, &err);
	CHECK(st != NULL);
	gw_store_close(st);
	/* A parent that is a file is not. */
	snprintf(path, sizeof(path), "%s/no/such/gw-store.json/x", base);
	st = gw_store_open(path, GW_STORE_WRITE | GW_STORE_CREATE, NULL, &err);
	CHECK(st == NULL && errno == ENOTDIR);
	CHECK(strstr(err.msg, path) != NULL);
}

TEST(test_retention)
{
	char dir[128];
	struct gw_store_prune_stats ps;
	struct gw_store_info info;
	struct gw_store *st;
	uint64_t start, one;
	int i, d;

	/* Segments 0, 1, 4 and 5 days after <start>. */
	clk = clk / DAY * DAY + DAY;
	start = clk;
	st = wopen(newdir(dir, sizeof(dir)), NULL);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	for (d = 0; d <= 5; d++) {
		if (d == 2 || d == 3)
			continue;
		clk = start + (uint64_t)d * DAY;
		for (i = 0; i < 100; i++)
			CHECK(put_n(st, d * 100 + i, SEC, NULL) == 0);
	}
	CHECK(gw_store_flush(st) == 0);
	CHECK(count_files(dir, ".idx") == 4);
	CHECK(gw_store_info(st, &info) == 0);
	CHECK(info.segments == 4 && info.events == 400);
	one = info.bytes / 4;

	/* Older than 3 days before "now" = start + 5 days + 1 hour. */
	CHECK(gw_store_retain(st, (int64_t)(3 * DAY / 1000), 0,
	          (int64_t)((start + 5 * DAY + HOUR) / 1000), &ps) == 0);
	CHECK(ps.segments == 2 && ps.events == 200 && ps.bytes > 0);
	CHECK(count_files(dir, ".idx") == 2);
	CHECK(count_files(dir, ".zst") == 2);
	CHECK(walk(st, INT64_MIN, INT64_MAX, 0, 400, 1) == 200);

	/* By size: the oldest go first, the one being written never. */
	CHECK(gw_store_retain(st, 0, one + one / 2, 0, &ps) == 0);
	CHECK(ps.segments == 1 && ps.events == 100);
	CHECK(walk(st, INT64_MIN, INT64_MAX, 0, 500, 1) == 100);
	CHECK(gw_store_retain(st, 0, 1, 0, &ps) == 0);
	CHECK(ps.segments == 0);
	CHECK(gw_store_retain(st, 1, 0, INT64_MAX, &ps) == 0);
	CHECK(ps.segments == 0);
	CHECK(count_files(dir, ".idx") == 1);
	gw_store_close(st);

	/* Closed, it is no longer protected. */
	st = wopen(dir, NULL);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(gw_store_retain(st, 0, 1, 0, &ps) == 0);
	CHECK(count_files(dir, ".idx") == 1); /* the writer continues it */
	clk += HOUR;
	CHECK(put_n(st, 600, SEC, NULL) == 0);
	CHECK(gw_store_flush(st) == 0);
	CHECK(gw_store_retain(st, 0, 1, 0, &ps) == 0);
	CHECK(ps.segments == 1 && ps.events == 100);
	CHECK(walk(st, INT64_MIN, INT64_MAX, 0, 600, 1) == 1);
	gw_store_close(st);
}

TEST(test_disk_full)
{
	char dir[128], zst[256], idx[256];
	struct gw_store_opts o = { .frame_bytes = 4096 };
	struct gw_store_counters cn;
	struct rlimit saved, lim;
	struct gw_store *st;
	off_t zlen, ilen;
	int i, flush_rc, flush_errno, nospace, appended = 0, refused = 0;
	int append_errno = 0;

	clk = clk / HOUR * HOUR + HOUR;
	st = wopen(newdir(dir, sizeof(dir)), &o);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	for (i = 0; i < 100; i++)
		CHECK(put_n(st, i, 1000, NULL) == 0);
	CHECK(gw_store_flush(st) == 0);
	CHECK(seg_path(dir, 0, ".zst", zst, sizeof(zst)) == 0);
	CHECK(seg_path(dir, 0, ".idx", idx, sizeof(idx)) == 0);
	zlen = file_size(zst);
	ilen = file_size(idx);

	/*
	 * Files may not grow past a few bytes more than the data file
	 * (writes then fail with EFBIG, as they would with ENOSPC).  Nothing
	 * may print meanwhile: stdout may be a file too.
	 */
	signal(SIGXFSZ, SIG_IGN);
	CHECK(getrlimit(RLIMIT_FSIZE, &saved) == 0);
	lim = saved;
	lim.rlim_cur = (rlim_t)zlen + 100;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	for (i = 100; i < 110; i++)
		put_n(st, i, 1000, NULL);
	flush_rc = gw_store_flush(st);
	flush_errno = errno;
	nospace = gw_store_nospace(flush_errno);
	/* The batch is kept; what does not fit beside it is refused. */
	for (i = 110; i < 300; i++) {
		if (put_n(st, i, 1000, NULL) == 0)
			appended++;
		else {
			refused++;
			append_errno = errno;
		}
	}
	setrlimit(RLIMIT_FSIZE, &saved);
	signal(SIGXFSZ, SIG_DFL);

	CHECK(flush_rc == -1 && flush_errno == EFBIG && nospace);
	CHECK(refused > 0 && gw_store_nospace(append_errno));
	CHECK(file_size(zst) == zlen && file_size(idx) == ilen);
	CHECK(count_all(dir) == 100);
	gw_store_counters(st, &cn);
	CHECK(cn.dropped == (uint64_t)refused && cn.write_errors >= 1);
	CHECK(cn.last_errno == EFBIG);

	/* Space is back: the kept batch is written. */
	CHECK(gw_store_flush(st) == 0);
	gw_store_counters(st, &cn);
	CHECK(cn.last_errno == 0);
	CHECK(cn.events == (uint64_t)(100 + 10 + appended));
	CHECK(put_n(st, 1000, 1000, NULL) == 0);
	gw_store_close(st);
	st = ropen(dir);
	CHECK(st != NULL);
	CHECK(st != NULL &&
	    walk(st, INT64_MIN, INT64_MAX, 0, 0, 0) == 100 + 10 + appended + 1);
	gw_store_close(st);
}

/* Flips one byte of <path> at <off>. */
static void
flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	CHECK(fd != -1);
	if (fd == -1)
		return;
	CHECK(pread(fd, &c, 1, off) == 1);
	c ^= 0x55;
	CHECK(pwrite(fd, &c, 1, off) == 1);
	close(fd);
}

TEST(test_corrupt_frames)
{
	char dir[128], zst[256], idx[256];
	struct gw_store_cur *c;
	const struct gw_evsum *s;
	struct gw_store *st;
	const char *line;
	unsigned char b[4] = { 0 };
	off_t sum_len;
	size_t len;
	int n, bad, fd;

	/* Five frames of ten; damage the events of the first one. */
	clk = clk / HOUR * HOUR + HOUR;
	newdir(dir, sizeof(dir));
	fill(dir, 0, 50);
	CHECK(seg_path(dir, 0, ".zst", zst, sizeof(zst)) == 0);
	CHECK(seg_path(dir, 0, ".idx", idx, sizeof(idx)) == 0);
	/* The first record's summary frame size: where its events start. */
	fd = open(idx, O_RDONLY);
	CHECK(fd != -1 && pread(fd, b, 4, 32 + 8) == 4);
	if (fd != -1)
		close(fd);
	sum_len = (off_t)(b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24);
	flip(zst, sum_len + 20);
	st = ropen(dir);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	c = gw_store_cur_new(st, INT64_MIN, INT64_MAX, 0);
	CHECK(c != NULL);
	for (n = 0, bad = 0; c != NULL && gw_store_cur_next(c, &s) == 1; n++)
		if (gw_store_cur_line(c, &line, &len) == -1) {
			CHECK(errno == EBADMSG);
			bad++;
		}
	CHECK(n == 50 && bad == 10);
	gw_store_cur_free(c);
	gw_store_close(st);

	/* Damage a summary block: that frame is skipped and counted. */
	flip(zst, 8 + 10);
	st = ropen(dir);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	c = gw_store_cur_new(st, INT64_MIN, INT64_MAX, GW_CUR_REVERSE);
	for (n = 0; c != NULL && gw_store_cur_next(c, &s) == 1; n++)
		;
	CHECK(n == 40 && c != NULL && gw_store_cur_skipped(c) == 1);
	gw_store_cur_free(c);
	gw_store_close(st);
}

TEST(test_no_timestamp)
{
	char dir[128], name[64], want[64];
	struct gw_store *st;
	struct gw_evsum s;
	const char *ev = "{\"event_type\":\"x\",\"n\":0}";
	uint64_t now = gw_now_ns();
	time_t hour = (time_t)(now / SEC / 3600 * 3600);
	struct tm tm;

	st = wopen(newdir(dir, sizeof(dir)), NULL);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(gw_evsum_extract(&s, ev, strlen(ev)) == 0 && s.ts_us == 0);
	CHECK(gw_store_append(st, ev, strlen(ev), &s) == 0);
	CHECK(gw_store_flush(st) == 0);
	/* Only unbounded ranges (or ranges around 0) hold it. */
	CHECK(walk(st, INT64_MIN, INT64_MAX, 0, 0, 1) == 1);
	CHECK(walk(st, 0, 1, 0, 0, 1) == 1);
	CHECK(walk(st, 1, INT64_MAX, 0, 0, 1) == 0);
	CHECK(walk(st, INT64_MIN, 0, 0, 0, 1) == 0);
	gw_store_close(st);
	/* Its segment is named after the hour it was written in. */
	gmtime_r(&hour, &tm);
	strftime(want, sizeof(want), "00000001-%Y%m%dT%H.idx", &tm);
	CHECK(seg_path(dir, 0, ".idx", name, sizeof(name)) == 0);
	CHECK(strstr(name, want) != NULL);
}

/*
 * A writer killed with SIGKILL while it stores: every whole frame is
 * readable, and the next writer repairs the tail and goes on.
 */
TEST(test_kill9)
{
	char dir[128];
	struct gw_store *st;
	long before, after;
	pid_t pid;
	int i, status;

	clk = clk / HOUR * HOUR + HOUR;
	newdir(dir, sizeof(dir));
	st = wopen(dir, NULL);
	CHECK(st != NULL);
	gw_store_close(st);
	if ((pid = fork()) == 0) {
		struct gw_store_opts o = { .frame_bytes = 1024 };

		st = gw_store_open(dir, GW_STORE_WRITE, &o, NULL);
		for (i = 0; st != NULL; i++)
			put_n(st, i, 1000, NULL);
		_exit(1);
	}
	CHECK(pid > 0);
	/* Let it commit a few hundred events first, however slow it is. */
	for (i = 0; i < 1000; i++) {
		struct gw_store_info info;

		usleep(10000);
		st = gw_store_open(dir, 0, NULL, NULL);
		if (st != NULL && gw_store_info(st, &info) == 0 &&
		    info.events > 300)
			i = 1000;
		gw_store_close(st);
	}
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	before = count_all(dir);
	CHECK(before > 0);
	clk += 1000 * 1000 * (uint64_t)(before + 1000);
	st = wopen(dir, NULL);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	for (i = 0; i < 10; i++)
		CHECK(put_n(st, (int)before + i, 1000, NULL) == 0);
	gw_store_close(st);
	after = count_all(dir);
	CHECK(after == before + 10);
}

/* A deterministic generator of realistic metadata-only events. */
struct gen {
	uint64_t x;
	uint64_t ts;
	int reqid; /* every request carries a random X-Request-Id */
	struct gw_buf b;
};

static uint64_t
rnd(struct gen *g)
{
	g->x ^= g->x << 13;
	g->x ^= g->x >> 7;
	g->x ^= g->x << 17;
	return g->x;
}

static const char *
gen_event(struct gen *g, size_t *len)
{
	/* Path prefix, and whether an id and a suffix follow. */
	static const struct {
		const char *a;
		int id;
		const char *b;
	} paths[] = { { "/v1/orders", 0, "" }, { "/v1/orders/", 1, "" },
		{ "/v1/users/", 1, "" }, { "/v1/items", 0, "" },
		{ "/v1/items/", 1, "/stock" }, { "/healthz", 0, "" },
		{ "/v1/search", 0, "" }, { "/v2/payments/", 1, "" } };
	static const char *const uas[] = {
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, "
		"like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"curl/8.5.0", "python-requests/2.32.3", "okhttp/4.12.0",
		"Go-http-client/1.1", "PostmanRuntime/7.42.0"
	};
	static const int statuses[] = { 200, 200, 200, 200, 200, 200, 200, 200,
		201, 204, 304, 400, 401, 404, 429, 500 };
	static const char *const methods[] = { "GET", "GET", "GET", "POST",
		"PUT", "DELETE" };
	struct gw_conn_info ci;
	struct gw_exchange x;
	struct gw_hdr rq[6], rs[4];
	char path[64], len_s[16], reqid[40], date[40],
	    srvname[] = "api.example.com";
	uint64_t r = rnd(g), dur;
	unsigned pi = (unsigned)(r % 8), client = (unsigned)(r >> 8) % 500;
	int st = statuses[(r >> 20) % 16];

	g->ts += 200000 + rnd(g) % 200000; /* ~3,300 events/s */
	dur = 200000 + rnd(g) % 50000000;
	memset(&ci, 0, sizeof(ci));
	snprintf(ci.client_ip, sizeof(ci.client_ip), "203.0.%u.%u",
	    client / 250, client % 250 + 1);
	ci.client_port = 20000 + (int)(rnd(g) % 40000);
	snprintf(ci.server_ip, sizeof(ci.server_ip), "10.0.0.5");
	ci.server_port = 443;
	ci.server_name = (struct gw_str){ srvname, sizeof(srvname) - 1 };
	ci.start_ns = g->ts - dur - rnd(g) % 5000000000ULL;
	if (paths[pi].id)
		snprintf(path, sizeof(path), "%s%u%s", paths[pi].a,
		    (unsigned)(rnd(g) % 100000), paths[pi].b);
	else
		snprintf(path, sizeof(path), "%s", paths[pi].a);
	snprintf(reqid, sizeof(reqid), "%016llx", (unsigned long long)rnd(g));
	memset(&x, 0, sizeof(x));
	x.conn = &ci;
	x.method = (struct gw_str){ methods[(r >> 30) % 6],
		strlen(methods[(r >> 30) % 6]) };
	x.version = GW_STR("HTTP/1.1");
	x.scheme = GW_STR("https");
	x.host = GW_STR("api.example.com");
	x.path = (struct gw_str){ path, strlen(path) };
	x.query = (r >> 40) % 4 == 0 ? GW_STR("page=2&limit=50") : GW_STR("");
	x.user_agent =
	    (struct gw_str){ uas[client % 6], strlen(uas[client % 6]) };
	rq[0] = (struct gw_hdr){ GW_STR("host"), GW_STR("api.example.com") };
	rq[1] = (struct gw_hdr){ GW_STR("user-agent"), x.user_agent };
	rq[2] = (struct gw_hdr){ GW_STR("accept"), GW_STR("application/json") };
	rq[3] = (struct gw_hdr){ GW_STR("accept-encoding"),
		GW_STR("gzip, deflate, br") };
	rq[4] =
	    (struct gw_hdr){ GW_STR("authorization"), GW_STR("Bearer secret") };
	rq[5] =
	    (struct gw_hdr){ GW_STR("x-request-id"), { reqid, strlen(reqid) } };
	x.req_headers = rq;
	x.n_req_headers = g->reqid ? 6 : 5;
	x.req_first_ns = g->ts - dur;
	x.req_last_ns = g->ts - dur + 1000;
	x.status = st;
	snprintf(len_s, sizeof(len_s), "%u", (unsigned)(rnd(g) % 4000));
	gw_rfc3339(g->ts / SEC * SEC, date);
	rs[0] = (struct gw_hdr){ GW_STR("content-type"),
		GW_STR("application/json; charset=utf-8") };
	rs[1] = (struct gw_hdr){ GW_STR("content-length"),
		{ len_s, strlen(len_s) } };
	rs[2] = (struct gw_hdr){ GW_STR("date"), { date, strlen(date) } };
	rs[3] = (struct gw_hdr){ GW_STR("cache-control"), GW_STR("no-store") };
	x.res_headers = rs;
	x.n_res_headers = 4;
	x.res_body_length = (uint64_t)atoi(len_s);
	x.res_first_ns = g->ts - 20000;
	x.res_last_ns = g->ts;
	x.has_backend = st != 429;
	x.connection_reused = (r >> 50) % 8 != 0;
	x.backend_url = GW_STR("http://127.0.0.1:3000");
	x.connect_ns = x.connection_reused ? 0 : 150000;
	x.response_ns = dur - 30000;
	x.tls_version = "1.3";
	x.tls_cipher = "TLS_AES_128_GCM_SHA256";
	x.duration_ns = dur;
	if (st == 429)
		x.error_code = "GW_RATE_LIMITED";
	x.redact = &gw_redact_default;
	gw_buf_reset(&g->b);
	if (gw_event_http_complete(&g->b, &x, g->ts, NULL) == -1)
		return NULL;
	*len = g->b.len;
	return gw_buf_head(&g->b);
}

/*
 * Stores <n> generated events with writer options <o> (NULL: defaults);
 * prints rates and bytes per event.
 */
static double
ingest(const char *dir, long n, const struct gw_store_opts *o, int reqid,
    int print)
{
	struct gen g = { .x = 88172645463325252ULL, .reqid = reqid };
	struct gw_store_info info;
	struct gw_store *st;
	struct gw_evsum s;
	struct gw_store_cur *c;
	const struct gw_evsum *sp;
	char **lines;
	size_t *lens, raw = 0, len;
	uint64_t t0, t_ing, t_sum, t_line, t_list, t_find;
	long i, k;
	const char *p;

	g.ts = clk;
	gw_buf_init(&g.b, 0);
	lines = calloc((size_t)n, sizeof(*lines));
	lens = calloc((size_t)n, sizeof(*lens));
	if (lines == NULL || lens == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		p = gen_event(&g, &len);
		if (p == NULL || (lines[i] = malloc(len)) == NULL)
			return -1;
		memcpy(lines[i], p, len);
		lens[i] = len;
		raw += len;
	}
	clk = g.ts + SEC;
	gw_buf_fini(&g.b);

	st = wopen(dir, o);
	if (st == NULL)
		return -1;
	t0 = gw_mono_ns();
	for (i = 0; i < n; i++) {
		if (gw_evsum_extract(&s, lines[i], lens[i]) == -1 ||
		    gw_store_append(st, lines[i], lens[i], &s) == -1)
			break;
	}
	CHECK(i == n);
	CHECK(gw_store_flush(st) == 0);
	t_ing = gw_mono_ns() - t0;
	gw_store_close(st); /* syncs: not part of the rate */

	st = ropen(dir);
	if (st == NULL)
		return -1;
	CHECK(gw_store_info(st, &info) == 0);
	CHECK(info.events == (uint64_t)n);
	t0 = gw_mono_ns();
	c = gw_store_cur_new(st, INT64_MIN, INT64_MAX, GW_CUR_REVERSE);
	for (k = 0; c != NULL && gw_store_cur_next(c, &sp) == 1; k++)
		;
	gw_store_cur_free(c);
	t_sum = gw_mono_ns() - t0;
	CHECK(k == n);
	t0 = gw_mono_ns();
	c = gw_store_cur_new(st, INT64_MIN, INT64_MAX, 0);
	for (k = 0; c != NULL && gw_store_cur_next(c, &sp) == 1; k++)
		if (gw_store_cur_line(c, &p, &len) == -1 || len != lens[k] ||
		    memcmp(p, lines[k], len) != 0)
			break;
	gw_store_cur_free(c);
	t_line = gw_mono_ns() - t0;
	CHECK(k == n);

	/* list: the newest 100 server errors, with their lines. */
	t0 = gw_mono_ns();
	c = gw_store_cur_new(st, INT64_MIN, INT64_MAX, GW_CUR_REVERSE);
	for (k = 0; k < 100 && c != NULL && gw_store_cur_next(c, &sp) == 1;)
		if (sp->status >= 500 && gw_store_cur_line(c, &p, &len) == 0)
			k++;
	gw_store_cur_free(c);
	t_list = gw_mono_ns() - t0;
	/* show: an event from the middle, by id. */
	t0 = gw_mono_ns();
	if (gw_evsum_event_id(lines[n / 2], lens[n / 2], &p, &len) == 0) {
		char *found = NULL;
		size_t flen;

		CHECK(gw_store_find(st, p, len, &found, &flen) == 0);
		CHECK(found != NULL && flen == lens[n / 2]);
		free(found);
	}
	t_find = gw_mono_ns() - t0;
	gw_store_close(st);
	if (print)
		printf("# store: %ld events of %.0f bytes on average: %.1f "
		       "bytes/event on disk (%llu segments, %llu frames); "
		       "extract+append %.0f events/s; all summaries newest "
		       "first %.0f events/s; all lines %.0f events/s; newest "
		       "100 with status >= 500 %.2f ms; find by id %.2f ms\n",
		    n, (double)raw / (double)n, (double)info.bytes / (double)n,
		    (unsigned long long)info.segments,
		    (unsigned long long)info.frames,
		    (double)n * 1e9 / (double)t_ing,
		    (double)n * 1e9 / (double)t_sum,
		    (double)n * 1e9 / (double)t_line, (double)t_list / 1e6,
		    (double)t_find / 1e6);
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(lens);
	return (double)info.bytes / (double)n;
}

TEST(test_bytes_per_event)
{
	char dir[128];
	double bpe;

	clk = clk / HOUR * HOUR + HOUR;
	bpe = ingest(newdir(dir, sizeof(dir)), 30000, NULL, 1, 1);
	CHECK(bpe > 0 && bpe < 200);
}

int
main(int argc, char **argv)
{
	char dir[128];

	snprintf(base, sizeof(base), "/tmp/gw-test-store.XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	clk = gw_now_ns() - 60 * DAY;
	RUN(test_roundtrip);
	RUN(test_find);
	RUN(test_rollover);
	RUN(test_torn_tails);
	RUN(test_follow);
	RUN(test_one_writer);
	RUN(test_not_a_store);
	RUN(test_retention);
	RUN(test_disk_full);
	RUN(test_corrupt_frames);
	RUN(test_no_timestamp);
	RUN(test_kill9);
	RUN(test_bytes_per_event);
	/* --bench N [LEVEL [FRAME_KIB [REQID]]] */
	if (argc >= 3 && strcmp(argv[1], "--bench") == 0) {
		struct gw_store_opts o = { 0 };

		if (argc >= 4)
			o.level = atoi(argv[3]);
		if (argc >= 5)
			o.frame_bytes = (size_t)atol(argv[4]) * 1024;
		clk = clk / HOUR * HOUR + HOUR;
		ingest(newdir(dir, sizeof(dir)), atol(argv[2]), &o,
		    argc >= 6 ? atoi(argv[5]) : 1, 1);
	}
	if (getenv("GW_TEST_KEEP") != NULL)
		printf("# kept %s\n", base);
	else
		rm_rf(base);
	return harness_done();
}
