// SPDX-License-Identifier: MIT
/*
 * Standard base64 decoding; see base64.h.
 */
#include <errno.h>
#include <stdint.h>

#include "base64.h"

size_t
gw_base64_encode(const void *data, size_t n, char *out)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	size_t i, k = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[k++] = alpha[v >> 18];
		out[k++] = alpha[v >> 12 & 63];
		out[k++] = alpha[v >> 6 & 63];
		out[k++] = alpha[v & 63];
	}
	if (n - i > 0) {
		v = (uint32_t)p[i] << 16;
		if (n - i == 2)
			v |= (uint32_t)p[i + 1] << 8;
		out[k++] = alpha[v >> 18];
		out[k++] = alpha[v >> 12 & 63];
		out[k++] = n - i == 2 ? alpha[v >> 6 & 63] : '=';
		out[k++] = '=';
	}
	return k;
}

static int
val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
gw_base64_decode(
    const char *s, size_t n, unsigned char *out, size_t *outlen, int flags)
{
	size_t i, o = 0, pad = 0;
	uint32_t acc = 0;
	int v, bits = 0;

	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if ((flags & GW_BASE64_STRICT) && (n + pad) % 4 != 0)
		goto bad;
	if (pad != 0 && (n + pad) % 4 != 0)
		goto bad;
	if (n % 4 == 1)
		goto bad;
	for (i = 0; i < n; i++) {
		if ((v = val((unsigned char)s[i])) < 0)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)((acc >> bits) & 0xff);
		}
	}
	/* Bits left under the padding must be zero in the canonical form. */
	if ((flags & GW_BASE64_STRICT) && bits > 0 &&
	    (acc & ((1u << bits) - 1)) != 0)
		goto bad;
	*outlen = o;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
