// SPDX-License-Identifier: MIT
/*
 * The client side of gw-proxy: one struct client per accepted connection.
 * It reads and checks each request head (http_parser plus the RFC 9112
 * rules it leaves lenient), builds the request for the upstream, streams
 * the request body up and the response down with backpressure on both
 * sides, answers itself when something is wrong, and ends every exchange
 * with one event.  Requests on a connection are handled one at a time, in
 * order, so pipelined requests simply wait in the input buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "gw-proxy.h"
#include "log.h"
#include "timeutil.h"

enum {
	T_NONE,
	T_HEADER, /* reading a request head (slowloris) */
	T_IDLE,   /* keep-alive, nothing received */
	T_ACTIVE, /* no progress on the client side of an exchange */
	T_LINGER, /* discarding input before closing */
	T_POLICY, /* waiting for gw-policy's answer */
};

static void client_io(struct gw_loop *, struct gw_io *, int);
static void client_timer(struct gw_loop *, struct gw_timer *);
static void client_process(struct client *);
static void client_update(struct client *);
static void exch_finish(struct client *);
static void client_linger(struct client *);
static void ask_connect(struct client *);
static void connect_answered(struct client *, json_t *, int);
static void linger_read(struct client *);
static void
client_reject(struct client *, int status, const char *code, const char *msg);

#define LINGER_MS    2000
#define LINGER_BYTES (1024 * 1024)

static http_parser_settings req_settings;

static void
set_timer(struct client *c, int kind, uint64_t ms)
{
	c->timer_kind = kind;
	if (gw_timer_set(P.loop, &c->timer, ms) == -1)
		gw_warn("cannot arm a timer: out of memory");
}

static void
exch_err(struct exch *x, const char *code, const char *msg)
{
	x->err_code = code;
	snprintf(x->err_msg, sizeof(x->err_msg), "%s", msg);
}

/* Empties <x> for the next exchange, keeping its buffers' memory. */
static void
exch_reset(struct exch *x)
{
	struct gw_buf head = x->head, rhead = x->rhead;
	struct gw_buf rc = x->req_cap, sc = x->res_cap, extra = x->extra;

	json_decref(x->pol);
	json_decref(x->pol_res);
	memset(x, 0, offsetof(struct exch, hdrs));
	memset(&x->n_hdrs, 0, sizeof(*x) - offsetof(struct exch, n_hdrs));
	x->head = head;
	x->rhead = rhead;
	x->req_cap = rc;
	x->res_cap = sc;
	x->extra = extra;
	gw_buf_reset(&x->head);
	gw_buf_reset(&x->rhead);
	gw_buf_reset(&x->req_cap);
	gw_buf_reset(&x->res_cap);
	gw_buf_reset(&x->extra);
}

/*
 * Idle keep-alive connections hold neither an exchange nor buffers: both
 * come from these caches when bytes arrive and go back when an exchange
 * ends, so memory follows the exchanges in flight, not the connections
 * open, and a busy connection reuses warm memory without malloc.
 */
#define CACHE_MAX 256
#define POOL_MIN  (4 * 1024)
#define POOL_MAX  (64 * 1024)

static struct exch *exch_cache[CACHE_MAX];
static size_t n_exch_cache;
static struct {
	char *data;
	size_t cap;
} buf_pool[CACHE_MAX];
static size_t n_buf_pool;

/* Gives an empty, unallocated <b> a block from the pool, if one is free. */
static void
pool_get(struct gw_buf *b)
{
	if (b->data != NULL || n_buf_pool == 0)
		return;
	n_buf_pool--;
	b->data = buf_pool[n_buf_pool].data;
	b->cap = buf_pool[n_buf_pool].cap;
	b->off = b->len = 0;
}

/* Takes the memory of an empty <b> back into the pool (or frees it). */
static void
pool_put(struct gw_buf *b)
{
	if (b->data == NULL || b->len > 0)
		return;
	if (n_buf_pool < CACHE_MAX && b->cap >= POOL_MIN &&
	    b->cap <= POOL_MAX) {
		buf_pool[n_buf_pool].data = b->data;
		buf_pool[n_buf_pool].cap = b->cap;
		n_buf_pool++;
		b->data = NULL;
		b->off = b->cap = 0;
		return;
	}
	gw_buf_fini(b);
}

static void
exch_free(struct exch *x)
{
	if (x == NULL)
		return;
	gw_buf_fini(&x->head);
	gw_buf_fini(&x->rhead);
	gw_buf_fini(&x->req_cap);
	gw_buf_fini(&x->res_cap);
	gw_buf_fini(&x->extra);
	json_decref(x->pol);
	json_decref(x->pol_res);
	free(x);
}

/* Returns an empty exchange sized for <c>'s configuration, or NULL. */
static struct exch *
exch_get(struct client *c)
{
	struct exch *x;

	if (n_exch_cache > 0) {
		x = exch_cache[--n_exch_cache];
		exch_reset(x);
	} else {
		if ((x = calloc(1, sizeof(*x))) == NULL)
			return NULL;
		gw_buf_init(&x->head, 0);
		gw_buf_init(&x->rhead, 64 * 1024);
		gw_buf_init(&x->req_cap, 0);
		gw_buf_init(&x->res_cap, 0);
		gw_buf_init(&x->extra, 256 * 1024);
	}
	/* Limits follow the configuration, which a reload may change. */
	x->head.max = c->conf->o.max_header_size + 4;
	x->req_cap.max = c->conf->o.body_limit;
	x->res_cap.max = c->conf->o.body_limit;
	return x;
}

/* Returns <x> to the cache (NULL accepted). */
static void
exch_put(struct exch *x)
{
	if (x == NULL)
		return;
	json_decref(x->pol);
	x->pol = NULL;
	json_decref(x->pol_res);
	x->pol_res = NULL;
	if (n_exch_cache < CACHE_MAX && x->head.cap <= 64 * 1024 &&
	    x->req_cap.cap <= 64 * 1024 && x->res_cap.cap <= 64 * 1024) {
		exch_cache[n_exch_cache++] = x;
		return;
	}
	exch_free(x);
}

/*
 * Asks gw-policy's on_tcp_connect rules about a new connection, which
 * reads nothing until the answer.  The question needs an exchange to
 * describe the connection; it goes back to the cache with the answer.
 */
static void
ask_connect(struct client *c)
{
	if ((c->x = exch_get(c)) != NULL) {
		c->x->start_ns = c->ci.start_ns;
		if (policy_ask(c, "on_tcp_connect") == 0) {
			c->conn_held = 1;
			set_timer(c, T_POLICY, c->conf->o.policy_timeout);
			return;
		}
		exch_put(c->x);
		c->x = NULL;
	}
	/*
	 * gw-policy is down: the connection goes on, and its requests get
	 * the fallback (503, or unchecked with --policy-fail-open), which
	 * tells a client more than a closed connection would.
	 */
}

/* Ends the wait of ask_connect(): go on reading, or close. */
static void
connect_answered(struct client *c, json_t *answer, int ok)
{
	const char *action;
	int close_it = !ok;

	c->conn_held = 0;
	if (answer != NULL) {
		action = json_string_value(json_object_get(answer, "action"));
		close_it |= action != NULL && strcmp(action, "close") == 0;
		json_decref(answer);
	}
	exch_put(c->x);
	c->x = NULL;
	if (close_it) {
		client_close(c);
		return;
	}
	set_timer(c, T_HEADER, c->conf->o.header_timeout);
	client_update(c);
}

/*
 * Takes a new connection from <lis>: <fd> is an accepted, non-blocking
 * socket that the client now owns.
 */
void
client_accept(struct listener *lis, int fd, const struct gw_addr *peer)
{
	struct gw_addr local;
	struct client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		gw_warn("accept: out of memory");
		close(fd);
		return;
	}
	c->lis = lis;
	c->conf = conf_ref(P.conf);
	c->pol_conn = -1;
	c->pio.fd = fd;
	gw_io_init(&c->pio.io, fd, client_io, c);
	gw_timer_init(&c->timer, client_timer, c);
	gw_buf_init(&c->in, c->conf->o.max_header_size + PROXY_IO_CHUNK);
	gw_buf_init(&c->out, 4 * 1024 * 1024);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;

	gw_addr_ip(peer, c->ci.client_ip, sizeof(c->ci.client_ip));
	c->ci.client_port = gw_addr_port(peer);
	local.len = sizeof(local.ss);
	if (getsockname(fd, (struct sockaddr *)&local.ss, &local.len) == 0) {
		gw_addr_ip(&local, c->ci.server_ip, sizeof(c->ci.server_ip));
		c->ci.server_port = gw_addr_port(&local);
	}
	c->ci.start_ns = gw_now_ns();

	if (lis->tls) {
		c->pio.ssl = SSL_new(c->conf->certs[0].ctx);
		if (c->pio.ssl == NULL || SSL_set_fd(c->pio.ssl, fd) != 1) {
			gw_warn("accept: cannot create a TLS session");
			if (c->pio.ssl != NULL)
				SSL_free(c->pio.ssl);
			c->pio.ssl = NULL;
			close(fd);
			conf_unref(c->conf);
			gw_buf_fini(&c->in);
			gw_buf_fini(&c->out);
			free(c);
			return;
		}
		SSL_set_accept_state(c->pio.ssl);
		c->state = CS_HANDSHAKE;
	} else {
		c->state = CS_IDLE;
		c->pio.hs_done = 1;
	}
	c->pio.want = GW_READ;
	TAILQ_INSERT_TAIL(&P.clients, c, entry);
	P.n_clients++;
	P.n_accepted++;
	set_timer(c, T_HEADER, c->conf->o.header_timeout);
	if (c->conf->o.policy != NULL && policy_wants_connect())
		ask_connect(c);
	if (c->state != CS_DEAD)
		client_update(c);
}

/*
 * Closes the connection now, ending its exchange (if any) with an event.
 * The struct lives on, marked CS_DEAD, until client_reap() runs before the
 * loop's next wait, so callers up the stack may still look at c->state.
 */
void
client_close(struct client *c)
{
	struct exch *x = c->x;

	if (c->state == CS_DEAD)
		return;
	policy_cancel(c);
	if (x != NULL && c->state == CS_ACTIVE && !x->emitted) {
		if (x->uc != NULL) {
			upconn_abort(x->uc);
			x->uc = NULL;
		}
		if (x->err_code == NULL)
			exch_err(x, "GW_CLIENT_CLOSED",
			    "client closed the connection");
		if (!x->res_started)
			x->status = 499;
		if (x->res_last_ns == 0)
			x->res_last_ns = gw_now_ns();
		emit_exchange(c);
	}
	c->ci.end_ns = gw_now_ns();
	emit_conn_closed(c);
	gw_timer_stop(P.loop, &c->timer);
	pio_close(&c->pio);
	c->state = CS_DEAD;
	TAILQ_REMOVE(&P.clients, c, entry);
	TAILQ_INSERT_TAIL(&P.dead_clients, c, entry);
	P.n_clients--;
	if (P.draining && P.n_clients == 0)
		gw_loop_stop(P.loop);
}

/* Frees the connections closed since the last call. */
void
client_reap(void)
{
	struct client *c;

	while ((c = TAILQ_FIRST(&P.dead_clients)) != NULL) {
		TAILQ_REMOVE(&P.dead_clients, c, entry);
		exch_put(c->x);
		gw_buf_reset(&c->in);
		gw_buf_reset(&c->out);
		pool_put(&c->in);
		pool_put(&c->out);
		conf_unref(c->conf);
		free(c);
	}
}

/*
 * Writes what is queued for the client.  Returns 0, or -1 after closing
 * the client (the caller must not touch it then).
 */
static int
client_flush(struct client *c)
{
	ssize_t n;

	while (c->out.len > 0) {
		n = pio_write(&c->pio, gw_buf_head(&c->out), c->out.len);
		if (n == -1) {
			if (errno == EAGAIN)
				return 0;
			client_close(c);
			return -1;
		}
		gw_buf_consume(&c->out, (size_t)n);
		c->ci.bytes_out += (uint64_t)n;
	}
	return 0;
}

/* Sets the socket events wanted from the connection's state. */
static void
client_update(struct client *c)
{
	int mask = 0;

	if (c->conn_held) {
		mask = 0; /* on_tcp_connect: nothing until gw-policy answers */
	} else if (c->state == CS_HANDSHAKE) {
		mask = c->pio.want;
	} else {
		if (c->state == CS_CLOSING || (!c->paused && !c->pio.eof))
			mask |= GW_READ;
		if (c->out.len > 0)
			mask |= GW_WRITE;
	}
	if (gw_io_set(P.loop, &c->pio.io, mask) == -1) {
		gw_warn(
		    "client %s: epoll: %s", c->ci.client_ip, strerror(errno));
	}
}

/* ---- request parsing ------------------------------------------------ */

static int
on_url(http_parser *hp, const char *at, size_t len)
{
	struct client *c = hp->data;
	struct exch *x = c->x;

	if (x->target.p == NULL)
		x->target.p = at;
	x->target.n = (size_t)(at + len - x->target.p);
	return 0;
}

static int
on_header_field(http_parser *hp, const char *at, size_t len)
{
	struct client *c = hp->data;
	struct exch *x = c->x;

	if (x->in_value || x->n_hdrs == 0) {
		if (x->n_hdrs == PROXY_MAX_HEADERS) {
			x->err_code = "GW_HEADERS_TOO_LARGE";
			return -1;
		}
		x->n_hdrs++;
		x->hdrs[x->n_hdrs - 1].name.p = at;
		x->hdrs[x->n_hdrs - 1].name.n = 0;
		x->hdrs[x->n_hdrs - 1].value.p = at;
		x->hdrs[x->n_hdrs - 1].value.n = 0;
		x->in_value = 0;
	}
	x->hdrs[x->n_hdrs - 1].name.n += len;
	return 0;
}

static int
on_header_value(http_parser *hp, const char *at, size_t len)
{
	struct client *c = hp->data;
	struct exch *x = c->x;
	struct gw_hdr *h = &x->hdrs[x->n_hdrs - 1];

	if (!x->in_value) {
		h->value.p = at;
		h->value.n = 0;
		x->in_value = 1;
	}
	h->value.n = (size_t)(at + len - h->value.p);
	return 0;
}

static int
on_headers_complete(http_parser *hp)
{
	(void)hp;
	return 0;
}

static int
on_body(http_parser *hp, const char *at, size_t len)
{
	struct client *c = hp->data;
	struct exch *x = c->x;
	struct upconn *uc = x->uc;
	char sz[24];
	int r = 0;

	x->req_body += len;
	if (x->req_body > c->conf->o.max_body_size) {
		x->err_code = "GW_BODY_TOO_LARGE";
		return -1;
	}
	if (c->conf->o.full_capture && !x->req_cap_trunc) {
		size_t room = c->conf->o.body_limit - x->req_cap.len;
		size_t n = len < room ? len : room;

		(void)gw_buf_add(&x->req_cap, at, n);
		if (n < len)
			x->req_cap_trunc = 1;
	}
	if (uc == NULL)
		return 0;
	if (x->req_mode == BODY_CHUNKED) {
		int n = snprintf(sz, sizeof(sz), "%zx\r\n", len);

		r |= gw_buf_add(&uc->out, sz, (size_t)n);
		r |= gw_buf_add(&uc->out, at, len);
		r |= gw_buf_add(&uc->out, "\r\n", 2);
	} else
		r = gw_buf_add(&uc->out, at, len);
	if (r != 0) {
		exch_err(x, "GW_INTERNAL", "upstream buffer full");
		return -1;
	}
	return 0;
}

static int
on_message_complete(http_parser *hp)
{
	struct client *c = hp->data;
	struct exch *x = c->x;

	x->req_done = 1;
	x->req_last_ns = gw_now_ns();
	if (x->req_mode == BODY_CHUNKED && x->uc != NULL &&
	    gw_buf_add(&x->uc->out, "0\r\n\r\n", 5) == -1) {
		exch_err(x, "GW_INTERNAL", "upstream buffer full");
		return -1;
	}
	x->req_sent = 1;
	/* Stop exactly here: what follows is the next pipelined request. */
	http_parser_pause(hp, 1);
	return 0;
}

static void __attribute__((constructor)) req_settings_init(void)
{
	req_settings.on_url = on_url;
	req_settings.on_header_field = on_header_field;
	req_settings.on_header_value = on_header_value;
	req_settings.on_headers_complete = on_headers_complete;
	req_settings.on_body = on_body;
	req_settings.on_message_complete = on_message_complete;
}

/* Best-effort method and target for events about unparsable requests. */
static void
sniff_request_line(struct client *c)
{
	struct exch *x = c->x;
	const char *p = gw_buf_head(&c->in), *e, *sp;
	size_t n = c->in.len;

	if (x->method.n > 0 || n == 0)
		return;
	e = memchr(p, '\n', n);
	if (e == NULL)
		e = p + (n < 2048 ? n : 2048);
	sp = memchr(p, ' ', (size_t)(e - p));
	if (sp == NULL || !http_token_ok(p, (size_t)(sp - p)) || sp - p > 32)
		return;
	/* Copy into head so the event does not point into <in>. */
	gw_buf_reset(&x->head);
	if (gw_buf_add(&x->head, p, (size_t)(e - p)) == -1)
		return;
	p = gw_buf_head(&x->head);
	e = p + x->head.len;
	sp = memchr(p, ' ', (size_t)(e - p));
	x->method.p = p;
	x->method.n = (size_t)(sp - p);
	p = sp + 1;
	sp = memchr(p, ' ', (size_t)(e - p));
	x->path.p = p;
	x->path.n = (size_t)((sp ? sp : e) - p);
	if (x->path.n > 1024)
		x->path.n = 1024;
	/* The version, for the event, when the line is whole. */
	if (e - p >= 9 && memcmp(e - 9, "HTTP/1.1\r", 9) == 0)
		x->http_minor = 1;
}

static int
host_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= ' ' || ch == '/' || ch == '?' || ch == '#' ||
		    ch == '@' || ch == '\\' || ch >= 0x7f || ch == '"' ||
		    ch == '<' || ch == '>')
			return 0;
	}
	return 1;
}

/*
 * Checks the parsed head and fills the exchange.  Returns 0, or -1 after
 * answering the client with the right status.
 */
static int
check_head(struct client *c)
{
	struct exch *x = c->x;
	const struct gw_hdr *h;
	struct gw_str conn = { NULL, 0 };
	struct http_parser_url u;
	size_t i, n_host = 0, n_te = 0;
	const char *mend;

	mend = memchr(x->head.data, ' ', x->head.len);
	x->method.p = x->head.data;
	x->method.n = mend ? (size_t)(mend - x->head.data) : 0;
	x->http_minor = c->parser.http_minor;
	if (c->parser.http_major != 1) {
		client_reject(
		    c, 505, "GW_BAD_REQUEST", "HTTP version not supported");
		return -1;
	}
	if (x->target.n == 0) {
		client_reject(c, 400, "GW_BAD_REQUEST", "missing target");
		return -1;
	}
	if (c->parser.method == HTTP_CONNECT) {
		client_reject(
		    c, 501, "GW_NOT_IMPLEMENTED", "CONNECT is not supported");
		return -1;
	}
	for (i = 0; i < x->n_hdrs; i++) {
		h = &x->hdrs[i];
		if (!http_token_ok(h->name.p, h->name.n)) {
			client_reject(
			    c, 400, "GW_BAD_REQUEST", "invalid header name");
			return -1;
		}
		if (!http_value_ok(h->value.p, h->value.n)) {
			client_reject(c, 400, "GW_BAD_REQUEST",
			    "invalid character in a header value");
			return -1;
		}
		/* Trailing whitespace is not part of a field value. */
		while (h->value.n > 0 &&
		    (h->value.p[h->value.n - 1] == ' ' ||
		        h->value.p[h->value.n - 1] == '\t'))
			x->hdrs[i].value.n--;
		if (http_str_ieq(h->name.p, h->name.n, "host")) {
			n_host++;
			x->host = h->value;
		} else if (http_str_ieq(
		               h->name.p, h->name.n, "transfer-encoding")) {
			n_te++;
			if (!http_str_ieq(h->value.p, h->value.n, "chunked")) {
				client_reject(c, 501, "GW_NOT_IMPLEMENTED",
				    "transfer coding not supported");
				return -1;
			}
		} else if (http_str_ieq(h->name.p, h->name.n, "connection"))
			conn = h->value;
		else if (http_str_ieq(h->name.p, h->name.n, "user-agent"))
			x->user_agent = h->value;
		else if (http_str_ieq(h->name.p, h->name.n, "expect")) {
			if (!http_str_ieq(
			        h->value.p, h->value.n, "100-continue")) {
				client_reject(c, 417, "GW_BAD_REQUEST",
				    "unsupported expectation");
				return -1;
			}
			x->expect_continue = x->http_minor >= 1;
		} else if (http_str_ieq(h->name.p, h->name.n,
		               "gw-replay-original-request-id")) {
			if (gw_evid_valid(h->value.p, h->value.n))
				x->replay_of = h->value;
		}
	}
	(void)conn;
	if (n_te > 1) {
		client_reject(c, 501, "GW_NOT_IMPLEMENTED",
		    "several Transfer-Encoding headers");
		return -1;
	}
	if (n_te > 0 && x->http_minor == 0) {
		client_reject(c, 400, "GW_BAD_REQUEST",
		    "Transfer-Encoding in an HTTP/1.0 request");
		return -1;
	}
	if (n_host > 1) {
		client_reject(c, 400, "GW_BAD_REQUEST", "several Host headers");
		return -1;
	}
	if (n_host == 0 && x->http_minor >= 1) {
		client_reject(
		    c, 400, "GW_BAD_REQUEST", "HTTP/1.1 request without Host");
		return -1;
	}
	if (x->host.n > 0 && !host_ok(x->host.p, x->host.n)) {
		client_reject(c, 400, "GW_BAD_REQUEST", "invalid Host header");
		return -1;
	}

	/* Target: origin-form, absolute-form, or "*" for OPTIONS. */
	if (x->target.p[0] == '/') {
		const char *q = memchr(x->target.p, '?', x->target.n);

		x->path.p = x->target.p;
		x->path.n = q ? (size_t)(q - x->target.p) : x->target.n;
		if (q != NULL) {
			x->query.p = q + 1;
			x->query.n = x->target.n - x->path.n - 1;
		}
	} else if (x->target.n == 1 && x->target.p[0] == '*') {
		if (c->parser.method != HTTP_OPTIONS) {
			client_reject(c, 400, "GW_BAD_REQUEST",
			    "'*' target outside OPTIONS");
			return -1;
		}
		x->path = x->target;
	} else {
		http_parser_url_init(&u);
		if (http_parser_parse_url(x->target.p, x->target.n, 0, &u) !=
		        0 ||
		    !(u.field_set & (1 << UF_HOST))) {
			client_reject(
			    c, 400, "GW_BAD_REQUEST", "invalid request target");
			return -1;
		}
		/* RFC 9112 §3.2.2: the target's authority wins over Host. */
		x->host.p = x->target.p + u.field_data[UF_HOST].off;
		x->host.n = u.field_data[UF_HOST].len;
		if (u.field_set & (1 << UF_PATH)) {
			x->path.p = x->target.p + u.field_data[UF_PATH].off;
			x->path.n = u.field_data[UF_PATH].len;
		} else
			x->path = GW_STR("/");
		if (u.field_set & (1 << UF_QUERY)) {
			x->query.p = x->target.p + u.field_data[UF_QUERY].off;
			x->query.n = u.field_data[UF_QUERY].len;
		}
	}

	if (c->parser.flags & F_CHUNKED)
		x->req_mode = BODY_CHUNKED;
	else if (c->parser.content_length != ULLONG_MAX &&
	    c->parser.content_length > 0) {
		x->req_mode = BODY_LENGTH;
		x->req_len = c->parser.content_length;
		if (x->req_len > c->conf->o.max_body_size) {
			client_reject(c, 413, "GW_BODY_TOO_LARGE",
			    "request body too large");
			return -1;
		}
	} else
		x->req_mode = BODY_NONE;
	if (x->req_mode == BODY_NONE)
		x->expect_continue = 0;
	x->keep_alive = http_should_keep_alive(&c->parser) && !P.draining;
	x->head_req = c->parser.method == HTTP_HEAD;
	return 0;
}

/* Appends the request head for the upstream to <b>.  0 or -1 (full). */
static int
build_upstream_head(struct client *c, struct gw_buf *b)
{
	struct exch *x = c->x;
	struct upstream *up = x->up;
	const struct gw_hdr *h, *ch;
	struct gw_str conn = { NULL, 0 }, hostonly;
	size_t i, mark = b->len;
	int r = 0, n_xff = 0, via = 0;

	ch = http_hdr_get(x->hdrs, x->n_hdrs, "connection");
	if (ch != NULL)
		conn = ch->value;
	r |= gw_buf_add(b, x->method.p, x->method.n);
	r |= gw_buf_addc(b, ' ');
	r |= gw_buf_adds(b, up->prefix);
	if (x->pol_url != NULL)
		r |= gw_buf_adds(b, x->pol_url);
	else if (x->target.p[0] == '/')
		r |= gw_buf_add(b, x->target.p, x->target.n);
	else {
		r |= gw_buf_add(b, x->path.p, x->path.n);
		if (x->query.n > 0) {
			r |= gw_buf_addc(b, '?');
			r |= gw_buf_add(b, x->query.p, x->query.n);
		}
	}
	r |= gw_buf_add(b, " HTTP/1.1\r\n", 11);
	if (x->target.p[0] != '/' && x->target.p[0] != '*' &&
	    !policy_drops_header(x->pol_set, x->pol_rm, "Host", 4)) {
		/* absolute-form: the authority becomes the Host. */
		r |= gw_buf_add(b, "Host: ", 6);
		r |= gw_buf_add(b, x->host.p, x->host.n);
		r |= gw_buf_add(b, "\r\n", 2);
	}
	for (i = 0; i < x->n_hdrs; i++) {
		h = &x->hdrs[i];
		if (http_hop_by_hop(h->name.p, h->name.n, &conn))
			continue;
		if (x->pol != NULL &&
		    policy_drops_header(
		        x->pol_set, x->pol_rm, h->name.p, h->name.n))
			continue;
		if (x->target.p[0] != '/' && x->target.p[0] != '*' &&
		    http_str_ieq(h->name.p, h->name.n, "host"))
			continue;
		if (http_str_ieq(h->name.p, h->name.n, "x-forwarded-for")) {
			/* Merged below, after the client's own values. */
			n_xff++;
			continue;
		}
		if (http_str_ieq(h->name.p, h->name.n, "x-forwarded-proto") ||
		    http_str_ieq(h->name.p, h->name.n, "x-forwarded-host"))
			continue;
		if (http_str_ieq(h->name.p, h->name.n, "via")) {
			r |= gw_buf_add(b, h->name.p, h->name.n);
			r |= gw_buf_add(b, ": ", 2);
			r |= gw_buf_add(b, h->value.p, h->value.n);
			r |= gw_buf_add(b, ", ", 2);
			r |= gw_buf_adds(b, P.via);
			r |= gw_buf_add(b, "\r\n", 2);
			via = 1;
			continue;
		}
		r |= gw_buf_add(b, h->name.p, h->name.n);
		r |= gw_buf_add(b, ": ", 2);
		r |= gw_buf_add(b, h->value.p, h->value.n);
		r |= gw_buf_add(b, "\r\n", 2);
	}
	if (x->pol_set != NULL)
		r |= policy_add_headers(x->pol_set, b);
	r |= gw_buf_add(b, "X-Forwarded-For: ", 17);
	for (i = 0; n_xff > 0 && i < x->n_hdrs; i++) {
		h = &x->hdrs[i];
		if (!http_str_ieq(h->name.p, h->name.n, "x-forwarded-for"))
			continue;
		r |= gw_buf_add(b, h->value.p, h->value.n);
		r |= gw_buf_add(b, ", ", 2);
	}
	r |= gw_buf_adds(b, c->ci.client_ip);
	r |= gw_buf_adds(b,
	    c->pio.ssl ? "\r\nX-Forwarded-Proto: https\r\n"
	               : "\r\nX-Forwarded-Proto: http\r\n");
	if (x->host.n > 0) {
		r |= gw_buf_add(b, "X-Forwarded-Host: ", 18);
		r |= gw_buf_add(b, x->host.p, x->host.n);
		r |= gw_buf_add(b, "\r\n", 2);
	}
	if (!via) {
		r |= gw_buf_add(b, "Via: ", 5);
		r |= gw_buf_adds(b, P.via);
		r |= gw_buf_add(b, "\r\n", 2);
	}
	if (x->req_mode == BODY_LENGTH) {
		r |= gw_buf_add(b, "Content-Length: ", 16);
		r |= gw_buf_addu(b, x->req_len);
		r |= gw_buf_add(b, "\r\n", 2);
	} else if (x->req_mode == BODY_CHUNKED)
		r |= gw_buf_add(b, "Transfer-Encoding: chunked\r\n", 28);
	r |= gw_buf_add(b, "\r\n", 2);
	(void)hostonly;
	if (r != 0) {
		b->len = mark;
		return -1;
	}
	return 0;
}

/*
 * Sends the exchange to its upstream: takes a pooled connection or opens
 * one, and queues the request head.  Returns 0, or -1 after answering.
 */
static int
exch_forward(struct client *c)
{
	struct exch *x = c->x;
	struct upconn *uc;

	uc = upconn_acquire(x->up, c, &x->reused);
	if (uc == NULL) {
		client_upstream_failed(
		    c, "GW_UPSTREAM_REFUSED", 502, strerror(errno));
		return -1;
	}
	x->uc = uc;
	x->forwarded = 1;
	if (build_upstream_head(c, &uc->out) == -1) {
		client_upstream_failed(
		    c, "GW_INTERNAL", 502, "request head too large");
		return -1;
	}
	x->sent_mono = gw_mono_ns();
	upconn_send(uc);
	return 0;
}

/*
 * Retries an exchange whose pooled upstream connection turned out dead
 * before answering.  Only requests without a body can be retried: the
 * body was streamed and is gone.  Returns 1 if a retry was started.
 */
int
client_retry(struct client *c)
{
	struct exch *x = c->x;

	if (x == NULL || !x->reused || x->retried || x->req_body > 0 ||
	    x->req_mode != BODY_NONE || x->res_started)
		return 0;
	x->retried = 1;
	x->uc = NULL;
	return exch_forward(c) == 0;
}

/* Handles a complete request head in c->in[0, end). */
static void
start_exchange(struct client *c, size_t end)
{
	struct exch *x = c->x;
	enum http_errno e;
	size_t n;

	if (http_lines_strict(gw_buf_head(&c->in), end) == -1) {
		sniff_request_line(c);
		client_reject(c, 400, "GW_BAD_REQUEST",
		    "malformed header section (bare LF, CR or obs-fold)");
		return;
	}
	gw_buf_reset(&x->head);
	if (gw_buf_add(&x->head, gw_buf_head(&c->in), end) == -1) {
		client_reject(c, 431, "GW_HEADERS_TOO_LARGE",
		    "request header section too large");
		return;
	}
	gw_buf_consume(&c->in, end);
	c->scan = 0;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	n = http_parser_execute(
	    &c->parser, &req_settings, x->head.data, x->head.len);
	e = HTTP_PARSER_ERRNO(&c->parser);
	if (e != HPE_OK && e != HPE_PAUSED) {
		x->method.n = 0;
		if (x->err_code != NULL &&
		    strcmp(x->err_code, "GW_HEADERS_TOO_LARGE") == 0) {
			client_reject(c, 431, "GW_HEADERS_TOO_LARGE",
			    "too many header fields");
		} else if (e == HPE_INVALID_TRANSFER_ENCODING) {
			client_reject(c, 501, "GW_NOT_IMPLEMENTED",
			    "transfer coding not supported");
		} else if (e == HPE_INVALID_METHOD) {
			client_reject(
			    c, 501, "GW_NOT_IMPLEMENTED", "unknown method");
		} else {
			char msg[128];

			snprintf(msg, sizeof(msg), "malformed request: %s",
			    http_errno_description(e));
			client_reject(c, 400, "GW_BAD_REQUEST", msg);
		}
		return;
	}
	(void)n;
	if (check_head(c) == -1)
		return;
	{
		struct gw_str h = http_host_only(x->host);

		if (h.n >= sizeof(c->host))
			h.n = sizeof(c->host) - 1;
		if (h.n > 0)
			memcpy(c->host, h.p, h.n);
		c->host[h.n] = '\0';
		x->up = conf_route(c->conf, h.p, h.n);
	}
	if (x->up == NULL) {
		client_reject(
		    c, 404, "GW_NO_ROUTE", "no upstream for this host");
		return;
	}
	c->state = CS_ACTIVE;
	P.n_requests++;
	set_timer(c, T_ACTIVE, c->conf->o.client_timeout);
	if (c->conf->o.policy != NULL) {
		/* The answer arrives in client_policy_answer(). */
		if (policy_ask(c, "on_http_request") == 0) {
			set_timer(c, T_POLICY, c->conf->o.policy_timeout);
			return;
		}
		if (!c->conf->o.policy_fail_open) {
			client_upstream_failed(c, "GW_POLICY_UNAVAILABLE", 503,
			    "the policy engine is unavailable");
			return;
		}
	}
	client_proceed(c);
}

/*
 * Sends the request on to its upstream: "100 Continue" first if the client
 * waits for it, then the head; the body follows as it arrives.
 */
void
client_proceed(struct client *c)
{
	struct exch *x = c->x;

	if (x->expect_continue &&
	    gw_buf_add(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0)
		x->expect_continue = 0;
	if (exch_forward(c) == -1)
		return;
	/* Body bytes that arrived while gw-policy was thinking. */
	if (c->in.len > 0 && !x->req_done)
		client_process(c);
	if (c->state != CS_DEAD)
		client_update(c);
}

/*
 * Feeds body bytes from c->in to the parser (which forwards them), as far
 * as the upstream's queue allows.
 */
static void
feed_body(struct client *c)
{
	struct exch *x = c->x;
	enum http_errno e;
	size_t n;

	while (!x->req_done && c->in.len > 0) {
		if (x->uc != NULL && x->uc->out.len >= PROXY_HIGH_WATER) {
			c->paused = 1;
			return;
		}
		n = c->in.len;
		if (n > PROXY_IO_CHUNK)
			n = PROXY_IO_CHUNK;
		n = http_parser_execute(
		    &c->parser, &req_settings, gw_buf_head(&c->in), n);
		e = HTTP_PARSER_ERRNO(&c->parser);
		gw_buf_consume(&c->in, n);
		if (e != HPE_OK && e != HPE_PAUSED) {
			if (x->err_code != NULL &&
			    strcmp(x->err_code, "GW_BODY_TOO_LARGE") == 0)
				client_upstream_failed(c, "GW_BODY_TOO_LARGE",
				    413, "request body too large");
			else
				client_upstream_failed(c, "GW_BAD_REQUEST", 400,
				    http_errno_description(e));
			return;
		}
		if (x->uc != NULL)
			upconn_send(x->uc);
	}
	c->paused = 0;
}

/*
 * Runs the connection's state machine over buffered input: request heads,
 * then bodies, then the next pipelined request once an exchange ends.
 */
static void
client_process(struct client *c)
{
	size_t end;

	for (;;) {
		switch (c->state) {
		case CS_IDLE:
		case CS_HEAD:
			if (c->in.len == 0)
				return;
			if (c->x == NULL && (c->x = exch_get(c)) == NULL) {
				client_close(c);
				return;
			}
			if (c->state == CS_IDLE) {
				c->state = CS_HEAD;
				pool_get(&c->out);
				c->x->start_ns = gw_now_ns();
				c->x->start_mono = gw_mono_ns();
				set_timer(
				    c, T_HEADER, c->conf->o.header_timeout);
			}
			if (!http_find_head_end(gw_buf_head(&c->in), c->in.len,
			        &c->scan, &end)) {
				const char *nl = memchr(
				    gw_buf_head(&c->in), '\n', c->in.len);

				if (nl == NULL &&
				    c->in.len > c->conf->o.max_line_size) {
					sniff_request_line(c);
					client_reject(c, 414, "GW_URI_TOO_LONG",
					    "request line too long");
				} else if (c->in.len >
				    c->conf->o.max_header_size) {
					sniff_request_line(c);
					client_reject(c, 431,
					    "GW_HEADERS_TOO_LARGE",
					    "request header section too large");
				}
				return;
			}
			if (end > c->conf->o.max_header_size) {
				sniff_request_line(c);
				client_reject(c, 431, "GW_HEADERS_TOO_LARGE",
				    "request header section too large");
				return;
			}
			{
				const char *nl =
				    memchr(gw_buf_head(&c->in), '\n', end);

				if (nl != NULL &&
				    (size_t)(nl - gw_buf_head(&c->in)) >
				        c->conf->o.max_line_size) {
					sniff_request_line(c);
					client_reject(c, 414, "GW_URI_TOO_LONG",
					    "request line too long");
					return;
				}
			}
			start_exchange(c, end);
			if (c->state == CS_DEAD)
				return;
			break;
		case CS_ACTIVE:
			if (c->x->req_done || c->x->uc == NULL)
				return;
			feed_body(c);
			return;
		default:
			return;
		}
	}
}

static void
client_read(struct client *c)
{
	ssize_t n;
	char *p;

	pool_get(&c->in);
	p = gw_buf_reserve(&c->in, PROXY_IO_CHUNK);
	if (p == NULL) {
		/* Full: a head over the limit, or a paused body. */
		if (c->state == CS_HEAD || c->state == CS_IDLE) {
			sniff_request_line(c);
			client_reject(c, 431, "GW_HEADERS_TOO_LARGE",
			    "request header section too large");
		} else
			c->paused = 1;
		return;
	}
	n = pio_read(&c->pio, p, gw_buf_avail(&c->in));
	if (n == -1) {
		if (errno == EAGAIN)
			return;
		client_close(c);
		return;
	}
	if (n == 0) {
		c->pio.eof = 1;
		if (c->state == CS_ACTIVE && c->x->req_done) {
			/* Half-close after a whole request: answer, then go. */
			c->close_after = 1;
			return;
		}
		client_close(c);
		return;
	}
	gw_buf_commit(&c->in, (size_t)n);
	c->ci.bytes_in += (uint64_t)n;
	if (c->state == CS_ACTIVE)
		set_timer(c, T_ACTIVE, c->conf->o.client_timeout);
	client_process(c);
}

static void
client_io(struct gw_loop *loop, struct gw_io *io, int ev)
{
	struct client *c = io->arg;
	int r;

	(void)loop;
	if (c->state == CS_HANDSHAKE) {
		r = pio_handshake(&c->pio);
		if (r == -1) {
			client_close(c);
			return;
		}
		if (r == 0) {
			client_update(c);
			return;
		}
		c->state = CS_IDLE;
		{
			const char *sni = SSL_get_servername(
			    c->pio.ssl, TLSEXT_NAMETYPE_host_name);

			if (sni != NULL)
				snprintf(c->sni, sizeof(c->sni), "%s", sni);
		}
		ev = GW_READ;
	}
	if (c->state == CS_CLOSING) {
		linger_read(c);
		return;
	}
	if (ev & GW_WRITE) {
		if (client_flush(c) == -1)
			return;
		if (c->state == CS_ACTIVE && c->x->res_done &&
		    c->out.len == 0) {
			exch_finish(c);
			return;
		}
		if (c->state == CS_ACTIVE) {
			set_timer(c, T_ACTIVE, c->conf->o.client_timeout);
			if (c->out.len < PROXY_HIGH_WATER && c->x->uc != NULL)
				upconn_resume(c->x->uc);
		}
	}
	if (ev & GW_READ) {
		/* Keep reading TLS records the library already holds. */
		do {
			client_read(c);
			if (c->state == CS_DEAD)
				return;
		} while (c->pio.ssl != NULL && !c->paused && !c->pio.eof &&
		    c->state != CS_CLOSING && SSL_pending(c->pio.ssl) > 0);
	}
	if (c->state == CS_DEAD)
		return;
	client_update(c);
}

/* ---- answers and the end of an exchange ----------------------------- */

/*
 * Closes our side and discards what the client still sends, for a while,
 * before closing: closing a socket with unread input makes the kernel
 * send a reset, which can destroy the response just written (the client
 * of a rejected request would never see its 413).  Bounded in time and in
 * bytes.
 */
static void
client_linger(struct client *c)
{
	c->state = CS_CLOSING;
	if (c->pio.ssl != NULL) {
		(void)SSL_shutdown(c->pio.ssl);
		ERR_clear_error();
	}
	(void)shutdown(c->pio.fd, SHUT_WR);
	gw_buf_reset(&c->in);
	c->linger_left = LINGER_BYTES;
	set_timer(c, T_LINGER, LINGER_MS);
	client_update(c);
}

static void
linger_read(struct client *c)
{
	static char sink[PROXY_IO_CHUNK];
	ssize_t n;

	n = read(c->pio.fd, sink, sizeof(sink));
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0 || (size_t)n >= c->linger_left) {
		client_close(c);
		return;
	}
	c->linger_left -= (size_t)n;
}

/*
 * Answers the current request with an error gw generates, and closes the
 * connection afterwards: after a malformed request the stream cannot be
 * trusted to resynchronise.
 */
static void
client_reject(struct client *c, int status, const char *code, const char *msg)
{
	struct exch *x = c->x;

	P.n_errors++;
	if (x->start_ns == 0) {
		x->start_ns = gw_now_ns();
		x->start_mono = gw_mono_ns();
	}
	x->err_code = code;
	snprintf(x->err_msg, sizeof(x->err_msg), "%s", msg);
	x->status = status;
	x->res_started = 1;
	x->res_done = 1;
	x->keep_alive = 0;
	x->res_first_ns = gw_now_ns();
	c->close_after = 1;
	c->state = CS_ACTIVE;
	gw_buf_reset(&c->in);
	(void)http_write_error(&c->out, status, code, msg, 1);
	if (client_flush(c) == -1)
		return;
	if (c->out.len == 0)
		exch_finish(c);
	else
		client_update(c);
}

/*
 * The upstream could not answer (refused, reset, timed out, sent garbage).
 * Sends <status> if nothing of the response went out yet; otherwise the
 * client connection is cut, the only honest signal left.
 */
void
client_upstream_failed(
    struct client *c, const char *code, int status, const char *msg)
{
	struct exch *x = c->x;

	if (x->uc != NULL) {
		upconn_abort(x->uc);
		x->uc = NULL;
	}
	P.n_errors++;
	x->err_code = code;
	snprintf(x->err_msg, sizeof(x->err_msg), "%s", msg);
	if (x->res_started) {
		client_close(c);
		return;
	}
	x->status = status;
	x->res_started = 1;
	x->res_done = 1;
	x->res_first_ns = gw_now_ns();
	/* Unread request body bytes make the stream unusable. */
	if (!x->req_done)
		c->close_after = 1;
	if (!x->keep_alive)
		c->close_after = 1;
	(void)http_write_error(&c->out, status, code, msg, c->close_after);
	if (client_flush(c) == -1)
		return;
	if (c->out.len == 0)
		exch_finish(c);
	else
		client_update(c);
}

/* Ends the exchange once its response is flushed, then reads the next. */
static void
exch_finish(struct client *c)
{
	struct exch *x = c->x;

	x->res_last_ns = gw_now_ns();
	emit_exchange(c);
	x->emitted = 1;
	c->n_exchanges++;
	if (c->close_after || !x->keep_alive || P.draining) {
		/* Unread request bytes would make close(2) send a reset. */
		if ((x->req_done && c->in.len == 0) || c->pio.eof)
			client_close(c);
		else
			client_linger(c);
		return;
	}
	exch_put(x);
	c->x = NULL;
	/* A new exchange sees a reload: take the current configuration. */
	if (c->conf != P.conf) {
		conf_unref(c->conf);
		c->conf = conf_ref(P.conf);
	}
	c->state = CS_IDLE;
	c->paused = 0;
	pool_put(&c->out);
	if (c->in.len > 0) {
		client_process(c);
		if (c->state != CS_DEAD)
			client_update(c);
		return;
	}
	pool_put(&c->in);
	set_timer(c, T_IDLE, c->conf->o.idle_timeout);
	client_update(c);
}

/* Called by the upstream once its response head is parsed into x. */
void
client_response_head(struct client *c)
{
	struct exch *x = c->x;
	const struct gw_hdr *h, *ch;
	struct gw_str conn = { NULL, 0 };
	struct gw_buf *b = &c->out;
	size_t i, mark = b->len;
	int r = 0, via = 0, has_cl = 0;
	uint64_t cl = 0;

	x->res_started = 1;
	x->res_first_ns = gw_now_ns();
	ch = http_hdr_get(x->rhdrs, x->n_rhdrs, "connection");
	if (ch != NULL)
		conn = ch->value;
	if (x->uc->parser.content_length != ULLONG_MAX &&
	    !(x->uc->parser.flags & F_CHUNKED)) {
		has_cl = 1;
		cl = x->uc->parser.content_length;
	}
	/* The framing towards the client. */
	if (x->head_req || x->status == 204 || x->status == 304)
		x->res_mode = BODY_NONE;
	else if (has_cl)
		x->res_mode = BODY_LENGTH;
	else if (x->http_minor >= 1)
		x->res_mode = BODY_CHUNKED;
	else {
		x->res_mode = BODY_CLOSE;
		x->keep_alive = 0;
	}
	if (!x->req_done || c->pio.eof)
		x->keep_alive = 0;

	r |= gw_buf_add(b, x->http_minor >= 1 ? "HTTP/1.1 " : "HTTP/1.0 ", 9);
	r |= gw_buf_add(b, x->rhead.data + 9,
	    (size_t)((char *)memchr(x->rhead.data, '\n', x->rhead.len) -
	        (x->rhead.data + 9) + 1));
	for (i = 0; i < x->n_rhdrs; i++) {
		h = &x->rhdrs[i];
		if (http_hop_by_hop(h->name.p, h->name.n, &conn))
			continue;
		if (x->pol_res != NULL &&
		    policy_drops_header(
		        x->pol_res_set, x->pol_res_rm, h->name.p, h->name.n))
			continue;
		if (http_str_ieq(h->name.p, h->name.n, "via")) {
			r |= gw_buf_add(b, h->name.p, h->name.n);
			r |= gw_buf_add(b, ": ", 2);
			r |= gw_buf_add(b, h->value.p, h->value.n);
			r |= gw_buf_add(b, ", ", 2);
			r |= gw_buf_adds(b, P.via);
			r |= gw_buf_add(b, "\r\n", 2);
			via = 1;
			continue;
		}
		r |= gw_buf_add(b, h->name.p, h->name.n);
		r |= gw_buf_add(b, ": ", 2);
		r |= gw_buf_add(b, h->value.p, h->value.n);
		r |= gw_buf_add(b, "\r\n", 2);
	}
	if (x->pol_res_set != NULL)
		r |= policy_add_headers(x->pol_res_set, b);
	if (!via) {
		r |= gw_buf_add(b, "Via: ", 5);
		r |= gw_buf_adds(b, P.via);
		r |= gw_buf_add(b, "\r\n", 2);
	}
	/* HEAD and 304 keep the length the full response would have. */
	if (has_cl && x->status != 204 &&
	    (x->res_mode == BODY_LENGTH || x->head_req || x->status == 304)) {
		r |= gw_buf_add(b, "Content-Length: ", 16);
		r |= gw_buf_addu(b, cl);
		r |= gw_buf_add(b, "\r\n", 2);
	} else if (x->res_mode == BODY_CHUNKED)
		r |= gw_buf_add(b, "Transfer-Encoding: chunked\r\n", 28);
	if (!x->keep_alive)
		r |= gw_buf_add(b, "Connection: close\r\n", 19);
	else if (x->http_minor == 0)
		r |= gw_buf_add(b, "Connection: keep-alive\r\n", 24);
	r |= gw_buf_add(b, "\r\n", 2);
	if (r != 0) {
		b->len = mark;
		x->res_started = 0;
		client_upstream_failed(c, "GW_UPSTREAM_BAD_RESPONSE", 502,
		    "response head too large");
		return;
	}
	if (!x->keep_alive)
		c->close_after = 1;
}

/*
 * Queues response body bytes for the client in its framing.  Returns 1
 * when the client's queue is above the high-water mark (the upstream
 * should stop reading), 0 otherwise, -1 if the queue overflowed.
 */
int
client_response_body(struct client *c, const char *p, size_t n)
{
	struct exch *x = c->x;
	char sz[24];
	int r = 0;

	x->res_body += n;
	if (c->conf->o.full_capture && !x->res_cap_trunc) {
		size_t room = c->conf->o.body_limit - x->res_cap.len;
		size_t k = n < room ? n : room;

		(void)gw_buf_add(&x->res_cap, p, k);
		if (k < n)
			x->res_cap_trunc = 1;
	}
	if (x->res_mode == BODY_NONE)
		return 0;
	if (x->res_mode == BODY_CHUNKED) {
		int k = snprintf(sz, sizeof(sz), "%zx\r\n", n);

		r |= gw_buf_add(&c->out, sz, (size_t)k);
		r |= gw_buf_add(&c->out, p, n);
		r |= gw_buf_add(&c->out, "\r\n", 2);
	} else
		r = gw_buf_add(&c->out, p, n);
	if (r != 0)
		return -1;
	return c->out.len >= PROXY_HIGH_WATER;
}

/* Called by the upstream once the whole response is queued for c. */
void
client_response_done(struct client *c)
{
	struct exch *x = c->x;

	if (x->res_mode == BODY_CHUNKED)
		(void)gw_buf_add(&c->out, "0\r\n\r\n", 5);
	x->res_done = 1;
	x->uc = NULL;
	if (client_flush(c) == -1)
		return;
	if (c->out.len == 0)
		exch_finish(c);
	else
		client_update(c);
}

/* Flushes what the upstream queued; called after each upstream read. */
void
client_kick(struct client *c)
{
	if (client_flush(c) == -1)
		return;
	client_update(c);
}

/* The upstream's request queue drained: read more body from the client. */
void
client_upstream_drained(struct client *c)
{
	if (!c->paused)
		return;
	c->paused = 0;
	client_process(c);
	if (c->state != CS_DEAD)
		client_update(c);
}

static void
client_timer(struct gw_loop *loop, struct gw_timer *t)
{
	struct client *c = t->arg;

	(void)loop;
	switch (c->timer_kind) {
	case T_IDLE:
	case T_LINGER:
		client_close(c);
		break;
	case T_POLICY:
		policy_cancel(c);
		client_policy_failed(c, "no answer from gw-policy in time");
		break;
	case T_HEADER:
		if (c->state == CS_HANDSHAKE || c->state == CS_IDLE ||
		    c->x == NULL) {
			/* Nothing of a request yet: no exchange to report. */
			client_close(c);
			return;
		}
		sniff_request_line(c);
		client_reject(c, 408, "GW_HEADER_TIMEOUT",
		    "request header not received in time");
		break;
	case T_ACTIVE:
		if (c->state != CS_ACTIVE)
			break;
		if (!c->x->req_done) {
			c->x->err_code = "GW_CLIENT_TIMEOUT";
			client_upstream_failed(c, "GW_CLIENT_TIMEOUT", 408,
			    "request body not received in time");
			return;
		}
		if (c->out.len > 0) {
			c->x->err_code = "GW_CLIENT_TIMEOUT";
			snprintf(c->x->err_msg, sizeof(c->x->err_msg),
			    "client stopped reading the response");
			client_close(c);
			return;
		}
		/* Waiting on the upstream: its own timers decide. */
		set_timer(c, T_ACTIVE, c->conf->o.client_timeout);
		break;
	default:
		break;
	}
}

/* Closes keep-alive connections that are between requests (for drain). */
void
client_drain_idle(void)
{
	struct client *c, *next;

	for (c = TAILQ_FIRST(&P.clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if ((c->state == CS_IDLE && c->in.len == 0) ||
		    c->state == CS_HANDSHAKE)
			client_close(c);
	}
}

/* ---- gw-policy's answers ---------------------------------------------- */

/*
 * Sends the response a policy answered with ("respond"): its status,
 * headers and body, framed by gw.  Like any answer of gw's own, it ends
 * the connection if the request body was not read.
 */
static void
policy_respond(struct client *c, json_t *j)
{
	struct exch *x = c->x;
	json_t *hdrs, *v, *e;
	const char *body, *k, *code;
	struct gw_buf *b = &c->out;
	size_t i, blen, mark = b->len;
	json_int_t status;
	int r = 0;

	status = json_integer_value(json_object_get(j, "status"));
	if (status < 100 || status > 599)
		status = 500;
	body = json_string_value(json_object_get(j, "body"));
	if (body == NULL)
		body = "";
	blen = strlen(body);
	code = json_string_value(json_object_get(j, "error_code"));
	if (code != NULL) {
		x->err_code = code;
		snprintf(x->err_msg, sizeof(x->err_msg), "answered by policy");
		P.n_errors++;
	}
	if (!x->req_done || !x->keep_alive)
		c->close_after = 1;
	x->status = (int)status;
	x->res_started = 1;
	x->res_done = 1;
	x->res_first_ns = gw_now_ns();
	r |= gw_buf_printf(
	    b, "HTTP/1.1 %d %s\r\n", (int)status, http_reason((int)status));
	hdrs = json_object_get(j, "headers");
	json_object_foreach(hdrs, k, v)
	{
		/* gw frames the response itself. */
		if (http_hop_by_hop(k, strlen(k), NULL))
			continue;
		if (json_is_array(v)) {
			json_array_foreach(v, i, e)
			{
				const char *s = json_string_value(e);

				if (s != NULL && http_token_ok(k, strlen(k)) &&
				    http_value_ok(s, strlen(s)))
					r |= gw_buf_printf(
					    b, "%s: %s\r\n", k, s);
			}
		} else if (json_is_string(v) && http_token_ok(k, strlen(k)) &&
		    http_value_ok(
		        json_string_value(v), strlen(json_string_value(v))))
			r |= gw_buf_printf(
			    b, "%s: %s\r\n", k, json_string_value(v));
	}
	r |= gw_buf_printf(b, "Content-Length: %zu\r\n%s\r\n", blen,
	    c->close_after ? "Connection: close\r\n" : "");
	if (!x->head_req)
		r |= gw_buf_add(b, body, blen);
	x->res_body = x->head_req ? 0 : blen;
	if (r != 0) {
		b->len = mark;
		(void)http_write_error(
		    b, 500, "GW_INTERNAL", "policy response too large", 1);
		c->close_after = 1;
	}
	if (client_flush(c) == -1)
		return;
	if (c->out.len == 0)
		exch_finish(c);
	else
		client_update(c);
}

/* The answer to on_http_response: edit, replace or cut the response. */
static void
policy_answer_response(struct client *c, json_t *answer)
{
	struct exch *x = c->x;
	const char *action, *code;
	json_t *v;

	if (answer == NULL) {
		upconn_response_go(x->uc);
		return;
	}
	x->pol_res = answer;
	action = json_string_value(json_object_get(answer, "action"));
	if (action == NULL)
		action = "continue";
	policy_record(x);
	if (strcmp(action, "respond") == 0) {
		/* The upstream's response is replaced: drop it. */
		upconn_abort(x->uc);
		x->uc = NULL;
		x->n_rhdrs = 0;
		policy_respond(c, answer);
		return;
	}
	if (strcmp(action, "close") == 0) {
		code = json_string_value(json_object_get(answer, "error_code"));
		x->err_code = code != NULL ? code : "GW_DENIED";
		snprintf(x->err_msg, sizeof(x->err_msg),
		    "connection closed by policy");
		x->res_started = 1;
		P.n_errors++;
		client_close(c);
		return;
	}
	v = json_object_get(answer, "set_headers");
	x->pol_res_set = json_is_object(v) ? v : NULL;
	v = json_object_get(answer, "remove_headers");
	x->pol_res_rm = json_is_array(v) ? v : NULL;
	upconn_response_go(x->uc);
}

/*
 * gw-policy answered c's question.  <answer> is NULL for a plain
 * "continue", else the parsed answer, which the exchange now owns.
 */
void
client_policy_answer(struct client *c, json_t *answer)
{
	struct exch *x = c->x;
	const char *action, *url, *code;
	json_t *v;

	if (c->conn_held) {
		connect_answered(c, answer, 1);
		return;
	}
	set_timer(c, T_ACTIVE, c->conf->o.client_timeout);
	if (x->asking_res) {
		x->asking_res = 0;
		policy_answer_response(c, answer);
		return;
	}
	if (answer == NULL) {
		client_proceed(c);
		return;
	}
	x->pol = answer;
	action = json_string_value(json_object_get(answer, "action"));
	if (action == NULL)
		action = "continue";
	policy_record(x);
	if (strcmp(action, "respond") == 0) {
		policy_respond(c, answer);
		return;
	}
	if (strcmp(action, "close") == 0) {
		code = json_string_value(json_object_get(answer, "error_code"));
		x->err_code = code != NULL ? code : "GW_DENIED";
		snprintf(x->err_msg, sizeof(x->err_msg),
		    "connection closed by policy");
		/* No response was sent: the event has none either. */
		x->res_started = 1;
		P.n_errors++;
		client_close(c);
		return;
	}
	v = json_object_get(answer, "set_headers");
	x->pol_set = json_is_object(v) ? v : NULL;
	v = json_object_get(answer, "remove_headers");
	x->pol_rm = json_is_array(v) ? v : NULL;
	url = json_string_value(json_object_get(answer, "rewrite_url"));
	if (url != NULL && url[0] == '/' && http_value_ok(url, strlen(url)) &&
	    strchr(url, ' ') == NULL)
		x->pol_url = url;
	client_proceed(c);
}

/*
 * No answer will come (gw-policy down, or too slow): fail closed with 503,
 * or go on unchecked with --policy-fail-open.
 */
void
client_policy_failed(struct client *c, const char *why)
{
	char msg[160];

	if (c->conn_held) {
		connect_answered(c, NULL, c->conf->o.policy_fail_open);
		return;
	}
	if (c->conf->o.policy_fail_open) {
		set_timer(c, T_ACTIVE, c->conf->o.client_timeout);
		if (c->x->asking_res) {
			c->x->asking_res = 0;
			upconn_response_go(c->x->uc);
		} else
			client_proceed(c);
		return;
	}
	c->x->asking_res = 0;
	snprintf(msg, sizeof(msg), "policy engine unavailable: %s", why);
	client_upstream_failed(c, "GW_POLICY_UNAVAILABLE", 503, msg);
}

/* c waits for gw-policy's answer: bound the wait. */
void
client_policy_wait(struct client *c)
{
	set_timer(c, T_POLICY, c->conf->o.policy_timeout);
}
