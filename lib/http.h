/* SPDX-License-Identifier: MIT */
/*
 * Small facts about HTTP that more than one binary needs: the reason
 * phrases gw-proxy writes on the answers it makes itself and gw-capture
 * prints when it shows a stored exchange, and percent-decoding as CEL's
 * URL functions, policy variables and the query language all do it.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>
#include <sys/types.h>

/* Flags of gw_pct_decode(). */
#define GW_PCT_PLUS   0x1 /* '+' is a space, as in query strings */
#define GW_PCT_STRICT 0x2 /* a bad escape is an error, not kept as it is */

/*
 * Percent-decodes <n> bytes of <s> into <out>, which has room for <n>
 * bytes (decoding never grows text; <out> may be <s>).  A '%' not followed
 * by two hex digits is copied as it is, or with GW_PCT_STRICT is an error
 * whose offset in <s> goes to *<bad> (may be NULL).  Returns the decoded
 * length, or -1 (EINVAL).
 */
ssize_t
gw_pct_decode(const char *s, size_t n, char *out, int flags, size_t *bad);

/* RFC 9110's reason phrase for <status>; "" for one it does not name. */
const char *gw_http_reason(int status);

#endif
