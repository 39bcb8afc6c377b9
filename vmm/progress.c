// SPDX-License-Identifier: MIT
/* The live progress line on stderr, rewritten in place after every interval. */
#include "host.h"

#define MIB (1024.0 * 1024.0)

static uint64_t faults(const struct rwp_stats *st)
{
	return st->faults_missing + st->faults_minor + st->faults_rwp;
}

void vmm_progress_print(FILE *f, const struct vmm_env *env, size_t i)
{
	const struct vmm_sample *s = &env->series.v[i];
	const struct vmm_sample *prev = i ? &env->series.v[i - 1] : NULL;
	double page = env->rwp.info.page_size, dt = s->t - (prev ? prev->t : 0);
	uint64_t df = faults(&s->st) - (prev ? faults(&prev->st) : 0);
	char p50[16], p99[16];

	vmm_fmt_ns(p50, sizeof(p50), s->st.fault_latency.p50_ns);
	vmm_fmt_ns(p99, sizeof(p99), s->st.fault_latency.p99_ns);
	fprintf(f,
		"\r%6.1fs %-12s WSS(1) %5.0f WSS(4) %5.0f MiB | resident %5.0f evicted %5.0f MiB "
		"| %6.0f faults/s | fetch p50 %s p99 %s\033[K",
		s->t, vmm_phases[s->phase].name, s->wss1 * page / MIB, s->wss4 * page / MIB,
		s->st.resident_bytes / MIB, s->st.evicted_pages * (double)VMM_PAGE / MIB,
		dt > 0 ? df / dt : 0.0, p50, p99);
	fflush(f);
}

void vmm_progress_end(FILE *f)
{
	fputc('\n', f);
	fflush(f);
}
