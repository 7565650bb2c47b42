// SPDX-License-Identifier: MIT
/*
 * The two small languages of a batch's command line: --expect, which
 * statuses count as a success (what decides the exit status that cron
 * and CI alert on), and --rate, how often a replay may start.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gw-replay.h"
#include "timeutil.h"

/* Marks statuses [lo, hi] in <v>. */
static void
mark(unsigned char *v, int lo, int hi)
{
	int i;

	for (i = lo; i <= hi; i++)
		v[i] = 1;
}

/* One item: "2xx", "404", "same", each maybe after '!'. */
static int
expect_item(struct expect *x, const char *s, size_t n, struct gw_error *err)
{
	unsigned char *v;
	int neg = 0, st;

	if (n > 0 && s[0] == '!') {
		neg = 1;
		s++;
		n--;
	}
	v = neg ? x->neg : x->pos;
	if (n == 4 && strncmp(s, "same", 4) == 0) {
		if (neg)
			x->same_neg = 1;
		else
			x->same_pos = 1;
	} else if (n == 3 && s[0] >= '1' && s[0] <= '5' &&
	    ((s[1] == 'x' && s[2] == 'x') || (s[1] == 'X' && s[2] == 'X')))
		mark(v, (s[0] - '0') * 100, (s[0] - '0') * 100 + 99);
	else if (n == 3 && s[0] >= '1' && s[0] <= '5' && s[1] >= '0' &&
	    s[1] <= '9' && s[2] >= '0' && s[2] <= '9') {
		st = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
		mark(v, st, st);
	} else {
		gw_error_set(err, NULL, 0, 0,
		    "--expect: '%.*s' is not a status (404), a class (2xx), "
		    "'same', or one of those after '!'",
		    (int)n, s);
		errno = EINVAL;
		return -1;
	}
	if (!neg)
		x->npos++;
	return 0;
}

int
expect_parse(struct expect *x, const char *spec, struct gw_error *err)
{
	const char *p = spec, *comma;
	size_t n, used;

	if (*spec == '\0') {
		gw_error_set(err, NULL, 0, 0, "--expect: empty");
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (expect_item(x, p, n, err) == -1)
			return -1;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	used = strlen(x->text);
	if (used + 2 < sizeof(x->text))
		snprintf(x->text + used, sizeof(x->text) - used, "%s%s",
		    used > 0 ? "," : "", spec);
	return 0;
}

int
expect_met(const struct expect *x, int status, int orig_status)
{
	int in = status >= 100 && status <= 599, same;

	if (!in)
		return 0;
	same = orig_status != 0 && status == orig_status;
	if (x->neg[status] || (x->same_neg && same))
		return 0;
	if (x->npos == 0)
		return 1;
	return x->pos[status] || (x->same_pos && same);
}

int
rate_parse(const char *s, uint64_t *interval_ns, struct gw_error *err)
{
	const char *slash = strchr(s, '/'), *unit;
	char *end, num[64];
	uint64_t per_ns = 1000000000ull;
	double n, iv;
	size_t len;

	len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (len == 0 || len >= sizeof(num))
		goto bad;
	memcpy(num, s, len);
	num[len] = '\0';
	errno = 0;
	n = strtod(num, &end);
	if (errno != 0 || *end != '\0' || !(n > 0) || !isfinite(n))
		goto bad;
	if (slash != NULL) {
		unit = slash + 1;
		if (strcmp(unit, "s") == 0 || strcmp(unit, "sec") == 0)
			per_ns = 1000000000ull;
		else if (strcmp(unit, "m") == 0 || strcmp(unit, "min") == 0)
			per_ns = 60000000000ull;
		else if (strcmp(unit, "h") == 0)
			per_ns = 3600000000000ull;
		else if (gw_parse_duration(unit, &per_ns) == -1 ||
		    (unit[0] < '0' || unit[0] > '9') || per_ns == 0)
			goto bad;
	}
	iv = (double)per_ns / n;
	if (iv < 1 || iv > 1e18)
		goto bad;
	*interval_ns = (uint64_t)iv;
	return 0;
bad:
	gw_error_set(err, NULL, 0, 0,
	    "--rate '%s': expected N/s, N/m, N/h or N/DURATION (10/s, "
	    "2/5s), N > 0",
	    s);
	errno = EINVAL;
	return -1;
}
