/* SPDX-License-Identifier: MIT */
/*
 * gw-export's disk spool (spool.c): one per destination, an on-disk FIFO
 * of event lines that holds every event until the destination has
 * acknowledged it, so that delivery is at-least-once across crashes:
 * after a kill -9 and a restart every event that was spooled (and
 * flushed) is sent, some perhaps twice (consumers dedupe on event_id),
 * none never.  main.c
 * appends what a destination's sources keep; dest.c takes batches, sends
 * them and acks or releases them.  These declarations belong with
 * gw-export.h; they live in their own header only while several people
 * edit that one.
 *
 * On-disk format, version 1 (integers little-endian)
 * ==================================================
 *
 * DIR/                           0700 when the spool creates it (missing
 *                                parents too); files 0600
 *   gw-spool.json                {"format":"gw-spool","version":1}
 *   gw-spool.lock                flock(2)ed by the one gw-export using
 *                                the spool; holds its pid
 *   gw-spool.state               the acknowledged position (below)
 *   00000000000000000000.ndjson  segments, named by the number of their
 *   00000000000000052346.ndjson  first event (20 digits, so that the
 *   ...                          names sort in event order)
 *
 * A directory is a spool when it holds gw-spool.json.  A directory with
 * other files and no marker, or with a marker of another format or a
 * newer version, is refused and left untouched; an empty or missing one
 * becomes a spool.  Files the spool does not know are ignored.
 *
 * Segments hold the events as they were appended, one NDJSON line each
 * ending in "\n", nothing else (`cat DIR/0*.ndjson` prints what waits,
 * acknowledged events of the oldest segment first).  Every event has a
 * number, counting from 0 over the spool's life; a segment's name is the
 * number of its first event, so a sealed segment holds (next name - its
 * name) events and only the newest one is counted when opening (at most
 * segment_bytes read), which is how pending counts survive a restart.  The newest
 * segment is written; it is sealed and a new one started when the next
 * line would take it past segment_bytes.  A segment is deleted when all
 * its events are acknowledged (the newest one is kept and written on).
 *
 * State file: two 64-byte slots, written alternately in place with one
 * pwrite(2) each; the valid slot with the higher sequence wins:
 *   u8[8] "GWSPACK\0", u32 version (1), u32 slot size (64),
 *   u64 sequence (of this write), u64 segment (its name), u64 byte offset
 *   in that segment, u64 number of the event there, u8[12] zero,
 *   u32 crc32 (zlib) of the previous 60 bytes.
 * Every event before that position is acknowledged.
 *
 * Crash safety and its cost
 * =========================
 *
 * Appends are copied to a buffer (buffer_bytes, default 256 KiB) that is
 * written with one pwrite(2) when it fills and on spool_flush(); once
 * spool_flush() returned, the lines are the kernel's and survive a kill -9
 * of gw-export.  main.c flushes after the lines of each input read (one
 * write per read, not per event), so that a kill -9 loses at most the
 * lines of the read in progress.  Lines are written whole at offsets the
 * spool tracks; a write cut short (disk full) keeps its complete lines
 * and the torn rest is overwritten by the next write, and the next
 * spool_open() cuts a torn line off the end of any segment.
 *
 * The acknowledged position is written on spool_flush() and spool_close()
 * when it moved, and by spool_ack() when the last write is 100 ms old, so
 * after a kill -9 at most the acks of the last 100 ms (or since the last
 * flush) are forgotten and those batches are sent again: duplicates, never
 * gaps.  It only ever moves forward; a position that does not match the
 * segments (a torn state file, a segment cut short) falls back to the
 * start of the oldest segment, the duplicate side again.  Deleting
 * segments before or after the state write is equally safe: a segment
 * that is gone was delivered (or dropped).
 *
 * Nothing is fsynced: a slot write is a few microseconds, an fsync
 * milliseconds, and power loss is out of scope.  It still fails soft:
 * the state file is overwritten in place (no rename that a power cut
 * could leave empty), its slots are checksummed, and a lost position
 * means re-sending.  A power cut may lose the events of the last seconds
 * (those the kernel had not written back yet), or leave a block of
 * zeros that is then sent as a bad line (and dead-lettered).
 *
 * Limits
 * ======
 *
 * max_bytes (default 1 GiB) bounds the bytes of events not yet
 * acknowledged; the disk holds at most that plus the delivered head of
 * the oldest segment (less than segment_bytes, default 64 MiB).  When an append would
 * pass it, SPOOL_BLOCK refuses the line (ENOBUFS: stop reading input and
 * try again after acks; spool_room() tells when) and SPOOL_DROP_OLDEST
 * deletes the oldest segments, counting the undelivered events they held
 * as dropped.  It drops a segment even when batches of it are out:
 * their lines are copies in the caller's batch, so nothing dangles, and
 * acking or releasing such a batch later is accepted and does nothing.
 * The newest segment is never dropped (segment_bytes is at most a
 * quarter of max_bytes, so there are older ones to drop first).
 *
 * Batches
 * =======
 *
 * spool_next() hands out the next run of lines no batch holds, within
 * one segment, copied into memory the batch owns (usually one pread per
 * batch, at most max_bytes of the caller's choosing, or one line when a
 * single line is longer).  Copies, not mmap, so that memory stays
 * bounded (the batches' max_bytes each) and a segment can be deleted
 * under a batch.  Several batches may be out at once (max_inflight,
 * default 64); acked batches waiting behind an unacked one count too,
 * up to four times max_inflight, after which only released lines are
 * handed out until the unacked one is acked or released.  spool_ack() marks a batch
 * delivered; the acknowledged position moves only over a contiguous
 * prefix of acked batches, whatever order the acks come in.
 * spool_release() gives a batch back for a retry: released lines are
 * handed out again before any newer line, lowest first.
 *
 * A batch that must become smaller (Datadog's 413) is released and the
 * caller asks spool_next() for fewer events or bytes: the released range
 * is handed out in pieces of the new size.  There is no split call.  A
 * batch that cannot be delivered at all (Datadog's 400) is the caller's
 * to dead-letter (spool_batch_lines() iterates its lines); then it acks
 * it.
 *
 * The spool is for one thread.  Owners: the spool owns everything behind
 * struct spool; the caller owns each struct spool_batch and its memory
 * (spool_batch_fini()), which does not refer to the spool.
 */
#ifndef GW_SPOOL_H
#define GW_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SPOOL_VERSION 1

/* Longest line the spool takes (newline excluded); less for a small
 * max_bytes (a quarter of it). */
#define SPOOL_MAX_LINE (16 * 1024 * 1024)

/* What an append does when the spool is full. */
enum spool_full {
	SPOOL_BLOCK = 0,   /* refuse the line (ENOBUFS): back-pressure */
	SPOOL_DROP_OLDEST, /* delete the oldest segments, count the loss */
};

/* Tuning; a zero member means its default.  max_bytes is at least 16 KiB. */
struct spool_opts {
	uint64_t max_bytes;     /* undelivered bytes; default 1 GiB */
	uint64_t segment_bytes; /* default 64 MiB; 4 KiB .. max_bytes / 4 */
	size_t buffer_bytes;    /* append buffer; default 256 KiB */
	unsigned max_inflight;  /* batches out at once; default 64 */
	enum spool_full full;   /* default SPOOL_BLOCK */
};

/*
 * A batch: its ticket (where its lines lie in the spool) and a copy of
 * the lines, each ending in "\n", in data[0, len).  Initialise with
 * spool_batch_init(); spool_next() fills it, reusing its memory (pass a
 * batch that is new, acked or released); the lines stay valid until the
 * next spool_next() on it or spool_batch_fini(), acked or not.
 */
struct spool_batch {
	uint64_t seg;        /* the segment (the number of its first event) */
	uint64_t start, end; /* byte offsets of the lines in the segment */
	uint64_t first;      /* number of the first event */
	size_t count;        /* events */
	char *data;          /* owned by the batch */
	size_t len;
	size_t cap;
};

/* Iterates over the lines of a batch (spool_batch_lines()). */
struct spool_line_iter {
	const char *p, *end;
};

struct spool_stats {
	uint64_t appended; /* events appended since open */
	uint64_t acked;    /* events acknowledged since open */
	uint64_t released; /* events given back for a retry since open */
	uint64_t dropped;  /* undelivered events deleted (drop_oldest) */
	uint64_t refused;  /* appends refused because full (block) */
	uint64_t pending;  /* events not acknowledged, out or not */
	uint64_t pending_bytes;
	uint64_t waiting;    /* events spool_next() can hand out (not out) */
	uint64_t inflight;   /* batches out */
	uint64_t segments;   /* segment files */
	uint64_t disk_bytes; /* bytes in segment files */
	uint64_t torn_bytes; /* cut off torn segment ends when opened */
};

struct spool;

/*
 * Opens the spool in directory <dir> (created with missing parents when
 * it does not exist), takes its lock and recovers from a crash: torn
 * lines at segment ends are cut, the acknowledged position is read and
 * fully delivered segments are deleted.  Everything after that position
 * will be handed out again.  <o> may be NULL for the defaults.  Returns
 * the spool, or NULL with errno set and <err> saying why: EINVAL for a
 * directory that is not a spool (it is left untouched), EPROTONOSUPPORT
 * for a newer format, EBUSY when another process holds the spool (the
 * message names its pid), or the system error with the path.
 */
struct spool *
spool_open(const char *dir, const struct spool_opts *o, struct gw_error *err);
/*
 * Flushes (ignoring a failure: call spool_flush() first if it matters),
 * writes the acknowledged position, unlocks and frees <sp>.  Batches still
 * out count as not delivered.  NULL accepted.
 */
void spool_close(struct spool *sp);

/*
 * Appends the event <line>/<len> (no newline; copied).  Returns 0, or -1
 * with errno: EINVAL for an empty line or one holding "\n", EMSGSIZE for
 * one over the line limit, ENOBUFS when the spool is full under
 * SPOOL_BLOCK (nothing changed: retry once spool_room() is larger), or
 * the error of a failed write (ENOSPC, EDQUOT, EIO...; the buffered lines
 * are kept for the next attempt and this one is refused).
 */
int spool_append(struct spool *sp, const char *line, size_t len);
/*
 * Writes the buffered lines and, when it moved, the acknowledged
 * position, so that both survive a kill -9.  Call it after each input
 * read, and from a timer (every 50 ms or so) so that acks are written
 * too.  Returns 0, or -1 with errno of the failed write (the lines stay
 * buffered).
 */
int spool_flush(struct spool *sp);
/* Bytes that may still be appended before the limit (0 when full); a
 * line takes its length plus one. */
uint64_t spool_room(const struct spool *sp);

/* Initialises an empty batch. */
void spool_batch_init(struct spool_batch *b);
/* Frees the batch's memory; it stays usable and empty.  NULL accepted. */
void spool_batch_fini(struct spool_batch *b);

/*
 * Hands out into <b> the next lines no batch holds: released ones first,
 * then the oldest never handed out, at most <max_events> of them and at
 * most <max_bytes> bytes (newlines counted), but always at least one
 * line.  Returns 1 with <b> filled, 0 when there is nothing to hand out
 * (everything is out, max_inflight batches are, or acked batches fill
 * the window behind an unacked one), or -1 with errno:
 * EINVAL for a zero limit, EIO when a segment is shorter than the spool
 * knows, ENOMEM, or the error of flushing or reading.  When it does not
 * return 1, <b> holds no batch (count 0) and keeps its memory.
 */
int spool_next(struct spool *sp, struct spool_batch *b, size_t max_events,
    size_t max_bytes);
/*
 * Marks batch <b> delivered.  The acknowledged position moves over every
 * acked batch that no unacked batch precedes, and delivered segments are
 * deleted.  Acking a batch twice, or one whose segment was dropped, does
 * nothing.  Returns 0, or -1 with errno EINVAL when <b> is not a batch
 * out (a released one, or another spool's).
 */
int spool_ack(struct spool *sp, const struct spool_batch *b);
/*
 * Gives batch <b> back undelivered: its lines are handed out again before
 * newer ones.  Returns 0, or -1 with errno EINVAL as spool_ack() does.
 */
int spool_release(struct spool *sp, const struct spool_batch *b);

/* Starts iterating over the lines of <b>; the iterator points into <b>. */
void spool_batch_lines(const struct spool_batch *b, struct spool_line_iter *it);
/* Sets the next line (newline excluded); returns 1, or 0 after the last. */
int spool_line_next(struct spool_line_iter *it, const char **line, size_t *len);

/* Fills <st> with the counters; no I/O. */
void spool_stats(const struct spool *sp, struct spool_stats *st);

/* Parses "block" or "drop_oldest"; returns 0, or -1 (EINVAL). */
int spool_parse_full(const char *s, enum spool_full *full);

#endif
