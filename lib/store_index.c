// SPDX-License-Identifier: MIT
/*
 * The store's index (see the format in store.h): encoding and decoding
 * of index headers, frame records and summary blocks, segment file
 * names, the directory listing, and reading a segment's index as far as
 * it is valid.  Everything here goes through explicit byte-level
 * encoders, so the files are the same on every machine.  Readers and the
 * writer's repair both trust exactly what store_table_load() accepts.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "store_int.h"

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put64(uint8_t *p, uint64_t v)
{
	store_put32(p, (uint32_t)v);
	store_put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)store_get32(p) | (uint64_t)store_get32(p + 4) << 32;
}

uint32_t
store_crc(const void *p, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

void
store_hdr_encode(uint8_t out[IDX_HDR_SIZE], uint64_t seq, uint32_t hour)
{
	memset(out, 0, IDX_HDR_SIZE);
	memcpy(out, IDX_MAGIC, sizeof(IDX_MAGIC)); /* with its NUL */
	store_put32(out + 8, GW_STORE_VERSION);
	store_put32(out + 12, IDX_REC_SIZE);
	put64(out + 16, seq);
	store_put32(out + 24, hour);
	store_put32(out + 28, store_crc(out, 28));
}

/* Returns 0, or -1 (EBADMSG) for a header that is not ours. */
int
store_hdr_decode(const uint8_t in[IDX_HDR_SIZE], uint64_t *seq, uint32_t *hour)
{
	if (memcmp(in, IDX_MAGIC, sizeof(IDX_MAGIC)) != 0 ||
	    store_get32(in + 28) != store_crc(in, 28) ||
	    store_get32(in + 8) != GW_STORE_VERSION ||
	    store_get32(in + 12) != IDX_REC_SIZE) {
		errno = EBADMSG;
		return -1;
	}
	*seq = get64(in + 16);
	*hour = store_get32(in + 24);
	return 0;
}

void
store_frame_encode(uint8_t out[IDX_REC_SIZE], const struct store_frame *f)
{
	put64(out, f->off);
	store_put32(out + 8, f->sum_len);
	store_put32(out + 12, f->ev_len);
	store_put32(out + 16, f->raw_len);
	store_put32(out + 20, f->count);
	put64(out + 24, (uint64_t)f->min_ts);
	put64(out + 32, (uint64_t)f->max_ts);
	put64(out + 40, (uint64_t)f->id_min);
	put64(out + 48, (uint64_t)f->id_max);
	out[56] = f->flags_or;
	out[57] = f->kinds;
	out[58] = f->fflags;
	out[59] = 0;
	store_put32(out + 60, store_crc(out, 60));
}

/* Returns 0, or -1 (EBADMSG) for a torn or implausible record. */
int
store_frame_decode(const uint8_t in[IDX_REC_SIZE], struct store_frame *f)
{
	if (store_get32(in + 60) != store_crc(in, 60))
		goto bad;
	f->off = get64(in);
	f->sum_len = store_get32(in + 8);
	f->ev_len = store_get32(in + 12);
	f->raw_len = store_get32(in + 16);
	f->count = store_get32(in + 20);
	f->min_ts = (int64_t)get64(in + 24);
	f->max_ts = (int64_t)get64(in + 32);
	f->id_min = (int64_t)get64(in + 40);
	f->id_max = (int64_t)get64(in + 48);
	f->flags_or = in[56];
	f->kinds = in[57];
	f->fflags = in[58];
	/* Each event is at least "{}\n". */
	if (f->count == 0 || f->raw_len / 3 < f->count ||
	    f->raw_len > (1u << 30) || f->sum_len <= SKIP_HDR ||
	    f->sum_len > (1u << 30) || f->ev_len == 0 || f->ev_len > (1u << 30))
		goto bad;
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

static uint8_t *
put_varint(uint8_t *q, uint64_t v)
{
	while (v >= 0x80) {
		*q++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*q++ = (uint8_t)v;
	return q;
}

static uint64_t
zigzag(uint64_t d)
{
	return (d << 1) ^ (0 - (d >> 63));
}

static uint64_t
unzigzag(uint64_t z)
{
	return (z >> 1) ^ (0 - (z & 1));
}

static int
v4mapped(const uint8_t a[16])
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
		0xff };

	return memcmp(a, pfx, 12) == 0;
}

/*
 * Encodes <n> summaries as the columns of a summary block into <b>
 * (emptied first).  Returns 0, or -1 (ENOBUFS/ENOMEM).
 */
int
store_sums_encode(struct gw_buf *b, const struct gw_evsum *s, size_t n)
{
	uint64_t prev = 0;
	uint8_t *p, *q;
	size_t i;

	gw_buf_reset(b);
	if ((p = (uint8_t *)gw_buf_reserve(b, n * SUM_MAX)) == NULL)
		return -1;
	q = p;
	for (i = 0; i < n; i++)
		*q++ = s[i].kind;
	for (i = 0; i < n; i++)
		*q++ = s[i].method;
	for (i = 0; i < n; i++)
		*q++ = s[i].flags;
	for (i = 0; i < n; i++, q += 2)
		put16(q, s[i].status);
	/* Unsigned arithmetic: the decoder undoes it exactly, wrapping. */
	for (i = 0; i < n; i++) {
		q = put_varint(q, zigzag((uint64_t)s[i].ts_us - prev));
		prev = (uint64_t)s[i].ts_us;
	}
	for (i = 0; i < n; i++)
		if (s[i].flags & GW_EVS_HAS_DUR)
			q = put_varint(q, zigzag((uint64_t)s[i].duration_ns));
	for (i = 0; i < n; i++) {
		if (!(s[i].flags & GW_EVS_HAS_IP))
			continue;
		if (v4mapped(s[i].client_ip)) {
			*q++ = 4;
			memcpy(q, s[i].client_ip + 12, 4);
			q += 4;
		} else {
			*q++ = 16;
			memcpy(q, s[i].client_ip, 16);
			q += 16;
		}
	}
	for (i = 0; i < n; i++) {
		if (s[i].flags & GW_EVS_HAS_HOST) {
			store_put32(q, s[i].host_hash);
			q += 4;
		}
	}
	gw_buf_commit(b, (size_t)(q - p));
	return 0;
}

static const uint8_t *
get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	int shift;

	for (shift = 0; shift < 64 && p < end; shift += 7) {
		r |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p++ & 0x80)) {
			*v = r;
			return p;
		}
	}
	return NULL;
}

/*
 * Decodes a summary block <p>/<len> of <n> summaries into <s>.  Returns
 * 0, or -1 (EBADMSG) when it is not exactly that.
 */
int
store_sums_decode(const uint8_t *p, size_t len, struct gw_evsum *s, size_t n)
{
	const uint8_t *end = p + len;
	uint64_t prev = 0, v;
	size_t i;

	if (len < n * 6)
		goto bad;
	memset(s, 0, n * sizeof(*s));
	for (i = 0; i < n; i++)
		s[i].kind = *p++;
	for (i = 0; i < n; i++)
		s[i].method = *p++;
	for (i = 0; i < n; i++)
		s[i].flags = *p++;
	for (i = 0; i < n; i++, p += 2)
		s[i].status = get16(p);
	for (i = 0; i < n; i++) {
		if ((p = get_varint(p, end, &v)) == NULL)
			goto bad;
		prev += unzigzag(v);
		s[i].ts_us = (int64_t)prev;
	}
	for (i = 0; i < n; i++) {
		if (!(s[i].flags & GW_EVS_HAS_DUR))
			continue;
		if ((p = get_varint(p, end, &v)) == NULL)
			goto bad;
		s[i].duration_ns = (int64_t)unzigzag(v);
	}
	for (i = 0; i < n; i++) {
		if (!(s[i].flags & GW_EVS_HAS_IP))
			continue;
		if (p == end || (*p != 4 && *p != 16) || end - p < 1 + *p)
			goto bad;
		if (*p == 4) {
			s[i].client_ip[10] = 0xff;
			s[i].client_ip[11] = 0xff;
			memcpy(s[i].client_ip + 12, p + 1, 4);
		} else
			memcpy(s[i].client_ip, p + 1, 16);
		p += 1 + *p;
	}
	for (i = 0; i < n; i++) {
		if (!(s[i].flags & GW_EVS_HAS_HOST))
			continue;
		if (end - p < 4)
			goto bad;
		s[i].host_hash = store_get32(p);
		p += 4;
	}
	if (p != end)
		goto bad;
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

/*
 * Writes the name of segment <seq> starting in <hour> (hours since the
 * epoch) with extension <ext> ("zst", "idx", or "" for the stem alone).
 * Returns 0, or -1 (ENAMETOOLONG).
 */
int
store_seg_name(
    char *buf, size_t len, uint64_t seq, uint32_t hour, const char *ext)
{
	time_t t = (time_t)hour * 3600;
	struct tm tm;
	int n;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = snprintf(buf, len, "%08llu-%04d%02d%02dT%02d%s%s",
	    (unsigned long long)seq, tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, *ext != '\0' ? "." : "", ext);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/*
 * Parses a segment file name ("00000001-20261124T16.zst"): its sequence
 * number and extension ("zst" or "idx").  Returns 0, or -1 for any other
 * name.
 */
int
store_seg_parse(const char *name, uint64_t *seq, const char **ext)
{
	const char *dash = strchr(name, '-');
	size_t nd;

	if (dash == NULL)
		return -1;
	nd = (size_t)(dash - name);
	if (nd < 8 || nd > 19 || !all_digits(name, nd) || strlen(dash) != 16 ||
	    !all_digits(dash + 1, 8) || dash[9] != 'T' ||
	    !all_digits(dash + 10, 2) || dash[12] != '.' ||
	    (strcmp(dash + 13, "zst") != 0 && strcmp(dash + 13, "idx") != 0))
		return -1;
	*seq = strtoull(name, NULL, 10);
	*ext = dash + 13;
	return 0;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct store_seg *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Lists the segments of the store open at <dirfd> (those with an index
 * file), sorted by sequence number, into a new array <*segs> of <*n>
 * that the caller frees.  <max_seq> (may be NULL) receives the highest
 * sequence number of any segment file, data files alone included.
 * Returns 0 or -1.
 */
int
store_list(int dirfd, struct store_seg **segs, size_t *n, uint64_t *max_seq)
{
	struct store_seg *v = NULL, *nv;
	size_t cnt = 0, cap = 0, len;
	struct dirent *de;
	const char *ext;
	uint64_t seq, top = 0;
	DIR *d;
	int saved_errno;

	if ((d = gw_datadir_opendir(dirfd)) == NULL)
		return -1;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (store_seg_parse(de->d_name, &seq, &ext) == -1)
			continue;
		if (seq > top)
			top = seq;
		if (strcmp(ext, "idx") != 0)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				goto fail;
			v = nv;
		}
		v[cnt].seq = seq;
		len = strlen(de->d_name) - 4;
		memcpy(v[cnt].stem, de->d_name, len);
		v[cnt].stem[len] = '\0';
		cnt++;
		errno = 0;
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), seg_cmp);
	*segs = v;
	*n = cnt;
	if (max_seq != NULL)
		*max_seq = top;
	return 0;
fail:
	saved_errno = errno;
	closedir(d);
	free(v);
	errno = saved_errno;
	return -1;
}

void
store_table_init(struct store_table *t)
{
	memset(t, 0, sizeof(*t));
	t->idxfd = -1;
	t->datafd = -1;
}

/*
 * Opens the files of segment <seg> (read-only) into <t> and reads its
 * index.  Returns 0, or -1 with errno (ENOENT when retention deleted it
 * meanwhile).
 */
int
store_table_open(int dirfd, const struct store_seg *seg, struct store_table *t)
{
	char name[sizeof(seg->stem) + 4];
	int saved_errno;

	store_table_init(t);
	t->seq = seg->seq;
	if (snprintf(name, sizeof(name), "%s.idx", seg->stem) < 0)
		return -1;
	if ((t->idxfd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	memcpy(name + strlen(seg->stem), ".zst", 4);
	if ((t->datafd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if (store_table_load(t) == -1)
		goto fail;
	return 0;
fail:
	saved_errno = errno;
	store_table_fini(t);
	errno = saved_errno;
	return -1;
}

/*
 * Reads the records of <t>'s index after those already read, stopping
 * at the first torn or invalid one (which a later call reads again: it
 * may be a record being written).  Returns the number of new frames, or
 * -1 on an I/O error or a header that is not ours (EBADMSG).
 */
int
store_table_load(struct store_table *t)
{
	uint8_t buf[IDX_REC_SIZE * 64];
	struct store_frame f, *nf;
	struct stat sb;
	long got, i;
	int added = 0;

	if (!t->have_hdr) {
		got = gw_pread_full(t->idxfd, buf, IDX_HDR_SIZE, 0);
		if (got == -1)
			return -1;
		if (got < IDX_HDR_SIZE)
			return 0; /* being created */
		if (store_hdr_decode(buf, &t->seq, &t->hour) == -1)
			return -1;
		t->have_hdr = 1;
		t->idx_off = IDX_HDR_SIZE;
		t->data_end = 0;
	}
	/*
	 * The writer writes a unit before its record, so a record whose
	 * unit is not all there comes from a lost write (a power cut) or a
	 * damaged file, and ends the valid part like a torn record.
	 */
	if (fstat(t->datafd, &sb) == -1)
		return -1;
	for (;;) {
		got = gw_pread_full(t->idxfd, buf, sizeof(buf), t->idx_off);
		if (got == -1)
			return -1;
		for (i = 0; i + IDX_REC_SIZE <= got; i += IDX_REC_SIZE) {
			if (store_frame_decode(buf + i, &f) == -1 ||
			    f.off != t->data_end ||
			    f.off + f.sum_len + f.ev_len > (uint64_t)sb.st_size)
				return added;
			if (t->n == t->cap) {
				size_t cap = t->cap ? t->cap * 2 : 256;

				nf = realloc(t->frames, cap * sizeof(*nf));
				if (nf == NULL)
					return -1;
				t->frames = nf;
				t->cap = cap;
			}
			t->frames[t->n++] = f;
			t->idx_off += IDX_REC_SIZE;
			t->data_end = f.off + f.sum_len + f.ev_len;
			added++;
		}
		if (got < (long)sizeof(buf))
			return added;
	}
}

void
store_table_fini(struct store_table *t)
{
	if (t == NULL)
		return;
	if (t->idxfd != -1)
		close(t->idxfd);
	if (t->datafd != -1)
		close(t->datafd);
	free(t->frames);
	store_table_init(t);
}
