// SPDX-License-Identifier: MIT
/*
 * OpenSSL helpers shared by binaries; see tls.h.
 */
#include <stdio.h>

#include <openssl/err.h>

#include "tls.h"

void
gw_tls_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "unknown TLS error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

SSL_CTX *
gw_tls_client_ctx(
    const char *ca_file, int insecure, const char *what, struct gw_error *err)
{
	char es[256];
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		gw_tls_errstr(es, sizeof(es));
		gw_error_set(err, NULL, 0, 0, "TLS: %s", es);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx,
	    SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	        SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			gw_tls_errstr(es, sizeof(es));
			gw_error_set(err, NULL, 0, 0, "%s %s: cannot load: %s",
			    what, ca_file, es);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();
	return ctx;
}
