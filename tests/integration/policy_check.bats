#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# gw-policy check end to end: policy files written to the test's own
# directory, the real binary, and what a user relies on: the exit code
# (0 valid, 78 invalid, 64 usage), "FILE: ok" on stdout, and every
# problem on stderr as FILE:LINE:COL: message with the exact position,
# in YAML and in JSON.  Every action of the spec's examples is accepted;
# every ngrok action gw does not implement is refused with its line.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	T=$BATS_TEST_TMPDIR
	POLICY=$BIN_DIR/gw-policy
	[ -x "$POLICY" ] || fail "$POLICY is missing: run make all"
	cd "$T"
}

# check FILE...: runs gw-policy check, stdout in $output, stderr in $stderr.
check() {
	run --separate-stderr "$POLICY" check "$@"
}

# The spec's examples, one action of each type gw implements.
write_all_actions() {
	cat >all.yml <<'EOF'
on_tcp_connect:
  - name: block ranges
    actions:
      - type: restrict-ips
        config:
          allow: ["0.0.0.0/0", "::/0"]
          deny: ["203.0.113.0/24", "2001:db8::/32"]
      - type: set-vars
        config:
          vars:
            - seen: true
      - type: log
        config:
          metadata:
            ip: "${conn.client_ip}"
  - expressions: ["conn.client_ip == '198.51.100.1'"]
    actions:
      - type: close-connection
  - expressions: ["inCidrRange(conn.client_ip, '192.0.2.0/24')"]
    actions:
      - type: deny
on_http_request:
  - name: tiered limits
    expressions:
      - req.url.path.startsWith('/api')
      - "!(conn.client_ip in ['10.0.0.1'])"
    actions:
      - type: set-vars
        config:
          vars:
            - tier: "${hasReqHeader('x-tier') ? getReqHeader('x-tier')[0] : 'free'}"
      - type: rate-limit
        config:
          name: per key
          algorithm: sliding_window
          capacity: 100
          rate: 60s
          bucket_key:
            - req.headers['x-api-key']
            - 'hasReqHeader(''host'') ? getReqHeader(''host'')[0] : ''unknown'''
      - type: rate-limit
        config:
          name: observe only
          enforce: false
          algorithm: sliding_window
          capacity: 10
          rate: 10m
          bucket_key: [conn.client_ip]
      - type: add-headers
        config:
          headers:
            x-client-ip: "${conn.client_ip}"
            x-tier: "${vars.tier}"
      - type: remove-headers
        config:
          headers: [x-debug]
      - type: url-rewrite
        config:
          from: "/api/v1/(.*)"
          to: "/api/v2/$1"
      - type: circuit-breaker
        config:
          error_threshold: 0.5
          volume_threshold: 10
          window_duration: 10s
          tripped_duration: 10s
  - expressions: [actions.ngrok.rate_limit.limited]
    actions:
      - type: custom-response
        config:
          status_code: 429
          headers:
            content-type: application/json
          body: '{"error":"slow down","ip":"${conn.client_ip}"}'
  - expressions: ["req.url.path.startsWith('/admin')"]
    actions:
      - type: basic-auth
        config:
          realm: admin
          credentials: ["alice:correcthorsebattery"]
  - expressions: ["req.url.path == '/old'"]
    actions:
      - type: redirect
        config:
          from: "/old$"
          to: "/new"
          status_code: 301
  - expressions: ["req.method == 'TRACE'"]
    actions:
      - type: deny
        config:
          status_code: 405
on_http_response:
  - expressions: ["res.status_code >= 500"]
    actions:
      - type: custom-response
        config:
          status_code: 503
          body: "upstream said ${string(res.status_code)}"
  - actions:
      - type: compress-response
        config:
          algorithms: [gzip, deflate]
      - type: add-headers
        config:
          headers:
            x-served-by: gw
EOF
}

@test "check: every implemented action of the spec's examples is accepted" {
	write_all_actions
	check all.yml
	[ "$status" -eq 0 ]
	[ "$output" = "all.yml: ok" ]
	[ "$stderr" = "" ]
}

@test "check: the JSON form is accepted too" {
	cat >p.json <<'EOF'
{
	"on_http_request": [
		{
			"name": "limit",
			"expressions": ["req.url.path.startsWith('/api')"],
			"actions": [
				{"type": "rate-limit", "config": {"name": "per-ip", "algorithm": "sliding_window", "capacity": 10, "rate": "60s", "bucket_key": ["conn.client_ip"]}},
				{"type": "custom-response", "config": {"status_code": 200, "body": "{\"ip\": \"${conn.client_ip}\"}"}}
			]
		}
	],
	"on_http_response": []
}
EOF
	check p.json
	[ "$status" -eq 0 ]
	[ "$output" = "p.json: ok" ]
}

@test "check: errors in JSON carry line and column" {
	cat >p.json <<'EOF'
{
	"on_http_request": [
		{
			"expressions": ["req.method == 'GET' && nope"],
			"actions": [{"type": "deny", "config": {"status_code": "403"}}]
		}
	]
}
EOF
	check p.json
	[ "$status" -eq 78 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "p.json:4:44: invalid expression: undeclared reference to 'nope'" ]
	[ "${stderr_lines[1]}" = "p.json:5:59: deny: status_code must be an integer, was \"403\"" ]
	[ "${#stderr_lines[@]}" -eq 2 ]
}

@test "check: each action gw does not implement is refused with its line" {
	for type in jwt-validation oauth openid-connect verify-webhook forward-internal; do
		printf 'on_http_request:\n  - name: r\n    actions:\n      - type: log\n        config: {metadata: {a: 1}}\n      - type: %s\n        config: {}\n' "$type" >u.yml
		check u.yml
		[ "$status" -eq 78 ]
		[ "$stderr" = "u.yml:6:15: action \"$type\" is not supported by gw" ]
	done
}

@test "check: an unknown action suggests the closest name" {
	printf 'on_http_request:\n  - actions:\n      - type: rate_limit\n' >p.yml
	check p.yml
	[ "$status" -eq 78 ]
	[ "$stderr" = 'p.yml:3:15: unknown action "rate_limit" (did you mean "rate-limit"?)' ]
}

@test "check: every problem is reported, not only the first" {
	cat >p.yml <<'EOF'
on_http_request:
  - name: many
    expresions: ["true"]
    actions:
      - type: rate-limit
        config:
          name: x
          algorithm: sliding_window
          capacity: 0
          rate: 45s
          bucket_key: [conn.client_ip]
      - type: url-rewrite
        config:
          from: "/api/(v1"
          to: /x
      - type: restrict-ips
        config:
          allow: ["10.0.0.0/33", "1.2.3.4"]
on_tcp_connect:
  - actions:
      - type: add-headers
        config: {headers: {a: b}}
colour: blue
EOF
	check p.yml
	[ "$status" -eq 78 ]
	[ "${stderr_lines[0]}" = 'p.yml:3:5: unknown rule key "expresions" (did you mean "expressions"?)' ]
	[ "${stderr_lines[1]}" = 'p.yml:9:21: rate-limit: capacity must be between 1 and 2000000000 inclusive, was 0 (ERR_NGROK_2215)' ]
	[ "${stderr_lines[2]}" = 'p.yml:10:17: rate-limit: rate must be a multiple of 10s between 60s and 24h, was "45s" (ERR_NGROK_2215)' ]
	[ "${stderr_lines[3]}" = 'p.yml:14:26: url-rewrite: from is not a valid regular expression: missing closing parenthesis (ERR_NGROK_3901)' ]
	[ "${stderr_lines[4]}" = 'p.yml:18:19: restrict-ips: invalid CIDR "10.0.0.0/33": the prefix length must be 0 to 32 (ERR_NGROK_362)' ]
	[ "${stderr_lines[5]}" = 'p.yml:18:34: restrict-ips: invalid CIDR "1.2.3.4": no prefix length (/N) (ERR_NGROK_362)' ]
	[ "${stderr_lines[6]}" = 'p.yml:21:15: action type "add-headers" is not supported for on_tcp_connect traffic policy rules; use it in on_http_request or on_http_response (ERR_NGROK_2202)' ]
	[ "${stderr_lines[7]}" = 'p.yml:23:1: unknown top-level key "colour"' ]
	[ "${#stderr_lines[@]}" -eq 8 ]
}

@test "check: CEL errors point into the expression, through quotes and block scalars" {
	cat >p.yml <<'EOF'
on_http_request:
  - expressions:
      - req.method == 'GET' && a1
      - "req.method == \"GET\" && a2"
      - 'hasReqHeader(''host'') && a3'
      - |
        req.method == 'GET' &&
          a4
      - req.url.path
    actions:
      - type: custom-response
        config:
          body: "hello ${conn.client_ip} ${a5}"
EOF
	check p.yml
	[ "$status" -eq 78 ]
	[ "${stderr_lines[0]}" = "p.yml:3:32: invalid expression: undeclared reference to 'a1'" ]
	[ "${stderr_lines[1]}" = "p.yml:4:35: invalid expression: undeclared reference to 'a2'" ]
	[ "${stderr_lines[2]}" = "p.yml:5:36: invalid expression: undeclared reference to 'a3'" ]
	[ "${stderr_lines[3]}" = "p.yml:8:11: invalid expression: undeclared reference to 'a4'" ]
	[ "${stderr_lines[4]}" = "p.yml:9:9: an expression must evaluate to a bool, not string (ERR_NGROK_2200)" ]
	[ "${stderr_lines[5]}" = "p.yml:13:44: custom-response: body: undeclared reference to 'a5'" ]
}

@test "check: a YAML syntax error is reported at libyaml's position" {
	printf 'on_http_request:\n  - actions: [\n' >p.yml
	check p.yml
	[ "$status" -eq 78 ]
	[ "$stderr" = "p.yml:3:1: did not find expected node content (while parsing a flow node)" ]
}

@test "check: the deprecated inbound and outbound names load with a warning" {
	printf 'inbound:\n  - actions: [{type: deny}]\noutbound:\n  - actions: [{type: custom-response}]\n' >p.yml
	check p.yml
	[ "$status" -eq 0 ]
	[ "$output" = "p.yml: ok" ]
	[ "${stderr_lines[0]}" = 'p.yml:1:1: warning: "inbound" is deprecated; use on_http_request' ]
	[ "${stderr_lines[1]}" = 'p.yml:3:1: warning: "outbound" is deprecated; use on_http_response' ]
}

@test "check: several files, one invalid, exit 78 and ok for the others" {
	write_all_actions
	printf 'on_http_request:\n  - actions: []\n' >bad.yml
	: >empty.yml
	check all.yml bad.yml empty.yml
	[ "$status" -eq 78 ]
	[ "${lines[0]}" = "all.yml: ok" ]
	[ "${lines[1]}" = "empty.yml: ok" ]
	[ "$stderr" = "bad.yml:2:14: a rule must define at least one action (ERR_NGROK_2206)" ]
}

@test "check: standard input as -" {
	run --separate-stderr "$POLICY" check - <<'EOF'
on_http_request:
  - actions: [{type: deny, config: {status_code: 99}}]
EOF
	[ "$status" -eq 78 ]
	[ "$stderr" = "<stdin>:2:50: deny: status_code must be between 100 and 599 inclusive, was 99 (ERR_NGROK_2215)" ]
}

@test "check: a missing file is an error with its name" {
	check nope.yml
	[ "$status" -eq 78 ]
	[ "$stderr" = "nope.yml: No such file or directory" ]
}

@test "usage: no file, an unknown option or command exit 64" {
	check
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "gw-policy: error: check: no policy file given" ]
	check --strict p.yml
	[ "$status" -eq 64 ]
	run --separate-stderr "$POLICY" frobnicate
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "gw-policy: error: unknown command 'frobnicate'" ]
	run --separate-stderr "$POLICY"
	[ "$status" -eq 64 ]
}

@test "usage: --help and --version" {
	run --separate-stderr "$POLICY" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"check FILE..."* ]]
	run --separate-stderr "$POLICY" check --help
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "usage: gw-policy check FILE..." ]
	run --separate-stderr "$POLICY" --version
	[ "$status" -eq 0 ]
	[[ "$output" == "gw-policy "* ]]
}

@test "serve and eval: --help, and usage errors exit 64 naming what is missing" {
	for cmd in serve eval; do
		run --separate-stderr "$POLICY" "$cmd" --help
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "usage: gw-policy $cmd "* ]]
		run --separate-stderr "$POLICY" "$cmd"
		[ "$status" -eq 64 ]
		[[ "$stderr" == *"the policy FILE is required"* ]]
	done
	run --separate-stderr "$POLICY" serve policy.yml
	[ "$status" -eq 64 ]
	[[ "$stderr" == *"--socket PATH is required"* ]]
}
