// SPDX-License-Identifier: MIT
/*
 * The Loki encoder: the push API's JSON body (fmt.h).  Events are
 * grouped by label set as they come: each event's labels are rendered
 * as the JSON object Loki will get, hashed, and looked up in a small
 * open-addressing table of the batch's streams.  The entries themselves
 * go into one arena, each linked to the previous entry of its stream, so
 * memory stays within the batch's max_bytes whatever the number of
 * streams, and fmt_end() writes the body stream by stream.  Labels come
 * from pick_event()'s fields, or from a second scan with a schema built
 * from the configuration for the attributes those do not cover.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "json.h"
#include "query.h"
#include "timeutil.h"

#define MAX_LABELS    15   /* Loki's max_label_names_per_series */
#define MAX_LABEL_VAL 1024 /* bytes of a label value (Loki: 2048) */
#define HDR           8    /* an arena record: next (u32), length (u32) */
#define NONE          UINT32_MAX

enum lsrc { LS_CONST, LS_XF, LS_STATUS, LS_HOST, LS_SCAN };

struct label {
	char *name;
	enum lsrc src;
	int slot;    /* XF_* for LS_XF, the scan's slot for LS_SCAN */
	char *value; /* LS_CONST */
};

/* A node of the schema built for LS_SCAN labels. */
struct dnode {
	struct gw_jschema s;
	struct gw_jfield *f;
	struct dnode *next; /* every node, for freeing */
};

struct loki_enc {
	struct xenc base;
	struct label lab[MAX_LABELS];
	size_t nlab;
	struct dnode *root, *nodes;
	int nscan;
	size_t max_line, max_streams;
	char *service;     /* the job of an event that has no label */
	struct gw_buf key; /* the event's labels, rendered */
	struct gw_buf fix, shr, tmp;
};

struct lstream {
	uint64_t hash;
	uint32_t koff, klen; /* the rendered labels in <keys> */
	uint32_t head, tail; /* first and last record in the arena */
};

/* The batch's state (xbatch.state). */
struct lbatch {
	struct lstream *st; /* in order of creation */
	size_t nst;
	uint32_t *tab; /* index + 1 into st; 0 is empty */
	size_t tcap;   /* a power of two, at least twice max_streams */
	struct gw_buf keys, arena;
};

static const char streams_open[] = "{\"streams\":[";
static const char stream_open[] = "{\"stream\":";
static const char values_open[] = ",\"values\":[";
#define BASE        (sizeof(streams_open) - 1 + 2) /* and "]}" */
#define STREAM_OVER (sizeof(stream_open) - 1 + sizeof(values_open) - 1 + 2)

/* -- configuration -------------------------------------------------------- */

static const struct {
	const char *path;
	int xf;
} xf_paths[] = {
	{ "event_id", XF_EVENT_ID },
	{ "event_type", XF_EVENT_TYPE },
	{ "event_timestamp", XF_TIMESTAMP },
	{ "object.conn.client_ip", XF_CLIENT_IP },
	{ "object.conn.server_name", XF_SERVER_NAME },
	{ "object.http.request.method", XF_METHOD },
	{ "object.http.request.url.raw", XF_URL },
	{ "object.http.request.url.host", XF_HOST },
	{ "object.http.request.url.path", XF_PATH },
	{ "object.http.request.url.query", XF_QUERY },
	{ "object.http.request.user_agent", XF_USER_AGENT },
	{ "object.http.response.status_code", XF_STATUS },
	{ "object.duration_ns", XF_DURATION },
	{ "object.error.code", XF_ERROR_CODE },
};

static int
valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || (n >= 2 && s[0] == '_' && s[1] == '_'))
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!(c == '_' || (c >= 'a' && c <= 'z') ||
		        (c >= 'A' && c <= 'Z') ||
		        (i > 0 && c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

static struct dnode *
dnode_new(struct loki_enc *l)
{
	struct dnode *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->next = l->nodes;
	l->nodes = n;
	return n;
}

/* Adds the member <key>/<klen> to <n>, or finds it; returns its index. */
static long
dnode_field(struct loki_enc *l, struct dnode *n, const char *key, size_t klen)
{
	struct gw_jfield *f;
	char *k;
	size_t i;

	for (i = 0; i < n->s.n; i++)
		if (n->f[i].keylen == klen &&
		    memcmp(n->f[i].key, key, klen) == 0)
			return (long)i;
	if ((f = realloc(n->f, (n->s.n + 1) * sizeof(*f))) == NULL)
		return -1;
	n->f = f;
	n->s.fields = f;
	if ((k = strndup(key, klen)) == NULL)
		return -1;
	f[n->s.n].key = k;
	f[n->s.n].keylen = (uint8_t)klen;
	f[n->s.n].slot = -1;
	f[n->s.n].sub = NULL;
	(void)l;
	return (long)n->s.n++;
}

/*
 * Adds <path> (dots separate members; "\." is a dot in a name) to the
 * scan's schema with slot <slot>.  Returns 0, or -1 (EINVAL, ENOMEM).
 */
static int
add_scan_path(struct loki_enc *l, const char *path, int slot)
{
	struct dnode *n, *sub;
	char seg[256];
	size_t k;
	long i;

	if (l->root == NULL && (l->root = dnode_new(l)) == NULL)
		return -1;
	n = l->root;
	for (;;) {
		for (k = 0; *path != '\0' && *path != '.'; path++) {
			if (path[0] == '\\' && path[1] == '.')
				path++;
			if (k == sizeof(seg) - 1) {
				errno = EINVAL;
				return -1;
			}
			seg[k++] = *path;
		}
		if (k == 0) {
			errno = EINVAL;
			return -1;
		}
		if ((i = dnode_field(l, n, seg, k)) == -1)
			return -1;
		if (*path == '\0') {
			n->f[i].slot = (int8_t)slot;
			return 0;
		}
		path++;
		if (n->f[i].sub == NULL) {
			if ((sub = dnode_new(l)) == NULL)
				return -1;
			n->f[i].sub = &sub->s;
		}
		/* <s> is a dnode's first member. */
		n = (struct dnode *)(uintptr_t)n->f[i].sub;
	}
}

static int
is_envelope(const char *p)
{
	static const char *const env[] = { "event_id", "event_type",
		"event_timestamp", "principal" };
	size_t i, n;

	for (i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		n = strlen(env[i]);
		if (strncmp(p, env[i], n) == 0 && (p[n] == '\0' || p[n] == '.'))
			return 1;
	}
	return 0;
}

/* Reads one "name=source" into <lb>. */
static int
parse_label(struct loki_enc *l, struct label *lb, const char *spec,
    const struct fmt_loki_opts *o, struct gw_error *err)
{
	const char *eq = strchr(spec, '='), *src, *path;
	char full[512];
	size_t i, n;

	if (eq == NULL || !valid_name(spec, (size_t)(eq - spec))) {
		gw_error_set(err, NULL, 0, 0,
		    "loki label '%s': a name must match [A-Za-z_][A-Za-z0-9_]* "
		    "and not start with __",
		    spec);
		goto inval;
	}
	if ((lb->name = strndup(spec, (size_t)(eq - spec))) == NULL)
		return -1;
	src = eq + 1;
	n = strlen(src);
	if (n >= 2 && src[0] == '"' && src[n - 1] == '"') {
		lb->src = LS_CONST;
		lb->value = strndup(src + 1, n - 2);
		return lb->value != NULL ? 0 : -1;
	}
	if (strcmp(src, "service") == 0 || strcmp(src, "source") == 0) {
		lb->src = LS_CONST;
		lb->value =
		    strdup(src[1] == 'e' ? (o->service ? o->service : "gw")
		                         : (o->source ? o->source : "gw"));
		return lb->value != NULL ? 0 : -1;
	}
	if (strcmp(src, "status") == 0 || strcmp(src, "level") == 0) {
		lb->src = LS_STATUS;
		return 0;
	}
	if (strcmp(src, "host") == 0) {
		lb->src = LS_HOST;
		return 0;
	}
	if (src[0] == '@')
		src++;
	path = gw_query_attr_path(src);
	if (strncmp(path, "object.", 7) == 0)
		path += 7;
	if (path[0] == '\0' || strlen(path) + 8 > sizeof(full)) {
		gw_error_set(
		    err, NULL, 0, 0, "loki label '%s': bad attribute", spec);
		goto inval;
	}
	n = strlen(path);
	if (is_envelope(path))
		memcpy(full, path, n + 1);
	else {
		memcpy(full, "object.", 7);
		memcpy(full + 7, path, n + 1);
	}
	for (i = 0; i < sizeof(xf_paths) / sizeof(xf_paths[0]); i++)
		if (strcmp(full, xf_paths[i].path) == 0) {
			lb->src = LS_XF;
			lb->slot = xf_paths[i].xf;
			return 0;
		}
	lb->src = LS_SCAN;
	lb->slot = l->nscan++;
	if (add_scan_path(l, full, lb->slot) == -1) {
		if (errno == EINVAL)
			gw_error_set(err, NULL, 0, 0,
			    "loki label '%s': bad attribute", spec);
		return -1;
	}
	return 0;
inval:
	errno = EINVAL;
	return -1;
}

/* -- encoding ------------------------------------------------------------- */

/* Appends ,"name":"value" for a scalar <v>; nothing for other types. */
static int
put_val(struct loki_enc *l, struct gw_buf *k, const struct label *lb,
    const struct gw_jval *v, int *first)
{
	const char *p;
	size_t n;

	switch (v->type) {
	case GW_JSTRING:
		gw_buf_reset(&l->tmp);
		if (pick_text(v, &l->tmp, &p, &n) == -1)
			return -1;
		break;
	case GW_JNUMBER:
	case GW_JTRUE:
	case GW_JFALSE:
		p = v->p;
		n = v->len;
		break;
	default:
		return 0;
	}
	if (n == 0)
		return 0; /* Loki drops empty labels; so do we */
	n = gw_utf8_cut(p, n, MAX_LABEL_VAL);
	if (gw_json_key(k, lb->name, *first) == -1 ||
	    gw_json_str(k, p, n) == -1)
		return -1;
	*first = 0;
	return 0;
}

static int
put_cstr(struct gw_buf *k, const char *name, const char *s, int *first)
{
	if (s[0] == '\0')
		return 0;
	if (gw_json_key(k, name, *first) == -1 ||
	    gw_json_str(k, s, gw_utf8_cut(s, strlen(s), MAX_LABEL_VAL)) == -1)
		return -1;
	*first = 0;
	return 0;
}

/* Renders the event's label set into l->key: {"job":"gw",...}. */
static int
render_labels(
    struct loki_enc *l, const struct xevent *ev, const struct gw_jval *scan)
{
	struct gw_buf *k = &l->key;
	const struct gw_jval *v;
	const struct label *lb;
	size_t i;
	int err = 0, first = 1;

	gw_buf_reset(k);
	err |= gw_json_raw(k, "{", 1);
	for (i = 0; i < l->nlab; i++) {
		lb = &l->lab[i];
		switch (lb->src) {
		case LS_CONST:
			err |= put_cstr(k, lb->name, lb->value, &first);
			break;
		case LS_STATUS:
			err |= put_cstr(k, lb->name, pick_status(ev), &first);
			break;
		case LS_HOST:
			v = &ev->f[XF_HOST];
			if (v->type != GW_JSTRING || v->len == 0)
				v = &ev->f[XF_SERVER_NAME];
			err |= put_val(l, k, lb, v, &first);
			break;
		case LS_XF:
			err |= put_val(l, k, lb, &ev->f[lb->slot], &first);
			break;
		case LS_SCAN:
			err |= put_val(l, k, lb, &scan[lb->slot], &first);
			break;
		}
	}
	if (first) /* Loki wants at least one label */
		err |= put_cstr(k, "job", l->service, &first);
	err |= gw_json_raw(k, "}", 1);
	return err ? -1 : 0;
}

static uint64_t
hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static struct lbatch *
lbatch_get(struct loki_enc *l, struct xbatch *b)
{
	struct lbatch *s = b->state;

	if (s != NULL)
		return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	for (s->tcap = 8; s->tcap < 2 * l->max_streams; s->tcap *= 2)
		;
	s->st = calloc(l->max_streams, sizeof(*s->st));
	s->tab = calloc(s->tcap, sizeof(*s->tab));
	if (s->st == NULL || s->tab == NULL) {
		free(s->st);
		free(s->tab);
		free(s);
		return NULL;
	}
	gw_buf_init(&s->keys, 0);
	gw_buf_init(&s->arena, 0);
	b->state = s;
	return s;
}

/* The slot of the stream with labels l->key, or of where it would go. */
static size_t
lookup(struct loki_enc *l, struct lbatch *s, uint64_t h)
{
	const struct lstream *st;
	size_t i = (size_t)h & (s->tcap - 1);

	for (; s->tab[i] != 0; i = (i + 1) & (s->tcap - 1)) {
		st = &s->st[s->tab[i] - 1];
		if (st->hash == h && st->klen == l->key.len &&
		    memcmp(gw_buf_head(&s->keys) + st->koff,
		        gw_buf_head(&l->key), l->key.len) == 0)
			break;
	}
	return i;
}

/* Appends the record ["<ns>","<line>"] to the arena; returns its size. */
static int
put_record(struct lbatch *s, const struct xevent *ev, const char *line,
    size_t len, size_t *size)
{
	struct gw_buf *a = &s->arena;
	uint64_t ns = ev->ts_us > 0 ? (uint64_t)ev->ts_us * 1000 : gw_now_ns();
	size_t mark = a->len;
	uint32_t hdr[2] = { NONE, 0 };
	int err = 0;

	err |= gw_json_raw(a, hdr, HDR);
	err |= gw_json_raw(a, "[\"", 2);
	err |= gw_json_u64(a, ns);
	err |= gw_json_raw(a, "\",", 2);
	err |= gw_json_str(a, line, len);
	err |= gw_json_raw(a, "]", 1);
	if (err || a->len - mark - HDR > UINT32_MAX - 1) {
		a->len = mark;
		errno = ENOMEM;
		return -1;
	}
	*size = a->len - mark - HDR;
	hdr[1] = (uint32_t)*size;
	memcpy(gw_buf_head(a) + mark, hdr, HDR);
	return 0;
}

static int
loki_add(struct xenc *e, struct xbatch *b, const char *line, size_t len,
    const struct xevent *given)
{
	struct loki_enc *l = (struct loki_enc *)e;
	struct gw_jval scan[MAX_LABELS];
	struct lstream *st;
	struct lbatch *s;
	struct xevent ev;
	size_t slot, rec, add, raw, mark, room, tries;
	uint64_t h;
	uint32_t prev[2];
	int fresh;

	if (b->n >= e->max_events)
		return FMT_FULL;
	if ((s = lbatch_get(l, b)) == NULL)
		return -1;
	len = pick_trim(&line, len);
	if (!pick_utf8_ok(line, len)) {
		if (pick_utf8_fix(line, len, &l->fix) == -1)
			return -1;
		line = gw_buf_head(&l->fix);
		len = l->fix.len;
		given = NULL;
		e->counts.repaired++;
	}
	if (given != NULL)
		ev = *given;
	else if (pick_event(&ev, line, len) == -1)
		return -1;
	ev.line = line;
	ev.len = len;
	memset(scan, 0, sizeof(scan));
	if (l->root != NULL && gw_jscan(line, len, &l->root->s, scan) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (render_labels(l, &ev, scan) == -1)
		return -1;
	h = hash(gw_buf_head(&l->key), l->key.len);
	slot = lookup(l, s, h);
	fresh = s->tab[slot] == 0;
	if (fresh && s->nst == l->max_streams)
		return FMT_FULL; /* nst > 0, so the batch is not empty */

	if (len > l->max_line) {
		if (pick_shrink(line, len, l->max_line, &l->shr) == -1)
			return -1;
		line = gw_buf_head(&l->shr);
		len = l->shr.len;
		e->counts.truncated++;
	}
	mark = s->arena.len;
	for (tries = 0;; tries++) {
		if (put_record(s, &ev, line, len, &rec) == -1)
			return -1;
		add = fresh ? (s->nst > 0) + STREAM_OVER + l->key.len + rec
		            : 1 + rec;
		raw = (b->n == 0 ? BASE : b->raw) + add;
		if (raw <= e->max_bytes)
			break;
		s->arena.len = mark;
		if (b->n > 0)
			return FMT_FULL;
		/* Alone and too large: shrink, allowing for escapes. */
		room = e->max_bytes - BASE - STREAM_OVER - l->key.len - 32;
		if (e->max_bytes < BASE + STREAM_OVER + l->key.len + 64 ||
		    tries == 3) {
			errno = EMSGSIZE;
			return -1;
		}
		room = tries == 0 ? room : tries == 1 ? room / 2 : room / 6;
		if (pick_shrink(ev.line, ev.len, room, &l->shr) == -1)
			return -1;
		line = gw_buf_head(&l->shr);
		len = l->shr.len;
		if (tries == 0)
			e->counts.truncated++;
	}

	if (fresh) {
		st = &s->st[s->nst];
		st->hash = h;
		st->koff = (uint32_t)s->keys.len;
		st->klen = (uint32_t)l->key.len;
		st->head = (uint32_t)mark;
		if (gw_json_raw(&s->keys, gw_buf_head(&l->key), l->key.len)) {
			s->arena.len = mark;
			return -1;
		}
		s->tab[slot] = (uint32_t)++s->nst;
	} else {
		st = &s->st[s->tab[slot] - 1];
		memcpy(prev, gw_buf_head(&s->arena) + st->tail, HDR);
		prev[0] = (uint32_t)mark;
		memcpy(gw_buf_head(&s->arena) + st->tail, prev, HDR);
	}
	st->tail = (uint32_t)mark;
	b->n++;
	b->raw = raw;
	return 0;
}

static int
loki_end(struct xenc *e, struct xbatch *b)
{
	struct loki_enc *l = (struct loki_enc *)e;
	struct lbatch *s = b->state;
	struct gw_buf *o = &b->body;
	const struct lstream *st;
	uint32_t hdr[2], r;
	size_t i, j;
	const char *a;
	int err = 0;

	(void)l;
	gw_buf_reset(o);
	if (gw_buf_reserve(o, b->n > 0 ? b->raw : BASE) == NULL)
		return -1;
	err |= gw_json_raw(o, streams_open, sizeof(streams_open) - 1);
	for (i = 0; s != NULL && i < s->nst; i++) {
		st = &s->st[i];
		if (i > 0)
			err |= gw_json_raw(o, ",", 1);
		err |= gw_json_raw(o, stream_open, sizeof(stream_open) - 1);
		err |=
		    gw_json_raw(o, gw_buf_head(&s->keys) + st->koff, st->klen);
		err |= gw_json_raw(o, values_open, sizeof(values_open) - 1);
		a = gw_buf_head(&s->arena);
		for (j = 0, r = st->head; r != NONE; r = hdr[0], j++) {
			memcpy(hdr, a + r, HDR);
			if (j > 0)
				err |= gw_json_raw(o, ",", 1);
			err |= gw_json_raw(o, a + r + HDR, hdr[1]);
		}
		err |= gw_json_raw(o, "]}", 2);
	}
	err |= gw_json_raw(o, "]}", 2);
	if (err) {
		gw_buf_reset(o);
		errno = ENOMEM;
		return -1;
	}
	b->raw = o->len;
	return 0;
}

static void
loki_reset(struct xenc *e, struct xbatch *b)
{
	struct lbatch *s = b->state;

	(void)e;
	if (s == NULL)
		return;
	memset(s->tab, 0, s->tcap * sizeof(*s->tab));
	s->nst = 0;
	gw_buf_reset(&s->keys);
	gw_buf_reset(&s->arena);
}

static void
loki_batch_fini(struct xenc *e, struct xbatch *b)
{
	struct lbatch *s = b->state;

	(void)e;
	if (s == NULL)
		return;
	free(s->st);
	free(s->tab);
	gw_buf_fini(&s->keys);
	gw_buf_fini(&s->arena);
	free(s);
	b->state = NULL;
}

static void
loki_free(struct xenc *e)
{
	struct loki_enc *l = (struct loki_enc *)e;
	struct dnode *n, *next;
	size_t i;

	for (i = 0; i < l->nlab; i++) {
		free(l->lab[i].name);
		free(l->lab[i].value);
	}
	for (n = l->nodes; n != NULL; n = next) {
		next = n->next;
		for (i = 0; i < n->s.n; i++)
			free((char *)(uintptr_t)n->f[i].key);
		free(n->f);
		free(n);
	}
	free(l->service);
	gw_buf_fini(&l->key);
	gw_buf_fini(&l->fix);
	gw_buf_fini(&l->shr);
	gw_buf_fini(&l->tmp);
	free(l);
}

static const struct xenc_ops loki_ops = {
	.add = loki_add,
	.end = loki_end,
	.reset = loki_reset,
	.batch_fini = loki_batch_fini,
	.free = loki_free,
};

struct xenc *
fmt_loki_new(const struct fmt_loki_opts *opts, struct gw_error *err)
{
	static const char *const defaults[] = { "job=service",
		"event_type=event_type", "level=status" };
	const char *const *specs = opts->labels;
	size_t n = opts->nlabels, i, j;
	struct loki_enc *l;
	int saved_errno;

	if (specs == NULL || n == 0) {
		specs = defaults;
		n = sizeof(defaults) / sizeof(defaults[0]);
	}
	if (n > MAX_LABELS) {
		gw_error_set(err, NULL, 0, 0,
		    "loki: at most %d labels (Loki's max_label_names_per_"
		    "series)",
		    MAX_LABELS);
		errno = EINVAL;
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->base.ops = &loki_ops;
	l->base.name = "loki";
	l->base.content_type = "application/json";
	l->base.max_events = opts->max_events ? opts->max_events : 1000;
	l->base.max_bytes = opts->max_bytes ? opts->max_bytes : 1 << 20;
	if (l->base.max_bytes > 1u << 30)
		l->base.max_bytes = 1u << 30; /* arena offsets are 32-bit */
	l->max_line = opts->max_line ? opts->max_line : 256 * 1024;
	l->max_streams = opts->max_streams ? opts->max_streams : 64;
	if (l->max_streams > 1024)
		l->max_streams = 1024;
	gw_buf_init(&l->key, 0);
	gw_buf_init(&l->fix, 0);
	gw_buf_init(&l->shr, 0);
	gw_buf_init(&l->tmp, 0);
	if ((l->service = strdup(opts->service ? opts->service : "gw")) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (parse_label(l, &l->lab[i], specs[i], opts, err) == -1) {
			l->nlab = i + 1;
			goto fail;
		}
		l->nlab = i + 1;
		for (j = 0; j < i; j++)
			if (strcmp(l->lab[j].name, l->lab[i].name) == 0) {
				gw_error_set(err, NULL, 0, 0,
				    "loki: label '%s' given twice",
				    l->lab[i].name);
				errno = EINVAL;
				goto fail;
			}
	}
	return &l->base;
fail:
	saved_errno = errno;
	loki_free(&l->base);
	errno = saved_errno;
	return NULL;
}
