// SPDX-License-Identifier: MIT
/*
 * HTTP/1 helpers for gw-proxy: finding the end of a header section,
 * the RFC 9112 checks that http_parser leaves lenient (bare LF line ends,
 * obs-fold), header lookup and the JSON error responses gw answers with
 * itself.  Token and value syntax and the hop-by-hop fields are in
 * lib/http.c, shared with gw-capture and gw-replay.
 */
#include <string.h>

#include "gw-proxy.h"
#include "http.h"
#include "json.h"

/*
 * Searches data[*scan, n) for the blank line ending a header section.
 * On success stores the offset just past it in <end> and returns 1;
 * returns 0 when more bytes are needed, remembering where to resume.
 * Only CRLF CRLF ends a head: bare LF is refused later, by
 * http_lines_strict(), once the head is complete or too long.
 */
int
http_find_head_end(const char *data, size_t n, size_t *scan, size_t *end)
{
	size_t i = *scan > 3 ? *scan - 3 : 0;
	const char *p;

	while (i < n) {
		p = memchr(data + i, '\n', n - i);
		if (p == NULL)
			break;
		i = (size_t)(p - data);
		if (i >= 3 && p[-1] == '\r' && p[-2] == '\n' && p[-3] == '\r') {
			*end = i + 1;
			return 1;
		}
		/* "\n\n" ends a head too, to be refused as bare LF. */
		if (i >= 1 && p[-1] == '\n') {
			*end = i + 1;
			return 1;
		}
		i++;
	}
	*scan = n;
	return 0;
}

/*
 * Returns 0 if every line of the head ends in CRLF, no CR stands alone, no
 * NUL appears and no line starts with whitespace (obs-fold, RFC 9112
 * §5.2), else -1.  Runs on every head, so it jumps between line ends with
 * memchr() rather than looking at each byte.
 */
int
http_lines_strict(const char *h, size_t n)
{
	const char *p = h, *e = h + n, *nl;

	if (n > 0 && (h[0] == ' ' || h[0] == '\t'))
		return -1;
	if (memchr(h, '\0', n) != NULL)
		return -1;
	while (p < e && (nl = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		/* One CR per line, right before its LF. */
		if (nl == h || nl[-1] != '\r' ||
		    memchr(p, '\r', (size_t)(nl - 1 - p)) != NULL)
			return -1;
		if (nl + 1 < e && (nl[1] == ' ' || nl[1] == '\t'))
			return -1;
		p = nl + 1;
	}
	/* Bytes after the last LF: a CR there would be alone. */
	if (p < e && memchr(p, '\r', (size_t)(e - p)) != NULL)
		return -1;
	return 0;
}

/* Case-insensitive comparison of s (n bytes) with the C string lit. */
int
http_str_ieq(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (lit[i] == '\0')
			return 0;
		if ((s[i] | 0x20) != (lit[i] | 0x20))
			return 0;
	}
	return lit[n] == '\0';
}

/*
 * Returns the host part of a Host value or authority, without the port;
 * IPv6 literals keep their brackets.  Points into <h>.
 */
struct gw_str
http_host_only(struct gw_str h)
{
	size_t i;

	if (h.n > 0 && h.p[0] == '[') {
		for (i = 0; i < h.n && h.p[i] != ']'; i++)
			;
		h.n = i < h.n ? i + 1 : h.n;
		return h;
	}
	for (i = 0; i < h.n; i++)
		if (h.p[i] == ':') {
			h.n = i;
			break;
		}
	return h;
}

/*
 * Appends the header line "Name: value\r\n", with ", <also>" after the
 * value when <also> is not NULL.  Returns 0, or -1 with <b> unchanged.
 */
int
http_put_field(struct gw_buf *b, const struct gw_str *name,
    const struct gw_str *value, const char *also)
{
	size_t mark = b->len;
	int r = 0;

	r |= gw_buf_add(b, name->p, name->n);
	r |= gw_buf_add(b, ": ", 2);
	r |= gw_buf_add(b, value->p, value->n);
	if (also != NULL) {
		r |= gw_buf_add(b, ", ", 2);
		r |= gw_buf_adds(b, also);
	}
	r |= gw_buf_add(b, "\r\n", 2);
	if (r != 0)
		b->len = mark;
	return r ? -1 : 0;
}

/*
 * http_parser's header callbacks, shared by requests and responses:
 * collect the fields of a head into hdrs[0, *n) (at most max), pointing
 * into the parsed bytes.  <in_value> tracks whether the last callback was
 * for a value, since either may come in several pieces.  The field
 * callback returns -1 when the head has more than <max> fields.
 */
int
http_on_field(struct gw_hdr *hdrs, size_t *n, size_t max, int *in_value,
    const char *at, size_t len)
{
	if (*in_value || *n == 0) {
		if (*n == max)
			return -1;
		hdrs[*n].name.p = at;
		hdrs[*n].name.n = 0;
		hdrs[*n].value.p = at;
		hdrs[*n].value.n = 0;
		(*n)++;
		*in_value = 0;
	}
	hdrs[*n - 1].name.n += len;
	return 0;
}

void
http_on_value(
    struct gw_hdr *hdrs, size_t n, int *in_value, const char *at, size_t len)
{
	struct gw_hdr *h = &hdrs[n - 1];

	if (!*in_value) {
		h->value.p = at;
		h->value.n = 0;
		*in_value = 1;
	}
	h->value.n = (size_t)(at + len - h->value.p);
}

/* Returns the first header called <name> (case-insensitive), or NULL. */
const struct gw_hdr *
http_hdr_get(const struct gw_hdr *h, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (http_str_ieq(h[i].name.p, h[i].name.n, name))
			return &h[i];
	return NULL;
}

/*
 * Appends a complete response gw sends itself: a small JSON body naming
 * the error code, so API clients get JSON as from the API behind.
 * Returns 0, or -1 (buffer full, unchanged).
 */
int
http_write_error(
    struct gw_buf *b, int status, const char *code, const char *msg, int close)
{
	char body[512];
	struct gw_buf jb;
	size_t mark = b->len;
	int r = 0;

	/* The body is built in a bounded local buffer: msg is ours. */
	gw_buf_init(&jb, sizeof(body));
	r |= gw_buf_adds(&jb, "{\"error\":{\"code\":");
	r |= gw_json_cstr(&jb, code);
	r |= gw_buf_adds(&jb, ",\"status\":");
	r |= gw_buf_addu(&jb, (unsigned)status);
	r |= gw_buf_adds(&jb, ",\"message\":");
	r |= gw_json_cstr(&jb, msg);
	r |= gw_buf_adds(&jb, "}}\n");
	if (r != 0) {
		gw_buf_fini(&jb);
		return -1;
	}
	r |= gw_buf_printf(b,
	    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%s\r\n",
	    status, gw_http_reason(status), jb.len,
	    close ? "Connection: close\r\n" : "");
	r |= gw_buf_add(b, gw_buf_head(&jb), jb.len);
	gw_buf_fini(&jb);
	if (r != 0) {
		b->len = mark;
		return -1;
	}
	return 0;
}
