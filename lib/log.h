/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics on stderr, one line each so that grep finds them:
 *   gw-proxy: warning: upstream 127.0.0.1:3000: Connection refused
 * or, with GW_LOG_JSON, one JSON object per line:
 *   {"ts":"…","prog":"gw-proxy","level":"warning","msg":"…"}
 * Lines are written with a single write(2), so lines from several
 * processes sharing a terminal never interleave.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

enum gw_log_level {
	GW_LOG_DEBUG,
	GW_LOG_INFO,
	GW_LOG_WARNING,
	GW_LOG_ERROR,
};

enum gw_log_format {
	GW_LOG_TEXT,
	GW_LOG_JSON,
};

/* Sets the program name shown on every line (a static string). */
void gw_log_init(const char *prog);
/* Lines below <level> are dropped; the default is GW_LOG_INFO. */
void gw_log_set_level(enum gw_log_level);
void gw_log_set_format(enum gw_log_format);
/* Parses "text"/"json"; returns 0 or -1. */
int gw_log_parse_format(const char *, enum gw_log_format *);
/* Parses "debug"/"info"/"warning"/"error"; returns 0 or -1. */
int gw_log_parse_level(const char *, enum gw_log_level *);

struct gw_error;
/*
 * Checks for lib/opts' tables (struct gw_opt's custom), so that every
 * tool refuses --log-level and --log-format values the same way.
 */
int gw_log_opt_level(void *conf, const char *value, struct gw_error *err);
int gw_log_opt_format(void *conf, const char *value, struct gw_error *err);
/*
 * Applies --log-level and --log-format as given (NULL, or a value that
 * does not parse, leaves that setting as it is).
 */
void gw_log_apply(const char *level, const char *format);

void gw_log(enum gw_log_level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define gw_debug(...) gw_log(GW_LOG_DEBUG, __VA_ARGS__)
#define gw_info(...)  gw_log(GW_LOG_INFO, __VA_ARGS__)
#define gw_warn(...)  gw_log(GW_LOG_WARNING, __VA_ARGS__)
#define gw_error(...) gw_log(GW_LOG_ERROR, __VA_ARGS__)

#endif
