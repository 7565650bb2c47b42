// SPDX-License-Identifier: MIT
/*
 * From a captured exchange and the user's edits to the request to send:
 * where to (the gw-proxy that received it, by the address recorded in the
 * event, or --target), which method, target and headers, which body.
 * Everything that would make the replay differ from the original without
 * the user asking is refused here with the reason (a body not captured or
 * truncated, a header value cut at the capture's limit), and what may not
 * be sent as captured is left out: fields of the old connection, the
 * X-Forwarded-* chain the proxy recomputes, and redacted values, which
 * come from -H or --header-file or not at all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "event.h"
#include "gw-replay.h"
#include "http.h"

/* The header gw-proxy reads to record replay_of in the new event. */
#define REPLAY_HEADER "Gw-Replay-Original-Request-Id"

static void
free_strv(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
plan_fini(struct plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->id);
	free(p->method);
	free(p->url);
	free(p->connect_to);
	free(p->shown);
	free_strv(p->headers, p->nheaders);
	free(p->body_owned);
	free_strv(p->dropped, p->ndropped);
	for (i = 0; i < p->orig.nhdrs; i++) {
		free(p->orig.hdrs[i].name);
		free(p->orig.hdrs[i].value);
	}
	free(p->orig.hdrs);
	free(p->orig.body);
	memset(p, 0, sizeof(*p));
}

static int refuse(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return PLAN_REFUSED;
}

static int
prefix_ieq(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Is <name> listed in one of the request's Connection fields? */
static int
connection_names(const struct gw_xside *rq, const char *name)
{
	size_t i;

	for (i = 0; i < rq->nhdrs; i++)
		if (strcasecmp(rq->hdrs[i].name, "Connection") == 0 &&
		    gw_http_has_token(
		        rq->hdrs[i].value, strlen(rq->hdrs[i].value), name))
			return 1;
	return 0;
}

/*
 * Captured fields that a replay never sends as they were: those of the
 * old connection (hop-by-hop, named by Connection, Proxy-*), the
 * forwarding chain gw-proxy rebuilds for the new request (X-Forwarded-*,
 * Forwarded), and the replay marker, which names this event instead.
 * Host is handled apart.
 */
static int
never_sent(const struct gw_xside *rq, const char *name)
{
	return gw_http_hop_by_hop(name, strlen(name), NULL, 0) ||
	    connection_names(rq, name) || prefix_ieq(name, "Proxy-") ||
	    prefix_ieq(name, "X-Forwarded-") ||
	    strcasecmp(name, "Forwarded") == 0 ||
	    strcasecmp(name, REPLAY_HEADER) == 0;
}

static int
push(char ***v, size_t *n, char *s)
{
	char **nv;

	if (s == NULL)
		return -1;
	if ((nv = reallocarray(*v, *n + 2, sizeof(**v))) == NULL) {
		free(s);
		return -1;
	}
	*v = nv;
	nv[(*n)++] = s;
	nv[*n] = NULL;
	return 0;
}

/*
 * "Name: value" as libcurl takes it; an empty value is "Name;", since
 * "Name:" would remove the field.
 */
static char *
hdr_line(const char *name, const char *value)
{
	struct gw_buf b;

	gw_buf_init(&b, 0);
	if (gw_buf_adds(&b, name) != 0 ||
	    (value[0] == '\0' ? gw_buf_addc(&b, ';')
	                      : gw_buf_printf(&b, ": %s", value)) != 0) {
		gw_buf_fini(&b);
		return NULL;
	}
	return gw_buf_take(&b);
}

static int
has_line(const struct plan *p, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < p->nheaders; i++)
		if (strncasecmp(p->headers[i], name, n) == 0 &&
		    (p->headers[i][n] == ':' || p->headers[i][n] == ';'))
			return 1;
	return 0;
}

static int
has_str(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* The authority of an absolute url.raw ("http://a:8080/x" gives "a:8080"). */
static char *
raw_authority(const char *raw)
{
	const char *p = raw != NULL ? strstr(raw, "://") : NULL;

	if (p == NULL)
		return NULL;
	p += 3;
	return strndup(p, strcspn(p, "/?#"));
}

/* Header values that may have been cut at the capture's limit. */
static int
cut_headers(
    const struct gw_xchg *x, const struct edits *e, char *names, size_t len)
{
	size_t i, used = 0;
	int n = 0;

	names[0] = '\0';
	for (i = 0; x->req.headers_truncated && i < x->req.nhdrs; i++) {
		const struct gw_xhdr *h = &x->req.hdrs[i];

		/* gw_utf8_cut() keeps up to three bytes less than the limit. */
		if (h->redacted ||
		    strlen(h->value) + 3 < GW_HEADER_VALUE_LIMIT ||
		    edit_header_value(e, h->name) != NULL ||
		    edit_removes(e, h->name) || never_sent(&x->req, h->name))
			continue;
		if (used + strlen(h->name) + 3 < len)
			used += (size_t)snprintf(names + used, len - used,
			    "%s%s", n > 0 ? ", " : "", h->name);
		n++;
	}
	return n;
}

/* Refusals: what was captured is not the whole request. */
static int
check_complete(struct plan *p, const struct gw_xchg *x, const struct edits *e,
    char *why, size_t whylen)
{
	char cut[256];

	if (!x->req.has_headers) {
		if (!e->allow_truncated)
			return refuse(why, whylen,
			    "captured without full capture: its headers and "
			    "body were not recorded (gw-proxy --full-capture "
			    "records them); --allow-truncated sends the method "
			    "and URL alone");
		p->partial = 1;
	}
	if (!e->has_data && x->req.has_headers && !x->req.has_body &&
	    x->req.body_length > 0) {
		if (!e->allow_truncated)
			return refuse(why, whylen,
			    "its %lld-byte body was not captured; --data gives "
			    "one, --allow-truncated sends none",
			    (long long)x->req.body_length);
		p->partial = 1;
	}
	if (!e->has_data && x->req.body_truncated) {
		const char *cl = gw_xchg_header(&x->req, "content-length");

		if (e->allow_truncated)
			p->partial = 1;
		else if ((int64_t)x->req.body_len >= x->req.body_length)
			/* Everything received was captured: the rest never
			 * came (gw answered first, or the client stopped). */
			return refuse(why, whylen,
			    "its body was not received whole (%lld bytes of "
			    "%s%s): gw answered before reading it, or the "
			    "client stopped; --data gives one, "
			    "--allow-truncated sends what there is",
			    (long long)x->req.body_length,
			    cl != NULL ? cl : "an unknown length",
			    cl != NULL ? " declared" : "");
		else
			return refuse(why, whylen,
			    "its body was truncated at capture: %zu of %lld "
			    "bytes (gw-proxy --body-limit); --allow-truncated "
			    "sends what there is",
			    x->req.body_len, (long long)x->req.body_length);
	}
	if (cut_headers(x, e, cut, sizeof(cut)) > 0) {
		if (!e->allow_truncated)
			return refuse(why, whylen,
			    "the value of %s was cut at the capture's %d-byte "
			    "limit; give it with -H, drop it with "
			    "--remove-header, or --allow-truncated sends it cut",
			    cut, GW_HEADER_VALUE_LIMIT);
		p->partial = 1;
	}
	return PLAN_OK;
}

/*
 * Where the request goes: the URL (scheme and authority, an optional
 * prefix, the target) and, for the recorded gw-proxy, the address to
 * connect to while the URL keeps the original Host for TLS.
 */
static int
plan_url(struct plan *p, const struct gw_xchg *x, const struct edits *e,
    char **host_out, char *why, size_t whylen)
{
	const char *scheme, *base = "", *path, *query;
	char *authority = NULL, *q = NULL, *host;
	struct gw_buf b;
	int r = 0;

	*host_out = NULL;
	if (e->target_scheme != NULL) {
		scheme = e->target_scheme;
		base = e->target_base;
		authority = strdup(e->target_authority);
		host = NULL; /* libcurl's, from the URL */
	} else {
		const char *h = gw_xchg_header(&x->req, "Host");
		const char *ip = x->server_ip;

		scheme = x->scheme != NULL && strcmp(x->scheme, "https") == 0
		    ? "https"
		    : "http";
		if (h != NULL && h[0] != '\0')
			authority = strdup(h);
		else if ((authority = raw_authority(x->url_raw)) == NULL &&
		    x->host != NULL && x->host[0] != '\0')
			authority = strdup(x->host);
		if (ip != NULL && ip[0] != '\0' && x->server_port > 0 &&
		    x->server_port < 65536) {
			int v6 = strchr(ip, ':') != NULL;
			char addr[80];

			if (asprintf(&p->connect_to, "::%s%s%s:%lld",
			        v6 ? "[" : "", ip, v6 ? "]" : "",
			        (long long)x->server_port) == -1) {
				p->connect_to = NULL;
				goto nomem;
			}
			snprintf(addr, sizeof(addr), "%s%s%s:%lld",
			    v6 ? "[" : "", ip, v6 ? "]" : "",
			    (long long)x->server_port);
			if (authority == NULL &&
			    (authority = strdup(addr)) == NULL)
				goto nomem;
		} else if (authority == NULL)
			return refuse(why, whylen,
			    "the event records neither the address it came in "
			    "on nor a Host; give --target");
		host = h != NULL ? strdup(h) : NULL;
		if (h != NULL && host == NULL)
			goto nomem;
		*host_out = host;
	}
	if (authority == NULL)
		goto nomem;
	if (e->path != NULL) {
		path = e->path;
		query = e->path_query != NULL ? e->path_query : x->query;
	} else {
		path = x->path != NULL && x->path[0] != '\0' ? x->path : "/";
		query = x->query;
	}
	if (e->nqedit > 0) {
		if ((q = edit_apply_query(e, query)) == NULL)
			goto nomem;
		query = q;
	}
	gw_buf_init(&b, 0);
	r |= gw_buf_printf(&b, "%s%s", base, path);
	if (query != NULL && query[0] != '\0')
		r |= gw_buf_printf(&b, "?%s", query);
	if (r != 0 || (p->shown = gw_buf_take(&b)) == NULL) {
		gw_buf_fini(&b);
		goto nomem;
	}
	if (asprintf(&p->url, "%s://%s%s", scheme, authority, p->shown) == -1) {
		p->url = NULL;
		goto nomem;
	}
	free(authority);
	free(q);
	return PLAN_OK;
nomem:
	free(authority);
	free(q);
	errno = ENOMEM;
	return -1;
}

/* The header lines, in the captured order with the edits applied. */
static int
plan_headers(struct plan *p, const struct gw_xchg *x, const struct edits *e,
    const char *host)
{
	const char *uh = edit_header_value(e, "Host");
	size_t i, j;

	/* Host first, as clients send it. */
	if (edit_removes(e, "Host") && uh == NULL) {
		if (push(&p->headers, &p->nheaders, strdup("Host:")) == -1)
			return -1;
	} else if ((uh != NULL || host != NULL) &&
	    push(&p->headers, &p->nheaders,
	        hdr_line("Host", uh != NULL ? uh : host)) == -1)
		return -1;
	for (i = 0; i < x->req.nhdrs; i++) {
		const struct gw_xhdr *h = &x->req.hdrs[i];

		if (strcasecmp(h->name, "Host") == 0 ||
		    never_sent(&x->req, h->name) || edit_removes(e, h->name) ||
		    edit_header_value(e, h->name) != NULL)
			continue;
		if (h->redacted) {
			if (!has_str(p->dropped, p->ndropped, h->name) &&
			    push(&p->dropped, &p->ndropped, strdup(h->name)) ==
			        -1)
				return -1;
			continue;
		}
		if (push(&p->headers, &p->nheaders,
		        hdr_line(h->name, h->value)) == -1)
			return -1;
	}
	for (i = 0; i < e->nset; i++) {
		const struct rp_hdr *s = &e->set[i];

		if (strcasecmp(s->name, "Host") == 0)
			continue;
		/* The last value given for a name is the one sent. */
		for (j = i + 1; j < e->nset; j++)
			if (strcasecmp(e->set[j].name, s->name) == 0)
				break;
		if (j < e->nset)
			continue;
		if (push(&p->headers, &p->nheaders,
		        hdr_line(s->name, s->value)) == -1)
			return -1;
	}
	if (!edit_removes(e, REPLAY_HEADER) && !has_line(p, REPLAY_HEADER) &&
	    x->id != NULL &&
	    push(&p->headers, &p->nheaders, hdr_line(REPLAY_HEADER, x->id)) ==
	        -1)
		return -1;
	/* Nothing libcurl would add of its own that the client did not. */
	if (!has_line(p, "User-Agent") &&
	    push(&p->headers, &p->nheaders, strdup("User-Agent:")) == -1)
		return -1;
	if (!has_line(p, "Accept") &&
	    push(&p->headers, &p->nheaders, strdup("Accept:")) == -1)
		return -1;
	return 0;
}

static int
plan_body(struct plan *p, const struct gw_xchg *x, const struct edits *e)
{
	int framed = gw_xchg_header(&x->req, "Content-Length") != NULL ||
	    gw_xchg_header(&x->req, "Transfer-Encoding") != NULL;

	if (e->has_data) {
		p->body = e->data;
		p->body_len = e->data_len;
		return 0;
	}
	/* A request that had no body framing gets none (no GET with CL: 0). */
	if (!x->req.has_body ||
	    (x->req.body_len == 0 && x->req.body_length <= 0 && !framed)) {
		if (framed || x->req.body_length > 0) {
			/* --allow-truncated: an empty body, framed. */
			p->body = (const unsigned char *)"";
			p->body_len = 0;
		}
		return 0;
	}
	if ((p->body_owned = malloc(x->req.body_len + 1)) == NULL)
		return -1;
	memcpy(p->body_owned, x->req.body, x->req.body_len);
	p->body = p->body_owned;
	p->body_len = x->req.body_len;
	return 0;
}

/* The original response, for --diff, its body capped at RP_DIFF_MAX. */
static int
plan_orig(struct plan *p, const struct gw_xchg *x)
{
	struct rp_res *o = &p->orig;
	size_t i, n;

	o->status = x->status;
	o->has_headers = x->res.has_headers;
	o->body_total = x->res.body_length;
	if (x->res.nhdrs > 0) {
		if ((o->hdrs = calloc(x->res.nhdrs, sizeof(*o->hdrs))) == NULL)
			return -1;
		for (i = 0; i < x->res.nhdrs; i++) {
			o->hdrs[i].name = strdup(x->res.hdrs[i].name);
			o->hdrs[i].value = strdup(x->res.hdrs[i].value);
			o->nhdrs++;
			if (o->hdrs[i].name == NULL || o->hdrs[i].value == NULL)
				return -1;
		}
	}
	if (x->res.has_body) {
		n = x->res.body_len < RP_DIFF_MAX ? x->res.body_len
		                                  : RP_DIFF_MAX;
		if ((o->body = malloc(n + 1)) == NULL)
			return -1;
		memcpy(o->body, x->res.body, n);
		o->body_len = n;
		if (o->body_total < (int64_t)x->res.body_len)
			o->body_total = (int64_t)x->res.body_len;
	}
	return 0;
}

int
plan_build(struct plan *p, json_t *event, const struct edits *e, char *why,
    size_t whylen)
{
	struct gw_xchg x;
	char *host = NULL;
	const char *type, *id;
	int r;

	memset(p, 0, sizeof(*p));
	why[0] = '\0';
	if (gw_xchg_from_json(&x, event) == -1) {
		r = errno == ENOMEM ? -1 : PLAN_REFUSED;
		id = json_string_value(json_object_get(event, "event_id"));
		type = json_string_value(json_object_get(event, "event_type"));
		gw_xchg_fini(&x);
		if (id != NULL && (p->id = strdup(id)) == NULL)
			return -1;
		if (r == -1)
			return -1;
		if (type != NULL &&
		    strcmp(type, "http_request_complete.v0") == 0)
			return refuse(why, whylen,
			    "the event is damaged (no method, or a body that "
			    "is not base64)");
		return refuse(why, whylen, "a %s event is not an HTTP exchange",
		    type != NULL ? type : "untyped");
	}
	r = -1;
	p->orig_status = x.status;
	if ((p->id = strdup(x.id != NULL ? x.id : "")) == NULL ||
	    (p->method = strdup(e->method != NULL ? e->method : x.method)) ==
	        NULL)
		goto out;
	if (!gw_http_token_ok(p->method, strlen(p->method)) ||
	    strcasecmp(p->method, "CONNECT") == 0) {
		r = refuse(why, whylen, "its method '%s' cannot be replayed",
		    p->method);
		goto out;
	}
	if ((r = plan_url(p, &x, e, &host, why, whylen)) != PLAN_OK)
		goto out;
	r = check_complete(p, &x, e, why, whylen);
	if (r != PLAN_OK)
		goto out;
	r = -1;
	if (plan_headers(p, &x, e, host) == -1 || plan_body(p, &x, e) == -1 ||
	    (e->diff && plan_orig(p, &x) == -1))
		goto out;
	r = PLAN_OK;
out:
	if (r == -1)
		errno = ENOMEM;
	free(host);
	gw_xchg_fini(&x);
	return r;
}
