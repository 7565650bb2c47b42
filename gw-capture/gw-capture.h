/* SPDX-License-Identifier: MIT */
/*
 * gw-capture's one private header.  gw-capture is the traffic inspector's
 * store as a Unix tool: in filter mode it stores every event read on stdin
 * and passes each line on; its commands list, show, tail, summarise,
 * prune and import what a store holds.
 *
 * Reading order: main.c (commands and flags), ingest.c (filter mode and
 * import), list.c (list and tail), show.c (one exchange in five forms),
 * stats.c (counts and latency percentiles), style.c (colours, widths and
 * the small formatting helpers the others share).  The store itself and
 * the query language are in lib/ (store.h, query.h), because gw-replay,
 * gw-export and gw-policy read stores too.
 */
#ifndef GW_CAPTURE_H
#define GW_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "opts.h"

#define CAP_NAME "gw-capture"

/* sysexits(3) */
#define EX_OK       0
#define EX_USAGE    64
#define EX_DATAERR  65
#define EX_NOINPUT  66
#define EX_SOFTWARE 70
#define EX_IOERR    74
#define EX_CONFIG   78

/* Which events list, tail and stats consider (--type). */
enum cap_type { CAP_TYPE_HTTP, CAP_TYPE_ALL, CAP_TYPE_NAMED };

/* Every command's options; each command's table uses its own subset. */
struct capconf {
	char *store;
	uint64_t retention; /* ms; 0 keeps everything */
	uint64_t max_size;  /* bytes; 0 no limit */
	uint64_t max_line;  /* longest event stored */
	uint64_t
	    flush_interval; /* ms of idle input before a frame is written */
	uint64_t segment_size;
	char *since, *until;
	long long limit;
	char *format;
	char *by;
	uint64_t interval; /* ms; 0 none */
	char *type;
	char *color;
	char *log_level, *log_format;
	int help, version;

	/* resolved */
	int64_t since_us, until_us;
	enum cap_type type_kind;
	int force_color, no_color;
};

/* Terminal styling: empty strings when output is not a TTY. */
struct cap_style {
	const char *bold, *dim, *reset;
	const char *red, *yellow, *green, *cyan;
	int tty;
	int width; /* terminal columns; 0 when not a TTY */
};

/* main.c */
/* Opens the store for reading; prints why not.  NULL on failure. */
struct gw_store *cap_open_store(const struct capconf *, int flags);
/* The query from positional arguments (joined by spaces), or an exit
 * status after printing the column of a syntax error. */
struct gw_query;
int cap_query(char **args, int n, struct gw_query **out);
struct gw_evsum;
/* 1 when an event of summary <sum> is of the --type asked for. */
int cap_type_ok(const struct capconf *, const struct gw_evsum *sum,
    const char *line, size_t len);

/* ingest.c */
int ingest_main(struct capconf *);
int import_main(struct capconf *, char **files, int n);
int prune_main(struct capconf *);

/* list.c */
int list_main(struct capconf *, struct gw_query *q);
int tail_main(struct capconf *, struct gw_query *q);
/* One row of the list table for <line> (an event), on <f>. */
void
list_row(FILE *f, const char *line, size_t len, const struct cap_style *st);
void list_header(FILE *f, const struct cap_style *st);

/* stats.c */
int stats_main(struct capconf *, struct gw_query *q);

/* style.c */
/* Colours on a TTY unless NO_COLOR, or as --color (c) says. */
void cap_style_init(struct cap_style *, FILE *f, const struct capconf *c);
const char *cap_status_color(const struct cap_style *, int status);
const char *cap_reason(int status);
/* Standard base64 of <n> bytes, malloc'ed, or NULL. */
char *cap_base64(const unsigned char *p, size_t n);
void cap_put_base64(FILE *, const unsigned char *p, size_t n);
/* Appends {"name","value"} pairs of a query string to HAR's list. */
void cap_har_query(json_t *list, const char *query);

/* show.c */
enum show_format { SHOW_PRETTY, SHOW_JSON, SHOW_RAW, SHOW_CURL, SHOW_HAR };
/*
 * Prints the event <line> in <fmt>.  Returns 0, or -1 when the line is not
 * JSON or (for every format but json) not an http_request_complete.v0.
 */
int show_event(FILE *f, const char *line, size_t len, enum show_format fmt,
    const struct cap_style *st);

#endif
