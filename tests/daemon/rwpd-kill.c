// SPDX-License-Identifier: MIT
/*
 * rwpd killed with SIGKILL while it evicts: no guest waits longer than the documented
 * bound and no page is lost. Three times: rwpd is restarted at once and the VMM resumes
 * with it; it never comes back and the VMM takes its memory over after takeover_ms; the
 * VMM detaches while rwpd is down, before takeover_ms, and brings its pages home itself.
 * Guest threads time every access; the longest must stay under takeover_ms + 3 s.
 */
#define _GNU_SOURCE
#include "../lib/client-guest.h"
#include "../lib/guestmem.h"
#include "../lib/pattern.h"
#include "../lib/rwpd-run.h"
#include "../lib/tap.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TAP_DEFINE;

#define GUESTS 2
#define MB 64
#define SUBS (MB * 256)
#define TAKEOVER_MS 1500
#define BOUND_MS (TAKEOVER_MS + 3000)

struct vm {
	int idx;
	struct guestmem g;
	struct rwp_client *client;
	uint32_t version[SUBS];
	atomic_uint bad;
	atomic_ulong ops;
	atomic_ulong max_ns;
	pthread_t th;
};

static atomic_bool stop;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *run_guest(void *arg)
{
	struct vm *v = arg;
	uint64_t seed = 21 + v->idx, window = 0;

	while (!atomic_load(&stop)) {
		uint64_t x = test_rand(&seed), s = (window + (x >> 8) % (SUBS / 16)) % SUBS, ver;
		uint64_t t0 = now_ns(), dt;

		if (!(x % 256))
			s = (x >> 20) % SUBS; /* now and then a cold, likely evicted page */
		if (!(x % 32768))
			window = (window + SUBS / 8) % SUBS;
		if (!pattern_check(v->g.base + s * 4096, s, &ver) || ver != v->version[s])
			atomic_fetch_add(&v->bad, 1);
		if (x & 32)
			pattern_fill(v->g.base + s * 4096, s, ++v->version[s]);
		dt = now_ns() - t0;
		if (dt > atomic_load(&v->max_ns))
			atomic_store(&v->max_ns, dt);
		atomic_fetch_add(&v->ops, 1);
	}
	return NULL;
}

static bool intact(struct vm *v)
{
	return client_guest_intact(&v->g, v->version) && !atomic_load(&v->bad);
}

enum after_kill { RESTART, NEVER_BACK, DETACH_WHILE_DOWN };

static void scenario(const char *rwpd, enum after_kill mode)
{
	bool restart = mode == RESTART;
	static struct vm vms[GUESTS];
	const char *what = restart ? "restarted at once: the VMMs resume with it"
			   : mode == NEVER_BACK ? "never comes back: the VMMs take over"
						: "VMMs detach while it is down";
	struct rwpd_run d = { 0 };
	const char *why;
	int started = 0;
	bool evicting = false, ok = true;

	memset(vms, 0, sizeof(vms));
	atomic_store(&stop, false);
	CHECK(!rwpd_run_start(&d, rwpd, "interval_ms = 100\nmin_idle = 1\nrefault_ppm = 0\n"
				       "tier = zram-lz4"), out, "cannot start rwpd");
	for (int i = 0; i < GUESTS; i++) {
		struct vm *v = &vms[i];
		char name[16];

		v->idx = i;
		snprintf(name, sizeof(name), "k%d", i);
		struct client_guest_opts o = { .socket = d.socket, .name = name, .bytes = MB << 20,
					       .takeover_ms = TAKEOVER_MS, .quiet = true };
		CHECK(!client_guest_attach(&o, &v->g, v->version, &v->client, &why), out, "%s %s",
		      why, name);
		CHECK(!pthread_create(&v->th, NULL, run_guest, v), out, "thread");
		started++;
	}
	/* let rwpd evict for a while, and kill it while resident memory is still falling */
	for (int t = 0; t < 40 && !evicting; t++) {
		usleep(100000);
		evicting = t > 10 && client_guest_resident(&vms[0].g) < vms[0].g.len / 2;
	}
	CHECK(evicting, out, "rwpd did not evict: nothing to kill it in the middle of");
	CHECK(WIFSIGNALED(rwpd_run_stop(&d, SIGKILL)), out, "kill -9 rwpd");
	if (restart)
		CHECK(!rwpd_run_restart(&d, rwpd), out, "restart rwpd");
	if (mode == DETACH_WHILE_DOWN) {
		for (int i = 0; i < started; i++) {
			int ret = rwp_client_detach(vms[i].client);

			vms[i].client = NULL;
			tap_ok(!ret, "%s: k%d detached (%d)", what, i, ret);
		}
		goto out;
	}
	sleep(TAKEOVER_MS / 1000 + 4);
	for (int i = 0; i < started; i++) {
		bool over = rwp_client_took_over(vms[i].client);

		tap_ok(over == !restart, "%s: guest k%d %s", what, i,
		       over ? "was taken over by its VMM" : "resumed with the new rwpd");
		ok &= over == !restart;
	}
	if (restart) {
		char *status = rwpd_run_status(&d);

		tap_ok(status && strstr(status, "\"k1\""), "the restarted rwpd serves them again");
		free(status);
	}
out:
	atomic_store(&stop, true);
	for (int i = 0; i < started; i++)
		pthread_join(vms[i].th, NULL);
	for (int i = 0; i < started; i++) {
		struct vm *v = &vms[i];
		uint64_t max_ms = atomic_load(&v->max_ns) / 1000000;

		tap_ok(max_ms <= BOUND_MS, "%s: k%d's longest access %llu ms (bound %d ms)", what, i,
		       (unsigned long long)max_ms, BOUND_MS);
		tap_ok(intact(v), "%s: k%d: %lu ops, %u bad reads, every page bit-exact", what, i,
		       atomic_load(&v->ops), atomic_load(&v->bad));
		rwp_client_detach(v->client);
		tap_ok(intact(v), "%s: k%d still bit-exact after detach", what, i);
		guestmem_unmap(&v->g);
	}
	tap_ok(ok && started == GUESTS, "%s: scenario complete", what);
	rwpd_run_stop(&d, SIGTERM);
	rwpd_run_clean(&d);
}

int main(int argc, char **argv)
{
	const char *why;

	(void)argc;
	tap_init();
	if (!backend_available(RWP_BACKEND_WP_ASYNC, RWP_MEM_SHMEM, &why) &&
	    !backend_available(RWP_BACKEND_NATIVE, RWP_MEM_SHMEM, &why)) {
		tap_skip("rwpd killed", "%s", why);
		return tap_done();
	}
	scenario(rwpd_path_near(argv[0]), RESTART);
	scenario(rwpd_path_near(argv[0]), NEVER_BACK);
	scenario(rwpd_path_near(argv[0]), DETACH_WHILE_DOWN);
	return tap_done();
}
