// SPDX-License-Identifier: MIT
/*
 * A destination's sources: which events it takes (event kinds or exact
 * types, then a query in the shared language) and which of their fields
 * (keep or drop dotted paths), the two knobs ngrok's log export has.  The
 * common case, no field selection, passes the event's line through as it
 * is; a selection parses the event once (shared by every destination that
 * needs it) and writes the reduced event.  The envelope (event_id,
 * event_type, event_timestamp) is always kept: consumers deduplicate on
 * event_id.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "query.h"
#include "xconf.h"
#include "xsource.h"

void
xsel_init(struct xsel *x, const struct xevent *ev)
{
	memset(x, 0, sizeof(*x));
	x->ev = ev;
	x->kind = -1;
}

void
xsel_fini(struct xsel *x)
{
	json_decref(x->json);
	x->json = NULL;
}

static const struct gw_evsum *
summary(struct xsel *x)
{
	if (!x->have_sum) {
		x->have_sum = 1;
		if (gw_evsum_extract(&x->sum, x->ev->line, x->ev->len) == -1)
			memset(&x->sum, 0, sizeof(x->sum));
	}
	return &x->sum;
}

json_t *
xsel_json(struct xsel *x)
{
	json_error_t jerr;

	if (x->json == NULL && !x->json_failed) {
		x->json = json_loadb(x->ev->line, x->ev->len, 0, &jerr);
		x->json_failed = x->json == NULL;
	}
	return x->json;
}

/* The event's type, decoded. */
static const char *
type_of(struct xsel *x)
{
	if (x->type[0] == '\0')
		pick_str(x->ev, XF_EVENT_TYPE, x->type, sizeof(x->type));
	return x->type;
}

/* The event's kind from its type, without a second scan. */
static int
kind_of(struct xsel *x)
{
	if (x->have_sum)
		return x->sum.kind;
	if (x->kind < 0) {
		const char *t = type_of(x);

		x->kind = gw_evsum_kind_of(t, strlen(t));
	}
	return x->kind;
}

int
source_wants(const struct source_conf *s, struct xsel *x)
{
	const struct gw_evsum *sum;
	json_t *j;
	size_t i;
	int r;

	r = (s->kinds >> kind_of(x)) & 1;
	for (i = 0; !r && i < s->ntypes; i++)
		r = strcmp(type_of(x), s->types[i]) == 0;
	if (!r)
		return 0;
	if (s->filter == NULL)
		return 1;
	sum = summary(x);
	r = gw_query_match_sum(s->filter, sum);
	if (r != -1)
		return r;
	if ((j = xsel_json(x)) == NULL)
		return 0;
	return gw_query_match_json(s->filter, j);
}

/*
 * Where a selection path lives: the envelope's own members, or under
 * "object" ("conn.client_ip", also written "object.conn.client_ip").
 */
static json_t *
path_parent(json_t *root, const char *path, char *leaf, size_t cap)
{
	const char *p = path, *dot;
	json_t *o = root;
	size_t n;

	if (strncmp(p, "object.", 7) == 0)
		p += 7;
	else if (strchr(p, '.') != NULL ||
	    (strcmp(p, "event_id") != 0 && strcmp(p, "event_type") != 0 &&
	        strcmp(p, "event_timestamp") != 0 &&
	        strcmp(p, "principal") != 0))
		o = json_object_get(root, "object");
	while (o != NULL && (dot = strchr(p, '.')) != NULL) {
		n = (size_t)(dot - p);
		if (n >= cap)
			return NULL;
		memcpy(leaf, p, n);
		leaf[n] = '\0';
		o = json_object_get(o, leaf);
		p = dot + 1;
	}
	if (o == NULL || !json_is_object(o) || strlen(p) >= cap)
		return NULL;
	memcpy(leaf, p, strlen(p) + 1);
	return o;
}

/* Copies <path> from <from> into <to>, creating parents. */
static int
keep_path(json_t *to, json_t *from, const char *path)
{
	char leaf[256];
	json_t *src_parent = path_parent(from, path, leaf, sizeof(leaf));
	json_t *v, *o = to, *next;
	const char *p = path, *dot;
	char seg[256];
	size_t n;

	if (src_parent == NULL ||
	    (v = json_object_get(src_parent, leaf)) == NULL)
		return 0;
	if (strncmp(p, "object.", 7) == 0)
		p += 7;
	if (strchr(p, '.') != NULL || json_object_get(from, p) == NULL) {
		/* Under "object". */
		if ((next = json_object_get(o, "object")) == NULL) {
			next = json_object();
			if (json_object_set_new(o, "object", next) == -1)
				return -1;
		}
		o = next;
	}
	while ((dot = strchr(p, '.')) != NULL) {
		n = (size_t)(dot - p);
		memcpy(seg, p, n);
		seg[n] = '\0';
		if ((next = json_object_get(o, seg)) == NULL) {
			next = json_object();
			if (json_object_set_new(o, seg, next) == -1)
				return -1;
		}
		o = next;
		p = dot + 1;
	}
	return json_object_set(o, leaf, v);
}

int
source_select(const struct source_conf *s, struct xsel *x, struct gw_buf *buf,
    const char **out, size_t *outlen)
{
	static const char *const envelope[] = { "event_id", "event_type",
		"event_timestamp", "principal", NULL };
	json_t *j, *sel = NULL;
	char leaf[256], *text;
	size_t i;
	int r = 0;

	if (s->keep.n == 0 && s->drop.n == 0) {
		*out = x->ev->line;
		*outlen = x->ev->len;
		return 0;
	}
	if ((j = xsel_json(x)) == NULL)
		return -1;
	if (s->keep.n > 0) {
		sel = json_object();
		for (i = 0; envelope[i] != NULL; i++)
			if (json_object_get(j, envelope[i]) != NULL)
				r |= json_object_set(sel, envelope[i],
				    json_object_get(j, envelope[i]));
		for (i = 0; i < s->keep.n; i++)
			r |= keep_path(sel, j, s->keep.v[i]) == -1;
	} else {
		sel = json_deep_copy(j);
		for (i = 0; sel != NULL && i < s->drop.n; i++) {
			json_t *p =
			    path_parent(sel, s->drop.v[i], leaf, sizeof(leaf));

			if (p != NULL &&
			    (p != sel ||
			        (strcmp(leaf, "event_id") &&
			            strcmp(leaf, "event_type") &&
			            strcmp(leaf, "event_timestamp"))))
				json_object_del(p, leaf);
		}
	}
	if (sel == NULL || r != 0)
		goto fail;
	text = json_dumps(sel, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		goto fail;
	gw_buf_reset(buf);
	r = gw_buf_adds(buf, text);
	free(text);
	json_decref(sel);
	if (r != 0)
		return -1;
	*out = gw_buf_head(buf);
	*outlen = buf->len;
	return 0;
fail:
	json_decref(sel);
	return -1;
}
