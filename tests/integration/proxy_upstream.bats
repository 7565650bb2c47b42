#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# gw-proxy against upstreams that misbehave, and against a reader of its
# events that does not keep up.  The misbehaving upstream is sample-api's
# /api/raw, which sends whatever bytes the test asks for instead of a
# response.

load helpers

setup() {
	common_setup
	start_api
	start_proxy --upstream "http://127.0.0.1:$API_PORT"
}

teardown() {
	common_teardown
}

# hex TEXT: TEXT (printf escapes) as hex, for /api/raw?hex=.
hex() {
	printf "$1" | od -An -tx1 | tr -d ' \n'
}

# raw_upstream RESPONSE: asks the proxy for /api/raw sending RESPONSE;
# sets CODE and BODY.
raw_upstream() {
	CODE=$(curl -sS --max-time 20 -o "$T/body" -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/api/raw?hex=$(hex "$1")" 2>/dev/null) || true
	BODY=$(cat "$T/body" 2>/dev/null)
}

@test "an upstream response with obs-fold is refused: 502 GW_UPSTREAM_BAD_RESPONSE" {
	raw_upstream 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n'
	[ "$CODE" = 502 ]
	[[ $BODY == *GW_UPSTREAM_BAD_RESPONSE* ]]
	wait_events http_request_complete.v0 1
	[ "$(last_exchange | jq -r .object.error.code)" = GW_UPSTREAM_BAD_RESPONSE ]
}

@test "an upstream response with bare LF line ends is refused: 502" {
	raw_upstream 'HTTP/1.1 200 OK\nContent-Length: 0\n\n'
	[ "$CODE" = 502 ]
}

@test "an upstream header with a space before the colon is refused: 502" {
	raw_upstream 'HTTP/1.1 200 OK\r\nX : y\r\nContent-Length: 0\r\n\r\n'
	[ "$CODE" = 502 ]
}

@test "an upstream response with Content-Length and chunked is refused: 502" {
	raw_upstream 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'
	[ "$CODE" = 502 ]
}

@test "garbage instead of a response: 502" {
	raw_upstream 'garbage\r\n\r\n'
	[ "$CODE" = 502 ]
	[[ $BODY == *GW_UPSTREAM_BAD_RESPONSE* ]]
}

@test "an upstream that closes mid-body: the client connection is cut and the event says GW_UPSTREAM_RESET" {
	raw_upstream 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'
	[ "$CODE" = 200 ]
	[ "$BODY" = abc ]
	wait_events http_request_complete.v0 1
	[ "$(last_exchange | jq -r .object.error.code)" = GW_UPSTREAM_RESET ]
	ok_after
}

@test "a close-delimited upstream body reaches the client whole, chunked" {
	raw_upstream 'HTTP/1.1 200 OK\r\n\r\nclose-delimited body'
	[ "$CODE" = 200 ]
	[ "$BODY" = "close-delimited body" ]
	out=$(raw "$PORT" "GET /api/raw?hex=$(hex 'HTTP/1.1 200 OK\r\n\r\nxyz') HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	[[ $out == *"Transfer-Encoding: chunked"* ]]
}

@test "an interim 103 from the upstream is skipped, the final response relayed" {
	raw_upstream 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
	[ "$CODE" = 200 ]
	[ "$BODY" = ok ]
}

@test "a reader that stops reading events never stalls traffic: events are dropped, counted and reported" {
	common_teardown
	: >"$T/pids"
	start_api
	port=$(free_port)
	# The events go to a pipe whose reader never reads.
	mkfifo "$T/fifo"
	sleep 120 <"$T/fifo" 3>&- &
	track $!
	"$PROXY" --listen "127.0.0.1:$port" \
	    --upstream "http://127.0.0.1:$API_PORT" --full-capture \
	    --event-queue 64KiB --stats-interval 1s \
	    >"$T/fifo" 2>"$T/err" 3>&- &
	pid=$!
	track "$pid"
	wait_for 10 listening "$port" "$pid"
	# A pipe holds 64 KiB and the queue 64 KiB: 600 full-capture events
	# are far more than both.
	for i in $(seq 1 600); do
		echo "url = \"http://127.0.0.1:$port/api/users\""
		echo "output = /dev/null"
	done >"$T/curl.cfg"
	curl -sS --max-time 60 --parallel --parallel-max 8 -K "$T/curl.cfg" \
	    -w '%{http_code}\n' >"$T/codes"
	[ "$(grep -c '^200$' "$T/codes")" -eq 600 ]
	wait_for 10 grep -q 'events dropped so far' "$T/err"
	wait_for 10 grep -qE 'stats: .*events_dropped=[1-9]' "$T/err"
	alive "$pid"
}

@test "an upstream that never completes the connect: 502 GW_UPSTREAM_CONNECT_TIMEOUT after --connect-timeout" {
	common_teardown
	: >"$T/pids"
	"$API" --listen 127.0.0.1:0 --no-accept >"$T/stuck.out" 2>&1 3>&- &
	track $!
	wait_for 10 grep -q 'listening on' "$T/stuck.out"
	stuck=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$T/stuck.out")
	# Fill the listen queue so that the next connect hangs: a few
	# holders get in, the rest wait in SYN-SENT like the proxy will.
	for i in 1 2 3 4; do
		bash -c "exec 9<>/dev/tcp/127.0.0.1/$stuck; sleep 30" \
		    >/dev/null 2>&1 3>&- &
		track $!
	done
	wait_for 10 upstream_busy "$stuck"
	start_proxy --upstream "http://127.0.0.1:$stuck" --connect-timeout 1s
	code=$(curl -sS --max-time 30 -o "$T/b" -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/healthz")
	[ "$code" = 502 ] || fail "got $code: $(cat "$T/b")"
	grep -q GW_UPSTREAM_CONNECT_TIMEOUT "$T/b"
	wait_events http_request_complete.v0 1
	[ "$(last_exchange | jq -r .object.error.code)" = GW_UPSTREAM_CONNECT_TIMEOUT ]
	grep -q 'connect timed out' "$ERR"
}
