// SPDX-License-Identifier: MIT
/*
 * Event builders (see event.h and docs/PROTOCOL.md): the envelope,
 * http_request_complete.v0, tcp_connection_closed.v0 and the audit events,
 * written straight into a gw_buf with the json.c writer.  The HTTP builder
 * runs once per request on the proxy's hot path, so it allocates nothing
 * (header grouping uses a fixed array on the stack), formats numbers
 * without printf and writes fields in a fixed order.  Every builder either
 * appends a whole event or leaves the buffer as it was.
 */
#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "json.h"
#include "timeutil.h"

/* Appends a string literal; the length is known at compile time. */
#define ADDL(b, lit) gw_json_raw((b), (lit), sizeof(lit) - 1)

/*
 * Headers whose names fit here are grouped with a hash per name and a
 * "done" mark; past it the builder falls back to comparing names, which
 * is quadratic but still fast for the few hundred a request can carry.
 */
#define HDR_STACK 128

static const char *const redact_names[] = {
	"Authorization",
	"Proxy-Authorization",
	"Cookie",
	"Set-Cookie",
	"X-Api-Key",
};

const struct gw_redact gw_redact_default = {
	redact_names,
	sizeof(redact_names) / sizeof(redact_names[0]),
};

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive equality for ASCII only: header names are not text. */
static int
ascii_caseeq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) !=
		    ascii_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

void
gw_header_canon(const char *name, size_t len, char *out)
{
	size_t i;
	int up = 1, c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)name[i];
		if (up && c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		else if (!up)
			c = ascii_lower(c);
		out[i] = (char)c;
		up = c == '-';
	}
}

/*
 * Compares a NUL-terminated list entry with a counted name without
 * strlen(3): this runs for every header of every event.
 */
static int
redact_eq(const char *entry, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (entry[i] == '\0' ||
		    ascii_lower((unsigned char)entry[i]) !=
		        ascii_lower((unsigned char)name[i]))
			return 0;
	return entry[len] == '\0';
}

int
gw_redact_match(const struct gw_redact *r, const char *name, size_t len)
{
	size_t i;

	if (r == NULL || r->names == NULL)
		return 0;
	for (i = 0; i < r->n; i++)
		if (redact_eq(r->names[i], name, len))
			return 1;
	return 0;
}

/*
 * "user@host" for the audit principal, looked up once: the user behind
 * a change does not change while a process runs, and getpwuid(3) may go
 * to the network.
 */
static const char *
principal_subject(void)
{
	static char subject[512];
	char host[256], uid[24];
	struct passwd *pw;
	const char *user;

	if (subject[0] != '\0')
		return subject;
	if ((pw = getpwuid(geteuid())) != NULL && pw->pw_name != NULL)
		user = pw->pw_name;
	else {
		snprintf(uid, sizeof(uid), "%lu", (unsigned long)geteuid());
		user = uid;
	}
	if (gethostname(host, sizeof(host)) == -1)
		memcpy(host, "localhost", sizeof("localhost"));
	host[sizeof(host) - 1] = '\0';
	snprintf(subject, sizeof(subject), "%s@%s", user, host);
	return subject;
}

/*
 * Appends {"event_id":…,"event_type":…,"event_timestamp":…,"principal":
 * and copies the new id to <id> when not NULL.  The caller restores the
 * buffer on failure.
 */
static int
envelope_open(struct gw_buf *b, const char *type, uint64_t ts_ns, char *id)
{
	char evid[GW_EVID_LEN + 1];

	if (ts_ns == 0)
		ts_ns = gw_now_ns();
	gw_evid_new(ts_ns, evid);
	if (ADDL(b, "{\"event_id\":\"") == -1 ||
	    gw_json_raw(b, evid, GW_EVID_LEN) == -1 ||
	    ADDL(b, "\",\"event_type\":") == -1 ||
	    gw_json_cstr(b, type) == -1 ||
	    ADDL(b, ",\"event_timestamp\":") == -1 ||
	    gw_json_ts(b, ts_ns) == -1 || ADDL(b, ",\"principal\":") == -1)
		return -1;
	if (id != NULL)
		memcpy(id, evid, sizeof(evid));
	return 0;
}

int
gw_event_open(struct gw_buf *b, const char *type, uint64_t ts_ns,
    const char *principal_json, char id[GW_EVID_LEN + 1])
{
	size_t mark = b->len;

	if (envelope_open(b, type, ts_ns, id) == -1 ||
	    gw_buf_adds(b, principal_json ? principal_json : "null") == -1 ||
	    ADDL(b, ",\"object\":") == -1) {
		b->len = mark;
		return -1;
	}
	return 0;
}

int
gw_event_close(struct gw_buf *b)
{
	return ADDL(b, "}");
}

static int
put_str(struct gw_buf *b, const struct gw_str *s)
{
	return gw_json_str(
	    b, s->p != NULL ? s->p : "", s->p != NULL ? s->n : 0);
}

static int
put_ip(struct gw_buf *b, const char *ip)
{
	return gw_json_str(b, ip, strnlen(ip, GW_IPSTRLEN));
}

/* Appends "conn":{…}; <closed> adds the tcp_connection_closed fields. */
static int
put_conn(struct gw_buf *b, const struct gw_conn_info *c, int closed)
{
	static const struct gw_conn_info none;

	if (c == NULL)
		c = &none;
	if (ADDL(b, "\"conn\":{\"client_ip\":") == -1 ||
	    put_ip(b, c->client_ip) == -1 ||
	    ADDL(b, ",\"client_port\":") == -1 ||
	    gw_json_i64(b, c->client_port) == -1 ||
	    ADDL(b, ",\"server_ip\":") == -1 || put_ip(b, c->server_ip) == -1 ||
	    ADDL(b, ",\"server_name\":") == -1 ||
	    put_str(b, &c->server_name) == -1 ||
	    ADDL(b, ",\"server_port\":") == -1 ||
	    gw_json_i64(b, c->server_port) == -1 ||
	    ADDL(b, ",\"start_ts\":") == -1 || gw_json_ts(b, c->start_ns) == -1)
		return -1;
	if (closed &&
	    (ADDL(b, ",\"end_ts\":") == -1 || gw_json_ts(b, c->end_ns) == -1 ||
	        ADDL(b, ",\"bytes_in\":") == -1 ||
	        gw_json_u64(b, c->bytes_in) == -1 ||
	        ADDL(b, ",\"bytes_out\":") == -1 ||
	        gw_json_u64(b, c->bytes_out) == -1))
		return -1;
	return ADDL(b, "}");
}

/* FNV-1a over the lower-cased name. */
static uint32_t
name_hash(const struct gw_str *s)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < s->n; i++) {
		h ^= (uint32_t)ascii_lower((unsigned char)s->p[i]);
		h *= 16777619u;
	}
	return h;
}

static int
same_name(const struct gw_hdr *a, const struct gw_hdr *b)
{
	return a->name.n == b->name.n &&
	    ascii_caseeq(a->name.p, b->name.p, a->name.n);
}

/* For headers past HDR_STACK: was this name already written? */
static int
seen_before(const struct gw_hdr *h, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (same_name(&h[j], &h[i]))
			return 1;
	return 0;
}

/* Appends "Canonical-Name": from the name as received. */
static int
put_header_name(struct gw_buf *b, const struct gw_str *name)
{
	size_t mark = b->len, start;
	char *p;

	if (ADDL(b, "\"") == -1)
		return -1;
	start = b->len;
	if (gw_json_escape(b, name->p, name->n) == -1 || ADDL(b, "\":") == -1) {
		b->len = mark;
		return -1;
	}
	/*
	 * Canonicalise the escaped text in place rather than copying the
	 * name first: canonicalisation only changes ASCII letters, which are
	 * never escaped, and the letters inside an escape ("\n", "\u001f")
	 * are lower case and never follow a '-', so they stay as they are.
	 */
	p = gw_buf_head(b);
	gw_header_canon(p + start, b->len - 2 - start, p + start);
	return 0;
}

static int
put_header_value(struct gw_buf *b, const struct gw_str *v, int redacted,
    size_t limit, int *truncated)
{
	size_t n;

	if (redacted)
		return ADDL(b, "\"[REDACTED]\"");
	n = gw_utf8_cut(v->p, v->n, limit);
	if (n < v->n)
		*truncated = 1;
	return gw_json_str(b, v->p, n);
}

/*
 * Appends {"Name":["v1","v2"],…}: one key per name, compared without
 * case, in order of first appearance, values in order of arrival.
 */
static int
put_headers(struct gw_buf *b, const struct gw_hdr *h, size_t n,
    const struct gw_redact *r, size_t limit, int *truncated)
{
	uint32_t hash[HDR_STACK];
	unsigned char done[HDR_STACK];
	size_t i, j, m = n < HDR_STACK ? n : HDR_STACK;
	int first = 1, redacted;

	for (i = 0; i < m; i++) {
		hash[i] = name_hash(&h[i].name);
		done[i] = 0;
	}
	if (ADDL(b, "{") == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (i < HDR_STACK ? done[i] : seen_before(h, i))
			continue;
		if ((!first && ADDL(b, ",") == -1) ||
		    put_header_name(b, &h[i].name) == -1 || ADDL(b, "[") == -1)
			return -1;
		first = 0;
		redacted = gw_redact_match(r, h[i].name.p, h[i].name.n);
		if (put_header_value(
		        b, &h[i].value, redacted, limit, truncated) == -1)
			return -1;
		for (j = i + 1; j < n; j++) {
			if (j < HDR_STACK && (done[j] || hash[j] != hash[i]))
				continue;
			if (!same_name(&h[i], &h[j]))
				continue;
			if (j < HDR_STACK)
				done[j] = 1;
			if (ADDL(b, ",") == -1 ||
			    put_header_value(b, &h[j].value, redacted, limit,
			        truncated) == -1)
				return -1;
		}
		if (ADDL(b, "]") == -1)
			return -1;
	}
	return ADDL(b, "}");
}

/*
 * A body cut at the capture limit may end inside a UTF-8 sequence; drop
 * that partial sequence so a text body stays text instead of turning the
 * whole capture into base64 for want of one to three bytes.
 */
static size_t
trim_partial_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, need;

	for (i = n; i > 0 && n - i < 4; i--) {
		if ((p[i - 1] & 0xc0) == 0x80)
			continue;
		if (p[i - 1] >= 0xf0)
			need = 4;
		else if (p[i - 1] >= 0xe0)
			need = 3;
		else if (p[i - 1] >= 0xc0)
			need = 2;
		else
			return n;
		return n - (i - 1) < need ? i - 1 : n;
	}
	return n;
}

static int
put_body(struct gw_buf *b, const struct gw_body *body)
{
	const char *p = body->data.p != NULL ? body->data.p : "";
	size_t n = body->data.p != NULL ? body->data.n : 0, text_n;

	text_n = body->truncated ? trim_partial_utf8(p, n) : n;
	if (ADDL(b, ",\"body\":") == -1)
		return -1;
	if (gw_utf8_valid(p, text_n)) {
		if (gw_json_str(b, p, text_n) == -1 ||
		    ADDL(b, ",\"body_encoding\":\"text\"") == -1)
			return -1;
	} else if (gw_json_base64(b, p, n) == -1 ||
	    ADDL(b, ",\"body_encoding\":\"base64\"") == -1)
		return -1;
	if (ADDL(b, ",\"body_truncated\":") == -1)
		return -1;
	return gw_json_bool(b, body->truncated);
}

/* The tail both sides share: lengths, timestamps, body. */
static int
put_body_meta(struct gw_buf *b, uint64_t length, uint64_t first_ns,
    uint64_t last_ns, const struct gw_body *body)
{
	if (ADDL(b, ",\"body_length\":") == -1 ||
	    gw_json_u64(b, length) == -1 ||
	    ADDL(b, ",\"first_byte_ts\":") == -1 ||
	    gw_json_ts(b, first_ns) == -1 ||
	    ADDL(b, ",\"last_byte_ts\":") == -1 || gw_json_ts(b, last_ns) == -1)
		return -1;
	if (body != NULL && put_body(b, body) == -1)
		return -1;
	return 0;
}

/*
 * Writes "raw": scheme://authority path[?query] as one escaped string; the
 * authority keeps its port, "host" does not.
 */
static int
put_url(struct gw_buf *b, const struct gw_exchange *x)
{
	const struct gw_str *auth =
	    x->authority.n > 0 ? &x->authority : &x->host;

	if (ADDL(b, "\"url\":{\"raw\":\"") == -1)
		return -1;
	if (auth->n > 0 &&
	    (gw_json_escape(b, x->scheme.p, x->scheme.n) == -1 ||
	        ADDL(b, "://") == -1 ||
	        gw_json_escape(b, auth->p, auth->n) == -1))
		return -1;
	if (gw_json_escape(b, x->path.p, x->path.n) == -1)
		return -1;
	if (x->query.n > 0 &&
	    (ADDL(b, "?") == -1 ||
	        gw_json_escape(b, x->query.p, x->query.n) == -1))
		return -1;
	if (ADDL(b, "\",\"scheme\":") == -1 || put_str(b, &x->scheme) == -1 ||
	    ADDL(b, ",\"host\":") == -1 || put_str(b, &x->host) == -1 ||
	    ADDL(b, ",\"path\":") == -1 || put_str(b, &x->path) == -1 ||
	    ADDL(b, ",\"query\":") == -1 || put_str(b, &x->query) == -1)
		return -1;
	return ADDL(b, "}");
}

static int
put_request(struct gw_buf *b, const struct gw_exchange *x, size_t limit)
{
	int truncated = 0;

	if (ADDL(b, "\"request\":{\"method\":") == -1 ||
	    put_str(b, &x->method) == -1 || ADDL(b, ",\"version\":") == -1 ||
	    put_str(b, &x->version) == -1 || ADDL(b, ",") == -1 ||
	    put_url(b, x) == -1)
		return -1;
	if (x->req_headers != NULL &&
	    (ADDL(b, ",\"headers\":") == -1 ||
	        put_headers(b, x->req_headers, x->n_req_headers, x->redact,
	            limit, &truncated) == -1))
		return -1;
	if (ADDL(b, ",\"user_agent\":") == -1 ||
	    put_str(b, &x->user_agent) == -1 ||
	    put_body_meta(b, x->req_body_length, x->req_first_ns,
	        x->req_last_ns, x->req_body) == -1)
		return -1;
	if (x->req_headers != NULL &&
	    (ADDL(b, ",\"headers_truncated\":") == -1 ||
	        gw_json_bool(b, truncated) == -1))
		return -1;
	return ADDL(b, "}");
}

static int
put_response(struct gw_buf *b, const struct gw_exchange *x, size_t limit)
{
	int truncated = 0;

	if (ADDL(b, ",\"response\":{\"status_code\":") == -1 ||
	    gw_json_i64(b, x->status) == -1)
		return -1;
	if (x->res_headers != NULL &&
	    (ADDL(b, ",\"headers\":") == -1 ||
	        put_headers(b, x->res_headers, x->n_res_headers, x->redact,
	            limit, &truncated) == -1))
		return -1;
	if (put_body_meta(b, x->res_body_length, x->res_first_ns,
	        x->res_last_ns, x->res_body) == -1)
		return -1;
	if (x->res_headers != NULL &&
	    (ADDL(b, ",\"headers_truncated\":") == -1 ||
	        gw_json_bool(b, truncated) == -1))
		return -1;
	return ADDL(b, "}");
}

static int
put_backend(struct gw_buf *b, const struct gw_exchange *x)
{
	if (ADDL(b, ",\"backend\":{\"connection_reused\":") == -1 ||
	    gw_json_bool(b, x->connection_reused) == -1 ||
	    ADDL(b, ",\"url\":") == -1 || put_str(b, &x->backend_url) == -1 ||
	    ADDL(b, ",\"connect_ns\":") == -1 ||
	    gw_json_u64(b, x->connect_ns) == -1 ||
	    ADDL(b, ",\"response_ns\":") == -1 ||
	    gw_json_u64(b, x->response_ns) == -1)
		return -1;
	return ADDL(b, "}");
}

int
gw_event_http_complete(struct gw_buf *b, const struct gw_exchange *x,
    uint64_t ts_ns, char id[GW_EVID_LEN + 1])
{
	size_t mark = b->len, limit;

	limit = x->header_value_limit ? x->header_value_limit
	                              : GW_HEADER_VALUE_LIMIT;
	if (envelope_open(b, GW_EV_HTTP_COMPLETE, ts_ns, id) == -1 ||
	    ADDL(b, "null,\"object\":{") == -1 ||
	    put_conn(b, x->conn, 0) == -1 || ADDL(b, ",\"http\":{") == -1 ||
	    put_request(b, x, limit) == -1)
		goto fail;
	if (x->status != 0 && put_response(b, x, limit) == -1)
		goto fail;
	if (ADDL(b, "}") == -1)
		goto fail;
	if (x->has_backend && put_backend(b, x) == -1)
		goto fail;
	if (x->tls_version != NULL &&
	    (ADDL(b, ",\"tls\":{\"version\":") == -1 ||
	        gw_json_cstr(b, x->tls_version) == -1 ||
	        ADDL(b, ",\"cipher_suite\":") == -1 ||
	        gw_json_cstr(b, x->tls_cipher) == -1 || ADDL(b, "}") == -1))
		goto fail;
	if (ADDL(b, ",\"duration_ns\":") == -1 ||
	    gw_json_u64(b, x->duration_ns) == -1)
		goto fail;
	if (x->error_code != NULL &&
	    (ADDL(b, ",\"error\":{\"code\":") == -1 ||
	        gw_json_cstr(b, x->error_code) == -1 ||
	        ADDL(b, ",\"message\":") == -1 ||
	        gw_json_cstr(b, x->error_message) == -1 || ADDL(b, "}") == -1))
		goto fail;
	if (x->replay_of.n > 0 &&
	    (ADDL(b, ",\"replay_of\":") == -1 ||
	        put_str(b, &x->replay_of) == -1))
		goto fail;
	if (x->extra.n > 0 &&
	    (ADDL(b, ",") == -1 || gw_buf_add(b, x->extra.p, x->extra.n) == -1))
		goto fail;
	if (ADDL(b, "}}") == -1)
		goto fail;
	return 0;
fail:
	b->len = mark;
	return -1;
}

int
gw_event_tcp_closed(
    struct gw_buf *b, const struct gw_conn_info *c, uint64_t ts_ns)
{
	size_t mark = b->len;

	if (envelope_open(b, GW_EV_TCP_CLOSED, ts_ns, NULL) == -1 ||
	    ADDL(b, "null,\"object\":{") == -1 || put_conn(b, c, 1) == -1 ||
	    (c->extra.n > 0 &&
	        (ADDL(b, ",") == -1 ||
	            gw_buf_add(b, c->extra.p, c->extra.n) == -1)) ||
	    ADDL(b, "}}") == -1) {
		b->len = mark;
		return -1;
	}
	return 0;
}

int
gw_event_audit(struct gw_buf *b, const char *type, const char *source,
    const char *object_json, uint64_t ts_ns)
{
	size_t mark = b->len;

	if (envelope_open(b, type, ts_ns, NULL) == -1 ||
	    ADDL(b, "{\"source\":") == -1 || gw_json_cstr(b, source) == -1 ||
	    ADDL(b, ",\"subject\":") == -1 ||
	    gw_json_cstr(b, principal_subject()) == -1 ||
	    ADDL(b, "},\"object\":") == -1 ||
	    gw_buf_adds(b, object_json ? object_json : "{}") == -1 ||
	    ADDL(b, "}") == -1) {
		b->len = mark;
		return -1;
	}
	return 0;
}

int
gw_event_policy_request(struct gw_buf *b, uint64_t id, const char *phase,
    const struct gw_exchange *x)
{
	size_t mark = b->len;
	int truncated = 0;

	if (ADDL(b, "{\"id\":") == -1 || gw_json_u64(b, id) == -1 ||
	    ADDL(b, ",\"phase\":") == -1 || gw_json_cstr(b, phase) == -1 ||
	    ADDL(b, ",") == -1 || put_conn(b, x->conn, 0) == -1)
		goto fail;
	/* put_conn() closed the object: reopen it for "tls". */
	b->len--;
	if (x->tls_version == NULL) {
		if (ADDL(b, ",\"tls\":null}") == -1)
			goto fail;
	} else if (ADDL(b, ",\"tls\":{\"version\":") == -1 ||
	    gw_json_cstr(b, x->tls_version) == -1 ||
	    ADDL(b, ",\"cipher_suite\":") == -1 ||
	    gw_json_cstr(b, x->tls_cipher) == -1 || ADDL(b, "}}") == -1)
		goto fail;
	if (x->method.n > 0 &&
	    (ADDL(b, ",\"req\":{\"method\":") == -1 ||
	        put_str(b, &x->method) == -1 ||
	        ADDL(b, ",\"version\":") == -1 ||
	        put_str(b, &x->version) == -1 || ADDL(b, ",") == -1 ||
	        put_url(b, x) == -1 || ADDL(b, ",\"headers\":") == -1 ||
	        put_headers(b, x->req_headers, x->n_req_headers, NULL, SIZE_MAX,
	            &truncated) == -1 ||
	        ADDL(b, ",\"user_agent\":") == -1 ||
	        put_str(b, &x->user_agent) == -1 || ADDL(b, "}") == -1))
		goto fail;
	if (x->status != 0 &&
	    (ADDL(b, ",\"res\":{\"status_code\":") == -1 ||
	        gw_json_i64(b, x->status) == -1 ||
	        ADDL(b, ",\"headers\":") == -1 ||
	        put_headers(b, x->res_headers, x->n_res_headers, NULL, SIZE_MAX,
	            &truncated) == -1 ||
	        ADDL(b, "}") == -1))
		goto fail;
	if (ADDL(b, "}") == -1)
		goto fail;
	return 0;
fail:
	b->len = mark;
	return -1;
}
