// SPDX-License-Identifier: MIT
/*
 * The response side of an exchange: the upstream's response head rebuilt
 * for the client and its body re-framed, the answers gw gives itself
 * (rejections, upstream failures, a policy's response), and the end of
 * the exchange, which emits its event and moves on to the next request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "gw-proxy.h"
#include "http.h"
#include "log.h"
#include "timeutil.h"

/* Records one field of gw's own answer as the exchange's response. */
static void
answer_field(
    struct exch *x, const char *name, size_t nn, const char *value, size_t vn)
{
	if (x->n_rhdrs < PROXY_MAX_HEADERS)
		x->rhdrs[x->n_rhdrs++] =
		    (struct gw_hdr){ { name, nn }, { value, vn } };
}

/* Full capture of gw's own answer body, capped as upstream ones are. */
static void
capture_answer_body(struct client *c, const char *body, size_t n)
{
	struct exch *x = c->x;
	size_t keep = n < c->conf->o.body_limit ? n : c->conf->o.body_limit;

	gw_buf_reset(&x->res_cap);
	(void)gw_buf_add(&x->res_cap, body, keep);
	x->res_cap_trunc = keep < n;
}

/*
 * Answers the current request with an error gw generates, and closes the
 * connection afterwards: after a malformed request the stream cannot be
 * trusted to resynchronise.
 */
void
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
	/* A circuit breaker in gw-policy counts upstream failures too. */
	if (x->forwarded && strncmp(code, "GW_UPSTREAM", 11) == 0 &&
	    c->conf->o.policy != NULL && policy_wants_response()) {
		x->n_rhdrs = 0;
		policy_notify(c);
	}
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
void
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
	client_next(c);
}

/*
 * Whether x's response goes out compressed: gw-policy's compress-response
 * chose a coding, and the response has a body that may be transformed.
 * A range (206) would no longer match its Content-Range, "no-transform"
 * forbids it (RFC 9110 §7.7), and an encoded or empty body gains nothing.
 */
static int
want_compress(const struct exch *x, int has_cl, uint64_t cl)
{
	const struct gw_hdr *h;
	struct gw_str v;

	if (x->pol_res == NULL || x->res_mode == BODY_NONE ||
	    x->status == 206 || (has_cl && cl == 0) ||
	    !json_is_string(json_object_get(x->pol_res, "compress")))
		return 0;
	if (http_hdr_get(x->rhdrs, x->n_rhdrs, "content-encoding") != NULL)
		return 0;
	h = http_hdr_get(x->rhdrs, x->n_rhdrs, "cache-control");
	if (h != NULL) {
		v = h->value;
		if (gw_http_has_token(v.p, v.n, "no-transform"))
			return 0;
	}
	return 1;
}

/*
 * Header fields that change when the body is compressed: a strong ETag
 * becomes weak (the bytes differ, the meaning does not), Accept-Ranges
 * goes (ranges of the encoded body are not offered) and Vary gains
 * Accept-Encoding.  Returns 1 when the field was handled here.
 */
static int
compressed_field(struct gw_buf *b, const struct gw_hdr *h, int *vary, int *r)
{
	if (http_str_ieq(h->name.p, h->name.n, "accept-ranges"))
		return 1;
	if (http_str_ieq(h->name.p, h->name.n, "etag")) {
		if (h->value.n == 0 || h->value.p[0] != '"')
			return 0;
		*r |= gw_buf_add(b, "ETag: W/", 8);
		*r |= gw_buf_add(b, h->value.p, h->value.n);
		*r |= gw_buf_add(b, "\r\n", 2);
		return 1;
	}
	if (http_str_ieq(h->name.p, h->name.n, "vary")) {
		if (gw_http_has_token(
		        h->value.p, h->value.n, "accept-encoding") ||
		    gw_http_has_token(h->value.p, h->value.n, "*"))
			*vary = 1;
		return 0;
	}
	return 0;
}

/* Queues <n> body bytes for client <arg> in its framing; -1 on overflow. */
static int
frame(void *arg, const char *p, size_t n)
{
	struct client *c = arg;
	char sz[24];
	int r = 0, k;

	if (c->x->res_mode != BODY_CHUNKED)
		return gw_buf_add(&c->out, p, n);
	if (n == 0)
		return 0;
	k = snprintf(sz, sizeof(sz), "%zx\r\n", n);
	r |= gw_buf_add(&c->out, sz, (size_t)k);
	r |= gw_buf_add(&c->out, p, n);
	r |= gw_buf_add(&c->out, "\r\n", 2);
	return r;
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
	int r = 0, via = 0, has_cl = 0, vary = 0;
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
	if (want_compress(x, has_cl, cl) &&
	    (x->zenc = zenc_get(json_string_value(
	         json_object_get(x->pol_res, "compress")))) != NULL) {
		/* The length is unknown until the encoder is done. */
		if (x->http_minor >= 1)
			x->res_mode = BODY_CHUNKED;
		else {
			x->res_mode = BODY_CLOSE;
			x->keep_alive = 0;
		}
	}
	if (!x->req_done || c->pio.eof)
		x->keep_alive = 0;

	r |= gw_buf_add(b, x->http_minor >= 1 ? "HTTP/1.1 " : "HTTP/1.0 ", 9);
	r |= gw_buf_add(b, x->rhead.data + 9,
	    (size_t)((char *)memchr(x->rhead.data, '\n', x->rhead.len) -
	        (x->rhead.data + 9) + 1));
	for (i = 0; i < x->n_rhdrs; i++) {
		h = &x->rhdrs[i];
		if (gw_http_hop_by_hop(h->name.p, h->name.n, conn.p, conn.n))
			continue;
		if (x->pol_res != NULL &&
		    policy_drops_header(
		        x->pol_res_set, x->pol_res_rm, h->name.p, h->name.n))
			continue;
		if (http_str_ieq(h->name.p, h->name.n, "via")) {
			/* A proxy adds itself to the chain (RFC 9110 §7.6.3). */
			r |= http_put_field(b, &h->name, &h->value, P.via);
			via = 1;
			continue;
		}
		if (x->zenc != NULL && compressed_field(b, h, &vary, &r))
			continue;
		r |= http_put_field(b, &h->name, &h->value, NULL);
	}
	if (x->pol_res_set != NULL)
		r |= policy_add_headers(x->pol_res_set, b);
	if (x->zenc != NULL) {
		r |= gw_buf_add(b, "Content-Encoding: ", 18);
		r |= gw_buf_adds(b, zenc_name(x->zenc));
		r |= gw_buf_add(b, "\r\n", 2);
		if (!vary)
			r |= gw_buf_add(b, "Vary: Accept-Encoding\r\n", 23);
	}
	if (!via) {
		r |= gw_buf_add(b, "Via: ", 5);
		r |= gw_buf_adds(b, P.via);
		r |= gw_buf_add(b, "\r\n", 2);
	}
	/* HEAD and 304 keep the length the full response would have. */
	if (has_cl && x->status != 204 && x->zenc == NULL &&
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
		zenc_put(x->zenc);
		x->zenc = NULL;
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
	if (x->zenc != NULL) {
		if (zenc_run(x->zenc, p, n, ZENC_MORE, frame, c) == -1)
			return -1;
		x->zpending = 1;
	} else if (frame(c, p, n) == -1)
		return -1;
	return c->out.len >= PROXY_HIGH_WATER;
}

/* Called by the upstream once the whole response is queued for c. */
void
client_response_done(struct client *c)
{
	struct exch *x = c->x;

	if (x->zenc != NULL) {
		/* A truncated body is better than a stream without its end. */
		if (zenc_run(x->zenc, NULL, 0, ZENC_END, frame, c) == -1)
			gw_warn("cannot finish a compressed response");
		zenc_put(x->zenc);
		x->zenc = NULL;
	}
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
	struct exch *x = c->x;

	/*
	 * The upstream paused: what the encoder holds goes out now, so a
	 * slow stream (server-sent events, say) is not held back whole.
	 */
	if (x != NULL && x->zenc != NULL && x->zpending) {
		x->zpending = 0;
		if (zenc_run(x->zenc, NULL, 0, ZENC_FLUSH, frame, c) == -1) {
			client_close(c);
			return;
		}
	}
	if (client_flush(c) == -1)
		return;
	client_update(c);
}

/*
 * Sends the response a policy answered with ("respond"): its status,
 * headers and body, framed by gw.  Like any answer of gw's own, it ends
 * the connection if the request body was not read.
 */
void
response_from_policy(struct client *c, json_t *j)
{
	struct exch *x = c->x;
	json_t *hdrs, *v;
	const char *body, *k, *code, *msg;
	struct gw_buf *b = &c->out;
	size_t i, blen, mark = b->len;
	json_int_t status;
	int r = 0;

	/*
	 * With full capture, a request body on its way is read (and
	 * captured) before the answer, so that the event holds the whole
	 * request and gw-replay can send it again: a body of a declared
	 * length within the capture limit that the client sends without
	 * waiting for 100 Continue.  request_feed() answers once it is in.
	 */
	if (!x->req_done && x->uc == NULL && c->conf->o.full_capture &&
	    x->answer_after_body == NULL && !x->expect_continue &&
	    x->req_mode == BODY_LENGTH && x->req_len <= c->conf->o.body_limit) {
		x->answer_after_body = j;
		if (c->in.len > 0)
			request_feed(c);
		else
			client_update(c);
		return;
	}
	status = json_integer_value(json_object_get(j, "status"));
	if (status < 100 || status > 599)
		status = 500;
	body = json_string_value(json_object_get(j, "body"));
	if (body == NULL)
		body = "";
	blen = strlen(body);
	code = json_string_value(json_object_get(j, "error_code"));
	msg = json_string_value(json_object_get(j, "error_message"));
	if (code != NULL) {
		x->err_code = code;
		snprintf(x->err_msg, sizeof(x->err_msg), "%s",
		    msg != NULL ? msg : "answered by policy");
		P.n_errors++;
	}
	if (!x->req_done || !x->keep_alive)
		c->close_after = 1;
	x->status = (int)status;
	x->res_started = 1;
	x->res_done = 1;
	x->res_first_ns = gw_now_ns();
	r |= gw_buf_printf(
	    b, "HTTP/1.1 %d %s\r\n", (int)status, gw_http_reason((int)status));
	/* Each field written is also the exchange's response header, for
	 * the event (the strings live in <j>, which the exchange holds). */
	x->n_rhdrs = 0;
	hdrs = json_object_get(j, "headers");
	json_object_foreach(hdrs, k, v)
	{
		size_t kn = strlen(k);

		/* gw frames the response itself. */
		if (gw_http_hop_by_hop(k, kn, NULL, 0) ||
		    !gw_http_token_ok(k, kn))
			continue;
		for (i = 0; i < (json_is_array(v) ? json_array_size(v) : 1);
		     i++) {
			const char *s = json_string_value(
			    json_is_array(v) ? json_array_get(v, i) : v);

			if (s == NULL || !gw_http_value_ok(s, strlen(s)))
				continue;
			r |= gw_buf_printf(b, "%s: %s\r\n", k, s);
			answer_field(x, k, kn, s, strlen(s));
		}
	}
	(void)snprintf(x->answer_len, sizeof(x->answer_len), "%zu", blen);
	answer_field(
	    x, "Content-Length", 14, x->answer_len, strlen(x->answer_len));
	r |= gw_buf_printf(b, "Content-Length: %s\r\n%s\r\n", x->answer_len,
	    c->close_after ? "Connection: close\r\n" : "");
	if (!x->head_req) {
		r |= gw_buf_add(b, body, blen);
		if (c->conf->o.full_capture)
			capture_answer_body(c, body, blen);
	}
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
