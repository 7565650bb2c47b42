/* SPDX-License-Identifier: MIT */
/*
 * The endpoints: what each real receiver checks, how it answers, and the
 * record files tests read.  Section numbers refer to
 * the services' API documentation.  A request that is answered
 * with an error records nothing: record lines are built in memory while
 * the request is checked and written with one write(2) per file just
 * before the answer, so a test that has seen the answer finds the lines.
 * The Datadog path, the one the export benchmark pushes 150k events/s
 * through, never builds a tree: jsonv.c checks each entry and copies it,
 * compact, straight into the record buffer.  The other endpoints carry a
 * few requests per test and use jansson.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>

#include "fake-intake.h"
#include "http.h"
#include "log.h"

#define LOKI_GRACE_NS (10LL * 60 * 1000000000) /* creation_grace_period */
#define NTFY_TTL_S    43200

struct record {
	int fd;
	const char *path;
	struct gw_buf buf; /* lines of the request being answered */
};

static struct record rec[REC_COUNT] = {
	{ .fd = -1 },
	{ .fd = -1 },
	{ .fd = -1 },
};
static struct intake_conf conf;
static struct gw_buf out; /* reply bodies */
static char msgbuf[512];  /* formatted error messages */
static uint64_t rng;

static const char *const service[R_COUNT] = {
	[R_NTFY] = "ntfy",
	[R_SLACK] = "slack",
	[R_PAGERDUTY] = "pagerduty",
	[R_WEBHOOK] = "webhook",
};

void
intake_init(const struct intake_conf *c)
{
	struct timespec ts;
	int i;

	conf = *c;
	gw_buf_init(&out, 0);
	for (i = 0; i < REC_COUNT; i++)
		gw_buf_init(&rec[i].buf, RECORD_MAX);
	clock_gettime(CLOCK_REALTIME, &ts);
	rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
	    ((uint64_t)getpid() << 40) ^ 0x9e3779b97f4a7c15ULL;
}

int
intake_record_open(enum record_kind kind, const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	if (rec[kind].fd != -1)
		close(rec[kind].fd);
	rec[kind].fd = fd;
	rec[kind].path = path;
	return 0;
}

void
intake_fini(void)
{
	int i;

	for (i = 0; i < REC_COUNT; i++) {
		if (rec[i].fd != -1)
			close(rec[i].fd);
		rec[i].fd = -1;
		gw_buf_fini(&rec[i].buf);
	}
	gw_buf_fini(&out);
}

static uint64_t
rand64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes every record buffer that holds lines; drops them all on failure. */
static int
records_commit(void)
{
	struct record *rc;
	size_t off;
	ssize_t n;
	int i, failed = 0;

	for (i = 0; i < REC_COUNT; i++) {
		rc = &rec[i];
		for (off = 0; rc->fd != -1 && off < rc->buf.len && !failed;) {
			n = write(rc->fd, gw_buf_head(&rc->buf) + off,
			    rc->buf.len - off);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				gw_error(
				    "write %s: %s", rc->path, strerror(errno));
				failed = 1;
				break;
			}
			off += (size_t)n;
		}
		gw_buf_reset(&rc->buf);
	}
	return failed ? -1 : 0;
}

static void
records_drop(void)
{
	int i;

	for (i = 0; i < REC_COUNT; i++)
		gw_buf_reset(&rec[i].buf);
}

static bool
recording(enum record_kind k)
{
	return rec[k].fd != -1;
}

/*
 * Replies.
 */

static void
reply_set(struct reply *rep, int status, const char *ctype)
{
	gw_buf_reset(&out);
	rep->status = status;
	rep->ctype = ctype;
	rep->body = &out;
	rep->retry_after = -1;
	rep->allow = NULL;
	rep->reset = false;
}

static void
reply_text(struct reply *rep, int status, const char *ctype, const char *s)
{
	reply_set(rep, status, ctype);
	gw_buf_adds(&out, s);
}

/* ntfy's error code for a status when the caller has none better. */
static int
ntfy_code(int status)
{
	return status * 100 + (status == 401 || status == 403 ? 1 : 0);
}

static void
error_ntfy(struct reply *rep, int status, int code, const char *msg)
{
	reply_set(rep, status, "application/json");
	gw_buf_printf(
	    &out, "{\"code\":%d,\"http\":%d,\"error\":", code, status);
	jw_str(&out, msg, strlen(msg));
	gw_buf_adds(&out, ",\"link\":\"https://ntfy.sh/docs/publish/\"}\n");
}

void
intake_error(enum route route, int status, const char *msg, struct reply *rep)
{
	const char *reason = gw_http_reason(status);
	char code[8];

	switch (route) {
	case R_DATADOG:
		/* The v2 error model: {"errors":[{detail,status,title}]}. */
		snprintf(code, sizeof(code), "%d", status);
		reply_set(rep, status, "application/json");
		gw_buf_adds(&out, "{\"errors\":[{\"status\":");
		jw_str(&out, code, strlen(code));
		gw_buf_adds(&out, ",\"title\":");
		jw_str(&out, reason, strlen(reason));
		gw_buf_adds(&out, ",\"detail\":");
		jw_str(&out, msg, strlen(msg));
		gw_buf_adds(&out, "}]}");
		break;
	case R_LOKI:
		/* Loki answers errors as plain text. */
		reply_set(rep, status, "text/plain; charset=utf-8");
		gw_buf_adds(&out, msg);
		gw_buf_addc(&out, '\n');
		break;
	case R_NTFY:
		error_ntfy(rep, status, ntfy_code(status), msg);
		break;
	case R_SLACK:
		/* Slack: a plain-text error word (§5.2). */
		reply_text(rep, status, "text/plain", msg);
		break;
	case R_PAGERDUTY:
		reply_set(rep, status, "application/json");
		if (status == 400)
			gw_buf_adds(&out,
			    "{\"status\":\"invalid event\","
			    "\"message\":\"Event object is "
			    "invalid\",\"errors\":[");
		else {
			gw_buf_adds(&out, "{\"status\":");
			jw_str(&out, reason, strlen(reason));
			gw_buf_adds(&out, ",\"message\":");
			jw_str(&out, msg, strlen(msg));
			gw_buf_adds(&out, ",\"errors\":[");
		}
		jw_str(&out, msg, strlen(msg));
		gw_buf_adds(&out, "]}");
		break;
	default:
		reply_set(rep, status, "application/json");
		gw_buf_adds(&out, "{\"error\":");
		jw_str(&out, msg, strlen(msg));
		gw_buf_addc(&out, '}');
		break;
	}
}

/* An error the client caused: one line on stderr, then the answer. */
static void
reject(struct request *r, struct reply *rep, int status, const char *msg)
{
	records_drop();
	gw_warn("%s %.*s: %d: %s", http_method_str(r->method), (int)r->path_len,
	    r->path, status, msg);
	intake_error(r->route, status, msg, rep);
}

static const char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static const char *
fmt(const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(msgbuf, sizeof(msgbuf), f, ap);
	va_end(ap);
	return msgbuf;
}

/*
 * Requests.
 */

/* The decoded body; never NULL, so that an empty one is "" of length 0. */
static const char *
body_of(const struct request *r)
{
	return r->body.data != NULL ? gw_buf_head(&r->body) : "";
}

/* Whether the media type of Content-Type (parameters ignored) is <t>. */
static bool
media_is(const struct request *r, const char *t)
{
	const char *v, *semi;
	size_t n;

	if ((v = req_header(r, "content-type", &n)) == NULL)
		return false;
	if ((semi = memchr(v, ';', n)) != NULL)
		n = (size_t)(semi - v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return n == strlen(t) && strncasecmp(v, t, n) == 0;
}

static bool
path_is(const struct request *r, const char *p)
{
	return r->path_len == strlen(p) && memcmp(r->path, p, r->path_len) == 0;
}

static bool
ntfy_root(const char *path, size_t len)
{
	return (len == 5 && memcmp(path, "/ntfy", 5) == 0) ||
	    (len == 6 && memcmp(path, "/ntfy/", 6) == 0);
}

size_t
intake_body_max(enum route route, const char *path, size_t path_len)
{
	switch (route) {
	case R_DATADOG:
		return DD_BODY_MAX;
	case R_PAGERDUTY:
		return PD_BODY_MAX;
	case R_NTFY:
		return ntfy_root(path, path_len) ? NTFY_JSON_MAX : BODY_MAX;
	case R_LOKI:
	case R_SLACK:
	case R_WEBHOOK:
		return BODY_MAX;
	default:
		return CONTROL_MAX;
	}
}

/*
 * Problems found while the body was read: a Content-Encoding the receiver
 * does not take, a body past the bound, a corrupt stream.  Returns true
 * when the request has been answered.
 */
static bool
body_problem(struct request *r, struct reply *rep)
{
	const struct decoder *d = &r->dec;
	int status;

	if (r->err_status != 0) {
		reject(r, rep, r->err_status, r->err_msg);
		return true;
	}
	switch (d->err) {
	case DEC_OK:
		return false;
	case DEC_BIG:
		status = 413;
		if (r->route == R_PAGERDUTY)
			status = 400; /* PagerDuty lists 400, not 413 */
		if (r->route == R_NTFY && ntfy_root(r->path, r->path_len)) {
			records_drop();
			error_ntfy(rep, 413, 41303,
			    "invalid request: JSON body too large");
			return true;
		}
		reject(r, rep, status,
		    fmt("payload too large: over %zu bytes decoded", d->max));
		return true;
	case DEC_BAD:
		reject(r, rep, 400, d->msg);
		return true;
	case DEC_MEM:
		reject(r, rep, 500, d->msg);
		return true;
	}
	return false;
}

/*
 * Datadog (§1.2-1.4): DD-API-KEY (missing 401, wrong 403), Content-Type
 * application/json (or text/plain and application/logplex-1, one log per
 * line), Content-Encoding identity, gzip, deflate or zstd, at most
 * 5,000,000 bytes decoded (413), a JSON array of at most 1000 objects or
 * one object (400, 413).  An entry over 1 MB is accepted (Datadog
 * truncates it): counted, recorded whole.  So is an entry whose
 * "timestamp" is more than 18 h old (Datadog drops it silently): counted
 * as "old", recorded.
 */

/* One entry (an object), noting a top-level integer "timestamp". */
static int
dd_entry(struct jv *j, int64_t *ts, bool *has_ts)
{
	size_t k, v, i;
	bool is_ts, neg;
	int64_t t;

	*has_ts = false;
	if (jv_take(j, '{') == -1)
		return jv_error(j, "expected an object");
	if (jv_take(j, '}') == 0)
		return 0;
	for (;;) {
		jv_ws(j);
		k = j->pos;
		if (jv_string(j) == -1)
			return jv_error(j, "expected a member name");
		is_ts = j->pos - k == 11 &&
		    memcmp(j->s + k, "\"timestamp\"", 11) == 0;
		if (jv_take(j, ':') == -1)
			return jv_error(j, "expected ':'");
		jv_ws(j);
		v = j->pos;
		if (jv_value(j, 1) == -1)
			return -1;
		if (is_ts && j->pos - v <= 20) {
			neg = j->s[v] == '-';
			t = 0;
			for (i = v + neg; i < j->pos && j->s[i] >= '0' &&
			     j->s[i] <= '9' && t < INT64_MAX / 10 - 9;
			     i++)
				t = t * 10 + (j->s[i] - '0');
			if (i == j->pos && i > v + neg) {
				*ts = neg ? -t : t;
				*has_ts = true;
			}
		}
		if (jv_take(j, '}') == 0)
			return 0;
		if (jv_take(j, ',') == -1)
			return jv_error(j, "expected ',' or '}'");
	}
}

static void
dd_json(struct request *r, struct reply *rep, size_t *nout, size_t *trunc,
    size_t *old)
{
	struct gw_buf *rb = &rec[REC_DATADOG].buf;
	const char *body = body_of(r);
	size_t len = r->body.len, n = 0, start;
	int64_t ts = 0, oldest = wall_ms() - DD_MAX_AGE_MS;
	char *base = NULL, *from;
	bool array, has_ts;
	struct jv j;
	int c;

	if (recording(REC_DATADOG)) {
		/* The compact copy is never longer than the body. */
		base = gw_buf_reserve(rb, len + DD_ENTRIES_MAX + 2);
		if (base == NULL) {
			reject(r, rep, 500, "out of memory");
			return;
		}
	}
	jv_init(&j, body, len, base);
	c = jv_peek(&j);
	if (c != '[' && c != '{') {
		reject(r, rep, 400,
		    "body must be a JSON array of objects, or one object");
		return;
	}
	array = c == '[';
	if (array) {
		j.pos++;
		if (jv_peek(&j) == ']') {
			j.pos++;
			goto end;
		}
	}
	for (;;) {
		if (jv_peek(&j) != '{') {
			if (j.pos >= len || j.err != NULL)
				goto bad;
			reject(r, rep, 400,
			    fmt("entry %zu is not a JSON object", n + 1));
			return;
		}
		if (++n > DD_ENTRIES_MAX) {
			reject(r, rep, 413,
			    fmt("more than %d entries in one request",
			        DD_ENTRIES_MAX));
			return;
		}
		from = j.out;
		start = j.pos;
		if (dd_entry(&j, &ts, &has_ts) == -1)
			goto bad;
		if ((from != NULL ? (size_t)(j.out - from) : j.pos - start) >
		    DD_ENTRY_MAX)
			(*trunc)++;
		if (has_ts && ts < oldest)
			(*old)++;
		if (j.out != NULL)
			*j.out++ = '\n';
		if (!array)
			break;
		c = jv_peek(&j);
		j.pos++;
		if (c == ']')
			break;
		if (c != ',') {
			j.pos--;
			jv_error(&j, "expected ',' or ']'");
			goto bad;
		}
	}
end:
	if (jv_peek(&j) != -1) {
		jv_error(&j, "data after the JSON body");
		goto bad;
	}
	if (base != NULL)
		gw_buf_commit(rb, (size_t)(j.out - base));
	*nout = n;
	return;
bad:
	if (j.err == NULL)
		jv_error(&j, "unexpected end of input");
	reject(
	    r, rep, 400, fmt("invalid JSON at byte %zu: %s", j.err_pos, j.err));
}

/* text/plain and application/logplex-1: one log per non-empty line. */
static void
dd_lines(struct request *r, struct reply *rep, size_t *nout, size_t *trunc)
{
	struct gw_buf *rb = &rec[REC_DATADOG].buf;
	const char *p = body_of(r), *end = p + r->body.len, *nl;
	size_t n = 0, len;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		if (++n > DD_ENTRIES_MAX) {
			reject(r, rep, 413,
			    fmt("more than %d entries in one request",
			        DD_ENTRIES_MAX));
			return;
		}
		if (len > DD_ENTRY_MAX)
			(*trunc)++;
		if (recording(REC_DATADOG) &&
		    (gw_buf_adds(rb, "{\"message\":") == -1 ||
		        jw_str(rb, p, len) == -1 ||
		        gw_buf_adds(rb, "}\n") == -1)) {
			reject(r, rep, 413, "record too large");
			return;
		}
	}
	*nout = n;
}

static void
dd_handle(struct request *r, struct reply *rep)
{
	size_t n = (size_t)-1, trunc = 0, old = 0, klen;
	const char *key;
	bool json;

	key = req_header(r, "dd-api-key", &klen);
	if (key == NULL || klen == 0) {
		reject(r, rep, 401, "API key is missing");
		return;
	}
	if (conf.api_key != NULL &&
	    (klen != strlen(conf.api_key) ||
	        memcmp(key, conf.api_key, klen) != 0)) {
		reject(r, rep, 403, "Forbidden: API key is invalid");
		return;
	}
	json = media_is(r, "application/json");
	if (!json && !media_is(r, "text/plain") &&
	    !media_is(r, "application/logplex-1")) {
		reject(r, rep, 400,
		    "Content-Type must be application/json, text/plain or "
		    "application/logplex-1");
		return;
	}
	if (body_problem(r, rep))
		return;
	if (r->body.len == 0) {
		reject(r, rep, 400, "empty payload");
		return;
	}
	if (json)
		dd_json(r, rep, &n, &trunc, &old);
	else
		dd_lines(r, rep, &n, &trunc);
	if (n == (size_t)-1)
		return; /* rejected */
	if (records_commit() == -1) {
		intake_error(
		    r->route, 500, "fake-intake: record write failed", rep);
		return;
	}
	stats.route[R_DATADOG].accepted += n;
	stats.dd_truncated += trunc;
	stats.dd_old += old;
	if (trunc > 0)
		gw_warn("POST /api/v2/logs: %zu entries over %d bytes "
		        "(Datadog truncates them)",
		    trunc, DD_ENTRY_MAX);
	reply_text(rep, 202, "application/json", "{}");
}

/*
 * Loki (§6.1, pkg/loghttp/push/push.go): Content-Type application/json
 * (anything else is read as snappy protobuf, which this fake does not
 * speak: 400), Content-Encoding gzip or deflate (raw), then
 * {"streams":[{"stream":{labels},"values":[["ns","line"(,{meta})]]}]}
 * with at least one label per stream, Prometheus label names, timestamps
 * as strings of digits, lines as strings, metadata as a flat object of
 * strings; timestamps older than the max age (7 d) or more than 10 min
 * ahead are refused (400) unless --loki-max-age 0.  Answers 204.
 */

static bool
label_name_ok(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	        s[0] == '_'))
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* A Loki timestamp: 1-19 digits, no more than INT64_MAX. */
static int
loki_ts(json_t *v, int64_t *tsp)
{
	const char *s;
	size_t n, i;
	uint64_t t = 0;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > 19)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		t = t * 10 + (uint64_t)(s[i] - '0');
	}
	if (t > INT64_MAX)
		return -1;
	*tsp = (int64_t)t;
	return 0;
}

/* Structured metadata: a flat object of strings. */
static bool
flat_strings(json_t *o)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return false;
	json_object_foreach(o, k, v)
	{
		if (!json_is_string(v))
			return false;
	}
	return true;
}

/* An array of strings, or NULL. */
static bool
string_array(json_t *a)
{
	size_t i;
	json_t *v;

	if (a == NULL)
		return true;
	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			return false;
	}
	return true;
}

static const char *
loki_stream(json_t *st, size_t si, size_t *nvals, struct gw_buf *rb)
{
	json_t *labels, *values, *e, *v, *meta;
	const char *k, *err = NULL;
	char *labjson = NULL, *metajson;
	int64_t ts, now_ns, oldest = INT64_MIN, newest = INT64_MAX;
	size_t i;

	if (!json_is_object(st))
		return fmt("streams[%zu] is not an object", si);
	labels = json_object_get(st, "stream");
	values = json_object_get(st, "values");
	if (!json_is_object(labels))
		return fmt(
		    "streams[%zu].stream must be an object of labels", si);
	if (json_object_size(labels) == 0)
		return "error at least one label pair is required per stream";
	json_object_foreach(labels, k, v)
	{
		if (!label_name_ok(k))
			return fmt("streams[%zu]: invalid label name \"%.64s\"",
			    si, k);
		if (!json_is_string(v))
			return fmt(
			    "streams[%zu]: label %.64s is not a string", si, k);
	}
	if (!json_is_array(values))
		return fmt("streams[%zu].values must be an array", si);
	if (conf.loki_max_age_s > 0) {
		now_ns = wall_ms() * 1000000;
		oldest = now_ns - conf.loki_max_age_s * 1000000000;
		newest = now_ns + LOKI_GRACE_NS;
	}
	if (rb != NULL &&
	    (labjson = json_dumps(labels, JSON_COMPACT | JSON_ENCODE_ANY)) ==
	        NULL)
		return "out of memory";
	json_array_foreach(values, i, e)
	{
		if (!json_is_array(e) ||
		    (json_array_size(e) != 2 && json_array_size(e) != 3)) {
			err = fmt("streams[%zu].values[%zu] must be "
			          "[ts, line] or [ts, line, metadata]",
			    si, i);
			break;
		}
		if (loki_ts(json_array_get(e, 0), &ts) == -1) {
			err = fmt("streams[%zu].values[%zu]: timestamp must be "
			          "a string of nanoseconds",
			    si, i);
			break;
		}
		if (ts < oldest || ts > newest) {
			err = fmt("entry for stream %s has timestamp too %s: "
			          "%lld",
			    labjson != NULL ? labjson : "",
			    ts < oldest ? "old" : "new", (long long)ts);
			break;
		}
		v = json_array_get(e, 1);
		if (!json_is_string(v)) {
			err = fmt("streams[%zu].values[%zu]: line must be a "
			          "string",
			    si, i);
			break;
		}
		meta = json_array_get(e, 2);
		if (meta != NULL && !flat_strings(meta)) {
			err =
			    fmt("streams[%zu].values[%zu]: structured metadata "
			        "must be an object of strings",
			        si, i);
			break;
		}
		(*nvals)++;
		if (rb == NULL)
			continue;
		if (gw_buf_adds(rb, "{\"stream\":") == -1 ||
		    gw_buf_adds(rb, labjson) == -1 ||
		    gw_buf_printf(rb,
		        ",\"ts\":\"%lld\",\"line\":", (long long)ts) == -1 ||
		    jw_str(rb, json_string_value(v), json_string_length(v)) ==
		        -1) {
			err = "record too large";
			break;
		}
		if (meta != NULL) {
			metajson = json_dumps(meta, JSON_COMPACT);
			if (metajson == NULL ||
			    gw_buf_adds(rb, ",\"metadata\":") == -1 ||
			    gw_buf_adds(rb, metajson) == -1)
				err = "record too large";
			free(metajson);
			if (err != NULL)
				break;
		}
		if (gw_buf_adds(rb, "}\n") == -1) {
			err = "record too large";
			break;
		}
	}
	free(labjson);
	return err;
}

static void
loki_handle(struct request *r, struct reply *rep)
{
	struct gw_buf *rb = recording(REC_LOKI) ? &rec[REC_LOKI].buf : NULL;
	json_t *root, *streams, *st;
	json_error_t je;
	const char *err = NULL;
	size_t i, n = 0;

	if (!media_is(r, "application/json")) {
		reject(r, rep, 400,
		    "fake-intake speaks Loki's JSON only: Content-Type must "
		    "be application/json");
		return;
	}
	if (body_problem(r, rep))
		return;
	root = json_loadb(body_of(r), r->body.len, JSON_ALLOW_NUL, &je);
	if (root == NULL) {
		reject(r, rep, 400,
		    fmt("loki: invalid JSON at byte %d: %s", je.position,
		        je.text));
		return;
	}
	streams = json_object_get(root, "streams");
	if (!json_is_object(root) || !json_is_array(streams)) {
		reject(r, rep, 400, "loki: body must be {\"streams\":[...]}");
		json_decref(root);
		return;
	}
	json_array_foreach(streams, i, st)
	{
		if ((err = loki_stream(st, i, &n, rb)) != NULL)
			break;
	}
	if (err != NULL) {
		reject(r, rep, 400, err);
		json_decref(root);
		return;
	}
	json_decref(root);
	if (records_commit() == -1) {
		intake_error(
		    r->route, 500, "fake-intake: record write failed", rep);
		return;
	}
	stats.route[R_LOKI].accepted += n;
	stats.loki_streams += i;
	reply_set(rep, 204, NULL);
}

/*
 * Notifications and webhooks: the request as it came, one line in the
 * hooks record: {"service","method","path","query","headers","body"}.
 * The body is the JSON value when it is JSON, an array of values for an
 * NDJSON body (Content-Type application/x-ndjson, every line JSON, and
 * then "ndjson":true), else a string.
 */

static bool
hdr_same(const struct request *r, size_t a, size_t b)
{
	return r->hdrs[a].name_len == r->hdrs[b].name_len &&
	    strncasecmp(r->hbuf + r->hdrs[a].name_off,
	        r->hbuf + r->hdrs[b].name_off, r->hdrs[a].name_len) == 0;
}

static void
hook_headers(const struct request *r, struct gw_buf *b)
{
	const struct hdr *h;
	size_t i, k, n, at;
	bool first = true, first_val, dup;
	char *p;

	gw_buf_addc(b, '{');
	for (i = 0; i < r->nhdr; i++) {
		dup = false;
		for (k = 0; k < i && !dup; k++)
			dup = hdr_same(r, i, k);
		if (dup)
			continue;
		if (!first)
			gw_buf_addc(b, ',');
		first = false;
		h = &r->hdrs[i];
		at = b->len;
		jw_str(b, r->hbuf + h->name_off, h->name_len);
		for (p = gw_buf_head(b) + at; p < gw_buf_head(b) + b->len; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + ('a' - 'A'));
		gw_buf_adds(b, ":\"");
		/* Repeats are joined with ", ", as a proxy may join them. */
		first_val = true;
		for (k = i; k < r->nhdr; k++) {
			if (!hdr_same(r, i, k))
				continue;
			if (!first_val)
				gw_buf_adds(b, ", ");
			first_val = false;
			n = r->hdrs[k].val_len;
			while (n > 0 &&
			    (r->hbuf[r->hdrs[k].val_off + n - 1] == ' ' ||
			        r->hbuf[r->hdrs[k].val_off + n - 1] == '\t'))
				n--;
			jw_raw(b, r->hbuf + r->hdrs[k].val_off, n);
		}
		gw_buf_addc(b, '"');
	}
	gw_buf_addc(b, '}');
}

/* Appends <s> as JSON compact (it must be valid JSON). */
static int
add_compact(struct gw_buf *b, const char *s, size_t n)
{
	struct jv j;
	char *base;

	if ((base = gw_buf_reserve(b, n)) == NULL)
		return -1;
	jv_init(&j, s, n, base);
	if (jv_value(&j, 0) == -1)
		return -1;
	gw_buf_commit(b, (size_t)(j.out - base));
	return 0;
}

/* The body as the hooks record shows it; returns the entries it holds. */
static size_t
hook_body(const struct request *r, struct gw_buf *b)
{
	const char *s = body_of(r), *p, *end, *nl;
	size_t n = r->body.len, lines = 0, at;

	if (media_is(r, "application/x-ndjson") ||
	    media_is(r, "application/ndjson") ||
	    media_is(r, "application/jsonl")) {
		at = b->len;
		gw_buf_addc(b, '[');
		for (p = s, end = s + n; p < end; p = nl + 1) {
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				nl = end;
			if (nl == p || (nl - p == 1 && *p == '\r'))
				continue;
			if (!jv_valid(p, (size_t)(nl - p)))
				break;
			if (lines++ > 0)
				gw_buf_addc(b, ',');
			add_compact(b, p, (size_t)(nl - p));
		}
		if (p >= end) {
			gw_buf_adds(b, "],\"ndjson\":true");
			return lines;
		}
		b->len = at;
	}
	if (n > 0 && jv_valid(s, n)) {
		add_compact(b, s, n);
		return 1;
	}
	jw_str(b, s, n);
	return 1;
}

/* Records the request in the hooks file; returns the entries counted. */
static size_t
hook_record(const struct request *r)
{
	struct gw_buf *b = &rec[REC_HOOKS].buf;
	const char *m = http_method_str(r->method);
	size_t n;

	if (!recording(REC_HOOKS)) {
		struct gw_buf tmp;

		gw_buf_init(&tmp, RECORD_MAX);
		n = hook_body(r, &tmp);
		gw_buf_fini(&tmp);
		return n;
	}
	gw_buf_adds(b, "{\"service\":");
	jw_str(b, service[r->route], strlen(service[r->route]));
	gw_buf_adds(b, ",\"method\":");
	jw_str(b, m, strlen(m));
	gw_buf_adds(b, ",\"path\":");
	jw_str(b, r->path, r->path_len);
	if (r->query_len > 0) {
		gw_buf_adds(b, ",\"query\":");
		jw_str(b, r->query, r->query_len);
	}
	gw_buf_adds(b, ",\"headers\":");
	hook_headers(r, b);
	gw_buf_adds(b, ",\"body\":");
	n = hook_body(r, b);
	gw_buf_adds(b, "}\n");
	return n;
}

/* Commits the hook record and counts it; false if the write failed. */
static bool
hook_accept(struct request *r, struct reply *rep)
{
	size_t n = hook_record(r);

	if (records_commit() == -1) {
		intake_error(
		    r->route, 500, "fake-intake: record write failed", rep);
		return false;
	}
	stats.route[r->route].accepted += n;
	return true;
}

/* jansson's view of the body, or NULL (then not JSON). */
static json_t *
body_json(const struct request *r)
{
	json_error_t je;

	return json_loadb(body_of(r), r->body.len, 0, &je);
}

/*
 * ntfy (§5.1).  POST|PUT /ntfy/TOPIC publishes the body (the message;
 * X-Title, X-Priority, X-Tags and X-Message headers and their aliases),
 * POST|PUT /ntfy/ takes the JSON form with a "topic".  The topic must
 * match ^[-_A-Za-z0-9]{1,64}$ (40009), the priority 1-5 or a name (40007),
 * a JSON body must parse (40017) and stay under 32 KiB (41303).  Answers
 * 200 with the message as ntfy stores it.
 */

static bool
topic_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		        s[i] == '_'))
			return false;
	return true;
}

/* util.ParsePriority: 0 for none, 1-5, or -1. */
static int
ntfy_priority(const char *v, size_t n)
{
	static const struct {
		const char *name;
		int prio;
	} names[] = {
		{ "1", 1 },
		{ "min", 1 },
		{ "2", 2 },
		{ "low", 2 },
		{ "3", 3 },
		{ "default", 3 },
		{ "4", 4 },
		{ "high", 4 },
		{ "5", 5 },
		{ "max", 5 },
		{ "urgent", 5 },
	};
	size_t i;

	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0)
		return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (n == strlen(names[i].name) &&
		    strncasecmp(v, names[i].name, n) == 0)
			return names[i].prio;
	return -1;
}

/* The first of several header aliases present. */
static const char *
header_any(const struct request *r, const char *const *names, size_t *n)
{
	const char *v;

	for (; *names != NULL; names++)
		if ((v = req_header(r, *names, n)) != NULL)
			return v;
	return NULL;
}

static void
ntfy_reply(struct reply *rep, const char *topic, size_t tlen, const char *msg,
    size_t mlen, const char *title, size_t titlen, int prio, json_t *tags,
    const char *tagstr, size_t taglen)
{
	static const char an[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char id[13];
	const char *p, *end, *comma;
	time_t now = time(NULL);
	size_t i;
	bool first = true;
	json_t *t;

	for (i = 0; i < 12; i++)
		id[i] = an[rand64() % (sizeof(an) - 1)];
	id[12] = '\0';
	reply_set(rep, 200, "application/json");
	gw_buf_printf(&out,
	    "{\"id\":\"%s\",\"time\":%lld,\"expires\":%lld,"
	    "\"event\":\"message\",\"topic\":",
	    id, (long long)now, (long long)now + NTFY_TTL_S);
	jw_str(&out, topic, tlen);
	if (title != NULL) {
		gw_buf_adds(&out, ",\"title\":");
		jw_str(&out, title, titlen);
	}
	gw_buf_adds(&out, ",\"message\":");
	if (mlen == 0)
		jw_str(&out, "triggered", 9);
	else
		jw_str(&out, msg, mlen);
	if (prio > 0)
		gw_buf_printf(&out, ",\"priority\":%d", prio);
	if (tags != NULL && json_array_size(tags) > 0) {
		gw_buf_adds(&out, ",\"tags\":[");
		json_array_foreach(tags, i, t)
		{
			if (i > 0)
				gw_buf_addc(&out, ',');
			jw_str(
			    &out, json_string_value(t), json_string_length(t));
		}
		gw_buf_addc(&out, ']');
	} else if (tagstr != NULL && taglen > 0) {
		gw_buf_adds(&out, ",\"tags\":[");
		for (p = tagstr, end = tagstr + taglen; p < end;
		     p = comma + 1) {
			if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
				comma = end;
			while (p < comma && *p == ' ')
				p++;
			if (!first)
				gw_buf_addc(&out, ',');
			first = false;
			jw_str(&out, p, (size_t)(comma - p));
		}
		gw_buf_addc(&out, ']');
	}
	gw_buf_adds(&out, "}\n");
}

static void
ntfy_json(struct request *r, struct reply *rep)
{
	json_t *root, *topic, *prio, *tags, *msg, *title;
	const char *bad = NULL;
	int code = 40000;

	root = body_json(r);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		records_drop();
		gw_warn("POST %.*s: 400: ntfy: body is not a JSON object",
		    (int)r->path_len, r->path);
		error_ntfy(rep, 400, 40017,
		    "invalid request: request body must be message JSON");
		return;
	}
	topic = json_object_get(root, "topic");
	prio = json_object_get(root, "priority");
	tags = json_object_get(root, "tags");
	msg = json_object_get(root, "message");
	title = json_object_get(root, "title");
	if (!json_is_string(topic) ||
	    !topic_ok(json_string_value(topic), json_string_length(topic))) {
		bad = "invalid request: topic invalid";
		code = 40009;
	} else if (prio != NULL &&
	    (!json_is_integer(prio) || json_integer_value(prio) < 1 ||
	        json_integer_value(prio) > 5)) {
		bad = "invalid priority";
		code = 40007;
	} else if ((msg != NULL && !json_is_string(msg)) ||
	    (title != NULL && !json_is_string(title)) || !string_array(tags))
		bad = "invalid request: message, title must be strings, tags "
		      "an array";
	if (bad != NULL) {
		records_drop();
		gw_warn(
		    "POST %.*s: 400: ntfy: %s", (int)r->path_len, r->path, bad);
		error_ntfy(rep, 400, code, bad);
		json_decref(root);
		return;
	}
	if (hook_accept(r, rep))
		ntfy_reply(rep, json_string_value(topic),
		    json_string_length(topic),
		    msg != NULL ? json_string_value(msg) : "",
		    msg != NULL ? json_string_length(msg) : 0,
		    title != NULL ? json_string_value(title) : NULL,
		    title != NULL ? json_string_length(title) : 0,
		    prio != NULL ? (int)json_integer_value(prio) : 0, tags,
		    NULL, 0);
	json_decref(root);
}

static void
ntfy_handle(struct request *r, struct reply *rep)
{
	static const char *const title_h[] = { "x-title", "title", "ti", "t",
		NULL };
	static const char *const prio_h[] = { "x-priority", "priority", "prio",
		"p", NULL };
	static const char *const tags_h[] = { "x-tags", "tags", "tag", "ta",
		NULL };
	static const char *const msg_h[] = { "x-message", "message", "m",
		NULL };
	const char *topic = r->path + 6, *title, *pv, *tags, *msg;
	size_t tlen, titlen = 0, pn, taglen = 0, mlen;
	int prio = 0;

	if (body_problem(r, rep))
		return;
	if (ntfy_root(r->path, r->path_len)) {
		ntfy_json(r, rep);
		return;
	}
	tlen = r->path_len - 6;
	if (!topic_ok(topic, tlen)) {
		records_drop();
		gw_warn("%s %.*s: 400: ntfy: topic invalid",
		    http_method_str(r->method), (int)r->path_len, r->path);
		error_ntfy(rep, 400, 40009, "invalid request: topic invalid");
		return;
	}
	if ((pv = header_any(r, prio_h, &pn)) != NULL &&
	    (prio = ntfy_priority(pv, pn)) == -1) {
		records_drop();
		gw_warn("%s %.*s: 400: ntfy: invalid priority",
		    http_method_str(r->method), (int)r->path_len, r->path);
		error_ntfy(rep, 400, 40007, "invalid priority");
		return;
	}
	title = header_any(r, title_h, &titlen);
	tags = header_any(r, tags_h, &taglen);
	if ((msg = header_any(r, msg_h, &mlen)) == NULL) {
		msg = body_of(r);
		mlen = r->body.len;
	}
	if (hook_accept(r, rep))
		ntfy_reply(rep, topic, tlen, msg, mlen, title, titlen, prio,
		    NULL, tags, taglen);
}

/*
 * Slack incoming webhook (§5.2): a JSON object with a non-empty "text"
 * string or a non-empty "blocks" array; 400 invalid_payload or no_text
 * otherwise; 200 "ok".
 */
static void
slack_handle(struct request *r, struct reply *rep)
{
	json_t *root, *text, *blocks;
	const char *bad = NULL;

	if (body_problem(r, rep))
		return;
	root = media_is(r, "application/json") ? body_json(r) : NULL;
	if (root == NULL || !json_is_object(root))
		bad = "invalid_payload";
	else {
		text = json_object_get(root, "text");
		blocks = json_object_get(root, "blocks");
		if ((text != NULL && !json_is_string(text)) ||
		    (blocks != NULL && !json_is_array(blocks)))
			bad = "invalid_payload";
		else if ((text == NULL || json_string_length(text) == 0) &&
		    (blocks == NULL || json_array_size(blocks) == 0))
			bad = "no_text";
	}
	json_decref(root);
	if (bad != NULL) {
		reject(r, rep, 400, bad);
		return;
	}
	if (hook_accept(r, rep))
		reply_text(rep, 200, "text/plain", "ok");
}

/*
 * PagerDuty Events API v2 (§5.3): routing_key (32 characters),
 * event_action trigger|acknowledge|resolve, dedup_key (at most 255; needed
 * to acknowledge or resolve), and for a trigger payload.summary (at most
 * 1024), payload.source and payload.severity critical|error|warning|info.
 * 202 {"status":"success","message":"Event processed","dedup_key":...};
 * 400 {"status":"invalid event",...} otherwise.
 */
static const char *
pd_check(json_t *root, bool *trigger)
{
	json_t *rk, *act, *dk, *pl, *sum, *src, *sev;
	const char *a, *s;

	if (!json_is_object(root))
		return "Event object is invalid";
	rk = json_object_get(root, "routing_key");
	act = json_object_get(root, "event_action");
	dk = json_object_get(root, "dedup_key");
	if (!json_is_string(rk) || json_string_length(rk) == 0)
		return "'routing_key' is missing or blank";
	if (json_string_length(rk) != 32)
		return "Length of 'routing_key' is incorrect (should be 32 "
		       "characters)";
	if (!json_is_string(act))
		return "'event_action' is missing or blank";
	a = json_string_value(act);
	if (strcmp(a, "trigger") != 0 && strcmp(a, "acknowledge") != 0 &&
	    strcmp(a, "resolve") != 0)
		return "'event_action' is invalid (must be trigger, "
		       "acknowledge or resolve)";
	if (dk != NULL && (!json_is_string(dk) || json_string_length(dk) > 255))
		return "'dedup_key' must be a string of at most 255 characters";
	*trigger = strcmp(a, "trigger") == 0;
	if (!*trigger) {
		if (dk == NULL || json_string_length(dk) == 0)
			return "'dedup_key' is required to acknowledge or "
			       "resolve";
		return NULL;
	}
	pl = json_object_get(root, "payload");
	if (!json_is_object(pl))
		return "'payload' is missing or not an object";
	sum = json_object_get(pl, "summary");
	src = json_object_get(pl, "source");
	sev = json_object_get(pl, "severity");
	if (!json_is_string(sum) || json_string_length(sum) == 0)
		return "'payload.summary' is missing or blank";
	if (json_string_length(sum) > 1024)
		return "'payload.summary' is longer than 1024 characters";
	if (!json_is_string(src) || json_string_length(src) == 0)
		return "'payload.source' is missing or blank";
	if (!json_is_string(sev))
		return "'payload.severity' is missing or blank";
	s = json_string_value(sev);
	if (strcmp(s, "critical") != 0 && strcmp(s, "error") != 0 &&
	    strcmp(s, "warning") != 0 && strcmp(s, "info") != 0)
		return "'payload.severity' is invalid (must be critical, "
		       "error, warning or info)";
	return NULL;
}

static void
pd_handle(struct request *r, struct reply *rep)
{
	json_t *root, *dk;
	const char *bad;
	char key[33];
	bool trigger = false;
	int i;

	if (body_problem(r, rep))
		return;
	if (!media_is(r, "application/json")) {
		reject(r, rep, 400, "Content-Type must be application/json");
		return;
	}
	if ((root = body_json(r)) == NULL) {
		reject(r, rep, 400, "Event object is invalid (not JSON)");
		return;
	}
	if ((bad = pd_check(root, &trigger)) != NULL) {
		reject(r, rep, 400, bad);
		json_decref(root);
		return;
	}
	if (!hook_accept(r, rep)) {
		json_decref(root);
		return;
	}
	reply_set(rep, 202, "application/json");
	gw_buf_adds(&out,
	    "{\"status\":\"success\",\"message\":\"Event "
	    "processed\",\"dedup_key\":");
	dk = json_object_get(root, "dedup_key");
	if (dk != NULL && json_string_length(dk) > 0)
		jw_str(&out, json_string_value(dk), json_string_length(dk));
	else {
		/* A trigger without a key gets one, returned here. */
		for (i = 0; i < 32; i++)
			key[i] = "0123456789abcdef"[rand64() & 0xf];
		key[32] = '\0';
		jw_str(&out, key, 32);
	}
	gw_buf_adds(&out, "}");
	json_decref(root);
}

static void
webhook_handle(struct request *r, struct reply *rep)
{
	if (body_problem(r, rep))
		return;
	if (hook_accept(r, rep))
		reply_text(rep, 200, "application/json", "{\"ok\":true}");
}

/* POST /_control applies a rule; GET lists them. */
static void
control_handle(struct request *r, struct reply *rep)
{
	char err[256];

	if (r->method == HTTP_POST) {
		if (body_problem(r, rep))
			return;
		if (control_apply(body_of(r), r->body.len, r->now, err,
		        sizeof(err)) == -1) {
			reject(r, rep, 400, err);
			return;
		}
		reply_set(rep, 200, "application/json");
		gw_buf_adds(&out, "{\"ok\":true,\"rules\":");
	} else {
		reply_set(rep, 200, "application/json");
		gw_buf_adds(&out, "{\"rules\":");
	}
	control_rules_json(&out, r->now);
	gw_buf_adds(&out, "}\n");
}

void
intake_handle(struct request *r, struct reply *rep)
{
	records_drop();
	switch (r->route) {
	case R_DATADOG:
		dd_handle(r, rep);
		break;
	case R_LOKI:
		loki_handle(r, rep);
		break;
	case R_NTFY:
		ntfy_handle(r, rep);
		break;
	case R_SLACK:
		slack_handle(r, rep);
		break;
	case R_PAGERDUTY:
		pd_handle(r, rep);
		break;
	case R_WEBHOOK:
		webhook_handle(r, rep);
		break;
	case R_CONTROL:
		control_handle(r, rep);
		break;
	case R_STATS:
		reply_set(rep, 200, "application/json");
		stats_json(&out);
		gw_buf_addc(&out, '\n');
		break;
	case R_BAD_METHOD:
		intake_error(r->route, 405, "method not allowed", rep);
		rep->allow = path_is(r, "/_stats") ? "GET, HEAD"
		    : path_is(r, "/_control")      ? "GET, POST"
		                                   : "POST";
		break;
	case R_BAD_URL:
		reject(r, rep, 400, "bad request target");
		break;
	case R_NONE:
	case R_NOT_FOUND:
	case R_COUNT:
		intake_error(r->route, 404, "not found", rep);
		break;
	}
}
