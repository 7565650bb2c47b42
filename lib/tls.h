/* SPDX-License-Identifier: MIT */
/*
 * The OpenSSL pieces more than one binary needs: a client context as gw
 * makes every one (gw-proxy's https upstreams, gw-export's syslog over
 * TLS) and the text of OpenSSL's last error.
 */
#ifndef GW_TLS_H
#define GW_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "error.h"

/*
 * Returns a client context: TLS 1.2 or later, partial writes allowed, the
 * peer verified against <ca_file> (a PEM bundle) or the system's store,
 * unless <insecure>.  <what> names the CA option in messages
 * ("--upstream-ca").  NULL with <err> set on failure; the caller frees it
 * with SSL_CTX_free().
 */
SSL_CTX *gw_tls_client_ctx(
    const char *ca_file, int insecure, const char *what, struct gw_error *err);
/* The text of OpenSSL's oldest queued error, and clears the queue. */
void gw_tls_errstr(char *buf, size_t len);

#endif
