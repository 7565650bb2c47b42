/* SPDX-License-Identifier: MIT */
/*
 * A strict JSON reader for fake-intake's hot path: a Datadog batch of a
 * thousand entries is checked and copied, entry by entry, into the record
 * file's buffer in one pass, without building a tree (jansson would cost
 * several times more).  It is deliberately separate from lib/jscan so that
 * a bug gw-export's own scanner shares cannot hide itself: this one
 * follows RFC 8259 to the letter (no leading zeros, no trailing commas,
 * escapes checked, control characters refused) and also refuses strings
 * that are not UTF-8, which is what a receiver parsing with a strict
 * library does.  Lone surrogate escapes (\ud800) are allowed, as the RFC's
 * grammar allows them.  Also here: a JSON string writer for the record
 * lines built by hand.
 */
#include <string.h>

#include "fake-intake.h"

/* 1 for the bytes a string may hold as they are (ASCII, not " or \). */
static unsigned char plain[256];
static bool plain_ready;

static void
plain_init(void)
{
	int c;

	for (c = 0x20; c < 0x80; c++)
		plain[c] = c != '"' && c != '\\';
	plain_ready = true;
}

void
jv_init(struct jv *j, const char *s, size_t len, char *out)
{
	if (!plain_ready)
		plain_init();
	j->s = (const unsigned char *)s;
	j->len = len;
	j->pos = 0;
	j->out = out;
	j->err = NULL;
	j->err_pos = 0;
}

int
jv_error(struct jv *j, const char *msg)
{
	if (j->err == NULL) {
		j->err = msg;
		j->err_pos = j->pos;
	}
	return -1;
}

static void
jv_copy(struct jv *j, size_t from, size_t n)
{
	if (j->out != NULL) {
		memcpy(j->out, j->s + from, n);
		j->out += n;
	}
}

void
jv_ws(struct jv *j)
{
	while (j->pos < j->len &&
	    (j->s[j->pos] == ' ' || j->s[j->pos] == '\n' ||
	        j->s[j->pos] == '\r' || j->s[j->pos] == '\t'))
		j->pos++;
}

int
jv_peek(struct jv *j)
{
	jv_ws(j);
	return j->pos < j->len ? j->s[j->pos] : -1;
}

int
jv_take(struct jv *j, char c)
{
	if (jv_peek(j) != (unsigned char)c)
		return -1;
	jv_copy(j, j->pos, 1);
	j->pos++;
	return 0;
}

/* Length of the valid UTF-8 sequence at <s>, or 0 if it is not one. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq(u + i, n - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

int
jv_string(struct jv *j)
{
	const unsigned char *s = j->s;
	size_t i, start = j->pos, k;

	if (j->pos >= j->len || s[j->pos] != '"')
		return jv_error(j, "expected a string");
	i = j->pos + 1;
	for (;;) {
		while (i < j->len && plain[s[i]])
			i++;
		if (i >= j->len) {
			j->pos = i;
			return jv_error(j, "unterminated string");
		}
		if (s[i] == '"')
			break;
		if (s[i] == '\\') {
			if (i + 1 >= j->len) {
				j->pos = i;
				return jv_error(j, "unterminated string");
			}
			switch (s[i + 1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				i += 2;
				break;
			case 'u':
				if (i + 5 >= j->len || !is_hex(s[i + 2]) ||
				    !is_hex(s[i + 3]) || !is_hex(s[i + 4]) ||
				    !is_hex(s[i + 5])) {
					j->pos = i;
					return jv_error(j, "bad \\u escape");
				}
				i += 6;
				break;
			default:
				j->pos = i;
				return jv_error(j, "bad escape in string");
			}
			continue;
		}
		if (s[i] < 0x20) {
			j->pos = i;
			return jv_error(j, "control character in string");
		}
		if ((k = utf8_seq(s + i, j->len - i)) == 0) {
			j->pos = i;
			return jv_error(j, "string is not UTF-8");
		}
		i += k;
	}
	i++;
	jv_copy(j, start, i - start);
	j->pos = i;
	return 0;
}

static bool
is_digit(const struct jv *j, size_t i)
{
	return i < j->len && j->s[i] >= '0' && j->s[i] <= '9';
}

static int
jv_number(struct jv *j)
{
	size_t i = j->pos, start = j->pos;

	if (i < j->len && j->s[i] == '-')
		i++;
	if (i < j->len && j->s[i] == '0')
		i++;
	else if (is_digit(j, i))
		while (is_digit(j, i))
			i++;
	else
		return jv_error(j, "bad number");
	if (i < j->len && j->s[i] == '.') {
		i++;
		if (!is_digit(j, i)) {
			j->pos = i;
			return jv_error(j, "bad number");
		}
		while (is_digit(j, i))
			i++;
	}
	if (i < j->len && (j->s[i] == 'e' || j->s[i] == 'E')) {
		i++;
		if (i < j->len && (j->s[i] == '+' || j->s[i] == '-'))
			i++;
		if (!is_digit(j, i)) {
			j->pos = i;
			return jv_error(j, "bad number");
		}
		while (is_digit(j, i))
			i++;
	}
	jv_copy(j, start, i - start);
	j->pos = i;
	return 0;
}

static int
jv_literal(struct jv *j, const char *word)
{
	size_t n = strlen(word);

	if (j->len - j->pos < n || memcmp(j->s + j->pos, word, n) != 0)
		return jv_error(j, "unexpected character");
	jv_copy(j, j->pos, n);
	j->pos += n;
	return 0;
}

static int
jv_object(struct jv *j, int depth)
{
	if (jv_take(j, '{') == -1)
		return jv_error(j, "expected an object");
	if (jv_take(j, '}') == 0)
		return 0;
	for (;;) {
		jv_ws(j);
		if (jv_string(j) == -1)
			return jv_error(j, "expected a member name");
		if (jv_take(j, ':') == -1)
			return jv_error(j, "expected ':'");
		if (jv_value(j, depth) == -1)
			return -1;
		if (jv_take(j, '}') == 0)
			return 0;
		if (jv_take(j, ',') == -1)
			return jv_error(j, "expected ',' or '}'");
	}
}

static int
jv_array(struct jv *j, int depth)
{
	if (jv_take(j, '[') == -1)
		return jv_error(j, "expected an array");
	if (jv_take(j, ']') == 0)
		return 0;
	for (;;) {
		if (jv_value(j, depth) == -1)
			return -1;
		if (jv_take(j, ']') == 0)
			return 0;
		if (jv_take(j, ',') == -1)
			return jv_error(j, "expected ',' or ']'");
	}
}

int
jv_value(struct jv *j, int depth)
{
	switch (jv_peek(j)) {
	case '{':
		if (depth >= JV_MAX_DEPTH)
			return jv_error(j, "nested too deep");
		return jv_object(j, depth + 1);
	case '[':
		if (depth >= JV_MAX_DEPTH)
			return jv_error(j, "nested too deep");
		return jv_array(j, depth + 1);
	case '"':
		return jv_string(j);
	case 't':
		return jv_literal(j, "true");
	case 'f':
		return jv_literal(j, "false");
	case 'n':
		return jv_literal(j, "null");
	case -1:
		return jv_error(j, "unexpected end of input");
	default:
		return jv_number(j);
	}
}

bool
jv_valid(const char *s, size_t len)
{
	struct jv j;

	jv_init(&j, s, len, NULL);
	return jv_value(&j, 0) == 0 && jv_peek(&j) == -1;
}

int
jw_str(struct gw_buf *b, const char *s, size_t n)
{
	size_t at = b->len;

	if (gw_buf_addc(b, '"') == -1 || jw_raw(b, s, n) == -1 ||
	    gw_buf_addc(b, '"') == -1) {
		/* A failed append leaves the buffer unchanged. */
		b->len = at;
		return -1;
	}
	return 0;
}

int
jw_raw(struct gw_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i, k, start;
	char *p, *base;

	if (n > SIZE_MAX / 6)
		return -1;
	if ((base = gw_buf_reserve(b, n * 6)) == NULL)
		return -1;
	p = base;
	for (i = 0; i < n;) {
		start = i;
		while (i < n && u[i] >= 0x20 && u[i] < 0x80 && u[i] != '"' &&
		    u[i] != '\\')
			i++;
		memcpy(p, u + start, i - start);
		p += i - start;
		if (i == n)
			break;
		if (u[i] == '"' || u[i] == '\\') {
			*p++ = '\\';
			*p++ = (char)u[i++];
		} else if (u[i] == '\n') {
			memcpy(p, "\\n", 2);
			p += 2;
			i++;
		} else if (u[i] == '\t') {
			memcpy(p, "\\t", 2);
			p += 2;
			i++;
		} else if (u[i] == '\r') {
			memcpy(p, "\\r", 2);
			p += 2;
			i++;
		} else if (u[i] >= 0x80 && (k = utf8_seq(u + i, n - i)) > 0) {
			memcpy(p, u + i, k);
			p += k;
			i += k;
		} else {
			memcpy(p, "\\u00", 4);
			p[4] = hex[u[i] >> 4];
			p[5] = hex[u[i] & 0xf];
			p += 6;
			i++;
		}
	}
	gw_buf_commit(b, (size_t)(p - base));
	return 0;
}
