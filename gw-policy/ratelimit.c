// SPDX-License-Identifier: MIT
/*
 * Sliding-window rate-limit buckets in a bounded hash table with an LRU
 * list (see ratelimit.h).  Buckets are fixed-size records allocated in
 * slabs until the bound is reached and recycled after that, so the
 * request path allocates nothing once the table is warm.  Keys longer
 * than fit in a record are stored as a 128-bit hash of themselves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

#define KEY_INLINE 104
#define SLAB       1024
#define NS         1000000000ULL

struct bucket {
	uint64_t limiter;
	uint64_t hash;
	uint64_t window_start;        /* ns, a multiple of the window */
	uint32_t prev, curr;          /* counts in the last two windows */
	struct bucket *hnext;         /* hash chain */
	struct bucket *older, *newer; /* LRU list */
	uint8_t keylen;               /* bytes of key used */
	uint8_t hashed;               /* key holds a digest of the real key */
	char key[KEY_INLINE];
};

struct rl_table {
	struct bucket **index;
	size_t mask;
	size_t max, used;
	struct bucket *newest, *oldest;
	struct bucket **slabs;
	size_t n_slabs;
	struct bucket *fresh; /* unused records of the last slab */
	size_t n_fresh;
	uint64_t evictions;
};

uint64_t
rl_hash(uint64_t seed, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct rl_table *
rl_new(size_t max_keys)
{
	struct rl_table *t;
	size_t slots = 16;

	if (max_keys == 0)
		max_keys = 1;
	while (slots < max_keys && slots < ((size_t)1 << 40))
		slots <<= 1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->index = calloc(slots, sizeof(*t->index));
	t->slabs = calloc(max_keys / SLAB + 1, sizeof(*t->slabs));
	if (t->index == NULL || t->slabs == NULL) {
		rl_free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->mask = slots - 1;
	t->max = max_keys;
	return t;
}

void
rl_free(struct rl_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n_slabs; i++)
		free(t->slabs[i]);
	free(t->slabs);
	free(t->index);
	free(t);
}

size_t
rl_size(const struct rl_table *t)
{
	return t->used;
}

uint64_t
rl_evictions(const struct rl_table *t)
{
	return t->evictions;
}

static void
lru_unlink(struct rl_table *t, struct bucket *b)
{
	if (b->older != NULL)
		b->older->newer = b->newer;
	else
		t->oldest = b->newer;
	if (b->newer != NULL)
		b->newer->older = b->older;
	else
		t->newest = b->older;
	b->older = b->newer = NULL;
}

static void
lru_push(struct rl_table *t, struct bucket *b)
{
	b->older = t->newest;
	b->newer = NULL;
	if (t->newest != NULL)
		t->newest->newer = b;
	else
		t->oldest = b;
	t->newest = b;
}

static void
index_remove(struct rl_table *t, struct bucket *b)
{
	struct bucket **pp = &t->index[b->hash & t->mask];

	while (*pp != NULL && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp == b)
		*pp = b->hnext;
}

/* Fills the key fields of <b>: the key itself, or a digest of it. */
static void
set_key(struct bucket *b, const char *key, size_t len)
{
	if (len <= KEY_INLINE) {
		memcpy(b->key, key, len);
		b->keylen = (uint8_t)len;
		b->hashed = 0;
	} else {
		uint64_t d[2] = { rl_hash(1, key, len), rl_hash(2, key, len) };

		memcpy(b->key, d, sizeof(d));
		b->keylen = sizeof(d);
		b->hashed = 1;
	}
}

static int
same_key(const struct bucket *b, const char *key, size_t len)
{
	if (len <= KEY_INLINE)
		return !b->hashed && b->keylen == len &&
		    memcmp(b->key, key, len) == 0;
	if (!b->hashed)
		return 0;
	{
		uint64_t d[2] = { rl_hash(1, key, len), rl_hash(2, key, len) };

		return memcmp(b->key, d, sizeof(d)) == 0;
	}
}

/* A record for a new bucket: fresh while under the bound, else recycled. */
static struct bucket *
take_record(struct rl_table *t)
{
	struct bucket *b;

	if (t->used < t->max) {
		if (t->n_fresh == 0) {
			size_t n =
			    t->max - t->used < SLAB ? t->max - t->used : SLAB;

			b = calloc(n, sizeof(*b));
			if (b != NULL) {
				t->slabs[t->n_slabs++] = b;
				t->fresh = b;
				t->n_fresh = n;
			}
		}
		if (t->n_fresh > 0) {
			t->used++;
			t->n_fresh--;
			return t->fresh++;
		}
		/* Out of memory: recycle, as when full. */
	}
	b = t->oldest;
	if (b == NULL)
		return NULL;
	lru_unlink(t, b);
	index_remove(t, b);
	t->evictions++;
	return b;
}

void
rl_hit(struct rl_table *t, uint64_t limiter, const char *key, size_t len,
    uint64_t capacity, uint64_t window_ns, uint64_t now_ns,
    struct rl_result *out)
{
	uint64_t h = rl_hash(limiter, key, len), ws, elapsed, est, left;
	struct bucket *b;

	memset(out, 0, sizeof(*out));
	if (window_ns == 0)
		window_ns = 1;
	for (b = t->index[h & t->mask]; b != NULL; b = b->hnext)
		if (b->hash == h && b->limiter == limiter &&
		    same_key(b, key, len))
			break;
	ws = now_ns - now_ns % window_ns;
	if (b == NULL) {
		if ((b = take_record(t)) == NULL) {
			/* No memory at all: let the request through. */
			out->remaining = capacity;
			return;
		}
		b->limiter = limiter;
		b->hash = h;
		b->prev = b->curr = 0;
		b->window_start = ws;
		set_key(b, key, len);
		b->hnext = t->index[h & t->mask];
		t->index[h & t->mask] = b;
	} else
		lru_unlink(t, b);
	lru_push(t, b);

	if (b->window_start != ws) {
		b->prev = ws - b->window_start == window_ns ? b->curr : 0;
		b->curr = 0;
		b->window_start = ws;
	}
	elapsed = now_ns - ws;
	/* The part of the previous window that still overlaps counts. */
	est = (uint64_t)((double)b->prev * (double)(window_ns - elapsed) /
	          (double)window_ns) +
	    b->curr;
	out->reset_s = (window_ns - elapsed + NS - 1) / NS;
	if (est >= capacity) {
		out->limited = 1;
		out->remaining = 0;
		if (b->curr >= capacity || b->prev == 0) {
			left = window_ns - elapsed;
		} else {
			/* When does prev's share fall below what is left? */
			double need = (double)window_ns -
			    (double)(capacity - b->curr) * (double)window_ns /
			        (double)b->prev;

			left = need > (double)elapsed
			    ? (uint64_t)(need - (double)elapsed)
			    : 0;
		}
		out->retry_after_s = (left + NS - 1) / NS;
		if (out->retry_after_s == 0)
			out->retry_after_s = 1;
		return;
	}
	if (b->curr < UINT32_MAX)
		b->curr++;
	out->remaining = capacity - est - 1;
}
