// SPDX-License-Identifier: MIT
/*
 * url-rewrite and redirect (reference/ngrok-traffic-policy.md §2.2): a
 * PCRE2 regex matched against the whole URL, unanchored, every match
 * replaced by the "to" template with $N naming groups.  ngrok interpolates
 * ${...} before compiling, so a templated "from" is compiled per distinct
 * text and kept in a small cache; interpolated values are %-escaped where
 * a URL cannot carry them and their "$" doubled so they never read as
 * group references.  url-rewrite changes the path and query the upstream
 * gets; redirect answers with a 3xx and ends the phase.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* ---- url-rewrite, redirect ---------------------------------------------- */

/* A compiled from: pattern, cached by action and text. */
static pcre2_code *
compile_from(
    struct engine *e, const struct action *a, const char *pat, size_t len)
{
	struct engine_re *c;
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	char why[256];
	size_t i;
	int code;

	for (i = 0; i < ENGINE_RE_CACHE; i++) {
		c = &e->re_cache[i];
		if (c->act == a && c->re != NULL && strlen(c->pat) == len &&
		    memcmp(c->pat, pat, len) == 0)
			return c->re;
	}
	c = &e->re_cache[e->re_next++ % ENGINE_RE_CACHE];
	free(c->pat);
	pcre2_code_free(c->re);
	memset(c, 0, sizeof(*c));
	c->re = pcre2_compile((PCRE2_SPTR)pat, len,
	    PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
	if (c->re == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(why, sizeof(why),
		    "from is not a valid regular expression: %s (ERR_NGROK_3901)",
		    (const char *)msg);
		engine_fail(
		    e, &a->rewrite.from.pos, action_type_name(a->type), why);
		return NULL;
	}
	if ((c->pat = strndup(pat, len)) == NULL) {
		pcre2_code_free(c->re);
		c->re = NULL;
		engine_fail(
		    e, &a->pos, action_type_name(a->type), "out of memory");
		return NULL;
	}
	(void)pcre2_jit_compile(c->re, PCRE2_JIT_COMPLETE);
	c->act = a;
	return c->re;
}

/*
 * Matches <from> against the whole URL and replaces every match with
 * <to>, whose ${...} values are %-escaped and whose $N name groups.
 * Returns 1 with the new URL and the groups of the first match, 0 when
 * from does not match, -1 on error (counted; the error variables set).
 */
static int
rewrite(struct engine *e, const struct action *a, enum vars_result err,
    const char **url, const char **out, struct cel_value *groups)
{
	const struct action_rewrite *rw = &a->rewrite;
	const char *what = action_type_name(a->type), *pat, *to;
	PCRE2_SIZE *ov, olen;
	struct cel_value *g;
	pcre2_code *re;
	size_t ulen, plen, tolen, i;
	char *buf;
	int rc;

	*url = engine_url(e);
	ulen = strlen(*url);
	if (!rw->has_from)
		re = e->whole_re;
	else if ((re = rw->from_re) == NULL) {
		/* ngrok interpolates before it compiles. */
		if (engine_render(e, &rw->from, 0, what, &pat, &plen) == -1 ||
		    (re = compile_from(e, a, pat, plen)) == NULL)
			goto fail;
	}
	if (engine_render(e, &rw->to, ENGINE_URL_ESCAPE | ENGINE_DOLLAR_ESCAPE,
	        what, &to, &tolen) == -1)
		goto fail;
	rc = pcre2_match(re, (PCRE2_SPTR)*url, ulen, 0, 0, e->md, e->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		engine_fail(e, &a->pos, what, "the regular expression failed");
		goto fail;
	}
	if (rc == 0)
		rc = (int)pcre2_get_ovector_count(e->md);
	ov = pcre2_get_ovector_pointer(e->md);
	if ((g = cel_arena_alloc(&e->arena, (size_t)rc * sizeof(*g))) == NULL)
		goto nomem;
	for (i = 0; i < (size_t)rc; i++)
		g[i] = ov[2 * i] == PCRE2_UNSET
		    ? cel_str("", 0)
		    : cel_str(*url + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
	*groups = cel_list(g, (size_t)rc);
	olen = ulen + tolen * 2 + 64;
	for (i = 0; i < 2; i++) {
		if ((buf = cel_arena_alloc(&e->arena, olen)) == NULL)
			goto nomem;
		rc = pcre2_substitute(re, (PCRE2_SPTR)*url, ulen, 0,
		    PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH |
		        PCRE2_SUBSTITUTE_UNSET_EMPTY,
		    e->md, e->mctx, (PCRE2_SPTR)to, tolen, (PCRE2_UCHAR *)buf,
		    &olen);
		if (rc != PCRE2_ERROR_NOMEMORY)
			break;
	}
	if (rc < 0) {
		engine_fail(e, &rw->to.pos, what, "the replacement failed");
		goto fail;
	}
	*out = buf;
	return 1;
nomem:
	engine_fail(e, &a->pos, what, "out of memory");
fail:
	engine_set_error(e, err, "ERR_NGROK_3900", "the rewrite failed");
	return -1;
}

/* Points the request's path and query at those of <url>. */
static void
apply_url(struct engine *e, const char *url)
{
	struct policy_req *r = e->req;
	const char *p = strstr(url, "://"), *q, *h;
	size_t plen;

	if (p != NULL && strcspn(url, "/?#") > (size_t)(p - url))
		p += 3;
	else
		p = url;
	if (p != url)
		p += strcspn(p, "/?#");
	plen = strcspn(p, "?#");
	q = p[plen] == '?' ? p + plen + 1 : NULL;
	h = engine_strdup(e, p, plen);
	r->path = h != NULL && plen > 0 ? h : "/";
	r->query = q != NULL ? engine_strdup(e, q, strcspn(q, "#")) : "";
	if (r->query == NULL)
		r->query = "";
	r->url_raw = url;
}

enum engine_step
engine_url_rewrite(struct engine *e, const struct action *a)
{
	struct cel_value groups;
	const char *url, *out;

	if (rewrite(e, a, VARS_URL_REWRITE_ERROR_CODE, &url, &out, &groups) !=
	    1)
		return ENGINE_NEXT;
	vars_set_result(e->req, VARS_URL_REWRITE_MATCHES, groups);
	vars_set_result(
	    e->req, VARS_URL_REWRITE_URL, cel_str(out, strlen(out)));
	if (strcmp(out, url) == 0)
		return ENGINE_NEXT;
	apply_url(e, out);
	e->rewritten = 1;
	return ENGINE_NEXT;
}

enum engine_step
engine_redirect(struct engine *e, const struct action *a)
{
	const struct action_rewrite *rw = &a->rewrite;
	struct cel_value groups;
	const char *url, *out;
	size_t n0 = e->nrhdr;

	if (rewrite(e, a, VARS_REDIRECT_ERROR_CODE, &url, &out, &groups) != 1)
		return ENGINE_NEXT;
	vars_set_result(e->req, VARS_REDIRECT_MATCHES, groups);
	vars_set_result(e->req, VARS_REDIRECT_URL, cel_str(out, strlen(out)));
	/* Redirecting to the same URL would loop: ngrok skips it. */
	if (strcmp(out, url) == 0)
		return ENGINE_NEXT;
	if (!engine_header_value_ok(
	        e, &rw->to.pos, "redirect", out, strlen(out)) ||
	    engine_respond_headers(
	        e, rw->headers, rw->nheaders, "redirect headers", NULL) == -1 ||
	    engine_respond_header(e, "location", 8, out, strlen(out)) == -1) {
		e->nrhdr = n0;
		return ENGINE_NEXT;
	}
	return engine_respond(
	    e, a, rw->status_code ? rw->status_code : 302, NULL);
}
