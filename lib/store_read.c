// SPDX-License-Identifier: MIT
/*
 * The store's readers (see store.h): cursors for list (newest first),
 * stats (a time range, oldest first) and tail (forward, refreshed), and
 * lookup by event id.  A cursor walks one segment's index at a time,
 * decodes one frame's summaries at a time, and decompresses a frame's
 * events only when the caller asks for a line, so a query answered from
 * summaries reads a few bytes per event.  Readers take no lock: they
 * trust only index records that are whole (store_table_load()), which
 * the writer writes after the frame they describe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evid.h"
#include "store_int.h"

struct gw_store_cur {
	struct gw_store *st;
	int64_t since, until;
	int flags;
	struct store_seg *segs;
	size_t nsegs;
	size_t next_si; /* forward: next to open; reverse: one past it */
	struct store_table t;
	size_t fi; /* forward: next frame; reverse: one past it */
	/* The frame whose summaries are loaded. */
	int have_frame;
	size_t cur_fi;
	struct gw_evsum *sums;
	size_t sums_cap;
	uint32_t nsums;
	uint32_t ei; /* forward: next event; reverse: one past it */
	int have_event;
	uint32_t cur_ei;
	/* That frame's events, once asked for. */
	int have_raw;
	char *raw;
	size_t raw_cap;
	uint32_t *loff; /* line starts, nsums + 1 */
	size_t loff_cap;
	struct gw_buf tmp;
	uint64_t skipped;
};

/*
 * Reads and decodes frame <f>'s summaries into <*sums> (grown to at
 * least f->count).  <tmp> is scratch.  Returns 0, or -1 (EBADMSG for a
 * corrupt block, or an I/O error).
 */
int
store_read_sums(struct gw_store *st, const struct store_table *t,
    const struct store_frame *f, struct gw_buf *tmp, struct gw_evsum **sums,
    size_t *cap)
{
	unsigned long long csize;
	struct gw_evsum *ns;
	uint8_t *p, *q;
	size_t plen, r;
	long got;

	gw_buf_reset(tmp);
	if ((p = (uint8_t *)gw_buf_reserve(tmp, f->sum_len)) == NULL)
		return -1;
	if ((got = gw_pread_full(t->datafd, p, f->sum_len, f->off)) == -1)
		return -1;
	plen = f->sum_len - SKIP_HDR;
	if ((size_t)got != f->sum_len || store_get32(p) != SKIP_MAGIC ||
	    store_get32(p + 4) != plen)
		goto bad;
	csize = ZSTD_getFrameContentSize(p + SKIP_HDR, plen);
	if (csize == ZSTD_CONTENTSIZE_ERROR ||
	    csize == ZSTD_CONTENTSIZE_UNKNOWN ||
	    csize > (unsigned long long)f->count * SUM_MAX)
		goto bad;
	gw_buf_commit(tmp, f->sum_len);
	if (gw_buf_reserve(tmp, (size_t)csize) == NULL)
		return -1;
	p = (uint8_t *)gw_buf_head(tmp); /* the reserve may have moved it */
	q = p + f->sum_len;
	r = ZSTD_decompressDCtx(st->dctx, q, (size_t)csize, p + SKIP_HDR, plen);
	if (ZSTD_isError(r) || r != csize)
		goto bad;
	if (*cap < f->count) {
		if ((ns = realloc(*sums, f->count * sizeof(*ns))) == NULL)
			return -1;
		*sums = ns;
		*cap = f->count;
	}
	return store_sums_decode(q, (size_t)csize, *sums, f->count);
bad:
	errno = EBADMSG;
	return -1;
}

/*
 * Reads and decompresses frame <f>'s events into <*raw> (grown to at
 * least f->raw_len bytes).  Returns 0, or -1 (EBADMSG for a corrupt
 * frame, or an I/O error).
 */
int
store_read_events(struct gw_store *st, const struct store_table *t,
    const struct store_frame *f, struct gw_buf *tmp, char **raw, size_t *cap)
{
	char *p, *nr;
	size_t r;
	long got;

	gw_buf_reset(tmp);
	if ((p = gw_buf_reserve(tmp, f->ev_len)) == NULL)
		return -1;
	got = gw_pread_full(t->datafd, p, f->ev_len, f->off + f->sum_len);
	if (got == -1)
		return -1;
	if ((size_t)got != f->ev_len)
		goto bad;
	if (*cap < f->raw_len) {
		if ((nr = realloc(*raw, f->raw_len)) == NULL)
			return -1;
		*raw = nr;
		*cap = f->raw_len;
	}
	r = ZSTD_decompressDCtx(st->dctx, *raw, f->raw_len, p, f->ev_len);
	if (ZSTD_isError(r) || r != f->raw_len || (*raw)[r - 1] != '\n')
		goto bad;
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

static int
frame_in_range(const struct gw_store_cur *c, const struct store_frame *f)
{
	if ((f->fflags & FRAME_NO_TS) && c->since <= 0 && c->until > 0)
		return 1;
	return f->min_ts <= f->max_ts && f->max_ts >= c->since &&
	    f->min_ts < c->until;
}

static void
close_segment(struct gw_store_cur *c)
{
	store_table_fini(&c->t);
	c->have_frame = 0;
	c->have_event = 0;
	c->have_raw = 0;
}

/*
 * Opens segment <si> of the list.  Returns 1, 0 when it is gone or not
 * readable as a segment (skipped), -1 on another error.
 */
static int
open_segment(struct gw_store_cur *c, size_t si)
{
	close_segment(c);
	if (store_table_open(c->st->dd.dirfd, &c->segs[si], &c->t) == -1) {
		if (errno == ENOENT)
			return 0; /* deleted by retention meanwhile */
		if (errno == EBADMSG) {
			c->skipped++;
			return 0;
		}
		return -1;
	}
	c->fi = (c->flags & GW_CUR_REVERSE) ? c->t.n : 0;
	return 1;
}

static int
load_frame(struct gw_store_cur *c, size_t fi)
{
	const struct store_frame *f = &c->t.frames[fi];

	c->have_frame = 0;
	c->have_event = 0;
	c->have_raw = 0;
	if (store_read_sums(c->st, &c->t, f, &c->tmp, &c->sums, &c->sums_cap) ==
	    -1) {
		if (errno != EBADMSG)
			return -1;
		c->skipped++;
		return 0;
	}
	c->have_frame = 1;
	c->cur_fi = fi;
	c->nsums = f->count;
	c->ei = (c->flags & GW_CUR_REVERSE) ? f->count : 0;
	return 1;
}

/* Loads the next frame in the cursor's direction: 1, 0 at the end, -1. */
static int
next_frame(struct gw_store_cur *c)
{
	int r;

	for (;;) {
		if (c->t.idxfd != -1 && !(c->flags & GW_CUR_REVERSE)) {
			while (c->fi < c->t.n) {
				size_t fi = c->fi++;

				if (!frame_in_range(c, &c->t.frames[fi]))
					continue;
				if ((r = load_frame(c, fi)) != 0)
					return r;
			}
			if (c->next_si >= c->nsegs)
				return 0; /* the newest: stay for refresh */
			/*
			 * A newer segment exists, so the writer is done with
			 * this one: read what it added since we looked.
			 */
			if ((r = store_table_load(&c->t)) == -1)
				return -1;
			if (r > 0)
				continue;
		} else if (c->t.idxfd != -1) {
			while (c->fi > 0) {
				size_t fi = --c->fi;

				if (!frame_in_range(c, &c->t.frames[fi]))
					continue;
				if ((r = load_frame(c, fi)) != 0)
					return r;
			}
		}
		close_segment(c);
		if (!(c->flags & GW_CUR_REVERSE)) {
			if (c->next_si >= c->nsegs)
				return 0;
			r = open_segment(c, c->next_si++);
		} else {
			if (c->next_si == 0)
				return 0;
			r = open_segment(c, --c->next_si);
		}
		if (r == -1)
			return -1;
	}
}

struct gw_store_cur *
gw_store_cur_new(
    struct gw_store *st, int64_t since_us, int64_t until_us, int flags)
{
	struct gw_store_cur *c;
	int saved_errno;

	if ((flags & GW_CUR_REVERSE) && (flags & GW_CUR_TAIL)) {
		errno = EINVAL;
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->st = st;
	c->since = since_us;
	c->until = until_us;
	c->flags = flags;
	store_table_init(&c->t);
	gw_buf_init(&c->tmp, 0);
	if (store_list(st->dd.dirfd, &c->segs, &c->nsegs, NULL) == -1)
		goto fail;
	if (flags & GW_CUR_REVERSE)
		c->next_si = c->nsegs;
	else if ((flags & GW_CUR_TAIL) && c->nsegs > 0) {
		/* Open the newest segment, past its last frame. */
		c->next_si = c->nsegs;
		if (open_segment(c, c->nsegs - 1) == -1)
			goto fail;
		c->fi = c->t.n;
	}
	return c;
fail:
	saved_errno = errno;
	gw_store_cur_free(c);
	errno = saved_errno;
	return NULL;
}

void
gw_store_cur_free(struct gw_store_cur *c)
{
	if (c == NULL)
		return;
	store_table_fini(&c->t);
	free(c->segs);
	free(c->sums);
	free(c->raw);
	free(c->loff);
	gw_buf_fini(&c->tmp);
	free(c);
}

static int
ts_in_range(const struct gw_store_cur *c, int64_t ts)
{
	return ts >= c->since && ts < c->until;
}

int
gw_store_cur_next(struct gw_store_cur *c, const struct gw_evsum **sum)
{
	uint32_t k;
	int r;

	for (;;) {
		if (c->have_frame) {
			if (!(c->flags & GW_CUR_REVERSE)) {
				while (c->ei < c->nsums) {
					k = c->ei++;
					if (ts_in_range(c, c->sums[k].ts_us))
						goto found;
				}
			} else {
				while (c->ei > 0) {
					k = --c->ei;
					if (ts_in_range(c, c->sums[k].ts_us))
						goto found;
				}
			}
			c->have_frame = 0;
			c->have_event = 0;
			c->have_raw = 0;
		}
		if ((r = next_frame(c)) <= 0)
			return r;
	}
found:
	c->have_event = 1;
	c->cur_ei = k;
	*sum = &c->sums[k];
	return 1;
}

/* Finds the line starts of the loaded frame's events. */
static int
split_lines(struct gw_store_cur *c, size_t raw_len)
{
	const char *p = c->raw, *end = c->raw + raw_len, *nl;
	uint32_t *nl_off;
	size_t i = 0;

	if (c->loff_cap < (size_t)c->nsums + 1) {
		nl_off =
		    realloc(c->loff, ((size_t)c->nsums + 1) * sizeof(*nl_off));
		if (nl_off == NULL)
			return -1;
		c->loff = nl_off;
		c->loff_cap = (size_t)c->nsums + 1;
	}
	while (p < end) {
		if (i == c->nsums ||
		    (nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			goto bad;
		c->loff[i++] = (uint32_t)(p - c->raw);
		p = nl + 1;
	}
	if (i != c->nsums)
		goto bad;
	c->loff[i] = (uint32_t)raw_len;
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

int
gw_store_cur_line(struct gw_store_cur *c, const char **line, size_t *len)
{
	const struct store_frame *f;

	if (!c->have_event) {
		errno = EINVAL;
		return -1;
	}
	if (!c->have_raw) {
		f = &c->t.frames[c->cur_fi];
		if (store_read_events(
		        c->st, &c->t, f, &c->tmp, &c->raw, &c->raw_cap) == -1 ||
		    split_lines(c, f->raw_len) == -1)
			return -1;
		c->have_raw = 1;
	}
	*line = c->raw + c->loff[c->cur_ei];
	*len = c->loff[c->cur_ei + 1] - c->loff[c->cur_ei] - 1;
	return 0;
}

int
gw_store_cur_refresh(struct gw_store_cur *c)
{
	struct store_seg *segs;
	size_t n, i, added = 0;
	uint64_t last;
	int r;

	if (c->flags & GW_CUR_REVERSE) {
		errno = EINVAL;
		return -1;
	}
	if (c->t.idxfd != -1) {
		if ((r = store_table_load(&c->t)) == -1)
			return -1;
		added += (size_t)r;
	}
	if (store_list(c->st->dd.dirfd, &segs, &n, NULL) == -1)
		return -1;
	/* Keep our list; append segments newer than its newest. */
	last = c->nsegs > 0 ? c->segs[c->nsegs - 1].seq : 0;
	for (i = 0; i < n && segs[i].seq <= last; i++)
		;
	if (i < n) {
		struct store_seg *ns;

		ns = realloc(c->segs, (c->nsegs + n - i) * sizeof(*ns));
		if (ns == NULL) {
			free(segs);
			return -1;
		}
		c->segs = ns;
		memcpy(c->segs + c->nsegs, segs + i, (n - i) * sizeof(*segs));
		c->nsegs += n - i;
		added += n - i;
	}
	free(segs);
	return added > 0 || (c->t.idxfd != -1 && c->fi < c->t.n);
}

uint64_t
gw_store_cur_skipped(const struct gw_store_cur *c)
{
	return c->skipped;
}

/* Looks for the line whose event_id is <id> in <raw>/<len>. */
static const char *
find_in_frame(
    const char *raw, size_t len, const char *id, size_t idlen, size_t *linelen)
{
	const char *p = raw, *end = raw + len, *hit, *start, *nl, *eid;
	size_t n;

	while ((hit = memmem(p, (size_t)(end - p), id, idlen)) != NULL) {
		start = hit;
		while (start > raw && start[-1] != '\n')
			start--;
		nl = memchr(hit, '\n', (size_t)(end - hit));
		if (nl == NULL)
			return NULL;
		/* The id may also be in another event's replay_of. */
		if (gw_evsum_event_id(start, (size_t)(nl - start), &eid, &n) ==
		        0 &&
		    n == idlen && memcmp(eid, id, n) == 0) {
			*linelen = (size_t)(nl - start);
			return start;
		}
		p = nl + 1;
	}
	return NULL;
}

int
gw_store_find(
    struct gw_store *st, const char *id, size_t idlen, char **line, size_t *len)
{
	struct store_seg *segs = NULL;
	struct store_table t;
	struct gw_buf tmp;
	const char *hit;
	char *raw = NULL;
	size_t n, si, fi, raw_cap = 0, hitlen;
	int64_t us;
	int rc = 1, saved_errno;

	if (!gw_evid_valid(id, idlen))
		return 1;
	us = (int64_t)(gw_evid_time_ns(id) / 1000);
	store_table_init(&t);
	gw_buf_init(&tmp, 0);
	if (store_list(st->dd.dirfd, &segs, &n, NULL) == -1)
		return -1;
	/* Newest first: the ids people look up are mostly recent. */
	for (si = n; si-- > 0 && rc == 1;) {
		if (store_table_open(st->dd.dirfd, &segs[si], &t) == -1) {
			if (errno == ENOENT || errno == EBADMSG)
				continue;
			goto fail;
		}
		for (fi = t.n; fi-- > 0;) {
			const struct store_frame *f = &t.frames[fi];

			if (us < f->id_min || us > f->id_max)
				continue;
			if (store_read_events(
			        st, &t, f, &tmp, &raw, &raw_cap) == -1) {
				if (errno == EBADMSG)
					continue;
				goto fail;
			}
			hit =
			    find_in_frame(raw, f->raw_len, id, idlen, &hitlen);
			if (hit == NULL)
				continue;
			if ((*line = malloc(hitlen + 1)) == NULL)
				goto fail;
			memcpy(*line, hit, hitlen);
			(*line)[hitlen] = '\0';
			*len = hitlen;
			rc = 0;
			break;
		}
		store_table_fini(&t);
	}
	free(segs);
	free(raw);
	gw_buf_fini(&tmp);
	return rc;
fail:
	saved_errno = errno;
	store_table_fini(&t);
	free(segs);
	free(raw);
	gw_buf_fini(&tmp);
	errno = saved_errno;
	return -1;
}
