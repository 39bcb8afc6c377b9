// SPDX-License-Identifier: MIT
/*
 * rwpd serves several guests at once: four guests (memfds handed over with
 * rwp_client_attach(), each with a thread reading, writing and verifying its pages while
 * rwpd tracks and evicts every 100 ms) all come back bit-exact, and the kernel shows
 * their memory left while they ran. A file tier that is one plain file can hold only one
 * guest's pages: a second guest is refused, and the first goes on unharmed.
 */
#define _GNU_SOURCE
#include "../lib/client-guest.h"
#include "../lib/guestmem.h"
#include "../lib/pattern.h"
#include "../lib/rwpd-run.h"
#include "../lib/tap.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TAP_DEFINE;

#define GUESTS 4
#define MB 64
#define SUBS (MB * 256)
#define SECONDS 8

struct vm {
	int idx;
	struct guestmem g;
	struct rwp_client *client;
	uint32_t version[SUBS];
	atomic_uint bad;
	atomic_ulong ops;
	uint64_t min_resident;
	pthread_t th;
};

static atomic_bool stop;

static void *run_guest(void *arg)
{
	struct vm *v = arg;
	uint64_t seed = 11 + v->idx, window = 0;

	while (!atomic_load(&stop)) {
		uint64_t x = test_rand(&seed), s = (x >> 8) % (SUBS / 16), ver;

		/* a hot sixteenth that moves, and now and then anywhere */
		s = (window + s) % SUBS;
		if (!(x % 512))
			s = (x >> 20) % SUBS;
		if (!(x % 65536))
			window = (window + SUBS / 8) % SUBS;
		if (!pattern_check(v->g.base + s * 4096, s, &ver) || ver != v->version[s])
			atomic_fetch_add(&v->bad, 1);
		if (x & 32)
			pattern_fill(v->g.base + s * 4096, s, ++v->version[s]);
		atomic_fetch_add(&v->ops, 1);
	}
	return NULL;
}

/* tier = file:PLAIN_FILE: one guest attaches, a second is refused with EBUSY. */
static void one_file_one_guest(const char *rwpd)
{
	char dir[] = "/tmp/rwp-onefile-XXXXXX", conf[160];
	struct guestmem g[2] = { { .fd = -1 }, { .fd = -1 } };
	struct rwp_client *c[2] = { NULL, NULL };
	static uint32_t version[2][4096];
	struct rwpd_run d = { 0 };
	const char *why;
	int ret[2] = { 0, 0 };

	CHECK(mkdtemp(dir), out, "mkdtemp");
	snprintf(conf, sizeof(conf), "interval_ms = 100\nmin_idle = 1\ntier = file:%s/one.swap",
		 dir);
	CHECK(!rwpd_run_start(&d, rwpd, conf), out, "cannot start rwpd");
	for (int i = 0; i < 2; i++) {
		struct client_guest_opts o = { .socket = d.socket, .name = i ? "second" : "first",
					       .bytes = 16 << 20, .quiet = true };

		ret[i] = client_guest_attach(&o, &g[i], version[i], &c[i], &why);
	}
	usleep(500000); /* the first guest's pages go to the file meanwhile */
	tap_ok(!ret[0] && ret[1] == -EBUSY && client_guest_intact(&g[0], version[0]),
	       "one plain file tier, two guests: the first attaches (%d), the second is refused "
	       "(%d), the first stays bit-exact", ret[0], ret[1]);
out:
	for (int i = 0; i < 2; i++) {
		if (c[i])
			rwp_client_detach(c[i]);
		if (g[i].base)
			guestmem_unmap(&g[i]);
	}
	if (d.pid)
		rwpd_run_stop(&d, SIGTERM);
	rwpd_run_clean(&d);
	snprintf(conf, sizeof(conf), "rm -rf %s", dir);
	if (system(conf))
		tap_diag("could not remove %s", dir);
}

int main(int argc, char **argv)
{
	static struct vm vms[GUESTS];
	struct rwpd_run d = { 0 };
	const char *why;
	char *status;
	int started = 0;
	bool ok = true;

	(void)argc;
	tap_init();
	if (!backend_available(RWP_BACKEND_WP_ASYNC, RWP_MEM_SHMEM, &why) &&
	    !backend_available(RWP_BACKEND_NATIVE, RWP_MEM_SHMEM, &why)) {
		tap_skip("rwpd guests", "%s", why);
		return tap_done();
	}
	CHECK(!rwpd_run_start(&d, rwpd_path_near(argv[0]),
			      "interval_ms = 100\nmin_idle = 1\nrefault_ppm = 0\ntier = zram-lz4"),
	      fail, "cannot start rwpd");
	tap_ok(true, "rwpd started");
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "%s -c %s 2>&1 | grep -q 'another rwpd serves it'",
			 rwpd_path_near(argv[0]), d.conf);
		tap_ok(!system(cmd), "a second rwpd on the same state directory is refused");
	}
	for (int i = 0; i < GUESTS; i++) {
		struct vm *v = &vms[i];
		char name[16];

		v->idx = i;
		snprintf(name, sizeof(name), "vm%d", i);
		struct client_guest_opts o = { .socket = d.socket, .name = name, .bytes = MB << 20 };
		int ret = client_guest_attach(&o, &v->g, v->version, &v->client, &why);

		CHECK(!ret, fail, "%s %s: %d", why, name, ret);
		v->min_resident = client_guest_resident(&v->g);
		CHECK(!pthread_create(&v->th, NULL, run_guest, v), fail, "thread");
		started++;
	}
	tap_ok(true, "%d guests attached", GUESTS);
	for (int t = 0; t < SECONDS * 10; t++) {
		usleep(100000);
		for (int i = 0; i < GUESTS; i++) {
			uint64_t r = client_guest_resident(&vms[i].g);

			if (r < vms[i].min_resident)
				vms[i].min_resident = r;
		}
	}
	status = rwpd_run_status(&d);
	if (status && getenv("RWP_TEST_VERBOSE"))
		fprintf(stderr, "%s\n", status);
	tap_ok(status && strstr(status, "\"vm3\""), "STATUS lists the guests");
	free(status);
fail:
	atomic_store(&stop, true);
	for (int i = 0; i < started; i++)
		pthread_join(vms[i].th, NULL);
	for (int i = 0; i < started; i++) {
		struct vm *v = &vms[i];
		/* every page, evicted or not, reads back as last written */
		bool good = !atomic_load(&v->bad) && client_guest_intact(&v->g, v->version);

		tap_ok(good && v->min_resident < v->g.len / 2,
		       "vm%d: %lu ops, %u bad reads, resident went down to %llu of %u MiB, every "
		       "page bit-exact", i, atomic_load(&v->ops), atomic_load(&v->bad),
		       (unsigned long long)v->min_resident >> 20, MB);
		ok &= good;
		CHECK(!rwp_client_detach(v->client), next, "detach vm%d", i);
next:
		v->client = NULL;
	}
	for (int i = 0; i < started; i++) {
		struct vm *v = &vms[i];

		ok &= client_guest_intact(&v->g, v->version);
		guestmem_unmap(&v->g);
	}
	tap_ok(ok && started == GUESTS, "after detach every page of every guest is home, intact");
	tap_ok(rwpd_run_stop(&d, SIGTERM) == 0, "rwpd stops cleanly on SIGTERM");
	rwpd_run_clean(&d);
	one_file_one_guest(rwpd_path_near(argv[0]));
	return tap_done();
}
