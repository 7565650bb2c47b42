/* SPDX-License-Identifier: MIT */
/*
 * Small facts about HTTP that more than one binary needs: the reason
 * phrases gw-proxy writes on the answers it makes itself and gw-capture
 * prints when it shows a stored exchange, percent-decoding as CEL's URL
 * functions, policy variables and the query language all do it, and the
 * syntax of tokens and field values and which fields are hop-by-hop, so
 * that gw-proxy forwarding a request, gw-capture writing a curl command
 * and gw-replay sending a request again agree on what belongs to one
 * connection only.
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

/*
 * 1 if the <n> bytes at <s> are a non-empty token (RFC 9110 §5.6.2): a
 * valid field name or method.
 */
int gw_http_token_ok(const char *s, size_t n);
/* 1 if <s> holds only field-vchar, SP and HTAB (no CTL, no DEL). */
int gw_http_value_ok(const char *s, size_t n);
/*
 * 1 if the comma-separated list <list>/<n> (a Connection or
 * Transfer-Encoding value) holds the token <tok>, compared without regard
 * to ASCII case, surrounding blanks ignored.
 */
int gw_http_has_token(const char *list, size_t n, const char *tok);
/*
 * 1 if the field <name>/<n> is hop-by-hop (RFC 9110 §7.6.1: Connection,
 * Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Connection,
 * plus Expect, HTTP2-Settings and Content-Length, which gw recomputes for
 * each hop since it frames each side itself) or is named in the message's
 * Connection value <conn>/<conn_n> (<conn> may be NULL).
 */
int
gw_http_hop_by_hop(const char *name, size_t n, const char *conn, size_t conn_n);

#endif
