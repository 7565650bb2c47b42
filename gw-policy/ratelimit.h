/* SPDX-License-Identifier: MIT */
/*
 * Rate-limit state for the rate-limit action: one sliding-window counter
 * per (limiter, bucket key), in a hash table bounded in entries.  When it
 * is full the least recently used bucket is recycled, so a client cycling
 * through a million keys costs a fixed amount of memory.  Limiter ids are
 * hashes of a rule's rate-limit configuration: after a reload, an
 * unchanged rule finds its buckets again, and a changed one starts afresh.
 */
#ifndef GW_POLICY_RATELIMIT_H
#define GW_POLICY_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct rl_table;

struct rl_result {
	int limited;            /* over capacity */
	uint64_t remaining;     /* requests left in the window */
	uint64_t reset_s;       /* seconds until the window ends */
	uint64_t retry_after_s; /* when limited: seconds to wait, >= 1 */
};

/*
 * Returns a table holding at most <max_keys> buckets (at least 1), or NULL
 * with errno set.  Memory grows with use up to about 200 bytes per bucket
 * plus 16 per slot of the hash index.
 */
struct rl_table *rl_new(size_t max_keys);
/* Frees the table; NULL accepted. */
void rl_free(struct rl_table *);

/*
 * Counts a request against bucket <key> (<len> bytes, any content) of
 * limiter <limiter> allowing <capacity> requests per <window_ns> (sliding
 * window: the previous window's count weighs in proportion to how much of
 * it still overlaps), at time <now_ns>.  A request over capacity is not
 * counted.  Fills <out>.  Never fails: when the table is full the least
 * recently used bucket is forgotten.
 */
void rl_hit(struct rl_table *, uint64_t limiter, const char *key, size_t len,
    uint64_t capacity, uint64_t window_ns, uint64_t now_ns,
    struct rl_result *out);

/* Buckets in use, and buckets forgotten to stay under the bound. */
size_t rl_size(const struct rl_table *);
uint64_t rl_evictions(const struct rl_table *);

/* A 64-bit FNV-1a hash, for limiter ids (seed with 0 for a fresh one). */
uint64_t rl_hash(uint64_t seed, const void *, size_t);

#endif
