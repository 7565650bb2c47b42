/* SPDX-License-Identifier: MIT */
/*
 * Newline-delimited JSON on pipes, both ways.
 *
 * gw_lines splits a byte stream into lines without ever holding more than
 * one maximum-length line: a longer line is skipped to its newline and
 * reported once, and an unterminated last line at end of input is handed
 * out flagged as partial.  It does not parse JSON; callers decide what a
 * line must be.
 *
 * gw_out is a bounded output queue for an fd (a pipe, a file, a tty).
 * Producers append whole lines; when the queue is full the line is dropped
 * and counted, never half-written, so a slow reader can never stall the
 * producer.  Lines are built in place (gw_out_buf() + gw_out_end()) to
 * avoid a copy on the hot path.
 */
#ifndef GW_NDJSON_H
#define GW_NDJSON_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum gw_line_status {
	GW_LINE_OK,       /* a complete line (newline not included) */
	GW_LINE_AGAIN,    /* no complete line buffered: feed more */
	GW_LINE_TOO_LONG, /* a line over the limit was skipped */
	GW_LINE_PARTIAL,  /* unterminated last line, input ended */
	GW_LINE_EOF,      /* input ended and everything was handed out */
};

struct gw_lines {
	struct gw_buf buf;
	size_t max_line;
	size_t scan;     /* bytes of buf already searched */
	uint64_t lineno; /* number of the line last returned */
	uint64_t n_too_long;
	uint64_t n_partial;
	int skipping; /* inside an over-long line */
	int eof;
};

/* Bytes gw_lines_read() asks for at once. */
#define GW_LINES_CHUNK (64 * 1024)

/*
 * <max_line> bytes is the longest line accepted, newline excluded.  The
 * reader then holds at most max_line + GW_LINES_CHUNK bytes (or max_line
 * plus the largest gw_lines_feed() chunk).  Returns 0, or -1 (EINVAL for 0
 * or an absurd size).
 */
int gw_lines_init(struct gw_lines *, size_t max_line);
void gw_lines_fini(struct gw_lines *);
/*
 * Reads what <fd> has (once, at most GW_LINES_CHUNK bytes).  Returns bytes
 * read, 0 at end of input (after which gw_lines_next() drains and reports
 * GW_LINE_EOF), or -1 with errno set (EAGAIN for a non-blocking fd with
 * nothing to read; ENOBUFS when called again without draining the lines
 * with gw_lines_next() until GW_LINE_AGAIN).
 */
ssize_t gw_lines_read(struct gw_lines *, int fd);
/*
 * Feeds bytes from another source (a decompressor), any amount at a time.
 * Returns 0, or -1 (ENOMEM; ENOBUFS when not drained, as above).
 */
int gw_lines_feed(struct gw_lines *, const void *, size_t);
/* Marks end of input for gw_lines_feed() users. */
void gw_lines_end(struct gw_lines *);
/*
 * Returns the next line in <line>/<len>, valid until the next call.  For
 * GW_LINE_TOO_LONG, lineno says which line was skipped.  Trailing "\r" is
 * kept: NDJSON producers do not write it and JSON parsers ignore it.
 */
enum gw_line_status
gw_lines_next(struct gw_lines *, const char **line, size_t *len);

struct gw_out {
	int fd;
	int error; /* errno of the last failed write, sticky */
	struct gw_buf buf;
	size_t mark;      /* start of the line being built */
	uint64_t lines;   /* lines queued */
	uint64_t dropped; /* lines dropped because the queue was full */
	uint64_t dropped_bytes;
};

/*
 * Queues at most <max> bytes for <fd>.  The fd is not owned.  Writing to a
 * pipe whose reader left raises SIGPIPE: callers ignore it (see DESIGN.md).
 */
void gw_out_init(struct gw_out *, int fd, size_t max);
void gw_out_fini(struct gw_out *);
/*
 * Starts a line: returns the buffer to append it to.  No gw_out_flush()
 * between gw_out_begin() and gw_out_end(): it would write half a line.
 */
struct gw_buf *gw_out_begin(struct gw_out *);
/*
 * Ends the line started by gw_out_begin(): appends "\n" and returns 0, or,
 * when <failed> is set or the newline does not fit, removes what was
 * appended since gw_out_begin(), counts a drop and returns -1.
 */
int gw_out_end(struct gw_out *, int failed);
/* Queues a whole line (<s> without its newline); 0, or -1 if dropped. */
int gw_out_line(struct gw_out *, const char *s, size_t n);
/*
 * Writes as much as the fd takes without blocking (on a blocking fd, all of
 * it).  Returns 0 when the queue is empty, 1 when data remains (wait for
 * GW_WRITE), -1 on a write error other than EAGAIN (EPIPE when the reader
 * went away; the queue is then discarded and later lines are counted as
 * dropped).  Any such error is final: <error> keeps it, the lines that were
 * queued count as dropped, and every later flush returns -1 with it.
 */
int gw_out_flush(struct gw_out *);
/* Bytes waiting. */
size_t gw_out_pending(const struct gw_out *);

#endif
