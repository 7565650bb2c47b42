// SPDX-License-Identifier: MIT
/*
 * Reading events: pick_event() finds the members gw-export needs in one
 * pass of lib/jscan over an event line (struct xevent), which every event
 * costs once on its way in, so it does nothing else: no copy, no
 * decoding beyond the time, the status and the duration.  Also here, the
 * helpers the encoders share (fmt.h): UTF-8 checking and repair, and
 * pick_shrink(), the one way an oversized event is made to fit a limit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "fmt.h"
#include "gw-export.h"
#include "jscan.h"
#include "json.h"
#include "query.h"
#include "timeutil.h"

static const struct gw_jfield url_f[] = {
	GW_JFIELD("raw", XF_URL, NULL),
	GW_JFIELD("host", XF_HOST, NULL),
	GW_JFIELD("path", XF_PATH, NULL),
	GW_JFIELD("query", XF_QUERY, NULL),
};
static const struct gw_jschema url_s = GW_JSCHEMA(url_f);
static const struct gw_jfield req_f[] = {
	GW_JFIELD("method", XF_METHOD, NULL),
	GW_JFIELD("url", -1, &url_s),
	GW_JFIELD("user_agent", XF_USER_AGENT, NULL),
};
static const struct gw_jschema req_s = GW_JSCHEMA(req_f);
static const struct gw_jfield res_f[] = {
	GW_JFIELD("status_code", XF_STATUS, NULL),
};
static const struct gw_jschema res_s = GW_JSCHEMA(res_f);
static const struct gw_jfield http_f[] = {
	GW_JFIELD("request", -1, &req_s),
	GW_JFIELD("response", -1, &res_s),
};
static const struct gw_jschema http_s = GW_JSCHEMA(http_f);
static const struct gw_jfield conn_f[] = {
	GW_JFIELD("client_ip", XF_CLIENT_IP, NULL),
	GW_JFIELD("server_name", XF_SERVER_NAME, NULL),
};
static const struct gw_jschema conn_s = GW_JSCHEMA(conn_f);
static const struct gw_jfield err_f[] = {
	GW_JFIELD("code", XF_ERROR_CODE, NULL),
};
static const struct gw_jschema err_s = GW_JSCHEMA(err_f);
static const struct gw_jfield obj_f[] = {
	GW_JFIELD("conn", -1, &conn_s),
	GW_JFIELD("http", -1, &http_s),
	GW_JFIELD("duration_ns", XF_DURATION, NULL),
	GW_JFIELD("error", -1, &err_s),
};
static const struct gw_jschema obj_s = GW_JSCHEMA(obj_f);
static const struct gw_jfield root_f[] = {
	GW_JFIELD("event_id", XF_EVENT_ID, NULL),
	GW_JFIELD("event_type", XF_EVENT_TYPE, NULL),
	GW_JFIELD("event_timestamp", XF_TIMESTAMP, NULL),
	GW_JFIELD("object", -1, &obj_s),
};
static const struct gw_jschema root_s = GW_JSCHEMA(root_f);

/* event_timestamp in µs, as lib/evsum.c reads it: 0 when unreadable. */
static int64_t
parse_ts(const struct gw_jval *v)
{
	char buf[64];
	uint64_t ns;
	long n;

	if (v->type != GW_JSTRING || v->len >= sizeof(buf))
		return 0;
	if (v->esc) {
		if ((n = gw_jscan_unescape(v, buf, sizeof(buf) - 1)) < 0)
			return 0;
	} else {
		memcpy(buf, v->p, v->len);
		n = (long)v->len;
	}
	buf[n] = '\0';
	if (gw_parse_rfc3339(buf, &ns) == -1 || ns / 1000 == 0 ||
	    ns / 1000 > INT64_MAX)
		return 0;
	return (int64_t)(ns / 1000);
}

void
pick_fill(
    struct xevent *ev, const char *line, size_t len, const struct gw_jval *v)
{
	int64_t i;

	ev->line = line;
	ev->len = len;
	memcpy(ev->f, v, sizeof(ev->f));
	ev->ts_us = parse_ts(&v[XF_TIMESTAMP]);
	ev->duration_ns = -1;
	if (gw_jscan_int(&v[XF_DURATION], &i) == 0)
		ev->duration_ns = i;
	/* As the query language reads status: (lib/query_eval.c). */
	ev->status = 0;
	if (gw_jscan_int(&v[XF_STATUS], &i) == 0 && i > 0 && i <= UINT16_MAX)
		ev->status = (int)i;
}

int
pick_event(struct xevent *ev, const char *line, size_t len)
{
	struct gw_jval v[XF_NFIELDS];

	memset(v, 0, sizeof(v));
	if (gw_jscan(line, len, &root_s, v) == -1) {
		errno = EINVAL;
		return -1;
	}
	pick_fill(ev, line, len, v);
	return 0;
}

const char *
pick_str(const struct xevent *ev, enum xfield f, char *buf, size_t cap)
{
	const struct gw_jval *v = &ev->f[f];
	long n;

	if (cap == 0)
		return buf;
	buf[0] = '\0';
	if (v->type != GW_JSTRING)
		return buf;
	if (!v->esc) {
		if (v->len >= cap)
			return buf; /* a prefix could match what it is not */
		memcpy(buf, v->p, v->len);
		buf[v->len] = '\0';
		return buf;
	}
	if ((n = gw_jscan_unescape(v, buf, cap - 1)) < 0)
		n = 0;
	buf[n] = '\0';
	return buf;
}

int
pick_has_error(const struct xevent *ev)
{
	uint8_t t = ev->f[XF_ERROR_CODE].type;

	return t != GW_JNONE && t != GW_JNULL;
}

const char *
pick_status(const struct xevent *ev)
{
	return gw_query_status_of(ev->status, pick_has_error(ev));
}

int
pick_text(
    const struct gw_jval *v, struct gw_buf *scratch, const char **p, size_t *n)
{
	char *t;
	long k;

	if (v->type != GW_JSTRING)
		return -1;
	if (!v->esc) {
		*p = v->p;
		*n = v->len;
		return 0;
	}
	/* Decoding never grows the text. */
	if ((t = gw_buf_reserve(scratch, v->len)) == NULL ||
	    (k = gw_jscan_unescape(v, t, v->len)) < 0)
		return -1;
	gw_buf_commit(scratch, (size_t)k);
	/* The buffer may have moved: point at what was just written. */
	*p = gw_buf_head(scratch) + scratch->len - (size_t)k;
	*n = (size_t)k;
	return 0;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t
pick_trim(const char **line, size_t len)
{
	const char *s = *line;

	while (len > 0 && is_ws(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_ws(s[len - 1]))
		len--;
	*line = s;
	return len;
}

int
pick_utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	uint64_t w, acc = 0;

	/* Most events are plain ASCII: look for a high bit, wide. */
#ifdef __SSE2__
	__m128i v = _mm_setzero_si128();

	for (; i + 64 <= n; i += 64) {
		v = _mm_or_si128(v, _mm_loadu_si128((const void *)(p + i)));
		v = _mm_or_si128(
		    v, _mm_loadu_si128((const void *)(p + i + 16)));
		v = _mm_or_si128(
		    v, _mm_loadu_si128((const void *)(p + i + 32)));
		v = _mm_or_si128(
		    v, _mm_loadu_si128((const void *)(p + i + 48)));
	}
	if (_mm_movemask_epi8(v) != 0)
		goto slow;
#endif
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= p[i];
	if ((acc & 0x8080808080808080ULL) == 0)
		return 1;
#ifdef __SSE2__
slow:
#endif
	for (i = 0; i < n; i += k)
		if ((k = gw_utf8_seq(s + i, s + n)) == 0)
			return 0;
	return 1;
}

int
pick_utf8_fix(const char *s, size_t n, struct gw_buf *out)
{
	size_t i = 0, run = 0, k;
	char *t, *o;

	gw_buf_reset(out);
	/* At worst every byte becomes three. */
	if (n > (SIZE_MAX - 16) / 3 || (t = gw_buf_reserve(out, n * 3)) == NULL)
		return -1;
	o = t;
	while (i < n) {
		if ((k = gw_utf8_seq(s + i, s + n)) != 0) {
			i += k;
			continue;
		}
		memcpy(o, s + run, i - run);
		o += i - run;
		memcpy(o, "\xef\xbf\xbd", 3);
		o += 3;
		run = ++i;
	}
	memcpy(o, s + run, n - run);
	o += n - run;
	gw_buf_commit(out, (size_t)(o - t));
	return 0;
}

/* -- Shrinking ------------------------------------------------------------ */

static int
dump_cb(const char *p, size_t n, void *arg)
{
	return gw_buf_add(arg, p, n);
}

/* Dumps <j> compactly into <out>; returns its length or -1. */
static int
dump(json_t *j, struct gw_buf *out)
{
	gw_buf_reset(out);
	return json_dump_callback(j, dump_cb, out, JSON_COMPACT);
}

static void
del2(json_t *obj, const char *a, const char *b)
{
	json_object_del(json_object_get(obj, a), b);
}

/* Cuts every string member of <obj> to <max> bytes. */
static void
cut_strings(json_t *obj, size_t max)
{
	const char *k;
	json_t *v;
	size_t n;

	json_object_foreach(obj, k, v)
	{
		if (!json_is_string(v) || json_string_length(v) <= max)
			continue;
		n = gw_utf8_cut(
		    json_string_value(v), json_string_length(v), max);
		(void)json_string_setn(v, json_string_value(v), n);
	}
}

int
pick_shrink(const char *line, size_t len, size_t max, struct gw_buf *out)
{
	static const char *const keep[] = { "event_id", "event_type",
		"event_timestamp", "principal", "object", "gw_truncated" };
	json_t *ev = NULL, *obj, *stub;
	json_error_t jerr;
	void *tmp;
	const char *k;
	json_t *v;
	size_t i;
	int step, saved_errno;

	ev = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(ev)) {
		errno = EINVAL;
		goto fail;
	}
	if (json_object_set_new(ev, "gw_truncated", json_true()) == -1)
		goto nomem;
	for (step = 0; step < 6; step++) {
		obj = json_object_get(ev, "object");
		switch (step) {
		case 0:
			break; /* capped attributes around it may be enough */
		case 1:
			if (!json_is_object(obj))
				continue;
			obj = json_object_get(obj, "http");
			del2(obj, "request", "body");
			del2(obj, "response", "body");
			break;
		case 2:
			if (!json_is_object(obj))
				continue;
			obj = json_object_get(obj, "http");
			del2(obj, "request", "headers");
			del2(obj, "response", "headers");
			break;
		case 3:
			stub = json_pack(
			    "{s:I}", "gw_original_bytes", (json_int_t)len);
			if (stub == NULL ||
			    json_object_set_new(ev, "object", stub) == -1)
				goto nomem;
			break;
		case 4:
			json_object_foreach_safe(ev, tmp, k, v)
			{
				for (i = 0; i < sizeof(keep) / sizeof(keep[0]);
				     i++)
					if (strcmp(k, keep[i]) == 0)
						break;
				if (i == sizeof(keep) / sizeof(keep[0]))
					json_object_del(ev, k);
			}
			if (json_object_set_new(ev, "principal", json_null()) ==
			    -1)
				goto nomem;
			cut_strings(ev, 256);
			break;
		case 5:
			cut_strings(ev, 32); /* odd ids, for tiny limits */
			break;
		}
		if (dump(ev, out) == -1)
			goto nomem;
		if (out->len <= max) {
			json_decref(ev);
			return 0;
		}
	}
	errno = EMSGSIZE;
	goto fail;
nomem:
	errno = ENOMEM;
fail:
	saved_errno = errno;
	json_decref(ev);
	gw_buf_reset(out);
	errno = saved_errno;
	return -1;
}
