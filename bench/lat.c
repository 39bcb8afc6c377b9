// SPDX-License-Identifier: MIT
/* Latency samples and their percentiles; is a page in memory. */
#define _GNU_SOURCE
#include "tier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int lat_add(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint64_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = ns;
	l->sorted = false;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t lat_pct(struct lat *l, double q)
{
	size_t k;

	if (!l->n)
		return 0;
	if (!l->sorted) {
		qsort(l->v, l->n, sizeof(*l->v), cmp_u64);
		l->sorted = true;
	}
	k = (size_t)(q * l->n + 0.999999);
	k = k ? k - 1 : 0;
	return l->v[k < l->n ? k : l->n - 1];
}

double lat_mean(const struct lat *l)
{
	double s = 0;

	for (size_t i = 0; i < l->n; i++)
		s += l->v[i];
	return l->n ? s / l->n : 0;
}

void lat_free(struct lat *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

bool page_in_core(const void *p, size_t page_size)
{
	unsigned char vec[1] = { 0 };

	/* shared memory: mincore() reports the page cache, mapped or not */
	return !mincore((void *)p, page_size < PAGE ? page_size : PAGE, vec) && (vec[0] & 1);
}
