// SPDX-License-Identifier: MIT
/*
 * gw-proxy's events: one http_request_complete.v0 per exchange, one
 * tcp_connection_closed.v0 per client connection, and the audit events,
 * queued in a bounded gw_out and written in one batch before each wait
 * of the loop.  Events never block traffic: when the reader is slow and
 * the queue is full, an event is dropped whole, counted, and reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw-proxy.h"
#include "json.h"
#include "log.h"
#include "timeutil.h"

static int ev_broken; /* the reader went away: said once */

static void
ev_writable(struct gw_loop *loop, struct gw_io *io, int ev)
{
	(void)loop;
	(void)io;
	(void)ev;
	emit_flush(0);
}

/*
 * Opens the event output: "-" (or NULL) is stdout, anything else a file
 * appended to (created 0600).  Pipes and sockets are written without
 * blocking; files and terminals are written directly.  Returns 0 or -1
 * with errno set.
 */
int
emit_open(const char *path)
{
	struct stat st;
	int fd;

	if (path == NULL || strcmp(path, "-") == 0)
		fd = STDOUT_FILENO;
	else {
		fd =
		    open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd == -1)
			return -1;
	}
	P.ev_fd = fd;
	gw_out_init(&P.ev, fd, P.conf->o.event_queue);
	if (fstat(fd, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		if (gw_set_nonblock(fd, 1) == 0)
			P.ev_nonblock = 1;
	}
	gw_io_init(&P.ev_io, fd, ev_writable, NULL);
	return 0;
}

/*
 * Writes queued events.  With <block>, waits until all are written (at
 * exit).  Reports drops once per burst.
 */
void
emit_flush(int block)
{
	int r;

	if (block && P.ev_nonblock) {
		(void)gw_set_nonblock(P.ev_fd, 0);
		P.ev_nonblock = 0;
	}
	r = gw_out_flush(&P.ev);
	if (r == -1 && !ev_broken) {
		ev_broken = 1;
		gw_error("events: cannot write: %s; events are dropped and "
		         "counted from now on",
		    strerror(P.ev.error));
	}
	if (P.ev_nonblock && !ev_broken)
		(void)gw_io_set(P.loop, &P.ev_io, r == 1 ? GW_WRITE : 0);
	if (P.ev.dropped > P.ev_dropped_said && !ev_broken) {
		gw_warn("events: reader too slow, queue full: %llu events "
		        "dropped so far",
		    (unsigned long long)P.ev.dropped);
		P.ev_dropped_said = P.ev.dropped;
	}
}

/* SNI when the client sent one, else the Host of the last request. */
static struct gw_str
server_name(const struct client *c)
{
	const char *s = c->sni[0] ? c->sni : c->host;

	return (struct gw_str){ s, strlen(s) };
}

static void
queue(int failed)
{
	(void)gw_out_end(&P.ev, failed);
}

/*
 * Fills the parts of <e> that say what the request was (connection, TLS,
 * method, URL): shared by events and by questions to gw-policy.
 */
void
emit_describe(struct client *c, struct gw_exchange *e)
{
	struct exch *x = c->x;

	memset(e, 0, sizeof(*e));
	c->ci.server_name = server_name(c);
	e->conn = &c->ci;
	e->method = x->method;
	e->version =
	    x->http_minor == 0 ? GW_STR("HTTP/1.0") : GW_STR("HTTP/1.1");
	e->scheme = c->pio.ssl ? GW_STR("https") : GW_STR("http");
	e->host = http_host_only(x->host);
	e->authority = x->host;
	e->path = x->path;
	e->query = x->query;
	e->user_agent = x->user_agent;
	e->tls_version = pio_tls_version(&c->pio);
	e->tls_cipher = pio_tls_cipher(&c->pio);
}

/* Queues the http_request_complete.v0 event of c's current exchange. */
void
emit_exchange(struct client *c)
{
	struct exch *x = c->x;
	struct pconf *pc = c->conf;
	struct gw_exchange e;
	struct gw_body rb, sb;
	uint64_t now = gw_now_ns();

	if (x == NULL || x->emitted)
		return;
	x->emitted = 1;
	emit_describe(c, &e);
	if (pc->o.full_capture) {
		e.req_headers = x->hdrs;
		e.n_req_headers = x->n_hdrs;
		e.res_headers = x->rhdrs;
		e.n_res_headers = x->n_rhdrs;
		rb.data =
		    (struct gw_str){ x->req_cap.data ? gw_buf_head(&x->req_cap)
			                             : "",
			    x->req_cap.len };
		/* A body gw did not read (it answered first, or the client
		 * went away) was not captured whole. */
		rb.truncated = x->req_cap_trunc || !x->req_done;
		sb.data =
		    (struct gw_str){ x->res_cap.data ? gw_buf_head(&x->res_cap)
			                             : "",
			    x->res_cap.len };
		sb.truncated = x->res_cap_trunc;
		e.req_body = &rb;
		if (x->status != 0 && x->up != NULL && x->res_started &&
		    x->n_rhdrs > 0)
			e.res_body = &sb;
	}
	e.req_body_length = x->req_body;
	e.req_first_ns = x->start_ns;
	e.req_last_ns = x->req_last_ns;
	e.status = x->status;
	e.res_body_length = x->res_body;
	e.res_first_ns = x->res_first_ns;
	e.res_last_ns = x->res_last_ns ? x->res_last_ns : now;
	if (x->up != NULL && x->forwarded) {
		e.has_backend = 1;
		e.connection_reused = x->reused;
		e.backend_url =
		    (struct gw_str){ x->up->url, strlen(x->up->url) };
		e.connect_ns = x->connect_ns;
		e.response_ns = x->response_ns;
	}
	e.duration_ns = gw_mono_ns() - x->start_mono;
	if (x->err_code != NULL) {
		e.error_code = x->err_code;
		e.error_message = x->err_msg;
	}
	e.replay_of = x->replay_of;
	if (x->extra.len > 0)
		e.extra =
		    (struct gw_str){ gw_buf_head(&x->extra), x->extra.len };
	e.redact = pc->o.no_redact ? NULL : &pc->redact;
	queue(gw_event_http_complete(gw_out_begin(&P.ev), &e, now, NULL));
}

/* Queues the tcp_connection_closed.v0 event of <c>. */
void
emit_conn_closed(struct client *c)
{
	c->ci.server_name = server_name(c);
	c->ci.extra = c->conn_extra.len > 0
	    ? (struct gw_str){ gw_buf_head(&c->conn_extra), c->conn_extra.len }
	    : (struct gw_str){ NULL, 0 };
	queue(gw_event_tcp_closed(gw_out_begin(&P.ev), &c->ci, gw_now_ns()));
}

/* Queues an audit event; <object_json> is a rendered JSON object. */
void
emit_audit(const char *type, const char *source, const char *object_json)
{
	queue(gw_event_audit(
	    gw_out_begin(&P.ev), type, source, object_json, gw_now_ns()));
}

/* Renders the capture settings of <pc> as a JSON object into <b>. */
static int
capture_settings(struct gw_buf *b, const struct pconf *pc)
{
	size_t i;
	int r = 0;

	r |= gw_buf_adds(b, "{\"full_capture\":");
	r |= gw_json_bool(b, pc->o.full_capture);
	r |= gw_buf_adds(b, ",\"body_limit\":");
	r |= gw_json_u64(b, pc->o.body_limit);
	r |= gw_buf_adds(b, ",\"header_value_limit\":");
	r |= gw_json_u64(b, GW_HEADER_VALUE_LIMIT);
	r |= gw_buf_adds(b, ",\"redact_headers\":[");
	for (i = 0; !pc->o.no_redact && i < pc->redact.n; i++) {
		if (i > 0)
			r |= gw_buf_addc(b, ',');
		r |= gw_json_cstr(b, pc->redact.names[i]);
	}
	r |= gw_buf_adds(b, "]}");
	r |= gw_buf_addc(b, '\0');
	return r;
}

/*
 * Emits capture_settings_updated.v0 for <pc> when <old> is NULL (start)
 * or its settings differ.
 */
void
emit_capture_settings(
    const struct pconf *pc, const struct pconf *old, const char *source)
{
	struct gw_buf a, b;

	gw_buf_init(&a, 64 * 1024);
	gw_buf_init(&b, 64 * 1024);
	if (capture_settings(&a, pc) == 0 &&
	    (old == NULL || capture_settings(&b, old) != 0 ||
	        strcmp(gw_buf_head(&a), gw_buf_head(&b)) != 0))
		emit_audit(
		    "capture_settings_updated.v0", source, gw_buf_head(&a));
	gw_buf_fini(&a);
	gw_buf_fini(&b);
}

/* Logs the periodic stats line. */
void
emit_stats(void)
{
	gw_info("stats: connections=%u accepted=%llu requests=%llu "
	        "errors=%llu events=%llu events_dropped=%llu",
	    P.n_clients, (unsigned long long)P.n_accepted,
	    (unsigned long long)P.n_requests, (unsigned long long)P.n_errors,
	    (unsigned long long)P.ev.lines, (unsigned long long)P.ev.dropped);
}
