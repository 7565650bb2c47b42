/* SPDX-License-Identifier: MIT */
/*
 * The event loop (see loop.h): level-triggered epoll for file events, a
 * binary min-heap of timers ordered by deadline then arming order, one
 * signalfd for every signal routed to the loop, and a before-wait hook.
 * An iteration is: hook, wait (for at most the time to the nearest timer),
 * dispatch the file events of the batch, run the timers that are due.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

/* Events taken per epoll_wait(2); more simply wait for the next round. */
#define LOOP_BATCH 64

struct loop_sig {
	gw_signal_fn *fn;
	void *arg;
};

struct gw_loop {
	int epfd;
	int stop;
	uint64_t now;

	/* Timers: heap[0] is the next to fire. */
	struct gw_timer **heap;
	size_t nheap;
	size_t capheap;
	uint64_t seq;

	/*
	 * The batch being dispatched.  gw_io_stop() clears the entries of
	 * [cur + 1, nfired) that point at the watcher it stops.
	 */
	struct epoll_event fired[LOOP_BATCH];
	int nfired;
	int cur;

	int sfd;
	struct gw_io sio;
	sigset_t sigs;
	struct loop_sig sig[_NSIG];

	gw_hook_fn *hook;
	void *hook_arg;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct gw_loop *
gw_loop_new(void)
{
	struct gw_loop *loop;

	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	loop->sfd = -1;
	sigemptyset(&loop->sigs);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd == -1) {
		free(loop);
		return NULL;
	}
	loop->now = mono_ms();
	return loop;
}

void
gw_loop_free(struct gw_loop *loop)
{
	if (loop == NULL)
		return;
	if (loop->sfd != -1)
		close(loop->sfd);
	close(loop->epfd);
	free(loop->heap);
	free(loop);
}

uint64_t
gw_loop_now(const struct gw_loop *loop)
{
	return loop->now;
}

uint64_t
gw_loop_update_now(struct gw_loop *loop)
{
	loop->now = mono_ms();
	return loop->now;
}

void
gw_loop_stop(struct gw_loop *loop)
{
	loop->stop = 1;
}

void
gw_loop_before_wait(struct gw_loop *loop, gw_hook_fn *fn, void *arg)
{
	loop->hook = fn;
	loop->hook_arg = arg;
}

/* File events. */

void
gw_io_init(struct gw_io *io, int fd, gw_io_fn *cb, void *arg)
{
	io->fd = fd;
	io->mask = 0;
	io->added = 0;
	io->cb = cb;
	io->arg = arg;
}

/*
 * Forgets the events of the current batch that are still to be dispatched
 * to <io>: its owner may close the fd and free <io> as soon as we return.
 */
static void
io_forget(struct gw_loop *loop, const struct gw_io *io)
{
	int i;

	for (i = loop->cur + 1; i < loop->nfired; i++)
		if (loop->fired[i].data.ptr == io)
			loop->fired[i].data.ptr = NULL;
}

int
gw_io_set(struct gw_loop *loop, struct gw_io *io, int mask)
{
	struct epoll_event ev;
	int op;

	mask &= GW_READ | GW_WRITE;
	if (mask == 0) {
		gw_io_stop(loop, io);
		return 0;
	}
	if (io->added && mask == io->mask)
		return 0;
	memset(&ev, 0, sizeof(ev));
	if (mask & GW_READ)
		ev.events |= EPOLLIN;
	if (mask & GW_WRITE)
		ev.events |= EPOLLOUT;
	ev.data.ptr = io;
	op = io->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(loop->epfd, op, io->fd, &ev) == -1)
		return -1;
	io->added = 1;
	io->mask = mask;
	return 0;
}

void
gw_io_stop(struct gw_loop *loop, struct gw_io *io)
{
	if (io->added) {
		/*
		 * Failure means the fd is already closed or was never ours:
		 * either way it is out of the set.
		 */
		(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
		io->added = 0;
	}
	io->mask = 0;
	io_forget(loop, io);
}

/* Dispatches the batch in loop->fired, tolerating changes made by callbacks. */
static void
io_dispatch(struct gw_loop *loop)
{
	struct gw_io *io;
	uint32_t e;
	int ev;

	for (loop->cur = 0; loop->cur < loop->nfired; loop->cur++) {
		io = loop->fired[loop->cur].data.ptr;
		if (io == NULL || !io->added)
			continue;
		e = loop->fired[loop->cur].events;
		if (e & (EPOLLERR | EPOLLHUP))
			ev = GW_READ | GW_WRITE;
		else {
			ev = 0;
			if (e & EPOLLIN)
				ev |= GW_READ;
			if (e & EPOLLOUT)
				ev |= GW_WRITE;
			/* The mask may have shrunk since the wait. */
			ev &= io->mask;
		}
		if (ev != 0)
			io->cb(loop, io, ev);
		/* <io> may be gone now: do not touch it again. */
	}
	loop->nfired = 0;
	loop->cur = 0;
}

/* Timers. */

/* Does <a> fire before <b>? */
static int
timer_before(const struct gw_timer *a, const struct gw_timer *b)
{
	if (a->when != b->when)
		return a->when < b->when;
	return a->seq < b->seq;
}

static void
heap_put(struct gw_loop *loop, size_t i, struct gw_timer *t)
{
	loop->heap[i] = t;
	t->index = (int)i;
}

static void
heap_up(struct gw_loop *loop, size_t i)
{
	struct gw_timer *t = loop->heap[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!timer_before(t, loop->heap[parent]))
			break;
		heap_put(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_put(loop, i, t);
}

static void
heap_down(struct gw_loop *loop, size_t i)
{
	struct gw_timer *t = loop->heap[i];
	size_t child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= loop->nheap)
			break;
		if (child + 1 < loop->nheap &&
		    timer_before(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!timer_before(loop->heap[child], t))
			break;
		heap_put(loop, i, loop->heap[child]);
		i = child;
	}
	heap_put(loop, i, t);
}

/* Is <t> armed in this loop's heap (and not a stale or foreign index)? */
static int
heap_has(const struct gw_loop *loop, const struct gw_timer *t)
{
	return t->index >= 0 && (size_t)t->index < loop->nheap &&
	    loop->heap[t->index] == t;
}

void
gw_timer_init(struct gw_timer *t, gw_timer_fn *cb, void *arg)
{
	t->when = 0;
	t->seq = 0;
	t->index = -1;
	t->cb = cb;
	t->arg = arg;
}

int
gw_timer_armed(const struct gw_timer *t)
{
	return t->index >= 0;
}

int
gw_timer_set(struct gw_loop *loop, struct gw_timer *t, uint64_t ms)
{
	struct gw_timer **h;
	size_t cap;

	if (!heap_has(loop, t)) {
		if (loop->nheap == INT_MAX) {
			errno = ENOMEM;
			return -1;
		}
		if (loop->nheap == loop->capheap) {
			cap = loop->capheap ? loop->capheap * 2 : 16;
			h = reallocarray(loop->heap, cap, sizeof(*h));
			if (h == NULL) {
				errno = ENOMEM;
				return -1;
			}
			loop->heap = h;
			loop->capheap = cap;
		}
		loop->nheap++;
		heap_put(loop, loop->nheap - 1, t);
	}
	t->when = ms > UINT64_MAX - loop->now ? UINT64_MAX : loop->now + ms;
	t->seq = loop->seq++;
	/* Re-arming moves the timer either way; one of these is a no-op. */
	heap_up(loop, (size_t)t->index);
	heap_down(loop, (size_t)t->index);
	return 0;
}

void
gw_timer_stop(struct gw_loop *loop, struct gw_timer *t)
{
	struct gw_timer *last;
	size_t i;

	if (!heap_has(loop, t))
		return;
	i = (size_t)t->index;
	t->index = -1;
	last = loop->heap[--loop->nheap];
	if (last == t)
		return;
	/* The last timer fills the hole and moves up or down from there. */
	heap_put(loop, i, last);
	heap_up(loop, i);
	if ((size_t)last->index == i)
		heap_down(loop, i);
}

/*
 * Runs the timers due at loop->now.  Timers set by these callbacks get a
 * sequence number past <limit> and wait for the next iteration, so a timer
 * that re-arms itself for 0 ms cannot keep us here forever.
 */
static void
timers_run(struct gw_loop *loop)
{
	uint64_t limit = loop->seq;
	struct gw_timer *t;

	while (loop->nheap > 0) {
		t = loop->heap[0];
		if (t->when > loop->now || t->seq >= limit)
			break;
		gw_timer_stop(loop, t);
		t->cb(loop, t);
	}
}

/* Milliseconds epoll_wait(2) may sleep: until the nearest timer, or -1. */
static int
timers_timeout(const struct gw_loop *loop)
{
	uint64_t when;

	if (loop->nheap == 0)
		return -1;
	when = loop->heap[0]->when;
	if (when <= loop->now)
		return 0;
	if (when - loop->now > INT_MAX)
		return INT_MAX;
	return (int)(when - loop->now);
}

/* Signals. */

static void
sig_read(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct signalfd_siginfo si[8];
	struct loop_sig *h;
	ssize_t n;
	size_t i;
	int signo;

	(void)events;
	for (;;) {
		n = read(io->fd, si, sizeof(si));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (i = 0; i < (size_t)n / sizeof(si[0]); i++) {
			signo = (int)si[i].ssi_signo;
			if (signo <= 0 || signo >= _NSIG)
				continue;
			h = &loop->sig[signo];
			if (h->fn != NULL)
				h->fn(loop, signo, h->arg);
		}
		if ((size_t)n < sizeof(si))
			return;
	}
}

int
gw_loop_signal(struct gw_loop *loop, int signo, gw_signal_fn *fn, void *arg)
{
	sigset_t one, mask;
	int fd, saved_errno;

	if (signo <= 0 || signo >= _NSIG || fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	mask = loop->sigs;
	if (sigaddset(&mask, signo) == -1)
		return -1;
	sigemptyset(&one);
	sigaddset(&one, signo);
	/* Block first: a signal arriving in between would be lost otherwise. */
	if (sigprocmask(SIG_BLOCK, &one, NULL) == -1)
		return -1;
	fd = signalfd(loop->sfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		return -1;
	if (loop->sfd == -1) {
		gw_io_init(&loop->sio, fd, sig_read, NULL);
		if (gw_io_set(loop, &loop->sio, GW_READ) == -1) {
			saved_errno = errno;
			close(fd);
			errno = saved_errno;
			return -1;
		}
		loop->sfd = fd;
	}
	loop->sigs = mask;
	loop->sig[signo].fn = fn;
	loop->sig[signo].arg = arg;
	return 0;
}

/* The loop. */

int
gw_loop_run(struct gw_loop *loop)
{
	int n, timeout;

	loop->stop = 0;
	while (!loop->stop) {
		if (loop->hook != NULL) {
			loop->hook(loop, loop->hook_arg);
			if (loop->stop)
				break;
		}
		/* The hook may have taken a while: measure from now. */
		gw_loop_update_now(loop);
		timeout = timers_timeout(loop);
		n = epoll_wait(loop->epfd, loop->fired, LOOP_BATCH, timeout);
		if (n == -1) {
			if (errno != EINTR)
				return -1;
			n = 0;
		}
		gw_loop_update_now(loop);
		loop->nfired = n;
		io_dispatch(loop);
		timers_run(loop);
	}
	return 0;
}
