// SPDX-License-Identifier: MIT
/*
 * How gw-capture prints: colours and the terminal's width when stdout is a
 * TTY (and NO_COLOR is not set), plain text on a pipe, and the small
 * formatting helpers that list, show and stats share.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "gw-capture.h"
#include "http.h"
#include "base64.h"

void
cap_style_init(struct cap_style *st, FILE *f, const struct capconf *c)
{
	struct winsize ws;
	const char *nc = getenv("NO_COLOR");
	int fd = fileno(f);

	memset(st, 0, sizeof(*st));
	st->tty = isatty(fd);
	if (st->tty && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		st->width = ws.ws_col;
	else if (st->tty)
		st->width = 80;
	if (!c->no_color &&
	    ((st->tty && (nc == NULL || nc[0] == '\0')) || c->force_color)) {
		st->bold = "\033[1m";
		st->dim = "\033[2m";
		st->reset = "\033[0m";
		st->red = "\033[31m";
		st->yellow = "\033[33m";
		st->green = "\033[32m";
		st->cyan = "\033[36m";
	} else
		st->bold = st->dim = st->reset = st->red = st->yellow =
		    st->green = st->cyan = "";
}

const char *
cap_status_color(const struct cap_style *st, int status)
{
	if (status >= 500 || status == 0)
		return st->red;
	if (status >= 400)
		return st->yellow;
	if (status >= 300)
		return st->cyan;
	return st->green;
}

const char *
cap_reason(int status)
{
	return gw_http_reason(status);
}

char *
cap_base64(const unsigned char *p, size_t n)
{
	char *s = malloc(GW_BASE64_ENCODED_LEN(n) + 1);

	if (s != NULL)
		s[gw_base64_encode(p, n, s)] = '\0';
	return s;
}

void
cap_put_base64(FILE *f, const unsigned char *p, size_t n)
{
	char *s = cap_base64(p, n);

	if (s != NULL)
		fputs(s, f);
	free(s);
}

void
cap_har_query(json_t *list, const char *query)
{
	const char *p = query, *amp, *eq;
	size_t n;

	while (*p != '\0') {
		amp = strchr(p, '&');
		n = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (n > 0) {
			eq = memchr(p, '=', n);
			json_array_append_new(list,
			    json_pack("{s:s%,s:s%}", "name", p,
			        eq != NULL ? (size_t)(eq - p) : n, "value",
			        eq != NULL ? eq + 1 : "",
			        eq != NULL ? n - (size_t)(eq - p) - 1 : 0));
		}
		p += n + (amp != NULL);
	}
}
