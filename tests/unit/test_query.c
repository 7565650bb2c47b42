/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the query language (lib/query.h).  The table runs every
 * query against seven events of the shapes docs/PROTOCOL.md gives (three
 * HTTP exchanges, one without a response, a connection, two audit events)
 * and says which match; error rows give the exact column and message.
 * Every row is also run against summaries of the same events, built by
 * hand and by lib/evsum.c: whenever a summary decides (0 or 1), it must
 * agree with the whole event, and a query that says it is decided by
 * summaries alone must never answer -1.  Random queries assembled from
 * the table's atoms are held to the same promise.
 */
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "evsum.h"
#include "harness.h"
#include "query.h"
#include "timeutil.h"

#define NEV 7

/*
 * E0 a proxied POST with full capture (201), E1 a rate-limited GET (429),
 * E2 a replayed GET from IPv6 that gw answered 502, E3 a closed
 * connection, E4 endpoint_started, E5 policy_rejected, E6 a PROPFIND the
 * client abandoned before any response (no http.response).
 */
static const char *const events[NEV] = {
	"{\"event_id\":\"ev_3MYnmLfguE7CD4G9UaerzcKbXwB\",\"event_type\":"
	"\"http_request_complete.v0\",\"event_timestamp\":\"2026-11-24T16:08:"
	"46.123456Z\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":"
	"\"203.0.113.7\",\"client_port\":51234,\"server_ip\":\"198.51.100.10\","
	"\"server_name\":\"api.example.com\",\"server_port\":443,\"start_ts\":"
	"\"2026-11-24T16:08:45.902113Z\"},\"http\":{\"request\":{\"method\":"
	"\"POST\",\"version\":\"HTTP/1.1\",\"url\":{\"raw\":\"https://api."
	"example.com/v1/orders?dry_run=1\",\"scheme\":\"https\",\"host\":\"api."
	"example.com\",\"path\":\"/v1/orders\",\"query\":\"dry_run=1\"},"
	"\"headers\":{\"Host\":[\"api.example.com\"],\"User-Agent\":[\"curl/8."
	"5.0\"],\"Authorization\":[\"[REDACTED]\"],\"Accept\":[\"application/"
	"json\",\"text/plain\"]},\"user_agent\":\"curl/8.5.0\",\"body_length\":"
	"7,\"first_byte_ts\":\"2026-11-24T16:08:45.910000Z\",\"last_byte_ts\":"
	"\"2026-11-24T16:08:45.911000Z\",\"body\":\"{\\\"n\\\":1}\","
	"\"body_encoding\":\"text\",\"body_truncated\":false,"
	"\"headers_truncated\":false},\"response\":{\"status_code\":201,"
	"\"headers\":{\"Content-Type\":[\"application/json\"],\"Set-Cookie\":"
	"[\"[REDACTED]\",\"[REDACTED]\"]},\"body_length\":8,\"first_byte_ts\":"
	"\"2026-11-24T16:08:46.034000Z\",\"last_byte_ts\":\"2026-11-24T16:08:"
	"46.035000Z\",\"body\":\"{\\\"id\\\":7}\",\"body_encoding\":\"text\","
	"\"body_truncated\":false,\"headers_truncated\":false}},\"backend\":{"
	"\"connection_reused\":true,\"url\":\"http://127.0.0.1:3000\","
	"\"connect_ns\":0,\"response_ns\":120000000},\"tls\":{\"version\":\"1."
	"3\",\"cipher_suite\":\"TLS_AES_128_GCM_SHA256\"},\"duration_ns\":"
	"125000000,\"traffic_policy\":{\"rules_matched\":[\"tag-orders\"],"
	"\"action\":\"continue\"}}}",

	"{\"event_id\":\"ev_3MYnoP8IXknrql7n5qF9yQY9klk\",\"event_type\":"
	"\"http_request_complete.v0\",\"event_timestamp\":\"2026-11-24T16:09:"
	"02.500210Z\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":"
	"\"127.0.0.1\",\"client_port\":40122,\"server_ip\":\"127.0.0.1\","
	"\"server_name\":\"localhost\",\"server_port\":8080,\"start_ts\":\"2026-"
	"11-24T16:09:02.499001Z\"},\"http\":{\"request\":{\"method\":\"GET\","
	"\"version\":\"HTTP/1.1\",\"url\":{\"raw\":\"http://localhost:8080/v1/"
	"items\",\"scheme\":\"http\",\"host\":\"localhost\",\"path\":\"/v1/"
	"items\",\"query\":\"\"},\"headers\":{\"Host\":[\"localhost:8080\"],"
	"\"User-Agent\":[\"wrk\"]},\"user_agent\":\"wrk\",\"body_length\":0,"
	"\"first_byte_ts\":\"2026-11-24T16:09:02.499950Z\",\"last_byte_ts\":"
	"\"2026-11-24T16:09:02.499950Z\",\"headers_truncated\":false},"
	"\"response\":{\"status_code\":429,\"headers\":{\"Retry-After\":[\"1\"],"
	"\"Content-Length\":[\"0\"]},\"body_length\":0,\"first_byte_ts\":\"2026-"
	"11-24T16:09:02.500180Z\",\"last_byte_ts\":\"2026-11-24T16:09:02."
	"500180Z\",\"headers_truncated\":false}},\"duration_ns\":230000,"
	"\"error\":{\"code\":\"GW_RATE_LIMITED\",\"message\":\"rate limit "
	"\\\"per-ip\\\" exceeded\"},\"traffic_policy\":{\"rules_matched\":"
	"[\"per-ip\"],\"action\":\"respond\"}}}",

	"{\"event_id\":\"ev_3MYnp0000000000000000000A2\",\"event_type\":"
	"\"http_request_complete.v0\",\"event_timestamp\":\"2026-11-24T17:30:"
	"00.000001Z\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":"
	"\"2001:db8::7\",\"client_port\":50000,\"server_ip\":\"2001:db8::1\","
	"\"server_name\":\"api.example.com\",\"server_port\":443,\"start_ts\":"
	"\"2026-11-24T17:29:57.000000Z\"},\"http\":{\"request\":{\"method\":"
	"\"GET\",\"version\":\"HTTP/1.1\",\"url\":{\"raw\":\"https://api."
	"example.com:8443/api/users?page=2&q=caf%C3%A9+au+lait&tag=a&tag=b&"
	"empty\",\"scheme\":\"https\",\"host\":\"api.example.com\",\"path\":"
	"\"/api/users\",\"query\":\"page=2&q=caf%C3%A9+au+lait&tag=a&tag=b&"
	"empty\"},\"headers\":{\"Host\":[\"api.example.com:8443\"],\"User-"
	"Agent\":[\"python-requests/2.31\"],\"X-Forwarded-For\":[\"10.0.0.5\","
	"\"192.168.1.9\"],\"Content-Length\":[\"1234\"],\"Referer\":[\"https://"
	"example.com/\"]},\"user_agent\":\"python-requests/2.31\","
	"\"body_length\":0,\"first_byte_ts\":\"2026-11-24T17:29:57.500000Z\","
	"\"last_byte_ts\":\"2026-11-24T17:29:57.500000Z\","
	"\"headers_truncated\":false},\"response\":{\"status_code\":502,"
	"\"headers\":{\"Content-Type\":[\"text/plain\"],\"Content-Length\":"
	"[\"999\"]},\"body_length\":15,\"first_byte_ts\":\"2026-11-24T17:30:"
	"00.000000Z\",\"last_byte_ts\":\"2026-11-24T17:30:00.000001Z\","
	"\"headers_truncated\":false}},\"duration_ns\":2500000000,\"error\":{"
	"\"code\":\"GW_UPSTREAM_REFUSED\",\"message\":\"connect 127.0.0.1:3000: "
	"Connection refused\"},\"replay_of\":\"ev_3MYnmLfguE7CD4G9UaerzcKbXwB\","
	"\"basic_auth\":{\"decision\":\"allow\",\"username\":\"alice\"},"
	"\"traffic_policy\":{\"rules_matched\":[\"auth\",\"log-all\"],"
	"\"action\":\"continue\",\"logs\":[{\"metadata\":{\"message\":\"hello "
	"world\",\"level\":3}},{\"metadata\":{\"message\":\"second\"}}]}}}",

	"{\"event_id\":\"ev_3MYnmxi8rXcvMTXiq1HRFbAvjPH\",\"event_type\":"
	"\"tcp_connection_closed.v0\",\"event_timestamp\":\"2026-11-24T16:08:"
	"51.000000Z\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":"
	"\"203.0.113.7\",\"client_port\":51234,\"server_ip\":\"198.51.100.10\","
	"\"server_name\":\"api.example.com\",\"server_port\":443,\"start_ts\":"
	"\"2026-11-24T16:08:45.902113Z\",\"end_ts\":\"2026-11-24T16:08:51."
	"000000Z\",\"bytes_in\":3437,\"bytes_out\":90256}}}",

	"{\"event_id\":\"ev_3MYnmKkogTIpwYAQogWB1oaB3cL\",\"event_type\":"
	"\"endpoint_started.v0\",\"event_timestamp\":\"2026-11-24T16:08:46."
	"000000Z\",\"principal\":{\"source\":\"cli\",\"subject\":\"alice@gw-"
	"host-1\"},\"object\":{\"listen\":\"127.0.0.1:8080\",\"upstream\":"
	"\"http://127.0.0.1:3000\",\"tls\":false,\"policy\":\"run/policy."
	"sock\",\"policy_fail_open\":false,\"full_capture\":true}}",

	"{\"event_id\":\"ev_3MYpAQ4qD52u2p7WD9mWvion57W\",\"event_type\":"
	"\"policy_rejected.v0\",\"event_timestamp\":\"2026-11-24T16:20:11."
	"031337Z\",\"principal\":{\"source\":\"signal\",\"subject\":\"alice@gw-"
	"host-1\"},\"object\":{\"file\":\"policy.yml\",\"sha256\":\"9f2c\","
	"\"previous_sha256\":\"4be1\",\"error\":\"policy.yml:12:9: unknown "
	"action \\\"rate_limit\\\" (did you mean \\\"rate-limit\\\"?)\"}}",

	"{\"event_id\":\"ev_3MYnq0000000000000000000A6\",\"event_type\":"
	"\"http_request_complete.v0\",\"event_timestamp\":\"2026-11-24T18:00:"
	"00.000000Z\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":"
	"\"::ffff:10.1.2.3\",\"client_port\":41000,\"server_ip\":\"10.0.0.1\","
	"\"server_name\":\"\",\"server_port\":8080,\"start_ts\":\"2026-11-24T17:"
	"59:59.000000Z\"},\"http\":{\"request\":{\"method\":\"PROPFIND\","
	"\"version\":\"HTTP/1.0\",\"url\":{\"raw\":\"/dav/\",\"scheme\":"
	"\"http\",\"host\":\"Internal.Example.COM\",\"path\":\"/dav/\","
	"\"query\":\"\"},\"user_agent\":\"\",\"body_length\":0,"
	"\"first_byte_ts\":\"2026-11-24T17:59:59.100000Z\",\"last_byte_ts\":"
	"null}},\"duration_ns\":900000000,\"error\":{\"code\":"
	"\"GW_CLIENT_CLOSED\",\"message\":null}}}",
};

/*
 * A row: a query and, for E0..E6, whether it matches ("0110001"); or
 * "!COL: text" for a syntax error at column COL whose message starts
 * with text.
 */
struct row {
	const char *q;
	const char *want;
};

/* clang-format off */
static const struct row rows[] = {
	/* everything */
	{ "", "1111111" },
	{ "   \t ", "1111111" },
	{ "*", "1111111" },
	{ "*:*", "1111111" },
	{ "(*)", "1111111" },

	/* free text: summary lines are
	 * E0 "POST /v1/orders?dry_run=1 201 api.example.com"
	 * E1 "GET /v1/items 429 localhost"
	 * E2 "GET /api/users?page=2&q=caf%C3%A9+au+lait&tag=a&tag=b&empty 502 api.example.com"
	 * E3..E5 their event_type, E6 "PROPFIND /dav/ Internal.Example.COM" */
	{ "POST", "1000000" },
	{ "post", "1000000" },
	{ "PoSt", "1000000" },
	{ "GET", "0110000" },
	{ "get", "0110000" },
	{ "orders", "1000000" },
	{ "order", "0000000" },
	{ "order*", "1000000" },
	{ "ORDER*", "1000000" },
	{ "*rders", "1000000" },
	{ "*rder", "0000000" },
	{ "o?ders", "1000000" },
	{ "/v1/orders", "1000000" },
	{ "v1", "1100000" },
	{ "/v1/*", "1100000" },
	{ "*/orders", "1000000" },
	{ "GET*429", "0000000" },
	{ "\"GET /api/users\"", "0010000" },
	{ "\"get /API/users\"", "0010000" },
	{ "\"GET /v1\"", "0100000" },
	{ "\"/api/users 502\"", "0000000" },
	{ "\"/v1/items 429\"", "0100000" },
	{ "\"items-429\"", "0100000" },
	{ "\"*items*\"", "0100000" },
	{ "201", "1000000" },
	{ "20", "0000000" },
	{ "5*", "0010000" },
	{ "api.example.com", "1010000" },
	{ "example", "1010001" },
	{ "example.COM", "1010001" },
	{ "localhost", "0100000" },
	{ "tcp_connection_closed", "0001000" },
	{ "tcp", "0000000" },
	{ "tcp*", "0001000" },
	{ "endpoint_started.v0", "0000100" },
	{ "v0", "0001110" },
	{ "dry_run", "1000000" },
	{ "dry", "0000000" },
	{ "dry*", "1000000" },
	{ "caf*", "0010000" },
	{ "propfind", "0000001" },
	{ "\"\"", "1111111" },
	{ "/", "1110001" },
	{ "?=", "0010000" },
	{ "=?", "1010000" },
	{ "message:orders", "1000000" },
	{ "message:\"GET /v1\"", "0100000" },
	{ "message:(GET OR POST)", "1110000" },
	{ "message:*", "1111111" },

	/* boolean structure and precedence */
	{ "POST OR localhost", "1100000" },
	{ "GET localhost", "0100000" },
	{ "GET -localhost", "0010000" },
	{ "GET OR POST localhost", "0110000" },
	{ "(GET OR POST) localhost", "0100000" },
	{ "GET OR POST AND localhost", "0110000" },
	{ "POST AND localhost OR GET", "0110000" },
	{ "POST localhost OR GET api", "0010000" },
	{ "GET && localhost", "0100000" },
	{ "POST || localhost", "1100000" },
	{ "NOT GET", "1001111" },
	{ "NOT (GET OR POST)", "0001111" },
	{ "NOT(GET)", "1001111" },
	{ "-GET -POST", "0001111" },
	{ "-(GET OR POST)", "0001111" },
	{ "--GET", "0110000" },
	{ "NOT NOT GET", "0110000" },
	{ "NOT -GET", "0110000" },
	{ "+GET", "0110000" },
	{ "GET NOT localhost", "0010000" },
	{ "GET AND NOT localhost", "0010000" },
	{ "(((GET)))", "0110000" },
	{ "GET OR(POST)", "1110000" },
	{ "GET AND(localhost)", "0100000" },
	{ "( GET OR POST )", "1110000" },
	{ "GET\tOR\nPOST", "1110000" },
	{ "NOTE", "0000000" },
	{ "ORDERS", "1000000" },
	{ "ANDROID OR orders", "1000000" },
	{ "\"and\"", "0000000" },
	{ "\"or\" OR GET", "0110000" },
	{ "@http.method:GET OR @http.status_code:201 @http.method:POST",
	    "1110000" },
	{ "@http.status_code:(201 OR 429) -@http.method:POST", "0100000" },
	{ "(@http.method:GET OR @http.method:POST) @http.status_code:>=400",
	    "0110000" },

	/* numbers */
	{ "@http.response.status_code:201", "1000000" },
	{ "@object.http.response.status_code:201", "1000000" },
	{ "@http.status_code:201", "1000000" },
	{ "@http.status_code:>=400", "0110000" },
	{ "@http.status_code:>400", "0110000" },
	{ "@http.status_code:<429", "1000000" },
	{ "@http.status_code:<=429", "1100000" },
	{ "@http.status_code:>=-1", "1110000" },
	{ "@http.status_code:[400 TO 499]", "0100000" },
	{ "@http.status_code:[429 TO 502]", "0110000" },
	{ "@http.status_code:{429 TO 502}", "0000000" },
	{ "@http.status_code:[429 TO 502}", "0100000" },
	{ "@http.status_code:{429 TO 502]", "0010000" },
	{ "@http.status_code:[ 429   TO   502 ]", "0110000" },
	{ "@http.status_code:[500 TO *]", "0010000" },
	{ "@http.status_code:[* TO 300]", "1000000" },
	{ "@http.status_code:[* TO *]", "1110000" },
	{ "@http.status_code:[\"400\" TO \"499\"]", "0100000" },
	{ "@http.status_code:5*", "0010000" },
	{ "@http.status_code:?0?", "1010000" },
	{ "@http.status_code:*", "1110000" },
	{ "-@http.status_code:*", "0001111" },
	{ "@http.status_code:(201 OR 429)", "1100000" },
	{ "@http.status_code:(>=500 OR <300)", "1010000" },
	{ "@http.status_code:(>=400 -429)", "0010000" },
	{ "@http.status_code:(NOT 429 AND >300)", "0010000" },
	{ "@http.status_code:2.01e2", "1000000" },
	{ "@http.status_code:+201", "1000000" },
	{ "@http.status_code:\"201\"", "1000000" },
	{ "@http.status_code:abc", "0000000" },
	{ "@http.status_code:>abc", "0000000" },
	{ "@http.status_code:<abc", "1110000" },
	{ "http.status_code:429", "0100000" },
	{ "@duration:>100000000", "1010001" },
	{ "@duration:>=2.5e9", "0010000" },
	{ "@duration:>2.5e9", "0000000" },
	{ "@duration_ns:230000", "0100000" },
	{ "@duration:[1e8 TO 1e9]", "1000001" },
	{ "@duration:*", "1110001" },
	{ "@duration:1*", "1000000" },
	{ "@duration:>=2026-01-01", "0000000" },
	{ "@conn.server_port:443", "1011000" },
	{ "@conn.server_port:\"443\"", "1011000" },
	{ "@conn.server_port:4*", "1011000" },
	{ "@http.url_details.port:8080", "0100001" },
	{ "@conn.bytes_in:>3000", "0001000" },
	{ "@network.bytes_read:3437", "0001000" },
	{ "@network.bytes_read:7", "1000000" },
	{ "@network.bytes_written:>0", "1011000" },
	{ "@network.bytes_written:0", "0100000" },
	{ "@http.request.body_length:0", "0110001" },
	{ "@backend.response_ns:1.2e8", "1000000" },
	{ "@backend.connect_ns:0", "1000000" },
	{ "@traffic_policy.logs.metadata.level:3.0", "0010000" },
	{ "@traffic_policy.logs.metadata.level:>2", "0010000" },

	/* strings */
	{ "@http.request.method:POST", "1000000" },
	{ "@http.method:post", "0000000" },
	{ "@http.method:(POST OR PUT OR PATCH)", "1000000" },
	{ "@http.method:P*", "1000001" },
	{ "@http.method:PROPFIND", "0000001" },
	{ "@http.method:PROPFIN?", "0000001" },
	{ "@http.method:*", "1110001" },
	{ "-@http.method:GET", "1001111" },
	{ "@http.method:>M", "1000001" },
	{ "@http.method:[A TO H]", "0110000" },
	{ "@http.request.url.path:/api/*", "0010000" },
	{ "@http.url_details.path:/v1/*", "1100000" },
	{ "@http.url_details.path:/v1/orders", "1000000" },
	{ "@http.url_details.path:/V1/orders", "0000000" },
	{ "@http.url_details.path:/v1/order", "0000000" },
	{ "@http.url_details.path:*/", "0000001" },
	{ "-@http.url_details.path:/healthz", "1111111" },
	{ "@http.url:https://api.example.com/v1/orders?dry_run=1", "1000000" },
	{ "@http.url:\"https://api.example.com/v1/orders?dry_run=1\"",
	    "1000000" },
	{ "@http.url:*dry_run*", "1000000" },
	{ "@http.url:http\\://*", "0100000" },
	{ "@http.url:*\\?page=2*", "0010000" },
	{ "@http.url:*\\?dry*", "1000000" },
	{ "@http.url:*\\?*", "1010000" },
	{ "@http.url_details.host:localhost", "0100000" },
	{ "@http.url_details.host:LOCALHOST", "0000000" },
	{ "@http.request.url.host:Internal.Example.COM", "0000001" },
	{ "@http.request.url.host:internal.example.com", "0000000" },
	{ "@http.url_details.scheme:https", "1010000" },
	{ "@http.useragent:*curl*", "1000000" },
	{ "@http.useragent:*curl* OR @http.useragent:*python\\-requests*",
	    "1010000" },
	{ "@http.useragent:\"\"", "0000001" },
	{ "@http.version:HTTP/1.0", "0000001" },
	{ "@error.code:*", "0110001" },
	{ "@error.code:GW_*", "0110001" },
	{ "@error.code:GW_RATE_LIMITED", "0100000" },
	{ "@error.code:gw_rate_limited", "0000000" },
	{ "@error.kind:GW_UPSTREAM_REFUSED", "0010000" },
	{ "-@error.code:*", "1001110" },
	{ "@error.message:*", "0110000" },
	{ "@error.message:*refused", "0010000" },
	{ "@error.message:*Refused", "0000000" },
	{ "@error:*", "0110011" },
	{ "@replay_of:*", "0010000" },
	{ "-@replay_of:*", "1101111" },
	{ "@replay_of:ev_3MYnmLfguE7CD4G9UaerzcKbXwB", "0010000" },
	{ "@replay_of:nope", "0000000" },
	{ "@http.request_id:ev_3MYnmLfguE7CD4G9UaerzcKbXwB", "1000000" },
	{ "@event_id:ev_3MYnmLfguE7CD4G9UaerzcKbXwB", "1000000" },
	{ "@event_id:ev_3MYnm*", "1001100" },
	{ "@event_id:>ev_3MYp", "0000010" },
	{ "@event_type:http_request_complete.v0", "1110001" },
	{ "@event_type:http_request_complete.*", "1110001" },
	{ "@evt.name:tcp_connection_closed.v0", "0001000" },
	{ "@event_type:*_started.v0", "0000100" },
	{ "@event_type:policy_rejected.v0", "0000010" },
	{ "@event_type:policy_updated.v0", "0000000" },
	{ "@event_type:http_request_complete.v1", "0000000" },
	{ "@event_type:nope", "0000000" },
	{ "-@event_type:http_request_complete.v0", "0001110" },
	{ "@event_type:(tcp_connection_closed.v0 OR endpoint_started.v0)",
	    "0001100" },
	{ "@event_type:*", "1111111" },
	{ "@principal.source:cli", "0000100" },
	{ "@principal.subject:alice@*", "0000110" },
	{ "@principal:*", "0000110" },
	{ "@object.listen:127.0.0.1\\:8080", "0000100" },
	{ "@listen:\"127.0.0.1:8080\"", "0000100" },
	{ "@listen:127.0.0.1:8080", "0000100" },
	{ "listen:*", "0000100" },
	{ "@tls:*", "1000100" },
	{ "@tls:false", "0000100" },
	{ "@tls.version:1.3", "1000000" },
	{ "@full_capture:true", "0000100" },
	{ "@full_capture:false", "0000000" },
	{ "@backend.connection_reused:true", "1000000" },
	{ "@http.request.body_truncated:false", "1000000" },
	{ "@error.message:null", "0000000" },
	{ "@object:*", "1111111" },

	/* headers: stored canonical, any case matches the name */
	{ "@http.request.headers.User-Agent:curl*", "1000000" },
	{ "@http.request.headers.user-agent:curl*", "1000000" },
	{ "@http.request.headers.USER-AGENT:wrk", "0100000" },
	{ "@http.request.headers.user-agent:WRK", "0000000" },
	{ "@http.request.headers.Accept:text/plain", "1000000" },
	{ "@http.request.headers.accept:application/json", "1000000" },
	{ "@http.request.headers.Accept:application/*", "1000000" },
	{ "@http.request.headers.Accept:text\\/plain", "1000000" },
	{ "@http.response.headers.set-cookie:\\[REDACTED\\]", "1000000" },
	{ "@http.response.headers.Set-Cookie:\"[REDACTED]\"", "1000000" },
	{ "@http.request.headers.authorization:*", "1000000" },
	{ "@http.request.headers:*", "1110000" },
	{ "-@http.request.headers:*", "0001111" },
	{ "@http.request.headers.x-forwarded-for:192.168.1.9", "0010000" },
	{ "@http.request.headers.x-forwarded-for:10.0.0.0/8", "0010000" },
	{ "CIDR(@http.request.headers.X-Forwarded-For, 192.168.0.0/16)",
	    "0010000" },
	{ "@http.response.headers.content-length:>100", "0010000" },
	{ "@http.response.headers.content-length:>1000", "0000000" },
	{ "@http.response.headers.content-length:>\"1000\"", "0000000" },
	{ "@http.request.headers.content-length:[1000 TO 2000]", "0010000" },
	{ "@http.request.headers.content-length:1234", "0010000" },
	{ "@http.request.headers.content-length:>=1234.0", "0010000" },
	{ "@http.referer:https\\://example.com/", "0010000" },
	{ "@http.referer:*", "0010000" },
	{ "@http.request.headers.Retry-After:*", "0000000" },
	{ "@http.response.headers.retry-after:1", "0100000" },
	{ "@http.request.headers.X\\.Y:*", "0000000" },

	/* arrays and arrays of objects */
	{ "@traffic_policy.rules_matched:per-ip", "0100000" },
	{ "@traffic_policy.rules_matched:per\\-ip", "0100000" },
	{ "@traffic_policy.rules_matched:log*", "0010000" },
	{ "@traffic_policy.rules_matched:(auth log-all)", "0010000" },
	{ "@traffic_policy.rules_matched:(auth tag-orders)", "0000000" },
	{ "@traffic_policy.logs.metadata.message:\"hello world\"", "0010000" },
	{ "@traffic_policy.logs.metadata.message:hello*", "0010000" },
	{ "@traffic_policy.logs.metadata.message:second", "0010000" },
	{ "@traffic_policy.logs.metadata.nope:*", "0000000" },
	{ "@traffic_policy.logs.metadata:*", "0010000" },
	{ "@traffic_policy.action:respond", "0100000" },

	/* query parameters */
	{ "@http.url_details.queryString.page:2", "0010000" },
	{ "@http.url_details.queryString.page:>1", "0010000" },
	{ "@http.url_details.queryString.q:\"café au lait\"", "0010000" },
	{ "@http.url_details.queryString.q:caf*", "0010000" },
	{ "@http.url_details.queryString.tag:b", "0010000" },
	{ "@http.url_details.queryString.tag:c", "0000000" },
	{ "@http.url_details.queryString.empty:*", "0010000" },
	{ "@http.url_details.queryString.empty:\"\"", "0010000" },
	{ "@http.url_details.queryString.dry_run:1", "1000000" },
	{ "@http.url_details.queryString.missing:*", "0000000" },
	{ "-@http.url_details.queryString.missing:*", "1111111" },
	{ "@http.url_details.queryString:*page=2*", "0010000" },

	/* addresses */
	{ "@network.client.ip:203.0.113.7", "1001000" },
	{ "@network.client.ip:203.0.113.0/24", "1001000" },
	{ "@network.client.ip:203.0.113.8", "0000000" },
	{ "@conn.client_ip:127.0.0.1", "0100000" },
	{ "@conn.client_ip:10.0.0.0/8", "0000001" },
	{ "@conn.client_ip:10.1.2.3", "0000001" },
	{ "@conn.client_ip:::ffff:10.1.2.3", "0000001" },
	{ "@conn.client_ip:::ffff:a01:203", "0000001" },
	{ "@conn.client_ip:2001:db8::7", "0010000" },
	{ "@conn.client_ip:2001\\:db8\\:\\:7", "0010000" },
	{ "@conn.client_ip:\"2001:0db8:0:0:0:0:0:7\"", "0010000" },
	{ "@conn.client_ip:2001:db8::/32", "0010000" },
	{ "@conn.client_ip:2001:db9::/32", "0000000" },
	{ "@conn.client_ip:203.0.*", "1001000" },
	{ "@conn.client_ip:*", "1111001" },
	{ "-@conn.client_ip:*", "0000110" },
	{ "@conn.client_ip:nope", "0000000" },
	{ "@conn.client_ip:>200", "1011001" },
	{ "CIDR(@network.client.ip, 10.0.0.0/8, 192.168.0.0/16)", "0000001" },
	{ "CIDR(@network.client.ip,127.0.0.0/8,2001:db8::/32)", "0110000" },
	{ "CIDR( @network.client.ip , 127.0.0.1 )", "0100000" },
	{ "NOT CIDR(@network.client.ip, 10.0.0.0/8)", "1111110" },
	{ "-CIDR(@network.client.ip, 10.0.0.0/8)", "1111110" },
	{ "cidr(@conn.client_ip, 203.0.113.7)", "1001000" },
	{ "CIDR(conn.client_ip, 203.0.113.7/32)", "1001000" },
	{ "CIDR(@conn.client_ip, ::/0)", "1111001" },
	{ "CIDR(@conn.client_ip, 0.0.0.0/0)", "1101001" },
	{ "CIDR(@conn.client_ip, 203.0.113.7/31)", "1001000" },
	{ "CIDR(@conn.client_ip, 203.0.113.6/32)", "0000000" },
	{ "CIDR(@conn.server_ip, 10.0.0.0/24) OR CIDR(@conn.server_ip, "
	    "198.51.100.0/24)", "1001001" },
	{ "CIDR(@network.client.ip, 10.0.0.0/8) @http.status_code:401",
	    "0000000" },
	{ "@conn.server_ip:198.51.100.10", "1001000" },
	{ "@network.destination.ip:2001:db8::1", "0010000" },
	{ "@http.url_details.path:1.2.3.0/24", "0000000" },

	/* time */
	{ "@event_timestamp:>2026-11-24T17:00:00Z", "0010001" },
	{ "@event_timestamp:[2026-11-24T16:08:46Z TO 2026-11-24T16:09:00Z]",
	    "1001100" },
	{ "@event_timestamp:{2026-11-24T16:08:46Z TO 2026-11-24T16:09:00Z}",
	    "1001000" },
	{ "@event_timestamp:<2026-11-24T17:08:46+01:00", "0000000" },
	{ "@event_timestamp:<=2026-11-24T17:08:46+01:00", "0000100" },
	{ "@event_timestamp:>=2026-11-24", "1111111" },
	{ "@event_timestamp:<2026-11-24", "0000000" },
	{ "@event_timestamp:[2026-11-24 TO 2026-11-25]", "1111111" },
	{ "@event_timestamp:[2026-11-24T17:00:00Z TO *]", "0010001" },
	{ "@event_timestamp:\"2026-11-24T16:08:46.123456Z\"", "1000000" },
	{ "@event_timestamp:2026-11-24T16\\:08\\:46.123456Z", "1000000" },
	{ "@event_timestamp:2026-11-24T16:08:46.123456000Z", "1000000" },
	{ "@event_timestamp:2026-11-24T17:08:46.123456+01:00", "1000000" },
	{ "@event_timestamp:2026-11-24T16*", "1101110" },
	{ "@event_timestamp:nope", "0000000" },
	{ "@event_timestamp:>\"2026\"", "1111111" },
	{ "@event_timestamp:*", "1111111" },
	{ "@timestamp:>2026-11-24T18:00:00Z", "0000000" },
	{ "@timestamp:>=2026-11-24T18:00:00Z", "0000001" },
	{ "@conn.start_ts:<2026-11-24T16:09:00Z", "1001000" },
	{ "@http.response.last_byte_ts:*", "1110000" },
	{ "@http.request.last_byte_ts:*", "1110000" },
	{ "@http.request.last_byte_ts:<2026-11-25", "1110000" },

	/* reserved attributes */
	{ "status:error", "0010001" },
	{ "status:ERROR", "0010001" },
	{ "status:warn", "0100000" },
	{ "status:warning", "0100000" },
	{ "status:info", "1001110" },
	{ "status:(error OR warn)", "0110001" },
	{ "-status:info", "0110001" },
	{ "status:*", "1111111" },
	{ "status:e*", "0010001" },
	{ "status:critical", "0000000" },
	{ "@status:error", "0000000" },
	{ "host:api.example.com", "1011000" },
	{ "host:API.EXAMPLE.COM", "1011000" },
	{ "host:internal.example.com", "0000001" },
	{ "host:localhost", "0100000" },
	{ "host:*.example.com", "1011001" },
	{ "host:*", "1111001" },
	{ "-host:localhost", "1011111" },
	{ "service:gw", "1111111" },
	{ "service:GW", "1111111" },
	{ "service:api", "0000000" },
	{ "-service:api", "1111111" },
	{ "service:*", "1111111" },
	{ "service:G*", "1111111" },
	{ "source:?w", "1111111" },
	{ "status:E*", "0010001" },
	{ "status:WARN*", "0100000" },
	{ "host:*.EXAMPLE.com", "1011001" },
	{ "host:LOCAL*", "0100000" },
	{ "source:gw status:error", "0010001" },
	{ "service:(api OR gw) status:warn", "0100000" },
	/* The reference's example queries that are not above (§3.3). */
	{ "service:api-gateway status:error", "0000000" },
	{ "\"upstream timeout\" -status:info", "0000000" },
	{ "@my_attr:\"hello:world\"", "0000000" },
	{ "@my_attr:hello\\:world", "0000000" },
	{ "*:timeout", "0000000" },
	{ "*:refused", "0010000" },
	{ "env:prod", "0000000" },
	{ "-env:prod", "1111111" },
	{ "env:(prod OR staging)", "0000000" },
	{ "trace_id:*", "0000000" },
	{ "usr.name:alice", "0010000" },
	{ "@usr.id:alice", "0010000" },

	/* every value */
	{ "*:refused", "0010000" },
	{ "*:REFUSED", "0010000" },
	{ "*:alice", "0010110" },
	{ "*:rate_limit", "0000010" },
	{ "*:\"rate limit\"", "0100010" },
	{ "*:51234", "1001000" },
	{ "*:true", "1000100" },
	{ "*:(alice OR 51234)", "1011110" },
	{ "*:curl*", "1000000" },
	{ "-*:alice", "1101001" },

	/* escapes */
	{ "@error.code:GW\\_RATE\\_LIMITED", "0100000" },
	{ "@listen:127.0.0.1\\:8080", "0000100" },
	{ "@event_type:*\\*", "0000000" },
	{ "@error.message:rate\\ limit*", "0100000" },
	{ "@error.message:\"rate limit \\\"per-ip\\\" exceeded\"", "0100000" },
	{ "@error.message:*\\\"per\\-ip\\\"*", "0100000" },
	{ "\\GET", "0110000" },

	/* missing attributes */
	{ "@nope:x", "0000000" },
	{ "-@nope:x", "1111111" },
	{ "@nope:*", "0000000" },
	{ "-@nope:*", "1111111" },
	{ "@nope:>1", "0000000" },
	{ "-@nope:[1 TO 2]", "1111111" },
	{ "@conn.client_ip.x:*", "0000000" },
	{ "@http.response.status_code.x:1", "0000000" },
	{ "NOT @nope:x AND GET", "0110000" },

	/* Datadog's examples, adapted (reference/datadog-ntfy.md §3.3) */
	{ "service:gw status:error", "0010001" },
	{ "@http.status_code:[500 TO 599] -@http.url_details.path:/healthz",
	    "0010000" },
	{ "@http.status_code:>=400 @http.method:(POST OR PUT OR PATCH)",
	    "0000000" },
	{ "@duration:>500000000", "0010001" },
	{ "env:(prod OR staging) @http.url_details.path:/api/v1/*",
	    "0000000" },
	{ "\"rate limit\" -status:info", "0000000" },
	{ "NOT CIDR(@network.client.ip, 10.0.0.0/8) "
	    "@http.url_details.path:/v1*", "1100000" },
	{ "@usr.id:* -@http.referer:*", "0000000" },
	{ "@usr.id:* @http.referer:*", "0010000" },

	/* syntax errors */
	{ "(GET", "!1: unbalanced parenthesis" },
	{ "GET)", "!4: unbalanced parenthesis" },
	{ "(GET))", "!6: unbalanced parenthesis" },
	{ "((GET)", "!1: unbalanced parenthesis" },
	{ "@a:(x", "!4: unbalanced parenthesis" },
	{ "@a:", "!4: expected value after ':'" },
	{ "@a: b", "!4: expected value after ':'" },
	{ "host:", "!6: expected value after ':'" },
	{ "(@a:)", "!5: expected value after ':'" },
	{ "\"abc", "!1: unterminated quoted phrase" },
	{ "GET \"abc", "!5: unterminated quoted phrase" },
	{ "@a:\"abc\\\"", "!4: unterminated quoted phrase" },
	{ "@a:[1 2]", "!7: bad range: expected TO" },
	{ "@a:[1 to 2]", "!7: bad range: expected TO" },
	{ "@a:[1 TO 2", "!11: bad range: expected ']' or '}'" },
	{ "@a:[1 TO 2)", "!11: bad range: expected ']' or '}'" },
	{ "@a:[]", "!5: bad range: expected a bound" },
	{ "@a:[1 TO ]", "!10: bad range: expected a bound" },
	{ "@a:[a* TO b]", "!5: wildcards are not allowed in range bounds" },
	{ "CIDR(@a, 10.0.0.0/33)", "!10: bad CIDR '10.0.0.0/33'" },
	{ "CIDR(@a, 10.0.0.0/8, fd00::/129)", "!22: bad CIDR 'fd00::/129'" },
	{ "@network.client.ip:10.0.0.0/33", "!20: bad CIDR '10.0.0.0/33'" },
	{ "@network.client.ip:10.0.0.0/", "!20: bad CIDR '10.0.0.0/'" },
	{ "CIDR(@a, foo)", "!10: bad CIDR 'foo'" },
	{ "CIDR(@a, 10.0.0.0/8x)", "!10: bad CIDR '10.0.0.0/8x'" },
	{ "CIDR(@a)", "!1: CIDR() needs at least one block" },
	{ "CIDR(@a, 10.0.0.0/8", "!5: unbalanced parenthesis" },
	{ "CIDR(@a 10.0.0.0/8)", "!9: expected ',' or ')' in CIDR()" },
	{ "CIDR(@a,)", "!9: expected a CIDR block" },
	{ "CIDR()", "!6: expected an attribute in CIDR()" },
	{ "CIDR(message, 10.0.0.0/8)", "!1: comparisons, ranges and CIDR" },
	{ "a and b", "!3: 'and' is not an operator: write AND" },
	{ "a or b", "!3: 'or' is not an operator: write OR" },
	{ "not a", "!1: 'not' is not an operator: write NOT" },
	{ "GET Or POST", "!5: 'Or' is not an operator" },
	{ "@a:(x or y)", "!7: 'or' is not an operator" },
	{ "OR a", "!1: expected a term before OR" },
	{ "AND a", "!1: expected a term before AND" },
	{ "(OR a)", "!2: expected a term before OR" },
	{ "a OR", "!5: expected a term after OR" },
	{ "a AND", "!6: expected a term after AND" },
	{ "a AND OR b", "!7: expected a term after AND" },
	{ "a OR OR b", "!6: expected a term after OR" },
	{ "a || ", "!6: expected a term after ||" },
	{ "(a OR)", "!6: expected a term after OR" },
	{ "NOT", "!4: expected a term after NOT" },
	{ "a NOT", "!6: expected a term after NOT" },
	{ "a -", "!3: expected a term after '-'" },
	{ "- a", "!1: expected a term after '-'" },
	{ "()", "!1: empty parentheses" },
	{ "( )", "!1: empty parentheses" },
	{ "@a:()", "!4: empty parentheses" },
	{ "@:x", "!2: expected attribute name after '@'" },
	{ "@ x", "!2: expected attribute name after '@'" },
	{ "@a", "!3: expected ':' after attribute name" },
	{ "GET @a.b", "!9: expected ':' after attribute name" },
	{ "@a..b:x", "!4: empty name in attribute path" },
	{ "@.a:x", "!2: empty name in attribute path" },
	{ "@a.:x", "!4: empty name in attribute path" },
	{ "@a*:x", "!3: wildcards are not allowed in attribute names" },
	{ "a?b:x", "!2: wildcards are not allowed in attribute names" },
	{ "@a:>", "!5: expected value after '>'" },
	{ "@a:>=", "!6: expected value after '>='" },
	{ "@a:< 5", "!5: expected value after '<'" },
	{ "@a:>5*", "!5: wildcards are not allowed in a comparison" },
	{ "@a:>*", "!5: wildcards are not allowed in a comparison" },
	{ "GET \\", "!5: backslash at end of query" },
	{ "@a:b\\", "!5: backslash at end of query" },
	{ "[1 TO 2]", "!1: a range needs an attribute" },
	{ ">5", "!1: a comparison needs an attribute" },
	{ ":x", "!1: unexpected ':'" },
	{ "a ]", "!3: unexpected ']'" },
	{ "@a:]", "!4: unexpected ']'" },
	{ "\"a\":b", "!4: unexpected ':'" },
	{ "message:>5", "!9: comparisons, ranges and CIDR need an attribute" },
	{ "*:[1 TO 2]", "!3: comparisons, ranges and CIDR" },
	{ "@a:(b @c:d)", "!7: an attribute cannot be a value" },
	{ "é (x", "!3: unbalanced parenthesis" },
	{ "\"ünïcödé\" )", "!11: unbalanced parenthesis" },
};
/* clang-format on */

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static json_t *ev[NEV];
static struct gw_evsum hand[NEV], extracted[NEV];

/*
 * A summary built by hand from the event, independently of lib/evsum.c
 * (except for the host hash, whose function is the index's definition).
 */
static void
hand_sum(json_t *e, struct gw_evsum *s)
{
	static const char *const methods[] = { "", "GET", "HEAD", "POST", "PUT",
		"DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE" };
	json_t *o = json_object_get(e, "object"), *v;
	const char *t;
	uint8_t a4[4];
	uint64_t ns;
	size_t i;

	memset(s, 0, sizeof(*s));
	t = json_string_value(json_object_get(e, "event_type"));
	if (t == NULL)
		s->kind = GW_EVK_OTHER;
	else if (strcmp(t, "http_request_complete.v0") == 0)
		s->kind = GW_EVK_HTTP;
	else if (strcmp(t, "tcp_connection_closed.v0") == 0)
		s->kind = GW_EVK_TCP;
	else
		s->kind = GW_EVK_AUDIT;
	t = json_string_value(json_object_get(e, "event_timestamp"));
	if (t != NULL && gw_parse_rfc3339(t, &ns) == 0)
		s->ts_us = (int64_t)(ns / 1000);
	t = json_string_value(
	    json_object_get(json_object_get(o, "conn"), "client_ip"));
	if (t != NULL && inet_pton(AF_INET, t, a4) == 1) {
		s->client_ip[10] = s->client_ip[11] = 0xff;
		memcpy(s->client_ip + 12, a4, 4);
		s->flags |= GW_EVS_HAS_IP;
	} else if (t != NULL && inet_pton(AF_INET6, t, s->client_ip) == 1)
		s->flags |= GW_EVS_HAS_IP;
	v = json_object_get(json_object_get(o, "http"), "request");
	t = json_string_value(json_object_get(v, "method"));
	if (t != NULL) {
		s->method = GW_EVM_OTHER;
		for (i = 1; i < sizeof(methods) / sizeof(*methods); i++)
			if (strcmp(t, methods[i]) == 0)
				s->method = (uint8_t)i;
	}
	t = json_string_value(
	    json_object_get(json_object_get(v, "url"), "host"));
	if (t != NULL) {
		s->host_hash = gw_evsum_host_hash(t, strlen(t));
		s->flags |= GW_EVS_HAS_HOST;
	}
	v = json_object_get(json_object_get(o, "http"), "response");
	v = json_object_get(v, "status_code");
	if (json_is_integer(v))
		s->status = (uint16_t)json_integer_value(v);
	v = json_object_get(o, "duration_ns");
	if (json_is_integer(v)) {
		s->duration_ns = json_integer_value(v);
		s->flags |= GW_EVS_HAS_DUR;
	}
	v = json_object_get(json_object_get(o, "error"), "code");
	if (v != NULL && !json_is_null(v))
		s->flags |= GW_EVS_HAS_ERROR;
	v = json_object_get(o, "replay_of");
	if (v != NULL && !json_is_null(v))
		s->flags |= GW_EVS_REPLAY;
}

static void
load_events(void)
{
	json_error_t jerr;
	size_t i;

	for (i = 0; i < NEV; i++) {
		ev[i] = json_loads(events[i], 0, &jerr);
		if (ev[i] == NULL) {
			fprintf(stderr, "event %zu: %s (col %d)\n", i,
			    jerr.text, jerr.column);
			exit(1);
		}
		hand_sum(ev[i], &hand[i]);
		if (gw_evsum_extract(
		        &extracted[i], events[i], strlen(events[i])) == -1) {
			fprintf(
			    stderr, "event %zu: gw_evsum_extract failed\n", i);
			exit(1);
		}
	}
}

/*
 * Holds <q>'s summary answers for every event to the promise: a decided
 * answer agrees with the event, and a sum-only query always decides.
 * Returns 1 when it does.
 */
static int
consistent(const char *text, const struct gw_query *q)
{
	const struct gw_evsum *sums[2] = { hand, extracted };
	int i, k, s, j, ok = 1;

	for (i = 0; i < NEV; i++) {
		j = gw_query_match_json(q, ev[i]);
		if (gw_query_match_line(q, events[i], strlen(events[i])) != j) {
			fprintf(stderr,
			    "%s: E%d: the line and the event differ\n", text,
			    i);
			ok = 0;
		}
		for (k = 0; k < 2; k++) {
			s = gw_query_match_sum(q, &sums[k][i]);
			if ((s != -1 && s != j) ||
			    (s == -1 && gw_query_sum_only(q))) {
				fprintf(stderr,
				    "%s: E%d: %s summary says %d, event %d, "
				    "sum_only %d\n",
				    text, i, k ? "extracted" : "hand", s, j,
				    gw_query_sum_only(q));
				ok = 0;
			}
		}
	}
	return ok;
}

static int
run_row(const struct row *r)
{
	struct gw_error err;
	struct gw_query *q;
	char got[NEV + 1];
	int i, col, ok = 1;

	memset(&err, 0, sizeof(err));
	q = gw_query_parse(r->q, &err);
	if (r->want[0] == '!') {
		col = atoi(r->want + 1);
		if (q != NULL || err.col != col || err.line != 1 ||
		    strncmp(err.msg, strchr(r->want, ':') + 2,
		        strlen(strchr(r->want, ':') + 2)) != 0) {
			fprintf(stderr, "%s: want error %s, got %s%d:%d: %s\n",
			    r->q, r->want, q ? "success " : "", err.line,
			    err.col, err.msg);
			ok = 0;
		}
		gw_query_free(q);
		return ok;
	}
	if (q == NULL) {
		fprintf(stderr, "%s: error %d: %s\n", r->q, err.col, err.msg);
		return 0;
	}
	for (i = 0; i < NEV; i++)
		got[i] = gw_query_match_json(q, ev[i]) ? '1' : '0';
	got[NEV] = '\0';
	if (strcmp(got, r->want) != 0) {
		fprintf(stderr, "%s: want %s, got %s\n", r->q, r->want, got);
		ok = 0;
	}
	if (!consistent(r->q, q))
		ok = 0;
	gw_query_free(q);
	return ok;
}

TEST(test_rows)
{
	size_t i, bad = 0;

	for (i = 0; i < NROWS; i++)
		if (!run_row(&rows[i]))
			bad++;
	CHECK(bad == 0);
	printf("# %zu rows, %zu failed\n", NROWS, bad);
}

/* Answer of <text> for summary <s>. */
static int
sum_of(const char *text, const struct gw_evsum *s)
{
	struct gw_query *q = gw_query_parse(text, NULL);
	int r;

	if (q == NULL)
		return -2;
	r = gw_query_match_sum(q, s);
	gw_query_free(q);
	return r;
}

static int
sum_only(const char *text)
{
	struct gw_query *q = gw_query_parse(text, NULL);
	int r;

	if (q == NULL)
		return -2;
	r = gw_query_sum_only(q);
	gw_query_free(q);
	return r;
}

TEST(test_summary)
{
	struct gw_evsum s;

	/* Three-valued logic over a hand-filled 200 GET. */
	memset(&s, 0, sizeof(s));
	s.kind = GW_EVK_HTTP;
	s.status = 200;
	s.method = GW_EVM_GET;
	CHECK(sum_of("GET", &s) == -1);
	CHECK(sum_of("NOT GET", &s) == -1);
	CHECK(sum_of("GET AND @http.status_code:500", &s) == 0);
	CHECK(sum_of("@http.status_code:500 AND GET", &s) == 0);
	CHECK(sum_of("GET OR @http.status_code:200", &s) == 1);
	CHECK(sum_of("GET OR @http.status_code:500", &s) == -1);
	CHECK(sum_of("-@http.status_code:500", &s) == 1);
	CHECK(sum_of("-(GET OR @http.status_code:200)", &s) == 0);
	CHECK(sum_of("@http.method:GET @http.status_code:2*", &s) == 1);
	CHECK(sum_of("@http.method:G*", &s) == 1);
	CHECK(sum_of("@http.method:(POST OR PUT)", &s) == 0);
	CHECK(sum_of("status:info", &s) == 1);
	CHECK(sum_of("status:error", &s) == 0);
	CHECK(sum_of("@error.code:*", &s) == 0);
	CHECK(sum_of("@error.code:GW_X", &s) == 0);
	CHECK(sum_of("@duration:>1", &s) == 0);
	CHECK(sum_of("-@duration:*", &s) == 1);
	CHECK(sum_of("@http.url_details.path:/x", &s) == -1);
	CHECK(sum_of("", &s) == 1);
	CHECK(sum_of("service:nope", &s) == 0);
	/* A method the index does not name. */
	s.method = GW_EVM_OTHER;
	CHECK(sum_of("@http.method:GET", &s) == 0);
	CHECK(sum_of("@http.method:PROPFIND", &s) == -1);
	CHECK(sum_of("@http.method:*", &s) == 1);
	/* An error with no response is status:error. */
	s.status = 0;
	s.flags = GW_EVS_HAS_ERROR;
	CHECK(sum_of("status:error", &s) == 1);
	CHECK(sum_of("@error.code:*", &s) == 1);
	CHECK(sum_of("@error.code:GW_X", &s) == -1);
	CHECK(sum_of("@http.status_code:*", &s) == 0);
	/* Status codes past three digits are still decided. */
	s.status = 1200;
	CHECK(sum_of("@http.status_code:>1000", &s) == 1);
	CHECK(sum_of("@http.status_code:12*", &s) == 1);

	/* Hosts: a differing hash is a definite no. */
	CHECK(sum_of("@http.url_details.host:api.example.com", &hand[0]) == -1);
	CHECK(sum_of("@http.url_details.host:api.example.com", &hand[1]) == 0);
	CHECK(sum_of("host:LOCALHOST", &hand[1]) == -1);
	CHECK(sum_of("host:LOCALHOST", &hand[0]) == 0);
	CHECK(sum_of("host:localhost", &hand[3]) == -1);
	CHECK(sum_of("@http.url_details.host:*", &hand[0]) == 1);
	CHECK(sum_of("@http.url_details.host:*", &hand[3]) == 0);
	/* A connection's summary line is known. */
	CHECK(sum_of("tcp_connection_closed", &hand[3]) == 1);
	CHECK(sum_of("GET", &hand[3]) == 0);
	CHECK(sum_of("GET", &hand[4]) == -1);
	/* Kinds. */
	CHECK(sum_of("@event_type:http_request_complete.v0", &hand[4]) == 0);
	CHECK(sum_of("@event_type:endpoint_started.v0", &hand[4]) == -1);
	CHECK(sum_of("@event_type:endpoint_started.v0", &hand[0]) == 0);
	CHECK(sum_of("@event_type:nope", &hand[4]) == 0);
	/* Addresses and time. */
	CHECK(sum_of("@network.client.ip:203.0.113.0/24", &hand[0]) == 1);
	CHECK(sum_of("@network.client.ip:203.0.113.0/24", &hand[1]) == 0);
	CHECK(sum_of("@network.client.ip:10.1.2.3", &hand[6]) == 1);
	CHECK(sum_of("@network.client.ip:10.*", &hand[6]) == -1);
	CHECK(sum_of("@event_timestamp:>2026-11-24T17:00:00Z", &hand[2]) == 1);
	CHECK(sum_of("@event_timestamp:>2026-11-24T17:00:00Z", &hand[0]) == 0);

	CHECK(sum_only("") == 1);
	CHECK(sum_only("@http.status_code:>=500") == 1);
	CHECK(sum_only("@http.status_code:5* @http.method:(GET OR POST)") == 1);
	CHECK(sum_only("@http.method:G*") == 0);
	CHECK(sum_only("@http.method:get") == 0);
	CHECK(sum_only("status:error OR -status:warn") == 1);
	CHECK(sum_only("GET") == 0);
	CHECK(sum_only("host:x") == 0);
	CHECK(sum_only("@http.url_details.host:*") == 1);
	CHECK(sum_only("@network.client.ip:10.0.0.0/8") == 1);
	CHECK(sum_only("CIDR(@network.client.ip, 10.0.0.0/8, ::1)") == 1);
	CHECK(sum_only("@network.client.ip:10.*") == 0);
	CHECK(sum_only("@duration:>1000 @duration:[1 TO 2]") == 1);
	CHECK(sum_only("@duration:1*") == 0);
	CHECK(sum_only("@event_type:http_request_complete.v0") == 1);
	CHECK(sum_only("@event_type:policy_updated.v0") == 0);
	CHECK(sum_only("@error.code:*") == 1);
	CHECK(sum_only("-@replay_of:*") == 1);
	CHECK(sum_only("@error.code:GW_X") == 0);
	CHECK(sum_only("service:gw") == 1);
	CHECK(sum_only("@event_timestamp:>2026-01-01") == 1);
	CHECK(sum_only("@event_timestamp:2026*") == 0);
	CHECK(sum_only("@http.url_details.path:/x") == 0);
	CHECK(sum_only("@http.status_code:500 OR GET") == 0);
}

TEST(test_errors)
{
	struct gw_error err;
	char deep[1000];
	size_t i;

	/* Several lines: the line and column of the culprit. */
	memset(&err, 0, sizeof(err));
	CHECK(gw_query_parse("GET\n  (POST", &err) == NULL);
	CHECK(err.line == 2 && err.col == 3);
	CHECK_STREQ(err.msg, "unbalanced parenthesis");
	CHECK_STREQ(err.file, "");
	/* NULL err is allowed; errno tells a syntax error from ENOMEM. */
	errno = 0;
	CHECK(gw_query_parse("(", NULL) == NULL && errno == EINVAL);
	/* Nesting is bounded, not a stack overflow. */
	for (i = 0; i < sizeof(deep) - 1; i++)
		deep[i] = i < 500 ? '(' : 'x';
	deep[sizeof(deep) - 1] = '\0';
	CHECK(gw_query_parse(deep, &err) == NULL);
	CHECK(strstr(err.msg, "nested too deeply") != NULL);
	for (i = 0; i < sizeof(deep) - 1; i++)
		deep[i] = '-';
	deep[sizeof(deep) - 2] = 'x';
	CHECK(gw_query_parse(deep, &err) == NULL);
	CHECK(strstr(err.msg, "nested too deeply") != NULL);
	gw_query_free(NULL);
}

TEST(test_aliases)
{
	const struct gw_query_alias *a;
	size_t n, i;

	CHECK_STREQ(gw_query_attr_path("http.status_code"),
	    "http.response.status_code");
	CHECK_STREQ(gw_query_attr_path("http.method"), "http.request.method");
	CHECK_STREQ(gw_query_attr_path("http.url"), "http.request.url.raw");
	CHECK_STREQ(gw_query_attr_path("http.url_details.path"),
	    "http.request.url.path");
	CHECK_STREQ(
	    gw_query_attr_path("http.useragent"), "http.request.user_agent");
	CHECK_STREQ(gw_query_attr_path("network.client.ip"), "conn.client_ip");
	CHECK_STREQ(gw_query_attr_path("duration"), "duration_ns");
	CHECK_STREQ(gw_query_attr_path("http.request_id"), "event_id");
	CHECK_STREQ(gw_query_attr_path("conn.client_ip"), "conn.client_ip");
	CHECK_STREQ(gw_query_attr_path("http.url_details.queryString.a"),
	    "http.url_details.queryString.a");
	a = gw_query_aliases(&n);
	CHECK(n > 10);
	for (i = 1; i < n; i++)
		CHECK(strcmp(a[i - 1].dd, a[i].dd) < 0);
	CHECK_STREQ(gw_query_status_of(503, 0), "error");
	CHECK_STREQ(gw_query_status_of(0, 1), "error");
	CHECK_STREQ(gw_query_status_of(404, 1), "warn");
	CHECK_STREQ(gw_query_status_of(200, 0), "info");
	CHECK_STREQ(gw_query_status_of(0, 0), "info");
}

TEST(test_opts)
{
	struct gw_query_opts o = { "payments-api", "nginx" };
	struct gw_query *q, *q2;

	q = gw_query_parse_opts("service:payments-api source:nginx", &o, NULL);
	CHECK(q != NULL && gw_query_match_json(q, ev[0]) == 1 &&
	    gw_query_match_sum(q, &hand[0]) == 1 && gw_query_sum_only(q));
	gw_query_free(q);
	/* A line that is not JSON matches nothing, not even '*'. */
	q2 = gw_query_parse("*", NULL);
	CHECK(q2 != NULL && gw_query_match_line(q2, "{}", 2) == 1 &&
	    gw_query_match_line(q2, "{\"event_id\":", 12) == 0 &&
	    gw_query_match_line(q2, "not json", 8) == 0);
	gw_query_free(q2);
	q = gw_query_parse_opts("service:gw", &o, NULL);
	CHECK(q != NULL && gw_query_match_json(q, ev[0]) == 0);
	gw_query_free(q);
}

/* Strange events: no object, wrong types, long lines. */
TEST(test_odd_events)
{
	static const char *const odd[] = {
		"{}",
		"{\"event_type\":5,\"object\":[]}",
		"{\"object\":{\"http\":{\"request\":{\"method\":7,\"url\":{"
		"\"path\":[\"/x\"]}}},\"duration_ns\":\"12\"}}",
		"{\"object\":{\"conn\":{\"client_ip\":[\"10.0.0.1\","
		"\"::1\"]}}}",
	};
	static const char *const qs[] = { "GET", "*:x", "@duration:12",
		"@duration:>1", "CIDR(@conn.client_ip, ::1)", "status:info",
		"host:*", "@http.url_details.queryString.a:*", "@event_type:5",
		"-@http.method:*" };
	static const char want[][11] = { "0000010001", "0000010011",
		"0111010000", "0000110001" };
	struct gw_query *q;
	json_t *e;
	char long_path[5000], *line;
	size_t i, k;

	for (i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
		e = json_loads(odd[i], 0, NULL);
		CHECK(e != NULL);
		for (k = 0; k < sizeof(qs) / sizeof(*qs); k++) {
			q = gw_query_parse(qs[k], NULL);
			CHECK(q != NULL);
			if (gw_query_match_json(q, e) != want[i][k] - '0') {
				fprintf(stderr, "odd %zu: %s\n", i, qs[k]);
				CHECK(0);
			}
			gw_query_free(q);
		}
		json_decref(e);
	}
	/* A summary line longer than the stack buffer. */
	memset(long_path, 'a', sizeof(long_path));
	long_path[0] = '/';
	memcpy(long_path + sizeof(long_path) - 6, "/zzz", 5);
	e = json_pack("{s:{s:{s:{s:s, s:{s:s, s:s}}}}}", "object", "http",
	    "request", "method", "GET", "url", "path", long_path, "query",
	    "k=v");
	CHECK(e != NULL);
	q = gw_query_parse("\"GET\" zzz", NULL);
	CHECK(q != NULL && gw_query_match_json(q, e) == 1);
	gw_query_free(q);
	q = gw_query_parse("@http.url_details.path:*zzz", NULL);
	CHECK(q != NULL && gw_query_match_json(q, e) == 1);
	gw_query_free(q);
	json_decref(e);
	/* A query parameter longer than the stack buffer. */
	line = malloc(3000);
	CHECK(line != NULL);
	if (line != NULL) {
		memcpy(line, "v=", 2);
		memset(line + 2, 'b', 2997);
		line[2999] = '\0';
		e = json_pack("{s:{s:{s:{s:{s:s}}}}}", "object", "http",
		    "request", "url", "query", line);
		q = gw_query_parse("@http.url_details.queryString.v:b*b", NULL);
		CHECK(q != NULL && gw_query_match_json(q, e) == 1);
		gw_query_free(q);
		json_decref(e);
		free(line);
	}
}

/* Deterministic pseudo-random numbers (xorshift). */
static uint32_t
rnd(void)
{
	static uint32_t x = 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/* Appends <s> to the string in <b> (<cap> bytes), truncating. */
static void
add(char *b, size_t cap, const char *s)
{
	size_t n = strlen(b);

	snprintf(b + n, cap - n, "%s", s);
}

/* Appends a random query over the table's valid atoms to <b>. */
static void
gen(char *b, size_t cap, int depth)
{
	static const char *const ops[] = { " ", " AND ", " OR ", " OR " };
	size_t i, len = strlen(b);
	int r = (int)(rnd() % 10);

	if (len + 300 > cap)
		r = 9;
	if (depth > 0 && r < 3) {
		add(b, cap, "(");
		gen(b, cap, depth - 1);
		add(b, cap, ops[rnd() % 4]);
		gen(b, cap, depth - 1);
		add(b, cap, ")");
		return;
	}
	if (depth > 0 && r == 3) {
		add(b, cap, rnd() % 2 ? "-" : "NOT ");
		gen(b, cap, depth - 1);
		return;
	}
	do
		i = rnd() % NROWS;
	while (rows[i].want[0] == '!' || rows[i].q[0] == '\0' ||
	    strchr(rows[i].q, '\t') != NULL);
	add(b, cap, "(");
	add(b, cap, rows[i].q);
	add(b, cap, ")");
}

TEST(test_random_consistency)
{
	struct gw_error err;
	struct gw_query *q;
	char b[4096];
	int n, bad = 0;

	for (n = 0; n < 3000; n++) {
		b[0] = '\0';
		gen(b, sizeof(b), 3);
		q = gw_query_parse(b, &err);
		if (q == NULL) {
			fprintf(stderr, "%s: %d: %s\n", b, err.col, err.msg);
			bad++;
			continue;
		}
		if (!consistent(b, q))
			bad++;
		gw_query_free(q);
	}
	CHECK(bad == 0);
}

int
main(void)
{
	size_t i;

	load_events();
	RUN(test_rows);
	RUN(test_summary);
	RUN(test_errors);
	RUN(test_aliases);
	RUN(test_opts);
	RUN(test_odd_events);
	RUN(test_random_consistency);
	for (i = 0; i < NEV; i++)
		json_decref(ev[i]);
	return harness_done();
}
