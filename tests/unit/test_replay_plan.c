// SPDX-License-Identifier: MIT
/*
 * Unit tests of gw-replay's request building (gw-replay/plan.c and
 * edit.c): what a captured event plus the edits turn into, line by line,
 * as libcurl will be given it: the URL and the address to connect to,
 * the headers (hop-by-hop and forwarding fields out, Host kept, redacted
 * values dropped or taken from -H, the replay marker in), the body (byte
 * for byte, none where there was none), and every refusal with its
 * reason.  Also the query-string edits and the parsing of each flag.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../gw-replay/gw-replay.h"
#include "harness.h"

#define ID "ev_3MbL86gV4SH0GCFfhqsRC5tAoYM"

/*
 * An event as gw-proxy writes one with full capture, with <headers> (a
 * JSON object) and <extra> members added to http.request ("" for none).
 */
static json_t *
event(const char *method, const char *headers, const char *extra)
{
	char buf[4096];
	json_error_t jerr;
	json_t *ev;

	snprintf(buf, sizeof(buf),
	    "{\"event_id\":\"" ID "\",\"event_type\":"
	    "\"http_request_complete.v0\",\"event_timestamp\":"
	    "\"2026-11-24T16:08:46.123456Z\",\"principal\":null,\"object\":{"
	    "\"conn\":{\"client_ip\":\"10.0.0.1\",\"client_port\":4000,"
	    "\"server_ip\":\"127.0.0.1\",\"server_name\":\"api.test\","
	    "\"server_port\":8080},\"http\":{\"request\":{\"method\":\"%s\","
	    "\"version\":\"HTTP/1.1\",\"url\":{\"raw\":"
	    "\"http://api.test:8080/v1/items?a=1&b=2\",\"scheme\":\"http\","
	    "\"host\":\"api.test\",\"path\":\"/v1/items\",\"query\":"
	    "\"a=1&b=2\"},\"headers\":%s%s},\"response\":{\"status_code\":429,"
	    "\"headers\":{\"Content-Type\":[\"application/json\"]},"
	    "\"body_length\":2,\"body\":\"{}\",\"body_encoding\":\"text\","
	    "\"body_truncated\":false}},\"duration_ns\":1000}}",
	    method, headers, extra);
	ev = json_loads(buf, 0, &jerr);
	if (ev == NULL)
		fprintf(stderr, "bad test event: %s\n%s\n", jerr.text, buf);
	return ev;
}

#define GET_HEADERS                                                   \
	"{\"Host\":[\"api.test:8080\"],\"User-Agent\":[\"curl/8\"],"  \
	"\"Connection\":[\"keep-alive, X-Hop\"],\"X-Hop\":[\"h\"],"   \
	"\"Keep-Alive\":[\"timeout=5\"],\"Te\":[\"trailers\"],"       \
	"\"X-Forwarded-For\":[\"1.2.3.4\"],\"X-Forwarded-Proto\":"    \
	"[\"https\"],\"Forwarded\":[\"for=1.2.3.4\"],"                \
	"\"Proxy-Authorization\":[\"[REDACTED]\"],\"Authorization\":" \
	"[\"[REDACTED]\"],\"X-Multi\":[\"1\",\"2\"],"                 \
	"\"Gw-Replay-Original-Request-Id\":[\"ev_old\"]}"
#define GET_BODY                                                       \
	",\"body_length\":0,\"body\":\"\",\"body_encoding\":\"text\"," \
	"\"body_truncated\":false"

/* Builds <p> from an event; returns plan_build()'s result. */
static int
build(struct plan *p, const struct edits *e, const char *method,
    const char *headers, const char *extra, char *why, size_t whylen)
{
	json_t *ev = event(method, headers, extra);
	int r;

	if (ev == NULL)
		return -2;
	r = plan_build(p, ev, e, why, whylen);
	json_decref(ev);
	return r;
}

static int
has_header(const struct plan *p, const char *line)
{
	size_t i;

	for (i = 0; i < p->nheaders; i++)
		if (strcmp(p->headers[i], line) == 0)
			return 1;
	return 0;
}

/* Index of the first line starting with <prefix>, or -1. */
static int
header_at(const struct plan *p, const char *prefix)
{
	size_t i;

	for (i = 0; i < p->nheaders; i++)
		if (strncmp(p->headers[i], prefix, strlen(prefix)) == 0)
			return (int)i;
	return -1;
}

TEST(as_captured_through_the_recorded_proxy)
{
	struct edits e;
	struct plan p;
	char why[300];

	edit_init(&e);
	CHECK(build(&p, &e, "GET", GET_HEADERS, GET_BODY, why, sizeof(why)) ==
	    PLAN_OK);
	CHECK_STREQ(p.id, ID);
	CHECK_STREQ(p.method, "GET");
	/* The URL keeps the Host for TLS; the address is the recorded one. */
	CHECK_STREQ(p.url, "http://api.test:8080/v1/items?a=1&b=2");
	CHECK_STREQ(p.connect_to, "::127.0.0.1:8080");
	CHECK_STREQ(p.shown, "/v1/items?a=1&b=2");
	CHECK(p.orig_status == 429);
	CHECK(header_at(&p, "Host: api.test:8080") == 0);
	CHECK(has_header(&p, "User-Agent: curl/8"));
	CHECK(has_header(&p, "X-Multi: 1"));
	CHECK(has_header(&p, "X-Multi: 2"));
	CHECK(header_at(&p, "X-Multi: 1") < header_at(&p, "X-Multi: 2"));
	/* The old connection's fields and the forwarding chain are gone. */
	CHECK(header_at(&p, "Connection") == -1);
	CHECK(header_at(&p, "X-Hop") == -1);
	CHECK(header_at(&p, "Keep-Alive") == -1);
	CHECK(header_at(&p, "Te") == -1);
	CHECK(header_at(&p, "X-Forwarded") == -1);
	CHECK(header_at(&p, "Forwarded") == -1);
	CHECK(header_at(&p, "Proxy-") == -1);
	/* A redacted value is never sent; its name is reported. */
	CHECK(header_at(&p, "Authorization") == -1);
	CHECK(p.ndropped == 1);
	CHECK(p.ndropped == 1 && strcmp(p.dropped[0], "Authorization") == 0);
	/* The marker names this event, not the one the capture carried. */
	CHECK(has_header(&p, "Gw-Replay-Original-Request-Id: " ID));
	CHECK(!has_header(&p, "Gw-Replay-Original-Request-Id: ev_old"));
	/* No Accept the client did not send; its own User-Agent kept. */
	CHECK(has_header(&p, "Accept:"));
	CHECK(!has_header(&p, "User-Agent:"));
	/* A GET without a body gets none (no Content-Length: 0). */
	CHECK(p.body == NULL);
	CHECK(!p.partial);
	plan_fini(&p);
	edit_fini(&e);
}

TEST(edits_applied)
{
	struct edits e;
	struct plan p;
	struct gw_error err;
	char why[300];

	edit_init(&e);
	memset(&err, 0, sizeof(err));
	CHECK(edit_method(&e, "PUT", &err) == 0);
	CHECK(edit_path(&e, "/v2/items", &err) == 0);
	CHECK(edit_header(&e, "Authorization: Bearer real", &err) == 0);
	CHECK(edit_header(&e, "X-Multi:   3  ", &err) == 0);
	CHECK(edit_header(&e, "X-Empty:", &err) == 0);
	CHECK(edit_header(&e, "X-Twice: first", &err) == 0);
	CHECK(edit_header(&e, "x-twice: second", &err) == 0);
	CHECK(edit_remove_header(&e, "user-agent", &err) == 0);
	CHECK(edit_set_query(&e, "b=new value", &err) == 0);
	CHECK(edit_remove_query(&e, "a", &err) == 0);
	CHECK(edit_set_query(&e, "c=&x", &err) == 0);
	CHECK(edit_data(&e, "{\"x\":1}", &err) == 0);
	CHECK(build(&p, &e, "GET", GET_HEADERS, GET_BODY, why, sizeof(why)) ==
	    PLAN_OK);
	CHECK_STREQ(p.method, "PUT");
	CHECK_STREQ(
	    p.url, "http://api.test:8080/v2/items?b=new%20value&c=%26x");
	CHECK(has_header(&p, "Authorization: Bearer real"));
	CHECK(p.ndropped == 0);
	/* -H replaces every field of its name. */
	CHECK(has_header(&p, "X-Multi: 3"));
	CHECK(!has_header(&p, "X-Multi: 1") && !has_header(&p, "X-Multi: 2"));
	/* An empty value is "Name;" for libcurl ("Name:" would remove it). */
	CHECK(has_header(&p, "X-Empty;"));
	/* The last -H of a name wins. */
	CHECK(has_header(&p, "x-twice: second"));
	CHECK(header_at(&p, "X-Twice: first") == -1);
	/* Removed, and not replaced by libcurl's own. */
	CHECK(header_at(&p, "User-Agent: ") == -1);
	CHECK(has_header(&p, "User-Agent:"));
	CHECK(p.body != NULL && p.body_len == 7 &&
	    memcmp(p.body, "{\"x\":1}", 7) == 0);
	plan_fini(&p);
	edit_fini(&e);

	/* A query in --path replaces the captured one. */
	edit_init(&e);
	CHECK(edit_path(&e, "/p?z=9", &err) == 0);
	CHECK(build(&p, &e, "GET", GET_HEADERS, GET_BODY, why, sizeof(why)) ==
	    PLAN_OK);
	CHECK_STREQ(p.shown, "/p?z=9");
	plan_fini(&p);
	edit_fini(&e);
}

TEST(target_replaces_address_and_host)
{
	struct edits e;
	struct plan p;
	struct gw_error err;
	char why[300];

	edit_init(&e);
	memset(&err, 0, sizeof(err));
	CHECK(edit_target(&e, "https://qa.example:8443/base/", &err) == 0);
	CHECK(build(&p, &e, "GET", GET_HEADERS, GET_BODY, why, sizeof(why)) ==
	    PLAN_OK);
	CHECK_STREQ(p.url, "https://qa.example:8443/base/v1/items?a=1&b=2");
	CHECK(p.connect_to == NULL);
	/* libcurl makes the Host from the URL. */
	CHECK(header_at(&p, "Host") == -1);
	plan_fini(&p);
	/* ... unless the user gives one. */
	CHECK(edit_header(&e, "Host: api.test", &err) == 0);
	CHECK(build(&p, &e, "GET", GET_HEADERS, GET_BODY, why, sizeof(why)) ==
	    PLAN_OK);
	CHECK(header_at(&p, "Host: api.test") == 0);
	plan_fini(&p);
	edit_fini(&e);

	edit_init(&e);
	CHECK(edit_target(&e, "ftp://x", &err) == -1 && errno == EINVAL);
	CHECK(edit_target(&e, "http://", &err) == -1);
	CHECK(edit_target(&e, "http://u@h/", &err) == -1);
	CHECK(edit_target(&e, "http://h/?q=1", &err) == -1);
	edit_fini(&e);
}

TEST(ipv6_address_and_https)
{
	struct edits e;
	struct plan p;
	char why[300];
	json_t *ev = event("GET", GET_HEADERS, GET_BODY);
	json_t *conn = json_object_get(json_object_get(ev, "object"), "conn");
	json_t *url = json_object_get(
	    json_object_get(
	        json_object_get(json_object_get(ev, "object"), "http"),
	        "request"),
	    "url");

	json_object_set_new(conn, "server_ip", json_string("::1"));
	json_object_set_new(url, "scheme", json_string("https"));
	edit_init(&e);
	CHECK(plan_build(&p, ev, &e, why, sizeof(why)) == PLAN_OK);
	CHECK_STREQ(p.connect_to, "::[::1]:8080");
	CHECK_STREQ(p.url, "https://api.test:8080/v1/items?a=1&b=2");
	plan_fini(&p);
	json_decref(ev);
	edit_fini(&e);
}

TEST(bodies)
{
	struct edits e;
	struct plan p;
	char why[300];

	edit_init(&e);
	/* Binary, from base64, byte for byte. */
	CHECK(build(&p, &e, "POST",
	          "{\"Host\":[\"h\"],\"Content-Length\":[\"4\"]}",
	          ",\"body_length\":4,\"body\":\"AP8NCg==\","
	          "\"body_encoding\":\"base64\",\"body_truncated\":false",
	          why, sizeof(why)) == PLAN_OK);
	CHECK(p.body_len == 4 && memcmp(p.body, "\0\377\r\n", 4) == 0);
	/* Content-Length is recomputed by libcurl from the body. */
	CHECK(header_at(&p, "Content-Length") == -1);
	plan_fini(&p);
	/* An empty body that was framed stays framed (Content-Length: 0). */
	CHECK(build(&p, &e, "POST",
	          "{\"Host\":[\"h\"],\"Content-Length\":[\"0\"]}",
	          ",\"body_length\":0,\"body\":\"\",\"body_encoding\":\"text\","
	          "\"body_truncated\":false",
	          why, sizeof(why)) == PLAN_OK);
	CHECK(p.body != NULL && p.body_len == 0);
	plan_fini(&p);
	/* A chunked body is sent with its length. */
	CHECK(build(&p, &e, "PUT",
	          "{\"Host\":[\"h\"],\"Transfer-Encoding\":[\"chunked\"]}",
	          ",\"body_length\":3,\"body\":\"abc\",\"body_encoding\":"
	          "\"text\",\"body_truncated\":false",
	          why, sizeof(why)) == PLAN_OK);
	CHECK(p.body_len == 3 && memcmp(p.body, "abc", 3) == 0);
	CHECK(header_at(&p, "Transfer-Encoding") == -1);
	plan_fini(&p);
	edit_fini(&e);
}

TEST(refusals)
{
	struct edits e;
	struct plan p;
	char why[300], big[1200], hdrs[1400];
	json_t *ev;

	edit_init(&e);
	/* Metadata only: no headers, no body. */
	CHECK(build(&p, &e, "POST", "null", ",\"body_length\":10", why,
	          sizeof(why)) == PLAN_REFUSED);
	CHECK(strstr(why, "without full capture") != NULL);
	CHECK_STREQ(p.id, ID);
	plan_fini(&p);
	/* Headers but the body not captured. */
	CHECK(build(&p, &e, "POST", "{\"Host\":[\"h\"]}", ",\"body_length\":10",
	          why, sizeof(why)) == PLAN_REFUSED);
	CHECK(strstr(why, "10-byte body was not captured") != NULL);
	plan_fini(&p);
	/* Truncated. */
	CHECK(build(&p, &e, "POST", "{\"Host\":[\"h\"]}",
	          ",\"body_length\":10,\"body\":\"abc\",\"body_encoding\":"
	          "\"text\",\"body_truncated\":true",
	          why, sizeof(why)) == PLAN_REFUSED);
	CHECK(strstr(why, "truncated at capture: 3 of 10 bytes") != NULL);
	plan_fini(&p);
	/* --allow-truncated sends what there is, flagged. */
	e.allow_truncated = 1;
	CHECK(build(&p, &e, "POST", "{\"Host\":[\"h\"]}",
	          ",\"body_length\":10,\"body\":\"abc\",\"body_encoding\":"
	          "\"text\",\"body_truncated\":true",
	          why, sizeof(why)) == PLAN_OK);
	CHECK(p.partial && p.body_len == 3);
	plan_fini(&p);
	e.allow_truncated = 0;

	/* A header value cut at the 1 KiB limit. */
	memset(big, 'v', 1024);
	big[1024] = '\0';
	snprintf(
	    hdrs, sizeof(hdrs), "{\"Host\":[\"h\"],\"X-Big\":[\"%s\"]}", big);
	CHECK(build(&p, &e, "GET", hdrs, GET_BODY ",\"headers_truncated\":true",
	          why, sizeof(why)) == PLAN_REFUSED);
	CHECK(strstr(why, "X-Big was cut") != NULL);
	plan_fini(&p);
	/* ... fine once the user replaces it. */
	CHECK(edit_header(&e, "X-Big: whole", NULL) == 0);
	CHECK(build(&p, &e, "GET", hdrs, GET_BODY ",\"headers_truncated\":true",
	          why, sizeof(why)) == PLAN_OK);
	plan_fini(&p);
	edit_fini(&e);

	edit_init(&e);
	CHECK(build(&p, &e, "CONNECT", "{}", GET_BODY, why, sizeof(why)) ==
	    PLAN_REFUSED);
	plan_fini(&p);
	ev = json_loads("{\"event_id\":\"ev_x\",\"event_type\":"
	                "\"tcp_connection_closed.v0\",\"object\":{}}",
	    0, NULL);
	CHECK(plan_build(&p, ev, &e, why, sizeof(why)) == PLAN_REFUSED);
	CHECK(strstr(why, "not an HTTP exchange") != NULL);
	CHECK_STREQ(p.id, "ev_x");
	plan_fini(&p);
	json_decref(ev);
	edit_fini(&e);
}

TEST(original_response_kept_for_diff)
{
	struct edits e;
	struct plan p;
	char why[300];

	edit_init(&e);
	e.diff = 1;
	CHECK(build(&p, &e, "GET", GET_HEADERS, GET_BODY, why, sizeof(why)) ==
	    PLAN_OK);
	CHECK(p.orig.status == 429);
	CHECK(p.orig.has_headers && p.orig.nhdrs == 1);
	CHECK(p.orig.body_len == 2 && memcmp(p.orig.body, "{}", 2) == 0);
	CHECK(p.orig.body_total == 2);
	plan_fini(&p);
	edit_fini(&e);
}

TEST(query_edits)
{
	struct edits e;
	struct gw_error err;
	char *q;

	memset(&err, 0, sizeof(err));
	edit_init(&e);
	q = edit_apply_query(&e, NULL);
	CHECK_STREQ(q, "");
	free(q);
	CHECK(edit_set_query(&e, "a b=1/2", &err) == 0);
	q = edit_apply_query(&e, "x=1&a+b=old&y=2&a%20b=again");
	/* Matched by decoded name, replaced in place, duplicates dropped. */
	CHECK_STREQ(q, "x=1&a%20b=1%2F2&y=2");
	free(q);
	CHECK(edit_remove_query(&e, "x", &err) == 0);
	q = edit_apply_query(&e, "x=1&x=2&&z");
	CHECK_STREQ(q, "&z&a%20b=1%2F2");
	free(q);
	edit_fini(&e);

	edit_init(&e);
	CHECK(edit_set_query(&e, "=v", &err) == -1);
	CHECK(edit_set_query(&e, "novalue", &err) == -1);
	CHECK(edit_remove_query(&e, "", &err) == -1);
	CHECK(edit_method(&e, "GE T", &err) == -1);
	CHECK(edit_method(&e, "CONNECT", &err) == -1);
	CHECK(edit_method(&e, "PURGE", &err) == 0);
	CHECK(edit_path(&e, "relative", &err) == -1);
	CHECK(edit_path(&e, "/a b", &err) == -1);
	CHECK(edit_header(&e, "Bad Name: x", &err) == -1);
	CHECK(edit_header(&e, "X: a\001b", &err) == -1);
	CHECK(edit_header(&e, "Transfer-Encoding: chunked", &err) == -1);
	CHECK(edit_remove_header(&e, "a:b", &err) == -1);
	CHECK(
	    edit_data(&e, "@/nonexistent/file", &err) == -1 && errno == ENOENT);
	CHECK(edit_header_file(&e, "/nonexistent/file", &err) == -1 &&
	    errno == ENOENT);
	CHECK(edit_data(&e, "", &err) == 0 && e.has_data && e.data_len == 0);
	edit_fini(&e);
}

int
main(void)
{
	RUN(as_captured_through_the_recorded_proxy);
	RUN(edits_applied);
	RUN(target_replaces_address_and_host);
	RUN(ipv6_address_and_https);
	RUN(bodies);
	RUN(refusals);
	RUN(original_response_kept_for_diff);
	RUN(query_edits);
	return harness_done();
}
