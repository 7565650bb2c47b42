// SPDX-License-Identifier: MIT
/*
 * HTTP/1 helpers for gw-proxy: finding the end of a header section,
 * the RFC 9112 checks that http_parser leaves lenient (bare LF line ends,
 * obs-fold, field-name and field-value characters), hop-by-hop headers,
 * reason phrases and the JSON error responses gw answers with itself.
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

/* tchar of RFC 9110 §5.6.2. */
static const unsigned char tchar[256] = {
	['!'] = 1,
	['#'] = 1,
	['$'] = 1,
	['%'] = 1,
	['&'] = 1,
	['\''] = 1,
	['*'] = 1,
	['+'] = 1,
	['-'] = 1,
	['.'] = 1,
	['^'] = 1,
	['_'] = 1,
	['`'] = 1,
	['|'] = 1,
	['~'] = 1,
	['0'] = 1,
	['1'] = 1,
	['2'] = 1,
	['3'] = 1,
	['4'] = 1,
	['5'] = 1,
	['6'] = 1,
	['7'] = 1,
	['8'] = 1,
	['9'] = 1,
	['A'] = 1,
	['B'] = 1,
	['C'] = 1,
	['D'] = 1,
	['E'] = 1,
	['F'] = 1,
	['G'] = 1,
	['H'] = 1,
	['I'] = 1,
	['J'] = 1,
	['K'] = 1,
	['L'] = 1,
	['M'] = 1,
	['N'] = 1,
	['O'] = 1,
	['P'] = 1,
	['Q'] = 1,
	['R'] = 1,
	['S'] = 1,
	['T'] = 1,
	['U'] = 1,
	['V'] = 1,
	['W'] = 1,
	['X'] = 1,
	['Y'] = 1,
	['Z'] = 1,
	['a'] = 1,
	['b'] = 1,
	['c'] = 1,
	['d'] = 1,
	['e'] = 1,
	['f'] = 1,
	['g'] = 1,
	['h'] = 1,
	['i'] = 1,
	['j'] = 1,
	['k'] = 1,
	['l'] = 1,
	['m'] = 1,
	['n'] = 1,
	['o'] = 1,
	['p'] = 1,
	['q'] = 1,
	['r'] = 1,
	['s'] = 1,
	['t'] = 1,
	['u'] = 1,
	['v'] = 1,
	['w'] = 1,
	['x'] = 1,
	['y'] = 1,
	['z'] = 1,
};

/* Returns 1 if s is a non-empty token (a valid field name or method). */
int
http_token_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!tchar[(unsigned char)s[i]])
			return 0;
	return 1;
}

/* Returns 1 if s holds only field-vchar, SP and HTAB (no CTL, no DEL). */
int
http_value_ok(const char *s, size_t n)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
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
 * Returns 1 if the comma-separated list <v> holds <tok> (case-insensitive,
 * surrounding whitespace ignored), as Connection and Transfer-Encoding
 * values are read.
 */
int
http_has_token(const struct gw_str *v, const char *tok)
{
	const char *p = v->p, *e = v->p + v->n, *s, *t;

	while (p < e) {
		while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		s = p;
		while (p < e && *p != ',')
			p++;
		t = p;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (t > s && http_str_ieq(s, (size_t)(t - s), tok))
			return 1;
	}
	return 0;
}

/*
 * Returns 1 if the header <name> is hop-by-hop (RFC 9110 §7.6.1) or named
 * in the message's Connection header <conn> (may be NULL), so a proxy must
 * not forward it.  Transfer-Encoding and Content-Length are hop-by-hop for
 * gw: it frames each side itself.
 */
int
http_hop_by_hop(const char *name, size_t n, const struct gw_str *conn)
{
	char tmp[64];

	/* By length first: most headers are not hop-by-hop. */
	switch (n) {
	case 2:
		if (http_str_ieq(name, n, "te"))
			return 1;
		break;
	case 6:
		if (http_str_ieq(name, n, "expect"))
			return 1;
		break;
	case 7:
		if (http_str_ieq(name, n, "trailer") ||
		    http_str_ieq(name, n, "upgrade"))
			return 1;
		break;
	case 10:
		if (http_str_ieq(name, n, "connection") ||
		    http_str_ieq(name, n, "keep-alive"))
			return 1;
		break;
	case 14:
		if (http_str_ieq(name, n, "content-length") ||
		    http_str_ieq(name, n, "http2-settings"))
			return 1;
		break;
	case 16:
		if (http_str_ieq(name, n, "proxy-connection"))
			return 1;
		break;
	case 17:
		if (http_str_ieq(name, n, "transfer-encoding"))
			return 1;
		break;
	default:
		break;
	}
	if (conn == NULL || conn->n == 0 || n >= sizeof(tmp))
		return 0;
	memcpy(tmp, name, n);
	tmp[n] = '\0';
	return http_has_token(conn, tmp);
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
