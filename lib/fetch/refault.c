// SPDX-License-Identifier: MIT
/* Refaults per second over the last minute, for the policy's refault budget. */
#include "fetch.h"

#include <time.h>

static uint64_t now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ring[i] counts second refaults_sec - (refaults_sec - i) % 60; stale slots are reset. */
void rwp_refault_note(struct rwp_ctx *ctx)
{
	uint64_t sec = now_sec(), last = atomic_load(&ctx->refaults_sec);

	if (sec != last && atomic_compare_exchange_strong(&ctx->refaults_sec, &last, sec)) {
		for (uint64_t s = last + 1; s <= sec && s <= last + 60; s++)
			atomic_store(&ctx->refaults_ring[s % 60], 0);
	}
	atomic_fetch_add(&ctx->refaults_ring[sec % 60], 1);
}

uint64_t rwp_refaults_last_minute(struct rwp_ctx *ctx)
{
	uint64_t sec = now_sec(), last = atomic_load(&ctx->refaults_sec), sum = 0;

	if (sec >= last + 60)
		return 0;
	/* seconds after the last noted one have had no refaults */
	for (uint64_t s = sec - 59; s <= last; s++)
		sum += atomic_load(&ctx->refaults_ring[s % 60]);
	return sum;
}
