// SPDX-License-Identifier: MIT
/*
 * gw-capture: the traffic inspector's store as a Unix tool.  This file
 * holds the command line and nothing else: without a command gw-capture
 * is a filter that stores what it reads (ingest.c); list and tail
 * (list.c), show (show.c), stats (stats.c), prune and import (ingest.c)
 * read or maintain a store.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evsum.h"
#include "gw-capture.h"
#include "log.h"
#include "query.h"
#include "store.h"
#include "timeutil.h"

#ifndef GW_VERSION
#define GW_VERSION "0.1.0"
#endif

#define F(m, t) GW_OPT_FIELD(struct capconf, m, t)

#define OPT_STORE                                                        \
	{                                                                \
		"store", 'd', GW_OPT_STR, F(store, char *), "DIR",       \
		    "the store's directory", 0, 0, NULL, NULL, "data", 0 \
	}
#define OPT_LOG                                                                \
	{ "log-level", 0, GW_OPT_STR, F(log_level, char *), "LEVEL",           \
		"debug, info, warning or error", 0, 0, gw_log_opt_level, NULL, \
		"info", 0 },                                                   \
	{                                                                      \
		"log-format", 0, GW_OPT_STR, F(log_format, char *), "FMT",     \
		    "text or json (stderr)", 0, 0, gw_log_opt_format, NULL,    \
		    "text", 0                                                  \
	}
#define OPT_HELP                                                               \
	{                                                                      \
		"help", 'h', GW_OPT_FLAG, F(help, int), NULL,                  \
		    "show this help", 0, 0, NULL, NULL, NULL, GW_OPT_ARGV_ONLY \
	}
#define OPT_RETAIN                                                              \
	{ "retention", 0, GW_OPT_DURATION, F(retention, uint64_t), "AGE",       \
		"delete segments whose newest event is older (0 keeps all)",    \
		0, 0, NULL, NULL, "3d", 0 },                                    \
	{                                                                       \
		"max-size", 0, GW_OPT_SIZE, F(max_size, uint64_t), "SIZE",      \
		    "delete the oldest segments while the store is larger (0: " \
		    "no limit)",                                                \
		    0, 0, NULL, NULL, "10G", 0                                  \
	}
#define OPT_MAXLINE                                                             \
	{                                                                       \
		"max-line", 0, GW_OPT_SIZE, F(max_line, uint64_t), "SIZE",      \
		    "longest event stored; longer lines pass through unstored", \
		    1, GW_STORE_MAX_LINE, NULL, NULL, "1M", 0                   \
	}
#define OPT_RANGE                                                              \
	{ "since", 's', GW_OPT_STR, F(since, char *), "WHEN",                  \
		"events from this time: an age (1h, 30m, 7d) or RFC 3339", 0,  \
		0, NULL, NULL, NULL, 0 },                                      \
	{                                                                      \
		"until", 'u', GW_OPT_STR, F(until, char *), "WHEN",            \
		    "events before this time: an age or RFC 3339", 0, 0, NULL, \
		    NULL, NULL, 0                                              \
	}
#define OPT_TYPE                                                       \
	{                                                              \
		"type", 't', GW_OPT_STR, F(type, char *), "TYPE",      \
		    "http (exchanges), all, or an event_type such as " \
		    "policy_updated.v0",                               \
		    0, 0, NULL, NULL, "http", 0                        \
	}
#define OPT_COLOR                                                             \
	{                                                                     \
		"color", 0, GW_OPT_STR, F(color, char *), "WHEN",             \
		    "auto (on a terminal, unless NO_COLOR), always or never", \
		    0, 0, check_color, NULL, "auto", 0                        \
	}
#define OPT_END                                                      \
	{                                                            \
		NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, 0 \
	}

static int
check_color(void *conf, const char *v, struct gw_error *err)
{
	(void)conf;
	if (strcmp(v, "auto") && strcmp(v, "always") && strcmp(v, "never")) {
		gw_error_set(err, NULL, 0, 0, "must be auto, always or never");
		return -1;
	}
	return 0;
}

static const struct gw_opt ingest_optab[] = {
	OPT_STORE,
	OPT_RETAIN,
	OPT_MAXLINE,
	{ "flush-interval", 0, GW_OPT_DURATION, F(flush_interval, uint64_t),
	    "TIME", "write what is batched after this long without input", 1,
	    60000, NULL, NULL, "200ms", 0 },
	{ "segment-size", 0, GW_OPT_SIZE, F(segment_size, uint64_t), "SIZE",
	    "start a new segment file past this size", 1024 * 1024, LLONG_MAX,
	    NULL, NULL, "256M", 0 },
	OPT_LOG,
	{ "version", 0, GW_OPT_FLAG, F(version, int), NULL, "print the version",
	    0, 0, NULL, NULL, NULL, GW_OPT_ARGV_ONLY },
	OPT_HELP,
	OPT_END,
};

static const struct gw_opt list_optab[] = {
	OPT_STORE,
	OPT_RANGE,
	{ "limit", 'n', GW_OPT_INT, F(limit, long long), "N",
	    "at most N events, newest first (0: all)", 0, LLONG_MAX, NULL, NULL,
	    "50", 0 },
	{ "format", 'f', GW_OPT_STR, F(format, char *), "FMT",
	    "table, ndjson or json", 0, 0, NULL, NULL, "table", 0 },
	OPT_TYPE,
	OPT_COLOR,
	OPT_LOG,
	OPT_HELP,
	OPT_END,
};

static const struct gw_opt tail_optab[] = {
	OPT_STORE,
	{ "since", 's', GW_OPT_STR, F(since, char *), "WHEN",
	    "first print the events from this time (an age or RFC 3339)", 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "format", 'f', GW_OPT_STR, F(format, char *), "FMT",
	    "table or ndjson", 0, 0, NULL, NULL, "table", 0 },
	OPT_TYPE,
	OPT_COLOR,
	OPT_LOG,
	OPT_HELP,
	OPT_END,
};

static const struct gw_opt show_optab[] = {
	OPT_STORE,
	{ "format", 'f', GW_OPT_STR, F(format, char *), "FMT",
	    "pretty, json, raw, curl or har", 0, 0, NULL, NULL, "pretty", 0 },
	OPT_COLOR,
	OPT_LOG,
	OPT_HELP,
	OPT_END,
};

static const struct gw_opt stats_optab[] = {
	OPT_STORE,
	OPT_RANGE,
	{ "by", 'b', GW_OPT_STR, F(by, char *), "FIELD",
	    "group by status, path, method, client_ip, host or error", 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "interval", 'i', GW_OPT_DURATION, F(interval, uint64_t), "TIME",
	    "one row per time bucket of this size (1m, 1h)", 0, 0, NULL, NULL,
	    NULL, 0 },
	{ "format", 'f', GW_OPT_STR, F(format, char *), "FMT",
	    "table, ndjson or json", 0, 0, NULL, NULL, "table", 0 },
	OPT_TYPE,
	OPT_COLOR,
	OPT_LOG,
	OPT_HELP,
	OPT_END,
};

static const struct gw_opt prune_optab[] = {
	OPT_STORE,
	OPT_RETAIN,
	OPT_LOG,
	OPT_HELP,
	OPT_END,
};

static const struct gw_opt import_optab[] = {
	OPT_STORE,
	OPT_MAXLINE,
	OPT_LOG,
	OPT_HELP,
	OPT_END,
};

struct command {
	const char *name;
	const struct gw_opt *tab;
	const char *synopsis;
	const char *about;
	int min_args, max_args; /* positional arguments; -1 no limit */
};

static const struct command commands[] = {
	{ NULL, ingest_optab, "gw-capture [options]",
	    "Stores every event read on stdin in the store and writes every\n"
	    "input line to stdout unchanged, so that a pipeline goes on:\n"
	    "  gw-proxy ... | gw-capture --store data/ | gw-export ...\n"
	    "Lines that are not JSON objects, or longer than --max-line, are\n"
	    "passed on, not stored, and reported with their line number.  When\n"
	    "the disk is full, storing pauses (said once) while events keep\n"
	    "flowing, and resumes by itself.  Retention is applied at start and\n"
	    "every minute.  SIGTERM and SIGINT write what is batched and exit 0.\n"
	    "\n"
	    "Commands (gw-capture COMMAND --help):\n"
	    "  list [QUERY]     recent exchanges, newest first\n"
	    "  show ID          one exchange: pretty, json, raw, curl or har\n"
	    "  tail [QUERY]     follow new events as they are stored\n"
	    "  stats [QUERY]    counts, error rate and latency percentiles\n"
	    "  prune            apply retention now\n"
	    "  import FILE...   load saved NDJSON (or .zst) events\n",
	    0, 0 },
	{ "list", list_optab, "gw-capture list [QUERY] [options]",
	    "Lists stored events matching QUERY (Datadog log search syntax,\n"
	    "e.g. '@http.response.status_code:>=500 -@http.method:OPTIONS'),\n"
	    "newest first.  The table has time, client IP, method, host, path,\n"
	    "status, duration, error and id; --format ndjson prints whole\n"
	    "events for jq.\n",
	    0, -1 },
	{ "show", show_optab, "gw-capture show ID [options]",
	    "Shows one exchange.  pretty: request and response with headers and\n"
	    "bodies; json: the stored event; raw: the HTTP/1.1 wire form;\n"
	    "curl: a command that sends the request again; har: a HAR 1.2 entry.\n",
	    1, 1 },
	{ "tail", tail_optab, "gw-capture tail [QUERY] [options]",
	    "Follows the store as another gw-capture writes it, like tail -f,\n"
	    "printing the events that match QUERY.  Ends on SIGINT or when\n"
	    "stdout closes.\n",
	    0, -1 },
	{ "stats", stats_optab, "gw-capture stats [QUERY] [options]",
	    "Summarises the events matching QUERY: count, errors (5xx, or no\n"
	    "response), error rate and duration p50/p95/p99, per group with\n"
	    "--by and per time bucket with --interval.  Grouping by status,\n"
	    "method or client_ip reads the index alone.\n",
	    0, -1 },
	{ "prune", prune_optab, "gw-capture prune [options]",
	    "Applies retention now: deletes whole segments older than\n"
	    "--retention, then the oldest while the store is over --max-size.\n"
	    "Fails while a gw-capture filter holds the store (it prunes itself).\n",
	    0, 0 },
	{ "import", import_optab, "gw-capture import FILE... [options]",
	    "Stores the events of saved NDJSON files ('-' for stdin; zstd\n"
	    "input is decompressed).  Lines that are not JSON objects are\n"
	    "reported with their line number and skipped.\n",
	    1, -1 },
};

static const char exits[] =
    "\nExit status: 0 ok, 64 usage or query syntax, 65 no such request or\n"
    "bad input, 66 cannot open an input, 70 internal, 74 I/O error or a\n"
    "store that cannot be opened.\n";

struct gw_store *
cap_open_store(const struct capconf *c, int flags)
{
	struct gw_store_opts so;
	struct gw_store *st;
	struct gw_error err;
	char msg[800];

	memset(&err, 0, sizeof(err));
	memset(&so, 0, sizeof(so));
	so.segment_bytes = c->segment_size;
	st = gw_store_open(c->store, flags, &so, &err);
	if (st == NULL) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
	}
	return st;
}

int
cap_query(char **args, int n, struct gw_query **out)
{
	struct gw_error err;
	struct gw_query *q;
	size_t len = 1;
	char *text;
	int i;

	for (i = 0; i < n; i++)
		len += strlen(args[i]) + 1;
	if ((text = malloc(len)) == NULL)
		return EX_SOFTWARE;
	text[0] = '\0';
	for (i = 0, len = 0; i < n; i++) {
		size_t k = strlen(args[i]);

		if (i > 0)
			text[len++] = ' ';
		memcpy(text + len, args[i], k);
		len += k;
		text[len] = '\0';
	}
	memset(&err, 0, sizeof(err));
	q = gw_query_parse(text, &err);
	free(text);
	if (q == NULL) {
		if (errno == ENOMEM && err.line == 0)
			return EX_SOFTWARE;
		gw_error("query:%d:%d: %s", err.line ? err.line : 1, err.col,
		    err.msg);
		return EX_USAGE;
	}
	*out = q;
	return EX_OK;
}

int
cap_type_ok(const struct capconf *c, const struct gw_evsum *sum,
    const char *line, size_t len)
{
	char want[160];
	int n;

	switch (c->type_kind) {
	case CAP_TYPE_ALL:
		return 1;
	case CAP_TYPE_HTTP:
		return sum->kind == GW_EVK_HTTP;
	case CAP_TYPE_NAMED:
		if (line == NULL)
			return -1;
		/* gw writes event_type without spaces; a search is enough. */
		n = snprintf(
		    want, sizeof(want), "\"event_type\":\"%s\"", c->type);
		return n > 0 && (size_t)n < sizeof(want) &&
		    memmem(line, len, want, (size_t)n) != NULL;
	}
	return 0;
}

static int
resolve(struct capconf *c)
{
	gw_log_apply(c->log_level, c->log_format);
	c->since_us = INT64_MIN;
	c->until_us = INT64_MAX;
	if (c->since != NULL &&
	    gw_parse_when(c->since, gw_now_ns(), &c->since_us) == -1) {
		gw_error("--since: '%s' is neither an age (1h, 30m, 7d) nor an "
		         "RFC 3339 time",
		    c->since);
		return -1;
	}
	if (c->until != NULL &&
	    gw_parse_when(c->until, gw_now_ns(), &c->until_us) == -1) {
		gw_error("--until: '%s' is neither an age (1h, 30m, 7d) nor an "
		         "RFC 3339 time",
		    c->until);
		return -1;
	}
	c->type_kind = CAP_TYPE_HTTP;
	if (c->type != NULL && strcmp(c->type, "all") == 0)
		c->type_kind = CAP_TYPE_ALL;
	else if (c->type != NULL && strcmp(c->type, "http") != 0)
		c->type_kind = CAP_TYPE_NAMED;
	if (c->color != NULL) {
		c->force_color = strcmp(c->color, "always") == 0;
		c->no_color = strcmp(c->color, "never") == 0;
	}
	return 0;
}

static enum show_format
show_format_of(const char *s, int *ok)
{
	static const struct {
		const char *name;
		enum show_format f;
	} v[] = { { "pretty", SHOW_PRETTY }, { "json", SHOW_JSON },
		{ "raw", SHOW_RAW }, { "curl", SHOW_CURL },
		{ "har", SHOW_HAR } };
	size_t i;

	*ok = 1;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(s, v[i].name) == 0)
			return v[i].f;
	*ok = 0;
	return SHOW_PRETTY;
}

static int
show_main(struct capconf *c, const char *id)
{
	struct cap_style st;
	struct gw_store *s;
	enum show_format f;
	char *line = NULL;
	size_t len;
	int ok, r;

	f = show_format_of(c->format, &ok);
	if (!ok) {
		gw_error(
		    "show: --format must be pretty, json, raw, curl or har");
		return EX_USAGE;
	}
	if ((s = cap_open_store(c, 0)) == NULL)
		return EX_IOERR;
	r = gw_store_find(s, id, strlen(id), &line, &len);
	gw_store_close(s);
	if (r == 1) {
		gw_error("no such request: %s", id);
		return EX_DATAERR;
	}
	if (r == -1) {
		gw_error("show: %s: %s", c->store, strerror(errno));
		return EX_IOERR;
	}
	cap_style_init(&st, stdout, c);
	r = show_event(stdout, line, len, f, &st);
	free(line);
	if (r == -1) {
		gw_error(
		    "show: %s is not an HTTP exchange; try --format json", id);
		return EX_DATAERR;
	}
	return fflush(stdout) == 0 || errno == EPIPE ? EX_OK : EX_IOERR;
}

/*
 * A query term negated with a leading '-' ("-@http.method:GET",
 * "-status:error") rather than an option: it has a ':', '@', '(' or a
 * quote, which no option has.
 */
static int
negated_term(const char *arg)
{
	return arg[0] == '-' && arg[1] != '-' && arg[1] != '\0' &&
	    strpbrk(arg, ":@(\"") != NULL;
}

static const struct command *
find_command(const char *name)
{
	size_t i;

	for (i = 1; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct command *cmd = &commands[0];
	struct gw_query *q = NULL;
	struct capconf c;
	struct gw_error err;
	char msg[800], **pos, **av = NULL;
	int npos = 0, at = 1, oi, rc;

	gw_log_init(CAP_NAME);
	(void)signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && argv[1][0] != '-') {
		if ((cmd = find_command(argv[1])) == NULL) {
			gw_error("unknown command '%s'; see gw-capture --help",
			    argv[1]);
			return EX_USAGE;
		}
		at = 2;
	}
	memset(&c, 0, sizeof(c));
	memset(&err, 0, sizeof(err));
	if ((pos = calloc((size_t)argc + 1, sizeof(*pos))) == NULL)
		return EX_SOFTWARE;
	if (gw_opts_init(cmd->tab, &c, &err) == -1)
		goto bad;
	/*
	 * Options anywhere; the rest are positionals.  The option parser
	 * sees a copy where negated query terms are hidden, and positionals
	 * are taken from argv at the same places.
	 */
	if ((av = calloc((size_t)argc + 1, sizeof(*av))) == NULL)
		goto nomem;
	for (oi = 0; oi < argc; oi++)
		av[oi] = negated_term(argv[oi]) ? (char *)"term" : argv[oi];
	while (at < argc) {
		if (gw_opts_parse_argv(cmd->tab, &c, argc - at + 1, av + at - 1,
		        &oi, &err) == -1)
			goto bad;
		at += oi - 1;
		if (at < argc)
			pos[npos++] = argv[at++];
	}
	if (c.help) {
		gw_opts_usage(stdout, cmd->synopsis, cmd->tab);
		printf("\n%s%s", cmd->about, exits);
		rc = EX_OK;
		goto out;
	}
	if (c.version) {
		printf("gw-capture %s\n", GW_VERSION);
		rc = EX_OK;
		goto out;
	}
	if (npos < cmd->min_args ||
	    (cmd->max_args >= 0 && npos > cmd->max_args)) {
		if (npos < cmd->min_args)
			gw_error("%s: missing %s", cmd->synopsis,
			    cmd->min_args == 1 && cmd->max_args == 1 ? "ID"
			                                             : "FILE");
		else
			gw_error("unexpected argument '%s'; usage: %s",
			    pos[cmd->max_args], cmd->synopsis);
		rc = EX_USAGE;
		goto out;
	}
	if (resolve(&c) == -1) {
		rc = EX_USAGE;
		goto out;
	}
	if (cmd->name == NULL)
		rc = ingest_main(&c);
	else if (strcmp(cmd->name, "show") == 0)
		rc = show_main(&c, pos[0]);
	else if (strcmp(cmd->name, "prune") == 0)
		rc = prune_main(&c);
	else if (strcmp(cmd->name, "import") == 0)
		rc = import_main(&c, pos, npos);
	else if ((rc = cap_query(pos, npos, &q)) != EX_OK)
		;
	else if (strcmp(cmd->name, "list") == 0)
		rc = list_main(&c, q);
	else if (strcmp(cmd->name, "tail") == 0)
		rc = tail_main(&c, q);
	else
		rc = stats_main(&c, q);
	goto out;
nomem:
	gw_error("out of memory");
	rc = EX_SOFTWARE;
	goto out;
bad:
	gw_error_format(&err, msg, sizeof(msg));
	gw_error(
	    "%s%s%s", cmd->name ? cmd->name : "", cmd->name ? ": " : "", msg);
	rc = EX_USAGE;
out:
	gw_query_free(q);
	gw_opts_free(cmd->tab, &c);
	free(pos);
	free(av);
	return rc;
}
