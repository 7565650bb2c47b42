// SPDX-License-Identifier: MIT
/*
 * gw-proxy's side of the gw-policy socket (docs/PROTOCOL.md §8): a few
 * persistent Unix-socket connections, each carrying many questions at
 * once.  Questions are queued as NDJSON and written in one batch before
 * each wait of the loop; answers come back in any order and find their
 * exchange through a ring of slots indexed by id.  When gw-policy is not
 * there, the exchanges waiting on it fail closed (503) or go on unchanged
 * (--policy-fail-open), and the proxy reconnects by itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw-proxy.h"
#include "json.h"
#include "log.h"

#define POL_CONNS    2
#define POL_SLOTS    4096 /* questions in flight per connection */
#define POL_OUT_MAX  (8 * 1024 * 1024)
#define POL_LINE_MAX (1024 * 1024)
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 2000

enum { PC_DOWN, PC_CONNECTING, PC_UP };

struct polwait {
	uint64_t id;
	struct client *c;
};

struct polconn {
	int idx;
	int state;
	struct gw_io io;
	struct gw_buf out;
	struct gw_lines in;
	uint64_t next_id;
	unsigned inflight;
	struct polwait slots[POL_SLOTS];
};

static struct polconn pcs[POL_CONNS];
static char *sock_path;
static struct gw_timer retry_timer;
static uint64_t retry_ms = RETRY_MIN_MS;
static int down_said; /* "unavailable" was logged, "back" not yet */
static int phase_response, phase_connect;
static unsigned rr;

static void pc_io(struct gw_loop *, struct gw_io *, int);
static void pc_connect(struct polconn *);

static void
schedule_retry(void)
{
	if (gw_timer_armed(&retry_timer))
		return;
	(void)gw_timer_set(P.loop, &retry_timer, retry_ms);
	retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
}

/* Drops connection <pc>; every exchange waiting on it gets its fallback. */
static void
pc_down(struct polconn *pc, const char *why)
{
	struct client *c;
	size_t i;

	if (pc->io.fd != -1) {
		gw_io_stop(P.loop, &pc->io);
		close(pc->io.fd);
		pc->io.fd = -1;
	}
	pc->state = PC_DOWN;
	gw_buf_reset(&pc->out);
	gw_lines_fini(&pc->in);
	if (!down_said) {
		gw_warn("policy %s: %s; %s until it is back", sock_path, why,
		    P.conf->o.policy_fail_open ? "requests pass unchecked"
		                               : "requests get 503");
		down_said = 1;
	}
	for (i = 0; i < POL_SLOTS && pc->inflight > 0; i++) {
		if ((c = pc->slots[i].c) == NULL)
			continue;
		pc->slots[i].c = NULL;
		pc->inflight--;
		c->pol_conn = -1;
		client_policy_failed(c, why);
	}
	pc->inflight = 0;
	schedule_retry();
}

static void
retry(struct gw_loop *loop, struct gw_timer *t)
{
	size_t i;

	(void)loop;
	(void)t;
	for (i = 0; i < POL_CONNS; i++)
		if (pcs[i].state == PC_DOWN)
			pc_connect(&pcs[i]);
}

static void
pc_up(struct polconn *pc)
{
	pc->state = PC_UP;
	retry_ms = RETRY_MIN_MS;
	if (down_said) {
		gw_info("policy %s: connected again", sock_path);
		down_said = 0;
	}
	(void)gw_io_set(P.loop, &pc->io, GW_READ);
}

static void
pc_connect(struct polconn *pc)
{
	int fd, e;

	fd = gw_connect_unix(sock_path);
	if (fd == -1) {
		e = errno;
		pc->state = PC_DOWN;
		if (!down_said) {
			gw_warn("policy %s: %s; %s until it is back", sock_path,
			    strerror(e),
			    P.conf->o.policy_fail_open
			        ? "requests pass unchecked"
			        : "requests get 503");
			down_said = 1;
		}
		schedule_retry();
		return;
	}
	gw_io_init(&pc->io, fd, pc_io, pc);
	if (gw_lines_init(&pc->in, POL_LINE_MAX) == -1) {
		close(fd);
		pc->io.fd = -1;
		schedule_retry();
		return;
	}
	pc->state = PC_CONNECTING;
	(void)gw_io_set(P.loop, &pc->io, GW_WRITE);
}

/*
 * Starts (or restarts, when the path changed on reload) the connections
 * to the socket named by --policy.  Returns 0, or -1 (ENOMEM).
 */
int
policy_start(const char *path)
{
	size_t i;

	if (path == NULL)
		return 0;
	if (sock_path != NULL && strcmp(sock_path, path) == 0)
		return 0;
	for (i = 0; i < POL_CONNS; i++)
		if (sock_path != NULL && pcs[i].state != PC_DOWN)
			pc_down(&pcs[i], "the policy socket changed");
	free(sock_path);
	if ((sock_path = strdup(path)) == NULL)
		return -1;
	gw_timer_init(&retry_timer, retry, NULL);
	for (i = 0; i < POL_CONNS; i++) {
		pcs[i].idx = (int)i;
		pcs[i].io.fd = -1;
		gw_buf_init(&pcs[i].out, POL_OUT_MAX);
		pc_connect(&pcs[i]);
	}
	return 0;
}

/* Closes the connections (at exit). */
void
policy_stop(void)
{
	size_t i;

	for (i = 0; i < POL_CONNS && sock_path != NULL; i++) {
		if (pcs[i].io.fd != -1) {
			gw_io_stop(P.loop, &pcs[i].io);
			close(pcs[i].io.fd);
			pcs[i].io.fd = -1;
		}
		gw_buf_fini(&pcs[i].out);
		gw_lines_fini(&pcs[i].in);
	}
	if (sock_path != NULL)
		gw_timer_stop(P.loop, &retry_timer);
	free(sock_path);
	sock_path = NULL;
}

/* 1 when the loaded policy has on_tcp_connect rules. */
int
policy_wants_connect(void)
{
	return phase_connect;
}

/* 1 when the loaded policy has on_http_response rules. */
int
policy_wants_response(void)
{
	return phase_response;
}

/* Answers to notices (policy_notify) land here and are dropped. */
static struct client notice_sink;

/*
 * Queues the question <phase> about c's exchange on the live connection
 * with the fewest waiting, its answer to go to <waiter>.  Returns the
 * connection, or NULL when none is up or too many questions wait.
 */
static struct polconn *
queue_question(
    struct client *c, const char *phase, struct client *waiter, uint64_t *idp)
{
	struct polconn *pc = NULL;
	struct gw_exchange e;
	struct polwait *w;
	size_t i, mark;
	uint64_t id;

	for (i = 0; i < POL_CONNS; i++) {
		struct polconn *p = &pcs[(rr + i) % POL_CONNS];

		if (p->state == PC_UP &&
		    (pc == NULL || p->inflight < pc->inflight))
			pc = p;
	}
	rr++;
	if (pc == NULL)
		return NULL;
	id = pc->next_id++;
	w = &pc->slots[id % POL_SLOTS];
	if (w->c != NULL)
		return NULL; /* POL_SLOTS questions unanswered already */
	emit_describe(c, &e);
	e.req_headers = c->x->hdrs;
	e.n_req_headers = c->x->n_hdrs;
	if (strcmp(phase, "on_http_response") == 0) {
		e.status = c->x->status;
		e.res_headers = c->x->rhdrs;
		e.n_res_headers = c->x->n_rhdrs;
	}
	mark = pc->out.len;
	if (gw_event_policy_request(&pc->out, id, phase, &e) == -1 ||
	    gw_buf_addc(&pc->out, '\n') == -1) {
		pc->out.len = mark;
		return NULL;
	}
	w->id = id;
	w->c = waiter;
	pc->inflight++;
	*idp = id;
	return pc;
}

/*
 * Queues the question <phase> about c's exchange on a live connection.
 * Returns 0 (the answer will come through client_policy_answer() or
 * client_policy_failed()), or -1 when no connection is up or too many
 * questions wait: the caller falls back at once.
 */
int
policy_ask(struct client *c, const char *phase)
{
	struct polconn *pc;
	uint64_t id;

	if ((pc = queue_question(c, phase, c, &id)) == NULL)
		return -1;
	c->pol_conn = pc->idx;
	c->pol_id = id;
	return 0;
}

/*
 * Tells gw-policy, as an on_http_response question whose answer is
 * dropped, that c's exchange ended with the status gw answered itself
 * (502, 504 when the upstream failed), so that a circuit breaker counts
 * upstream failures too.  Best effort: nothing happens when no
 * connection is up.
 */
void
policy_notify(struct client *c)
{
	uint64_t id;

	(void)queue_question(c, "on_http_response", &notice_sink, &id);
}

/* Forgets c's question: its answer, if it comes, is ignored. */
void
policy_cancel(struct client *c)
{
	struct polconn *pc;
	struct polwait *w;

	if (c->pol_conn < 0)
		return;
	pc = &pcs[c->pol_conn];
	w = &pc->slots[c->pol_id % POL_SLOTS];
	if (w->c == c && w->id == c->pol_id) {
		w->c = NULL;
		pc->inflight--;
	}
	c->pol_conn = -1;
}

/* Writes the queued questions of every connection: once per loop turn. */
void
policy_flush(void)
{
	struct polconn *pc;
	ssize_t n;
	size_t i;

	for (i = 0; i < POL_CONNS && sock_path != NULL; i++) {
		pc = &pcs[i];
		while (pc->state == PC_UP && pc->out.len > 0) {
			n = send(pc->io.fd, gw_buf_head(&pc->out), pc->out.len,
			    MSG_NOSIGNAL);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && errno == EAGAIN) {
				(void)gw_io_set(
				    P.loop, &pc->io, GW_READ | GW_WRITE);
				break;
			}
			if (n == -1) {
				pc_down(pc, strerror(errno));
				break;
			}
			gw_buf_consume(&pc->out, (size_t)n);
		}
		if (pc->state == PC_UP && pc->out.len == 0)
			(void)gw_io_set(P.loop, &pc->io, GW_READ);
	}
}

/* The phases of the hello line: which questions gw-policy wants. */
static void
read_hello(json_t *j)
{
	json_t *ph = json_object_get(j, "phases"), *v;
	size_t i;

	phase_response = phase_connect = 0;
	json_array_foreach(ph, i, v)
	{
		if (!json_is_string(v))
			continue;
		if (strcmp(json_string_value(v), "on_http_response") == 0)
			phase_response = 1;
		else if (strcmp(json_string_value(v), "on_tcp_connect") == 0)
			phase_connect = 1;
	}
}

/*
 * The common answer, {"id":N,"action":"continue"} and nothing else, is
 * recognised without a JSON parse.  Returns 1 and the id, or 0.
 */
static int
plain_continue(const char *s, size_t n, uint64_t *id)
{
	static const char tail[] = ",\"action\":\"continue\"}";
	size_t i = 6;
	uint64_t v = 0;

	if (n < 6 + 1 + sizeof(tail) - 1 || memcmp(s, "{\"id\":", 6) != 0)
		return 0;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
		i++;
	}
	if (i == 6 || n - i != sizeof(tail) - 1 ||
	    memcmp(s + i, tail, sizeof(tail) - 1) != 0)
		return 0;
	*id = v;
	return 1;
}

/*
 * The next most common answer: continue, with the names of the rules
 * that matched (a rate limit that did not trigger, say):
 * {"id":N,"action":"continue","rules_matched":["a","b"]}.  Recognised
 * without a JSON parse; <arr> gets the array's text, quotes and all.
 */
static int
continue_with_rules(
    const char *s, size_t n, uint64_t *id, const char **arr, size_t *alen)
{
	static const char mid[] =
	    ",\"action\":\"continue\",\"rules_matched\":[";
	const char *p = s + 6, *e = s + n, *a;
	uint64_t v = 0;

	if (n < 6 || memcmp(s, "{\"id\":", 6) != 0)
		return 0;
	while (p < e && *p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	if (p == s + 6 || (size_t)(e - p) < sizeof(mid) - 1 ||
	    memcmp(p, mid, sizeof(mid) - 1) != 0)
		return 0;
	p += sizeof(mid) - 1;
	a = p - 1;
	/* Strings separated by commas, then "]}" and the end. */
	while (p < e && *p == '"') {
		for (p++; p < e && *p != '"'; p++)
			if (*p == '\\' && ++p == e)
				return 0;
		if (p == e)
			return 0;
		p++;
		if (p < e && *p == ',' && p + 1 < e && p[1] == '"')
			p++;
	}
	if (e - p != 2 || p[0] != ']' || p[1] != '}')
		return 0;
	*id = v;
	*arr = a;
	*alen = (size_t)(p + 1 - a);
	return 1;
}

static struct client *
take_waiter(struct polconn *pc, uint64_t id)
{
	struct polwait *w = &pc->slots[id % POL_SLOTS];
	struct client *c;

	if (w->c == NULL || w->id != id)
		return NULL;
	c = w->c;
	w->c = NULL;
	pc->inflight--;
	c->pol_conn = -1;
	return c;
}

static void
handle_line(struct polconn *pc, const char *s, size_t n)
{
	static int junk_said;
	json_error_t jerr;
	struct client *c;
	const char *arr;
	size_t alen;
	json_t *j;
	uint64_t id;

	if (plain_continue(s, n, &id)) {
		if ((c = take_waiter(pc, id)) != NULL && c != &notice_sink)
			client_policy_answer(c, NULL);
		return;
	}
	if (continue_with_rules(s, n, &id, &arr, &alen)) {
		if ((c = take_waiter(pc, id)) == NULL || c == &notice_sink)
			return;
		/* The request phase's common case; others take the long way. */
		if (!c->conn_held && c->x != NULL && !c->x->asking_res) {
			struct gw_buf *b = &c->x->extra;
			int r = 0;

			gw_buf_reset(b);
			r |= gw_buf_adds(
			    b, "\"traffic_policy\":{\"rules_matched\":");
			r |= gw_buf_add(b, arr, alen);
			r |= gw_buf_adds(b, ",\"action\":\"continue\"}");
			if (r != 0)
				gw_buf_reset(b);
			client_policy_answer(c, NULL);
			return;
		}
		client_policy_answer(c, json_loadb(s, n, 0, &jerr));
		return;
	}
	j = json_loadb(s, n, 0, &jerr);
	if (j == NULL || !json_is_object(j)) {
		if (!junk_said++)
			gw_warn("policy %s: an answer is not a JSON object: "
			        "%s",
			    sock_path, j == NULL ? jerr.text : "not an object");
		json_decref(j);
		return;
	}
	if (json_object_get(j, "hello") != NULL) {
		read_hello(j);
		json_decref(j);
		return;
	}
	if (!json_is_integer(json_object_get(j, "id")) ||
	    (c = take_waiter(
	         pc, (uint64_t)json_integer_value(json_object_get(j, "id")))) ==
	        NULL) {
		if (!junk_said++)
			gw_warn("policy %s: an answer for no question waiting",
			    sock_path);
		json_decref(j);
		return;
	}
	if (c == &notice_sink) {
		json_decref(j);
		return;
	}
	/* The exchange owns the answer from here. */
	client_policy_answer(c, j);
}

static void
pc_io(struct gw_loop *loop, struct gw_io *io, int ev)
{
	struct polconn *pc = io->arg;
	enum gw_line_status st;
	const char *line;
	size_t len;
	ssize_t n;
	int e;

	(void)loop;
	if (pc->state == PC_CONNECTING) {
		if ((e = gw_sock_error(io->fd)) != 0) {
			pc_down(pc, strerror(e));
			return;
		}
		pc_up(pc);
		return;
	}
	if (ev & GW_WRITE)
		policy_flush();
	if (pc->state != PC_UP || !(ev & GW_READ))
		return;
	n = gw_lines_read(&pc->in, io->fd);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1 && errno != ENOBUFS) {
		pc_down(pc, strerror(errno));
		return;
	}
	for (;;) {
		st = gw_lines_next(&pc->in, &line, &len);
		if (st == GW_LINE_OK)
			handle_line(pc, line, len);
		else if (st == GW_LINE_TOO_LONG)
			gw_warn(
			    "policy %s: an answer over %d bytes was skipped",
			    sock_path, POL_LINE_MAX);
		else
			break;
		if (pc->state != PC_UP)
			return;
	}
	if (n == 0 || st == GW_LINE_EOF || st == GW_LINE_PARTIAL)
		pc_down(pc, "gw-policy closed the connection");
}

/* ---- applying answers ------------------------------------------------ */

/*
 * Returns 1 if an answer removes or replaces the header <name>: it is in
 * <rm> ("remove_headers"), or <set> ("set_headers") sets it.
 */
int
policy_drops_header(
    const json_t *set, const json_t *rm, const char *name, size_t n)
{
	const char *k;
	json_t *v;
	size_t i;

	json_array_foreach((json_t *)rm, i, v)
	{
		if (json_is_string(v) &&
		    http_str_ieq(name, n, json_string_value(v)))
			return 1;
	}
	json_object_foreach((json_t *)set, k, v)
	{
		if (http_str_ieq(name, n, k))
			return 1;
	}
	return 0;
}

static int
add_header(struct gw_buf *b, const char *k, const json_t *v)
{
	const char *s = json_string_value(v);
	int r = 0;

	/* gw-policy checks these; a bad one must still not split a head. */
	if (s == NULL || !gw_http_token_ok(k, strlen(k)) ||
	    !gw_http_value_ok(s, strlen(s)))
		return 0;
	r |= gw_buf_adds(b, k);
	r |= gw_buf_add(b, ": ", 2);
	r |= gw_buf_adds(b, s);
	r |= gw_buf_add(b, "\r\n", 2);
	return r;
}

/*
 * Appends the headers of "set_headers" (name → value or array of values)
 * as header lines.  Returns 0, or -1 when <b> is full.
 */
int
policy_add_headers(const json_t *set, struct gw_buf *b)
{
	const char *k;
	json_t *v, *e;
	size_t i;
	int r = 0;

	json_object_foreach((json_t *)set, k, v)
	{
		if (json_is_array(v)) {
			json_array_foreach(v, i, e) r |= add_header(b, k, e);
		} else
			r |= add_header(b, k, v);
	}
	return r ? -1 : 0;
}

/* Appends the JSON of <v> (compact) to <b>. */
static int
add_json(struct gw_buf *b, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	int r;

	if (s == NULL)
		return -1;
	r = gw_buf_adds(b, s);
	free(s);
	return r;
}

/* Appends the items of the arrays <a> and <b> as one JSON array. */
static int
add_concat(struct gw_buf *out, const json_t *a, const json_t *b)
{
	const json_t *lists[2] = { a, b };
	size_t i, k, n = 0;
	json_t *v;
	int r = 0;

	r |= gw_buf_addc(out, '[');
	for (k = 0; k < 2; k++) {
		json_array_foreach((json_t *)lists[k], i, v)
		{
			if (n++ > 0)
				r |= gw_buf_addc(out, ',');
			r |= add_json(out, v);
		}
	}
	r |= gw_buf_addc(out, ']');
	return r;
}

/*
 * Renders what the answers <a> and then <b> (either may be NULL) say for an
 * event into <out>: "traffic_policy" with the rules matched and the log
 * output of both and the last action, and the module decisions
 * ("ip_policy", "basic_auth"), <b>'s winning.  <out> is emptied first and
 * left empty when nothing is to be said or it does not fit.
 */
void
policy_render(struct gw_buf *out, const json_t *a, const json_t *b)
{
	const json_t *last = b != NULL ? b : a;
	json_t *rq = json_object_get(a, "rules_matched");
	json_t *rs = json_object_get(b, "rules_matched");
	json_t *lq = json_object_get(a, "logs");
	json_t *ls = json_object_get(b, "logs");
	json_t *v;
	const char *k, *action;
	const json_t *decs[2] = { json_object_get(a, "decisions"),
		json_object_get(b, "decisions") };
	size_t i;
	int r = 0;

	action = json_string_value(json_object_get(last, "action"));
	gw_buf_reset(out);
	if (json_array_size(rq) + json_array_size(rs) > 0 ||
	    json_array_size(lq) + json_array_size(ls) > 0) {
		r |= gw_buf_adds(out, "\"traffic_policy\":{\"rules_matched\":");
		r |= add_concat(out, rq, rs);
		r |= gw_buf_adds(out, ",\"action\":");
		r |= gw_json_cstr(out, action ? action : "continue");
		if (json_array_size(lq) + json_array_size(ls) > 0) {
			r |= gw_buf_adds(out, ",\"logs\":");
			r |= add_concat(out, lq, ls);
		}
		r |= gw_buf_addc(out, '}');
	}
	for (i = 0; i < 2; i++) {
		json_object_foreach((json_t *)decs[i], k, v)
		{
			if (!json_is_object(v) ||
			    (i == 0 && json_object_get(decs[1], k) != NULL))
				continue;
			if (out->len > 0)
				r |= gw_buf_addc(out, ',');
			r |= gw_json_cstr(out, k);
			r |= gw_buf_addc(out, ':');
			r |= add_json(out, v);
		}
	}
	if (r != 0)
		gw_buf_reset(out);
}

/* Records what x's answers say for its event (see policy_render()). */
void
policy_record(struct exch *x)
{
	policy_render(&x->extra, x->pol, x->pol_res);
}
