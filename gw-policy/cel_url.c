// SPDX-License-Identifier: MIT
/*
 * ngrok's URL and query string functions (reference/ngrok-traffic-
 * policy.md §3.3), as Go's net/url does them: url.parse / s.parseUrl()
 * into the fields of ngrok's req.url, s.isURL(), url.escape and
 * url.unescape (QueryEscape and QueryUnescape), queryString.decode /
 * s.decodeQueryString() (ParseQuery), queryString.encode /
 * m.encodeQueryString() (Values.Encode) and s.isQueryString().  Results
 * go into the evaluation arena.
 */
#include <arpa/inet.h>
#include <string.h>

#include "ascii.h"

#include "cel_impl.h"
#include "http.h"

#define MAX_QUERY_PARAMS 1000

static void *
alloc(struct cel_call *c, size_t n)
{
	void *p;

	if ((p = cel_arena_alloc(c->ctx->arena, n)) == NULL)
		cel_ctx_error(c->ctx, "out of memory for the evaluation");
	return p;
}

/*
 * Percent-decodes <n> bytes of <s> into the arena; '+' is a space when
 * <plus> (query strings).  Returns 0, or -1 on a bad escape or ENOMEM.
 */
static int
unescape(struct cel_call *c, const char *s, size_t n, int plus,
    struct cel_value *out)
{
	size_t bad = 0;
	ssize_t k;
	char *p;

	if (memchr(s, '%', n) == NULL && (!plus || memchr(s, '+', n) == NULL)) {
		*out = cel_str(s, n);
		return 0;
	}
	if ((p = alloc(c, n)) == NULL)
		return -1;
	k = gw_pct_decode(
	    s, n, p, GW_PCT_STRICT | (plus ? GW_PCT_PLUS : 0), &bad);
	if (k == -1)
		return cel_ctx_error(c->ctx, "invalid URL escape '%.*s'",
		    (int)(n - bad < 3 ? n - bad : 3), s + bad);
	*out = cel_str(p, (size_t)k);
	return 0;
}

static int
is_unreserved(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
	    ch == '~';
}

/*
 * Go's url.QueryEscape of <n> bytes into <p> (NULL only measures):
 * unreserved bytes stay, space is '+', the rest %XX.  Returns the length.
 */
static size_t
query_escape(const char *src, size_t n, char *p)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)src;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (is_unreserved(s[i]) || s[i] == ' ') {
			if (p != NULL)
				p[k] = s[i] == ' ' ? '+' : (char)s[i];
			k++;
		} else {
			if (p != NULL) {
				p[k] = '%';
				p[k + 1] = hex[s[i] >> 4];
				p[k + 2] = hex[s[i] & 15];
			}
			k += 3;
		}
	}
	return k;
}

static int
f_url_escape(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	size_t n;
	char *p;

	n = query_escape(a[0].s.ptr, a[0].s.len, NULL);
	if (n == a[0].s.len && memchr(a[0].s.ptr, ' ', a[0].s.len) == NULL) {
		*out = a[0];
		return 0;
	}
	if ((p = alloc(c, n)) == NULL)
		return -1;
	*out = cel_str(p, query_escape(a[0].s.ptr, a[0].s.len, p));
	return 0;
}

static int
f_url_unescape(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return unescape(c, a[0].s.ptr, a[0].s.len, 1, out);
}

/*
 * Parses a query string into map(string, list(string)), values in order
 * and grouped by key, as Go's url.ParseQuery (pairs with bad escapes or
 * a ';' are skipped, like url.URL.Query()).
 */
static int
parse_query(struct cel_call *c, const char *s, size_t n, struct cel_value *out)
{
	struct cel_value *keys, *vals, *items;
	struct cel_map_entry *ent;
	size_t npairs = 0, i, j, k, nkeys = 0, cnt, start, end, eq;
	char msg[sizeof(c->ctx->errmsg)];

	for (i = 0; i < n; i++)
		npairs += s[i] == '&';
	npairs++;
	if (n == 0 || npairs > MAX_QUERY_PARAMS) {
		*out = cel_map(NULL, 0);
		return n == 0
		    ? 0
		    : cel_ctx_error(c->ctx, "more than %d query parameters",
		          MAX_QUERY_PARAMS);
	}
	if ((keys = alloc(c, 2 * npairs * sizeof(*keys))) == NULL ||
	    (ent = alloc(c, npairs * sizeof(*ent))) == NULL ||
	    (items = alloc(c, npairs * sizeof(*items))) == NULL)
		return -1;
	vals = keys + npairs;
	memcpy(msg, c->ctx->errmsg, sizeof(msg));
	for (i = 0, j = 0, start = 0; start <= n; start = end + 1) {
		for (end = start; end < n && s[end] != '&';)
			end++;
		if (end == start)
			continue;
		/* Go refuses ';' as a separator since 1.17: the pair goes. */
		if (memchr(s + start, ';', end - start) != NULL)
			continue;
		for (eq = start; eq < end && s[eq] != '=';)
			eq++;
		if (unescape(c, s + start, eq - start, 1, &keys[j]) == -1 ||
		    unescape(c, s + eq + (eq < end), end - eq - (eq < end), 1,
		        &vals[j]) == -1) {
			/* Skipped like Go; forget the message it left. */
			memcpy(c->ctx->errmsg, msg, sizeof(msg));
			continue;
		}
		j++;
	}
	npairs = j;
	/* Group by key, keeping first-seen order: the lists are contiguous. */
	for (i = 0, k = 0; i < npairs; i++) {
		for (j = 0; j < nkeys; j++)
			if (cel_value_equal(&ent[j].key, &keys[i]))
				break;
		if (j < nkeys)
			continue;
		ent[nkeys].key = keys[i];
		for (cnt = 0, j = i; j < npairs; j++)
			if (cel_value_equal(&keys[j], &keys[i]))
				items[k + cnt++] = vals[j];
		ent[nkeys++].val = cel_list(items + k, cnt);
		k += cnt;
	}
	*out = cel_map(ent, nkeys);
	return 0;
}

static int
f_query_decode(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return parse_query(c, a[0].s.ptr, a[0].s.len, out);
}

/* Every '%' of <n> bytes at <s> starts a valid escape. */
static int
escapes_valid(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '%' &&
		    (i + 2 >= n || gw_hexval(s[i + 1]) == -1 ||
		        gw_hexval(s[i + 2]) == -1))
			return 0;
	return 1;
}

/*
 * s.isQueryString(): whether Go's url.ParseQuery takes <s> without an
 * error: no ';' (refused as a separator since Go 1.17) and every '%'
 * followed by two hex digits.  The empty string is a query string.
 */
static int
f_is_query_string(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	(void)c;
	*out = cel_bool(memchr(a[0].s.ptr, ';', a[0].s.len) == NULL &&
	    escapes_valid(a[0].s.ptr, a[0].s.len));
	return 0;
}

/*
 * queryString.encode(m) and m.encodeQueryString(): Go's url.Values
 * Encode(): keys sorted bytewise, "k=v" pairs joined by '&', both sides
 * QueryEscape'd, a list value giving one pair per element in order (none
 * when empty).  Keys must be strings and values strings or lists of
 * strings: anything else is an error rather than a guess at its text.
 */
static int
f_query_encode(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	const struct cel_map_entry *e = a[0].map.entries;
	size_t n = a[0].map.len, i, j, len = 0, klen, cnt, pos = 0;
	struct cel_value *keys, *order;
	const struct cel_value *vals;
	char buf[100], *p;

	if (n == 0) {
		*out = cel_str("", 0);
		return 0;
	}
	if ((keys = alloc(c, 2 * n * sizeof(*keys))) == NULL)
		return -1;
	order = keys + n;
	for (i = 0; i < n; i++) {
		if (e[i].key.type != CEL_STRING) {
			cel_value_describe(&e[i].key, buf, sizeof(buf));
			return cel_ctx_error(c->ctx,
			    "queryString.encode: key %s is %s, not string", buf,
			    cel_type_name(e[i].key.type));
		}
		keys[i] = e[i].key;
		order[i] = cel_int((int64_t)i);
		klen = query_escape(e[i].key.s.ptr, e[i].key.s.len, NULL);
		if (e[i].val.type == CEL_STRING) {
			len += klen + 2 +
			    query_escape(e[i].val.s.ptr, e[i].val.s.len, NULL);
			continue;
		}
		if (e[i].val.type != CEL_LIST)
			goto bad;
		vals = e[i].val.list.items;
		for (j = 0; j < e[i].val.list.len; j++) {
			if (vals[j].type != CEL_STRING)
				goto bad;
			len += klen + 2 +
			    query_escape(vals[j].s.ptr, vals[j].s.len, NULL);
		}
	}
	if (cel_list_sort(
	        c->ctx, "queryString.encode", order, keys, n, order) == -1)
		return -1;
	if (len == 0) {
		*out = cel_str("", 0);
		return 0;
	}
	if ((p = alloc(c, len)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		j = (size_t)order[i].i;
		if (e[j].val.type == CEL_STRING) {
			vals = &e[j].val;
			cnt = 1;
		} else {
			vals = e[j].val.list.items;
			cnt = e[j].val.list.len;
		}
		for (; cnt > 0; cnt--, vals++) {
			if (pos > 0)
				p[pos++] = '&';
			pos += query_escape(
			    e[j].key.s.ptr, e[j].key.s.len, p + pos);
			p[pos++] = '=';
			pos += query_escape(vals->s.ptr, vals->s.len, p + pos);
		}
	}
	/* <len> counted an '&' for every pair, the first has none. */
	*out = cel_str(p, pos);
	return 0;
bad:
	cel_value_describe(&e[i].key, buf, sizeof(buf));
	return cel_ctx_error(c->ctx,
	    "queryString.encode: the value of %s is not a string or a list "
	    "of strings",
	    buf);
}

static int
is_scheme_char(char ch, int first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (!first &&
	        ((ch >= '0' && ch <= '9') || ch == '+' || ch == '-' ||
	            ch == '.'));
}

/*
 * url.parse(s): a map with the fields of ngrok's req.url: scheme,
 * authority, host, port (an int, only when present), path (decoded),
 * raw_path, query, query_params, fragment, user_password (when present)
 * and raw.
 */
static int
f_url_parse(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	const char *s = a[0].s.ptr, *p, *end, *hash, *q, *auth, *at, *hend;
	struct cel_value scheme, authority, host, path, query, frag, userpw;
	struct cel_map_entry *e;
	size_t n = a[0].s.len, i, len;
	int64_t port = -1;
	char *lower;

	end = s + n;
	hash = memchr(s, '#', n);
	frag = hash != NULL ? cel_str(hash + 1, (size_t)(end - hash - 1))
	                    : cel_str("", 0);
	if (hash != NULL)
		end = hash;
	scheme = authority = host = userpw = cel_str("", 0);
	p = s;
	for (i = 0; p + i < end && is_scheme_char(p[i], i == 0);)
		i++;
	if (i > 0 && p + i < end && p[i] == ':') {
		if ((lower = alloc(c, i)) == NULL)
			return -1;
		for (len = 0; len < i; len++)
			lower[len] =
			    (char)(p[len] >= 'A' && p[len] <= 'Z' ? p[len] + 32
			                                          : p[len]);
		scheme = cel_str(lower, i);
		p += i + 1;
	}
	if (end - p >= 2 && p[0] == '/' && p[1] == '/') {
		auth = p + 2;
		for (p = auth; p < end && *p != '/' && *p != '?';)
			p++;
		authority = cel_str(auth, (size_t)(p - auth));
		at = memrchr(auth, '@', (size_t)(p - auth));
		if (at != NULL) {
			userpw = cel_str(auth, (size_t)(at - auth));
			auth = at + 1;
			authority = cel_str(auth, (size_t)(p - auth));
		}
		hend = p;
		if (auth < p && auth[0] == '[') {
			/* [v6]:port */
			if ((q = memchr(auth, ']', (size_t)(p - auth))) == NULL)
				return cel_ctx_error(
				    c->ctx, "url.parse: missing ']' in host");
			host = cel_str(auth + 1, (size_t)(q - auth - 1));
			hend = q + 1;
		} else {
			for (q = auth; q < p && *q != ':';)
				q++;
			host = cel_str(auth, (size_t)(q - auth));
			hend = q;
		}
		if (hend < p && *hend == ':') {
			for (q = hend + 1, port = 0; q < p; q++) {
				if (*q < '0' || *q > '9' || port > 65535)
					return cel_ctx_error(
					    c->ctx, "url.parse: invalid port");
				port = port * 10 + (*q - '0');
			}
			if (port > 65535)
				return cel_ctx_error(
				    c->ctx, "url.parse: invalid port");
			if (hend + 1 == p)
				port = -1;
		} else if (hend < p)
			return cel_ctx_error(c->ctx, "url.parse: invalid host");
	}
	q = memchr(p, '?', (size_t)(end - p));
	query =
	    q != NULL ? cel_str(q + 1, (size_t)(end - q - 1)) : cel_str("", 0);
	len = (size_t)((q != NULL ? q : end) - p);
	if (unescape(c, p, len, 0, &path) == -1)
		return -1;
	if ((e = alloc(c, 12 * sizeof(*e))) == NULL)
		return -1;
	i = 0;
	e[i].key = cel_str("scheme", 6), e[i++].val = scheme;
	e[i].key = cel_str("authority", 9), e[i++].val = authority;
	e[i].key = cel_str("host", 4), e[i++].val = host;
	if (port >= 0)
		e[i].key = cel_str("port", 4), e[i++].val = cel_int(port);
	e[i].key = cel_str("path", 4), e[i++].val = path;
	e[i].key = cel_str("raw_path", 8), e[i++].val = cel_str(p, len);
	e[i].key = cel_str("query", 5), e[i++].val = query;
	e[i].key = cel_str("query_params", 12);
	if (parse_query(c, query.s.ptr, query.s.len, &e[i++].val) == -1)
		return -1;
	e[i].key = cel_str("fragment", 8), e[i++].val = frag;
	if (userpw.s.len > 0)
		e[i].key = cel_str("user_password", 13), e[i++].val = userpw;
	e[i].key = cel_str("raw", 3), e[i++].val = a[0];
	*out = cel_map(e, i);
	return 0;
}

/* RFC 3986 sub-delims, which a host name may hold. */
static int
is_sub_delim(char ch)
{
	return ch != '\0' && strchr("!$&'()*+,;=", ch) != NULL;
}

/* Whether <n> bytes at <s> are an IPv6 address, as inet_pton(3) reads. */
static int
is_ipv6(const char *s, size_t n)
{
	unsigned char ip[16];
	char buf[64];

	if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, ip) == 1;
}

/*
 * s.isURL(): whether <s> is an absolute URL that names a host, the kind a
 * redirect or a webhook needs: scheme "://" [userinfo "@"] host [":"
 * port] then an optional path, query and fragment.  The host is a name
 * (unreserved, sub-delims, escapes), an IPv4 address or a bracketed IPv6
 * address; the port is at most 65535; no byte is a space or a control
 * character, and every '%' is a valid escape.  ngrok does not document
 * its rules, so these are RFC 3986's, minus relative references.
 */
static int
f_is_url(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	const char *s = a[0].s.ptr, *p, *end = s + a[0].s.len, *auth, *at;
	const char *host, *hend;
	long port;
	size_t i;

	(void)c;
	*out = cel_bool(0);
	for (i = 0; i < a[0].s.len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 0;
	if (!escapes_valid(s, a[0].s.len))
		return 0;
	for (p = s; p < end && is_scheme_char(*p, p == s);)
		p++;
	if (p == s || end - p < 3 || memcmp(p, "://", 3) != 0)
		return 0;
	auth = p + 3;
	for (p = auth; p < end && *p != '/' && *p != '?' && *p != '#';)
		p++;
	at = memrchr(auth, '@', (size_t)(p - auth));
	host = at != NULL ? at + 1 : auth;
	if (host < p && *host == '[') {
		if ((hend = memchr(host, ']', (size_t)(p - host))) == NULL ||
		    !is_ipv6(host + 1, (size_t)(hend - host - 1)))
			return 0;
		hend++;
	} else {
		for (hend = host; hend < p && *hend != ':'; hend++)
			if (!is_unreserved((unsigned char)*hend) &&
			    !is_sub_delim(*hend) && *hend != '%')
				return 0;
		if (hend == host)
			return 0;
	}
	if (hend < p) {
		if (*hend != ':' || hend + 1 == p || p - hend > 6)
			return 0;
		for (port = 0, hend++; hend < p; hend++) {
			if (*hend < '0' || *hend > '9')
				return 0;
			port = port * 10 + (*hend - '0');
		}
		if (port > 65535)
			return 0;
	}
	*out = cel_bool(1);
	return 0;
}

const struct cel_builtin cel_url_builtins[] = {
	{ "map(string, dyn) url.parse(string)", f_url_parse, 0, NULL },
	{ "map(string, dyn) string.parseUrl()", f_url_parse, 0, NULL },
	{ "bool string.isURL()", f_is_url, 0, NULL },
	{ "string url.escape(string)", f_url_escape, 0, NULL },
	{ "string string.escapeUrl()", f_url_escape, 0, NULL },
	{ "string url.unescape(string)", f_url_unescape, 0, NULL },
	{ "string string.unescapeUrl()", f_url_unescape, 0, NULL },
	{ "map(string, list(string)) queryString.decode(string)",
	    f_query_decode, 0, NULL },
	{ "map(string, list(string)) string.decodeQueryString()",
	    f_query_decode, 0, NULL },
	{ "bool string.isQueryString()", f_is_query_string, 0, NULL },
	{ "string queryString.encode(map)", f_query_encode, 0, NULL },
	{ "string map.encodeQueryString()", f_query_encode, 0, NULL },
};

const size_t cel_url_nbuiltins =
    sizeof(cel_url_builtins) / sizeof(cel_url_builtins[0]);
