/* SPDX-License-Identifier: MIT */
/*
 * Destinations at run time (dest.c) and what they share with main.c: the
 * loop and the HTTP client (struct xport), and the counters that the
 * periodic stats line and the exit summary print.
 */
#ifndef GW_EXPORT_XDEST_H
#define GW_EXPORT_XDEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "loop.h"

struct dest_conf;
struct spool;
struct xenc;
struct flight;
struct gw_curlm;

/* What destinations share; main.c owns it. */
struct xport {
	struct gw_loop *loop;
	struct gw_curlm *curl;
	int draining; /* input ended: send partial batches at once */
	int hold;     /* a reload waits for what is in flight: start nothing */
};

/*
 * Called by dest.c whenever a destination made progress (a batch was
 * acknowledged or given back): main.c resumes input paused on a full spool
 * and checks whether everything is delivered.
 */
void xport_progress(struct xport *);

struct dest {
	const struct dest_conf *c;
	struct xport *x;
	struct spool *sp;
	struct xenc *enc; /* NULL for file and stdout */
	struct flight *fl;
	size_t nfl;
	size_t inflight;
	size_t max_events; /* shrinks after a 413, grows back */
	int stopped;       /* 401/403: nothing more is sent */
	int pumping;
	int appended_since_flush;
	unsigned failures; /* in a row */
	uint64_t retry_at; /* monotonic ms */
	uint64_t partial_since;
	struct gw_timer timer;
	char *hdr[24];
	size_t nhdr;
	char *dlq_path;
	/* syslog */
	int fd;
	int connected;
	struct ssl_ctx_st *ssl_ctx; /* syslog over TLS */
	struct ssl_st *ssl;
	int hs_done;
	struct gw_io io;
	struct gw_buf out;
	/* file */
	int ffd;
	uint64_t fbytes, fopened;
	/* the last answer, for gw-export test */
	int last_status;
	char last_answer[512];
	/* counters */
	uint64_t sent, retried, dead, too_old, unencodable, requests;
};

struct dest_counts {
	uint64_t sent;    /* delivered and acknowledged */
	uint64_t retried; /* events in batches that were retried */
	uint64_t spooled; /* waiting in the spool now */
	uint64_t dead;    /* dead-lettered */
	uint64_t
	    dropped; /* spool overflow (drop_oldest), too old, unencodable */
	uint64_t requests; /* requests answered */
	int stopped;
};

/*
 * Opens destination <c>'s spool under <spool_root>/<name> and readies its
 * encoder and transport.  Returns it, or NULL with <err> set.
 */
struct dest *dest_new(const struct dest_conf *c, struct xport *x,
    const char *spool_root, struct gw_error *err);
void dest_free(struct dest *);
/* Spools one selected event.  -1 with errno (ENOBUFS: full, block). */
int dest_append(struct dest *, const char *line, size_t len);
/* Writes what was appended so that a kill -9 keeps it. */
void dest_flush(struct dest *);
/* Sends what can be sent now; arms the destination's timer otherwise. */
void dest_pump(struct dest *);
/* 1 when nothing is in flight and nothing waits (or it is stopped). */
int dest_idle(const struct dest *);
void dest_stats(const struct dest *, struct dest_counts *);
/* Bytes the spool takes before it refuses (block policy). */
uint64_t dest_room(const struct dest *);

#endif
