/* SPDX-License-Identifier: MIT */
/*
 * gw-proxy's one private header: the configuration, listeners, client and
 * upstream connections, and the functions the proxy's files share.
 *
 * Reading order: main.c (flags, setup, loop), config.c (options and
 * reload), listen.c (accepting), client.c (connections, their buffers and
 * timers), request.c (the request side of an exchange), upstream.c (the
 * upstream connections and their pool), response.c (the response side and
 * the end of an exchange), http.c (header checks and rewriting), tls.c
 * (OpenSSL), emit.c (events), policy.c and decision.c (gw-policy's
 * questions and answers), compress.c (compress-response's encoders).
 */
#ifndef GW_PROXY_H
#define GW_PROXY_H

#include <http_parser.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "event.h"
#include "http.h"
#include "loop.h"
#include "ndjson.h"
#include "error.h"
#include "opts.h"
#include "sock.h"

#define PROXY_NAME        "gw-proxy"
#define PROXY_MAX_HEADERS 100
#define PROXY_IO_CHUNK    (16 * 1024)
/* Output queued for a peer before reading from the other side pauses. */
#define PROXY_HIGH_WATER (64 * 1024)

/* An upstream origin: where requests for a route go, with its pool. */
struct upstream {
	char *url;    /* as configured */
	char *scheme; /* "http" or "https" */
	char *host;   /* host name or address */
	char *port;
	char *hostport; /* "host:port" for logs */
	char *prefix;   /* path prefix, "" for none */
	int tls;
	struct gw_addr addr;
	SSL_CTX *ssl_ctx; /* https upstreams */
	int down_logged;  /* said once that it is down */
	unsigned n_idle;
	TAILQ_HEAD(, upconn) idle; /* pooled keep-alive connections */
	TAILQ_ENTRY(upstream) entry;
};

struct route {
	char *host; /* lower case, no port */
	struct upstream *up;
};

struct tls_cert {
	char *cert_file;
	char *key_file;
	SSL_CTX *ctx;
};

/* The option values, as main.c's option table fills them. */
struct proxy_opts {
	struct gw_strlist listen;
	char *upstream;
	struct gw_strlist route;
	struct gw_strlist tls_cert;
	struct gw_strlist tls_key;
	char *upstream_ca;
	int upstream_insecure;
	char *events;
	int full_capture;
	uint64_t body_limit; /* capture cap */
	struct gw_strlist redact_header;
	int no_redact;
	uint64_t max_body_size;
	uint64_t max_header_size;
	uint64_t max_line_size;
	uint64_t header_timeout; /* ms */
	uint64_t idle_timeout;
	uint64_t client_timeout;
	uint64_t connect_timeout;
	uint64_t upstream_timeout;
	uint64_t drain_timeout;
	uint64_t stats_interval;
	uint64_t event_queue; /* bytes */
	long long max_idle_upstream;
	char *log_level;
	char *log_format;
	char *config;
	char *policy;
	int policy_fail_open;
	uint64_t policy_timeout;
	int help, version;
};

/* A loaded configuration: options checked and resolved.  Refcounted. */
struct pconf {
	int refs;
	struct proxy_opts o;
	struct upstream *dflt; /* --upstream */
	struct route *routes;
	size_t n_routes;
	struct tls_cert *certs;
	size_t n_certs;
	const char **redact_names;
	struct gw_redact redact;
};

struct listener {
	char *spec; /* as configured */
	struct gw_addr addr;
	int tls;
	int fd;
	struct gw_io io;
	int keep; /* reload bookkeeping */
	TAILQ_ENTRY(listener) entry;
};

/* A byte stream: a socket, with or without TLS. */
struct pio {
	int fd;
	SSL *ssl;
	struct gw_io io;
	int want;    /* GW_READ|GW_WRITE wanted by us */
	int hs_done; /* TLS handshake finished */
	int eof;
};

enum body_mode {
	BODY_NONE,   /* no body */
	BODY_LENGTH, /* Content-Length */
	BODY_CHUNKED,
	BODY_CLOSE, /* read until close (responses only) */
};

/* One request/response exchange on a client connection. */
struct exch {
	uint64_t start_ns; /* wall clock, first byte */
	uint64_t start_mono;
	uint64_t req_last_ns;
	uint64_t res_first_ns, res_last_ns;
	uint64_t sent_mono; /* request head sent upstream */

	struct gw_buf head; /* request header block copy */
	size_t n_hdrs;
	struct gw_str method, target, path, query, host;
	struct gw_str user_agent;
	struct gw_str replay_of;
	int http_minor;
	int keep_alive; /* client asked for keep-alive */
	int expect_continue;
	int head_req; /* HEAD */
	enum body_mode req_mode;
	uint64_t req_len;  /* declared Content-Length */
	uint64_t req_body; /* body bytes received */
	int req_done;      /* whole request read */
	int req_sent;      /* whole request queued upstream */

	struct route *route;
	struct upstream *up;
	struct upconn *uc;
	int reused;
	int retried;
	uint64_t connect_ns;

	struct gw_buf rhead; /* response header block copy */
	size_t n_rhdrs;
	int status;
	uint64_t response_ns;
	enum body_mode res_mode; /* towards the client */
	uint64_t res_body;
	int res_started; /* head queued to the client */
	int res_done;    /* whole response queued */

	struct gw_buf req_cap, res_cap;
	int req_cap_trunc, res_cap_trunc;

	const char *err_code;
	char err_msg[160];
	int emitted;   /* its event is out */
	int forwarded; /* sent to an upstream (the event has "backend") */

	/* gw-policy's answer, kept for the whole exchange. */
	json_t *pol;               /* the parsed answer, or NULL */
	const json_t *pol_set;     /* continue: headers to set (object) */
	const json_t *pol_rm;      /* continue: headers to remove (array) */
	const char *pol_url;       /* continue: new target, or NULL */
	json_t *pol_res;           /* on_http_response's parsed answer */
	json_t *answer_after_body; /* pol's answer, sent once the body is in */
	const json_t *pol_res_set, *pol_res_rm;
	int asking_res;      /* waiting for on_http_response's answer */
	int asked_res;       /* asked it already */
	struct gw_buf extra; /* "traffic_policy":… for the event */
	char answer_len[24]; /* Content-Length of gw's own answer (rhdrs) */
	struct zenc *zenc;   /* compress-response's encoder, or NULL */
	int zpending;        /* bytes fed since the encoder last flushed */
	/* Parser scratch: the header being collected. */
	int in_value;

	/*
	 * Last, so that resetting an exchange clears the fields above and
	 * leaves these 3 KiB arrays alone: n_hdrs and n_rhdrs say how much
	 * of them is in use.
	 */
	struct gw_hdr hdrs[PROXY_MAX_HEADERS];
	struct gw_hdr rhdrs[PROXY_MAX_HEADERS];
};

enum client_state {
	CS_HANDSHAKE, /* TLS handshake */
	CS_IDLE,      /* keep-alive, waiting for a request */
	CS_HEAD,      /* reading a request head */
	CS_ACTIVE,    /* exchange in progress */
	CS_CLOSING,   /* flushing, then close */
	CS_DEAD,      /* closed; freed before the next wait */
};

struct client {
	struct pio pio;
	struct listener *lis;
	struct pconf *conf; /* reference for this exchange */
	struct gw_conn_info ci;
	char sni[256];
	char host[256]; /* last Host, for events */
	enum client_state state;
	struct gw_buf in;
	struct gw_buf out;
	size_t scan; /* head search resume point */
	http_parser parser;
	struct exch *x;
	struct gw_timer timer;
	int timer_kind;
	int close_after;          /* close once out is flushed */
	int paused;               /* not reading: backpressure */
	size_t linger_left;       /* discarded before close, at most */
	struct gw_buf conn_extra; /* on_tcp_connect's answer, for the event */
	int conn_held;            /* on_tcp_connect question unanswered */
	int pol_conn;             /* policy connection of the question, or -1 */
	uint64_t pol_id;          /* and its id */
	unsigned n_exchanges;
	TAILQ_ENTRY(client) entry;
};

struct upconn {
	struct pio pio;
	struct upstream *up;
	struct client *c; /* NULL when pooled */
	struct gw_buf in;
	struct gw_buf out;
	http_parser parser;
	struct gw_timer timer;
	int connecting;
	int got_bytes; /* any response byte */
	int head_done;
	int done; /* response complete */
	int in_hv;
	int held;        /* response head waits for gw-policy */
	int paused;      /* client queue full */
	int dead;        /* closed, awaiting reap */
	int pooled;      /* in up->idle */
	int reused_conn; /* served an exchange before */
	int timer_kind;
	size_t scan;            /* head search resume point */
	uint64_t connect_start; /* monotonic ns */
	TAILQ_ENTRY(upconn) entry;
};

/* Process-wide state, one instance in main.c. */
struct proxy {
	struct gw_loop *loop;
	struct pconf *conf;
	TAILQ_HEAD(, listener) listeners;
	TAILQ_HEAD(, client) clients;
	TAILQ_HEAD(, upstream) upstreams;
	/* Closed objects, freed from the before-wait hook so that no
	 * caller up the stack is left holding a freed pointer. */
	TAILQ_HEAD(, client) dead_clients;
	TAILQ_HEAD(, upconn) dead_upconns;
	unsigned n_clients;
	int draining;
	struct gw_timer drain_timer;
	struct gw_timer stats_timer;
	struct gw_out ev;
	int ev_fd;
	struct gw_io ev_io;
	int ev_nonblock;
	uint64_t ev_dropped_said;
	struct gw_buf scratch; /* event building, hot path */
	/* counters for the stats line */
	uint64_t n_requests, n_errors, n_accepted;
	char via[64];
};

extern struct proxy P;

/* config.c */
extern const struct gw_opt proxy_optab[];
struct pconf *conf_load(
    int argc, char **argv, int *optind_out, struct gw_error *, int *usage);
struct pconf *conf_ref(struct pconf *);
void conf_unref(struct pconf *);
struct upstream *conf_route(struct pconf *, const char *host, size_t len);

/* listen.c */
int listen_apply(struct pconf *, const char *source, struct gw_error *);
void listen_close_all(const char *source, const char *reason);

/* What a client's one timer is waiting for. */
enum {
	CT_NONE,
	CT_HEADER, /* reading a request head (slowloris) */
	CT_IDLE,   /* keep-alive, nothing received */
	CT_ACTIVE, /* no progress on the client side of an exchange */
	CT_LINGER, /* discarding input before closing */
	CT_POLICY, /* waiting for gw-policy's answer */
};

/* client.c */
void client_accept(struct listener *, int fd, const struct gw_addr *peer);
void client_close(struct client *);
void client_reap(void);
void client_drain_idle(void);
void client_set_timer(struct client *, int kind, uint64_t ms);
void client_update(struct client *);
int client_flush(struct client *);
void client_process(struct client *);
void client_linger(struct client *);
void client_next(struct client *);
void client_upstream_drained(struct client *);
void client_exch_err(struct exch *, const char *code, const char *msg);
struct exch *client_exch_get(struct client *);
void client_exch_put(struct exch *);

/* request.c */
void request_start(struct client *, size_t end);
void request_feed(struct client *);
void request_sniff(struct client *);
int client_retry(struct client *);
void client_proceed(struct client *);

/* response.c */
void
client_reject(struct client *, int status, const char *code, const char *msg);
void client_upstream_failed(
    struct client *, const char *code, int status, const char *msg);
void exch_finish(struct client *);
void client_response_head(struct client *);
int client_response_body(struct client *, const char *, size_t);
void client_response_done(struct client *);
void client_kick(struct client *);
void response_from_policy(struct client *, json_t *answer);

/* compress.c */
enum { ZENC_MORE, ZENC_FLUSH, ZENC_END };
struct zenc;
struct zenc *zenc_get(const char *alg);
const char *zenc_name(const struct zenc *);
void zenc_put(struct zenc *);
int zenc_run(struct zenc *, const char *p, size_t n, int mode,
    int (*emit)(void *, const char *, size_t), void *arg);

/* decision.c */
void decision_ask_connect(struct client *);
void client_policy_answer(struct client *, json_t *answer);
void client_policy_failed(struct client *, const char *why);
void client_policy_wait(struct client *);

/* upstream.c */
struct upstream *
upstream_get(const char *url, struct pconf *, struct gw_error *);
struct upconn *upconn_acquire(struct upstream *, struct client *, int *reused);
void upconn_send(struct upconn *);
void upconn_release(struct upconn *, int reusable);
void upconn_abort(struct upconn *);
void upconn_resume(struct upconn *);
void upstream_free_all(void);
void upconn_reap(void);
void upconn_response_go(struct upconn *);
void up_logged_back(struct upstream *);

/* http.c */
int http_find_head_end(const char *, size_t, size_t *scan, size_t *end);
int http_lines_strict(const char *, size_t);
int http_str_ieq(const char *, size_t, const char *);
const struct gw_hdr *http_hdr_get(const struct gw_hdr *, size_t, const char *);
struct gw_str http_host_only(struct gw_str);
int http_on_field(struct gw_hdr *, size_t *n, size_t max, int *in_value,
    const char *at, size_t len);
void http_on_value(
    struct gw_hdr *, size_t n, int *in_value, const char *at, size_t len);
int http_put_field(struct gw_buf *, const struct gw_str *name,
    const struct gw_str *value, const char *also);
int http_write_error(
    struct gw_buf *, int status, const char *code, const char *msg, int close);

/* tls.c */
int tls_server_init(struct pconf *, struct gw_error *);
void tls_conf_free(struct pconf *);
ssize_t pio_read(struct pio *, void *, size_t);
ssize_t pio_write(struct pio *, const void *, size_t);
int pio_handshake(struct pio *);
void pio_close(struct pio *);
const char *pio_tls_version(const struct pio *);
const char *pio_tls_cipher(const struct pio *);

/* policy.c */
int policy_start(const char *path);
void policy_stop(void);
int policy_ask(struct client *, const char *phase);
void policy_cancel(struct client *);
void policy_notify(struct client *);
void policy_flush(void);
int policy_wants_response(void);
int policy_wants_connect(void);
int policy_drops_header(
    const json_t *set, const json_t *rm, const char *name, size_t n);
int policy_add_headers(const json_t *set, struct gw_buf *);
void policy_record(struct exch *);
void policy_render(struct gw_buf *, const json_t *a, const json_t *b);

/* emit.c */
void emit_describe(struct client *, struct gw_exchange *);
int emit_open(const char *path);
void emit_exchange(struct client *);
void emit_conn_closed(struct client *);
void emit_audit(const char *type, const char *source, const char *object_json);
void emit_flush(int block);
void emit_stats(void);
void emit_capture_settings(
    const struct pconf *, const struct pconf *old, const char *source);

#endif
