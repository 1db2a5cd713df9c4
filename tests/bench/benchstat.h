/* benchstat.h - latency samples for the cluster benchmark's helpers
 * (tests/bench/cpgping.c, tests/bench/replag.c).
 *
 * Header-only on purpose: each helper is one small program, and the two
 * must report percentiles the same way (nearest rank over every sample,
 * like fsbench) so that the table in tests/bench/cluster compares like with
 * like.  All times are CLOCK_MONOTONIC: the harness nodes share the host
 * kernel and no time namespace, so a timestamp taken in node 2's namespaces
 * can be compared with one taken in node 1's. */
#ifndef PVECFS_BENCHSTAT_H
#define PVECFS_BENCHSTAT_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct bench_samples {
	double *us;
	size_t n, cap;
};

static inline int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int bench_samples_init(struct bench_samples *s, size_t cap)
{
	*s = (struct bench_samples){ .us = calloc(cap ? cap : 1, sizeof(double)), .cap = cap };
	return s->us ? 0 : -ENOMEM;
}

static inline void bench_samples_free(struct bench_samples *s)
{
	free(s->us);
	s->us = NULL;
}

static inline void bench_samples_add(struct bench_samples *s, int64_t start_ns, int64_t end_ns)
{
	if (s->n < s->cap)
		s->us[s->n++] = (double)(end_ns - start_ns) / 1000.0;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile; sorts the samples (idempotent). */
static inline double bench_percentile(struct bench_samples *s, double p)
{
	if (s->n == 0)
		return 0;
	qsort(s->us, s->n, sizeof(double), bench_cmp_double);
	size_t rank = (size_t)(p / 100.0 * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->us[rank - 1];
}

/* " NAME_p50_us=X NAME_p99_us=Y NAME_max_us=Z" appended to the current line. */
static inline void bench_print_percentiles(const char *name, struct bench_samples *s)
{
	double p50 = bench_percentile(s, 50), p99 = bench_percentile(s, 99);
	printf(" %s_p50_us=%.1f %s_p99_us=%.1f %s_max_us=%.1f", name, p50, name, p99, name,
	       s->n ? s->us[s->n - 1] : 0.0);
}

#endif
