/* SPDX-License-Identifier: MIT */
/*
 * Tests of gw-policy's loader (policy_load.c, policy_actions.c) and of
 * the variables it declares for CEL (vars.c): invalid policies and every
 * message they give, with the exact line and column a user sees from
 * "gw-policy check" (inside CEL expressions too, through quotes, escapes
 * and block scalars); valid policies and the structure the engine gets;
 * CIDRs; and the values that ngrok's variables and request functions take
 * for a request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../gw-policy/policy.h"
#include "harness.h"

/* Every record of <errs> as "line:col: [warning: ]message\n". */
static void
render(const struct policy_errors *errs, char *buf, size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < errs->n && n < len; i++) {
		const struct gw_error *e = &errs->v[i].err;

		n +=
		    (size_t)snprintf(buf + n, len - n, "%d:%d: %s%s\n", e->line,
		        e->col, errs->v[i].warning ? "warning: " : "", e->msg);
	}
}

/* Loads <text> as "t.yml"; returns the policy, fills <buf>. */
static struct policy *
load(const char *text, char *buf, size_t len)
{
	struct policy_errors errs;
	struct policy *p;
	size_t i;

	policy_errors_init(&errs);
	p = policy_parse("t.yml", text, strlen(text), &errs);
	render(&errs, buf, len);
	for (i = 0; i < errs.n; i++)
		CHECK(strcmp(errs.v[i].err.file, "t.yml") == 0);
	CHECK(errs.n == errs.nerrors + errs.nwarnings);
	CHECK((p == NULL) == (errs.nerrors != 0));
	policy_errors_fini(&errs);
	return p;
}

struct bad {
	const char *text;
	const char *want; /* every record, in order */
};

static const struct bad bad[] = {
	/* YAML and the document's shape. */
	{ "on_http_request:\n  - actions: [\n",
	    "3:1: did not find expected node content (while parsing a flow node)\n" },
	{ "- a\n- b\n",
	    "1:1: a traffic policy must be a mapping of phases (on_tcp_connect, on_http_request, on_http_response), got a list\n" },
	{ "on_http_requests: []\nfoo: 1\n",
	    "1:1: unknown top-level key \"on_http_requests\" (did you mean \"on_http_request\"?)\n2:1: unknown top-level key \"foo\"\n" },
	{ "on_event_stream_message: []\n",
	    "1:1: phase \"on_event_stream_message\" is not supported by gw\n" },
	{ "on_http_request:\n  rule:\n    actions: []\n",
	    "2:3: on_http_request must be a list of rules, got a mapping\n" },
	{ "on_http_request:\n  - deny\n",
	    "2:5: a rule must be a mapping with name, expressions and actions, got a string\n" },
	{ "on_http_request:\n  - name: x\n    expression: [\"true\"]\n    actions: [{type: deny}]\n",
	    "3:5: unknown rule key \"expression\" (did you mean \"expressions\"?)\n" },
	{ "on_http_request:\n  - name: x\n",
	    "2:5: a rule must define at least one action (ERR_NGROK_2206)\n" },
	{ "on_http_request:\n  - name: x\n    actions: []\n",
	    "3:14: a rule must define at least one action (ERR_NGROK_2206)\n" },
	{ "on_http_request:\n  - actions:\n      type: deny\n",
	    "3:7: actions must be a list of {type, config} items, got a mapping\n" },
	{ "on_http_request:\n  - name: [a]\n    actions: [{type: deny}]\n",
	    "2:11: name must be a string, got a list\n" },
	{ "enabled: false\n",
	    "1:10: enabled: false is not supported: remove the rules to disable the policy\n" },
	{ "inbound: []\non_http_request: []\n",
	    "1:1: warning: \"inbound\" is deprecated; use on_http_request\n2:1: \"on_http_request\" repeats the phase \"inbound\" given at line 1\n" },
	/* Action types. */
	{ "on_http_request:\n  - actions:\n      - type: rate_limit\n",
	    "3:15: unknown action \"rate_limit\" (did you mean \"rate-limit\"?)\n" },
	{ "on_http_request:\n  - actions:\n      - type: teleport\n",
	    "3:15: unknown action \"teleport\" (ERR_NGROK_2201)\n" },
	{ "on_http_request:\n  - actions:\n      - type: jwt-validation\n        config: {}\n      - type: oauth\n      - type: openid-connect\n      - type: verify-webhook\n      - type: forward-internal\n        config: {url: \"https://x.internal\"}\n",
	    "3:15: action \"jwt-validation\" is not supported by gw\n5:15: action \"oauth\" is not supported by gw\n6:15: action \"openid-connect\" is not supported by gw\n7:15: action \"verify-webhook\" is not supported by gw\n8:15: action \"forward-internal\" is not supported by gw\n" },
	{ "on_http_request:\n  - actions:\n      - config: {}\n",
	    "3:9: an action needs a type\n" },
	{ "on_http_request:\n  - actions:\n      - type: deny\n        configs: {}\n",
	    "4:9: unknown action key \"configs\" (did you mean \"config\"?)\n" },
	{ "on_tcp_connect:\n  - actions:\n      - type: custom-response\non_http_response:\n  - actions:\n      - type: deny\n",
	    "3:15: action type \"custom-response\" is not supported for on_tcp_connect traffic policy rules; use it in on_http_request or on_http_response (ERR_NGROK_2202)\n6:15: action type \"deny\" is not supported for on_http_response traffic policy rules; use it in on_tcp_connect or on_http_request (ERR_NGROK_2202)\n" },
	{ "on_http_request:\n  - actions:\n      - type: deny\n      - type: log\n        config: {metadata: {a: 1}}\n",
	    "4:9: action type \"log\" is unreachable due to a prior terminating action (deny at line 3) (ERR_NGROK_2207)\n" },
	{ "on_http_request:\n  - actions:\n      - type: basic-auth\n        config: {credentials: [\"a:12345678\"]}\n  - actions:\n      - type: basic-auth\n        config: {credentials: [\"b:12345678\"]}\n",
	    "6:9: only one auth action is allowed per policy; the first is at line 3 (ERR_NGROK_2239)\n" },
	{ "on_http_request:\n  - actions: [{type: deny}]\n  - name: later\n    actions: [{type: deny}]\n",
	    "3:5: warning: rule \"later\" is unreachable: rule \"on_http_request#1\" at line 2 always ends on_http_request\n" },
	/* Config keys and types. */
	{ "on_http_request:\n  - actions:\n      - type: rate-limit\n",
	    "3:9: rate-limit: config is missing required keys \"name\", \"algorithm\", \"capacity\", \"rate\", \"bucket_key\" (ERR_NGROK_2234)\n" },
	{ "on_http_request:\n  - actions:\n      - type: rate-limit\n        config:\n          name: x\n          algorithm: fixed_window\n          capcity: 10\n          rate: 60s\n          bucket_key: [conn.client_ip]\n          enforce: \"false\"\n", "5:11: rate-limit: config is missing required key \"capacity\" (ERR_NGROK_2234)\n6:22: rate-limit: algorithm must be \"sliding_window\", was \"fixed_window\" (ERR_NGROK_2222)\n7:11: rate-limit: unknown config key \"capcity\" (did you mean \"capacity\"?)\n10:20: rate-limit: enforce must be true or false, was \"false\"\n" },
	{ "on_http_request:\n  - actions:\n      - type: deny\n        config: [403]\n",
	    "4:17: deny: config must be a mapping, was a list (ERR_NGROK_2203)\n" },
	{ "on_http_request:\n  - actions:\n      - type: close-connection\n        config: {reason: x}\n",
	    "4:18: close-connection: takes no config, but has \"reason\"\n" },
	/* Ranges. */
	{ "on_http_request:\n  - actions:\n      - type: rate-limit\n        config: {name: a, algorithm: sliding_window, capacity: 0, rate: 45s, bucket_key: [conn.client_ip]}\n",
	    "4:64: rate-limit: capacity must be between 1 and 2000000000 inclusive, was 0 (ERR_NGROK_2215)\n4:73: rate-limit: rate must be a multiple of 10s between 60s and 24h, was \"45s\" (ERR_NGROK_2215)\n" },
	{ "on_http_request:\n  - actions:\n      - type: rate-limit\n        config: {name: a, algorithm: sliding_window, capacity: 2000000001, rate: 65s, bucket_key: [conn.client_ip]}\n",
	    "4:64: rate-limit: capacity must be between 1 and 2000000000 inclusive, was 2000000001 (ERR_NGROK_2215)\n4:82: rate-limit: rate must be a multiple of 10s between 60s and 24h, was \"65s\" (ERR_NGROK_2215)\n" },
	{ "on_http_request:\n  - actions:\n      - type: rate-limit\n        config: {name: a, algorithm: sliding_window, capacity: ten, rate: \"60\", bucket_key: []}\n",
	    "4:64: rate-limit: capacity must be an integer, was \"ten\"\n4:75: rate-limit: rate must be a duration such as \"60s\", was \"60\"\n4:93: rate-limit: bucket_key must have between 1 and 10 entries, had 0 (ERR_NGROK_2215)\n" },
	{ "on_http_request:\n  - actions:\n      - type: rate-limit\n        config: {name: a, algorithm: sliding_window, capacity: 1, rate: 25h, bucket_key: [conn.client_ip]}\n",
	    "4:73: rate-limit: rate must be a multiple of 10s between 60s and 24h, was \"25h\" (ERR_NGROK_2215)\n" },
	{ "on_http_request:\n  - actions:\n      - type: deny\n        config: {status_code: 99}\n  - actions:\n      - type: redirect\n        config: {to: /x, status_code: 200}\n  - actions:\n      - type: custom-response\n        config: {status_code: 600}\n",
	    "4:31: deny: status_code must be between 100 and 599 inclusive, was 99 (ERR_NGROK_2215)\n5:5: warning: rule \"on_http_request#2\" is unreachable: rule \"on_http_request#1\" at line 2 always ends on_http_request\n7:39: redirect: status_code must be between 300 and 399 inclusive, was 200 (ERR_NGROK_2215)\n10:31: custom-response: status_code must be between 100 and 599 inclusive, was 600 (ERR_NGROK_2215)\n" },
	{ "on_http_request:\n  - actions:\n      - type: circuit-breaker\n        config: {error_threshold: 1.5, volume_threshold: 0, window_duration: 500ms, num_buckets: 5}\n",
	    "4:35: circuit-breaker: error_threshold must be between 0.0 and 1.0 inclusive, was 1.5 (ERR_NGROK_361)\n4:58: circuit-breaker: volume_threshold must be between 1 and 2000000000 inclusive, was 0 (ERR_NGROK_2215)\n4:78: circuit-breaker: window_duration must be between 1s and 2m inclusive, was \"500ms\" (ERR_NGROK_2215)\n4:98: circuit-breaker: num_buckets must be 10, was 5 (ERR_NGROK_2222)\n" },
	/* CEL: every column is the offending character's in the file. */
	{ "on_http_request:\n  - expressions:\n      - req.method == 'GET' && nope\n    actions: [{type: deny}]\n",
	    "3:32: invalid expression: undeclared reference to 'nope'\n" },
	{ "on_http_request:\n  - expressions:\n      - \"req.method == \\\"GET\\\" && nope\"\n    actions: [{type: deny}]\n",
	    "3:35: invalid expression: undeclared reference to 'nope'\n" },
	{ "on_http_request:\n  - expressions:\n      - 'hasReqHeader(''host'') && nope'\n    actions: [{type: deny}]\n",
	    "3:36: invalid expression: undeclared reference to 'nope'\n" },
	{ "on_http_request:\n  - expressions:\n      - |\n        req.method == 'GET' &&\n          nope\n    actions: [{type: deny}]\n",
	    "5:11: invalid expression: undeclared reference to 'nope'\n" },
	{ "on_http_request:\n  - expressions:\n      - >-\n        req.method == 'GET'\n        && nope\n    actions: [{type: deny}]\n",
	    "5:12: invalid expression: undeclared reference to 'nope'\n" },
	{ "on_http_request:\n  - expressions:\n      - req.method ==\n        nope\n    actions: [{type: deny}]\n",
	    "4:9: invalid expression: undeclared reference to 'nope'\n" },
	{ "on_http_request:\n  - expressions:\n      - \"req.method == '\\u00e9' && nope\"\n    actions: [{type: deny}]\n",
	    "3:36: invalid expression: undeclared reference to 'nope'\n" },
	{ "on_http_request:\n  - expressions:\n      - \"req.method == 'é' && nope\"\n    actions: [{type: deny}]\n",
	    "3:31: invalid expression: undeclared reference to 'nope'\n" },
	{ "on_http_request:\n  - expressions:\n      - req.method == \n    actions: [{type: deny}]\n",
	    "3:22: invalid expression: unexpected end of expression\n" },
	{ "on_http_request:\n  - expressions:\n      - req.url.path\n      - size(req.headers)\n    actions: [{type: deny}]\n",
	    "3:9: an expression must evaluate to a bool, not string (ERR_NGROK_2200)\n4:9: an expression must evaluate to a bool, not int (ERR_NGROK_2200)\n" },
	{ "on_tcp_connect:\n  - expressions: [\"req.method == 'GET'\"]\n    actions: [{type: deny}]\n",
	    "2:20: invalid expression: undeclared reference to 'req.method' (req.* is not available in on_tcp_connect)\n" },
	{ "on_http_request:\n  - expressions: [\"res.status_code == 500\"]\n    actions: [{type: deny}]\n",
	    "2:20: invalid expression: undeclared reference to 'res.status_code' (res.* is not available in on_http_request)\n" },
	{ "on_http_request:\n  - actions:\n      - type: rate-limit\n        config:\n          name: a\n          algorithm: sliding_window\n          capacity: 1\n          rate: 1m\n          bucket_key: [\"getReqHeader(\"]\n",
	    "9:38: rate-limit: bucket_key: unexpected end of expression\n" },
	/* ${...} templates. */
	{ "on_http_request:\n  - actions:\n      - type: custom-response\n        config:\n          body: \"ip ${conn.client_ip} ${nope} ${conn.client_port + 'x'}\"\n",
	    "5:41: custom-response: body: undeclared reference to 'nope'\n5:66: custom-response: body: no matching overload for '+' applied to (int, string)\n" },
	{ "on_http_request:\n  - actions:\n      - type: add-headers\n        config:\n          headers:\n            x-a: \"${req.method\"\n",
	    "6:19: add-headers: headers.x-a: unterminated ${ (no closing '}')\n" },
	{ "on_http_request:\n  - actions:\n      - type: log\n        config:\n          metadata:\n            deep: {a: [1, '${x}']}\n",
	    "6:30: log: metadata: undeclared reference to 'x'\n" },
	{ "on_http_request:\n  - actions:\n      - type: set-vars\n        config:\n          vars:\n            - a: 1\n              b: 2\n            - 9x: 1\n            - ok: \"${vars.a + }\"\n",
	    "6:15: set-vars: each entry of vars must be a mapping with one key (- name: value)\n8:15: set-vars: invalid variable name \"9x\": use letters, digits and '_'\n9:31: set-vars: vars.ok: unexpected end of expression\n" },
	/* Headers. */
	{ "on_http_request:\n  - actions:\n      - type: add-headers\n        config:\n          headers:\n            User-Agent: x\n            \"bad name\": y\n            X-A: a\n            x-a: b\n      - type: remove-headers\n        config:\n          headers: []\n",
	    "6:13: add-headers: the user-agent header cannot be added\n7:13: add-headers: invalid header name \"bad name\" (ERR_NGROK_2209)\n9:13: add-headers: header \"x-a\" is given twice (ERR_NGROK_2231)\n12:20: remove-headers: headers must have between 1 and 10 entries, had 0 (ERR_NGROK_2215)\n" },
	{ "on_http_request:\n  - actions:\n      - type: add-headers\n        config: {headers: {}}\n",
	    "4:27: add-headers: headers cannot be empty (ERR_NGROK_2223)\n" },
	/* Regular expressions. */
	{ "on_http_request:\n  - actions:\n      - type: url-rewrite\n        config:\n          from: \"/api/(v1\"\n          to: /x\n",
	    "5:26: url-rewrite: from is not a valid regular expression: missing closing parenthesis (ERR_NGROK_3901)\n" },
	{ "on_http_request:\n  - actions:\n      - type: redirect\n        config:\n          from: /a/(x)+*\n          to: /b\n",
	    "5:24: redirect: from is not a valid regular expression: quantifier does not follow a repeatable item (ERR_NGROK_3901)\n" },
	{ "on_http_request:\n  - actions:\n      - type: url-rewrite\n        config:\n          from: \"/a/(.*)\"\n          to: \"/b/$2\"\n",
	    "6:19: url-rewrite: to refers to group $2 but from has only 1 group\n" },
	{ "on_http_request:\n  - actions:\n      - type: url-rewrite\n        config: {from: x}\n",
	    "4:17: url-rewrite: config is missing required key \"to\" (ERR_NGROK_2234)\n" },
	/* CIDRs. */
	{ "on_http_request:\n  - actions:\n      - type: restrict-ips\n        config:\n          allow: [\"10.0.0.0/8\", \"1.2.3.4\", \"1.2.3.0/33\", \"::1/129\", \"01.2.3.4/8\", \"1.2.3.4/08\", \"10.1.0.0/8\"]\n", "5:33: restrict-ips: invalid CIDR \"1.2.3.4\": no prefix length (/N) (ERR_NGROK_362)\n5:44: restrict-ips: invalid CIDR \"1.2.3.0/33\": the prefix length must be 0 to 32 (ERR_NGROK_362)\n5:58: restrict-ips: invalid CIDR \"::1/129\": the prefix length must be 0 to 128 (ERR_NGROK_362)\n5:69: restrict-ips: invalid CIDR \"01.2.3.4/8\": invalid IP address (ERR_NGROK_362)\n5:83: restrict-ips: invalid CIDR \"1.2.3.4/08\": the prefix length must be 0 to 32 (ERR_NGROK_362)\n5:97: warning: restrict-ips: CIDR \"10.1.0.0/8\" has host bits set; it matches the whole /8 network\n" },
	{ "on_http_request:\n  - actions:\n      - type: restrict-ips\n        config:\n          deny: [\"10.0.0.0/8\"]\n      - type: restrict-ips\n        config: {enforce: true}\n      - type: restrict-ips\n        config: {allow: [\"::/0\"], ip_policies: [ipp_1]}\n",
	    "5:17: restrict-ips: when specifying CIDRs to deny, you must specify at least one CIDR to allow; use 0.0.0.0/0 and ::/0 to allow everything else (ERR_NGROK_393)\n7:17: restrict-ips: at least one CIDR to allow or deny is required\n9:48: restrict-ips: ip_policies (ngrok IP Policy ids) are not supported by gw; list the CIDRs in allow and deny\n" },
	/* basic-auth, compress-response. */
	{ "on_http_request:\n  - actions:\n      - type: basic-auth\n        config:\n          credentials: [\"alice:short\", \":password1\", \"nocolon\"]\n          realm: \"a\\\"b\"\n",
	    "5:25: basic-auth: the password must be 8 to 128 characters long, was 5 (ERR_NGROK_360)\n5:40: basic-auth: the username cannot be empty (ERR_NGROK_359)\n5:54: basic-auth: a credential must be \"user:password\"; this one has no ':'\n6:18: basic-auth: realm must be at most 128 printable ASCII characters without '\"' or '\\'\n" },
	{ "on_http_response:\n  - actions:\n      - type: compress-response\n        config: {algorithms: [gzip, gzip, gzp, lzma, compress]}\n",
	    "4:37: compress-response: algorithms contains \"gzip\" twice (ERR_NGROK_2231)\n4:43: compress-response: unknown algorithm \"gzp\" (did you mean \"gzip\"?)\n4:48: compress-response: unknown algorithm \"lzma\": use br, deflate, gzip or zstd\n"
	    "4:54: compress-response: algorithm \"compress\" (LZW) is not supported by gw: use br, deflate, gzip or zstd\n" },
	/* The JSON form, through the same parser. */
	{ "{\"on_http_request\": [{\"expressions\": [\"req.method == 1 && x\"],\n  \"actions\": [{\"type\": \"deny\", \"config\": {\"status_code\": \"403\"}}]}]}\n",
	    "1:51: invalid expression: no matching overload for '==' applied to (string, int)\n2:58: deny: status_code must be an integer, was \"403\"\n" },
	{ "{\"on_http_request\": {\"actions\": []}}\n",
	    "1:21: on_http_request must be a list of rules, got a mapping\n" },
};

TEST(invalid_policies)
{
	char got[8192];
	struct policy *p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = load(bad[i].text, got, sizeof(got));
		if (strcmp(got, bad[i].want) != 0) {
			fprintf(stderr,
			    "case %zu:\n%s\n--- want:\n%s--- got:\n%s\n", i,
			    bad[i].text, bad[i].want, got);
			harness_failed_checks++;
		}
		policy_free(p);
	}
}

/* The spec's examples, all accepted as they are. */
static const char *const good[] = {
	"on_http_request:\n"
	"  - name: Add rate limiting\n"
	"    actions:\n"
	"      - type: rate-limit\n"
	"        config:\n"
	"          name: Only allow 10 requests per minute\n"
	"          algorithm: sliding_window\n"
	"          capacity: 10\n"
	"          rate: 60s\n"
	"          bucket_key:\n"
	"            - req.headers['x-api-key']\n"
	"            - conn.client_ip\n"
	"            - getReqHeader('X-Api-Key')\n"
	"            - req.host\n"
	"            - 'hasReqHeader(''host'') ? getReqHeader(''host'')[0] : ''unknown'''\n",
	"on_http_request:\n"
	"  - expressions:\n"
	"      - \"!(conn.client_ip in ['1.1.1.1'])\"\n"
	"      - inCidrRange(conn.client_ip, '10.0.0.0/8')\n"
	"    actions:\n"
	"      - type: custom-response\n"
	"        config:\n"
	"          status_code: 403\n"
	"          headers:\n"
	"            content-type: application/json\n"
	"          body: '{\"connection-start\":\"${conn.ts.start}\"}'\n"
	"on_http_response: []\n",
	"on_http_request:\n"
	"  - actions:\n"
	"      - type: url-rewrite\n"
	"        config:\n"
	"          from: \"^${req.url.authority}/products\"\n"
	"          to: \"${req.url.authority}/items\"\n"
	"      - type: redirect\n"
	"        config:\n"
	"          to: https://example.com/${conn.geo.city}\n"
	"      - type: log\n"
	"        config:\n"
	"          metadata:\n"
	"            message: \"now ${timestamp(time.now)}\"\n"
	"            ua: \"${req.headers['user-agent'][0]}\"\n"
	"      - type: rate-limit\n"
	"        config:\n"
	"          name: monitor\n"
	"          enforce: false\n"
	"          algorithm: sliding_window\n"
	"          capacity: 2000000000\n"
	"          rate: 24h\n"
	"          bucket_key: [conn.client_ip]\n"
	"  - expressions: [actions.ngrok.rate_limit.limited]\n"
	"    actions:\n"
	"      - type: custom-response\n"
	"        config: {status_code: 429, content: slow down}\n",
	"on_tcp_connect:\n"
	"  - actions:\n"
	"      - type: restrict-ips\n"
	"        config:\n"
	"          enforce: false\n"
	"          allow: [\"0.0.0.0/0\", \"::/0\"]\n"
	"          deny: [\"${vars.blocked}/32\"]\n"
	"      - type: set-vars\n"
	"        config:\n"
	"          vars:\n"
	"            - blocked: 203.0.113.7\n"
	"      - type: log\n"
	"        config: {metadata: {ip: \"${conn.client_ip}\"}}\n"
	"      - type: close-connection\n",
	"on_http_request:\n"
	"  - actions:\n"
	"      - type: basic-auth\n"
	"        config:\n"
	"          realm: admin\n"
	"          enforce: false\n"
	"          credentials: [\"alice:correcthorse\", \"${vars.u}:${vars.p}\"]\n"
	"      - type: circuit-breaker\n"
	"        config:\n"
	"          error_threshold: 0\n"
	"          volume_threshold: 2000000000\n"
	"          window_duration: 2m\n"
	"          tripped_duration: 1s\n"
	"          num_buckets: 10\n"
	"      - type: compress-response\n"
	"      - type: remove-headers\n"
	"        config: {headers: [x-debug]}\n"
	"      - type: close-connection\n"
	"on_http_response:\n"
	"  - expressions:\n"
	"      - res.status_code >= 500 && hasResHeader('content-type')\n"
	"      - getResHeader('x-a').size() == 0 && !hasResCookie('s')\n"
	"      - req.method == 'GET' && getQueryParam('a').size() > 0\n"
	"    actions:\n"
	"      - type: restrict-ips\n"
	"        config: {allow: [\"127.0.0.0/8\"]}\n"
	"      - type: compress-response\n"
	"        config: {algorithms: [br, zstd, deflate, gzip]}\n"
	"      - type: set-vars\n"
	"        config: {vars: [{a: \"${res.status_code}\"}]}\n"
	"      - type: custom-response\n",
	"{\n"
	"\t\"on_http_request\": [\n"
	"\t\t{\n"
	"\t\t\t\"name\": \"json\",\n"
	"\t\t\t\"expressions\": [\"req.url.path.startsWith('/api')\"],\n"
	"\t\t\t\"actions\": [{\"type\": \"deny\", \"config\": {\"status_code\": 404}}]\n"
	"\t\t}\n"
	"\t]\n"
	"}\n",
	"",
	"# only a comment\n",
	"on_http_request:\non_http_response: []\n",
};

TEST(valid_policies)
{
	char got[8192];
	struct policy *p;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		/* Warnings (a deprecated key) are allowed, errors not. */
		p = load(good[i], got, sizeof(got));
		if (p == NULL) {
			fprintf(stderr, "good case %zu:\n%s\n--- got:\n%s\n", i,
			    good[i], got);
			harness_failed_checks++;
		}
		policy_free(p);
	}
}

TEST(structure)
{
	static const char text[] =
	    "on_http_request:\n"
	    "  - name: limits\n"
	    "    expressions:\n"
	    "      - req.method == 'GET'\n"
	    "      - conn.client_port > 0\n"
	    "    actions:\n"
	    "      - type: rate-limit\n"
	    "        config:\n"
	    "          name: per-ip\n"
	    "          algorithm: sliding_window\n"
	    "          capacity: 30\n"
	    "          rate: 90s\n"
	    "          bucket_key: [conn.client_ip, req.host]\n"
	    "      - type: add-headers\n"
	    "        config:\n"
	    "          headers: {X-Client: \"ip=${conn.client_ip}!\", Host: h}\n"
	    "  - actions:\n"
	    "      - type: url-rewrite\n"
	    "        config: {from: \"/a/(.*)\", to: \"/b/$1\"}\n"
	    "      - type: url-rewrite\n"
	    "        config: {from: \"${req.url.path}\", to: /c}\n"
	    "      - type: redirect\n"
	    "        config: {to: /d}\n"
	    "      - type: deny\n"
	    "on_http_response:\n"
	    "  - name: 404\n"
	    "    actions:\n"
	    "      - type: set-vars\n"
	    "        config:\n"
	    "          vars:\n"
	    "            - n: 3\n"
	    "            - f: 1.5\n"
	    "            - b: true\n"
	    "            - z: null\n"
	    "            - s: \"${res.status_code} x\"\n"
	    "            - l: [1, {k: v}]\n"
	    "      - type: custom-response\n"
	    "        config: {body: \"${res.status_code}\"}\n";
	const struct policy_rule *r;
	const struct action *a;
	struct policy *p;
	char got[4096];

	p = load(text, got, sizeof(got));
	CHECK(p != NULL);
	CHECK_STREQ(got, "");
	if (p == NULL)
		return;
	CHECK(p->nrules == 3);
	CHECK(p->phases[POLICY_TCP_CONNECT].n == 0);
	CHECK(p->phases[POLICY_HTTP_REQUEST].n == 2);
	CHECK(p->phases[POLICY_HTTP_RESPONSE].n == 1);
	CHECK(strlen(p->sha256_hex) == 64);

	r = &p->phases[POLICY_HTTP_REQUEST].rules[0];
	CHECK_STREQ(r->name, "limits");
	CHECK(r->named && r->pos.line == 2 && r->pos.col == 5);
	CHECK(r->nexprs == 2 && r->exprs[0].type == CEL_BOOL);
	CHECK_STREQ(r->exprs[1].src, "conn.client_port > 0");
	CHECK(r->exprs[1].pos.line == 5 && r->exprs[1].pos.col == 9);
	CHECK(r->nactions == 2);
	a = &r->actions[0];
	CHECK(a->type == ACTION_RATE_LIMIT);
	CHECK(a->pos.line == 7 && a->pos.col == 15);
	CHECK_STREQ(a->rate_limit.name, "per-ip");
	CHECK(a->rate_limit.enforce == 1);
	CHECK(a->rate_limit.capacity == 30);
	CHECK(a->rate_limit.rate_ns == 90000000000ULL);
	CHECK(a->rate_limit.nbucket_keys == 2);
	CHECK_STREQ(a->rate_limit.bucket_keys[1].src, "req.host");
	CHECK(a->rate_limit.limiter != 0);
	a = &r->actions[1];
	CHECK(a->type == ACTION_ADD_HEADERS && a->add_headers.nheaders == 2);
	CHECK_STREQ(a->add_headers.headers[0].name, "x-client");
	CHECK_STREQ(a->add_headers.headers[1].name, "host");
	{
		const struct policy_tmpl *t = &a->add_headers.headers[0].value;

		CHECK(t->nseg == 3 && t->nexpr == 1 && !t->whole);
		CHECK(t->seg[0].prog == NULL && t->seg[0].len == 3 &&
		    memcmp(t->seg[0].text, "ip=", 3) == 0);
		CHECK(t->seg[1].prog != NULL && t->seg[1].len == 14);
		CHECK(t->seg[1].pos.line == 16 && t->seg[1].pos.col == 37);
		CHECK(t->seg[2].len == 1 && t->seg[2].text[0] == '!');
		t = &a->add_headers.headers[1].value;
		CHECK(t->nseg == 1 && t->nexpr == 0 && !t->whole);
	}

	r = &p->phases[POLICY_HTTP_REQUEST].rules[1];
	CHECK_STREQ(r->name, "on_http_request#2");
	CHECK(!r->named && r->nexprs == 0 && r->nactions == 4);
	CHECK(r->actions[0].rewrite.has_from && r->actions[0].rewrite.from_re);
	CHECK_STREQ(r->actions[0].rewrite.to.src, "/b/$1");
	CHECK(r->actions[1].rewrite.has_from &&
	    r->actions[1].rewrite.from_re == NULL &&
	    r->actions[1].rewrite.from.whole);
	CHECK(r->actions[2].type == ACTION_REDIRECT &&
	    !r->actions[2].rewrite.has_from &&
	    r->actions[2].rewrite.status_code == 302);
	CHECK(r->actions[3].type == ACTION_DENY &&
	    r->actions[3].deny.status_code == 403);

	r = &p->phases[POLICY_HTTP_RESPONSE].rules[0];
	CHECK_STREQ(r->name, "404");
	a = &r->actions[1];
	CHECK(a->custom_response.status_code == 200 &&
	    a->custom_response.has_body && a->custom_response.body.whole);
	a = &r->actions[0];
	CHECK(a->type == ACTION_SET_VARS && a->set_vars.n == 6);
	CHECK_STREQ(a->set_vars.vars[0].name, "n");
	CHECK(a->set_vars.vars[0].val.kind == POLICY_VAL_INT &&
	    a->set_vars.vars[0].val.i == 3);
	CHECK(a->set_vars.vars[1].val.kind == POLICY_VAL_DOUBLE &&
	    a->set_vars.vars[1].val.d == 1.5);
	CHECK(a->set_vars.vars[2].val.kind == POLICY_VAL_BOOL &&
	    a->set_vars.vars[2].val.b == 1);
	CHECK(a->set_vars.vars[3].val.kind == POLICY_VAL_NULL);
	CHECK(a->set_vars.vars[4].val.kind == POLICY_VAL_STRING &&
	    !a->set_vars.vars[4].val.tmpl.whole &&
	    a->set_vars.vars[4].val.tmpl.nexpr == 1);
	CHECK(a->set_vars.vars[5].val.kind == POLICY_VAL_LIST &&
	    a->set_vars.vars[5].val.c.n == 2 &&
	    a->set_vars.vars[5].val.c.items[1].kind == POLICY_VAL_MAP &&
	    strcmp(a->set_vars.vars[5].val.c.items[1].c.keys[0], "k") == 0);
	policy_free(p);
}

TEST(defaults_and_other_actions)
{
	static const char text[] =
	    "inbound:\n"
	    "  - actions:\n"
	    "      - type: basic-auth\n"
	    "        config: {credentials: [\"alice:correct:horse\", \"${vars.c}\"]}\n"
	    "      - type: restrict-ips\n"
	    "        config:\n"
	    "          allow: [\"10.0.0.0/8\", \"2001:db8::/32\", \"${vars.net}\"]\n"
	    "          deny: [\"10.9.0.0/16\"]\n"
	    "      - type: circuit-breaker\n"
	    "      - type: remove-headers\n"
	    "        config: {headers: [X-Debug]}\n"
	    "outbound:\n"
	    "  - actions:\n"
	    "      - type: compress-response\n"
	    "      - type: compress-response\n"
	    "        config: {algorithms: [gzip, br]}\n"
	    "      - type: log\n"
	    "        config: {metadata: {a: 1}}\n";
	const struct action *a;
	struct policy *p;
	char got[4096];

	p = load(text, got, sizeof(got));
	CHECK_STREQ(got,
	    "1:1: warning: \"inbound\" is deprecated; use on_http_request\n"
	    "12:1: warning: \"outbound\" is deprecated; use on_http_response\n");
	CHECK(p != NULL);
	if (p == NULL)
		return;
	a = p->phases[POLICY_HTTP_REQUEST].rules[0].actions;
	CHECK(a[0].basic_auth.ncreds == 1 && a[0].basic_auth.ncred_tmpl == 1);
	CHECK_STREQ(a[0].basic_auth.creds[0].user, "alice");
	CHECK_STREQ(a[0].basic_auth.creds[0].pass, "correct:horse");
	CHECK_STREQ(a[0].basic_auth.realm, "ngrok");
	CHECK(a[0].basic_auth.enforce == 1);
	CHECK(a[1].restrict_ips.nallow == 2 && a[1].restrict_ips.ndeny == 1 &&
	    a[1].restrict_ips.nallow_tmpl == 1 && a[1].restrict_ips.enforce);
	CHECK(!a[1].restrict_ips.allow[0].v6 &&
	    a[1].restrict_ips.allow[0].bits == 8 &&
	    a[1].restrict_ips.allow[0].addr[0] == 10);
	CHECK(a[1].restrict_ips.allow[1].v6 &&
	    a[1].restrict_ips.allow[1].bits == 32 &&
	    a[1].restrict_ips.allow[1].addr[0] == 0x20 &&
	    a[1].restrict_ips.allow[1].addr[1] == 0x01);
	CHECK(a[2].circuit_breaker.error_threshold == 0.5 &&
	    a[2].circuit_breaker.volume_threshold == 10 &&
	    a[2].circuit_breaker.window_ns == 10000000000ULL &&
	    a[2].circuit_breaker.tripped_ns == 10000000000ULL &&
	    a[2].circuit_breaker.num_buckets == 10 &&
	    a[2].circuit_breaker.enforce);
	CHECK(a[3].remove_headers.n == 1);
	CHECK_STREQ(a[3].remove_headers.names[0], "x-debug");
	a = p->phases[POLICY_HTTP_RESPONSE].rules[0].actions;
	CHECK(a[0].compress.nalgs == 4 &&
	    a[0].compress.algs[0] == ACTION_COMPRESS_BR &&
	    a[0].compress.algs[3] == ACTION_COMPRESS_ZSTD);
	CHECK(a[1].compress.nalgs == 2 &&
	    a[1].compress.algs[0] == ACTION_COMPRESS_GZIP &&
	    a[1].compress.algs[1] == ACTION_COMPRESS_BR);
	CHECK(a[2].log.metadata.kind == POLICY_VAL_MAP);
	CHECK(action_is_terminating(ACTION_DENY) &&
	    !action_is_terminating(ACTION_RATE_LIMIT));
	policy_free(p);
}

TEST(sha256_and_files)
{
	char path[] = "/tmp/test_policy_XXXXXX";
	struct policy_errors errs;
	struct policy *p;
	int fd;

	/* SHA-256 of "on_http_request: []\n". */
	policy_errors_init(&errs);
	fd = mkstemp(path);
	CHECK(fd != -1);
	CHECK(write(fd, "on_http_request: []\n", 20) == 20);
	close(fd);
	p = policy_load(path, &errs);
	CHECK(p != NULL && errs.n == 0);
	if (p != NULL) {
		CHECK_STREQ(p->sha256_hex,
		    "03dc5c2244861a026f7608ea0abded4668f7f7f88d74aa227f941c71b7f0ea1a");
		CHECK_STREQ(p->file, path);
	}
	policy_free(p);
	unlink(path);
	p = policy_load(path, &errs);
	CHECK(p == NULL && errno == ENOENT && errs.n == 1);
	CHECK(errs.v[0].err.line == 0);
	CHECK_STREQ(errs.v[0].err.msg, "No such file or directory");
	policy_errors_fini(&errs);
	policy_errors_fini(NULL);
	policy_free(NULL);
}

TEST(many_errors_are_counted)
{
	struct policy_errors errs;
	char *text;
	size_t i, n = 0, cap = 300 * 40;

	text = malloc(cap);
	CHECK(text != NULL);
	if (text == NULL)
		return;
	n += (size_t)snprintf(text + n, cap - n, "on_http_request:\n");
	for (i = 0; i < 300; i++)
		n += (size_t)snprintf(
		    text + n, cap - n, "  - actions: [{type: nope}]\n");
	policy_errors_init(&errs);
	CHECK(policy_parse("t.yml", text, n, &errs) == NULL);
	CHECK(errs.nerrors == 300 && errs.n == POLICY_MAX_DIAGS);
	CHECK(errs.v[0].err.line == 2 && errs.v[1].err.line == 3);
	policy_errors_fini(&errs);
	free(text);
}

TEST(cidrs)
{
	struct policy_cidr c;
	uint8_t ip[16];
	char why[80];
	int v6, hb;

	CHECK(policy_cidr_parse("192.168.1.0/24", &c, &hb, why, sizeof(why)) ==
	    0);
	CHECK(!c.v6 && c.bits == 24 && !hb);
	CHECK(policy_ip_parse("192.168.1.77", ip, &v6) == 0 && !v6);
	CHECK(policy_cidr_match(&c, ip, v6));
	CHECK(policy_ip_parse("192.168.2.1", ip, &v6) == 0);
	CHECK(!policy_cidr_match(&c, ip, v6));
	/* An IPv4-mapped client address matches IPv4 networks. */
	CHECK(policy_ip_parse("::ffff:192.168.1.9", ip, &v6) == 0 && v6);
	CHECK(policy_cidr_match(&c, ip, v6));
	CHECK(policy_cidr_parse("10.1.2.3/12", &c, &hb, NULL, 0) == 0 && hb);
	CHECK(c.addr[0] == 10 && c.addr[1] == 0 && c.addr[2] == 0);
	CHECK(policy_ip_parse("10.15.255.255", ip, &v6) == 0 &&
	    policy_cidr_match(&c, ip, v6));
	CHECK(policy_ip_parse("10.16.0.0", ip, &v6) == 0 &&
	    !policy_cidr_match(&c, ip, v6));
	CHECK(policy_cidr_parse("0.0.0.0/0", &c, NULL, NULL, 0) == 0);
	CHECK(policy_ip_parse("8.8.8.8", ip, &v6) == 0 &&
	    policy_cidr_match(&c, ip, v6));
	CHECK(policy_ip_parse("::1", ip, &v6) == 0 &&
	    !policy_cidr_match(&c, ip, v6));
	CHECK(policy_cidr_parse("2001:db8::/33", &c, &hb, NULL, 0) == 0);
	CHECK(c.v6 && c.bits == 33 && !hb);
	CHECK(policy_ip_parse("2001:db8:7fff::1", ip, &v6) == 0 &&
	    policy_cidr_match(&c, ip, v6));
	CHECK(policy_ip_parse("2001:db8:8000::1", ip, &v6) == 0 &&
	    !policy_cidr_match(&c, ip, v6));
	CHECK(policy_cidr_parse("::/0", &c, NULL, NULL, 0) == 0 &&
	    policy_cidr_match(&c, ip, v6));
	CHECK(policy_cidr_parse("1.2.3.4", &c, NULL, why, sizeof(why)) == -1);
	CHECK_STREQ(why, "no prefix length (/N)");
	CHECK(policy_cidr_parse("1.2.3.4/", &c, NULL, NULL, 0) == -1);
	CHECK(policy_cidr_parse("1.2.3.4/-1", &c, NULL, NULL, 0) == -1);
	CHECK(policy_cidr_parse("1.2.3/8", &c, NULL, NULL, 0) == -1);
	CHECK(policy_cidr_parse("1.2.3.4/8x", &c, NULL, NULL, 0) == -1);
	CHECK(policy_cidr_parse(" 1.2.3.4/8", &c, NULL, NULL, 0) == -1);
	CHECK(policy_cidr_parse("/8", &c, NULL, NULL, 0) == -1);
	CHECK(policy_ip_parse("example.com", ip, &v6) == -1);
}

TEST(suggestions)
{
	static const char *const c[] = { "rate-limit", "deny", "log", NULL };

	CHECK_STREQ(policy_suggest("rate_limit", c), "rate-limit");
	CHECK_STREQ(policy_suggest("ratelimit", c), "rate-limit");
	CHECK_STREQ(policy_suggest("dny", c), "deny");
	CHECK(policy_suggest("redirect", c) == NULL);
}

/* Variables and request functions. */

static const struct policy_hdr req_headers[] = {
	{ "Host", "api.example.com:8443" },
	{ "User-Agent",
	    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
	    "AppleWebKit/605.1.15 Version/17.1 Mobile/15E148 Safari/604.1" },
	{ "X-Api-Key", "k1" },
	{ "x-api-key", "k2" },
	{ "Cookie", "session=abc; theme=\"dark\"; session=def" },
	{ "Content-Type", "application/json; charset=UTF-8" },
	{ "Content-Length", "42" },
	{ "Content-Encoding", "gzip, BR" },
};

static const struct policy_hdr res_headers[] = {
	{ "Content-Type", "text/html" },
	{ "Set-Cookie", "id=1; Path=/; HttpOnly" },
	{ "Set-Cookie", "id=2; Path=/app; Secure; Max-Age=60; SameSite=Lax" },
};

static const struct policy_var set_vars[] = {
	{ "tier", { .type = CEL_STRING, .s = { "gold", 4 } } },
	{ "n", { .type = CEL_INT, .i = 1 } },
	{ "n", { .type = CEL_INT, .i = 2 } },
};

static void
fill_req(struct policy_req *r, enum policy_phase ph)
{
	memset(r, 0, sizeof(*r));
	r->phase = ph;
	r->now_ns = 1700000000LL * 1000000000LL;
	r->client_ip = "203.0.113.7";
	r->client_port = 51234;
	r->server_ip = "198.51.100.10";
	r->server_port = 8443;
	r->server_name = "api.example.com";
	r->tls = 1;
	r->tls_version = "1.3";
	r->conn_start_ns = r->now_ns - 1000;
	r->method = "POST";
	r->version = "HTTP/1.1";
	r->url_raw = "/v1/orders?dry_run=1&tag=a&tag=b%20c&empty";
	r->scheme = "https";
	r->host = "api.example.com";
	r->path = "/v1/orders";
	r->query = "dry_run=1&tag=a&tag=b%20c&empty";
	r->req_headers = req_headers;
	r->nreq_headers = sizeof(req_headers) / sizeof(req_headers[0]);
	r->status_code = 201;
	r->res_headers = res_headers;
	r->nres_headers = sizeof(res_headers) / sizeof(res_headers[0]);
	r->vars = set_vars;
	r->nvars = sizeof(set_vars) / sizeof(set_vars[0]);
}

/*
 * Evaluates <expr> in <ph> against the test request: 1 or 0, or -1 on
 * any error, which is printed unless <quiet>.
 */
static int
eval_expr(enum policy_phase ph, const char *expr, int quiet)
{
	struct cel_env *env = vars_env_new(ph);
	struct cel_program *prog;
	struct cel_error err;
	struct cel_arena arena;
	struct cel_ctx ctx;
	struct policy_req r;
	struct cel_value v;
	int rc = -1;

	if (env == NULL)
		return -1;
	fill_req(&r, ph);
	vars_set_result(&r, VARS_RATE_LIMIT_LIMITED, cel_bool(1));
	prog = cel_compile(env, expr, strlen(expr), &err);
	if (prog == NULL) {
		fprintf(stderr, "compile %s: %d: %s\n", expr, err.col, err.msg);
		cel_env_free(env);
		return -1;
	}
	cel_arena_init(&arena, 0);
	cel_ctx_init(&ctx, &arena, &r, vars_resolve);
	if (cel_eval(prog, &ctx, &v) == 0 && v.type == CEL_BOOL)
		rc = v.b;
	else if (!quiet)
		fprintf(stderr, "eval %s: %s\n", expr, ctx.errmsg);
	cel_arena_fini(&arena);
	cel_program_free(prog);
	cel_env_free(env);
	return rc;
}

static int
eval_bool(enum policy_phase ph, const char *expr)
{
	return eval_expr(ph, expr, 0);
}

TEST(request_variables)
{
	static const char *const truths[] = {
		"conn.client_ip == '203.0.113.7' && conn.client_port == 51234",
		"conn.server_ip == '198.51.100.10' && conn.server_port == 8443",
		"conn.ts.start < time.now",
		"time.now == timestamp('2023-11-14T22:13:20Z')",
		"conn.geo.country == '' && conn.client_ip.geo.location.city == ''",
		"!conn.client_ip.is_tor_node && size(conn.client_ip.categories) == 0",
		"conn.tls.version == '1.3' && !has(conn.tls.client.subject)",
		"endpoint.protocol == 'https' && endpoint.port == 8443",
		"endpoint.url == 'https://api.example.com:8443'",
		"req.method == 'POST' && req.version == 'HTTP/1.1'",
		"req.host == 'api.example.com:8443'",
		"req.url == 'https://api.example.com:8443/v1/orders?dry_run=1&tag=a&tag=b%20c&empty'",
		"req.url.scheme == 'https' && req.url.host == 'api.example.com'",
		"req.url.authority == 'api.example.com:8443' && req.url.port == 8443",
		"req.url.path == '/v1/orders' && req.url.raw_path == '/v1/orders'",
		"req.url.uri == '/v1/orders?dry_run=1&tag=a&tag=b%20c&empty'",
		"req.url.query_params['tag'] == ['a', 'b c']",
		"req.url.query_params['empty'] == ['']",
		"getQueryParam('tag') == ['a', 'b c'] && hasQueryParam('dry_run')",
		"!hasQueryParam('nope') && getQueryParam('nope') == []",
		"req.headers['x-api-key'] == ['k1', 'k2']",
		"'host' in req.headers && !('Host' in req.headers)",
		"req.Headers['host'] == ['api.example.com:8443']",
		"getReqHeader('X-API-KEY') == ['k1', 'k2'] && hasReqHeader('x-api-key')",
		"getReqHeader('nope') == [] && !hasReqHeader('nope')",
		"req.cookies['session'].size() == 2",
		"req.cookies['session'][1].value == 'def'",
		"getReqCookie('theme').value == 'dark' && hasReqCookie('session')",
		"getReqCookie('session').value == 'abc' && !hasReqCookie('x')",
		"req.content_type == 'application/json'",
		"req.content_type.parameters['charset'] == 'UTF-8'",
		"req.content_type.raw == 'application/json; charset=UTF-8'",
		"req.content_length == 42",
		"req.content_encoding == ['gzip', 'br']",
		"req.user_agent.is_mobile && !req.user_agent.is_bot",
		"req.user_agent.name == 'Safari' && req.user_agent.os == 'iOS'",
		"req.user_agent.os_version == '17_1'",
		"!req.user_agent.is_desktop",
		"vars.tier == 'gold' && vars.n == 2 && !has(vars.nope)",
		"actions.ngrok.rate_limit.limited",
		"!has(req.ts.header_received) || true",
	};
	size_t i;

	for (i = 0; i < sizeof(truths) / sizeof(truths[0]); i++)
		if (eval_bool(POLICY_HTTP_REQUEST, truths[i]) != 1) {
			fprintf(stderr, "not true: %s\n", truths[i]);
			harness_failed_checks++;
		}
}

TEST(response_variables)
{
	static const char *const truths[] = {
		"res.status_code == 201",
		"res.headers['content-type'] == ['text/html']",
		"getResHeader('Content-Type') == ['text/html']",
		"hasResHeader('set-cookie') && !hasResHeader('location')",
		"res.cookies['id'].size() == 2",
		"res.cookies['id'][0].http_only && !res.cookies['id'][0].secure",
		"getResCookie('id').value == '2' && getResCookie('id').secure",
		"getResCookie('id').max_age == 60",
		"getResCookie('id').same_site == 'Lax'",
		"res.content_type == 'text/html' && res.content_encoding == []",
		"req.method == 'POST'",
	};
	size_t i;

	for (i = 0; i < sizeof(truths) / sizeof(truths[0]); i++)
		if (eval_bool(POLICY_HTTP_RESPONSE, truths[i]) != 1) {
			fprintf(stderr, "not true: %s\n", truths[i]);
			harness_failed_checks++;
		}
	/* Absent values fail the expression, as missing keys do in CEL. */
	CHECK(eval_expr(POLICY_HTTP_RESPONSE, "res.content_length == 0", 1) ==
	    -1);
	CHECK(eval_expr(POLICY_HTTP_REQUEST,
	          "actions.ngrok.restrict_ips.action == 'allow'", 1) == -1);
	CHECK(eval_expr(POLICY_HTTP_REQUEST, "getReqCookie('x').value == ''",
	          1) == -1);
}

TEST(tcp_variables)
{
	CHECK(eval_bool(
	          POLICY_TCP_CONNECT, "conn.client_ip == '203.0.113.7'") == 1);
	CHECK(eval_bool(POLICY_TCP_CONNECT,
	          "inCidrRange(conn.client_ip, '203.0.113.0/24')") == 1);
}

int
main(void)
{
	RUN(invalid_policies);
	RUN(valid_policies);
	RUN(structure);
	RUN(defaults_and_other_actions);
	RUN(sha256_and_files);
	RUN(many_errors_are_counted);
	RUN(cidrs);
	RUN(suggestions);
	RUN(request_variables);
	RUN(response_variables);
	RUN(tcp_variables);
	return harness_done();
}
