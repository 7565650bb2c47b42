// SPDX-License-Identifier: MIT
/*
 * Where the events to replay come from, one at a time, so that a batch of
 * any size holds only what is in flight: ids looked up in the store, the
 * events a query selects in the store (newest first, as gw-capture list
 * shows them, so that a user can preview a batch with the same query), or
 * NDJSON on stdin, read without blocking so that replays in flight go on
 * while a slow producer writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evin.h"
#include "evsum.h"
#include "gw-replay.h"
#include "query.h"
#include "store.h"

enum feed_kind { FEED_IDS, FEED_QUERY, FEED_STDIN };

/* A line read from stdin, waiting for its turn. */
struct qline {
	struct qline *next;
	uint64_t lineno;
	size_t len;
	int too_long;
	char line[];
};

struct feed {
	enum feed_kind kind;
	struct gw_store *st;

	/* FEED_IDS */
	char **ids;
	size_t nids, next;
	char *found; /* the last line found, owned */

	/* FEED_QUERY */
	const struct gw_query *q;
	struct gw_store_cur *cur;
	uint64_t limit, given;
	int with_replays;

	/* FEED_STDIN */
	struct gw_evin *in;
	struct qline *head, *tail, *cur_line;
	int eof;
	int restore_fl; /* stdin's flags before O_NONBLOCK, or -1 */
};

static struct feed *
feed_new(enum feed_kind kind)
{
	struct feed *f = calloc(1, sizeof(*f));

	if (f != NULL) {
		f->kind = kind;
		f->restore_fl = -1;
	}
	return f;
}

struct feed *
feed_ids(struct gw_store *st, char **ids, size_t n)
{
	struct feed *f = feed_new(FEED_IDS);

	if (f != NULL) {
		f->st = st;
		f->ids = ids;
		f->nids = n;
	}
	return f;
}

struct feed *
feed_query(struct gw_store *st, const struct gw_query *q, int64_t since_us,
    int64_t until_us, uint64_t limit, int with_replays)
{
	struct feed *f = feed_new(FEED_QUERY);

	if (f == NULL)
		return NULL;
	f->st = st;
	f->q = q;
	f->limit = limit;
	f->with_replays = with_replays;
	f->cur = gw_store_cur_new(st, since_us, until_us, GW_CUR_REVERSE);
	if (f->cur == NULL) {
		free(f);
		return NULL;
	}
	return f;
}

struct feed *
feed_stdin(struct gw_error *err)
{
	struct feed *f = feed_new(FEED_STDIN);
	struct stat sb;
	int fd, fl;

	if (f == NULL)
		return NULL;
	if ((f->in = gw_evin_open(NULL, RP_MAX_LINE, err)) == NULL) {
		free(f);
		return NULL;
	}
	fd = gw_evin_fd(f->in);
	/* Pipes and terminals are polled; a file is always readable. */
	if (fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode) &&
	    (fl = fcntl(fd, F_GETFL)) != -1 && !(fl & O_NONBLOCK) &&
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)
		f->restore_fl = fl;
	return f;
}

int
feed_fd(const struct feed *f)
{
	return f->in != NULL ? gw_evin_fd(f->in) : -1;
}

static void
qlines_free(struct qline *q)
{
	struct qline *n;

	for (; q != NULL; q = n) {
		n = q->next;
		free(q);
	}
}

void
feed_free(struct feed *f)
{
	if (f == NULL)
		return;
	free(f->found);
	gw_store_cur_free(f->cur);
	if (f->in != NULL && f->restore_fl != -1)
		(void)fcntl(gw_evin_fd(f->in), F_SETFL, f->restore_fl);
	gw_evin_close(f->in);
	qlines_free(f->head);
	free(f->cur_line);
	free(f);
}

static int
next_id(struct feed *f, struct feed_item *it)
{
	const char *id;
	size_t len;
	int r;

	free(f->found);
	f->found = NULL;
	if (f->next == f->nids)
		return FEED_END;
	id = f->ids[f->next++];
	it->label = id;
	r = gw_store_find(f->st, id, strlen(id), &f->found, &len);
	if (r == 1)
		return FEED_MISSING;
	if (r == -1) {
		snprintf(
		    it->why, sizeof(it->why), "%s: %s", id, strerror(errno));
		return FEED_ERROR;
	}
	it->line = f->found;
	it->len = len;
	return FEED_ITEM;
}

/* Does the cursor's event match, from its summary or else its line? */
static int
next_query(struct feed *f, struct feed_item *it)
{
	const struct gw_evsum *sum;
	const char *line;
	size_t len;
	int r, m;

	it->label = "store";
	while (f->limit == 0 || f->given < f->limit) {
		r = gw_store_cur_next(f->cur, &sum);
		if (r == 0)
			return FEED_END;
		if (r == -1)
			goto ioerr;
		/* Replays of replays would grow every cron run. */
		if (sum->kind != GW_EVK_HTTP ||
		    (!f->with_replays && (sum->flags & GW_EVS_REPLAY)))
			continue;
		m = gw_query_match_sum(f->q, sum);
		if (m == 0)
			continue;
		if (gw_store_cur_line(f->cur, &line, &len) == -1) {
			if (errno == EBADMSG)
				continue;
			goto ioerr;
		}
		if (m == -1 && !gw_query_match_line(f->q, line, len))
			continue;
		f->given++;
		it->line = line;
		it->len = len;
		return FEED_ITEM;
	}
	return FEED_END;
ioerr:
	snprintf(
	    it->why, sizeof(it->why), "reading the store: %s", strerror(errno));
	return FEED_ERROR;
}

/* gw_evin_fn: queue the line for feed_next(). */
static int
on_line(void *arg, const char *name, uint64_t lineno, const char *line,
    size_t len, int too_long)
{
	struct feed *f = arg;
	struct qline *q;

	(void)name;
	if ((q = malloc(sizeof(*q) + len + 1)) == NULL)
		return -1;
	q->next = NULL;
	q->lineno = lineno;
	q->len = len;
	q->too_long = too_long;
	if (len > 0)
		memcpy(q->line, line, len);
	q->line[len] = '\0';
	if (f->tail != NULL)
		f->tail->next = q;
	else
		f->head = q;
	f->tail = q;
	return 0;
}

static int
next_stdin(struct feed *f, struct feed_item *it)
{
	struct gw_error err;
	struct qline *q;
	int r;

	free(f->cur_line);
	f->cur_line = NULL;
	it->label = gw_evin_name(f->in);
	/* Read more only when everything read so far has been handed out. */
	while (f->head == NULL) {
		if (f->eof)
			return FEED_END;
		memset(&err, 0, sizeof(err));
		r = gw_evin_step(f->in, on_line, f, &err);
		if (r == GW_EVIN_AGAIN && f->head == NULL)
			return FEED_WAIT;
		if (r == GW_EVIN_OK)
			f->eof = 1;
		else if (r == GW_EVIN_STOPPED || r == GW_EVIN_NOMEM) {
			snprintf(it->why, sizeof(it->why), "out of memory");
			return FEED_ERROR;
		} else if (r < 0) {
			gw_error_format(&err, it->why, sizeof(it->why));
			f->eof = 1;
			return FEED_ERROR;
		}
	}
	q = f->head;
	f->head = q->next;
	if (f->head == NULL)
		f->tail = NULL;
	f->cur_line = q;
	it->lineno = q->lineno;
	if (q->too_long) {
		snprintf(it->why, sizeof(it->why), "longer than %d bytes",
		    RP_MAX_LINE);
		return FEED_BAD;
	}
	it->line = q->line;
	it->len = q->len;
	return FEED_ITEM;
}

int
feed_next(struct feed *f, struct feed_item *it)
{
	it->line = NULL;
	it->len = 0;
	it->lineno = 0;
	it->why[0] = '\0';
	switch (f->kind) {
	case FEED_IDS:
		return next_id(f, it);
	case FEED_QUERY:
		return next_query(f, it);
	case FEED_STDIN:
		return next_stdin(f, it);
	}
	return FEED_END;
}
