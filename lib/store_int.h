/* SPDX-License-Identifier: MIT */
/*
 * What the files of the store (store.c, store_index.c, store_read.c,
 * store_write.c) share and nothing else includes: the handle, the decoded
 * index records, and the helpers that read and write the format that
 * store.h describes.
 */
#ifndef GW_STORE_INT_H
#define GW_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "buf.h"
#include "datadir.h"
#include "evsum.h"
#include "store.h"

#define IDX_MAGIC    "GWSTIDX"
#define IDX_HDR_SIZE 32
#define IDX_REC_SIZE 64
#define SKIP_MAGIC   0x184D2A5Au /* a zstd skippable frame */
#define SKIP_HDR     8

#define FRAME_NO_TS 0x01 /* store_frame.fflags */

#define DEFAULT_FRAME_BYTES   (256 * 1024)
#define DEFAULT_SEGMENT_BYTES (256ULL * 1024 * 1024)
#define MAX_FRAME_BYTES       (64 * 1024 * 1024)
#define DEFAULT_LEVEL         1
#define SUMS_LEVEL            3
/* A failed write is retried by gw_store_append() after this long. */
#define RETRY_NS 1000000000ULL

#define US_PER_HOUR 3600000000LL

/* The longest encoding of one summary in a summary block. */
#define SUM_MAX (3 + 2 + 10 + 10 + 17 + 4)

static inline void
store_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t
store_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* One index record, decoded. */
struct store_frame {
	uint64_t off;     /* of the unit in the data file */
	uint32_t sum_len; /* skippable frame, header included */
	uint32_t ev_len;  /* event frame */
	uint32_t raw_len; /* event bytes uncompressed */
	uint32_t count;
	int64_t min_ts, max_ts; /* min > max: no event has a timestamp */
	int64_t id_min, id_max; /* min > max: no event has a valid id */
	uint8_t flags_or;
	uint8_t kinds;
	uint8_t fflags; /* FRAME_* */
};

/* A segment found in the directory (it has an index file). */
struct store_seg {
	uint64_t seq;
	char stem[32]; /* "00000001-20261124T16" */
};

/* A segment's files and the part of its index read so far. */
struct store_table {
	int idxfd, datafd;
	uint64_t seq;
	uint32_t hour;
	int have_hdr;
	struct store_frame *frames;
	size_t n, cap;
	uint64_t idx_off;  /* where the next record starts */
	uint64_t data_end; /* end of the last valid unit */
};

struct store_writer {
	struct store_table seg; /* idxfd -1 when no segment is open */
	uint64_t next_seq;
	struct gw_buf batch;   /* event lines, newline-terminated */
	struct gw_evsum *sums; /* one per line of batch */
	size_t n, cap;
	int64_t id_min, id_max;
	int64_t batch_hour; /* hour of the batch's first event */
	ZSTD_CCtx *cctx;
	struct gw_buf enc; /* summary columns */
	struct gw_buf out; /* the unit as written */
	/* After a failed write, appends do not write before this (mono ns). */
	uint64_t retry_after;
	struct gw_store_counters c;
};

struct gw_store {
	char *dir;
	struct gw_datadir dd; /* the lock only when GW_STORE_WRITE */
	int flags;
	struct gw_store_opts opts;
	ZSTD_DCtx *dctx;
	struct store_writer w; /* GW_STORE_WRITE only */
};

/*
 * store_index.c: the byte-level format.  Encoders cannot fail; decoders
 * return 0, or -1 with errno EBADMSG for bytes that are not a valid
 * header, record or summary block.
 */
/* zlib's crc32 of <p>/<n>. */
uint32_t store_crc(const void *p, size_t n);
void store_hdr_encode(uint8_t out[IDX_HDR_SIZE], uint64_t seq, uint32_t hour);
int
store_hdr_decode(const uint8_t in[IDX_HDR_SIZE], uint64_t *seq, uint32_t *hour);
void store_frame_encode(uint8_t out[IDX_REC_SIZE], const struct store_frame *);
int store_frame_decode(const uint8_t in[IDX_REC_SIZE], struct store_frame *);
/* Summary blocks; encoding fails only on memory (-1, ENOMEM/ENOBUFS). */
int store_sums_encode(struct gw_buf *, const struct gw_evsum *, size_t n);
int
store_sums_decode(const uint8_t *p, size_t len, struct gw_evsum *, size_t n);
/* Segment file names ("00000001-20261124T16.zst"), both ways. */
int store_seg_name(
    char *buf, size_t len, uint64_t seq, uint32_t hour, const char *ext);
int store_seg_parse(const char *name, uint64_t *seq, const char **ext);
/* The segments of a store directory, by sequence number. */
int
store_list(int dirfd, struct store_seg **segs, size_t *n, uint64_t *max_seq);
/*
 * A segment's index as far as it is valid: _init empties <t> (no files),
 * _open opens a segment read-only and loads it, _load reads the records
 * added since, _fini closes and frees (accepts an _init'ed table).
 */
void store_table_init(struct store_table *t);
int
store_table_open(int dirfd, const struct store_seg *, struct store_table *t);
int store_table_load(struct store_table *t);
void store_table_fini(struct store_table *t);

/*
 * store_read.c: one frame's summaries, or its events, read and
 * decompressed into caller-owned arrays grown as needed (<tmp> is
 * scratch).  0, or -1 (EBADMSG for a damaged frame, or I/O errors).
 */
int store_read_sums(struct gw_store *, const struct store_table *,
    const struct store_frame *, struct gw_buf *tmp, struct gw_evsum **sums,
    size_t *cap);
int store_read_events(struct gw_store *, const struct store_table *,
    const struct store_frame *, struct gw_buf *tmp, char **raw, size_t *cap);

/*
 * store_write.c: the writer's state in a gw_store (_init 0 or -1; _fini
 * accepts a zeroed or half-built writer), continuing the newest segment
 * after a restart (with its repair), closing the current segment, and
 * which segment that is (1 and <seq>, or 0 when none is open).
 */
int store_writer_init(struct gw_store *);
void store_writer_fini(struct gw_store *);
int store_writer_resume(struct gw_store *, const struct store_seg *);
int store_writer_close_seg(struct gw_store *);
int store_writer_current(const struct gw_store *, uint64_t *seq);

#endif
