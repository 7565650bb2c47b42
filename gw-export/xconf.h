/* SPDX-License-Identifier: MIT */
/*
 * export.yml as config.c reads it: the destinations with their sources
 * and transport settings, secrets already resolved from the environment
 * or files, and the monitors and channels sections kept as YAML nodes for
 * monitor.c.
 */
#ifndef GW_EXPORT_XCONF_H
#define GW_EXPORT_XCONF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gw-export.h"
#include "opts.h"

struct gw_query;

enum dest_type {
	DEST_DATADOG,
	DEST_HTTP,
	DEST_LOKI,
	DEST_SYSLOG,
	DEST_FILE,
	DEST_STDOUT
};

/* Which events a destination takes, and which of their fields. */
struct source_conf {
	unsigned kinds; /* 1 << GW_EVK_* accepted */
	char **types;   /* and these exact event types */
	size_t ntypes;
	struct gw_query *filter; /* NULL: every event of those kinds */
	struct gw_strlist keep;  /* dotted paths kept (all when empty) */
	struct gw_strlist drop;  /* dotted paths removed */
};

struct dest_conf {
	char *name;
	int line, col; /* where it is named in the file */
	enum dest_type type;
	struct source_conf src;

	/* option-table fields (config.c's tables) */
	char *type_name;
	long long batch_events;
	uint64_t batch_bytes;
	uint64_t batch_wait; /* ms */
	long long concurrency;
	uint64_t timeout; /* ms */
	uint64_t spool_max;
	char *spool_full;
	char *url, *compression, *ca_file;
	int insecure;
	char *site, *key_env, *key_file;
	char *service, *source, *hostname;
	struct gw_strlist tags;
	uint64_t max_age; /* ms; older events are not sent (Datadog: 18h) */
	char *format, *method;
	char *basic_user, *basic_pass_env, *bearer_env, *bearer_file;
	char *tenant;
	char *address, *transport;
	long long facility;
	uint64_t max_message;
	char *path;
	uint64_t rotate_size, rotate_interval;
	struct gw_strlist labels;  /* "name=source path" */
	struct gw_strlist headers; /* "Name=value" */

	/* resolved */
	enum xcomp comp;
	int block;    /* spool_full: block (1) or drop_oldest (0) */
	char *secret; /* Datadog API key, or "user:password" for basic auth */
	char *bearer;
};

struct export_conf {
	char *spool;
	struct dest_conf *dests;
	size_t ndests;
	const struct gw_node *monitors, *channels; /* NULL when absent */
	struct gw_node *root;
};

/*
 * Loads export.yml.  Returns the configuration, or NULL with <err> giving
 * file:line:col and the problem (exit 78).
 */
struct export_conf *xconf_load(const char *path, struct gw_error *err);
void xconf_free(struct export_conf *);
const struct dest_conf *
xconf_dest(const struct export_conf *, const char *name);
const char *dest_type_name(enum dest_type);

#endif
