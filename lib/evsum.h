/* SPDX-License-Identifier: MIT */
/*
 * Event summaries: the handful of fields that gw-capture's store indexes
 * for every event (time, status, method, duration, client IP, host, kind),
 * extracted straight from the event's JSON line without building a tree.
 *
 * The store keeps one summary per event next to the compressed events, so
 * that a query (lib/query.h) over those fields is answered from summaries
 * alone, and only events whose summary may match are decompressed and
 * parsed.  Summaries are plain values: no pointers, nothing to free.
 */
#ifndef GW_EVSUM_H
#define GW_EVSUM_H

#include <stddef.h>
#include <stdint.h>

/* What kind of event a line is (event_type). */
enum gw_evsum_kind {
	GW_EVK_OTHER = 0, /* unknown or missing event_type */
	GW_EVK_HTTP,      /* http_request_complete.v0 */
	GW_EVK_TCP,       /* tcp_connection_closed.v0 */
	GW_EVK_AUDIT, /* any other *.v0 (policy_updated, endpoint_started...) */
};

/* Request methods; 0 when the event has none. */
enum gw_evsum_method {
	GW_EVM_NONE = 0,
	GW_EVM_GET,
	GW_EVM_HEAD,
	GW_EVM_POST,
	GW_EVM_PUT,
	GW_EVM_DELETE,
	GW_EVM_PATCH,
	GW_EVM_OPTIONS,
	GW_EVM_CONNECT,
	GW_EVM_TRACE,
	GW_EVM_OTHER, /* present, but none of the above */
};

/* flags */
#define GW_EVS_HAS_IP    0x01 /* client_ip holds conn.client_ip */
#define GW_EVS_HAS_ERROR 0x02 /* the event has error.code */
#define GW_EVS_REPLAY    0x04 /* the event has replay_of */
#define GW_EVS_HAS_DUR   0x08 /* duration_ns is known */
#define GW_EVS_HAS_HOST  0x10 /* host_hash is known */
#define GW_EVS_TRUNCATED 0x20 /* a captured body was truncated */

struct gw_evsum {
	int64_t ts_us; /* event_timestamp, µs since the epoch; 0 unknown */
	int64_t duration_ns; /* object.duration_ns, valid with GW_EVS_HAS_DUR */
	uint8_t client_ip[16]; /* IPv6, or IPv4-mapped (::ffff:a.b.c.d) */
	uint32_t host_hash;    /* gw_evsum_host_hash() of the request's host */
	uint16_t status;       /* http.response.status_code; 0 when none */
	uint8_t method;        /* enum gw_evsum_method */
	uint8_t kind;          /* enum gw_evsum_kind */
	uint8_t flags;         /* GW_EVS_* */
};

/*
 * Fills <sum> from one event line <line>/<len> (no newline).  Fields the
 * event lacks stay unknown.  Returns 0, or -1 when the line is not one
 * well-formed JSON object (then <sum> is zeroed): the caller passes such
 * lines on but does not store them.
 */
int gw_evsum_extract(struct gw_evsum *sum, const char *line, size_t len);

/*
 * Finds the top-level "event_id" of the event line <line>/<len>: <id>/<n>
 * point into <line>.  Cheap for lines as gw writes them (event_id first);
 * otherwise scans the line.  Returns 0, or -1 when there is no such
 * string member (or it holds escapes, which no valid id does).  The cheap
 * path does not validate the rest of the line (use it on lines that
 * gw_evsum_extract() accepted), nor that the id is well formed
 * (gw_evid_valid()).
 */
int gw_evsum_event_id(const char *line, size_t len, const char **id, size_t *n);

/*
 * Hash of a host name as indexed: ASCII case-folded, a trailing ":port"
 * kept as given.  Never returns 0 (0 means "no host").
 */
uint32_t gw_evsum_host_hash(const char *host, size_t len);

/*
 * Maps an event_type to enum gw_evsum_kind: the two traffic types, an
 * audit event for any other name ending in ".v<digits>", else OTHER.
 */
int gw_evsum_kind_of(const char *type, size_t len);

/* Maps a method name (exact, upper case) to enum gw_evsum_method. */
int gw_evsum_method_of(const char *name, size_t len);
/* The name of a method value; NULL for GW_EVM_NONE and GW_EVM_OTHER. */
const char *gw_evsum_method_name(int method);

/*
 * Parses an IPv4 or IPv6 address (no brackets, no port) into the 16-byte
 * form summaries use.  Returns 0, or -1 when <s> is not an address.
 */
int gw_evsum_ip(const char *s, size_t len, uint8_t out[16]);

#endif
