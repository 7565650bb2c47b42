/* SPDX-License-Identifier: MIT */
/*
 * Tests for lib/opts.c and lib/error.c: the promises a user of any gw
 * binary relies on, the same flag syntax and messages on the command line,
 * in YAML and in JSON config files, positions in every config error, the
 * precedence of the command line over the file, and --help.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "harness.h"
#include "opts.h"

struct tconf {
	char *config;
	char *listen;
	int verbose;
	int capture;
	long long workers;
	uint64_t body_limit;
	uint64_t timeout;
	struct gw_strlist header;
	char *mode;
	struct gw_strlist routes; /* "host=upstream" */
	char *token;
	int no_redact;
	int help;
};

static int
check_listen(void *conf, const char *value, struct gw_error *err)
{
	(void)conf;
	if (strchr(value, ':') == NULL) {
		gw_error_set(err, NULL, 0, 0, "'%s' is not ADDR:PORT", value);
		return -1;
	}
	return 0;
}

static int
set_mode(void *conf, const char *value, struct gw_error *err)
{
	struct tconf *c = conf;

	if (strcmp(value, "fast") != 0 && strcmp(value, "slow") != 0) {
		gw_error_set(err, NULL, 0, 0, "unknown mode '%s'", value);
		return -1;
	}
	free(c->mode);
	c->mode = strdup(value);
	return c->mode ? 0 : -1;
}

static int
add_route(struct tconf *c, const char *host, const char *up)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s=%s", host, up);
	return gw_strlist_add(&c->routes, buf);
}

/*
 * A route is "host=upstream" on the command line, a mapping of hosts to
 * upstreams, or a list of {host, upstream} mappings in a file.
 */
static int
set_route(void *conf, const struct gw_node *n, struct gw_error *err)
{
	const struct gw_node *it, *host, *up;
	struct tconf *c = conf;
	const char *eq;
	char host_buf[256];
	size_t i;

	switch (n->type) {
	case GW_NODE_SCALAR:
		if ((eq = strchr(n->str, '=')) == NULL) {
			gw_error_set(err, NULL, 0, 0, "expected HOST=URL");
			return -1;
		}
		snprintf(host_buf, sizeof(host_buf), "%.*s", (int)(eq - n->str),
		    n->str);
		return add_route(c, host_buf, eq + 1);
	case GW_NODE_MAP:
		for (i = 0; i < n->n; i++) {
			if (n->items[i].type != GW_NODE_SCALAR) {
				gw_opts_node_error(err, &n->items[i],
				    "expected an upstream URL");
				return -1;
			}
			if (add_route(c, n->keys[i].str, n->items[i].str))
				return -1;
		}
		return 0;
	case GW_NODE_SEQ:
		for (i = 0; i < n->n; i++) {
			it = &n->items[i];
			host = gw_opts_node_get(it, "host");
			up = gw_opts_node_get(it, "upstream");
			if (host == NULL || up == NULL) {
				gw_opts_node_error(
				    err, it, "a route needs host and upstream");
				return -1;
			}
			if (add_route(c, host->str, up->str))
				return -1;
		}
		return 0;
	}
	return -1;
}

static const struct gw_opt tab[] = {
	{ .name = "config",
	    .short_name = 'c',
	    .type = GW_OPT_CONFIG,
	    .offset = GW_OPT_FIELD(struct tconf, config, char *),
	    .help = "read options from a YAML file" },
	{ .name = "listen",
	    .short_name = 'l',
	    .type = GW_OPT_STR,
	    .offset = GW_OPT_FIELD(struct tconf, listen, char *),
	    .arg = "ADDR:PORT",
	    .help = "address to listen on",
	    .custom = check_listen,
	    .def = "127.0.0.1:8080" },
	{ .name = "verbose",
	    .short_name = 'v',
	    .type = GW_OPT_FLAG,
	    .offset = GW_OPT_FIELD(struct tconf, verbose, int),
	    .help = "say more" },
	{ .name = "full-capture",
	    .type = GW_OPT_FLAG,
	    .offset = GW_OPT_FIELD(struct tconf, capture, int),
	    .help = "capture request and response bodies" },
	{ .name = "workers",
	    .short_name = 'w',
	    .type = GW_OPT_INT,
	    .offset = GW_OPT_FIELD(struct tconf, workers, long long),
	    .help = "worker count",
	    .min = 1,
	    .max = 64 },
	{ .name = "body-limit",
	    .type = GW_OPT_SIZE,
	    .offset = GW_OPT_FIELD(struct tconf, body_limit, uint64_t),
	    .help = "bytes of each body kept in events",
	    .max = 10 << 20,
	    .def = "10KiB" },
	{ .name = "timeout",
	    .type = GW_OPT_DURATION,
	    .offset = GW_OPT_FIELD(struct tconf, timeout, uint64_t),
	    .help = "idle timeout",
	    .min = 1,
	    .max = 3600 * 1000,
	    .def = "5s" },
	{ .name = "redact-header",
	    .short_name = 'H',
	    .type = GW_OPT_LIST,
	    .offset = GW_OPT_FIELD(struct tconf, header, struct gw_strlist),
	    .arg = "NAME",
	    .help = "also redact this header" },
	{ .name = "no-redact",
	    .type = GW_OPT_FLAG,
	    .offset = GW_OPT_FIELD(struct tconf, no_redact, int),
	    .help = "keep secrets" },
	{ .name = "mode",
	    .type = GW_OPT_CUSTOM,
	    .custom = set_mode,
	    .help = "fast or slow" },
	{ .name = "route",
	    .short_name = 'r',
	    .type = GW_OPT_NODE,
	    .node = set_route,
	    .arg = "HOST=URL",
	    .help = "send requests for HOST to URL" },
	{ .name = "token",
	    .type = GW_OPT_STR,
	    .offset = GW_OPT_FIELD(struct tconf, token, char *),
	    .help = "never on argv",
	    .flags = GW_OPT_FILE_ONLY },
	{ .name = "help",
	    .short_name = 'h',
	    .type = GW_OPT_FLAG,
	    .offset = GW_OPT_FIELD(struct tconf, help, int),
	    .help = "show this help and exit",
	    .flags = GW_OPT_EARLY },
	{ .name = NULL },
};

static char tmpdir[64];

static struct tconf c;
static struct gw_error err;
static char msg[1024];

static void
clear(void)
{
	gw_opts_free(tab, &c);
	gw_strlist_free(&c.routes);
	free(c.mode);
	memset(&c, 0, sizeof(c));
	memset(&err, 0, sizeof(err));
	msg[0] = '\0';
}

/* A fresh config with the table's defaults, as a binary starts. */
static void
reset(void)
{
	clear();
	CHECK(gw_opts_init(tab, &c, &err) == 0);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Parses a NULL-terminated argv; fills msg with the formatted error. */
static int
parse(int *optind_out, ...)
{
	char *argv[32];
	va_list ap;
	int argc = 0, rc;

	argv[argc++] = "prog";
	va_start(ap, optind_out);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	rc = gw_opts_parse_argv(tab, &c, argc, argv, optind_out, &err);
	gw_error_format(&err, msg, sizeof(msg));
	return rc;
}

static const char *
write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	CHECK(fp != NULL);
	if (fp != NULL) {
		fputs(text, fp);
		fclose(fp);
	}
	return path;
}

static int
load(const char *name, const char *text)
{
	const char *path = write_file(name, text);
	int rc;

	rc = gw_opts_load_yaml(tab, &c, path, &err);
	gw_error_format(&err, msg, sizeof(msg));
	return rc;
}

/* The message with the temporary directory cut off the front. */
static const char *
rel(const char *m)
{
	size_t n = strlen(tmpdir);

	return strncmp(m, tmpdir, n) == 0 && m[n] == '/' ? m + n + 1 : m;
}

TEST(error_format)
{
	struct gw_error e;
	char buf[64];

	gw_error_set(&e, "a.yml", 3, 7, "bad %s", "thing");
	gw_error_format(&e, buf, sizeof(buf));
	CHECK_STREQ(buf, "a.yml:3:7: bad thing");
	gw_error_set(&e, "a.yml", 3, 0, "bad");
	gw_error_format(&e, buf, sizeof(buf));
	CHECK_STREQ(buf, "a.yml:3: bad");
	gw_error_set(&e, "a.yml", 0, 9, "No such file or directory");
	gw_error_format(&e, buf, sizeof(buf));
	CHECK_STREQ(buf, "a.yml: No such file or directory");
	gw_error_set(&e, NULL, 0, 0, "unknown option --foo");
	gw_error_format(&e, buf, sizeof(buf));
	CHECK_STREQ(buf, "unknown option --foo");
	/* Adding context to a message in place. */
	gw_error_set(&e, "b.yml", 1, 2, "key: %s", e.msg);
	gw_error_format(&e, buf, sizeof(buf));
	CHECK_STREQ(buf, "b.yml:1:2: key: unknown option --foo");
	gw_error_format(&e, buf, 6);
	CHECK_STREQ(buf, "b.yml");
	gw_error_set(NULL, "x", 1, 1, "ignored");
}

TEST(defaults)
{
	reset();
	CHECK_STREQ(c.listen, "127.0.0.1:8080");
	CHECK(c.body_limit == 10240);
	CHECK(c.timeout == 5000);
	CHECK(c.verbose == 0 && c.workers == 0 && c.header.n == 0);
}

TEST(argv_forms)
{
	int ind = -1;

	reset();
	CHECK(parse(&ind, "--listen", "0.0.0.0:80", "-w", "4",
	          "--body-limit=1MiB", "-v", "--timeout", "500ms", "cmd",
	          "--verbose", NULL) == 0);
	CHECK(ind == 9);
	CHECK_STREQ(c.listen, "0.0.0.0:80");
	CHECK(c.workers == 4);
	CHECK(c.body_limit == 1 << 20);
	CHECK(c.verbose == 1);
	CHECK(c.timeout == 500);

	reset();
	CHECK(parse(&ind, "-l127.0.0.1:1", "-vw8", "--full-capture",
	          "--no-full-capture", "-", NULL) == 0);
	CHECK_STREQ(c.listen, "127.0.0.1:1");
	CHECK(c.verbose == 1 && c.workers == 8 && c.capture == 0);
	/* A flag named no-something is itself, not a negation. */
	CHECK(parse(NULL, "--no-redact", NULL) == 0);
	CHECK(c.no_redact == 1);
	CHECK(ind == 5);

	reset();
	CHECK(parse(&ind, "--verbose", "--", "--listen", NULL) == 0);
	CHECK(ind == 3);
	CHECK_STREQ(c.listen, "127.0.0.1:8080");

	/* A value is taken as it is, leading dash or not. */
	reset();
	CHECK(parse(&ind, "-H", "-x", "--redact-header=", NULL) == 0);
	CHECK(ind == 4);
	CHECK(c.header.n == 2);
	CHECK_STREQ(c.header.v[0], "-x");
	CHECK_STREQ(c.header.v[1], "");
	CHECK(c.header.v[2] == NULL);

	reset();
	CHECK(parse(&ind, NULL) == 0);
	CHECK(ind == 1);
	/* Sub-millisecond durations round up rather than to 0. */
	CHECK(parse(NULL, "--timeout", "1500us", NULL) == 0);
	CHECK(c.timeout == 2);
	CHECK(parse(NULL, "--timeout", "90", NULL) == 0);
	CHECK(c.timeout == 90000);
	reset();
}

TEST(argv_errors)
{
	reset();
	CHECK(parse(NULL, "--foo", NULL) == -1);
	CHECK_STREQ(msg, "unknown option --foo");
	CHECK(errno == EINVAL);
	CHECK(parse(NULL, "--foo=bar", NULL) == -1);
	CHECK_STREQ(msg, "unknown option --foo");
	CHECK(parse(NULL, "-vx", NULL) == -1);
	CHECK_STREQ(msg, "unknown option -x");
	CHECK(parse(NULL, "--list", "a:1", NULL) == -1);
	CHECK_STREQ(msg, "unknown option --list");
	CHECK(parse(NULL, "--no-listen", NULL) == -1);
	CHECK_STREQ(msg, "unknown option --no-listen");
	CHECK(parse(NULL, "--no-help", NULL) == -1);
	CHECK_STREQ(msg, "unknown option --no-help");
	CHECK(parse(NULL, "--token", "x", NULL) == -1);
	CHECK_STREQ(msg, "unknown option --token");
	CHECK(parse(NULL, "--listen", NULL) == -1);
	CHECK_STREQ(msg, "option --listen needs a value");
	CHECK(parse(NULL, "-v", "-l", NULL) == -1);
	CHECK_STREQ(msg, "option -l needs a value");
	CHECK(parse(NULL, "--verbose=1", NULL) == -1);
	CHECK_STREQ(msg, "option --verbose takes no value");
	CHECK(parse(NULL, "--body-limit", "abc", NULL) == -1);
	CHECK_STREQ(msg, "option --body-limit: invalid size 'abc'");
	CHECK(parse(NULL, "-w", "4x", NULL) == -1);
	CHECK_STREQ(msg, "option -w: invalid integer '4x'");
	CHECK(parse(NULL, "-w", " 4", NULL) == -1);
	CHECK_STREQ(msg, "option -w: invalid integer ' 4'");
	CHECK(parse(NULL, "--timeout", "soon", NULL) == -1);
	CHECK_STREQ(msg, "option --timeout: invalid duration 'soon'");
	CHECK(parse(NULL, "--listen", "nowhere", NULL) == -1);
	CHECK_STREQ(msg, "option --listen: 'nowhere' is not ADDR:PORT");
	CHECK(parse(NULL, "--mode", "medium", NULL) == -1);
	CHECK_STREQ(msg, "option --mode: unknown mode 'medium'");
	CHECK(parse(NULL, "-r", "example.com", NULL) == -1);
	CHECK_STREQ(msg, "option -r: expected HOST=URL");
	CHECK(err.file[0] == '\0');
	CHECK(parse(NULL, "-c", "a.yml", "--config", "b.yml", NULL) == -1);
	CHECK_STREQ(msg, "option --config given twice");
	reset();
}

TEST(argv_bounds)
{
	reset();
	CHECK(parse(NULL, "-w", "64", NULL) == 0);
	CHECK(c.workers == 64);
	CHECK(parse(NULL, "-w", "65", NULL) == -1);
	CHECK_STREQ(msg, "option -w: '65' is too large (at most 64)");
	CHECK(parse(NULL, "--workers", "0", NULL) == -1);
	CHECK_STREQ(msg, "option --workers: '0' is too small (at least 1)");
	CHECK(parse(NULL, "-w", "-3", NULL) == -1);
	CHECK_STREQ(msg, "option -w: '-3' is too small (at least 1)");
	CHECK(parse(NULL, "-w", "99999999999999999999", NULL) == -1);
	CHECK_STREQ(msg, "option -w: invalid integer '99999999999999999999'");
	CHECK(c.workers == 64);
	CHECK(parse(NULL, "--body-limit", "10MiB", NULL) == 0);
	CHECK(c.body_limit == 10 << 20);
	CHECK(parse(NULL, "--body-limit", "11M", NULL) == -1);
	CHECK_STREQ(
	    msg, "option --body-limit: '11M' is too large (at most 10MiB)");
	CHECK(parse(NULL, "--timeout", "2h", NULL) == -1);
	CHECK_STREQ(msg, "option --timeout: '2h' is too large (at most 1h)");
	CHECK(parse(NULL, "--timeout", "0s", NULL) == -1);
	CHECK_STREQ(msg, "option --timeout: '0s' is too small (at least 1ms)");
	reset();
}

TEST(argv_lists)
{
	reset();
	CHECK(parse(NULL, "-H", "X-A", "--redact-header", "X-B",
	          "--redact-header=X-C", NULL) == 0);
	CHECK(c.header.n == 3);
	CHECK_STREQ(c.header.v[2], "X-C");
	/* A second parse (a reload) replaces rather than appends. */
	CHECK(parse(NULL, "-H", "X-D", NULL) == 0);
	CHECK(c.header.n == 1);
	CHECK_STREQ(c.header.v[0], "X-D");
	CHECK(parse(NULL, "-r", "a.example=http://127.0.0.1:1", "-r",
	          "b.example=http://127.0.0.1:2", NULL) == 0);
	CHECK(c.routes.n == 2);
	CHECK_STREQ(c.routes.v[1], "b.example=http://127.0.0.1:2");
	reset();
}

TEST(argv_early)
{
	int ind;

	reset();
	/* --help wins over a broken value and a missing config file. */
	CHECK(parse(&ind, "-w", "abc", "-c", "/nonexistent/x.yml", "-h",
	          "--listen", NULL) == 0);
	CHECK(c.help == 1);
	CHECK(c.workers == 0);
	CHECK(ind == 6);
	reset();
	CHECK(parse(NULL, "-vh", NULL) == 0);
	CHECK(c.help == 1);
	reset();
	/* ... but not over an unknown option before it. */
	CHECK(parse(NULL, "--bogus", "--help", NULL) == -1);
	CHECK_STREQ(msg, "unknown option --bogus");
	reset();
}

TEST(yaml_valid)
{
	reset();
	CHECK(load("ok.yml",
	          "# comment\n"
	          "listen: 0.0.0.0:9000\n"
	          "verbose: yes\n"
	          "full_capture: true\n"
	          "workers: 12\n"
	          "body-limit: 64KiB\n"
	          "timeout: 1m\n"
	          "redact_header: [X-A, \"X-B\"]\n"
	          "mode: fast\n"
	          "token: 's3cret'\n") == 0);
	CHECK_STREQ(msg, "");
	CHECK_STREQ(c.listen, "0.0.0.0:9000");
	CHECK(c.verbose == 1 && c.capture == 1);
	CHECK(c.workers == 12);
	CHECK(c.body_limit == 65536);
	CHECK(c.timeout == 60000);
	CHECK(c.header.n == 2);
	CHECK_STREQ(c.header.v[1], "X-B");
	CHECK_STREQ(c.mode, "fast");
	CHECK_STREQ(c.token, "s3cret");

	/* A scalar is a one-item list, and a list in a file replaces. */
	CHECK(
	    load("one.yml", "redact-header: X-Only\nfull-capture: off\n") == 0);
	CHECK(c.header.n == 1);
	CHECK_STREQ(c.header.v[0], "X-Only");
	CHECK(c.capture == 0);
	CHECK(load("none.yml", "redact-header: []\n") == 0);
	CHECK(c.header.n == 0);

	/* An empty file, or only comments, sets nothing. */
	CHECK(load("empty.yml", "") == 0);
	CHECK(load("comments.yml", "# nothing\n") == 0);
	CHECK(load("null.yml", "---\n...\n") == 0);
	CHECK_STREQ(c.listen, "0.0.0.0:9000");
	reset();
}

TEST(yaml_unknown_key)
{
	reset();
	CHECK(load("unknown.yml",
	          "listen: 0.0.0.0:9000\n"
	          "\n"
	          "  # indented comment\n"
	          "workers: 3\n"
	          "lissten: x\n") == -1);
	CHECK_STREQ(rel(msg), "unknown.yml:5:1: unknown key 'lissten'");
	CHECK(errno == EINVAL);
	CHECK(err.line == 5 && err.col == 1);
	/* Command-line-only options are not keys. */
	CHECK(load("help.yml", "help: true\n") == -1);
	CHECK_STREQ(rel(msg), "help.yml:1:1: unknown key 'help'");
	CHECK(load("config.yml", "verbose: true\nconfig: other.yml\n") == -1);
	CHECK_STREQ(rel(msg), "config.yml:2:1: unknown key 'config'");
	CHECK(load("nested.yml", "section:\n  workers: 3\n") == -1);
	CHECK_STREQ(rel(msg), "nested.yml:1:1: unknown key 'section'");
	reset();
}

TEST(yaml_bad_values)
{
	reset();
	CHECK(load("v1.yml", "workers: 2\nbody_limit: abc\n") == -1);
	CHECK_STREQ(rel(msg), "v1.yml:2:13: body_limit: invalid size 'abc'");
	CHECK(load("v2.yml", "listen: [a, b]\n") == -1);
	CHECK_STREQ(
	    rel(msg), "v2.yml:1:9: listen: expected a string, got a list");
	CHECK(load("v3.yml", "workers:\n  n: 3\n") == -1);
	CHECK_STREQ(rel(msg),
	    "v3.yml:2:3: workers: expected an integer, got a mapping");
	CHECK(load("v4.yml", "verbose: maybe\n") == -1);
	CHECK_STREQ(rel(msg),
	    "v4.yml:1:10: verbose: invalid boolean 'maybe' (expected true or "
	    "false)");
	CHECK(load("v5.yml", "listen:\n") == -1);
	CHECK_STREQ(
	    rel(msg), "v5.yml:1:8: listen: expected a string, got null");
	CHECK(load("v6.yml", "redact-header:\n  - X-A\n  - [X-B]\n") == -1);
	CHECK_STREQ(rel(msg),
	    "v6.yml:3:5: redact-header: expected a string, got a list");
	CHECK(load("v7.yml", "workers: 100\n") == -1);
	CHECK_STREQ(
	    rel(msg), "v7.yml:1:10: workers: '100' is too large (at most 64)");
	CHECK(load("v8.yml", "listen: \"here\"\n") == -1);
	CHECK_STREQ(rel(msg), "v8.yml:1:9: listen: 'here' is not ADDR:PORT");
	CHECK(load("v9.yml", "mode: {a: b}\n") == -1);
	CHECK_STREQ(
	    rel(msg), "v9.yml:1:7: mode: expected a string, got a mapping");
	/* Quoted null is a string, and numbers are text for a STR option. */
	CHECK(load("v10.yml", "listen: '~:1'\ntoken: 1234\n") == 0);
	CHECK_STREQ(c.listen, "~:1");
	CHECK_STREQ(c.token, "1234");
	CHECK(load("v11.yml", "- listen\n") == -1);
	CHECK_STREQ(rel(msg),
	    "v11.yml:1:1: the top level must be a mapping of "
	    "options");
	CHECK(load("v12.yml", "just text\n") == -1);
	CHECK_STREQ(rel(msg),
	    "v12.yml:1:1: the top level must be a mapping of "
	    "options");
	reset();
}

TEST(yaml_syntax)
{
	reset();
	CHECK(load("s1.yml",
	          "listen: 0.0.0.0:1\nworkers: [1, 2\nverbose: "
	          "true\n") == -1);
	CHECK_STREQ(rel(msg),
	    "s1.yml:3:8: did not find expected ',' or ']' (while parsing a "
	    "flow sequence)");
	CHECK(load("s2.yml", "listen: a\n  workers: 2\n") == -1);
	CHECK_STREQ(rel(msg),
	    "s2.yml:2:10: mapping values are not allowed in this context");
	CHECK(load("s3.yml", "listen: \"a\n") == -1);
	CHECK_STREQ(rel(msg),
	    "s3.yml:2:1: found unexpected end of stream (while scanning a "
	    "quoted scalar)");
	CHECK(load("s4.yml", "verbose: true\nworkers: \xff\n") == -1);
	CHECK_STREQ(rel(msg), "s4.yml:2:10: invalid leading UTF-8 octet");
	CHECK(load("s5.yml", "a: 1\n---\nb: 2\n") == -1);
	CHECK_STREQ(
	    rel(msg), "s5.yml:2:1: more than one YAML document in the file");
	CHECK(load("s6.yml", "listen: &x 0:1\ntoken: *x\n") == -1);
	CHECK_STREQ(rel(msg), "s6.yml:2:8: YAML aliases are not supported");
	CHECK(load("s7.yml", "[a]: 1\n") == -1);
	CHECK_STREQ(rel(msg), "s7.yml:1:1: a key must be a string");
	CHECK(gw_opts_load_yaml(tab, &c, "/nonexistent/gw.yml", &err) == -1);
	CHECK(errno == ENOENT);
	gw_error_format(&err, msg, sizeof(msg));
	CHECK_STREQ(msg, "/nonexistent/gw.yml: No such file or directory");
	CHECK(gw_opts_load_yaml(tab, &c, tmpdir, &err) == -1);
	CHECK(errno == EISDIR);
	reset();
}

TEST(yaml_deep)
{
	char text[4096];
	size_t i, n = 0;

	reset();
	n += (size_t)snprintf(text, sizeof(text), "route: ");
	for (i = 0; i < 200; i++)
		text[n++] = '[';
	text[n] = '\0';
	CHECK(load("deep.yml", text) == -1);
	CHECK(strstr(msg, "nesting too deep") != NULL);
	reset();
}

TEST(yaml_duplicates)
{
	reset();
	CHECK(load("d1.yml", "workers: 2\nverbose: true\nworkers: 3\n") == -1);
	CHECK_STREQ(
	    rel(msg), "d1.yml:3:1: duplicate key 'workers' (first at line 1)");
	CHECK(load("d2.yml", "body-limit: 1K\nbody_limit: 2K\n") == -1);
	CHECK_STREQ(rel(msg),
	    "d2.yml:2:1: duplicate key 'body_limit' (first at line 1)");
	CHECK(load("d3.yml", "route:\n  a: x\n  b: y\n  a: z\n") == -1);
	CHECK_STREQ(
	    rel(msg), "d3.yml:4:3: duplicate key 'a' (first at line 2)");
	reset();
}

TEST(json_file)
{
	reset();
	CHECK(
	    load("conf.json",
	        "{\"listen\": \"[::1]:8080\", \"workers\": 7, "
	        "\"full_capture\": true,\n"
	        " \"redact_header\": [\"X-Token\"], "
	        "\"route\": {\"api.example.com\": \"http://127.0.0.1:3001\"}}\n") ==
	    0);
	CHECK_STREQ(c.listen, "[::1]:8080");
	CHECK(c.workers == 7 && c.capture == 1);
	CHECK(c.header.n == 1);
	CHECK(c.routes.n == 1);
	CHECK_STREQ(c.routes.v[0], "api.example.com=http://127.0.0.1:3001");
	CHECK(load("bad.json",
	          "{\"listen\": \"a:1\",\n \"workers\": \"x\"}\n") == -1);
	CHECK_STREQ(rel(msg), "bad.json:2:13: workers: invalid integer 'x'");
	reset();
}

TEST(argv_overrides_file)
{
	const char *path;
	int ind;

	reset();
	path = write_file("base.yml",
	    "listen: 0.0.0.0:9000\n"
	    "workers: 3\n"
	    "verbose: true\n"
	    "redact_header: [X-A, X-B]\n"
	    "timeout: 10s\n");
	/* The file is read first wherever --config appears. */
	CHECK(parse(&ind, "-w", "5", "--no-verbose", "--config", path, "-H",
	          "X-C", "run", NULL) == 0);
	CHECK(ind == 8);
	CHECK_STREQ(c.config, path);
	CHECK_STREQ(c.listen, "0.0.0.0:9000");
	CHECK(c.workers == 5);
	CHECK(c.verbose == 0);
	CHECK(c.timeout == 10000);
	CHECK(c.header.n == 1);
	CHECK_STREQ(c.header.v[0], "X-C");
	CHECK(c.body_limit == 10240);

	/* An error in the file is reported with the file's name. */
	reset();
	path = write_file("broken.yml", "workers: 0\n");
	CHECK(parse(NULL, "-c", path, NULL) == -1);
	CHECK_STREQ(rel(msg),
	    "broken.yml:1:10: workers: '0' is too small (at least 1)");
	CHECK(err.file[0] != '\0');
	reset();
}

TEST(node_option)
{
	const struct gw_node *root, *v;
	struct gw_node *t;

	reset();
	CHECK(load("routes.yml",
	          "route:\n"
	          "  api.example.com: http://127.0.0.1:3001\n"
	          "  www.example.com: http://127.0.0.1:3002\n") == 0);
	CHECK(c.routes.n == 2);
	CHECK_STREQ(c.routes.v[1], "www.example.com=http://127.0.0.1:3002");
	reset();
	CHECK(load("routes2.yml",
	          "route:\n"
	          "  - host: a.example\n"
	          "    upstream: http://127.0.0.1:1\n"
	          "  - host: b.example\n"
	          "    upstreem: http://127.0.0.1:2\n") == -1);
	CHECK_STREQ(
	    rel(msg), "routes2.yml:4:5: a route needs host and upstream");
	CHECK(load("routes3.yml", "route:\n  a.example: [x]\n") == -1);
	CHECK_STREQ(rel(msg), "routes3.yml:2:14: expected an upstream URL");
	/* A callback that gives no position gets the value's. */
	CHECK(load("routes4.yml", "verbose: true\nroute: example.com\n") == -1);
	CHECK_STREQ(rel(msg), "routes4.yml:2:8: route: expected HOST=URL");

	/* The tree, for files that are not option tables. */
	t = gw_opts_node_parse("p.yml", "a: {b: [1, \"2\", ~]}\n", 20, &err);
	CHECK(t != NULL);
	if (t != NULL) {
		root = t;
		CHECK(root->type == GW_NODE_MAP && root->n == 1);
		v = gw_opts_node_get(gw_opts_node_get(root, "a"), "b");
		CHECK(v != NULL && v->type == GW_NODE_SEQ && v->n == 3);
		if (v != NULL && v->n == 3) {
			CHECK(v->line == 1 && v->col == 8);
			CHECK(v->items[0].plain && !v->items[1].plain);
			CHECK(!gw_opts_node_is_null(&v->items[1]));
			CHECK(gw_opts_node_is_null(&v->items[2]));
			CHECK_STREQ(v->items[1].file, "p.yml");
		}
		CHECK(gw_opts_node_get(root, "zz") == NULL);
		CHECK(gw_opts_apply(tab, &c, root, &err) == -1);
		gw_error_format(&err, msg, sizeof(msg));
		CHECK_STREQ(msg, "p.yml:1:1: unknown key 'a'");
	}
	gw_opts_node_free(t);
	gw_opts_node_free(NULL);
	reset();
}

static char *
usage_text(const struct gw_opt *t)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp;

	if ((fp = open_memstream(&out, &len)) == NULL)
		return NULL;
	gw_opts_usage(fp, "prog [options] COMMAND", t);
	fclose(fp);
	return out;
}

TEST(usage)
{
	static const struct gw_opt wide[] = {
		{ .name = "a-very-long-option-name",
		    .type = GW_OPT_STR,
		    .arg = "SOMETHING",
		    .help = "goes below" },
		{ .name = "short",
		    .short_name = 's',
		    .type = GW_OPT_DURATION,
		    .help = "a help text long enough that it has to be wrapped "
		            "over more than one line of the terminal, at word "
		            "boundaries" },
		{ .name = "hidden", .type = GW_OPT_FLAG },
		{ .name = NULL },
	};
	static const struct gw_opt only_wide[] = {
		{ .name = "a-very-long-option-name",
		    .type = GW_OPT_INT,
		    .help = "still listed" },
		{ .name = NULL },
	};
	char *out;

	out = usage_text(tab);
	CHECK_STREQ(out,
	    "usage: prog [options] COMMAND\n"
	    "\n"
	    "options:\n"
	    "  -c, --config FILE         read options from a YAML file\n"
	    "  -l, --listen ADDR:PORT    address to listen on (default: "
	    "127.0.0.1:8080)\n"
	    "  -v, --[no-]verbose        say more\n"
	    "      --[no-]full-capture   capture request and response bodies\n"
	    "  -w, --workers N           worker count\n"
	    "      --body-limit SIZE     bytes of each body kept in events "
	    "(default: 10KiB)\n"
	    "      --timeout DURATION    idle timeout (default: 5s)\n"
	    "  -H, --redact-header NAME  also redact this header\n"
	    "      --no-redact           keep secrets\n"
	    "      --mode VALUE          fast or slow\n"
	    "  -r, --route HOST=URL      send requests for HOST to URL\n"
	    "  -h, --help                show this help and exit\n");
	free(out);
	out = usage_text(wide);
	CHECK_STREQ(out,
	    "usage: prog [options] COMMAND\n"
	    "\n"
	    "options:\n"
	    "      --a-very-long-option-name SOMETHING\n"
	    "                        goes below\n"
	    "  -s, --short DURATION  a help text long enough that it has to be "
	    "wrapped over\n"
	    "                        more than one line of the terminal, at "
	    "word boundaries\n");
	free(out);
	out = usage_text(only_wide);
	CHECK_STREQ(out,
	    "usage: prog [options] COMMAND\n"
	    "\n"
	    "options:\n"
	    "      --a-very-long-option-name N\n"
	    "                                still listed\n");
	free(out);
	out = usage_text(wide + 2);
	CHECK_STREQ(out, "usage: prog [options] COMMAND\n");
	free(out);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_opts.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(error_format);
	RUN(defaults);
	RUN(argv_forms);
	RUN(argv_errors);
	RUN(argv_bounds);
	RUN(argv_lists);
	RUN(argv_early);
	RUN(yaml_valid);
	RUN(yaml_unknown_key);
	RUN(yaml_bad_values);
	RUN(yaml_syntax);
	RUN(yaml_deep);
	RUN(yaml_duplicates);
	RUN(json_file);
	RUN(argv_overrides_file);
	RUN(node_option);
	RUN(usage);
	clear();
	nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	return harness_done();
}
