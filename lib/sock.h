/* SPDX-License-Identifier: MIT */
/*
 * Socket helpers: parsing "host:port" and "[v6]:port", listening and
 * non-blocking connecting over TCP and Unix stream sockets, and printing
 * addresses.  Every descriptor returned is non-blocking and close-on-exec.
 */
#ifndef GW_SOCK_H
#define GW_SOCK_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <stddef.h>

struct gw_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Longest "[v6]:port" form, NUL included. */
#define GW_ADDRSTRLEN (46 + 8)

/*
 * Parses a numeric "ADDR:PORT", "[V6]:PORT" or ":PORT" (all interfaces,
 * IPv4) into <a>.  No name resolution.  Returns 0, or -1 with errno EINVAL.
 */
int gw_addr_parse(const char *, struct gw_addr *);
/*
 * Resolves "HOST" and numeric "PORT" with getaddrinfo(3) (blocking; for
 * start-up and reload only) into the first address found.  Returns 0, or
 * -1 with errno set (EINVAL for a bad port, ENOENT for an unknown host).
 */
int gw_addr_resolve(const char *host, const char *port, struct gw_addr *);
/* Writes the IP without port ("127.0.0.1", "::1") into buf. */
void gw_addr_ip(const struct gw_addr *, char *buf, size_t len);
/* Writes "127.0.0.1:80" or "[::1]:80" into buf. */
void gw_addr_str(const struct gw_addr *, char *buf, size_t len);
int gw_addr_port(const struct gw_addr *);

/*
 * Returns a listening TCP socket bound to <a> with SO_REUSEADDR, or -1 with
 * errno set.
 */
int gw_listen_tcp(const struct gw_addr *, int backlog);
/*
 * Returns a listening Unix stream socket at <path> with mode <mode>,
 * removing a stale socket file first (but refusing any other kind of file:
 * EEXIST).  Returns -1 with errno set on failure.
 */
int gw_listen_unix(const char *path, int mode, int backlog);
/*
 * Starts a non-blocking connect to <a>.  Returns the socket (the connect may
 * still be in progress: wait for writability, then gw_sock_error()), or -1
 * with errno set.  TCP sockets get TCP_NODELAY.
 */
int gw_connect_tcp(const struct gw_addr *);
/* Blocking-free connect to a Unix socket; same contract as above. */
int gw_connect_unix(const char *path);
/* Returns the pending SO_ERROR of <fd> (0 when connected). */
int gw_sock_error(int fd);
/*
 * accept4(2) wrapper returning a non-blocking, close-on-exec socket with
 * TCP_NODELAY for TCP, its peer address in <peer>.  -1 with errno set.
 */
int gw_accept(int lfd, struct gw_addr *peer);
/* Sets O_NONBLOCK on fd; returns 0 or -1. */
int gw_set_nonblock(int fd, int on);

#endif
