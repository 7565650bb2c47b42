/* SPDX-License-Identifier: MIT */
/*
 * NDJSON on pipes (see ndjson.h).  The reader keeps one gw_buf: lines are
 * handed out as pointers into it and consumed at once (consuming only
 * moves an offset, so the bytes stay put until the next read).  The writer
 * is a gw_buf whose maximum is the queue bound; a line is committed only
 * when its newline fits, so the queue always ends on a line boundary.
 */
#include "ndjson.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

int
gw_lines_init(struct gw_lines *l, size_t max_line)
{
	memset(l, 0, sizeof(*l));
	if (max_line == 0 || max_line > SIZE_MAX / 2 - GW_LINES_CHUNK) {
		errno = EINVAL;
		return -1;
	}
	l->max_line = max_line;
	gw_buf_init(&l->buf, max_line + GW_LINES_CHUNK);
	return 0;
}

void
gw_lines_fini(struct gw_lines *l)
{
	if (l == NULL)
		return;
	gw_buf_fini(&l->buf);
}

ssize_t
gw_lines_read(struct gw_lines *l, int fd)
{
	size_t room;
	ssize_t n;
	char *p;

	/*
	 * After gw_lines_next() said GW_LINE_AGAIN at most max_line bytes
	 * are left, so a whole chunk fits; a caller that did not drain gets
	 * less, and ENOBUFS once full, rather than unbounded memory.
	 */
	room = l->buf.max - l->buf.len;
	if (room > GW_LINES_CHUNK)
		room = GW_LINES_CHUNK;
	if (room == 0) {
		errno = ENOBUFS;
		return -1;
	}
	if ((p = gw_buf_reserve(&l->buf, room)) == NULL)
		return -1;
	do
		n = read(fd, p, room);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n == 0) {
		l->eof = 1;
		return 0;
	}
	gw_buf_commit(&l->buf, (size_t)n);
	return n;
}

int
gw_lines_feed(struct gw_lines *l, const void *p, size_t n)
{
	const char *s = p, *nl;

	/* The rest of an over-long line need not even be copied. */
	if (l->skipping && l->buf.len == 0) {
		if ((nl = memchr(s, '\n', n)) == NULL)
			return 0;
		l->skipping = 0;
		n -= (size_t)(nl + 1 - s);
		s = nl + 1;
	}
	if (n == 0)
		return 0;
	if (n > l->buf.max - l->buf.len) {
		/*
		 * A big chunk is taken whole (its source holds it anyway) but
		 * only on top of a drained reader, which keeps the bound.
		 */
		if (l->buf.len > l->max_line || n > SIZE_MAX / 2) {
			errno = ENOBUFS;
			return -1;
		}
		l->buf.max = l->buf.len + n;
	}
	return gw_buf_add(&l->buf, s, n);
}

void
gw_lines_end(struct gw_lines *l)
{
	l->eof = 1;
}

/* Drops <n> bytes from the front of the reader's buffer. */
static void
lines_consume(struct gw_lines *l, size_t n)
{
	gw_buf_consume(&l->buf, n);
	l->scan = 0;
}

enum gw_line_status
gw_lines_next(struct gw_lines *l, const char **line, size_t *len)
{
	const char *head, *nl;
	size_t n;

	*line = NULL;
	*len = 0;
	for (;;) {
		head = gw_buf_head(&l->buf);
		if (l->skipping) {
			nl = NULL;
			if (l->buf.len > 0)
				nl = memchr(head, '\n', l->buf.len);
			if (nl == NULL) {
				lines_consume(l, l->buf.len);
				if (!l->eof)
					return GW_LINE_AGAIN;
				/* Reported already; nothing follows it. */
				l->skipping = 0;
				return GW_LINE_EOF;
			}
			lines_consume(l, (size_t)(nl + 1 - head));
			l->skipping = 0;
			continue;
		}
		nl = NULL;
		if (l->buf.len > l->scan)
			nl = memchr(head + l->scan, '\n', l->buf.len - l->scan);
		if (nl != NULL) {
			n = (size_t)(nl - head);
			l->lineno++;
			lines_consume(l, n + 1);
			if (n > l->max_line) {
				l->n_too_long++;
				return GW_LINE_TOO_LONG;
			}
			*line = head;
			*len = n;
			return GW_LINE_OK;
		}
		l->scan = l->buf.len;
		if (l->buf.len > l->max_line) {
			/* Report now, skip the rest as it arrives. */
			l->lineno++;
			l->n_too_long++;
			l->skipping = 1;
			lines_consume(l, l->buf.len);
			return GW_LINE_TOO_LONG;
		}
		if (!l->eof)
			return GW_LINE_AGAIN;
		if (l->buf.len == 0)
			return GW_LINE_EOF;
		l->lineno++;
		l->n_partial++;
		*line = head;
		*len = l->buf.len;
		lines_consume(l, l->buf.len);
		return GW_LINE_PARTIAL;
	}
}

void
gw_out_init(struct gw_out *o, int fd, size_t max)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	gw_buf_init(&o->buf, max);
}

void
gw_out_fini(struct gw_out *o)
{
	if (o == NULL)
		return;
	gw_buf_fini(&o->buf);
}

struct gw_buf *
gw_out_begin(struct gw_out *o)
{
	o->mark = o->buf.len;
	return &o->buf;
}

int
gw_out_end(struct gw_out *o, int failed)
{
	size_t n;

	if (o->mark > o->buf.len)
		o->mark = o->buf.len;
	n = o->buf.len - o->mark;
	if (!failed && o->error == 0 && gw_buf_addc(&o->buf, '\n') == 0) {
		o->lines++;
		return 0;
	}
	o->buf.len = o->mark;
	o->dropped++;
	o->dropped_bytes += n + 1;
	return -1;
}

int
gw_out_line(struct gw_out *o, const char *s, size_t n)
{
	char *t;

	if (o->error != 0 || n >= o->buf.max - o->buf.len ||
	    (t = gw_buf_reserve(&o->buf, n + 1)) == NULL) {
		o->dropped++;
		o->dropped_bytes += n + 1;
		return -1;
	}
	memcpy(t, s, n);
	t[n] = '\n';
	gw_buf_commit(&o->buf, n + 1);
	o->lines++;
	return 0;
}

/* Gives up on the queue after a write error: its lines count as dropped. */
static void
out_discard(struct gw_out *o)
{
	const char *p = gw_buf_head(&o->buf), *end = p + o->buf.len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		o->dropped++;
		p++;
	}
	o->dropped_bytes += o->buf.len;
	gw_buf_reset(&o->buf);
	o->mark = 0;
}

int
gw_out_flush(struct gw_out *o)
{
	ssize_t n;

	if (o->error != 0) {
		errno = o->error;
		return -1;
	}
	while (o->buf.len > 0) {
		n = write(o->fd, gw_buf_head(&o->buf), o->buf.len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			o->error = errno;
			out_discard(o);
			errno = o->error;
			return -1;
		}
		gw_buf_consume(&o->buf, (size_t)n);
	}
	return 0;
}

size_t
gw_out_pending(const struct gw_out *o)
{
	return o->buf.len;
}
