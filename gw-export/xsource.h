/* SPDX-License-Identifier: MIT */
/*
 * Sources (source.c): deciding per destination whether it takes an event
 * and which of its fields.  struct xsel carries what one event costs to
 * know (its summary, its parsed tree) across the destinations that ask,
 * so each is computed at most once per event.
 */
#ifndef GW_EXPORT_XSOURCE_H
#define GW_EXPORT_XSOURCE_H

#include <jansson.h>

#include "buf.h"
#include "evsum.h"
#include "gw-export.h"

struct source_conf;

struct xsel {
	const struct xevent *ev;
	struct gw_evsum sum;
	int have_sum;
	json_t *json; /* parsed on demand, freed by xsel_fini() */
	int json_failed;
	char type[96]; /* event_type, decoded on demand */
	int kind;      /* enum gw_evsum_kind from type; -1 not yet */
};

void xsel_init(struct xsel *, const struct xevent *ev);
void xsel_fini(struct xsel *);
/* The event parsed (owned by <x>), or NULL when it does not parse. */
json_t *xsel_json(struct xsel *x);
/* 1 when the destination's sources take the event, else 0. */
int source_wants(const struct source_conf *, struct xsel *);
/*
 * The line to send: the event itself (no copy) or, with keep/drop, the
 * reduced event written into <buf>.  Returns 0, or -1 (the event does
 * not parse, or out of memory).
 */
int source_select(const struct source_conf *, struct xsel *, struct gw_buf *buf,
    const char **out, size_t *outlen);

#endif
