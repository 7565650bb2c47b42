/* SPDX-License-Identifier: MIT */
/*
 * libcurl's multi-socket API on gw's event loop (see curlm.h).  libcurl
 * tells us which sockets to watch (socket callback: one struct cm_sock
 * and gw_io per descriptor, found by fd) and when to wake it (timer
 * callback: one gw_timer); the loop calls curl_multi_socket_action() back
 * when either fires, and then we collect finished transfers with
 * curl_multi_info_read() and call their done functions.  Those calls only
 * ever happen there, on the way out of a loop callback and outside any
 * libcurl callback, so a done function may start requests or free the
 * client.  A timeout of 0 asked by libcurl is a timer due now, which the
 * loop runs in its timer phase: never a recursive socket action.  Each
 * transfer also has a deadline timer of its own, for the time libcurl
 * keeps it queued behind a connection limit.
 */
#include <curl/curl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "curlm.h"
#include "http.h"
#include "loop.h"

#ifndef GW_VERSION
#define GW_VERSION "0.1.0"
#endif

_Static_assert(CURL_ERROR_SIZE <= GW_HTTP_ERROR_SIZE,
    "GW_HTTP_ERROR_SIZE must hold libcurl's error buffer");

#define CM_MAX_REDIRS 10
/*
 * libcurl does not time out a transfer queued behind a connection limit
 * (it only notices once the transfer leaves the queue), so each transfer
 * has a deadline of its own this long after libcurl's.
 */
#define CM_DEADLINE_GRACE_MS 250

/* A descriptor libcurl asked us to watch. */
struct cm_sock {
	struct gw_io io;
	struct gw_curlm *cm;
};

/* A kept response header: offsets of its name and value in hbuf. */
struct cm_hdr {
	size_t name;
	size_t value;
};

/* One request in flight, from gw_curlm_start() to its done call. */
struct cm_xfer {
	struct gw_curlm *cm;
	struct cm_xfer *prev, *next;
	CURL *easy;
	struct curl_slist *hdrs;
	struct curl_slist *connect_to;
	gw_http_done_fn *done;
	void *arg;
	struct gw_timer deadline;
	long timeout_ms;

	int status; /* of the response being received, from its status line */
	int keep_body;
	size_t max_response;
	struct gw_buf body; /* up to max_response bytes, plus room for a NUL */
	uint64_t body_total;

	struct gw_buf hbuf; /* "name\0value\0" for each kept header */
	struct cm_hdr *hdr;
	size_t nhdr, caphdr;
	int htrunc;
	int hlast_kept; /* a folded line may extend the last header */

	char errbuf[CURL_ERROR_SIZE];
};

struct gw_curlm {
	struct gw_loop *loop;
	CURLM *multi;
	CURLSH *share; /* TLS sessions, so new connections resume them */
	struct gw_timer timer;

	struct cm_sock **byfd; /* watched descriptors, indexed by fd */
	size_t nbyfd;

	struct cm_xfer *xfers; /* in flight, for gw_curlm_free() */
	size_t nactive;

	int busy;    /* inside a loop callback of ours */
	int closing; /* gw_curlm_free() has begun */
	int global;  /* holds a curl_global_init() reference */
	char ua[64]; /* "gw/<version>" */
};

/* Sockets. */

static struct cm_sock *
sock_find(const struct gw_curlm *cm, curl_socket_t fd)
{
	if (fd < 0 || (size_t)fd >= cm->nbyfd)
		return NULL;
	return cm->byfd[fd];
}

/* Stops watching <s> (before its descriptor is closed) and frees it. */
static void
sock_drop(struct gw_curlm *cm, struct cm_sock *s)
{
	int fd = s->io.fd;

	gw_io_stop(cm->loop, &s->io);
	cm->byfd[fd] = NULL;
	free(s);
}

static void cm_io_cb(struct gw_loop *, struct gw_io *, int);

static struct cm_sock *
sock_add(struct gw_curlm *cm, curl_socket_t fd)
{
	struct cm_sock **v, *s;
	size_t n;

	if ((size_t)fd >= cm->nbyfd) {
		n = cm->nbyfd ? cm->nbyfd : 64;
		while (n <= (size_t)fd)
			n *= 2;
		if ((v = reallocarray(cm->byfd, n, sizeof(*v))) == NULL)
			return NULL;
		memset(v + cm->nbyfd, 0, (n - cm->nbyfd) * sizeof(*v));
		cm->byfd = v;
		cm->nbyfd = n;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->cm = cm;
	gw_io_init(&s->io, fd, cm_io_cb, s);
	cm->byfd[fd] = s;
	return s;
}

/*
 * CURLMOPT_SOCKETFUNCTION.  Sockets are found by descriptor rather than
 * through curl_multi_assign(): the descriptor is what epoll knows, and a
 * stale pointer can then never be followed.
 */
static int
cm_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct gw_curlm *cm = arg;
	struct cm_sock *s;
	int mask = 0;

	(void)easy;
	(void)sockp;
	s = sock_find(cm, fd);
	if (what == CURL_POLL_REMOVE || cm->closing) {
		if (s != NULL)
			sock_drop(cm, s);
		return 0;
	}
	if (what & CURL_POLL_IN)
		mask |= GW_READ;
	if (what & CURL_POLL_OUT)
		mask |= GW_WRITE;
	if (s == NULL && (s = sock_add(cm, fd)) == NULL)
		return -1;
	if (gw_io_set(cm->loop, &s->io, mask) == 0)
		return 0;
	/*
	 * ENOENT: the descriptor was closed and reopened without a word to
	 * us, and epoll dropped it with the old file.  Register it afresh.
	 */
	if (errno != ENOENT)
		return -1;
	gw_io_stop(cm->loop, &s->io);
	return gw_io_set(cm->loop, &s->io, mask) == -1 ? -1 : 0;
}

/*
 * CURLOPT_CLOSESOCKETFUNCTION.  libcurl normally says CURL_POLL_REMOVE
 * first; if it did not, the watcher goes now, while epoll can still see
 * the file (once the number is reused, EPOLL_CTL_DEL would hit whatever
 * file got it).
 */
static int
cm_closesocket_cb(void *arg, curl_socket_t fd)
{
	struct gw_curlm *cm = arg;
	struct cm_sock *s;

	if ((s = sock_find(cm, fd)) != NULL)
		sock_drop(cm, s);
	return close(fd);
}

/* CURLMOPT_TIMERFUNCTION: arm our timer, never act from in here. */
static int
cm_timer_cb(CURLM *multi, long ms, void *arg)
{
	struct gw_curlm *cm = arg;

	(void)multi;
	if (ms < 0 || cm->closing) {
		gw_timer_stop(cm->loop, &cm->timer);
		return 0;
	}
	return gw_timer_set(cm->loop, &cm->timer, (uint64_t)ms) == -1 ? -1 : 0;
}

/* Transfers. */

static void
xfer_free(struct cm_xfer *x)
{
	if (x == NULL)
		return;
	gw_timer_stop(x->cm->loop, &x->deadline);
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	curl_slist_free_all(x->connect_to);
	gw_buf_fini(&x->body);
	gw_buf_fini(&x->hbuf);
	free(x->hdr);
	free(x);
}

static void
xfer_unlink(struct gw_curlm *cm, struct cm_xfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		cm->xfers = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	cm->nactive--;
}

/* CURLOPT_WRITEFUNCTION: count everything, keep what the request wants. */
static size_t
xfer_write(char *p, size_t size, size_t n, void *arg)
{
	struct cm_xfer *x = arg;
	size_t len = size * n, room, take;

	x->body_total += len;
	if (!x->keep_body && x->status >= 200 && x->status <= 299)
		return len;
	room = x->max_response - x->body.len;
	take = len < room ? len : room;
	/* Out of memory keeps what we have: the count stays exact. */
	if (take > 0)
		(void)gw_buf_add(&x->body, p, take);
	return len;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Keeps one header, or marks the set truncated. */
static void
hdr_add(struct cm_xfer *x, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	struct cm_hdr *v;
	size_t n, at = x->hbuf.len;
	char *t;

	x->hlast_kept = 0;
	/* Past the limit, keep none: what is kept is a prefix, in order. */
	if (x->htrunc)
		return;
	if (x->nhdr == x->caphdr) {
		n = x->caphdr ? x->caphdr * 2 : 16;
		if ((v = reallocarray(x->hdr, n, sizeof(*v))) == NULL) {
			x->htrunc = 1;
			return;
		}
		x->hdr = v;
		x->caphdr = n;
	}
	if (nlen > SIZE_MAX / 2 || vlen > SIZE_MAX / 2 ||
	    (t = gw_buf_reserve(&x->hbuf, nlen + vlen + 2)) == NULL) {
		x->htrunc = 1;
		return;
	}
	memcpy(t, name, nlen);
	t[nlen] = '\0';
	memcpy(t + nlen + 1, value, vlen);
	t[nlen + 1 + vlen] = '\0';
	gw_buf_commit(&x->hbuf, nlen + vlen + 2);
	x->hdr[x->nhdr].name = at;
	x->hdr[x->nhdr].value = at + nlen + 1;
	x->nhdr++;
	x->hlast_kept = 1;
}

/* An obsolete folded line: its text joins the last value after a space. */
static void
hdr_fold(struct cm_xfer *x, const char *p, size_t len)
{
	char *t;

	if (!x->hlast_kept)
		return;
	if ((t = gw_buf_reserve(&x->hbuf, len + 1)) == NULL) {
		x->htrunc = 1;
		x->hlast_kept = 0;
		return;
	}
	/* The last byte is the NUL ending the last value. */
	t[-1] = ' ';
	memcpy(t, p, len);
	t[len] = '\0';
	gw_buf_commit(&x->hbuf, len + 1);
}

/* A status line starts a response: forget what an earlier one left. */
static void
xfer_new_response(struct cm_xfer *x, const char *p, size_t len)
{
	size_t i = 5;
	int st = 0, d;

	while (i < len && !is_blank(p[i]))
		i++;
	while (i < len && is_blank(p[i]))
		i++;
	for (d = 0; d < 3 && i < len && p[i] >= '0' && p[i] <= '9'; d++, i++)
		st = st * 10 + (p[i] - '0');
	x->status = d == 3 ? st : 0;
	gw_buf_reset(&x->hbuf);
	x->nhdr = 0;
	x->htrunc = 0;
	x->hlast_kept = 0;
	gw_buf_reset(&x->body);
	x->body_total = 0;
}

/* CURLOPT_HEADERFUNCTION: one whole header line per call. */
static size_t
xfer_header(char *p, size_t size, size_t n, void *arg)
{
	struct cm_xfer *x = arg;
	size_t len = size * n, all = len, nlen;
	const char *colon, *v;

	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		xfer_new_response(x, p, len);
		return all;
	}
	if (len == 0)
		return all;
	if (is_blank(p[0])) {
		while (len > 0 && is_blank(*p)) {
			p++;
			len--;
		}
		while (len > 0 && is_blank(p[len - 1]))
			len--;
		hdr_fold(x, p, len);
		return all;
	}
	if ((colon = memchr(p, ':', len)) == NULL) {
		x->hlast_kept = 0;
		return all;
	}
	nlen = (size_t)(colon - p);
	while (nlen > 0 && is_blank(p[nlen - 1]))
		nlen--;
	v = colon + 1;
	len -= (size_t)(v - p);
	while (len > 0 && is_blank(*v)) {
		v++;
		len--;
	}
	while (len > 0 && is_blank(v[len - 1]))
		len--;
	if (nlen == 0) {
		x->hlast_kept = 0;
		return all;
	}
	hdr_add(x, p, nlen, v, len);
	return all;
}

/* How a transfer ended, for xfer_finish(). */
enum { XFER_DONE, XFER_ABORTED, XFER_EXPIRED };

/*
 * Builds the result of <x>, calls its done function and frees it.  <x>
 * is already out of the multi handle and the list.
 */
static void
xfer_finish(struct cm_xfer *x, CURLcode code, int why)
{
	struct gw_http_header *hv = NULL;
	struct gw_http_res res;
	long status = 0, nconn = 0;
	double t;
	size_t i;

	memset(&res, 0, sizeof(res));
	res.curl_code = (int)code;
	res.body = "";
	if (code != CURLE_OK) {
		if (why == XFER_ABORTED)
			snprintf(res.error, sizeof(res.error), "%s",
			    "Transfer aborted: the client was freed");
		else if (why == XFER_EXPIRED)
			snprintf(res.error, sizeof(res.error),
			    "Operation timed out after %llu milliseconds "
			    "waiting for a connection",
			    (unsigned long long)x->timeout_ms +
			        CM_DEADLINE_GRACE_MS);
		else if (x->errbuf[0] != '\0')
			snprintf(res.error, sizeof(res.error), "%s", x->errbuf);
		else
			snprintf(res.error, sizeof(res.error), "%s",
			    curl_easy_strerror(code));
	}
	if (why == XFER_ABORTED)
		goto done;

	if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) ==
	    CURLE_OK)
		res.status = (int)status;
	if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn) ==
	    CURLE_OK)
		res.reused = nconn == 0 && res.status != 0;
	if (curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &t) == CURLE_OK)
		res.total_s = t;
	if (curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME, &t) == CURLE_OK)
		res.connect_s = t;
	if (curl_easy_getinfo(x->easy, CURLINFO_STARTTRANSFER_TIME, &t) ==
	    CURLE_OK)
		res.starttransfer_s = t;

	/* The body's room has a byte past max_response for this NUL. */
	if (x->body.len > 0 && gw_buf_addc(&x->body, '\0') == 0) {
		res.body = gw_buf_head(&x->body);
		res.body_len = x->body.len - 1;
	}
	res.body_total = x->body_total;

	res.headers_truncated = x->htrunc;
	if (x->nhdr > 0) {
		if ((hv = calloc(x->nhdr, sizeof(*hv))) == NULL)
			res.headers_truncated = 1;
		else {
			for (i = 0; i < x->nhdr; i++) {
				hv[i].name = x->hbuf.data + x->hdr[i].name;
				hv[i].value = x->hbuf.data + x->hdr[i].value;
			}
			res.headers = hv;
			res.nheaders = x->nhdr;
		}
	}
done:
	/*
	 * The handle goes first: a done function that frees the client
	 * must find no handle holding the share.
	 */
	curl_easy_cleanup(x->easy);
	x->easy = NULL;
	gw_timer_stop(x->cm->loop, &x->deadline);
	x->done(x->arg, &res);
	free(hv);
	xfer_free(x);
}

/*
 * Calls the done functions of the transfers libcurl has finished.  Stops
 * as soon as one of them frees the client.
 */
static void
cm_check_done(struct gw_curlm *cm)
{
	struct cm_xfer *x;
	CURLMsg *msg;
	CURLcode code;
	CURL *easy;
	char *priv;
	int left;

	while (!cm->closing &&
	    (msg = curl_multi_info_read(cm->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		code = msg->data.result;
		priv = NULL;
		(void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		if ((x = (struct cm_xfer *)(void *)priv) == NULL)
			continue; /* not ours: cannot happen */
		/* <msg> dies with the handle's removal. */
		(void)curl_multi_remove_handle(cm->multi, easy);
		xfer_unlink(cm, x);
		xfer_finish(x, code, XFER_DONE);
	}
}

/*
 * The one way into libcurl from the loop.  If a done function freed the
 * client, what gw_curlm_free() left of it goes here, once nothing of ours
 * is on the stack any more.
 */
static void
cm_action(struct gw_curlm *cm, curl_socket_t fd, int flags)
{
	int running;

	cm->busy++;
	if (!cm->closing)
		(void)curl_multi_socket_action(cm->multi, fd, flags, &running);
	cm_check_done(cm);
	if (--cm->busy == 0 && cm->closing)
		free(cm);
}

static void
cm_io_cb(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct cm_sock *s = io->arg;
	int flags = 0;

	(void)loop;
	if (events & GW_READ)
		flags |= CURL_CSELECT_IN;
	if (events & GW_WRITE)
		flags |= CURL_CSELECT_OUT;
	/* libcurl may close and free <s> in there: do not touch it after. */
	cm_action(s->cm, io->fd, flags);
}

static void
cm_timer_fire(struct gw_loop *loop, struct gw_timer *t)
{
	(void)loop;
	cm_action(t->arg, CURL_SOCKET_TIMEOUT, 0);
}

/* A transfer's own deadline: libcurl let it wait too long in its queue. */
static void
xfer_expire(struct gw_loop *loop, struct gw_timer *t)
{
	struct cm_xfer *x = t->arg;
	struct gw_curlm *cm = x->cm;

	(void)loop;
	cm->busy++;
	(void)curl_multi_remove_handle(cm->multi, x->easy);
	xfer_unlink(cm, x);
	xfer_finish(x, CURLE_OPERATION_TIMEDOUT, XFER_EXPIRED);
	if (--cm->busy == 0 && cm->closing)
		free(cm);
}

/* The client. */

struct gw_curlm *
gw_curlm_new(struct gw_loop *loop, const struct gw_curlm_opts *opts)
{
	static const struct gw_curlm_opts dflt;
	struct gw_curlm *cm;
	long host, total, idle;
	int mc = CURLM_OK;
	int saved_errno;

	if (opts == NULL)
		opts = &dflt;
	host = opts->max_host_connections;
	if (host == 0)
		host = GW_CURLM_MAX_HOST_CONNECTIONS;
	else if (host < 0)
		host = 0;
	total = opts->max_total_connections;
	idle = opts->max_idle ? opts->max_idle : GW_CURLM_MAX_IDLE;
	if (loop == NULL || total < 0 || idle < 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((cm = calloc(1, sizeof(*cm))) == NULL)
		return NULL;
	cm->loop = loop;
	gw_timer_init(&cm->timer, cm_timer_fire, cm);
	snprintf(cm->ua, sizeof(cm->ua), "gw/%s", GW_VERSION);
	errno = ENOMEM;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto fail;
	cm->global = 1;
	if ((cm->multi = curl_multi_init()) == NULL)
		goto fail;
	mc |=
	    curl_multi_setopt(cm->multi, CURLMOPT_SOCKETFUNCTION, cm_socket_cb);
	mc |= curl_multi_setopt(cm->multi, CURLMOPT_SOCKETDATA, cm);
	mc |= curl_multi_setopt(cm->multi, CURLMOPT_TIMERFUNCTION, cm_timer_cb);
	mc |= curl_multi_setopt(cm->multi, CURLMOPT_TIMERDATA, cm);
	mc |= curl_multi_setopt(cm->multi, CURLMOPT_MAX_HOST_CONNECTIONS, host);
	mc |=
	    curl_multi_setopt(cm->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, total);
	mc |= curl_multi_setopt(cm->multi, CURLMOPT_MAXCONNECTS, idle);
	if (mc != CURLM_OK) {
		errno = EINVAL;
		goto fail;
	}
	/* Sharing TLS sessions is an optimisation: do without if refused. */
	if ((cm->share = curl_share_init()) != NULL &&
	    curl_share_setopt(cm->share, CURLSHOPT_SHARE,
	        CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		curl_share_cleanup(cm->share);
		cm->share = NULL;
	}
	return cm;
fail:
	saved_errno = errno;
	gw_curlm_free(cm);
	errno = saved_errno;
	return NULL;
}

void
gw_curlm_free(struct gw_curlm *cm)
{
	struct cm_xfer *x;
	size_t fd;

	if (cm == NULL || cm->closing)
		return;
	cm->closing = 1;
	gw_timer_stop(cm->loop, &cm->timer);
	while ((x = cm->xfers) != NULL) {
		xfer_unlink(cm, x);
		(void)curl_multi_remove_handle(cm->multi, x->easy);
		xfer_finish(x, CURLE_ABORTED_BY_CALLBACK, XFER_ABORTED);
	}
	/* Closes the cached connections, through cm_closesocket_cb(). */
	if (cm->multi != NULL)
		curl_multi_cleanup(cm->multi);
	cm->multi = NULL;
	if (cm->share != NULL)
		curl_share_cleanup(cm->share);
	cm->share = NULL;
	for (fd = 0; fd < cm->nbyfd; fd++)
		if (cm->byfd[fd] != NULL)
			sock_drop(cm, cm->byfd[fd]);
	free(cm->byfd);
	cm->byfd = NULL;
	cm->nbyfd = 0;
	gw_timer_stop(cm->loop, &cm->timer);
	if (cm->global)
		curl_global_cleanup();
	cm->global = 0;
	/* From a done function: cm_action() frees <cm> on its way out. */
	if (cm->busy == 0)
		free(cm);
}

size_t
gw_curlm_active(const struct gw_curlm *cm)
{
	return cm->nactive;
}

const char *
gw_http_res_header(const struct gw_http_res *res, const char *name)
{
	size_t i;

	for (i = 0; i < res->nheaders; i++)
		if (strcasecmp(res->headers[i].name, name) == 0)
			return res->headers[i].value;
	return NULL;
}

/* Does <m> send a body even when it is empty ("Content-Length: 0")? */
static int
method_has_body(const char *m)
{
	return m != NULL &&
	    (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	        strcmp(m, "PATCH") == 0);
}

/* Does header line <h> ("Name: v", "Name:" or "Name;") name <name>? */
static int
hdr_named(const char *h, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(h, name, n) == 0 && (h[n] == ':' || h[n] == ';');
}

static int
slist_add(struct curl_slist **l, const char *s)
{
	struct curl_slist *n;

	if ((n = curl_slist_append(*l, s)) == NULL)
		return -1;
	*l = n;
	return 0;
}

/*
 * The request's method and body.  A body goes through CURLOPT_POSTFIELDS
 * (borrowed, binary-safe with its size set first) whatever the method.
 */
static int
xfer_set_method(CURL *e, const struct gw_http_req *req, int has_body)
{
	const char *m = req->method;
	int c = CURLE_OK;

	if (m == NULL)
		m = has_body ? "POST" : "GET";
	if (has_body) {
		c |= curl_easy_setopt(
		    e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		c |= curl_easy_setopt(
		    e, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
		if (strcmp(m, "POST") != 0)
			c |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	} else if (strcmp(m, "HEAD") == 0)
		c |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(m, "GET") == 0)
		c |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else
		c |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	return c == CURLE_OK ? 0 : -1;
}

int
gw_curlm_start(struct gw_curlm *cm, const struct gw_http_req *req,
    gw_http_done_fn *done, void *arg)
{
	const char *const *h;
	struct cm_xfer *x;
	int has_body, has_expect = 0, has_ctype = 0, saved_errno;
	long tmo, ctmo;
	size_t maxr;
	int c = CURLE_OK; /* setopt results OR'd: 0 when all succeeded */
	CURL *e;

	if (cm->closing) {
		errno = ECANCELED;
		return -1;
	}
	if (req == NULL || req->url == NULL || done == NULL ||
	    (req->method != NULL &&
	        !gw_http_token_ok(req->method, strlen(req->method)))) {
		errno = EINVAL;
		return -1;
	}
	for (h = req->headers; h != NULL && *h != NULL; h++) {
		if (strpbrk(*h, "\r\n") != NULL) {
			errno = EINVAL;
			return -1;
		}
		has_expect |= hdr_named(*h, "Expect");
		has_ctype |= hdr_named(*h, "Content-Type");
	}
	if (req->body == NULL && req->body_len > 0) {
		errno = EINVAL;
		return -1;
	}
	has_body = req->body != NULL || method_has_body(req->method);

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return -1;
	x->cm = cm;
	x->done = done;
	x->arg = arg;
	gw_timer_init(&x->deadline, xfer_expire, x);
	x->keep_body = req->keep_body;
	maxr = req->max_response ? req->max_response : GW_HTTP_MAX_RESPONSE;
	if (maxr > SIZE_MAX - 1)
		maxr = SIZE_MAX - 1;
	x->max_response = maxr;
	gw_buf_init(&x->body, maxr + 1);
	gw_buf_init(&x->hbuf, GW_HTTP_MAX_HEADER_BYTES);

	errno = ENOMEM;
	if ((x->easy = e = curl_easy_init()) == NULL)
		goto fail;
	for (h = req->headers; h != NULL && *h != NULL; h++)
		if (slist_add(&x->hdrs, *h) == -1)
			goto fail;
	if (req->connect_to != NULL &&
	    slist_add(&x->connect_to, req->connect_to) == -1)
		goto fail;
	/* Empty values remove libcurl's own: see curlm.h. */
	if (has_body && !has_expect && slist_add(&x->hdrs, "Expect:") == -1)
		goto fail;
	if (has_body && !has_ctype &&
	    slist_add(&x->hdrs, "Content-Type:") == -1)
		goto fail;

	if ((tmo = req->timeout_ms) == 0)
		tmo = GW_HTTP_TIMEOUT_MS;
	x->timeout_ms = tmo;
	if ((ctmo = req->connect_timeout_ms) == 0)
		ctmo = GW_HTTP_CONNECT_TIMEOUT_MS;
	c |= curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)x);
	c |= curl_easy_setopt(e, CURLOPT_URL, req->url);
	c |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	c |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	c |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, xfer_write);
	c |= curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)x);
	c |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, xfer_header);
	c |= curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)x);
	c |=
	    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, cm_closesocket_cb);
	c |= curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, (void *)cm);
	if (cm->share != NULL)
		c |= curl_easy_setopt(e, CURLOPT_SHARE, cm->share);
	c |= curl_easy_setopt(e, CURLOPT_USERAGENT, cm->ua);
	if (x->hdrs != NULL)
		c |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
#if LIBCURL_VERSION_NUM >= 0x075500
	c |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	c |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	c |= curl_easy_setopt(
	    e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	c |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (req->follow_redirects) {
		c |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		c |=
		    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)CM_MAX_REDIRS);
	}
	if (tmo > 0)
		c |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, tmo);
	if (ctmo > 0)
		c |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ctmo);
	if (req->insecure) {
		c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (req->ca_file != NULL)
		c |= curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
	c |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (x->connect_to != NULL)
		c |= curl_easy_setopt(e, CURLOPT_CONNECT_TO, x->connect_to);
	if (req->path_as_is)
		c |= curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	if (c != CURLE_OK || xfer_set_method(e, req, has_body) == -1) {
		/* Only an allocation or an option this libcurl lacks. */
		errno = c == CURLE_OUT_OF_MEMORY ? ENOMEM : EINVAL;
		goto fail;
	}
	if (tmo > 0 &&
	    gw_timer_set(cm->loop, &x->deadline,
	        (uint64_t)tmo + CM_DEADLINE_GRACE_MS) == -1)
		goto fail;
	/* Sets a timer for 0 ms at most: nothing runs before the loop. */
	if (curl_multi_add_handle(cm->multi, e) != CURLM_OK) {
		errno = ENOMEM;
		goto fail;
	}
	x->next = cm->xfers;
	if (cm->xfers != NULL)
		cm->xfers->prev = x;
	cm->xfers = x;
	cm->nactive++;
	return 0;
fail:
	saved_errno = errno;
	xfer_free(x);
	errno = saved_errno;
	return -1;
}
