// SPDX-License-Identifier: MIT
/*
 * The client connections of gw-proxy: one struct client per accepted
 * connection, its reads and writes, its timers, the caches that lend an
 * exchange and buffers to a connection only while it is busy, lingering
 * close, and the state machine that runs over buffered input: request
 * heads (request.c), bodies, then the next pipelined request once an
 * exchange ends (response.c).  Requests on a connection are handled one
 * at a time, in order, so pipelined requests wait in the input buffer.
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

#define LINGER_MS    2000
#define LINGER_BYTES (1024 * 1024)

static void client_io(struct gw_loop *, struct gw_io *, int);
static void client_timer(struct gw_loop *, struct gw_timer *);
static void linger_read(struct client *);

void
client_set_timer(struct client *c, int kind, uint64_t ms)
{
	c->timer_kind = kind;
	if (gw_timer_set(P.loop, &c->timer, ms) == -1)
		gw_warn("cannot arm a timer: out of memory");
}

void
client_exch_err(struct exch *x, const char *code, const char *msg)
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
	zenc_put(x->zenc);
	memset(x, 0, offsetof(struct exch, hdrs));
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
	zenc_put(x->zenc);
	free(x);
}

/* Returns an empty exchange sized for <c>'s configuration, or NULL. */
struct exch *
client_exch_get(struct client *c)
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
void
client_exch_put(struct exch *x)
{
	if (x == NULL)
		return;
	json_decref(x->pol);
	x->pol = NULL;
	json_decref(x->pol_res);
	x->pol_res = NULL;
	zenc_put(x->zenc);
	x->zenc = NULL;
	if (n_exch_cache < CACHE_MAX && x->head.cap <= 64 * 1024 &&
	    x->req_cap.cap <= 64 * 1024 && x->res_cap.cap <= 64 * 1024) {
		exch_cache[n_exch_cache++] = x;
		return;
	}
	exch_free(x);
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
	client_set_timer(c, CT_HEADER, c->conf->o.header_timeout);
	if (c->conf->o.policy != NULL && policy_wants_connect())
		decision_ask_connect(c);
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
			client_exch_err(x, "GW_CLIENT_CLOSED",
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
		client_exch_put(c->x);
		gw_buf_reset(&c->in);
		gw_buf_reset(&c->out);
		pool_put(&c->in);
		pool_put(&c->out);
		gw_buf_fini(&c->conn_extra);
		conf_unref(c->conf);
		free(c);
	}
}

/*
 * Writes what is queued for the client.  Returns 0, or -1 after closing
 * the client (the caller must not touch it then).
 */
int
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
void
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

/*
 * Runs the connection's state machine over buffered input: request heads,
 * then bodies, then the next pipelined request once an exchange ends.
 */
void
client_process(struct client *c)
{
	size_t end;

	for (;;) {
		switch (c->state) {
		case CS_IDLE:
		case CS_HEAD:
			if (c->in.len == 0)
				return;
			if (c->x == NULL &&
			    (c->x = client_exch_get(c)) == NULL) {
				client_close(c);
				return;
			}
			if (c->state == CS_IDLE) {
				c->state = CS_HEAD;
				pool_get(&c->out);
				c->x->start_ns = gw_now_ns();
				c->x->start_mono = gw_mono_ns();
				client_set_timer(
				    c, CT_HEADER, c->conf->o.header_timeout);
			}
			if (!http_find_head_end(gw_buf_head(&c->in), c->in.len,
			        &c->scan, &end)) {
				const char *nl = memchr(
				    gw_buf_head(&c->in), '\n', c->in.len);

				if (nl == NULL &&
				    c->in.len > c->conf->o.max_line_size) {
					request_sniff(c);
					client_reject(c, 414, "GW_URI_TOO_LONG",
					    "request line too long");
				} else if (c->in.len >
				    c->conf->o.max_header_size) {
					request_sniff(c);
					client_reject(c, 431,
					    "GW_HEADERS_TOO_LARGE",
					    "request header section too large");
				}
				return;
			}
			if (end > c->conf->o.max_header_size) {
				request_sniff(c);
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
					request_sniff(c);
					client_reject(c, 414, "GW_URI_TOO_LONG",
					    "request line too long");
					return;
				}
			}
			request_start(c, end);
			if (c->state == CS_DEAD)
				return;
			break;
		case CS_ACTIVE:
			if (c->x->req_done ||
			    (c->x->uc == NULL &&
			        c->x->answer_after_body == NULL))
				return;
			request_feed(c);
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
			request_sniff(c);
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
		client_set_timer(c, CT_ACTIVE, c->conf->o.client_timeout);
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
			client_set_timer(
			    c, CT_ACTIVE, c->conf->o.client_timeout);
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
void
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
	client_set_timer(c, CT_LINGER, LINGER_MS);
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
	case CT_IDLE:
	case CT_LINGER:
		client_close(c);
		break;
	case CT_POLICY:
		policy_cancel(c);
		client_policy_failed(c, "no answer from gw-policy in time");
		break;
	case CT_HEADER:
		if (c->state == CS_HANDSHAKE || c->state == CS_IDLE ||
		    c->x == NULL) {
			/* Nothing of a request yet: no exchange to report. */
			client_close(c);
			return;
		}
		request_sniff(c);
		client_reject(c, 408, "GW_HEADER_TIMEOUT",
		    "request header not received in time");
		break;
	case CT_ACTIVE:
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
		client_set_timer(c, CT_ACTIVE, c->conf->o.client_timeout);
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
 * Readies a keep-alive connection for its next request once an exchange
 * ended: the exchange and empty buffers go back to the caches, a reload's
 * configuration is taken up, and a pipelined request already buffered
 * starts at once.
 */
void
client_next(struct client *c)
{
	client_exch_put(c->x);
	c->x = NULL;
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
	client_set_timer(c, CT_IDLE, c->conf->o.idle_timeout);
	client_update(c);
}
