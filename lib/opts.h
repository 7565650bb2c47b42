/* SPDX-License-Identifier: MIT */
/*
 * Option tables: one declarative table per binary (or per command, or per
 * section of a config file) drives both the command line and the YAML
 * configuration file, in the manner of Fluent Bit's config maps, so that
 * every binary gets the same flag syntax, the same error messages and the
 * same --help layout.  The YAML side also offers a small node tree with
 * positions (struct gw_node) for sections that an option table does not
 * describe, such as a list of routes or of exporter sinks.
 *
 * A binary's setup, in order:
 *
 *	struct conf c;
 *	memset(&c, 0, sizeof(c));
 *	if (gw_opts_init(tab, &c, &err) == -1 ||
 *	    gw_opts_parse_argv(tab, &c, argc, argv, &optind, &err) == -1)
 *		-> print gw_error_format(), exit 78 if err.file[0] else 64
 *	if (c.help) -> gw_opts_usage(stdout, ...), exit 0
 *	...
 *	gw_opts_free(tab, &c);
 *
 * Precedence, lowest first: the field's value before gw_opts_init() (the
 * zeroed struct), the table's defaults (gw_opts_init), the YAML file named
 * by the GW_OPT_CONFIG option, then the command line.  A STR value from a
 * later source replaces the earlier one; a LIST given in a later source
 * replaces the whole list from the earlier ones (it does not append), and
 * repeated occurrences within one source append.  A binary that does not
 * want a --config option may call gw_opts_load_yaml() itself before
 * gw_opts_parse_argv() and gets the same precedence.
 */
#ifndef GW_OPTS_H
#define GW_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* Nesting limit of YAML documents, so that input cannot exhaust the stack. */
#define GW_OPTS_MAX_DEPTH 64

/* Largest configuration file read, so that a wrong path cannot eat memory. */
#define GW_OPTS_MAX_FILE (16 * 1024 * 1024)

/*
 * What an option is, and the C type of the field at its offset.
 */
enum gw_opt_type {
	/*
	 * int, set to 1 by "--name" and 0 by "--no-name"; takes no value on
	 * the command line; true/false (also yes/no, on/off) in YAML.
	 */
	GW_OPT_FLAG,
	/* char *, malloc'd and owned by the struct (see gw_opts_free). */
	GW_OPT_STR,
	/* long long, decimal. */
	GW_OPT_INT,
	/* uint64_t bytes: "512", "10K", "10KiB", "1MiB" (gw_parse_size). */
	GW_OPT_SIZE,
	/*
	 * uint64_t milliseconds, the event loop's timer unit: "5s",
	 * "500ms", "1h30m" (gw_parse_duration; a bare number is seconds).
	 * Sub-millisecond remainders round up, so "1us" is 1 ms, never 0.
	 */
	GW_OPT_DURATION,
	/*
	 * struct gw_strlist: repeatable on the command line; a sequence of
	 * scalars, or a single scalar, in YAML.
	 */
	GW_OPT_LIST,
	/*
	 * No field: <custom> receives the value (a scalar; YAML sequences
	 * and mappings are refused) and stores it wherever it likes.
	 */
	GW_OPT_CUSTOM,
	/*
	 * No field: <node> receives any YAML value as a node tree with
	 * positions (a routes mapping, a list of sinks); a command-line
	 * value arrives as a scalar node with no position.
	 */
	GW_OPT_NODE,
	/*
	 * char *, command line only: the path of a YAML file that
	 * gw_opts_parse_argv() loads with the same table before it applies
	 * the rest of the command line.  Given at most once.
	 */
	GW_OPT_CONFIG,
};

/* Values of gw_opt.flags. */
#define GW_OPT_ARGV_ONLY 0x1 /* not a YAML key (--help, --config) */
#define GW_OPT_FILE_ONLY 0x2 /* not a command-line option, not in --help */
/*
 * A FLAG that ends parsing as soon as it is seen, before any other value
 * is checked and before the config file is read: "--help" and "--version"
 * work even next to a broken option.  Implies GW_OPT_ARGV_ONLY.
 */
#define GW_OPT_EARLY 0x4

struct gw_node;

/*
 * One option.  A table is an array of these ended by an entry whose name
 * is NULL.  Fields after <custom> were added to the first design and may
 * be left out of positional initialisers.
 */
struct gw_opt {
	/*
	 * "body-limit": --body-limit on the command line; body-limit or
	 * body_limit in YAML ('-' and '_' are the same in keys).
	 */
	const char *name;
	char short_name; /* -b, or 0 */
	enum gw_opt_type type;
	size_t offset;    /* GW_OPT_FIELD(), or offsetof() into the struct */
	const char *arg;  /* metavariable in --help ("ADDR:PORT"), or NULL */
	const char *help; /* one sentence for --help; NULL hides the option */
	/*
	 * Inclusive bounds for INT, SIZE (bytes) and DURATION (ms), checked
	 * when either is not 0: for a lower bound alone give LLONG_MAX as
	 * the upper one.
	 */
	long long min, max;
	/*
	 * GW_OPT_CUSTOM: parses and stores <value>.  Other types: optional
	 * check run after the value has been stored, with the text as given
	 * ("true"/"false" for flags).  Returns 0, or -1 with a message in
	 * <err> (gw_error_set(err, NULL, 0, 0, ...)); the caller adds the
	 * option name and the position.
	 */
	int (*custom)(void *conf, const char *value, struct gw_error *err);
	/*
	 * GW_OPT_NODE: consumes <node>, which lives only during the call.
	 * Errors as for <custom>; gw_opts_node_error() points at an inner
	 * node, and the message is then left as it is.
	 */
	int (*node)(
	    void *conf, const struct gw_node *node, struct gw_error *err);
	/*
	 * Default applied by gw_opts_init() as if given as a value ("5s",
	 * "true"; for a LIST, a single item), and shown in --help.
	 */
	const char *def;
	unsigned flags; /* GW_OPT_ARGV_ONLY, ... */
};

/*
 * offsetof(T, member) that also refuses to compile unless the member has
 * C type <ctype>, since a table entry whose type disagrees with its field
 * would write past it:
 *	{ "listen", 'l', GW_OPT_STR, GW_OPT_FIELD(struct conf, listen, char *) }
 */
#define GW_OPT_FIELD(T, member, ctype) \
	(offsetof(T, member) +         \
	    0 * sizeof(_Generic(((T *)0)->member, ctype : 1)))

/* The value of a LIST option. */
struct gw_strlist {
	char **v; /* n strings then NULL, each malloc'd; NULL when empty */
	size_t n;
};

/* Appends a copy of <s>.  Returns 0, or -1 (ENOMEM) leaving <l> unchanged. */
int gw_strlist_add(struct gw_strlist *l, const char *s);
/* Frees every string and the array and leaves <l> empty.  NULL accepted. */
void gw_strlist_free(struct gw_strlist *l);

/*
 * Sets each option that has a <def> in <conf>, which the caller has zeroed.
 * Returns 0, or -1 with <err> set if a default does not parse (a bug in
 * the table, reported rather than ignored).
 */
int gw_opts_init(const struct gw_opt *tab, void *conf, struct gw_error *err);

/*
 * Parses options from argv[1..argc-1] into <conf> (argv[0] is the program
 * or command name, as for getopt): "--name value", "--name=value",
 * "--flag", "--no-flag", "-x value", "-xvalue", bundled flags "-vq".  The
 * value after an option is taken as it is, even if it starts with '-'.
 * Long names are never abbreviated.  Parsing stops at "--" (skipped), at
 * "-" and at the first argument that is not an option; *optind_out (may be
 * NULL) receives the index of that argument, or argc.  Options are seen in
 * two passes: the first checks the syntax, stops at a GW_OPT_EARLY flag
 * and finds the GW_OPT_CONFIG file, which is then loaded with
 * gw_opts_load_yaml(); the second applies the values in order.  --help and
 * --version are not special here: list them as GW_OPT_EARLY flags.
 *
 * Returns 0, or -1 with errno set (EINVAL, ENOMEM, or the error reading the
 * config file) and <err> filled: "unknown option --foo", "option --listen
 * needs a value", "option --body-limit: invalid size 'abc'".  err->file is
 * set only for errors in the config file (exit 78), otherwise it is a
 * usage error (exit 64).  <conf> may hold part of the values on failure:
 * gw_opts_free() it.
 */
int gw_opts_parse_argv(const struct gw_opt *tab, void *conf, int argc,
    char **argv, int *optind_out, struct gw_error *err);

/*
 * Reads the YAML (or JSON) file <path> into <conf>: the top level must be
 * a mapping whose keys are options of <tab> (not GW_OPT_ARGV_ONLY ones),
 * each given once.  Scalars convert as on the command line; sequences are
 * accepted for LIST options, anything for NODE options, and an empty file
 * sets nothing.  Returns 0, or -1 with errno set and <err> giving the file
 * and the position of the offending node: "policy.yml:3:1: unknown key
 * 'foo'", "x.yml:2:13: body-limit: invalid size 'abc'".
 */
int gw_opts_load_yaml(const struct gw_opt *tab, void *conf, const char *path,
    struct gw_error *err);

/*
 * Prints --help text to <fp>: "usage: <synopsis>", then one aligned line
 * per option, "  -l, --listen ADDR:PORT  help (default: X)", in table
 * order, wrapped at 80 columns.  Options without help and FILE_ONLY ones
 * are left out.  The caller adds anything else (commands, exit codes).
 */
void gw_opts_usage(FILE *fp, const char *synopsis, const struct gw_opt *tab);

/*
 * Reads the whole file <path> into a malloc'd buffer (not NUL-terminated)
 * and its length into *<lenp>.  Refuses directories (EISDIR) and files
 * over <max> bytes (EFBIG).  Returns NULL with errno set on failure.
 */
char *gw_read_file(const char *path, size_t max, size_t *lenp);

/* Frees the STR, CONFIG and LIST fields of <conf> and sets them empty. */
void gw_opts_free(const struct gw_opt *tab, void *conf);

/*
 * YAML as a tree with 1-based positions, for GW_OPT_NODE callbacks and for
 * files that are not option tables (policy.yml).  Aliases are refused
 * rather than expanded, keys must be scalars and unique in their mapping,
 * and nesting is limited to GW_OPTS_MAX_DEPTH.
 */
enum gw_node_type {
	GW_NODE_SCALAR,
	GW_NODE_SEQ,
	GW_NODE_MAP,
};

struct gw_node {
	enum gw_node_type type;
	const char *file; /* for messages; NULL for command-line values */
	int line, col;    /* 1-based; 0 for command-line values */
	char *str;        /* SCALAR: the text, without a NUL inside */
	int plain; /* SCALAR: unquoted and untagged, so null and true apply */
	size_t n;  /* SEQ: items; MAP: pairs */
	struct gw_node *keys;  /* MAP: n scalar keys */
	struct gw_node *items; /* SEQ: n items; MAP: n values */
};

/*
 * Parses the file <path> into a tree owned by the caller (free it with
 * gw_opts_node_free).  An empty file gives a null scalar.  Returns NULL
 * with errno set and <err> filled on failure, syntax errors at libyaml's
 * position.
 */
struct gw_node *gw_opts_node_load(const char *path, struct gw_error *err);
/*
 * As gw_opts_node_load(), from <len> bytes of <text> already read (say, to
 * hash them first); <name> is used in messages and copied.
 */
struct gw_node *gw_opts_node_parse(
    const char *name, const char *text, size_t len, struct gw_error *err);
/* Frees a tree returned by the two functions above.  NULL accepted. */
void gw_opts_node_free(struct gw_node *root);
/*
 * Returns the value for <key> ('-' and '_' alike) in the mapping <map>, or
 * NULL if absent or if <map> is not a mapping.
 */
const struct gw_node *
gw_opts_node_get(const struct gw_node *map, const char *key);
/* 1 if <node> is NULL or a YAML null (unquoted "", "~", "null"). */
int gw_opts_node_is_null(const struct gw_node *node);
/* Fills <err> with <node>'s file and position and a printf-style message. */
void gw_opts_node_error(struct gw_error *err, const struct gw_node *node,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Applies the mapping <map> to <conf> as gw_opts_load_yaml() does with a
 * file's top level; a NODE callback uses it to read a nested section with
 * its own table (a sink's options).  A null <map> sets nothing.  Returns 0,
 * or -1 with errno and <err> set.
 */
int gw_opts_apply(const struct gw_opt *tab, void *conf,
    const struct gw_node *map, struct gw_error *err);

#endif
