// SPDX-License-Identifier: MIT
/*
 * Memory really leaves: after 3 intervals of a 1 GiB guest touching a fixed 10% of its
 * pages, the guest's resident memory, as the kernel counts it (memfd blocks, or the RSS of
 * an anon mapping), is at most 15% of the guest, and at most 20% with the compressed-RAM
 * tier's own memory added. Every page is then checked.
 */
#define _GNU_SOURCE
#include "../lib/combos.h"
#include "../lib/guestmem.h"
#include "../lib/tap.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

TAP_DEFINE;

static const struct combo cases[] = {
	{ RWP_MEM_SHMEM, RWP_BACKEND_NATIVE }, { RWP_MEM_HUGETLB, RWP_BACKEND_NATIVE },
	{ RWP_MEM_ANON, RWP_BACKEND_NATIVE },  { RWP_MEM_SHMEM, RWP_BACKEND_WP_ASYNC },
	{ RWP_MEM_SHMEM, RWP_BACKEND_MINOR },  { RWP_MEM_HUGETLB, RWP_BACKEND_MINOR },
};

/* A page that compresses like typical guest memory: a stamp, then repeated text. */
static const char text[] = "rwp resident-memory test page, guest data follows. ";
#define TEXT_LEN (sizeof(text) - 1)
static char repeated[4096 + TEXT_LEN];

static void text_init(void)
{
	for (size_t i = 0; i < sizeof(repeated); i++)
		repeated[i] = text[i % TEXT_LEN];
}

static void stamp(uint8_t *p, size_t pg)
{
	memset(p, 0, 64);
	snprintf((char *)p, 64, "page %zu", pg);
	/* byte i (>= 64) is text[(i + pg) % TEXT_LEN]: one copy, fast even under emulation */
	memcpy(p + 64, repeated + (64 + pg) % TEXT_LEN, 4096 - 64);
}

static bool stamped(const uint8_t *p, size_t pg)
{
	char head[64] = { 0 };

	snprintf(head, sizeof(head), "page %zu", pg);
	return !memcmp(p, head, 64) &&
	       !memcmp(p + 64, repeated + (64 + pg) % TEXT_LEN, 4096 - 64);
}

/* Resident bytes of the guest as the kernel counts them. */
static uint64_t resident(struct guestmem *g)
{
	struct stat st;
	unsigned char *vec;
	uint64_t n = 0;

	if (g->fd >= 0) {
		fstat(g->fd, &st);
		return (uint64_t)st.st_blocks * 512;
	}
	vec = calloc(g->len / 4096, 1);
	if (!vec || mincore(g->base, g->len, vec)) {
		free(vec);
		return UINT64_MAX;
	}
	for (size_t i = 0; i < g->len / 4096; i++)
		n += vec[i] & 1;
	free(vec);
	return n * 4096;
}

static void run_case(const struct combo *tc)
{
	char name[96];
	struct guestmem g;
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r;
	struct rwp_tier *t = NULL;
	struct rwp_stats st;
	uint64_t res = 0, tier_ram = 0, subs;
	size_t hot_every;
	bool ok = false;

	snprintf(name, sizeof(name), "%s/%s: 10%% hot 1 GiB guest resident <= 15%% after 3 intervals",
		 rwp_mem_name(tc->mem), rwp_backend_name(tc->backend));
	if (!guestmem_map_or_skip(&g, tc->mem, tc->backend, test_region_bytes(), name))
		return;
	subs = g.len / 4096;
	for (size_t s = 0; s < subs; s++)
		stamp(g.base + s * 4096, s);
	CHECK(!test_ctx_new(0, &ctx), out, "context");
	CHECK(!guestmem_register(ctx, &g, tc->backend, RWP_REGION_EVICTABLE, &r), out,
	      "register: %s", rwp_ctx_last_error(ctx));
	CHECK(!rwp_tier_zram_new(NULL, &t) && !rwp_tier_attach(ctx, t, 0), out, "tier");
	t = NULL;
	CHECK(!rwp_track_start(ctx), out, "start: %s", rwp_ctx_last_error(ctx));
	/* the hot set: every 10th guest page (4 KiB or huge) */
	hot_every = 10;
	RWP_OPTS(rwp_policy, pol, .min_idle = 1);
	for (int iv = 0; iv < 3; iv++) {
		struct rwp_evict_result er;

		for (size_t pg = 0; pg < g.nr_pages; pg += hot_every)
			(void)*(volatile uint8_t *)(g.base + pg * g.page_size + 100);
		CHECK(rwp_track_tick(ctx) >= 0, out, "tick");
		CHECK(!rwp_evict(ctx, &pol, &er), out, "evict: %s", rwp_ctx_last_error(ctx));
		res = resident(&g);
		rwp_stats(ctx, &st);
		tier_ram = st.tier[0].used_bytes;
		tap_diag("interval %d: evicted %llu, guest resident %.1f%%, tier RAM %.2f%%", iv,
			 (unsigned long long)er.evicted, 100.0 * res / g.len, 100.0 * tier_ram / g.len);
	}
	CHECK(res * 100 <= (uint64_t)g.len * 15, out, "guest resident %.1f%% > 15%%",
	      100.0 * res / g.len);
	CHECK((res + tier_ram) * 100 <= (uint64_t)g.len * 20, out, "with the tier %.1f%% > 20%%",
	      100.0 * (res + tier_ram) / g.len);
	for (size_t s = 0; s < subs; s++)
		CHECK(stamped(g.base + s * 4096, s), out, "page %zu corrupted", s);
	ok = true;
out:
	tap_ok(ok, "%s", name);
	rwp_tier_free(t);
	rwp_ctx_free(ctx);
	guestmem_unmap(&g);
}

int main(void)
{
	tap_init();
	text_init();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (backend_selected(cases[i].backend))
			run_case(&cases[i]);
	return tap_done();
}
