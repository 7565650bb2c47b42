// SPDX-License-Identifier: MIT
/*
 * The CEL lexer: turns an expression into tokens for cel_parse.c.  It
 * reads every literal form of the CEL spec (decimal and hex ints, "u"
 * uints, doubles with exponents, quoted, raw, triple-quoted and bytes
 * strings with all escapes), decodes string literals into the program's
 * arena, and refuses the words CEL reserves.  Columns are 1-based byte
 * offsets in the expression.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ascii.h"
#include "cel_impl.h"

static int lex_error(struct cel_lexer *lx, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
lex_error(struct cel_lexer *lx, size_t pos, const char *fmt, ...)
{
	va_list ap;

	lx->err->col = (int)pos + 1;
	va_start(ap, fmt);
	vsnprintf(lx->err->msg, sizeof(lx->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

const char *
cel_tok_name(enum cel_tok t)
{
	static const char *const names[] = { "end of expression", "integer",
		"unsigned integer", "double", "string", "bytes", "identifier",
		"'true'", "'false'", "'null'", "'in'", "'('", "')'", "'['",
		"']'", "'{'", "'}'", "'.'", "','", "':'", "'?'", "'+'", "'-'",
		"'*'", "'/'", "'%'", "'!'", "'=='", "'!='", "'<'", "'<='",
		"'>'", "'>='", "'&&'", "'||'" };

	if ((unsigned)t >= sizeof(names) / sizeof(names[0]))
		return "token";
	return names[t];
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static size_t
put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Reads one escape sequence after the backslash at <pos>, appending what
 * it stands for at <out>.  In bytes literals \x and octal escapes are raw
 * bytes; in strings they are code points.  Returns the bytes written, or
 * -1 with the error filled; <*end> is set past the sequence.
 */
static int
read_escape(struct cel_lexer *lx, size_t pos, int bytes, char *out, size_t *end)
{
	const char *s = lx->src;
	size_t i = pos + 1, ndig;
	uint32_t cp = 0;
	int v;

	if (i >= lx->len)
		return lex_error(lx, pos, "unterminated escape sequence");
	switch (s[i]) {
	case 'a':
		*out = '\a';
		break;
	case 'b':
		*out = '\b';
		break;
	case 'f':
		*out = '\f';
		break;
	case 'n':
		*out = '\n';
		break;
	case 'r':
		*out = '\r';
		break;
	case 't':
		*out = '\t';
		break;
	case 'v':
		*out = '\v';
		break;
	case '\\':
	case '\'':
	case '"':
	case '`':
	case '?':
		*out = s[i];
		break;
	case 'x':
	case 'X':
	case 'u':
	case 'U':
		ndig = s[i] == 'u' ? 4 : s[i] == 'U' ? 8 : 2;
		if ((s[i] == 'u' || s[i] == 'U') && bytes)
			return lex_error(lx, pos,
			    "\\%c escapes are not allowed in bytes", s[i]);
		for (i++; ndig > 0; ndig--, i++) {
			if (i >= lx->len || (v = gw_hexval(s[i])) == -1)
				return lex_error(
				    lx, pos, "invalid hex escape sequence");
			cp = cp << 4 | (uint32_t)v;
		}
		*end = i;
		if (bytes) {
			*out = (char)cp;
			return 1;
		}
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return lex_error(
			    lx, pos, "invalid code point in escape");
		return (int)put_utf8(out, cp);
	default:
		if (s[i] >= '0' && s[i] <= '3') {
			for (ndig = 0; ndig < 3; ndig++, i++) {
				if (i >= lx->len || s[i] < '0' || s[i] > '7')
					return lex_error(lx, pos,
					    "invalid octal escape sequence");
				cp = cp << 3 | (uint32_t)(s[i] - '0');
			}
			*end = i;
			if (bytes) {
				*out = (char)cp;
				return 1;
			}
			return (int)put_utf8(out, cp);
		}
		return lex_error(
		    lx, pos, "invalid escape sequence '\\%c'", s[i]);
	}
	*end = i + 1;
	return 1;
}

/*
 * Reads a string or bytes literal whose prefix (r, b, rb, ...) ends at
 * <pos>, the opening quote.  A decoded literal is never longer than its
 * source, so the output buffer is allocated at the source's length.
 */
static int
lex_string(struct cel_lexer *lx, size_t start, size_t pos, int raw, int bytes,
    struct cel_token *tok)
{
	const char *s = lx->src;
	char q = s[pos], *out;
	size_t i, j, n = 0, end = 0, cap;
	int triple, w;

	triple = pos + 2 < lx->len && s[pos + 1] == q && s[pos + 2] == q;
	i = pos + (triple ? 3 : 1);
	/*
	 * Find the closing quote first: a decoded literal is never longer
	 * than its source, so that bounds the copy, and a list of many
	 * literals does not cost the rest of the source for each.
	 */
	for (j = i; j < lx->len; j++) {
		if (s[j] == '\\' && !raw)
			j++;
		else if (s[j] == q &&
		    (!triple ||
		        (j + 2 < lx->len && s[j + 1] == q && s[j + 2] == q)))
			break;
	}
	cap = (j < lx->len ? j : lx->len) - i + 4;
	if ((out = cel_arena_alloc(lx->arena, cap)) == NULL)
		return lex_error(lx, start, "out of memory");
	for (;;) {
		if (i >= lx->len)
			return lex_error(lx, start, "unterminated string");
		if (n + 4 > cap)
			return lex_error(lx, i, "malformed string");
		if (s[i] == q) {
			if (!triple) {
				i++;
				break;
			}
			if (i + 2 < lx->len && s[i + 1] == q && s[i + 2] == q) {
				i += 3;
				break;
			}
		}
		if (!triple && (s[i] == '\n' || s[i] == '\r'))
			return lex_error(lx, i, "newline in string");
		if (s[i] == '\\' && !raw) {
			if ((w = read_escape(lx, i, bytes, out + n, &end)) ==
			    -1)
				return -1;
			n += (size_t)w;
			i = end;
			continue;
		}
		out[n++] = s[i++];
	}
	if (!bytes && !cel_utf8_valid(out, n))
		return lex_error(lx, start, "string is not valid UTF-8");
	tok->kind = bytes ? T_BYTES : T_STRING;
	tok->val = bytes ? cel_bytes(out, n) : cel_str(out, n);
	lx->pos = i;
	return 0;
}

static int
lex_number(struct cel_lexer *lx, size_t start, struct cel_token *tok)
{
	const char *s = lx->src;
	size_t i = start, n;
	uint64_t v = 0;
	char buf[64];
	int isfloat = 0, d;

	if (s[i] == '0' && i + 1 < lx->len &&
	    (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		for (i += 2; i < lx->len && (d = gw_hexval(s[i])) != -1; i++) {
			if (v > UINT64_MAX >> 4)
				return lex_error(
				    lx, start, "integer literal out of range");
			v = v << 4 | (uint64_t)d;
		}
		if (i == start + 2)
			return lex_error(lx, start, "invalid hex literal");
		goto integer;
	}
	while (i < lx->len && is_digit(s[i]))
		i++;
	if (i + 1 < lx->len && s[i] == '.' && is_digit(s[i + 1])) {
		isfloat = 1;
		for (i++; i < lx->len && is_digit(s[i]);)
			i++;
	}
	if (i < lx->len && (s[i] == 'e' || s[i] == 'E')) {
		n = i + 1;
		if (n < lx->len && (s[n] == '+' || s[n] == '-'))
			n++;
		if (n < lx->len && is_digit(s[n])) {
			isfloat = 1;
			for (i = n; i < lx->len && is_digit(s[i]);)
				i++;
		}
	}
	if (isfloat) {
		if (i - start >= sizeof(buf))
			return lex_error(lx, start, "double literal too long");
		memcpy(buf, s + start, i - start);
		buf[i - start] = '\0';
		tok->kind = T_DOUBLE;
		tok->val = cel_double(strtod(buf, NULL));
		lx->pos = i;
		goto check_end;
	}
	for (n = start; n < i; n++) {
		d = s[n] - '0';
		if (v > (UINT64_MAX - (uint64_t)d) / 10)
			return lex_error(
			    lx, start, "integer literal out of range");
		v = v * 10 + (uint64_t)d;
	}
integer:
	if (i < lx->len && (s[i] == 'u' || s[i] == 'U')) {
		tok->kind = T_UINT;
		i++;
	} else
		tok->kind = T_INT;
	tok->val = cel_uint(v);
	lx->pos = i;
check_end:
	/* "1abc" or "1.5.3" would otherwise read as two tokens. */
	if (lx->pos < lx->len &&
	    (is_ident_start(s[lx->pos]) || is_digit(s[lx->pos]) ||
	        (s[lx->pos] == '.' && lx->pos + 1 < lx->len &&
	            is_digit(s[lx->pos + 1]))))
		return lex_error(lx, start, "invalid number literal");
	return 0;
}

static int
is_reserved(const char *p, size_t n)
{
	static const char *const words[] = { "as", "break", "const", "continue",
		"else", "for", "function", "if", "import", "let", "loop",
		"package", "namespace", "return", "var", "void", "while" };
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && memcmp(words[i], p, n) == 0)
			return 1;
	return 0;
}

static int
lex_word(struct cel_lexer *lx, size_t start, struct cel_token *tok)
{
	const char *s = lx->src;
	size_t i = start, n;
	int raw = 0, bytes = 0;

	while (i < lx->len && (is_ident_start(s[i]) || is_digit(s[i])))
		i++;
	n = i - start;
	/* String prefixes: r, b, rb, br in either case. */
	if (n <= 2 && i < lx->len && (s[i] == '"' || s[i] == '\'')) {
		size_t k;

		for (k = start; k < i; k++) {
			if ((s[k] == 'r' || s[k] == 'R') && !raw)
				raw = 1;
			else if ((s[k] == 'b' || s[k] == 'B') && !bytes)
				bytes = 1;
			else
				break;
		}
		if (k == i)
			return lex_string(lx, start, i, raw, bytes, tok);
	}
	lx->pos = i;
	tok->kind = T_IDENT;
	if (n == 4 && memcmp(s + start, "true", 4) == 0)
		tok->kind = T_TRUE;
	else if (n == 5 && memcmp(s + start, "false", 5) == 0)
		tok->kind = T_FALSE;
	else if (n == 4 && memcmp(s + start, "null", 4) == 0)
		tok->kind = T_NULL;
	else if (n == 2 && memcmp(s + start, "in", 2) == 0)
		tok->kind = T_IN;
	else if (is_reserved(s + start, n))
		return lex_error(
		    lx, start, "reserved identifier '%.*s'", (int)n, s + start);
	return 0;
}

int
cel_lex_next(struct cel_lexer *lx, struct cel_token *tok)
{
	const char *s = lx->src;
	size_t i = lx->pos;
	char c, c2;

	for (;;) {
		while (i < lx->len &&
		    (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
		        s[i] == '\r' || s[i] == '\f'))
			i++;
		/* Comments run to the end of the line. */
		if (i + 1 < lx->len && s[i] == '/' && s[i + 1] == '/') {
			while (i < lx->len && s[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	memset(tok, 0, sizeof(*tok));
	tok->col = (int)i + 1;
	tok->p = s + i;
	lx->pos = i;
	if (i >= lx->len) {
		tok->kind = T_EOF;
		return 0;
	}
	c = s[i];
	c2 = i + 1 < lx->len ? s[i + 1] : '\0';
	if (is_digit(c) || (c == '.' && is_digit(c2))) {
		if (lex_number(lx, i, tok) == -1)
			return -1;
		goto done;
	}
	if (is_ident_start(c)) {
		if (lex_word(lx, i, tok) == -1)
			return -1;
		goto done;
	}
	if (c == '"' || c == '\'') {
		if (lex_string(lx, i, i, 0, 0, tok) == -1)
			return -1;
		goto done;
	}
	lx->pos = i + 1;
	switch (c) {
	case '(':
		tok->kind = T_LPAREN;
		break;
	case ')':
		tok->kind = T_RPAREN;
		break;
	case '[':
		tok->kind = T_LBRACKET;
		break;
	case ']':
		tok->kind = T_RBRACKET;
		break;
	case '{':
		tok->kind = T_LBRACE;
		break;
	case '}':
		tok->kind = T_RBRACE;
		break;
	case '.':
		tok->kind = T_DOT;
		break;
	case ',':
		tok->kind = T_COMMA;
		break;
	case ':':
		tok->kind = T_COLON;
		break;
	case '?':
		tok->kind = T_QUESTION;
		break;
	case '+':
		tok->kind = T_PLUS;
		break;
	case '-':
		tok->kind = T_MINUS;
		break;
	case '*':
		tok->kind = T_STAR;
		break;
	case '/':
		tok->kind = T_SLASH;
		break;
	case '%':
		tok->kind = T_PERCENT;
		break;
	case '!':
		tok->kind = c2 == '=' ? T_NE : T_NOT;
		break;
	case '=':
		if (c2 != '=')
			return lex_error(lx, i, "unexpected '=' (use '==')");
		tok->kind = T_EQ;
		break;
	case '<':
		tok->kind = c2 == '=' ? T_LE : T_LT;
		break;
	case '>':
		tok->kind = c2 == '=' ? T_GE : T_GT;
		break;
	case '&':
		if (c2 != '&')
			return lex_error(lx, i, "unexpected '&' (use '&&')");
		tok->kind = T_AND;
		break;
	case '|':
		if (c2 != '|')
			return lex_error(lx, i, "unexpected '|' (use '||')");
		tok->kind = T_OR;
		break;
	default:
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			return lex_error(lx, i, "unexpected character '%c'", c);
		return lex_error(
		    lx, i, "unexpected byte 0x%02x", (unsigned char)c);
	}
	if (tok->kind == T_NE || tok->kind == T_LE || tok->kind == T_GE ||
	    tok->kind == T_EQ || tok->kind == T_AND || tok->kind == T_OR)
		lx->pos = i + 2;
done:
	tok->len = lx->pos - i;
	return 0;
}
