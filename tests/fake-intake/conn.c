/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 connections, in sample-api's shape on lib/loop: http_parser
 * for requests, keep-alive, and requests on a connection answered
 * strictly in order.  A request is answered when its last byte has been
 * read; while an answer waits (a delay rule) or output piles up, the next
 * pipelined requests wait unparsed in the read buffer, which is also what
 * bounds memory per connection.  Bodies are decoded as they arrive
 * (decode.c), so the compressed body is never held; past RAW_BODY_MAX
 * compressed bytes the request is answered 413 and the connection closed
 * without reading the rest.  An answer that closes the connection shuts
 * the write side and drains input for a while first, so that the client
 * reads the answer instead of a reset; a "reset" rule does the opposite
 * on purpose (SO_LINGER 0).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h>

#include "fake-intake.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "sock.h"

#define RBUF_SIZE    (64 * 1024) /* one read(2); pipelined requests wait */
#define OUT_MAX      (4 * 1024 * 1024)
#define OUT_HIWAT    (256 * 1024) /* stop answering pipelined requests */
#define LINGER_MS    2000
#define ACCEPT_PAUSE 100 /* ms without accepting when out of fds */
#define ACCEPT_BATCH 64

enum conn_state {
	CS_IDLE,   /* parsing requests */
	CS_WAIT,   /* an answer waits for its delay */
	CS_LINGER, /* write side shut, draining input before close */
};

struct conn {
	struct gw_io io;
	struct gw_timer timer;
	struct conn *prev, *next;
	enum conn_state state;
	bool eof;         /* peer shut its write side */
	bool close_after; /* close once output is flushed */
	bool reset_after; /* reset instead of answering (a rule) */
	http_parser parser;
	struct gw_buf out;
	size_t held; /* bytes at the end of <out> waiting for the timer */
	size_t rpos; /* unparsed input is rbuf[rpos, rlen) */
	size_t rlen;
	struct request req;
	char rbuf[RBUF_SIZE];
};

static struct {
	struct gw_loop *loop;
	int lfd;
	struct gw_io lio;
	struct gw_timer accept_timer;
	struct conn *conns;
	http_parser_settings settings;
} srv = { .lfd = -1 };

const char *
req_header(const struct request *r, const char *name, size_t *len)
{
	const struct hdr *h;
	size_t i, n, nlen = strlen(name);

	for (i = 0; i < r->nhdr; i++) {
		h = &r->hdrs[i];
		if (h->name_len != nlen ||
		    strncasecmp(r->hbuf + h->name_off, name, nlen) != 0)
			continue;
		n = h->val_len;
		while (n > 0 &&
		    (r->hbuf[h->val_off + n - 1] == ' ' ||
		        r->hbuf[h->val_off + n - 1] == '\t'))
			n--;
		*len = n;
		return r->hbuf + h->val_off;
	}
	return NULL;
}

/*
 * Requests.  http_parser hands over the URL and headers in pieces that may
 * straddle reads, so they are copied out as they come.
 */

static struct conn *
parser_conn(http_parser *p)
{
	return p->data;
}

/* Forgets the previous request; keeps the memory. */
static void
req_reset(struct request *r)
{
	r->method = HTTP_GET;
	r->url_len = 0;
	r->hlen = 0;
	r->nhdr = 0;
	r->last_was_value = false;
	r->headers_done = false;
	r->route = R_NONE;
	r->path = "/";
	r->path_len = 1;
	r->query = "";
	r->query_len = 0;
	r->raw_len = 0;
	r->keep_alive = true;
	r->http10 = false;
	r->abort_status = 0;
	r->err_status = 0;
	r->err_msg = NULL;
	decode_start(&r->dec, CODING_IDENTITY, CONTROL_MAX, &r->body);
}

static int
on_message_begin(http_parser *p)
{
	req_reset(&parser_conn(p)->req);
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct request *r = &parser_conn(p)->req;

	if (len > sizeof(r->url) - r->url_len) {
		r->abort_status = 414;
		return -1;
	}
	memcpy(r->url + r->url_len, at, len);
	r->url_len += len;
	return 0;
}

static int
hbuf_add(struct request *r, const char *at, size_t len)
{
	size_t cap;
	char *nb;

	if (len > HDR_BYTES_MAX - r->hlen) {
		r->abort_status = 431;
		return -1;
	}
	if (r->hcap - r->hlen < len) {
		cap = r->hcap != 0 ? r->hcap : 1024;
		while (cap - r->hlen < len)
			cap *= 2;
		nb = realloc(r->hbuf, cap);
		if (nb == NULL) {
			r->abort_status = 500;
			return -1;
		}
		r->hbuf = nb;
		r->hcap = cap;
	}
	memcpy(r->hbuf + r->hlen, at, len);
	r->hlen += len;
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct request *r = &parser_conn(p)->req;
	struct hdr *h;

	/* Trailers of a chunked body are not request headers. */
	if (r->headers_done)
		return 0;
	if (r->last_was_value || r->nhdr == 0) {
		if (r->nhdr == HDR_COUNT_MAX) {
			r->abort_status = 431;
			return -1;
		}
		h = &r->hdrs[r->nhdr++];
		memset(h, 0, sizeof(*h));
		h->name_off = (uint32_t)r->hlen;
		r->last_was_value = false;
	}
	h = &r->hdrs[r->nhdr - 1];
	if (hbuf_add(r, at, len) == -1)
		return -1;
	h->name_len += (uint32_t)len;
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct request *r = &parser_conn(p)->req;
	struct hdr *h;

	if (r->headers_done || r->nhdr == 0)
		return 0;
	h = &r->hdrs[r->nhdr - 1];
	if (!r->last_was_value) {
		h->val_off = (uint32_t)r->hlen;
		r->last_was_value = true;
	}
	if (hbuf_add(r, at, len) == -1)
		return -1;
	h->val_len += (uint32_t)len;
	return 0;
}

static bool
path_is(const struct request *r, const char *s)
{
	return r->path_len == strlen(s) && memcmp(r->path, s, r->path_len) == 0;
}

static bool
path_starts(const struct request *r, const char *s)
{
	size_t n = strlen(s);

	return r->path_len >= n && memcmp(r->path, s, n) == 0;
}

static bool
path_ends(const struct request *r, const char *s)
{
	size_t n = strlen(s);

	return r->path_len >= n && memcmp(r->path + r->path_len - n, s, n) == 0;
}

/* Chooses the endpoint once the headers are in, before any body byte. */
static void
route_request(struct request *r)
{
	struct http_parser_url u;
	int m = r->method;
	bool post = m == HTTP_POST, put = m == HTTP_PUT;

	http_parser_url_init(&u);
	if (m == HTTP_CONNECT ||
	    http_parser_parse_url(r->url, r->url_len, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_PATH))) {
		r->route = R_BAD_URL;
		return;
	}
	r->path = r->url + u.field_data[UF_PATH].off;
	r->path_len = u.field_data[UF_PATH].len;
	if (u.field_set & (1 << UF_QUERY)) {
		r->query = r->url + u.field_data[UF_QUERY].off;
		r->query_len = u.field_data[UF_QUERY].len;
	}

	if (path_is(r, "/_stats"))
		r->route =
		    m == HTTP_GET || m == HTTP_HEAD ? R_STATS : R_BAD_METHOD;
	else if (path_is(r, "/_control"))
		r->route = m == HTTP_GET || post ? R_CONTROL : R_BAD_METHOD;
	else if (path_is(r, "/api/v2/logs"))
		r->route = post ? R_DATADOG : R_BAD_METHOD;
	else if (path_is(r, "/loki/api/v1/push"))
		r->route = post ? R_LOKI : R_BAD_METHOD;
	else if (path_ends(r, "/v2/enqueue"))
		r->route = post ? R_PAGERDUTY : R_BAD_METHOD;
	else if (path_is(r, "/ntfy") || path_starts(r, "/ntfy/"))
		r->route = post || put ? R_NTFY : R_BAD_METHOD;
	else if (path_is(r, "/slack") || path_starts(r, "/slack/") ||
	    path_starts(r, "/services/"))
		r->route = post ? R_SLACK : R_BAD_METHOD;
	else if (post || put || m == HTTP_PATCH)
		r->route = R_WEBHOOK;
	else
		r->route = R_NOT_FOUND;
}

static int
on_headers_complete(http_parser *p)
{
	struct conn *c = parser_conn(p);
	struct request *r = &c->req;
	enum coding coding = CODING_IDENTITY;
	const char *v;
	size_t n;

	r->headers_done = true;
	r->method = p->method;
	r->http10 = p->http_major == 1 && p->http_minor == 0;
	r->keep_alive = http_should_keep_alive(p) != 0;
	route_request(r);
	if (p->content_length != ULLONG_MAX &&
	    p->content_length > RAW_BODY_MAX) {
		r->abort_status = 413;
		return -1;
	}
	v = req_header(r, "content-encoding", &n);
	if (v != NULL && decode_coding(v, n, r->route, &coding) == -1) {
		r->err_status = 400;
		r->err_msg = decode_refusal(r->route);
	}
	decode_start(&r->dec, coding,
	    intake_body_max(r->route, r->path, r->path_len), &r->body);
	/*
	 * curl waits a second for this before sending a large body.  Every
	 * earlier answer is already queued, so the order on the wire holds.
	 */
	v = req_header(r, "expect", &n);
	if (v != NULL && n == 12 && strncasecmp(v, "100-continue", 12) == 0 &&
	    !r->http10 &&
	    gw_buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n") == -1)
		return -1;
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct request *r = &parser_conn(p)->req;

	r->raw_len += len;
	if (r->raw_len > RAW_BODY_MAX) {
		r->abort_status = 413;
		return -1;
	}
	if (r->err_status == 0)
		decode_feed(&r->dec, at, len, &r->body);
	return 0;
}

/*
 * Answers.
 */

static void
resp_write(struct conn *c, const struct reply *rep)
{
	struct request *r = &c->req;
	struct gw_buf *o = &c->out;
	size_t blen = rep->body != NULL ? rep->body->len : 0;
	bool bodiless = rep->status == 204 || rep->status == 304;
	int rc = 0;

	rc |= gw_buf_printf(
	    o, "HTTP/1.1 %d %s\r\n", rep->status, gw_http_reason(rep->status));
	if (rep->ctype != NULL && !bodiless)
		rc |= gw_buf_printf(o, "Content-Type: %s\r\n", rep->ctype);
	if (!bodiless)
		rc |= gw_buf_printf(o, "Content-Length: %zu\r\n", blen);
	if (rep->retry_after >= 0)
		rc |=
		    gw_buf_printf(o, "Retry-After: %ld\r\n", rep->retry_after);
	if (rep->allow != NULL)
		rc |= gw_buf_printf(o, "Allow: %s\r\n", rep->allow);
	if (!r->keep_alive)
		rc |= gw_buf_adds(o, "Connection: close\r\n");
	else if (r->http10)
		rc |= gw_buf_adds(o, "Connection: keep-alive\r\n");
	rc |= gw_buf_adds(o, "\r\n");
	if (!bodiless && r->method != HTTP_HEAD && blen > 0)
		rc |= gw_buf_add(o, gw_buf_head(rep->body), blen);
	if (rc != 0) {
		/* Output over OUT_MAX: this connection is not worth saving. */
		gw_warn("connection output over %d bytes: closing", OUT_MAX);
		c->reset_after = true;
	}
	if (!r->keep_alive)
		c->close_after = true;
}

static void
count_answer(const struct request *r, int status)
{
	if (r->route == R_CONTROL || r->route == R_STATS)
		return;
	if (status >= 100 && status < 600)
		stats.status[status]++;
	if (status >= 400)
		stats.route[r->route].rejected++;
}

static void
conn_answer(struct conn *c)
{
	struct request *r = &c->req;
	struct verdict v = { 0, -1, 0 };
	struct route_stats *rs = &stats.route[r->route];
	struct reply rep;
	size_t before;

	r->now = gw_loop_now(srv.loop);
	decode_finish(&r->dec);
	if (r->route != R_CONTROL && r->route != R_STATS) {
		stats.requests++;
		stats.bytes_in += r->raw_len;
		stats.bytes_decoded += r->body.len;
		rs->requests++;
		rs->bytes_in += r->raw_len;
		rs->bytes_decoded += r->body.len;
		control_match(r->path, r->path_len, r->now, &v);
	}
	if (v.fail == FAIL_RESET) {
		stats.injected++;
		stats.resets++;
		rs->rejected++;
		c->reset_after = true;
	} else {
		if (v.fail != 0) {
			stats.injected++;
			intake_error(
			    r->route, v.fail, "injected by fake-intake", &rep);
			rep.retry_after = v.retry_after;
		} else
			intake_handle(r, &rep);
		count_answer(r, rep.status);
		before = c->out.len;
		resp_write(c, &rep);
		if (v.delay_ms > 0)
			c->held = c->out.len - before;
	}
	if (v.delay_ms > 0) {
		if (gw_timer_set(srv.loop, &c->timer, v.delay_ms) == -1) {
			c->held = 0;
			c->reset_after = true;
			return;
		}
		c->state = CS_WAIT;
	}
}

static int
on_message_complete(http_parser *p)
{
	struct conn *c = parser_conn(p);

	conn_answer(c);
	/*
	 * Stop after this message while its answer waits or output piles
	 * up; the rest of the pipeline stays unparsed in rbuf.
	 */
	if (c->state != CS_IDLE || c->close_after || c->reset_after ||
	    c->out.len >= OUT_HIWAT)
		http_parser_pause(p, 1);
	return 0;
}

/* A request that cannot be read on: answer it, and close. */
static void
respond_abort(struct conn *c, int status)
{
	struct request *r = &c->req;
	struct reply rep;
	const char *msg = "bad request";

	switch (status) {
	case 413:
		msg = "request body over 64 MiB";
		break;
	case 414:
		msg = "request target too long";
		break;
	case 431:
		msg = "request headers too large";
		break;
	case 500:
		msg = "out of memory";
		break;
	default:
		status = 400;
		break;
	}
	if (r->route == R_CONTROL || r->route == R_STATS)
		r->route = R_NONE;
	stats.requests++;
	stats.bytes_in += r->raw_len;
	stats.route[r->route].requests++;
	stats.route[r->route].bytes_in += r->raw_len;
	/* Before the headers are in, the method is not known for sure. */
	gw_warn("%s%s%.*s: %d: %s",
	    r->headers_done ? http_method_str(r->method) : "request",
	    r->url_len > 0 ? " " : "", (int)r->url_len, r->url, status, msg);
	intake_error(r->route, status, msg, &rep);
	count_answer(r, status);
	r->keep_alive = false;
	if (r->method == HTTP_HEAD)
		r->method = HTTP_GET;
	resp_write(c, &rep);
}

static void
conn_parse(struct conn *c)
{
	struct request *r = &c->req;
	enum http_errno err;
	size_t n;

	n = http_parser_execute(
	    &c->parser, &srv.settings, c->rbuf + c->rpos, c->rlen - c->rpos);
	c->rpos += n;
	err = HTTP_PARSER_ERRNO(&c->parser);
	if (err == HPE_PAUSED)
		http_parser_pause(&c->parser, 0);
	else if (err != HPE_OK) {
		if (r->abort_status == 0 && err == HPE_HEADER_OVERFLOW)
			r->abort_status = 431;
		if (c->state == CS_IDLE && !c->reset_after)
			respond_abort(c, r->abort_status);
		c->close_after = true;
		c->rpos = c->rlen;
	} else if (c->parser.upgrade) {
		/* The bytes after an Upgrade are not HTTP: stop here. */
		c->close_after = true;
		c->rpos = c->rlen;
	}
	if (c->rpos == c->rlen) {
		c->rpos = 0;
		c->rlen = 0;
	}
}

/*
 * Connections.
 */

static void
conn_close(struct conn *c)
{
	gw_io_stop(srv.loop, &c->io);
	gw_timer_stop(srv.loop, &c->timer);
	close(c->io.fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv.conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	decode_fini(&c->req.dec);
	gw_buf_fini(&c->req.body);
	free(c->req.hbuf);
	gw_buf_fini(&c->out);
	free(c);
}

/* Closes with a TCP reset: the client sees ECONNRESET, no answer. */
static void
conn_reset(struct conn *c)
{
	struct linger lg = { 1, 0 };

	if (setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == -1)
		gw_warn("setsockopt SO_LINGER: %s", strerror(errno));
	conn_close(c);
}

static void
conn_set_events(struct conn *c)
{
	int want = 0;

	if (c->state == CS_LINGER)
		want = GW_READ;
	else {
		if (c->state == CS_IDLE && !c->close_after && !c->eof &&
		    !c->reset_after && c->rlen - c->rpos < RBUF_SIZE &&
		    c->out.len < OUT_HIWAT)
			want |= GW_READ;
		if (c->out.len > c->held)
			want |= GW_WRITE;
	}
	if (gw_io_set(srv.loop, &c->io, want) == -1)
		gw_warn("epoll_ctl: %s", strerror(errno));
}

/* Reads once into rbuf; returns -1 when the connection is broken. */
static int
conn_read(struct conn *c)
{
	ssize_t n;

	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	if (c->rlen == RBUF_SIZE || c->eof)
		return 0;
	n = read(c->io.fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen);
	if (n > 0)
		c->rlen += (size_t)n;
	else if (n == 0)
		c->eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return -1;
	return 0;
}

/* Sends what is not held back; returns -1 when the connection is broken. */
static int
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->out.len > c->held) {
		n = send(c->io.fd, gw_buf_head(&c->out), c->out.len - c->held,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		gw_buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

/*
 * Closing right away with unread input makes the kernel send a reset,
 * which can destroy the answer the client has not read yet (a 413 before
 * the body).  So shut the write side and drain until the client closes,
 * for a bounded time.
 */
static void
conn_linger(struct conn *c)
{
	if (c->eof || shutdown(c->io.fd, SHUT_WR) == -1 ||
	    gw_timer_set(srv.loop, &c->timer, LINGER_MS) == -1) {
		conn_close(c);
		return;
	}
	c->state = CS_LINGER;
	conn_set_events(c);
}

static void
conn_linger_read(struct conn *c)
{
	ssize_t n;

	for (;;) {
		n = read(c->io.fd, c->rbuf, RBUF_SIZE);
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1 && errno == EINTR)
			continue;
		conn_close(c);
		return;
	}
}

/*
 * Moves a connection as far as it can go without waiting: flush output,
 * parse buffered requests, and finally close, reset or linger.  Arms the
 * loop for whatever it stopped on.
 */
static void
conn_step(struct conn *c)
{
	for (;;) {
		if (c->out.len > c->held && conn_flush(c) == -1) {
			conn_close(c);
			return;
		}
		if (c->state != CS_IDLE)
			break;
		if (c->reset_after) {
			conn_reset(c);
			return;
		}
		if (!c->close_after && c->rpos < c->rlen &&
		    c->out.len < OUT_HIWAT) {
			conn_parse(c);
			continue;
		}
		if (c->eof && c->rpos == c->rlen)
			c->close_after = true;
		if (c->close_after && c->out.len == 0) {
			conn_linger(c);
			return;
		}
		break;
	}
	conn_set_events(c);
}

static void
conn_io(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct conn *c = io->arg;

	(void)loop;
	if (c->state == CS_LINGER) {
		conn_linger_read(c);
		return;
	}
	if ((events & GW_READ) && conn_read(c) == -1) {
		conn_close(c);
		return;
	}
	conn_step(c);
}

static void
conn_timer(struct gw_loop *loop, struct gw_timer *t)
{
	struct conn *c = t->arg;

	(void)loop;
	if (c->state == CS_LINGER) {
		conn_close(c);
		return;
	}
	if (c->state == CS_WAIT) {
		c->state = CS_IDLE;
		c->held = 0;
	}
	conn_step(c);
}

static void
conn_new(int fd)
{
	struct conn *c;

	/* The read buffer at the end needs no clearing. */
	c = malloc(sizeof(*c));
	if (c == NULL) {
		gw_warn("malloc: %s", strerror(errno));
		close(fd);
		return;
	}
	memset(c, 0, offsetof(struct conn, rbuf));
	gw_buf_init(&c->req.body, 0);
	gw_buf_init(&c->out, OUT_MAX);
	req_reset(&c->req);
	gw_io_init(&c->io, fd, conn_io, c);
	gw_timer_init(&c->timer, conn_timer, c);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	if (gw_io_set(srv.loop, &c->io, GW_READ) == -1) {
		gw_warn("epoll_ctl: %s", strerror(errno));
		gw_buf_fini(&c->out);
		free(c);
		close(fd);
		return;
	}
	c->next = srv.conns;
	if (srv.conns != NULL)
		srv.conns->prev = c;
	srv.conns = c;
	stats.connections++;
}

static void
accept_set(bool on)
{
	if (gw_io_set(srv.loop, &srv.lio, on ? GW_READ : 0) == -1)
		gw_warn("epoll_ctl: %s", strerror(errno));
}

static void
accept_ready(struct gw_loop *loop, struct gw_io *io, int events)
{
	int fd, i;

	(void)io;
	(void)events;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = gw_accept(srv.lfd, NULL);
		if (fd != -1) {
			conn_new(fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
		case EINTR:
		case ECONNABORTED:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Level-triggered epoll would spin: back off. */
			gw_warn("accept: %s", strerror(errno));
			accept_set(false);
			if (gw_timer_set(
			        loop, &srv.accept_timer, ACCEPT_PAUSE) == -1)
				accept_set(true);
			return;
		default:
			gw_warn("accept: %s", strerror(errno));
			return;
		}
	}
}

static void
accept_resume(struct gw_loop *loop, struct gw_timer *t)
{
	(void)loop;
	(void)t;
	accept_set(true);
}

int
conn_listen(struct gw_loop *loop, int lfd)
{
	srv.loop = loop;
	srv.lfd = lfd;
	srv.settings.on_message_begin = on_message_begin;
	srv.settings.on_url = on_url;
	srv.settings.on_header_field = on_header_field;
	srv.settings.on_header_value = on_header_value;
	srv.settings.on_headers_complete = on_headers_complete;
	srv.settings.on_body = on_body;
	srv.settings.on_message_complete = on_message_complete;
	gw_io_init(&srv.lio, lfd, accept_ready, NULL);
	gw_timer_init(&srv.accept_timer, accept_resume, NULL);
	return gw_io_set(loop, &srv.lio, GW_READ);
}

void
conn_fini(void)
{
	while (srv.conns != NULL)
		conn_close(srv.conns);
	if (srv.lfd != -1) {
		gw_io_stop(srv.loop, &srv.lio);
		gw_timer_stop(srv.loop, &srv.accept_timer);
		close(srv.lfd);
		srv.lfd = -1;
	}
}
