// SPDX-License-Identifier: MIT
/*
 * export.yml: where events go and what is watched.  The top level holds
 * `spool` (the directory under which each destination keeps its spool),
 * `destinations` (a mapping of names to destinations, each with a `type`
 * and that type's keys), `monitors` and `channels` (read by monitor.c).
 * Each destination type has an option table (lib/opts), so unknown keys,
 * wrong types and bad values are reported as file:line:col like every
 * gw configuration; secrets come from the environment or a file, never
 * from the command line, and a missing one names the variable to set.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw-export.h"
#include "log.h"
#include "opts.h"
#include "query.h"
#include "xconf.h"

#define F(m, t) GW_OPT_FIELD(struct dest_conf, m, t)

static const char *const sites[] = { "datadoghq.com", "us3.datadoghq.com",
	"us5.datadoghq.com", "datadoghq.eu", "ap1.datadoghq.com",
	"ap2.datadoghq.com", "uk1.datadoghq.com", "ddog-gov.com",
	"us2.ddog-gov.com", NULL };

static int
sources_node(void *conf, const struct gw_node *n, struct gw_error *err);
static int
labels_node(void *conf, const struct gw_node *n, struct gw_error *err);
static int
headers_node(void *conf, const struct gw_node *n, struct gw_error *err);

/* Keys every destination has. */
#define COMMON                                                                 \
	{ "type", 0, GW_OPT_STR, F(type_name, char *), NULL, NULL, 0, 0, NULL, \
		NULL, NULL, 0 },                                               \
	    { "sources", 0, GW_OPT_NODE, 0, NULL, NULL, 0, 0, NULL,            \
		    sources_node, NULL, 0 },                                   \
	    { "batch_max_events", 0, GW_OPT_INT, F(batch_events, long long),   \
		    NULL, NULL, 1, 100000, NULL, NULL, NULL, 0 },              \
	    { "batch_max_bytes", 0, GW_OPT_SIZE, F(batch_bytes, uint64_t),     \
		    NULL, NULL, 1024, 64 * 1024 * 1024, NULL, NULL, NULL, 0 }, \
	    { "batch_wait", 0, GW_OPT_DURATION, F(batch_wait, uint64_t), NULL, \
		    NULL, 0, 3600000, NULL, NULL, "1s", 0 },                   \
	    { "concurrency", 0, GW_OPT_INT, F(concurrency, long long), NULL,   \
		    NULL, 1, 64, NULL, NULL, "4", 0 },                         \
	    { "timeout", 0, GW_OPT_DURATION, F(timeout, uint64_t), NULL, NULL, \
		    1, 3600000, NULL, NULL, "30s", 0 },                        \
	    { "spool_max", 0, GW_OPT_SIZE, F(spool_max, uint64_t), NULL, NULL, \
		    1024 * 1024, LLONG_MAX, NULL, NULL, "1G", 0 },             \
	{                                                                      \
		"spool_full", 0, GW_OPT_STR, F(spool_full, char *), NULL,      \
		    NULL, 0, 0, NULL, NULL, NULL, 0                            \
	}
#define HTTPISH                                                               \
	{ "url", 0, GW_OPT_STR, F(url, char *), NULL, NULL, 0, 0, NULL, NULL, \
		NULL, 0 },                                                    \
	    { "compression", 0, GW_OPT_STR, F(compression, char *), NULL,     \
		    NULL, 0, 0, NULL, NULL, NULL, 0 },                        \
	    { "headers", 0, GW_OPT_NODE, 0, NULL, NULL, 0, 0, NULL,           \
		    headers_node, NULL, 0 },                                  \
	    { "ca_file", 0, GW_OPT_STR, F(ca_file, char *), NULL, NULL, 0, 0, \
		    NULL, NULL, NULL, 0 },                                    \
	{                                                                     \
		"insecure", 0, GW_OPT_FLAG, F(insecure, int), NULL, NULL, 0,  \
		    0, NULL, NULL, NULL, 0                                    \
	}
#define END                                                          \
	{                                                            \
		NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, 0 \
	}

static const struct gw_opt datadog_tab[] = {
	COMMON,
	HTTPISH,
	{ "site", 0, GW_OPT_STR, F(site, char *), NULL, NULL, 0, 0, NULL, NULL,
	    "datadoghq.com", 0 },
	{ "api_key_env", 0, GW_OPT_STR, F(key_env, char *), NULL, NULL, 0, 0,
	    NULL, NULL, "DD_API_KEY", 0 },
	{ "api_key_file", 0, GW_OPT_STR, F(key_file, char *), NULL, NULL, 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "service", 0, GW_OPT_STR, F(service, char *), NULL, NULL, 0, 0, NULL,
	    NULL, "gw", 0 },
	{ "source", 0, GW_OPT_STR, F(source, char *), NULL, NULL, 0, 0, NULL,
	    NULL, "gw", 0 },
	{ "hostname", 0, GW_OPT_STR, F(hostname, char *), NULL, NULL, 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "tags", 0, GW_OPT_LIST, F(tags, struct gw_strlist), NULL, NULL, 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "max_age", 0, GW_OPT_DURATION, F(max_age, uint64_t), NULL, NULL, 0, 0,
	    NULL, NULL, "18h", 0 },
	END,
};

static const struct gw_opt http_tab[] = {
	COMMON,
	HTTPISH,
	{ "format", 0, GW_OPT_STR, F(format, char *), NULL, NULL, 0, 0, NULL,
	    NULL, "ndjson", 0 },
	{ "method", 0, GW_OPT_STR, F(method, char *), NULL, NULL, 0, 0, NULL,
	    NULL, "POST", 0 },
	{ "basic_user", 0, GW_OPT_STR, F(basic_user, char *), NULL, NULL, 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "basic_password_env", 0, GW_OPT_STR, F(basic_pass_env, char *), NULL,
	    NULL, 0, 0, NULL, NULL, NULL, 0 },
	{ "bearer_token_env", 0, GW_OPT_STR, F(bearer_env, char *), NULL, NULL,
	    0, 0, NULL, NULL, NULL, 0 },
	{ "bearer_token_file", 0, GW_OPT_STR, F(bearer_file, char *), NULL,
	    NULL, 0, 0, NULL, NULL, NULL, 0 },
	END,
};

static const struct gw_opt loki_tab[] = {
	COMMON,
	HTTPISH,
	{ "labels", 0, GW_OPT_NODE, 0, NULL, NULL, 0, 0, NULL, labels_node,
	    NULL, 0 },
	{ "tenant", 0, GW_OPT_STR, F(tenant, char *), NULL, NULL, 0, 0, NULL,
	    NULL, NULL, 0 },
	{ "basic_user", 0, GW_OPT_STR, F(basic_user, char *), NULL, NULL, 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "basic_password_env", 0, GW_OPT_STR, F(basic_pass_env, char *), NULL,
	    NULL, 0, 0, NULL, NULL, NULL, 0 },
	END,
};

static const struct gw_opt syslog_tab[] = {
	COMMON,
	{ "address", 0, GW_OPT_STR, F(address, char *), NULL, NULL, 0, 0, NULL,
	    NULL, NULL, 0 },
	{ "transport", 0, GW_OPT_STR, F(transport, char *), NULL, NULL, 0, 0,
	    NULL, NULL, "tcp", 0 },
	{ "facility", 0, GW_OPT_INT, F(facility, long long), NULL, NULL, 0, 23,
	    NULL, NULL, "16", 0 },
	{ "hostname", 0, GW_OPT_STR, F(hostname, char *), NULL, NULL, 0, 0,
	    NULL, NULL, NULL, 0 },
	{ "app_name", 0, GW_OPT_STR, F(service, char *), NULL, NULL, 0, 0, NULL,
	    NULL, "gw", 0 },
	{ "ca_file", 0, GW_OPT_STR, F(ca_file, char *), NULL, NULL, 0, 0, NULL,
	    NULL, NULL, 0 },
	{ "insecure", 0, GW_OPT_FLAG, F(insecure, int), NULL, NULL, 0, 0, NULL,
	    NULL, NULL, 0 },
	{ "max_message", 0, GW_OPT_SIZE, F(max_message, uint64_t), NULL, NULL,
	    0, 0, NULL, NULL, NULL, 0 },
	END,
};

static const struct gw_opt file_tab[] = {
	COMMON,
	{ "path", 0, GW_OPT_STR, F(path, char *), NULL, NULL, 0, 0, NULL, NULL,
	    NULL, 0 },
	{ "compression", 0, GW_OPT_STR, F(compression, char *), NULL, NULL, 0,
	    0, NULL, NULL, NULL, 0 },
	{ "rotate_size", 0, GW_OPT_SIZE, F(rotate_size, uint64_t), NULL, NULL,
	    0, LLONG_MAX, NULL, NULL, "100M", 0 },
	{ "rotate_interval", 0, GW_OPT_DURATION, F(rotate_interval, uint64_t),
	    NULL, NULL, 0, 0, NULL, NULL, "0", 0 },
	END,
};

static const struct gw_opt stdout_tab[] = {
	COMMON,
	END,
};

static const struct {
	const char *name;
	enum dest_type type;
	const struct gw_opt *tab;
} types[] = {
	{ "datadog", DEST_DATADOG, datadog_tab },
	{ "http", DEST_HTTP, http_tab },
	{ "loki", DEST_LOKI, loki_tab },
	{ "syslog", DEST_SYSLOG, syslog_tab },
	{ "file", DEST_FILE, file_tab },
	{ "stdout", DEST_STDOUT, stdout_tab },
};

static const struct gw_opt *
table_of(enum dest_type t)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == t)
			return types[i].tab;
	return NULL;
}

const char *
dest_type_name(enum dest_type t)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == t)
			return types[i].name;
	return "?";
}

/* Event kinds a `sources.events` entry names. */
static int
events_item(
    struct source_conf *s, const struct gw_node *n, struct gw_error *err)
{
	const char *v = n->str;
	char **t;

	if (n->type != GW_NODE_SCALAR) {
		gw_opts_node_error(err, n, "an event type must be a string");
		return -1;
	}
	if (strcmp(v, "traffic") == 0 || strcmp(v, "http") == 0)
		s->kinds |= 1u << GW_EVK_HTTP;
	else if (strcmp(v, "tcp_connection_closed") == 0 ||
	    strcmp(v, "connections") == 0)
		s->kinds |= 1u << GW_EVK_TCP;
	else if (strcmp(v, "audit") == 0)
		s->kinds |= 1u << GW_EVK_AUDIT;
	else if (strcmp(v, "all") == 0)
		s->kinds |= (1u << GW_EVK_HTTP) | (1u << GW_EVK_TCP) |
		    (1u << GW_EVK_AUDIT) | (1u << GW_EVK_OTHER);
	else if (gw_evsum_kind_of(v, strlen(v)) == GW_EVK_OTHER) {
		gw_opts_node_error(err, n,
		    "unknown event type '%s': use traffic, "
		    "tcp_connection_closed, audit, all, or a name such as "
		    "http_request_complete.v0",
		    v);
		return -1;
	} else {
		t = realloc(s->types, (s->ntypes + 1) * sizeof(*t));
		if (t == NULL)
			return -1;
		s->types = t;
		if ((t[s->ntypes] = strdup(v)) == NULL)
			return -1;
		s->ntypes++;
	}
	return 0;
}

static int
paths(struct gw_strlist *l, const struct gw_node *n, struct gw_error *err)
{
	size_t i;

	if (n->type == GW_NODE_SCALAR)
		return gw_strlist_add(l, n->str);
	if (n->type != GW_NODE_SEQ) {
		gw_opts_node_error(err, n, "expected a list of dotted paths");
		return -1;
	}
	for (i = 0; i < n->n; i++) {
		if (n->items[i].type != GW_NODE_SCALAR ||
		    n->items[i].str[0] == '\0') {
			gw_opts_node_error(
			    err, &n->items[i], "a path must be a string");
			return -1;
		}
		if (gw_strlist_add(l, n->items[i].str) == -1)
			return -1;
	}
	return 0;
}

static int
sources_node(void *conf, const struct gw_node *n, struct gw_error *err)
{
	struct dest_conf *d = conf;
	struct source_conf *s = &d->src;
	const struct gw_node *v;
	struct gw_error qerr;
	size_t i;

	if (n->type != GW_NODE_MAP) {
		gw_opts_node_error(err, n,
		    "sources must be a mapping with events, filter, keep or "
		    "drop");
		return -1;
	}
	for (i = 0; i < n->n; i++) {
		const char *k = n->keys[i].str;

		v = &n->items[i];
		if (strcmp(k, "events") == 0) {
			size_t j;

			s->kinds = 0;
			if (v->type == GW_NODE_SCALAR) {
				if (events_item(s, v, err) == -1)
					return -1;
				continue;
			}
			if (v->type != GW_NODE_SEQ) {
				gw_opts_node_error(
				    err, v, "events must be a list");
				return -1;
			}
			for (j = 0; j < v->n; j++)
				if (events_item(s, &v->items[j], err) == -1)
					return -1;
		} else if (strcmp(k, "filter") == 0) {
			if (v->type != GW_NODE_SCALAR) {
				gw_opts_node_error(
				    err, v, "filter must be a query string");
				return -1;
			}
			memset(&qerr, 0, sizeof(qerr));
			gw_query_free(s->filter);
			s->filter = gw_query_parse(v->str, &qerr);
			if (s->filter == NULL) {
				/* The column inside the string, on its line. */
				gw_error_set(err, v->file, v->line,
				    v->col + (qerr.col > 0 ? qerr.col : 1) -
				        (v->plain ? 1 : 0),
				    "filter: %s", qerr.msg);
				return -1;
			}
		} else if (strcmp(k, "keep") == 0) {
			if (paths(&s->keep, v, err) == -1)
				return -1;
		} else if (strcmp(k, "drop") == 0) {
			if (paths(&s->drop, v, err) == -1)
				return -1;
		} else {
			gw_opts_node_error(err, &n->keys[i],
			    "unknown key '%s' in sources: use events, filter, "
			    "keep or drop",
			    k);
			return -1;
		}
	}
	if (s->keep.n > 0 && s->drop.n > 0) {
		gw_opts_node_error(
		    err, n, "sources: give keep or drop, not both");
		return -1;
	}
	return 0;
}

/* "Name": "value" mappings: extra request headers, Loki labels. */
static int
pairs(struct gw_strlist *l, const struct gw_node *n, const char *what,
    struct gw_error *err)
{
	size_t i;
	char *s;
	int r;

	if (n->type != GW_NODE_MAP) {
		gw_opts_node_error(err, n, "%s must be a mapping", what);
		return -1;
	}
	for (i = 0; i < n->n; i++) {
		if (n->items[i].type != GW_NODE_SCALAR) {
			gw_opts_node_error(err, &n->items[i],
			    "%s: the value of '%s' must be a string", what,
			    n->keys[i].str);
			return -1;
		}
		if (asprintf(&s, "%s=%s", n->keys[i].str, n->items[i].str) ==
		    -1)
			return -1;
		r = gw_strlist_add(l, s);
		free(s);
		if (r == -1)
			return -1;
	}
	return 0;
}

static int
labels_node(void *conf, const struct gw_node *n, struct gw_error *err)
{
	return pairs(&((struct dest_conf *)conf)->labels, n, "labels", err);
}

static int
headers_node(void *conf, const struct gw_node *n, struct gw_error *err)
{
	return pairs(&((struct dest_conf *)conf)->headers, n, "headers", err);
}

/* Reads a secret from a file: its first line. */
static char *
secret_file(const char *path, struct gw_error *err, const struct gw_node *at)
{
	size_t len;
	char *s = gw_read_file(path, 64 * 1024, &len), *t;

	if (s == NULL) {
		gw_opts_node_error(err, at, "%s: %s", path, strerror(errno));
		return NULL;
	}
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	if ((t = realloc(s, len + 1)) == NULL) {
		free(s);
		return NULL;
	}
	t[len] = '\0';
	return t;
}

static const struct {
	const char *name;
	enum xcomp c;
} comps[] = { { "none", XCOMP_NONE }, { "gzip", XCOMP_GZIP },
	{ "deflate", XCOMP_DEFLATE }, { "zstd", XCOMP_ZSTD } };

/* Checks and completes a destination once its keys are read. */
/* The node of key <k> in the destination's mapping, else <at>. */
static const struct gw_node *
node_of(const struct gw_node *map, const char *k, const struct gw_node *at)
{
	const struct gw_node *n = gw_opts_node_get(map, k);

	return n != NULL ? n : at;
}

static int
finish(struct dest_conf *d, const struct gw_node *at, const struct gw_node *map,
    struct gw_error *err)
{
	const char *env;
	size_t i;

	if (d->src.kinds == 0 && d->src.ntypes == 0)
		d->src.kinds = (1u << GW_EVK_HTTP) | (1u << GW_EVK_AUDIT);
	d->comp = d->type == DEST_DATADOG ? XCOMP_GZIP : XCOMP_NONE;
	if (d->compression != NULL) {
		for (i = 0; i < sizeof(comps) / sizeof(comps[0]); i++)
			if (strcmp(d->compression, comps[i].name) == 0)
				break;
		if (i == sizeof(comps) / sizeof(comps[0]) ||
		    (d->type == DEST_FILE && comps[i].c != XCOMP_NONE &&
		        comps[i].c != XCOMP_ZSTD)) {
			gw_opts_node_error(err, node_of(map, "compression", at),
			    "%s: compression must be %s", d->name,
			    d->type == DEST_FILE
			        ? "none or zstd"
			        : "none, gzip, deflate or zstd");
			return -1;
		}
		d->comp = comps[i].c;
	}
	d->block = 1;
	if (d->spool_full != NULL) {
		if (strcmp(d->spool_full, "drop_oldest") == 0)
			d->block = 0;
		else if (strcmp(d->spool_full, "block") != 0) {
			gw_opts_node_error(err, node_of(map, "spool_full", at),
			    "%s: spool_full must be block or drop_oldest",
			    d->name);
			return -1;
		}
	}
	switch (d->type) {
	case DEST_DATADOG:
		if (d->url == NULL) {
			for (i = 0; sites[i] != NULL; i++)
				if (strcmp(d->site, sites[i]) == 0)
					break;
			if (sites[i] == NULL) {
				gw_opts_node_error(err,
				    node_of(map, "site", at),
				    "%s: unknown Datadog site '%s': use "
				    "datadoghq.com, us3.datadoghq.com, "
				    "us5.datadoghq.com, datadoghq.eu, "
				    "ap1.datadoghq.com, ap2.datadoghq.com, "
				    "uk1.datadoghq.com, ddog-gov.com or "
				    "us2.ddog-gov.com, or give url",
				    d->name, d->site);
				return -1;
			}
			if (asprintf(&d->url,
			        "https://http-intake.logs.%s/api/v2/logs",
			        d->site) == -1)
				return -1;
		}
		if (d->key_file != NULL) {
			if ((d->secret = secret_file(d->key_file, err, at)) ==
			    NULL)
				return -1;
		} else if ((env = getenv(d->key_env)) != NULL &&
		    env[0] != '\0') {
			if ((d->secret = strdup(env)) == NULL)
				return -1;
		} else {
			gw_opts_node_error(err, at,
			    "%s: no Datadog API key: set %s in the "
			    "environment (or give api_key_file)",
			    d->name, d->key_env);
			return -1;
		}
		if (d->batch_events == 0 || d->batch_events > DD_MAX_ENTRIES)
			d->batch_events = DD_MAX_ENTRIES;
		if (d->batch_bytes == 0 || d->batch_bytes > 4450000)
			d->batch_bytes = 4450000; /* under 5 MB, as Vector */
		break;
	case DEST_HTTP:
	case DEST_LOKI:
		if (d->url == NULL) {
			gw_opts_node_error(
			    err, at, "%s: url is required", d->name);
			return -1;
		}
		if (d->type == DEST_HTTP && strcmp(d->format, "ndjson") != 0 &&
		    strcmp(d->format, "json") != 0) {
			gw_opts_node_error(err, node_of(map, "format", at),
			    "%s: format must be ndjson or json", d->name);
			return -1;
		}
		if (d->basic_pass_env != NULL) {
			env = getenv(d->basic_pass_env);
			if (env == NULL || d->basic_user == NULL) {
				gw_opts_node_error(err, at,
				    "%s: basic auth needs basic_user and %s set "
				    "in the environment",
				    d->name, d->basic_pass_env);
				return -1;
			}
			if (asprintf(&d->secret, "%s:%s", d->basic_user, env) ==
			    -1)
				return -1;
		} else if (d->bearer_env != NULL) {
			env = getenv(d->bearer_env);
			if (env == NULL || env[0] == '\0') {
				gw_opts_node_error(err, at,
				    "%s: no bearer token: set %s in the "
				    "environment",
				    d->name, d->bearer_env);
				return -1;
			}
			if ((d->bearer = strdup(env)) == NULL)
				return -1;
		} else if (d->bearer_file != NULL &&
		    (d->bearer = secret_file(d->bearer_file, err, at)) == NULL)
			return -1;
		break;
	case DEST_SYSLOG:
		if (d->max_message != 0 &&
		    (d->max_message < 480 || d->max_message > 65507)) {
			gw_opts_node_error(err, at,
			    "%s: max_message must be between 480 and 65507",
			    d->name);
			return -1;
		}
		if (d->address == NULL) {
			gw_opts_node_error(err, at,
			    "%s: address (host:port) is required", d->name);
			return -1;
		}
		if (strcmp(d->transport, "tcp") &&
		    strcmp(d->transport, "udp") &&
		    strcmp(d->transport, "tls")) {
			gw_opts_node_error(err, node_of(map, "transport", at),
			    "%s: transport must be tcp, tls or udp", d->name);
			return -1;
		}
		break;
	case DEST_FILE:
		if (d->path == NULL) {
			gw_opts_node_error(
			    err, at, "%s: path is required", d->name);
			return -1;
		}
		break;
	case DEST_STDOUT:
		break;
	}
	if (d->batch_events == 0)
		d->batch_events = d->type == DEST_SYSLOG ? 100 : 1000;
	if (d->batch_bytes == 0)
		d->batch_bytes = 4 * 1024 * 1024;
	/* Datadog's hostname defaults to the request's host, per event. */
	if (d->hostname == NULL && d->type == DEST_SYSLOG) {
		char h[256];

		if (gethostname(h, sizeof(h)) == -1)
			snprintf(h, sizeof(h), "localhost");
		h[sizeof(h) - 1] = '\0';
		if ((d->hostname = strdup(h)) == NULL)
			return -1;
	}
	return 0;
}

static int
one_dest(struct export_conf *c, const struct gw_node *key,
    const struct gw_node *v, struct gw_error *err)
{
	const struct gw_node *t = gw_opts_node_get(v, "type");
	struct dest_conf *d, *nd;
	const struct gw_opt *tab = NULL;
	size_t i;

	if (v->type != GW_NODE_MAP) {
		gw_opts_node_error(err, v,
		    "destination '%s' must be a mapping with a type", key->str);
		return -1;
	}
	if (t == NULL || t->type != GW_NODE_SCALAR) {
		gw_opts_node_error(err, t != NULL ? t : v,
		    "destination '%s' needs a type: datadog, http, loki, "
		    "syslog, file or stdout",
		    key->str);
		return -1;
	}
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t->str, types[i].name) == 0)
			break;
	if (i == sizeof(types) / sizeof(types[0])) {
		gw_opts_node_error(err, t,
		    "unknown destination type '%s': use datadog, http, loki, "
		    "syslog, file or stdout",
		    t->str);
		return -1;
	}
	tab = types[i].tab;
	if ((nd = realloc(c->dests, (c->ndests + 1) * sizeof(*nd))) == NULL)
		return -1;
	c->dests = nd;
	d = &c->dests[c->ndests++];
	memset(d, 0, sizeof(*d));
	d->type = types[i].type;
	if ((d->name = strdup(key->str)) == NULL)
		return -1;
	d->line = key->line;
	d->col = key->col;
	if (gw_opts_init(tab, d, err) == -1 ||
	    gw_opts_apply(tab, d, v, err) == -1)
		return -1;
	return finish(d, key, v, err);
}

void
xconf_free(struct export_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ndests; i++) {
		struct dest_conf *d = &c->dests[i];
		size_t j;

		gw_opts_free(table_of(d->type), d);
		free(d->name);
		free(d->secret);
		free(d->bearer);
		gw_query_free(d->src.filter);
		for (j = 0; j < d->src.ntypes; j++)
			free(d->src.types[j]);
		free(d->src.types);
		gw_strlist_free(&d->src.keep);
		gw_strlist_free(&d->src.drop);
		gw_strlist_free(&d->labels);
		gw_strlist_free(&d->headers);
	}
	free(c->dests);
	free(c->spool);
	gw_opts_node_free(c->root);
	free(c);
}

struct export_conf *
xconf_load(const char *path, struct gw_error *err)
{
	struct export_conf *c = calloc(1, sizeof(*c));
	const struct gw_node *n, *v;
	size_t i, j;

	if (c == NULL)
		return NULL;
	if ((c->root = gw_opts_node_load(path, err)) == NULL)
		goto fail;
	n = c->root;
	if (n->type != GW_NODE_MAP) {
		gw_opts_node_error(err, n,
		    "an export config must be a mapping with spool, "
		    "destinations, monitors and channels");
		goto fail;
	}
	for (i = 0; i < n->n; i++) {
		const char *k = n->keys[i].str;

		v = &n->items[i];
		if (strcmp(k, "spool") == 0) {
			if (v->type != GW_NODE_SCALAR || v->str[0] == '\0') {
				gw_opts_node_error(
				    err, v, "spool must be a directory path");
				goto fail;
			}
			if ((c->spool = strdup(v->str)) == NULL)
				goto fail;
		} else if (strcmp(k, "destinations") == 0) {
			if (v->type != GW_NODE_MAP) {
				gw_opts_node_error(err, v,
				    "destinations must be a mapping of names "
				    "to destinations");
				goto fail;
			}
			for (j = 0; j < v->n; j++)
				if (one_dest(c, &v->keys[j], &v->items[j],
				        err) == -1)
					goto fail;
		} else if (strcmp(k, "monitors") == 0)
			c->monitors = v;
		else if (strcmp(k, "channels") == 0)
			c->channels = v;
		else {
			gw_opts_node_error(err, &n->keys[i],
			    "unknown key '%s': use spool, destinations, "
			    "monitors or channels",
			    k);
			goto fail;
		}
	}
	if (c->ndests == 0 && c->monitors == NULL) {
		gw_opts_node_error(
		    err, n, "nothing to do: no destinations and no monitors");
		goto fail;
	}
	if (c->spool == NULL &&
	    (c->spool = strdup("data/export-spool")) == NULL)
		goto fail;
	return c;
fail:
	if (errno == ENOMEM && err->msg[0] == '\0')
		gw_error_set(err, path, 0, 0, "out of memory");
	xconf_free(c);
	return NULL;
}

const struct dest_conf *
xconf_dest(const struct export_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ndests; i++)
		if (strcmp(c->dests[i].name, name) == 0)
			return &c->dests[i];
	return NULL;
}
