// SPDX-License-Identifier: MIT
/*
 * HTTP reason phrases, percent-decoding, tokens and hop-by-hop fields;
 * see http.h.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "ascii.h"
#include "http.h"

struct reason {
	int status;
	const char *text;
};

/* RFC 9110 §15, plus 429 and 431 (RFC 6585); sorted by status. */
static const struct reason reasons[] = {
	{ 100, "Continue" },
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 203, "Non-Authoritative Information" },
	{ 204, "No Content" },
	{ 205, "Reset Content" },
	{ 206, "Partial Content" },
	{ 300, "Multiple Choices" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 303, "See Other" },
	{ 304, "Not Modified" },
	{ 305, "Use Proxy" },
	{ 307, "Temporary Redirect" },
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 402, "Payment Required" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" },
	{ 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" },
	{ 409, "Conflict" },
	{ 410, "Gone" },
	{ 411, "Length Required" },
	{ 412, "Precondition Failed" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 416, "Range Not Satisfiable" },
	{ 417, "Expectation Failed" },
	{ 421, "Misdirected Request" },
	{ 422, "Unprocessable Content" },
	{ 426, "Upgrade Required" },
	{ 428, "Precondition Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

const char *
gw_http_reason(int status)
{
	size_t lo = 0, hi = sizeof(reasons) / sizeof(reasons[0]), mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (reasons[mid].status == status)
			return reasons[mid].text;
		if (reasons[mid].status < status)
			lo = mid + 1;
		else
			hi = mid;
	}
	return "";
}

ssize_t
gw_pct_decode(const char *s, size_t n, char *out, int flags, size_t *bad)
{
	size_t i, o = 0;
	int h, l;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    (h = gw_hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = gw_hexval((unsigned char)s[i + 2])) >= 0) {
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else if (s[i] == '%' && (flags & GW_PCT_STRICT)) {
			if (bad != NULL)
				*bad = i;
			errno = EINVAL;
			return -1;
		} else if (s[i] == '+' && (flags & GW_PCT_PLUS))
			out[o++] = ' ';
		else
			out[o++] = s[i];
	}
	return (ssize_t)o;
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

int
gw_http_token_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!tchar[(unsigned char)s[i]])
			return 0;
	return 1;
}

int
gw_http_value_ok(const char *s, size_t n)
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

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* <a>/<an> and <b>/<bn> are equal without regard to ASCII case. */
static int
ieq(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return 0;
	for (i = 0; i < an; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* gw_http_has_token() for a token that is not NUL-terminated. */
static int
list_has(const char *list, size_t n, const char *tok, size_t tn)
{
	const char *p = list, *e = list + n, *s, *t;

	while (p < e) {
		while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		s = p;
		while (p < e && *p != ',')
			p++;
		t = p;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (t > s && ieq(s, (size_t)(t - s), tok, tn))
			return 1;
	}
	return 0;
}

int
gw_http_has_token(const char *list, size_t n, const char *tok)
{
	return list_has(list, n, tok, strlen(tok));
}

int
gw_http_hop_by_hop(const char *name, size_t n, const char *conn, size_t conn_n)
{
#define IS(s) ieq(name, n, s, sizeof(s) - 1)
	/* Called for every field of every message: by length first, since
	 * most names are none of these. */
	switch (n) {
	case 2:
		if (IS("te"))
			return 1;
		break;
	case 6:
		if (IS("expect"))
			return 1;
		break;
	case 7:
		if (IS("trailer") || IS("upgrade"))
			return 1;
		break;
	case 10:
		if (IS("connection") || IS("keep-alive"))
			return 1;
		break;
	case 14:
		if (IS("content-length") || IS("http2-settings"))
			return 1;
		break;
	case 16:
		if (IS("proxy-connection"))
			return 1;
		break;
	case 17:
		if (IS("transfer-encoding"))
			return 1;
		break;
	default:
		break;
	}
#undef IS
	return conn != NULL && conn_n > 0 && list_has(conn, conn_n, name, n);
}
