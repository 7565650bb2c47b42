// SPDX-License-Identifier: MIT
/*
 * TLS for gw-proxy with OpenSSL: server contexts for the certificates
 * given with --tls-cert/--tls-key, chosen by SNI; client contexts for
 * https upstreams, verifying by default; and struct pio, the byte stream
 * the rest of the proxy reads and writes whether TLS is on or not.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "gw-proxy.h"
#include "log.h"
#include "tls.h"

/*
 * Chooses the certificate whose names match the client's SNI; the first
 * certificate stays when none does (or no SNI was sent).
 */
static int
sni_cb(SSL *ssl, int *al, void *arg)
{
	struct pconf *pc = arg;
	const char *name;
	X509 *x;
	size_t i;

	(void)al;
	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL || pc->n_certs < 2)
		return SSL_TLSEXT_ERR_OK;
	for (i = 0; i < pc->n_certs; i++) {
		x = SSL_CTX_get0_certificate(pc->certs[i].ctx);
		if (x != NULL &&
		    X509_check_host(x, name, strlen(name), 0, NULL) == 1) {
			SSL_set_SSL_CTX(ssl, pc->certs[i].ctx);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
server_ctx(
    struct pconf *pc, const char *cert, const char *key, struct gw_error *err)
{
	char es[256];
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		gw_tls_errstr(es, sizeof(es));
		gw_error_set(err, NULL, 0, 0, "TLS: %s", es);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx,
	    SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	        SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	        SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		gw_tls_errstr(es, sizeof(es));
		gw_error_set(err, NULL, 0, 0,
		    "--tls-cert %s: cannot load certificate: %s", cert, es);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		gw_tls_errstr(es, sizeof(es));
		gw_error_set(err, NULL, 0, 0,
		    "--tls-key %s: cannot load private key: %s", key, es);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		gw_error_set(err, NULL, 0, 0,
		    "--tls-key %s does not match certificate %s", key, cert);
		ERR_clear_error();
		goto fail;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, pc);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * Loads every certificate/key pair of <pc> into a server context.
 * Returns 0, or -1 with <err> naming the file that failed.
 */
int
tls_server_init(struct pconf *pc, struct gw_error *err)
{
	size_t i;

	if (pc->o.tls_cert.n != pc->o.tls_key.n) {
		gw_error_set(err, NULL, 0, 0,
		    "%zu --tls-cert but %zu --tls-key: give them in pairs",
		    pc->o.tls_cert.n, pc->o.tls_key.n);
		return -1;
	}
	if (pc->o.tls_cert.n == 0)
		return 0;
	pc->certs = calloc(pc->o.tls_cert.n, sizeof(*pc->certs));
	if (pc->certs == NULL) {
		gw_error_set(err, NULL, 0, 0, "out of memory");
		return -1;
	}
	for (i = 0; i < pc->o.tls_cert.n; i++) {
		pc->certs[i].cert_file = pc->o.tls_cert.v[i];
		pc->certs[i].key_file = pc->o.tls_key.v[i];
		pc->certs[i].ctx = server_ctx(
		    pc, pc->o.tls_cert.v[i], pc->o.tls_key.v[i], err);
		if (pc->certs[i].ctx == NULL)
			return -1;
		pc->n_certs = i + 1;
	}
	return 0;
}

/* Frees the server contexts of <pc>. */
void
tls_conf_free(struct pconf *pc)
{
	size_t i;

	for (i = 0; i < pc->n_certs; i++)
		SSL_CTX_free(pc->certs[i].ctx);
	free(pc->certs);
	pc->certs = NULL;
	pc->n_certs = 0;
}

/*
 * Drives the TLS handshake.  Returns 1 when done, 0 when it needs the
 * socket to become readable or writable (p->want says which), -1 on
 * failure.
 */
int
pio_handshake(struct pio *p)
{
	int r, e;

	ERR_clear_error();
	r = SSL_do_handshake(p->ssl);
	if (r == 1) {
		p->hs_done = 1;
		p->want = GW_READ;
		return 1;
	}
	e = SSL_get_error(p->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		p->want = GW_READ;
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		p->want = GW_WRITE;
		return 0;
	}
	ERR_clear_error();
	errno = EPROTO;
	return -1;
}

/*
 * Reads up to <n> bytes.  Returns the count, 0 at end of stream, or -1
 * with errno set (EAGAIN: try again when p->want says).
 */
ssize_t
pio_read(struct pio *p, void *buf, size_t n)
{
	ssize_t r;
	int e;

	if (p->ssl == NULL) {
		do
			r = read(p->fd, buf, n);
		while (r == -1 && errno == EINTR);
		return r;
	}
	ERR_clear_error();
	r = SSL_read(p->ssl, buf, (int)(n > INT32_MAX ? INT32_MAX : n));
	if (r > 0)
		return r;
	e = SSL_get_error(p->ssl, (int)r);
	switch (e) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		/* Renegotiation is off; a key update may still want this. */
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno == 0)
			return 0; /* unclean EOF: treat as end */
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

/* Writes up to <n> bytes; same results as pio_read(). */
ssize_t
pio_write(struct pio *p, const void *buf, size_t n)
{
	ssize_t r;
	int e;

	if (n == 0)
		return 0;
	if (p->ssl == NULL) {
		do
			r = send(p->fd, buf, n, MSG_NOSIGNAL);
		while (r == -1 && errno == EINTR);
		return r;
	}
	ERR_clear_error();
	r = SSL_write(p->ssl, buf, (int)(n > INT32_MAX ? INT32_MAX : n));
	if (r > 0)
		return r;
	e = SSL_get_error(p->ssl, (int)r);
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	if (e != SSL_ERROR_SYSCALL || errno == 0)
		errno = EPIPE;
	return -1;
}

/* Stops watching, shuts TLS down without waiting, and closes the socket. */
void
pio_close(struct pio *p)
{
	gw_io_stop(P.loop, &p->io);
	if (p->ssl != NULL) {
		if (p->hs_done)
			(void)SSL_shutdown(p->ssl);
		ERR_clear_error();
		SSL_free(p->ssl);
		p->ssl = NULL;
	}
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
}

/* "1.2" or "1.3" for a TLS stream, NULL for plain TCP. */
const char *
pio_tls_version(const struct pio *p)
{
	if (p->ssl == NULL)
		return NULL;
	switch (SSL_version(p->ssl)) {
	case TLS1_3_VERSION:
		return "1.3";
	case TLS1_2_VERSION:
		return "1.2";
	default:
		return SSL_get_version(p->ssl);
	}
}

/* The IANA/OpenSSL name of the negotiated cipher, NULL for plain TCP. */
const char *
pio_tls_cipher(const struct pio *p)
{
	const SSL_CIPHER *c;

	if (p->ssl == NULL || (c = SSL_get_current_cipher(p->ssl)) == NULL)
		return NULL;
	return SSL_CIPHER_standard_name(c);
}
