// SPDX-License-Identifier: MIT
/*
 * The store's writer (see store.h): batches event lines and their
 * summaries, and writes each batch as one frame unit (summary block, then
 * the events as one zstd frame) followed by its index record, opening a
 * new segment per hour of event time or when one is full.  A failed
 * write is undone (the files are truncated back to the last committed
 * unit) and the batch kept for the next attempt, so a full disk costs
 * the events that arrive while it is full, never the store's
 * consistency.  Only one process writes: store.c holds the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evid.h"
#include "store_int.h"
#include "timeutil.h"

int
store_writer_init(struct gw_store *st)
{
	struct store_writer *w = &st->w;

	store_table_init(&w->seg);
	/* A frame holds frame_bytes, or one longer line. */
	gw_buf_init(&w->batch, st->opts.frame_bytes + GW_STORE_MAX_LINE + 1);
	gw_buf_init(&w->enc, 0);
	gw_buf_init(&w->out, 0);
	w->id_min = INT64_MAX;
	w->id_max = INT64_MIN;
	w->batch_hour = -1;
	if ((w->cctx = ZSTD_createCCtx()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (ZSTD_isError(
	        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1))) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

void
store_writer_fini(struct gw_store *st)
{
	struct store_writer *w = &st->w;

	store_table_fini(&w->seg);
	gw_buf_fini(&w->batch);
	gw_buf_fini(&w->enc);
	gw_buf_fini(&w->out);
	free(w->sums);
	w->sums = NULL;
	ZSTD_freeCCtx(w->cctx);
	w->cctx = NULL;
}

/*
 * Closes the current segment (no more frames go to it), after syncing
 * its files.  Returns 0, or -1 when a sync failed (the segment is closed
 * all the same).
 */
int
store_writer_close_seg(struct gw_store *st)
{
	struct store_table *t = &st->w.seg;
	int rc = 0, saved_errno = 0;

	if (t->idxfd == -1)
		return 0;
	if (fdatasync(t->datafd) == -1 || fdatasync(t->idxfd) == -1) {
		saved_errno = errno;
		rc = -1;
	}
	store_table_fini(t);
	errno = saved_errno;
	return rc;
}

/* The sequence number of the segment being written; 0 when none is. */
int
store_writer_current(const struct gw_store *st, uint64_t *seq)
{
	if (!(st->flags & GW_STORE_WRITE) || st->w.seg.idxfd == -1)
		return 0;
	*seq = st->w.seg.seq;
	return 1;
}

static int
openat_seg(struct gw_store *st, uint64_t seq, uint32_t hour, const char *ext,
    int oflags, char *name, size_t len)
{
	if (store_seg_name(name, len, seq, hour, ext) == -1)
		return -1;
	return openat(st->dd.dirfd, name, oflags | O_CLOEXEC, 0600);
}

/*
 * Continues the newest segment <seg> after a restart, first truncating
 * its files to the last valid index record (the repair of a torn tail).
 * A segment whose index has no header yet (a crash while creating it)
 * is removed.  One whose index is not readable is left alone: the
 * writer then starts a new segment.  Returns 0, or -1 when the repair
 * failed.
 */
int
store_writer_resume(struct gw_store *st, const struct store_seg *seg)
{
	struct store_table t;
	char name[sizeof(seg->stem) + 4];
	int saved_errno;

	store_table_init(&t);
	t.seq = seg->seq;
	if (snprintf(name, sizeof(name), "%s.idx", seg->stem) < 0)
		return -1;
	if ((t.idxfd = openat(st->dd.dirfd, name, O_RDWR | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	memcpy(name + strlen(seg->stem), ".zst", 4);
	if ((t.datafd = openat(st->dd.dirfd, name, O_RDWR | O_CLOEXEC)) == -1) {
		saved_errno = errno;
		store_table_fini(&t);
		errno = saved_errno;
		return errno == ENOENT ? 0 : -1;
	}
	if (store_table_load(&t) == -1) {
		saved_errno = errno;
		store_table_fini(&t);
		errno = saved_errno;
		return errno == EBADMSG ? 0 : -1;
	}
	if (!t.have_hdr) {
		store_table_fini(&t);
		if (unlinkat(st->dd.dirfd, name, 0) == -1 && errno != ENOENT)
			return -1;
		memcpy(name + strlen(seg->stem), ".idx", 4);
		if (unlinkat(st->dd.dirfd, name, 0) == -1 && errno != ENOENT)
			return -1;
		return 0;
	}
	if (ftruncate(t.idxfd, (off_t)t.idx_off) == -1 ||
	    ftruncate(t.datafd, (off_t)t.data_end) == -1) {
		saved_errno = errno;
		store_table_fini(&t);
		errno = saved_errno;
		return -1;
	}
	free(t.frames);
	t.frames = NULL;
	t.n = t.cap = 0;
	st->w.seg = t;
	if (t.data_end >= st->opts.segment_bytes)
		(void)store_writer_close_seg(st);
	return 0;
}

/* Starts segment next_seq for <hour>.  Returns 0 or -1. */
static int
open_seg(struct gw_store *st, uint32_t hour)
{
	struct store_writer *w = &st->w;
	uint8_t hdr[IDX_HDR_SIZE];
	char zname[64], iname[64];
	uint64_t seq = w->next_seq++;
	int saved_errno;

	/* Data first: readers look for segments by their index file. */
	w->seg.datafd = openat_seg(st, seq, hour, "zst",
	    O_RDWR | O_CREAT | O_EXCL, zname, sizeof(zname));
	if (w->seg.datafd == -1)
		return -1;
	w->seg.idxfd = openat_seg(st, seq, hour, "idx",
	    O_RDWR | O_CREAT | O_EXCL, iname, sizeof(iname));
	if (w->seg.idxfd == -1)
		goto fail;
	store_hdr_encode(hdr, seq, hour);
	if (gw_pwrite_full(w->seg.idxfd, hdr, sizeof(hdr), 0, NULL) == -1)
		goto fail;
	w->seg.seq = seq;
	w->seg.hour = hour;
	w->seg.have_hdr = 1;
	w->seg.idx_off = IDX_HDR_SIZE;
	w->seg.data_end = 0;
	return 0;
fail:
	saved_errno = errno;
	if (w->seg.idxfd != -1)
		(void)unlinkat(st->dd.dirfd, iname, 0);
	(void)unlinkat(st->dd.dirfd, zname, 0);
	store_table_fini(&w->seg);
	errno = saved_errno;
	return -1;
}

static uint32_t
batch_seg_hour(const struct store_writer *w)
{
	if (w->batch_hour >= 0 && w->batch_hour <= UINT32_MAX)
		return (uint32_t)w->batch_hour;
	return (uint32_t)(gw_now_ns() / 1000 / US_PER_HOUR);
}

static void
batch_reset(struct store_writer *w)
{
	gw_buf_reset(&w->batch);
	w->n = 0;
	w->id_min = INT64_MAX;
	w->id_max = INT64_MIN;
	w->batch_hour = -1;
}

/* Compresses the batch into w->out as a frame unit described by <f>. */
static int
build_unit(struct gw_store *st, struct store_frame *f)
{
	struct store_writer *w = &st->w;
	size_t bound, slen, zlen, i;
	uint8_t *p;

	if (store_sums_encode(&w->enc, w->sums, w->n) == -1)
		return -1;
	bound = SKIP_HDR + ZSTD_compressBound(w->enc.len) +
	    ZSTD_compressBound(w->batch.len);
	gw_buf_reset(&w->out);
	if ((p = (uint8_t *)gw_buf_reserve(&w->out, bound)) == NULL)
		return -1;
	(void)ZSTD_CCtx_setParameter(
	    w->cctx, ZSTD_c_compressionLevel, SUMS_LEVEL);
	slen = ZSTD_compress2(w->cctx, p + SKIP_HDR, bound - SKIP_HDR,
	    gw_buf_head(&w->enc), w->enc.len);
	if (ZSTD_isError(slen))
		goto bad;
	store_put32(p, SKIP_MAGIC);
	store_put32(p + 4, (uint32_t)slen);
	(void)ZSTD_CCtx_setParameter(
	    w->cctx, ZSTD_c_compressionLevel, st->opts.level);
	zlen = ZSTD_compress2(w->cctx, p + SKIP_HDR + slen,
	    bound - SKIP_HDR - slen, gw_buf_head(&w->batch), w->batch.len);
	if (ZSTD_isError(zlen))
		goto bad;
	gw_buf_commit(&w->out, SKIP_HDR + slen + zlen);

	memset(f, 0, sizeof(*f));
	f->off = w->seg.data_end;
	f->sum_len = (uint32_t)(SKIP_HDR + slen);
	f->ev_len = (uint32_t)zlen;
	f->raw_len = (uint32_t)w->batch.len;
	f->count = (uint32_t)w->n;
	f->min_ts = INT64_MAX;
	f->max_ts = INT64_MIN;
	for (i = 0; i < w->n; i++) {
		const struct gw_evsum *s = &w->sums[i];

		if (s->ts_us == 0)
			f->fflags |= FRAME_NO_TS;
		else {
			if (s->ts_us < f->min_ts)
				f->min_ts = s->ts_us;
			if (s->ts_us > f->max_ts)
				f->max_ts = s->ts_us;
		}
		f->flags_or |= s->flags;
		f->kinds |= (uint8_t)(1u << (s->kind & 7));
	}
	f->id_min = w->id_min;
	f->id_max = w->id_max;
	return 0;
bad:
	errno = EIO;
	return -1;
}

/*
 * Writes the batch as one frame unit and commits it.  On failure the
 * files are cut back to the last committed unit and the batch is kept.
 * Returns 0 or -1.
 */
static int
write_batch(struct gw_store *st)
{
	struct store_writer *w = &st->w;
	uint8_t rec[IDX_REC_SIZE];
	struct store_frame f;
	int saved_errno;

	if (w->seg.idxfd == -1 && open_seg(st, batch_seg_hour(w)) == -1)
		goto fail;
	if (build_unit(st, &f) == -1)
		goto fail;
	store_frame_encode(rec, &f);
	/* The record, written second, is the commit point. */
	if (gw_pwrite_full(w->seg.datafd, gw_buf_head(&w->out), w->out.len,
	        w->seg.data_end, NULL) == -1 ||
	    gw_pwrite_full(
	        w->seg.idxfd, rec, sizeof(rec), w->seg.idx_off, NULL) == -1)
		goto fail;
	w->seg.data_end += w->out.len;
	w->seg.idx_off += sizeof(rec);
	w->c.events += w->n;
	w->c.frames++;
	w->c.bytes += w->out.len + sizeof(rec);
	w->c.last_errno = 0;
	w->retry_after = 0;
	batch_reset(w);
	if (w->seg.data_end >= st->opts.segment_bytes)
		(void)store_writer_close_seg(st);
	return 0;
fail:
	saved_errno = errno;
	/*
	 * Cut back whatever part of the unit reached the files (nothing, if
	 * it failed before writing).  Shrinking needs no space; should it
	 * fail anyway, the next unit overwrites the same offsets and readers
	 * never trust the bytes meanwhile.
	 */
	if (w->seg.idxfd != -1) {
		(void)ftruncate(w->seg.idxfd, (off_t)w->seg.idx_off);
		(void)ftruncate(w->seg.datafd, (off_t)w->seg.data_end);
	}
	w->c.write_errors++;
	w->c.last_errno = saved_errno;
	w->retry_after = gw_mono_ns() + RETRY_NS;
	errno = saved_errno;
	return -1;
}

static int
drop(struct store_writer *w)
{
	w->c.dropped++;
	errno = w->c.last_errno != 0 ? w->c.last_errno : EIO;
	return -1;
}

int
gw_store_append(struct gw_store *st, const char *line, size_t len,
    const struct gw_evsum *sum)
{
	struct store_writer *w = &st->w;
	int64_t ev_hour, cur_hour, t;
	struct gw_evsum *ns, own;
	const char *id;
	size_t idlen;
	char *p;
	int roll;

	if (!(st->flags & GW_STORE_WRITE)) {
		errno = EBADF;
		return -1;
	}
	if (len == 0 || len > GW_STORE_MAX_LINE ||
	    memchr(line, '\n', len) != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (sum == NULL) {
		if (gw_evsum_extract(&own, line, len) == -1) {
			errno = EINVAL;
			return -1;
		}
		sum = &own;
	}
	ev_hour = sum->ts_us > 0 ? sum->ts_us / US_PER_HOUR : -1;
	cur_hour = w->seg.idxfd != -1 ? (int64_t)w->seg.hour : w->batch_hour;
	roll = cur_hour >= 0 && ev_hour > cur_hour;
	if (w->n > 0 &&
	    (roll || w->batch.len + len + 1 > st->opts.frame_bytes)) {
		if (w->retry_after != 0 && gw_mono_ns() < w->retry_after)
			return drop(w);
		if (write_batch(st) == -1)
			return drop(w);
	}
	if (roll)
		(void)store_writer_close_seg(st);

	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;

		if ((ns = realloc(w->sums, cap * sizeof(*ns))) == NULL)
			return -1;
		w->sums = ns;
		w->cap = cap;
	}
	if ((p = gw_buf_reserve(&w->batch, len + 1)) == NULL)
		return -1;
	memcpy(p, line, len);
	p[len] = '\n';
	gw_buf_commit(&w->batch, len + 1);
	w->sums[w->n++] = *sum;
	if (w->batch_hour < 0 && ev_hour >= 0)
		w->batch_hour = ev_hour;
	if (gw_evsum_event_id(line, len, &id, &idlen) == 0 &&
	    gw_evid_valid(id, idlen)) {
		t = (int64_t)(gw_evid_time_ns(id) / 1000);
		if (t < w->id_min)
			w->id_min = t;
		if (t > w->id_max)
			w->id_max = t;
	}
	return 0;
}

int
gw_store_flush(struct gw_store *st)
{
	if (!(st->flags & GW_STORE_WRITE)) {
		errno = EBADF;
		return -1;
	}
	if (st->w.n == 0)
		return 0;
	return write_batch(st);
}

int
gw_store_nospace(int errnum)
{
	return errnum == ENOSPC || errnum == EDQUOT || errnum == EFBIG;
}

void
gw_store_counters(const struct gw_store *st, struct gw_store_counters *c)
{
	*c = st->w.c;
}
