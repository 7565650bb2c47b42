#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# gw-policy serve end to end: the real daemon on a Unix socket in the
# test's directory, gw-proxy asking it with --policy, sample-api behind,
# and curl in front, all on loopback.  Each test checks what a user sees:
# statuses and headers on the wire, what reached the upstream, the events
# gw-proxy wrote, the audit events gw-policy wrote when a policy was
# loaded or refused, and that a reload needs no restart.  The last test
# runs "gw-policy eval" over the events of live traffic and expects the
# same decisions.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	common_setup
	POLICY=$BIN_DIR/gw-policy
	[ -x "$POLICY" ] || fail "$POLICY is missing: run make all"
	PFILE=$T/policy.yml
	SOCK=$T/p.sock
	AUDIT=$T/audit.ndjson
	PERR=$T/policy.err
}

teardown() {
	common_teardown
}

CURL=(curl -sS --max-time 20)

# start_policy [ARGS...]: gw-policy serve $PFILE on $SOCK, audit events in
# $AUDIT, stderr in $PERR; waits for the socket.  Sets POLICY_PID.
start_policy() {
	"$POLICY" serve "$PFILE" --socket "$SOCK" "$@" >>"$AUDIT" 2>>"$PERR" \
	    3>&- &
	POLICY_PID=$!
	track "$POLICY_PID"
	wait_for 10 test -S "$SOCK" ||
	    fail "gw-policy did not create its socket: $(cat "$PERR")"
}

# start_all: sample-api, gw-policy, and gw-proxy asking it.
start_all() {
	start_api
	start_policy
	start_proxy --upstream "http://127.0.0.1:$API_PORT" --policy "$SOCK"
	# The proxy is connected once a request gets an answer.
	wait_for 10 answered || fail "gw-proxy never got gw-policy's answer"
}

answered() {
	local code
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/healthz") || return 1
	[ "$code" != 503 ]
}

# code PATH [CURL ARGS...]: the status of one request.
code() {
	local path=$1
	shift
	"${CURL[@]}" -o /dev/null -w '%{http_code}' "$@" \
	    "http://127.0.0.1:$PORT$path"
}

# code_is PATH STATUS: a request for PATH gets STATUS now (for wait_for).
code_is() {
	[ "$(code "$1")" = "$2" ]
}

# audits TYPE: the count of that audit event type.
audits() {
	count_events "$1" "$AUDIT"
}

has_audits() {
	[ "$(audits "$1")" -ge "$2" ]
}

# The last exchange for PATH, as JSON.
exchange_for() {
	events_of http_request_complete.v0 |
	    jq -c --arg p "$1" 'select(.object.http.request.url.path == $p)' |
	    tail -n1
}

# exchange_seen PATH: an exchange event for PATH is out.
exchange_seen() {
	[ -n "$(exchange_for "$1")" ]
}

big_seen() {
	events_of http_request_complete.v0 |
	    jq -e 'select(.object.http.request.url.query == "big=1")' \
	    >/dev/null
}

write_rate_limit() {
	cat >"$PFILE" <<EOF
on_http_request:
  - name: per-ip
    actions:
      - type: rate-limit
        config:
          name: per-ip
          algorithm: sliding_window
          capacity: $1
          rate: 60s
          bucket_key: [conn.client_ip]
  - name: admin
    expressions: ["req.url.path.startsWith('/admin')"]
    actions:
      - type: deny
EOF
}

# ---- the seed scenario --------------------------------------------------

@test "a curl loop from one IP gets 429s with Retry-After; the upstream never sees them; raising capacity in policy.yml takes effect without a restart" {
	write_rate_limit 3
	start_all
	local codes="" i first second ev n
	# start_all used one request of the 3 already.
	for i in 1 2 3 4 5; do
		codes+="$(code /api/users -D "$T/h$i") "
	done
	[ "$codes" = "200 200 429 429 429 " ] || fail "statuses: $codes"
	grep -qi '^Retry-After: [0-9]' "$T/h3" || fail "$(cat "$T/h3")"
	grep -qi '^RateLimit-Limit: 3' "$T/h3" || fail "$(cat "$T/h3")"
	grep -qi '^RateLimit-Remaining: 0' "$T/h3" || fail "$(cat "$T/h3")"
	grep -qi '^RateLimit-Reset: [0-9]' "$T/h3" || fail "$(cat "$T/h3")"
	wait_events http_request_complete.v0 6
	# Refused exchanges never reached sample-api: no backend member.
	n=$(events_of http_request_complete.v0 | jq -s '[.[] |
	    select(.object.http.response.status_code == 429 and
	        .object.error.code == "GW_RATE_LIMITED" and
	        (.object | has("backend") | not) and
	        .object.traffic_policy.rules_matched == ["per-ip"] and
	        .object.traffic_policy.action == "respond")] | length')
	[ "$n" = 3 ] || fail "refused events: $(cat "$EV")"
	n=$(events_of http_request_complete.v0 | jq -s '[.[] |
	    select(.object.http.response.status_code == 200 and
	        (.object | has("backend")))] | length')
	[ "$n" = 3 ] || fail "passed events: $(cat "$EV")"

	# Raise the capacity and save, as an editor would.
	first=$(events_of policy_updated.v0 "$AUDIT" | jq -r .object.sha256)
	write_rate_limit 100
	wait_for 10 has_audits policy_updated.v0 2 ||
	    fail "no second policy_updated.v0: $(cat "$AUDIT" "$PERR")"
	[ "$(code /api/users)" = 200 ]
	ev=$(events_of policy_updated.v0 "$AUDIT" | tail -n1)
	[ "$(jq -r .object.previous_sha256 <<<"$ev")" = "$first" ] || fail "$ev"
	second=$(sha256sum "$PFILE" | cut -d' ' -f1)
	[ "$(jq -r .object.sha256 <<<"$ev")" = "$second" ] || fail "$ev"
	[ "$(jq -r .principal.source <<<"$ev")" = file ] || fail "$ev"
	[ "$(jq -r .object.rules <<<"$ev")" = 2 ] || fail "$ev"
	[ "$(jq -r .object.file <<<"$ev")" = "$PFILE" ] || fail "$ev"
	alive "$POLICY_PID"
}

@test "the socket is mode 0600, the first load is audited, and SIGTERM exits 0 and removes the socket" {
	write_rate_limit 10
	start_policy
	[ "$(stat -c %a "$SOCK")" = 600 ]
	wait_for 5 has_audits policy_updated.v0 1
	local ev
	ev=$(events_of policy_updated.v0 "$AUDIT")
	[ "$(jq -r .object.previous_sha256 <<<"$ev")" = null ] || fail "$ev"
	[ "$(jq -r .principal.source <<<"$ev")" = cli ] || fail "$ev"
	kill -TERM "$POLICY_PID"
	wait_for 5 gone "$POLICY_PID"
	local rc=0
	wait "$POLICY_PID" || rc=$?
	[ "$rc" = 0 ]
	[ ! -e "$SOCK" ]
}

@test "an invalid policy at start: every problem as file:line:col, exit 78" {
	printf 'on_http_request:\n  - name: x\n    actions: [{type: nope}]\n' \
	    >"$PFILE"
	run --separate-stderr "$POLICY" serve "$PFILE" --socket "$SOCK"
	[ "$status" = 78 ]
	[[ $stderr == *"$PFILE:3:"*"nope"* ]] || fail "$stderr"
	[ ! -e "$SOCK" ]
}

@test "a broken file keeps the old policy in force and emits policy_rejected.v0; fixing it loads it" {
	write_rate_limit 100
	start_all
	[ "$(code /admin)" = 403 ]
	local good
	good=$(sha256sum "$PFILE" | cut -d' ' -f1)
	printf 'on_http_request:\n  - name: x\n    actions: [{type: rate_limit}]\n' \
	    >"$PFILE"
	wait_for 10 has_audits policy_rejected.v0 1 ||
	    fail "no policy_rejected.v0: $(cat "$AUDIT" "$PERR")"
	local ev
	ev=$(events_of policy_rejected.v0 "$AUDIT")
	[ "$(jq -r .object.previous_sha256 <<<"$ev")" = "$good" ] || fail "$ev"
	[[ $(jq -r .object.error <<<"$ev") == "$PFILE:3:"*"rate_limit"* ]] ||
	    fail "$ev"
	grep -q "$PFILE:3:.*rate_limit" "$PERR"
	# Still the old policy.
	[ "$(code /admin)" = 403 ]
	[ "$(code /api/users)" = 200 ]
	# SIGHUP reloads as well; the same broken file is rejected again.
	kill -HUP "$POLICY_PID"
	wait_for 10 has_audits policy_rejected.v0 2
	[ "$(events_of policy_rejected.v0 "$AUDIT" | tail -n1 |
	    jq -r .principal.source)" = signal ]
	# Put back as it was: nothing changes, nothing to audit.
	write_rate_limit 100
	wait_for 10 grep -q "back to the policy in force" "$PERR"
	[ "$(audits policy_updated.v0)" = 1 ]
	# A fixed, different file is loaded.
	write_rate_limit 2
	wait_for 10 has_audits policy_updated.v0 2
	[ "$(code /api/users)" = 200 ]
	[ "$(code /admin)" = 403 ]
	[ "$(code /admin)" = 429 ]
	alive "$POLICY_PID"
}

@test "an editor that replaces the file (write a copy, rename it over) is seen" {
	write_rate_limit 100
	start_all
	[ "$(code /other)" = 404 ]
	cat >"$T/new.yml" <<'EOF'
on_http_request:
  - name: teapot
    expressions: ["req.url.path == '/other'"]
    actions:
      - type: custom-response
        config: {status_code: 418, body: "short and stout"}
EOF
	mv "$T/new.yml" "$PFILE"
	wait_for 10 has_audits policy_updated.v0 2
	[ "$(code /other)" = 418 ]
	[ "$("${CURL[@]}" "http://127.0.0.1:$PORT/other")" = "short and stout" ]
}

@test "gw-policy killed while gw-proxy runs: 503 GW_POLICY_UNAVAILABLE, then it recovers when gw-policy is back" {
	write_rate_limit 100
	start_all
	kill -KILL "$POLICY_PID"
	wait_for 5 gone "$POLICY_PID"
	"${CURL[@]}" -o "$T/body" -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/api/users" >"$T/code"
	[ "$(cat "$T/code")" = 503 ] || fail "$(cat "$T/code" "$T/body")"
	grep -q GW_POLICY_UNAVAILABLE "$T/body"
	start_policy
	wait_for 10 answered
	[ "$(code /api/users)" = 200 ]
	[ "$(code /admin)" = 403 ]
}

# ---- one test per action family ----------------------------------------

@test "deny and custom-response: 403 without body, 418 with an interpolated body and headers; response rules still run on them" {
	cat >"$PFILE" <<'EOF'
on_http_request:
  - name: admin
    expressions: ["req.url.path.startsWith('/admin')"]
    actions:
      - type: deny
  - name: teapot
    expressions: ["req.url.path == '/tea'"]
    actions:
      - type: custom-response
        config:
          status_code: 418
          headers: {x-client: "${conn.client_ip}"}
          body: '{"path":"${req.url.path}","q":"${getQueryParam("kind")[0]}"}'
on_http_response:
  - name: cors
    expressions: ["res.status_code >= 400"]
    actions:
      - type: add-headers
        config: {headers: {access-control-allow-origin: "*"}}
EOF
	start_all
	"${CURL[@]}" -D "$T/h" -o "$T/b" "http://127.0.0.1:$PORT/admin/users"
	[ "$(status_of "$(cat "$T/h")")" = 403 ]
	[ ! -s "$T/b" ]
	# on_http_response runs on the answers gw makes itself, too.
	grep -qi '^access-control-allow-origin: \*' "$T/h" || fail "$(cat "$T/h")"
	"${CURL[@]}" -D "$T/h" -o "$T/b" "http://127.0.0.1:$PORT/tea?kind=green"
	[ "$(status_of "$(cat "$T/h")")" = 418 ]
	[ "$(cat "$T/b")" = '{"path":"/tea","q":"green"}' ]
	grep -qi '^x-client: 127.0.0.1' "$T/h"
	grep -qi '^content-type: application/json' "$T/h"
	wait_events http_request_complete.v0 3
	[ "$(exchange_for /admin/users | jq -r .object.error.code)" = GW_DENIED ]
	grep -qi '^access-control-allow-origin: \*' "$T/h"
	[ "$(exchange_for /tea | jq -c .object.traffic_policy)" = \
	    '{"rules_matched":["teapot","cors"],"action":"respond"}' ]
	[ "$(exchange_for /tea | jq -r '.object.error // "none"')" = none ]
}

@test "full capture: gw's own answers recorded as sent; a small request body is read before the answer, a larger one is not and is marked so" {
	cat >"$PFILE" <<'EOF'
on_http_request:
  - name: teapot
    expressions: ["req.url.path == '/tea'"]
    actions:
      - type: custom-response
        config:
          status_code: 418
          headers: {x-brew: green}
          body: short and stout
EOF
	start_api
	start_policy
	start_proxy --upstream "http://127.0.0.1:$API_PORT" --policy "$SOCK" \
	    --full-capture --body-limit 1KiB
	wait_for 10 answered || fail "gw-proxy never got gw-policy's answer"
	"${CURL[@]}" -D "$T/h" -o "$T/b" -X POST --data-binary 'hello' \
	    "http://127.0.0.1:$PORT/tea"
	[ "$(status_of "$(cat "$T/h")")" = 418 ]
	[ "$(cat "$T/b")" = "short and stout" ]
	"${CURL[@]}" -o /dev/null -X POST --data-binary 'hello' \
	    "http://127.0.0.1:$PORT/api/echo"
	wait_for 10 exchange_seen /api/echo || fail "no event for /api/echo"
	exchange_for /tea | jq -e '.object.http.response |
	    .headers["X-Brew"] == ["green"] and
	    .headers["Content-Length"] == ["15"] and
	    .body == "short and stout" and .body_truncated == false' ||
	    fail "$(exchange_for /tea)"
	exchange_for /tea | jq -e '.object.http.request |
	    .body == "hello" and .body_truncated == false and
	    .last_byte_ts != null' || fail "$(exchange_for /tea)"
	# Over the capture limit, gw answers without reading the body.
	head -c 4096 /dev/zero | tr '\0' x >"$T/big"
	"${CURL[@]}" -D "$T/h" -o /dev/null -X POST -H 'Expect:' \
	    --data-binary @"$T/big" "http://127.0.0.1:$PORT/tea?big=1"
	[ "$(status_of "$(cat "$T/h")")" = 418 ]
	wait_for 10 big_seen || fail "no event for the large body"
	events_of http_request_complete.v0 |
	    jq -e 'select(.object.http.request.url.query == "big=1") |
	    .object.http.request | .body_truncated == true and
	    .last_byte_ts == null' || fail "$(events_of http_request_complete.v0)"
	# A body that went to the upstream was received whole.
	exchange_for /api/echo | jq -e '.object.http.request |
	    .body == "hello" and .body_truncated == false' ||
	    fail "$(exchange_for /api/echo)"
}

@test "add-headers and remove-headers on the request and the response; a later rule sees the change" {
	cat >"$PFILE" <<'EOF'
on_http_request:
  - name: tag
    actions:
      - type: add-headers
        config: {headers: {x-tier: gold, x-client: "${conn.client_ip}"}}
      - type: remove-headers
        config: {headers: [x-debug]}
  - name: seen
    expressions: ["getReqHeader('x-tier') == ['silver', 'gold']"]
    actions:
      - type: add-headers
        config: {headers: {x-seen: "yes"}}
on_http_response:
  - name: res
    actions:
      - type: add-headers
        config: {headers: {x-served-by: gw}}
      - type: remove-headers
        config: {headers: [x-sample-api]}
EOF
	start_all
	"${CURL[@]}" -D "$T/h" -o "$T/b" -H 'X-Tier: silver' -H 'X-Debug: 1' \
	    "http://127.0.0.1:$PORT/api/echo"
	[ "$(jq -r '.headers["x-tier"]' "$T/b")" = "silver, gold" ] ||
	    fail "$(cat "$T/b")"
	[ "$(jq -r '.headers["x-client"]' "$T/b")" = 127.0.0.1 ]
	[ "$(jq -r '.headers["x-seen"]' "$T/b")" = yes ]
	[ "$(jq -r '.headers["x-debug"]' "$T/b")" = null ]
	grep -qi '^x-served-by: gw' "$T/h" || fail "$(cat "$T/h")"
	! grep -qi '^x-sample-api' "$T/h" || fail "$(cat "$T/h")"
	wait_events http_request_complete.v0 2
	[ "$(exchange_for /api/echo | jq -c .object.traffic_policy.rules_matched)" = \
	    '["tag","seen","res"]' ]
}

@test "restrict-ips: a client outside the allow list gets 403; ip_policy.decision in the event" {
	cat >"$PFILE" <<'EOF'
on_http_request:
  - name: office
    expressions: ["req.url.path.startsWith('/api')"]
    actions:
      - type: restrict-ips
        config: {allow: [10.0.0.0/8, "2001:db8::/32"]}
EOF
	start_all
	[ "$(code /api/users)" = 403 ]
	wait_events http_request_complete.v0 2
	[ "$(exchange_for /api/users | jq -c '[.object.ip_policy.decision, .object.error.code]')" = \
	    '["block","GW_DENIED"]' ]
	sed -i 's|10.0.0.0/8|127.0.0.0/8|' "$PFILE"
	wait_for 10 has_audits policy_updated.v0 2
	[ "$(code /api/users)" = 200 ]
	wait_events http_request_complete.v0 3
	[ "$(exchange_for /api/users | jq -r .object.ip_policy.decision)" = allow ]
}

@test "on_tcp_connect restrict-ips and close-connection close the connection" {
	cat >"$PFILE" <<'EOF'
on_tcp_connect:
  - name: nobody
    actions:
      - type: restrict-ips
        config: {allow: [192.0.2.0/24]}
EOF
	start_api
	start_policy
	start_proxy --upstream "http://127.0.0.1:$API_PORT" --policy "$SOCK"
	local rc=0
	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/users" || rc=$?
	# 52: empty reply; 56: reset.  Anything but an HTTP answer.
	[ "$rc" = 52 ] || [ "$rc" = 56 ] || fail "curl exit $rc"
	cat >"$PFILE" <<'EOF'
on_http_request:
  - name: bye
    expressions: ["req.url.path == '/bye'"]
    actions:
      - type: close-connection
EOF
	wait_for 10 has_audits policy_updated.v0 2
	rc=0
	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/bye" || rc=$?
	[ "$rc" = 52 ] || [ "$rc" = 56 ] || fail "curl exit $rc"
	[ "$(code /api/users)" = 200 ]
	wait_events http_request_complete.v0 2
	[ "$(exchange_for /bye | jq -r .object.error.code)" = GW_DENIED ]
}

@test "url-rewrite changes what the upstream gets; redirect answers 301 with Location" {
	cat >"$PFILE" <<'EOF'
on_http_request:
  - name: v1
    actions:
      - type: url-rewrite
        config: {from: "/v1/([a-z]+)", to: "/api/$1"}
  - name: moved
    actions:
      - type: redirect
        config:
          from: "^http://([^/]+)/old/(.*)$"
          to: "https://$1/new/$2"
          status_code: 301
EOF
	start_all
	"${CURL[@]}" -o "$T/b" "http://127.0.0.1:$PORT/v1/echo?x=1"
	[ "$(jq -r .path "$T/b")" = /api/echo ] || fail "$(cat "$T/b")"
	[ "$(jq -r .query "$T/b")" = x=1 ] || fail "$(cat "$T/b")"
	"${CURL[@]}" -D "$T/h" -o /dev/null "http://127.0.0.1:$PORT/old/page?a=b"
	[ "$(status_of "$(cat "$T/h")")" = 301 ]
	grep -qi "^location: https://127.0.0.1:$PORT/new/page?a=b" "$T/h" ||
	    fail "$(cat "$T/h")"
	wait_events http_request_complete.v0 3
	# The event keeps the URL the client sent.
	[ "$(exchange_for /v1/echo | jq -r .object.traffic_policy.rules_matched[0])" = v1 ]
}

@test "basic-auth: 401 with WWW-Authenticate and the realm, 200 with good credentials; basic_auth in the event" {
	cat >"$PFILE" <<'EOF'
on_http_request:
  - name: auth
    actions:
      - type: basic-auth
        config:
          realm: staging
          credentials: ["alice:correct-horse"]
EOF
	start_api
	start_policy
	start_proxy --upstream "http://127.0.0.1:$API_PORT" --policy "$SOCK"
	wait_for 10 code_is /healthz 401
	"${CURL[@]}" -D "$T/h" -o /dev/null "http://127.0.0.1:$PORT/api/users"
	[ "$(status_of "$(cat "$T/h")")" = 401 ]
	grep -qi '^www-authenticate: Basic realm="staging"' "$T/h" ||
	    fail "$(cat "$T/h")"
	[ "$(code /api/users -u alice:wrong-horse)" = 401 ]
	[ "$(code /api/users -u alice:correct-horse)" = 200 ]
	wait_for 10 has_events http_request_complete.v0 4
	[ "$(events_of http_request_complete.v0 | tail -n1 |
	    jq -c .object.basic_auth)" = '{"decision":"allow","username":"alice"}' ]
	[ "$(events_of http_request_complete.v0 | tail -n2 | head -n1 |
	    jq -c .object.basic_auth)" = '{"decision":"block","username":"alice"}' ]
}

@test "log and set-vars: typed variables read by a later rule, metadata in traffic_policy.logs" {
	cat >"$PFILE" <<'EOF'
on_http_request:
  - name: vars
    actions:
      - type: set-vars
        config:
          vars:
            - n: "${size(req.url.path)}"
  - name: logit
    expressions: ["vars.n > 5"]
    actions:
      - type: log
        config:
          metadata:
            path: "${req.url.path}"
            n: "${vars.n}"
EOF
	start_all
	[ "$(code /api/users)" = 200 ]
	wait_events http_request_complete.v0 2
	[ "$(exchange_for /api/users | jq -c .object.traffic_policy)" = \
	    '{"rules_matched":["vars","logit"],"action":"continue","logs":[{"metadata":{"path":"/api/users","n":10}}]}' ]
}

@test "circuit-breaker: upstream 5xx trip it, then 503 GW_CIRCUIT_OPEN without calling the upstream" {
	cat >"$PFILE" <<'EOF'
on_http_request:
  - name: breaker
    expressions: ["req.url.path.startsWith('/api')"]
    actions:
      - type: circuit-breaker
        config:
          error_threshold: 0.5
          volume_threshold: 4
          window_duration: 30s
          tripped_duration: 60s
EOF
	start_all
	local i codes=""
	for i in 1 2 3 4; do
		codes+="$(code /api/fail) "
	done
	[ "$codes" = "500 500 500 500 " ] || fail "$codes"
	[ "$(code /api/users)" = 503 ]
	wait_events http_request_complete.v0 6
	[ "$(exchange_for /api/users | jq -c '[.object.error.code, (.object | has("backend"))]')" = \
	    '["GW_CIRCUIT_OPEN",false]' ]
	[ "$(code /healthz)" = 200 ]
}

@test "a reload that adds response rules makes gw-proxy ask about responses (hello sent again)" {
	write_rate_limit 100
	start_all
	"${CURL[@]}" -D "$T/h" -o /dev/null "http://127.0.0.1:$PORT/api/users"
	! grep -qi '^x-late' "$T/h"
	cat >>"$PFILE" <<'EOF'
on_http_response:
  - name: late
    actions:
      - type: add-headers
        config: {headers: {x-late: "yes"}}
EOF
	wait_for 10 has_audits policy_updated.v0 2
	"${CURL[@]}" -D "$T/h" -o /dev/null "http://127.0.0.1:$PORT/api/users"
	grep -qi '^x-late: yes' "$T/h" || fail "$(cat "$T/h")"
}

# ---- eval ---------------------------------------------------------------

@test "eval over the events of live traffic gives the same decisions" {
	cat >"$PFILE" <<'EOF'
on_http_request:
  - name: per-ip
    actions:
      - type: rate-limit
        config:
          name: per-ip
          algorithm: sliding_window
          capacity: 8
          rate: 60s
          bucket_key: [conn.client_ip]
  - name: admin
    expressions: ["req.url.path.startsWith('/admin')"]
    actions:
      - type: deny
  - name: tea
    expressions: ["getQueryParam('tea') == ['yes']"]
    actions:
      - type: custom-response
        config: {status_code: 418, body: tea}
  - name: tag
    actions:
      - type: add-headers
        config: {headers: {x-tag: "1"}}
EOF
	start_all
	local p
	for p in /api/users /admin /api/users?tea=yes /healthz /admin/x \
	    /api/users/1 /nope /api/users?tea=yes /api/users /api/users \
	    /admin /healthz; do
		code "$p" >/dev/null
	done
	wait_events http_request_complete.v0 13
	events_of http_request_complete.v0 >"$T/live.ndjson"
	# Not a JSON object: reported with its line number, skipped.
	echo 'garbage' >>"$T/live.ndjson"
	zstd -q "$T/live.ndjson" -o "$T/live.ndjson.zst"
	run --separate-stderr "$POLICY" eval "$PFILE" "$T/live.ndjson.zst"
	[ "$status" = 0 ] || fail "$stderr"
	[ "$(printf '%s\n' "$output" | wc -l)" = 13 ]
	[[ $stderr == *"live.ndjson.zst:14: not a JSON object"* ]] || fail "$stderr"
	[[ $stderr == *"rule \"per-ip\": 13 matched, 5 rate-limited (429)"* ]] ||
	    fail "$stderr"
	printf '%s\n' "$output" | jq -c '[
	    (.object.traffic_policy.action // "continue"),
	    (.object.traffic_policy.rules_matched // []),
	    (if .object.traffic_policy.action == "respond"
	        then .object.http.response.status_code else null end),
	    (.object.error.code // null)]' >"$T/live"
	printf '%s\n' "$output" | jq -c '[.policy_eval.action,
	    .policy_eval.rules_matched, .policy_eval.status,
	    .policy_eval.error_code]' >"$T/eval"
	diff "$T/live" "$T/eval" || fail "live and eval differ"
	grep -q '"respond",\["per-ip"\],429,"GW_RATE_LIMITED"' "$T/eval"
	grep -q '"respond",\["per-ip","admin"\],403,"GW_DENIED"' "$T/eval"
	grep -q '"respond",\["per-ip","tea"\],418,null' "$T/eval"
	grep -q '"continue",\["per-ip","tag"\],null,null' "$T/eval"
}

@test "circuit-breaker: an upstream that refuses connections trips it too (502s, then 503 GW_CIRCUIT_OPEN)" {
	cat >"$PFILE" <<'EOF2'
on_http_request:
  - name: breaker
    actions:
      - type: circuit-breaker
        config:
          error_threshold: 0.5
          volume_threshold: 4
          window_duration: 30s
          tripped_duration: 60s
EOF2
	start_policy
	# Nothing listens on this port: every connect is refused.
	down=$(free_port)
	start_proxy --upstream "http://127.0.0.1:$down" --policy "$SOCK"
	local i codes=""
	for i in 1 2 3 4; do
		codes+="$(code /api/users) "
	done
	[ "$codes" = "502 502 502 502 " ] || fail "$codes"
	wait_for 10 code_is /api/users 503 ||
	    fail "the breaker did not open"
	[ "$(last_exchange | jq -r .object.error.code)" = GW_CIRCUIT_OPEN ]
}

@test "on_tcp_connect log output lands in tcp_connection_closed.v0, the request's in its exchange" {
	cat >"$PFILE" <<'EOF2'
on_tcp_connect:
  - name: note-conn
    actions:
      - type: log
        config:
          metadata:
            ip: ${conn.client_ip}
on_http_request:
  - name: note-get
    expressions: ["req.method == 'GET'"]
    actions:
      - type: log
        config:
          metadata:
            message: get
EOF2
	start_all
	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/users/1"
	wait_events tcp_connection_closed.v0 2
	events_of tcp_connection_closed.v0 | tail -n1 |
	    jq -e '.object.traffic_policy.rules_matched == ["note-conn"] and
	        .object.traffic_policy.logs[0].metadata.ip == "127.0.0.1"'
	exchange_for /api/users/1 |
	    jq -e '.object.traffic_policy.rules_matched == ["note-get"]'
}

@test "compress-response: gzip, deflate, br and zstd streamed to the client; identity, HEAD, 204, no-transform and encoded bodies left alone" {
	cat >"$PFILE" <<'EOF2'
on_http_response:
  - name: squeeze
    expressions: ["req.url.path.startsWith('/api/')"]
    actions:
      - type: compress-response
EOF2
	start_all
	local url="http://127.0.0.1:$PORT/api/bytes?n=300000" enc want
	want=$("${CURL[@]}" -H 'Accept-Encoding: identity' "$url" | sha256sum)
	for enc in gzip deflate br zstd; do
		# Content-Length upstream, and chunked upstream.
		for q in "" "&chunked=1"; do
			"${CURL[@]}" -D "$T/h" -o "$T/raw" \
			    -H "Accept-Encoding: $enc" "$url$q"
			grep -qi "^content-encoding: $enc" "$T/h" ||
			    fail "$enc: $(cat "$T/h")"
			grep -qi '^vary: accept-encoding' "$T/h"
			! grep -qi '^content-length' "$T/h"
			[ "$(stat -c %s "$T/raw")" -lt 100000 ]
			[ "$("${CURL[@]}" --compressed -H "Accept-Encoding: $enc" \
			    "$url$q" | sha256sum)" = "$want" ] || fail "$enc$q"
		done
	done
	# HTTP/1.0: delimited by close, still whole.
	[ "$("${CURL[@]}" --http1.0 --compressed -H 'Accept-Encoding: gzip' \
	    "$url" | sha256sum)" = "$want" ]
	# Negotiation picks by q-value; identity gets the body as it is.
	"${CURL[@]}" -D "$T/h" -o /dev/null \
	    -H 'Accept-Encoding: gzip;q=0.5, zstd' "$url"
	grep -qi '^content-encoding: zstd' "$T/h"
	"${CURL[@]}" -D "$T/h" -o /dev/null "$url"
	! grep -qi '^content-encoding' "$T/h"
	grep -qi '^content-length: 300000' "$T/h"
	# HEAD and bodiless statuses are not touched.
	"${CURL[@]}" -I -H 'Accept-Encoding: gzip' "$url" >"$T/h"
	! grep -qi '^content-encoding' "$T/h"
	"${CURL[@]}" -D "$T/h" -o /dev/null -H 'Accept-Encoding: gzip' \
	    "http://127.0.0.1:$PORT/api/status/204"
	! grep -qi '^content-encoding' "$T/h"
	# no-transform forbids it; an encoded body is not encoded twice; a
	# strong ETag turns weak when the body is compressed.
	local h
	h=$(printf 'HTTP/1.1 200 OK\r\nCache-Control: no-transform\r\nContent-Length: 5\r\n\r\nhello' |
	    od -An -tx1 | tr -d ' \n')
	"${CURL[@]}" -D "$T/h" -o /dev/null -H 'Accept-Encoding: gzip' \
	    "http://127.0.0.1:$PORT/api/raw?hex=$h"
	! grep -qi '^content-encoding' "$T/h"
	h=$(printf 'HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 5\r\n\r\nhello' |
	    od -An -tx1 | tr -d ' \n')
	"${CURL[@]}" -D "$T/h" -o /dev/null -H 'Accept-Encoding: gzip' \
	    "http://127.0.0.1:$PORT/api/raw?hex=$h"
	grep -qi '^content-encoding: br' "$T/h"
	! grep -qi '^content-encoding: gzip' "$T/h"
	h=$(printf 'HTTP/1.1 200 OK\r\nETag: "v1"\r\nAccept-Ranges: bytes\r\nContent-Length: 5\r\n\r\nhello' |
	    od -An -tx1 | tr -d ' \n')
	"${CURL[@]}" -D "$T/h" -o /dev/null -H 'Accept-Encoding: gzip' \
	    "http://127.0.0.1:$PORT/api/raw?hex=$h"
	grep -qi '^etag: W/"v1"' "$T/h" || fail "$(cat "$T/h")"
	! grep -qi '^accept-ranges' "$T/h"
	# Keep-alive survives a compressed response: two on one connection.
	"${CURL[@]}" --compressed -H 'Accept-Encoding: gzip' -o "$T/1" "$url" \
	    -o "$T/2" "$url"
	[ "$(sha256sum <"$T/1")" = "$want" ]
	[ "$(sha256sum <"$T/2")" = "$want" ]
	wait_events http_request_complete.v0 15
}
