// SPDX-License-Identifier: MIT
/*
 * What a user sees of each replay: one table row (id, method, original
 * and new status, duration, path, and a note when something is worth
 * saying) or one JSON object per line with --format ndjson, the diff
 * after a row or inside the object with --diff, warnings on stderr, and
 * the summary line that cron mails.  The counters kept here decide the
 * exit status.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "gw-replay.h"
#include "log.h"
#include "timeutil.h"

#define W_ID     30
#define W_METHOD 7
#define W_STATUS 4
#define W_DUR    9

void
out_init(struct out *o, FILE *f, enum out_format fmt, int diff,
    const struct expect *x)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	o->format = fmt;
	o->tty = isatty(fileno(f));
	o->diff = diff;
	o->expect = x;
}

void
out_fini(struct out *o)
{
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < o->nwarned; i++)
		free(o->warned[i]);
	free(o->warned);
	o->warned = NULL;
	o->nwarned = 0;
}

/* Says once per name that a redacted header is not sent. */
static void
warn_dropped(struct out *o, const struct plan *p)
{
	size_t i, j;
	char **v;

	for (i = 0; i < p->ndropped; i++) {
		for (j = 0; j < o->nwarned; j++)
			if (strcasecmp(o->warned[j], p->dropped[i]) == 0)
				break;
		if (j < o->nwarned)
			continue;
		gw_warn("%s: %s was redacted in the capture and is not sent; "
		        "give its value with -H '%s: …' or --header-file, or "
		        "--remove-header %s to say it is not wanted",
		    p->id, p->dropped[i], p->dropped[i], p->dropped[i]);
		if ((v = reallocarray(o->warned, o->nwarned + 1, sizeof(*v))) ==
		    NULL)
			continue;
		o->warned = v;
		if ((v[o->nwarned] = strdup(p->dropped[i])) != NULL)
			o->nwarned++;
	}
}

static void
put_header(struct out *o)
{
	if (o->header_done || o->format != OUT_TABLE || !o->tty)
		return;
	o->header_done = 1;
	fprintf(o->f, "%-*s  %-*s  %*s  %*s  %*s  %s\n", W_ID, "ID", W_METHOD,
	    "METHOD", W_STATUS, "ORIG", W_STATUS, "NEW", W_DUR, "DURATION",
	    "PATH");
}

static void
status_text(char *buf, size_t len, int status)
{
	if (status > 0)
		snprintf(buf, len, "%d", status);
	else
		snprintf(buf, len, "-");
}

static void
put_row(struct out *o, const char *id, const char *method, int orig, int status,
    double total_s, const char *path, const char *note)
{
	char so[16], sn[16], dur[32];

	put_header(o);
	status_text(so, sizeof(so), orig);
	status_text(sn, sizeof(sn), status);
	gw_fmt_duration(
	    total_s >= 0 ? (int64_t)(total_s * 1e9) : -1, dur, sizeof(dur));
	/* "µ" is two bytes for one column. */
	fprintf(o->f, "%-*s  %-*s  %*s  %*s  %*s  %s%s%s\n", W_ID, id, W_METHOD,
	    method != NULL ? method : "-", W_STATUS, so, W_STATUS, sn,
	    W_DUR + (strstr(dur, "µ") != NULL), dur, path != NULL ? path : "-",
	    note[0] != '\0' ? "  " : "", note);
}

static json_t *
jstr_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
jstatus(int status)
{
	return status > 0 ? json_integer(status) : json_null();
}

/* The object of one replay, without the outcome's members. */
static json_t *
base_object(const char *id, const struct plan *p)
{
	json_t *o = json_object(), *d;
	size_t i;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(
	    o, "method", jstr_or_null(p != NULL ? p->method : NULL));
	json_object_set_new(o, "url", jstr_or_null(p != NULL ? p->url : NULL));
	json_object_set_new(
	    o, "path", jstr_or_null(p != NULL ? p->shown : NULL));
	json_object_set_new(
	    o, "original_status", jstatus(p != NULL ? p->orig_status : 0));
	d = json_array();
	for (i = 0; p != NULL && d != NULL && i < p->ndropped; i++)
		json_array_append_new(d, json_string(p->dropped[i]));
	json_object_set_new(o, "dropped_headers", d != NULL ? d : json_null());
	json_object_set_new(
	    o, "partial", json_boolean(p != NULL && p->partial));
	return o;
}

static void
put_json(struct out *o, json_t *j)
{
	if (j == NULL)
		return;
	json_dumpf(j, o->f, JSON_COMPACT);
	fputc('\n', o->f);
	json_decref(j);
}

/* The diff as text, or NULL. */
static char *
diff_string(const struct plan *p, const struct rp_res *res)
{
	char *text = NULL, label[80];
	size_t len = 0;
	FILE *m;

	if ((m = open_memstream(&text, &len)) == NULL)
		return NULL;
	snprintf(label, sizeof(label), "%s (original)", p->id);
	if (diff_write(m, &p->orig, label, res, "replay") == -1) {
		fclose(m);
		free(text);
		return NULL;
	}
	if (fclose(m) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

void
out_result(struct out *o, const struct plan *p, const struct outcome *r)
{
	struct gw_buf note;
	char *diff = NULL;
	size_t i;
	json_t *j;
	int met = r->error == NULL &&
	    expect_met(o->expect, r->status, p->orig_status);

	warn_dropped(o, p);
	if (r->error != NULL)
		o->errors++;
	else if (met)
		o->met++;
	else
		o->missed++;
	if (o->diff && r->res != NULL)
		diff = diff_string(p, r->res);
	if (o->format == OUT_NDJSON) {
		if ((j = base_object(p->id, p)) == NULL)
			goto out;
		json_object_set_new(j, "status", jstatus(r->status));
		json_object_set_new(j, "duration_ms",
		    r->total_s >= 0 ? json_real(round(r->total_s * 1e6) / 1e3)
		                    : json_null());
		json_object_set_new(j, "expected", json_boolean(met));
		json_object_set_new(j, "error", jstr_or_null(r->error));
		json_object_set_new(j, "refused", json_false());
		if (o->diff)
			json_object_set_new(j, "diff", jstr_or_null(diff));
		put_json(o, j);
		goto out;
	}
	gw_buf_init(&note, 4096);
	if (r->error != NULL)
		(void)gw_buf_printf(&note, "error: %s", r->error);
	else if (!met)
		(void)gw_buf_printf(&note, "not --expect %s", o->expect->text);
	if (p->partial)
		(void)gw_buf_printf(&note,
		    "%ssent incomplete (--allow-truncated)",
		    note.len > 0 ? "; " : "");
	for (i = 0; i < p->ndropped; i++) {
		const char *sep = i > 0 ? ", "
		    : note.len > 0      ? "; redacted, not sent: "
		                        : "redacted, not sent: ";

		(void)gw_buf_printf(&note, "%s%s", sep, p->dropped[i]);
	}
	(void)gw_buf_addc(&note, '\0');
	put_row(o, p->id, p->method, p->orig_status, r->status,
	    r->error != NULL && r->status == 0 ? -1 : r->total_s, p->shown,
	    note.len > 0 ? gw_buf_head(&note) : "");
	gw_buf_fini(&note);
	if (diff != NULL)
		fputs(diff, o->f);
out:
	free(diff);
	fflush(o->f);
}

void
out_refused(struct out *o, const char *id, const struct plan *p,
    const char *why, int missing)
{
	char note[600];
	json_t *j;

	if (missing) {
		o->missing++;
		gw_error("no such request: %s", id);
	} else {
		o->refused++;
		gw_error("%s: not replayed: %s", id, why);
	}
	if (o->format == OUT_NDJSON) {
		if ((j = base_object(id, p)) == NULL)
			return;
		json_object_set_new(j, "status", json_null());
		json_object_set_new(j, "duration_ms", json_null());
		json_object_set_new(j, "expected", json_false());
		json_object_set_new(
		    j, "error", json_string(missing ? "no such request" : why));
		json_object_set_new(j, "refused", json_true());
		put_json(o, j);
	} else {
		snprintf(note, sizeof(note), "%s%s",
		    missing ? "no such request" : "refused: ",
		    missing ? "" : why);
		put_row(o, id, p != NULL ? p->method : NULL,
		    p != NULL ? p->orig_status : 0, 0, -1,
		    p != NULL ? p->shown : NULL, note);
	}
	fflush(o->f);
}

void
out_bad_line(struct out *o, const char *name, uint64_t lineno, const char *why)
{
	/* As every stage reports them: the first ten, then only counted. */
	if (o->bad < 10)
		gw_warn("%s:%llu: %s; skipped", name,
		    (unsigned long long)lineno, why);
	o->bad++;
}

void
out_summary(const struct out *o, double elapsed_s)
{
	char bad[64] = "";

	if (o->bad > 0)
		snprintf(bad, sizeof(bad), ", %llu bad input lines",
		    (unsigned long long)o->bad);
	gw_info("%llu replayed: %llu as expected (--expect %s), %llu not, "
	        "%llu failed to get an answer; %llu refused, %llu not "
	        "found%s; %.2fs",
	    (unsigned long long)(o->met + o->missed + o->errors),
	    (unsigned long long)o->met, o->expect->text,
	    (unsigned long long)o->missed, (unsigned long long)o->errors,
	    (unsigned long long)o->refused, (unsigned long long)o->missing, bad,
	    elapsed_s);
}

int
out_exit_status(const struct out *o)
{
	if (o->refused > 0 || o->missing > 0 || o->bad > 0)
		return EX_DATAERR;
	if (o->missed > 0 || o->errors > 0)
		return EX_FAILED;
	return EX_OK;
}
