/* SPDX-License-Identifier: MIT */
/*
 * gw-policy's private header: the commands main.c dispatches to (serve,
 * eval) and the reader that turns gw-proxy's questions and recorded
 * events into the struct policy_req the engine evaluates.  A tour of the
 * folder: policy.h and policy_*.c load and check policy files, cel.h and
 * cel_*.c are the expression language, vars.c declares ngrok's variables,
 * ratelimit.[ch] keeps the buckets, engine.[ch] and actions_run.c decide,
 * question.c reads questions and events, serve.c is the daemon gw-proxy
 * talks to, eval.c the offline dry run, main.c the command line.
 */
#ifndef GW_POLICY_GW_POLICY_H
#define GW_POLICY_GW_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define POLICY_NAME "gw-policy"

/*
 * "gw-policy serve FILE --socket PATH [--max-buckets N] [--log-format
 * json]": <argv>[0] is "serve".  Answers gw-proxy's questions on the
 * Unix socket PATH (mode 0600) until SIGTERM or SIGINT, reloading FILE
 * on SIGHUP and when it changes on disk.  Returns the exit status: 0, 64
 * usage, 70 out of memory, 71 when the socket cannot be made, 78 when
 * FILE is invalid at start.
 */
int serve_main(int argc, char **argv);

/*
 * "gw-policy eval FILE [EVENTS...] [--max-buckets N]": <argv>[0] is
 * "eval".  Prints every event of EVENTS (or stdin; .zst files are
 * decompressed), each http_request_complete.v0 with a "policy_eval"
 * member saying what FILE would have done, and a summary on stderr.
 * Returns the exit status: 0, 64 usage, 66 an input cannot be opened,
 * 74 a read or write error, 78 FILE is invalid.
 */
int eval_main(int argc, char **argv);

/* A token of a scanned line (question.c). */
struct qtok {
	uint8_t type;
	uint8_t flags; /* numbers: QTOK_INT, QTOK_UINT when they fit */
	uint32_t end;  /* index of the first token after this value */
	uint32_t n;    /* containers: members or items */
	uint32_t hint; /* objects: where the next lookup starts; 0 first */
	const char *s; /* strings: decoded, NUL-terminated; numbers: text */
	size_t len;
	const char *key; /* object members: the name, decoded; else NULL */
	size_t klen;
	union {
		int64_t i;
		uint64_t u;
	};
};

#define QTOK_INT  0x1
#define QTOK_UINT 0x2

/*
 * A line reader's reusable memory: the line's copy (strings are decoded
 * in it), its tokens and the headers of the request being filled.  The
 * caller owns the struct; question_init() it, question_fini() it.  What
 * a parse fills points into it until the next parse.
 */
struct question {
	char *buf;
	size_t capbuf;
	struct qtok *tok;
	size_t ntok, captok;
	struct policy_hdr *hdrs;
	size_t nhdrs, caphdrs;
	const char *bad; /* a member of the wrong type */
	char err[96];    /* why the last parse failed */
	char hour[13];   /* "2026-11-24T16" of the last timestamp read */
	uint64_t hour_ns;
};

/* What an event says beyond the request (question_event()). */
struct question_event {
	int has_response; /* object.http.response with a status */
	int status;
	int64_t res_ns; /* http.response.first_byte_ts; 0 unknown */
};

/* Prepares an empty reader; question_fini() frees what it grew. */
void question_init(struct question *);
void question_fini(struct question *);

/*
 * Reads gw-proxy's question <line> (<len> bytes, no newline) into <r>
 * and its id into <id>.  Returns 0; 1 when the id could be read but the
 * rest is wrong (unknown phase, a member of the wrong type); -1 when the
 * line is not a JSON object with an unsigned integer "id".  q->err says
 * why.
 */
int question_parse(struct question *q, const char *line, size_t len,
    uint64_t *id, struct policy_req *r);

/*
 * Reads the event <line>.  Returns 1 for an http_request_complete.v0
 * with a request, with <r> filled for on_http_request (phase left 0,
 * time.now the request's first byte, else event_timestamp; the response
 * status in r->status_code and ev when there is one); 0 for any other
 * JSON object; -1 when the line is not one (q->err says why).
 */
int question_event(struct question *q, const char *line, size_t len,
    struct policy_req *r, struct question_event *ev);

#endif
