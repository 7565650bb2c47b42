// SPDX-License-Identifier: MIT
/*
 * Unit tests for gw-export's encoders (gw-export/fmt.h): pick.c's scan,
 * the Datadog, HTTP, Loki and syslog bodies as their receivers read them
 * (parsed back with jansson, which is as strict as Datadog), Datadog's
 * limits, the attributes and status as the query language reads them
 * (lib/query.h), and compression round trips.  Ends with a throughput
 * figure for Datadog encoding plus gzip over scripts/gen-events' events
 * (printed, not asserted).
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "../../gw-export/fmt.h"
#include "harness.h"
#include "query.h"
#include "timeutil.h"

/* docs/PROTOCOL.md §3.4's first example. */
static const char base_line[] =
    "{\"event_id\":\"ev_3MYnmLfguE7CD4G9UaerzcKbXwB\",\"event_type\":\"http_"
    "request_complete.v0\",\"event_timestamp\":\"2026-11-24T16:08:46.123456Z"
    "\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":\"203.0.113.7"
    "\",\"client_port\":51234,\"server_ip\":\"198.51.100.10\",\"server_name"
    "\":\"api.example.com\",\"server_port\":443,\"start_ts\":\"2026-11-24T16"
    ":08:45.902113Z\"},\"http\":{\"request\":{\"method\":\"POST\",\"version"
    "\":\"HTTP/1.1\",\"url\":{\"raw\":\"https://api.example.com/v1/orders?"
    "dry_run=1\",\"scheme\":\"https\",\"host\":\"api.example.com\",\"path\":"
    "\"/v1/orders\",\"query\":\"dry_run=1\"},\"headers\":{\"Host\":[\"api."
    "example.com\"],\"User-Agent\":[\"curl/8.5.0\"],\"Authorization\":[\"["
    "REDACTED]\"],\"Accept\":[\"application/json\",\"text/plain\"],\"Referer"
    "\":[\"https://example.com/\"]},\"user_agent\":\"curl/8.5.0\",\"body_"
    "length\":7,\"first_byte_ts\":\"2026-11-24T16:08:45.910000Z\",\"last_"
    "byte_ts\":\"2026-11-24T16:08:45.911000Z\",\"body\":\"{\\\"n\\\":1}\","
    "\"body_encoding\":\"text\",\"body_truncated\":false,\"headers_truncated"
    "\":false},\"response\":{\"status_code\":201,\"headers\":{\"Content-Type"
    "\":[\"application/json\"],\"Set-Cookie\":[\"[REDACTED]\",\"[REDACTED]\""
    "]},\"body_length\":8,\"first_byte_ts\":\"2026-11-24T16:08:46.034000Z\","
    "\"last_byte_ts\":\"2026-11-24T16:08:46.035000Z\",\"body\":\"{\\\"id\\\""
    ":7}\",\"body_encoding\":\"text\",\"body_truncated\":false,\"headers_"
    "truncated\":false}},\"backend\":{\"connection_reused\":true,\"url\":\""
    "http://127.0.0.1:3000\",\"connect_ns\":0,\"response_ns\":120000000},"
    "\"tls\":{\"version\":\"1.3\",\"cipher_suite\":\"TLS_AES_128_GCM_SHA256"
    "\"},\"duration_ns\":125000000,\"traffic_policy\":{\"rules_matched\":["
    "\"tag-orders\"],\"action\":\"continue\"}}}";

static const char tcp_line[] =
    "{\"event_id\":\"ev_3MYnmxi8rXcvMTXiq1HRFbAvjPH\",\"event_type\":\"tcp_"
    "connection_closed.v0\",\"event_timestamp\":\"2026-11-24T16:08:51.000000"
    "Z\",\"principal\":null,\"object\":{\"conn\":{\"client_ip\":\"203.0.113."
    "7\",\"client_port\":51234,\"server_ip\":\"198.51.100.10\",\"server_name"
    "\":\"api.example.com\",\"server_port\":443,\"start_ts\":\"2026-11-24T16"
    ":08:45.902113Z\",\"end_ts\":\"2026-11-24T16:08:51.000000Z\",\"bytes_in"
    "\":3437,\"bytes_out\":90256}}}";

static const char audit_line[] =
    "{\"event_id\":\"ev_3MYpAQ4qD52u2p7WD9mWvion57W\",\"event_type\":\"policy"
    "_updated.v0\",\"event_timestamp\":\"2026-11-24T16:20:11.031337Z\",\""
    "principal\":{\"source\":\"signal\",\"subject\":\"alice@gw-host-1\"},\""
    "object\":{\"file\":\"policy.yml\",\"sha256\":\"9f2c\",\"previous_sha256"
    "\":\"4be1\",\"rules\":3}}";

static const char rejected_line[] =
    "{\"event_id\":\"ev_3MYpAQ4qD52u2p7WD9mWvion58W\",\"event_type\":\"policy"
    "_rejected.v0\",\"event_timestamp\":\"2026-11-24T16:20:11.031337Z\",\""
    "principal\":{\"source\":\"signal\",\"subject\":\"alice@gw-host-1\"},\""
    "object\":{\"file\":\"policy.yml\",\"sha256\":\"9f2c\",\"previous_sha256"
    "\":\"4be1\",\"error\":\"policy.yml:12:9: unknown action\"}}";

/* -- helpers -------------------------------------------------------------- */

static json_t *
load(const char *s, size_t n)
{
	json_error_t err;
	json_t *j =
	    json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);

	if (j == NULL)
		fprintf(stderr, "jansson: %s at %d in %.200s\n", err.text,
		    err.position, s);
	return j;
}

/* The value at dotted <path> of <j>, or NULL. */
static json_t *
at(json_t *j, const char *path)
{
	char seg[128];
	const char *p = path, *dot;
	size_t n;

	while (j != NULL && *p != '\0') {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		j = json_object_get(j, seg);
		p += n + (dot != NULL);
	}
	return j;
}

/* Sets dotted <path> of <root> to <v> (stolen), creating objects. */
static void
put_at(json_t *root, const char *path, json_t *v)
{
	char seg[128];
	const char *p = path, *dot;
	json_t *next;
	size_t n;

	for (;;) {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (dot == NULL) {
			json_object_set_new(root, seg, v);
			return;
		}
		next = json_object_get(root, seg);
		if (!json_is_object(next)) {
			next = json_object();
			json_object_set_new(root, seg, next);
		}
		root = next;
		p = dot + 1;
	}
}

static void
del_at(json_t *root, const char *path)
{
	char buf[256], *dot;

	snprintf(buf, sizeof(buf), "%s", path);
	dot = strrchr(buf, '.');
	if (dot == NULL) {
		json_object_del(root, buf);
		return;
	}
	*dot = '\0';
	json_object_del(at(root, buf), dot + 1);
}

static json_t *
base_event(void)
{
	return load(base_line, strlen(base_line));
}

/* Dumps <j> (consumed) as a line the caller frees. */
static char *
line_of(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return s;
}

/* An exchange with <status> (0: no response) and <code> (NULL: none). */
static char *
exchange(int status, const char *code)
{
	json_t *j = base_event();

	if (status == 0)
		del_at(j, "object.http.response");
	else
		put_at(j, "object.http.response.status_code",
		    json_integer(status));
	if (code != NULL) {
		put_at(j, "object.error.code", json_string(code));
		put_at(j, "object.error.message", json_string("it broke"));
	}
	return line_of(j);
}

static const struct fmt_datadog_opts dd_defaults = { 0 };

/* Encodes <line> alone and returns the entry (caller decrefs). */
static json_t *
dd_entry(const struct fmt_datadog_opts *o, const char *line, size_t len,
    struct fmt_counts *counts, size_t *entry_len)
{
	struct xenc *e = fmt_datadog_new(o);
	struct xbatch b;
	json_t *arr, *ent = NULL;
	int r;

	fmt_batch_init(&b);
	r = fmt_add_line(e, &b, line, len);
	CHECK(r == 0);
	CHECK(fmt_end(e, &b) == 0);
	CHECK(b.raw == b.body.len);
	if (entry_len != NULL)
		*entry_len = b.body.len - 2;
	arr = load(gw_buf_head(&b.body), b.body.len);
	CHECK(json_is_array(arr) && json_array_size(arr) == 1);
	if (json_is_array(arr))
		ent = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	if (counts != NULL)
		*counts = e->counts;
	fmt_batch_fini(e, &b);
	fmt_free(e);
	return ent;
}

static const char *
sval(json_t *j, const char *path)
{
	const char *s = json_string_value(at(j, path));

	return s ? s : "(missing)";
}

static long long
ival(json_t *j, const char *path)
{
	json_t *v = at(j, path);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -12345;
}

/* -- pick.c --------------------------------------------------------------- */

TEST(pick_reads_fields)
{
	struct xevent ev;
	const char *l;
	char buf[64];
	uint64_t ns;

	CHECK(pick_event(&ev, base_line, strlen(base_line)) == 0);
	CHECK(gw_parse_rfc3339("2026-11-24T16:08:46.123456Z", &ns) == 0);
	CHECK(ev.ts_us == (int64_t)(ns / 1000));
	CHECK(ev.duration_ns == 125000000);
	CHECK(ev.status == 201);
	CHECK_STREQ(pick_str(&ev, XF_METHOD, buf, sizeof(buf)), "POST");
	CHECK_STREQ(pick_str(&ev, XF_PATH, buf, sizeof(buf)), "/v1/orders");
	CHECK_STREQ(
	    pick_str(&ev, XF_CLIENT_IP, buf, sizeof(buf)), "203.0.113.7");
	CHECK_STREQ(
	    pick_str(&ev, XF_SERVER_NAME, buf, sizeof(buf)), "api.example.com");
	CHECK_STREQ(
	    pick_str(&ev, XF_USER_AGENT, buf, sizeof(buf)), "curl/8.5.0");
	CHECK_STREQ(pick_str(&ev, XF_QUERY, buf, sizeof(buf)), "dry_run=1");
	CHECK_STREQ(pick_str(&ev, XF_EVENT_TYPE, buf, sizeof(buf)),
	    "http_request_complete.v0");
	/* Absent, not a string, too long for the buffer: "". */
	CHECK_STREQ(pick_str(&ev, XF_ERROR_CODE, buf, sizeof(buf)), "");
	CHECK_STREQ(pick_str(&ev, XF_STATUS, buf, sizeof(buf)), "");
	CHECK_STREQ(pick_str(&ev, XF_URL, buf, 8), "");
	CHECK(ev.f[XF_STATUS].type == GW_JNUMBER);
	CHECK(!pick_has_error(&ev));
	CHECK_STREQ(pick_status(&ev), "info");

	CHECK(pick_event(&ev, tcp_line, strlen(tcp_line)) == 0);
	CHECK(ev.status == 0 && ev.duration_ns == -1);
	CHECK(ev.f[XF_METHOD].type == GW_JNONE);

	/* Escapes are decoded by pick_str(). */
	l = "{\"event_type\":\"a\\\"b\\u00e9\"}";
	CHECK(pick_event(&ev, l, strlen(l)) == 0);
	CHECK_STREQ(
	    pick_str(&ev, XF_EVENT_TYPE, buf, sizeof(buf)), "a\"b\xc3\xa9");
	CHECK(ev.ts_us == 0 && ev.status == 0);

	errno = 0;
	CHECK(pick_event(&ev, "[1]", 3) == -1 && errno == EINVAL);
	CHECK(pick_event(&ev, "{\"a\":1", 6) == -1);
	CHECK(pick_event(&ev, "", 0) == -1);
	/* A status the query language would not read is no status. */
	l = "{\"object\":{\"http\":{\"response\":{\"status_code\":\"500\"}}}}";
	CHECK(pick_event(&ev, l, strlen(l)) == 0);
	CHECK(ev.status == 0);
}

TEST(utf8_check_and_repair)
{
	struct gw_buf b;

	gw_buf_init(&b, 0);
	CHECK(pick_utf8_ok("plain ascii text, longer than eight", 35));
	CHECK(pick_utf8_ok("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
	CHECK(!pick_utf8_ok("bad \xff byte", 10));
	CHECK(!pick_utf8_ok("\xed\xa0\x80", 3)); /* a surrogate */
	CHECK(!pick_utf8_ok("\xc0\xaf", 2));     /* overlong */
	CHECK(pick_utf8_fix("a\xff\xc3\xa9z\xe2\x82", 7, &b) == 0);
	CHECK(b.len == 3 + 1 + 2 + 1 + 3 + 3 + 1 - 1);
	CHECK(
	    memcmp(gw_buf_head(&b),
	        "a\xef\xbf\xbd\xc3\xa9z\xef\xbf\xbd\xef\xbf\xbd", b.len) == 0);
	gw_buf_fini(&b);
}

/* -- Datadog -------------------------------------------------------------- */

TEST(datadog_entry_members)
{
	const char *tags[] = { "env:test", "team:api" };
	struct fmt_datadog_opts o = {
		.source = "gw", .service = "edge", .tags = tags, .ntags = 2
	};
	const char *k;
	json_t *ent, *ev, *v;
	uint64_t ns;

	ent = dd_entry(&o, base_line, strlen(base_line), NULL, NULL);
	ev = base_event();
	CHECK(ent != NULL);
	if (ent == NULL)
		return;
	CHECK_STREQ(sval(ent, "ddsource"), "gw");
	CHECK_STREQ(sval(ent, "service"), "edge");
	CHECK_STREQ(sval(ent, "ddtags"), "env:test,team:api");
	/* No configured hostname: the request's host, as query's host:. */
	CHECK_STREQ(sval(ent, "hostname"), "api.example.com");
	CHECK_STREQ(sval(ent, "status"), "info");
	CHECK(gw_parse_rfc3339("2026-11-24T16:08:46.123456Z", &ns) == 0);
	CHECK(ival(ent, "timestamp") == (long long)(ns / 1000000));
	CHECK_STREQ(sval(ent, "message"),
	    "POST /v1/orders?dry_run=1 201 api.example.com 125.0ms");
	CHECK(ival(ent, "http.status_code") == 201);
	CHECK_STREQ(sval(ent, "http.method"), "POST");
	CHECK_STREQ(sval(ent, "http.url"),
	    "https://api.example.com/v1/orders?dry_run=1");
	CHECK_STREQ(sval(ent, "http.url_details.host"), "api.example.com");
	CHECK_STREQ(sval(ent, "http.url_details.path"), "/v1/orders");
	CHECK(ival(ent, "http.url_details.port") == 443);
	CHECK_STREQ(sval(ent, "http.url_details.scheme"), "https");
	CHECK_STREQ(sval(ent, "http.url_details.queryString.dry_run"), "1");
	CHECK_STREQ(sval(ent, "http.useragent"), "curl/8.5.0");
	CHECK_STREQ(sval(ent, "http.version"), "HTTP/1.1");
	CHECK_STREQ(sval(ent, "http.referer"), "https://example.com/");
	CHECK_STREQ(
	    sval(ent, "http.request_id"), "ev_3MYnmLfguE7CD4G9UaerzcKbXwB");
	CHECK_STREQ(sval(ent, "network.client.ip"), "203.0.113.7");
	CHECK(ival(ent, "network.client.port") == 51234);
	CHECK_STREQ(sval(ent, "network.destination.ip"), "198.51.100.10");
	CHECK(ival(ent, "network.destination.port") == 443);
	CHECK(ival(ent, "network.bytes_read") == 7);
	CHECK(ival(ent, "network.bytes_written") == 8);
	CHECK(ival(ent, "duration") == 125000000);
	CHECK_STREQ(sval(ent, "evt.name"), "http_request_complete.v0");
	CHECK(at(ent, "error") == NULL && at(ent, "usr") == NULL);
	CHECK(at(ent, "gw_truncated") == NULL);
	/* The event's own members, unchanged. */
	json_object_foreach(ev, k, v)
	{
		CHECK(json_equal(json_object_get(ent, k), v));
	}
	json_decref(ent);
	json_decref(ev);

	/* A fixed hostname, and no ddtags when none are given. */
	o.hostname = "edge-1";
	o.ntags = 0;
	ent = dd_entry(&o, base_line, strlen(base_line), NULL, NULL);
	CHECK_STREQ(sval(ent, "hostname"), "edge-1");
	CHECK(at(ent, "ddtags") == NULL);
	json_decref(ent);
}

/* What Datadog gets for a status is what the query language means. */
static void
check_status(const char *line, const char *want_status, const char *want_msg)
{
	static const char *const classes[] = { "error", "warn", "info" };
	char q[32];
	json_t *ent, *ev;
	struct gw_query *query;
	size_t i;

	ent = dd_entry(&dd_defaults, line, strlen(line), NULL, NULL);
	CHECK_STREQ(sval(ent, "status"), want_status);
	CHECK_STREQ(sval(ent, "message"), want_msg);
	ev = load(line, strlen(line));
	for (i = 0; i < 3; i++) {
		snprintf(q, sizeof(q), "status:%s", classes[i]);
		query = gw_query_parse(q, NULL);
		CHECK(query != NULL);
		CHECK(gw_query_match_json(query, ev) ==
		    (strcmp(classes[i], sval(ent, "status")) == 0));
		gw_query_free(query);
	}
	json_decref(ev);
	json_decref(ent);
}

TEST(datadog_status_and_message)
{
	char *l;

	l = exchange(200, NULL);
	check_status(
	    l, "info", "POST /v1/orders?dry_run=1 200 api.example.com 125.0ms");
	free(l);
	l = exchange(404, "GW_NO_ROUTE");
	check_status(l, "warn",
	    "POST /v1/orders?dry_run=1 404 api.example.com 125.0ms "
	    "GW_NO_ROUTE");
	free(l);
	l = exchange(500, NULL);
	check_status(l, "error",
	    "POST /v1/orders?dry_run=1 500 api.example.com 125.0ms");
	free(l);
	l = exchange(0, "GW_UPSTREAM_RESET");
	check_status(l, "error",
	    "POST /v1/orders?dry_run=1 api.example.com 125.0ms "
	    "GW_UPSTREAM_RESET");
	free(l);
	l = exchange(0, NULL); /* abandoned, no error recorded */
	check_status(
	    l, "info", "POST /v1/orders?dry_run=1 api.example.com 125.0ms");
	free(l);
	check_status(tcp_line, "info",
	    "tcp_connection_closed.v0 203.0.113.7 api.example.com");
	check_status(audit_line, "info",
	    "policy_updated.v0 policy.yml by alice@gw-host-1");
	check_status(rejected_line, "info",
	    "policy_rejected.v0 policy.yml: policy.yml:12:9: unknown action "
	    "by alice@gw-host-1");
}

TEST(datadog_durations)
{
	static const struct {
		long long ns;
		const char *s;
	} t[] = { { 0, "0ns" }, { 999, "999ns" }, { 1000, "1.0\xc2\xb5s" },
		{ 217458, "217.5\xc2\xb5s" }, { 999949, "999.9\xc2\xb5s" },
		{ 999950, "1.0ms" }, { 12345678, "12.3ms" },
		{ 1500000000, "1.5s" }, { 3600000000000LL, "3600.0s" } };
	char want[128];
	json_t *j, *ent;
	char *l;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		j = base_event();
		put_at(j, "object.duration_ns", json_integer(t[i].ns));
		l = line_of(j);
		ent = dd_entry(&dd_defaults, l, strlen(l), NULL, NULL);
		snprintf(want, sizeof(want),
		    "POST /v1/orders?dry_run=1 201 api.example.com %s", t[i].s);
		CHECK_STREQ(sval(ent, "message"), want);
		CHECK(ival(ent, "duration") == t[i].ns);
		json_decref(ent);
		free(l);
	}
}

/*
 * Every standard attribute sent is the value the query language reads
 * through the same alias (lib/query.h), and every one an exchange has is
 * sent.
 */
static void
check_aliases(const char *line)
{
	const struct gw_query_alias *al;
	json_t *ent, *ev, *obj, *want, *got;
	int exchange_ev;
	size_t n, i;

	ent = dd_entry(&dd_defaults, line, strlen(line), NULL, NULL);
	ev = load(line, strlen(line));
	if (ent == NULL || ev == NULL)
		goto done;
	obj = json_object_get(ev, "object");
	exchange_ev = at(obj, "http.request.method") != NULL;
	al = gw_query_aliases(&n);
	for (i = 0; i < n; i++) {
		/* Sent in Datadog's own form: ms, an object, one value. */
		if (!strcmp(al[i].dd, "timestamp") ||
		    !strcmp(al[i].dd, "http.url_details.queryString") ||
		    !strcmp(al[i].dd, "http.referer"))
			continue;
		want =
		    at(strncmp(al[i].path, "event_", 6) ? obj : ev, al[i].path);
		if (want == NULL && al[i].alt != NULL)
			want = at(obj, al[i].alt);
		got = at(ent, al[i].dd);
		if (!exchange_ev && !strncmp(al[i].dd, "http.", 5)) {
			CHECK(got == NULL);
			continue;
		}
		if (want == NULL || json_is_null(want)) {
			if (got != NULL)
				fprintf(stderr, "%s sent, not in event\n",
				    al[i].dd);
			CHECK(got == NULL);
			continue;
		}
		if (!json_equal(want, got))
			fprintf(stderr, "alias %s differs\n", al[i].dd);
		CHECK(json_equal(want, got));
	}
done:
	json_decref(ev);
	json_decref(ent);
}

TEST(datadog_aliases_match_query_language)
{
	json_t *j;
	char *l;

	check_aliases(base_line);
	check_aliases(tcp_line);
	check_aliases(audit_line);
	l = exchange(401, "GW_UNAUTHORIZED");
	check_aliases(l);
	j = dd_entry(&dd_defaults, l, strlen(l), NULL, NULL);
	CHECK_STREQ(sval(j, "error.kind"), "GW_UNAUTHORIZED");
	CHECK_STREQ(sval(j, "error.code"), "GW_UNAUTHORIZED");
	CHECK_STREQ(sval(j, "error.message"), "it broke");
	json_decref(j);
	free(l);
	j = base_event();
	put_at(j, "object.basic_auth.decision", json_string("allow"));
	put_at(j, "object.basic_auth.username", json_string("bob"));
	l = line_of(j);
	check_aliases(l);
	j = dd_entry(&dd_defaults, l, strlen(l), NULL, NULL);
	CHECK_STREQ(sval(j, "usr.id"), "bob");
	CHECK_STREQ(sval(j, "usr.name"), "bob");
	json_decref(j);
	free(l);
}

TEST(datadog_query_string)
{
	json_t *j, *ent, *v;
	char *l;

	j = base_event();
	put_at(j, "object.http.request.url.query",
	    json_string("a=1&b=x+y%21&a=2&flag&=novalue&c=%ff&d=%22q%22"));
	l = line_of(j);
	ent = dd_entry(&dd_defaults, l, strlen(l), NULL, NULL);
	v = at(ent, "http.url_details.queryString.a");
	CHECK(json_is_array(v) && json_array_size(v) == 2);
	CHECK_STREQ(json_string_value(json_array_get(v, 0)), "1");
	CHECK_STREQ(json_string_value(json_array_get(v, 1)), "2");
	CHECK_STREQ(sval(ent, "http.url_details.queryString.b"), "x y!");
	CHECK_STREQ(sval(ent, "http.url_details.queryString.flag"), "");
	CHECK_STREQ(
	    sval(ent, "http.url_details.queryString.c"), "\xef\xbf\xbd");
	CHECK_STREQ(sval(ent, "http.url_details.queryString.d"), "\"q\"");
	CHECK(json_object_size(at(ent, "http.url_details.queryString")) == 5);
	json_decref(ent);
	free(l);

	/* An empty query string: no queryString at all. */
	j = base_event();
	put_at(j, "object.http.request.url.query", json_string(""));
	l = line_of(j);
	ent = dd_entry(&dd_defaults, l, strlen(l), NULL, NULL);
	CHECK(at(ent, "http.url_details.queryString") == NULL);
	CHECK_STREQ(sval(ent, "message"),
	    "POST /v1/orders 201 api.example.com 125.0ms");
	json_decref(ent);
	free(l);
}

TEST(datadog_escapes_survive)
{
	static const char path[] = "/a\"b\\c/\xc3\xa9\xe2\x82\xac/\x01\n\t\x7f"
	                           "/\xf0\x9f\x98\x80";
	static const char ua[] = "Mozilla \"5.0\" \\ \x1f end\xe2\x80\xa8";
	json_t *j, *ent;
	char want[256];
	char *l;

	j = base_event();
	put_at(j, "object.http.request.url.path", json_string(path));
	put_at(j, "object.http.request.user_agent", json_string(ua));
	put_at(j, "object.http.request.url.host", json_string("h\"st"));
	put_at(j, "object.http.request.url.query", json_string(""));
	l = line_of(j);
	ent = dd_entry(&dd_defaults, l, strlen(l), NULL, NULL);
	CHECK_STREQ(sval(ent, "http.url_details.path"), path);
	CHECK_STREQ(sval(ent, "http.useragent"), ua);
	CHECK_STREQ(sval(ent, "object.http.request.url.path"), path);
	CHECK_STREQ(sval(ent, "hostname"), "h\"st");
	/* One line: the controls of the path are spaces in the message. */
	snprintf(want, sizeof(want), "POST %s 201 h\"st 125.0ms", path);
	for (char *c = want; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	CHECK_STREQ(sval(ent, "message"), want);
	json_decref(ent);
	free(l);

	/* \u escapes in the line itself, surrogate pair included. */
	l = strdup(
	    "{\"event_id\":\"ev_x\",\"event_type\":\"http_request_"
	    "complete.v0\",\"object\":{\"http\":{\"request\":{\"method"
	    "\":\"GET\",\"url\":{\"path\":\"/\\u00e9\\ud83d\\ude00\\u0000"
	    "\\\"\"}}}}}");
	ent = dd_entry(&dd_defaults, l, strlen(l), NULL, NULL);
	CHECK(ent != NULL);
	CHECK(json_string_length(at(ent, "http.url_details.path")) == 9);
	CHECK(memcmp(json_string_value(at(ent, "http.url_details.path")),
	          "/\xc3\xa9\xf0\x9f\x98\x80\0\"", 9) == 0);
	json_decref(ent);
	free(l);
}

TEST(datadog_invalid_utf8_repaired)
{
	struct fmt_counts c;
	json_t *j, *ent;
	char *l, *p;

	j = base_event();
	put_at(j, "object.http.request.url.path", json_string("/XX"));
	l = line_of(j);
	p = strstr(l, "/XX");
	p[1] = (char)0xff;
	p[2] = (char)0xc3;
	ent = dd_entry(&dd_defaults, l, strlen(l), &c, NULL);
	CHECK(ent != NULL);
	CHECK(c.repaired == 1);
	CHECK_STREQ(
	    sval(ent, "http.url_details.path"), "/\xef\xbf\xbd\xef\xbf\xbd");
	CHECK_STREQ(sval(ent, "object.http.request.url.path"),
	    "/\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(ent);
	free(l);
}

TEST(datadog_clashing_members_renamed)
{
	struct fmt_counts c;
	json_t *j, *ent;
	char *l;

	j = base_event();
	json_object_set_new(j, "status", json_string("custom"));
	json_object_set_new(j, "http", json_pack("{s:i}", "x", 1));
	json_object_set_new(j, "message", json_string("theirs"));
	json_object_set_new(j, "network", json_integer(5));
	json_object_set_new(j, "gw_truncated", json_false());
	json_object_set_new(j, "extra", json_string("kept"));
	l = line_of(j);
	/* load() rejects duplicate keys: the splice alone would fail. */
	ent = dd_entry(&dd_defaults, l, strlen(l), &c, NULL);
	CHECK(ent != NULL);
	CHECK(c.renamed == 1);
	CHECK_STREQ(sval(ent, "status"), "info");
	CHECK_STREQ(sval(ent, "_RESERVED_status"), "custom");
	CHECK(ival(ent, "_RESERVED_http.x") == 1);
	CHECK(ival(ent, "http.status_code") == 201);
	CHECK_STREQ(sval(ent, "_RESERVED_message"), "theirs");
	CHECK(ival(ent, "_RESERVED_network") == 5);
	CHECK(json_is_false(at(ent, "_RESERVED_gw_truncated")));
	CHECK_STREQ(sval(ent, "extra"), "kept");
	CHECK_STREQ(sval(ent, "event_id"), "ev_3MYnmLfguE7CD4G9UaerzcKbXwB");
	CHECK(json_is_object(at(ent, "object.conn")));
	json_decref(ent);
	free(l);

	/* Each name we add is caught. */
	{
		static const char *const names[] = { "ddsource", "service",
			"hostname", "ddtags", "status", "timestamp", "message",
			"http", "network", "duration", "error", "evt", "usr",
			"gw_truncated", "host", "severity", "level", "syslog",
			"@timestamp", "_timestamp", "Timestamp", "eventTime",
			"date", "published_date" };
		char line[256];
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(line, sizeof(line),
			    "{\"event_id\":\"ev_1\",\"%s\":\"x\",\"event_type"
			    "\":\"t.v0\"}",
			    names[i]);
			ent = dd_entry(
			    &dd_defaults, line, strlen(line), &c, NULL);
			CHECK(ent != NULL && c.renamed == 1);
			json_decref(ent);
		}
	}
}

TEST(datadog_odd_shapes)
{
	static const char *const lines[] = { "{}", "  { }  ",
		" {\"event_id\" : \"ev_1\" , \"x\":[1,{\"y\":null}]}\r\n",
		"{\"object\":null,\"principal\":[],\"event_type\":7}" };
	struct xenc *e = fmt_datadog_new(&dd_defaults);
	struct xbatch b;
	json_t *ent;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		ent = dd_entry(
		    &dd_defaults, lines[i], strlen(lines[i]), NULL, NULL);
		CHECK(ent != NULL);
		CHECK_STREQ(sval(ent, "status"), "info");
		json_decref(ent);
	}
	/* Not an object: refused, batch untouched. */
	fmt_batch_init(&b);
	CHECK(fmt_add_line(e, &b, base_line, strlen(base_line)) == 0);
	errno = 0;
	CHECK(fmt_add_line(e, &b, "[1,2]", 5) == -1 && errno == EINVAL);
	CHECK(fmt_add_line(e, &b, "{\"a\":", 5) == -1 && errno == EINVAL);
	CHECK(b.n == 1);
	CHECK(fmt_end(e, &b) == 0);
	ent = load(gw_buf_head(&b.body), b.body.len);
	CHECK(json_array_size(ent) == 1);
	json_decref(ent);
	/* An empty batch is an empty array; adding after end works. */
	fmt_reset(e, &b);
	CHECK(fmt_end(e, &b) == 0);
	CHECK(b.body.len == 2 && memcmp(gw_buf_head(&b.body), "[]", 2) == 0);
	CHECK(fmt_add_line(e, &b, tcp_line, strlen(tcp_line)) == 0);
	CHECK(fmt_end(e, &b) == 0 && fmt_end(e, &b) == 0);
	ent = load(gw_buf_head(&b.body), b.body.len);
	CHECK(json_array_size(ent) == 1);
	json_decref(ent);
	fmt_batch_fini(e, &b);
	fmt_free(e);
}

TEST(datadog_thousand_entries)
{
	struct xenc *e = fmt_datadog_new(&dd_defaults);
	struct xevent ev;
	struct xbatch b;
	json_t *arr;
	size_t i;
	int r = 0;

	CHECK(e->max_events == DD_MAX_ENTRIES);
	fmt_batch_init(&b);
	CHECK(pick_event(&ev, base_line, strlen(base_line)) == 0);
	for (i = 0; i < 2000 && (r = fmt_add(e, &b, &ev)) == 0; i++)
		;
	CHECK(r == FMT_FULL);
	CHECK(b.n == DD_MAX_ENTRIES && i == DD_MAX_ENTRIES);
	CHECK(fmt_end(e, &b) == 0);
	arr = load(gw_buf_head(&b.body), b.body.len);
	CHECK(json_array_size(arr) == DD_MAX_ENTRIES);
	json_decref(arr);
	fmt_reset(e, &b);
	CHECK(fmt_add(e, &b, &ev) == 0 && b.n == 1);
	fmt_batch_fini(e, &b);
	fmt_free(e);
}

/* An event with a captured request body of <n> bytes of <c>. */
static char *
with_body(size_t n, char c)
{
	json_t *j = base_event();
	char *body = malloc(n + 1);

	memset(body, c, n);
	body[n] = '\0';
	put_at(j, "object.http.request.body", json_string(body));
	free(body);
	return line_of(j);
}

TEST(datadog_body_limit)
{
	struct fmt_datadog_opts o = { .max_bytes = DD_MAX_BODY };
	struct xenc *e;
	struct xbatch b;
	size_t i, before = 0;
	json_t *arr;
	char *l = with_body(600000, 'x');
	int r = 0;

	for (int round = 0; round < 2; round++) {
		e = fmt_datadog_new(round == 0 ? &dd_defaults : &o);
		CHECK(e->max_bytes ==
		    (round == 0 ? (size_t)FMT_DD_BODY_GOAL : DD_MAX_BODY));
		fmt_batch_init(&b);
		for (i = 0; i < 100; i++) {
			before = b.body.len;
			if ((r = fmt_add_line(e, &b, l, strlen(l))) != 0)
				break;
			CHECK(b.body.len <= e->max_bytes);
			CHECK(b.raw == b.body.len);
		}
		CHECK(r == FMT_FULL);
		/* Refused: unchanged, and it would indeed not have fitted. */
		CHECK(b.body.len == before);
		CHECK(before + strlen(l) > e->max_bytes);
		CHECK(b.n == (round == 0 ? 7u : 8u));
		CHECK(fmt_end(e, &b) == 0);
		arr = load(gw_buf_head(&b.body), b.body.len);
		CHECK(json_array_size(arr) == b.n);
		json_decref(arr);
		fmt_batch_fini(e, &b);
		fmt_free(e);
	}
	free(l);
}

static void
check_truncated(const char *l, size_t max, json_t **out)
{
	struct fmt_datadog_opts o = { .max_entry = max };
	struct fmt_counts c;
	size_t len = 0;
	const char *msg;
	json_t *ent;

	ent = dd_entry(&o, l, strlen(l), &c, &len);
	CHECK(ent != NULL);
	CHECK(len <= (max ? max : 1000000));
	CHECK(c.truncated == 1);
	CHECK(json_is_true(at(ent, "gw_truncated")));
	msg = sval(ent, "message");
	CHECK(strlen(msg) > 12 &&
	    strcmp(msg + strlen(msg) - 12, " (truncated)") == 0);
	CHECK_STREQ(sval(ent, "event_id"), "ev_3MYnmLfguE7CD4G9UaerzcKbXwB");
	*out = ent;
}

TEST(datadog_entry_truncated)
{
	json_t *j, *ent;
	char *l, *big;
	size_t len;

	/* A big body: the bodies dropped, everything else kept. */
	l = with_body(1500000, 'x');
	check_truncated(l, 0, &ent);
	CHECK(at(ent, "object.http.request.body") == NULL);
	CHECK(at(ent, "object.http.response.body") == NULL);
	CHECK_STREQ(sval(ent, "object.http.request.body_encoding"), "text");
	CHECK(json_is_object(at(ent, "object.http.request.headers")));
	CHECK_STREQ(sval(ent, "object.conn.client_ip"), "203.0.113.7");
	CHECK(ival(ent, "http.status_code") == 201);
	json_decref(ent);
	free(l);

	/* Escapes grow six times: a body of control characters. */
	l = with_body(400000, '\x01');
	check_truncated(l, 0, &ent);
	json_decref(ent);
	free(l);

	/* Just over DD_MAX_ENTRY_BYTES, allowed as max_entry. */
	l = with_body(DD_MAX_ENTRY_BYTES - 1000, 'y');
	check_truncated(l, DD_MAX_ENTRY_BYTES, &ent);
	json_decref(ent);
	free(l);

	/* A huge path: in our attributes and in the event: stubbed. */
	big = malloc(1200001);
	memset(big, 'p', 1200000);
	big[0] = '/';
	big[1200000] = '\0';
	j = base_event();
	put_at(j, "object.http.request.url.path", json_string(big));
	put_at(j, "object.http.request.url.raw", json_string(big));
	l = line_of(j);
	check_truncated(l, 0, &ent);
	CHECK(json_string_length(at(ent, "http.url_details.path")) == 1024);
	CHECK(ival(ent, "object.gw_original_bytes") == (long long)strlen(l));
	CHECK_STREQ(sval(ent, "event_type"), "http_request_complete.v0");
	CHECK(ival(ent, "http.status_code") == 201);
	json_decref(ent);
	free(l);

	/* Huge top-level members of an odd event: the envelope stays. */
	j = base_event();
	json_object_set_new(j, "huge", json_string(big));
	put_at(j, "principal.subject", json_string(big));
	json_object_set_new(j, "message", json_string(big));
	l = line_of(j);
	check_truncated(l, 300000, &ent);
	CHECK(at(ent, "huge") == NULL);
	CHECK(json_is_null(at(ent, "principal")));
	json_decref(ent);
	free(l);
	free(big);

	/* Under the limit nothing changes. */
	l = with_body(900000, 'z');
	ent = dd_entry(&dd_defaults, l, strlen(l), NULL, &len);
	CHECK(len < 1000000);
	CHECK(at(ent, "gw_truncated") == NULL);
	CHECK(
	    json_string_length(at(ent, "object.http.request.body")) == 900000);
	json_decref(ent);
	free(l);
}

/* -- HTTP ----------------------------------------------------------------- */

TEST(http_ndjson_and_array)
{
	struct fmt_http_opts o = { .max_events = 3 };
	const char *lines[] = { base_line, tcp_line, audit_line };
	struct xevent ev;
	struct xenc *e;
	struct xbatch b;
	json_t *arr;
	char *p;
	size_t i;

	e = fmt_http_new(&o);
	CHECK_STREQ(e->content_type, "application/x-ndjson");
	fmt_batch_init(&b);
	for (i = 0; i < 3; i++)
		CHECK(fmt_add_line(e, &b, lines[i], strlen(lines[i])) == 0);
	CHECK(fmt_add_line(e, &b, base_line, strlen(base_line)) == FMT_FULL);
	CHECK(fmt_end(e, &b) == 0);
	CHECK(b.body.len ==
	    strlen(base_line) + strlen(tcp_line) + strlen(audit_line) + 3);
	p = gw_buf_head(&b.body);
	CHECK(memcmp(p, base_line, strlen(base_line)) == 0);
	CHECK(p[strlen(base_line)] == '\n' && p[b.body.len - 1] == '\n');
	errno = 0;
	fmt_reset(e, &b);
	CHECK(fmt_add_line(e, &b, "nope", 4) == -1 && errno == EINVAL);
	/* An event already scanned, with the whitespace jscan allows. */
	CHECK(pick_event(&ev, " {\"a\":1} \r", 10) == 0);
	CHECK(fmt_add(e, &b, &ev) == 0);
	CHECK(b.body.len == 8 &&
	    memcmp(gw_buf_head(&b.body), "{\"a\":1}\n", 8) == 0);
	fmt_batch_fini(e, &b);
	fmt_free(e);

	o.array = 1;
	e = fmt_http_new(&o);
	CHECK_STREQ(e->content_type, "application/json");
	fmt_batch_init(&b);
	CHECK(fmt_end(e, &b) == 0 && b.body.len == 2);
	for (i = 0; i < 3; i++)
		CHECK(fmt_add_line(e, &b, lines[i], strlen(lines[i])) == 0);
	CHECK(fmt_end(e, &b) == 0);
	arr = load(gw_buf_head(&b.body), b.body.len);
	CHECK(json_array_size(arr) == 3);
	CHECK_STREQ(sval(json_array_get(arr, 2), "object.file"), "policy.yml");
	json_decref(arr);
	fmt_batch_fini(e, &b);
	fmt_free(e);
}

TEST(http_byte_limit)
{
	struct fmt_http_opts o = { .array = 1, .max_bytes = 4000 };
	struct xenc *e = fmt_http_new(&o);
	struct xbatch b;
	json_t *arr;
	char *l;
	int r;

	fmt_batch_init(&b);
	CHECK(fmt_add_line(e, &b, base_line, strlen(base_line)) == 0);
	CHECK(fmt_add_line(e, &b, base_line, strlen(base_line)) == 0);
	CHECK(fmt_add_line(e, &b, base_line, strlen(base_line)) == FMT_FULL);
	CHECK(b.body.len <= 4000 && b.n == 2);
	fmt_reset(e, &b);
	/* Alone and too large: shrunk and marked, not refused. */
	l = with_body(10000, 'q');
	r = fmt_add_line(e, &b, l, strlen(l));
	CHECK(r == 0);
	CHECK(b.body.len <= 4000);
	CHECK(e->counts.truncated == 1);
	arr = load(gw_buf_head(&b.body), b.body.len);
	CHECK(json_is_true(at(json_array_get(arr, 0), "gw_truncated")));
	json_decref(arr);
	free(l);
	fmt_batch_fini(e, &b);
	fmt_free(e);
}

/* -- Loki ----------------------------------------------------------------- */

static int
valid_label_name(const char *s)
{
	size_t i;

	if (s[0] == '\0' || (s[0] == '_' && s[1] == '_'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (i > 0 && s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* Ends the batch and checks the push API's contract; returns the body. */
static json_t *
loki_body(struct xenc *e, struct xbatch *b)
{
	json_t *j, *st, *v, *val;
	const char *k, *p;
	size_t i, n, total = 0;

	CHECK(fmt_end(e, b) == 0);
	CHECK(b->raw == b->body.len);
	CHECK(b->body.len <= e->max_bytes);
	j = load(gw_buf_head(&b->body), b->body.len);
	CHECK(json_is_array(json_object_get(j, "streams")));
	json_array_foreach(json_object_get(j, "streams"), i, st)
	{
		CHECK(json_object_size(json_object_get(st, "stream")) > 0);
		json_object_foreach(json_object_get(st, "stream"), k, val)
		{
			CHECK(valid_label_name(k));
			CHECK(
			    json_is_string(val) && json_string_length(val) > 0);
		}
		json_array_foreach(json_object_get(st, "values"), n, v)
		{
			CHECK(json_array_size(v) == 2);
			p = json_string_value(json_array_get(v, 0));
			CHECK(
			    p != NULL && strspn(p, "0123456789") == strlen(p));
			CHECK(json_is_string(json_array_get(v, 1)));
			total++;
		}
	}
	CHECK(total == b->n);
	return j;
}

/* The stream of <j> whose label <k> is <v>. */
static json_t *
stream_with(json_t *j, const char *k, const char *v)
{
	json_t *st;
	size_t i;

	json_array_foreach(json_object_get(j, "streams"), i, st)
	{
		if (!strcmp(sval(json_object_get(st, "stream"), k), v))
			return st;
	}
	return NULL;
}

TEST(loki_default_labels_group)
{
	struct fmt_loki_opts o = { .service = "edge" };
	struct xenc *e = fmt_loki_new(&o, NULL);
	struct xevent ev;
	char *l200 = exchange(200, NULL), *l500 = exchange(502, "GW_X");
	char *l404 = exchange(404, NULL);
	struct xbatch b;
	json_t *j, *st;
	uint64_t ns;
	char want[32];

	CHECK(e != NULL);
	CHECK_STREQ(e->content_type, "application/json");
	fmt_batch_init(&b);
	CHECK(fmt_add_line(e, &b, l200, strlen(l200)) == 0);
	CHECK(fmt_add_line(e, &b, l500, strlen(l500)) == 0);
	CHECK(fmt_add_line(e, &b, l404, strlen(l404)) == 0);
	CHECK(pick_event(&ev, tcp_line, strlen(tcp_line)) == 0);
	CHECK(fmt_add(e, &b, &ev) == 0);
	CHECK(fmt_add_line(e, &b, l200, strlen(l200)) == 0);
	CHECK(fmt_add_line(e, &b, audit_line, strlen(audit_line)) == 0);
	j = loki_body(e, &b);
	CHECK(json_array_size(json_object_get(j, "streams")) == 5);
	st = stream_with(j, "level", "error");
	CHECK_STREQ(sval(json_object_get(st, "stream"), "job"), "edge");
	CHECK_STREQ(sval(json_object_get(st, "stream"), "event_type"),
	    "http_request_complete.v0");
	CHECK(json_object_size(json_object_get(st, "stream")) == 3);
	st = stream_with(j, "event_type", "tcp_connection_closed.v0");
	CHECK_STREQ(sval(json_object_get(st, "stream"), "level"), "info");
	/* The two 200s share a stream, in order, line and time intact. */
	json_array_foreach(json_object_get(j, "streams"), ns, st)
	{
		if (!strcmp(
		        sval(json_object_get(st, "stream"), "level"), "info") &&
		    !strcmp(sval(json_object_get(st, "stream"), "event_type"),
		        "http_request_complete.v0"))
			break;
	}
	CHECK(json_array_size(json_object_get(st, "values")) == 2);
	CHECK_STREQ(json_string_value(json_array_get(
	                json_array_get(json_object_get(st, "values"), 0), 1)),
	    l200);
	CHECK(gw_parse_rfc3339("2026-11-24T16:08:46.123456Z", &ns) == 0);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)ns);
	CHECK_STREQ(json_string_value(json_array_get(
	                json_array_get(json_object_get(st, "values"), 1), 0)),
	    want);
	json_decref(j);

	/* Reset: the next batch starts empty; an empty one is valid. */
	fmt_reset(e, &b);
	j = loki_body(e, &b);
	CHECK(json_array_size(json_object_get(j, "streams")) == 0);
	json_decref(j);
	CHECK(fmt_add_line(e, &b, tcp_line, strlen(tcp_line)) == 0);
	j = loki_body(e, &b);
	CHECK(json_array_size(json_object_get(j, "streams")) == 1);
	json_decref(j);
	fmt_batch_fini(e, &b);
	fmt_free(e);
	free(l200);
	free(l500);
	free(l404);
}

TEST(loki_configured_labels)
{
	const char *labels[] = { "env=\"prod\"", "code=@http.status_code",
		"tls=tls.version", "h=host", "m=http.request.method",
		"svc=service", "lvl=level", "rule=traffic_policy.action",
		"who=principal.subject", "missing=no.such.member" };
	struct fmt_loki_opts o = { .labels = labels, .nlabels = 10 };
	struct xenc *e = fmt_loki_new(&o, NULL);
	struct xbatch b;
	json_t *j, *s;
	char *l = exchange(503, "GW_OVERLOADED");

	CHECK(e != NULL);
	if (e == NULL)
		return;
	fmt_batch_init(&b);
	CHECK(fmt_add_line(e, &b, l, strlen(l)) == 0);
	CHECK(fmt_add_line(e, &b, audit_line, strlen(audit_line)) == 0);
	j = loki_body(e, &b);
	s = json_object_get(stream_with(j, "code", "503"), "stream");
	CHECK_STREQ(sval(s, "env"), "prod");
	CHECK_STREQ(sval(s, "tls"), "1.3");
	CHECK_STREQ(sval(s, "h"), "api.example.com");
	CHECK_STREQ(sval(s, "m"), "POST");
	CHECK_STREQ(sval(s, "svc"), "gw");
	CHECK_STREQ(sval(s, "lvl"), "error");
	CHECK_STREQ(sval(s, "rule"), "continue");
	CHECK(json_object_get(s, "missing") == NULL);
	CHECK(json_object_get(s, "who") == NULL);
	s = json_object_get(stream_with(j, "who", "alice@gw-host-1"), "stream");
	CHECK(s != NULL);
	CHECK(json_object_get(s, "code") == NULL);
	json_decref(j);
	fmt_batch_fini(e, &b);
	fmt_free(e);
	free(l);
}

TEST(loki_label_errors)
{
	const char *bad1[] = { "bad-name=event_type" };
	const char *bad2[] = { "__x=event_type" };
	const char *bad3[] = { "a=event_type", "a=status" };
	const char *bad4[] = { "noequals" };
	const char *bad5[] = { "9a=status" };
	const char *many[16];
	struct fmt_loki_opts o = { 0 };
	struct gw_error err;
	size_t i;

	o.labels = bad1;
	o.nlabels = 1;
	memset(&err, 0, sizeof(err));
	CHECK(fmt_loki_new(&o, &err) == NULL && errno == EINVAL);
	CHECK(strstr(err.msg, "bad-name") != NULL);
	o.labels = bad2;
	CHECK(fmt_loki_new(&o, &err) == NULL);
	o.labels = bad4;
	CHECK(fmt_loki_new(&o, &err) == NULL);
	o.labels = bad5;
	CHECK(fmt_loki_new(&o, &err) == NULL);
	o.labels = bad3;
	o.nlabels = 2;
	CHECK(fmt_loki_new(&o, &err) == NULL);
	CHECK(strstr(err.msg, "twice") != NULL);
	for (i = 0; i < 16; i++)
		many[i] = "x=status";
	o.labels = many;
	o.nlabels = 16;
	CHECK(fmt_loki_new(&o, &err) == NULL);
}

TEST(loki_limits)
{
	struct fmt_loki_opts o = { .max_streams = 2, .max_bytes = 5000 };
	struct xenc *e = fmt_loki_new(&o, NULL);
	char *a = exchange(200, NULL), *c = exchange(500, NULL);
	struct xbatch b;
	json_t *j;
	char *l;

	fmt_batch_init(&b);
	CHECK(fmt_add_line(e, &b, a, strlen(a)) == 0);
	CHECK(fmt_add_line(e, &b, c, strlen(c)) == 0);
	/* A third label set: the batch is full of streams. */
	CHECK(fmt_add_line(e, &b, tcp_line, strlen(tcp_line)) == FMT_FULL);
	/* Bytes: 5000 holds two events of about 2 KB escaped, not three. */
	CHECK(fmt_add_line(e, &b, a, strlen(a)) == FMT_FULL);
	CHECK(b.n == 2);
	j = loki_body(e, &b);
	json_decref(j);
	fmt_reset(e, &b);
	/* One event over max_bytes alone: shrunk. */
	l = with_body(20000, '"');
	CHECK(fmt_add_line(e, &b, l, strlen(l)) == 0);
	CHECK(e->counts.truncated == 1);
	j = loki_body(e, &b);
	json_decref(j);
	fmt_batch_fini(e, &b);
	fmt_free(e);
	free(l);
	free(a);
	free(c);

	/* Many events, many streams: every one accounted for. */
	{
		const char *labels[] = { "path=http.request.url.path" };
		struct fmt_loki_opts p = { .labels = labels,
			.nlabels = 1,
			.max_streams = 100,
			.max_events = 5000,
			.max_bytes = 50 << 20 };
		char path[32];
		int i, r;

		e = fmt_loki_new(&p, NULL);
		fmt_batch_init(&b);
		for (i = 0; i < 3000; i++) {
			json_t *ev = base_event();

			snprintf(path, sizeof(path), "/p/%d", i % 97);
			put_at(ev, "object.http.request.url.path",
			    json_string(path));
			l = line_of(ev);
			r = fmt_add_line(e, &b, l, strlen(l));
			CHECK(r == 0);
			free(l);
		}
		j = loki_body(e, &b);
		CHECK(json_array_size(json_object_get(j, "streams")) == 97);
		json_decref(j);
		fmt_batch_fini(e, &b);
		fmt_free(e);
	}
}

/* -- syslog --------------------------------------------------------------- */

/* The messages of a syslog batch, checking the octet counts. */
static size_t
frames(const struct xbatch *b, const char **msg, size_t *len, size_t max)
{
	size_t pos = 0, n = 0;

	while (n < max && fmt_syslog_next(b, &pos, &msg[n], &len[n]) == 1)
		n++;
	CHECK(pos == b->body.len);
	return n;
}

TEST(syslog_messages)
{
	struct fmt_syslog_opts o = { .facility = -1, .hostname = "edge 1" };
	struct xevent ev;
	struct xenc *e;
	struct xbatch b;
	const char *msg[8], *p;
	size_t len[8], n;
	char *l500 = exchange(500, NULL), *l404 = exchange(404, NULL);
	json_t *j;

	e = fmt_syslog_new(&o, NULL);
	CHECK(e != NULL && e->content_type == NULL);
	fmt_batch_init(&b);
	CHECK(pick_event(&ev, base_line, strlen(base_line)) == 0);
	CHECK(fmt_add(e, &b, &ev) == 0);
	CHECK(fmt_add_line(e, &b, l500, strlen(l500)) == 0);
	CHECK(fmt_add_line(e, &b, l404, strlen(l404)) == 0);
	CHECK(fmt_add_line(e, &b, audit_line, strlen(audit_line)) == 0);
	CHECK(fmt_add_line(e, &b, rejected_line, strlen(rejected_line)) == 0);
	CHECK(fmt_end(e, &b) == 0);
	n = frames(&b, msg, len, 8);
	CHECK(n == 5);
	/* local0 = 16: 16 * 8 + severity. */
	p = "<134>1 2026-11-24T16:08:46.123456Z edge1 gw - "
	    "http_request_complete.v0 [gw@32473 event_id=\""
	    "ev_3MYnmLfguE7CD4G9UaerzcKbXwB\" status=\"201\" method=\"POST\" "
	    "host=\"api.example.com\" path=\"/v1/orders\" client_ip=\"203.0."
	    "113.7\" duration_ns=\"125000000\"] {";
	CHECK(len[0] > strlen(p) && memcmp(msg[0], p, strlen(p)) == 0);
	/* MSG is the event's line, byte for byte. */
	CHECK(len[0] - (strlen(p) - 1) == strlen(base_line));
	CHECK(
	    memcmp(msg[0] + strlen(p) - 1, base_line, strlen(base_line)) == 0);
	CHECK(memcmp(msg[1], "<131>1 ", 7) == 0);
	CHECK(memcmp(msg[2], "<132>1 ", 7) == 0);
	CHECK(memcmp(msg[3],
	          "<133>1 2026-11-24T16:20:11.031337Z edge1 gw - "
	          "policy_updated.v0 [gw@32473 event_id=",
	          80) == 0);
	CHECK(memcmp(msg[4], "<132>1 ", 7) == 0);
	j = load(memchr(msg[3], '{', len[3]),
	    len[3] -
	        (size_t)((const char *)memchr(msg[3], '{', len[3]) - msg[3]));
	CHECK(json_is_object(j));
	json_decref(j);
	fmt_batch_fini(e, &b);
	fmt_free(e);

	/* Facility, app name, BOM. */
	o.facility = 3;
	o.app_name = "api gw";
	o.bom = 1;
	e = fmt_syslog_new(&o, NULL);
	fmt_batch_init(&b);
	CHECK(fmt_add_line(e, &b, tcp_line, strlen(tcp_line)) == 0);
	n = frames(&b, msg, len, 8);
	CHECK(n == 1);
	CHECK(memcmp(msg[0],
	          "<30>1 2026-11-24T16:08:51.000000Z edge1 apigw - "
	          "tcp_connection_closed.v0 [gw@32473 ",
	          83) == 0);
	p = strstr(msg[0], "] \xef\xbb\xbf{");
	CHECK(
	    p != NULL && (size_t)(p - msg[0]) + 5 + strlen(tcp_line) == len[0]);
	fmt_batch_fini(e, &b);
	fmt_free(e);
	free(l500);
	free(l404);
}

TEST(syslog_sd_escapes)
{
	struct fmt_syslog_opts o = { .facility = 16, .hostname = "h" };
	struct xenc *e = fmt_syslog_new(&o, NULL);
	struct xbatch b;
	const char *msg[2], *p;
	size_t len[2];
	json_t *j;
	char *l;

	j = base_event();
	put_at(j, "object.http.request.url.path",
	    json_string("/a\"b\\c]d\ne\xc3\xa9"));
	l = line_of(j);
	fmt_batch_init(&b);
	CHECK(fmt_add_line(e, &b, l, strlen(l)) == 0);
	CHECK(frames(&b, msg, len, 2) == 1);
	p = " path=\"/a\\\"b\\\\c\\]d?e\xc3\xa9\" ";
	CHECK(memmem(msg[0], len[0], p, strlen(p)) != NULL);
	fmt_batch_fini(e, &b);
	fmt_free(e);
	free(l);

	o.sd_id = "nope";
	CHECK(fmt_syslog_new(&o, NULL) == NULL && errno == EINVAL);
	o.sd_id = "gw@x";
	CHECK(fmt_syslog_new(&o, NULL) == NULL);
	o.sd_id = "a=b@1";
	CHECK(fmt_syslog_new(&o, NULL) == NULL);
	o.sd_id = "acme@12345";
	e = fmt_syslog_new(&o, NULL);
	CHECK(e != NULL);
	fmt_free(e);
	o.sd_id = NULL;
	o.facility = 24;
	CHECK(fmt_syslog_new(&o, NULL) == NULL);
}

TEST(syslog_udp_truncates)
{
	struct fmt_syslog_opts o = {
		.facility = -1, .hostname = "h", .udp = 1
	};
	struct xenc *e = fmt_syslog_new(&o, NULL);
	struct xbatch b;
	const char *msg[4], *p;
	size_t len[4], i;
	json_t *j;
	char *l = with_body(5000, 'b'), *big;

	fmt_batch_init(&b);
	CHECK(fmt_add_line(e, &b, base_line, strlen(base_line)) == 0);
	CHECK(fmt_add_line(e, &b, l, strlen(l)) == 0);
	CHECK(e->counts.truncated == 1);
	/* A path too long for the structured data too. */
	big = malloc(5001);
	memset(big, 'p', 5000);
	big[5000] = '\0';
	j = base_event();
	put_at(j, "object.http.request.url.path", json_string(big));
	free(l);
	l = line_of(j);
	CHECK(fmt_add_line(e, &b, l, strlen(l)) == 0);
	CHECK(frames(&b, msg, len, 4) == 3);
	for (i = 0; i < 3; i++) {
		CHECK(len[i] <= 2048);
		p = memchr(msg[i], '{', len[i]);
		j = load(p, len[i] - (size_t)(p - msg[i]));
		CHECK(json_is_object(j));
		CHECK(i == 0 || json_is_true(at(j, "gw_truncated")));
		json_decref(j);
	}
	fmt_batch_fini(e, &b);
	fmt_free(e);
	free(l);
	free(big);

	/* TCP takes 8192 by default. */
	o.udp = 0;
	e = fmt_syslog_new(&o, NULL);
	l = with_body(5000, 'b');
	fmt_batch_init(&b);
	CHECK(fmt_add_line(e, &b, l, strlen(l)) == 0);
	CHECK(e->counts.truncated == 0);
	fmt_batch_fini(e, &b);
	fmt_free(e);
	free(l);
}

/* -- everything at once -------------------------------------------------- */

static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * A string of awkward bytes: quotes, controls, ']', UTF-8, and '~', which
 * becomes a bad byte once the event is a line (jansson writes only UTF-8).
 */
static json_t *
odd_string(uint64_t *x)
{
	static const char *const pick[] = { "a", "/", "\"", "\\", "]", "\x01",
		"\n", "\x7f", "\xc3\xa9", "\xf0\x9f\x98\x80", "~", " ", "%",
		"&", "=", "+", "?", "\xe2\x80\xa8" };
	char s[256];
	size_t n = rnd(x) % 48, i, k = 0, m;
	const char *p;

	for (i = 0; i < n; i++) {
		p = pick[rnd(x) % (sizeof(pick) / sizeof(pick[0]))];
		m = strlen(p);
		memcpy(s + k, p, m);
		k += m;
	}
	return json_stringn(s, k);
}

/*
 * Random events with awkward values in the fields every encoder reads,
 * and odd top-level members: every body parses, within its limits.
 */
TEST(random_events_stay_valid)
{
	static const char *const paths[] = { "event_type", "event_id",
		"object.http.request.method", "object.http.request.url.path",
		"object.http.request.url.query", "object.http.request.url.host",
		"object.http.request.user_agent", "object.conn.client_ip",
		"object.error.code", "object.error.message", "status", "http",
		"message", "object.conn.server_name", "principal.subject",
		"event_timestamp", "object.http.request.url.raw" };
#if defined(__SANITIZE_ADDRESS__)
	int rounds = 300;
#else
	int rounds = 2000;
#endif
	struct fmt_syslog_opts so = {
		.facility = -1, .udp = 1, .max_message = 600
	};
	const char *labels[] = { "p=http.request.url.path", "h=host",
		"l=level" };
	struct fmt_loki_opts lo = { .labels = labels, .nlabels = 3 };
	struct fmt_http_opts ho = { .array = 1 };
	struct xenc *enc[4];
	struct xbatch b[4];
	const char *msg;
	size_t i, k, pos, len;
	uint64_t x = 99;
	json_t *j, *parsed;
	char *l;
	int r, round;

	if (getenv("GW_TEST_ROUNDS") != NULL)
		rounds = atoi(getenv("GW_TEST_ROUNDS"));
	enc[0] = fmt_datadog_new(&dd_defaults);
	enc[1] = fmt_http_new(&ho);
	enc[2] = fmt_loki_new(&lo, NULL);
	enc[3] = fmt_syslog_new(&so, NULL);
	for (k = 0; k < 4; k++)
		fmt_batch_init(&b[k]);
	for (round = 0; round < rounds; round++) {
		j = base_event();
		for (i = 0; i < 4; i++) {
			const char *p =
			    paths[rnd(&x) % (sizeof(paths) / sizeof(paths[0]))];

			switch (rnd(&x) % 4) {
			case 0:
				put_at(j, p, json_integer((json_int_t)rnd(&x)));
				break;
			case 1:
				put_at(j, p, json_null());
				break;
			default:
				put_at(j, p, odd_string(&x));
				break;
			}
		}
		l = line_of(j);
		CHECK(l != NULL);
		if (l == NULL)
			break;
		for (i = 0; l[i] != '\0'; i++)
			if (l[i] == '~')
				l[i] = (char)0xff;
		for (k = 0; k < 4; k++) {
			r = fmt_add_line(enc[k], &b[k], l, strlen(l));
			if (r == FMT_FULL) {
				fmt_reset(enc[k], &b[k]);
				r = fmt_add_line(enc[k], &b[k], l, strlen(l));
			}
			if (r != 0)
				fprintf(stderr, "%s: %s: %s\n", enc[k]->name,
				    strerror(errno), l);
			CHECK(r == 0);
			CHECK(fmt_end(enc[k], &b[k]) == 0);
			CHECK(b[k].body.len <= enc[k]->max_bytes);
			if (k < 3) {
				parsed = load(
				    gw_buf_head(&b[k].body), b[k].body.len);
				CHECK(parsed != NULL);
				json_decref(parsed);
				continue;
			}
			for (pos = 0;
			     fmt_syslog_next(&b[k], &pos, &msg, &len);) {
				const char *brace = memchr(msg, '{', len);

				CHECK(len <= 600);
				CHECK(brace != NULL);
				if (brace == NULL)
					continue;
				parsed =
				    load(brace, len - (size_t)(brace - msg));
				CHECK(parsed != NULL);
				json_decref(parsed);
			}
		}
		free(l);
		if (round % 50 == 49)
			for (k = 0; k < 4; k++)
				fmt_reset(enc[k], &b[k]);
	}
	for (k = 0; k < 4; k++) {
		fmt_batch_fini(enc[k], &b[k]);
		fmt_free(enc[k]);
	}
}

/* -- compression ---------------------------------------------------------- */

static int
inflate_all(
    const char *in, size_t n, int wbits, char *out, size_t cap, size_t *outn)
{
	z_stream z;
	int r;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, wbits) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	r = inflate(&z, Z_FINISH);
	*outn = cap - z.avail_out;
	inflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -1;
}

TEST(compress_round_trips)
{
	static const enum xcomp cs[] = { XCOMP_NONE, XCOMP_GZIP, XCOMP_DEFLATE,
		XCOMP_ZSTD };
	/* 0 and 1..3: igzip where built in; 4 and 9: libdeflate. */
	static const int levels[] = { 0, 2, 3, 4, 9 };
	size_t sizes[] = { 0, 1, 1000, 3 << 20 };
	struct gw_buf out;
	char *in, *back;
	size_t i, k, s, n, l;
	uint64_t x = 42;
	int level, noise;

	in = malloc(sizes[3]);
	back = malloc(sizes[3] + 1);
	/* Half text, half noise. */
	for (i = 0; i < sizes[3]; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		in[i] = i % 4096 < 2048 ? base_line[i % 1000] : (char)x;
	}
	gw_buf_init(&out, 0);
	/* Then all noise: what does not compress must still fit. */
	for (noise = 0; noise < 2; noise++) {
		if (noise)
			for (i = 0; i < sizes[3]; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				in[i] = (char)x;
			}
		for (k = 0; k < 4; k++)
			for (s = 0; s < 4; s++)
				for (l = 0;
				     l < sizeof(levels) / sizeof(levels[0]);
				     l++) {
					level = levels[l];
					gw_buf_reset(&out);
					CHECK(gw_buf_add(&out, "pre", 3) == 0);
					CHECK(xcompress(cs[k], in, sizes[s],
					          &out, level) == 0);
					n = (size_t)-1;
					switch (cs[k]) {
					case XCOMP_NONE:
						n = out.len - 3;
						memcpy(back,
						    gw_buf_head(&out) + 3, n);
						break;
					case XCOMP_GZIP:
					case XCOMP_DEFLATE:
						CHECK(inflate_all(
						          gw_buf_head(&out) + 3,
						          out.len - 3,
						          cs[k] == XCOMP_GZIP
						              ? 31
						              : 15,
						          back, sizes[3] + 1,
						          &n) == 0);
						break;
					case XCOMP_ZSTD:
						n = ZSTD_decompress(back,
						    sizes[3] + 1,
						    gw_buf_head(&out) + 3,
						    out.len - 3);
						break;
					}
					CHECK(n == sizes[s]);
					CHECK(n != sizes[s] ||
					    memcmp(back, in, sizes[s]) == 0);
					if (cs[k] == XCOMP_GZIP)
						CHECK(
						    (unsigned char)gw_buf_head(
						        &out)[3] == 0x1f);
				}
	}
	/* A refused call leaves the buffer as it was. */
	gw_buf_reset(&out);
	CHECK(gw_buf_add(&out, "x", 1) == 0);
	errno = 0;
	CHECK(xcompress(XCOMP_GZIP, in, 10, &out, 13) == -1 && errno == EINVAL);
	CHECK(xcompress(XCOMP_ZSTD, in, 10, &out, 99) == -1);
	CHECK(out.len == 1);
	gw_buf_fini(&out);
	gw_buf_init(&out, 16); /* too small for the output */
	CHECK(xcompress(XCOMP_ZSTD, in, 1000, &out, 1) == -1);
	CHECK(xcompress(XCOMP_GZIP, in, 1000, &out, 1) == -1);
	CHECK(out.len == 0);
	gw_buf_fini(&out);
	CHECK_STREQ(xcomp_encoding(XCOMP_GZIP), "gzip");
	CHECK_STREQ(xcomp_encoding(XCOMP_DEFLATE), "deflate");
	CHECK_STREQ(xcomp_encoding(XCOMP_ZSTD), "zstd");
	CHECK(xcomp_encoding(XCOMP_NONE) == NULL);
	free(in);
	free(back);
}

/* -- throughput ----------------------------------------------------------- */

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Reads scripts/gen-events' output; returns the number of lines. */
static size_t
gen_events(size_t want, char ***lines, size_t **lens, char **store)
{
	size_t cap = 0, n = 0, len = 0, i;
	char *buf = NULL, *p, *nl;
	FILE *f;
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "scripts/gen-events %zu 2>/dev/null", want);
	if ((f = popen(cmd, "r")) == NULL)
		return 0;
	for (;;) {
		if (len + 65536 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap);
		}
		i = fread(buf + len, 1, cap - len, f);
		if (i == 0)
			break;
		len += i;
	}
	pclose(f);
	*lines = calloc(want, sizeof(**lines));
	*lens = calloc(want, sizeof(**lens));
	for (p = buf; n < want && p < buf + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL)
			break;
		(*lines)[n] = p;
		(*lens)[n++] = (size_t)(nl - p);
	}
	*store = buf;
	return n;
}

TEST(bench_encoders)
{
#if defined(__SANITIZE_ADDRESS__)
	const int rounds = 2;
#else
	const int rounds = 40;
#endif
	struct xenc *e = fmt_datadog_new(&dd_defaults);
	char **lines = NULL, *store = NULL;
	size_t *lens = NULL, n, i, total = 0, zbytes = 0, raw = 0, body = 0;
	double t0, t_enc = 0, t_gz = 0, t_zstd = 0, t_pick = 0;
	struct gw_buf z;
	struct xbatch b;
	struct xevent ev;
	int r, round;
	json_t *arr;

	n = gen_events(1000, &lines, &lens, &store);
	if (n == 0) {
		printf("# bench: scripts/gen-events not available, skipped\n");
		fmt_free(e);
		return;
	}
	gw_buf_init(&z, 0);
	fmt_batch_init(&b);
	for (i = 0; i < n; i++)
		raw += lens[i];
	for (round = 0; round < rounds; round++) {
		t0 = now_s();
		for (i = 0; i < n; i++)
			CHECK(pick_event(&ev, lines[i], lens[i]) == 0);
		t_pick += now_s() - t0;

		t0 = now_s();
		fmt_reset(e, &b);
		for (i = 0; i < n; i++) {
			r = fmt_add_line(e, &b, lines[i], lens[i]);
			CHECK(r == 0);
		}
		CHECK(fmt_end(e, &b) == 0);
		t_enc += now_s() - t0;
		body = b.body.len;

		t0 = now_s();
		gw_buf_reset(&z);
		CHECK(xcompress(XCOMP_GZIP, gw_buf_head(&b.body), b.body.len,
		          &z, 0) == 0);
		t_gz += now_s() - t0;
		zbytes = z.len;

		t0 = now_s();
		gw_buf_reset(&z);
		CHECK(xcompress(XCOMP_ZSTD, gw_buf_head(&b.body), b.body.len,
		          &z, 0) == 0);
		t_zstd += now_s() - t0;
		total += n;
	}
	arr = load(gw_buf_head(&b.body), b.body.len);
	CHECK(json_array_size(arr) == n);
	json_decref(arr);
	printf("# bench: %zu gen-events events, %.0f B/event in, %.0f B/event "
	       "to Datadog, gzip -1 ratio %.1f\n",
	    n, (double)raw / n, (double)body / n, (double)body / zbytes);
	printf("# bench: pick_event %.0f events/s; datadog encode %.0f "
	       "events/s; encode+gzip %.0f events/s; encode+zstd %.0f "
	       "events/s\n",
	    total / t_pick, total / t_enc, total / (t_enc + t_gz),
	    total / (t_enc + t_zstd));
	gw_buf_fini(&z);
	fmt_batch_fini(e, &b);
	fmt_free(e);
	free(lines);
	free(lens);
	free(store);
}

int
main(void)
{
	RUN(pick_reads_fields);
	RUN(utf8_check_and_repair);
	RUN(datadog_entry_members);
	RUN(datadog_status_and_message);
	RUN(datadog_durations);
	RUN(datadog_aliases_match_query_language);
	RUN(datadog_query_string);
	RUN(datadog_escapes_survive);
	RUN(datadog_invalid_utf8_repaired);
	RUN(datadog_clashing_members_renamed);
	RUN(datadog_odd_shapes);
	RUN(datadog_thousand_entries);
	RUN(datadog_body_limit);
	RUN(datadog_entry_truncated);
	RUN(http_ndjson_and_array);
	RUN(http_byte_limit);
	RUN(loki_default_labels_group);
	RUN(loki_configured_labels);
	RUN(loki_label_errors);
	RUN(loki_limits);
	RUN(syslog_messages);
	RUN(syslog_sd_escapes);
	RUN(syslog_udp_truncates);
	RUN(random_events_stay_valid);
	RUN(compress_round_trips);
	RUN(bench_encoders);
	xcompress_fini();
	return harness_done();
}
