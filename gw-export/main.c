// SPDX-License-Identifier: MIT
/*
 * gw-export: the command line, the input and the loop.  Events come from
 * stdin (the pipeline's last stage), from saved files (NDJSON or zstd),
 * or from a gw-capture store; each is offered to every destination's
 * sources and to the monitors, spooled, and sent by dest.c.  Input
 * pauses while a destination's spool is full (block policy), so nothing
 * is dropped; at the end of input gw-export waits until everything is
 * delivered, or until --drain-timeout, and then exits (what is left stays
 * in the spools and goes out on the next run).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curlm.h"
#include "evid.h"
#include "evin.h"
#include "fmt.h"
#include "gw-export.h"
#include "log.h"
#include "monitor.h"
#include "opts.h"
#include "store.h"
#include "timeutil.h"
#include "xconf.h"
#include "xdest.h"
#include "xsource.h"

#ifndef GW_VERSION
#define GW_VERSION "0.1.0"
#endif

#define EX_OK          0
#define EX_USAGE       64
#define EX_DATAERR     65
#define EX_NOINPUT     66
#define EX_UNAVAILABLE 69
#define EX_SOFTWARE    70
#define EX_IOERR       74
#define EX_TEMPFAIL    75
#define EX_CONFIG      78

#define MAX_LINE     (16 * 1024 * 1024)
#define ROOM_MARGIN  (4 * 1024 * 1024) /* spool room kept for one chunk */
#define BAD_SHOWN    10
#define STORE_CHUNK  2000 /* events read from a store per step */
#define NOTIFY_TRIES 6

struct opts {
	char *config;
	char *from_store;
	char *since, *until;
	char *state;
	uint64_t drain_timeout; /* ms */
	uint64_t stats_interval;
	int dry_run;
	char *log_level, *log_format;
	int help, version;
};

#define F(m, t) GW_OPT_FIELD(struct opts, m, t)
static const struct gw_opt optab[] = {
	{ "config", 'c', GW_OPT_STR, F(config, char *), "FILE",
	    "export.yml: destinations, monitors, channels", 0, 0, NULL, NULL,
	    NULL, 0 },
	{ "from-store", 0, GW_OPT_STR, F(from_store, char *), "DIR",
	    "read the events of a gw-capture store", 0, 0, NULL, NULL, NULL,
	    0 },
	{ "since", 's', GW_OPT_STR, F(since, char *), "WHEN",
	    "with --from-store: from this time (an age or RFC 3339)", 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "until", 'u', GW_OPT_STR, F(until, char *), "WHEN",
	    "with --from-store: before this time", 0, 0, NULL, NULL, NULL, 0 },
	{ "state", 0, GW_OPT_STR, F(state, char *), "FILE",
	    "checkpoint of files and stores read, so a re-run sends only "
	    "what is new",
	    0, 0, NULL, NULL, NULL, 0 },
	{ "drain-timeout", 0, GW_OPT_DURATION, F(drain_timeout, uint64_t),
	    "TIME",
	    "at the end of input, wait this long for deliveries (the rest "
	    "stays spooled)",
	    0, 0, NULL, NULL, "60s", 0 },
	{ "stats-interval", 0, GW_OPT_DURATION, F(stats_interval, uint64_t),
	    "TIME", "a stats line per destination on stderr (0: at exit only)",
	    0, 0, NULL, NULL, "60s", 0 },
	{ "dry-run", 0, GW_OPT_FLAG, F(dry_run, int), NULL,
	    "monitors: print transitions, notify nobody", 0, 0, NULL, NULL,
	    NULL, 0 },
	{ "log-level", 0, GW_OPT_STR, F(log_level, char *), "LEVEL",
	    "debug, info, warning or error", 0, 0, gw_log_opt_level, NULL,
	    "info", 0 },
	{ "log-format", 0, GW_OPT_STR, F(log_format, char *), "FMT",
	    "text or json (stderr)", 0, 0, gw_log_opt_format, NULL, "text", 0 },
	{ "version", 0, GW_OPT_FLAG, F(version, int), NULL, "print the version",
	    0, 0, NULL, NULL, NULL, GW_OPT_ARGV_ONLY },
	{ "help", 'h', GW_OPT_FLAG, F(help, int), NULL, "show this help", 0, 0,
	    NULL, NULL, NULL, GW_OPT_ARGV_ONLY },
	{ NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, 0 },
};

static const char about[] =
    "\n"
    "Ships every event to the destinations of export.yml (Datadog, any\n"
    "HTTP collector, Loki, syslog, files, stdout) without losing one, and\n"
    "evaluates its monitors.  Events come from stdin, from FILES (NDJSON\n"
    "or zstd), or from a gw-capture store (--from-store).  Each destination\n"
    "has a disk spool under `spool:`; a kill -9 loses nothing that was\n"
    "read, and the next run sends what was left.\n"
    "\n"
    "Commands:\n"
    "  gw-export --config FILE [EVENTS...]     ship events\n"
    "  gw-export test NAME --config FILE       send one test event to a\n"
    "                                          destination, or a test alert\n"
    "                                          to a channel; print the answer\n"
    "  gw-export monitors --dry-run --config FILE EVENTS...\n"
    "                                          print when each monitor would\n"
    "                                          have fired\n"
    "\n"
    "Signals: SIGHUP reloads export.yml (an invalid file changes\n"
    "nothing); SIGUSR1 prints the stats lines; SIGTERM and SIGINT stop\n"
    "reading and wait 5s for deliveries (the rest stays spooled).\n"
    "\n"
    "Exit status: 0 all delivered, 64 usage, 65 bad input lines, 66 an\n"
    "input cannot be opened, 69 the test was refused, 70 internal,\n"
    "74 I/O, 75 events left in a spool at exit (sent by the next run),\n"
    "78 invalid configuration.\n";

static struct {
	struct opts o;
	struct export_conf *conf;
	struct xport x;
	struct dest **d;
	size_t nd;
	struct monitors *mon;
	int live; /* stdin from a pipeline: monitors follow the clock */

	/* SIGHUP: the configuration that takes over once nothing is in
	 * flight */
	struct export_conf *next_conf;
	struct monitors *next_mon;
	int reloading;

	/* input */
	char **files;
	size_t nfiles, next_file;
	struct gw_evin *in;
	struct gw_io in_io;
	int in_pollable, in_watching;
	struct gw_store *store;
	struct gw_store_cur *cur;
	int64_t store_skip_ts;
	char store_skip_id[40];
	int paused, input_done, stopping;
	struct gw_timer step_timer, drain_timer, stats_timer, tick_timer;
	struct gw_timer reload_timer;
	uint64_t lines, bad, events;
	int rc;

	/* checkpoint */
	uint64_t file_dev, file_ino, file_skip, file_lines;
	int64_t last_ts;
	char last_id[40];
	uint64_t state_written;
	struct gw_buf sel;
} G;

/* ---- checkpoints ---------------------------------------------------------- */

/*
 * The state file: one line per input, "file DEV INO LINES PATH" or
 * "store TS_US EVENT_ID DIR", written whole to a temporary file and
 * renamed over the old one.
 */
struct ckpt {
	char kind[8];
	unsigned long long a, b, c;
	char id[40];
	char path[4096];
};

static int
ckpt_find(const char *kind, const char *path, struct ckpt *out)
{
	char line[4300];
	FILE *fp;
	int found = 0;

	if (G.o.state == NULL || (fp = fopen(G.o.state, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		struct ckpt k;
		int n;

		memset(&k, 0, sizeof(k));
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "file ", 5) == 0 &&
		    sscanf(line, "file %llu %llu %llu %n", &k.a, &k.b, &k.c,
		        &n) == 3) {
			snprintf(k.kind, sizeof(k.kind), "file");
			snprintf(k.path, sizeof(k.path), "%s", line + n);
		} else if (strncmp(line, "store ", 6) == 0 &&
		    sscanf(line, "store %llu %39s %n", &k.a, k.id, &n) == 2) {
			snprintf(k.kind, sizeof(k.kind), "store");
			snprintf(k.path, sizeof(k.path), "%s", line + n);
		} else
			continue;
		if (strcmp(k.kind, kind) == 0 && strcmp(k.path, path) == 0) {
			*out = k;
			found = 1;
		}
	}
	fclose(fp);
	return found;
}

/* Rewrites the state file with the current input's position updated. */
static void
ckpt_save(int force)
{
	char tmp[4200], line[4300];
	uint64_t now = gw_mono_ns() / 1000000;
	const char *path;
	FILE *in, *out;
	int fd;

	if (G.o.state == NULL || (!force && now - G.state_written < 1000))
		return;
	if (G.store == NULL && G.in == NULL)
		return;
	G.state_written = now;
	for (size_t i = 0; i < G.nd; i++)
		dest_flush(G.d[i]);
	snprintf(tmp, sizeof(tmp), "%s.tmp", G.o.state);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || (out = fdopen(fd, "w")) == NULL) {
		gw_warn("--state %s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	path = G.store != NULL ? G.o.from_store : gw_evin_name(G.in);
	if ((in = fopen(G.o.state, "r")) != NULL) {
		while (fgets(line, sizeof(line), in) != NULL) {
			const char *p = strchr(line, ' ');
			size_t n = strcspn(line, "\n");

			/* Keep other inputs' lines. */
			line[n] = '\0';
			if (p == NULL)
				continue;
			if (G.store != NULL &&
			    strncmp(line, "store ", 6) == 0 &&
			    (p = strrchr(line, ' ')) != NULL &&
			    strcmp(p + 1, path) == 0)
				continue;
			if (G.store == NULL && strncmp(line, "file ", 5) == 0) {
				struct ckpt k;
				int m;

				if (sscanf(line, "file %llu %llu %llu %n", &k.a,
				        &k.b, &k.c, &m) == 3 &&
				    strcmp(line + m, path) == 0)
					continue;
			}
			fprintf(out, "%s\n", line);
		}
		fclose(in);
	}
	if (G.store != NULL)
		fprintf(out, "store %lld %s %s\n", (long long)G.last_ts,
		    G.last_id[0] ? G.last_id : "-", path);
	else
		fprintf(out, "file %llu %llu %llu %s\n",
		    (unsigned long long)G.file_dev,
		    (unsigned long long)G.file_ino,
		    (unsigned long long)G.file_lines, path);
	if (fclose(out) != 0 || rename(tmp, G.o.state) == -1)
		gw_warn("--state %s: %s", G.o.state, strerror(errno));
}

/* ---- events -------------------------------------------------------------- */

/* Pauses input while a blocking spool has too little room. */
static int
room_ok(void)
{
	size_t i;

	for (i = 0; i < G.nd; i++)
		if (G.d[i]->c->block && dest_room(G.d[i]) < ROOM_MARGIN)
			return 0;
	return 1;
}

static void
offer(const char *name, uint64_t lineno, const char *line, size_t len)
{
	struct xevent ev;
	struct xsel x;
	const char *out;
	size_t olen, i;

	G.lines++;
	if (pick_event(&ev, line, len) == -1) {
		if (G.bad++ < BAD_SHOWN)
			gw_warn("%s:%llu: not a JSON object; skipped%s", name,
			    (unsigned long long)lineno,
			    G.bad == BAD_SHOWN ? " (further ones are only "
			                         "counted)"
			                       : "");
		return;
	}
	G.events++;
	xsel_init(&x, &ev);
	for (i = 0; i < G.nd; i++) {
		if (!source_wants(&G.d[i]->c->src, &x))
			continue;
		if (source_select(&G.d[i]->c->src, &x, &G.sel, &out, &olen) ==
		    -1) {
			gw_warn("%s:%llu: %s: fields could not be selected; "
			        "skipped",
			    name, (unsigned long long)lineno, G.d[i]->c->name);
			continue;
		}
		if (dest_append(G.d[i], out, olen) == -1)
			gw_error("%s:%llu: %s: not spooled: %s", name,
			    (unsigned long long)lineno, G.d[i]->c->name,
			    strerror(errno));
	}
	if (G.mon != NULL)
		monitor_feed(G.mon, &ev, x.json);
	if (G.store != NULL) {
		G.last_ts = ev.ts_us;
		pick_str(&ev, XF_EVENT_ID, G.last_id, sizeof(G.last_id));
	}
	xsel_fini(&x);
}

static int
on_line(void *arg, const char *name, uint64_t lineno, const char *line,
    size_t len, int too_long)
{
	(void)arg;
	G.file_lines = lineno;
	if (lineno <= G.file_skip)
		return 0;
	if (too_long) {
		G.lines++;
		if (G.bad++ < BAD_SHOWN)
			gw_warn("%s:%llu: line over 16 MiB; skipped", name,
			    (unsigned long long)lineno);
		return 0;
	}
	offer(name, lineno, line, len);
	return 0;
}

static void
pump_all(void)
{
	size_t i;

	for (i = 0; i < G.nd; i++) {
		dest_flush(G.d[i]);
		dest_pump(G.d[i]);
	}
}

static void
finish_check(void)
{
	size_t i;

	if (!G.input_done)
		return;
	for (i = 0; i < G.nd; i++)
		if (!dest_idle(G.d[i]))
			return;
	gw_loop_stop(G.x.loop);
}

static void input_step(void);

static void
schedule_step(void)
{
	if (G.in_watching) {
		(void)gw_io_set(G.x.loop, &G.in_io, GW_READ);
		return;
	}
	(void)gw_timer_set(G.x.loop, &G.step_timer, 0);
}

static void reload_check(void);

void
xport_progress(struct xport *x)
{
	(void)x;
	reload_check();
	if (G.paused && !G.reloading && room_ok()) {
		G.paused = 0;
		schedule_step();
	}
	finish_check();
}

static void
input_done(void)
{
	G.input_done = 1;
	G.x.draining = 1;
	ckpt_save(1);
	if (G.mon != NULL && !G.live)
		monitor_flush(G.mon);
	pump_all();
	if (G.o.drain_timeout > 0)
		(void)gw_timer_set(G.x.loop, &G.drain_timer, G.o.drain_timeout);
	finish_check();
}

/* Opens the next file (or stdin); 0, or -1 when there is none left. */
static int
open_next(void)
{
	struct gw_error err;
	struct ckpt k;
	struct stat sb;
	const char *path;
	char msg[600];

	for (;;) {
		if (G.nfiles == 0 && G.next_file == 0)
			path = NULL; /* stdin */
		else if (G.next_file < G.nfiles)
			path = G.files[G.next_file];
		else
			return -1;
		G.next_file++;
		memset(&err, 0, sizeof(err));
		G.in = gw_evin_open(path, MAX_LINE, &err);
		if (G.in == NULL) {
			gw_error_format(&err, msg, sizeof(msg));
			gw_error("%s", msg);
			G.rc = errno == ENOMEM ? EX_SOFTWARE : EX_NOINPUT;
			if (G.nfiles == 0)
				return -1;
			continue;
		}
		G.file_skip = G.file_lines = 0;
		G.file_dev = G.file_ino = 0;
		if (fstat(gw_evin_fd(G.in), &sb) == 0) {
			G.file_dev = (uint64_t)sb.st_dev;
			G.file_ino = (uint64_t)sb.st_ino;
			G.in_pollable = !S_ISREG(sb.st_mode);
		}
		if (path != NULL && ckpt_find("file", path, &k) &&
		    k.a == G.file_dev && k.b == G.file_ino) {
			G.file_skip = k.c;
			gw_info("%s: %llu lines were sent by an earlier run; "
			        "going on after them",
			    path, (unsigned long long)k.c);
		}
		if (G.in_pollable) {
			int fd = gw_evin_fd(G.in);

			(void)fcntl(
			    fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			gw_io_init(&G.in_io, fd, NULL, NULL);
		}
		return 0;
	}
}

static void
on_in_io(struct gw_loop *loop, struct gw_io *io, int events)
{
	(void)loop;
	(void)io;
	(void)events;
	input_step();
}

static void
store_step(void)
{
	const struct gw_evsum *sum;
	const char *line;
	size_t len;
	int r, n = 0;

	while (n < STORE_CHUNK) {
		r = gw_store_cur_next(G.cur, &sum);
		if (r == 0) {
			input_done();
			return;
		}
		if (r == -1) {
			gw_error("--from-store %s: %s", G.o.from_store,
			    strerror(errno));
			G.rc = EX_IOERR;
			input_done();
			return;
		}
		if (gw_store_cur_line(G.cur, &line, &len) == -1)
			continue;
		n++;
		if (G.store_skip_ts != 0 && sum->ts_us <= G.store_skip_ts) {
			char id[40];
			struct xevent ev;

			if (sum->ts_us < G.store_skip_ts)
				continue;
			/* The same microsecond: ids sort by time. */
			if (pick_event(&ev, line, len) == 0 &&
			    strcmp(pick_str(&ev, XF_EVENT_ID, id, sizeof(id)),
			        G.store_skip_id) <= 0)
				continue;
		}
		offer(G.o.from_store, 0, line, len);
	}
	ckpt_save(0);
	pump_all();
	schedule_step();
}

static void
input_step(void)
{
	struct gw_error err;
	char msg[600];
	int r;

	if (G.input_done || G.stopping)
		return;
	if (G.reloading || !room_ok()) {
		G.paused = 1;
		if (G.in_watching) {
			gw_io_stop(G.x.loop, &G.in_io);
			G.in_watching = 0;
		}
		pump_all();
		return;
	}
	if (G.store != NULL) {
		store_step();
		return;
	}
	if (G.in == NULL && open_next() == -1) {
		input_done();
		return;
	}
	memset(&err, 0, sizeof(err));
	r = gw_evin_step(G.in, on_line, NULL, &err);
	switch (r) {
	case GW_EVIN_MORE:
		break;
	case GW_EVIN_AGAIN:
		if (!G.in_watching) {
			G.in_io.cb = on_in_io;
			if (gw_io_set(G.x.loop, &G.in_io, GW_READ) == 0)
				G.in_watching = 1;
		}
		pump_all();
		return;
	case GW_EVIN_OK:
		if (gw_evin_truncated(G.in))
			gw_warn("%s: the zstd stream is truncated; its "
			        "complete lines were read",
			    gw_evin_name(G.in));
		ckpt_save(1);
		if (G.in_watching) {
			gw_io_stop(G.x.loop, &G.in_io);
			G.in_watching = 0;
		}
		gw_evin_close(G.in);
		G.in = NULL;
		break;
	default:
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
		G.rc = EX_IOERR;
		if (G.in_watching) {
			gw_io_stop(G.x.loop, &G.in_io);
			G.in_watching = 0;
		}
		gw_evin_close(G.in);
		G.in = NULL;
		break;
	}
	ckpt_save(0);
	pump_all();
	if (!G.in_watching)
		schedule_step();
}

static void
on_step(struct gw_loop *loop, struct gw_timer *t)
{
	(void)loop;
	(void)t;
	input_step();
}

/* ---- monitors' notifications --------------------------------------------- */

struct pending_note {
	struct notification n;
	char *channel; /* outlives a reload of the channels */
	char **hdrs;
	int tries;
	struct gw_timer timer;
};

static void note_send(struct pending_note *p);

static void
header_lines_free(char **l)
{
	size_t i;

	for (i = 0; l != NULL && l[i] != NULL; i++)
		free(l[i]);
	free(l);
}

/* "Name: value" lines of <n>'s headers for lib/curlm, or NULL (ENOMEM). */
static char **
header_lines(const struct notification *n)
{
	char **l = calloc(n->nheaders + 1, sizeof(*l));
	size_t i;

	for (i = 0; l != NULL && i < n->nheaders; i++)
		if (asprintf(&l[i], "%s: %s", n->headers[i].name,
		        n->headers[i].value) == -1) {
			l[i] = NULL;
			header_lines_free(l);
			l = NULL;
		}
	return l;
}

static void
note_free(struct pending_note *p)
{
	header_lines_free(p->hdrs);
	notification_fini(&p->n);
	free(p->channel);
	free(p);
}

static void
note_retry(struct gw_loop *loop, struct gw_timer *t)
{
	(void)loop;
	note_send(t->arg);
}

static void
note_done(void *arg, const struct gw_http_res *res)
{
	struct pending_note *p = arg;
	uint64_t wait;

	if (res->status >= 200 && res->status < 300) {
		note_free(p);
		return;
	}
	if (res->curl_code == 42 || ++p->tries >= NOTIFY_TRIES ||
	    (res->status >= 400 && res->status < 500 && res->status != 408 &&
	        res->status != 429)) {
		gw_error("channel %s: the notification was not delivered "
		         "(%s%d %.*s)",
		    p->n.channel, res->status ? "status " : "",
		    res->status ? res->status : res->curl_code,
		    (int)(res->body_len < 200 ? res->body_len : 200),
		    res->status ? res->body : res->error);
		note_free(p);
		return;
	}
	wait = 1000ULL << (p->tries < 8 ? p->tries : 8);
	gw_timer_init(&p->timer, note_retry, p);
	(void)gw_timer_set(G.x.loop, &p->timer, wait);
}

/* The request that delivers <n>, with its header lines <hdrs>. */
static void
note_request(const struct notification *n, char **hdrs, struct gw_http_req *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->method = n->method;
	rq->url = n->url;
	rq->headers = (const char *const *)hdrs;
	rq->body = gw_buf_head(&n->body);
	rq->body_len = n->body.len;
	rq->timeout_ms = 15000;
	rq->max_response = 2048;
}

static void
note_send(struct pending_note *p)
{
	struct gw_http_req rq;

	note_request(&p->n, p->hdrs, &rq);
	if (gw_curlm_start(G.x.curl, &rq, note_done, p) == -1) {
		gw_error("channel %s: %s", p->n.channel, strerror(errno));
		note_free(p);
	}
}

static const char *
state_name(enum monitor_state s)
{
	return s == MON_ALERT ? "ALERT" : s == MON_WARN ? "WARN" : "OK";
}

static void
on_alert(void *arg, const struct monitor_alert *a)
{
	struct pending_note *p;
	size_t i;

	(void)arg;
	gw_info("monitor %s%s%s: %s -> %s: %s", a->monitor,
	    a->grouped ? " " : "", a->grouped ? a->group : "",
	    state_name(a->from), state_name(a->to), a->title);
	for (i = 0; i < a->nchannels; i++) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return;
		if (notify_request(a->channels[i], a, &p->n) != 0) {
			free(p);
			continue;
		}
		if ((p->channel = strdup(p->n.channel)) == NULL) {
			note_free(p);
			continue;
		}
		p->n.channel = p->channel;
		if ((p->hdrs = header_lines(&p->n)) == NULL) {
			gw_error("channel %s: out of memory", p->channel);
			note_free(p);
			continue;
		}
		note_send(p);
	}
}

static void
on_tick(struct gw_loop *loop, struct gw_timer *t)
{
	(void)loop;
	if (G.mon == NULL)
		return;
	monitor_tick(G.mon, (int64_t)(gw_now_ns() / 1000));
	(void)gw_timer_set(G.x.loop, t, 1000);
}

/* ---- stats, signals ------------------------------------------------------ */

static void
stats_line(const char *when)
{
	struct dest_counts k;
	size_t i;

	for (i = 0; i < G.nd; i++) {
		dest_stats(G.d[i], &k);
		gw_info("%s: %s: sent=%llu retried=%llu spooled=%llu "
		        "dead_lettered=%llu dropped=%llu requests=%llu%s",
		    when, G.d[i]->c->name, (unsigned long long)k.sent,
		    (unsigned long long)k.retried,
		    (unsigned long long)k.spooled, (unsigned long long)k.dead,
		    (unsigned long long)k.dropped,
		    (unsigned long long)k.requests,
		    k.stopped ? " STOPPED (credentials refused)" : "");
	}
}

static void
on_stats(struct gw_loop *loop, struct gw_timer *t)
{
	(void)loop;
	stats_line("stats");
	(void)gw_timer_set(G.x.loop, t, G.o.stats_interval);
}

static void
on_drain_timeout(struct gw_loop *loop, struct gw_timer *t)
{
	(void)t;
	gw_warn("--drain-timeout: events are left in the spools; the next run "
	        "sends them");
	gw_loop_stop(loop);
}

static void reload_begin(void);
static void reload_cancel(void);
static void on_reload(struct gw_loop *loop, struct gw_timer *t);

static void
on_signal(struct gw_loop *loop, int signo, void *arg)
{
	(void)arg;
	if (signo == SIGHUP) {
		if (!G.stopping)
			reload_begin();
		return;
	}
	if (signo == SIGUSR1) {
		stats_line("stats");
		return;
	}
	reload_cancel();
	if (G.stopping) {
		gw_loop_stop(loop);
		return;
	}
	G.stopping = 1;
	gw_info("%s: stopping; what is not delivered within 5s stays spooled",
	    strsignal(signo));
	ckpt_save(1);
	G.input_done = 1;
	G.x.draining = 1;
	pump_all();
	(void)gw_timer_set(loop, &G.drain_timer, 5000);
	finish_check();
}

/* ---- commands ------------------------------------------------------------ */

static int
open_store(void)
{
	struct gw_error err;
	struct ckpt k;
	int64_t since = INT64_MIN, until = INT64_MAX;
	char msg[800];

	if (G.o.since != NULL &&
	    gw_parse_when(G.o.since, gw_now_ns(), &since) == -1) {
		gw_error("--since: '%s' is neither an age nor an RFC 3339 time",
		    G.o.since);
		return EX_USAGE;
	}
	if (G.o.until != NULL &&
	    gw_parse_when(G.o.until, gw_now_ns(), &until) == -1) {
		gw_error("--until: '%s' is neither an age nor an RFC 3339 time",
		    G.o.until);
		return EX_USAGE;
	}
	if (ckpt_find("store", G.o.from_store, &k)) {
		G.store_skip_ts = (int64_t)k.a;
		snprintf(G.store_skip_id, sizeof(G.store_skip_id), "%s", k.id);
		if (G.store_skip_ts > since)
			since = G.store_skip_ts;
		G.last_ts = G.store_skip_ts;
		snprintf(G.last_id, sizeof(G.last_id), "%s", k.id);
	}
	memset(&err, 0, sizeof(err));
	G.store = gw_store_open(G.o.from_store, 0, NULL, &err);
	if (G.store == NULL) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
		return EX_IOERR;
	}
	G.cur = gw_store_cur_new(G.store, since, until, 0);
	if (G.cur == NULL) {
		gw_error(
		    "--from-store %s: %s", G.o.from_store, strerror(errno));
		return EX_IOERR;
	}
	return EX_OK;
}

/* gw-export test NAME: one test event, straight to the destination. */
static int
test_dest(const struct dest_conf *c)
{
	char ts[40], id[GW_EVID_LEN + 1], line[512];
	uint64_t now = gw_now_ns();
	size_t i;
	int n;

	gw_rfc3339(now, ts);
	gw_evid_new(now, id);
	n = snprintf(line, sizeof(line),
	    "{\"event_id\":\"%s\",\"event_type\":\"test\",\"event_timestamp\":"
	    "\"%s\",\"principal\":{\"source\":\"cli\"},\"object\":{\"message\":"
	    "\"gw-export test event for destination %s\"}}",
	    id, ts, c->name);
	for (i = 0; i < G.nd; i++)
		if (G.d[i]->c == c)
			break;
	if (n <= 0 || (size_t)n >= sizeof(line) || i == G.nd)
		return EX_SOFTWARE;
	if (dest_append(G.d[i], line, (size_t)n) == -1) {
		gw_error("%s: %s", c->name, strerror(errno));
		return EX_IOERR;
	}
	G.input_done = 1;
	G.x.draining = 1;
	dest_flush(G.d[i]);
	dest_pump(G.d[i]);
	(void)gw_timer_set(G.x.loop, &G.drain_timer, 30000);
	finish_check();
	gw_loop_run(G.x.loop);
	return EX_OK;
}

/* gw-export test CHANNEL: one notification, sent once, its answer shown. */
struct chan_test {
	struct notification n;
	char **hdrs;
	int built, done, ok;
};

static void
chan_test_note(void *arg, const struct monitor_alert *a)
{
	struct chan_test *ct = arg;

	ct->built = notify_request(a->channels[0], a, &ct->n) == 0;
	if (ct->built)
		ct->hdrs = header_lines(&ct->n);
}

static void
chan_test_done(void *arg, const struct gw_http_res *res)
{
	struct chan_test *ct = arg;
	size_t n = res->body_len < 400 ? res->body_len : 400;

	ct->done = 1;
	ct->ok = res->status >= 200 && res->status < 300;
	if (res->status != 0)
		printf("%s: %s %s: %d %.*s\n", ct->n.channel, ct->n.method,
		    ct->n.url, res->status, (int)n, res->body);
	else
		printf("%s: %s %s: %s\n", ct->n.channel, ct->n.method,
		    ct->n.url, res->error);
	gw_loop_stop(G.x.loop);
}

static int
chan_test_send(struct monitor_channel *ch, enum monitor_state to)
{
	struct chan_test ct;
	struct gw_http_req rq;
	int ok;

	memset(&ct, 0, sizeof(ct));
	if (monitor_test_alert(ch, to, chan_test_note, &ct) == -1 ||
	    !ct.built || ct.hdrs == NULL) {
		gw_error("test: %s: out of memory", notify_channel_name(ch));
		notification_fini(&ct.n);
		header_lines_free(ct.hdrs);
		return -1;
	}
	note_request(&ct.n, ct.hdrs, &rq);
	rq.keep_body = 1; /* the answer is printed */
	if (gw_curlm_start(G.x.curl, &rq, chan_test_done, &ct) == 0)
		gw_loop_run(G.x.loop);
	else
		gw_error("test: %s: %s", ct.n.channel, strerror(errno));
	ok = ct.done && ct.ok;
	header_lines_free(ct.hdrs);
	notification_fini(&ct.n);
	return ok ? 0 : -1;
}

/*
 * Sends channel <name> a test alert, and for PagerDuty the recovery that
 * resolves the incident it opened.  EX_UNAVAILABLE when it was refused.
 */
static int
test_channel(const char *name)
{
	struct monitor_opts mo;
	struct monitor_channel *ch;
	struct monitors *ms;
	struct gw_error err;
	char msg[800];
	int rc = EX_OK;

	memset(&mo, 0, sizeof(mo));
	memset(&err, 0, sizeof(err));
	ms = monitor_load(G.conf->monitors, G.conf->channels, &mo, &err);
	if (ms == NULL) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
		return EX_CONFIG;
	}
	if ((ch = monitor_channel_find(ms, name)) == NULL) {
		gw_error("test: no destination or channel named '%s' in %s",
		    name, G.o.config);
		monitor_free(ms);
		return EX_USAGE;
	}
	if (chan_test_send(ch, MON_ALERT) == -1 ||
	    (notify_channel_type(ch) == CH_PAGERDUTY &&
	        chan_test_send(ch, MON_OK) == -1)) {
		printf("%s: the test notification was not delivered\n", name);
		rc = EX_UNAVAILABLE;
	} else
		printf("%s: the test notification was delivered\n", name);
	monitor_free(ms);
	return rc;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes the test's temporary spool and everything in it. */
static void
rmtree(const char *dir)
{
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
setup_loop(void)
{
	if ((G.x.loop = gw_loop_new()) == NULL ||
	    (G.x.curl = gw_curlm_new(G.x.loop, NULL)) == NULL) {
		gw_error("out of memory");
		return EX_SOFTWARE;
	}
	gw_timer_init(&G.step_timer, on_step, NULL);
	gw_timer_init(&G.drain_timer, on_drain_timeout, NULL);
	gw_timer_init(&G.stats_timer, on_stats, NULL);
	gw_timer_init(&G.tick_timer, on_tick, NULL);
	gw_timer_init(&G.reload_timer, on_reload, NULL);
	if (gw_loop_signal(G.x.loop, SIGTERM, on_signal, NULL) == -1 ||
	    gw_loop_signal(G.x.loop, SIGINT, on_signal, NULL) == -1 ||
	    gw_loop_signal(G.x.loop, SIGHUP, on_signal, NULL) == -1 ||
	    gw_loop_signal(G.x.loop, SIGUSR1, on_signal, NULL) == -1) {
		gw_error("signals: %s", strerror(errno));
		return EX_SOFTWARE;
	}
	return EX_OK;
}

static int
open_dests(const char *only)
{
	struct gw_error err;
	char msg[800];
	size_t i;

	G.d = calloc(G.conf->ndests + 1, sizeof(*G.d));
	if (G.d == NULL)
		return EX_SOFTWARE;
	for (i = 0; i < G.conf->ndests; i++) {
		if (only != NULL && strcmp(G.conf->dests[i].name, only) != 0)
			continue;
		memset(&err, 0, sizeof(err));
		G.d[G.nd] =
		    dest_new(&G.conf->dests[i], &G.x, G.conf->spool, &err);
		if (G.d[G.nd] == NULL) {
			gw_error_format(&err, msg, sizeof(msg));
			gw_error("%s", msg);
			return errno == EINVAL ? EX_CONFIG : EX_IOERR;
		}
		G.nd++;
	}
	return EX_OK;
}

/* The monitors of <c> into *<out> (NULL when it has none). */
static int
load_monitors(const struct export_conf *c, unsigned flags,
    monitor_notify_fn *fn, struct monitors **out)
{
	struct monitor_opts mo;
	struct gw_error err;
	char msg[800];

	*out = NULL;
	if (c->monitors == NULL)
		return EX_OK;
	memset(&mo, 0, sizeof(mo));
	memset(&err, 0, sizeof(err));
	mo.notify = fn;
	mo.arg = fn == monitor_print ? (void *)stdout : NULL;
	mo.flags = flags;
	*out = monitor_load(c->monitors, c->channels, &mo, &err);
	if (*out == NULL) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
		return EX_CONFIG;
	}
	return EX_OK;
}

/* ---- reload (SIGHUP) ------------------------------------------------------ */

/*
 * SIGHUP reads export.yml again.  An invalid file changes nothing (the
 * error names file:line:col and the running configuration goes on).  A
 * valid one takes over once the requests in flight are answered: input
 * pauses, no request starts, then every destination is closed (its
 * spool keeps what is not delivered) and opened again from the new
 * configuration, so a fixed API key or a new URL takes effect and a
 * destination stopped by a 401 tries again.  Monitors that count the
 * same thing over the same window keep their windows and states.
 */
static void
reload_begin(void)
{
	struct gw_error err;
	struct export_conf *c;
	struct monitors *m = NULL;
	char msg[800];

	if (G.reloading) {
		gw_warn("SIGHUP: a reload is already under way");
		return;
	}
	memset(&err, 0, sizeof(err));
	if ((c = xconf_load(G.o.config, &err)) == NULL) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("SIGHUP: %s; the running configuration goes on", msg);
		return;
	}
	if (load_monitors(c, 0, on_alert, &m) != EX_OK) {
		gw_error("SIGHUP: the running configuration goes on");
		xconf_free(c);
		return;
	}
	G.next_conf = c;
	G.next_mon = m;
	G.reloading = 1;
	G.x.hold = 1;
	gw_info("SIGHUP: %s read; it takes over once the requests in flight "
	        "are answered",
	    G.o.config);
	reload_check();
}

static void
reload_cancel(void)
{
	if (!G.reloading)
		return;
	xconf_free(G.next_conf);
	monitor_free(G.next_mon);
	G.next_conf = NULL;
	G.next_mon = NULL;
	G.reloading = 0;
	G.x.hold = 0;
}

static void
reload_finish(void)
{
	struct export_conf *oldc = G.conf;
	struct dest_counts *was;
	const char **name;
	size_t nold = G.nd, i, j;

	was = calloc(nold + 1, sizeof(*was));
	name = calloc(nold + 1, sizeof(*name));
	if (was == NULL || name == NULL) {
		gw_error("SIGHUP: out of memory; the running configuration "
		         "goes on");
		free(was);
		free(name);
		reload_cancel();
		pump_all();
		return;
	}
	/* Counters go on in a destination of the same name. */
	for (i = 0; i < nold; i++) {
		struct dest *d = G.d[i];

		dest_flush(d);
		dest_stats(d, &was[i]);
		name[i] = d->c->name; /* lives in oldc */
		dest_free(d);
	}
	free(G.d);
	G.d = NULL;
	G.nd = 0;
	G.conf = G.next_conf;
	if (open_dests(NULL) != EX_OK) {
		/* A spool that cannot open: back to what ran. */
		for (i = 0; i < G.nd; i++)
			dest_free(G.d[i]);
		free(G.d);
		G.d = NULL;
		G.nd = 0;
		G.conf = oldc;
		reload_cancel();
		if (open_dests(NULL) != EX_OK) {
			gw_error(
			    "SIGHUP: the destinations cannot be opened "
			    "again; stopping (the spools keep everything)");
			G.rc = EX_IOERR;
			G.stopping = G.input_done = 1;
			gw_loop_stop(G.x.loop);
		} else
			gw_error("SIGHUP: the running configuration goes on");
		free(was);
		free(name);
		pump_all();
		return;
	}
	for (i = 0; i < nold; i++) {
		struct dest *n = NULL;

		for (j = 0; j < G.nd && n == NULL; j++)
			if (strcmp(G.d[j]->c->name, name[i]) == 0)
				n = G.d[j];
		if (n != NULL) {
			n->sent += was[i].sent;
			n->retried += was[i].retried;
			n->dead += was[i].dead;
			n->requests += was[i].requests;
			/* Drops of every kind: dest_stats() adds them up. */
			n->too_old += was[i].dropped;
		} else if (was[i].spooled > 0)
			gw_warn("SIGHUP: destination %s is gone from %s; its "
			        "spool keeps %llu undelivered events",
			    name[i], G.o.config,
			    (unsigned long long)was[i].spooled);
	}
	free(was);
	free(name);
	xconf_free(oldc);
	monitor_adopt(G.next_mon, G.mon);
	monitor_free(G.mon);
	G.mon = G.next_mon;
	G.next_conf = NULL;
	G.next_mon = NULL;
	G.reloading = 0;
	G.x.hold = 0;
	gw_timer_stop(G.x.loop, &G.tick_timer);
	if (G.mon != NULL && G.live)
		(void)gw_timer_set(G.x.loop, &G.tick_timer, 1000);
	gw_info("SIGHUP: reloaded %s: %zu destinations, %zu monitors",
	    G.o.config, G.nd, G.mon != NULL ? monitor_count(G.mon) : 0);
	pump_all();
	if (G.paused && room_ok()) {
		G.paused = 0;
		schedule_step();
	}
	finish_check();
}

static void
on_reload(struct gw_loop *loop, struct gw_timer *t)
{
	(void)loop;
	(void)t;
	if (G.reloading)
		reload_finish();
}

/*
 * Takes the new configuration once nothing is in flight: from a timer,
 * since progress is reported from inside a destination's callbacks.
 */
static void
reload_check(void)
{
	size_t i;

	if (!G.reloading)
		return;
	for (i = 0; i < G.nd; i++)
		if (G.d[i]->inflight > 0)
			return;
	(void)gw_timer_set(G.x.loop, &G.reload_timer, 0);
}

static void
cleanup(void)
{
	size_t i;

	gw_evin_close(G.in);
	gw_store_cur_free(G.cur);
	gw_store_close(G.store);
	for (i = 0; i < G.nd; i++)
		dest_free(G.d[i]);
	free(G.d);
	gw_curlm_free(G.x.curl);
	monitor_free(G.mon);
	xconf_free(G.next_conf);
	monitor_free(G.next_mon);
	gw_loop_free(G.x.loop);
	xconf_free(G.conf);
	gw_buf_fini(&G.sel);
	xcompress_fini();
	gw_opts_free(optab, &G.o);
}

int
main(int argc, char **argv)
{
	struct gw_error err;
	char msg[800], **pos, tmpl[] = "/tmp/gw-export-test.XXXXXX", *tmpdir;
	const char *cmd = NULL;
	int npos = 0, at = 1, oi, rc;
	size_t i;

	gw_log_init(EXPORT_NAME);
	(void)signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)(gw_now_ns() ^ (uint64_t)getpid()));
	memset(&err, 0, sizeof(err));
	gw_buf_init(&G.sel, 0);
	if (argc > 1 &&
	    (strcmp(argv[1], "test") == 0 ||
	        strcmp(argv[1], "monitors") == 0)) {
		cmd = argv[1];
		at = 2;
	}
	if ((pos = calloc((size_t)argc + 1, sizeof(*pos))) == NULL)
		return EX_SOFTWARE;
	if (gw_opts_init(optab, &G.o, &err) == -1)
		goto usage;
	while (at < argc) {
		if (gw_opts_parse_argv(optab, &G.o, argc - at + 1,
		        argv + at - 1, &oi, &err) == -1)
			goto usage;
		at += oi - 1;
		if (at < argc)
			pos[npos++] = argv[at++];
	}
	if (G.o.help) {
		gw_opts_usage(stdout,
		    "gw-export --config FILE [options] [EVENTS...]", optab);
		fputs(about, stdout);
		free(pos);
		gw_opts_free(optab, &G.o);
		return EX_OK;
	}
	if (G.o.version) {
		printf("gw-export %s\n", GW_VERSION);
		free(pos);
		gw_opts_free(optab, &G.o);
		return EX_OK;
	}
	gw_log_apply(G.o.log_level, G.o.log_format);
	if (G.o.config == NULL) {
		gw_error("--config FILE is required; see gw-export --help");
		rc = EX_USAGE;
		goto out;
	}
	if ((cmd != NULL && strcmp(cmd, "test") == 0 && npos != 1) ||
	    (cmd != NULL && strcmp(cmd, "monitors") == 0 &&
	        (!G.o.dry_run || npos == 0))) {
		gw_error(
		    "usage: gw-export test NAME --config FILE, or "
		    "gw-export monitors --dry-run --config FILE EVENTS...");
		rc = EX_USAGE;
		goto out;
	}
	if (G.o.from_store != NULL && npos > 0) {
		gw_error("give EVENTS files or --from-store, not both");
		rc = EX_USAGE;
		goto out;
	}
	G.conf = xconf_load(G.o.config, &err);
	if (G.conf == NULL) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
		rc = EX_CONFIG;
		goto out;
	}
	if ((rc = setup_loop()) != EX_OK)
		goto out;
	if (cmd != NULL && strcmp(cmd, "monitors") == 0) {
		/* A dry run: saved events through the monitors, no sending. */
		if ((rc = load_monitors(G.conf, MONITOR_NO_SECRETS,
		         monitor_print, &G.mon)) != EX_OK)
			goto out;
		if (G.mon == NULL) {
			gw_error("%s has no monitors", G.o.config);
			rc = EX_CONFIG;
			goto out;
		}
		for (i = 0; i < (size_t)npos; i++) {
			memset(&err, 0, sizeof(err));
			if (gw_evin_read(pos[i], MAX_LINE, on_line, NULL, NULL,
			        &err) < 0) {
				gw_error_format(&err, msg, sizeof(msg));
				gw_error("%s", msg);
				rc = EX_NOINPUT;
			}
		}
		monitor_flush(G.mon);
		fflush(stdout);
		if (rc == EX_OK && G.bad > 0)
			rc = EX_DATAERR;
		goto out;
	}
	if (cmd != NULL) {
		const struct dest_conf *dc = xconf_dest(G.conf, pos[0]);

		if (dc == NULL) {
			rc = test_channel(pos[0]);
			goto out;
		}
		/* A spool of its own, so that a test event never lingers. */
		if ((tmpdir = mkdtemp(tmpl)) == NULL) {
			gw_error("test: %s: %s", tmpl, strerror(errno));
			rc = EX_IOERR;
			goto out;
		}
		free(G.conf->spool);
		if ((G.conf->spool = strdup(tmpdir)) == NULL ||
		    (rc = open_dests(pos[0])) != EX_OK)
			goto test_out;
		rc = test_dest(dc);
		if (rc == EX_OK) {
			struct dest_counts k;

			dest_stats(G.d[0], &k);
			if (G.d[0]->last_status != 0 ||
			    G.d[0]->last_answer[0] != '\0')
				printf("%s: %d %s\n", dc->name,
				    G.d[0]->last_status, G.d[0]->last_answer);
			if (k.sent == 1)
				printf("%s: the test event was delivered\n",
				    dc->name);
			else {
				printf("%s: the test event was not delivered\n",
				    dc->name);
				rc = EX_UNAVAILABLE;
			}
		}
	test_out:
		for (i = 0; i < G.nd; i++)
			dest_free(G.d[i]);
		G.nd = 0;
		rmtree(tmpdir);
		goto out;
	}
	if ((rc = open_dests(NULL)) != EX_OK ||
	    (rc = load_monitors(G.conf, 0, on_alert, &G.mon)) != EX_OK)
		goto out;
	G.files = pos;
	G.nfiles = (size_t)npos;
	if (G.o.from_store != NULL && (rc = open_store()) != EX_OK)
		goto out;
	G.live = G.o.from_store == NULL && npos == 0;
	if (G.mon != NULL && G.live)
		(void)gw_timer_set(G.x.loop, &G.tick_timer, 1000);
	if (G.o.stats_interval > 0)
		(void)gw_timer_set(
		    G.x.loop, &G.stats_timer, G.o.stats_interval);
	/* What earlier runs left in the spools goes out first. */
	pump_all();
	schedule_step();
	if (gw_loop_run(G.x.loop) == -1) {
		gw_error("event loop: %s", strerror(errno));
		rc = EX_SOFTWARE;
	}
	ckpt_save(1);
	for (i = 0; i < G.nd; i++)
		dest_flush(G.d[i]);
	stats_line("exit");
	if (G.rc != EX_OK)
		rc = G.rc;
	else if (G.bad > 0)
		rc = EX_DATAERR;
	for (i = 0; rc == EX_OK && i < G.nd; i++) {
		struct dest_counts k;

		dest_stats(G.d[i], &k);
		if (k.spooled > 0 || !dest_idle(G.d[i]))
			rc = EX_TEMPFAIL;
	}
	goto out;
usage:
	gw_error_format(&err, msg, sizeof(msg));
	gw_error("%s", msg);
	rc = err.file[0] ? EX_CONFIG : EX_USAGE;
out:
	cleanup();
	free(pos);
	return rc;
}
