// SPDX-License-Identifier: MIT
/*
 * The upstream side of gw-proxy: one struct upstream per origin URL with
 * a pool of keep-alive connections, and one struct upconn per connection.
 * An upconn writes the request the client side queued, parses the
 * response head (skipping 1xx interim responses), hands it to the client
 * side, then streams the body down, stopping its reads whenever the
 * client's queue is full.  Connect, response and pool timeouts live here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "gw-proxy.h"
#include "tls.h"
#include "log.h"
#include "timeutil.h"

#define RES_HEAD_MAX (64 * 1024)
#define POOL_IDLE_MS 30000

enum { UT_CONNECT = 1, UT_RESPONSE, UT_POOL };

static void upconn_io(struct gw_loop *, struct gw_io *, int);
static void upconn_timer(struct gw_loop *, struct gw_timer *);
static void upconn_close(struct upconn *);
static void upconn_update(struct upconn *);
static void upconn_read(struct upconn *);
static int response_go(struct upconn *);

static http_parser_settings res_settings;

static int
parse_url(struct upstream *up, const char *url, struct gw_error *err)
{
	const char *p, *auth, *slash, *hend, *colon;

	if (strncmp(url, "http://", 7) == 0) {
		up->scheme = strdup("http");
		p = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		up->scheme = strdup("https");
		up->tls = 1;
		p = url + 8;
	} else {
		gw_error_set(err, NULL, 0, 0,
		    "upstream %s: the URL must start with http:// or https://",
		    url);
		return -1;
	}
	auth = p;
	slash = strchr(auth, '/');
	if (slash == NULL)
		slash = auth + strlen(auth);
	if (memchr(auth, '?', (size_t)(slash - auth)) != NULL ||
	    strchr(auth, '?') != NULL || strchr(auth, '#') != NULL ||
	    memchr(auth, '@', (size_t)(slash - auth)) != NULL) {
		gw_error_set(err, NULL, 0, 0,
		    "upstream %s: no query, fragment or user info allowed",
		    url);
		return -1;
	}
	if (*auth == '[') {
		hend = memchr(auth, ']', (size_t)(slash - auth));
		if (hend == NULL) {
			gw_error_set(err, NULL, 0, 0,
			    "upstream %s: unterminated IPv6 address", url);
			return -1;
		}
		up->host = strndup(auth + 1, (size_t)(hend - auth - 1));
		colon = hend + 1 < slash && hend[1] == ':' ? hend + 1 : NULL;
	} else {
		colon = memchr(auth, ':', (size_t)(slash - auth));
		hend = colon ? colon : slash;
		up->host = strndup(auth, (size_t)(hend - auth));
	}
	if (colon != NULL)
		up->port = strndup(colon + 1, (size_t)(slash - colon - 1));
	else
		up->port = strdup(up->tls ? "443" : "80");
	/* The prefix is prepended to every path: drop a trailing slash. */
	up->prefix = strdup(slash);
	if (up->prefix != NULL && up->prefix[0] != '\0' &&
	    up->prefix[strlen(up->prefix) - 1] == '/')
		up->prefix[strlen(up->prefix) - 1] = '\0';
	if (up->scheme == NULL || up->host == NULL || up->port == NULL ||
	    up->prefix == NULL) {
		gw_error_set(err, NULL, 0, 0, "out of memory");
		return -1;
	}
	if (up->host[0] == '\0') {
		gw_error_set(err, NULL, 0, 0, "upstream %s: no host", url);
		return -1;
	}
	return 0;
}

static void
upstream_free(struct upstream *up)
{
	struct upconn *uc;

	if (up == NULL)
		return;
	while ((uc = TAILQ_FIRST(&up->idle)) != NULL)
		upconn_close(uc);
	SSL_CTX_free(up->ssl_ctx);
	free(up->url);
	free(up->scheme);
	free(up->host);
	free(up->port);
	free(up->hostport);
	free(up->prefix);
	free(up);
}

/*
 * Returns the upstream for <url>, creating it (and resolving its host,
 * which may block: start-up and reload only) the first time.  Upstreams
 * live until exit so that a reload keeps their pools.  NULL with <err>
 * set when the URL is bad or the host does not resolve.
 */
struct upstream *
upstream_get(const char *url, struct pconf *pc, struct gw_error *err)
{
	struct upstream *up;

	TAILQ_FOREACH(up, &P.upstreams, entry)
	if (strcmp(up->url, url) == 0)
		return up;
	if ((up = calloc(1, sizeof(*up))) == NULL) {
		gw_error_set(err, NULL, 0, 0, "out of memory");
		return NULL;
	}
	TAILQ_INIT(&up->idle);
	if ((up->url = strdup(url)) == NULL) {
		gw_error_set(err, NULL, 0, 0, "out of memory");
		goto fail;
	}
	if (parse_url(up, url, err) == -1)
		goto fail;
	if (gw_addr_resolve(up->host, up->port, &up->addr) == -1) {
		gw_error_set(err, NULL, 0, 0,
		    "upstream %s: cannot resolve %s: %s", url, up->host,
		    strerror(errno));
		goto fail;
	}
	if ((up->hostport = malloc(GW_ADDRSTRLEN)) == NULL) {
		gw_error_set(err, NULL, 0, 0, "out of memory");
		goto fail;
	}
	gw_addr_str(&up->addr, up->hostport, GW_ADDRSTRLEN);
	if (up->tls) {
		up->ssl_ctx = gw_tls_client_ctx(pc->o.upstream_ca,
		    pc->o.upstream_insecure, "--upstream-ca", err);
		if (up->ssl_ctx == NULL)
			goto fail;
	}
	TAILQ_INSERT_TAIL(&P.upstreams, up, entry);
	return up;
fail:
	upstream_free(up);
	return NULL;
}

/* Frees every upstream and pooled connection (at exit). */
void
upstream_free_all(void)
{
	struct upstream *up;

	while ((up = TAILQ_FIRST(&P.upstreams)) != NULL) {
		TAILQ_REMOVE(&P.upstreams, up, entry);
		upstream_free(up);
	}
	upconn_reap();
}

static int
upconn_tls_start(struct upconn *uc)
{
	struct upstream *up = uc->up;
	struct gw_addr tmp;
	char hp[300];
	int ip;

	uc->pio.ssl = SSL_new(up->ssl_ctx);
	if (uc->pio.ssl == NULL || SSL_set_fd(uc->pio.ssl, uc->pio.fd) != 1)
		return -1;
	SSL_set_connect_state(uc->pio.ssl);
	/* An IP literal parses as an address with a port added. */
	snprintf(hp, sizeof(hp),
	    up->host[0] != '[' && strchr(up->host, ':') ? "[%s]:0" : "%s:0",
	    up->host);
	/* SNI only for names; verification against the name or the IP. */
	ip = gw_addr_parse(hp, &tmp) == 0;
	if (!ip)
		(void)SSL_set_tlsext_host_name(uc->pio.ssl, up->host);
	if (SSL_get_verify_mode(uc->pio.ssl) != SSL_VERIFY_NONE) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(uc->pio.ssl);

		if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, up->host)
		        : X509_VERIFY_PARAM_set1_host(vp, up->host, 0)) != 1)
			return -1;
	}
	return 0;
}

/*
 * Gives <c> a connection to <up>: the most recently pooled one if any
 * (*reused = 1), else a new non-blocking connect.  Returns NULL with
 * errno set when a socket cannot even be created.
 */
struct upconn *
upconn_acquire(struct upstream *up, struct client *c, int *reused)
{
	struct upconn *uc;
	int fd;

	if ((uc = TAILQ_FIRST(&up->idle)) != NULL) {
		TAILQ_REMOVE(&up->idle, uc, entry);
		up->n_idle--;
		gw_timer_stop(P.loop, &uc->timer);
		uc->c = c;
		*reused = 1;
		c->x->connect_ns = 0;
		return uc;
	}
	*reused = 0;
	if ((fd = gw_connect_tcp(&up->addr)) == -1)
		return NULL;
	if ((uc = calloc(1, sizeof(*uc))) == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	uc->up = up;
	uc->c = c;
	uc->pio.fd = fd;
	uc->connecting = 1;
	uc->connect_start = gw_mono_ns();
	gw_io_init(&uc->pio.io, fd, upconn_io, uc);
	gw_timer_init(&uc->timer, upconn_timer, uc);
	gw_buf_init(&uc->in, RES_HEAD_MAX + PROXY_IO_CHUNK);
	gw_buf_init(&uc->out, 4 * 1024 * 1024);
	http_parser_init(&uc->parser, HTTP_RESPONSE);
	uc->parser.data = uc;
	if (up->tls && upconn_tls_start(uc) == -1) {
		ERR_clear_error();
		if (uc->pio.ssl != NULL)
			SSL_free(uc->pio.ssl);
		uc->pio.ssl = NULL;
		close(fd);
		gw_buf_fini(&uc->in);
		gw_buf_fini(&uc->out);
		free(uc);
		errno = EPROTO;
		return NULL;
	}
	uc->timer_kind = UT_CONNECT;
	(void)gw_timer_set(P.loop, &uc->timer, c->conf->o.connect_timeout);
	upconn_update(uc);
	return uc;
}

static void
upconn_fail(struct upconn *uc, const char *code, int status, const char *msg)
{
	struct client *c = uc->c;
	struct upstream *up = uc->up;

	if (c == NULL) {
		upconn_close(uc);
		return;
	}
	/* A pooled connection the server had already closed: try afresh. */
	if (uc->reused_conn && !uc->got_bytes &&
	    strcmp(code, "GW_UPSTREAM_RESET") == 0) {
		uc->c = NULL;
		c->x->uc = NULL;
		upconn_close(uc);
		if (client_retry(c))
			return;
		client_upstream_failed(c, code, status, msg);
		return;
	}
	if (!up->down_logged &&
	    (strcmp(code, "GW_UPSTREAM_REFUSED") == 0 ||
	        strcmp(code, "GW_UPSTREAM_CONNECT_TIMEOUT") == 0)) {
		if (strncmp(msg, "upstream ", 9) == 0)
			gw_warn("%s", msg);
		else
			gw_warn("upstream %s: %s", up->hostport, msg);
		up->down_logged = 1;
	}
	/* client_upstream_failed() aborts (closes) uc through x->uc. */
	client_upstream_failed(c, code, status, msg);
}

/* Writes what is queued.  Returns 0, or -1 after failing the exchange. */
static int
upconn_flush(struct upconn *uc)
{
	struct client *c = uc->c;
	ssize_t n;
	int progressed = 0;

	while (uc->out.len > 0) {
		n = pio_write(&uc->pio, gw_buf_head(&uc->out), uc->out.len);
		if (n == -1) {
			if (errno == EAGAIN)
				break;
			upconn_fail(
			    uc, "GW_UPSTREAM_RESET", 502, strerror(errno));
			return -1;
		}
		gw_buf_consume(&uc->out, (size_t)n);
		progressed = 1;
	}
	if (progressed && c != NULL) {
		uc->timer_kind = UT_RESPONSE;
		(void)gw_timer_set(
		    P.loop, &uc->timer, c->conf->o.upstream_timeout);
		if (uc->out.len < PROXY_HIGH_WATER)
			client_upstream_drained(c);
	}
	return 0;
}

/* Sends what the client side queued, if the connection is ready. */
void
upconn_send(struct upconn *uc)
{
	if (uc->connecting || (uc->pio.ssl != NULL && !uc->pio.hs_done))
		return;
	if (upconn_flush(uc) == -1)
		return;
	upconn_update(uc);
}

static void
upconn_update(struct upconn *uc)
{
	int mask = 0;

	if (uc->dead)
		return;
	if (uc->connecting)
		mask = GW_WRITE;
	else if (uc->pio.ssl != NULL && !uc->pio.hs_done)
		mask = uc->pio.want;
	else {
		if (!uc->paused && !uc->held)
			mask |= GW_READ;
		if (uc->out.len > 0)
			mask |= GW_WRITE;
	}
	if (gw_io_set(P.loop, &uc->pio.io, mask) == -1)
		gw_warn("upstream %s: epoll: %s", uc->up->hostport,
		    strerror(errno));
}

/* Closes <uc> now; the struct is freed by upconn_reap(). */
static void
upconn_close(struct upconn *uc)
{
	if (uc->dead)
		return;
	if (uc->pooled) {
		TAILQ_REMOVE(&uc->up->idle, uc, entry);
		uc->up->n_idle--;
		uc->pooled = 0;
	}
	gw_timer_stop(P.loop, &uc->timer);
	pio_close(&uc->pio);
	uc->dead = 1;
	uc->c = NULL;
	TAILQ_INSERT_TAIL(&P.dead_upconns, uc, entry);
}

/* Frees the connections closed since the last call. */
void
upconn_reap(void)
{
	struct upconn *uc;

	while ((uc = TAILQ_FIRST(&P.dead_upconns)) != NULL) {
		TAILQ_REMOVE(&P.dead_upconns, uc, entry);
		gw_buf_fini(&uc->in);
		gw_buf_fini(&uc->out);
		free(uc);
	}
}

/* Drops <uc> from its exchange and closes it: the request was abandoned. */
void
upconn_abort(struct upconn *uc)
{
	uc->c = NULL;
	upconn_close(uc);
}

/*
 * Detaches <uc> from its client.  A connection whose response ended
 * cleanly goes back to the pool (most recent first, so the pool's tail
 * ages out); anything else is closed.
 */
void
upconn_release(struct upconn *uc, int reusable)
{
	struct upstream *up = uc->up;
	long long max = P.conf->o.max_idle_upstream;

	uc->c = NULL;
	if (!reusable || P.draining || uc->in.len > 0 ||
	    (long long)up->n_idle >= max) {
		upconn_close(uc);
		return;
	}
	http_parser_init(&uc->parser, HTTP_RESPONSE);
	uc->parser.data = uc;
	gw_buf_reset(&uc->in);
	gw_buf_reset(&uc->out);
	uc->scan = 0;
	uc->got_bytes = uc->head_done = uc->done = uc->paused = 0;
	uc->reused_conn = 1;
	uc->pooled = 1;
	TAILQ_INSERT_HEAD(&up->idle, uc, entry);
	up->n_idle++;
	uc->timer_kind = UT_POOL;
	(void)gw_timer_set(P.loop, &uc->timer, POOL_IDLE_MS);
	upconn_update(uc);
}

/* The client drained its queue: read the response again. */
void
upconn_resume(struct upconn *uc)
{
	if (!uc->paused || uc->dead || uc->held)
		return;
	uc->paused = 0;
	/* Bytes already read but not yet parsed go first. */
	if (uc->in.len > 0 && uc->head_done)
		upconn_read(uc);
	if (!uc->dead)
		upconn_update(uc);
}

/* ---- response parsing ----------------------------------------------- */

static int
on_res_field(http_parser *hp, const char *at, size_t len)
{
	struct upconn *uc = hp->data;
	struct exch *x = uc->c->x;

	return http_on_field(
	    x->rhdrs, &x->n_rhdrs, PROXY_MAX_HEADERS, &uc->in_hv, at, len);
}

static int
on_res_value(http_parser *hp, const char *at, size_t len)
{
	struct upconn *uc = hp->data;
	struct exch *x = uc->c->x;

	http_on_value(x->rhdrs, x->n_rhdrs, &uc->in_hv, at, len);
	return 0;
}

static int
on_res_headers_complete(http_parser *hp)
{
	struct upconn *uc = hp->data;
	struct exch *x = uc->c->x;
	unsigned s = hp->status_code;

	/* No body, whatever Content-Length says (RFC 9112 §6.3). */
	if (x->head_req || s / 100 == 1 || s == 204 || s == 304)
		return 1;
	return 0;
}

static int
on_res_body(http_parser *hp, const char *at, size_t len)
{
	struct upconn *uc = hp->data;
	int r;

	r = client_response_body(uc->c, at, len);
	if (r == -1)
		return -1;
	if (r == 1)
		uc->paused = 1;
	return 0;
}

static int
on_res_complete(http_parser *hp)
{
	struct upconn *uc = hp->data;

	uc->done = 1;
	http_parser_pause(hp, 1);
	return 0;
}

static void __attribute__((constructor)) res_settings_init(void)
{
	res_settings.on_header_field = on_res_field;
	res_settings.on_header_value = on_res_value;
	res_settings.on_headers_complete = on_res_headers_complete;
	res_settings.on_body = on_res_body;
	res_settings.on_message_complete = on_res_complete;
}

/*
 * Returns 1 if the response body runs until the connection closes: no
 * Content-Length, not chunked, and a status that has a body.
 */
static int
res_needs_eof(const struct upconn *uc)
{
	const struct exch *x = uc->c->x;
	unsigned s = uc->parser.status_code;

	if (x->head_req || s / 100 == 1 || s == 204 || s == 304)
		return 0;
	if (uc->parser.flags & F_CHUNKED)
		return 0;
	return uc->parser.content_length == ULLONG_MAX;
}

/* The response ended: pool or close uc, and let the client finish. */
static void
upconn_done(struct upconn *uc)
{
	struct client *c = uc->c;
	struct exch *x = c->x;
	int keep;

	keep = http_should_keep_alive(&uc->parser) && x->req_sent &&
	    !res_needs_eof(uc);
	x->uc = NULL;
	upconn_release(uc, keep);
	client_response_done(c);
}

/*
 * Parses a complete response head from uc->in.  Returns 1 when a final
 * head was handed to the client, 0 when more bytes are needed, 2 when a
 * 1xx was skipped (parse again), -1 when the exchange ended or failed.
 */
static int
parse_head(struct upconn *uc)
{
	struct client *c = uc->c;
	struct exch *x = c->x;
	enum http_errno e;
	size_t end;

	if (!http_find_head_end(
	        gw_buf_head(&uc->in), uc->in.len, &uc->scan, &end)) {
		if (uc->in.len > RES_HEAD_MAX) {
			upconn_fail(uc, "GW_UPSTREAM_BAD_RESPONSE", 502,
			    "response header section too large");
			return -1;
		}
		return 0;
	}
	gw_buf_reset(&x->rhead);
	x->n_rhdrs = 0;
	uc->in_hv = 0;
	/* The same line rules as for requests: no obs-fold, no bare LF. */
	if (gw_buf_add(&x->rhead, gw_buf_head(&uc->in), end) == -1 ||
	    x->rhead.len < 12 || memcmp(x->rhead.data, "HTTP/1.", 7) != 0 ||
	    http_lines_strict(x->rhead.data, x->rhead.len) == -1) {
		upconn_fail(uc, "GW_UPSTREAM_BAD_RESPONSE", 502,
		    "malformed response head");
		return -1;
	}
	gw_buf_consume(&uc->in, end);
	uc->scan = 0;
	http_parser_init(&uc->parser, HTTP_RESPONSE);
	uc->parser.data = uc;
	(void)http_parser_execute(
	    &uc->parser, &res_settings, x->rhead.data, x->rhead.len);
	e = HTTP_PARSER_ERRNO(&uc->parser);
	if ((e != HPE_OK && e != HPE_PAUSED) || uc->parser.upgrade) {
		char msg[128];

		snprintf(msg, sizeof(msg), "malformed response: %s",
		    uc->parser.upgrade ? "unexpected upgrade"
		                       : http_errno_description(e));
		upconn_fail(uc, "GW_UPSTREAM_BAD_RESPONSE", 502, msg);
		return -1;
	}
	for (size_t i = 0; i < x->n_rhdrs; i++) {
		const struct gw_hdr *h = &x->rhdrs[i];

		if (!gw_http_token_ok(h->name.p, h->name.n) ||
		    !gw_http_value_ok(h->value.p, h->value.n)) {
			upconn_fail(uc, "GW_UPSTREAM_BAD_RESPONSE", 502,
			    "malformed response header field");
			return -1;
		}
	}
	if (uc->parser.status_code / 100 == 1) {
		/* Interim responses are not relayed: gw sends its own 100. */
		uc->done = 0;
		return 2;
	}
	x->status = uc->parser.status_code;
	x->response_ns = gw_mono_ns() - x->sent_mono;
	uc->head_done = 1;
	up_logged_back(uc->up);
	if (c->conf->o.policy != NULL && policy_wants_response() &&
	    !x->asked_res) {
		/* The head waits for gw-policy; the answer resumes it. */
		x->asked_res = 1;
		if (policy_ask(c, "on_http_response") == 0) {
			x->asking_res = 1;
			uc->held = 1;
			client_policy_wait(c);
			return -1;
		}
		if (!c->conf->o.policy_fail_open) {
			client_upstream_failed(c, "GW_POLICY_UNAVAILABLE", 503,
			    "the policy engine is unavailable");
			return -1;
		}
	}
	return response_go(uc);
}

/*
 * Hands the parsed response head to the client side and goes on with the
 * body.  Returns as parse_head().
 */
static int
response_go(struct upconn *uc)
{
	struct client *c = uc->c;
	struct exch *x = c->x;

	client_response_head(c);
	if (c->state == CS_DEAD || x->uc != uc)
		return -1;
	if (uc->done) {
		/* No body (HEAD, 204, 304, Content-Length: 0). */
		upconn_done(uc);
		return -1;
	}
	/* Re-arm the parser for the body, which follows in uc->in. */
	http_parser_pause(&uc->parser, 0);
	return 1;
}

/* gw-policy let the held response head through: send it and go on. */
void
upconn_response_go(struct upconn *uc)
{
	if (uc == NULL || uc->dead || uc->c == NULL)
		return;
	uc->held = 0;
	if (response_go(uc) == 1 && !uc->dead)
		upconn_read(uc);
	if (!uc->dead)
		upconn_update(uc);
}

/*
 * Feeds buffered body bytes to the parser, which queues them for the
 * client.  When the client's queue passes the high-water mark the feed
 * pauses; if a flush then empties the queue at once, it goes on here,
 * because no write event would come to resume it.
 */
static void
feed_body(struct upconn *uc)
{
	struct client *c = uc->c;
	enum http_errno e;
	size_t n;

	for (;;) {
		if (uc->paused) {
			client_kick(c);
			if (uc->dead || uc->c == NULL ||
			    c->out.len >= PROXY_HIGH_WATER)
				return;
			uc->paused = 0;
		}
		if (uc->in.len == 0)
			break;
		n = uc->in.len < PROXY_IO_CHUNK ? uc->in.len : PROXY_IO_CHUNK;
		n = http_parser_execute(
		    &uc->parser, &res_settings, gw_buf_head(&uc->in), n);
		e = HTTP_PARSER_ERRNO(&uc->parser);
		gw_buf_consume(&uc->in, n);
		if (e != HPE_OK && e != HPE_PAUSED) {
			upconn_fail(uc, "GW_UPSTREAM_BAD_RESPONSE", 502,
			    http_errno_description(e));
			return;
		}
		if (uc->done) {
			upconn_done(uc);
			return;
		}
	}
	client_kick(c);
}

static void
upconn_eof(struct upconn *uc, int err)
{
	struct exch *x = uc->c->x;
	char msg[128];

	if (uc->head_done && res_needs_eof(uc) && err == 0) {
		/* A close-delimited body ends here. */
		(void)http_parser_execute(&uc->parser, &res_settings, NULL, 0);
		if (uc->done) {
			upconn_done(uc);
			return;
		}
	}
	snprintf(msg, sizeof(msg), "upstream %s %s", uc->up->hostport,
	    err                 ? strerror(err)
	        : uc->head_done ? "closed the connection mid-response"
	                        : "closed the connection without a response");
	(void)x;
	upconn_fail(uc, "GW_UPSTREAM_RESET", 502, msg);
}

static void
upconn_read(struct upconn *uc)
{
	int reads = 0, r;
	ssize_t n;
	char *p;

	for (;;) {
		if (uc->c == NULL || uc->dead || uc->held)
			return;
		/* First whatever is buffered: heads, then body bytes. */
		if (!uc->head_done) {
			r = parse_head(uc);
			if (r == -1 || uc->dead || uc->c == NULL)
				return;
			if (r == 2)
				continue;
		}
		if (uc->head_done) {
			feed_body(uc);
			if (uc->dead || uc->c == NULL || uc->paused)
				return;
		}
		/* Then one more read; a few per wake-up keeps things fair. */
		if (reads++ == 8)
			return;
		p = gw_buf_reserve(&uc->in, PROXY_IO_CHUNK);
		if (p == NULL) {
			upconn_fail(uc, "GW_UPSTREAM_BAD_RESPONSE", 502,
			    "response header section too large");
			return;
		}
		n = pio_read(&uc->pio, p, PROXY_IO_CHUNK);
		if (n == -1) {
			if (errno != EAGAIN)
				upconn_eof(uc, errno);
			return;
		}
		if (n == 0) {
			upconn_eof(uc, 0);
			return;
		}
		gw_buf_commit(&uc->in, (size_t)n);
		uc->got_bytes = 1;
		uc->timer_kind = UT_RESPONSE;
		(void)gw_timer_set(
		    P.loop, &uc->timer, uc->c->conf->o.upstream_timeout);
	}
}

static void
upconn_connected(struct upconn *uc)
{
	struct client *c = uc->c;
	int e = gw_sock_error(uc->pio.fd);

	if (e != 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "%s", strerror(e));
		upconn_fail(uc,
		    e == ECONNREFUSED ? "GW_UPSTREAM_REFUSED"
		                      : "GW_UPSTREAM_RESET",
		    502, msg);
		return;
	}
	uc->connecting = 0;
	if (c != NULL)
		c->x->connect_ns = gw_mono_ns() - uc->connect_start;
	uc->timer_kind = UT_RESPONSE;
	if (c != NULL)
		(void)gw_timer_set(
		    P.loop, &uc->timer, c->conf->o.upstream_timeout);
	if (uc->pio.ssl == NULL) {
		uc->pio.hs_done = 1;
		upconn_send(uc);
	}
}

/* Says once that a failing upstream answers again. */
void
up_logged_back(struct upstream *up)
{
	if (up->down_logged) {
		gw_info("upstream %s: reachable again", up->hostport);
		up->down_logged = 0;
	}
}

static void
upconn_io(struct gw_loop *loop, struct gw_io *io, int ev)
{
	struct upconn *uc = io->arg;
	int r;

	(void)loop;
	if (uc->dead)
		return;
	if (uc->c == NULL) {
		/* Pooled: the server closed it or sent junk.  Drop it. */
		upconn_close(uc);
		return;
	}
	if (uc->connecting) {
		upconn_connected(uc);
		if (uc->dead || uc->pio.ssl == NULL)
			return;
		ev = 0;
	}
	if (uc->pio.ssl != NULL && !uc->pio.hs_done) {
		r = pio_handshake(&uc->pio);
		if (r == -1) {
			char msg[300];
			long v = SSL_get_verify_result(uc->pio.ssl);

			snprintf(msg, sizeof(msg),
			    "upstream %s: TLS handshake failed%s%s",
			    uc->up->hostport, v != X509_V_OK ? ": " : "",
			    v != X509_V_OK ? X509_verify_cert_error_string(v)
			                   : "");
			upconn_fail(uc, "GW_UPSTREAM_TLS", 502, msg);
			return;
		}
		if (r == 0) {
			upconn_update(uc);
			return;
		}
		upconn_send(uc);
		if (uc->dead)
			return;
		ev = GW_READ;
	}
	if ((ev & GW_WRITE) && upconn_flush(uc) == -1)
		return;
	if (ev & GW_READ)
		upconn_read(uc);
	if (!uc->dead)
		upconn_update(uc);
}

static void
upconn_timer(struct gw_loop *loop, struct gw_timer *t)
{
	struct upconn *uc = t->arg;
	char msg[160];

	(void)loop;
	switch (uc->timer_kind) {
	case UT_CONNECT:
		snprintf(msg, sizeof(msg), "upstream %s: connect timed out",
		    uc->up->hostport);
		upconn_fail(uc, "GW_UPSTREAM_CONNECT_TIMEOUT", 502, msg);
		break;
	case UT_RESPONSE:
		snprintf(msg, sizeof(msg), "upstream %s: no response in time",
		    uc->up->hostport);
		uc->reused_conn = 0; /* a timeout is never retried */
		upconn_fail(uc, "GW_UPSTREAM_TIMEOUT", 504, msg);
		break;
	default:
		upconn_close(uc);
		break;
	}
}
