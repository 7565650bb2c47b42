// SPDX-License-Identifier: MIT
/*
 * Compression of a finished batch body (fmt.h): gzip, deflate (the zlib
 * format) with libdeflate, and zstd, each with a context created on first
 * use and reused, so that a request costs the compression and nothing
 * else.  gw-export is single-threaded; the contexts are static.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <libdeflate.h>
#include <zstd.h>

#include "fmt.h"

/* libdeflate compressors by level (1..12), made on first use. */
static struct libdeflate_compressor *ld[13];
static ZSTD_CCtx *zstd_ctx;

/*
 * gzip and zlib with libdeflate: a batch is compressed whole, which is
 * what libdeflate does best (about 1.7 times zlib's speed at level 1 on
 * gen-events' events, the same ratio), and the default level 1 keeps
 * Datadog encoding plus compression well above 150k events/s.
 */
static int
deflate_compress(
    int gzip, const void *in, size_t n, struct gw_buf *out, int level)
{
	size_t bound, r;
	char *t;

	if (level == 0)
		level = 1;
	if (level < 1 || level > 12) {
		errno = EINVAL;
		return -1;
	}
	if (ld[level] == NULL &&
	    (ld[level] = libdeflate_alloc_compressor(level)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	bound = gzip ? libdeflate_gzip_compress_bound(ld[level], n)
	             : libdeflate_zlib_compress_bound(ld[level], n);
	if ((t = gw_buf_reserve(out, bound)) == NULL)
		return -1;
	r = gzip ? libdeflate_gzip_compress(ld[level], in, n, t, bound)
	         : libdeflate_zlib_compress(ld[level], in, n, t, bound);
	if (r == 0) {
		errno = EIO;
		return -1;
	}
	gw_buf_commit(out, r);
	return 0;
}

static int
zstd_compress(const void *in, size_t n, struct gw_buf *out, int level)
{
	size_t bound, r;
	char *t;

	if (level == 0)
		level = 1;
	if (level < 1 || level > ZSTD_maxCLevel()) {
		errno = EINVAL;
		return -1;
	}
	if (zstd_ctx == NULL && (zstd_ctx = ZSTD_createCCtx()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* Parameters stick to the context; a reset keeps them. */
	ZSTD_CCtx_reset(zstd_ctx, ZSTD_reset_session_only);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(
	        zstd_ctx, ZSTD_c_compressionLevel, level))) {
		errno = EINVAL;
		return -1;
	}
	bound = ZSTD_compressBound(n);
	if ((t = gw_buf_reserve(out, bound)) == NULL)
		return -1;
	r = ZSTD_compress2(zstd_ctx, t, bound, in, n);
	if (ZSTD_isError(r)) {
		errno = EIO;
		return -1;
	}
	gw_buf_commit(out, r);
	return 0;
}

int
xcompress(enum xcomp c, const void *in, size_t n, struct gw_buf *out, int level)
{
	switch (c) {
	case XCOMP_NONE:
		return gw_buf_add(out, in, n);
	case XCOMP_GZIP:
		return deflate_compress(1, in, n, out, level);
	case XCOMP_DEFLATE:
		return deflate_compress(0, in, n, out, level);
	case XCOMP_ZSTD:
		return zstd_compress(in, n, out, level);
	}
	errno = EINVAL;
	return -1;
}

const char *
xcomp_encoding(enum xcomp c)
{
	switch (c) {
	case XCOMP_GZIP:
		return "gzip";
	case XCOMP_DEFLATE:
		return "deflate";
	case XCOMP_ZSTD:
		return "zstd";
	case XCOMP_NONE:
		break;
	}
	return NULL;
}

void
xcompress_fini(void)
{
	size_t i;

	for (i = 0; i < sizeof(ld) / sizeof(ld[0]); i++) {
		libdeflate_free_compressor(ld[i]);
		ld[i] = NULL;
	}
	ZSTD_freeCCtx(zstd_ctx);
	zstd_ctx = NULL;
}
