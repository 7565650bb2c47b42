// SPDX-License-Identifier: MIT
/*
 * --diff: the original response against the replay's, in the shape of a
 * unified diff so that eyes and tools used to `diff -u` read it at once:
 * the status line, the headers (all shown, changes marked), and the body
 * in hunks with three lines of context when both bodies are text, or by
 * length and SHA-256 when either is binary.  Lines are matched by a
 * longest-common-subsequence table over what differs between the common
 * head and tail, within a fixed size; past it the middle is shown as
 * removed and then added, which is still a correct diff, only not the
 * shortest.  Secrets stay hidden: a header redacted in the capture, or
 * one gw-proxy redacts by default, is redacted in the replay's too.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "event.h"
#include "gw-replay.h"
#include "http.h"
#include "json.h"

/* Cells of the LCS table (uint16_t each): 2 MiB at most. */
#define DIFF_CELLS (1u << 20)
#define CONTEXT    3

struct line {
	const char *p;
	size_t n;
};

/* An edit script: '=' (both), '-' (a only), '+' (b only). */
struct script {
	char *op;
	size_t n, cap;
};

static int
script_add(struct script *s, char op)
{
	char *v;
	size_t cap;

	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 64;
		if ((v = realloc(s->op, cap)) == NULL)
			return -1;
		s->op = v;
		s->cap = cap;
	}
	s->op[s->n++] = op;
	return 0;
}

static int
line_eq(const struct line *a, const struct line *b)
{
	return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/*
 * The edit script turning a[0..na) into b[0..nb): the common head and
 * tail as they are, the middle by LCS when its table fits.
 */
static int
lines_diff(const struct line *a, size_t na, const struct line *b, size_t nb,
    struct script *s)
{
	size_t head = 0, tail = 0, ma, mb, i, j, w;
	uint16_t *t = NULL;
	int r = 0;

	while (head < na && head < nb && line_eq(&a[head], &b[head]))
		head++;
	while (tail < na - head && tail < nb - head &&
	    line_eq(&a[na - 1 - tail], &b[nb - 1 - tail]))
		tail++;
	ma = na - head - tail;
	mb = nb - head - tail;
	for (i = 0; i < head; i++)
		r |= script_add(s, '=');
	if (ma > 0 && mb > 0 && (ma + 1) <= DIFF_CELLS / (mb + 1))
		t = calloc((ma + 1) * (mb + 1), sizeof(*t));
	if (t != NULL) {
		const struct line *ca = a + head, *cb = b + head;

		/* t[i][j]: LCS length of ca[i..] and cb[j..]. */
		w = mb + 1;
		for (i = ma; i-- > 0;)
			for (j = mb; j-- > 0;)
				if (line_eq(&ca[i], &cb[j]))
					t[i * w + j] =
					    t[(i + 1) * w + j + 1] + 1;
				else if (t[(i + 1) * w + j] >= t[i * w + j + 1])
					t[i * w + j] = t[(i + 1) * w + j];
				else
					t[i * w + j] = t[i * w + j + 1];
		i = j = 0;
		while (i < ma && j < mb) {
			if (line_eq(&ca[i], &cb[j])) {
				r |= script_add(s, '=');
				i++;
				j++;
			} else if (t[(i + 1) * w + j] >= t[i * w + j + 1]) {
				r |= script_add(s, '-');
				i++;
			} else {
				r |= script_add(s, '+');
				j++;
			}
		}
		for (; i < ma; i++)
			r |= script_add(s, '-');
		for (; j < mb; j++)
			r |= script_add(s, '+');
		free(t);
	} else {
		for (i = 0; i < ma; i++)
			r |= script_add(s, '-');
		for (j = 0; j < mb; j++)
			r |= script_add(s, '+');
	}
	for (i = 0; i < tail; i++)
		r |= script_add(s, '=');
	return r == 0 ? 0 : -1;
}

/* Splits <p>/<n> into lines without their "\n" (or "\r\n"). */
static struct line *
split_lines(const char *p, size_t n, size_t *count)
{
	struct line *v;
	size_t i, k = 0, start = 0, max = 1;

	for (i = 0; i < n; i++)
		max += p[i] == '\n';
	if ((v = calloc(max, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != '\n')
			continue;
		if (i == n && start == n)
			break;
		v[k].p = p + start;
		v[k].n = i - start;
		if (v[k].n > 0 && v[k].p[v[k].n - 1] == '\r')
			v[k].n--;
		k++;
		start = i + 1;
	}
	*count = k;
	return v;
}

static void
put_line(FILE *f, char mark, const struct line *l)
{
	fputc(mark, f);
	gw_put_safe(f, (const unsigned char *)l->p, l->n);
	fputc('\n', f);
}

/* Every line, changes marked: for the few lines of a header section. */
static void
put_all(
    FILE *f, const struct script *s, const struct line *a, const struct line *b)
{
	size_t k, i = 0, j = 0;

	for (k = 0; k < s->n; k++)
		if (s->op[k] == '=') {
			put_line(f, ' ', &a[i++]);
			j++;
		} else if (s->op[k] == '-')
			put_line(f, '-', &a[i++]);
		else
			put_line(f, '+', &b[j++]);
}

/* Hunks with CONTEXT lines around each change, as diff -u prints them. */
static void
put_hunks(
    FILE *f, const struct script *s, const struct line *a, const struct line *b)
{
	size_t k = 0, start, end, last, i, j, ai = 0, bj = 0, na, nb, q;

	while (k < s->n) {
		/* The next change. */
		for (start = k; start < s->n && s->op[start] == '='; start++)
			;
		if (start == s->n)
			return;
		/* Extend while the next change is within 2 * CONTEXT. */
		last = start;
		for (end = start; end < s->n; end++) {
			if (s->op[end] != '=')
				last = end;
			else if (end - last > 2 * CONTEXT)
				break;
		}
		end = last + 1 + CONTEXT < s->n ? last + 1 + CONTEXT : s->n;
		start = start > k + CONTEXT ? start - CONTEXT : k;
		/* Line numbers where the hunk starts. */
		for (q = k; q < start; q++) {
			ai += s->op[q] != '+';
			bj += s->op[q] != '-';
		}
		na = nb = 0;
		for (q = start; q < end; q++) {
			na += s->op[q] != '+';
			nb += s->op[q] != '-';
		}
		fprintf(f, "@@ -%zu,%zu +%zu,%zu @@\n", na ? ai + 1 : ai, na,
		    nb ? bj + 1 : bj, nb);
		i = ai;
		j = bj;
		for (q = start; q < end; q++)
			if (s->op[q] == '=') {
				put_line(f, ' ', &a[i++]);
				j++;
			} else if (s->op[q] == '-')
				put_line(f, '-', &a[i++]);
			else
				put_line(f, '+', &b[j++]);
		ai = i;
		bj = j;
		k = end;
	}
}

/* ---- status and headers ------------------------------------------------ */

static void
status_line(char *buf, size_t len, int status)
{
	if (status == 0)
		snprintf(buf, len, "(no response)");
	else
		snprintf(buf, len, "%d %s", status, gw_http_reason(status));
}

/*
 * Fields that differ on every exchange (Date), describe the path taken
 * (Via: the capture holds the upstream's answer, a replay through
 * gw-proxy sees the proxy's) or the connection (hop-by-hop).
 */
static int
noise(const char *name)
{
	return strcasecmp(name, "Date") == 0 || strcasecmp(name, "Via") == 0 ||
	    gw_http_hop_by_hop(name, strlen(name), NULL, 0);
}

/* Redacted in the capture (<a>), or by gw-proxy's default list. */
static int
secret(const struct rp_res *a, const char *name)
{
	size_t i;

	if (gw_redact_match(&gw_redact_default, name, strlen(name)))
		return 1;
	for (i = 0; i < a->nhdrs; i++)
		if (strcasecmp(a->hdrs[i].name, name) == 0 &&
		    strcmp(a->hdrs[i].value, GW_REDACTED) == 0)
			return 1;
	return 0;
}

/*
 * "Name: value" lines of <r> in one buffer: names canonical, fields of
 * one name together in order of first appearance (as events keep them),
 * noise left out, secrets redacted.
 */
static char *
header_text(const struct rp_res *r, const struct rp_res *a, size_t *len)
{
	size_t i, j, n;
	char *text = NULL, canon[256];
	FILE *m;

	if ((m = open_memstream(&text, len)) == NULL)
		return NULL;
	for (i = 0; i < r->nhdrs; i++) {
		const char *name = r->hdrs[i].name;

		if (noise(name))
			continue;
		for (j = 0; j < i; j++)
			if (strcasecmp(r->hdrs[j].name, name) == 0)
				break;
		if (j < i)
			continue;
		n = strlen(name) < sizeof(canon) ? strlen(name)
		                                 : sizeof(canon) - 1;
		gw_header_canon(name, n, canon);
		canon[n] = '\0';
		for (j = i; j < r->nhdrs; j++)
			if (strcasecmp(r->hdrs[j].name, name) == 0)
				fprintf(m, "%s: %s\n", canon,
				    secret(a, name) ? GW_REDACTED
				                    : r->hdrs[j].value);
	}
	if (fclose(m) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int
diff_text(
    FILE *f, const char *at, size_t an, const char *bt, size_t bn, int hunks)
{
	struct line *la = NULL, *lb = NULL;
	struct script s = { NULL, 0, 0 };
	size_t na = 0, nb = 0;
	int rc = -1;

	if ((la = split_lines(at, an, &na)) == NULL ||
	    (lb = split_lines(bt, bn, &nb)) == NULL ||
	    lines_diff(la, na, lb, nb, &s) == -1)
		goto out;
	if (hunks)
		put_hunks(f, &s, la, lb);
	else
		put_all(f, &s, la, lb);
	rc = 0;
out:
	free(la);
	free(lb);
	free(s.op);
	return rc;
}

/* ---- bodies ------------------------------------------------------------ */

static void
sha256_hex(const unsigned char *p, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0, i;

	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1)
		len = 0;
	for (i = 0; i < len && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * i] = '\0';
}

static void
put_binary(FILE *f, char mark, const unsigned char *p, size_t n, int64_t total)
{
	char hex[65];

	sha256_hex(p, n, hex);
	if (total > (int64_t)n)
		fprintf(f, "%cbinary, first %zu of %lld bytes, sha256 %s\n",
		    mark, n, (long long)total, hex);
	else
		fprintf(f, "%cbinary, %zu bytes, sha256 %s\n", mark, n, hex);
}

static int
diff_body(FILE *f, const struct rp_res *a, const struct rp_res *b)
{
	size_t an, bn;
	int64_t at = a->body_total, bt = b->body_total;

	fputs("@@ body @@\n", f);
	if (a->body == NULL) {
		if (at > 0)
			fprintf(f,
			    "\\ the original body was not captured (%lld "
			    "bytes); the replay's has %lld\n",
			    (long long)at, (long long)bt);
		else if (bt > 0)
			fprintf(f,
			    "\\ the original body was not captured; the "
			    "replay's has %lld bytes\n",
			    (long long)bt);
		else
			fputs("\\ no body on either side\n", f);
		return 0;
	}
	an = a->body_len;
	bn = b->body != NULL ? b->body_len : 0;
	/* Compare what both sides have: a capped side cuts the other. */
	if (at > (int64_t)an && bn > an) {
		fprintf(f,
		    "\\ the original was captured up to %zu of %lld bytes; "
		    "compared up to there\n",
		    an, (long long)at);
		bn = an;
	}
	if (bt > (int64_t)bn && an > bn) {
		fprintf(f,
		    "\\ the replay's body was kept up to %zu of %lld bytes; "
		    "compared up to there\n",
		    bn, (long long)bt);
		an = bn;
	}
	if (an == bn && (an == 0 || memcmp(a->body, b->body, an) == 0)) {
		if (an == 0)
			fputs("\\ no body on either side\n", f);
		else if (gw_utf8_valid((const char *)a->body, an))
			fprintf(f, "\\ identical, %zu bytes\n", an);
		else
			put_binary(f, ' ', a->body, an, 0);
		return 0;
	}
	if (gw_utf8_valid((const char *)a->body, an) &&
	    gw_utf8_valid((const char *)b->body, bn))
		return diff_text(
		    f, (const char *)a->body, an, (const char *)b->body, bn, 1);
	if (an > 0 || at > 0)
		put_binary(f, '-', a->body, an, at);
	if (bn > 0 || bt > 0)
		put_binary(f, '+', b->body != NULL ? b->body : a->body, bn, bt);
	return 0;
}

int
diff_write(FILE *f, const struct rp_res *a, const char *alabel,
    const struct rp_res *b, const char *blabel)
{
	char sa[80], sb[80], *ha = NULL, *hb = NULL;
	size_t hal = 0, hbl = 0;
	int rc = -1;

	fprintf(f, "--- %s\n+++ %s\n@@ status @@\n", alabel, blabel);
	status_line(sa, sizeof(sa), a->status);
	status_line(sb, sizeof(sb), b->status);
	if (a->status == b->status)
		fprintf(f, " %s\n", sa);
	else
		fprintf(f, "-%s\n+%s\n", sa, sb);
	if (b->status == 0)
		return ferror(f) ? -1 : 0;
	fputs("@@ headers @@\n", f);
	if (!a->has_headers)
		fputs("\\ the original headers were not captured (gw-proxy "
		      "--full-capture)\n",
		    f);
	else {
		if ((ha = header_text(a, a, &hal)) == NULL ||
		    (hb = header_text(b, a, &hbl)) == NULL ||
		    diff_text(f, ha, hal, hb, hbl, 0) == -1)
			goto out;
	}
	if (diff_body(f, a, b) == -1)
		goto out;
	rc = ferror(f) ? -1 : 0;
out:
	free(ha);
	free(hb);
	if (rc == -1 && errno == 0)
		errno = EIO;
	return rc;
}
