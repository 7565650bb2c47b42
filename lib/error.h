/* SPDX-License-Identifier: MIT */
/*
 * The error record that parsers and loaders fill instead of printing, so
 * that main.c alone decides what reaches stderr and with which exit code.
 * Every configuration error reads "file:line:col: message": the position
 * travels with the message from the innermost parser to the user.
 */
#ifndef GW_ERROR_H
#define GW_ERROR_H

#include <stddef.h>

struct gw_error {
	char file[256]; /* "" when the error is not in a file */
	int line, col;  /* 1-based; line 0 when there is no position */
	char msg[512];
	/*
	 * Set when the command line itself is malformed (an unknown option,
	 * a missing value): exit 64 rather than 78.  gw_error_set() clears it.
	 */
	int usage;
};

/*
 * Fills <err> with a position and a printf-style message; both are
 * truncated to fit.  <file> may be NULL (no file), <line> 0 (no position)
 * and <col> 0 (the whole line).  <err> may be NULL, in which case nothing
 * happens, so that callers need not test it.  errno is preserved.
 */
void gw_error_set(struct gw_error *err, const char *file, int line, int col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/*
 * Fills <err> with "<path>: <what>: <strerror(errno)>" and no position,
 * for a system call on <path> that failed.  errno is preserved.
 */
void gw_error_sys(struct gw_error *err, const char *path, const char *what);
/*
 * Formats <err> into <buf> (<len> bytes, always NUL-terminated when len is
 * not 0): "file:line:col: message", "file:line: message" when col is 0,
 * "file: message" when line is 0, and "message" alone without a file.
 */
void gw_error_format(const struct gw_error *err, char *buf, size_t len);

#endif
