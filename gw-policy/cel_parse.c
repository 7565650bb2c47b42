// SPDX-License-Identifier: MIT
/*
 * The CEL parser: recursive descent over cel_lex.c's tokens into the
 * syntax tree of cel_impl.h, following the grammar of the CEL spec
 * (conditional, ||, &&, relations with "in", additive, multiplicative,
 * unary, member access, calls, indexing, list and map literals).  The
 * macros has(), all(), exists(), exists_one(), filter() and map() become
 * their own nodes here, as in CEL, so that the checker sees their
 * variables.  Names are not resolved yet: that is cel_check.c's job.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cel_impl.h"

struct parser {
	struct cel_lexer lx;
	struct cel_token tok; /* the current token */
	struct cel_program *prog;
	struct cel_error *err;
	int depth;
};

static struct cel_node *parse_expr(struct parser *);

static struct cel_node *perror_at(struct parser *p, int col, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static struct cel_node *
perror_at(struct parser *p, int col, const char *fmt, ...)
{
	va_list ap;

	p->err->col = col;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return NULL;
}

static struct cel_node *
unexpected(struct parser *p)
{
	if (p->tok.kind == T_IDENT || p->tok.kind == T_INT ||
	    p->tok.kind == T_DOUBLE || p->tok.kind == T_UINT)
		return perror_at(p, p->tok.col, "unexpected %s '%.*s'",
		    cel_tok_name(p->tok.kind), (int)p->tok.len, p->tok.p);
	return perror_at(
	    p, p->tok.col, "unexpected %s", cel_tok_name(p->tok.kind));
}

static int
next(struct parser *p)
{
	return cel_lex_next(&p->lx, &p->tok);
}

static int
expect(struct parser *p, enum cel_tok kind)
{
	if (p->tok.kind != kind) {
		perror_at(p, p->tok.col, "expected %s, found %s",
		    cel_tok_name(kind), cel_tok_name(p->tok.kind));
		return -1;
	}
	return next(p);
}

static struct cel_node *
new_node(struct parser *p, enum cel_node_kind kind, int col)
{
	struct cel_node *n;

	if ((n = cel_arena_alloc(&p->prog->arena, sizeof(*n))) == NULL)
		return perror_at(p, col, "out of memory");
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->col = col;
	return n;
}

static int
set_name(struct parser *p, struct cel_node *n, const char *s, size_t len)
{
	char *name;

	if ((name = cel_arena_dup(&p->prog->arena, s, len + 1)) == NULL) {
		perror_at(p, n->col, "out of memory");
		return -1;
	}
	name[len] = '\0';
	n->name = name;
	n->nlen = len;
	return 0;
}

/* Appends <item> to a growing array in the program's arena. */
static int
push(struct parser *p, struct cel_node ***arr, size_t *n, size_t *cap,
    struct cel_node *item)
{
	struct cel_node **a;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		a = cel_arena_alloc(&p->prog->arena, *cap * sizeof(*a));
		if (a == NULL) {
			perror_at(p, item->col, "out of memory");
			return -1;
		}
		if (*n > 0)
			memcpy(a, *arr, *n * sizeof(*a));
		*arr = a;
	}
	(*arr)[(*n)++] = item;
	return 0;
}

/*
 * Reads expressions separated by commas up to <close>, which it consumes;
 * a trailing comma is allowed in lists and maps (<trailing>), pairs
 * "k: v" when <pairs>.
 */
static int
parse_list(struct parser *p, enum cel_tok close, int trailing, int pairs,
    struct cel_node ***items, size_t *nitems)
{
	struct cel_node *e;
	size_t cap = 0;

	*items = NULL;
	*nitems = 0;
	while (p->tok.kind != close) {
		if ((e = parse_expr(p)) == NULL ||
		    push(p, items, nitems, &cap, e) == -1)
			return -1;
		if (pairs) {
			if (expect(p, T_COLON) == -1 ||
			    (e = parse_expr(p)) == NULL ||
			    push(p, items, nitems, &cap, e) == -1)
				return -1;
		}
		if (p->tok.kind != T_COMMA)
			break;
		if (next(p) == -1)
			return -1;
		if (p->tok.kind == close && !trailing) {
			unexpected(p);
			return -1;
		}
	}
	return expect(p, close);
}

static struct cel_node *
make_macro(struct parser *p, struct cel_node *target, const char *name,
    size_t len, int col, struct cel_node **args, size_t nargs)
{
	static const struct {
		const char *name;
		enum cel_macro m;
	} macros[] = { { "all", M_ALL }, { "exists", M_EXISTS },
		{ "exists_one", M_EXISTS_ONE }, { "filter", M_FILTER },
		{ "map", M_MAP } };
	struct cel_node *n;
	size_t i;

	for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
		if (strlen(macros[i].name) == len &&
		    memcmp(macros[i].name, name, len) == 0)
			break;
	if (i == sizeof(macros) / sizeof(macros[0]))
		return NULL;
	if (nargs != 2 && !(macros[i].m == M_MAP && nargs == 3))
		return NULL;
	if (args[0]->kind != N_IDENT)
		return perror_at(p, args[0]->col,
		    "the first argument of %s() must be a simple name",
		    macros[i].name);
	if ((n = new_node(p, N_COMP, col)) == NULL)
		return NULL;
	n->op = (int)macros[i].m;
	n->a = target;
	n->name = args[0]->name;
	n->nlen = args[0]->nlen;
	if (macros[i].m == M_MAP) {
		n->b = nargs == 3 ? args[1] : NULL;
		n->c = args[nargs - 1];
	} else
		n->b = args[1];
	return n;
}

/* has(a.b) or, as ngrok's examples write it, has(m['k']). */
static struct cel_node *
make_has(struct parser *p, int col, struct cel_node **args, size_t nargs)
{
	struct cel_node *n;

	if (nargs != 1)
		return perror_at(p, col, "has() takes one argument");
	if (args[0]->kind != N_SELECT && args[0]->kind != N_INDEX)
		return perror_at(p, args[0]->col,
		    "invalid argument to has(): a field selection is needed");
	if ((n = new_node(p, N_HAS, col)) == NULL)
		return NULL;
	n->a = args[0];
	return n;
}

static struct cel_node *
parse_primary(struct parser *p)
{
	struct cel_node *n = NULL;
	struct cel_token t = p->tok;

	if (t.kind == T_DOT) {
		/* A leading dot names the root scope: ".req.method". */
		if (next(p) == -1)
			return NULL;
		if (p->tok.kind != T_IDENT)
			return unexpected(p);
		t = p->tok;
	}
	switch (t.kind) {
	case T_INT:
		if (t.val.u > INT64_MAX)
			return perror_at(
			    p, t.col, "integer literal out of range");
		if ((n = new_node(p, N_CONST, t.col)) == NULL)
			return NULL;
		n->val = cel_int((int64_t)t.val.u);
		break;
	case T_UINT:
	case T_DOUBLE:
	case T_STRING:
	case T_BYTES:
		if ((n = new_node(p, N_CONST, t.col)) == NULL)
			return NULL;
		n->val = t.val;
		break;
	case T_TRUE:
	case T_FALSE:
		if ((n = new_node(p, N_CONST, t.col)) == NULL)
			return NULL;
		n->val = cel_bool(t.kind == T_TRUE);
		break;
	case T_NULL:
		if ((n = new_node(p, N_CONST, t.col)) == NULL)
			return NULL;
		n->val = cel_null();
		break;
	case T_LPAREN:
		if (next(p) == -1 || (n = parse_expr(p)) == NULL)
			return NULL;
		if (expect(p, T_RPAREN) == -1)
			return NULL;
		return n;
	case T_LBRACKET:
	case T_LBRACE:
		n = new_node(p, t.kind == T_LBRACKET ? N_LIST : N_MAP, t.col);
		if (n == NULL || next(p) == -1)
			return NULL;
		if (parse_list(p, t.kind == T_LBRACKET ? T_RBRACKET : T_RBRACE,
		        1, t.kind == T_LBRACE, &n->args, &n->nargs) == -1)
			return NULL;
		return n;
	case T_IDENT:
		if (next(p) == -1)
			return NULL;
		if (p->tok.kind == T_LPAREN) {
			if ((n = new_node(p, N_CALL, t.col)) == NULL ||
			    set_name(p, n, t.p, t.len) == -1 || next(p) == -1)
				return NULL;
			if (parse_list(
			        p, T_RPAREN, 0, 0, &n->args, &n->nargs) == -1)
				return NULL;
			if (t.len == 3 && memcmp(t.p, "has", 3) == 0)
				return make_has(p, t.col, n->args, n->nargs);
			return n;
		}
		if (p->tok.kind == T_LBRACE)
			return perror_at(p, p->tok.col,
			    "message construction is not supported");
		if ((n = new_node(p, N_IDENT, t.col)) == NULL ||
		    set_name(p, n, t.p, t.len) == -1)
			return NULL;
		return n;
	default:
		return unexpected(p);
	}
	if (next(p) == -1)
		return NULL;
	return n;
}

static struct cel_node *
parse_member(struct parser *p)
{
	struct cel_node *n, *m, *target;
	struct cel_token name;
	int col;

	if ((n = parse_primary(p)) == NULL)
		return NULL;
	for (;;) {
		col = p->tok.col;
		if (p->tok.kind == T_LBRACKET) {
			if ((m = new_node(p, N_INDEX, col)) == NULL ||
			    next(p) == -1)
				return NULL;
			m->a = n;
			if ((m->b = parse_expr(p)) == NULL ||
			    expect(p, T_RBRACKET) == -1)
				return NULL;
			n = m;
			continue;
		}
		if (p->tok.kind != T_DOT)
			return n;
		if (next(p) == -1)
			return NULL;
		if (p->tok.kind != T_IDENT)
			return perror_at(p, p->tok.col,
			    "expected a field or method name after '.'");
		name = p->tok;
		if (next(p) == -1)
			return NULL;
		if (p->tok.kind != T_LPAREN) {
			if ((m = new_node(p, N_SELECT, name.col)) == NULL ||
			    set_name(p, m, name.p, name.len) == -1)
				return NULL;
			m->a = n;
			n = m;
			continue;
		}
		if ((m = new_node(p, N_CALL, name.col)) == NULL ||
		    set_name(p, m, name.p, name.len) == -1 || next(p) == -1)
			return NULL;
		if (parse_list(p, T_RPAREN, 0, 0, &m->args, &m->nargs) == -1)
			return NULL;
		target = n;
		if ((n = make_macro(p, target, name.p, name.len, name.col,
		         m->args, m->nargs)) == NULL) {
			if (p->err->msg[0] != '\0')
				return NULL;
			m->a = target;
			n = m;
		}
	}
}

static struct cel_node *
parse_unary(struct parser *p)
{
	struct cel_node *n;
	struct cel_token t = p->tok;

	if (t.kind != T_NOT && t.kind != T_MINUS)
		return parse_member(p);
	if (++p->depth > CEL_MAX_DEPTH)
		return perror_at(p, t.col, "expression nested too deeply");
	if (next(p) == -1)
		return NULL;
	/* -9223372036854775808 is an int even though its magnitude is not. */
	if (t.kind == T_MINUS && p->tok.kind == T_INT &&
	    p->tok.val.u == (uint64_t)INT64_MAX + 1) {
		p->tok.val.u = 0;
		if ((n = parse_member(p)) == NULL)
			return NULL;
		if (n->kind == N_CONST && n->val.type == CEL_INT &&
		    n->val.i == 0) {
			n->val.i = INT64_MIN;
			n->col = t.col;
			p->depth--;
			return n;
		}
		return perror_at(p, t.col, "integer literal out of range");
	}
	if ((n = new_node(p, t.kind == T_NOT ? N_NOT : N_NEG, t.col)) == NULL)
		return NULL;
	if ((n->a = parse_unary(p)) == NULL)
		return NULL;
	p->depth--;
	return n;
}

static struct cel_node *
binop(struct parser *p, enum cel_node_kind kind, int op, int col,
    struct cel_node *l, struct cel_node *r)
{
	struct cel_node *n;

	if (r == NULL || (n = new_node(p, kind, col)) == NULL)
		return NULL;
	n->op = op;
	n->a = l;
	n->b = r;
	return n;
}

static struct cel_node *
parse_mul(struct parser *p)
{
	struct cel_node *n;
	int op, col;

	if ((n = parse_unary(p)) == NULL)
		return NULL;
	for (;;) {
		switch (p->tok.kind) {
		case T_STAR:
			op = OP_MUL;
			break;
		case T_SLASH:
			op = OP_DIV;
			break;
		case T_PERCENT:
			op = OP_MOD;
			break;
		default:
			return n;
		}
		col = p->tok.col;
		if (next(p) == -1)
			return NULL;
		if ((n = binop(p, N_BINOP, op, col, n, parse_unary(p))) == NULL)
			return NULL;
	}
}

static struct cel_node *
parse_add(struct parser *p)
{
	struct cel_node *n;
	int op, col;

	if ((n = parse_mul(p)) == NULL)
		return NULL;
	while (p->tok.kind == T_PLUS || p->tok.kind == T_MINUS) {
		op = p->tok.kind == T_PLUS ? OP_ADD : OP_SUB;
		col = p->tok.col;
		if (next(p) == -1)
			return NULL;
		if ((n = binop(p, N_BINOP, op, col, n, parse_mul(p))) == NULL)
			return NULL;
	}
	return n;
}

static struct cel_node *
parse_rel(struct parser *p)
{
	struct cel_node *n;
	int op, col;

	if ((n = parse_add(p)) == NULL)
		return NULL;
	for (;;) {
		switch (p->tok.kind) {
		case T_EQ:
			op = OP_EQ;
			break;
		case T_NE:
			op = OP_NE;
			break;
		case T_LT:
			op = OP_LT;
			break;
		case T_LE:
			op = OP_LE;
			break;
		case T_GT:
			op = OP_GT;
			break;
		case T_GE:
			op = OP_GE;
			break;
		case T_IN:
			op = OP_IN;
			break;
		default:
			return n;
		}
		col = p->tok.col;
		if (next(p) == -1)
			return NULL;
		if ((n = binop(p, N_BINOP, op, col, n, parse_add(p))) == NULL)
			return NULL;
	}
}

static struct cel_node *
parse_and(struct parser *p)
{
	struct cel_node *n;
	int col;

	if ((n = parse_rel(p)) == NULL)
		return NULL;
	while (p->tok.kind == T_AND) {
		col = p->tok.col;
		if (next(p) == -1)
			return NULL;
		if ((n = binop(p, N_AND, 0, col, n, parse_rel(p))) == NULL)
			return NULL;
	}
	return n;
}

static struct cel_node *
parse_or(struct parser *p)
{
	struct cel_node *n;
	int col;

	if ((n = parse_and(p)) == NULL)
		return NULL;
	while (p->tok.kind == T_OR) {
		col = p->tok.col;
		if (next(p) == -1)
			return NULL;
		if ((n = binop(p, N_OR, 0, col, n, parse_and(p))) == NULL)
			return NULL;
	}
	return n;
}

static struct cel_node *
parse_expr(struct parser *p)
{
	struct cel_node *n, *c;
	int col = p->tok.col;

	if (++p->depth > CEL_MAX_DEPTH)
		return perror_at(p, col, "expression nested too deeply");
	if ((n = parse_or(p)) == NULL)
		return NULL;
	if (p->tok.kind == T_QUESTION) {
		if ((c = new_node(p, N_COND, p->tok.col)) == NULL ||
		    next(p) == -1)
			return NULL;
		c->a = n;
		if ((c->b = parse_or(p)) == NULL || expect(p, T_COLON) == -1 ||
		    (c->c = parse_expr(p)) == NULL)
			return NULL;
		n = c;
	}
	p->depth--;
	return n;
}

int
cel_parse(struct cel_program *prog, const char *src, size_t len,
    struct cel_error *err)
{
	struct parser p;

	memset(&p, 0, sizeof(p));
	p.lx.src = src;
	p.lx.len = len;
	p.lx.arena = &prog->arena;
	p.lx.err = err;
	p.prog = prog;
	p.err = err;
	err->msg[0] = '\0';
	if (next(&p) == -1)
		return -1;
	if (p.tok.kind == T_EOF) {
		perror_at(&p, 1, "empty expression");
		return -1;
	}
	if ((prog->root = parse_expr(&p)) == NULL)
		return -1;
	if (p.tok.kind != T_EOF) {
		unexpected(&p);
		return -1;
	}
	return 0;
}
