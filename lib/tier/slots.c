// SPDX-License-Identifier: MIT
#include "slots.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define GROW_UNITS (1ULL << 15) /* 128 MiB of 4 KiB units per growth step */

int rwp_slots_init(struct rwp_slots *s, uint64_t limit)
{
	memset(s, 0, sizeof(*s));
	s->limit = limit ? limit & ~511ULL : UINT64_MAX & ~511ULL;
	return 0;
}

void rwp_slots_destroy(struct rwp_slots *s)
{
	free(s->map);
	s->map = NULL;
}

static int grow(struct rwp_slots *s)
{
	uint64_t units = s->units ? s->units * 2 : GROW_UNITS;
	void *m;

	if (s->units >= s->limit)
		return -ENOSPC;
	if (units > s->limit)
		units = s->limit;
	m = realloc(s->map, units / 8);
	if (!m)
		return -ENOMEM;
	memset((char *)m + s->units / 8, 0, (units - s->units) / 8);
	s->map = m;
	s->units = units;
	return 0;
}

static bool is_free(const struct rwp_slots *s, uint64_t u, unsigned int n)
{
	if (n >= 64) {
		for (uint64_t w = u / 64; w < (u + n) / 64; w++)
			if (s->map[w])
				return false;
		return true;
	}
	uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << (u % 64);

	return !(s->map[u / 64] & mask);
}

static void set(struct rwp_slots *s, uint64_t u, unsigned int n, bool on)
{
	for (uint64_t i = u; i < u + n;) {
		if (i % 64 == 0 && u + n - i >= 64) {
			s->map[i / 64] = on ? ~0ULL : 0;
			i += 64;
			continue;
		}
		if (on)
			s->map[i / 64] |= 1ULL << (i % 64);
		else
			s->map[i / 64] &= ~(1ULL << (i % 64));
		i++;
	}
}

int64_t rwp_slots_alloc(struct rwp_slots *s, unsigned int n)
{
	for (int pass = 0; pass < 64; pass++) {
		uint64_t start = (s->hint + n - 1) & ~(uint64_t)(n - 1);

		/* search from the hint to the end, then from 0 to the hint */
		for (int half = 0; half < 2; half++) {
			uint64_t end = half ? start : s->units;

			for (uint64_t u = half ? 0 : start; u + n <= end; u += n) {
				/* skip full words quickly */
				if (n < 64 && s->map[u / 64] == ~0ULL) {
					u = (u / 64 + 1) * 64 - n;
					continue;
				}
				if (is_free(s, u, n)) {
					set(s, u, n, true);
					s->used += n;
					s->hint = u + n;
					return u;
				}
			}
		}
		int ret = grow(s);

		if (ret)
			return ret;
		s->hint = s->units / 2;
	}
	return -ENOSPC;
}

void rwp_slots_free(struct rwp_slots *s, uint64_t unit, unsigned int n)
{
	if (unit + n > s->units)
		return;
	set(s, unit, n, false);
	s->used -= n;
}

int rwp_slots_mark(struct rwp_slots *s, uint64_t unit, unsigned int n)
{
	while (unit + n > s->units) {
		int ret = grow(s);

		if (ret)
			return ret;
	}
	if (!is_free(s, unit, n))
		return -EEXIST;
	set(s, unit, n, true);
	s->used += n;
	return 0;
}
