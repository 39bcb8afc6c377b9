// SPDX-License-Identifier: MIT
/*
 * Part 2: rwpd's own memory with 0, 1, 4, 16 ... idle guests attached (memfd guests of
 * this process, populated, tracked every interval, never touched and never evicted:
 * min_idle is 127 intervals). Each step waits a few intervals for the guests' ticks to
 * have allocated what they need, then reads /proc/PID/smaps_rollup.
 */
#define _GNU_SOURCE
#include "daemon.h"
#include "../lib/proto/codec.h"
#include "../tests/lib/pattern.h"
#include "../tests/lib/rwpd-run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct idle_guest {
	struct guestmem g;
	struct rwp_client *c;
};

static bool smaps_rollup(pid_t pid, struct mem_point *p)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "Rss:", offsetof(struct mem_point, rss) },
		{ "Pss:", offsetof(struct mem_point, pss) },
		{ "Pss_Anon:", offsetof(struct mem_point, pss_anon) },
		{ "Pss_File:", offsetof(struct mem_point, pss_file) },
		{ "Pss_Shmem:", offsetof(struct mem_point, pss_shmem) },
	};
	char path[64], line[256];
	unsigned int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			size_t n = strlen(keys[i].key);

			if (!strncmp(line, keys[i].key, n)) {
				uint64_t kb = strtoull(line + n, NULL, 10);

				*(uint64_t *)((char *)p + keys[i].off) = kb << 10;
				found |= 1u << i;
			}
		}
	fclose(f);
	return found == (1u << (sizeof(keys) / sizeof(keys[0]))) - 1;
}

static bool attach(struct rwpd_run *d, struct idle_guest *v, unsigned int idx, size_t mb,
		   char *why, size_t n)
{
	const char *err = NULL;
	char name[16];
	int ret;

	if (guestmem_map(&v->g, RWP_MEM_SHMEM, mb << 20, &err)) {
		snprintf(why, n, "cannot map guest %u: %s", idx, err ? err : "?");
		return false;
	}
	madvise(v->g.base, v->g.len, MADV_DONTFORK);
	for (uint64_t pg = 0; pg < v->g.nr_pages; pg++)
		pattern_fill(v->g.base + pg * PAGE, pg, idx + 1);
	snprintf(name, sizeof(name), "idle%u", idx);
	struct rwp_client_region reg = { .addr = v->g.base, .len = v->g.len,
					 .mem = RWP_MEM_SHMEM, .fd = v->g.fd };
	RWP_OPTS(rwp_client_opts, co, .socket = d->socket, .name = name, .regions = &reg,
		 .nr_regions = 1, .flags = RWP_CLIENT_EVICTABLE);

	ret = rwp_client_attach(&co, &v->c);
	if (ret) {
		snprintf(why, n, "attach %s: %s", name, strerror(-ret));
		return false;
	}
	return true;
}

/* Detach (bringing any page home) and check every page. */
static bool detach(struct idle_guest *v, unsigned int idx)
{
	bool ok = !rwp_client_detach(v->c);

	for (uint64_t pg = 0; ok && pg < v->g.nr_pages; pg++) {
		uint64_t ver;

		ok = pattern_check(v->g.base + pg * PAGE, pg, &ver) && ver == idx + 1;
	}
	guestmem_unmap(&v->g);
	return ok;
}

bool daemon_mem_run(const struct daemon_opts *o, struct mem_result *res)
{
	unsigned int max = o->steps[o->nr_steps - 1], have = 0;
	struct idle_guest *v = calloc(max ? max : 1, sizeof(*v));
	struct rwpd_run d = { 0 };
	char conf[128];
	int ret;

	memset(res, 0, sizeof(*res));
	res->intact = true;
	if (!v) {
		snprintf(res->why, sizeof(res->why), "out of memory");
		return false;
	}
	snprintf(conf, sizeof(conf), "interval_ms = %u\nmin_idle = 127\ntier = zram-lz4",
		 o->interval_ms);
	ret = rwpd_run_start(&d, o->rwpd, conf);
	if (ret) {
		snprintf(res->why, sizeof(res->why), "cannot start %s: %s", o->rwpd,
			 strerror(-ret));
		goto out;
	}
	res->ok = true;
	for (unsigned int s = 0; s < o->nr_steps && res->ok; s++) {
		struct mem_point *p = &res->pt[s];
		char *json;

		while (have < o->steps[s] && res->ok)
			if (attach(&d, &v[have], have, o->guest_mb, res->why, sizeof(res->why)))
				have++;
			else
				res->ok = false;
		if (!res->ok)
			break;
		/* their first ticks (and allocations) happen meanwhile */
		usleep(o->interval_ms * 2500);
		p->guests = have;
		if (!smaps_rollup(d.pid, p)) {
			snprintf(res->why, sizeof(res->why), "cannot read rwpd's smaps_rollup");
			res->ok = false;
			break;
		}
		json = rwpd_run_status(&d);
		if (!json || !json_u64(json, "rss_bytes", &p->status_rss)) {
			snprintf(res->why, sizeof(res->why), "rwpd STATUS without rss_bytes");
			res->ok = false;
		}
		free(json);
		res->n = s + 1;
	}
out:
	for (unsigned int i = 0; i < have; i++)
		res->intact &= detach(&v[i], i);
	if (d.pid > 0 && rwpd_run_stop(&d, SIGTERM) && res->ok) {
		snprintf(res->why, sizeof(res->why), "rwpd did not stop cleanly");
		res->ok = false;
	}
	rwpd_run_clean(&d);
	free(v);
	if (!res->intact && !res->why[0])
		snprintf(res->why, sizeof(res->why), "a guest page came back wrong after detach");
	return res->ok && res->intact;
}
