/* SPDX-License-Identifier: MIT */
/*
 * Event ids: "ev_" and 27 base62 characters encoding 160 bits, KSUID-like.
 * The first 32 bits are seconds since 2014-05-13T16:53:20Z (KSUID's epoch)
 * and the next 32 are microseconds within the second (20 bits) and a
 * per-process sequence (12 bits), so ids sort by time to the microsecond
 * and stay in order within one process; the last 96 bits are random.
 */
#ifndef GW_EVID_H
#define GW_EVID_H

#include <stddef.h>
#include <stdint.h>

#define GW_EVID_LEN 30 /* "ev_" + 27 */

/*
 * Writes a new id for wall-clock time <ns> into <buf> (GW_EVID_LEN + 1
 * bytes, NUL-terminated).  Never fails: randomness comes from getrandom(2)
 * once, then a fast generator.
 */
void gw_evid_new(uint64_t ns, char *buf);
/* Returns 1 if <s> (length <n>) is a well-formed id, else 0. */
int gw_evid_valid(const char *s, size_t n);
/* Extracts the time (seconds precision plus microseconds) from a valid id. */
uint64_t gw_evid_time_ns(const char *s);

#endif
