// SPDX-License-Identifier: MIT
/*
 * Unit tests for gw-export's monitors (monitor.c, mtemplate.c, notify.c):
 * configuration errors at their exact file:line:col, including inside
 * quoted and block strings; a count monitor that fires once and recovers
 * once, the same in a dry run; renotification; groups that alert apart;
 * percentile and rate monitors; bounded groups; templates with
 * conditions and escaping; the request each channel gets, parsed back
 * with jansson; and the dry-run lines.  Events go through pick_event(),
 * as they do in gw-export.
 */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../gw-export/gw-export.h"
#include "harness.h"
#include "../../gw-export/monitor.h"
#include "opts.h"
#include "timeutil.h"

#define T0  1800000000000000LL /* 2027-01-15T08:00:00Z in µs */
#define SEC 1000000LL
#define MIN (60 * SEC)

static char tmpdir[64];

/* What the callback saw. */
struct rec {
	char monitor[64], group[128], value[64], msg[512], title[256];
	enum monitor_state from, to;
	int renotify, has;
	double v;
	int64_t t;
};

static struct rec recs[512];
static int nrec;
static struct notification notes[64];
static int nnotes;
static int want_notes;

static void
record(void *arg, const struct monitor_alert *a)
{
	struct rec *r;
	size_t i;

	(void)arg;
	if (nrec == (int)(sizeof(recs) / sizeof(recs[0])))
		return;
	r = &recs[nrec++];
	snprintf(r->monitor, sizeof(r->monitor), "%s", a->monitor);
	snprintf(r->group, sizeof(r->group), "%s", a->group);
	snprintf(r->value, sizeof(r->value), "%s", a->vars->v[MTV_VALUE]);
	snprintf(r->msg, sizeof(r->msg), "%s", a->message);
	snprintf(r->title, sizeof(r->title), "%s", a->title);
	r->from = a->from;
	r->to = a->to;
	r->renotify = a->renotify;
	r->has = a->has_value;
	r->v = a->value;
	r->t = a->time_us;
	for (i = 0; want_notes && i < a->nchannels; i++)
		if (nnotes < (int)(sizeof(notes) / sizeof(notes[0])))
			if (notify_request(a->channels[i], a, &notes[nnotes]) ==
			    0)
				nnotes++;
}

static void
clear(void)
{
	int i;

	for (i = 0; i < nnotes; i++)
		notification_fini(&notes[i]);
	nnotes = 0;
	nrec = 0;
	want_notes = 0;
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

/*
 * Loads <yaml> (with monitors: and channels:) as gw-export does.  On
 * failure returns NULL and the error in <msg>, without the directory.
 */
static struct monitors *
load_flags(const char *yaml, unsigned flags, char *msg, size_t cap)
{
	struct monitor_opts o = { record, NULL, NULL, flags };
	const char *path = write_file("e.yml", yaml);
	struct gw_node *root;
	struct monitors *ms = NULL;
	struct gw_error err;
	char buf[1024];
	size_t n = strlen(tmpdir);

	memset(&err, 0, sizeof(err));
	msg[0] = '\0';
	if ((root = gw_opts_node_load(path, &err)) != NULL)
		ms = monitor_load(gw_opts_node_get(root, "monitors"),
		    gw_opts_node_get(root, "channels"), &o, &err);
	if (ms == NULL) {
		gw_error_format(&err, buf, sizeof(buf));
		snprintf(msg, cap, "%s",
		    strncmp(buf, tmpdir, n) == 0 && buf[n] == '/' ? buf + n + 1
		                                                  : buf);
	}
	gw_opts_node_free(root);
	return ms;
}

static struct monitors *
load(const char *yaml)
{
	char msg[1024];
	struct monitors *ms = load_flags(yaml, 0, msg, sizeof(msg));

	if (ms == NULL)
		fprintf(stderr, "load: %s\n", msg);
	CHECK(ms != NULL);
	return ms;
}

/* Feeds one HTTP exchange at <t> µs. */
static void
http(struct monitors *ms, int64_t t, int status, const char *ip,
    const char *path, long long dur_ns)
{
	char line[2048], ts[GW_RFC3339_LEN];
	struct xevent ev;

	gw_rfc3339((uint64_t)t * 1000, ts);
	snprintf(line, sizeof(line),
	    "{\"event_id\":\"ev_1\",\"event_type\":\"http_request_complete.v0\","
	    "\"event_timestamp\":\"%s\",\"principal\":null,\"object\":{"
	    "\"conn\":{\"client_ip\":\"%s\",\"server_name\":\"api\"},"
	    "\"http\":{\"request\":{\"method\":\"GET\",\"url\":{\"raw\":"
	    "\"http://api%s\",\"host\":\"api\",\"path\":\"%s\",\"query\":"
	    "\"\"},\"user_agent\":\"t\"},\"response\":{\"status_code\":%d}},"
	    "\"duration_ns\":%lld}}",
	    ts, ip, path, path, status, dur_ns);
	CHECK(pick_event(&ev, line, strlen(line)) == 0);
	monitor_feed(ms, &ev, NULL);
}

/* Feeds one audit event of <type> at <t>. */
static void
audit(struct monitors *ms, int64_t t, const char *type)
{
	char line[1024], ts[GW_RFC3339_LEN];
	struct xevent ev;

	gw_rfc3339((uint64_t)t * 1000, ts);
	snprintf(line, sizeof(line),
	    "{\"event_id\":\"ev_2\",\"event_type\":\"%s\","
	    "\"event_timestamp\":\"%s\",\"principal\":{\"source\":\"signal\","
	    "\"subject\":\"alice@gw\"},\"object\":{\"file\":\"policy.yml\"}}",
	    type, ts);
	CHECK(pick_event(&ev, line, strlen(line)) == 0);
	monitor_feed(ms, &ev, NULL);
}

/* Configuration errors, with the position a user needs. */

struct bad_case {
	const char *yaml;
	const char *want; /* the whole message, or its start if it ends '*' */
};

static const struct bad_case bad_cases[] = {
	{ "monitors:\n  errors:\n    query: '*'\n    critical: 1\n"
	  "    windw: 5m\n",
	    "e.yml:5:5: unknown key 'windw' in monitor 'errors': *" },
	/* The column inside a single-quoted query. */
	{ "monitors:\n  errors:\n"
	  "    query: '@http.status_code:>=500 AND (a'\n"
	  "    critical: 1\n",
	    "e.yml:3:41: query: unbalanced parenthesis" },
	/* Escapes before the error count as written. */
	{ "monitors:\n  errors:\n    query: \"@x:\\\"a\\\" (\"\n"
	  "    critical: 1\n",
	    "e.yml:3:22: query: unbalanced parenthesis" },
	{ "monitors:\n  errors:\n    query: '*'\n    critical: 1\n"
	  "    message: value is {{valu}}\n",
	    "e.yml:5:23: message: unknown template variable 'valu' *" },
	/* A block scalar: the line and column of the tag inside it. */
	{ "monitors:\n  errors:\n    query: '*'\n    critical: 1\n"
	  "    message: |\n      line one {{value}}\n"
	  "      second {{#is_alert}}x{{/is_warning}}\n",
	    "e.yml:7:28: message: {{/is_warning}} closes no open condition" },
	/* Folded: lines join with spaces. */
	{ "monitors:\n  errors:\n    query: >-\n"
	  "      @event_type:(a OR\n"
	  "      b) @x:[1 TO\n    critical: 1\n",
	    "e.yml:5:18: query: bad range: expected a bound" },
	{ "monitors:\n  errors:\n    query: '*'\n    critical: 1\n"
	  "    message: '{{#is_alert}}x'\n",
	    "e.yml:5:15: message: {{#is_alert}} is not closed: add "
	    "{{/is_alert}}" },
	{ "monitors:\n  errors:\n    query: '*'\n    critical: 1\n"
	  "    message: 'x {{message}}'\n",
	    "e.yml:5:17: message: {{message}} is not available here" },
	{ "monitors:\n  errors:\n    query: '*'\n    critical: 1\n"
	  "    message: 'on {{[@network.client.ip].name}}'\n",
	    "e.yml:5:18: message: unknown template variable "
	    "'[@network.client.ip].name': facet and log variables are not "
	    "available locally; use {{group}}" },
	{ "monitors:\n  errors:\n    query: '*'\n    critical: 1\n"
	  "    notify: [phone, pager]\n"
	  "channels:\n  phone: {type: ntfy, url: 'https://ntfy.sh/gw-t'}\n",
	    "e.yml:5:21: notify: unknown channel 'pager' (channels: phone)" },
	{ "monitors:\n  r:\n    query: '*'\n    metric: rate\n"
	  "    critical: 5\n",
	    "e.yml:5:15: critical: a rate is a fraction: write 5% or 0.05" },
	{ "monitors:\n  c:\n    query: '*'\n    critical: 5\n"
	  "    warning: 10\n",
	    "e.yml:5:14: warning must be below the critical threshold (the "
	    "comparator is >=)" },
	{ "monitors:\n  c:\n    query: '*'\n    critical: 1\n"
	  "    window: 3d\n",
	    "e.yml:5:13: window: must be between 1s and 48h" },
	{ "monitors:\n  c:\n    query: '*'\n    critical: 1\n"
	  "    metric: p95\n    critical: 1\n",
	    "e.yml:6:5: duplicate key 'critical' (first at line 4)" },
	{ "monitors:\n  c:\n    query: '*'\n    metric: p95\n"
	  "    critical: fast\n",
	    "e.yml:5:15: critical: expected a duration such as 500ms (or "
	    "ns)" },
	{ "monitors:\n  c:\n    query: '*'\n    critical: 1\n"
	  "    group_by: 'conn.*'\n",
	    "e.yml:5:15: group_by: expected an attribute path such as "
	    "conn.client_ip" },
	{ "monitors:\n  c:\n    critical: 1\n",
	    "e.yml:2:3: monitor 'c' needs a query (use '*' for every event)" },
	{ "monitors:\n  'bad name':\n    query: '*'\n    critical: 1\n",
	    "e.yml:2:3: monitor name 'bad name': *" },
	{ "channels:\n  phone:\n    type: ntfy\n"
	  "    url: https://ntfy.sh/gw-t\n    token: tk_abc\n",
	    "e.yml:5:12: token must not be written in the config file: put "
	    "it in the environment (token_env) or a file (token_file)" },
	{ "channels:\n  phone:\n    type: ntfy\n"
	  "    url: https://ntfy.sh/gw-t\n"
	  "    token_env: GW_TEST_UNSET_VARIABLE\n",
	    "e.yml:5:16: token_env: GW_TEST_UNSET_VARIABLE is not set: export "
	    "it, or give token_file" },
	{ "channels:\n  phone:\n    type: ntfy\n"
	  "    url: https://ntfy.sh/bad.topic\n",
	    "e.yml:4:10: ntfy url: expected the topic's URL, *" },
	{ "channels:\n  phone: {type: ntfy, url: 'https://ntfy.sh/t', "
	  "priority: loud}\n",
	    "e.yml:2:59: priority: expected min, low, default, high, max "
	    "(urgent) or 1 to 5" },
	{ "channels:\n  x: {type: sms}\n",
	    "e.yml:2:13: channel 'x': type must be ntfy, slack, pagerduty or "
	    "webhook" },
	{ "channels:\n  x: {type: slack, url: 'https://h/x', channel: a}\n",
	    "e.yml:2:40: unknown key 'channel' in slack channel 'x' (use "
	    "type, url, url_env, url_file, text)" },
	{ "channels:\n  pd: {type: pagerduty}\n",
	    "e.yml:2:7: channel 'pd' needs routing_key_env or "
	    "routing_key_file" },
	{ "channels:\n  pd: {type: pagerduty, routing_key_file: "
	  "/nonexistent/pd.key}\n",
	    "e.yml:2:43: /nonexistent/pd.key: No such file or directory" },
	{ "channels:\n  pd: {type: pagerduty, routing_key: abc}\n",
	    "e.yml:2:38: routing_key must not be written in the config "
	    "file: *" },
	{ "channels:\n  hook:\n    type: webhook\n    url: https://h/x\n"
	  "    body: '{\"text\": \"{{message}}\"'\n",
	    "e.yml:5:11: body: not valid JSON once rendered *" },
	{ "channels:\n  hook:\n    type: webhook\n    url: https://h/x\n"
	  "    body: '{\"t\": \"{{mesage}}\"}'\n",
	    "e.yml:5:19: body: unknown template variable 'mesage' *" },
};

static int
msg_matches(const char *got, const char *want)
{
	size_t n = strlen(want);

	if (n > 0 && want[n - 1] == '*')
		return strncmp(got, want, n - 1) == 0;
	return strcmp(got, want) == 0;
}

TEST(config_errors)
{
	char msg[1024];
	struct monitors *ms;
	size_t i;

	unsetenv("GW_TEST_UNSET_VARIABLE");
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		ms = load_flags(bad_cases[i].yaml, 0, msg, sizeof(msg));
		CHECK(ms == NULL);
		if (!msg_matches(msg, bad_cases[i].want)) {
			fprintf(stderr, "case %zu:\n  got  %s\n  want %s\n", i,
			    msg, bad_cases[i].want);
			CHECK(msg_matches(msg, bad_cases[i].want));
		}
		monitor_free(ms);
	}
}

TEST(config_valid)
{
	char msg[1024];
	struct monitors *ms;

	/* Secrets are not read for a dry run. */
	ms = load_flags("monitors:\n  a: {query: '*', critical: 1, notify: "
	                "pd}\nchannels:\n  pd: {type: pagerduty, "
	                "routing_key_env: GW_TEST_UNSET_VARIABLE}\n",
	    MONITOR_NO_SECRETS, msg, sizeof(msg));
	CHECK(ms != NULL);
	CHECK(monitor_count(ms) == 1);
	CHECK(monitor_channel_count(ms) == 1);
	CHECK(monitor_channel_find(ms, "pd") != NULL);
	CHECK(monitor_channel_find(ms, "nope") == NULL);
	monitor_free(ms);

	/* Nothing configured is not an error here (config.c decides). */
	ms = load("other: 1\n");
	CHECK(monitor_count(ms) == 0);
	monitor_free(ms);

	/* The shipped example loads. */
	setenv("NTFY_TOKEN", "tk_example", 1);
	setenv(
	    "SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X", 1);
	setenv("PAGERDUTY_ROUTING_KEY", "R0UTINGKEY0000000000000000000000", 1);
	setenv("ALERT_WEBHOOK_TOKEN", "hook-secret", 1);
	{
		struct monitor_opts o = { record, NULL, NULL, 0 };
		struct gw_error err;
		struct gw_node *root;

		memset(&err, 0, sizeof(err));
		root = gw_opts_node_load("docs/examples/monitors.yml", &err);
		if (root == NULL)
			root = gw_opts_node_load(
			    "../../docs/examples/monitors.yml", &err);
		CHECK(root != NULL);
		ms = monitor_load(gw_opts_node_get(root, "monitors"),
		    gw_opts_node_get(root, "channels"), &o, &err);
		if (ms == NULL) {
			gw_error_format(&err, msg, sizeof(msg));
			fprintf(stderr, "monitors.yml: %s\n", msg);
		}
		CHECK(ms != NULL);
		CHECK(monitor_count(ms) >= 4);
		CHECK(monitor_channel_count(ms) == 4);
		monitor_free(ms);
		gw_opts_node_free(root);
	}
}

/* Evaluation. */

static const char errors_yml[] =
    "monitors:\n"
    "  errors:\n"
    "    query: '@http.status_code:>=500'\n"
    "    window: 1h\n"
    "    critical: 1\n"
    "    message: '{{#is_alert}}{{value}} server errors in the last "
    "{{window}}{{/is_alert}}{{#is_recovery}}recovered{{/is_recovery}}'\n";

/* The stream of count_once and dry_run_matches. */
static void
errors_stream(struct monitors *ms)
{
	http(ms, T0, 200, "10.0.0.1", "/a", 1000000);
	http(ms, T0 + 10 * SEC, 500, "10.0.0.1", "/a", 1000000);
	http(ms, T0 + 20 * SEC, 502, "10.0.0.2", "/b", 1000000);
	http(ms, T0 + 30 * MIN, 200, "10.0.0.1", "/a", 1000000);
}

TEST(count_once)
{
	struct monitors *ms = load(errors_yml);

	clear();
	errors_stream(ms);
	CHECK(nrec == 1);
	CHECK(recs[0].from == MON_OK && recs[0].to == MON_ALERT);
	CHECK(recs[0].t == T0 + 10 * SEC);
	CHECK_STREQ(recs[0].msg, "1 server errors in the last 1h");
	CHECK_STREQ(recs[0].group, "*");
	CHECK_STREQ(recs[0].title, "[Triggered] errors");
	/* Live: the wall clock moves on without traffic. */
	monitor_tick(ms, T0 + 59 * MIN);
	CHECK(nrec == 1);
	CHECK(monitor_next_due(ms) == T0 + 60 * MIN);
	monitor_tick(ms, T0 + 60 * MIN + 500000);
	CHECK(nrec == 2);
	/* The bucket of the two errors leaves the window at T0 + 1h. */
	CHECK(recs[1].from == MON_ALERT && recs[1].to == MON_OK);
	CHECK(recs[1].t == T0 + 60 * MIN);
	CHECK(recs[1].has && recs[1].v == 0);
	CHECK_STREQ(recs[1].msg, "recovered");
	monitor_tick(ms, T0 + 5 * 60 * MIN);
	CHECK(nrec == 2);
	monitor_free(ms);
}

/* A reload keeps a monitor's window and state when it counts the same. */
TEST(adopt_on_reload)
{
	static const char changed_yml[] =
	    "monitors:\n"
	    "  errors:\n"
	    "    query: '@http.status_code:>=500'\n"
	    "    window: 1h\n"
	    "    critical: 1\n"
	    "    message: 'now {{value}}'\n"
	    "  slow:\n"
	    "    query: '*'\n"
	    "    window: 1h\n"
	    "    critical: 1\n";
	static const char other_query_yml[] =
	    "monitors:\n"
	    "  errors:\n"
	    "    query: '@http.status_code:>=400'\n"
	    "    window: 1h\n"
	    "    critical: 1\n";
	struct monitors *old = load(errors_yml), *ms;

	clear();
	errors_stream(old);
	CHECK(nrec == 1 && recs[0].to == MON_ALERT);

	/* Same query and window, another message: still in ALERT, and the
	 * errors already counted leave the window when they would have. */
	ms = load(changed_yml);
	monitor_adopt(ms, old);
	monitor_free(old);
	clear();
	http(ms, T0 + 31 * MIN, 500, "10.0.0.1", "/a", 1000000);
	CHECK(nrec == 1); /* only "slow", new, alerts */
	CHECK_STREQ(recs[0].monitor, "slow");
	monitor_tick(ms, T0 + 60 * MIN + 500000);
	CHECK(nrec == 1);
	monitor_tick(ms, T0 + 91 * MIN + 500000);
	CHECK(nrec == 3);
	CHECK_STREQ(recs[1].monitor, "errors");
	CHECK(recs[1].from == MON_ALERT && recs[1].to == MON_OK);
	CHECK_STREQ(recs[1].msg, "now 0");
	CHECK_STREQ(recs[2].monitor, "slow");

	/* Another query counts something else: it starts afresh. */
	old = ms;
	clear();
	http(old, T0 + 100 * MIN, 500, "10.0.0.1", "/a", 1000000);
	CHECK(nrec == 2);
	ms = load(other_query_yml);
	monitor_adopt(ms, old);
	monitor_free(old);
	clear();
	http(ms, T0 + 101 * MIN, 404, "10.0.0.1", "/a", 1000000);
	CHECK(nrec == 1);
	CHECK(recs[0].from == MON_OK && recs[0].to == MON_ALERT);
	monitor_free(ms);
}

TEST(dry_run_matches)
{
	struct rec live[4];
	struct monitors *ms = load(errors_yml);
	int n;

	clear();
	errors_stream(ms);
	monitor_tick(ms, T0 + 2 * 60 * MIN);
	n = nrec;
	CHECK(n == 2);
	memcpy(live, recs, sizeof(live));
	monitor_free(ms);

	/* The same events from a file: no ticks, a flush at the end. */
	ms = load(errors_yml);
	clear();
	errors_stream(ms);
	monitor_flush(ms);
	CHECK(nrec == n);
	for (n = 0; n < nrec && n < 2; n++) {
		CHECK(recs[n].t == live[n].t);
		CHECK(recs[n].from == live[n].from && recs[n].to == live[n].to);
		CHECK_STREQ(recs[n].msg, live[n].msg);
	}
	monitor_free(ms);
}

TEST(renotify)
{
	struct monitors *ms = load("monitors:\n"
	                           "  errors:\n"
	                           "    query: 'status:error'\n"
	                           "    window: 5m\n"
	                           "    critical: 1\n"
	                           "    renotify: 10m\n"
	                           "    message: '{{#is_renotify}}still "
	                           "{{/is_renotify}}{{value}}'\n");
	int64_t t;

	clear();
	/* An error every minute for 25 minutes. */
	for (t = T0; t < T0 + 25 * MIN; t += MIN) {
		http(ms, t, 503, "10.0.0.1", "/", 1000);
		if (t == T0 + 9 * MIN)
			CHECK(nrec == 1); /* none before renotify */
	}
	CHECK(nrec == 3);
	CHECK(recs[0].to == MON_ALERT && !recs[0].renotify);
	CHECK(recs[0].t == T0);
	CHECK(recs[1].renotify && recs[1].from == MON_ALERT &&
	    recs[1].to == MON_ALERT);
	CHECK(recs[1].t == T0 + 10 * MIN);
	/* The window at +10m, slid past the +5m error, before the +10m one:
	 * errors at +6m..+9m. */
	CHECK_STREQ(recs[1].msg, "still 4");
	CHECK(recs[2].renotify && recs[2].t == T0 + 20 * MIN);
	monitor_flush(ms);
	CHECK(nrec == 4);
	CHECK(recs[3].to == MON_OK && !recs[3].renotify);
	/* The last error (T0 + 24m) leaves the 5m window at T0 + 29m. */
	CHECK(recs[3].t == T0 + 29 * MIN);
	monitor_free(ms);
}

TEST(renotify_groups)
{
	struct monitors *ms = load("monitors:\n"
	                           "  g:\n"
	                           "    query: '*'\n"
	                           "    window: 1h\n"
	                           "    critical: 1\n"
	                           "    renotify: 10m\n"
	                           "    group_by: conn.client_ip\n");

	clear();
	http(ms, T0, 200, "10.0.0.1", "/", 1000);
	http(ms, T0 + 3 * MIN, 200, "10.0.0.2", "/", 1000);
	CHECK(monitor_next_due(ms) == T0 + 3 * MIN + 60 * SEC);
	monitor_tick(ms, T0 + 25 * MIN);
	/* Each group on its own schedule, in time order. */
	CHECK(nrec == 6);
	CHECK(recs[2].renotify && recs[2].t == T0 + 10 * MIN);
	CHECK_STREQ(recs[2].group, "10.0.0.1");
	CHECK(recs[3].renotify && recs[3].t == T0 + 13 * MIN);
	CHECK_STREQ(recs[3].group, "10.0.0.2");
	CHECK(recs[4].t == T0 + 20 * MIN && recs[5].t == T0 + 23 * MIN);
	monitor_flush(ms);
	/* +30m, +33m, +40m, +43m, +50m, +53m, then the recoveries at +1h
	 * and +1h03m, not renotifications due at the same instants. */
	CHECK(nrec == 14);
	CHECK(recs[12].to == MON_OK && recs[12].t == T0 + 60 * MIN);
	CHECK(recs[13].to == MON_OK && recs[13].t == T0 + 63 * MIN);
	monitor_free(ms);
}

TEST(groups_apart)
{
	struct monitors *ms =
	    load("monitors:\n"
	         "  brute-force:\n"
	         "    query: '@http.status_code:401'\n"
	         "    window: 5m\n"
	         "    critical: 3\n"
	         "    group_by: '@network.client.ip'\n"
	         "    message: '{{value}} 401s from {{group}}'\n");
	int i;

	clear();
	for (i = 0; i < 3; i++) {
		http(ms, T0 + i * SEC, 401, "203.0.113.7", "/login", 1000);
		http(ms, T0 + i * SEC, 401, "198.51.100.9", "/login", 1000);
	}
	CHECK(nrec == 2);
	http(ms, T0 + 10 * SEC, 401, "203.0.113.7", "/login", 1000);
	http(ms, T0 + 10 * SEC, 200, "192.0.2.1", "/login", 1000);
	CHECK(nrec == 2);
	CHECK_STREQ(recs[0].group, "203.0.113.7");
	CHECK_STREQ(recs[0].msg, "3 401s from 203.0.113.7");
	CHECK_STREQ(recs[0].title,
	    "[Triggered on {network.client.ip:203.0.113.7}] brute-force");
	CHECK_STREQ(recs[1].group, "198.51.100.9");
	/* One more group, then each recovers on its own. */
	for (i = 0; i < 3; i++)
		http(ms, T0 + 2 * MIN + i * SEC, 401, "192.0.2.1", "/x", 1000);
	CHECK(nrec == 3);
	CHECK_STREQ(recs[2].group, "192.0.2.1");
	monitor_tick(ms, T0 + 5 * MIN + 5 * SEC);
	CHECK(nrec == 5);
	/* The most recently updated first: 203.0.113.7 keeps its 401 of
	 * T0 + 10s, 198.51.100.9 has nothing left ("no data"). */
	CHECK(recs[3].to == MON_OK && recs[4].to == MON_OK);
	CHECK(recs[3].t == T0 + 5 * MIN && recs[4].t == T0 + 5 * MIN);
	CHECK_STREQ(recs[3].group, "203.0.113.7");
	CHECK(recs[3].has && recs[3].v == 1);
	CHECK_STREQ(recs[4].group, "198.51.100.9");
	CHECK(!recs[4].has);
	CHECK_STREQ(recs[4].value, "no data");
	monitor_flush(ms);
	CHECK(nrec == 6);
	CHECK_STREQ(recs[5].group, "192.0.2.1");
	{
		struct monitor_stats st;

		monitor_stats(ms, &st);
		CHECK(st.groups == 0); /* forgotten once empty */
		CHECK(st.alerts == 6);
	}
	monitor_free(ms);
}

TEST(group_by_other_paths)
{
	struct monitors *ms = load("monitors:\n"
	                           "  paths:\n"
	                           "    query: '*'\n"
	                           "    critical: 2\n"
	                           "    group_by: [http.request.url.path, "
	                           "'@http.method', principal.subject]\n");

	clear();
	http(ms, T0, 200, "10.0.0.1", "/a,b", 1000);
	http(ms, T0 + SEC, 200, "10.0.0.2", "/a,b", 1000);
	audit(ms, T0 + SEC, "policy_updated.v0");
	audit(ms, T0 + SEC, "policy_updated.v0");
	CHECK(nrec == 2);
	CHECK_STREQ(recs[0].group, "/a,b,GET,N/A");
	CHECK_STREQ(recs[0].title,
	    "[Triggered on {http.request.url.path:/a,b,http.method:GET,"
	    "principal.subject:N/A}] paths");
	CHECK_STREQ(recs[1].group, "N/A,N/A,alice@gw");
	monitor_free(ms);
}

TEST(percentile)
{
	struct monitors *ms =
	    load("monitors:\n"
	         "  slow:\n"
	         "    query: '@event_type:http_request_complete.v0'\n"
	         "    metric: p95\n"
	         "    window: 5m\n"
	         "    critical: 500ms\n"
	         "    warning: 300ms\n"
	         "    message: 'p95 {{value}} (>= "
	         "{{threshold}})'\n");
	int i;

	clear();
	for (i = 0; i < 100; i++)
		http(ms, T0 + i * 100000, 200, "10.0.0.1", "/", 100000000);
	CHECK(nrec == 0);
	/* Audit events have no duration: not counted. */
	audit(ms, T0 + 11 * SEC, "policy_updated.v0");
	for (i = 0; i < 10; i++)
		http(ms, T0 + 11 * SEC, 200, "10.0.0.1", "/", 400000000);
	CHECK(nrec == 1);
	CHECK(recs[0].from == MON_OK && recs[0].to == MON_WARN);
	CHECK(recs[0].v > 400e6 * 0.968 && recs[0].v < 400e6 * 1.032);
	for (i = 0; i < 20; i++)
		http(ms, T0 + 12 * SEC, 200, "10.0.0.1", "/", 800000000);
	CHECK(nrec == 2);
	CHECK(recs[1].from == MON_WARN && recs[1].to == MON_ALERT);
	CHECK(recs[1].v > 800e6 * 0.968 && recs[1].v < 800e6 * 1.032);
	/* 800ms falls in [771.8ms, 805.3ms): its midpoint. */
	CHECK_STREQ(recs[1].msg, "p95 788.5ms (>= 500ms)");
	monitor_flush(ms);
	CHECK(nrec == 3);
	CHECK(recs[2].from == MON_ALERT && recs[2].to == MON_OK);
	CHECK(!recs[2].has);
	monitor_free(ms);

	/* The median of another measure, by nearest rank. */
	ms = load("monitors:\n  m: {query: '*', metric: median, measure: "
	          "'@http.status_code', critical: 450, comparator: '>'}\n");
	clear();
	http(ms, T0, 404, "10.0.0.1", "/", 1);
	http(ms, T0, 500, "10.0.0.1", "/", 1);
	http(ms, T0, 200, "10.0.0.1", "/", 1);
	http(ms, T0, 503, "10.0.0.1", "/", 1);
	CHECK(nrec == 0); /* 200 404 500 503: the 2nd */
	http(ms, T0, 500, "10.0.0.1", "/", 1);
	CHECK(nrec == 1); /* 200 404 500 500 503: the 3rd */
	CHECK(recs[0].v > 500 * 0.968 && recs[0].v < 500 * 1.032);
	CHECK_STREQ(recs[0].msg,
	    "median(http.status_code) is 504 over the last 5m (> 450 alerts)");
	monitor_free(ms);
}

TEST(rate)
{
	struct monitors *ms = load(
	    "monitors:\n"
	    "  error-rate:\n"
	    "    query: '@http.status_code:>=500'\n"
	    "    total_query: '@event_type:http_request_complete.v0'\n"
	    "    metric: rate\n"
	    "    window: 5m\n"
	    "    critical: 10%\n"
	    "    warning: 0.08\n"
	    "    min_events: 10\n"
	    "    message: '{{value}} of requests failed ({{threshold}})'\n");
	int i;

	clear();
	for (i = 0; i < 5; i++)
		http(ms, T0 + i * SEC, 500, "10.0.0.1", "/", 1000);
	for (i = 0; i < 20; i++)
		audit(ms, T0 + 5 * SEC, "credential_created.v0");
	for (i = 0; i < 4; i++)
		http(ms, T0 + 6 * SEC, 200, "10.0.0.1", "/", 1000);
	CHECK(nrec == 0); /* 9 requests: below min_events */
	http(ms, T0 + 7 * SEC, 200, "10.0.0.1", "/", 1000);
	CHECK(nrec == 1);
	CHECK(recs[0].to == MON_ALERT);
	CHECK_STREQ(recs[0].msg, "50% of requests failed (10%)");
	for (i = 0; i < 50; i++)
		http(ms, T0 + 8 * SEC, 200, "10.0.0.1", "/", 1000);
	/* Evaluated at each event: 5/51 is the first under 10%. */
	CHECK(nrec == 2);
	CHECK(recs[1].from == MON_ALERT && recs[1].to == MON_WARN);
	CHECK_STREQ(recs[1].value, "9.8039%");
	for (i = 0; i < 45; i++)
		http(ms, T0 + 9 * SEC, 200, "10.0.0.1", "/", 1000);
	CHECK(nrec == 3); /* 5/63 is the first under 8% */
	CHECK(recs[2].to == MON_OK);
	CHECK_STREQ(recs[2].value, "7.9365%");
	monitor_free(ms);
}

TEST(below_comparator)
{
	/* "Logs stopped arriving": fewer than 1 event in 5m. */
	struct monitors *ms = load("monitors:\n"
	                           "  silence:\n"
	                           "    query: '*'\n"
	                           "    window: 5m\n"
	                           "    critical: 1\n"
	                           "    comparator: below\n");

	clear();
	http(ms, T0, 200, "10.0.0.1", "/", 1000);
	CHECK(nrec == 0);
	monitor_tick(ms, T0 + 10 * MIN);
	CHECK(nrec == 1);
	CHECK(recs[0].to == MON_ALERT && recs[0].t == T0 + 5 * MIN);
	CHECK_STREQ(recs[0].msg, "count is 0 over the last 5m (< 1 alerts)");
	http(ms, T0 + 11 * MIN, 200, "10.0.0.1", "/", 1000);
	CHECK(nrec == 2);
	CHECK(recs[1].to == MON_OK);
	monitor_free(ms);
}

TEST(bounded_groups)
{
	struct monitor_stats st;
	struct monitors *ms = load("monitors:\n"
	                           "  ips:\n"
	                           "    query: '*'\n"
	                           "    critical: 100\n"
	                           "    max_groups: 3\n"
	                           "    group_by: conn.client_ip\n");
	char ip[32];
	int i;

	clear();
	for (i = 0; i < 5; i++) {
		snprintf(ip, sizeof(ip), "10.0.0.%d", i);
		http(ms, T0 + i * SEC, 200, ip, "/", 1000);
	}
	monitor_stats(ms, &st);
	CHECK(st.groups == 3);
	CHECK(st.evicted == 2);
	CHECK(st.dropped == 0);
	monitor_free(ms);

	/* Alerting groups are kept: a new group is not counted instead. */
	ms = load("monitors:\n"
	          "  ips:\n"
	          "    query: '*'\n"
	          "    critical: 1\n"
	          "    max_groups: 2\n"
	          "    group_by: conn.client_ip\n");
	clear();
	http(ms, T0, 500, "10.0.0.1", "/", 1000);
	http(ms, T0, 500, "10.0.0.2", "/", 1000);
	http(ms, T0, 500, "10.0.0.3", "/", 1000);
	CHECK(nrec == 2);
	monitor_stats(ms, &st);
	CHECK(st.groups == 2 && st.dropped == 1 && st.evicted == 0);
	monitor_flush(ms);
	CHECK(nrec == 4);
	monitor_stats(ms, &st);
	CHECK(st.groups == 0);
	monitor_free(ms);
}

TEST(late_events)
{
	struct monitor_stats st;
	struct monitors *ms = load(errors_yml);

	clear();
	http(ms, T0 + 2 * 60 * MIN, 200, "10.0.0.1", "/", 1000);
	http(ms, T0, 500, "10.0.0.1", "/", 1000); /* 2h late: dropped */
	CHECK(nrec == 0);
	http(ms, T0 + 90 * MIN, 500, "10.0.0.1", "/", 1000); /* in window */
	CHECK(nrec == 1);
	CHECK(recs[0].t == T0 + 2 * 60 * MIN); /* at the clock's time */
	monitor_stats(ms, &st);
	CHECK(st.late == 1);
	monitor_free(ms);
}

/* Templates. */

static const char *
render(const char *tpl, unsigned flags, enum mt_escape esc)
{
	static char out[1024];
	struct mtemplate *t;
	struct mt_vars v;
	struct gw_buf b;
	char msg[300];
	size_t off;

	memset(&v, 0, sizeof(v));
	v.v[MTV_VALUE] = "73";
	v.v[MTV_THRESHOLD] = "50";
	v.v[MTV_GROUP] = "/api/<users>&\"q\"";
	v.v[MTV_MONITOR] = "5xx";
	v.v[MTV_MESSAGE] = "line1\nline2";
	v.flags = flags;
	t = mtemplate_compile(tpl, MT_ALL_VARS, &off, msg, sizeof(msg));
	CHECK(t != NULL);
	if (t == NULL) {
		fprintf(stderr, "%s at %zu\n", msg, off);
		return "";
	}
	gw_buf_init(&b, 0);
	CHECK(mtemplate_render(t, &v, esc, &b) == 0);
	snprintf(out, sizeof(out), "%.*s", (int)b.len, gw_buf_head(&b));
	gw_buf_fini(&b);
	mtemplate_free(t);
	return out;
}

TEST(templates)
{
	const char *t = "{{#is_alert}}ALERT {{value}}>{{ threshold }}"
	                "{{/is_alert}}{{#is_recovery}}ok{{/is_recovery}}"
	                "{{^is_alert}} (not alerting){{/is_alert}}";
	char msg[300];
	size_t off;

	CHECK_STREQ(render(t, MTS_ALERT, MT_PLAIN), "ALERT 73>50");
	CHECK_STREQ(render(t, MTS_RECOVERY | MTS_ALERT_RECOVERY, MT_PLAIN),
	    "ok (not alerting)");
	CHECK_STREQ(render(t, MTS_WARNING, MT_PLAIN), " (not alerting)");
	CHECK_STREQ(
	    render("{{#is_alert}}a{{else}}b{{/is_alert}}", 0, MT_PLAIN), "b");
	CHECK_STREQ(
	    render("{{#is_alert}}a{{else}}b{{/is_alert}}", MTS_ALERT, MT_PLAIN),
	    "a");
	CHECK_STREQ(render("{{#is_alert}}{{#is_renotify}}again "
	                   "{{/is_renotify}}{{monitor}}{{/is_alert}}",
	                MTS_ALERT | MTS_RENOTIFY, MT_PLAIN),
	    "again 5xx");
	CHECK_STREQ(
	    render("{{! a comment }}x{{warn_threshold}}y", 0, MT_PLAIN), "xy");
	CHECK_STREQ(
	    render("{{#is_no_data}}never{{/is_no_data}}", ~0u, MT_PLAIN),
	    "never");
	/* Escaping per target; triple braces never escape. */
	CHECK_STREQ(
	    render("{\"g\":\"{{group}}\",\"m\":\"{{message}}\"}", 0, MT_JSON),
	    "{\"g\":\"/api/<users>&\\\"q\\\"\",\"m\":\"line1\\nline2\"}");
	CHECK_STREQ(render("{{group}} {{{group}}}", 0, MT_SLACK),
	    "/api/&lt;users&gt;&amp;\"q\" /api/<users>&\"q\"");
	CHECK_STREQ(render("{{{group}}}", 0, MT_JSON), "/api/<users>&\"q\"");
	CHECK_STREQ(render("{ {x} } {{value}}}", 0, MT_PLAIN), "{ {x} } 73}");

	CHECK(mtemplate_compile(
	          "a {{value", MT_ALL_VARS, &off, msg, sizeof(msg)) == NULL);
	CHECK(off == 2 && strcmp(msg, "unterminated {{") == 0);
	CHECK(mtemplate_compile("{{/is_alert}}", MT_ALL_VARS, &off, msg,
	          sizeof(msg)) == NULL);
	CHECK(errno == EINVAL);
	CHECK(mtemplate_compile("{{#value}}x{{/value}}", MT_ALL_VARS, &off, msg,
	          sizeof(msg)) == NULL);
	CHECK(strncmp(msg, "'value' is not a condition", 26) == 0);
	CHECK(mtemplate_compile("x{{is_alert}}", MT_ALL_VARS, &off, msg,
	          sizeof(msg)) == NULL);
	CHECK(off == 1);
	CHECK(strncmp(msg, "'is_alert' is a condition", 25) == 0);
	CHECK(mtemplate_compile(
	          "{{else}}", MT_ALL_VARS, &off, msg, sizeof(msg)) == NULL);
	CHECK(mtemplate_compile("{{#is_alert}}{{/is_warning}}", MT_ALL_VARS,
	          &off, msg, sizeof(msg)) == NULL);
	CHECK(off == 13);
}

/* Channels: the requests as they go on the wire. */

static const char *
header(const struct notification *n, const char *name)
{
	size_t i;

	for (i = 0; i < n->nheaders; i++)
		if (strcmp(n->headers[i].name, name) == 0)
			return n->headers[i].value;
	return NULL;
}

static json_t *
body_json(const struct notification *n)
{
	json_error_t je;
	json_t *j = json_loadb(gw_buf_head(&n->body), n->body.len, 0, &je);

	if (j == NULL)
		fprintf(stderr, "body: %s: %.*s\n", je.text, (int)n->body.len,
		    gw_buf_head(&n->body));
	CHECK(j != NULL);
	return j;
}

static const char *
jstr(json_t *j, const char *path)
{
	char key[64];
	const char *dot;

	while (j != NULL && (dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		j = json_object_get(j, key);
		path = dot + 1;
	}
	j = json_object_get(j, path);
	return json_is_string(j) ? json_string_value(j) : NULL;
}

static const char channels_yml[] =
    "monitors:\n"
    "  errors:\n"
    "    name: Gateway 5xx\n"
    "    query: '@http.status_code:>=500'\n"
    "    window: 5m\n"
    "    critical: 2\n"
    "    group_by: http.request.url.path\n"
    "    notify: [phone, team, pager, hook]\n"
    "    message: |-\n"
    "      {{#is_alert}}*{{value}}* 5xx on {{group}} <https://gw/m|open>"
    "{{/is_alert}}{{#is_recovery}}{{group}} is fine{{/is_recovery}}\n"
    "channels:\n"
    "  phone:\n"
    "    type: ntfy\n"
    "    url: https://ntfy.example/gw-oncall\n"
    "    token_env: GW_TEST_NTFY_TOKEN\n"
    "    priority: high\n"
    "    tags: [gateway, edge]\n"
    "    click: https://gw.example/monitors\n"
    "  team:\n"
    "    type: slack\n"
    "    url_env: GW_TEST_SLACK_URL\n"
    "  pager:\n"
    "    type: pagerduty\n"
    "    routing_key_file: %s/pd.key\n"
    "    url: http://127.0.0.1:9/v2/enqueue\n"
    "    source: edge-1\n"
    "  hook:\n"
    "    type: webhook\n"
    "    url: https://hooks.example/gw\n"
    "    method: PUT\n"
    "    headers: {X-Team: edge}\n"
    "    token_file: %s/pd.key\n"
    "    body: '{\"text\": \"{{title}}: {{message}}\", \"v\": "
    "\"{{value}}\", \"alert\": {{#is_alert}}true{{else}}false"
    "{{/is_alert}}}'\n";

TEST(channel_requests)
{
	const struct notification *n;
	char yaml[4096];
	struct monitors *ms;
	json_t *j, *r;
	int i;

	setenv("GW_TEST_NTFY_TOKEN", "tk_AgQdq7mVBoFD37zQ", 1);
	setenv(
	    "GW_TEST_SLACK_URL", "https://hooks.slack.com/services/T/B/X", 1);
	write_file("pd.key", "R0UTINGKEY0000000000000000000000\n");
	snprintf(yaml, sizeof(yaml), channels_yml, tmpdir, tmpdir);
	ms = load(yaml);
	if (ms == NULL)
		return;
	clear();
	want_notes = 1;
	/* A non-ASCII group goes into ntfy's Title as an encoded word. */
	http(ms, T0, 500, "10.0.0.1", "/caf\xc3\xa9", 1000);
	http(ms, T0 + SEC, 503, "10.0.0.1", "/caf\xc3\xa9", 1000);
	CHECK(nrec == 1);
	CHECK(nnotes == 4);
	if (nnotes != 4)
		goto out;

	n = &notes[0];
	CHECK_STREQ(n->channel, "phone");
	CHECK_STREQ(n->type, "ntfy");
	CHECK_STREQ(n->method, "POST");
	CHECK_STREQ(n->url, "https://ntfy.example/gw-oncall");
	/* "[Triggered on {http.request.url.path:/café}] Gateway 5xx" */
	CHECK_STREQ(header(n, "Title"),
	    "=?UTF-8?B?W1RyaWdnZXJlZCBvbiB7aHR0cC5yZXF1ZXN0LnVybC5wYXRoOi9jYW"
	    "bDqX1dIEdhdGV3YXkgNXh4?=");
	CHECK_STREQ(header(n, "Priority"), "4");
	CHECK_STREQ(header(n, "Tags"), "rotating_light,gateway,edge");
	CHECK_STREQ(header(n, "Click"), "https://gw.example/monitors");
	CHECK_STREQ(header(n, "Authorization"), "Bearer tk_AgQdq7mVBoFD37zQ");
	CHECK(n->body.len ==
	    strlen("*2* 5xx on /caf\xc3\xa9 <https://gw/m|open>"));
	CHECK(memcmp(gw_buf_head(&n->body),
	          "*2* 5xx on /caf\xc3\xa9 <https://gw/m|open>",
	          n->body.len) == 0);

	n = &notes[1];
	CHECK_STREQ(n->type, "slack");
	CHECK_STREQ(n->url, "https://hooks.slack.com/services/T/B/X");
	CHECK_STREQ(header(n, "Content-Type"), "application/json");
	if ((j = body_json(n)) != NULL) {
		/* The template's own link survives; values are escaped. */
		CHECK_STREQ(jstr(j, "text"),
		    "*[Triggered on {http.request.url.path:/caf\xc3\xa9}] "
		    "Gateway 5xx*\n*2* 5xx on /caf\xc3\xa9 <https://gw/m|open>");
		json_decref(j);
	}

	n = &notes[2];
	CHECK_STREQ(n->type, "pagerduty");
	CHECK_STREQ(n->url, "http://127.0.0.1:9/v2/enqueue");
	CHECK_STREQ(header(n, "Content-Type"), "application/json");
	if ((j = body_json(n)) != NULL) {
		CHECK_STREQ(
		    jstr(j, "routing_key"), "R0UTINGKEY0000000000000000000000");
		CHECK_STREQ(jstr(j, "event_action"), "trigger");
		CHECK_STREQ(
		    jstr(j, "dedup_key"), "gw-monitor-errors:/caf\xc3\xa9");
		CHECK_STREQ(jstr(j, "payload.severity"), "critical");
		CHECK_STREQ(jstr(j, "payload.source"), "edge-1");
		CHECK_STREQ(jstr(j, "payload.summary"),
		    "*2* 5xx on /caf\xc3\xa9 <https://gw/m|open>");
		CHECK_STREQ(jstr(j, "payload.timestamp"),
		    "2027-01-15T08:00:01.000000Z");
		r = json_object_get(
		    json_object_get(j, "payload"), "custom_details");
		CHECK(json_integer_value(json_object_get(r, "value")) == 2);
		CHECK(json_integer_value(json_object_get(r, "threshold")) == 2);
		CHECK_STREQ(jstr(r, "window"), "5m");
		json_decref(j);
	}

	n = &notes[3];
	CHECK_STREQ(n->type, "webhook");
	CHECK_STREQ(n->method, "PUT");
	CHECK_STREQ(header(n, "X-Team"), "edge");
	CHECK_STREQ(header(n, "Content-Type"), "application/json");
	CHECK_STREQ(header(n, "Authorization"),
	    "Bearer R0UTINGKEY0000000000000000000000");
	if ((j = body_json(n)) != NULL) {
		CHECK_STREQ(jstr(j, "v"), "2");
		CHECK(json_is_true(json_object_get(j, "alert")));
		CHECK(
		    strstr(jstr(j, "text"), "] Gateway 5xx: *2* 5xx") != NULL);
		json_decref(j);
	}

	/* The recovery: ntfy at default priority, PagerDuty resolves the
	 * same dedup key. */
	for (i = 0; i < nnotes; i++)
		notification_fini(&notes[i]);
	nnotes = 0;
	monitor_flush(ms);
	CHECK(nrec == 2 && nnotes == 4);
	if (nnotes != 4)
		goto out;
	CHECK_STREQ(header(&notes[0], "Priority"), "3");
	CHECK_STREQ(header(&notes[0], "Tags"), "white_check_mark,gateway,edge");
	if ((j = body_json(&notes[2])) != NULL) {
		CHECK_STREQ(jstr(j, "event_action"), "resolve");
		CHECK_STREQ(
		    jstr(j, "dedup_key"), "gw-monitor-errors:/caf\xc3\xa9");
		CHECK(json_object_get(j, "payload") == NULL);
		json_decref(j);
	}
	if ((j = body_json(&notes[3])) != NULL) {
		CHECK(json_is_false(json_object_get(j, "alert")));
		json_decref(j);
	}
out:
	clear();
	monitor_free(ms);
}

TEST(channel_defaults)
{
	struct monitors *ms;
	json_t *j;

	setenv("GW_TEST_PD_KEY", "K", 1);
	ms = load("monitors:\n"
	          "  lat:\n"
	          "    query: '*'\n"
	          "    metric: avg\n"
	          "    critical: 1s\n"
	          "    warning: 100ms\n"
	          "    notify: [pd, hook]\n"
	          "channels:\n"
	          "  pd: {type: pagerduty, routing_key_env: GW_TEST_PD_KEY,\n"
	          "       severity: {alert: error, warning: none}}\n"
	          "  hook: {type: webhook, url: 'http://127.0.0.1:1/x'}\n");
	if (ms == NULL)
		return;
	clear();
	want_notes = 1;
	http(ms, T0, 200, "10.0.0.1", "/", 200000000);
	/* A warning: PagerDuty is not told (warning: none). */
	CHECK(nrec == 1 && recs[0].to == MON_WARN);
	CHECK(nnotes == 1);
	if (nnotes >= 1 && (j = body_json(&notes[0])) != NULL) {
		CHECK_STREQ(jstr(j, "status"), "WARN");
		CHECK_STREQ(jstr(j, "transition"), "Warn");
		CHECK_STREQ(jstr(j, "value"), "200ms");
		CHECK_STREQ(jstr(j, "threshold"), "1s");
		CHECK_STREQ(jstr(j, "warn_threshold"), "100ms");
		CHECK_STREQ(jstr(j, "metric"), "avg(duration)");
		CHECK_STREQ(jstr(j, "group"), "*");
		CHECK_STREQ(jstr(j, "dedup_key"), "gw-monitor-lat:*");
		CHECK_STREQ(jstr(j, "message"),
		    "avg(duration) is 200ms over the last 5m (>= 1s alerts)");
		json_decref(j);
	}
	clear();
	want_notes = 1;
	http(ms, T0 + SEC, 200, "10.0.0.1", "/", 3800000000LL);
	CHECK(nrec == 1 && recs[0].to == MON_ALERT);
	CHECK_STREQ(recs[0].value, "2s");
	CHECK(nnotes == 2);
	if (nnotes >= 1 && (j = body_json(&notes[0])) != NULL) {
		CHECK_STREQ(jstr(j, "payload.severity"), "error");
		json_decref(j);
	}
	clear();
	monitor_free(ms);
}

/* Dry-run lines. */

TEST(dry_run_lines)
{
	struct monitor_opts o = { monitor_print, NULL, NULL, 0 };
	struct monitors *ms;
	struct gw_node *root;
	struct gw_error err;
	char *out = NULL;
	size_t len = 0;
	FILE *fp;

	fp = open_memstream(&out, &len);
	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	o.arg = fp;
	write_file("d.yml",
	    "monitors:\n"
	    "  errors:\n"
	    "    query: '@http.status_code:>=500'\n"
	    "    window: 1h\n"
	    "    critical: 1\n"
	    "    message: |\n"
	    "      {{value}} server errors\n"
	    "      in the last {{window}}\n"
	    "  slow-paths:\n"
	    "    query: '*'\n"
	    "    metric: max\n"
	    "    window: 5m\n"
	    "    critical: 1s\n"
	    "    warning: 500ms\n"
	    "    group_by: http.request.url.path\n"
	    "    message: 'slow {{group}}'\n");
	memset(&err, 0, sizeof(err));
	root = gw_opts_node_load(
	    strcat(strcpy((char[128]){ 0 }, tmpdir), "/d.yml"), &err);
	CHECK(root != NULL);
	ms = monitor_load(gw_opts_node_get(root, "monitors"), NULL, &o, &err);
	CHECK(ms != NULL);
	gw_opts_node_free(root);
	http(ms, T0 + 10 * SEC, 500, "10.0.0.1", "/a b", 1000);
	http(ms, T0 + 20 * SEC, 200, "10.0.0.1", "/x", 700000000);
	monitor_flush(ms);
	monitor_free(ms);
	fclose(fp);
	CHECK_STREQ(out,
	    "2027-01-15T08:00:10.000000Z errors * OK->ALERT 1 >= 1 "
	    "\"1 server errors\\nin the last 1h\"\n"
	    "2027-01-15T08:00:20.000000Z slow-paths /x OK->WARN 700ms >= "
	    "500ms \"slow /x\"\n"
	    "2027-01-15T08:05:20.000000Z slow-paths /x WARN->OK no data "
	    "\"slow /x\"\n"
	    "2027-01-15T09:00:00.000000Z errors * ALERT->OK 0 < 1 "
	    "\"0 server errors\\nin the last 1h\"\n");
	free(out);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_monitor.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(config_errors);
	RUN(config_valid);
	RUN(count_once);
	RUN(dry_run_matches);
	RUN(adopt_on_reload);
	RUN(renotify);
	RUN(renotify_groups);
	RUN(groups_apart);
	RUN(group_by_other_paths);
	RUN(percentile);
	RUN(rate);
	RUN(below_comparator);
	RUN(bounded_groups);
	RUN(late_events);
	RUN(templates);
	RUN(channel_requests);
	RUN(channel_defaults);
	RUN(dry_run_lines);
	clear();
	nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	return harness_done();
}
