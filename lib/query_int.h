/* SPDX-License-Identifier: MIT */
/*
 * The query tree, shared by the files of the query language and by no one
 * else: query_parse.c builds it (with query_attr.c resolving attribute
 * names), query_eval.c matches it against whole events and query_sum.c
 * against event summaries.  Everything a match needs that does not
 * depend on the event (split paths, canonical header names, lower-cased
 * free-text words, numbers, times, addresses, and the answers for summary
 * values that are few enough to tabulate) is computed here, at parse time.
 */
#ifndef GW_QUERY_INT_H
#define GW_QUERY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "query.h"

/* A value as written in the query: a term, a phrase or a bound. */
struct qval {
	char *lit;      /* the text, escapes resolved */
	size_t len;     /* of lit */
	char *glob;     /* pattern (glob_run() in query_eval.c) or NULL */
	size_t glen;    /* of glob */
	double num;     /* with isnum */
	int64_t inum;   /* with isint */
	int64_t ns;     /* with istime: ns since the epoch */
	uint8_t ip[16]; /* with isip: address, IPv4 as ::ffff:a.b.c.d */
	uint8_t plen;   /* with isip: prefix length over the 16 bytes */
	unsigned isnum : 1, isint : 1, istime : 1, isip : 1;
	unsigned iscidr : 1; /* isip and written with a prefix */
	unsigned star : 1;   /* the open bound "*" */
};

/* A CIDR block. */
struct qnet {
	uint8_t ip[16];
	uint8_t plen;
};

/* What a leaf tests of the values it reaches. */
enum qp_op {
	QP_EXISTS, /* @a:* */
	QP_MATCH,  /* @a:v */
	QP_GT,
	QP_GE,
	QP_LT,
	QP_LE,
	QP_RANGE, /* v .. hi */
	QP_CIDR,  /* CIDR(@a, nets...) */
};

/* How comparisons and ranges compare (chosen from their bounds). */
enum qp_mode { QM_STR, QM_NUM, QM_TIME };

struct qpred {
	enum qp_op op;
	enum qp_mode mode;
	struct qval v;  /* the value, the bound, or the low bound */
	struct qval hi; /* the high bound of a range */
	int lo_incl, hi_incl;
	int icase; /* compare text without regard to ASCII case */
	struct qnet *nets;
	size_t nnets;
};

/* A dotted path into the event. */
struct qpath {
	char **seg;
	unsigned char *hdr; /* per segment: a header name (any case) */
	size_t nseg;
	int top; /* from the envelope rather than "object" */
};

/* What a field is. */
enum qf_kind {
	QF_PATH,     /* path, then alt when path is missing */
	QF_QUERYARG, /* a parameter of http.request.url.query */
	QF_DDSTATUS, /* status: */
	QF_CONST,    /* service:, source: (cval); folded at parse time */
	QF_MESSAGE,  /* message:, free text; folded at parse time */
	QF_ANY,      /* *:, free text over every value */
};

/* Which summary member answers for a field. */
enum qf_sum {
	QS_NONE,
	QS_STATUS,   /* http.response.status_code */
	QS_METHOD,   /* http.request.method */
	QS_DURATION, /* duration_ns */
	QS_IP,       /* conn.client_ip */
	QS_HOST,     /* http.request.url.host */
	QS_HOSTR,    /* host: (url.host, else conn.server_name) */
	QS_KIND,     /* event_type */
	QS_ERROR,    /* error.code */
	QS_REPLAY,   /* replay_of */
	QS_TS,       /* event_timestamp */
	QS_DDSTATUS, /* status: */
};

struct qfield {
	enum qf_kind kind;
	enum qf_sum sum;
	int icase;
	struct qpath path, alt;
	char *arg;           /* QF_QUERYARG: the parameter's name */
	char *cval;          /* QF_CONST: the value */
	struct qfield *next; /* the query's list, for freeing */
};

enum qn_type {
	QN_TRUE,
	QN_FALSE,
	QN_AND,
	QN_OR,
	QN_NOT,
	QN_TEXT, /* free text over the summary line */
	QN_ANY,  /* *:value, free text over every value */
	QN_ATTR, /* field + predicate */
};

/* Free text: a sequence of lower-case words, or a lower-case pattern. */
struct qtext {
	char *words; /* words joined by single spaces; NULL with a pattern */
	size_t nwords, wlen;
	char *pat; /* the pattern; NULL without wildcards */
	size_t plen;
	char *lit; /* lower-case text, for a term without words ("/") */
	size_t len;
};

struct qnode {
	enum qn_type type;
	struct qnode **kid; /* AND, OR, NOT */
	size_t nkid;
	const struct qfield *f; /* ATTR; owned by the query's list */
	struct qpred p;         /* ATTR */
	struct qtext t;         /* TEXT, ANY */
	/* Summary answers tabulated at parse time (see query_eval.c). */
	int8_t sum_always;    /* the summary always decides this leaf */
	int8_t tcp_res;       /* TEXT: answer for a tcp_connection_closed.v0 */
	int8_t kind_res[4];   /* QS_KIND: per enum gw_evsum_kind */
	int8_t cls_res[3];    /* QS_DDSTATUS, QS_METHOD other: see there */
	uint16_t meth_bits;   /* QS_METHOD: bit per enum gw_evsum_method */
	uint8_t *status_bits; /* QS_STATUS: 1000 bits, status 0..999 */
	uint32_t host_hash;   /* QS_HOST(R): of a plain literal, else 0 */
};

struct gw_query {
	struct qnode *root;
	struct qfield *fields;
	int sum_only;
};

/* The parser's state, shared with query_attr.c for names. */
struct qparser {
	const char *s; /* the query text */
	size_t n, pos;
	int depth;
	int failed; /* an error was reported; the first one stands */
	int nomem;  /* memory ran out */
	struct gw_error *err;
	struct gw_query *q;
	const char *service, *source;
};

/* Summary statuses of status: (cls_res index). */
enum { QC_ERROR, QC_WARN, QC_INFO };

/* A scalar value as a predicate sees it. */
enum qs_type { QV_STR, QV_INT, QV_REAL, QV_BOOL };
struct qscalar {
	enum qs_type type;
	const char *s; /* QV_STR, QV_BOOL ("true"/"false") */
	size_t len;
	int64_t i;
	double d;
};

/* query_parse.c: fails the parse at byte <pos> of the text. */
void gw_query_perr(struct qparser *ps, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* query_parse.c: fails the parse for lack of memory; returns NULL. */
void *gw_query_nomem(struct qparser *ps);

/*
 * query_attr.c: resolves the attribute name at bytes <a>..<b> of the text
 * (after any '@'; <at> says whether there was one) into a field that the
 * query owns.  NULL when it failed (reported through <ps>).
 */
struct qfield *gw_query_field(struct qparser *ps, size_t a, size_t b, int at);
/* query_attr.c: frees the query's list of fields. */
void gw_query_fields_free(struct qfield *f);

/*
 * query_sum.c: tabulates what summaries answer for leaf <n> (an ATTR or a
 * TEXT).  Returns 0, or -1 with errno ENOMEM.
 */
int gw_query_sum_prep(struct qnode *n);
/* query_sum.c: does a summary decide every leaf of <n>, always? */
int gw_query_sum_always(const struct qnode *n);

/* query_eval.c: is address <a> in the block <net>/<plen>? */
int gw_query_in_net(const uint8_t a[16], const uint8_t net[16], unsigned plen);
/*
 * query_eval.c: the answer of a comparison or range given how the value
 * compares (-1, 0, 1) with the low bound or only bound, and the high one.
 */
int gw_query_cmp_result(const struct qpred *p, int c_lo, int c_hi);

/*
 * Does a scalar satisfy <p>?  QP_EXISTS and QP_CIDR included.  Shared with
 * the parser, which tabulates it over the few values some summary members
 * can take, so that summary and event always agree.
 */
int gw_query_pred_scalar(const struct qpred *p, const struct qscalar *v);
/* Status class of an exchange (QC_*). */
int gw_query_status_class(int status_code, int has_error);
/* Frees a node and its children; NULL accepted. */
void gw_query_node_free(struct qnode *n);
/*
 * Free-text match of <t> against <s>/<n> (words, or a pattern on word
 * boundaries).  Also tabulates the constant summary line of tcp events.
 */
int gw_query_text_match(const struct qtext *t, const char *s, size_t n);
/* Is <s> (NUL-terminated) an RFC 3339 time?  Then *ns is it. */
int gw_query_time(const char *s, size_t n, int64_t *ns);
/* Is <s>/<n> a decimal number ("-1.5e3")?  Then *d, and *i with *isint. */
int gw_query_number(const char *s, size_t n, double *d, int64_t *i, int *isint);

#endif
