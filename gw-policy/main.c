/* SPDX-License-Identifier: MIT */
/*
 * gw-policy: ngrok-compatible Traffic Policy for gw.  This file holds the
 * command line and nothing else: "check" validates policy files with the
 * loader (policy_load.c) and prints every problem as file:line:col:
 * message; "serve" (serve.c) answers gw-proxy's questions over a Unix
 * socket and "eval" (eval.c) dry-runs a policy over captured events.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw-policy.h"
#include "policy.h"

#define EX_OK       0
#define EX_USAGE    64
#define EX_SOFTWARE 70
#define EX_CONFIG   78

#ifndef GW_VERSION
#define GW_VERSION "0.1.0"
#endif

static const char usage_main[] =
    "usage: gw-policy [--help] [--version] COMMAND [ARGS]\n"
    "\n"
    "ngrok-compatible Traffic Policy for gw (policy.yml or policy.json).\n"
    "\n"
    "Commands:\n"
    "  check FILE...        validate policy files; print every problem\n"
    "  serve [options] FILE answer gw-proxy's questions over a Unix socket\n"
    "  eval FILE [EVENTS]   dry-run a policy over captured events\n"
    "\n"
    "Run 'gw-policy COMMAND --help' for a command's options.\n"
    "Exit status: 0 ok, 64 usage, 70 internal, 78 invalid policy.\n";

static const char usage_check[] =
    "usage: gw-policy check FILE...\n"
    "\n"
    "Validates each policy file (YAML or JSON; '-' reads stdin) as serve\n"
    "would load it: YAML syntax, phases and rule keys, action types and\n"
    "the phases they may run in, every action's config (keys, types,\n"
    "ranges, regular expressions, CIDRs, templates), and every CEL\n"
    "expression.  Prints each problem to stderr as\n"
    "\n"
    "  FILE:LINE:COL: message\n"
    "  FILE:LINE:COL: warning: message\n"
    "\n"
    "and 'FILE: ok' to stdout for each valid file (warnings allowed).\n"
    "\n"
    "Exit status: 0 all files valid, 64 usage, 78 a file is invalid.\n";

static const char usage_serve[] =
    "usage: gw-policy serve FILE --socket PATH [options]\n"
    "\n"
    "Loads the policy FILE and answers gw-proxy's questions (docs/PROTOCOL.md\n"
    "section 8) on the Unix socket PATH, created with mode 0600.  It reloads\n"
    "FILE on SIGHUP and when the file changes on disk; an invalid new file is\n"
    "reported and the old policy stays in force.  Each load or rejection is\n"
    "an audit event (policy_updated.v0, policy_rejected.v0) on stdout.\n"
    "SIGTERM/SIGINT exit 0.\n"
    "\n"
    "  -s, --socket PATH    the Unix socket to listen on\n"
    "      --max-buckets N  rate-limit buckets kept in memory (least\n"
    "                       recently used ones are forgotten past it)\n"
    "      --log-format F   text or json\n"
    "\n"
    "Exit status: 0 ok, 64 usage, 71 socket error, 78 invalid policy.\n";

static const char usage_eval[] =
    "usage: gw-policy eval FILE [EVENTS...] [--max-buckets N]\n"
    "\n"
    "Dry-runs the policy FILE over the events in EVENTS (NDJSON, .zst\n"
    "decompressed) or stdin, in order, with rate limits simulated on the\n"
    "events' own timestamps.  Every line is written to stdout, each\n"
    "http_request_complete.v0 with a \"policy_eval\" member saying what the\n"
    "policy would have done; a summary per outcome and per rule goes to\n"
    "stderr.\n"
    "\n"
    "Exit status: 0 ok, 64 usage, 66 cannot open an input, 74 I/O error,\n"
    "78 invalid policy.\n";

/* Reads all of stdin into a malloc'd buffer; NULL with errno on failure. */
static char *
read_stdin(size_t *lenp)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *p;
	ssize_t r;

	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((p = realloc(buf, cap)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = p;
		}
		r = read(STDIN_FILENO, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*lenp = len;
	return buf;
}

/* Checks one file; prints its problems.  Returns 1 if valid, else 0. */
static int
check_file(const char *path)
{
	struct policy_errors errs;
	struct policy *p;
	char line[1024];
	size_t i, len, more;
	char *text;
	int ok;

	policy_errors_init(&errs);
	if (strcmp(path, "-") == 0) {
		if ((text = read_stdin(&len)) == NULL) {
			fprintf(stderr, "<stdin>: %s\n", strerror(errno));
			return 0;
		}
		p = policy_parse("<stdin>", text, len, &errs);
		free(text);
	} else
		p = policy_load(path, &errs);
	for (i = 0; i < errs.n; i++) {
		const struct gw_error *e = &errs.v[i].err;

		if (errs.v[i].warning) {
			/* The severity goes between position and message. */
			struct gw_error w = *e;

			w.msg[0] = '\0';
			gw_error_format(&w, line, sizeof(line));
			fprintf(stderr, "%swarning: %s\n", line, e->msg);
		} else {
			gw_error_format(e, line, sizeof(line));
			fprintf(stderr, "%s\n", line);
		}
	}
	more = errs.nerrors + errs.nwarnings - errs.n;
	if (more != 0)
		fprintf(stderr, "%s: %zu more problem%s not shown\n",
		    strcmp(path, "-") == 0 ? "<stdin>" : path, more,
		    more == 1 ? "" : "s");
	ok = p != NULL;
	if (ok)
		printf("%s: ok\n", strcmp(path, "-") == 0 ? "<stdin>" : path);
	policy_free(p);
	policy_errors_fini(&errs);
	return ok;
}

static int
cmd_check(int argc, char **argv)
{
	int i, nfiles = 0, bad = 0, opts = 1;

	for (i = 1; i < argc; i++) {
		if (opts && strcmp(argv[i], "--") == 0) {
			opts = 0;
			continue;
		}
		if (opts &&
		    (strcmp(argv[i], "--help") == 0 ||
		        strcmp(argv[i], "-h") == 0)) {
			fputs(usage_check, stdout);
			return EX_OK;
		}
		if (opts && argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr,
			    "gw-policy: error: check: unknown option %s\n"
			    "usage: gw-policy check FILE...\n",
			    argv[i]);
			return EX_USAGE;
		}
		nfiles++;
	}
	if (nfiles == 0) {
		fputs("gw-policy: error: check: no policy file given\n"
		      "usage: gw-policy check FILE...\n",
		    stderr);
		return EX_USAGE;
	}
	for (i = 1, opts = 1; i < argc; i++) {
		if (opts && strcmp(argv[i], "--") == 0) {
			opts = 0;
			continue;
		}
		bad += !check_file(argv[i]);
	}
	fflush(stdout);
	return bad ? EX_CONFIG : EX_OK;
}

/* serve and eval: their --help here, the work in serve.c and eval.c. */
static int
cmd_run(const char *usage, int (*fn)(int, char **), int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return EX_OK;
		}
	}
	return fn(argc, argv);
}

int
main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		fputs(usage_main, stderr);
		return EX_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(usage_main, stdout);
		return EX_OK;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("gw-policy %s\n", GW_VERSION);
		return EX_OK;
	}
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return cmd_run(usage_serve, serve_main, argc - 1, argv + 1);
	if (strcmp(cmd, "eval") == 0)
		return cmd_run(usage_eval, eval_main, argc - 1, argv + 1);
	if (cmd[0] == '-')
		fprintf(stderr, "gw-policy: error: unknown option %s\n", cmd);
	else
		fprintf(
		    stderr, "gw-policy: error: unknown command '%s'\n", cmd);
	fputs("usage: gw-policy [--help] [--version] COMMAND [ARGS]\n", stderr);
	return EX_USAGE;
}
