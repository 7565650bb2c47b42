// SPDX-License-Identifier: MIT
/*
 * Event input from files and stdin; see evin.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "evin.h"
#include "ndjson.h"

#define ZSTD_MAGIC "\x28\xb5\x2f\xfd"
#define SKIP_MAGIC 0x184d2a50u /* ...0 to ...f: skippable frames */

struct reader {
	const char *name;
	struct gw_lines in;
	gw_evin_fn fn;
	void *arg;
};

/* Hands out every complete line.  Returns 0, or 1 when told to stop. */
static int
drain(struct reader *r)
{
	const char *line;
	size_t len;

	for (;;) {
		switch (gw_lines_next(&r->in, &line, &len)) {
		case GW_LINE_OK:
		case GW_LINE_PARTIAL:
			if (r->fn(r->arg, r->name, r->in.lineno, line, len,
			        0) == -1)
				return 1;
			break;
		case GW_LINE_TOO_LONG:
			if (r->fn(r->arg, r->name, r->in.lineno, NULL, 0, 1) ==
			    -1)
				return 1;
			break;
		case GW_LINE_AGAIN:
		case GW_LINE_EOF:
			return 0;
		}
	}
}

static ssize_t
read_some(int fd, void *buf, size_t n)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r == -1 && errno == EINTR);
	return r;
}

static int
is_zstd(const unsigned char *p, size_t n)
{
	uint32_t m;

	if (n < 4)
		return 0;
	if (memcmp(p, ZSTD_MAGIC, 4) == 0)
		return 1;
	m = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
	return (m & 0xfffffff0u) == SKIP_MAGIC;
}

/* Decompresses <fd>, whose first <have> bytes are already in <ibuf>. */
static int
read_zst(struct reader *r, int fd, unsigned char *ibuf, size_t isz, size_t have,
    int *truncated, struct gw_error *err)
{
	static unsigned char obuf[256 * 1024];
	ZSTD_DStream *z = ZSTD_createDStream();
	ZSTD_inBuffer zi;
	ZSTD_outBuffer zo;
	size_t ret = 0;
	ssize_t n = (ssize_t)have;
	int rc = GW_EVIN_OK;

	if (z == NULL || ZSTD_isError(ZSTD_initDStream(z))) {
		ZSTD_freeDStream(z);
		gw_error_set(err, NULL, 0, 0, "%s: out of memory", r->name);
		return GW_EVIN_NOMEM;
	}
	for (;;) {
		if (n == 0)
			break;
		zi.src = ibuf;
		zi.size = (size_t)n;
		zi.pos = 0;
		while (zi.pos < zi.size) {
			zo.dst = obuf;
			zo.size = sizeof(obuf);
			zo.pos = 0;
			ret = ZSTD_decompressStream(z, &zo, &zi);
			if (ZSTD_isError(ret)) {
				gw_error_set(err, NULL, 0, 0, "%s: %s", r->name,
				    ZSTD_getErrorName(ret));
				rc = GW_EVIN_IOERR;
				goto out;
			}
			if (gw_lines_feed(&r->in, obuf, zo.pos) == -1) {
				gw_error_set(err, NULL, 0, 0,
				    "%s: out of memory", r->name);
				rc = GW_EVIN_NOMEM;
				goto out;
			}
			if (drain(r)) {
				rc = GW_EVIN_STOPPED;
				goto out;
			}
		}
		n = read_some(fd, ibuf, isz);
		if (n == -1) {
			gw_error_set(err, NULL, 0, 0, "%s: %s", r->name,
			    strerror(errno));
			rc = GW_EVIN_IOERR;
			goto out;
		}
	}
	if (ret != 0 && truncated != NULL)
		*truncated = 1;
	gw_lines_end(&r->in);
	if (drain(r))
		rc = GW_EVIN_STOPPED;
out:
	ZSTD_freeDStream(z);
	return rc;
}

int
gw_evin_read(const char *path, size_t max_line, gw_evin_fn fn, void *arg,
    int *truncated, struct gw_error *err)
{
	static unsigned char ibuf[128 * 1024];
	struct reader r;
	int fd = STDIN_FILENO, rc = GW_EVIN_OK;
	ssize_t n;

	if (truncated != NULL)
		*truncated = 0;
	memset(&r, 0, sizeof(r));
	r.name = path != NULL && strcmp(path, "-") != 0 ? path : "(stdin)";
	r.fn = fn;
	r.arg = arg;
	if (path != NULL && strcmp(path, "-") != 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		gw_error_set(err, NULL, 0, 0, "%s: %s", path, strerror(errno));
		return GW_EVIN_NOINPUT;
	}
	if (gw_lines_init(&r.in, max_line) == -1) {
		gw_error_set(err, NULL, 0, 0, "%s: out of memory", r.name);
		rc = GW_EVIN_NOMEM;
		goto out;
	}
	/* The first bytes say whether the input is compressed. */
	n = read_some(fd, ibuf, sizeof(ibuf));
	if (n == -1)
		goto ioerr;
	if (is_zstd(ibuf, (size_t)n)) {
		rc = read_zst(
		    &r, fd, ibuf, sizeof(ibuf), (size_t)n, truncated, err);
		goto out;
	}
	for (;;) {
		if (n > 0 && gw_lines_feed(&r.in, ibuf, (size_t)n) == -1) {
			gw_error_set(
			    err, NULL, 0, 0, "%s: out of memory", r.name);
			rc = GW_EVIN_NOMEM;
			goto out;
		}
		if (n == 0)
			gw_lines_end(&r.in);
		if (drain(&r)) {
			rc = GW_EVIN_STOPPED;
			goto out;
		}
		if (n == 0)
			break;
		n = read_some(fd, ibuf, sizeof(ibuf));
		if (n == -1)
			goto ioerr;
	}
	goto out;
ioerr:
	gw_error_set(err, NULL, 0, 0, "%s: %s", r.name, strerror(errno));
	rc = GW_EVIN_IOERR;
out:
	gw_lines_fini(&r.in);
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}
