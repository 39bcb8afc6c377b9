// SPDX-License-Identifier: MIT
/*
 * The remote tier: pages evicted to an NBD server (nbdkit, on a Unix socket, serving a
 * file) come back bit-exact, and killing the server mid-run loses nothing: while it is
 * gone stores fail (the pages stay resident) and fetches wait; once it is back everything
 * proceeds. A worker keeps reading and writing verified pages all along.
 */
#define _GNU_SOURCE
#include "../lib/guestmem.h"
#include "../lib/pattern.h"
#include "../lib/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TAP_DEFINE;

extern char **environ;

#define MB 32
#define PAGES (MB * 256)

static char dir[] = "/tmp/rwp-nbd-XXXXXX";
static char sock[128], file[128], uri[192];

static pid_t server_start(void)
{
	static char prog[] = "nbdkit", fg[] = "-f", orphan[] = "--exit-with-parent", opt_unix[] = "-U",
		    plugin[] = "file";
	char arg[160];
	char *argv[] = { prog, fg, orphan, opt_unix, sock, plugin, arg, NULL };
	pid_t pid;

	snprintf(arg, sizeof(arg), "file=%s", file);
	unlink(sock);
	if (posix_spawnp(&pid, "nbdkit", NULL, NULL, argv, environ))
		return -1;
	for (int i = 0; i < 500 && access(sock, F_OK); i++)
		usleep(10000);
	return access(sock, F_OK) ? -1 : pid;
}

static void server_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

struct shared {
	struct guestmem *g;
	uint32_t version[PAGES];
	atomic_bool stop;
	atomic_uint bad;
	atomic_ulong reads;
};

static void *worker(void *arg)
{
	struct shared *sh = arg;
	uint64_t seed = 7;

	while (!atomic_load(&sh->stop)) {
		uint64_t x = test_rand(&seed), pg = (x >> 8) % PAGES, v;

		if (!pattern_check(sh->g->base + pg * 4096, pg, &v) || v != sh->version[pg])
			atomic_fetch_add(&sh->bad, 1);
		if (x & 1)
			pattern_fill(sh->g->base + pg * 4096, pg, ++sh->version[pg]);
		atomic_fetch_add(&sh->reads, 1);
		usleep(200);
	}
	return NULL;
}

static int evict_cycle(struct rwp_ctx *ctx, struct rwp_evict_result *res)
{
	RWP_OPTS(rwp_policy, pol, .min_idle = 1);

	if (rwp_track_tick(ctx) < 0)
		return -1;
	return rwp_evict(ctx, &pol, res);
}

int main(void)
{
	RWP_OPTS(rwp_fetch_opts, fo, .retries = 1000, .timeout_ms = 60000);
	static struct shared sh;
	struct guestmem g;
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r;
	struct rwp_tier *t = NULL;
	struct rwp_evict_result res;
	struct rwp_stats st;
	pthread_t th;
	bool started = false, ok = false;
	const char *why;
	uint64_t down_kept = 0, up_evicted = 0;
	pid_t srv = -1;
	int fd;

	tap_init();
	if (!backend_available(RWP_BACKEND_WP_ASYNC, RWP_MEM_SHMEM, &why) &&
	    !backend_available(RWP_BACKEND_NATIVE, RWP_MEM_SHMEM, &why)) {
		tap_skip("nbd tier", "%s", why);
		return tap_done();
	}
	CHECK(mkdtemp(dir), out, "mkdtemp");
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(file, sizeof(file), "%s/export", dir);
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s", sock);
	fd = open(file, O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0 && !ftruncate(fd, 2 * MB << 20), out, "export file");
	close(fd);
	srv = server_start();
	CHECK(srv > 0, out, "cannot start nbdkit (installed by scripts/setup.sh)");

	CHECK(!guestmem_map(&g, RWP_MEM_SHMEM, MB << 20, &why), out, "map");
	sh.g = &g;
	for (size_t pg = 0; pg < PAGES; pg++)
		pattern_fill(g.base + pg * 4096, pg, sh.version[pg] = 1);
	CHECK(!test_ctx_new(0, &ctx), out, "context");
	CHECK(!guestmem_register(ctx, &g, RWP_BACKEND_AUTO, RWP_REGION_EVICTABLE, &r), out,
	      "register: %s", rwp_ctx_last_error(ctx));
	RWP_OPTS(rwp_tier_nbd_opts, no, .uri = uri);
	CHECK(!rwp_tier_nbd_new(&no, &t), out, "nbd tier at %s", uri);
	CHECK(!rwp_tier_attach(ctx, t, 0), out, "attach");
	t = NULL;
	CHECK(!rwp_fetch_configure(ctx, &fo), out, "fetch options");
	CHECK(!rwp_track_start(ctx), out, "start");

	/* everything goes out to the server, and comes back on demand */
	CHECK(!rwp_evict_range(r, 0, PAGES, &res) && res.evicted == PAGES, out,
	      "evict to nbd: %llu", (unsigned long long)res.evicted);
	CHECK(!pthread_create(&th, NULL, worker, &sh), out, "worker");
	started = true;
	for (int i = 0; i < 5; i++) {
		usleep(100000);
		CHECK(!evict_cycle(ctx, &res), out, "evict: %s", rwp_ctx_last_error(ctx));
	}

	/* the server dies: stores fail and leave pages resident, fetches wait */
	server_kill(srv);
	for (int i = 0; i < 5; i++) {
		usleep(100000);
		CHECK(!evict_cycle(ctx, &res), out, "evict: %s", rwp_ctx_last_error(ctx));
		down_kept += res.kept;
		CHECK(res.evicted == 0, out, "evicted %llu pages to a dead server",
		      (unsigned long long)res.evicted);
	}
	/* it comes back on the same storage */
	srv = server_start();
	CHECK(srv > 0, out, "restart nbdkit");
	for (int i = 0; i < 5; i++) {
		usleep(100000);
		CHECK(!evict_cycle(ctx, &res), out, "evict: %s", rwp_ctx_last_error(ctx));
		up_evicted += res.evicted;
	}
	tap_diag("server down: %llu pages kept resident; back: %llu evicted again",
		 (unsigned long long)down_kept, (unsigned long long)up_evicted);
	CHECK(down_kept > 0 && up_evicted > 0, out, "the outage was not exercised");
	ok = true;
out:
	if (started) {
		atomic_store(&sh.stop, true);
		pthread_join(th, NULL);
	}
	if (ctx) {
		rwp_stats(ctx, &st);
		tap_diag("%lu worker reads, %llu fetched, %llu fetch errors retried, %llu poisoned",
			 atomic_load(&sh.reads), (unsigned long long)st.fetched,
			 (unsigned long long)st.fetch_errors, (unsigned long long)st.poisoned);
		ok = ok && !st.poisoned;
	}
	/* every page, home from the server or resident, must be right */
	for (size_t pg = 0; ok && pg < PAGES; pg++) {
		uint64_t v;

		if (!pattern_check(g.base + pg * 4096, pg, &v) || v != sh.version[pg]) {
			tap_diag("page %zu wrong at the end", pg);
			ok = false;
		}
	}
	if (atomic_load(&sh.bad)) {
		tap_diag("%u bad reads during the run", atomic_load(&sh.bad));
		ok = false;
	}
	tap_ok(ok, "nbd tier: bit-exact, and the server killed and restarted mid-run loses no page");
	rwp_tier_free(t);
	rwp_ctx_free(ctx);
	guestmem_unmap(&g);
	if (srv > 0)
		server_kill(srv);
	unlink(sock);
	unlink(file);
	rmdir(dir);
	return tap_done();
}
