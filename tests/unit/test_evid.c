// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/evid.c: the id's shape, that ids sort as strings in
 * the order they were made (even many in one microsecond, even when the
 * clock steps back), that they carry their time, that validation refuses
 * what is not an id, and that a forked child does not repeat its parent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evid.h"
#include "harness.h"

#define SEC  1000000000ULL
#define NIDS 100000

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

TEST(shape)
{
	char id[GW_EVID_LEN + 1];
	int i;

	memset(id, 'x', sizeof(id));
	gw_evid_new(1795536526123456789ULL, id);
	CHECK(strlen(id) == 30);
	CHECK(strncmp(id, "ev_", 3) == 0);
	for (i = 3; i < GW_EVID_LEN; i++)
		CHECK((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= 'a' && id[i] <= 'z'));
	CHECK(gw_evid_valid(id, strlen(id)));
}

/*
 * Fixed width: small values keep their leading zeros.  Runs first: ids
 * never go back, so after any later time this one would not be small.
 */
TEST(fixed_width_at_epoch)
{
	char id[GW_EVID_LEN + 1];

	gw_evid_new(0, id);
	CHECK(strlen(id) == 30);
	CHECK(gw_evid_valid(id, 30));
	/* A time zero id is at most 2^96 + sequence: six leading zeros. */
	CHECK(strncmp(id, "ev_000000", 9) == 0);
}

TEST(sorted_and_unique_same_microsecond)
{
	char(*ids)[GW_EVID_LEN + 1];
	uint64_t ns = 1795536600 * SEC;
	int i, bad = 0;

	ids = calloc(NIDS, sizeof(*ids));
	CHECK(ids != NULL);
	if (ids == NULL)
		return;
	/* 100k ids for one instant: the 12-bit sequence overflows 24 times. */
	for (i = 0; i < NIDS; i++) {
		gw_evid_new(ns, ids[i]);
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			bad++;
	}
	CHECK(bad == 0);
	qsort(ids, NIDS, sizeof(*ids), cmp_id);
	for (i = 1; i < NIDS; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			bad++;
	CHECK(bad == 0);
	free(ids);
}

TEST(sorted_and_unique_real_clock)
{
	char(*ids)[GW_EVID_LEN + 1];
	struct timespec ts;
	uint64_t ns;
	int i, bad = 0;

	ids = calloc(NIDS, sizeof(*ids));
	CHECK(ids != NULL);
	if (ids == NULL)
		return;
	for (i = 0; i < NIDS; i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ns = (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
		/* Ahead of the previous test's fixed instant. */
		gw_evid_new(ns + 10 * 365 * 86400 * SEC, ids[i]);
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			bad++;
	}
	CHECK(bad == 0);
	qsort(ids, NIDS, sizeof(*ids), cmp_id);
	for (i = 1; i < NIDS; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			bad++;
	CHECK(bad == 0);
	free(ids);
}

TEST(clock_stepping_back_keeps_order)
{
	char a[GW_EVID_LEN + 1], b[GW_EVID_LEN + 1];
	uint64_t t = 4000000000 * SEC;

	gw_evid_new(t, a);
	gw_evid_new(t - 3600 * SEC, b);
	CHECK(strcmp(a, b) < 0);
	gw_evid_new(t - 7200 * SEC, a);
	CHECK(strcmp(b, a) < 0);
}

TEST(time_round_trip_and_order)
{
	char a[GW_EVID_LEN + 1], b[GW_EVID_LEN + 1];
	/* Later than anything earlier tests made, so the sequence is 0. */
	uint64_t t = 4100000000 * SEC + 123456789;

	gw_evid_new(t, a);
	CHECK(gw_evid_time_ns(a) == t / 1000 * 1000);
	gw_evid_new(t + 1000, b);
	CHECK(gw_evid_time_ns(b) == t / 1000 * 1000 + 1000);
	CHECK(strcmp(a, b) < 0);
	gw_evid_new(t + SEC, a);
	CHECK(strcmp(b, a) < 0);
	CHECK(gw_evid_time_ns(a) == (t + SEC) / 1000 * 1000);
	CHECK(gw_evid_time_ns("ev_bad") == 0);
}

TEST(validation)
{
	char id[GW_EVID_LEN + 1];

	gw_evid_new(4200000000 * SEC, id);
	CHECK(gw_evid_valid(id, 30));
	CHECK(!gw_evid_valid(id, 29));
	CHECK(!gw_evid_valid("", 0));
	CHECK(!gw_evid_valid("ev_", 3));
	id[0] = 'x';
	CHECK(!gw_evid_valid(id, 30));
	id[0] = 'e';
	id[10] = '-';
	CHECK(!gw_evid_valid(id, 30));
	id[10] = '\0';
	CHECK(!gw_evid_valid(id, 30));
	/* KSUID's largest value is 2^160 - 1; one more does not fit. */
	CHECK(gw_evid_valid("ev_aWgEPTl1tmebfsQzFP4bxwgy80V", 30));
	CHECK(!gw_evid_valid("ev_aWgEPTl1tmebfsQzFP4bxwgy80W", 30));
	CHECK(!gw_evid_valid("ev_zzzzzzzzzzzzzzzzzzzzzzzzzzz", 30));
	CHECK(gw_evid_valid("ev_000000000000000000000000000", 30));
	/* The design's own example. */
	CHECK(gw_evid_valid("ev_2pQ1aZk3Y9xWm4Nv8Lr0Tb6Hc2D", 30));
}

/* Parent and child share the generator's state after fork(2). */
TEST(fork_does_not_repeat_ids)
{
	char parent[GW_EVID_LEN + 1], child[GW_EVID_LEN + 1] = "";
	uint64_t t = 4300000000 * SEC;
	int fd[2], status;
	pid_t pid;

	gw_evid_new(t, parent);
	CHECK(pipe(fd) == 0);
	pid = fork();
	CHECK(pid != -1);
	if (pid == 0) {
		gw_evid_new(t + SEC, child);
		_exit(
		    write(fd[1], child, sizeof(child)) == (ssize_t)sizeof(child)
		        ? 0
		        : 1);
	}
	close(fd[1]);
	gw_evid_new(t + SEC, parent);
	CHECK(read(fd[0], child, sizeof(child)) == (ssize_t)sizeof(child));
	close(fd[0]);
	CHECK(waitpid(pid, &status, 0) == pid && status == 0);
	CHECK(gw_evid_valid(child, 30));
	CHECK(strcmp(parent, child) != 0);
	/* Same instant, so only the random part differs. */
	CHECK(gw_evid_time_ns(parent) == gw_evid_time_ns(child));
}

int
main(void)
{
	RUN(fixed_width_at_epoch);
	RUN(shape);
	RUN(sorted_and_unique_same_microsecond);
	RUN(sorted_and_unique_real_clock);
	RUN(clock_stepping_back_keeps_order);
	RUN(time_round_trip_and_order);
	RUN(validation);
	RUN(fork_does_not_repeat_ids);
	return harness_done();
}
