/* SPDX-License-Identifier: MIT */
/*
 * Bounded byte buffers.  Data lives in data[off, off + len); consuming from
 * the front only moves <off>, and the buffer compacts itself when it needs
 * room.  Every buffer has a hard maximum: an append that would pass it
 * fails and leaves the buffer unchanged, which is how network input and
 * output queues stay bounded.
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct gw_buf {
	char *data;
	size_t off; /* start of unconsumed data */
	size_t len; /* bytes of data from off */
	size_t cap; /* allocated bytes */
	size_t max; /* hard limit on len; 0 means SIZE_MAX */
};

/* Initialises an empty buffer that may hold at most <max> bytes. */
void gw_buf_init(struct gw_buf *, size_t max);
/* Releases the memory; the buffer stays usable and empty. NULL accepted. */
void gw_buf_fini(struct gw_buf *);
/* Empties the buffer and keeps its memory. */
void gw_buf_reset(struct gw_buf *);

/* Pointer to the first unconsumed byte. */
static inline char *
gw_buf_head(const struct gw_buf *b)
{
	return b->data + b->off;
}

/*
 * Makes room for <n> more bytes after the data (compacting or growing) and
 * returns a pointer to it, or NULL with errno ENOBUFS if that would pass the
 * maximum or ENOMEM.  Follow with gw_buf_commit().
 */
char *gw_buf_reserve(struct gw_buf *, size_t n);
/* Bytes writable at gw_buf_tail() without another reserve. */
size_t gw_buf_avail(const struct gw_buf *);
char *gw_buf_tail(const struct gw_buf *);
/* Marks <n> bytes written at the tail as data. */
void gw_buf_commit(struct gw_buf *, size_t n);
/* Drops <n> bytes from the front. */
void gw_buf_consume(struct gw_buf *, size_t n);

/* Appends; returns 0, or -1 (ENOBUFS/ENOMEM) leaving the buffer unchanged. */
int gw_buf_add(struct gw_buf *, const void *, size_t);
int gw_buf_adds(struct gw_buf *, const char *);
int gw_buf_addc(struct gw_buf *, char);
int gw_buf_printf(struct gw_buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
int gw_buf_vprintf(struct gw_buf *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));
/* Appends the decimal form of <v>. */
int gw_buf_addu(struct gw_buf *, unsigned long long v);
int gw_buf_addi(struct gw_buf *, long long v);

/*
 * Hands the data to the caller as a NUL-terminated string it must free(3);
 * the buffer is left empty.  Returns NULL (ENOMEM) on failure.
 */
char *gw_buf_take(struct gw_buf *);

#endif
