/* SPDX-License-Identifier: MIT */
/*
 * One captured exchange as the tools that re-use it see it: the request
 * and response of an http_request_complete.v0 event with headers in order
 * and bodies decoded to their bytes.  gw-capture show prints it (pretty,
 * raw, curl, HAR) and gw-replay sends it again, so both read an event the
 * same way: what was redacted, what was truncated, what was not captured.
 */
#ifndef GW_XCHG_H
#define GW_XCHG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* The value gw-proxy puts in place of a sensitive header's value. */
#define GW_REDACTED "[REDACTED]"

struct gw_xhdr {
	const char *name; /* canonical, as in the event */
	const char *value;
	int redacted; /* value is GW_REDACTED */
};

struct gw_xside {
	struct gw_xhdr *hdrs; /* in the event's order; owned */
	size_t nhdrs;
	int has_headers;       /* the event recorded headers */
	int has_body;          /* full capture: body holds the captured bytes */
	unsigned char *body;   /* owned; NUL after body_len for text */
	size_t body_len;       /* bytes captured */
	int body_text;         /* body_encoding was "text" */
	int body_truncated;    /* captured bytes are fewer than body_length */
	int headers_truncated; /* a value was cut at the capture's limit */
	int64_t body_length;   /* the whole body's size; -1 unknown */
	int nredacted;         /* header values that were redacted */
};

/*
 * Strings point into the event, which must outlive the view.  Absent
 * members are NULL (strings), 0 (status) or -1 (times).
 */
struct gw_xchg {
	const char *id;
	const char *timestamp; /* event_timestamp */
	const char *method, *version;
	const char *url_raw, *scheme, *host, *path, *query;
	const char *client_ip, *server_name;
	const char *server_ip; /* the address the request came in on */
	int64_t client_port, server_port;
	const char *backend_url;
	const char *replay_of;
	const char *error_code, *error_message;
	int status; /* 0 when there was no response */
	int64_t duration_ns;
	int64_t req_first_ns, req_last_ns, res_first_ns, res_last_ns;
	struct gw_xside req, res;
};

/*
 * Fills <x> from <event>, a parsed http_request_complete.v0 envelope.
 * Returns 0; -1 with errno EINVAL when it is not such an event or a body
 * is not valid base64, or ENOMEM.  <x> needs gw_xchg_fini() either way.
 */
int gw_xchg_from_json(struct gw_xchg *x, json_t *event);
void gw_xchg_fini(struct gw_xchg *x);

/* The first value of header <name> (any case) on <side>, or NULL. */
const char *gw_xchg_header(const struct gw_xside *side, const char *name);

/*
 * Writes <n> captured bytes to <f> as text that cannot drive a terminal:
 * control characters other than tab and newline, and DEL, are written as
 * \xNN; a CR before a LF is dropped.
 */
void gw_put_safe(FILE *f, const unsigned char *p, size_t n);

/* The value at dotted <path> ("object.http.request.method") or NULL. */
json_t *gw_json_path(json_t *root, const char *path);

#endif
