// SPDX-License-Identifier: MIT
/*
 * From a byte of a decoded YAML scalar back to the file: which line and
 * column of the source it came from, through quoting, escapes, line
 * folding and block scalars, so that an error inside a string (a CEL
 * expression in policy.yml, a template in export.yml) points at the very
 * character.  See yamlpos.h.
 */
#include <stdlib.h>
#include <string.h>

#include "ascii.h"
#include "yamlpos.h"

static int
is_break(char c)
{
	return c == '\n' || c == '\r';
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int
gw_yaml_text_init(struct gw_yaml_text *ld, const char *text, size_t len)
{
	size_t i, cap = 64, *p;

	ld->text = text;
	ld->len = len;
	ld->nlines = 0;
	if ((ld->lines = malloc(cap * sizeof(*ld->lines))) == NULL)
		return -1;
	/* libyaml skips a UTF-8 byte order mark before counting columns. */
	ld->lines[0] =
	    ld->len >= 3 && memcmp(ld->text, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
	ld->nlines = 1;
	for (i = ld->lines[0]; i < ld->len; i++) {
		if (!is_break(ld->text[i]))
			continue;
		if (ld->text[i] == '\r' && i + 1 < ld->len &&
		    ld->text[i + 1] == '\n')
			i++;
		if (ld->nlines == cap) {
			cap *= 2;
			if ((p = realloc(ld->lines, cap * sizeof(*p))) == NULL)
				return -1;
			ld->lines = p;
		}
		ld->lines[ld->nlines++] = i + 1;
	}
	return 0;
}

/* The byte offset of 1-based <line>:<col> (characters). */
static size_t
locate(const struct gw_yaml_text *ld, int line, int col)
{
	size_t p;

	if (line < 1 || (size_t)line > ld->nlines)
		return ld->len;
	p = ld->lines[line - 1];
	while (col > 1 && p < ld->len && !is_break(ld->text[p])) {
		p++;
		while (
		    p < ld->len && ((unsigned char)ld->text[p] & 0xc0) == 0x80)
			p++;
		col--;
	}
	return p;
}

/* The 1-based line and character column of byte offset <p>. */
static void
pos_of(const struct gw_yaml_text *ld, size_t p, int *line, int *col)
{
	size_t lo = 0, hi = ld->nlines, mid, i;

	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		if (ld->lines[mid] <= p)
			lo = mid;
		else
			hi = mid;
	}
	*line = (int)lo + 1;
	*col = 1;
	for (i = ld->lines[lo]; i < p && i < ld->len; i++)
		if (((unsigned char)ld->text[i] & 0xc0) != 0x80)
			(*col)++;
}

/* Bytes of the line break at <p> (0 if none). */
static size_t
break_len(const struct gw_yaml_text *ld, size_t p)
{
	if (p >= ld->len || !is_break(ld->text[p]))
		return 0;
	if (ld->text[p] == '\r' && p + 1 < ld->len && ld->text[p + 1] == '\n')
		return 2;
	return 1;
}

static size_t
utf8_len(unsigned long cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/*
 * A double-quoted escape at <p> (the backslash): sets *<src> to the
 * bytes it spans and returns the bytes it decodes to.
 */
static size_t
dq_escape(const struct gw_yaml_text *ld, size_t p, size_t *src)
{
	unsigned long cp = 0;
	size_t digits = 0, i;
	char c = p + 1 < ld->len ? ld->text[p + 1] : 0;

	*src = 2;
	switch (c) {
	case 'x':
		digits = 2;
		break;
	case 'u':
		digits = 4;
		break;
	case 'U':
		digits = 8;
		break;
	case 'N': /* U+0085 */
	case '_': /* U+00A0 */
		return 2;
	case 'L': /* U+2028 */
	case 'P': /* U+2029 */
		return 3;
	default:
		return 1;
	}
	for (i = 0; i < digits && p + 2 + i < ld->len; i++) {
		if (gw_hexval(ld->text[p + 2 + i]) < 0)
			break;
		cp = cp * 16 + (unsigned long)gw_hexval(ld->text[p + 2 + i]);
	}
	*src = 2 + i;
	return utf8_len(cp);
}

/*
 * Flow scalars (plain, single- and double-quoted): walks the source from
 * <p>, the first content byte, to the byte that decodes to byte <off>.
 * Line folding follows YAML: trailing blanks before a break are dropped,
 * one break becomes a space, n breaks become n - 1 newlines, leading
 * blanks of continuation lines are dropped; a folded space or newline
 * maps to the break it came from.  Escapes map to their backslash.
 */
static size_t
walk_flow(const struct gw_yaml_text *ld, size_t p, size_t off, char quote)
{
	const char *t = ld->text;
	size_t d = 0, q, k, produced, nb;

	while (p < ld->len) {
		if (quote == '"' && t[p] == '"')
			return p;
		if (quote == '\'' && t[p] == '\'') {
			if (p + 1 < ld->len && t[p + 1] == '\'') {
				if (off == d)
					return p;
				d++;
				p += 2;
				continue;
			}
			return p;
		}
		if (quote == '"' && t[p] == '\\') {
			if ((k = break_len(ld, p + 1)) != 0) {
				/* An escaped break: nothing, then blanks. */
				p += 1 + k;
				while (p < ld->len && is_blank(t[p]))
					p++;
				continue;
			}
			produced = dq_escape(ld, p, &k);
			if (off < d + produced)
				return p;
			d += produced;
			p += k;
			continue;
		}
		if (is_blank(t[p])) {
			for (q = p; q < ld->len && is_blank(t[q]); q++)
				;
			if (q < ld->len && is_break(t[q])) {
				p = q; /* trailing blanks: dropped */
				continue;
			}
		} else if (is_break(t[p])) {
			q = p;
			nb = 0;
			while ((k = break_len(ld, q)) != 0) {
				nb++;
				q += k;
				while (q < ld->len && is_blank(t[q]))
					q++;
			}
			produced = nb == 1 ? 1 : nb - 1;
			if (off < d + produced)
				return p;
			d += produced;
			p = q;
			continue;
		}
		if (off == d)
			return p;
		d++;
		p++;
	}
	return ld->len;
}

/*
 * Block scalars ('|' literal, '>' folded) from <p>, the indicator.  The
 * indentation is that of the first non-empty line; an explicit
 * indentation indicator is relative to the parent node, which is not
 * known here, so it is ignored (columns may then be off on lines that
 * start with extra spaces).
 */
static size_t
walk_block(const struct gw_yaml_text *ld, size_t p, size_t off, int folded)
{
	const char *t = ld->text;
	size_t d = 0, indent = 0, sp, eol, k, sep, empties = 0, prev_end = 0;
	int have_indent = 0, have_prev = 0, more, prev_more = 0;

	while (p < ld->len && !is_break(t[p]))
		p++; /* the header, and any comment after it */
	p += break_len(ld, p);
	while (p < ld->len) {
		for (sp = 0; p + sp < ld->len && t[p + sp] == ' '; sp++)
			;
		for (eol = p + sp; eol < ld->len && !is_break(t[eol]); eol++)
			;
		if (eol == p + sp) { /* an empty line */
			empties++;
			p = eol + break_len(ld, eol);
			continue;
		}
		if (!have_indent) {
			indent = sp;
			have_indent = 1;
		}
		if (sp < indent)
			break;
		more = is_blank(t[p + indent]);
		if (!have_prev)
			sep = empties;
		else if (folded && !more && !prev_more)
			sep = empties ? empties : 1;
		else
			sep = empties + 1;
		if (off < d + sep)
			return have_prev ? prev_end : p;
		d += sep;
		if (off < d + (eol - p - indent))
			return p + indent + (off - d);
		d += eol - p - indent;
		have_prev = 1;
		prev_more = more;
		prev_end = eol;
		empties = 0;
		k = break_len(ld, eol);
		if (k == 0)
			return eol;
		p = eol + k;
	}
	return have_prev ? prev_end : p;
}

/* The source byte that byte <off> of scalar <n>'s decoded text came from. */
static size_t
scalar_src(const struct gw_yaml_text *ld, const struct gw_node *n, size_t off)
{
	size_t p = locate(ld, n->line, n->col);
	const char *t = ld->text;

	/* Skip a tag ("!!str") and an anchor ("&a") before the value. */
	while (p < ld->len && (t[p] == '!' || t[p] == '&')) {
		while (p < ld->len && !is_blank(t[p]) && !is_break(t[p]))
			p++;
		while (p < ld->len && (is_blank(t[p]) || is_break(t[p])))
			p++;
	}
	if (p >= ld->len)
		return ld->len;
	switch (t[p]) {
	case '"':
	case '\'':
		return walk_flow(ld, p + 1, off, t[p]);
	case '|':
	case '>':
		return walk_block(ld, p, off, t[p] == '>');
	default:
		return walk_flow(ld, p, off, 0);
	}
}

void
gw_yaml_scalar_pos(const struct gw_yaml_text *ld, const struct gw_node *n,
    size_t off, int *line, int *col)
{
	size_t slen, p;
	int past = 0;

	*line = n->line;
	*col = n->col;
	if (n->type != GW_NODE_SCALAR || ld->text == NULL || n->line == 0 ||
	    ld->lines == NULL)
		return;
	/* Past the end: one column after the last character. */
	slen = strlen(n->str);
	if (off >= slen && slen > 0) {
		off = slen - 1;
		past = 1;
	} else if (slen == 0)
		return;
	p = scalar_src(ld, n, off);
	if (p >= ld->len)
		return;
	pos_of(ld, p, line, col);
	*col += past;
}

void
gw_yaml_text_fini(struct gw_yaml_text *ld)
{
	if (ld == NULL)
		return;
	free(ld->lines);
	ld->lines = NULL;
	ld->nlines = 0;
}
