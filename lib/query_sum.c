/* SPDX-License-Identifier: MIT */
/*
 * Queries over event summaries (lib/evsum.h), the store's index: at parse
 * time, the answers for the few values some summary members can take are
 * tabulated from the very predicates that query_eval.c applies to whole
 * events, so that the two cannot disagree; at match time, a three-valued
 * walk (1, 0, or -1 for "the event decides") does no allocation and no
 * string work.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evsum.h"
#include "query_int.h"

static const char http_type[] = "http_request_complete.v0";
static const char tcp_type[] = "tcp_connection_closed.v0";

static int
pred_str(const struct qpred *p, const char *s)
{
	struct qscalar v = { QV_STR, s, strlen(s), 0, 0 };

	return gw_query_pred_scalar(p, &v);
}

int
gw_query_sum_prep(struct qnode *n)
{
	const struct qpred *p = &n->p;
	int plain = p->op == QP_MATCH && p->v.glob == NULL;
	int lit = plain && !p->v.isip && !p->v.istime;
	struct qscalar v = { QV_INT, NULL, 0, 0, 0 };
	int m, x, k;

	if (n->type == QN_TEXT) {
		n->tcp_res = (int8_t)gw_query_text_match(
		    &n->t, tcp_type, strlen(tcp_type));
		return 0;
	}
	if (n->type != QN_ATTR)
		return 0;
	switch (n->f->sum) {
	case QS_STATUS:
		if ((n->status_bits = calloc(1, 1000 / 8)) == NULL)
			return -1;
		for (x = 1; x < 1000; x++) {
			v.i = x;
			if (gw_query_pred_scalar(p, &v))
				n->status_bits[x / 8] |=
				    (uint8_t)(1 << (x % 8));
		}
		n->sum_always = 1;
		break;
	case QS_METHOD:
		for (m = GW_EVM_GET; m <= GW_EVM_TRACE; m++)
			if (pred_str(p, gw_evsum_method_name(m)))
				n->meth_bits |= (uint16_t)(1u << m);
		/* Another method: only a known name is surely not it. */
		n->cls_res[0] = -1;
		if (p->op == QP_EXISTS)
			n->cls_res[0] = 1;
		else if (plain &&
		    gw_evsum_method_of(p->v.lit, p->v.len) != GW_EVM_OTHER)
			n->cls_res[0] = 0;
		n->sum_always = n->cls_res[0] != -1;
		break;
	case QS_DURATION:
		/* See int_pred(): globs and string comparisons need text. */
		if (p->op == QP_MATCH)
			n->sum_always = p->v.glob == NULL;
		else if (p->op == QP_EXISTS || p->op == QP_CIDR)
			n->sum_always = 1;
		else
			n->sum_always = p->mode != QM_STR;
		break;
	case QS_IP:
		n->sum_always = p->op == QP_EXISTS || p->op == QP_CIDR || plain;
		break;
	case QS_HOST:
	case QS_HOSTR:
		if (lit)
			n->host_hash = gw_evsum_host_hash(p->v.lit, p->v.len);
		n->sum_always = n->f->sum == QS_HOST && p->op == QP_EXISTS;
		break;
	case QS_KIND:
		n->kind_res[GW_EVK_HTTP] = (int8_t)pred_str(p, http_type);
		n->kind_res[GW_EVK_TCP] = (int8_t)pred_str(p, tcp_type);
		n->kind_res[GW_EVK_AUDIT] = n->kind_res[GW_EVK_OTHER] = -1;
		if (p->op == QP_EXISTS)
			n->kind_res[GW_EVK_AUDIT] = 1;
		else if (lit) {
			const char *s = p->v.lit;

			if (!strcmp(s, http_type) || !strcmp(s, tcp_type))
				n->kind_res[GW_EVK_AUDIT] =
				    n->kind_res[GW_EVK_OTHER] = 0;
			else if (gw_evsum_kind_of(s, p->v.len) != GW_EVK_AUDIT)
				n->kind_res[GW_EVK_AUDIT] = 0;
			else
				n->kind_res[GW_EVK_OTHER] = 0;
		}
		n->sum_always = 1;
		for (k = 0; k < 4; k++)
			if (n->kind_res[k] == -1)
				n->sum_always = 0;
		break;
	case QS_ERROR:
	case QS_REPLAY:
		n->sum_always = p->op == QP_EXISTS;
		break;
	case QS_TS:
		n->sum_always = p->op == QP_EXISTS || p->op == QP_CIDR ||
		    plain || (p->op != QP_MATCH && p->mode == QM_TIME);
		break;
	case QS_DDSTATUS:
		n->cls_res[QC_ERROR] = (int8_t)pred_str(p, "error");
		n->cls_res[QC_WARN] =
		    (int8_t)(pred_str(p, "warn") || pred_str(p, "warning"));
		n->cls_res[QC_INFO] = (int8_t)pred_str(p, "info");
		n->sum_always = 1;
		break;
	case QS_NONE:
	default:
		break;
	}
	return 0;
}

int
gw_query_sum_always(const struct qnode *n)
{
	size_t i;

	switch (n->type) {
	case QN_AND:
	case QN_OR:
	case QN_NOT:
		for (i = 0; i < n->nkid; i++)
			if (!gw_query_sum_always(n->kid[i]))
				return 0;
		return 1;
	case QN_TRUE:
	case QN_FALSE:
		return 1;
	case QN_TEXT:
	case QN_ANY:
		return 0;
	default:
		return n->sum_always;
	}
}

/*
 * A predicate over an integer summary member, without string work: -1
 * when deciding it would take some (a glob, a string comparison).
 */
static int
int_pred(const struct qpred *p, int64_t x)
{
	struct qscalar v;

	switch (p->op) {
	case QP_EXISTS:
		return 1;
	case QP_CIDR:
		return 0;
	case QP_MATCH:
		if (p->v.glob != NULL)
			return -1;
		/* A literal that is not a number never spells one. */
		if (!p->v.isnum)
			return 0;
		return p->v.isint ? x == p->v.inum : (double)x == p->v.num;
	default:
		if (p->mode == QM_STR)
			return -1;
		v.type = QV_INT;
		v.i = x;
		return gw_query_pred_scalar(p, &v);
	}
}

static int
ip_pred(const struct qpred *p, const uint8_t ip[16])
{
	size_t i;

	switch (p->op) {
	case QP_EXISTS:
		return 1;
	case QP_CIDR:
		for (i = 0; i < p->nnets; i++)
			if (gw_query_in_net(ip, p->nets[i].ip, p->nets[i].plen))
				return 1;
		return 0;
	case QP_MATCH:
		if (p->v.glob != NULL)
			return -1;
		/* An address's text always reads as an address. */
		return p->v.isip ? gw_query_in_net(ip, p->v.ip, p->v.plen) : 0;
	default:
		return -1;
	}
}

static int
ts_pred(const struct qpred *p, int64_t us)
{
	int64_t t;
	int c_lo = 0, c_hi = 0;

	if (us > INT64_MAX / 1000)
		return -1; /* past 2262: not a time to the event's reader */
	t = us * 1000;
	switch (p->op) {
	case QP_EXISTS:
		return 1;
	case QP_MATCH:
		if (p->v.glob != NULL)
			return -1;
		/* A literal that is not a time never spells one. */
		return p->v.istime ? t == p->v.ns : 0;
	case QP_CIDR:
		return 0;
	default:
		if (p->mode != QM_TIME)
			return -1;
		if (!p->v.star)
			c_lo = t < p->v.ns ? -1 : t > p->v.ns;
		if (p->op == QP_RANGE && !p->hi.star)
			c_hi = t < p->hi.ns ? -1 : t > p->hi.ns;
		return gw_query_cmp_result(p, c_lo, c_hi);
	}
}

/* A host predicate against the summary's hash; <have> says it is there. */
static int
host_pred(const struct qnode *n, int have, uint32_t hash)
{
	if (!have)
		return n->f->sum == QS_HOST ? 0 : -1;
	if (n->p.op == QP_EXISTS)
		return 1;
	if (n->host_hash != 0 && n->host_hash != hash)
		return 0;
	return -1;
}

static int
sum_leaf(const struct qnode *n, const struct gw_evsum *s)
{
	const struct qpred *p = &n->p;
	struct qscalar v;

	switch (n->type) {
	case QN_TRUE:
		return 1;
	case QN_FALSE:
		return 0;
	case QN_TEXT:
		return s->kind == GW_EVK_TCP ? n->tcp_res : -1;
	case QN_ATTR:
		break;
	default:
		return -1;
	}
	switch (n->f->sum) {
	case QS_STATUS:
		if (s->status == 0)
			return 0;
		if (s->status < 1000)
			return (n->status_bits[s->status / 8] >>
			           (s->status % 8)) &
			    1;
		/* Not an HTTP status; never written, but still decided. */
		v.type = QV_INT;
		v.i = s->status;
		return gw_query_pred_scalar(p, &v);
	case QS_METHOD:
		if (s->method == GW_EVM_NONE)
			return 0;
		if (s->method == GW_EVM_OTHER)
			return n->cls_res[0];
		return (n->meth_bits >> s->method) & 1;
	case QS_DURATION:
		if (!(s->flags & GW_EVS_HAS_DUR))
			return 0;
		return int_pred(p, s->duration_ns);
	case QS_IP:
		if (!(s->flags & GW_EVS_HAS_IP))
			return 0;
		return ip_pred(p, s->client_ip);
	case QS_HOST:
	case QS_HOSTR:
		return host_pred(
		    n, (s->flags & GW_EVS_HAS_HOST) != 0, s->host_hash);
	case QS_KIND:
		return n->kind_res[s->kind < 4 ? s->kind : GW_EVK_OTHER];
	case QS_ERROR:
		if (!(s->flags & GW_EVS_HAS_ERROR))
			return 0;
		return p->op == QP_EXISTS ? 1 : -1;
	case QS_REPLAY:
		if (!(s->flags & GW_EVS_REPLAY))
			return 0;
		return p->op == QP_EXISTS ? 1 : -1;
	case QS_TS:
		if (s->ts_us == 0)
			return 0;
		return ts_pred(p, s->ts_us);
	case QS_DDSTATUS:
		return n->cls_res[gw_query_status_class(
		    s->status, (s->flags & GW_EVS_HAS_ERROR) != 0)];
	case QS_NONE:
	default:
		return -1;
	}
}

/* Three-valued: 1, 0, or -1 for "the event decides". */
static int
eval_sum(const struct qnode *n, const struct gw_evsum *s)
{
	size_t i;
	int r, k;

	switch (n->type) {
	case QN_AND:
		for (r = 1, i = 0; i < n->nkid; i++) {
			if ((k = eval_sum(n->kid[i], s)) == 0)
				return 0;
			if (k < 0)
				r = -1;
		}
		return r;
	case QN_OR:
		for (r = 0, i = 0; i < n->nkid; i++) {
			if ((k = eval_sum(n->kid[i], s)) == 1)
				return 1;
			if (k < 0)
				r = -1;
		}
		return r;
	case QN_NOT:
		k = eval_sum(n->kid[0], s);
		return k < 0 ? -1 : !k;
	default:
		return sum_leaf(n, s);
	}
}

int
gw_query_match_sum(const struct gw_query *q, const struct gw_evsum *sum)
{
	return eval_sum(q->root, sum);
}

int
gw_query_sum_only(const struct gw_query *q)
{
	return q->sum_only;
}
