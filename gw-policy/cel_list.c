// SPDX-License-Identifier: MIT
/*
 * cel-go's lists extension as ngrok documents it (reference/ngrok-
 * traffic-policy.md §3.3): lists.range(n), slice, flatten, sort,
 * distinct and reverse, and cel_list_sort(), the stable sort that sort()
 * and the sortBy() macro (cel_eval.c) share.  Results share the input's
 * elements and go into the evaluation arena.
 */
#include <math.h>
#include <string.h>

#include "cel_impl.h"

/* Nesting of lists that flatten() follows. */
#define FLATTEN_MAX_DEPTH 1000
/* Below this, distinct() compares every pair instead of hashing. */
#define DISTINCT_LINEAR 16

static void *
alloc(struct cel_call *c, size_t n)
{
	void *p;

	if ((p = cel_arena_alloc(c->ctx->arena, n)) == NULL)
		cel_ctx_error(c->ctx, "out of memory for the evaluation");
	return p;
}

/* lists.range(n): [0, 1, ..., n-1]. */
static int
f_range(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	struct cel_value *items;
	int64_t i;

	if (a[0].i < 0 || a[0].i > 100000)
		return cel_ctx_error(
		    c->ctx, "lists.range: bad size %lld", (long long)a[0].i);
	if (a[0].i == 0) {
		*out = cel_list(NULL, 0);
		return 0;
	}
	if ((items = alloc(c, (size_t)a[0].i * sizeof(*items))) == NULL)
		return -1;
	for (i = 0; i < a[0].i; i++)
		items[i] = cel_int(i);
	*out = cel_list(items, (size_t)a[0].i);
	return 0;
}

/* list.slice(start, end): elements start..end-1, no negative indexes. */
static int
f_slice(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	if (a[1].i < 0 || a[2].i < a[1].i || (uint64_t)a[2].i > a[0].list.len)
		return cel_ctx_error(c->ctx,
		    "slice: index out of range: %lld, %lld (size %zu)",
		    (long long)a[1].i, (long long)a[2].i, a[0].list.len);
	*out = cel_list(a[0].list.items + a[1].i, (size_t)(a[2].i - a[1].i));
	return 0;
}

static int
f_reverse(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	size_t i, n = a[0].list.len;
	struct cel_value *items;

	if (n < 2) {
		*out = a[0];
		return 0;
	}
	if ((items = alloc(c, n * sizeof(*items))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		items[i] = a[0].list.items[n - 1 - i];
	*out = cel_list(items, n);
	return 0;
}

/*
 * Counts (<items> NULL) or copies the elements of <l> flattened <depth>
 * levels down.  Returns the count, or -1 after cel_ctx_error().
 */
static int64_t
flatten(struct cel_call *c, const struct cel_value *l, int64_t depth, int level,
    struct cel_value *items)
{
	const struct cel_value *v;
	int64_t n = 0, k;
	size_t i;

	if (level > FLATTEN_MAX_DEPTH)
		return cel_ctx_error(c->ctx,
		    "flatten: lists nested deeper than %d", FLATTEN_MAX_DEPTH);
	for (i = 0; i < l->list.len; i++) {
		v = &l->list.items[i];
		if (v->type != CEL_LIST || depth == 0) {
			if (items != NULL)
				items[n] = *v;
			n++;
			continue;
		}
		k = flatten(c, v, depth - 1, level + 1,
		    items != NULL ? items + n : NULL);
		if (k < 0)
			return -1;
		n += k;
	}
	return n;
}

/*
 * list.flatten() takes one level of nesting away, list.flatten(n) n
 * levels; elements that are not lists stay where they are.
 */
static int
f_flatten(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	int64_t depth = c->nargs == 2 ? a[1].i : 1, n;
	struct cel_value *items;

	if (depth < 0)
		return cel_ctx_error(c->ctx,
		    "flatten: level must be non-negative, got %lld",
		    (long long)depth);
	if ((n = flatten(c, &a[0], depth, 0, NULL)) < 0)
		return -1;
	if (n == 0) {
		*out = cel_list(NULL, 0);
		return 0;
	}
	if ((items = alloc(c, (size_t)n * sizeof(*items))) == NULL)
		return -1;
	(void)flatten(c, &a[0], depth, 0, items);
	*out = cel_list(items, (size_t)n);
	return 0;
}

static int
sortable(enum cel_type t)
{
	switch (t) {
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

/*
 * A bottom-up merge sort of indexes: stable, n log n whatever the input,
 * and its scratch space is two index arrays from the arena.
 */
int
cel_list_sort(struct cel_ctx *ctx, const char *fn,
    const struct cel_value *items, const struct cel_value *keys, size_t n,
    struct cel_value *out)
{
	size_t *idx, *tmp, *swap, width, lo, mid, hi, i, j, k;
	struct cel_value *res;

	if (n == 0)
		return 0;
	if (!sortable(keys[0].type))
		return cel_ctx_error(ctx,
		    "%s: list elements must be comparable, found %s", fn,
		    cel_type_name(keys[0].type));
	for (i = 0; i < n; i++) {
		if (keys[i].type != keys[0].type)
			return cel_ctx_error(ctx,
			    "%s: list elements must have the same type, found "
			    "%s and %s",
			    fn, cel_type_name(keys[0].type),
			    cel_type_name(keys[i].type));
		if (keys[i].type == CEL_DOUBLE && isnan(keys[i].d))
			return cel_ctx_error(
			    ctx, "%s: NaN values cannot be ordered", fn);
	}
	if (n > SIZE_MAX / (2 * sizeof(*idx)) ||
	    (idx = cel_arena_alloc(ctx->arena, 2 * n * sizeof(*idx))) == NULL ||
	    (res = cel_arena_alloc(ctx->arena, n * sizeof(*res))) == NULL)
		return cel_ctx_error(ctx, "out of memory for the evaluation");
	tmp = idx + n;
	for (i = 0; i < n; i++)
		idx[i] = i;
	for (width = 1; width < n; width *= 2) {
		for (lo = 0; lo < n; lo += 2 * width) {
			mid = lo + width < n ? lo + width : n;
			hi = lo + 2 * width < n ? lo + 2 * width : n;
			i = lo;
			j = mid;
			k = lo;
			/* Ties take the left run first: that is stability. */
			while (i < mid && j < hi)
				tmp[k++] = cel_value_cmp(
				               &keys[idx[j]], &keys[idx[i]]) < 0
				    ? idx[j++]
				    : idx[i++];
			while (i < mid)
				tmp[k++] = idx[i++];
			while (j < hi)
				tmp[k++] = idx[j++];
		}
		swap = idx;
		idx = tmp;
		tmp = swap;
	}
	/* <out> may be <items>: gather apart, then copy. */
	for (i = 0; i < n; i++)
		res[i] = items[idx[i]];
	memcpy(out, res, n * sizeof(*out));
	return 0;
}

/*
 * list.sort(): ascending, for lists whose elements are all of one
 * comparable kind; anything else is an error, as in cel-go.
 */
static int
f_sort(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	size_t n = a[0].list.len;
	struct cel_value *items;

	if (n == 0) {
		*out = a[0];
		return 0;
	}
	if ((items = alloc(c, n * sizeof(*items))) == NULL)
		return -1;
	if (cel_list_sort(c->ctx, "sort", a[0].list.items, a[0].list.items, n,
	        items) == -1)
		return -1;
	*out = cel_list(items, n);
	return 0;
}

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * A hash that agrees with cel_value_equal(): numbers equal across int,
 * uint and double hash alike (by their integral value when they have
 * one), lists and maps only by kind and size.
 */
static uint64_t
value_hash(const struct cel_value *v)
{
	uint64_t h = 0xcbf29ce484222325ULL, bits;
	size_t i;
	double d;

	switch (v->type) {
	case CEL_INT:
		return mix64((uint64_t)v->i);
	case CEL_UINT:
		return mix64(v->u);
	case CEL_DOUBLE:
		d = v->d;
		if (d == floor(d) && d >= -9223372036854775808.0 &&
		    d < 18446744073709551616.0)
			return mix64(
			    d < 0 ? (uint64_t)(int64_t)d : (uint64_t)d);
		memcpy(&bits, &d, sizeof(bits));
		return mix64(bits);
	case CEL_STRING:
	case CEL_BYTES:
		for (i = 0; i < v->s.len; i++)
			h = (h ^ (unsigned char)v->s.ptr[i]) * 0x100000001b3ULL;
		return mix64(h ^ (uint64_t)v->type);
	case CEL_BOOL:
		return mix64((uint64_t)v->b ^ 0x100);
	case CEL_TIMESTAMP:
	case CEL_DURATION:
		return mix64((uint64_t)v->ns ^ (uint64_t)v->type << 60);
	case CEL_LIST:
		return mix64(v->list.len ^ 0x200);
	case CEL_MAP:
		return mix64(v->map.len ^ 0x300);
	case CEL_TYPE:
		return mix64((uint64_t)v->t ^ 0x400);
	default:
		return 0x500;
	}
}

/*
 * list.distinct(): the first of each run of equal elements, in order,
 * with CEL's equality (1, 1u and 1.0 are one element).  Long lists go
 * through an open-addressing table in the arena, so a list split from a
 * header costs n, not n squared.
 */
static int
f_distinct(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	const struct cel_value *in = a[0].list.items, *v;
	size_t n = a[0].list.len, i, j, k = 0, cap, *slots;
	struct cel_value *items;

	if (n < 2) {
		*out = a[0];
		return 0;
	}
	if ((items = alloc(c, n * sizeof(*items))) == NULL)
		return -1;
	if (n <= DISTINCT_LINEAR) {
		for (i = 0; i < n; i++) {
			for (j = 0; j < k; j++)
				if (cel_value_equal(&items[j], &in[i]))
					break;
			if (j == k)
				items[k++] = in[i];
		}
	} else {
		for (cap = 32; cap < 2 * n;)
			cap *= 2;
		if ((slots = alloc(c, cap * sizeof(*slots))) == NULL)
			return -1;
		memset(slots, 0, cap * sizeof(*slots));
		for (i = 0; i < n; i++) {
			v = &in[i];
			for (j = value_hash(v) & (cap - 1); slots[j] != 0;
			     j = (j + 1) & (cap - 1))
				if (cel_value_equal(&items[slots[j] - 1], v))
					break;
			if (slots[j] != 0)
				continue;
			items[k++] = *v;
			slots[j] = k;
		}
	}
	*out = k == n ? a[0] : cel_list(items, k);
	return 0;
}

const struct cel_builtin cel_list_builtins[] = {
	{ "list(int) lists.range(int)", f_range, 0, NULL },
	{ "list list.slice(int, int)", f_slice, 0, NULL },
	{ "list list.reverse()", f_reverse, 0, NULL },
	{ "list list.flatten()", f_flatten, 0, NULL },
	{ "list list.flatten(int)", f_flatten, 0, NULL },
	{ "list list.distinct()", f_distinct, 0, NULL },
	/* One row per kind, so that the checker keeps the element type. */
	{ "list(int) list(int).sort()", f_sort, 0, NULL },
	{ "list(uint) list(uint).sort()", f_sort, 0, NULL },
	{ "list(double) list(double).sort()", f_sort, 0, NULL },
	{ "list(bool) list(bool).sort()", f_sort, 0, NULL },
	{ "list(string) list(string).sort()", f_sort, 0, NULL },
	{ "list(bytes) list(bytes).sort()", f_sort, 0, NULL },
	{ "list(timestamp) list(timestamp).sort()", f_sort, 0, NULL },
	{ "list(duration) list(duration).sort()", f_sort, 0, NULL },
};

const size_t cel_list_nbuiltins =
    sizeof(cel_list_builtins) / sizeof(cel_list_builtins[0]);
