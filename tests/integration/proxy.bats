#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# gw-proxy end to end: the real binary between curl (or raw bytes sent
# over bash's /dev/tcp) and bin/sample-api, on loopback ports picked per
# test.  Each test checks what a user relies on: the bytes on the wire,
# the status, the event on stdout, the exit code, the line on stderr.
# Helpers (ports, start/stop, raw HTTP, jq selections) are in
# helpers.bash; teardown stops every process a test started.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

CURL=(curl -sS --max-time 30)

# A proxy in front of one sample-api, the common case.
proxy_with_api() {
	start_api
	start_proxy --upstream "http://127.0.0.1:$API_PORT" "$@"
}

# The response head of TEXT (up to the blank line), CRs removed.
head_of() {
	printf '%s\n' "$1" | tr -d '\r' | sed '/^$/q'
}

# The line after each blank line of the raw TEXT: for bodiless responses
# on one connection, the next status line, so stray bytes show.
after_blank_lines() {
	printf '%s\n' "$1" | tr -d '\r' |
	    awk 'NR > 1 && prev == "" { print } { prev = $0 }'
}

# The status codes of every response in the raw TEXT, in order (a status
# line may follow the previous body on the same text line).
statuses_of() {
	printf '%s\n' "$1" | grep -oE 'HTTP/1\.[01] [0-9]{3} ' |
	    cut -d' ' -f2 | paste -sd' '
}

# expect_rejection STATUS CODE REQUEST [SECS]: REQUEST (printf %b) on a
# new connection gets STATUS with a JSON body naming CODE, the proxy
# closes the connection, one event says STATUS and CODE, and a normal
# request on a new connection still works afterwards.
expect_rejection() {
	local status=$1 code=$2 req=$3 secs=${4:-10} out rc=0 ev n
	n=$(count_events http_request_complete.v0)
	# The proxy closes the connection cleanly (EOF, not a reset that
	# could discard its answer before the client reads it, even when
	# the client had sent more than the proxy read).
	out=$(raw "$PORT" "$req" "$secs" 2>"$T/raw.err") || rc=$?
	[ "$rc" -eq 0 ] ||
	    fail "connection not closed cleanly after the rejection" \
	        "(rc $rc: $(cat "$T/raw.err")): $out" || return 1
	[ "$(status_of "$out")" = "$status" ] ||
	    fail "expected $status, got: $out" || return 1
	[[ $out == *"\"code\":\"$code\""* ]] ||
	    fail "response body does not name $code: $out" || return 1
	wait_events http_request_complete.v0 $((n + 1)) || return 1
	ev=$(events_of http_request_complete.v0 | sed -n "$((n + 1))p")
	[ "$(jq -r .object.http.response.status_code <<<"$ev")" = "$status" ] ||
	    fail "event status: $ev" || return 1
	[ "$(jq -r .object.error.code <<<"$ev")" = "$code" ] ||
	    fail "event error.code: $ev" || return 1
	ok_after
}

# ---- forwarding -------------------------------------------------------

@test "GET through the proxy: upstream sees X-Forwarded-For/-Proto/-Host and Via, client sees Via" {
	proxy_with_api
	"${CURL[@]}" -D "$T/h" -o "$T/b" \
	    -H 'X-Forwarded-For: 198.51.100.7' \
	    "http://127.0.0.1:$PORT/api/echo?x=1"
	grep -q '^HTTP/1.1 200' "$T/h"
	grep -qi '^Via: .*1\.1 gw' "$T/h"
	jq -e '.method == "GET" and .path == "/api/echo" and .query == "x=1"' "$T/b"
	jq -e '.headers["x-forwarded-for"] == "198.51.100.7, 127.0.0.1"' "$T/b"
	jq -e '.headers["x-forwarded-proto"] == "http"' "$T/b"
	jq -e --arg h "127.0.0.1:$PORT" '.headers["x-forwarded-host"] == $h' "$T/b"
	jq -e --arg h "127.0.0.1:$PORT" '.headers.host == $h' "$T/b"
	jq -e '.headers.via | test("1\\.1 gw")' "$T/b"
	wait_events http_request_complete.v0 1
}

@test "keep-alive on the client side: two requests, one connection, one tcp_connection_closed" {
	proxy_with_api
	"${CURL[@]}" -o /dev/null -o /dev/null \
	    "http://127.0.0.1:$PORT/healthz" "http://127.0.0.1:$PORT/api/users"
	wait_events tcp_connection_closed.v0 1
	wait_events http_request_complete.v0 2
	[ "$(count_events http_request_complete.v0)" -eq 2 ]
	[ "$(count_events tcp_connection_closed.v0)" -eq 1 ]
	# Both exchanges came over the connection that closed.
	port=$(events_of tcp_connection_closed.v0 | jq -r .object.conn.client_port)
	[ "$(events_of http_request_complete.v0 | jq -r .object.conn.client_port | sort -u)" = "$port" ]
}

@test "keep-alive on the upstream side: the second exchange reuses the upstream connection" {
	proxy_with_api
	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/healthz"
	wait_events http_request_complete.v0 1
	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/users"
	wait_events http_request_complete.v0 2
	events_of http_request_complete.v0 | sed -n 1p |
	    jq -e '.object.backend.connection_reused == false'
	events_of http_request_complete.v0 | sed -n 2p |
	    jq -e '.object.backend.connection_reused == true and .object.backend.connect_ns == 0'
}

@test "pipelined requests on one connection are answered in order" {
	proxy_with_api
	out=$(raw "$PORT" "GET /api/users/1 HTTP/1.1\r\nHost: t\r\nX-Request-Id: one\r\n\r\nGET /api/echo?n=2 HTTP/1.1\r\nHost: t\r\nX-Request-Id: two\r\n\r\nGET /api/users/2 HTTP/1.1\r\nHost: t\r\nX-Request-Id: three\r\nConnection: close\r\n\r\n")
	[ "$(statuses_of "$out")" = "200 200 200" ]
	ids=$(printf '%s\n' "$out" | tr -d '\r' |
	    sed -n 's/^X-Request-Id: //p' | paste -sd' ')
	[ "$ids" = "one two three" ]
	# The bodies follow the same order.
	bodies=$(printf '%s\n' "$out" | grep -o '"id":[12],\|"query":"n=2"' | paste -sd' ')
	[ "$bodies" = '"id":1, "query":"n=2" "id":2,' ]
	wait_events tcp_connection_closed.v0 1
	[ "$(count_events http_request_complete.v0)" -eq 3 ]
}

@test "chunked upload: the upstream receives every byte" {
	proxy_with_api
	head -c 300001 /dev/urandom >"$T/up"
	sum=$(sha256sum <"$T/up" | cut -d' ' -f1)
	"${CURL[@]}" -T - -H 'Transfer-Encoding: chunked' -o "$T/b" \
	    "http://127.0.0.1:$PORT/api/echo" <"$T/up"
	jq -e --arg s "$sum" '.method == "PUT" and .length == 300001 and .sha256 == $s' "$T/b"
	wait_events http_request_complete.v0 1
	last_exchange | jq -e '.object.http.request.body_length == 300001'
}

@test "chunked download: /api/chunked and /api/bytes?chunked=1 arrive whole" {
	proxy_with_api
	"${CURL[@]}" -D "$T/h1" -o "$T/c" "http://127.0.0.1:$PORT/api/chunked"
	grep -qi '^Transfer-Encoding: chunked' "$T/h1"
	"${CURL[@]}" -o "$T/c.direct" "http://127.0.0.1:$API_PORT/api/chunked"
	cmp "$T/c" "$T/c.direct"
	jq -e . "$T/c" >/dev/null

	"${CURL[@]}" -D "$T/h2" -o "$T/bytes" \
	    "http://127.0.0.1:$PORT/api/bytes?n=1000003&chunked=1"
	grep -qi '^Transfer-Encoding: chunked' "$T/h2"
	[ "$(stat -c %s "$T/bytes")" -eq 1000003 ]
	want=$("${CURL[@]}" "http://127.0.0.1:$API_PORT/api/bytes?n=1000003" | sha256sum)
	[ "$(sha256sum <"$T/bytes")" = "$want" ]
	wait_events http_request_complete.v0 2
	last_exchange | jq -e '.object.http.response.body_length == 1000003'
}

@test "50 MB upload and download stream through with the proxy under 40 MB of RSS" {
	# 20 s of upstream silence is generous on loopback; it only bounds
	# how long a stalled transfer takes to fail.
	proxy_with_api --upstream-timeout 20s
	n=$((50 * 1024 * 1024))
	head -c "$n" /dev/urandom >"$T/big"
	sum=$(sha256sum <"$T/big" | cut -d' ' -f1)
	max=0

	"${CURL[@]}" --max-time 120 -T "$T/big" -o "$T/up.json" \
	    "http://127.0.0.1:$PORT/api/echo" &
	cpid=$!
	track "$cpid"
	while alive "$cpid"; do
		rss_kb "$PROXY_PID"
		[ "$RSS" -le "$max" ] || max=$RSS
		sleep 0.05
	done
	wait "$cpid"
	jq -e --arg s "$sum" --argjson n "$n" '.length == $n and .sha256 == $s' "$T/up.json"

	# A client reading slower than loopback: the proxy must not buffer.
	"${CURL[@]}" --max-time 120 --limit-rate 100M -o "$T/down" \
	    "http://127.0.0.1:$PORT/api/bytes?n=$n" &
	cpid=$!
	track "$cpid"
	while alive "$cpid"; do
		rss_kb "$PROXY_PID"
		[ "$RSS" -le "$max" ] || max=$RSS
		sleep 0.05
	done
	wait "$cpid"
	[ "$(stat -c %s "$T/down")" -eq "$n" ]
	want=$("${CURL[@]}" --max-time 120 "http://127.0.0.1:$API_PORT/api/bytes?n=$n" | sha256sum)
	[ "$(sha256sum <"$T/down")" = "$want" ]

	echo "# peak VmRSS of gw-proxy: $max KiB" >&3
	[ "$max" -gt 0 ]
	[ "$max" -lt 40960 ]
}

@test "HEAD keeps Content-Length and sends no body; the connection stays usable" {
	proxy_with_api
	len=$("${CURL[@]}" "http://127.0.0.1:$PORT/api/users" | wc -c)
	"${CURL[@]}" -I -o "$T/h" "http://127.0.0.1:$PORT/api/users"
	grep -qi "^Content-Length: $len" "$T/h"

	out=$(raw "$PORT" "HEAD /api/users HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	[ "$(statuses_of "$out")" = "200 200" ]
	head_of "$out" | grep -qi "^Content-Length: $len$"
	# Nothing between the HEAD's blank line and the next status line.
	[ "$(after_blank_lines "$out")" = "$(printf '%s\n' 'HTTP/1.1 200 OK' '{"ok":true}')" ]
}

@test "204 and 304 have no body and a following request on the connection works" {
	proxy_with_api
	out=$(raw "$PORT" "GET /api/status/204 HTTP/1.1\r\nHost: t\r\n\r\nGET /api/status/304 HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	[ "$(statuses_of "$out")" = "204 304 200" ]
	h204=$(head_of "$out")
	if grep -qi '^Transfer-Encoding\|^Content-Length' <<<"$h204"; then
		fail "204 with framing headers: $h204"
	fi
	if grep -qi '^Transfer-Encoding' <<<"$out"; then
		fail "Transfer-Encoding on a bodiless response: $out"
	fi
	[ "$(after_blank_lines "$out")" = "$(printf '%s\n' 'HTTP/1.1 304 Not Modified' 'HTTP/1.1 200 OK' '{"ok":true}')" ]
	wait_events http_request_complete.v0 3
}

@test "HTTP/1.0 client: no chunked framing, the connection closes after the response" {
	proxy_with_api
	"${CURL[@]}" -0 -D "$T/h" -o "$T/b" "http://127.0.0.1:$PORT/api/chunked"
	grep -q '^HTTP/1\.[01] 200' "$T/h"
	if grep -qi '^Transfer-Encoding' "$T/h"; then
		fail "chunked sent to an HTTP/1.0 client"
	fi
	"${CURL[@]}" -o "$T/direct" "http://127.0.0.1:$API_PORT/api/chunked"
	cmp "$T/b" "$T/direct"

	# Without Host, as HTTP/1.0 allows; the proxy closes after it.
	out=$(raw "$PORT" "GET /healthz HTTP/1.0\r\n\r\n")
	[[ $(status_of "$out") == 200 ]]
	[[ $out == *'{"ok":true}' ]]
	wait_events http_request_complete.v0 2
	last_exchange | jq -e '.object.http.request.version == "HTTP/1.0"'
}

@test "Expect: 100-continue: the client gets 100 Continue and the upload succeeds" {
	proxy_with_api
	head -c 2000000 /dev/urandom >"$T/up"
	sum=$(sha256sum <"$T/up" | cut -d' ' -f1)
	"${CURL[@]}" -v -H 'Expect: 100-continue' --data-binary @"$T/up" \
	    -o "$T/b" "http://127.0.0.1:$PORT/api/echo" 2>"$T/curl.err"
	grep -q '^< HTTP/1.1 100 Continue' "$T/curl.err"
	jq -e --arg s "$sum" '.method == "POST" and .length == 2000000 and .sha256 == $s' "$T/b"
	wait_events http_request_complete.v0 1
	last_exchange | jq -e '.object.http.response.status_code == 200'
}

# ---- rejections -------------------------------------------------------

@test "reject Content-Length with Transfer-Encoding: 400 GW_BAD_REQUEST" {
	proxy_with_api
	expect_rejection 400 GW_BAD_REQUEST "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
}

@test "reject duplicate Content-Length: 400 GW_BAD_REQUEST" {
	proxy_with_api
	expect_rejection 400 GW_BAD_REQUEST "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
}

@test "reject Transfer-Encoding gzip: 501 GW_NOT_IMPLEMENTED" {
	proxy_with_api
	expect_rejection 501 GW_NOT_IMPLEMENTED "POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"
}

@test "reject HTTP/1.1 without Host: 400 GW_BAD_REQUEST" {
	proxy_with_api
	expect_rejection 400 GW_BAD_REQUEST "GET /healthz HTTP/1.1\r\nUser-Agent: t\r\n\r\n"
}

@test "reject NUL or a control character in a header value: 400 GW_BAD_REQUEST" {
	proxy_with_api
	expect_rejection 400 GW_BAD_REQUEST "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n"
	expect_rejection 400 GW_BAD_REQUEST "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n"
	expect_rejection 400 GW_BAD_REQUEST "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\x7fb\r\n\r\n"
}

@test "reject obs-fold: 400 GW_BAD_REQUEST" {
	proxy_with_api
	expect_rejection 400 GW_BAD_REQUEST "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"
}

@test "reject bare LF line ends: 400 GW_BAD_REQUEST" {
	proxy_with_api
	expect_rejection 400 GW_BAD_REQUEST "GET /healthz HTTP/1.1\nHost: t\n\n"
}

@test "reject whitespace before the colon: 400 GW_BAD_REQUEST" {
	proxy_with_api
	expect_rejection 400 GW_BAD_REQUEST "GET /healthz HTTP/1.1\r\nHost : t\r\n\r\n"
}

@test "reject an invalid chunk size: 400 GW_BAD_REQUEST" {
	proxy_with_api
	expect_rejection 400 GW_BAD_REQUEST "POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
}

@test "reject a header section over --max-header-size: 431 GW_HEADERS_TOO_LARGE" {
	proxy_with_api
	big=$(head -c 20000 /dev/zero | tr '\0' a)
	expect_rejection 431 GW_HEADERS_TOO_LARGE "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: $big\r\n\r\n"
}

@test "reject a request line over --max-line-size: 414 GW_URI_TOO_LONG" {
	proxy_with_api
	long=$(head -c 9000 /dev/zero | tr '\0' a)
	expect_rejection 414 GW_URI_TOO_LONG "GET /$long HTTP/1.1\r\nHost: t\r\n\r\n"
}

@test "reject a body over --max-body-size by Content-Length: 413 GW_BODY_TOO_LARGE" {
	proxy_with_api --max-body-size 1KiB
	expect_rejection 413 GW_BODY_TOO_LARGE "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"
	# At the limit is fine.
	head -c 1024 /dev/zero >"$T/ok"
	"${CURL[@]}" --data-binary @"$T/ok" -o "$T/b" "http://127.0.0.1:$PORT/api/echo"
	jq -e '.length == 1024' "$T/b"
}

@test "reject a chunked body over --max-body-size: 413 GW_BODY_TOO_LARGE" {
	proxy_with_api --max-body-size 1KiB
	chunk=$(head -c 1000 /dev/zero | tr '\0' b)
	expect_rejection 413 GW_BODY_TOO_LARGE "POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n$chunk\r\n3e8\r\n$chunk\r\n0\r\n\r\n"
}

@test "reject a slow header with --header-timeout 1s: 408 GW_HEADER_TIMEOUT" {
	proxy_with_api --header-timeout 1s
	expect_rejection 408 GW_HEADER_TIMEOUT "GET /healthz HTTP/1.1\r\nHost: t\r\n" 15
}

# ---- upstream failures and routing -------------------------------------

@test "upstream down: 502 GW_UPSTREAM_REFUSED" {
	down=$(free_port)
	start_proxy --upstream "http://127.0.0.1:$down"
	code=$("${CURL[@]}" -o "$T/b" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
	[ "$code" = 502 ]
	jq -e '.error.code == "GW_UPSTREAM_REFUSED"' "$T/b"
	wait_events http_request_complete.v0 1
	last_exchange | jq -e '.object.http.response.status_code == 502 and .object.error.code == "GW_UPSTREAM_REFUSED"'
}

@test "upstream slow: 504 GW_UPSTREAM_TIMEOUT with --upstream-timeout 1s" {
	proxy_with_api --upstream-timeout 1s
	code=$("${CURL[@]}" -o "$T/b" -w '%{http_code}' "http://127.0.0.1:$PORT/api/slow?ms=3000")
	[ "$code" = 504 ]
	jq -e '.error.code == "GW_UPSTREAM_TIMEOUT"' "$T/b"
	wait_events http_request_complete.v0 1
	last_exchange | jq -e '.object.http.response.status_code == 504 and .object.error.code == "GW_UPSTREAM_TIMEOUT"'
	ok_after
}

@test "--route only: a Host without a route gets 404 GW_NO_ROUTE" {
	start_api
	start_proxy --route "a.test=http://127.0.0.1:$API_PORT"
	code=$("${CURL[@]}" -o "$T/b" -w '%{http_code}' -H 'Host: other.test' "http://127.0.0.1:$PORT/healthz")
	[ "$code" = 404 ]
	jq -e '.error.code == "GW_NO_ROUTE"' "$T/b"
	wait_events http_request_complete.v0 1
	last_exchange | jq -e '.object.http.response.status_code == 404 and .object.error.code == "GW_NO_ROUTE"'
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'Host: a.test' "http://127.0.0.1:$PORT/healthz")
	[ "$code" = 200 ]
}

@test "--route picks the upstream by Host between two sample-api instances" {
	start_api api1
	p1=$API_PORT
	pid1=$API_PID
	start_api api2
	p2=$API_PORT
	start_proxy --route "a.test=http://127.0.0.1:$p1" --route "B.Test=http://127.0.0.1:$p2"
	"${CURL[@]}" -o /dev/null -H 'Host: a.test' "http://127.0.0.1:$PORT/healthz"
	"${CURL[@]}" -o /dev/null -H 'Host: b.test:8080' "http://127.0.0.1:$PORT/healthz"
	wait_events http_request_complete.v0 2
	events_of http_request_complete.v0 | sed -n 1p |
	    jq -e --arg u "http://127.0.0.1:$p1" '.object.backend.url == $u and .object.http.response.status_code == 200'
	events_of http_request_complete.v0 | sed -n 2p |
	    jq -e --arg u "http://127.0.0.1:$p2" '.object.backend.url == $u and .object.http.response.status_code == 200'
	# With the first instance gone, b.test still works and a.test fails.
	kill "$pid1"
	wait_for 5 refused "$p1"
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'Host: b.test' "http://127.0.0.1:$PORT/healthz")
	[ "$code" = 200 ]
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'Host: a.test' "http://127.0.0.1:$PORT/healthz")
	[ "$code" = 502 ]
}

# ---- TLS ---------------------------------------------------------------

tls_setup() {
	make_ca
	make_cert a.test DNS:a.test
	make_cert b.test DNS:b.test
}

@test "TLS: SNI picks the certificate, curl verifies it, the event has tls.version" {
	tls_setup
	start_api
	start_proxy --https --upstream "http://127.0.0.1:$API_PORT" \
	    --tls-cert "$T/a.test.pem" --tls-key "$T/a.test.key" \
	    --tls-cert "$T/b.test.pem" --tls-key "$T/b.test.key"
	for name in a.test b.test; do
		"${CURL[@]}" --cacert "$T/ca.pem" --resolve "$name:$PORT:127.0.0.1" \
		    -o "$T/b" "https://$name:$PORT/api/echo"
		jq -e '.headers["x-forwarded-proto"] == "https"' "$T/b"
		subject=$(openssl s_client -connect "127.0.0.1:$PORT" \
		    -servername "$name" </dev/null 2>/dev/null |
		    openssl x509 -noout -subject)
		[[ $subject == *"CN = $name"* ]] || fail "SNI $name got $subject"
	done
	wait_events http_request_complete.v0 2
	last_exchange | jq -e '.object.tls.version | test("^1\\.[23]$")'
	last_exchange | jq -e '.object.tls.cipher_suite | length > 0'
	last_exchange | jq -e '.object.http.request.url.scheme == "https"'
}

@test "TLS 1.1 is refused, TLS 1.2 accepted" {
	tls_setup
	start_api
	start_proxy --https --upstream "http://127.0.0.1:$API_PORT" \
	    --tls-cert "$T/a.test.pem" --tls-key "$T/a.test.key"
	run curl -sS --max-time 20 --cacert "$T/ca.pem" \
	    --resolve "a.test:$PORT:127.0.0.1" --tls-max 1.1 \
	    "https://a.test:$PORT/healthz"
	[ "$status" -ne 0 ]
	# A client willing to speak TLS 1.1 (lowest security level) is
	# refused by the server, not by its own library.
	run openssl s_client -connect "127.0.0.1:$PORT" -servername a.test \
	    -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null
	[ "$status" -ne 0 ]
	code=$("${CURL[@]}" --cacert "$T/ca.pem" --resolve "a.test:$PORT:127.0.0.1" \
	    --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' \
	    "https://a.test:$PORT/healthz")
	[ "$code" = 200 ]
	wait_events http_request_complete.v0 1
	last_exchange | jq -e '.object.tls.version == "1.2"'
}

# A second gw-proxy with TLS in front of sample-api is the https upstream.
# Sets INNER to its port.
tls_upstream() {
	make_ca
	make_cert upstream "$1"
	start_api
	start_proxy_as inner --https --upstream "http://127.0.0.1:$API_PORT" \
	    --tls-cert "$T/upstream.pem" --tls-key "$T/upstream.key"
	INNER=$LAST_PORT
}

@test "https upstream: verified with --upstream-ca, 502 without it" {
	# The DNS entry too, so that this test does not depend on IP
	# subjectAltName matching (the next test checks that).
	tls_upstream "IP:127.0.0.1,DNS:127.0.0.1"
	start_proxy_as trusting --upstream "https://127.0.0.1:$INNER" \
	    --upstream-ca "$T/ca.pem"
	trusting=$LAST_PORT
	start_proxy --upstream "https://127.0.0.1:$INNER"

	code=$("${CURL[@]}" -o "$T/b" -w '%{http_code}' "http://127.0.0.1:$trusting/api/echo")
	[ "$code" = 200 ]
	jq -e '.headers["x-forwarded-proto"] == "https"' "$T/b"
	wait_events http_request_complete.v0 1 "$T/events-inner.ndjson"
	last_exchange "$T/events-inner.ndjson" | jq -e '.object.tls.version | length > 0'
	wait_events http_request_complete.v0 1 "$T/events-trusting.ndjson"
	last_exchange "$T/events-trusting.ndjson" | jq -e '.object.backend.url | startswith("https://")'

	code=$("${CURL[@]}" -o "$T/b2" -w '%{http_code}' "http://127.0.0.1:$PORT/api/echo")
	[ "$code" = 502 ]
	wait_events http_request_complete.v0 1
	last_exchange | jq -e '.object.http.response.status_code == 502 and (.object.error.code | startswith("GW_UPSTREAM"))'
	# The inner proxy saw no request from the untrusting one.
	[ "$(count_events http_request_complete.v0 "$T/events-inner.ndjson")" -eq 1 ]
}

@test "https upstream by IP address: a certificate with an IP subjectAltName verifies" {
	tls_upstream "IP:127.0.0.1"
	# curl, as a reference client, accepts this certificate for the IP.
	"${CURL[@]}" --cacert "$T/ca.pem" -o /dev/null "https://127.0.0.1:$INNER/healthz"
	start_proxy --upstream "https://127.0.0.1:$INNER" --upstream-ca "$T/ca.pem"
	code=$("${CURL[@]}" -o "$T/b" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
	[ "$code" = 200 ] || fail "got $code: $(cat "$T/b")"
}

# ---- events --------------------------------------------------------------

@test "events carry the documented fields and types" {
	proxy_with_api
	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/users/2?x=y"
	wait_events tcp_connection_closed.v0 1
	ev=$(last_exchange)
	jq -e '.event_id | test("^ev_[0-9A-Za-z]{27}$")' <<<"$ev"
	jq -e '.event_timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$")' <<<"$ev"
	jq -e '.principal == null' <<<"$ev"
	jq -e '.object.conn.client_ip == "127.0.0.1"' <<<"$ev"
	jq -e '.object.conn.client_port | type == "number"' <<<"$ev"
	jq -e --argjson p "$PORT" '.object.conn.server_port == $p' <<<"$ev"
	jq -e '.object.conn.start_ts | test("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{6}Z$")' <<<"$ev"
	jq -e '.object.http.request.method == "GET"' <<<"$ev"
	jq -e '.object.http.request.version == "HTTP/1.1"' <<<"$ev"
	jq -e '.object.http.request.url.path == "/api/users/2"' <<<"$ev"
	jq -e '.object.http.request.url.query == "x=y"' <<<"$ev"
	jq -e '.object.http.request.url.scheme == "http"' <<<"$ev"
	jq -e '.object.http.request.user_agent | startswith("curl/")' <<<"$ev"
	jq -e '.object.http.response.status_code == 200' <<<"$ev"
	jq -e '.object.http.response.body_length > 0' <<<"$ev"
	jq -e '.object.duration_ns | type == "number" and . > 0 and floor == .' <<<"$ev"
	jq -e '.object.backend.url | startswith("http://127.0.0.1:")' <<<"$ev"
	jq -e '.object | has("tls") | not' <<<"$ev"
	jq -e '.object | has("error") | not' <<<"$ev"
	# Metadata only: no headers or bodies without --full-capture.
	jq -e '.object.http.request | has("headers") or has("body") | not' <<<"$ev"

	cl=$(events_of tcp_connection_closed.v0 | tail -n1)
	jq -e '.event_id | test("^ev_[0-9A-Za-z]{27}$")' <<<"$cl"
	jq -e '.object.conn.end_ts | test("\\.[0-9]{6}Z$")' <<<"$cl"
	jq -e '.object.conn.bytes_in > 0 and .object.conn.bytes_out > 0' <<<"$cl"
	jq -e --argjson p "$PORT" '.object.conn.server_port == $p' <<<"$cl"

	st=$(events_of endpoint_started.v0 | head -n1)
	jq -e --arg l "127.0.0.1:$PORT" '.object.listen == $l' <<<"$st"
	jq -e '.principal.source == "cli"' <<<"$st"
	# Ids increase within the process.
	jq -r .event_id "$EV" | LC_ALL=C sort -c
}

@test "events: url.host and conn.server_name without the port, url.raw with the authority as received" {
	proxy_with_api
	"${CURL[@]}" -o /dev/null -H 'Host: api.example.test:8080' "http://127.0.0.1:$PORT/healthz"
	wait_events tcp_connection_closed.v0 1
	ev=$(last_exchange)
	jq -e '.object.http.request.url.host == "api.example.test"' <<<"$ev"
	jq -e '.object.http.request.url.raw == "http://api.example.test:8080/healthz"' <<<"$ev"
	jq -e '.object.conn.server_name == "api.example.test"' <<<"$ev"
}

@test "redaction: Authorization, Cookie and --redact-header values are [REDACTED] in events, not upstream" {
	proxy_with_api --full-capture --redact-header X-Secret-Token
	"${CURL[@]}" -o "$T/b" -H 'Authorization: Bearer s3cr3t' \
	    -H 'Cookie: session=c00kie' -H 'x-secret-token: t0ken' \
	    -H 'X-Plain: visible' "http://127.0.0.1:$PORT/api/echo"
	jq -e '.headers.authorization == "Bearer s3cr3t" and .headers.cookie == "session=c00kie" and .headers["x-secret-token"] == "t0ken"' "$T/b"
	wait_events http_request_complete.v0 1
	h=$(last_exchange | jq -c .object.http.request.headers)
	jq -e '.Authorization == ["[REDACTED]"]' <<<"$h"
	jq -e '.Cookie == ["[REDACTED]"]' <<<"$h"
	jq -e '.["X-Secret-Token"] == ["[REDACTED]"]' <<<"$h"
	jq -e '.["X-Plain"] == ["visible"]' <<<"$h"
	[[ $h != *s3cr3t* && $h != *c00kie* && $h != *t0ken* ]]
}

@test "redaction: --no-redact keeps the values in events" {
	proxy_with_api --full-capture --no-redact
	"${CURL[@]}" -o "$T/b" -H 'Authorization: Bearer s3cr3t' \
	    -H 'Cookie: session=c00kie' "http://127.0.0.1:$PORT/api/echo"
	jq -e '.headers.authorization == "Bearer s3cr3t"' "$T/b"
	wait_events http_request_complete.v0 1
	h=$(last_exchange | jq -c .object.http.request.headers)
	jq -e '.Authorization == ["Bearer s3cr3t"]' <<<"$h"
	jq -e '.Cookie == ["session=c00kie"]' <<<"$h"
}

@test "full capture: text bodies as text, binary bodies as base64" {
	proxy_with_api --full-capture
	"${CURL[@]}" -o "$T/b" -H 'Content-Type: application/json' \
	    --data-binary '{"hello":"wörld"}' "http://127.0.0.1:$PORT/api/echo"
	wait_events http_request_complete.v0 1
	ev=$(last_exchange)
	jq -e '.object.http.request.body == "{\"hello\":\"wörld\"}"' <<<"$ev"
	jq -e '.object.http.request.body_encoding == "text" and .object.http.request.body_truncated == false' <<<"$ev"
	jq -e '.object.http.response.body_encoding == "text" and .object.http.response.body_truncated == false' <<<"$ev"
	# The response captured is exactly what the client got.
	[ "$(jq -r .object.http.response.body <<<"$ev")" = "$(cat "$T/b")" ]

	printf '\x00\x01\x02\xff\xfe binary \x80\x00' >"$T/bin"
	"${CURL[@]}" -o /dev/null --data-binary @"$T/bin" "http://127.0.0.1:$PORT/api/echo"
	wait_events http_request_complete.v0 2
	ev=$(last_exchange)
	jq -e '.object.http.request.body_encoding == "base64"' <<<"$ev"
	jq -r .object.http.request.body <<<"$ev" | base64 -d >"$T/bin.back"
	cmp "$T/bin" "$T/bin.back"

	"${CURL[@]}" -o "$T/bytes" "http://127.0.0.1:$PORT/api/bytes?n=300"
	wait_events http_request_complete.v0 3
	ev=$(last_exchange)
	jq -e '.object.http.response.body_encoding == "base64"' <<<"$ev"
	jq -r .object.http.response.body <<<"$ev" | base64 -d >"$T/bytes.back"
	cmp "$T/bytes" "$T/bytes.back"
}

@test "full capture: --body-limit 16 truncates and says so" {
	proxy_with_api --full-capture --body-limit 16
	"${CURL[@]}" -o /dev/null --data-binary 'abcdefghijklmnopqrstuvwxyz0123456789' \
	    "http://127.0.0.1:$PORT/api/echo"
	wait_events http_request_complete.v0 1
	ev=$(last_exchange)
	jq -e '.object.http.request.body == "abcdefghijklmnop"' <<<"$ev"
	jq -e '.object.http.request.body_truncated == true and .object.http.request.body_length == 36' <<<"$ev"
	jq -e '.object.http.response.body | length == 16' <<<"$ev"
	jq -e '.object.http.response.body_truncated == true and .object.http.response.body_length > 16' <<<"$ev"
	# Short bodies are not truncated.
	"${CURL[@]}" -o /dev/null --data-binary 'short' "http://127.0.0.1:$PORT/api/echo"
	wait_events http_request_complete.v0 2
	last_exchange | jq -e '.object.http.request.body == "short" and .object.http.request.body_truncated == false'
}

# ---- signals and configuration -----------------------------------------

@test "SIGTERM drains: the in-flight request completes, new connections are refused, exit 0" {
	proxy_with_api
	"${CURL[@]}" -o "$T/slow" -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/api/slow?ms=1500" >"$T/slow.code" &
	cpid=$!
	track "$cpid"
	wait_for 10 upstream_busy "$API_PORT"
	kill -TERM "$PROXY_PID"
	wait_for 10 refused "$PORT"
	wait "$cpid"
	[ "$(cat "$T/slow.code")" = 200 ]
	wait_for 20 gone "$PROXY_PID"
	rc=0
	wait "$PROXY_PID" || rc=$?
	[ "$rc" -eq 0 ]
	if connectable "$PORT"; then
		fail "still accepting after exit"
	fi
	events_of http_request_complete.v0 | jq -e 'select(.object.http.request.url.path == "/api/slow") | .object.http.response.status_code == 200'
	events_of endpoint_stopped.v0 | jq -e --arg l "127.0.0.1:$PORT" '.object.listen == $l'
}

@test "SIGHUP with a broken config: still serves, stderr names file:line:col" {
	start_api
	cfg=$T/config.yml
	printf 'upstream: http://127.0.0.1:%s\nheader-timeout: 10s\n' "$API_PORT" >"$cfg"
	start_proxy --config "$cfg"
	ok_after
	printf 'no-such-key: 1\n' >>"$cfg"
	kill -HUP "$PROXY_PID"
	wait_for 10 grep -q "config.yml:3:1" "$ERR"
	grep "config.yml:3:1" "$ERR" | grep -q "no-such-key"
	alive "$PROXY_PID"
	ok_after
}

@test "SIGHUP with a valid change: the new upstream takes effect" {
	start_api api1
	p1=$API_PORT
	pid1=$API_PID
	start_api api2
	p2=$API_PORT
	cfg=$T/config.yml
	printf 'upstream: http://127.0.0.1:%s\n' "$p1" >"$cfg"
	start_proxy --config "$cfg"
	ok_after
	wait_events http_request_complete.v0 1
	last_exchange | jq -e --arg u "http://127.0.0.1:$p1" '.object.backend.url == $u'

	printf 'upstream: http://127.0.0.1:%s\n' "$p2" >"$cfg"
	kill -HUP "$PROXY_PID"
	wait_for 10 grep -q "reload: configuration loaded" "$ERR"
	# Only the new upstream can answer now.
	kill "$pid1"
	wait_for 5 refused "$p1"
	ok_after
	wait_events http_request_complete.v0 2
	last_exchange | jq -e --arg u "http://127.0.0.1:$p2" '.object.backend.url == $u and .object.http.response.status_code == 200'
	events_of endpoint_started.v0 | tail -n1 |
	    jq -e --arg u "http://127.0.0.1:$p2" '.object.upstream == $u and .principal.source == "signal"'
}

@test "exit codes: an unknown flag exits 64" {
	run "$PROXY" --no-such-flag
	[ "$status" -eq 64 ]
	[[ $output == *--no-such-flag* ]]
	run "$PROXY" --upstream
	[ "$status" -eq 64 ]
}

@test "exit codes: a bad value exits 78 and names the flag" {
	run "$PROXY" --upstream http://127.0.0.1:9 --header-timeout soon
	[ "$status" -eq 78 ]
	[[ $output == *--header-timeout* ]]
	run "$PROXY" --upstream http://127.0.0.1:9 --max-body-size lots
	[ "$status" -eq 78 ]
	[[ $output == *--max-body-size* ]]
	run "$PROXY" --upstream ftp://127.0.0.1:9
	[ "$status" -eq 78 ]
	[[ $output == *ftp://127.0.0.1:9* ]]
}

@test "exit codes: an error in the config file exits 78 with file:line:col" {
	cfg=$T/bad.yml
	printf 'upstream: http://127.0.0.1:9\nbody-limit: huge\n' >"$cfg"
	run "$PROXY" --config "$cfg"
	[ "$status" -eq 78 ]
	[[ $output =~ bad\.yml:2:[0-9]+:.*body-limit ]]
	printf 'upstream: http://127.0.0.1:9\n\nmystery: 1\n' >"$cfg"
	run "$PROXY" --config "$cfg"
	[ "$status" -eq 78 ]
	[[ $output == *"bad.yml:3:1:"*mystery* ]]
}
