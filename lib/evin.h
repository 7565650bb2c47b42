/* SPDX-License-Identifier: MIT */
/*
 * Reading events from files and stdin, the way every stage that takes
 * EVENTS... arguments does (gw-policy eval, gw-capture import,
 * gw-export): a named file or "-" for stdin, zstd-compressed input
 * decompressed (by its magic number, whatever its name), lines split by
 * lib/ndjson's reader with a bounded length, an unterminated last line
 * still handed out.  What a line must be is the caller's business.
 */
#ifndef GW_EVIN_H
#define GW_EVIN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * Called for each line: <line>/<len> without its newline (NULL and 0 with
 * <too_long> set for a line over the limit, which was skipped), <lineno>
 * counted from 1 in the decompressed text.  Returns 0 to go on, or -1 to
 * stop reading.
 */
typedef int (*gw_evin_fn)(void *arg, const char *name, uint64_t lineno,
    const char *line, size_t len, int too_long);

enum gw_evin_result {
	GW_EVIN_OK = 0,
	GW_EVIN_STOPPED = 1,  /* the callback returned -1 */
	GW_EVIN_MORE = 2,     /* gw_evin_step(): call again */
	GW_EVIN_AGAIN = 3,    /* gw_evin_step(): a non-blocking fd is empty */
	GW_EVIN_NOINPUT = -1, /* <path> cannot be opened (exit 66) */
	GW_EVIN_IOERR = -2,   /* a read failed or the zstd data is corrupt */
	GW_EVIN_NOMEM = -3,
};

/*
 * Reads every line of <path> (NULL or "-": stdin) through <fn>.  Lines
 * longer than <max_line> bytes are skipped and reported to <fn>.  A
 * truncated zstd stream delivers what it holds and sets <*truncated>
 * (may be NULL).  Returns a gw_evin_result; for the negative ones <err>
 * says what failed, with the file's name.
 */
int gw_evin_read(const char *path, size_t max_line, gw_evin_fn fn, void *arg,
    int *truncated, struct gw_error *err);

/*
 * The same reading a chunk at a time, for a caller with an event loop:
 * gw_evin_open() (NULL with <err> set: GW_EVIN_NOINPUT-like when errno
 * is not ENOMEM), then gw_evin_step() until it returns something other
 * than GW_EVIN_MORE; each step reads at most 128 KiB (and decompresses
 * at most 256 KiB) and hands out the lines completed.  On a non-blocking
 * descriptor a step may return GW_EVIN_AGAIN: wait for it to be readable.
 * gw_evin_close() accepts NULL.
 */
struct gw_evin;
struct gw_evin *
gw_evin_open(const char *path, size_t max_line, struct gw_error *err);
int
gw_evin_step(struct gw_evin *r, gw_evin_fn fn, void *arg, struct gw_error *err);
void gw_evin_close(struct gw_evin *r);
const char *gw_evin_name(const struct gw_evin *r);
/* The descriptor read (stdin's is not closed by gw_evin_close()). */
int gw_evin_fd(const struct gw_evin *r);
/* 1 when a zstd stream ended mid-frame (known once the step says OK). */
int gw_evin_truncated(const struct gw_evin *r);

#endif
