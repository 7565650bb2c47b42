#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Self-test of fake-intake: starts the binary given (default
# bin/fake-intake) on a free loopback port in a temporary directory,
# checks each endpoint's answers, the record files, every failure the
# control endpoint injects and the body bounds, then stops it with SIGTERM
# and wants exit status 0 and nothing on stderr but the expected warnings
# (so that an ASan build's reports fail the run).  Needs curl, jq, gzip,
# zstd and python3.  Ends with "N passed, N failed"; exits 1 on a failure.
#
#   tests/fake-intake/selftest.sh [BINARY]
set -u

BIN=${1:-bin/fake-intake}
T=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
ko() {
	fail=$((fail + 1))
	echo "FAIL: $*"
}

"$BIN" --listen 127.0.0.1:0 --api-key k1 --record "$T/dd" \
    --record-loki "$T/loki" --record-hooks "$T/hooks" >"$T/out" 2>"$T/err" &
PID=$!
for _ in $(seq 100); do
	grep -q '^listening on ' "$T/out" 2>/dev/null && break
	sleep 0.05
done
U=http://$(sed -n 's/^listening on //p' "$T/out")
[[ $U == http://127.0.0.1:* ]] || {
	echo "fake-intake did not start: $(cat "$T/err")"
	exit 1
}

# expect STATUS NAME CURL-ARGS...: one request, its status and body.
expect() {
	local want=$1 name=$2 got
	shift 2
	got=$(curl -s -o "$T/body" -w '%{http_code}' "$@")
	if [[ $got == "$want" ]]; then
		ok
	else
		ko "$name: status $got, want $want: $(head -c 300 "$T/body")"
	fi
}
# body_has TEXT NAME: the last body contains TEXT.
body_has() {
	if grep -qF -- "$1" "$T/body"; then ok; else
		ko "$2: body lacks $1: $(head -c 300 "$T/body")"
	fi
}
lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
ctl() { curl -s -o /dev/null -X POST "$U/_control" -d "$1"; }

DD=(-X POST "$U/api/v2/logs" -H 'DD-API-KEY: k1')
J=(-H 'Content-Type: application/json')
now=$(($(date +%s) * 1000))
printf '[{"message":"a","event_id":"e1","timestamp":%s},\n {"message":"b", "event_id":"e2"}]' \
    "$now" >"$T/b.json"
gzip -c "$T/b.json" >"$T/b.gz"
zstd -q -c "$T/b.json" >"$T/b.zst"
python3 -c 'import sys,zlib; d=open(sys.argv[1],"rb").read()
open(sys.argv[2],"wb").write(zlib.compress(d))
c=zlib.compressobj(wbits=-15); open(sys.argv[3],"wb").write(c.compress(d)+c.flush())' \
    "$T/b.json" "$T/b.zlib" "$T/b.raw"

# Datadog.
expect 202 "dd gzip" "${DD[@]}" "${J[@]}" -H 'Content-Encoding: gzip' \
    --data-binary @"$T/b.gz"
body_has '{}' "dd gzip"
expect 202 "dd zstd" "${DD[@]}" "${J[@]}" -H 'Content-Encoding: zstd' \
    --data-binary @"$T/b.zst"
expect 202 "dd deflate" "${DD[@]}" "${J[@]}" -H 'Content-Encoding: deflate' \
    --data-binary @"$T/b.zlib"
expect 400 "dd raw deflate" "${DD[@]}" "${J[@]}" \
    -H 'Content-Encoding: deflate' --data-binary @"$T/b.raw"
expect 202 "dd identity, one object" "${DD[@]}" "${J[@]}" \
    --data-binary '{"message":"single"}'
[[ $(lines "$T/dd") == 7 ]] && ok || ko "dd record: $(lines "$T/dd") lines"
[[ $(jq -s 'map(select(.event_id=="e1"))|length' "$T/dd") == 3 ]] && ok ||
	ko "dd record: e1 not 3 times"
grep -qxF '{"message":"b","event_id":"e2"}' "$T/dd" && ok ||
	ko "dd record not compact"
expect 401 "dd no key" -X POST "$U/api/v2/logs" "${J[@]}" -d '[]'
body_has '"errors":[{"status":"401"' "dd no key"
expect 403 "dd bad key" -X POST "$U/api/v2/logs" -H 'DD-API-KEY: x' \
    "${J[@]}" -d '[]'
expect 400 "dd form type" "${DD[@]}" -d '[]'
expect 202 "dd text/plain" "${DD[@]}" -H 'Content-Type: text/plain' \
    --data-binary $'one\ntwo\n'
expect 400 "dd br" "${DD[@]}" "${J[@]}" -H 'Content-Encoding: br' -d '[]'
expect 400 "dd truncated gzip" "${DD[@]}" "${J[@]}" \
    -H 'Content-Encoding: gzip' --data-binary @<(head -c 20 "$T/b.gz")
for bad in 'x' '[{"a":1},]' '[1]' '[{"a":01}]' '[{"a":1}] x' \
    '[{"a":"\q"}]' '[{"a":tru}]' '[{"a" 1}]' '{"a":[1,]}' ''; do
	expect 400 "dd bad json $bad" "${DD[@]}" "${J[@]}" --data-binary "$bad"
done
printf '[{"a":"\xff"}]' >"$T/bad8"
expect 400 "dd bad utf-8" "${DD[@]}" "${J[@]}" --data-binary @"$T/bad8"
python3 -c 'import json; print(json.dumps([{"m":i} for i in range(1001)]))' \
    >"$T/e1001"
expect 413 "dd 1001 entries" "${DD[@]}" "${J[@]}" --data-binary @"$T/e1001"
python3 -c 'import json; print(json.dumps([{"m":"x"*6000} for i in range(900)]))' |
	gzip -c >"$T/big.gz"
expect 413 "dd over 5 MB" "${DD[@]}" "${J[@]}" -H 'Content-Encoding: gzip' \
    --data-binary @"$T/big.gz"
head -c 1000000000 /dev/zero | gzip -1 -c >"$T/bomb.gz"
expect 413 "dd gzip bomb" "${DD[@]}" "${J[@]}" -H 'Content-Encoding: gzip' \
    --data-binary @"$T/bomb.gz"
python3 -c 'import json; print(json.dumps([{"m":"x"*1100000},{"m":1}]))' \
    >"$T/e1m"
expect 202 "dd entry over 1 MB" "${DD[@]}" "${J[@]}" --data-binary @"$T/e1m"
expect 202 "dd old entry" "${DD[@]}" "${J[@]}" \
    -d '[{"timestamp":1000,"message":"old"}]'
expect 405 "dd GET" "$U/api/v2/logs"
expect 413 "over 64 MiB" "${DD[@]}" "${J[@]}" -H 'Content-Length: 70000000' \
    -d x

# Loki.
ns=$(date +%s%N)
LK=(-X POST "$U/loki/api/v1/push" "${J[@]}")
expect 204 "loki" "${LK[@]}" -d '{"streams":[{"stream":{"job":"gw"},"values":[["'"$ns"'","l1"],["'"$ns"'","l2",{"k":"v"}]]}]}'
echo '{"streams":[{"stream":{"job":"gz"},"values":[["'"$ns"'","g"]]}]}' |
	gzip -c >"$T/l.gz"
expect 204 "loki gzip" "${LK[@]}" -H 'Content-Encoding: gzip' \
    --data-binary @"$T/l.gz"
expect 400 "loki zstd" "${LK[@]}" -H 'Content-Encoding: zstd' \
    --data-binary @"$T/b.zst"
expect 400 "loki protobuf" -X POST "$U/loki/api/v1/push" \
    -H 'Content-Type: application/x-protobuf' -d x
for bad in '{}' '{"streams":{}}' '{"streams":[{"stream":{},"values":[]}]}' \
    '{"streams":[{"stream":{"a-b":"x"},"values":[]}]}' \
    '{"streams":[{"stream":{"a":"1"},"values":[[1,"x"]]}]}' \
    '{"streams":[{"stream":{"a":"1"},"values":[["1x","x"]]}]}' \
    '{"streams":[{"stream":{"a":"1"},"values":[["1000","old"]]}]}' \
    '{"streams":[{"stream":{"a":"1"},"values":[["'"$ns"'",1]]}]}' \
    '{"streams":[{"stream":{"a":"1"},"values":[["'"$ns"'","x",{"k":1}]]}]}' \
    '{"streams":[{"stream":{"a":"1"},"values":[["'"$ns"'","kept?"]]},{"stream":{"1":"x"},"values":[]}]}'; do
	expect 400 "loki bad $bad" "${LK[@]}" -d "$bad"
done
[[ $(lines "$T/loki") == 3 ]] && ok || ko "loki record: $(lines "$T/loki")"
[[ $(jq -sc '.[1]' "$T/loki") == '{"stream":{"job":"gw"},"ts":"'"$ns"'","line":"l2","metadata":{"k":"v"}}' ]] &&
	ok || ko "loki record: $(sed -n 2p "$T/loki")"

# Notifications and webhooks.
expect 200 "ntfy" -X POST "$U/ntfy/gw-oncall" -H 'Title: t' -H 'Priority: high' \
    -d 'msg'
body_has '"priority":4' "ntfy"
expect 200 "ntfy json" -X POST "$U/ntfy/" -d '{"topic":"a","message":"m"}'
expect 400 "ntfy topic" -X POST "$U/ntfy/a.b" -d 'msg'
body_has '"code":40009' "ntfy topic"
expect 400 "ntfy priority" -X POST "$U/ntfy/a" -H 'X-Priority: 9' -d 'msg'
expect 400 "ntfy json" -X POST "$U/ntfy/" -d '{"topic":'
expect 200 "slack" -X POST "$U/services/T/B/X" "${J[@]}" -d '{"text":"hi"}'
body_has 'ok' "slack"
expect 400 "slack no text" -X POST "$U/slack/x" "${J[@]}" -d '{"a":1}'
RK=R0UTINGKEY0000000000000000000000
PD=(-X POST "$U/v2/enqueue" "${J[@]}")
expect 202 "pd trigger" "${PD[@]}" -d '{"routing_key":"'$RK'","event_action":"trigger","dedup_key":"k","payload":{"summary":"s","source":"h","severity":"error"}}'
body_has '"dedup_key":"k"' "pd trigger"
expect 202 "pd resolve" "${PD[@]}" -d '{"routing_key":"'$RK'","event_action":"resolve","dedup_key":"k"}'
expect 400 "pd no payload" "${PD[@]}" -d '{"routing_key":"'$RK'","event_action":"trigger"}'
expect 400 "pd short key" "${PD[@]}" -d '{"routing_key":"x","event_action":"resolve","dedup_key":"k"}'
expect 400 "pd severity" "${PD[@]}" -d '{"routing_key":"'$RK'","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"bad"}}'
expect 200 "webhook" -X POST "$U/hook?x=1" "${J[@]}" -H 'X-A: 1' -H 'X-A: 2' \
    -d '{"a":1}'
printf '{"a":1}\n{"a":2}\n' | gzip -c >"$T/nd.gz"
expect 200 "webhook ndjson" -X POST "$U/collector" \
    -H 'Content-Type: application/x-ndjson' -H 'Content-Encoding: gzip' \
    --data-binary @"$T/nd.gz"
[[ $(lines "$T/hooks") == 7 ]] && ok || ko "hooks record: $(lines "$T/hooks")"
[[ $(jq -sc '.[5]|[.service,.query,.headers["x-a"],.body]' "$T/hooks") == '["webhook","x=1","1, 2",{"a":1}]' ]] &&
	ok || ko "hooks record: $(sed -n 6p "$T/hooks")"
[[ $(jq -sc '.[6]|[.body,.ndjson]' "$T/hooks") == '[[{"a":1},{"a":2}],true]' ]] &&
	ok || ko "hooks ndjson: $(sed -n 7p "$T/hooks")"
expect 404 "GET unknown" "$U/nothing"

# Failure injection: failed requests record nothing.
n0=$(lines "$T/dd")
ctl '{"fail":429,"retry_after":2,"count":2}'
expect 429 "429 1" "${DD[@]}" "${J[@]}" -D "$T/h" -d '[{"m":1}]'
grep -qi '^retry-after: 2' "$T/h" && ok || ko "no Retry-After"
expect 429 "429 2" "${DD[@]}" "${J[@]}" -d '[{"m":1}]'
expect 202 "429 over" "${DD[@]}" "${J[@]}" -d '[{"m":1}]'
ctl '{"fail":503,"for_ms":300}'
expect 503 "503 for" "${DD[@]}" "${J[@]}" -d '[{"m":1}]'
sleep 0.35
expect 202 "503 over" "${DD[@]}" "${J[@]}" -d '[{"m":1}]'
ctl '{"fail":"reset","count":1}'
expect 000 "reset" "${DD[@]}" "${J[@]}" -d '[{"m":1}]'
ctl '{"fail":401}'
expect 401 "401 until cleared" "${DD[@]}" "${J[@]}" -d '[{"m":1}]'
expect 401 "401 until cleared 2" "${DD[@]}" "${J[@]}" -d '[{"m":1}]'
ctl '{"clear":true}'
ctl '{"fail":500,"path":"/loki"}'
expect 202 "scoped rule, other path" "${DD[@]}" "${J[@]}" -d '[{"m":1}]'
expect 500 "scoped rule" "${LK[@]}" -d '{"streams":[]}'
ctl '{"clear":true}'
ctl '{"delay_ms":400,"count":1}'
t0=$(date +%s%N)
expect 202 "delay" "${DD[@]}" "${J[@]}" -d '[{"m":1}]'
(($(date +%s%N) - t0 >= 400000000)) && ok || ko "delay too short"
[[ $(($(lines "$T/dd") - n0)) == 4 ]] && ok ||
	ko "injected failures recorded: $(($(lines "$T/dd") - n0)) new lines, want 4"
expect 400 "bad control" -X POST "$U/_control" -d '{"fail":200}'
expect 200 "stats" "$U/_stats"
[[ $(jq .injected "$T/body") == 7 && $(jq .resets "$T/body") == 1 ]] && ok ||
	ko "stats: $(cat "$T/body")"

# Pipelining and garbage on raw sockets.
python3 - "${U#http://}" >"$T/py" 2>&1 <<'EOF' && ok || ko "raw sockets: $(cat "$T/py")"
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
def conv(data):
    s = socket.create_connection((host, int(port)))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d
b = b'[{"message":"p"}]'
req = (b"POST /api/v2/logs HTTP/1.1\r\nDD-API-KEY: k1\r\nContent-Type: "
       b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b))
r = conv(req * 5 + b"GET /_stats HTTP/1.1\r\n\r\n")
assert r.count(b"HTTP/1.1 202 Accepted") == 5 and r.count(b"200 OK") == 1, r
assert conv(b"\x00garbage\r\n\r\n").startswith(b"HTTP/1.1 400 "), "garbage"
assert conv(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n").startswith(
    b"HTTP/1.1 414 "), "414"
EOF

kill -TERM "$PID"
wait "$PID"
rc=$?
[[ $rc == 0 ]] && ok || ko "exit status $rc on SIGTERM"
if grep -v '^fake-intake: warning: ' "$T/err" | grep -q .; then
	ko "stderr: $(grep -v '^fake-intake: warning: ' "$T/err" | head -20)"
else
	ok
fi
echo "$pass passed, $fail failed"
((fail == 0))
