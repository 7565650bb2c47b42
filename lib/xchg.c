// SPDX-License-Identifier: MIT
/*
 * Reading an exchange out of an event, and printing captured bytes
 * safely; see xchg.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "timeutil.h"
#include "xchg.h"

json_t *
gw_json_path(json_t *root, const char *path)
{
	const char *p = path, *dot;
	char key[128];
	size_t n;

	while (root != NULL && *p != '\0') {
		dot = strchr(p, '.');
		n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		root = json_object_get(root, key);
		p += n + (dot != NULL);
	}
	return root;
}

static const char *
str(json_t *o, const char *path)
{
	return json_string_value(gw_json_path(o, path));
}

static int64_t
num(json_t *o, const char *path, int64_t dflt)
{
	json_t *v = gw_json_path(o, path);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static int64_t
ts(json_t *o, const char *path)
{
	const char *s = str(o, path);
	uint64_t ns;

	if (s == NULL || gw_parse_rfc3339(s, &ns) == -1)
		return -1;
	return (int64_t)ns;
}

static int
side(struct gw_xside *sd, json_t *o)
{
	json_t *h, *vals, *v;
	const char *name, *enc, *body;
	size_t i, n = 0, len;

	sd->body_length = num(o, "body_length", -1);
	h = json_object_get(o, "headers");
	if (json_is_object(h)) {
		sd->has_headers = 1;
		sd->headers_truncated =
		    json_is_true(json_object_get(o, "headers_truncated"));
		json_object_foreach(h, name, vals) n +=
		    json_is_array(vals) ? json_array_size(vals) : 1;
		if (n > 0 && (sd->hdrs = calloc(n, sizeof(*sd->hdrs))) == NULL)
			return -1;
		json_object_foreach(h, name, vals)
		{
			if (json_is_string(vals)) {
				sd->hdrs[sd->nhdrs].name = name;
				sd->hdrs[sd->nhdrs++].value =
				    json_string_value(vals);
				continue;
			}
			json_array_foreach(vals, i, v)
			{
				if (!json_is_string(v))
					continue;
				sd->hdrs[sd->nhdrs].name = name;
				sd->hdrs[sd->nhdrs++].value =
				    json_string_value(v);
			}
		}
		for (i = 0; i < sd->nhdrs; i++)
			if (strcmp(sd->hdrs[i].value, GW_REDACTED) == 0) {
				sd->hdrs[i].redacted = 1;
				sd->nredacted++;
			}
	}
	body = json_string_value(json_object_get(o, "body"));
	if (body == NULL)
		return 0;
	sd->has_body = 1;
	sd->body_truncated = json_is_true(json_object_get(o, "body_truncated"));
	enc = json_string_value(json_object_get(o, "body_encoding"));
	len = json_string_length(json_object_get(o, "body"));
	if (enc != NULL && strcmp(enc, "base64") == 0) {
		if ((sd->body = malloc(GW_BASE64_DECODED_MAX(len) + 1)) == NULL)
			return -1;
		if (gw_base64_decode(body, len, sd->body, &sd->body_len, 0) ==
		    -1)
			return -1;
		sd->body[sd->body_len] = '\0';
		return 0;
	}
	sd->body_text = 1;
	if ((sd->body = malloc(len + 1)) == NULL)
		return -1;
	memcpy(sd->body, body, len);
	sd->body[len] = '\0';
	sd->body_len = len;
	return 0;
}

int
gw_xchg_from_json(struct gw_xchg *x, json_t *ev)
{
	json_t *o = json_object_get(ev, "object");
	json_t *rq, *rs;
	const char *type = str(ev, "event_type");

	memset(x, 0, sizeof(*x));
	x->req.body_length = x->res.body_length = -1;
	if (type == NULL || strcmp(type, "http_request_complete.v0") != 0 ||
	    !json_is_object(o)) {
		errno = EINVAL;
		return -1;
	}
	rq = gw_json_path(o, "http.request");
	rs = gw_json_path(o, "http.response");
	x->id = str(ev, "event_id");
	x->timestamp = str(ev, "event_timestamp");
	x->method = str(rq, "method");
	x->version = str(rq, "version");
	x->url_raw = str(rq, "url.raw");
	x->scheme = str(rq, "url.scheme");
	x->host = str(rq, "url.host");
	x->path = str(rq, "url.path");
	x->query = str(rq, "url.query");
	x->client_ip = str(o, "conn.client_ip");
	x->client_port = num(o, "conn.client_port", -1);
	x->server_name = str(o, "conn.server_name");
	x->server_ip = str(o, "conn.server_ip");
	x->server_port = num(o, "conn.server_port", -1);
	x->backend_url = str(o, "backend.url");
	x->replay_of = str(o, "replay_of");
	x->error_code = str(o, "error.code");
	x->error_message = str(o, "error.message");
	x->status = (int)num(rs, "status_code", 0);
	x->duration_ns = num(o, "duration_ns", -1);
	x->req_first_ns = ts(rq, "first_byte_ts");
	x->req_last_ns = ts(rq, "last_byte_ts");
	x->res_first_ns = ts(rs, "first_byte_ts");
	x->res_last_ns = ts(rs, "last_byte_ts");
	if (x->method == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (json_is_object(rq) && side(&x->req, rq) == -1)
		return -1;
	if (json_is_object(rs) && side(&x->res, rs) == -1)
		return -1;
	return 0;
}

void
gw_xchg_fini(struct gw_xchg *x)
{
	if (x == NULL)
		return;
	free(x->req.hdrs);
	free(x->req.body);
	free(x->res.hdrs);
	free(x->res.body);
	memset(x, 0, sizeof(*x));
}

const char *
gw_xchg_header(const struct gw_xside *sd, const char *name)
{
	size_t i;

	for (i = 0; i < sd->nhdrs; i++)
		if (strcasecmp(sd->hdrs[i].name, name) == 0)
			return sd->hdrs[i].value;
	return NULL;
}

void
gw_put_safe(FILE *f, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\t' || p[i] >= 0x20) {
			if (p[i] == 0x7f)
				fputs("\\x7f", f);
			else
				fputc(p[i], f);
		} else if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
			continue;
		else
			fprintf(f, "\\x%02x", p[i]);
	}
}
