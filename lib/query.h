/* SPDX-License-Identifier: MIT */
/*
 * The query language: Datadog's log search syntax over gw's events, shared
 * by gw-capture (list, tail, stats), gw-export (source filters, monitors)
 * and gw-replay (--query).  A query is parsed once into a tree; the tree
 * then answers for an event summary (lib/evsum.h, from the store's index,
 * without decompressing anything) or for the whole event.  query_parse.c
 * is the parser, query_attr.c resolves attribute names, query_eval.c
 * matches whole events, query_sum.c summaries; query_int.h is their tree.
 *
 * Syntax (Datadog's, with the choices below where Datadog is silent):
 *
 *   a b          both (juxtaposition is AND); "a AND b", "a && b" too
 *   a OR b       either; "||" too.  AND binds tighter: a OR b c is
 *                a OR (b AND c).  Parentheses group.
 *   -a, NOT a    negation of the one clause that follows (+a is just a)
 *   words        free text (below).  AND, OR, NOT are operators in upper
 *                case only; a bare "and", "or" or "not" in any other case
 *                is refused with a hint (Datadog would search the word,
 *                which in a gateway's summary line is never what was
 *                meant): quote it, "and", to search for the word.
 *   @attr:value  attribute; a value is a term (wildcards * and ?), a
 *                "quoted phrase" (wildcards literal), * (the attribute
 *                exists), >N >=N <N <=N, [a TO b] (inclusive), {a TO b}
 *                (exclusive; the brackets may be mixed, * is an open end)
 *                or a group of values, @attr:(a OR b -c).  After the ':'
 *                a term may contain unescaped ':' (@conn.client_ip:::1).
 *   CIDR(@attr, 10.0.0.0/8, fd00::/8)   the attribute, or an element of
 *                it, is an IP address in one of the blocks.  A value that
 *                is a CIDR block (@network.client.ip:10.0.0.0/8) means the
 *                same; a value that is an address matches equal addresses
 *                in any spelling ("::ffff:10.0.0.1" equals "10.0.0.1").
 *                "CIDR" may be written in any case.
 *   *:value      any value anywhere in the event, with free-text rules.
 *   *, *:*       everything.  An empty or all-blank query too.
 *   \c           any character c taken literally (\: \* \  \( ...).
 *
 * Free text (bare terms and phrases, and message:...) searches the event's
 * one-line summary, case-insensitively (ASCII):
 *     "POST /v1/orders?dry_run=1 201 api.example.com"
 * that is method, path[?query], status when there is a response, and the
 * request's host last, so that the phrase "GET /api/users" matches.  An
 * event that is not an HTTP exchange has its event_type as summary.  As in
 * Datadog a term matches whole words: the text is split into words (runs
 * of letters, digits, '_' and non-ASCII bytes) and the term's words must
 * appear in a row, punctuation ignored, so "users" and /api/users match
 * ".../api/users?page=2" but "user" does not.  With wildcards a term is a
 * pattern over the text that starts and ends on word boundaries and whose
 * * and ? never match a space: user* and *sers both match.
 *
 * Attributes are the event's own dotted paths under "object"
 * (@http.response.status_code, @conn.client_ip, @object.conn.client_ip
 * alike) or the envelope's members (@event_id, @event_type,
 * @event_timestamp, @principal.subject), plus the Datadog standard names
 * of gw_query_aliases() (@http.status_code, @http.url, @duration,
 * @network.client.ip ...).  @http.url_details.queryString.NAME is the
 * percent-decoded value of query parameter NAME.  The name after
 * http.request.headers. or http.response.headers. is matched without
 * regard to case.  Wildcards are not allowed in names; "\." puts a dot in
 * one.  A name without '@' is an attribute too, except the reserved:
 *   status:   error (5xx, or no response and an error.code), warn (4xx;
 *             "warning" too), else info; matched without regard to case
 *   host:     the request's host (http.request.url.host, else
 *             conn.server_name for a connection), without regard to case
 *   service:, source:   the names gw-export sends (gw_query_opts; both
 *             "gw" by default): constant over a stream
 *   message:  the summary line, as free text
 * Other Datadog tags (env:prod) are attributes gw's events do not have, so
 * they match nothing, and -env:prod matches everything.
 *
 * Matching a value: values are case-sensitive (but see status: and host:).
 * An array matches when an element does, and a path through an array of
 * objects reaches into each.  A missing or null attribute matches no
 * value, so -@x:y matches events without @x.  A term that reads as a
 * number equals a JSON number of the same value; comparisons and ranges
 * are numeric when the bounds and the value read as decimal numbers (a
 * JSON number, or a string such as a Content-Length header), by time when
 * the bounds are RFC 3339 timestamps or dates (2026-11-24 is midnight
 * UTC; then a value that is not a timestamp never matches), and bytewise
 * string comparisons otherwise.  Timestamps therefore compare as instants
 * whatever their offset or number of digits.
 *
 * Errors: gw_query_parse() fills err->line and err->col (1-based, in
 * characters, counting lines for a query that spans several) and err->msg
 * (e.g. "unbalanced parenthesis", "expected value after ':'",
 * "unterminated quoted phrase", "bad range: expected TO",
 * "bad CIDR '10.0.0.0/33'"); err->file is "".  The caller prints
 * "query:LINE:COL: message" and exits 64.
 */
#ifndef GW_QUERY_H
#define GW_QUERY_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"
#include "evsum.h"

struct gw_query;

/* What the reserved attributes service: and source: compare with. */
struct gw_query_opts {
	const char *service; /* NULL: "gw" */
	const char *source;  /* NULL: "gw" */
};

/*
 * Parses <text> (NUL-terminated, UTF-8).  Returns a query that the caller
 * owns and frees with gw_query_free(); it keeps no pointer into <text>.
 * On a syntax error returns NULL with errno EINVAL and fills <err> (may
 * be NULL) with the position, err->line >= 1; on memory exhaustion
 * returns NULL with errno ENOMEM, err->line 0 and err->msg "out of
 * memory".  An empty or all-blank query matches everything.
 */
struct gw_query *gw_query_parse(const char *text, struct gw_error *err);
/*
 * As gw_query_parse(), with the values of service: and source: from
 * <opts> (may be NULL; its strings are copied).
 */
struct gw_query *gw_query_parse_opts(
    const char *text, const struct gw_query_opts *opts, struct gw_error *err);
/* Frees <q>; NULL is accepted. */
void gw_query_free(struct gw_query *q);

/*
 * Decides from an event summary alone: 1 matches, 0 cannot match, -1 needs
 * the whole event.  No allocation and no string work on indexed fields.
 * A summary is trusted as evsum.c builds it: a field it lacks is taken as
 * missing from the event, and host_hash as gw_evsum_host_hash() of
 * http.request.url.host (a matching hash still answers -1).  For events of
 * the shape docs/PROTOCOL.md gives, a 0 or 1 here is what
 * gw_query_match_json() answers; an event whose indexed members have
 * another type (a string status_code) may be answered differently, since
 * evsum.c counts those as missing.
 */
int gw_query_match_sum(const struct gw_query *q, const struct gw_evsum *sum);
/*
 * Decides on the whole event <event> (the envelope, borrowed): 1 or 0.
 * Allocates only for a summary line or a query parameter longer than its
 * stack buffer.
 */
int gw_query_match_json(const struct gw_query *q, json_t *event);
/*
 * gw_query_match_json() on the event line <line> (<len> bytes), for when
 * the summary answered -1: 0 also when the line is not JSON.
 */
int gw_query_match_line(const struct gw_query *q, const char *line, size_t len);
/*
 * 1 when gw_query_match_sum() never answers -1 for <q>, so that a caller
 * can decide every event from the index alone; else 0.
 */
int gw_query_sum_only(const struct gw_query *q);

/* One Datadog standard attribute and where gw's events keep it. */
struct gw_query_alias {
	const char *dd;   /* Datadog's name: "http.status_code" */
	const char *path; /* the event's: "http.response.status_code" */
	const char *alt;  /* where to look when <path> is missing, or NULL */
};

/*
 * Maps a user attribute name (no '@') to the event's path, e.g.
 * "http.status_code" to "http.response.status_code"; returns <attr> itself
 * when it is not an alias.  Paths are under "object" except those that
 * start with an envelope member (event_id, event_type, event_timestamp,
 * principal), e.g. "http.request_id" gives "event_id".  The result is
 * <attr> or a static string.  Names under http.url_details.queryString.
 * are not paths and come back unchanged.
 */
const char *gw_query_attr_path(const char *attr);
/*
 * The alias table (static, sorted by Datadog name), with its length in
 * <n>: what gw-export adds when shipping to Datadog.
 */
const struct gw_query_alias *gw_query_aliases(size_t *n);
/*
 * Datadog's status for an exchange with <status_code> (0 when there was no
 * response) and an error.code or not: "error", "warn" or "info" (static).
 */
const char *gw_query_status_of(int status_code, int has_error);

#endif
