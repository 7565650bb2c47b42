/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/evsum.c and the scanner under it (lib/jscan.c): the
 * summary of real event lines (the shapes of docs/PROTOCOL.md), fields
 * that are missing or of the wrong type left unknown, escapes in strings,
 * and lines that are not exactly one JSON object refused.  With --bench N
 * it also times extraction over N copies of a realistic event (printed,
 * never judged).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evid.h"
#include "evsum.h"
#include "harness.h"
#include "jscan.h"
#include "timeutil.h"

/* docs/PROTOCOL.md §3.4, full capture. */
static const char ev_full[] =
    "{\"event_id\":\"ev_3MYnmLfguE7CD4G9UaerzcKbXwB\",\"event_type\":\"http_request_complete.v0\",\"event_timestamp\":\"2026-11-24T16:08:46.123456Z\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":\"203.0.113.7\",\"client_port\":51234,\"server_ip\":\"198.51.100.10\",\"server_name\":\"api.example.com\",\"server_port\":443,\"start_ts\":\"2026-11-24T16:08:45.902113Z\"},\"http\":{\"request\":{\"method\":\"POST\",\"version\":\"HTTP/1.1\",\"url\":{\"raw\":\"https://api.example.com/v1/orders?dry_run=1\",\"scheme\":\"https\",\"host\":\"api.example.com\",\"path\":\"/v1/orders\",\"query\":\"dry_run=1\"},\"headers\":{\"Host\":[\"api.example.com\"],\"User-Agent\":[\"curl/8.5.0\"],\"Authorization\":[\"[REDACTED]\"],\"Accept\":[\"application/json\",\"text/plain\"]},\"user_agent\":\"curl/8.5.0\",\"body_length\":7,\"first_byte_ts\":\"2026-11-24T16:08:45.910000Z\",\"last_byte_ts\":\"2026-11-24T16:08:45.911000Z\",\"body\":\"{\\\"n\\\":1}\",\"body_encoding\":\"text\",\"body_truncated\":false,\"headers_truncated\":false},\"response\":{\"status_code\":201,\"headers\":{\"Content-Type\":[\"application/json\"],\"Set-Cookie\":[\"[REDACTED]\",\"[REDACTED]\"]},\"body_length\":8,\"first_byte_ts\":\"2026-11-24T16:08:46.034000Z\",\"last_byte_ts\":\"2026-11-24T16:08:46.035000Z\",\"body\":\"{\\\"id\\\":7}\",\"body_encoding\":\"text\",\"body_truncated\":false,\"headers_truncated\":false}},\"backend\":{\"connection_reused\":true,\"url\":\"http://127.0.0.1:3000\",\"connect_ns\":0,\"response_ns\":120000000},\"tls\":{\"version\":\"1.3\",\"cipher_suite\":\"TLS_AES_128_GCM_SHA256\"},\"duration_ns\":125000000,\"traffic_policy\":{\"rules_matched\":[\"tag-orders\"],\"action\":\"continue\"}}}";

/* docs/PROTOCOL.md §3.4, refused by a rate limit. */
static const char ev_429[] =
    "{\"event_id\":\"ev_3MYnoP8IXknrql7n5qF9yQY9klk\",\"event_type\":\"http_request_complete.v0\",\"event_timestamp\":\"2026-11-24T16:09:02.500210Z\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":\"127.0.0.1\",\"client_port\":40122,\"server_ip\":\"127.0.0.1\",\"server_name\":\"localhost\",\"server_port\":8080,\"start_ts\":\"2026-11-24T16:09:02.499001Z\"},\"http\":{\"request\":{\"method\":\"GET\",\"version\":\"HTTP/1.1\",\"url\":{\"raw\":\"http://localhost:8080/v1/items\",\"scheme\":\"http\",\"host\":\"localhost\",\"path\":\"/v1/items\",\"query\":\"\"},\"headers\":{\"Host\":[\"localhost:8080\"],\"User-Agent\":[\"wrk\"]},\"user_agent\":\"wrk\",\"body_length\":0,\"first_byte_ts\":\"2026-11-24T16:09:02.499950Z\",\"last_byte_ts\":\"2026-11-24T16:09:02.499950Z\",\"headers_truncated\":false},\"response\":{\"status_code\":429,\"headers\":{\"Retry-After\":[\"1\"],\"Content-Length\":[\"0\"]},\"body_length\":0,\"first_byte_ts\":\"2026-11-24T16:09:02.500180Z\",\"last_byte_ts\":\"2026-11-24T16:09:02.500180Z\",\"headers_truncated\":false}},\"duration_ns\":230000,\"error\":{\"code\":\"GW_RATE_LIMITED\",\"message\":\"rate limit \\\"per-ip\\\" exceeded\"},\"traffic_policy\":{\"rules_matched\":[\"per-ip\"],\"action\":\"respond\"}}}";

/* docs/PROTOCOL.md §4. */
static const char ev_tcp[] =
    "{\"event_id\":\"ev_3MYnmxi8rXcvMTXiq1HRFbAvjPH\",\"event_type\":\"tcp_connection_closed.v0\",\"event_timestamp\":\"2026-11-24T16:08:51.000000Z\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":\"203.0.113.7\",\"client_port\":51234,\"server_ip\":\"198.51.100.10\",\"server_name\":\"api.example.com\",\"server_port\":443,\"start_ts\":\"2026-11-24T16:08:45.902113Z\",\"end_ts\":\"2026-11-24T16:08:51.000000Z\",\"bytes_in\":3437,\"bytes_out\":90256}}}";

static int
extract(struct gw_evsum *s, const char *line)
{
	return gw_evsum_extract(s, line, strlen(line));
}

static int
ip_is(const struct gw_evsum *s, const char *text)
{
	uint8_t a[16];

	return gw_evsum_ip(text, strlen(text), a) == 0 &&
	    memcmp(a, s->client_ip, 16) == 0;
}

static int64_t
ts_us(const char *rfc3339)
{
	uint64_t ns;

	if (gw_parse_rfc3339(rfc3339, &ns) == -1)
		return -1;
	return (int64_t)(ns / 1000);
}

TEST(test_http_full)
{
	struct gw_evsum s;

	CHECK(extract(&s, ev_full) == 0);
	CHECK(s.kind == GW_EVK_HTTP);
	CHECK(s.ts_us == ts_us("2026-11-24T16:08:46.123456Z"));
	CHECK(s.ts_us % 1000000 == 123456);
	CHECK(s.method == GW_EVM_POST);
	CHECK(s.status == 201);
	CHECK(s.duration_ns == 125000000);
	CHECK(ip_is(&s, "203.0.113.7"));
	CHECK(s.host_hash == gw_evsum_host_hash("api.example.com", 15));
	CHECK(s.flags == (GW_EVS_HAS_IP | GW_EVS_HAS_DUR | GW_EVS_HAS_HOST));
}

TEST(test_http_429)
{
	struct gw_evsum s;

	CHECK(extract(&s, ev_429) == 0);
	CHECK(s.kind == GW_EVK_HTTP);
	CHECK(s.method == GW_EVM_GET);
	CHECK(s.status == 429);
	CHECK(s.duration_ns == 230000);
	CHECK(ip_is(&s, "127.0.0.1"));
	CHECK(s.host_hash == gw_evsum_host_hash("LOCALHOST", 9));
	CHECK(s.flags & GW_EVS_HAS_ERROR);
	CHECK(!(s.flags & GW_EVS_REPLAY));
	CHECK(!(s.flags & GW_EVS_TRUNCATED));
}

TEST(test_tcp)
{
	struct gw_evsum s;

	CHECK(extract(&s, ev_tcp) == 0);
	CHECK(s.kind == GW_EVK_TCP);
	CHECK(s.ts_us == ts_us("2026-11-24T16:08:51Z"));
	CHECK(ip_is(&s, "203.0.113.7"));
	CHECK(s.method == GW_EVM_NONE && s.status == 0);
	CHECK(s.flags == GW_EVS_HAS_IP);
}

TEST(test_audit_and_other)
{
	struct gw_evsum s;

	CHECK(extract(&s,
	          "{\"event_type\":\"policy_updated.v0\","
	          "\"principal\":{\"source\":\"signal\"},"
	          "\"object\":{\"file\":\"p.yml\"}}") == 0);
	CHECK(s.kind == GW_EVK_AUDIT);
	CHECK(s.ts_us == 0 && s.flags == 0);
	CHECK(
	    extract(&s, "{\"event_type\":\"http_request_complete.v1\"}") == 0);
	CHECK(s.kind == GW_EVK_OTHER);
	CHECK(extract(&s, "{\"event_type\":\"hello\"}") == 0);
	CHECK(s.kind == GW_EVK_OTHER);
	CHECK(extract(&s, "{\"event_type\":7}") == 0);
	CHECK(s.kind == GW_EVK_OTHER);
	CHECK(extract(&s, "{}") == 0);
	CHECK(s.kind == GW_EVK_OTHER && s.flags == 0 && s.ts_us == 0);
}

TEST(test_flags)
{
	struct gw_evsum s;

	CHECK(extract(&s,
	          "{\"object\":{\"replay_of\":\"ev_x\","
	          "\"error\":{\"code\":null},"
	          "\"http\":{\"response\":{\"body_truncated\":true}}}}") == 0);
	CHECK(s.flags == (GW_EVS_REPLAY | GW_EVS_TRUNCATED));
	CHECK(extract(&s,
	          "{\"object\":{\"replay_of\":null,"
	          "\"error\":{\"code\":\"GW_BAD_REQUEST\"},"
	          "\"http\":{\"request\":{\"body_truncated\":true},"
	          "\"response\":{\"body_truncated\":false}}}}") == 0);
	CHECK(s.flags == (GW_EVS_HAS_ERROR | GW_EVS_TRUNCATED));
	/* Members at the wrong depth are not the indexed ones. */
	CHECK(extract(&s,
	          "{\"duration_ns\":5,\"status_code\":200,"
	          "\"object\":{\"x\":{\"duration_ns\":7},"
	          "\"http\":{\"status_code\":500}}}") == 0);
	CHECK(s.flags == 0 && s.status == 0);
}

TEST(test_missing_and_wrong_types)
{
	struct gw_evsum s;

	/* Every member present but of the wrong type or unparsable. */
	CHECK(extract(&s,
	          "{\"event_type\":\"http_request_complete.v0\","
	          "\"event_timestamp\":\"yesterday\","
	          "\"object\":{\"conn\":{\"client_ip\":\"not-an-ip\"},"
	          "\"http\":{\"request\":{\"method\":7,\"url\":"
	          "{\"host\":null}},\"response\":{\"status_code\":"
	          "\"200\"}},\"duration_ns\":1.5}}") == 0);
	CHECK(s.kind == GW_EVK_HTTP);
	CHECK(s.ts_us == 0 && s.flags == 0 && s.status == 0 &&
	    s.method == GW_EVM_NONE && s.host_hash == 0);
	CHECK(extract(&s,
	          "{\"object\":{\"http\":{\"response\":"
	          "{\"status_code\":70000}},\"duration_ns\":-3}}") == 0);
	CHECK(s.status == 0);
	CHECK((s.flags & GW_EVS_HAS_DUR) && s.duration_ns == -3);
	CHECK(extract(&s,
	          "{\"object\":{\"http\":{\"request\":{\"method\":"
	          "\"get\"}},\"duration_ns\":99999999999999999999}}") == 0);
	CHECK(s.method == GW_EVM_OTHER);
	CHECK(!(s.flags & GW_EVS_HAS_DUR));
	/* Other time offsets are accepted and converted to UTC. */
	CHECK(
	    extract(&s,
	        "{\"event_timestamp\":\"2026-11-24T17:08:46.5+01:00\"}") == 0);
	CHECK(s.ts_us == ts_us("2026-11-24T16:08:46.500000Z"));
	CHECK(extract(&s,
	          "{\"object\":{\"conn\":{\"client_ip\":\"2001:db8::1\"}}}") ==
	    0);
	CHECK((s.flags & GW_EVS_HAS_IP) && ip_is(&s, "2001:db8::1"));
	CHECK(s.client_ip[0] == 0x20 && s.client_ip[1] == 0x01);
	CHECK(extract(&s, "{\"object\":{\"conn\":{\"client_ip\":\"\"}}}") == 0);
	CHECK(!(s.flags & GW_EVS_HAS_IP));
}

TEST(test_escapes)
{
	struct gw_evsum s;
	const char *id, *idline;
	size_t n;

	/* Escaped values are decoded before they are interpreted. */
	CHECK(extract(&s,
	          "{\"event_type\":\"http_request_complete\\u002ev0\","
	          "\"event_timestamp\":\"2026-11-24T16:08:46\\u002e1Z\","
	          "\"object\":{\"http\":{\"request\":{\"method\":"
	          "\"P\\u004fST\",\"url\":{\"host\":\"a\\/b\"}}},"
	          "\"conn\":{\"client_ip\":\"10.0.0.\\u0031\"}}}") == 0);
	CHECK(s.kind == GW_EVK_HTTP);
	CHECK(s.ts_us == ts_us("2026-11-24T16:08:46.1Z"));
	CHECK(s.method == GW_EVM_POST);
	CHECK(s.host_hash == gw_evsum_host_hash("a/b", 3));
	CHECK(ip_is(&s, "10.0.0.1"));
	/* Quotes, braces and backslashes inside strings are not structure. */
	CHECK(
	    extract(&s,
	        "{\"a\":\"}{\\\"\\\\\",\"object\":{\"k\\\"\":\"]\","
	        "\"duration_ns\":4,\"u\":\"\\ud83d\\ude00\\u00e9\\t\"}}") == 0);
	CHECK(s.duration_ns == 4);
	/* A key written with escapes is not matched. */
	CHECK(extract(&s, "{\"object\":{\"duration\\u005fns\":4}}") == 0);
	CHECK(!(s.flags & GW_EVS_HAS_DUR));
	/* Raw UTF-8, valid or not, is accepted inside strings. */
	CHECK(extract(&s, "{\"a\":\"caf\xc3\xa9 \xff\xfe\"}") == 0);

	CHECK(gw_evsum_event_id(ev_full, strlen(ev_full), &id, &n) == 0);
	CHECK(n == GW_EVID_LEN &&
	    memcmp(id, "ev_3MYnmLfguE7CD4G9UaerzcKbXwB", n) == 0);
	idline = "{ \"x\":{\"event_id\":\"no\"},\"event_id\":\"ev_1\"}";
	CHECK(gw_evsum_event_id(idline, strlen(idline), &id, &n) == 0);
	CHECK(n == 4 && memcmp(id, "ev_1", 4) == 0);
	CHECK(gw_evsum_event_id("{\"event_id\":5}", 14, &id, &n) == -1);
	CHECK(gw_evsum_event_id("{\"a\":1}", 7, &id, &n) == -1);
}

TEST(test_unescape)
{
	struct gw_jval v;
	char buf[32];
	long n;

	v.type = GW_JSTRING;
	v.p = "a\\n\\u00e9\\ud83d\\ude00\\udc00\\/";
	v.len = (uint32_t)strlen(v.p);
	v.esc = 1;
	n = gw_jscan_unescape(&v, buf, sizeof(buf));
	CHECK(n == 12);
	CHECK(n == 12 &&
	    memcmp(buf, "a\n\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd/", 12) == 0);
	CHECK(gw_jscan_unescape(&v, buf, 5) == -1);
}

TEST(test_malformed)
{
	static const char *const bad[] = {
		"",
		" ",
		"{",
		"{\"a\":1",
		"{\"a\":1,}",
		"{\"a\":[1,]}",
		"{\"a\":1}{\"b\":2}",
		"{\"a\":1} x",
		"[1,2]",
		"\"str\"",
		"42",
		"null",
		"{a:1}",
		"{\"a\" 1}",
		"{\"a\":1 \"b\":2}",
		"{\"a\":01}",
		"{\"a\":-}",
		"{\"a\":1.}",
		"{\"a\":1e}",
		"{\"a\":.5}",
		"{\"a\":+1}",
		"{\"a\":tru}",
		"{\"a\":nul}",
		"{\"a\":\"x}",
		"{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12g4\"}",
		"{\"a\":\"\\u12\"}",
		"{\"a\":\"tab\there\"}",
		"{\"a\":\"nl\nhere\"}",
		"{\"a\":[}",
		"{\"a\":{]}",
		"{\"a\":1,\"b\"}",
		"{\"event_id\":\"ev_1\",",
		"{\"a\":1}\"",
		"{\"a\":1}]",
	};
	struct gw_evsum s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.status = 7;
		if (extract(&s, bad[i]) != -1) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			CHECK(0);
		}
		CHECK(s.status == 0); /* zeroed */
	}
	/* A NUL byte is not JSON. */
	CHECK(gw_evsum_extract(&s, "{\"a\":1}\0", 8) == -1);
	/* Truncated anywhere, a real event is refused. */
	for (i = 0; i < sizeof(ev_full) - 1; i++)
		if (gw_evsum_extract(&s, ev_full, i) != -1) {
			fprintf(stderr, "accepted prefix of %zu bytes\n", i);
			CHECK(0);
			break;
		}
}

TEST(test_whitespace_and_values)
{
	struct gw_evsum s;

	CHECK(extract(&s,
	          " \t{ \"object\" : { \"duration_ns\" : 12 ,"
	          "\"n\":[ ], \"o\":{ }, \"x\":[1,-0.5e+3,true,false,"
	          "null,\"s\",{\"k\":[[]]}]} }\r\n") == 0);
	CHECK(s.duration_ns == 12);
	CHECK(extract(&s, "{\"a\":0,\"b\":-0,\"c\":1E9,\"d\":2.25e-2}") == 0);
}

static void
nest(char *buf, int depth, char open, char close)
{
	int i;

	buf[0] = '{';
	buf[1] = '"';
	buf[2] = 'a';
	buf[3] = '"';
	buf[4] = ':';
	for (i = 0; i < depth; i++)
		buf[5 + i] = open;
	for (i = 0; i < depth; i++)
		buf[5 + depth + i] = close;
	buf[5 + 2 * depth] = '}';
	buf[6 + 2 * depth] = '\0';
}

TEST(test_depth)
{
	char buf[2 * GW_JSCAN_MAX_DEPTH + 16], *big;
	struct gw_evsum s;

	/* The outer object is level 1. */
	nest(buf, GW_JSCAN_MAX_DEPTH - 1, '[', ']');
	CHECK(extract(&s, buf) == 0);
	nest(buf, GW_JSCAN_MAX_DEPTH, '[', ']');
	CHECK(extract(&s, buf) == -1);
	/* Deep nesting is refused without recursing deeply. */
	big = malloc(2 * 100000 + 16);
	CHECK(big != NULL);
	if (big != NULL) {
		nest(big, 100000, '[', ']');
		CHECK(extract(&s, big) == -1);
		free(big);
	}
	CHECK(extract(&s, "{\"a\":{\"a\":{\"a\":{}}}}") == 0);
}

TEST(test_helpers)
{
	uint8_t a[16];

	CHECK(gw_evsum_method_of("GET", 3) == GW_EVM_GET);
	CHECK(gw_evsum_method_of("TRACE", 5) == GW_EVM_TRACE);
	CHECK(gw_evsum_method_of("PROPFIND", 8) == GW_EVM_OTHER);
	CHECK(gw_evsum_method_of("GE", 2) == GW_EVM_OTHER);
	CHECK_STREQ(gw_evsum_method_name(GW_EVM_DELETE), "DELETE");
	CHECK(gw_evsum_method_name(GW_EVM_NONE) == NULL);
	CHECK(gw_evsum_method_name(GW_EVM_OTHER) == NULL);
	CHECK(gw_evsum_method_name(99) == NULL);
	CHECK(gw_evsum_host_hash("Api.Example.COM", 15) ==
	    gw_evsum_host_hash("api.example.com", 15));
	CHECK(gw_evsum_host_hash("a:80", 4) != gw_evsum_host_hash("a", 1));
	CHECK(gw_evsum_host_hash("", 0) != 0);
	CHECK(gw_evsum_ip("192.0.2.1", 9, a) == 0);
	CHECK(a[10] == 0xff && a[11] == 0xff && a[12] == 192 && a[15] == 1);
	CHECK(gw_evsum_ip("::1", 3, a) == 0 && a[15] == 1 && a[10] == 0);
	CHECK(gw_evsum_ip("192.0.2.1:80", 12, a) == -1);
	CHECK(gw_evsum_ip("[::1]", 5, a) == -1);
	CHECK(gw_evsum_ip("1.2.3", 5, a) == -1);
}

/*
 * The scanner and jansson agree on whether mutations of a real event are
 * JSON objects.  Mutations use ASCII only and avoid \u0000, where the
 * two differ by design (jansson also checks UTF-8 and refuses NUL).
 */
TEST(test_vs_jansson)
{
	static const char alphabet[] = "{}[]\":,\\ tfn0123456789.eE+-ux\"a/";
	char buf[sizeof(ev_full) + 8];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	struct gw_evsum s;
	json_error_t err;
	size_t len, pos;
	int i, k, ours, theirs, differ = 0;
	json_t *j;

	for (i = 0; i < 20000; i++) {
		memcpy(buf, ev_429, sizeof(ev_429));
		len = sizeof(ev_429) - 1;
		for (k = 0; k < 1 + i % 3; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			pos = (size_t)(x >> 8) % len;
			switch (x % 3) {
			case 0: /* replace */
				buf[pos] = alphabet[(x >> 40) %
				    (sizeof(alphabet) - 1)];
				break;
			case 1: /* delete */
				memmove(
				    buf + pos, buf + pos + 1, len - pos - 1);
				len--;
				break;
			default: /* insert */
				if (len + 1 >= sizeof(buf))
					break;
				memmove(buf + pos + 1, buf + pos, len - pos);
				buf[pos] = alphabet[(x >> 40) %
				    (sizeof(alphabet) - 1)];
				len++;
				break;
			}
		}
		if (memmem(buf, len, "\\u0000", 6) != NULL)
			continue;
		ours = gw_evsum_extract(&s, buf, len) == 0;
		j = json_loadb(buf, len, JSON_DECODE_INT_AS_REAL, &err);
		theirs = j != NULL && json_is_object(j);
		json_decref(j);
		if (ours != theirs && differ++ < 5)
			fprintf(stderr, "jscan %d, jansson %d: %.*s\n", ours,
			    theirs, (int)len, buf);
	}
	CHECK(differ == 0);
}

/* Times extraction over <n> events; prints, never fails. */
static void
bench(long n)
{
	struct gw_evsum s;
	uint64_t t0, t;
	size_t len = strlen(ev_full);
	long i, ok = 0;

	t0 = gw_mono_ns();
	for (i = 0; i < n; i++)
		ok += gw_evsum_extract(&s, ev_full, len) == 0;
	t = gw_mono_ns() - t0;
	printf("# bench: %ld extractions of a %zu-byte event: %.0f ns each, "
	       "%.0f events/s, %.0f MB/s (%ld ok)\n",
	    n, len, (double)t / (double)n, (double)n * 1e9 / (double)t,
	    (double)n * (double)len * 1e3 / (double)t, ok);
}

int
main(int argc, char **argv)
{
	RUN(test_http_full);
	RUN(test_http_429);
	RUN(test_tcp);
	RUN(test_audit_and_other);
	RUN(test_flags);
	RUN(test_missing_and_wrong_types);
	RUN(test_escapes);
	RUN(test_unescape);
	RUN(test_malformed);
	RUN(test_whitespace_and_values);
	RUN(test_depth);
	RUN(test_helpers);
	RUN(test_vs_jansson);
	if (argc == 3 && strcmp(argv[1], "--bench") == 0)
		bench(atol(argv[2]));
	return harness_done();
}
