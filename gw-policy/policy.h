/* SPDX-License-Identifier: MIT */
/*
 * gw-policy's in-memory traffic policy (ngrok's Traffic Policy format, see
 * docs and reference/ngrok-traffic-policy.md): what policy_load() makes of
 * a policy.yml or policy.json once every phase, rule, expression, action
 * and ${...} template has been checked and compiled, and what the engine
 * (serve, eval) walks per request.  The loader never stops at the first
 * problem: it collects every error and warning with its file position, so
 * that "gw-policy check" can print them all.  This header also declares
 * the CEL environment of ngrok's variables and request functions
 * (vars.c) and the request data they are read from (struct policy_req).
 * Ownership is simple: a struct policy owns everything it points to,
 * including the CEL environments its programs were compiled against, and
 * policy_free() releases it all.
 */
#ifndef GW_POLICY_POLICY_H
#define GW_POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "cel.h"
#include "error.h"

struct gw_node;

/* Diagnostics. */

/* Records kept by one load; later problems are counted, not stored. */
#define POLICY_MAX_DIAGS 200

/* One problem found in a policy file: "file:line:col: message". */
struct policy_diag {
	struct gw_error err; /* err.usage is never set */
	int warning;         /* 1: reported, but the policy still loads */
};

/*
 * Every problem one load found, sorted by position (then by the order in
 * which they were found).  The caller owns the struct and initialises it
 * with policy_errors_init(); the records belong to it.
 */
struct policy_errors {
	struct policy_diag *v;
	size_t n;         /* records in v */
	size_t nerrors;   /* errors found, including any not stored */
	size_t nwarnings; /* warnings found, including any not stored */
};

/* Empties <errs> before its first use. */
void policy_errors_init(struct policy_errors *);
/* Frees the records and empties <errs>; NULL accepted. */
void policy_errors_fini(struct policy_errors *);

/* Phases, rules, expressions, templates. */

enum policy_phase {
	POLICY_TCP_CONNECT,
	POLICY_HTTP_REQUEST,
	POLICY_HTTP_RESPONSE,
	POLICY_NPHASES
};

/* "on_tcp_connect", "on_http_request", "on_http_response". */
const char *policy_phase_name(enum policy_phase);

/* A position in the policy file, 1-based; the column counts characters. */
struct policy_pos {
	int line, col;
};

/* A compiled CEL expression: a rule's expression or a bucket key. */
struct policy_expr {
	char *src; /* the expression as written (YAML decoded) */
	struct cel_program *prog;
	enum cel_type type;    /* cel_program_type(): CEL_BOOL, CEL_DYN, ... */
	struct policy_pos pos; /* where the scalar holding it starts */
};

/* A piece of a template: literal text, or a ${...} expression. */
struct policy_seg {
	const char *text; /* points into the template's src; not terminated */
	size_t len;
	struct cel_program *prog; /* NULL for literal text */
	struct policy_pos pos;    /* expressions: their first character */
};

/*
 * A config string that may embed ${<CEL>} (ngrok's CEL interpolation).
 * The expression ends at the '}' that closes it, counting braces and
 * skipping CEL string literals, so "${ {'a': '}'}['a'] }" is one
 * expression.  ngrok documents no escape for a literal "${", and gw
 * invents none.  A string without "${" is one literal segment (or none
 * when empty), so the engine can use src directly when nexpr is 0.
 */
struct policy_tmpl {
	char *src; /* the whole string, NUL-terminated */
	size_t len;
	struct policy_seg *seg;
	size_t nseg;
	size_t nexpr; /* segments that are expressions */
	/*
	 * Exactly one ${...} and nothing else: set-vars keeps the value's
	 * own type instead of making it a string.
	 */
	int whole;
	struct policy_pos pos;
};

/*
 * A structured config value (set-vars values, log metadata): YAML's
 * null, booleans, integers and floats as constants, every string as a
 * template, and lists and maps of those.
 */
enum policy_val_kind {
	POLICY_VAL_NULL,
	POLICY_VAL_BOOL,
	POLICY_VAL_INT,
	POLICY_VAL_DOUBLE,
	POLICY_VAL_STRING,
	POLICY_VAL_LIST,
	POLICY_VAL_MAP
};

struct policy_val {
	enum policy_val_kind kind;
	union {
		int b;
		int64_t i;
		double d;
		struct policy_tmpl tmpl; /* POLICY_VAL_STRING */
		struct {
			char **keys; /* MAP: n keys; NULL for a list */
			struct policy_val *items;
			size_t n;
		} c; /* POLICY_VAL_LIST, POLICY_VAL_MAP */
	};
};

/* Nesting limit of a policy_val (ngrok's ERR_NGROK_2250). */
#define POLICY_VAL_MAX_DEPTH 10

/* CIDRs (restrict-ips). */

/*
 * A network in binary form: IPv4 networks use the first 4 bytes of
 * <addr>.  Host bits are always cleared.
 */
struct policy_cidr {
	uint8_t addr[16];
	int v6;
	int bits; /* prefix length: 0-32 or 0-128 */
};

/*
 * Parses "10.0.0.0/8" or "2001:db8::/32" strictly: dotted-quad IPv4
 * without leading zeros, IPv6 as inet_pton(3) takes it, a decimal prefix
 * length in range; a bare address is refused.  Host bits set
 * ("10.0.0.1/8") are accepted, as Go's net.ParseCIDR accepts them, and
 * cleared; *<host_bits> (may be NULL) then says so.  Returns 0, or -1
 * with a reason in <why> (<whylen> bytes) when <why> is not NULL.
 */
int policy_cidr_parse(const char *s, struct policy_cidr *out, int *host_bits,
    char *why, size_t whylen);
/*
 * Parses an IPv4 or IPv6 address into 16 bytes (IPv4 in the first 4).
 * Returns 0, or -1 when <s> is not an address.
 */
int policy_ip_parse(const char *s, uint8_t addr[16], int *v6);
/*
 * Whether the address <addr> (as policy_ip_parse() gives it) lies in
 * <cidr>.  An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4
 * networks too.  Returns 1 or 0.
 */
int policy_cidr_match(
    const struct policy_cidr *cidr, const uint8_t addr[16], int v6);

/* Actions. */

enum action_type {
	ACTION_RATE_LIMIT,
	ACTION_DENY,
	ACTION_CUSTOM_RESPONSE,
	ACTION_ADD_HEADERS,
	ACTION_REMOVE_HEADERS,
	ACTION_RESTRICT_IPS,
	ACTION_URL_REWRITE,
	ACTION_REDIRECT,
	ACTION_BASIC_AUTH,
	ACTION_LOG,
	ACTION_SET_VARS,
	ACTION_CLOSE_CONNECTION,
	ACTION_COMPRESS_RESPONSE,
	ACTION_CIRCUIT_BREAKER,
	ACTION_NTYPES
};

/* The type as written in a policy ("rate-limit"). */
const char *action_type_name(enum action_type);
/*
 * Whether the action always ends the phase when it runs (custom-response,
 * deny, close-connection).  Actions that end it only when they reject
 * (rate-limit, restrict-ips, ...) are not counted.
 */
int action_is_terminating(enum action_type);
/* Bit (1 << phase) for each phase the action may appear in. */
unsigned action_phases(enum action_type);

/* A header to add: lower-case name, templated value. */
struct action_header {
	char *name;
	struct policy_tmpl value;
};

/* At most this many headers, credentials, bucket keys, ... per action. */
#define ACTION_MAX_HEADERS     10
#define ACTION_MAX_CREDENTIALS 10
#define ACTION_MAX_BUCKET_KEYS 10

struct action_rate_limit {
	char *name;
	int enforce;       /* default 1 */
	uint64_t capacity; /* requests per window, 1..2e9 */
	uint64_t rate_ns;  /* the window: a multiple of 10s, 60s..24h */
	struct policy_expr *bucket_keys; /* bare CEL, not templates */
	size_t nbucket_keys;             /* 1..10 */
	/*
	 * rl_hash() of name, capacity, rate and keys: ratelimit.c's limiter
	 * id, so that an unchanged limiter keeps its buckets over a reload.
	 */
	uint64_t limiter;
};

struct action_deny {
	int status_code; /* default 403; unused in on_tcp_connect */
};

struct action_custom_response {
	int status_code; /* default 200 */
	struct action_header *headers;
	size_t nheaders;
	/* The legacy "content" key fills it when "body" is absent. */
	struct policy_tmpl body;
	int has_body;
};

struct action_add_headers {
	struct action_header *headers; /* 1..10 */
	size_t nheaders;
};

struct action_remove_headers {
	char **names; /* lower case, 1..10 */
	size_t n;
};

struct action_restrict_ips {
	int enforce; /* default 1 */
	struct policy_cidr *allow, *deny;
	size_t nallow, ndeny;
	/*
	 * Entries with ${...}, parsed as CIDRs by the engine after
	 * interpolation (an invalid result is then a run-time error).
	 */
	struct policy_tmpl *allow_tmpl, *deny_tmpl;
	size_t nallow_tmpl, ndeny_tmpl;
};

/* url-rewrite and redirect share this. */
struct action_rewrite {
	/*
	 * The regex matched against the whole URL, unanchored; has_from 0
	 * means the whole URL.  from_re is compiled at load time when <from>
	 * has no ${...}; otherwise it is NULL and the engine compiles the
	 * interpolated text (ngrok interpolates before compiling).
	 */
	int has_from;
	struct policy_tmpl from;
	pcre2_code *from_re;
	/* The replacement: ${...} templates, then $1-style group refs. */
	struct policy_tmpl to;
	int status_code;               /* redirect only: 3xx, default 302 */
	struct action_header *headers; /* redirect only */
	size_t nheaders;
};

/* A credential known at load time. */
struct action_cred {
	char *user, *pass;
};

struct action_basic_auth {
	struct action_cred *creds;
	size_t ncreds;
	/*
	 * Credentials with ${...}: split at the first ':' by the engine
	 * after interpolation.
	 */
	struct policy_tmpl *cred_tmpl;
	size_t ncred_tmpl;
	char *realm; /* default "ngrok" */
	int enforce; /* default 1 */
};

struct action_log {
	struct policy_val metadata; /* a POLICY_VAL_MAP */
};

struct action_var {
	char *name;
	struct policy_val val;
};

struct action_set_vars {
	struct action_var *vars; /* in order; a later one may use earlier */
	size_t n;
};

/*
 * ngrok's br, deflate and gzip, and zstd (RFC 8878), which browsers now
 * accept too.  ngrok's "compress" (LZW) is refused at load: no client
 * asks for it any more.
 */
enum action_compress_alg {
	ACTION_COMPRESS_BR,
	ACTION_COMPRESS_DEFLATE,
	ACTION_COMPRESS_GZIP,
	ACTION_COMPRESS_ZSTD,
	ACTION_COMPRESS_NALGS
};

struct action_compress_response {
	/* In the order given; default all four in the order above. */
	enum action_compress_alg algs[ACTION_COMPRESS_NALGS];
	size_t nalgs;
};

struct action_circuit_breaker {
	double error_threshold;    /* 0..1, default 0.5 */
	uint64_t volume_threshold; /* 1..2e9, default 10 */
	uint64_t window_ns;        /* 1s..2m, default 10s */
	uint64_t tripped_ns;       /* 1s..2m, default 10s */
	int num_buckets;           /* always 10 */
	int enforce;               /* default 1 */
};

struct action {
	enum action_type type;
	struct policy_pos pos; /* the action's "type:" value */
	union {
		struct action_rate_limit rate_limit;
		struct action_deny deny;
		struct action_custom_response custom_response;
		struct action_add_headers add_headers;
		struct action_remove_headers remove_headers;
		struct action_restrict_ips restrict_ips;
		struct action_rewrite rewrite; /* url-rewrite, redirect */
		struct action_basic_auth basic_auth;
		struct action_log log;
		struct action_set_vars set_vars;
		struct action_compress_response compress;
		struct action_circuit_breaker circuit_breaker;
	};
};

/* Frees what <a> holds and zeroes it (it stays an ACTION_RATE_LIMIT). */
void action_fini(struct action *a);

struct policy_rule {
	/*
	 * As written (a number such as "404" too), or "<phase>#<n>" with n
	 * counted from 1 in the phase when the rule has no name: ngrok gives
	 * no default, and the name must tell rules apart in events.
	 */
	char *name;
	int named; /* the file gave the name */
	struct policy_pos pos;
	struct policy_expr *exprs; /* all must be true; none: always */
	size_t nexprs;
	struct action *actions; /* at least one */
	size_t nactions;
};

struct policy {
	char *file;
	uint8_t sha256[32]; /* of the file's bytes */
	char sha256_hex[65];
	struct {
		struct policy_rule *rules;
		size_t n;
	} phases[POLICY_NPHASES];
	size_t nrules; /* over all phases */
	/* One per phase (phases declare different variables); owned. */
	struct cel_env *env[POLICY_NPHASES];
};

/*
 * Reads and checks the policy file <path> (YAML or JSON, with the
 * deprecated top-level inbound/outbound names).  Returns a policy the
 * caller owns (policy_free), or NULL when the file cannot be read or has
 * at least one error.  Every problem found, warnings included, is added
 * to <errs> (policy_errors_init'ed by the caller), even when a policy is
 * returned.  errno is EINVAL for an invalid policy, ENOMEM, or what
 * reading the file gave.
 */
struct policy *policy_load(const char *path, struct policy_errors *errs);
/*
 * As policy_load(), from <len> bytes of <text>; <name> is the file name
 * used in messages, and both are copied.
 */
struct policy *policy_parse(
    const char *name, const char *text, size_t len, struct policy_errors *errs);
/* Frees <p> and everything it holds; NULL accepted. */
void policy_free(struct policy *p);

/*
 * The request, response and connection a policy is evaluated against.
 * The engine fills it from a gw-proxy question (PROTOCOL.md §8.2) and
 * owns every pointer in it; strings are NUL-terminated and must outlive
 * the evaluation's results.  NULL strings and zero numbers mean "not
 * known": the variable is then empty or absent as vars.c says.
 */
struct policy_hdr {
	const char *name, *value; /* the name in any case */
};

/* A set-vars variable: vars.<name>. */
struct policy_var {
	const char *name;
	struct cel_value val;
};

/* Results of actions (actions.ngrok.*), indexed by enum vars_result. */
enum vars_result {
	VARS_RATE_LIMIT_BUCKET_KEY,
	VARS_RATE_LIMIT_LIMITED,
	VARS_RATE_LIMIT_ERROR_CODE,
	VARS_RATE_LIMIT_ERROR_MESSAGE,
	VARS_ADD_HEADERS_HEADERS_ADDED,
	VARS_RESTRICT_IPS_ACTION,
	VARS_RESTRICT_IPS_MATCHED_CIDR,
	VARS_RESTRICT_IPS_ERROR_CODE,
	VARS_RESTRICT_IPS_ERROR_MESSAGE,
	VARS_URL_REWRITE_MATCHES,
	VARS_URL_REWRITE_URL,
	VARS_URL_REWRITE_ERROR_CODE,
	VARS_URL_REWRITE_ERROR_MESSAGE,
	VARS_REDIRECT_MATCHES,
	VARS_REDIRECT_URL,
	VARS_REDIRECT_ERROR_CODE,
	VARS_REDIRECT_ERROR_MESSAGE,
	VARS_BASIC_AUTH_PRESENTED,
	VARS_BASIC_AUTH_USERNAME,
	VARS_BASIC_AUTH_AUTHORIZED,
	VARS_LOG_METADATA,
	VARS_COMPRESS_ALREADY_COMPRESSED,
	VARS_COMPRESS_NEGOTIATED_ALGORITHM,
	VARS_NRESULTS
};

struct policy_req {
	enum policy_phase phase;
	int64_t now_ns; /* time.now */

	/* conn.*, all phases */
	const char *client_ip, *server_ip, *server_name;
	int client_port, server_port;
	int64_t conn_start_ns; /* conn.ts.start; 0 absent */
	int64_t bytes_in, bytes_out;
	int tls; /* the client connection is TLS */
	const char *tls_version, *tls_cipher, *tls_sni, *tls_alpn;

	/* endpoint.*: derived from the connection when NULL */
	const char *endpoint_id, *endpoint_url;

	/* req.*, request and response phases */
	const char *method, *version;
	const char *url_raw; /* as received */
	const char *scheme;  /* "http" or "https" */
	const char *host;    /* url.host: without the port */
	const char *path;    /* with the leading '/' */
	const char *query;   /* without '?'; NULL or "" when none */
	const struct policy_hdr *req_headers;
	size_t nreq_headers;
	int64_t req_header_ns, req_body_ns; /* req.ts.*; 0 absent */

	/* res.*, response phase */
	int status_code;
	const struct policy_hdr *res_headers;
	size_t nres_headers;

	/* vars.*: set so far in this phase; a later name wins */
	const struct policy_var *vars;
	size_t nvars;

	/* actions.ngrok.*: results of the actions that ran in this phase */
	struct cel_value results[VARS_NRESULTS];
	unsigned char has_result[VARS_NRESULTS];
};

/*
 * Returns a new CEL environment declaring the variables and request
 * functions that rules of <phase> may use: conn.*, endpoint.*, time.now,
 * vars.* and actions.ngrok.* everywhere, req.* and the request functions
 * (getReqHeader, ...) in the HTTP phases, res.* and getResHeader, ... in
 * on_http_response.  Geo and IP-intelligence variables exist and are
 * empty (gw has no such database).  Programs compiled against it are
 * evaluated with a cel_ctx whose host is a struct policy_req and whose
 * resolver is vars_resolve.  Returns NULL with errno set on failure.
 */
struct cel_env *vars_env_new(enum policy_phase phase);

/*
 * The cel_ctx resolver: the value of variable <id> for the policy_req
 * <host>.  Maps and lists are built in <arena>; strings point into the
 * request.  Returns 0, 1 when the variable is absent for this request
 * (req.url.port without a port, an action result not set yet), or -1 on
 * ENOMEM.
 */
int vars_resolve(
    void *host, int id, struct cel_value *out, struct cel_arena *arena);

/* Sets actions.ngrok.<...> result <r> for later rules of the phase. */
void
vars_set_result(struct policy_req *req, enum vars_result r, struct cel_value v);

/*
 * Loader internals shared by policy_load.c and policy_actions.c, and by
 * nothing else: the state of one load, its error reporting, and the
 * compilers of expressions and templates that record errors at the
 * right file position.
 */
struct policy_ld;

/* The phase whose rules are being loaded. */
enum policy_phase policy_ld_phase(const struct policy_ld *);
/* Records an error (or a warning) at <node>'s position. */
void policy_ld_error(struct policy_ld *, const struct gw_node *node,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void policy_ld_warn(struct policy_ld *, const struct gw_node *node,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Records an error at byte <off> of the decoded scalar <node>, mapped
 * back to the file (through quotes, escapes and block scalars).
 */
void policy_ld_error_at(struct policy_ld *, const struct gw_node *node,
    size_t off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Records "out of memory" once; returns -1. */
int policy_ld_nomem(struct policy_ld *);
/* The file position of byte <off> of the decoded scalar <node>. */
struct policy_pos
policy_ld_pos(struct policy_ld *, const struct gw_node *node, size_t off);
/*
 * Compiles the scalar <node> as a bare CEL expression of the current
 * phase into <out>.  Returns 0, or -1 with the error recorded at the
 * column CEL gives; <out> then holds nothing.  <what> prefixes messages.
 */
int policy_ld_expr(struct policy_ld *, const struct gw_node *node,
    const char *what, struct policy_expr *out);
/*
 * Splits the scalar <node> into a template and compiles its ${...}
 * expressions.  Returns 0, or -1 with errors recorded ("<what>: ...");
 * <out> then holds nothing.
 */
int policy_ld_tmpl(struct policy_ld *, const struct gw_node *node,
    const char *what, struct policy_tmpl *out);
/* Builds a policy_val from any node.  Returns 0 or -1 (errors recorded). */
int policy_ld_val(struct policy_ld *, const struct gw_node *node,
    const char *what, struct policy_val *out);
/*
 * The candidate closest to <word> when it is close enough to be a
 * likely typo, else NULL.  <cands> ends with NULL.
 */
const char *policy_suggest(const char *word, const char *const *cands);

/* Free what the struct holds and zero it; NULL and zeroed ones accepted. */
void policy_expr_fini(struct policy_expr *);
void policy_tmpl_fini(struct policy_tmpl *);
void policy_val_fini(struct policy_val *);

/*
 * Loads the action item <node> (a mapping with type and config) of a rule
 * of the current phase into <out>.  Returns 0, or -1 with every problem
 * recorded; <out> must then still be given to action_fini().
 */
int
action_load(struct policy_ld *, const struct gw_node *node, struct action *out);

#endif
