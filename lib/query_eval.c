/* SPDX-License-Identifier: MIT */
/*
 * Matching a parsed query (query_int.h) against a whole event: the
 * allocation-free glob and word matchers, value predicates (shared with
 * query_sum.c, which tabulates them at parse time), the summary line, and
 * the walk along dotted paths through jansson objects and arrays.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evsum.h"
#include "http.h"
#include "query_int.h"
#include "timeutil.h"

/* Stack room for a summary line or a decoded query parameter. */
#define LINE_STACK 1024
#define ARG_STACK  512

static inline unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* A word character of free text: letters, digits, '_', non-ASCII bytes. */
static inline int
isword(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/* Is position <i> of <s>/<n> on a word boundary (not inside a word)? */
static inline int
boundary(const char *s, size_t n, size_t i)
{
	return i == 0 || i >= n || !isword((unsigned char)s[i - 1]) ||
	    !isword((unsigned char)s[i]);
}

/* Length of the UTF-8 character at <s> (1 for a stray byte), within <n>. */
static size_t
utf8_len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	size_t i;

	if (k > n)
		return 1;
	for (i = 1; i < k; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return k;
}

/*
 * Matches pattern <p>/<pn> against <s>/<sn> from offset <si>.  In a
 * pattern '*' is any run, '?' one character and "\c" the character c;
 * with <icase> the pattern is in lower case and <s> is lowered as it is
 * read.  Without <words> the match must end at the end of <s>; with it,
 * at any word boundary, and the wildcards never match a space.  One star
 * is remembered for backtracking, which is enough for this kind of
 * pattern and keeps the work at O(pn * sn) without allocating.
 */
static int
glob_run(const char *p, size_t pn, const char *s, size_t sn, size_t si,
    int icase, int words)
{
	size_t pi = 0, star_p = SIZE_MAX, star_s = 0;
	unsigned char c, pc;
	size_t adv;

	for (;;) {
		if (pi == pn) {
			if (words ? boundary(s, sn, si) : si == sn)
				return 1;
		} else if (p[pi] == '*') {
			star_p = ++pi;
			star_s = si;
			continue;
		} else if (si < sn) {
			c = (unsigned char)s[si];
			if (p[pi] == '?') {
				if (!words || c != ' ') {
					si += utf8_len(s + si, sn - si);
					pi++;
					continue;
				}
			} else {
				pc = (unsigned char)p[pi];
				adv = 1;
				if (pc == '\\' && pi + 1 < pn) {
					pc = (unsigned char)p[pi + 1];
					adv = 2;
				}
				if ((icase ? lower(c) : c) == pc) {
					si++;
					pi += adv;
					continue;
				}
			}
		}
		/* No way forward: let the last star take one more byte. */
		if (star_p == SIZE_MAX || star_s >= sn ||
		    (words && s[star_s] == ' '))
			return 0;
		si = ++star_s;
		pi = star_p;
	}
}

/*
 * Do the words <w> (lower case, single spaces) occur in a row in <s>/<n>,
 * whole and without regard to case, whatever separates them?
 */
static int
words_match(const char *w, size_t wn, const char *s, size_t n)
{
	size_t i, j, k, q, tl;

	for (i = 0; i < n; i++) {
		if (!isword((unsigned char)s[i]) ||
		    (i > 0 && isword((unsigned char)s[i - 1])))
			continue;
		for (j = i, q = 0;;) {
			for (tl = 0; q + tl < wn && w[q + tl] != ' '; tl++)
				;
			for (k = j; k < n && isword((unsigned char)s[k]); k++)
				;
			if (k - j != tl)
				break;
			while (j < k &&
			    lower((unsigned char)s[j]) == (unsigned char)w[q]) {
				j++;
				q++;
			}
			if (j < k)
				break;
			if (q == wn)
				return 1;
			q++; /* the space */
			while (j < n && !isword((unsigned char)s[j]))
				j++;
			if (j == n)
				break;
		}
	}
	return 0;
}

/* Does lower-case <t>/<tn> occur in <s>/<n> without regard to case? */
static int
icase_find(const char *t, size_t tn, const char *s, size_t n)
{
	size_t i, j;

	for (i = 0; i + tn <= n; i++) {
		for (j = 0; j < tn; j++)
			if (lower((unsigned char)s[i + j]) !=
			    (unsigned char)t[j])
				break;
		if (j == tn)
			return 1;
	}
	return 0;
}

int
gw_query_text_match(const struct qtext *t, const char *s, size_t n)
{
	size_t i;

	if (t->pat != NULL) {
		for (i = 0; i <= n; i++)
			if (boundary(s, n, i) &&
			    glob_run(t->pat, t->plen, s, n, i, 1, 1))
				return 1;
		return 0;
	}
	if (t->nwords > 0)
		return words_match(t->words, t->wlen, s, n);
	return icase_find(t->lit, t->len, s, n);
}

int
gw_query_number(const char *s, size_t n, double *d, int64_t *i, int *isint)
{
	char buf[64], *end;
	size_t k = 0, digits = 0;
	long long ll;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	if (s[k] == '-' || s[k] == '+')
		k++;
	for (; k < n && s[k] >= '0' && s[k] <= '9'; k++)
		digits++;
	*isint = 1;
	if (k < n && s[k] == '.') {
		*isint = 0;
		for (k++; k < n && s[k] >= '0' && s[k] <= '9'; k++)
			digits++;
	}
	if (digits == 0)
		return 0;
	if (k < n && (s[k] == 'e' || s[k] == 'E')) {
		*isint = 0;
		k++;
		if (k < n && (s[k] == '-' || s[k] == '+'))
			k++;
		if (k == n || s[k] < '0' || s[k] > '9')
			return 0;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
	}
	if (k != n)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*d = strtod(buf, NULL);
	if (*isint) {
		errno = 0;
		ll = strtoll(buf, &end, 10);
		if (errno == ERANGE)
			*isint = 0;
		else
			*i = ll;
	}
	return 1;
}

int
gw_query_time(const char *s, size_t n, int64_t *ns)
{
	char buf[64];
	uint64_t t;

	/* Cheap refusal first: most strings are not times. */
	if (n < 20 || n >= sizeof(buf) || s[4] != '-' || s[7] != '-' ||
	    s[13] != ':')
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (gw_parse_rfc3339(buf, &t) == -1 || t > INT64_MAX)
		return 0;
	*ns = (int64_t)t;
	return 1;
}

int
gw_query_in_net(const uint8_t a[16], const uint8_t net[16], unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;
	uint8_t mask;

	if (memcmp(a, net, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (net[full] & mask);
}

/* The text of a scalar, rendered into <buf> (32 bytes) for numbers. */
static const char *
scalar_text(const struct qscalar *v, char *buf, size_t cap, size_t *len)
{
	int k;

	switch (v->type) {
	case QV_STR:
	case QV_BOOL:
		*len = v->len;
		return v->s;
	case QV_INT:
		k = snprintf(buf, cap, "%lld", (long long)v->i);
		break;
	case QV_REAL:
	default:
		k = snprintf(buf, cap, "%.17g", v->d);
		break;
	}
	*len = k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
	return buf;
}

/* Compares <a>/<an> with <b>/<bn> bytewise (lowered with <icase>). */
static int
str_cmp(const char *a, size_t an, const char *b, size_t bn, int icase)
{
	size_t i, m = an < bn ? an : bn;
	int d;

	for (i = 0; i < m; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (icase) {
			x = lower(x);
			y = lower(y);
		}
		if ((d = (int)x - (int)y) != 0)
			return d;
	}
	return an < bn ? -1 : an > bn;
}

static int
num_cmp(int isint, int64_t i, double d, const struct qval *b)
{
	if (isint && b->isint)
		return i < b->inum ? -1 : i > b->inum;
	return d < b->num ? -1 : d > b->num;
}

int
gw_query_cmp_result(const struct qpred *p, int c_lo, int c_hi)
{
	switch (p->op) {
	case QP_GT:
		return c_lo > 0;
	case QP_GE:
		return c_lo >= 0;
	case QP_LT:
		return c_lo < 0;
	case QP_LE:
		return c_lo <= 0;
	default:
		return (p->v.star || (p->lo_incl ? c_lo >= 0 : c_lo > 0)) &&
		    (p->hi.star || (p->hi_incl ? c_hi <= 0 : c_hi < 0));
	}
}

static int
pred_compare(const struct qpred *p, const struct qscalar *v)
{
	int64_t i = 0, t;
	double d = 0;
	int isint = 0, c_lo = 0, c_hi = 0;
	char buf[32];
	const char *s;
	size_t n;

	if (p->mode == QM_NUM) {
		int isnum = 1;

		if (v->type == QV_INT) {
			i = v->i;
			d = (double)v->i;
			isint = 1;
		} else if (v->type == QV_REAL)
			d = v->d;
		else if (v->type != QV_STR ||
		    !gw_query_number(v->s, v->len, &d, &i, &isint))
			isnum = 0;
		if (isnum) {
			if (!p->v.star)
				c_lo = num_cmp(isint, i, d, &p->v);
			if (p->op == QP_RANGE && !p->hi.star)
				c_hi = num_cmp(isint, i, d, &p->hi);
			return gw_query_cmp_result(p, c_lo, c_hi);
		}
	} else if (p->mode == QM_TIME) {
		if (v->type != QV_STR || !gw_query_time(v->s, v->len, &t))
			return 0;
		if (!p->v.star)
			c_lo = t < p->v.ns ? -1 : t > p->v.ns;
		if (p->op == QP_RANGE && !p->hi.star)
			c_hi = t < p->hi.ns ? -1 : t > p->hi.ns;
		return gw_query_cmp_result(p, c_lo, c_hi);
	}
	s = scalar_text(v, buf, sizeof(buf), &n);
	if (!p->v.star)
		c_lo = str_cmp(s, n, p->v.lit, p->v.len, p->icase);
	if (p->op == QP_RANGE && !p->hi.star)
		c_hi = str_cmp(s, n, p->hi.lit, p->hi.len, p->icase);
	return gw_query_cmp_result(p, c_lo, c_hi);
}

static int
pred_match(const struct qpred *p, const struct qscalar *v)
{
	const struct qval *q = &p->v;
	uint8_t a[16];
	int64_t t;
	char buf[32];
	const char *s;
	size_t n;

	if (q->isip && v->type == QV_STR && gw_evsum_ip(v->s, v->len, a) == 0)
		return gw_query_in_net(a, q->ip, q->plen);
	if (q->iscidr)
		return 0;
	if (q->istime && v->type == QV_STR && gw_query_time(v->s, v->len, &t))
		return t == q->ns;
	if (q->isnum && v->type == QV_INT)
		return q->isint ? v->i == q->inum : (double)v->i == q->num;
	if (q->isnum && v->type == QV_REAL)
		return v->d == q->num;
	s = scalar_text(v, buf, sizeof(buf), &n);
	if (q->glob != NULL)
		return glob_run(q->glob, q->glen, s, n, 0, p->icase, 0);
	if (n != q->len)
		return 0;
	return p->icase ? str_cmp(s, n, q->lit, q->len, 1) == 0
	                : memcmp(s, q->lit, n) == 0;
}

int
gw_query_pred_scalar(const struct qpred *p, const struct qscalar *v)
{
	uint8_t a[16];
	size_t i;

	switch (p->op) {
	case QP_EXISTS:
		return 1;
	case QP_MATCH:
		return pred_match(p, v);
	case QP_CIDR:
		if (v->type != QV_STR || gw_evsum_ip(v->s, v->len, a) == -1)
			return 0;
		for (i = 0; i < p->nnets; i++)
			if (gw_query_in_net(a, p->nets[i].ip, p->nets[i].plen))
				return 1;
		return 0;
	default:
		return pred_compare(p, v);
	}
}

int
gw_query_status_class(int status_code, int has_error)
{
	if (status_code >= 500 || (status_code == 0 && has_error))
		return QC_ERROR;
	if (status_code >= 400)
		return QC_WARN;
	return QC_INFO;
}

const char *
gw_query_status_of(int status_code, int has_error)
{
	static const char *const names[] = { "error", "warn", "info" };

	return names[gw_query_status_class(status_code, has_error)];
}

/* -- Whole events -------------------------------------------------------- */

/* What one gw_query_match_json() call carries between leaves. */
struct ectx {
	json_t *ev, *obj;
	const char *line; /* the summary line, built on first use */
	size_t llen;
	char *heap; /* the line, when it did not fit <buf> */
	char *buf;
	size_t cap;
};

/* A member of <obj>, looked up without regard to case when <icase>. */
static json_t *
member(json_t *obj, const char *key, int icase)
{
	const char *k;
	json_t *v;

	v = json_object_get(obj, key);
	if (v != NULL || !icase)
		return v;
	/* Canonical names are tried first; this is for other producers. */
	json_object_foreach(obj, k, v)
	{
		if (strcasecmp(k, key) == 0)
			return v;
	}
	return NULL;
}

static int
json_scalar(json_t *j, struct qscalar *v)
{
	switch (json_typeof(j)) {
	case JSON_STRING:
		v->type = QV_STR;
		v->s = json_string_value(j);
		v->len = json_string_length(j);
		return 0;
	case JSON_INTEGER:
		v->type = QV_INT;
		v->i = json_integer_value(j);
		return 0;
	case JSON_REAL:
		v->type = QV_REAL;
		v->d = json_real_value(j);
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		v->type = QV_BOOL;
		v->s = json_is_true(j) ? "true" : "false";
		v->len = strlen(v->s);
		return 0;
	default:
		return -1;
	}
}

/*
 * Does a value reached by <path> from <j>, segment <i> on, satisfy <p>?
 * Arrays are entered on the way and at the end: any element will do.
 * <found> is set when some non-null value was reached.
 */
static int
walk(json_t *j, const struct qpath *path, size_t i, const struct qpred *p,
    int *found)
{
	struct qscalar v;
	json_t *e;
	size_t k;

	if (j == NULL || json_is_null(j))
		return 0;
	if (json_is_array(j)) {
		json_array_foreach(j, k, e)
		{
			if (walk(e, path, i, p, found))
				return 1;
		}
		return 0;
	}
	if (i == path->nseg) {
		*found = 1;
		if (p->op == QP_EXISTS)
			return 1;
		if (json_scalar(j, &v) == -1)
			return 0; /* an object matches no value */
		return gw_query_pred_scalar(p, &v);
	}
	if (!json_is_object(j))
		return 0;
	return walk(
	    member(j, path->seg[i], path->hdr[i]), path, i + 1, p, found);
}

static json_t *
get3(json_t *j, const char *a, const char *b, const char *c)
{
	j = json_object_get(j, a);
	j = json_object_get(j, b);
	return c != NULL ? json_object_get(j, c) : j;
}

static const char *
str_or(json_t *j, size_t *n)
{
	if (!json_is_string(j)) {
		*n = 0;
		return "";
	}
	*n = json_string_length(j);
	return json_string_value(j);
}

/*
 * Builds the summary line of the event: "METHOD path[?query] [STATUS]
 * host", or the event_type for an event that is not an HTTP exchange.
 */
static void
build_line(struct ectx *c)
{
	json_t *req, *url, *st;
	const char *m, *path, *q, *host;
	size_t mn, pn, qn, hn, need;
	char num[24], *o;
	int nn = 0;

	req = get3(c->obj, "http", "request", NULL);
	if (!json_is_object(req)) {
		c->line =
		    str_or(json_object_get(c->ev, "event_type"), &c->llen);
		return;
	}
	url = json_object_get(req, "url");
	m = str_or(json_object_get(req, "method"), &mn);
	path = str_or(json_object_get(url, "path"), &pn);
	q = str_or(json_object_get(url, "query"), &qn);
	host = str_or(json_object_get(url, "host"), &hn);
	st = get3(c->obj, "http", "response", "status_code");
	if (json_is_integer(st))
		nn = snprintf(num, sizeof(num), "%lld",
		    (long long)json_integer_value(st));
	need = mn + 1 + pn + 1 + qn + 1 + (size_t)nn + 1 + hn;
	o = c->buf;
	if (need > c->cap) {
		if ((c->heap = malloc(need)) == NULL) {
			c->line = "";
			c->llen = 0;
			return;
		}
		o = c->heap;
	}
	c->line = o;
	memcpy(o, m, mn);
	o += mn;
	*o++ = ' ';
	memcpy(o, path, pn);
	o += pn;
	if (qn > 0) {
		*o++ = '?';
		memcpy(o, q, qn);
		o += qn;
	}
	if (nn > 0) {
		*o++ = ' ';
		memcpy(o, num, (size_t)nn);
		o += nn;
	}
	if (hn > 0) {
		*o++ = ' ';
		memcpy(o, host, hn);
		o += hn;
	}
	c->llen = (size_t)(o - c->line);
}

/* Free text over every value of <j>. */
static int
any_match(const struct qtext *t, json_t *j)
{
	struct qscalar v;
	const char *k, *s;
	char buf[32];
	json_t *e;
	size_t i, n;

	if (json_is_object(j)) {
		json_object_foreach(j, k, e)
		{
			if (any_match(t, e))
				return 1;
		}
		return 0;
	}
	if (json_is_array(j)) {
		json_array_foreach(j, i, e)
		{
			if (any_match(t, e))
				return 1;
		}
		return 0;
	}
	if (json_scalar(j, &v) == -1)
		return 0;
	s = scalar_text(&v, buf, sizeof(buf), &n);
	return gw_query_text_match(t, s, n);
}

/* Percent-decodes <s>/<n> ('+' is a space) into <out>; returns length. */
static size_t
pct_decode(const char *s, size_t n, char *out)
{
	return (size_t)gw_pct_decode(s, n, out, GW_PCT_PLUS, NULL);
}

/* Is the percent-encoded <s>/<n> the name <name>? */
static int
pct_eq(const char *s, size_t n, const char *name)
{
	char buf[ARG_STACK];

	if (n > sizeof(buf))
		return 0; /* no parameter name is that long */
	n = pct_decode(s, n, buf);
	return n == strlen(name) && memcmp(buf, name, n) == 0;
}

/* @http.url_details.queryString.NAME over the request's query string. */
static int
queryarg_match(const struct qnode *n, struct ectx *c)
{
	json_t *j = get3(c->obj, "http", "request", "url");
	const char *q, *a, *b, *eq;
	char stack[ARG_STACK], *buf;
	struct qscalar v;
	size_t qn;
	int r;

	q = str_or(json_object_get(j, "query"), &qn);
	for (a = q; a < q + qn; a = b + 1) {
		if ((b = memchr(a, '&', (size_t)(q + qn - a))) == NULL)
			b = q + qn;
		if ((eq = memchr(a, '=', (size_t)(b - a))) == NULL)
			eq = b;
		if (!pct_eq(a, (size_t)(eq - a), n->f->arg))
			continue;
		if (n->p.op == QP_EXISTS)
			return 1;
		if (eq < b)
			eq++;
		buf = stack;
		if ((size_t)(b - eq) > sizeof(stack) &&
		    (buf = malloc((size_t)(b - eq))) == NULL)
			continue;
		v.type = QV_STR;
		v.s = buf;
		v.len = pct_decode(eq, (size_t)(b - eq), buf);
		r = gw_query_pred_scalar(&n->p, &v);
		if (buf != stack)
			free(buf);
		if (r)
			return 1;
	}
	return 0;
}

static int
attr_match(const struct qnode *n, struct ectx *c)
{
	const struct qfield *f = n->f;
	json_t *st;
	int found = 0, r, code = 0;

	switch (f->kind) {
	case QF_QUERYARG:
		return queryarg_match(n, c);
	case QF_DDSTATUS:
		st = get3(c->obj, "http", "response", "status_code");
		if (json_is_integer(st) && json_integer_value(st) > 0 &&
		    json_integer_value(st) <= UINT16_MAX)
			code = (int)json_integer_value(st);
		st = get3(c->obj, "error", "code", NULL);
		return n->cls_res[gw_query_status_class(
		    code, st != NULL && !json_is_null(st))];
	case QF_PATH:
	default:
		r = walk(
		    f->path.top ? c->ev : c->obj, &f->path, 0, &n->p, &found);
		if (r || found || f->alt.nseg == 0)
			return r;
		return walk(
		    f->alt.top ? c->ev : c->obj, &f->alt, 0, &n->p, &found);
	}
}

static int
eval_json(const struct qnode *n, struct ectx *c)
{
	size_t i;

	switch (n->type) {
	case QN_TRUE:
		return 1;
	case QN_FALSE:
		return 0;
	case QN_AND:
		for (i = 0; i < n->nkid; i++)
			if (!eval_json(n->kid[i], c))
				return 0;
		return 1;
	case QN_OR:
		for (i = 0; i < n->nkid; i++)
			if (eval_json(n->kid[i], c))
				return 1;
		return 0;
	case QN_NOT:
		return !eval_json(n->kid[0], c);
	case QN_TEXT:
		if (c->line == NULL)
			build_line(c);
		return gw_query_text_match(&n->t, c->line, c->llen);
	case QN_ANY:
		return any_match(&n->t, c->ev);
	case QN_ATTR:
	default:
		return attr_match(n, c);
	}
}

int
gw_query_match_json(const struct gw_query *q, json_t *event)
{
	char buf[LINE_STACK];
	struct ectx c;
	int r;

	memset(&c, 0, sizeof(c));
	c.ev = event;
	c.obj = json_object_get(event, "object");
	c.buf = buf;
	c.cap = sizeof(buf);
	r = eval_json(q->root, &c);
	free(c.heap);
	return r;
}

int
gw_query_match_line(const struct gw_query *q, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *ev;
	int r;

	if ((ev = json_loadb(line, len, 0, &jerr)) == NULL)
		return 0;
	r = gw_query_match_json(q, ev);
	json_decref(ev);
	return r;
}
