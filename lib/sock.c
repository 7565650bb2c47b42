/* SPDX-License-Identifier: MIT */
/*
 * Socket helpers (see sock.h): numeric address parsing and printing,
 * resolution for start-up, and TCP and Unix stream sockets that are always
 * non-blocking and close-on-exec, so that no caller forgets either.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

/* Every socket we make: never blocking, never leaked into a child. */
#define SOCK_FLAGS (SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC)

/* Parses a decimal port 0-65535: digits only, no sign, no spaces. */
static int
port_parse(const char *s, in_port_t *port)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0')
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -1;
	}
	*port = htons((in_port_t)v);
	return 0;
}

int
gw_addr_parse(const char *s, struct gw_addr *a)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	char host[INET6_ADDRSTRLEN];
	const char *colon, *end;
	in_port_t port;
	size_t n;

	memset(a, 0, sizeof(*a));
	if (s == NULL)
		goto fail;
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			goto fail;
		n = (size_t)(end - s - 1);
		if (n == 0 || n >= sizeof(host))
			goto fail;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (port_parse(end + 2, &port) == -1 ||
		    inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			goto fail;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		a->len = sizeof(*sin6);
		return 0;
	}
	/* A bare IPv6 address ("::1:80") is ambiguous: brackets required. */
	if ((colon = strchr(s, ':')) == NULL || strchr(colon + 1, ':') != NULL)
		goto fail;
	if (port_parse(colon + 1, &port) == -1)
		goto fail;
	n = (size_t)(colon - s);
	if (n == 0)
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else {
		if (n >= sizeof(host))
			goto fail;
		memcpy(host, s, n);
		host[n] = '\0';
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			goto fail;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = port;
	a->len = sizeof(*sin);
	return 0;
fail:
	memset(a, 0, sizeof(*a));
	errno = EINVAL;
	return -1;
}

int
gw_addr_resolve(const char *host, const char *port, struct gw_addr *a)
{
	struct addrinfo hints, *res;
	char name[NI_MAXHOST];
	in_port_t p;
	size_t n;
	int rc;

	memset(a, 0, sizeof(*a));
	if (host == NULL || port == NULL || port_parse(port, &p) == -1) {
		errno = EINVAL;
		return -1;
	}
	/* Accept the bracketed form users copy from URLs: "[::1]". */
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(name)) {
		errno = n == 0 ? EINVAL : ENOENT;
		return -1;
	}
	memcpy(name, host, n);
	name[n] = '\0';

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(name, port, &hints, &res);
	switch (rc) {
	case 0:
		break;
	case EAI_SYSTEM:
		return -1;
	case EAI_AGAIN:
		errno = EAGAIN;
		return -1;
	case EAI_MEMORY:
		errno = ENOMEM;
		return -1;
	default:
		errno = ENOENT;
		return -1;
	}
	if (res == NULL || res->ai_addrlen > sizeof(a->ss)) {
		if (res != NULL)
			freeaddrinfo(res);
		errno = ENOENT;
		return -1;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

void
gw_addr_ip(const struct gw_addr *a, char *buf, size_t len)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	char tmp[INET6_ADDRSTRLEN];

	if (len == 0)
		return;
	switch (a->ss.ss_family) {
	case AF_INET:
		if (inet_ntop(AF_INET, &sin->sin_addr, tmp, sizeof(tmp)))
			snprintf(buf, len, "%s", tmp);
		else
			snprintf(buf, len, "?");
		return;
	case AF_INET6:
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, tmp, sizeof(tmp)))
			snprintf(buf, len, "%s", tmp);
		else
			snprintf(buf, len, "?");
		return;
	case AF_UNIX:
		snprintf(buf, len, "unix");
		return;
	default:
		break;
	}
	snprintf(buf, len, "?");
}

void
gw_addr_str(const struct gw_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (len == 0)
		return;
	gw_addr_ip(a, ip, sizeof(ip));
	switch (a->ss.ss_family) {
	case AF_INET:
		snprintf(buf, len, "%s:%d", ip, gw_addr_port(a));
		break;
	case AF_INET6:
		snprintf(buf, len, "[%s]:%d", ip, gw_addr_port(a));
		break;
	default:
		snprintf(buf, len, "%s", ip);
		break;
	}
}

int
gw_addr_port(const struct gw_addr *a)
{
	switch (a->ss.ss_family) {
	case AF_INET:
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	case AF_INET6:
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	default:
		return -1;
	}
}

/* Closes <fd> keeping errno, for failure paths. */
static void
close_keep_errno(int fd)
{
	int saved_errno = errno;

	close(fd);
	errno = saved_errno;
}

int
gw_listen_tcp(const struct gw_addr *a, int backlog)
{
	int fd, on = 1;

	fd = socket(a->ss.ss_family, SOCK_FLAGS, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	/*
	 * "[::]:80" means IPv6 only, as in nginx, whatever the sysctl says:
	 * "0.0.0.0:80" can then be bound next to it.
	 */
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1)
		goto fail;
	if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) == -1)
		goto fail;
	return fd;
fail:
	close_keep_errno(fd);
	return -1;
}

/* Fills <sun> for <path>; ENAMETOOLONG if it does not fit. */
static int
unix_addr(const char *path, struct sockaddr_un *sun)
{
	size_t n = strlen(path);

	memset(sun, 0, sizeof(*sun));
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	if (n >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n + 1);
	return 0;
}

/*
 * Removes the socket file at <path> if no one listens on it any more.
 * Refuses to touch anything but a socket (EEXIST) or a live socket
 * (EADDRINUSE): unlinking those would destroy a file or hijack a server.
 */
static int
unix_remove_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_FLAGS, 0);
	if (fd == -1)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close_keep_errno(fd);
	if (rc == 0 || errno == EAGAIN) {
		errno = EADDRINUSE;
		return -1;
	}
	if (errno != ECONNREFUSED)
		return errno == ENOENT ? 0 : -1;
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

int
gw_listen_unix(const char *path, int mode, int backlog)
{
	struct sockaddr_un sun;
	mode_t old_mask;
	int fd, rc, bound = 0;

	if (unix_addr(path, &sun) == -1)
		return -1;
	if (unix_remove_stale(path, &sun) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_FLAGS, 0);
	if (fd == -1)
		return -1;
	/*
	 * Create the file with no more than <mode> so that it is never open
	 * wider, even for the moment before chmod(2).
	 */
	old_mask = umask((mode_t)~mode & 0777);
	rc = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (rc == -1)
		goto fail;
	bound = 1;
	if (chmod(path, (mode_t)mode & 07777) == -1)
		goto fail;
	if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) == -1)
		goto fail;
	return fd;
fail:
	close_keep_errno(fd);
	if (bound) {
		rc = errno;
		unlink(path);
		errno = rc;
	}
	return -1;
}

int
gw_connect_tcp(const struct gw_addr *a)
{
	int fd, on = 1;

	fd = socket(a->ss.ss_family, SOCK_FLAGS, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		goto fail;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == -1 &&
	    errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	close_keep_errno(fd);
	return -1;
}

int
gw_connect_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (unix_addr(path, &sun) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_FLAGS, 0);
	if (fd == -1)
		return -1;
	/* A full backlog fails with EAGAIN: Unix connects never pend. */
	if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) == -1 &&
	    errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	close_keep_errno(fd);
	return -1;
}

int
gw_sock_error(int fd)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

int
gw_accept(int lfd, struct gw_addr *peer)
{
	struct gw_addr tmp;
	int fd, on = 1;

	if (peer == NULL)
		peer = &tmp;
	memset(peer, 0, sizeof(*peer));
	peer->len = sizeof(peer->ss);
	fd = accept4(lfd, (struct sockaddr *)&peer->ss, &peer->len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return -1;
	/* Latency matters more than packet count for proxied requests. */
	if ((peer->ss.ss_family == AF_INET || peer->ss.ss_family == AF_INET6) &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

int
gw_set_nonblock(int fd, int on)
{
	int fl, nfl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	nfl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (nfl != fl && fcntl(fd, F_SETFL, nfl) == -1)
		return -1;
	return 0;
}
