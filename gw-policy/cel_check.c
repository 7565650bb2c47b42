// SPDX-License-Identifier: MIT
/*
 * The CEL checker: walks the parsed tree once at load time, resolves every
 * name (comprehension variables, then the longest declared variable
 * prefix of a dotted name, then type names), picks function overloads
 * (namespaced names like url.parse included), computes each node's type
 * and refuses what cannot work whatever the request: 1 + "a", size(1), an
 * unknown function, a wrong argument count.  What is "dyn" passes and is
 * checked at run time.  It then folds constant sub-trees through the
 * evaluator, so that literal lists, duration("1h") or a constant regex
 * cost nothing per request.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cel_impl.h"

struct local {
	const char *name;
	size_t nlen;
	const struct cel_ctype *type;
};

struct checker {
	struct cel_program *prog;
	const struct cel_env *env;
	struct cel_error *err;
	struct local locals[CEL_MAX_LOCALS];
	int nlocals;
	int depth;
};

static int check(struct checker *, struct cel_node *);

static int cerror(struct checker *c, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
cerror(struct checker *c, int col, const char *fmt, ...)
{
	va_list ap;

	c->err->col = col;
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
tname(const struct cel_ctype *t, char *buf, size_t len)
{
	cel_ctype_format(t, buf, len);
	return buf;
}

static int
nomem(struct checker *c, int col)
{
	return cerror(c, col, "out of memory");
}

static const struct local *
find_local(struct checker *c, const char *name, size_t len)
{
	int i;

	for (i = c->nlocals - 1; i >= 0; i--)
		if (c->locals[i].nlen == len &&
		    memcmp(c->locals[i].name, name, len) == 0)
			return &c->locals[i];
	return NULL;
}

/*
 * Writes the dotted name of a chain of identifiers and selections
 * ("req.url.path") into <buf>.  Returns its length, or 0 if the chain has
 * anything else in it, starts with a local, or does not fit.
 */
static size_t
chain_name(struct checker *c, const struct cel_node *n, char *buf, size_t cap)
{
	const struct cel_node *m;
	size_t len = 0, pos;

	/* Measure first, iteratively: chains can be as long as the source. */
	for (m = n; m->kind == N_SELECT; m = m->a) {
		len += 1 + m->nlen;
		if (len >= cap)
			return 0;
	}
	if (m->kind != N_IDENT || find_local(c, m->name, m->nlen) != NULL)
		return 0;
	len += m->nlen;
	if (len >= cap)
		return 0;
	pos = len;
	for (m = n; m->kind == N_SELECT; m = m->a) {
		pos -= m->nlen;
		memcpy(buf + pos, m->name, m->nlen);
		buf[--pos] = '.';
	}
	memcpy(buf, m->name, m->nlen);
	return len;
}

static const struct cel_node *
chain_root(const struct cel_node *n)
{
	while (n->kind == N_SELECT)
		n = n->a;
	return n;
}

/* Whether <n> is identifiers and selections only, not rooted at a local. */
static int
pure_chain(struct checker *c, const struct cel_node *n)
{
	n = chain_root(n);
	return n->kind == N_IDENT && find_local(c, n->name, n->nlen) == NULL;
}

static void
make_var(struct cel_node *n, const struct cel_var *v)
{
	n->kind = N_VAR;
	n->slot = v->id;
	n->name = v->name;
	n->nlen = v->nlen;
	n->type = v->type;
	n->a = NULL;
}

/*
 * Resolves the longest declared prefix of a chain to a variable, leaving
 * the rest as field selections.  Returns 1 if it found one, 0 if not.
 */
static int
resolve_chain(struct checker *c, struct cel_node *n)
{
	char buf[512];
	const struct cel_var *v;
	struct cel_node *m;
	size_t len;

	if (!pure_chain(c, n))
		return 0;
	for (m = n;; m = m->a) {
		/* 0 here means too long for a variable name: look inside. */
		len = chain_name(c, m, buf, sizeof(buf));
		if (len > 0 &&
		    (v = cel_env_find_var(c->env, buf, len)) != NULL) {
			make_var(m, v);
			return 1;
		}
		if (m->kind != N_SELECT)
			return 0;
	}
}

/*
 * Whether some prefix of a chain (with no local at its root) is a declared
 * variable, without resolving anything: "hash.crc32(x)" is then an
 * unknown function rather than a method call on an unknown "hash".
 */
static int
chain_declared(struct checker *c, const struct cel_node *n)
{
	char buf[512];
	size_t len;

	if (!pure_chain(c, n))
		return 1;
	for (;; n = n->a) {
		len = chain_name(c, n, buf, sizeof(buf));
		if (len > 0 && cel_env_find_var(c->env, buf, len) != NULL)
			return 1;
		if (n->kind != N_SELECT)
			return 0;
	}
}

static int
type_name_value(const char *name, size_t len, struct cel_value *out)
{
	static const struct {
		const char *name;
		enum cel_type t;
	} names[] = { { "null_type", CEL_NULL }, { "bool", CEL_BOOL },
		{ "int", CEL_INT }, { "uint", CEL_UINT },
		{ "double", CEL_DOUBLE }, { "string", CEL_STRING },
		{ "bytes", CEL_BYTES }, { "list", CEL_LIST },
		{ "map", CEL_MAP }, { "type", CEL_TYPE },
		{ "timestamp", CEL_TIMESTAMP }, { "duration", CEL_DURATION },
		{ "google.protobuf.Timestamp", CEL_TIMESTAMP },
		{ "google.protobuf.Duration", CEL_DURATION } };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == len &&
		    memcmp(names[i].name, name, len) == 0) {
			out->type = CEL_TYPE;
			out->t = names[i].t;
			return 1;
		}
	return 0;
}

/* A name that is neither a local nor a variable: a type, or an error. */
static int
check_unresolved(struct checker *c, struct cel_node *n)
{
	char buf[512];
	size_t len;
	struct cel_value tv;

	len = chain_name(c, n, buf, sizeof(buf));
	if (len > 0 && type_name_value(buf, len, &tv)) {
		n->kind = N_CONST;
		n->val = tv;
		n->a = NULL;
		n->type = &cel_t_type;
		return 0;
	}
	if (len == 0)
		len = (size_t)snprintf(buf, sizeof(buf), "%.*s",
		    (int)chain_root(n)->nlen, chain_root(n)->name);
	return cerror(c, chain_root(n)->col, "undeclared reference to '%.*s'",
	    (int)len, buf);
}

static int
is_dyn(const struct cel_ctype *t)
{
	return t->kind == CEL_DYN;
}

static int
is_numk(enum cel_type k)
{
	return k == CEL_INT || k == CEL_UINT || k == CEL_DOUBLE;
}

/* Whether a value of type <arg> may be passed where <param> is expected. */
static int
assignable(const struct cel_ctype *param, const struct cel_ctype *arg)
{
	if (param == NULL || arg == NULL || is_dyn(param) || is_dyn(arg))
		return 1;
	if (param->kind != arg->kind)
		return 0;
	return assignable(param->p1, arg->p1) && assignable(param->p2, arg->p2);
}

/* The common type of two branches or elements: dyn where they differ. */
static const struct cel_ctype *
join(const struct cel_ctype *a, const struct cel_ctype *b)
{
	if (a == NULL)
		return b;
	return cel_ctype_equal(a, b) ? a : &cel_t_dyn;
}

static int
check_select(struct checker *c, struct cel_node *n)
{
	char t[64];
	const struct cel_ctype *ot;

	if (check(c, n->a) == -1)
		return -1;
	ot = n->a->type;
	if (is_dyn(ot))
		n->type = &cel_t_dyn;
	else if (ot->kind == CEL_MAP &&
	    (ot->p1->kind == CEL_STRING || is_dyn(ot->p1)))
		n->type = ot->p2;
	else
		return cerror(c, n->col,
		    "type '%s' does not support field selection",
		    tname(ot, t, sizeof(t)));
	return 0;
}

static int
check_index(struct checker *c, struct cel_node *n)
{
	char t1[64], t2[64];
	const struct cel_ctype *ot, *it;

	if (check(c, n->a) == -1 || check(c, n->b) == -1)
		return -1;
	ot = n->a->type;
	it = n->b->type;
	if (is_dyn(ot)) {
		n->type = &cel_t_dyn;
		return 0;
	}
	if (ot->kind == CEL_LIST && (is_dyn(it) || is_numk(it->kind))) {
		n->type = ot->p1;
		return 0;
	}
	if (ot->kind == CEL_MAP &&
	    (assignable(ot->p1, it) ||
	        (is_numk(it->kind) && is_numk(ot->p1->kind)))) {
		n->type = ot->p2;
		return 0;
	}
	return cerror(c, n->col, "cannot index '%s' with '%s'",
	    tname(ot, t1, sizeof(t1)), tname(it, t2, sizeof(t2)));
}

static int
check_has(struct checker *c, struct cel_node *n)
{
	char t[64];
	const struct cel_ctype *ot;
	struct cel_node *m = n->a;

	n->type = &cel_t_bool;
	/* has(req.url.port): a declared variable that may be absent. */
	if (m->kind == N_SELECT && resolve_chain(c, m) && m->kind == N_VAR)
		return 0;
	if (check(c, m->a) == -1)
		return -1;
	if (m->kind == N_INDEX && check(c, m->b) == -1)
		return -1;
	ot = m->a->type;
	if (is_dyn(ot) || ot->kind == CEL_MAP ||
	    (ot->kind == CEL_LIST && m->kind == N_INDEX))
		return 0;
	return cerror(c, m->col, "has() cannot test a field of '%s'",
	    tname(ot, t, sizeof(t)));
}

static int
check_bool_operand(
    struct checker *c, const struct cel_node *n, const char *what)
{
	char t[64];

	if (is_dyn(n->type) || n->type->kind == CEL_BOOL)
		return 0;
	return cerror(c, n->col, "%s needs a bool, found '%s'", what,
	    tname(n->type, t, sizeof(t)));
}

static const char *
op_name(int op)
{
	static const char *const names[] = { "+", "-", "*", "/", "%",
		"==", "!=", "<", "<=", ">", ">=", "in" };

	return names[op];
}

/* The result type of an arithmetic operator on two known kinds, or NULL. */
static const struct cel_ctype *
arith_type(int op, const struct cel_ctype *a, const struct cel_ctype *b)
{
	enum cel_type x = a->kind, y = b->kind;

	switch (op) {
	case OP_ADD:
		if (x == y &&
		    (is_numk(x) || x == CEL_STRING || x == CEL_BYTES ||
		        x == CEL_DURATION))
			return a;
		if (x == CEL_LIST && y == CEL_LIST)
			return cel_ctype_equal(a, b) ? a : &cel_t_list_dyn;
		if ((x == CEL_TIMESTAMP && y == CEL_DURATION) ||
		    (x == CEL_DURATION && y == CEL_TIMESTAMP))
			return &cel_t_timestamp;
		return NULL;
	case OP_SUB:
		if (x == y && (is_numk(x) || x == CEL_DURATION))
			return a;
		if (x == CEL_TIMESTAMP && y == CEL_TIMESTAMP)
			return &cel_t_duration;
		if (x == CEL_TIMESTAMP && y == CEL_DURATION)
			return &cel_t_timestamp;
		return NULL;
	case OP_MUL:
	case OP_DIV:
		return x == y && is_numk(x) ? a : NULL;
	default: /* OP_MOD */
		return x == y && (x == CEL_INT || x == CEL_UINT) ? a : NULL;
	}
}

/* Whether a kind can be an operand of an arithmetic operator at all. */
static int
arith_kind(int op, enum cel_type k)
{
	switch (op) {
	case OP_ADD:
		return is_numk(k) || k == CEL_STRING || k == CEL_BYTES ||
		    k == CEL_LIST || k == CEL_TIMESTAMP || k == CEL_DURATION;
	case OP_SUB:
		return is_numk(k) || k == CEL_TIMESTAMP || k == CEL_DURATION;
	case OP_MUL:
	case OP_DIV:
		return is_numk(k);
	default:
		return k == CEL_INT || k == CEL_UINT;
	}
}

static int
check_binop(struct checker *c, struct cel_node *n)
{
	char t1[64], t2[64];
	const struct cel_ctype *a, *b, *r;
	enum cel_type x, y;

	if (check(c, n->a) == -1 || check(c, n->b) == -1)
		return -1;
	a = n->a->type;
	b = n->b->type;
	x = a->kind;
	y = b->kind;
	n->type = &cel_t_bool;
	switch (n->op) {
	case OP_EQ:
	case OP_NE:
		if (is_dyn(a) || is_dyn(b) || x == y || x == CEL_NULL ||
		    y == CEL_NULL || (is_numk(x) && is_numk(y)))
			return 0;
		goto bad;
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
		if (is_numk(x) && is_numk(y))
			return 0;
		if (x != CEL_BOOL && x != CEL_STRING && x != CEL_BYTES &&
		    x != CEL_TIMESTAMP && x != CEL_DURATION && !is_numk(x) &&
		    !is_dyn(a))
			goto bad;
		if (y != CEL_BOOL && y != CEL_STRING && y != CEL_BYTES &&
		    y != CEL_TIMESTAMP && y != CEL_DURATION && !is_numk(y) &&
		    !is_dyn(b))
			goto bad;
		if (is_dyn(a) || is_dyn(b) || x == y)
			return 0;
		goto bad;
	case OP_IN:
		if (is_dyn(b))
			return 0;
		if (y == CEL_LIST && assignable(b->p1, a))
			return 0;
		if (y == CEL_LIST && is_numk(x) && is_numk(b->p1->kind))
			return 0;
		if (y == CEL_MAP &&
		    (assignable(b->p1, a) ||
		        (is_numk(x) && is_numk(b->p1->kind))))
			return 0;
		goto bad;
	default:
		if ((!is_dyn(a) && !arith_kind(n->op, x)) ||
		    (!is_dyn(b) && !arith_kind(n->op, y)))
			goto bad;
		if (is_dyn(a) || is_dyn(b)) {
			/* The known side decides when it can only pair with
			 * its own kind. */
			r = is_dyn(a) ? b : a;
			n->type = is_numk(r->kind) || r->kind == CEL_STRING ||
			        r->kind == CEL_BYTES
			    ? r
			    : &cel_t_dyn;
			return 0;
		}
		if ((r = arith_type(n->op, a, b)) == NULL)
			goto bad;
		n->type = r;
		return 0;
	}
bad:
	return cerror(c, n->col,
	    "no matching overload for '%s' applied to (%s, %s)", op_name(n->op),
	    tname(a, t1, sizeof(t1)), tname(b, t2, sizeof(t2)));
}

/* Whether sortBy() can order by a key of this type (dyn: run time). */
static int
sort_key_type(const struct cel_ctype *t)
{
	switch (t->kind) {
	case CEL_DYN:
	case CEL_INT:
	case CEL_UINT:
	case CEL_DOUBLE:
	case CEL_BOOL:
	case CEL_STRING:
	case CEL_BYTES:
	case CEL_TIMESTAMP:
	case CEL_DURATION:
		return 1;
	default:
		return 0;
	}
}

static int
check_comp(struct checker *c, struct cel_node *n)
{
	char t[64];
	const struct cel_ctype *rt, *vt, *lt;
	struct local *l;

	if (check(c, n->a) == -1)
		return -1;
	rt = n->a->type;
	if (is_dyn(rt))
		vt = &cel_t_dyn;
	else if (rt->kind == CEL_LIST ||
	    (rt->kind == CEL_MAP && n->op != M_SORTBY))
		vt = rt->p1;
	else
		return cerror(c, n->a->col, "cannot %s '%s'",
		    n->op == M_SORTBY ? "sort" : "iterate over",
		    tname(rt, t, sizeof(t)));
	if (c->nlocals == CEL_MAX_LOCALS)
		return cerror(c, n->col, "comprehensions nested too deeply");
	l = &c->locals[c->nlocals];
	l->name = n->name;
	l->nlen = n->nlen;
	l->type = vt;
	n->slot = c->nlocals++;
	if (c->nlocals > c->prog->nlocals)
		c->prog->nlocals = c->nlocals;
	if (n->b != NULL) {
		if (check(c, n->b) == -1 ||
		    check_bool_operand(c, n->b, "the predicate") == -1)
			return -1;
	}
	if (n->c != NULL && check(c, n->c) == -1)
		return -1;
	c->nlocals--;
	if (n->op == M_SORTBY && !sort_key_type(n->c->type))
		return cerror(c, n->c->col,
		    "sortBy() needs a key of a comparable type (int, uint, "
		    "double, bool, string, bytes, timestamp, duration), found "
		    "'%s'",
		    tname(n->c->type, t, sizeof(t)));
	switch (n->op) {
	case M_FILTER:
		lt = cel_ctype_list(&c->prog->arena, vt);
		break;
	case M_MAP:
		lt = cel_ctype_list(&c->prog->arena, n->c->type);
		break;
	case M_SORTBY:
		lt = is_dyn(rt) ? &cel_t_list_dyn : rt;
		break;
	default:
		lt = &cel_t_bool;
		break;
	}
	if (lt == NULL)
		return nomem(c, n->col);
	n->type = lt;
	return 0;
}

static void
format_args(struct cel_node **args, size_t nargs, char *buf, size_t len)
{
	char t[64];
	size_t i, off = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; i < nargs && off < len; i++) {
		w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
		    tname(args[i]->type, t, sizeof(t)));
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/*
 * Picks the overload of a call among <fns> for the checked argument
 * types, sets the node's type, and runs the function's prepare hook.
 */
static int
pick_overload(struct checker *c, struct cel_node *n, struct cel_node **args,
    size_t nargs, const struct cel_fn *fns)
{
	char buf[160];
	const struct cel_fn *fn, *first = NULL;
	const struct cel_ctype *rt = NULL;
	size_t i;

	for (fn = fns; fn != NULL; fn = fn->next) {
		for (i = 0; i < nargs; i++)
			if (!assignable(fn->args[i], args[i]->type))
				break;
		if (i < nargs)
			continue;
		if (first == NULL)
			first = fn;
		rt = join(rt, fn->result);
	}
	if (first == NULL) {
		format_args(args, nargs, buf, sizeof(buf));
		return cerror(c, n->col,
		    "no matching overload for '%s' applied to (%s)", fns->name,
		    buf);
	}
	n->fn = first;
	n->fns = fns;
	n->type = rt;
	if (first->b != NULL && first->b->prepare != NULL)
		return first->b->prepare(c->prog, n, c->err);
	return 0;
}

/*
 * cel-go's sortBy macro, list.sortBy(e, key): the parser, which knows
 * the other macros, reads it as a method call; here it becomes the
 * comprehension that cel_eval.c sorts with.
 */
static int
check_sort_by(struct checker *c, struct cel_node *n)
{
	struct cel_node *var, *key;

	if (n->nargs != 2)
		return cerror(c, n->col,
		    "sortBy() takes a variable name and a key expression");
	var = n->args[0];
	key = n->args[1];
	if (var->kind != N_IDENT)
		return cerror(c, var->col,
		    "the first argument of sortBy() must be a simple name");
	n->kind = N_COMP;
	n->op = M_SORTBY;
	n->name = var->name;
	n->nlen = var->nlen;
	n->b = NULL;
	n->c = key;
	n->args = NULL;
	n->nargs = 0;
	return check_comp(c, n);
}

static int
check_call(struct checker *c, struct cel_node *n)
{
	char qual[512];
	const struct cel_fn *fns;
	struct cel_node **args;
	size_t len, i, nargs;
	int method = n->a != NULL;

	if (n->a != NULL && n->nlen == 6 && memcmp(n->name, "sortBy", 6) == 0)
		return check_sort_by(c, n);
	/* url.parse(x): a dotted name that is a namespaced function. */
	if (n->a != NULL &&
	    (len = chain_name(c, n->a, qual, sizeof(qual))) > 0 &&
	    len + 1 + n->nlen < sizeof(qual)) {
		qual[len] = '.';
		memcpy(qual + len + 1, n->name, n->nlen);
		len += 1 + n->nlen;
		if (cel_env_find_fn(c->env, qual, len, 0, -1) != NULL) {
			n->col = chain_root(n->a)->col;
			n->a = NULL;
			method = 0;
			if ((n->name = cel_arena_dup(
			         &c->prog->arena, qual, len + 1)) == NULL)
				return nomem(c, n->col);
			((char *)n->name)[len] = '\0';
			n->nlen = len;
		} else if (!chain_declared(c, n->a))
			return cerror(c, chain_root(n->a)->col,
			    "undeclared reference to function '%.*s'", (int)len,
			    qual);
	}
	nargs = n->nargs + (method ? 1 : 0);
	if (nargs > CEL_MAX_ARGS)
		return cerror(c, n->col, "too many arguments to '%.*s'",
		    (int)n->nlen, n->name);
	if (method) {
		/* The receiver becomes the first argument. */
		args = cel_arena_alloc(&c->prog->arena, nargs * sizeof(*args));
		if (args == NULL)
			return nomem(c, n->col);
		args[0] = n->a;
		for (i = 0; i < n->nargs; i++)
			args[i + 1] = n->args[i];
		n->args = args;
		n->nargs = nargs;
		n->a = NULL;
	}
	for (i = 0; i < n->nargs; i++)
		if (check(c, n->args[i]) == -1)
			return -1;
	fns = cel_env_find_fn(c->env, n->name, n->nlen, method, (int)nargs);
	if (fns != NULL)
		return pick_overload(c, n, n->args, n->nargs, fns);
	if (!cel_env_has_fn(c->env, n->name, n->nlen))
		return cerror(c, n->col,
		    "undeclared reference to function '%.*s'", (int)n->nlen,
		    n->name);
	if (cel_env_find_fn(c->env, n->name, n->nlen, !method, (int)nargs))
		return cerror(c, n->col,
		    method ? "'%.*s' is not a method: call it as %.*s(x, ...)"
		           : "'%.*s' is a method: call it as x.%.*s(...)",
		    (int)n->nlen, n->name, (int)n->nlen, n->name);
	return cerror(c, n->col, "wrong number of arguments to '%.*s'",
	    (int)n->nlen, n->name);
}

static int
check_literal(struct checker *c, struct cel_node *n)
{
	char t[64];
	const struct cel_ctype *kt = NULL, *vt = NULL, *k;
	size_t i;

	for (i = 0; i < n->nargs; i++)
		if (check(c, n->args[i]) == -1)
			return -1;
	if (n->kind == N_LIST) {
		for (i = 0; i < n->nargs; i++)
			vt = join(vt, n->args[i]->type);
		n->type = cel_ctype_list(
		    &c->prog->arena, vt != NULL ? vt : &cel_t_dyn);
	} else {
		for (i = 0; i < n->nargs; i += 2) {
			k = n->args[i]->type;
			if (k->kind != CEL_STRING && k->kind != CEL_INT &&
			    k->kind != CEL_UINT && k->kind != CEL_BOOL &&
			    !is_dyn(k))
				return cerror(c, n->args[i]->col,
				    "unsupported map key type '%s'",
				    tname(k, t, sizeof(t)));
			kt = join(kt, k);
			vt = join(vt, n->args[i + 1]->type);
		}
		n->type = cel_ctype_map(&c->prog->arena,
		    kt != NULL ? kt : &cel_t_dyn, vt != NULL ? vt : &cel_t_dyn);
	}
	return n->type == NULL ? nomem(c, n->col) : 0;
}

/* Whether every operand of <n> is a constant, so <n> can be folded. */
static int
foldable(const struct cel_node *n)
{
	size_t i;

	switch (n->kind) {
	case N_CALL:
		if (n->fn == NULL || (n->fn->flags & CEL_FN_IMPURE))
			return 0;
		break;
	case N_NOT:
	case N_NEG:
	case N_BINOP:
	case N_AND:
	case N_OR:
	case N_COND:
	case N_INDEX:
	case N_SELECT:
	case N_LIST:
	case N_MAP:
		break;
	default:
		return 0;
	}
	if ((n->a != NULL && n->a->kind != N_CONST) ||
	    (n->b != NULL && n->b->kind != N_CONST) ||
	    (n->c != NULL && n->c->kind != N_CONST))
		return 0;
	for (i = 0; i < n->nargs; i++)
		if (n->args[i]->kind != N_CONST)
			return 0;
	return 1;
}

/*
 * Evaluates a constant node into the program's arena.  A failure is not
 * an error here: CEL reports errors when evaluating, so the node stays
 * and fails at run time with the same message.
 */
static void
fold(struct checker *c, struct cel_node *n)
{
	struct cel_ctx ctx;
	struct cel_value v;

	if (!foldable(n))
		return;
	cel_ctx_init(&ctx, &c->prog->arena, NULL, NULL);
	if (cel_eval_const(c->prog, &ctx, n, &v) == -1)
		return;
	n->kind = N_CONST;
	n->val = v;
	n->a = n->b = n->c = NULL;
	n->nargs = 0;
	/* The checked type stays: dyn(1) must remain dyn. */
}

static int
check_node(struct checker *c, struct cel_node *n)
{
	const struct local *l;

	switch (n->kind) {
	case N_CONST:
		n->type = cel_ctype_of(n->val.type);
		return 0;
	case N_IDENT:
		if ((l = find_local(c, n->name, n->nlen)) != NULL) {
			n->kind = N_LOCAL;
			n->slot = (int)(l - c->locals);
			n->type = l->type;
			return 0;
		}
		if (resolve_chain(c, n))
			return 0;
		return check_unresolved(c, n);
	case N_VAR:
		/* Resolved with the chain it ends. */
		return 0;
	case N_SELECT:
		if (chain_root(n)->kind == N_IDENT &&
		    find_local(c, chain_root(n)->name, chain_root(n)->nlen) ==
		        NULL) {
			if (!resolve_chain(c, n))
				return check_unresolved(c, n);
			if (n->kind == N_VAR)
				return 0;
		}
		return check_select(c, n);
	case N_INDEX:
		return check_index(c, n);
	case N_CALL:
		return check_call(c, n);
	case N_LIST:
	case N_MAP:
		return check_literal(c, n);
	case N_NOT:
	case N_NEG:
		if (check(c, n->a) == -1)
			return -1;
		if (n->kind == N_NOT) {
			n->type = &cel_t_bool;
			return check_bool_operand(c, n->a, "'!'");
		}
		n->type = n->a->type;
		if (is_dyn(n->type) || n->type->kind == CEL_INT ||
		    n->type->kind == CEL_DOUBLE ||
		    n->type->kind == CEL_DURATION)
			return 0;
		return cerror(c, n->col,
		    "no matching overload for '-' applied to (%s)",
		    cel_type_name(n->type->kind));
	case N_BINOP:
		return check_binop(c, n);
	case N_AND:
	case N_OR:
		if (check(c, n->a) == -1 || check(c, n->b) == -1)
			return -1;
		n->type = &cel_t_bool;
		if (check_bool_operand(
		        c, n->a, n->kind == N_AND ? "'&&'" : "'||'") == -1)
			return -1;
		return check_bool_operand(
		    c, n->b, n->kind == N_AND ? "'&&'" : "'||'");
	case N_COND:
		if (check(c, n->a) == -1 || check(c, n->b) == -1 ||
		    check(c, n->c) == -1)
			return -1;
		n->type = join(n->b->type, n->c->type);
		return check_bool_operand(c, n->a, "'?:'");
	case N_HAS:
		return check_has(c, n);
	case N_COMP:
		return check_comp(c, n);
	default:
		return cerror(c, n->col, "internal error: node %d", n->kind);
	}
}

static int
check(struct checker *c, struct cel_node *n)
{
	if (++c->depth > CEL_MAX_DEPTH)
		return cerror(c, n->col, "expression nested too deeply");
	if (check_node(c, n) == -1)
		return -1;
	fold(c, n);
	c->depth--;
	return 0;
}

int
cel_check(struct cel_program *prog, struct cel_error *err)
{
	struct checker c;

	memset(&c, 0, sizeof(c));
	c.prog = prog;
	c.env = prog->env;
	c.err = err;
	return check(&c, prog->root);
}
