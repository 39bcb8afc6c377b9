/* SPDX-License-Identifier: MIT */
/*
 * Hand-built rwpd snapshots (daemon/snapshot.h) for the tests of the renderers and of
 * rwpctl: numbers chosen so that every rendering of them is known in advance.
 */
#ifndef RWP_TEST_SNAPSHOTS_H
#define RWP_TEST_SNAPSHOTS_H

#include "../../daemon/snapshot.h"

#include <stdio.h>
#include <string.h>

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static inline void snap_daemon(struct rwpd_daemon_snap *d, unsigned int nr_guests)
{
	memset(d, 0, sizeof(*d));
	d->pid = 812;
	d->uptime_s = 10921.5;
	snprintf(d->version, sizeof(d->version), "0.1.0");
	snprintf(d->kernel, sizeof(d->kernel), "7.3.0-rwp");
	d->native_rwp = true;
	d->rss_bytes = 14 * MiB;
	d->nr_guests = nr_guests;
}

/* web1: a tracked and evicted VMM guest of 4 GiB, two regions, two tiers. */
static inline void snap_web1(struct rwpd_guest_snap *g)
{
	struct rwp_stats *st = &g->stats;

	memset(g, 0, sizeof(*g));
	g->id = 1;
	snprintf(g->name, sizeof(g->name), "web1");
	g->pid = 4242;
	g->kind = RWPD_GUEST_VMM;
	g->phase = RWPD_PHASE_RUNNING;
	g->uptime_s = 7380.25;
	g->intervals = 7380;
	g->policy = (struct rwpd_policy_snap){ .interval_ms = 1000, .min_idle = 60,
					       .target_resident = 2 * GiB, .max_evict = 0,
					       .refault_ppm = 2000 };
	g->wss_bytes[0] = 512 * MiB;
	g->wss_bytes[1] = 600 * MiB;
	g->wss_bytes[2] = 800 * MiB;
	st->guest_bytes = 4 * GiB;
	st->resident_bytes = 1 * GiB;
	st->evicted_pages = 786432;
	st->zero_pages = 1000;
	st->saved_bytes = 2900 * MiB;
	st->nr_tiers = 2;
	st->tier[0] = (struct rwp_tier_stats){ "zram", 700000, 700000 * 4096ull, 900 * MiB,
					       800000, 100000, 0 };
	st->tier[1] = (struct rwp_tier_stats){ "file", 85432, 85432 * 4096ull, 334 * MiB,
					       85432, 0, 2 };
	st->faults_missing = 1200;
	st->faults_minor = 0;
	st->faults_rwp = 45000;
	st->faults_held = 3;
	st->fetched = 1180;
	st->fetched_zero = 20;
	st->prefetched = 400;
	st->prefetch_hits = 300;
	st->prefetch_waste = 50;
	st->evicted_total = 800000;
	st->evict_failures = 3;
	st->refault_rate = 0.0012;
	st->fault_latency = (struct rwp_latency){ .count = 1200, .p50_ns = 12300,
						  .p90_ns = 20100, .p99_ns = 45600,
						  .max_ns = 1200000, .mean_ns = 14000 };
	g->timing = (struct rwp_track_timing){ .ticks = 7380, .pages = 1000000000,
					       .hot_pages = 1000, .scan_ns = 1500000000,
					       .bookkeeping_ns = 800000000,
					       .protect_ns = 2100000000 };
	g->evict_passes = 120;
	g->evict_ns = 1200000000;
	g->nr_regions = 2;
	g->regions[0] = (struct rwpd_region_snap){
		.addr = 0x7f0000000000, .len = 3 * GiB, .gpa = 0, .page_size = 4096,
		.mem = RWP_MEM_SHMEM, .backend = RWP_BACKEND_NATIVE,
		.sees = RWP_SEES_READS | RWP_SEES_WRITES | RWP_SEES_KERNEL,
	};
	snprintf(g->regions[0].reason, sizeof(g->regions[0].reason),
		 "native RWP on Linux 7.3: sees reads, writes and KVM");
	g->regions[1] = (struct rwpd_region_snap){
		.addr = 0x7f00c0000000, .len = 1 * GiB, .gpa = 0x100000000, .page_size = 2 * MiB,
		.mem = RWP_MEM_HUGETLB, .backend = RWP_BACKEND_MINOR,
		.sees = RWP_SEES_READS | RWP_SEES_WRITES,
	};
	snprintf(g->regions[1].reason, sizeof(g->regions[1].reason),
		 "hugetlb evictable: MINOR holds accesses while a page is copied");
}

/* batch7: a Firecracker lazy restore, no tiers, no fault served yet. */
static inline void snap_batch7(struct rwpd_guest_snap *g)
{
	memset(g, 0, sizeof(*g));
	g->id = 7;
	snprintf(g->name, sizeof(g->name), "batch7");
	g->pid = 5151;
	g->kind = RWPD_GUEST_FIRECRACKER;
	g->phase = RWPD_PHASE_RESTORING;
	g->uptime_s = 42;
	g->policy = (struct rwpd_policy_snap){ .interval_ms = 5000, .min_idle = 60 };
	g->stats.guest_bytes = 256 * MiB;
	g->stats.resident_bytes = 64 * MiB;
	g->stats.evicted_pages = 49152;
	g->nr_regions = 1;
	g->regions[0] = (struct rwpd_region_snap){
		.addr = 0x7f8000000000, .len = 256 * MiB, .page_size = 4096,
		.mem = RWP_MEM_ANON, .backend = RWP_BACKEND_AUTO,
	};
	snprintf(g->regions[0].reason, sizeof(g->regions[0].reason),
		 "Firecracker's uffd: lazy restore only");
}

#endif
