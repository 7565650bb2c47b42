/* SPDX-License-Identifier: MIT */
/*
 * The actions a policy rule may run, as the loader sees them: one table
 * row per action type (its name, the phases that allow it, its config
 * keys with their types, defaults and limits, from ngrok's action pages;
 * see reference/ngrok-traffic-policy.md §2), the parsers that turn a
 * config mapping into the typed struct in policy.h, and the checks that
 * span several keys.  ngrok actions that gw does not implement are known
 * by name so that they are refused as such rather than called unknown.
 * CIDR parsing for restrict-ips lives here too, and is exported for the
 * engine's interpolated CIDRs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "opts.h"
#include "policy.h"
#include "ratelimit.h"
#include "timeutil.h"

#define NS_PER_S 1000000000ULL

/* What a field parser works with. */
struct ald {
	struct policy_ld *ld;
	const char *type;           /* "rate-limit" */
	const struct gw_node *item; /* the action's mapping */
	const struct gw_node *cfg;  /* its config, or NULL */
	int failed;
};

enum fkind {
	F_BOOL,   /* int, true or false */
	F_INT,    /* int in [min, max] */
	F_U64,    /* uint64_t in [min, max] */
	F_DOUBLE, /* double in [min, max] (YAML int or float) */
	F_DUR,    /* uint64_t ns, a duration string in [min, max] seconds */
	F_CUSTOM,
};

struct field {
	const char *name;
	enum fkind kind;
	size_t off; /* in struct action */
	int required;
	long long min, max;
	void (*fn)(struct ald *, const struct gw_node *, struct action *);
};

#define OFF(m) offsetof(struct action, m)

static void ferr(struct ald *a, const struct gw_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error about the config, prefixed with the action type. */
static void
ferr(struct ald *a, const struct gw_node *n, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	policy_ld_error(a->ld, n, "%s: %s", a->type, msg);
	a->failed = 1;
}

static void fwarn(struct ald *a, const struct gw_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fwarn(struct ald *a, const struct gw_node *n, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	policy_ld_warn(a->ld, n, "%s: %s", a->type, msg);
}

static void
nomem(struct ald *a)
{
	policy_ld_nomem(a->ld);
	a->failed = 1;
}

static const char *
kind(const struct gw_node *n)
{
	switch (n->type) {
	case GW_NODE_SEQ:
		return "a list";
	case GW_NODE_MAP:
		return "a mapping";
	default:
		if (gw_opts_node_is_null(n))
			return "null";
		return n->plain ? "a scalar" : "a string";
	}
}

/* A string, for messages: quoted text, or what the node is. */
static void
shown(const struct gw_node *n, char *buf, size_t len)
{
	if (n->type == GW_NODE_SCALAR && !gw_opts_node_is_null(n))
		snprintf(buf, len, "\"%.60s\"", n->str);
	else
		snprintf(buf, len, "%s", kind(n));
}

static int
plain_bool(const struct gw_node *n, int *b)
{
	if (n->type != GW_NODE_SCALAR || !n->plain)
		return -1;
	if (!strcmp(n->str, "true") || !strcmp(n->str, "True") ||
	    !strcmp(n->str, "TRUE"))
		*b = 1;
	else if (!strcmp(n->str, "false") || !strcmp(n->str, "False") ||
	    !strcmp(n->str, "FALSE"))
		*b = 0;
	else
		return -1;
	return 0;
}

/* A plain decimal integer (JSON's too). */
static int
plain_int(const struct gw_node *n, long long *v)
{
	const char *p;
	char *end;

	if (n->type != GW_NODE_SCALAR || !n->plain)
		return -1;
	p = n->str + (n->str[0] == '-' || n->str[0] == '+');
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
		return -1;
	errno = 0;
	*v = strtoll(n->str, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

static int
plain_double(const struct gw_node *n, double *v)
{
	const char *p;
	char *end;

	if (n->type != GW_NODE_SCALAR || !n->plain)
		return -1;
	p = n->str + (n->str[0] == '-' || n->str[0] == '+');
	if (*p == '\0' || strspn(p, "0123456789.eE+-") != strlen(p))
		return -1;
	errno = 0;
	*v = strtod(n->str, &end);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

/* "90s", "10m", "1h30m": at least one unit, so "60" is refused. */
static int
duration(const struct gw_node *n, uint64_t *ns)
{
	size_t len;

	if (n->type != GW_NODE_SCALAR || gw_opts_node_is_null(n))
		return -1;
	len = strlen(n->str);
	if (len == 0 || (n->str[len - 1] >= '0' && n->str[len - 1] <= '9'))
		return -1;
	return gw_parse_duration(n->str, ns);
}

/* Writes a duration in ns the short way: "60s", "10m", "24h". */
static void
fmt_dur(uint64_t ns, char *buf, size_t len)
{
	uint64_t s = ns / NS_PER_S;

	if (ns % NS_PER_S != 0)
		snprintf(
		    buf, len, "%llums", (unsigned long long)(ns / 1000000));
	else if (s != 0 && s % 3600 == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(s / 3600));
	else if (s != 0 && s % 60 == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)s);
}

/* Parses one field of a generic kind. */
static void
parse_field(struct ald *a, const struct field *f, const struct gw_node *n,
    struct action *act)
{
	char *base = (char *)act;
	char got[80], lo[32], hi[32];
	long long v;
	uint64_t ns;
	double d;
	int b;

	shown(n, got, sizeof(got));
	switch (f->kind) {
	case F_BOOL:
		if (plain_bool(n, &b) == -1)
			ferr(a, n, "%s must be true or false, was %s", f->name,
			    got);
		else
			*(int *)(base + f->off) = b;
		break;
	case F_INT:
	case F_U64:
		if (plain_int(n, &v) == -1)
			ferr(a, n, "%s must be an integer, was %s", f->name,
			    got);
		else if ((v < f->min || v > f->max) && f->min == f->max)
			ferr(a, n, "%s must be %lld, was %lld (ERR_NGROK_2222)",
			    f->name, f->min, v);
		else if (v < f->min || v > f->max)
			ferr(a, n,
			    "%s must be between %lld and %lld inclusive, was "
			    "%lld (ERR_NGROK_2215)",
			    f->name, f->min, f->max, v);
		else if (f->kind == F_INT)
			*(int *)(base + f->off) = (int)v;
		else
			*(uint64_t *)(base + f->off) = (uint64_t)v;
		break;
	case F_DOUBLE:
		if (plain_double(n, &d) == -1)
			ferr(a, n, "%s must be a number, was %s", f->name, got);
		else if (!(d >= (double)f->min && d <= (double)f->max))
			ferr(a, n,
			    "%s must be between %lld and %lld inclusive, was "
			    "%s (ERR_NGROK_2215)",
			    f->name, f->min, f->max, n->str);
		else
			*(double *)(base + f->off) = d;
		break;
	case F_DUR:
		fmt_dur((uint64_t)f->min * NS_PER_S, lo, sizeof(lo));
		fmt_dur((uint64_t)f->max * NS_PER_S, hi, sizeof(hi));
		if (duration(n, &ns) == -1)
			ferr(a, n,
			    "%s must be a duration such as \"%s\", was %s",
			    f->name, lo, got);
		else if (ns < (uint64_t)f->min * NS_PER_S ||
		    ns > (uint64_t)f->max * NS_PER_S)
			ferr(a, n,
			    "%s must be between %s and %s inclusive, was %s "
			    "(ERR_NGROK_2215)",
			    f->name, lo, hi, got);
		else
			*(uint64_t *)(base + f->off) = ns;
		break;
	case F_CUSTOM:
		f->fn(a, n, act);
		break;
	}
}

/* Shared pieces of config. */

/* A string that must not be empty or longer than <max> bytes. */
static char *
string(struct ald *a, const struct gw_node *n, const char *name, size_t max)
{
	char *s;

	if (n->type != GW_NODE_SCALAR || gw_opts_node_is_null(n)) {
		ferr(a, n, "%s must be a string, was %s", name, kind(n));
		return NULL;
	}
	if (n->str[0] == '\0') {
		ferr(a, n, "%s cannot be empty (ERR_NGROK_2223)", name);
		return NULL;
	}
	if (strlen(n->str) > max) {
		ferr(a, n, "%s is longer than %zu characters (ERR_NGROK_2221)",
		    name, max);
		return NULL;
	}
	if ((s = strdup(n->str)) == NULL)
		nomem(a);
	return s;
}

static char *
lower_dup(const char *s)
{
	char *d = strdup(s), *p;

	if (d != NULL)
		for (p = d; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	return d;
}

/*
 * A header name: valid, and not one that gw, like ngrok, does not let a
 * policy touch.  Returns the lower-case name, or NULL.
 */
static char *
header_name(struct ald *a, const struct gw_node *key, int adding)
{
	char *name;

	if (!gw_http_token_ok(key->str, strlen(key->str))) {
		ferr(a, key, "invalid header name \"%s\" (ERR_NGROK_2209)",
		    key->str);
		return NULL;
	}
	if ((name = lower_dup(key->str)) == NULL) {
		nomem(a);
		return NULL;
	}
	if (strcmp(name, "user-agent") == 0) {
		ferr(a, key, "the user-agent header cannot be %s",
		    adding ? "added" : "removed");
		free(name);
		return NULL;
	}
	return name;
}

/* The header map of custom-response, add-headers and redirect. */
static void
headers(struct ald *a, const struct gw_node *n, struct action_header **out,
    size_t *nout, int required)
{
	struct action_header *h;
	char what[160];
	size_t i, j;

	if (n->type != GW_NODE_MAP) {
		ferr(a, n,
		    "headers must be a mapping of names to values, was %s",
		    kind(n));
		return;
	}
	if (n->n == 0 && required) {
		ferr(a, n, "headers cannot be empty (ERR_NGROK_2223)");
		return;
	}
	if (n->n > ACTION_MAX_HEADERS) {
		ferr(a, &n->keys[ACTION_MAX_HEADERS],
		    "headers can have at most %d entries (ERR_NGROK_2212)",
		    ACTION_MAX_HEADERS);
		return;
	}
	if (n->n == 0)
		return;
	if ((*out = calloc(n->n, sizeof(**out))) == NULL) {
		nomem(a);
		return;
	}
	for (i = 0; i < n->n; i++) {
		h = &(*out)[*nout];
		if ((h->name = header_name(a, &n->keys[i], 1)) == NULL)
			continue;
		for (j = 0; j < *nout; j++)
			if (strcmp((*out)[j].name, h->name) == 0)
				break;
		if (j < *nout) {
			ferr(a, &n->keys[i],
			    "header \"%s\" is given twice (ERR_NGROK_2231)",
			    n->keys[i].str);
			free(h->name);
			h->name = NULL;
			continue;
		}
		if (n->items[i].type != GW_NODE_SCALAR ||
		    gw_opts_node_is_null(&n->items[i])) {
			ferr(a, &n->items[i],
			    "the value of header \"%s\" must be a string, was %s",
			    n->keys[i].str, kind(&n->items[i]));
			free(h->name);
			h->name = NULL;
			continue;
		}
		if (strpbrk(n->items[i].str, "\r\n") != NULL) {
			ferr(a, &n->items[i],
			    "invalid value for header \"%s\": line breaks are "
			    "not allowed (ERR_NGROK_2210)",
			    n->keys[i].str);
			free(h->name);
			h->name = NULL;
			continue;
		}
		snprintf(what, sizeof(what), "%s: headers.%s", a->type,
		    n->keys[i].str);
		if (policy_ld_tmpl(a->ld, &n->items[i], what, &h->value) ==
		    -1) {
			a->failed = 1;
			free(h->name);
			h->name = NULL;
			continue;
		}
		(*nout)++;
	}
}

/* A templated string field (body, to, from). */
static int
tmpl(struct ald *a, const struct gw_node *n, const char *name,
    struct policy_tmpl *out)
{
	char what[96];

	if (n->type != GW_NODE_SCALAR || gw_opts_node_is_null(n)) {
		ferr(a, n, "%s must be a string, was %s", name, kind(n));
		return -1;
	}
	snprintf(what, sizeof(what), "%s: %s", a->type, name);
	if (policy_ld_tmpl(a->ld, n, what, out) == -1) {
		a->failed = 1;
		return -1;
	}
	return 0;
}

/* rate-limit */

static void
rl_name(struct ald *a, const struct gw_node *n, struct action *act)
{
	act->rate_limit.name = string(a, n, "name", 1023);
}

static void
rl_algorithm(struct ald *a, const struct gw_node *n, struct action *act)
{
	char got[80];

	(void)act;
	if (n->type != GW_NODE_SCALAR ||
	    strcmp(n->str, "sliding_window") != 0) {
		shown(n, got, sizeof(got));
		ferr(a, n,
		    "algorithm must be \"sliding_window\", was %s "
		    "(ERR_NGROK_2222)",
		    got);
	}
}

static void
rl_rate(struct ald *a, const struct gw_node *n, struct action *act)
{
	char got[80];
	uint64_t ns;

	shown(n, got, sizeof(got));
	if (duration(n, &ns) == -1)
		ferr(a, n, "rate must be a duration such as \"60s\", was %s",
		    got);
	else if (ns % (10 * NS_PER_S) != 0 || ns < 60 * NS_PER_S ||
	    ns > 24 * 3600 * NS_PER_S)
		ferr(a, n,
		    "rate must be a multiple of 10s between 60s and 24h, was "
		    "%s (ERR_NGROK_2215)",
		    got);
	else
		act->rate_limit.rate_ns = ns;
}

static void
rl_bucket_key(struct ald *a, const struct gw_node *n, struct action *act)
{
	struct action_rate_limit *rl = &act->rate_limit;
	char what[64];
	size_t i;

	if (n->type != GW_NODE_SEQ) {
		ferr(a, n,
		    "bucket_key must be a list of CEL expressions, was %s",
		    kind(n));
		return;
	}
	if (n->n == 0 || n->n > ACTION_MAX_BUCKET_KEYS) {
		ferr(a, n,
		    "bucket_key must have between 1 and %d entries, had %zu "
		    "(ERR_NGROK_2215)",
		    ACTION_MAX_BUCKET_KEYS, n->n);
		return;
	}
	if ((rl->bucket_keys = calloc(n->n, sizeof(*rl->bucket_keys))) ==
	    NULL) {
		nomem(a);
		return;
	}
	snprintf(what, sizeof(what), "%s: bucket_key", a->type);
	for (i = 0; i < n->n; i++) {
		if (policy_ld_expr(a->ld, &n->items[i], what,
		        &rl->bucket_keys[rl->nbucket_keys]) == -1)
			a->failed = 1;
		else
			rl->nbucket_keys++;
	}
}

static void
rl_check(struct ald *a, struct action *act)
{
	struct action_rate_limit *rl = &act->rate_limit;
	uint64_t h;
	size_t i;

	if (a->failed)
		return;
	h = rl_hash(0, rl->name, strlen(rl->name));
	h = rl_hash(h, &rl->capacity, sizeof(rl->capacity));
	h = rl_hash(h, &rl->rate_ns, sizeof(rl->rate_ns));
	for (i = 0; i < rl->nbucket_keys; i++)
		h = rl_hash(h, rl->bucket_keys[i].src,
		    strlen(rl->bucket_keys[i].src) + 1);
	rl->limiter = h;
}

static void
rl_defaults(struct action *act)
{
	act->rate_limit.enforce = 1;
}

static const struct field rate_limit_fields[] = {
	{ "name", F_CUSTOM, 0, 1, 0, 0, rl_name },
	{ "enforce", F_BOOL, OFF(rate_limit.enforce), 0, 0, 0, NULL },
	{ "algorithm", F_CUSTOM, 0, 1, 0, 0, rl_algorithm },
	{ "capacity", F_U64, OFF(rate_limit.capacity), 1, 1, 2000000000, NULL },
	{ "rate", F_CUSTOM, 0, 1, 0, 0, rl_rate },
	{ "bucket_key", F_CUSTOM, 0, 1, 0, 0, rl_bucket_key },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* deny */

static void
deny_defaults(struct action *act)
{
	act->deny.status_code = 403;
}

static void
deny_check(struct ald *a, struct action *act)
{
	const struct gw_node *sc = gw_opts_node_get(a->cfg, "status_code");

	(void)act;
	if (sc != NULL && policy_ld_phase(a->ld) == POLICY_TCP_CONNECT)
		fwarn(a, sc,
		    "status_code has no effect in on_tcp_connect, where deny "
		    "closes the connection");
}

static const struct field deny_fields[] = {
	{ "status_code", F_INT, OFF(deny.status_code), 0, 100, 599, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* custom-response */

static void
cr_defaults(struct action *act)
{
	act->custom_response.status_code = 200;
}

static void
cr_body(struct ald *a, const struct gw_node *n, struct action *act)
{
	struct action_custom_response *cr = &act->custom_response;

	if (cr->has_body) { /* "content" came first */
		policy_tmpl_fini(&cr->body);
		cr->has_body = 0;
	}
	if (tmpl(a, n, "body", &cr->body) == 0)
		cr->has_body = 1;
}

static void
cr_content(struct ald *a, const struct gw_node *n, struct action *act)
{
	struct action_custom_response *cr = &act->custom_response;

	if (gw_opts_node_get(a->cfg, "body") != NULL) {
		fwarn(a, n, "content is ignored because body is given");
		return;
	}
	fwarn(a, n, "content is deprecated; use body");
	if (tmpl(a, n, "content", &cr->body) == 0)
		cr->has_body = 1;
}

static void
cr_headers(struct ald *a, const struct gw_node *n, struct action *act)
{
	headers(a, n, &act->custom_response.headers,
	    &act->custom_response.nheaders, 0);
}

static const struct field custom_response_fields[] = {
	{ "status_code", F_INT, OFF(custom_response.status_code), 0, 100, 599,
	    NULL },
	{ "body", F_CUSTOM, 0, 0, 0, 0, cr_body },
	{ "content", F_CUSTOM, 0, 0, 0, 0, cr_content },
	{ "headers", F_CUSTOM, 0, 0, 0, 0, cr_headers },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* add-headers, remove-headers */

static void
ah_headers(struct ald *a, const struct gw_node *n, struct action *act)
{
	headers(a, n, &act->add_headers.headers, &act->add_headers.nheaders, 1);
}

static const struct field add_headers_fields[] = {
	{ "headers", F_CUSTOM, 0, 1, 0, 0, ah_headers },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

static void
rh_headers(struct ald *a, const struct gw_node *n, struct action *act)
{
	struct action_remove_headers *rh = &act->remove_headers;
	char *name;
	size_t i, j;

	if (n->type != GW_NODE_SEQ) {
		ferr(a, n, "headers must be a list of header names, was %s",
		    kind(n));
		return;
	}
	if (n->n == 0 || n->n > ACTION_MAX_HEADERS) {
		ferr(a, n,
		    "headers must have between 1 and %d entries, had %zu "
		    "(ERR_NGROK_2215)",
		    ACTION_MAX_HEADERS, n->n);
		return;
	}
	if ((rh->names = calloc(n->n, sizeof(*rh->names))) == NULL) {
		nomem(a);
		return;
	}
	for (i = 0; i < n->n; i++) {
		if (n->items[i].type != GW_NODE_SCALAR ||
		    gw_opts_node_is_null(&n->items[i])) {
			ferr(a, &n->items[i],
			    "a header name must be a string, was %s",
			    kind(&n->items[i]));
			continue;
		}
		if ((name = header_name(a, &n->items[i], 0)) == NULL)
			continue;
		for (j = 0; j < rh->n; j++)
			if (strcmp(rh->names[j], name) == 0)
				break;
		if (j < rh->n) {
			ferr(a, &n->items[i],
			    "header \"%s\" is given twice (ERR_NGROK_2231)",
			    n->items[i].str);
			free(name);
			continue;
		}
		rh->names[rh->n++] = name;
	}
}

static const struct field remove_headers_fields[] = {
	{ "headers", F_CUSTOM, 0, 1, 0, 0, rh_headers },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* restrict-ips */

int
policy_ip_parse(const char *s, uint8_t addr[16], int *v6)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*v6 = 0;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*v6 = 1;
		return 0;
	}
	return -1;
}

int
policy_cidr_parse(const char *s, struct policy_cidr *out, int *host_bits,
    char *why, size_t whylen)
{
	const char *slash = strchr(s, '/'), *p;
	char ip[INET6_ADDRSTRLEN + 1];
	size_t iplen;
	int bits = 0, max, i, hb = 0;
	uint8_t mask;

	memset(out, 0, sizeof(*out));
	if (host_bits != NULL)
		*host_bits = 0;
	if (slash == NULL) {
		if (why != NULL)
			snprintf(why, whylen, "no prefix length (/N)");
		return -1;
	}
	iplen = (size_t)(slash - s);
	if (iplen == 0 || iplen >= sizeof(ip))
		goto bad_ip;
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	if (policy_ip_parse(ip, out->addr, &out->v6) == -1)
		goto bad_ip;
	max = out->v6 ? 128 : 32;
	p = slash + 1;
	/* Decimal, no sign, no leading zero, as Go's ParseCIDR wants. */
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p) ||
	    (p[0] == '0' && p[1] != '\0') || strlen(p) > 3)
		goto bad_bits;
	bits = atoi(p);
	if (bits > max)
		goto bad_bits;
	out->bits = bits;
	for (i = 0; i < 16; i++) {
		if (i * 8 >= bits)
			mask = 0;
		else if (i * 8 + 8 <= bits)
			mask = 0xff;
		else
			mask = (uint8_t)(0xff << (8 - (bits - i * 8)));
		if (out->addr[i] & (uint8_t)~mask)
			hb = 1;
		out->addr[i] &= mask;
	}
	if (host_bits != NULL)
		*host_bits = hb;
	return 0;
bad_ip:
	if (why != NULL)
		snprintf(why, whylen, "invalid IP address");
	return -1;
bad_bits:
	if (why != NULL)
		snprintf(why, whylen, "the prefix length must be 0 to %d",
		    out->v6 ? 128 : 32);
	return -1;
}

int
policy_cidr_match(const struct policy_cidr *c, const uint8_t addr[16], int v6)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
		0xff };
	const uint8_t *a = addr;
	int full, rest;

	if (v6 && !c->v6 && memcmp(addr, mapped, 12) == 0)
		a = addr + 12;
	else if (v6 != c->v6)
		return 0;
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(a, c->addr, (size_t)full) != 0)
		return 0;
	if (rest != 0 &&
	    ((a[full] ^ c->addr[full]) & (uint8_t)(0xff << (8 - rest))) != 0)
		return 0;
	return 1;
}

static void
ri_list(struct ald *a, const struct gw_node *n, const char *name,
    struct policy_cidr **out, size_t *nout, struct policy_tmpl **tout,
    size_t *ntout)
{
	char why[80], what[64];
	size_t i;
	int hb;

	if (n->type != GW_NODE_SEQ) {
		ferr(a, n, "%s must be a list of CIDRs, was %s", name, kind(n));
		return;
	}
	if (n->n == 0)
		return;
	if ((*out = calloc(n->n, sizeof(**out))) == NULL ||
	    (*tout = calloc(n->n, sizeof(**tout))) == NULL) {
		nomem(a);
		return;
	}
	snprintf(what, sizeof(what), "%s: %s", a->type, name);
	for (i = 0; i < n->n; i++) {
		const struct gw_node *it = &n->items[i];

		if (it->type != GW_NODE_SCALAR || gw_opts_node_is_null(it)) {
			ferr(
			    a, it, "a CIDR must be a string, was %s", kind(it));
			continue;
		}
		if (strstr(it->str, "${") != NULL) {
			if (policy_ld_tmpl(a->ld, it, what, &(*tout)[*ntout]) ==
			    -1)
				a->failed = 1;
			else
				(*ntout)++;
			continue;
		}
		if (policy_cidr_parse(
		        it->str, &(*out)[*nout], &hb, why, sizeof(why)) == -1) {
			ferr(a, it, "invalid CIDR \"%s\": %s (ERR_NGROK_362)",
			    it->str, why);
			continue;
		}
		if (hb)
			fwarn(a, it,
			    "CIDR \"%s\" has host bits set; it matches the "
			    "whole /%d network",
			    it->str, (*out)[*nout].bits);
		(*nout)++;
	}
}

static void
ri_allow(struct ald *a, const struct gw_node *n, struct action *act)
{
	struct action_restrict_ips *ri = &act->restrict_ips;

	ri_list(a, n, "allow", &ri->allow, &ri->nallow, &ri->allow_tmpl,
	    &ri->nallow_tmpl);
}

static void
ri_deny(struct ald *a, const struct gw_node *n, struct action *act)
{
	struct action_restrict_ips *ri = &act->restrict_ips;

	ri_list(a, n, "deny", &ri->deny, &ri->ndeny, &ri->deny_tmpl,
	    &ri->ndeny_tmpl);
}

static void
ri_ip_policies(struct ald *a, const struct gw_node *n, struct action *act)
{
	(void)act;
	ferr(a, n,
	    "ip_policies (ngrok IP Policy ids) are not supported by gw; list "
	    "the CIDRs in allow and deny");
}

static void
ri_defaults(struct action *act)
{
	act->restrict_ips.enforce = 1;
}

static void
ri_check(struct ald *a, struct action *act)
{
	const struct gw_node *allow = gw_opts_node_get(a->cfg, "allow");
	const struct gw_node *deny = gw_opts_node_get(a->cfg, "deny");
	const struct gw_node *at = a->cfg != NULL ? a->cfg : a->item;
	int nallow, ndeny;

	(void)act;
	nallow =
	    allow != NULL && allow->type == GW_NODE_SEQ ? (int)allow->n : 0;
	ndeny = deny != NULL && deny->type == GW_NODE_SEQ ? (int)deny->n : 0;
	if (gw_opts_node_get(a->cfg, "ip_policies") != NULL)
		return;
	if (nallow == 0 && ndeny == 0 &&
	    (allow == NULL || allow->type == GW_NODE_SEQ) &&
	    (deny == NULL || deny->type == GW_NODE_SEQ))
		ferr(a, at, "at least one CIDR to allow or deny is required");
	else if (nallow == 0 && ndeny != 0 &&
	    (allow == NULL || allow->type == GW_NODE_SEQ))
		ferr(a, deny,
		    "when specifying CIDRs to deny, you must specify at least "
		    "one CIDR to allow; use 0.0.0.0/0 and ::/0 to allow "
		    "everything else (ERR_NGROK_393)");
}

static const struct field restrict_ips_fields[] = {
	{ "enforce", F_BOOL, OFF(restrict_ips.enforce), 0, 0, 0, NULL },
	{ "allow", F_CUSTOM, 0, 0, 0, 0, ri_allow },
	{ "deny", F_CUSTOM, 0, 0, 0, 0, ri_deny },
	{ "ip_policies", F_CUSTOM, 0, 0, 0, 0, ri_ip_policies },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* url-rewrite, redirect */

static void
rw_from(struct ald *a, const struct gw_node *n, struct action *act)
{
	struct action_rewrite *rw = &act->rewrite;
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE eoff;
	int code;

	if (tmpl(a, n, "from", &rw->from) == -1)
		return;
	rw->has_from = 1;
	if (rw->from.nexpr != 0)
		return; /* compiled after interpolation, at run time */
	rw->from_re = pcre2_compile((PCRE2_SPTR)rw->from.src, rw->from.len,
	    PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &eoff, NULL);
	if (rw->from_re == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		policy_ld_error_at(a->ld, n, eoff,
		    "%s: from is not a valid regular expression: %s "
		    "(ERR_NGROK_3901)",
		    a->type, (const char *)msg);
		a->failed = 1;
		return;
	}
	/* JIT is an optimisation: without it matching still works. */
	(void)pcre2_jit_compile(rw->from_re, PCRE2_JIT_COMPLETE);
}

static void
rw_to(struct ald *a, const struct gw_node *n, struct action *act)
{
	tmpl(a, n, "to", &act->rewrite.to);
}

static void
rw_headers(struct ald *a, const struct gw_node *n, struct action *act)
{
	headers(a, n, &act->rewrite.headers, &act->rewrite.nheaders, 0);
}

/* $N in <to> must name a group that <from> has. */
static void
rw_check(struct ald *a, struct action *act)
{
	struct action_rewrite *rw = &act->rewrite;
	const struct gw_node *to = gw_opts_node_get(a->cfg, "to");
	uint32_t groups = 0;
	size_t i;
	unsigned long g;

	if (rw->to.src == NULL || to == NULL)
		return;
	if (rw->from_re != NULL)
		pcre2_pattern_info(
		    rw->from_re, PCRE2_INFO_CAPTURECOUNT, &groups);
	else if (rw->has_from)
		return; /* not known until run time */
	for (i = 0; i + 1 < rw->to.len; i++) {
		if (rw->to.src[i] != '$')
			continue;
		if (rw->to.src[i + 1] == '$') {
			i++;
			continue;
		}
		if (rw->to.src[i + 1] < '0' || rw->to.src[i + 1] > '9')
			continue;
		g = strtoul(rw->to.src + i + 1, NULL, 10);
		if (g > groups) {
			policy_ld_error_at(a->ld, to, i,
			    "%s: to refers to group $%lu but from has %s%u "
			    "group%s",
			    a->type, g, groups ? "only " : "", groups,
			    groups == 1 ? "" : "s");
			a->failed = 1;
			return;
		}
	}
}

static void
redirect_defaults(struct action *act)
{
	act->rewrite.status_code = 302;
}

static const struct field url_rewrite_fields[] = {
	{ "from", F_CUSTOM, 0, 0, 0, 0, rw_from },
	{ "to", F_CUSTOM, 0, 1, 0, 0, rw_to },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

static const struct field redirect_fields[] = {
	{ "from", F_CUSTOM, 0, 0, 0, 0, rw_from },
	{ "to", F_CUSTOM, 0, 1, 0, 0, rw_to },
	{ "status_code", F_INT, OFF(rewrite.status_code), 0, 300, 399, NULL },
	{ "headers", F_CUSTOM, 0, 0, 0, 0, rw_headers },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* basic-auth */

static void
ba_credentials(struct ald *a, const struct gw_node *n, struct action *act)
{
	struct action_basic_auth *ba = &act->basic_auth;
	const struct gw_node *it;
	const char *colon;
	char what[64];
	size_t i, plen;

	if (n->type != GW_NODE_SEQ) {
		ferr(a, n,
		    "credentials must be a list of \"user:password\" strings, "
		    "was %s",
		    kind(n));
		return;
	}
	if (n->n == 0 || n->n > ACTION_MAX_CREDENTIALS) {
		ferr(a, n,
		    "credentials must have between 1 and %d entries, had %zu "
		    "(ERR_NGROK_2215)",
		    ACTION_MAX_CREDENTIALS, n->n);
		return;
	}
	if ((ba->creds = calloc(n->n, sizeof(*ba->creds))) == NULL ||
	    (ba->cred_tmpl = calloc(n->n, sizeof(*ba->cred_tmpl))) == NULL) {
		nomem(a);
		return;
	}
	snprintf(what, sizeof(what), "%s: credentials", a->type);
	for (i = 0; i < n->n; i++) {
		it = &n->items[i];
		if (it->type != GW_NODE_SCALAR || gw_opts_node_is_null(it)) {
			ferr(a, it, "a credential must be a string, was %s",
			    kind(it));
			continue;
		}
		if (strstr(it->str, "${") != NULL) {
			if (policy_ld_tmpl(a->ld, it, what,
			        &ba->cred_tmpl[ba->ncred_tmpl]) == -1)
				a->failed = 1;
			else
				ba->ncred_tmpl++;
			continue;
		}
		if ((colon = strchr(it->str, ':')) == NULL) {
			ferr(a, it,
			    "a credential must be \"user:password\"; this one "
			    "has no ':'");
			continue;
		}
		if (colon == it->str) {
			ferr(a, it,
			    "the username cannot be empty (ERR_NGROK_359)");
			continue;
		}
		plen = strlen(colon + 1);
		if (plen < 8 || plen > 128) {
			ferr(a, it,
			    "the password must be 8 to 128 characters long, was "
			    "%zu (ERR_NGROK_360)",
			    plen);
			continue;
		}
		ba->creds[ba->ncreds].user =
		    strndup(it->str, (size_t)(colon - it->str));
		ba->creds[ba->ncreds].pass = strdup(colon + 1);
		ba->ncreds++;
		if (ba->creds[ba->ncreds - 1].user == NULL ||
		    ba->creds[ba->ncreds - 1].pass == NULL)
			nomem(a);
	}
}

static void
ba_realm(struct ald *a, const struct gw_node *n, struct action *act)
{
	const char *p;

	if (n->type != GW_NODE_SCALAR || gw_opts_node_is_null(n)) {
		ferr(a, n, "realm must be a string, was %s", kind(n));
		return;
	}
	/* It goes into WWW-Authenticate: Basic realm="...". */
	for (p = n->str; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			break;
	if (*p != '\0' || p - n->str > 128) {
		ferr(a, n,
		    "realm must be at most 128 printable ASCII characters "
		    "without '\"' or '\\'");
		return;
	}
	free(act->basic_auth.realm);
	if ((act->basic_auth.realm = strdup(n->str)) == NULL)
		nomem(a);
}

static void
ba_defaults(struct action *act)
{
	act->basic_auth.enforce = 1;
}

static void
ba_check(struct ald *a, struct action *act)
{
	if (act->basic_auth.realm == NULL &&
	    (act->basic_auth.realm = strdup("ngrok")) == NULL)
		nomem(a);
}

static const struct field basic_auth_fields[] = {
	{ "credentials", F_CUSTOM, 0, 1, 0, 0, ba_credentials },
	{ "realm", F_CUSTOM, 0, 0, 0, 0, ba_realm },
	{ "enforce", F_BOOL, OFF(basic_auth.enforce), 0, 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* log */

static void
log_metadata(struct ald *a, const struct gw_node *n, struct action *act)
{
	char what[64];

	if (n->type != GW_NODE_MAP) {
		ferr(a, n, "metadata must be a mapping, was %s", kind(n));
		return;
	}
	snprintf(what, sizeof(what), "%s: metadata", a->type);
	if (policy_ld_val(a->ld, n, what, &act->log.metadata) == -1)
		a->failed = 1;
}

static const struct field log_fields[] = {
	{ "metadata", F_CUSTOM, 0, 1, 0, 0, log_metadata },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* set-vars */

static int
ident_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	        *s == '_'))
		return 0;
	for (s++; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		        (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static void
sv_vars(struct ald *a, const struct gw_node *n, struct action *act)
{
	struct action_set_vars *sv = &act->set_vars;
	const struct gw_node *it;
	char what[96];
	size_t i;

	if (n->type != GW_NODE_SEQ) {
		ferr(a, n,
		    "vars must be a list of single-key mappings (- name: "
		    "value), was %s",
		    kind(n));
		return;
	}
	if (n->n == 0) {
		ferr(a, n, "vars cannot be empty (ERR_NGROK_2223)");
		return;
	}
	if ((sv->vars = calloc(n->n, sizeof(*sv->vars))) == NULL) {
		nomem(a);
		return;
	}
	for (i = 0; i < n->n; i++) {
		it = &n->items[i];
		if (it->type != GW_NODE_MAP || it->n != 1) {
			ferr(a, it,
			    "each entry of vars must be a mapping with one key "
			    "(- name: value)");
			continue;
		}
		if (!ident_ok(it->keys[0].str)) {
			ferr(a, &it->keys[0],
			    "invalid variable name \"%s\": use letters, digits "
			    "and '_'",
			    it->keys[0].str);
			continue;
		}
		snprintf(what, sizeof(what), "%s: vars.%s", a->type,
		    it->keys[0].str);
		if ((sv->vars[sv->n].name = strdup(it->keys[0].str)) == NULL) {
			nomem(a);
			return;
		}
		if (policy_ld_val(
		        a->ld, &it->items[0], what, &sv->vars[sv->n].val) == -1)
			a->failed = 1;
		sv->n++;
	}
}

static const struct field set_vars_fields[] = {
	{ "vars", F_CUSTOM, 0, 1, 0, 0, sv_vars },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* compress-response */

static const char *const compress_names[ACTION_COMPRESS_NALGS + 1] = { "br",
	"deflate", "gzip", "zstd", NULL };

static void
cp_algorithms(struct ald *a, const struct gw_node *n, struct action *act)
{
	struct action_compress_response *cp = &act->compress;
	const struct gw_node *it;
	const char *s;
	size_t i, j;
	int k;

	cp->nalgs = 0;
	if (n->type != GW_NODE_SEQ) {
		ferr(a, n, "algorithms must be a list, was %s", kind(n));
		return;
	}
	if (n->n == 0) {
		ferr(a, n, "algorithms cannot be empty (ERR_NGROK_2223)");
		return;
	}
	for (i = 0; i < n->n; i++) {
		it = &n->items[i];
		for (k = 0; k < ACTION_COMPRESS_NALGS; k++)
			if (it->type == GW_NODE_SCALAR &&
			    strcmp(it->str, compress_names[k]) == 0)
				break;
		if (k == ACTION_COMPRESS_NALGS && it->type == GW_NODE_SCALAR &&
		    strcmp(it->str, "compress") == 0) {
			ferr(a, it,
			    "algorithm \"compress\" (LZW) is not supported by "
			    "gw: use br, deflate, gzip or zstd");
			continue;
		}
		if (k == ACTION_COMPRESS_NALGS) {
			s = it->type == GW_NODE_SCALAR
			    ? policy_suggest(it->str, compress_names)
			    : NULL;
			if (it->type != GW_NODE_SCALAR)
				ferr(a, it,
				    "an algorithm must be a string, was %s",
				    kind(it));
			else if (s != NULL)
				ferr(a, it,
				    "unknown algorithm \"%s\" (did you mean "
				    "\"%s\"?)",
				    it->str, s);
			else
				ferr(a, it,
				    "unknown algorithm \"%s\": use br, deflate, "
				    "gzip or zstd",
				    it->str);
			continue;
		}
		for (j = 0; j < cp->nalgs; j++)
			if (cp->algs[j] == (enum action_compress_alg)k)
				break;
		if (j < cp->nalgs) {
			ferr(a, it,
			    "algorithms contains \"%s\" twice (ERR_NGROK_2231)",
			    it->str);
			continue;
		}
		cp->algs[cp->nalgs++] = (enum action_compress_alg)k;
	}
}

static void
cp_defaults(struct action *act)
{
	int k;

	for (k = 0; k < ACTION_COMPRESS_NALGS; k++)
		act->compress.algs[k] = (enum action_compress_alg)k;
	act->compress.nalgs = ACTION_COMPRESS_NALGS;
}

static const struct field compress_fields[] = {
	{ "algorithms", F_CUSTOM, 0, 0, 0, 0, cp_algorithms },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* circuit-breaker */

static void
cb_defaults(struct action *act)
{
	struct action_circuit_breaker *cb = &act->circuit_breaker;

	cb->error_threshold = 0.5;
	cb->volume_threshold = 10;
	cb->window_ns = 10 * NS_PER_S;
	cb->tripped_ns = 10 * NS_PER_S;
	cb->num_buckets = 10;
	cb->enforce = 1;
}

static void
cb_threshold(struct ald *a, const struct gw_node *n, struct action *act)
{
	double d;
	char got[80];

	shown(n, got, sizeof(got));
	if (plain_double(n, &d) == -1)
		ferr(a, n, "error_threshold must be a number, was %s", got);
	else if (!(d >= 0.0 && d <= 1.0))
		ferr(a, n,
		    "error_threshold must be between 0.0 and 1.0 inclusive, was "
		    "%s (ERR_NGROK_361)",
		    n->str);
	else
		act->circuit_breaker.error_threshold = d;
}

static const struct field circuit_breaker_fields[] = {
	{ "error_threshold", F_CUSTOM, 0, 0, 0, 0, cb_threshold },
	{ "volume_threshold", F_U64, OFF(circuit_breaker.volume_threshold), 0,
	    1, 2000000000, NULL },
	{ "window_duration", F_DUR, OFF(circuit_breaker.window_ns), 0, 1, 120,
	    NULL },
	{ "tripped_duration", F_DUR, OFF(circuit_breaker.tripped_ns), 0, 1, 120,
	    NULL },
	{ "num_buckets", F_INT, OFF(circuit_breaker.num_buckets), 0, 10, 10,
	    NULL },
	{ "enforce", F_BOOL, OFF(circuit_breaker.enforce), 0, 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* close-connection */

static const struct field no_fields[] = {
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* The table. */

#define TCP (1u << POLICY_TCP_CONNECT)
#define REQ (1u << POLICY_HTTP_REQUEST)
#define RES (1u << POLICY_HTTP_RESPONSE)

struct action_desc {
	const char *name;
	unsigned phases;
	int terminating;
	const struct field *fields;
	void (*defaults)(struct action *);
	void (*check)(struct ald *, struct action *);
};

/*
 * Indexed by enum action_type.  Where ngrok's pages and its action hub
 * disagree on phases (compress-response, restrict-ips), the union.
 */
static const struct action_desc descs[ACTION_NTYPES] = {
	[ACTION_RATE_LIMIT] = { "rate-limit", REQ, 0, rate_limit_fields,
	    rl_defaults, rl_check },
	[ACTION_DENY] = { "deny", TCP | REQ, 1, deny_fields, deny_defaults,
	    deny_check },
	[ACTION_CUSTOM_RESPONSE] = { "custom-response", REQ | RES, 1,
	    custom_response_fields, cr_defaults, NULL },
	[ACTION_ADD_HEADERS] = { "add-headers", REQ | RES, 0,
	    add_headers_fields, NULL, NULL },
	[ACTION_REMOVE_HEADERS] = { "remove-headers", REQ | RES, 0,
	    remove_headers_fields, NULL, NULL },
	[ACTION_RESTRICT_IPS] = { "restrict-ips", TCP | REQ | RES, 0,
	    restrict_ips_fields, ri_defaults, ri_check },
	[ACTION_URL_REWRITE] = { "url-rewrite", REQ, 0, url_rewrite_fields,
	    NULL, rw_check },
	[ACTION_REDIRECT] = { "redirect", REQ, 0, redirect_fields,
	    redirect_defaults, rw_check },
	[ACTION_BASIC_AUTH] = { "basic-auth", REQ, 0, basic_auth_fields,
	    ba_defaults, ba_check },
	[ACTION_LOG] = { "log", TCP | REQ | RES, 0, log_fields, NULL, NULL },
	[ACTION_SET_VARS] = { "set-vars", TCP | REQ | RES, 0, set_vars_fields,
	    NULL, NULL },
	[ACTION_CLOSE_CONNECTION] = { "close-connection", TCP | REQ, 1,
	    no_fields, NULL, NULL },
	[ACTION_COMPRESS_RESPONSE] = { "compress-response", REQ | RES, 0,
	    compress_fields, cp_defaults, NULL },
	[ACTION_CIRCUIT_BREAKER] = { "circuit-breaker", REQ, 0,
	    circuit_breaker_fields, cb_defaults, NULL },
};

/* ngrok actions that gw knows of and refuses by name. */
static const char *const unsupported[] = { "jwt-validation", "oauth",
	"openid-connect", "oidc", "verify-webhook", "forward-internal",
	"http-request", "owasp-crs-request", "owasp-crs-response",
	"request-body-find-replace", "response-body-find-replace",
	"sse-find-replace", "terminate-tls", NULL };

const char *
action_type_name(enum action_type t)
{
	return (unsigned)t < ACTION_NTYPES ? descs[t].name : "?";
}

int
action_is_terminating(enum action_type t)
{
	return (unsigned)t < ACTION_NTYPES && descs[t].terminating;
}

unsigned
action_phases(enum action_type t)
{
	return (unsigned)t < ACTION_NTYPES ? descs[t].phases : 0;
}

/* "on_tcp_connect or on_http_request": where <phases> allows it. */
static void
phase_list(unsigned phases, char *buf, size_t len)
{
	size_t n = 0;
	int ph, k = 0, total = 0;

	for (ph = 0; ph < POLICY_NPHASES; ph++)
		total += (phases >> ph) & 1;
	buf[0] = '\0';
	for (ph = 0; ph < POLICY_NPHASES; ph++) {
		if (!((phases >> ph) & 1))
			continue;
		k++;
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s",
		    k == 1           ? ""
		        : k == total ? " or "
		                     : ", ",
		    policy_phase_name((enum policy_phase)ph));
		if (n >= len)
			return;
	}
}

/* Looks up <type> and reports it when it is not a gw action. */
static int
find_type(struct policy_ld *ld, const struct gw_node *t)
{
	const char *names[ACTION_NTYPES + 16], *s;
	size_t i, n = 0;

	for (i = 0; i < ACTION_NTYPES; i++)
		if (strcmp(t->str, descs[i].name) == 0)
			return (int)i;
	for (i = 0; unsupported[i] != NULL; i++)
		if (strcmp(t->str, unsupported[i]) == 0) {
			policy_ld_error(ld, t,
			    "action \"%s\" is not supported by gw", t->str);
			return -1;
		}
	for (i = 0; i < ACTION_NTYPES; i++)
		names[n++] = descs[i].name;
	for (i = 0; unsupported[i] != NULL; i++)
		names[n++] = unsupported[i];
	names[n] = NULL;
	if ((s = policy_suggest(t->str, names)) != NULL)
		policy_ld_error(ld, t,
		    "unknown action \"%s\" (did you mean \"%s\"?)", t->str, s);
	else
		policy_ld_error(
		    ld, t, "unknown action \"%s\" (ERR_NGROK_2201)", t->str);
	return -1;
}

/* Parses <cfg> against the field table of <d>. */
static void
load_config(struct ald *a, const struct action_desc *d, struct action *act)
{
	const char *names[16];
	const struct field *f;
	const struct gw_node *at;
	char missing[200];
	size_t i, n, len, nmissing;
	const char *s;

	if (a->cfg != NULL && a->cfg->type != GW_NODE_MAP) {
		ferr(a, a->cfg,
		    "config must be a mapping, was %s (ERR_NGROK_2203)",
		    kind(a->cfg));
		return;
	}
	for (n = 0; d->fields[n].name != NULL && n < 15; n++)
		names[n] = d->fields[n].name;
	names[n] = NULL;
	for (i = 0; a->cfg != NULL && i < a->cfg->n; i++) {
		for (f = d->fields; f->name != NULL; f++)
			if (strcmp(f->name, a->cfg->keys[i].str) == 0)
				break;
		if (f->name != NULL) {
			parse_field(a, f, &a->cfg->items[i], act);
			continue;
		}
		if (n == 0) {
			ferr(a, &a->cfg->keys[i],
			    "takes no config, but has \"%s\"",
			    a->cfg->keys[i].str);
			continue;
		}
		s = policy_suggest(a->cfg->keys[i].str, names);
		if (s != NULL)
			ferr(a, &a->cfg->keys[i],
			    "unknown config key \"%s\" (did you mean \"%s\"?)",
			    a->cfg->keys[i].str, s);
		else
			ferr(a, &a->cfg->keys[i], "unknown config key \"%s\"",
			    a->cfg->keys[i].str);
	}
	at = a->cfg != NULL ? a->cfg : a->item;
	missing[0] = '\0';
	nmissing = 0;
	for (f = d->fields; f->name != NULL; f++) {
		if (!f->required || gw_opts_node_get(a->cfg, f->name) != NULL)
			continue;
		len = strlen(missing);
		snprintf(missing + len, sizeof(missing) - len, "%s\"%s\"",
		    nmissing ? ", " : "", f->name);
		nmissing++;
	}
	if (nmissing != 0)
		ferr(a, at,
		    "config is missing required key%s %s (ERR_NGROK_2234)",
		    nmissing > 1 ? "s" : "", missing);
	if (d->check != NULL)
		d->check(a, act);
}

static const char *const action_keys[] = { "type", "config", NULL };

int
action_load(
    struct policy_ld *ld, const struct gw_node *item, struct action *act)
{
	const struct gw_node *type = NULL;
	enum policy_phase ph = policy_ld_phase(ld);
	const struct action_desc *d;
	struct ald a;
	char where[80];
	const char *s;
	size_t i;
	int t;

	memset(act, 0, sizeof(*act));
	act->type = ACTION_NTYPES;
	act->pos.line = item->line;
	act->pos.col = item->col;
	memset(&a, 0, sizeof(a));
	a.ld = ld;
	a.item = item;
	if (item->type != GW_NODE_MAP) {
		policy_ld_error(ld, item,
		    "an action must be a mapping with type and config, got %s",
		    kind(item));
		return -1;
	}
	for (i = 0; i < item->n; i++) {
		if (strcmp(item->keys[i].str, "type") == 0)
			type = &item->items[i];
		else if (strcmp(item->keys[i].str, "config") == 0)
			a.cfg = &item->items[i];
		else if ((s = policy_suggest(item->keys[i].str, action_keys)) !=
		    NULL)
			policy_ld_error(ld, &item->keys[i],
			    "unknown action key \"%s\" (did you mean \"%s\"?)",
			    item->keys[i].str, s);
		else
			policy_ld_error(ld, &item->keys[i],
			    "unknown action key \"%s\"", item->keys[i].str);
	}
	if (type == NULL) {
		policy_ld_error(ld, item, "an action needs a type");
		return -1;
	}
	if (type->type != GW_NODE_SCALAR || gw_opts_node_is_null(type)) {
		policy_ld_error(ld, type,
		    "an action's type must be a string, got %s", kind(type));
		return -1;
	}
	if ((t = find_type(ld, type)) == -1)
		return -1;
	d = &descs[t];
	act->type = (enum action_type)t;
	act->pos.line = type->line;
	act->pos.col = type->col;
	a.type = d->name;
	if (gw_opts_node_is_null(a.cfg))
		a.cfg = NULL;
	if (!((d->phases >> ph) & 1)) {
		phase_list(d->phases, where, sizeof(where));
		policy_ld_error(ld, type,
		    "action type \"%s\" is not supported for %s traffic policy "
		    "rules; use it in %s (ERR_NGROK_2202)",
		    d->name, policy_phase_name(ph), where);
		a.failed = 1;
	}
	if (d->defaults != NULL)
		d->defaults(act);
	load_config(&a, d, act);
	return a.failed ? -1 : 0;
}

static void
headers_fini(struct action_header *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		policy_tmpl_fini(&h[i].value);
	}
	free(h);
}

static void
tmpls_fini(struct policy_tmpl *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		policy_tmpl_fini(&t[i]);
	free(t);
}

void
action_fini(struct action *act)
{
	size_t i;

	if (act == NULL)
		return;
	switch (act->type) {
	case ACTION_RATE_LIMIT:
		free(act->rate_limit.name);
		for (i = 0; i < act->rate_limit.nbucket_keys; i++)
			policy_expr_fini(&act->rate_limit.bucket_keys[i]);
		free(act->rate_limit.bucket_keys);
		break;
	case ACTION_CUSTOM_RESPONSE:
		headers_fini(act->custom_response.headers,
		    act->custom_response.nheaders);
		policy_tmpl_fini(&act->custom_response.body);
		break;
	case ACTION_ADD_HEADERS:
		headers_fini(
		    act->add_headers.headers, act->add_headers.nheaders);
		break;
	case ACTION_REMOVE_HEADERS:
		for (i = 0; i < act->remove_headers.n; i++)
			free(act->remove_headers.names[i]);
		free(act->remove_headers.names);
		break;
	case ACTION_RESTRICT_IPS:
		free(act->restrict_ips.allow);
		free(act->restrict_ips.deny);
		tmpls_fini(act->restrict_ips.allow_tmpl,
		    act->restrict_ips.nallow_tmpl);
		tmpls_fini(
		    act->restrict_ips.deny_tmpl, act->restrict_ips.ndeny_tmpl);
		break;
	case ACTION_URL_REWRITE:
	case ACTION_REDIRECT:
		policy_tmpl_fini(&act->rewrite.from);
		pcre2_code_free(act->rewrite.from_re);
		policy_tmpl_fini(&act->rewrite.to);
		headers_fini(act->rewrite.headers, act->rewrite.nheaders);
		break;
	case ACTION_BASIC_AUTH:
		for (i = 0; i < act->basic_auth.ncreds; i++) {
			free(act->basic_auth.creds[i].user);
			free(act->basic_auth.creds[i].pass);
		}
		free(act->basic_auth.creds);
		tmpls_fini(
		    act->basic_auth.cred_tmpl, act->basic_auth.ncred_tmpl);
		free(act->basic_auth.realm);
		break;
	case ACTION_LOG:
		policy_val_fini(&act->log.metadata);
		break;
	case ACTION_SET_VARS:
		for (i = 0; i < act->set_vars.n; i++) {
			free(act->set_vars.vars[i].name);
			policy_val_fini(&act->set_vars.vars[i].val);
		}
		free(act->set_vars.vars);
		break;
	default:
		break;
	}
	memset(act, 0, sizeof(*act));
}
