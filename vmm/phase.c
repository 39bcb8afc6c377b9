// SPDX-License-Identifier: MIT
/*
 * The phases: which data pages each touches, and when it runs. The first phase stamps
 * every page once; the rest share the remaining time equally, each at least min_phase
 * seconds so that what it leaves behind can go idle and be evicted. A sweep always
 * finishes before its thread moves on, so a phase ends at a sweep boundary.
 */
#include "host.h"

#include <time.h>

/* Where, in per mille of the data pages; step: every step-th page; 1 write in write_every. */
const struct vmm_phase vmm_phases[] = {
	{ "stamp all",       0, 1000, 1,  0, true },
	{ "hot 8%",        100,   80, 1,  8, false }, /* a hot set, some writes */
	{ "scan 20%",      400,  200, 1, 32, false }, /* a table scan elsewhere */
	{ "hot 5%",        750,   50, 1,  2, false }, /* a small, write-heavy set */
	{ "sparse 10%",    200,  400, 4, 16, false }, /* every 4th page: prefetch wastes */
	{ "hot 8% again",  100,   80, 1,  8, false }, /* the first set again: fetched back */
};

const unsigned int vmm_nr_phases = sizeof(vmm_phases) / sizeof(vmm_phases[0]);

double vmm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void vmm_sched_init(struct vmm_sched *s, const struct vmm_ram *ram, double seconds,
		    double min_phase)
{
	*s = (struct vmm_sched){
		.ram = ram, .seconds = seconds, .min_phase = min_phase, .stamped_at = -1,
	};
	pthread_mutex_init(&s->lock, NULL);
	s->t0 = vmm_now();
}

void vmm_sched_destroy(struct vmm_sched *s)
{
	pthread_mutex_destroy(&s->lock);
}

void vmm_phase_pages(const struct vmm_ram *ram, unsigned int p, uint64_t *first,
		     uint64_t *span, uint64_t *count)
{
	const struct vmm_phase *ph = &vmm_phases[p];

	*first = ram->data_pages * ph->first_pm / 1000;
	*span = ram->data_pages * ph->span_pm / 1000;
	*count = (*span + ph->step - 1) / ph->step;
}

/* Phase p for sweeping thread part of parts: its pages are every parts-th of the phase's. */
static void command(const struct vmm_ram *ram, unsigned int p, unsigned int part,
		    unsigned int parts, struct phases_cmd *cmd)
{
	const struct vmm_phase *ph = &vmm_phases[p];
	uint64_t first, span, count;

	vmm_phase_pages(ram, p, &first, &span, &count);
	first += (uint64_t)part * ph->step;
	cmd->first = ram->data_gpa + first * VMM_PAGE;
	cmd->table = VMM_TABLE_GPA + first * sizeof(uint32_t);
	cmd->count = count > part ? (count - part + parts - 1) / parts : 0;
	cmd->stride = VMM_PAGE * ph->step * parts;
	cmd->tstride = sizeof(uint32_t) * ph->step * parts;
	cmd->write_every = ph->write_every;
	cmd->stamp = ph->stamp;
}

static unsigned int phase_at(const struct vmm_sched *s, double t)
{
	unsigned int p;

	if (s->stamped_at < 0)
		return 0;
	p = 1 + (unsigned int)((t - s->stamped_at) / s->phase_len);
	return p < vmm_nr_phases ? p : vmm_nr_phases - 1;
}

void vmm_sched_next(struct vmm_sched *s, struct vmm_sched_cursor *c, struct phases_cmd *cmd)
{
	double t = vmm_now() - s->t0;
	unsigned int p = 0;
	int cur;

	if (c->sweeps++) {
		pthread_mutex_lock(&s->lock);
		if (s->stamped_at < 0) {
			double left = s->seconds - t;

			s->stamped_at = t;
			s->phase_len = left / (vmm_nr_phases - 1);
			if (s->phase_len < s->min_phase)
				s->phase_len = s->min_phase;
		}
		p = phase_at(s, t);
		pthread_mutex_unlock(&s->lock);
	}
	cur = atomic_load(&s->cur);
	while ((int)p > cur && !atomic_compare_exchange_weak(&s->cur, &cur, (int)p))
		;
	command(s->ram, p, c->part, c->parts, cmd);
	cmd->stop = atomic_load(&s->stop);
}

bool vmm_sched_over(struct vmm_sched *s, double now)
{
	bool over;

	pthread_mutex_lock(&s->lock);
	over = s->stamped_at >= 0 &&
	       now - s->t0 >= s->stamped_at + (vmm_nr_phases - 1) * s->phase_len;
	pthread_mutex_unlock(&s->lock);
	return over;
}

void vmm_sched_span(const struct vmm_sched *s, unsigned int p, double *start, double *end)
{
	if (s->stamped_at < 0) {
		*start = 0;
		*end = -1;
	} else if (p == 0) {
		*start = 0;
		*end = s->stamped_at;
	} else {
		*start = s->stamped_at + (p - 1) * s->phase_len;
		*end = *start + s->phase_len;
	}
}
