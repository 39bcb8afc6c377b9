// SPDX-License-Identifier: MIT
/*
 * The refault budget. Google's far-memory fleet keeps promotions (refaults) under 0.2% of
 * a job's working set per minute by choosing how long a page must be idle; here the idle
 * threshold rises by one interval each pass the budget is exceeded and falls back by one
 * while refaults stay under half of it.
 */
#include "evict.h"
#include "../opts.h"
#include "../fetch/fetch.h"

#define ADAPT_MAX 32

unsigned int rwp_policy_min_idle(struct rwp_ctx *ctx, const struct rwp_policy *p)
{
	unsigned int base = OPTS_GET(p, min_idle, 0) ?: 1;
	double budget = OPTS_GET(p, max_refault_rate, 0.0);
	uint64_t wss = 0;
	double rate;

	if (base > RWP_AGE_MAX)
		base = RWP_AGE_MAX;
	if (budget <= 0) {
		ctx->min_idle_adapt = 0;
		return base;
	}
	for (size_t i = 0; i < ctx->nr_regions; i++)
		wss += rwp_ages_wss(ctx->regions[i], base);
	rate = (double)rwp_refaults_last_minute(ctx) / (double)(wss ? wss : 1);
	if (rate > budget && ctx->min_idle_adapt < ADAPT_MAX)
		ctx->min_idle_adapt++;
	else if (rate < budget / 2 && ctx->min_idle_adapt)
		ctx->min_idle_adapt--;
	return base + ctx->min_idle_adapt > RWP_AGE_MAX ? RWP_AGE_MAX : base + ctx->min_idle_adapt;
}
