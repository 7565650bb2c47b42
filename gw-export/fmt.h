/* SPDX-License-Identifier: MIT */
/*
 * gw-export's encoders: how a batch of events becomes the body of one
 * request (or one burst of syslog frames), and the helpers they share
 * (pick.c: reading events; xcompress.c: compressing a finished body).
 * One encoder per destination type, in the Fluent Bit shape: a
 * constructor taking an options struct, then the same four operations
 * through a small vtable (struct xenc_ops), so dest.c drives them alike.
 *
 *   struct xenc *e = fmt_datadog_new(&opts);
 *   struct xbatch b;
 *   fmt_batch_init(&b);
 *   while (an event is waiting)
 *           switch (fmt_add_line(e, &b, line, len)) {
 *           case 0:        taken; next event
 *           case FMT_FULL: fmt_end(e, &b); send b.body; fmt_reset(e, &b);
 *                          then add the same event again
 *           case -1:       errno EINVAL: not a JSON object (report, skip);
 *                          EMSGSIZE: cannot be made to fit (dead-letter);
 *                          ENOMEM
 *           }
 *   fmt_end(e, &b); send b.body if b.n > 0
 *   fmt_batch_fini(e, &b); fmt_free(e);
 *
 * Batches.  add() refuses (FMT_FULL) an event that would take the batch
 * past the encoder's max_events or max_bytes; it never refuses the first
 * event of a batch for size: an event that alone is too large is shrunk
 * (pick_shrink(): captured bodies dropped first, then headers, then
 * "object" replaced by a stub) and marked "gw_truncated":true, or refused
 * with EMSGSIZE when even that cannot fit.  A refused add leaves the
 * batch exactly as it was.  b.raw is the size the finished body has (the
 * figure compared with max_bytes).  After fmt_end() b.body is the
 * payload; fmt_end() may be called more than once.
 *
 * Text.  Every body is valid JSON (or, for syslog, frames holding valid
 * JSON): an event's raw bytes that are not UTF-8 are replaced by U+FFFD
 * first (counted in counts.repaired): RFC 8259 §8.1 requires UTF-8, and
 * a receiver may refuse the whole batch for one bad byte (Datadog's 400
 * is "payload formatting", reference §1.4).
 *
 * Cost.  Every encoder is one lib/jscan pass over the event plus appends
 * into the batch; nothing is allocated per event except on the rare
 * paths: a clash of member names or an event over a limit (jansson),
 * invalid UTF-8 (a repaired copy in a reused buffer).  fmt_add() takes an event pick_event() already
 * scanned; fmt_add_line() lets the encoder do its one scan itself, which
 * for Datadog (whose scan picks more members than pick_event()) saves a
 * pass: prefer it on the send path.
 *
 * Nothing here is thread-safe; gw-export is single-threaded.
 */
#ifndef GW_EXPORT_FMT_H
#define GW_EXPORT_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "gw-export.h"
#include "jscan.h"

/* fmt_add(): the batch is full; send it, reset it, add the event again. */
#define FMT_FULL 1

/* What an encoder did to events, for gw-export stats. */
struct fmt_counts {
	uint64_t truncated; /* shrunk to fit a limit, marked gw_truncated */
	uint64_t repaired;  /* invalid UTF-8 replaced by U+FFFD */
	uint64_t renamed;   /* Datadog: top-level members renamed (below) */
};

struct xenc;

struct xenc_ops {
	/* <ev> is the scanned event for <line>, or NULL (encoder scans). */
	int (*add)(struct xenc *, struct xbatch *, const char *line, size_t len,
	    const struct xevent *ev);
	int (*end)(struct xenc *, struct xbatch *);
	void (*reset)(struct xenc *, struct xbatch *);      /* may be NULL */
	void (*batch_fini)(struct xenc *, struct xbatch *); /* may be NULL */
	void (*free)(struct xenc *);
};

/* The part every encoder shares; each embeds it first. */
struct xenc {
	const struct xenc_ops *ops;
	const char *name;         /* "datadog", "http", "loki", "syslog" */
	const char *content_type; /* for the request; NULL for syslog */
	size_t max_events;        /* the limits in force, defaults applied */
	size_t max_bytes;
	struct fmt_counts counts;
};

/* Readies an empty batch (no allocation until the first event). */
void fmt_batch_init(struct xbatch *b);
/* Releases the batch's memory, encoder state included.  NULL accepted. */
void fmt_batch_fini(struct xenc *e, struct xbatch *b);
/* Empties the batch for the next request, keeping its memory. */
void fmt_reset(struct xenc *e, struct xbatch *b);
/* Frees an encoder; NULL accepted. */
void fmt_free(struct xenc *e);

/*
 * Adds the event <ev> (from pick_event(); its line is borrowed for the
 * call only: the batch keeps a copy).  Returns 0 when taken, FMT_FULL
 * when the batch must be sent first (batch unchanged), or -1 with errno:
 * EINVAL (not one JSON object), EMSGSIZE (cannot be shrunk to fit an
 * empty batch), ENOMEM.  The batch is unchanged on every refusal.
 */
static inline int
fmt_add(struct xenc *e, struct xbatch *b, const struct xevent *ev)
{
	return e->ops->add(e, b, ev->line, ev->len, ev);
}

/* As fmt_add() for a line nobody has scanned yet (one scan, not two). */
static inline int
fmt_add_line(struct xenc *e, struct xbatch *b, const char *line, size_t len)
{
	return e->ops->add(e, b, line, len, NULL);
}

/*
 * Finishes the body: after it b->body holds the payload to send (for an
 * empty batch: "[]" for JSON arrays, {"streams":[]} for Loki, nothing
 * otherwise).  Returns 0, or -1 (ENOMEM) with the batch unchanged.
 */
static inline int
fmt_end(struct xenc *e, struct xbatch *b)
{
	return e->ops->end(e, b);
}

/*
 * -- Datadog (fmt_datadog.c) -------------------------------------------
 *
 * The logs intake v2 body (reference datadog-ntfy.md §1.2): a JSON array
 * of at most max_events (≤ DD_MAX_ENTRIES, 1,000) objects and max_bytes
 * (≤ DD_MAX_BODY) uncompressed.  Each event becomes
 *
 *   {"ddsource":S,"service":S,"hostname":H,"ddtags":T,"status":"error",
 *    "timestamp":1795536526123,"message":"GET /api/users 500 api.example.
 *    com 12.3ms","http":{...},"network":{...},"duration":12345678,
 *    "error":{...},"evt":{"name":TYPE},"usr":{...},
 *    "event_id":...,"event_type":...,"event_timestamp":...,
 *    "principal":...,"object":{...}}
 *
 * that is Datadog's reserved attributes (§1.5) and the standard ones of
 * gw_query_aliases() (§2), then the event's own members spliced from its
 * line unchanged: "{" + added members + "," + the line after its "{"
 * (no parse, no re-encoding).  Each added value is the very value the
 * query language reads through the same alias, so a query means the
 * same in gw-capture and in Datadog:
 *
 *   status          gw_query_status_of(): "error" (5xx, or no response
 *                   and an error.code), "warn" (4xx), "info"; Datadog's
 *                   status remapper reads "warn" as warning
 *   timestamp       event_timestamp as integer epoch ms (§1.5 date keys;
 *                   fluent-bit and Vector do the same); absent when the
 *                   event has no readable time (Datadog then uses the
 *                   intake time)
 *   message         for an exchange the query language's summary line,
 *                   "METHOD path[?query] [STATUS] [host]", then the
 *                   duration ("12.3ms") and the error.code, so that free
 *                   text finds in Datadog what it finds locally; for
 *                   another event its event_type and a short detail
 *                   (client and server of a connection; file, id or
 *                   listen address, error and principal of an audit
 *                   event); " (truncated)" when truncated; control
 *                   characters written as spaces (one line)
 *   hostname        opts.hostname, or when NULL the request's host per
 *                   event (http.request.url.host, else conn.server_name),
 *                   which is what the query language's host: means
 *   http.status_code, http.method, http.url, http.url_details.{host,
 *                   path, port, scheme, queryString}, http.useragent,
 *                   http.version, http.referer, http.request_id: for HTTP
 *                   exchanges.  queryString is an object of the query's
 *                   parameters, names and values percent-decoded ('+' a
 *                   space) as @http.url_details.queryString.NAME reads
 *                   them, a repeated name as an array; at most 64
 *   network.client.{ip,port}, network.destination.{ip,port},
 *                   network.bytes_read/bytes_written (body lengths of an
 *                   exchange, else conn.bytes_in/out of a connection)
 *   duration        object.duration_ns (ns, §2)
 *   error.kind, error.code, error.message   object.error.{code,code,
 *                   message}: error.kind is Datadog's standard name,
 *                   error.code and error.message what the query
 *                   language's @error.code and @error.message read
 *   evt.name        event_type;  usr.id, usr.name: basic_auth.username
 *
 * Clashes.  gw events have only the envelope's five top-level members,
 * but a line from elsewhere may carry one of the names above (or
 * gw_truncated), or one Datadog's preprocessing would read in place of
 * ours (host, severity, level, syslog, @timestamp, _timestamp, Timestamp,
 * eventTime, date, published_date: §1.5); splicing would then duplicate
 * a key or lose ours.  The scan notices such a member and the event goes
 * through jansson instead: the event's member is renamed
 * "_RESERVED_<name>" (Vector's rule, §1.5) and ours keeps the name
 * (counts.renamed).  Keys spelled with escapes ("\u0073tatus") are not
 * recognised: jscan compares raw bytes.
 *
 * Entries over max_entry bytes (≤ DD_MAX_ENTRY_BYTES; default 1,000,000,
 * under 1 MB however counted, §1.3) are shrunk: the added string values
 * are cut to 1 KiB, the event shrunk by pick_shrink() into the room left,
 * "gw_truncated":true added and " (truncated)" appended to the message.
 * The result is always valid JSON no larger than max_entry.
 *
 * Not here: dropping events older than Datadog's 18 hours (§1.3) is the
 * sender's (its max_age), before an event reaches a batch.  The
 * encoder's scan picks more than pick_event() does, so fmt_add() costs a
 * second pass over the line where fmt_add_line() costs one.
 */
struct fmt_datadog_opts {
	const char *source;      /* ddsource; NULL: "gw" */
	const char *service;     /* NULL: "gw" */
	const char *hostname;    /* NULL: the request's host, per event */
	const char *const *tags; /* joined with ',' into ddtags; may be NULL */
	size_t ntags;
	size_t max_events; /* 0: DD_MAX_ENTRIES; at most that */
	size_t max_bytes;  /* 0: FMT_DD_BODY_GOAL; at most DD_MAX_BODY */
	size_t max_entry;  /* 0: 1,000,000; 256 KiB..DD_MAX_ENTRY_BYTES */
};

/*
 * Vector's batch goal (reference §1.6): well under the 5 MB limit whether
 * Datadog counts it as 5,000,000 bytes (Vector's MAX_PAYLOAD_BYTES) or as
 * DD_MAX_BODY.
 */
#define FMT_DD_BODY_GOAL 4250000

/* Returns an encoder the caller frees with fmt_free(), or NULL (ENOMEM). */
struct xenc *fmt_datadog_new(const struct fmt_datadog_opts *opts);

/*
 * -- Generic HTTP collector or webhook (fmt_http.c) ----------------------
 *
 * The events as they are: NDJSON (each line ended by "\n", as
 * docs/PROTOCOL.md §1 frames them and Elasticsearch's _bulk wants;
 * application/x-ndjson) or one JSON array (application/json).
 */
struct fmt_http_opts {
	int array;         /* 0: NDJSON, 1: JSON array */
	size_t max_events; /* 0: 1000 */
	size_t max_bytes;  /* 0: 4 MiB */
};

struct xenc *fmt_http_new(const struct fmt_http_opts *opts);

/*
 * -- Grafana Loki (fmt_loki.c) -------------------------------------------
 *
 * The push API's JSON body (reference §6.1):
 *   {"streams":[{"stream":{LABELS},"values":[["<ns>","<line>"],...]},...]}
 * Events are grouped into one stream per distinct label set (at most
 * max_streams per batch, then FMT_FULL); the time is event_timestamp in
 * ns as a decimal string (now when the event has none), the line the
 * event's JSON.  Entries accumulate per stream in one arena bounded by
 * max_bytes and the body is written by fmt_end().  A line longer than
 * max_line is shrunk (pick_shrink()).
 *
 * Labels are "name=source" strings (the config's labels: mapping):
 *   service, source   the constants below        status (or level): the
 *   class of gw_query_status_of() ("error", "warn", "info")
 *   host              the request's host, else conn.server_name
 *   "text"            a constant (in double quotes)
 *   [@]attribute      any event attribute as the query language names
 *                     it (aliases too: http.status_code); through
 *                     objects only; strings, numbers and booleans
 * Names match [A-Za-z_][A-Za-z0-9_]* and do not start with "__"; at most
 * 15 (Loki's default max_label_names_per_series).  A value is cut to
 * 1 KiB; an empty value drops the label; an empty set is {job=service}.
 * The default set, job=service, event_type=event_type, level=status, is
 * low-cardinality on purpose: the request's host and the client's
 * address come from the client (Host, SNI, the address itself) and would
 * let anyone create streams.
 */
struct fmt_loki_opts {
	const char *service;       /* NULL: "gw" */
	const char *source;        /* NULL: "gw" */
	const char *const *labels; /* "name=source"; NULL: the default set */
	size_t nlabels;
	size_t max_events;  /* 0: 1000 */
	size_t max_bytes;   /* 0: 1 MiB (Vector's Loki batch) */
	size_t max_line;    /* 0: 256 KiB (Loki's default max_line_size) */
	size_t max_streams; /* 0: 64; at most 1024 */
};

/*
 * Returns an encoder, or NULL: EINVAL with <err> (may be NULL) saying
 * which label is wrong, or ENOMEM.
 */
struct xenc *
fmt_loki_new(const struct fmt_loki_opts *opts, struct gw_error *err);

/*
 * -- Syslog (fmt_syslog.c) -----------------------------------------------
 *
 * RFC 5424 messages, one per event:
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [SD-ID k="v" ...] MSG
 * PRI is facility * 8 + severity: err (3) for status error, warning (4)
 * for warn and for policy_rejected, notice (5) for other audit events
 * ("normal but significant", RFC 5424 §6.2.1), info (6) otherwise.
 * TIMESTAMP is event_timestamp as RFC 3339 UTC with µs (at most the six
 * TIME-SECFRAC digits §6.2.3 allows), "-" when unknown; PROCID "-" (the
 * event comes from another process); MSGID the event_type (≤ 32 printable
 * ASCII, §6.2.7).  The structured data, SD-ID "gw@32473", carries
 * event_id, status, method, host, path, client_ip, duration_ns and error
 * (error.code) when present, values cut to 128 bytes, '"', '\' and ']'
 * escaped with '\' (§6.3.3) and control characters written as '?'.
 * 32473 is the private enterprise number RFC 5612 reserves for
 * documentation (RFC 5424's own examples use it): gw has no PEN of its
 * own, so sd_id lets a site use its own.  MSG is the event's JSON, with no
 * BOM by default: RFC 5424 §6.4 allows MSG-ANY without one, and RFC 8259
 * §8.1 forbids a BOM before JSON text, which consumers parsing MSG as
 * JSON would choke on; opts.bom writes one (MSG-UTF8).
 *
 * The body is frames "MSG-LEN SP SYSLOG-MSG" (octet counting, RFC 6587
 * §3.4.1), sent as they are over TCP or TLS; over UDP each message is one
 * datagram (RFC 5426 §3.1): fmt_syslog_next() walks them.  A message
 * longer than max_message is shrunk (pick_shrink() on MSG; the SD kept
 * to event_id when even that does not leave room).  Default max_message:
 * 2048 over UDP, the size RFC 5426 §3.2 says every receiver SHOULD take
 * (480 is its minimum, 65507 the IPv4 datagram maximum); 8192 over TCP,
 * the size RFC 5425 §4.3.1 says receivers SHOULD take, and rsyslog's
 * default maxMessageSize (8k), which truncates longer ones blindly.
 */
struct fmt_syslog_opts {
	int facility;         /* 0..23; -1: 16 (local0) */
	const char *hostname; /* NULL: gethostname() */
	const char *app_name; /* NULL: "gw" */
	const char *sd_id;    /* NULL: "gw@32473" */
	int udp;              /* frame sizes for datagrams */
	int bom;              /* start MSG with a UTF-8 BOM */
	size_t max_message;   /* 0: 2048 (udp) or 8192; 480..65507 for udp */
	size_t max_events;    /* 0: 100 */
	size_t max_bytes;     /* 0: 1 MiB */
};

/* Returns an encoder, or NULL: EINVAL with <err> (bad sd_id), ENOMEM. */
struct xenc *
fmt_syslog_new(const struct fmt_syslog_opts *opts, struct gw_error *err);

/*
 * Walks the messages of a syslog batch: from *<pos> (0 at first) sets
 * <msg>/<len> to the next SYSLOG-MSG (without its length prefix),
 * advances *<pos> and returns 1; returns 0 at the end.
 */
int fmt_syslog_next(
    const struct xbatch *b, size_t *pos, const char **msg, size_t *len);

/*
 * -- Shared by the encoders (pick.c) -------------------------------------
 */

/*
 * Completes <ev> for <line>/<len> from values a scan put in <v>
 * (XF_NFIELDS slots, as pick_event()'s): copies them and derives ts_us,
 * duration_ns and status.  For encoders whose own schema includes the
 * XF_* slots.
 */
void pick_fill(
    struct xevent *ev, const char *line, size_t len, const struct gw_jval *v);
/* 1 when the event has an error.code (present and not null). */
int pick_has_error(const struct xevent *ev);
/* gw_query_status_of() for the event: "error", "warn" or "info". */
const char *pick_status(const struct xevent *ev);
/*
 * The text of string value <v>: its raw bytes when it has no escapes,
 * else decoded at the end of <scratch> (which grows).  Sets <p>/<n> and
 * returns 0; -1 when <v> is not a string (or ENOMEM).
 */
int pick_text(
    const struct gw_jval *v, struct gw_buf *scratch, const char **p, size_t *n);
/*
 * Strips the whitespace jscan allows around an event.  Returns the new
 * length; *<line> moves past leading whitespace.
 */
size_t pick_trim(const char **line, size_t len);
/* 1 when <s>/<n> is valid UTF-8 (fast when it is plain ASCII). */
int pick_utf8_ok(const char *s, size_t n);
/*
 * Writes <s>/<n> into <out> (replacing its contents) with every byte that
 * is not part of a well-formed UTF-8 sequence replaced by U+FFFD, as gw's
 * producers do (docs/PROTOCOL.md §1).  Returns 0 or -1 (ENOMEM).
 */
int pick_utf8_fix(const char *s, size_t n, struct gw_buf *out);
/*
 * Writes into <out> (replacing its contents) the event <line>/<len> (one
 * JSON object) made to fit <max> bytes, marked "gw_truncated":true: the
 * captured bodies (object.http.{request,response}.body) are dropped
 * first, then the header maps, then "object" becomes
 * {"gw_original_bytes":N}, then every top-level member but the envelope
 * goes and its strings are cut to 256 bytes, then 32.  Compact JSON, valid
 * UTF-8.  Returns 0, or -1: EMSGSIZE when nothing fits <max>, EINVAL when
 * jansson does not read the line (an integer beyond 64 bits), ENOMEM.
 * Allocates: for the rare oversized event only.
 */
int pick_shrink(const char *line, size_t len, size_t max, struct gw_buf *out);

/*
 * -- Compression (xcompress.c) -------------------------------------------
 */

/*
 * Appends <in>/<n> compressed with <c> to <out>: gzip (RFC 1952, with
 * libdeflate), deflate (the zlib format, RFC 1950, libdeflate too,
 * which is what HTTP's "deflate" means, RFC 9110 §8.4.1.2), zstd (one
 * frame, ZSTD_compress2()), or XCOMP_NONE (a plain copy).  <level>: 0 for
 * the fast default (level 1: the Datadog Agent's choice for zstd,
 * reference §1.2), else libdeflate 1..12 or zstd 1..ZSTD_maxCLevel().  The
 * compression contexts are created once and reused (static: not
 * thread-safe).  Returns 0, or -1 with errno (EINVAL bad level or input
 * over 4 GiB, ENOMEM, EIO a library failure) and <out> unchanged.
 */
int xcompress(
    enum xcomp c, const void *in, size_t n, struct gw_buf *out, int level);
/* The Content-Encoding value for <c>: "gzip", "deflate", "zstd"; NULL for
 * none (send no header). */
const char *xcomp_encoding(enum xcomp c);
/* Frees the reused contexts (at exit, for leak checkers). */
void xcompress_fini(void);

#endif
