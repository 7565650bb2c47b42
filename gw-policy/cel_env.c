// SPDX-License-Identifier: MIT
/*
 * The CEL environment and the compile driver: checker types and their
 * text form ("map(string, list(string))"), the table of variables and
 * functions an expression may name (the built-in tables of cel_std.c,
 * cel_strings.c, cel_format.c, cel_list.c, cel_time.c, cel_hash.c,
 * cel_url.c and cel_ngrok.c plus what the host declares), and cel_compile(), which runs the parser and
 * the checker over a fresh program.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel_impl.h"

const struct cel_ctype cel_t_dyn = { CEL_DYN, NULL, NULL };
const struct cel_ctype cel_t_null = { CEL_NULL, NULL, NULL };
const struct cel_ctype cel_t_bool = { CEL_BOOL, NULL, NULL };
const struct cel_ctype cel_t_int = { CEL_INT, NULL, NULL };
const struct cel_ctype cel_t_uint = { CEL_UINT, NULL, NULL };
const struct cel_ctype cel_t_double = { CEL_DOUBLE, NULL, NULL };
const struct cel_ctype cel_t_string = { CEL_STRING, NULL, NULL };
const struct cel_ctype cel_t_bytes = { CEL_BYTES, NULL, NULL };
const struct cel_ctype cel_t_timestamp = { CEL_TIMESTAMP, NULL, NULL };
const struct cel_ctype cel_t_duration = { CEL_DURATION, NULL, NULL };
const struct cel_ctype cel_t_type = { CEL_TYPE, NULL, NULL };
const struct cel_ctype cel_t_list_dyn = { CEL_LIST, &cel_t_dyn, NULL };
const struct cel_ctype cel_t_map_dyn = { CEL_MAP, &cel_t_dyn, &cel_t_dyn };
const struct cel_ctype cel_t_list_string = { CEL_LIST, &cel_t_string, NULL };

const struct cel_ctype *
cel_ctype_of(enum cel_type t)
{
	static const struct cel_ctype *const types[] = { &cel_t_null,
		&cel_t_bool, &cel_t_int, &cel_t_uint, &cel_t_double,
		&cel_t_string, &cel_t_bytes, &cel_t_list_dyn, &cel_t_map_dyn,
		&cel_t_timestamp, &cel_t_duration, &cel_t_type, &cel_t_dyn };

	if ((unsigned)t >= sizeof(types) / sizeof(types[0]))
		return &cel_t_dyn;
	return types[t];
}

const struct cel_ctype *
cel_ctype_list(struct cel_arena *a, const struct cel_ctype *elem)
{
	struct cel_ctype *t;

	if (elem->kind == CEL_DYN)
		return &cel_t_list_dyn;
	if (elem->kind == CEL_STRING)
		return &cel_t_list_string;
	if ((t = cel_arena_alloc(a, sizeof(*t))) == NULL)
		return NULL;
	t->kind = CEL_LIST;
	t->p1 = elem;
	t->p2 = NULL;
	return t;
}

const struct cel_ctype *
cel_ctype_map(struct cel_arena *a, const struct cel_ctype *key,
    const struct cel_ctype *val)
{
	struct cel_ctype *t;

	if (key->kind == CEL_DYN && val->kind == CEL_DYN)
		return &cel_t_map_dyn;
	if ((t = cel_arena_alloc(a, sizeof(*t))) == NULL)
		return NULL;
	t->kind = CEL_MAP;
	t->p1 = key;
	t->p2 = val;
	return t;
}

static void
skip_space(const char **s)
{
	while (**s == ' ' || **s == '\t')
		(*s)++;
}

const struct cel_ctype *
cel_ctype_parse(const char **sp, struct cel_arena *a)
{
	static const struct {
		const char *name;
		enum cel_type t;
	} names[] = { { "null_type", CEL_NULL }, { "null", CEL_NULL },
		{ "bool", CEL_BOOL }, { "int", CEL_INT }, { "uint", CEL_UINT },
		{ "double", CEL_DOUBLE }, { "string", CEL_STRING },
		{ "bytes", CEL_BYTES }, { "timestamp", CEL_TIMESTAMP },
		{ "duration", CEL_DURATION }, { "type", CEL_TYPE },
		{ "dyn", CEL_DYN }, { "list", CEL_LIST }, { "map", CEL_MAP } };
	const struct cel_ctype *p1, *p2;
	const char *s = *sp;
	size_t i, n;

	skip_space(&s);
	for (n = 0; (s[n] >= 'a' && s[n] <= 'z') || s[n] == '_'; n++)
		;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n &&
		    strncmp(s, names[i].name, n) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0]))
		return NULL;
	s += n;
	if (names[i].t != CEL_LIST && names[i].t != CEL_MAP) {
		*sp = s;
		return cel_ctype_of(names[i].t);
	}
	skip_space(&s);
	if (*s != '(') {
		*sp = s;
		return cel_ctype_of(names[i].t);
	}
	s++;
	if ((p1 = cel_ctype_parse(&s, a)) == NULL)
		return NULL;
	skip_space(&s);
	if (names[i].t == CEL_LIST) {
		if (*s != ')')
			return NULL;
		*sp = s + 1;
		return cel_ctype_list(a, p1);
	}
	if (*s++ != ',' || (p2 = cel_ctype_parse(&s, a)) == NULL)
		return NULL;
	skip_space(&s);
	if (*s != ')')
		return NULL;
	*sp = s + 1;
	return cel_ctype_map(a, p1, p2);
}

int
cel_ctype_equal(const struct cel_ctype *a, const struct cel_ctype *b)
{
	if (a == b)
		return 1;
	if (a == NULL || b == NULL || a->kind != b->kind)
		return 0;
	return cel_ctype_equal(a->p1, b->p1) && cel_ctype_equal(a->p2, b->p2);
}

void
cel_ctype_format(const struct cel_ctype *t, char *buf, size_t len)
{
	char a[64], b[64];

	if (t->kind == CEL_LIST) {
		cel_ctype_format(t->p1, a, sizeof(a));
		snprintf(buf, len, "list(%s)", a);
	} else if (t->kind == CEL_MAP) {
		cel_ctype_format(t->p1, a, sizeof(a));
		cel_ctype_format(t->p2, b, sizeof(b));
		snprintf(buf, len, "map(%s, %s)", a, b);
	} else if (t->kind == CEL_TIMESTAMP || t->kind == CEL_DURATION)
		snprintf(buf, len, "%s",
		    t->kind == CEL_TIMESTAMP ? "timestamp" : "duration");
	else
		snprintf(buf, len, "%s", cel_type_name(t->kind));
}

static int
is_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/*
 * Adds a function from its prototype.  <b> is the built-in row or NULL
 * for a host function.  Returns 0 or -1 with errno set.
 */
static int
add_fn(struct cel_env *env, const char *proto, const struct cel_builtin *b,
    cel_func host, void *data)
{
	struct cel_fn *fn, **fns, *last;
	const char *s = proto, *name, *save;
	const struct cel_ctype *t;
	size_t i, n;

	if ((fn = cel_arena_alloc(&env->arena, sizeof(*fn))) == NULL)
		return -1;
	memset(fn, 0, sizeof(*fn));
	if ((fn->result = cel_ctype_parse(&s, &env->arena)) == NULL)
		goto bad;
	skip_space(&s);
	save = s;
	/* "string.isURL()": a receiver type, a dot, then the method. */
	if ((t = cel_ctype_parse(&s, &env->arena)) != NULL && *s == '.') {
		fn->flags |= CEL_FN_METHOD;
		fn->args[fn->nargs++] = t;
		s++;
	} else
		s = save;
	name = s;
	while (is_ident_char(*s) || (*s == '.' && !(fn->flags & CEL_FN_METHOD)))
		s++;
	if (s == name || *s != '(')
		goto bad;
	n = (size_t)(s - name);
	if ((fn->name = cel_arena_dup(&env->arena, name, n + 1)) == NULL)
		return -1;
	((char *)fn->name)[n] = '\0';
	s++;
	skip_space(&s);
	while (*s != ')') {
		if (fn->nargs == CEL_MAX_ARGS)
			goto bad;
		if ((t = cel_ctype_parse(&s, &env->arena)) == NULL)
			goto bad;
		fn->args[fn->nargs++] = t;
		skip_space(&s);
		if (*s == ',') {
			s++;
			skip_space(&s);
		} else if (*s != ')')
			goto bad;
	}
	s++;
	skip_space(&s);
	if (*s != '\0')
		goto bad;
	fn->b = b;
	fn->host = host;
	fn->data = data;
	if (b != NULL)
		fn->flags |= b->flags;
	else
		fn->flags |= CEL_FN_HOST | CEL_FN_IMPURE;
	for (i = 0; i < env->nfns; i++) {
		last = env->fns[i];
		if (strcmp(last->name, fn->name) != 0 ||
		    (last->flags & CEL_FN_METHOD) !=
		        (fn->flags & CEL_FN_METHOD))
			continue;
		/* Host functions neither overload nor shadow. */
		if (host != NULL || (last->flags & CEL_FN_HOST)) {
			errno = EEXIST;
			return -1;
		}
		if (last->nargs != fn->nargs)
			continue;
		while (last->next != NULL)
			last = (struct cel_fn *)last->next;
		last->next = fn;
		return 0;
	}
	if (env->nfns == env->capfns) {
		n = env->capfns ? env->capfns * 2 : 128;
		if ((fns = realloc(env->fns, n * sizeof(*fns))) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		env->fns = fns;
		env->capfns = n;
	}
	env->fns[env->nfns++] = fn;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

struct cel_env *
cel_env_new(void)
{
	static const struct {
		const struct cel_builtin *rows;
		const size_t *n;
	} tables[] = { { cel_std_builtins, &cel_std_nbuiltins },
		{ cel_strings_builtins, &cel_strings_nbuiltins },
		{ cel_format_builtins, &cel_format_nbuiltins },
		{ cel_list_builtins, &cel_list_nbuiltins },
		{ cel_time_builtins, &cel_time_nbuiltins },
		{ cel_hash_builtins, &cel_hash_nbuiltins },
		{ cel_url_builtins, &cel_url_nbuiltins },
		{ cel_ngrok_builtins, &cel_ngrok_nbuiltins } };
	struct cel_env *env;
	size_t i, t;

	if ((env = calloc(1, sizeof(*env))) == NULL)
		return NULL;
	cel_arena_init(&env->arena, 0);
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (i = 0; i < *tables[t].n; i++)
			if (add_fn(env, tables[t].rows[i].proto,
			        &tables[t].rows[i], NULL, NULL) == -1)
				goto fail;
	return env;
fail:
	/* A prototype in our own tables that does not parse is a bug. */
	cel_env_free(env);
	errno = EINVAL;
	return NULL;
}

void
cel_env_free(struct cel_env *env)
{
	if (env == NULL)
		return;
	free(env->vars);
	free(env->fns);
	cel_arena_fini(&env->arena);
	free(env);
}

int
cel_env_var(struct cel_env *env, const char *name, const char *type, int id)
{
	const struct cel_ctype *t;
	struct cel_var *vars;
	const char *s;
	size_t n, len = strlen(name);

	/* Dotted identifiers only: the parser has to be able to read it. */
	for (s = name; *s != '\0'; s++)
		if (!is_ident_char(*s) &&
		    !(*s == '.' && s > name && s[-1] != '.' && s[1] != '\0'))
			goto bad;
	if (len == 0 || (name[0] >= '0' && name[0] <= '9'))
		goto bad;
	if (cel_env_find_var(env, name, len) != NULL) {
		errno = EEXIST;
		return -1;
	}
	s = type;
	if ((t = cel_ctype_parse(&s, &env->arena)) == NULL)
		goto bad;
	skip_space(&s);
	if (*s != '\0')
		goto bad;
	if (env->nvars == env->capvars) {
		n = env->capvars ? env->capvars * 2 : 32;
		if ((vars = realloc(env->vars, n * sizeof(*vars))) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		env->vars = vars;
		env->capvars = n;
	}
	if ((s = cel_arena_dup(&env->arena, name, len)) == NULL)
		return -1;
	env->vars[env->nvars].name = s;
	env->vars[env->nvars].nlen = len;
	env->vars[env->nvars].type = t;
	env->vars[env->nvars].id = id;
	env->nvars++;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
cel_env_func(struct cel_env *env, const char *proto, cel_func fn, void *data)
{
	if (fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	return add_fn(env, proto, NULL, fn, data);
}

const struct cel_var *
cel_env_find_var(const struct cel_env *env, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < env->nvars; i++)
		if (env->vars[i].nlen == len &&
		    memcmp(env->vars[i].name, name, len) == 0)
			return &env->vars[i];
	return NULL;
}

static int
name_is(const struct cel_fn *fn, const char *name, size_t len)
{
	return strlen(fn->name) == len && memcmp(fn->name, name, len) == 0;
}

const struct cel_fn *
cel_env_find_fn(const struct cel_env *env, const char *name, size_t len,
    int method, int nargs)
{
	const struct cel_fn *fn;
	size_t i;

	for (i = 0; i < env->nfns; i++) {
		fn = env->fns[i];
		if (name_is(fn, name, len) &&
		    !(fn->flags & CEL_FN_METHOD) == !method &&
		    (fn->nargs == nargs || nargs < 0))
			return fn;
	}
	return NULL;
}

int
cel_env_has_fn(const struct cel_env *env, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < env->nfns; i++)
		if (name_is(env->fns[i], name, len))
			return 1;
	return 0;
}

struct cel_program *
cel_compile(const struct cel_env *env, const char *src, size_t len,
    struct cel_error *err)
{
	struct cel_program *prog;

	memset(err, 0, sizeof(*err));
	if (len > CEL_MAX_SRC) {
		err->col = 1;
		snprintf(err->msg, sizeof(err->msg),
		    "expression longer than %d bytes", CEL_MAX_SRC);
		return NULL;
	}
	if ((prog = calloc(1, sizeof(*prog))) == NULL) {
		err->col = 1;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	prog->env = env;
	cel_arena_init(&prog->arena, 0);
	if (cel_parse(prog, src, len, err) == -1 ||
	    cel_check(prog, err) == -1) {
		cel_program_free(prog);
		return NULL;
	}
	return prog;
}

void
cel_program_free(struct cel_program *prog)
{
	if (prog == NULL)
		return;
	cel_regex_free_all(prog);
	cel_arena_fini(&prog->arena);
	free(prog);
}

enum cel_type
cel_program_type(const struct cel_program *prog)
{
	return prog->root->type->kind;
}
