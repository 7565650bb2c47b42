/* SPDX-License-Identifier: MIT */
/*
 * Attribute names in queries: what a name the user typed means in gw's
 * events.  Datadog's standard names map to the events' own paths (the
 * alias table, which gw-export shares so that what it ships to Datadog
 * answers to the same names), reserved names without '@' become their
 * derived fields, "object." is implied, envelope members are found at the
 * top, header names are made canonical, and the indexed paths are marked
 * for query_sum.c.  Called by query_parse.c.
 */
#include <stdlib.h>
#include <string.h>

#include "query_int.h"

static const struct gw_query_alias aliases[] = {
	{ "duration", "duration_ns", NULL },
	{ "error.kind", "error.code", NULL },
	{ "evt.name", "event_type", NULL },
	{ "http.method", "http.request.method", NULL },
	{ "http.referer", "http.request.headers.Referer", NULL },
	{ "http.request_id", "event_id", NULL },
	{ "http.status_code", "http.response.status_code", NULL },
	{ "http.url", "http.request.url.raw", NULL },
	{ "http.url_details.host", "http.request.url.host", NULL },
	{ "http.url_details.path", "http.request.url.path", NULL },
	{ "http.url_details.port", "conn.server_port", NULL },
	{ "http.url_details.queryString", "http.request.url.query", NULL },
	{ "http.url_details.scheme", "http.request.url.scheme", NULL },
	{ "http.useragent", "http.request.user_agent", NULL },
	{ "http.version", "http.request.version", NULL },
	{ "network.bytes_read", "http.request.body_length", "conn.bytes_in" },
	{ "network.bytes_written", "http.response.body_length",
	    "conn.bytes_out" },
	{ "network.client.ip", "conn.client_ip", NULL },
	{ "network.client.port", "conn.client_port", NULL },
	{ "network.destination.ip", "conn.server_ip", NULL },
	{ "network.destination.port", "conn.server_port", NULL },
	{ "timestamp", "event_timestamp", NULL },
	{ "usr.id", "basic_auth.username", NULL },
	{ "usr.name", "basic_auth.username", NULL },
};

#define NALIASES (sizeof(aliases) / sizeof(aliases[0]))

static const char *const envelope[] = { "event_id", "event_type",
	"event_timestamp", "principal" };

static void
path_fini(struct qpath *p)
{
	size_t i;

	for (i = 0; i < p->nseg; i++)
		free(p->seg[i]);
	free(p->seg);
	free(p->hdr);
	memset(p, 0, sizeof(*p));
}

static char *
dupn(struct qparser *ps, const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d == NULL)
		return gw_query_nomem(ps);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int
path_push(struct qparser *ps, struct qpath *p, const char *s, size_t n)
{
	char **seg;
	unsigned char *hdr;

	seg = realloc(p->seg, (p->nseg + 1) * sizeof(*seg));
	if (seg == NULL)
		goto fail;
	p->seg = seg;
	hdr = realloc(p->hdr, p->nseg + 1);
	if (hdr == NULL)
		goto fail;
	p->hdr = hdr;
	if ((p->seg[p->nseg] = dupn(ps, s, n)) == NULL)
		return -1;
	p->hdr[p->nseg++] = 0;
	return 0;
fail:
	gw_query_nomem(ps);
	return -1;
}

/* Splits a dotted path given in a static table. */
static int
path_split(struct qparser *ps, struct qpath *p, const char *s)
{
	const char *dot;

	for (;;) {
		dot = strchr(s, '.');
		if (path_push(ps, p, s, dot ? (size_t)(dot - s) : strlen(s)))
			return -1;
		if (dot == NULL)
			return 0;
		s = dot + 1;
	}
}

static int
seg_is(const struct qpath *p, size_t i, const char *s)
{
	return i < p->nseg && strcmp(p->seg[i], s) == 0;
}

/* "content-type" -> "Content-Type", as gw-proxy stores header names. */
static void
canonical_header(char *s)
{
	int up = 1;

	for (; *s != '\0'; s++) {
		if (*s >= 'a' && *s <= 'z' && up)
			*s = (char)(*s - 'a' + 'A');
		else if (*s >= 'A' && *s <= 'Z' && !up)
			*s = (char)(*s - 'A' + 'a');
		up = *s == '-';
	}
}

/*
 * Finishes a path: "object." dropped, envelope members marked top, header
 * names made canonical and matched without case.
 */
static void
path_settle(struct qpath *p)
{
	size_t i;

	if (p->nseg > 1 && seg_is(p, 0, "object")) {
		free(p->seg[0]);
		memmove(p->seg, p->seg + 1, (p->nseg - 1) * sizeof(*p->seg));
		p->nseg--;
	} else {
		for (i = 0; i < sizeof(envelope) / sizeof(envelope[0]); i++)
			if (seg_is(p, 0, envelope[i]))
				p->top = 1;
		if (seg_is(p, 0, "object"))
			p->top = 1;
	}
	if (!p->top && p->nseg >= 4 && seg_is(p, 0, "http") &&
	    (seg_is(p, 1, "request") || seg_is(p, 1, "response")) &&
	    seg_is(p, 2, "headers")) {
		canonical_header(p->seg[3]);
		p->hdr[3] = 1;
	}
}

static int
path_eq(const struct qpath *p, int top, const char *a, const char *b,
    const char *c, const char *d)
{
	const char *want[] = { a, b, c, d };
	size_t i, n = 0;

	while (n < 4 && want[n] != NULL)
		n++;
	if (p->top != top || p->nseg != n)
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(p->seg[i], want[i]) != 0)
			return 0;
	return 1;
}

static enum qf_sum
sum_of(const struct qpath *p)
{
	if (path_eq(p, 0, "http", "response", "status_code", NULL))
		return QS_STATUS;
	if (path_eq(p, 0, "http", "request", "method", NULL))
		return QS_METHOD;
	if (path_eq(p, 0, "duration_ns", NULL, NULL, NULL))
		return QS_DURATION;
	if (path_eq(p, 0, "conn", "client_ip", NULL, NULL))
		return QS_IP;
	if (path_eq(p, 0, "http", "request", "url", "host"))
		return QS_HOST;
	if (path_eq(p, 0, "error", "code", NULL, NULL))
		return QS_ERROR;
	if (path_eq(p, 0, "replay_of", NULL, NULL, NULL))
		return QS_REPLAY;
	if (path_eq(p, 1, "event_type", NULL, NULL, NULL))
		return QS_KIND;
	if (path_eq(p, 1, "event_timestamp", NULL, NULL, NULL))
		return QS_TS;
	return QS_NONE;
}

static const struct gw_query_alias *
alias_of(const char *name)
{
	size_t i;

	for (i = 0; i < NALIASES; i++)
		if (strcmp(aliases[i].dd, name) == 0)
			return &aliases[i];
	return NULL;
}

static struct qfield *
field_new(struct qparser *ps, enum qf_kind kind)
{
	struct qfield *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return gw_query_nomem(ps);
	f->kind = kind;
	f->next = ps->q->fields;
	ps->q->fields = f;
	return f;
}

/* Joins segments <from>.. of <p> with dots. */
static char *
join(struct qparser *ps, const struct qpath *p, size_t from)
{
	size_t i, n = 0;
	char *s, *o;

	for (i = from; i < p->nseg; i++)
		n += strlen(p->seg[i]) + 1;
	if ((s = o = malloc(n + 1)) == NULL)
		return gw_query_nomem(ps);
	for (i = from; i < p->nseg; i++) {
		if (i > from)
			*o++ = '.';
		memcpy(o, p->seg[i], strlen(p->seg[i]));
		o += strlen(p->seg[i]);
	}
	*o = '\0';
	return s;
}

struct qfield *
gw_query_field(struct qparser *ps, size_t a, size_t b, int at)
{
	static const char *const reserved[] = { "status", "host", "service",
		"source", "message" };
	const struct gw_query_alias *al;
	struct qpath raw = { 0 };
	struct qfield *f = NULL;
	char buf[256], *name = NULL;
	size_t i, l = 0, seg0 = a;
	int plain = 1, which = -1;

	if (a == b) {
		gw_query_perr(ps, a, "expected attribute name after '@'");
		return NULL;
	}
	for (i = a; i <= b; i++) {
		char c = i < b ? ps->s[i] : '.';

		if (c == '\\' && i + 1 < b) {
			c = ps->s[++i];
			plain &= c != '.';
		} else if (c == '*' || c == '?') {
			gw_query_perr(ps, i,
			    "wildcards are not allowed in attribute "
			    "names");
			goto fail;
		} else if (c == '.') {
			if (l == 0) {
				gw_query_perr(
				    ps, seg0, "empty name in attribute path");
				goto fail;
			}
			if (path_push(ps, &raw, buf, l) == -1)
				goto fail;
			l = 0;
			seg0 = i + 1;
			continue;
		}
		if (l + 1 >= sizeof(buf)) {
			gw_query_perr(ps, seg0, "attribute name too long");
			goto fail;
		}
		buf[l++] = c;
	}
	if (plain && (name = join(ps, &raw, 0)) == NULL)
		goto fail;
	for (i = 0; !at && name && i < sizeof(reserved) / sizeof(*reserved);
	     i++)
		if (strcmp(name, reserved[i]) == 0)
			which = (int)i;
	switch (which) {
	case 0:
		if ((f = field_new(ps, QF_DDSTATUS)) == NULL)
			goto fail;
		f->sum = QS_DDSTATUS;
		f->icase = 1;
		break;
	case 1:
		if ((f = field_new(ps, QF_PATH)) == NULL ||
		    path_split(ps, &f->path, "http.request.url.host") == -1 ||
		    path_split(ps, &f->alt, "conn.server_name") == -1)
			goto fail;
		f->sum = QS_HOSTR;
		f->icase = 1;
		break;
	case 2:
	case 3:
		if ((f = field_new(ps, QF_CONST)) == NULL)
			goto fail;
		f->icase = 1;
		f->cval = dupn(ps, which == 2 ? ps->service : ps->source,
		    strlen(which == 2 ? ps->service : ps->source));
		if (f->cval == NULL)
			goto fail;
		break;
	case 4:
		if ((f = field_new(ps, QF_MESSAGE)) == NULL)
			goto fail;
		break;
	default:
		if (raw.nseg >= 4 && seg_is(&raw, 0, "http") &&
		    seg_is(&raw, 1, "url_details") &&
		    seg_is(&raw, 2, "queryString")) {
			if ((f = field_new(ps, QF_QUERYARG)) == NULL ||
			    (f->arg = join(ps, &raw, 3)) == NULL)
				goto fail;
			break;
		}
		if ((f = field_new(ps, QF_PATH)) == NULL)
			goto fail;
		if (name != NULL && (al = alias_of(name)) != NULL) {
			if (path_split(ps, &f->path, al->path) == -1 ||
			    (al->alt && path_split(ps, &f->alt, al->alt)))
				goto fail;
		} else {
			f->path = raw;
			memset(&raw, 0, sizeof(raw));
		}
		path_settle(&f->path);
		path_settle(&f->alt);
		if (f->alt.nseg == 0)
			f->sum = sum_of(&f->path);
		break;
	}
	path_fini(&raw);
	free(name);
	return f;
fail:
	path_fini(&raw);
	free(name);
	return NULL;
}

void
gw_query_fields_free(struct qfield *f)
{
	struct qfield *next;

	for (; f != NULL; f = next) {
		next = f->next;
		path_fini(&f->path);
		path_fini(&f->alt);
		free(f->arg);
		free(f->cval);
		free(f);
	}
}

const char *
gw_query_attr_path(const char *attr)
{
	const struct gw_query_alias *a = alias_of(attr);

	return a != NULL ? a->path : attr;
}

const struct gw_query_alias *
gw_query_aliases(size_t *n)
{
	*n = NALIASES;
	return aliases;
}
