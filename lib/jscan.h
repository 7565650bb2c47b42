/* SPDX-License-Identifier: MIT */
/*
 * A single-pass validating JSON scanner for hot paths that need a few
 * members of a large object and a yes/no on its syntax, without building
 * a tree (jansson costs several times more per event).  The caller
 * describes the members it wants as a small static schema; one pass over
 * the text checks that it is exactly one JSON object (RFC 8259 syntax,
 * nesting bounded by GW_JSCAN_MAX_DEPTH, nothing after it but whitespace)
 * and records where each wanted value lies.  UTF-8 is not validated:
 * bytes >= 0x80 inside strings are accepted as they are.
 */
#ifndef GW_JSCAN_H
#define GW_JSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Deeper nesting is refused (the text is then "not a JSON object"). */
#define GW_JSCAN_MAX_DEPTH 64

enum gw_jtype {
	GW_JNONE = 0, /* the member was not seen */
	GW_JSTRING,
	GW_JNUMBER,
	GW_JTRUE,
	GW_JFALSE,
	GW_JNULL,
	GW_JOBJECT,
	GW_JARRAY,
};

/*
 * Where a value lies in the scanned text.  For a string, <p>/<len> are
 * the raw bytes between the quotes and <esc> says whether they hold a
 * backslash escape (gw_jscan_unescape() decodes them); for anything else
 * they are the value's whole text.  Points into the caller's text.
 */
struct gw_jval {
	const char *p;
	uint32_t len;
	uint8_t type; /* enum gw_jtype */
	uint8_t esc;
};

struct gw_jschema;

/*
 * One wanted member of an object: its <key> (compared with the raw key
 * bytes, so a key written with escapes does not match), the slot of the
 * caller's array that receives its value (-1 for none), and the schema
 * of its members when the value is an object worth descending into.
 */
struct gw_jfield {
	const char *key;
	uint8_t keylen;
	int8_t slot;
	const struct gw_jschema *sub;
};

struct gw_jschema {
	const struct gw_jfield *fields;
	size_t n;
};

/*
 * Initialisers for static schemas: a field for the string literal <key>
 * (its length counted here, never by hand), and the schema of a whole
 * static array of fields.
 */
#define GW_JFIELD(key, slot, sub)               \
	{                                       \
		key, sizeof(key) - 1, slot, sub \
	}
#define GW_JSCHEMA(fields)                                   \
	{                                                    \
		fields, sizeof(fields) / sizeof((fields)[0]) \
	}

/*
 * Scans <s>/<len>.  When it is one JSON object (whitespace around it is
 * allowed), fills out[slot] for every member of <schema> it holds (a
 * repeated key fills its slots again, so the last value wins; slots not
 * seen are left as the caller set them, so clear them first) and returns
 * 0.  Returns -1 otherwise,
 * with <out> partly filled.  <schema> may be NULL (validate only), and
 * then <out> too.
 */
int gw_jscan(const char *s, size_t len, const struct gw_jschema *schema,
    struct gw_jval *out);

/*
 * Decodes the string value <v> (escapes included, \u surrogate pairs as
 * one UTF-8 character, a lone surrogate as U+FFFD) into <buf> (<cap>
 * bytes, not NUL-terminated) and returns its length, or -1 when <v> is
 * not a string or the result does not fit.
 */
long gw_jscan_unescape(const struct gw_jval *v, char *buf, size_t cap);

/*
 * Reads the number value <v> as a 64-bit integer.  Returns 0, or -1 when
 * it is not a number, has a fraction or exponent, or does not fit.
 */
int gw_jscan_int(const struct gw_jval *v, int64_t *out);

#endif
