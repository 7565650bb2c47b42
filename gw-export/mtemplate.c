/* SPDX-License-Identifier: MIT */
/*
 * Message templates for monitors and channels: the subset of Datadog's
 * Mustache-like notification syntax that makes sense for local monitors
 * (reference §4.2): {{value}}, {{{value}}} unescaped, {{#is_alert}},
 * {{^is_alert}} and {{else}}, {{/is_alert}}, {{! comments }}.  Templates
 * are compiled when export.yml is loaded, so that a misspelt variable is
 * a configuration error with its file:line:col rather than an empty spot
 * in a page at 3 a.m.  Rendering escapes each value for where it lands:
 * nothing for ntfy, JSON string escapes for webhook bodies, Slack's three
 * entities for Slack.  Also here: mapping a byte of a YAML scalar back to
 * its position in the file, for errors inside strings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "monitor.h"
#include "yamlpos.h"

/* Nesting of conditions; Datadog templates use one or two. */
#define MT_MAX_DEPTH 16

static const char *const var_names[MTV_N] = {
	[MTV_VALUE] = "value",
	[MTV_THRESHOLD] = "threshold",
	[MTV_WARN_THRESHOLD] = "warn_threshold",
	[MTV_COMPARATOR] = "comparator",
	[MTV_GROUP] = "group",
	[MTV_QUERY] = "query",
	[MTV_MONITOR] = "monitor",
	[MTV_MONITOR_ID] = "monitor_id",
	[MTV_WINDOW] = "window",
	[MTV_METRIC] = "metric",
	[MTV_STATUS] = "status",
	[MTV_TRANSITION] = "transition",
	[MTV_TIME] = "time",
	[MTV_FIRST_TRIGGERED_AT] = "first_triggered_at",
	[MTV_TRIGGERED_DURATION_SEC] = "triggered_duration_sec",
	[MTV_DEDUP_KEY] = "dedup_key",
	[MTV_TITLE] = "title",
	[MTV_MESSAGE] = "message",
};

static const struct {
	const char *name;
	unsigned flag;
} cond_names[] = {
	{ "is_alert", MTS_ALERT },
	{ "is_warning", MTS_WARNING },
	{ "is_recovery", MTS_RECOVERY },
	{ "is_alert_recovery", MTS_ALERT_RECOVERY },
	{ "is_warning_recovery", MTS_WARNING_RECOVERY },
	{ "is_alert_to_warning", MTS_ALERT_TO_WARNING },
	{ "is_renotify", MTS_RENOTIFY },
	{ "is_no_data", MTS_NO_DATA },
	{ "is_no_data_recovery", MTS_NO_DATA_RECOVERY },
};

#define NCONDS (sizeof(cond_names) / sizeof(cond_names[0]))

enum mt_opk { OP_TEXT, OP_VAR, OP_COND, OP_ELSE, OP_END };

/*
 * A template is a flat list of ops.  A condition's body runs from the op
 * after it to its else (or end); the else part from after the else to the
 * end.  Text ops point into the template's copy of its text.
 */
struct mt_op {
	uint8_t kind;  /* enum mt_opk */
	uint8_t raw;   /* OP_VAR: {{{x}}}; OP_COND: inverted {{^x}} */
	uint16_t var;  /* OP_VAR: enum mt_var; OP_COND: MTS_* bit */
	uint32_t a, b; /* OP_TEXT: offset, length; OP_COND: else, end */
};

struct mtemplate {
	char *text;
	struct mt_op *ops;
	size_t nops, cap;
};

const char *
mtemplate_var_name(enum mt_var var)
{
	return var >= 0 && var < MTV_N ? var_names[var] : "?";
}

void
mtemplate_free(struct mtemplate *t)
{
	if (t == NULL)
		return;
	free(t->text);
	free(t->ops);
	free(t);
}

static struct mt_op *
op_add(struct mtemplate *t, enum mt_opk kind)
{
	struct mt_op *ops;
	size_t cap;

	if (t->nops == t->cap) {
		cap = t->cap ? t->cap * 2 : 16;
		if ((ops = realloc(t->ops, cap * sizeof(*ops))) == NULL)
			return NULL;
		t->ops = ops;
		t->cap = cap;
	}
	memset(&t->ops[t->nops], 0, sizeof(t->ops[0]));
	t->ops[t->nops].kind = kind;
	return &t->ops[t->nops++];
}

static int
word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

static int
var_of(const char *s, size_t n)
{
	int i;

	for (i = 0; i < MTV_N; i++)
		if (word_is(s, n, var_names[i]))
			return i;
	return -1;
}

static unsigned
cond_of(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < NCONDS; i++)
		if (word_is(s, n, cond_names[i].name))
			return cond_names[i].flag;
	return 0;
}

/* Why <s>/<n> is not a variable, with a hint for Datadog's other forms. */
static void
unknown_var(const char *s, size_t n, char *msg, size_t cap)
{
	int len = n > 64 ? 64 : (int)n;

	if (cond_of(s, n))
		snprintf(msg, cap,
		    "'%.*s' is a condition: write {{#%.*s}}...{{/%.*s}}", len,
		    s, len, s, len, s);
	else if (n > 0 && (s[0] == '@' || s[0] == '[' || memchr(s, '.', n)))
		snprintf(msg, cap,
		    "unknown template variable '%.*s': facet and log "
		    "variables are not available locally; use {{group}}",
		    len, s);
	else
		snprintf(msg, cap,
		    "unknown template variable '%.*s' (use value, threshold, "
		    "warn_threshold, comparator, group, query, monitor, "
		    "window, metric, status, transition, time, title...)",
		    len, s);
}

struct mtemplate *
mtemplate_compile(
    const char *text, unsigned vars, size_t *off, char *msg, size_t msgcap)
{
	struct mtemplate *t = calloc(1, sizeof(*t));
	size_t stack[MT_MAX_DEPTH], at[MT_MAX_DEPTH], depth = 0, i = 0, len;
	size_t j, n;
	const char *p, *name;
	struct mt_op *op;
	int triple, v;
	unsigned c;
	char kind;

	*off = 0;
	msg[0] = '\0';
	if (t == NULL || (t->text = strdup(text)) == NULL)
		goto nomem;
	len = strlen(text);
	while (i < len) {
		p = strstr(text + i, "{{");
		j = p != NULL ? (size_t)(p - text) : len;
		if (j > i) {
			if ((op = op_add(t, OP_TEXT)) == NULL)
				goto nomem;
			op->a = (uint32_t)i;
			op->b = (uint32_t)(j - i);
		}
		if (p == NULL)
			break;
		*off = j;
		triple = text[j + 2] == '{';
		i = j + (triple ? 3 : 2);
		p = strstr(text + i, triple ? "}}}" : "}}");
		if (p == NULL) {
			snprintf(msg, msgcap, "unterminated %s",
			    triple ? "{{{" : "{{");
			goto bad;
		}
		name = text + i;
		n = (size_t)(p - name);
		i = (size_t)(p - text) + (triple ? 3 : 2);
		while (n > 0 && (*name == ' ' || *name == '\t')) {
			name++;
			n--;
		}
		while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
			n--;
		kind = n > 0 && !triple ? name[0] : 0;
		if (kind == '!')
			continue;
		if (kind == '#' || kind == '^' || kind == '/') {
			name++;
			n--;
			while (n > 0 && (*name == ' ' || *name == '\t')) {
				name++;
				n--;
			}
		}
		if (kind == '#' || kind == '^') {
			if ((c = cond_of(name, n)) == 0) {
				if (var_of(name, n) >= 0)
					snprintf(msg, msgcap,
					    "'%.*s' is not a condition: use "
					    "is_alert, is_warning, "
					    "is_recovery...",
					    (int)(n > 64 ? 64 : n), name);
				else
					snprintf(msg, msgcap,
					    "unknown condition '%.*s' (use "
					    "is_alert, is_warning, is_recovery, "
					    "is_alert_recovery, "
					    "is_warning_recovery, "
					    "is_alert_to_warning, is_renotify)",
					    (int)(n > 64 ? 64 : n), name);
				goto bad;
			}
			if (depth == MT_MAX_DEPTH) {
				snprintf(
				    msg, msgcap, "conditions nested too deep");
				goto bad;
			}
			if ((op = op_add(t, OP_COND)) == NULL)
				goto nomem;
			op->var = (uint16_t)c;
			op->raw = kind == '^';
			op->a = 0;
			at[depth] = j;
			stack[depth++] = t->nops - 1;
		} else if (kind == '/') {
			c = cond_of(name, n);
			if (depth == 0 || c == 0 ||
			    t->ops[stack[depth - 1]].var != c) {
				snprintf(msg, msgcap,
				    "{{/%.*s}} closes no open condition",
				    (int)(n > 64 ? 64 : n), name);
				goto bad;
			}
			if ((op = op_add(t, OP_END)) == NULL)
				goto nomem;
			t->ops[stack[--depth]].b = (uint32_t)(t->nops - 1);
		} else if (word_is(name, n, "else")) {
			if (depth == 0 || t->ops[stack[depth - 1]].a != 0) {
				snprintf(msg, msgcap,
				    "{{else}} outside a condition");
				goto bad;
			}
			if ((op = op_add(t, OP_ELSE)) == NULL)
				goto nomem;
			t->ops[stack[depth - 1]].a = (uint32_t)(t->nops - 1);
		} else {
			v = var_of(name, n);
			if (v < 0 || !(vars & (1u << v))) {
				if (v >= 0)
					snprintf(msg, msgcap,
					    "{{%s}} is not available here",
					    var_names[v]);
				else
					unknown_var(name, n, msg, msgcap);
				goto bad;
			}
			if ((op = op_add(t, OP_VAR)) == NULL)
				goto nomem;
			op->var = (uint16_t)v;
			op->raw = (uint8_t)triple;
		}
	}
	if (depth > 0) {
		const struct mt_op *o = &t->ops[stack[depth - 1]];

		*off = at[depth - 1];
		for (j = 0; j < NCONDS; j++)
			if (cond_names[j].flag == o->var)
				snprintf(msg, msgcap,
				    "{{%c%s}} is not closed: add {{/%s}}",
				    o->raw ? '^' : '#', cond_names[j].name,
				    cond_names[j].name);
		goto bad;
	}
	return t;
nomem:
	mtemplate_free(t);
	snprintf(msg, msgcap, "out of memory");
	errno = ENOMEM;
	return NULL;
bad:
	mtemplate_free(t);
	errno = EINVAL;
	return NULL;
}

struct mtemplate *
mtemplate_node(const struct gw_node *n, const char *what, unsigned vars,
    struct gw_error *err)
{
	struct mtemplate *t;
	char msg[400];
	size_t off;
	int line, col;

	if (n->type != GW_NODE_SCALAR || gw_opts_node_is_null(n)) {
		gw_opts_node_error(err, n, "%s must be a string", what);
		errno = EINVAL;
		return NULL;
	}
	t = mtemplate_compile(n->str, vars, &off, msg, sizeof(msg));
	if (t == NULL) {
		if (errno == ENOMEM) {
			gw_opts_node_error(err, n, "out of memory");
			return NULL;
		}
		mtemplate_node_pos(n, off, &line, &col);
		gw_error_set(err, n->file, line, col, "%s: %s", what, msg);
		errno = EINVAL;
	}
	return t;
}

static int
add_slack(struct gw_buf *out, const char *s)
{
	const char *p;

	for (;;) {
		p = s + strcspn(s, "&<>");
		if (gw_buf_add(out, s, (size_t)(p - s)) == -1)
			return -1;
		if (*p == '\0')
			return 0;
		if (gw_buf_adds(out,
		        *p == '&'       ? "&amp;"
		            : *p == '<' ? "&lt;"
		                        : "&gt;") == -1)
			return -1;
		s = p + 1;
	}
}

static int
render(const struct mtemplate *t, size_t i, size_t end, const struct mt_vars *v,
    enum mt_escape esc, struct gw_buf *out)
{
	const struct mt_op *op;
	const char *s;
	size_t from, to;
	int on;

	while (i < end) {
		op = &t->ops[i];
		switch (op->kind) {
		case OP_TEXT:
			if (gw_buf_add(out, t->text + op->a, op->b) == -1)
				return -1;
			i++;
			break;
		case OP_VAR:
			s = v->v[op->var] != NULL ? v->v[op->var] : "";
			if (op->raw || (v->raw & (1u << op->var)) ||
			    esc == MT_PLAIN) {
				if (gw_buf_adds(out, s) == -1)
					return -1;
			} else if (esc == MT_JSON) {
				if (gw_json_escape(out, s, strlen(s)) == -1)
					return -1;
			} else if (add_slack(out, s) == -1)
				return -1;
			i++;
			break;
		case OP_COND:
			on = (v->flags & op->var) != 0;
			if (op->raw)
				on = !on;
			if (on) {
				from = i + 1;
				to = op->a ? op->a : op->b;
			} else {
				from = op->a ? op->a + 1 : op->b;
				to = op->b;
			}
			if (render(t, from, to, v, esc, out) == -1)
				return -1;
			i = op->b + 1;
			break;
		default: /* an ELSE or END reached only through a COND */
			i++;
			break;
		}
	}
	return 0;
}

int
mtemplate_render(const struct mtemplate *t, const struct mt_vars *v,
    enum mt_escape esc, struct gw_buf *out)
{
	return render(t, 0, t->nops, v, esc, out);
}

/* Positions inside YAML scalars. */

void
mtemplate_node_pos(const struct gw_node *n, size_t off, int *line, int *col)
{
	struct gw_yaml_text yt;
	size_t len;
	char *text;

	*line = n->line;
	*col = n->col;
	if (n->file == NULL || n->line <= 0 ||
	    (text = gw_read_file(n->file, GW_OPTS_MAX_FILE, &len)) == NULL)
		return;
	if (gw_yaml_text_init(&yt, text, len) == 0)
		gw_yaml_scalar_pos(&yt, n, off, line, col);
	gw_yaml_text_fini(&yt);
	free(text);
}
