// SPDX-License-Identifier: MIT
/*
 * Unit tests of gw-proxy's HTTP helpers (gw-proxy/http.c): the head-end
 * search, the strict line rules that http_parser leaves lenient, and gw's
 * own error responses; and of the token and value classes and hop-by-hop
 * detection that gw-proxy takes from lib/http.c.  The
 * helpers are static to the binary, so the file is compiled in here.
 */
#include "../../gw-proxy/http.c"

#include "harness.h"

struct proxy P;

TEST(head_end_found_across_calls)
{
	const char *h = "GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
	size_t scan = 0, end = 0;

	CHECK(http_find_head_end(h, 20, &scan, &end) == 0);
	CHECK(scan == 20);
	CHECK(http_find_head_end(h, strlen(h), &scan, &end) == 1);
	CHECK(end == strlen(h) - 4);
}

TEST(head_end_bare_lf_is_found_for_refusal)
{
	const char *h = "GET / HTTP/1.1\nHost: a\n\n";
	size_t scan = 0, end = 0;

	CHECK(http_find_head_end(h, strlen(h), &scan, &end) == 1);
	CHECK(http_lines_strict(h, end) == -1);
}

TEST(strict_lines)
{
	const char *ok = "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
	const char *fold = "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n";
	const char *cr = "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n";
	const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";

	CHECK(http_lines_strict(ok, strlen(ok)) == 0);
	CHECK(http_lines_strict(fold, strlen(fold)) == -1);
	CHECK(http_lines_strict(cr, strlen(cr)) == -1);
	CHECK(http_lines_strict(nul, sizeof(nul) - 1) == -1);
	CHECK(http_lines_strict(" GET / HTTP/1.1\r\n\r\n", 19) == -1);
}

TEST(tokens_and_values)
{
	CHECK(gw_http_token_ok("Content-Type", 12));
	CHECK(!gw_http_token_ok("X ", 2));
	CHECK(!gw_http_token_ok("", 0));
	CHECK(!gw_http_token_ok("a:b", 3));
	CHECK(gw_http_value_ok("text/html; q=1\t", 15));
	CHECK(!gw_http_value_ok("a\x01"
	                        "b",
	    3));
	CHECK(!gw_http_value_ok("a\x7f", 2));
	CHECK(gw_http_value_ok("caf\xc3\xa9", 5));
}

TEST(case_insensitive_compare_and_tokens)
{
	struct gw_str v = GW_STR(" keep-alive ,  Upgrade,x-foo");

	CHECK(http_str_ieq("HOST", 4, "host"));
	CHECK(!http_str_ieq("hos", 3, "host"));
	CHECK(!http_str_ieq("hosts", 5, "host"));
	CHECK(gw_http_has_token(v.p, v.n, "upgrade"));
	CHECK(gw_http_has_token(v.p, v.n, "X-Foo"));
	CHECK(!gw_http_has_token(v.p, v.n, "close"));
}

TEST(hop_by_hop)
{
	struct gw_str conn = GW_STR("close, X-Private");

	CHECK(gw_http_hop_by_hop("Connection", 10, NULL, 0));
	CHECK(gw_http_hop_by_hop("transfer-encoding", 17, NULL, 0));
	CHECK(gw_http_hop_by_hop("Keep-Alive", 10, NULL, 0));
	CHECK(gw_http_hop_by_hop("TE", 2, NULL, 0));
	CHECK(gw_http_hop_by_hop("Proxy-Connection", 16, NULL, 0));
	CHECK(gw_http_hop_by_hop("x-private", 9, conn.p, conn.n));
	CHECK(!gw_http_hop_by_hop("X-Public", 8, conn.p, conn.n));
	CHECK(!gw_http_hop_by_hop("X-Priv", 6, conn.p, conn.n));
	CHECK(!gw_http_hop_by_hop("Content-Type", 12, NULL, 0));
}

TEST(header_lookup)
{
	struct gw_hdr h[] = { { GW_STR("Host"), GW_STR("a") },
		{ GW_STR("X-Id"), GW_STR("1") } };

	CHECK(http_hdr_get(h, 2, "x-id") == &h[1]);
	CHECK(http_hdr_get(h, 2, "x-other") == NULL);
}

TEST(error_response_is_complete_json)
{
	struct gw_buf b;
	const char *body;
	char *s;

	gw_buf_init(&b, 0);
	CHECK(http_write_error(
	          &b, 431, "GW_HEADERS_TOO_LARGE", "too \"big\"", 1) == 0);
	CHECK(gw_buf_addc(&b, '\0') == 0);
	s = gw_buf_head(&b);
	CHECK(strncmp(s, "HTTP/1.1 431 Request Header Fields Too Large\r\n",
	          46) == 0);
	CHECK(strstr(s, "Connection: close\r\n") != NULL);
	body = strstr(s, "\r\n\r\n");
	CHECK(body != NULL);
	CHECK(body != NULL &&
	    strstr(body, "\"code\":\"GW_HEADERS_TOO_LARGE\"") != NULL);
	CHECK(body != NULL && strstr(body, "too \\\"big\\\"") != NULL);
	gw_buf_fini(&b);
}

TEST(error_response_full_buffer_unchanged)
{
	struct gw_buf b;

	gw_buf_init(&b, 32);
	CHECK(gw_buf_adds(&b, "x") == 0);
	CHECK(http_write_error(&b, 400, "GW_BAD_REQUEST", "m", 0) == -1);
	CHECK(b.len == 1);
	gw_buf_fini(&b);
}

int
main(void)
{
	RUN(head_end_found_across_calls);
	RUN(head_end_bare_lf_is_found_for_refusal);
	RUN(strict_lines);
	RUN(tokens_and_values);
	RUN(case_insensitive_compare_and_tokens);
	RUN(hop_by_hop);
	RUN(header_lookup);
	RUN(error_response_is_complete_json);
	RUN(error_response_full_buffer_unchanged);
	return harness_done();
}
