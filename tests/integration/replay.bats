#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# gw-replay end to end, on the real pipeline: sample-api behind gw-proxy
# with full capture (and gw-policy where the policy matters), events
# through a FIFO into gw-capture's store, gw-replay reading that store.
# What a replay did is checked where a user would look: the row gw-replay
# prints, its exit status, the event gw-proxy stored for the replay
# (replay_of), and what the upstream received (sample-api's echo reports
# method, path, query, headers and the SHA-256 of the body).

load helpers

bats_require_minimum_version 1.5.0

setup() {
	common_setup
	CAP=$BIN_DIR/gw-capture
	REPLAY=$BIN_DIR/gw-replay
	POLICY=$BIN_DIR/gw-policy
	for b in "$CAP" "$REPLAY" "$POLICY"; do
		[ -x "$b" ] || fail "$b is missing: run make all"
	done
	STORE=$T/store
	CURL=(curl -sS --max-time 20)
}

teardown() {
	common_teardown
}

# start_capture: gw-capture reading $T/ev.fifo into $STORE.
start_capture() {
	mkfifo "$T/ev.fifo"
	"$CAP" --store "$STORE" <"$T/ev.fifo" >"$T/tee.ndjson" \
	    2>"$T/capture.err" 3>&- &
	track $!
}

# start_pipeline [PROXY ARGS...]: sample-api, gw-capture, and gw-proxy
# with full capture writing its events to gw-capture.
start_pipeline() {
	start_api
	UPSTREAM_PORT=$API_PORT
	start_capture
	start_proxy --upstream "http://127.0.0.1:$API_PORT" \
	    --events "$T/ev.fifo" --full-capture "$@"
}

# stored [QUERY...]: how many exchanges the store has that match.
stored() {
	"$CAP" list --store "$STORE" --limit 0 --format ndjson "$@" | wc -l
}

has_stored() {
	[ "$(stored "${@:2}")" -ge "$1" ]
}

# wait_stored N [QUERY...]
wait_stored() {
	wait_for 10 has_stored "$@" ||
	    fail "expected $1 stored events for '${*:2}', got $(stored "${@:2}")"
}

# id_of [QUERY...]: the id of the newest stored exchange that matches.
id_of() {
	"$CAP" list --store "$STORE" --limit 1 --format ndjson "$@" |
	    jq -r .event_id
}

# replay ID [ARGS...]: runs gw-replay on the store ("run", stderr
# apart), then waits for the event gw-proxy stored for this replay and
# puts it in $T/replayed.json.
replay() {
	local id=$1 before
	shift
	before=$(stored "@replay_of:$id")
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" "$@"
	wait_stored $((before + 1)) "@replay_of:$id"
	"$CAP" list --store "$STORE" --limit 1 --format ndjson \
	    "@replay_of:$id" >"$T/replayed.json"
}

# echoed FILTER: jq FILTER over what the upstream reported receiving in
# the last replay (sample-api's echo, from the stored response body).
echoed() {
	jq -r ".object.http.response.body | fromjson | $1" "$T/replayed.json"
}

# ---- the seed scenario -------------------------------------------------

write_policy() {
	cat >"$T/policy.yml" <<EOF
on_http_request:
  - name: per-ip
    expressions: ["req.url.path.startsWith('/api/')"]
    actions:
      - type: rate-limit
        config:
          name: per-ip
          algorithm: sliding_window
          capacity: $1
          rate: 60s
          bucket_key: [conn.client_ip]
EOF
}

audits() {
	jq -c 'select(.event_type == "policy_updated.v0")' "$T/audit.ndjson" |
	    wc -l
}

has_audits() {
	[ "$(audits)" -ge "$1" ]
}

answered() {
	local code
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/healthz") || return 1
	[ "$code" = 200 ]
}

@test "seed: a 429 replayed after raising the rate limit passes, and the new event links to the original" {
	write_policy 3
	"$POLICY" serve "$T/policy.yml" --socket "$T/p.sock" \
	    >"$T/audit.ndjson" 2>"$T/policy.err" 3>&- &
	local ppid=$!
	track "$ppid"
	wait_for 10 test -S "$T/p.sock" || fail "$(cat "$T/policy.err")"
	start_pipeline --policy "$T/p.sock"
	wait_for 10 answered || fail "gw-proxy never got gw-policy's answer"
	local codes="" i id
	for i in 1 2 3 4 5 6; do
		codes+="$("${CURL[@]}" -o /dev/null -w '%{http_code}' \
		    "http://127.0.0.1:$PORT/api/echo") "
	done
	[ "$codes" = "200 200 200 429 429 429 " ] || fail "statuses: $codes"
	# POSTs limited too: a small body is read (and captured) before the
	# answer; one over the capture limit is not.
	"${CURL[@]}" -o /dev/null -X POST --data-binary 'hello' \
	    "http://127.0.0.1:$PORT/api/echo"
	head -c 20000 /dev/zero | tr '\0' x >"$T/big"
	"${CURL[@]}" -o /dev/null -X PUT -H 'Expect:' --data-binary @"$T/big" \
	    "http://127.0.0.1:$PORT/api/echo"
	wait_stored 5 '@http.response.status_code:429'
	post=$(id_of '@http.response.status_code:429 @http.method:POST')
	put=$(id_of '@http.response.status_code:429 @http.method:PUT')
	id=$(id_of '@http.response.status_code:429 @http.method:GET')

	# Under the old policy the replay is limited too: for cron that is
	# a failure when 2xx is expected.
	run --separate-stderr "$REPLAY" --store "$STORE" --expect 2xx "$id"
	[ "$status" = 1 ] || fail "status $status: $output $stderr"
	[[ $output =~ ^$id\ +GET\ +429\ +429\ .*/api/echo ]] || fail "$output"
	[[ $stderr == *"0 as expected (--expect 2xx), 1 not"* ]] || fail "$stderr"

	# Raise the capacity; gw-policy takes it on SIGHUP (or on its own).
	write_policy 100
	kill -HUP "$ppid"
	wait_for 10 has_audits 2 || fail "no reload: $(cat "$T/policy.err")"
	replay "$id" --expect 2xx --diff
	[ "$status" = 0 ] || fail "status $status: $output $stderr"
	[[ ${lines[0]} =~ ^$id\ +GET\ +429\ +200\ .*/api/echo ]] ||
	    fail "$output"
	[[ $output == *"-429 Too Many Requests"* ]] || fail "$output"
	[[ $output == *"+200 OK"* ]] || fail "$output"
	[[ $stderr == *"1 as expected (--expect 2xx), 0 not"* ]] || fail "$stderr"

	# The replays are in the store, linked to the original.
	"$CAP" list --store "$STORE" '@replay_of:*' --format ndjson >"$T/r"
	[ "$(wc -l <"$T/r")" = 2 ] || fail "$(cat "$T/r")"
	jq -e --arg id "$id" '.object.replay_of == $id' "$T/r" >/dev/null
	jq -e --arg id "$id" \
	    '.object.http.request.headers["Gw-Replay-Original-Request-Id"] == [$id]' \
	    "$T/r" >/dev/null
	jq -e '.object.http.response.status_code == 200' "$T/replayed.json"
	# The original Host and the proxy's own forwarding headers.
	[ "$(echoed '.headers.host')" = "127.0.0.1:$PORT" ]
	[ "$(echoed '.headers["x-forwarded-for"]')" = 127.0.0.1 ]

	# The limited POST goes again with its body.
	replay "$post" --expect 2xx
	[ "$status" = 0 ] || fail "status $status: $output $stderr"
	[ "$(echoed .sha256)" = "$(printf hello | sha256sum | cut -d' ' -f1)" ] ||
	    fail "$(cat "$T/replayed.json" 2>/dev/null) $output"
	# gw answered the PUT without reading its body: it cannot be sent
	# again as it was, but --data gives one.
	run --separate-stderr "$REPLAY" --store "$STORE" "$put"
	[ "$status" = 65 ] || fail "status $status: $output $stderr"
	[[ $stderr == *"its body was not received whole (0 bytes of 20000 declared)"* ]] ||
	    fail "$stderr"
	replay "$put" --data @"$T/big" --expect 2xx
	[ "$status" = 0 ] || fail "status $status: $output $stderr"
	[ "$(echoed .sha256)" = "$(sha256sum <"$T/big" | cut -d' ' -f1)" ] ||
	    fail "$(cat "$T/replayed.json" 2>/dev/null) $output"
}

# ---- bodies ------------------------------------------------------------

@test "a captured POST with a binary body is replayed byte for byte" {
	start_pipeline
	head -c 3000 /dev/urandom >"$T/body"
	printf '\0\377\r\n' >>"$T/body"
	"${CURL[@]}" -o /dev/null -H 'Content-Type: application/octet-stream' \
	    --data-binary @"$T/body" "http://127.0.0.1:$PORT/api/echo?bin=1"
	wait_stored 1 '@http.method:POST'
	local id
	id=$(id_of '@http.method:POST')
	"$CAP" show --store "$STORE" "$id" --format json |
	    jq -e '.object.http.request.body_encoding == "base64"' >/dev/null
	replay "$id" --format ndjson
	[ "$status" = 0 ] || fail "$stderr"
	jq -e --arg id "$id" '.id == $id and .method == "POST" and
	    .status == 200 and .original_status == 200 and .expected and
	    .error == null and .refused == false and
	    .path == "/api/echo?bin=1" and (.duration_ms | type) == "number"' \
	    <<<"$output" >/dev/null || fail "$output"
	[ "$(echoed .sha256)" = "$(sha256sum <"$T/body" | cut -d' ' -f1)" ]
	[ "$(echoed .length)" = 3004 ]
	[ "$(echoed '.headers["content-type"]')" = application/octet-stream ]
}

@test "a truncated or uncaptured body is refused with the reason; --allow-truncated sends what there is" {
	start_pipeline --body-limit 4K
	head -c 6000 /dev/zero | tr '\0' x >"$T/big"
	"${CURL[@]}" -o /dev/null --data-binary @"$T/big" \
	    "http://127.0.0.1:$PORT/api/echo"
	wait_stored 1
	local id
	id=$(id_of)
	run --separate-stderr "$REPLAY" --store "$STORE" "$id"
	[ "$status" = 65 ] || fail "$status $output $stderr"
	[[ $stderr == *"$id: not replayed: its body was truncated at capture: 4096 of 6000 bytes"* ]] ||
	    fail "$stderr"
	[[ $output == *"refused: "* ]] || fail "$output"
	replay "$id" --allow-truncated
	[ "$status" = 0 ] || fail "$stderr"
	[[ $output == *"sent incomplete (--allow-truncated)"* ]] || fail "$output"
	[ "$(echoed .length)" = 4096 ]
	# A body given with --data needs nothing from the capture.
	replay "$id" --data whole
	[ "$status" = 0 ] || fail "$stderr"
	[ "$(echoed .sha256)" = "$(printf whole | sha256sum | cut -d' ' -f1)" ]

	# Captured without full capture: no headers, no body.
	"$CAP" show --store "$STORE" "$id" --format json |
	    jq -c 'del(.object.http.request.headers, .object.http.request.body,
	        .object.http.request.body_encoding, .object.http.request.body_truncated)' \
	    >"$T/meta.ndjson"
	"$CAP" import --store "$T/store2" "$T/meta.ndjson"
	run --separate-stderr "$REPLAY" --store "$T/store2" "$id"
	[ "$status" = 65 ] || fail "$status $output $stderr"
	[[ $stderr == *"captured without full capture"* ]] || fail "$stderr"
}

# ---- edits ---------------------------------------------------------------

@test "every edit flag: -X, --path, --set-query, --remove-query, -H, --header-file, --remove-header, --data" {
	start_pipeline
	"${CURL[@]}" -o /dev/null -H 'X-Keep: k' -H 'X-Drop: d' \
	    -H 'Content-Type: text/plain' -H 'Connection: X-Hop' -H 'X-Hop: h' \
	    -H 'X-Forwarded-For: 203.0.113.9' -H 'Proxy-Foo: p' \
	    --data-binary original "http://127.0.0.1:$PORT/api/echo?a=1&b=2&b=3"
	wait_stored 1
	local id
	id=$(id_of)

	# As captured: only what belongs to the old connection is left out.
	replay "$id"
	[ "$status" = 0 ] || fail "$stderr"
	[ "$(echoed .method)" = POST ]
	[ "$(echoed .query)" = 'a=1&b=2&b=3' ]
	[ "$(echoed '.headers["x-keep"]')" = k ]
	[ "$(echoed '.headers["x-hop"]')" = null ]
	[ "$(echoed '.headers["proxy-foo"]')" = null ]
	# The proxy recomputes the chain: the client's claim is gone.
	[ "$(echoed '.headers["x-forwarded-for"]')" = 127.0.0.1 ]
	[ "$(echoed .sha256)" = "$(printf original | sha256sum | cut -d' ' -f1)" ]

	printf 'X-From-File: f1\n# a comment\n\nX-Keep: from-file\n' >"$T/hdrs"
	printf 'file body\0\001' >"$T/data"
	replay "$id" -X PUT --path /api/echo --set-query 'b=new value' \
	    --set-query c=3 --remove-query a -H 'X-Added: yes' \
	    --header-file "$T/hdrs" -H 'X-Keep: k2' --remove-header X-Drop \
	    --data @"$T/data"
	[ "$status" = 0 ] || fail "$stderr"
	[[ $output =~ ^$id\ +PUT\ +200\ +200\ .*/api/echo\?b=new%20value\&c=3 ]] ||
	    fail "$output"
	[ "$(echoed .method)" = PUT ]
	[ "$(echoed .path)" = /api/echo ]
	[ "$(echoed .query)" = 'b=new%20value&c=3' ]
	[ "$(echoed '.headers["x-added"]')" = yes ]
	[ "$(echoed '.headers["x-from-file"]')" = f1 ]
	[ "$(echoed '.headers["x-keep"]')" = k2 ]
	[ "$(echoed '.headers["x-drop"]')" = null ]
	[ "$(echoed '.headers["content-type"]')" = text/plain ]
	[ "$(echoed .length)" = 11 ]
	[ "$(echoed .sha256)" = "$(sha256sum <"$T/data" | cut -d' ' -f1)" ]

	# A query in --path replaces the captured one.
	replay "$id" --path '/api/echo?z=9'
	[ "$(echoed .query)" = z=9 ]

	# Bad edits are usage errors, before anything is sent.
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" -H 'no colon'
	[ "$status" = 64 ] && [[ $stderr == *"-H 'no colon'"* ]] || fail "$stderr"
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" --path 'x y'
	[ "$status" = 64 ] || fail "$stderr"
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" \
	    -H 'Content-Length: 5'
	[ "$status" = 64 ] || fail "$stderr"
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" \
	    --header-file "$T/missing"
	[ "$status" = 66 ] || fail "$stderr"
	printf 'Good: 1\nbad line\n' >"$T/badhdrs"
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" \
	    --header-file "$T/badhdrs"
	[ "$status" = 65 ] && [[ $stderr == *"$T/badhdrs:2:"* ]] || fail "$stderr"
}

@test "--target sends to a second upstream, with its own Host and a path prefix" {
	start_pipeline
	"${CURL[@]}" -o /dev/null --data-binary 'to qa' \
	    "http://127.0.0.1:$PORT/api/echo?q=1"
	wait_stored 1
	local id qa
	id=$(id_of)
	start_api qa
	qa=$API_PORT
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" \
	    --target "http://127.0.0.1:$qa" --diff
	[ "$status" = 0 ] || fail "$stderr"
	# The new body is the second API's echo: straight from gw-replay.
	local body
	body=$(grep '^+{' <<<"$output" | cut -c2-)
	jq -e --arg h "127.0.0.1:$qa" '.headers.host == $h and
	    (.headers | has("x-forwarded-for") | not) and .query == "q=1"' \
	    <<<"$body" >/dev/null || fail "$body"
	# A prefix in --target goes before the path.
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" \
	    --target "http://127.0.0.1:$qa/api/" --path /echo --diff
	[ "$status" = 0 ] || fail "$stderr"
	body=$(grep '^+{' <<<"$output" | cut -c2-)
	jq -e '.path == "/api/echo"' <<<"$body" >/dev/null || fail "$body"
}

# ---- redacted headers --------------------------------------------------

@test "redacted headers are never sent as [REDACTED]: dropped with a warning, or taken from -H and --header-file" {
	start_pipeline
	"${CURL[@]}" -o /dev/null -H 'Authorization: Bearer s3cret' \
	    -H 'Cookie: session=abc' "http://127.0.0.1:$PORT/api/echo"
	wait_stored 1
	local id
	id=$(id_of)
	"$CAP" show --store "$STORE" "$id" --format json |
	    jq -e '.object.http.request.headers.Authorization == ["[REDACTED]"]' \
	    >/dev/null

	replay "$id"
	[ "$status" = 0 ] || fail "$stderr"
	[[ $stderr == *"warning: $id: Authorization was redacted in the capture and is not sent"* ]] ||
	    fail "$stderr"
	[[ $stderr == *"Cookie was redacted"* ]] || fail "$stderr"
	[[ $output == *"redacted, not sent: Authorization, Cookie"* ]] ||
	    fail "$output"
	[ "$(echoed '.headers.authorization')" = null ]
	[ "$(echoed '.headers.cookie')" = null ]
	! jq -r .object.http.response.body "$T/replayed.json" | grep -q REDACTED

	printf 'Cookie: session=from-file\n' >"$T/secrets"
	replay "$id" -H 'Authorization: Bearer real' --header-file "$T/secrets"
	[ "$status" = 0 ] || fail "$stderr"
	[[ $stderr != *"warning"* ]] || fail "$stderr"
	[ "$(echoed '.headers.authorization')" = 'Bearer real' ]
	[ "$(echoed '.headers.cookie')" = session=from-file ]

	# Said not wanted: no warning either.
	replay "$id" --remove-header Authorization --remove-header cookie \
	    --format ndjson
	[ "$status" = 0 ] || fail "$stderr"
	[[ $stderr != *"warning"* ]] || fail "$stderr"
	jq -e '.dropped_headers == []' <<<"$output" >/dev/null || fail "$output"
	[ "$(echoed '.headers.authorization')" = null ]
}

# ---- batches -------------------------------------------------------------

@test "batch: --query over the store with --rate and --concurrency, --limit, replays left out, --expect decides the exit status" {
	start_pipeline
	local i
	for i in 1 2 3 4 5 6 7 8; do
		"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/users/$i"
	done
	wait_stored 8 '@http.url_details.path:/api/users/*'
	local q='@http.url_details.path:/api/users/*' t0 t1
	t0=$(date +%s%N)
	run --separate-stderr "$REPLAY" --store "$STORE" --query "$q" \
	    --rate 20/s --concurrency 2
	t1=$(date +%s%N)
	[ "$status" = 0 ] || fail "$output $stderr"
	[ "${#lines[@]}" = 8 ] || fail "$output"
	[[ $stderr == *"8 replayed: 8 as expected (--expect !5xx)"* ]] ||
	    fail "$stderr"
	# Eight starts 50 ms apart take 350 ms at least (a loose bound).
	[ $(((t1 - t0) / 1000000)) -ge 300 ] || fail "$(((t1 - t0) / 1000000)) ms"
	# Users 4 to 8 do not exist: 404s miss --expect 2xx.
	run --separate-stderr "$REPLAY" --store "$STORE" --query "$q" \
	    --expect 2xx -c 8
	[ "$status" = 1 ] || fail "$output $stderr"
	[[ $stderr == *"3 as expected (--expect 2xx), 5 not"* ]] || fail "$stderr"
	[ "$(grep -c 'not --expect 2xx' <<<"$output")" = 5 ] || fail "$output"
	# The replays are stored too, but a batch leaves them out.
	wait_stored 24 "$q"
	run --separate-stderr "$REPLAY" --store "$STORE" --query "$q" \
	    --limit 3 --format ndjson
	[ "$status" = 0 ] || fail "$stderr"
	[ "${#lines[@]}" = 3 ] || fail "$output"
	# Newest first, as gw-capture list shows them.
	[ "$(jq -r .path <<<"${lines[0]}")" = /api/users/8 ] || fail "$output"
	wait_stored 27 "$q"
	run --separate-stderr "$REPLAY" --store "$STORE" --query "$q" \
	    --include-replays --since 1h --format ndjson
	[ "$status" = 0 ] || fail "$stderr"
	[ "${#lines[@]}" = 27 ] || fail "${#lines[@]} rows"
	# Nothing in the future.
	run --separate-stderr "$REPLAY" --store "$STORE" --query "$q" \
	    --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
	[ "$status" = 0 ] && [ -z "$output" ] || fail "$output"
}

@test "events on stdin: gw-capture list --format ndjson | gw-replay -" {
	start_pipeline
	local i
	for i in 1 2 3; do
		"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/users/$i"
	done
	wait_stored 3
	"$CAP" list --store "$STORE" --format ndjson >"$T/ev.ndjson"
	run --separate-stderr "$REPLAY" - <"$T/ev.ndjson"
	[ "$status" = 0 ] || fail "$stderr"
	[ "${#lines[@]}" = 3 ] || fail "$output"
	# Through a pipe, mixed with events that are not requests and a line
	# that is no event at all.
	run --separate-stderr bash -c "{ echo 'not json'; \"$CAP\" list \
	    --store '$STORE' --type all --format ndjson; } | \"$REPLAY\" -"
	[ "$status" = 65 ] || fail "$status $output $stderr"
	[[ $stderr == *"(stdin):1: not a JSON object; skipped"* ]] ||
	    fail "$stderr"
	[ "$(grep -c ' 200 ' <<<"$output")" -ge 3 ] || fail "$output"
	run "$REPLAY" - --query x </dev/null
	[ "$status" = 64 ]
}

# ---- exit codes and failures ------------------------------------------

@test "exit codes: no such request 65, usage and query syntax 64, unreachable and timeouts 1 while the batch goes on" {
	start_pipeline
	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/users"
	wait_stored 1
	local id dead
	id=$(id_of)
	run --separate-stderr "$REPLAY" --store "$STORE" \
	    ev_0000000000000000000000000000 "$id"
	[ "$status" = 65 ] || fail "$status"
	[[ $stderr == *"error: no such request: ev_0000000000000000000000000000"* ]] ||
	    fail "$stderr"
	[[ $output == *"$id "*" 200 "* ]] || fail "$output"
	run --separate-stderr "$REPLAY" --store "$STORE" \
	    --query '@http.status_code:[1 TO'
	[ "$status" = 64 ] && [[ $stderr == *"query:1:"* ]] || fail "$stderr"
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" --query 'a=1'
	[ "$status" = 64 ] && [[ $stderr == *"--set-query NAME=VALUE"* ]] ||
	    fail "$stderr"
	run --separate-stderr "$REPLAY" --store "$STORE"
	[ "$status" = 64 ] || fail "$stderr"
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" --bogus
	[ "$status" = 64 ] || fail "$stderr"
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" --rate fast
	[ "$status" = 64 ] || fail "$stderr"
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" --expect 2xy
	[ "$status" = 64 ] || fail "$stderr"
	run --separate-stderr "$REPLAY" --store "$T/nostore" "$id"
	[ "$status" = 74 ] || fail "$status $stderr"
	run "$REPLAY" --store "$STORE" "$id" --expect same
	[ "$status" = 0 ] || fail "$output"
	run "$REPLAY" --store "$STORE" "$id" --expect 5xx
	[ "$status" = 1 ] || fail "$output"

	dead=$(free_port)
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" \
	    --target "http://127.0.0.1:$dead"
	[ "$status" = 1 ] || fail "$status $output"
	[[ $output == *"error: "* ]] || fail "$output"
	[[ $stderr == *"1 failed to get an answer"* ]] || fail "$stderr"
	run --separate-stderr "$REPLAY" --store "$STORE" "$id" \
	    --target "http://127.0.0.1:$UPSTREAM_PORT" \
	    --path '/api/slow?ms=5000' --timeout 300ms
	[ "$status" = 1 ] || fail "$status $output"
	[[ $output == *"timed out"* ]] || fail "$output"

	# One replay fails, the next still goes.
	"$CAP" list --store "$STORE" --format ndjson --limit 1 >"$T/good"
	jq -c --argjson p "$dead" '.object.conn.server_port = $p' "$T/good" \
	    >"$T/both"
	cat "$T/good" >>"$T/both"
	run --separate-stderr "$REPLAY" - --format ndjson <"$T/both"
	[ "$status" = 1 ] || fail "$status $output $stderr"
	[ "${#lines[@]}" = 2 ] || fail "$output"
	jq -s -e 'map(select(.error != null and .status == null)) | length == 1' \
	    <<<"$output" >/dev/null || fail "$output"
	jq -s -e 'map(select(.status == 200)) | length == 1' <<<"$output" \
	    >/dev/null || fail "$output"
}

# ---- TLS ---------------------------------------------------------------

@test "https: connects to the recorded address and verifies the original host name" {
	make_ca
	make_cert api.test DNS:api.test
	start_api
	start_capture
	start_proxy --https --upstream "http://127.0.0.1:$API_PORT" \
	    --tls-cert "$T/api.test.pem" --tls-key "$T/api.test.key" \
	    --events "$T/ev.fifo" --full-capture
	"${CURL[@]}" -o /dev/null --cacert "$T/ca.pem" \
	    --resolve "api.test:$PORT:127.0.0.1" "https://api.test:$PORT/api/echo"
	wait_stored 1
	local id
	id=$(id_of)
	# Our CA is not the system's: verification fails, as it should.
	run --separate-stderr "$REPLAY" --store "$STORE" "$id"
	[ "$status" = 1 ] || fail "$status $output"
	replay "$id" --cacert "$T/ca.pem"
	[ "$status" = 0 ] || fail "$output $stderr"
	[ "$(echoed .headers.host)" = "api.test:$PORT" ]
	[ "$(echoed '.headers["x-forwarded-proto"]')" = https ]
	replay "$id" -k
	[ "$status" = 0 ] || fail "$output $stderr"
}
