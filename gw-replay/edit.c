// SPDX-License-Identifier: MIT
/*
 * The edits a user asks for on the command line (--target, -X, --path,
 * -H, --header-file, --remove-header, --set-query, --remove-query,
 * --data): parsed and checked once here, before anything is sent, so that
 * a typo is a usage error and not a hundred failed replays.  plan.c
 * applies them to each request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "gw-replay.h"
#include "http.h"
#include "opts.h"

void
edit_init(struct edits *e)
{
	memset(e, 0, sizeof(*e));
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
edit_fini(struct edits *e)
{
	size_t i;

	if (e == NULL)
		return;
	free(e->target_scheme);
	free(e->target_authority);
	free(e->target_base);
	free(e->method);
	free(e->path);
	free(e->path_query);
	for (i = 0; i < e->nset; i++) {
		free(e->set[i].name);
		free(e->set[i].value);
	}
	free(e->set);
	free_strv(e->remove, e->nremove);
	for (i = 0; i < e->nqedit; i++) {
		free(e->qedit[i].name);
		free(e->qedit[i].value);
	}
	free(e->qedit);
	free(e->data);
	memset(e, 0, sizeof(*e));
}

static int
nomem(struct gw_error *err)
{
	gw_error_set(err, NULL, 0, 0, "out of memory");
	errno = ENOMEM;
	return -1;
}

static int
bad(struct gw_error *err)
{
	errno = EINVAL;
	(void)err;
	return -1;
}

/* Characters a request target may hold as gw-proxy accepts one. */
static int
target_chars_ok(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '#')
			return 0;
	return 1;
}

int
edit_target(struct edits *e, const char *url, struct gw_error *err)
{
	const char *rest, *slash;
	size_t n;

	free(e->target_scheme);
	free(e->target_authority);
	free(e->target_base);
	e->target_scheme = e->target_authority = e->target_base = NULL;
	if (strncmp(url, "http://", 7) == 0) {
		e->target_scheme = strdup("http");
		rest = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		e->target_scheme = strdup("https");
		rest = url + 8;
	} else {
		gw_error_set(err, NULL, 0, 0,
		    "--target '%s': expected http://HOST[:PORT][/PREFIX] or "
		    "https://…",
		    url);
		return bad(err);
	}
	if (e->target_scheme == NULL)
		return nomem(err);
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || memchr(rest, '@', n) != NULL || !target_chars_ok(url) ||
	    strchr(url, '?') != NULL) {
		gw_error_set(err, NULL, 0, 0,
		    "--target '%s': expected http://HOST[:PORT][/PREFIX] "
		    "without user, query or fragment",
		    url);
		return bad(err);
	}
	if ((e->target_authority = strndup(rest, n)) == NULL)
		return nomem(err);
	rest += n;
	n = strlen(rest);
	while (n > 0 && rest[n - 1] == '/')
		n--;
	if ((e->target_base = strndup(rest, n)) == NULL)
		return nomem(err);
	return 0;
}

int
edit_method(struct edits *e, const char *m, struct gw_error *err)
{
	if (!gw_http_token_ok(m, strlen(m)) || strcasecmp(m, "CONNECT") == 0) {
		gw_error_set(err, NULL, 0, 0,
		    "-X '%s': not a method that can be replayed", m);
		return bad(err);
	}
	free(e->method);
	if ((e->method = strdup(m)) == NULL)
		return nomem(err);
	return 0;
}

int
edit_path(struct edits *e, const char *path, struct gw_error *err)
{
	const char *q;

	if (path[0] != '/' || !target_chars_ok(path)) {
		gw_error_set(err, NULL, 0, 0,
		    "--path '%s': expected an origin-form target, /path[?query], "
		    "percent-encoded, without spaces",
		    path);
		return bad(err);
	}
	free(e->path);
	free(e->path_query);
	e->path_query = NULL;
	q = strchr(path, '?');
	e->path = q != NULL ? strndup(path, (size_t)(q - path)) : strdup(path);
	if (e->path == NULL ||
	    (q != NULL && (e->path_query = strdup(q + 1)) == NULL))
		return nomem(err);
	return 0;
}

/*
 * Splits "Name: value" into a copy of the name and of the value, blanks
 * around the value removed.  Returns 0, or -1 with <err> naming <what>.
 */
static int
split_header(const char *line, char **name, char **value, const char *what,
    struct gw_error *err)
{
	const char *colon = strchr(line, ':'), *v, *end;
	size_t n;

	*name = *value = NULL;
	if (colon == NULL || !gw_http_token_ok(line, (size_t)(colon - line))) {
		gw_error_set(err, NULL, 0, 0,
		    "%s '%s': expected 'Name: value' with a valid field name",
		    what, line);
		return bad(err);
	}
	n = (size_t)(colon - line);
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (!gw_http_value_ok(v, (size_t)(end - v))) {
		gw_error_set(err, NULL, 0, 0,
		    "%s '%.*s': the value holds control characters", what,
		    (int)n, line);
		return bad(err);
	}
	if ((strncasecmp(line, "Content-Length", n) == 0 && n == 14) ||
	    (strncasecmp(line, "Transfer-Encoding", n) == 0 && n == 17)) {
		gw_error_set(err, NULL, 0, 0,
		    "%s %.*s: gw-replay frames the body itself", what, (int)n,
		    line);
		return bad(err);
	}
	if ((*name = strndup(line, n)) == NULL ||
	    (*value = strndup(v, (size_t)(end - v))) == NULL) {
		free(*name);
		*name = NULL;
		return nomem(err);
	}
	return 0;
}

static int
add_set(
    struct edits *e, const char *line, const char *what, struct gw_error *err)
{
	struct rp_hdr *v;
	char *name, *value;

	if (split_header(line, &name, &value, what, err) == -1)
		return -1;
	v = reallocarray(e->set, e->nset + 1, sizeof(*v));
	if (v == NULL) {
		free(name);
		free(value);
		return nomem(err);
	}
	e->set = v;
	e->set[e->nset].name = name;
	e->set[e->nset++].value = value;
	return 0;
}

int
edit_header(struct edits *e, const char *line, struct gw_error *err)
{
	return add_set(e, line, "-H", err);
}

int
edit_header_file(struct edits *e, const char *path, struct gw_error *err)
{
	char *text, *p, *nl, *line;
	size_t len;
	int lineno = 0, rc = 0;

	if ((text = gw_read_file(path, RP_MAX_FILE, &len)) == NULL) {
		gw_error_set(err, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	if ((p = realloc(text, len + 1)) == NULL) {
		free(text);
		return nomem(err);
	}
	text = p;
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		gw_error_set(err, path, 0, 0, "not a text file");
		free(text);
		return bad(err);
	}
	for (p = text; rc == 0 && *p != '\0'; p = nl != NULL ? nl + 1 : "") {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		lineno++;
		line = p;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if (add_set(e, line, "header", err) == -1) {
			/* The message must not echo a secret back. */
			if (errno == EINVAL)
				gw_error_set(err, path, lineno, 0,
				    "expected 'Name: value' with a valid field "
				    "name and no control characters");
			else
				gw_error_set(
				    err, path, lineno, 0, "%s", err->msg);
			rc = -1;
		}
	}
	free(text);
	if (rc == -1 && errno != ENOMEM)
		errno = EINVAL;
	return rc;
}

int
edit_remove_header(struct edits *e, const char *name, struct gw_error *err)
{
	char **v;

	if (!gw_http_token_ok(name, strlen(name))) {
		gw_error_set(err, NULL, 0, 0,
		    "--remove-header '%s': not a field name", name);
		return bad(err);
	}
	if ((v = reallocarray(e->remove, e->nremove + 1, sizeof(*v))) == NULL)
		return nomem(err);
	e->remove = v;
	if ((e->remove[e->nremove] = strdup(name)) == NULL)
		return nomem(err);
	e->nremove++;
	return 0;
}

static int
add_qedit(struct edits *e, const char *name, size_t n, const char *value,
    struct gw_error *err)
{
	struct rp_qparam *v;
	char *nm, *val = NULL;

	if ((nm = strndup(name, n)) == NULL ||
	    (value != NULL && (val = strdup(value)) == NULL)) {
		free(nm);
		return nomem(err);
	}
	if ((v = reallocarray(e->qedit, e->nqedit + 1, sizeof(*v))) == NULL) {
		free(nm);
		free(val);
		return nomem(err);
	}
	e->qedit = v;
	e->qedit[e->nqedit].name = nm;
	e->qedit[e->nqedit++].value = val;
	return 0;
}

int
edit_set_query(struct edits *e, const char *nv, struct gw_error *err)
{
	const char *eq = strchr(nv, '=');

	if (eq == NULL || eq == nv) {
		gw_error_set(err, NULL, 0, 0,
		    "--set-query '%s': expected NAME=VALUE", nv);
		return bad(err);
	}
	return add_qedit(e, nv, (size_t)(eq - nv), eq + 1, err);
}

int
edit_remove_query(struct edits *e, const char *name, struct gw_error *err)
{
	if (name[0] == '\0') {
		gw_error_set(err, NULL, 0, 0, "--remove-query: empty name");
		return bad(err);
	}
	return add_qedit(e, name, strlen(name), NULL, err);
}

int
edit_data(struct edits *e, const char *arg, struct gw_error *err)
{
	free(e->data);
	e->data = NULL;
	if (arg[0] == '@') {
		e->data = (unsigned char *)gw_read_file(
		    arg + 1, RP_MAX_FILE, &e->data_len);
		if (e->data == NULL) {
			gw_error_set(err, arg + 1, 0, 0, "%s", strerror(errno));
			return -1;
		}
	} else {
		e->data_len = strlen(arg);
		/* One byte at least, so that an empty body is not NULL. */
		if ((e->data = malloc(e->data_len + 1)) == NULL)
			return nomem(err);
		memcpy(e->data, arg, e->data_len);
	}
	e->has_data = 1;
	return 0;
}

const char *
edit_header_value(const struct edits *e, const char *name)
{
	const char *v = NULL;
	size_t i;

	/* The last one given wins: a -H after --header-file overrides. */
	for (i = 0; i < e->nset; i++)
		if (strcasecmp(e->set[i].name, name) == 0)
			v = e->set[i].value;
	return v;
}

int
edit_removes(const struct edits *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->nremove; i++)
		if (strcasecmp(e->remove[i], name) == 0)
			return 1;
	return 0;
}

/* ---- query strings ---------------------------------------------------- */

/* One name=value of a query string. */
struct qseg {
	const char *p; /* into the captured query, or own */
	size_t n;
	char *own;
	int dead;
};

/* Appends <s> percent-encoded: all but RFC 3986's unreserved characters. */
static int
put_encoded(struct gw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	int r = 0;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			r |= gw_buf_addc(b, (char)*p);
		else {
			r |= gw_buf_addc(b, '%');
			r |= gw_buf_addc(b, hex[*p >> 4]);
			r |= gw_buf_addc(b, hex[*p & 15]);
		}
	}
	return r;
}

/* Does segment <s> carry the parameter <name> (compared decoded)? */
static int
seg_named(const struct qseg *s, const char *name)
{
	const char *eq = memchr(s->p, '=', s->n);
	size_t n = eq != NULL ? (size_t)(eq - s->p) : s->n;
	char tmp[256];
	ssize_t d;

	if (n >= sizeof(tmp))
		return 0;
	d = gw_pct_decode(s->p, n, tmp, GW_PCT_PLUS, NULL);
	return d >= 0 && strlen(name) == (size_t)d &&
	    memcmp(tmp, name, (size_t)d) == 0;
}

static char *
encode_pair(const char *name, const char *value)
{
	struct gw_buf b;

	gw_buf_init(&b, 0);
	if (put_encoded(&b, name) != 0 || gw_buf_addc(&b, '=') != 0 ||
	    put_encoded(&b, value) != 0) {
		gw_buf_fini(&b);
		return NULL;
	}
	return gw_buf_take(&b);
}

char *
edit_apply_query(const struct edits *e, const char *q)
{
	struct qseg *seg = NULL, *v;
	struct gw_buf out;
	size_t nseg = 0, i, j, n;
	const char *p, *amp;
	char *res = NULL;
	int found, first = 1, r = 0;

	if (q == NULL)
		q = "";
	/* Room for every captured segment and one per edit. */
	n = e->nqedit + 1;
	for (p = q; *p != '\0'; p++)
		n += *p == '&';
	if ((seg = calloc(n, sizeof(*seg))) == NULL)
		return NULL;
	for (p = q; *p != '\0'; p = amp != NULL ? amp + 1 : p + strlen(p)) {
		amp = strchr(p, '&');
		seg[nseg].p = p;
		seg[nseg++].n = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (amp != NULL && amp[1] == '\0') {
			/* A trailing '&' keeps its empty segment. */
			seg[nseg].p = amp + 1;
			seg[nseg++].n = 0;
			break;
		}
	}
	for (i = 0; i < e->nqedit; i++) {
		const struct rp_qparam *qe = &e->qedit[i];

		found = 0;
		for (j = 0; j < nseg; j++) {
			if (seg[j].dead || !seg_named(&seg[j], qe->name))
				continue;
			if (qe->value != NULL && !found) {
				free(seg[j].own);
				seg[j].own = encode_pair(qe->name, qe->value);
				if (seg[j].own == NULL)
					goto out;
				seg[j].p = seg[j].own;
				seg[j].n = strlen(seg[j].own);
				found = 1;
				continue;
			}
			seg[j].dead = 1;
		}
		if (qe->value != NULL && !found) {
			v = &seg[nseg];
			if ((v->own = encode_pair(qe->name, qe->value)) == NULL)
				goto out;
			v->p = v->own;
			v->n = strlen(v->own);
			nseg++;
		}
	}
	gw_buf_init(&out, 0);
	for (i = 0; i < nseg; i++) {
		if (seg[i].dead)
			continue;
		if (!first)
			r |= gw_buf_addc(&out, '&');
		r |= gw_buf_add(&out, seg[i].p, seg[i].n);
		first = 0;
	}
	/* gw_buf_take() of an empty buffer still gives "". */
	if (r == 0)
		res = gw_buf_take(&out);
	gw_buf_fini(&out);
out:
	for (i = 0; i < nseg; i++)
		free(seg[i].own);
	free(seg);
	return res;
}
