/* SPDX-License-Identifier: MIT */
/*
 * Wall-clock time as events carry it: nanoseconds since the Unix epoch,
 * printed as RFC 3339 UTC with microseconds ("2026-11-24T16:08:46.123456Z"),
 * and the duration strings used on command lines and in configs ("1h",
 * "90d", "500ms"), alone or as an age ("--since 1h").
 */
#ifndef GW_TIMEUTIL_H
#define GW_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define GW_RFC3339_LEN 28 /* "2026-11-24T16:08:46.123456Z" + NUL */

/* CLOCK_REALTIME in nanoseconds. */
uint64_t gw_now_ns(void);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t gw_mono_ns(void);
/*
 * Formats <ns> as RFC 3339 UTC with microseconds into <buf> (at least
 * GW_RFC3339_LEN bytes).  Caches the date part, so a call is cheap.
 * Returns the length written (27).
 */
size_t gw_rfc3339(uint64_t ns, char *buf);
/*
 * Parses RFC 3339 ("2026-11-24T16:08:46Z", fractional seconds and numeric
 * offsets accepted) into ns since the epoch.  Returns 0 or -1 (EINVAL).
 */
int gw_parse_rfc3339(const char *, uint64_t *ns);
/*
 * Parses a duration: a number followed by ns, us, ms, s, m, h or d, or
 * several such ("1h30m").  A bare number is seconds.  Returns 0, or -1
 * (EINVAL, ERANGE).
 */
int gw_parse_duration(const char *, uint64_t *ns);
/*
 * Parses a point in time as command lines give one (--since, --until): a
 * duration back from <now_ns> ("1h", "30m", "7d") or an RFC 3339 time.
 * Sets *<us> to µs since the epoch.  Returns 0, or -1 (EINVAL) when <s>
 * is neither.
 */
int gw_parse_when(const char *s, uint64_t now_ns, int64_t *us);
/*
 * Formats a duration of <ns> for people, as list tables show one: "-" when
 * negative (unknown), "850µs", "12.3ms", "1.25s".  Writes at most <len>
 * bytes into <buf>, NUL included.
 */
void gw_fmt_duration(int64_t ns, char *buf, size_t len);
/*
 * Parses a byte size: a number with an optional k, K, KB, KiB, m, M, MB,
 * MiB, g, G, GB, GiB suffix (all powers of 1024).  Returns 0 or -1.
 */
int gw_parse_size(const char *, uint64_t *bytes);

#endif
