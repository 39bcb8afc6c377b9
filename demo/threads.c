// SPDX-License-Identifier: MIT
/*
 * rwp-demo-threads: rwp-vm's guest without KVM. Threads sweep the same memory layout in
 * the same phases, doing per page what vmm/guest/phases.S does (check the stamp and the
 * generation, bump every Nth), through the same tracked mapping; everything else is
 * rwp-vm's own host side (vmm/host.h), so the report and the JSON are the same.
 * Each of N threads takes every Nth page of a sweep. Options as rwp-vm's, plus --threads.
 */
#define _GNU_SOURCE
#include "vmm/host.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

struct worker {
	struct vmm_env *env;
	struct vmm_sched_cursor cur;
	pthread_t thread;
};

struct threads_guest {
	unsigned int n, started;
	struct worker *w;
};

/* One sweep: the C twin of phases.S's loop. */
static void sweep(struct vmm_env *env, const struct phases_cmd *c)
{
	uint32_t countdown = c->write_every;
	uintptr_t gpa = c->first, gen_gpa = c->table;

	for (uint32_t i = 0; i < c->count; i++, gpa += c->stride, gen_gpa += c->tstride) {
		volatile uint32_t *page = (volatile uint32_t *)(env->ram.base + gpa);
		volatile uint32_t *gen = (volatile uint32_t *)(env->ram.base + gen_gpa);
		uint32_t g;

		if (c->stamp) {
			page[0] = gpa;
			page[1] = 1;
			*gen = 1;
			continue;
		}
		if (page[0] != gpa) {
			vmm_guest_bad(&env->gstat, &env->ram, PHASES_BAD_STAMP, gpa, page[0]);
			continue;
		}
		g = page[1];
		if (g != *gen) {
			vmm_guest_bad(&env->gstat, &env->ram, PHASES_BAD_GEN, gpa, g);
			continue;
		}
		if (--countdown == 0) {
			page[1] = g + 1;
			*gen = g + 1;
			countdown = c->write_every;
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct vmm_env *env = w->env;
	struct phases_cmd cmd = { 0 };

	vmm_sched_next(&env->sched, &w->cur, &cmd);
	while (!cmd.stop) {
		sweep(env, &cmd);
		atomic_fetch_add(&env->gstat.sweeps, 1);
		atomic_fetch_add(&env->gstat.pages, cmd.count);
		vmm_sched_next(&env->sched, &w->cur, &cmd);
	}
	return NULL;
}

static int start(void *guest, struct vmm_env *env, char *err, size_t errlen)
{
	struct threads_guest *g = guest;
	pthread_attr_t attr;
	cpu_set_t cpus;
	int ret = 0;

	g->w = calloc(g->n, sizeof(*g->w));
	if (!g->w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_attr_init(&attr);
	if (env->opts->cpu >= 0) {
		/* as rwp-vm's vCPU: beside librwp's fault thread */
		CPU_ZERO(&cpus);
		CPU_SET(env->opts->cpu, &cpus);
		pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	}
	for (; g->started < g->n; g->started++) {
		struct worker *w = &g->w[g->started];

		*w = (struct worker){ .env = env, .cur = { .part = g->started, .parts = g->n } };
		ret = -pthread_create(&w->thread, &attr, worker_main, w);
		if (ret) {
			snprintf(err, errlen, "guest thread: %s", strerror(-ret));
			break;
		}
	}
	pthread_attr_destroy(&attr);
	if (ret) {
		atomic_store(&env->sched.stop, true);
		for (unsigned int i = 0; i < g->started; i++)
			pthread_join(g->w[i].thread, NULL);
		g->started = 0;
	}
	return ret;
}

static void stop(void *guest, struct vmm_env *env)
{
	struct threads_guest *g = guest;

	for (unsigned int i = 0; i < g->started; i++)
		pthread_join(g->w[i].thread, NULL);
	g->started = 0;
	atomic_store(&env->gstat.ended, true);
}

int main(int argc, char **argv)
{
	struct vmm_opts o = { .prog = "rwp-demo-threads" };
	struct threads_guest g = { 0 };
	char what[32];
	struct vmm_guest_ops ops = { .kind = "threads", .what = what, .start = start,
				     .stop = stop };
	int ret;

	ret = vmm_opts_parse(&o, argc, argv, true);
	if (ret)
		return ret > 0 ? VMM_EXIT_GOOD : VMM_EXIT_ERROR;
	g.n = o.threads;
	snprintf(what, sizeof(what), "%u thread%s", o.threads, o.threads > 1 ? "s" : "");
	ret = vmm_run(&o, &ops, &g);
	free(g.w);
	return ret;
}
