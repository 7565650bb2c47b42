// SPDX-License-Identifier: MIT
/*
 * Event summaries (see evsum.h): one pass of the validating scanner in
 * jscan.c over an event line picks the indexed members, then each is
 * converted on its own.  A member of the wrong type or with a value that
 * does not parse is treated as missing, so a strange event is still
 * stored and indexed by what it has.  This runs once per stored event.
 */
#include <arpa/inet.h>

#include <stdint.h>
#include <string.h>

#include "evsum.h"
#include "jscan.h"
#include "timeutil.h"

enum {
	S_ID,
	S_TYPE,
	S_TS,
	S_IP,
	S_METHOD,
	S_HOST,
	S_REQ_TRUNC,
	S_STATUS,
	S_RES_TRUNC,
	S_DUR,
	S_ERRCODE,
	S_REPLAY,
	S_COUNT
};

static const struct gw_jfield url_f[] = {
	GW_JFIELD("host", S_HOST, NULL),
};
static const struct gw_jschema url_s = GW_JSCHEMA(url_f);
static const struct gw_jfield req_f[] = {
	GW_JFIELD("method", S_METHOD, NULL),
	GW_JFIELD("url", -1, &url_s),
	GW_JFIELD("body_truncated", S_REQ_TRUNC, NULL),
};
static const struct gw_jschema req_s = GW_JSCHEMA(req_f);
static const struct gw_jfield res_f[] = {
	GW_JFIELD("status_code", S_STATUS, NULL),
	GW_JFIELD("body_truncated", S_RES_TRUNC, NULL),
};
static const struct gw_jschema res_s = GW_JSCHEMA(res_f);
static const struct gw_jfield http_f[] = {
	GW_JFIELD("request", -1, &req_s),
	GW_JFIELD("response", -1, &res_s),
};
static const struct gw_jschema http_s = GW_JSCHEMA(http_f);
static const struct gw_jfield conn_f[] = {
	GW_JFIELD("client_ip", S_IP, NULL),
};
static const struct gw_jschema conn_s = GW_JSCHEMA(conn_f);
static const struct gw_jfield err_f[] = {
	GW_JFIELD("code", S_ERRCODE, NULL),
};
static const struct gw_jschema err_s = GW_JSCHEMA(err_f);
static const struct gw_jfield obj_f[] = {
	GW_JFIELD("conn", -1, &conn_s),
	GW_JFIELD("http", -1, &http_s),
	GW_JFIELD("duration_ns", S_DUR, NULL),
	GW_JFIELD("error", -1, &err_s),
	GW_JFIELD("replay_of", S_REPLAY, NULL),
};
static const struct gw_jschema obj_s = GW_JSCHEMA(obj_f);
static const struct gw_jfield root_f[] = {
	GW_JFIELD("event_id", S_ID, NULL),
	GW_JFIELD("event_type", S_TYPE, NULL),
	GW_JFIELD("event_timestamp", S_TS, NULL),
	GW_JFIELD("object", -1, &obj_s),
};
static const struct gw_jschema root_s = GW_JSCHEMA(root_f);

static const struct gw_jfield id_f[] = {
	GW_JFIELD("event_id", 0, NULL),
};
static const struct gw_jschema id_s = GW_JSCHEMA(id_f);

/*
 * The text of string value <v>, decoded into <buf> when it holds escapes.
 * Returns its length, or -1 when it is not a string or does not fit.
 */
static long
str_of(const struct gw_jval *v, char *buf, size_t cap, const char **p)
{
	if (v->type != GW_JSTRING)
		return -1;
	if (!v->esc) {
		*p = v->p;
		return (long)v->len;
	}
	*p = buf;
	return gw_jscan_unescape(v, buf, cap);
}

static int
ends_with_version(const char *s, size_t n)
{
	size_t i = n;

	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	return i < n && i >= 3 && s[i - 1] == 'v' && s[i - 2] == '.';
}

static int
has_prefix(const char *s, size_t n, const char *pfx)
{
	size_t k = strlen(pfx);

	return n >= k && memcmp(s, pfx, k) == 0;
}

int
gw_evsum_kind_of(const char *s, size_t n)
{
	if (n == 24 && memcmp(s, "http_request_complete.v0", 24) == 0)
		return GW_EVK_HTTP;
	if (n == 24 && memcmp(s, "tcp_connection_closed.v0", 24) == 0)
		return GW_EVK_TCP;
	/* Another version of a traffic event is not an audit event. */
	if (has_prefix(s, n, "http_request_complete.") ||
	    has_prefix(s, n, "tcp_connection_closed."))
		return GW_EVK_OTHER;
	return ends_with_version(s, n) ? GW_EVK_AUDIT : GW_EVK_OTHER;
}

static int
parse_ts(const struct gw_jval *v, int64_t *us)
{
	char buf[64], dec[64];
	const char *p;
	uint64_t ns;
	long n;

	if ((n = str_of(v, dec, sizeof(dec) - 1, &p)) <= 0 ||
	    (size_t)n >= sizeof(buf))
		return -1;
	memcpy(buf, p, (size_t)n);
	buf[n] = '\0';
	if (gw_parse_rfc3339(buf, &ns) == -1 || ns / 1000 == 0 ||
	    ns / 1000 > INT64_MAX)
		return -1;
	*us = (int64_t)(ns / 1000);
	return 0;
}

static int
is_true(const struct gw_jval *v)
{
	return v->type == GW_JTRUE;
}

/* Present and not null. */
static int
is_present(const struct gw_jval *v)
{
	return v->type != GW_JNONE && v->type != GW_JNULL;
}

int
gw_evsum_extract(struct gw_evsum *sum, const char *line, size_t len)
{
	struct gw_jval v[S_COUNT];
	char buf[1024];
	const char *p;
	int64_t i;
	long n;

	memset(sum, 0, sizeof(*sum));
	memset(v, 0, sizeof(v));
	if (gw_jscan(line, len, &root_s, v) == -1)
		return -1;

	if ((n = str_of(&v[S_TYPE], buf, sizeof(buf), &p)) >= 0)
		sum->kind = gw_evsum_kind_of(p, (size_t)n);
	if (v[S_TS].type != GW_JNONE)
		(void)parse_ts(&v[S_TS], &sum->ts_us);
	if ((n = str_of(&v[S_IP], buf, sizeof(buf), &p)) >= 0 &&
	    gw_evsum_ip(p, (size_t)n, sum->client_ip) == 0)
		sum->flags |= GW_EVS_HAS_IP;
	if ((n = str_of(&v[S_METHOD], buf, sizeof(buf), &p)) >= 0)
		sum->method = (uint8_t)gw_evsum_method_of(p, (size_t)n);
	if ((n = str_of(&v[S_HOST], buf, sizeof(buf), &p)) >= 0) {
		sum->host_hash = gw_evsum_host_hash(p, (size_t)n);
		sum->flags |= GW_EVS_HAS_HOST;
	}
	if (gw_jscan_int(&v[S_STATUS], &i) == 0 && i > 0 && i <= UINT16_MAX)
		sum->status = (uint16_t)i;
	if (gw_jscan_int(&v[S_DUR], &i) == 0) {
		sum->duration_ns = i;
		sum->flags |= GW_EVS_HAS_DUR;
	}
	if (is_present(&v[S_ERRCODE]))
		sum->flags |= GW_EVS_HAS_ERROR;
	if (is_present(&v[S_REPLAY]))
		sum->flags |= GW_EVS_REPLAY;
	if (is_true(&v[S_REQ_TRUNC]) || is_true(&v[S_RES_TRUNC]))
		sum->flags |= GW_EVS_TRUNCATED;
	return 0;
}

int
gw_evsum_event_id(const char *line, size_t len, const char **id, size_t *n)
{
	static const char pfx[] = "{\"event_id\":\"";
	struct gw_jval v;
	const char *q;
	size_t k = sizeof(pfx) - 1;

	/* What gw writes: event_id first, no spaces, no escapes. */
	if (len > k && memcmp(line, pfx, k) == 0 &&
	    (q = memchr(line + k, '"', len - k)) != NULL &&
	    memchr(line + k, '\\', (size_t)(q - line) - k) == NULL) {
		*id = line + k;
		*n = (size_t)(q - *id);
		return 0;
	}
	memset(&v, 0, sizeof(v));
	if (gw_jscan(line, len, &id_s, &v) == -1 || v.type != GW_JSTRING ||
	    v.esc)
		return -1;
	*id = v.p;
	*n = v.len;
	return 0;
}

uint32_t
gw_evsum_host_hash(const char *host, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 16777619u;
	}
	return h != 0 ? h : 1;
}

static const char *const method_names[] = {
	[GW_EVM_GET] = "GET",
	[GW_EVM_HEAD] = "HEAD",
	[GW_EVM_POST] = "POST",
	[GW_EVM_PUT] = "PUT",
	[GW_EVM_DELETE] = "DELETE",
	[GW_EVM_PATCH] = "PATCH",
	[GW_EVM_OPTIONS] = "OPTIONS",
	[GW_EVM_CONNECT] = "CONNECT",
	[GW_EVM_TRACE] = "TRACE",
};

int
gw_evsum_method_of(const char *name, size_t len)
{
	int m;

	for (m = GW_EVM_GET; m <= GW_EVM_TRACE; m++)
		if (strlen(method_names[m]) == len &&
		    memcmp(method_names[m], name, len) == 0)
			return m;
	return GW_EVM_OTHER;
}

const char *
gw_evsum_method_name(int method)
{
	if (method < GW_EVM_GET || method > GW_EVM_TRACE)
		return NULL;
	return method_names[method];
}

int
gw_evsum_ip(const char *s, size_t len, uint8_t out[16])
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t a[16];

	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (memchr(s, ':', len) == NULL) {
		if (inet_pton(AF_INET, buf, a) != 1)
			return -1;
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, a, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, a) != 1)
		return -1;
	memcpy(out, a, 16);
	return 0;
}
