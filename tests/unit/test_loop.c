/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/loop.c: timers fire in deadline order and may be
 * re-armed or stopped from any callback; a watcher stopped and freed by
 * another callback of the same epoll batch never hears of its stale event;
 * signals arrive through the signalfd; pipes read and write.  Every test
 * arms a watchdog so that a broken loop fails instead of hanging, and
 * timings only have lower bounds: the machine may be slow.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "loop.h"

#define WATCHDOG_MS 10000

static int watchdog_fired;

static void
watchdog_cb(struct gw_loop *loop, struct gw_timer *t)
{
	(void)t;
	watchdog_fired = 1;
	gw_loop_stop(loop);
}

/* Runs <loop> with a watchdog; returns gw_loop_run()'s result. */
static int
run_guarded(struct gw_loop *loop)
{
	struct gw_timer wd;
	int rc;

	watchdog_fired = 0;
	gw_timer_init(&wd, watchdog_cb, NULL);
	gw_timer_set(loop, &wd, WATCHDOG_MS);
	rc = gw_loop_run(loop);
	gw_timer_stop(loop, &wd);
	CHECK(!watchdog_fired);
	return rc;
}

static void
stop_cb(struct gw_loop *loop, struct gw_timer *t)
{
	(void)t;
	gw_loop_stop(loop);
}

/* Timers record their tag (passed as arg) in this order log. */
static int order[64];
static int norder;

static void
record_cb(struct gw_loop *loop, struct gw_timer *t)
{
	(void)loop;
	if (norder < 64)
		order[norder++] = (int)(long)t->arg;
}

TEST(test_timer_order)
{
	struct gw_loop *loop = gw_loop_new();
	struct gw_timer t[5], end;
	uint64_t start;

	CHECK(loop != NULL);
	if (loop == NULL)
		return;
	norder = 0;
	gw_timer_init(&t[0], record_cb, (void *)30L);
	gw_timer_init(&t[1], record_cb, (void *)10L);
	gw_timer_init(&t[2], record_cb, (void *)20L);
	gw_timer_init(&t[3], record_cb, (void *)11L); /* same ms as 10 */
	gw_timer_init(&t[4], record_cb, (void *)99L);
	gw_timer_init(&end, stop_cb, NULL);
	start = gw_loop_update_now(loop);
	CHECK(gw_timer_set(loop, &t[0], 30) == 0);
	CHECK(gw_timer_set(loop, &t[1], 10) == 0);
	CHECK(gw_timer_set(loop, &t[2], 20) == 0);
	CHECK(gw_timer_set(loop, &t[3], 10) == 0);
	/* Re-arming an armed timer moves it. */
	CHECK(gw_timer_set(loop, &t[4], 5) == 0);
	CHECK(gw_timer_set(loop, &t[4], 1000000) == 0);
	CHECK(gw_timer_set(loop, &end, 40) == 0);
	CHECK(gw_timer_armed(&t[0]) && gw_timer_armed(&t[4]));
	CHECK(run_guarded(loop) == 0);
	CHECK(norder == 4);
	CHECK(order[0] == 10 && order[1] == 11 && order[2] == 20 &&
	    order[3] == 30);
	CHECK(gw_loop_now(loop) >= start + 40);
	CHECK(!gw_timer_armed(&t[0]) && !gw_timer_armed(&end));
	CHECK(gw_timer_armed(&t[4]));
	gw_timer_stop(loop, &t[4]);
	CHECK(!gw_timer_armed(&t[4]));
	gw_timer_stop(loop, &t[4]); /* twice is harmless */
	gw_loop_free(loop);
	gw_loop_free(NULL);
}

TEST(test_timer_fifo)
{
	struct gw_loop *loop = gw_loop_new();
	struct gw_timer t[32], end;
	int i, sorted = 1;

	if (loop == NULL) {
		CHECK(loop != NULL);
		return;
	}
	/* Due at the same millisecond: they run in the order they were set. */
	norder = 0;
	gw_loop_update_now(loop);
	for (i = 0; i < 32; i++) {
		gw_timer_init(&t[i], record_cb, (void *)(long)i);
		CHECK(gw_timer_set(loop, &t[i], 5) == 0);
	}
	gw_timer_init(&end, stop_cb, NULL);
	CHECK(gw_timer_set(loop, &end, 5) == 0);
	CHECK(run_guarded(loop) == 0);
	CHECK(norder == 32);
	for (i = 0; i < norder; i++)
		sorted &= order[i] == i;
	CHECK(sorted);
	gw_loop_free(loop);
}

static int rearm_count;
static int hook_count;

static void
rearm_cb(struct gw_loop *loop, struct gw_timer *t)
{
	rearm_count++;
	if (rearm_count < 5)
		CHECK(gw_timer_set(loop, t, t->arg != NULL ? 0 : 1) == 0);
	else
		gw_loop_stop(loop);
}

static void
count_hook(struct gw_loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	hook_count++;
}

TEST(test_timer_rearm)
{
	struct gw_loop *loop = gw_loop_new();
	struct gw_timer t;
	uint64_t start;

	if (loop == NULL) {
		CHECK(loop != NULL);
		return;
	}
	/* Re-arming itself 1 ms later, four times. */
	rearm_count = 0;
	gw_timer_init(&t, rearm_cb, NULL);
	start = gw_loop_update_now(loop);
	CHECK(gw_timer_set(loop, &t, 1) == 0);
	CHECK(run_guarded(loop) == 0);
	CHECK(rearm_count == 5);
	CHECK(gw_loop_now(loop) >= start + 5);

	/*
	 * Re-arming itself for 0 ms: each firing waits for the next
	 * iteration (the hook runs in between) instead of spinning here.
	 */
	rearm_count = 0;
	hook_count = 0;
	gw_loop_before_wait(loop, count_hook, NULL);
	gw_timer_init(&t, rearm_cb, &t);
	CHECK(gw_timer_set(loop, &t, 0) == 0);
	CHECK(run_guarded(loop) == 0);
	CHECK(rearm_count == 5);
	CHECK(hook_count >= 5);
	gw_loop_free(loop);
}

struct victim {
	struct gw_timer t;
	int fired;
};

static int killer_ran;

static void
victim_cb(struct gw_loop *loop, struct gw_timer *t)
{
	struct victim *v = t->arg;

	(void)loop;
	v->fired = 1;
}

/* Stops the victim's timer and frees it, as an owner tearing down would. */
static void
killer_cb(struct gw_loop *loop, struct gw_timer *t)
{
	struct victim **vp = t->arg;

	killer_ran = 1;
	gw_timer_stop(loop, &(*vp)->t);
	free(*vp);
	*vp = NULL;
}

TEST(test_timer_stop_other)
{
	struct gw_loop *loop = gw_loop_new();
	struct gw_timer killer, end;
	struct victim *v;

	if (loop == NULL) {
		CHECK(loop != NULL);
		return;
	}
	/* Victim due later than the killer. */
	v = calloc(1, sizeof(*v));
	CHECK(v != NULL);
	if (v == NULL)
		return;
	gw_timer_init(&v->t, victim_cb, v);
	gw_timer_init(&killer, killer_cb, &v);
	gw_timer_init(&end, stop_cb, NULL);
	killer_ran = 0;
	CHECK(gw_timer_set(loop, &v->t, 30) == 0);
	CHECK(gw_timer_set(loop, &killer, 1) == 0);
	CHECK(gw_timer_set(loop, &end, 60) == 0);
	CHECK(run_guarded(loop) == 0);
	CHECK(killer_ran && v == NULL);

	/* Both due in the same run: the killer goes first (set first). */
	v = calloc(1, sizeof(*v));
	CHECK(v != NULL);
	if (v == NULL)
		return;
	gw_timer_init(&v->t, victim_cb, v);
	killer_ran = 0;
	CHECK(gw_timer_set(loop, &killer, 0) == 0);
	CHECK(gw_timer_set(loop, &v->t, 0) == 0);
	CHECK(gw_timer_set(loop, &end, 20) == 0);
	CHECK(run_guarded(loop) == 0);
	CHECK(killer_ran && v == NULL);
	gw_loop_free(loop);
}

/* Many timers, some stopped: the rest fire once each, in deadline order. */
struct stress {
	struct gw_timer t;
	uint64_t when;
	int fired;
};

static uint64_t stress_last;
static int stress_bad, stress_left;

static void
stress_cb(struct gw_loop *loop, struct gw_timer *t)
{
	struct stress *s = t->arg;

	if (s->fired || s->when < stress_last)
		stress_bad++;
	stress_last = s->when;
	s->fired = 1;
	if (--stress_left == 0)
		gw_loop_stop(loop);
}

TEST(test_timer_heap)
{
	struct gw_loop *loop = gw_loop_new();
	static struct stress s[500];
	uint64_t ms;
	size_t i;
	int live = 0;

	if (loop == NULL) {
		CHECK(loop != NULL);
		return;
	}
	srand(1);
	for (i = 0; i < 500; i++) {
		gw_timer_init(&s[i].t, stress_cb, &s[i]);
		s[i].fired = 0;
		ms = (uint64_t)(rand() % 30);
		CHECK(gw_timer_set(loop, &s[i].t, ms) == 0);
		s[i].when = s[i].t.when;
	}
	for (i = 0; i < 500; i += 3)
		gw_timer_stop(loop, &s[i].t);
	for (i = 0; i < 500; i++)
		live += gw_timer_armed(&s[i].t);
	CHECK(live == 500 - 167);
	stress_left = live;
	stress_last = 0;
	stress_bad = 0;
	CHECK(run_guarded(loop) == 0);
	CHECK(stress_left == 0 && stress_bad == 0);
	for (i = 0; i < 500; i++)
		CHECK(s[i].fired == (i % 3 != 0));
	gw_loop_free(loop);
}

/* A pipe end with its watcher, malloc'd so ASan sees a use after free. */
struct end {
	struct gw_io io;
	struct end **other;
	int events;
	int calls;
};

static int pipe_calls;

static void
pipe_read_cb(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct end *e = io->arg;
	char buf[64];
	ssize_t n;

	e->events |= events;
	e->calls++;
	pipe_calls++;
	n = read(io->fd, buf, sizeof(buf));
	CHECK(n == 5 && memcmp(buf, "hello", 5) == 0);
	/* Whichever runs first tears the other down. */
	if (e->other != NULL && *e->other != NULL) {
		gw_io_stop(loop, &(*e->other)->io);
		close((*e->other)->io.fd);
		free(*e->other);
		*e->other = NULL;
	}
	gw_loop_stop(loop);
}

TEST(test_io_stop_pending)
{
	struct gw_loop *loop = gw_loop_new();
	struct end *a, *b;
	int pa[2], pb[2];

	if (loop == NULL) {
		CHECK(loop != NULL);
		return;
	}
	CHECK(pipe2(pa, O_CLOEXEC) == 0 && pipe2(pb, O_CLOEXEC) == 0);
	a = calloc(1, sizeof(*a));
	b = calloc(1, sizeof(*b));
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	gw_io_init(&a->io, pa[0], pipe_read_cb, a);
	gw_io_init(&b->io, pb[0], pipe_read_cb, b);
	a->other = &b;
	b->other = &a;
	CHECK(gw_io_set(loop, &a->io, GW_READ) == 0);
	CHECK(gw_io_set(loop, &b->io, GW_READ) == 0);
	/* Both readable before the wait: one batch holds both events. */
	CHECK(write(pa[1], "hello", 5) == 5);
	CHECK(write(pb[1], "hello", 5) == 5);
	pipe_calls = 0;
	CHECK(run_guarded(loop) == 0);
	CHECK(pipe_calls == 1);
	CHECK((a == NULL) != (b == NULL));
	if (a != NULL) {
		gw_io_stop(loop, &a->io);
		close(a->io.fd);
		free(a);
	}
	if (b != NULL) {
		gw_io_stop(loop, &b->io);
		close(b->io.fd);
		free(b);
	}
	close(pa[1]);
	close(pb[1]);
	gw_loop_free(loop);
}

/* A writer and a reader over one pipe, as a small protocol would. */
struct duplex {
	struct gw_io rio, wio;
	int written, got;
	char buf[16];
};

static void
duplex_write_cb(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct duplex *d = io->arg;

	CHECK(events & GW_WRITE);
	if (d->written < 3) {
		CHECK(write(io->fd, "ab", 2) == 2);
		d->written++;
	}
	if (d->written == 3)
		CHECK(gw_io_set(loop, io, 0) == 0);
}

static void
duplex_read_cb(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct duplex *d = io->arg;
	ssize_t n;

	CHECK(events & GW_READ);
	n = read(io->fd, d->buf + d->got, sizeof(d->buf) - 1 - (size_t)d->got);
	if (n > 0)
		d->got += (int)n;
	if (d->got == 6)
		gw_loop_stop(loop);
}

TEST(test_io_pipe)
{
	struct gw_loop *loop = gw_loop_new();
	struct duplex d;
	int p[2];

	if (loop == NULL) {
		CHECK(loop != NULL);
		return;
	}
	memset(&d, 0, sizeof(d));
	CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
	gw_io_init(&d.rio, p[0], duplex_read_cb, &d);
	gw_io_init(&d.wio, p[1], duplex_write_cb, &d);
	CHECK(gw_io_set(loop, &d.rio, GW_READ) == 0);
	CHECK(gw_io_set(loop, &d.wio, GW_WRITE) == 0);
	/* Setting the same mask again is a no-op that succeeds. */
	CHECK(gw_io_set(loop, &d.wio, GW_WRITE) == 0);
	CHECK(d.wio.added && d.wio.mask == GW_WRITE);
	CHECK(run_guarded(loop) == 0);
	CHECK(d.got == 6 && memcmp(d.buf, "ababab", 6) == 0);
	CHECK(!d.wio.added && d.wio.mask == 0);
	/* A mask of 0 keeps the watcher usable. */
	CHECK(gw_io_set(loop, &d.wio, GW_WRITE) == 0 && d.wio.added);
	gw_io_stop(loop, &d.wio);
	gw_io_stop(loop, &d.wio); /* twice is harmless */
	gw_io_stop(loop, &d.rio);
	close(p[0]);
	close(p[1]);
	gw_loop_free(loop);
}

static int hup_events;

static void
hup_cb(struct gw_loop *loop, struct gw_io *io, int events)
{
	(void)io;
	hup_events = events;
	gw_loop_stop(loop);
}

TEST(test_io_hangup)
{
	struct gw_loop *loop = gw_loop_new();
	struct gw_io io;
	int p[2], fd;

	if (loop == NULL) {
		CHECK(loop != NULL);
		return;
	}
	/* The writer went away: reported as both so read(2) sees EOF. */
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	close(p[1]);
	gw_io_init(&io, p[0], hup_cb, NULL);
	CHECK(gw_io_set(loop, &io, GW_READ) == 0);
	hup_events = 0;
	CHECK(run_guarded(loop) == 0);
	CHECK(hup_events == (GW_READ | GW_WRITE));
	gw_io_stop(loop, &io);
	close(p[0]);

	/* Regular files cannot be watched: epoll says EPERM. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		char path[] = "/tmp/gw-test-loop-XXXXXX";
		int f = mkstemp(path);

		close(fd);
		CHECK(f != -1);
		if (f != -1) {
			unlink(path);
			gw_io_init(&io, f, hup_cb, NULL);
			errno = 0;
			CHECK(gw_io_set(loop, &io, GW_READ) == -1 &&
			    errno == EPERM);
			CHECK(!io.added);
			close(f);
		}
	}
	gw_loop_free(loop);
}

static int sig_got;

static void
sig_cb(struct gw_loop *loop, int signo, void *arg)
{
	CHECK(arg == &sig_got);
	sig_got = signo;
	gw_loop_stop(loop);
}

TEST(test_signal)
{
	struct gw_loop *loop = gw_loop_new();
	sigset_t cur;

	if (loop == NULL) {
		CHECK(loop != NULL);
		return;
	}
	errno = 0;
	CHECK(gw_loop_signal(loop, 0, sig_cb, NULL) == -1 && errno == EINVAL);
	CHECK(gw_loop_signal(loop, SIGUSR1, sig_cb, &sig_got) == 0);
	CHECK(gw_loop_signal(loop, SIGUSR2, sig_cb, &sig_got) == 0);
	/* Blocked now, so raise() queues it for the signalfd. */
	CHECK(sigprocmask(SIG_BLOCK, NULL, &cur) == 0);
	CHECK(sigismember(&cur, SIGUSR1) == 1);
	sig_got = 0;
	CHECK(raise(SIGUSR1) == 0);
	CHECK(run_guarded(loop) == 0);
	CHECK(sig_got == SIGUSR1);
	sig_got = 0;
	CHECK(raise(SIGUSR2) == 0);
	CHECK(run_guarded(loop) == 0);
	CHECK(sig_got == SIGUSR2);
	gw_loop_free(loop);
}

static int hook_stops;

static void
stopping_hook(struct gw_loop *loop, void *arg)
{
	int *n = arg;

	if (++*n == 3)
		gw_loop_stop(loop);
}

static void
tick_cb(struct gw_loop *loop, struct gw_timer *t)
{
	gw_timer_set(loop, t, 1);
}

TEST(test_before_wait)
{
	struct gw_loop *loop = gw_loop_new();
	struct gw_timer tick;

	if (loop == NULL) {
		CHECK(loop != NULL);
		return;
	}
	/* A hook that stops the loop ends it without another wait. */
	hook_stops = 0;
	gw_timer_init(&tick, tick_cb, NULL);
	gw_timer_set(loop, &tick, 1);
	gw_loop_before_wait(loop, stopping_hook, &hook_stops);
	CHECK(run_guarded(loop) == 0);
	CHECK(hook_stops == 3);
	gw_timer_stop(loop, &tick);
	gw_loop_free(loop);
}

int
main(void)
{
	RUN(test_timer_order);
	RUN(test_timer_fifo);
	RUN(test_timer_rearm);
	RUN(test_timer_stop_other);
	RUN(test_timer_heap);
	RUN(test_io_stop_pending);
	RUN(test_io_pipe);
	RUN(test_io_hangup);
	RUN(test_signal);
	RUN(test_before_wait);
	return harness_done();
}
