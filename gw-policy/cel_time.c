// SPDX-License-Identifier: MIT
/*
 * CEL's timestamps and durations: timestamp("2024-01-02T03:04:05Z") and
 * duration("1h30m") (parsed with lib/timeutil), and the getters
 * (getFullYear, getMonth, getDayOfWeek, getHours, ...) with CEL's
 * optional time zone argument: "UTC", a fixed offset ("+05:30") or an
 * IANA name ("America/New_York", through cel_zone.c).  A constant zone
 * is resolved once, when the expression loads.  Values are int64
 * nanoseconds, so timestamps cover 1970-2262 (the RFC 3339 parser starts
 * at the epoch).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

#include "cel_impl.h"

enum field {
	F_YEAR,
	F_MONTH,
	F_DATE,
	F_DAY_OF_MONTH,
	F_DAY_OF_WEEK,
	F_DAY_OF_YEAR,
	F_HOURS,
	F_MINUTES,
	F_SECONDS,
	F_MILLIS
};

static int
f_timestamp(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	char buf[64];
	uint64_t ns;

	if (a[0].type == CEL_TIMESTAMP) {
		*out = a[0];
		return 0;
	}
	if (a[0].type == CEL_INT) {
		if (a[0].i > INT64_MAX / NS_PER_SEC ||
		    a[0].i < INT64_MIN / NS_PER_SEC)
			return cel_ctx_error(c->ctx, "timestamp out of range");
		*out = cel_timestamp(a[0].i * NS_PER_SEC);
		return 0;
	}
	if (a[0].s.len >= sizeof(buf) ||
	    memchr(a[0].s.ptr, '\0', a[0].s.len) != NULL)
		goto bad;
	memcpy(buf, a[0].s.ptr, a[0].s.len);
	buf[a[0].s.len] = '\0';
	if (gw_parse_rfc3339(buf, &ns) == -1 || ns > INT64_MAX)
		goto bad;
	*out = cel_timestamp((int64_t)ns);
	return 0;
bad:
	return cel_ctx_error(c->ctx,
	    "timestamp: cannot parse '%.*s' as RFC 3339 (1970-2262)",
	    (int)(a[0].s.len > 64 ? 64 : a[0].s.len), a[0].s.ptr);
}

/*
 * Go's duration syntax ("-1.5h", "300ms", "1h2m3s", "0"): lib's parser
 * with what Go refuses filtered out first (days, bare numbers) and the
 * sign, which lib does not take, handled here.
 */
static int
f_duration(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	char buf[64];
	const char *s = a[0].s.ptr;
	size_t n = a[0].s.len, i;
	uint64_t ns;
	int neg = 0, letters = 0;

	if (a[0].type == CEL_DURATION) {
		*out = a[0];
		return 0;
	}
	if (n > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		s++;
		n--;
	}
	if (n == 1 && s[0] == '0') {
		*out = cel_duration(0);
		return 0;
	}
	if (n == 0 || n >= sizeof(buf))
		goto bad;
	for (i = 0; i < n; i++) {
		if (s[i] == 'd' || s[i] == '\0')
			goto bad;
		if ((s[i] < '0' || s[i] > '9') && s[i] != '.')
			letters = 1;
	}
	if (!letters)
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (gw_parse_duration(buf, &ns) == -1 ||
	    ns > (uint64_t)INT64_MAX + (uint64_t)neg)
		goto bad;
	*out = cel_duration(neg ? (int64_t)(0 - ns) : (int64_t)ns);
	return 0;
bad:
	return cel_ctx_error(c->ctx, "duration: cannot parse '%.*s'",
	    (int)(a[0].s.len > 64 ? 64 : a[0].s.len), a[0].s.ptr);
}

/*
 * A fixed offset "+05:30", "-08:00" or "05:30", or UTC ("UTC", "GMT",
 * "Z", "Etc/UTC" and "", which Go's LoadLocation takes as UTC), in
 * seconds.  Returns 1 if <s> is one of these, 0 if not.
 */
static int
fixed_zone(const char *s, size_t n, int64_t *off)
{
	int sign = 1, h, m;

	if (n == 0 ||
	    (n == 3 &&
	        (memcmp(s, "UTC", 3) == 0 || memcmp(s, "GMT", 3) == 0)) ||
	    (n == 1 && s[0] == 'Z') ||
	    (n == 7 && memcmp(s, "Etc/UTC", 7) == 0)) {
		*off = 0;
		return 1;
	}
	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		sign = s[0] == '-' ? -1 : 1;
		s++;
		n--;
	}
	if (n == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '9' &&
	    s[1] >= '0' && s[1] <= '9' && s[3] >= '0' && s[3] <= '5' &&
	    s[4] >= '0' && s[4] <= '9') {
		h = (s[0] - '0') * 10 + (s[1] - '0');
		m = (s[3] - '0') * 10 + (s[4] - '0');
		if (h <= 23) {
			*off = sign * (h * 3600 + m * 60);
			return 1;
		}
	}
	return 0;
}

/* What a getter's constant zone argument resolved to at load. */
struct zone_aux {
	const struct cel_zone *zone; /* NULL: fixed, or failed */
	int64_t off;                 /* fixed offset */
	int fixed;
	char msg[160]; /* why it failed, reported per evaluation */
};

/*
 * The zone argument of ts.getX(zone) when it is a constant: looked up
 * once here.  An unknown zone is not a load error: CEL reports it when
 * the expression runs, and so the getter does, without looking again.
 */
static int
zone_prepare(
    struct cel_program *prog, struct cel_node *n, struct cel_error *err)
{
	const struct cel_node *z = n->args[1];
	struct zone_aux *aux;

	if (z->kind != N_CONST || z->val.type != CEL_STRING)
		return 0;
	if ((aux = cel_arena_alloc(&prog->arena, sizeof(*aux))) == NULL) {
		err->col = n->col;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -1;
	}
	memset(aux, 0, sizeof(*aux));
	if (fixed_zone(z->val.s.ptr, z->val.s.len, &aux->off))
		aux->fixed = 1;
	else
		aux->zone = cel_zone_find(z->val.s.ptr, z->val.s.len,
		    &prog->arena, aux->msg, sizeof(aux->msg));
	n->aux = aux;
	return 0;
}

/* The offset from UTC of the zone in <a>[1] at <secs>, into *<off>. */
static int
zone_offset(
    struct cel_call *c, const struct cel_value *a, int64_t secs, int64_t *off)
{
	const struct zone_aux *aux = c->node->aux;
	const struct cel_zone *zone;
	char msg[160];

	if (aux != NULL) {
		if (aux->fixed)
			*off = aux->off;
		else if (aux->zone != NULL)
			*off = cel_zone_offset(aux->zone, secs);
		else
			return cel_ctx_error(c->ctx, "%s", aux->msg);
		return 0;
	}
	if (fixed_zone(a[1].s.ptr, a[1].s.len, off))
		return 0;
	zone = cel_zone_find(
	    a[1].s.ptr, a[1].s.len, c->ctx->arena, msg, sizeof(msg));
	if (zone == NULL)
		return cel_ctx_error(c->ctx, "%s", msg);
	*off = cel_zone_offset(zone, secs);
	return 0;
}

static int
ts_get(struct cel_call *c, const struct cel_value *a, struct cel_value *out,
    enum field f)
{
	int64_t off = 0, secs, days, sod, frac, y;
	int m, d;

	secs = a[0].ns / NS_PER_SEC;
	frac = a[0].ns % NS_PER_SEC;
	if (frac < 0) {
		frac += NS_PER_SEC;
		secs--;
	}
	if (c->nargs == 2 && zone_offset(c, a, secs, &off) == -1)
		return -1;
	secs += off;
	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	cel_civil_from_days(days, &y, &m, &d);
	switch (f) {
	case F_YEAR:
		*out = cel_int(y);
		break;
	case F_MONTH:
		*out = cel_int(m - 1);
		break;
	case F_DATE:
		*out = cel_int(d);
		break;
	case F_DAY_OF_MONTH:
		*out = cel_int(d - 1);
		break;
	case F_DAY_OF_WEEK:
		/* 1970-01-01 was a Thursday; Sunday is 0. */
		*out = cel_int(((days + 4) % 7 + 7) % 7);
		break;
	case F_DAY_OF_YEAR:
		*out = cel_int(days - cel_days_from_civil(y, 1, 1));
		break;
	case F_HOURS:
		*out = cel_int(sod / 3600);
		break;
	case F_MINUTES:
		*out = cel_int(sod / 60 % 60);
		break;
	case F_SECONDS:
		*out = cel_int(sod % 60);
		break;
	case F_MILLIS:
		*out = cel_int(frac / 1000000);
		break;
	}
	return 0;
}

/* Durations: the whole duration in the unit, truncated, as cel-go. */
static int
dur_get(const struct cel_value *a, struct cel_value *out, enum field f)
{
	switch (f) {
	case F_HOURS:
		*out = cel_int(a[0].ns / (3600 * NS_PER_SEC));
		break;
	case F_MINUTES:
		*out = cel_int(a[0].ns / (60 * NS_PER_SEC));
		break;
	case F_SECONDS:
		*out = cel_int(a[0].ns / NS_PER_SEC);
		break;
	default:
		*out = cel_int(a[0].ns / 1000000);
		break;
	}
	return 0;
}

static int
get(struct cel_call *c, const struct cel_value *a, struct cel_value *out,
    enum field f)
{
	if (a[0].type == CEL_DURATION)
		return dur_get(a, out, f);
	return ts_get(c, a, out, f);
}

static int
f_year(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return get(c, a, out, F_YEAR);
}

static int
f_month(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return get(c, a, out, F_MONTH);
}

static int
f_date(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return get(c, a, out, F_DATE);
}

static int
f_day_of_month(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return get(c, a, out, F_DAY_OF_MONTH);
}

static int
f_day_of_week(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return get(c, a, out, F_DAY_OF_WEEK);
}

static int
f_day_of_year(
    struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return get(c, a, out, F_DAY_OF_YEAR);
}

static int
f_hours(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return get(c, a, out, F_HOURS);
}

static int
f_minutes(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return get(c, a, out, F_MINUTES);
}

static int
f_seconds(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return get(c, a, out, F_SECONDS);
}

static int
f_millis(struct cel_call *c, const struct cel_value *a, struct cel_value *out)
{
	return get(c, a, out, F_MILLIS);
}

const struct cel_builtin cel_time_builtins[] = {
	{ "timestamp timestamp(string)", f_timestamp, 0, NULL },
	{ "timestamp timestamp(timestamp)", f_timestamp, 0, NULL },
	{ "timestamp timestamp(int)", f_timestamp, 0, NULL },
	{ "duration duration(string)", f_duration, 0, NULL },
	{ "duration duration(duration)", f_duration, 0, NULL },
	{ "int timestamp.getFullYear()", f_year, 0, NULL },
	{ "int timestamp.getFullYear(string)", f_year, 0, zone_prepare },
	{ "int timestamp.getMonth()", f_month, 0, NULL },
	{ "int timestamp.getMonth(string)", f_month, 0, zone_prepare },
	{ "int timestamp.getDate()", f_date, 0, NULL },
	{ "int timestamp.getDate(string)", f_date, 0, zone_prepare },
	{ "int timestamp.getDayOfMonth()", f_day_of_month, 0, NULL },
	{ "int timestamp.getDayOfMonth(string)", f_day_of_month, 0,
	    zone_prepare },
	{ "int timestamp.getDayOfWeek()", f_day_of_week, 0, NULL },
	{ "int timestamp.getDayOfWeek(string)", f_day_of_week, 0,
	    zone_prepare },
	{ "int timestamp.getDayOfYear()", f_day_of_year, 0, NULL },
	{ "int timestamp.getDayOfYear(string)", f_day_of_year, 0,
	    zone_prepare },
	{ "int timestamp.getHours()", f_hours, 0, NULL },
	{ "int timestamp.getHours(string)", f_hours, 0, zone_prepare },
	{ "int timestamp.getMinutes()", f_minutes, 0, NULL },
	{ "int timestamp.getMinutes(string)", f_minutes, 0, zone_prepare },
	{ "int timestamp.getSeconds()", f_seconds, 0, NULL },
	{ "int timestamp.getSeconds(string)", f_seconds, 0, zone_prepare },
	{ "int timestamp.getMilliseconds()", f_millis, 0, NULL },
	{ "int timestamp.getMilliseconds(string)", f_millis, 0, zone_prepare },
	{ "int duration.getHours()", f_hours, 0, NULL },
	{ "int duration.getMinutes()", f_minutes, 0, NULL },
	{ "int duration.getSeconds()", f_seconds, 0, NULL },
	{ "int duration.getMilliseconds()", f_millis, 0, NULL },
};

const size_t cel_time_nbuiltins =
    sizeof(cel_time_builtins) / sizeof(cel_time_builtins[0]);
