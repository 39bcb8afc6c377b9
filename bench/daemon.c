// SPDX-License-Identifier: MIT
/*
 * rwp-bench-daemon: what rwpd adds. Part 1 times the same fetches served by rwpd and by
 * librwp in the guest's own process, everything pinned to one CPU; part 2 reads rwpd's
 * memory with 0, 1, 4 and 16 idle guests attached. Markdown tables, then key=value
 * lines. Exit status 1 only when a measurement fails or a page reads back wrong.
 */
#define _GNU_SOURCE
#include "daemon.h"
#include "../tests/lib/rwpd-run.h"

#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOAL_P50 1.10 /* rwpd may add at most 10% at p50 */

bool json_u64(const char *json, const char *key, uint64_t *v)
{
	char quoted[64];
	const char *p;

	snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	p = strstr(json, quoted);
	if (!p)
		return false;
	p += strlen(quoted);
	while (isspace((unsigned char)*p))
		p++;
	if (*p++ != ':')
		return false;
	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	*v = strtoull(p, NULL, 10);
	return true;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--quick] [--rwpd PATH] [--cpu N] [--mb N] [--rounds N]\n"
		"       [--guest-mb N] [--no-fetch] [--no-mem]\n", argv0);
	exit(2);
}

static void parse(int argc, char **argv, struct daemon_opts *o)
{
	enum { O_RWPD = 256, O_CPU, O_MB, O_ROUNDS, O_GUEST_MB, O_NO_FETCH, O_NO_MEM, O_QUICK };
	static const struct option longopts[] = {
		{ "rwpd", required_argument, NULL, O_RWPD },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "mb", required_argument, NULL, O_MB },
		{ "rounds", required_argument, NULL, O_ROUNDS },
		{ "guest-mb", required_argument, NULL, O_GUEST_MB },
		{ "no-fetch", no_argument, NULL, O_NO_FETCH },
		{ "no-mem", no_argument, NULL, O_NO_MEM },
		{ "quick", no_argument, NULL, O_QUICK },
		{ 0 },
	};
	static const unsigned int full[] = { 0, 1, 4, 16 }, quick[] = { 0, 1, 4 };
	size_t mb = 0, guest_mb = 0;
	unsigned int rounds = 0;
	int c;

	*o = (struct daemon_opts){ .rwpd = rwpd_path_near(argv[0]), .fetch = true, .mem = true };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_RWPD: o->rwpd = optarg; break;
		case O_CPU: o->cpu = atoi(optarg); break;
		case O_MB: mb = strtoul(optarg, NULL, 0); break;
		case O_ROUNDS: rounds = strtoul(optarg, NULL, 0); break;
		case O_GUEST_MB: guest_mb = strtoul(optarg, NULL, 0); break;
		case O_NO_FETCH: o->fetch = false; break;
		case O_NO_MEM: o->mem = false; break;
		case O_QUICK: o->quick = true; break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc || o->cpu < 0)
		usage(argv[0]);
	o->mb = mb ?: (o->quick ? 16 : 64);
	o->rounds = rounds ?: (o->quick ? 2 : 12);
	o->guest_mb = guest_mb ?: (o->quick ? 16 : 64);
	o->interval_ms = o->quick ? 200 : 1000;
	o->nr_steps = o->quick ? 3 : 4;
	memcpy(o->steps, o->quick ? quick : full, o->nr_steps * sizeof(o->steps[0]));
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / b : 0;
}

static void print_fetch(const struct daemon_opts *o, unsigned int prefetch,
			struct fetch_result res[SIDE_NR], double others, bool ok)
{
	static const char *const keys[SIDE_NR] = { "lib", "lib-disk", "rwpd" };
	struct lat *lib = &res[SIDE_LIB].lat, *disk = &res[SIDE_LIB_DISK].lat,
		   *d = &res[SIDE_RWPD].lat;
	double p50 = ratio(lat_pct(d, 0.5), lat_pct(lib, 0.5));
	double p99 = ratio(lat_pct(d, 0.99), lat_pct(lib, 0.99));
	double disk50 = ratio(lat_pct(d, 0.5), lat_pct(disk, 0.5));
	bool verdict = ok && !o->quick;

	if (prefetch)
		printf("\n#### Prefetch %u pages each way (the default of librwp and rwpd)\n\n"
		       "Every %uth page touched, so that each timed touch faults.", prefetch,
		       FETCH_STRIDE(prefetch));
	else
		printf("\n#### Prefetch off\n\nEvery page touched, in address order.");
	printf(" Other processes used %.2f CPUs meanwhile.\n\n", others);
	printf("| served by | faults timed | p50 | p90 | p99 | mean | fault thread p50 | "
	       "prefetched | evict (ms) | bit-exact |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (int i = 0; i < SIDE_NR; i++) {
		struct fetch_result *r = &res[i];
		uint64_t q50 = lat_pct(&r->lat, 0.5), q90 = lat_pct(&r->lat, 0.9),
			 q99 = lat_pct(&r->lat, 0.99);

		printf("| %s | %zu | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %.0f | %" PRIu64
		       " | %" PRIu64 " | %" PRIu64 " | %s |\n", fetch_side_name(i), r->faults, q50,
		       q90, q99, lat_mean(&r->lat), r->handler_p50, r->prefetched, r->evict_ms,
		       r->intact ? "yes" : "NO");
		kv("bench=daemon part=fetch prefetch=%u side=%s faults=%zu touches=%zu"
		   " p50_ns=%" PRIu64 " p90_ns=%" PRIu64 " p99_ns=%" PRIu64 " mean_ns=%.0f"
		   " handler_p50_ns=%" PRIu64 " prefetched=%" PRIu64 " evict_ms=%" PRIu64 " intact=%d", prefetch, keys[i],
		   r->faults, r->touches, q50, q90, q99, lat_mean(&r->lat), r->handler_p50,
		   r->prefetched, r->evict_ms, r->intact);
	}
	printf("\nrwpd over in-process: p50 %.2fx, p99 %.2fx; over in-process with its state on "
	       "disk: p50 %.2fx, p99 %.2fx.\n", p50, p99, disk50,
	       ratio(lat_pct(d, 0.99), lat_pct(disk, 0.99)));
	if (verdict)
		printf("Goal (rwpd adds <= 10%% at p50): %s (%+.0f%%).\n",
		       p50 <= GOAL_P50 ? "met" : "MISSED", (p50 - 1) * 100);
	else
		printf("Goal (rwpd adds <= 10%% at p50): no verdict (%s).\n",
		       ok ? "smoke run" : "the measurement failed");
	kv("bench=daemon part=ratio prefetch=%u p50=%.3f p99=%.3f p50_over_lib_disk=%.3f "
	   "goal_p50=%.2f met=%s", prefetch, p50, p99, disk50, GOAL_P50,
	   !verdict ? "n/a" : p50 <= GOAL_P50 ? "yes" : "no");
	kv("bench=daemon part=load prefetch=%u others_cpus=%.2f", prefetch, others);
}

static void print_mem(const struct daemon_opts *o, const struct mem_result *m)
{
	const struct mem_point *a = &m->pt[0], *b = &m->pt[m->n - 1];
	unsigned int dg = b->guests - a->guests;
	uint64_t pages = (o->guest_mb << 20) / PAGE;

	printf("\n### 2. rwpd's memory with idle guests attached "
	       "(KiB, /proc/PID/smaps_rollup)\n\n");
	printf("Each guest: %zu MiB memfd, populated, tracked every %u ms, never evicted "
	       "(min_idle 127).\n\n", o->guest_mb, o->interval_ms);
	printf("| guests | RSS | PSS | Pss_Anon | Pss_File | Pss_Shmem | STATUS rss |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned int i = 0; i < m->n; i++) {
		const struct mem_point *p = &m->pt[i];

		printf("| %u | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64
		       " | %" PRIu64 " |\n", p->guests, p->rss >> 10, p->pss >> 10,
		       p->pss_anon >> 10, p->pss_file >> 10, p->pss_shmem >> 10,
		       p->status_rss >> 10);
		kv("bench=daemon part=mem guests=%u rss_kb=%" PRIu64 " pss_kb=%" PRIu64
		   " pss_anon_kb=%" PRIu64 " pss_file_kb=%" PRIu64 " pss_shmem_kb=%" PRIu64
		   " status_rss_kb=%" PRIu64, p->guests, p->rss >> 10, p->pss >> 10,
		   p->pss_anon >> 10, p->pss_file >> 10, p->pss_shmem >> 10, p->status_rss >> 10);
	}
	if (!dg)
		return;
	double rss = ((double)b->rss - a->rss) / dg, pss = ((double)b->pss - a->pss) / dg;

	printf("\nPer guest (%u -> %u guests): RSS %+.0f KiB, PSS %+.0f KiB, that is %.1f bytes "
	       "of PSS per guest page (%" PRIu64 " pages of 4 KiB).\n", a->guests, b->guests,
	       rss / 1024, pss / 1024, pss / pages, pages);
	printf("STATUS reports the daemon's RSS but no tracking metadata figure.\n");
	kv("bench=daemon part=mem_per_guest from=%u to=%u rss_kb=%.0f pss_kb=%.0f "
	   "pss_bytes_per_page=%.2f", a->guests, b->guests, rss / 1024, pss / 1024, pss / pages);
}

int main(int argc, char **argv)
{
	static const unsigned int prefetch[] = { 4, 0 };
	struct fetch_result res[SIDE_NR];
	struct mem_result mem;
	struct load_mark mark;
	struct daemon_opts o;
	const char *why;
	bool ok = true;

	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!backend_available(RWP_BACKEND_WP_ASYNC, RWP_MEM_SHMEM, &why) &&
	    !backend_available(RWP_BACKEND_NATIVE, RWP_MEM_SHMEM, &why)) {
		printf("rwp-bench-daemon: skipped: %s\n", why);
		return 77;
	}
	if (access(o.rwpd, X_OK)) {
		fprintf(stderr, "rwp-bench-daemon: no rwpd at %s (--rwpd PATH)\n", o.rwpd);
		return 1;
	}
	/* before any thread or rwpd starts: they all inherit it */
	if (pin_self(o.cpu)) {
		fprintf(stderr, "rwp-bench-daemon: cannot pin to CPU %d\n", o.cpu);
		return 1;
	}
	printf("## rwp-bench-daemon: what rwpd adds%s\n", o.quick ? " (smoke run)" : "");
	printf("\nrwpd: %s; this process, its threads and rwpd's pinned to CPU %d.\n", o.rwpd,
	       o.cpu);
	if (o.fetch)
		printf("\n### 1. Fault latency of a fetch from zram-lz4 (ns, touches of pages that "
		       "were out)\n\n%zu MiB memfd guest per side, each page half random, half "
		       "zeros (lz4 about 2:1); %u rounds of: evict all of it, touch pages once "
		       "each (timed), read every page back. Everything on CPU %d.\n", o.mb,
		       o.rounds, o.cpu);
	for (unsigned int i = 0; o.fetch && i < sizeof(prefetch) / sizeof(prefetch[0]); i++) {
		bool fetched;

		load_mark(&mark);
		fetched = daemon_fetch_run(&o, prefetch[i], res);
		for (int s = 0; s < SIDE_NR; s++)
			if (res[s].why[0])
				printf("\n**%s: FAILED**: %s\n", fetch_side_name(s), res[s].why);
		print_fetch(&o, prefetch[i], res, load_others(&mark), fetched);
		daemon_fetch_free(res);
		ok &= fetched;
	}
	if (o.mem) {
		if (!daemon_mem_run(&o, &mem)) {
			printf("\n**memory: FAILED**: %s\n", mem.why);
			ok = false;
		}
		if (mem.n)
			print_mem(&o, &mem);
	}
	kv("bench=daemon part=status ok=%d", ok);
	kv_flush();
	return ok ? 0 : 1;
}
