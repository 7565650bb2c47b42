/* SPDX-License-Identifier: MIT */
/*
 * The query parser (see query.h for the language): a recursive descent
 * over the text into the tree of query_int.h.  Values are classified
 * (number, time, address, pattern) here, attribute names resolved by
 * query_attr.c and summary answers tabulated by query_sum.c, so that
 * matching does none of that work again.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evsum.h"
#include "query_int.h"

#define MAX_DEPTH 200 /* nesting of parentheses and negations */

/* Term delimiters, by context. */
enum { T_FREE, T_VALUE, T_CIDR };

static struct qnode *parse_or(struct qparser *ps, const struct qfield *ctx);
static struct qnode *parse_group(struct qparser *ps, const struct qfield *ctx);

/* -- Errors -------------------------------------------------------------- */

/* The first failure is the one reported. */
void
gw_query_perr(struct qparser *ps, size_t pos, const char *fmt, ...)
{
	char msg[sizeof(ps->err->msg)];
	int line = 1, col = 1;
	va_list ap;
	size_t i;

	if (ps->failed)
		return;
	ps->failed = 1;
	if (ps->err == NULL)
		return;
	for (i = 0; i < pos && i < ps->n; i++) {
		if (ps->s[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)ps->s[i] & 0xc0) != 0x80)
			col++;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gw_error_set(ps->err, NULL, line, col, "%s", msg);
}

void *
gw_query_nomem(struct qparser *ps)
{
	/* Not a place in the query: line 0 tells the caller so. */
	if (!ps->failed)
		gw_error_set(ps->err, NULL, 0, 0, "out of memory");
	ps->failed = 1;
	ps->nomem = 1;
	errno = ENOMEM;
	return NULL;
}

static void *
zalloc(struct qparser *ps, size_t n)
{
	void *p = calloc(1, n ? n : 1);

	return p != NULL ? p : gw_query_nomem(ps);
}

/* -- Lexing -------------------------------------------------------------- */

static int
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static int
peek(const struct qparser *ps)
{
	return ps->pos < ps->n ? (unsigned char)ps->s[ps->pos] : '\0';
}

static void
skip_ws(struct qparser *ps)
{
	while (ps->pos < ps->n && is_ws((unsigned char)ps->s[ps->pos]))
		ps->pos++;
}

/* Does a term end before character <c> in context <ctx>? */
static int
is_delim(int c, int ctx)
{
	if (c == '\0' || is_ws(c) || c == '(' || c == ')')
		return 1;
	if (ctx == T_CIDR)
		return c == ',';
	if (c == '"' || c == '[' || c == ']' || c == '{' || c == '}')
		return 1;
	return ctx == T_FREE && c == ':';
}

/*
 * Is the operator <op> at the cursor, as a word of its own?  Operators
 * may be followed by a parenthesis or a quote: "NOT(a)", "a OR(b)".
 */
static int
at_op(const struct qparser *ps, const char *op)
{
	size_t k = strlen(op);
	int c;

	if (ps->n - ps->pos < k || memcmp(ps->s + ps->pos, op, k) != 0)
		return 0;
	c = ps->pos + k < ps->n ? (unsigned char)ps->s[ps->pos + k] : '\0';
	return c == '\0' || is_ws(c) || c == '(' || c == ')' || c == '"';
}

static int
at_or(const struct qparser *ps)
{
	return at_op(ps, "OR") || at_op(ps, "||");
}

static int
at_and(const struct qparser *ps)
{
	return at_op(ps, "AND") || at_op(ps, "&&");
}

/* Where the term at the cursor ends; a dangling backslash fails. */
static size_t
term_end(struct qparser *ps, int ctx)
{
	size_t i = ps->pos;

	while (i < ps->n) {
		if (ps->s[i] == '\\') {
			if (i + 1 == ps->n) {
				gw_query_perr(
				    ps, i, "backslash at end of query");
				return i;
			}
			i += 2;
			continue;
		}
		if (is_delim((unsigned char)ps->s[i], ctx))
			break;
		i++;
	}
	return i;
}

/*
 * Decodes the term <a>..<b> into <v>: lit with escapes resolved, and glob
 * (wildcards bare, a literal '*', '?' or '\' escaped) when it has an
 * unescaped wildcard.
 */
static int
decode_term(struct qparser *ps, size_t a, size_t b, struct qval *v)
{
	size_t i, l = 0, g = 0;
	int wild = 0;
	char c;

	v->lit = malloc(b - a + 1);
	v->glob = malloc(2 * (b - a) + 1);
	if (v->lit == NULL || v->glob == NULL) {
		gw_query_nomem(ps);
		return -1;
	}
	for (i = a; i < b; i++) {
		c = ps->s[i];
		if (c == '\\') {
			c = ps->s[++i];
			if (c == '*' || c == '?' || c == '\\')
				v->glob[g++] = '\\';
		} else if (c == '*' || c == '?')
			wild = 1;
		v->lit[l++] = c;
		v->glob[g++] = c;
	}
	v->lit[l] = '\0';
	v->glob[g] = '\0';
	v->len = l;
	v->glen = g;
	if (!wild) {
		free(v->glob);
		v->glob = NULL;
		v->glen = 0;
	}
	return 0;
}

/* Decodes the quoted phrase at the cursor into <v> (no wildcards). */
static int
decode_phrase(struct qparser *ps, struct qval *v)
{
	size_t start = ps->pos, i, l = 0;

	for (i = start + 1; i < ps->n && ps->s[i] != '"'; i++)
		if (ps->s[i] == '\\' && i + 1 < ps->n)
			i++;
	if (i >= ps->n) {
		gw_query_perr(ps, start, "unterminated quoted phrase");
		return -1;
	}
	if ((v->lit = malloc(i - start)) == NULL) {
		gw_query_nomem(ps);
		return -1;
	}
	for (i = start + 1; ps->s[i] != '"'; i++) {
		if (ps->s[i] == '\\')
			i++;
		v->lit[l++] = ps->s[i];
	}
	v->lit[l] = '\0';
	v->len = l;
	ps->pos = i + 1;
	return 0;
}

static void
val_fini(struct qval *v)
{
	free(v->lit);
	free(v->glob);
	v->lit = v->glob = NULL;
}

/* -- Values -------------------------------------------------------------- */

/* Looks like an address with a prefix (digits, hex, dots, colons)? */
static int
cidr_shaped(const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);
	size_t i;

	if (slash == NULL || slash == s || slash + 1 == s + n)
		return 0;
	for (i = 0; s + i < slash; i++)
		if (!(strchr("0123456789abcdefABCDEF.:", s[i])))
			return 0;
	for (i = (size_t)(slash - s) + 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return memchr(s, '.', n) != NULL || memchr(s, ':', n) != NULL;
}

/*
 * Parses an address, or a block "addr/len", into <ip>/<plen>.  Returns 1,
 * 0 when <s> is not one, or -1 for a block that is malformed.
 */
static int
parse_net(const char *s, size_t n, uint8_t ip[16], uint8_t *plen)
{
	const char *slash = memchr(s, '/', n);
	size_t an = slash ? (size_t)(slash - s) : n, i;
	unsigned len = 0, max;

	if (gw_evsum_ip(s, an, ip) == -1)
		return slash != NULL && cidr_shaped(s, n) ? -1 : 0;
	max = memchr(s, ':', an) != NULL ? 128 : 32;
	if (slash == NULL) {
		*plen = 128;
		return 1;
	}
	if (an + 1 == n || n - an - 1 > 3)
		return -1;
	for (i = an + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		len = len * 10 + (unsigned)(s[i] - '0');
	}
	if (len > max)
		return -1;
	*plen = (uint8_t)(max == 32 ? 96 + len : len);
	return 1;
}

/* Is <s> a date alone ("2026-11-24"), as a time bound? */
static int
date_bound(const char *s, size_t n, int64_t *ns)
{
	char buf[32];
	size_t i;

	if (n != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < n; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	snprintf(buf, sizeof(buf), "%.10sT00:00:00Z", s);
	return gw_query_time(buf, strlen(buf), ns);
}

enum { V_TERM = 1, V_BOUND = 2 };

/*
 * Classifies a value without wildcards: number, time, and for a term an
 * address or CIDR block.  A block that is malformed fails at <pos>.
 */
static int
classify(struct qparser *ps, struct qval *v, size_t pos, int flags)
{
	int isint = 0, r;

	if (v->glob != NULL)
		return 0;
	v->isnum = (unsigned)gw_query_number(
	    v->lit, v->len, &v->num, &v->inum, &isint);
	v->isint = v->isnum && isint;
	v->istime = (unsigned)gw_query_time(v->lit, v->len, &v->ns);
	if (!v->istime && (flags & V_BOUND))
		v->istime = (unsigned)date_bound(v->lit, v->len, &v->ns);
	if (!(flags & V_TERM))
		return 0;
	r = parse_net(v->lit, v->len, v->ip, &v->plen);
	if (r == -1) {
		gw_query_perr(ps, pos, "bad CIDR '%s'", v->lit);
		return -1;
	}
	v->isip = r == 1;
	v->iscidr = r == 1 && memchr(v->lit, '/', v->len) != NULL;
	return 0;
}

/*
 * Reads a value at the cursor: a phrase, or a term in context <ctx>.
 * Returns 0 or -1 (failed).
 */
static int
read_value(struct qparser *ps, struct qval *v, int ctx, int flags)
{
	size_t start = ps->pos, end;

	memset(v, 0, sizeof(*v));
	if (peek(ps) == '"') {
		if (decode_phrase(ps, v) == -1)
			return -1;
		return classify(ps, v, start, flags);
	}
	end = term_end(ps, ctx);
	if (ps->failed || decode_term(ps, start, end, v) == -1) {
		val_fini(v);
		return -1;
	}
	ps->pos = end;
	if (v->glob != NULL && v->len == 1 && v->lit[0] == '*')
		v->star = 1;
	if (classify(ps, v, start, flags) == -1) {
		val_fini(v);
		return -1;
	}
	return 0;
}

/* -- Nodes --------------------------------------------------------------- */

static struct qnode *
node_new(struct qparser *ps, enum qn_type type)
{
	struct qnode *n = zalloc(ps, sizeof(*n));

	if (n != NULL)
		n->type = type;
	return n;
}

static int
node_push(struct qparser *ps, struct qnode *n, struct qnode *kid)
{
	struct qnode **k = realloc(n->kid, (n->nkid + 1) * sizeof(*k));

	if (k == NULL) {
		gw_query_node_free(kid);
		gw_query_nomem(ps);
		return -1;
	}
	n->kid = k;
	n->kid[n->nkid++] = kid;
	return 0;
}

static struct qnode *
node_not(struct qparser *ps, struct qnode *kid)
{
	struct qnode *n;

	if (kid == NULL)
		return NULL;
	if ((n = node_new(ps, QN_NOT)) == NULL) {
		gw_query_node_free(kid);
		return NULL;
	}
	if (node_push(ps, n, kid) == -1) {
		free(n);
		return NULL;
	}
	return n;
}

void
gw_query_node_free(struct qnode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkid; i++)
		gw_query_node_free(n->kid[i]);
	free(n->kid);
	val_fini(&n->p.v);
	val_fini(&n->p.hi);
	free(n->p.nets);
	free(n->t.words);
	free(n->t.pat);
	free(n->t.lit);
	free(n->status_bits);
	free(n);
}

static void
lower_str(char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}

static int
isword(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/* Turns value <v> into free text <t> (takes its strings). */
static int
text_of(struct qparser *ps, struct qval *v, struct qtext *t)
{
	size_t i, o = 0;

	if (v->glob != NULL) {
		t->pat = v->glob;
		t->plen = v->glen;
		v->glob = NULL;
		lower_str(t->pat, t->plen);
		return 0;
	}
	lower_str(v->lit, v->len);
	if ((t->words = malloc(v->len + 1)) == NULL) {
		gw_query_nomem(ps);
		return -1;
	}
	for (i = 0; i < v->len; i++) {
		if (!isword((unsigned char)v->lit[i]))
			continue;
		if (o > 0 && !isword((unsigned char)v->lit[i - 1]))
			t->words[o++] = ' ';
		if (i == 0 || !isword((unsigned char)v->lit[i - 1]))
			t->nwords++;
		t->words[o++] = v->lit[i];
	}
	t->words[o] = '\0';
	t->wlen = o;
	t->lit = v->lit;
	t->len = v->len;
	v->lit = NULL;
	return 0;
}

/* Does the constant <s> satisfy <p>? */
static int
pred_str(const struct qpred *p, const char *s)
{
	struct qscalar v = { QV_STR, s, strlen(s), 0, 0 };

	return gw_query_pred_scalar(p, &v);
}

/*
 * Makes the leaf for field <f> and predicate <p> (whose strings it takes,
 * even when it fails).  Constant fields fold to true or false, message:
 * and *: to free text.
 */
static struct qnode *
make_leaf(
    struct qparser *ps, const struct qfield *f, struct qpred *p, size_t pos)
{
	struct qnode *n = NULL;
	int r;

	switch (f->kind) {
	case QF_CONST:
		p->icase = 1;
		if (p->v.glob != NULL)
			lower_str(p->v.glob, p->v.glen);
		r = pred_str(p, f->cval);
		n = node_new(ps, r ? QN_TRUE : QN_FALSE);
		break;
	case QF_MESSAGE:
	case QF_ANY:
		if (p->op == QP_EXISTS) {
			n = node_new(ps, QN_TRUE);
			break;
		}
		if (p->op != QP_MATCH) {
			gw_query_perr(ps, pos,
			    "comparisons, ranges and CIDR need an "
			    "attribute");
			break;
		}
		n = node_new(ps, f->kind == QF_ANY ? QN_ANY : QN_TEXT);
		if (n == NULL || text_of(ps, &p->v, &n->t) == -1)
			break;
		if (gw_query_sum_prep(n) == -1) {
			gw_query_nomem(ps);
			break;
		}
		val_fini(&p->v);
		return n;
	default:
		if ((n = node_new(ps, QN_ATTR)) == NULL)
			break;
		n->f = f;
		n->p = *p;
		memset(p, 0, sizeof(*p));
		n->p.icase = f->icase;
		if (n->p.icase && n->p.v.glob != NULL)
			lower_str(n->p.v.glob, n->p.v.glen);
		if (gw_query_sum_prep(n) == -1) {
			gw_query_nomem(ps);
			break;
		}
		return n;
	}
	val_fini(&p->v);
	val_fini(&p->hi);
	free(p->nets);
	p->nets = NULL;
	if (ps->failed) {
		gw_query_node_free(n);
		return NULL;
	}
	return n;
}

/* The mode of a comparison or range, from its bounds. */
static enum qp_mode
mode_of(const struct qpred *p)
{
	int num = 1, time = 1;

	if (!p->v.star) {
		num &= p->v.isnum;
		time &= p->v.istime;
	}
	if (p->op == QP_RANGE && !p->hi.star) {
		num &= p->hi.isnum;
		time &= p->hi.istime;
	}
	return num ? QM_NUM : time ? QM_TIME : QM_STR;
}

/* Reads one bound of a range or comparison; <what> for messages. */
static int
read_bound(struct qparser *ps, struct qval *v, const char *what, int star_ok)
{
	size_t start = ps->pos;
	int c = peek(ps);

	if (c == '\0' || is_ws(c) || c == ')' || c == ']' || c == '}') {
		gw_query_perr(ps, start, "%s", what);
		return -1;
	}
	if (read_value(ps, v, T_VALUE, V_BOUND) == -1)
		return -1;
	if (v->glob != NULL && !(star_ok && v->star)) {
		gw_query_perr(ps, start, "wildcards are not allowed in %s",
		    star_ok ? "range bounds" : "a comparison");
		val_fini(v);
		return -1;
	}
	return 0;
}

static struct qnode *
parse_range(struct qparser *ps, const struct qfield *f)
{
	struct qpred p = { 0 };
	size_t start = ps->pos;

	p.op = QP_RANGE;
	p.lo_incl = peek(ps) == '[';
	ps->pos++;
	skip_ws(ps);
	if (read_bound(ps, &p.v, "bad range: expected a bound", 1) == -1)
		return NULL;
	skip_ws(ps);
	if (!at_op(ps, "TO")) {
		gw_query_perr(ps, ps->pos, "bad range: expected TO");
		goto fail;
	}
	ps->pos += 2;
	skip_ws(ps);
	if (read_bound(ps, &p.hi, "bad range: expected a bound", 1) == -1)
		goto fail;
	skip_ws(ps);
	if (peek(ps) != ']' && peek(ps) != '}') {
		gw_query_perr(ps, ps->pos, "bad range: expected ']' or '}'");
		goto fail;
	}
	p.hi_incl = peek(ps) == ']';
	ps->pos++;
	if (p.v.star && p.hi.star) {
		val_fini(&p.v);
		val_fini(&p.hi);
		p.op = QP_EXISTS;
	}
	p.mode = mode_of(&p);
	return make_leaf(ps, f, &p, start);
fail:
	val_fini(&p.v);
	val_fini(&p.hi);
	return NULL;
}

static struct qnode *
parse_compare(struct qparser *ps, const struct qfield *f)
{
	struct qpred p = { 0 };
	size_t start = ps->pos;
	char what[40];

	if (peek(ps) == '>')
		p.op = QP_GT;
	else
		p.op = QP_LT;
	ps->pos++;
	if (peek(ps) == '=') {
		p.op = p.op == QP_GT ? QP_GE : QP_LE;
		ps->pos++;
	}
	snprintf(what, sizeof(what), "expected value after '%.*s'",
	    (int)(ps->pos - start), ps->s + start);
	if (read_bound(ps, &p.v, what, 0) == -1)
		return NULL;
	p.mode = mode_of(&p);
	return make_leaf(ps, f, &p, start);
}

/* The value after "field:", at the cursor. */
static struct qnode *
parse_value(struct qparser *ps, const struct qfield *f)
{
	struct qpred p = { 0 };
	size_t start = ps->pos;
	int c = peek(ps);

	if (c == '\0' || is_ws(c) || c == ')') {
		gw_query_perr(ps, start, "expected value after ':'");
		return NULL;
	}
	if (c == '(')
		return parse_group(ps, f);
	if (c == '[' || c == '{')
		return parse_range(ps, f);
	if (c == '>' || c == '<')
		return parse_compare(ps, f);
	if (c == ']' || c == '}') {
		gw_query_perr(ps, start, "unexpected '%c'", c);
		return NULL;
	}
	if (read_value(ps, &p.v, T_VALUE, V_TERM) == -1)
		return NULL;
	p.op = QP_MATCH;
	if (p.v.star) {
		val_fini(&p.v);
		p.op = QP_EXISTS;
	}
	return make_leaf(ps, f, &p, start);
}

static struct qnode *
parse_cidr(struct qparser *ps, size_t start)
{
	struct qpred p = { 0 };
	struct qfield *f;
	struct qnet *nets;
	size_t open = ps->pos, a, b;
	int at;

	ps->pos++;
	skip_ws(ps);
	at = peek(ps) == '@';
	ps->pos += (size_t)at;
	a = ps->pos;
	b = term_end(ps, T_CIDR);
	if (ps->failed)
		return NULL;
	if (a == b) {
		gw_query_perr(ps, a, "expected an attribute in CIDR()");
		return NULL;
	}
	if ((f = gw_query_field(ps, a, b, at)) == NULL)
		return NULL;
	ps->pos = b;
	p.op = QP_CIDR;
	for (;;) {
		skip_ws(ps);
		if (peek(ps) == ')')
			break;
		if (ps->pos == ps->n) {
			gw_query_perr(ps, open, "unbalanced parenthesis");
			goto fail;
		}
		if (peek(ps) != ',') {
			gw_query_perr(
			    ps, ps->pos, "expected ',' or ')' in CIDR()");
			goto fail;
		}
		ps->pos++;
		skip_ws(ps);
		a = ps->pos;
		b = term_end(ps, T_CIDR);
		if (ps->failed)
			goto fail;
		if (a == b) {
			gw_query_perr(ps, a, "expected a CIDR block");
			goto fail;
		}
		nets = realloc(p.nets, (p.nnets + 1) * sizeof(*nets));
		if (nets == NULL) {
			gw_query_nomem(ps);
			goto fail;
		}
		p.nets = nets;
		if (parse_net(ps->s + a, b - a, nets[p.nnets].ip,
		        &nets[p.nnets].plen) != 1) {
			gw_query_perr(
			    ps, a, "bad CIDR '%.*s'", (int)(b - a), ps->s + a);
			goto fail;
		}
		p.nnets++;
		ps->pos = b;
	}
	ps->pos++;
	if (p.nnets == 0) {
		gw_query_perr(ps, start, "CIDR() needs at least one block");
		goto fail;
	}
	return make_leaf(ps, f, &p, start);
fail:
	free(p.nets);
	return NULL;
}

/* Refuses and, or, not in other than upper case, as free text. */
static int
check_word_op(struct qparser *ps, size_t a, size_t b)
{
	static const char *const ops[] = { "AND", "OR", "NOT" };
	size_t i, k = b - a;

	for (i = 0; i < 3; i++)
		if (strlen(ops[i]) == k &&
		    strncasecmp(ps->s + a, ops[i], k) == 0) {
			gw_query_perr(ps, a,
			    "'%.*s' is not an operator: write %s, or \"%.*s\" to "
			    "search for the word",
			    (int)k, ps->s + a, ops[i], (int)k, ps->s + a);
			return -1;
		}
	return 0;
}

static struct qnode *
parse_group(struct qparser *ps, const struct qfield *ctx)
{
	size_t start = ps->pos;
	struct qnode *n;

	ps->pos++;
	skip_ws(ps);
	if (peek(ps) == ')') {
		gw_query_perr(ps, start, "empty parentheses");
		return NULL;
	}
	if ((n = parse_or(ps, ctx)) == NULL)
		return NULL;
	skip_ws(ps);
	if (peek(ps) != ')') {
		gw_query_perr(ps, start, "unbalanced parenthesis");
		gw_query_node_free(n);
		return NULL;
	}
	ps->pos++;
	return n;
}

static struct qnode *
parse_primary(struct qparser *ps, const struct qfield *ctx)
{
	static const struct qfield message = { .kind = QF_MESSAGE };
	static const struct qfield any = { .kind = QF_ANY };
	struct qpred p = { 0 };
	const struct qfield *f;
	size_t start = ps->pos, end;
	int c = peek(ps);

	switch (c) {
	case '(':
		return parse_group(ps, ctx);
	case '"':
		if (read_value(ps, &p.v, T_VALUE, ctx ? V_TERM : 0) == -1)
			return NULL;
		p.op = QP_MATCH;
		return make_leaf(ps, ctx ? ctx : &message, &p, start);
	case '[':
	case '{':
		if (ctx)
			return parse_range(ps, ctx);
		gw_query_perr(
		    ps, start, "a range needs an attribute: @attr:[a TO b]");
		return NULL;
	case '>':
	case '<':
		if (ctx)
			return parse_compare(ps, ctx);
		gw_query_perr(
		    ps, start, "a comparison needs an attribute: @attr:%c1", c);
		return NULL;
	case ')':
		gw_query_perr(ps, start, "unbalanced parenthesis");
		return NULL;
	case ']':
	case '}':
	case ':':
		gw_query_perr(ps, start, "unexpected '%c'", c);
		return NULL;
	case '@':
		if (ctx) {
			gw_query_perr(
			    ps, start, "an attribute cannot be a value");
			return NULL;
		}
		ps->pos++;
		end = term_end(ps, T_FREE);
		if (ps->failed)
			return NULL;
		if (end == ps->pos) {
			gw_query_perr(
			    ps, ps->pos, "expected attribute name after '@'");
			return NULL;
		}
		if (end >= ps->n || ps->s[end] != ':') {
			gw_query_perr(
			    ps, end, "expected ':' after attribute name");
			return NULL;
		}
		if ((f = gw_query_field(ps, ps->pos, end, 1)) == NULL)
			return NULL;
		ps->pos = end + 1;
		return parse_value(ps, f);
	default:
		break;
	}
	end = term_end(ps, ctx ? T_VALUE : T_FREE);
	if (ps->failed)
		return NULL;
	if (!ctx && end < ps->n && ps->s[end] == ':') {
		if (end - start == 1 && ps->s[start] == '*')
			f = &any;
		else if ((f = gw_query_field(ps, start, end, 0)) == NULL)
			return NULL;
		ps->pos = end + 1;
		return parse_value(ps, f);
	}
	if (!ctx && end < ps->n && ps->s[end] == '(' && end - start == 4 &&
	    strncasecmp(ps->s + start, "CIDR", 4) == 0) {
		ps->pos = end;
		return parse_cidr(ps, start);
	}
	if (check_word_op(ps, start, end) == -1)
		return NULL;
	if (read_value(ps, &p.v, ctx ? T_VALUE : T_FREE, ctx ? V_TERM : 0))
		return NULL;
	p.op = QP_MATCH;
	if (p.v.star) {
		val_fini(&p.v);
		p.op = QP_EXISTS;
	}
	return make_leaf(ps, ctx ? ctx : &message, &p, start);
}

static struct qnode *
parse_unary(struct qparser *ps, const struct qfield *ctx)
{
	struct qnode *n;
	size_t start = ps->pos;
	int c = peek(ps), next;

	if (++ps->depth > MAX_DEPTH) {
		gw_query_perr(ps, start, "query nested too deeply");
		return NULL;
	}
	next = start + 1 < ps->n ? (unsigned char)ps->s[start + 1] : '\0';
	if ((c == '-' || c == '+') && !is_ws(next) && next != '\0' &&
	    next != ')') {
		ps->pos++;
		n = parse_unary(ps, ctx);
		n = c == '-' ? node_not(ps, n) : n;
	} else if (c == '-' || c == '+') {
		gw_query_perr(ps, start, "expected a term after '%c'", c);
		n = NULL;
	} else if (at_op(ps, "NOT")) {
		ps->pos += 3;
		skip_ws(ps);
		if (ps->pos == ps->n || peek(ps) == ')' || at_and(ps) ||
		    at_or(ps)) {
			gw_query_perr(ps, ps->pos, "expected a term after NOT");
			n = NULL;
		} else
			n = node_not(ps, parse_unary(ps, ctx));
	} else if (at_and(ps) || at_or(ps)) {
		gw_query_perr(ps, start, "expected a term before %s",
		    at_op(ps, "AND")      ? "AND"
		        : at_op(ps, "OR") ? "OR"
		        : at_op(ps, "&&") ? "&&"
		                          : "||");
		n = NULL;
	} else
		n = parse_primary(ps, ctx);
	ps->depth--;
	return n;
}

/* Collects operands into an AND or OR node (one operand stays alone). */
static struct qnode *
collect(struct qparser *ps, struct qnode *list, struct qnode *n)
{
	if (list == NULL)
		return n;
	if (node_push(ps, list, n) == -1) {
		gw_query_node_free(list);
		return NULL;
	}
	return list;
}

static struct qnode *
parse_and(struct qparser *ps, const struct qfield *ctx)
{
	struct qnode *first, *list = NULL, *n;
	size_t op;

	if ((first = parse_unary(ps, ctx)) == NULL)
		return NULL;
	for (;;) {
		skip_ws(ps);
		if (ps->pos == ps->n || peek(ps) == ')' || at_or(ps))
			break;
		if (at_and(ps)) {
			op = ps->pos;
			ps->pos += ps->s[op] == 'A' ? 3 : 2;
			skip_ws(ps);
			if (ps->pos == ps->n || peek(ps) == ')' || at_or(ps) ||
			    at_and(ps)) {
				gw_query_perr(ps, ps->pos,
				    "expected a term after %.*s",
				    ps->s[op] == 'A' ? 3 : 2, ps->s + op);
				goto fail;
			}
		}
		if (list == NULL) {
			if ((list = node_new(ps, QN_AND)) == NULL)
				goto fail;
			n = first;
			first = NULL;
			if (node_push(ps, list, n) == -1)
				goto fail; /* <n> is freed, <list> empty */
		}
		if ((n = parse_unary(ps, ctx)) == NULL)
			goto fail;
		if ((list = collect(ps, list, n)) == NULL)
			return NULL;
	}
	return list ? list : first;
fail:
	gw_query_node_free(first);
	gw_query_node_free(list);
	return NULL;
}

static struct qnode *
parse_or(struct qparser *ps, const struct qfield *ctx)
{
	struct qnode *first, *list = NULL, *n;
	size_t op;

	if ((first = parse_and(ps, ctx)) == NULL)
		return NULL;
	for (;;) {
		skip_ws(ps);
		if (!at_or(ps))
			break;
		op = ps->pos;
		ps->pos += 2;
		skip_ws(ps);
		if (ps->pos == ps->n || peek(ps) == ')' || at_or(ps) ||
		    at_and(ps)) {
			gw_query_perr(ps, ps->pos, "expected a term after %.2s",
			    ps->s + op);
			goto fail;
		}
		if (list == NULL) {
			if ((list = node_new(ps, QN_OR)) == NULL)
				goto fail;
			n = first;
			first = NULL;
			if (node_push(ps, list, n) == -1)
				goto fail; /* <n> is freed, <list> empty */
		}
		if ((n = parse_and(ps, ctx)) == NULL)
			goto fail;
		if ((list = collect(ps, list, n)) == NULL)
			return NULL;
	}
	return list ? list : first;
fail:
	gw_query_node_free(first);
	gw_query_node_free(list);
	return NULL;
}

/* -- Public -------------------------------------------------------------- */

struct gw_query *
gw_query_parse_opts(
    const char *text, const struct gw_query_opts *opts, struct gw_error *err)
{
	struct qparser ps;
	struct gw_query *q;

	memset(&ps, 0, sizeof(ps));
	ps.s = text;
	ps.n = strlen(text);
	ps.err = err;
	ps.service = opts && opts->service ? opts->service : "gw";
	ps.source = opts && opts->source ? opts->source : "gw";
	if ((q = ps.q = zalloc(&ps, sizeof(*q))) == NULL)
		return NULL;
	skip_ws(&ps);
	if (ps.pos == ps.n)
		q->root = node_new(&ps, QN_TRUE);
	else if ((q->root = parse_or(&ps, NULL)) != NULL) {
		skip_ws(&ps);
		if (ps.pos < ps.n)
			gw_query_perr(&ps, ps.pos, "unbalanced parenthesis");
	}
	if (ps.failed || q->root == NULL) {
		gw_query_free(q);
		errno = ps.nomem ? ENOMEM : EINVAL;
		return NULL;
	}
	q->sum_only = gw_query_sum_always(q->root);
	return q;
}

struct gw_query *
gw_query_parse(const char *text, struct gw_error *err)
{
	return gw_query_parse_opts(text, NULL, err);
}

void
gw_query_free(struct gw_query *q)
{
	if (q == NULL)
		return;
	gw_query_node_free(q->root);
	gw_query_fields_free(q->fields);
	free(q);
}
