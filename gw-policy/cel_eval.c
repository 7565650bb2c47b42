// SPDX-License-Identifier: MIT
/*
 * The CEL evaluator: walks a checked tree and computes a value with CEL's
 * semantics.  Integer overflow, division by zero, a missing key and a
 * value of the wrong type at run time are errors, not crashes; && and ||
 * short-circuit in either order and absorb an error on one side when the
 * other side decides (false && error is false), as the CEL spec says.
 * Everything it builds goes into the context's arena, so a warm arena
 * means no allocation per evaluation.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cel_impl.h"

struct ev {
	struct cel_ctx *ctx;
	const struct cel_program *prog;
	struct cel_value locals[CEL_MAX_LOCALS];
};

static int eval(struct ev *, const struct cel_node *, struct cel_value *);

static void *
ev_alloc(struct ev *e, size_t n)
{
	void *p;

	if ((p = cel_arena_alloc(e->ctx->arena, n)) == NULL)
		cel_ctx_error(e->ctx, "out of memory for the evaluation");
	return p;
}

static int
no_overload1(struct ev *e, const char *op, const struct cel_value *a)
{
	return cel_ctx_error(
	    e->ctx, "no such overload: %s%s", op, cel_type_name(a->type));
}

static int
no_overload2(struct ev *e, const char *op, const struct cel_value *a,
    const struct cel_value *b)
{
	return cel_ctx_error(e->ctx, "no such overload: %s %s %s",
	    cel_type_name(a->type), op, cel_type_name(b->type));
}

static int
overflow(struct ev *e)
{
	return cel_ctx_error(e->ctx, "integer overflow");
}

/* Timestamps must stay where an int64 of nanoseconds reaches. */
static int
time_add(struct ev *e, int64_t a, int64_t b, int64_t *out)
{
	if (__builtin_add_overflow(a, b, out))
		return cel_ctx_error(e->ctx, "timestamp or duration overflow");
	return 0;
}

static int
concat(struct ev *e, const struct cel_value *a, const struct cel_value *b,
    struct cel_value *out)
{
	struct cel_value *items;
	char *p;
	size_t n;

	if (a->type == CEL_LIST) {
		n = a->list.len + b->list.len;
		if (b->list.len == 0) {
			*out = *a;
			return 0;
		}
		if (a->list.len == 0) {
			*out = *b;
			return 0;
		}
		if ((items = ev_alloc(e, n * sizeof(*items))) == NULL)
			return -1;
		memcpy(items, a->list.items, a->list.len * sizeof(*items));
		memcpy(items + a->list.len, b->list.items,
		    b->list.len * sizeof(*items));
		*out = cel_list(items, n);
		return 0;
	}
	n = a->s.len + b->s.len;
	if ((p = ev_alloc(e, n)) == NULL)
		return -1;
	if (a->s.len > 0)
		memcpy(p, a->s.ptr, a->s.len);
	if (b->s.len > 0)
		memcpy(p + a->s.len, b->s.ptr, b->s.len);
	out->type = a->type;
	out->s.ptr = p;
	out->s.len = n;
	return 0;
}

static int
arith(struct ev *e, int op, const struct cel_value *a,
    const struct cel_value *b, struct cel_value *out)
{
	static const char *const names[] = { "+", "-", "*", "/", "%" };
	enum cel_type x = a->type, y = b->type;

	if (x == y && x == CEL_INT) {
		int64_t r;

		switch (op) {
		case OP_ADD:
			if (__builtin_add_overflow(a->i, b->i, &r))
				return overflow(e);
			break;
		case OP_SUB:
			if (__builtin_sub_overflow(a->i, b->i, &r))
				return overflow(e);
			break;
		case OP_MUL:
			if (__builtin_mul_overflow(a->i, b->i, &r))
				return overflow(e);
			break;
		case OP_DIV:
		case OP_MOD:
			if (b->i == 0)
				return cel_ctx_error(e->ctx,
				    op == OP_DIV ? "division by zero"
				                 : "modulus by zero");
			if (a->i == INT64_MIN && b->i == -1)
				return overflow(e);
			r = op == OP_DIV ? a->i / b->i : a->i % b->i;
			break;
		default:
			goto bad;
		}
		*out = cel_int(r);
		return 0;
	}
	if (x == y && x == CEL_UINT) {
		uint64_t r;

		switch (op) {
		case OP_ADD:
			if (__builtin_add_overflow(a->u, b->u, &r))
				return overflow(e);
			break;
		case OP_SUB:
			if (__builtin_sub_overflow(a->u, b->u, &r))
				return overflow(e);
			break;
		case OP_MUL:
			if (__builtin_mul_overflow(a->u, b->u, &r))
				return overflow(e);
			break;
		case OP_DIV:
		case OP_MOD:
			if (b->u == 0)
				return cel_ctx_error(e->ctx,
				    op == OP_DIV ? "division by zero"
				                 : "modulus by zero");
			r = op == OP_DIV ? a->u / b->u : a->u % b->u;
			break;
		default:
			goto bad;
		}
		*out = cel_uint(r);
		return 0;
	}
	if (x == y && x == CEL_DOUBLE) {
		switch (op) {
		case OP_ADD:
			*out = cel_double(a->d + b->d);
			return 0;
		case OP_SUB:
			*out = cel_double(a->d - b->d);
			return 0;
		case OP_MUL:
			*out = cel_double(a->d * b->d);
			return 0;
		case OP_DIV:
			/* IEEE 754: 1.0 / 0.0 is +Inf, as in CEL. */
			*out = cel_double(a->d / b->d);
			return 0;
		default:
			goto bad;
		}
	}
	if (op == OP_ADD && x == y &&
	    (x == CEL_STRING || x == CEL_BYTES || x == CEL_LIST))
		return concat(e, a, b, out);
	if (op == OP_ADD || op == OP_SUB) {
		int64_t r, bn = b->ns;

		if (op == OP_SUB && x == CEL_TIMESTAMP && y == CEL_TIMESTAMP) {
			if (__builtin_sub_overflow(a->ns, b->ns, &r))
				return cel_ctx_error(
				    e->ctx, "duration overflow");
			*out = cel_duration(r);
			return 0;
		}
		if (op == OP_SUB) {
			if (y != CEL_DURATION ||
			    (x != CEL_TIMESTAMP && x != CEL_DURATION))
				goto bad;
			if (bn == INT64_MIN)
				return cel_ctx_error(
				    e->ctx, "duration overflow");
			bn = -bn;
		}
		if ((x == CEL_TIMESTAMP && y == CEL_DURATION) ||
		    (x == CEL_DURATION && y == CEL_DURATION)) {
			if (time_add(e, a->ns, bn, &r) == -1)
				return -1;
			out->type = x;
			out->ns = r;
			return 0;
		}
		if (op == OP_ADD && x == CEL_DURATION && y == CEL_TIMESTAMP) {
			if (time_add(e, a->ns, b->ns, &r) == -1)
				return -1;
			*out = cel_timestamp(r);
			return 0;
		}
	}
bad:
	return no_overload2(e, names[op], a, b);
}

static int
contains(const struct cel_value *list, const struct cel_value *v)
{
	size_t i;

	for (i = 0; i < list->list.len; i++)
		if (cel_value_equal(&list->list.items[i], v))
			return 1;
	return 0;
}

static int
eval_binop(struct ev *e, const struct cel_node *n, struct cel_value *out)
{
	static const char *const names[] = { "+", "-", "*", "/", "%",
		"==", "!=", "<", "<=", ">", ">=", "in" };
	struct cel_value a, b;
	int r;

	if (eval(e, n->a, &a) == -1 || eval(e, n->b, &b) == -1)
		return -1;
	switch (n->op) {
	case OP_EQ:
		*out = cel_bool(cel_value_equal(&a, &b));
		return 0;
	case OP_NE:
		*out = cel_bool(!cel_value_equal(&a, &b));
		return 0;
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
		r = cel_value_cmp(&a, &b);
		if (r == -2)
			return no_overload2(e, names[n->op], &a, &b);
		if (r == 2)
			*out = cel_bool(0);
		else if (n->op == OP_LT)
			*out = cel_bool(r < 0);
		else if (n->op == OP_LE)
			*out = cel_bool(r <= 0);
		else if (n->op == OP_GT)
			*out = cel_bool(r > 0);
		else
			*out = cel_bool(r >= 0);
		return 0;
	case OP_IN:
		if (b.type == CEL_LIST)
			*out = cel_bool(contains(&b, &a));
		else if (b.type == CEL_MAP)
			*out = cel_bool(cel_map_get(&b, &a) != NULL);
		else
			return no_overload2(e, "in", &a, &b);
		return 0;
	default:
		return arith(e, n->op, &a, &b, out);
	}
}

/*
 * && and ||: the side that decides wins even if the other side failed;
 * <decider> is the value that decides (false for &&, true for ||).
 */
static int
eval_logic(
    struct ev *e, const struct cel_node *n, int decider, struct cel_value *out)
{
	char saved[sizeof(e->ctx->errmsg)];
	struct cel_value a, b;
	int aerr, berr;
	const char *op = decider ? "||" : "&&";

	aerr = eval(e, n->a, &a) == -1;
	if (!aerr && a.type != CEL_BOOL)
		aerr = no_overload1(e, op, &a) == -1;
	if (!aerr && a.b == decider) {
		*out = a;
		return 0;
	}
	if (aerr)
		memcpy(saved, e->ctx->errmsg, sizeof(saved));
	berr = eval(e, n->b, &b) == -1;
	if (!berr && b.type != CEL_BOOL)
		berr = no_overload1(e, op, &b) == -1;
	if (!berr && b.b == decider) {
		*out = b;
		return 0;
	}
	if (aerr) {
		memcpy(e->ctx->errmsg, saved, sizeof(saved));
		return -1;
	}
	if (berr)
		return -1;
	*out = b;
	return 0;
}

static int
no_such_key(struct ev *e, const struct cel_value *key)
{
	char buf[100];

	cel_value_describe(key, buf, sizeof(buf));
	return cel_ctx_error(e->ctx, "no such key: %s", buf);
}

/* Index of a list by an int, a uint or an integral double. */
static int
list_index(struct ev *e, const struct cel_value *l, const struct cel_value *k,
    struct cel_value *out)
{
	int64_t i;

	switch (k->type) {
	case CEL_INT:
		i = k->i;
		break;
	case CEL_UINT:
		i = k->u > INT64_MAX ? -1 : (int64_t)k->u;
		break;
	case CEL_DOUBLE:
		if (k->d != floor(k->d) || k->d < -1e18 || k->d > 1e18)
			return cel_ctx_error(
			    e->ctx, "unsupported index value %g", k->d);
		i = (int64_t)k->d;
		break;
	default:
		return no_overload2(e, "[]", l, k);
	}
	if (i < 0 || (uint64_t)i >= l->list.len)
		return cel_ctx_error(e->ctx,
		    "index out of range: %lld (size %zu)", (long long)i,
		    l->list.len);
	*out = l->list.items[i];
	return 0;
}

static int
eval_index(struct ev *e, const struct cel_node *n, struct cel_value *out)
{
	struct cel_value a, k;
	const struct cel_value *v;

	if (eval(e, n->a, &a) == -1 || eval(e, n->b, &k) == -1)
		return -1;
	if (a.type == CEL_LIST)
		return list_index(e, &a, &k, out);
	if (a.type != CEL_MAP)
		return no_overload2(e, "[]", &a, &k);
	if ((v = cel_map_get(&a, &k)) == NULL)
		return no_such_key(e, &k);
	*out = *v;
	return 0;
}

static int
eval_select(struct ev *e, const struct cel_node *n, struct cel_value *out)
{
	struct cel_value a, k;
	const struct cel_value *v;

	if (eval(e, n->a, &a) == -1)
		return -1;
	if (a.type != CEL_MAP)
		return cel_ctx_error(e->ctx,
		    "type '%s' does not support field selection ('.%.*s')",
		    cel_type_name(a.type), (int)n->nlen, n->name);
	k = cel_str(n->name, n->nlen);
	if ((v = cel_map_get(&a, &k)) == NULL)
		return no_such_key(e, &k);
	*out = *v;
	return 0;
}

static int
eval_var(struct ev *e, const struct cel_node *n, struct cel_value *out)
{
	int r;

	if (e->ctx->resolve == NULL)
		return cel_ctx_error(
		    e->ctx, "no value for '%.*s'", (int)n->nlen, n->name);
	e->ctx->errmsg[0] = '\0';
	r = e->ctx->resolve(e->ctx->host, n->slot, out, e->ctx->arena);
	if (r == 1)
		return cel_ctx_error(
		    e->ctx, "no such attribute: '%.*s'", (int)n->nlen, n->name);
	if (r != 0 && e->ctx->errmsg[0] == '\0')
		return cel_ctx_error(e->ctx, "cannot get the value of '%.*s'",
		    (int)n->nlen, n->name);
	return r == 0 ? 0 : -1;
}

static int
eval_has(struct ev *e, const struct cel_node *n, struct cel_value *out)
{
	const struct cel_node *m = n->a;
	struct cel_value a, k, tmp;
	int r;

	if (m->kind == N_VAR) {
		if (e->ctx->resolve == NULL)
			return cel_ctx_error(e->ctx, "no value for '%.*s'",
			    (int)m->nlen, m->name);
		r = e->ctx->resolve(e->ctx->host, m->slot, &tmp, e->ctx->arena);
		if (r == -1)
			return -1;
		*out = cel_bool(r == 0);
		return 0;
	}
	if (eval(e, m->a, &a) == -1)
		return -1;
	if (m->kind == N_SELECT)
		k = cel_str(m->name, m->nlen);
	else if (eval(e, m->b, &k) == -1)
		return -1;
	if (a.type == CEL_MAP) {
		*out = cel_bool(cel_map_get(&a, &k) != NULL);
		return 0;
	}
	if (a.type == CEL_LIST && m->kind == N_INDEX) {
		if (list_index(e, &a, &k, &tmp) == 0)
			*out = cel_bool(1);
		else if (k.type == CEL_INT || k.type == CEL_UINT)
			*out = cel_bool(0);
		else
			return -1;
		return 0;
	}
	return cel_ctx_error(
	    e->ctx, "has() cannot test a field of '%s'", cel_type_name(a.type));
}

static int
eval_list(struct ev *e, const struct cel_node *n, struct cel_value *out)
{
	struct cel_value *items;
	size_t i;

	if (n->nargs == 0) {
		*out = cel_list(NULL, 0);
		return 0;
	}
	if ((items = ev_alloc(e, n->nargs * sizeof(*items))) == NULL)
		return -1;
	for (i = 0; i < n->nargs; i++)
		if (eval(e, n->args[i], &items[i]) == -1)
			return -1;
	*out = cel_list(items, n->nargs);
	return 0;
}

static int
eval_map(struct ev *e, const struct cel_node *n, struct cel_value *out)
{
	struct cel_map_entry *ent;
	struct cel_value tmp;
	size_t i, len = n->nargs / 2;
	char buf[100];

	if (len == 0) {
		*out = cel_map(NULL, 0);
		return 0;
	}
	if ((ent = ev_alloc(e, len * sizeof(*ent))) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (eval(e, n->args[2 * i], &ent[i].key) == -1 ||
		    eval(e, n->args[2 * i + 1], &ent[i].val) == -1)
			return -1;
		switch (ent[i].key.type) {
		case CEL_STRING:
		case CEL_INT:
		case CEL_UINT:
		case CEL_BOOL:
			break;
		default:
			return cel_ctx_error(e->ctx,
			    "unsupported map key type '%s'",
			    cel_type_name(ent[i].key.type));
		}
		tmp = cel_map(ent, i);
		if (cel_map_get(&tmp, &ent[i].key) != NULL) {
			cel_value_describe(&ent[i].key, buf, sizeof(buf));
			return cel_ctx_error(
			    e->ctx, "duplicate map key: %s", buf);
		}
	}
	*out = cel_map(ent, len);
	return 0;
}

/*
 * list.sortBy(x, key): the key of each element, then the elements in the
 * order of their keys (stable), which must be of one comparable kind.
 */
static int
eval_sort_by(struct ev *e, const struct cel_node *n,
    const struct cel_value *range, struct cel_value *out)
{
	struct cel_value *keys, *items;
	size_t i, len = range->list.len;

	if (len == 0) {
		*out = *range;
		return 0;
	}
	if ((keys = ev_alloc(e, 2 * len * sizeof(*keys))) == NULL)
		return -1;
	items = keys + len;
	for (i = 0; i < len; i++) {
		e->locals[n->slot] = range->list.items[i];
		if (eval(e, n->c, &keys[i]) == -1)
			return -1;
	}
	if (cel_list_sort(
	        e->ctx, "sortBy", range->list.items, keys, len, items) == -1)
		return -1;
	*out = cel_list(items, len);
	return 0;
}

static int
eval_comp(struct ev *e, const struct cel_node *n, struct cel_value *out)
{
	char saved[sizeof(e->ctx->errmsg)];
	struct cel_value range, v, *items = NULL;
	size_t i, len, count = 0;
	int failed = 0, r;

	if (eval(e, n->a, &range) == -1)
		return -1;
	if (n->op == M_SORTBY) {
		if (range.type != CEL_LIST)
			return cel_ctx_error(e->ctx, "cannot sort '%s'",
			    cel_type_name(range.type));
		return eval_sort_by(e, n, &range, out);
	}
	if (range.type == CEL_LIST)
		len = range.list.len;
	else if (range.type == CEL_MAP)
		len = range.map.len;
	else
		return cel_ctx_error(e->ctx, "cannot iterate over '%s'",
		    cel_type_name(range.type));
	if ((n->op == M_FILTER || n->op == M_MAP) && len > 0 &&
	    (items = ev_alloc(e, len * sizeof(*items))) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		e->locals[n->slot] = range.type == CEL_LIST
		    ? range.list.items[i]
		    : range.map.entries[i].key;
		if (n->b != NULL) {
			r = eval(e, n->b, &v);
			if (r == 0 && v.type != CEL_BOOL)
				r = cel_ctx_error(e->ctx,
				    "predicate is '%s', not bool",
				    cel_type_name(v.type));
			/* all() and exists() absorb errors like && and ||. */
			if (r == -1 && (n->op == M_ALL || n->op == M_EXISTS)) {
				if (!failed)
					memcpy(saved, e->ctx->errmsg,
					    sizeof(saved));
				failed = 1;
				continue;
			}
			if (r == -1)
				return -1;
			if (n->op == M_ALL && !v.b) {
				*out = cel_bool(0);
				return 0;
			}
			if (n->op == M_EXISTS && v.b) {
				*out = cel_bool(1);
				return 0;
			}
			if (n->op == M_EXISTS_ONE && v.b)
				count++;
			if (!v.b)
				continue;
		}
		if (n->op == M_FILTER)
			items[count++] = e->locals[n->slot];
		else if (n->op == M_MAP) {
			if (eval(e, n->c, &items[count]) == -1)
				return -1;
			count++;
		}
	}
	if (failed) {
		memcpy(e->ctx->errmsg, saved, sizeof(saved));
		return -1;
	}
	switch (n->op) {
	case M_ALL:
		*out = cel_bool(1);
		break;
	case M_EXISTS:
		*out = cel_bool(0);
		break;
	case M_EXISTS_ONE:
		*out = cel_bool(count == 1);
		break;
	default:
		*out = cel_list(items, count);
		break;
	}
	return 0;
}

static int
kinds_match(const struct cel_fn *fn, const struct cel_value *args)
{
	int i;

	for (i = 0; i < fn->nargs; i++)
		if (fn->args[i]->kind != CEL_DYN &&
		    fn->args[i]->kind != args[i].type)
			return 0;
	return 1;
}

static int
eval_call(struct ev *e, const struct cel_node *n, struct cel_value *out)
{
	struct cel_value args[CEL_MAX_ARGS];
	const struct cel_fn *fn;
	struct cel_call call;
	char buf[120];
	size_t i, off;

	for (i = 0; i < n->nargs; i++)
		if (eval(e, n->args[i], &args[i]) == -1)
			return -1;
	/* Values of "dyn" type may pick another overload than the checker. */
	fn = n->fn;
	if (!kinds_match(fn, args)) {
		for (fn = n->fns; fn != NULL; fn = fn->next)
			if (kinds_match(fn, args))
				break;
	}
	if (fn == NULL) {
		off = 0;
		buf[0] = '\0';
		for (i = 0; i < n->nargs && off < sizeof(buf); i++)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
			    "%s%s", i ? ", " : "", cel_type_name(args[i].type));
		return cel_ctx_error(
		    e->ctx, "no such overload: %s(%s)", n->fn->name, buf);
	}
	if (fn->host != NULL) {
		e->ctx->errmsg[0] = '\0';
		if (fn->host(e->ctx, fn->data, args, n->nargs, out) == 0)
			return 0;
		if (e->ctx->errmsg[0] == '\0')
			cel_ctx_error(e->ctx, "%s() failed", fn->name);
		return -1;
	}
	call.ctx = e->ctx;
	call.prog = e->prog;
	call.node = n;
	call.nargs = n->nargs;
	return fn->b->impl(&call, args, out);
}

static int
eval(struct ev *e, const struct cel_node *n, struct cel_value *out)
{
	struct cel_value v;

	switch (n->kind) {
	case N_CONST:
		*out = n->val;
		return 0;
	case N_VAR:
		return eval_var(e, n, out);
	case N_LOCAL:
		*out = e->locals[n->slot];
		return 0;
	case N_SELECT:
		return eval_select(e, n, out);
	case N_INDEX:
		return eval_index(e, n, out);
	case N_CALL:
		return eval_call(e, n, out);
	case N_LIST:
		return eval_list(e, n, out);
	case N_MAP:
		return eval_map(e, n, out);
	case N_NOT:
		if (eval(e, n->a, &v) == -1)
			return -1;
		if (v.type != CEL_BOOL)
			return no_overload1(e, "!", &v);
		*out = cel_bool(!v.b);
		return 0;
	case N_NEG:
		if (eval(e, n->a, &v) == -1)
			return -1;
		if (v.type == CEL_INT) {
			if (v.i == INT64_MIN)
				return overflow(e);
			*out = cel_int(-v.i);
		} else if (v.type == CEL_DOUBLE)
			*out = cel_double(-v.d);
		else if (v.type == CEL_DURATION) {
			if (v.ns == INT64_MIN)
				return cel_ctx_error(
				    e->ctx, "duration overflow");
			*out = cel_duration(-v.ns);
		} else
			return no_overload1(e, "-", &v);
		return 0;
	case N_BINOP:
		return eval_binop(e, n, out);
	case N_AND:
		return eval_logic(e, n, 0, out);
	case N_OR:
		return eval_logic(e, n, 1, out);
	case N_COND:
		if (eval(e, n->a, &v) == -1)
			return -1;
		if (v.type != CEL_BOOL)
			return no_overload1(e, "?: on ", &v);
		return eval(e, v.b ? n->b : n->c, out);
	case N_HAS:
		return eval_has(e, n, out);
	case N_COMP:
		return eval_comp(e, n, out);
	default:
		return cel_ctx_error(
		    e->ctx, "internal error: node %d", n->kind);
	}
}

int
cel_eval(
    const struct cel_program *prog, struct cel_ctx *ctx, struct cel_value *out)
{
	struct ev e;

	e.ctx = ctx;
	e.prog = prog;
	ctx->errmsg[0] = '\0';
	return eval(&e, prog->root, out);
}

int
cel_eval_const(const struct cel_program *prog, struct cel_ctx *ctx,
    const struct cel_node *n, struct cel_value *out)
{
	struct ev e;

	e.ctx = ctx;
	e.prog = prog;
	return eval(&e, n, out);
}
