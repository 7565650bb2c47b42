// SPDX-License-Identifier: MIT
/*
 * Table-driven tests of the CEL engine (gw-policy/cel*.c): each row is an
 * expression and what it must give — a value written in CEL syntax, a
 * compile error (column and part of the message) or a run-time error —
 * evaluated against a small environment shaped like the policy engine's
 * (req.method, req.headers, conn.client_ip, vars.*, a host function).
 * Then the promises around the table: a warm arena allocates nothing,
 * errors never crash, the JSON and string forms, the host API.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "harness.h"

#include "../../gw-policy/cel.h"

enum {
	V_METHOD = 1,
	V_HEADERS,
	V_CLIENT_IP,
	V_URL,
	V_URL_PATH,
	V_URL_PORT,
	V_VARS,
	V_TS_START,
	V_STATUS,
	V_BROKEN,
	V_QUERY,
	V_BODY
};

static const struct cel_value ua_vals[] = { { .type = CEL_STRING,
    .s = { "curl/8.0", 8 } } };
static const struct cel_value key_vals[] = {
	{ .type = CEL_STRING, .s = { "k1", 2 } },
	{ .type = CEL_STRING, .s = { "k2", 2 } },
};
static const struct cel_value accept_vals[] = { { .type = CEL_STRING,
    .s = { "*/*", 3 } } };
static const struct cel_map_entry headers[] = {
	{ { .type = CEL_STRING, .s = { "user-agent", 10 } },
	    { .type = CEL_LIST, .list = { ua_vals, 1 } } },
	{ { .type = CEL_STRING, .s = { "x-api-key", 9 } },
	    { .type = CEL_LIST, .list = { key_vals, 2 } } },
	{ { .type = CEL_STRING, .s = { "accept", 6 } },
	    { .type = CEL_LIST, .list = { accept_vals, 1 } } },
};
static const struct cel_value list_vals[] = {
	{ .type = CEL_INT, .i = 1 },
	{ .type = CEL_STRING, .s = { "two", 3 } },
};
static const struct cel_map_entry vars_map[] = {
	{ { .type = CEL_STRING, .s = { "tier", 4 } },
	    { .type = CEL_STRING, .s = { "gold", 4 } } },
	{ { .type = CEL_STRING, .s = { "n", 1 } },
	    { .type = CEL_INT, .i = 3 } },
	{ { .type = CEL_STRING, .s = { "flag", 4 } },
	    { .type = CEL_BOOL, .b = 1 } },
	{ { .type = CEL_STRING, .s = { "list", 4 } },
	    { .type = CEL_LIST, .list = { list_vals, 2 } } },
};

static const char body[] = "{\"user\":{\"id\":42,\"roles\":[\"admin\"]}}";

/* The host: what the policy engine would hand the resolver. */
struct host {
	int absent_port;
	uint64_t seed;
	unsigned long resolves;
};

static int
resolve(void *h, int id, struct cel_value *out, struct cel_arena *a)
{
	struct host *host = h;

	(void)a;
	host->resolves++;
	switch (id) {
	case V_METHOD:
		*out = cel_str("GET", 3);
		return 0;
	case V_HEADERS:
		*out = cel_map(headers, 3);
		return 0;
	case V_CLIENT_IP:
		*out = cel_str("10.1.2.3", 8);
		return 0;
	case V_URL:
		*out = cel_str("https://example.com/api/v1?x=1", 30);
		return 0;
	case V_URL_PATH:
		*out = cel_str("/api/v1", 7);
		return 0;
	case V_URL_PORT:
		if (host->absent_port)
			return 1;
		*out = cel_int(8443);
		return 0;
	case V_VARS:
		*out = cel_map(vars_map, 4);
		return 0;
	case V_TS_START:
		/* 2024-03-10T12:34:56.789Z, a Sunday */
		*out = cel_timestamp(1710074096789000000LL);
		return 0;
	case V_STATUS:
		*out = cel_int(200);
		return 0;
	case V_QUERY:
		*out = cel_str("a=1&b=2&a=3", 11);
		return 0;
	case V_BODY:
		*out = cel_str(body, strlen(body));
		return 0;
	default:
		return -1;
	}
}

/* getReqHeader(name): header values, the name matched without case. */
static int
get_req_header(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	size_t i;

	(void)data;
	(void)nargs;
	for (i = 0; i < 3; i++)
		if (headers[i].key.s.len == args[0].s.len &&
		    strncasecmp(headers[i].key.s.ptr, args[0].s.ptr,
		        args[0].s.len) == 0) {
			*out = headers[i].val;
			return 0;
		}
	if (args[0].s.len == 5 && memcmp(args[0].s.ptr, "crash", 5) == 0)
		return cel_ctx_error(ctx, "host says no");
	*out = cel_list(NULL, 0);
	return 0;
}

static int
has_req_header(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	struct cel_value l;

	if (get_req_header(ctx, data, args, nargs, &l) == -1)
		return -1;
	*out = cel_bool(l.list.len > 0);
	return 0;
}

/* A host method, to test that style: 'a'.shout() == 'A!'. */
static int
shout(struct cel_ctx *ctx, void *data, const struct cel_value *args,
    size_t nargs, struct cel_value *out)
{
	char *p;
	size_t i;

	(void)nargs;
	CHECK(data == (void *)&shout);
	if ((p = cel_arena_alloc(ctx->arena, args[0].s.len + 1)) == NULL)
		return cel_ctx_error(ctx, "out of memory");
	for (i = 0; i < args[0].s.len; i++)
		p[i] = (char)(args[0].s.ptr[i] >= 'a' && args[0].s.ptr[i] <= 'z'
		        ? args[0].s.ptr[i] - 32
		        : args[0].s.ptr[i]);
	p[i] = '!';
	*out = cel_str(p, i + 1);
	return 0;
}

static uint64_t
test_random(void *h)
{
	struct host *host = h;

	host->seed =
	    host->seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return host->seed;
}

static struct cel_env *
test_env(void)
{
	struct cel_env *env = cel_env_new();

	CHECK(env != NULL);
	CHECK(cel_env_var(env, "req.method", "string", V_METHOD) == 0);
	CHECK(cel_env_var(env, "req.headers", "map(string, list(string))",
	          V_HEADERS) == 0);
	CHECK(cel_env_var(env, "conn.client_ip", "string", V_CLIENT_IP) == 0);
	CHECK(cel_env_var(env, "req.url", "string", V_URL) == 0);
	CHECK(cel_env_var(env, "req.url.path", "string", V_URL_PATH) == 0);
	CHECK(cel_env_var(env, "req.url.port", "int", V_URL_PORT) == 0);
	CHECK(cel_env_var(env, "vars", "map(string, dyn)", V_VARS) == 0);
	CHECK(cel_env_var(env, "conn.ts.start", "timestamp", V_TS_START) == 0);
	CHECK(cel_env_var(env, "res.status_code", "int", V_STATUS) == 0);
	CHECK(cel_env_var(env, "req.broken", "string", V_BROKEN) == 0);
	CHECK(cel_env_var(env, "req.url.query", "string", V_QUERY) == 0);
	CHECK(cel_env_var(env, "req.body", "dyn", V_BODY) == 0);
	CHECK(cel_env_func(env, "list(string) getReqHeader(string)",
	          get_req_header, NULL) == 0);
	CHECK(cel_env_func(
	          env, "bool hasReqHeader(string)", has_req_header, NULL) == 0);
	CHECK(cel_env_func(
	          env, "string string.shout()", shout, (void *)&shout) == 0);
	return env;
}

/* Writes a value in CEL syntax, the form the table's expectations use. */
static void
repr(struct gw_buf *b, const struct cel_value *v)
{
	char tmp[64];
	size_t i;
	struct cel_arena a;
	struct cel_value s;

	switch (v->type) {
	case CEL_NULL:
		gw_buf_adds(b, "null");
		break;
	case CEL_BOOL:
		gw_buf_adds(b, v->b ? "true" : "false");
		break;
	case CEL_INT:
		gw_buf_printf(b, "%" PRId64, v->i);
		break;
	case CEL_UINT:
		gw_buf_printf(b, "%" PRIu64 "u", v->u);
		break;
	case CEL_DOUBLE:
	case CEL_TIMESTAMP:
	case CEL_DURATION:
		cel_arena_init(&a, 0);
		CHECK(cel_value_to_string(v, &a, &s) == 0);
		snprintf(tmp, sizeof(tmp), "%.*s", (int)s.s.len, s.s.ptr);
		cel_arena_fini(&a);
		if (v->type == CEL_TIMESTAMP)
			gw_buf_printf(b, "timestamp(\"%s\")", tmp);
		else if (v->type == CEL_DURATION)
			gw_buf_printf(b, "duration(\"%s\")", tmp);
		else if (strpbrk(tmp, ".eIN") == NULL)
			gw_buf_printf(b, "%s.0", tmp);
		else
			gw_buf_adds(b, tmp);
		break;
	case CEL_STRING:
	case CEL_BYTES:
		gw_buf_adds(b, v->type == CEL_BYTES ? "b\"" : "\"");
		for (i = 0; i < v->s.len; i++) {
			unsigned char ch = (unsigned char)v->s.ptr[i];

			if (ch == '"' || ch == '\\')
				gw_buf_printf(b, "\\%c", ch);
			else if (ch < 0x20 || ch == 0x7f ||
			    (ch >= 0x80 && v->type == CEL_BYTES))
				gw_buf_printf(b, "\\x%02x", ch);
			else
				gw_buf_addc(b, (char)ch);
		}
		gw_buf_addc(b, '"');
		break;
	case CEL_LIST:
		gw_buf_addc(b, '[');
		for (i = 0; i < v->list.len; i++) {
			if (i)
				gw_buf_adds(b, ", ");
			repr(b, &v->list.items[i]);
		}
		gw_buf_addc(b, ']');
		break;
	case CEL_MAP:
		gw_buf_addc(b, '{');
		for (i = 0; i < v->map.len; i++) {
			if (i)
				gw_buf_adds(b, ", ");
			repr(b, &v->map.entries[i].key);
			gw_buf_adds(b, ": ");
			repr(b, &v->map.entries[i].val);
		}
		gw_buf_addc(b, '}');
		break;
	case CEL_TYPE:
		gw_buf_printf(b, "type(%s)", cel_type_name(v->t));
		break;
	default:
		gw_buf_adds(b, "?");
		break;
	}
}

/*
 * A row: the expression and what it gives.  <want> is a value in CEL
 * syntax, "!COL: text" for a compile error at column COL whose message
 * contains text, or "!run: text" for a run-time error.
 */
struct row {
	const char *expr;
	const char *want;
};

static const struct row rows[] = {
#include "test_cel_rows.h"
};

static int
run_row(const struct cel_env *env, const struct row *r, struct cel_arena *a,
    struct host *host)
{
	struct cel_program *prog;
	struct cel_error err;
	struct cel_ctx ctx;
	struct cel_value v;
	struct gw_buf b;
	char want[64];
	int ok = 1, col;

	prog = cel_compile(env, r->expr, strlen(r->expr), &err);
	if (r->want[0] == '!' && r->want[1] != 'r') {
		col = atoi(r->want + 1);
		if (prog != NULL || err.col != col ||
		    strstr(err.msg, strchr(r->want, ':') + 2) == NULL) {
			fprintf(stderr,
			    "%s: want compile error %s, got %s%d: %s\n",
			    r->expr, r->want, prog ? "success " : "", err.col,
			    err.msg);
			ok = 0;
		}
		cel_program_free(prog);
		return ok;
	}
	if (prog == NULL) {
		fprintf(stderr, "%s: compile error %d: %s\n", r->expr, err.col,
		    err.msg);
		return 0;
	}
	cel_arena_reset(a);
	cel_ctx_init(&ctx, a, host, resolve);
	ctx.random = test_random;
	if (cel_eval(prog, &ctx, &v) == -1) {
		if (strncmp(r->want, "!run: ", 6) != 0 ||
		    strstr(ctx.errmsg, r->want + 6) == NULL) {
			fprintf(stderr, "%s: want %s, got error: %s\n", r->expr,
			    r->want, ctx.errmsg);
			ok = 0;
		}
		cel_program_free(prog);
		return ok;
	}
	gw_buf_init(&b, 0);
	repr(&b, &v);
	gw_buf_addc(&b, '\0');
	if (strcmp(gw_buf_head(&b), r->want) != 0) {
		snprintf(want, sizeof(want), "%s", r->want);
		fprintf(stderr, "%s: want %s, got %s\n", r->expr, want,
		    gw_buf_head(&b));
		ok = 0;
	}
	gw_buf_fini(&b);
	cel_program_free(prog);
	return ok;
}

static int nrows_ok, nrows;

TEST(table)
{
	struct cel_env *env = test_env();
	struct cel_arena a;
	struct host host = { 1, 42, 0 };
	size_t i;

	cel_arena_init(&a, 1 << 20);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		nrows++;
		if (run_row(env, &rows[i], &a, &host))
			nrows_ok++;
		else
			harness_failed_checks++;
	}
	fprintf(stderr, "test_cel: %d of %d rows pass\n", nrows_ok, nrows);
	cel_arena_fini(&a);
	cel_env_free(env);
}

static struct cel_program *
compile(const struct cel_env *env, const char *src)
{
	struct cel_error err;
	struct cel_program *prog;

	prog = cel_compile(env, src, strlen(src), &err);
	if (prog == NULL)
		fprintf(stderr, "%s: %d: %s\n", src, err.col, err.msg);
	return prog;
}

/* The promise behind "evaluated without allocating per request". */
TEST(warm_arena_allocates_nothing)
{
	static const char rule[] =
	    "req.method == 'GET' && hasReqHeader('x-api-key') && "
	    "getReqHeader('X-Api-Key').exists(k, k.startsWith('k')) && "
	    "!inCidrRanges(conn.client_ip, ['192.168.0.0/16', '172.16.0.0/12']) "
	    "&& req.url.path.matches('^/api/v[0-9]+') && "
	    "req.url.path.matches(vars.tier.substring(0, 0) + '^/api') && "
	    "vars.tier + '-' + string(res.status_code) == 'gold-200' && "
	    "req.headers.filter(h, h.startsWith('x-')).size() == 1 && "
	    "'X-Api-Key'.lowerAscii() in req.headers && "
	    "conn.ts.start.getHours() == 12 && "
	    "[1, 2, 3].map(x, x * 2)[2] == 6 && "
	    "conn.ts.start.getHours('Europe/Berlin') == 13 && "
	    "conn.ts.start.getHours(vars.tier == 'gold' ? 'America/New_York' "
	    ": 'UTC') == 8 && "
	    "'%s-%d-%.1f-%x'.format([vars.tier, vars.n, 1.25, vars.n * 85]) == "
	    "'gold-3-1.2-ff' && "
	    "[3, 1, 2].sortBy(x, -x * vars.n)[0] == 3 && "
	    "[vars.n, 1, 2].sort()[2] == 3 && "
	    "[vars.n, vars.n, 1].distinct().size() == 2 && "
	    "{'b': vars.tier, 'a': 'x y'}.encodeQueryString() == 'a=x+y&b=gold' "
	    "&& vars.tier.upper() == 'GOLD' && vars.tier.crc32().size() == 8 && "
	    "[[vars.n], [1]].flatten().size() == 2";
	struct cel_env *env = test_env();
	struct cel_program *prog = compile(env, rule);
	struct host host = { 1, 42, 0 };
	struct cel_arena a;
	struct cel_ctx ctx;
	struct cel_value v;
	unsigned long grows;
	struct mallinfo2 before, after;
	int i, ok = 1;

	CHECK(prog != NULL);
	if (prog == NULL) {
		cel_env_free(env);
		return;
	}
	CHECK(cel_program_type(prog) == CEL_BOOL);
	cel_arena_init(&a, 0);
	cel_ctx_init(&ctx, &a, &host, resolve);
	CHECK(cel_eval(prog, &ctx, &v) == 0 && v.type == CEL_BOOL && v.b);
	cel_arena_reset(&a);
	CHECK(cel_eval(prog, &ctx, &v) == 0);
	grows = a.grows;
	before = mallinfo2();
	for (i = 0; i < 1000; i++) {
		cel_arena_reset(&a);
		if (cel_eval(prog, &ctx, &v) != 0 || v.type != CEL_BOOL || !v.b)
			ok = 0;
	}
	after = mallinfo2();
	CHECK(ok);
	CHECK(a.grows == grows);
	/* Under ASan mallinfo2() reports nothing, which compares equal. */
	CHECK(after.uordblks == before.uordblks);
	CHECK(after.hblkhd == before.hblkhd);
	cel_arena_fini(&a);
	cel_program_free(prog);
	cel_env_free(env);
}

/* Constant lists and calls are built at compile time, not per request. */
TEST(constants_are_folded)
{
	struct cel_env *env = test_env();
	struct cel_program *prog;
	struct host host = { 1, 42, 0 };
	struct cel_arena a;
	struct cel_ctx ctx;
	struct cel_value v, w;

	prog = compile(env,
	    "conn.client_ip in ['1.1.1.1', '10.1.2.3'] && "
	    "conn.ts.start > timestamp('2024-01-01T00:00:00Z') "
	    "&& duration('1h') > duration('30m')");
	CHECK(prog != NULL);
	cel_arena_init(&a, 0);
	cel_ctx_init(&ctx, &a, &host, resolve);
	CHECK(cel_eval(prog, &ctx, &v) == 0 && v.type == CEL_BOOL && v.b);
	CHECK(a.grows == 0 && a.head == NULL);
	cel_program_free(prog);

	prog = compile(env, "['a', 'b'] + ['c']");
	CHECK(cel_eval(prog, &ctx, &v) == 0 && cel_eval(prog, &ctx, &w) == 0);
	CHECK(v.type == CEL_LIST && v.list.len == 3);
	CHECK(v.list.items == w.list.items);
	CHECK(a.grows == 0);
	cel_program_free(prog);
	cel_arena_fini(&a);
	cel_env_free(env);
}

TEST(program_types)
{
	static const struct {
		const char *src;
		enum cel_type t;
	} cases[] = {
		{ "req.method == 'GET'", CEL_BOOL },
		{ "vars.tier", CEL_DYN },
		{ "vars.flag && true", CEL_BOOL },
		{ "1 + 1", CEL_INT },
		{ "req.headers['accept']", CEL_LIST },
		{ "req.headers", CEL_MAP },
		{ "req.headers['accept'][0]", CEL_STRING },
		{ "getReqHeader('a')[0]", CEL_STRING },
		{ "conn.ts.start", CEL_TIMESTAMP },
		{ "json.decode('{}')", CEL_DYN },
		{ "dyn(1)", CEL_DYN },
		{ "true ? 1 : 'a'", CEL_DYN },
		{ "[1, 2].map(x, x * 2)[0]", CEL_INT },
		{ "url.parse('/').path", CEL_DYN },
		{ "'a,b'.split(',')[0]", CEL_STRING },
	};
	struct cel_env *env = test_env();
	struct cel_program *prog;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		prog = compile(env, cases[i].src);
		CHECK(prog != NULL);
		if (prog == NULL)
			continue;
		if (cel_program_type(prog) != cases[i].t) {
			fprintf(stderr, "%s: type %s\n", cases[i].src,
			    cel_type_name(cel_program_type(prog)));
			CHECK(cel_program_type(prog) == cases[i].t);
		}
		cel_program_free(prog);
	}
	cel_env_free(env);
}

/* The resolver decides presence: has() and the error it gives. */
TEST(absent_variables)
{
	struct cel_env *env = test_env();
	struct cel_program *p1, *p2;
	struct host host = { 0, 42, 0 };
	struct cel_arena a;
	struct cel_ctx ctx;
	struct cel_value v;

	p1 = compile(env, "has(req.url.port) ? req.url.port : 443");
	p2 = compile(env, "req.url.port");
	cel_arena_init(&a, 0);
	cel_ctx_init(&ctx, &a, &host, resolve);
	CHECK(cel_eval(p1, &ctx, &v) == 0 && v.type == CEL_INT && v.i == 8443);
	host.absent_port = 1;
	CHECK(cel_eval(p1, &ctx, &v) == 0 && v.type == CEL_INT && v.i == 443);
	CHECK(cel_eval(p2, &ctx, &v) == -1);
	CHECK_STREQ(ctx.errmsg, "no such attribute: 'req.url.port'");
	/* Without a resolver every variable is an error, never a crash. */
	cel_ctx_init(&ctx, &a, NULL, NULL);
	CHECK(cel_eval(p2, &ctx, &v) == -1);
	CHECK(cel_eval(p1, &ctx, &v) == -1);
	cel_program_free(p1);
	cel_program_free(p2);
	cel_arena_fini(&a);
	cel_env_free(env);
}

TEST(env_declarations)
{
	struct cel_env *env = test_env();

	errno = 0;
	CHECK(cel_env_var(env, "req.method", "string", 99) == -1 &&
	    errno == EEXIST);
	CHECK(cel_env_var(env, "x", "strin", 1) == -1 && errno == EINVAL);
	CHECK(cel_env_var(env, "x", "map(string)", 1) == -1 && errno == EINVAL);
	CHECK(cel_env_var(env, "x", "list(int) x", 1) == -1 && errno == EINVAL);
	CHECK(cel_env_var(env, "a..b", "int", 1) == -1 && errno == EINVAL);
	CHECK(cel_env_var(env, ".a", "int", 1) == -1 && errno == EINVAL);
	CHECK(cel_env_var(env, "a-b", "int", 1) == -1 && errno == EINVAL);
	CHECK(cel_env_var(env, "1a", "int", 1) == -1 && errno == EINVAL);
	CHECK(cel_env_var(env, "", "int", 1) == -1 && errno == EINVAL);
	CHECK(cel_env_var(env, "a.b_c.d1", "list(map(string, int))", 1) == 0);
	CHECK(cel_env_func(env, "bool size(string)", shout, NULL) == -1 &&
	    errno == EEXIST);
	CHECK(
	    cel_env_func(env, "bool hasReqHeader(string)", shout, NULL) == -1 &&
	    errno == EEXIST);
	CHECK(
	    cel_env_func(env, "bool f(", shout, NULL) == -1 && errno == EINVAL);
	CHECK(cel_env_func(env, "bool f(nope)", shout, NULL) == -1 &&
	    errno == EINVAL);
	CHECK(cel_env_func(env, "f()", shout, NULL) == -1 && errno == EINVAL);
	CHECK(cel_env_func(
	          env, "bool f(int, int, int, int, int)", shout, NULL) == -1 &&
	    errno == EINVAL);
	CHECK(
	    cel_env_func(env, "bool f()", NULL, NULL) == -1 && errno == EINVAL);
	CHECK(cel_env_func(env, "string ns.deep.f(string, dyn)", shout, NULL) ==
	    0);
	CHECK(cel_env_func(env, "int list(string).count()", shout, NULL) == 0);
	cel_env_free(env);
}

TEST(deep_nesting_is_refused)
{
	struct cel_env *env = test_env();
	struct cel_program *prog;
	struct cel_error err;
	struct gw_buf b;
	int i;
	const char *shapes[][3] = { { "(", "1", ")" }, { "[", "1", "]" },
		{ "!", "true", "" }, { "-", "1", "" }, { "f(", "1", ")" },
		{ "", "1", " + 1" }, { "", "vars", ".a" }, { "", "x", ".a" },
		{ "", "[1]", "[0]" }, { "", "true", " && true" } };
	size_t k;

	for (k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		gw_buf_init(&b, 0);
		for (i = 0; i < 5000; i++)
			gw_buf_adds(&b, shapes[k][0]);
		gw_buf_adds(&b, shapes[k][1]);
		for (i = 0; i < 5000; i++)
			gw_buf_adds(&b, shapes[k][2]);
		CHECK(cel_compile(env, gw_buf_head(&b), b.len, &err) == NULL);
		if (strstr(err.msg, "nested too deeply") == NULL &&
		    strstr(err.msg, "longer than") == NULL &&
		    strstr(err.msg, "undeclared reference to 'x'") == NULL) {
			fprintf(stderr, "%s...: %s\n", shapes[k][0], err.msg);
			CHECK(!"nesting refused");
		}
		gw_buf_fini(&b);
	}
	/* What a policy plausibly writes still compiles. */
	gw_buf_init(&b, 0);
	gw_buf_adds(&b, "req.method == 'a'");
	for (i = 0; i < 40; i++)
		gw_buf_printf(&b, " || req.method == 'm%d'", i);
	prog = cel_compile(env, gw_buf_head(&b), b.len, &err);
	CHECK(prog != NULL);
	cel_program_free(prog);
	gw_buf_fini(&b);
	cel_env_free(env);
}

/* A long allow-list is one constant, and costs its size to compile. */
TEST(big_literals)
{
	struct cel_env *env = test_env();
	struct cel_program *prog;
	struct host host = { 1, 42, 0 };
	struct cel_error err;
	struct cel_arena a;
	struct cel_ctx ctx;
	struct cel_value v;
	struct gw_buf b;
	int i;

	gw_buf_init(&b, 0);
	gw_buf_adds(&b, "conn.client_ip in [");
	for (i = 0; i < 3000; i++)
		gw_buf_printf(&b, "%s'10.%d.%d.%d'", i ? ", " : "", i / 65536,
		    i / 256 % 256, i % 256);
	gw_buf_adds(&b, ", '10.1.2.3']");
	prog = cel_compile(env, gw_buf_head(&b), b.len, &err);
	CHECK(prog != NULL);
	cel_arena_init(&a, 0);
	cel_ctx_init(&ctx, &a, &host, resolve);
	CHECK(prog != NULL && cel_eval(prog, &ctx, &v) == 0 &&
	    v.type == CEL_BOOL && v.b);
	CHECK(a.grows == 0);
	cel_program_free(prog);
	cel_arena_fini(&a);
	gw_buf_fini(&b);
	cel_env_free(env);
}

TEST(arena_limit_is_an_error)
{
	struct cel_env *env = test_env();
	struct cel_program *prog;
	struct host host = { 1, 42, 0 };
	struct cel_arena a;
	struct cel_ctx ctx;
	struct cel_value v;

	prog = compile(env, "lists.range(100000).map(x, string(x)).size()");
	cel_arena_init(&a, 64 * 1024);
	cel_ctx_init(&ctx, &a, &host, resolve);
	CHECK(cel_eval(prog, &ctx, &v) == -1);
	CHECK(strstr(ctx.errmsg, "out of memory") != NULL);
	CHECK(a.held <= 64 * 1024);
	cel_arena_fini(&a);
	cel_arena_init(&a, 0);
	cel_ctx_init(&ctx, &a, &host, resolve);
	CHECK(cel_eval(prog, &ctx, &v) == 0 && v.type == CEL_INT &&
	    v.i == 100000);
	cel_arena_fini(&a);
	cel_program_free(prog);
	cel_env_free(env);
}

TEST(random_is_the_hosts)
{
	struct cel_env *env = test_env();
	struct cel_program *prog = compile(env, "rand.int(0, 1000000)");
	struct host h1 = { 1, 7, 0 }, h2 = { 1, 7, 0 };
	struct cel_arena a;
	struct cel_ctx c1, c2;
	struct cel_value v1, v2;
	int i, same = 1, differs = 0;
	int64_t first = -1;

	cel_arena_init(&a, 0);
	cel_ctx_init(&c1, &a, &h1, resolve);
	cel_ctx_init(&c2, &a, &h2, resolve);
	c1.random = c2.random = test_random;
	for (i = 0; i < 50; i++) {
		CHECK(cel_eval(prog, &c1, &v1) == 0 &&
		    cel_eval(prog, &c2, &v2) == 0);
		same &= v1.i == v2.i;
		if (first == -1)
			first = v1.i;
		differs |= v1.i != first;
		CHECK(v1.i >= 0 && v1.i <= 1000000);
	}
	CHECK(same && differs);
	/* The built-in source works too. */
	c1.random = NULL;
	CHECK(cel_eval(prog, &c1, &v1) == 0 && v1.i >= 0 && v1.i <= 1000000);
	cel_arena_fini(&a);
	cel_program_free(prog);
	cel_env_free(env);
}

/*
 * More zones than the process keeps: past the cache they are built in the
 * arena of the evaluation (a dynamic name) or of the program (a constant
 * one), and ASan checks that nothing leaks or outlives its arena.
 */
TEST(many_time_zones)
{
	static const char *const zones[] = { "Africa/Abidjan", "Africa/Accra",
		"Africa/Algiers", "Africa/Bissau", "Africa/Cairo",
		"Africa/Ceuta", "Africa/El_Aaiun", "Africa/Johannesburg",
		"Africa/Juba", "Africa/Khartoum", "Africa/Lagos",
		"Africa/Maputo", "Africa/Monrovia", "Africa/Nairobi",
		"Africa/Ndjamena", "Africa/Sao_Tome", "Africa/Tripoli",
		"Africa/Tunis", "Africa/Windhoek", "America/Adak",
		"America/Anchorage", "America/Araguaina", "America/Asuncion",
		"America/Bahia", "America/Barbados", "America/Belem",
		"America/Belize", "America/Boa_Vista", "America/Bogota",
		"America/Boise", "America/Cambridge_Bay",
		"America/Campo_Grande", "America/Cancun", "America/Caracas",
		"America/Cayenne", "America/Chicago", "America/Chihuahua",
		"America/Costa_Rica", "America/Cuiaba", "America/Danmarkshavn",
		"America/Dawson", "America/Denver", "America/Detroit",
		"America/Edmonton", "America/El_Salvador", "America/Fortaleza",
		"America/Glace_Bay", "America/Goose_Bay", "America/Guatemala",
		"America/Guayaquil", "America/Guyana", "America/Halifax",
		"America/Havana", "America/Hermosillo", "America/Inuvik",
		"America/Iqaluit", "America/Jamaica", "America/Juneau",
		"America/La_Paz", "America/Lima", "America/Los_Angeles",
		"America/Maceio", "America/Managua", "America/Manaus",
		"America/Martinique", "America/Matamoros", "America/Mazatlan",
		"America/Menominee", "America/Merida", "America/Mexico_City",
		"America/Miquelon", "America/Moncton", "America/Monterrey",
		"America/Montevideo", "America/Noronha", "America/Panama",
		"America/Paramaribo", "America/Phoenix", "America/Regina",
		"Asia/Tokyo" };
	size_t nz = sizeof(zones) / sizeof(zones[0]), i;
	struct cel_env *env = test_env();
	struct cel_program *prog;
	struct host host = { 1, 42, 0 };
	struct cel_arena a;
	struct cel_ctx ctx;
	struct cel_value v;
	struct gw_buf b;
	int round, ok;

	gw_buf_init(&b, 0);
	gw_buf_adds(&b, "[");
	for (i = 0; i < nz; i++)
		gw_buf_printf(&b, "%s'%s'", i ? ", " : "", zones[i]);
	gw_buf_adds(&b,
	    "].map(z, timestamp('2024-07-15T12:00:00Z')"
	    ".getHours(z))");
	gw_buf_addc(&b, '\0');
	prog = compile(env, gw_buf_head(&b));
	CHECK(prog != NULL);
	cel_arena_init(&a, 0);
	cel_ctx_init(&ctx, &a, &host, resolve);
	for (round = 0; prog != NULL && round < 3; round++) {
		cel_arena_reset(&a);
		ok = cel_eval(prog, &ctx, &v) == 0 && v.type == CEL_LIST &&
		    v.list.len == nz;
		CHECK(ok);
		if (!ok) {
			fprintf(stderr, "%s\n", ctx.errmsg);
			break;
		}
		for (i = 0; i < nz; i++)
			CHECK(v.list.items[i].type == CEL_INT &&
			    v.list.items[i].i >= 0 && v.list.items[i].i < 24);
		/* Abidjan is UTC all year, Tokyo UTC+9. */
		CHECK(v.list.items[0].i == 12);
		CHECK(v.list.items[nz - 1].i == 21);
	}
	cel_program_free(prog);
	/* A constant zone past the cache lives in the program's arena. */
	for (i = 0; i < nz; i += 9) {
		gw_buf_reset(&b);
		gw_buf_printf(&b,
		    "timestamp('2024-01-15T12:00:00Z').getHours('%s') >= 0 && "
		    "conn.ts.start.getMinutes('%s') >= 0",
		    zones[i], zones[i]);
		gw_buf_addc(&b, '\0');
		prog = compile(env, gw_buf_head(&b));
		CHECK(prog != NULL);
		cel_arena_reset(&a);
		CHECK(prog != NULL && cel_eval(prog, &ctx, &v) == 0 &&
		    v.type == CEL_BOOL && v.b);
		cel_program_free(prog);
	}
	gw_buf_fini(&b);
	cel_arena_fini(&a);
	cel_env_free(env);
}

static int
json_of(const struct cel_env *env, const char *src, const char *want)
{
	struct cel_program *prog = compile(env, src);
	struct host host = { 1, 42, 0 };
	struct cel_arena a;
	struct cel_ctx ctx;
	struct cel_value v;
	struct gw_buf b;
	int ok;

	if (prog == NULL)
		return 0;
	cel_arena_init(&a, 0);
	cel_ctx_init(&ctx, &a, &host, resolve);
	gw_buf_init(&b, 0);
	ok = cel_eval(prog, &ctx, &v) == 0 && cel_value_to_json(&v, &b) == 0 &&
	    gw_buf_addc(&b, '\0') == 0 && strcmp(gw_buf_head(&b), want) == 0;
	if (!ok)
		fprintf(stderr, "%s: want %s, got %s\n", src, want,
		    b.len ? gw_buf_head(&b) : ctx.errmsg);
	gw_buf_fini(&b);
	cel_arena_fini(&a);
	cel_program_free(prog);
	return ok;
}

/* Typed results for interpolation and set-vars: the JSON form. */
TEST(json_form)
{
	struct cel_env *env = test_env();

	CHECK(json_of(env, "req.headers",
	    "{\"user-agent\":[\"curl/8.0\"],\"x-api-key\":[\"k1\",\"k2\"],"
	    "\"accept\":[\"*/*\"]}"));
	CHECK(json_of(env, "[1, 2u, 2.5, 1e100, -0.0, true, null, 'é\\n']",
	    "[1,2,2.5,1e+100,-0,true,null,\"é\\n\"]"));
	CHECK(json_of(env, "{true: b'\\x00\\xff', 2: conn.ts.start}",
	    "{\"true\":\"AP8=\",\"2\":\"2024-03-10T12:34:56.789Z\"}"));
	CHECK(json_of(env, "[int, duration('1ms')]", "[\"int\",\"0.001s\"]"));
	CHECK(json_of(env, "1e20", "100000000000000000000"));
	cel_env_free(env);
}

/* CEL's string() form, which interpolation uses for scalars. */
TEST(string_form)
{
	static const struct cel_value list[] = { { .type = CEL_INT, .i = 1 } };
	struct cel_arena a;
	struct cel_value v, s;
	struct gw_buf b;

	cel_arena_init(&a, 0);
	v = cel_bool(1);
	CHECK(cel_value_to_string(&v, &a, &s) == 0 && s.s.len == 4);
	v = cel_int(INT64_MIN);
	CHECK(cel_value_to_string(&v, &a, &s) == 0 && s.s.len == 20 &&
	    memcmp(s.s.ptr, "-9223372036854775808", 20) == 0);
	v = cel_double(-1.5e-7);
	CHECK(cel_value_to_string(&v, &a, &s) == 0 && s.s.len == 8 &&
	    memcmp(s.s.ptr, "-1.5e-07", 8) == 0);
	v = cel_timestamp(-1);
	CHECK(cel_value_to_string(&v, &a, &s) == 0 && s.s.len == 30 &&
	    memcmp(s.s.ptr, "1969-12-31T23:59:59.999999999Z", 30) == 0);
	v = cel_null();
	errno = 0;
	CHECK(cel_value_to_string(&v, &a, &s) == -1 && errno == EINVAL);
	v = cel_list(list, 1);
	CHECK(cel_value_to_string(&v, &a, &s) == -1 && errno == EINVAL);
	v = cel_bytes("\xff", 1);
	CHECK(cel_value_to_string(&v, &a, &s) == -1 && errno == EINVAL);
	v = cel_double(NAN);
	gw_buf_init(&b, 0);
	CHECK(cel_value_to_json(&v, &b) == -1 && errno == EINVAL);
	gw_buf_fini(&b);
	CHECK_STREQ(cel_type_name(CEL_DURATION), "google.protobuf.Duration");
	cel_arena_fini(&a);
}

/*
 * Garbage in never crashes: token soup from a fixed seed, compiled and,
 * when it compiles, evaluated.
 */
TEST(token_soup)
{
	static const char *const toks[] = { "1", "2u", "1.5", "'a'", "b'x'",
		"true", "null", "req.method", "req.headers", "vars", "vars.n",
		"x", "(", ")", "[", "]", "{", "}", ",", ":", "?", "+", "-", "*",
		"/", "%", "!", "==", "<", "&&", "||", " in ", ".", "size(",
		".all(x,", ".map(x,", "has(", "getReqHeader(", "'\\", "\"",
		"int(", "string(", "matches(", "json.decode(", "url.parse(",
		"timestamp(", "duration(", ".exists(x,", "[0]", "['a']", "r'",
		"'''", "0x", "9223372036854775808", "-", "'{\"a\":[1]}'" };
	struct cel_env *env = test_env();
	struct cel_program *prog;
	struct host host = { 1, 42, 0 };
	struct cel_error err;
	struct cel_arena a;
	struct cel_ctx ctx;
	struct cel_value v;
	struct gw_buf b;
	uint64_t seed = 12345;
	int i, j, n, compiled = 0;

	cel_arena_init(&a, 0);
	cel_ctx_init(&ctx, &a, &host, resolve);
	ctx.random = test_random;
	gw_buf_init(&b, 0);
	for (i = 0; i < 20000; i++) {
		gw_buf_reset(&b);
		seed = seed * 6364136223846793005ULL + 1;
		n = (int)(seed >> 60) + 1;
		for (j = 0; j < n; j++) {
			seed = seed * 6364136223846793005ULL + 1;
			gw_buf_adds(&b,
			    toks[(seed >> 33) %
			        (sizeof(toks) / sizeof(toks[0]))]);
		}
		prog = cel_compile(env, gw_buf_head(&b), b.len, &err);
		if (prog == NULL) {
			CHECK(err.col >= 1 && (size_t)err.col <= b.len + 1);
			CHECK(err.msg[0] != '\0');
			continue;
		}
		compiled++;
		cel_arena_reset(&a);
		if (cel_eval(prog, &ctx, &v) == -1)
			CHECK(ctx.errmsg[0] != '\0');
		cel_program_free(prog);
	}
	CHECK(compiled > 100);
	fprintf(
	    stderr, "test_cel: token soup: %d of 20000 compiled\n", compiled);
	gw_buf_fini(&b);
	cel_arena_fini(&a);
	cel_env_free(env);
}

static uint64_t gen_seed = 987654321;

static unsigned
gen_pick(unsigned n)
{
	gen_seed = gen_seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(gen_seed >> 33) % n;
}

/* A random expression, mostly well formed, of bounded depth. */
static void
gen_expr(struct gw_buf *b, int depth)
{
	static const char *const leaves[] = { "0", "1", "-1", "2u", "0u", "1.5",
		"0.0", "-2.5", "'a'", "''", "'héllo'", "b'x'", "true", "false",
		"null", "req.method", "req.headers", "conn.client_ip",
		"req.url", "req.url.path", "req.url.port", "vars", "vars.n",
		"vars.tier", "vars.list", "vars.nope", "conn.ts.start",
		"res.status_code", "req.body", "[]", "{}", "[1, 'a']",
		"{'k': 1}", "9223372036854775807", "duration('1h')",
		"timestamp('2024-01-01T00:00:00Z')", "int", "x", "y" };
	static const char *const binops[] = { " + ", " - ", " * ", " / ", " % ",
		" == ", " != ", " < ", " <= ", " > ", " >= ", " in ", " && ",
		" || " };
	static const char *const fns1[] = { "size", "int", "uint", "double",
		"string", "bytes", "bool", "type", "dyn", "timestamp",
		"duration", "json.decode", "json.encode", "base64.encode",
		"base64.decode", "url.parse", "url.escape", "url.unescape",
		"hash.sha1", "isPrivateIp", "getReqHeader", "hasReqHeader",
		"lists.range", "queryString.decode", "queryString.encode",
		"hash.crc64", "strings.quote" };
	static const char *const methods[] = { "size()", "lowerAscii()",
		"upperAscii()", "trim()", "reverse()", "startsWith('a')",
		"contains('')", "endsWith('o')", "matches('^h')", "split(',')",
		"split('', 2)", "replace('l', 'L')", "replace('', '-', 2)",
		"substring(1)", "substring(0, 2)", "indexOf('l')",
		"lastIndexOf('l', 3)", "charAt(0)", "join('-')", "getHours()",
		"getDayOfWeek('+01:00')", "getMinutes('bad')", "isPrivateIp()",
		"parseUrl()", "decodeJson()", "md5()", "encodeBase64()",
		"slice(0, 1)", "getMilliseconds()", "sort()", "distinct()",
		"flatten()", "flatten(2)", "reverse()", "format([1])",
		"format(['a', 2])", "lower()", "upper()", "crc32()",
		"xxhash64()", "isURL()", "isQueryString()",
		"encodeQueryString()", "getHours('Europe/Berlin')",
		"getDate('America/New_York')", "sortBy(x, x)",
		"sortBy(y, -y)" };
	static const char *const macros[] = { "all", "exists", "exists_one",
		"filter", "map" };
	unsigned k;

	if (depth <= 0) {
		gw_buf_adds(
		    b, leaves[gen_pick(sizeof(leaves) / sizeof(leaves[0]))]);
		return;
	}
	switch (gen_pick(10)) {
	case 0:
		gw_buf_adds(
		    b, leaves[gen_pick(sizeof(leaves) / sizeof(leaves[0]))]);
		break;
	case 1:
		gw_buf_adds(b, gen_pick(2) ? "!" : "-");
		gw_buf_addc(b, '(');
		gen_expr(b, depth - 1);
		gw_buf_addc(b, ')');
		break;
	case 2:
	case 3:
		gw_buf_addc(b, '(');
		gen_expr(b, depth - 1);
		gw_buf_adds(
		    b, binops[gen_pick(sizeof(binops) / sizeof(binops[0]))]);
		gen_expr(b, depth - 1);
		gw_buf_addc(b, ')');
		break;
	case 4:
		gw_buf_addc(b, '(');
		gen_expr(b, depth - 1);
		gw_buf_adds(b, " ? ");
		gen_expr(b, depth - 1);
		gw_buf_adds(b, " : ");
		gen_expr(b, depth - 1);
		gw_buf_addc(b, ')');
		break;
	case 5:
		gw_buf_adds(b, fns1[gen_pick(sizeof(fns1) / sizeof(fns1[0]))]);
		gw_buf_addc(b, '(');
		gen_expr(b, depth - 1);
		gw_buf_addc(b, ')');
		break;
	case 6:
		gw_buf_addc(b, '(');
		gen_expr(b, depth - 1);
		gw_buf_adds(b, ").");
		gw_buf_adds(
		    b, methods[gen_pick(sizeof(methods) / sizeof(methods[0]))]);
		break;
	case 7:
		gw_buf_addc(b, '(');
		gen_expr(b, depth - 1);
		gw_buf_adds(b, ")[");
		gen_expr(b, depth - 1);
		gw_buf_addc(b, ']');
		break;
	case 8:
		k = gen_pick(3);
		gw_buf_addc(b, k == 2 ? '{' : '[');
		gen_expr(b, depth - 1);
		if (k == 2) {
			gw_buf_adds(b, ": ");
			gen_expr(b, depth - 1);
		} else {
			gw_buf_adds(b, ", ");
			gen_expr(b, depth - 1);
		}
		gw_buf_addc(b, k == 2 ? '}' : ']');
		break;
	default:
		gw_buf_addc(b, '(');
		gen_expr(b, depth - 1);
		k = gen_pick(sizeof(macros) / sizeof(macros[0]));
		gw_buf_printf(
		    b, ").%s(%s, ", macros[k], gen_pick(2) ? "x" : "y");
		gen_expr(b, depth - 1);
		gw_buf_addc(b, ')');
		break;
	}
}

/*
 * Random expressions from the grammar: those that compile are evaluated,
 * and every outcome is a value or an error message, never a crash (the
 * ASan build turns any overflow or bad access into a failure).
 */
TEST(random_expressions)
{
	struct cel_env *env = test_env();
	struct cel_program *prog;
	struct host host = { 1, 42, 0 };
	struct cel_error err;
	struct cel_arena a;
	struct cel_ctx ctx;
	struct cel_value v;
	struct gw_buf b, j;
	int i, compiled = 0, values = 0;

	cel_arena_init(&a, 1 << 20);
	cel_ctx_init(&ctx, &a, &host, resolve);
	ctx.random = test_random;
	gw_buf_init(&b, 0);
	gw_buf_init(&j, 0);
	for (i = 0; i < 30000; i++) {
		gw_buf_reset(&b);
		gen_expr(&b, 1 + (int)gen_pick(5));
		prog = cel_compile(env, gw_buf_head(&b), b.len, &err);
		if (prog == NULL) {
			CHECK(err.col >= 1 && (size_t)err.col <= b.len + 1);
			continue;
		}
		compiled++;
		cel_arena_reset(&a);
		if (cel_eval(prog, &ctx, &v) == 0) {
			values++;
			gw_buf_reset(&j);
			(void)cel_value_to_json(&v, &j);
		} else
			CHECK(ctx.errmsg[0] != '\0');
		cel_program_free(prog);
	}
	fprintf(stderr,
	    "test_cel: random: %d of 30000 compiled, %d gave a value\n",
	    compiled, values);
	CHECK(compiled > 3000 && values > 1000);
	gw_buf_fini(&b);
	gw_buf_fini(&j);
	cel_arena_fini(&a);
	cel_env_free(env);
}

int
main(void)
{
	RUN(table);
	RUN(warm_arena_allocates_nothing);
	RUN(constants_are_folded);
	RUN(program_types);
	RUN(absent_variables);
	RUN(env_declarations);
	RUN(deep_nesting_is_refused);
	RUN(big_literals);
	RUN(arena_limit_is_an_error);
	RUN(random_is_the_hosts);
	RUN(many_time_zones);
	RUN(json_form);
	RUN(string_form);
	RUN(token_soup);
	RUN(random_expressions);
	return harness_done();
}
