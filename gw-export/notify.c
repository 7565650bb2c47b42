/* SPDX-License-Identifier: MIT */
/*
 * Notification channels: reads `channels:` from export.yml and turns a
 * monitor's alert into the one HTTP request each kind of channel expects
 * (reference §5): ntfy's plain publish (POST to the topic URL, Title,
 * Priority and Tags headers, the message as body), a Slack incoming
 * webhook ({"text": ...}), PagerDuty Events API v2 (trigger and resolve
 * with a dedup key stable per monitor+group), or a webhook with a JSON
 * body template.  Requests are data; the caller sends and retries them.
 * Secrets (ntfy and webhook tokens, the PagerDuty routing key, webhook
 * URLs, which embed one for Slack) come from the environment or a file,
 * so that export.yml can be committed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base64.h"
#include "json.h"
#include "monitor.h"
#include "timeutil.h"

#define PD_URL          "https://events.pagerduty.com/v2/enqueue"
#define NTFY_MAX_BODY   4096 /* ntfy's message limit; longer is an attachment */
#define NTFY_MAX_TITLE  256
#define PD_MAX_SUMMARY  1024
#define SECRET_MAX_FILE (64 * 1024)

struct monitor_channel {
	char *name;
	enum channel_type type;
	char *url;
	char *token;       /* ntfy, webhook: Authorization: Bearer; NULL */
	char *routing_key; /* pagerduty */
	struct mtemplate *title;       /* ntfy */
	struct mtemplate *text;        /* slack */
	struct mtemplate *body;        /* webhook */
	int priority;                  /* ntfy, 1..5 */
	char *tags;                    /* ntfy, comma-separated; NULL */
	char *click;                   /* ntfy; NULL */
	int markdown;                  /* ntfy */
	char *source;                  /* pagerduty */
	char *sev_alert, *sev_warn;    /* pagerduty; sev_warn NULL: skip */
	char *method;                  /* webhook */
	struct notify_header *headers; /* webhook */
	size_t nheaders;
};

static const char *const type_names[] = { "ntfy", "slack", "pagerduty",
	"webhook" };

/* Keys each type takes, besides type. */
static const char *const type_keys[][12] = {
	[CH_NTFY] = { "url", "url_env", "url_file", "token", "token_env",
	    "token_file", "title", "priority", "tags", "click", "markdown" },
	[CH_SLACK] = { "url", "url_env", "url_file", "text" },
	[CH_PAGERDUTY] = { "routing_key", "routing_key_env", "routing_key_file",
	    "url", "source", "severity" },
	[CH_WEBHOOK] = { "url", "url_env", "url_file", "method", "headers",
	    "token", "token_env", "token_file", "body" },
};

static const char default_title[] = "{{title}}";
static const char default_slack[] = "*{{title}}*\n{{message}}";
static const char default_body[] =
    "{\"monitor\":\"{{monitor}}\",\"monitor_id\":\"{{monitor_id}}\","
    "\"group\":\"{{group}}\",\"status\":\"{{status}}\","
    "\"transition\":\"{{transition}}\",\"value\":\"{{value}}\","
    "\"threshold\":\"{{threshold}}\","
    "\"warn_threshold\":\"{{warn_threshold}}\","
    "\"comparator\":\"{{comparator}}\",\"window\":\"{{window}}\","
    "\"metric\":\"{{metric}}\",\"query\":\"{{query}}\","
    "\"time\":\"{{time}}\",\"title\":\"{{title}}\","
    "\"message\":\"{{message}}\",\"dedup_key\":\"{{dedup_key}}\"}";

const char *
notify_channel_name(const struct monitor_channel *ch)
{
	return ch->name;
}

enum channel_type
notify_channel_type(const struct monitor_channel *ch)
{
	return ch->type;
}

static void
channel_free(struct monitor_channel *ch)
{
	size_t i;

	if (ch == NULL)
		return;
	free(ch->name);
	free(ch->url);
	free(ch->token);
	free(ch->routing_key);
	mtemplate_free(ch->title);
	mtemplate_free(ch->text);
	mtemplate_free(ch->body);
	free(ch->tags);
	free(ch->click);
	free(ch->source);
	free(ch->sev_alert);
	free(ch->sev_warn);
	free(ch->method);
	for (i = 0; i < ch->nheaders; i++) {
		free(ch->headers[i].name);
		free(ch->headers[i].value);
	}
	free(ch->headers);
	free(ch);
}

void
notify_channels_free(struct monitor_channel **ch, size_t n)
{
	size_t i;

	if (ch == NULL)
		return;
	for (i = 0; i < n; i++)
		channel_free(ch[i]);
	free(ch);
}

static int bad(struct gw_error *err, const struct gw_node *n, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* Fills <err> at <n> and returns -1 with errno EINVAL. */
static int
bad(struct gw_error *err, const struct gw_node *n, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gw_opts_node_error(err, n, "%s", msg);
	errno = EINVAL;
	return -1;
}

/* A URL we can send to: http(s)://host..., no spaces or controls. */
static int
url_ok(const char *s)
{
	size_t i, skip;

	if (strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else
		return 0;
	if (s[skip] == '\0' || s[skip] == '/')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

/* The topic of an ntfy URL (after the last '/'), checked as ntfy does. */
static int
ntfy_topic_ok(const char *url)
{
	const char *t = strrchr(url, '/');
	size_t n;

	if (t == NULL)
		return 0;
	t++;
	n = strlen(t);
	return n >= 1 && n <= 64 &&
	    strspn(t,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789-_") == n;
}

/* The contents of a secret file, trailing white space removed. */
static char *
secret_file(const char *path, const struct gw_node *n, struct gw_error *err)
{
	size_t len;
	char *s, *t;

	if ((s = gw_read_file(path, SECRET_MAX_FILE, &len)) == NULL) {
		gw_opts_node_error(err, n, "%s: %s", path, strerror(errno));
		return NULL;
	}
	while (len > 0 &&
	    (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' ||
	        s[len - 1] == '\t'))
		len--;
	if (len == 0 || memchr(s, '\n', len) != NULL || memchr(s, '\0', len)) {
		free(s);
		gw_opts_node_error(err, n, "%s: expected one line", path);
		errno = EINVAL;
		return NULL;
	}
	if ((t = realloc(s, len + 1)) == NULL) {
		free(s);
		return NULL;
	}
	t[len] = '\0';
	return t;
}

/*
 * Reads secret <base> of <map> from <base> itself (when <inline_ok>),
 * <base>_env or <base>_file, exactly one of them.  *<out> stays NULL when
 * none is given and it is not <required>.
 */
static int
secret(const struct gw_node *map, const char *chname, const char *base,
    int inline_ok, int required, unsigned flags, char **out,
    const struct gw_node **at, struct gw_error *err)
{
	const struct gw_node *n[3], *given = NULL;
	char key[64], ph[300];
	const char *env;
	int i, cnt = 0;

	*out = NULL;
	if (at != NULL)
		*at = map;
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "%s%s", base,
		    i == 0       ? ""
		        : i == 1 ? "_env"
		                 : "_file");
		n[i] = gw_opts_node_get(map, key);
		if (n[i] != NULL) {
			cnt++;
			if (given == NULL)
				given = n[i];
			if (cnt > 1) {
				gw_opts_node_error(err, n[i],
				    "give one of %s, %s_env and %s_file", base,
				    base, base);
				errno = EINVAL;
				return -1;
			}
			if (n[i]->type != GW_NODE_SCALAR ||
			    gw_opts_node_is_null(n[i]) || n[i]->str[0] == '\0')
				return bad(
				    err, n[i], "%s must be a string", key);
		}
	}
	if (given == NULL) {
		if (!required)
			return 0;
		if (inline_ok)
			gw_opts_node_error(err, map,
			    "channel '%s' needs %s (or %s_env, %s_file)",
			    chname, base, base, base);
		else
			gw_opts_node_error(err, map,
			    "channel '%s' needs %s_env or %s_file", chname,
			    base, base);
		errno = EINVAL;
		return -1;
	}
	if (at != NULL)
		*at = given;
	if (given == n[0]) {
		if (!inline_ok) {
			gw_opts_node_error(err, given,
			    "%s must not be written in the config file: put "
			    "it in the environment (%s_env) or a file "
			    "(%s_file)",
			    base, base, base);
			errno = EINVAL;
			return -1;
		}
		*out = strdup(given->str);
	} else if (flags & MONITOR_NO_SECRETS) {
		snprintf(ph, sizeof(ph), given == n[1] ? "${%s}" : "<file %s>",
		    given->str);
		*out = strdup(ph);
		return *out != NULL ? 0 : -1;
	} else if (given == n[1]) {
		if ((env = getenv(given->str)) == NULL || env[0] == '\0') {
			gw_opts_node_error(err, given,
			    "%s_env: %s is not set: export it, or give "
			    "%s_file",
			    base, given->str, base);
			errno = EINVAL;
			return -1;
		}
		*out = strdup(env);
	} else
		return (*out = secret_file(given->str, given, err)) != NULL
		    ? 0
		    : -1;
	return *out != NULL ? 0 : -1;
}

/* An optional plain string key. */
static int
opt_str(const struct gw_node *map, const char *key, char **out,
    struct gw_error *err)
{
	const struct gw_node *n = gw_opts_node_get(map, key);

	if (n == NULL)
		return 0;
	if (n->type != GW_NODE_SCALAR || gw_opts_node_is_null(n))
		return bad(err, n, "%s must be a string", key);
	return (*out = strdup(n->str)) != NULL ? 0 : -1;
}

/* A template key, or <def>. */
static int
opt_tpl(const struct gw_node *map, const char *key, const char *def,
    struct mtemplate **out, struct gw_error *err)
{
	const struct gw_node *n = gw_opts_node_get(map, key);
	char msg[200];
	size_t off;

	if (n != NULL)
		*out = mtemplate_node(n, key, MT_ALL_VARS, err);
	else
		*out =
		    mtemplate_compile(def, MT_ALL_VARS, &off, msg, sizeof(msg));
	return *out != NULL ? 0 : -1;
}

/* A header value must not be able to end the header. */
static int
header_value_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

static int
header_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 &&
	    strspn(s,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789!#$%&'*+-.^_`|~") == n;
}

static int
load_ntfy(struct monitor_channel *ch, const struct gw_node *map, unsigned flags,
    struct gw_error *err)
{
	static const char *const prio[] = { "min", "low", "default", "high",
		"max" };
	const struct gw_node *n;
	struct gw_buf b;
	size_t i;

	if (secret(map, ch->name, "url", 1, 1, flags, &ch->url, &n, err) ==
	        -1 ||
	    secret(map, ch->name, "token", 0, 0, flags, &ch->token, NULL,
	        err) == -1)
		return -1;
	if (!(flags & MONITOR_NO_SECRETS &&
	        n != gw_opts_node_get(map, "url")) &&
	    (!url_ok(ch->url) || !ntfy_topic_ok(ch->url)))
		return bad(err, n,
		    "ntfy url: expected the topic's URL, such as "
		    "https://ntfy.sh/gw-alerts (topic: 1 to 64 of A-Z a-z "
		    "0-9 - _)");
	if (opt_tpl(map, "title", default_title, &ch->title, err) == -1)
		return -1;
	ch->priority = 4;
	if ((n = gw_opts_node_get(map, "priority")) != NULL) {
		ch->priority = 0;
		if (n->type == GW_NODE_SCALAR) {
			for (i = 0; i < 5; i++)
				if (strcasecmp(n->str, prio[i]) == 0 ||
				    (n->str[0] == (char)('1' + i) &&
				        n->str[1] == '\0'))
					ch->priority = (int)i + 1;
			if (strcasecmp(n->str, "urgent") == 0)
				ch->priority = 5;
		}
		if (ch->priority == 0)
			return bad(err, n,
			    "priority: expected min, low, default, high, max "
			    "(urgent) or 1 to 5");
	}
	if ((n = gw_opts_node_get(map, "tags")) != NULL) {
		gw_buf_init(&b, 1024);
		for (i = 0; i < (n->type == GW_NODE_SEQ ? n->n : 1); i++) {
			const struct gw_node *t =
			    n->type == GW_NODE_SEQ ? &n->items[i] : n;

			if (t->type != GW_NODE_SCALAR ||
			    gw_opts_node_is_null(t) ||
			    !header_value_ok(t->str) ||
			    (i > 0 && gw_buf_addc(&b, ',') == -1) ||
			    gw_buf_adds(&b, t->str) == -1) {
				gw_buf_fini(&b);
				return bad(err, t,
				    "tags: expected a list of tags (or one "
				    "comma-separated string)");
			}
		}
		if (n->type == GW_NODE_MAP) {
			gw_buf_fini(&b);
			return bad(err, n, "tags: expected a list");
		}
		if ((ch->tags = gw_buf_take(&b)) == NULL)
			return -1;
	}
	if (opt_str(map, "click", &ch->click, err) == -1)
		return -1;
	if (ch->click != NULL && !header_value_ok(ch->click))
		return bad(err, gw_opts_node_get(map, "click"),
		    "click: expected a URL");
	if ((n = gw_opts_node_get(map, "markdown")) != NULL) {
		if (n->type == GW_NODE_SCALAR &&
		    (strcmp(n->str, "true") == 0 || strcmp(n->str, "yes") == 0))
			ch->markdown = 1;
		else if (n->type != GW_NODE_SCALAR ||
		    (strcmp(n->str, "false") != 0 && strcmp(n->str, "no") != 0))
			return bad(err, n, "markdown: expected true or false");
	}
	return 0;
}

static int
load_url(struct monitor_channel *ch, const struct gw_node *map, unsigned flags,
    struct gw_error *err)
{
	const struct gw_node *n;

	if (secret(map, ch->name, "url", 1, 1, flags, &ch->url, &n, err) == -1)
		return -1;
	if (!(flags & MONITOR_NO_SECRETS &&
	        n != gw_opts_node_get(map, "url")) &&
	    !url_ok(ch->url))
		return bad(err, n, "url: expected an http:// or https:// URL");
	return 0;
}

static int
load_pagerduty(struct monitor_channel *ch, const struct gw_node *map,
    unsigned flags, struct gw_error *err)
{
	static const char *const sevs[] = { "critical", "error", "warning",
		"info" };
	const struct gw_node *n, *s;
	char host[256];
	size_t i, j;

	if (secret(map, ch->name, "routing_key", 0, 1, flags, &ch->routing_key,
	        NULL, err) == -1)
		return -1;
	if ((n = gw_opts_node_get(map, "url")) != NULL) {
		if (n->type != GW_NODE_SCALAR || !url_ok(n->str))
			return bad(
			    err, n, "url: expected an http:// or https:// URL");
		ch->url = strdup(n->str);
	} else
		ch->url = strdup(PD_URL);
	if (ch->url == NULL || opt_str(map, "source", &ch->source, err) == -1)
		return -1;
	if (ch->source == NULL) {
		if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
			snprintf(host, sizeof(host), "gw");
		host[sizeof(host) - 1] = '\0';
		if ((ch->source = strdup(host)) == NULL)
			return -1;
	}
	ch->sev_alert = strdup("critical");
	ch->sev_warn = strdup("warning");
	if (ch->sev_alert == NULL || ch->sev_warn == NULL)
		return -1;
	if ((n = gw_opts_node_get(map, "severity")) == NULL)
		return 0;
	if (n->type != GW_NODE_MAP)
		return bad(err, n,
		    "severity: expected {alert: critical, warning: warning}");
	for (i = 0; i < n->n; i++) {
		const char *k = n->keys[i].str;
		char **dst;

		s = &n->items[i];
		if (strcmp(k, "alert") == 0)
			dst = &ch->sev_alert;
		else if (strcmp(k, "warning") == 0)
			dst = &ch->sev_warn;
		else
			return bad(err, &n->keys[i],
			    "severity: unknown key '%s': use alert and warning",
			    k);
		free(*dst);
		*dst = NULL;
		if (s->type == GW_NODE_SCALAR && dst == &ch->sev_warn &&
		    strcmp(s->str, "none") == 0)
			continue;
		for (j = 0; j < 4; j++)
			if (s->type == GW_NODE_SCALAR &&
			    strcmp(s->str, sevs[j]) == 0)
				break;
		if (j == 4)
			return bad(err, s,
			    "severity %s: expected critical, error, warning or "
			    "info%s",
			    k, dst == &ch->sev_warn ? " (or none)" : "");
		if ((*dst = strdup(sevs[j])) == NULL)
			return -1;
	}
	return 0;
}

/* Renders <t> with sample values and checks that the result is JSON. */
static int
body_check(
    const struct mtemplate *t, const struct gw_node *n, struct gw_error *err)
{
	static const unsigned flags[] = { MTS_ALERT, MTS_WARNING,
		MTS_RECOVERY | MTS_ALERT_RECOVERY };
	struct mt_vars v;
	json_error_t je;
	struct gw_buf b;
	json_t *j;
	size_t i;
	int r = 0;

	memset(&v, 0, sizeof(v));
	for (i = 0; i < MTV_N; i++)
		v.v[i] = "x";
	v.v[MTV_VALUE] = v.v[MTV_THRESHOLD] = v.v[MTV_WARN_THRESHOLD] = "1";
	v.v[MTV_TRIGGERED_DURATION_SEC] = "1";
	gw_buf_init(&b, 0);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]) && r == 0; i++) {
		v.flags = flags[i];
		gw_buf_reset(&b);
		if (mtemplate_render(t, &v, MT_JSON, &b) == -1) {
			r = -1;
			break;
		}
		j = json_loadb(gw_buf_head(&b), b.len, JSON_DECODE_ANY, &je);
		if (j == NULL) {
			gw_opts_node_error(err, n,
			    "body: not valid JSON once rendered (%s, at "
			    "character %d of the %s body)",
			    je.text, je.position,
			    i == 0       ? "alert"
			        : i == 1 ? "warning"
			                 : "recovery");
			errno = EINVAL;
			r = -1;
		}
		json_decref(j);
	}
	gw_buf_fini(&b);
	return r;
}

static int
load_webhook(struct monitor_channel *ch, const struct gw_node *map,
    unsigned flags, struct gw_error *err)
{
	const struct gw_node *n, *h;
	size_t i;

	if (load_url(ch, map, flags, err) == -1 ||
	    secret(map, ch->name, "token", 0, 0, flags, &ch->token, NULL,
	        err) == -1 ||
	    opt_str(map, "method", &ch->method, err) == -1)
		return -1;
	if (ch->method == NULL && (ch->method = strdup("POST")) == NULL)
		return -1;
	if (strcmp(ch->method, "POST") != 0 && strcmp(ch->method, "PUT") != 0 &&
	    strcmp(ch->method, "PATCH") != 0)
		return bad(err, gw_opts_node_get(map, "method"),
		    "method: expected POST, PUT or PATCH");
	if ((n = gw_opts_node_get(map, "headers")) != NULL &&
	    !gw_opts_node_is_null(n)) {
		if (n->type != GW_NODE_MAP)
			return bad(err, n,
			    "headers: expected a mapping of names to values");
		if ((ch->headers = calloc(n->n + 1, sizeof(*ch->headers))) ==
		    NULL)
			return -1;
		for (i = 0; i < n->n; i++) {
			h = &n->items[i];
			if (!header_name_ok(n->keys[i].str))
				return bad(err, &n->keys[i],
				    "headers: '%s' is not a header name",
				    n->keys[i].str);
			if (h->type != GW_NODE_SCALAR ||
			    !header_value_ok(h->str))
				return bad(err, h,
				    "headers: the value of %s must be one line "
				    "of text",
				    n->keys[i].str);
			ch->headers[i].name = strdup(n->keys[i].str);
			ch->headers[i].value = strdup(h->str);
			ch->nheaders++;
			if (ch->headers[i].name == NULL ||
			    ch->headers[i].value == NULL)
				return -1;
		}
	}
	if (opt_tpl(map, "body", default_body, &ch->body, err) == -1)
		return -1;
	if ((n = gw_opts_node_get(map, "body")) != NULL &&
	    body_check(ch->body, n, err) == -1)
		return -1;
	return 0;
}

static struct monitor_channel *
channel_load(const struct gw_node *key, const struct gw_node *map,
    unsigned flags, struct gw_error *err)
{
	struct monitor_channel *ch = calloc(1, sizeof(*ch));
	const struct gw_node *t;
	const char *const *keys;
	struct gw_buf list;
	size_t i, j;
	int r;

	if (ch == NULL)
		return NULL;
	if (key->str[0] == '\0' || strlen(key->str) > 64 ||
	    strspn(key->str,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
	        "WXYZ0123456789-_.") != strlen(key->str)) {
		bad(err, key,
		    "channel name '%s': use up to 64 letters, digits, '-', '_' "
		    "and '.'",
		    key->str);
		goto fail;
	}
	if ((ch->name = strdup(key->str)) == NULL)
		goto fail;
	if (map->type != GW_NODE_MAP) {
		bad(err, map, "channel '%s' must be a mapping with a type",
		    key->str);
		goto fail;
	}
	t = gw_opts_node_get(map, "type");
	for (i = 0; t != NULL && t->type == GW_NODE_SCALAR && i < 4; i++)
		if (strcmp(t->str, type_names[i]) == 0)
			break;
	if (t == NULL || t->type != GW_NODE_SCALAR || i == 4) {
		bad(err, t != NULL ? t : key,
		    "channel '%s': type must be ntfy, slack, pagerduty or "
		    "webhook",
		    key->str);
		goto fail;
	}
	ch->type = (enum channel_type)i;
	keys = type_keys[ch->type];
	for (i = 0; i < map->n; i++) {
		const char *k = map->keys[i].str;

		if (gw_opts_node_get(map, "type") == &map->items[i])
			continue;
		for (j = 0; j < 12 && keys[j] != NULL; j++)
			if (gw_opts_node_get(map, keys[j]) == &map->items[i])
				break;
		if (j < 12 && keys[j] != NULL)
			continue;
		gw_buf_init(&list, 512);
		for (j = 0; j < 12 && keys[j] != NULL; j++)
			(void)gw_buf_printf(
			    &list, "%s%s", j ? ", " : "", keys[j]);
		(void)gw_buf_addc(&list, '\0');
		gw_opts_node_error(err, &map->keys[i],
		    "unknown key '%s' in %s channel '%s' (use type, %s)", k,
		    type_names[ch->type], ch->name,
		    list.len ? gw_buf_head(&list) : "");
		gw_buf_fini(&list);
		errno = EINVAL;
		goto fail;
	}
	switch (ch->type) {
	case CH_NTFY:
		r = load_ntfy(ch, map, flags, err);
		break;
	case CH_SLACK:
		r = load_url(ch, map, flags, err);
		if (r == 0)
			r = opt_tpl(map, "text", default_slack, &ch->text, err);
		break;
	case CH_PAGERDUTY:
		r = load_pagerduty(ch, map, flags, err);
		break;
	default:
		r = load_webhook(ch, map, flags, err);
		break;
	}
	if (r == -1)
		goto fail;
	return ch;
fail:
	if (errno == ENOMEM && err != NULL && err->msg[0] == '\0')
		gw_opts_node_error(err, key, "out of memory");
	channel_free(ch);
	return NULL;
}

int
notify_channels_load(const struct gw_node *chans, unsigned flags,
    struct monitor_channel ***out, size_t *n, struct gw_error *err)
{
	struct monitor_channel **ch;
	size_t i;

	*out = NULL;
	*n = 0;
	if (chans == NULL || gw_opts_node_is_null(chans))
		return 0;
	if (chans->type != GW_NODE_MAP) {
		gw_opts_node_error(err, chans,
		    "channels must be a mapping of names to channels");
		errno = EINVAL;
		return -1;
	}
	if ((ch = calloc(chans->n + 1, sizeof(*ch))) == NULL)
		return -1;
	for (i = 0; i < chans->n; i++) {
		if ((ch[i] = channel_load(&chans->keys[i], &chans->items[i],
		         flags, err)) == NULL) {
			notify_channels_free(ch, i);
			return -1;
		}
	}
	*out = ch;
	*n = chans->n;
	return 0;
}

/* Requests. */

void
notification_fini(struct notification *n)
{
	size_t i;

	if (n == NULL)
		return;
	free(n->method);
	free(n->url);
	for (i = 0; i < n->nheaders; i++) {
		free(n->headers[i].name);
		free(n->headers[i].value);
	}
	free(n->headers);
	gw_buf_fini(&n->body);
	memset(n, 0, sizeof(*n));
}

/*
 * Adds a header.  Control characters become spaces; a value with bytes
 * beyond ASCII is sent as one RFC 2047 encoded word, which ntfy decodes.
 */
static int
add_header(
    struct notification *n, const char *name, const char *value, size_t len)
{
	struct notify_header *h;
	size_t i, ascii = 1;
	char *v;

	h = realloc(n->headers, (n->nheaders + 1) * sizeof(*h));
	if (h == NULL)
		return -1;
	n->headers = h;
	for (i = 0; i < len; i++)
		if ((unsigned char)value[i] >= 0x80)
			ascii = 0;
	if (ascii) {
		if ((v = strndup(value, len)) == NULL)
			return -1;
		for (i = 0; i < len; i++)
			if ((unsigned char)v[i] < ' ' || v[i] == 0x7f)
				v[i] = ' ';
	} else {
		if ((v = malloc(GW_BASE64_ENCODED_LEN(len) + 13)) == NULL)
			return -1;
		memcpy(v, "=?UTF-8?B?", 10);
		i = 10 + gw_base64_encode(value, len, v + 10);
		memcpy(v + i, "?=", 3);
	}
	h = &n->headers[n->nheaders];
	if ((h->name = strdup(name)) == NULL) {
		free(v);
		return -1;
	}
	h->value = v;
	n->nheaders++;
	return 0;
}

static int
add_header_s(struct notification *n, const char *name, const char *value)
{
	return add_header(n, name, value, strlen(value));
}

static int
has_header(const struct notification *n, const char *name)
{
	size_t i;

	for (i = 0; i < n->nheaders; i++)
		if (strcasecmp(n->headers[i].name, name) == 0)
			return 1;
	return 0;
}

static int
start(struct notification *n, const struct monitor_channel *ch,
    const char *method, const char *url)
{
	memset(n, 0, sizeof(*n));
	n->channel = ch->name;
	n->type = type_names[ch->type];
	gw_buf_init(&n->body, 0);
	n->method = strdup(method);
	n->url = strdup(url);
	return n->method != NULL && n->url != NULL ? 0 : -1;
}

static int
bearer(struct notification *n, const char *token)
{
	struct gw_buf b;
	int r;

	if (token == NULL)
		return 0;
	gw_buf_init(&b, 0);
	r = gw_buf_printf(&b, "Bearer %s", token) == 0 &&
	        gw_buf_addc(&b, '\0') == 0
	    ? add_header_s(n, "Authorization", gw_buf_head(&b))
	    : -1;
	gw_buf_fini(&b);
	return r;
}

static int
ntfy_request(const struct monitor_channel *ch, const struct monitor_alert *a,
    const struct mt_vars *v, struct notification *n)
{
	static const char *const prio[] = { "", "1", "2", "3", "4", "5" };
	const char *tag, *msg;
	struct gw_buf t;
	size_t len;
	int p, r = -1;

	gw_buf_init(&t, 0);
	if (start(n, ch, "POST", ch->url) == -1 ||
	    mtemplate_render(ch->title, v, MT_PLAIN, &t) == -1)
		goto out;
	len = gw_utf8_cut(gw_buf_head(&t), t.len, NTFY_MAX_TITLE);
	/* Warnings and recoveries at "default", unless asked for less. */
	p = a->to == MON_ALERT ? ch->priority
	    : ch->priority < 3 ? ch->priority
	                       : 3;
	tag = a->to == MON_ALERT ? "rotating_light"
	    : a->to == MON_WARN  ? "warning"
	                         : "white_check_mark";
	if (add_header(n, "Title", t.len ? gw_buf_head(&t) : "", len) == -1 ||
	    add_header_s(n, "Priority", prio[p]) == -1)
		goto out;
	gw_buf_reset(&t);
	if (gw_buf_adds(&t, tag) == -1 ||
	    (ch->tags != NULL && gw_buf_printf(&t, ",%s", ch->tags) == -1) ||
	    add_header(n, "Tags", gw_buf_head(&t), t.len) == -1)
		goto out;
	if ((ch->click != NULL && add_header_s(n, "Click", ch->click) == -1) ||
	    (ch->markdown && add_header_s(n, "Markdown", "yes") == -1) ||
	    add_header_s(n, "Content-Type", "text/plain; charset=utf-8") ==
	        -1 ||
	    bearer(n, ch->token) == -1)
		goto out;
	msg = a->message[0] != '\0' ? a->message : a->title;
	len = gw_utf8_cut(msg, strlen(msg), NTFY_MAX_BODY);
	r = gw_buf_add(&n->body, msg, len);
out:
	gw_buf_fini(&t);
	return r;
}

static int
slack_request(const struct monitor_channel *ch, const struct monitor_alert *a,
    const struct mt_vars *v, struct notification *n)
{
	struct gw_buf msg, text;
	struct mt_vars sv = *v;
	int r = -1;

	gw_buf_init(&msg, 0);
	gw_buf_init(&text, 0);
	/* The message's own text may use Slack markup; only the values
	 * substituted into it are escaped. */
	if (start(n, ch, "POST", ch->url) == -1 ||
	    mtemplate_render(a->message_t, v, MT_SLACK, &msg) == -1 ||
	    gw_buf_addc(&msg, '\0') == -1)
		goto out;
	sv.v[MTV_MESSAGE] = gw_buf_head(&msg);
	sv.raw |= 1u << MTV_MESSAGE;
	if (mtemplate_render(ch->text, &sv, MT_SLACK, &text) == -1 ||
	    add_header_s(n, "Content-Type", "application/json") == -1 ||
	    gw_buf_adds(&n->body, "{\"text\":") == -1 ||
	    gw_json_str(&n->body, gw_buf_head(&text), text.len) == -1 ||
	    gw_buf_addc(&n->body, '}') == -1)
		goto out;
	r = 0;
out:
	gw_buf_fini(&msg);
	gw_buf_fini(&text);
	return r;
}

/* A number as JSON: integers without a fraction. */
static int
json_num(struct gw_buf *b, double x)
{
	if (x == (double)(long long)x && x > -1e15 && x < 1e15)
		return gw_json_i64(b, (int64_t)x);
	return gw_buf_printf(b, "%.10g", x);
}

static int
pagerduty_request(const struct monitor_channel *ch,
    const struct monitor_alert *a, const struct mt_vars *v,
    struct notification *n)
{
	char when[GW_RFC3339_LEN], *sum = NULL;
	const char *sev, *s;
	struct gw_buf *b = &n->body;
	size_t len, i;
	int ok;

	sev = a->to == MON_ALERT ? ch->sev_alert
	    : a->to == MON_WARN  ? ch->sev_warn
	                         : NULL;
	if (a->to == MON_WARN && sev == NULL)
		return 1;
	if (start(n, ch, "POST", ch->url) == -1 ||
	    add_header_s(n, "Content-Type", "application/json") == -1)
		return -1;
	ok = gw_buf_addc(b, '{') == 0 &&
	    gw_json_key(b, "routing_key", 1) == 0 &&
	    gw_json_cstr(b, ch->routing_key) == 0 &&
	    gw_json_key(b, "event_action", 0) == 0 &&
	    gw_json_cstr(b, a->to == MON_OK ? "resolve" : "trigger") == 0 &&
	    gw_json_key(b, "dedup_key", 0) == 0 &&
	    gw_json_cstr(b, a->dedup_key) == 0;
	if (a->to == MON_OK)
		return ok && gw_buf_addc(b, '}') == 0 ? 0 : -1;

	/* The summary: the message on one line, or the title. */
	s = a->message[0] != '\0' ? a->message : a->title;
	len = gw_utf8_cut(s, strlen(s), PD_MAX_SUMMARY);
	if ((sum = strndup(s, len)) == NULL)
		return -1;
	for (i = 0; i < len; i++)
		if (sum[i] == '\n' || sum[i] == '\r' || sum[i] == '\t')
			sum[i] = ' ';
	gw_rfc3339((uint64_t)a->time_us * 1000, when);
	ok = ok && gw_json_key(b, "payload", 0) == 0 &&
	    gw_buf_addc(b, '{') == 0 && gw_json_key(b, "summary", 1) == 0 &&
	    gw_json_cstr(b, sum) == 0 && gw_json_key(b, "source", 0) == 0 &&
	    gw_json_cstr(b, ch->source) == 0 &&
	    gw_json_key(b, "severity", 0) == 0 && gw_json_cstr(b, sev) == 0 &&
	    gw_json_key(b, "timestamp", 0) == 0 && gw_json_cstr(b, when) == 0 &&
	    gw_json_key(b, "component", 0) == 0 &&
	    gw_json_cstr(b, a->monitor) == 0 &&
	    gw_json_key(b, "custom_details", 0) == 0 &&
	    gw_buf_addc(b, '{') == 0 && gw_json_key(b, "monitor", 1) == 0 &&
	    gw_json_cstr(b, a->name) == 0 && gw_json_key(b, "group", 0) == 0 &&
	    gw_json_cstr(b, a->group) == 0 && gw_json_key(b, "value", 0) == 0 &&
	    (a->has_value ? json_num(b, a->value) : gw_buf_adds(b, "null")) ==
	        0 &&
	    gw_json_key(b, "value_text", 0) == 0 &&
	    gw_json_cstr(b, v->v[MTV_VALUE]) == 0 &&
	    gw_json_key(b, "threshold", 0) == 0 &&
	    json_num(b, a->threshold) == 0 &&
	    gw_json_key(b, "threshold_text", 0) == 0 &&
	    gw_json_cstr(b, v->v[MTV_THRESHOLD]) == 0 &&
	    gw_json_key(b, "comparator", 0) == 0 &&
	    gw_json_cstr(b, a->comparator) == 0 &&
	    gw_json_key(b, "window", 0) == 0 &&
	    gw_json_cstr(b, v->v[MTV_WINDOW]) == 0 &&
	    gw_json_key(b, "metric", 0) == 0 &&
	    gw_json_cstr(b, v->v[MTV_METRIC]) == 0 &&
	    gw_json_key(b, "query", 0) == 0 &&
	    gw_json_cstr(b, v->v[MTV_QUERY]) == 0;
	if (ok && a->has_warning)
		ok = gw_json_key(b, "warn_threshold", 0) == 0 &&
		    json_num(b, a->warn_threshold) == 0;
	ok = ok && gw_json_key(b, "transition", 0) == 0 &&
	    gw_json_cstr(b, v->v[MTV_TRANSITION]) == 0 &&
	    gw_buf_addc(b, '}') == 0 && gw_buf_addc(b, '}') == 0 &&
	    gw_json_key(b, "client", 0) == 0 &&
	    gw_json_cstr(b, "gw-export") == 0 && gw_buf_addc(b, '}') == 0;
	free(sum);
	return ok ? 0 : -1;
}

static int
webhook_request(const struct monitor_channel *ch, const struct monitor_alert *a,
    const struct mt_vars *v, struct notification *n)
{
	size_t i;

	(void)a;
	if (start(n, ch, ch->method, ch->url) == -1)
		return -1;
	for (i = 0; i < ch->nheaders; i++)
		if (add_header_s(
		        n, ch->headers[i].name, ch->headers[i].value) == -1)
			return -1;
	if ((!has_header(n, "Content-Type") &&
	        add_header_s(n, "Content-Type", "application/json") == -1) ||
	    (!has_header(n, "Authorization") && bearer(n, ch->token) == -1))
		return -1;
	return mtemplate_render(ch->body, v, MT_JSON, &n->body);
}

int
notify_request(const struct monitor_channel *ch, const struct monitor_alert *a,
    struct notification *n)
{
	struct mt_vars v = *a->vars;
	int r;

	memset(n, 0, sizeof(*n));
	v.v[MTV_MESSAGE] = a->message;
	switch (ch->type) {
	case CH_NTFY:
		r = ntfy_request(ch, a, &v, n);
		break;
	case CH_SLACK:
		r = slack_request(ch, a, &v, n);
		break;
	case CH_PAGERDUTY:
		r = pagerduty_request(ch, a, &v, n);
		break;
	default:
		r = webhook_request(ch, a, &v, n);
		break;
	}
	if (r != 0) {
		notification_fini(n);
		if (r == -1)
			errno = ENOMEM;
	}
	return r;
}
