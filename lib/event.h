/* SPDX-License-Identifier: MIT */
/*
 * Event builders: the NDJSON records every gw binary reads and writes, as
 * docs/PROTOCOL.md specifies them.  Builders append one complete JSON
 * object (no newline) to a gw_buf from plain structs that point at the
 * caller's memory, so the proxy can emit an event per exchange without
 * building a tree or copying headers.
 */
#ifndef GW_EVENT_H
#define GW_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "evid.h"

#define GW_EV_HTTP_COMPLETE "http_request_complete.v0"
#define GW_EV_TCP_CLOSED    "tcp_connection_closed.v0"

/* Default caps for full capture (ngrok's inspector limits). */
#define GW_BODY_LIMIT_DEFAULT (10 * 1024)
#define GW_HEADER_VALUE_LIMIT 1024

#define GW_IPSTRLEN 46

struct gw_str {
	const char *p;
	size_t n;
};

#define GW_STR(s) ((struct gw_str){ (s), sizeof(s) - 1 })

struct gw_hdr {
	struct gw_str name; /* as received; canonicalised when written */
	struct gw_str value;
};

/*
 * Header names redacted in events unless the user opts out.  The builder
 * compares case-insensitively.  <names> NULL means "none".
 */
struct gw_redact {
	const char *const *names;
	size_t n;
};

/* The default list: Authorization, Proxy-Authorization, Cookie, ... */
extern const struct gw_redact gw_redact_default;

struct gw_conn_info {
	char client_ip[GW_IPSTRLEN];
	int client_port;
	char server_ip[GW_IPSTRLEN];
	int server_port;
	struct gw_str server_name; /* SNI or Host; may be empty */
	uint64_t start_ns;         /* wall clock */
	uint64_t end_ns;           /* tcp_connection_closed only */
	uint64_t bytes_in;
	uint64_t bytes_out;
	/*
	 * tcp_connection_closed only: pre-rendered members appended to its
	 * "object" (e.g. "traffic_policy":{…}), starting with a key.
	 */
	struct gw_str extra;
};

struct gw_body {
	struct gw_str data; /* captured bytes (already capped) */
	int truncated;
};

struct gw_exchange {
	const struct gw_conn_info *conn;

	/* http.request */
	struct gw_str method;  /* upper case as received */
	struct gw_str version; /* "HTTP/1.1" */
	struct gw_str scheme;  /* "http" or "https" */
	struct gw_str host;    /* Host header or authority, no port */
	/* Host as received, port included, for url.raw (host if empty). */
	struct gw_str authority;
	struct gw_str path;  /* origin-form path, no query */
	struct gw_str query; /* without "?"; empty if none */
	struct gw_str user_agent;
	const struct gw_hdr *req_headers; /* NULL: metadata-only */
	size_t n_req_headers;
	uint64_t req_body_length;
	uint64_t req_first_ns, req_last_ns;
	const struct gw_body *req_body; /* NULL unless full capture */

	/* http.response; status 0 means no response was sent */
	int status;
	const struct gw_hdr *res_headers;
	size_t n_res_headers;
	uint64_t res_body_length;
	uint64_t res_first_ns, res_last_ns;
	const struct gw_body *res_body;

	/* backend; has_backend 0 when gw answered itself */
	int has_backend;
	int connection_reused;
	struct gw_str backend_url;
	uint64_t connect_ns;  /* 0 for a reused connection */
	uint64_t response_ns; /* request sent to first response byte */

	/* tls; version NULL for plain HTTP */
	const char *tls_version; /* "1.3" */
	const char *tls_cipher;

	uint64_t duration_ns;
	const char *error_code; /* "GW_UPSTREAM_TIMEOUT", or NULL */
	const char *error_message;
	struct gw_str replay_of; /* original event id, or empty */
	/*
	 * Pre-rendered members appended to "object" as they are, e.g.
	 * "traffic_policy":{…}; must start with a key (no leading comma).
	 */
	struct gw_str extra;

	const struct gw_redact *redact; /* NULL: redact nothing */
	size_t header_value_limit;      /* 0: GW_HEADER_VALUE_LIMIT */
};

/*
 * Appends the envelope's opening: {"event_id":…,"event_type":<type>,
 * "event_timestamp":…,"principal":<principal_json or null>,"object":
 * The caller then appends the object and gw_event_close().  The new id is
 * copied to <id> when not NULL.  A <ts_ns> of 0 means now (every builder
 * below takes it the same way).  Returns 0, or -1 (buffer full).
 */
int gw_event_open(struct gw_buf *, const char *type, uint64_t ts_ns,
    const char *principal_json, char id[GW_EVID_LEN + 1]);
int gw_event_close(struct gw_buf *);

/*
 * Appends a whole http_request_complete.v0 event for <x>, timestamped
 * <ts_ns>.  Request and response header names are canonicalised
 * ("content-type" → "Content-Type"), repeated names become one array in
 * order of arrival, redacted names get "[REDACTED]", values longer than
 * the limit are cut (and "headers_truncated":true is set on that side).
 * Bodies are written as text when valid UTF-8, else base64, with
 * body_encoding and body_truncated.  Returns 0, or -1 (buffer full).
 */
int gw_event_http_complete(struct gw_buf *, const struct gw_exchange *,
    uint64_t ts_ns, char id[GW_EVID_LEN + 1]);
/* Appends a tcp_connection_closed.v0 event.  Returns 0 or -1. */
int gw_event_tcp_closed(
    struct gw_buf *, const struct gw_conn_info *, uint64_t ts_ns);
/*
 * Appends an audit event <type> (e.g. "endpoint_started.v0") whose object
 * is the pre-rendered JSON object <object_json>; principal is
 * {"source":<source>,"subject":"user@host"}.  Returns 0 or -1.
 */
int gw_event_audit(struct gw_buf *, const char *type, const char *source,
    const char *object_json, uint64_t ts_ns);

/*
 * Appends a question for gw-policy (docs/PROTOCOL.md §8.2), one JSON
 * object without newline: {"id":<id>,"phase":<phase>,"conn":{…,"tls":…},
 * "req":{…}[,"res":{…}]}.  "req" is written when x->method is set and
 * "res" when x->status is; headers are never redacted or cut, because
 * policies match on the real values.  Returns 0, or -1 (buffer full,
 * unchanged).
 */
int gw_event_policy_request(struct gw_buf *, uint64_t id, const char *phase,
    const struct gw_exchange *x);

/*
 * Writes the canonical form of header name <n> ("x-api-key" →
 * "X-Api-Key") into <out> (at least <len> bytes, not NUL-terminated;
 * <out> may be <name>).
 */
void gw_header_canon(const char *name, size_t len, char *out);
/* Returns 1 if <name> is in <r> (case-insensitive). */
int gw_redact_match(const struct gw_redact *r, const char *name, size_t len);

#endif
