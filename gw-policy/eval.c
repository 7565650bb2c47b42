// SPDX-License-Identifier: MIT
/*
 * "gw-policy eval": the offline dry run.  It reads recorded events (stdin
 * or files, .zst decompressed as a stream), and for each
 * http_request_complete.v0 asks the engine what the policy would have
 * done, with the events' own timestamps as the clock, so rate limits are
 * simulated as the traffic happened.  Every input line goes out again in
 * order: HTTP events with a "policy_eval" member added, other events
 * unchanged; lines that are not JSON objects are reported with their line
 * number and skipped.  A summary goes to stderr at the end.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "evin.h"
#include "gw-policy.h"
#include "json.h"
#include "log.h"
#include "ndjson.h"
#include "opts.h"

#define EX_OK       0
#define EX_USAGE    64
#define EX_NOINPUT  66
#define EX_SOFTWARE 70
#define EX_IOERR    74
#define EX_CONFIG   78

#define LINE_MAX_BYTES (4 * 1024 * 1024)
#define OUT_MAX        (8 * 1024 * 1024)
#define OUT_FLUSH      (256 * 1024)
#define BAD_SHOWN      20 /* malformed lines reported one by one */

struct econf {
	long long max_buckets;
	char *log_format;
	int help;
};

#define F(f, t) GW_OPT_FIELD(struct econf, f, t)

static const struct gw_opt eval_optab[] = {
	{ .name = "max-buckets",
	    .type = GW_OPT_INT,
	    .offset = F(max_buckets, long long),
	    .arg = "N",
	    .help = "rate-limit buckets kept; the least recently used go "
	            "first",
	    .min = 1,
	    .max = 1000000000,
	    .def = "1000000" },
	{ .name = "log-format",
	    .type = GW_OPT_STR,
	    .offset = F(log_format, char *),
	    .arg = "text|json",
	    .help = "format of the lines on stderr",
	    .custom = gw_log_opt_format,
	    .def = "text" },
	{ .name = "help",
	    .short_name = 'h',
	    .type = GW_OPT_FLAG,
	    .offset = F(help, int),
	    .help = "print this help and exit",
	    .flags = GW_OPT_EARLY },
	{ .name = NULL },
};

static const char synopsis[] =
    "gw-policy eval FILE [EVENTS...] [options]\n"
    "\n"
    "Dry run: reads events (stdin, or the files EVENTS; .zst files are\n"
    "decompressed) and prints each again, every http_request_complete.v0\n"
    "with a \"policy_eval\" member saying what the policy in FILE would have\n"
    "done: {\"rules_matched\":[...],\"action\":\"continue|respond|close\",\n"
    "\"status\":N|null,\"error_code\":...,\"rule\":...}.  Rate limits are\n"
    "simulated on the events' own timestamps.  A summary goes to stderr.\n"
    "\n"
    "Exit status: 0 ok, 64 usage, 66 an input cannot be opened, 74 read or\n"
    "write error, 78 FILE is invalid.";

/* Outcomes counted in the summary. */
enum outcome {
	O_CONTINUE,
	O_LIMITED,
	O_DENIED,
	O_UNAUTHORIZED,
	O_REDIRECTED,
	O_RESPONDED,
	O_CIRCUIT,
	O_CLOSED,
	O_MONITOR, /* a rate limit with enforce: false would have refused */
	O_N
};

static const char *const outcome_names[O_N] = {
	[O_CONTINUE] = "continued",
	[O_LIMITED] = "rate-limited (429)",
	[O_DENIED] = "denied",
	[O_UNAUTHORIZED] = "unauthorized (401)",
	[O_REDIRECTED] = "redirected",
	[O_RESPONDED] = "answered by custom-response",
	[O_CIRCUIT] = "refused by a circuit breaker (503)",
	[O_CLOSED] = "closed",
	[O_MONITOR] = "over a monitor-only rate limit",
};

struct rule_stats {
	uint64_t matched;
	uint64_t by[O_N];
};

static struct {
	struct engine *eng;
	const struct policy *pol;
	struct question q;
	struct gw_out out;
	struct gw_buf pe; /* the policy_eval member being built */
	struct rule_stats *rs[POLICY_NPHASES];
	uint64_t totals[O_N];
	uint64_t lines, requests, others, bad;
	int64_t clock; /* the simulated time never runs backwards */
	int out_failed;
} E;

static enum outcome
outcome_of(const struct engine_decision *d)
{
	if (d->action == ENGINE_CONTINUE || d->rule == NULL)
		return O_CONTINUE;
	if (d->action == ENGINE_CLOSE)
		return O_CLOSED;
	switch (d->by) {
	case ACTION_RATE_LIMIT:
		return O_LIMITED;
	case ACTION_DENY:
	case ACTION_RESTRICT_IPS:
		return O_DENIED;
	case ACTION_BASIC_AUTH:
		return O_UNAUTHORIZED;
	case ACTION_REDIRECT:
		return O_REDIRECTED;
	case ACTION_CIRCUIT_BREAKER:
		return O_CIRCUIT;
	default:
		return O_RESPONDED;
	}
}

static struct rule_stats *
stats_of(const struct engine_decision *d, const struct policy_rule *r)
{
	const struct policy_rule *base = E.pol->phases[d->phase].rules;

	if (E.rs[d->phase] == NULL || r < base ||
	    r >= base + E.pol->phases[d->phase].n)
		return NULL;
	return &E.rs[d->phase][r - base];
}

/* Counts a phase's decision and appends its rules to E.pe. */
static int
record(const struct engine_decision *d, int *first)
{
	struct rule_stats *st;
	size_t i;

	for (i = 0; i < d->nmatched; i++)
		if ((st = stats_of(d, d->matched[i])) != NULL)
			st->matched++;
	if (d->rule != NULL && (st = stats_of(d, d->rule)) != NULL)
		st->by[outcome_of(d)]++;
	if (d->monitor_limited != NULL) {
		E.totals[O_MONITOR]++;
		if ((st = stats_of(d, d->monitor_limited)) != NULL)
			st->by[O_MONITOR]++;
	}
	if (engine_put_matched(d, *first, &E.pe) == -1)
		return -1;
	*first = *first && d->nmatched == 0;
	return 0;
}

/* Evaluates one HTTP event: the phases gw-proxy would have asked about. */
static int
evaluate(struct policy_req *req, const struct question_event *ev)
{
	const struct engine_decision *d = NULL;
	struct policy_req orig;
	unsigned ph = engine_phases(E.eng);
	const struct policy_rule *rule = NULL;
	enum engine_action action = ENGINE_CONTINUE;
	const char *code = NULL;
	int status = 0, first = 1, r = 0;

	if (req->now_ns < E.clock)
		req->now_ns = E.clock;
	E.clock = req->now_ns;
	orig = *req;
	gw_buf_reset(&E.pe);
	r |= gw_buf_adds(&E.pe, ",\"policy_eval\":{\"rules_matched\":[");
	/*
	 * gw-proxy asks on_tcp_connect once per connection; a recording has
	 * the connection in every event, and a close there means the
	 * request never happened.
	 */
	if (ph & (1u << POLICY_TCP_CONNECT)) {
		req->phase = POLICY_TCP_CONNECT;
		d = engine_eval(E.eng, req);
		if (d->action == ENGINE_CLOSE)
			r |= record(d, &first);
		*req = orig;
	}
	if (d == NULL || d->action != ENGINE_CLOSE) {
		req->phase = POLICY_HTTP_REQUEST;
		d = engine_eval(E.eng, req);
		r |= record(d, &first);
	}
	action = d->action;
	status = d->status;
	code = d->error_code;
	rule = d->rule;
	E.totals[outcome_of(d)]++;
	/* As gw-proxy: the response phase runs on the upstream's answer. */
	if (d->action == ENGINE_CONTINUE && ev->has_response &&
	    (ph & (1u << POLICY_HTTP_RESPONSE))) {
		*req = orig;
		req->phase = POLICY_HTTP_RESPONSE;
		if (ev->res_ns > req->now_ns)
			req->now_ns = ev->res_ns;
		d = engine_eval(E.eng, req);
		r |= record(d, &first);
		if (d->action != ENGINE_CONTINUE) {
			E.totals[O_CONTINUE]--;
			E.totals[outcome_of(d)]++;
			action = d->action;
			status = d->status;
			code = d->error_code;
			rule = d->rule;
		}
	}
	r |= gw_buf_adds(&E.pe, "],\"action\":\"");
	r |= gw_buf_adds(&E.pe, engine_action_name(action));
	r |= gw_buf_adds(&E.pe, "\",\"status\":");
	if (action == ENGINE_RESPOND)
		r |= gw_json_i64(&E.pe, status);
	else
		r |= gw_buf_adds(&E.pe, "null");
	r |= gw_buf_adds(&E.pe, ",\"error_code\":");
	r |= gw_json_cstr(&E.pe, code);
	r |= gw_buf_adds(&E.pe, ",\"rule\":");
	r |= gw_json_cstr(&E.pe, rule != NULL ? rule->name : NULL);
	r |= gw_buf_adds(&E.pe, "}}");
	return r;
}

static int
emit(const char *line, size_t len, const struct gw_buf *extra)
{
	struct gw_buf *b = gw_out_begin(&E.out);
	size_t n = len;
	int r;

	if (extra == NULL)
		r = gw_buf_add(b, line, len);
	else {
		/* Insert before the object's closing brace. */
		while (n > 0 && line[n - 1] != '}')
			n--;
		r = gw_buf_add(b, line, n - 1);
		r |= gw_buf_add(b, gw_buf_head(extra), extra->len);
	}
	if (gw_out_end(&E.out, r != 0) == -1 && !E.out_failed) {
		gw_error("eval: an output line was dropped (out of memory)");
		return 0;
	}
	if (gw_out_pending(&E.out) >= OUT_FLUSH && gw_out_flush(&E.out) == -1) {
		E.out_failed = 1;
		return -1;
	}
	return 0;
}

/* gw_evin_fn: one input line. */
static int
handle(void *arg, const char *name, uint64_t lineno, const char *line,
    size_t len, int too_long)
{
	struct question_event ev;
	struct policy_req req;
	int rc;

	(void)arg;
	E.lines++;
	if (too_long) {
		if (E.bad++ < BAD_SHOWN)
			gw_warn("%s:%llu: line over %d bytes; skipped", name,
			    (unsigned long long)lineno, LINE_MAX_BYTES);
		return 0;
	}
	rc = question_event(&E.q, line, len, &req, &ev);
	if (rc == -1) {
		if (E.bad++ < BAD_SHOWN)
			gw_warn("%s:%llu: not a JSON object (%s); skipped",
			    name, (unsigned long long)lineno, E.q.err);
		return 0;
	}
	if (rc == 0) {
		E.others++;
		return emit(line, len, NULL);
	}
	E.requests++;
	if (evaluate(&req, &ev) == -1) {
		gw_error("eval: out of memory");
		return -1;
	}
	return emit(line, len, &E.pe);
}

/* Returns 0, -1 to stop (output gone), or an exit status. */
static int
read_input(const char *path)
{
	struct gw_error err;
	char msg[600];
	int trunc, r;

	memset(&err, 0, sizeof(err));
	r = gw_evin_read(path, LINE_MAX_BYTES, handle, NULL, &trunc, &err);
	if (trunc)
		gw_warn("%s: the zstd stream is truncated",
		    path != NULL ? path : "(stdin)");
	if (r < 0) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
	}
	switch (r) {
	case GW_EVIN_OK:
		return 0;
	case GW_EVIN_STOPPED:
		return -1;
	case GW_EVIN_NOINPUT:
		return EX_NOINPUT;
	case GW_EVIN_IOERR:
		return EX_IOERR;
	default:
		return EX_SOFTWARE;
	}
}

static void
summary(void)
{
	const struct policy_rule *r;
	char by[512];
	size_t ph, i, o, len;

	gw_info("eval: %llu lines: %llu requests evaluated, %llu other "
	        "events passed through, %llu malformed lines skipped",
	    (unsigned long long)E.lines, (unsigned long long)E.requests,
	    (unsigned long long)E.others, (unsigned long long)E.bad);
	len = 0;
	by[0] = '\0';
	for (o = 0; o < O_N; o++) {
		if (o != O_CONTINUE && E.totals[o] == 0)
			continue;
		len += (size_t)snprintf(by + len,
		    len < sizeof(by) ? sizeof(by) - len : 0, "%s%llu %s",
		    len ? ", " : "", (unsigned long long)E.totals[o],
		    outcome_names[o]);
		if (len >= sizeof(by))
			len = sizeof(by) - 1;
	}
	gw_info("eval: requests: %s", by);
	for (ph = 0; ph < POLICY_NPHASES; ph++) {
		for (i = 0; E.rs[ph] != NULL && i < E.pol->phases[ph].n; i++) {
			r = &E.pol->phases[ph].rules[i];
			len = 0;
			by[0] = '\0';
			for (o = 0; o < O_N; o++) {
				if (E.rs[ph][i].by[o] == 0)
					continue;
				len += (size_t)snprintf(by + len,
				    len < sizeof(by) ? sizeof(by) - len : 0,
				    ", %llu %s",
				    (unsigned long long)E.rs[ph][i].by[o],
				    outcome_names[o]);
				if (len >= sizeof(by))
					len = sizeof(by) - 1;
			}
			gw_info("eval: %s rule \"%s\": %llu matched%s",
			    policy_phase_name((enum policy_phase)ph), r->name,
			    (unsigned long long)E.rs[ph][i].matched, by);
		}
	}
	if (engine_errors(E.eng) > 0)
		gw_warn("eval: %llu run-time errors in expressions or "
		        "templates (each rule's first is logged above)",
		    (unsigned long long)engine_errors(E.eng));
}

/* Options anywhere; positionals FILE then EVENTS.  0, 1 (help) or -1. */
static int
parse_args(int argc, char **argv, struct econf *c, char ***pos, size_t *npos)
{
	struct gw_error err;
	char msg[600];
	int at = 0, oi;

	memset(&err, 0, sizeof(err));
	if (gw_opts_init(eval_optab, c, &err) == -1)
		goto bad;
	if ((*pos = calloc((size_t)argc + 1, sizeof(**pos))) == NULL)
		return -1;
	*npos = 0;
	for (;;) {
		if (gw_opts_parse_argv(
		        eval_optab, c, argc - at, argv + at, &oi, &err) == -1)
			goto bad;
		if (c->help)
			return 1;
		at += oi;
		if (at >= argc)
			break;
		(*pos)[(*npos)++] = argv[at];
	}
	if (*npos == 0) {
		gw_error("eval: the policy FILE is required");
		return -1;
	}
	return 0;
bad:
	gw_error_format(&err, msg, sizeof(msg));
	gw_error("eval: %s", msg);
	return -1;
}

int
eval_main(int argc, char **argv)
{
	struct policy_errors errs;
	struct econf conf;
	struct policy *p;
	char **pos = NULL, msg[1024];
	size_t npos = 0, i;
	int rc = EX_OK, r;

	gw_log_init(POLICY_NAME);
	memset(&conf, 0, sizeof(conf));
	memset(&E, 0, sizeof(E));
	switch (parse_args(argc, argv, &conf, &pos, &npos)) {
	case 1:
		gw_opts_usage(stdout, synopsis, eval_optab);
		goto done;
	case -1:
		fprintf(stderr,
		    "usage: gw-policy eval FILE [EVENTS...]; see "
		    "gw-policy eval --help\n");
		rc = EX_USAGE;
		goto done;
	}
	gw_log_apply(NULL, conf.log_format);
	(void)signal(SIGPIPE, SIG_IGN);
	policy_errors_init(&errs);
	p = policy_load(pos[0], &errs);
	for (i = 0; i < errs.n; i++) {
		gw_error_format(&errs.v[i].err, msg, sizeof(msg));
		gw_log(errs.v[i].warning ? GW_LOG_WARNING : GW_LOG_ERROR, "%s",
		    msg);
	}
	policy_errors_fini(&errs);
	if (p == NULL) {
		if (errno != EINVAL)
			gw_error("%s: %s", pos[0], strerror(errno));
		rc = EX_CONFIG;
		goto done;
	}
	if ((E.eng = engine_new((size_t)conf.max_buckets)) == NULL ||
	    engine_set_policy(E.eng, p) == -1) {
		policy_free(p);
		gw_error("out of memory");
		rc = EX_SOFTWARE;
		goto done;
	}
	E.pol = p;
	for (i = 0; i < POLICY_NPHASES; i++)
		if (p->phases[i].n > 0 &&
		    (E.rs[i] = calloc(p->phases[i].n, sizeof(*E.rs[i]))) ==
		        NULL) {
			gw_error("out of memory");
			rc = EX_SOFTWARE;
			goto done;
		}
	question_init(&E.q);
	gw_buf_init(&E.pe, 0);
	gw_out_init(&E.out, STDOUT_FILENO, OUT_MAX);
	for (i = 1; i < npos || i == 1; i++) {
		r = read_input(i < npos ? pos[i] : NULL);
		if (r == -1)
			break;
		if (r != 0 && rc == EX_OK)
			rc = r;
		if (r == EX_IOERR || r == EX_SOFTWARE)
			break;
	}
	if (!E.out_failed && gw_out_flush(&E.out) == -1)
		E.out_failed = 1;
	if (E.out_failed && E.out.error != EPIPE) {
		gw_error("eval: stdout: %s", strerror(E.out.error));
		rc = EX_IOERR;
	}
	summary();
	gw_out_fini(&E.out);
	gw_buf_fini(&E.pe);
	question_fini(&E.q);
done:
	for (i = 0; i < POLICY_NPHASES; i++)
		free(E.rs[i]);
	engine_free(E.eng);
	free(pos);
	gw_opts_free(eval_optab, &conf);
	return rc;
}
