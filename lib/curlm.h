/* SPDX-License-Identifier: MIT */
/*
 * HTTP client transfers driven by the event loop: libcurl's multi-socket
 * API (curl_multi_socket_action() with a socket and a timer callback) on
 * top of lib/loop, so that gw-export's sinks and notifiers and gw-replay
 * run many requests at once from their one epoll loop and never wait on
 * the network.  One struct gw_curlm per loop holds one CURLM, hence one
 * connection cache (keep-alive), one DNS cache and shared TLS sessions.
 * A request is described by struct gw_http_req and finished by exactly one
 * call of its done function, always from the loop (never from inside
 * gw_curlm_start()), with a struct gw_http_res that is valid during that
 * call only.  What is kept of a response is bounded: the body up to
 * max_response bytes (the rest is counted), headers up to
 * GW_HTTP_MAX_HEADER_BYTES.
 */
#ifndef GW_CURLM_H
#define GW_CURLM_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct gw_curlm;

/* Defaults used when a field of the structures below is 0. */
#define GW_CURLM_MAX_HOST_CONNECTIONS 16
#define GW_CURLM_MAX_IDLE             32
#define GW_HTTP_TIMEOUT_MS            30000
#define GW_HTTP_CONNECT_TIMEOUT_MS    10000
#define GW_HTTP_MAX_RESPONSE          (64 * 1024)
/* Bytes of response header names and values kept; the rest is dropped. */
#define GW_HTTP_MAX_HEADER_BYTES (64 * 1024)
/* Room for a transport error message (libcurl's CURL_ERROR_SIZE). */
#define GW_HTTP_ERROR_SIZE 256

/*
 * Connection limits, per struct gw_curlm.  Transfers beyond a limit wait
 * in libcurl's queue for a connection; their timeout_ms counts from
 * gw_curlm_start() all the same (libcurl does not enforce it in the queue,
 * so gw does, at most a quarter of a second late).
 */
struct gw_curlm_opts {
	long max_host_connections; /* per host and port; 0: default, <0: none */
	long max_total_connections; /* all hosts; 0: no limit */
	long max_idle;              /* idle connections cached; 0: default */
};

/*
 * One request.  gw_curlm_start() copies every string (URL, method,
 * headers, CA file, connect_to) but borrows <body>: it must stay valid
 * and unchanged until the done function runs (gw-export keeps its batch
 * until then anyway, and a large body is not copied twice).
 *
 * <method> NULL means GET, or POST when there is a body.  Any method
 * token is sent as it is; HEAD expects no body back.  A body is sent,
 * with Content-Length, whenever <body> is not NULL (<body_len> may be 0),
 * and POST, PUT and PATCH without one send "Content-Length: 0".
 *
 * <headers> are "Name: value" strings handed to libcurl with its
 * conventions: they replace the header libcurl would make ("Host: x",
 * "User-Agent: x"), "Name:" with no value removes it (gw-replay sends
 * "Accept:" to drop the Accept header libcurl adds by default), and
 * "Name;" sends an empty value.  Strings holding CR or LF are refused.
 * Unless the caller names them, gw sends "User-Agent: gw/<version>", no
 * Accept-Encoding (the body comes back as the server sent it), no
 * "Expect: 100-continue" (a round trip lost against log intakes) and no
 * Content-Type of libcurl's own choosing: a body goes out byte for byte
 * with the headers given.
 *
 * TLS peers are verified unless <insecure>; redirects are followed only
 * with <follow_redirects> (at most 10, http and https only).  libcurl's
 * proxy environment variables (https_proxy, no_proxy, ...) apply.  Names
 * are resolved by libcurl's asynchronous resolver (a thread per lookup in
 * Debian's build); a libcurl built without one would block the loop.
 */
struct gw_http_req {
	const char *method;
	const char *url;            /* http:// or https:// */
	const char *const *headers; /* NULL-terminated; may be NULL */
	const void *body;           /* borrowed, see above */
	size_t body_len;
	long timeout_ms;         /* whole transfer; 0: default, <0: none */
	long connect_timeout_ms; /* 0: default, <0: libcurl's (300 s) */
	int follow_redirects;
	int insecure;        /* skip TLS verification */
	const char *ca_file; /* PEM bundle; NULL: the system's */
	size_t max_response; /* body bytes kept; 0: default */
	int keep_body;       /* keep 2xx bodies too, see below */
	/*
	 * Where to connect instead of the URL's host and port, in libcurl's
	 * CURLOPT_CONNECT_TO form "HOST:PORT:ADDR:PORT" ("::127.0.0.1:8443"
	 * for any host; an IPv6 ADDR in brackets), so that an https URL
	 * keeps its name for SNI and verification while the connection goes
	 * to a recorded address (gw-replay); NULL: the URL's.
	 */
	const char *connect_to;
	/*
	 * Send the URL's path as it is, "/a/../b" included, instead of
	 * removing dot segments first (gw-replay sends captured paths byte
	 * for byte).
	 */
	int path_as_is;
};

struct gw_http_header {
	const char *name;  /* as received, e.g. "Retry-After" */
	const char *value; /* surrounding blanks removed */
};

/*
 * The outcome of a request.  The transfer succeeded when curl_code is 0;
 * otherwise <error> says why in libcurl's words ("Connection refused",
 * "Operation timed out after 300 milliseconds with 0 bytes received")
 * and <status> is whatever response had begun (0 when none).
 *
 * With redirects followed, status, headers and body are the last
 * response's.  The body is kept up to max_response bytes, always for a
 * status outside 2xx (the error text a caller logs) and for 2xx only with
 * keep_body; <body_total> counts every byte received.  <body> is followed
 * by a NUL that is not counted in <body_len> (it may hold NULs itself).
 * <headers> are in the order received, repeated names repeated; trailers
 * of a chunked body follow them.
 *
 * Everything here, strings included, belongs to gw_curlm and is valid
 * only during the done call.
 */
struct gw_http_res {
	int status;
	int curl_code; /* a CURLcode; CURLE_ABORTED_BY_CALLBACK: freed */
	char error[GW_HTTP_ERROR_SIZE]; /* "" on success */
	const char *body;
	size_t body_len;
	uint64_t body_total;
	const struct gw_http_header *headers;
	size_t nheaders;
	int headers_truncated; /* the rest were past GW_HTTP_MAX_HEADER_BYTES */
	int reused;            /* went over a connection already open */
	double total_s;        /* start to end */
	double connect_s;      /* start to TCP connected */
	double starttransfer_s; /* start to first response byte */
};

/* Called once per started request, from the loop.  <arg> as given. */
typedef void gw_http_done_fn(void *arg, const struct gw_http_res *res);

/*
 * Returns a client driven by <loop>, with the limits in <opts> (NULL for
 * the defaults), or NULL with errno set (ENOMEM; EINVAL for no loop or a
 * negative max_total_connections or max_idle).  <loop> must outlive it.
 */
struct gw_curlm *
gw_curlm_new(struct gw_loop *loop, const struct gw_curlm_opts *opts);

/*
 * Aborts every transfer in flight and frees the client; NULL is accepted.
 * Each aborted request still gets its one done call, from inside this
 * function, with status 0 and curl_code CURLE_ABORTED_BY_CALLBACK, so that
 * callers release per-request state in one place; gw_curlm_start() fails
 * from those calls.  May be called from a done function: the memory goes
 * when that call has returned.
 */
void gw_curlm_free(struct gw_curlm *);

/*
 * Starts <req>; <done>(<arg>, res) runs later from the loop, exactly once,
 * whatever happens (a bad URL, an unreachable host and a timeout are
 * results, not failures here).  Returns 0, or -1 with errno set and no
 * call to come: EINVAL (no URL or done function, a method that is not a
 * token, CR or LF in a header, body_len without a body), ECANCELED (from
 * gw_curlm_free()'s done calls), ENOMEM.
 */
int gw_curlm_start(struct gw_curlm *, const struct gw_http_req *req,
    gw_http_done_fn *done, void *arg);

/* Requests started and not yet done (gw-replay bounds its concurrency). */
size_t gw_curlm_active(const struct gw_curlm *);

/*
 * The first header of <res> named <name> (case-insensitive), e.g.
 * gw_http_res_header(res, "retry-after"), or NULL.
 */
const char *gw_http_res_header(const struct gw_http_res *, const char *name);

#endif
