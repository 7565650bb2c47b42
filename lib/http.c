// SPDX-License-Identifier: MIT
/*
 * HTTP reason phrases; see http.h.
 */
#include <errno.h>
#include <stddef.h>

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
