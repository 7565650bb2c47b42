/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics on stderr (see log.h).  A line is built whole in a stack
 * buffer and written with one write(2), so it never mixes with lines of
 * other processes and never needs memory that may have run out.  Messages
 * are cut at GW_LOG_MSG_MAX bytes and newlines in them become spaces, so
 * one call is always exactly one line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "json.h"
#include "log.h"

/* Longest message kept; a longer one is cut and ends in LOG_ELLIPSIS. */
#define GW_LOG_MSG_MAX 4096
#define LOG_ELLIPSIS   "\xe2\x80\xa6" /* U+2026 */
/* Longest program name kept. */
#define LOG_PROG_MAX 64
/* JSON escaping turns a byte into at most six ("\u001f"). */
#define LOG_LINE_MAX (6 * (GW_LOG_MSG_MAX + LOG_PROG_MAX) + 128)

static const char *log_prog = "gw";
static enum gw_log_level log_level = GW_LOG_INFO;
static enum gw_log_format log_format = GW_LOG_TEXT;

static const char *const log_names[] = {
	[GW_LOG_DEBUG] = "debug",
	[GW_LOG_INFO] = "info",
	[GW_LOG_WARNING] = "warning",
	[GW_LOG_ERROR] = "error",
};

void
gw_log_init(const char *prog)
{
	log_prog = prog != NULL ? prog : "gw";
}

void
gw_log_set_level(enum gw_log_level level)
{
	log_level = level;
}

void
gw_log_set_format(enum gw_log_format format)
{
	log_format = format;
}

int
gw_log_parse_format(const char *s, enum gw_log_format *format)
{
	if (s != NULL && strcmp(s, "text") == 0) {
		*format = GW_LOG_TEXT;
		return 0;
	}
	if (s != NULL && strcmp(s, "json") == 0) {
		*format = GW_LOG_JSON;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

int
gw_log_parse_level(const char *s, enum gw_log_level *level)
{
	static const char *const names[] = { [GW_LOG_DEBUG] = "debug",
		[GW_LOG_INFO] = "info",
		[GW_LOG_WARNING] = "warning",
		[GW_LOG_ERROR] = "error" };
	size_t i;

	for (i = 0; s != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*level = (enum gw_log_level)i;
			return 0;
		}
	errno = EINVAL;
	return -1;
}

int
gw_log_opt_level(void *conf, const char *value, struct gw_error *err)
{
	enum gw_log_level l;

	(void)conf;
	if (gw_log_parse_level(value, &l) == -1) {
		gw_error_set(
		    err, NULL, 0, 0, "must be debug, info, warning or error");
		return -1;
	}
	return 0;
}

int
gw_log_opt_format(void *conf, const char *value, struct gw_error *err)
{
	enum gw_log_format f;

	(void)conf;
	if (gw_log_parse_format(value, &f) == -1) {
		gw_error_set(err, NULL, 0, 0, "must be text or json");
		return -1;
	}
	return 0;
}

void
gw_log_apply(const char *level, const char *format)
{
	enum gw_log_level l;
	enum gw_log_format f;

	if (gw_log_parse_level(level, &l) == 0)
		gw_log_set_level(l);
	if (gw_log_parse_format(format, &f) == 0)
		gw_log_set_format(f);
}

/* A bounded string builder over a caller's array; excess is dropped. */
struct line {
	char *p;
	size_t len;
	size_t cap;
};

static void
line_add(struct line *l, const char *s, size_t n)
{
	if (n > l->cap - l->len)
		n = l->cap - l->len;
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void
line_adds(struct line *l, const char *s)
{
	line_add(l, s, strlen(s));
}

/*
 * Appends <s> as the inside of a JSON string: quotes, backslashes and
 * control characters escaped, invalid UTF-8 replaced by U+FFFD so that
 * every line is valid JSON whatever the message held.
 */
static void
line_add_json(struct line *l, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	char esc[6];
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = gw_utf8_seq(s + i, s + n);
		if (k == 0) {
			line_adds(l, "\\ufffd");
			k = 1;
		} else if (k > 1 ||
		    (u[i] >= 0x20 && u[i] < 0x7f && u[i] != '"' &&
		        u[i] != '\\'))
			line_add(l, s + i, k);
		else if (u[i] == '"')
			line_adds(l, "\\\"");
		else if (u[i] == '\\')
			line_adds(l, "\\\\");
		else if (u[i] == '\n')
			line_adds(l, "\\n");
		else if (u[i] == '\r')
			line_adds(l, "\\r");
		else if (u[i] == '\t')
			line_adds(l, "\\t");
		else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[u[i] >> 4];
			esc[5] = hex[u[i] & 0xf];
			line_add(l, esc, sizeof(esc));
		}
	}
}

/* Appends the current time as RFC 3339 UTC with microseconds. */
static void
line_add_ts(struct line *l)
{
	struct timespec ts;
	struct tm tm;
	char tmp[64];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000);
	if (n > 0 && (size_t)n < sizeof(tmp))
		line_add(l, tmp, (size_t)n);
}

/*
 * Formats the message into <msg> (GW_LOG_MSG_MAX + 1 bytes) and returns its
 * length: trailing newlines dropped, inner ones turned into spaces, and a
 * message too long cut on a character boundary with an ellipsis.
 */
static size_t
msg_format(char *, const char *, va_list) __attribute__((format(printf, 2, 0)));

static size_t
msg_format(char *msg, const char *fmt, va_list ap)
{
	size_t len, i;
	int n;

	n = vsnprintf(msg, GW_LOG_MSG_MAX + 1, fmt, ap);
	if (n < 0) {
		len = strlen("(bad log format)");
		memcpy(msg, "(bad log format)", len);
		return len;
	}
	len = (size_t)n;
	while (len > 0 && len <= GW_LOG_MSG_MAX &&
	    (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		len--;
	if (len > GW_LOG_MSG_MAX) {
		len = GW_LOG_MSG_MAX - (sizeof(LOG_ELLIPSIS) - 1);
		/* Do not split a UTF-8 sequence: back up to its lead byte. */
		while (len > 0 && ((unsigned char)msg[len] & 0xc0) == 0x80)
			len--;
		memcpy(msg + len, LOG_ELLIPSIS, sizeof(LOG_ELLIPSIS) - 1);
		len += sizeof(LOG_ELLIPSIS) - 1;
	}
	for (i = 0; i < len; i++)
		if (msg[i] == '\n' || msg[i] == '\r')
			msg[i] = ' ';
	return len;
}

void
gw_log(enum gw_log_level level, const char *fmt, ...)
{
	char msg[GW_LOG_MSG_MAX + 1], buf[LOG_LINE_MAX];
	struct line l = { buf, 0, sizeof(buf) - 1 };
	const char *name;
	size_t len, off, plen;
	ssize_t w;
	va_list ap;
	int saved_errno = errno;

	if (level < log_level)
		return;
	name = "error";
	if ((unsigned)level < sizeof(log_names) / sizeof(log_names[0]))
		name = log_names[level];
	va_start(ap, fmt);
	len = msg_format(msg, fmt, ap);
	va_end(ap);
	plen = strnlen(log_prog, LOG_PROG_MAX);

	if (log_format == GW_LOG_JSON) {
		line_adds(&l, "{\"ts\":\"");
		line_add_ts(&l);
		line_adds(&l, "\",\"prog\":\"");
		line_add_json(&l, log_prog, plen);
		line_adds(&l, "\",\"level\":\"");
		line_adds(&l, name);
		line_adds(&l, "\",\"msg\":\"");
		line_add_json(&l, msg, len);
		line_adds(&l, "\"}");
	} else {
		line_add(&l, log_prog, plen);
		line_adds(&l, ": ");
		line_adds(&l, name);
		line_adds(&l, ": ");
		line_add(&l, msg, len);
	}
	/* Room for the newline was kept out of l.cap. */
	buf[l.len++] = '\n';

	/* One write; the loop only finishes a write a signal interrupted. */
	for (off = 0; off < l.len; off += (size_t)w) {
		w = write(STDERR_FILENO, buf + off, l.len - off);
		if (w == -1) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			break;
		}
	}
	errno = saved_errno;
}
