// SPDX-License-Identifier: MIT
/*
 * Event ids (see evid.h): 160 bits, written as 27 base62 digits behind
 * "ev_".  The high 64 bits are time (KSUID seconds, then microseconds and
 * a 12-bit sequence) and never repeat or go back within a process, so ids
 * from one gw-proxy sort in the order they were made; the low 96 bits are
 * random so that ids from different processes do not collide.  The digit
 * alphabet is in ASCII order and the width fixed, so comparing two ids as
 * strings compares them as numbers.  One id per event on the proxy's hot
 * path: the generator is xoshiro256** seeded once from getrandom(2).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "evid.h"

#define KSUID_EPOCH 1400000000ULL /* 2014-05-13T16:53:20Z */
#define NS_PER_SEC  1000000000ULL
#define EVID_DIGITS 27
#define EVID_WORDS  5            /* 160 bits as big-endian 32-bit words */
#define B62_5       916132832ULL /* 62^5, the largest power below 2^32 */

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static uint64_t rng[4];
static int rng_seeded;
static uint64_t last_hi; /* time and sequence of the last id */

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* xoshiro256** (Blackman and Vigna). */
static uint64_t
rng_next(void)
{
	uint64_t r = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;

	rng[2] ^= rng[0];
	rng[3] ^= rng[1];
	rng[1] ^= rng[2];
	rng[0] ^= rng[3];
	rng[2] ^= t;
	rng[3] = rotl(rng[3], 45);
	return r;
}

/* A forked child must not repeat its parent's random bits. */
static void
rng_forked(void)
{
	rng_seeded = 0;
}

static void
rng_seed(void)
{
	static int atfork_done;
	struct timespec ts;
	uint64_t seed[4], x;
	ssize_t n;
	int i;

	memset(seed, 0, sizeof(seed));
	n = getrandom(seed, sizeof(seed), GRND_NONBLOCK);
	/*
	 * No entropy yet (early boot) or no getrandom: mixing the clock and
	 * the pid still keeps concurrent processes apart, which is all the
	 * random part is for.  It is not a secret.
	 */
	if (n != (ssize_t)sizeof(seed)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
		x ^= (uint64_t)getpid() << 32;
		x ^= (uint64_t)(uintptr_t)&x;
		for (i = 0; i < 4; i++)
			seed[i] ^= splitmix64(&x);
	}
	/* splitmix64 spreads the seed; xoshiro must not start all zero. */
	x = seed[0] ^ seed[1] ^ seed[2] ^ seed[3];
	for (i = 0; i < 4; i++)
		rng[i] = seed[i] ^ splitmix64(&x);
	if (!atfork_done && pthread_atfork(NULL, NULL, rng_forked) == 0)
		atfork_done = 1;
	rng_seeded = 1;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void
gw_evid_new(uint64_t ns, char *buf)
{
	uint64_t sec = ns / NS_PER_SEC, usec, hi, r0, r1, rem;
	uint32_t w[EVID_WORDS];
	int i, k, pos;

	if (!rng_seeded)
		rng_seed();
	/* KSUID's 32 seconds run from 2014 to 2150; clamp outside that. */
	if (sec < KSUID_EPOCH) {
		sec = 0;
		usec = 0;
	} else if (sec - KSUID_EPOCH > UINT32_MAX) {
		sec = UINT32_MAX;
		usec = 0;
	} else {
		sec -= KSUID_EPOCH;
		usec = ns % NS_PER_SEC / 1000;
	}
	hi = sec << 32 | usec << 12;
	/*
	 * Same microsecond as the last id, or the clock stepped back: take
	 * the next sequence number, and when the 12 bits run out (4096 ids
	 * in a microsecond) borrow the next microsecond.
	 */
	if (hi <= last_hi) {
		hi = last_hi + 1;
		if ((hi >> 12 & 0xfffff) >= 1000000)
			hi = ((hi >> 32) + 1) << 32;
	}
	last_hi = hi;
	r0 = rng_next();
	r1 = rng_next();
	w[0] = (uint32_t)(hi >> 32);
	w[1] = (uint32_t)hi;
	w[2] = (uint32_t)(r0 >> 32);
	w[3] = (uint32_t)r0;
	w[4] = (uint32_t)(r1 >> 32);

	/* Base62 by long division, five digits per pass over the words. */
	memcpy(buf, "ev_", 3);
	pos = EVID_DIGITS;
	while (pos > 0) {
		rem = 0;
		for (i = 0; i < EVID_WORDS; i++) {
			uint64_t cur = rem << 32 | w[i];

			w[i] = (uint32_t)(cur / B62_5);
			rem = cur % B62_5;
		}
		for (k = 0; k < 5 && pos > 0; k++) {
			buf[3 + --pos] = b62[rem % 62];
			rem /= 62;
		}
	}
	buf[GW_EVID_LEN] = '\0';
}

static int
b62_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

/* Decodes the 27 digits after "ev_"; -1 if one is bad or it passes 2^160. */
static int
evid_decode(const char *s, size_t n, unsigned char out[20])
{
	uint32_t w[EVID_WORDS] = { 0 };
	uint64_t cur, carry;
	int i, j, d;

	if (n != GW_EVID_LEN || strncmp(s, "ev_", 3) != 0)
		return -1;
	for (i = 3; i < GW_EVID_LEN; i++) {
		if ((d = b62_digit(s[i])) == -1)
			return -1;
		carry = (uint64_t)d;
		for (j = EVID_WORDS - 1; j >= 0; j--) {
			cur = (uint64_t)w[j] * 62 + carry;
			w[j] = (uint32_t)cur;
			carry = cur >> 32;
		}
		if (carry != 0)
			return -1;
	}
	for (i = 0; i < EVID_WORDS; i++)
		put32(out + 4 * i, w[i]);
	return 0;
}

int
gw_evid_valid(const char *s, size_t n)
{
	unsigned char raw[20];

	return evid_decode(s, n, raw) == 0;
}

uint64_t
gw_evid_time_ns(const char *s)
{
	unsigned char raw[20];
	uint64_t sec, usec;

	if (evid_decode(s, GW_EVID_LEN, raw) == -1)
		return 0;
	sec = (uint64_t)raw[0] << 24 | (uint64_t)raw[1] << 16 |
	    (uint64_t)raw[2] << 8 | raw[3];
	usec = ((uint64_t)raw[4] << 24 | (uint64_t)raw[5] << 16 |
	           (uint64_t)raw[6] << 8 | raw[7]) >>
	    12;
	return (sec + KSUID_EPOCH) * NS_PER_SEC + usec * 1000;
}
