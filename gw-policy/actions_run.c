// SPDX-License-Identifier: MIT
/*
 * The actions of ngrok's Traffic Policy as the engine runs them (see
 * engine.h and reference/ngrok-traffic-policy.md §2.2): each reads its
 * configuration from policy.h, renders its ${...} fields, sets its
 * actions.ngrok.* results for later rules, edits the request or response
 * the engine tracks, or ends the phase with a response or a closed
 * connection.  Circuit-breaker windows and compress-response negotiation
 * live here too: they are the parts of those actions that gw-policy can
 * decide without gw-proxy's help.  url-rewrite and redirect are in
 * actions_url.c, circuit-breaker in breaker.c.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "engine.h"

#define NS 1000000000ULL

void
engine_set_error(
    struct engine *e, enum vars_result code, const char *c, const char *msg)
{
	vars_set_result(e->req, code, cel_str(c, strlen(c)));
	vars_set_result(
	    e->req, (enum vars_result)(code + 1), cel_str(msg, strlen(msg)));
}

static struct cel_value
cstr(const char *s)
{
	return cel_str(s, strlen(s));
}

/* ---- rate-limit ------------------------------------------------------ */

/* Limited requests can be most of a flood: no printf(3) on that path. */
static int
num_header(struct engine *e, const char *name, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp), *s;
	size_t n;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	n = (size_t)(tmp + sizeof(tmp) - p);
	if ((s = engine_strdup(e, p, n)) == NULL)
		return -1;
	return engine_respond_header(e, name, strlen(name), s, n);
}

static enum engine_step
run_rate_limit(struct engine *e, const struct action *a)
{
	const struct action_rate_limit *rl = &a->rate_limit;
	struct gw_buf *key = &e->jbuf, *shown = &e->scratch;
	struct rl_result res;
	struct cel_value v;
	const char *s, *disp, *why;
	size_t i, n;
	int r = 0;

	/*
	 * The bucket is the combination of every key: the table gets each
	 * value with its length in front, so "a,b"+"c" and "a"+"b,c" are two
	 * buckets; actions.ngrok.rate_limit.bucket_key shows them joined
	 * with ",".
	 */
	gw_buf_reset(shown);
	for (i = 0; i < rl->nbucket_keys; i++) {
		why = NULL;
		if (cel_eval(rl->bucket_keys[i].prog, &e->ctx, &v) == -1)
			why = e->ctx.errmsg;
		else if (engine_string(e, &v, &s, &n) == -1)
			why = "the value has no string form";
		if (why != NULL) {
			engine_set_error(e, VARS_RATE_LIMIT_ERROR_CODE,
			    "ERR_NGROK_3900", why);
			/* The request is neither counted nor refused. */
			engine_fail(
			    e, &rl->bucket_keys[i].pos, "bucket_key", why);
			return ENGINE_NEXT;
		}
		if (i > 0)
			r |= gw_buf_addc(shown, ',');
		r |= gw_buf_add(shown, s, n);
		if (i == 0)
			gw_buf_reset(key);
		r |= gw_buf_addu(key, n);
		r |= gw_buf_addc(key, ':');
		r |= gw_buf_add(key, s, n);
	}
	if (r != 0 ||
	    (disp = engine_strdup(e, gw_buf_head(shown), shown->len)) == NULL) {
		engine_fail(e, &a->pos, "rate-limit", "out of memory");
		return ENGINE_NEXT;
	}
	rl_hit(e->rl, rl->limiter, gw_buf_head(key), key->len, rl->capacity,
	    rl->rate_ns, (uint64_t)e->req->now_ns, &res);
	vars_set_result(
	    e->req, VARS_RATE_LIMIT_BUCKET_KEY, cel_str(disp, shown->len));
	vars_set_result(e->req, VARS_RATE_LIMIT_LIMITED, cel_bool(res.limited));
	if (!res.limited)
		return ENGINE_NEXT;
	if (!rl->enforce) {
		e->d.monitor_limited = e->rule;
		return ENGINE_NEXT;
	}
	if (num_header(e, "Retry-After", res.retry_after_s) == -1 ||
	    num_header(e, "RateLimit-Limit", rl->capacity) == -1 ||
	    num_header(e, "RateLimit-Remaining", 0) == -1 ||
	    num_header(e, "RateLimit-Reset", res.reset_s) == -1)
		e->nrhdr = 0; /* refuse anyway: the limit matters more */
	e->d.error_message = "rate limit exceeded";
	e->d.limit_name = rl->name != NULL ? rl->name : e->rule->name;
	return engine_respond(e, a, 429, ENGINE_E_RATE_LIMITED);
}

/* ---- deny, custom-response, close-connection ----------------------------- */

static enum engine_step
run_deny(struct engine *e, const struct action *a)
{
	if (e->d.phase == POLICY_TCP_CONNECT)
		return engine_close(e, a, ENGINE_E_DENIED);
	return engine_respond(e, a,
	    a->deny.status_code ? a->deny.status_code : 403, ENGINE_E_DENIED);
}

/* What ngrok infers when custom-response gives no content-type. */
static const char *
guess_type(const char *body, size_t n)
{
	size_t i = 0;

	while (i < n &&
	    (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
	        body[i] == '\n'))
		i++;
	if (i < n && (body[i] == '{' || body[i] == '['))
		return "application/json";
	if (i < n && body[i] == '<')
		return "text/html; charset=utf-8";
	return "text/plain; charset=utf-8";
}

/*
 * A rendered header value must not end the header early: a CR, LF or
 * NUL from a template (url.unescape('%0d%0a'), say) would let a request
 * forge headers.  gw-proxy checks again; the engine says why here.
 */
int
engine_header_value_ok(struct engine *e, const struct policy_pos *pos,
    const char *what, const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0') {
			engine_fail(
			    e, pos, what, "the value has a line break or NUL");
			return 0;
		}
	return 1;
}

int
engine_respond_headers(struct engine *e, const struct action_header *h,
    size_t n, const char *what, int *has_type)
{
	const char *v;
	size_t i, len;

	for (i = 0; i < n; i++) {
		if (engine_render(e, &h[i].value, 0, what, &v, &len) == -1)
			return -1;
		if (!engine_header_value_ok(e, &h[i].value.pos, what, v, len))
			return -1;
		if (engine_respond_header(
		        e, h[i].name, strlen(h[i].name), v, len) == -1)
			return engine_fail(e, NULL, what, "out of memory");
		if (has_type != NULL &&
		    strcasecmp(h[i].name, "content-type") == 0)
			*has_type = 1;
	}
	return 0;
}

static enum engine_step
run_custom_response(struct engine *e, const struct action *a)
{
	const struct action_custom_response *cr = &a->custom_response;
	size_t n0 = e->nrhdr, blen = 0;
	const char *body = "", *t;
	int has_type = 0;

	if (engine_respond_headers(e, cr->headers, cr->nheaders,
	        "custom-response headers", &has_type) == -1 ||
	    (cr->has_body &&
	        engine_render(e, &cr->body, 0, "custom-response body", &body,
	            &blen) == -1)) {
		e->nrhdr = n0;
		return ENGINE_NEXT;
	}
	if (!has_type && blen > 0) {
		t = guess_type(body, blen);
		if (engine_respond_header(
		        e, "content-type", 12, t, strlen(t)) == -1) {
			e->nrhdr = n0;
			return ENGINE_NEXT;
		}
	}
	e->d.body = body;
	e->d.body_len = blen;
	return engine_respond(
	    e, a, cr->status_code ? cr->status_code : 200, NULL);
}

static enum engine_step
run_close(struct engine *e, const struct action *a)
{
	return engine_close(e, a, ENGINE_E_DENIED);
}

/* ---- add-headers, remove-headers ----------------------------------------- */

static int
side_of(const struct engine *e)
{
	return e->d.phase == POLICY_HTTP_RESPONSE;
}

static enum engine_step
run_add_headers(struct engine *e, const struct action *a)
{
	const struct action_add_headers *ah = &a->add_headers;
	struct cel_map_entry *ent;
	const char *v;
	size_t i, k = 0, len;
	int side = side_of(e);

	ent = cel_arena_alloc(
	    &e->arena, (ah->nheaders ? ah->nheaders : 1) * sizeof(*ent));
	if (ent == NULL) {
		engine_fail(e, &a->pos, "add-headers", "out of memory");
		return ENGINE_NEXT;
	}
	for (i = 0; i < ah->nheaders; i++) {
		const struct action_header *h = &ah->headers[i];

		if (engine_render(e, &h->value, 0, "add-headers", &v, &len) ==
		        -1 ||
		    !engine_header_value_ok(
		        e, &h->value.pos, "add-headers", v, len))
			continue;
		/* Appends, except Host, which has one value. */
		if (strcasecmp(h->name, "host") == 0)
			engine_view_remove(e, side, h->name);
		if (engine_view_add(e, side, h->name, v) == -1 ||
		    engine_touch(e, side, h->name) == -1) {
			engine_fail(e, &a->pos, "add-headers", "out of memory");
			continue;
		}
		ent[k].key = cstr(h->name);
		ent[k].val = cel_str(v, len);
		k++;
	}
	vars_set_result(
	    e->req, VARS_ADD_HEADERS_HEADERS_ADDED, cel_map(ent, k));
	return ENGINE_NEXT;
}

static enum engine_step
run_remove_headers(struct engine *e, const struct action *a)
{
	const struct action_remove_headers *rh = &a->remove_headers;
	size_t i;
	int side = side_of(e);

	for (i = 0; i < rh->n; i++) {
		engine_view_remove(e, side, rh->names[i]);
		if (engine_touch(e, side, rh->names[i]) == -1)
			engine_fail(
			    e, &a->pos, "remove-headers", "out of memory");
	}
	return ENGINE_NEXT;
}

/* ---- restrict-ips ------------------------------------------------------- */

static const char *
cidr_text(struct engine *e, const struct policy_cidr *c)
{
	char ip[INET6_ADDRSTRLEN];

	if (inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->addr, ip, sizeof(ip)) ==
	    NULL)
		return NULL;
	return engine_printf(e, "%s/%d", ip, c->bits);
}

/*
 * Looks <addr> up in a static and a templated CIDR list.  Returns 1 with
 * *<hit> set when it matches, 0 when not, -1 when a template failed (the
 * caller fails closed).
 */
static int
cidr_lookup(struct engine *e, const struct policy_cidr *v, size_t n,
    const struct policy_tmpl *t, size_t nt, const uint8_t *addr, int v6,
    const char **hit)
{
	struct policy_cidr c;
	const char *s;
	char why[128];
	size_t i, len;
	int failed = 0;

	for (i = 0; i < n; i++)
		if (policy_cidr_match(&v[i], addr, v6)) {
			*hit = cidr_text(e, &v[i]);
			return 1;
		}
	for (i = 0; i < nt; i++) {
		if (engine_render(e, &t[i], 0, "restrict-ips", &s, &len) ==
		    -1) {
			failed = 1;
			continue;
		}
		if (policy_cidr_parse(s, &c, NULL, why, sizeof(why)) == -1) {
			engine_fail(e, &t[i].pos, "restrict-ips", why);
			failed = 1;
			continue;
		}
		if (policy_cidr_match(&c, addr, v6)) {
			*hit = cidr_text(e, &c);
			return 1;
		}
	}
	return failed ? -1 : 0;
}

static enum engine_step
run_restrict_ips(struct engine *e, const struct action *a)
{
	const struct action_restrict_ips *ri = &a->restrict_ips;
	const char *ip = e->req->client_ip, *hit = NULL;
	uint8_t addr[16];
	int v6, allow, deny = 0;

	if (ip == NULL || policy_ip_parse(ip, addr, &v6) == -1) {
		engine_set_error(e, VARS_RESTRICT_IPS_ERROR_CODE,
		    "ERR_NGROK_3205",
		    "the client address is not an IP address");
		engine_fail(e, &a->pos, "restrict-ips",
		    "the client address is not an IP address");
		allow = 0;
	} else {
		/* Allowed: some allow CIDR matches and no deny CIDR does. */
		allow = cidr_lookup(e, ri->allow, ri->nallow, ri->allow_tmpl,
		    ri->nallow_tmpl, addr, v6, &hit);
		deny = cidr_lookup(e, ri->deny, ri->ndeny, ri->deny_tmpl,
		    ri->ndeny_tmpl, addr, v6, &hit);
		allow = allow == 1 && deny == 0;
	}
	vars_set_result(
	    e->req, VARS_RESTRICT_IPS_ACTION, cstr(allow ? "allow" : "deny"));
	if (hit != NULL)
		vars_set_result(
		    e->req, VARS_RESTRICT_IPS_MATCHED_CIDR, cstr(hit));
	if (allow || !ri->enforce) {
		e->d.ip_decision = "allow";
		return ENGINE_NEXT;
	}
	e->d.ip_decision = "block";
	e->d.error_message = engine_printf(
	    e, "client %s is not allowed", ip != NULL ? ip : "(none)");
	if (e->d.phase == POLICY_TCP_CONNECT)
		return engine_close(e, a, ENGINE_E_DENIED);
	return engine_respond(e, a, 403, ENGINE_E_DENIED);
}

/* ---- basic-auth ---------------------------------------------------------- */

/*
 * Decodes standard base64 (padding optional) into the arena, NUL
 * terminated.  Returns the text, or NULL when it is not base64.
 */
static char *
b64_decode(struct engine *e, const char *s, size_t n, size_t *outlen)
{
	unsigned char *out;

	out = cel_arena_alloc(&e->arena, GW_BASE64_DECODED_MAX(n) + 1);
	if (out == NULL || gw_base64_decode(s, n, out, outlen, 0) == -1)
		return NULL;
	out[*outlen] = '\0';
	return (char *)out;
}

/*
 * Compares in time that depends only on the configured <secret>'s
 * length, never on where the first difference is.
 */
static int
ct_eq(const char *given, size_t glen, const char *secret, size_t slen)
{
	volatile unsigned char d = glen != slen;
	size_t i;

	for (i = 0; i < slen; i++)
		d |= (unsigned char)((unsigned char)secret[i] ^
		    (unsigned char)(i < glen ? given[i] : 0));
	return d == 0;
}

static enum engine_step
run_basic_auth(struct engine *e, const struct action *a)
{
	const struct action_basic_auth *ba = &a->basic_auth;
	const char *h = engine_req_header(e, "authorization"), *c, *colon;
	const char *user = NULL, *pass = NULL;
	char *dec = NULL, *www;
	size_t i, dlen = 0, ulen = 0, plen = 0, len;
	int ok = 0;

	if (h != NULL) {
		while (*h == ' ' || *h == '\t')
			h++;
		if (strncasecmp(h, "basic", 5) == 0 &&
		    (h[5] == ' ' || h[5] == '\t')) {
			h += 5;
			h += strspn(h, " \t");
			len = strcspn(h, " \t");
			if (h[len + strspn(h + len, " \t")] == '\0')
				dec = b64_decode(e, h, len, &dlen);
		}
	}
	if (dec != NULL && (colon = memchr(dec, ':', dlen)) != NULL) {
		*(char *)colon = '\0';
		user = dec;
		ulen = (size_t)(colon - dec);
		pass = colon + 1;
		plen = dlen - ulen - 1;
	}
	if (user != NULL) {
		/* Every credential is compared, so timing tells nothing. */
		for (i = 0; i < ba->ncreds; i++)
			ok |= ct_eq(user, ulen, ba->creds[i].user,
			          strlen(ba->creds[i].user)) &
			    ct_eq(pass, plen, ba->creds[i].pass,
			        strlen(ba->creds[i].pass));
		for (i = 0; i < ba->ncred_tmpl; i++) {
			if (engine_render(e, &ba->cred_tmpl[i], 0, "basic-auth",
			        &c, &len) == -1 ||
			    (colon = memchr(c, ':', len)) == NULL)
				continue;
			ok |= ct_eq(user, ulen, c, (size_t)(colon - c)) &
			    ct_eq(pass, plen, colon + 1,
			        len - (size_t)(colon - c) - 1);
		}
	}
	vars_set_result(
	    e->req, VARS_BASIC_AUTH_PRESENTED, cel_bool(user != NULL));
	if (user != NULL) {
		vars_set_result(
		    e->req, VARS_BASIC_AUTH_USERNAME, cel_str(user, ulen));
		e->d.auth_user = user;
	}
	vars_set_result(e->req, VARS_BASIC_AUTH_AUTHORIZED, cel_bool(ok));
	if (ok || !ba->enforce) {
		e->d.auth_decision = "allow";
		return ENGINE_NEXT;
	}
	e->d.auth_decision = "block";
	/* The loader allows no '"' or '\\' in a realm. */
	www = engine_printf(
	    e, "Basic realm=\"%s\"", ba->realm != NULL ? ba->realm : "ngrok");
	if (www != NULL)
		(void)engine_respond_header(
		    e, "WWW-Authenticate", 16, www, strlen(www));
	e->d.error_message =
	    user != NULL ? "invalid credentials" : "no credentials presented";
	return engine_respond(e, a, 401, ENGINE_E_UNAUTHORIZED);
}

/* ---- log, set-vars ------------------------------------------------------- */

static enum engine_step
run_log(struct engine *e, const struct action *a)
{
	struct cel_value v;
	size_t mark = e->logs.len;
	int r = 0;

	if (engine_value(e, &a->log.metadata, "log metadata", &v) == -1)
		return ENGINE_NEXT;
	if (mark > 0)
		r |= gw_buf_addc(&e->logs, ',');
	r |= gw_buf_adds(&e->logs, "{\"metadata\":");
	if (r != 0 || cel_value_to_json(&v, &e->logs) == -1 ||
	    gw_buf_addc(&e->logs, '}') == -1) {
		e->logs.len = mark;
		engine_fail(
		    e, &a->pos, "log metadata", "the value has no JSON form");
		return ENGINE_NEXT;
	}
	vars_set_result(e->req, VARS_LOG_METADATA, v);
	return ENGINE_NEXT;
}

static enum engine_step
run_set_vars(struct engine *e, const struct action *a)
{
	const struct action_set_vars *sv = &a->set_vars;
	struct cel_value v;
	size_t i;

	for (i = 0; i < sv->n; i++) {
		if (engine_value(e, &sv->vars[i].val, "set-vars", &v) == -1)
			continue;
		if (engine_grow((void **)&e->vars, &e->capvars, e->nvars + 1,
		        sizeof(*e->vars)) == -1) {
			engine_fail(e, &a->pos, "set-vars", "out of memory");
			break;
		}
		e->vars[e->nvars].name = sv->vars[i].name;
		e->vars[e->nvars].val = v;
		e->nvars++;
		/* Later expressions, even of this action, see it. */
		e->req->vars = e->vars;
		e->req->nvars = e->nvars;
	}
	return ENGINE_NEXT;
}

/* ---- compress-response --------------------------------------------------- */

static const char *const alg_names[ACTION_COMPRESS_NALGS] = {
	[ACTION_COMPRESS_BR] = "br",
	[ACTION_COMPRESS_DEFLATE] = "deflate",
	[ACTION_COMPRESS_GZIP] = "gzip",
	[ACTION_COMPRESS_ZSTD] = "zstd",
};

/* A q-value ("1", "0.5", "0.125") in thousandths; -1 if malformed. */
static int
qvalue(const char *s, size_t n)
{
	int q, scale = 100;
	size_t i;

	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	q = (s[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (s[1] != '.' || n > 5)
		return -1;
	for (i = 2; i < n; i++, scale /= 10) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		q += (s[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/*
 * Accept-Encoding negotiation (RFC 9110 §12.5.3): the configured
 * algorithm with the highest q above 0 wins, ties going to the order of
 * the configuration; "*" stands for any algorithm not named.
 */
static const char *
negotiate(struct engine *e, const struct action_compress_response *cr)
{
	const struct policy_req *r = e->req;
	int q[ACTION_COMPRESS_NALGS], star = -1, best = 0, qv, k;
	const char *v, *tok, *par;
	size_t i, n, tlen, plen;
	const char *pick = NULL;

	for (k = 0; k < ACTION_COMPRESS_NALGS; k++)
		q[k] = -1;
	for (i = 0; i < r->nreq_headers; i++) {
		if (r->req_headers[i].name == NULL ||
		    strcasecmp(r->req_headers[i].name, "accept-encoding"))
			continue;
		for (v = r->req_headers[i].value; *v != '\0'; v += n) {
			n = strcspn(v, ",");
			tok = v + strspn(v, " \t");
			tlen = strcspn(tok, " \t;,");
			qv = 1000;
			if ((par = memchr(tok, ';', (size_t)(v + n - tok))) !=
			    NULL) {
				par += 1 + strspn(par + 1, " \t");
				plen = strcspn(par, " \t,");
				if (plen >= 2 &&
				    (par[0] == 'q' || par[0] == 'Q') &&
				    par[1] == '=')
					qv = qvalue(par + 2, plen - 2);
			}
			if (v[n] == ',')
				n++;
			if (qv < 0 || tlen == 0)
				continue;
			if (tlen == 1 && tok[0] == '*')
				star = qv;
			for (k = 0; k < ACTION_COMPRESS_NALGS; k++)
				if ((strlen(alg_names[k]) == tlen &&
				        strncasecmp(tok, alg_names[k], tlen) ==
				            0) ||
				    (k == ACTION_COMPRESS_GZIP && tlen == 6 &&
				        strncasecmp(tok, "x-gzip", 6) == 0))
					q[k] = qv;
		}
	}
	for (i = 0; i < cr->nalgs; i++) {
		k = (int)cr->algs[i];
		qv = q[k] >= 0 ? q[k] : star;
		if (qv > best) {
			best = qv;
			pick = alg_names[k];
		}
	}
	return pick;
}

static enum engine_step
run_compress(struct engine *e, const struct action *a)
{
	const struct policy_req *r = e->req;
	const char *alg = NULL;
	size_t i;
	int already = 0;

	for (i = 0; i < r->nres_headers; i++)
		if (r->res_headers[i].name != NULL &&
		    strcasecmp(r->res_headers[i].name, "content-encoding") ==
		        0 &&
		    r->res_headers[i].value[0] != '\0' &&
		    strcasecmp(r->res_headers[i].value, "identity") != 0)
			already = 1;
	if (!already)
		alg = negotiate(e, &a->compress);
	vars_set_result(
	    e->req, VARS_COMPRESS_ALREADY_COMPRESSED, cel_bool(already));
	vars_set_result(e->req, VARS_COMPRESS_NEGOTIATED_ALGORITHM,
	    cstr(alg != NULL ? alg : ""));
	e->d.compress = alg;
	return ENGINE_NEXT;
}

enum engine_step
engine_run_action(struct engine *e, const struct action *a)
{
	switch (a->type) {
	case ACTION_RATE_LIMIT:
		return run_rate_limit(e, a);
	case ACTION_DENY:
		return run_deny(e, a);
	case ACTION_CUSTOM_RESPONSE:
		return run_custom_response(e, a);
	case ACTION_ADD_HEADERS:
		return run_add_headers(e, a);
	case ACTION_REMOVE_HEADERS:
		return run_remove_headers(e, a);
	case ACTION_RESTRICT_IPS:
		return run_restrict_ips(e, a);
	case ACTION_URL_REWRITE:
		return engine_url_rewrite(e, a);
	case ACTION_REDIRECT:
		return engine_redirect(e, a);
	case ACTION_BASIC_AUTH:
		return run_basic_auth(e, a);
	case ACTION_LOG:
		return run_log(e, a);
	case ACTION_SET_VARS:
		return run_set_vars(e, a);
	case ACTION_CLOSE_CONNECTION:
		return run_close(e, a);
	case ACTION_COMPRESS_RESPONSE:
		return run_compress(e, a);
	case ACTION_CIRCUIT_BREAKER:
		return engine_circuit_breaker(e, a);
	case ACTION_NTYPES:
		break;
	}
	return ENGINE_NEXT;
}
