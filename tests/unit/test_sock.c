/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/sock.c: address parsing and printing round trips
 * (IPv4, IPv6, ":port") and the inputs that must be refused; listen,
 * connect and accept over loopback TCP and a Unix socket, with the flags
 * every descriptor promises; the Unix socket's mode and its refusal to
 * replace anything but a stale socket.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "sock.h"

/* Generous: the machine may be busy, and nothing here should be slow. */
#define WAIT_MS 10000

/* Waits for <events> on <fd>; returns the revents, 0 on timeout. */
static int
wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, WAIT_MS) != 1)
		return 0;
	return p.revents;
}

/* Does <fd> have both O_NONBLOCK and FD_CLOEXEC? */
static int
nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	return fl != -1 && (fl & O_NONBLOCK) && fdfl != -1 &&
	    (fdfl & FD_CLOEXEC);
}

static int
nodelay(int fd)
{
	socklen_t len = sizeof(int);
	int on = 0;

	return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on;
}

/* Fills <a> with the local address of <fd>; returns 0 or -1. */
static int
local_addr(int fd, struct gw_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->len = sizeof(a->ss);
	return getsockname(fd, (struct sockaddr *)&a->ss, &a->len);
}

/* Parses <in> and checks that it prints back as <out>. */
static int
round_trip(const char *in, const char *out, int port)
{
	struct gw_addr a;
	char buf[GW_ADDRSTRLEN];

	if (gw_addr_parse(in, &a) == -1) {
		fprintf(stderr, "parse failed: %s\n", in);
		return 0;
	}
	gw_addr_str(&a, buf, sizeof(buf));
	if (strcmp(buf, out) != 0 || gw_addr_port(&a) != port) {
		fprintf(stderr, "%s -> %s (%d)\n", in, buf, gw_addr_port(&a));
		return 0;
	}
	/* And what it printed parses to the same address. */
	if (gw_addr_parse(buf, &a) == -1)
		return 0;
	gw_addr_str(&a, buf, sizeof(buf));
	return strcmp(buf, out) == 0;
}

TEST(test_addr_parse)
{
	struct gw_addr a;
	char buf[GW_ADDRSTRLEN];

	CHECK(round_trip("127.0.0.1:8080", "127.0.0.1:8080", 8080));
	CHECK(round_trip(":8080", "0.0.0.0:8080", 8080));
	CHECK(round_trip("0.0.0.0:0", "0.0.0.0:0", 0));
	CHECK(round_trip("10.1.2.3:65535", "10.1.2.3:65535", 65535));
	CHECK(round_trip("[::1]:8080", "[::1]:8080", 8080));
	CHECK(round_trip("[::]:80", "[::]:80", 80));
	CHECK(round_trip("[2001:DB8:0:0::1]:443", "[2001:db8::1]:443", 443));
	CHECK(round_trip("[::ffff:192.0.2.1]:1", "[::ffff:192.0.2.1]:1", 1));
	CHECK(round_trip("[fe80::1:2:3:4]:8", "[fe80::1:2:3:4]:8", 8));
	CHECK(round_trip("1.2.3.4:007", "1.2.3.4:7", 7));

	/* The longest form fits GW_ADDRSTRLEN. */
	CHECK(round_trip("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", 65535));
	CHECK(gw_addr_parse(
	          "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:1", &a) == 0);
	gw_addr_ip(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

	CHECK(gw_addr_parse("192.168.0.1:80", &a) == 0);
	CHECK(a.ss.ss_family == AF_INET && a.len == sizeof(struct sockaddr_in));
	gw_addr_ip(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "192.168.0.1");
	/* Small buffers are cut, never overrun. */
	gw_addr_str(&a, buf, 5);
	CHECK_STREQ(buf, "192.");
	CHECK(gw_addr_parse("[::1]:80", &a) == 0);
	CHECK(a.ss.ss_family == AF_INET6);
	CHECK(a.len == sizeof(struct sockaddr_in6));
	gw_addr_ip(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "::1");
}

TEST(test_addr_parse_bad)
{
	static const char *const bad[] = {
		"",
		":",
		"8080",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:65536",
		"127.0.0.1:99999999999999999999",
		"127.0.0.1:-1",
		"127.0.0.1:+80",
		"127.0.0.1:80x",
		"127.0.0.1: 80",
		" 127.0.0.1:80",
		"127.0.0.1:80:80",
		"1.2.3:80",
		"256.1.1.1:80",
		"localhost:80",
		"::1:80",
		"::1",
		"[::1]",
		"[::1]80",
		"[::1:80",
		"[]:80",
		"[127.0.0.1]:80",
		"[::1]:",
		"[::1]:80]",
		"[fe80::1%lo]:80",
		"[::1::2]:80",
	};
	struct gw_addr a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if (gw_addr_parse(bad[i], &a) != -1 || errno != EINVAL) {
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
			CHECK(!"bad address accepted");
		}
	}
	errno = 0;
	CHECK(gw_addr_parse(NULL, &a) == -1 && errno == EINVAL);
}

TEST(test_addr_resolve)
{
	struct gw_addr a;
	char buf[GW_ADDRSTRLEN];

	CHECK(gw_addr_resolve("127.0.0.1", "80", &a) == 0);
	gw_addr_str(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "127.0.0.1:80");
	CHECK(gw_addr_resolve("::1", "443", &a) == 0);
	gw_addr_str(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "[::1]:443");
	CHECK(gw_addr_resolve("[::1]", "443", &a) == 0);
	gw_addr_str(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "[::1]:443");
	/* localhost comes from /etc/hosts: either family will do. */
	CHECK(gw_addr_resolve("localhost", "8080", &a) == 0);
	CHECK(a.ss.ss_family == AF_INET || a.ss.ss_family == AF_INET6);
	CHECK(gw_addr_port(&a) == 8080);

	errno = 0;
	CHECK(gw_addr_resolve("::1", "http", &a) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(gw_addr_resolve("::1", "65536", &a) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(gw_addr_resolve("127.0.0.1", "", &a) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(gw_addr_resolve("", "80", &a) == -1 && errno == EINVAL);
	/* RFC 6761: .invalid never resolves (EAGAIN without a resolver). */
	errno = 0;
	CHECK(gw_addr_resolve("gw-test.invalid", "80", &a) == -1 &&
	    (errno == ENOENT || errno == EAGAIN));
}

/* Connects a client to listening <lfd> and checks both ends. */
static void
check_tcp_pair(int lfd, int family)
{
	struct gw_addr bound, peer, local;
	char buf[GW_ADDRSTRLEN];
	int cfd, afd;

	CHECK(local_addr(lfd, &bound) == 0);
	CHECK(gw_addr_port(&bound) > 0);

	cfd = gw_connect_tcp(&bound);
	CHECK(cfd != -1);
	if (cfd == -1)
		return;
	CHECK(nonblock_cloexec(cfd) && nodelay(cfd));
	CHECK(wait_fd(cfd, POLLOUT) & POLLOUT);
	CHECK(gw_sock_error(cfd) == 0);

	CHECK(wait_fd(lfd, POLLIN) & POLLIN);
	afd = gw_accept(lfd, &peer);
	CHECK(afd != -1);
	if (afd != -1) {
		CHECK(nonblock_cloexec(afd) && nodelay(afd));
		CHECK(peer.ss.ss_family == family);
		/* The peer is the client's local address. */
		CHECK(local_addr(cfd, &local) == 0);
		CHECK(gw_addr_port(&peer) == gw_addr_port(&local));
		gw_addr_ip(&peer, buf, sizeof(buf));
		CHECK_STREQ(buf, family == AF_INET ? "127.0.0.1" : "::1");

		/* Bytes go both ways. */
		CHECK(write(cfd, "ping", 4) == 4);
		CHECK(wait_fd(afd, POLLIN) & POLLIN);
		CHECK(read(afd, buf, sizeof(buf)) == 4 &&
		    memcmp(buf, "ping", 4) == 0);
		CHECK(write(afd, "pong", 4) == 4);
		CHECK(wait_fd(cfd, POLLIN) & POLLIN);
		CHECK(read(cfd, buf, sizeof(buf)) == 4 &&
		    memcmp(buf, "pong", 4) == 0);
		close(afd);
	}
	/* Nothing else waiting: accept says so without blocking. */
	errno = 0;
	CHECK(gw_accept(lfd, NULL) == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK));
	close(cfd);
}

TEST(test_tcp)
{
	struct gw_addr a, bound;
	int lfd, lfd2, on = 0;
	socklen_t len = sizeof(on);

	CHECK(gw_addr_parse("127.0.0.1:0", &a) == 0);
	lfd = gw_listen_tcp(&a, 16);
	CHECK(lfd != -1);
	if (lfd == -1)
		return;
	CHECK(nonblock_cloexec(lfd));
	CHECK(getsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, &len) == 0 && on);
	check_tcp_pair(lfd, AF_INET);

	/* The port is taken now. */
	CHECK(local_addr(lfd, &bound) == 0);
	errno = 0;
	lfd2 = gw_listen_tcp(&bound, 16);
	CHECK(lfd2 == -1 && errno == EADDRINUSE);
	if (lfd2 != -1)
		close(lfd2);
	close(lfd);

	/* IPv6 loopback, where the machine has it. */
	CHECK(gw_addr_parse("[::1]:0", &a) == 0);
	lfd = gw_listen_tcp(&a, 0);
	if (lfd == -1)
		CHECK(errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL);
	else {
		check_tcp_pair(lfd, AF_INET6);
		close(lfd);
	}
}

TEST(test_tcp_refused)
{
	struct gw_addr a, bound;
	int lfd, cfd, err;

	/* Learn a free port, then close it: connecting is refused. */
	CHECK(gw_addr_parse("127.0.0.1:0", &a) == 0);
	lfd = gw_listen_tcp(&a, 1);
	CHECK(lfd != -1);
	if (lfd == -1)
		return;
	CHECK(local_addr(lfd, &bound) == 0);
	close(lfd);
	cfd = gw_connect_tcp(&bound);
	if (cfd == -1) {
		/* Some kernels refuse loopback connects on the spot. */
		CHECK(errno == ECONNREFUSED);
		return;
	}
	CHECK(wait_fd(cfd, POLLOUT) != 0);
	err = gw_sock_error(cfd);
	CHECK(err == ECONNREFUSED);
	close(cfd);
}

/* A fresh temporary directory for Unix sockets, in <dir>. */
static int
tmp_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/gw-test-sock-XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

TEST(test_unix)
{
	char dir[64], path[128], buf[8];
	struct gw_addr peer;
	struct stat st;
	int lfd, lfd2, cfd, afd, fd;

	CHECK(tmp_dir(dir, sizeof(dir)) == 0);
	snprintf(path, sizeof(path), "%s/s.sock", dir);

	lfd = gw_listen_unix(path, 0600, 8);
	CHECK(lfd != -1);
	if (lfd == -1)
		return;
	CHECK(nonblock_cloexec(lfd));
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    (st.st_mode & 07777) == 0600);

	cfd = gw_connect_unix(path);
	CHECK(cfd != -1 && nonblock_cloexec(cfd));
	CHECK(wait_fd(lfd, POLLIN) & POLLIN);
	afd = gw_accept(lfd, &peer);
	CHECK(afd != -1 && nonblock_cloexec(afd));
	CHECK(peer.ss.ss_family == AF_UNIX);
	if (cfd != -1 && afd != -1) {
		CHECK(write(cfd, "hi", 2) == 2);
		CHECK(wait_fd(afd, POLLIN) & POLLIN);
		CHECK(read(afd, buf, sizeof(buf)) == 2);
	}
	if (afd != -1)
		close(afd);
	if (cfd != -1)
		close(cfd);

	/* Someone listens: the socket is not stale and is left alone. */
	errno = 0;
	lfd2 = gw_listen_unix(path, 0600, 8);
	CHECK(lfd2 == -1 && errno == EADDRINUSE);
	if (lfd2 != -1)
		close(lfd2);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));

	/* The listener died without unlinking: the stale file is replaced. */
	close(lfd);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	lfd = gw_listen_unix(path, 0660, 8);
	CHECK(lfd != -1);
	CHECK(lstat(path, &st) == 0 && (st.st_mode & 07777) == 0660);
	if (lfd != -1)
		close(lfd);
	unlink(path);

	/* A regular file is never removed. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd != -1);
	if (fd != -1) {
		CHECK(write(fd, "keep", 4) == 4);
		close(fd);
	}
	errno = 0;
	CHECK(gw_listen_unix(path, 0600, 8) == -1 && errno == EEXIST);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
	unlink(path);

	/* Nor a directory. */
	CHECK(mkdir(path, 0700) == 0);
	errno = 0;
	CHECK(gw_listen_unix(path, 0600, 8) == -1 && errno == EEXIST);
	rmdir(path);

	/* Nothing listening: connect fails at once. */
	errno = 0;
	CHECK(gw_connect_unix(path) == -1 && errno == ENOENT);

	/* Too long for sun_path. */
	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	errno = 0;
	CHECK(gw_listen_unix(path, 0600, 8) == -1 && errno == ENAMETOOLONG);
	rmdir(dir);
}

TEST(test_set_nonblock)
{
	int p[2];

	CHECK(pipe(p) == 0);
	CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
	CHECK(gw_set_nonblock(p[0], 1) == 0);
	CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	CHECK(gw_set_nonblock(p[0], 1) == 0);
	CHECK(gw_set_nonblock(p[0], 0) == 0);
	CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
	close(p[0]);
	close(p[1]);
	errno = 0;
	CHECK(gw_set_nonblock(p[0], 1) == -1 && errno == EBADF);
}

int
main(void)
{
	RUN(test_addr_parse);
	RUN(test_addr_parse_bad);
	RUN(test_addr_resolve);
	RUN(test_tcp);
	RUN(test_tcp_refused);
	RUN(test_unix);
	RUN(test_set_nonblock);
	return harness_done();
}
