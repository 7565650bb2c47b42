/* SPDX-License-Identifier: MIT */
/*
 * Tests of gw-policy's engine (engine.c, actions_run.c) and of the reader
 * of questions and events (question.c): policies parsed from strings,
 * requests built by hand, and the decisions checked the way gw-proxy
 * sees them, as answer lines, for each action with the spec's own
 * examples (reference/ngrok-traffic-policy.md §2.2): rate limits with
 * their headers and recovery on simulated time, monitor-only limits seen
 * by a later rule, deny, custom-response with interpolation, header edits,
 * restrict-ips over IPv4 and IPv6, url-rewrite and redirect with groups,
 * basic-auth, log, typed set-vars, close-connection, terminating
 * semantics, circuit breakers, compression negotiation, and run-time
 * errors that make a rule not match.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gw-policy/engine.h"
#include "../../gw-policy/gw-policy.h"
#include "harness.h"

#define SEC 1000000000LL
#define T0  (1767225600LL * SEC) /* 2026-01-01T00:00:00Z */

static struct engine *
mk(const char *yaml)
{
	struct policy_errors errs;
	struct engine *e;
	struct policy *p;
	char msg[1024];
	size_t i;

	policy_errors_init(&errs);
	p = policy_parse("t.yml", yaml, strlen(yaml), &errs);
	for (i = 0; i < errs.n; i++) {
		gw_error_format(&errs.v[i].err, msg, sizeof(msg));
		fprintf(stderr, "policy: %s\n", msg);
	}
	policy_errors_fini(&errs);
	CHECK(p != NULL);
	e = engine_new(1000);
	CHECK(e != NULL);
	if (p != NULL && e != NULL)
		CHECK(engine_set_policy(e, p) == 0);
	return e;
}

static struct policy_hdr hdrs[16];
static size_t nhdrs;
static struct policy_hdr rhdrs[8];
static size_t nrhdrs;

/* A request from <ip> for <path>[?query], headers added with hdr(). */
static void
req(struct policy_req *r, enum policy_phase ph, const char *ip,
    const char *path, const char *query)
{
	memset(r, 0, sizeof(*r));
	r->phase = ph;
	r->now_ns = T0;
	r->client_ip = ip;
	r->client_port = 40000;
	r->server_ip = "127.0.0.1";
	r->server_port = 8080;
	r->server_name = "api.example.com";
	r->conn_start_ns = T0 - SEC;
	r->method = "GET";
	r->version = "HTTP/1.1";
	r->scheme = "http";
	r->host = "api.example.com";
	r->path = path;
	r->query = query;
	r->req_headers = hdrs;
	r->nreq_headers = nhdrs = 0;
	r->res_headers = rhdrs;
	r->nres_headers = nrhdrs = 0;
}

static void
hdr(struct policy_req *r, const char *name, const char *value)
{
	hdrs[nhdrs].name = name;
	hdrs[nhdrs].value = value;
	r->nreq_headers = ++nhdrs;
}

static void
rhdr(struct policy_req *r, const char *name, const char *value)
{
	rhdrs[nrhdrs].name = name;
	rhdrs[nrhdrs].value = value;
	r->nres_headers = ++nrhdrs;
}

/* The answer line for <d> (id 1), in a static buffer. */
static const char *
ans(const struct engine_decision *d)
{
	static char out[8192];
	struct gw_buf b;

	gw_buf_init(&b, 0);
	CHECK(engine_answer(d, 1, &b) == 0);
	snprintf(out, sizeof(out), "%.*s", (int)b.len, gw_buf_head(&b));
	gw_buf_fini(&b);
	return out;
}

/* Evaluates and returns the answer line. */
static const char *
run(struct engine *e, struct policy_req *r)
{
	return ans(engine_eval(e, r));
}

/* A response header of <d> (any case), or NULL. */
static const char *
rh(const struct engine_decision *d, const char *name)
{
	static char v[512];
	size_t i;

	for (i = 0; i < d->nheaders; i++)
		if (d->headers[i].nlen == strlen(name) &&
		    strncasecmp(d->headers[i].name, name, d->headers[i].nlen) ==
		        0) {
			snprintf(v, sizeof(v), "%.*s", (int)d->headers[i].vlen,
			    d->headers[i].value);
			return v;
		}
	return NULL;
}

#define CHECK_HAS(hay, needle)                                          \
	do {                                                            \
		const char *h_ = (hay);                                 \
		if (strstr(h_, (needle)) == NULL) {                     \
			fprintf(stderr, "%s:%d: \"%s\" lacks \"%s\"\n", \
			    __FILE__, __LINE__, h_, (needle));          \
			harness_failed_checks++;                        \
		}                                                       \
	} while (0)

TEST(test_no_match_is_plain_continue)
{
	struct engine *e =
	    mk("on_http_request:\n"
	       "  - name: admin\n"
	       "    expressions: [\"req.url.path.startsWith('/admin')\"]\n"
	       "    actions: [{type: deny}]\n");
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/api/users", "");
	CHECK_STREQ(run(e, &r), "{\"id\":1,\"action\":\"continue\"}");
	/* An empty phase answers the same. */
	req(&r, POLICY_HTTP_RESPONSE, "10.0.0.1", "/api/users", "");
	r.status_code = 200;
	CHECK_STREQ(run(e, &r), "{\"id\":1,\"action\":\"continue\"}");
	CHECK(engine_phases(e) == 1u << POLICY_HTTP_REQUEST);
	engine_free(e);
}

static const char rate_policy[] = "on_http_request:\n"
                                  "  - name: per-ip\n"
                                  "    actions:\n"
                                  "      - type: rate-limit\n"
                                  "        config:\n"
                                  "          name: per-ip\n"
                                  "          algorithm: sliding_window\n"
                                  "          capacity: 3\n"
                                  "          rate: 60s\n"
                                  "          bucket_key: [conn.client_ip]\n"
                                  "      - type: add-headers\n"
                                  "        config:\n"
                                  "          headers: {x-checked: \"yes\"}\n";

TEST(test_rate_limit)
{
	struct engine *e = mk(rate_policy);
	const struct engine_decision *d;
	struct policy_req r;
	int i;

	for (i = 0; i < 3; i++) {
		req(&r, POLICY_HTTP_REQUEST, "203.0.113.7", "/", "");
		r.now_ns = T0 + i * SEC;
		CHECK_HAS(run(e, &r), "\"action\":\"continue\"");
	}
	req(&r, POLICY_HTTP_REQUEST, "203.0.113.7", "/", "");
	r.now_ns = T0 + 3 * SEC;
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND);
	CHECK(d->status == 429);
	CHECK_STREQ(d->error_code, "GW_RATE_LIMITED");
	CHECK(rh(d, "Retry-After") != NULL && atoi(rh(d, "Retry-After")) >= 1 &&
	    atoi(rh(d, "Retry-After")) <= 60);
	CHECK_STREQ(rh(d, "RateLimit-Limit"), "3");
	CHECK_STREQ(rh(d, "RateLimit-Remaining"), "0");
	CHECK(rh(d, "RateLimit-Reset") != NULL);
	CHECK(d->rule != NULL && d->by == ACTION_RATE_LIMIT);
	/* The refused request ends the phase: add-headers did not run. */
	CHECK_HAS(ans(d), "\"status\":429,\"headers\":{\"Retry-After\":[");
	CHECK_HAS(ans(d), "\"body\":\"\",\"error_code\":\"GW_RATE_LIMITED\"");
	CHECK_HAS(ans(d), "\"rules_matched\":[\"per-ip\"]");
	CHECK(strstr(ans(d), "X-Checked") == NULL);
	/* Another client has its own bucket. */
	req(&r, POLICY_HTTP_REQUEST, "203.0.113.8", "/", "");
	r.now_ns = T0 + 3 * SEC;
	CHECK_HAS(run(e, &r), "\"set_headers\":{\"X-Checked\":[\"yes\"]}");
	/* Two windows later the first client is welcome again. */
	req(&r, POLICY_HTTP_REQUEST, "203.0.113.7", "/", "");
	r.now_ns = T0 + 125 * SEC;
	CHECK_HAS(run(e, &r), "\"action\":\"continue\"");
	engine_free(e);
}

TEST(test_rate_limit_survives_reload)
{
	struct engine *e = mk(rate_policy);
	struct policy_errors errs;
	struct policy_req r;
	struct policy *p;
	char *bigger;
	int i;

	for (i = 0; i < 4; i++) {
		req(&r, POLICY_HTTP_REQUEST, "203.0.113.7", "/", "");
		(void)engine_eval(e, &r);
	}
	policy_errors_init(&errs);
	p = policy_parse("t.yml", rate_policy, strlen(rate_policy), &errs);
	CHECK(p != NULL && engine_set_policy(e, p) == 0);
	req(&r, POLICY_HTTP_REQUEST, "203.0.113.7", "/", "");
	CHECK(engine_eval(e, &r)->status == 429);
	/* A changed rule starts afresh. */
	bigger = strdup(rate_policy);
	CHECK(bigger != NULL);
	*strstr(bigger, "capacity: 3") = 'C';
	memcpy(strstr(bigger, "Capacity: 3"), "capacity: 9", 11);
	p = policy_parse("t.yml", bigger, strlen(bigger), &errs);
	CHECK(p != NULL && engine_set_policy(e, p) == 0);
	req(&r, POLICY_HTTP_REQUEST, "203.0.113.7", "/", "");
	CHECK(engine_eval(e, &r)->action == ENGINE_CONTINUE);
	policy_errors_fini(&errs);
	free(bigger);
	engine_free(e);
}

TEST(test_rate_limit_monitor_mode)
{
	struct engine *e =
	    mk("on_http_request:\n"
	       "  - name: watch\n"
	       "    actions:\n"
	       "      - type: rate-limit\n"
	       "        config: {name: watch, enforce: false, algorithm: "
	       "sliding_window, capacity: 1, rate: 60s,\n"
	       "                 bucket_key: [\"getReqHeader('x-api-key')\"]}\n"
	       "  - name: tell\n"
	       "    expressions: [\"actions.ngrok.rate_limit.limited\"]\n"
	       "    actions:\n"
	       "      - type: custom-response\n"
	       "        config: {status_code: 429, body: \"slow down, "
	       "${actions.ngrok.rate_limit.bucket_key}\"}\n");
	const struct engine_decision *d;
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	hdr(&r, "X-Api-Key", "k1");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_CONTINUE && d->monitor_limited == NULL);
	CHECK_HAS(ans(d), "\"rules_matched\":[\"watch\"]");
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	hdr(&r, "X-Api-Key", "k1");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND && d->status == 429);
	CHECK(d->error_code == NULL);
	CHECK(d->monitor_limited != NULL);
	CHECK_HAS(ans(d), "\"body\":\"slow down, [\\\"k1\\\"]\"");
	CHECK_HAS(ans(d), "\"rules_matched\":[\"watch\",\"tell\"]");
	engine_free(e);
}

TEST(test_deny)
{
	struct engine *e =
	    mk("on_tcp_connect:\n"
	       "  - name: ranges\n"
	       "    expressions: [\"conn.client_ip == '192.0.2.1'\"]\n"
	       "    actions: [{type: deny}]\n"
	       "on_http_request:\n"
	       "  - name: admin\n"
	       "    expressions: [\"req.url.path.startsWith('/admin')\"]\n"
	       "    actions: [{type: deny}]\n"
	       "  - name: hidden\n"
	       "    expressions: [\"req.url.path == '/secret'\"]\n"
	       "    actions: [{type: deny, config: {status_code: 404}}]\n");
	const struct engine_decision *d;
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/admin/users", "");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND && d->status == 403);
	CHECK_STREQ(ans(d),
	    "{\"id\":1,\"action\":\"respond\",\"status\":403,"
	    "\"headers\":{},\"body\":\"\",\"error_code\":"
	    "\"GW_DENIED\",\"rules_matched\":[\"admin\"]}");
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/secret", "");
	CHECK(engine_eval(e, &r)->status == 404);
	req(&r, POLICY_TCP_CONNECT, "192.0.2.1", NULL, NULL);
	CHECK_STREQ(run(e, &r),
	    "{\"id\":1,\"action\":\"close\",\"error_code\":"
	    "\"GW_DENIED\",\"rules_matched\":[\"ranges\"]}");
	req(&r, POLICY_TCP_CONNECT, "192.0.2.2", NULL, NULL);
	CHECK_STREQ(run(e, &r), "{\"id\":1,\"action\":\"continue\"}");
	engine_free(e);
}

TEST(test_custom_response)
{
	struct engine *e = mk(
	    "on_http_request:\n"
	    "  - name: hello\n"
	    "    expressions: [\"req.url.path == '/hello'\"]\n"
	    "    actions:\n"
	    "      - type: custom-response\n"
	    "        config:\n"
	    "          status_code: 418\n"
	    "          headers: {x-client: \"${conn.client_ip}\"}\n"
	    "          body: \"Hello ${req.url.query_params['name'][0]} from "
	    "${req.method}\"\n"
	    "  - name: json\n"
	    "    expressions: [\"req.url.path == '/json'\"]\n"
	    "    actions:\n"
	    "      - type: custom-response\n"
	    "        config: {body: '{\"ok\":true}'}\n");
	const struct engine_decision *d;
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.9", "/hello", "name=ann");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND && d->status == 418);
	CHECK(d->error_code == NULL);
	CHECK_STREQ(d->body, "Hello ann from GET");
	CHECK_STREQ(rh(d, "x-client"), "10.0.0.9");
	CHECK_STREQ(rh(d, "content-type"), "text/plain; charset=utf-8");
	CHECK_HAS(ans(d),
	    "\"headers\":{\"X-Client\":[\"10.0.0.9\"],"
	    "\"Content-Type\":[\"text/plain; charset=utf-8\"]},"
	    "\"body\":\"Hello ann from GET\"");
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.9", "/json", "");
	d = engine_eval(e, &r);
	CHECK(d->status == 200);
	CHECK_STREQ(rh(d, "content-type"), "application/json");
	CHECK_HAS(ans(d), "\"body\":\"{\\\"ok\\\":true}\"");
	engine_free(e);
}

TEST(test_headers)
{
	struct engine *e = mk(
	    "on_http_request:\n"
	    "  - name: tag\n"
	    "    actions:\n"
	    "      - type: add-headers\n"
	    "        config: {headers: {x-tier: gold, x-ip: \"${conn.client_ip}\"}}\n"
	    "      - type: remove-headers\n"
	    "        config: {headers: [x-debug]}\n"
	    "  - name: replace\n"
	    "    actions:\n"
	    "      - type: remove-headers\n"
	    "        config: {headers: [x-env]}\n"
	    "      - type: add-headers\n"
	    "        config: {headers: {x-env: prod}}\n"
	    "  - name: seen\n"
	    "    expressions: [\"hasReqHeader('x-tier') && "
	    "!hasReqHeader('x-debug') && getReqHeader('x-env') == ['prod'] "
	    "&& actions.ngrok.add_headers.headers_added['x-env'] == 'prod'\"]\n"
	    "    actions:\n"
	    "      - type: add-headers\n"
	    "        config: {headers: {x-tier: platinum}}\n"
	    "on_http_response:\n"
	    "  - name: res\n"
	    "    actions:\n"
	    "      - type: add-headers\n"
	    "        config: {headers: {x-served-by: gw}}\n"
	    "      - type: remove-headers\n"
	    "        config: {headers: [server]}\n");
	struct policy_req r;
	const char *a;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	hdr(&r, "X-Tier", "silver");
	hdr(&r, "X-Debug", "1");
	hdr(&r, "X-Env", "dev");
	a = run(e, &r);
	/* add-headers appends to what was there, remove then add replaces. */
	CHECK_HAS(a,
	    "\"set_headers\":{\"X-Tier\":[\"silver\",\"gold\","
	    "\"platinum\"],\"X-Ip\":[\"10.0.0.1\"],\"X-Env\":"
	    "[\"prod\"]}");
	CHECK_HAS(a, "\"remove_headers\":[\"X-Debug\"]");
	CHECK_HAS(a, "\"rules_matched\":[\"tag\",\"replace\",\"seen\"]");
	req(&r, POLICY_HTTP_RESPONSE, "10.0.0.1", "/", "");
	r.status_code = 200;
	rhdr(&r, "Server", "upstream/1.0");
	a = run(e, &r);
	CHECK_HAS(a,
	    "\"set_headers\":{\"X-Served-By\":[\"gw\"]},"
	    "\"remove_headers\":[\"Server\"]");
	engine_free(e);
}

static const char ips_policy[] =
    "on_http_request:\n"
    "  - name: office\n"
    "    expressions: [\"req.url.path.startsWith('/v4')\"]\n"
    "    actions:\n"
    "      - type: restrict-ips\n"
    "        config: {allow: [10.0.0.0/8, 2001:db8::/32], deny: "
    "[10.6.6.0/24]}\n"
    "  - name: watch\n"
    "    expressions: [\"req.url.path.startsWith('/watch')\"]\n"
    "    actions:\n"
    "      - type: restrict-ips\n"
    "        config: {enforce: false, allow: [\"${'192.168.0.0/16'}\"]}\n"
    "  - name: after\n"
    "    expressions: [\"has(actions.ngrok.restrict_ips.action)\"]\n"
    "    actions:\n"
    "      - type: add-headers\n"
    "        config: {headers: {x-ip-action: "
    "\"${actions.ngrok.restrict_ips.action}\"}}\n";

TEST(test_restrict_ips)
{
	struct engine *e = mk(ips_policy);
	const struct engine_decision *d;
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.1.2.3", "/v4", "");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_CONTINUE);
	CHECK_STREQ(d->ip_decision, "allow");
	CHECK_HAS(
	    ans(d), "\"decisions\":{\"ip_policy\":{\"decision\":\"allow\"}}");
	CHECK_HAS(ans(d), "\"X-Ip-Action\":[\"allow\"]");
	req(&r, POLICY_HTTP_REQUEST, "192.168.1.1", "/v4", "");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND && d->status == 403);
	CHECK_STREQ(d->error_code, "GW_DENIED");
	CHECK_HAS(
	    ans(d), "\"decisions\":{\"ip_policy\":{\"decision\":\"block\"}}");
	/* The deny list wins over the allow list. */
	req(&r, POLICY_HTTP_REQUEST, "10.6.6.6", "/v4", "");
	CHECK(engine_eval(e, &r)->status == 403);
	/* IPv6, and IPv4-mapped addresses. */
	req(&r, POLICY_HTTP_REQUEST, "2001:db8::1", "/v4", "");
	CHECK(engine_eval(e, &r)->action == ENGINE_CONTINUE);
	req(&r, POLICY_HTTP_REQUEST, "2001:db9::1", "/v4", "");
	CHECK(engine_eval(e, &r)->status == 403);
	req(&r, POLICY_HTTP_REQUEST, "::ffff:10.1.1.1", "/v4", "");
	CHECK(engine_eval(e, &r)->action == ENGINE_CONTINUE);
	/* enforce: false lets it through and tells later rules. */
	req(&r, POLICY_HTTP_REQUEST, "10.1.2.3", "/watch", "");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_CONTINUE);
	CHECK_HAS(ans(d), "\"X-Ip-Action\":[\"deny\"]");
	req(&r, POLICY_HTTP_REQUEST, "192.168.7.7", "/watch", "");
	CHECK_HAS(run(e, &r), "\"X-Ip-Action\":[\"allow\"]");
	engine_free(e);
}

TEST(test_restrict_ips_tcp)
{
	struct engine *e =
	    mk("on_tcp_connect:\n"
	       "  - actions:\n"
	       "      - type: restrict-ips\n"
	       "        config: {allow: [127.0.0.0/8, \"::1/128\"]}\n");
	struct policy_req r;

	req(&r, POLICY_TCP_CONNECT, "127.0.0.1", NULL, NULL);
	CHECK(engine_eval(e, &r)->action == ENGINE_CONTINUE);
	req(&r, POLICY_TCP_CONNECT, "::1", NULL, NULL);
	CHECK(engine_eval(e, &r)->action == ENGINE_CONTINUE);
	req(&r, POLICY_TCP_CONNECT, "198.51.100.1", NULL, NULL);
	CHECK_HAS(
	    run(e, &r), "\"action\":\"close\",\"error_code\":\"GW_DENIED\"");
	engine_free(e);
}

TEST(test_url_rewrite)
{
	struct engine *e =
	    mk("on_http_request:\n"
	       "  - name: v2\n"
	       "    actions:\n"
	       "      - type: url-rewrite\n"
	       "        config: {from: \"/v1/([a-z]+)\", to: \"/v2/$1\"}\n"
	       "  - name: seen\n"
	       "    expressions: [\"req.url.path == '/v2/users' && "
	       "actions.ngrok.url_rewrite.matches[1] == 'users'\"]\n"
	       "    actions:\n"
	       "      - type: url-rewrite\n"
	       "        config: {from: \"${req.url.path}\", to: "
	       "\"${req.url.path}/all\"}\n");
	const struct engine_decision *d;
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/v1/users", "page=2");
	r.url_raw = "http://api.example.com/v1/users?page=2";
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_CONTINUE);
	CHECK_STREQ(d->rewrite_url, "/v2/users/all?page=2");
	CHECK_HAS(ans(d),
	    "\"rewrite_url\":\"/v2/users/all?page=2\","
	    "\"rules_matched\":[\"v2\",\"seen\"]");
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/other", "");
	CHECK_STREQ(run(e, &r),
	    "{\"id\":1,\"action\":\"continue\","
	    "\"rules_matched\":[\"v2\"]}");
	engine_free(e);
}

TEST(test_redirect)
{
	struct engine *e =
	    mk("on_http_request:\n"
	       "  - name: moved\n"
	       "    actions:\n"
	       "      - type: redirect\n"
	       "        config:\n"
	       "          from: \"http://([^/]+)/old/(.*)\"\n"
	       "          to: \"https://$1/new/$2?from=${req.url.path}\"\n"
	       "          status_code: 301\n"
	       "          headers: {x-why: moved}\n"
	       "  - name: same\n"
	       "    actions:\n"
	       "      - type: redirect\n"
	       "        config: {to: \"${req.url}\"}\n");
	const struct engine_decision *d;
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/old/a b", "");
	r.url_raw = "http://api.example.com/old/a b";
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND && d->status == 301);
	CHECK(d->error_code == NULL);
	/* Interpolated values are URL-escaped; $N groups are not. */
	CHECK_STREQ(rh(d, "location"),
	    "https://api.example.com/new/a b?from=/old/a%20b");
	CHECK_STREQ(rh(d, "x-why"), "moved");
	/* A redirect to the URL itself is skipped. */
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/here", "");
	r.url_raw = "http://api.example.com/here";
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_CONTINUE);
	CHECK_HAS(ans(d), "\"rules_matched\":[\"moved\",\"same\"]");
	engine_free(e);
}

static const char auth_policy[] =
    "on_http_request:\n"
    "  - name: auth\n"
    "    actions:\n"
    "      - type: basic-auth\n"
    "        config:\n"
    "          realm: gw-test\n"
    "          credentials: [\"alice:correct-horse\", "
    "\"${'bob'}:battery-staple\"]\n"
    "  - name: who\n"
    "    expressions: [\"actions.ngrok.basic_auth.authorized\"]\n"
    "    actions:\n"
    "      - type: add-headers\n"
    "        config: {headers: {x-user: "
    "\"${actions.ngrok.basic_auth.credentials.username}\"}}\n";

TEST(test_basic_auth)
{
	struct engine *e = mk(auth_policy);
	const struct engine_decision *d;
	struct policy_req r;

	/* alice:correct-horse */
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	hdr(&r, "Authorization", "Basic YWxpY2U6Y29ycmVjdC1ob3JzZQ==");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_CONTINUE);
	CHECK_HAS(ans(d), "\"X-User\":[\"alice\"]");
	CHECK_HAS(ans(d),
	    "\"decisions\":{\"basic_auth\":{\"decision\":"
	    "\"allow\",\"username\":\"alice\"}}");
	/* bob:battery-staple, from a template */
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	hdr(&r, "authorization", "basic Ym9iOmJhdHRlcnktc3RhcGxl");
	CHECK(engine_eval(e, &r)->action == ENGINE_CONTINUE);
	/* alice:wrong-horse */
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	hdr(&r, "Authorization", "Basic YWxpY2U6d3JvbmctaG9yc2U=");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND && d->status == 401);
	CHECK_STREQ(rh(d, "WWW-Authenticate"), "Basic realm=\"gw-test\"");
	CHECK_STREQ(d->error_code, "GW_UNAUTHORIZED");
	CHECK_HAS(ans(d),
	    "\"decisions\":{\"basic_auth\":{\"decision\":"
	    "\"block\",\"username\":\"alice\"}}");
	/* No credentials, and credentials that are not base64. */
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	d = engine_eval(e, &r);
	CHECK(d->status == 401 && d->auth_user == NULL);
	CHECK_HAS(ans(d),
	    "\"decisions\":{\"basic_auth\":{\"decision\":"
	    "\"block\"}}");
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	hdr(&r, "Authorization", "Basic !!!");
	CHECK(engine_eval(e, &r)->status == 401);
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	hdr(&r, "Authorization", "Bearer YWxpY2U6Y29ycmVjdC1ob3JzZQ==");
	CHECK(engine_eval(e, &r)->status == 401);
	engine_free(e);
}

TEST(test_log_and_set_vars)
{
	struct engine *e =
	    mk("on_http_request:\n"
	       "  - name: vars\n"
	       "    actions:\n"
	       "      - type: set-vars\n"
	       "        config:\n"
	       "          vars:\n"
	       "            - n: \"${size(req.url.path)}\"\n"
	       "            - s: \"len ${size(req.url.path)}\"\n"
	       "            - big: \"${vars.n > 3}\"\n"
	       "            - l: [1, \"${req.method}\"]\n"
	       "  - name: typed\n"
	       "    expressions: [\"vars.n == 6 && vars.s == 'len 6' && "
	       "vars.big && vars.l[1] == 'GET'\"]\n"
	       "    actions:\n"
	       "      - type: log\n"
	       "        config:\n"
	       "          metadata:\n"
	       "            path: \"${req.url.path}\"\n"
	       "            n: \"${vars.n}\"\n"
	       "            note: \"n=${vars.n}\"\n"
	       "      - type: log\n"
	       "        config: {metadata: {second: true}}\n");
	const struct engine_decision *d;
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/users", "");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_CONTINUE);
	CHECK_STREQ(ans(d),
	    "{\"id\":1,\"action\":\"continue\",\"rules_matched\":[\"vars\","
	    "\"typed\"],\"logs\":[{\"metadata\":{\"path\":\"/users\",\"n\":6,"
	    "\"note\":\"n=6\"}},{\"metadata\":{\"second\":true}}]}");
	engine_free(e);
}

TEST(test_close_and_terminating)
{
	struct engine *e = mk("on_http_request:\n"
	                      "  - name: bye\n"
	                      "    expressions: [\"req.url.path == '/bye'\"]\n"
	                      "    actions: [{type: close-connection}]\n"
	                      "  - name: first\n"
	                      "    actions:\n"
	                      "      - type: add-headers\n"
	                      "        config: {headers: {x-a: \"1\"}}\n"
	                      "      - type: custom-response\n"
	                      "        config: {status_code: 204}\n"
	                      "  - name: never\n"
	                      "    actions:\n"
	                      "      - type: add-headers\n"
	                      "        config: {headers: {x-b: \"1\"}}\n");
	const struct engine_decision *d;
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/bye", "");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_CLOSE);
	CHECK_STREQ(ans(d),
	    "{\"id\":1,\"action\":\"close\",\"error_code\":"
	    "\"GW_DENIED\",\"rules_matched\":[\"bye\"]}");
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND && d->status == 204);
	/* Later rules never ran; edits of a continue do not apply. */
	CHECK_STREQ(ans(d),
	    "{\"id\":1,\"action\":\"respond\",\"status\":204,"
	    "\"headers\":{},\"body\":\"\",\"rules_matched\":"
	    "[\"first\"]}");
	engine_free(e);
}

TEST(test_runtime_error)
{
	struct engine *e = mk(
	    "on_http_request:\n"
	    "  - name: div\n"
	    "    expressions: [\"1 / (size(req.url.path) - size(req.url.path)) "
	    "== 1\"]\n"
	    "    actions: [{type: deny}]\n"
	    "  - name: key\n"
	    "    expressions: [\"req.headers['x-missing'][0] == 'a'\"]\n"
	    "    actions: [{type: deny}]\n"
	    "  - name: tmpl\n"
	    "    actions:\n"
	    "      - type: add-headers\n"
	    "        config: {headers: {x-a: \"${req.headers['nope'][0]}\", "
	    "x-b: ok}}\n");
	const struct engine_decision *d;
	struct policy_req r;
	int i;

	for (i = 0; i < 3; i++) {
		req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/x", "");
		d = engine_eval(e, &r);
		CHECK(d->action == ENGINE_CONTINUE);
		CHECK(d->errors == 3);
		/* The header whose template failed is left out, not empty. */
		CHECK_HAS(ans(d),
		    "\"set_headers\":{\"X-B\":[\"ok\"]},"
		    "\"rules_matched\":[\"tmpl\"]");
	}
	CHECK(engine_rule_errors(e, POLICY_HTTP_REQUEST, 0) == 3);
	CHECK(engine_rule_errors(e, POLICY_HTTP_REQUEST, 1) == 3);
	CHECK(engine_rule_errors(e, POLICY_HTTP_REQUEST, 2) == 3);
	CHECK(engine_errors(e) == 9);
	engine_free(e);
}

/* A template cannot smuggle a header in through a line break. */
TEST(test_header_injection)
{
	struct engine *e =
	    mk("on_http_request:\n"
	       "  - name: evil\n"
	       "    actions:\n"
	       "      - type: add-headers\n"
	       "        config: {headers: {x-a: "
	       "\"${url.unescape(req.url.query)}\", x-b: ok}}\n");
	const struct engine_decision *d;
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "v%0d%0aX-Evil:%201");
	d = engine_eval(e, &r);
	CHECK_HAS(ans(d), "\"set_headers\":{\"X-B\":[\"ok\"]}");
	CHECK(strstr(ans(d), "Evil") == NULL);
	CHECK(engine_errors(e) == 1);
	engine_free(e);
}

TEST(test_circuit_breaker)
{
	struct engine *e =
	    mk("on_http_request:\n"
	       "  - name: cb\n"
	       "    actions:\n"
	       "      - type: circuit-breaker\n"
	       "        config: {error_threshold: 0.5, volume_threshold: 4, "
	       "window_duration: 10s, tripped_duration: 5s}\n");
	const struct engine_decision *d;
	struct policy_req r;
	int i;

	/* Responses are asked for, so the breaker sees statuses. */
	CHECK(engine_phases(e) ==
	    ((1u << POLICY_HTTP_REQUEST) | (1u << POLICY_HTTP_RESPONSE)));
	for (i = 0; i < 4; i++) {
		req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
		r.now_ns = T0 + i * SEC / 10;
		CHECK(engine_eval(e, &r)->action == ENGINE_CONTINUE);
		req(&r, POLICY_HTTP_RESPONSE, "10.0.0.1", "/", "");
		r.now_ns = T0 + i * SEC / 10 + 1000;
		r.status_code = i % 2 ? 502 : 200;
		CHECK_STREQ(run(e, &r), "{\"id\":1,\"action\":\"continue\"}");
	}
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	r.now_ns = T0 + SEC;
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND && d->status == 503);
	CHECK_STREQ(d->error_code, "GW_CIRCUIT_OPEN");
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/", "");
	r.now_ns = T0 + 7 * SEC;
	CHECK(engine_eval(e, &r)->action == ENGINE_CONTINUE);
	engine_free(e);
}

TEST(test_compress_response)
{
	struct engine *e = mk("on_http_response:\n"
	                      "  - name: gz\n"
	                      "    actions:\n"
	                      "      - type: compress-response\n"
	                      "        config: {algorithms: [gzip, br]}\n");
	const struct engine_decision *d;
	struct policy_req r;

	req(&r, POLICY_HTTP_RESPONSE, "10.0.0.1", "/", "");
	hdr(&r, "Accept-Encoding", "gzip;q=0.5, br, deflate");
	r.status_code = 200;
	d = engine_eval(e, &r);
	CHECK_STREQ(d->compress, "br");
	CHECK_HAS(ans(d), "\"compress\":\"br\"");
	req(&r, POLICY_HTTP_RESPONSE, "10.0.0.1", "/", "");
	hdr(&r, "Accept-Encoding", "br;q=0, *;q=0.1");
	r.status_code = 200;
	CHECK_STREQ(engine_eval(e, &r)->compress, "gzip");
	req(&r, POLICY_HTTP_RESPONSE, "10.0.0.1", "/", "");
	hdr(&r, "Accept-Encoding", "gzip");
	rhdr(&r, "Content-Encoding", "gzip");
	r.status_code = 200;
	CHECK(engine_eval(e, &r)->compress == NULL);
	req(&r, POLICY_HTTP_RESPONSE, "10.0.0.1", "/", "");
	hdr(&r, "Accept-Encoding", "identity");
	r.status_code = 200;
	CHECK(engine_eval(e, &r)->compress == NULL);
	engine_free(e);
	/* The default: br, deflate, gzip, zstd, ties in that order. */
	e = mk("on_http_response:\n"
	       "  - actions:\n"
	       "      - type: compress-response\n");
	req(&r, POLICY_HTTP_RESPONSE, "10.0.0.1", "/", "");
	hdr(&r, "Accept-Encoding", "zstd, gzip;q=0.9");
	r.status_code = 200;
	CHECK_STREQ(engine_eval(e, &r)->compress, "zstd");
	req(&r, POLICY_HTTP_RESPONSE, "10.0.0.1", "/", "");
	hdr(&r, "Accept-Encoding", "gzip, deflate, br, zstd");
	r.status_code = 200;
	CHECK_STREQ(engine_eval(e, &r)->compress, "br");
	req(&r, POLICY_HTTP_RESPONSE, "10.0.0.1", "/", "");
	hdr(&r, "Accept-Encoding", "x-gzip");
	r.status_code = 200;
	CHECK_STREQ(engine_eval(e, &r)->compress, "gzip");
	engine_free(e);
}

/* Once warm, an evaluation allocates nothing: the arena stops growing. */
TEST(test_no_growth_when_warm)
{
	struct engine *e = mk(ips_policy);
	struct policy_req r;
	unsigned long grows;
	int i;

	for (i = 0; i < 10; i++) {
		req(&r, POLICY_HTTP_REQUEST, "10.1.2.3", "/watch", "");
		(void)engine_eval(e, &r);
	}
	grows = e->arena.grows;
	for (i = 0; i < 1000; i++) {
		req(&r, POLICY_HTTP_REQUEST, "10.1.2.3", "/watch", "");
		(void)engine_eval(e, &r);
	}
	CHECK(e->arena.grows == grows);
	engine_free(e);
}

TEST(test_question_parse)
{
	static const char line[] =
	    "{\"id\":17,\"phase\":\"on_http_request\",\"conn\":{\"client_ip\":"
	    "\"127.0.0.1\",\"client_port\":40122,\"server_ip\":\"127.0.0.1\","
	    "\"server_name\":\"localhost\",\"server_port\":8080,\"start_ts\":"
	    "\"2026-11-24T16:09:02.499001Z\",\"tls\":null},\"req\":{\"method\":"
	    "\"GET\",\"version\":\"HTTP/1.1\",\"url\":{\"raw\":"
	    "\"http://localhost:8080/v1/items?a=1\",\"scheme\":\"http\",\"host\":"
	    "\"localhost\",\"path\":\"/v1/items\",\"query\":\"a=1\"},\"headers\":"
	    "{\"Host\":[\"localhost:8080\"],\"Accept\":[\"a\",\"b\\u00e9\"]},"
	    "\"user_agent\":\"curl\"}}";
	struct question q;
	struct policy_req r;
	const char *bad;
	uint64_t id = 0;

	question_init(&q);
	CHECK(question_parse(&q, line, strlen(line), &id, &r) == 0);
	CHECK(id == 17);
	CHECK(r.phase == POLICY_HTTP_REQUEST);
	CHECK_STREQ(r.client_ip, "127.0.0.1");
	CHECK(r.client_port == 40122 && r.server_port == 8080);
	CHECK(r.conn_start_ns == 1795536542499001000LL);
	CHECK(!r.tls);
	CHECK_STREQ(r.url_raw, "http://localhost:8080/v1/items?a=1");
	CHECK_STREQ(r.path, "/v1/items");
	CHECK_STREQ(r.query, "a=1");
	CHECK(r.nreq_headers == 3);
	CHECK_STREQ(r.req_headers[2].name, "Accept");
	CHECK_STREQ(r.req_headers[2].value, "b\xc3\xa9");
	CHECK(question_parse(&q, "{\"id\":1,", 8, &id, &r) == -1);
	CHECK(question_parse(&q, "{\"id\":-1}", 9, &id, &r) == -1);
	CHECK(question_parse(&q, "{\"id\":1,}", 9, &id, &r) == -1);
	CHECK(
	    question_parse(&q, "{\"id\":2,\"phase\":\"x\"}", 20, &id, &r) == 1);
	CHECK(id == 2);
	bad = "{\"id\":3,\"phase\":\"on_tcp_connect\",\"conn\":"
	      "{\"client_ip\":5}}";
	CHECK(question_parse(&q, bad, strlen(bad), &id, &r) == 1);
	CHECK(question_parse(&q, "{\"a\":\"\xff\"}", 9, &id, &r) == -1);
	question_fini(&q);
}

TEST(test_question_event)
{
	static const char ev[] =
	    "{\"event_id\":\"ev_3MYnoP8IXknrql7n5qF9yQY9klk\",\"event_type\":"
	    "\"http_request_complete.v0\",\"event_timestamp\":"
	    "\"2026-11-24T16:09:02.500210Z\",\"principal\":null,\"object\":"
	    "{\"conn\":{\"client_ip\":\"127.0.0.1\",\"client_port\":40122,"
	    "\"server_ip\":\"127.0.0.1\",\"server_name\":\"localhost\","
	    "\"server_port\":8080,\"start_ts\":\"2026-11-24T16:09:02.499001Z\"},"
	    "\"http\":{\"request\":{\"method\":\"GET\",\"version\":\"HTTP/1.1\","
	    "\"url\":{\"raw\":\"http://localhost:8080/v1/items\",\"scheme\":"
	    "\"http\",\"host\":\"localhost\",\"path\":\"/v1/items\",\"query\":"
	    "\"\"},\"headers\":{\"Host\":[\"localhost:8080\"]},\"user_agent\":"
	    "\"wrk\",\"body_length\":0,\"first_byte_ts\":"
	    "\"2026-11-24T16:09:02.499950Z\",\"last_byte_ts\":null},"
	    "\"response\":{\"status_code\":429,\"headers\":{\"Retry-After\":"
	    "[\"1\"]},\"body_length\":0}},\"duration_ns\":230000}}";
	struct question_event qe;
	struct question q;
	struct policy_req r;

	question_init(&q);
	CHECK(question_event(&q, ev, strlen(ev), &r, &qe) == 1);
	CHECK(r.now_ns == 1795536542499950000LL);
	CHECK(qe.has_response && qe.status == 429);
	CHECK(r.nreq_headers == 1 && r.nres_headers == 1);
	CHECK_STREQ(r.res_headers[0].name, "Retry-After");
	CHECK_STREQ(r.method, "GET");
	CHECK(
	    question_event(&q, "{\"event_type\":\"x.v0\"}", 21, &r, &qe) == 0);
	CHECK(question_event(&q, "[1]", 3, &r, &qe) == -1);
	CHECK(question_event(&q, "{\"a\":1} x", 9, &r, &qe) == -1);
	CHECK(question_event(&q, "{\"a\":01}", 8, &r, &qe) == -1);
	CHECK(question_event(&q, "{\"a\":\"\\x\"}", 10, &r, &qe) == -1);
	/* A lone surrogate is no character: jansson and jq refuse it too. */
	CHECK(question_event(&q, "{\"a\":\"\\ud800\"}", 14, &r, &qe) == -1);
	CHECK(
	    question_event(&q, "{\"a\":\"\\ud83d\\ude00\"}", 20, &r, &qe) == 0);
	question_fini(&q);
}

/*
 * custom-response and deny in on_http_request skip the upstream, but
 * on_http_response still runs on the response they made (spec §1.3.6).
 */
TEST(test_response_rules_after_respond)
{
	struct engine *e =
	    mk("on_http_request:\n"
	       "  - name: mark\n"
	       "    actions:\n"
	       "      - type: set-vars\n"
	       "        config: {vars: [{tier: gold}]}\n"
	       "  - name: gone\n"
	       "    expressions: [\"req.url.path == '/gone'\"]\n"
	       "    actions:\n"
	       "      - type: custom-response\n"
	       "        config:\n"
	       "          status_code: 410\n"
	       "          body: bye\n"
	       "          headers: {x-a: '1', x-drop: '2'}\n"
	       "  - name: no\n"
	       "    expressions: [\"req.url.path == '/no'\"]\n"
	       "    actions:\n"
	       "      - type: deny\n"
	       "on_http_response:\n"
	       "  - name: cors\n"
	       "    actions:\n"
	       "      - type: add-headers\n"
	       "        config:\n"
	       "          headers:\n"
	       "            access-control-allow-origin: '*'\n"
	       "            x-tier: '${vars.tier}'\n"
	       "            x-status: '${string(res.status_code)}'\n"
	       "      - type: remove-headers\n"
	       "        config: {headers: [x-drop]}\n"
	       "  - name: teapot\n"
	       "    expressions: [\"res.status_code == 403\"]\n"
	       "    actions:\n"
	       "      - type: custom-response\n"
	       "        config: {status_code: 418, body: tea}\n");
	struct policy_req r;
	const struct engine_decision *d;
	const char *a;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/gone", "");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND);
	CHECK(d->status == 410);
	CHECK(d->phase == POLICY_HTTP_REQUEST);
	CHECK(d->body_len == 3 && memcmp(d->body, "bye", 3) == 0);
	a = ans(d);
	CHECK_HAS(a, "\"Access-Control-Allow-Origin\":[\"*\"]");
	CHECK_HAS(a, "\"X-Tier\":[\"gold\"]");
	CHECK_HAS(a, "\"X-Status\":[\"410\"]");
	CHECK_HAS(a, "\"X-A\":[\"1\"]");
	CHECK(strstr(a, "X-Drop") == NULL);
	CHECK_HAS(a, "\"rules_matched\":[\"mark\",\"gone\",\"cors\"]");
	/* A response rule that answers replaces deny's response. */
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/no", "");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_RESPOND);
	CHECK(d->status == 418);
	CHECK(r.phase == POLICY_HTTP_REQUEST);
	a = ans(d);
	CHECK_HAS(a,
	    "\"rules_matched\":[\"mark\",\"no\",\"cors\","
	    "\"teapot\"]");
	/* Continuing requests are untouched by the chain. */
	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/ok", "");
	d = engine_eval(e, &r);
	CHECK(d->action == ENGINE_CONTINUE);
	engine_free(e);
}

/*
 * Query parameters as Go's url.Query() gives them to ngrok's variables:
 * decoded, '+' a space, and a pair with a bad escape or a ';' dropped.
 */
TEST(test_query_params_as_go)
{
	struct engine *e =
	    mk("on_http_request:\n"
	       "  - name: q\n"
	       "    expressions:\n"
	       "      - \"getQueryParam('d') == ['A b']\"\n"
	       "      - \"!hasQueryParam('a') && !hasQueryParam('b')\"\n"
	       "      - \"getQueryParam('e') == ['1', '']\"\n"
	       "      - \"size(req.url.query_params) == 2\"\n"
	       "    actions:\n"
	       "      - type: deny\n");
	struct policy_req r;

	req(&r, POLICY_HTTP_REQUEST, "10.0.0.1", "/",
	    "a=%zz&b=1;c=2&d=%41+b&e=1&e");
	CHECK(engine_eval(e, &r)->action == ENGINE_RESPOND);
	engine_free(e);
}

int
main(void)
{
	RUN(test_no_match_is_plain_continue);
	RUN(test_rate_limit);
	RUN(test_rate_limit_survives_reload);
	RUN(test_rate_limit_monitor_mode);
	RUN(test_deny);
	RUN(test_custom_response);
	RUN(test_query_params_as_go);
	RUN(test_response_rules_after_respond);
	RUN(test_headers);
	RUN(test_restrict_ips);
	RUN(test_restrict_ips_tcp);
	RUN(test_url_rewrite);
	RUN(test_redirect);
	RUN(test_basic_auth);
	RUN(test_log_and_set_vars);
	RUN(test_close_and_terminating);
	RUN(test_runtime_error);
	RUN(test_header_injection);
	RUN(test_circuit_breaker);
	RUN(test_compress_response);
	RUN(test_no_growth_when_warm);
	RUN(test_question_parse);
	RUN(test_question_event);
	return harness_done();
}
