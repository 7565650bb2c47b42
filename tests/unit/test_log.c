/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/log.c: fd 2 is swapped for a pipe and the exact bytes
 * checked, in text ("prog: level: message") and in JSON, with level
 * filtering, newlines flattened, long messages cut with an ellipsis on a
 * character boundary, JSON escaping, and errno left as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "harness.h"
#include "log.h"

#define ELLIPSIS "\xe2\x80\xa6"

static int cap_pipe[2] = { -1, -1 };
static int cap_saved = -1;
static char cap_buf[65536];

/* Sends fd 2 into a pipe.  No CHECK() until capture_end(): it prints there. */
static int
capture_start(void)
{
	if (pipe2(cap_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	/* Room for the longest JSON line a test writes. */
	(void)fcntl(cap_pipe[1], F_SETPIPE_SZ, 1 << 16);
	cap_saved = dup(STDERR_FILENO);
	if (cap_saved == -1 || dup2(cap_pipe[1], STDERR_FILENO) == -1)
		return -1;
	return 0;
}

/* Restores fd 2 and returns what was written, NUL-terminated. */
static const char *
capture_end(void)
{
	size_t len = 0;
	ssize_t n;

	dup2(cap_saved, STDERR_FILENO);
	close(cap_saved);
	close(cap_pipe[1]);
	while (len < sizeof(cap_buf) - 1) {
		n = read(cap_pipe[0], cap_buf + len, sizeof(cap_buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(cap_pipe[0]);
	cap_buf[len] = '\0';
	return cap_buf;
}

TEST(test_text)
{
	const char *out;

	gw_log_init("gw-test");
	gw_log_set_format(GW_LOG_TEXT);
	gw_log_set_level(GW_LOG_INFO);
	CHECK(capture_start() == 0);
	gw_warn("upstream %s: %s", "127.0.0.1:3000", "Connection refused");
	gw_debug("not shown at info");
	gw_info("a\nb\r\nc\n");
	gw_error("%d%%", 100);
	out = capture_end();
	CHECK_STREQ(out,
	    "gw-test: warning: upstream 127.0.0.1:3000: Connection refused\n"
	    "gw-test: info: a b  c\n"
	    "gw-test: error: 100%\n");
}

TEST(test_levels)
{
	const char *out;

	gw_log_init("gw-test");
	gw_log_set_format(GW_LOG_TEXT);
	CHECK(capture_start() == 0);
	gw_log_set_level(GW_LOG_DEBUG);
	gw_debug("d1");
	gw_log_set_level(GW_LOG_ERROR);
	gw_debug("d2");
	gw_info("i2");
	gw_warn("w2");
	gw_error("e2");
	gw_log_set_level(GW_LOG_WARNING);
	gw_info("i3");
	gw_warn("w3");
	out = capture_end();
	CHECK_STREQ(out,
	    "gw-test: debug: d1\n"
	    "gw-test: error: e2\n"
	    "gw-test: warning: w3\n");
	gw_log_set_level(GW_LOG_INFO);
}

TEST(test_long)
{
	static char msg[6001], want[4200];
	const char *out;
	size_t i;

	gw_log_init("p");
	gw_log_set_format(GW_LOG_TEXT);
	/* 4096 bytes exactly: kept whole. */
	memset(msg, 'a', 4096);
	msg[4096] = '\0';
	CHECK(capture_start() == 0);
	gw_info("%s", msg);
	out = capture_end();
	CHECK(strlen(out) == strlen("p: info: ") + 4096 + 1);
	CHECK(strncmp(out, "p: info: aaaa", 13) == 0);

	/* One more: cut to 4096 bytes ending in an ellipsis. */
	msg[4096] = 'b';
	msg[4097] = '\0';
	CHECK(capture_start() == 0);
	gw_info("%s", msg);
	out = capture_end();
	memcpy(want, "p: info: ", 9);
	memset(want + 9, 'a', 4093);
	memcpy(want + 9 + 4093, ELLIPSIS "\n", 5);
	CHECK_STREQ(out, want);

	/* Two-byte characters: never cut in the middle of one. */
	for (i = 0; i < 6000; i += 2)
		memcpy(msg + i, "\xc3\xa9", 2);
	msg[6000] = '\0';
	CHECK(capture_start() == 0);
	gw_info("%s", msg);
	out = capture_end();
	CHECK(strlen(out) == 9 + 4092 + 3 + 1);
	CHECK(memcmp(out + 9 + 4090, "\xc3\xa9" ELLIPSIS "\n", 6) == 0);
	/* Long and with newlines: still exactly one line. */
	for (i = 0; i < 6000; i++)
		msg[i] = i % 100 == 99 ? '\n' : 'x';
	CHECK(capture_start() == 0);
	gw_info("%s", msg);
	out = capture_end();
	CHECK(strchr(out, '\n') == out + strlen(out) - 1);
}

/* Checks "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" and that it is about now. */
static int
ts_ok(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	struct tm tm;
	time_t t;
	size_t i;

	for (i = 0; i < sizeof(pat) - 1; i++) {
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return 0;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	t = timegm(&tm);
	/* Generous: a loaded machine may be slow between the two clocks. */
	return labs((long)(t - time(NULL))) < 300;
}

TEST(test_json)
{
	const char *out, *rest;
	size_t pre = strlen("{\"ts\":\"");

	gw_log_init("gw-\"test\"");
	gw_log_set_format(GW_LOG_JSON);
	gw_log_set_level(GW_LOG_INFO);
	CHECK(capture_start() == 0);
	gw_error("say \"hi\" \\ \t\x01\x1f caf\xc3\xa9 \xff\xfe end\nnext\n");
	out = capture_end();
	CHECK(strncmp(out, "{\"ts\":\"", pre) == 0);
	CHECK(strlen(out) > pre + 27 && ts_ok(out + pre));
	rest = strlen(out) > pre + 27 ? out + pre + 27 : "";
	CHECK_STREQ(rest,
	    "\",\"prog\":\"gw-\\\"test\\\"\",\"level\":\"error\","
	    "\"msg\":\"say \\\"hi\\\" \\\\ \\t\\u0001\\u001f caf\xc3\xa9 "
	    "\\ufffd\\ufffd end next\"}\n");

	/* Invalid UTF-8 of every kind becomes U+FFFD, byte by byte. */
	gw_log_init("p");
	CHECK(capture_start() == 0);
	gw_warn("%s",
	    "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82|"
	    "\xf0\x9f\x98\x80");
	out = capture_end();
	rest = strlen(out) > pre + 27 ? out + pre + 27 : "";
	CHECK_STREQ(rest,
	    "\",\"prog\":\"p\",\"level\":\"warning\",\"msg\":\""
	    "\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
	    "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|"
	    "\xf0\x9f\x98\x80\"}\n");
	gw_log_set_format(GW_LOG_TEXT);
}

TEST(test_errno_and_parse)
{
	enum gw_log_format f = GW_LOG_TEXT;
	const char *out;
	int e;

	gw_log_init("p");
	gw_log_set_format(GW_LOG_TEXT);
	CHECK(capture_start() == 0);
	errno = ENOENT;
	gw_warn("open x: %s", strerror(ENOENT));
	e = errno;
	errno = EIO;
	gw_debug("dropped");
	out = capture_end();
	CHECK(e == ENOENT);
	CHECK(errno == EIO);
	CHECK_STREQ(out, "p: warning: open x: No such file or directory\n");

	CHECK(gw_log_parse_format("json", &f) == 0 && f == GW_LOG_JSON);
	CHECK(gw_log_parse_format("text", &f) == 0 && f == GW_LOG_TEXT);
	errno = 0;
	CHECK(gw_log_parse_format("xml", &f) == -1 && errno == EINVAL);
	CHECK(gw_log_parse_format("JSON", &f) == -1 && f == GW_LOG_TEXT);
}

/* --log-level and --log-format as every tool reads them. */
TEST(test_level_options)
{
	enum gw_log_level l = GW_LOG_INFO;
	struct gw_error err;
	const char *out;

	CHECK(gw_log_parse_level("debug", &l) == 0 && l == GW_LOG_DEBUG);
	CHECK(gw_log_parse_level("error", &l) == 0 && l == GW_LOG_ERROR);
	CHECK(gw_log_parse_level("warning", &l) == 0 && l == GW_LOG_WARNING);
	CHECK(gw_log_parse_level("warn", &l) == -1 && l == GW_LOG_WARNING);
	CHECK(gw_log_parse_level(NULL, &l) == -1);
	memset(&err, 0, sizeof(err));
	CHECK(gw_log_opt_level(NULL, "info", &err) == 0);
	CHECK(gw_log_opt_level(NULL, "Info", &err) == -1);
	CHECK_STREQ(err.msg, "must be debug, info, warning or error");
	memset(&err, 0, sizeof(err));
	CHECK(gw_log_opt_format(NULL, "json", &err) == 0);
	CHECK(gw_log_opt_format(NULL, "xml", &err) == -1);
	CHECK_STREQ(err.msg, "must be text or json");

	/* Applied: warnings and up; NULL and bad values change nothing. */
	gw_log_init("p");
	gw_log_apply("warning", "text");
	gw_log_apply(NULL, "yaml");
	CHECK(capture_start() == 0);
	gw_info("hidden");
	gw_warn("shown");
	out = capture_end();
	CHECK_STREQ(out, "p: warning: shown\n");
	gw_log_apply("info", NULL);
}

int
main(void)
{
	RUN(test_text);
	RUN(test_levels);
	RUN(test_long);
	RUN(test_json);
	RUN(test_errno_and_parse);
	RUN(test_level_options);
	return harness_done();
}
