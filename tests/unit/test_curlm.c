/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/curlm.c against a tiny HTTP/1.1 server served from
 * the same gw_loop on 127.0.0.1 (port 0): canned answers (a body, 503
 * with Retry-After, a redirect, a request never answered, a connection
 * closed unanswered, a large body, too many headers) and an echo that
 * records the request head and body so that the bytes on the wire can be
 * checked (binary bodies, the headers gw adds and the ones it must not).
 * Also connect_to and path_as_is (gw-replay's), a refused connection,
 * bad arguments, many requests with bounded concurrency and keep-alive
 * reuse counted on the server side, a host connection limit, and freeing the client with transfers in flight, from
 * outside and from inside a done function.  Every run has a watchdog;
 * there are no timing assertions.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <curl/curl.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "curlm.h"
#include "harness.h"
#include "loop.h"
#include "sock.h"

#define WATCHDOG_MS 20000
#define LARGE_LEN   (1024 * 1024)
#define ECHO_LEN    (1536 * 1024) /* past libcurl's 1 MiB Expect threshold */
#define NHEADERS    2000

/* The server. */

struct sconn {
	struct srv *srv;
	struct gw_io io;
	struct gw_buf in;
	struct gw_buf out;
	int close_after; /* once <out> is written */
	int hold;        /* a /slow request: never answer */
	struct sconn *prev, *next;
};

struct srv {
	struct gw_loop *loop;
	int lfd;
	struct gw_io lio;
	int port;
	int accepted;
	int requests;
	int slow_seen;
	int stop_at_slow; /* stop the loop when this many /slow arrived */
	char last_head[8192];
	char *last_body;
	size_t last_body_len;
	struct sconn *conns;
};

static void
sconn_close(struct sconn *c)
{
	struct srv *s = c->srv;

	gw_io_stop(s->loop, &c->io);
	close(c->io.fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	gw_buf_fini(&c->in);
	gw_buf_fini(&c->out);
	free(c);
}

/* Queues a response; <extra> is more header lines, each ending "\r\n". */
static void
respond(struct sconn *c, int status, const char *extra, const void *body,
    size_t len)
{
	gw_buf_printf(&c->out, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
	    status, len, extra);
	gw_buf_add(&c->out, body, len);
}

/* Header <name> of the request head <h> (lower case, with ':'), or NULL. */
static const char *
head_get(const char *h, const char *name)
{
	const char *p = h;
	size_t n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0)
			return p + n;
	}
	return NULL;
}

static void
handle(struct sconn *c, const char *head, const char *body, size_t blen)
{
	static char large[LARGE_LEN];
	struct srv *s = c->srv;
	char method[16] = "", path[256] = "";
	struct gw_buf b;
	int i;

	s->requests++;
	sscanf(head, "%15s %255s", method, path);
	if (strcmp(path, "/hello") == 0)
		respond(c, 200,
		    "Content-Type: text/plain\r\nX-Dup: one\r\n"
		    "X-Empty:\r\nX-Dup:  two  \r\n",
		    "hello, world", 12);
	else if (strcmp(path, "/busy") == 0)
		respond(c, 503, "Retry-After: 7\r\n", "intake busy", 11);
	else if (strcmp(path, "/redirect") == 0)
		respond(c, 302, "Location: /hello\r\n", "moved", 5);
	else if (strcmp(path, "/slow") == 0) {
		c->hold = 1;
		if (++s->slow_seen == s->stop_at_slow)
			gw_loop_stop(s->loop);
	} else if (strcmp(path, "/close") == 0)
		c->close_after = 1;
	else if (strcmp(path, "/large") == 0 ||
	    strcmp(path, "/large-err") == 0) {
		for (i = 0; i < LARGE_LEN; i++)
			large[i] = (char)('a' + i % 26);
		respond(c, path[6] == '\0' ? 200 : 500, "", large, LARGE_LEN);
	} else if (strcmp(path, "/headers") == 0) {
		gw_buf_init(&b, 0);
		for (i = 0; i < NHEADERS; i++)
			gw_buf_printf(&b, "X-H%04d: %040d\r\n", i, i);
		gw_buf_addc(&b, '\0');
		respond(c, 200, gw_buf_head(&b), "", 0);
		gw_buf_fini(&b);
	} else if (strcmp(path, "/folded") == 0)
		respond(c, 200, "X-Fold: a\r\n  b\r\nX-Next: c\r\n", "", 0);
	else if (strcmp(path, "/echo") == 0) {
		snprintf(s->last_head, sizeof(s->last_head), "%s", head);
		free(s->last_body);
		s->last_body = malloc(blen ? blen : 1);
		if (blen > 0)
			memcpy(s->last_body, body, blen);
		s->last_body_len = blen;
		gw_buf_init(&b, 0);
		gw_buf_printf(&b, "X-Method: %s\r\n", method);
		gw_buf_addc(&b, '\0');
		respond(c, 200, gw_buf_head(&b), body, blen);
		gw_buf_fini(&b);
	} else
		respond(c, 404, "", "", 0);
}

/* Serves every whole request buffered in <c>. */
static void
serve(struct sconn *c)
{
	const char *cl;
	char *h, *end;
	size_t hlen, blen;

	while (!c->hold && !c->close_after) {
		h = gw_buf_head(&c->in);
		if (c->in.len < 4 ||
		    (end = memmem(h, c->in.len, "\r\n\r\n", 4)) == NULL)
			return;
		hlen = (size_t)(end - h) + 4;
		*end = '\0'; /* the head as a string; the CRLF is gone */
		cl = head_get(h, "content-length:");
		blen = cl != NULL ? strtoul(cl, NULL, 10) : 0;
		if (c->in.len < hlen + blen) {
			memcpy(end, "\r\n\r\n", 4);
			return;
		}
		handle(c, h, h + hlen, blen);
		gw_buf_consume(&c->in, hlen + blen);
	}
}

static void
sconn_cb(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct sconn *c = io->arg;
	ssize_t n;
	char *t;

	if (events & GW_READ) {
		if ((t = gw_buf_reserve(&c->in, 64 * 1024)) == NULL) {
			sconn_close(c);
			return;
		}
		n = read(io->fd, t, 64 * 1024);
		if (n == 0 || (n == -1 && errno != EAGAIN)) {
			sconn_close(c);
			return;
		}
		if (n > 0) {
			gw_buf_commit(&c->in, (size_t)n);
			serve(c);
		}
	}
	if (c->out.len > 0) {
		n = send(
		    io->fd, gw_buf_head(&c->out), c->out.len, MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN) {
			sconn_close(c);
			return;
		}
		if (n > 0)
			gw_buf_consume(&c->out, (size_t)n);
	}
	if (c->out.len == 0 && c->close_after) {
		sconn_close(c);
		return;
	}
	gw_io_set(loop, io, GW_READ | (c->out.len > 0 ? GW_WRITE : 0));
}

static void
accept_cb(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct srv *s = io->arg;
	struct gw_addr peer;
	struct sconn *c;
	int fd;

	(void)events;
	while ((fd = gw_accept(s->lfd, &peer)) != -1) {
		s->accepted++;
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->srv = s;
		gw_buf_init(&c->in, 8 * 1024 * 1024);
		gw_buf_init(&c->out, 0);
		gw_io_init(&c->io, fd, sconn_cb, c);
		c->next = s->conns;
		if (s->conns != NULL)
			s->conns->prev = c;
		s->conns = c;
		gw_io_set(loop, &c->io, GW_READ);
	}
}

/* Returns the local port of <fd>, or -1. */
static int
local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	return ntohs(sin.sin_port);
}

static struct srv *
srv_new(struct gw_loop *loop)
{
	struct gw_addr a;
	struct srv *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->loop = loop;
	if (gw_addr_parse("127.0.0.1:0", &a) == -1 ||
	    (s->lfd = gw_listen_tcp(&a, 256)) == -1) {
		free(s);
		return NULL;
	}
	s->port = local_port(s->lfd);
	gw_io_init(&s->lio, s->lfd, accept_cb, s);
	gw_io_set(loop, &s->lio, GW_READ);
	return s;
}

static void
srv_free(struct srv *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL)
		sconn_close(s->conns);
	gw_io_stop(s->loop, &s->lio);
	close(s->lfd);
	free(s->last_body);
	free(s);
}

/* The client side. */

/* What one done call saw, copied out of the result. */
struct got {
	int called;
	int status;
	int curl_code;
	char error[GW_HTTP_ERROR_SIZE];
	char *body;
	size_t body_len;
	uint64_t body_total;
	int body_nul;        /* body[body_len] was '\0' */
	char headers[16384]; /* "name=value\n" each, in order */
	char retry_after[32];
	size_t nheaders;
	int headers_truncated;
	int reused;
	double total_s, connect_s, starttransfer_s;
};

static struct gw_loop *loop;
static struct srv *srv;
static struct gw_curlm *cm;
static int pending; /* done calls still expected */
static int watchdog_fired;
static char url_buf[256];

static const char *
url(const char *path)
{
	snprintf(
	    url_buf, sizeof(url_buf), "http://127.0.0.1:%d%s", srv->port, path);
	return url_buf;
}

static void
got_free(struct got *g)
{
	free(g->body);
	g->body = NULL;
}

static void
record(struct got *g, const struct gw_http_res *res)
{
	const char *ra;
	size_t i, n = 0;
	int w;

	g->called++;
	g->status = res->status;
	g->curl_code = res->curl_code;
	snprintf(g->error, sizeof(g->error), "%s", res->error);
	free(g->body);
	g->body = malloc(res->body_len + 1);
	if (g->body != NULL)
		memcpy(g->body, res->body, res->body_len + 1);
	g->body_len = res->body_len;
	g->body_nul = res->body[res->body_len] == '\0';
	g->body_total = res->body_total;
	g->headers[0] = '\0';
	for (i = 0; i < res->nheaders; i++) {
		w = snprintf(g->headers + n, sizeof(g->headers) - n, "%s=%s\n",
		    res->headers[i].name, res->headers[i].value);
		if (w < 0 || (size_t)w >= sizeof(g->headers) - n)
			break;
		n += (size_t)w;
	}
	ra = gw_http_res_header(res, "retry-after");
	snprintf(g->retry_after, sizeof(g->retry_after), "%s",
	    ra != NULL ? ra : "(none)");
	g->nheaders = res->nheaders;
	g->headers_truncated = res->headers_truncated;
	g->reused = res->reused;
	g->total_s = res->total_s;
	g->connect_s = res->connect_s;
	g->starttransfer_s = res->starttransfer_s;
}

static void
done_cb(void *arg, const struct gw_http_res *res)
{
	record(arg, res);
	if (--pending == 0)
		gw_loop_stop(loop);
}

static void
watchdog_cb(struct gw_loop *l, struct gw_timer *t)
{
	(void)t;
	watchdog_fired = 1;
	gw_loop_stop(l);
}

/* Runs the loop until something stops it, or the watchdog. */
static void
run(void)
{
	struct gw_timer wd;

	watchdog_fired = 0;
	gw_timer_init(&wd, watchdog_cb, NULL);
	gw_timer_set(loop, &wd, WATCHDOG_MS);
	gw_loop_run(loop);
	gw_timer_stop(loop, &wd);
	CHECK(!watchdog_fired);
}

static int
setup(const struct gw_curlm_opts *opts)
{
	loop = gw_loop_new();
	srv = loop != NULL ? srv_new(loop) : NULL;
	cm = srv != NULL ? gw_curlm_new(loop, opts) : NULL;
	CHECK(cm != NULL);
	pending = 0;
	return cm != NULL ? 0 : -1;
}

static void
teardown(void)
{
	gw_curlm_free(cm);
	cm = NULL;
	srv_free(srv);
	srv = NULL;
	gw_loop_free(loop);
	loop = NULL;
}

/* Starts <req> into <g>; one more done call expected.  Returns 0 or -1. */
static int
go(const struct gw_http_req *req, struct got *g)
{
	memset(g, 0, sizeof(*g));
	if (gw_curlm_start(cm, req, done_cb, g) == -1)
		return -1;
	pending++;
	return 0;
}

/* The tests. */

TEST(test_get)
{
	static struct got g, g2;
	struct gw_http_req req = { 0 };

	if (setup(NULL) == -1)
		goto out;
	req.url = url("/hello");
	req.keep_body = 1;
	CHECK(go(&req, &g) == 0);
	/* Not even a failure is reported from inside gw_curlm_start(). */
	CHECK(g.called == 0);
	CHECK(gw_curlm_active(cm) == 1);
	req.keep_body = 0; /* a 2xx body is then only counted */
	CHECK(go(&req, &g2) == 0);
	CHECK(gw_curlm_active(cm) == 2);
	run();
	CHECK(gw_curlm_active(cm) == 0);
	CHECK(g.called == 1);
	CHECK(g.curl_code == 0);
	CHECK_STREQ(g.error, "");
	CHECK(g.status == 200);
	CHECK_STREQ(g.body, "hello, world");
	CHECK(g.body_len == 12 && g.body_total == 12 && g.body_nul);
	/* Every header in order, repeats kept, blanks trimmed, empty kept. */
	CHECK_STREQ(g.headers,
	    "Content-Length=12\nContent-Type=text/plain\nX-Dup=one\n"
	    "X-Empty=\nX-Dup=two\n");
	CHECK(g.nheaders == 5 && !g.headers_truncated);
	CHECK_STREQ(g.retry_after, "(none)");
	CHECK(g.total_s > 0 && g.connect_s <= g.starttransfer_s &&
	    g.starttransfer_s <= g.total_s);
	CHECK(g2.called == 1 && g2.status == 200);
	CHECK(g2.body_len == 0 && g2.body_total == 12 && g2.body_nul);
	CHECK_STREQ(g2.body, "");
	CHECK(g2.nheaders == 5);
out:
	got_free(&g);
	got_free(&g2);
	teardown();
}

TEST(test_busy_retry_after)
{
	static struct got g;
	struct gw_http_req req = { 0 };

	if (setup(NULL) == -1)
		goto out;
	req.method = "POST";
	req.url = url("/busy");
	req.body = "{}";
	req.body_len = 2;
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1 && g.curl_code == 0 && g.status == 503);
	CHECK_STREQ(g.retry_after, "7");
	/* Error text is kept without keep_body. */
	CHECK_STREQ(g.body, "intake busy");
out:
	got_free(&g);
	teardown();
}

TEST(test_timeout)
{
	static struct got g;
	struct gw_http_req req = { 0 };

	if (setup(NULL) == -1)
		goto out;
	req.url = url("/slow");
	req.timeout_ms = 300;
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1);
	CHECK(g.curl_code == CURLE_OPERATION_TIMEDOUT);
	CHECK(g.status == 0 && g.body_len == 0 && g.nheaders == 0);
	CHECK(strstr(g.error, "timed out") != NULL);
	CHECK(srv->slow_seen == 1);
out:
	got_free(&g);
	teardown();
}

TEST(test_closed)
{
	static struct got g;
	struct gw_http_req req = { 0 };

	if (setup(NULL) == -1)
		goto out;
	req.url = url("/close");
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1 && g.curl_code == CURLE_GOT_NOTHING);
	CHECK(g.status == 0 && g.error[0] != '\0');
out:
	got_free(&g);
	teardown();
}

TEST(test_refused)
{
	static struct got g;
	struct gw_http_req req = { 0 };
	struct gw_addr a;
	char u[64];
	int fd = -1, port;

	if (setup(NULL) == -1)
		goto out;
	/* Bound but not listening: nothing else can take the port. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd != -1);
	CHECK(gw_addr_parse("127.0.0.1:0", &a) == 0);
	CHECK(bind(fd, (struct sockaddr *)&a.ss, a.len) == 0);
	port = local_port(fd);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", port);
	req.url = u;
	CHECK(go(&req, &g) == 0);
	CHECK(g.called == 0);
	run();
	CHECK(g.called == 1 && g.curl_code == CURLE_COULDNT_CONNECT);
	CHECK(g.status == 0);
	CHECK(strstr(g.error, "refused") != NULL ||
	    strstr(g.error, "connect") != NULL);
out:
	if (fd != -1)
		close(fd);
	got_free(&g);
	teardown();
}

TEST(test_large_capped)
{
	static struct got g, g2;
	struct gw_http_req req = { 0 };
	size_t i;
	int same = 1;

	if (setup(NULL) == -1)
		goto out;
	req.url = url("/large");
	req.keep_body = 1;
	req.max_response = 1000;
	CHECK(go(&req, &g) == 0);
	req.url = url("/large-err");
	req.keep_body = 0;
	req.max_response = 0; /* the default */
	CHECK(go(&req, &g2) == 0);
	run();
	CHECK(g.called == 1 && g.curl_code == 0 && g.status == 200);
	CHECK(g.body_len == 1000 && g.body_total == LARGE_LEN && g.body_nul);
	for (i = 0; g.body != NULL && i < g.body_len; i++)
		same &= g.body[i] == (char)('a' + i % 26);
	CHECK(same);
	CHECK(g2.called == 1 && g2.curl_code == 0 && g2.status == 500);
	CHECK(g2.body_len == GW_HTTP_MAX_RESPONSE);
	CHECK(g2.body_total == LARGE_LEN);
out:
	got_free(&g);
	got_free(&g2);
	teardown();
}

/* The request head the echo server recorded has header <name> = <v>. */
static int
head_is(const char *name, const char *v)
{
	const char *p = head_get(srv->last_head, name);
	size_t n;

	if (p == NULL || v == NULL)
		return p == NULL && v == NULL;
	n = strlen(v);
	while (*p == ' ')
		p++;
	return strncmp(p, v, n) == 0 && (p[n] == '\r' || p[n] == '\0');
}

TEST(test_post_binary)
{
	static struct got g;
	struct gw_http_req req = { 0 };
	unsigned char *body;
	size_t i;

	body = malloc(ECHO_LEN);
	CHECK(body != NULL);
	if (body == NULL || setup(NULL) == -1)
		goto out;
	for (i = 0; i < ECHO_LEN; i++)
		body[i] = (unsigned char)(i * 7 % 251); /* NULs included */
	req.method = "POST";
	req.url = url("/echo");
	req.body = body;
	req.body_len = ECHO_LEN;
	req.keep_body = 1;
	req.max_response = ECHO_LEN;
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1 && g.curl_code == 0 && g.status == 200);
	CHECK(srv->last_body_len == ECHO_LEN);
	CHECK(srv->last_body != NULL &&
	    memcmp(srv->last_body, body, ECHO_LEN) == 0);
	CHECK(g.body_len == ECHO_LEN && g.body != NULL &&
	    memcmp(g.body, body, ECHO_LEN) == 0);
	CHECK(strncmp(srv->last_head, "POST /echo HTTP/1.1\r\n", 21) == 0);
	CHECK(head_is("content-length:", "1572864"));
	CHECK(head_get(srv->last_head, "user-agent: gw/") != NULL);
	/* Nothing the caller did not ask for. */
	CHECK(head_is("expect:", NULL));
	CHECK(head_is("content-type:", NULL));
	CHECK(head_is("accept-encoding:", NULL));
	CHECK(head_is("transfer-encoding:", NULL));
out:
	free(body);
	got_free(&g);
	teardown();
}

TEST(test_methods_headers)
{
	static struct got g;
	static const char *const hdrs[] = { "User-Agent: replay/1",
		"Content-Type: application/octet-stream", "X-Custom: v",
		"Accept:", "X-Blank;", NULL };
	struct gw_http_req req = { 0 };

	if (setup(NULL) == -1)
		goto out;
	/* Any method with a body and the caller's headers, as given. */
	req.method = "PUT";
	req.url = url("/echo");
	req.headers = hdrs;
	req.body = "a\0b";
	req.body_len = 3;
	req.keep_body = 1;
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1 && g.status == 200);
	CHECK(strncmp(srv->last_head, "PUT /echo HTTP/1.1\r\n", 20) == 0);
	CHECK(head_is("user-agent:", "replay/1"));
	CHECK(head_is("content-type:", "application/octet-stream"));
	CHECK(head_is("x-custom:", "v"));
	CHECK(head_is("x-blank:", ""));
	CHECK(head_is("accept:", NULL));
	CHECK(head_is("content-length:", "3"));
	CHECK(
	    srv->last_body_len == 3 && memcmp(srv->last_body, "a\0b", 3) == 0);
	CHECK(g.body_len == 3 && memcmp(g.body, "a\0b", 3) == 0);
	CHECK(head_is("user-agent:", "replay/1"));
	got_free(&g);

	/* PATCH without a body still says how long it is. */
	memset(&req, 0, sizeof(req));
	req.method = "PATCH";
	req.url = url("/echo");
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1 && g.status == 200);
	CHECK(strncmp(srv->last_head, "PATCH /echo ", 12) == 0);
	CHECK(head_is("content-length:", "0"));
	got_free(&g);

	/* DELETE without one sends none. */
	req.method = "DELETE";
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1 && g.status == 200);
	CHECK(strncmp(srv->last_head, "DELETE /echo ", 13) == 0);
	CHECK(head_is("content-length:", NULL));
	CHECK(head_get(srv->last_head, "user-agent: gw/") != NULL);
	got_free(&g);

	/* HEAD: the Content-Length announced, no body waited for. */
	req.method = "HEAD";
	req.url = url("/hello");
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1 && g.curl_code == 0 && g.status == 200);
	CHECK(g.body_total == 0);
out:
	got_free(&g);
	teardown();
}

/*
 * connect_to: the URL keeps its name (the Host sent) while the
 * connection goes elsewhere; path_as_is: dot segments are sent as given.
 */
TEST(test_connect_to_path_as_is)
{
	static struct got g;
	struct gw_http_req req = { 0 };
	char to[64];

	if (setup(NULL) == -1)
		goto out;
	snprintf(to, sizeof(to), "::127.0.0.1:%d", srv->port);
	req.url = "http://replay.invalid:1/echo";
	req.connect_to = to;
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1 && g.status == 200);
	CHECK(head_is("host:", "replay.invalid:1"));
	got_free(&g);

	/* libcurl removes dot segments by default... */
	memset(&req, 0, sizeof(req));
	req.url = url("/x/../hello");
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1 && g.status == 200);
	got_free(&g);
	/* ... and with path_as_is sends them. */
	req.path_as_is = 1;
	CHECK(go(&req, &g) == 0);
	run();
	CHECK(g.called == 1 && g.status == 404);
out:
	got_free(&g);
	teardown();
}

TEST(test_redirect)
{
	static struct got g, g2;
	struct gw_http_req req = { 0 };

	if (setup(NULL) == -1)
		goto out;
	req.url = url("/redirect");
	req.keep_body = 1;
	CHECK(go(&req, &g) == 0);
	req.follow_redirects = 1;
	CHECK(go(&req, &g2) == 0);
	run();
	CHECK(g.called == 1 && g.status == 302);
	CHECK_STREQ(g.body, "moved");
	CHECK(strstr(g.headers, "Location=/hello\n") != NULL);
	/* Followed: only the last response is reported. */
	CHECK(g2.called == 1 && g2.status == 200);
	CHECK_STREQ(g2.body, "hello, world");
	CHECK(strstr(g2.headers, "Location") == NULL);
	CHECK(strstr(g2.headers, "X-Dup=one\n") != NULL);
out:
	got_free(&g);
	got_free(&g2);
	teardown();
}

TEST(test_headers_bounded)
{
	static struct got g, g2;
	struct gw_http_req req = { 0 };

	if (setup(NULL) == -1)
		goto out;
	req.url = url("/headers");
	CHECK(go(&req, &g) == 0);
	req.url = url("/folded");
	CHECK(go(&req, &g2) == 0);
	run();
	CHECK(g.called == 1 && g.curl_code == 0 && g.status == 200);
	CHECK(g.headers_truncated);
	CHECK(g.nheaders > 100 && g.nheaders < NHEADERS);
	CHECK(strncmp(g.headers,
	          "Content-Length=0\nX-H0000="
	          "0000000000000000000000000000000000000000\n",
	          65) == 0);
	CHECK(g2.called == 1 && g2.status == 200);
	CHECK(strstr(g2.headers, "X-Fold=a b\nX-Next=c\n") != NULL);
out:
	got_free(&g);
	got_free(&g2);
	teardown();
}

TEST(test_bad_args)
{
	static struct got g, g2;
	static const char *const crlf[] = { "X-A: 1\r\nX-B: 2", NULL };
	struct gw_http_req req = { 0 };

	if (setup(NULL) == -1)
		goto out;
	errno = 0;
	CHECK(gw_curlm_start(cm, &req, done_cb, &g) == -1 && errno == EINVAL);
	req.url = url("/hello");
	errno = 0;
	CHECK(gw_curlm_start(cm, &req, NULL, &g) == -1 && errno == EINVAL);
	req.method = "GE T";
	errno = 0;
	CHECK(gw_curlm_start(cm, &req, done_cb, &g) == -1 && errno == EINVAL);
	req.method = "GET\r\nX: y";
	CHECK(gw_curlm_start(cm, &req, done_cb, &g) == -1 && errno == EINVAL);
	req.method = "";
	CHECK(gw_curlm_start(cm, &req, done_cb, &g) == -1 && errno == EINVAL);
	req.method = NULL;
	req.headers = crlf;
	errno = 0;
	CHECK(gw_curlm_start(cm, &req, done_cb, &g) == -1 && errno == EINVAL);
	req.headers = NULL;
	req.body_len = 5;
	errno = 0;
	CHECK(gw_curlm_start(cm, &req, done_cb, &g) == -1 && errno == EINVAL);
	CHECK(gw_curlm_active(cm) == 0);

	/* Only http and https: other schemes are results, not reads. */
	memset(&req, 0, sizeof(req));
	req.url = "file:///etc/passwd";
	req.keep_body = 1;
	CHECK(go(&req, &g) == 0);
	req.url = "not a url";
	CHECK(go(&req, &g2) == 0);
	CHECK(g.called == 0 && g2.called == 0);
	run();
	CHECK(g.called == 1 && g.curl_code == CURLE_UNSUPPORTED_PROTOCOL);
	CHECK(g.status == 0 && g.body_len == 0 && g.error[0] != '\0');
	CHECK(g2.called == 1 && g2.curl_code != 0 && g2.error[0] != '\0');
out:
	got_free(&g);
	got_free(&g2);
	teardown();
}

/* Many requests, at most MANY_INFLIGHT at once, each started from a done. */
#define MANY          200
#define MANY_INFLIGHT 8

static struct got many[MANY];
static int many_started, many_done, many_max_active, many_reused;
static void many_cb(void *, const struct gw_http_res *);

static void
many_start(void)
{
	struct gw_http_req req = { 0 };
	int active;

	req.url = url("/hello");
	req.keep_body = 1;
	while (many_started < MANY && gw_curlm_active(cm) < MANY_INFLIGHT) {
		if (gw_curlm_start(cm, &req, many_cb, &many[many_started]) ==
		    -1) {
			CHECK(!"start failed");
			gw_loop_stop(loop);
			return;
		}
		many_started++;
		active = (int)gw_curlm_active(cm);
		if (active > many_max_active)
			many_max_active = active;
	}
}

static void
many_cb(void *arg, const struct gw_http_res *res)
{
	struct got *g = arg;

	record(g, res);
	many_reused += res->reused;
	if (++many_done == MANY)
		gw_loop_stop(loop);
	else
		many_start();
}

TEST(test_many_keepalive)
{
	int i, ok = 0;

	if (setup(NULL) == -1)
		goto out;
	many_started = many_done = many_max_active = many_reused = 0;
	many_start();
	run();
	CHECK(many_done == MANY);
	for (i = 0; i < MANY; i++)
		ok += many[i].called == 1 && many[i].curl_code == 0 &&
		    many[i].status == 200 && many[i].body != NULL &&
		    strcmp(many[i].body, "hello, world") == 0;
	CHECK(ok == MANY);
	CHECK(many_max_active <= MANY_INFLIGHT);
	CHECK(srv->requests == MANY);
	/* Keep-alive: connections were reused, and said so. */
	CHECK(srv->accepted >= 1 && srv->accepted <= MANY_INFLIGHT);
	CHECK(many_reused >= MANY - srv->accepted);
out:
	for (i = 0; i < MANY; i++)
		got_free(&many[i]);
	teardown();
}

TEST(test_host_limit)
{
	struct gw_curlm_opts opts = { .max_host_connections = 4 };
	struct gw_http_req req = { 0 };
	int i, ok = 0;

	if (setup(&opts) == -1)
		goto out;
	req.url = url("/hello");
	/* All at once: libcurl queues what the limit holds back. */
	for (i = 0; i < 40; i++)
		CHECK(go(&req, &many[i]) == 0);
	CHECK(gw_curlm_active(cm) == 40);
	run();
	for (i = 0; i < 40; i++)
		ok += many[i].called == 1 && many[i].status == 200;
	CHECK(ok == 40);
	CHECK(srv->accepted >= 1 && srv->accepted <= 4);
out:
	for (i = 0; i < 40; i++)
		got_free(&many[i]);
	teardown();
}

/* Records the order of done calls. */
static int order_seq;

static void
order_cb(void *arg, const struct gw_http_res *res)
{
	struct got *g = arg;

	record(g, res);
	g->called = ++order_seq;
	if (--pending == 0)
		gw_loop_stop(loop);
}

TEST(test_queued_timeout)
{
	struct gw_curlm_opts opts = { .max_host_connections = 1 };
	static struct got a, b;
	struct gw_http_req req = { 0 };

	if (setup(&opts) == -1)
		goto out;
	order_seq = 0;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	/* <a> holds the one connection; <b> waits behind it. */
	req.url = url("/slow");
	req.timeout_ms = 5000;
	CHECK(gw_curlm_start(cm, &req, order_cb, &a) == 0);
	req.url = url("/hello");
	req.timeout_ms = 200;
	CHECK(gw_curlm_start(cm, &req, order_cb, &b) == 0);
	pending = 2;
	run();
	/* <b> timed out in the queue, long before <a> did. */
	CHECK(b.called == 1 && b.curl_code == CURLE_OPERATION_TIMEDOUT);
	CHECK(b.status == 0 && strstr(b.error, "timed out") != NULL);
	CHECK(a.called == 2 && a.curl_code == CURLE_OPERATION_TIMEDOUT);
	CHECK(srv->accepted == 1);
out:
	got_free(&a);
	got_free(&b);
	teardown();
}

/* Done function that tries to start another request. */
static int restart_errno;

static void
abort_cb(void *arg, const struct gw_http_res *res)
{
	struct gw_http_req req = { 0 };

	record(arg, res);
	req.url = "http://127.0.0.1:1/";
	errno = 0;
	if (gw_curlm_start(cm, &req, abort_cb, arg) == -1)
		restart_errno = errno;
}

TEST(test_free_in_flight)
{
	static struct got g[5];
	struct gw_http_req req = { 0 };
	int i, ok = 0;

	if (setup(NULL) == -1)
		goto out;
	req.url = url("/slow");
	for (i = 0; i < 5; i++)
		CHECK(gw_curlm_start(cm, &req, abort_cb, &g[i]) == 0);
	/* Until the server holds all five. */
	srv->stop_at_slow = 5;
	run();
	CHECK(srv->slow_seen == 5);
	restart_errno = 0;
	gw_curlm_free(cm);
	cm = NULL;
	for (i = 0; i < 5; i++)
		ok += g[i].called == 1 &&
		    g[i].curl_code == CURLE_ABORTED_BY_CALLBACK &&
		    g[i].status == 0 && g[i].error[0] != '\0';
	CHECK(ok == 5);
	CHECK(restart_errno == ECANCELED);
out:
	for (i = 0; i < 5; i++)
		got_free(&g[i]);
	teardown();
}

/* Frees the client from its own done function. */
static struct got self_g[3];

static void
self_free_cb(void *arg, const struct gw_http_res *res)
{
	record(arg, res);
	if (arg == &self_g[0]) {
		gw_curlm_free(cm);
		cm = NULL;
		gw_loop_stop(loop);
	}
}

TEST(test_free_from_done)
{
	struct gw_http_req req = { 0 };
	int i;

	memset(self_g, 0, sizeof(self_g));
	if (setup(NULL) == -1)
		goto out;
	req.url = url("/slow");
	CHECK(gw_curlm_start(cm, &req, self_free_cb, &self_g[1]) == 0);
	CHECK(gw_curlm_start(cm, &req, self_free_cb, &self_g[2]) == 0);
	req.url = url("/hello");
	CHECK(gw_curlm_start(cm, &req, self_free_cb, &self_g[0]) == 0);
	run();
	CHECK(cm == NULL);
	CHECK(self_g[0].called == 1 && self_g[0].status == 200);
	CHECK(self_g[1].called == 1 &&
	    self_g[1].curl_code == CURLE_ABORTED_BY_CALLBACK);
	CHECK(self_g[2].called == 1 &&
	    self_g[2].curl_code == CURLE_ABORTED_BY_CALLBACK);
out:
	for (i = 0; i < 3; i++)
		got_free(&self_g[i]);
	teardown();
}

TEST(test_new_free)
{
	struct gw_curlm_opts bad = { .max_total_connections = -1 };
	struct gw_loop *l = gw_loop_new();

	CHECK(l != NULL);
	if (l == NULL)
		return;
	gw_curlm_free(NULL);
	errno = 0;
	CHECK(gw_curlm_new(NULL, NULL) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(gw_curlm_new(l, &bad) == NULL && errno == EINVAL);
	/* Free before any request, and twice in a row. */
	gw_curlm_free(gw_curlm_new(l, NULL));
	gw_curlm_free(gw_curlm_new(l, NULL));
	gw_loop_free(l);
}

int
main(void)
{
	static const char *const proxies[] = { "http_proxy", "HTTP_PROXY",
		"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL };
	int i;

	/* The server is on loopback: no proxy of the environment's. */
	for (i = 0; proxies[i] != NULL; i++)
		unsetenv(proxies[i]);
	signal(SIGPIPE, SIG_IGN);
	RUN(test_new_free);
	RUN(test_get);
	RUN(test_busy_retry_after);
	RUN(test_timeout);
	RUN(test_closed);
	RUN(test_refused);
	RUN(test_large_capped);
	RUN(test_post_binary);
	RUN(test_methods_headers);
	RUN(test_connect_to_path_as_is);
	RUN(test_redirect);
	RUN(test_headers_bounded);
	RUN(test_bad_args);
	RUN(test_many_keepalive);
	RUN(test_host_limit);
	RUN(test_queued_timeout);
	RUN(test_free_in_flight);
	RUN(test_free_from_done);
	return harness_done();
}
