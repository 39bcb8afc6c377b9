// SPDX-License-Identifier: MIT
/*
 * The vCPU thread. The guest stops at every port write, so the command block is only
 * ever rewritten while the guest waits: after a sweep the next one's command goes in,
 * and once the schedule says stop, the guest reports done and halts.
 */
#define _GNU_SOURCE
#include "vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* How long a stopping guest gets to finish its sweep before it is kicked out. */
#define STOP_GRACE_S 120

static void failed(struct vmm_env *env, const char *why)
{
	snprintf(env->gstat.failure, sizeof(env->gstat.failure), "%s", why);
}

/* One port write of the guest; false when the guest must not go on. */
static bool port(struct vmm_env *env, struct vmm_sched_cursor *cur, const struct vmm_exit *ex)
{
	struct phases_cmd *cmd = (struct phases_cmd *)(env->ram.base + VMM_CMD_GPA);

	if (!ex->out || ex->size != 4 || ex->count != 1) {
		failed(env, "the guest did port I/O it never does");
		return false;
	}
	switch (ex->port) {
	case PHASES_PORT_SWEEP:
		atomic_fetch_add(&env->gstat.sweeps, 1);
		atomic_fetch_add(&env->gstat.pages, ex->value);
		vmm_sched_next(&env->sched, cur, cmd);
		return true;
	case PHASES_PORT_BAD:
		vmm_guest_bad(&env->gstat, &env->ram, cmd->bad_kind, cmd->bad_gpa, cmd->bad_found);
		return true;
	case PHASES_PORT_DONE:
		return true; /* it halts next */
	default:
		failed(env, "the guest wrote to a port it does not use");
		return false;
	}
}

static void *vcpu_main(void *arg)
{
	struct vmm_kvm_guest *g = arg;
	struct vmm_env *env = g->env;
	struct vmm_sched_cursor cur = { .part = 0, .parts = 1 };
	struct vmm_exit ex;

	vmm_sched_next(&env->sched, &cur, (struct phases_cmd *)(env->ram.base + VMM_CMD_GPA));
	for (;;) {
		int ret = vmm_cpu_run(&g->cpu, &ex);

		if (ret == -EINTR) {
			failed(env, "the guest did not halt in time when asked to stop");
			break;
		}
		if (ret) {
			failed(env, g->cpu.err);
			break;
		}
		if (ex.kind == VMM_EXIT_HLT || !port(env, &cur, &ex))
			break;
	}
	atomic_store(&env->gstat.ended, true);
	return NULL;
}

static void kick(int sig)
{
	(void)sig;
}

static int start(void *guest, struct vmm_env *env, char *err, size_t errlen)
{
	struct vmm_kvm_guest *g = guest;
	struct sigaction sa = { .sa_handler = kick }; /* no SA_RESTART: KVM_RUN returns */
	pthread_attr_t attr;
	cpu_set_t cpus;
	int ret;

	g->env = env;
	ret = vmm_boot_load(g, &env->ram, err, errlen);
	if (ret)
		return ret;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	pthread_attr_init(&attr);
	if (env->opts->cpu >= 0) {
		/* with librwp's fault thread: a fault costs no cross-CPU wake-up */
		CPU_ZERO(&cpus);
		CPU_SET(env->opts->cpu, &cpus);
		pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	}
	ret = -pthread_create(&g->thread, &attr, vcpu_main, g);
	pthread_attr_destroy(&attr);
	if (ret) {
		snprintf(err, errlen, "vCPU thread: %s", strerror(-ret));
		return ret;
	}
	g->running = true;
	return 0;
}

static void stop(void *guest, struct vmm_env *env)
{
	struct vmm_kvm_guest *g = guest;
	struct timespec deadline;

	(void)env;
	if (!g->running)
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STOP_GRACE_S;
	if (pthread_timedjoin_np(g->thread, NULL, &deadline)) {
		g->cpu.run->immediate_exit = 1;
		pthread_kill(g->thread, SIGUSR1);
		pthread_join(g->thread, NULL);
	}
	g->running = false;
}

const struct vmm_guest_ops vmm_kvm_ops = {
	.kind = "kvm",
	.what = "1 vCPU, 32-bit protected mode",
	.start = start,
	.stop = stop,
};
