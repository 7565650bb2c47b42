// SPDX-License-Identifier: MIT
/*
 * gw-capture list and tail: the inspector's request list.  Both walk the
 * store with a cursor, decide each event from its index summary when the
 * query allows (lib/query.h), and decompress and parse only the events
 * that may match and are printed.  list goes newest first and stops at
 * --limit; tail starts at the end (or at --since) and polls the store for
 * what another gw-capture commits, like tail -f.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evsum.h"
#include "gw-capture.h"
#include "log.h"
#include "query.h"
#include "store.h"
#include "timeutil.h"
#include "xchg.h"

#define TAIL_POLL_MS 200

enum out_format { OUT_TABLE, OUT_NDJSON, OUT_JSON };

static int
format_of(const char *s, int allow_json, enum out_format *f)
{
	if (strcmp(s, "table") == 0)
		*f = OUT_TABLE;
	else if (strcmp(s, "ndjson") == 0)
		*f = OUT_NDJSON;
	else if (allow_json && strcmp(s, "json") == 0)
		*f = OUT_JSON;
	else
		return -1;
	return 0;
}

/* Column widths: time, client, method, host, status, duration, error. */
#define W_TIME   23
#define W_IP     15
#define W_METHOD 7
#define W_HOST   20
#define W_STATUS 3
#define W_DUR    8
#define W_ERR    22
#define W_ID     30

void
list_header(FILE *f, const struct cap_style *st)
{
	fprintf(f, "%s%-*s  %-*s  %-*s  %-*s  %-*s  %*s  %-*s  %s%s\n",
	    st->bold, W_TIME, "TIME", W_IP, "CLIENT", W_METHOD, "METHOD",
	    W_HOST, "HOST", W_STATUS, "ST", W_DUR, "DURATION", W_ERR, "ERROR",
	    "PATH  ID", st->reset);
}

/*
 * <s> in <w> display columns: padded, or cut with a '~' (a character
 * is a UTF-8 sequence, "µs" two columns, and is never cut in half).
 */
static void
put_col(FILE *f, const char *s, int w, int left)
{
	size_t i, cut = 0;
	int cols = 0;

	for (i = 0; s[i] != '\0'; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (cols == w - 1)
				cut = i;
			cols++;
		}
	if (cols > w) {
		fprintf(f, "%.*s~", (int)cut, s);
		return;
	}
	if (left)
		fprintf(f, "%s%*s", s, w - cols, "");
	else
		fprintf(f, "%*s%s", w - cols, "", s);
}

void
list_row(FILE *f, const char *line, size_t len, const struct cap_style *st)
{
	json_error_t jerr;
	struct gw_xchg x;
	json_t *ev;
	char when[40], dur[32], status[8];
	const char *ts, *type, *path;
	int path_w;

	ev = json_loadb(line, len, 0, &jerr);
	if (ev == NULL)
		return;
	ts = json_string_value(json_object_get(ev, "event_timestamp"));
	/* "2026-11-24T16:08:46.123456Z" shown as "2026-11-24 16:08:46.123". */
	snprintf(when, sizeof(when), "%.10s %.12s", ts ? ts : "-",
	    ts && strlen(ts) > 11 ? ts + 11 : "");
	if (gw_xchg_from_json(&x, ev) == -1) {
		/* Not an exchange: its type where the request would be. */
		type = json_string_value(json_object_get(ev, "event_type"));
		put_col(f, when, W_TIME, 1);
		fprintf(
		    f, "  %s%s%s  ", st->cyan, type ? type : "?", st->reset);
		type = json_string_value(json_object_get(ev, "event_id"));
		fprintf(f, "%s\n", type ? type : "");
		gw_xchg_fini(&x);
		json_decref(ev);
		return;
	}
	gw_fmt_duration(x.duration_ns, dur, sizeof(dur));
	snprintf(status, sizeof(status), "%d", x.status);
	put_col(f, when, W_TIME, 1);
	fputs("  ", f);
	put_col(f, x.client_ip ? x.client_ip : "-", W_IP, 1);
	fputs("  ", f);
	put_col(f, x.method, W_METHOD, 1);
	fputs("  ", f);
	put_col(f, x.host ? x.host : "-", W_HOST, 1);
	fprintf(f, "  %s", cap_status_color(st, x.status));
	put_col(f, x.status ? status : "-", W_STATUS, 1);
	fprintf(f, "%s  ", st->reset);
	put_col(f, dur, W_DUR, 0);
	fputs("  ", f);
	if (x.error_code != NULL)
		fputs(st->red, f);
	put_col(f, x.error_code ? x.error_code : "", W_ERR, 1);
	fprintf(f, "%s  ", x.error_code ? st->reset : "");
	path = x.path ? x.path : "/";
	/* On a terminal the path takes what is left beside the id. */
	path_w = st->width > 0 ? st->width -
	        (W_TIME + W_IP + W_METHOD + W_HOST + W_STATUS + W_DUR + W_ERR +
	            7 * 2 + 2 + W_ID)
	                       : 0;
	if (path_w >= 8) {
		char full[2048];

		snprintf(full, sizeof(full), "%s%s%s", path,
		    x.query && x.query[0] ? "?" : "", x.query ? x.query : "");
		put_col(f, full, path_w, 1);
	} else
		fprintf(f, "%s%s%s", path, x.query && x.query[0] ? "?" : "",
		    x.query ? x.query : "");
	fprintf(f, "  %s%s%s\n", st->dim, x.id ? x.id : "", st->reset);
	gw_xchg_fini(&x);
	json_decref(ev);
}

/*
 * Whether the cursor's current event is one to print.  Returns 1 or 0,
 * -1 on a read error; <line> is set when the event had to be read.
 */
static int
wanted(const struct capconf *c, const struct gw_query *q,
    struct gw_store_cur *cur, const struct gw_evsum *sum, const char **line,
    size_t *len)
{
	int r, t;

	*line = NULL;
	t = cap_type_ok(c, sum, NULL, 0);
	if (t == 0)
		return 0;
	r = gw_query_match_sum(q, sum);
	if (r == 0)
		return 0;
	if (r == 1 && t == 1)
		return 1;
	if (gw_store_cur_line(cur, line, len) == -1)
		return errno == EBADMSG ? 0 : -1;
	if (t == -1 && !cap_type_ok(c, sum, *line, *len))
		return 0;
	return r == 1 || gw_query_match_line(q, *line, *len);
}

static int
print_one(enum out_format f, struct gw_store_cur *cur, const char *line,
    size_t len, const struct cap_style *st, int first)
{
	if (line == NULL && gw_store_cur_line(cur, &line, &len) == -1)
		return errno == EBADMSG ? 0 : -1;
	switch (f) {
	case OUT_TABLE:
		list_row(stdout, line, len, st);
		break;
	case OUT_NDJSON:
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
		break;
	case OUT_JSON:
		fputs(first ? "[\n" : ",\n", stdout);
		fwrite(line, 1, len, stdout);
		break;
	}
	return 0;
}

int
list_main(struct capconf *c, struct gw_query *q)
{
	const struct gw_evsum *sum;
	struct gw_store_cur *cur;
	struct gw_store *s;
	struct cap_style st;
	enum out_format f;
	const char *line;
	size_t len;
	long long n = 0;
	int r, rc = EX_OK;

	if (format_of(c->format, 1, &f) == -1) {
		gw_error("list: --format must be table, ndjson or json");
		return EX_USAGE;
	}
	cap_style_init(&st, stdout, c);
	if ((s = cap_open_store(c, 0)) == NULL)
		return EX_IOERR;
	cur = gw_store_cur_new(s, c->since_us, c->until_us, GW_CUR_REVERSE);
	if (cur == NULL) {
		gw_error("list: %s: %s", c->store, strerror(errno));
		gw_store_close(s);
		return EX_IOERR;
	}
	if (f == OUT_TABLE && st.tty)
		list_header(stdout, &st);
	while (c->limit == 0 || n < c->limit) {
		r = gw_store_cur_next(cur, &sum);
		if (r == 0)
			break;
		if (r == -1) {
			gw_error("list: %s: %s", c->store, strerror(errno));
			rc = EX_IOERR;
			break;
		}
		r = wanted(c, q, cur, sum, &line, &len);
		if (r == 0)
			continue;
		if (r == -1 || print_one(f, cur, line, len, &st, n == 0)) {
			gw_error("list: %s: %s", c->store, strerror(errno));
			rc = EX_IOERR;
			break;
		}
		n++;
		if (ferror(stdout))
			break;
	}
	if (f == OUT_JSON)
		fputs(n == 0 ? "[]\n" : "\n]\n", stdout);
	if (gw_store_cur_skipped(cur) > 0)
		gw_warn("list: %llu damaged frames were skipped",
		    (unsigned long long)gw_store_cur_skipped(cur));
	gw_store_cur_free(cur);
	gw_store_close(s);
	if (fflush(stdout) == EOF && errno != EPIPE)
		rc = EX_IOERR;
	return rc;
}

static volatile sig_atomic_t stopping;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

int
tail_main(struct capconf *c, struct gw_query *q)
{
	const struct gw_evsum *sum;
	struct gw_store_cur *cur;
	struct gw_store *s;
	struct cap_style st;
	struct sigaction sa;
	struct timespec ts = { 0, TAIL_POLL_MS * 1000000L };
	enum out_format f;
	const char *line;
	size_t len;
	int r, rc = EX_OK;

	if (format_of(c->format, 0, &f) == -1) {
		gw_error("tail: --format must be table or ndjson");
		return EX_USAGE;
	}
	cap_style_init(&st, stdout, c);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((s = cap_open_store(c, 0)) == NULL)
		return EX_IOERR;
	cur = gw_store_cur_new(s, c->since != NULL ? c->since_us : INT64_MIN,
	    INT64_MAX, c->since != NULL ? 0 : GW_CUR_TAIL);
	if (cur == NULL) {
		gw_error("tail: %s: %s", c->store, strerror(errno));
		gw_store_close(s);
		return EX_IOERR;
	}
	if (f == OUT_TABLE && st.tty)
		list_header(stdout, &st);
	while (!stopping) {
		r = gw_store_cur_next(cur, &sum);
		if (r == -1) {
			gw_error("tail: %s: %s", c->store, strerror(errno));
			rc = EX_IOERR;
			break;
		}
		if (r == 0) {
			if (fflush(stdout) == EOF)
				break; /* the reader went away */
			if (gw_store_cur_refresh(cur) == 1)
				continue;
			nanosleep(&ts, NULL);
			continue;
		}
		r = wanted(c, q, cur, sum, &line, &len);
		if (r == 1 && print_one(f, cur, line, len, &st, 0) == -1)
			r = -1;
		if (r == -1) {
			gw_error("tail: %s: %s", c->store, strerror(errno));
			rc = EX_IOERR;
			break;
		}
		if (ferror(stdout))
			break;
	}
	gw_store_cur_free(cur);
	gw_store_close(s);
	(void)fflush(stdout);
	return rc;
}
