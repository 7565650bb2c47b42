#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# gw-export end to end against fake-intake, the test suite's stand-in for
# Datadog's logs intake, Loki and the notification services: it checks
# what the real ones check (API key, content type, encodings, batch and
# size limits) and fails on demand.  Scenarios: everything delivered
# exactly once; an outage, then everything delivered; kill -9 then a
# restart with no event missing; 413 splits; 400 dead-letters; 401 stops
# and keeps the spool; Loki, HTTP, file and syslog (a real rsyslogd)
# destinations; a monitor that fires once and recovers once, and the
# dry run that says the same; config errors; checkpoints for cron.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	common_setup
	EXP=$BIN_DIR/gw-export
	FI=$BIN_DIR/fake-intake
	[ -x "$EXP" ] || fail "$EXP is missing: run make all"
	[ -x "$FI" ] || fail "$FI is missing: run make all"
	export DD_API_KEY=k-test-123
	GEN=$ROOT/scripts/gen-events
}

teardown() {
	common_teardown
}

# start_intake [ARGS...]: fake-intake on a free port recording into
# $T/dd.ndjson, $T/loki.ndjson, $T/hooks.ndjson.  Sets FI_PORT.
start_intake() {
	local line="" i
	rm -f "$T/fi.out"
	"$FI" --listen 127.0.0.1:0 --api-key "$DD_API_KEY" \
	    --record "$T/dd.ndjson" --record-loki "$T/loki.ndjson" \
	    --record-hooks "$T/hooks.ndjson" --loki-max-age 0 "$@" \
	    >"$T/fi.out" 2>"$T/fi.err" 3>&- &
	FI_PID=$!
	track "$FI_PID"
	for ((i = 0; i < 200; i++)); do
		read -r line 2>/dev/null <"$T/fi.out" || true
		[[ $line == "listening on 127.0.0.1:"* ]] && break
		sleep 0.05
	done
	[[ $line == "listening on 127.0.0.1:"* ]] ||
	    fail "fake-intake did not start: $(cat "$T/fi.err")"
	FI_PORT=${line##*:}
}

control() {
	curl -sS --max-time 5 -X POST --data-binary "$1" \
	    "http://127.0.0.1:$FI_PORT/_control" >/dev/null
}

# config [EXTRA YAML]: a Datadog destination on fake-intake.
config() {
	cat >"$T/export.yml" <<EOF
spool: $T/spool
destinations:
  dd:
    type: datadog
    url: http://127.0.0.1:$FI_PORT/api/v2/logs
    compression: gzip
    batch_wait: 100ms
    timeout: 5s
    sources:
      events: [traffic, audit]
$*
EOF
}

# events N: N recent events (the last hour), ids unique per call prefix.
events() {
	"$GEN" "$1" "$(($(date +%s) - 3600))" 3500
}

delivered_ids() {
	jq -r .event_id "$T/dd.ndjson" 2>/dev/null | sort -u | wc -l
}

# tls_frames_at_least N: the TLS receiver's output holds N syslog frames.
tls_frames_at_least() {
	[ "$(grep -o '<1[0-9][0-9]>1 ' "$T/tls.out" | wc -l)" -ge "$1" ]
}

delivered_exactly() {
	[ "$(delivered_ids)" -eq "$1" ]
}

@test "200k events delivered exactly once, gzip, within Datadog's limits" {
	start_intake
	config
	events 200000 >"$T/ev.ndjson"
	run -0 "$EXP" --config "$T/export.yml" "$T/ev.ndjson"
	[ "$(wc -l <"$T/dd.ndjson")" -eq 200000 ] || fail "$output"
	[ "$(delivered_ids)" -eq 200000 ]
	# Datadog's attributes came along, and the event's own fields.
	[ "$(head -1 "$T/dd.ndjson" | jq -r '.ddsource + " " + .service')" = "gw gw" ]
	head -1 "$T/dd.ndjson" | jq -e '.http.status_code and .network.client.ip and .object.conn.client_ip and .duration > 0' >/dev/null
	# No request passed 1,000 entries or 5 MB: fake-intake would have
	# answered 413.
	curl -sS "http://127.0.0.1:$FI_PORT/_stats" | jq -e '.responses["413"] // 0 | . == 0' >/dev/null
	[[ $output == *"dd: sent=200000"* ]] || fail "$output"
}

@test "an outage (503, then 429 with Retry-After) delays delivery but loses nothing" {
	start_intake --control '{"fail":503,"for_ms":3000}'
	config
	events 5000 >"$T/ev.ndjson"
	run -0 "$EXP" --config "$T/export.yml" "$T/ev.ndjson"
	[ "$(delivered_ids)" -eq 5000 ] || fail "$output"
	[[ $output == *"retrying in"* ]]
	control '{"fail":429,"retry_after":1,"count":2}'
	events 3000 | sed 's/ev_0/ev_1/' >"$T/ev2.ndjson"
	run -0 "$EXP" --config "$T/export.yml" "$T/ev2.ndjson"
	[ "$(delivered_ids)" -eq 8000 ] || fail "$output"
}

@test "kill -9 mid-stream, then a restart: no event missing" {
	start_intake --control '{"delay_ms":200}'
	config
	events 30000 >"$T/ev.ndjson"
	"$EXP" --config "$T/export.yml" "$T/ev.ndjson" 2>"$T/e1.err" 3>&- &
	local pid=$!
	track "$pid"
	wait_for 10 test -s "$T/dd.ndjson" || fail "nothing delivered: $(cat "$T/e1.err")"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	control '{"clear":true}'
	# The restart reads the same file again (no --state): what was spooled
	# goes out first, and duplicates are allowed, gaps are not.
	run -0 "$EXP" --config "$T/export.yml" "$T/ev.ndjson"
	[ "$(delivered_ids)" -eq 30000 ] || fail "$output"
}

@test "a spooled event survives kill -9 before delivery and goes out on the next run" {
	start_intake --fail 503
	config
	events 1000 >"$T/ev.ndjson"
	"$EXP" --config "$T/export.yml" "$T/ev.ndjson" 2>"$T/e1.err" 3>&- &
	local pid=$!
	track "$pid"
	wait_for 10 grep -q "retrying in" "$T/e1.err"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	control '{"clear":true}'
	# No input at all: the spool alone is delivered.
	run -0 "$EXP" --config "$T/export.yml" </dev/null
	[ "$(delivered_ids)" -eq 1000 ] || fail "$output"
}

@test "413 splits the batch; 400 dead-letters one batch loudly and goes on" {
	start_intake --control '{"fail":413,"count":1}'
	config
	events 3000 >"$T/ev.ndjson"
	run -0 "$EXP" --config "$T/export.yml" "$T/ev.ndjson"
	[ "$(delivered_ids)" -eq 3000 ] || fail "$output"
	[[ $output == *"413"* ]]
	control '{"fail":400,"count":1}'
	events 3000 | sed 's/ev_0/ev_1/' >"$T/ev2.ndjson"
	run "$EXP" --config "$T/export.yml" "$T/ev2.ndjson"
	[ "$status" -eq 0 ] || fail "$output"
	[[ $output == *"dead-letter"* ]] || fail "$output"
	local dead
	dead=$(grep -vc '^#' "$T/spool/dd/dead-letter.ndjson")
	[ "$dead" -ge 1 ]
	grep -q '^# dd: status 400' "$T/spool/dd/dead-letter.ndjson"
	[ $(($(delivered_ids) + dead)) -eq 6000 ]
}

@test "401 stops the destination with a clear error and keeps every event in the spool" {
	start_intake --fail 401
	config
	events 2000 >"$T/ev.ndjson"
	run -75 "$EXP" --config "$T/export.yml" --drain-timeout 5s "$T/ev.ndjson"
	[[ $output == *"stopped"* ]] || fail "$output"
	[[ $output == *"spooled=2000"* ]] || fail "$output"
	[ ! -s "$T/dd.ndjson" ]
	control '{"clear":true}'
	run -0 "$EXP" --config "$T/export.yml" </dev/null
	[ "$(delivered_ids)" -eq 2000 ] || fail "$output"
}

# reload_config KEYFILE: a Datadog destination whose key is read from
# KEYFILE, and a monitor.
reload_config() {
	cat >"$T/export.yml" <<EOF
spool: $T/spool
destinations:
  dd:
    type: datadog
    url: http://127.0.0.1:$FI_PORT/api/v2/logs
    api_key_file: $1
    batch_wait: 50ms
    timeout: 5s
monitors:
  errors:
    query: '@http.response.status_code:>=500'
    window: 1h
    critical: 1000000
EOF
}

@test "SIGHUP: a bad file changes nothing; a fixed API key resumes a destination stopped by 403, nothing lost" {
	start_intake
	echo wrong-key >"$T/key"
	reload_config "$T/key"
	mkfifo "$T/in.fifo"
	"$EXP" --config "$T/export.yml" --stats-interval 0 <"$T/in.fifo" \
	    2>"$T/exp.err" 3>&- &
	EXP_PID=$!
	track "$EXP_PID"
	exec 4>"$T/in.fifo"
	events 500 >&4
	wait_for 20 grep -q "stopped\|403" "$T/exp.err" ||
	    fail "no 403: $(cat "$T/exp.err")"

	# An invalid file: named with its position, and nothing changes.
	printf 'spool: %s\ndestinations:\n  dd: {type: datadog, sitee: x}\n' \
	    "$T/spool" >"$T/export.yml"
	kill -HUP "$EXP_PID"
	wait_for 10 grep -q "export.yml:3:[0-9]*:.*running configuration goes on" \
	    "$T/exp.err" || fail "$(cat "$T/exp.err")"
	alive "$EXP_PID" || fail "gw-export died: $(cat "$T/exp.err")"

	# The key fixed: the spool goes out, and so does what follows.
	echo "$DD_API_KEY" >"$T/key"
	reload_config "$T/key"
	kill -HUP "$EXP_PID"
	wait_for 10 grep -q "reloaded" "$T/exp.err" ||
	    fail "not reloaded: $(cat "$T/exp.err")"
	"$GEN" 500 "$(($(date +%s) - 1800))" 1700 |
	    sed 's/"event_id":"ev_/"event_id":"ev_b/' >&4
	wait_for 30 delivered_exactly 1000 ||
	    fail "delivered $(delivered_ids): $(cat "$T/exp.err")"
	# SIGUSR1: the stats line now (--stats-interval 0 prints none).
	kill -USR1 "$EXP_PID"
	wait_for 10 grep -q "stats: dd: sent=1000 " "$T/exp.err" ||
	    fail "no stats line: $(cat "$T/exp.err")"
	exec 4>&-
	wait "$EXP_PID" || fail "exit $?: $(cat "$T/exp.err")"
	grep -q "exit: dd: sent=1000 " "$T/exp.err" || fail "$(cat "$T/exp.err")"
}

@test "Loki, HTTP (NDJSON), file and stdout destinations; sources filter and select fields" {
	start_intake
	cat >"$T/export.yml" <<EOF
spool: $T/spool
destinations:
  loki:
    type: loki
    url: http://127.0.0.1:$FI_PORT/loki/api/v1/push
    compression: gzip
    batch_wait: 50ms
  hook:
    type: http
    url: http://127.0.0.1:$FI_PORT/collector
    format: ndjson
    batch_wait: 50ms
    headers: {X-Team: api}
    sources:
      filter: '@http.response.status_code:>=500'
      keep: [http.response.status_code, conn.client_ip]
  archive:
    type: file
    path: $T/archive.ndjson.zst
    compression: zstd
  out:
    type: stdout
    sources:
      events: [traffic]
      filter: '@http.request.method:DELETE'
EOF
	events 2000 >"$T/ev.ndjson"
	run -0 --separate-stderr "$EXP" --config "$T/export.yml" "$T/ev.ndjson"
	[ "$(wc -l <"$T/loki.ndjson")" -eq 2000 ]
	jq -e '.stream.job == "gw" and (.ts | test("^[0-9]{19}$"))' "$T/loki.ndjson" >/dev/null
	local fives
	fives=$(jq -c 'select(.object.http.response.status_code >= 500)' "$T/ev.ndjson" | wc -l)
	[ "$(jq -s '[.[] | select(.path == "/collector")] | map(.body | length) | add' "$T/hooks.ndjson")" -eq "$fives" ]
	jq -e 'select(.path == "/collector") | .headers["x-team"] == "api"' "$T/hooks.ndjson" >/dev/null
	# keep: the envelope and the two paths, nothing else.
	[ "$(jq -c 'select(.path == "/collector") | .body[0].object | keys' "$T/hooks.ndjson" | sort -u)" = '["conn","http"]' ]
	[ "$(zstdcat "$T/archive.ndjson.zst" | wc -l)" -eq 2000 ]
	[ "$(printf '%s\n' "$output" | jq -r .object.http.request.method | sort -u)" = DELETE ]
}

@test "syslog: RFC 5424 over TCP to a real rsyslogd, octet-counted" {
	command -v rsyslogd >/dev/null || skip "rsyslogd is not installed (scripts/install-deps)"
	local port
	port=$(free_port)
	cat >"$T/rsyslog.conf" <<EOF
module(load="imtcp")
input(type="imtcp" port="$port" address="127.0.0.1")
template(name="raw" type="string" string="%msgid% %structured-data% %msg%\n")
*.* action(type="omfile" file="$T/syslog.out" template="raw")
EOF
	rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog.pid" \
	    >"$T/rsyslog.log" 2>&1 3>&- &
	track $!
	wait_for 10 connectable "$port" || fail "rsyslogd: $(cat "$T/rsyslog.log")"
	cat >"$T/export.yml" <<EOF
spool: $T/spool
destinations:
  sys:
    type: syslog
    address: 127.0.0.1:$port
    transport: tcp
    batch_wait: 50ms
EOF
	events 500 >"$T/ev.ndjson"
	run -0 "$EXP" --config "$T/export.yml" "$T/ev.ndjson"
	wait_for 10 lines_at_least "$T/syslog.out" 500 ||
	    fail "$(wc -l <"$T/syslog.out") lines: $output"
	[ "$(wc -l <"$T/syslog.out")" -eq 500 ]
	grep -q '^http_request_complete.v0 \[gw@32473 event_id="ev_' "$T/syslog.out"
	# The message is the event's JSON, whole.
	[ "$(sed 's/^[^{]*//' "$T/syslog.out" | jq -r .event_id | sort -u | wc -l)" -eq 500 ]
}

@test "a monitor fires once and recovers once (ntfy); the dry run says the same" {
	start_intake
	local now t0
	now=$(date +%s)
	t0=$((now - 3000))
	# 20 minutes of 200s, then 5 minutes with 500s, then 200s again.
	{
		"$GEN" 400 "$t0" 1200 | jq -c '.object.http.response.status_code = 200'
		"$GEN" 100 "$((t0 + 1200))" 300 | sed 's/ev_0/ev_1/' |
		    jq -c '.object.http.response.status_code = 503'
		"$GEN" 400 "$((t0 + 1500))" 1200 | sed 's/ev_0/ev_2/' |
		    jq -c '.object.http.response.status_code = 200'
	} >"$T/ev.ndjson"
	cat >"$T/export.yml" <<EOF
spool: $T/spool
monitors:
  errors:
    query: '@http.response.status_code:>=500'
    window: 5m
    critical: 10
    message: '{{#is_alert}}{{value}} server errors in {{window}}{{/is_alert}}{{#is_recovery}}recovered{{/is_recovery}}'
    notify: [phone]
channels:
  phone:
    type: ntfy
    url: http://127.0.0.1:$FI_PORT/ntfy/gw-alerts
    priority: high
EOF
	run -0 --separate-stderr "$EXP" monitors --dry-run --config "$T/export.yml" "$T/ev.ndjson"
	[ "$(printf '%s\n' "$output" | grep -c 'OK->ALERT')" -eq 1 ] || fail "$output"
	[ "$(printf '%s\n' "$output" | grep -c 'ALERT->OK')" -eq 1 ] || fail "$output"
	# The same events through a real run notify ntfy once each way.
	run -0 "$EXP" --config "$T/export.yml" "$T/ev.ndjson"
	wait_for 10 lines_at_least "$T/hooks.ndjson" 2
	jq -r 'select(.path == "/ntfy/gw-alerts") | .body | if type == "object" then .message else . end' "$T/hooks.ndjson" >"$T/notes"
	[ "$(grep -c 'server errors' "$T/notes")" -eq 1 ] || fail "$(cat "$T/notes")"
	[ "$(grep -c 'recovered' "$T/notes")" -eq 1 ] || fail "$(cat "$T/notes")"
}

@test "bad config: file:line:col and exit 78; a missing API key names the variable; an unknown site lists the valid ones" {
	printf 'spool: /tmp/x\ndestinations:\n  dd:\n    type: datadog\n    sitee: eu\n' >"$T/a.yml"
	run -78 "$EXP" --config "$T/a.yml"
	[[ $output == *"a.yml:5:5: unknown key"*"sitee"* ]] || fail "$output"
	printf 'destinations:\n  dd:\n    type: datadog\n    site: datadoghq.ue\n' >"$T/b.yml"
	run -78 "$EXP" --config "$T/b.yml"
	[[ $output == *"b.yml:4:11: dd: unknown Datadog site 'datadoghq.ue'"*"us5.datadoghq.com"*"datadoghq.eu"* ]] || fail "$output"
	printf 'destinations:\n  dd:\n    type: datadog\n' >"$T/c.yml"
	DD_API_KEY= run -78 "$EXP" --config "$T/c.yml"
	[[ $output == *"set DD_API_KEY"* ]] || fail "$output"
	printf 'destinations:\n  h:\n    type: http\n    url: http://x\n    sources:\n      filter: "@a:[1 TO"\n' >"$T/d.yml"
	run -78 "$EXP" --config "$T/d.yml"
	[[ $output == *"d.yml:6:"*"filter:"* ]] || fail "$output"
	run -64 "$EXP" "$T/d.yml"
	[[ $output == *"--config"* ]]
}

@test "malformed lines are counted, named by line number and skipped; --state sends only what is new" {
	start_intake
	config
	{
		events 10
		echo 'not json'
		events 5 | sed 's/ev_0/ev_1/'
	} >"$T/ev.ndjson"
	run -65 "$EXP" --config "$T/export.yml" --state "$T/state" "$T/ev.ndjson"
	[[ $output == *"ev.ndjson:11: not a JSON object"* ]] || fail "$output"
	[ "$(delivered_ids)" -eq 15 ]
	# A cron re-run after the file grew sends the new lines only.
	events 7 | sed 's/ev_0/ev_2/' >>"$T/ev.ndjson"
	run "$EXP" --config "$T/export.yml" --state "$T/state" "$T/ev.ndjson"
	[ "$(wc -l <"$T/dd.ndjson")" -eq 22 ] || fail "$output"
	[ "$(delivered_ids)" -eq 22 ]
}

@test "gw-export test DEST sends one test event and prints the answer" {
	start_intake
	config
	run -0 "$EXP" test dd --config "$T/export.yml"
	[[ $output == *"the test event was delivered"* ]] || fail "$output"
	[ "$(jq -r .event_type "$T/dd.ndjson")" = test ]
	DD_API_KEY=wrong run -69 "$EXP" test dd --config "$T/export.yml"
	[[ $output == *"403"* ]] || fail "$output"
}

@test "gw-export test CHANNEL sends a test alert (PagerDuty: trigger, then resolve) and prints the answer" {
	start_intake
	config "monitors: {}
channels:
  phone: {type: ntfy, url: 'http://127.0.0.1:$FI_PORT/ntfy/gw-alerts', priority: high}
  pd: {type: pagerduty, url: 'http://127.0.0.1:$FI_PORT/v2/enqueue', routing_key_env: PD_KEY}
  gone: {type: slack, url: 'http://127.0.0.1:1/slack/x'}"
	export PD_KEY=0123456789abcdef0123456789abcdef
	run -0 "$EXP" test phone --config "$T/export.yml"
	[[ $output == *"phone: POST http://127.0.0.1:$FI_PORT/ntfy/gw-alerts: 200 "* ]] || fail "$output"
	[[ $output == *"the test notification was delivered"* ]] || fail "$output"
	jq -e 'select(.service == "ntfy") | .headers.Title // .headers.title' "$T/hooks.ndjson" |
	    grep -q "gw-export test" || fail "$(cat "$T/hooks.ndjson")"

	run -0 "$EXP" test pd --config "$T/export.yml"
	[ "$(jq -r 'select(.service == "pagerduty") | .body.event_action' "$T/hooks.ndjson" | tr '\n' ' ')" = "trigger resolve " ] ||
	    fail "$output $(cat "$T/hooks.ndjson")"

	run -69 "$EXP" test gone --config "$T/export.yml"
	[[ $output == *"not delivered"* ]] || fail "$output"
	run -64 "$EXP" test nosuch --config "$T/export.yml"
	[[ $output == *"no destination or channel named 'nosuch'"* ]] || fail "$output"
}

@test "syslog over TLS: the certificate is verified, and the frames arrive whole" {
	local port
	port=$(free_port)
	make_ca
	make_cert logs IP:127.0.0.1
	# s_server ends its connection when its stdin ends: keep it open.
	sleep 30 | openssl s_server -accept "127.0.0.1:$port" \
	    -cert "$T/logs.pem" -key "$T/logs.key" -quiet \
	    >"$T/tls.out" 2>"$T/tls.err" 3>&- &
	track $!
	wait_for 10 connectable "$port" || fail "s_server: $(cat "$T/tls.err")"
	cat >"$T/export.yml" <<EOF2
spool: $T/spool
destinations:
  sys:
    type: syslog
    address: 127.0.0.1:$port
    transport: tls
    ca_file: $T/ca.pem
    batch_wait: 50ms
EOF2
	events 200 >"$T/ev.ndjson"
	run "$EXP" --config "$T/export.yml" "$T/ev.ndjson"
	[ "$status" -eq 0 ] || fail "$output"
	wait_for 10 tls_frames_at_least 200 ||
	    fail "$(grep -o '<1[0-9][0-9]>1 ' "$T/tls.out" | wc -l) frames: $output"
	# A certificate the CA did not sign is refused; the events stay spooled.
	port=$(free_port)
	sleep 30 | openssl s_server -accept "127.0.0.1:$port" \
	    -cert "$T/logs.pem" -key "$T/logs.key" -quiet \
	    >/dev/null 2>&1 3>&- &
	track $!
	wait_for 10 connectable "$port"
	sed -i "s/address: .*/address: 127.0.0.1:$port/; s#ca_file: .*#ca_file: $T/logs.pem#" "$T/export.yml"
	rm -rf "$T/spool"
	run -75 "$EXP" --config "$T/export.yml" --drain-timeout 3s "$T/ev.ndjson"
	[[ $output == *"certificate"* ]] || fail "$output"
	[[ $output == *"spooled=200"* ]] || fail "$output"
}
