// SPDX-License-Identifier: MIT
/*
 * Sending: the one loop of gw-replay.  Events are taken from the feed
 * only when a replay may start (fewer than --concurrency in flight, and
 * --rate's interval passed since the last start), planned, and handed to
 * libcurl through lib/curlm; each answer, or failure, is reported as it
 * comes and frees a slot for the next.  So memory holds the replays in
 * flight and nothing more, however large the batch.  SIGINT or SIGTERM
 * stop taking events and let those in flight finish; a second one
 * aborts them.
 */
#include <curl/curl.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "curlm.h"
#include "gw-replay.h"
#include "log.h"
#include "loop.h"
#include "timeutil.h"

/* Response bytes kept when there is no --diff: none is shown. */
#define KEEP_NO_DIFF 1024

struct sched {
	struct gw_loop *loop;
	struct gw_curlm *cm;
	struct feed *feed;
	const struct edits *ed;
	struct out *out;
	const struct sched_opts *o;
	size_t active;
	uint64_t next_ns; /* no start before (CLOCK_MONOTONIC) */
	struct gw_timer rate_timer;
	struct gw_io in_io;
	int in_io_set, watching;
	int feed_done, stopping, signals, pumping;
	int failed; /* an exit status: EX_IOERR, EX_SOFTWARE */
};

/* One replay in flight. */
struct job {
	struct sched *s;
	struct plan plan;
};

static void pump(struct sched *s);

static void
finish_if_done(struct sched *s)
{
	if ((s->feed_done || s->stopping) && s->active == 0)
		gw_loop_stop(s->loop);
}

static void
on_done(void *arg, const struct gw_http_res *res)
{
	struct job *j = arg;
	struct sched *s = j->s;
	struct rp_res nr;
	struct outcome oc;
	size_t i;

	s->active--;
	memset(&nr, 0, sizeof(nr));
	memset(&oc, 0, sizeof(oc));
	oc.status = res->status;
	oc.total_s = res->total_s;
	if (res->curl_code == CURLE_ABORTED_BY_CALLBACK)
		oc.error = "aborted (signal)";
	else if (res->curl_code != CURLE_OK)
		oc.error = res->error;
	if (s->ed->diff && oc.error == NULL) {
		nr.status = res->status;
		nr.has_headers = 1;
		nr.body = (unsigned char *)(uintptr_t)res->body;
		nr.body_len = res->body_len;
		nr.body_total = (int64_t)res->body_total;
		if (res->nheaders > 0 &&
		    (nr.hdrs = calloc(res->nheaders, sizeof(*nr.hdrs))) !=
		        NULL) {
			for (i = 0; i < res->nheaders; i++) {
				nr.hdrs[i].name =
				    (char *)(uintptr_t)res->headers[i].name;
				nr.hdrs[i].value =
				    (char *)(uintptr_t)res->headers[i].value;
			}
			nr.nhdrs = res->nheaders;
		}
		oc.res = &nr;
	}
	out_result(s->out, &j->plan, &oc);
	free(nr.hdrs);
	plan_fini(&j->plan);
	free(j);
	pump(s);
}

/* Plans and starts one replay of the event <it>. */
static void
start_one(struct sched *s, const struct feed_item *it)
{
	struct gw_http_req req;
	struct outcome oc;
	json_error_t jerr;
	struct job *j;
	const char *type;
	char why[600];
	json_t *ev;
	uint64_t now;
	int r;

	if (it->len == 0 || it->line[strspn(it->line, " \t\r")] == '\0')
		return;
	ev = json_loadb(it->line, it->len, 0, &jerr);
	if (ev == NULL || !json_is_object(ev)) {
		json_decref(ev);
		out_bad_line(
		    s->out, it->label, it->lineno, "not a JSON object");
		return;
	}
	type = json_string_value(json_object_get(ev, "event_type"));
	/* A stream may mix in connection and audit events: not requests. */
	if (it->lineno > 0 &&
	    (type == NULL || strcmp(type, "http_request_complete.v0") != 0)) {
		json_decref(ev);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(ev);
		goto nomem;
	}
	j->s = s;
	r = plan_build(&j->plan, ev, s->ed, why, sizeof(why));
	json_decref(ev);
	if (r == -1)
		goto nomem;
	if (r == PLAN_REFUSED) {
		out_refused(s->out,
		    j->plan.id != NULL && j->plan.id[0] != '\0' ? j->plan.id
		                                                : it->label,
		    &j->plan, why, 0);
		plan_fini(&j->plan);
		free(j);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.method = j->plan.method;
	req.url = j->plan.url;
	req.headers = (const char *const *)j->plan.headers;
	req.body = j->plan.body;
	req.body_len = j->plan.body_len;
	req.timeout_ms = s->o->timeout_ms;
	req.follow_redirects = s->o->follow_redirects;
	req.insecure = s->o->insecure;
	req.ca_file = s->o->ca_file;
	req.max_response = s->ed->diff ? RP_DIFF_MAX : KEEP_NO_DIFF;
	req.keep_body = s->ed->diff;
	req.connect_to = j->plan.connect_to;
	req.path_as_is = 1;
	if (gw_curlm_start(s->cm, &req, on_done, j) == -1) {
		memset(&oc, 0, sizeof(oc));
		oc.error = strerror(errno);
		oc.total_s = -1;
		out_result(s->out, &j->plan, &oc);
		plan_fini(&j->plan);
		free(j);
		return;
	}
	s->active++;
	if (s->o->interval_ns > 0) {
		/* Keep the schedule unless a whole interval late (no burst). */
		now = gw_mono_ns();
		if (s->next_ns == 0 || now - s->next_ns >= s->o->interval_ns)
			s->next_ns = now;
		s->next_ns += s->o->interval_ns;
	}
	return;
nomem:
	free(j);
	gw_error("out of memory");
	s->failed = EX_SOFTWARE;
	s->stopping = 1;
}

static void
on_rate(struct gw_loop *loop, struct gw_timer *t)
{
	(void)loop;
	pump(t->arg);
}

static void
on_input(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct sched *s = io->arg;

	(void)events;
	/* Level-triggered: watch again only when the feed waits again. */
	(void)gw_io_set(loop, io, 0);
	s->watching = 0;
	pump(s);
}

static void
watch_input(struct sched *s)
{
	if (!s->in_io_set) {
		gw_io_init(&s->in_io, feed_fd(s->feed), on_input, s);
		s->in_io_set = 1;
	}
	if (!s->watching && gw_io_set(s->loop, &s->in_io, GW_READ) == 0)
		s->watching = 1;
	else if (!s->watching) {
		gw_error("stdin: %s", strerror(errno));
		s->failed = EX_IOERR;
		s->feed_done = 1;
	}
}

static void
pump(struct sched *s)
{
	struct feed_item it;
	uint64_t now;

	if (s->pumping)
		return;
	s->pumping = 1;
	while (!s->stopping && !s->feed_done && s->active < s->o->concurrency) {
		if (s->o->interval_ns > 0 && s->next_ns > 0) {
			now = gw_mono_ns();
			if (now < s->next_ns) {
				(void)gw_timer_set(s->loop, &s->rate_timer,
				    (s->next_ns - now + 999999) / 1000000);
				break;
			}
		}
		switch (feed_next(s->feed, &it)) {
		case FEED_END:
			s->feed_done = 1;
			break;
		case FEED_WAIT:
			watch_input(s);
			goto out;
		case FEED_MISSING:
			out_refused(s->out, it.label, NULL, "", 1);
			break;
		case FEED_BAD:
			out_bad_line(s->out, it.label, it.lineno, it.why);
			break;
		case FEED_ERROR:
			gw_error("%s", it.why);
			s->failed = EX_IOERR;
			s->feed_done = 1;
			break;
		case FEED_ITEM:
			start_one(s, &it);
			break;
		}
	}
out:
	s->pumping = 0;
	finish_if_done(s);
}

static void
on_signal(struct gw_loop *loop, int signo, void *arg)
{
	struct sched *s = arg;

	(void)loop;
	if (s->signals++ == 0) {
		s->stopping = 1;
		gw_timer_stop(s->loop, &s->rate_timer);
		if (s->watching)
			(void)gw_io_set(s->loop, &s->in_io, 0);
		s->watching = 0;
		if (s->active > 0)
			gw_info("%s: waiting for %zu replays in flight (again "
			        "to abort them)",
			    strsignal(signo), s->active);
		finish_if_done(s);
		return;
	}
	/* Each aborted replay still gets its done call, and its row. */
	gw_curlm_free(s->cm);
	s->cm = NULL;
	gw_loop_stop(s->loop);
}

int
sched_run(struct gw_loop *loop, const struct sched_opts *o, struct feed *feed,
    const struct edits *ed, struct out *out)
{
	struct gw_curlm_opts co;
	struct sched s;

	memset(&s, 0, sizeof(s));
	s.loop = loop;
	s.feed = feed;
	s.ed = ed;
	s.out = out;
	s.o = o;
	gw_timer_init(&s.rate_timer, on_rate, &s);
	memset(&co, 0, sizeof(co));
	co.max_host_connections = (long)o->concurrency;
	if ((s.cm = gw_curlm_new(loop, &co)) == NULL) {
		gw_error("libcurl: %s", strerror(errno));
		return EX_SOFTWARE;
	}
	if (gw_loop_signal(loop, SIGINT, on_signal, &s) == -1 ||
	    gw_loop_signal(loop, SIGTERM, on_signal, &s) == -1) {
		gw_error("signals: %s", strerror(errno));
		s.failed = EX_SOFTWARE;
		goto out;
	}
	pump(&s);
	if (!((s.feed_done || s.stopping) && s.active == 0) &&
	    gw_loop_run(loop) == -1) {
		gw_error("event loop: %s", strerror(errno));
		s.failed = EX_SOFTWARE;
	}
out:
	gw_timer_stop(loop, &s.rate_timer);
	if (s.in_io_set)
		gw_io_stop(loop, &s.in_io);
	/* Frees s.cm, whose done calls must still find <s>. */
	s.stopping = 1;
	gw_curlm_free(s.cm);
	return s.failed;
}
