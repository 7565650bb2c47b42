// SPDX-License-Identifier: MIT
/*
 * Compression of a finished batch body (fmt.h): gzip and deflate (the
 * zlib format) with ISA-L's igzip at levels 1 to 3 where it is built in,
 * libdeflate otherwise and above, and zstd, each with a context created
 * on first use and reused, so that a request costs the compression and
 * nothing else.  gw-export is single-threaded; the contexts are static.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <zstd.h>

#ifdef GW_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include "fmt.h"

/* libdeflate compressors by level (1..12), made on first use. */
static struct libdeflate_compressor *ld[13];
static ZSTD_CCtx *zstd_ctx;

#ifdef GW_HAVE_ISAL
/* igzip's level buffers (levels 1..3), made on first use. */
static uint8_t *isal_buf[4];
static const uint32_t isal_buf_size[4] = { 0, ISAL_DEF_LVL1_DEFAULT,
	ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT };

/*
 * igzip compresses Datadog batches of gen-events' events at about 3.4
 * times libdeflate's level-1 speed, a little smaller too: compression is
 * half of gw-export's work, so this is what keeps it well above 150k
 * events/s on one core.  Returns 0, 1 when the output would not fit the
 * room reserved (libdeflate then does it), or -1.
 */
static int
isal_compress(int gzip, const void *in, size_t n, struct gw_buf *out, int level)
{
	struct isal_zstream s;
	size_t room = n + n / 16 + 1024;
	char *t;

	if (n > UINT32_MAX / 2)
		return 1;
	if (isal_buf[level] == NULL &&
	    (isal_buf[level] = malloc(isal_buf_size[level])) == NULL)
		return -1;
	if ((t = gw_buf_reserve(out, room)) == NULL)
		return -1;
	isal_deflate_stateless_init(&s);
	s.flush = NO_FLUSH;
	s.end_of_stream = 1;
	s.gzip_flag = gzip ? IGZIP_GZIP : IGZIP_ZLIB;
	s.level = (uint32_t)level;
	s.level_buf = isal_buf[level];
	s.level_buf_size = isal_buf_size[level];
	s.next_in = (uint8_t *)(uintptr_t)in;
	s.avail_in = (uint32_t)n;
	s.next_out = (uint8_t *)t;
	s.avail_out = (uint32_t)room;
	switch (isal_deflate_stateless(&s)) {
	case COMP_OK:
		gw_buf_commit(out, s.total_out);
		return 0;
	case STATELESS_OVERFLOW:
		return 1;
	case ISAL_INVALID_LEVEL_BUF:
	case ISAL_INVALID_LEVEL:
		return 1;
	default:
		errno = EIO;
		return -1;
	}
}
#endif

/*
 * gzip and zlib: a batch is compressed whole.  libdeflate (about 1.7
 * times zlib's speed at level 1 on gen-events' events, the same ratio)
 * does levels 4 to 12, and 1 to 3 where igzip is not built in.
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
#ifdef GW_HAVE_ISAL
	if (level <= 3) {
		int k = isal_compress(gzip, in, n, out, level);

		if (k <= 0)
			return k;
	}
#endif
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
#ifdef GW_HAVE_ISAL
	for (i = 0; i < sizeof(isal_buf) / sizeof(isal_buf[0]); i++) {
		free(isal_buf[i]);
		isal_buf[i] = NULL;
	}
#endif
	ZSTD_freeCCtx(zstd_ctx);
	zstd_ctx = NULL;
}
