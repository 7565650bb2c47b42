// SPDX-License-Identifier: MIT
/*
 * Versioned data directories (see datadir.h): opening or creating one,
 * its marker written atomically and checked, the directory refused when
 * it is someone else's, and the lock with its holder's pid.  The store
 * (store.c) and the spool (gw-export/spool.c) open their directories
 * here and keep the rest of their formats to themselves.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datadir.h"
#include "jscan.h"

/* Room for the file names of a format name up to this long. */
#define NAME_MAX_FORMAT 48

/* The names of a kind's files and what opening needs to report. */
struct ddir {
	const char *path;
	const struct gw_datadir_kind *k;
	char marker[NAME_MAX_FORMAT + 8];      /* "<format>.json" */
	char marker_tmp[NAME_MAX_FORMAT + 12]; /* ".<format>.json.tmp" */
	char lock[NAME_MAX_FORMAT + 8];        /* "<format>.lock" */
};

/* 1 when the directory holds nothing but what a creation leaves. */
static int
dir_is_empty(const struct ddir *d, int dirfd)
{
	struct dirent *de;
	int empty = 1;
	DIR *dir;

	if ((dir = gw_datadir_opendir(dirfd)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, d->lock) == 0 ||
		    strcmp(de->d_name, d->marker_tmp) == 0)
			continue;
		empty = 0;
		break;
	}
	closedir(dir);
	return empty;
}

/* Writes the marker atomically (the caller holds the lock). */
static int
create_marker(const struct ddir *d, int dirfd)
{
	char text[NAME_MAX_FORMAT + 48];
	int fd, len, saved_errno;

	len =
	    snprintf(text, sizeof(text), "{\"format\":\"%s\",\"version\":%d}\n",
	        d->k->format, d->k->version);
	if (len < 0 || (size_t)len >= sizeof(text)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dirfd, d->marker_tmp,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (gw_pwrite_full(fd, text, (size_t)len, 0, NULL) == -1 ||
	    fsync(fd) == -1)
		goto fail;
	close(fd);
	fd = -1;
	if (renameat(dirfd, d->marker_tmp, dirfd, d->marker) == -1 ||
	    fsync(dirfd) == -1)
		goto fail;
	return 0;
fail:
	saved_errno = errno;
	if (fd != -1)
		close(fd);
	(void)unlinkat(dirfd, d->marker_tmp, 0);
	errno = saved_errno;
	return -1;
}

/*
 * Reads and checks the marker.  Returns 0, or -1 with errno ENOENT when
 * there is none, EINVAL when it is not this kind's, EPROTONOSUPPORT for
 * a newer version, or an I/O error; <err> says which.
 */
static int
check_marker(const struct ddir *d, int dirfd, struct gw_error *err)
{
	static const struct gw_jfield f[] = {
		GW_JFIELD("format", 0, NULL),
		GW_JFIELD("version", 1, NULL),
	};
	static const struct gw_jschema schema = GW_JSCHEMA(f);
	size_t flen = strlen(d->k->format);
	struct gw_jval v[2];
	char buf[4096];
	int64_t version;
	long n;
	int fd;

	fd = openat(dirfd, d->marker, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT)
			gw_error_sys(err, d->path, d->marker);
		return -1;
	}
	n = gw_pread_full(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n == -1) {
		gw_error_sys(err, d->path, d->marker);
		return -1;
	}
	memset(v, 0, sizeof(v));
	if (gw_jscan(buf, (size_t)n, &schema, v) == -1 ||
	    v[0].type != GW_JSTRING || v[0].len != flen ||
	    memcmp(v[0].p, d->k->format, flen) != 0 ||
	    gw_jscan_int(&v[1], &version) == -1 || version < 1) {
		gw_error_set(err, NULL, 0, 0,
		    "%s: not a %s (%s is not a %s marker)", d->path, d->k->name,
		    d->marker, d->k->name);
		errno = EINVAL;
		return -1;
	}
	if (version > d->k->version) {
		gw_error_set(err, NULL, 0, 0,
		    "%s: %s format version %lld is newer than this %s supports "
		    "(%d)",
		    d->path, d->k->noun, (long long)version, d->k->program,
		    d->k->version);
		errno = EPROTONOSUPPORT;
		return -1;
	}
	return 0;
}

/* Takes the lock into <dd>, or fails with EBUSY naming the holder. */
static int
take_lock(const struct ddir *d, struct gw_datadir *dd, struct gw_error *err)
{
	char buf[32];
	long n;
	int len;

	dd->lockfd =
	    openat(dd->dirfd, d->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (dd->lockfd == -1) {
		gw_error_sys(err, d->path, d->lock);
		return -1;
	}
	if (flock(dd->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			gw_error_sys(err, d->path, "lock");
			return -1;
		}
		n = gw_pread_full(dd->lockfd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		gw_error_set(err, NULL, 0, 0,
		    "%s: the %s is in use by another %s (pid %s)", d->path,
		    d->k->noun, d->k->holder, buf[0] != '\0' ? buf : "unknown");
		errno = EBUSY;
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(dd->lockfd, 0) == -1 ||
	    gw_pwrite_full(dd->lockfd, buf, (size_t)len, 0, NULL) == -1) {
		gw_error_sys(err, d->path, d->lock);
		return -1;
	}
	return 0;
}

/* mkdir with mode 0700, or mkdir -p with <parents>. */
static int
make_dir(const char *path, int parents)
{
	char *p, *s, c;
	int rc = 0;

	if (!parents || path[0] == '\0')
		return mkdir(path, 0700) == -1 && errno != EEXIST ? -1 : 0;
	if ((p = strdup(path)) == NULL)
		return -1;
	for (s = p + 1; rc == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			rc = -1;
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

int
gw_datadir_open(struct gw_datadir *dd, const char *path,
    const struct gw_datadir_kind *kind, int flags, struct gw_error *err)
{
	struct ddir d;
	int saved_errno, empty;

	dd->dirfd = dd->lockfd = -1;
	d.path = path;
	d.k = kind;
	if (strlen(kind->format) > NAME_MAX_FORMAT) {
		gw_error_set(err, NULL, 0, 0, "%s: format name too long", path);
		errno = EINVAL;
		return -1;
	}
	(void)snprintf(d.marker, sizeof(d.marker), "%s.json", kind->format);
	(void)snprintf(
	    d.marker_tmp, sizeof(d.marker_tmp), ".%s.json.tmp", kind->format);
	(void)snprintf(d.lock, sizeof(d.lock), "%s.lock", kind->format);
	if (flags & GW_DATADIR_CREATE)
		flags |= GW_DATADIR_LOCK;

	dd->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dd->dirfd == -1 && errno == ENOENT && (flags & GW_DATADIR_CREATE)) {
		if (make_dir(path, flags & GW_DATADIR_PARENTS) == -1) {
			gw_error_sys(err, path, "mkdir");
			goto fail;
		}
		dd->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dd->dirfd == -1) {
		gw_error_sys(err, path, "open");
		goto fail;
	}
	if (check_marker(&d, dd->dirfd, err) == 0) {
		if ((flags & GW_DATADIR_LOCK) && take_lock(&d, dd, err) == -1)
			goto fail;
		return 0;
	}
	if (errno != ENOENT)
		goto fail;
	/* Never touch a directory that has anything else in it. */
	if ((empty = dir_is_empty(&d, dd->dirfd)) == -1) {
		gw_error_sys(err, path, "read");
		goto fail;
	}
	if (!empty) {
		gw_error_set(err, NULL, 0, 0,
		    "%s: not a %s (it holds other files and no %s); refusing "
		    "to use it",
		    path, kind->name, d.marker);
		errno = EINVAL;
		goto fail;
	}
	if (!(flags & GW_DATADIR_CREATE)) {
		gw_error_set(
		    err, NULL, 0, 0, "%s: no %s here yet", path, kind->noun);
		errno = ENOENT;
		goto fail;
	}
	if (take_lock(&d, dd, err) == -1)
		goto fail;
	/* Under the lock, so that no other process creates it too. */
	if (check_marker(&d, dd->dirfd, err) == -1) {
		if (errno != ENOENT)
			goto fail;
		if (create_marker(&d, dd->dirfd) == -1) {
			gw_error_sys(err, path, d.marker);
			goto fail;
		}
	}
	return 0;
fail:
	saved_errno = errno;
	gw_datadir_close(dd);
	errno = saved_errno;
	return -1;
}

void
gw_datadir_close(struct gw_datadir *dd)
{
	if (dd == NULL)
		return;
	if (dd->lockfd != -1)
		close(dd->lockfd);
	dd->lockfd = -1;
	if (dd->dirfd != -1)
		close(dd->dirfd);
	dd->dirfd = -1;
}

DIR *
gw_datadir_opendir(int dirfd)
{
	int fd, saved_errno;
	DIR *d;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
	}
	return d;
}

long
gw_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	ssize_t k;

	while (got < n) {
		k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (k == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (long)got;
}

int
gw_pwrite_full(int fd, const void *buf, size_t n, uint64_t off, size_t *done)
{
	size_t put = 0;
	ssize_t k;

	while (put < n) {
		k = pwrite(
		    fd, (const char *)buf + put, n - put, (off_t)(off + put));
		if (k == -1) {
			if (errno == EINTR)
				continue;
			if (done != NULL)
				*done = put;
			return -1;
		}
		put += (size_t)k;
	}
	if (done != NULL)
		*done = put;
	return 0;
}
