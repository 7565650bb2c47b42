#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# gw-capture end to end: the real pipeline gw-proxy | gw-capture | cat
# under real traffic (through a FIFO, so that every process is known and
# stopped), then list, show in every format, tail while traffic flows,
# stats against counts jq computes from the same events, retention,
# kill -9 mid-ingest, a reader beside the writer, and bad input.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	common_setup
	CAP=$BIN_DIR/gw-capture
	[ -x "$CAP" ] || fail "$CAP is missing: run make all"
	STORE=$T/store
	CURL=(curl -sS --max-time 20)
}

teardown() {
	common_teardown
}

# start_pipeline [PROXY ARGS...]: sample-api, gw-capture reading a FIFO
# into $STORE (its stdout in $T/tee.ndjson), gw-proxy writing events to
# the FIFO.
start_pipeline() {
	start_api
	mkfifo "$T/ev.fifo"
	"$CAP" --store "$STORE" <"$T/ev.fifo" >"$T/tee.ndjson" \
	    2>"$T/capture.err" 3>&- &
	CAP_PID=$!
	track "$CAP_PID"
	start_proxy --upstream "http://127.0.0.1:$API_PORT" \
	    --events "$T/ev.fifo" "$@"
}

# stored [QUERY...]: how many events list finds.
stored() {
	"$CAP" list --store "$STORE" --limit 0 --format ndjson "$@" | wc -l
}

has_stored() {
	[ "$(stored "${@:2}")" -ge "$1" ]
}

# gen_events N START_EPOCH STEP_S [STATUS]: N events of the proxy's
# shape, one every STEP_S seconds from START_EPOCH.
gen_events() {
	awk -v n="$1" -v t0="$2" -v step="$3" -v st="${4:-200}" 'BEGIN {
		for (i = 0; i < n; i++) {
			t = t0 + i * step;
			ts = strftime("%Y-%m-%dT%H:%M:%S", t, 1) sprintf(".%06dZ", i % 1000000);
			printf("{\"event_id\":\"ev_%027d\",\"event_type\":\"http_request_complete.v0\",\"event_timestamp\":\"%s\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":\"10.0.%d.%d\",\"client_port\":4000,\"server_ip\":\"127.0.0.1\",\"server_name\":\"api.test\",\"server_port\":8080,\"start_ts\":\"%s\"},\"http\":{\"request\":{\"method\":\"GET\",\"version\":\"HTTP/1.1\",\"url\":{\"raw\":\"http://api.test/api/items/%d\",\"scheme\":\"http\",\"host\":\"api.test\",\"path\":\"/api/items/%d\",\"query\":\"\"},\"headers\":{\"Host\":[\"api.test\"]},\"user_agent\":\"\",\"body_length\":0},\"response\":{\"status_code\":%d,\"headers\":{},\"body_length\":2}},\"duration_ns\":%d}}\n",
			    i, ts, int(i / 250) % 250, i % 250, ts, i, i, st, 1000000 + i);
		}
	}'
}

@test "the pipeline under real traffic: every line passes through unchanged and is stored; list filters" {
	start_pipeline --full-capture
	local i
	for ((i = 0; i < 20; i++)); do
		"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/users/$i"
	done
	for ((i = 0; i < 5; i++)); do
		"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/fail"
	done
	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/status/404"
	wait_for 10 has_stored 26 || fail "stored: $(stored); $(cat "$T/capture.err")"
	# The tee is what the proxy wrote: JSON objects, one per line.
	[ "$(jq -c 'select(.event_type == "http_request_complete.v0")' \
	    "$T/tee.ndjson" | wc -l)" -eq 26 ]
	[ "$(stored '@http.response.status_code:>=500')" -eq 5 ]
	[ "$(stored '@http.status_code:500')" -eq 5 ]
	[ "$(stored '@http.url_details.path:/api/users/*')" -eq 20 ]
	[ "$(stored '-@http.url_details.path:/api/users/*')" -eq 6 ]
	[ "$(stored 'status:warn')" -eq "$(jq -c 'select((.object.http.response.status_code // 0) / 100 | floor == 4)' "$T/tee.ndjson" | wc -l)" ]
	[ "$(stored '@network.client.ip:127.0.0.0/8')" -eq 26 ]
	[ "$(stored '@network.client.ip:10.0.0.0/8')" -eq 0 ]
	# Newest first, and --limit.
	"$CAP" list --store "$STORE" --limit 3 --format ndjson >"$T/l"
	[ "$(wc -l <"$T/l")" -eq 3 ]
	[ "$(jq -r .object.http.request.url.path "$T/l" | head -1)" = \
	    /api/status/404 ]
	jq -s -e 'map(.event_timestamp) | . == (sort | reverse)' "$T/l"
	# The table: one row per exchange with the columns users look for.
	"$CAP" list --store "$STORE" '@http.url_details.path:"/api/status/404"' >"$T/t"
	[ "$(wc -l <"$T/t")" -eq 1 ]
	grep -q 'GET' "$T/t"
	grep -q '404' "$T/t"
	grep -q '/api/status/404' "$T/t"
	grep -q 'ev_' "$T/t"
	! grep -q $'\033' "$T/t" # no colours on a pipe
	"$CAP" list --store "$STORE" --color always --limit 1 | grep -q $'\033'
	NO_COLOR= "$CAP" list --store "$STORE" --color never --limit 1 |
	    { ! grep -q $'\033'; }
	# json: one array.
	[ "$("$CAP" list --store "$STORE" --format json | jq length)" -eq 26 ]
	# --since in the future finds nothing; a syntax error names the column.
	[ "$(stored --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)")" -eq 0 ]
	run -64 "$CAP" list --store "$STORE" '@http.status_code:[1 TO'
	[[ $output == *"query:1:"* ]] || fail "$output"
	# The proxy's stop ends the stream: gw-capture writes all and exits 0.
	kill -TERM "$LAST_PID"
	wait_for 10 gone "$CAP_PID" || fail "gw-capture did not exit"
	wait "$CAP_PID"
	grep -q ' stored, 0 not JSON objects, 0 too long, 0 not stored' \
	    "$T/capture.err" || fail "$(cat "$T/capture.err")"
}

@test "show: pretty, json, raw, har, and a curl command that reproduces the request" {
	start_pipeline --full-capture
	printf 'hello \x00\x01\x02 binary\n' >"$T/body"
	"${CURL[@]}" -o "$T/orig" -H 'Content-Type: application/octet-stream' \
	    -H 'X-Trace: t1' --data-binary @"$T/body" \
	    "http://127.0.0.1:$PORT/api/echo?x=1"
	"${CURL[@]}" -o /dev/null -H 'Authorization: Bearer s3cret' \
	    -H 'Content-Type: application/json' --data-binary '{"a":"it'"'"'s"}' \
	    "http://127.0.0.1:$PORT/api/echo"
	wait_for 10 has_stored 2 || fail "$(cat "$T/capture.err")"
	local bin txt
	bin=$("$CAP" list --store "$STORE" --format ndjson '@http.url_details.queryString.x:1' |
	    jq -r .event_id)
	txt=$("$CAP" list --store "$STORE" --format ndjson --limit 1 |
	    jq -r .event_id)
	[[ $bin == ev_* && $txt == ev_* && $bin != "$txt" ]]
	# json is the stored event.
	[ "$("$CAP" show --store "$STORE" "$bin" --format json | jq -c .)" = \
	    "$(jq -c --arg id "$bin" 'select(.event_id == $id)' "$T/tee.ndjson")" ]
	# pretty: request line, headers, a hex dump of the binary body.
	"$CAP" show --store "$STORE" "$bin" >"$T/p"
	grep -q '^POST /api/echo?x=1 HTTP/1.1' "$T/p" || fail "$(cat "$T/p")"
	grep -q '^X-Trace: t1' "$T/p"
	grep -q '^HTTP/1.1 200 OK' "$T/p"
	grep -q '00 01 02' "$T/p"
	# raw: the wire form, body byte for byte.
	"$CAP" show --store "$STORE" "$bin" --format raw >"$T/r"
	head -c 30 "$T/r" | grep -q '^POST /api/echo?x=1 HTTP/1.1'
	grep -qa 'binary' "$T/r"
	# har: a HAR 1.2 entry with the body as base64.
	"$CAP" show --store "$STORE" "$bin" --format har >"$T/h"
	[ "$(jq -r .request.method "$T/h")" = POST ]
	[ "$(jq -r .response.status "$T/h")" = 200 ]
	[ "$(jq -r .request.postData.encoding "$T/h")" = base64 ]
	[ "$(jq -r .request.postData.text "$T/h" | base64 -d | sha256sum)" = \
	    "$(sha256sum <"$T/body")" ]
	[ "$(jq -r '.request.queryString[0].name' "$T/h")" = x ]
	# curl: running it sends the same bytes (the API echoes their hash).
	"$CAP" show --store "$STORE" "$bin" --format curl >"$T/c.sh"
	bash "$T/c.sh" >"$T/again"
	[ "$(jq -r .sha256 "$T/again")" = "$(jq -r .sha256 "$T/orig")" ] ||
	    fail "$(cat "$T/c.sh")"
	[ "$(jq -r '.headers["x-trace"]' "$T/again")" = t1 ]
	# A redacted header is named, never sent as [REDACTED]; quotes survive.
	"$CAP" show --store "$STORE" "$txt" --format curl >"$T/c2.sh"
	grep -q '^# Authorization was redacted' "$T/c2.sh"
	! grep -q 'REDACTED\]' <(grep -v '^#' "$T/c2.sh")
	bash "$T/c2.sh" >"$T/again2"
	[ "$(jq -r .length "$T/again2")" = 12 ] || fail "$(cat "$T/again2")"
	# An unknown id: exit 65 with the message users grep for.
	run -65 "$CAP" show --store "$STORE" ev_2pQ1aZk3Y9xWm4Nv8Lr0Tb6Hc2D
	[[ $output == *"no such request: ev_2pQ1aZk3Y9xWm4Nv8Lr0Tb6Hc2D"* ]]
	run -65 "$CAP" show --store "$STORE" nonsense
	run -64 "$CAP" show --store "$STORE" "$bin" --format xml
}

@test "tail follows events while traffic flows, filtered" {
	start_pipeline
	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/users"
	wait_for 10 has_stored 1
	"$CAP" tail --store "$STORE" --format ndjson '@http.response.status_code:500' \
	    >"$T/tail.out" 2>"$T/tail.err" 3>&- &
	local tpid=$! i
	track "$tpid"
	sleep 0.5
	for ((i = 0; i < 10; i++)); do
		"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/fail"
		"${CURL[@]}" -o /dev/null "http://127.0.0.1:$PORT/api/users"
	done
	wait_for 10 lines_at_least "$T/tail.out" 10 ||
	    fail "tail printed $(wc -l <"$T/tail.out"): $(cat "$T/tail.err")"
	# Only the new 500s: not the earlier 200, not the later ones.
	[ "$(jq -r .object.http.response.status_code "$T/tail.out" | sort -u)" = 500 ]
	[ "$(wc -l <"$T/tail.out")" -eq 10 ]
	kill -INT "$tpid"
	wait_for 5 gone "$tpid"
}

@test "stats: counts, errors and groups match what jq computes from the same events" {
	gen_events 300 "$(($(date +%s) - 600))" 1 200 >"$T/a.ndjson"
	gen_events 40 "$(($(date +%s) - 300))" 1 503 |
	    sed 's/ev_0/ev_1/' >"$T/b.ndjson"
	gen_events 20 "$(($(date +%s) - 200))" 1 404 |
	    sed 's/ev_0/ev_2/' >>"$T/b.ndjson"
	"$CAP" import --store "$STORE" "$T/a.ndjson" "$T/b.ndjson"
	"$CAP" stats --store "$STORE" --by status --format json >"$T/s"
	[ "$(jq -S -c 'map({(.status): .count}) | add' "$T/s")" = \
	    "$(cat "$T/a.ndjson" "$T/b.ndjson" |
	        jq -S -s -c 'group_by(.object.http.response.status_code) |
	            map({(.[0].object.http.response.status_code | tostring): length}) | add')" ]
	[ "$(jq -r '.[] | select(.status == "503") | .errors' "$T/s")" = 40 ]
	[ "$(jq -r '.[] | select(.status == "200") | .errors' "$T/s")" = 0 ]
	# Durations 1,000,000 + i ns: p50 of the 200s is about 1.15 ms.
	jq -e '.[] | select(.status == "200") | .p50_ns > 1000000 and .p50_ns < 1200000' "$T/s"
	# With a query, and by a field the index does not hold.
	"$CAP" stats --store "$STORE" '@http.response.status_code:>=400' \
	    --by path --format ndjson >"$T/p"
	[ "$(wc -l <"$T/p")" -eq 40 ] # 40 distinct paths among the 60
	[ "$(jq -s 'map(.count) | add' "$T/p")" -eq 60 ]
	# Per minute: the buckets add up to the whole.
	"$CAP" stats --store "$STORE" --interval 1m --format ndjson >"$T/m"
	[ "$(jq -s 'map(.count) | add' "$T/m")" -eq 360 ]
	[ "$(wc -l <"$T/m")" -ge 6 ]
	# The table on a pipe: a header and one row.
	"$CAP" stats --store "$STORE" >"$T/tbl"
	grep -q 'COUNT' "$T/tbl"
	grep -q ' 360 ' "$T/tbl"
}

@test "retention deletes whole old segments; prune reports; a writer's store is locked" {
	local now old
	now=$(date +%s)
	# At the start of an hour, so that the 100 old events (100 s) fill
	# one hourly segment whatever the time of the run.
	old=$(((now - 10 * 86400) / 3600 * 3600))
	gen_events 100 "$old" 1 >"$T/old.ndjson"
	gen_events 50 "$((now - 60))" 1 | sed 's/ev_0/ev_1/' >"$T/new.ndjson"
	"$CAP" import --store "$STORE" "$T/old.ndjson" "$T/new.ndjson"
	[ "$(stored)" -eq 150 ]
	[ "$(ls "$STORE"/*.zst | wc -l)" -ge 2 ]
	run -0 "$CAP" prune --store "$STORE" --retention 3d
	[[ $output == "removed 1 segments, 100 events"* ]] || fail "$output"
	[ "$(stored)" -eq 50 ]
	# Files are private.
	[ "$(stat -c %a "$STORE")" = 700 ]
	for f in "$STORE"/*; do
		[ "$(stat -c %a "$f")" = 600 ] || fail "$f: $(stat -c %a "$f")"
	done
	# A second writer is refused while the filter holds the store.
	mkfifo "$T/in"
	"$CAP" --store "$STORE" <"$T/in" >/dev/null 2>"$T/w.err" 3>&- &
	local wpid=$!
	track "$wpid"
	exec 8>"$T/in"
	wait_for 5 test -s "$STORE/gw-store.lock"
	run -74 "$CAP" prune --store "$STORE"
	[[ $output == *"$wpid"* ]] || fail "$output"
	exec 8>&-
	wait_for 5 gone "$wpid"
}

@test "kill -9 mid-ingest: the store stays readable, and the next writer repairs and appends" {
	gen_events 20000 "$(($(date +%s) - 3000))" 0 >"$T/big.ndjson"
	mkfifo "$T/in"
	"$CAP" --store "$STORE" --flush-interval 10ms <"$T/in" >/dev/null \
	    2>"$T/w.err" 3>&- &
	local wpid=$! n
	track "$wpid"
	# Feed slowly in pieces so that the kill lands while frames are written.
	exec 8>"$T/in"
	split -l 2000 "$T/big.ndjson" "$T/part."
	for f in "$T"/part.*; do
		cat "$f" >&8
		sleep 0.05
	done
	kill -KILL "$wpid"
	exec 8>&-
	n=$(stored)
	[ "$n" -le 20000 ]
	# Whatever is visible is whole events, and a reader beside a new
	# writer sees a consistent prefix.
	"$CAP" list --store "$STORE" --limit 0 --format ndjson | jq -e -c . >/dev/null
	gen_events 10 "$(date +%s)" 0 | sed 's/ev_0/ev_9/' >"$T/more.ndjson"
	"$CAP" import --store "$STORE" "$T/more.ndjson"
	[ "$(stored)" -eq $((n + 10)) ]
}

@test "a reader while the writer ingests sees only whole events" {
	gen_events 30000 "$(($(date +%s) - 3000))" 0 >"$T/big.ndjson"
	"$CAP" --store "$STORE" --flush-interval 5ms <"$T/big.ndjson" \
	    >/dev/null 2>"$T/w.err" 3>&- &
	local wpid=$! i
	track "$wpid"
	wait_for 10 test -e "$STORE/gw-store.json"
	for ((i = 0; i < 20; i++)); do
		"$CAP" list --store "$STORE" --limit 0 --format ndjson 2>>"$T/r.err" |
		    jq -e -c . >/dev/null || fail "round $i: $(cat "$T/r.err")"
		alive "$wpid" || break
	done
	wait "$wpid"
	[ "$(stored)" -eq 30000 ]
	[ ! -s "$T/r.err" ] || fail "$(cat "$T/r.err")"
}

@test "malformed lines pass through unchanged, are counted and named by line number, and are not stored" {
	{
		gen_events 2 "$(date +%s)" 1
		echo 'not json at all'
		echo '[1,2,3]'
		echo '{"truncated": '
		gen_events 1 "$(date +%s)" 1 | sed 's/ev_0/ev_5/'
		head -c 2000000 /dev/zero | tr '\0' 'x'
		echo
		echo '{"event_type":"custom.v0","note":"missing fields"}'
	} >"$T/in.ndjson"
	# stdout carries every input line as it came.
	"$CAP" --store "$STORE" <"$T/in.ndjson" >"$T/out" 2>"$T/err"
	cmp "$T/in.ndjson" "$T/out"
	grep -q '(stdin):3: not a JSON object' "$T/err" || fail "$(cat "$T/err")"
	grep -q '(stdin):4: not a JSON object' "$T/err"
	grep -q '(stdin):5: not a JSON object' "$T/err"
	grep -q '(stdin):7: line over --max-line' "$T/err"
	# Stored: the three events and the one that lacks fields.
	[ "$(stored --type all)" -eq 4 ]
	[ "$(stored)" -eq 3 ]
	[ "$("$CAP" list --store "$STORE" --type custom.v0 --format ndjson |
	    jq -r .note)" = "missing fields" ]
	# Not a store: refused, untouched.
	mkdir "$T/other"
	echo precious >"$T/other/file"
	run -74 "$CAP" list --store "$T/other"
	[[ $output == *"not a gw store"* ]] || fail "$output"
	run -74 "$CAP" --store "$T/other" </dev/null
	[ "$(ls "$T/other")" = file ]
	[ "$(cat "$T/other/file")" = precious ]
}
