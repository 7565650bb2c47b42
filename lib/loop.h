/* SPDX-License-Identifier: MIT */
/*
 * The event loop every gw binary runs: one epoll set for file events, a
 * min-heap of timers, signals read from a signalfd, and a hook that runs
 * before each wait.  The shape is Redis's ae: small enough to read in one
 * sitting.  Watchers and timers are structs the caller embeds in its own
 * objects, so arming one never allocates.
 */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include <stdint.h>

#define GW_READ  0x1
#define GW_WRITE 0x2

struct gw_loop;
struct gw_io;
struct gw_timer;

typedef void gw_io_fn(struct gw_loop *, struct gw_io *, int events);
typedef void gw_timer_fn(struct gw_loop *, struct gw_timer *);
typedef void gw_signal_fn(struct gw_loop *, int signo, void *arg);
typedef void gw_hook_fn(struct gw_loop *, void *arg);

/*
 * A file watcher.  Embed it, call gw_io_init(), then gw_io_set() with the
 * events wanted.  <events> passed to the callback is a mask of GW_READ and
 * GW_WRITE; errors and hang-ups are reported as both so that the next
 * read(2) or write(2) sees them.
 */
struct gw_io {
	int fd;
	int mask;  /* events registered with epoll */
	int added; /* fd is in the epoll set */
	gw_io_fn *cb;
	void *arg;
};

/* A one-shot timer.  Embed it, gw_timer_init() it, arm with gw_timer_set(). */
struct gw_timer {
	uint64_t when; /* loop clock, ms */
	uint64_t seq;  /* arming order: equal deadlines run FIFO */
	int index;     /* heap slot, -1 when not armed */
	gw_timer_fn *cb;
	void *arg;
};

/* Returns a new loop, or NULL with errno set. */
struct gw_loop *gw_loop_new(void);
/*
 * Frees the loop; NULL is accepted.  Watchers and timers are not touched,
 * and signals routed through gw_loop_signal() stay blocked (unblocking them
 * during teardown would let a late SIGTERM kill the process half-way).
 */
void gw_loop_free(struct gw_loop *);

/*
 * Runs until gw_loop_stop().  Returns 0, or -1 with errno set if
 * epoll_wait(2) fails for a reason other than EINTR.
 */
int gw_loop_run(struct gw_loop *);
/* Makes gw_loop_run() return after the current iteration. */
void gw_loop_stop(struct gw_loop *);

/* Milliseconds of CLOCK_MONOTONIC, cached at each wake-up. */
uint64_t gw_loop_now(const struct gw_loop *);
/* Refreshes the cached clock and returns it. */
uint64_t gw_loop_update_now(struct gw_loop *);

void gw_io_init(struct gw_io *, int fd, gw_io_fn *, void *arg);
/*
 * Sets the events watched on <io> to <mask> (0 removes the fd from the
 * set but keeps <io> usable).  Calls epoll_ctl(2) only when the mask
 * changes.  Returns 0, or -1 with errno set.
 */
int gw_io_set(struct gw_loop *, struct gw_io *, int mask);
/*
 * Removes <io> from the loop; call before close(2).  Never fails.  Events
 * for <io> still pending in the batch being dispatched are discarded, so a
 * callback may stop, close and free another watcher's object safely.
 */
void gw_io_stop(struct gw_loop *, struct gw_io *);

void gw_timer_init(struct gw_timer *, gw_timer_fn *, void *arg);
/* (Re)arms <t> to fire <ms> after the loop clock.  Returns 0 or -1 (ENOMEM). */
int gw_timer_set(struct gw_loop *, struct gw_timer *, uint64_t ms);
/*
 * Disarms <t> if armed.  A timer callback may set or stop any timer,
 * itself included, and free the object holding a timer once stopped.
 * Timers due at the same millisecond run in the order they were set; one
 * set from a callback to fire now runs in the next iteration, not in a
 * loop within this one.
 */
void gw_timer_stop(struct gw_loop *, struct gw_timer *);
int gw_timer_armed(const struct gw_timer *);

/*
 * Delivers <signo> through the loop's signalfd instead of a handler: the
 * signal is blocked and <fn> runs from the loop.  SIGPIPE should be
 * ignored with signal(2) instead.  Returns 0, or -1 with errno set.
 */
int gw_loop_signal(struct gw_loop *, int signo, gw_signal_fn *, void *arg);

/* Runs <fn> before each wait (flushing batched output, say).  One hook. */
void gw_loop_before_wait(struct gw_loop *, gw_hook_fn *, void *arg);

#endif
