// SPDX-License-Identifier: MIT
/*
 * Event input from files and stdin; see evin.h.  One incremental reader
 * (gw_evin_open/step/close) that a caller with an event loop drives a
 * chunk at a time, and gw_evin_read(), which runs it to the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "evin.h"
#include "ndjson.h"

#define ZSTD_MAGIC "\x28\xb5\x2f\xfd"
#define SKIP_MAGIC 0x184d2a50u /* ...0 to ...f: skippable frames */
#define IBUF       (128 * 1024)
#define OBUF       (256 * 1024)

struct gw_evin {
	char *name;
	int fd;
	int first; /* nothing read yet: the magic decides */
	int zst;
	int eof;       /* the file is read to its end */
	int ended;     /* gw_lines_end() given */
	int truncated; /* a zstd stream stopped mid-frame */
	int pending;   /* the decompressor may hold more output */
	size_t ret;    /* ZSTD_decompressStream()'s last hint */
	ZSTD_DStream *z;
	ZSTD_inBuffer zi;
	struct gw_lines in;
	unsigned char ibuf[IBUF];
	unsigned char obuf[OBUF];
};

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

struct gw_evin *
gw_evin_open(const char *path, size_t max_line, struct gw_error *err)
{
	struct gw_evin *r = calloc(1, sizeof(*r));
	const char *name =
	    path != NULL && strcmp(path, "-") != 0 ? path : "(stdin)";

	if (r == NULL || (r->name = strdup(name)) == NULL) {
		free(r);
		gw_error_set(err, NULL, 0, 0, "%s: out of memory", name);
		errno = ENOMEM;
		return NULL;
	}
	r->fd = STDIN_FILENO;
	r->first = 1;
	if (gw_lines_init(&r->in, max_line) == -1) {
		gw_error_set(err, NULL, 0, 0, "%s: out of memory", name);
		goto fail;
	}
	if (path != NULL && strcmp(path, "-") != 0 &&
	    (r->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		gw_error_set(err, NULL, 0, 0, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return r;
fail:
	r->fd = STDIN_FILENO;
	gw_evin_close(r);
	return NULL;
}

void
gw_evin_close(struct gw_evin *r)
{
	int saved = errno;

	if (r == NULL)
		return;
	if (r->fd != STDIN_FILENO && r->fd != -1)
		close(r->fd);
	ZSTD_freeDStream(r->z);
	gw_lines_fini(&r->in);
	free(r->name);
	free(r);
	errno = saved;
}

const char *
gw_evin_name(const struct gw_evin *r)
{
	return r->name;
}

int
gw_evin_truncated(const struct gw_evin *r)
{
	return r->truncated;
}

int
gw_evin_fd(const struct gw_evin *r)
{
	return r->fd;
}

/* Hands out every complete line.  Returns 0, or 1 when told to stop. */
static int
drain(struct gw_evin *r, gw_evin_fn fn, void *arg)
{
	const char *line;
	size_t len;

	for (;;) {
		switch (gw_lines_next(&r->in, &line, &len)) {
		case GW_LINE_OK:
		case GW_LINE_PARTIAL:
			if (fn(arg, r->name, r->in.lineno, line, len, 0) == -1)
				return 1;
			break;
		case GW_LINE_TOO_LONG:
			if (fn(arg, r->name, r->in.lineno, NULL, 0, 1) == -1)
				return 1;
			break;
		case GW_LINE_AGAIN:
		case GW_LINE_EOF:
			return 0;
		}
	}
}

/* Feeds <n> decompressed or plain bytes and hands out their lines. */
static int
feed(struct gw_evin *r, const void *p, size_t n, gw_evin_fn fn, void *arg,
    struct gw_error *err)
{
	if (n > 0 && gw_lines_feed(&r->in, p, n) == -1) {
		gw_error_set(err, NULL, 0, 0, "%s: out of memory", r->name);
		return GW_EVIN_NOMEM;
	}
	return drain(r, fn, arg) ? GW_EVIN_STOPPED : GW_EVIN_MORE;
}

int
gw_evin_step(struct gw_evin *r, gw_evin_fn fn, void *arg, struct gw_error *err)
{
	ZSTD_outBuffer zo;
	ssize_t n;
	int rc;

	if (r->ended)
		return GW_EVIN_OK;
	/* Input left in the decompressor from the last read goes first. */
	if (r->zst && (r->zi.pos < r->zi.size || r->pending)) {
		zo.dst = r->obuf;
		zo.size = sizeof(r->obuf);
		zo.pos = 0;
		r->ret = ZSTD_decompressStream(r->z, &zo, &r->zi);
		if (ZSTD_isError(r->ret)) {
			gw_error_set(err, NULL, 0, 0, "%s: %s", r->name,
			    ZSTD_getErrorName(r->ret));
			return GW_EVIN_IOERR;
		}
		/* A full output buffer may leave output inside zstd. */
		r->pending = zo.pos == zo.size;
		return feed(r, r->obuf, zo.pos, fn, arg, err);
	}
	if (!r->eof) {
		n = read_some(r->fd, r->ibuf, sizeof(r->ibuf));
		if (n == -1 && errno == EAGAIN)
			return GW_EVIN_AGAIN;
		if (n == -1) {
			gw_error_set(err, NULL, 0, 0, "%s: %s", r->name,
			    strerror(errno));
			return GW_EVIN_IOERR;
		}
		if (r->first && n > 0) {
			r->first = 0;
			if (is_zstd(r->ibuf, (size_t)n)) {
				r->zst = 1;
				r->z = ZSTD_createDStream();
				if (r->z == NULL ||
				    ZSTD_isError(ZSTD_initDStream(r->z))) {
					gw_error_set(err, NULL, 0, 0,
					    "%s: out of memory", r->name);
					return GW_EVIN_NOMEM;
				}
			}
		}
		if (n == 0)
			r->eof = 1;
		else if (r->zst) {
			r->zi.src = r->ibuf;
			r->zi.size = (size_t)n;
			r->zi.pos = 0;
			return gw_evin_step(r, fn, arg, err);
		} else
			return feed(r, r->ibuf, (size_t)n, fn, arg, err);
	}
	/* End of input: the last line even without its newline. */
	if (r->zst && r->ret != 0)
		r->truncated = 1;
	gw_lines_end(&r->in);
	r->ended = 1;
	rc = feed(r, NULL, 0, fn, arg, err);
	return rc == GW_EVIN_MORE ? GW_EVIN_OK : rc;
}

int
gw_evin_read(const char *path, size_t max_line, gw_evin_fn fn, void *arg,
    int *truncated, struct gw_error *err)
{
	struct gw_evin *r;
	int rc;

	if (truncated != NULL)
		*truncated = 0;
	if ((r = gw_evin_open(path, max_line, err)) == NULL)
		return errno == ENOMEM ? GW_EVIN_NOMEM : GW_EVIN_NOINPUT;
	do
		rc = gw_evin_step(r, fn, arg, err);
	while (rc == GW_EVIN_MORE);
	if (truncated != NULL)
		*truncated = r->truncated;
	gw_evin_close(r);
	return rc;
}
