/* SPDX-License-Identifier: MIT */
/*
 * The monitor engine: reads `monitors:` from export.yml and evaluates
 * every event against each monitor, the local equivalent of a Datadog log
 * monitor (reference §4.1): a query, a window, a metric (a count, a rate
 * of matching events among those of total_query, or a statistic of a
 * measure: sum, avg, min, max, a percentile), thresholds critical and
 * warning with a comparator, optional group_by, a message template and the
 * channels to notify.  Each monitor+group holds a ring of time buckets
 * over event time and a state, OK, WARN or ALERT; every change of state
 * and every renotification is handed to the caller's callback, which
 * builds the channels' requests (notify.c) and sends them.
 *
 * Evaluation happens after each event a group counts, and when the clock
 * crosses one of the monitor's bucket boundaries (window/60): that is
 * where values fall as the window slides.  Both points depend on event
 * times only, so a dry run over saved events and the live run report the
 * same transitions at the same times.  See monitor.h for the bounds.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "monitor.h"
#include "timeutil.h"

#define MON_NB             60 /* buckets of count, rate and measure windows */
#define MON_NB_PCT         12 /* of percentile windows (each has a histogram) */
#define MON_MAX_GROUPS     1000 /* Datadog's limit for one group_by facet */
#define MON_MAX_GROUPS_PCT 200  /* percentile groups weigh 31 KiB each */
#define MON_GROUPS_LIMIT   100000
#define MON_MAX_GB         4   /* group_by paths, as Datadog */
#define MON_KEY_MAX        512 /* bytes of a group key; longer values are cut */
#define MON_MIN_WINDOW     1000000LL               /* 1 s */
#define MON_MAX_WINDOW     (48LL * 3600 * 1000000) /* Datadog's 2 days */
#define MON_ID_MAX         64

/*
 * Log-linear histogram of non-negative integers (ns for durations):
 * exact below 2 * H_SUB, then H_SUB bins per power of two up to 2^H_MAXEXP
 * (18 minutes in ns), larger values in the last bin.  A bin's midpoint is
 * within 1/(2 * H_SUB) = 3.1% of any value in it.
 */
#define H_SUBBITS 4
#define H_SUB     (1 << H_SUBBITS)
#define H_MAXEXP  40
#define H_NBINS   (2 * H_SUB + (H_MAXEXP - H_SUBBITS - 1) * H_SUB)

enum metric { MM_COUNT, MM_RATE, MM_SUM, MM_AVG, MM_MIN, MM_MAX, MM_PCT };
enum cmp { CMP_GE, CMP_GT, CMP_LE, CMP_LT };

static const char *const cmp_str[] = { ">=", ">", "<=", "<" };
/* What a recovery prints: the comparator that no longer holds. */
static const char *const cmp_not[] = { "<", "<=", ">", ">=" };
static const char *const state_str[] = { "OK", "WARN", "ALERT" };

/* An attribute path: the event's own, resolved from what the user wrote. */
struct mpath {
	char *text; /* as written, without '@' */
	char **seg; /* under "object", or from the envelope when top */
	size_t nseg;
	int top;
	int xf;  /* the struct xevent field that holds it, or -1 */
	int hdr; /* index of a header-name segment (any case), or -1 */
};

struct mgroup {
	struct mgroup *hnext;       /* hash chain */
	struct mgroup *prev, *next; /* recency: head is the latest */
	uint32_t hash;
	enum monitor_state state;
	int64_t head;        /* newest bucket index held */
	int64_t first_us;    /* when it left OK; 0 while OK */
	int64_t notified_us; /* last notification */
	uint64_t n_w, tot_w; /* window totals of n[] and tot[] */
	uint32_t *n;         /* per bucket: events counted (with a measure) */
	uint32_t *tot;       /* rate: events of total_query */
	double *sum, *min, *max;
	uint32_t *hist;   /* percentiles: nb * H_NBINS */
	uint32_t *hist_w; /* their window total */
	void *data;
	char key[]; /* values joined by '\x1f'; "" when not grouped */
};

struct monitor {
	char *id, *name;
	char *query_text, *total_text, *window_text, *metric_text;
	struct gw_query *q, *tq;
	enum metric metric;
	double pct; /* MM_PCT: 0.95 */
	struct mpath measure;
	int measure_dur; /* the measure is in ns: format as a duration */
	int64_t window_us, width_us;
	int nb;
	double crit, warn;
	int has_warn;
	enum cmp cmp;
	uint32_t min_events;
	struct mpath gb[MON_MAX_GB];
	size_t ngb;
	size_t max_groups;
	struct mtemplate *msg;
	struct monitor_channel **ch; /* borrowed from the engine */
	size_t nch;
	int64_t renotify_us;

	struct mgroup **tab; /* hash table, tabn a power of two */
	size_t tabn;
	struct mgroup *lru_head, *lru_tail;
	size_t ngroups;
	size_t data_size; /* bytes of a group's bucket arrays */
	int64_t now_us;   /* this monitor's clock */
	int64_t start_us; /* the engine's first time */
	int idle;         /* every window empty: boundaries change nothing */
	int64_t rn_due;   /* earliest renotification, when not rn_dirty */
	int rn_dirty;     /* a group entered or left ALERT, or renotified */
};

struct monitors {
	struct monitor *mon;
	size_t nmon;
	struct monitor_channel **ch;
	size_t nch;
	monitor_notify_fn *fn;
	void *arg;
	int started;
	int64_t now_us;
	struct monitor_stats st;
	struct gw_buf msg, title, key, tmp;
};

/* One event being fed: what has been derived from it so far. */
struct feed {
	const struct xevent *ev;
	json_t *json;
	int owned, json_failed;
	int sum_done, sum_bad;
	struct gw_evsum sum;
};

/* Paths. */

static const struct {
	int top;
	const char *path;
	int xf;
} xpaths[] = {
	{ 1, "event_id", XF_EVENT_ID },
	{ 1, "event_type", XF_EVENT_TYPE },
	{ 1, "event_timestamp", XF_TIMESTAMP },
	{ 0, "conn.client_ip", XF_CLIENT_IP },
	{ 0, "conn.server_name", XF_SERVER_NAME },
	{ 0, "http.request.method", XF_METHOD },
	{ 0, "http.request.url.raw", XF_URL },
	{ 0, "http.request.url.host", XF_HOST },
	{ 0, "http.request.url.path", XF_PATH },
	{ 0, "http.request.url.query", XF_QUERY },
	{ 0, "http.request.user_agent", XF_USER_AGENT },
	{ 0, "http.response.status_code", XF_STATUS },
	{ 0, "duration_ns", XF_DURATION },
	{ 0, "error.code", XF_ERROR_CODE },
};

static const char *const envelope[] = { "event_id", "event_type",
	"event_timestamp", "principal" };

static void
path_fini(struct mpath *p)
{
	size_t i;

	for (i = 0; i < p->nseg; i++)
		free(p->seg[i]);
	free(p->seg);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

/* 1 if the segments of <p> joined by dots are <want>. */
static int
path_is(const struct mpath *p, const char *want)
{
	size_t i, len;

	for (i = 0; i < p->nseg; i++) {
		len = strlen(p->seg[i]);
		if (strncmp(want, p->seg[i], len) != 0)
			return 0;
		want += len;
		if (i + 1 < p->nseg && *want++ != '.')
			return 0;
	}
	return *want == '\0';
}

/*
 * Resolves the attribute name <s> ("@network.client.ip", "conn.client_ip",
 * "object.duration_ns") as the query language does.  Returns 0, or -1 with
 * a reason in <why> (EINVAL) or ENOMEM.
 */
static int
path_parse(struct mpath *p, const char *s, const char **why)
{
	const char *r, *dot;
	size_t i, n, len;
	char **seg;

	memset(p, 0, sizeof(*p));
	p->xf = p->hdr = -1;
	*why = NULL;
	if (*s == '@')
		s++;
	if (*s == '\0' || strcspn(s, "*? \t:()\"\\") != strlen(s) ||
	    s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..")) {
		*why = "an attribute path such as conn.client_ip";
		errno = EINVAL;
		return -1;
	}
	r = gw_query_attr_path(s);
	if (strncmp(r, "http.url_details.queryString", 28) == 0) {
		*why = "query parameters cannot be used here";
		errno = EINVAL;
		return -1;
	}
	if ((p->text = strdup(s)) == NULL)
		return -1;
	for (n = 1, dot = r; (dot = strchr(dot, '.')) != NULL; dot++)
		n++;
	if ((seg = calloc(n, sizeof(*seg))) == NULL)
		goto nomem;
	p->seg = seg;
	for (i = 0; i < n; i++) {
		dot = strchr(r, '.');
		len = dot != NULL ? (size_t)(dot - r) : strlen(r);
		if ((seg[i] = strndup(r, len)) == NULL)
			goto nomem;
		p->nseg++;
		r += len + 1;
	}
	if (p->nseg > 1 && strcmp(seg[0], "object") == 0) {
		free(seg[0]);
		memmove(seg, seg + 1, (p->nseg - 1) * sizeof(*seg));
		p->nseg--;
	} else
		for (i = 0; i < sizeof(envelope) / sizeof(envelope[0]); i++)
			if (strcmp(seg[0], envelope[i]) == 0)
				p->top = 1;
	if (!p->top && p->nseg >= 4 && strcmp(seg[0], "http") == 0 &&
	    (strcmp(seg[1], "request") == 0 ||
	        strcmp(seg[1], "response") == 0) &&
	    strcmp(seg[2], "headers") == 0)
		p->hdr = 3;
	for (i = 0; i < sizeof(xpaths) / sizeof(xpaths[0]); i++)
		if (xpaths[i].top == p->top && path_is(p, xpaths[i].path))
			p->xf = xpaths[i].xf;
	return 0;
nomem:
	path_fini(p);
	errno = ENOMEM;
	return -1;
}

/* The value at <p> in the parsed event <ev>, or NULL. */
static json_t *
path_json(const struct mpath *p, json_t *ev)
{
	json_t *j = p->top ? ev : json_object_get(ev, "object");
	const char *k;
	json_t *v;
	size_t i;

	for (i = 0; i < p->nseg && j != NULL; i++) {
		if (json_is_array(j))
			j = json_array_get(j, 0);
		if (!json_is_object(j))
			return NULL;
		if ((int)i == p->hdr) {
			json_t *found = NULL;

			json_object_foreach(j, k, v)
			{
				if (strcasecmp(k, p->seg[i]) == 0) {
					found = v;
					break;
				}
			}
			j = found;
		} else
			j = json_object_get(j, p->seg[i]);
	}
	return json_is_null(j) ? NULL : j;
}

static json_t *
feed_json(struct feed *f)
{
	if (f->json == NULL && !f->json_failed) {
		f->json = json_loadb(f->ev->line, f->ev->len, 0, NULL);
		if (f->json == NULL)
			f->json_failed = 1;
		else
			f->owned = 1;
	}
	return f->json;
}

static int
feed_match(struct feed *f, const struct gw_query *q)
{
	json_t *j;
	int r;

	if (f->json == NULL) {
		if (!f->sum_done) {
			f->sum_done = 1;
			f->sum_bad = gw_evsum_extract(&f->sum, f->ev->line,
			                 f->ev->len) == -1;
		}
		if (!f->sum_bad && (r = gw_query_match_sum(q, &f->sum)) != -1)
			return r;
	}
	if ((j = feed_json(f)) == NULL)
		return 0;
	return gw_query_match_json(q, j);
}

/* Appends a value's text to <out> for a group key; "N/A" when missing. */
static int
value_text(struct gw_buf *out, const struct mpath *p, struct feed *f)
{
	const struct gw_jval *v;
	char buf[MON_KEY_MAX];
	json_t *j, *e;
	long n;
	size_t i;
	char *s;
	int r;

	if (p->xf >= 0) {
		v = &f->ev->f[p->xf];
		switch (v->type) {
		case GW_JSTRING:
			if (!v->esc)
				return gw_buf_add(out, v->p, v->len);
			n = gw_jscan_unescape(v, buf, sizeof(buf));
			if (n < 0)
				return gw_buf_add(out, v->p,
				    v->len < sizeof(buf) ? v->len
				                         : sizeof(buf));
			return gw_buf_add(out, buf, (size_t)n);
		case GW_JNONE:
		case GW_JNULL:
			return gw_buf_adds(out, "N/A");
		default:
			return gw_buf_add(out, v->p, v->len);
		}
	}
	if ((j = feed_json(f)) == NULL || (j = path_json(p, j)) == NULL)
		return gw_buf_adds(out, "N/A");
	if (json_is_string(j))
		return gw_buf_add(
		    out, json_string_value(j), json_string_length(j));
	if (json_is_integer(j))
		return gw_buf_addi(out, (long long)json_integer_value(j));
	if (json_is_array(j)) {
		json_array_foreach(j, i, e)
		{
			if (i > 0 && gw_buf_addc(out, ',') == -1)
				return -1;
			if (json_is_string(e))
				r = gw_buf_add(out, json_string_value(e),
				    json_string_length(e));
			else {
				s = json_dumps(
				    e, JSON_COMPACT | JSON_ENCODE_ANY);
				r = s != NULL ? gw_buf_adds(out, s) : -1;
				free(s);
			}
			if (r == -1)
				return -1;
		}
		return 0;
	}
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	r = s != NULL ? gw_buf_adds(out, s) : -1;
	free(s);
	return r;
}

/* Reads <s>/<n> as a whole decimal number. */
static int
num_of(const char *s, size_t n, double *out)
{
	char buf[64], *end;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	*out = strtod(buf, &end);
	return *end == '\0' && errno == 0 && isfinite(*out) ? 0 : -1;
}

/* The measure of the event, as a number.  Returns 0, or -1 if it has none. */
static int
measure_of(const struct monitor *m, struct feed *f, double *out)
{
	const struct gw_jval *v;
	json_t *j;

	if (m->measure.xf == XF_DURATION && f->ev->duration_ns >= 0) {
		*out = (double)f->ev->duration_ns;
		return 0;
	}
	if (m->measure.xf >= 0) {
		v = &f->ev->f[m->measure.xf];
		if (v->type != GW_JNUMBER && (v->type != GW_JSTRING || v->esc))
			return -1;
		return num_of(v->p, v->len, out);
	}
	if ((j = feed_json(f)) == NULL ||
	    (j = path_json(&m->measure, j)) == NULL)
		return -1;
	if (json_is_number(j)) {
		*out = json_number_value(j);
		return 0;
	}
	if (json_is_string(j))
		return num_of(json_string_value(j), json_string_length(j), out);
	return -1;
}

/* Formatting values. */

static void
fmt_num(double v, char *buf, size_t cap)
{
	size_t n;

	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, cap, "%.0f", v);
		return;
	}
	snprintf(buf, cap, "%.4f", v);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

static void
fmt_dur(double ns, char *buf, size_t cap)
{
	static const struct {
		double div;
		const char *unit;
	} u[] = { { 1e9, "s" }, { 1e6, "ms" }, { 1e3, "us" } };
	size_t i;

	if (ns >= 1e12) {
		snprintf(buf, cap, "%.0fs", ns / 1e9);
		return;
	}
	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (fabs(ns) >= u[i].div) {
			snprintf(buf, cap, "%.4g%s", ns / u[i].div, u[i].unit);
			return;
		}
	snprintf(buf, cap, "%.0fns", ns);
}

static void
fmt_value(const struct monitor *m, double v, char *buf, size_t cap)
{
	size_t n;

	if (m->metric == MM_RATE) {
		fmt_num(v * 100, buf, cap);
		n = strlen(buf);
		snprintf(buf + n, cap - n, "%%");
	} else if (m->measure_dur && m->metric != MM_COUNT)
		fmt_dur(v, buf, cap);
	else
		fmt_num(v, buf, cap);
}

/* Histogram bins. */

static size_t
hbin(double v)
{
	uint64_t x;
	int e;

	if (!(v > 0))
		return 0;
	x = v >= (double)(1ULL << H_MAXEXP) ? (1ULL << H_MAXEXP) - 1
	                                    : (uint64_t)(v + 0.5);
	if (x < 2 * H_SUB)
		return (size_t)x;
	e = 63 - __builtin_clzll(x);
	return 2 * H_SUB + (size_t)(e - H_SUBBITS - 1) * H_SUB +
	    (size_t)((x >> (e - H_SUBBITS)) - H_SUB);
}

/* A bin's representative value: its midpoint. */
static double
hbin_value(size_t b)
{
	size_t k;
	int e;

	if (b < 2 * H_SUB)
		return (double)b;
	k = b - 2 * H_SUB;
	e = (int)(k / H_SUB) + H_SUBBITS + 1;
	return (double)((H_SUB + k % H_SUB) << (e - H_SUBBITS)) +
	    (double)(1ULL << (e - H_SUBBITS)) / 2;
}

/* Groups. */

static uint32_t
hash_key(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void
lru_unlink(struct monitor *m, struct mgroup *g)
{
	if (g->prev != NULL)
		g->prev->next = g->next;
	else
		m->lru_head = g->next;
	if (g->next != NULL)
		g->next->prev = g->prev;
	else
		m->lru_tail = g->prev;
	g->prev = g->next = NULL;
}

static void
lru_push(struct monitor *m, struct mgroup *g)
{
	g->prev = NULL;
	g->next = m->lru_head;
	if (m->lru_head != NULL)
		m->lru_head->prev = g;
	m->lru_head = g;
	if (m->lru_tail == NULL)
		m->lru_tail = g;
}

static void
group_free(struct monitor *m, struct mgroup *g)
{
	struct mgroup **pp;

	if (m->tab != NULL) {
		for (pp = &m->tab[g->hash & (m->tabn - 1)]; *pp != NULL;
		     pp = &(*pp)->hnext)
			if (*pp == g) {
				*pp = g->hnext;
				break;
			}
	}
	lru_unlink(m, g);
	m->ngroups--;
	free(g->data);
	free(g);
}

static struct mgroup *
group_alloc(struct monitor *m, const char *key, size_t klen)
{
	struct mgroup *g = calloc(1, sizeof(*g) + klen + 1);
	char *d;
	size_t nb = (size_t)m->nb;

	if (g == NULL)
		return NULL;
	if ((g->data = calloc(1, m->data_size)) == NULL) {
		free(g);
		return NULL;
	}
	memcpy(g->key, key, klen);
	d = g->data;
	if (m->metric >= MM_SUM && m->metric <= MM_MAX) {
		g->sum = (double *)(void *)d;
		g->min = g->sum + nb;
		g->max = g->min + nb;
		d += 3 * nb * sizeof(double);
	}
	g->n = (uint32_t *)(void *)d;
	d += nb * sizeof(uint32_t);
	if (m->metric == MM_RATE) {
		g->tot = (uint32_t *)(void *)d;
		d += nb * sizeof(uint32_t);
	}
	if (m->metric == MM_PCT) {
		g->hist = (uint32_t *)(void *)d;
		g->hist_w = g->hist + nb * H_NBINS;
	}
	return g;
}

static size_t
data_size(enum metric metric, size_t nb)
{
	size_t sz = nb * sizeof(uint32_t);

	if (metric >= MM_SUM && metric <= MM_MAX)
		sz += 3 * nb * sizeof(double);
	if (metric == MM_RATE)
		sz += nb * sizeof(uint32_t);
	if (metric == MM_PCT)
		sz += (nb + 1) * H_NBINS * sizeof(uint32_t);
	return sz;
}

/* Empties bucket <slot> of <g>. */
static void
slot_clear(const struct monitor *m, struct mgroup *g, size_t slot)
{
	uint32_t *h;
	size_t i;

	g->n_w -= g->n[slot];
	g->n[slot] = 0;
	if (g->tot != NULL) {
		g->tot_w -= g->tot[slot];
		g->tot[slot] = 0;
	}
	if (g->sum != NULL)
		g->sum[slot] = g->min[slot] = g->max[slot] = 0;
	if (g->hist != NULL) {
		h = g->hist + slot * H_NBINS;
		for (i = 0; i < H_NBINS; i++) {
			g->hist_w[i] -= h[i];
			h[i] = 0;
		}
	}
	(void)m;
}

/* Moves <g>'s newest bucket to index <b>, emptying the ones that expire. */
static void
rotate(const struct monitor *m, struct mgroup *g, int64_t b)
{
	int64_t i;

	if (b <= g->head)
		return;
	if (b - g->head >= m->nb) {
		memset(g->data, 0, m->data_size);
		g->n_w = g->tot_w = 0;
	} else
		for (i = g->head + 1; i <= b; i++)
			slot_clear(m, g, (size_t)(i % m->nb));
	g->head = b;
}

static int
group_empty(const struct mgroup *g)
{
	return g->n_w == 0 && g->tot_w == 0;
}

/*
 * The group for <key>, made if needed.  A full table gives up its least
 * recently updated OK group; NULL when every group is alerting (or out of
 * memory): the event is then not counted.
 */
static struct mgroup *
group_get(struct monitors *ms, struct monitor *m, const char *key, size_t klen,
    int64_t cur)
{
	uint32_t h = hash_key(key, klen);
	struct mgroup *g;

	for (g = m->tab[h & (m->tabn - 1)]; g != NULL; g = g->hnext)
		if (g->hash == h && strlen(g->key) == klen &&
		    memcmp(g->key, key, klen) == 0)
			return g;
	if (m->ngroups >= m->max_groups) {
		for (g = m->lru_tail; g != NULL && g->state != MON_OK;
		     g = g->prev)
			;
		if (g == NULL)
			return NULL;
		group_free(m, g);
		ms->st.evicted++;
	}
	if ((g = group_alloc(m, key, klen)) == NULL)
		return NULL;
	g->hash = h;
	g->head = cur;
	g->hnext = m->tab[h & (m->tabn - 1)];
	m->tab[h & (m->tabn - 1)] = g;
	lru_push(m, g);
	m->ngroups++;
	return g;
}

/* Values and states. */

/* The window's value.  Returns 1, or 0 when there is no data. */
static int
value_of(const struct monitor *m, const struct mgroup *g, double *v)
{
	uint64_t need = m->min_events > 0 ? m->min_events : 1, rank, acc;
	size_t i;
	double x;
	int seen;

	switch (m->metric) {
	case MM_COUNT:
		if (g->n_w == 0 && m->ngb > 0)
			return 0;
		*v = (double)g->n_w;
		return 1;
	case MM_RATE:
		if (g->tot_w < need)
			return 0;
		*v = (double)g->n_w / (double)g->tot_w;
		return 1;
	case MM_SUM:
		if (g->n_w == 0 && m->ngb > 0)
			return 0;
		for (x = 0, i = 0; i < (size_t)m->nb; i++)
			x += g->sum[i];
		*v = x;
		return 1;
	case MM_AVG:
		if (g->n_w < need)
			return 0;
		for (x = 0, i = 0; i < (size_t)m->nb; i++)
			x += g->sum[i];
		*v = x / (double)g->n_w;
		return 1;
	case MM_MIN:
	case MM_MAX:
		if (g->n_w < need)
			return 0;
		for (seen = 0, x = 0, i = 0; i < (size_t)m->nb; i++) {
			double y = m->metric == MM_MIN ? g->min[i] : g->max[i];

			if (g->n[i] == 0)
				continue;
			if (!seen || (m->metric == MM_MIN ? y < x : y > x))
				x = y;
			seen = 1;
		}
		*v = x;
		return 1;
	case MM_PCT:
		if (g->n_w < need)
			return 0;
		/* Nearest rank: the smallest value with pct of all at or
		 * below it. */
		rank = (uint64_t)ceil(m->pct * (double)g->n_w);
		if (rank < 1)
			rank = 1;
		for (acc = 0, i = 0; i < H_NBINS; i++) {
			acc += g->hist_w[i];
			if (acc >= rank)
				break;
		}
		*v = hbin_value(i < H_NBINS ? i : H_NBINS - 1);
		return 1;
	}
	return 0;
}

static int
holds(enum cmp c, double v, double t)
{
	switch (c) {
	case CMP_GE:
		return v >= t;
	case CMP_GT:
		return v > t;
	case CMP_LE:
		return v <= t;
	case CMP_LT:
		return v < t;
	}
	return 0;
}

static enum monitor_state
classify(const struct monitor *m, int has, double v)
{
	if (!has)
		return MON_OK;
	if (holds(m->cmp, v, m->crit))
		return MON_ALERT;
	if (m->has_warn && holds(m->cmp, v, m->warn))
		return MON_WARN;
	return MON_OK;
}

/* Alerts. */

/* Appends the group's display form: values joined by ','; "*" alone. */
static int
group_display(
    struct gw_buf *out, const struct monitor *m, const struct mgroup *g)
{
	const char *k;

	if (m->ngb == 0)
		return gw_buf_adds(out, "*");
	for (k = g->key; *k != '\0'; k++)
		if (gw_buf_addc(out, *k == '\x1f' ? ',' : *k) == -1)
			return -1;
	return 0;
}

/*
 * Trims white space around the NUL-terminated text in <b>: a message
 * written as one conditional block per line leaves the lines of the
 * blocks not shown empty.
 */
static void
trim(struct gw_buf *b)
{
	char *s = gw_buf_head(b);
	size_t n = strlen(s), i = 0;

	while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
		n--;
	while (i < n && strchr(" \t\r\n", s[i]) != NULL)
		i++;
	memmove(s, s + i, n - i);
	s[n - i] = '\0';
	b->len = n - i + 1;
}

static void
emit(struct monitors *ms, struct monitor *m, struct mgroup *g,
    enum monitor_state from, int renotify, int has, double v, int64_t t)
{
	char value[64], thr[64], wthr[64], when[GW_RFC3339_LEN];
	char first[GW_RFC3339_LEN], dur[32], dkey[300];
	const char *transition, *k, *gs;
	struct monitor_alert a;
	struct mt_vars vars;
	size_t i, glen;
	int ok = 1;

	memset(&a, 0, sizeof(a));
	memset(&vars, 0, sizeof(vars));
	gw_buf_reset(&ms->msg);
	gw_buf_reset(&ms->title);
	gw_buf_reset(&ms->tmp);
	if (has)
		fmt_value(m, v, value, sizeof(value));
	else
		snprintf(value, sizeof(value), "no data");
	fmt_value(m, m->crit, thr, sizeof(thr));
	wthr[0] = '\0';
	if (m->has_warn)
		fmt_value(m, m->warn, wthr, sizeof(wthr));
	gw_rfc3339((uint64_t)t * 1000, when);
	first[0] = '\0';
	if (g->first_us > 0)
		gw_rfc3339((uint64_t)g->first_us * 1000, first);
	snprintf(dur, sizeof(dur), "%lld",
	    g->first_us > 0 ? (long long)((t - g->first_us) / 1000000) : 0LL);

	ok &= group_display(&ms->tmp, m, g) == 0 &&
	    gw_buf_addc(&ms->tmp, '\0') == 0;
	gs = ok ? gw_buf_head(&ms->tmp) : "*";
	glen = strlen(gs);
	/* PagerDuty takes 255 characters: a long group becomes its hash. */
	if (strlen(m->id) + glen + 12 <= 255)
		snprintf(dkey, sizeof(dkey), "gw-monitor-%s:%s", m->id, gs);
	else
		snprintf(dkey, sizeof(dkey), "gw-monitor-%s:#%08x", m->id,
		    hash_key(gs, glen));

	transition = renotify       ? "Re-Triggered"
	    : g->state == MON_ALERT ? "Triggered"
	    : g->state == MON_WARN  ? "Warn"
	                            : "Recovered";
	ok &= gw_buf_printf(&ms->title, "[%s", transition) == 0;
	if (m->ngb > 0) {
		ok &= gw_buf_adds(&ms->title, " on {") == 0;
		for (i = 0, k = g->key; i < m->ngb; i++) {
			size_t n = strcspn(k, "\x1f");

			ok &= gw_buf_printf(&ms->title, "%s%s:%.*s",
			          i ? "," : "", m->gb[i].text, (int)n, k) == 0;
			k += n + (k[n] != '\0');
		}
		ok &= gw_buf_adds(&ms->title, "}") == 0;
	}
	ok &= gw_buf_printf(&ms->title, "] %s", m->name) == 0 &&
	    gw_buf_addc(&ms->title, '\0') == 0;

	vars.v[MTV_VALUE] = value;
	vars.v[MTV_THRESHOLD] = thr;
	vars.v[MTV_WARN_THRESHOLD] = wthr;
	vars.v[MTV_COMPARATOR] = cmp_str[m->cmp];
	vars.v[MTV_GROUP] = gs;
	vars.v[MTV_QUERY] = m->query_text;
	vars.v[MTV_MONITOR] = m->name;
	vars.v[MTV_MONITOR_ID] = m->id;
	vars.v[MTV_WINDOW] = m->window_text;
	vars.v[MTV_METRIC] = m->metric_text;
	vars.v[MTV_STATUS] = state_str[g->state];
	vars.v[MTV_TRANSITION] = transition;
	vars.v[MTV_TIME] = when;
	vars.v[MTV_FIRST_TRIGGERED_AT] = first;
	vars.v[MTV_TRIGGERED_DURATION_SEC] = dur;
	vars.v[MTV_DEDUP_KEY] = dkey;
	vars.v[MTV_TITLE] = ok ? gw_buf_head(&ms->title) : m->name;
	if (g->state == MON_ALERT)
		vars.flags |= MTS_ALERT;
	if (g->state == MON_WARN)
		vars.flags |= MTS_WARNING;
	if (g->state == MON_OK) {
		vars.flags |= MTS_RECOVERY;
		if (from == MON_ALERT)
			vars.flags |= MTS_ALERT_RECOVERY;
		if (from == MON_WARN)
			vars.flags |= MTS_WARNING_RECOVERY;
	}
	if (from == MON_ALERT && g->state == MON_WARN)
		vars.flags |= MTS_ALERT_TO_WARNING;
	if (renotify)
		vars.flags |= MTS_RENOTIFY;
	if (mtemplate_render(m->msg, &vars, MT_PLAIN, &ms->msg) == -1 ||
	    gw_buf_addc(&ms->msg, '\0') == -1) {
		/* Out of memory: still say something. */
		gw_buf_reset(&ms->msg);
		if (gw_buf_adds(&ms->msg, vars.v[MTV_TITLE]) == -1 ||
		    gw_buf_addc(&ms->msg, '\0') == -1)
			return;
	}
	trim(&ms->msg);

	a.monitor = m->id;
	a.name = m->name;
	a.group = gs;
	a.grouped = m->ngb > 0;
	a.from = from;
	a.to = g->state;
	a.renotify = renotify;
	a.has_value = has;
	a.value = has ? v : 0;
	a.threshold = m->crit;
	a.warn_threshold = m->warn;
	a.has_warning = m->has_warn;
	a.comparator = cmp_str[m->cmp];
	a.time_us = t;
	a.triggered_us = g->first_us;
	a.title = vars.v[MTV_TITLE];
	a.message = gw_buf_head(&ms->msg);
	a.dedup_key = dkey;
	a.vars = &vars;
	a.message_t = m->msg;
	a.channels = m->ch;
	a.nchannels = m->nch;
	ms->st.alerts++;
	if (ms->fn != NULL)
		ms->fn(ms->arg, &a);
}

static void
evaluate(struct monitors *ms, struct monitor *m, struct mgroup *g, int64_t t)
{
	enum monitor_state to, from = g->state;
	double v = 0;
	int has;

	has = value_of(m, g, &v);
	to = classify(m, has, v);
	/* Below a threshold means little until a whole window was seen. */
	if (m->cmp >= CMP_LE && t < m->start_us + m->window_us)
		to = MON_OK;
	if (to == from)
		return;
	if (from == MON_OK)
		g->first_us = t;
	if (m->renotify_us > 0 && (from == MON_ALERT || to == MON_ALERT))
		m->rn_dirty = 1;
	g->state = to;
	if (to != MON_OK)
		g->notified_us = t;
	emit(ms, m, g, from, 0, has, v, t);
	if (to == MON_OK)
		g->first_us = 0;
}

/* The earliest renotification due in <m>; INT64_MAX for none. */
static int64_t
rn_next(struct monitor *m)
{
	const struct mgroup *g;

	if (m->renotify_us <= 0)
		return INT64_MAX;
	if (m->rn_dirty) {
		m->rn_due = INT64_MAX;
		for (g = m->lru_head; g != NULL; g = g->next)
			if (g->state == MON_ALERT &&
			    g->notified_us + m->renotify_us < m->rn_due)
				m->rn_due = g->notified_us + m->renotify_us;
		m->rn_dirty = 0;
	}
	return m->rn_due;
}

/* Renotifications due at or before <t>, at the times they fell due. */
static void
renotify_upto(struct monitors *ms, struct monitor *m, int64_t t)
{
	struct mgroup *g;
	double v = 0;
	int has;

	if (m->renotify_us <= 0 || t < rn_next(m))
		return;
	for (g = m->lru_head; g != NULL; g = g->next)
		while (g->state == MON_ALERT &&
		    g->notified_us + m->renotify_us <= t) {
			g->notified_us += m->renotify_us;
			m->rn_dirty = 1;
			has = value_of(m, g, &v);
			emit(ms, m, g, MON_ALERT, 1, has, v, g->notified_us);
		}
}

/*
 * When <m> next has something to do: a bucket boundary (unless every
 * window is empty and evaluating it again can change nothing) or a
 * renotification.
 */
static int64_t
mon_next(struct monitor *m)
{
	int64_t due = INT64_MAX, rn = rn_next(m);

	if (!m->idle)
		due = (m->now_us / m->width_us + 1) * m->width_us;
	return rn < due ? rn : due;
}

/* Moves <m> to <t>, mon_next(m): renotifies, then slides the windows. */
static void
mon_step(struct monitors *ms, struct monitor *m, int64_t t)
{
	struct mgroup *g, *next;
	int empty = 1;

	/* At a boundary the window goes first: a group that recovers then
	 * is not renotified at the same instant. */
	renotify_upto(ms, m, t - 1);
	if (!m->idle && t == (m->now_us / m->width_us + 1) * m->width_us) {
		for (g = m->lru_head; g != NULL; g = next) {
			next = g->next;
			rotate(m, g, t / m->width_us);
			evaluate(ms, m, g, t);
			if (m->ngb > 0 && g->state == MON_OK && group_empty(g))
				group_free(m, g);
			else if (!group_empty(g))
				empty = 0;
		}
		/* An empty window is evaluated once more when a below
		 * comparator starts to apply (see evaluate()). */
		if (empty &&
		    (m->cmp <= CMP_GT || t >= m->start_us + m->window_us))
			m->idle = 1;
	}
	renotify_upto(ms, m, t);
	m->now_us = t;
}

/*
 * Moves the clock to <t>: every monitor's boundaries and renotifications
 * up to <t>, in time order across monitors, so that a dry run prints its
 * transitions in order.
 */
static void
advance(struct monitors *ms, int64_t t)
{
	struct monitor *best;
	int64_t due, x;
	size_t i;

	if (!ms->started) {
		ms->started = 1;
		ms->now_us = t;
		for (i = 0; i < ms->nmon; i++)
			ms->mon[i].now_us = ms->mon[i].start_us = t;
		return;
	}
	if (t <= ms->now_us)
		return;
	for (;;) {
		best = NULL;
		due = INT64_MAX;
		for (i = 0; i < ms->nmon; i++)
			if ((x = mon_next(&ms->mon[i])) <= t && x < due) {
				due = x;
				best = &ms->mon[i];
			}
		if (best == NULL)
			break;
		mon_step(ms, best, due);
	}
	for (i = 0; i < ms->nmon; i++)
		ms->mon[i].now_us = t;
	ms->now_us = t;
}

/* Counts the event <f> in <m>, at event time <t>. */
static void
mon_event(struct monitors *ms, struct monitor *m, struct feed *f, int64_t t)
{
	int64_t cur = ms->now_us / m->width_us, b = t / m->width_us;
	struct mgroup *g;
	size_t i, slot, bin;
	double x = 0;
	int hit;

	if (m->tq != NULL && !feed_match(f, m->tq))
		return;
	hit = feed_match(f, m->q);
	if (hit && m->metric >= MM_SUM && measure_of(m, f, &x) == -1)
		hit = 0;
	if (!hit && m->metric != MM_RATE)
		return;
	if (b <= cur - m->nb) {
		ms->st.late++;
		return;
	}
	if (m->ngb == 0)
		g = m->lru_head;
	else {
		gw_buf_reset(&ms->key);
		for (i = 0; i < m->ngb; i++) {
			size_t at, k;
			char *kp;

			if (i > 0 && gw_buf_addc(&ms->key, '\x1f') == -1)
				goto nomem;
			at = ms->key.len;
			if (value_text(&ms->key, &m->gb[i], f) == -1)
				goto nomem;
			/* The separator and NUL cannot appear in a value. */
			kp = gw_buf_head(&ms->key);
			for (k = at; k < ms->key.len; k++)
				if (kp[k] == '\x1f' || kp[k] == '\0')
					kp[k] = '?';
		}
		i = ms->key.len;
		if (i > MON_KEY_MAX)
			i = gw_utf8_cut(gw_buf_head(&ms->key), i, MON_KEY_MAX);
		g = group_get(ms, m, gw_buf_head(&ms->key), i, cur);
	}
	if (g == NULL)
		goto nomem;
	rotate(m, g, cur);
	m->idle = 0;
	slot = (size_t)(b % m->nb);
	if (m->metric == MM_RATE) {
		g->tot[slot]++;
		g->tot_w++;
	}
	if (hit) {
		ms->st.matched++;
		if (g->sum != NULL) {
			if (g->n[slot] == 0 || x < g->min[slot])
				g->min[slot] = x;
			if (g->n[slot] == 0 || x > g->max[slot])
				g->max[slot] = x;
			g->sum[slot] += x;
		}
		if (g->hist != NULL) {
			bin = hbin(x);
			g->hist[slot * H_NBINS + bin]++;
			g->hist_w[bin]++;
		}
		g->n[slot]++;
		g->n_w++;
	}
	if (m->ngb > 0 && m->lru_head != g) {
		lru_unlink(m, g);
		lru_push(m, g);
	}
	evaluate(ms, m, g, ms->now_us);
	return;
nomem:
	/* No room (every group alerting) or no memory: not counted. */
	ms->st.dropped++;
}

void
monitor_feed(struct monitors *ms, const struct xevent *ev, json_t *event)
{
	struct feed f;
	int64_t t;
	size_t i;

	if (ms == NULL || ms->nmon == 0)
		return;
	memset(&f, 0, sizeof(f));
	f.ev = ev;
	f.json = event;
	t = ev->ts_us;
	if (t <= 0)
		t = ms->started ? ms->now_us : (int64_t)(gw_now_ns() / 1000);
	advance(ms, t);
	for (i = 0; i < ms->nmon; i++)
		mon_event(ms, &ms->mon[i], &f, t);
	if (f.owned)
		json_decref(f.json);
}

void
monitor_tick(struct monitors *ms, int64_t now_us)
{
	if (ms != NULL && now_us > 0)
		advance(ms, now_us);
}

void
monitor_flush(struct monitors *ms)
{
	int64_t longest = 0;
	size_t i;

	if (ms == NULL || !ms->started)
		return;
	for (i = 0; i < ms->nmon; i++)
		if (ms->mon[i].window_us + ms->mon[i].width_us > longest)
			longest = ms->mon[i].window_us + ms->mon[i].width_us;
	advance(ms, ms->now_us + longest);
}

int64_t
monitor_next_due(struct monitors *ms)
{
	int64_t due = INT64_MAX, t;
	size_t i;

	if (ms == NULL || !ms->started)
		return INT64_MAX;
	for (i = 0; i < ms->nmon; i++)
		if ((t = mon_next(&ms->mon[i])) < due)
			due = t;
	return due;
}

void
monitor_stats(const struct monitors *ms, struct monitor_stats *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	if (ms == NULL)
		return;
	*st = ms->st;
	st->groups = 0;
	for (i = 0; i < ms->nmon; i++)
		st->groups += ms->mon[i].ngroups;
}

size_t
monitor_count(const struct monitors *ms)
{
	return ms != NULL ? ms->nmon : 0;
}

size_t
monitor_channel_count(const struct monitors *ms)
{
	return ms != NULL ? ms->nch : 0;
}

struct monitor_channel *
monitor_channel_find(const struct monitors *ms, const char *name)
{
	size_t i;

	for (i = 0; ms != NULL && i < ms->nch; i++)
		if (strcmp(notify_channel_name(ms->ch[i]), name) == 0)
			return ms->ch[i];
	return NULL;
}

void
monitor_print(void *arg, const struct monitor_alert *a)
{
	char when[GW_RFC3339_LEN];
	const char *thr, *op;
	struct gw_buf b;
	FILE *fp = arg;

	gw_buf_init(&b, 0);
	gw_rfc3339((uint64_t)a->time_us * 1000, when);
	if (gw_buf_printf(&b, "%s %s ", when, a->monitor) == -1)
		goto out;
	if (a->group[0] == '\0' || strpbrk(a->group, " \t\"\\\n\r") != NULL) {
		if (gw_json_cstr(&b, a->group) == -1)
			goto out;
	} else if (gw_buf_adds(&b, a->group) == -1)
		goto out;
	if (gw_buf_printf(
	        &b, " %s->%s ", state_str[a->from], state_str[a->to]) == -1)
		goto out;
	if (!a->has_value) {
		if (gw_buf_adds(&b, "no data ") == -1)
			goto out;
	} else {
		thr = a->vars->v[MTV_THRESHOLD];
		op = a->comparator;
		if (a->to == MON_WARN ||
		    (a->to == MON_OK && a->from == MON_WARN && a->has_warning))
			thr = a->vars->v[MTV_WARN_THRESHOLD];
		if (a->to == MON_OK) {
			size_t i;

			for (i = 0; i < 4; i++)
				if (strcmp(op, cmp_str[i]) == 0) {
					op = cmp_not[i];
					break;
				}
		}
		if (gw_buf_printf(
		        &b, "%s %s %s ", a->vars->v[MTV_VALUE], op, thr) == -1)
			goto out;
	}
	if (gw_json_cstr(&b, a->message) == -1 || gw_buf_addc(&b, '\n') == -1)
		goto out;
	fwrite(gw_buf_head(&b), 1, b.len, fp);
out:
	gw_buf_fini(&b);
}

/* Configuration. */

static void
monitor_fini(struct monitor *m)
{
	size_t i;

	while (m->lru_head != NULL)
		group_free(m, m->lru_head);
	free(m->tab);
	free(m->id);
	free(m->name);
	free(m->query_text);
	free(m->total_text);
	free(m->window_text);
	free(m->metric_text);
	gw_query_free(m->q);
	gw_query_free(m->tq);
	path_fini(&m->measure);
	for (i = 0; i < m->ngb; i++)
		path_fini(&m->gb[i]);
	mtemplate_free(m->msg);
	free(m->ch);
	memset(m, 0, sizeof(*m));
}

void
monitor_free(struct monitors *ms)
{
	size_t i;

	if (ms == NULL)
		return;
	for (i = 0; i < ms->nmon; i++)
		monitor_fini(&ms->mon[i]);
	free(ms->mon);
	notify_channels_free(ms->ch, ms->nch);
	gw_buf_fini(&ms->msg);
	gw_buf_fini(&ms->title);
	gw_buf_fini(&ms->key);
	gw_buf_fini(&ms->tmp);
	free(ms);
}

int
monitor_test_alert(struct monitor_channel *ch, enum monitor_state to,
    monitor_notify_fn *fn, void *arg)
{
	static const char text[] =
	    "{{#is_alert}}This is a test notification from gw-export: the "
	    "channel works.{{/is_alert}}{{#is_recovery}}The gw-export test "
	    "is over: resolved.{{/is_recovery}}";
	char when[GW_RFC3339_LEN], msg[200];
	struct monitor_alert a;
	struct mt_vars vars;
	struct mtemplate *t;
	int64_t now = (int64_t)(gw_now_ns() / 1000);
	size_t off;

	if ((t = mtemplate_compile(
	         text, MT_MESSAGE_VARS, &off, msg, sizeof(msg))) == NULL)
		return -1;
	memset(&a, 0, sizeof(a));
	memset(&vars, 0, sizeof(vars));
	gw_rfc3339((uint64_t)now * 1000, when);
	vars.v[MTV_VALUE] = "1";
	vars.v[MTV_THRESHOLD] = "1";
	vars.v[MTV_WARN_THRESHOLD] = "";
	vars.v[MTV_COMPARATOR] = ">=";
	vars.v[MTV_GROUP] = "*";
	vars.v[MTV_QUERY] = "*";
	vars.v[MTV_MONITOR] = "gw-export test";
	vars.v[MTV_MONITOR_ID] = "gw-export-test";
	vars.v[MTV_WINDOW] = "1m";
	vars.v[MTV_METRIC] = "count";
	vars.v[MTV_STATUS] = state_str[to];
	vars.v[MTV_TRANSITION] = to == MON_ALERT ? "Triggered" : "Recovered";
	vars.v[MTV_TIME] = when;
	vars.v[MTV_FIRST_TRIGGERED_AT] = to == MON_ALERT ? when : "";
	vars.v[MTV_TRIGGERED_DURATION_SEC] = "0";
	vars.v[MTV_DEDUP_KEY] = "gw-monitor-gw-export-test:*";
	vars.v[MTV_TITLE] = to == MON_ALERT ? "[Triggered] gw-export test"
	                                    : "[Recovered] gw-export test";
	vars.flags =
	    to == MON_ALERT ? MTS_ALERT : MTS_RECOVERY | MTS_ALERT_RECOVERY;
	a.monitor = vars.v[MTV_MONITOR_ID];
	a.name = vars.v[MTV_MONITOR];
	a.group = "*";
	a.from = to == MON_ALERT ? MON_OK : MON_ALERT;
	a.to = to;
	a.has_value = 1;
	a.value = to == MON_ALERT ? 1 : 0;
	a.threshold = 1;
	a.comparator = ">=";
	a.time_us = now;
	a.triggered_us = to == MON_ALERT ? now : 0;
	a.title = vars.v[MTV_TITLE];
	a.message = to == MON_ALERT
	    ? "This is a test notification from gw-export: the channel works."
	    : "The gw-export test is over: resolved.";
	a.dedup_key = vars.v[MTV_DEDUP_KEY];
	a.vars = &vars;
	a.message_t = t;
	a.channels = &ch;
	a.nchannels = 1;
	fn(arg, &a);
	mtemplate_free(t);
	return 0;
}

static int
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether <o>'s groups mean the same to <m>: what is counted, and how. */
static int
same_window(const struct monitor *m, const struct monitor *o)
{
	size_t i;

	if (strcmp(m->id, o->id) != 0 ||
	    !same_text(m->query_text, o->query_text) ||
	    !same_text(m->total_text, o->total_text) ||
	    !same_text(m->metric_text, o->metric_text) ||
	    !same_text(m->measure.text, o->measure.text) ||
	    m->metric != o->metric || m->window_us != o->window_us ||
	    m->width_us != o->width_us || m->nb != o->nb ||
	    m->data_size != o->data_size || m->ngb != o->ngb)
		return 0;
	for (i = 0; i < m->ngb; i++)
		if (!same_text(m->gb[i].text, o->gb[i].text))
			return 0;
	return 1;
}

void
monitor_adopt(struct monitors *ms, struct monitors *old)
{
	size_t i, j;

	if (ms == NULL || old == NULL || !old->started)
		return;
	ms->started = 1;
	ms->now_us = old->now_us;
	ms->st = old->st;
	for (i = 0; i < ms->nmon; i++) {
		struct monitor *m = &ms->mon[i], *o = NULL;

		m->now_us = m->start_us = old->now_us;
		for (j = 0; j < old->nmon && o == NULL; j++)
			if (same_window(m, &old->mon[j]))
				o = &old->mon[j];
		if (o == NULL)
			continue;
		while (m->lru_head != NULL)
			group_free(m, m->lru_head);
		free(m->tab);
		m->tab = o->tab;
		m->tabn = o->tabn;
		m->lru_head = o->lru_head;
		m->lru_tail = o->lru_tail;
		m->ngroups = o->ngroups;
		m->now_us = o->now_us;
		m->start_us = o->start_us;
		m->idle = o->idle;
		m->rn_dirty = 1;
		o->tab = NULL;
		o->tabn = 0;
		o->lru_head = o->lru_tail = NULL;
		o->ngroups = 0;
	}
}

/* A scalar's string, or NULL with an error naming <what>. */
static const char *
scalar(const struct gw_node *n, const char *what, struct gw_error *err)
{
	if (n->type != GW_NODE_SCALAR || gw_opts_node_is_null(n) ||
	    n->str[0] == '\0') {
		gw_opts_node_error(err, n, "%s must be %s", what,
		    strcmp(what, "query") == 0 ? "a query string (use '*' "
		                                 "for every event)"
		                               : "a non-empty string");
		errno = EINVAL;
		return NULL;
	}
	return n->str;
}

/* Byte offset of line <line>, character <col> (1-based) of <s>. */
static size_t
str_off(const char *s, int line, int col)
{
	size_t i = 0;

	for (; line > 1 && s[i] != '\0'; i++)
		if (s[i] == '\n')
			line--;
	for (; col > 1 && s[i] != '\0' && s[i] != '\n'; col--)
		do
			i++;
		while ((s[i] & 0xc0) == 0x80);
	return i;
}

static struct gw_query *
query_node(const struct gw_node *n, const char *what,
    const struct monitor_opts *o, char **text, struct gw_error *err)
{
	struct gw_error qerr;
	struct gw_query *q;
	const char *s;
	int line, col;

	if ((s = scalar(n, what, err)) == NULL)
		return NULL;
	memset(&qerr, 0, sizeof(qerr));
	if ((q = gw_query_parse_opts(s, o->query, &qerr)) == NULL) {
		if (errno == ENOMEM)
			return NULL;
		mtemplate_node_pos(
		    n, str_off(s, qerr.line, qerr.col), &line, &col);
		gw_error_set(err, n->file, line, col, "%s: %s", what, qerr.msg);
		errno = EINVAL;
		return NULL;
	}
	if ((*text = strdup(s)) == NULL) {
		gw_query_free(q);
		return NULL;
	}
	return q;
}

static int
duration_node(const struct gw_node *n, const char *what, int64_t min,
    int64_t max, int64_t *us, struct gw_error *err)
{
	uint64_t ns;

	if (n->type != GW_NODE_SCALAR || gw_parse_duration(n->str, &ns) == -1) {
		gw_opts_node_error(
		    err, n, "%s: expected a duration such as 5m or 1h", what);
		errno = EINVAL;
		return -1;
	}
	*us = (int64_t)(ns / 1000);
	if (*us < min || *us > max) {
		gw_opts_node_error(err, n,
		    "%s: must be between %llds and %lldh", what,
		    (long long)(min / 1000000),
		    (long long)(max / 3600000000LL));
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int
count_node(const struct gw_node *n, const char *what, long long min,
    long long max, long long *out, struct gw_error *err)
{
	char *end;

	errno = 0;
	if (n->type == GW_NODE_SCALAR) {
		*out = strtoll(n->str, &end, 10);
		if (end != n->str && *end == '\0' && errno == 0 &&
		    *out >= min && *out <= max)
			return 0;
	}
	gw_opts_node_error(err, n, "%s: expected an integer from %lld to %lld",
	    what, min, max);
	errno = EINVAL;
	return -1;
}

/* A threshold in the monitor's unit: a count, "5%" or 0.05, "500ms". */
static int
threshold_node(const struct monitor *m, const struct gw_node *n,
    const char *what, double *out, struct gw_error *err)
{
	const char *s = n->str;
	uint64_t ns;
	size_t len;
	char *end;

	if (n->type != GW_NODE_SCALAR || gw_opts_node_is_null(n))
		goto bad;
	len = strlen(s);
	errno = 0;
	*out = strtod(s, &end);
	if (m->metric == MM_RATE) {
		if (end != s && *end == '%' && end[1] == '\0' && errno == 0 &&
		    *out >= 0 && *out <= 100) {
			*out /= 100;
			return 0;
		}
		if (end != s && *end == '\0' && errno == 0 && *out >= 0 &&
		    *out <= 1)
			return 0;
		gw_opts_node_error(err, n,
		    "%s: a rate is a fraction: write 5%% or 0.05", what);
		errno = EINVAL;
		return -1;
	}
	if (end != s && *end == '\0' && errno == 0 && isfinite(*out)) {
		if (m->metric == MM_COUNT && *out < 0)
			goto bad;
		return 0;
	}
	if (m->measure_dur && m->metric != MM_COUNT && len > 0 &&
	    gw_parse_duration(s, &ns) == 0) {
		*out = (double)ns;
		return 0;
	}
bad:
	gw_opts_node_error(err, n, "%s: expected %s", what,
	    m->metric == MM_COUNT ? "a number of events"
	        : m->measure_dur  ? "a duration such as 500ms (or ns)"
	                          : "a number");
	errno = EINVAL;
	return -1;
}

static int
metric_node(struct monitor *m, const struct gw_node *n, struct gw_error *err)
{
	static const struct {
		const char *name;
		enum metric metric;
	} names[] = { { "count", MM_COUNT }, { "rate", MM_RATE },
		{ "sum", MM_SUM }, { "avg", MM_AVG }, { "min", MM_MIN },
		{ "max", MM_MAX } };
	const char *s = n->str, *p;
	char *end;
	size_t i;
	double pct;

	if (n->type != GW_NODE_SCALAR)
		goto bad;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0) {
			m->metric = names[i].metric;
			return 0;
		}
	if (strcmp(s, "median") == 0) {
		m->metric = MM_PCT;
		m->pct = 0.5;
		return 0;
	}
	/* p95, pc95 (Datadog's spelling), p99.9 */
	if (s[0] == 'p') {
		p = s + (s[1] == 'c' ? 2 : 1);
		errno = 0;
		pct = strtod(p, &end);
		if (p[0] >= '0' && p[0] <= '9' && end != p && *end == '\0' &&
		    errno == 0 && pct > 0 && pct < 100) {
			m->metric = MM_PCT;
			m->pct = pct / 100;
			return 0;
		}
	}
bad:
	gw_opts_node_error(err, n,
	    "metric: expected count, rate, sum, avg, min, max, median or a "
	    "percentile such as p95");
	errno = EINVAL;
	return -1;
}

static int
comparator_node(
    struct monitor *m, const struct gw_node *n, struct gw_error *err)
{
	static const struct {
		const char *name;
		enum cmp cmp;
	} names[] = { { ">=", CMP_GE }, { ">", CMP_GT }, { "<=", CMP_LE },
		{ "<", CMP_LT }, { "above", CMP_GT },
		{ "above_or_equal", CMP_GE }, { "above or equal to", CMP_GE },
		{ "below", CMP_LT }, { "below_or_equal", CMP_LE },
		{ "below or equal to", CMP_LE } };
	size_t i;

	for (i = 0;
	     n->type == GW_NODE_SCALAR && i < sizeof(names) / sizeof(names[0]);
	     i++)
		if (strcmp(n->str, names[i].name) == 0) {
			m->cmp = names[i].cmp;
			return 0;
		}
	gw_opts_node_error(err, n,
	    "comparator: expected >=, >, <= or < (or above, above_or_equal, "
	    "below, below_or_equal)");
	errno = EINVAL;
	return -1;
}

static int
group_by_node(struct monitor *m, const struct gw_node *n, struct gw_error *err)
{
	const struct gw_node *it;
	const char *why;
	size_t i, cnt = n->type == GW_NODE_SEQ ? n->n : 1;

	if (n->type == GW_NODE_MAP || cnt == 0 || cnt > MON_MAX_GB) {
		gw_opts_node_error(err, n,
		    "group_by: expected an attribute path, or a list of 1 to "
		    "%d",
		    MON_MAX_GB);
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < cnt; i++) {
		it = n->type == GW_NODE_SEQ ? &n->items[i] : n;
		why = NULL;
		errno = 0;
		if (it->type != GW_NODE_SCALAR || gw_opts_node_is_null(it) ||
		    path_parse(&m->gb[i], it->str, &why) == -1) {
			if (errno == ENOMEM && why == NULL &&
			    it->type == GW_NODE_SCALAR)
				return -1;
			gw_opts_node_error(err, it, "group_by: expected %s",
			    why != NULL ? why
			                : "an attribute path such as "
			                  "conn.client_ip");
			errno = EINVAL;
			return -1;
		}
		m->ngb++;
	}
	return 0;
}

static int
notify_node(struct monitors *ms, struct monitor *m, const struct gw_node *n,
    struct gw_error *err)
{
	size_t i, j, cnt = n->type == GW_NODE_SEQ ? n->n : 1;
	const struct gw_node *it;
	struct gw_buf names;

	if (n->type == GW_NODE_MAP) {
		gw_opts_node_error(
		    err, n, "notify: expected a list of channels");
		errno = EINVAL;
		return -1;
	}
	if (gw_opts_node_is_null(n))
		return 0;
	if ((m->ch = calloc(cnt, sizeof(*m->ch))) == NULL)
		return -1;
	for (i = 0; i < cnt; i++) {
		it = n->type == GW_NODE_SEQ ? &n->items[i] : n;
		if (it->type == GW_NODE_SCALAR &&
		    (m->ch[m->nch] = monitor_channel_find(ms, it->str)) !=
		        NULL) {
			for (j = 0; j < m->nch; j++)
				if (m->ch[j] == m->ch[m->nch])
					break;
			if (j == m->nch)
				m->nch++;
			continue;
		}
		gw_buf_init(&names, 400);
		for (j = 0; j < ms->nch; j++)
			(void)gw_buf_printf(&names, "%s%s", j ? ", " : "",
			    notify_channel_name(ms->ch[j]));
		(void)gw_buf_addc(&names, '\0');
		if (it->type != GW_NODE_SCALAR)
			gw_opts_node_error(
			    err, it, "notify: expected a channel name");
		else if (ms->nch == 0)
			gw_opts_node_error(err, it,
			    "notify: unknown channel '%s': there is no "
			    "channels: section",
			    it->str);
		else
			gw_opts_node_error(err, it,
			    "notify: unknown channel '%s' (channels: %s)",
			    it->str, names.len ? gw_buf_head(&names) : "");
		gw_buf_fini(&names);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static const char *const monitor_keys[] = { "name", "query", "total_query",
	"metric", "measure", "window", "critical", "warning", "comparator",
	"group_by", "max_groups", "min_events", "message", "notify",
	"renotify" };

#define NKEYS (sizeof(monitor_keys) / sizeof(monitor_keys[0]))

static const char default_message[] =
    "{{metric}} is {{value}} over the last {{window}} "
    "({{comparator}} {{threshold}} alerts)";

static int
monitor_node(struct monitors *ms, struct monitor *m, const struct gw_node *key,
    const struct gw_node *map, const struct monitor_opts *o,
    struct gw_error *err)
{
	const struct gw_node *v[NKEYS] = { 0 };
	const char *s, *why;
	long long x;
	size_t i, j;
	enum {
		K_NAME,
		K_QUERY,
		K_TOTAL,
		K_METRIC,
		K_MEASURE,
		K_WINDOW,
		K_CRIT,
		K_WARN,
		K_CMP,
		K_GROUP_BY,
		K_MAX_GROUPS,
		K_MIN_EVENTS,
		K_MESSAGE,
		K_NOTIFY,
		K_RENOTIFY,
	};

	s = key->str;
	if (s[0] == '\0' || strlen(s) > MON_ID_MAX ||
	    strspn(s,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789-_.") != strlen(s)) {
		gw_opts_node_error(err, key,
		    "monitor name '%s': use up to %d letters, digits, '-', "
		    "'_' and '.' (the display name goes in name:)",
		    s, MON_ID_MAX);
		errno = EINVAL;
		return -1;
	}
	if ((m->id = strdup(s)) == NULL)
		return -1;
	if (map->type != GW_NODE_MAP) {
		gw_opts_node_error(err, map,
		    "monitor '%s' must be a mapping with query, window, "
		    "critical...",
		    s);
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < map->n; i++) {
		for (j = 0; j < NKEYS; j++)
			if (gw_opts_node_get(map, monitor_keys[j]) ==
			        &map->items[i] &&
			    v[j] == NULL)
				break;
		if (j == NKEYS) {
			gw_opts_node_error(err, &map->keys[i],
			    "unknown key '%s' in monitor '%s': use query, "
			    "window, metric, measure, total_query, critical, "
			    "warning, comparator, group_by, max_groups, "
			    "min_events, message, notify, renotify or name",
			    map->keys[i].str, m->id);
			errno = EINVAL;
			return -1;
		}
		v[j] = &map->items[i];
	}
	if (v[K_QUERY] == NULL || v[K_CRIT] == NULL) {
		gw_opts_node_error(err, key, "monitor '%s' needs %s", m->id,
		    v[K_QUERY] == NULL ? "a query (use '*' for every event)"
		                       : "a critical threshold");
		errno = EINVAL;
		return -1;
	}
	if (v[K_NAME] != NULL) {
		if ((s = scalar(v[K_NAME], "name", err)) == NULL)
			return -1;
		m->name = strdup(s);
	} else
		m->name = strdup(m->id);
	if (m->name == NULL)
		return -1;
	if ((m->q = query_node(v[K_QUERY], "query", o, &m->query_text, err)) ==
	    NULL)
		return -1;

	m->metric = MM_COUNT;
	if (v[K_METRIC] != NULL && metric_node(m, v[K_METRIC], err) == -1)
		return -1;
	if (v[K_TOTAL] != NULL) {
		if (m->metric != MM_RATE) {
			gw_opts_node_error(err, v[K_TOTAL],
			    "total_query applies to metric: rate");
			errno = EINVAL;
			return -1;
		}
		if ((m->tq = query_node(v[K_TOTAL], "total_query", o,
		         &m->total_text, err)) == NULL)
			return -1;
	}
	if (m->metric >= MM_SUM) {
		s = "duration";
		if (v[K_MEASURE] != NULL &&
		    (s = scalar(v[K_MEASURE], "measure", err)) == NULL)
			return -1;
		if (path_parse(&m->measure, s, &why) == -1) {
			if (errno == ENOMEM)
				return -1;
			gw_opts_node_error(
			    err, v[K_MEASURE], "measure: expected %s", why);
			return -1;
		}
		m->measure_dur = strcmp(m->measure.seg[m->measure.nseg - 1],
		                     "duration_ns") == 0 ||
		    (strlen(m->measure.seg[m->measure.nseg - 1]) > 3 &&
		        strcmp(m->measure.seg[m->measure.nseg - 1] +
		                strlen(m->measure.seg[m->measure.nseg - 1]) - 3,
		            "_ns") == 0);
	} else if (v[K_MEASURE] != NULL) {
		gw_opts_node_error(err, v[K_MEASURE],
		    "measure applies to metric sum, avg, min, max and "
		    "percentiles");
		errno = EINVAL;
		return -1;
	}
	if (m->metric >= MM_SUM)
		m->metric_text = malloc(
		    strlen(v[K_METRIC]->str) + strlen(m->measure.text) + 3);
	else
		m->metric_text = malloc(8);
	if (m->metric_text == NULL)
		return -1;
	if (m->metric >= MM_SUM)
		snprintf(m->metric_text,
		    strlen(v[K_METRIC]->str) + strlen(m->measure.text) + 3,
		    "%s(%s)", v[K_METRIC]->str, m->measure.text);
	else
		snprintf(m->metric_text, 8, "%s",
		    m->metric == MM_RATE ? "rate" : "count");

	m->window_us = 5 * 60 * 1000000LL;
	if (v[K_WINDOW] != NULL &&
	    duration_node(v[K_WINDOW], "window", MON_MIN_WINDOW, MON_MAX_WINDOW,
	        &m->window_us, err) == -1)
		return -1;
	if ((m->window_text = strdup(
	         v[K_WINDOW] != NULL ? v[K_WINDOW]->str : "5m")) == NULL)
		return -1;
	m->nb = m->metric == MM_PCT ? MON_NB_PCT : MON_NB;
	m->width_us = m->window_us / m->nb;

	m->cmp = CMP_GE;
	if (v[K_CMP] != NULL && comparator_node(m, v[K_CMP], err) == -1)
		return -1;
	if (threshold_node(m, v[K_CRIT], "critical", &m->crit, err) == -1)
		return -1;
	if (v[K_WARN] != NULL) {
		if (threshold_node(m, v[K_WARN], "warning", &m->warn, err) ==
		    -1)
			return -1;
		m->has_warn = 1;
		if ((m->cmp <= CMP_GT && m->warn >= m->crit) ||
		    (m->cmp >= CMP_LE && m->warn <= m->crit)) {
			gw_opts_node_error(err, v[K_WARN],
			    "warning must be %s the critical threshold (the "
			    "comparator is %s)",
			    m->cmp <= CMP_GT ? "below" : "above",
			    cmp_str[m->cmp]);
			errno = EINVAL;
			return -1;
		}
	}

	if (v[K_GROUP_BY] != NULL && group_by_node(m, v[K_GROUP_BY], err) == -1)
		return -1;
	m->max_groups =
	    m->metric == MM_PCT ? MON_MAX_GROUPS_PCT : MON_MAX_GROUPS;
	if (v[K_MAX_GROUPS] != NULL) {
		if (m->ngb == 0) {
			gw_opts_node_error(
			    err, v[K_MAX_GROUPS], "max_groups needs group_by");
			errno = EINVAL;
			return -1;
		}
		if (count_node(v[K_MAX_GROUPS], "max_groups", 1,
		        MON_GROUPS_LIMIT, &x, err) == -1)
			return -1;
		m->max_groups = (size_t)x;
	}
	if (v[K_MIN_EVENTS] != NULL) {
		if (m->metric == MM_COUNT || m->metric == MM_SUM) {
			gw_opts_node_error(err, v[K_MIN_EVENTS],
			    "min_events applies to rate, avg, min, max and "
			    "percentiles");
			errno = EINVAL;
			return -1;
		}
		if (count_node(v[K_MIN_EVENTS], "min_events", 1, 1000000000, &x,
		        err) == -1)
			return -1;
		m->min_events = (uint32_t)x;
	}

	if (v[K_MESSAGE] != NULL)
		m->msg = mtemplate_node(
		    v[K_MESSAGE], "message", MT_MESSAGE_VARS, err);
	else {
		size_t off;
		char msg[200];

		m->msg = mtemplate_compile(
		    default_message, MT_MESSAGE_VARS, &off, msg, sizeof(msg));
	}
	if (m->msg == NULL)
		return -1;
	if (v[K_NOTIFY] != NULL && notify_node(ms, m, v[K_NOTIFY], err) == -1)
		return -1;
	if (v[K_RENOTIFY] != NULL && !gw_opts_node_is_null(v[K_RENOTIFY]) &&
	    !(v[K_RENOTIFY]->type == GW_NODE_SCALAR &&
	        strcmp(v[K_RENOTIFY]->str, "0") == 0) &&
	    duration_node(v[K_RENOTIFY], "renotify", MON_MIN_WINDOW,
	        INT64_MAX / 4, &m->renotify_us, err) == -1)
		return -1;

	m->rn_due = INT64_MAX;
	m->data_size = data_size(m->metric, (size_t)m->nb);
	if (m->ngb > 0) {
		for (m->tabn = 16; m->tabn < 2 * m->max_groups; m->tabn *= 2)
			;
		if ((m->tab = calloc(m->tabn, sizeof(*m->tab))) == NULL)
			return -1;
	} else {
		/* The one group: never evicted, evaluated from the start. */
		struct mgroup *g = group_alloc(m, "", 0);

		if (g == NULL)
			return -1;
		lru_push(m, g);
		m->ngroups = 1;
	}
	return 0;
}

struct monitors *
monitor_load(const struct gw_node *mons, const struct gw_node *chans,
    const struct monitor_opts *opts, struct gw_error *err)
{
	struct monitor_opts none;
	struct monitors *ms;
	size_t i;

	if (opts == NULL) {
		memset(&none, 0, sizeof(none));
		opts = &none;
	}
	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		goto nomem;
	ms->fn = opts->notify;
	ms->arg = opts->arg;
	gw_buf_init(&ms->msg, 0);
	gw_buf_init(&ms->title, 0);
	gw_buf_init(&ms->key, 0);
	gw_buf_init(&ms->tmp, 0);
	if (notify_channels_load(chans, opts->flags, &ms->ch, &ms->nch, err) ==
	    -1)
		goto fail;
	if (mons == NULL || gw_opts_node_is_null(mons))
		return ms;
	if (mons->type != GW_NODE_MAP) {
		gw_opts_node_error(err, mons,
		    "monitors must be a mapping of names to monitors");
		errno = EINVAL;
		goto fail;
	}
	if ((ms->mon = calloc(mons->n ? mons->n : 1, sizeof(*ms->mon))) == NULL)
		goto nomem;
	for (i = 0; i < mons->n; i++) {
		ms->nmon++;
		if (monitor_node(ms, &ms->mon[i], &mons->keys[i],
		        &mons->items[i], opts, err) == -1) {
			if (errno == ENOMEM &&
			    (err == NULL || err->msg[0] == '\0'))
				goto nomem;
			goto fail;
		}
	}
	return ms;
nomem:
	gw_error_set(
	    err, mons != NULL ? mons->file : NULL, 0, 0, "out of memory");
	errno = ENOMEM;
fail:
	monitor_free(ms);
	return NULL;
}
