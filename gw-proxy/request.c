// SPDX-License-Identifier: MIT
/*
 * The request side of an exchange: the head is checked (http_parser plus
 * the RFC 9112 rules it leaves lenient), routed, put to gw-policy if one
 * is configured, rebuilt for the upstream (hop-by-hop headers out,
 * forwarding headers in) and sent; the body then streams up through the
 * parser, re-framed, as far as the upstream's queue allows.
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

static http_parser_settings req_settings;

static int exch_forward(struct client *);

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

	if (http_on_field(x->hdrs, &x->n_hdrs, PROXY_MAX_HEADERS, &x->in_value,
	        at, len) == -1) {
		x->err_code = "GW_HEADERS_TOO_LARGE";
		return -1;
	}
	return 0;
}

static int
on_header_value(http_parser *hp, const char *at, size_t len)
{
	struct client *c = hp->data;
	struct exch *x = c->x;

	http_on_value(x->hdrs, x->n_hdrs, &x->in_value, at, len);
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
		client_exch_err(x, "GW_INTERNAL", "upstream buffer full");
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
		client_exch_err(x, "GW_INTERNAL", "upstream buffer full");
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
void
request_sniff(struct client *c)
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
	if (sp == NULL || !gw_http_token_ok(p, (size_t)(sp - p)) || sp - p > 32)
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
		if (!gw_http_token_ok(h->name.p, h->name.n)) {
			client_reject(
			    c, 400, "GW_BAD_REQUEST", "invalid header name");
			return -1;
		}
		if (!gw_http_value_ok(h->value.p, h->value.n)) {
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
		if (gw_http_hop_by_hop(h->name.p, h->name.n, conn.p, conn.n))
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
			/* A proxy adds itself to the chain (RFC 9110 §7.6.3). */
			r |= http_put_field(b, &h->name, &h->value, P.via);
			via = 1;
			continue;
		}
		r |= http_put_field(b, &h->name, &h->value, NULL);
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
void
request_start(struct client *c, size_t end)
{
	struct exch *x = c->x;
	enum http_errno e;
	size_t n;

	if (http_lines_strict(gw_buf_head(&c->in), end) == -1) {
		request_sniff(c);
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
	client_set_timer(c, CT_ACTIVE, c->conf->o.client_timeout);
	if (c->conf->o.policy != NULL) {
		/* The answer arrives in client_policy_answer(). */
		if (policy_ask(c, "on_http_request") == 0) {
			client_set_timer(
			    c, CT_POLICY, c->conf->o.policy_timeout);
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
void
request_feed(struct client *c)
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
	/* The body a policy answer waited for is in: answer now. */
	if (x->req_done && x->uc == NULL && x->answer_after_body != NULL)
		response_from_policy(c, x->answer_after_body);
}
