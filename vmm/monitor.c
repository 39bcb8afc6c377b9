// SPDX-License-Identifier: MIT
/*
 * The interval loop: on a fixed beat, end the tracking interval, record what it saw
 * (hot set per address bucket, working sets), evict what the policy calls cold, and keep
 * librwp's statistics as one sample per interval. It runs beside the guest, which keeps
 * running: librwp makes evictions and the guest's accesses safe against each other.
 */
#include "host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void vmm_guest_bad(struct vmm_guest_stat *g, const struct vmm_ram *ram, uint32_t kind,
		   uint32_t gpa, uint32_t found)
{
	uint64_t i = (gpa - ram->data_gpa) / VMM_PAGE;

	if (atomic_fetch_add(&g->bad, 1) >= 5)
		return;
	if (kind == PHASES_BAD_STAMP)
		fprintf(stderr, "guest: page at gpa 0x%x holds the stamp of 0x%x\n", gpa, found);
	else
		fprintf(stderr, "guest: page at gpa 0x%x has generation %u, the table says %u\n",
			gpa, found, i < ram->data_pages ? *vmm_ram_gen(ram, i) : 0);
}

static int series_add(struct vmm_series *s, const struct vmm_sample *smp,
		      const uint64_t *bits, uint64_t pages)
{
	uint32_t *row;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 128;
		struct vmm_sample *v = realloc(s->v, cap * sizeof(*v));
		uint32_t *heat;

		if (!v)
			return -ENOMEM;
		s->v = v;
		heat = realloc(s->heat, cap * s->buckets * sizeof(*heat));
		if (!heat)
			return -ENOMEM;
		s->heat = heat;
		s->cap = cap;
	}
	s->v[s->n] = *smp;
	row = s->heat + s->n * s->buckets;
	memset(row, 0, s->buckets * sizeof(*row));
	for (uint64_t w = 0; w < (pages + 63) / 64; w++) {
		uint64_t b = bits[w];

		while (b) {
			uint64_t pg = w * 64 + __builtin_ctzll(b);

			row[pg * s->buckets / pages]++;
			b &= b - 1;
		}
	}
	s->n++;
	return 0;
}

void vmm_series_free(struct vmm_series *s)
{
	free(s->v);
	free(s->heat);
	memset(s, 0, sizeof(*s));
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t, .tv_nsec = (long)((t - (time_t)t) * 1e9) };

	/* a signal ends the sleep early: the caller looks at vmm_interrupted */
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

int vmm_monitor_run(struct vmm_env *env, char *err, size_t errlen)
{
	const struct vmm_opts *o = env->opts;
	struct rwp_ctx *ctx = env->rwp.ctx;
	struct rwp_region *r = env->rwp.region;
	uint64_t pages = env->rwp.info.nr_pages;
	double beat = o->interval_ms / 1000.0, next = vmm_now() + beat;
	uint64_t *bits = calloc((pages + 63) / 64, sizeof(*bits));
	RWP_OPTS(rwp_policy, pol, .min_idle = o->min_idle);
	int ret = 0;

	env->series.buckets = pages < VMM_HEAT_BUCKETS ? pages : VMM_HEAT_BUCKETS;
	if (!bits)
		return -ENOMEM;
	while (!vmm_interrupted) {
		struct vmm_sample smp = { 0 };
		double now;

		sleep_until(next);
		if (vmm_interrupted)
			break;
		smp.t = vmm_now() - env->sched.t0;
		smp.phase = atomic_load(&env->sched.cur);
		smp.hot = rwp_track_tick(ctx);
		if (smp.hot < 0) {
			ret = (int)smp.hot;
			snprintf(err, errlen, "tick: %s", rwp_ctx_last_error(ctx));
			break;
		}
		rwp_region_hot_bitmap(r, bits, pages);
		smp.wss1 = rwp_region_wss(r, 1);
		smp.wss4 = rwp_region_wss(r, 4);
		ret = rwp_evict(ctx, &pol, &smp.evict);
		if (ret) {
			snprintf(err, errlen, "evict: %s", rwp_ctx_last_error(ctx));
			break;
		}
		rwp_stats(ctx, &smp.st);
		smp.guest_pages = atomic_load(&env->gstat.pages);
		ret = series_add(&env->series, &smp, bits, pages);
		if (ret) {
			snprintf(err, errlen, "out of memory for samples");
			break;
		}
		if (o->progress)
			vmm_progress_print(stderr, env, env->series.n - 1);

		now = vmm_now();
		if (vmm_sched_over(&env->sched, now) || atomic_load(&env->gstat.ended))
			break;
		next += beat;
		if (next < now) /* the pass overran a beat: skip it rather than catch up */
			next = now + beat;
	}
	if (o->progress)
		vmm_progress_end(stderr);
	free(bits);
	return ret;
}
