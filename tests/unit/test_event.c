// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/event.c: every builder's output is parsed back with
 * jansson (rejecting duplicate keys, as a grouped header map must never
 * have them) and checked field by field against docs/PROTOCOL.md:
 * envelope, conn, request and response with header grouping, redaction
 * and truncation, bodies as text or base64, the optional sections, the
 * TCP and audit events, and all-or-nothing appends to a full buffer.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "evid.h"
#include "harness.h"
#include "json.h"
#include "timeutil.h"

#define SEC 1000000000ULL
#define T0  1795536526000000000ULL /* 2026-11-24T16:08:46Z */

#define H(n, v)                      \
	{                            \
		GW_STR(n), GW_STR(v) \
	}

static struct gw_buf out;

/* Parses the buffer's content as one JSON object, strictly. */
static json_t *
parse(const struct gw_buf *b)
{
	json_error_t err;
	json_t *j;

	j = json_loadb(gw_buf_head(b), b->len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL) {
		fprintf(stderr, "jansson: %s at %d: %.*s\n", err.text,
		    err.position, (int)b->len, gw_buf_head(b));
		harness_failed_checks++;
	}
	return j;
}

/* The value at dotted <path> ("object.http.request.method"), or NULL. */
static json_t *
at(json_t *j, const char *path)
{
	char key[128];
	const char *dot;
	size_t n;

	while (j != NULL && *path != '\0') {
		dot = strchr(path, '.');
		n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		j = json_object_get(j, key);
		path += n + (dot != NULL);
	}
	return j;
}

static const char *
str_at(json_t *j, const char *path)
{
	return json_string_value(at(j, path));
}

static long long
int_at(json_t *j, const char *path)
{
	json_t *v = at(j, path);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static int
is_true(json_t *j, const char *path)
{
	return json_is_true(at(j, path));
}

static int
is_false(json_t *j, const char *path)
{
	return json_is_false(at(j, path));
}

/* Value <i> of header <name> in the map at <path>. */
static const char *
hdr(json_t *j, const char *path, const char *name, size_t i)
{
	return json_string_value(json_array_get(at(at(j, path), name), i));
}

static size_t
hdr_count(json_t *j, const char *path, const char *name)
{
	return json_array_size(at(at(j, path), name));
}

static const struct gw_conn_info conn = {
	.client_ip = "203.0.113.7",
	.client_port = 51234,
	.server_ip = "198.51.100.10",
	.server_port = 443,
	.server_name = GW_STR("api.example.com"),
	.start_ns = T0 - SEC + 902113000,
	.end_ns = T0 + 5 * SEC,
	.bytes_in = 3437,
	.bytes_out = 90256,
};

static const struct gw_hdr req_headers[] = {
	H("host", "api.example.com"),
	H("user-agent", "curl/8.5.0"),
	H("content-type", "application/json"),
	H("authorization", "Bearer s3cret"),
	H("Cookie", "a=1"),
	H("X-API-KEY", "k"),
	H("accept", "text/html"),
	H("Accept", "application/json"),
};

static const struct gw_hdr res_headers[] = {
	H("Content-Type", "application/json"),
	H("set-cookie", "a=1; Path=/"),
	H("X-Trace", "t1"),
	H("Set-Cookie", "b=2; Path=/"),
};

/* A full exchange as a proxied POST with full capture would give. */
static void
full_exchange(struct gw_exchange *x)
{
	static const struct gw_body req_body = { GW_STR("{\"n\":1}"), 0 };
	static const struct gw_body res_body = { GW_STR("{\"id\":7}"), 0 };

	memset(x, 0, sizeof(*x));
	x->conn = &conn;
	x->method = GW_STR("POST");
	x->version = GW_STR("HTTP/1.1");
	x->scheme = GW_STR("https");
	x->host = GW_STR("api.example.com");
	x->path = GW_STR("/v1/orders");
	x->query = GW_STR("dry_run=1");
	x->user_agent = GW_STR("curl/8.5.0");
	x->req_headers = req_headers;
	x->n_req_headers = sizeof(req_headers) / sizeof(req_headers[0]);
	x->req_body_length = 7;
	x->req_first_ns = T0 - SEC + 910000000;
	x->req_last_ns = T0 - SEC + 911000000;
	x->req_body = &req_body;
	x->status = 201;
	x->res_headers = res_headers;
	x->n_res_headers = sizeof(res_headers) / sizeof(res_headers[0]);
	x->res_body_length = 8;
	x->res_first_ns = T0 + 34000000;
	x->res_last_ns = T0 + 35000000;
	x->res_body = &res_body;
	x->has_backend = 1;
	x->connection_reused = 1;
	x->backend_url = GW_STR("http://127.0.0.1:3000");
	x->connect_ns = 0;
	x->response_ns = 120000000;
	x->tls_version = "1.3";
	x->tls_cipher = "TLS_AES_128_GCM_SHA256";
	x->duration_ns = 125000000;
	x->redact = &gw_redact_default;
}

/* Builds the event for <x> into the shared buffer and parses it. */
static json_t *
build(const struct gw_exchange *x)
{
	gw_buf_reset(&out);
	if (gw_event_http_complete(&out, x, T0 + 123456789, NULL) == -1) {
		harness_failed_checks++;
		return NULL;
	}
	return parse(&out);
}

TEST(envelope)
{
	struct gw_exchange x;
	char id[GW_EVID_LEN + 1];
	json_t *ev;

	full_exchange(&x);
	gw_buf_reset(&out);
	CHECK(gw_event_http_complete(&out, &x, T0 + 123456789, id) == 0);
	/* One line: NDJSON framing relies on it. */
	CHECK(memchr(gw_buf_head(&out), '\n', out.len) == NULL);
	ev = parse(&out);
	CHECK(json_object_size(ev) == 5);
	CHECK_STREQ(str_at(ev, "event_id"), id);
	CHECK(gw_evid_valid(id, strlen(id)));
	CHECK(gw_evid_time_ns(id) == T0 + 123456000);
	CHECK_STREQ(str_at(ev, "event_type"), "http_request_complete.v0");
	CHECK_STREQ(
	    str_at(ev, "event_timestamp"), "2026-11-24T16:08:46.123456Z");
	CHECK(json_is_null(at(ev, "principal")));
	CHECK(json_is_object(at(ev, "object")));
	json_decref(ev);
}

TEST(conn_fields)
{
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	ev = build(&x);
	CHECK_STREQ(str_at(ev, "object.conn.client_ip"), "203.0.113.7");
	CHECK(int_at(ev, "object.conn.client_port") == 51234);
	CHECK_STREQ(str_at(ev, "object.conn.server_ip"), "198.51.100.10");
	CHECK_STREQ(str_at(ev, "object.conn.server_name"), "api.example.com");
	/* An integer, not ngrok's string. */
	CHECK(json_is_integer(at(ev, "object.conn.server_port")));
	CHECK(int_at(ev, "object.conn.server_port") == 443);
	CHECK_STREQ(
	    str_at(ev, "object.conn.start_ts"), "2026-11-24T16:08:45.902113Z");
	/* Closing fields belong to tcp_connection_closed only. */
	CHECK(at(ev, "object.conn.end_ts") == NULL);
	CHECK(at(ev, "object.conn.bytes_in") == NULL);
	CHECK(json_object_size(at(ev, "object.conn")) == 6);
	json_decref(ev);
}

TEST(request_fields)
{
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	ev = build(&x);
	CHECK_STREQ(str_at(ev, "object.http.request.method"), "POST");
	CHECK_STREQ(str_at(ev, "object.http.request.version"), "HTTP/1.1");
	CHECK_STREQ(str_at(ev, "object.http.request.url.raw"),
	    "https://api.example.com/v1/orders?dry_run=1");
	CHECK_STREQ(str_at(ev, "object.http.request.url.scheme"), "https");
	CHECK_STREQ(
	    str_at(ev, "object.http.request.url.host"), "api.example.com");
	CHECK_STREQ(str_at(ev, "object.http.request.url.path"), "/v1/orders");
	CHECK_STREQ(str_at(ev, "object.http.request.url.query"), "dry_run=1");
	CHECK_STREQ(str_at(ev, "object.http.request.user_agent"), "curl/8.5.0");
	CHECK(int_at(ev, "object.http.request.body_length") == 7);
	CHECK_STREQ(str_at(ev, "object.http.request.first_byte_ts"),
	    "2026-11-24T16:08:45.910000Z");
	CHECK_STREQ(str_at(ev, "object.http.request.last_byte_ts"),
	    "2026-11-24T16:08:45.911000Z");
	CHECK_STREQ(str_at(ev, "object.http.request.body"), "{\"n\":1}");
	CHECK_STREQ(str_at(ev, "object.http.request.body_encoding"), "text");
	CHECK(is_false(ev, "object.http.request.body_truncated"));
	CHECK(is_false(ev, "object.http.request.headers_truncated"));
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "Content-Type", 0),
	    "application/json");
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "Host", 0),
	    "api.example.com");
	json_decref(ev);
}

TEST(response_backend_tls_fields)
{
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	ev = build(&x);
	CHECK(int_at(ev, "object.http.response.status_code") == 201);
	CHECK(int_at(ev, "object.http.response.body_length") == 8);
	CHECK_STREQ(str_at(ev, "object.http.response.first_byte_ts"),
	    "2026-11-24T16:08:46.034000Z");
	CHECK_STREQ(str_at(ev, "object.http.response.last_byte_ts"),
	    "2026-11-24T16:08:46.035000Z");
	CHECK_STREQ(str_at(ev, "object.http.response.body"), "{\"id\":7}");
	CHECK_STREQ(str_at(ev, "object.http.response.body_encoding"), "text");
	CHECK(is_false(ev, "object.http.response.body_truncated"));
	CHECK(is_false(ev, "object.http.response.headers_truncated"));
	CHECK(is_true(ev, "object.backend.connection_reused"));
	CHECK_STREQ(str_at(ev, "object.backend.url"), "http://127.0.0.1:3000");
	CHECK(int_at(ev, "object.backend.connect_ns") == 0);
	CHECK(int_at(ev, "object.backend.response_ns") == 120000000);
	CHECK_STREQ(str_at(ev, "object.tls.version"), "1.3");
	CHECK_STREQ(
	    str_at(ev, "object.tls.cipher_suite"), "TLS_AES_128_GCM_SHA256");
	CHECK(int_at(ev, "object.duration_ns") == 125000000);
	CHECK(at(ev, "object.error") == NULL);
	CHECK(at(ev, "object.replay_of") == NULL);
	json_decref(ev);
}

TEST(header_grouping_and_canonical_names)
{
	struct gw_exchange x;
	json_t *ev, *h;
	const char *key;
	json_t *v;
	static const char *const order[] = { "Host", "User-Agent",
		"Content-Type", "Authorization", "Cookie", "X-Api-Key",
		"Accept" };
	size_t i = 0;

	full_exchange(&x);
	ev = build(&x);
	h = at(ev, "object.http.request.headers");
	CHECK(json_object_size(h) == 7);
	/* Keys in order of first appearance, canonical case. */
	json_object_foreach(h, key, v)
	{
		CHECK(i < 7 && strcmp(key, order[i]) == 0);
		CHECK(json_is_array(v));
		i++;
	}
	/* "accept" then "Accept": one key, values in order of arrival. */
	CHECK(hdr_count(ev, "object.http.request.headers", "Accept") == 2);
	CHECK_STREQ(
	    hdr(ev, "object.http.request.headers", "Accept", 0), "text/html");
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "Accept", 1),
	    "application/json");
	CHECK(hdr_count(ev, "object.http.response.headers", "Set-Cookie") == 2);
	CHECK(json_object_size(at(ev, "object.http.response.headers")) == 3);
	CHECK_STREQ(
	    hdr(ev, "object.http.response.headers", "X-Trace", 0), "t1");
	json_decref(ev);
}

TEST(default_redaction)
{
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	ev = build(&x);
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "Authorization", 0),
	    "[REDACTED]");
	CHECK_STREQ(
	    hdr(ev, "object.http.request.headers", "Cookie", 0), "[REDACTED]");
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "X-Api-Key", 0),
	    "[REDACTED]");
	/* Both Set-Cookie values, so the count is still visible. */
	CHECK_STREQ(hdr(ev, "object.http.response.headers", "Set-Cookie", 0),
	    "[REDACTED]");
	CHECK_STREQ(hdr(ev, "object.http.response.headers", "Set-Cookie", 1),
	    "[REDACTED]");
	CHECK(memmem(gw_buf_head(&out), out.len, "s3cret", 6) == NULL);
	CHECK(memmem(gw_buf_head(&out), out.len, "a=1", 3) == NULL);
	/* Redaction is not truncation. */
	CHECK(is_false(ev, "object.http.request.headers_truncated"));
	json_decref(ev);

	CHECK(gw_redact_match(&gw_redact_default, "proxy-authorization", 19));
	CHECK(gw_redact_match(&gw_redact_default, "SET-COOKIE", 10));
	CHECK(!gw_redact_match(&gw_redact_default, "Cookies", 7));
	CHECK(!gw_redact_match(&gw_redact_default, "Cookie", 5));
	CHECK(!gw_redact_match(NULL, "Cookie", 6));
}

TEST(custom_and_no_redaction)
{
	static const char *const names[] = { "x-trace", "Host" };
	static const struct gw_redact mine = { names, 2 };
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	x.redact = &mine;
	ev = build(&x);
	CHECK_STREQ(
	    hdr(ev, "object.http.request.headers", "Host", 0), "[REDACTED]");
	CHECK_STREQ(hdr(ev, "object.http.response.headers", "X-Trace", 0),
	    "[REDACTED]");
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "Authorization", 0),
	    "Bearer s3cret");
	json_decref(ev);

	x.redact = NULL;
	ev = build(&x);
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "Cookie", 0), "a=1");
	CHECK_STREQ(hdr(ev, "object.http.response.headers", "Set-Cookie", 1),
	    "b=2; Path=/");
	json_decref(ev);
}

TEST(header_value_truncation)
{
	static char big[2000], utf[1200];
	struct gw_hdr h[3];
	struct gw_exchange x;
	json_t *ev;
	const char *v;
	size_t i;

	memset(big, 'v', sizeof(big));
	/* "é" is two bytes: a cut at an odd length must step back one. */
	for (i = 0; i < sizeof(utf); i += 2)
		memcpy(utf + i, "\xc3\xa9", 2);
	h[0] = (struct gw_hdr){ GW_STR("X-Big"), { big, sizeof(big) } };
	h[1] = (struct gw_hdr){ GW_STR("X-Utf"), { utf, sizeof(utf) } };
	h[2] = (struct gw_hdr){ GW_STR("X-Small"), GW_STR("ok") };
	full_exchange(&x);
	x.req_headers = h;
	x.n_req_headers = 3;
	ev = build(&x);
	CHECK(is_true(ev, "object.http.request.headers_truncated"));
	CHECK(is_false(ev, "object.http.response.headers_truncated"));
	v = hdr(ev, "object.http.request.headers", "X-Big", 0);
	CHECK(v != NULL && strlen(v) == GW_HEADER_VALUE_LIMIT);
	v = hdr(ev, "object.http.request.headers", "X-Utf", 0);
	CHECK(v != NULL && strlen(v) == GW_HEADER_VALUE_LIMIT);
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "X-Small", 0), "ok");
	json_decref(ev);

	x.header_value_limit = 1023;
	ev = build(&x);
	v = hdr(ev, "object.http.request.headers", "X-Utf", 0);
	CHECK(v != NULL && strlen(v) == 1022);
	v = hdr(ev, "object.http.request.headers", "X-Big", 0);
	CHECK(v != NULL && strlen(v) == 1023);
	json_decref(ev);

	/* Exactly at the limit is not truncated. */
	x.header_value_limit = 2;
	x.n_req_headers = 1;
	h[0] = (struct gw_hdr){ GW_STR("X-Small"), GW_STR("ok") };
	ev = build(&x);
	CHECK(is_false(ev, "object.http.request.headers_truncated"));
	json_decref(ev);
}

/*
 * More headers than the grouping's stack array: names repeat across the
 * boundary, and the output must still have one key per name with every
 * value in order.
 */
TEST(many_headers)
{
	static struct gw_hdr h[300];
	static char names[300][16], values[300][16];
	struct gw_exchange x;
	char key[16], val[16];
	json_t *ev, *map;
	int i, k, bad = 0;

	for (i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]), i % 2 ? "x-h%d" : "X-H%d",
		    i % 50);
		snprintf(values[i], sizeof(values[i]), "v%d", i);
		h[i].name = (struct gw_str){ names[i], strlen(names[i]) };
		h[i].value = (struct gw_str){ values[i], strlen(values[i]) };
	}
	full_exchange(&x);
	x.req_headers = h;
	x.n_req_headers = 300;
	ev = build(&x);
	map = at(ev, "object.http.request.headers");
	CHECK(json_object_size(map) == 50);
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "X-H%d", i);
		if (json_array_size(json_object_get(map, key)) != 6) {
			bad++;
			continue;
		}
		for (k = 0; k < 6; k++) {
			snprintf(val, sizeof(val), "v%d", i + 50 * k);
			if (strcmp(hdr(ev, "object.http.request.headers", key,
			               (size_t)k),
			        val) != 0)
				bad++;
		}
	}
	CHECK(bad == 0);
	json_decref(ev);

	/* All distinct names past the array: the quadratic fallback. */
	for (i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]), "x-n%d", i);
		h[i].name = (struct gw_str){ names[i], strlen(names[i]) };
	}
	ev = build(&x);
	CHECK(json_object_size(at(ev, "object.http.request.headers")) == 300);
	CHECK_STREQ(
	    hdr(ev, "object.http.request.headers", "X-N299", 0), "v299");
	json_decref(ev);
}

TEST(header_canon)
{
	char o[32];

	gw_header_canon("x-api-key", 9, o);
	CHECK(memcmp(o, "X-Api-Key", 9) == 0);
	gw_header_canon("CONTENT-TYPE", 12, o);
	CHECK(memcmp(o, "Content-Type", 12) == 0);
	gw_header_canon("www-authenticate", 16, o);
	CHECK(memcmp(o, "Www-Authenticate", 16) == 0);
	gw_header_canon("x--a1b", 6, o);
	CHECK(memcmp(o, "X--A1b", 6) == 0);
	memcpy(o, "etag", 4);
	gw_header_canon(o, 4, o);
	CHECK(memcmp(o, "Etag", 4) == 0);
}

/* Whatever a client puts in names and values, the event is valid JSON. */
TEST(hostile_bytes_are_escaped)
{
	static const struct gw_hdr h[] = {
		H("x-\n-ctl\"", "line1\r\nline2\x01\x1f"),
		H("X-\n-Ctl\"", "second"),
		H("x-bin", "\xff\xfe\x80z"),
		H("x-\xc3\xa9", "caf\xc3\xa9"),
	};
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	x.req_headers = h;
	x.n_req_headers = 4;
	x.path = GW_STR("/a\"b\\c\x01\xff");
	x.query = GW_STR("q=\t");
	x.method = GW_STR("G\xc0T");
	ev = build(&x);
	CHECK(hdr_count(ev, "object.http.request.headers", "X-\n-Ctl\"") == 2);
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "X-\n-Ctl\"", 0),
	    "line1\r\nline2\x01\x1f");
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "X-Bin", 0),
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
	CHECK_STREQ(hdr(ev, "object.http.request.headers", "X-\xc3\xa9", 0),
	    "caf\xc3\xa9");
	CHECK_STREQ(str_at(ev, "object.http.request.url.path"),
	    "/a\"b\\c\x01\xef\xbf\xbd");
	CHECK_STREQ(str_at(ev, "object.http.request.url.raw"),
	    "https://api.example.com/a\"b\\c\x01\xef\xbf\xbd?q=\t");
	CHECK_STREQ(str_at(ev, "object.http.request.method"), "G\xef\xbf\xbdT");
	json_decref(ev);
}

TEST(bodies_text_and_base64)
{
	static const struct gw_body bin = { { "\x00\x01\xfe\xff", 4 }, 0 };
	static const struct gw_body nul = { { "a\0b", 3 }, 1 };
	/* Truncated in the middle of "é": still text, minus the half. */
	static const struct gw_body cut = { { "caf\xc3", 4 }, 1 };
	/* Not truncated, so a dangling byte means binary. */
	static const struct gw_body dangling = { { "caf\xc3", 4 }, 0 };
	static const struct gw_body empty = { { NULL, 0 }, 0 };
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	x.req_body = &bin;
	x.res_body = &nul;
	ev = build(&x);
	CHECK_STREQ(str_at(ev, "object.http.request.body"), "AAH+/w==");
	CHECK_STREQ(str_at(ev, "object.http.request.body_encoding"), "base64");
	CHECK(is_false(ev, "object.http.request.body_truncated"));
	/* NUL is valid UTF-8 but not text: base64, so it survives C tools. */
	CHECK_STREQ(str_at(ev, "object.http.response.body"), "YQBi");
	CHECK_STREQ(str_at(ev, "object.http.response.body_encoding"), "base64");
	CHECK(is_true(ev, "object.http.response.body_truncated"));
	json_decref(ev);

	x.req_body = &cut;
	x.res_body = &dangling;
	ev = build(&x);
	CHECK_STREQ(str_at(ev, "object.http.request.body"), "caf");
	CHECK_STREQ(str_at(ev, "object.http.request.body_encoding"), "text");
	CHECK(is_true(ev, "object.http.request.body_truncated"));
	CHECK_STREQ(str_at(ev, "object.http.response.body"), "Y2Fmww==");
	CHECK_STREQ(str_at(ev, "object.http.response.body_encoding"), "base64");
	json_decref(ev);

	x.req_body = &empty;
	x.res_body = NULL;
	ev = build(&x);
	CHECK_STREQ(str_at(ev, "object.http.request.body"), "");
	CHECK_STREQ(str_at(ev, "object.http.request.body_encoding"), "text");
	CHECK(at(ev, "object.http.response.body") == NULL);
	CHECK(at(ev, "object.http.response.body_encoding") == NULL);
	CHECK(at(ev, "object.http.response.body_truncated") == NULL);
	json_decref(ev);
}

/* What gw writes for a request it answered itself, without capture. */
TEST(gw_answered_metadata_only)
{
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	x.req_headers = NULL;
	x.req_body = NULL;
	x.res_headers = NULL;
	x.res_body = NULL;
	x.status = 429;
	x.has_backend = 0;
	x.tls_version = NULL;
	x.query = GW_STR("");
	x.error_code = "GW_RATE_LIMITED";
	x.error_message = "rate limit exceeded";
	ev = build(&x);
	CHECK(at(ev, "object.http.request.headers") == NULL);
	CHECK(at(ev, "object.http.request.headers_truncated") == NULL);
	CHECK(at(ev, "object.http.request.body") == NULL);
	CHECK(at(ev, "object.http.response.headers") == NULL);
	CHECK(int_at(ev, "object.http.response.status_code") == 429);
	CHECK_STREQ(str_at(ev, "object.http.request.url.raw"),
	    "https://api.example.com/v1/orders");
	CHECK_STREQ(str_at(ev, "object.http.request.url.query"), "");
	CHECK(at(ev, "object.backend") == NULL);
	CHECK(at(ev, "object.tls") == NULL);
	CHECK_STREQ(str_at(ev, "object.error.code"), "GW_RATE_LIMITED");
	CHECK_STREQ(str_at(ev, "object.error.message"), "rate limit exceeded");
	json_decref(ev);
}

TEST(no_response_and_nulls)
{
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	x.status = 0;
	x.req_last_ns = 0;
	x.error_code = "GW_CLIENT_CLOSED";
	x.error_message = NULL;
	x.tls_cipher = NULL;
	x.user_agent = (struct gw_str){ NULL, 0 };
	ev = build(&x);
	CHECK(at(ev, "object.http.response") == NULL);
	CHECK(json_is_object(at(ev, "object.http.request")));
	CHECK(json_is_null(at(ev, "object.http.request.last_byte_ts")));
	CHECK_STREQ(str_at(ev, "object.error.code"), "GW_CLIENT_CLOSED");
	CHECK(json_is_null(at(ev, "object.error.message")));
	CHECK(json_is_null(at(ev, "object.tls.cipher_suite")));
	CHECK_STREQ(str_at(ev, "object.http.request.user_agent"), "");
	json_decref(ev);
}

TEST(replay_of_and_extra)
{
	static const char extra[] =
	    "\"traffic_policy\":{\"rules_matched\":[\"limit\"],"
	    "\"action\":\"respond\"},\"ip_policy\":{\"decision\":\"allow\"}";
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	x.replay_of = GW_STR("ev_2pQ1aZk3Y9xWm4Nv8Lr0Tb6Hc2D");
	x.extra = GW_STR(extra);
	ev = build(&x);
	CHECK_STREQ(
	    str_at(ev, "object.replay_of"), "ev_2pQ1aZk3Y9xWm4Nv8Lr0Tb6Hc2D");
	CHECK_STREQ(str_at(ev, "object.traffic_policy.action"), "respond");
	CHECK_STREQ(json_string_value(json_array_get(
	                at(ev, "object.traffic_policy.rules_matched"), 0)),
	    "limit");
	CHECK_STREQ(str_at(ev, "object.ip_policy.decision"), "allow");
	json_decref(ev);
}

TEST(no_host_gives_origin_form_raw)
{
	struct gw_exchange x;
	json_t *ev;

	full_exchange(&x);
	x.host = GW_STR("");
	ev = build(&x);
	CHECK_STREQ(
	    str_at(ev, "object.http.request.url.raw"), "/v1/orders?dry_run=1");
	json_decref(ev);
}

TEST(tcp_closed)
{
	json_t *ev;

	gw_buf_reset(&out);
	CHECK(gw_event_tcp_closed(&out, &conn, T0) == 0);
	ev = parse(&out);
	CHECK_STREQ(str_at(ev, "event_type"), "tcp_connection_closed.v0");
	CHECK(gw_evid_valid(str_at(ev, "event_id"), GW_EVID_LEN));
	CHECK_STREQ(
	    str_at(ev, "event_timestamp"), "2026-11-24T16:08:46.000000Z");
	CHECK(json_is_null(at(ev, "principal")));
	CHECK_STREQ(str_at(ev, "object.conn.client_ip"), "203.0.113.7");
	CHECK(int_at(ev, "object.conn.client_port") == 51234);
	CHECK_STREQ(str_at(ev, "object.conn.server_ip"), "198.51.100.10");
	CHECK(int_at(ev, "object.conn.server_port") == 443);
	CHECK_STREQ(str_at(ev, "object.conn.server_name"), "api.example.com");
	CHECK_STREQ(
	    str_at(ev, "object.conn.start_ts"), "2026-11-24T16:08:45.902113Z");
	CHECK_STREQ(
	    str_at(ev, "object.conn.end_ts"), "2026-11-24T16:08:51.000000Z");
	CHECK(int_at(ev, "object.conn.bytes_in") == 3437);
	CHECK(int_at(ev, "object.conn.bytes_out") == 90256);
	CHECK(json_object_size(at(ev, "object")) == 1);
	json_decref(ev);
}

TEST(audit)
{
	const char *subject;
	json_t *ev;

	gw_buf_reset(&out);
	CHECK(gw_event_audit(&out, "endpoint_started.v0", "cli",
	          "{\"listen\":\"127.0.0.1:8080\","
	          "\"upstream\":\"http://127.0.0.1:3000\"}",
	          T0) == 0);
	ev = parse(&out);
	CHECK_STREQ(str_at(ev, "event_type"), "endpoint_started.v0");
	CHECK(gw_evid_valid(str_at(ev, "event_id"), GW_EVID_LEN));
	CHECK_STREQ(str_at(ev, "principal.source"), "cli");
	subject = str_at(ev, "principal.subject");
	CHECK(subject != NULL && strchr(subject, '@') != NULL &&
	    subject[0] != '@');
	CHECK(json_object_size(at(ev, "principal")) == 2);
	CHECK_STREQ(str_at(ev, "object.listen"), "127.0.0.1:8080");
	CHECK_STREQ(str_at(ev, "object.upstream"), "http://127.0.0.1:3000");
	json_decref(ev);

	gw_buf_reset(&out);
	CHECK(
	    gw_event_audit(&out, "policy_updated.v0", "signal", NULL, 0) == 0);
	ev = parse(&out);
	CHECK(json_is_object(at(ev, "object")));
	CHECK(json_object_size(at(ev, "object")) == 0);
	/* A zero timestamp means now. */
	CHECK(str_at(ev, "event_timestamp") != NULL &&
	    strncmp(str_at(ev, "event_timestamp"), "1970", 4) != 0);
	json_decref(ev);
}

TEST(open_and_close)
{
	char id[GW_EVID_LEN + 1];
	json_t *ev;

	gw_buf_reset(&out);
	CHECK(gw_event_open(&out, "test", T0, NULL, id) == 0);
	CHECK(gw_buf_adds(&out, "{}") == 0);
	CHECK(gw_event_close(&out) == 0);
	ev = parse(&out);
	CHECK_STREQ(str_at(ev, "event_id"), id);
	CHECK_STREQ(str_at(ev, "event_type"), "test");
	CHECK(json_is_null(at(ev, "principal")));
	CHECK(json_object_size(at(ev, "object")) == 0);
	json_decref(ev);

	gw_buf_reset(&out);
	CHECK(gw_event_open(&out, "credential_created.v0", T0,
	          "{\"source\":\"cli\",\"subject\":\"a@b\"}", NULL) == 0);
	CHECK(gw_buf_adds(&out, "{\"id\":\"k1\"}") == 0);
	CHECK(gw_event_close(&out) == 0);
	ev = parse(&out);
	CHECK_STREQ(str_at(ev, "principal.subject"), "a@b");
	CHECK_STREQ(str_at(ev, "object.id"), "k1");
	json_decref(ev);
}

static int
build_kind(struct gw_buf *b, int kind)
{
	struct gw_exchange x;

	full_exchange(&x);
	switch (kind) {
	case 0:
		return gw_event_http_complete(b, &x, T0, NULL);
	case 1:
		return gw_event_tcp_closed(b, &conn, T0);
	case 2:
		return gw_event_audit(
		    b, "credential_rotated.v0", "cli", "{\"id\":\"k1\"}", T0);
	default:
		return gw_event_open(b, "x", T0, NULL, NULL);
	}
}

/*
 * Builds into a buffer capped at every size below what the event needs:
 * each attempt must fail with ENOBUFS and leave the earlier line intact.
 */
static int
all_or_nothing(int kind)
{
	static const char prefix[] = "{\"earlier\":\"line\"}\n";
	const size_t plen = sizeof(prefix) - 1;
	struct gw_buf b;
	size_t need, room;
	int bad = 0;

	gw_buf_init(&b, 0);
	if (build_kind(&b, kind) == -1)
		return 0;
	need = b.len;
	gw_buf_fini(&b);
	for (room = 0; room <= need; room++) {
		gw_buf_init(&b, plen + room);
		CHECK(gw_buf_adds(&b, prefix) == 0);
		errno = 0;
		if (room < need) {
			if (build_kind(&b, kind) != -1 || errno != ENOBUFS ||
			    b.len != plen ||
			    memcmp(gw_buf_head(&b), prefix, plen) != 0)
				bad++;
		} else if (build_kind(&b, kind) != 0 || b.len != plen + need)
			bad++;
		gw_buf_fini(&b);
	}
	return bad == 0;
}

TEST(full_buffer_leaves_buffer_unchanged)
{
	CHECK(all_or_nothing(0));
	CHECK(all_or_nothing(1));
	CHECK(all_or_nothing(2));
	CHECK(all_or_nothing(3));
}

TEST(policy_request_keeps_real_values)
{
	struct gw_exchange x;
	json_t *j;

	full_exchange(&x);
	x.status = 0;
	gw_buf_reset(&out);
	CHECK(gw_event_policy_request(&out, 17, "on_http_request", &x) == 0);
	CHECK(memchr(gw_buf_head(&out), '\n', out.len) == NULL);
	j = parse(&out);
	CHECK(int_at(j, "id") == 17);
	CHECK_STREQ(str_at(j, "phase"), "on_http_request");
	CHECK_STREQ(str_at(j, "conn.client_ip"), "203.0.113.7");
	CHECK_STREQ(str_at(j, "conn.tls.version"), "1.3");
	CHECK_STREQ(str_at(j, "req.method"), "POST");
	CHECK_STREQ(str_at(j, "req.url.path"), "/v1/orders");
	/* Policies match on real values: no redaction here. */
	CHECK_STREQ(hdr(j, "req.headers", "Authorization", 0), "Bearer s3cret");
	CHECK(hdr_count(j, "req.headers", "Accept") == 2);
	CHECK(at(j, "res") == NULL);
	CHECK(at(j, "object") == NULL);
	json_decref(j);

	x.status = 200;
	x.tls_version = NULL;
	gw_buf_reset(&out);
	CHECK(gw_event_policy_request(&out, 18, "on_http_response", &x) == 0);
	j = parse(&out);
	CHECK(int_at(j, "res.status_code") == 200);
	CHECK_STREQ(hdr(j, "res.headers", "Set-Cookie", 1), "b=2; Path=/");
	CHECK(at(j, "conn.tls") != NULL && json_is_null(at(j, "conn.tls")));
	json_decref(j);
}

TEST(policy_request_full_buffer_unchanged)
{
	struct gw_exchange x;
	struct gw_buf small;

	full_exchange(&x);
	gw_buf_init(&small, 100);
	CHECK(gw_buf_adds(&small, "x") == 0);
	CHECK(gw_event_policy_request(&small, 1, "on_http_request", &x) == -1);
	CHECK(small.len == 1);
	gw_buf_fini(&small);
}

int
main(void)
{
	gw_buf_init(&out, 0);
	RUN(envelope);
	RUN(conn_fields);
	RUN(request_fields);
	RUN(response_backend_tls_fields);
	RUN(header_grouping_and_canonical_names);
	RUN(default_redaction);
	RUN(custom_and_no_redaction);
	RUN(header_value_truncation);
	RUN(many_headers);
	RUN(header_canon);
	RUN(hostile_bytes_are_escaped);
	RUN(bodies_text_and_base64);
	RUN(gw_answered_metadata_only);
	RUN(no_response_and_nulls);
	RUN(replay_of_and_extra);
	RUN(no_host_gives_origin_form_raw);
	RUN(tcp_closed);
	RUN(audit);
	RUN(open_and_close);
	RUN(full_buffer_leaves_buffer_unchanged);
	RUN(policy_request_keeps_real_values);
	RUN(policy_request_full_buffer_unchanged);
	gw_buf_fini(&out);
	return harness_done();
}
