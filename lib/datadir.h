/* SPDX-License-Identifier: MIT */
/*
 * A versioned data directory, the part that gw-capture's store (store.c)
 * and gw-export's spool (spool.c) share: a directory that is recognised
 * by its marker file <format>.json, {"format":"<format>","version":N},
 * that an empty directory turns into and that is refused when it holds
 * anything else, and a lock file <format>.lock that one process at a time
 * holds with flock(2) and fills with its pid, so that the refusal of a
 * second one can name it.  What lives in the directory besides is the
 * caller's business.  Also the small I/O helpers both use: a directory
 * stream over an open directory, and the pread(2)/pwrite(2) loops.
 */
#ifndef GW_DATADIR_H
#define GW_DATADIR_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * What a kind of data directory is called, on disk and in messages
 * (store's words in the comments): "<dir>: not a <name> (...)", "<dir>:
 * <noun> format version 2 is newer than this <program> supports (1)",
 * "<dir>: the <noun> is in use by another <holder> (pid 42)".
 */
struct gw_datadir_kind {
	const char *format;  /* "gw-store": the marker's format, files' stem */
	int version;         /* the newest this build reads and writes */
	const char *name;    /* "gw store" */
	const char *noun;    /* "store" */
	const char *program; /* "gw" */
	const char *holder;  /* "writer" */
};

/* gw_datadir_open() flags. */
#define GW_DATADIR_LOCK    0x01 /* take the lock */
#define GW_DATADIR_CREATE  0x02 /* create what is missing (implies LOCK) */
#define GW_DATADIR_PARENTS 0x04 /* with CREATE: mkdir -p, not mkdir */

/* An open data directory: both descriptors are the caller's to use. */
struct gw_datadir {
	int dirfd;
	int lockfd; /* -1 unless locked */
};

/*
 * Opens the data directory <path> of kind <kind> (both read during the
 * call only) into <dd>.  With GW_DATADIR_CREATE, a missing directory is
 * created (mode 0700; its parents too with GW_DATADIR_PARENTS) and an
 * empty one is given its marker, under the lock.  Refuses, with <err>
 * saying why: a directory with another marker or with other files and
 * no marker (EINVAL), a newer version (EPROTONOSUPPORT), one with no
 * marker yet without GW_DATADIR_CREATE (ENOENT), and, with the lock
 * asked for, one that another process holds (EBUSY, naming its pid).
 * Returns 0, or -1 with errno set and <dd> holding no descriptors.
 */
int gw_datadir_open(struct gw_datadir *dd, const char *path,
    const struct gw_datadir_kind *kind, int flags, struct gw_error *err);
/*
 * Closes both descriptors (the lock goes with its own) and sets them to
 * -1.  Accepts a <dd> that a failed open left, or one closed already.
 */
void gw_datadir_close(struct gw_datadir *dd);

/*
 * A directory stream over the directory open at <dirfd> (a data
 * directory's, or any), on a descriptor of its own so that closedir(3)
 * leaves <dirfd> open.  Returns the stream, to be closed by the caller,
 * or NULL with errno set.
 */
DIR *gw_datadir_opendir(int dirfd);

/*
 * pread(2) until <n> bytes are read or end of file.  Returns the bytes
 * read (fewer than <n> only at end of file), or -1 with errno set.
 * EINTR is retried.
 */
long gw_pread_full(int fd, void *buf, size_t n, uint64_t off);
/*
 * pwrite(2) all <n> bytes at <off>.  Returns 0, or -1 with errno set and
 * *<done> (when <done> is not NULL) the bytes that were written before
 * the failure.  EINTR is retried.
 */
int
gw_pwrite_full(int fd, const void *buf, size_t n, uint64_t off, size_t *done);

#endif
