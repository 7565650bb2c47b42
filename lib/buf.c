// SPDX-License-Identifier: MIT
/*
 * Bounded byte buffers (see buf.h).  Growth doubles the capacity up to the
 * buffer's maximum; consumption only moves the start offset, and the data
 * is moved back to the front lazily, when an append needs the room.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
gw_buf_init(struct gw_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : SIZE_MAX;
}

void
gw_buf_fini(struct gw_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

void
gw_buf_reset(struct gw_buf *b)
{
	b->off = b->len = 0;
}

char *
gw_buf_reserve(struct gw_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max - b->len) {
		errno = ENOBUFS;
		return NULL;
	}
	need = b->len + n;
	/* A buffer never allocated has no pointer to return, even for 0. */
	if (b->off + need <= b->cap && b->data != NULL)
		return b->data + b->off + b->len;
	/* Compacting is enough when at least half the space is free. */
	if (need <= b->cap && b->off > 0 && need <= b->cap / 2 + n) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return b->data + b->len;
	}
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		if (need <= b->cap)
			return b->data + b->len;
	}
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	/* Never allocate far past the maximum: the buffer cannot use it. */
	if (b->max != SIZE_MAX && cap > b->max && need <= b->max)
		cap = b->max;
	p = realloc(b->data, cap);
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	b->data = p;
	b->cap = cap;
	return b->data + b->len;
}

size_t
gw_buf_avail(const struct gw_buf *b)
{
	size_t room = b->cap - b->off - b->len;
	size_t lim = b->max - b->len;

	return room < lim ? room : lim;
}

char *
gw_buf_tail(const struct gw_buf *b)
{
	return b->data + b->off + b->len;
}

void
gw_buf_commit(struct gw_buf *b, size_t n)
{
	b->len += n;
}

void
gw_buf_consume(struct gw_buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}

int
gw_buf_add(struct gw_buf *b, const void *p, size_t n)
{
	char *t;

	/* The common case on hot paths: room already there. */
	if (n <= b->cap - b->off - b->len && n <= b->max - b->len) {
		if (n > 0)
			memcpy(b->data + b->off + b->len, p, n);
		b->len += n;
		return 0;
	}

	if (n == 0)
		return 0;
	if ((t = gw_buf_reserve(b, n)) == NULL)
		return -1;
	memcpy(t, p, n);
	b->len += n;
	return 0;
}

int
gw_buf_adds(struct gw_buf *b, const char *s)
{
	return gw_buf_add(b, s, strlen(s));
}

int
gw_buf_addc(struct gw_buf *b, char c)
{
	char *t;

	if (b->off + b->len < b->cap && b->len < b->max) {
		b->data[b->off + b->len++] = c;
		return 0;
	}
	if ((t = gw_buf_reserve(b, 1)) == NULL)
		return -1;
	*t = c;
	b->len++;
	return 0;
}

int
gw_buf_vprintf(struct gw_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	char *t, *s;
	int n;

	va_copy(cp, ap);
	/* No pointer arithmetic on a buffer that was never allocated. */
	n = vsnprintf(b->data ? gw_buf_tail(b) : NULL,
	    b->data ? gw_buf_avail(b) : 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if ((size_t)n < gw_buf_avail(b) && b->data != NULL) {
		b->len += (size_t)n;
		return 0;
	}
	if (n == 0)
		return 0;
	if ((t = gw_buf_reserve(b, (size_t)n)) == NULL)
		return -1;
	/*
	 * vsnprintf() also writes a NUL, which is not data: when the text
	 * fills the buffer to its maximum there is no room for it, so format
	 * into a scratch copy rather than fail an append that fits.
	 */
	if (b->cap - b->off - b->len > (size_t)n)
		vsnprintf(t, (size_t)n + 1, fmt, ap);
	else {
		if ((s = malloc((size_t)n + 1)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		vsnprintf(s, (size_t)n + 1, fmt, ap);
		memcpy(t, s, (size_t)n);
		free(s);
	}
	b->len += (size_t)n;
	return 0;
}

int
gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = gw_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int
gw_buf_addu(struct gw_buf *b, unsigned long long v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return gw_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int
gw_buf_addi(struct gw_buf *b, long long v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long u;

	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	return gw_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

char *
gw_buf_take(struct gw_buf *b)
{
	char *s;

	if (gw_buf_reserve(b, 1) == NULL) {
		/* Full to max: copy out rather than fail. */
		if ((s = malloc(b->len + 1)) == NULL)
			return NULL;
		memcpy(s, gw_buf_head(b), b->len);
		s[b->len] = '\0';
		gw_buf_fini(b);
		return s;
	}
	if (b->off > 0)
		memmove(b->data, b->data + b->off, b->len);
	b->data[b->len] = '\0';
	s = b->data;
	b->data = NULL;
	b->off = b->len = b->cap = 0;
	return s;
}
