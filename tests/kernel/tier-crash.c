// SPDX-License-Identifier: MIT
/*
 * An owner dies mid-eviction and nothing is lost: this process holds guest memory (a
 * memfd) and threads that read, write and verify it; an owner process (this binary with
 * --owner, like rwpd) manages it from outside (uffd and memfd inherited, a state
 * directory, the splice pipe kept here) evicting aggressively, and is killed with SIGKILL
 * at a random moment, five times over; each successor recovers the state and goes on.
 * At the end this process takes over itself, and every page must hold its last write.
 * Once with compressed RAM, once with a file tier (whose slots a successor must not
 * hand out again while pages still live in them).
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
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TAP_DEFINE;

extern char **environ;

#define ROUNDS 5
#define MB 128
#define SUBS (MB * 256)

struct layout {
	int zap_sock; /* the owner asks this process to drop its own PTEs through it */
	pid_t pid;
	uintptr_t addr;
	size_t len;
	int memfd, uffd, pipe_rd, pipe_wr;
	uint64_t features;
	enum rwp_backend backend;
	const char *state;
	const char *tier; /* rwp_tier_from_spec() */
};

static void log_stderr(void *arg, enum rwp_log_level lvl, const char *msg)
{
	(void)arg;
	fprintf(stderr, "# owner %d: librwp[%d]: %s\n", (int)getpid(), lvl, msg);
}

struct zap_req {
	uint64_t addr, len;
};

/* Owner side: the kernel will not let it zap our PTEs, so it asks us to. */
static int zap_by_owner(void *arg, uintptr_t addr, size_t len)
{
	int sock = *(int *)arg;
	struct zap_req q = { addr, len };
	int32_t ret;

	if (send(sock, &q, sizeof(q), 0) != sizeof(q) || recv(sock, &ret, sizeof(ret), 0) != 4)
		return -EPIPE;
	return ret;
}

/* Guest side: serve zap requests until the owner goes away. */
static void *zap_agent(void *arg)
{
	int sock = (int)(intptr_t)arg;
	struct zap_req q;

	while (recv(sock, &q, sizeof(q), 0) == sizeof(q)) {
		int32_t ret = madvise((void *)q.addr, q.len, MADV_DONTNEED) ? -errno : 0;

		if (send(sock, &ret, sizeof(ret), 0) != sizeof(ret))
			break;
	}
	close(sock);
	return NULL;
}

/* Become the owner of the layout's memory: recover, then evict in a loop until killed. */
static int owner(const struct layout *l, bool takeover, struct rwp_ctx **out)
{
	RWP_OPTS(rwp_ctx_opts, co, .flags = RWP_CTX_ADOPT_UFFD | RWP_CTX_KEEP_PIPE,
		 .pid = takeover ? 0 : l->pid,
		 .uffd = l->uffd, .uffd_features = l->features, .state_dir = l->state,
		 .pipe_fds = { l->pipe_rd, l->pipe_wr }, .log = log_stderr,
		 .log_level = getenv("RWP_TEST_VERBOSE") ? RWP_LOG_DEBUG : RWP_LOG_ERR,
		 .zap = takeover ? NULL : zap_by_owner, .zap_arg = (void *)&l->zap_sock);
	RWP_OPTS(rwp_region_opts, ro, .mem = RWP_MEM_SHMEM, .addr = (void *)l->addr, .len = l->len,
		 .fd = l->memfd, .backend = l->backend, .flags = RWP_REGION_EVICTABLE);
	RWP_OPTS(rwp_policy, pol, .min_idle = 1);
	struct rwp_ctx *ctx;
	struct rwp_region *r;
	struct rwp_tier *t;
	int64_t settled;
	int ret;

	ret = rwp_ctx_new(&co, &ctx);
	if (ret)
		return ret;
	if ((ret = rwp_tier_from_spec(l->tier, &t, NULL)) || (ret = rwp_tier_attach(ctx, t, 0)) ||
	    (ret = rwp_region_register(ctx, &ro, &r)))
		goto err;
	if (getenv("RWP_TEST_NO_PREFETCH")) {
		RWP_OPTS(rwp_fetch_opts, fo, .no_prefetch = true);

		rwp_fetch_configure(ctx, &fo);
	}
	settled = rwp_ctx_recover(ctx);
	if (settled < 0) {
		ret = (int)settled;
		goto err;
	}
	if (takeover) {
		*out = ctx;
		return (int)settled;
	}
	if ((ret = rwp_track_start(ctx)))
		goto err;
	for (int i = 0;; i++) {
		struct rwp_evict_result res;
		int64_t hot;

		usleep(20000);
		hot = rwp_track_tick(ctx);
		if (hot < 0 || rwp_evict(ctx, &pol, &res))
			break;
		if (getenv("RWP_TEST_VERBOSE"))
			fprintf(stderr, "# owner: tick %d: %lld hot, %llu evicted\n", i,
				(long long)hot, (unsigned long long)res.evicted);
	}
	ret = -EIO;
err:
	fprintf(stderr, "# owner: %s\n", rwp_ctx_last_error(ctx));
	rwp_ctx_abandon(ctx);
	rwp_ctx_free(ctx);
	return ret;
}

struct shared {
	uint8_t *base;
	uint32_t version[SUBS];
	atomic_bool stop;
	atomic_uint bad;
	atomic_ulong ops;
};

static void *worker(void *arg)
{
	struct shared *sh = arg;
	uint64_t seed = 99;

	while (!atomic_load(&sh->stop)) {
		uint64_t x = test_rand(&seed), s = (x >> 8) % SUBS, v;

		/* a hot eighth and the rest, so that there is always something cold */
		if (x % 8)
			s %= SUBS / 8;
		if (!pattern_check(sh->base + s * 4096, s, &v) || v != sh->version[s]) {
			const uint64_t *w = (const uint64_t *)(sh->base + s * 4096);

			if (atomic_fetch_add(&sh->bad, 1) < 5)
				tap_diag("page %llu: holds page %llu version %llu, want version %u",
					 (unsigned long long)s, (unsigned long long)w[0],
					 (unsigned long long)w[1], sh->version[s]);
		}
		if (x & 16)
			pattern_fill(sh->base + s * 4096, s, ++sh->version[s]);
		atomic_fetch_add(&sh->ops, 1);
	}
	return NULL;
}

static pid_t spawn_owner(const char *self, const struct layout *l)
{
	char a[12][160];
	char *argv[14];
	pid_t pid;

	snprintf(a[0], 160, "--owner");
	snprintf(a[1], 160, "%d", (int)l->pid);
	snprintf(a[2], 160, "%#lx", (unsigned long)l->addr);
	snprintf(a[3], 160, "%zu", l->len);
	snprintf(a[4], 160, "%d", l->memfd);
	snprintf(a[5], 160, "%d", l->uffd);
	snprintf(a[6], 160, "%#llx", (unsigned long long)l->features);
	snprintf(a[7], 160, "%d,%d", l->pipe_rd, l->pipe_wr);
	snprintf(a[8], 160, "%s", l->state);
	snprintf(a[9], 160, "%d", l->backend);
	snprintf(a[10], 160, "%d", l->zap_sock);
	snprintf(a[11], 160, "%s", l->tier);
	argv[0] = (char *)self;
	for (int i = 0; i < 12; i++)
		argv[i + 1] = a[i];
	argv[13] = NULL;
	return posix_spawn(&pid, self, NULL, NULL, argv, environ) ? -1 : pid;
}

static int owner_main(char **argv)
{
	struct layout l = {
		.pid = atoi(argv[2]),
		.addr = strtoul(argv[3], NULL, 0),
		.len = strtoul(argv[4], NULL, 0),
		.memfd = atoi(argv[5]),
		.uffd = atoi(argv[6]),
		.features = strtoull(argv[7], NULL, 0),
		.state = argv[9],
		.backend = atoi(argv[10]),
		.zap_sock = atoi(argv[11]),
		.tier = argv[12],
	};

	sscanf(argv[8], "%d,%d", &l.pipe_rd, &l.pipe_wr);
	return owner(&l, false, NULL) ? 1 : 0;
}

static void run(const char *self, enum rwp_backend b, bool file_tier)
{
	static struct shared sh;
	char state[] = "/tmp/rwp-crash-XXXXXX", tier[64] = "zram-lz4";
	struct layout l = { .pid = getpid(), .len = MB << 20, .backend = b, .state = state,
			    .tier = tier };
	const char *why;
	struct guestmem g;
	struct rwp_ctx *ctx = NULL;
	struct rwp_stats st;
	pthread_t th;
	bool started = false, ok = false;
	int pfd[2], settled_total = 0;
	uint64_t seed = 5;

	memset(&sh, 0, sizeof(sh));
	CHECK(mkdtemp(state), out, "mkdtemp");
	if (file_tier)
		snprintf(tier, sizeof(tier), "file:%s/tier.swap", state);
	CHECK(!guestmem_map(&g, RWP_MEM_SHMEM, l.len, &why), out, "map");
	sh.base = g.base;
	for (uint64_t s = 0; s < SUBS; s++)
		pattern_fill(g.base + s * 4096, s, sh.version[s] = 1);
	l.addr = (uintptr_t)g.base;
	l.memfd = g.fd;
	CHECK(!rwp_uffd_create(&l.uffd, &l.features), out, "uffd");
	CHECK(!pipe(pfd), out, "pipe");
	l.pipe_rd = pfd[0];
	l.pipe_wr = pfd[1];
	/* the owner inherits them */
	fcntl(l.memfd, F_SETFD, 0);
	fcntl(l.uffd, F_SETFD, 0);
	CHECK(!pthread_create(&th, NULL, worker, &sh), out, "worker");
	started = true;
	for (int round = 0; round < ROUNDS; round++) {
		pthread_t agent;
		int sv[2], status;
		pid_t pid;

		CHECK(!socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), out, "socketpair");
		l.zap_sock = sv[1];
		pid = spawn_owner(self, &l);
		close(sv[1]);
		CHECK(pid > 0, out, "spawn owner");
		CHECK(!pthread_create(&agent, NULL, zap_agent, (void *)(intptr_t)sv[0]), out, "agent");
		pthread_detach(agent);
		usleep(200000 + test_rand(&seed) % 600000);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status), out, "owner %d exited by itself (%d): see its stderr",
		      round, WEXITSTATUS(status));
	}
	/* the last successor is this process itself, as a VMM taking over would be */
	settled_total = owner(&l, true, &ctx);
	CHECK(settled_total >= 0, out, "take over: %d", settled_total);
	rwp_stats(ctx, &st);
	tap_diag("at take-over: %llu pages evicted, %d settled from the batch in flight",
		 (unsigned long long)st.evicted_pages, settled_total);
	CHECK(st.evicted_pages > 0, out, "the owners evicted nothing: nothing was tested");
	usleep(300000);
	ok = true;
out:
	if (started) {
		atomic_store(&sh.stop, true);
		pthread_join(th, NULL);
	}
	if (ctx && !rwp_stats(ctx, &st))
		tap_diag("%s: %lu guest ops across %d owners killed mid-run; %llu fetched after",
			 rwp_backend_name(b), atomic_load(&sh.ops), ROUNDS,
			 (unsigned long long)st.fetched);
	for (uint64_t s = 0; ok && s < SUBS; s++) {
		uint64_t v;

		if (!pattern_check(g.base + s * 4096, s, &v) || v != sh.version[s]) {
			tap_diag("page %llu wrong at the end", (unsigned long long)s);
			ok = false;
		}
	}
	if (atomic_load(&sh.bad)) {
		tap_diag("%u bad reads while owners died", atomic_load(&sh.bad));
		ok = false;
	}
	tap_ok(ok, "%s, %s tier: owners killed mid-eviction %d times, no page lost",
	       rwp_backend_name(b), file_tier ? "file" : "zram", ROUNDS);
	rwp_ctx_free(ctx);
	guestmem_unmap(&g);
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	if (system(cmd))
		tap_diag("could not remove %s", state);
}

int main(int argc, char **argv)
{
	static const enum rwp_backend backends[] = { RWP_BACKEND_NATIVE, RWP_BACKEND_WP_ASYNC,
						     RWP_BACKEND_MINOR };

	if (argc == 13 && !strcmp(argv[1], "--owner"))
		return owner_main(argv);
	tap_init();
	for (size_t i = 0; i < 3; i++) {
		const char *why;

		if (!backend_selected(backends[i]))
			continue;
		if (!backend_available(backends[i], RWP_MEM_SHMEM, &why)) {
			tap_skip(rwp_backend_name(backends[i]), "%s", why);
			continue;
		}
		run(argv[0], backends[i], false);
		run(argv[0], backends[i], true);
	}
	return tap_done();
}
