/* SPDX-License-Identifier: MIT */
/*
 * fake-intake's one private header.  fake-intake stands in for every
 * receiver gw-export talks to (see the usage comment in fake-intake.c):
 * fake-intake.c holds flags, setup, the loop and teardown; conn.c the
 * HTTP/1.1 connections (http_parser, keep-alive, pipelining, delays,
 * resets); decode.c the bounded decompression of request bodies; jsonv.c
 * a strict JSON validator that copies what it checks in compact form;
 * intake.c the endpoints and the record files; control.c the failure
 * rules and the counters behind /_control and /_stats.
 */
#ifndef FAKE_INTAKE_H
#define FAKE_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>
#include <zstd.h>

#include "buf.h"

#define PROG "fake-intake"

/* sysexits(3) */
#define EX_USAGE    64
#define EX_SOFTWARE 70
#define EX_OSERR    71
#define EX_IOERR    74

/*
 * Limits.  RAW_BODY_MAX bounds what is read of one request body as it came
 * (compressed); the decoded size is bounded per endpoint, and decoding
 * stops one byte past the bound, so no body costs more memory than that.
 */
#define RAW_BODY_MAX   (64ULL * 1024 * 1024)
#define DD_BODY_MAX    5000000 /* "5MB uncompressed" (reference §1.3) */
#define DD_ENTRIES_MAX 1000
#define DD_ENTRY_MAX   1000000 /* larger: truncated by Datadog, still 202 */
#define DD_MAX_AGE_MS  (18LL * 3600 * 1000)
#define BODY_MAX       (6 * 1024 * 1024) /* every other endpoint */
#define PD_BODY_MAX    (512 * 1024)      /* "payload ≤ 512 KB" (§5.3) */
#define NTFY_JSON_MAX  32768             /* jsonBodyBytesLimit (§5.1) */
#define CONTROL_MAX    (64 * 1024)
#define RECORD_MAX     (64 * 1024 * 1024) /* record lines of one request */
#define HDR_COUNT_MAX  256
#define HDR_BYTES_MAX  (96 * 1024)
#define URL_MAX        8192
#define RULES_MAX      64

/* What a request is for, chosen from its method and path. */
enum route {
	R_NONE,
	R_DATADOG,   /* POST /api/v2/logs */
	R_LOKI,      /* POST /loki/api/v1/push */
	R_NTFY,      /* POST|PUT /ntfy[/TOPIC] */
	R_SLACK,     /* POST /slack..., /services/... */
	R_PAGERDUTY, /* POST .../v2/enqueue */
	R_WEBHOOK,   /* any other POST|PUT|PATCH */
	R_CONTROL,   /* GET|POST /_control */
	R_STATS,     /* GET /_stats */
	R_NOT_FOUND,
	R_BAD_METHOD,
	R_BAD_URL,
	R_COUNT
};

/*
 * Request bodies.  Decoding is streamed as the body arrives: the body as
 * it came is never held, only its decoded form, at most <max> bytes.
 */
enum coding {
	CODING_IDENTITY,
	CODING_GZIP,
	CODING_ZLIB, /* "deflate" as RFC 9110 and Datadog's senders mean it */
	CODING_RAW,  /* "deflate" as Loki's Go flate reader means it */
	CODING_ZSTD,
};

enum decode_err {
	DEC_OK,
	DEC_BAD, /* corrupt or truncated stream */
	DEC_BIG, /* the decoded body passed <max> */
	DEC_MEM,
};

struct decoder {
	enum coding coding;
	enum decode_err err;
	const char *msg; /* why, when err is set (static) */
	size_t max;
	bool z_ready; /* <z> initialised (kept across requests) */
	int z_bits;   /* windowBits <z> was set up with */
	bool ended;   /* a whole compressed stream was seen */
	z_stream z;
	ZSTD_DCtx *zd; /* created on first use, kept */
};

/*
 * Parses a Content-Encoding value for <route> (deflate means zlib except
 * for Loki, whose Go server reads raw deflate).  Returns 0, or -1 for a
 * coding that the real receiver would not accept.
 */
int decode_coding(const char *v, size_t n, enum route route, enum coding *out);
/* The message for a coding decode_coding() refused. */
const char *decode_refusal(enum route route);
/* Starts a body: resets <d> and <out> (whose memory is kept). */
void
decode_start(struct decoder *d, enum coding c, size_t max, struct gw_buf *out);
/* Decodes <n> bytes into <out>; on failure sets d->err and ignores more. */
void
decode_feed(struct decoder *d, const char *p, size_t n, struct gw_buf *out);
/* The body is complete: a compressed stream that did not end is DEC_BAD. */
void decode_finish(struct decoder *d);
/* Frees the contexts; <d> may be zeroed or half set up. */
void decode_fini(struct decoder *d);

/*
 * A strict JSON reader (RFC 8259 syntax, UTF-8 checked, nesting bounded)
 * that, when <out> is set, copies each token it accepts there, which drops
 * insignificant whitespace.  The caller reserves room: the copy is never
 * longer than the input.
 */
#define JV_MAX_DEPTH 128

struct jv {
	const unsigned char *s;
	size_t len;
	size_t pos;
	char *out;       /* next byte of the compact copy, or NULL */
	const char *err; /* static message once a call failed */
	size_t err_pos;
};

void jv_init(struct jv *j, const char *s, size_t len, char *out);
void jv_ws(struct jv *j);
/* Consumes <c> (after whitespace) and copies it; 0, or -1 if absent. */
int jv_take(struct jv *j, char c);
/* The next byte after whitespace, or -1 at the end.  Consumes nothing. */
int jv_peek(struct jv *j);
/* One value; <depth> is the nesting already entered.  0 or -1. */
int jv_value(struct jv *j, int depth);
/* One string (the next byte must be '"'); 0 or -1. */
int jv_string(struct jv *j);
/* Records the error <msg> at the current position (the first one stays);
 * returns -1. */
int jv_error(struct jv *j, const char *msg);
/* Whether <s> is exactly one JSON value (whitespace around allowed). */
bool jv_valid(const char *s, size_t len);
/* Appends <s> as a JSON string; bytes that are not UTF-8 become \u00XX. */
int jw_str(struct gw_buf *b, const char *s, size_t n);
/* The same without the quotes, for a string written in pieces. */
int jw_raw(struct gw_buf *b, const char *s, size_t n);
/* Whether <s> is valid UTF-8. */
bool utf8_valid(const char *s, size_t n);

/*
 * The request as the endpoints see it.  Header names and values live in
 * <hbuf>; http_parser may hand them over in pieces, so they are copied.
 */
struct hdr {
	uint32_t name_off;
	uint32_t name_len;
	uint32_t val_off;
	uint32_t val_len;
};

struct request {
	int method; /* enum http_method */
	enum route route;
	const char *path; /* into url */
	size_t path_len;
	const char *query;
	size_t query_len;
	char *hbuf; /* owned, kept across requests */
	size_t hlen;
	size_t hcap;
	size_t nhdr;
	struct hdr hdrs[HDR_COUNT_MAX];
	bool last_was_value;
	bool headers_done;
	uint64_t raw_len;   /* body bytes as they came */
	struct decoder dec; /* kept across requests */
	struct gw_buf body; /* decoded body; memory kept */
	uint64_t now;       /* the loop's clock when the request completed */
	bool keep_alive;
	bool http10;
	int abort_status;    /* the request cannot be read on: answer, close */
	int err_status;      /* found while reading, answered at the end */
	const char *err_msg; /* static */
	size_t url_len;
	char url[URL_MAX];
};

/* Value of the first header <name> (case-insensitive), trailing blanks
 * removed, or NULL. */
const char *req_header(const struct request *r, const char *name, size_t *len);

/*
 * What conn.c sends back.  The body is in <body> (intake's scratch
 * buffer) unless <reset>, which closes the connection with a TCP reset
 * instead of answering.
 */
struct reply {
	int status;
	const char *ctype; /* NULL: no Content-Type */
	struct gw_buf *body;
	long retry_after;  /* seconds; -1: no Retry-After */
	const char *allow; /* Allow: on a 405 */
	bool reset;
};

/* Endpoints (intake.c). */
enum record_kind {
	REC_DATADOG,
	REC_LOKI,
	REC_HOOKS,
	REC_COUNT,
};

struct intake_conf {
	const char *api_key; /* DD-API-KEY wanted; NULL: any non-empty key */
	long long loki_max_age_s; /* 0: no timestamp checks on Loki */
};

/* Sets the endpoints' configuration (copied). */
void intake_init(const struct intake_conf *conf);
/* Opens (appends to, creating) the record file of <kind>; 0 or -1. */
int intake_record_open(enum record_kind kind, const char *path);
/* Closes the record files and frees the buffers. */
void intake_fini(void);
/* Decoded-size bound for a request to <route> at <path>. */
size_t intake_body_max(enum route route, const char *path, size_t path_len);
/* Answers the complete request <r> (failure rules already applied). */
void intake_handle(struct request *r, struct reply *rep);
/* Fills <rep> with the error <status> as the receiver behind <route>
 * words it. */
void
intake_error(enum route route, int status, const char *msg, struct reply *rep);

/* Failure rules and counters (control.c). */
#define FAIL_RESET (-1)

struct verdict {
	int fail;         /* 0, FAIL_RESET or a status */
	long retry_after; /* -1 when none */
	uint64_t delay_ms;
};

/*
 * Applies one control object (the body of POST /_control, or a --control
 * flag): adds a rule, clears rules or counters.  Returns 0, or -1 with a
 * message in <err>.
 */
int control_apply(
    const char *json, size_t len, uint64_t now, char *err, size_t errlen);
/*
 * Decides the fate of a request to <path> at <now> (the loop's clock, ms):
 * the newest matching rule that fails and the newest that delays.  Counts
 * the rules used down.
 */
void
control_match(const char *path, size_t len, uint64_t now, struct verdict *v);
/* Appends the rules active at <now> as a JSON array. */
void control_rules_json(struct gw_buf *b, uint64_t now);
/* Drops every rule. */
void control_fini(void);

struct route_stats {
	uint64_t requests;
	uint64_t accepted; /* entries, values or messages recorded */
	uint64_t rejected; /* requests answered with a 4xx or 5xx */
	uint64_t bytes_in;
	uint64_t bytes_decoded;
};

struct stats {
	uint64_t connections;
	uint64_t requests;
	uint64_t bytes_in;
	uint64_t bytes_decoded;
	uint64_t injected;
	uint64_t resets;
	uint64_t dd_truncated; /* entries over DD_ENTRY_MAX */
	uint64_t dd_old;       /* entries older than DD_MAX_AGE_MS */
	uint64_t loki_streams;
	uint64_t status[600];
	struct route_stats route[R_COUNT];
};

extern struct stats stats;

/* Appends the counters as one JSON object. */
void stats_json(struct gw_buf *b);

/* Connections (conn.c). */
struct gw_loop;

/* Starts accepting on the listening socket <lfd>; 0 or -1. */
int conn_listen(struct gw_loop *loop, int lfd);
/* Closes every connection and the listener. */
void conn_fini(void);

#endif
