/* SPDX-License-Identifier: MIT */
/*
 * Request bodies, decoded as they arrive: identity, gzip (several members
 * in a row, as Go's reader allows), deflate and zstd, each refused where
 * the real receiver refuses it.  The decoded body goes to a buffer that
 * holds at most the endpoint's bound plus one byte: one byte past it the
 * decoder stops and reports DEC_BIG, so a decompression bomb costs that
 * much memory and the time to inflate it, no more.  zstd frames asking
 * for a window over 8 MiB are refused for the same reason.  The zlib and
 * zstd contexts belong to the connection and are reused request after
 * request.
 */
#include <string.h>
#include <strings.h>

#include <zstd_errors.h>

#include "fake-intake.h"

#define CHUNK         (64 * 1024)
#define ZSTD_WLOG_MAX 23
#define GZIP_BITS     (15 + 16)
#define ZLIB_BITS     15
#define RAW_BITS      (-15)

static bool
word_is(const char *v, size_t n, const char *w)
{
	return n == strlen(w) && strncasecmp(v, w, n) == 0;
}

int
decode_coding(const char *v, size_t n, enum route route, enum coding *out)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	*out = CODING_IDENTITY;
	if (n == 0)
		return 0;
	switch (route) {
	case R_NTFY:
	case R_SLACK:
	case R_PAGERDUTY:
		/*
		 * Their servers read the body as it is (Go's net/http does
		 * not undo a Content-Encoding): a compressed notification
		 * would arrive as garbage.
		 */
		return word_is(v, n, "identity") ? 0 : -1;
	case R_LOKI:
		/*
		 * pkg/loghttp/push/push.go: "", snappy (left to the protobuf
		 * path, so a JSON body goes through as it is), gzip, and
		 * deflate read with compress/flate, i.e. raw deflate.
		 */
		if (word_is(v, n, "snappy"))
			return 0;
		if (word_is(v, n, "gzip"))
			*out = CODING_GZIP;
		else if (word_is(v, n, "deflate"))
			*out = CODING_RAW;
		else
			return -1;
		return 0;
	default:
		break;
	}
	if (word_is(v, n, "identity"))
		*out = CODING_IDENTITY;
	else if (word_is(v, n, "gzip"))
		*out = CODING_GZIP;
	else if (word_is(v, n, "deflate"))
		*out = CODING_ZLIB;
	else if (word_is(v, n, "zstd"))
		*out = CODING_ZSTD;
	else
		return -1;
	return 0;
}

const char *
decode_refusal(enum route route)
{
	switch (route) {
	case R_NTFY:
	case R_SLACK:
	case R_PAGERDUTY:
		return "Content-Encoding not supported: send the body as it is";
	case R_LOKI:
		return "Content-Encoding not supported (Loki takes gzip, "
		       "deflate, snappy)";
	default:
		return "Content-Encoding not supported (identity, gzip, "
		       "deflate, zstd)";
	}
}

static void
dec_fail(struct decoder *d, enum decode_err err, const char *msg)
{
	if (d->err == DEC_OK) {
		d->err = err;
		d->msg = msg;
	}
}

void
decode_start(struct decoder *d, enum coding c, size_t max, struct gw_buf *out)
{
	int bits, rc;

	d->coding = c;
	d->err = DEC_OK;
	d->msg = NULL;
	d->max = max;
	d->ended = false;
	gw_buf_reset(out);
	out->max = max + 1;
	switch (c) {
	case CODING_IDENTITY:
		break;
	case CODING_GZIP:
	case CODING_ZLIB:
	case CODING_RAW:
		bits = c == CODING_GZIP ? GZIP_BITS
		    : c == CODING_ZLIB  ? ZLIB_BITS
		                        : RAW_BITS;
		if (!d->z_ready) {
			memset(&d->z, 0, sizeof(d->z));
			rc = inflateInit2(&d->z, bits);
			if (rc != Z_OK) {
				dec_fail(d, DEC_MEM, "inflateInit2 failed");
				return;
			}
			d->z_ready = true;
		} else
			rc = inflateReset2(&d->z, bits);
		if (rc != Z_OK)
			dec_fail(d, DEC_MEM, "inflateReset2 failed");
		d->z_bits = bits;
		break;
	case CODING_ZSTD:
		if (d->zd == NULL) {
			d->zd = ZSTD_createDCtx();
			if (d->zd == NULL) {
				dec_fail(d, DEC_MEM, "ZSTD_createDCtx failed");
				return;
			}
			if (ZSTD_isError(ZSTD_DCtx_setParameter(
			        d->zd, ZSTD_d_windowLogMax, ZSTD_WLOG_MAX))) {
				dec_fail(d, DEC_MEM, "ZSTD_DCtx_setParameter");
				return;
			}
		} else
			ZSTD_DCtx_reset(d->zd, ZSTD_reset_session_only);
		break;
	}
}

/* Room for the next piece of output: at most one byte past the bound. */
static char *
out_room(struct decoder *d, struct gw_buf *out, size_t *room)
{
	char *p;

	*room = d->max + 1 - out->len;
	if (*room > CHUNK)
		*room = CHUNK;
	if (*room == 0) {
		dec_fail(d, DEC_BIG, "decoded body too large");
		return NULL;
	}
	if ((p = gw_buf_reserve(out, *room)) == NULL)
		dec_fail(d, DEC_MEM, "out of memory");
	return p;
}

static void
feed_zlib(struct decoder *d, const char *p, size_t n, struct gw_buf *out)
{
	size_t room, made;
	char *dst;
	int rc;

	d->z.next_in = (Bytef *)(uintptr_t)p;
	d->z.avail_in = (uInt)n;
	for (;;) {
		if (d->ended && d->z.avail_in > 0) {
			/* Go's gzip reader takes another member; so do we. */
			if (d->coding != CODING_GZIP) {
				dec_fail(d, DEC_BAD,
				    "data after the end of the deflate stream");
				return;
			}
			if (inflateReset(&d->z) != Z_OK) {
				dec_fail(d, DEC_MEM, "inflateReset failed");
				return;
			}
			d->ended = false;
		}
		if (d->ended)
			return;
		if ((dst = out_room(d, out, &room)) == NULL)
			return;
		d->z.next_out = (Bytef *)dst;
		d->z.avail_out = (uInt)room;
		rc = inflate(&d->z, Z_NO_FLUSH);
		made = room - d->z.avail_out;
		gw_buf_commit(out, made);
		if (out->len > d->max) {
			dec_fail(d, DEC_BIG, "decoded body too large");
			return;
		}
		if (rc == Z_STREAM_END) {
			d->ended = true;
			continue;
		}
		if (rc == Z_BUF_ERROR ||
		    (rc == Z_OK && made < room && d->z.avail_in == 0))
			return; /* needs more input */
		if (rc != Z_OK) {
			dec_fail(d, DEC_BAD,
			    d->coding == CODING_GZIP ? "corrupt gzip body"
			                             : "corrupt deflate body");
			return;
		}
	}
}

static void
feed_zstd(struct decoder *d, const char *p, size_t n, struct gw_buf *out)
{
	ZSTD_inBuffer in = { p, n, 0 };
	ZSTD_outBuffer o;
	size_t room, ret;
	char *dst;

	for (;;) {
		if ((dst = out_room(d, out, &room)) == NULL)
			return;
		o.dst = dst;
		o.size = room;
		o.pos = 0;
		ret = ZSTD_decompressStream(d->zd, &o, &in);
		gw_buf_commit(out, o.pos);
		if (ZSTD_isError(ret)) {
			dec_fail(d, DEC_BAD,
			    ZSTD_getErrorCode(ret) ==
			            ZSTD_error_frameParameter_windowTooLarge
			        ? "zstd window over 8 MiB"
			        : "corrupt zstd body");
			return;
		}
		if (out->len > d->max) {
			dec_fail(d, DEC_BIG, "decoded body too large");
			return;
		}
		/* 0: a frame is complete and flushed. */
		d->ended = ret == 0;
		if (in.pos == in.size && o.pos < o.size)
			return;
	}
}

void
decode_feed(struct decoder *d, const char *p, size_t n, struct gw_buf *out)
{
	if (d->err != DEC_OK || n == 0)
		return;
	switch (d->coding) {
	case CODING_IDENTITY:
		if (n > d->max - out->len) {
			dec_fail(d, DEC_BIG, "body too large");
			return;
		}
		if (gw_buf_add(out, p, n) == -1)
			dec_fail(d, DEC_MEM, "out of memory");
		break;
	case CODING_GZIP:
	case CODING_ZLIB:
	case CODING_RAW:
		feed_zlib(d, p, n, out);
		break;
	case CODING_ZSTD:
		feed_zstd(d, p, n, out);
		break;
	}
}

void
decode_finish(struct decoder *d)
{
	if (d->err == DEC_OK && d->coding != CODING_IDENTITY && !d->ended)
		dec_fail(d, DEC_BAD, "truncated compressed body");
}

void
decode_fini(struct decoder *d)
{
	if (d->z_ready)
		inflateEnd(&d->z);
	d->z_ready = false;
	ZSTD_freeDCtx(d->zd);
	d->zd = NULL;
}
