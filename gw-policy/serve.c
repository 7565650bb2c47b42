// SPDX-License-Identifier: MIT
/*
 * "gw-policy serve": the daemon gw-proxy asks (docs/PROTOCOL.md §8).  One
 * epoll loop accepts connections on a Unix socket (mode 0600), reads
 * question lines, evaluates each with the engine and queues the answer;
 * answers are written once per loop turn, before the loop waits, so a
 * burst of pipelined questions costs one write.  The policy file is
 * reloaded on SIGHUP and when it changes on disk (inotify on its folder,
 * so that editors that replace the file are seen too), atomically: a new
 * version that does not load is reported and the old one stays.  Each
 * load or rejection is an audit event on stdout.
 */
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "engine.h"
#include "event.h"
#include "gw-policy.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "ndjson.h"
#include "opts.h"
#include "sock.h"
#include "timeutil.h"

#define EX_OK       0
#define EX_USAGE    64
#define EX_SOFTWARE 70
#define EX_OSERR    71
#define EX_CONFIG   78

#define LINE_MAX_BYTES (1024 * 1024)      /* a question, headers included */
#define OUT_MAX        (16 * 1024 * 1024) /* answers queued per connection */
#define OUT_HIGH       (4 * 1024 * 1024)  /* stop reading above this */
#define READS_PER_TURN 16
#define DEBOUNCE_MS    100
#define FILE_MAX       (16 * 1024 * 1024)

struct sconf {
	char *socket;
	long long max_buckets;
	char *log_format;
	int help;
};

#define F(f, t) GW_OPT_FIELD(struct sconf, f, t)

static const struct gw_opt serve_optab[] = {
	{ .name = "socket",
	    .short_name = 's',
	    .type = GW_OPT_STR,
	    .offset = F(socket, char *),
	    .arg = "PATH",
	    .help = "Unix socket gw-proxy connects to (created mode 0600)" },
	{ .name = "max-buckets",
	    .type = GW_OPT_INT,
	    .offset = F(max_buckets, long long),
	    .arg = "N",
	    .help = "rate-limit buckets kept; the least recently used go "
	            "first",
	    .min = 1,
	    .max = 1000000000,
	    .def = "100000" },
	{ .name = "log-format",
	    .type = GW_OPT_STR,
	    .offset = F(log_format, char *),
	    .arg = "text|json",
	    .help = "format of the lines on stderr",
	    .custom = gw_log_opt_format,
	    .def = "text" },
	{ .name = "help",
	    .short_name = 'h',
	    .type = GW_OPT_FLAG,
	    .offset = F(help, int),
	    .help = "print this help and exit",
	    .flags = GW_OPT_EARLY },
	{ .name = NULL },
};

static const char synopsis[] =
    "gw-policy serve FILE --socket PATH [options]\n"
    "\n"
    "Answers gw-proxy's questions about each connection and request with\n"
    "the traffic policy in FILE.  SIGHUP, or saving FILE, reloads it; an\n"
    "invalid new version is reported and the old one stays in force.\n"
    "Audit events (policy_updated.v0, policy_rejected.v0) go to stdout.\n"
    "\n"
    "Exit status: 0 ok, 64 usage, 70 internal error, 71 cannot create the\n"
    "socket, 78 FILE is invalid.";

struct sconn {
	struct gw_io io;
	struct gw_lines in;
	struct gw_buf out;
	int paused; /* not reading until the answers drain */
	int said;   /* a bad question was logged for this connection */
	struct sconn *next, **prevp;
};

static struct {
	struct gw_loop *loop;
	struct engine *eng;
	const char *file;
	char *dir, *base;
	const char *sock;
	struct gw_io lio;
	struct gw_io iio;
	struct gw_timer debounce;
	struct sconn *conns;
	struct question q;
	struct gw_out ev;
	int has_rejected;
	uint8_t rejected[32];
	unsigned long nconns;
} S;

/* ---- audit events ---------------------------------------------------- */

static void
hex32(const uint8_t h[32], char out[65])
{
	static const char x[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = x[h[i] >> 4];
		out[2 * i + 1] = x[h[i] & 15];
	}
	out[64] = '\0';
}

/*
 * Writes an audit event for a load (<error> NULL, <rules> counted) or a
 * rejection, and flushes it at once: reloads are rare and a reader should
 * see them when they happen.
 */
static void
audit(const char *type, const char *source, const char *sha, const char *prev,
    size_t rules, const char *error)
{
	struct gw_buf obj;
	struct gw_buf *b;
	int r = 0;

	gw_buf_init(&obj, 0);
	r |= gw_buf_adds(&obj, "{\"file\":");
	r |= gw_json_cstr(&obj, S.file);
	r |= gw_buf_adds(&obj, ",\"sha256\":");
	r |= gw_json_cstr(&obj, sha);
	r |= gw_buf_adds(&obj, ",\"previous_sha256\":");
	r |= gw_json_cstr(&obj, prev);
	if (error == NULL) {
		r |= gw_buf_adds(&obj, ",\"rules\":");
		r |= gw_json_u64(&obj, rules);
	} else {
		r |= gw_buf_adds(&obj, ",\"error\":");
		r |= gw_json_cstr(&obj, error);
	}
	r |= gw_buf_addc(&obj, '}');
	r |= gw_buf_addc(&obj, '\0');
	if (r == 0) {
		b = gw_out_begin(&S.ev);
		(void)gw_out_end(&S.ev,
		    gw_event_audit(b, type, source, gw_buf_head(&obj), 0));
		if (gw_out_flush(&S.ev) == -1 && S.ev.error != EPIPE)
			gw_warn("stdout: %s", strerror(S.ev.error));
	}
	gw_buf_fini(&obj);
}

/* ---- loading ------------------------------------------------------------- */

static char *
read_file(const char *path, size_t *lenp)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	for (;;) {
		if (len + 1 >= cap) {
			char *nb;

			cap = cap ? cap * 2 : 4096;
			if (cap > FILE_MAX + 1) {
				errno = EFBIG;
				goto fail;
			}
			if ((nb = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	e = errno;
	close(fd);
	free(buf);
	errno = e;
	return NULL;
}

/* Prints every problem as file:line:col; returns the first error's text. */
static void
print_diags(const struct policy_errors *errs, char *first, size_t len)
{
	char msg[1024];
	size_t i;

	first[0] = '\0';
	for (i = 0; i < errs->n; i++) {
		gw_error_format(&errs->v[i].err, msg, sizeof(msg));
		if (errs->v[i].warning) {
			gw_warn("%s", msg);
			continue;
		}
		gw_error("%s", msg);
		if (first[0] == '\0')
			snprintf(first, len, "%s", msg);
	}
	if (errs->nerrors + errs->nwarnings > errs->n)
		gw_error("%s: %zu more problems not shown", S.file,
		    errs->nerrors + errs->nwarnings - errs->n);
}

static void send_hello(struct sconn *);

/*
 * Loads the policy file and puts it in force, or keeps the one in force.
 * <source> is the audit principal: cli, signal or file.  A change seen on
 * disk that leaves the bytes as they were (an editor saving twice) is
 * not a new version.  Returns 0 when a policy was put in force.
 */
static int
reload(const char *source)
{
	const struct policy *cur = engine_policy(S.eng);
	struct policy_errors errs;
	struct policy *p;
	unsigned char sha[32];
	unsigned int shalen = 0;
	char hex[65], prev[65], first[1024];
	unsigned old_phases = engine_phases(S.eng);
	struct sconn *c;
	size_t len;
	char *text;

	prev[0] = '\0';
	if (cur != NULL)
		snprintf(prev, sizeof(prev), "%s", cur->sha256_hex);
	if ((text = read_file(S.file, &len)) == NULL) {
		if (strcmp(source, "file") == 0 && errno == ENOENT)
			return -1; /* between an editor's unlink and rename */
		snprintf(
		    first, sizeof(first), "%s: %s", S.file, strerror(errno));
		gw_error("%s", first);
		if (cur == NULL)
			return -1; /* at start: nothing was in force */
		gw_error("keeping the policy in force (sha256 %s)", prev);
		audit("policy_rejected.v0", source, NULL, prev[0] ? prev : NULL,
		    0, first);
		return -1;
	}
	if (EVP_Digest(text, len, sha, &shalen, EVP_sha256(), NULL) != 1)
		memset(sha, 0, sizeof(sha));
	hex32(sha, hex);
	if (strcmp(source, "file") == 0 && cur != NULL &&
	    memcmp(sha, cur->sha256, 32) == 0) {
		/* Saved again as it was, or put back after a rejection. */
		if (S.has_rejected)
			gw_info("%s: back to the policy in force (sha256 %s)",
			    S.file, hex);
		S.has_rejected = 0;
		free(text);
		return -1;
	}
	if (strcmp(source, "file") == 0 && S.has_rejected &&
	    memcmp(sha, S.rejected, 32) == 0) {
		free(text);
		return -1;
	}
	policy_errors_init(&errs);
	p = policy_parse(S.file, text, len, &errs);
	free(text);
	print_diags(&errs, first, sizeof(first));
	policy_errors_fini(&errs);
	if (p != NULL && engine_set_policy(S.eng, p) == -1) {
		policy_free(p);
		p = NULL;
		snprintf(first, sizeof(first), "%s: out of memory", S.file);
		gw_error("%s", first);
	}
	if (p == NULL) {
		if (first[0] == '\0')
			snprintf(
			    first, sizeof(first), "%s: invalid policy", S.file);
		if (cur == NULL)
			return -1;
		gw_error("%s rejected; keeping the policy in force (sha256 %s)",
		    S.file, prev);
		memcpy(S.rejected, sha, 32);
		S.has_rejected = 1;
		audit("policy_rejected.v0", source, hex, prev[0] ? prev : NULL,
		    0, first);
		return -1;
	}
	S.has_rejected = 0;
	gw_info("%s: %zu rule%s in force (sha256 %s)", S.file, p->nrules,
	    p->nrules == 1 ? "" : "s", hex);
	audit("policy_updated.v0", source, hex, prev[0] ? prev : NULL,
	    p->nrules, NULL);
	if (engine_phases(S.eng) != old_phases)
		for (c = S.conns; c != NULL; c = c->next)
			send_hello(c);
	return 0;
}

static void
on_debounce(struct gw_loop *loop, struct gw_timer *t)
{
	(void)loop;
	(void)t;
	(void)reload("file");
}

static void
on_inotify(struct gw_loop *loop, struct gw_io *io, int events)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;
	int hit = 0;

	(void)events;
	for (;;) {
		n = read(io->fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if ((ev->mask & IN_Q_OVERFLOW) ||
			    (ev->len > 0 && strcmp(ev->name, S.base) == 0))
				hit = 1;
		}
	}
	/* Editors write in several steps: load once they are done. */
	if (hit)
		(void)gw_timer_set(loop, &S.debounce, DEBOUNCE_MS);
}

static int
watch_start(void)
{
	const char *slash = strrchr(S.file, '/');
	int fd;

	if (slash == NULL) {
		S.dir = strdup(".");
		S.base = strdup(S.file);
	} else {
		S.dir = slash == S.file
		    ? strdup("/")
		    : strndup(S.file, (size_t)(slash - S.file));
		S.base = strdup(slash + 1);
	}
	if (S.dir == NULL || S.base == NULL)
		return -1;
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	if (inotify_add_watch(
	        fd, S.dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) == -1) {
		close(fd);
		return -1;
	}
	gw_io_init(&S.iio, fd, on_inotify, NULL);
	if (gw_io_set(S.loop, &S.iio, GW_READ) == -1) {
		close(fd);
		S.iio.fd = -1;
		return -1;
	}
	return 0;
}

/* ---- connections --------------------------------------------------------- */

static void
conn_close(struct sconn *c)
{
	gw_io_stop(S.loop, &c->io);
	close(c->io.fd);
	*c->prevp = c->next;
	if (c->next != NULL)
		c->next->prevp = c->prevp;
	gw_lines_fini(&c->in);
	gw_buf_fini(&c->out);
	free(c);
	S.nconns--;
}

static void
send_hello(struct sconn *c)
{
	unsigned ph = engine_phases(S.eng);
	size_t mark = c->out.len;
	int i, r = 0, first = 1;

	r |= gw_buf_adds(&c->out, "{\"hello\":\"gw-policy\",\"phases\":[");
	for (i = 0; i < POLICY_NPHASES; i++) {
		if (!(ph & (1u << i)))
			continue;
		if (!first)
			r |= gw_buf_addc(&c->out, ',');
		first = 0;
		r |= gw_json_cstr(
		    &c->out, policy_phase_name((enum policy_phase)i));
	}
	r |= gw_buf_adds(&c->out, "]}\n");
	if (r != 0)
		c->out.len = mark;
}

/* One question: evaluate and queue the answer.  -1 closes the connection. */
static int
answer(struct sconn *c, const char *line, size_t len)
{
	struct policy_req req;
	const struct engine_decision *d;
	uint64_t id;
	int rc;

	rc = question_parse(&S.q, line, len, &id, &req);
	if (rc != 0) {
		/* gw-proxy times the question out and fails closed. */
		if (!c->said++)
			gw_warn("a question was refused (%s); further bad "
			        "questions on this connection are not logged",
			    S.q.err);
		return 0;
	}
	if (req.now_ns == 0)
		req.now_ns = (int64_t)gw_now_ns();
	req.req_header_ns = req.now_ns;
	d = engine_eval(S.eng, &req);
	if (engine_answer(d, id, &c->out) == -1 ||
	    gw_buf_addc(&c->out, '\n') == -1) {
		gw_warn("answers for a gw-proxy connection pile up unread; "
		        "closing it");
		return -1;
	}
	return 0;
}

static void
conn_io(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct sconn *c = io->arg;
	enum gw_line_status st;
	const char *line;
	size_t len;
	ssize_t n;
	int i;

	/* GW_WRITE only wakes the loop: the before-wait hook writes. */
	(void)loop;
	if (!(events & GW_READ) || c->paused)
		return;
	for (i = 0; i < READS_PER_TURN && c->out.len < OUT_HIGH; i++) {
		n = gw_lines_read(&c->in, io->fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1 && errno != ENOBUFS) {
			conn_close(c);
			return;
		}
		for (;;) {
			st = gw_lines_next(&c->in, &line, &len);
			if (st == GW_LINE_OK) {
				if (answer(c, line, len) == -1) {
					conn_close(c);
					return;
				}
				continue;
			}
			if (st == GW_LINE_TOO_LONG) {
				gw_warn("a question over %d bytes was skipped",
				    LINE_MAX_BYTES);
				continue;
			}
			break;
		}
		if (n == 0 || st == GW_LINE_EOF || st == GW_LINE_PARTIAL) {
			/* gw-proxy left; answers it cannot read are moot. */
			conn_close(c);
			return;
		}
	}
}

static void
on_accept(struct gw_loop *loop, struct gw_io *io, int events)
{
	struct gw_addr peer;
	struct sconn *c;
	int fd;

	(void)events;
	for (;;) {
		fd = gw_accept(io->fd, &peer);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				gw_warn("accept on %s: %s", S.sock,
				    strerror(errno));
			return;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    gw_lines_init(&c->in, LINE_MAX_BYTES) == -1) {
			gw_warn("out of memory for a new connection");
			free(c);
			close(fd);
			continue;
		}
		gw_buf_init(&c->out, OUT_MAX);
		gw_io_init(&c->io, fd, conn_io, c);
		c->next = S.conns;
		if (c->next != NULL)
			c->next->prevp = &c->next;
		c->prevp = &S.conns;
		S.conns = c;
		S.nconns++;
		send_hello(c);
		if (gw_io_set(loop, &c->io, GW_READ) == -1)
			conn_close(c);
	}
}

/*
 * Before each wait: write what every connection has queued.  A full
 * socket gets GW_WRITE interest and stops being read, so a gw-proxy that
 * does not read its answers cannot make gw-policy's memory grow.
 */
static void
flush_all(struct gw_loop *loop, void *arg)
{
	struct sconn *c, *next;
	ssize_t n;
	int mask;

	(void)arg;
	for (c = S.conns; c != NULL; c = next) {
		next = c->next;
		while (c->out.len > 0) {
			n = send(c->io.fd, gw_buf_head(&c->out), c->out.len,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				break;
			gw_buf_consume(&c->out, (size_t)n);
		}
		if (c->out.len > 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_close(c);
			continue;
		}
		c->paused = c->out.len >= OUT_HIGH;
		mask = (c->paused ? 0 : GW_READ) | (c->out.len ? GW_WRITE : 0);
		if (gw_io_set(loop, &c->io, mask) == -1)
			conn_close(c);
	}
}

/* ---- signals, setup ------------------------------------------------------ */

static void
on_stop(struct gw_loop *loop, int signo, void *arg)
{
	(void)arg;
	gw_info("%s: stopping", strsignal(signo));
	gw_loop_stop(loop);
}

static void
on_hup(struct gw_loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	(void)arg;
	(void)reload("signal");
}

/*
 * Parses flags placed before and after FILE ("serve FILE --socket P" and
 * "serve --socket P FILE" both work).  Returns 0, 1 for --help, or -1.
 */
static int
parse_args(int argc, char **argv, struct sconf *c, const char **file)
{
	struct gw_error err;
	char msg[600];
	int oi = 0, oi2;

	memset(&err, 0, sizeof(err));
	if (gw_opts_init(serve_optab, c, &err) == -1 ||
	    gw_opts_parse_argv(serve_optab, c, argc, argv, &oi, &err) == -1)
		goto bad;
	if (c->help)
		return 1;
	if (oi < argc) {
		*file = argv[oi];
		if (gw_opts_parse_argv(
		        serve_optab, c, argc - oi, argv + oi, &oi2, &err) == -1)
			goto bad;
		if (c->help)
			return 1;
		if (oi + oi2 < argc) {
			gw_error(
			    "serve: unexpected argument '%s'", argv[oi + oi2]);
			return -1;
		}
	}
	if (*file == NULL || c->socket == NULL) {
		gw_error("serve: %s is required",
		    *file == NULL ? "the policy FILE" : "--socket PATH");
		return -1;
	}
	return 0;
bad:
	gw_error_format(&err, msg, sizeof(msg));
	gw_error("serve: %s", msg);
	return -1;
}

int
serve_main(int argc, char **argv)
{
	struct sconf conf;
	const char *file = NULL;
	int rc = EX_OK, lfd;

	gw_log_init(POLICY_NAME);
	memset(&conf, 0, sizeof(conf));
	memset(&S, 0, sizeof(S));
	S.lio.fd = S.iio.fd = -1;
	switch (parse_args(argc, argv, &conf, &file)) {
	case 1:
		gw_opts_usage(stdout, synopsis, serve_optab);
		gw_opts_free(serve_optab, &conf);
		return EX_OK;
	case -1:
		fprintf(stderr,
		    "usage: gw-policy serve FILE --socket PATH; "
		    "see gw-policy serve --help\n");
		gw_opts_free(serve_optab, &conf);
		return EX_USAGE;
	}
	gw_log_apply(NULL, conf.log_format);
	(void)signal(SIGPIPE, SIG_IGN);
	S.file = file;
	S.sock = conf.socket;
	question_init(&S.q);
	gw_out_init(&S.ev, STDOUT_FILENO, 1024 * 1024);
	gw_timer_init(&S.debounce, on_debounce, NULL);
	if ((S.loop = gw_loop_new()) == NULL ||
	    (S.eng = engine_new((size_t)conf.max_buckets)) == NULL) {
		gw_error("out of memory");
		rc = EX_SOFTWARE;
		goto out;
	}
	if (reload("cli") == -1) {
		rc = EX_CONFIG;
		goto out;
	}
	if ((lfd = gw_listen_unix(S.sock, 0600, 128)) == -1) {
		gw_error("socket %s: %s", S.sock, strerror(errno));
		rc = EX_OSERR;
		goto out;
	}
	gw_io_init(&S.lio, lfd, on_accept, NULL);
	if (gw_io_set(S.loop, &S.lio, GW_READ) == -1 ||
	    gw_loop_signal(S.loop, SIGTERM, on_stop, NULL) == -1 ||
	    gw_loop_signal(S.loop, SIGINT, on_stop, NULL) == -1 ||
	    gw_loop_signal(S.loop, SIGHUP, on_hup, NULL) == -1) {
		gw_error("event loop: %s", strerror(errno));
		rc = EX_OSERR;
		goto out;
	}
	if (watch_start() == -1)
		gw_warn("%s: not watched for changes (%s); SIGHUP reloads it",
		    S.file, strerror(errno));
	gw_loop_before_wait(S.loop, flush_all, NULL);
	gw_info("serving %s on %s", S.file, S.sock);
	if (gw_loop_run(S.loop) == -1) {
		gw_error("event loop: %s", strerror(errno));
		rc = EX_OSERR;
	}
out:
	/* Answers already decided still go out, as far as sockets take them. */
	if (S.loop != NULL)
		flush_all(S.loop, NULL);
	while (S.conns != NULL)
		conn_close(S.conns);
	if (S.lio.fd != -1) {
		gw_io_stop(S.loop, &S.lio);
		close(S.lio.fd);
		(void)unlink(S.sock);
	}
	if (S.iio.fd != -1) {
		gw_io_stop(S.loop, &S.iio);
		close(S.iio.fd);
	}
	if (S.loop != NULL)
		gw_timer_stop(S.loop, &S.debounce);
	(void)gw_out_flush(&S.ev);
	gw_out_fini(&S.ev);
	question_fini(&S.q);
	engine_free(S.eng);
	gw_loop_free(S.loop);
	free(S.dir);
	free(S.base);
	gw_opts_free(serve_optab, &conf);
	return rc;
}
