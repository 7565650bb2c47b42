// SPDX-License-Identifier: MIT
/*
 * Destinations at run time: each takes batches from its spool, encodes
 * them (fmt_*.c), compresses them and sends them, several at once, and
 * acknowledges a batch to the spool only when the destination accepted
 * it, so that nothing is lost (at-least-once; consumers deduplicate on
 * event_id).  What the answer says decides the rest:
 *   2xx                  acknowledged
 *   408, 429, 5xx, no answer   retried with exponential backoff and full
 *                        jitter (1 s base, 120 s cap), Retry-After honoured
 *   413                  the batch goes back and the next ones are half
 *                        the size (one event that alone is too large is
 *                        dead-lettered)
 *   401, 403             the destination stops sending, loudly; its spool
 *                        keeps growing and nothing is dropped
 *   other 4xx            the batch goes to the dead-letter file with the
 *                        answer, loudly, and delivery goes on
 * HTTP goes through lib/curlm; syslog over TCP or UDP through a socket on
 * the same loop; file and stdout destinations write locally.  One slow
 * destination never holds up another: each has its own spool, timer and
 * requests in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "curlm.h"
#include "fmt.h"
#include "log.h"
#include "sock.h"
#include "spool.h"
#include "timeutil.h"
#include "tls.h"
#include "xconf.h"
#include "xdest.h"

#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS  120000
#define MAX_HEADERS     24
#define SPOOL_FLUSH_MS  50

struct flight {
	struct dest *d;
	struct spool_batch sb;
	struct xbatch xb;
	struct gw_buf z; /* the compressed body */
	size_t n;        /* events in the request */
	int busy;
};

static uint64_t
now_ms(void)
{
	return gw_mono_ns() / 1000000;
}

static void dest_timer(struct gw_loop *loop, struct gw_timer *t);
static void syslog_close(struct dest *d);
static void syslog_linger(struct dest *d);

/* Adds "<name>: <value>" to the destination's request headers. */
static int
add_header(struct dest *d, const char *name, const char *value)
{
	char *s;

	if (d->nhdr + 1 >= MAX_HEADERS)
		return -1;
	if (asprintf(&s, "%s: %s", name, value) == -1)
		return -1;
	d->hdr[d->nhdr++] = s;
	d->hdr[d->nhdr] = NULL;
	return 0;
}

/* The request headers a destination sends with every batch. */
static int
headers(struct dest *d)
{
	const struct dest_conf *c = d->c;
	const char *enc = xcomp_encoding(c->comp);
	size_t i;
	int r;

	if (d->enc != NULL && d->enc->content_type != NULL &&
	    add_header(d, "Content-Type", d->enc->content_type) == -1)
		return -1;
	if (enc != NULL && add_header(d, "Content-Encoding", enc) == -1)
		return -1;
	if (c->type == DEST_DATADOG &&
	    add_header(d, "DD-API-KEY", c->secret) == -1)
		return -1;
	if (c->type == DEST_LOKI && c->tenant != NULL &&
	    add_header(d, "X-Scope-OrgID", c->tenant) == -1)
		return -1;
	if (c->bearer != NULL) {
		char *v;

		if (asprintf(&v, "Bearer %s", c->bearer) == -1)
			return -1;
		r = add_header(d, "Authorization", v);
		free(v);
		if (r == -1)
			return -1;
	}
	if (c->secret != NULL && c->type != DEST_DATADOG) {
		size_t n = strlen(c->secret);
		char *v = malloc(GW_BASE64_ENCODED_LEN(n) + 7);

		if (v == NULL)
			return -1;
		memcpy(v, "Basic ", 6);
		v[6 + gw_base64_encode(c->secret, n, v + 6)] = '\0';
		r = add_header(d, "Authorization", v);
		free(v);
		if (r == -1)
			return -1;
	}
	for (i = 0; i < c->headers.n; i++) {
		const char *eq = strchr(c->headers.v[i], '=');
		char name[256];
		size_t n = (size_t)(eq - c->headers.v[i]);

		if (eq == NULL || n >= sizeof(name))
			continue;
		memcpy(name, c->headers.v[i], n);
		name[n] = '\0';
		if (add_header(d, name, eq + 1) == -1)
			return -1;
	}
	return 0;
}

static struct xenc *
encoder(const struct dest_conf *c, struct gw_error *err)
{
	switch (c->type) {
	case DEST_DATADOG: {
		struct fmt_datadog_opts o;

		memset(&o, 0, sizeof(o));
		o.source = c->source;
		o.service = c->service;
		o.hostname = c->hostname;
		o.tags = (const char *const *)c->tags.v;
		o.ntags = c->tags.n;
		o.max_events = (size_t)c->batch_events;
		o.max_bytes = (size_t)c->batch_bytes;
		return fmt_datadog_new(&o);
	}
	case DEST_HTTP: {
		struct fmt_http_opts o;

		memset(&o, 0, sizeof(o));
		o.array = strcmp(c->format, "json") == 0;
		o.max_events = (size_t)c->batch_events;
		o.max_bytes = (size_t)c->batch_bytes;
		return fmt_http_new(&o);
	}
	case DEST_LOKI: {
		struct fmt_loki_opts o;

		memset(&o, 0, sizeof(o));
		o.service = c->service;
		o.labels = (const char *const *)c->labels.v;
		o.nlabels = c->labels.n;
		o.max_events = (size_t)c->batch_events;
		return fmt_loki_new(&o, err);
	}
	case DEST_SYSLOG: {
		struct fmt_syslog_opts o;

		memset(&o, 0, sizeof(o));
		o.facility = (int)c->facility;
		o.hostname = c->hostname;
		o.app_name = c->service;
		o.udp = strcmp(c->transport, "udp") == 0;
		o.max_message = (size_t)c->max_message;
		o.max_events = (size_t)c->batch_events;
		return fmt_syslog_new(&o, err);
	}
	case DEST_FILE:
	case DEST_STDOUT:
		break;
	}
	return NULL;
}

struct dest *
dest_new(const struct dest_conf *c, struct xport *x, const char *spool_root,
    struct gw_error *err)
{
	struct spool_opts so;
	struct dest *d;
	char *dir = NULL;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->c = c;
	d->x = x;
	d->fd = -1;
	d->max_events = (size_t)c->batch_events;
	gw_timer_init(&d->timer, dest_timer, d);
	gw_buf_init(&d->out, 0);
	if (asprintf(&dir, "%s/%s", spool_root, c->name) == -1)
		goto nomem;
	memset(&so, 0, sizeof(so));
	so.max_bytes = c->spool_max;
	so.full = c->block ? SPOOL_BLOCK : SPOOL_DROP_OLDEST;
	so.max_inflight = (unsigned)c->concurrency + 4;
	if ((d->sp = spool_open(dir, &so, err)) == NULL)
		goto fail;
	if (asprintf(&d->dlq_path, "%s/dead-letter.ndjson", dir) == -1)
		goto nomem;
	free(dir);
	dir = NULL;
	if (c->type != DEST_FILE && c->type != DEST_STDOUT) {
		if ((d->enc = encoder(c, err)) == NULL) {
			if (err->msg[0] == '\0')
				gw_error_set(err, NULL, 0, 0,
				    "%s: out of memory", c->name);
			goto fail;
		}
		if (c->type != DEST_SYSLOG && headers(d) == -1)
			goto nomem;
		if (c->type == DEST_SYSLOG &&
		    strcmp(c->transport, "tls") == 0 &&
		    (d->ssl_ctx = gw_tls_client_ctx(
		         c->ca_file, c->insecure, "ca_file", err)) == NULL)
			goto fail;
	}
	if ((d->fl = calloc((size_t)c->concurrency, sizeof(*d->fl))) == NULL)
		goto nomem;
	d->nfl = (size_t)c->concurrency;
	for (size_t i = 0; i < d->nfl; i++) {
		d->fl[i].d = d;
		spool_batch_init(&d->fl[i].sb);
		fmt_batch_init(&d->fl[i].xb);
		gw_buf_init(&d->fl[i].z, 0);
	}
	return d;
nomem:
	gw_error_set(err, NULL, 0, 0, "%s: out of memory", c->name);
fail:
	free(dir);
	dest_free(d);
	return NULL;
}

void
dest_free(struct dest *d)
{
	size_t i;

	if (d == NULL)
		return;
	gw_timer_stop(d->x->loop, &d->timer);
	for (i = 0; i < d->nfl; i++) {
		spool_batch_fini(&d->fl[i].sb);
		fmt_batch_fini(d->enc, &d->fl[i].xb);
		gw_buf_fini(&d->fl[i].z);
	}
	free(d->fl);
	for (i = 0; i < d->nhdr; i++)
		free(d->hdr[i]);
	fmt_free(d->enc);
	spool_close(d->sp);
	syslog_linger(d);
	syslog_close(d);
	SSL_CTX_free(d->ssl_ctx);
	if (d->ffd != 0 && d->ffd != -1)
		close(d->ffd);
	gw_buf_fini(&d->out);
	free(d->dlq_path);
	free(d);
}

int
dest_append(struct dest *d, const char *line, size_t len)
{
	if (spool_append(d->sp, line, len) == -1)
		return -1;
	d->appended_since_flush = 1;
	return 0;
}

void
dest_flush(struct dest *d)
{
	if (d->appended_since_flush && spool_flush(d->sp) == 0)
		d->appended_since_flush = 0;
}

/* Full jitter (the AWS architecture blog's): uniform in [0, min(cap, base
 * 2^n)). */
static uint64_t
backoff_ms(unsigned failures)
{
	uint64_t b = BACKOFF_BASE_MS;

	while (failures-- > 1 && b < BACKOFF_CAP_MS)
		b *= 2;
	if (b > BACKOFF_CAP_MS)
		b = BACKOFF_CAP_MS;
	return (uint64_t)random() % b + 100;
}

/* Retry-After: seconds, or an HTTP date.  0 when absent or unreadable. */
static uint64_t
retry_after_ms(const struct gw_http_res *res)
{
	const char *v = gw_http_res_header(res, "retry-after");
	struct tm tm;
	char *end;
	long s;
	time_t t;

	if (v == NULL)
		return 0;
	s = strtol(v, &end, 10);
	if (end != v && *end == '\0' && s >= 0)
		return (uint64_t)(s > 3600 ? 3600 : s) * 1000;
	memset(&tm, 0, sizeof(tm));
	if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm) == NULL)
		return 0;
	t = timegm(&tm) - time(NULL);
	return t > 0 ? (uint64_t)(t > 3600 ? 3600 : t) * 1000 : 0;
}

static void
arm(struct dest *d, uint64_t ms)
{
	if (gw_timer_set(d->x->loop, &d->timer, ms) == -1)
		gw_warn("%s: cannot arm a timer: out of memory", d->c->name);
}

/*
 * The batch failed in a way worth retrying: give it back, wait.  The
 * requests in flight when the destination went down fail together; they
 * are one failure, not one each, or the backoff would grow with the
 * concurrency instead of with the outage.
 */
static void
retry(struct dest *d, struct flight *f, uint64_t at_least_ms, const char *why)
{
	uint64_t now = now_ms(), wait;

	spool_release(d->sp, &f->sb);
	d->retried += f->sb.count;
	if (d->retry_at > now) {
		/* Already waiting for this outage; a Retry-After may extend. */
		if (now + at_least_ms > d->retry_at) {
			d->retry_at = now + at_least_ms;
			arm(d, at_least_ms);
		}
		return;
	}
	wait = backoff_ms(++d->failures);
	if (wait < at_least_ms)
		wait = at_least_ms;
	d->retry_at = now + wait;
	if (d->failures == 1 || d->failures % 10 == 0)
		gw_warn("%s: %s; retrying in %llu ms (attempt %u; the events "
		        "wait in the spool)",
		    d->c->name, why, (unsigned long long)wait, d->failures);
	arm(d, wait);
}

/* Appends the batch's lines and the answer to the dead-letter file. */
static void
dead_letter(struct dest *d, struct flight *f, int status, const char *answer,
    size_t alen)
{
	struct spool_line_iter it;
	const char *line;
	size_t len;
	char head[128];
	FILE *fp;
	int fd;

	fd = open(d->dlq_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	fp = fd == -1 ? NULL : fdopen(fd, "a");
	if (fp == NULL) {
		gw_error(
		    "%s: cannot write %s: %s; the batch stays in the spool",
		    d->c->name, d->dlq_path, strerror(errno));
		if (fd != -1)
			close(fd);
		spool_release(d->sp, &f->sb);
		d->retry_at = now_ms() + 10000;
		arm(d, 10000);
		return;
	}
	snprintf(head, sizeof(head),
	    "# %s: status %d, %zu events; answer: ", d->c->name, status,
	    f->sb.count);
	fputs(head, fp);
	for (len = 0; len < alen && len < 2048; len++)
		fputc(answer[len] == '\n' ? ' ' : answer[len], fp);
	fputc('\n', fp);
	spool_batch_lines(&f->sb, &it);
	while (spool_line_next(&it, &line, &len) == 1) {
		fwrite(line, 1, len, fp);
		fputc('\n', fp);
	}
	if (fclose(fp) != 0) {
		gw_error("%s: %s: %s; the batch stays in the spool", d->c->name,
		    d->dlq_path, strerror(errno));
		spool_release(d->sp, &f->sb);
		return;
	}
	gw_error("%s: the destination refused a batch of %zu events (status "
	         "%d: %.*s); it went to %s and delivery goes on",
	    d->c->name, f->sb.count, status, (int)(alen < 200 ? alen : 200),
	    answer, d->dlq_path);
	d->dead += f->sb.count;
	spool_ack(d->sp, &f->sb);
}

static void
done(struct dest *d, struct flight *f)
{
	f->busy = 0;
	d->inflight--;
	dest_pump(d);
	xport_progress(d->x);
}

static void
http_done(void *arg, const struct gw_http_res *res)
{
	struct flight *f = arg;
	struct dest *d = f->d;
	char why[320];

	d->requests++;
	d->last_status = res->status;
	snprintf(d->last_answer, sizeof(d->last_answer), "%.*s",
	    (int)(res->status ? (res->body_len < 500 ? res->body_len : 500)
	                      : strlen(res->error)),
	    res->status ? res->body : res->error);
	if (res->curl_code == 0 && res->status >= 200 && res->status < 300) {
		spool_ack(d->sp, &f->sb);
		d->sent += f->n;
		d->failures = 0;
		/* After a 413, grow back slowly towards the configured size. */
		if (d->max_events < (size_t)d->c->batch_events)
			d->max_events += d->max_events / 4 + 1;
		if (d->max_events > (size_t)d->c->batch_events)
			d->max_events = (size_t)d->c->batch_events;
	} else if (res->status == 0) {
		snprintf(why, sizeof(why), "%s", res->error);
		if (res->curl_code != 42) /* not aborted at exit */
			retry(d, f, 0, why);
		else
			spool_release(d->sp, &f->sb);
	} else if (res->status == 408 || res->status == 429 ||
	    res->status >= 500) {
		snprintf(why, sizeof(why), "status %d from %s", res->status,
		    d->c->url);
		retry(d, f, retry_after_ms(res), why);
	} else if (res->status == 413) {
		if (f->sb.count <= 1)
			dead_letter(
			    d, f, res->status, res->body, res->body_len);
		else {
			d->max_events = f->sb.count / 2;
			spool_release(d->sp, &f->sb);
			gw_warn("%s: 413: a batch of %zu events was too large; "
			        "sending %zu at a time",
			    d->c->name, f->sb.count, d->max_events);
		}
	} else if (res->status == 401 || res->status == 403) {
		spool_release(d->sp, &f->sb);
		if (!d->stopped)
			gw_error("%s: %d from %s: the %s was refused; sending "
			         "to %s stopped (its spool keeps every event; "
			         "fix the key and send gw-export SIGHUP): %.*s",
			    d->c->name, res->status, d->c->url,
			    d->c->type == DEST_DATADOG ? "API key"
			                               : "credential",
			    d->c->name,
			    (int)(res->body_len < 200 ? res->body_len : 200),
			    res->body);
		d->stopped = 1;
	} else
		dead_letter(d, f, res->status, res->body, res->body_len);
	done(d, f);
}

/*
 * The event_timestamp of an event line, µs, or 0.  gw writes it among the
 * first members, so a search of the line's head finds it without a scan;
 * an event from elsewhere gets the full scan.
 */
static int64_t
line_ts_us(const char *line, size_t len)
{
	static const char key[] = "\"event_timestamp\":\"";
	const char *p =
	    memmem(line, len < 256 ? len : 256, key, sizeof(key) - 1);
	const char *q;
	char buf[40];
	struct xevent ev;
	uint64_t ns;

	if (p != NULL) {
		p += sizeof(key) - 1;
		q = memchr(p, '"', (size_t)(line + len - p));
		if (q != NULL && (size_t)(q - p) < sizeof(buf)) {
			memcpy(buf, p, (size_t)(q - p));
			buf[q - p] = '\0';
			if (gw_parse_rfc3339(buf, &ns) == 0)
				return (int64_t)(ns / 1000);
		}
		return 0;
	}
	return pick_event(&ev, line, len) == 0 ? ev.ts_us : 0;
}

/*
 * Encodes the spool batch of <f> into f->xb.  Returns 0 (f->n events,
 * perhaps 0 when all were too old), 1 when the encoder refused part of
 * it (the batch went back and smaller ones follow), -1 on ENOMEM.
 */
static int
encode(struct dest *d, struct flight *f)
{
	struct spool_line_iter it;
	const char *line;
	size_t len;
	int r;

	fmt_reset(d->enc, &f->xb);
	f->n = 0;
	spool_batch_lines(&f->sb, &it);
	while (spool_line_next(&it, &line, &len) == 1) {
		if (d->c->max_age > 0) {
			int64_t ts = line_ts_us(line, len);

			if (ts > 0 &&
			    (int64_t)(gw_now_ns() / 1000) - ts >
			        (int64_t)d->c->max_age * 1000) {
				d->too_old++;
				continue;
			}
		}
		r = fmt_add_line(d->enc, &f->xb, line, len);
		if (r == FMT_FULL) {
			/* The encoder's limits bind first: resend smaller. */
			d->max_events = f->n > 0 ? f->n : 1;
			spool_release(d->sp, &f->sb);
			return 1;
		}
		if (r == -1 && errno == ENOMEM)
			return -1;
		if (r == -1) {
			d->unencodable++;
			continue;
		}
		f->n++;
	}
	return fmt_end(d->enc, &f->xb) == -1 ? -1 : 0;
}

static int
send_http(struct dest *d, struct flight *f)
{
	struct gw_http_req rq;
	const void *body = gw_buf_head(&f->xb.body);
	size_t blen = f->xb.body.len;

	if (d->c->comp != XCOMP_NONE) {
		gw_buf_reset(&f->z);
		if (xcompress(d->c->comp, body, blen, &f->z, 0) == -1)
			return -1;
		body = gw_buf_head(&f->z);
		blen = f->z.len;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = d->c->type == DEST_HTTP ? d->c->method : "POST";
	rq.url = d->c->url;
	rq.headers = (const char *const *)d->hdr;
	rq.body = body;
	rq.body_len = blen;
	rq.timeout_ms = (long)d->c->timeout;
	rq.insecure = d->c->insecure;
	rq.ca_file = d->c->ca_file;
	rq.max_response = 4096;
	return gw_curlm_start(d->x->curl, &rq, http_done, f);
}

/* ---- syslog over a socket -------------------------------------------- */

static void syslog_io(struct gw_loop *loop, struct gw_io *io, int events);

static void
syslog_close(struct dest *d)
{
	if (d->fd == -1)
		return;
	gw_io_stop(d->x->loop, &d->io);
	SSL_free(d->ssl);
	d->ssl = NULL;
	d->hs_done = 0;
	close(d->fd);
	d->fd = -1;
	d->connected = 0;
}

/*
 * At exit: a stream receiver has acknowledged nothing, so the connection
 * is closed the way that keeps what was written.  TLS says close_notify;
 * then our side is shut and the peer's end is awaited (at most 2 s), so
 * that it has read everything before the socket goes: closing with its
 * bytes unread (TLS 1.3 session tickets) would send a reset, and a reset
 * makes the peer drop what it had not read yet.
 */
static void
syslog_linger(struct dest *d)
{
	struct timeval tv = { 2, 0 };
	char buf[4096];
	int flags;

	if (d->fd == -1 || !d->connected || strcmp(d->c->transport, "udp") == 0)
		return;
	flags = fcntl(d->fd, F_GETFL);
	if (flags != -1)
		(void)fcntl(d->fd, F_SETFL, flags & ~O_NONBLOCK);
	(void)setsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(d->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (d->ssl != NULL && d->hs_done) {
		(void)SSL_shutdown(d->ssl);
		ERR_clear_error();
	}
	if (shutdown(d->fd, SHUT_WR) == -1)
		return;
	while (recv(d->fd, buf, sizeof(buf), 0) > 0)
		;
}

/*
 * Starts TLS on the connected socket: SNI and the certificate checked
 * against the address's host name (or IP address).  Returns 0 or -1.
 */
static int
tls_start(struct dest *d)
{
	char host[256], *colon;
	X509_VERIFY_PARAM *vp;

	snprintf(host, sizeof(host), "%s", d->c->address);
	if ((colon = strrchr(host, ':')) != NULL)
		*colon = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if ((d->ssl = SSL_new(d->ssl_ctx)) == NULL ||
	    SSL_set_fd(d->ssl, d->fd) != 1)
		return -1;
	vp = SSL_get0_param(d->ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
		ERR_clear_error();
		(void)SSL_set_tlsext_host_name(d->ssl, host);
		if (SSL_set1_host(d->ssl, host) != 1)
			return -1;
	}
	return 0;
}

/*
 * Drives the handshake.  Returns 1 when done, 0 when it waits for the
 * socket (interest set), -1 on failure with <why> filled.
 */
static int
tls_step(struct dest *d, char *why, size_t len)
{
	char es[256];
	long v;
	int r = SSL_connect(d->ssl);

	if (r == 1)
		return 1;
	switch (SSL_get_error(d->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		(void)gw_io_set(d->x->loop, &d->io, GW_READ);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		(void)gw_io_set(d->x->loop, &d->io, GW_WRITE);
		return 0;
	default:
		v = SSL_get_verify_result(d->ssl);
		if (v != X509_V_OK)
			snprintf(why, len, "TLS to %.60s: certificate: %.150s",
			    d->c->address, X509_verify_cert_error_string(v));
		else {
			gw_tls_errstr(es, sizeof(es));
			snprintf(why, len, "TLS to %.60s: %.150s",
			    d->c->address, es);
		}
		return -1;
	}
}

static int
syslog_connect(struct dest *d)
{
	struct gw_addr a;
	char host[256], *colon;
	int udp = strcmp(d->c->transport, "udp") == 0;

	snprintf(host, sizeof(host), "%s", d->c->address);
	colon = strrchr(host, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	if (gw_addr_resolve(host[0] == '[' ? host + 1 : host, colon + 1, &a) ==
	    -1)
		return -1;
	if (udp) {
		d->fd = socket(a.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (d->fd == -1 ||
		    connect(d->fd, (struct sockaddr *)&a.ss, a.len) == -1) {
			syslog_close(d);
			return -1;
		}
		d->connected = 1;
		return 0;
	}
	if ((d->fd = gw_connect_tcp(&a)) == -1)
		return -1;
	gw_io_init(&d->io, d->fd, syslog_io, d);
	if (gw_io_set(d->x->loop, &d->io, GW_WRITE) == -1) {
		syslog_close(d);
		return -1;
	}
	return 0;
}

/* The batch of the flight in the syslog slot was written: ack it. */
static void
syslog_sent(struct dest *d)
{
	struct flight *f = &d->fl[0];

	spool_ack(d->sp, &f->sb);
	d->sent += f->n;
	d->failures = 0;
	gw_buf_reset(&d->out);
	done(d, f);
}

static void
syslog_failed(struct dest *d, const char *why)
{
	struct flight *f = &d->fl[0];

	syslog_close(d);
	gw_buf_reset(&d->out);
	if (f->busy) {
		retry(d, f, 0, why);
		done(d, f);
	}
}

/* Writes what is queued; returns 1 when all went, 0 to wait, -1 error. */
static int
syslog_write(struct dest *d)
{
	ssize_t n;

	while (d->out.len > 0) {
		if (d->ssl != NULL) {
			int r = SSL_write(d->ssl, gw_buf_head(&d->out),
			    (int)(d->out.len > INT_MAX ? INT_MAX : d->out.len));

			if (r <= 0) {
				switch (SSL_get_error(d->ssl, r)) {
				case SSL_ERROR_WANT_WRITE:
					(void)gw_io_set(
					    d->x->loop, &d->io, GW_WRITE);
					return 0;
				case SSL_ERROR_WANT_READ:
					(void)gw_io_set(
					    d->x->loop, &d->io, GW_READ);
					return 0;
				default:
					ERR_clear_error();
					errno = ECONNRESET;
					return -1;
				}
			}
			gw_buf_consume(&d->out, (size_t)r);
			continue;
		}
		n = send(d->fd, gw_buf_head(&d->out), d->out.len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			(void)gw_io_set(d->x->loop, &d->io, GW_WRITE);
			return 0;
		}
		if (n == -1)
			return -1;
		gw_buf_consume(&d->out, (size_t)n);
	}
	(void)gw_io_set(d->x->loop, &d->io, GW_READ);
	return 1;
}

static void
syslog_io(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct dest *d = io->arg;
	char buf[256];
	int e;

	(void)loop;
	if (!d->connected) {
		if ((e = gw_sock_error(d->fd)) != 0) {
			snprintf(buf, sizeof(buf), "connect %s: %s",
			    d->c->address, strerror(e));
			syslog_failed(d, buf);
			return;
		}
		d->connected = 1;
		if (d->ssl_ctx != NULL && tls_start(d) == -1) {
			snprintf(buf, sizeof(buf), "TLS to %s: setup failed",
			    d->c->address);
			syslog_failed(d, buf);
			return;
		}
	}
	if (d->ssl != NULL && !d->hs_done) {
		e = tls_step(d, buf, sizeof(buf));
		if (e == -1) {
			syslog_failed(d, buf);
			return;
		}
		if (e == 0)
			return;
		d->hs_done = 1;
		events = GW_WRITE;
	}
	if ((events & GW_READ) && d->ssl != NULL) {
		/* A TLS record (or close_notify) from a receiver that never
		 * talks back means it is closing. */
		int r = SSL_read(d->ssl, buf, sizeof(buf));

		if (r > 0 || SSL_get_error(d->ssl, r) != SSL_ERROR_WANT_READ) {
			ERR_clear_error();
			snprintf(buf, sizeof(buf), "%s closed the connection",
			    d->c->address);
			syslog_failed(d, buf);
			return;
		}
	} else if (events & GW_READ) {
		/* Receivers do not talk back: data or EOF means closed. */
		if (recv(d->fd, buf, sizeof(buf), MSG_DONTWAIT) != -1 ||
		    errno != EAGAIN) {
			snprintf(buf, sizeof(buf), "%s closed the connection",
			    d->c->address);
			syslog_failed(d, buf);
			return;
		}
	}
	if (d->fl[0].busy && d->out.len > 0) {
		e = syslog_write(d);
		if (e == -1) {
			snprintf(buf, sizeof(buf), "send to %s: %s",
			    d->c->address, strerror(errno));
			syslog_failed(d, buf);
		} else if (e == 1)
			syslog_sent(d);
	} else
		(void)gw_io_set(d->x->loop, &d->io, GW_READ);
}

static int
send_syslog(struct dest *d, struct flight *f)
{
	const char *msg;
	size_t pos = 0, len;
	char why[300];
	int r;

	if (strcmp(d->c->transport, "udp") == 0) {
		if (d->fd == -1 && syslog_connect(d) == -1)
			goto fail;
		while (fmt_syslog_next(&f->xb, &pos, &msg, &len) == 1)
			if (send(d->fd, msg, len, MSG_NOSIGNAL) == -1 &&
			    errno != ECONNREFUSED)
				goto fail;
		f->busy = 1;
		d->inflight++;
		syslog_sent(d);
		return 0;
	}
	gw_buf_reset(&d->out);
	if (gw_buf_add(&d->out, gw_buf_head(&f->xb.body), f->xb.body.len) == -1)
		return -1;
	if (d->fd == -1 && syslog_connect(d) == -1)
		goto fail;
	f->busy = 1;
	d->inflight++;
	if (d->connected && (d->ssl_ctx == NULL || d->hs_done)) {
		r = syslog_write(d);
		if (r == 1)
			syslog_sent(d);
		else if (r == -1) {
			snprintf(why, sizeof(why), "send to %s: %s",
			    d->c->address, strerror(errno));
			syslog_failed(d, why);
		}
	}
	return 0;
fail:
	snprintf(why, sizeof(why), "%s: %s", d->c->address, strerror(errno));
	syslog_close(d);
	f->busy = 1;
	d->inflight++;
	retry(d, f, 0, why);
	done(d, f);
	return 0;
}

/* ---- files and stdout --------------------------------------------------- */

/* Opens (or rotates) the output file: PATH, rotated to PATH.<time>. */
static int
file_open(struct dest *d)
{
	struct stat sb;
	uint64_t now = now_ms();
	char rotated[4096], ts[40];
	int rotate;

	rotate = d->ffd > 0 &&
	    ((d->c->rotate_size > 0 && d->fbytes >= d->c->rotate_size) ||
	        (d->c->rotate_interval > 0 &&
	            now - d->fopened >= d->c->rotate_interval));
	if (d->ffd > 0 && !rotate)
		return 0;
	if (rotate) {
		close(d->ffd);
		d->ffd = 0;
		gw_rfc3339(gw_now_ns(), ts);
		snprintf(rotated, sizeof(rotated),
		    "%s.%.4s%.2s%.2sT%.2s%.2s%.2s", d->c->path, ts, ts + 5,
		    ts + 8, ts + 11, ts + 14, ts + 17);
		if (rename(d->c->path, rotated) == -1)
			gw_warn("%s: rotate %s: %s", d->c->name, d->c->path,
			    strerror(errno));
	}
	d->ffd =
	    open(d->c->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (d->ffd == -1) {
		d->ffd = 0;
		return -1;
	}
	d->fbytes = fstat(d->ffd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	d->fopened = now;
	return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
send_local(struct dest *d, struct flight *f)
{
	struct spool_line_iter it;
	const char *line, *p;
	size_t len;
	char why[300];
	int fd;

	gw_buf_reset(&d->out);
	spool_batch_lines(&f->sb, &it);
	while (spool_line_next(&it, &line, &len) == 1)
		if (gw_buf_add(&d->out, line, len) == -1 ||
		    gw_buf_addc(&d->out, '\n') == -1)
			return -1;
	p = gw_buf_head(&d->out);
	len = d->out.len;
	if (d->c->comp == XCOMP_ZSTD) {
		gw_buf_reset(&f->z);
		if (xcompress(XCOMP_ZSTD, p, len, &f->z, 0) == -1)
			return -1;
		p = gw_buf_head(&f->z);
		len = f->z.len;
	}
	if (d->c->type == DEST_STDOUT)
		fd = STDOUT_FILENO;
	else if (file_open(d) == -1)
		goto fail;
	else
		fd = d->ffd;
	if (write_all(fd, p, len) == -1)
		goto fail;
	d->fbytes += len;
	spool_ack(d->sp, &f->sb);
	d->sent += f->sb.count;
	d->failures = 0;
	return 0;
fail:
	snprintf(why, sizeof(why), "%s: %s",
	    d->c->type == DEST_STDOUT ? "stdout" : d->c->path, strerror(errno));
	f->busy = 1;
	d->inflight++;
	retry(d, f, 0, why);
	done(d, f);
	return 0;
}

/* ---- the pump ----------------------------------------------------------- */

static struct flight *
idle_flight(struct dest *d)
{
	size_t i;

	for (i = 0; i < d->nfl; i++)
		if (!d->fl[i].busy)
			return &d->fl[i];
	return NULL;
}

void
dest_pump(struct dest *d)
{
	struct spool_stats st;
	struct flight *f;
	uint64_t now = now_ms();
	size_t max_flight;
	int r;

	if (d->stopped || d->pumping || d->x->hold)
		return;
	if (d->retry_at > now) {
		arm(d, d->retry_at - now);
		return;
	}
	d->pumping = 1;
	/* syslog over TCP keeps one batch on the wire at a time. */
	max_flight = d->c->type == DEST_SYSLOG ? 1 : d->nfl;
	while (d->inflight < max_flight && (f = idle_flight(d)) != NULL) {
		spool_stats(d->sp, &st);
		if (st.waiting == 0) {
			d->partial_since = 0;
			break;
		}
		/* A partial batch waits a little for company. */
		if (st.waiting < d->max_events && !d->x->draining &&
		    d->c->batch_wait > 0) {
			if (d->partial_since == 0)
				d->partial_since = now;
			if (now - d->partial_since < d->c->batch_wait) {
				arm(d,
				    d->c->batch_wait -
				        (now - d->partial_since));
				break;
			}
		}
		dest_flush(d);
		r = spool_next(
		    d->sp, &f->sb, d->max_events, (size_t)d->c->batch_bytes);
		if (r != 1) {
			if (r == -1)
				gw_error("%s: spool: %s", d->c->name,
				    strerror(errno));
			break;
		}
		d->partial_since = 0;
		if (d->enc == NULL) {
			if (send_local(d, f) == -1)
				goto nomem;
			continue;
		}
		r = encode(d, f);
		if (r == 1)
			continue;
		if (r == -1)
			goto nomem;
		if (f->n == 0) {
			/* Every event was too old to send. */
			spool_ack(d->sp, &f->sb);
			continue;
		}
		if (d->c->type == DEST_SYSLOG) {
			if (send_syslog(d, f) == -1)
				goto nomem;
			continue;
		}
		if (send_http(d, f) == -1) {
			gw_error("%s: cannot start a request: %s", d->c->name,
			    strerror(errno));
			spool_release(d->sp, &f->sb);
			d->retry_at = now + 1000;
			arm(d, 1000);
			break;
		}
		f->busy = 1;
		d->inflight++;
	}
	d->pumping = 0;
	return;
nomem:
	gw_error("%s: out of memory while sending", d->c->name);
	spool_release(d->sp, &f->sb);
	d->retry_at = now + 1000;
	arm(d, 1000);
	d->pumping = 0;
}

static void
dest_timer(struct gw_loop *loop, struct gw_timer *t)
{
	struct dest *d = t->arg;

	(void)loop;
	dest_pump(d);
	xport_progress(d->x);
}

int
dest_idle(const struct dest *d)
{
	struct spool_stats st;

	spool_stats(d->sp, &st);
	return d->inflight == 0 && (st.pending == 0 || d->stopped);
}

void
dest_stats(const struct dest *d, struct dest_counts *k)
{
	struct spool_stats st;

	spool_stats(d->sp, &st);
	memset(k, 0, sizeof(*k));
	k->sent = d->sent;
	k->retried = d->retried;
	k->spooled = st.pending;
	k->dead = d->dead;
	k->dropped = st.dropped + d->too_old + d->unencodable;
	k->requests = d->requests;
	k->stopped = d->stopped;
}

uint64_t
dest_room(const struct dest *d)
{
	return spool_room(d->sp);
}
