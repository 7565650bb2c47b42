/* SPDX-License-Identifier: MIT */
/*
 * struct gw_error (see error.h): filling it and formatting it for stderr.
 * Kept apart from logging because library code reports errors this way
 * without ever printing them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

void
gw_error_set(struct gw_error *err, const char *file, int line, int col,
    const char *fmt, ...)
{
	char msg[sizeof(err->msg)], where[sizeof(err->file)];
	int saved_errno = errno;
	va_list ap;

	if (err == NULL)
		return;
	/*
	 * Format into copies first: <file> or an argument may point into
	 * <err> itself, as when a caller adds context to a message.
	 */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "%s", file ? file : "");
	memcpy(err->file, where, sizeof(where));
	err->line = line > 0 ? line : 0;
	err->col = err->line && col > 0 ? col : 0;
	memcpy(err->msg, msg, sizeof(msg));
	err->usage = 0;
	errno = saved_errno;
}

void
gw_error_sys(struct gw_error *err, const char *path, const char *what)
{
	int saved_errno = errno;

	gw_error_set(
	    err, NULL, 0, 0, "%s: %s: %s", path, what, strerror(saved_errno));
	errno = saved_errno;
}

void
gw_error_format(const struct gw_error *err, char *buf, size_t len)
{
	const char *sep = err->file[0] ? ":" : "";

	if (len == 0)
		return;
	if (err->line > 0 && err->col > 0)
		snprintf(buf, len, "%s%s%d:%d: %s", err->file, sep, err->line,
		    err->col, err->msg);
	else if (err->line > 0)
		snprintf(buf, len, "%s%s%d: %s", err->file, sep, err->line,
		    err->msg);
	else if (err->file[0])
		snprintf(buf, len, "%s: %s", err->file, err->msg);
	else
		snprintf(buf, len, "%s", err->msg);
}
