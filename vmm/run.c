// SPDX-License-Identifier: MIT
/*
 * One run, the same for every guest: memory filled and attached to librwp, tracking
 * started, the guest started, intervals until the last phase ends, the guest stopped,
 * every evicted page fetched back, every data page checked, the report and the JSON.
 */
#include "host.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

volatile sig_atomic_t vmm_interrupted;

static void on_signal(int sig)
{
	(void)sig;
	vmm_interrupted = 1;
}

/*
 * ^C ends the run early but still drains, checks and reports. Only the main thread takes
 * the signal (threads started from now on inherit the mask): its sleep ends at once.
 */
static void catch_signals(sigset_t *set)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

static void header(const struct vmm_env *env)
{
	const struct vmm_opts *o = env->opts;

	printf("%s: %.0f MiB %s guest (%s), %.0f MiB of data pages tracked by %s, tiers",
	       o->prog, env->ram.bytes / MIB, env->ops->kind, env->ops->what,
	       env->rwp.info.len / MIB, rwp_backend_name(env->rwp.info.backend));
	for (unsigned int t = 0; t < env->rwp.nr_tiers; t++)
		printf("%s %s", t ? " ->" : "", env->rwp.tiers[t]);
	printf("; %g s, intervals of %u ms\n", o->seconds, o->interval_ms);
	fflush(stdout);
}

/* After the guest stopped: everything back home, then every page checked. */
static void finish(struct vmm_env *env)
{
	struct vmm_result *r = &env->res;
	struct rwp_ctx *ctx = env->rwp.ctx;
	double t;

	rwp_stats(ctx, &r->last);
	rwp_track_timing(ctx, &r->timing);
	r->drained = rwp_drain(ctx);
	if (r->drained < 0)
		fprintf(stderr, "%s: drain: %s\n", env->opts->prog, rwp_ctx_last_error(ctx));
	rwp_stats(ctx, &r->drained_st);
	r->guest_sweeps = atomic_load(&env->gstat.sweeps);
	r->guest_pages = atomic_load(&env->gstat.pages);
	r->guest_bad = atomic_load(&env->gstat.bad);
	r->stamp_s = env->sched.stamped_at;

	/* the view would read an evicted page as a hole: check only a fully drained guest */
	t = vmm_now();
	if (r->drained >= 0 && !r->drained_st.evicted_pages)
		vmm_ram_check(&env->ram, &r->check, stderr, 5);
	r->check_s = vmm_now() - t;
	r->good = !r->guest_bad && !r->check.bad && r->check.pages == env->ram.data_pages &&
		  !r->last.poisoned && !r->drained_st.poisoned;
}

static int start(struct vmm_env *env, void *guest, char *err, size_t errlen)
{
	const struct vmm_opts *o = env->opts;
	int ret;

	ret = vmm_ram_create(&env->ram, o->mem_bytes);
	if (ret) {
		snprintf(err, errlen, "guest memory: %s", strerror(-ret));
		return ret;
	}
	vmm_ram_fill(&env->ram);
	ret = vmm_rwp_attach(&env->rwp, &env->ram, o, err, errlen);
	if (ret)
		return ret;
	if (!o->quiet)
		header(env);
	/* a phase lasts long enough for what it left behind to go idle and be evicted */
	vmm_sched_init(&env->sched, &env->ram, o->seconds,
		       (o->min_idle + 2) * o->interval_ms / 1000.0);
	ret = rwp_track_start(env->rwp.ctx);
	if (ret) {
		snprintf(err, errlen, "start tracking: %s", rwp_ctx_last_error(env->rwp.ctx));
		return ret;
	}
	return env->ops->start(guest, env, err, errlen);
}

int vmm_run(const struct vmm_opts *o, const struct vmm_guest_ops *ops, void *guest)
{
	struct vmm_env *env = calloc(1, sizeof(*env));
	char err[512] = "";
	sigset_t sigs;
	int ret, status;

	if (!env) {
		fprintf(stderr, "%s: out of memory\n", o->prog);
		return VMM_EXIT_ERROR;
	}
	env->opts = o;
	env->ops = ops;
	env->ram.fd = -1;
	catch_signals(&sigs);
	ret = start(env, guest, err, sizeof(err));
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	if (ret) {
		fprintf(stderr, "%s: %s\n", o->prog, err);
		status = VMM_EXIT_ERROR;
		goto out;
	}
	ret = vmm_monitor_run(env, err, sizeof(err));
	if (ret)
		fprintf(stderr, "%s: %s\n", o->prog, err);
	atomic_store(&env->sched.stop, true);
	ops->stop(guest, env);
	env->res.run_s = vmm_now() - env->sched.t0;
	env->res.interrupted = vmm_interrupted;
	if (env->gstat.failure[0])
		fprintf(stderr, "%s: the guest stopped: %s\n", o->prog, env->gstat.failure);
	finish(env);

	if (o->json && vmm_json_write(env, o->json, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", o->prog, err);
		ret = ret ? ret : -EIO;
	}
	if (!o->quiet)
		vmm_report_print(stdout, env);
	else
		printf("%s: integrity %s: %llu data pages checked, %llu bad; the guest found "
		       "%llu bad\n",
		       o->prog, env->res.good ? "GOOD" : "BAD",
		       (unsigned long long)env->res.check.pages,
		       (unsigned long long)env->res.check.bad,
		       (unsigned long long)env->res.guest_bad);
	if (!env->res.good)
		status = VMM_EXIT_CORRUPT;
	else if (ret || env->gstat.failure[0])
		status = VMM_EXIT_ERROR;
	else
		status = VMM_EXIT_GOOD;
out:
	vmm_rwp_detach(&env->rwp);
	if (env->sched.ram) /* set up */
		vmm_sched_destroy(&env->sched);
	vmm_ram_destroy(&env->ram);
	vmm_series_free(&env->series);
	free(env);
	return status;
}
