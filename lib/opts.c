/* SPDX-License-Identifier: MIT */
/*
 * Option tables (see opts.h): the command-line parser, the YAML loader
 * that builds a positioned node tree with libyaml's event API and applies
 * it to a table, value conversion shared by both, and --help.  Every error
 * is composed here once, so that all binaries word them the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "opts.h"
#include "timeutil.h"

#define USAGE_WIDTH    80 /* columns of --help text */
#define USAGE_MAX_LEFT 30 /* wider option columns put help below */

/* String lists. */

int
gw_strlist_add(struct gw_strlist *l, const char *s)
{
	char **v, *copy;

	if ((copy = strdup(s)) == NULL)
		return -1;
	/* One more slot than needed keeps v NULL-terminated. */
	v = realloc(l->v, (l->n + 2) * sizeof(*v));
	if (v == NULL) {
		free(copy);
		errno = ENOMEM;
		return -1;
	}
	v[l->n++] = copy;
	v[l->n] = NULL;
	l->v = v;
	return 0;
}

void
gw_strlist_free(struct gw_strlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Tables. */

static void *
field(const struct gw_opt *o, void *conf)
{
	return (char *)conf + o->offset;
}

static int
is_early(const struct gw_opt *o)
{
	return o->type == GW_OPT_FLAG && (o->flags & GW_OPT_EARLY);
}

static int
on_argv(const struct gw_opt *o)
{
	return !(o->flags & GW_OPT_FILE_ONLY);
}

static int
in_file(const struct gw_opt *o)
{
	return !(o->flags & (GW_OPT_ARGV_ONLY | GW_OPT_EARLY)) &&
	    o->type != GW_OPT_CONFIG;
}

/* Key equality for YAML, where body-limit and body_limit are one key. */
static int
key_eq(const char *name, const char *key)
{
	for (; *name && *key; name++, key++) {
		if (*name == *key)
			continue;
		if ((*name == '-' || *name == '_') &&
		    (*key == '-' || *key == '_'))
			continue;
		return 0;
	}
	return *name == *key;
}

static const struct gw_opt *
find_long(const struct gw_opt *tab, const char *name, size_t len)
{
	for (; tab->name; tab++)
		if (on_argv(tab) && strncmp(tab->name, name, len) == 0 &&
		    tab->name[len] == '\0')
			return tab;
	return NULL;
}

static const struct gw_opt *
find_short(const struct gw_opt *tab, char c)
{
	for (; tab->name; tab++)
		if (on_argv(tab) && tab->short_name == c)
			return tab;
	return NULL;
}

static const struct gw_opt *
find_key(const struct gw_opt *tab, const char *key)
{
	for (; tab->name; tab++)
		if (in_file(tab) && key_eq(tab->name, key))
			return tab;
	return NULL;
}

/* Errors. */

/*
 * Adds context to the message an inner step left in <err>, unless that
 * step already placed it (a callback pointing at an inner node, or at
 * another file).  Returns -1 for the caller to pass on.
 */
static int
fail_at(
    struct gw_error *err, const char *file, int line, int col, const char *what)
{
	int saved_errno = errno;

	if (err->file[0] == '\0' && err->line == 0) {
		if (err->msg[0] == '\0')
			gw_error_set(err, NULL, 0, 0, "invalid value");
		gw_error_set(err, file, line, col, "%s: %s", what, err->msg);
	}
	errno = saved_errno;
	return -1;
}

static void
clear_error(struct gw_error *err)
{
	err->file[0] = '\0';
	err->line = err->col = 0;
	err->msg[0] = '\0';
}

/* Calls a caller's hook; a failure with errno left at 0 becomes EINVAL. */
static int
call_custom(
    const struct gw_opt *o, void *conf, const char *value, struct gw_error *err)
{
	clear_error(err);
	errno = 0;
	if (o->custom(conf, value, err) == 0)
		return 0;
	if (errno == 0)
		errno = EINVAL;
	return -1;
}

static int
call_node(const struct gw_opt *o, void *conf, const struct gw_node *n,
    struct gw_error *err)
{
	clear_error(err);
	errno = 0;
	if (o->node(conf, n, err) == 0)
		return 0;
	if (errno == 0)
		errno = EINVAL;
	return -1;
}

static int invalid(struct gw_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A message without position, for the caller to place; errno EINVAL. */
static int
invalid(struct gw_error *err, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gw_error_set(err, NULL, 0, 0, "%s", msg);
	errno = EINVAL;
	return -1;
}

static int
no_memory(struct gw_error *err)
{
	gw_error_set(err, NULL, 0, 0, "out of memory");
	errno = ENOMEM;
	return -1;
}

/* A malformed command line (as opposed to a bad value): exit 64. */
static int
usage_error(struct gw_error *err, const char *before, const char *spelled,
    const char *after)
{
	invalid(err, "%s%s%s", before, spelled, after);
	if (err != NULL)
		err->usage = 1;
	return -1;
}

/* Values. */

/* YAML 1.1's booleans, which are also what people type on the shell. */
static int
parse_flag(const char *s, int *v)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes",
		"YES", "on", "On", "ON", NULL };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No",
		"NO", "off", "Off", "OFF", NULL };
	size_t i;

	for (i = 0; yes[i]; i++)
		if (strcmp(s, yes[i]) == 0) {
			*v = 1;
			return 0;
		}
	for (i = 0; no[i]; i++)
		if (strcmp(s, no[i]) == 0) {
			*v = 0;
			return 0;
		}
	return -1;
}

static int
parse_int(const char *s, long long *v)
{
	char *end;

	/* strtoll would skip leading blanks; a config value should not. */
	if (*s != '-' && *s != '+' && (*s < '0' || *s > '9'))
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	return 0;
}

struct unit {
	const char *name;
	unsigned long long mult;
};

/* Writes a bound back in the option's unit: "10MiB", "5s", "64". */
static void
format_bound(const struct gw_opt *o, long long b, char *buf, size_t len)
{
	static const struct unit sizes[] = { { "GiB", 1ULL << 30 },
		{ "MiB", 1ULL << 20 }, { "KiB", 1ULL << 10 }, { NULL, 0 } };
	static const struct unit durations[] = { { "d", 86400000ULL },
		{ "h", 3600000ULL }, { "m", 60000ULL }, { "s", 1000ULL },
		{ NULL, 0 } };
	const struct unit *u = NULL;
	size_t i;

	if (o->type == GW_OPT_SIZE)
		u = sizes;
	else if (o->type == GW_OPT_DURATION)
		u = durations;
	for (i = 0; u != NULL && u[i].name != NULL && b > 0; i++)
		if ((unsigned long long)b % u[i].mult == 0) {
			snprintf(buf, len, "%llu%s",
			    (unsigned long long)b / u[i].mult, u[i].name);
			return;
		}
	snprintf(buf, len, "%lld%s", b, o->type == GW_OPT_DURATION ? "ms" : "");
}

/* Checks <v> (signed for INT, unsigned otherwise) against the bounds. */
static int
check_bounds(const struct gw_opt *o, const char *s, long long sv, uint64_t uv,
    struct gw_error *err)
{
	char b[64];
	int low, high;

	if (o->min == 0 && o->max == 0)
		return 0;
	if (o->type == GW_OPT_INT) {
		low = sv < o->min;
		high = sv > o->max;
	} else {
		low = o->min > 0 && uv < (uint64_t)o->min;
		high = o->max < 0 || uv > (uint64_t)o->max;
	}
	if (low) {
		format_bound(o, o->min, b, sizeof(b));
		return invalid(err, "'%s' is too small (at least %s)", s, b);
	}
	if (high) {
		format_bound(o, o->max, b, sizeof(b));
		return invalid(err, "'%s' is too large (at most %s)", s, b);
	}
	return 0;
}

/*
 * Stores the text <s> in <o>'s field, then runs the option's check.  A LIST
 * gains an item: replacing the list is the callers' business.  Returns 0,
 * or -1 with a message in <err> that the caller places.
 */
static int
set_scalar(
    const struct gw_opt *o, void *conf, const char *s, struct gw_error *err)
{
	struct gw_node n;
	long long ll;
	uint64_t u;
	char *copy;
	int b;

	switch (o->type) {
	case GW_OPT_FLAG:
		if (parse_flag(s, &b) == -1)
			return invalid(err,
			    "invalid boolean '%s' (expected true or false)", s);
		*(int *)field(o, conf) = b;
		break;
	case GW_OPT_STR:
	case GW_OPT_CONFIG:
		if ((copy = strdup(s)) == NULL)
			return no_memory(err);
		free(*(char **)field(o, conf));
		*(char **)field(o, conf) = copy;
		break;
	case GW_OPT_INT:
		if (parse_int(s, &ll) == -1)
			return invalid(err, "invalid integer '%s'", s);
		if (check_bounds(o, s, ll, 0, err) == -1)
			return -1;
		*(long long *)field(o, conf) = ll;
		break;
	case GW_OPT_SIZE:
		if (gw_parse_size(s, &u) == -1)
			return invalid(err, "invalid size '%s'", s);
		if (check_bounds(o, s, 0, u, err) == -1)
			return -1;
		*(uint64_t *)field(o, conf) = u;
		break;
	case GW_OPT_DURATION:
		if (gw_parse_duration(s, &u) == -1)
			return invalid(err, "invalid duration '%s'", s);
		u = u / 1000000 + (u % 1000000 != 0);
		if (check_bounds(o, s, 0, u, err) == -1)
			return -1;
		*(uint64_t *)field(o, conf) = u;
		break;
	case GW_OPT_LIST:
		if (gw_strlist_add(field(o, conf), s) == -1)
			return no_memory(err);
		break;
	case GW_OPT_CUSTOM:
		if (o->custom == NULL)
			return invalid(err, "no handler for this option");
		return call_custom(o, conf, s, err);
	case GW_OPT_NODE:
		if (o->node == NULL)
			return invalid(err, "no handler for this option");
		/* Command-line values are strings: never YAML's null. */
		memset(&n, 0, sizeof(n));
		n.type = GW_NODE_SCALAR;
		n.str = (char *)s;
		return call_node(o, conf, &n, err);
	}
	if (o->custom != NULL)
		return call_custom(o, conf, s, err);
	return 0;
}

int
gw_opts_init(const struct gw_opt *tab, void *conf, struct gw_error *err)
{
	struct gw_error scratch;
	const struct gw_opt *o;
	char what[128];

	if (err == NULL)
		err = &scratch;
	for (o = tab; o->name; o++) {
		if (o->def == NULL)
			continue;
		clear_error(err);
		if (set_scalar(o, conf, o->def, err) == -1) {
			snprintf(what, sizeof(what), "default of %s", o->name);
			return fail_at(err, NULL, 0, 0, what);
		}
	}
	return 0;
}

void
gw_opts_free(const struct gw_opt *tab, void *conf)
{
	const struct gw_opt *o;
	char **s;

	for (o = tab; o->name; o++) {
		switch (o->type) {
		case GW_OPT_STR:
		case GW_OPT_CONFIG:
			s = field(o, conf);
			free(*s);
			*s = NULL;
			break;
		case GW_OPT_LIST:
			gw_strlist_free(field(o, conf));
			break;
		default:
			break;
		}
	}
}

/* The command line. */

struct argv_pass {
	const struct gw_opt *tab;
	void *conf;
	int apply;           /* second pass: store values */
	unsigned char *seen; /* LIST options already given, by index */
	const struct gw_opt *config_opt; /* first pass: GW_OPT_CONFIG */
	const char *config;              /* and its value */
	int early; /* first pass: a GW_OPT_EARLY flag was seen */
	struct gw_error *err;
};

/*
 * Handles one option occurrence: the first pass only notes the config
 * file and early flags, the second stores.  Returns 1 to stop parsing
 * (an early flag), 0 to go on, -1 on error.
 */
static int
use_option(struct argv_pass *p, const struct gw_opt *o, const char *spelled,
    const char *value)
{
	char what[160];

	if (!p->apply) {
		if (is_early(o)) {
			*(int *)field(o, p->conf) = 1;
			p->early = 1;
			return 1;
		}
		if (o->type == GW_OPT_CONFIG) {
			if (p->config != NULL)
				return invalid(
				    p->err, "option %s given twice", spelled);
			p->config_opt = o;
			p->config = value;
		}
		return 0;
	}
	if (o->type == GW_OPT_CONFIG)
		return 0;
	if (o->type == GW_OPT_LIST && !p->seen[o - p->tab]) {
		/* The command line's list replaces the file's. */
		gw_strlist_free(field(o, p->conf));
		p->seen[o - p->tab] = 1;
	}
	clear_error(p->err);
	if (set_scalar(o, p->conf, value, p->err) == -1) {
		snprintf(what, sizeof(what), "option %s", spelled);
		return fail_at(p->err, NULL, 0, 0, what);
	}
	return 0;
}

/* "--name", "--name=value", "--no-name": returns as use_option(). */
static int
long_option(struct argv_pass *p, int argc, char **argv, int *i)
{
	const char *name = argv[*i] + 2, *eq, *value;
	const struct gw_opt *o;
	char spelled[128];
	size_t len;
	int neg = 0;

	eq = strchr(name, '=');
	len = eq ? (size_t)(eq - name) : strlen(name);
	snprintf(spelled, sizeof(spelled), "--%.*s", (int)len, name);
	o = find_long(p->tab, name, len);
	if (o == NULL && len > 3 && strncmp(name, "no-", 3) == 0) {
		o = find_long(p->tab, name + 3, len - 3);
		if (o != NULL && (o->type != GW_OPT_FLAG || is_early(o)))
			o = NULL;
		neg = 1;
	}
	if (o == NULL)
		return usage_error(p->err, "unknown option ", spelled, "");
	if (o->type == GW_OPT_FLAG) {
		if (eq != NULL)
			return usage_error(
			    p->err, "option ", spelled, " takes no value");
		value = neg ? "false" : "true";
	} else if (eq != NULL)
		value = eq + 1;
	else if (*i + 1 < argc)
		value = argv[++*i];
	else
		return usage_error(
		    p->err, "option ", spelled, " needs a value");
	return use_option(p, o, spelled, value);
}

/* "-x value", "-xvalue", "-vq": returns as use_option(). */
static int
short_options(struct argv_pass *p, int argc, char **argv, int *i)
{
	const struct gw_opt *o;
	const char *c, *value;
	char spelled[3] = "-";
	int rc;

	for (c = argv[*i] + 1; *c; c++) {
		spelled[1] = *c;
		if ((o = find_short(p->tab, *c)) == NULL)
			return usage_error(
			    p->err, "unknown option ", spelled, "");
		if (o->type == GW_OPT_FLAG) {
			if ((rc = use_option(p, o, spelled, "true")) != 0)
				return rc;
			continue;
		}
		if (c[1] != '\0')
			value = c + 1;
		else if (*i + 1 < argc)
			value = argv[++*i];
		else
			return usage_error(
			    p->err, "option ", spelled, " needs a value");
		return use_option(p, o, spelled, value);
	}
	return 0;
}

static int
walk_argv(struct argv_pass *p, int argc, char **argv, int *optind_out)
{
	const char *a;
	int i, rc;

	for (i = argc > 0 ? 1 : 0; i < argc; i++) {
		a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[1] == '-')
			rc = long_option(p, argc, argv, &i);
		else
			rc = short_options(p, argc, argv, &i);
		if (rc == -1)
			return -1;
		if (rc == 1) {
			i++;
			break;
		}
	}
	if (optind_out != NULL)
		*optind_out = i;
	return 0;
}

int
gw_opts_parse_argv(const struct gw_opt *tab, void *conf, int argc, char **argv,
    int *optind_out, struct gw_error *err)
{
	struct gw_error scratch;
	struct argv_pass p;
	const struct gw_opt *o;
	size_t n = 0;
	int saved_errno;

	if (err == NULL)
		err = &scratch;
	clear_error(err);
	memset(&p, 0, sizeof(p));
	p.tab = tab;
	p.conf = conf;
	p.err = err;
	if (walk_argv(&p, argc, argv, optind_out) == -1 || p.early)
		return p.early ? 0 : -1;
	for (o = tab; o->name; o++)
		n++;
	if ((p.seen = calloc(n + 1, 1)) == NULL)
		return no_memory(err);
	if (p.config != NULL) {
		if (set_scalar(p.config_opt, conf, p.config, err) == -1 ||
		    gw_opts_load_yaml(tab, conf, p.config, err) == -1)
			goto fail;
	}
	p.apply = 1;
	if (walk_argv(&p, argc, argv, optind_out) == -1)
		goto fail;
	free(p.seen);
	return 0;
fail:
	saved_errno = errno;
	free(p.seen);
	errno = saved_errno;
	return -1;
}

/* --help. */

static const char *
metavar(const struct gw_opt *o)
{
	if (o->arg != NULL)
		return o->arg;
	switch (o->type) {
	case GW_OPT_INT:
		return "N";
	case GW_OPT_SIZE:
		return "SIZE";
	case GW_OPT_DURATION:
		return "DURATION";
	case GW_OPT_CONFIG:
		return "FILE";
	default:
		return "VALUE";
	}
}

/*
 * The left column: "  -l, --listen ADDR:PORT".  "--[no-]flag" says how to
 * turn off what a config file turned on; not for --help, nor for a flag
 * already named no-something.  Returns its length.
 */
static size_t
usage_left(const struct gw_opt *o, char *buf, size_t len)
{
	int neg, n;

	neg = o->type == GW_OPT_FLAG && !is_early(o) &&
	    strncmp(o->name, "no-", 3) != 0;
	n = snprintf(buf, len, "  %c%c%s--%s%s%s%s", o->short_name ? '-' : ' ',
	    o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ",
	    neg ? "[no-]" : "", o->name, o->type == GW_OPT_FLAG ? "" : " ",
	    o->type == GW_OPT_FLAG ? "" : metavar(o));
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

static int
listed(const struct gw_opt *o)
{
	return o->help != NULL && on_argv(o);
}

/* Prints <text> from column <col>, wrapping at word boundaries. */
static void
usage_wrap(FILE *fp, const char *text, size_t col)
{
	size_t at = col, w;
	const char *s = text;

	while (*s) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		w = strcspn(s, " ");
		if (at > col && at + 1 + w > USAGE_WIDTH - 1) {
			fprintf(fp, "\n%*s", (int)col, "");
			at = col;
		} else if (at > col) {
			fputc(' ', fp);
			at++;
		}
		fprintf(fp, "%.*s", (int)w, s);
		at += w;
		s += w;
	}
	fputc('\n', fp);
}

void
gw_opts_usage(FILE *fp, const char *synopsis, const struct gw_opt *tab)
{
	const struct gw_opt *o;
	char left[160], text[1024];
	size_t col = 0, n;
	int any = 0;

	fprintf(fp, "usage: %s\n", synopsis);
	for (o = tab; o->name; o++) {
		if (!listed(o))
			continue;
		any = 1;
		n = usage_left(o, left, sizeof(left));
		if (n <= USAGE_MAX_LEFT && n > col)
			col = n;
	}
	if (!any)
		return;
	col = (col ? col : USAGE_MAX_LEFT) + 2;
	fprintf(fp, "\noptions:\n");
	for (o = tab; o->name; o++) {
		if (!listed(o))
			continue;
		n = usage_left(o, left, sizeof(left));
		if (n + 2 > col)
			fprintf(fp, "%s\n%*s", left, (int)col, "");
		else
			fprintf(fp, "%s%*s", left, (int)(col - n), "");
		snprintf(text, sizeof(text), "%s%s%s%s", o->help,
		    o->def ? " (default: " : "", o->def ? o->def : "",
		    o->def ? ")" : "");
		usage_wrap(fp, text, col);
	}
}

/* YAML to nodes. */

struct loader {
	yaml_parser_t parser;
	const char *file;
	const char *text;
	size_t len;
	struct gw_error *err;
};

static void
node_fini(struct gw_node *n)
{
	size_t i;

	for (i = 0; i < n->n; i++) {
		if (n->keys != NULL)
			node_fini(&n->keys[i]);
		node_fini(&n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->str);
	n->keys = n->items = NULL;
	n->str = NULL;
	n->n = 0;
}

/* Reports libyaml's error at its position. */
static void
syntax_error(struct loader *l)
{
	const yaml_parser_t *y = &l->parser;
	int line = 1, col = 1;
	size_t i;

	if (y->error == YAML_MEMORY_ERROR) {
		gw_error_set(l->err, l->file, 0, 0, "out of memory");
		errno = ENOMEM;
		return;
	}
	if (y->error == YAML_READER_ERROR) {
		/* The reader knows only a byte offset: count the lines. */
		for (i = 0; i < y->problem_offset && i < l->len; i++) {
			if (l->text[i] == '\n') {
				line++;
				col = 1;
			} else
				col++;
		}
	} else {
		line = (int)y->problem_mark.line + 1;
		col = (int)y->problem_mark.column + 1;
	}
	if (y->context != NULL)
		gw_error_set(l->err, l->file, line, col, "%s (%s)",
		    y->problem ? y->problem : "syntax error", y->context);
	else
		gw_error_set(l->err, l->file, line, col, "%s",
		    y->problem ? y->problem : "syntax error");
	errno = EINVAL;
}

static int
next_event(struct loader *l, yaml_event_t *ev)
{
	if (yaml_parser_parse(&l->parser, ev) == 0) {
		syntax_error(l);
		return -1;
	}
	return 0;
}

static int
load_error(struct loader *l, const yaml_mark_t *m, const char *msg)
{
	gw_error_set(
	    l->err, l->file, (int)m->line + 1, (int)m->column + 1, "%s", msg);
	errno = EINVAL;
	return -1;
}

static int load_node(struct loader *, yaml_event_t *, struct gw_node *, int);

/*
 * Reads the entries of a sequence or mapping into <n> until its end event.
 * Returns 0, or -1 with <n> holding what was read so far.
 */
static int
load_children(struct loader *l, struct gw_node *n, int depth)
{
	struct gw_node key, val, *p;
	yaml_event_t ev;
	size_t cap = 0, i;

	for (;;) {
		if (next_event(l, &ev) == -1)
			return -1;
		if (ev.type == YAML_SEQUENCE_END_EVENT ||
		    ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		memset(&key, 0, sizeof(key));
		if (n->type == GW_NODE_MAP) {
			if (load_node(l, &ev, &key, depth + 1) == -1)
				return -1;
			if (key.type != GW_NODE_SCALAR) {
				gw_opts_node_error(
				    l->err, &key, "a key must be a string");
				errno = EINVAL;
				goto fail_key;
			}
			for (i = 0; i < n->n; i++)
				if (strcmp(n->keys[i].str, key.str) == 0)
					break;
			if (i < n->n) {
				gw_opts_node_error(l->err, &key,
				    "duplicate key '%s' (first at line %d)",
				    key.str, n->keys[i].line);
				errno = EINVAL;
				goto fail_key;
			}
			if (next_event(l, &ev) == -1)
				goto fail_key;
		}
		if (load_node(l, &ev, &val, depth + 1) == -1)
			goto fail_key;
		if (n->n == cap) {
			cap = cap ? cap * 2 : 4;
			if ((p = realloc(n->items, cap * sizeof(*p))) == NULL)
				goto fail_mem;
			n->items = p;
			if (n->type == GW_NODE_MAP) {
				p = realloc(n->keys, cap * sizeof(*p));
				if (p == NULL)
					goto fail_mem;
				n->keys = p;
			}
		}
		if (n->type == GW_NODE_MAP)
			n->keys[n->n] = key;
		n->items[n->n++] = val;
	}
fail_mem:
	node_fini(&val);
	gw_error_set(l->err, l->file, 0, 0, "out of memory");
	errno = ENOMEM;
fail_key:
	node_fini(&key);
	return -1;
}

/*
 * Builds <n> from the event <ev> (consumed) and those that follow it.
 * Returns 0, or -1 with <n> empty.
 */
static int
load_node(struct loader *l, yaml_event_t *ev, struct gw_node *n, int depth)
{
	const unsigned char *v;
	size_t len;

	memset(n, 0, sizeof(*n));
	n->file = l->file;
	n->line = (int)ev->start_mark.line + 1;
	n->col = (int)ev->start_mark.column + 1;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		v = ev->data.scalar.value;
		len = ev->data.scalar.length;
		if (memchr(v, '\0', len) != NULL) {
			load_error(l, &ev->start_mark,
			    "a string may not contain a NUL byte");
			goto fail;
		}
		if ((n->str = malloc(len + 1)) == NULL)
			goto fail_mem;
		memcpy(n->str, v, len);
		n->str[len] = '\0';
		n->plain = ev->data.scalar.plain_implicit;
		yaml_event_delete(ev);
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (depth >= GW_OPTS_MAX_DEPTH) {
			load_error(l, &ev->start_mark, "nesting too deep");
			goto fail;
		}
		n->type = ev->type == YAML_SEQUENCE_START_EVENT ? GW_NODE_SEQ
		                                                : GW_NODE_MAP;
		yaml_event_delete(ev);
		if (load_children(l, n, depth) == -1) {
			node_fini(n);
			return -1;
		}
		return 0;
	case YAML_ALIAS_EVENT:
		/* Expanding them invites billion-laughs files. */
		load_error(
		    l, &ev->start_mark, "YAML aliases are not supported");
		goto fail;
	default:
		load_error(l, &ev->start_mark, "unexpected YAML event");
		goto fail;
	}
fail_mem:
	gw_error_set(l->err, l->file, 0, 0, "out of memory");
	errno = ENOMEM;
fail:
	yaml_event_delete(ev);
	return -1;
}

/* Parses the one document of the stream into <root>. */
static int
load_stream(struct loader *l, struct gw_node *root)
{
	yaml_event_t ev;

	if (next_event(l, &ev) == -1) /* STREAM-START */
		return -1;
	yaml_event_delete(&ev);
	if (next_event(l, &ev) == -1)
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		/* An empty file is a null document. */
		yaml_event_delete(&ev);
		root->type = GW_NODE_SCALAR;
		root->line = root->col = 1;
		root->plain = 1;
		if ((root->str = strdup("")) == NULL)
			return no_memory(l->err);
		return 0;
	}
	yaml_event_delete(&ev); /* DOCUMENT-START */
	if (next_event(l, &ev) == -1 || load_node(l, &ev, root, 0) == -1)
		return -1;
	if (next_event(l, &ev) == -1) /* DOCUMENT-END */
		goto fail;
	yaml_event_delete(&ev);
	if (next_event(l, &ev) == -1)
		goto fail;
	if (ev.type != YAML_STREAM_END_EVENT) {
		load_error(l, &ev.start_mark,
		    "more than one YAML document in the file");
		yaml_event_delete(&ev);
		goto fail;
	}
	yaml_event_delete(&ev);
	return 0;
fail:
	node_fini(root);
	return -1;
}

struct gw_node *
gw_opts_node_parse(
    const char *name, const char *text, size_t len, struct gw_error *err)
{
	struct gw_error scratch;
	struct gw_node *root;
	struct loader l;
	size_t nlen = strlen(name);
	int saved_errno;

	if (err == NULL)
		err = &scratch;
	clear_error(err);
	/* The name lives after the root, so that every node can point to it. */
	if ((root = calloc(1, sizeof(*root) + nlen + 1)) == NULL) {
		no_memory(err);
		return NULL;
	}
	memcpy(root + 1, name, nlen + 1);
	memset(&l, 0, sizeof(l));
	l.file = (const char *)(root + 1);
	l.text = text;
	l.len = len;
	l.err = err;
	root->file = l.file;
	if (yaml_parser_initialize(&l.parser) == 0) {
		free(root);
		no_memory(err);
		return NULL;
	}
	yaml_parser_set_input_string(
	    &l.parser, (const unsigned char *)text, len);
	if (load_stream(&l, root) == -1) {
		saved_errno = errno;
		yaml_parser_delete(&l.parser);
		free(root);
		errno = saved_errno;
		return NULL;
	}
	yaml_parser_delete(&l.parser);
	return root;
}

char *
gw_read_file(const char *path, size_t max, size_t *lenp)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *p;
	struct stat st;
	int fd, saved_errno;
	ssize_t r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap ? cap * 2 : 4096;
			if ((p = realloc(buf, cap)) == NULL)
				goto fail;
			buf = p;
		}
		r = read(fd, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	*lenp = len;
	return buf;
fail:
	saved_errno = errno;
	close(fd);
	free(buf);
	errno = saved_errno;
	return NULL;
}

/* Reads all of <path>.  Returns a malloc'd buffer or NULL with <err> set. */
static char *
read_file(const char *path, size_t *lenp, struct gw_error *err)
{
	char *buf = gw_read_file(path, GW_OPTS_MAX_FILE, lenp);

	if (buf == NULL)
		gw_error_set(err, path, 0, 0, "%s", strerror(errno));
	return buf;
}

struct gw_node *
gw_opts_node_load(const char *path, struct gw_error *err)
{
	struct gw_error scratch;
	struct gw_node *root;
	size_t len;
	char *text;
	int saved_errno;

	if (err == NULL)
		err = &scratch;
	clear_error(err);
	if ((text = read_file(path, &len, err)) == NULL)
		return NULL;
	root = gw_opts_node_parse(path, text, len, err);
	saved_errno = errno;
	free(text);
	errno = saved_errno;
	return root;
}

void
gw_opts_node_free(struct gw_node *root)
{
	if (root == NULL)
		return;
	node_fini(root);
	free(root);
}

const struct gw_node *
gw_opts_node_get(const struct gw_node *map, const char *key)
{
	size_t i;

	if (map == NULL || map->type != GW_NODE_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (key_eq(key, map->keys[i].str))
			return &map->items[i];
	return NULL;
}

int
gw_opts_node_is_null(const struct gw_node *n)
{
	if (n == NULL)
		return 1;
	if (n->type != GW_NODE_SCALAR || !n->plain)
		return 0;
	return n->str[0] == '\0' || strcmp(n->str, "~") == 0 ||
	    strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	    strcmp(n->str, "NULL") == 0;
}

void
gw_opts_node_error(
    struct gw_error *err, const struct gw_node *n, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n == NULL)
		gw_error_set(err, NULL, 0, 0, "%s", msg);
	else
		gw_error_set(err, n->file, n->line, n->col, "%s", msg);
}

/* Applying nodes to a table. */

static const char *
expected(const struct gw_opt *o)
{
	switch (o->type) {
	case GW_OPT_FLAG:
		return "true or false";
	case GW_OPT_INT:
		return "an integer";
	case GW_OPT_SIZE:
		return "a size";
	case GW_OPT_DURATION:
		return "a duration";
	case GW_OPT_LIST:
		return "a string or a list of strings";
	default:
		return "a string";
	}
}

static const char *
got(const struct gw_node *n)
{
	if (n->type == GW_NODE_MAP)
		return "a mapping";
	if (n->type == GW_NODE_SEQ)
		return "a list";
	return "null";
}

static int
wrong_kind(struct gw_error *err, const char *key, const char *want,
    const struct gw_node *n)
{
	gw_opts_node_error(
	    err, n, "%s: expected %s, got %s", key, want, got(n));
	errno = EINVAL;
	return -1;
}

/* Applies the value <v> of the key <key> (as the user spelled it). */
static int
apply_value(const struct gw_opt *o, void *conf, const char *key,
    const struct gw_node *v, struct gw_error *err)
{
	const struct gw_node *it;
	size_t i;

	clear_error(err);
	if (o->type == GW_OPT_NODE) {
		if (o->node == NULL)
			return invalid(err, "no handler for this option");
		if (call_node(o, conf, v, err) == -1)
			return fail_at(err, v->file, v->line, v->col, key);
		return 0;
	}
	if (o->type == GW_OPT_LIST && v->type == GW_NODE_SEQ) {
		gw_strlist_free(field(o, conf));
		for (i = 0; i < v->n; i++) {
			it = &v->items[i];
			if (it->type != GW_NODE_SCALAR ||
			    gw_opts_node_is_null(it))
				return wrong_kind(err, key, "a string", it);
			if (set_scalar(o, conf, it->str, err) == -1)
				return fail_at(
				    err, it->file, it->line, it->col, key);
		}
		return 0;
	}
	if (v->type != GW_NODE_SCALAR || gw_opts_node_is_null(v))
		return wrong_kind(err, key, expected(o), v);
	if (o->type == GW_OPT_LIST)
		gw_strlist_free(field(o, conf));
	if (set_scalar(o, conf, v->str, err) == -1)
		return fail_at(err, v->file, v->line, v->col, key);
	return 0;
}

int
gw_opts_apply(const struct gw_opt *tab, void *conf, const struct gw_node *map,
    struct gw_error *err)
{
	struct gw_error scratch;
	const struct gw_node *key;
	const struct gw_opt *o;
	size_t i, j;

	if (err == NULL)
		err = &scratch;
	clear_error(err);
	if (gw_opts_node_is_null(map))
		return 0;
	if (map->type != GW_NODE_MAP) {
		gw_opts_node_error(err, map, "expected a mapping, got %s",
		    map->type == GW_NODE_SEQ ? "a list" : "a string");
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < map->n; i++) {
		key = &map->keys[i];
		if ((o = find_key(tab, key->str)) == NULL) {
			gw_opts_node_error(
			    err, key, "unknown key '%s'", key->str);
			errno = EINVAL;
			return -1;
		}
		/* Exact repeats were refused by the loader; not spellings. */
		for (j = 0; j < i; j++)
			if (key_eq(o->name, map->keys[j].str)) {
				gw_opts_node_error(err, key,
				    "duplicate key '%s' (first at line %d)",
				    key->str, map->keys[j].line);
				errno = EINVAL;
				return -1;
			}
		if (apply_value(o, conf, key->str, &map->items[i], err) == -1)
			return -1;
	}
	return 0;
}

int
gw_opts_load_yaml(const struct gw_opt *tab, void *conf, const char *path,
    struct gw_error *err)
{
	struct gw_error scratch;
	struct gw_node *root;
	int rc, saved_errno;

	if (err == NULL)
		err = &scratch;
	if ((root = gw_opts_node_load(path, err)) == NULL)
		return -1;
	if (!gw_opts_node_is_null(root) && root->type != GW_NODE_MAP) {
		gw_opts_node_error(
		    err, root, "the top level must be a mapping of options");
		gw_opts_node_free(root);
		errno = EINVAL;
		return -1;
	}
	rc = gw_opts_apply(tab, conf, root, err);
	saved_errno = errno;
	gw_opts_node_free(root);
	errno = saved_errno;
	return rc;
}
