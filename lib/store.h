/* SPDX-License-Identifier: MIT */
/*
 * gw-capture's event store: a directory of hourly segments of zstd frames
 * with a compact index, written by one gw-capture and read at the same
 * time by any number of readers (gw-capture list/show/tail/stats,
 * gw-replay, gw-export --from-store, gw-policy eval).  The writer is in
 * store_write.c, readers in store_read.c, the index encoding in
 * store_index.c, and opening, locking, repair and retention in store.c.
 *
 * On-disk format, version 1 (all integers little-endian)
 * ========================================================
 *
 * DIR/                       0700 when gw creates it (an existing empty
 *                            directory keeps its mode); files 0600
 *   gw-store.json            {"format":"gw-store","version":1}
 *   gw-store.lock            flock(2)ed by the one writer; holds its pid
 *   00000001-20261124T16.zst segment data  (sequence number, then the UTC
 *   00000001-20261124T16.idx segment index  hour of its first event)
 *   ...
 *
 * A directory is a store when it holds gw-store.json.  Opening a
 * directory that has other files but no marker, or whose marker names
 * another format or a newer version, fails and changes nothing; an empty
 * or missing directory (its parents too) becomes a store (with
 * GW_STORE_CREATE).  Readers
 * ignore files they do not know.
 *
 * Segments.  Sequence numbers grow by one per segment and order the
 * segments.  Segments follow event time, not wall time, so that
 * `gw-capture import` of old events lands in segments that retention and
 * time ranges treat by the events' age: the writer starts a new segment
 * when an event's UTC hour (of event_timestamp) is later than the
 * current segment's, or when the data file reaches the segment size
 * limit.  An earlier event (late, or imported) and an event without a
 * timestamp go into the current segment (a segment started by such an
 * event is named after the wall-clock hour): the index keeps true time
 * ranges, so readers still skip correctly, and events keep arrival order
 * within the store.  A restarted writer continues the newest segment.
 *
 * Data file (.zst).  A sequence of frame units, each:
 *   a zstd skippable frame: u32 magic 0x184D2A5A, u32 payload size, then
 *     the summary block (below) as one zstd frame;
 *   a zstd frame (content size and checksum set) of the unit's events,
 *     whole NDJSON lines each ending in "\n", as they were appended.
 * The file is therefore a valid zstd stream: `zstdcat SEG.zst` prints
 * the events.  Units are written whole and then committed by their index
 * record; bytes after the last committed unit are not part of the store.
 *
 * Summary block (decompressed).  For the n events of the unit, columns:
 *   kind[n] u8, method[n] u8, flags[n] u8, status[n] u16,
 *   ts[n]   varint: zigzag(ts_us - previous ts_us), the first from 0,
 *   dur     varint zigzag(duration_ns), for each event with GW_EVS_HAS_DUR,
 *   ip      u8 length (4: IPv4-mapped, 16: IPv6) and the address bytes,
 *           for each event with GW_EVS_HAS_IP,
 *   host    u32 host_hash, for each event with GW_EVS_HAS_HOST.
 * Varints are LEB128 (7 bits a byte, low first).  Event i of the block
 * is line i of the unit's event frame.
 *
 * Index file (.idx).  A 32-byte header, then one 64-byte record per
 * committed frame unit, in data-file order:
 *   header: "GWSTIDX\0", u32 version (1), u32 record size (64),
 *           u64 segment sequence, u32 segment hour (hours since the
 *           epoch, UTC), u32 crc32 of the previous 28 bytes.
 *   record: u64 offset of the unit in the data file, u32 skippable frame
 *           size (header included), u32 event frame size, u32 event
 *           bytes uncompressed, u32 event count, i64 min and max
 *           event_timestamp (µs; over events that have one, min > max
 *           when none has), i64 min and max time of the events' ids
 *           (µs, gw_evid_time_ns(); min > max when none has a valid id),
 *           u8 OR of the events' flags, u8 OR of 1 << kind, u8 frame
 *           flags (0x01: some event has no event_timestamp), u8 0,
 *           u32 crc32 (zlib) of the previous 60 bytes.
 * A record is valid when its checksum matches, its unit starts where
 * the previous one ended and the data file holds all of the unit;
 * readers stop at the first invalid record.
 *
 * Crash safety.  The writer writes a unit to the data file, then its
 * record to the index (pwrite at offsets it tracks, never O_APPEND).  A
 * reader trusts only units with a valid record, so a kill -9 at any
 * point loses at most the unit being written, and concurrent readers see
 * a consistent prefix.  The next writer truncates both files of the last
 * segment to the last valid record.  Nothing is fsynced per unit (a
 * power cut may lose the last seconds: a record whose unit is not all in
 * the data file counts as torn, and zstd's checksums catch damaged
 * units); a segment is fdatasynced when it is closed.
 *
 * Full disk.  A write that fails (ENOSPC, EDQUOT, EFBIG, or any other
 * error) is undone by truncating both files back to the last committed
 * unit; the batch is kept (so it is bounded by one frame) and written
 * by a later attempt, and events that arrive meanwhile and do not fit
 * beside it are refused and counted.  Nothing else changes, so storing
 * resumes by itself when space returns.
 *
 * Like the rest of libgw, a store handle and its cursors are for one
 * thread.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "evsum.h"

#define GW_STORE_VERSION 1

/* gw_store_open() flags */
#define GW_STORE_WRITE  0x01 /* the one writer: takes the lock */
#define GW_STORE_CREATE 0x02 /* make an empty or missing directory a store */

/* Longest event line the store takes (newline excluded). */
#define GW_STORE_MAX_LINE (16 * 1024 * 1024)

/* Writer tuning; a zero member means its default. */
struct gw_store_opts {
	size_t frame_bytes;     /* event bytes per frame; default 256 KiB */
	uint64_t segment_bytes; /* data file size limit; default 256 MiB */
	int level;              /* zstd level of event frames; default 1 */
};

/* What a writer did since it was opened. */
struct gw_store_counters {
	uint64_t events;  /* events stored (committed) */
	uint64_t frames;  /* frame units written */
	uint64_t bytes;   /* bytes written to data and index files */
	uint64_t dropped; /* events refused because writing failed */
	uint64_t write_errors;
	int last_errno; /* of the last failed write; 0 after a success */
};

/* What gw_store_retain() removed. */
struct gw_store_prune_stats {
	uint64_t segments;
	uint64_t events;
	uint64_t bytes;
};

/* The whole store, as gw_store_info() counts it. */
struct gw_store_info {
	uint64_t segments;
	uint64_t frames;
	uint64_t events;
	uint64_t bytes;     /* data and index files */
	uint64_t raw_bytes; /* event bytes before compression */
	int64_t min_ts_us;  /* over events with a timestamp; 0 when none */
	int64_t max_ts_us;
};

struct gw_store;
struct gw_store_cur;

/*
 * Opens the store in directory <dir> for reading, or with GW_STORE_WRITE
 * for writing (and reading).  A writer takes the store's lock: a second
 * writer fails with EBUSY and a message naming the first one's pid.  The
 * writer also repairs a torn tail left by a crash.  <opts> (NULL for the
 * defaults) matters only to a writer.  Returns the store, or NULL with
 * errno set and <err> saying why (not a gw store, a newer format, locked,
 * or the system error with the path).
 */
struct gw_store *gw_store_open(const char *dir, int flags,
    const struct gw_store_opts *opts, struct gw_error *err);
/*
 * Flushes a writer's batch (ignoring a failure: see the counters first if
 * it matters), closes everything and frees <st>.  Cursors on <st> must be
 * freed before.  NULL accepted.
 */
void gw_store_close(struct gw_store *st);

/*
 * Appends one event line <line>/<len> (no newline) with its summary
 * <sum> (from gw_evsum_extract(); NULL to have it extracted here); both
 * are copied.  Lines are batched
 * into a frame that is written when it would pass the frame size, when a
 * new hour starts, or on gw_store_flush().
 *
 * Returns 0 when the event is in the batch.  Returns -1 when it is not
 * stored: EINVAL for a line with a newline, empty, or longer than
 * GW_STORE_MAX_LINE, or not JSON when <sum> is NULL; EBADF without
 * GW_STORE_WRITE; or the errno of a
 * failed write (gw_store_nospace() tells a full disk).  After a failed
 * write the store stays consistent (the partial frame is truncated), the
 * batch is kept, and events that do not fit beside it are refused and
 * counted as dropped; the next append tries to write again after a
 * second, gw_store_flush() at once, so storing resumes by itself when
 * space returns.
 */
int gw_store_append(struct gw_store *st, const char *line, size_t len,
    const struct gw_evsum *sum);
/*
 * Writes the batch as a frame now (gw-capture calls it when input is
 * idle and before exit).  Returns 0 (also when there was nothing to
 * write), or -1 with errno of the failed write; the batch is then kept.
 */
int gw_store_flush(struct gw_store *st);
/* Returns 1 when <errnum> means the disk (or quota, or size limit) is full. */
int gw_store_nospace(int errnum);
/* The writer's counters. */
void gw_store_counters(const struct gw_store *st, struct gw_store_counters *c);

/*
 * Applies retention: deletes whole segments whose newest event is older
 * than <now_us> - <max_age_us> (the newest event's time, or the data
 * file's mtime if that is earlier, so that a clock far in the future
 * cannot pin a segment), then the oldest segments while the store holds
 * more than <max_bytes>.  0 disables either limit.  The writer's current
 * segment is never deleted.  Needs GW_STORE_WRITE (EBADF otherwise).
 * Fills <ps> (may be NULL) and returns 0, or -1 with errno set.
 */
int gw_store_retain(struct gw_store *st, int64_t max_age_us, uint64_t max_bytes,
    int64_t now_us, struct gw_store_prune_stats *ps);
/*
 * Counts the committed contents of the store into <info> by reading every
 * index.  Returns 0 or -1.
 */
int gw_store_info(struct gw_store *st, struct gw_store_info *info);

/* gw_store_cur_new() flags */
#define GW_CUR_REVERSE 0x01 /* newest first */
#define GW_CUR_TAIL    0x02 /* forward, starting after the last event */

/*
 * A cursor over the events whose event_timestamp is in [since_us,
 * until_us) (INT64_MIN and INT64_MAX for no bound; events without a
 * timestamp count as time 0, so they show only when 0 is in the range),
 * in store order (arrival order, which is time order for a live
 * capture), oldest first or with GW_CUR_REVERSE newest first.  Frames
 * outside the range are skipped from the index alone.  Only what is
 * committed is visible; a forward cursor sees more after
 * gw_store_cur_refresh().  The cursor holds one segment's index, one
 * frame's summaries and at most one decompressed frame.  Returns NULL
 * with errno set.
 */
struct gw_store_cur *gw_store_cur_new(
    struct gw_store *st, int64_t since_us, int64_t until_us, int flags);
void gw_store_cur_free(struct gw_store_cur *cur);
/*
 * Moves to the next event: returns 1 with <*sum> pointing at its summary
 * (valid until the next call), 0 at the end of what is visible now, -1
 * on an error (errno set).  A frame whose summaries are corrupt is
 * skipped and counted (gw_store_cur_skipped()).
 */
int gw_store_cur_next(struct gw_store_cur *cur, const struct gw_evsum **sum);
/*
 * The current event's line (no newline, not NUL-terminated) in
 * <line>/<len>, valid until the next gw_store_cur_next() or
 * gw_store_cur_free().  Decompresses the current frame once, for all its
 * events.  Returns 0, or -1 (EINVAL before the first event; EBADMSG
 * when the frame is corrupt; an I/O error).
 */
int gw_store_cur_line(struct gw_store_cur *cur, const char **line, size_t *len);
/*
 * For a forward cursor that reached the end: makes frames and segments
 * committed since visible.  Returns 1 when there is more to read, 0 when
 * not, -1 on an error (EINVAL for a reverse cursor).  Poll it (every
 * 100-250 ms) to follow a store like tail -f.
 */
int gw_store_cur_refresh(struct gw_store_cur *cur);
/* Frames skipped as corrupt so far. */
uint64_t gw_store_cur_skipped(const struct gw_store_cur *cur);

/*
 * Finds the committed event whose event_id is <id>/<idlen> (a writer's
 * unflushed batch is not searched).  Only frames whose id
 * time range covers the id's time are decompressed.  On success stores a
 * copy of the line (NUL-terminated, no newline; the caller frees it) in
 * <line>/<len> and returns 0; returns 1 when there is no such event (or
 * <id> is not a well-formed id), -1 on an error.
 */
int gw_store_find(struct gw_store *st, const char *id, size_t idlen,
    char **line, size_t *len);

#endif
