// SPDX-License-Identifier: MIT
/*
 * gw-export's disk spool, as spool.h describes it: the directory (marker
 * and lock through datadir.c, segment files, the two-slot state file),
 * recovery when opening, buffered appends, and the bookkeeping of batches
 * out.  The batches out are a sorted array of ranges that cover, without
 * gap or overlap, every event from the acknowledged position <ack> to the
 * first event never handed out <next>; each range is out, acked or
 * released.  Acks pop acked ranges off the front, which moves <ack>;
 * releases merge released neighbours; spool_next() cuts a released range
 * when asked for less.
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "datadir.h"
#include "spool.h"
#include "timeutil.h"

#define SPOOL_STATE  "gw-spool.state"
#define SEG_DIGITS   20
#define SEG_SUFFIX   ".ndjson"
#define SEG_NAME_LEN 32

#define STATE_MAGIC "GWSPACK" /* and its NUL: 8 bytes */
#define STATE_SLOT  64

#define DEFAULT_MAX_BYTES     (1024ULL * 1024 * 1024)
#define DEFAULT_SEGMENT_BYTES (64ULL * 1024 * 1024)
#define MIN_SEGMENT_BYTES     4096
#define DEFAULT_BUFFER_BYTES  (256 * 1024)
#define MIN_BUFFER_BYTES      4096
#define MAX_BUFFER_BYTES      (16 * 1024 * 1024)
#define DEFAULT_MAX_INFLIGHT  64
#define MAX_INFLIGHT          4096
/*
 * Ranges tracked at most, out or not, before fresh lines stop being
 * handed out: acked batches behind one that keeps failing wait here.
 */
#define WINDOW_FACTOR 4
/* spool_ack() writes the position when the last write is this old. */
#define STATE_INTERVAL_NS (100ULL * 1000 * 1000)
/* The smallest read spool_next() makes, and the first line-length guess. */
#define MIN_READ  (64 * 1024)
#define FIRST_AVG 512

/* What datadir.c calls a spool, on disk and in messages. */
static const struct gw_datadir_kind spool_kind = {
	.format = "gw-spool",
	.version = SPOOL_VERSION,
	.name = "gw-export spool",
	.noun = "spool",
	.program = "gw-export",
	.holder = "gw-export",
};

enum range_state { R_OUT, R_ACKED, R_RELEASED };

struct spool_seg {
	uint64_t base;   /* number of its first event; names the file */
	uint64_t size;   /* bytes; the newest one's buffered bytes included */
	uint64_t nlines; /* events */
};

/* A line start: segment, byte offset in it, number of the event there. */
struct spool_pos {
	uint64_t seg;
	uint64_t off;
	uint64_t no;
};

/* A run of lines in one segment that batches took. */
struct spool_range {
	uint64_t seg;
	uint64_t start, end;
	uint64_t no;
	size_t count;
	int state; /* enum range_state */
};

struct spool {
	char *dir;
	struct gw_datadir dd; /* locked while open */
	int statefd;
	struct spool_opts o;
	size_t max_line;

	struct spool_seg *segs; /* oldest first; the last one is written */
	size_t nsegs, capsegs;
	uint64_t total_bytes; /* of all segments, buffered bytes included */
	int wfd;              /* the newest segment; -1 when there is none */
	uint64_t wsize;       /* its bytes in the file */
	char *wbuf;           /* lines not written yet */
	size_t wlen;
	uint64_t next_no; /* number of the next event appended */

	int rfd; /* an older segment being read, or -1 */
	uint64_t rfd_seg;

	struct spool_pos ack;  /* everything before is delivered */
	struct spool_pos next; /* the first line never handed out */
	struct spool_range *r; /* cover [ack, next) in order */
	size_t nr, capr;
	size_t out; /* ranges R_OUT */
	size_t avg; /* line length guess for reads */

	uint64_t state_seq; /* of the next state write */
	int state_dirty;
	uint64_t state_ns; /* when it was last written (monotonic) */

	uint64_t appended, acked, released, dropped, refused, torn_bytes;
};

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
seg_name(uint64_t base, char *buf)
{
	(void)snprintf(
	    buf, SEG_NAME_LEN, "%0*" PRIu64 SEG_SUFFIX, SEG_DIGITS, base);
}

/* Parses a segment file name; 0, or -1 when it is none. */
static int
seg_parse(const char *name, uint64_t *base)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < SEG_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (strcmp(name + SEG_DIGITS, SEG_SUFFIX) != 0)
		return -1;
	*base = v;
	return 0;
}

/* Index of the segment named <base>, or -1. */
static long
seg_find(const struct spool *sp, uint64_t base)
{
	size_t lo = 0, hi = sp->nsegs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (sp->segs[mid].base < base)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < sp->nsegs && sp->segs[lo].base == base)
		return (long)lo;
	return -1;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct spool_seg *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

/* Makes room for one more segment. */
static int
segs_reserve(struct spool *sp)
{
	struct spool_seg *p;
	size_t cap;

	if (sp->nsegs < sp->capsegs)
		return 0;
	cap = sp->capsegs != 0 ? sp->capsegs * 2 : 16;
	if ((p = realloc(sp->segs, cap * sizeof(*p))) == NULL)
		return -1;
	sp->segs = p;
	sp->capsegs = cap;
	return 0;
}

/* Makes room for <n> more ranges. */
static int
ranges_reserve(struct spool *sp, size_t n)
{
	struct spool_range *p;
	size_t cap;

	if (sp->nr + n <= sp->capr)
		return 0;
	cap = sp->capr != 0 ? sp->capr * 2 : 64;
	while (cap < sp->nr + n)
		cap *= 2;
	if ((p = realloc(sp->r, cap * sizeof(*p))) == NULL)
		return -1;
	sp->r = p;
	sp->capr = cap;
	return 0;
}

/* Removes ranges [i, i + n). */
static void
ranges_remove(struct spool *sp, size_t i, size_t n)
{
	if (n == 0)
		return;
	memmove(&sp->r[i], &sp->r[i + n], (sp->nr - i - n) * sizeof(*sp->r));
	sp->nr -= n;
}

/* Index of the range whose first event is <no>, or -1. */
static long
range_find(const struct spool *sp, uint64_t no)
{
	size_t lo = 0, hi = sp->nr, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (sp->r[mid].no < no)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < sp->nr && sp->r[lo].no == no)
		return (long)lo;
	return -1;
}

/* Bytes not delivered (the oldest segment holds <ack>). */
static uint64_t
pending_bytes(const struct spool *sp)
{
	return sp->nsegs != 0 ? sp->total_bytes - sp->ack.off : 0;
}

static void
state_encode(uint8_t *p, uint64_t seq, const struct spool_pos *pos)
{
	memset(p, 0, STATE_SLOT);
	memcpy(p, STATE_MAGIC, 8);
	put32(p + 8, SPOOL_VERSION);
	put32(p + 12, STATE_SLOT);
	put64(p + 16, seq);
	put64(p + 24, pos->seg);
	put64(p + 32, pos->off);
	put64(p + 40, pos->no);
	put32(p + 60, (uint32_t)crc32(0, p, 60));
}

/* Decodes one slot; 0, or -1 when it is not a valid one. */
static int
state_decode(const uint8_t *p, uint64_t *seq, struct spool_pos *pos)
{
	if (memcmp(p, STATE_MAGIC, 8) != 0 || get32(p + 8) != SPOOL_VERSION ||
	    get32(p + 12) != STATE_SLOT ||
	    get32(p + 60) != (uint32_t)crc32(0, p, 60))
		return -1;
	*seq = get64(p + 16);
	pos->seg = get64(p + 24);
	pos->off = get64(p + 32);
	pos->no = get64(p + 40);
	return 0;
}

/* Writes <ack> into the older slot. */
static int
state_write(struct spool *sp)
{
	uint8_t slot[STATE_SLOT];

	state_encode(slot, sp->state_seq, &sp->ack);
	if (gw_pwrite_full(sp->statefd, slot, sizeof(slot),
	        (sp->state_seq & 1) * STATE_SLOT, NULL) == -1)
		return -1;
	sp->state_seq++;
	sp->state_dirty = 0;
	sp->state_ns = gw_mono_ns();
	return 0;
}

/*
 * Reads the newest valid slot into <pos>.  Returns 1, 0 when there is
 * none (a new spool, or both slots torn), or -1 on a read error.
 */
static int
state_read(struct spool *sp, struct spool_pos *pos)
{
	uint8_t buf[2 * STATE_SLOT];
	struct spool_pos p;
	uint64_t seq;
	int found = 0;
	long n;

	if ((n = gw_pread_full(sp->statefd, buf, sizeof(buf), 0)) == -1)
		return -1;
	for (long i = 0; (i + 1) * STATE_SLOT <= n; i++) {
		if (state_decode(buf + i * STATE_SLOT, &seq, &p) == -1)
			continue;
		if (!found || seq >= sp->state_seq) {
			*pos = p;
			sp->state_seq = seq + 1;
			found = 1;
		}
	}
	return found;
}

/* Deletes the oldest segment (never the newest) and forgets it. */
static void
seg_drop_first(struct spool *sp)
{
	char name[SEG_NAME_LEN];

	seg_name(sp->segs[0].base, name);
	/*
	 * A failed unlink leaves a file the next opening deletes as
	 * delivered (it lies before the position), or re-sends.
	 */
	(void)unlinkat(sp->dd.dirfd, name, 0);
	if (sp->rfd != -1 && sp->rfd_seg == sp->segs[0].base) {
		close(sp->rfd);
		sp->rfd = -1;
	}
	sp->total_bytes -= sp->segs[0].size;
	memmove(
	    &sp->segs[0], &sp->segs[1], (sp->nsegs - 1) * sizeof(*sp->segs));
	sp->nsegs--;
}

/* The start of the oldest segment. */
static struct spool_pos
first_pos(const struct spool *sp)
{
	struct spool_pos p = { sp->segs[0].base, 0, sp->segs[0].base };

	return p;
}

/*
 * Deletes the oldest segments that <ack> has passed or reached the end
 * of: all their events were delivered.  Afterwards <ack> lies in the
 * oldest segment, at its end only when it is the newest.
 */
static void
settle(struct spool *sp)
{
	uint64_t old;

	while (sp->nsegs > 1 && sp->segs[0].base <= sp->ack.seg) {
		old = sp->segs[0].base;
		if (old == sp->ack.seg && sp->ack.off < sp->segs[0].size)
			break;
		seg_drop_first(sp);
		if (sp->ack.seg == old)
			sp->ack = first_pos(sp);
		if (sp->next.seg == old)
			sp->next = first_pos(sp);
	}
}

/*
 * Writes the buffered lines.  A write cut short keeps the complete lines
 * it wrote; the torn rest of the file is overwritten next time (and cut
 * off by the next opening after a crash).
 */
static int
flush_buf(struct spool *sp)
{
	const char *nl;
	size_t done, keep;
	int saved_errno;

	if (sp->wlen == 0)
		return 0;
	if (gw_pwrite_full(sp->wfd, sp->wbuf, sp->wlen, sp->wsize, &done) ==
	    0) {
		sp->wsize += sp->wlen;
		sp->wlen = 0;
		return 0;
	}
	saved_errno = errno;
	nl = done > 0 ? memrchr(sp->wbuf, '\n', done) : NULL;
	keep = nl != NULL ? (size_t)(nl - sp->wbuf) + 1 : 0;
	sp->wsize += keep;
	memmove(sp->wbuf, sp->wbuf + keep, sp->wlen - keep);
	sp->wlen -= keep;
	(void)ftruncate(sp->wfd, (off_t)sp->wsize);
	errno = saved_errno;
	return -1;
}

/* Starts segment <next_no> after the newest (whose lines are written). */
static int
seg_start(struct spool *sp)
{
	char name[SEG_NAME_LEN];
	int fd;

	if (segs_reserve(sp) == -1)
		return -1;
	seg_name(sp->next_no, name);
	/* A file of that name can only be a leftover of a failed unlink. */
	fd = openat(
	    sp->dd.dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (sp->wfd != -1)
		close(sp->wfd);
	sp->wfd = fd;
	sp->wsize = 0;
	sp->segs[sp->nsegs].base = sp->next_no;
	sp->segs[sp->nsegs].size = 0;
	sp->segs[sp->nsegs].nlines = 0;
	sp->nsegs++;
	if (sp->nsegs == 1) {
		sp->ack = first_pos(sp);
		sp->next = sp->ack;
	}
	settle(sp);
	return 0;
}

/* SPOOL_DROP_OLDEST: deletes old segments until <need> more bytes fit. */
static void
drop_oldest(struct spool *sp, uint64_t need)
{
	uint64_t lost, old, end;
	size_t k;

	while (sp->nsegs > 1 && pending_bytes(sp) + need > sp->o.max_bytes) {
		old = sp->segs[0].base;
		end = old + sp->segs[0].nlines;
		lost = end > sp->ack.no ? end - sp->ack.no : 0;
		for (k = 0; k < sp->nr && sp->r[k].seg == old; k++) {
			if (sp->r[k].state == R_OUT)
				sp->out--;
			else if (sp->r[k].state == R_ACKED)
				lost -= lost > sp->r[k].count ? sp->r[k].count
				                              : lost;
		}
		ranges_remove(sp, 0, k);
		sp->dropped += lost;
		seg_drop_first(sp);
		sp->ack = first_pos(sp);
		if (sp->next.seg == old)
			sp->next = sp->ack;
		sp->state_dirty = 1;
	}
}

int
spool_append(struct spool *sp, const char *line, size_t len)
{
	struct spool_seg *cur;
	uint64_t need = (uint64_t)len + 1;
	struct iovec iov[2];
	size_t done;

	if (len == 0 || memchr(line, '\n', len) != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (len > sp->max_line) {
		errno = EMSGSIZE;
		return -1;
	}
	if (pending_bytes(sp) + need > sp->o.max_bytes) {
		if (sp->o.full == SPOOL_BLOCK) {
			sp->refused++;
			errno = ENOBUFS;
			return -1;
		}
		drop_oldest(sp, need);
	}
	if (sp->nsegs == 0) {
		if (seg_start(sp) == -1)
			return -1;
	} else if (sp->segs[sp->nsegs - 1].size + need > sp->o.segment_bytes &&
	    sp->segs[sp->nsegs - 1].nlines > 0) {
		if (flush_buf(sp) == -1 || seg_start(sp) == -1)
			return -1;
	}
	if (sp->wlen + need > sp->o.buffer_bytes && flush_buf(sp) == -1)
		return -1;
	if (need > sp->o.buffer_bytes) {
		/* Longer than the buffer (now empty): straight to the file. */
		iov[0].iov_base = (void *)line;
		iov[0].iov_len = len;
		iov[1].iov_base = (void *)"\n";
		iov[1].iov_len = 1;
		done = 0;
		while (done < need) {
			ssize_t k;

			if (done < len)
				k = pwritev(
				    sp->wfd, iov, 2, (off_t)(sp->wsize + done));
			else
				k = pwrite(sp->wfd, "\n", 1,
				    (off_t)(sp->wsize + done));
			if (k == -1) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			done += (size_t)k;
			if (done < len) {
				iov[0].iov_base = (void *)(line + done);
				iov[0].iov_len = len - done;
			}
		}
		sp->wsize += need;
	} else {
		memcpy(sp->wbuf + sp->wlen, line, len);
		sp->wbuf[sp->wlen + len] = '\n';
		sp->wlen += need;
	}
	cur = &sp->segs[sp->nsegs - 1];
	cur->size += need;
	cur->nlines++;
	sp->total_bytes += need;
	sp->next_no++;
	sp->appended++;
	return 0;
}

int
spool_flush(struct spool *sp)
{
	if (flush_buf(sp) == -1)
		return -1;
	if (sp->state_dirty && state_write(sp) == -1)
		return -1;
	return 0;
}

uint64_t
spool_room(const struct spool *sp)
{
	uint64_t used = pending_bytes(sp);

	return used < sp->o.max_bytes ? sp->o.max_bytes - used : 0;
}

void
spool_batch_init(struct spool_batch *b)
{
	memset(b, 0, sizeof(*b));
}

void
spool_batch_fini(struct spool_batch *b)
{
	if (b == NULL)
		return;
	free(b->data);
	spool_batch_init(b);
}

/* An fd to read segment <seg> from. */
static int
seg_fd(struct spool *sp, uint64_t seg)
{
	char name[SEG_NAME_LEN];
	int fd;

	if (sp->nsegs != 0 && seg == sp->segs[sp->nsegs - 1].base)
		return sp->wfd;
	if (sp->rfd != -1 && sp->rfd_seg == seg)
		return sp->rfd;
	seg_name(seg, name);
	if ((fd = openat(sp->dd.dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (sp->rfd != -1)
		close(sp->rfd);
	sp->rfd = fd;
	sp->rfd_seg = seg;
	return fd;
}

/* Grows <b> to hold <n> bytes. */
static int
batch_reserve(struct spool_batch *b, size_t n, size_t hint)
{
	size_t cap;
	char *p;

	if (n <= b->cap)
		return 0;
	cap = b->cap * 2;
	if (cap > hint)
		cap = hint;
	if (cap < n)
		cap = n;
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

/*
 * Reads the lines of segment <seg> from <off> (a line start) into <b>:
 * at most <max_events> and <max_bytes> but at least one, not past <limit>
 * (a line end).  Reads a little more than the lines it expects, and more
 * only when they were longer than guessed.  Sets b->len and b->count.
 */
static int
read_lines(struct spool *sp, uint64_t seg, uint64_t off, uint64_t limit,
    size_t max_events, size_t max_bytes, struct spool_batch *b)
{
	size_t have = 0, cut = 0, scan = 0, count = 0, want, avail, per, left;
	const char *nl;
	long n;
	int fd;

	if ((fd = seg_fd(sp, seg)) == -1)
		return -1;
	avail = limit - off > SIZE_MAX ? SIZE_MAX : (size_t)(limit - off);
	for (;;) {
		while (count < max_events && scan < have) {
			nl = memchr(b->data + scan, '\n', have - scan);
			if (nl == NULL) {
				scan = have;
				break;
			}
			scan = (size_t)(nl - b->data) + 1;
			if (count > 0 && scan > max_bytes)
				goto done;
			cut = scan;
			count++;
		}
		if (count == max_events || have == avail ||
		    (count > 0 && have >= max_bytes))
			break;
		if (count == 0 && have > 0) {
			/* A line longer than guessed: double the read. */
			want = have > MIN_READ ? have : MIN_READ;
		} else {
			per = sp->avg + sp->avg / 8 + 1;
			left = max_events - count;
			want = left > SIZE_MAX / per ? SIZE_MAX : left * per;
			if (want < MIN_READ)
				want = MIN_READ;
			if (have < max_bytes && want > max_bytes - have)
				want = max_bytes - have;
		}
		if (want > avail - have)
			want = avail - have;
		if (batch_reserve(b, have + want, max_bytes) == -1)
			return -1;
		if ((n = gw_pread_full(fd, b->data + have, want, off + have)) ==
		    -1)
			return -1;
		if ((size_t)n < want) {
			errno = EIO; /* the segment is shorter than we know */
			return -1;
		}
		have += want;
	}
done:
	if (count == 0) {
		errno = EIO; /* no line end before <limit> */
		return -1;
	}
	b->len = cut;
	b->count = count;
	sp->avg = cut / count > 0 ? cut / count : 1;
	return 0;
}

/* The first line never handed out, or 0 when there is none. */
static int
fresh_pos(struct spool *sp, struct spool_pos *pos, uint64_t *limit)
{
	long i;

	if (sp->nsegs == 0)
		return 0;
	if ((i = seg_find(sp, sp->next.seg)) == -1) {
		errno = EIO;
		return -1;
	}
	for (;;) {
		if ((size_t)i == sp->nsegs - 1) {
			if (sp->next.off >= sp->wsize && sp->wlen > 0 &&
			    flush_buf(sp) == -1)
				return -1;
			*limit = sp->wsize;
		} else
			*limit = sp->segs[i].size;
		if (sp->next.off < *limit)
			break;
		if ((size_t)i == sp->nsegs - 1)
			return 0;
		i++;
		sp->next.seg = sp->segs[i].base;
		sp->next.off = 0;
		sp->next.no = sp->segs[i].base;
	}
	*pos = sp->next;
	return 1;
}

int
spool_next(struct spool *sp, struct spool_batch *b, size_t max_events,
    size_t max_bytes)
{
	struct spool_range *r;
	struct spool_pos pos;
	uint64_t limit;
	size_t i;
	int rc;

	if (max_events == 0 || max_bytes == 0) {
		errno = EINVAL;
		return -1;
	}
	b->count = 0;
	b->len = 0;
	if (sp->out >= sp->o.max_inflight)
		return 0;
	if (ranges_reserve(sp, 1) == -1)
		return -1;
	for (i = 0; i < sp->nr; i++)
		if (sp->r[i].state == R_RELEASED)
			break;
	if (i < sp->nr) {
		r = &sp->r[i];
		if (read_lines(sp, r->seg, r->start, r->end, max_events,
		        max_bytes, b) == -1)
			goto fail;
		if (b->count < r->count) {
			/* Asked for less: the rest stays released. */
			memmove(&sp->r[i + 1], &sp->r[i],
			    (sp->nr - i) * sizeof(*sp->r));
			sp->nr++;
			r[1].start = r->start + b->len;
			r[1].no = r->no + b->count;
			r[1].count = r->count - b->count;
			r->end = r[1].start;
			r->count = b->count;
		}
	} else {
		if (sp->nr >= (size_t)sp->o.max_inflight * WINDOW_FACTOR)
			return 0;
		if ((rc = fresh_pos(sp, &pos, &limit)) != 1) {
			if (rc == -1)
				goto fail;
			return 0;
		}
		if (read_lines(sp, pos.seg, pos.off, limit, max_events,
		        max_bytes, b) == -1)
			goto fail;
		r = &sp->r[sp->nr++];
		r->seg = pos.seg;
		r->start = pos.off;
		r->end = pos.off + b->len;
		r->no = pos.no;
		r->count = b->count;
		sp->next.off = r->end;
		sp->next.no = r->no + r->count;
	}
	r->state = R_OUT;
	sp->out++;
	b->seg = r->seg;
	b->start = r->start;
	b->end = r->end;
	b->first = r->no;
	return 1;
fail:
	b->count = 0;
	b->len = 0;
	return -1;
}

/*
 * The range of batch <b>: its index, -2 when it is gone (delivered or
 * dropped), or -1 (EINVAL) when <b> is not one of ours.
 */
static long
batch_range(const struct spool *sp, const struct spool_batch *b)
{
	const struct spool_range *r;
	long i;

	if (b->count == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((i = range_find(sp, b->first)) == -1) {
		if (b->first + b->count <= sp->ack.no)
			return -2;
		errno = EINVAL;
		return -1;
	}
	r = &sp->r[i];
	if (r->seg != b->seg || r->start != b->start || r->end != b->end ||
	    r->count != b->count) {
		errno = EINVAL;
		return -1;
	}
	return i;
}

int
spool_ack(struct spool *sp, const struct spool_batch *b)
{
	size_t k;
	long i;

	if ((i = batch_range(sp, b)) < 0)
		return i == -2 ? 0 : -1;
	if (sp->r[i].state == R_ACKED)
		return 0;
	if (sp->r[i].state != R_OUT) {
		errno = EINVAL;
		return -1;
	}
	sp->r[i].state = R_ACKED;
	sp->out--;
	sp->acked += sp->r[i].count;
	for (k = 0; k < sp->nr && sp->r[k].state == R_ACKED; k++) {
		sp->ack.seg = sp->r[k].seg;
		sp->ack.off = sp->r[k].end;
		sp->ack.no = sp->r[k].no + sp->r[k].count;
	}
	if (k == 0)
		return 0;
	ranges_remove(sp, 0, k);
	settle(sp);
	sp->state_dirty = 1;
	/* A failed write is tried again by the next ack or flush. */
	if (gw_mono_ns() - sp->state_ns >= STATE_INTERVAL_NS)
		(void)state_write(sp);
	return 0;
}

int
spool_release(struct spool *sp, const struct spool_batch *b)
{
	struct spool_range *r;
	long i;

	if ((i = batch_range(sp, b)) < 0)
		return i == -2 ? 0 : -1;
	if (sp->r[i].state != R_OUT) {
		errno = EINVAL;
		return -1;
	}
	r = &sp->r[i];
	r->state = R_RELEASED;
	sp->out--;
	sp->released += r->count;
	/* Merge with released neighbours of the same segment. */
	if ((size_t)i + 1 < sp->nr && r[1].state == R_RELEASED &&
	    r[1].seg == r->seg) {
		r->end = r[1].end;
		r->count += r[1].count;
		ranges_remove(sp, (size_t)i + 1, 1);
	}
	if (i > 0 && r[-1].state == R_RELEASED && r[-1].seg == r->seg) {
		r[-1].end = r->end;
		r[-1].count += r->count;
		ranges_remove(sp, (size_t)i, 1);
	}
	return 0;
}

void
spool_batch_lines(const struct spool_batch *b, struct spool_line_iter *it)
{
	it->p = b->data;
	it->end = b->data != NULL ? b->data + b->len : NULL;
}

int
spool_line_next(struct spool_line_iter *it, const char **line, size_t *len)
{
	const char *nl;

	if (it->p == it->end)
		return 0;
	nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
	if (nl == NULL)
		nl = it->end; /* cannot happen: every line has its newline */
	*line = it->p;
	*len = (size_t)(nl - it->p);
	it->p = nl < it->end ? nl + 1 : nl;
	return 1;
}

void
spool_stats(const struct spool *sp, struct spool_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->appended = sp->appended;
	st->acked = sp->acked;
	st->released = sp->released;
	st->dropped = sp->dropped;
	st->refused = sp->refused;
	st->pending = sp->next_no > sp->ack.no ? sp->next_no - sp->ack.no : 0;
	st->pending_bytes = pending_bytes(sp);
	st->waiting = sp->next_no > sp->next.no ? sp->next_no - sp->next.no : 0;
	for (size_t i = 0; i < sp->nr; i++)
		if (sp->r[i].state == R_RELEASED)
			st->waiting += sp->r[i].count;
	st->inflight = sp->out;
	st->segments = sp->nsegs;
	st->disk_bytes = sp->total_bytes - sp->wlen;
	st->torn_bytes = sp->torn_bytes;
}

int
spool_parse_full(const char *s, enum spool_full *full)
{
	if (strcmp(s, "block") == 0)
		*full = SPOOL_BLOCK;
	else if (strcmp(s, "drop_oldest") == 0)
		*full = SPOOL_DROP_OLDEST;
	else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Reads the segment names and sizes, oldest first. */
static int
seg_list(struct spool *sp)
{
	struct dirent *de;
	struct stat st;
	uint64_t base;
	int rc = 0;
	DIR *d;

	if ((d = gw_datadir_opendir(sp->dd.dirfd)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (seg_parse(de->d_name, &base) == -1)
			continue;
		if (fstatat(sp->dd.dirfd, de->d_name, &st,
		        AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;
			rc = -1;
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (segs_reserve(sp) == -1) {
			rc = -1;
			break;
		}
		sp->segs[sp->nsegs].base = base;
		sp->segs[sp->nsegs].size = (uint64_t)st.st_size;
		sp->segs[sp->nsegs].nlines = 0;
		sp->nsegs++;
	}
	closedir(d);
	if (rc == 0 && sp->nsegs > 1)
		qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), seg_cmp);
	return rc;
}

/*
 * Cuts a torn line off the end of segment <i> (open as <fd>): whatever
 * follows its last newline.  <sp->wbuf> is the scratch buffer.
 */
static int
seg_repair(struct spool *sp, size_t i, int fd)
{
	struct spool_seg *s = &sp->segs[i];
	uint64_t end = s->size, from;
	const char *nl;
	size_t n;
	char c;

	if (end == 0)
		return 0;
	if (gw_pread_full(fd, &c, 1, end - 1) != 1) {
		errno = EIO;
		return -1;
	}
	if (c == '\n')
		return 0;
	while (end > 0) {
		n = end < sp->o.buffer_bytes ? (size_t)end : sp->o.buffer_bytes;
		from = end - n;
		if (gw_pread_full(fd, sp->wbuf, n, from) != (long)n) {
			errno = EIO;
			return -1;
		}
		if ((nl = memrchr(sp->wbuf, '\n', n)) != NULL) {
			end = from + (uint64_t)(nl - sp->wbuf) + 1;
			break;
		}
		end = from;
	}
	if (end == s->size)
		return 0;
	if (ftruncate(fd, (off_t)end) == -1)
		return -1;
	sp->torn_bytes += s->size - end;
	s->size = end;
	return 0;
}

/* Counts the lines of the newest segment (open as <fd>). */
static int
count_lines(struct spool *sp, int fd, uint64_t size, uint64_t *lines)
{
	uint64_t off = 0, n = 0;
	const char *p, *end;
	size_t k;

	while (off < size) {
		k = size - off < sp->o.buffer_bytes ? (size_t)(size - off)
		                                    : sp->o.buffer_bytes;
		if (gw_pread_full(fd, sp->wbuf, k, off) != (long)k) {
			errno = EIO;
			return -1;
		}
		for (p = sp->wbuf, end = p + k;
		     (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
			n++;
		off += k;
	}
	*lines = n;
	return 0;
}

/* Is <off> a line start in segment <i>?  1, 0, or -1 on a read error. */
static int
line_start(struct spool *sp, size_t i, uint64_t off)
{
	char c;
	int fd;

	if (off == 0)
		return 1;
	if (off > sp->segs[i].size)
		return 0;
	if ((fd = seg_fd(sp, sp->segs[i].base)) == -1 ||
	    gw_pread_full(fd, &c, 1, off - 1) != 1)
		return -1;
	return c == '\n';
}

/*
 * Places <ack> from the state file: segments before it are delivered and
 * deleted; a position that does not fit the segments falls back to the
 * start of the oldest one (re-sending rather than skipping).
 */
static int
place_ack(struct spool *sp, int found, const struct spool_pos *st)
{
	struct spool_seg *s;
	int rc;

	if (sp->nsegs == 0) {
		sp->next_no = found ? st->no : 0;
		sp->ack.seg = sp->ack.no = sp->next_no;
		sp->ack.off = 0;
		return 0;
	}
	while (found && sp->nsegs > 1 && sp->segs[0].base < st->seg)
		seg_drop_first(sp);
	sp->ack = first_pos(sp);
	s = &sp->segs[0];
	if (!found || s->base != st->seg)
		return 0;
	if ((rc = line_start(sp, 0, st->off)) == -1)
		return -1;
	if (rc == 0)
		return 0;
	sp->ack.off = st->off;
	if (st->off == s->size)
		sp->ack.no = s->base + s->nlines;
	else if (st->off > 0 && st->no > s->base &&
	    st->no < s->base + s->nlines)
		sp->ack.no = st->no;
	else if (st->off > 0) /* counts off: keep the bytes, guess the number */
		sp->ack.no = s->base + (s->nlines > 0 ? s->nlines - 1 : 0);
	return 0;
}

/* Recovery: the segments, their torn ends, the position. */
static int
load(struct spool *sp, struct gw_error *err)
{
	struct spool_pos st = { 0, 0, 0 };
	struct spool_seg *last;
	char name[SEG_NAME_LEN];
	int fd, found;
	size_t i;

	if (seg_list(sp) == -1) {
		gw_error_sys(err, sp->dir, "read");
		return -1;
	}
	for (i = 0; i < sp->nsegs; i++) {
		seg_name(sp->segs[i].base, name);
		if ((fd = openat(sp->dd.dirfd, name, O_RDWR | O_CLOEXEC)) ==
		    -1) {
			gw_error_sys(err, sp->dir, name);
			return -1;
		}
		if (seg_repair(sp, i, fd) == -1) {
			gw_error_sys(err, sp->dir, name);
			close(fd);
			return -1;
		}
		if (i + 1 < sp->nsegs) {
			sp->segs[i].nlines =
			    sp->segs[i + 1].base - sp->segs[i].base;
			close(fd);
			continue;
		}
		sp->wfd = fd;
		if (count_lines(
		        sp, fd, sp->segs[i].size, &sp->segs[i].nlines) == -1) {
			gw_error_sys(err, sp->dir, name);
			return -1;
		}
	}
	for (i = 0; i < sp->nsegs; i++)
		sp->total_bytes += sp->segs[i].size;
	if (sp->nsegs > 0) {
		last = &sp->segs[sp->nsegs - 1];
		sp->wsize = last->size;
		sp->next_no = last->base + last->nlines;
	}

	sp->statefd = openat(
	    sp->dd.dirfd, SPOOL_STATE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->statefd == -1) {
		gw_error_sys(err, sp->dir, SPOOL_STATE);
		return -1;
	}
	if ((found = state_read(sp, &st)) == -1 ||
	    place_ack(sp, found, &st) == -1) {
		gw_error_sys(err, sp->dir, SPOOL_STATE);
		return -1;
	}
	settle(sp);
	sp->next = sp->ack;
	return 0;
}

static void
set_opts(struct spool *sp, const struct spool_opts *o)
{
	if (o != NULL)
		sp->o = *o;
	if (sp->o.max_bytes == 0)
		sp->o.max_bytes = DEFAULT_MAX_BYTES;
	if (sp->o.max_bytes < 4 * MIN_SEGMENT_BYTES)
		sp->o.max_bytes = 4 * MIN_SEGMENT_BYTES;
	if (sp->o.segment_bytes == 0)
		sp->o.segment_bytes = DEFAULT_SEGMENT_BYTES;
	if (sp->o.segment_bytes > sp->o.max_bytes / 4)
		sp->o.segment_bytes = sp->o.max_bytes / 4;
	if (sp->o.segment_bytes < MIN_SEGMENT_BYTES)
		sp->o.segment_bytes = MIN_SEGMENT_BYTES;
	if (sp->o.buffer_bytes == 0)
		sp->o.buffer_bytes = DEFAULT_BUFFER_BYTES;
	if (sp->o.buffer_bytes < MIN_BUFFER_BYTES)
		sp->o.buffer_bytes = MIN_BUFFER_BYTES;
	if (sp->o.buffer_bytes > MAX_BUFFER_BYTES)
		sp->o.buffer_bytes = MAX_BUFFER_BYTES;
	if (sp->o.max_inflight == 0)
		sp->o.max_inflight = DEFAULT_MAX_INFLIGHT;
	if (sp->o.max_inflight > MAX_INFLIGHT)
		sp->o.max_inflight = MAX_INFLIGHT;
	sp->max_line = SPOOL_MAX_LINE;
	if (sp->max_line > sp->o.max_bytes / 4)
		sp->max_line = (size_t)(sp->o.max_bytes / 4);
}

struct spool *
spool_open(const char *dir, const struct spool_opts *o, struct gw_error *err)
{
	struct spool *sp;
	int saved_errno;

	if ((sp = calloc(1, sizeof(*sp))) == NULL ||
	    (sp->dir = strdup(dir)) == NULL) {
		free(sp);
		gw_error_sys(err, dir, "open");
		return NULL;
	}
	sp->dd.dirfd = sp->dd.lockfd = sp->statefd = sp->wfd = sp->rfd = -1;
	sp->avg = FIRST_AVG;
	set_opts(sp, o);
	if ((sp->wbuf = malloc(sp->o.buffer_bytes)) == NULL) {
		gw_error_sys(err, dir, "open");
		goto fail;
	}

	if (gw_datadir_open(&sp->dd, dir, &spool_kind,
	        GW_DATADIR_CREATE | GW_DATADIR_PARENTS, err) == -1)
		goto fail;
	if (load(sp, err) == -1)
		goto fail;
	return sp;
fail:
	saved_errno = errno;
	sp->state_dirty = 0;
	sp->wlen = 0;
	spool_close(sp);
	errno = saved_errno;
	return NULL;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->wfd != -1)
		(void)flush_buf(sp);
	if (sp->state_dirty && sp->statefd != -1)
		(void)state_write(sp);
	if (sp->wfd != -1)
		close(sp->wfd);
	if (sp->rfd != -1)
		close(sp->rfd);
	if (sp->statefd != -1)
		close(sp->statefd);
	gw_datadir_close(&sp->dd);
	free(sp->wbuf);
	free(sp->segs);
	free(sp->r);
	free(sp->dir);
	free(sp);
}
