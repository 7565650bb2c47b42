// SPDX-License-Identifier: MIT
/*
 * circuit-breaker (reference/ngrok-traffic-policy.md §2.2): a rolling
 * window of ten buckets per breaker counting upstream responses and the
 * 5xx among them; past volume_threshold responses with an error ratio at
 * error_threshold or above, the breaker trips and requests get 503 for
 * tripped_duration, then it closes with an empty window.  Requests and
 * responses are separate questions from gw-proxy, so a request that
 * passed a breaker is remembered by its client connection (a direct-mapped
 * table: a collision loses one sample, never memory), and the response
 * question on that connection feeds the breakers it passed.  Breakers are
 * keyed by rule name and configuration, so an unchanged one keeps its
 * window over a reload.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* ---- circuit-breaker ----------------------------------------------------- */

static uint64_t
cb_key(const struct policy_rule *r, const struct action_circuit_breaker *c)
{
	uint64_t h = rl_hash(0, r->name, strlen(r->name));

	h = rl_hash(h, &c->error_threshold, sizeof(c->error_threshold));
	h = rl_hash(h, &c->volume_threshold, sizeof(c->volume_threshold));
	h = rl_hash(h, &c->window_ns, sizeof(c->window_ns));
	h = rl_hash(h, &c->tripped_ns, sizeof(c->tripped_ns));
	return h != 0 ? h : 1;
}

static void
cb_reset(struct engine_breaker *b)
{
	memset(b->epoch, 0, sizeof(b->epoch));
	memset(b->total, 0, sizeof(b->total));
	memset(b->errors, 0, sizeof(b->errors));
	b->tripped_until = 0;
}

int
engine_cb_rebind(struct engine *e, const struct policy *p)
{
	struct engine_cb_ref *refs;
	struct engine_breaker *b;
	const struct policy_rule *r;
	uint64_t keep = 0, key;
	size_t ph, i, j, n = 0, k = 0;
	int idx, f;

	for (ph = 0; ph < POLICY_NPHASES; ph++)
		for (i = 0; i < p->phases[ph].n; i++)
			for (j = 0; j < p->phases[ph].rules[i].nactions; j++)
				n += p->phases[ph].rules[i].actions[j].type ==
				    ACTION_CIRCUIT_BREAKER;
	if ((refs = calloc(n ? n : 1, sizeof(*refs))) == NULL)
		return -1;
	for (ph = 0; ph < POLICY_NPHASES; ph++) {
		for (i = 0; i < p->phases[ph].n; i++) {
			r = &p->phases[ph].rules[i];
			for (j = 0; j < r->nactions; j++) {
				if (r->actions[j].type !=
				    ACTION_CIRCUIT_BREAKER)
					continue;
				key = cb_key(r, &r->actions[j].circuit_breaker);
				idx = -1;
				for (f = 0; f < ENGINE_MAX_BREAKERS; f++)
					if (e->breakers[f].key == key) {
						idx = f;
						break;
					}
				/* A free slot, else one the old policy had. */
				for (f = 0; idx < 0 && f < ENGINE_MAX_BREAKERS;
				     f++)
					if (e->breakers[f].key == 0)
						idx = f;
				for (f = 0; idx < 0 && f < ENGINE_MAX_BREAKERS;
				     f++)
					if (!(keep & (1ULL << f)))
						idx = f;
				refs[k].act = &r->actions[j];
				refs[k].idx = idx;
				k++;
				if (idx < 0)
					continue;
				b = &e->breakers[idx];
				if (b->key != key) {
					memset(b, 0, sizeof(*b));
					b->key = key;
				}
				b->cfg = &r->actions[j].circuit_breaker;
				b->bucket_ns =
				    b->cfg->window_ns / ENGINE_CB_BUCKETS;
				if (b->bucket_ns == 0)
					b->bucket_ns = 1;
				keep |= 1ULL << idx;
			}
		}
	}
	for (f = 0; f < ENGINE_MAX_BREAKERS; f++) {
		e->breakers[f].live = (keep >> f) & 1;
		if (!e->breakers[f].live)
			e->breakers[f].cfg = NULL;
	}
	free(e->cb_refs);
	e->cb_refs = refs;
	e->ncb_refs = k;
	return 0;
}

/* The client connection a request and its response share. */
static uint64_t
conn_key(const struct policy_req *r)
{
	uint64_t h = rl_hash(0, r->client_ip != NULL ? r->client_ip : "",
	    r->client_ip != NULL ? strlen(r->client_ip) : 0);

	h = rl_hash(h, &r->client_port, sizeof(r->client_port));
	h = rl_hash(h, &r->server_port, sizeof(r->server_port));
	h = rl_hash(h, &r->conn_start_ns, sizeof(r->conn_start_ns));
	return h != 0 ? h : 1;
}

static void
cb_record(struct engine_breaker *b, int64_t now, int status)
{
	const struct action_circuit_breaker *c = b->cfg;
	uint64_t ep = (uint64_t)now / b->bucket_ns, total = 0, errors = 0;
	size_t s = ep % ENGINE_CB_BUCKETS, i;

	if (c == NULL || b->tripped_until > now)
		return;
	if (b->tripped_until != 0)
		cb_reset(b);
	if (b->epoch[s] != ep) {
		b->epoch[s] = ep;
		b->total[s] = b->errors[s] = 0;
	}
	b->total[s]++;
	b->errors[s] += status >= 500 && status <= 599;
	for (i = 0; i < ENGINE_CB_BUCKETS; i++) {
		if (b->epoch[i] + ENGINE_CB_BUCKETS <= ep)
			continue;
		total += b->total[i];
		errors += b->errors[i];
	}
	if (total >= c->volume_threshold &&
	    (double)errors >= c->error_threshold * (double)total) {
		cb_reset(b);
		b->tripped_until = now + (int64_t)c->tripped_ns;
	}
}

void
engine_cb_response(struct engine *e)
{
	struct engine_cb_conn *c;
	uint64_t key = conn_key(e->req);
	int i;

	c = &e->cb_conns[key % ENGINE_CB_CONNS];
	if (c->key != key || c->mask == 0)
		return;
	for (i = 0; i < ENGINE_MAX_BREAKERS; i++)
		if ((c->mask >> i) & 1)
			cb_record(&e->breakers[i], e->req->now_ns,
			    e->req->status_code);
	c->key = 0;
	c->mask = 0;
}

void
engine_cb_remember(struct engine *e)
{
	uint64_t key = conn_key(e->req);
	struct engine_cb_conn *c = &e->cb_conns[key % ENGINE_CB_CONNS];

	/* A slot taken by another connection loses that one sample. */
	c->key = key;
	c->mask = e->cb_pass;
}

enum engine_step
engine_circuit_breaker(struct engine *e, const struct action *a)
{
	const struct action_circuit_breaker *c = &a->circuit_breaker;
	struct engine_breaker *b;
	int64_t now = e->req->now_ns;
	size_t i;
	int idx = -1;

	for (i = 0; i < e->ncb_refs; i++)
		if (e->cb_refs[i].act == a)
			idx = e->cb_refs[i].idx;
	if (idx < 0)
		return ENGINE_NEXT;
	b = &e->breakers[idx];
	if (b->tripped_until > now && c->enforce) {
		e->d.error_message = "circuit breaker tripped";
		return engine_respond(e, a, 503, ENGINE_E_CIRCUIT_OPEN);
	}
	e->cb_pass |= 1ULL << idx;
	return ENGINE_NEXT;
}
