/* SPDX-License-Identifier: MIT */
/*
 * gw-policy's engine: what the daemon (serve.c), the dry run (eval.c) and
 * the unit tests run per request.  It holds the policy in force, the
 * rate-limit buckets and circuit-breaker windows (which outlive a reload
 * when their rule is unchanged), and per-rule counts of run-time errors.
 * engine_eval() walks one phase of the policy for a struct policy_req as
 * ngrok's Traffic Policy says (rules in order, all expressions must hold,
 * actions in order, terminating actions and rejections end the phase) and
 * returns a decision; engine_answer() writes it as gw-proxy's answer line
 * (docs/PROTOCOL.md §8.3).  Everything an evaluation builds lives in one
 * arena reset per call, and the engine's vectors are reused, so a warm
 * engine allocates nothing per request.  engine.c walks the rules and
 * writes answers, actions_run.c runs the actions; the declarations after
 * "Internals" are shared by those two files only.
 */
#ifndef GW_POLICY_ENGINE_H
#define GW_POLICY_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cel.h"
#include "policy.h"
#include "ratelimit.h"

/* Rate-limit buckets kept when --max-buckets is not given. */
#define ENGINE_MAX_BUCKETS_DEFAULT 100000

/*
 * Error codes of answers (docs/PROTOCOL.md §6).  GW_UNAUTHORIZED
 * (basic-auth, 401) and GW_CIRCUIT_OPEN (circuit-breaker, 503) are gw's
 * additions for refusals that had no code.
 */
#define ENGINE_E_RATE_LIMITED "GW_RATE_LIMITED"
#define ENGINE_E_DENIED       "GW_DENIED"
#define ENGINE_E_UNAUTHORIZED "GW_UNAUTHORIZED"
#define ENGINE_E_CIRCUIT_OPEN "GW_CIRCUIT_OPEN"

enum engine_action { ENGINE_CONTINUE, ENGINE_RESPOND, ENGINE_CLOSE };

/* "continue", "respond", "close". */
const char *engine_action_name(enum engine_action);

/* A header of a decision; strings are not NUL-terminated. */
struct engine_hdr {
	const char *name; /* lower case as policies write them */
	size_t nlen;
	const char *value;
	size_t vlen;
};

/*
 * What one phase decided.  Every pointer is into the engine (its arena,
 * its vectors or the policy) and stays valid until the next engine_eval()
 * or engine_set_policy().
 */
struct engine_decision {
	enum policy_phase phase;
	enum engine_action action;

	/* respond: the response to send in place of the upstream's */
	int status;
	const struct engine_hdr *headers;
	size_t nheaders;
	const char *body;
	size_t body_len;
	const char *error_code; /* respond and close: NULL when no error */
	const char *error_message;
	/*
	 * A refusing rate-limit's name: the answer's error_message is then
	 * "rate limit \"<name>\" exceeded", built only when it is written.
	 */
	const char *limit_name;

	/*
	 * continue: header edits as gw-proxy applies them (remove, then set,
	 * where a set name replaces every header of that name): <set> holds
	 * the final values of each name an action added to, <remove> the
	 * names that actions removed and none re-added.
	 */
	const struct engine_hdr *set;
	size_t nset;
	const char *const *remove;
	size_t nremove;
	const char *rewrite_url; /* path[?query] after url-rewrite, or NULL */
	const char *compress;    /* compress-response's algorithm, or NULL */

	/* what happened, for events, the dry run and its summary */
	const struct policy_rule *const *matched; /* in evaluation order */
	size_t nmatched;
	const struct policy_rule *rule; /* whose action ended the phase */
	enum action_type by;            /* that action, when rule != NULL */
	const char *logs; /* "{…},{…}": log actions' output, or NULL */
	size_t logs_len;
	const char *ip_decision;   /* restrict-ips: "allow", "block" or NULL */
	const char *auth_decision; /* basic-auth: "allow", "block" or NULL */
	const char *auth_user;     /* the username presented, or NULL */
	/* a rate-limit with enforce: false found its bucket full */
	const struct policy_rule *monitor_limited;
	unsigned errors; /* run-time errors during this evaluation */
};

struct engine;

/*
 * Returns an engine without a policy whose rate-limit table holds at most
 * <max_buckets> buckets, or NULL with errno set.  The caller owns it.
 */
struct engine *engine_new(size_t max_buckets);
/* Frees the engine and its policy; NULL accepted. */
void engine_free(struct engine *);

/*
 * Puts <p> in force, taking ownership, and frees the previous policy.
 * Rate-limit buckets stay (a rule's limiter id is a hash of its
 * configuration, so an unchanged rule finds its buckets again), and so
 * does the window of a circuit-breaker whose rule name and configuration
 * are unchanged.  Error counts start again.  Returns 0, or -1 (ENOMEM)
 * with <p> not taken and the old policy still in force.
 */
int engine_set_policy(struct engine *, struct policy *p);
/* The policy in force, or NULL. */
const struct policy *engine_policy(const struct engine *);

/*
 * The phases gw-proxy must ask about, as bits (1 << phase): those with
 * rules, plus on_http_response when a circuit-breaker needs to see
 * response statuses.
 */
unsigned engine_phases(const struct engine *);

/*
 * Evaluates phase req->phase of the policy in force for <req>, which the
 * caller fills (policy.h).  req->now_ns 0 means the wall clock.  The
 * engine edits <req> while it runs (vars.*, actions.ngrok.*, headers and
 * URL as actions change them, pointing into engine memory), so the
 * caller refills it for another evaluation.  Never fails: a run-time
 * error in an expression makes its rule not match, an error in a
 * template skips the action that needed it (basic-auth and restrict-ips
 * fail closed instead), and each is counted and logged once per rule.
 * Returns the decision, valid as struct engine_decision says.
 */
const struct engine_decision *
engine_eval(struct engine *, struct policy_req *req);

/*
 * Appends <d> as gw-proxy's answer to question <id>, without newline:
 * exactly {"id":N,"action":"continue"} when no rule matched, which
 * gw-proxy recognises without parsing.  Returns 0, or -1 with the buffer
 * unchanged (ENOBUFS, ENOMEM).
 */
int
engine_answer(const struct engine_decision *d, uint64_t id, struct gw_buf *b);

/*
 * Appends the rules_matched names of <d> as JSON array items (no
 * brackets), a comma first unless <first>.  Returns 0 or -1.
 */
int engine_put_matched(
    const struct engine_decision *d, int first, struct gw_buf *b);

/* Run-time errors counted for rule <i> of <phase>, and for all rules. */
uint64_t
engine_rule_errors(const struct engine *, enum policy_phase phase, size_t i);
uint64_t engine_errors(const struct engine *);
/* The rate-limit table, for statistics (rl_size, rl_evictions). */
const struct rl_table *engine_ratelimits(const struct engine *);

/*
 * Internals shared by engine.c and actions_run.c.
 */

/* What running an action says about the phase. */
enum engine_step {
	ENGINE_NEXT, /* go on with the next action or rule */
	ENGINE_END   /* the action ended the phase with a decision */
};

/* Flags of engine_render(). */
#define ENGINE_URL_ESCAPE    0x1 /* %-escape what a URL cannot carry */
#define ENGINE_DOLLAR_ESCAPE 0x2 /* "$" -> "$$" for a PCRE2 replacement */

/* A header view: the request's or the response's headers as edited. */
struct engine_hview {
	const struct policy_hdr **reqp; /* where the request points at it */
	size_t *reqn;
	struct policy_hdr *v; /* engine-owned copy once edited */
	size_t n, cap;
	int copied;
};

/* A header name an action added to or removed, per view. */
struct engine_touch {
	const char *name; /* lower case, NUL-terminated, in the policy */
	int side;         /* 0 request headers, 1 response headers */
};

/* Slots of the regex cache for templated from: patterns. */
#define ENGINE_RE_CACHE 8
/* Circuit breakers tracked at once; a bit each in a uint64_t. */
#define ENGINE_MAX_BREAKERS 64
#define ENGINE_CB_BUCKETS   10
/* Connections remembered between a request and its response. */
#define ENGINE_CB_CONNS 4096

struct engine_breaker {
	uint64_t key; /* rl_hash of the rule name and configuration */
	int live;     /* referenced by the policy in force */
	uint64_t bucket_ns;
	uint64_t epoch[ENGINE_CB_BUCKETS]; /* now / bucket_ns of each slot */
	uint32_t total[ENGINE_CB_BUCKETS], errors[ENGINE_CB_BUCKETS];
	int64_t tripped_until; /* ns; 0 when closed */
	const struct action_circuit_breaker *cfg;
};

struct engine_cb_ref {
	const struct action *act;
	int idx; /* into breakers */
};

struct engine_cb_conn {
	uint64_t key;  /* hash of the client connection */
	uint64_t mask; /* breakers the request passed */
};

struct engine_rule_state {
	uint64_t errors;
	int logged;
};

struct engine_re {
	const struct action *act;
	char *pat;
	pcre2_code *re;
};

struct engine {
	struct policy *policy;
	struct rl_table *rl;
	struct cel_arena arena;
	struct cel_ctx ctx;
	struct engine_rule_state *rs[POLICY_NPHASES];
	uint64_t nerrors;
	unsigned phases;

	/* per evaluation */
	struct policy_req *req;
	const struct policy_rule *rule; /* the rule being run */
	size_t rule_idx;
	struct engine_decision d;
	struct engine_hview hv[2];
	struct engine_touch *touch;
	size_t ntouch, captouch;
	struct policy_var *vars;
	size_t nvars, capvars;
	const struct policy_rule **matched;
	size_t nmatched, capmatched;
	struct engine_hdr *rhdr; /* respond headers */
	size_t nrhdr, caprhdr;
	struct engine_hdr *set;
	size_t capset;
	const char **remove;
	size_t capremove;
	struct gw_buf logs;
	struct gw_buf scratch; /* engine_render() */
	struct gw_buf jbuf;    /* engine_string(), bucket keys */
	int rewritten;
	uint64_t cb_pass; /* breakers this request passed */

	/* regular expressions */
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_code *whole_re; /* matches a whole URL: redirect without from */
	struct engine_re re_cache[ENGINE_RE_CACHE];
	unsigned re_next;

	/* circuit breakers */
	struct engine_breaker breakers[ENGINE_MAX_BREAKERS];
	struct engine_cb_ref *cb_refs;
	size_t ncb_refs;
	struct engine_cb_conn *cb_conns; /* ENGINE_CB_CONNS slots */
};

/*
 * Grows the vector *<v> of <*cap> items of <size> bytes to hold at least
 * <n>.  Returns 0, or -1 (ENOMEM) leaving it unchanged.
 */
int engine_grow(void **v, size_t *cap, size_t n, size_t size);

/*
 * Counts a run-time error of the rule being run and logs it the first
 * time for that rule: "file:line:col: rule "name": <what>: <why>", at
 * <pos> (NULL: the rule's).  Returns -1.
 */
int engine_fail(struct engine *, const struct policy_pos *pos, const char *what,
    const char *why);
/*
 * <v> as text for ${...} and bucket keys: CEL's string() form, or JSON
 * for null, lists and maps.  Returns 0 with <s>/<n> set (arena or <v>'s
 * memory, not NUL-terminated), or -1 (ENOMEM, EINVAL).
 */
int engine_string(
    struct engine *, const struct cel_value *v, const char **s, size_t *n);

/*
 * Renders template <t> into a NUL-terminated string in the arena
 * (ENGINE_URL_ESCAPE, ENGINE_DOLLAR_ESCAPE apply to what ${...} gives,
 * not to literal text).  Returns 0 with <out>/<len> set, or -1 after
 * engine_fail() naming <what>.
 */
int engine_render(struct engine *, const struct policy_tmpl *t, unsigned flags,
    const char *what, const char **out, size_t *len);
/*
 * Builds the value of <v> in the arena: constants as they are, a string
 * that is exactly one ${...} with the expression's own type, any other
 * string rendered.  Returns 0, or -1 after engine_fail().
 */
int engine_value(struct engine *, const struct policy_val *v, const char *what,
    struct cel_value *out);
/* Copies <n> bytes into the arena, NUL-terminated; NULL on ENOMEM. */
char *engine_strdup(struct engine *, const char *s, size_t n);
/* A printf into the arena; NULL on failure. */
char *engine_printf(struct engine *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Header views: the values of <name> (any case); edits. */
struct engine_hview *engine_view(struct engine *, int side);
int
engine_view_add(struct engine *, int side, const char *name, const char *value);
void engine_view_remove(struct engine *, int side, const char *name);
/* Records that an action changed header <name> on <side>. */
int engine_touch(struct engine *, int side, const char *name);

/* Adds a header to the response being decided.  Returns 0 or -1. */
int engine_respond_header(struct engine *, const char *name, size_t nlen,
    const char *value, size_t vlen);
/*
 * Ends the phase with a response (<error_code> may be NULL) or a closed
 * connection, decided by the current rule's action <a>.  Returns
 * ENGINE_END.
 */
enum engine_step engine_respond(struct engine *, const struct action *a,
    int status, const char *error_code);
enum engine_step
engine_close(struct engine *, const struct action *a, const char *error_code);

/* The full URL of the request (url.raw, or built from its parts). */
const char *engine_url(struct engine *);
/* The first value of request header <name> (any case), or NULL. */
const char *engine_req_header(struct engine *, const char *name);

/* Runs action <a> of the current rule.  Never fails (see engine_eval). */
enum engine_step engine_run_action(struct engine *, const struct action *a);
/* The actions that live in their own files (actions_url.c, breaker.c). */
enum engine_step engine_url_rewrite(struct engine *, const struct action *a);
enum engine_step engine_redirect(struct engine *, const struct action *a);
enum engine_step
engine_circuit_breaker(struct engine *, const struct action *a);
/*
 * Sets actions.ngrok.<action>.error.code to <c> and .error.message (the
 * next result) to <msg>.
 */
void engine_set_error(
    struct engine *, enum vars_result code, const char *c, const char *msg);
/*
 * 1 when <v> (<len> bytes) may be a header value (no CR, LF or NUL);
 * else 0 after engine_fail() naming <what> at <pos>.
 */
int engine_header_value_ok(struct engine *, const struct policy_pos *pos,
    const char *what, const char *v, size_t len);
/*
 * Renders configured headers into the response being made.  Returns 0,
 * or -1 after engine_fail() (the caller drops what was added).
 */
int engine_respond_headers(struct engine *, const struct action_header *h,
    size_t n, const char *what, int *has_type);
/* Feeds a response status to the breakers the request passed. */
void engine_cb_response(struct engine *);
/* At the end of a request phase that continued: remember the breakers. */
void engine_cb_remember(struct engine *);
/* Rebuilds the breaker table for the policy <p>.  Returns 0 or -1. */
int engine_cb_rebind(struct engine *, const struct policy *p);

#endif
