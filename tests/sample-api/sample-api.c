/* SPDX-License-Identifier: MIT */
/*
 * sample-api: the upstream that tests, the demo and the benchmarks put
 * behind gw-proxy.  A small HTTP/1.1 server with endpoints that exercise
 * what a proxy must get right: keep-alive and pipelining, slow answers,
 * error statuses, responses without a body (HEAD, 204, 304), large bodies
 * streamed both ways with Content-Length or chunked framing, and an echo
 * that reports exactly what arrived (headers, length and SHA-256 of the
 * body).  It is deliberately self-contained (no libgw) so that a bug in
 * the library under test cannot hide itself here: one epoll loop, one
 * thread, http_parser for requests, OpenSSL for hashing.  Requests on a
 * connection are answered strictly in order; while one answer is pending
 * (a timer, a stream) the next requests wait unparsed in the read buffer,
 * which is also what bounds memory per connection.
 *
 * Endpoints (GET also accepts HEAD, which gets the GET's headers):
 *   GET /healthz               {"ok":true}
 *   GET /api/users             a JSON array of three users
 *   GET /api/users/ID          one user, or 404
 *   GET /api/fail              500 {"error":"boom"}
 *   GET /api/slow?ms=N         {"slept_ms":N} after N ms (default 2000)
 *   ANY /api/status/CODE       that status (200-599, else 400) with
 *                              {"status":CODE}; 204 and 304 bodiless
 *   GET|POST|PUT|PATCH|DELETE /api/echo
 *                              method, path, query, body length and
 *                              SHA-256, headers (names lower-cased,
 *                              repeats joined with ", ")
 *   GET /api/bytes?n=N[&chunked=1]  N bytes (default 1024), byte i is
 *                              i % 251
 *   GET /api/chunked           a small JSON body in three chunks
 *   ANY /api/close             {"closing":true}, Connection: close
 *   GET /api/raw?hex=HEX       the decoded bytes as they are, instead of
 *                              a response, then close: lets tests send a
 *                              proxy malformed responses
 * Anything else is 404 {"error":"not found"}.  A request that does not
 * parse gets 400 (414 for a target over 8 KiB, 431 for headers over
 * http_parser's 80 KiB or 256 fields) and the connection closes.  Every
 * response carries X-Sample-Api: 1 and the request's X-Request-Id.  An
 * HTTP/1.0 client asking for a chunked endpoint gets the body delimited
 * by close instead.
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <openssl/evp.h>

#define PROG "sample-api"

/* sysexits(3) */
#define EX_USAGE 64
#define EX_OSERR 71

#define RBUF_SIZE     (32 * 1024) /* one read(2); pipelined requests wait here */
#define URL_MAX       8192
#define HDR_BYTES_MAX (96 * 1024) /* http_parser itself stops at 80 KiB */
#define HDR_COUNT_MAX 256
#define OUT_MAX       (1024 * 1024) /* hard limit on a connection's output */
#define OUT_HIWAT     (256 * 1024)  /* stop answering pipelined requests */
#define STREAM_LOWAT  (64 * 1024)   /* refill a stream below this */
#define STREAM_CHUNK  (16 * 1024)
#define STREAM_BUDGET (1024 * 1024) /* per wakeup, so one stream can't hog */
#define PATTERN_MOD   251
#define SLOW_DEFAULT  2000
#define SLOW_MAX      (10 * 60 * 1000)
#define BYTES_DEFAULT 1024
#define BYTES_MAX     (1ULL << 40)
#define LINGER_MS     2000
#define ACCEPT_PAUSE  100 /* ms to stop accepting when out of fds */

/* Output buffer: data[off, off + len).  A failed append sets <failed>. */
struct buf {
	char *data;
	size_t off;
	size_t len;
	size_t cap;
	bool failed;
};

enum route {
	R_NONE,
	R_BAD_URL,
	R_BAD_PARAM,
	R_BAD_STATUS,
	R_NOT_FOUND,
	R_HEALTHZ,
	R_USERS,
	R_USER,
	R_FAIL,
	R_SLOW,
	R_STATUS,
	R_ECHO,
	R_BYTES,
	R_CHUNKED,
	R_CLOSE,
	R_RAW,
};

enum conn_state {
	CS_IDLE,   /* parsing requests */
	CS_WAIT,   /* a response waits for its timer */
	CS_STREAM, /* a response body is being generated */
	CS_LINGER, /* write side shut, draining input before close */
};

/* Body framing of a response. */
enum framing {
	FR_LENGTH,  /* Content-Length */
	FR_CHUNKED, /* Transfer-Encoding: chunked */
	FR_CLOSE, /* delimited by close: chunked asked by an HTTP/1.0 client */
	FR_NONE,  /* 204 and 304: no body, no length */
};

/* epoll data.ptr points at one of these, first member of its owner. */
enum watch_kind {
	W_LISTEN,
	W_SIGNAL,
	W_CONN,
};

struct hdr {
	uint32_t name_off;
	uint32_t name_len;
	uint32_t val_off;
	uint32_t val_len;
};

/* The request being parsed or answered; reset at each message begin. */
struct req {
	size_t url_len;
	char *hbuf; /* header names and values, owned, kept across requests */
	size_t hlen;
	size_t hcap;
	size_t nhdr;
	bool last_was_value;
	bool headers_done;
	int xrid; /* index of X-Request-Id in hdrs, or -1 */
	bool head;
	bool http10;
	bool keep_alive;
	int err_status; /* status for a parse error, 400 unless a limit hit */
	enum route route;
	const char *path;
	size_t path_len;
	const char *query;
	size_t query_len;
	uint64_t arg; /* user id, status, ms or byte count, per route */
	bool chunked;
	uint64_t body_len;
	struct hdr hdrs[HDR_COUNT_MAX];
	char url[URL_MAX];
};

struct conn {
	enum watch_kind kind; /* first: epoll data.ptr */
	int fd;
	uint32_t events; /* registered with epoll */
	enum conn_state state;
	bool eof;         /* peer shut its write side */
	bool close_after; /* close once output is flushed */
	http_parser parser;
	EVP_MD_CTX *sha; /* created on first echo, kept */
	struct buf out;
	uint64_t timer_at;
	size_t timer_idx; /* heap slot + 1; 0 when not armed */
	uint64_t stream_left;
	uint64_t stream_pos;
	bool stream_chunked;
	size_t rpos; /* unparsed input is rbuf[rpos, rlen) */
	size_t rlen;
	struct req req;
	char rbuf[RBUF_SIZE];
};

static const struct user {
	unsigned id;
	const char *name;
	const char *email;
	const char *role;
} users[] = {
	{ 1, "Ada Lovelace", "ada@example.com", "admin" },
	{ 2, "Alan Turing", "alan@example.com", "user" },
	{ 3, "Grace Hopper", "grace@example.com", "user" },
};

static struct {
	int ep;
	int lfd;
	int sfd;
	enum watch_kind listen_kind;
	enum watch_kind signal_kind;
	bool accepting;
	uint64_t accept_resume;
	struct conn **heap; /* timers, min-heap on timer_at */
	size_t nheap;
	size_t heap_cap;
	struct buf scratch; /* response bodies built before their length */
	unsigned char pattern[PATTERN_MOD + STREAM_CHUNK];
	http_parser_settings settings;
} srv;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
warn_errno(const char *what)
{
	fprintf(stderr, PROG ": warning: %s: %s\n", what, strerror(errno));
}

/*
 * Buffers.  Appends never report failure to the caller: they set a sticky
 * flag that the connection checks once per step and closes on, which keeps
 * the response builders readable.
 */

static int
buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return -1;
	if (b->cap - b->off - b->len >= n)
		return 0;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		if (b->cap - b->len >= n)
			return 0;
	}
	if (n > OUT_MAX - b->len)
		goto fail;
	cap = b->cap != 0 ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		goto fail;
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->failed = true;
	return -1;
}

static char *
buf_tail(struct buf *b)
{
	return b->data + b->off + b->len;
}

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0 || buf_reserve(b, n) == -1)
		return;
	memcpy(buf_tail(b), p, n);
	b->len += n;
}

static void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_addu(struct buf *b, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void
buf_addx(struct buf *b, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[20], *p = tmp + sizeof(tmp);

	do {
		*--p = hex[v & 0xf];
		v >>= 4;
	} while (v != 0);
	buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void
buf_reset(struct buf *b)
{
	b->off = 0;
	b->len = 0;
	b->failed = false;
}

/* Length of the valid UTF-8 sequence at <s>, or 0 if it is not one. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Appends <s> escaped for the inside of a JSON string.  Bytes that are not
 * valid UTF-8 become \u00XX (their Latin-1 reading) so that the output is
 * always valid JSON, whatever a client put in a header.
 */
static void
buf_json_raw(struct buf *b, const char *s, size_t n, bool lower)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i, k;
	char *p;

	if (n == 0)
		return;
	if (n > OUT_MAX / 6 || buf_reserve(b, n * 6) == -1) {
		b->failed = true;
		return;
	}
	p = buf_tail(b);
	for (i = 0; i < n; i++) {
		if (u[i] == '"' || u[i] == '\\') {
			*p++ = '\\';
			*p++ = (char)u[i];
		} else if (u[i] >= 0x20 && u[i] < 0x7f) {
			if (lower && u[i] >= 'A' && u[i] <= 'Z')
				*p++ = (char)(u[i] + ('a' - 'A'));
			else
				*p++ = (char)u[i];
		} else if (u[i] >= 0x80 && (k = utf8_seq(u + i, n - i)) > 0) {
			memcpy(p, u + i, k);
			p += k;
			i += k - 1;
		} else {
			memcpy(p, "\\u00", 4);
			p[4] = hex[u[i] >> 4];
			p[5] = hex[u[i] & 0xf];
			p += 6;
		}
	}
	b->len = (size_t)(p - (b->data + b->off));
}

static void
buf_json_str(struct buf *b, const char *s, size_t n, bool lower)
{
	buf_add(b, "\"", 1);
	buf_json_raw(b, s, n, lower);
	buf_add(b, "\"", 1);
}

/*
 * Timers: a binary min-heap of connections on timer_at.  Each connection
 * has at most one timer (its slow answer or its lingering close).
 */

static void
heap_place(size_t i, struct conn *c)
{
	srv.heap[i] = c;
	c->timer_idx = i + 1;
}

static void
heap_up(size_t i)
{
	struct conn *c = srv.heap[i];

	while (i > 0 && srv.heap[(i - 1) / 2]->timer_at > c->timer_at) {
		heap_place(i, srv.heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_place(i, c);
}

static void
heap_down(size_t i)
{
	struct conn *c = srv.heap[i];
	size_t j;

	for (;;) {
		j = 2 * i + 1;
		if (j >= srv.nheap)
			break;
		if (j + 1 < srv.nheap &&
		    srv.heap[j + 1]->timer_at < srv.heap[j]->timer_at)
			j++;
		if (srv.heap[j]->timer_at >= c->timer_at)
			break;
		heap_place(i, srv.heap[j]);
		i = j;
	}
	heap_place(i, c);
}

static void
timer_del(struct conn *c)
{
	size_t i;
	struct conn *last;

	if (c->timer_idx == 0)
		return;
	i = c->timer_idx - 1;
	c->timer_idx = 0;
	last = srv.heap[--srv.nheap];
	if (i == srv.nheap)
		return;
	heap_place(i, last);
	heap_up(i);
	heap_down(last->timer_idx - 1);
}

static int
timer_set(struct conn *c, uint64_t at)
{
	struct conn **h;
	size_t cap;

	timer_del(c);
	if (srv.nheap == srv.heap_cap) {
		cap = srv.heap_cap != 0 ? srv.heap_cap * 2 : 64;
		h = reallocarray(srv.heap, cap, sizeof(*h));
		if (h == NULL)
			return -1;
		srv.heap = h;
		srv.heap_cap = cap;
	}
	c->timer_at = at;
	heap_place(srv.nheap++, c);
	heap_up(srv.nheap - 1);
	return 0;
}

/* Milliseconds epoll_wait may sleep before the next timer is due. */
static int
timers_timeout(void)
{
	uint64_t now, next = UINT64_MAX;

	if (srv.nheap > 0)
		next = srv.heap[0]->timer_at;
	if (!srv.accepting && srv.accept_resume < next)
		next = srv.accept_resume;
	if (next == UINT64_MAX)
		return -1;
	now = now_ms();
	if (next <= now)
		return 0;
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
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

static int
on_message_begin(http_parser *p)
{
	struct req *r = &parser_conn(p)->req;

	r->url_len = 0;
	r->hlen = 0;
	r->nhdr = 0;
	r->last_was_value = false;
	r->headers_done = false;
	r->xrid = -1;
	r->head = false;
	r->http10 = false;
	r->keep_alive = true;
	r->err_status = 400;
	r->route = R_NONE;
	r->body_len = 0;
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct req *r = &parser_conn(p)->req;

	if (len > sizeof(r->url) - r->url_len) {
		r->err_status = 414;
		return -1;
	}
	memcpy(r->url + r->url_len, at, len);
	r->url_len += len;
	return 0;
}

static int
hbuf_add(struct req *r, const char *at, size_t len)
{
	size_t cap;
	char *nb;

	if (len > HDR_BYTES_MAX - r->hlen) {
		r->err_status = 431;
		return -1;
	}
	if (r->hcap - r->hlen < len) {
		cap = r->hcap != 0 ? r->hcap : 1024;
		while (cap - r->hlen < len)
			cap *= 2;
		nb = realloc(r->hbuf, cap);
		if (nb == NULL)
			return -1;
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
	struct req *r = &parser_conn(p)->req;
	struct hdr *h;

	/* Trailers of a chunked body are not request headers. */
	if (r->headers_done)
		return 0;
	if (r->last_was_value || r->nhdr == 0) {
		if (r->nhdr == HDR_COUNT_MAX) {
			r->err_status = 431;
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
	struct req *r = &parser_conn(p)->req;
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
hdr_is(const struct req *r, const struct hdr *h, const char *name)
{
	return h->name_len == strlen(name) &&
	    strncasecmp(r->hbuf + h->name_off, name, h->name_len) == 0;
}

/* The value of header <i> without the trailing blanks http_parser keeps. */
static const char *
hdr_value(const struct req *r, size_t i, size_t *len)
{
	const struct hdr *h = &r->hdrs[i];
	size_t n = h->val_len;

	while (n > 0 &&
	    (r->hbuf[h->val_off + n - 1] == ' ' ||
	        r->hbuf[h->val_off + n - 1] == '\t'))
		n--;
	*len = n;
	return r->hbuf + h->val_off;
}

static bool
path_is(const struct req *r, const char *s)
{
	return r->path_len == strlen(s) && memcmp(r->path, s, r->path_len) == 0;
}

/* If the path starts with <prefix>, returns the rest's length, else -1. */
static long
path_rest(const struct req *r, const char *prefix)
{
	size_t n = strlen(prefix);

	if (r->path_len < n || memcmp(r->path, prefix, n) != 0)
		return -1;
	return (long)(r->path_len - n);
}

/* Parses a decimal of 1-19 digits no greater than <max>. */
static int
parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 19)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Finds <name> in an a=1&b=2 query; returns true and the raw value. */
static bool
query_get(const struct req *r, const char *name, const char **val, size_t *vlen)
{
	const char *q = r->query, *end = r->query + r->query_len, *amp, *eq;
	size_t n = strlen(name);

	while (q < end) {
		amp = memchr(q, '&', (size_t)(end - q));
		if (amp == NULL)
			amp = end;
		eq = memchr(q, '=', (size_t)(amp - q));
		if (eq == NULL)
			eq = amp;
		if ((size_t)(eq - q) == n && memcmp(q, name, n) == 0) {
			*val = eq < amp ? eq + 1 : amp;
			*vlen = (size_t)(amp - *val);
			return true;
		}
		q = amp + 1;
	}
	return false;
}

/* A query number: <def> when absent, -1 when present but not a number. */
static int
query_u64(const struct req *r, const char *name, uint64_t def, uint64_t max,
    uint64_t *out)
{
	const char *v;
	size_t n;

	if (!query_get(r, name, &v, &n)) {
		*out = def;
		return 0;
	}
	return parse_u64(v, n, max, out);
}

static int
query_bool(const struct req *r, const char *name, bool *out)
{
	const char *v;
	size_t n;

	*out = false;
	if (!query_get(r, name, &v, &n))
		return 0;
	if ((n == 1 && v[0] == '1') || (n == 4 && memcmp(v, "true", 4) == 0))
		*out = true;
	else if (!(n == 1 && v[0] == '0') &&
	    !(n == 5 && memcmp(v, "false", 5) == 0))
		return -1;
	return 0;
}

/* Chooses the endpoint once the headers are in, before any body byte. */
static void
route_request(struct conn *c)
{
	struct req *r = &c->req;
	struct http_parser_url u;
	int m = c->parser.method;
	bool get = m == HTTP_GET || m == HTTP_HEAD;
	long rest;

	r->path = "/";
	r->path_len = 1;
	r->query = "";
	r->query_len = 0;
	http_parser_url_init(&u);
	if (http_parser_parse_url(r->url, r->url_len, m == HTTP_CONNECT, &u) !=
	    0) {
		r->route = R_BAD_URL;
		return;
	}
	if (u.field_set & (1 << UF_PATH)) {
		r->path = r->url + u.field_data[UF_PATH].off;
		r->path_len = u.field_data[UF_PATH].len;
	}
	if (u.field_set & (1 << UF_QUERY)) {
		r->query = r->url + u.field_data[UF_QUERY].off;
		r->query_len = u.field_data[UF_QUERY].len;
	}

	r->route = R_NOT_FOUND;
	if (get && path_is(r, "/healthz"))
		r->route = R_HEALTHZ;
	else if (get && path_is(r, "/api/users"))
		r->route = R_USERS;
	else if (get && (rest = path_rest(r, "/api/users/")) > 0) {
		/* An id that is not a number is a user that does not exist. */
		if (parse_u64(r->path + r->path_len - rest, (size_t)rest,
		        UINT32_MAX, &r->arg) == -1)
			r->arg = 0;
		r->route = R_USER;
	} else if (get && path_is(r, "/api/fail"))
		r->route = R_FAIL;
	else if (get && path_is(r, "/api/slow")) {
		r->route = R_SLOW;
		if (query_u64(r, "ms", SLOW_DEFAULT, SLOW_MAX, &r->arg) == -1)
			r->route = R_BAD_PARAM;
	} else if ((rest = path_rest(r, "/api/status/")) > 0) {
		r->route = R_STATUS;
		if (parse_u64(r->path + r->path_len - rest, (size_t)rest, 599,
		        &r->arg) == -1 ||
		    r->arg < 200)
			r->route = R_BAD_STATUS;
	} else if (path_is(r, "/api/echo") &&
	    (get || m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH ||
	        m == HTTP_DELETE))
		r->route = R_ECHO;
	else if (get && path_is(r, "/api/bytes")) {
		r->route = R_BYTES;
		if (query_u64(r, "n", BYTES_DEFAULT, BYTES_MAX, &r->arg) ==
		        -1 ||
		    query_bool(r, "chunked", &r->chunked) == -1)
			r->route = R_BAD_PARAM;
	} else if (get && path_is(r, "/api/chunked"))
		r->route = R_CHUNKED;
	else if (path_is(r, "/api/close"))
		r->route = R_CLOSE;
	else if (get && path_is(r, "/api/raw"))
		r->route = R_RAW;
}

static int
on_headers_complete(http_parser *p)
{
	struct conn *c = parser_conn(p);
	struct req *r = &c->req;
	bool expect = false;
	const char *v;
	size_t i, n;

	r->headers_done = true;
	r->head = p->method == HTTP_HEAD;
	r->http10 = p->http_major == 1 && p->http_minor == 0;
	r->keep_alive = http_should_keep_alive(p) != 0;
	for (i = 0; i < r->nhdr; i++) {
		if (hdr_is(r, &r->hdrs[i], "x-request-id"))
			r->xrid = (int)i;
		else if (hdr_is(r, &r->hdrs[i], "expect")) {
			v = hdr_value(r, i, &n);
			expect =
			    n == 12 && strncasecmp(v, "100-continue", n) == 0;
		}
	}
	route_request(c);
	if (r->route == R_ECHO) {
		if (c->sha == NULL && (c->sha = EVP_MD_CTX_new()) == NULL)
			return -1;
		if (EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL) != 1)
			return -1;
	}
	/*
	 * curl waits a second for this before sending a large body.  Every
	 * earlier response is already queued, so the order on the wire holds.
	 */
	if (expect && !r->http10)
		buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);

	c->req.body_len += len;
	if (c->req.route == R_ECHO && EVP_DigestUpdate(c->sha, at, len) != 1)
		return -1;
	return 0;
}

/*
 * Responses.
 */

static const char *
reason(unsigned status)
{
	switch (status) {
#define XX(num, name, string) \
	case num:             \
		return #string;
		HTTP_STATUS_MAP(XX)
#undef XX
	case 418:
		return "I'm a teapot";
	default:
		return "Unknown";
	}
}

static void
resp_head(struct conn *c, unsigned status, const char *ctype, uint64_t clen,
    enum framing fr)
{
	struct buf *o = &c->out;
	struct req *r = &c->req;
	const char *v;
	size_t n;

	buf_adds(o, "HTTP/1.1 ");
	buf_addu(o, status);
	buf_add(o, " ", 1);
	buf_adds(o, reason(status));
	buf_add(o, "\r\n", 2);
	if (ctype != NULL) {
		buf_adds(o, "Content-Type: ");
		buf_adds(o, ctype);
		buf_add(o, "\r\n", 2);
	}
	if (fr == FR_LENGTH) {
		buf_adds(o, "Content-Length: ");
		buf_addu(o, clen);
		buf_add(o, "\r\n", 2);
	} else if (fr == FR_CHUNKED)
		buf_adds(o, "Transfer-Encoding: chunked\r\n");
	buf_adds(o, "X-Sample-Api: 1\r\n");
	if (r->xrid >= 0) {
		v = hdr_value(r, (size_t)r->xrid, &n);
		buf_adds(o, "X-Request-Id: ");
		buf_add(o, v, n);
		buf_add(o, "\r\n", 2);
	}
	if (fr == FR_CLOSE)
		r->keep_alive = false;
	if (!r->keep_alive)
		buf_adds(o, "Connection: close\r\n");
	else if (r->http10)
		buf_adds(o, "Connection: keep-alive\r\n");
	buf_add(o, "\r\n", 2);
}

/* The response is complete: go back to parsing, or close. */
static void
resp_done(struct conn *c)
{
	c->state = CS_IDLE;
	if (!c->req.keep_alive)
		c->close_after = true;
}

static void
resp_json(struct conn *c, unsigned status, const char *body, size_t len)
{
	if (status == 204 || status == 304)
		resp_head(c, status, NULL, 0, FR_NONE);
	else {
		resp_head(c, status, "application/json", len, FR_LENGTH);
		if (!c->req.head)
			buf_add(&c->out, body, len);
	}
	resp_done(c);
}

static void
resp_jsons(struct conn *c, unsigned status, const char *body)
{
	resp_json(c, status, body, strlen(body));
}

/* Sends the body built in srv.scratch. */
static void
resp_scratch(struct conn *c, unsigned status)
{
	if (srv.scratch.failed) {
		c->out.failed = true;
		return;
	}
	resp_json(
	    c, status, srv.scratch.data + srv.scratch.off, srv.scratch.len);
}

static void
user_json(struct buf *b, const struct user *u)
{
	buf_adds(b, "{\"id\":");
	buf_addu(b, u->id);
	buf_adds(b, ",\"name\":");
	buf_json_str(b, u->name, strlen(u->name), false);
	buf_adds(b, ",\"email\":");
	buf_json_str(b, u->email, strlen(u->email), false);
	buf_adds(b, ",\"role\":");
	buf_json_str(b, u->role, strlen(u->role), false);
	buf_add(b, "}", 1);
}

static void
respond_users(struct conn *c)
{
	struct buf *b = &srv.scratch;
	size_t i;

	buf_reset(b);
	buf_add(b, "[", 1);
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		if (i > 0)
			buf_add(b, ",", 1);
		user_json(b, &users[i]);
	}
	buf_add(b, "]", 1);
	resp_scratch(c, 200);
}

static void
respond_user(struct conn *c)
{
	size_t i;

	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		if (users[i].id == c->req.arg) {
			buf_reset(&srv.scratch);
			user_json(&srv.scratch, &users[i]);
			resp_scratch(c, 200);
			return;
		}
	}
	resp_jsons(c, 404, "{\"error\":\"user not found\"}");
}

static void
respond_status(struct conn *c)
{
	unsigned status = (unsigned)c->req.arg;

	buf_reset(&srv.scratch);
	/* 205 forbids content, but a zero length is still right. */
	if (status != 205) {
		buf_adds(&srv.scratch, "{\"status\":");
		buf_addu(&srv.scratch, status);
		buf_add(&srv.scratch, "}", 1);
	}
	resp_scratch(c, status);
}

/*
 * Echo.  Duplicate headers are joined with ", " in arrival order, which is
 * what a proxy may legally do to them too, so tests compare like with like.
 */
static void
respond_echo(struct conn *c)
{
	static const char hex[] = "0123456789abcdef";
	struct req *r = &c->req;
	struct buf *b = &srv.scratch;
	unsigned char md[EVP_MAX_MD_SIZE];
	char mdhex[2 * EVP_MAX_MD_SIZE];
	unsigned mdlen = 0, i;
	size_t j, k, n;
	const char *v, *m;
	bool first = true, dup;

	if (EVP_DigestFinal_ex(c->sha, md, &mdlen) != 1) {
		c->out.failed = true;
		return;
	}
	for (i = 0; i < mdlen; i++) {
		mdhex[2 * i] = hex[md[i] >> 4];
		mdhex[2 * i + 1] = hex[md[i] & 0xf];
	}
	buf_reset(b);
	m = http_method_str(c->parser.method);
	buf_adds(b, "{\"method\":");
	buf_json_str(b, m, strlen(m), false);
	buf_adds(b, ",\"path\":");
	buf_json_str(b, r->path, r->path_len, false);
	buf_adds(b, ",\"query\":");
	buf_json_str(b, r->query, r->query_len, false);
	buf_adds(b, ",\"length\":");
	buf_addu(b, r->body_len);
	buf_adds(b, ",\"sha256\":\"");
	buf_add(b, mdhex, 2 * mdlen);
	buf_adds(b, "\",\"headers\":{");
	for (j = 0; j < r->nhdr; j++) {
		dup = false;
		for (k = 0; k < j && !dup; k++)
			dup = r->hdrs[k].name_len == r->hdrs[j].name_len &&
			    strncasecmp(r->hbuf + r->hdrs[k].name_off,
			        r->hbuf + r->hdrs[j].name_off,
			        r->hdrs[j].name_len) == 0;
		if (dup)
			continue;
		if (!first)
			buf_add(b, ",", 1);
		first = false;
		buf_json_str(b, r->hbuf + r->hdrs[j].name_off,
		    r->hdrs[j].name_len, true);
		buf_add(b, ":", 1);
		buf_add(b, "\"", 1);
		for (k = j; k < r->nhdr; k++) {
			if (r->hdrs[k].name_len != r->hdrs[j].name_len ||
			    strncasecmp(r->hbuf + r->hdrs[k].name_off,
			        r->hbuf + r->hdrs[j].name_off,
			        r->hdrs[j].name_len) != 0)
				continue;
			if (k > j)
				buf_add(b, ", ", 2);
			v = hdr_value(r, k, &n);
			buf_json_raw(b, v, n, false);
		}
		buf_add(b, "\"", 1);
	}
	buf_adds(b, "}}");
	resp_scratch(c, 200);
}

static void
respond_chunked(struct conn *c)
{
	static const char *const parts[] = {
		"{\"chunked\":true,",
		"\"parts\":[\"one\",\"two\",\"three\"],",
		"\"note\":\"sent as several chunks\"}",
	};
	struct req *r = &c->req;
	size_t i;

	resp_head(
	    c, 200, "application/json", 0, r->http10 ? FR_CLOSE : FR_CHUNKED);
	if (!r->head) {
		for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			if (!r->http10) {
				buf_addx(&c->out, strlen(parts[i]));
				buf_add(&c->out, "\r\n", 2);
			}
			buf_adds(&c->out, parts[i]);
			if (!r->http10)
				buf_add(&c->out, "\r\n", 2);
		}
		if (!r->http10)
			buf_adds(&c->out, "0\r\n\r\n");
	}
	resp_done(c);
}

static void
respond_bytes(struct conn *c)
{
	struct req *r = &c->req;
	enum framing fr = FR_LENGTH;

	if (r->chunked)
		fr = r->http10 ? FR_CLOSE : FR_CHUNKED;
	resp_head(c, 200, "application/octet-stream", r->arg, fr);
	if (r->head || (fr != FR_CHUNKED && r->arg == 0)) {
		resp_done(c);
		return;
	}
	c->stream_left = r->arg;
	c->stream_pos = 0;
	c->stream_chunked = fr == FR_CHUNKED;
	c->state = CS_STREAM;
}

/*
 * Appends the next piece of a /api/bytes body straight from the pattern
 * table, never more than STREAM_CHUNK, and returns the bytes added.
 */
static size_t
stream_fill(struct conn *c)
{
	size_t n = STREAM_CHUNK, before = c->out.len;

	if (c->stream_left < n)
		n = (size_t)c->stream_left;
	if (n > 0) {
		if (c->stream_chunked) {
			buf_addx(&c->out, n);
			buf_add(&c->out, "\r\n", 2);
		}
		buf_add(&c->out, srv.pattern + c->stream_pos % PATTERN_MOD, n);
		if (c->stream_chunked)
			buf_add(&c->out, "\r\n", 2);
		c->stream_left -= n;
		c->stream_pos += n;
	}
	if (c->stream_left == 0) {
		if (c->stream_chunked)
			buf_adds(&c->out, "0\r\n\r\n");
		resp_done(c);
	}
	return c->out.len - before;
}

static void
respond_slow_done(struct conn *c)
{
	buf_reset(&srv.scratch);
	buf_adds(&srv.scratch, "{\"slept_ms\":");
	buf_addu(&srv.scratch, c->req.arg);
	buf_add(&srv.scratch, "}", 1);
	resp_scratch(c, 200);
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Writes the bytes of ?hex= verbatim and closes: a broken "response". */
static void
respond_raw(struct conn *c)
{
	struct req *r = &c->req;
	const char *v;
	size_t n, i;
	char byte;

	if (!query_get(r, "hex", &v, &n) || n % 2 != 0) {
		resp_jsons(c, 400, "{\"error\":\"hex= with an even length\"}");
		return;
	}
	for (i = 0; i < n; i += 2) {
		if (hexval(v[i]) < 0 || hexval(v[i + 1]) < 0) {
			resp_jsons(c, 400, "{\"error\":\"bad hex\"}");
			return;
		}
		byte = (char)(hexval(v[i]) * 16 + hexval(v[i + 1]));
		buf_add(&c->out, &byte, 1);
	}
	r->keep_alive = false;
	resp_done(c);
}

static void
respond(struct conn *c)
{
	struct req *r = &c->req;

	switch (r->route) {
	case R_HEALTHZ:
		resp_jsons(c, 200, "{\"ok\":true}");
		break;
	case R_USERS:
		respond_users(c);
		break;
	case R_USER:
		respond_user(c);
		break;
	case R_FAIL:
		resp_jsons(c, 500, "{\"error\":\"boom\"}");
		break;
	case R_SLOW:
		if (timer_set(c, now_ms() + r->arg) == -1) {
			c->out.failed = true;
			break;
		}
		c->state = CS_WAIT;
		break;
	case R_STATUS:
		respond_status(c);
		break;
	case R_ECHO:
		respond_echo(c);
		break;
	case R_BYTES:
		respond_bytes(c);
		break;
	case R_CHUNKED:
		respond_chunked(c);
		break;
	case R_CLOSE:
		r->keep_alive = false;
		resp_jsons(c, 200, "{\"closing\":true}");
		break;
	case R_RAW:
		respond_raw(c);
		break;
	case R_BAD_URL:
		resp_jsons(c, 400, "{\"error\":\"bad request target\"}");
		break;
	case R_BAD_PARAM:
		resp_jsons(c, 400, "{\"error\":\"bad query parameter\"}");
		break;
	case R_BAD_STATUS:
		resp_jsons(c, 400, "{\"error\":\"status must be 200-599\"}");
		break;
	case R_NONE:
	case R_NOT_FOUND:
		resp_jsons(c, 404, "{\"error\":\"not found\"}");
		break;
	}
}

static int
on_message_complete(http_parser *p)
{
	struct conn *c = parser_conn(p);

	respond(c);
	/*
	 * Stop after this message while its answer is pending or output piles
	 * up; the rest of the pipeline stays unparsed in rbuf.
	 */
	if (c->state != CS_IDLE || c->close_after || c->out.failed ||
	    c->out.len >= OUT_HIWAT)
		http_parser_pause(p, 1);
	return 0;
}

/* A request that does not parse: answer it, and close. */
static void
respond_error(struct conn *c)
{
	struct req *r = &c->req;
	unsigned status = (unsigned)r->err_status;

	r->head = false;
	r->xrid = -1;
	r->http10 = false;
	r->keep_alive = false;
	if (status == 414)
		resp_jsons(
		    c, status, "{\"error\":\"request target too long\"}");
	else if (status == 431)
		resp_jsons(
		    c, status, "{\"error\":\"request headers too large\"}");
	else
		resp_jsons(c, 400, "{\"error\":\"bad request\"}");
}

static void
conn_parse(struct conn *c)
{
	size_t n;
	enum http_errno err;

	n = http_parser_execute(
	    &c->parser, &srv.settings, c->rbuf + c->rpos, c->rlen - c->rpos);
	c->rpos += n;
	err = HTTP_PARSER_ERRNO(&c->parser);
	if (err == HPE_PAUSED)
		http_parser_pause(&c->parser, 0);
	else if (err != HPE_OK) {
		if (err == HPE_HEADER_OVERFLOW)
			c->req.err_status = 431;
		if (c->state == CS_IDLE)
			respond_error(c);
		c->close_after = true;
		c->rpos = c->rlen;
	} else if (c->parser.upgrade) {
		/* Upgrade and CONNECT were answered like any request; the
		 * bytes after them are not HTTP, so stop here. */
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
	timer_del(c);
	close(c->fd);
	EVP_MD_CTX_free(c->sha);
	free(c->req.hbuf);
	free(c->out.data);
	free(c);
}

static void
conn_set_events(struct conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;

	if (c->state == CS_LINGER)
		want = EPOLLIN;
	else {
		if (c->state == CS_IDLE && !c->close_after && !c->eof &&
		    c->rlen - c->rpos < RBUF_SIZE && c->out.len < OUT_HIWAT)
			want |= EPOLLIN;
		if (c->out.len > 0 || c->state == CS_STREAM)
			want |= EPOLLOUT;
	}
	if (want == c->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(srv.ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		warn_errno("epoll_ctl");
	else
		c->events = want;
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
	if (c->rlen == RBUF_SIZE)
		return 0;
	n = read(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen);
	if (n > 0)
		c->rlen += (size_t)n;
	else if (n == 0)
		c->eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return -1;
	return 0;
}

static int
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->out.len > 0) {
		n = send(
		    c->fd, c->out.data + c->out.off, c->out.len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		c->out.off += (size_t)n;
		c->out.len -= (size_t)n;
	}
	c->out.off = 0;
	return 0;
}

/*
 * Closing right away with unread input makes the kernel send a reset,
 * which can destroy the response the client has not read yet (a 400, or
 * /api/close in the middle of a pipeline).  So shut the write side and
 * drain until the client closes, for a bounded time.
 */
static void
conn_linger(struct conn *c)
{
	if (c->eof || shutdown(c->fd, SHUT_WR) == -1 ||
	    timer_set(c, now_ms() + LINGER_MS) == -1) {
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
		n = read(c->fd, c->rbuf, RBUF_SIZE);
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
 * generate stream data, parse buffered requests, and finally close or
 * linger.  Arms epoll for whatever it stopped on.
 */
static void
conn_step(struct conn *c)
{
	size_t budget = STREAM_BUDGET, n;

	for (;;) {
		if (c->out.failed)
			goto close;
		if (c->out.len > 0 && conn_flush(c) == -1)
			goto close;
		if (c->state == CS_STREAM) {
			if (c->out.len >= STREAM_LOWAT || budget == 0)
				break;
			n = stream_fill(c);
			budget = n < budget ? budget - n : 0;
			continue;
		}
		if (c->state != CS_IDLE)
			break;
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
	return;
close:
	conn_close(c);
}

static void
conn_event(struct conn *c, uint32_t ev)
{
	if (ev & EPOLLERR) {
		conn_close(c);
		return;
	}
	if (c->state == CS_LINGER) {
		conn_linger_read(c);
		return;
	}
	if (ev & EPOLLIN) {
		if (conn_read(c) == -1) {
			conn_close(c);
			return;
		}
	} else if (ev & EPOLLHUP) {
		/* Both directions are gone: nothing can be delivered. */
		conn_close(c);
		return;
	}
	conn_step(c);
}

static void
conn_timer(struct conn *c)
{
	if (c->state == CS_LINGER) {
		conn_close(c);
		return;
	}
	if (c->state == CS_WAIT)
		respond_slow_done(c);
	conn_step(c);
}

static void
conn_new(int fd)
{
	struct epoll_event ev;
	struct conn *c;
	int one = 1;

	/* Small responses must not wait for Nagle behind a previous one. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = malloc(sizeof(*c));
	if (c == NULL) {
		warn_errno("malloc");
		close(fd);
		return;
	}
	/* The buffers at the end need no clearing. */
	memset(c, 0, offsetof(struct conn, req));
	memset(&c->req, 0, offsetof(struct req, hdrs));
	c->kind = W_CONN;
	c->fd = fd;
	c->state = CS_IDLE;
	c->req.xrid = -1;
	c->req.keep_alive = true;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->events = EPOLLIN;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(srv.ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		warn_errno("epoll_ctl");
		free(c);
		close(fd);
	}
}

/* --no-accept: a listener whose queue fills, for connect timeouts. */
static bool no_accept;

static void
accept_set(bool on)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &srv.listen_kind;
	if (epoll_ctl(
	        srv.ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, srv.lfd, &ev) == -1)
		warn_errno("epoll_ctl");
	srv.accepting = on;
}

static void
accept_ready(void)
{
	int fd, i;

	for (i = 0; i < 256; i++) {
		fd = accept4(srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
			warn_errno("accept");
			accept_set(false);
			srv.accept_resume = now_ms() + ACCEPT_PAUSE;
			return;
		default:
			warn_errno("accept");
			return;
		}
	}
}

static void
timers_run(void)
{
	uint64_t now = now_ms();
	struct conn *c;

	if (!srv.accepting && !no_accept && srv.accept_resume <= now)
		accept_set(true);
	while (srv.nheap > 0 && srv.heap[0]->timer_at <= now) {
		c = srv.heap[0];
		timer_del(c);
		conn_timer(c);
	}
}

/*
 * Setup.
 */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [--listen ADDR:PORT] [--no-accept]\n"
	    "  --listen ADDR:PORT  address to serve (default "
	    "127.0.0.1:3000; port 0 picks one)\n"
	    "  --no-accept         listen with a backlog of 0 and never "
	    "accept,\n"
	    "                      so that connects hang (for tests)\n"
	    "Prints \"listening on ADDR:PORT\" on stdout once ready.\n"
	    "Exit status: 0 on SIGTERM/SIGINT, 64 usage, 71 OS error.\n");
}

/* Splits host:port or [v6]:port, in place. */
static int
split_hostport(char *s, char **host, char **port)
{
	char *colon;

	if (s[0] == '[') {
		colon = strchr(s, ']');
		if (colon == NULL || colon[1] != ':')
			return -1;
		*colon = '\0';
		*host = s + 1;
		*port = colon + 2;
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	*host = s[0] != '\0' ? s : NULL;
	*port = colon + 1;
	return 0;
}

static int
listen_on(const char *spec)
{
	struct addrinfo hints, *res = NULL, *ai;
	char *copy, *host, *port;
	int fd = -1, one = 1, rc;

	copy = strdup(spec);
	if (copy == NULL || split_hostport(copy, &host, &port) == -1 ||
	    port[0] == '\0') {
		fprintf(
		    stderr, PROG ": error: bad --listen address: %s\n", spec);
		free(copy);
		exit(EX_USAGE);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(
		    stderr, PROG ": error: %s: %s\n", spec, gai_strerror(rc));
		free(copy);
		exit(EX_USAGE);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, no_accept ? 0 : 4096) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	if (fd == -1) {
		fprintf(stderr, PROG ": error: listen %s: %s\n", spec,
		    strerror(errno));
		freeaddrinfo(res);
		free(copy);
		exit(EX_OSERR);
	}
	freeaddrinfo(res);
	free(copy);
	return fd;
}

static void
print_listening(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		fprintf(
		    stderr, PROG ": error: getsockname: %s\n", strerror(errno));
		exit(EX_OSERR);
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		printf("listening on [%s]:%u\n", host, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		printf("listening on %s:%u\n", host, port);
	}
	fflush(stdout);
}

/* Upstream of a proxy holding many connections: take every fd allowed. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			warn_errno("setrlimit");
	}
}

static int
signals_open(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd;
}

static void
setup(const char *listen_spec)
{
	struct epoll_event ev;
	size_t i;

	raise_nofile();
	srv.sfd = signals_open();
	if (srv.sfd == -1) {
		fprintf(
		    stderr, PROG ": error: signalfd: %s\n", strerror(errno));
		exit(EX_OSERR);
	}
	srv.lfd = listen_on(listen_spec);
	srv.ep = epoll_create1(EPOLL_CLOEXEC);
	if (srv.ep == -1) {
		fprintf(stderr, PROG ": error: epoll_create1: %s\n",
		    strerror(errno));
		exit(EX_OSERR);
	}
	srv.listen_kind = W_LISTEN;
	srv.signal_kind = W_SIGNAL;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &srv.signal_kind;
	if (epoll_ctl(srv.ep, EPOLL_CTL_ADD, srv.sfd, &ev) == -1) {
		fprintf(
		    stderr, PROG ": error: epoll_ctl: %s\n", strerror(errno));
		exit(EX_OSERR);
	}
	if (!no_accept)
		accept_set(true);
	for (i = 0; i < sizeof(srv.pattern); i++)
		srv.pattern[i] = (unsigned char)(i % PATTERN_MOD);
	srv.settings.on_message_begin = on_message_begin;
	srv.settings.on_url = on_url;
	srv.settings.on_header_field = on_header_field;
	srv.settings.on_header_value = on_header_value;
	srv.settings.on_headers_complete = on_headers_complete;
	srv.settings.on_body = on_body;
	srv.settings.on_message_complete = on_message_complete;
	print_listening(srv.lfd);
}

static void
serve(void)
{
	struct epoll_event evs[256];
	struct signalfd_siginfo si;
	enum watch_kind *k;
	int i, n;

	for (;;) {
		n = epoll_wait(srv.ep, evs, 256, timers_timeout());
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, PROG ": error: epoll_wait: %s\n",
			    strerror(errno));
			exit(EX_OSERR);
		}
		for (i = 0; i < n; i++) {
			k = evs[i].data.ptr;
			if (*k == W_LISTEN)
				accept_ready();
			else if (*k == W_SIGNAL) {
				if (read(srv.sfd, &si, sizeof(si)) ==
				    (ssize_t)sizeof(si))
					return;
			} else
				conn_event((struct conn *)k, evs[i].events);
		}
		timers_run();
	}
}

int
main(int argc, char **argv)
{
	const char *listen_spec = "127.0.0.1:3000";
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_spec = argv[++i];
		else if (strncmp(argv[i], "--listen=", 9) == 0)
			listen_spec = argv[i] + 9;
		else if (strcmp(argv[i], "--no-accept") == 0)
			no_accept = true;
		else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return EX_USAGE;
		}
	}
	setup(listen_spec);
	serve();
	return 0;
}
