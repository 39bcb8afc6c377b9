/* SPDX-License-Identifier: MIT */
/*
 * A point-in-time picture of one guest managed by rwpd, taken by the daemon core and
 * rendered by report.c (STATUS as JSON, METRICS as Prometheus text). Rendering never
 * touches a live guest.
 */
#ifndef RWPD_SNAPSHOT_H
#define RWPD_SNAPSHOT_H

#include <rwp/rwp.h>

#define RWPD_SNAP_REGIONS 32
#define RWPD_SNAP_WINDOWS 3 /* WSS windows: 1, 4 and 16 intervals */

enum rwpd_guest_kind { RWPD_GUEST_VMM = 1, RWPD_GUEST_FIRECRACKER };

enum rwpd_guest_phase {
	RWPD_PHASE_RUNNING = 1, /* tracking and evicting */
	RWPD_PHASE_RESTORING,	/* lazy restore (Firecracker), fetch only */
	RWPD_PHASE_ORPHANED,	/* its VMM went away; state kept for a RESUME */
};

struct rwpd_region_snap {
	uint64_t addr, len, gpa;
	uint64_t page_size;
	enum rwp_mem mem;
	enum rwp_backend backend;
	unsigned int sees; /* RWP_SEES_* */
	char reason[192];
};

struct rwpd_policy_snap {
	uint32_t interval_ms;
	uint32_t min_idle;
	uint64_t target_resident;
	uint64_t max_evict;
	uint32_t refault_ppm;
	uint32_t flags;
};

struct rwpd_guest_snap {
	uint64_t id;
	char name[32];
	int pid;
	enum rwpd_guest_kind kind;
	enum rwpd_guest_phase phase;
	double uptime_s;
	uint64_t intervals;
	struct rwpd_policy_snap policy;
	uint64_t wss_bytes[RWPD_SNAP_WINDOWS]; /* accessed within 1, 4, 16 intervals */
	struct rwp_stats stats;
	struct rwp_track_timing timing;
	uint64_t evict_passes;
	uint64_t evict_ns;	/* time spent in eviction passes */
	unsigned int nr_regions;
	struct rwpd_region_snap regions[RWPD_SNAP_REGIONS];
};

struct rwpd_daemon_snap {
	int pid;
	double uptime_s;
	char version[16];
	char kernel[65];
	bool native_rwp;	/* the kernel has userfaultfd RWP */
	uint64_t rss_bytes;	/* the daemon's own resident memory */
	unsigned int nr_guests;
};

#endif
