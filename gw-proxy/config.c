// SPDX-License-Identifier: MIT
/*
 * gw-proxy's configuration: the option table shared by the command line
 * and the YAML file given with --config, the defaults, and the checks
 * that turn option values into a struct pconf (upstreams resolved, routes
 * built, certificates loaded).  A pconf is refcounted so that a reload
 * can replace it while exchanges that started under the old one finish.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gw-proxy.h"
#include "log.h"

#define F(f, t) GW_OPT_FIELD(struct proxy_opts, f, t)
#define NOMAX   LLONG_MAX

const struct gw_opt proxy_optab[] = {
	{ .name = "listen",
	    .short_name = 'l',
	    .type = GW_OPT_LIST,
	    .offset = F(listen, struct gw_strlist),
	    .arg = "ADDR:PORT",
	    .help = "listen here (repeatable); https://ADDR:PORT for TLS",
	    .def = "127.0.0.1:8080" },
	{ .name = "upstream",
	    .short_name = 'u',
	    .type = GW_OPT_STR,
	    .offset = F(upstream, char *),
	    .arg = "URL",
	    .help = "where requests go: http[s]://HOST:PORT[/prefix]" },
	{ .name = "route",
	    .short_name = 'r',
	    .type = GW_OPT_LIST,
	    .offset = F(route, struct gw_strlist),
	    .arg = "HOST=URL",
	    .help = "send requests for Host HOST to URL (repeatable)" },
	{ .name = "tls-cert",
	    .type = GW_OPT_LIST,
	    .offset = F(tls_cert, struct gw_strlist),
	    .arg = "FILE",
	    .help = "PEM certificate chain (repeatable; SNI picks one)" },
	{ .name = "tls-key",
	    .type = GW_OPT_LIST,
	    .offset = F(tls_key, struct gw_strlist),
	    .arg = "FILE",
	    .help = "PEM key of the --tls-cert at the same position" },
	{ .name = "upstream-ca",
	    .type = GW_OPT_STR,
	    .offset = F(upstream_ca, char *),
	    .arg = "FILE",
	    .help = "trust this CA file for https upstreams" },
	{ .name = "upstream-insecure",
	    .type = GW_OPT_FLAG,
	    .offset = F(upstream_insecure, int),
	    .help = "do not verify https upstreams' certificates" },
	{ .name = "events",
	    .short_name = 'e',
	    .type = GW_OPT_STR,
	    .offset = F(events, char *),
	    .arg = "FILE|-",
	    .help = "write events here (- is stdout)",
	    .def = "-" },
	{ .name = "full-capture",
	    .type = GW_OPT_FLAG,
	    .offset = F(full_capture, int),
	    .help = "put headers and bodies in events (capped)" },
	{ .name = "body-limit",
	    .type = GW_OPT_SIZE,
	    .offset = F(body_limit, uint64_t),
	    .arg = "SIZE",
	    .help = "body bytes captured per message",
	    .min = 1,
	    .max = 64LL << 20,
	    .def = "10KiB" },
	{ .name = "redact-header",
	    .type = GW_OPT_LIST,
	    .offset = F(redact_header, struct gw_strlist),
	    .arg = "NAME",
	    .help = "also redact this header in events (repeatable)" },
	{ .name = "no-redact",
	    .type = GW_OPT_FLAG,
	    .offset = F(no_redact, int),
	    .help = "keep Authorization, Cookie, ... in events" },
	{ .name = "max-body-size",
	    .type = GW_OPT_SIZE,
	    .offset = F(max_body_size, uint64_t),
	    .arg = "SIZE",
	    .help = "largest request body accepted (413 past it)",
	    .min = 1,
	    .max = NOMAX,
	    .def = "1GiB" },
	{ .name = "max-header-size",
	    .type = GW_OPT_SIZE,
	    .offset = F(max_header_size, uint64_t),
	    .arg = "SIZE",
	    .help = "largest request header section (431 past it)",
	    .min = 1024,
	    .max = 1 << 20,
	    .def = "16KiB" },
	{ .name = "max-line-size",
	    .type = GW_OPT_SIZE,
	    .offset = F(max_line_size, uint64_t),
	    .arg = "SIZE",
	    .help = "longest request line (414 past it)",
	    .min = 256,
	    .max = 1 << 20,
	    .def = "8KiB" },
	{ .name = "header-timeout",
	    .type = GW_OPT_DURATION,
	    .offset = F(header_timeout, uint64_t),
	    .arg = "DURATION",
	    .help = "time to receive a request head (408 past it)",
	    .min = 1,
	    .max = NOMAX,
	    .def = "10s" },
	{ .name = "idle-timeout",
	    .type = GW_OPT_DURATION,
	    .offset = F(idle_timeout, uint64_t),
	    .arg = "DURATION",
	    .help = "close keep-alive connections idle this long",
	    .min = 1,
	    .max = NOMAX,
	    .def = "60s" },
	{ .name = "client-timeout",
	    .type = GW_OPT_DURATION,
	    .offset = F(client_timeout, uint64_t),
	    .arg = "DURATION",
	    .help = "give up on a client silent this long mid-exchange",
	    .min = 1,
	    .max = NOMAX,
	    .def = "60s" },
	{ .name = "connect-timeout",
	    .type = GW_OPT_DURATION,
	    .offset = F(connect_timeout, uint64_t),
	    .arg = "DURATION",
	    .help = "upstream connect time (502 past it)",
	    .min = 1,
	    .max = NOMAX,
	    .def = "5s" },
	{ .name = "upstream-timeout",
	    .type = GW_OPT_DURATION,
	    .offset = F(upstream_timeout, uint64_t),
	    .arg = "DURATION",
	    .help = "upstream silence allowed (504 past it)",
	    .min = 1,
	    .max = NOMAX,
	    .def = "60s" },
	{ .name = "drain-timeout",
	    .type = GW_OPT_DURATION,
	    .offset = F(drain_timeout, uint64_t),
	    .arg = "DURATION",
	    .help = "on SIGTERM, wait this long for exchanges to end",
	    .min = 1,
	    .max = NOMAX,
	    .def = "30s" },
	{ .name = "stats-interval",
	    .type = GW_OPT_DURATION,
	    .offset = F(stats_interval, uint64_t),
	    .arg = "DURATION",
	    .help = "log a stats line this often (0: never)",
	    .def = "60s" },
	{ .name = "event-queue",
	    .type = GW_OPT_SIZE,
	    .offset = F(event_queue, uint64_t),
	    .arg = "SIZE",
	    .help = "events held for a slow reader before dropping",
	    .min = 64 * 1024,
	    .max = NOMAX,
	    .def = "16MiB" },
	{ .name = "max-idle-upstream",
	    .type = GW_OPT_INT,
	    .offset = F(max_idle_upstream, long long),
	    .arg = "N",
	    .help = "idle keep-alive connections kept per upstream",
	    .min = 0,
	    .max = 100000,
	    .def = "256" },
	{ .name = "log-level",
	    .type = GW_OPT_STR,
	    .offset = F(log_level, char *),
	    .arg = "LEVEL",
	    .help = "debug, info, warning or error",
	    .def = "info" },
	{ .name = "log-format",
	    .type = GW_OPT_STR,
	    .offset = F(log_format, char *),
	    .arg = "FORMAT",
	    .help = "text or json",
	    .def = "text" },
	{ .name = "policy",
	    .short_name = 'p',
	    .type = GW_OPT_STR,
	    .offset = F(policy, char *),
	    .arg = "SOCKET",
	    .help = "ask gw-policy at this Unix socket about every request" },
	{ .name = "policy-fail-open",
	    .type = GW_OPT_FLAG,
	    .offset = F(policy_fail_open, int),
	    .help = "let requests through unchecked while gw-policy is down "
	            "(default: answer 503)" },
	{ .name = "policy-timeout",
	    .type = GW_OPT_DURATION,
	    .offset = F(policy_timeout, uint64_t),
	    .arg = "DURATION",
	    .help = "wait this long for gw-policy's answer",
	    .min = 1,
	    .max = NOMAX,
	    .def = "2s" },
	{ .name = "config",
	    .short_name = 'c',
	    .type = GW_OPT_CONFIG,
	    .offset = F(config, char *),
	    .arg = "FILE",
	    .help = "read options from this YAML file (flags win)" },
	{ .name = "help",
	    .short_name = 'h',
	    .type = GW_OPT_FLAG,
	    .offset = F(help, int),
	    .help = "show this help",
	    .flags = GW_OPT_EARLY },
	{ .name = "version",
	    .type = GW_OPT_FLAG,
	    .offset = F(version, int),
	    .help = "show the version",
	    .flags = GW_OPT_EARLY },
	{ .name = NULL },
};

struct pconf *
conf_ref(struct pconf *pc)
{
	pc->refs++;
	return pc;
}

static void
conf_free(struct pconf *pc)
{
	size_t i;

	tls_conf_free(pc);
	for (i = 0; i < pc->n_routes; i++)
		free(pc->routes[i].host);
	free(pc->routes);
	free(pc->redact_names);
	gw_opts_free(proxy_optab, &pc->o);
	free(pc);
}

/* Drops a reference; the last one frees <pc> (NULL accepted). */
void
conf_unref(struct pconf *pc)
{
	if (pc != NULL && --pc->refs == 0)
		conf_free(pc);
}

/*
 * Returns the upstream for Host <host> (<len> bytes, port removed): the
 * route for that host, or the default upstream, or NULL.
 */
struct upstream *
conf_route(struct pconf *pc, const char *host, size_t len)
{
	size_t i;

	for (i = 0; i < pc->n_routes; i++)
		if (http_str_ieq(host, len, pc->routes[i].host))
			return pc->routes[i].up;
	return pc->dflt;
}

static int
build_routes(struct pconf *pc, struct gw_error *err)
{
	size_t i;
	char *eq, *h;

	if (pc->o.route.n == 0)
		return 0;
	pc->routes = calloc(pc->o.route.n, sizeof(*pc->routes));
	if (pc->routes == NULL) {
		gw_error_set(err, NULL, 0, 0, "out of memory");
		return -1;
	}
	for (i = 0; i < pc->o.route.n; i++) {
		eq = strchr(pc->o.route.v[i], '=');
		if (eq == NULL || eq == pc->o.route.v[i] || eq[1] == '\0') {
			gw_error_set(err, NULL, 0, 0,
			    "--route %s: expected HOST=URL", pc->o.route.v[i]);
			return -1;
		}
		h = strndup(pc->o.route.v[i], (size_t)(eq - pc->o.route.v[i]));
		if (h == NULL) {
			gw_error_set(err, NULL, 0, 0, "out of memory");
			return -1;
		}
		for (char *p = h; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		pc->routes[i].host = h;
		pc->n_routes = i + 1;
		pc->routes[i].up = upstream_get(eq + 1, pc, err);
		if (pc->routes[i].up == NULL)
			return -1;
	}
	return 0;
}

static int
build_redact(struct pconf *pc, struct gw_error *err)
{
	size_t i, n = gw_redact_default.n + pc->o.redact_header.n;

	pc->redact_names = calloc(n ? n : 1, sizeof(char *));
	if (pc->redact_names == NULL) {
		gw_error_set(err, NULL, 0, 0, "out of memory");
		return -1;
	}
	for (i = 0; i < gw_redact_default.n; i++)
		pc->redact_names[i] = gw_redact_default.names[i];
	for (i = 0; i < pc->o.redact_header.n; i++) {
		const char *h = pc->o.redact_header.v[i];

		if (!gw_http_token_ok(h, strlen(h))) {
			gw_error_set(err, NULL, 0, 0,
			    "--redact-header %s: not a header name", h);
			return -1;
		}
		pc->redact_names[gw_redact_default.n + i] = h;
	}
	pc->redact.names = pc->redact_names;
	pc->redact.n = n;
	return 0;
}

static int
check_values(struct pconf *pc, struct gw_error *err)
{
	struct proxy_opts *o = &pc->o;
	enum gw_log_level level;
	enum gw_log_format format;

	if (o->log_level != NULL &&
	    gw_log_parse_level(o->log_level, &level) == -1) {
		gw_error_set(err, NULL, 0, 0,
		    "--log-level %s: expected debug, info, warning or error",
		    o->log_level);
		return -1;
	}
	if (o->log_format != NULL &&
	    gw_log_parse_format(o->log_format, &format) == -1) {
		gw_error_set(err, NULL, 0, 0,
		    "--log-format %s: expected text or json", o->log_format);
		return -1;
	}
	if (o->max_line_size > o->max_header_size) {
		gw_error_set(err, NULL, 0, 0,
		    "--max-line-size must not exceed --max-header-size");
		return -1;
	}
	if (o->upstream == NULL && o->route.n == 0) {
		gw_error_set(err, NULL, 0, 0,
		    "no upstream: give --upstream URL or --route HOST=URL");
		return -1;
	}
	return 0;
}

/*
 * Builds a configuration from the YAML file named by --config (if any)
 * and then the command line, which wins.  Returns a pconf holding one
 * reference, or NULL with <err> set and *usage non-zero when the command
 * line itself was malformed (exit 64) rather than a value (exit 78).
 */
struct pconf *
conf_load(
    int argc, char **argv, int *optind_out, struct gw_error *err, int *usage)
{
	struct pconf *pc;
	int oi = 0;

	*usage = 0;
	if ((pc = calloc(1, sizeof(*pc))) == NULL) {
		gw_error_set(err, NULL, 0, 0, "out of memory");
		return NULL;
	}
	pc->refs = 1;
	if (gw_opts_init(proxy_optab, &pc->o, err) == -1)
		goto fail;
	if (gw_opts_parse_argv(proxy_optab, &pc->o, argc, argv, &oi, err) ==
	    -1) {
		/* Errors inside the config file are configuration errors. */
		*usage = err->usage;
		goto fail;
	}
	if (oi < argc) {
		gw_error_set(
		    err, NULL, 0, 0, "unexpected argument '%s'", argv[oi]);
		*usage = 1;
		goto fail;
	}
	if (optind_out != NULL)
		*optind_out = oi;
	if (check_values(pc, err) == -1 || build_redact(pc, err) == -1 ||
	    tls_server_init(pc, err) == -1)
		goto fail;
	if (pc->o.upstream != NULL &&
	    (pc->dflt = upstream_get(pc->o.upstream, pc, err)) == NULL)
		goto fail;
	if (build_routes(pc, err) == -1)
		goto fail;
	return pc;
fail:
	conf_free(pc);
	return NULL;
}
