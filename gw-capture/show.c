// SPDX-License-Identifier: MIT
/*
 * gw-capture show: one exchange in the form a user asks for.  "pretty"
 * reads like the inspector's detail pane (request line, headers, body,
 * then the response, with what was redacted or truncated said plainly);
 * "json" is the stored event; "raw" is the HTTP/1.1 wire form; "curl" a
 * command that sends the request again; "har" a HAR 1.2 entry.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-capture.h"
#include "http.h"
#include "timeutil.h"
#include "xchg.h"

static const char *
or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* "path?query", the request target as the client sent it. */
static void
put_target(FILE *f, const struct gw_xchg *x)
{
	fputs(x->path != NULL && x->path[0] != '\0' ? x->path : "/", f);
	if (x->query != NULL && x->query[0] != '\0')
		fprintf(f, "?%s", x->query);
}

static void
pretty_body(FILE *f, const struct gw_xside *sd, const struct cap_style *st)
{
	size_t i;

	if (!sd->has_body) {
		if (sd->body_length > 0)
			fprintf(f,
			    "%s[%lld bytes, not captured: run gw-proxy "
			    "with --full-capture]%s\n",
			    st->dim, (long long)sd->body_length, st->reset);
		return;
	}
	if (sd->body_len == 0 && !sd->body_truncated)
		return;
	fputc('\n', f);
	if (sd->body_text) {
		gw_put_safe(f, sd->body, sd->body_len);
		if (sd->body_len > 0 && sd->body[sd->body_len - 1] != '\n')
			fputc('\n', f);
	} else {
		/* Binary: a hex dump, 16 bytes a line, at most 64 lines. */
		for (i = 0; i < sd->body_len && i < 1024; i += 16) {
			size_t j;

			fprintf(f, "%08zx ", i);
			for (j = i; j < i + 16; j++)
				if (j < sd->body_len)
					fprintf(f, " %02x", sd->body[j]);
				else
					fputs("   ", f);
			fputs("  ", f);
			for (j = i; j < i + 16 && j < sd->body_len; j++)
				fputc(isprint(sd->body[j]) ? sd->body[j] : '.',
				    f);
			fputc('\n', f);
		}
		if (sd->body_len > 1024)
			fprintf(f, "%s[%zu more captured bytes not shown]%s\n",
			    st->dim, sd->body_len - 1024, st->reset);
	}
	if (sd->body_truncated)
		fprintf(f, "%s[truncated: %zu of %lld bytes captured]%s\n",
		    st->dim, sd->body_len, (long long)sd->body_length,
		    st->reset);
}

static void
pretty_headers(FILE *f, const struct gw_xside *sd, const struct cap_style *st)
{
	size_t i;

	for (i = 0; i < sd->nhdrs; i++) {
		fprintf(f, "%s%s:%s ", st->bold, sd->hdrs[i].name, st->reset);
		if (sd->hdrs[i].redacted)
			fprintf(f, "%s%s%s\n", st->dim, GW_REDACTED, st->reset);
		else {
			gw_put_safe(f, (const unsigned char *)sd->hdrs[i].value,
			    strlen(sd->hdrs[i].value));
			fputc('\n', f);
		}
	}
}

static void
show_pretty(FILE *f, const struct gw_xchg *x, const struct cap_style *st)
{
	char dur[32];

	gw_fmt_duration(x->duration_ns, dur, sizeof(dur));
	fprintf(f, "%s%s%s  %s  %s:%lld  %s\n", st->bold, or_empty(x->id),
	    st->reset, or_empty(x->timestamp), or_empty(x->client_ip),
	    (long long)x->client_port, dur);
	if (x->replay_of != NULL)
		fprintf(f, "replay of %s\n", x->replay_of);
	if (x->error_code != NULL)
		fprintf(f, "%serror: %s%s%s%s\n", st->red, x->error_code,
		    x->error_message != NULL ? ": " : "",
		    or_empty(x->error_message), st->reset);
	fputc('\n', f);
	fprintf(f, "%s%s ", st->bold, x->method);
	put_target(f, x);
	fprintf(f, " %s%s\n", or_empty(x->version), st->reset);
	pretty_headers(f, &x->req, st);
	pretty_body(f, &x->req, st);
	fputc('\n', f);
	if (x->status == 0) {
		fprintf(f, "%s(no response)%s\n", st->dim, st->reset);
		return;
	}
	fprintf(f, "%s%s%s %d %s%s\n", st->bold,
	    cap_status_color(st, x->status), or_empty(x->version), x->status,
	    cap_reason(x->status), st->reset);
	pretty_headers(f, &x->res, st);
	pretty_body(f, &x->res, st);
}

/* The HTTP/1.1 wire form of both messages, bodies as captured. */
static void
show_raw(FILE *f, const struct gw_xchg *x)
{
	size_t i;

	fprintf(f, "%s ", x->method);
	put_target(f, x);
	fprintf(f, " %s\r\n", x->version != NULL ? x->version : "HTTP/1.1");
	for (i = 0; i < x->req.nhdrs; i++)
		fprintf(
		    f, "%s: %s\r\n", x->req.hdrs[i].name, x->req.hdrs[i].value);
	fputs("\r\n", f);
	if (x->req.has_body)
		fwrite(x->req.body, 1, x->req.body_len, f);
	if (x->status == 0)
		return;
	if (x->req.has_body && x->req.body_len > 0)
		fputs("\r\n", f);
	fprintf(f, "%s %d %s\r\n", x->version != NULL ? x->version : "HTTP/1.1",
	    x->status, cap_reason(x->status));
	for (i = 0; i < x->res.nhdrs; i++)
		fprintf(
		    f, "%s: %s\r\n", x->res.hdrs[i].name, x->res.hdrs[i].value);
	fputs("\r\n", f);
	if (x->res.has_body)
		fwrite(x->res.body, 1, x->res.body_len, f);
}

/* <s> as one shell word in single quotes. */
static void
shq(FILE *f, const char *s, size_t n)
{
	size_t i;

	fputc('\'', f);
	for (i = 0; i < n; i++)
		if (s[i] == '\'')
			fputs("'\\''", f);
		else
			fputc(s[i], f);
	fputc('\'', f);
}

/*
 * Headers curl computes itself (Host comes from the URL), or that
 * belonged to the old connection only: the hop-by-hop fields, those the
 * request's Connection header <conn> (may be NULL) named included.
 */
static int
curl_skips(const char *name, const char *conn)
{
	return strcasecmp(name, "Host") == 0 ||
	    gw_http_hop_by_hop(
	        name, strlen(name), conn, conn != NULL ? strlen(conn) : 0);
}

/*
 * A curl command that sends the request again to the URL it went to.
 * What cannot be reproduced is said in comments first: redacted headers
 * (left out; their names are listed), a body that was not captured or
 * was truncated.  A binary body is piped in through base64 -d.
 */
static void
show_curl(FILE *f, const struct gw_xchg *x)
{
	const char *host = gw_xchg_header(&x->req, "Host");
	const char *conn = gw_xchg_header(&x->req, "Connection");
	size_t i;

	for (i = 0; i < x->req.nhdrs; i++)
		if (x->req.hdrs[i].redacted)
			fprintf(f, "# %s was redacted; add -H '%s: …'\n",
			    x->req.hdrs[i].name, x->req.hdrs[i].name);
	if (!x->req.has_body && x->req.body_length > 0)
		fprintf(f, "# the %lld-byte body was not captured\n",
		    (long long)x->req.body_length);
	if (x->req.body_truncated)
		fprintf(f, "# the body was truncated: %zu of %lld bytes\n",
		    x->req.body_len, (long long)x->req.body_length);
	if (x->req.has_body && !x->req.body_text && x->req.body_len > 0) {
		fputs("printf %s ", f);
		cap_put_base64(f, x->req.body, x->req.body_len);
		fputs(" | base64 -d | ", f);
	}
	fputs("curl", f);
	if (strcmp(x->method, "GET") != 0 ||
	    (x->req.has_body && x->req.body_len > 0 &&
	        strcmp(x->method, "POST") != 0)) {
		fputs(" -X ", f);
		shq(f, x->method, strlen(x->method));
	}
	if (x->version != NULL && strcmp(x->version, "HTTP/1.0") == 0)
		fputs(" --http1.0", f);
	for (i = 0; i < x->req.nhdrs; i++) {
		const struct gw_xhdr *h = &x->req.hdrs[i];
		char line[2048];
		int n;

		if (h->redacted || curl_skips(h->name, conn))
			continue;
		n = snprintf(line, sizeof(line), "%s: %s", h->name, h->value);
		if (n < 0 || (size_t)n >= sizeof(line))
			continue;
		fputs(" \\\n  -H ", f);
		shq(f, line, (size_t)n);
	}
	if (x->req.has_body && x->req.body_len > 0) {
		fputs(" \\\n  --data-binary ", f);
		if (x->req.body_text)
			shq(f, (const char *)x->req.body, x->req.body_len);
		else
			fputs("@-", f);
	}
	fputs(" \\\n  ", f);
	if (x->url_raw != NULL && strstr(x->url_raw, "://") != NULL)
		shq(f, x->url_raw, strlen(x->url_raw));
	else {
		/* No absolute URL recorded: rebuild it from Host. */
		char url[4096];
		int n = snprintf(url, sizeof(url), "%s://%s%s%s%s",
		    x->scheme != NULL ? x->scheme : "http",
		    host != NULL ? host : "localhost",
		    x->path != NULL ? x->path : "/",
		    x->query != NULL && x->query[0] ? "?" : "",
		    or_empty(x->query));

		if (n > 0 && (size_t)n < sizeof(url))
			shq(f, url, (size_t)n);
	}
	fputc('\n', f);
}

static json_t *
har_headers(const struct gw_xside *sd)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sd->nhdrs; i++)
		json_array_append_new(a,
		    json_pack("{s:s,s:s}", "name", sd->hdrs[i].name, "value",
		        sd->hdrs[i].value));
	return a;
}

/* The captured body as HAR text: itself, or base64 with "encoding". */
static void
har_text(json_t *o, const struct gw_xside *sd)
{
	if (!sd->has_body)
		return;
	if (sd->body_text)
		json_object_set_new(o, "text",
		    json_stringn((const char *)sd->body, sd->body_len));
	else {
		char *b = cap_base64(sd->body, sd->body_len);

		if (b != NULL) {
			json_object_set_new(o, "text", json_string(b));
			json_object_set_new(
			    o, "encoding", json_string("base64"));
		}
		free(b);
	}
	if (sd->body_truncated)
		json_object_set_new(o, "comment",
		    json_string("truncated by gw-proxy's capture limit"));
}

static double
ms_between(int64_t a, int64_t b)
{
	return a >= 0 && b >= a ? (double)(b - a) / 1e6 : -1;
}

/*
 * A HAR 1.2 entry (W3C's HTTP Archive draft): what browser tools import.
 * Timings gw knows are split as send (request bytes), wait (to the first
 * response byte) and receive; the rest are -1 as HAR says for "unknown".
 */
static json_t *
har_entry(const struct gw_xchg *x)
{
	json_t *e, *req, *res, *q, *content, *post;
	const char *ctype;
	char *url = NULL;
	size_t len = 0;
	FILE *m;
	double send, wait, recv;

	m = open_memstream(&url, &len);
	if (m == NULL)
		return NULL;
	if (x->url_raw != NULL && strstr(x->url_raw, "://") != NULL)
		fputs(x->url_raw, m);
	else {
		fprintf(m, "%s://%s", or_empty(x->scheme), or_empty(x->host));
		put_target(m, x);
	}
	fclose(m);
	q = json_array();
	if (x->query != NULL && x->query[0] != '\0')
		cap_har_query(q, x->query);
	req = json_pack("{s:s,s:s,s:s,s:[],s:o,s:o,s:i,s:I}", "method",
	    x->method, "url", url, "httpVersion", or_empty(x->version),
	    "cookies", "headers", har_headers(&x->req), "queryString", q,
	    "headersSize", -1, "bodySize",
	    (json_int_t)(x->req.body_length >= 0 ? x->req.body_length : -1));
	free(url);
	if (x->req.has_body) {
		ctype = gw_xchg_header(&x->req, "Content-Type");
		post = json_pack("{s:s}", "mimeType", or_empty(ctype));
		har_text(post, &x->req);
		json_object_set_new(req, "postData", post);
	}
	ctype = gw_xchg_header(&x->res, "Content-Type");
	content = json_pack("{s:I,s:s}", "size",
	    (json_int_t)(x->res.body_length >= 0 ? x->res.body_length : 0),
	    "mimeType", or_empty(ctype));
	har_text(content, &x->res);
	res = json_pack("{s:i,s:s,s:s,s:[],s:o,s:o,s:s,s:i,s:I}", "status",
	    x->status, "statusText", x->status ? cap_reason(x->status) : "",
	    "httpVersion", or_empty(x->version), "cookies", "headers",
	    har_headers(&x->res), "content", content, "redirectURL",
	    or_empty(gw_xchg_header(&x->res, "Location")), "headersSize", -1,
	    "bodySize",
	    (json_int_t)(x->res.body_length >= 0 ? x->res.body_length : -1));
	send = ms_between(x->req_first_ns, x->req_last_ns);
	wait = ms_between(x->req_last_ns, x->res_first_ns);
	recv = ms_between(x->res_first_ns, x->res_last_ns);
	e = json_pack("{s:s,s:f,s:o,s:o,s:{},s:{s:i,s:i,s:i,s:f,s:f,s:f},s:s}",
	    "startedDateTime", or_empty(x->timestamp), "time",
	    x->duration_ns >= 0 ? (double)x->duration_ns / 1e6 : 0.0, "request",
	    req, "response", res, "cache", "timings", "blocked", -1, "dns", -1,
	    "connect", -1, "send", send, "wait", wait, "receive", recv,
	    "_gwEventId", or_empty(x->id));
	if (e != NULL && x->req_first_ns >= 0) {
		/* HAR's start is the request's first byte, not the event's. */
		char buf[40];

		gw_rfc3339((uint64_t)x->req_first_ns, buf);
		json_object_set_new(e, "startedDateTime", json_string(buf));
	}
	return e;
}

int
show_event(FILE *f, const char *line, size_t len, enum show_format fmt,
    const struct cap_style *st)
{
	struct gw_xchg x;
	json_error_t jerr;
	json_t *ev, *e;
	int rc = 0;

	if (fmt == SHOW_JSON) {
		ev = json_loadb(line, len, 0, &jerr);
		if (ev == NULL)
			return -1;
		json_dumpf(ev, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', f);
		json_decref(ev);
		return 0;
	}
	ev = json_loadb(line, len, 0, &jerr);
	if (ev == NULL)
		return -1;
	if (gw_xchg_from_json(&x, ev) == -1) {
		gw_xchg_fini(&x);
		json_decref(ev);
		return -1;
	}
	switch (fmt) {
	case SHOW_PRETTY:
		show_pretty(f, &x, st);
		break;
	case SHOW_RAW:
		show_raw(f, &x);
		break;
	case SHOW_CURL:
		show_curl(f, &x);
		break;
	case SHOW_HAR:
		e = har_entry(&x);
		if (e == NULL) {
			rc = -1;
			break;
		}
		json_dumpf(e, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', f);
		json_decref(e);
		break;
	case SHOW_JSON:
		break;
	}
	gw_xchg_fini(&x);
	json_decref(ev);
	return rc;
}
