// SPDX-License-Identifier: MIT
/*
 * Wall-clock and monotonic time, RFC 3339 printing and parsing, and the
 * duration and size strings of command lines and configs (see timeutil.h).
 * Formatting runs several times per event on the proxy's hot path, so it
 * converts days to a date with integer arithmetic instead of gmtime_r(3)
 * and keeps the "YYYY-MM-DDTHH:MM:SS" text of recently seen seconds in a
 * small static cache.  Like the rest of libgw it assumes one thread.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

#define NS_PER_SEC  1000000000ULL
#define SEC_PER_DAY 86400ULL

/*
 * One event formats up to six timestamps, and conn.start_ts is usually an
 * older second than the others, so one entry would keep missing.  Four
 * entries indexed by the low bits of the second cover that for free.
 */
#define RFC3339_CACHE 4

struct rfc3339_entry {
	uint64_t tag;  /* second + 1; 0 means empty */
	char text[19]; /* "YYYY-MM-DDTHH:MM:SS", no NUL */
};

static struct rfc3339_entry rfc3339_cache[RFC3339_CACHE];

uint64_t
gw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t
gw_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/*
 * Days since 1970-01-01 to a proleptic Gregorian date and back (Howard
 * Hinnant's algorithms, restricted to dates on or after the epoch, which
 * is all an unsigned nanosecond count can express).
 */
static void
civil_from_days(uint64_t days, unsigned *y, unsigned *m, unsigned *d)
{
	uint64_t z, era, doe, yoe, doy, mp;

	z = days + 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (unsigned)(yoe + era * 400 + (*m <= 2));
}

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

static void
format_second(uint64_t sec, char *p)
{
	unsigned y, mo, d, s;

	civil_from_days(sec / SEC_PER_DAY, &y, &mo, &d);
	s = (unsigned)(sec % SEC_PER_DAY);
	put2(p, y / 100);
	put2(p + 2, y % 100);
	p[4] = '-';
	put2(p + 5, mo);
	p[7] = '-';
	put2(p + 8, d);
	p[10] = 'T';
	put2(p + 11, s / 3600);
	p[13] = ':';
	put2(p + 14, s / 60 % 60);
	p[16] = ':';
	put2(p + 17, s % 60);
}

size_t
gw_rfc3339(uint64_t ns, char *buf)
{
	struct rfc3339_entry *e;
	uint64_t sec = ns / NS_PER_SEC;
	unsigned us = (unsigned)(ns % NS_PER_SEC / 1000);
	int i;

	e = &rfc3339_cache[sec % RFC3339_CACHE];
	if (e->tag != sec + 1) {
		format_second(sec, e->text);
		e->tag = sec + 1;
	}
	memcpy(buf, e->text, sizeof(e->text));
	buf[19] = '.';
	/* Truncate, never round: rounding could carry into the cached second. */
	for (i = 25; i >= 20; i--) {
		buf[i] = (char)('0' + us % 10);
		us /= 10;
	}
	buf[26] = 'Z';
	buf[27] = '\0';
	return 27;
}

/* Reads exactly <n> decimal digits. */
static int
digits(const char **sp, int n, unsigned *out)
{
	const char *s = *sp;
	unsigned v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*sp = s + n;
	*out = v;
	return 0;
}

static int
is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
gw_parse_rfc3339(const char *s, uint64_t *ns)
{
	static const unsigned char mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31,
		30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0, dim;
	uint64_t frac = 0, scale = NS_PER_SEC / 10;
	int64_t days, t;
	int sign = 0;

	if (digits(&s, 4, &y) == -1 || *s++ != '-' ||
	    digits(&s, 2, &mo) == -1 || *s++ != '-' || digits(&s, 2, &d) == -1)
		goto bad;
	/* RFC 3339 §5.6 allows "t" and, in a note, a space. */
	if (*s != 'T' && *s != 't' && *s != ' ')
		goto bad;
	s++;
	if (digits(&s, 2, &h) == -1 || *s++ != ':' ||
	    digits(&s, 2, &mi) == -1 || *s++ != ':' ||
	    digits(&s, 2, &sec) == -1)
		goto bad;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			goto bad;
		/* Digits past nanoseconds are accepted and dropped. */
		for (; *s >= '0' && *s <= '9'; s++) {
			frac += (uint64_t)(*s - '0') * scale;
			scale /= 10;
		}
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh) == -1 || *s++ != ':' ||
		    digits(&s, 2, &om) == -1 || oh > 23 || om > 59)
			goto bad;
	} else
		goto bad;
	if (*s != '\0')
		goto bad;
	if (mo < 1 || mo > 12)
		goto bad;
	dim = mdays[mo - 1] + (mo == 2 && is_leap(y));
	/* A leap second (:60) becomes the first second of the next minute. */
	if (d < 1 || d > dim || h > 23 || mi > 59 || sec > 60)
		goto bad;
	days = days_from_civil(y, mo, d);
	t = days * (int64_t)SEC_PER_DAY + h * 3600 + mi * 60 + sec;
	t -= sign * (int64_t)(oh * 3600 + om * 60);
	/* Years 0000-9999 keep t far from overflow; the epoch bounds it below. */
	if (t < 0 || (uint64_t)t > (UINT64_MAX - frac) / NS_PER_SEC)
		goto bad;
	*ns = (uint64_t)t * NS_PER_SEC + frac;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * Reads a decimal number with an optional fraction ("1", "1.5") and
 * returns it scaled by <unit> in <out>, truncating below 1.  The caller
 * finds the unit first, so this takes the span [s, end).
 */
static int
scaled(const char *s, const char *end, uint64_t unit, uint64_t *out)
{
	uint64_t ip = 0, v, f = 0, div = 1;

	for (; s < end && *s != '.'; s++) {
		if (ip > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		ip = ip * 10 + (uint64_t)(*s - '0');
	}
	if (ip != 0 && unit > UINT64_MAX / ip) {
		errno = ERANGE;
		return -1;
	}
	v = ip * unit;
	if (s < end) {
		/* Nine digits are enough for nanoseconds of a day or GiB. */
		for (s++; s < end && div < NS_PER_SEC; s++) {
			f = f * 10 + (uint64_t)(*s - '0');
			div *= 10;
		}
		/* f < div ≤ 1e9 and unit < 2^64, so split to avoid overflow. */
		f = unit / div * f + unit % div * f / div;
		if (v > UINT64_MAX - f) {
			errno = ERANGE;
			return -1;
		}
		v += f;
	}
	*out = v;
	return 0;
}

/*
 * Finds the end of a number at <s>: digits with at most one '.', at least
 * one digit before and (when there is a '.') after it.  Returns NULL if
 * there is no such number.
 */
static const char *
number_end(const char *s)
{
	const char *p = s;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p == s)
		return NULL;
	if (*p == '.') {
		s = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	return p;
}

struct unit {
	const char *name;
	uint64_t mult;
};

int
gw_parse_duration(const char *s, uint64_t *ns)
{
	/* Longest names first so "ms" is not read as "m" followed by "s". */
	static const struct unit units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "\xc2\xb5s", 1000 }, /* µs, as Go writes it */
		{ "ms", 1000000 },
		{ "s", NS_PER_SEC },
		{ "m", 60 * NS_PER_SEC },
		{ "h", 3600 * NS_PER_SEC },
		{ "d", SEC_PER_DAY * NS_PER_SEC },
	};
	const char *end;
	uint64_t total = 0, v;
	size_t i, len;

	if ((end = number_end(s)) == NULL)
		goto bad;
	if (*end == '\0')
		return scaled(s, end, NS_PER_SEC, ns);
	while (*s != '\0') {
		if ((end = number_end(s)) == NULL)
			goto bad;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			len = strlen(units[i].name);
			if (strncmp(end, units[i].name, len) == 0 &&
			    (end[len] < 'a' || end[len] > 'z'))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			goto bad;
		if (scaled(s, end, units[i].mult, &v) == -1)
			return -1;
		if (total > UINT64_MAX - v) {
			errno = ERANGE;
			return -1;
		}
		total += v;
		s = end + len;
	}
	*ns = total;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
gw_parse_when(const char *s, uint64_t now_ns, int64_t *us)
{
	uint64_t ns;

	if (gw_parse_duration(s, &ns) == 0) {
		*us = (int64_t)(now_ns - ns) / 1000;
		return 0;
	}
	if (gw_parse_rfc3339(s, &ns) == 0) {
		*us = (int64_t)(ns / 1000);
		return 0;
	}
	errno = EINVAL;
	return -1;
}

int
gw_parse_size(const char *s, uint64_t *bytes)
{
	const char *end, *u;
	uint64_t mult;

	if ((end = number_end(s)) == NULL)
		goto bad;
	u = end;
	switch (*u) {
	case '\0':
		return scaled(s, end, 1, bytes);
	case 'b':
	case 'B':
		mult = 1;
		break;
	case 'k':
	case 'K':
		mult = 1ULL << 10;
		break;
	case 'm':
	case 'M':
		mult = 1ULL << 20;
		break;
	case 'g':
	case 'G':
		mult = 1ULL << 30;
		break;
	case 't':
	case 'T':
		mult = 1ULL << 40;
		break;
	default:
		goto bad;
	}
	u++;
	/* "K", "KB" and "KiB" all mean 1024: configs are never metric here. */
	if (mult > 1) {
		if (*u == 'i' || *u == 'I') {
			u++;
			if (*u != 'b' && *u != 'B')
				goto bad;
		}
		if (*u == 'b' || *u == 'B')
			u++;
	}
	if (*u != '\0')
		goto bad;
	return scaled(s, end, mult, bytes);
bad:
	errno = EINVAL;
	return -1;
}

void
gw_fmt_duration(int64_t ns, char *buf, size_t len)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (ns < 1000000)
		snprintf(buf, len, "%lldµs", (long long)(ns / 1000));
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1fms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", (double)ns / 1e9);
}
