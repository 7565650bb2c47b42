// SPDX-License-Identifier: MIT
/*
 * Opening and closing a store (see store.h): the directory as a
 * versioned data directory (datadir.c recognises a gw store by its
 * marker, refuses anything else, turns an empty directory into one and
 * takes the writer's lock), the writer's repair of a crashed writer's
 * segment, and the store-wide walks: retention and counting.  Events are
 * written in store_write.c and read in store_read.c.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

/* What datadir.c calls a store, on disk and in messages. */
static const struct gw_datadir_kind store_kind = {
	.format = "gw-store",
	.version = GW_STORE_VERSION,
	.name = "gw store",
	.noun = "store",
	.program = "gw",
	.holder = "writer",
};

/*
 * Removes data files newer than the newest index: a crash between
 * creating a segment's two files leaves one that holds nothing
 * committed.
 */
static int
remove_orphans(struct gw_store *st, uint64_t after)
{
	struct dirent *de;
	const char *ext;
	uint64_t seq;
	int rc = 0;
	DIR *d;

	if ((d = gw_datadir_opendir(st->dd.dirfd)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (store_seg_parse(de->d_name, &seq, &ext) == 0 &&
		    seq > after && strcmp(ext, "zst") == 0 &&
		    unlinkat(st->dd.dirfd, de->d_name, 0) == -1 &&
		    errno != ENOENT)
			rc = -1;
	closedir(d);
	return rc;
}

/* The writer's start: repair the newest segment and continue it. */
static int
writer_start(struct gw_store *st, struct gw_error *err)
{
	struct store_seg *segs;
	uint64_t max_seq;
	size_t n;

	if (store_writer_init(st) == -1 ||
	    store_list(st->dd.dirfd, &segs, &n, &max_seq) == -1) {
		gw_error_sys(err, st->dir, "open");
		return -1;
	}
	st->w.next_seq = max_seq + 1;
	if (remove_orphans(st, n > 0 ? segs[n - 1].seq : 0) == -1 ||
	    (n > 0 && store_writer_resume(st, &segs[n - 1]) == -1)) {
		gw_error_sys(err, st->dir, "repair");
		free(segs);
		return -1;
	}
	free(segs);
	return 0;
}

static void
set_opts(struct gw_store *st, const struct gw_store_opts *opts)
{
	if (opts != NULL)
		st->opts = *opts;
	if (st->opts.frame_bytes == 0)
		st->opts.frame_bytes = DEFAULT_FRAME_BYTES;
	if (st->opts.segment_bytes == 0)
		st->opts.segment_bytes = DEFAULT_SEGMENT_BYTES;
	if (st->opts.level == 0)
		st->opts.level = DEFAULT_LEVEL;
	/* Index records count a frame's bytes in 32 bits. */
	if (st->opts.frame_bytes > MAX_FRAME_BYTES)
		st->opts.frame_bytes = MAX_FRAME_BYTES;
	if (st->opts.level < ZSTD_minCLevel())
		st->opts.level = ZSTD_minCLevel();
	if (st->opts.level > ZSTD_maxCLevel())
		st->opts.level = ZSTD_maxCLevel();
}

struct gw_store *
gw_store_open(const char *dir, int flags, const struct gw_store_opts *opts,
    struct gw_error *err)
{
	struct gw_store *st;
	int saved_errno, dflags;

	if ((flags & GW_STORE_CREATE) && !(flags & GW_STORE_WRITE)) {
		gw_error_set(err, NULL, 0, 0, "%s: create needs write", dir);
		errno = EINVAL;
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->dir = strdup(dir)) == NULL) {
		free(st);
		gw_error_sys(err, dir, "open");
		return NULL;
	}
	st->flags = flags;
	st->dd.dirfd = st->dd.lockfd = -1;
	store_table_init(&st->w.seg);
	set_opts(st, opts);

	dflags = 0;
	if (flags & GW_STORE_WRITE)
		dflags |= GW_DATADIR_LOCK;
	if (flags & GW_STORE_CREATE)
		dflags |= GW_DATADIR_CREATE | GW_DATADIR_PARENTS;
	if (gw_datadir_open(&st->dd, dir, &store_kind, dflags, err) == -1)
		goto fail;
	if ((st->dctx = ZSTD_createDCtx()) == NULL) {
		errno = ENOMEM;
		gw_error_sys(err, dir, "open");
		goto fail;
	}
	if ((flags & GW_STORE_WRITE) && writer_start(st, err) == -1)
		goto fail;
	return st;
fail:
	saved_errno = errno;
	st->flags &= ~GW_STORE_WRITE; /* nothing to flush */
	gw_store_close(st);
	errno = saved_errno;
	return NULL;
}

void
gw_store_close(struct gw_store *st)
{
	if (st == NULL)
		return;
	if (st->flags & GW_STORE_WRITE) {
		(void)gw_store_flush(st);
		(void)store_writer_close_seg(st);
	}
	store_writer_fini(st);
	ZSTD_freeDCtx(st->dctx);
	gw_datadir_close(&st->dd);
	free(st->dir);
	free(st);
}

/* Sizes and mtime (µs) of a segment's two files. */
static int
seg_stat(
    int dirfd, const struct store_seg *seg, uint64_t *bytes, int64_t *mtime_us)
{
	char name[sizeof(seg->stem) + 4];
	struct stat sb;

	*bytes = 0;
	*mtime_us = 0;
	if (snprintf(name, sizeof(name), "%s.zst", seg->stem) < 0)
		return -1;
	if (fstatat(dirfd, name, &sb, 0) == 0) {
		*bytes += (uint64_t)sb.st_size;
		*mtime_us = (int64_t)sb.st_mtim.tv_sec * 1000000 +
		    sb.st_mtim.tv_nsec / 1000;
	} else if (errno != ENOENT)
		return -1;
	memcpy(name + strlen(seg->stem), ".idx", 4);
	if (fstatat(dirfd, name, &sb, 0) == 0)
		*bytes += (uint64_t)sb.st_size;
	else if (errno != ENOENT)
		return -1;
	return 0;
}

/* Index first: from then on readers no longer list the segment. */
static int
seg_unlink(int dirfd, const struct store_seg *seg)
{
	char name[sizeof(seg->stem) + 4];

	if (snprintf(name, sizeof(name), "%s.idx", seg->stem) < 0)
		return -1;
	if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT)
		return -1;
	memcpy(name + strlen(seg->stem), ".zst", 4);
	if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

struct seg_facts {
	uint64_t bytes;
	uint64_t events;
	int64_t newest; /* µs; INT64_MIN when unknown */
	int gone;
};

static int
seg_facts(
    struct gw_store *st, const struct store_seg *seg, struct seg_facts *sf)
{
	struct store_table t;
	int64_t mtime;
	size_t i;

	memset(sf, 0, sizeof(*sf));
	sf->newest = INT64_MIN;
	if (seg_stat(st->dd.dirfd, seg, &sf->bytes, &mtime) == -1)
		return -1;
	if (store_table_open(st->dd.dirfd, seg, &t) == 0) {
		for (i = 0; i < t.n; i++) {
			sf->events += t.frames[i].count;
			if (t.frames[i].min_ts <= t.frames[i].max_ts &&
			    t.frames[i].max_ts > sf->newest)
				sf->newest = t.frames[i].max_ts;
		}
		store_table_fini(&t);
	} else if (errno == ENOENT)
		sf->gone = 1;
	else if (errno != EBADMSG)
		return -1;
	/* A timestamp later than the last write is not to be believed. */
	if (sf->newest == INT64_MIN || (mtime != 0 && mtime < sf->newest))
		sf->newest = mtime;
	return 0;
}

int
gw_store_retain(struct gw_store *st, int64_t max_age_us, uint64_t max_bytes,
    int64_t now_us, struct gw_store_prune_stats *ps)
{
	struct gw_store_prune_stats dummy;
	struct store_seg *segs = NULL;
	struct seg_facts *sf = NULL;
	uint64_t total = 0, cur = 0;
	size_t n, i;
	int has_cur, saved_errno;

	if (ps == NULL)
		ps = &dummy;
	memset(ps, 0, sizeof(*ps));
	if (!(st->flags & GW_STORE_WRITE)) {
		errno = EBADF;
		return -1;
	}
	has_cur = store_writer_current(st, &cur);
	if (store_list(st->dd.dirfd, &segs, &n, NULL) == -1)
		return -1;
	if (n > 0 && (sf = calloc(n, sizeof(*sf))) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (seg_facts(st, &segs[i], &sf[i]) == -1)
			goto fail;
		total += sf[i].bytes;
	}
	for (i = 0; i < n; i++) {
		int old = max_age_us > 0 && sf[i].newest < now_us - max_age_us;
		int big = max_bytes > 0 && total > max_bytes;

		if (sf[i].gone || (has_cur && segs[i].seq == cur) ||
		    (!old && !big))
			continue;
		if (seg_unlink(st->dd.dirfd, &segs[i]) == -1)
			goto fail;
		total -= sf[i].bytes;
		ps->segments++;
		ps->events += sf[i].events;
		ps->bytes += sf[i].bytes;
	}
	free(sf);
	free(segs);
	return 0;
fail:
	saved_errno = errno;
	free(sf);
	free(segs);
	errno = saved_errno;
	return -1;
}

int
gw_store_info(struct gw_store *st, struct gw_store_info *info)
{
	struct store_seg *segs;
	struct store_table t;
	uint64_t bytes;
	int64_t mtime;
	size_t n, i, j;
	int saved_errno;

	memset(info, 0, sizeof(*info));
	if (store_list(st->dd.dirfd, &segs, &n, NULL) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (store_table_open(st->dd.dirfd, &segs[i], &t) == -1) {
			if (errno == ENOENT || errno == EBADMSG)
				continue;
			goto fail;
		}
		if (seg_stat(st->dd.dirfd, &segs[i], &bytes, &mtime) == -1) {
			store_table_fini(&t);
			goto fail;
		}
		info->segments++;
		info->bytes += bytes;
		for (j = 0; j < t.n; j++) {
			const struct store_frame *f = &t.frames[j];

			info->frames++;
			info->events += f->count;
			info->raw_bytes += f->raw_len;
			if (f->min_ts > f->max_ts)
				continue;
			if (info->min_ts_us == 0 || f->min_ts < info->min_ts_us)
				info->min_ts_us = f->min_ts;
			if (f->max_ts > info->max_ts_us)
				info->max_ts_us = f->max_ts;
		}
		store_table_fini(&t);
	}
	free(segs);
	return 0;
fail:
	saved_errno = errno;
	free(segs);
	errno = saved_errno;
	return -1;
}
