// SPDX-License-Identifier: MIT
/*
 * The policy engine's walk (see engine.h): the engine's lifetime and
 * policy swaps, one phase's rules in order with their expressions, the
 * ${...} renderer and typed values that actions use, the header views
 * that let later rules see what earlier actions changed, and the answer
 * line written straight into the caller's buffer.  The actions themselves
 * are in actions_run.c, actions_url.c and breaker.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"
#include "event.h"
#include "json.h"
#include "log.h"
#include "timeutil.h"

/* Backtracking steps a regex may take: RE2 is linear, PCRE2 is not. */
#define MATCH_LIMIT 1000000

const char *
engine_action_name(enum engine_action a)
{
	switch (a) {
	case ENGINE_RESPOND:
		return "respond";
	case ENGINE_CLOSE:
		return "close";
	case ENGINE_CONTINUE:
		break;
	}
	return "continue";
}

int
engine_grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap = *cap ? *cap : 8;
	void *p;

	if (n <= *cap)
		return 0;
	while (ncap < n && ncap <= SIZE_MAX / 2)
		ncap *= 2;
	if (ncap < n || ncap > SIZE_MAX / size ||
	    (p = realloc(*v, ncap * size)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	*v = p;
	*cap = ncap;
	return 0;
}

struct engine *
engine_new(size_t max_buckets)
{
	static const char whole[] = "(?s)\\A.*";
	struct engine *e;
	PCRE2_SIZE off;
	int code;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	cel_arena_init(&e->arena, 0);
	cel_ctx_init(&e->ctx, &e->arena, NULL, vars_resolve);
	gw_buf_init(&e->logs, 0);
	gw_buf_init(&e->scratch, 0);
	gw_buf_init(&e->jbuf, 0);
	e->rl = rl_new(max_buckets);
	e->md = pcre2_match_data_create(32, NULL);
	e->mctx = pcre2_match_context_create(NULL);
	e->whole_re = pcre2_compile((PCRE2_SPTR)whole, sizeof(whole) - 1,
	    PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
	e->cb_conns = calloc(ENGINE_CB_CONNS, sizeof(*e->cb_conns));
	if (e->rl == NULL || e->md == NULL || e->mctx == NULL ||
	    e->whole_re == NULL || e->cb_conns == NULL) {
		engine_free(e);
		errno = ENOMEM;
		return NULL;
	}
	pcre2_set_match_limit(e->mctx, MATCH_LIMIT);
	return e;
}

static void
re_cache_clear(struct engine *e)
{
	size_t i;

	for (i = 0; i < ENGINE_RE_CACHE; i++) {
		free(e->re_cache[i].pat);
		pcre2_code_free(e->re_cache[i].re);
		memset(&e->re_cache[i], 0, sizeof(e->re_cache[i]));
	}
	e->re_next = 0;
}

void
engine_free(struct engine *e)
{
	size_t i;

	if (e == NULL)
		return;
	policy_free(e->policy);
	rl_free(e->rl);
	cel_arena_fini(&e->arena);
	for (i = 0; i < POLICY_NPHASES; i++)
		free(e->rs[i]);
	for (i = 0; i < 2; i++)
		free(e->hv[i].v);
	free(e->touch);
	free(e->vars);
	free(e->matched);
	free(e->rhdr);
	free(e->set);
	free(e->remove);
	gw_buf_fini(&e->logs);
	gw_buf_fini(&e->scratch);
	gw_buf_fini(&e->jbuf);
	re_cache_clear(e);
	pcre2_match_data_free(e->md);
	pcre2_match_context_free(e->mctx);
	pcre2_code_free(e->whole_re);
	free(e->cb_refs);
	free(e->cb_conns);
	free(e);
}

int
engine_set_policy(struct engine *e, struct policy *p)
{
	struct engine_rule_state *rs[POLICY_NPHASES] = { NULL };
	size_t i, j, k;
	unsigned phases = 0;

	for (i = 0; i < POLICY_NPHASES; i++) {
		if (p->phases[i].n == 0)
			continue;
		phases |= 1u << i;
		rs[i] = calloc(p->phases[i].n, sizeof(*rs[i]));
		if (rs[i] == NULL)
			goto fail;
	}
	if (engine_cb_rebind(e, p) == -1)
		goto fail;
	/* A breaker learns from response statuses: ask for them. */
	for (i = 0; i < POLICY_NPHASES; i++)
		for (j = 0; j < p->phases[i].n; j++)
			for (k = 0; k < p->phases[i].rules[j].nactions; k++)
				if (p->phases[i].rules[j].actions[k].type ==
				    ACTION_CIRCUIT_BREAKER)
					phases |= 1u << POLICY_HTTP_RESPONSE;
	/* Nothing of the old policy may stay reachable. */
	memset(&e->d, 0, sizeof(e->d));
	e->rule = NULL;
	re_cache_clear(e);
	for (i = 0; i < POLICY_NPHASES; i++) {
		free(e->rs[i]);
		e->rs[i] = rs[i];
	}
	policy_free(e->policy);
	e->policy = p;
	e->phases = phases;
	return 0;
fail:
	for (i = 0; i < POLICY_NPHASES; i++)
		free(rs[i]);
	errno = ENOMEM;
	return -1;
}

const struct policy *
engine_policy(const struct engine *e)
{
	return e->policy;
}

unsigned
engine_phases(const struct engine *e)
{
	return e->phases;
}

uint64_t
engine_rule_errors(const struct engine *e, enum policy_phase ph, size_t i)
{
	if (e->policy == NULL || ph >= POLICY_NPHASES ||
	    i >= e->policy->phases[ph].n || e->rs[ph] == NULL)
		return 0;
	return e->rs[ph][i].errors;
}

uint64_t
engine_errors(const struct engine *e)
{
	return e->nerrors;
}

const struct rl_table *
engine_ratelimits(const struct engine *e)
{
	return e->rl;
}

/* ---- errors, strings, values ---------------------------------------- */

int
engine_fail(struct engine *e, const struct policy_pos *pos, const char *what,
    const char *why)
{
	struct engine_rule_state *st;
	const struct policy_rule *r = e->rule;

	e->nerrors++;
	e->d.errors++;
	if (r == NULL || e->policy == NULL || e->rs[e->d.phase] == NULL)
		return -1;
	st = &e->rs[e->d.phase][e->rule_idx];
	st->errors++;
	if (st->logged)
		return -1;
	st->logged = 1;
	if (pos == NULL || pos->line == 0)
		pos = &r->pos;
	gw_warn("%s:%d:%d: rule \"%s\": %s: %s (counted; not logged again "
	        "for this rule)",
	    e->policy->file, pos->line, pos->col, r->name, what, why);
	return -1;
}

char *
engine_strdup(struct engine *e, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX || (p = cel_arena_alloc(&e->arena, n + 1)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
engine_printf(struct engine *e, const char *fmt, ...)
{
	char tmp[256], *p;
	va_list ap, ap2;
	int n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_end(ap2);
		return NULL;
	}
	if ((size_t)n < sizeof(tmp)) {
		va_end(ap2);
		return engine_strdup(e, tmp, (size_t)n);
	}
	if ((p = cel_arena_alloc(&e->arena, (size_t)n + 1)) != NULL)
		(void)vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}

int
engine_string(
    struct engine *e, const struct cel_value *v, const char **s, size_t *n)
{
	struct cel_value out;

	if (cel_value_to_string(v, &e->arena, &out) == 0) {
		*s = out.s.ptr;
		*n = out.s.len;
		return 0;
	}
	if (errno != EINVAL)
		return -1;
	/* null, lists and maps have no CEL string form: JSON then. */
	gw_buf_reset(&e->jbuf);
	if (cel_value_to_json(v, &e->jbuf) == -1 ||
	    (*s = engine_strdup(e, gw_buf_head(&e->jbuf), e->jbuf.len)) == NULL)
		return -1;
	*n = e->jbuf.len;
	return 0;
}

/* What a URL may carry as it is: RFC 3986 unreserved, reserved and '%'. */
static int
url_safe(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL;
}

static int
add_escaped(struct gw_buf *b, const char *s, size_t n, unsigned flags)
{
	static const char hex[] = "0123456789ABCDEF";
	char esc[3];
	size_t i;
	unsigned char c;
	int r = 0;

	if (flags == 0)
		return gw_buf_add(b, s, n);
	for (i = 0; i < n && r == 0; i++) {
		c = (unsigned char)s[i];
		if ((flags & ENGINE_URL_ESCAPE) && !url_safe(c)) {
			esc[0] = '%';
			esc[1] = hex[c >> 4];
			esc[2] = hex[c & 15];
			r = gw_buf_add(b, esc, 3);
		} else if ((flags & ENGINE_DOLLAR_ESCAPE) && c == '$')
			r = gw_buf_add(b, "$$", 2);
		else
			r = gw_buf_addc(b, (char)c);
	}
	return r;
}

int
engine_render(struct engine *e, const struct policy_tmpl *t, unsigned flags,
    const char *what, const char **out, size_t *len)
{
	struct gw_buf *b = &e->scratch;
	const struct policy_seg *sg;
	struct cel_value v;
	const char *s;
	size_t i, n;

	if (t->nexpr == 0) {
		*out = t->src != NULL ? t->src : "";
		*len = t->src != NULL ? t->len : 0;
		return 0;
	}
	gw_buf_reset(b);
	for (i = 0; i < t->nseg; i++) {
		sg = &t->seg[i];
		if (sg->prog == NULL) {
			if (gw_buf_add(b, sg->text, sg->len) == -1)
				goto nomem;
			continue;
		}
		if (cel_eval(sg->prog, &e->ctx, &v) == -1)
			return engine_fail(e, &sg->pos, what, e->ctx.errmsg);
		if (engine_string(e, &v, &s, &n) == -1)
			return engine_fail(
			    e, &sg->pos, what, "the value has no string form");
		if (add_escaped(b, s, n, flags) == -1)
			goto nomem;
	}
	if ((*out = engine_strdup(e, gw_buf_head(b), b->len)) == NULL)
		goto nomem;
	*len = b->len;
	return 0;
nomem:
	return engine_fail(e, &t->pos, what, "out of memory");
}

int
engine_value(struct engine *e, const struct policy_val *v, const char *what,
    struct cel_value *out)
{
	struct cel_map_entry *ent;
	struct cel_value *items;
	const char *s;
	size_t i, n;

	switch (v->kind) {
	case POLICY_VAL_NULL:
		*out = cel_null();
		return 0;
	case POLICY_VAL_BOOL:
		*out = cel_bool(v->b);
		return 0;
	case POLICY_VAL_INT:
		*out = cel_int(v->i);
		return 0;
	case POLICY_VAL_DOUBLE:
		*out = cel_double(v->d);
		return 0;
	case POLICY_VAL_STRING:
		if (v->tmpl.whole) {
			/* "${x}" alone keeps x's type (set-vars typing). */
			for (i = 0; i < v->tmpl.nseg; i++) {
				if (v->tmpl.seg[i].prog == NULL)
					continue;
				if (cel_eval(v->tmpl.seg[i].prog, &e->ctx,
				        out) == -1)
					return engine_fail(e,
					    &v->tmpl.seg[i].pos, what,
					    e->ctx.errmsg);
				return 0;
			}
		}
		if (engine_render(e, &v->tmpl, 0, what, &s, &n) == -1)
			return -1;
		*out = cel_str(s, n);
		return 0;
	case POLICY_VAL_LIST:
		items = cel_arena_alloc(
		    &e->arena, (v->c.n ? v->c.n : 1) * sizeof(*items));
		if (items == NULL)
			return engine_fail(e, NULL, what, "out of memory");
		for (i = 0; i < v->c.n; i++)
			if (engine_value(e, &v->c.items[i], what, &items[i]) ==
			    -1)
				return -1;
		*out = cel_list(items, v->c.n);
		return 0;
	case POLICY_VAL_MAP:
		ent = cel_arena_alloc(
		    &e->arena, (v->c.n ? v->c.n : 1) * sizeof(*ent));
		if (ent == NULL)
			return engine_fail(e, NULL, what, "out of memory");
		for (i = 0; i < v->c.n; i++) {
			ent[i].key =
			    cel_str(v->c.keys[i], strlen(v->c.keys[i]));
			if (engine_value(
			        e, &v->c.items[i], what, &ent[i].val) == -1)
				return -1;
		}
		*out = cel_map(ent, v->c.n);
		return 0;
	}
	*out = cel_null();
	return 0;
}

/* ---- header views ----------------------------------------------------- */

struct engine_hview *
engine_view(struct engine *e, int side)
{
	return &e->hv[side ? 1 : 0];
}

/* The first edit copies the headers into the engine, which owns them. */
static int
view_copy(struct engine_hview *hv)
{
	size_t n = *hv->reqn;

	if (hv->copied)
		return 0;
	if (engine_grow((void **)&hv->v, &hv->cap, n + 4, sizeof(*hv->v)) == -1)
		return -1;
	if (n > 0)
		memcpy(hv->v, *hv->reqp, n * sizeof(*hv->v));
	hv->n = n;
	hv->copied = 1;
	*hv->reqp = hv->v;
	return 0;
}

int
engine_view_add(struct engine *e, int side, const char *name, const char *value)
{
	struct engine_hview *hv = engine_view(e, side);

	if (view_copy(hv) == -1 ||
	    engine_grow((void **)&hv->v, &hv->cap, hv->n + 1, sizeof(*hv->v)) ==
	        -1)
		return -1;
	hv->v[hv->n].name = name;
	hv->v[hv->n].value = value;
	hv->n++;
	*hv->reqp = hv->v;
	*hv->reqn = hv->n;
	return 0;
}

void
engine_view_remove(struct engine *e, int side, const char *name)
{
	struct engine_hview *hv = engine_view(e, side);
	size_t i, j;

	if (view_copy(hv) == -1)
		return;
	for (i = j = 0; i < hv->n; i++)
		if (hv->v[i].name == NULL || strcasecmp(hv->v[i].name, name))
			hv->v[j++] = hv->v[i];
	hv->n = j;
	*hv->reqn = j;
}

int
engine_touch(struct engine *e, int side, const char *name)
{
	size_t i;

	for (i = 0; i < e->ntouch; i++)
		if (e->touch[i].side == side &&
		    strcasecmp(e->touch[i].name, name) == 0)
			return 0;
	if (engine_grow((void **)&e->touch, &e->captouch, e->ntouch + 1,
	        sizeof(*e->touch)) == -1)
		return -1;
	e->touch[e->ntouch].name = name;
	e->touch[e->ntouch].side = side;
	e->ntouch++;
	return 0;
}

const char *
engine_req_header(struct engine *e, const char *name)
{
	const struct policy_req *r = e->req;
	size_t i;

	for (i = 0; i < r->nreq_headers; i++)
		if (r->req_headers[i].name != NULL &&
		    strcasecmp(r->req_headers[i].name, name) == 0)
			return r->req_headers[i].value;
	return NULL;
}

const char *
engine_url(struct engine *e)
{
	const struct policy_req *r = e->req;
	const char *q = r->query != NULL ? r->query : "";
	const char *u;

	if (r->url_raw != NULL && r->url_raw[0] != '\0')
		return r->url_raw;
	if (r->host != NULL && r->host[0] != '\0')
		u = engine_printf(e, "%s://%s%s%s%s",
		    r->scheme != NULL ? r->scheme : "http", r->host,
		    r->path != NULL ? r->path : "/", q[0] ? "?" : "", q);
	else
		u = engine_printf(e, "%s%s%s", r->path != NULL ? r->path : "/",
		    q[0] ? "?" : "", q);
	return u != NULL ? u : "";
}

/* ---- decisions ---------------------------------------------------------- */

int
engine_respond_header(struct engine *e, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	struct engine_hdr *h;

	if (engine_grow((void **)&e->rhdr, &e->caprhdr, e->nrhdr + 1,
	        sizeof(*e->rhdr)) == -1)
		return -1;
	h = &e->rhdr[e->nrhdr++];
	h->name = name;
	h->nlen = nlen;
	h->value = value;
	h->vlen = vlen;
	return 0;
}

enum engine_step
engine_respond(struct engine *e, const struct action *a, int status,
    const char *error_code)
{
	e->d.action = ENGINE_RESPOND;
	e->d.status = status;
	e->d.error_code = error_code;
	e->d.rule = e->rule;
	e->d.by = a->type;
	return ENGINE_END;
}

enum engine_step
engine_close(struct engine *e, const struct action *a, const char *error_code)
{
	e->d.action = ENGINE_CLOSE;
	e->d.error_code = error_code;
	e->d.rule = e->rule;
	e->d.by = a->type;
	return ENGINE_END;
}

/* ---- the walk ------------------------------------------------------------ */

static void
begin(struct engine *e, struct policy_req *req)
{
	cel_arena_reset(&e->arena);
	memset(&e->d, 0, sizeof(e->d));
	e->d.phase = req->phase;
	e->d.action = ENGINE_CONTINUE;
	e->req = req;
	e->ctx.host = req;
	e->rule = NULL;
	e->rule_idx = 0;
	e->ntouch = e->nvars = e->nmatched = e->nrhdr = 0;
	e->rewritten = 0;
	e->cb_pass = 0;
	gw_buf_reset(&e->logs);
	if (req->now_ns == 0)
		req->now_ns = (int64_t)gw_now_ns();
	req->vars = NULL;
	req->nvars = 0;
	memset(req->has_result, 0, sizeof(req->has_result));
	e->hv[0].reqp = &req->req_headers;
	e->hv[0].reqn = &req->nreq_headers;
	e->hv[0].copied = 0;
	e->hv[1].reqp = &req->res_headers;
	e->hv[1].reqn = &req->nres_headers;
	e->hv[1].copied = 0;
}

static int
rule_matches(struct engine *e, const struct policy_rule *r)
{
	struct cel_value v;
	char why[64];
	size_t k;

	for (k = 0; k < r->nexprs; k++) {
		if (cel_eval(r->exprs[k].prog, &e->ctx, &v) == -1) {
			engine_fail(
			    e, &r->exprs[k].pos, "expression", e->ctx.errmsg);
			return 0;
		}
		if (v.type != CEL_BOOL) {
			snprintf(why, sizeof(why), "gave %s, not bool",
			    cel_type_name(v.type));
			engine_fail(e, &r->exprs[k].pos, "expression", why);
			return 0;
		}
		if (!v.b)
			return 0;
	}
	return 1;
}

/*
 * Header edits as gw-proxy applies them: a name that has values left
 * after the actions is set to all of them (replacing the original ones,
 * which the view includes when add-headers appended), a name left with
 * none is removed.
 */
static void
edits(struct engine *e, int side)
{
	const struct engine_hview *hv = &e->hv[side];
	size_t i, j, nset = 0, nrm = 0, found;

	for (i = 0; i < e->ntouch; i++) {
		if (e->touch[i].side != side)
			continue;
		found = 0;
		for (j = 0; hv->copied && j < hv->n; j++) {
			if (hv->v[j].name == NULL ||
			    strcasecmp(hv->v[j].name, e->touch[i].name))
				continue;
			if (engine_grow((void **)&e->set, &e->capset, nset + 1,
			        sizeof(*e->set)) == -1)
				return;
			e->set[nset].name = e->touch[i].name;
			e->set[nset].nlen = strlen(e->touch[i].name);
			e->set[nset].value = hv->v[j].value;
			e->set[nset].vlen = strlen(hv->v[j].value);
			nset++;
			found = 1;
		}
		if (found)
			continue;
		if (engine_grow((void **)&e->remove, &e->capremove, nrm + 1,
		        sizeof(*e->remove)) == -1)
			return;
		e->remove[nrm++] = e->touch[i].name;
	}
	e->d.set = e->set;
	e->d.nset = nset;
	e->d.remove = e->remove;
	e->d.nremove = nrm;
}

static void
finish(struct engine *e)
{
	struct policy_req *r = e->req;
	const char *q = r->query != NULL ? r->query : "";

	e->d.matched = e->matched;
	e->d.nmatched = e->nmatched;
	if (e->logs.len > 0) {
		e->d.logs = gw_buf_head(&e->logs);
		e->d.logs_len = e->logs.len;
	}
	if (e->d.action == ENGINE_RESPOND) {
		e->d.headers = e->rhdr;
		e->d.nheaders = e->nrhdr;
		if (e->d.body == NULL)
			e->d.body = "";
		return;
	}
	if (e->d.action != ENGINE_CONTINUE)
		return;
	if (e->ntouch > 0)
		edits(e, e->d.phase == POLICY_HTTP_RESPONSE);
	if (e->rewritten)
		e->d.rewrite_url = engine_printf(e, "%s%s%s",
		    r->path != NULL && r->path[0] != '\0' ? r->path : "/",
		    q[0] ? "?" : "", q);
	if (e->d.phase == POLICY_HTTP_REQUEST && e->cb_pass != 0)
		engine_cb_remember(e);
}

/* Runs the rules of phase <ph> until one of their actions ends it. */
static void
walk(struct engine *e, enum policy_phase ph)
{
	const struct policy *p = e->policy;
	const struct policy_rule *r;
	size_t i, j;

	for (i = 0; i < p->phases[ph].n; i++) {
		r = &p->phases[ph].rules[i];
		e->rule = r;
		e->rule_idx = i;
		if (!rule_matches(e, r))
			continue;
		if (engine_grow((void **)&e->matched, &e->capmatched,
		        e->nmatched + 1, sizeof(*e->matched)) == 0)
			e->matched[e->nmatched++] = r;
		for (j = 0; j < r->nactions; j++)
			if (engine_run_action(e, &r->actions[j]) == ENGINE_END)
				return;
	}
}

/*
 * The request phase answered with a response of its own (custom-response,
 * deny, a refusal): on_http_response still runs, on that response, as
 * ngrok's custom-response says, so that response rules (CORS or security
 * headers, say) apply to gw's answers as to the upstream's.  Variables set
 * in the request phase stay visible.  A response rule that answers itself
 * replaces the response; header edits apply to it.  Circuit breakers do
 * not count it: the upstream never saw the request.
 */
static void
respond_chain(struct engine *e)
{
	struct policy_req *req = e->req;
	struct engine_decision saved = e->d;
	struct policy_hdr *h;
	const struct policy_hdr *out;
	size_t i, n = e->nrhdr;

	h = cel_arena_alloc(&e->arena, (n + 1) * sizeof(*h));
	if (h == NULL)
		return;
	for (i = 0; i < n; i++) {
		h[i].name = engine_strdup(e, e->rhdr[i].name, e->rhdr[i].nlen);
		h[i].value =
		    engine_strdup(e, e->rhdr[i].value, e->rhdr[i].vlen);
		if (h[i].name == NULL || h[i].value == NULL)
			return;
	}
	req->phase = POLICY_HTTP_RESPONSE;
	req->status_code = saved.status;
	req->res_headers = h;
	req->nres_headers = n;
	memset(req->has_result, 0, sizeof(req->has_result));
	e->hv[1].copied = 0;
	e->ntouch = 0;
	e->nrhdr = 0;
	e->d.action = ENGINE_CONTINUE;
	e->d.phase = POLICY_HTTP_RESPONSE;
	walk(e, POLICY_HTTP_RESPONSE);
	req->phase = POLICY_HTTP_REQUEST;
	if (e->d.action != ENGINE_CONTINUE) {
		e->d.phase = POLICY_HTTP_REQUEST;
		return;
	}
	/* The request phase's response stands, with the edits made. */
	out = e->hv[1].copied ? e->hv[1].v : h;
	n = e->hv[1].copied ? e->hv[1].n : n;
	for (i = 0; i < n; i++)
		if (out[i].name != NULL &&
		    engine_respond_header(e, out[i].name, strlen(out[i].name),
		        out[i].value, strlen(out[i].value)) == -1)
			break;
	saved.logs = NULL;
	saved.ip_decision =
	    e->d.ip_decision != NULL ? e->d.ip_decision : saved.ip_decision;
	saved.auth_decision = e->d.auth_decision != NULL ? e->d.auth_decision
	                                                 : saved.auth_decision;
	saved.errors = e->d.errors;
	e->d = saved;
}

const struct engine_decision *
engine_eval(struct engine *e, struct policy_req *req)
{
	const struct policy *p = e->policy;
	enum policy_phase ph = req->phase;

	begin(e, req);
	if (p == NULL || ph >= POLICY_NPHASES)
		goto done;
	if (ph == POLICY_HTTP_RESPONSE)
		engine_cb_response(e);
	walk(e, ph);
	if (ph == POLICY_HTTP_REQUEST && e->d.action == ENGINE_RESPOND &&
	    p->phases[POLICY_HTTP_RESPONSE].n > 0)
		respond_chain(e);
done:
	finish(e);
	return &e->d;
}

/* ---- answers ------------------------------------------------------------- */

/*
 * A header name as a JSON key: policies write names in lower case, and
 * the wire shows them canonical ("x-user-tier" -> "X-User-Tier"); a name
 * with capitals (RateLimit-Limit) is kept as it is.
 */
static int
put_name(struct gw_buf *b, const char *name, size_t n)
{
	char tmp[128];
	size_t i;

	for (i = 0; i < n; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			break;
	if (i < n || n > sizeof(tmp))
		return gw_json_str(b, name, n);
	gw_header_canon(name, n, tmp);
	return gw_json_str(b, tmp, n);
}

static int
same_name(const struct engine_hdr *a, const struct engine_hdr *b)
{
	return a->nlen == b->nlen &&
	    strncasecmp(a->name, b->name, a->nlen) == 0;
}

/* A map of name -> [values], names grouped without regard to case. */
static int
put_headers(struct gw_buf *b, const struct engine_hdr *h, size_t n)
{
	size_t i, j, k;
	int r = 0, first = 1;

	r |= gw_buf_addc(b, '{');
	for (i = 0; i < n; i++) {
		for (k = 0; k < i; k++)
			if (same_name(&h[k], &h[i]))
				break;
		if (k < i)
			continue;
		if (!first)
			r |= gw_buf_addc(b, ',');
		first = 0;
		r |= put_name(b, h[i].name, h[i].nlen);
		r |= gw_json_raw(b, ":[", 2);
		r |= gw_json_str(b, h[i].value, h[i].vlen);
		for (j = i + 1; j < n; j++) {
			if (!same_name(&h[i], &h[j]))
				continue;
			r |= gw_buf_addc(b, ',');
			r |= gw_json_str(b, h[j].value, h[j].vlen);
		}
		r |= gw_buf_addc(b, ']');
	}
	r |= gw_buf_addc(b, '}');
	return r;
}

int
engine_put_matched(const struct engine_decision *d, int first, struct gw_buf *b)
{
	size_t i;
	int r = 0;

	for (i = 0; i < d->nmatched; i++) {
		if (!first || i > 0)
			r |= gw_buf_addc(b, ',');
		r |= gw_json_cstr(b, d->matched[i]->name);
	}
	return r;
}

static int
put_decisions(const struct engine_decision *d, struct gw_buf *b)
{
	int r = 0;

	if (d->ip_decision == NULL && d->auth_decision == NULL)
		return 0;
	r |= gw_buf_adds(b, ",\"decisions\":{");
	if (d->ip_decision != NULL) {
		r |= gw_buf_adds(b, "\"ip_policy\":{\"decision\":");
		r |= gw_json_cstr(b, d->ip_decision);
		r |= gw_buf_addc(b, '}');
	}
	if (d->auth_decision != NULL) {
		if (d->ip_decision != NULL)
			r |= gw_buf_addc(b, ',');
		r |= gw_buf_adds(b, "\"basic_auth\":{\"decision\":");
		r |= gw_json_cstr(b, d->auth_decision);
		if (d->auth_user != NULL) {
			r |= gw_buf_adds(b, ",\"username\":");
			r |= gw_json_cstr(b, d->auth_user);
		}
		r |= gw_buf_addc(b, '}');
	}
	r |= gw_buf_addc(b, '}');
	return r;
}

int
engine_answer(const struct engine_decision *d, uint64_t id, struct gw_buf *b)
{
	size_t mark = b->len, i;
	int r = 0;

	r |= gw_json_raw(b, "{\"id\":", 6);
	r |= gw_json_u64(b, id);
	r |= gw_json_raw(b, ",\"action\":\"", 11);
	r |= gw_buf_adds(b, engine_action_name(d->action));
	r |= gw_buf_addc(b, '"');
	switch (d->action) {
	case ENGINE_RESPOND:
		r |= gw_buf_adds(b, ",\"status\":");
		r |= gw_json_i64(b, d->status);
		r |= gw_buf_adds(b, ",\"headers\":");
		r |= put_headers(b, d->headers, d->nheaders);
		r |= gw_buf_adds(b, ",\"body\":");
		r |= gw_json_str(b, d->body, d->body_len);
		break;
	case ENGINE_CLOSE:
		break;
	case ENGINE_CONTINUE:
		if (d->nset > 0) {
			r |= gw_buf_adds(b, ",\"set_headers\":");
			r |= put_headers(b, d->set, d->nset);
		}
		if (d->nremove > 0) {
			r |= gw_buf_adds(b, ",\"remove_headers\":[");
			for (i = 0; i < d->nremove; i++) {
				if (i > 0)
					r |= gw_buf_addc(b, ',');
				r |= put_name(
				    b, d->remove[i], strlen(d->remove[i]));
			}
			r |= gw_buf_addc(b, ']');
		}
		if (d->rewrite_url != NULL) {
			r |= gw_buf_adds(b, ",\"rewrite_url\":");
			r |= gw_json_cstr(b, d->rewrite_url);
		}
		if (d->compress != NULL) {
			r |= gw_buf_adds(b, ",\"compress\":");
			r |= gw_json_cstr(b, d->compress);
		}
		break;
	}
	if (d->error_code != NULL) {
		r |= gw_buf_adds(b, ",\"error_code\":");
		r |= gw_json_cstr(b, d->error_code);
		if (d->limit_name != NULL) {
			r |= gw_buf_adds(
			    b, ",\"error_message\":\"rate limit \\\"");
			r |= gw_json_escape(
			    b, d->limit_name, strlen(d->limit_name));
			r |= gw_buf_adds(b, "\\\" exceeded\"");
		} else if (d->error_message != NULL) {
			r |= gw_buf_adds(b, ",\"error_message\":");
			r |= gw_json_cstr(b, d->error_message);
		}
	}
	if (d->nmatched > 0) {
		r |= gw_buf_adds(b, ",\"rules_matched\":[");
		r |= engine_put_matched(d, 1, b);
		r |= gw_buf_addc(b, ']');
	}
	if (d->logs_len > 0) {
		r |= gw_buf_adds(b, ",\"logs\":[");
		r |= gw_buf_add(b, d->logs, d->logs_len);
		r |= gw_buf_addc(b, ']');
	}
	r |= put_decisions(d, b);
	r |= gw_buf_addc(b, '}');
	if (r != 0) {
		b->len = mark;
		return -1;
	}
	return 0;
}
