/* SPDX-License-Identifier: MIT */
/*
 * Monitors: gw-export's local equivalent of Datadog log monitors, and the
 * channels they notify.  monitor.c reads the `monitors:` section of
 * export.yml and evaluates every event against each monitor's query over
 * a sliding window of event time (a count, a rate, or a statistic of a
 * measure such as a latency percentile, per group when group_by is set),
 * moving each monitor+group between OK, WARN and ALERT and calling back on
 * every transition; mtemplate.c renders the Datadog-style message
 * templates ({{value}}, {{#is_alert}}...{{/is_alert}}); notify.c reads the
 * `channels:` section and turns an alert into the HTTP request a channel
 * wants (ntfy, Slack, PagerDuty Events v2, a webhook), as data: sending
 * and retrying are the caller's, through lib/curlm.
 *
 * Time is event time: each event's event_timestamp moves the engine's
 * clock forward, and monitor_tick() moves it with the wall clock so that
 * a monitor recovers when traffic stops.  A dry run over saved files feeds
 * the same events without ticks and ends with monitor_flush(), and so
 * reports the same transitions at the same times as the live run did.
 *
 * Memory is bounded: per monitor and group a ring of time buckets (60 of
 * window/60 each; 12 for percentile monitors, each with a log-linear
 * histogram of 592 bins, about 3% relative error), and at most max_groups
 * groups per monitor (default 1000, 200 for percentiles), evicting the
 * least recently updated group that is OK when a new one arrives.
 */
#ifndef GW_EXPORT_MONITOR_H
#define GW_EXPORT_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "gw-export.h"
#include "opts.h"
#include "query.h"

/* A monitor+group's state; the order is the severity. */
enum monitor_state { MON_OK, MON_WARN, MON_ALERT };

struct monitors;        /* the engine: every monitor, the channels, a clock */
struct monitor_channel; /* one entry of channels: (notify.c) */
struct mtemplate;       /* a compiled message template (mtemplate.c) */

/*
 * Template variables ({{name}}) and conditions ({{#name}}), mtemplate.c.
 * MTV_TITLE... are set for every alert; MTV_MESSAGE only in channel
 * templates (a monitor's message cannot name itself).
 */
enum mt_var {
	MTV_VALUE,          /* "3", "7.5%", "612ms"; "no data" */
	MTV_THRESHOLD,      /* critical, formatted as the value */
	MTV_WARN_THRESHOLD, /* "" without a warning threshold */
	MTV_COMPARATOR,     /* ">=", ">", "<=", "<" */
	MTV_GROUP,          /* the group's values, ","-joined; "*" */
	MTV_QUERY,          /* the monitor's query as written */
	MTV_MONITOR,        /* its name (default: its key) */
	MTV_MONITOR_ID,     /* its key under monitors: */
	MTV_WINDOW,         /* as written: "5m" */
	MTV_METRIC,         /* "count", "rate", "p95(duration)" */
	MTV_STATUS,         /* "ALERT", "WARN", "OK" */
	MTV_TRANSITION, /* "Triggered", "Re-Triggered", "Warn", "Recovered" */
	MTV_TIME,       /* RFC 3339 time of the evaluation */
	MTV_FIRST_TRIGGERED_AT,     /* when the group left OK; "" */
	MTV_TRIGGERED_DURATION_SEC, /* seconds since then; "0" */
	MTV_DEDUP_KEY,              /* "gw-monitor-<id>:<group>" */
	MTV_TITLE,   /* "[Triggered on {conn.client_ip:10.0.0.1}] name" */
	MTV_MESSAGE, /* the rendered monitor message (channels only) */
	MTV_N
};

/* Conditions, as bits of mt_vars.flags. */
#define MTS_ALERT            0x001 /* is_alert: the state is ALERT */
#define MTS_WARNING          0x002 /* is_warning: the state is WARN */
#define MTS_RECOVERY         0x004 /* is_recovery: back to OK */
#define MTS_ALERT_RECOVERY   0x008 /* is_alert_recovery: ALERT -> OK */
#define MTS_WARNING_RECOVERY 0x010 /* is_warning_recovery: WARN -> OK */
#define MTS_ALERT_TO_WARNING 0x020 /* is_alert_to_warning */
#define MTS_RENOTIFY         0x040 /* is_renotify */
#define MTS_NO_DATA          0x080 /* is_no_data: never (no NO DATA state) */
#define MTS_NO_DATA_RECOVERY 0x100 /* is_no_data_recovery: never */

/* The values a template is rendered with; all borrowed. */
struct mt_vars {
	const char *v[MTV_N]; /* NULL renders as "" */
	unsigned flags;       /* MTS_* */
	/*
	 * Bit i set: v[i] is already escaped for the target (a message
	 * rendered for Slack inside Slack's text) and is copied as is.
	 */
	unsigned raw;
};

/* How a variable's value is escaped ({{{x}}} never is). */
enum mt_escape {
	MT_PLAIN, /* as is: ntfy bodies, PagerDuty summaries */
	MT_JSON,  /* JSON string escapes, no quotes: webhook bodies */
	MT_SLACK, /* & < > as &amp; &lt; &gt;: Slack text */
};

/* What a template may use: MT_MESSAGE_VARS for a monitor's message. */
#define MT_ALL_VARS     ((1u << MTV_N) - 1)
#define MT_MESSAGE_VARS (MT_ALL_VARS & ~(1u << MTV_MESSAGE))

/*
 * One transition of a monitor+group, or a renotification, as handed to
 * the notify callback.  Everything is borrowed for the duration of the
 * call only; copy what is kept (the caller queues notify_request()s).
 */
struct monitor_alert {
	const char *monitor; /* its key under monitors: */
	const char *name;    /* its display name */
	const char *group;   /* values, ","-joined; "*" when not grouped */
	int grouped;
	enum monitor_state from, to; /* equal for a renotification */
	int renotify;
	int has_value;    /* 0: nothing in the window ("no data", a recovery) */
	double value;     /* count, fraction (rate), or measure (ns for
	                   durations) */
	double threshold; /* critical */
	double warn_threshold;
	int has_warning;
	const char *comparator;     /* ">=" ... */
	int64_t time_us;            /* event time of the evaluation */
	int64_t triggered_us;       /* when the group left OK; 0 */
	const char *title;          /* MTV_TITLE */
	const char *message;        /* the monitor's message, rendered plain */
	const char *dedup_key;      /* stable per monitor+group */
	const struct mt_vars *vars; /* for channel templates */
	const struct mtemplate *message_t;       /* to render for Slack */
	struct monitor_channel *const *channels; /* its notify: list */
	size_t nchannels;
};

/* Called for every transition; see struct monitor_alert. */
typedef void monitor_notify_fn(void *arg, const struct monitor_alert *a);

/* monitor_opts.flags */
/*
 * Do not read secrets (ntfy and webhook tokens, the PagerDuty routing
 * key, URLs from url_env/url_file): a dry run needs none.  Requests built
 * then carry "${VAR}" or "<file PATH>" in their place.
 */
#define MONITOR_NO_SECRETS 0x1

struct monitor_opts {
	monitor_notify_fn *notify; /* may be NULL: transitions are dropped */
	void *arg;
	const struct gw_query_opts *query; /* service:/source: values; NULL */
	unsigned flags;                    /* MONITOR_* */
};

/*
 * Reads the `monitors:` and `channels:` mappings of export.yml (<mons>
 * and <chans> may be NULL or null; they are not kept) into an engine the
 * caller frees with monitor_free().  Returns NULL with errno set and
 * <err> as "file:line:col: message" (exit 78): an unknown key, a bad
 * query (the column inside the string), a template naming an unknown
 * variable, a notify: entry naming no channel, an unset secret
 * variable ("token_env: NTFY_TOKEN is not set: export it, or give
 * token_file"), unless opts->flags has MONITOR_NO_SECRETS.
 */
struct monitors *
monitor_load(const struct gw_node *mons, const struct gw_node *chans,
    const struct monitor_opts *opts, struct gw_error *err);
/*
 * After a reload: <ms> (just loaded) takes <old>'s clock, and each of its
 * monitors the groups of <old>'s monitor of the same key that counts the
 * same thing over the same window (query, metric, window, group_by), with
 * their states; so a reload neither re-notifies an alert nor forgets a
 * window.  New thresholds apply at the next evaluation.  <old> is left
 * without those groups, to be freed.
 */
void monitor_adopt(struct monitors *ms, struct monitors *old);
/* Frees <ms> and every group; NULL accepted. */
void monitor_free(struct monitors *ms);

/*
 * Evaluates one event: moves the clock to its event_timestamp (an event
 * without one counts at the clock's time), then counts it in every
 * monitor whose query it matches, and calls back for each transition.
 * <event> is the parsed event (borrowed) when the caller has it, else
 * NULL: the line is parsed here only when a query, a group_by or a
 * measure needs more than the event summary and <ev>'s fields.  An event
 * older than a monitor's window (out of order) is not counted there.
 */
void monitor_feed(struct monitors *ms, const struct xevent *ev, json_t *event);
/*
 * Moves the clock to <now_us> (µs since the epoch; a time before the
 * clock does nothing): windows slide, groups recover or are forgotten,
 * renotifications fall due.  Live input calls it every second or at
 * monitor_next_due().  Before the first event it only sets the clock.
 */
void monitor_tick(struct monitors *ms, int64_t now_us);
/*
 * The end of input: lets time run until every window is empty, as if the
 * process went on without traffic, so that a dry run reports the
 * recoveries the live run would have.  The clock stays there.
 */
void monitor_flush(struct monitors *ms);
/*
 * When the next time-driven evaluation is due (µs, event time): the next
 * bucket boundary or renotification; INT64_MAX before the first event or
 * when nothing can change without events.  For the caller's timer: tick
 * then (or every second, which is as good).
 */
int64_t monitor_next_due(struct monitors *ms);

struct monitor_stats {
	uint64_t matched; /* events counted by some monitor */
	uint64_t late;    /* events older than a window, not counted */
	uint64_t evicted; /* OK groups forgotten to make room */
	uint64_t dropped; /* events whose new group found no room */
	uint64_t alerts;  /* callbacks */
	size_t groups;    /* groups held now */
};

void monitor_stats(const struct monitors *ms, struct monitor_stats *st);
/* Number of monitors, and of channels. */
size_t monitor_count(const struct monitors *ms);
size_t monitor_channel_count(const struct monitors *ms);
/* The channel named <name>, or NULL (for "gw-export test CHANNEL"). */
struct monitor_channel *
monitor_channel_find(const struct monitors *ms, const char *name);

/*
 * For "gw-export test CHANNEL": calls <fn> once with a made-up alert of
 * monitor "gw-export-test" going to <to> (MON_ALERT, or MON_OK for the
 * recovery that resolves a PagerDuty test incident), whose only channel
 * is <ch>.  Returns 0, or -1 (ENOMEM) without calling.
 */
int monitor_test_alert(struct monitor_channel *ch, enum monitor_state to,
    monitor_notify_fn *fn, void *arg);

/*
 * A monitor_notify_fn for --dry-run: <fp> is a FILE *.  Prints one line:
 *   TIME MONITOR GROUP FROM->TO VALUE OP THRESHOLD "MESSAGE"
 *   2026-11-24T16:05:00.000000Z errors-last-hour * OK->ALERT 3 >= 1 "..."
 * GROUP is quoted as a JSON string when it is empty or holds spaces or
 * quotes; OP is the comparator, negated for a recovery ("0 < 1"), and
 * THRESHOLD the warning one for WARN; a window without data prints
 * "no data" as VALUE and no OP and THRESHOLD.  MESSAGE is a JSON string.
 */
void monitor_print(void *fp, const struct monitor_alert *a);

/* mtemplate.c */

/*
 * Compiles <text>: text, {{var}}, {{{var}}} (not escaped), {{#cond}},
 * {{^cond}}, {{else}}, {{/cond}}, {{! comment}}; spaces inside the
 * braces are allowed.  Variables and conditions are those of enum mt_var
 * and MTS_*, by their names (value, is_alert...); <vars> is the mask of
 * variables allowed.  Returns a template the caller frees with
 * mtemplate_free(), or NULL with errno EINVAL, the byte offset of the
 * offending tag in *<off> and the reason in <msg>, or ENOMEM.
 */
struct mtemplate *mtemplate_compile(
    const char *text, unsigned vars, size_t *off, char *msg, size_t msgcap);
/*
 * As mtemplate_compile() from the scalar <n>; an error reads
 * "file:line:col: <what>: unknown template variable 'valu'" with the
 * position of the tag inside the YAML string.
 */
struct mtemplate *mtemplate_node(const struct gw_node *n, const char *what,
    unsigned vars, struct gw_error *err);
/*
 * Appends <t> rendered with <v> to <out>, escaping values as <esc> says.
 * Returns 0, or -1 (ENOBUFS/ENOMEM) with <out> holding part of it.
 */
int mtemplate_render(const struct mtemplate *t, const struct mt_vars *v,
    enum mt_escape esc, struct gw_buf *out);
/* Frees <t>; NULL accepted. */
void mtemplate_free(struct mtemplate *t);
/* The name of variable <var> ("value"), for messages. */
const char *mtemplate_var_name(enum mt_var var);
/*
 * The file position of byte <off> of scalar <n>'s string, found by reading
 * the file again and walking the scalar as written (quotes, escapes,
 * block scalars); <n>'s own position when that fails.
 */
void
mtemplate_node_pos(const struct gw_node *n, size_t off, int *line, int *col);

/* notify.c */

enum channel_type { CH_NTFY, CH_SLACK, CH_PAGERDUTY, CH_WEBHOOK };

struct notify_header {
	char *name, *value;
};

/*
 * One HTTP request for one channel, to send as it is: the caller owns it
 * and releases it with notification_fini().  2xx is success (PagerDuty
 * answers 202, Slack 200 "ok"); retry on connection errors, 408, 429
 * (Retry-After) and 5xx, never on other 4xx.
 */
struct notification {
	const char *channel; /* the channel's name (borrowed from the engine) */
	const char *type;    /* "ntfy", "slack", "pagerduty", "webhook" */
	char *method, *url;
	struct notify_header *headers;
	size_t nheaders;
	struct gw_buf body;
};

/*
 * Reads the `channels:` mapping (<chans> may be NULL or null) into
 * *<out>, an array of *<n> channels that the caller frees with
 * notify_channels_free().  flags: MONITOR_NO_SECRETS.  Returns 0, or -1
 * with errno and <err> set and nothing to free.
 */
int notify_channels_load(const struct gw_node *chans, unsigned flags,
    struct monitor_channel ***out, size_t *n, struct gw_error *err);
void notify_channels_free(struct monitor_channel **ch, size_t n);
const char *notify_channel_name(const struct monitor_channel *ch);
enum channel_type notify_channel_type(const struct monitor_channel *ch);
/*
 * Builds the request that tells channel <ch> about <a> into <n>, which
 * the caller zeroed or finished.  Returns 0; 1 when the channel ignores
 * this kind of alert (a PagerDuty channel with severity warning: none,
 * on a warning), with <n> empty; -1 (ENOMEM) with <n> empty.
 */
int notify_request(const struct monitor_channel *ch,
    const struct monitor_alert *a, struct notification *n);
/* Releases what <n> holds and zeroes it; NULL accepted. */
void notification_fini(struct notification *n);

#endif
