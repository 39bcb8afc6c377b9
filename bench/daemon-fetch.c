// SPDX-License-Identifier: MIT
/*
 * Part 1: the fault latency of fetches from a zram tier, served by rwpd and by librwp in
 * the guest's own process. Each side has its own memfd guest and the same prefetch
 * window (rwpd's `prefetch` setting, rwp_fetch_configure() here). Each round evicts all
 * of the guest, then this thread touches every (2 x prefetch + 1)-th page once, timing
 * the access, so that no timed page is in its predecessor's window, and reads every page
 * back. Only touches of pages that were out (mincore) count. Rounds of the sides
 * alternate, so that a busy neighbour perturbs them alike.
 */
#define _GNU_SOURCE
#include "daemon.h"
#include "../lib/proto/codec.h"
#include "../tests/lib/pattern.h"
#include "../tests/lib/rwpd-run.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WAIT_MS 20000

struct side {
	enum fetch_side kind;
	unsigned int prefetch;
	struct fetch_result *res;
	struct guestmem g;
	bool mapped;
	uint64_t version;
	uint64_t *evict_ns;	/* per round */
	/* librwp in this process */
	struct rwp_ctx *ctx;
	struct rwp_region *r;
	char dir[64];		/* SIDE_LIB_DISK: its state directory */
	/* rwpd */
	struct rwpd_run d;
	struct rwp_client *c;
	uint64_t id;
};

const char *fetch_side_name(enum fetch_side s)
{
	static const char *const names[SIDE_NR] = {
		[SIDE_LIB] = "in-process",
		[SIDE_LIB_DISK] = "in-process, state on disk",
		[SIDE_RWPD] = "rwpd",
	};

	return s < SIDE_NR ? names[s] : "?";
}

static bool fail(struct side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct side *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->res->why[0]) {
		va_start(ap, fmt);
		vsnprintf(s->res->why, sizeof(s->res->why), fmt, ap);
		va_end(ap);
	}
	s->res->ok = false;
	return false;
}

/*
 * Page contents that compress about 2:1 (a random half, then zeros), so that the tier
 * stores them compressed and a fetch decompresses, and that name their page and version.
 */
static void page_fill(uint8_t *p, uint64_t pg, uint64_t version)
{
	uint64_t *w = (uint64_t *)p;

	w[0] = pg;
	w[1] = version;
	for (size_t i = 2; i < PAGE / 16; i++)
		w[i] = pattern_word(pg, version, i);
	memset(p + PAGE / 2, 0, PAGE / 2);
}

static bool page_good(const uint8_t *p, uint64_t pg, uint64_t version)
{
	const uint64_t *w = (const uint64_t *)p;

	if (w[0] != pg || w[1] != version)
		return false;
	for (size_t i = 2; i < PAGE / 8; i++)
		if (w[i] != (i < PAGE / 16 ? pattern_word(pg, version, i) : 0))
			return false;
	return true;
}

static void fill_all(struct side *s)
{
	for (uint64_t pg = 0; pg < s->g.nr_pages; pg++)
		page_fill(s->g.base + pg * PAGE, pg, s->version);
}

static bool check_all(struct side *s)
{
	for (uint64_t pg = 0; pg < s->g.nr_pages; pg++)
		if (!page_good(s->g.base + pg * PAGE, pg, s->version))
			return fail(s, "%s: page %llu read back wrong (version %llu)",
				    fetch_side_name(s->kind), (unsigned long long)pg,
				    (unsigned long long)s->version);
	return true;
}

static uint64_t pages_in(const struct guestmem *g)
{
	unsigned char *vec = calloc(g->nr_pages, 1);
	uint64_t n = 0;

	if (!vec || mincore(g->base, g->len, vec)) {
		free(vec);
		return UINT64_MAX;
	}
	for (size_t i = 0; i < g->nr_pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

static void log_stderr(void *arg, enum rwp_log_level lvl, const char *msg)
{
	fprintf(stderr, "# %s [%d]: %s\n", (const char *)arg, lvl, msg);
}

/* ------------------------------------------------------------- rwpd side -- */

static bool status_u64(struct side *s, const char *key, uint64_t *v)
{
	char *json = rwpd_run_guest_status(&s->d, s->id);
	bool ok = json && json_u64(json, key, v);

	free(json);
	return ok || fail(s, "rwpd STATUS has no \"%s\"", key);
}

/* Poll STATUS until key reaches at least min. */
static bool await_u64(struct side *s, const char *key, uint64_t min)
{
	uint64_t v = 0;

	for (int ms = 0; ms < WAIT_MS; ms += 2) {
		if (!status_u64(s, key, &v))
			return false;
		if (v >= min)
			return true;
		usleep(2000);
	}
	return fail(s, "rwpd: \"%s\" stayed at %llu, want %llu", key, (unsigned long long)v,
		    (unsigned long long)min);
}

/*
 * The guest's policy is min_idle = 1 and an hour-long interval: no tick runs while the
 * guest is measured. A policy change wakes its interval thread for one tick and pass; two
 * of them age every page past min_idle, then EVICT takes whatever the passes left.
 */
static bool rwpd_evict_all(struct side *s)
{
	struct rwpd_policy pol = { .guest_id = s->id, .min_idle = 1 };
	struct rwpd_evict_req req = { .guest_id = s->id };
	uint64_t ticks, passes;
	uint8_t pkt[128];
	char *text = NULL;
	int ret;

	if (!status_u64(s, "intervals", &ticks) || !status_u64(s, "passes", &passes))
		return false;
	for (unsigned int i = 1; i <= 2; i++) {
		ret = rwpd_run_call(&s->d, pkt,
				    rwpd_encode_policy(pkt, sizeof(pkt), RWPD_RUN_SEQ, &pol), NULL);
		if (ret)
			return fail(s, "rwpd SET_POLICY: %s", strerror(-ret));
		if (!await_u64(s, "intervals", ticks + i))
			return false;
	}
	ret = rwpd_run_call(&s->d, pkt, rwpd_encode_evict(pkt, sizeof(pkt), RWPD_RUN_SEQ, &req),
			    &text);
	if (ret) {
		fail(s, "rwpd EVICT: %s (%s)", strerror(-ret), text ? text : "");
		free(text);
		return false;
	}
	free(text);
	/* the interval thread's second pass may still run: wait for it, then measure */
	return await_u64(s, "passes", passes + 3);
}

static bool rwpd_open(const struct daemon_opts *o, struct side *s)
{
	char conf[128];
	int ret;

	snprintf(conf, sizeof(conf), "interval_ms = 3600000\nmin_idle = 1\nrefault_ppm = 0\n"
		 "prefetch = %u\ntier = zram-lz4", s->prefetch);
	ret = rwpd_run_start(&s->d, o->rwpd, conf);
	if (ret)
		return fail(s, "cannot start %s: %s", o->rwpd, strerror(-ret));
	struct rwp_client_region reg = { .addr = s->g.base, .len = s->g.len,
					 .mem = RWP_MEM_SHMEM, .fd = s->g.fd };
	RWP_OPTS(rwp_client_opts, co, .socket = s->d.socket, .name = "bench", .regions = &reg,
		 .nr_regions = 1, .flags = RWP_CLIENT_EVICTABLE, .log = log_stderr,
		 .log_arg = (void *)"client");

	ret = rwp_client_attach(&co, &s->c);
	if (ret)
		return fail(s, "rwp_client_attach: %s", strerror(-ret));
	s->id = rwp_client_guest_id(s->c);
	return true;
}

/* --------------------------------------------------------- librwp sides -- */

static bool lib_open(struct side *s)
{
	struct rwp_tier *t = NULL;
	int ret;

	if (s->kind == SIDE_LIB_DISK) {
		snprintf(s->dir, sizeof(s->dir), "/tmp/rwp-bench-state-XXXXXX");
		if (!mkdtemp(s->dir)) {
			s->dir[0] = 0;
			return fail(s, "mkdtemp: %s", strerror(errno));
		}
	}
	RWP_OPTS(rwp_ctx_opts, co, .log = log_stderr, .log_arg = (void *)"librwp",
		 .state_dir = s->dir[0] ? s->dir : NULL);
	RWP_OPTS(rwp_fetch_opts, fo, .prefetch = s->prefetch, .no_prefetch = !s->prefetch);

	ret = rwp_ctx_new(&co, &s->ctx);
	if (ret)
		return fail(s, "rwp_ctx_new: %s", strerror(-ret));
	ret = rwp_fetch_configure(s->ctx, &fo);
	if (!ret)
		ret = guestmem_register(s->ctx, &s->g, RWP_BACKEND_AUTO, RWP_REGION_EVICTABLE,
					&s->r);
	if (!ret)
		ret = rwp_tier_zram_new(NULL, &t);
	if (!ret && (ret = rwp_tier_attach(s->ctx, t, 0)))
		rwp_tier_free(t);
	/* armed like rwpd's guests, though nothing ticks */
	if (!ret)
		ret = rwp_track_start(s->ctx);
	if (ret)
		return fail(s, "librwp set-up: %s", rwp_ctx_last_error(s->ctx));
	return true;
}

static bool lib_evict_all(struct side *s)
{
	struct rwp_evict_result res;
	int ret = rwp_evict_range(s->r, 0, s->g.nr_pages, &res);

	if (ret || res.failed)
		return fail(s, "rwp_evict_range: %s, %llu failed", rwp_ctx_last_error(s->ctx),
			    (unsigned long long)res.failed);
	return true;
}

/* ---------------------------------------------------------------- rounds -- */

static bool side_open(const struct daemon_opts *o, struct side *s)
{
	const char *why = NULL;

	s->res->ok = true;
	s->res->intact = true;
	s->evict_ns = calloc(o->rounds + 1, sizeof(*s->evict_ns));
	if (!s->evict_ns)
		return fail(s, "out of memory");
	if (guestmem_map(&s->g, RWP_MEM_SHMEM, o->mb << 20, &why))
		return fail(s, "cannot map %zu MiB: %s", o->mb, why ? why : "?");
	s->mapped = true;
	madvise(s->g.base, s->g.len, MADV_DONTFORK);
	s->version = 1;
	fill_all(s);
	return s->kind == SIDE_RWPD ? rwpd_open(o, s) : lib_open(s);
}

/* Evict everything, touch every stride-th page from offset k, read all back, rewrite. */
static bool side_round(struct side *s, unsigned int k, bool measured)
{
	struct fetch_result *res = s->res;
	uint64_t t0 = now_ns(), left, stride = FETCH_STRIDE(s->prefetch);
	bool ok = s->kind == SIDE_RWPD ? rwpd_evict_all(s) : lib_evict_all(s);

	if (!ok)
		return false;
	s->evict_ns[k] = now_ns() - t0;
	left = pages_in(&s->g);
	if (left)
		return fail(s, "%s: %llu of %zu pages still resident after eviction",
			    fetch_side_name(s->kind), (unsigned long long)left, s->g.nr_pages);
	for (uint64_t pg = k % stride; pg < s->g.nr_pages; pg += stride) {
		const volatile uint64_t *w = (const volatile uint64_t *)(s->g.base + pg * PAGE);
		bool out = !page_in_core((const void *)w, PAGE);
		uint64_t a = now_ns(), v = *w, b = now_ns();

		if (v != pg) {
			res->intact = false;
			return fail(s, "%s: page %llu came back as page %llu",
				    fetch_side_name(s->kind), (unsigned long long)pg,
				    (unsigned long long)v);
		}
		if (!measured)
			continue;
		res->touches++;
		if (out) {
			res->faults++;
			if (lat_add(&res->lat, b - a))
				return fail(s, "out of memory");
		}
	}
	if (!check_all(s)) {
		res->intact = false;
		return false;
	}
	s->version++;
	fill_all(s);
	return true;
}

static void handler_stats(struct side *s)
{
	struct rwp_stats st;

	if (s->kind == SIDE_RWPD) {
		char *json = rwpd_run_guest_status(&s->d, s->id);

		if (json) {
			json_u64(json, "prefetched", &s->res->prefetched);
			json_u64(json, "p50", &s->res->handler_p50);
		}
		free(json);
	} else if (!rwp_stats(s->ctx, &st)) {
		s->res->prefetched = st.prefetched;
		s->res->handler_p50 = st.fault_latency.p50_ns;
	}
}

/* Bring everything home (detach / free), check it, and stop rwpd. */
static void side_close(struct side *s)
{
	if (s->c && rwp_client_detach(s->c))
		fail(s, "rwp_client_detach failed");
	s->c = NULL;
	rwp_ctx_free(s->ctx);
	s->ctx = NULL;
	if (s->mapped && s->res->ok && !check_all(s))
		s->res->intact = false;
	if (s->d.pid > 0 && rwpd_run_stop(&s->d, SIGTERM))
		fail(s, "rwpd did not stop cleanly");
	rwpd_run_clean(&s->d);
	if (s->dir[0] && rmdir(s->dir))
		fail(s, "state directory %s left behind: %s", s->dir, strerror(errno));
	if (s->mapped)
		guestmem_unmap(&s->g);
	free(s->evict_ns);
}

bool daemon_fetch_run(const struct daemon_opts *o, unsigned int prefetch,
		      struct fetch_result res[SIDE_NR])
{
	static struct side sides[SIDE_NR];
	bool ok = true;

	memset(sides, 0, sizeof(sides));
	for (int i = 0; i < SIDE_NR; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		sides[i].kind = i;
		sides[i].prefetch = prefetch;
		sides[i].res = &res[i];
		ok &= side_open(o, &sides[i]);
	}
	/* round 0 warms every path up and is not counted */
	for (unsigned int k = 0; ok && k <= o->rounds; k++)
		for (int i = 0; ok && i < SIDE_NR; i++)
			ok = side_round(&sides[i], k, k > 0);
	for (int i = 0; ok && i < SIDE_NR; i++)
		handler_stats(&sides[i]);
	for (int i = 0; i < SIDE_NR; i++) {
		res[i].evict_ms = (uint64_t)(median_u64(sides[i].evict_ns + 1, o->rounds) / 1e6);
		side_close(&sides[i]);
		ok &= res[i].ok && res[i].intact;
	}
	return ok;
}

void daemon_fetch_free(struct fetch_result res[SIDE_NR])
{
	for (int i = 0; i < SIDE_NR; i++)
		lat_free(&res[i].lat);
}
