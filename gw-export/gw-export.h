/* SPDX-License-Identifier: MIT */
/*
 * gw-export's one private header.  gw-export is the pipeline's last stage:
 * it ships every event to the log stores a team already uses (Datadog
 * first, any HTTP collector, Loki, syslog, files) without losing one, and
 * raises alerts on them locally (monitors notifying ntfy, Slack,
 * PagerDuty or a webhook).
 *
 * The path of an event: main.c reads lines (stdin, files, or a store);
 * pick.c picks the fields everything else needs in one pass (struct
 * xevent); each destination's sources (source.c) decide whether it wants
 * the event and which fields it keeps; the destination's spool (spool.c)
 * holds it on disk until the destination acknowledged it; dest.c takes
 * batches from the spool, encodes them (fmt_*.c), compresses them
 * (xcompress.c) and sends them through lib/curlm (HTTP) or a socket
 * (syslog), retrying as the destination's answer says.  Monitors
 * (monitor.c) see every event too and notify channels (notify.c).
 */
#ifndef GW_EXPORT_H
#define GW_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "evsum.h"
#include "jscan.h"

#define EXPORT_NAME "gw-export"

/*
 * One event with the members exporters need, found by one scan of its line
 * (pick.c).  Values point into <line> as lib/jscan describes (strings are
 * the raw bytes between the quotes, escapes not decoded; type GW_JNONE
 * when the event lacks the member).
 */
enum xfield {
	XF_EVENT_ID,
	XF_EVENT_TYPE,
	XF_TIMESTAMP,   /* event_timestamp */
	XF_CLIENT_IP,   /* object.conn.client_ip */
	XF_SERVER_NAME, /* object.conn.server_name */
	XF_METHOD,      /* object.http.request.method */
	XF_URL,         /* object.http.request.url.raw */
	XF_HOST,        /* object.http.request.url.host */
	XF_PATH,        /* object.http.request.url.path */
	XF_QUERY,       /* object.http.request.url.query */
	XF_USER_AGENT,  /* object.http.request.user_agent */
	XF_STATUS,      /* object.http.response.status_code (number) */
	XF_DURATION,    /* object.duration_ns (number) */
	XF_ERROR_CODE,  /* object.error.code */
	XF_NFIELDS
};

struct xevent {
	const char *line; /* the event, no newline; not owned */
	size_t len;
	struct gw_jval f[XF_NFIELDS];
	int64_t ts_us;       /* event_timestamp, 0 when absent */
	int64_t duration_ns; /* -1 when absent */
	int status;          /* 0 when absent */
};

/*
 * Scans <line> into <ev>.  Returns 0, or -1 when the line is not one JSON
 * object (then it is not exported: the caller reports it).
 */
int pick_event(struct xevent *ev, const char *line, size_t len);
/* Decodes string field <f> of <ev> into <buf> (NUL-terminated); "" when
 * absent or not a string.  Returns <buf>. */
const char *
pick_str(const struct xevent *ev, enum xfield f, char *buf, size_t cap);

/*
 * Encoders (fmt_*.c): a destination's wire format, batch by batch.  A
 * batch is built in <body>; add() refuses an event that would take the
 * batch past the destination's limits (returns 1: send this batch, then
 * start another with the event).  Encoders never allocate per event
 * beyond growing <body>.
 */
struct xbatch {
	struct gw_buf body; /* the payload as it will be sent, uncompressed */
	size_t n;           /* events in it */
	size_t raw;         /* payload bytes counted against the limits */
	void *state;        /* the encoder's, e.g. Loki's streams */
};

/* Datadog's per-request limits (reference §1.3). */
#define DD_MAX_ENTRIES     1000
#define DD_MAX_BODY        5000000 /* "5MB", as Vector and the Agent count */
#define DD_MAX_ENTRY_BYTES (1024 * 1024)

/* Compression of a finished batch (xcompress.c). */
enum xcomp { XCOMP_NONE, XCOMP_GZIP, XCOMP_DEFLATE, XCOMP_ZSTD };

#endif
