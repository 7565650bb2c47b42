// SPDX-License-Identifier: MIT
/*
 * Unit tests of gw-replay's --diff (gw-replay/diff.c): the status line,
 * headers compared without case and grouped, noise and secrets, text
 * bodies in unified hunks with context and line numbers, identical
 * bodies, binary bodies by length and SHA-256, bodies known in part, and
 * a body too large for the table still diffed correctly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gw-replay/gw-replay.h"
#include "harness.h"

static struct rp_hdr oh[] = {
	{ "Content-Type", "application/json" },
	{ "Set-Cookie", "[REDACTED]" },
	{ "X-Old", "1" },
	{ "Date", "Mon, 23 Nov 2026 10:00:00 GMT" },
	{ "Transfer-Encoding", "chunked" },
};

static struct rp_hdr nh[] = {
	{ "content-type", "application/json" },
	{ "set-cookie", "session=secret" },
	{ "x-new", "2" },
	{ "Date", "Tue, 24 Nov 2026 10:00:00 GMT" },
	{ "Authorization", "Bearer leaked" },
	{ "Content-Length", "5" },
	{ "Via", "1.1 gw" },
	{ "X-Rep", "a" },
	{ "X-Other", "o" },
	{ "x-rep", "b" },
};

static void
res(struct rp_res *r, int status, struct rp_hdr *h, size_t nh_,
    const char *body, int64_t total)
{
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->hdrs = h;
	r->nhdrs = nh_;
	r->has_headers = 1;
	r->body = (unsigned char *)(uintptr_t)body;
	r->body_len = body != NULL ? strlen(body) : 0;
	r->body_total = total >= 0 ? total : (int64_t)r->body_len;
}

/* The diff of <a> and <b> as a malloc'd string. */
static char *
diff(const struct rp_res *a, const struct rp_res *b)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (m == NULL)
		return NULL;
	if (diff_write(m, a, "ev_1 (original)", b, "replay") == -1)
		fputs("FAILED", m);
	fclose(m);
	return text;
}

TEST(status_and_headers)
{
	struct rp_res a, b;
	char *d;

	res(&a, 429, oh, 5, "{}", -1);
	res(&b, 200, nh, 10, "{}", -1);
	d = diff(&a, &b);
	CHECK(strstr(d,
	          "--- ev_1 (original)\n+++ replay\n@@ status @@\n"
	          "-429 Too Many Requests\n+200 OK\n@@ headers @@\n") == d);
	/* Names compared canonical: same value, no change. */
	CHECK(strstr(d, "\n Content-Type: application/json\n") != NULL);
	/* Secrets stay redacted on the new side. */
	CHECK(strstr(d, "\n Set-Cookie: [REDACTED]\n") != NULL);
	CHECK(strstr(d, "secret") == NULL);
	CHECK(strstr(d, "+Authorization: [REDACTED]\n") != NULL);
	CHECK(strstr(d, "leaked") == NULL);
	CHECK(strstr(d, "-X-Old: 1\n") != NULL);
	CHECK(strstr(d, "+X-New: 2\n") != NULL);
	/* Fields of one name together, as events keep them. */
	CHECK(strstr(d, "+X-Rep: a\n+X-Rep: b\n+X-Other: o\n") != NULL);
	/* Noise left out. */
	CHECK(strstr(d, "Date") == NULL);
	CHECK(strstr(d, "Transfer-Encoding") == NULL);
	CHECK(strstr(d, "Content-Length") == NULL);
	CHECK(strstr(d, "Via") == NULL);
	CHECK(strstr(d, "@@ body @@\n\\ identical, 2 bytes\n") != NULL);
	free(d);
}

TEST(no_response)
{
	struct rp_res a, b;
	char *d;

	res(&a, 200, oh, 1, "{}", -1);
	res(&b, 0, NULL, 0, NULL, 0);
	d = diff(&a, &b);
	CHECK(strstr(d, "-200 OK\n+(no response)\n") != NULL);
	CHECK(strstr(d, "@@ headers") == NULL);
	free(d);
}

TEST(text_hunks)
{
	struct rp_res a, b;
	char *d;

	res(&a, 200, oh, 1,
	    "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl12\nl13\nl14\n",
	    -1);
	res(&b, 200, oh, 1,
	    "l1\nl2\nL3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl12\nl14\nl15\n",
	    -1);
	d = diff(&a, &b);
	CHECK(strstr(d,
	          "@@ body @@\n"
	          "@@ -1,6 +1,6 @@\n l1\n l2\n-l3\n+L3\n l4\n l5\n l6\n"
	          "@@ -10,5 +10,5 @@\n l10\n l11\n l12\n-l13\n l14\n"
	          "+l15\n") != NULL);
	free(d);
}

TEST(binary_bodies)
{
	struct rp_res a, b;
	char *d;

	res(&a, 200, oh, 1, NULL, -1);
	a.body = (unsigned char *)"\0\1\2";
	a.body_len = 3;
	a.body_total = 3;
	res(&b, 200, oh, 1, NULL, -1);
	b.body = (unsigned char *)"\0\1\3";
	b.body_len = 3;
	b.body_total = 3;
	d = diff(&a, &b);
	/* sha256 of 00 01 02 and of 00 01 03. */
	CHECK(strstr(d,
	          "-binary, 3 bytes, sha256 "
	          "ae4b3280e56e2faf83f414a6e3dabe9d5fbe18976544c05fed121acc"
	          "b85b53fc\n") != NULL);
	CHECK(strstr(d, "+binary, 3 bytes, sha256 ") != NULL);
	free(d);
	b.body = a.body;
	d = diff(&a, &b);
	CHECK(strstr(d, "@@ body @@\n binary, 3 bytes, sha256 ae4b") != NULL);
	free(d);
}

TEST(partial_bodies)
{
	struct rp_res a, b;
	char *d;

	/* The original captured 4 of 10 bytes: compared over those 4. */
	res(&a, 200, oh, 1, "abcd", 10);
	res(&b, 200, oh, 1, "abcdefghij", -1);
	d = diff(&a, &b);
	CHECK(strstr(d, "captured up to 4 of 10 bytes") != NULL);
	CHECK(strstr(d, "\\ identical, 4 bytes\n") != NULL);
	free(d);
	/* Not captured at all. */
	res(&a, 429, oh, 1, NULL, 54);
	a.body = NULL;
	d = diff(&a, &b);
	CHECK(
	    strstr(d, "not captured (54 bytes); the replay's has 10") != NULL);
	free(d);
	/* Headers not captured. */
	res(&a, 200, NULL, 0, "x", -1);
	a.has_headers = 0;
	d = diff(&a, &b);
	CHECK(strstr(d, "original headers were not captured") != NULL);
	free(d);
}

TEST(large_bodies_fall_back_correctly)
{
	struct rp_res a, b;
	char *ta, *tb, *d, *p;
	size_t i, n = 3000, minus = 0, plus = 0;

	/* 3000 x 3000 lines all different: past the LCS table's size. */
	ta = malloc(n * 8 + 1);
	tb = malloc(n * 8 + 1);
	CHECK(ta != NULL && tb != NULL);
	for (i = 0; i < n; i++) {
		snprintf(ta + i * 8, 9, "a%06zu\n", i);
		snprintf(tb + i * 8, 9, "b%06zu\n", i);
	}
	res(&a, 200, oh, 1, ta, -1);
	res(&b, 200, oh, 1, tb, -1);
	d = diff(&a, &b);
	for (p = d; (p = strchr(p, '\n')) != NULL; p++) {
		minus += p[1] == '-' && p[2] == 'a';
		plus += p[1] == '+' && p[2] == 'b';
	}
	CHECK(minus == n && plus == n);
	CHECK(strstr(d, "@@ -1,3000 +1,3000 @@") != NULL);
	free(d);
	free(ta);
	free(tb);
}

TEST(control_characters_escaped)
{
	struct rp_res a, b;
	char *d;

	res(&a, 200, oh, 1, "ok\n", -1);
	res(&b, 200, oh, 1, "\033[31mred\n", -1);
	d = diff(&a, &b);
	CHECK(strstr(d, "+\\x1b[31mred\n") != NULL);
	CHECK(strchr(d, '\033') == NULL);
	free(d);
}

int
main(void)
{
	RUN(status_and_headers);
	RUN(no_response);
	RUN(text_hunks);
	RUN(binary_bodies);
	RUN(partial_bodies);
	RUN(large_bodies_fall_back_correctly);
	RUN(control_characters_escaped);
	return harness_done();
}
