/* SPDX-License-Identifier: MIT */
/*
 * gw-replay's one private header.  gw-replay sends captured requests
 * again: by id from a gw-capture store, every event a query selects in
 * the store (a batch for cron), or the events read on stdin, each with the
 * user's edits applied, through the gw-proxy that first received it (so
 * that the policy in force now applies) or to another target.
 *
 * Reading order: main.c (flags, setup, the loop), edit.c (the edits and
 * their parsing), spec.c (--expect and --rate), feed.c (where events come
 * from), plan.c (an event plus the edits make a request), send.c (rate,
 * concurrency and libcurl through lib/curlm), diff.c (original response
 * against the new one), out.c (rows, NDJSON and the summary).
 */
#ifndef GW_REPLAY_H
#define GW_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "error.h"
#include "xchg.h"

#define RP_NAME "gw-replay"

/* sysexits(3), and 1 for "a replay did not meet --expect". */
#define EX_OK       0
#define EX_FAILED   1
#define EX_USAGE    64
#define EX_DATAERR  65
#define EX_NOINPUT  66
#define EX_SOFTWARE 70
#define EX_IOERR    74

/* Largest --data @FILE and --header-file read. */
#define RP_MAX_FILE (64 * 1024 * 1024)
/* Response body bytes held per replay for --diff (each side). */
#define RP_DIFF_MAX (256 * 1024)
/* Longest event line read from stdin. */
#define RP_MAX_LINE (16 * 1024 * 1024)

/* ---- edit.c: what the user changes in every replayed request ---------- */

struct rp_hdr {
	char *name;
	char *value;
};

struct rp_qparam {
	char *name;  /* as the user gave it (decoded) */
	char *value; /* NULL for --remove-query */
};

/*
 * The edits, applied to every request.  Strings are owned (edit_fini()).
 * A NULL member means "as captured".
 */
struct edits {
	/* --target: scheme, authority (host[:port]) and a path prefix */
	char *target_scheme;
	char *target_authority;
	char *target_base;  /* "" or "/prefix" without a trailing '/' */
	char *method;       /* -X */
	char *path;         /* --path, without its query */
	char *path_query;   /* the query of --path, when it had a '?' */
	struct rp_hdr *set; /* -H and --header-file, in order */
	size_t nset;
	char **remove; /* --remove-header */
	size_t nremove;
	struct rp_qparam *qedit; /* --set-query, --remove-query, in order */
	size_t nqedit;
	unsigned char *data; /* --data */
	size_t data_len;
	int has_data;
	int allow_truncated;
	int diff; /* hold what --diff needs */
};

/* Empties <e>; edit_fini() frees what the edit_*() calls stored. */
void edit_init(struct edits *e);
void edit_fini(struct edits *e);
/*
 * Each parses one command-line value into <e>.  Returns 0, or -1 with a
 * message in <err> (no position, except edit_header_file(), which names
 * the file and line).  errno is ENOENT-like for a file that cannot be
 * read (exit 66), EINVAL for a bad value (exit 64 or 65).
 */
int edit_target(struct edits *, const char *url, struct gw_error *err);
int edit_method(struct edits *, const char *method, struct gw_error *err);
int edit_path(struct edits *, const char *path, struct gw_error *err);
int edit_header(struct edits *, const char *line, struct gw_error *err);
int edit_header_file(struct edits *, const char *path, struct gw_error *err);
int edit_remove_header(struct edits *, const char *name, struct gw_error *err);
int edit_set_query(struct edits *, const char *nv, struct gw_error *err);
int edit_remove_query(struct edits *, const char *name, struct gw_error *err);
int edit_data(struct edits *, const char *arg, struct gw_error *err);
/* The value -H or --header-file gave for <name> (any case), or NULL. */
const char *edit_header_value(const struct edits *, const char *name);
/* 1 when --remove-header named <name> (any case). */
int edit_removes(const struct edits *, const char *name);
/*
 * Applies the --set-query and --remove-query edits to the raw query
 * string <q> (without '?'; may be NULL) and returns the new one, malloc'd
 * ("" for none), or NULL (ENOMEM).  Parameters are matched by their
 * decoded names; a set replaces the first match in place, drops the
 * others and appends when there was none; values are percent-encoded.
 */
char *edit_apply_query(const struct edits *, const char *q);

/* ---- spec.c: --expect and --rate ---------------------------------------- */

/*
 * Which statuses count as a success.  A status meets the expectation
 * when it matches one of the positive items (or there are none) and none
 * of the negative ones.
 */
struct expect {
	unsigned char pos[600], neg[600]; /* by status code */
	int npos;
	int same_pos, same_neg; /* "same" as the original status */
	char text[128];         /* as given, for messages */
};

/*
 * Adds the items of <spec> ("2xx", "404", "!5xx", "same", several joined
 * by commas) to <x>.  Returns 0, or -1 with <err> set.
 */
int expect_parse(struct expect *x, const char *spec, struct gw_error *err);
/* 1 if <status> (0: no response, never met) meets <x>. */
int expect_met(const struct expect *x, int status, int orig_status);

/*
 * Parses a rate: "10/s", "600/m", "2/5s", "0.5/s", "3600/h", or a bare
 * number per second, into the interval between two starts.  Returns 0,
 * or -1 with <err> set.
 */
int rate_parse(const char *s, uint64_t *interval_ns, struct gw_error *err);

/* ---- plan.c: one request to send ------------------------------------- */

/* A response as --diff compares it; strings owned. */
struct rp_res {
	int status; /* 0: none */
	struct rp_hdr *hdrs;
	size_t nhdrs;
	int has_headers;
	unsigned char *body; /* NULL: not known */
	size_t body_len;
	int64_t body_total; /* the whole body's length; -1 unknown */
};

struct plan {
	char *id; /* the original event_id */
	char *method;
	char *url;
	char *connect_to; /* for CURLOPT_CONNECT_TO, or NULL */
	char *shown;      /* path?query as sent */
	char **headers;   /* "Name: value" lines for libcurl, NULL-ended */
	size_t nheaders;
	const unsigned char *body; /* NULL: no body */
	size_t body_len;
	unsigned char *body_owned;
	int orig_status;
	int partial;    /* sent although what was captured is incomplete */
	char **dropped; /* redacted headers not sent */
	size_t ndropped;
	struct rp_res orig; /* the original response, with edits->diff */
};

enum plan_result {
	PLAN_OK = 0,
	PLAN_REFUSED = 1, /* <why> says why; nothing to send */
};

/*
 * Builds the request that replays <event> (an http_request_complete.v0
 * envelope, borrowed) with the edits <e>: method, URL and where to
 * connect, headers (hop-by-hop, X-Forwarded-* and Forwarded dropped, Host
 * kept, redacted values taken from the edits or dropped, the edits
 * applied, Gw-Replay-Original-Request-Id added), body.  Everything is
 * copied but --data's bytes, which <e> keeps.  Returns PLAN_OK,
 * PLAN_REFUSED with a sentence in <why>, or -1 (ENOMEM).  <p> needs
 * plan_fini() in every case.
 */
int plan_build(struct plan *p, json_t *event, const struct edits *e, char *why,
    size_t whylen);
/* Frees what <p> holds and zeroes it; a zeroed plan is accepted. */
void plan_fini(struct plan *p);

/* ---- diff.c ----------------------------------------------------------- */

/*
 * Writes a unified-style diff of the response <a> (the original,
 * labelled <alabel>) against <b> (the replay's) to <f>: the status line,
 * the headers (hop-by-hop fields, Date and Via left out, names
 * compared without case), and the body, line by line when both are text, by
 * length and SHA-256 otherwise.  A body known only in part is compared
 * over the part both sides have, and the output says so.  Memory is
 * bounded by the bodies given (callers cap them) plus a fixed table.
 * Returns 0, or -1 (ENOMEM, or the stream's error).
 */
int diff_write(FILE *f, const struct rp_res *a, const char *alabel,
    const struct rp_res *b, const char *blabel);

/* ---- out.c: what the user sees ---------------------------------------- */

enum out_format { OUT_TABLE, OUT_NDJSON };

/* The outcome of one replay that was sent. */
struct outcome {
	int status;        /* 0: no response */
	const char *error; /* transport error, or NULL */
	double total_s;
	const struct rp_res *res; /* the new response, for --diff; or NULL */
};

struct out {
	FILE *f;
	enum out_format format;
	int tty;
	int diff;
	const struct expect *expect;
	/* counters for the summary */
	uint64_t met, missed, errors, refused, missing, bad;
	int header_done;
	char **warned; /* redacted header names already warned about */
	size_t nwarned;
};

/*
 * Prints to <f> in <fmt>, with diffs when <diff>; <x> (borrowed) decides
 * which statuses count as expected.  out_fini() frees what warnings kept.
 */
void out_init(struct out *o, FILE *f, enum out_format fmt, int diff,
    const struct expect *x);
void out_fini(struct out *o);
/*
 * A replay that got an answer or failed on the way: its row (and diff),
 * the warning for redacted headers not sent, and the count.
 */
void out_result(struct out *, const struct plan *, const struct outcome *);
/*
 * A request not sent: <id> and what is known of it (<p> may be NULL, or
 * a plan that was refused), and why.  Counted as refused, or as missing
 * when <missing>.
 */
void out_refused(struct out *, const char *id, const struct plan *p,
    const char *why, int missing);
/* A line on stdin that is not an event; counted. */
void
out_bad_line(struct out *, const char *name, uint64_t lineno, const char *why);
/* The summary line on stderr. */
void out_summary(const struct out *, double elapsed_s);
/* The exit status the counters call for. */
int out_exit_status(const struct out *);

/* ---- feed.c: the events to replay -------------------------------------- */

enum feed_result {
	FEED_END = 0,
	FEED_ITEM = 1,    /* <line> holds an event */
	FEED_WAIT = 2,    /* nothing yet: wait for feed_fd() */
	FEED_MISSING = 3, /* <label> is an id the store does not have */
	FEED_BAD = 4,     /* <label>:<lineno> is not a JSON object */
	FEED_ERROR = -1,  /* reading failed; <why> says how */
};

struct feed_item {
	const char *line; /* valid until the next feed_next() */
	size_t len;
	const char *label; /* an id, or the input's name */
	uint64_t lineno;
	char why[300];
};

struct gw_query;
struct gw_store;
struct feed;

/*
 * Ids looked up in <st> one by one (borrowed; <ids> too).  Like
 * feed_query(), NULL with errno set (ENOMEM) on failure.
 */
struct feed *feed_ids(struct gw_store *st, char **ids, size_t n);
/*
 * The events of <st> that <q> matches with event_timestamp in [since_us,
 * until_us), newest first like gw-capture list, at most <limit> (0: no
 * limit); replays are skipped unless <with_replays>.  Borrows <st>, <q>.
 */
struct feed *feed_query(struct gw_store *st, const struct gw_query *q,
    int64_t since_us, int64_t until_us, uint64_t limit, int with_replays);
/*
 * NDJSON events on stdin (zstd decompressed), read without blocking: a
 * pipe or terminal is made non-blocking until feed_free().  NULL with
 * <err> set when stdin cannot be read.
 */
struct feed *feed_stdin(struct gw_error *err);
/*
 * The next event in <it> (a feed_result); FEED_ITEM's line is valid until
 * the next call.  Stdin's lines carry their line number, the store's 0.
 */
int feed_next(struct feed *f, struct feed_item *it);
/* The descriptor to wait on after FEED_WAIT. */
int feed_fd(const struct feed *f);
/* Frees <f> (NULL accepted); what it borrowed stays the caller's. */
void feed_free(struct feed *f);

/* ---- send.c ----------------------------------------------------------- */

struct sched_opts {
	size_t concurrency;
	uint64_t interval_ns; /* between starts; 0: no rate limit */
	long timeout_ms;
	int insecure;
	const char *ca_file;
	int follow_redirects;
};

struct gw_loop;

/*
 * Replays every event of <feed> with <ed> applied, at most
 * o->concurrency at a time and one every o->interval_ns, reporting each
 * to <out>, until the feed ends or SIGINT/SIGTERM (in-flight replays then
 * finish; a second signal aborts them).  Returns 0, or an exit status
 * (EX_IOERR when reading events failed, EX_SOFTWARE when libcurl or the
 * loop could not be set up or memory ran out) after saying why.
 */
int sched_run(struct gw_loop *loop, const struct sched_opts *o,
    struct feed *feed, const struct edits *ed, struct out *out);

#endif
