/* SPDX-License-Identifier: MIT */
/*
 * What the CEL files share and nothing else includes: checker types, the
 * tokens, the syntax tree, the function table and the program.  The flow
 * is cel_lex.c (tokens) -> cel_parse.c (tree) -> cel_check.c (types,
 * names, folding) -> cel_eval.c (values); cel_std.c, cel_strings.c,
 * cel_format.c, cel_list.c, cel_time.c, cel_hash.c, cel_url.c and
 * cel_ngrok.c fill the function table that cel_env.c builds; cel_value.c holds the arena and the value
 * helpers everyone uses, cel_zone.c the time zones.
 */
#ifndef GW_POLICY_CEL_IMPL_H
#define GW_POLICY_CEL_IMPL_H

#include "cel.h"

#define CEL_MAX_DEPTH  100   /* nesting of the tree, and so recursion */
#define CEL_MAX_LOCALS 16    /* nested comprehension variables */
#define CEL_MAX_SRC    65536 /* bytes of one expression */
#define CEL_MAX_ARGS   4     /* arguments of a function, receiver included */
#define NS_PER_SEC     1000000000LL

/*
 * A checker type.  Primitive types are static singletons; list and map
 * types are built in the env's or the program's arena.
 */
struct cel_ctype {
	enum cel_type kind;
	const struct cel_ctype *p1, *p2; /* list: p1 elements; map: p1 keys */
};

extern const struct cel_ctype cel_t_dyn, cel_t_null, cel_t_bool, cel_t_int,
    cel_t_uint, cel_t_double, cel_t_string, cel_t_bytes, cel_t_timestamp,
    cel_t_duration, cel_t_type, cel_t_list_dyn, cel_t_map_dyn,
    cel_t_list_string;

/* The singleton for a kind; lists and maps of dyn for CEL_LIST/CEL_MAP. */
const struct cel_ctype *cel_ctype_of(enum cel_type);
/*
 * Parses a type written as CEL prints it at *<s> ("map(string, dyn)"),
 * advancing *<s>; composite types are allocated in <a>.  Returns NULL on
 * a syntax error or ENOMEM.
 */
const struct cel_ctype *cel_ctype_parse(const char **s, struct cel_arena *a);
/* Whether two types are the same, parameters included. */
int cel_ctype_equal(const struct cel_ctype *, const struct cel_ctype *);
/* Writes the type's name ("list(string)") into <buf>, truncated. */
void cel_ctype_format(const struct cel_ctype *, char *buf, size_t len);
/* The list or map type with these parameters, in <a>; NULL on ENOMEM. */
const struct cel_ctype *
cel_ctype_list(struct cel_arena *, const struct cel_ctype *elem);
const struct cel_ctype *cel_ctype_map(struct cel_arena *,
    const struct cel_ctype *key, const struct cel_ctype *val);

/* Tokens. */
enum cel_tok {
	T_EOF,
	T_INT, /* val.u holds the magnitude, minus applied by the parser */
	T_UINT,
	T_DOUBLE,
	T_STRING,
	T_BYTES,
	T_IDENT,
	T_TRUE,
	T_FALSE,
	T_NULL,
	T_IN,
	T_LPAREN,
	T_RPAREN,
	T_LBRACKET,
	T_RBRACKET,
	T_LBRACE,
	T_RBRACE,
	T_DOT,
	T_COMMA,
	T_COLON,
	T_QUESTION,
	T_PLUS,
	T_MINUS,
	T_STAR,
	T_SLASH,
	T_PERCENT,
	T_NOT,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_AND,
	T_OR
};

struct cel_token {
	enum cel_tok kind;
	int col;       /* 1-based */
	const char *p; /* the token's text in the source */
	size_t len;
	struct cel_value val; /* literals; strings decoded into the arena */
};

struct cel_lexer {
	const char *src;
	size_t len, pos;
	struct cel_arena *arena; /* the program's */
	struct cel_error *err;
};

/* Reads the next token.  Returns 0, or -1 with lx->err filled. */
int cel_lex_next(struct cel_lexer *, struct cel_token *);
/* A printable name for a token kind, for "unexpected ..." messages. */
const char *cel_tok_name(enum cel_tok);

/* The syntax tree. */
enum cel_node_kind {
	N_CONST,
	N_IDENT,
	N_SELECT, /* a.name */
	N_INDEX,  /* a[b] */
	N_CALL,   /* [a.]name(args) */
	N_LIST,   /* [args] */
	N_MAP,    /* {args[0]: args[1], ...} */
	N_NOT,
	N_NEG,
	N_BINOP, /* a op b */
	N_AND,
	N_OR,
	N_COND, /* a ? b : c */
	N_HAS,  /* has(a), a a select or an index */
	N_COMP, /* a.op(name, b[, c]) */
	N_VAR,  /* a declared variable, slot = index in the env */
	N_LOCAL /* a comprehension variable, slot = its frame slot */
};

enum cel_op {
	OP_ADD,
	OP_SUB,
	OP_MUL,
	OP_DIV,
	OP_MOD,
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_IN
};

/*
 * M_SORTBY is cel-go's list.sortBy(e, key): the parser reads it as a call,
 * the checker turns it into a comprehension whose <c> is the key.
 */
enum cel_macro { M_ALL, M_EXISTS, M_EXISTS_ONE, M_FILTER, M_MAP, M_SORTBY };

struct cel_fn;

struct cel_node {
	enum cel_node_kind kind;
	int col;
	int op;   /* enum cel_op, enum cel_macro */
	int slot; /* N_VAR: the host's id; N_LOCAL, N_COMP */
	const struct cel_ctype *type; /* set by the checker */
	struct cel_value val;         /* N_CONST */
	const char *name; /* N_IDENT, N_SELECT, N_CALL, N_COMP: in arena */
	size_t nlen;
	struct cel_node *a, *b, *c;
	struct cel_node **args; /* N_CALL, N_LIST, N_MAP */
	size_t nargs;
	const struct cel_fn *fn;  /* N_CALL: the overload the checker chose */
	const struct cel_fn *fns; /* N_CALL: all overloads, for run time */
	void *aux;                /* N_CALL: what the function prepared */
};

/*
 * A function overload.  Built-in rows come from cel_std.c and cel_ngrok.c
 * as prototype strings; cel_env.c parses them and links the overloads of
 * one name, style and arity through <next>.
 */
#define CEL_FN_METHOD 0x01 /* called as args[0].name(args[1..]) */
#define CEL_FN_IMPURE 0x02 /* never folded: rand.*, host functions */
#define CEL_FN_HOST   0x04

struct cel_call {
	struct cel_ctx *ctx;
	const struct cel_program *prog;
	const struct cel_node *node; /* node->aux: prepared data */
	size_t nargs;
};

struct cel_builtin {
	const char *proto; /* "bool string.startsWith(string)" */
	int (*impl)(struct cel_call *, const struct cel_value *args,
	    struct cel_value *out);
	unsigned flags;
	/*
	 * Optional, run at compile time on the checked call node (with
	 * constant arguments already folded), e.g. to compile a constant
	 * regex.  Returns 0, or -1 with <err> filled.
	 */
	int (*prepare)(
	    struct cel_program *, struct cel_node *, struct cel_error *err);
};

struct cel_fn {
	const char *name; /* "startsWith", "url.parse" */
	unsigned flags;
	int nargs; /* receiver included */
	const struct cel_ctype *args[CEL_MAX_ARGS];
	const struct cel_ctype *result;
	const struct cel_builtin *b; /* NULL for host functions */
	cel_func host;
	void *data;
	const struct cel_fn *next; /* the next overload */
};

extern const struct cel_builtin cel_std_builtins[];
extern const size_t cel_std_nbuiltins;
extern const struct cel_builtin cel_time_builtins[];
extern const size_t cel_time_nbuiltins;
extern const struct cel_builtin cel_ngrok_builtins[];
extern const size_t cel_ngrok_nbuiltins;
extern const struct cel_builtin cel_strings_builtins[];
extern const size_t cel_strings_nbuiltins;
extern const struct cel_builtin cel_format_builtins[];
extern const size_t cel_format_nbuiltins;
extern const struct cel_builtin cel_list_builtins[];
extern const size_t cel_list_nbuiltins;
extern const struct cel_builtin cel_url_builtins[];
extern const size_t cel_url_nbuiltins;
extern const struct cel_builtin cel_hash_builtins[];
extern const size_t cel_hash_nbuiltins;

struct cel_var {
	const char *name;
	size_t nlen;
	const struct cel_ctype *type;
	int id;
};

struct cel_env {
	struct cel_arena arena; /* names, types, the tables */
	struct cel_var *vars;
	size_t nvars, capvars;
	struct cel_fn **fns; /* first overload of each name/style/arity */
	size_t nfns, capfns;
};

/* The variable whose name is exactly <name>, or NULL. */
const struct cel_var *
cel_env_find_var(const struct cel_env *, const char *name, size_t len);
/* The first overload of <name> in that style with any arity, or NULL. */
const struct cel_fn *cel_env_find_fn(const struct cel_env *, const char *name,
    size_t len, int method, int nargs);
/* Whether a function of that name exists in any style or arity. */
int cel_env_has_fn(const struct cel_env *, const char *name, size_t len);

struct cel_regex;

struct cel_program {
	const struct cel_env *env;
	struct cel_arena arena; /* tree and constants */
	struct cel_node *root;
	int nlocals;
	struct cel_regex *regexes; /* compiled at compile time, to free */
	struct cel_recache *cache; /* regexes compiled at run time */
};

/* Parses the whole source into prog->root.  Returns 0 or -1 with <err>. */
int cel_parse(
    struct cel_program *, const char *src, size_t len, struct cel_error *err);
/* Checks, resolves and folds prog->root.  Returns 0 or -1 with <err>. */
int cel_check(struct cel_program *, struct cel_error *err);
/*
 * Evaluates one node with an empty frame: the checker's constant folding.
 * Returns 0 or -1 with ctx->errmsg set.
 */
int cel_eval_const(const struct cel_program *, struct cel_ctx *,
    const struct cel_node *, struct cel_value *out);
/* Frees the program's regexes (cel_std.c). */
void cel_regex_free_all(struct cel_program *);

/* cel_value.c: the operations that the evaluator and the library share. */
/*
 * Orders two values: -1, 0 or 1; 2 when a NaN leaves them unordered (every
 * comparison is false); -2 when their kinds cannot be ordered.
 */
int cel_value_cmp(const struct cel_value *, const struct cel_value *);
/* Finds <key> in a map; NULL if absent. */
const struct cel_value *
cel_map_get(const struct cel_value *map, const struct cel_value *key);
/*
 * Length of the UTF-8 sequence at <s> (<n> > 0 bytes left), stored in
 * *<cp> when not NULL; an invalid byte counts as a sequence of 1 (U+FFFD).
 */
size_t cel_utf8_next(const char *s, size_t n, uint32_t *cp);
/* Number of code points of UTF-8 text (invalid bytes count as one). */
size_t cel_utf8_len(const char *, size_t);
/* Whether the text is valid UTF-8. */
int cel_utf8_valid(const char *, size_t);
/* Formats a double as CEL's string() does (Go's %g), into <buf> (32). */
size_t cel_format_double(double, char *buf);
/* Formats a timestamp as RFC 3339 with trimmed nanoseconds, into <buf>. */
size_t cel_format_timestamp(int64_t ns, char *buf, size_t len);
/* Formats a duration in seconds ("1.5s"), into <buf>. */
size_t cel_format_duration(int64_t ns, char *buf, size_t len);
/* Describes a value for error messages ("'abc'", "42", "list"), truncated. */
void cel_value_describe(const struct cel_value *, char *buf, size_t len);
/*
 * Days since 1970-01-01 to a proleptic Gregorian year, month (1-12) and
 * day (1-31), and back; days before the epoch are negative.
 */
void cel_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int64_t cel_days_from_civil(int64_t y, int m, int d);

/*
 * cel_list.c: orders <n> values by their <keys> (stably) into <out>; the
 * keys must all be of one comparable kind (int, uint, double, bool,
 * string, bytes, timestamp, duration; no NaN).  <items> may be <keys>.
 * Scratch space comes from ctx->arena.  Returns 0, or -1 after
 * cel_ctx_error() with a message that starts with <fn>.
 */
int
cel_list_sort(struct cel_ctx *, const char *fn, const struct cel_value *items,
    const struct cel_value *keys, size_t n, struct cel_value *out);

/*
 * cel_format.c: a string built in the evaluation arena.  It doubles as
 * it grows, so a warm arena still serves it without malloc.
 */
struct cel_sbuf {
	struct cel_ctx *ctx;
	char *p;
	size_t len, cap;
};

/* Starts an empty string with room for <hint> bytes; nothing allocated. */
void cel_sbuf_init(struct cel_sbuf *, struct cel_ctx *, size_t hint);
/*
 * Appends <n> bytes.  Returns 0, or -1 after cel_ctx_error() (out of
 * arena memory), the string then unchanged.
 */
int cel_sbuf_add(struct cel_sbuf *, const void *, size_t n);
/* The string so far as a CEL string value (it stays in the arena). */
struct cel_value cel_sbuf_value(const struct cel_sbuf *);

/*
 * cel_zone.c: time zones for the timestamp getters.  A zone is "UTC",
 * "GMT", "Z", "" or an IANA name ("America/New_York") read from the
 * system's TZif files; fixed offsets ("+05:30") are cel_time.c's.
 */
struct cel_zone;

/*
 * Finds the zone <name> (<len> bytes, not NUL-terminated).  Loaded zones
 * stay in a small process-wide cache; when it is full, the zone is built
 * in <spill> instead (it then lives as long as that arena's contents).
 * Refuses names with "..", a leading '/' or characters no zone name has.
 * Returns the zone, or NULL with a message naming the zone in <msg>.
 */
const struct cel_zone *cel_zone_find(const char *name, size_t len,
    struct cel_arena *spill, char *msg, size_t msglen);
/* The zone's offset from UTC, in seconds, at <secs> since the epoch. */
int32_t cel_zone_offset(const struct cel_zone *, int64_t secs);

#endif
