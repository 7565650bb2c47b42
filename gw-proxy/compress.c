// SPDX-License-Identifier: MIT
/*
 * Response compression for compress-response: gw-policy negotiates the
 * coding from Accept-Encoding (on_http_response's answer says
 * "compress":"gzip"), and response.c streams the upstream's body through
 * one of these encoders as it arrives, so a large response is never held
 * whole.  gzip and deflate come from zlib, br from libbrotli, zstd from
 * libzstd.  Encoders are expensive to build (zstd's is about a megabyte),
 * so finished ones are reset and kept in a small per-coding cache.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include "gw-proxy.h"

/* Compression levels: fast enough to keep up with the proxy. */
#define GZIP_LEVEL   5
#define BROTLI_LEVEL 4
#define ZSTD_LEVEL   3
/* RFC 8878 §3.1.1.1.2: decoders of zstd content need at most 8 MiB. */
#define ZSTD_WLOG  23
#define ZENC_CACHE 4

enum zenc_kind { Z_GZIP, Z_DEFLATE, Z_BR, Z_ZSTD, Z_NKINDS };

static const char *const kind_names[Z_NKINDS] = { "gzip", "deflate", "br",
	"zstd" };

struct zenc {
	enum zenc_kind kind;
	z_stream zs;
	BrotliEncoderState *br;
	ZSTD_CCtx *zc;
};

static struct zenc *cache[Z_NKINDS][ZENC_CACHE];
static unsigned ncache[Z_NKINDS];
static unsigned char out[PROXY_IO_CHUNK];

static void
zenc_free(struct zenc *z)
{
	if (z == NULL)
		return;
	if (z->kind == Z_GZIP || z->kind == Z_DEFLATE)
		deflateEnd(&z->zs);
	BrotliEncoderDestroyInstance(z->br);
	ZSTD_freeCCtx(z->zc);
	free(z);
}

static struct zenc *
zenc_new(enum zenc_kind kind)
{
	struct zenc *z = calloc(1, sizeof(*z));

	if (z == NULL)
		return NULL;
	z->kind = kind;
	switch (kind) {
	case Z_GZIP:
	case Z_DEFLATE:
		/* deflate is the zlib format (RFC 9110 §8.4.1.2), not raw. */
		if (deflateInit2(&z->zs, GZIP_LEVEL, Z_DEFLATED,
		        kind == Z_GZIP ? 16 + 15 : 15, 8,
		        Z_DEFAULT_STRATEGY) != Z_OK) {
			free(z);
			return NULL;
		}
		break;
	case Z_BR:
		z->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
		if (z->br == NULL ||
		    !BrotliEncoderSetParameter(
		        z->br, BROTLI_PARAM_QUALITY, BROTLI_LEVEL) ||
		    !BrotliEncoderSetParameter(z->br, BROTLI_PARAM_LGWIN, 22))
			goto fail;
		break;
	case Z_ZSTD:
		z->zc = ZSTD_createCCtx();
		if (z->zc == NULL ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(
		        z->zc, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(
		        z->zc, ZSTD_c_windowLog, ZSTD_WLOG)) ||
		    ZSTD_isError(
		        ZSTD_CCtx_setParameter(z->zc, ZSTD_c_checksumFlag, 1)))
			goto fail;
		break;
	case Z_NKINDS:
		goto fail;
	}
	return z;
fail:
	zenc_free(z);
	errno = ENOMEM;
	return NULL;
}

/*
 * Returns an encoder for the coding named <alg> ("gzip", "deflate", "br",
 * "zstd"), from the cache or new, ready for a new stream; the caller gives
 * it back with zenc_put().  NULL for any other name (the response then
 * goes out as it is) or when out of memory.
 */
struct zenc *
zenc_get(const char *alg)
{
	int k;

	for (k = 0; k < Z_NKINDS; k++)
		if (strcmp(alg, kind_names[k]) == 0)
			break;
	if (k == Z_NKINDS)
		return NULL;
	if (ncache[k] > 0)
		return cache[k][--ncache[k]];
	return zenc_new((enum zenc_kind)k);
}

/* The coding's name for Content-Encoding. */
const char *
zenc_name(const struct zenc *z)
{
	return kind_names[z->kind];
}

/*
 * Takes <z> back (NULL accepted): reset and cached, or freed when the
 * cache is full or the reset fails.
 */
void
zenc_put(struct zenc *z)
{
	int ok = 1;

	if (z == NULL)
		return;
	switch (z->kind) {
	case Z_GZIP:
	case Z_DEFLATE:
		ok = deflateReset(&z->zs) == Z_OK;
		break;
	case Z_BR:
		/* Brotli has no reset: a new instance for the next stream. */
		BrotliEncoderDestroyInstance(z->br);
		z->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
		ok = z->br != NULL &&
		    BrotliEncoderSetParameter(
		        z->br, BROTLI_PARAM_QUALITY, BROTLI_LEVEL) &&
		    BrotliEncoderSetParameter(z->br, BROTLI_PARAM_LGWIN, 22);
		break;
	case Z_ZSTD:
		ok = !ZSTD_isError(
		    ZSTD_CCtx_reset(z->zc, ZSTD_reset_session_only));
		break;
	case Z_NKINDS:
		ok = 0;
		break;
	}
	if (ok && ncache[z->kind] < ZENC_CACHE) {
		cache[z->kind][ncache[z->kind]++] = z;
		return;
	}
	zenc_free(z);
}

/*
 * Compresses <n> bytes at <p>; with ZENC_FLUSH also pushes out what the
 * encoder holds, with ZENC_END ends the stream.  The compressed bytes go
 * to <emit>(<arg>, bytes, len) as they come, in pieces of at most
 * PROXY_IO_CHUNK.  Returns 0, or -1 when the encoder
 * failed or <emit> returned -1.
 */
int
zenc_run(struct zenc *z, const char *p, size_t n, int mode,
    int (*emit)(void *, const char *, size_t), void *arg)
{
	size_t have;
	int finish = mode == ZENC_END, flush = mode == ZENC_FLUSH;

	switch (z->kind) {
	case Z_GZIP:
	case Z_DEFLATE: {
		int rc;

		z->zs.next_in = (Bytef *)(uintptr_t)p;
		z->zs.avail_in = (uInt)n;
		do {
			z->zs.next_out = out;
			z->zs.avail_out = sizeof(out);
			rc = deflate(&z->zs,
			    finish      ? Z_FINISH
			        : flush ? Z_SYNC_FLUSH
			                : Z_NO_FLUSH);
			if (rc == Z_STREAM_ERROR)
				return -1;
			have = sizeof(out) - z->zs.avail_out;
			if (have > 0 && emit(arg, (char *)out, have) == -1)
				return -1;
		} while (
		    z->zs.avail_out == 0 || (finish && rc != Z_STREAM_END));
		return 0;
	}
	case Z_BR: {
		const uint8_t *in = (const uint8_t *)p;
		size_t avail_in = n, avail_out;
		uint8_t *o;

		do {
			o = out;
			avail_out = sizeof(out);
			if (!BrotliEncoderCompressStream(z->br,
			        finish      ? BROTLI_OPERATION_FINISH
			            : flush ? BROTLI_OPERATION_FLUSH
			                    : BROTLI_OPERATION_PROCESS,
			        &avail_in, &in, &avail_out, &o, NULL))
				return -1;
			have = sizeof(out) - avail_out;
			if (have > 0 && emit(arg, (char *)out, have) == -1)
				return -1;
		} while (avail_in > 0 || BrotliEncoderHasMoreOutput(z->br) ||
		    (finish && !BrotliEncoderIsFinished(z->br)));
		return 0;
	}
	case Z_ZSTD: {
		ZSTD_inBuffer ib = { p, n, 0 };
		ZSTD_outBuffer ob;
		size_t left;

		do {
			ob.dst = out;
			ob.size = sizeof(out);
			ob.pos = 0;
			left = ZSTD_compressStream2(z->zc, &ob, &ib,
			    finish      ? ZSTD_e_end
			        : flush ? ZSTD_e_flush
			                : ZSTD_e_continue);
			if (ZSTD_isError(left))
				return -1;
			if (ob.pos > 0 && emit(arg, (char *)out, ob.pos) == -1)
				return -1;
		} while (ib.pos < ib.size || ((finish || flush) && left != 0));
		return 0;
	}
	case Z_NKINDS:
		break;
	}
	return -1;
}
