# SPDX-License-Identifier: MIT
#
# Helpers for the bats files in tests/integration: a temporary directory
# per test, free loopback ports, sample-api and gw-proxy started in the
# background and stopped again by teardown, raw HTTP over bash's /dev/tcp
# (there is no nc on the test machines), event selection with jq, and
# bounded polling.  Every wait here is a loop with a deadline: the
# machine is shared and slow at times, so nothing assumes how long a
# step takes, only how long it may take at most.
#
# Each test gets:
#   T            its own directory (BATS_TEST_TMPDIR)
#   EV, ERR      the main proxy's events ($T/events.ndjson) and stderr
#   PORT         the main proxy's port, PROXY_PID its process
#   API_PORT     the last sample-api's port, API_PID its process
# Processes are recorded in $T/pids (a file, so that helpers run in a
# subshell record them too) and teardown stops every one of them.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
# GW_BIN_DIR runs the suite against other builds (tests/run uses it for
# the sanitizer build).
BIN_DIR=${GW_BIN_DIR:-$ROOT/bin}
PROXY=$BIN_DIR/gw-proxy
API=$BIN_DIR/sample-api

# bats reads its own output on fd 3: a background process that keeps it
# open makes bats wait for it, and raw connections must use other fds.

common_setup() {
	T=$BATS_TEST_TMPDIR
	EV=$T/events.ndjson
	ERR=$T/proxy.err
	: >"$T/pids"
	: >"$T/ports"
	[ -x "$PROXY" ] || fail "$PROXY is missing: run make all"
	[ -x "$API" ] || fail "$API is missing: run make all"
}

fail() {
	printf '%s\n' "$*" >&2
	return 1
}

# track PID: teardown stops it.
# lines_at_least FILE N: FILE exists and has N lines or more.
lines_at_least() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

track() {
	echo "$1" >>"$T/pids"
}

# alive PID: the process exists and is not a zombie.
alive() {
	local st=""
	# Builtins only: this runs in tight polling loops.
	read -r st 2>/dev/null <"/proc/$1/stat" || [ -n "$st" ] || return 1
	st=${st##*) }
	st=${st%% *}
	[ -n "$st" ] && [ "$st" != Z ]
}

# wait_for SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds
# or SECONDS have passed (then returns 1).
wait_for() {
	local secs=$1 i n
	shift
	n=$((secs * 20))
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	"$@"
}

# listening PORT [PID]: something (PID, if given) listens on 127.0.0.1:PORT.
listening() {
	local out
	out=$(ss -Hltnp "sport = :$1" 2>/dev/null) || return 1
	[ -n "$out" ] || return 1
	[ -z "${2:-}" ] || [[ $out == *"pid=$2,"* ]]
}

# connectable PORT: a TCP connection to 127.0.0.1:PORT is accepted.
connectable() {
	(exec 8<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# refused PORT: a TCP connection to 127.0.0.1:PORT is refused.
refused() {
	! connectable "$1"
}

# gone PID: the process has exited.
gone() {
	! alive "$1"
}

# free_port: prints a port nobody listens on, never one already handed
# out in this test.  Picked below the kernel's ephemeral range, so that
# outgoing connections do not take it in the meantime.
free_port() {
	local p i
	for ((i = 0; i < 500; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		grep -qx "$p" "$T/ports" && continue
		listening "$p" && continue
		connectable "$p" && continue
		echo "$p" >>"$T/ports"
		echo "$p"
		return 0
	done
	fail "no free port found"
}

# start_api [NAME]: starts sample-api on a port of its choosing and reads
# the port from its first line.  Sets API_PORT and API_PID.
start_api() {
	local name=${1:-api} out line="" pid i
	out=$T/$name.out
	# A second start under the same name must not read the first one's
	# port before the new process has truncated the file.
	rm -f "$out"
	"$API" --listen 127.0.0.1:0 >"$out" 2>"$T/$name.err" 3>&- &
	pid=$!
	track "$pid"
	for ((i = 0; i < 200; i++)); do
		line=""
		read -r line 2>/dev/null <"$out" || true
		[[ $line == "listening on 127.0.0.1:"* ]] && break
		alive "$pid" || fail "sample-api exited: $(cat "$T/$name.err")" ||
		    return 1
		sleep 0.05
	done
	[[ $line == "listening on 127.0.0.1:"* ]] ||
	    fail "sample-api did not say where it listens" || return 1
	API_PORT=${line##*:}
	API_PID=$pid
}

# start_proxy_as NAME [--https] ARGS...: starts gw-proxy listening on a
# free port (https:// with --https) with ARGS, events in
# $T/events-NAME.ndjson and stderr in $T/proxy-NAME.err ("main" uses
# $EV and $ERR), and waits until that process listens on the port.  It
# asks ss rather than connecting: a probe connection would add a
# tcp_connection_closed.v0 event that tests counting events would see.
# Sets LAST_PORT and LAST_PID.  A port taken in the meantime (exit with
# "Address already in use") is retried with another.
start_proxy_as() {
	local name=$1 scheme="" ev err port pid attempt i
	shift
	if [ "${1:-}" = --https ]; then
		scheme=https://
		shift
	fi
	if [ "$name" = main ]; then
		ev=$EV
		err=$ERR
	else
		ev=$T/events-$name.ndjson
		err=$T/proxy-$name.err
	fi
	for ((attempt = 0; attempt < 5; attempt++)); do
		port=$(free_port) || return 1
		"$PROXY" --listen "${scheme}127.0.0.1:$port" "$@" \
		    >"$ev" 2>"$err" 3>&- &
		pid=$!
		track "$pid"
		for ((i = 0; i < 200; i++)); do
			listening "$port" "$pid" && break
			alive "$pid" || break
			sleep 0.05
		done
		if listening "$port" "$pid"; then
			LAST_PORT=$port
			LAST_PID=$pid
			return 0
		fi
		if alive "$pid" || ! grep -q 'in use' "$err"; then
			fail "gw-proxy $name did not start listening:" \
			    "$(cat "$err")"
			return 1
		fi
	done
	fail "gw-proxy $name: no port could be bound"
}

# start_proxy [--https] ARGS...: the test's main proxy.  Sets PORT and
# PROXY_PID.
start_proxy() {
	start_proxy_as main "$@" || return 1
	PORT=$LAST_PORT
	PROXY_PID=$LAST_PID
}

# raw PORT DATA [SECS]: opens one connection, sends DATA (printf %b
# escapes: \r, \n, \0, \xHH), and prints everything the server sends
# until it closes the connection.  Returns 124 if it did not close within
# SECS (default 5) seconds.
raw() (
	trap '' PIPE
	exec 7<>"/dev/tcp/127.0.0.1/$1" || exit 1
	printf '%b' "$2" >&7
	timeout "${3:-5}" cat <&7
)

# status_of TEXT: the status code of the first response in TEXT.
status_of() {
	printf '%s\n' "$1" | head -n1 | tr -d '\r' | cut -d' ' -f2
}

# events_of TYPE [FILE]: the events of that type, one compact JSON per
# line.  A line being written at that moment is skipped, not an error.
events_of() {
	jq -cR --arg t "$1" 'fromjson? | select(.event_type == $t)' \
	    "${2:-$EV}"
}

# count_events TYPE [FILE]
count_events() {
	events_of "$@" | wc -l
}

# has_events TYPE N [FILE]: at least N events of that type.
has_events() {
	[ "$(count_events "$1" "${3:-$EV}")" -ge "$2" ]
}

# wait_events TYPE N [FILE]: waits (10 s at most) for N events of TYPE.
wait_events() {
	wait_for 10 has_events "$@" ||
	    fail "expected $2 $1 events in ${3:-$EV}, got" \
	        "$(count_events "$1" "${3:-$EV}")"
}

# last_exchange [FILE]: the last http_request_complete.v0 event.
last_exchange() {
	events_of http_request_complete.v0 "${1:-$EV}" | tail -n1
}

# ok_after: a normal request on a new connection still works.
ok_after() {
	local body
	body=$(curl -sS --max-time 20 "http://127.0.0.1:$PORT/healthz") ||
	    fail "the proxy no longer answers" || return 1
	[ "$body" = '{"ok":true}' ] || fail "unexpected body: $body"
}

# rss_kb PID: sets RSS to the resident set size of PID in KiB (0 if
# gone).  Builtins only, for sampling loops.
rss_kb() {
	local k v rest
	RSS=0
	while read -r k v rest; do
		if [ "$k" = VmRSS: ]; then
			RSS=$v
			return 0
		fi
	done 2>/dev/null <"/proc/$1/status"
	return 0
}

# upstream_busy PORT: a connection to 127.0.0.1:PORT is established.
upstream_busy() {
	[ -n "$(ss -Htn state established "( dport = :$1 )" 2>/dev/null)" ]
}

# make_ca: a CA in $T/ca.pem and $T/ca.key.
make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 \
	    -subj /CN=gw-test-ca \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign 2>"$T/openssl.err"
}

# make_cert NAME SAN: $T/NAME.pem and $T/NAME.key, signed by make_ca's CA,
# subject CN=NAME, subjectAltName SAN (e.g. "DNS:a.test").
make_cert() {
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
	    "$2" >"$T/$1.ext"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=$1" \
	    2>>"$T/openssl.err" &&
	    openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" \
	        -CAkey "$T/ca.key" -CAcreateserial -days 2 \
	        -extfile "$T/$1.ext" -out "$T/$1.pem" 2>>"$T/openssl.err"
}

# Stops everything the test started: TERM, up to 5 s, then KILL, and
# reaps.  On failure, shows the proxies' stderr and last events.
common_teardown() {
	local pid i f
	[ -n "${T:-}" ] && [ -f "$T/pids" ] || return 0
	while read -r pid; do
		kill -TERM "$pid" 2>/dev/null || true
	done <"$T/pids"
	while read -r pid; do
		for ((i = 0; i < 100; i++)); do
			alive "$pid" || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done <"$T/pids"
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		for f in "$T"/proxy*.err; do
			[ -s "$f" ] || continue
			echo "# --- $f"
			tail -n 20 "$f"
		done
		for f in "$T"/events*.ndjson; do
			[ -s "$f" ] || continue
			echo "# --- $f (last 5)"
			tail -n 5 "$f"
		done
	fi
	return 0
}
