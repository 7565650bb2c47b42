/* SPDX-License-Identifier: MIT */
/*
 * The policy loader: turns a policy.yml (or .json) into a struct policy,
 * checking the document's structure (phases, rules, expressions) here and
 * leaving each action's config to policy_actions.c.  It reads the file
 * through lib/opts.c's YAML node tree, which keeps every node's position,
 * and keeps the file's text too: an error inside a CEL expression is
 * reported at the line and column of the offending character in the file,
 * which for a quoted or block scalar means walking the YAML source back
 * from the decoded string (see scalar_src()).  Columns count characters,
 * as libyaml's do.  The loader records every problem it finds and goes
 * on, so that one run of "gw-policy check" shows them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ascii.h"
#include "opts.h"
#include "policy.h"
#include "yamlpos.h"

struct policy_ld {
	const char *file; /* the name in messages */
	const char *text; /* the file's bytes */
	size_t len;
	struct gw_yaml_text yt; /* the text with its lines indexed */
	struct policy_errors *errs;
	struct policy *pol;
	enum policy_phase phase;
	struct cel_env *env; /* the current phase's */
	int nomem;
	/* Where the first auth action is (only one is allowed). */
	int auth_line;
};

static const char *const phase_names[POLICY_NPHASES] = {
	"on_tcp_connect",
	"on_http_request",
	"on_http_response",
};

const char *
policy_phase_name(enum policy_phase ph)
{
	return (unsigned)ph < POLICY_NPHASES ? phase_names[ph] : "?";
}

/* Diagnostics. */

void
policy_errors_init(struct policy_errors *errs)
{
	memset(errs, 0, sizeof(*errs));
}

void
policy_errors_fini(struct policy_errors *errs)
{
	if (errs == NULL)
		return;
	free(errs->v);
	memset(errs, 0, sizeof(*errs));
}

static void
diag_add(struct policy_errors *errs, int warning, const char *file, int line,
    int col, const char *fmt, va_list ap)
{
	struct policy_diag *d;
	char msg[sizeof(d->err.msg)];

	if (warning)
		errs->nwarnings++;
	else
		errs->nerrors++;
	if (errs->v == NULL) {
		errs->v = calloc(POLICY_MAX_DIAGS, sizeof(*errs->v));
		if (errs->v == NULL)
			return;
	}
	if (errs->n == POLICY_MAX_DIAGS)
		return;
	d = &errs->v[errs->n++];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	gw_error_set(&d->err, file, line, col, "%s", msg);
	d->warning = warning;
}

static void
diag_addf(struct policy_errors *errs, int warning, const char *file, int line,
    int col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
diag_addf(struct policy_errors *errs, int warning, const char *file, int line,
    int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(errs, warning, file, line, col, fmt, ap);
	va_end(ap);
}

/*
 * Sorts records by position, keeping the order in which they were found
 * among equals: an insertion sort, since there are few and nearly sorted.
 */
static void
diag_sort(struct policy_errors *errs)
{
	struct policy_diag tmp;
	size_t i, j;

	for (i = 1; i < errs->n; i++) {
		tmp = errs->v[i];
		for (j = i; j > 0; j--) {
			const struct gw_error *p = &errs->v[j - 1].err;

			if (p->line < tmp.err.line ||
			    (p->line == tmp.err.line && p->col <= tmp.err.col))
				break;
			errs->v[j] = errs->v[j - 1];
		}
		errs->v[j] = tmp;
	}
}

int
policy_ld_nomem(struct policy_ld *ld)
{
	if (!ld->nomem)
		diag_addf(ld->errs, 0, ld->file, 0, 0, "out of memory");
	ld->nomem = 1;
	errno = ENOMEM;
	return -1;
}

enum policy_phase
policy_ld_phase(const struct policy_ld *ld)
{
	return ld->phase;
}

void
policy_ld_error(
    struct policy_ld *ld, const struct gw_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(
	    ld->errs, 0, ld->file, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
}

void
policy_ld_warn(
    struct policy_ld *ld, const struct gw_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(
	    ld->errs, 1, ld->file, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
}

void
policy_ld_error_at(struct policy_ld *ld, const struct gw_node *n, size_t off,
    const char *fmt, ...)
{
	struct policy_pos pos = policy_ld_pos(ld, n, off);
	va_list ap;

	va_start(ap, fmt);
	diag_add(ld->errs, 0, ld->file, pos.line, pos.col, fmt, ap);
	va_end(ap);
}

/* Positions: from a decoded scalar back to the file (lib/yamlpos). */

struct policy_pos
policy_ld_pos(struct policy_ld *ld, const struct gw_node *n, size_t off)
{
	struct policy_pos pos;

	gw_yaml_scalar_pos(&ld->yt, n, off, &pos.line, &pos.col);
	return pos;
}

/* Suggestions. */

/* Edit distance, '-' and '_' counting as the same character. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, tmp, best;
	size_t row[64];
	char ca, cb;

	if (la >= 63 || lb >= 63)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			ca = a[i - 1] == '_' ? '-' : a[i - 1];
			cb = b[j - 1] == '_' ? '-' : b[j - 1];
			if (ca >= 'A' && ca <= 'Z')
				ca = (char)(ca - 'A' + 'a');
			tmp = row[j];
			best = prev + (ca == cb ? 0 : 1);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *
policy_suggest(const char *word, const char *const *cands)
{
	const char *best = NULL;
	size_t d, bestd = (size_t)-1, limit;

	limit = strlen(word) / 3;
	if (limit < 2)
		limit = 2;
	for (; *cands != NULL; cands++) {
		d = distance(word, *cands);
		if (d < bestd) {
			bestd = d;
			best = *cands;
		}
	}
	return bestd <= limit ? best : NULL;
}

/* Expressions, templates, values. */

static const char *
node_kind(const struct gw_node *n)
{
	switch (n->type) {
	case GW_NODE_SEQ:
		return "a list";
	case GW_NODE_MAP:
		return "a mapping";
	default:
		return gw_opts_node_is_null(n) ? "null" : "a string";
	}
}

void
policy_expr_fini(struct policy_expr *e)
{
	if (e == NULL)
		return;
	cel_program_free(e->prog);
	free(e->src);
	memset(e, 0, sizeof(*e));
}

void
policy_tmpl_fini(struct policy_tmpl *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nseg; i++)
		cel_program_free(t->seg[i].prog);
	free(t->seg);
	free(t->src);
	memset(t, 0, sizeof(*t));
}

void
policy_val_fini(struct policy_val *v)
{
	size_t i;

	if (v == NULL)
		return;
	if (v->kind == POLICY_VAL_STRING)
		policy_tmpl_fini(&v->tmpl);
	else if (v->kind == POLICY_VAL_LIST || v->kind == POLICY_VAL_MAP) {
		for (i = 0; i < v->c.n; i++) {
			if (v->c.keys != NULL)
				free(v->c.keys[i]);
			policy_val_fini(&v->c.items[i]);
		}
		free(v->c.keys);
		free(v->c.items);
	}
	memset(v, 0, sizeof(*v));
}

/*
 * Why a name CEL does not know may exist after all: req.*, res.* and the
 * request functions are declared only in the phases that have them, so
 * that using them elsewhere fails at load time rather than per request.
 * Returns "" or a parenthesised hint.
 */
static const char *
phase_hint(const struct policy_ld *ld, const char *msg)
{
	static const unsigned http =
	    1u << POLICY_HTTP_REQUEST | 1u << POLICY_HTTP_RESPONSE;
	static const unsigned res = 1u << POLICY_HTTP_RESPONSE;
	static const struct {
		const char *name; /* as CEL quotes it, opening quote included */
		const char *what;
		int response;
	} hints[] = {
		{ "'req.", "req.* is", 0 },
		{ "'getReq", "request functions are", 0 },
		{ "'hasReq", "request functions are", 0 },
		{ "'getQueryParam", "request functions are", 0 },
		{ "'hasQueryParam", "request functions are", 0 },
		{ "'res.", "res.* is", 1 },
		{ "'getRes", "response functions are", 1 },
		{ "'hasRes", "response functions are", 1 },
	};
	static char buf[128];
	size_t i;

	if (strstr(msg, "undeclared") == NULL)
		return "";
	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		if (strstr(msg, hints[i].name) == NULL ||
		    (((hints[i].response ? res : http) >> ld->phase) & 1))
			continue;
		snprintf(buf, sizeof(buf), " (%s not available in %s)",
		    hints[i].what, phase_names[ld->phase]);
		return buf;
	}
	return "";
}

/* Compiles <len> bytes at <src>; on error records it at the right place. */
static struct cel_program *
compile(struct policy_ld *ld, const struct gw_node *n, size_t base,
    const char *src, size_t len, const char *what)
{
	struct cel_program *prog;
	struct cel_error cerr;

	memset(&cerr, 0, sizeof(cerr));
	if (ld->env == NULL)
		return NULL; /* already reported */
	prog = cel_compile(ld->env, src, len, &cerr);
	if (prog == NULL) {
		if (errno == ENOMEM && cerr.msg[0] == '\0') {
			policy_ld_nomem(ld);
			return NULL;
		}
		policy_ld_error_at(ld, n,
		    base + (cerr.col > 0 ? cerr.col - 1 : 0), "%s: %s%s", what,
		    cerr.msg[0] ? cerr.msg : "invalid expression",
		    phase_hint(ld, cerr.msg));
	}
	return prog;
}

int
policy_ld_expr(struct policy_ld *ld, const struct gw_node *n, const char *what,
    struct policy_expr *out)
{
	memset(out, 0, sizeof(*out));
	if (n->type != GW_NODE_SCALAR) {
		policy_ld_error(
		    ld, n, "%s must be a string, got %s", what, node_kind(n));
		return -1;
	}
	out->pos.line = n->line;
	out->pos.col = n->col;
	if ((out->src = strdup(n->str)) == NULL)
		return policy_ld_nomem(ld);
	out->prog = compile(ld, n, 0, out->src, strlen(out->src), what);
	if (out->prog == NULL) {
		policy_expr_fini(out);
		return -1;
	}
	out->type = cel_program_type(out->prog);
	return 0;
}

/*
 * The index of the '}' that closes an interpolation whose expression
 * starts at <i>, or (size_t)-1: braces nest, and CEL string literals
 * (quoted, triple-quoted, raw) are skipped.
 */
static size_t
close_brace(const char *s, size_t len, size_t i)
{
	size_t depth = 0, q;
	int raw, triple;
	char c;

	while (i < len) {
		c = s[i];
		if (c == '\'' || c == '"') {
			raw = i > 0 && (s[i - 1] == 'r' || s[i - 1] == 'R');
			triple = i + 2 < len && s[i + 1] == c && s[i + 2] == c;
			q = i + (triple ? 3 : 1);
			for (;;) {
				if (q >= len)
					return (size_t)-1;
				if (s[q] == '\\' && !raw) {
					q += 2;
					continue;
				}
				if (s[q] == c &&
				    (!triple ||
				        (q + 2 < len && s[q + 1] == c &&
				            s[q + 2] == c)))
					break;
				q++;
			}
			i = q + (triple ? 3 : 1);
			continue;
		}
		if (c == '{')
			depth++;
		else if (c == '}') {
			if (depth == 0)
				return i;
			depth--;
		}
		i++;
	}
	return (size_t)-1;
}

static int
push_seg(struct policy_tmpl *t, size_t *cap, const struct policy_seg *seg)
{
	struct policy_seg *p;

	if (t->nseg == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		if ((p = realloc(t->seg, *cap * sizeof(*p))) == NULL)
			return -1;
		t->seg = p;
	}
	t->seg[t->nseg++] = *seg;
	return 0;
}

int
policy_ld_tmpl(struct policy_ld *ld, const struct gw_node *n, const char *what,
    struct policy_tmpl *out)
{
	struct policy_seg seg;
	size_t i = 0, lit = 0, end, cap = 0;
	int failed = 0;

	memset(out, 0, sizeof(*out));
	if (n->type != GW_NODE_SCALAR) {
		policy_ld_error(
		    ld, n, "%s must be a string, got %s", what, node_kind(n));
		return -1;
	}
	out->pos.line = n->line;
	out->pos.col = n->col;
	if ((out->src = strdup(n->str)) == NULL)
		return policy_ld_nomem(ld);
	out->len = strlen(out->src);
	while (i + 1 < out->len) {
		if (out->src[i] != '$' || out->src[i + 1] != '{') {
			i++;
			continue;
		}
		end = close_brace(out->src, out->len, i + 2);
		if (end == (size_t)-1) {
			policy_ld_error_at(ld, n, i,
			    "%s: unterminated ${ (no closing '}')", what);
			failed = 1;
			break;
		}
		memset(&seg, 0, sizeof(seg));
		if (lit < i) {
			seg.text = out->src + lit;
			seg.len = i - lit;
			if (push_seg(out, &cap, &seg) == -1)
				goto nomem;
		}
		seg.text = out->src + i + 2;
		seg.len = end - (i + 2);
		seg.pos = policy_ld_pos(ld, n, i + 2);
		seg.prog = compile(ld, n, i + 2, seg.text, seg.len, what);
		if (seg.prog == NULL)
			failed = 1;
		else if (push_seg(out, &cap, &seg) == -1) {
			cel_program_free(seg.prog);
			goto nomem;
		} else
			out->nexpr++;
		i = lit = end + 1;
	}
	if (!failed && lit < out->len) {
		memset(&seg, 0, sizeof(seg));
		seg.text = out->src + lit;
		seg.len = out->len - lit;
		if (push_seg(out, &cap, &seg) == -1)
			goto nomem;
	}
	if (failed) {
		policy_tmpl_fini(out);
		return -1;
	}
	out->whole = out->nseg == 1 && out->nexpr == 1;
	return 0;
nomem:
	policy_tmpl_fini(out);
	return policy_ld_nomem(ld);
}

/* YAML 1.2 core schema scalars, which JSON's are a subset of. */
static int
yaml_bool(const char *s, int *b)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		*b = 1;
	else if (!strcmp(s, "false") || !strcmp(s, "False") ||
	    !strcmp(s, "FALSE"))
		*b = 0;
	else
		return -1;
	return 0;
}

static int
yaml_int(const char *s, int64_t *v)
{
	const char *p = s;
	char *end;
	int base = 10;
	long long ll;

	if (*p == '-' || *p == '+')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) {
		if (p != s)
			return -1;
		base = p[1] == 'x' ? 16 : 8;
		p += 2;
	}
	if (*p == '\0' || strspn(p, "0123456789abcdefABCDEF") != strlen(p))
		return -1;
	errno = 0;
	ll = strtoll(base == 10 ? s : p, &end, base);
	if (errno != 0 || *end != '\0')
		return -1;
	*v = ll;
	return 0;
}

static int
yaml_float(const char *s, double *v)
{
	const char *p = s + (*s == '-' || *s == '+');
	char *end;

	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
		*v = *s == '-' ? -__builtin_inf() : __builtin_inf();
		return 0;
	}
	if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
		*v = __builtin_nan("");
		return 0;
	}
	/* Digits, at most one '.', an exponent: no hex, no "inf" words. */
	if (strspn(p, "0123456789.eE+-") != strlen(p) ||
	    strspn(p, "0123456789.") == 0 || (*p == '.' && p[1] == '\0'))
		return -1;
	errno = 0;
	*v = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE)
		return -1;
	return 0;
}

static int
ld_val(struct policy_ld *ld, const struct gw_node *n, const char *what,
    struct policy_val *out, int depth)
{
	size_t i;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (depth > POLICY_VAL_MAX_DEPTH) {
		policy_ld_error(ld, n,
		    "%s: values nested more than %d deep (ERR_NGROK_2250)",
		    what, POLICY_VAL_MAX_DEPTH);
		return -1;
	}
	switch (n->type) {
	case GW_NODE_SCALAR:
		if (gw_opts_node_is_null(n))
			out->kind = POLICY_VAL_NULL;
		else if (n->plain && yaml_bool(n->str, &out->b) == 0)
			out->kind = POLICY_VAL_BOOL;
		else if (n->plain && yaml_int(n->str, &out->i) == 0)
			out->kind = POLICY_VAL_INT;
		else if (n->plain && yaml_float(n->str, &out->d) == 0)
			out->kind = POLICY_VAL_DOUBLE;
		else {
			out->kind = POLICY_VAL_STRING;
			return policy_ld_tmpl(ld, n, what, &out->tmpl);
		}
		return 0;
	case GW_NODE_SEQ:
	case GW_NODE_MAP:
		out->kind =
		    n->type == GW_NODE_SEQ ? POLICY_VAL_LIST : POLICY_VAL_MAP;
		if (n->n == 0)
			return 0;
		out->c.items = calloc(n->n, sizeof(*out->c.items));
		if (out->c.items == NULL)
			return policy_ld_nomem(ld);
		if (n->type == GW_NODE_MAP) {
			out->c.keys = calloc(n->n, sizeof(*out->c.keys));
			if (out->c.keys == NULL)
				return policy_ld_nomem(ld);
		}
		for (i = 0; i < n->n; i++) {
			out->c.n = i + 1;
			if (out->c.keys != NULL &&
			    (out->c.keys[i] = strdup(n->keys[i].str)) == NULL)
				return policy_ld_nomem(ld);
			if (ld_val(ld, &n->items[i], what, &out->c.items[i],
			        depth + 1) == -1)
				rc = -1;
		}
		return rc;
	}
	return -1;
}

int
policy_ld_val(struct policy_ld *ld, const struct gw_node *n, const char *what,
    struct policy_val *out)
{
	return ld_val(ld, n, what, out, 1);
}

/* Rules and phases. */

static const char *const rule_keys[] = { "name", "expressions", "actions",
	NULL };

static void
unknown_key(struct policy_ld *ld, const struct gw_node *key, const char *where,
    const char *const *valid)
{
	const char *s = policy_suggest(key->str, valid);

	if (s != NULL)
		policy_ld_error(ld, key,
		    "unknown %s key \"%s\" (did you mean \"%s\"?)", where,
		    key->str, s);
	else
		policy_ld_error(
		    ld, key, "unknown %s key \"%s\"", where, key->str);
}

static void
load_exprs(struct policy_ld *ld, const struct gw_node *n, struct policy_rule *r)
{
	const char *tn;
	size_t i;

	if (gw_opts_node_is_null(n))
		return;
	if (n->type != GW_NODE_SEQ) {
		policy_ld_error(ld, n,
		    "expressions must be a list of CEL strings, got %s",
		    node_kind(n));
		return;
	}
	if (n->n == 0)
		return;
	if ((r->exprs = calloc(n->n, sizeof(*r->exprs))) == NULL) {
		policy_ld_nomem(ld);
		return;
	}
	for (i = 0; i < n->n; i++) {
		if (policy_ld_expr(ld, &n->items[i], "invalid expression",
		        &r->exprs[r->nexprs]) == -1)
			continue;
		switch (r->exprs[r->nexprs].type) {
		case CEL_BOOL:
		case CEL_DYN:
			r->nexprs++;
			break;
		default:
			tn = cel_type_name(r->exprs[r->nexprs].type);
			policy_ld_error(ld, &n->items[i],
			    "an expression must evaluate to a bool, not %s "
			    "(ERR_NGROK_2200)",
			    tn);
			policy_expr_fini(&r->exprs[r->nexprs]);
		}
	}
}

/*
 * Checks a rule's actions against each other: nothing after an action
 * that always ends the phase (ERR_NGROK_2207), one auth action per policy
 * (ERR_NGROK_2239).
 */
static void
check_actions(struct policy_ld *ld, const struct gw_node *seq,
    const struct policy_rule *r)
{
	const struct action *a, *term = NULL;
	size_t i;

	for (i = 0; i < r->nactions; i++) {
		a = &r->actions[i];
		if (a->type == ACTION_NTYPES)
			continue;
		if (term != NULL) {
			policy_ld_error(ld, &seq->items[i],
			    "action type \"%s\" is unreachable due to a prior "
			    "terminating action (%s at line %d) "
			    "(ERR_NGROK_2207)",
			    action_type_name(a->type),
			    action_type_name(term->type), term->pos.line);
			term = NULL; /* once per rule is enough */
			break;
		}
		if (action_is_terminating(a->type))
			term = a;
		if (a->type == ACTION_BASIC_AUTH) {
			if (ld->auth_line != 0)
				policy_ld_error(ld, &seq->items[i],
				    "only one auth action is allowed per "
				    "policy; the first is at line %d "
				    "(ERR_NGROK_2239)",
				    ld->auth_line);
			else
				ld->auth_line = a->pos.line;
		}
	}
}

static void
load_actions(struct policy_ld *ld, const struct gw_node *rule,
    const struct gw_node *n, struct policy_rule *r)
{
	size_t i;

	if (n == NULL || gw_opts_node_is_null(n) ||
	    (n->type == GW_NODE_SEQ && n->n == 0)) {
		policy_ld_error(ld, n && n->line ? n : rule,
		    "a rule must define at least one action (ERR_NGROK_2206)");
		return;
	}
	if (n->type != GW_NODE_SEQ) {
		policy_ld_error(ld, n,
		    "actions must be a list of {type, config} items, got %s",
		    node_kind(n));
		return;
	}
	if ((r->actions = calloc(n->n, sizeof(*r->actions))) == NULL) {
		policy_ld_nomem(ld);
		return;
	}
	for (i = 0; i < n->n; i++) {
		r->nactions = i + 1;
		action_load(ld, &n->items[i], &r->actions[i]);
	}
	check_actions(ld, n, r);
}

static void
load_rule(struct policy_ld *ld, const struct gw_node *n, struct policy_rule *r,
    size_t idx)
{
	const struct gw_node *name = NULL, *exprs = NULL, *actions = NULL;
	char buf[64];
	size_t i;

	r->pos.line = n->line;
	r->pos.col = n->col;
	if (n->type != GW_NODE_MAP) {
		policy_ld_error(ld, n,
		    "a rule must be a mapping with name, expressions and "
		    "actions, got %s",
		    node_kind(n));
		return;
	}
	for (i = 0; i < n->n; i++) {
		if (strcmp(n->keys[i].str, "name") == 0)
			name = &n->items[i];
		else if (strcmp(n->keys[i].str, "expressions") == 0)
			exprs = &n->items[i];
		else if (strcmp(n->keys[i].str, "actions") == 0)
			actions = &n->items[i];
		else
			unknown_key(ld, &n->keys[i], "rule", rule_keys);
	}
	if (name != NULL && !gw_opts_node_is_null(name)) {
		if (name->type != GW_NODE_SCALAR)
			policy_ld_error(ld, name,
			    "name must be a string, got %s", node_kind(name));
		else if ((r->name = strdup(name->str)) == NULL)
			policy_ld_nomem(ld);
		else
			r->named = 1;
	}
	if (r->name == NULL) {
		snprintf(buf, sizeof(buf), "%s#%zu", phase_names[ld->phase],
		    idx + 1);
		if ((r->name = strdup(buf)) == NULL)
			policy_ld_nomem(ld);
	}
	if (exprs != NULL)
		load_exprs(ld, exprs, r);
	load_actions(ld, n, actions, r);
}

/* Whether the rule always ends its phase: no condition, a terminator. */
static int
rule_always_ends(const struct policy_rule *r)
{
	size_t i;

	if (r->nexprs != 0)
		return 0;
	for (i = 0; i < r->nactions; i++)
		if (r->actions[i].type != ACTION_NTYPES &&
		    action_is_terminating(r->actions[i].type))
			return 1;
	return 0;
}

static void
load_phase(struct policy_ld *ld, enum policy_phase ph, const struct gw_node *n)
{
	const struct policy_rule *ender = NULL;
	struct policy_rule *rules;
	size_t i;
	int exprs_failed, warned = 0;

	if (gw_opts_node_is_null(n))
		return;
	if (n->type != GW_NODE_SEQ) {
		policy_ld_error(ld, n, "%s must be a list of rules, got %s",
		    phase_names[ph], node_kind(n));
		return;
	}
	if (n->n == 0)
		return;
	ld->phase = ph;
	if (ld->pol->env[ph] == NULL &&
	    (ld->pol->env[ph] = vars_env_new(ph)) == NULL) {
		policy_ld_nomem(ld);
		return;
	}
	ld->env = ld->pol->env[ph];
	if ((rules = calloc(n->n, sizeof(*rules))) == NULL) {
		policy_ld_nomem(ld);
		return;
	}
	ld->pol->phases[ph].rules = rules;
	for (i = 0; i < n->n; i++) {
		ld->pol->phases[ph].n = i + 1;
		load_rule(ld, &n->items[i], &rules[i], i);
		if (ender != NULL && !warned) {
			/* Once per phase: the rest follow from it. */
			policy_ld_warn(ld, &n->items[i],
			    "rule \"%s\" is unreachable: rule \"%s\" at line "
			    "%d always ends %s",
			    rules[i].name ? rules[i].name : "?", ender->name,
			    ender->pos.line, phase_names[ph]);
			warned = 1;
		}
		exprs_failed = n->items[i].type == GW_NODE_MAP &&
		    gw_opts_node_get(&n->items[i], "expressions") != NULL &&
		    rules[i].nexprs == 0;
		if (ender == NULL && !exprs_failed &&
		    rule_always_ends(&rules[i]))
			ender = &rules[i];
	}
	ld->pol->nrules += n->n;
}

static const char *const top_keys[] = { "on_tcp_connect", "on_http_request",
	"on_http_response", NULL };

static void
load_top(struct policy_ld *ld, const struct gw_node *root)
{
	const struct gw_node *seen[POLICY_NPHASES] = { NULL };
	const struct gw_node *k, *v;
	const char *legacy;
	size_t i;
	int ph, b;

	if (gw_opts_node_is_null(root))
		return;
	if (root->type != GW_NODE_MAP) {
		policy_ld_error(ld, root,
		    "a traffic policy must be a mapping of phases "
		    "(on_tcp_connect, on_http_request, on_http_response), "
		    "got %s",
		    node_kind(root));
		return;
	}
	for (i = 0; i < root->n; i++) {
		k = &root->keys[i];
		v = &root->items[i];
		legacy = NULL;
		for (ph = 0; ph < POLICY_NPHASES; ph++)
			if (strcmp(k->str, phase_names[ph]) == 0)
				break;
		if (strcmp(k->str, "inbound") == 0) {
			ph = POLICY_HTTP_REQUEST;
			legacy = k->str;
		} else if (strcmp(k->str, "outbound") == 0) {
			ph = POLICY_HTTP_RESPONSE;
			legacy = k->str;
		}
		if (ph < POLICY_NPHASES) {
			if (seen[ph] != NULL) {
				policy_ld_error(ld, k,
				    "\"%s\" repeats the phase \"%s\" given at "
				    "line %d",
				    k->str, seen[ph]->str, seen[ph]->line);
				continue;
			}
			seen[ph] = k;
			if (legacy != NULL)
				policy_ld_warn(ld, k,
				    "\"%s\" is deprecated; use %s", legacy,
				    phase_names[ph]);
			load_phase(ld, (enum policy_phase)ph, v);
		} else if (strcmp(k->str, "enabled") == 0) {
			if (v->type != GW_NODE_SCALAR || !v->plain ||
			    yaml_bool(v->str, &b) == -1)
				policy_ld_error(
				    ld, v, "enabled must be true or false");
			else if (!b)
				policy_ld_error(ld, v,
				    "enabled: false is not supported: remove "
				    "the rules to disable the policy");
			else
				policy_ld_warn(ld, k,
				    "\"enabled\" is deprecated and has no "
				    "effect; remove it");
		} else if (strcmp(k->str, "on_event_stream_message") == 0)
			policy_ld_error(ld, k,
			    "phase \"on_event_stream_message\" is not "
			    "supported by gw");
		else
			unknown_key(ld, k, "top-level", top_keys);
	}
}

/* Loading, freeing. */

static void
rule_fini(struct policy_rule *r)
{
	size_t i;

	for (i = 0; i < r->nexprs; i++)
		policy_expr_fini(&r->exprs[i]);
	for (i = 0; i < r->nactions; i++)
		action_fini(&r->actions[i]);
	free(r->exprs);
	free(r->actions);
	free(r->name);
	memset(r, 0, sizeof(*r));
}

void
policy_free(struct policy *p)
{
	size_t i;
	int ph;

	if (p == NULL)
		return;
	for (ph = 0; ph < POLICY_NPHASES; ph++) {
		for (i = 0; i < p->phases[ph].n; i++)
			rule_fini(&p->phases[ph].rules[i]);
		free(p->phases[ph].rules);
	}
	/* Programs first: they must not outlive their environments. */
	for (ph = 0; ph < POLICY_NPHASES; ph++)
		cel_env_free(p->env[ph]);
	free(p->file);
	free(p);
}

static void
hash(struct policy *p, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned int mdlen = 0;
	int i;

	if (EVP_Digest(text, len, p->sha256, &mdlen, EVP_sha256(), NULL) != 1)
		memset(p->sha256, 0, sizeof(p->sha256));
	for (i = 0; i < 32; i++) {
		p->sha256_hex[2 * i] = hex[p->sha256[i] >> 4];
		p->sha256_hex[2 * i + 1] = hex[p->sha256[i] & 15];
	}
	p->sha256_hex[64] = '\0';
}

struct policy *
policy_parse(
    const char *name, const char *text, size_t len, struct policy_errors *errs)
{
	struct policy_errors scratch;
	struct policy_ld ld;
	struct gw_error gerr;
	struct gw_node *root = NULL;
	struct policy *p;
	size_t before;

	if (errs == NULL) {
		policy_errors_init(&scratch);
		errs = &scratch;
	}
	before = errs->nerrors;
	memset(&ld, 0, sizeof(ld));
	ld.file = name;
	ld.text = text;
	ld.len = len;
	ld.errs = errs;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->file = strdup(name)) == NULL ||
	    gw_yaml_text_init(&ld.yt, ld.text, ld.len) == -1) {
		policy_ld_nomem(&ld);
		goto fail;
	}
	ld.pol = p;
	hash(p, text, len);
	root = gw_opts_node_parse(name, text, len, &gerr);
	if (root == NULL) {
		if (errno == ENOMEM)
			policy_ld_nomem(&ld);
		else
			diag_addf(errs, 0, gerr.file, gerr.line, gerr.col, "%s",
			    gerr.msg);
		goto fail;
	}
	load_top(&ld, root);
	gw_opts_node_free(root);
	root = NULL;
	if (errs->nerrors != before)
		goto fail;
	diag_sort(errs);
	gw_yaml_text_fini(&ld.yt);
	if (errs == &scratch)
		policy_errors_fini(&scratch);
	return p;
fail:
	diag_sort(errs);
	gw_opts_node_free(root);
	gw_yaml_text_fini(&ld.yt);
	policy_free(p);
	if (errs == &scratch)
		policy_errors_fini(&scratch);
	errno = ld.nomem ? ENOMEM : EINVAL;
	return NULL;
}

struct policy *
policy_load(const char *path, struct policy_errors *errs)
{
	struct policy *p;
	size_t len = 0;
	char *text;
	int saved_errno;

	if ((text = gw_read_file(path, GW_OPTS_MAX_FILE, &len)) == NULL) {
		saved_errno = errno;
		if (errs != NULL)
			diag_addf(
			    errs, 0, path, 0, 0, "%s", strerror(saved_errno));
		errno = saved_errno;
		return NULL;
	}
	p = policy_parse(path, text, len, errs);
	saved_errno = errno;
	free(text);
	errno = saved_errno;
	return p;
}
