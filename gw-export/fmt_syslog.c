// SPDX-License-Identifier: MIT
/*
 * The syslog encoder: one RFC 5424 message per event, framed by octet
 * counting (RFC 6587 §3.4.1) in the batch body, which is sent as it is
 * over TCP or TLS and split into datagrams over UDP (fmt.h has the
 * choices and the RFC text behind them).  The header and structured data
 * come from pick_event()'s fields; MSG is the event's line itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "json.h"
#include "timeutil.h"

#define SD_VAL_MAX  128 /* bytes of a structured-data value */
#define MIN_MSG     256 /* below this much room for MSG, SD is cut down */
#define NAME_MAX_SD 32  /* SD-NAME, MSGID */

struct syslog_enc {
	struct xenc base;
	int facility, udp, bom;
	size_t max_message;
	char host[256]; /* HOSTNAME: 1*255PRINTUSASCII, or "-" */
	char app[49];   /* APP-NAME: 1*48PRINTUSASCII */
	char sd_id[NAME_MAX_SD + 1];
	struct gw_buf msg; /* the message being built */
	struct gw_buf fix, shr, tmp;
};

/* Copies the printable US-ASCII of <s> (at most <max> bytes); "-" if none. */
static void
printable(char *dst, const char *s, size_t n, size_t max)
{
	size_t i, k = 0;

	for (i = 0; i < n && k < max; i++)
		if (s[i] >= 33 && s[i] <= 126)
			dst[k++] = s[i];
	if (k == 0)
		dst[k++] = '-';
	dst[k] = '\0';
}

/* SD-NAME: 1*32 PRINTUSASCII except '=', SP, ']', '"'. */
static int
valid_sd_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > NAME_MAX_SD)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 33 || s[i] > 126 || s[i] == '=' || s[i] == ']' ||
		    s[i] == '"')
			return 0;
	return 1;
}

/* RFC 5424 §6.2.1 severities. */
enum { SEV_ERR = 3, SEV_WARNING = 4, SEV_NOTICE = 5, SEV_INFO = 6 };

static int
severity(const struct xevent *ev, const char *type, size_t tn)
{
	const char *st = pick_status(ev);
	int kind = gw_evsum_kind_of(type, tn);
	static const char rej[] = "policy_rejected.";

	if (st[0] == 'e')
		return SEV_ERR;
	if (st[0] == 'w')
		return SEV_WARNING;
	if (kind == GW_EVK_AUDIT) {
		if (tn > sizeof(rej) - 1 &&
		    memcmp(type, rej, sizeof(rej) - 1) == 0)
			return SEV_WARNING;
		return SEV_NOTICE;
	}
	return SEV_INFO;
}

/*
 * Appends SD-PARAM  name="value" with the value cut to SD_VAL_MAX bytes,
 * '"', '\' and ']' escaped (§6.3.3) and controls written as '?'.
 */
static int
put_param(struct gw_buf *m, const char *name, const char *s, size_t n)
{
	size_t i;
	char c;
	int err = 0;

	n = gw_utf8_cut(s, n, SD_VAL_MAX);
	err |= gw_buf_addc(m, ' ');
	err |= gw_buf_adds(m, name);
	err |= gw_buf_add(m, "=\"", 2);
	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '"' || c == '\\' || c == ']')
			err |= gw_buf_addc(m, '\\');
		else if ((unsigned char)c < 0x20 || c == 0x7f)
			c = '?';
		err |= gw_buf_addc(m, c);
	}
	err |= gw_buf_addc(m, '"');
	return err;
}

static int
put_field(struct syslog_enc *s, struct gw_buf *m, const char *name,
    const struct gw_jval *v)
{
	const char *p;
	size_t n;

	switch (v->type) {
	case GW_JSTRING:
		if (v->len == 0)
			return 0;
		gw_buf_reset(&s->tmp);
		if (pick_text(v, &s->tmp, &p, &n) == -1)
			return -1;
		return put_param(m, name, p, n);
	case GW_JNUMBER:
		return put_param(m, name, v->p, v->len);
	default:
		return 0;
	}
}

/* [gw@32473 event_id="..." ...]; with <brief> the event_id alone. */
static int
put_sd(
    struct syslog_enc *s, struct gw_buf *m, const struct xevent *ev, int brief)
{
	static const struct {
		const char *name;
		int f;
	} fields[] = {
		{ "status", XF_STATUS },
		{ "method", XF_METHOD },
		{ "host", XF_HOST },
		{ "path", XF_PATH },
		{ "client_ip", XF_CLIENT_IP },
		{ "duration_ns", XF_DURATION },
		{ "error", XF_ERROR_CODE },
	};
	size_t i;
	int err = 0;

	err |= gw_buf_addc(m, '[');
	err |= gw_buf_adds(m, s->sd_id);
	err |= put_field(s, m, "event_id", &ev->f[XF_EVENT_ID]);
	for (i = 0; !brief && i < sizeof(fields) / sizeof(fields[0]); i++)
		err |= put_field(s, m, fields[i].name, &ev->f[fields[i].f]);
	err |= gw_buf_addc(m, ']');
	return err;
}

/* HEADER SP STRUCTURED-DATA SP into s->msg; MSG follows. */
static int
put_head(struct syslog_enc *s, const struct xevent *ev, int brief)
{
	struct gw_buf *m = &s->msg;
	char type[NAME_MAX_SD + 1], ts[GW_RFC3339_LEN], raw[128];
	const char *t;
	size_t tn;
	int err = 0;

	t = pick_str(ev, XF_EVENT_TYPE, raw, sizeof(raw));
	tn = strlen(t);
	printable(type, t, tn, NAME_MAX_SD);
	gw_buf_reset(m);
	err |= gw_buf_addc(m, '<');
	err |=
	    gw_buf_addu(m, (unsigned)(s->facility * 8 + severity(ev, t, tn)));
	err |= gw_buf_add(m, ">1 ", 3);
	if (ev->ts_us > 0)
		err |= gw_buf_add(
		    m, ts, gw_rfc3339((uint64_t)ev->ts_us * 1000, ts));
	else
		err |= gw_buf_addc(m, '-');
	err |= gw_buf_addc(m, ' ');
	err |= gw_buf_adds(m, s->host);
	err |= gw_buf_addc(m, ' ');
	err |= gw_buf_adds(m, s->app);
	err |= gw_buf_add(m, " - ", 3); /* PROCID */
	err |= gw_buf_adds(m, type);
	err |= gw_buf_addc(m, ' ');
	err |= put_sd(s, m, ev, brief);
	err |= gw_buf_addc(m, ' ');
	if (s->bom)
		err |= gw_buf_add(m, "\xef\xbb\xbf", 3);
	return err ? -1 : 0;
}

static int
syslog_add(struct xenc *e, struct xbatch *b, const char *line, size_t len,
    const struct xevent *given)
{
	struct syslog_enc *s = (struct syslog_enc *)e;
	struct gw_buf *o = &b->body;
	struct xevent ev;
	size_t mark, room, frame;
	int err = 0;

	if (b->n >= e->max_events)
		return FMT_FULL;
	len = pick_trim(&line, len);
	if (!pick_utf8_ok(line, len)) {
		if (pick_utf8_fix(line, len, &s->fix) == -1)
			return -1;
		line = gw_buf_head(&s->fix);
		len = s->fix.len;
		given = NULL;
		e->counts.repaired++;
	}
	if (given != NULL)
		ev = *given;
	else if (pick_event(&ev, line, len) == -1)
		return -1;
	if (put_head(s, &ev, 0) == -1)
		return -1;
	if (s->msg.len + MIN_MSG > s->max_message) {
		if (put_head(s, &ev, 1) == -1)
			return -1;
		if (s->msg.len + MIN_MSG > s->max_message) {
			errno = EMSGSIZE;
			return -1;
		}
	}
	if (s->msg.len + len > s->max_message) {
		room = s->max_message - s->msg.len;
		if (pick_shrink(line, len, room, &s->shr) == -1)
			return -1;
		line = gw_buf_head(&s->shr);
		len = s->shr.len;
		e->counts.truncated++;
	}
	frame = s->msg.len + len;
	mark = o->len;
	err |= gw_buf_addu(o, frame);
	err |= gw_buf_addc(o, ' ');
	if (b->n > 0 && o->len + frame > e->max_bytes) {
		o->len = mark;
		return FMT_FULL;
	}
	err |= gw_json_raw(o, gw_buf_head(&s->msg), s->msg.len);
	err |= gw_json_raw(o, line, len);
	if (err) {
		o->len = mark;
		errno = ENOMEM;
		return -1;
	}
	b->n++;
	b->raw = o->len;
	return 0;
}

int
fmt_syslog_next(
    const struct xbatch *b, size_t *pos, const char **msg, size_t *len)
{
	const char *p = gw_buf_head(&b->body), *end = p + b->body.len;
	size_t n = 0;

	p += *pos;
	if (p >= end)
		return 0;
	while (p < end && *p >= '0' && *p <= '9')
		n = n * 10 + (size_t)(*p++ - '0');
	if (p >= end || *p != ' ' || n > (size_t)(end - p - 1))
		return 0; /* not a body we wrote */
	*msg = p + 1;
	*len = n;
	*pos = (size_t)(p + 1 + n - gw_buf_head(&b->body));
	return 1;
}

static int
syslog_end(struct xenc *e, struct xbatch *b)
{
	(void)e;
	b->raw = b->body.len;
	return 0;
}

static void
syslog_free(struct xenc *e)
{
	struct syslog_enc *s = (struct syslog_enc *)e;

	gw_buf_fini(&s->msg);
	gw_buf_fini(&s->fix);
	gw_buf_fini(&s->shr);
	gw_buf_fini(&s->tmp);
	free(s);
}

static const struct xenc_ops syslog_ops = {
	.add = syslog_add,
	.end = syslog_end,
	.free = syslog_free,
};

struct xenc *
fmt_syslog_new(const struct fmt_syslog_opts *opts, struct gw_error *err)
{
	const char *sd = opts->sd_id ? opts->sd_id : "gw@32473", *at;
	struct syslog_enc *s;
	char h[256];

	at = strchr(sd, '@');
	/* §6.3.2: a name of our own is name@<private enterprise number>. */
	if (!valid_sd_name(sd) || at == NULL || at == sd || at[1] == '\0' ||
	    strspn(at + 1, "0123456789.") != strlen(at + 1)) {
		gw_error_set(err, NULL, 0, 0,
		    "syslog: sd_id '%s' must be name@<enterprise number>, at "
		    "most 32 printable characters without '=', ']' or '\"'",
		    sd);
		errno = EINVAL;
		return NULL;
	}
	if (opts->facility < -1 || opts->facility > 23) {
		gw_error_set(err, NULL, 0, 0,
		    "syslog: facility must be 0..23, not %d", opts->facility);
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->base.ops = &syslog_ops;
	s->base.name = "syslog";
	s->base.content_type = NULL;
	s->base.max_events = opts->max_events ? opts->max_events : 100;
	s->base.max_bytes = opts->max_bytes ? opts->max_bytes : 1 << 20;
	s->facility = opts->facility < 0 ? 16 : opts->facility;
	s->udp = opts->udp;
	s->bom = opts->bom;
	s->max_message = opts->max_message;
	if (s->max_message == 0)
		s->max_message = s->udp ? 2048 : 8192;
	if (s->max_message < 480)
		s->max_message = 480; /* RFC 5426 §3.2, RFC 5425 §4.3.1 */
	if (s->udp && s->max_message > 65507)
		s->max_message = 65507;
	if (s->base.max_bytes < s->max_message + 8)
		s->base.max_bytes = s->max_message + 8;
	if (opts->hostname != NULL)
		printable(s->host, opts->hostname, strlen(opts->hostname), 255);
	else if (gethostname(h, sizeof(h)) == 0) {
		h[sizeof(h) - 1] = '\0';
		printable(s->host, h, strlen(h), 255);
	} else
		printable(s->host, "", 0, 255);
	printable(s->app, opts->app_name ? opts->app_name : "gw",
	    strlen(opts->app_name ? opts->app_name : "gw"), 48);
	memcpy(s->sd_id, sd, strlen(sd) + 1);
	gw_buf_init(&s->msg, 0);
	gw_buf_init(&s->fix, 0);
	gw_buf_init(&s->shr, 0);
	gw_buf_init(&s->tmp, 0);
	return &s->base;
}
