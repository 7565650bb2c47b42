// SPDX-License-Identifier: MIT
/*
 * Reading what gw-policy is asked: gw-proxy's question lines (PROTOCOL.md
 * §8.2) for the daemon, and http_request_complete.v0 events (§3) for the
 * dry run, into the struct policy_req the engine evaluates.  Both go
 * through a small strict JSON scanner (RFC 8259: no trailing commas, no
 * comments, valid UTF-8, escapes checked) that copies the line once,
 * decodes its strings in place and records a flat token array, so that a
 * warm reader allocates nothing per line; jansson would build a tree of
 * small allocations for every question, which is most of the cost of an
 * answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ascii.h"
#include "engine.h"
#include "gw-policy.h"
#include "json.h"
#include "timeutil.h"

#define MAX_DEPTH 32
#define SCAN_PAD  16 /* readable bytes after a line's end (plain_run) */

enum { QJ_OBJ, QJ_ARR, QJ_STR, QJ_NUM, QJ_TRUE, QJ_FALSE, QJ_NULL };

static int
syntax(struct question *q, const char *p, const char *what)
{
	snprintf(q->err, sizeof(q->err), "%s at byte %zu", what,
	    (size_t)(p - q->buf) + 1);
	return -1;
}

/*
 * The copy ends with NULs (SCAN_PAD), so *p is readable at the end of
 * the line, and a NUL matches nothing the scanner looks for.
 */
static inline char *
skip_ws(char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static inline int
new_tok(struct question *q, int type, const char *key, size_t klen)
{
	struct qtok *t;

	if (q->ntok == q->captok &&
	    engine_grow((void **)&q->tok, &q->captok, q->ntok + 1,
	        sizeof(*q->tok)) == -1)
		return -1;
	t = &q->tok[q->ntok];
	t->type = (uint8_t)type;
	t->flags = 0;
	t->n = 0;
	t->hint = 0;
	t->end = (uint32_t)q->ntok + 1; /* containers move it */
	t->key = key;
	t->klen = klen;
	return (int)q->ntok++;
}

static int
hex4(const char *p, unsigned *v)
{
	unsigned i, r = 0;
	int d;

	for (i = 0; i < 4; i++) {
		if ((d = gw_hexval((unsigned char)p[i])) == -1)
			return -1;
		r = r << 4 | (unsigned)d;
	}
	*v = r;
	return 0;
}

static char *
put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* Bytes that end a run of plain string text (question_init fills it). */
static unsigned char special[256];

/*
 * How many bytes from <p> are plain string text: not '"', '\\', a
 * control character or a byte of a multi-byte sequence.  With SSE2, 16
 * bytes at a time: the line's copy has SCAN_PAD bytes after its end, so
 * the loads stay inside the allocation.
 */
static inline size_t
plain_run(const char *p, const char *end)
{
	const char *s = p;
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i bslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(0x20);
	__m128i v;
	unsigned m;

	while (s < end) {
		v = _mm_loadu_si128((const __m128i *)(const void *)s);
		/* Signed: 0x80-0xff are negative, so below 0x20 too. */
		m = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
		                     _mm_cmpeq_epi8(v, bslash)),
		        _mm_cmplt_epi8(v, space)));
		if (m != 0) {
			s += __builtin_ctz(m);
			return (size_t)((s < end ? s : end) - p);
		}
		s += 16;
	}
	return (size_t)(end - p);
#else
	while (s < end && !special[(unsigned char)*s])
		s++;
	return (size_t)(s - p);
#endif
}

/*
 * The string whose opening quote is at <p>, decoded where it lies: the
 * text never grows when unescaped, so the output trails the input and is
 * NUL-terminated where the closing quote was at the latest.  Returns the
 * position after the closing quote, or NULL with q->err set.
 */
static inline char *
scan_string(
    struct question *q, char *p, char *end, const char **out, size_t *outlen)
{
	char *o, *start;
	unsigned cp, lo;
	size_t n;
	unsigned char c;

	start = o = ++p;
	for (;;) {
		/* Plain text needs no copy until the first escape. */
		n = plain_run(p, end);
		if (o != p)
			memmove(o, p, n);
		o += n;
		p += n;
		if (p >= end) {
			syntax(q, p, "unterminated string");
			return NULL;
		}
		c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c < 0x20) {
			syntax(q, p, "control character in a string");
			return NULL;
		}
		if (c >= 0x80) {
			n = gw_utf8_seq(p, end);
			if (n == 0) {
				syntax(q, p, "invalid UTF-8");
				return NULL;
			}
			memmove(o, p, n);
			o += n;
			p += n;
			continue;
		}
		/* A backslash. */
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
			*o++ = p[1];
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u':
			if (end - p < 6 || hex4(p + 2, &cp) == -1) {
				syntax(q, p, "bad \\u escape");
				return NULL;
			}
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 8 &&
			    p[2] == '\\' && p[3] == 'u' &&
			    hex4(p + 4, &lo) == 0 && lo >= 0xdc00 &&
			    lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff) {
				/* As jansson and jq: not a character. */
				syntax(q, p, "lone surrogate escape");
				return NULL;
			}
			o = put_utf8(o, cp);
			break;
		default:
			/* Also a backslash at the very end: p[1] is a NUL. */
			syntax(q, p, "bad escape");
			return NULL;
		}
		p += 2;
	}
	*o = '\0';
	*out = start;
	*outlen = (size_t)(o - start);
	return p + 1;
}

/* RFC 8259 numbers; integers that fit are kept (ids, ports, statuses). */
static char *
scan_number(struct question *q, char *p, int t)
{
	struct qtok *k = &q->tok[t];
	char *start = p;
	uint64_t v = 0;
	int neg = 0, ok = 1;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (*p < '0' || *p > '9')
		goto bad;
	if (*p == '0') {
		p++;
	} else {
		for (; *p >= '0' && *p <= '9'; p++) {
			if (v > (UINT64_MAX - 9) / 10)
				ok = 0;
			v = v * 10 + (uint64_t)(*p - '0');
		}
	}
	if (*p == '.') {
		ok = 0;
		if (*++p < '0' || *p > '9')
			goto bad;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		ok = 0;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			goto bad;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	k->s = start;
	k->len = (size_t)(p - start);
	if (ok && !neg) {
		k->flags |= QTOK_UINT;
		k->u = v;
	}
	if (ok && (neg ? v <= (uint64_t)INT64_MAX + 1 : v <= INT64_MAX)) {
		k->flags |= QTOK_INT;
		k->i = neg ? (int64_t)(0 - v) : (int64_t)v;
	}
	return p;
bad:
	syntax(q, p, "bad number");
	return NULL;
}

/*
 * Tokenizes a copy of <line>: one token per value, an object member's
 * name kept with its value's token, containers knowing where they end.
 * One loop with an explicit stack and the position in a local: the
 * recursive form kept reloading the position from memory, which showed
 * in profiles.  Returns 0, or -1 with q->err set.
 */
static int
scan(struct question *q, const char *line, size_t len)
{
	uint32_t stack[MAX_DEPTH];
	const char *key, *word;
	size_t klen, wlen;
	char *p, *end;
	int depth = 0, t, top;
	char close;

	q->ntok = 0;
	q->nhdrs = 0;
	q->err[0] = '\0';
	if (len > SIZE_MAX - SCAN_PAD - 1 ||
	    engine_grow((void **)&q->buf, &q->capbuf, len + 1 + SCAN_PAD, 1) ==
	        -1) {
		snprintf(q->err, sizeof(q->err), "out of memory");
		return -1;
	}
	memcpy(q->buf, line, len);
	memset(q->buf + len, 0, 1 + SCAN_PAD);
	p = skip_ws(q->buf);
	end = q->buf + len;
	if (*p != '{')
		return syntax(q, p, "not a JSON object");
	if ((t = new_tok(q, QJ_OBJ, NULL, 0)) == -1)
		goto nomem;
	stack[depth++] = (uint32_t)t;
	p = skip_ws(p + 1);
	if (*p == '}') {
		p++;
		depth--;
		goto done;
	}
member:
	top = (int)stack[depth - 1];
	key = NULL;
	klen = 0;
	if (q->tok[top].type == QJ_OBJ) {
		if (*p != '"')
			return syntax(q, p, "expected a key");
		if ((p = scan_string(q, p, end, &key, &klen)) == NULL)
			return -1;
		p = skip_ws(p);
		if (*p != ':')
			return syntax(q, p, "expected ':'");
		p = skip_ws(p + 1);
	}
	q->tok[top].n++;
	if (p >= end)
		return syntax(q, p, "unexpected end");
	switch (*p) {
	case '"':
		if ((t = new_tok(q, QJ_STR, key, klen)) == -1)
			goto nomem;
		p = scan_string(q, p, end, &q->tok[t].s, &q->tok[t].len);
		if (p == NULL)
			return -1;
		break;
	case '{':
	case '[':
		if (depth == MAX_DEPTH)
			return syntax(q, p, "nested too deep");
		close = *p == '{' ? '}' : ']';
		t = new_tok(q, *p == '{' ? QJ_OBJ : QJ_ARR, key, klen);
		if (t == -1)
			goto nomem;
		p = skip_ws(p + 1);
		if (*p == close) {
			p++;
			q->tok[t].end = (uint32_t)q->ntok;
			break;
		}
		stack[depth++] = (uint32_t)t;
		goto member;
	case 't':
	case 'f':
	case 'n':
		word = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
		wlen = strlen(word);
		if ((size_t)(end - p) < wlen || memcmp(p, word, wlen) != 0)
			return syntax(q, p, "unexpected character");
		t = *p == 't' ? QJ_TRUE : *p == 'f' ? QJ_FALSE : QJ_NULL;
		if (new_tok(q, t, key, klen) == -1)
			goto nomem;
		p += wlen;
		break;
	default:
		if ((t = new_tok(q, QJ_NUM, key, klen)) == -1)
			goto nomem;
		if ((p = scan_number(q, p, t)) == NULL)
			return -1;
		break;
	}
after:
	p = skip_ws(p);
	top = (int)stack[depth - 1];
	if (*p == ',' && p < end) {
		p = skip_ws(p + 1);
		goto member;
	}
	close = q->tok[top].type == QJ_OBJ ? '}' : ']';
	if (*p != close || p >= end)
		return syntax(q, p,
		    close == '}' ? "expected ',' or '}'"
		                 : "expected ',' or ']'");
	p++;
	q->tok[top].end = (uint32_t)q->ntok;
	if (--depth > 0)
		goto after;
done:
	q->tok[0].end = (uint32_t)q->ntok;
	p = skip_ws(p);
	if (p != end)
		return syntax(q, p, "text after the object");
	return 0;
nomem:
	snprintf(q->err, sizeof(q->err), "out of memory");
	return -1;
}

/*
 * Keys are short: two overlapping word compares beat a byte loop and a
 * call to memcmp(3), whose exits the branch predictor cannot learn.
 */
static inline int
same(const char *a, const char *b, size_t n)
{
	uint64_t a0, a1, b0, b1;
	uint32_t c0, c1, d0, d1;

	if (n >= 8 && n <= 16) {
		memcpy(&a0, a, 8);
		memcpy(&b0, b, 8);
		memcpy(&a1, a + n - 8, 8);
		memcpy(&b1, b + n - 8, 8);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	if (n >= 4 && n < 8) {
		memcpy(&c0, a, 4);
		memcpy(&d0, b, 4);
		memcpy(&c1, a + n - 4, 4);
		memcpy(&d1, b + n - 4, 4);
		return ((c0 ^ d0) | (c1 ^ d1)) == 0;
	}
	return memcmp(a, b, n) == 0;
}

/* The value of member <key> of object token <obj>, or -1. */
static int
get_n(const struct question *q, int obj, const char *key, size_t klen)
{
	struct qtok *t = q->tok;
	uint32_t i, first, start, end;

	if (obj < 0 || t[obj].type != QJ_OBJ || t[obj].n == 0)
		return -1;
	/*
	 * Producers write members in a fixed order and readers ask for
	 * them in about that order: start after the member found last,
	 * and wrap around, so order is a hint and never a requirement.
	 */
	first = (uint32_t)obj + 1;
	end = t[obj].end;
	start = i = t[obj].hint != 0 ? t[obj].hint : first;
	do {
		if (t[i].klen == klen && same(t[i].key, key, klen)) {
			t[obj].hint = t[i].end < end ? t[i].end : 0;
			return (int)i;
		}
		i = t[i].end;
		if (i >= end)
			i = first;
	} while (i != start);
	return -1;
}

/* Keys are literals: their length is known at compile time. */
#define get(q, obj, key) get_n(q, obj, key, sizeof(key) - 1)
#define str(q, obj, key) str_n(q, obj, key, sizeof(key) - 1)
#define num(q, obj, key) num_n(q, obj, key, sizeof(key) - 1)
#define ts(q, obj, key)  ts_n(q, obj, key, sizeof(key) - 1)

/*
 * The string member <key> of <obj>: NULL when absent or null; a member
 * of another type is an error (q->bad names it).
 */
static const char *
str_n(struct question *q, int obj, const char *key, size_t klen)
{
	int t = get_n(q, obj, key, klen);

	if (t < 0 || q->tok[t].type == QJ_NULL)
		return NULL;
	if (q->tok[t].type != QJ_STR) {
		if (q->bad == NULL)
			q->bad = key;
		return NULL;
	}
	return q->tok[t].s;
}

static int64_t
num_n(struct question *q, int obj, const char *key, size_t klen)
{
	int t = get_n(q, obj, key, klen);

	if (t < 0 || q->tok[t].type == QJ_NULL)
		return 0;
	if (q->tok[t].type != QJ_NUM || !(q->tok[t].flags & QTOK_INT)) {
		if (q->bad == NULL)
			q->bad = key;
		return 0;
	}
	return q->tok[t].i;
}

static int
d2(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/*
 * gw's own form, "2026-11-24T16:08:46.123456Z", with the hour that the
 * last one had: events come in time order, so most timestamps share
 * their first 13 characters with the one before.  Anything else goes to
 * gw_parse_rfc3339().
 */
static int
fast_ts(struct question *q, const char *s, size_t len, uint64_t *ns)
{
	uint64_t frac = 0, scale = 100000000;
	int mi, se;
	size_t i;

	if (len < 20 || len > 30 || s[len - 1] != 'Z' || s[13] != ':' ||
	    s[16] != ':' || (mi = d2(s + 14)) < 0 || (se = d2(s + 17)) < 0 ||
	    mi > 59 || se > 59)
		return -1;
	if (len > 20) {
		if (s[19] != '.' || len == 21)
			return -1;
		for (i = 20; i < len - 1; i++, scale /= 10) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			frac += (uint64_t)(s[i] - '0') * scale;
		}
	} else if (s[19] != 'Z')
		return -1;
	if (q->hour_ns == 0 || memcmp(q->hour, s, 13) != 0) {
		char h[21];

		memcpy(h, s, 13);
		memcpy(h + 13, ":00:00Z", 8);
		if (gw_parse_rfc3339(h, &q->hour_ns) == -1)
			return -1;
		memcpy(q->hour, s, 13);
	}
	*ns = q->hour_ns + (uint64_t)(mi * 60 + se) * 1000000000ULL + frac;
	return 0;
}

static int64_t
ts_n(struct question *q, int obj, const char *key, size_t klen)
{
	int t = get_n(q, obj, key, klen);
	const char *s;
	uint64_t ns;

	if (t < 0 || q->tok[t].type != QJ_STR)
		return 0;
	s = q->tok[t].s;
	if (fast_ts(q, s, q->tok[t].len, &ns) == -1 &&
	    gw_parse_rfc3339(s, &ns) == -1)
		return 0;
	return ns > INT64_MAX ? 0 : (int64_t)ns;
}

static int
add_hdr(struct question *q, const char *name, const char *value)
{
	if (engine_grow((void **)&q->hdrs, &q->caphdrs, q->nhdrs + 1,
	        sizeof(*q->hdrs)) == -1)
		return -1;
	q->hdrs[q->nhdrs].name = name;
	q->hdrs[q->nhdrs].value = value;
	q->nhdrs++;
	return 0;
}

/* Appends the header map <obj> (name -> [values], or name -> value). */
static int
headers(struct question *q, int obj)
{
	uint32_t j, v;

	if (obj < 0 || q->tok[obj].type == QJ_NULL)
		return 0;
	if (q->tok[obj].type != QJ_OBJ) {
		q->bad = "headers";
		return 0;
	}
	for (v = (uint32_t)obj + 1; v < q->tok[obj].end; v = q->tok[v].end) {
		if (q->tok[v].type == QJ_STR) {
			if (add_hdr(q, q->tok[v].key, q->tok[v].s) == -1)
				return -1;
			continue;
		}
		if (q->tok[v].type != QJ_ARR) {
			q->bad = "headers";
			continue;
		}
		for (j = v + 1; j < q->tok[v].end; j = q->tok[j].end) {
			if (q->tok[j].type != QJ_STR)
				q->bad = "headers";
			else if (add_hdr(q, q->tok[v].key, q->tok[j].s) == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * conn.*, req.* and res.* common to questions and events.  Members are
 * looked up in the order gw writes them, so that each lookup's hint (see
 * get_n()) finds its key first time.  <tls> may be the "tls" member of
 * <conn> (questions) or of the event's object; < 0 when absent.
 */
static int
fill(struct question *q, int conn, int *tls, int rq, int res,
    struct policy_req *r)
{
	size_t nreq;
	int url;

	r->client_ip = str(q, conn, "client_ip");
	r->client_port = (int)num(q, conn, "client_port");
	r->server_ip = str(q, conn, "server_ip");
	r->server_name = str(q, conn, "server_name");
	r->server_port = (int)num(q, conn, "server_port");
	r->conn_start_ns = ts(q, conn, "start_ts");
	if (*tls == -2)
		*tls = get(q, conn, "tls");
	if (*tls >= 0 && q->tok[*tls].type == QJ_OBJ) {
		r->tls = 1;
		r->tls_version = str(q, *tls, "version");
		r->tls_cipher = str(q, *tls, "cipher_suite");
		r->tls_sni = r->server_name;
	}
	if (rq >= 0) {
		r->method = str(q, rq, "method");
		r->version = str(q, rq, "version");
		url = get(q, rq, "url");
		r->url_raw = str(q, url, "raw");
		r->scheme = str(q, url, "scheme");
		r->host = str(q, url, "host");
		r->path = str(q, url, "path");
		r->query = str(q, url, "query");
		if (headers(q, get(q, rq, "headers")) == -1)
			return -1;
	}
	nreq = q->nhdrs;
	if (res >= 0) {
		r->status_code = (int)num(q, res, "status_code");
		if (headers(q, get(q, res, "headers")) == -1)
			return -1;
	}
	/* Only now: the vector may have moved while it grew. */
	r->req_headers = q->hdrs;
	r->nreq_headers = nreq;
	r->res_headers = q->hdrs + nreq;
	r->nres_headers = q->nhdrs - nreq;
	return 0;
}

void
question_init(struct question *q)
{
	int c;

	memset(q, 0, sizeof(*q));
	for (c = 0; c < 256; c++)
		special[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

void
question_fini(struct question *q)
{
	if (q == NULL)
		return;
	free(q->buf);
	free(q->tok);
	free(q->hdrs);
	memset(q, 0, sizeof(*q));
}

static int
phase_of(const char *s, enum policy_phase *ph)
{
	int i;

	for (i = 0; s != NULL && i < POLICY_NPHASES; i++)
		if (strcmp(s, policy_phase_name((enum policy_phase)i)) == 0) {
			*ph = (enum policy_phase)i;
			return 0;
		}
	return -1;
}

int
question_parse(struct question *q, const char *line, size_t len, uint64_t *id,
    struct policy_req *r)
{
	int t, conn, rq, tls = -2; /* -2: inside conn */

	memset(r, 0, sizeof(*r));
	q->bad = NULL;
	if (scan(q, line, len) == -1)
		return -1;
	t = get(q, 0, "id");
	if (t < 0 || q->tok[t].type != QJ_NUM ||
	    !(q->tok[t].flags & QTOK_UINT)) {
		snprintf(q->err, sizeof(q->err),
		    "\"id\" is not an unsigned integer");
		return -1;
	}
	*id = q->tok[t].u;
	if (phase_of(str(q, 0, "phase"), &r->phase) == -1) {
		snprintf(q->err, sizeof(q->err), "unknown \"phase\"");
		return 1;
	}
	conn = get(q, 0, "conn");
	rq = get(q, 0, "req");
	if (fill(q, conn, &tls, rq, get(q, 0, "res"), r) == -1) {
		snprintf(q->err, sizeof(q->err), "out of memory");
		return 1;
	}
	if (q->bad != NULL) {
		snprintf(q->err, sizeof(q->err), "\"%s\" has the wrong type",
		    q->bad);
		return 1;
	}
	return 0;
}

int
question_event(struct question *q, const char *line, size_t len,
    struct policy_req *r, struct question_event *ev)
{
	const char *type;
	int obj, conn, http, tls, rq, res;

	memset(r, 0, sizeof(*r));
	memset(ev, 0, sizeof(*ev));
	q->bad = NULL;
	if (scan(q, line, len) == -1)
		return -1;
	type = str(q, 0, "event_type");
	if (type == NULL || strcmp(type, "http_request_complete.v0") != 0)
		return 0;
	obj = get(q, 0, "object");
	conn = get(q, obj, "conn");
	http = get(q, obj, "http");
	tls = get(q, obj, "tls");
	rq = get(q, http, "request");
	res = get(q, http, "response");
	if (rq < 0 || q->tok[rq].type != QJ_OBJ)
		return 0;
	if (res >= 0 && q->tok[res].type != QJ_OBJ)
		res = -1;
	if (fill(q, conn, &tls, rq, res, r) == -1) {
		snprintf(q->err, sizeof(q->err), "out of memory");
		return -1;
	}
	r->req_header_ns = ts(q, rq, "first_byte_ts");
	r->req_body_ns = ts(q, rq, "last_byte_ts");
	r->now_ns = r->req_header_ns;
	if (r->now_ns == 0)
		r->now_ns = ts(q, 0, "event_timestamp");
	ev->has_response = res >= 0 && r->status_code != 0;
	ev->res_ns = res >= 0 ? ts(q, res, "first_byte_ts") : 0;
	ev->status = r->status_code;
	return 1;
}
