// SPDX-License-Identifier: MIT
/*
 * Demotion: pages that stay idle move down the chain (compressed RAM -> file -> remote),
 * each tier keeping what was touched more recently. A page is BUSY while it moves; the
 * old copy is dropped only once the new one is stored.
 */
#include "evict.h"


static uint8_t age_of(const struct rwp_region *r, uint64_t pg)
{
	return __atomic_load_n(&((const uint8_t *)r->ages)[pg], __ATOMIC_RELAXED) & AGE_MASK;
}

/* Move the pages of b (claimed; their STORED states in b->to) from tier `from` down. */
static void move_down(struct rwp_evictor *e, struct rwp_batch *b, unsigned int from,
		      struct rwp_evict_result *res)
{
	struct rwp_ctx *ctx = e->ctx;
	struct rwp_region *r = b->r;
	struct rwp_store v[BATCH_BYTES / PAGE_4K];
	size_t pending[BATCH_BYTES / PAGE_4K], m = 0;
	ps_t old[BATCH_BYTES / PAGE_4K];

	for (size_t i = 0; i < b->n; i++) {
		old[i] = b->to[i];
		if (!rwp_tier_load(ctx->tiers[from], ps_slot(old[i]), b->buf + i * r->page_size,
				   r->page_size))
			pending[m++] = i;
	}
	/* each tier further down gets what the ones before it refused */
	for (unsigned int t = from + 1; t < ctx->nr_tiers && m; t++) {
		size_t left = 0;

		for (size_t k = 0; k < m; k++)
			v[k] = (struct rwp_store){ .data = b->buf + pending[k] * r->page_size };
		rwp_tier_store(ctx->tiers[t], v, m, r->page_size, t + 1 == ctx->nr_tiers);
		for (size_t k = 0; k < m; k++) {
			if (!v[k].result)
				b->to[pending[k]] = ps_stored(t, v[k].slot);
			else
				pending[left++] = pending[k];
		}
		m = left;
	}
	for (size_t i = 0; i < b->n; i++) {
		ps_release(&r->state[b->pg[i]], b->to[i]);
		if (b->to[i] != old[i]) {
			rwp_tier_drop(ctx->tiers[from], ps_slot(old[i]), r->page_size);
			res->demoted++;
		}
	}
	rwp_fault_thread_kick(ctx);
	b->n = 0;
}

void rwp_demote(struct rwp_evictor *e, struct rwp_evict_result *res)
{
	struct rwp_ctx *ctx = e->ctx;
	struct rwp_batch *b = &e->batch;

	for (unsigned int t = 0; t + 1 < ctx->nr_tiers; t++) {
		unsigned int age = ctx->tiers[t]->demote_age;

		if (!age)
			continue;
		for (size_t i = 0; i < ctx->nr_regions; i++) {
			struct rwp_region *r = ctx->regions[i];

			if (!r->state || atomic_load(&r->gone))
				continue;
			for (uint64_t pg = 0; pg < r->nr_pages; pg++) {
				ps_t s = ps_load(&r->state[pg]);

				if (ps_kind(s) != PS_STORED || ps_tier(s) != t || age_of(r, pg) < age)
					continue;
				if (!ps_claim(&r->state[pg], s))
					continue;
				b->r = r;
				b->to[b->n] = s;
				b->pg[b->n++] = pg;
				if (b->n == rwp_batch_max(r))
					move_down(e, b, t, res);
			}
			if (b->n)
				move_down(e, b, t, res);
		}
	}
}
