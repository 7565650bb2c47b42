// SPDX-License-Identifier: MIT
/*
 * gw-proxy's listening sockets: opened from the configuration, kept
 * across a reload when their address is unchanged, and accepting in
 * batches.  Each start and stop of a listener is an audit event.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "gw-proxy.h"
#include "json.h"
#include "log.h"

#define ACCEPT_BATCH   64
#define ACCEPT_BACKOFF 100 /* ms without accepting after EMFILE */

static struct gw_timer accept_timer;
static int accept_paused;

/*
 * Emits endpoint_started.v0 or endpoint_stopped.v0 for <l> under <pc>,
 * with the object docs/PROTOCOL.md gives; <reason> only for stops.
 */
static void
endpoint_event(const char *type, const char *source, struct listener *l,
    struct pconf *pc, const char *reason)
{
	struct gw_buf b;
	size_t i;
	int r = 0;

	gw_buf_init(&b, 64 * 1024);
	r |= gw_buf_adds(&b, "{\"listen\":");
	r |= gw_json_cstr(&b, l->spec);
	r |= gw_buf_adds(&b, ",\"upstream\":");
	r |= gw_json_cstr(&b, pc->dflt ? pc->dflt->url : NULL);
	r |= gw_buf_adds(&b, ",\"tls\":");
	r |= gw_json_bool(&b, l->tls);
	r |= gw_buf_adds(&b, ",\"policy\":");
	r |= gw_json_cstr(&b, pc->o.policy);
	r |= gw_buf_adds(&b, ",\"policy_fail_open\":");
	r |= gw_json_bool(&b, pc->o.policy_fail_open);
	r |= gw_buf_adds(&b, ",\"full_capture\":");
	r |= gw_json_bool(&b, pc->o.full_capture);
	r |= gw_buf_adds(&b, ",\"routes\":{");
	for (i = 0; i < pc->n_routes; i++) {
		if (i > 0)
			r |= gw_buf_addc(&b, ',');
		r |= gw_json_cstr(&b, pc->routes[i].host);
		r |= gw_buf_addc(&b, ':');
		r |= gw_json_cstr(&b, pc->routes[i].up->url);
	}
	r |= gw_buf_addc(&b, '}');
	if (reason != NULL) {
		r |= gw_buf_adds(&b, ",\"reason\":");
		r |= gw_json_cstr(&b, reason);
	}
	r |= gw_buf_addc(&b, '}');
	if (r == 0 && gw_buf_addc(&b, '\0') == 0)
		emit_audit(type, source, gw_buf_head(&b));
	gw_buf_fini(&b);
}

static void
accept_resume(struct gw_loop *loop, struct gw_timer *t)
{
	struct listener *l;

	(void)loop;
	(void)t;
	accept_paused = 0;
	TAILQ_FOREACH(l, &P.listeners, entry)
	(void)gw_io_set(P.loop, &l->io, GW_READ);
}

static void
accept_cb(struct gw_loop *loop, struct gw_io *io, int ev)
{
	struct listener *l = io->arg, *o;
	struct gw_addr peer;
	int i, fd;

	(void)loop;
	(void)ev;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = gw_accept(l->fd, &peer);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: stop accepting a while. */
				gw_warn("accept on %s: %s; pausing %d ms",
				    l->spec, strerror(errno), ACCEPT_BACKOFF);
				TAILQ_FOREACH(o, &P.listeners, entry)
				(void)gw_io_set(P.loop, &o->io, 0);
				accept_paused = 1;
				gw_timer_init(
				    &accept_timer, accept_resume, NULL);
				(void)gw_timer_set(
				    P.loop, &accept_timer, ACCEPT_BACKOFF);
			}
			return;
		}
		client_accept(l, fd, &peer);
	}
}

static struct listener *
listener_open(const char *spec, struct pconf *pc, struct gw_error *err)
{
	struct listener *l;
	const char *a = spec;
	int tls = 0;

	if (strncmp(a, "https://", 8) == 0) {
		tls = 1;
		a += 8;
	} else if (strncmp(a, "http://", 7) == 0)
		a += 7;
	if (tls && pc->n_certs == 0) {
		gw_error_set(err, NULL, 0, 0,
		    "--listen %s: an https listener needs --tls-cert and "
		    "--tls-key",
		    spec);
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->spec = strdup(spec)) == NULL) {
		free(l);
		gw_error_set(err, NULL, 0, 0, "out of memory");
		return NULL;
	}
	l->tls = tls;
	if (gw_addr_parse(a, &l->addr) == -1) {
		gw_error_set(err, NULL, 0, 0,
		    "--listen %s: expected ADDR:PORT, [V6]:PORT or "
		    "https://ADDR:PORT",
		    spec);
		goto fail;
	}
	l->fd = gw_listen_tcp(&l->addr, 4096);
	if (l->fd == -1) {
		gw_error_set(
		    err, NULL, 0, 0, "--listen %s: %s", spec, strerror(errno));
		goto fail;
	}
	gw_io_init(&l->io, l->fd, accept_cb, l);
	return l;
fail:
	free(l->spec);
	free(l);
	return NULL;
}

static void
listener_close(struct listener *l)
{
	gw_io_stop(P.loop, &l->io);
	close(l->fd);
	free(l->spec);
	free(l);
}

/*
 * Makes the open listeners match <pc>: keeps those whose address is
 * unchanged, opens new ones, closes the rest.  All or nothing: if one
 * cannot be opened, nothing changes and -1 is returned with <err> set.
 */
int
listen_apply(struct pconf *pc, const char *source, struct gw_error *err)
{
	TAILQ_HEAD(, listener) fresh;
	struct listener *l, *next;
	size_t i;

	TAILQ_INIT(&fresh);
	TAILQ_FOREACH(l, &P.listeners, entry)
	l->keep = 0;
	for (i = 0; i < pc->o.listen.n; i++) {
		TAILQ_FOREACH(l, &P.listeners, entry)
		if (strcmp(l->spec, pc->o.listen.v[i]) == 0)
			break;
		if (l != NULL) {
			l->keep = 1;
			continue;
		}
		if ((l = listener_open(pc->o.listen.v[i], pc, err)) == NULL) {
			while ((l = TAILQ_FIRST(&fresh)) != NULL) {
				TAILQ_REMOVE(&fresh, l, entry);
				listener_close(l);
			}
			return -1;
		}
		TAILQ_INSERT_TAIL(&fresh, l, entry);
	}
	for (l = TAILQ_FIRST(&P.listeners); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		if (l->keep) {
			/* Still here, maybe with new upstreams: say so. */
			endpoint_event(
			    "endpoint_started.v0", source, l, pc, NULL);
			continue;
		}
		endpoint_event(
		    "endpoint_stopped.v0", source, l, P.conf, "reload");
		TAILQ_REMOVE(&P.listeners, l, entry);
		listener_close(l);
	}
	while ((l = TAILQ_FIRST(&fresh)) != NULL) {
		TAILQ_REMOVE(&fresh, l, entry);
		TAILQ_INSERT_TAIL(&P.listeners, l, entry);
		if (!accept_paused)
			(void)gw_io_set(P.loop, &l->io, GW_READ);
		gw_info("listening on %s", l->spec);
		endpoint_event("endpoint_started.v0", source, l, pc, NULL);
	}
	return 0;
}

/* Closes every listener (drain, exit), each with an audit event. */
void
listen_close_all(const char *source, const char *reason)
{
	struct listener *l;

	while ((l = TAILQ_FIRST(&P.listeners)) != NULL) {
		TAILQ_REMOVE(&P.listeners, l, entry);
		endpoint_event(
		    "endpoint_stopped.v0", source, l, P.conf, reason);
		listener_close(l);
	}
	if (accept_paused)
		gw_timer_stop(P.loop, &accept_timer);
}
