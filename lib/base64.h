/* SPDX-License-Identifier: MIT */
/*
 * Standard base64 (RFC 4648 §4), with padding: captured bodies (events
 * carry binary bodies as base64), basic-auth credentials, CEL's
 * base64.encode/decode, HAR and curl output.
 */
#ifndef GW_BASE64_H
#define GW_BASE64_H

#include <stddef.h>

/* Characters gw_base64_encode() writes for <n> bytes (no NUL). */
#define GW_BASE64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)

/*
 * Encodes <n> bytes at <in> into <out>, which has room for
 * GW_BASE64_ENCODED_LEN(n) characters; no NUL is added.  Returns the
 * number of characters written.
 */
size_t gw_base64_encode(const void *in, size_t n, char *out);

/* Bytes gw_base64_decode() may write for <n> characters of input. */
#define GW_BASE64_DECODED_MAX(n) ((n) / 4 * 3 + 3)

/* Flags of gw_base64_decode(). */
#define GW_BASE64_STRICT \
	0x1 /* padding required, canonical, as Go's StdEncoding */

/*
 * Decodes <n> characters at <s> into <out>, which has room for
 * GW_BASE64_DECODED_MAX(n) bytes, and sets *<outlen>.  Without
 * GW_BASE64_STRICT, padding is optional.  Returns 0, or -1 (EINVAL) when
 * <s> is not base64; <out> then holds garbage.
 */
int gw_base64_decode(
    const char *s, size_t n, unsigned char *out, size_t *outlen, int flags);

#endif
