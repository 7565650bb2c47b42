/* SPDX-License-Identifier: MIT */
/*
 * ngrok's Traffic Policy variables and request functions for the CEL
 * engine (reference/ngrok-traffic-policy.md §3.2, §3.3): one table of
 * every variable a self-hosted gateway can know, with its CEL type and
 * the phases that see it, from which vars_env_new() declares a phase's
 * environment; the resolver that reads a variable's value out of a
 * struct policy_req; and the host functions (getReqHeader, ...) over the
 * same struct.  Values that need building (header maps, query parameters,
 * cookies) are built in the evaluation's arena when an expression asks
 * for them; strings point into the request.  Geo and IP-intelligence
 * variables exist so that ngrok policies compile, and are empty: gw has
 * no such database.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cel.h"
#include "http.h"
#include "policy.h"

#define TCP  (1u << POLICY_TCP_CONNECT)
#define REQ  (1u << POLICY_HTTP_REQUEST)
#define RES  (1u << POLICY_HTTP_RESPONSE)
#define ALL  (TCP | REQ | RES)
#define HTTP (REQ | RES)

/* Variable ids; action results follow at V_RESULT + enum vars_result. */
enum {
	V_EMPTY_STRING, /* geo, IP intelligence, user_password, ... */
	V_EMPTY_LIST,
	V_EMPTY_MAP,
	V_FALSE,
	V_ZERO,
	V_CONN_CLIENT_IP,
	V_CONN_CLIENT_PORT,
	V_CONN_SERVER_IP,
	V_CONN_SERVER_PORT,
	V_CONN_TS_START,
	V_CONN_BYTES_IN,
	V_CONN_BYTES_OUT,
	V_TLS_VERSION,
	V_TLS_CIPHER,
	V_TLS_SNI,
	V_TLS_ALPN,
	V_ENDPOINT_ID,
	V_ENDPOINT_URL,
	V_ENDPOINT_ADDR,
	V_ENDPOINT_HOST,
	V_ENDPOINT_PORT,
	V_ENDPOINT_PROTOCOL,
	V_TIME_NOW,
	V_VARS,
	V_REQ_METHOD,
	V_REQ_VERSION,
	V_REQ_HOST,
	V_REQ_HEADERS,
	V_REQ_COOKIES,
	V_REQ_CONTENT_LENGTH,
	V_REQ_CONTENT_TYPE,
	V_REQ_CONTENT_TYPE_RAW,
	V_REQ_CONTENT_TYPE_PARAMS,
	V_REQ_CONTENT_ENCODING,
	V_REQ_LOCATION,
	V_REQ_URL,
	V_REQ_URL_RAW,
	V_REQ_URL_RAW_PATH,
	V_REQ_URL_SCHEME,
	V_REQ_URL_AUTHORITY,
	V_REQ_URL_HOST,
	V_REQ_URL_PORT,
	V_REQ_URL_PATH,
	V_REQ_URL_QUERY,
	V_REQ_URL_QUERY_PARAMS,
	V_REQ_URL_URI,
	V_REQ_UA,
	V_REQ_UA_NAME,
	V_REQ_UA_VERSION,
	V_REQ_UA_OS,
	V_REQ_UA_OS_VERSION,
	V_REQ_UA_URL,
	V_REQ_UA_IS_MOBILE,
	V_REQ_UA_IS_TABLET,
	V_REQ_UA_IS_DESKTOP,
	V_REQ_UA_IS_BOT,
	V_REQ_TS_HEADER,
	V_REQ_TS_BODY,
	V_RES_STATUS,
	V_RES_HEADERS,
	V_RES_COOKIES,
	V_RES_CONTENT_LENGTH,
	V_RES_CONTENT_TYPE,
	V_RES_CONTENT_TYPE_RAW,
	V_RES_CONTENT_TYPE_PARAMS,
	V_RES_CONTENT_ENCODING,
	V_RES_LOCATION,
	V_RESULT
};

struct var {
	const char *name;
	const char *type;
	int id;
	unsigned phases;
};

#define IPGEO(p)                                                  \
	{ p ".city", "string", V_EMPTY_STRING, ALL },             \
	    { p ".continent", "string", V_EMPTY_STRING, ALL },    \
	    { p ".country", "string", V_EMPTY_STRING, ALL },      \
	    { p ".country_code", "string", V_EMPTY_STRING, ALL }, \
	    { p ".is_eu", "bool", V_FALSE, ALL },                 \
	    { p ".latitude", "string", V_EMPTY_STRING, ALL },     \
	    { p ".longitude", "string", V_EMPTY_STRING, ALL },    \
	    { p ".metro_code", "string", V_EMPTY_STRING, ALL },   \
	    { p ".postal_code", "string", V_EMPTY_STRING, ALL },  \
	    { p ".radius", "string", V_EMPTY_STRING, ALL },       \
	    { p ".subdivision", "string", V_EMPTY_STRING, ALL },  \
	{                                                         \
		p ".timezone", "string", V_EMPTY_STRING, ALL      \
	}

#define IPINTEL(p)                                                   \
	{ p ".categories", "list(string)", V_EMPTY_LIST, ALL },      \
	    { p ".is_on_blocklist", "bool", V_FALSE, ALL },          \
	    { p ".is_tor_node", "bool", V_FALSE, ALL },              \
	    { p ".as.number", "int", V_ZERO, ALL },                  \
	    { p ".as.organization", "string", V_EMPTY_STRING, ALL }, \
	    IPGEO(p ".geo.location"), IPGEO(p ".geo.registered_location")

#define RESULT(name, type, r)                                    \
	{                                                        \
		"actions.ngrok." name, type, V_RESULT + (r), ALL \
	}

#define HEADERS_T "map(string, list(string))"
#define COOKIES_T "map(string, list(map(string, dyn)))"

static const struct var vars[] = {
	{ "conn.client_ip", "string", V_CONN_CLIENT_IP, ALL },
	{ "conn.client_port", "int", V_CONN_CLIENT_PORT, ALL },
	{ "conn.server_ip", "string", V_CONN_SERVER_IP, ALL },
	{ "conn.server_port", "int", V_CONN_SERVER_PORT, ALL },
	{ "conn.server_region", "string", V_EMPTY_STRING, ALL },
	{ "conn.ts.start", "timestamp", V_CONN_TS_START, ALL },
	{ "conn.bytes_in", "int", V_CONN_BYTES_IN, ALL },
	{ "conn.bytes_out", "int", V_CONN_BYTES_OUT, ALL },
	{ "conn.geo.city", "string", V_EMPTY_STRING, ALL },
	{ "conn.geo.country", "string", V_EMPTY_STRING, ALL },
	{ "conn.geo.country_code", "string", V_EMPTY_STRING, ALL },
	{ "conn.geo.latitude", "string", V_EMPTY_STRING, ALL },
	{ "conn.geo.longitude", "string", V_EMPTY_STRING, ALL },
	{ "conn.geo.radius", "string", V_EMPTY_STRING, ALL },
	{ "conn.geo.subdivision", "string", V_EMPTY_STRING, ALL },
	IPINTEL("conn.client_ip"),
	IPINTEL("conn.server_ip"),
	{ "conn.tls.version", "string", V_TLS_VERSION, ALL },
	{ "conn.tls.cipher_suite", "string", V_TLS_CIPHER, ALL },
	{ "conn.tls.sni", "string", V_TLS_SNI, ALL },
	{ "conn.tls.negotiated_alpn", "string", V_TLS_ALPN, ALL },
	{ "conn.tls.session_resumed", "bool", V_FALSE, ALL },
	{ "conn.tls.ja4_fingerprint", "string", V_EMPTY_STRING, ALL },
	/* No client certificates in gw: an empty map, so has() is false. */
	{ "conn.tls.client", "map(string, dyn)", V_EMPTY_MAP, ALL },
	{ "endpoint.id", "string", V_ENDPOINT_ID, ALL },
	{ "endpoint.url", "string", V_ENDPOINT_URL, ALL },
	{ "endpoint.addr", "string", V_ENDPOINT_ADDR, ALL },
	{ "endpoint.host", "string", V_ENDPOINT_HOST, ALL },
	{ "endpoint.port", "int", V_ENDPOINT_PORT, ALL },
	{ "endpoint.protocol", "string", V_ENDPOINT_PROTOCOL, ALL },
	{ "time.now", "timestamp", V_TIME_NOW, ALL },
	{ "vars", "map(string, dyn)", V_VARS, ALL },

	{ "req.method", "string", V_REQ_METHOD, HTTP },
	{ "req.version", "string", V_REQ_VERSION, HTTP },
	{ "req.host", "string", V_REQ_HOST, HTTP },
	{ "req.headers", HEADERS_T, V_REQ_HEADERS, HTTP },
	/* Old examples spell it so. */
	{ "req.Headers", HEADERS_T, V_REQ_HEADERS, HTTP },
	{ "req.trailers", HEADERS_T, V_EMPTY_MAP, HTTP },
	{ "req.cookies", COOKIES_T, V_REQ_COOKIES, HTTP },
	{ "req.content_length", "int", V_REQ_CONTENT_LENGTH, HTTP },
	{ "req.content_type", "string", V_REQ_CONTENT_TYPE, HTTP },
	{ "req.content_type.raw", "string", V_REQ_CONTENT_TYPE_RAW, HTTP },
	{ "req.content_type.parameters", "map(string, string)",
	    V_REQ_CONTENT_TYPE_PARAMS, HTTP },
	{ "req.content_encoding", "list(string)", V_REQ_CONTENT_ENCODING,
	    HTTP },
	{ "req.location", "string", V_REQ_LOCATION, HTTP },
	{ "req.url", "string", V_REQ_URL, HTTP },
	{ "req.url.raw", "string", V_REQ_URL_RAW, HTTP },
	{ "req.url.raw_path", "string", V_REQ_URL_RAW_PATH, HTTP },
	{ "req.url.scheme", "string", V_REQ_URL_SCHEME, HTTP },
	{ "req.url.authority", "string", V_REQ_URL_AUTHORITY, HTTP },
	{ "req.url.host", "string", V_REQ_URL_HOST, HTTP },
	{ "req.url.port", "int", V_REQ_URL_PORT, HTTP },
	{ "req.url.path", "string", V_REQ_URL_PATH, HTTP },
	{ "req.url.query", "string", V_REQ_URL_QUERY, HTTP },
	{ "req.url.query_params", HEADERS_T, V_REQ_URL_QUERY_PARAMS, HTTP },
	{ "req.url.uri", "string", V_REQ_URL_URI, HTTP },
	{ "req.url.user_password", "string", V_EMPTY_STRING, HTTP },
	{ "req.user_agent", "string", V_REQ_UA, HTTP },
	{ "req.user_agent.name", "string", V_REQ_UA_NAME, HTTP },
	{ "req.user_agent.version", "string", V_REQ_UA_VERSION, HTTP },
	{ "req.user_agent.os", "string", V_REQ_UA_OS, HTTP },
	{ "req.user_agent.os_version", "string", V_REQ_UA_OS_VERSION, HTTP },
	{ "req.user_agent.device", "string", V_EMPTY_STRING, HTTP },
	{ "req.user_agent.url", "string", V_REQ_UA_URL, HTTP },
	{ "req.user_agent.is_mobile", "bool", V_REQ_UA_IS_MOBILE, HTTP },
	{ "req.user_agent.is_tablet", "bool", V_REQ_UA_IS_TABLET, HTTP },
	{ "req.user_agent.is_desktop", "bool", V_REQ_UA_IS_DESKTOP, HTTP },
	{ "req.user_agent.is_bot", "bool", V_REQ_UA_IS_BOT, HTTP },
	{ "req.ts.header_received", "timestamp", V_REQ_TS_HEADER, HTTP },
	{ "req.ts.body_received", "timestamp", V_REQ_TS_BODY, HTTP },

	{ "res.status_code", "int", V_RES_STATUS, RES },
	{ "res.headers", HEADERS_T, V_RES_HEADERS, RES },
	{ "res.trailers", HEADERS_T, V_EMPTY_MAP, RES },
	{ "res.cookies", COOKIES_T, V_RES_COOKIES, RES },
	{ "res.content_length", "int", V_RES_CONTENT_LENGTH, RES },
	{ "res.content_type", "string", V_RES_CONTENT_TYPE, RES },
	{ "res.content_type.raw", "string", V_RES_CONTENT_TYPE_RAW, RES },
	{ "res.content_type.parameters", "map(string, string)",
	    V_RES_CONTENT_TYPE_PARAMS, RES },
	{ "res.content_encoding", "list(string)", V_RES_CONTENT_ENCODING, RES },
	{ "res.location", "string", V_RES_LOCATION, RES },

	RESULT("rate_limit.bucket_key", "string", VARS_RATE_LIMIT_BUCKET_KEY),
	RESULT("rate_limit.limited", "bool", VARS_RATE_LIMIT_LIMITED),
	RESULT("rate_limit.error.code", "string", VARS_RATE_LIMIT_ERROR_CODE),
	RESULT("rate_limit.error.message", "string",
	    VARS_RATE_LIMIT_ERROR_MESSAGE),
	RESULT("add_headers.headers_added", "map(string, dyn)",
	    VARS_ADD_HEADERS_HEADERS_ADDED),
	RESULT("restrict_ips.action", "string", VARS_RESTRICT_IPS_ACTION),
	RESULT("restrict_ips.matched_cidr", "string",
	    VARS_RESTRICT_IPS_MATCHED_CIDR),
	RESULT(
	    "restrict_ips.error.code", "string", VARS_RESTRICT_IPS_ERROR_CODE),
	RESULT("restrict_ips.error.message", "string",
	    VARS_RESTRICT_IPS_ERROR_MESSAGE),
	RESULT("url_rewrite.matches", "list(string)", VARS_URL_REWRITE_MATCHES),
	RESULT("url_rewrite.url", "string", VARS_URL_REWRITE_URL),
	RESULT("url_rewrite.error.code", "string", VARS_URL_REWRITE_ERROR_CODE),
	RESULT("url_rewrite.error.message", "string",
	    VARS_URL_REWRITE_ERROR_MESSAGE),
	RESULT("redirect.matches", "list(string)", VARS_REDIRECT_MATCHES),
	RESULT("redirect.url", "string", VARS_REDIRECT_URL),
	RESULT("redirect.error.code", "string", VARS_REDIRECT_ERROR_CODE),
	RESULT("redirect.error.message", "string", VARS_REDIRECT_ERROR_MESSAGE),
	RESULT("basic_auth.credentials.presented", "bool",
	    VARS_BASIC_AUTH_PRESENTED),
	RESULT("basic_auth.credentials.username", "string",
	    VARS_BASIC_AUTH_USERNAME),
	RESULT("basic_auth.authorized", "bool", VARS_BASIC_AUTH_AUTHORIZED),
	RESULT("log.metadata", "map(string, dyn)", VARS_LOG_METADATA),
	/* The spec names them compress.*; the action is compress-response. */
	RESULT("compress.already_compressed", "bool",
	    VARS_COMPRESS_ALREADY_COMPRESSED),
	RESULT("compress.negotiated_algorithm", "string",
	    VARS_COMPRESS_NEGOTIATED_ALGORITHM),
	RESULT("compress_response.already_compressed", "bool",
	    VARS_COMPRESS_ALREADY_COMPRESSED),
	RESULT("compress_response.negotiated_algorithm", "string",
	    VARS_COMPRESS_NEGOTIATED_ALGORITHM),
};

void
vars_set_result(struct policy_req *req, enum vars_result r, struct cel_value v)
{
	if ((unsigned)r >= VARS_NRESULTS)
		return;
	req->results[r] = v;
	req->has_result[r] = 1;
}

/* Helpers. */

static struct cel_value
str(const char *s)
{
	return s != NULL ? cel_str(s, strlen(s)) : cel_str("", 0);
}

static int
lower_c(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
ieq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (lower_c((unsigned char)*a) != lower_c((unsigned char)*b))
			return 0;
	return *a == *b;
}

/* How many pieces <sep> cuts <s> into (0 for NULL). */
static size_t
parts(const char *s, char sep)
{
	size_t n;

	if (s == NULL)
		return 0;
	for (n = 1; (s = strchr(s, sep)) != NULL; s++)
		n++;
	return n;
}

/* Case-insensitive substring search. */
static int
icontains(const char *s, const char *needle)
{
	size_t n = strlen(needle), i;

	for (; *s != '\0'; s++) {
		for (i = 0; i < n && s[i] != '\0'; i++)
			if (lower_c((unsigned char)s[i]) !=
			    lower_c((unsigned char)needle[i]))
				break;
		if (i == n)
			return 1;
	}
	return 0;
}

/* A copy of <len> bytes in the arena, lower-cased when <lower>. */
static int
arena_str(struct cel_arena *a, const char *s, size_t len, int lower,
    struct cel_value *out)
{
	char *p;
	size_t i;

	if ((p = cel_arena_alloc(a, len + 1)) == NULL)
		return -1;
	for (i = 0; i < len; i++)
		p[i] = lower ? (char)lower_c((unsigned char)s[i]) : s[i];
	p[len] = '\0';
	*out = cel_str(p, len);
	return 0;
}

static int arena_printf(struct cel_arena *a, struct cel_value *out,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
arena_printf(struct cel_arena *a, struct cel_value *out, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	return arena_str(a, buf, (size_t)n, 0, out);
}

static int
has_upper(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			return 1;
	return 0;
}

/* The first value of header <name>, or NULL. */
static const char *
header(const struct policy_hdr *h, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (h[i].name != NULL && ieq(h[i].name, name))
			return h[i].value;
	return NULL;
}

/* Every value of header <name> as a list(string). */
static int
header_list(struct cel_arena *a, const struct policy_hdr *h, size_t n,
    const char *name, size_t nlen, struct cel_value *out)
{
	struct cel_value *items;
	size_t i, k = 0, m = 0;

	for (i = 0; i < n; i++)
		if (strlen(h[i].name) == nlen &&
		    strncasecmp(h[i].name, name, nlen) == 0)
			m++;
	if (m == 0) {
		*out = cel_list(NULL, 0);
		return 0;
	}
	if ((items = cel_arena_alloc(a, m * sizeof(*items))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (strlen(h[i].name) == nlen &&
		    strncasecmp(h[i].name, name, nlen) == 0)
			items[k++] = str(h[i].value);
	*out = cel_list(items, k);
	return 0;
}

/* map(string, list(string)) with lower-case names, in order of arrival. */
static int
header_map(struct cel_arena *a, const struct policy_hdr *h, size_t n,
    struct cel_value *out)
{
	struct cel_map_entry *e;
	size_t i, j, k = 0;

	*out = cel_map(NULL, 0);
	if (n == 0)
		return 0;
	if ((e = cel_arena_alloc(a, n * sizeof(*e))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (ieq(h[j].name, h[i].name))
				break;
		if (j < i)
			continue; /* already listed with the first one */
		if (has_upper(h[i].name)) {
			if (arena_str(a, h[i].name, strlen(h[i].name), 1,
			        &e[k].key) == -1)
				return -1;
		} else
			e[k].key = str(h[i].name);
		if (header_list(
		        a, h, n, h[i].name, strlen(h[i].name), &e[k].val) == -1)
			return -1;
		k++;
	}
	*out = cel_map(e, k);
	return 0;
}

/*
 * Decodes %XX and '+' of a query component into the arena.  Returns 0,
 * 1 for a bad escape (Go's url.Query() then drops the pair), or -1.
 */
static int
unescape(struct cel_arena *a, const char *s, size_t len, struct cel_value *out)
{
	ssize_t k;
	char *p;

	if ((p = cel_arena_alloc(a, len + 1)) == NULL)
		return -1;
	k = gw_pct_decode(s, len, p, GW_PCT_PLUS | GW_PCT_STRICT, NULL);
	if (k == -1)
		return 1;
	p[k] = '\0';
	*out = cel_str(p, (size_t)k);
	return 0;
}

/*
 * Query parameters as map(string, list(string)), or with <name> the
 * list for that one name.
 */
static int
query_params(struct cel_arena *a, const char *q, const char *name, size_t nlen,
    struct cel_value *out)
{
	struct cel_map_entry *e;
	struct cel_value key, val, *items;
	const char *p, *amp, *eq;
	size_t n = 0, k = 0, i, j, m;
	int r;

	*out = name != NULL ? cel_list(NULL, 0) : cel_map(NULL, 0);
	if (q == NULL || *q == '\0')
		return 0;
	n = parts(q, '&');
	if ((e = cel_arena_alloc(a, n * sizeof(*e))) == NULL)
		return -1;
	/* Pairs first, in order, with possibly repeated keys. */
	for (p = q; p != NULL && *p != '\0'; p = amp ? amp + 1 : NULL) {
		amp = strchr(p, '&');
		m = amp ? (size_t)(amp - p) : strlen(p);
		if (m == 0)
			continue;
		/*
		 * As Go's url.Query(), which ngrok's variables come from: a
		 * pair with a ';' or a bad escape is dropped.
		 */
		if (memchr(p, ';', m) != NULL)
			continue;
		eq = memchr(p, '=', m);
		r = unescape(a, p, eq ? (size_t)(eq - p) : m, &key);
		if (r == 0 && eq != NULL)
			r = unescape(a, eq + 1, m - (size_t)(eq - p) - 1, &val);
		else if (r == 0)
			val = cel_str("", 0);
		if (r == -1)
			return -1;
		if (r == 1)
			continue;
		e[k].key = key;
		e[k].val = val;
		k++;
	}
	if (name != NULL) {
		for (i = 0, m = 0; i < k; i++)
			m += e[i].key.s.len == nlen &&
			    memcmp(e[i].key.s.ptr, name, nlen) == 0;
		if (m == 0)
			return 0;
		if ((items = cel_arena_alloc(a, m * sizeof(*items))) == NULL)
			return -1;
		for (i = 0, j = 0; i < k; i++)
			if (e[i].key.s.len == nlen &&
			    memcmp(e[i].key.s.ptr, name, nlen) == 0)
				items[j++] = e[i].val;
		*out = cel_list(items, j);
		return 0;
	}
	/* Group: each first occurrence gets the list of all its values. */
	{
		struct cel_map_entry *g;
		size_t ng = 0;

		if ((g = cel_arena_alloc(a, k * sizeof(*g) + 1)) == NULL)
			return -1;
		for (i = 0; i < k; i++) {
			for (j = 0; j < i; j++)
				if (cel_value_equal(&e[j].key, &e[i].key))
					break;
			if (j < i)
				continue;
			g[ng].key = e[i].key;
			if (query_params(a, q, e[i].key.s.ptr, e[i].key.s.len,
			        &g[ng].val) == -1)
				return -1;
			ng++;
		}
		*out = cel_map(g, ng);
	}
	return 0;
}

/* Cookies. */

static const char *const cookie_fields[] = { "name", "value", "domain", "path",
	"expires", "max_age", "secure", "http_only", "same_site",
	"unparsed_attributes" };
#define NCOOKIE_FIELDS 10

static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* A cookie map with every field; attributes from a Set-Cookie line. */
static int
cookie_new(struct cel_arena *a, const char *name, size_t nlen,
    const char *value, size_t vlen, const char *attrs, struct cel_value *out)
{
	struct cel_map_entry *e;
	struct cel_value *unparsed = NULL;
	const char *p, *semi, *eq;
	size_t m, nun = 0, cap = 0, klen;
	int i;

	if ((e = cel_arena_alloc(a, NCOOKIE_FIELDS * sizeof(*e))) == NULL)
		return -1;
	for (i = 0; i < NCOOKIE_FIELDS; i++)
		e[i].key = str(cookie_fields[i]);
	e[0].val = cel_str(name, nlen);
	e[1].val = cel_str(value, vlen);
	e[2].val = e[3].val = e[4].val = e[8].val = cel_str("", 0);
	e[5].val = cel_int(0);
	e[6].val = e[7].val = cel_bool(0);
	cap = parts(attrs, ';');
	if (cap != 0 &&
	    (unparsed = cel_arena_alloc(a, cap * sizeof(*unparsed))) == NULL)
		return -1;
	for (p = attrs; p != NULL && *p != '\0'; p = semi ? semi + 1 : NULL) {
		const char *s = p;

		semi = strchr(p, ';');
		m = semi ? (size_t)(semi - p) : strlen(p);
		trim(&s, &m);
		if (m == 0)
			continue;
		eq = memchr(s, '=', m);
		klen = eq ? (size_t)(eq - s) : m;
		if (klen == 6 && strncasecmp(s, "domain", 6) == 0 && eq)
			e[2].val = cel_str(eq + 1, m - klen - 1);
		else if (klen == 4 && strncasecmp(s, "path", 4) == 0 && eq)
			e[3].val = cel_str(eq + 1, m - klen - 1);
		else if (klen == 7 && strncasecmp(s, "expires", 7) == 0 && eq)
			e[4].val = cel_str(eq + 1, m - klen - 1);
		else if (klen == 7 && strncasecmp(s, "max-age", 7) == 0 && eq)
			e[5].val = cel_int(strtoll(eq + 1, NULL, 10));
		else if (klen == 6 && strncasecmp(s, "secure", 6) == 0)
			e[6].val = cel_bool(1);
		else if (klen == 8 && strncasecmp(s, "httponly", 8) == 0)
			e[7].val = cel_bool(1);
		else if (klen == 8 && strncasecmp(s, "samesite", 8) == 0 && eq)
			e[8].val = cel_str(eq + 1, m - klen - 1);
		else
			unparsed[nun++] = cel_str(s, m);
	}
	e[9].val = cel_list(unparsed, nun);
	*out = cel_map(e, NCOOKIE_FIELDS);
	return 0;
}

/*
 * Every cookie of the request (Cookie: a=1; b=2) or the response
 * (Set-Cookie: a=1; Path=/), in order, each as a cookie map.  With
 * <only>, only cookies of that name.
 */
static int
cookies(struct cel_arena *a, const struct policy_hdr *h, size_t nh,
    int response, const char *only, size_t olen, struct cel_value **out,
    size_t *nout)
{
	const char *hname = response ? "set-cookie" : "cookie";
	const char *p, *semi, *eq, *s, *v, *attrs;
	size_t i, cap = 0, m, nlen, vlen;
	struct cel_value *items;

	*out = NULL;
	*nout = 0;
	for (i = 0; i < nh; i++)
		if (ieq(h[i].name, hname))
			cap += response ? 1 : parts(h[i].value, ';');
	if (cap == 0)
		return 0;
	if ((items = cel_arena_alloc(a, cap * sizeof(*items))) == NULL)
		return -1;
	for (i = 0; i < nh; i++) {
		if (!ieq(h[i].name, hname))
			continue;
		for (p = h[i].value; p != NULL && *p != '\0';
		     p = semi ? semi + 1 : NULL) {
			semi = response ? NULL : strchr(p, ';');
			m = response ? strcspn(p, ";")
			    : semi   ? (size_t)(semi - p)
			             : strlen(p);
			attrs = response && p[m] == ';' ? p + m + 1 : NULL;
			s = p;
			trim(&s, &m);
			if ((eq = memchr(s, '=', m)) == NULL)
				continue;
			nlen = (size_t)(eq - s);
			v = eq + 1;
			vlen = m - nlen - 1;
			trim(&s, &nlen);
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			if (only != NULL &&
			    (nlen != olen || memcmp(s, only, olen) != 0))
				continue;
			if (cookie_new(a, s, nlen, v, vlen, attrs,
			        &items[*nout]) == -1)
				return -1;
			(*nout)++;
		}
	}
	*out = items;
	return 0;
}

static int
cookie_map(struct cel_arena *a, const struct policy_hdr *h, size_t nh,
    int response, struct cel_value *out)
{
	struct cel_value *all, *list;
	struct cel_map_entry *e;
	const struct cel_value *ni, *nj;
	size_t n, i, j, k = 0, m, c;

	if (cookies(a, h, nh, response, NULL, 0, &all, &n) == -1)
		return -1;
	*out = cel_map(NULL, 0);
	if (n == 0)
		return 0;
	if ((e = cel_arena_alloc(a, n * sizeof(*e))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		ni = &all[i].map.entries[0].val;
		for (j = 0; j < i; j++)
			if (cel_value_equal(&all[j].map.entries[0].val, ni))
				break;
		if (j < i)
			continue;
		for (j = i, m = 0; j < n; j++)
			m += cel_value_equal(&all[j].map.entries[0].val, ni);
		if ((list = cel_arena_alloc(a, m * sizeof(*list))) == NULL)
			return -1;
		for (j = i, c = 0; j < n; j++) {
			nj = &all[j].map.entries[0].val;
			if (cel_value_equal(nj, ni))
				list[c++] = all[j];
		}
		e[k].key = *ni;
		e[k].val = cel_list(list, c);
		k++;
	}
	*out = cel_map(e, k);
	return 0;
}

/* Content-Type: media type, raw, parameters. */
static int
content_type(
    struct cel_arena *a, const char *raw, int what, struct cel_value *out)
{
	struct cel_map_entry *e;
	const char *p, *semi, *s, *eq;
	size_t m, n = 0, k = 0, klen;

	if (raw == NULL)
		raw = "";
	if (what == 0) {
		m = strcspn(raw, ";");
		s = raw;
		trim(&s, &m);
		return arena_str(a, s, m, 1, out);
	}
	if (what == 1) {
		*out = str(raw);
		return 0;
	}
	*out = cel_map(NULL, 0);
	n = parts(raw, ';') - 1;
	if (n == 0)
		return 0;
	if ((e = cel_arena_alloc(a, n * sizeof(*e))) == NULL)
		return -1;
	for (p = strchr(raw, ';'); p != NULL; p = semi) {
		p++;
		semi = strchr(p, ';');
		m = semi ? (size_t)(semi - p) : strlen(p);
		s = p;
		trim(&s, &m);
		if ((eq = memchr(s, '=', m)) == NULL)
			continue;
		klen = (size_t)(eq - s);
		if (arena_str(a, s, klen, 1, &e[k].key) == -1)
			return -1;
		s = eq + 1;
		m -= klen + 1;
		if (m >= 2 && s[0] == '"' && s[m - 1] == '"') {
			s++;
			m -= 2;
		}
		e[k].val = cel_str(s, m);
		k++;
	}
	*out = cel_map(e, k);
	return 0;
}

/* Content-Encoding as a list of lower-case codings. */
static int
codings(struct cel_arena *a, const struct policy_hdr *h, size_t nh,
    struct cel_value *out)
{
	struct cel_value *items;
	const char *p, *s;
	size_t i, n = 0, k = 0, m;

	*out = cel_list(NULL, 0);
	for (i = 0; i < nh; i++)
		if (ieq(h[i].name, "content-encoding"))
			n += parts(h[i].value, ',');
	if (n == 0)
		return 0;
	if ((items = cel_arena_alloc(a, n * sizeof(*items))) == NULL)
		return -1;
	for (i = 0; i < nh; i++) {
		if (!ieq(h[i].name, "content-encoding"))
			continue;
		for (p = h[i].value; p != NULL;) {
			s = p;
			m = strcspn(p, ",");
			p = p[m] == ',' ? p + m + 1 : NULL;
			trim(&s, &m);
			if (m == 0)
				continue;
			if (arena_str(a, s, m, 1, &items[k++]) == -1)
				return -1;
		}
	}
	*out = cel_list(items, k);
	return 0;
}

static int
content_length(const struct policy_hdr *h, size_t nh, struct cel_value *out)
{
	const char *v = header(h, nh, "content-length");
	char *end;
	long long n;

	if (v == NULL || *v < '0' || *v > '9')
		return 1;
	n = strtoll(v, &end, 10);
	if (*end != '\0')
		return 1;
	*out = cel_int(n);
	return 0;
}

/* The URL. */

/* The authority of an absolute url_raw, or NULL and 0. */
static const char *
raw_authority(const struct policy_req *r, size_t *len)
{
	const char *p = r->url_raw ? strstr(r->url_raw, "://") : NULL;

	*len = 0;
	if (p == NULL || r->url_raw[0] == '/')
		return NULL;
	p += 3;
	*len = strcspn(p, "/?#");
	return p;
}

/* host[:port] as the client addressed it. */
static void
authority(const struct policy_req *r, const char **s, size_t *len)
{
	const char *h;

	if ((*s = raw_authority(r, len)) != NULL)
		return;
	h = header(r->req_headers, r->nreq_headers, "host");
	if (h == NULL)
		h = r->host ? r->host : "";
	*s = h;
	*len = strlen(h);
}

/* The explicit port of the authority, or -1. */
static int
url_port(const struct policy_req *r)
{
	const char *s, *colon, *p;
	size_t len;
	long port;

	authority(r, &s, &len);
	if (len == 0)
		return -1;
	if (s[0] == '[') { /* [v6]:port */
		p = memchr(s, ']', len);
		if (p == NULL || (size_t)(p - s) + 1 >= len || p[1] != ':')
			return -1;
		colon = p + 1;
	} else {
		colon = NULL;
		for (p = s; p < s + len; p++)
			if (*p == ':')
				colon = p;
		if (colon == NULL)
			return -1;
	}
	port = 0;
	for (p = colon + 1; p < s + len; p++) {
		if (*p < '0' || *p > '9' || port > 65535)
			return -1;
		port = port * 10 + (*p - '0');
	}
	return p == colon + 1 || port > 65535 ? -1 : (int)port;
}

static const char *
scheme(const struct policy_req *r)
{
	return r->scheme ? r->scheme : r->tls ? "https" : "http";
}

/* The raw path: url_raw without scheme, authority and query. */
static void
raw_path(const struct policy_req *r, const char **s, size_t *len)
{
	const char *p = r->url_raw, *a;
	size_t alen;

	if (p == NULL) {
		*s = r->path ? r->path : "/";
		*len = strlen(*s);
		return;
	}
	if ((a = raw_authority(r, &alen)) != NULL)
		p = a + alen;
	*s = p;
	*len = strcspn(p, "?#");
}

/* User agents: enough for the flags and the first product. */

static int
ua_is_bot(const char *ua)
{
	return icontains(ua, "bot") || icontains(ua, "crawl") ||
	    icontains(ua, "spider") || icontains(ua, "slurp");
}

static int
ua_is_tablet(const char *ua)
{
	return icontains(ua, "ipad") || icontains(ua, "tablet") ||
	    (icontains(ua, "android") && !icontains(ua, "mobi"));
}

static int
ua_is_mobile(const char *ua)
{
	return icontains(ua, "mobi") && !icontains(ua, "ipad");
}

/* "Firefox/120.0" wins over "Mozilla/5.0": the last product, else first. */
static void
ua_product(const char *ua, const char **name, size_t *nlen, const char **ver,
    size_t *vlen)
{
	static const char *const known[] = { "Edg/", "OPR/", "Firefox/",
		"Chrome/", "Safari/", NULL };
	const char *p = NULL;
	int i;

	for (i = 0; known[i] != NULL && p == NULL; i++)
		p = strstr(ua, known[i]);
	if (p == NULL)
		p = ua;
	*nlen = strcspn(p, "/ ;(");
	*name = p;
	*ver = "";
	*vlen = 0;
	if (p[*nlen] == '/') {
		*ver = p + *nlen + 1;
		*vlen = strcspn(*ver, " ;()");
	}
}

static void
ua_os(const char *ua, const char **os, const char **ver, size_t *vlen)
{
	static const struct {
		const char *needle, *name, *vprefix;
	} oses[] = {
		{ "Windows NT", "Windows", "Windows NT " },
		{ "iPhone OS", "iOS", "iPhone OS " },
		{ "iPad", "iOS", "CPU OS " },
		{ "Mac OS X", "macOS", "Mac OS X " },
		{ "Android", "Android", "Android " },
		{ "CrOS", "Chrome OS", NULL },
		{ "Linux", "Linux", NULL },
	};
	const char *p;
	size_t i;

	*os = "";
	*ver = "";
	*vlen = 0;
	for (i = 0; i < sizeof(oses) / sizeof(oses[0]); i++) {
		if (strstr(ua, oses[i].needle) == NULL)
			continue;
		*os = oses[i].name;
		if (oses[i].vprefix != NULL &&
		    (p = strstr(ua, oses[i].vprefix)) != NULL) {
			*ver = p + strlen(oses[i].vprefix);
			*vlen = strcspn(*ver, ";) ");
		}
		return;
	}
}

static const char *
user_agent(const struct policy_req *r)
{
	const char *ua = header(r->req_headers, r->nreq_headers, "user-agent");

	return ua ? ua : "";
}

static int
ts(int64_t ns, struct cel_value *out)
{
	if (ns == 0)
		return 1;
	*out = cel_timestamp(ns);
	return 0;
}

static int
set_vars_map(
    struct cel_arena *a, const struct policy_req *r, struct cel_value *out)
{
	struct cel_map_entry *e;
	size_t i, j, k = 0;

	*out = cel_map(NULL, 0);
	if (r->nvars == 0)
		return 0;
	if ((e = cel_arena_alloc(a, r->nvars * sizeof(*e))) == NULL)
		return -1;
	for (i = 0; i < r->nvars; i++) {
		for (j = i + 1; j < r->nvars; j++)
			if (strcmp(r->vars[i].name, r->vars[j].name) == 0)
				break;
		if (j < r->nvars)
			continue; /* set again later: the later one wins */
		e[k].key = str(r->vars[i].name);
		e[k].val = r->vars[i].val;
		k++;
	}
	*out = cel_map(e, k);
	return 0;
}

int
vars_resolve(void *host, int id, struct cel_value *out, struct cel_arena *a)
{
	const struct policy_req *r = host;
	const char *s, *s2;
	size_t len, len2;
	int port;

	if (id >= V_RESULT) {
		if (id - V_RESULT >= VARS_NRESULTS ||
		    !r->has_result[id - V_RESULT])
			return 1;
		*out = r->results[id - V_RESULT];
		return 0;
	}
	switch (id) {
	case V_EMPTY_STRING:
		*out = cel_str("", 0);
		return 0;
	case V_EMPTY_LIST:
		*out = cel_list(NULL, 0);
		return 0;
	case V_EMPTY_MAP:
		*out = cel_map(NULL, 0);
		return 0;
	case V_FALSE:
		*out = cel_bool(0);
		return 0;
	case V_ZERO:
		*out = cel_int(0);
		return 0;
	case V_CONN_CLIENT_IP:
		*out = str(r->client_ip);
		return 0;
	case V_CONN_CLIENT_PORT:
		*out = cel_int(r->client_port);
		return 0;
	case V_CONN_SERVER_IP:
		*out = str(r->server_ip);
		return 0;
	case V_CONN_SERVER_PORT:
		*out = cel_int(r->server_port);
		return 0;
	case V_CONN_TS_START:
		return ts(r->conn_start_ns, out);
	case V_CONN_BYTES_IN:
		*out = cel_int(r->bytes_in);
		return 0;
	case V_CONN_BYTES_OUT:
		*out = cel_int(r->bytes_out);
		return 0;
	case V_TLS_VERSION:
		*out = str(r->tls_version);
		return 0;
	case V_TLS_CIPHER:
		*out = str(r->tls_cipher);
		return 0;
	case V_TLS_SNI:
		*out = str(r->tls_sni);
		return 0;
	case V_TLS_ALPN:
		*out = str(r->tls_alpn);
		return 0;
	case V_ENDPOINT_ID:
		*out = str(r->endpoint_id);
		return 0;
	case V_ENDPOINT_URL:
		if (r->endpoint_url != NULL) {
			*out = str(r->endpoint_url);
			return 0;
		}
		return arena_printf(a, out, "%s://%s:%d",
		    r->tls ? "https" : "http",
		    r->server_name     ? r->server_name
		        : r->server_ip ? r->server_ip
		                       : "",
		    r->server_port);
	case V_ENDPOINT_ADDR:
		return arena_printf(a, out, "%s:%d",
		    r->server_ip ? r->server_ip : "", r->server_port);
	case V_ENDPOINT_HOST:
		*out = str(r->server_name ? r->server_name : r->server_ip);
		return 0;
	case V_ENDPOINT_PORT:
		*out = cel_int(r->server_port);
		return 0;
	case V_ENDPOINT_PROTOCOL:
		*out = str(r->tls ? "https" : "http");
		return 0;
	case V_TIME_NOW:
		*out = cel_timestamp(r->now_ns);
		return 0;
	case V_VARS:
		return set_vars_map(a, r, out);
	case V_REQ_METHOD:
		*out = str(r->method);
		return 0;
	case V_REQ_VERSION:
		*out = str(r->version);
		return 0;
	case V_REQ_HOST:
		s = header(r->req_headers, r->nreq_headers, "host");
		*out = str(s ? s : r->host);
		return 0;
	case V_REQ_HEADERS:
		return header_map(a, r->req_headers, r->nreq_headers, out);
	case V_REQ_COOKIES:
		return cookie_map(a, r->req_headers, r->nreq_headers, 0, out);
	case V_REQ_CONTENT_LENGTH:
		return content_length(r->req_headers, r->nreq_headers, out);
	case V_REQ_CONTENT_TYPE:
	case V_REQ_CONTENT_TYPE_RAW:
	case V_REQ_CONTENT_TYPE_PARAMS:
		return content_type(a,
		    header(r->req_headers, r->nreq_headers, "content-type"),
		    id - V_REQ_CONTENT_TYPE, out);
	case V_REQ_CONTENT_ENCODING:
		return codings(a, r->req_headers, r->nreq_headers, out);
	case V_REQ_LOCATION:
		*out = str(header(r->req_headers, r->nreq_headers, "location"));
		return 0;
	case V_REQ_URL:
		authority(r, &s, &len);
		raw_path(r, &s2, &len2);
		return arena_printf(a, out, "%s://%.*s%.*s%s%s", scheme(r),
		    (int)len, s, (int)len2, s2,
		    r->query && *r->query ? "?" : "", r->query ? r->query : "");
	case V_REQ_URL_RAW:
		*out = str(r->url_raw);
		return 0;
	case V_REQ_URL_RAW_PATH:
		raw_path(r, &s, &len);
		*out = cel_str(s, len);
		return 0;
	case V_REQ_URL_SCHEME:
		*out = str(scheme(r));
		return 0;
	case V_REQ_URL_AUTHORITY:
		authority(r, &s, &len);
		*out = cel_str(s, len);
		return 0;
	case V_REQ_URL_HOST:
		*out = str(r->host);
		return 0;
	case V_REQ_URL_PORT:
		if ((port = url_port(r)) < 0)
			return 1;
		*out = cel_int(port);
		return 0;
	case V_REQ_URL_PATH:
		*out = str(r->path ? r->path : "/");
		return 0;
	case V_REQ_URL_QUERY:
		*out = str(r->query);
		return 0;
	case V_REQ_URL_QUERY_PARAMS:
		return query_params(a, r->query, NULL, 0, out);
	case V_REQ_URL_URI:
		return arena_printf(a, out, "%s%s%s", r->path ? r->path : "/",
		    r->query && *r->query ? "?" : "", r->query ? r->query : "");
	case V_REQ_UA:
		*out = str(user_agent(r));
		return 0;
	case V_REQ_UA_NAME:
	case V_REQ_UA_VERSION:
		ua_product(user_agent(r), &s, &len, &s2, &len2);
		*out =
		    id == V_REQ_UA_NAME ? cel_str(s, len) : cel_str(s2, len2);
		return 0;
	case V_REQ_UA_OS:
	case V_REQ_UA_OS_VERSION:
		ua_os(user_agent(r), &s, &s2, &len2);
		*out = id == V_REQ_UA_OS ? str(s) : cel_str(s2, len2);
		return 0;
	case V_REQ_UA_URL:
		s = strstr(user_agent(r), "+http");
		*out =
		    s ? cel_str(s + 1, strcspn(s + 1, " ;)")) : cel_str("", 0);
		return 0;
	case V_REQ_UA_IS_MOBILE:
		*out = cel_bool(ua_is_mobile(user_agent(r)));
		return 0;
	case V_REQ_UA_IS_TABLET:
		*out = cel_bool(ua_is_tablet(user_agent(r)));
		return 0;
	case V_REQ_UA_IS_BOT:
		*out = cel_bool(ua_is_bot(user_agent(r)));
		return 0;
	case V_REQ_UA_IS_DESKTOP:
		s = user_agent(r);
		*out = cel_bool(*s != '\0' && !ua_is_bot(s) &&
		    !ua_is_mobile(s) && !ua_is_tablet(s) &&
		    (strstr(s, "Windows") || strstr(s, "Macintosh") ||
		        strstr(s, "X11") || strstr(s, "CrOS")));
		return 0;
	case V_REQ_TS_HEADER:
		return ts(r->req_header_ns, out);
	case V_REQ_TS_BODY:
		return ts(r->req_body_ns, out);
	case V_RES_STATUS:
		*out = cel_int(r->status_code);
		return 0;
	case V_RES_HEADERS:
		return header_map(a, r->res_headers, r->nres_headers, out);
	case V_RES_COOKIES:
		return cookie_map(a, r->res_headers, r->nres_headers, 1, out);
	case V_RES_CONTENT_LENGTH:
		return content_length(r->res_headers, r->nres_headers, out);
	case V_RES_CONTENT_TYPE:
	case V_RES_CONTENT_TYPE_RAW:
	case V_RES_CONTENT_TYPE_PARAMS:
		return content_type(a,
		    header(r->res_headers, r->nres_headers, "content-type"),
		    id - V_RES_CONTENT_TYPE, out);
	case V_RES_CONTENT_ENCODING:
		return codings(a, r->res_headers, r->nres_headers, out);
	case V_RES_LOCATION:
		*out = str(header(r->res_headers, r->nres_headers, "location"));
		return 0;
	}
	return 1;
}

/* Host functions: ctx->host is the struct policy_req. */

static int
nomem(struct cel_ctx *ctx)
{
	return cel_ctx_error(ctx, "out of memory");
}

static int
fn_get_req_header(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	const struct policy_req *r = ctx->host;

	(void)data;
	(void)nargs;
	if (header_list(ctx->arena, r->req_headers, r->nreq_headers,
	        args[0].s.ptr, args[0].s.len, out) == -1)
		return nomem(ctx);
	return 0;
}

static int
fn_has_req_header(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	const struct policy_req *r = ctx->host;
	size_t i;

	(void)data;
	(void)nargs;
	for (i = 0; i < r->nreq_headers; i++)
		if (strlen(r->req_headers[i].name) == args[0].s.len &&
		    strncasecmp(r->req_headers[i].name, args[0].s.ptr,
		        args[0].s.len) == 0)
			break;
	*out = cel_bool(i < r->nreq_headers);
	return 0;
}

static int
fn_get_res_header(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	const struct policy_req *r = ctx->host;

	(void)data;
	(void)nargs;
	if (header_list(ctx->arena, r->res_headers, r->nres_headers,
	        args[0].s.ptr, args[0].s.len, out) == -1)
		return nomem(ctx);
	return 0;
}

static int
fn_has_res_header(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	const struct policy_req *r = ctx->host;
	size_t i;

	(void)data;
	(void)nargs;
	for (i = 0; i < r->nres_headers; i++)
		if (strlen(r->res_headers[i].name) == args[0].s.len &&
		    strncasecmp(r->res_headers[i].name, args[0].s.ptr,
		        args[0].s.len) == 0)
			break;
	*out = cel_bool(i < r->nres_headers);
	return 0;
}

static int
fn_get_query_param(struct cel_ctx *ctx, void *data,
    const struct cel_value *args, size_t nargs, struct cel_value *out)
{
	const struct policy_req *r = ctx->host;

	(void)data;
	(void)nargs;
	if (query_params(
	        ctx->arena, r->query, args[0].s.ptr, args[0].s.len, out) == -1)
		return nomem(ctx);
	return 0;
}

static int
fn_has_query_param(struct cel_ctx *ctx, void *data,
    const struct cel_value *args, size_t nargs, struct cel_value *out)
{
	if (fn_get_query_param(ctx, data, args, nargs, out) == -1)
		return -1;
	*out = cel_bool(out->list.len != 0);
	return 0;
}

/*
 * getReqCookie: the first cookie of that name; getResCookie: the one with
 * the longest path, as ngrok documents.  A missing cookie is an error, as
 * a missing map key is in CEL: test with has*Cookie() first.
 */
static int
get_cookie(struct cel_ctx *ctx, int response, const struct cel_value *name,
    struct cel_value *out, int test)
{
	const struct policy_req *r = ctx->host;
	struct cel_value *all;
	size_t n, i, best = 0;

	if (cookies(ctx->arena, response ? r->res_headers : r->req_headers,
	        response ? r->nres_headers : r->nreq_headers, response,
	        name->s.ptr, name->s.len, &all, &n) == -1)
		return nomem(ctx);
	if (test) {
		*out = cel_bool(n != 0);
		return 0;
	}
	if (n == 0)
		return cel_ctx_error(ctx, "no cookie named '%.*s'",
		    (int)(name->s.len > 100 ? 100 : name->s.len), name->s.ptr);
	for (i = 1; response && i < n; i++)
		if (all[i].map.entries[3].val.s.len >
		    all[best].map.entries[3].val.s.len)
			best = i;
	*out = all[best];
	return 0;
}

static int
fn_get_req_cookie(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	(void)data;
	(void)nargs;
	return get_cookie(ctx, 0, &args[0], out, 0);
}

static int
fn_has_req_cookie(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	(void)data;
	(void)nargs;
	return get_cookie(ctx, 0, &args[0], out, 1);
}

static int
fn_get_res_cookie(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	(void)data;
	(void)nargs;
	return get_cookie(ctx, 1, &args[0], out, 0);
}

static int
fn_has_res_cookie(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	(void)data;
	(void)nargs;
	return get_cookie(ctx, 1, &args[0], out, 1);
}

static const struct {
	const char *proto;
	cel_func fn;
	unsigned phases;
} funcs[] = {
	{ "list(string) getReqHeader(string)", fn_get_req_header, HTTP },
	{ "bool hasReqHeader(string)", fn_has_req_header, HTTP },
	{ "list(string) getQueryParam(string)", fn_get_query_param, HTTP },
	{ "bool hasQueryParam(string)", fn_has_query_param, HTTP },
	{ "map(string, dyn) getReqCookie(string)", fn_get_req_cookie, HTTP },
	{ "bool hasReqCookie(string)", fn_has_req_cookie, HTTP },
	{ "list(string) getResHeader(string)", fn_get_res_header, RES },
	{ "bool hasResHeader(string)", fn_has_res_header, RES },
	{ "map(string, dyn) getResCookie(string)", fn_get_res_cookie, RES },
	{ "bool hasResCookie(string)", fn_has_res_cookie, RES },
};

struct cel_env *
vars_env_new(enum policy_phase phase)
{
	struct cel_env *env;
	unsigned bit = 1u << phase;
	size_t i;
	int saved_errno;

	if ((env = cel_env_new()) == NULL)
		return NULL;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if ((vars[i].phases & bit) &&
		    cel_env_var(env, vars[i].name, vars[i].type, vars[i].id) ==
		        -1)
			goto fail;
	for (i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if ((funcs[i].phases & bit) &&
		    cel_env_func(env, funcs[i].proto, funcs[i].fn, NULL) == -1)
			goto fail;
	return env;
fail:
	saved_errno = errno;
	cel_env_free(env);
	errno = saved_errno;
	return NULL;
}
