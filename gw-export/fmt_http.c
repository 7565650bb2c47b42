// SPDX-License-Identifier: MIT
/*
 * The generic encoder, for any HTTP collector or webhook: the events'
 * lines as they are, as NDJSON or as one JSON array (fmt.h).  Also the
 * batch life cycle that every encoder shares (fmt_batch_init() and the
 * rest), since this is the encoder with nothing of its own to add.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "json.h"

void
fmt_batch_init(struct xbatch *b)
{
	memset(b, 0, sizeof(*b));
	gw_buf_init(&b->body, 0);
}

void
fmt_batch_fini(struct xenc *e, struct xbatch *b)
{
	if (b == NULL)
		return;
	if (e != NULL && e->ops->batch_fini != NULL)
		e->ops->batch_fini(e, b);
	gw_buf_fini(&b->body);
	b->n = b->raw = 0;
}

void
fmt_reset(struct xenc *e, struct xbatch *b)
{
	if (e->ops->reset != NULL)
		e->ops->reset(e, b);
	gw_buf_reset(&b->body);
	b->n = b->raw = 0;
}

void
fmt_free(struct xenc *e)
{
	if (e != NULL)
		e->ops->free(e);
}

struct http_enc {
	struct xenc base;
	int array;
	struct gw_buf fix;    /* the line with its UTF-8 repaired */
	struct gw_buf shrunk; /* the line made to fit */
};

static int
http_add(struct xenc *e, struct xbatch *b, const char *line, size_t len,
    const struct xevent *ev)
{
	struct http_enc *h = (struct http_enc *)e;
	struct gw_buf *o = &b->body;
	size_t mark, over = h->array ? 2 : 1;
	int err = 0;

	if (b->n >= e->max_events)
		return FMT_FULL;
	if (b->n == 0)
		gw_buf_reset(o); /* an ended empty batch holds "[]" */
	mark = o->len;
	len = pick_trim(&line, len);
	/* pick_event() validated it already; a bare line we check. */
	if (ev == NULL && gw_jscan(line, len, NULL, NULL) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (!pick_utf8_ok(line, len)) {
		if (pick_utf8_fix(line, len, &h->fix) == -1)
			return -1;
		line = gw_buf_head(&h->fix);
		len = h->fix.len;
		e->counts.repaired++;
	}
	if (o->len + len + (b->n == 0 ? over : 1) > e->max_bytes) {
		if (b->n > 0)
			return FMT_FULL;
		if (pick_shrink(line, len, e->max_bytes - over, &h->shrunk) ==
		    -1)
			return -1;
		line = gw_buf_head(&h->shrunk);
		len = h->shrunk.len;
		e->counts.truncated++;
	}
	if (!h->array) {
		err |= gw_json_raw(o, line, len);
		err |= gw_json_raw(o, "\n", 1);
	} else {
		if (b->n == 0)
			err |= gw_json_raw(o, "[", 1);
		else
			o->len--; /* the closing ']' becomes ',' */
		if (b->n > 0)
			err |= gw_json_raw(o, ",", 1);
		err |= gw_json_raw(o, line, len);
		err |= gw_json_raw(o, "]", 1);
	}
	if (err) {
		o->len = mark;
		if (h->array && b->n > 0)
			gw_buf_head(o)[mark - 1] = ']';
		errno = ENOMEM;
		return -1;
	}
	b->n++;
	b->raw = o->len;
	return 0;
}

static int
http_end(struct xenc *e, struct xbatch *b)
{
	struct http_enc *h = (struct http_enc *)e;

	if (h->array && b->n == 0 && b->body.len == 0 &&
	    gw_json_raw(&b->body, "[]", 2) == -1)
		return -1;
	b->raw = b->body.len;
	return 0;
}

static void
http_free(struct xenc *e)
{
	struct http_enc *h = (struct http_enc *)e;

	gw_buf_fini(&h->fix);
	gw_buf_fini(&h->shrunk);
	free(h);
}

static const struct xenc_ops http_ops = {
	.add = http_add,
	.end = http_end,
	.free = http_free,
};

struct xenc *
fmt_http_new(const struct fmt_http_opts *opts)
{
	struct http_enc *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->base.ops = &http_ops;
	h->base.name = "http";
	h->array = opts->array;
	h->base.content_type =
	    h->array ? "application/json" : "application/x-ndjson";
	h->base.max_events = opts->max_events ? opts->max_events : 1000;
	h->base.max_bytes = opts->max_bytes ? opts->max_bytes : 4 << 20;
	gw_buf_init(&h->fix, 0);
	gw_buf_init(&h->shrunk, 0);
	return &h->base;
}
