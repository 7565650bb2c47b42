// SPDX-License-Identifier: MIT
/*
 * The Datadog encoder: batches of events as the logs intake v2 wants
 * them (fmt.h says what an entry holds and why).  The hot path is one
 * lib/jscan pass over the event with a schema that picks pick.c's fields
 * plus the few more Datadog's standard attributes need, then appends:
 * the constant reserved attributes written once at creation, the
 * per-event ones from raw JSON string bytes (already escaped: copied, not
 * re-encoded), and the event's own line spliced in after them.  jansson
 * is used only when the line has a member of a name we add (renaming it)
 * or the entry is over the 1 MB limit (shrinking it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fmt.h"
#include "http.h"
#include "json.h"

/* Slots past pick.c's XF_* ones. */
enum {
	DX_CLASH = XF_NFIELDS, /* a top-level member with a name we add */
	DX_SUBJECT,            /* principal.subject */
	DX_CPORT,              /* conn.client_port */
	DX_SIP,                /* conn.server_ip */
	DX_SPORT,              /* conn.server_port */
	DX_BIN,                /* conn.bytes_in */
	DX_BOUT,               /* conn.bytes_out */
	DX_VERSION,            /* http.request.version */
	DX_SCHEME,             /* http.request.url.scheme */
	DX_REFERER,            /* http.request.headers.Referer (an array) */
	DX_RQLEN,              /* http.request.body_length */
	DX_RSLEN,              /* http.response.body_length */
	DX_OERR,               /* error (an object, or an audit's string) */
	DX_ERRMSG,             /* error.message */
	DX_USER,               /* basic_auth.username */
	DX_FILE,               /* file, id, listen: audit events */
	DX_ID,
	DX_LISTEN,
	DX_N
};

static const struct gw_jfield hdr_f[] = {
	GW_JFIELD("Referer", DX_REFERER, NULL),
};
static const struct gw_jschema hdr_s = GW_JSCHEMA(hdr_f);
static const struct gw_jfield url_f[] = {
	GW_JFIELD("raw", XF_URL, NULL),
	GW_JFIELD("scheme", DX_SCHEME, NULL),
	GW_JFIELD("host", XF_HOST, NULL),
	GW_JFIELD("path", XF_PATH, NULL),
	GW_JFIELD("query", XF_QUERY, NULL),
};
static const struct gw_jschema url_s = GW_JSCHEMA(url_f);
static const struct gw_jfield req_f[] = {
	GW_JFIELD("method", XF_METHOD, NULL),
	GW_JFIELD("version", DX_VERSION, NULL),
	GW_JFIELD("url", -1, &url_s),
	GW_JFIELD("headers", -1, &hdr_s),
	GW_JFIELD("user_agent", XF_USER_AGENT, NULL),
	GW_JFIELD("body_length", DX_RQLEN, NULL),
};
static const struct gw_jschema req_s = GW_JSCHEMA(req_f);
static const struct gw_jfield res_f[] = {
	GW_JFIELD("status_code", XF_STATUS, NULL),
	GW_JFIELD("body_length", DX_RSLEN, NULL),
};
static const struct gw_jschema res_s = GW_JSCHEMA(res_f);
static const struct gw_jfield http_f[] = {
	GW_JFIELD("request", -1, &req_s),
	GW_JFIELD("response", -1, &res_s),
};
static const struct gw_jschema http_s = GW_JSCHEMA(http_f);
static const struct gw_jfield conn_f[] = {
	GW_JFIELD("client_ip", XF_CLIENT_IP, NULL),
	GW_JFIELD("client_port", DX_CPORT, NULL),
	GW_JFIELD("server_ip", DX_SIP, NULL),
	GW_JFIELD("server_name", XF_SERVER_NAME, NULL),
	GW_JFIELD("server_port", DX_SPORT, NULL),
	GW_JFIELD("bytes_in", DX_BIN, NULL),
	GW_JFIELD("bytes_out", DX_BOUT, NULL),
};
static const struct gw_jschema conn_s = GW_JSCHEMA(conn_f);
static const struct gw_jfield err_f[] = {
	GW_JFIELD("code", XF_ERROR_CODE, NULL),
	GW_JFIELD("message", DX_ERRMSG, NULL),
};
static const struct gw_jschema err_s = GW_JSCHEMA(err_f);
static const struct gw_jfield ba_f[] = {
	GW_JFIELD("username", DX_USER, NULL),
};
static const struct gw_jschema ba_s = GW_JSCHEMA(ba_f);
static const struct gw_jfield obj_f[] = {
	GW_JFIELD("conn", -1, &conn_s),
	GW_JFIELD("http", -1, &http_s),
	GW_JFIELD("duration_ns", XF_DURATION, NULL),
	GW_JFIELD("error", DX_OERR, &err_s),
	GW_JFIELD("basic_auth", -1, &ba_s),
	GW_JFIELD("file", DX_FILE, NULL),
	GW_JFIELD("id", DX_ID, NULL),
	GW_JFIELD("listen", DX_LISTEN, NULL),
};
static const struct gw_jschema obj_s = GW_JSCHEMA(obj_f);
static const struct gw_jfield pr_f[] = {
	GW_JFIELD("subject", DX_SUBJECT, NULL),
};
static const struct gw_jschema pr_s = GW_JSCHEMA(pr_f);
/* The envelope first (matched in order), then every name we add. */
static const struct gw_jfield root_f[] = {
	GW_JFIELD("event_id", XF_EVENT_ID, NULL),
	GW_JFIELD("event_type", XF_EVENT_TYPE, NULL),
	GW_JFIELD("event_timestamp", XF_TIMESTAMP, NULL),
	GW_JFIELD("principal", -1, &pr_s),
	GW_JFIELD("object", -1, &obj_s),
	GW_JFIELD("ddsource", DX_CLASH, NULL),
	GW_JFIELD("service", DX_CLASH, NULL),
	GW_JFIELD("hostname", DX_CLASH, NULL),
	GW_JFIELD("ddtags", DX_CLASH, NULL),
	GW_JFIELD("status", DX_CLASH, NULL),
	GW_JFIELD("timestamp", DX_CLASH, NULL),
	GW_JFIELD("message", DX_CLASH, NULL),
	GW_JFIELD("http", DX_CLASH, NULL),
	GW_JFIELD("network", DX_CLASH, NULL),
	GW_JFIELD("duration", DX_CLASH, NULL),
	GW_JFIELD("error", DX_CLASH, NULL),
	GW_JFIELD("evt", DX_CLASH, NULL),
	GW_JFIELD("usr", DX_CLASH, NULL),
	GW_JFIELD("gw_truncated", DX_CLASH, NULL),
	/* Keys Datadog's preprocessing would read instead of ours (§1.5). */
	GW_JFIELD("host", DX_CLASH, NULL),
	GW_JFIELD("severity", DX_CLASH, NULL),
	GW_JFIELD("level", DX_CLASH, NULL),
	GW_JFIELD("syslog", DX_CLASH, NULL),
	GW_JFIELD("@timestamp", DX_CLASH, NULL),
	GW_JFIELD("_timestamp", DX_CLASH, NULL),
	GW_JFIELD("Timestamp", DX_CLASH, NULL),
	GW_JFIELD("eventTime", DX_CLASH, NULL),
	GW_JFIELD("date", DX_CLASH, NULL),
	GW_JFIELD("published_date", DX_CLASH, NULL),
};
static const struct gw_jschema root_s = GW_JSCHEMA(root_f);

#define CAP_STR   1024 /* a string attribute of a truncated entry */
#define CAP_QARG  128  /* a query parameter's name or value, truncated */
#define MAX_QARGS 64   /* parameters in queryString */

struct dd_enc {
	struct xenc base;
	struct gw_buf prefix; /* {"ddsource":..,"service":..[,...] */
	int host_per_event;
	size_t max_entry;
	struct gw_buf fix; /* the line, UTF-8 repaired */
	struct gw_buf ren; /* the line, clashing members renamed */
	struct gw_buf shr; /* the line, shrunk */
	struct gw_buf msg; /* the message, decoded */
	struct gw_buf tmp; /* decoded strings */
	struct gw_buf qs;  /* decoded query parameters */
};

static int
put_n(struct gw_buf *o, const char *s, size_t n)
{
	return gw_json_raw(o, s, n);
}

/* Literals, their length known at compile time. */
#define put(o, lit) put_n(o, lit, sizeof(lit) - 1)

/* Appends <key> (",\"name\":") and the string <v>, if it is one. */
static int
put_str_n(struct dd_enc *d, struct gw_buf *o, const char *key, size_t kn,
    const struct gw_jval *v, int capped)
{
	const char *p;
	size_t n;
	char *t;

	if (v->type != GW_JSTRING)
		return 0;
	if (!capped) {
		/* Raw bytes of a validated JSON string: valid as they are. */
		if ((t = gw_buf_reserve(o, kn + v->len + 2)) == NULL)
			return -1;
		memcpy(t, key, kn);
		t[kn] = '"';
		memcpy(t + kn + 1, v->p, v->len);
		t[kn + 1 + v->len] = '"';
		gw_buf_commit(o, kn + v->len + 2);
		return 0;
	}
	gw_buf_reset(&d->tmp);
	if (pick_text(v, &d->tmp, &p, &n) == -1)
		return -1;
	return put_n(o, key, kn) |
	    gw_json_str(o, p, gw_utf8_cut(p, n, CAP_STR));
}

#define put_str(d, o, key, v, capped) \
	put_str_n(d, o, key, sizeof(key) - 1, v, capped)

/* Appends <key> and the number <v>, if it is one. */
static int
put_num_n(struct gw_buf *o, const char *key, size_t kn, const struct gw_jval *v)
{
	if (v->type != GW_JNUMBER)
		return 0;
	return put_n(o, key, kn) | gw_json_raw(o, v->p, v->len);
}

#define put_num(o, key, v) put_num_n(o, key, sizeof(key) - 1, v)

/*
 * Objects whose members are all optional: open() writes ,"name":{ and
 * each member its own leading comma; close() drops the first member's
 * comma, or the whole object when it got no member.
 */
static size_t
open_obj_n(struct gw_buf *o, const char *key, size_t kn, size_t *mark, int *err)
{
	*mark = o->len;
	*err |= put_n(o, key, kn);
	return o->len;
}

/* <key> is ",\"name\":{". */
#define open_obj(o, key, mark, err) \
	open_obj_n(o, key "{", sizeof(key), mark, err)

static int
close_obj(struct gw_buf *o, size_t mark, size_t body)
{
	char *h = gw_buf_head(o);

	if (o->len <= body) {
		o->len = mark;
		return 0;
	}
	memmove(h + body, h + body + 1, o->len - body - 1);
	o->len--;
	return gw_json_raw(o, "}", 1);
}

/* The first element of the array <a>, when it is a string. */
static int
first_str(const struct gw_jval *a, struct gw_jval *out)
{
	const char *p = a->p + 1, *end = a->p + a->len, *q;

	memset(out, 0, sizeof(*out));
	if (a->type != GW_JARRAY)
		return -1;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p == end || *p != '"')
		return -1;
	/* jscan validated the text: escapes are whole, the quote is there. */
	for (q = ++p; *q != '"'; q++)
		if (*q == '\\') {
			out->esc = 1;
			q++;
		}
	out->p = p;
	out->len = (uint32_t)(q - p);
	out->type = GW_JSTRING;
	return 0;
}

static int
is_exchange(const struct xevent *ev)
{
	return ev->f[XF_METHOD].type == GW_JSTRING;
}

/* -- message -------------------------------------------------------------- */

static char *
u64_dec(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

/* "950ns", "217.5µs", "12.3ms", "1.5s": one decimal, as humans read. */
static int
add_duration(struct gw_buf *m, int64_t ns)
{
	static const struct {
		uint64_t unit;
		const char *name;
	} units[] = { { 1000, "\xc2\xb5s" }, { 1000000, "ms" },
		{ 1000000000, "s" } };
	char buf[32], *p = buf + sizeof(buf);
	uint64_t u = (uint64_t)ns, tenths = 0;
	size_t i;

	if (ns < 1000) {
		p = u64_dec(p, u);
		return gw_buf_add(m, p, (size_t)(buf + sizeof(buf) - p)) |
		    gw_buf_adds(m, "ns");
	}
	for (i = 0; i < 3; i++) {
		tenths = (u + units[i].unit / 20) / (units[i].unit / 10);
		if (tenths < 10000 || i == 2)
			break;
	}
	p = u64_dec(p, tenths % 10);
	*--p = '.';
	p = u64_dec(p, tenths / 10);
	return gw_buf_add(m, p, (size_t)(buf + sizeof(buf) - p)) |
	    gw_buf_adds(m, units[i].name);
}

/* Appends " " and the decoded text of <v> when it is a non-empty string. */
static int
add_word(struct gw_buf *m, const struct gw_jval *v, const char *sep)
{
	const char *p;
	size_t n;

	if (v->type != GW_JSTRING || v->len == 0)
		return 0;
	if (m->len > 0 && gw_buf_adds(m, sep) == -1)
		return -1;
	if (!v->esc)
		return gw_buf_add(m, v->p, v->len);
	return pick_text(v, m, &p, &n); /* decodes at the end of <m> */
}

/*
 * The one-line summary: for an exchange the query language's summary
 * line (lib/query_eval.c, build_line) so that free text finds the same
 * events here and in Datadog, then the duration and the error code.
 */
static int
build_message(
    struct dd_enc *d, const struct xevent *ev, const struct gw_jval *v)
{
	struct gw_buf *m = &d->msg;
	char num[24], *p;
	int err = 0;

	gw_buf_reset(m);
	if (is_exchange(ev)) {
		err |= add_word(m, &v[XF_METHOD], " ");
		if (v[XF_PATH].type == GW_JSTRING) {
			err |= gw_buf_adds(m, " ");
			err |= add_word(m, &v[XF_PATH], "");
		}
		err |= add_word(m, &v[XF_QUERY], "?");
		if (ev->status > 0) {
			p = u64_dec(num + sizeof(num), (uint64_t)ev->status);
			err |= gw_buf_adds(m, " ");
			err |=
			    gw_buf_add(m, p, (size_t)(num + sizeof(num) - p));
		}
		err |= add_word(m, &v[XF_HOST], " ");
		if (ev->duration_ns >= 0) {
			err |= gw_buf_adds(m, " ");
			err |= add_duration(m, ev->duration_ns);
		}
		err |= add_word(m, &v[XF_ERROR_CODE], " ");
		goto done;
	}
	if (v[XF_EVENT_TYPE].type == GW_JSTRING && v[XF_EVENT_TYPE].len > 0)
		err |= add_word(m, &v[XF_EVENT_TYPE], " ");
	else
		err |= gw_buf_adds(m, "event");
	err |= add_word(m, &v[XF_CLIENT_IP], " ");
	err |= add_word(m, &v[XF_SERVER_NAME], " ");
	if (v[DX_FILE].type == GW_JSTRING)
		err |= add_word(m, &v[DX_FILE], " ");
	else if (v[DX_ID].type == GW_JSTRING)
		err |= add_word(m, &v[DX_ID], " ");
	else
		err |= add_word(m, &v[DX_LISTEN], " ");
	err |= add_word(m, &v[DX_OERR], ": ");
	err |= add_word(m, &v[DX_SUBJECT], " by ");
done:
	/*
	 * One line: controls become spaces.  Free text splits words at both
	 * alike, so the message still matches what the summary line does.
	 */
	for (p = gw_buf_head(m); p < gw_buf_head(m) + m->len; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return err;
}

/* -- attributes ----------------------------------------------------------- */

struct qarg {
	const char *k, *v;
	size_t kn, vn;
};

/* http.url_details.queryString: as @http.url_details.queryString.NAME. */
static int
put_query(
    struct dd_enc *d, struct gw_buf *o, const struct gw_jval *q, int capped)
{
	struct qarg a[MAX_QARGS];
	const char *s, *end, *amp, *eq;
	size_t n, na = 0, i, j, cnt, mark, body, max;
	char *t;
	int err = 0;

	if (q->type != GW_JSTRING || q->len == 0)
		return 0;
	gw_buf_reset(&d->tmp);
	gw_buf_reset(&d->qs);
	if (pick_text(q, &d->tmp, &s, &n) == -1 ||
	    (t = gw_buf_reserve(&d->qs, n)) == NULL)
		return -1;
	max = capped ? 16 : MAX_QARGS;
	for (end = s + n; s < end && na < max; s = amp + 1) {
		if ((amp = memchr(s, '&', (size_t)(end - s))) == NULL)
			amp = end;
		if ((eq = memchr(s, '=', (size_t)(amp - s))) == NULL)
			eq = amp;
		a[na].k = t;
		a[na].kn = (size_t)gw_pct_decode(
		    s, (size_t)(eq - s), t, GW_PCT_PLUS, NULL);
		t += a[na].kn;
		if (eq < amp)
			eq++;
		a[na].v = t;
		a[na].vn = (size_t)gw_pct_decode(
		    eq, (size_t)(amp - eq), t, GW_PCT_PLUS, NULL);
		t += a[na].vn;
		if (capped) {
			a[na].kn = gw_utf8_cut(a[na].k, a[na].kn, CAP_QARG);
			a[na].vn = gw_utf8_cut(a[na].v, a[na].vn, CAP_QARG);
		}
		if (a[na].kn > 0)
			na++;
	}
	body = open_obj(o, ",\"queryString\":", &mark, &err);
	for (i = 0; i < na; i++) {
		for (j = 0; j < i; j++)
			if (a[j].kn == a[i].kn &&
			    !memcmp(a[j].k, a[i].k, a[i].kn))
				break;
		if (j < i)
			continue; /* written with the first of its name */
		for (cnt = 0, j = i; j < na; j++)
			cnt += a[j].kn == a[i].kn &&
			    !memcmp(a[j].k, a[i].k, a[i].kn);
		err |= gw_json_raw(o, ",", 1);
		err |= gw_json_str(o, a[i].k, a[i].kn);
		err |= gw_json_raw(o, ":", 1);
		if (cnt == 1) {
			err |= gw_json_str(o, a[i].v, a[i].vn);
			continue;
		}
		err |= gw_json_raw(o, "[", 1);
		for (cnt = 0, j = i; j < na; j++) {
			if (a[j].kn != a[i].kn ||
			    memcmp(a[j].k, a[i].k, a[i].kn))
				continue;
			if (cnt++ > 0)
				err |= gw_json_raw(o, ",", 1);
			err |= gw_json_str(o, a[j].v, a[j].vn);
		}
		err |= gw_json_raw(o, "]", 1);
	}
	return err | close_obj(o, mark, body);
}

/* The host Datadog files the entry under (see fmt.h). */
static const struct gw_jval *
req_host(const struct gw_jval *v)
{
	if (v[XF_HOST].type == GW_JSTRING && v[XF_HOST].len > 0)
		return &v[XF_HOST];
	if (v[XF_SERVER_NAME].type == GW_JSTRING && v[XF_SERVER_NAME].len > 0)
		return &v[XF_SERVER_NAME];
	return NULL;
}

/*
 * Writes "{" and every member we add, without the closing brace.
 * <capped>: strings cut (a truncated entry); the message says so.
 */
static int
put_attrs(struct dd_enc *d, struct gw_buf *o, const struct xevent *ev,
    const struct gw_jval *v, int capped)
{
	const char *st = pick_status(ev);
	const struct gw_jval *h;
	struct gw_jval ref;
	size_t mk[2], bd[2];
	char num[24], *p;
	int err = 0;

	err |= gw_json_raw(o, gw_buf_head(&d->prefix), d->prefix.len);
	if (d->host_per_event && (h = req_host(v)) != NULL)
		err |= put_str(d, o, ",\"hostname\":", h, capped);
	err |= put(o, ",\"status\":\"");
	err |= gw_json_raw(o, st, strlen(st));
	err |= gw_json_raw(o, "\"", 1);
	if (ev->ts_us > 0) {
		p = u64_dec(num + sizeof(num), (uint64_t)ev->ts_us / 1000);
		err |= put(o, ",\"timestamp\":");
		err |= gw_json_raw(o, p, (size_t)(num + sizeof(num) - p));
	}
	if (build_message(d, ev, v) == -1)
		return -1;
	err |= put(o, ",\"message\":");
	if (!capped)
		err |= gw_json_str(o, gw_buf_head(&d->msg), d->msg.len);
	else {
		d->msg.len =
		    gw_utf8_cut(gw_buf_head(&d->msg), d->msg.len, CAP_STR);
		err |= gw_buf_adds(&d->msg, " (truncated)");
		err |= gw_json_str(o, gw_buf_head(&d->msg), d->msg.len);
	}

	if (is_exchange(ev)) {
		bd[0] = open_obj(o, ",\"http\":", &mk[0], &err);
		err |= put_num(o, ",\"status_code\":", &v[XF_STATUS]);
		err |= put_str(d, o, ",\"method\":", &v[XF_METHOD], capped);
		err |= put_str(d, o, ",\"url\":", &v[XF_URL], capped);
		bd[1] = open_obj(o, ",\"url_details\":", &mk[1], &err);
		err |= put_str(d, o, ",\"host\":", &v[XF_HOST], capped);
		err |= put_str(d, o, ",\"path\":", &v[XF_PATH], capped);
		err |= put_num(o, ",\"port\":", &v[DX_SPORT]);
		err |= put_str(d, o, ",\"scheme\":", &v[DX_SCHEME], capped);
		err |= put_query(d, o, &v[XF_QUERY], capped);
		err |= close_obj(o, mk[1], bd[1]);
		err |=
		    put_str(d, o, ",\"useragent\":", &v[XF_USER_AGENT], capped);
		err |= put_str(d, o, ",\"version\":", &v[DX_VERSION], capped);
		if (first_str(&v[DX_REFERER], &ref) == 0)
			err |= put_str(d, o, ",\"referer\":", &ref, capped);
		err |=
		    put_str(d, o, ",\"request_id\":", &v[XF_EVENT_ID], capped);
		err |= close_obj(o, mk[0], bd[0]);
	}

	bd[0] = open_obj(o, ",\"network\":", &mk[0], &err);
	bd[1] = open_obj(o, ",\"client\":", &mk[1], &err);
	err |= put_str(d, o, ",\"ip\":", &v[XF_CLIENT_IP], capped);
	err |= put_num(o, ",\"port\":", &v[DX_CPORT]);
	err |= close_obj(o, mk[1], bd[1]);
	bd[1] = open_obj(o, ",\"destination\":", &mk[1], &err);
	err |= put_str(d, o, ",\"ip\":", &v[DX_SIP], capped);
	err |= put_num(o, ",\"port\":", &v[DX_SPORT]);
	err |= close_obj(o, mk[1], bd[1]);
	/* As the aliases: the body lengths, else the connection's bytes. */
	err |= put_num(o, ",\"bytes_read\":",
	    &v[v[DX_RQLEN].type != GW_JNONE ? DX_RQLEN : DX_BIN]);
	err |= put_num(o, ",\"bytes_written\":",
	    &v[v[DX_RSLEN].type != GW_JNONE ? DX_RSLEN : DX_BOUT]);
	err |= close_obj(o, mk[0], bd[0]);

	err |= put_num(o, ",\"duration\":", &v[XF_DURATION]);

	bd[0] = open_obj(o, ",\"error\":", &mk[0], &err);
	err |= put_str(d, o, ",\"kind\":", &v[XF_ERROR_CODE], capped);
	/* What @error.code and @error.message read locally (object.error). */
	err |= put_str(d, o, ",\"code\":", &v[XF_ERROR_CODE], capped);
	err |= put_str(d, o, ",\"message\":", &v[DX_ERRMSG], capped);
	err |= close_obj(o, mk[0], bd[0]);

	bd[0] = open_obj(o, ",\"evt\":", &mk[0], &err);
	err |= put_str(d, o, ",\"name\":", &v[XF_EVENT_TYPE], capped);
	err |= close_obj(o, mk[0], bd[0]);

	bd[0] = open_obj(o, ",\"usr\":", &mk[0], &err);
	err |= put_str(d, o, ",\"id\":", &v[DX_USER], capped);
	err |= put_str(d, o, ",\"name\":", &v[DX_USER], capped);
	err |= close_obj(o, mk[0], bd[0]);
	return err ? -1 : 0;
}

/* Appends the members of the event <line> after ours, and the '}'. */
static int
splice(struct gw_buf *o, const char *line, size_t len)
{
	const char *p = line + 1, *end = line + len;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p < end && *p == '}')
		return gw_json_raw(o, "}", 1);
	return gw_json_raw(o, ",", 1) | gw_json_raw(o, p, (size_t)(end - p));
}

/* An entry over max_entry, made to fit it (fmt.h). */
static int
put_truncated(struct dd_enc *d, struct gw_buf *o, const struct xevent *ev,
    const struct gw_jval *v)
{
	size_t start = o->len, alen;

	if (put_attrs(d, o, ev, v, 1) == -1) {
		errno = ENOMEM;
		return -1;
	}
	alen = o->len - start;
	if (alen + 32 > d->max_entry) {
		errno = EMSGSIZE; /* not with max_entry >= 256 KiB */
		return -1;
	}
	if (pick_shrink(ev->line, ev->len, d->max_entry - alen, &d->shr) == 0)
		return splice(o, gw_buf_head(&d->shr), d->shr.len);
	if (errno == ENOMEM)
		return -1;
	/* jansson cannot read it, or not even the envelope fits. */
	return put(o, ",\"gw_truncated\":true}");
}

/* root_f's DX_CLASH names. */
static const char *const reserved[] = { "ddsource", "service", "hostname",
	"ddtags", "status", "timestamp", "message", "http", "network",
	"duration", "error", "evt", "usr", "gw_truncated", "host", "severity",
	"level", "syslog", "@timestamp", "_timestamp", "Timestamp", "eventTime",
	"date", "published_date" };

static int
dump_cb(const char *p, size_t n, void *arg)
{
	return gw_buf_add(arg, p, n);
}

/* The event with its members of our names renamed _RESERVED_<name>. */
static int
rename_clashes(struct dd_enc *d, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *ev, *v;
	char key[64];
	size_t i;
	int r = -1;

	ev = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(ev))
		goto done;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if ((v = json_object_get(ev, reserved[i])) == NULL)
			continue;
		(void)snprintf(key, sizeof(key), "_RESERVED_%s", reserved[i]);
		json_incref(v);
		json_object_del(ev, reserved[i]);
		if (json_object_set_new(ev, key, v) == -1)
			goto done;
	}
	gw_buf_reset(&d->ren);
	r = json_dump_callback(ev, dump_cb, &d->ren, JSON_COMPACT);
done:
	json_decref(ev);
	return r;
}

static int
scan(const char *line, size_t len, struct gw_jval *v)
{
	memset(v, 0, sizeof(*v) * DX_N);
	return gw_jscan(line, len, &root_s, v);
}

static int
dd_add(struct xenc *e, struct xbatch *b, const char *line, size_t len,
    const struct xevent *given)
{
	struct dd_enc *d = (struct dd_enc *)e;
	struct gw_buf *o = &b->body;
	struct gw_jval v[DX_N];
	struct xevent ev;
	size_t mark, start;
	int r, saved_errno;

	(void)given; /* our scan picks more than pick_event()'s */
	if (b->n >= e->max_events)
		return FMT_FULL;
	len = pick_trim(&line, len);
	if (scan(line, len, v) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (!pick_utf8_ok(line, len)) {
		if (pick_utf8_fix(line, len, &d->fix) == -1)
			return -1;
		line = gw_buf_head(&d->fix);
		len = d->fix.len;
		if (scan(line, len, v) == -1) {
			errno = EINVAL;
			return -1;
		}
		e->counts.repaired++;
	}
	/* If jansson cannot read it (a huge integer), duplicate keys it is. */
	if (v[DX_CLASH].type != GW_JNONE && rename_clashes(d, line, len) == 0) {
		line = gw_buf_head(&d->ren);
		len = d->ren.len;
		if (scan(line, len, v) == -1) {
			errno = EINVAL;
			return -1;
		}
		e->counts.renamed++;
	}
	pick_fill(&ev, line, len, v);

	if (b->n == 0)
		gw_buf_reset(o); /* an ended empty batch holds "[]" */
	mark = o->len;
	if (b->n == 0)
		r = gw_json_raw(o, "[", 1);
	else {
		o->len--; /* the closing ']' becomes ',' */
		r = gw_json_raw(o, ",", 1);
	}
	start = o->len;
	if (r == 0 &&
	    (put_attrs(d, o, &ev, v, 0) == -1 || splice(o, line, len) == -1)) {
		errno = ENOMEM;
		r = -1;
	}
	if (r == 0 && o->len - start > d->max_entry) {
		o->len = start;
		r = put_truncated(d, o, &ev, v);
		e->counts.truncated += r == 0;
	}
	if (r == 0 && b->n > 0 && o->len + 1 > e->max_bytes)
		r = FMT_FULL;
	if (r == 0 && gw_json_raw(o, "]", 1) == -1)
		r = -1;
	if (r != 0) {
		saved_errno = errno;
		o->len = mark;
		if (b->n > 0)
			gw_buf_head(o)[mark - 1] = ']';
		errno = saved_errno;
		return r;
	}
	b->n++;
	b->raw = o->len;
	return 0;
}

static int
dd_end(struct xenc *e, struct xbatch *b)
{
	(void)e;
	if (b->n == 0 && b->body.len == 0 && gw_json_raw(&b->body, "[]", 2))
		return -1;
	b->raw = b->body.len;
	return 0;
}

static void
dd_free(struct xenc *e)
{
	struct dd_enc *d = (struct dd_enc *)e;

	gw_buf_fini(&d->prefix);
	gw_buf_fini(&d->fix);
	gw_buf_fini(&d->ren);
	gw_buf_fini(&d->shr);
	gw_buf_fini(&d->msg);
	gw_buf_fini(&d->tmp);
	gw_buf_fini(&d->qs);
	free(d);
}

static const struct xenc_ops dd_ops = {
	.add = dd_add,
	.end = dd_end,
	.free = dd_free,
};

static size_t
clamp(size_t v, size_t def, size_t lo, size_t hi)
{
	if (v == 0)
		v = def;
	return v < lo ? lo : v > hi ? hi : v;
}

struct xenc *
fmt_datadog_new(const struct fmt_datadog_opts *opts)
{
	struct gw_buf tags;
	struct dd_enc *d;
	size_t i;
	int err = 0;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->base.ops = &dd_ops;
	d->base.name = "datadog";
	d->base.content_type = "application/json";
	d->max_entry =
	    clamp(opts->max_entry, 1000000, 256 * 1024, DD_MAX_ENTRY_BYTES);
	d->base.max_events =
	    clamp(opts->max_events, DD_MAX_ENTRIES, 1, DD_MAX_ENTRIES);
	/* Room for one whole entry, so a first event always fits. */
	d->base.max_bytes = clamp(
	    opts->max_bytes, FMT_DD_BODY_GOAL, d->max_entry + 2, DD_MAX_BODY);
	d->host_per_event = opts->hostname == NULL;
	gw_buf_init(&d->prefix, 0);
	gw_buf_init(&d->fix, 0);
	gw_buf_init(&d->ren, 0);
	gw_buf_init(&d->shr, 0);
	gw_buf_init(&d->msg, 0);
	gw_buf_init(&d->tmp, 0);
	gw_buf_init(&d->qs, 0);

	err |= put(&d->prefix, "{\"ddsource\":");
	err |= gw_json_cstr(&d->prefix, opts->source ? opts->source : "gw");
	err |= put(&d->prefix, ",\"service\":");
	err |= gw_json_cstr(&d->prefix, opts->service ? opts->service : "gw");
	if (opts->hostname != NULL) {
		err |= put(&d->prefix, ",\"hostname\":");
		err |= gw_json_cstr(&d->prefix, opts->hostname);
	}
	gw_buf_init(&tags, 0);
	for (i = 0; i < opts->ntags; i++) {
		if (i > 0)
			err |= gw_buf_addc(&tags, ',');
		err |= gw_buf_adds(&tags, opts->tags[i]);
	}
	if (tags.len > 0) {
		err |= put(&d->prefix, ",\"ddtags\":");
		err |= gw_json_str(&d->prefix, gw_buf_head(&tags), tags.len);
	}
	gw_buf_fini(&tags);
	if (err) {
		dd_free(&d->base);
		errno = ENOMEM;
		return NULL;
	}
	return &d->base;
}
