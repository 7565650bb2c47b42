// SPDX-License-Identifier: MIT
/*
 * Named time zones for the timestamp getters (ts.getHours('Europe/Berlin'),
 * cel_time.c): the system's TZif files (RFC 8536, version 2 or later,
 * Debian's tzdata package) under /usr/share/zoneinfo, parsed here, and the
 * POSIX TZ rule in their footer for the times after the last transition,
 * applied as Go's time package does (time.LoadLocation is what cel-go
 * calls).  Zones are loaded once and kept in a small process-wide cache,
 * so a warm evaluation does no I/O; like the rest of CEL here, it is for
 * one thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cel_impl.h"

#define ZONEINFO_DIR   "/usr/share/zoneinfo"
#define ZONE_NAME_MAX  64        /* the longest IANA name is 32 bytes */
#define ZONE_CACHE_MAX 64        /* zones kept for the process */
#define TZIF_MAX       (1 << 16) /* bytes of a TZif file (4 KiB usually) */
#define TZIF_HEADER    44

enum rule_kind { RULE_JULIAN, RULE_DOY, RULE_MWD };

/* A POSIX TZ transition rule: "M3.2.0/2", "J60", "59". */
struct tzrule {
	enum rule_kind kind;
	int day, week, mon;
	int32_t time; /* seconds after local midnight, may pass 24h */
};

struct cel_zone {
	char name[ZONE_NAME_MAX + 1];
	size_t ntx, ntypes;
	const int64_t *when;  /* transition times, ascending */
	const uint8_t *idx;   /* the type each transition starts */
	const int32_t *off;   /* each type's offset from UTC */
	const uint8_t *isdst; /* each type's DST flag */
	int first;            /* the type before the first transition */
	/* The footer's rule, for the times after the last transition. */
	int has_rule, has_dst;
	int32_t std_off, dst_off;
	struct tzrule start, end;
};

static struct cel_zone *cache[ZONE_CACHE_MAX];
static size_t ncache;

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Go's tzsetNum: digits in [min, max]; NULL if absent or out of range. */
static const char *
tz_num(const char *s, int min, int max, int *out)
{
	int n = 0, digits = 0;

	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		n = n * 10 + (*s - '0');
		if (n > max)
			return NULL;
	}
	if (digits == 0 || n < min)
		return NULL;
	*out = n;
	return s;
}

/* A zone abbreviation: three or more letters, or anything in <...>. */
static const char *
tz_name(const char *s)
{
	const char *start = s;

	if (*s == '<') {
		if ((s = strchr(s, '>')) == NULL)
			return NULL;
		return s + 1;
	}
	while (*s != '\0' && !(*s >= '0' && *s <= '9') && *s != ',' &&
	    *s != '-' && *s != '+')
		s++;
	return s - start >= 3 ? s : NULL;
}

/*
 * [+-]hh[:mm[:ss]], in seconds, as written (POSIX offsets are west of
 * UTC; the caller negates them).  Hours go to 167, as RFC 8536 allows.
 */
static const char *
tz_offset(const char *s, int32_t *out)
{
	int neg = 0, h, m = 0, sec = 0;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if ((s = tz_num(s, 0, 24 * 7, &h)) == NULL)
		return NULL;
	if (*s == ':') {
		if ((s = tz_num(s + 1, 0, 59, &m)) == NULL)
			return NULL;
		if (*s == ':' && (s = tz_num(s + 1, 0, 59, &sec)) == NULL)
			return NULL;
	}
	*out = (int32_t)(h * 3600 + m * 60 + sec);
	if (neg)
		*out = -*out;
	return s;
}

/* Jn, n or Mm.w.d, then an optional /time (2:00 by default). */
static const char *
tz_rule(const char *s, struct tzrule *r)
{
	memset(r, 0, sizeof(*r));
	if (*s == 'J') {
		r->kind = RULE_JULIAN;
		s = tz_num(s + 1, 1, 365, &r->day);
	} else if (*s == 'M') {
		r->kind = RULE_MWD;
		if ((s = tz_num(s + 1, 1, 12, &r->mon)) == NULL || *s != '.' ||
		    (s = tz_num(s + 1, 1, 5, &r->week)) == NULL || *s != '.')
			return NULL;
		s = tz_num(s + 1, 0, 6, &r->day);
	} else {
		r->kind = RULE_DOY;
		s = tz_num(s, 0, 365, &r->day);
	}
	if (s == NULL)
		return NULL;
	r->time = 2 * 3600;
	if (*s == '/')
		s = tz_offset(s + 1, &r->time);
	return s;
}

/*
 * The footer, "EST5EDT,M3.2.0,M11.1.0": Go's tzset().  Leaves has_rule 0
 * when it does not parse, and the last transition then stays in force,
 * as in Go.
 */
static void
parse_footer(struct cel_zone *z, const char *s)
{
	int32_t off;

	if ((s = tz_name(s)) == NULL || (s = tz_offset(s, &off)) == NULL)
		return;
	z->std_off = -off;
	if (*s == '\0' || *s == ',') {
		z->has_rule = 1;
		return;
	}
	if ((s = tz_name(s)) == NULL)
		return;
	z->dst_off = z->std_off + 3600;
	if (*s != '\0' && *s != ',' && *s != ';') {
		if ((s = tz_offset(s, &off)) == NULL)
			return;
		z->dst_off = -off;
	}
	if (*s == '\0')
		s = ",M3.2.0,M11.1.0";
	if ((*s != ',' && *s != ';') ||
	    (s = tz_rule(s + 1, &z->start)) == NULL || *s != ',' ||
	    (s = tz_rule(s + 1, &z->end)) == NULL || *s != '\0')
		return;
	z->has_rule = z->has_dst = 1;
}

/*
 * Go's lookupFirstZone: the type for times before the first transition,
 * which is not always type 0 in files written before RFC 8536.
 */
static int
first_type(const struct cel_zone *z)
{
	size_t i;
	int t;

	for (i = 0; i < z->ntx; i++)
		if (z->idx[i] == 0)
			break;
	if (i == z->ntx)
		return 0;
	if (z->ntx > 0 && z->isdst[z->idx[0]])
		for (t = (int)z->idx[0] - 1; t >= 0; t--)
			if (!z->isdst[t])
				return t;
	for (i = 0; i < z->ntypes; i++)
		if (!z->isdst[i])
			return (int)i;
	return 0;
}

/*
 * Parses <n> bytes of TZif into a zone allocated with malloc (<spill>
 * NULL) or in <spill>.  Returns it, or NULL with a message in <msg>.
 */
static struct cel_zone *
tzif_parse(const unsigned char *buf, size_t n, const char *name,
    struct cel_arena *spill, char *msg, size_t msglen)
{
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
	const unsigned char *p, *end = buf + n, *nl;
	struct cel_zone *z;
	int64_t *when;
	int32_t *off;
	uint8_t *idx, *isdst;
	size_t size, i, v1;
	char footer[128];

	if (n < TZIF_HEADER || memcmp(buf, "TZif", 4) != 0)
		goto bad;
	if (buf[4] < '2') {
		snprintf(msg, msglen,
		    "time zone '%s': TZif version 1 files are not supported",
		    name);
		return NULL;
	}
	/* Skip the version 1 block: its counts are in its own header. */
	p = buf + 20;
	v1 = (size_t)be32(p + 12) * 5 + (size_t)be32(p + 16) * 6 +
	    be32(p + 20) + (size_t)be32(p + 8) * 8 + be32(p + 4) + be32(p);
	if (v1 > n - TZIF_HEADER || n - TZIF_HEADER - v1 < TZIF_HEADER)
		goto bad;
	p = buf + TZIF_HEADER + v1;
	if (memcmp(p, "TZif", 4) != 0)
		goto bad;
	isutcnt = be32(p + 20);
	isstdcnt = be32(p + 24);
	leapcnt = be32(p + 28);
	timecnt = be32(p + 32);
	typecnt = be32(p + 36);
	charcnt = be32(p + 40);
	p += TZIF_HEADER;
	if (typecnt == 0 || typecnt > 256 || timecnt > n || charcnt > n ||
	    leapcnt > n || isutcnt > n || isstdcnt > n ||
	    (size_t)(end - p) < (size_t)timecnt * 9 + (size_t)typecnt * 6 +
	            charcnt + (size_t)leapcnt * 12 + isstdcnt + isutcnt)
		goto bad;
	size = sizeof(*z) + (size_t)timecnt * (sizeof(*when) + 1) +
	    (size_t)typecnt * (sizeof(*off) + 1);
	z = spill != NULL ? cel_arena_alloc(spill, size) : malloc(size);
	if (z == NULL) {
		snprintf(msg, msglen, "time zone '%s': out of memory", name);
		return NULL;
	}
	memset(z, 0, sizeof(*z));
	snprintf(z->name, sizeof(z->name), "%s", name);
	/* int64s first, right after the struct, for their alignment. */
	when = (int64_t *)(z + 1);
	off = (int32_t *)(when + timecnt);
	idx = (uint8_t *)(off + typecnt);
	isdst = idx + timecnt;
	z->ntx = timecnt;
	z->ntypes = typecnt;
	for (i = 0; i < timecnt; i++, p += 8) {
		when[i] = be64(p);
		if (i > 0 && when[i] <= when[i - 1])
			goto bad_free;
	}
	for (i = 0; i < timecnt; i++, p++) {
		if (*p >= typecnt)
			goto bad_free;
		idx[i] = *p;
	}
	for (i = 0; i < typecnt; i++, p += 6) {
		off[i] = (int32_t)be32(p);
		if (off[i] < -25 * 3600 || off[i] > 26 * 3600 || p[4] > 1)
			goto bad_free;
		isdst[i] = p[4];
	}
	/* Abbreviations, leap seconds (Go ignores them too), indicators. */
	p += charcnt + (size_t)leapcnt * 12 + isstdcnt + isutcnt;
	z->when = when;
	z->off = off;
	z->idx = idx;
	z->isdst = isdst;
	z->first = first_type(z);
	if (p < end && *p == '\n' &&
	    (nl = memchr(p + 1, '\n', (size_t)(end - p - 1))) != NULL &&
	    (size_t)(nl - p - 1) < sizeof(footer)) {
		memcpy(footer, p + 1, (size_t)(nl - p - 1));
		footer[nl - p - 1] = '\0';
		if (footer[0] != '\0')
			parse_footer(z, footer);
	}
	return z;
bad_free:
	if (spill == NULL)
		free(z);
bad:
	snprintf(msg, msglen, "time zone '%s': not a valid TZif file", name);
	return NULL;
}

/* Zone names as IANA writes them, never a way out of the directory. */
static int
name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > ZONE_NAME_MAX || s[0] == '/' || s[0] == '.' ||
	    memmem(s, n, "..", 2) != NULL || memmem(s, n, "//", 2) != NULL ||
	    s[n - 1] == '/')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '/' ||
		        s[i] == '_' || s[i] == '-' || s[i] == '+' ||
		        s[i] == '.'))
			return 0;
	return 1;
}

/* Reads the zone's file into a malloc'ed buffer; NULL with <msg>. */
static unsigned char *
read_zone(const char *name, size_t *len, char *msg, size_t msglen)
{
	char path[sizeof(ZONEINFO_DIR) + ZONE_NAME_MAX + 2];
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if ((errno == ENOENT || errno == ENOTDIR) &&
		    access(ZONEINFO_DIR, F_OK) == -1)
			snprintf(msg, msglen,
			    "time zone '%s': no " ZONEINFO_DIR
			    " (install the tzdata package)",
			    name);
		else if (errno == ENOENT || errno == ENOTDIR)
			snprintf(msg, msglen, "unknown time zone '%s' (no %s)",
			    name, path);
		else
			snprintf(msg, msglen, "time zone '%s': %s: %s", name,
			    path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > TZIF_MAX) {
		snprintf(msg, msglen,
		    "unknown time zone '%s' (%s is not a zone file)", name,
		    path);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(msg, msglen, "time zone '%s': out of memory", name);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(msg, msglen, "time zone '%s': %s: %s", name,
			    path, r == 0 ? "short read" : strerror(errno));
			goto fail;
		}
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

const struct cel_zone *
cel_zone_find(const char *name, size_t len, struct cel_arena *spill, char *msg,
    size_t msglen)
{
	char zname[ZONE_NAME_MAX + 1];
	struct cel_zone *z;
	unsigned char *buf;
	size_t i, n;

	if (!name_ok(name, len)) {
		snprintf(msg, msglen, "invalid time zone '%.*s'",
		    (int)(len > 64 ? 64 : len), name);
		return NULL;
	}
	memcpy(zname, name, len);
	zname[len] = '\0';
	for (i = 0; i < ncache; i++)
		if (strcmp(cache[i]->name, zname) == 0)
			return cache[i];
	if ((buf = read_zone(zname, &n, msg, msglen)) == NULL)
		return NULL;
	z = tzif_parse(
	    buf, n, zname, ncache < ZONE_CACHE_MAX ? NULL : spill, msg, msglen);
	free(buf);
	if (z != NULL && ncache < ZONE_CACHE_MAX)
		cache[ncache++] = z;
	return z;
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Go's tzruleTime: when the rule fires in <year>, in seconds after the
 * year's start in UTC, given the offset in force before it.
 */
static int64_t
rule_time(int64_t year, const struct tzrule *r, int32_t off)
{
	int64_t s, first, next;
	int dow, d, i;

	switch (r->kind) {
	case RULE_JULIAN:
		s = (int64_t)(r->day - 1) * 86400;
		if (is_leap(year) && r->day >= 60)
			s += 86400;
		break;
	case RULE_DOY:
		s = (int64_t)r->day * 86400;
		break;
	default:
		first = cel_days_from_civil(year, r->mon, 1);
		next = r->mon == 12 ? cel_days_from_civil(year + 1, 1, 1)
		                    : cel_days_from_civil(year, r->mon + 1, 1);
		/* 1970-01-01 was a Thursday; Sunday is 0. */
		dow = (int)(((first + 4) % 7 + 7) % 7);
		if ((d = r->day - dow) < 0)
			d += 7;
		for (i = 1; i < r->week && d + 7 < next - first; i++)
			d += 7;
		s = (first + d - cel_days_from_civil(year, 1, 1)) * 86400;
		break;
	}
	return s + r->time - off;
}

/* The footer rule's offset at <t>, as Go's tzset() picks it. */
static int32_t
rule_offset(const struct cel_zone *z, int64_t t)
{
	int64_t days, y, ysec, start, end, tmp;
	int32_t so = z->std_off, dso = z->dst_off, to;
	int m, d;

	if (!z->has_dst)
		return z->std_off;
	days = t / 86400 - (t % 86400 < 0);
	cel_civil_from_days(days, &y, &m, &d);
	ysec =
	    (days - cel_days_from_civil(y, 1, 1)) * 86400 + (t - days * 86400);
	start = rule_time(y, &z->start, z->std_off);
	end = rule_time(y, &z->end, z->dst_off);
	/* Southern hemisphere: DST spans the new year. */
	if (end < start) {
		tmp = start;
		start = end;
		end = tmp;
		to = so;
		so = dso;
		dso = to;
	}
	return ysec < start || ysec >= end ? so : dso;
}

int32_t
cel_zone_offset(const struct cel_zone *z, int64_t t)
{
	size_t lo, hi, mid;

	if (z->ntx == 0)
		return z->has_rule ? rule_offset(z, t) : z->off[0];
	if (t < z->when[0])
		return z->off[z->first];
	/* The last transition at or before <t>. */
	for (lo = 0, hi = z->ntx; hi - lo > 1;) {
		mid = lo + (hi - lo) / 2;
		if (t < z->when[mid])
			hi = mid;
		else
			lo = mid;
	}
	if (lo == z->ntx - 1 && z->has_rule)
		return rule_offset(z, t);
	return z->off[z->idx[lo]];
}
