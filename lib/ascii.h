/* SPDX-License-Identifier: MIT */
/*
 * ASCII character helpers that do not depend on the locale, for parsers
 * of protocols and formats (hex escapes in CEL, YAML, URLs).
 */
#ifndef GW_ASCII_H
#define GW_ASCII_H

/* The value of hex digit <c> (either case), or -1 if it is not one. */
static inline int
gw_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
