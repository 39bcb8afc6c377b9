// SPDX-License-Identifier: MIT
/*
 * The printed report: the working set over time, by phase and as sparklines, memory
 * saved, faults and fetches, fetch latency and the integrity verdict. Figures are
 * librwp's (rwp_stats(), rwp_region_wss()) as sampled; the report only picks and scales.
 */
#define _GNU_SOURCE
#include "host.h"

#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)
#define SPARK_COLS 60

enum series_field { F_WSS1, F_WSS4, F_RESIDENT, F_EVICTED };

const char *vmm_fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
	return buf;
}

static double field(const struct vmm_env *env, const struct vmm_sample *s, enum series_field f)
{
	switch (f) {
	case F_WSS1:
		return s->wss1 * (double)env->rwp.info.page_size;
	case F_WSS4:
		return s->wss4 * (double)env->rwp.info.page_size;
	case F_RESIDENT:
		return s->st.resident_bytes;
	default:
		return s->st.evicted_pages * (double)VMM_PAGE;
	}
}

static bool utf8_terminal(void)
{
	const char *cs;

	setlocale(LC_CTYPE, "");
	cs = nl_langinfo(CODESET);
	return cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
}

/*
 * One character per column of up to SPARK_COLS groups of samples (the group's largest),
 * scaled to the line's own peak, which follows it.
 */
static void sparkline(FILE *f, const struct vmm_env *env, const char *label,
		      enum series_field fld, bool utf8)
{
	static const char *const blocks[] = { "\u2581", "\u2582", "\u2583", "\u2584",
					      "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii[] = "_.-:=+*#";
	const struct vmm_series *s = &env->series;
	size_t group = (s->n + SPARK_COLS - 1) / SPARK_COLS;
	double peak = 0;

	for (size_t i = 0; i < s->n; i++)
		if (field(env, &s->v[i], fld) > peak)
			peak = field(env, &s->v[i], fld);
	fprintf(f, "  %-9s ", label);
	for (size_t c = 0; c * group < s->n; c++) {
		double v = 0;
		int level;

		for (size_t i = c * group; i < (c + 1) * group && i < s->n; i++)
			if (field(env, &s->v[i], fld) > v)
				v = field(env, &s->v[i], fld);
		level = peak > 0 ? (int)(v / peak * 8) : 0;
		level = level > 7 ? 7 : level;
		if (utf8)
			fputs(blocks[level], f);
		else
			fputc(ascii[level], f);
	}
	fprintf(f, "  peak %.0f MiB\n", peak / MIB);
}

static void phase_line(FILE *f, const struct vmm_series *s)
{
	size_t group = (s->n + SPARK_COLS - 1) / SPARK_COLS;

	fprintf(f, "  %-9s ", "phase");
	for (size_t c = 0; c * group < s->n; c++) {
		size_t last = (c + 1) * group < s->n ? (c + 1) * group - 1 : s->n - 1;

		fputc('0' + s->v[last].phase, f);
	}
	fputc('\n', f);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Per phase: pages it touches, typical WSS(1), WSS(4) and resident at its end, fetches. */
static void phase_table(FILE *f, const struct vmm_env *env)
{
	const struct vmm_series *s = &env->series;
	double page = env->rwp.info.page_size;
	uint64_t fetched_before = 0;
	int64_t *w = calloc(s->n ? s->n : 1, sizeof(*w));

	fprintf(f, "  %-15s %13s %9s %11s %11s %10s %9s\n", "phase", "time", "touches",
		"WSS(1) med", "WSS(4) end", "resident", "fetched");
	for (unsigned int p = 0; p < vmm_nr_phases && w; p++) {
		uint64_t first, span, count;
		size_t n = 0, last = 0;
		double t0, t1;

		for (size_t i = 0; i < s->n; i++) {
			if (s->v[i].phase != (int)p)
				continue;
			w[n++] = s->v[i].wss1;
			last = i;
		}
		if (!n)
			continue;
		qsort(w, n, sizeof(*w), cmp_i64);
		vmm_phase_pages(&env->ram, p, &first, &span, &count);
		vmm_sched_span(&env->sched, p, &t0, &t1);
		if (t1 < 0 || t1 > env->res.run_s)
			t1 = env->res.run_s;
		fprintf(f, "  %d %-13s %5.1f-%5.1f s %5.0f MiB %7.0f MiB %7.0f MiB %6.0f MiB "
			   "%9llu\n",
			p, vmm_phases[p].name, t0, t1,
			count * (double)VMM_PAGE / MIB, w[n / 2] * page / MIB,
			s->v[last].wss4 * page / MIB, s->v[last].st.resident_bytes / MIB,
			(unsigned long long)(s->v[last].st.fetched - fetched_before));
		fetched_before = s->v[last].st.fetched;
	}
	free(w);
}

static void memory(FILE *f, const struct vmm_env *env)
{
	const struct rwp_stats *st = &env->res.last;

	fprintf(f, "memory at the end of the last interval\n");
	fprintf(f, "  guest %.0f MiB, tracked %.0f MiB: resident %.0f MiB, evicted %.0f MiB "
		   "(%.0f MiB of it zero pages)\n",
		env->ram.bytes / MIB, st->guest_bytes / MIB, st->resident_bytes / MIB,
		st->evicted_pages * (double)VMM_PAGE / MIB,
		st->zero_pages * (double)VMM_PAGE / MIB);
	for (unsigned int t = 0; t < st->nr_tiers; t++) {
		const struct rwp_tier_stats *ts = &st->tier[t];

		fprintf(f, "  tier %-9s holds %.0f MiB in %.1f MiB", ts->name, ts->bytes / MIB,
			ts->used_bytes / MIB);
		if (ts->used_bytes && ts->bytes)
			fprintf(f, " (%.1fx)", (double)ts->bytes / ts->used_bytes);
		fprintf(f, ", %llu stores, %llu loads, %llu errors\n",
			(unsigned long long)ts->stores, (unsigned long long)ts->loads,
			(unsigned long long)ts->errors);
	}
	fprintf(f, "  saved %.0f MiB of RAM (%.0f%% of the guest), tiers' memory counted\n",
		st->saved_bytes / MIB, 100.0 * st->saved_bytes / env->ram.bytes);
}

static void faults(FILE *f, const struct vmm_env *env)
{
	const struct rwp_stats *st = &env->res.last;
	const struct rwp_latency *l = &st->fault_latency;
	char p50[16], p90[16], p99[16], max[16], mean[16];

	fprintf(f, "faults and fetches\n");
	fprintf(f, "  faults: %llu missing, %llu minor, %llu rwp; %llu waited for an eviction\n",
		(unsigned long long)st->faults_missing, (unsigned long long)st->faults_minor,
		(unsigned long long)st->faults_rwp, (unsigned long long)st->faults_held);
	fprintf(f, "  fetched %llu pages on faults (%llu zero); prefetched %llu: %llu hits, "
		   "%llu wasted\n",
		(unsigned long long)st->fetched, (unsigned long long)st->fetched_zero,
		(unsigned long long)st->prefetched, (unsigned long long)st->prefetch_hits,
		(unsigned long long)st->prefetch_waste);
	fprintf(f, "  evicted %llu pages in all (%llu failed); fetch errors %llu, poisoned %llu; "
		   "refault rate %.4f/min of the WSS\n",
		(unsigned long long)st->evicted_total, (unsigned long long)st->evict_failures,
		(unsigned long long)st->fetch_errors, (unsigned long long)st->poisoned,
		st->refault_rate);
	fprintf(f, "  fetch latency: p50 %s, p90 %s, p99 %s, max %s, mean %s (%llu fetches)\n",
		vmm_fmt_ns(p50, sizeof(p50), l->p50_ns), vmm_fmt_ns(p90, sizeof(p90), l->p90_ns),
		vmm_fmt_ns(p99, sizeof(p99), l->p99_ns), vmm_fmt_ns(max, sizeof(max), l->max_ns),
		vmm_fmt_ns(mean, sizeof(mean), l->mean_ns), (unsigned long long)l->count);
}

/* What tracking and eviction cost the host, from librwp's own timers. */
static void cost(FILE *f, const struct vmm_env *env)
{
	const struct rwp_track_timing *t = &env->res.timing;
	uint64_t evict_ns = 0, evicted = 0;

	for (size_t i = 0; i < env->series.n; i++) {
		evict_ns += env->series.v[i].evict.ns;
		evicted += env->series.v[i].evict.evicted;
	}
	fprintf(f, "host cost\n");
	if (t->ticks)
		fprintf(f, "  tick: %.2f ms per interval (scan %.2f, bookkeeping %.2f, "
			   "re-arm %.2f)\n",
			(t->scan_ns + t->bookkeeping_ns + t->protect_ns) / 1e6 / t->ticks,
			t->scan_ns / 1e6 / t->ticks, t->bookkeeping_ns / 1e6 / t->ticks,
			t->protect_ns / 1e6 / t->ticks);
	fprintf(f, "  eviction passes: %.2f s for %llu pages", evict_ns / 1e9,
		(unsigned long long)evicted);
	if (evicted)
		fprintf(f, " (%.1f us per page)", evict_ns / 1e3 / evicted);
	fputc('\n', f);
}

static void verdict(FILE *f, const struct vmm_env *env)
{
	const struct vmm_result *r = &env->res;

	fprintf(f, "integrity: %s\n", r->good ? "GOOD" : "BAD");
	fprintf(f, "  guest: %llu sweeps checked %llu pages as it ran, %llu bad\n",
		(unsigned long long)r->guest_sweeps, (unsigned long long)r->guest_pages,
		(unsigned long long)r->guest_bad);
	fprintf(f, "  host: drained %lld pages back, then checked all %llu data pages in "
		   "%.1f s: %llu bad (%llu stamp, %llu generation, %llu contents)\n",
		(long long)r->drained, (unsigned long long)r->check.pages, r->check_s,
		(unsigned long long)r->check.bad, (unsigned long long)r->check.bad_stamp,
		(unsigned long long)r->check.bad_gen, (unsigned long long)r->check.bad_body);
	if (env->gstat.failure[0])
		fprintf(f, "  the guest stopped early: %s\n", env->gstat.failure);
	if (r->interrupted)
		fprintf(f, "  interrupted before the last phase ended\n");
}

void vmm_report_print(FILE *f, const struct vmm_env *env)
{
	const struct vmm_opts *o = env->opts;
	bool utf8 = utf8_terminal();

	fprintf(f, "\n== %s report ==\n", o->prog);
	fprintf(f, "guest    %.0f MiB, %s guest (%s), %.0f MiB of data pages tracked\n",
		env->ram.bytes / MIB, env->ops->kind, env->ops->what,
		env->rwp.info.len / MIB);
	fprintf(f, "backend  %s: %s\n", rwp_backend_name(env->rwp.info.backend),
		env->rwp.info.reason);
	fprintf(f, "tiers   ");
	for (unsigned int t = 0; t < env->rwp.nr_tiers; t++)
		fprintf(f, "%s %s", t ? " ->" : "", env->rwp.tiers[t]);
	fprintf(f, "\nrun      %.1f s, %zu intervals of %u ms, evict after %u idle intervals\n\n",
		env->res.run_s, env->series.n, o->interval_ms, o->min_idle);

	fprintf(f, "working set by phase\n");
	phase_table(f, env);
	fprintf(f, "\nover time (a column per %s, each line scaled to its peak)\n",
		env->series.n > SPARK_COLS ? "few intervals" : "interval");
	sparkline(f, env, "WSS(1)", F_WSS1, utf8);
	sparkline(f, env, "WSS(4)", F_WSS4, utf8);
	sparkline(f, env, "resident", F_RESIDENT, utf8);
	sparkline(f, env, "evicted", F_EVICTED, utf8);
	phase_line(f, &env->series);
	fputc('\n', f);
	memory(f, env);
	faults(f, env);
	cost(f, env);
	verdict(f, env);
}
