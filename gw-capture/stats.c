// SPDX-License-Identifier: MIT
/*
 * gw-capture stats: the numbers behind a dashboard's "errors in the last
 * hour" and "requests per minute".  For the events a query selects it
 * counts requests and errors and keeps each group's durations in a
 * log-linear histogram (32 buckets per power of two, so a percentile is
 * within about 2% of the exact value) whatever the number of events.
 * Groups are capped: past STATS_MAX_GROUPS distinct values, further ones
 * are counted under "(other)", so memory stays bounded on a store of
 * millions of client addresses.  Grouping by status, method or client_ip
 * and bucketing by time need only the index; path, host and error read
 * the events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evsum.h"
#include "gw-capture.h"
#include "log.h"
#include "query.h"
#include "store.h"
#include "timeutil.h"
#include "xchg.h"

#define STATS_MAX_GROUPS 10000
#define SUB_BITS         5
#define SUB              (1 << SUB_BITS)
#define NBUCKETS         (64 * SUB)

enum by { BY_NONE, BY_STATUS, BY_PATH, BY_METHOD, BY_IP, BY_HOST, BY_ERROR };

struct group {
	int64_t bucket_us; /* time bucket start, or 0 without --interval */
	char *key;         /* group value, "" without --by */
	uint64_t count, errors, timed;
	uint32_t *hist; /* NBUCKETS, allocated at the first duration */
	int64_t min_ns, max_ns;
};

struct stats {
	struct group *g;
	size_t n, cap;
	size_t *slots; /* open addressing over g, 2x the groups */
	size_t nslots;
	int overflowed;
	uint64_t total, total_errors;
};

static unsigned
bucket_of(uint64_t v)
{
	unsigned e;

	if (v < SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
	return (e - SUB_BITS + 1) * SUB +
	    (unsigned)((v >> (e - SUB_BITS)) & (SUB - 1));
}

/* The middle of bucket <b>'s range. */
static double
bucket_mid(unsigned b)
{
	unsigned e, m;
	double lo, width;

	if (b < SUB)
		return b;
	e = b / SUB - 1 + SUB_BITS;
	m = b % SUB;
	lo = ldexp((double)(SUB + m), (int)(e - SUB_BITS));
	width = ldexp(1.0, (int)(e - SUB_BITS));
	return lo + width / 2;
}

static double
percentile(const struct group *g, double p)
{
	uint64_t want, seen = 0;
	unsigned b;

	if (g->timed == 0 || g->hist == NULL)
		return -1;
	want = (uint64_t)ceil(p * (double)g->timed);
	if (want == 0)
		want = 1;
	for (b = 0; b < NBUCKETS; b++) {
		seen += g->hist[b];
		if (seen >= want) {
			double v = bucket_mid(b);

			/* Never outside what was seen. */
			if (v < (double)g->min_ns)
				v = (double)g->min_ns;
			if (v > (double)g->max_ns)
				v = (double)g->max_ns;
			return v;
		}
	}
	return (double)g->max_ns;
}

static uint64_t
hash(int64_t bucket, const char *key)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)bucket;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return h * 0x9e3779b97f4a7c15ULL;
}

static int
rehash(struct stats *s)
{
	size_t i, j, n = s->nslots ? s->nslots * 2 : 64;
	size_t *v = malloc(n * sizeof(*v));

	if (v == NULL)
		return -1;
	for (i = 0; i < n; i++)
		v[i] = SIZE_MAX;
	for (i = 0; i < s->n; i++) {
		j = hash(s->g[i].bucket_us, s->g[i].key) & (n - 1);
		while (v[j] != SIZE_MAX)
			j = (j + 1) & (n - 1);
		v[j] = i;
	}
	free(s->slots);
	s->slots = v;
	s->nslots = n;
	return 0;
}

static struct group *
group_get(struct stats *s, int64_t bucket, const char *key)
{
	struct group *g, *ng;
	size_t j;

	if (s->nslots == 0 && rehash(s) == -1)
		return NULL;
	j = hash(bucket, key) & (s->nslots - 1);
	while (s->slots[j] != SIZE_MAX) {
		g = &s->g[s->slots[j]];
		if (g->bucket_us == bucket && strcmp(g->key, key) == 0)
			return g;
		j = (j + 1) & (s->nslots - 1);
	}
	if (s->n >= STATS_MAX_GROUPS && strcmp(key, "(other)") != 0) {
		s->overflowed = 1;
		return group_get(s, bucket, "(other)");
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;

		if ((ng = realloc(s->g, cap * sizeof(*ng))) == NULL)
			return NULL;
		s->g = ng;
		s->cap = cap;
	}
	g = &s->g[s->n];
	memset(g, 0, sizeof(*g));
	g->bucket_us = bucket;
	g->min_ns = INT64_MAX;
	if ((g->key = strdup(key)) == NULL)
		return NULL;
	s->slots[j] = s->n++;
	if (s->n * 2 > s->nslots && rehash(s) == -1)
		return NULL;
	return g;
}

static int
add(struct stats *s, int64_t bucket, const char *key, int error, int has_dur,
    int64_t dur)
{
	struct group *g = group_get(s, bucket, key);

	if (g == NULL)
		return -1;
	g->count++;
	g->errors += error != 0;
	s->total++;
	s->total_errors += error != 0;
	if (!has_dur || dur < 0)
		return 0;
	if (g->hist == NULL &&
	    (g->hist = calloc(NBUCKETS, sizeof(*g->hist))) == NULL)
		return -1;
	g->hist[bucket_of((uint64_t)dur)]++;
	g->timed++;
	if (dur < g->min_ns)
		g->min_ns = dur;
	if (dur > g->max_ns)
		g->max_ns = dur;
	return 0;
}

static int
by_of(const char *s, enum by *b)
{
	static const struct {
		const char *name;
		enum by by;
	} v[] = { { "status", BY_STATUS }, { "path", BY_PATH },
		{ "method", BY_METHOD }, { "client_ip", BY_IP },
		{ "host", BY_HOST }, { "error", BY_ERROR } };
	size_t i;

	*b = BY_NONE;
	if (s == NULL)
		return 0;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(s, v[i].name) == 0) {
			*b = v[i].by;
			return 0;
		}
	return -1;
}

/* The group value from the summary, or NULL when the event is needed. */
static const char *
key_of_sum(enum by by, const struct gw_evsum *sum, char *buf, size_t len)
{
	const char *m;

	switch (by) {
	case BY_NONE:
		return "";
	case BY_STATUS:
		if (sum->status == 0)
			return "-";
		snprintf(buf, len, "%u", sum->status);
		return buf;
	case BY_METHOD:
		m = gw_evsum_method_name(sum->method);
		return m != NULL ? m : sum->method == GW_EVM_NONE ? "-" : NULL;
	case BY_IP:
		if (!(sum->flags & GW_EVS_HAS_IP))
			return "-";
		if (memcmp(sum->client_ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff",
		        12) == 0)
			inet_ntop(
			    AF_INET, sum->client_ip + 12, buf, (socklen_t)len);
		else
			inet_ntop(
			    AF_INET6, sum->client_ip, buf, (socklen_t)len);
		return buf;
	default:
		return NULL;
	}
}

static const char *
key_of_event(enum by by, json_t *ev, char *buf, size_t len)
{
	const char *v = NULL;

	switch (by) {
	case BY_PATH:
		v = json_string_value(
		    gw_json_path(ev, "object.http.request.url.path"));
		break;
	case BY_HOST:
		v = json_string_value(
		    gw_json_path(ev, "object.http.request.url.host"));
		break;
	case BY_ERROR:
		v = json_string_value(gw_json_path(ev, "object.error.code"));
		if (v == NULL)
			v = "(none)";
		break;
	case BY_METHOD:
		v = json_string_value(
		    gw_json_path(ev, "object.http.request.method"));
		break;
	default:
		break;
	}
	snprintf(buf, len, "%s", v != NULL ? v : "-");
	return buf;
}

static int
cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->bucket_us != y->bucket_us)
		return x->bucket_us < y->bucket_us ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void
fmt_ms(double ns, char *buf, size_t len)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3f", ns / 1e6);
}

static void
print_table(const struct stats *s, const struct capconf *c, enum by by,
    const struct cap_style *st)
{
	char p50[24], p95[24], p99[24], when[40];
	size_t i, kw = 5;
	const struct group *g;

	for (i = 0; i < s->n; i++)
		if (strlen(s->g[i].key) > kw)
			kw = strlen(s->g[i].key);
	if (kw > 48)
		kw = 48;
	printf("%s", st->bold);
	if (c->interval)
		printf("%-20s  ", "TIME");
	if (by != BY_NONE)
		printf("%-*s  ", (int)kw, c->by);
	printf("%10s  %8s  %7s  %10s  %10s  %10s%s\n", "COUNT", "ERRORS",
	    "ERR%", "P50_MS", "P95_MS", "P99_MS", st->reset);
	for (i = 0; i < s->n; i++) {
		g = &s->g[i];
		fmt_ms(percentile(g, 0.50), p50, sizeof(p50));
		fmt_ms(percentile(g, 0.95), p95, sizeof(p95));
		fmt_ms(percentile(g, 0.99), p99, sizeof(p99));
		if (c->interval) {
			gw_rfc3339((uint64_t)g->bucket_us * 1000, when);
			printf("%.19sZ  ", when);
		}
		if (by != BY_NONE)
			printf("%-*.*s  ", (int)kw, (int)kw, g->key);
		printf("%10llu  %s%8llu%s  %6.2f%%  %10s  %10s  %10s\n",
		    (unsigned long long)g->count, g->errors ? st->red : "",
		    (unsigned long long)g->errors, g->errors ? st->reset : "",
		    g->count ? 100.0 * (double)g->errors / (double)g->count
		             : 0.0,
		    p50, p95, p99);
	}
}

static json_t *
group_json(const struct group *g, const struct capconf *c, enum by by)
{
	json_t *o = json_object();
	char when[40];
	double v;

	if (c->interval) {
		gw_rfc3339((uint64_t)g->bucket_us * 1000, when);
		json_object_set_new(o, "time", json_string(when));
	}
	if (by != BY_NONE)
		json_object_set_new(o, c->by, json_string(g->key));
	json_object_set_new(o, "count", json_integer((json_int_t)g->count));
	json_object_set_new(o, "errors", json_integer((json_int_t)g->errors));
	json_object_set_new(o, "error_rate",
	    json_real(g->count ? (double)g->errors / (double)g->count : 0));
	v = percentile(g, 0.50);
	json_object_set_new(
	    o, "p50_ns", v < 0 ? json_null() : json_integer((json_int_t)v));
	v = percentile(g, 0.95);
	json_object_set_new(
	    o, "p95_ns", v < 0 ? json_null() : json_integer((json_int_t)v));
	v = percentile(g, 0.99);
	json_object_set_new(
	    o, "p99_ns", v < 0 ? json_null() : json_integer((json_int_t)v));
	return o;
}

int
stats_main(struct capconf *c, struct gw_query *q)
{
	const struct gw_evsum *sum;
	struct gw_store_cur *cur;
	struct gw_store *s;
	struct stats S;
	struct cap_style st;
	json_error_t jerr;
	json_t *ev = NULL, *arr;
	const char *key, *line;
	char kbuf[1024];
	size_t len, i;
	enum by by;
	int64_t bucket, iv_us = (int64_t)c->interval * 1000;
	int r, t, rc = EX_OK, err, fmt_json, fmt_nd;

	if (by_of(c->by, &by) == -1) {
		gw_error("stats: --by must be status, path, method, client_ip, "
		         "host or error");
		return EX_USAGE;
	}
	fmt_json = strcmp(c->format, "json") == 0;
	fmt_nd = strcmp(c->format, "ndjson") == 0;
	if (!fmt_json && !fmt_nd && strcmp(c->format, "table") != 0) {
		gw_error("stats: --format must be table, ndjson or json");
		return EX_USAGE;
	}
	cap_style_init(&st, stdout, c);
	memset(&S, 0, sizeof(S));
	if ((s = cap_open_store(c, 0)) == NULL)
		return EX_IOERR;
	cur = gw_store_cur_new(s, c->since_us, c->until_us, 0);
	if (cur == NULL) {
		gw_error("stats: %s: %s", c->store, strerror(errno));
		gw_store_close(s);
		return EX_IOERR;
	}
	for (;;) {
		r = gw_store_cur_next(cur, &sum);
		if (r == 0)
			break;
		if (r == -1) {
			gw_error("stats: %s: %s", c->store, strerror(errno));
			rc = EX_IOERR;
			break;
		}
		json_decref(ev);
		ev = NULL;
		if ((t = cap_type_ok(c, sum, NULL, 0)) == 0)
			continue;
		r = gw_query_match_sum(q, sum);
		if (r == 0)
			continue;
		key = key_of_sum(by, sum, kbuf, sizeof(kbuf));
		if (r == -1 || t == -1 || key == NULL) {
			if (gw_store_cur_line(cur, &line, &len) == -1) {
				if (errno == EBADMSG)
					continue;
				gw_error(
				    "stats: %s: %s", c->store, strerror(errno));
				rc = EX_IOERR;
				break;
			}
			if (t == -1 && !cap_type_ok(c, sum, line, len))
				continue;
			if ((ev = json_loadb(line, len, 0, &jerr)) == NULL)
				continue;
			if (r == -1 && !gw_query_match_json(q, ev))
				continue;
			if (key == NULL)
				key = key_of_event(by, ev, kbuf, sizeof(kbuf));
		}
		bucket = 0;
		if (iv_us > 0) {
			bucket = sum->ts_us - sum->ts_us % iv_us;
			if (sum->ts_us < 0 && sum->ts_us % iv_us)
				bucket -= iv_us;
		}
		err = sum->status >= 500 ||
		    (sum->status == 0 && (sum->flags & GW_EVS_HAS_ERROR));
		if (add(&S, bucket, key, err, sum->flags & GW_EVS_HAS_DUR,
		        sum->duration_ns) == -1) {
			gw_error("stats: out of memory");
			rc = EX_SOFTWARE;
			break;
		}
	}
	json_decref(ev);
	gw_store_cur_free(cur);
	gw_store_close(s);
	if (rc == EX_OK) {
		qsort(S.g, S.n, sizeof(*S.g), cmp_group);
		if (fmt_json || fmt_nd) {
			arr = json_array();
			for (i = 0; i < S.n; i++) {
				json_t *o = group_json(&S.g[i], c, by);

				if (fmt_nd) {
					json_dumpf(o, stdout,
					    JSON_COMPACT | JSON_PRESERVE_ORDER);
					fputc('\n', stdout);
					json_decref(o);
				} else
					json_array_append_new(arr, o);
			}
			if (fmt_json) {
				json_dumpf(arr, stdout,
				    JSON_INDENT(2) | JSON_PRESERVE_ORDER);
				fputc('\n', stdout);
			}
			json_decref(arr);
		} else
			print_table(&S, c, by, &st);
		if (S.overflowed)
			gw_warn("stats: more than %d groups; the rest are "
			        "counted under (other)",
			    STATS_MAX_GROUPS);
	}
	for (i = 0; i < S.n; i++) {
		free(S.g[i].key);
		free(S.g[i].hist);
	}
	free(S.g);
	free(S.slots);
	if (fflush(stdout) == EOF && errno != EPIPE)
		rc = EX_IOERR;
	return rc;
}
