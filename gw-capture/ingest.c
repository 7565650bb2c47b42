// SPDX-License-Identifier: MIT
/*
 * Putting events into a store: the filter (gw-capture without a command),
 * import and prune.
 *
 * The filter reads NDJSON on stdin and writes every line to stdout as it
 * came, storing the ones that are JSON objects.  Its loop is poll(2), not
 * lib/loop's epoll, because stdin and stdout are often regular files
 * (gw-capture < saved.ndjson > /dev/null), which epoll refuses.  Output
 * is a bounded queue: when the next stage is slow, gw-capture stops
 * reading instead of dropping lines, so back-pressure reaches gw-proxy.
 * A batch is written to the store when it is full, after
 * --flush-interval without input, and before exit; retention runs at
 * start and every minute.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evin.h"
#include "evsum.h"
#include "gw-capture.h"
#include "log.h"
#include "ndjson.h"
#include "store.h"
#include "timeutil.h"

/* Output queued before reading pauses; the queue's hard bound. */
#define OUT_HIGH (1024 * 1024)
#define OUT_MAX  (OUT_HIGH + GW_STORE_MAX_LINE + 1)
/* Bad lines reported one by one before only counting them. */
#define BAD_SHOWN       10
#define RETAIN_EVERY_MS 60000

struct ingest {
	struct capconf *c;
	struct gw_store *st;
	struct gw_lines in;
	struct gw_out out;
	int out_pollable;
	int out_gone; /* stdout closed: keep storing */
	int dirty;    /* appended since the last flush */
	int nospace;  /* storing paused: disk full */
	uint64_t last_input, last_retain;
	uint64_t lines, stored, not_json, too_long, unstored;
};

static void
bad_line(struct ingest *g, const char *name, uint64_t lineno, const char *why)
{
	uint64_t bad = g->not_json + g->too_long;

	if (bad <= BAD_SHOWN)
		gw_warn("%s:%llu: %s; passed on, not stored%s", name,
		    (unsigned long long)lineno, why,
		    bad == BAD_SHOWN ? " (further bad lines are only counted)"
		                     : "");
}

/* Stores one line; says once when the disk fills and when it recovers. */
static void
store_line(struct ingest *g, const char *name, uint64_t lineno,
    const char *line, size_t len)
{
	struct gw_evsum sum;
	struct gw_store_counters k;

	if (len > g->c->max_line) {
		g->too_long++;
		bad_line(g, name, lineno, "line over --max-line");
		return;
	}
	if (gw_evsum_extract(&sum, line, len) == -1) {
		g->not_json++;
		bad_line(g, name, lineno, "not a JSON object");
		return;
	}
	if (gw_store_append(g->st, line, len, &sum) == 0) {
		g->dirty = 1;
		return;
	}
	g->unstored++;
	if (gw_store_nospace(errno)) {
		if (!g->nospace)
			gw_error("%s: the disk is full (%s): storing paused, "
			         "events still flow to stdout; it resumes "
			         "when space returns",
			    g->c->store, strerror(errno));
		g->nospace = 1;
		return;
	}
	gw_store_counters(g->st, &k);
	if (k.write_errors <= 1 || g->unstored % 10000 == 1)
		gw_error("%s:%llu: not stored: %s", name,
		    (unsigned long long)lineno, strerror(errno));
}

static void
check_resumed(struct ingest *g)
{
	struct gw_store_counters k;

	if (!g->nospace)
		return;
	gw_store_counters(g->st, &k);
	if (k.last_errno == 0) {
		g->nospace = 0;
		gw_info("%s: storing resumed (%llu events could not be "
		        "stored while the disk was full)",
		    g->c->store, (unsigned long long)k.dropped);
	}
}

/* Queues a line for stdout; the queue is large enough never to drop. */
static void
pass_on(struct ingest *g, const char *line, size_t len)
{
	if (g->out_gone)
		return;
	if (gw_out_line(&g->out, line, len) == -1 && g->out.error == 0)
		gw_warn("stdout: a line was dropped (out of memory)");
}

static void
drain_lines(struct ingest *g)
{
	const char *line;
	size_t len;

	for (;;) {
		switch (gw_lines_next(&g->in, &line, &len)) {
		case GW_LINE_OK:
		case GW_LINE_PARTIAL:
			g->lines++;
			pass_on(g, line, len);
			store_line(g, "(stdin)", g->in.lineno, line, len);
			break;
		case GW_LINE_TOO_LONG:
			g->lines++;
			g->too_long++;
			bad_line(g, "(stdin)", g->in.lineno,
			    "line over 16 MiB, dropped");
			break;
		case GW_LINE_AGAIN:
		case GW_LINE_EOF:
			return;
		}
	}
}

static void
flush_out(struct ingest *g)
{
	if (g->out_gone || gw_out_pending(&g->out) == 0)
		return;
	if (gw_out_flush(&g->out) == -1) {
		g->out_gone = 1;
		if (g->out.error == EPIPE)
			gw_warn("stdout closed: events are still stored but "
			        "no longer passed on");
		else
			gw_error("stdout: %s: events are still stored but no "
			         "longer passed on",
			    strerror(g->out.error));
	}
}

static void
flush_store(struct ingest *g)
{
	if (!g->dirty && !g->nospace)
		return;
	if (gw_store_flush(g->st) == 0)
		g->dirty = 0;
	check_resumed(g);
}

static void
retain(struct ingest *g, uint64_t now_ms)
{
	struct gw_store_prune_stats ps;

	g->last_retain = now_ms;
	if (g->c->retention == 0 && g->c->max_size == 0)
		return;
	if (gw_store_retain(g->st, (int64_t)g->c->retention * 1000,
	        g->c->max_size, (int64_t)(gw_now_ns() / 1000), &ps) == -1) {
		gw_warn("%s: retention: %s", g->c->store, strerror(errno));
		return;
	}
	if (ps.segments > 0)
		gw_info("retention removed %llu segments (%llu events, %llu "
		        "bytes)",
		    (unsigned long long)ps.segments,
		    (unsigned long long)ps.events,
		    (unsigned long long)ps.bytes);
}

/* A descriptor poll(2) can wait on usefully (not a regular file). */
static int
pollable(int fd)
{
	struct stat sb;

	return fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode) &&
	    !S_ISBLK(sb.st_mode);
}

int
ingest_main(struct capconf *c)
{
	struct ingest g;
	struct pollfd pf[3];
	sigset_t mask;
	int sfd, stop = 0, eof = 0, rc = EX_OK, timeout, n;
	uint64_t now;
	ssize_t r;

	memset(&g, 0, sizeof(g));
	g.c = c;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1 ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) == -1) {
		gw_error("signalfd: %s", strerror(errno));
		return EX_SOFTWARE;
	}
	if ((g.st = cap_open_store(c, GW_STORE_WRITE | GW_STORE_CREATE)) ==
	    NULL) {
		close(sfd);
		return EX_IOERR;
	}
	if (gw_lines_init(&g.in, GW_STORE_MAX_LINE) == -1) {
		gw_store_close(g.st);
		close(sfd);
		return EX_SOFTWARE;
	}
	gw_out_init(&g.out, STDOUT_FILENO, OUT_MAX);
	g.out_pollable = pollable(STDOUT_FILENO);
	if (g.out_pollable)
		(void)fcntl(STDOUT_FILENO, F_SETFL,
		    fcntl(STDOUT_FILENO, F_GETFL) | O_NONBLOCK);
	now = gw_mono_ns() / 1000000;
	retain(&g, now);
	g.last_input = now;
	while (!stop && !eof) {
		int reading = gw_out_pending(&g.out) < OUT_HIGH || g.out_gone;

		pf[0].fd = reading ? STDIN_FILENO : -1;
		pf[0].events = POLLIN;
		pf[1].fd =
		    g.out_pollable && !g.out_gone && gw_out_pending(&g.out) > 0
		    ? STDOUT_FILENO
		    : -1;
		pf[1].events = POLLOUT;
		pf[2].fd = sfd;
		pf[2].events = POLLIN;
		now = gw_mono_ns() / 1000000;
		timeout = RETAIN_EVERY_MS;
		if (g.dirty || g.nospace) {
			uint64_t due = g.last_input + c->flush_interval;

			timeout = due > now ? (int)(due - now) : 0;
		}
		n = poll(pf, 3, timeout);
		if (n == -1 && errno != EINTR) {
			gw_error("poll: %s", strerror(errno));
			rc = EX_SOFTWARE;
			break;
		}
		now = gw_mono_ns() / 1000000;
		if (n > 0 && (pf[2].revents & POLLIN)) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGHUP)
					stop = 1;
		}
		if (n > 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			r = gw_lines_read(&g.in, STDIN_FILENO);
			if (r == -1 && errno != EAGAIN && errno != EINTR) {
				gw_error("stdin: %s", strerror(errno));
				rc = EX_IOERR;
				eof = 1;
			}
			if (r == 0)
				eof = 1;
			drain_lines(&g);
			if (r > 0)
				g.last_input = now;
		}
		/* A regular file or a tty is written as it fills. */
		if (!g.out_pollable || (n > 0 && (pf[1].revents & POLLOUT)) ||
		    gw_out_pending(&g.out) >= OUT_HIGH)
			flush_out(&g);
		if ((g.dirty || g.nospace) &&
		    now >= g.last_input + c->flush_interval)
			flush_store(&g);
		if (now >= g.last_retain + RETAIN_EVERY_MS)
			retain(&g, now);
	}
	drain_lines(&g);
	flush_store(&g);
	/* Whatever is queued goes out before exit, waiting if it must. */
	if (g.out_pollable)
		(void)fcntl(STDOUT_FILENO, F_SETFL,
		    fcntl(STDOUT_FILENO, F_GETFL) & ~O_NONBLOCK);
	flush_out(&g);
	if (g.dirty) {
		struct gw_store_counters k;

		gw_store_counters(g.st, &k);
		gw_error("%s: %llu events could not be stored: %s", c->store,
		    (unsigned long long)(k.dropped + g.unstored),
		    strerror(k.last_errno));
		rc = EX_IOERR;
	}
	gw_info("%llu lines: %llu stored, %llu not JSON objects, %llu too "
	        "long, %llu not stored (write errors)",
	    (unsigned long long)g.lines,
	    (unsigned long long)(g.lines - g.not_json - g.too_long -
	        g.unstored),
	    (unsigned long long)g.not_json, (unsigned long long)g.too_long,
	    (unsigned long long)g.unstored);
	gw_out_fini(&g.out);
	gw_lines_fini(&g.in);
	gw_store_close(g.st);
	close(sfd);
	return rc;
}

static int
import_line(void *arg, const char *name, uint64_t lineno, const char *line,
    size_t len, int too_long)
{
	struct ingest *g = arg;

	g->lines++;
	if (too_long) {
		g->too_long++;
		bad_line(g, name, lineno, "line over 16 MiB");
		return 0;
	}
	store_line(g, name, lineno, line, len);
	/* A full disk will not empty itself during an import. */
	return g->nospace ? -1 : 0;
}

int
import_main(struct capconf *c, char **files, int n)
{
	struct ingest g;
	struct gw_error err;
	char msg[800];
	int i, r, trunc, rc = EX_OK;

	memset(&g, 0, sizeof(g));
	g.c = c;
	if ((g.st = cap_open_store(c, GW_STORE_WRITE | GW_STORE_CREATE)) ==
	    NULL)
		return EX_IOERR;
	for (i = 0; i < n && rc == EX_OK; i++) {
		memset(&err, 0, sizeof(err));
		r = gw_evin_read(
		    files[i], GW_STORE_MAX_LINE, import_line, &g, &trunc, &err);
		if (trunc)
			gw_warn("%s: the zstd stream is truncated; its "
			        "complete lines were imported",
			    files[i]);
		if (r < 0) {
			gw_error_format(&err, msg, sizeof(msg));
			gw_error("%s", msg);
			rc = r == GW_EVIN_NOINPUT ? EX_NOINPUT : EX_IOERR;
		}
		if (r == GW_EVIN_STOPPED || g.nospace) {
			gw_error("%s: the disk is full; import stopped at %s",
			    c->store, files[i]);
			rc = EX_IOERR;
		}
	}
	if (gw_store_flush(g.st) == -1) {
		gw_error("%s: %s", c->store, strerror(errno));
		rc = EX_IOERR;
	}
	gw_info("import: %llu lines: %llu stored, %llu not JSON objects, "
	        "%llu too long",
	    (unsigned long long)g.lines,
	    (unsigned long long)(g.lines - g.not_json - g.too_long -
	        g.unstored),
	    (unsigned long long)g.not_json, (unsigned long long)g.too_long);
	gw_store_close(g.st);
	if (rc == EX_OK && g.not_json + g.too_long > 0)
		rc = EX_DATAERR;
	return rc;
}

int
prune_main(struct capconf *c)
{
	struct gw_store_prune_stats ps;
	struct gw_store *st;

	if ((st = cap_open_store(c, GW_STORE_WRITE)) == NULL)
		return EX_IOERR;
	if (gw_store_retain(st, (int64_t)c->retention * 1000, c->max_size,
	        (int64_t)(gw_now_ns() / 1000), &ps) == -1) {
		gw_error("%s: %s", c->store, strerror(errno));
		gw_store_close(st);
		return EX_IOERR;
	}
	gw_store_close(st);
	printf("removed %llu segments, %llu events, %llu bytes\n",
	    (unsigned long long)ps.segments, (unsigned long long)ps.events,
	    (unsigned long long)ps.bytes);
	return EX_OK;
}
