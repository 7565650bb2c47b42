/* SPDX-License-Identifier: MIT */
/*
 * CEL, the Common Expression Language that ngrok's Traffic Policy uses in
 * rule expressions and in ${...} templates: the contract between the
 * expression engine (cel_*.c) and the policy engine that hosts it.  The
 * host declares its variables and request-dependent functions in a
 * cel_env, compiles each expression once at load time (parse and type
 * check: every error has a column), and evaluates the program per request
 * with a cel_ctx whose arena is reset between requests, so that a warm
 * evaluation allocates nothing.  Values are plain tagged unions that point
 * into host memory, the program or the arena; nothing is reference
 * counted.  Everything here is single-threaded: a program, an env and a
 * ctx are used by one thread at a time.
 */
#ifndef GW_POLICY_CEL_H
#define GW_POLICY_CEL_H

#include <stddef.h>
#include <stdint.h>

struct gw_buf;

/* Value kinds, and the kinds the checker reasons with. */
enum cel_type {
	CEL_NULL,
	CEL_BOOL,
	CEL_INT,  /* int64 */
	CEL_UINT, /* uint64 */
	CEL_DOUBLE,
	CEL_STRING, /* UTF-8, not NUL-terminated */
	CEL_BYTES,
	CEL_LIST,
	CEL_MAP,
	CEL_TIMESTAMP, /* ns since the Unix epoch, UTC: years 1678-2262 */
	CEL_DURATION,  /* ns, signed: about +-292 years */
	CEL_TYPE,      /* the value of type(x), for type(x) == string */
	CEL_DYN        /* checker only: not known until run time */
};

struct cel_map_entry;

/*
 * A value.  Strings, bytes, lists and maps point to memory the value does
 * not own: host memory that outlives the evaluation, the program
 * (constants), or the evaluation arena.  String pointers are never NULL.
 * Map keys are bool, int, uint or string, each at most once; lookups are
 * linear, as maps here are small (headers, vars, decoded JSON).
 */
struct cel_value {
	enum cel_type type;
	union {
		int b;
		int64_t i;
		uint64_t u;
		double d;
		int64_t ns;      /* CEL_TIMESTAMP, CEL_DURATION */
		enum cel_type t; /* CEL_TYPE */
		struct {
			const char *ptr;
			size_t len;
		} s; /* CEL_STRING, CEL_BYTES */
		struct {
			const struct cel_value *items;
			size_t len;
		} list;
		struct {
			const struct cel_map_entry *entries;
			size_t len;
		} map;
	};
};

struct cel_map_entry {
	struct cel_value key, val;
};

static inline struct cel_value
cel_null(void)
{
	struct cel_value v = { .type = CEL_NULL };
	return v;
}

static inline struct cel_value
cel_bool(int b)
{
	struct cel_value v = { .type = CEL_BOOL, .b = b != 0 };
	return v;
}

static inline struct cel_value
cel_int(int64_t i)
{
	struct cel_value v = { .type = CEL_INT, .i = i };
	return v;
}

static inline struct cel_value
cel_uint(uint64_t u)
{
	struct cel_value v = { .type = CEL_UINT, .u = u };
	return v;
}

static inline struct cel_value
cel_double(double d)
{
	struct cel_value v = { .type = CEL_DOUBLE, .d = d };
	return v;
}

/*
 * <p> must stay valid as long as the value is used.  A string's pointer
 * is never NULL, even when empty: these two make NULL "".
 */
static inline struct cel_value
cel_str(const char *p, size_t len)
{
	struct cel_value v = { .type = CEL_STRING, .s = { p ? p : "", len } };
	return v;
}

static inline struct cel_value
cel_bytes(const void *p, size_t len)
{
	struct cel_value v = { .type = CEL_BYTES,
		.s = { p ? (const char *)p : "", len } };
	return v;
}

static inline struct cel_value
cel_list(const struct cel_value *items, size_t len)
{
	struct cel_value v = { .type = CEL_LIST, .list = { items, len } };
	return v;
}

static inline struct cel_value
cel_map(const struct cel_map_entry *entries, size_t len)
{
	struct cel_value v = { .type = CEL_MAP, .map = { entries, len } };
	return v;
}

static inline struct cel_value
cel_timestamp(int64_t ns)
{
	struct cel_value v = { .type = CEL_TIMESTAMP, .ns = ns };
	return v;
}

static inline struct cel_value
cel_duration(int64_t ns)
{
	struct cel_value v = { .type = CEL_DURATION, .ns = ns };
	return v;
}

/* "int", "list", "map", ...: CEL's name for a kind (static storage). */
const char *cel_type_name(enum cel_type);

/*
 * A bump allocator for everything an evaluation builds (strings, lists,
 * maps).  Blocks are kept across cel_arena_reset(), so once the arena has
 * grown to what a request needs, evaluations allocate nothing.  The caller
 * owns the struct; the arena owns the blocks.
 */
struct cel_arena_block;

struct cel_arena {
	struct cel_arena_block *head, *cur;
	size_t max;          /* limit on bytes held; 0 means 16 MiB */
	size_t held;         /* bytes in blocks */
	unsigned long grows; /* blocks ever malloc'ed: tests check it stays */
};

/* Initialises an empty arena that may hold <max> bytes (0: 16 MiB). */
void cel_arena_init(struct cel_arena *, size_t max);
/*
 * Returns <n> bytes aligned for any value, valid until the next reset, or
 * NULL (ENOMEM) when malloc fails or the arena would pass its maximum.
 */
void *cel_arena_alloc(struct cel_arena *, size_t n);
/* Copies <n> bytes into the arena; NULL (ENOMEM) on failure. */
void *cel_arena_dup(struct cel_arena *, const void *, size_t n);
/* Forgets every allocation, keeps the blocks. */
void cel_arena_reset(struct cel_arena *);
/* Frees the blocks; accepts a zeroed or half-used arena. */
void cel_arena_fini(struct cel_arena *);

/*
 * The evaluation context the host fills before cel_eval(): where results
 * go, how declared variables get their values, and where random numbers
 * come from.  cel_ctx_init() fills the defaults.
 */
struct cel_ctx {
	struct cel_arena *arena;
	void *host; /* passed back to resolve, random and host functions */
	/*
	 * Gives the value of the variable declared with <id>.  Returns 0 with
	 * <out> set; 1 when the variable is absent for this request (it then
	 * fails the expression, except under has()); -1 after cel_ctx_error()
	 * for an error.  Strings may point to host memory that stays valid
	 * until the evaluation's results are no longer used.
	 */
	int (*resolve)(
	    void *host, int id, struct cel_value *out, struct cel_arena *);
	/* 64 random bits for rand.*; NULL uses an internal generator. */
	uint64_t (*random)(void *host);
	char errmsg[200]; /* why cel_eval() returned -1 */
};

/* Fills <ctx>: no random hook, an empty message. */
void cel_ctx_init(struct cel_ctx *, struct cel_arena *, void *host,
    int (*resolve)(void *, int, struct cel_value *, struct cel_arena *));
/*
 * Sets ctx->errmsg from a printf-style format, for host functions and
 * resolvers.  Returns -1 so that "return cel_ctx_error(...)" reads well.
 */
int cel_ctx_error(struct cel_ctx *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A host function: <args> are the <nargs> arguments (the receiver first
 * for a method), already checked against the declared kinds (a "dyn"
 * argument may be anything).  <data> is what cel_env_func() was given.
 * Returns 0 with <out> set (memory from ctx->arena or the host), or -1
 * after cel_ctx_error().
 */
typedef int (*cel_func)(struct cel_ctx *ctx, void *data,
    const struct cel_value *args, size_t nargs, struct cel_value *out);

/*
 * The environment: declared variables and host functions, plus the
 * standard library and ngrok's pure functions, which are always there.
 * It must outlive every program compiled against it.
 */
struct cel_env;

/* Returns a new environment, or NULL (ENOMEM). */
struct cel_env *cel_env_new(void);
/* Frees <env>; NULL accepted.  Programs compiled with it must be gone. */
void cel_env_free(struct cel_env *);

/*
 * Declares the variable <name> (dotted: "req.url.path") of type <type>,
 * written as CEL prints types: "string", "int", "list(string)",
 * "map(string, list(string))", "dyn", ...  An expression's dotted name
 * resolves to the longest declared prefix and the rest is field access,
 * so "req.url" and "req.url.path" can both be variables, and a variable
 * "vars" of type "map(string, dyn)" makes every vars.<x> a run-time map
 * lookup (has(vars.x) tests it).  Returns 0, or -1 with errno EINVAL (bad
 * name or type), EEXIST or ENOMEM.
 */
int cel_env_var(struct cel_env *, const char *name, const char *type, int id);

/*
 * Declares a host function from a prototype in CEL type syntax:
 *   "list(string) getReqHeader(string)"     global: getReqHeader(x)
 *   "map(string, dyn) url.parse(string)"    namespaced: url.parse(x)
 *   "bool string.isURL()"                   method: 'x'.isURL()
 * A dotted name whose first part is a type name declares a method on that
 * type; any other dotted name is a namespaced global.  At most four
 * arguments, the receiver included.  One declaration per name and style
 * (no overloads); a host function may not shadow a built-in one.  Host
 * functions are never evaluated at compile time.  Returns 0, or -1 with
 * errno EINVAL, EEXIST or ENOMEM.
 */
int cel_env_func(struct cel_env *, const char *proto, cel_func fn, void *data);

/* A compile error: <col> is the 1-based byte offset in the expression. */
struct cel_error {
	int col;
	char msg[200];
};

struct cel_program;

/*
 * Parses and type-checks <len> bytes of <src>.  Returns a program the
 * caller owns (cel_program_free), or NULL with <err> filled: syntax
 * errors, unknown variables and functions, wrong arity, and operators or
 * functions applied to types that cannot take them when the types are
 * known (what is "dyn" is checked at run time).  Constant sub-expressions
 * and constant regular expressions are evaluated here, once.
 */
struct cel_program *cel_compile(
    const struct cel_env *, const char *src, size_t len, struct cel_error *err);
/* Frees a program and what it compiled (regexes); NULL accepted. */
void cel_program_free(struct cel_program *);
/*
 * The checked result kind: CEL_BOOL for a valid rule expression, CEL_DYN
 * when only run time will tell (a rule then fails if it is not a bool).
 */
enum cel_type cel_program_type(const struct cel_program *);

/*
 * Evaluates <prog>.  Returns 0 with <out> set (it may point into the
 * program, the host's memory or ctx->arena, so it is valid until the
 * arena is reset), or -1 with ctx->errmsg set: no such key, division by
 * zero, overflow, a "dyn" value of the wrong type, a regex that fails,
 * out of arena memory.  The arena is not reset here: results of several
 * evaluations can be kept together for one request.
 */
int
cel_eval(const struct cel_program *, struct cel_ctx *, struct cel_value *out);

/*
 * CEL's string(x): strings as they are, bytes if valid UTF-8, numbers as
 * CEL prints them ("-1", "1" for 1u, "1.5", "1e+06"), bools "true"/"false",
 * timestamps RFC 3339 ("2024-01-02T03:04:05.5Z"), durations in seconds
 * ("90s", "1.5s"), types by name.  Null, lists and maps have no string
 * form: use cel_value_to_json().  Returns 0 with <out> a CEL_STRING (in
 * <arena> or shared with <v>), or -1 with errno EINVAL or ENOMEM.
 */
int cel_value_to_string(
    const struct cel_value *v, struct cel_arena *arena, struct cel_value *out);
/*
 * Appends <v> as JSON: numbers as numbers, bytes as base64, timestamps
 * and durations as their string form, map keys as strings.  Returns 0, or
 * -1 with errno EINVAL (NaN or infinity) or ENOBUFS/ENOMEM; the buffer may
 * then hold part of the value.
 */
int cel_value_to_json(const struct cel_value *v, struct gw_buf *);
/*
 * CEL's ==: numbers compare by value across int, uint and double, lists
 * and maps structurally, different kinds are unequal.  Returns 1 or 0.
 */
int cel_value_equal(const struct cel_value *, const struct cel_value *);

#endif
