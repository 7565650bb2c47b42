// SPDX-License-Identifier: MIT
/*
 * gw-replay: the command line, setup and teardown.  Which events to
 * replay (ids, stdin, or --query over the store), the edits, the batch's
 * bounds and the output are all decided and checked here before anything
 * is sent; send.c then runs the loop.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-replay.h"
#include "log.h"
#include "loop.h"
#include "opts.h"
#include "query.h"
#include "store.h"
#include "timeutil.h"

#ifndef GW_VERSION
#define GW_VERSION "0.1.0"
#endif

struct conf {
	char *store;
	char *query;
	char *since, *until;
	long long limit;
	int include_replays;
	char *target;
	char *method;
	char *path;
	struct gw_strlist header;
	char *header_file;
	struct gw_strlist remove_header;
	struct gw_strlist set_query;
	struct gw_strlist remove_query;
	char *data;
	int allow_truncated;
	char *format;
	int diff;
	char *rate;
	long long concurrency;
	struct gw_strlist expect;
	uint64_t timeout; /* ms */
	int insecure;
	char *cacert;
	int location;
	char *log_level, *log_format;
	int help, version;
};

#define F(m, t) GW_OPT_FIELD(struct conf, m, t)

static int
check_format(void *conf, const char *v, struct gw_error *err)
{
	(void)conf;
	if (strcmp(v, "table") != 0 && strcmp(v, "ndjson") != 0) {
		gw_error_set(err, NULL, 0, 0, "must be table or ndjson");
		return -1;
	}
	return 0;
}

static const struct gw_opt optab[] = {
	{ "store", 'd', GW_OPT_STR, F(store, char *), "DIR",
	    "the gw-capture store to read", 0, 0, NULL, NULL, "data", 0 },
	{ "query", 'q', GW_OPT_STR, F(query, char *), "QUERY",
	    "batch: replay what this search (Datadog syntax) finds in the "
	    "store, newest first",
	    0, 0, NULL, NULL, NULL, 0 },
	{ "since", 's', GW_OPT_STR, F(since, char *), "WHEN",
	    "with --query: events from this time, an age (1h, 30m) or RFC "
	    "3339",
	    0, 0, NULL, NULL, NULL, 0 },
	{ "until", 'u', GW_OPT_STR, F(until, char *), "WHEN",
	    "with --query: events before this time", 0, 0, NULL, NULL, NULL,
	    0 },
	{ "limit", 'n', GW_OPT_INT, F(limit, long long), "N",
	    "with --query: at most N replays, the newest (0: all)", 0,
	    LLONG_MAX, NULL, NULL, "0", 0 },
	{ "include-replays", 0, GW_OPT_FLAG, F(include_replays, int), NULL,
	    "with --query: replay events that are replays themselves too", 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "target", 't', GW_OPT_STR, F(target, char *), "URL",
	    "send to http(s)://HOST[:PORT][/PREFIX] instead of the gw-proxy "
	    "that received the request",
	    0, 0, NULL, NULL, NULL, 0 },
	{ "method", 'X', GW_OPT_STR, F(method, char *), "METHOD",
	    "replace the method", 0, 0, NULL, NULL, NULL, 0 },
	{ "path", 0, GW_OPT_STR, F(path, char *), "PATH",
	    "replace the path (and the query, when PATH has a '?')", 0, 0, NULL,
	    NULL, NULL, 0 },
	{ "header", 'H', GW_OPT_LIST, F(header, struct gw_strlist), "'N: V'",
	    "set a header (replacing any of that name); also the values of "
	    "redacted ones",
	    0, 0, NULL, NULL, NULL, 0 },
	{ "header-file", 0, GW_OPT_STR, F(header_file, char *), "FILE",
	    "headers to set, one 'Name: value' a line (# comments): secrets "
	    "out of argv",
	    0, 0, NULL, NULL, NULL, 0 },
	{ "remove-header", 0, GW_OPT_LIST, F(remove_header, struct gw_strlist),
	    "NAME", "do not send this header", 0, 0, NULL, NULL, NULL, 0 },
	{ "set-query", 0, GW_OPT_LIST, F(set_query, struct gw_strlist), "N=V",
	    "set a query parameter of the replayed request", 0, 0, NULL, NULL,
	    NULL, 0 },
	{ "remove-query", 0, GW_OPT_LIST, F(remove_query, struct gw_strlist),
	    "NAME", "remove a query parameter of the replayed request", 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "data", 0, GW_OPT_STR, F(data, char *), "DATA|@FILE",
	    "replace the body (bytes of FILE as they are)", 0, 0, NULL, NULL,
	    NULL, 0 },
	{ "allow-truncated", 0, GW_OPT_FLAG, F(allow_truncated, int), NULL,
	    "send requests whose body or headers were not wholly captured, "
	    "flagged",
	    0, 0, NULL, NULL, NULL, 0 },
	{ "format", 'f', GW_OPT_STR, F(format, char *), "FMT",
	    "table or ndjson (one object per replay)", 0, 0, check_format, NULL,
	    "table", 0 },
	{ "diff", 0, GW_OPT_FLAG, F(diff, int), NULL,
	    "show how the response differs from the original (status, "
	    "headers, body)",
	    0, 0, NULL, NULL, NULL, 0 },
	{ "rate", 'r', GW_OPT_STR, F(rate, char *), "RATE",
	    "start at most this many replays: 10/s, 600/m, 2/5s (default: no "
	    "limit)",
	    0, 0, NULL, NULL, NULL, 0 },
	{ "concurrency", 'c', GW_OPT_INT, F(concurrency, long long), "N",
	    "replays in flight at once", 1, 1000, NULL, NULL, "4", 0 },
	{ "expect", 'e', GW_OPT_LIST, F(expect, struct gw_strlist), "LIST",
	    "statuses that count as success: 2xx, 404, same, !5xx, joined by "
	    "commas",
	    0, 0, NULL, NULL, "!5xx", 0 },
	{ "timeout", 0, GW_OPT_DURATION, F(timeout, uint64_t), "TIME",
	    "give up on a replay after this long", 1, 24 * 3600 * 1000, NULL,
	    NULL, "30s", 0 },
	{ "insecure", 'k', GW_OPT_FLAG, F(insecure, int), NULL,
	    "do not verify the TLS certificate of an https target", 0, 0, NULL,
	    NULL, NULL, 0 },
	{ "cacert", 0, GW_OPT_STR, F(cacert, char *), "FILE",
	    "verify https targets against this PEM bundle", 0, 0, NULL, NULL,
	    NULL, 0 },
	{ "location", 'L', GW_OPT_FLAG, F(location, int), NULL,
	    "follow redirects (not followed by default)", 0, 0, NULL, NULL,
	    NULL, 0 },
	{ "log-level", 0, GW_OPT_STR, F(log_level, char *), "LEVEL",
	    "debug, info, warning or error", 0, 0, gw_log_opt_level, NULL,
	    "info", 0 },
	{ "log-format", 0, GW_OPT_STR, F(log_format, char *), "FMT",
	    "text or json (stderr)", 0, 0, gw_log_opt_format, NULL, "text", 0 },
	{ "version", 0, GW_OPT_FLAG, F(version, int), NULL, "print the version",
	    0, 0, NULL, NULL, NULL, GW_OPT_EARLY },
	{ "help", 'h', GW_OPT_FLAG, F(help, int), NULL, "show this help", 0, 0,
	    NULL, NULL, NULL, GW_OPT_EARLY },
	{ NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, 0 },
};

static const char synopsis[] =
    "gw-replay [options] ID...\n"
    "       gw-replay [options] -\n"
    "       gw-replay [options] --query QUERY [--since WHEN] [--limit N]";

static const char about[] =
    "\n"
    "Sends captured requests again and prints, per replay, the original\n"
    "status, the new one and the duration; --diff shows how the response\n"
    "changed.\n"
    "\n"
    "  gw-replay ID...          requests of a gw-capture store, by event id\n"
    "  gw-replay -              the events read on stdin:\n"
    "      gw-capture list QUERY --format ndjson | gw-replay -\n"
    "  gw-replay --query QUERY  a batch (cron, CI): what QUERY finds in the\n"
    "                           store, newest first as gw-capture list shows\n"
    "                           it, within --since/--until/--limit, paced by\n"
    "                           --rate and --concurrency; replays are\n"
    "                           skipped unless --include-replays\n"
    "\n"
    "--query searches the store; the replayed request's own query string\n"
    "is edited with --set-query NAME=VALUE and --remove-query NAME.\n"
    "\n"
    "Requests go to the gw-proxy that received them (the address recorded\n"
    "in the event, the Host kept), so the policy in force now applies, or\n"
    "to --target.  Each carries Gw-Replay-Original-Request-Id: ID, and\n"
    "gw-proxy records replay_of in the new event (gw-capture list\n"
    "'@replay_of:*').  Hop-by-hop fields, Proxy-*, X-Forwarded-* and\n"
    "Forwarded are not sent (the proxy recomputes them).  A redacted value\n"
    "is never sent: give it with -H or --header-file, or the header is left\n"
    "out with a warning.  A request whose body was not captured or was\n"
    "truncated is refused unless --allow-truncated.  Bodies go byte for\n"
    "byte.  TLS is verified; redirects are not followed without -L.\n"
    "\n"
    "Exit status: 0 every replay met --expect (by default any status but\n"
    "5xx), 1 some did not or got no answer, 64 usage or query syntax, 65\n"
    "no such request, a request that cannot be replayed as captured, or a\n"
    "bad input line, 66 a file named by an option cannot be read, 70\n"
    "internal error, 74 I/O error or a store that cannot be opened.\n";

static void
set_logging(const struct conf *c)
{
	gw_log_apply(c->log_level, c->log_format);
}

/* A usage error: the message, and exit 64. */
static int
usage(const char *msg)
{
	gw_error("%s; see gw-replay --help", msg);
	return EX_USAGE;
}

/* Exit status for an edit that could not be parsed. */
static int
edit_failed(const struct gw_error *err)
{
	char msg[800];
	int e = errno;

	gw_error_format(err, msg, sizeof(msg));
	gw_error("%s", msg);
	if (e == ENOMEM)
		return EX_SOFTWARE;
	if (e != EINVAL)
		return EX_NOINPUT;
	return err->file[0] != '\0' ? EX_DATAERR : EX_USAGE;
}

/* Every edit of the command line into <e>.  Returns 0 or an exit status. */
static int
build_edits(const struct conf *c, struct edits *e)
{
	struct gw_error err;
	size_t i;

	memset(&err, 0, sizeof(err));
	e->allow_truncated = c->allow_truncated;
	e->diff = c->diff;
	if ((c->target != NULL && edit_target(e, c->target, &err) == -1) ||
	    (c->method != NULL && edit_method(e, c->method, &err) == -1) ||
	    (c->path != NULL && edit_path(e, c->path, &err) == -1) ||
	    (c->header_file != NULL &&
	        edit_header_file(e, c->header_file, &err) == -1) ||
	    (c->data != NULL && edit_data(e, c->data, &err) == -1))
		return edit_failed(&err);
	for (i = 0; i < c->header.n; i++)
		if (edit_header(e, c->header.v[i], &err) == -1)
			return edit_failed(&err);
	for (i = 0; i < c->remove_header.n; i++)
		if (edit_remove_header(e, c->remove_header.v[i], &err) == -1)
			return edit_failed(&err);
	for (i = 0; i < c->set_query.n; i++)
		if (edit_set_query(e, c->set_query.v[i], &err) == -1)
			return edit_failed(&err);
	for (i = 0; i < c->remove_query.n; i++)
		if (edit_remove_query(e, c->remove_query.v[i], &err) == -1)
			return edit_failed(&err);
	return EX_OK;
}

/* --expect and --rate.  Returns 0 or an exit status. */
static int
build_batch(const struct conf *c, struct expect *x, struct sched_opts *so)
{
	struct gw_error err;
	size_t i;

	memset(&err, 0, sizeof(err));
	memset(x, 0, sizeof(*x));
	for (i = 0; i < c->expect.n; i++)
		if (expect_parse(x, c->expect.v[i], &err) == -1)
			return usage(err.msg);
	memset(so, 0, sizeof(*so));
	so->concurrency = (size_t)c->concurrency;
	so->timeout_ms = (long)c->timeout;
	so->insecure = c->insecure;
	so->ca_file = c->cacert;
	so->follow_redirects = c->location;
	if (c->rate != NULL &&
	    rate_parse(c->rate, &so->interval_ns, &err) == -1)
		return usage(err.msg);
	return EX_OK;
}

/* The checks between options and arguments.  Returns 0 or 64. */
static int
check_args(const struct conf *c, char **pos, int npos)
{
	int i, dash = 0;

	for (i = 0; i < npos; i++)
		dash |= strcmp(pos[i], "-") == 0;
	if (c->query != NULL && npos > 0)
		return usage("--query selects the requests from the store and "
		             "takes no ids or '-'; to set a query parameter of "
		             "the replayed request use --set-query NAME=VALUE");
	if (c->query == NULL && npos == 0)
		return usage("nothing to replay: give event ids, '-' to read "
		             "events on stdin, or --query");
	if (dash && npos > 1)
		return usage("'-' reads the events on stdin and takes no ids");
	if (c->query == NULL &&
	    (c->since != NULL || c->until != NULL || c->limit != 0 ||
	        c->include_replays))
		return usage("--since, --until, --limit and --include-replays "
		             "go with --query");
	return EX_OK;
}

static struct gw_store *
open_store(const char *dir)
{
	struct gw_error err;
	struct gw_store *st;
	char msg[800];

	memset(&err, 0, sizeof(err));
	if ((st = gw_store_open(dir, 0, NULL, &err)) == NULL) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
	}
	return st;
}

/* The feed the arguments ask for.  Returns 0 or an exit status. */
static int
make_feed(const struct conf *c, char **pos, int npos, struct gw_store **st,
    struct gw_query **q, struct feed **feed)
{
	struct gw_error err;
	int64_t since = INT64_MIN, until = INT64_MAX;
	char msg[800];

	memset(&err, 0, sizeof(err));
	if (npos == 1 && strcmp(pos[0], "-") == 0) {
		if ((*feed = feed_stdin(&err)) == NULL) {
			gw_error_format(&err, msg, sizeof(msg));
			gw_error("%s", msg);
			return errno == ENOMEM ? EX_SOFTWARE : EX_NOINPUT;
		}
		return EX_OK;
	}
	if (c->query != NULL) {
		if ((*q = gw_query_parse(c->query, &err)) == NULL) {
			if (errno == ENOMEM && err.line == 0)
				return EX_SOFTWARE;
			gw_error("query:%d:%d: %s", err.line ? err.line : 1,
			    err.col, err.msg);
			return EX_USAGE;
		}
		if (c->since != NULL &&
		    gw_parse_when(c->since, gw_now_ns(), &since) == -1)
			return usage("--since: expected an age (1h, 30m, 7d) "
			             "or an RFC 3339 time");
		if (c->until != NULL &&
		    gw_parse_when(c->until, gw_now_ns(), &until) == -1)
			return usage("--until: expected an age (1h, 30m, 7d) "
			             "or an RFC 3339 time");
	}
	if ((*st = open_store(c->store)) == NULL)
		return EX_IOERR;
	if (c->query != NULL)
		*feed = feed_query(*st, *q, since, until, (uint64_t)c->limit,
		    c->include_replays);
	else
		*feed = feed_ids(*st, pos, (size_t)npos);
	if (*feed == NULL) {
		gw_error("%s: %s", c->store, strerror(errno));
		return errno == ENOMEM ? EX_SOFTWARE : EX_IOERR;
	}
	return EX_OK;
}

/*
 * Parses options anywhere on the line; the rest are positionals (ids, or
 * "-").  Returns 0, or 64 after saying why.
 */
static int
parse_argv(struct conf *c, int argc, char **argv, char **pos, int *npos)
{
	struct gw_error err;
	char msg[800];
	int at = 1, oi;

	memset(&err, 0, sizeof(err));
	if (gw_opts_init(optab, c, &err) == -1)
		goto bad;
	while (at < argc) {
		if (gw_opts_parse_argv(optab, c, argc - at + 1, argv + at - 1,
		        &oi, &err) == -1)
			goto bad;
		if (c->help || c->version)
			return EX_OK;
		at += oi - 1;
		if (at < argc)
			pos[(*npos)++] = argv[at++];
	}
	return EX_OK;
bad:
	gw_error_format(&err, msg, sizeof(msg));
	return usage(msg);
}

int
main(int argc, char **argv)
{
	struct gw_store *st = NULL;
	struct gw_query *q = NULL;
	struct feed *feed = NULL;
	struct gw_loop *loop = NULL;
	struct sched_opts so;
	struct expect expect;
	struct edits ed;
	struct out out;
	struct conf c;
	char **pos;
	int npos = 0, rc, run_rc;
	uint64_t t0;

	gw_log_init(RP_NAME);
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&c, 0, sizeof(c));
	edit_init(&ed);
	out_init(&out, stdout, OUT_TABLE, 0, &expect);
	if ((pos = calloc((size_t)argc + 1, sizeof(*pos))) == NULL)
		return EX_SOFTWARE;
	if ((rc = parse_argv(&c, argc, argv, pos, &npos)) != EX_OK)
		goto out;
	if (c.help) {
		gw_opts_usage(stdout, synopsis, optab);
		fputs(about, stdout);
		goto out;
	}
	if (c.version) {
		printf("gw-replay %s\n", GW_VERSION);
		goto out;
	}
	set_logging(&c);
	if ((rc = check_args(&c, pos, npos)) != EX_OK ||
	    (rc = build_batch(&c, &expect, &so)) != EX_OK ||
	    (rc = build_edits(&c, &ed)) != EX_OK ||
	    (rc = make_feed(&c, pos, npos, &st, &q, &feed)) != EX_OK)
		goto out;
	if ((loop = gw_loop_new()) == NULL) {
		gw_error("event loop: %s", strerror(errno));
		rc = EX_SOFTWARE;
		goto out;
	}
	out_init(&out, stdout,
	    strcmp(c.format, "ndjson") == 0 ? OUT_NDJSON : OUT_TABLE, c.diff,
	    &expect);
	t0 = gw_mono_ns();
	run_rc = sched_run(loop, &so, feed, &ed, &out);
	out_summary(&out, (double)(gw_mono_ns() - t0) / 1e9);
	rc = out_exit_status(&out);
	if (run_rc != EX_OK)
		rc = run_rc;
	if (fflush(stdout) != 0 && errno != EPIPE) {
		gw_error("stdout: %s", strerror(errno));
		rc = EX_IOERR;
	}
out:
	feed_free(feed);
	gw_query_free(q);
	gw_store_close(st);
	gw_loop_free(loop);
	out_fini(&out);
	edit_fini(&ed);
	gw_opts_free(optab, &c);
	free(pos);
	return rc;
}
