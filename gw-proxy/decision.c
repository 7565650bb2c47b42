// SPDX-License-Identifier: MIT
/*
 * Applying gw-policy's answers (policy.c carries them) to a connection or
 * an exchange: a held connection goes on or is closed, a request goes on
 * with edits or is answered in the upstream's place, a held response head
 * is edited or replaced, and when no answer comes the exchange fails
 * closed (503) or, with --policy-fail-open, goes on unchecked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "gw-proxy.h"
#include "log.h"
#include "timeutil.h"

static void connect_answered(struct client *, json_t *, int);

/*
 * A "close" answer: the connection ends with no response, and the event
 * says why (the answer's error code, GW_DENIED by default).
 */
static void
close_by_policy(struct client *c, json_t *answer)
{
	struct exch *x = c->x;
	const char *code, *msg;

	code = json_string_value(json_object_get(answer, "error_code"));
	msg = json_string_value(json_object_get(answer, "error_message"));
	x->err_code = code != NULL ? code : "GW_DENIED";
	snprintf(x->err_msg, sizeof(x->err_msg), "%s",
	    msg != NULL ? msg : "connection closed by policy");
	/* No response was sent: the event has none either. */
	x->res_started = 1;
	P.n_errors++;
	client_close(c);
}

/*
 * Asks gw-policy's on_tcp_connect rules about a new connection, which
 * reads nothing until the answer.  The question needs an exchange to
 * describe the connection; it goes back to the cache with the answer.
 */
void
decision_ask_connect(struct client *c)
{
	if ((c->x = client_exch_get(c)) != NULL) {
		c->x->start_ns = c->ci.start_ns;
		if (policy_ask(c, "on_tcp_connect") == 0) {
			c->conn_held = 1;
			client_set_timer(
			    c, CT_POLICY, c->conf->o.policy_timeout);
			return;
		}
		client_exch_put(c->x);
		c->x = NULL;
	}
	/*
	 * gw-policy is down: the connection goes on, and its requests get
	 * the fallback (503, or unchecked with --policy-fail-open), which
	 * tells a client more than a closed connection would.
	 */
}

/* Ends the wait of decision_ask_connect(): go on reading, or close. */
static void
connect_answered(struct client *c, json_t *answer, int ok)
{
	const char *action;
	int close_it = !ok;

	c->conn_held = 0;
	if (answer != NULL) {
		/* Its rules and logs belong to tcp_connection_closed.v0. */
		gw_buf_init(&c->conn_extra, 64 * 1024);
		policy_render(&c->conn_extra, answer, NULL);
		action = json_string_value(json_object_get(answer, "action"));
		close_it |= action != NULL && strcmp(action, "close") == 0;
		json_decref(answer);
	}
	client_exch_put(c->x);
	c->x = NULL;
	if (close_it) {
		client_close(c);
		return;
	}
	client_set_timer(c, CT_HEADER, c->conf->o.header_timeout);
	client_update(c);
}

/* The answer to on_http_response: edit, replace or cut the response. */
static void
policy_answer_response(struct client *c, json_t *answer)
{
	struct exch *x = c->x;
	const char *action;
	json_t *v;

	if (answer == NULL) {
		upconn_response_go(x->uc);
		return;
	}
	x->pol_res = answer;
	action = json_string_value(json_object_get(answer, "action"));
	if (action == NULL)
		action = "continue";
	policy_record(x);
	if (strcmp(action, "respond") == 0) {
		/* The upstream's response is replaced: drop it. */
		upconn_abort(x->uc);
		x->uc = NULL;
		x->n_rhdrs = 0;
		response_from_policy(c, answer);
		return;
	}
	if (strcmp(action, "close") == 0) {
		close_by_policy(c, answer);
		return;
	}
	v = json_object_get(answer, "set_headers");
	x->pol_res_set = json_is_object(v) ? v : NULL;
	v = json_object_get(answer, "remove_headers");
	x->pol_res_rm = json_is_array(v) ? v : NULL;
	upconn_response_go(x->uc);
}

/*
 * gw-policy answered c's question.  <answer> is NULL for a plain
 * "continue", else the parsed answer, which the exchange now owns.
 */
void
client_policy_answer(struct client *c, json_t *answer)
{
	struct exch *x = c->x;
	const char *action, *url;
	json_t *v;

	if (c->conn_held) {
		connect_answered(c, answer, 1);
		return;
	}
	client_set_timer(c, CT_ACTIVE, c->conf->o.client_timeout);
	if (x->asking_res) {
		x->asking_res = 0;
		policy_answer_response(c, answer);
		return;
	}
	if (answer == NULL) {
		client_proceed(c);
		return;
	}
	x->pol = answer;
	action = json_string_value(json_object_get(answer, "action"));
	if (action == NULL)
		action = "continue";
	policy_record(x);
	if (strcmp(action, "respond") == 0) {
		response_from_policy(c, answer);
		return;
	}
	if (strcmp(action, "close") == 0) {
		close_by_policy(c, answer);
		return;
	}
	v = json_object_get(answer, "set_headers");
	x->pol_set = json_is_object(v) ? v : NULL;
	v = json_object_get(answer, "remove_headers");
	x->pol_rm = json_is_array(v) ? v : NULL;
	url = json_string_value(json_object_get(answer, "rewrite_url"));
	if (url != NULL && url[0] == '/' &&
	    gw_http_value_ok(url, strlen(url)) && strchr(url, ' ') == NULL)
		x->pol_url = url;
	client_proceed(c);
}

/*
 * No answer will come (gw-policy down, or too slow): fail closed with 503,
 * or go on unchecked with --policy-fail-open.
 */
void
client_policy_failed(struct client *c, const char *why)
{
	char msg[160];

	if (c->conn_held) {
		connect_answered(c, NULL, c->conf->o.policy_fail_open);
		return;
	}
	if (c->conf->o.policy_fail_open) {
		client_set_timer(c, CT_ACTIVE, c->conf->o.client_timeout);
		if (c->x->asking_res) {
			c->x->asking_res = 0;
			upconn_response_go(c->x->uc);
		} else
			client_proceed(c);
		return;
	}
	c->x->asking_res = 0;
	snprintf(msg, sizeof(msg), "policy engine unavailable: %s", why);
	client_upstream_failed(c, "GW_POLICY_UNAVAILABLE", 503, msg);
}

/* c waits for gw-policy's answer: bound the wait. */
void
client_policy_wait(struct client *c)
{
	client_set_timer(c, CT_POLICY, c->conf->o.policy_timeout);
}
