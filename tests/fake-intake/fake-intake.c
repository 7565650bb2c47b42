/* SPDX-License-Identifier: MIT */
/*
 * fake-intake: one loopback HTTP/1.1 server that stands in for every
 * receiver gw-export talks to, for the integration tests and the export
 * benchmark.  It checks what the real receivers check (section numbers
 * refer to the services' API documentation), answers as they
 * answer, records what it accepted in NDJSON files that tests read with
 * jq, and fails on command.  One epoll loop (lib/loop), one thread,
 * keep-alive and pipelining; bodies are decoded as they arrive and
 * bounded.  This file holds flags, setup, the loop and teardown; the
 * tour of the others is in fake-intake.h.
 *
 * Endpoints:
 *   POST /api/v2/logs        Datadog logs intake (§1.2-1.4).  DD-API-KEY
 *                            missing 401, not --api-key 403; Content-Type
 *                            application/json (text/plain and
 *                            application/logplex-1: a log per line), else
 *                            400; Content-Encoding identity, gzip,
 *                            deflate (zlib) or zstd, else 400; over
 *                            5,000,000 bytes decoded 413; not a JSON array
 *                            of objects or one object 400; over 1000
 *                            entries 413.  202 {}.  Entries over 1 MB
 *                            and entries whose "timestamp" (ms) is over
 *                            18 h old are accepted (Datadog truncates and
 *                            drops them) and counted in /_stats.  Errors:
 *                            {"errors":[{"status","title","detail"}]}.
 *   POST /loki/api/v1/push   Loki JSON push (§6.1).  application/json,
 *                            gzip or (raw) deflate; streams with labels
 *                            ([a-zA-Z_][a-zA-Z0-9_]*, at least one),
 *                            values [ts, line(, metadata)], ts a string of
 *                            ns within [now - max age, now + 10 min].
 *                            204, else 400 with a text message.
 *   POST|PUT /ntfy/TOPIC     ntfy publish (§5.1): topic ^[-_A-Za-z0-9]{1,64}$,
 *   POST|PUT /ntfy/          X-Priority and aliases, JSON form at the root
 *                            (topic required, 32 KiB at most).  200 with
 *                            the message JSON; errors {"code","http",
 *                            "error"}.
 *   POST /slack/..., /services/...   Slack webhook (§5.2): JSON with
 *                            "text" or "blocks".  200 "ok", else 400
 *                            invalid_payload or no_text.
 *   POST .../v2/enqueue      PagerDuty Events v2 (§5.3): routing_key (32
 *                            characters), event_action trigger|acknowledge|
 *                            resolve, dedup_key for acknowledge/resolve,
 *                            payload.summary/source/severity for trigger,
 *                            512 KB.  202 {"status":"success","message":
 *                            "Event processed","dedup_key":...}, else 400.
 *   POST|PUT|PATCH (other)   a generic webhook or HTTP collector: 200
 *                            {"ok":true}; any Content-Encoding above.
 *   GET /_stats              counters as JSON: requests, connections,
 *                            bytes_in (as sent), bytes_decoded, injected,
 *                            resets, responses by status, and per endpoint
 *                            requests/accepted/rejected/bytes (Datadog:
 *                            truncated, old; Loki: streams).
 *   GET /_control            the active failure rules.
 *   POST /_control           a rule, or a clear, as one JSON object:
 *     {"fail":503,"for_ms":10000}            503 for 10 s
 *     {"fail":429,"retry_after":2,"count":3} 3 × 429 with Retry-After: 2
 *     {"fail":400,"count":1}                 the next request gets 400
 *     {"fail":401}                           until cleared
 *     {"fail":"reset","count":2}             close with a TCP reset
 *     {"delay_ms":500}                       answer 500 ms late
 *     {"fail":503,"path":"/api/v2/logs"}     only paths with this prefix
 *     {"clear":true} / {"clear":true,"path":P}   drop all rules / P's
 *     {"reset_stats":true}                   zero the counters
 *   fail is 400-599 or "reset"; count, for_ms (both may be given, the
 *   first to run out ends the rule), retry_after (s) and delay_ms go with
 *   it.  Rules stack: the newest matching failing rule and the newest
 *   matching delaying rule apply.  /_control and /_stats are never
 *   failed.  A failed request records nothing; the answer to an injected
 *   failure is worded as the endpoint's own errors ("injected by
 *   fake-intake").  Anything else is 404, a wrong method 405.
 *
 * Records (NDJSON, appended, one write(2) per request before the answer):
 *   --record FILE        one line per accepted Datadog entry, the entry as
 *                        compact JSON (text/plain: {"message":LINE})
 *   --record-loki FILE   {"stream":{labels},"ts":"NS","line":LINE
 *                        (,"metadata":{...})} per value
 *   --record-hooks FILE  {"service":"ntfy|slack|pagerduty|webhook",
 *                        "method","path"(,"query"),"headers":{lower-case
 *                        name: value, repeats joined with ", "},"body":
 *                        JSON value, or string}; an application/x-ndjson
 *                        body is an array of its lines plus "ndjson":true
 *
 * Limits: 64 MiB of body as sent (413 and close), decoded bodies 5 MB
 * (Datadog), 512 KB (PagerDuty), 32 KiB (ntfy JSON), 64 KiB (control),
 * 6 MiB (the rest); decoding stops one byte past the bound.  A request
 * that does not parse gets 400 (414, 431) and the connection closes.
 * Every problem is one line on stderr.  Exit status: 0 on SIGTERM and
 * SIGINT, 64 usage, 70 internal, 71 OS error, 74 a record file.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "error.h"
#include "fake-intake.h"
#include "log.h"
#include "loop.h"
#include "opts.h"
#include "sock.h"

struct conf {
	char *listen;
	char *api_key;
	char *record;
	char *record_loki;
	char *record_hooks;
	struct gw_strlist control;
	char *fail;
	long long delay_ms;
	long long loki_max_age;
	int help;
};

#define F(m, t) GW_OPT_FIELD(struct conf, m, t)

static const struct gw_opt optab[] = {
	{ "listen", 'l', GW_OPT_STR, F(listen, char *), "ADDR:PORT",
	    "address to serve; port 0 picks one", 0, 0, NULL, NULL,
	    "127.0.0.1:0", GW_OPT_ARGV_ONLY },
	{ "api-key", 'k', GW_OPT_STR, F(api_key, char *), "KEY",
	    "the DD-API-KEY Datadog requests must carry (default: any)", 0, 0,
	    NULL, NULL, NULL, GW_OPT_ARGV_ONLY },
	{ "record", 'r', GW_OPT_STR, F(record, char *), "FILE",
	    "append each accepted Datadog entry to FILE", 0, 0, NULL, NULL,
	    NULL, GW_OPT_ARGV_ONLY },
	{ "record-loki", 0, GW_OPT_STR, F(record_loki, char *), "FILE",
	    "append each accepted Loki value to FILE", 0, 0, NULL, NULL, NULL,
	    GW_OPT_ARGV_ONLY },
	{ "record-hooks", 0, GW_OPT_STR, F(record_hooks, char *), "FILE",
	    "append each accepted notification or webhook to FILE", 0, 0, NULL,
	    NULL, NULL, GW_OPT_ARGV_ONLY },
	{ "control", 'c', GW_OPT_LIST, F(control, struct gw_strlist), "JSON",
	    "apply a /_control object at start (repeatable)", 0, 0, NULL, NULL,
	    NULL, GW_OPT_ARGV_ONLY },
	{ "fail", 0, GW_OPT_STR, F(fail, char *), "STATUS",
	    "fail every request with STATUS (400-599) or reset, until "
	    "cleared",
	    0, 0, NULL, NULL, NULL, GW_OPT_ARGV_ONLY },
	{ "delay-ms", 0, GW_OPT_INT, F(delay_ms, long long), "N",
	    "answer every request N ms late, until cleared", 0, 600000, NULL,
	    NULL, "0", GW_OPT_ARGV_ONLY },
	{ "loki-max-age", 0, GW_OPT_INT, F(loki_max_age, long long), "SECONDS",
	    "refuse Loki timestamps older than this (0: no time checks)", 0,
	    LLONG_MAX / 1000000000, NULL, NULL, "604800", GW_OPT_ARGV_ONLY },
	{ "help", 'h', GW_OPT_FLAG, F(help, int), NULL, "show this help", 0, 0,
	    NULL, NULL, NULL, GW_OPT_ARGV_ONLY | GW_OPT_EARLY },
	{ NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, 0 },
};

static void
on_signal(struct gw_loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	gw_loop_stop(loop);
}

/* A proxy's worth of connections may come at once: take every fd allowed. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			gw_warn("setrlimit: %s", strerror(errno));
	}
}

/* The start-up rules: --control objects, then --fail and --delay-ms. */
static int
start_rules(const struct conf *c, uint64_t now)
{
	char err[256], json[64];
	char *end;
	long v;
	size_t i;

	for (i = 0; i < c->control.n; i++)
		if (control_apply(c->control.v[i], strlen(c->control.v[i]), now,
		        err, sizeof(err)) == -1) {
			gw_error("--control %s: %s", c->control.v[i], err);
			return -1;
		}
	if (c->fail != NULL) {
		if (strcmp(c->fail, "reset") == 0)
			snprintf(json, sizeof(json), "{\"fail\":\"reset\"}");
		else {
			errno = 0;
			v = strtol(c->fail, &end, 10);
			if (errno != 0 || *end != '\0' || end == c->fail ||
			    v < 400 || v > 599) {
				gw_error("--fail: want 400-599 or reset, not "
				         "'%s'",
				    c->fail);
				return -1;
			}
			snprintf(json, sizeof(json), "{\"fail\":%ld}", v);
		}
		if (control_apply(json, strlen(json), now, err, sizeof(err)) ==
		    -1) {
			gw_error("--fail: %s", err);
			return -1;
		}
	}
	if (c->delay_ms > 0) {
		snprintf(
		    json, sizeof(json), "{\"delay_ms\":%lld}", c->delay_ms);
		if (control_apply(json, strlen(json), now, err, sizeof(err)) ==
		    -1) {
			gw_error("--delay-ms: %s", err);
			return -1;
		}
	}
	return 0;
}

static int
open_records(const struct conf *c)
{
	const struct {
		enum record_kind kind;
		const char *path;
	} files[] = {
		{ REC_DATADOG, c->record },
		{ REC_LOKI, c->record_loki },
		{ REC_HOOKS, c->record_hooks },
	};
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i].path == NULL)
			continue;
		if (intake_record_open(files[i].kind, files[i].path) == -1) {
			gw_error("%s: %s", files[i].path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct intake_conf ic;
	struct gw_loop *loop = NULL;
	struct gw_error err;
	struct gw_addr addr;
	struct conf c;
	char msg[600], where[GW_ADDRSTRLEN];
	socklen_t alen;
	int rc = EX_OSERR, lfd = -1, optind_ = 0;

	gw_log_init(PROG);
	memset(&c, 0, sizeof(c));
	memset(&err, 0, sizeof(err));
	if (gw_opts_init(optab, &c, &err) == -1 ||
	    gw_opts_parse_argv(optab, &c, argc, argv, &optind_, &err) == -1) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
		rc = EX_USAGE;
		goto out;
	}
	if (c.help) {
		gw_opts_usage(stdout, PROG " [options]", optab);
		printf("\nEndpoints, control objects and record formats: see "
		       "tests/fake-intake/README.md.\n"
		       "Prints \"listening on ADDR:PORT\" on stdout once "
		       "ready.\n"
		       "Exit status: 0 on SIGTERM/SIGINT, 64 usage, 70 "
		       "internal, 71 OS error, 74 record file.\n");
		rc = 0;
		goto out;
	}
	if (optind_ < argc) {
		gw_error("unexpected argument '%s'", argv[optind_]);
		rc = EX_USAGE;
		goto out;
	}
	if (gw_addr_parse(c.listen, &addr) == -1) {
		gw_error("--listen: bad address '%s'", c.listen);
		rc = EX_USAGE;
		goto out;
	}
	memset(&ic, 0, sizeof(ic));
	ic.api_key = c.api_key;
	ic.loki_max_age_s = c.loki_max_age;
	intake_init(&ic);
	if ((loop = gw_loop_new()) == NULL) {
		gw_error("epoll: %s", strerror(errno));
		goto out;
	}
	if (start_rules(&c, gw_loop_now(loop)) == -1) {
		rc = EX_USAGE;
		goto out;
	}
	if (open_records(&c) == -1) {
		rc = EX_IOERR;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (gw_loop_signal(loop, SIGTERM, on_signal, NULL) == -1 ||
	    gw_loop_signal(loop, SIGINT, on_signal, NULL) == -1) {
		gw_error("signalfd: %s", strerror(errno));
		goto out;
	}
	raise_nofile();
	if ((lfd = gw_listen_tcp(&addr, 4096)) == -1) {
		gw_error("listen %s: %s", c.listen, strerror(errno));
		goto out;
	}
	alen = sizeof(addr.ss);
	if (getsockname(lfd, (struct sockaddr *)&addr.ss, &alen) == -1) {
		gw_error("getsockname: %s", strerror(errno));
		close(lfd);
		goto out;
	}
	addr.len = alen;
	if (conn_listen(loop, lfd) == -1) {
		gw_error("epoll_ctl: %s", strerror(errno));
		close(lfd);
		goto out;
	}
	gw_addr_str(&addr, where, sizeof(where));
	printf("listening on %s\n", where);
	fflush(stdout);
	if (gw_loop_run(loop) == -1) {
		gw_error("epoll_wait: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	conn_fini();
	control_fini();
	intake_fini();
	gw_loop_free(loop);
	gw_opts_free(optab, &c);
	return rc;
}
