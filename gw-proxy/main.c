// SPDX-License-Identifier: MIT
/*
 * gw-proxy: the reverse proxy at the head of the gw pipeline.  This file
 * holds the flags, the setup, the loop and the teardown; the work is done
 * in the other files of this folder (see gw-proxy.h for the tour).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw-proxy.h"
#include "log.h"

#define EX_OK          0
#define EX_USAGE       64
#define EX_UNAVAILABLE 69
#define EX_SOFTWARE    70
#define EX_CONFIG      78

#ifndef GW_VERSION
#define GW_VERSION "0.1.0"
#endif

struct proxy P;

static int saved_argc;
static char **saved_argv;

static const char synopsis[] =
    "gw-proxy [options]\n"
    "\n"
    "Reverse proxy: forwards HTTP(S) requests to an upstream and writes one\n"
    "JSON event per exchange to stdout (or --events FILE).\n"
    "\n"
    "  gw-proxy --listen 127.0.0.1:8080 --upstream http://127.0.0.1:3000\n"
    "  gw-proxy --listen https://0.0.0.0:8443 --tls-cert c.pem --tls-key k.pem \\\n"
    "      --upstream http://127.0.0.1:3000 --route api.example.com=http://10.0.0.5:80\n"
    "\n"
    "Signals: SIGTERM/SIGINT drain and exit 0, SIGHUP reloads --config and flags.\n"
    "Exit status: 0 ok, 64 usage, 69 cannot listen, 70 internal, 78 "
    "configuration.";

static void
apply_logging(struct pconf *pc)
{
	gw_log_apply(pc->o.log_level, pc->o.log_format);
}

static void
drain_timeout(struct gw_loop *loop, struct gw_timer *t)
{
	struct client *c;

	(void)t;
	gw_warn("drain timeout: closing %u connections", P.n_clients);
	while ((c = TAILQ_FIRST(&P.clients)) != NULL)
		client_close(c);
	gw_loop_stop(loop);
}

static void
on_stop(struct gw_loop *loop, int signo, void *arg)
{
	(void)arg;
	if (P.draining) {
		gw_warn("second %s: exiting now", strsignal(signo));
		drain_timeout(loop, NULL);
		return;
	}
	gw_info("%s: draining %u connections", strsignal(signo), P.n_clients);
	P.draining = 1;
	listen_close_all("signal", "signal");
	client_drain_idle();
	if (P.n_clients == 0) {
		gw_loop_stop(loop);
		return;
	}
	gw_timer_init(&P.drain_timer, drain_timeout, NULL);
	(void)gw_timer_set(loop, &P.drain_timer, P.conf->o.drain_timeout);
}

static void
on_reload(struct gw_loop *loop, int signo, void *arg)
{
	struct gw_error err;
	struct pconf *pc;
	char msg[1024];
	int usage;

	(void)loop;
	(void)signo;
	(void)arg;
	if (P.draining)
		return;
	memset(&err, 0, sizeof(err));
	pc = conf_load(saved_argc, saved_argv, NULL, &err, &usage);
	if (pc == NULL || listen_apply(pc, "signal", &err) == -1) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("reload: %s; keeping the running configuration", msg);
		if (pc != NULL)
			conf_unref(pc);
		return;
	}
	emit_capture_settings(pc, P.conf, "signal");
	if (pc->o.policy != NULL && policy_start(pc->o.policy) == -1)
		gw_error("reload: out of memory for the policy connections");
	conf_unref(P.conf);
	P.conf = pc;
	apply_logging(pc);
	gw_info("reload: configuration loaded");
}

static void
on_stats(struct gw_loop *loop, struct gw_timer *t)
{
	emit_stats();
	(void)gw_timer_set(loop, t, P.conf->o.stats_interval);
}

static void
before_wait(struct gw_loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	client_reap();
	upconn_reap();
	policy_flush();
	emit_flush(0);
}

int
main(int argc, char **argv)
{
	struct gw_error err;
	char msg[1024];
	int i, usage;

	gw_log_init(PROXY_NAME);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			gw_opts_usage(stdout, synopsis, proxy_optab);
			return EX_OK;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("gw-proxy %s\n", GW_VERSION);
			return EX_OK;
		}
	}
	(void)signal(SIGPIPE, SIG_IGN);
	TAILQ_INIT(&P.listeners);
	TAILQ_INIT(&P.clients);
	TAILQ_INIT(&P.upstreams);
	TAILQ_INIT(&P.dead_clients);
	TAILQ_INIT(&P.dead_upconns);
	snprintf(P.via, sizeof(P.via), "1.1 gw");
	if ((P.loop = gw_loop_new()) == NULL) {
		gw_error("cannot create the event loop: %s", strerror(errno));
		return EX_SOFTWARE;
	}

	memset(&err, 0, sizeof(err));
	saved_argc = argc;
	saved_argv = argv;
	P.conf = conf_load(argc, argv, NULL, &err, &usage);
	if (P.conf == NULL) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
		if (usage)
			fprintf(stderr,
			    "usage: gw-proxy [options]; see "
			    "gw-proxy --help\n");
		return usage ? EX_USAGE : EX_CONFIG;
	}
	apply_logging(P.conf);
	if (emit_open(P.conf->o.events) == -1) {
		gw_error("--events %s: %s", P.conf->o.events, strerror(errno));
		return EX_CONFIG;
	}
	if (listen_apply(P.conf, "cli", &err) == -1) {
		gw_error_format(&err, msg, sizeof(msg));
		gw_error("%s", msg);
		emit_flush(1);
		return EX_UNAVAILABLE;
	}
	emit_capture_settings(P.conf, NULL, "cli");
	if (policy_start(P.conf->o.policy) == -1) {
		gw_error("out of memory");
		return EX_SOFTWARE;
	}
	if (gw_loop_signal(P.loop, SIGTERM, on_stop, NULL) == -1 ||
	    gw_loop_signal(P.loop, SIGINT, on_stop, NULL) == -1 ||
	    gw_loop_signal(P.loop, SIGHUP, on_reload, NULL) == -1) {
		gw_error("signalfd: %s", strerror(errno));
		return EX_SOFTWARE;
	}
	gw_loop_before_wait(P.loop, before_wait, NULL);
	if (P.conf->o.stats_interval > 0) {
		gw_timer_init(&P.stats_timer, on_stats, NULL);
		(void)gw_timer_set(
		    P.loop, &P.stats_timer, P.conf->o.stats_interval);
	}
	emit_flush(0);

	if (gw_loop_run(P.loop) == -1) {
		gw_error("event loop: %s", strerror(errno));
		return EX_SOFTWARE;
	}

	listen_close_all("signal", "signal");
	client_reap();
	policy_stop();
	upstream_free_all();
	emit_stats();
	emit_flush(1);
	gw_out_fini(&P.ev);
	conf_unref(P.conf);
	gw_loop_free(P.loop);
	return EX_OK;
}
