/* SPDX-License-Identifier: MIT */
/*
 * Failure injection and counters.  A rule says what to do to the requests
 * whose path starts with its prefix: answer with a status (and maybe a
 * Retry-After) instead of the endpoint, reset the connection, and/or wait
 * before answering; for the next <count> requests, for <for_ms>, or until
 * cleared.  Rules stack: a request gets the newest matching rule that
 * fails and the newest matching rule that delays, and each rule used
 * counts down.  The control endpoints themselves are never subject to
 * rules.  Everything here runs on the loop's thread; the counters are
 * plain integers.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fake-intake.h"

#define PATH_MAX_LEN 255
#define DELAY_MAX_MS (10 * 60 * 1000)
#define RETRY_MAX_S  86400

struct rule {
	char path[PATH_MAX_LEN + 1];
	size_t path_len;
	int fail; /* 0, FAIL_RESET or a status */
	long retry_after;
	bool delays;
	uint64_t delay_ms;
	long count;     /* requests left; -1 for no limit */
	uint64_t until; /* loop clock; 0 for no limit */
};

struct stats stats;

static struct rule rules[RULES_MAX];
static size_t nrules;

static void
rules_expire(uint64_t now)
{
	size_t i, j = 0;

	for (i = 0; i < nrules; i++) {
		if ((rules[i].until != 0 && now >= rules[i].until) ||
		    rules[i].count == 0)
			continue;
		if (i != j)
			rules[j] = rules[i];
		j++;
	}
	nrules = j;
}

static bool
rule_matches(const struct rule *ru, const char *path, size_t len)
{
	return len >= ru->path_len && memcmp(path, ru->path, ru->path_len) == 0;
}

void
control_match(const char *path, size_t len, uint64_t now, struct verdict *v)
{
	struct rule *f = NULL, *d = NULL;
	size_t i;

	v->fail = 0;
	v->retry_after = -1;
	v->delay_ms = 0;
	rules_expire(now);
	for (i = nrules; i-- > 0;) {
		if (!rule_matches(&rules[i], path, len))
			continue;
		if (f == NULL && rules[i].fail != 0)
			f = &rules[i];
		if (d == NULL && rules[i].delays)
			d = &rules[i];
	}
	if (f != NULL) {
		v->fail = f->fail;
		v->retry_after = f->retry_after;
		if (f->count > 0)
			f->count--;
	}
	if (d != NULL) {
		v->delay_ms = d->delay_ms;
		if (d != f && d->count > 0)
			d->count--;
	}
	rules_expire(now);
}

static int
set_err(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

/* An integer member within [lo, hi]; 0 absent, 1 present, -1 wrong. */
static int
get_int(json_t *o, const char *key, long long lo, long long hi, long long *out)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return -1;
	*out = json_integer_value(v);
	return 1;
}

static int
clear_rules(const char *path)
{
	size_t i, j = 0, n = nrules;

	if (path == NULL) {
		nrules = 0;
		return (int)n;
	}
	for (i = 0; i < nrules; i++) {
		if (strcmp(rules[i].path, path) == 0)
			continue;
		if (i != j)
			rules[j] = rules[i];
		j++;
	}
	nrules = j;
	return (int)(n - j);
}

int
control_apply(
    const char *json, size_t len, uint64_t now, char *err, size_t errlen)
{
	static const char *const known[] = { "fail", "count", "for_ms",
		"retry_after", "path", "delay_ms", "clear", "reset_stats" };
	struct rule ru;
	json_error_t je;
	json_t *root, *v;
	const char *key, *path = NULL;
	long long n;
	size_t i;
	int rc = -1, r;
	bool ok, acted = false;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL || !json_is_object(root)) {
		set_err(err, errlen, "control: body must be one JSON object");
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		ok = false;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok = ok || strcmp(key, known[i]) == 0;
		if (!ok) {
			snprintf(
			    err, errlen, "control: unknown member \"%s\"", key);
			goto out;
		}
	}
	memset(&ru, 0, sizeof(ru));
	ru.retry_after = -1;
	ru.count = -1;
	if ((v = json_object_get(root, "path")) != NULL) {
		if (!json_is_string(v) || json_string_value(v)[0] != '/' ||
		    json_string_length(v) > PATH_MAX_LEN) {
			set_err(err, errlen,
			    "control: path must be a string starting with /");
			goto out;
		}
		path = json_string_value(v);
		ru.path_len = json_string_length(v);
		memcpy(ru.path, path, ru.path_len);
	}
	if ((v = json_object_get(root, "reset_stats")) != NULL) {
		if (!json_is_true(v)) {
			set_err(
			    err, errlen, "control: reset_stats must be true");
			goto out;
		}
		memset(&stats, 0, sizeof(stats));
		acted = true;
	}
	if ((v = json_object_get(root, "clear")) != NULL) {
		if (!json_is_true(v)) {
			set_err(err, errlen, "control: clear must be true");
			goto out;
		}
		if (json_object_size(root) > 1 + (size_t)(path != NULL) +
		        (size_t)(json_object_get(root, "reset_stats") !=
		            NULL)) {
			set_err(err, errlen,
			    "control: clear takes only path and reset_stats");
			goto out;
		}
		clear_rules(path);
		rc = 0;
		goto out;
	}
	if ((v = json_object_get(root, "fail")) != NULL) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), "reset") == 0)
			ru.fail = FAIL_RESET;
		else if (json_is_integer(v) && json_integer_value(v) >= 400 &&
		    json_integer_value(v) <= 599)
			ru.fail = (int)json_integer_value(v);
		else {
			set_err(err, errlen,
			    "control: fail must be 400-599 or \"reset\"");
			goto out;
		}
	}
	if ((r = get_int(root, "delay_ms", 0, DELAY_MAX_MS, &n)) == -1) {
		set_err(err, errlen, "control: delay_ms must be 0-600000");
		goto out;
	} else if (r == 1) {
		ru.delays = true;
		ru.delay_ms = (uint64_t)n;
	}
	if ((r = get_int(root, "retry_after", 0, RETRY_MAX_S, &n)) == -1 ||
	    (r == 1 && ru.fail <= 0)) {
		set_err(err, errlen,
		    "control: retry_after must be 0-86400, with a status");
		goto out;
	} else if (r == 1)
		ru.retry_after = (long)n;
	if ((r = get_int(root, "count", 1, LONG_MAX, &n)) == -1) {
		set_err(err, errlen, "control: count must be at least 1");
		goto out;
	} else if (r == 1)
		ru.count = (long)n;
	if ((r = get_int(root, "for_ms", 1, INT64_MAX / 2, &n)) == -1) {
		set_err(err, errlen, "control: for_ms must be at least 1");
		goto out;
	} else if (r == 1)
		ru.until = now + (uint64_t)n;
	if (ru.fail == 0 && !ru.delays) {
		if (acted && json_object_size(root) == 1) {
			rc = 0;
			goto out;
		}
		set_err(err, errlen,
		    "control: give fail or delay_ms (or clear, reset_stats)");
		goto out;
	}
	rules_expire(now);
	if (nrules == RULES_MAX) {
		set_err(err, errlen, "control: too many rules; clear some");
		goto out;
	}
	rules[nrules++] = ru;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void
control_rules_json(struct gw_buf *b, uint64_t now)
{
	const struct rule *ru;
	size_t i;

	rules_expire(now);
	gw_buf_addc(b, '[');
	for (i = 0; i < nrules; i++) {
		ru = &rules[i];
		if (i > 0)
			gw_buf_addc(b, ',');
		gw_buf_adds(b, "{\"path\":");
		jw_str(b, ru->path_len > 0 ? ru->path : "/",
		    ru->path_len > 0 ? ru->path_len : 1);
		if (ru->fail == FAIL_RESET)
			gw_buf_adds(b, ",\"fail\":\"reset\"");
		else if (ru->fail != 0)
			gw_buf_printf(b, ",\"fail\":%d", ru->fail);
		if (ru->retry_after >= 0)
			gw_buf_printf(
			    b, ",\"retry_after\":%ld", ru->retry_after);
		if (ru->delays)
			gw_buf_printf(b, ",\"delay_ms\":%llu",
			    (unsigned long long)ru->delay_ms);
		if (ru->count >= 0)
			gw_buf_printf(b, ",\"count\":%ld", ru->count);
		if (ru->until != 0)
			gw_buf_printf(b, ",\"remaining_ms\":%llu",
			    (unsigned long long)(ru->until - now));
		gw_buf_addc(b, '}');
	}
	gw_buf_addc(b, ']');
}

void
control_fini(void)
{
	nrules = 0;
}

static const char *const route_names[R_COUNT] = {
	[R_DATADOG] = "datadog",
	[R_LOKI] = "loki",
	[R_NTFY] = "ntfy",
	[R_SLACK] = "slack",
	[R_PAGERDUTY] = "pagerduty",
	[R_WEBHOOK] = "webhook",
};

void
stats_json(struct gw_buf *b)
{
	const struct route_stats *rs;
	bool first = true;
	int i;

	gw_buf_printf(b,
	    "{\"requests\":%llu,\"connections\":%llu,\"bytes_in\":%llu,"
	    "\"bytes_decoded\":%llu,\"injected\":%llu,\"resets\":%llu,"
	    "\"responses\":{",
	    (unsigned long long)stats.requests,
	    (unsigned long long)stats.connections,
	    (unsigned long long)stats.bytes_in,
	    (unsigned long long)stats.bytes_decoded,
	    (unsigned long long)stats.injected,
	    (unsigned long long)stats.resets);
	for (i = 100; i < 600; i++) {
		if (stats.status[i] == 0)
			continue;
		gw_buf_printf(b, "%s\"%d\":%llu", first ? "" : ",", i,
		    (unsigned long long)stats.status[i]);
		first = false;
	}
	gw_buf_addc(b, '}');
	for (i = 0; i < R_COUNT; i++) {
		if (route_names[i] == NULL)
			continue;
		rs = &stats.route[i];
		gw_buf_printf(b,
		    ",\"%s\":{\"requests\":%llu,\"accepted\":%llu,"
		    "\"rejected\":%llu,\"bytes_in\":%llu,"
		    "\"bytes_decoded\":%llu",
		    route_names[i], (unsigned long long)rs->requests,
		    (unsigned long long)rs->accepted,
		    (unsigned long long)rs->rejected,
		    (unsigned long long)rs->bytes_in,
		    (unsigned long long)rs->bytes_decoded);
		if (i == R_DATADOG)
			gw_buf_printf(b, ",\"truncated\":%llu,\"old\":%llu",
			    (unsigned long long)stats.dd_truncated,
			    (unsigned long long)stats.dd_old);
		if (i == R_LOKI)
			gw_buf_printf(b, ",\"streams\":%llu",
			    (unsigned long long)stats.loki_streams);
		gw_buf_addc(b, '}');
	}
	gw_buf_adds(b, "}");
}
