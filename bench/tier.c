// SPDX-License-Identifier: MIT
/*
 * rwp-bench-tier: what fetching, replaying and evicting cost, each next to the floor of
 * the same work measured in the same run (see BENCHMARKS.md):
 *   a. fetch latency of an evicted page touched (librwp's fault thread serves it) vs a
 *      raw MISSING + UFFDIO_COPY round trip with the same pinning,
 *   b. working-set replay bandwidth vs bulk UFFDIO_COPY of the same runs from memory,
 *   c. eviction throughput to zram (lz4, zstd) and a file vs capture, codec and device.
 *
 * Exit status: 0, or 1 when a measurement failed or a page read back wrong; never
 * because of a figure (the smoke test relies on that).
 */
#define _GNU_SOURCE
#include "tier.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* goals, from the tiering issue */
#define FETCH_P50_GOAL 1.3  /* x the raw round trip */
#define FETCH_P99_GOAL 3.0
#define REPLAY_GOAL 0.70    /* of bulk UFFDIO_COPY from memory */
#define EVICT_ZRAM_GOAL 1.0 /* GB/s of guest memory, zram-lz4 */
#define EVICT_FILE_GOAL 0.80 /* of the device's write bandwidth */
#define PERTURBED 0.2	    /* CPUs other processes used: figures are suspect above */

#define MAX_ROWS 32

static bool failed;

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* "met" / "MISSED", or nothing in a smoke run */
static const char *verdict(const struct tier_opts *o, bool met)
{
	return o->quick ? "(quick)" : met ? "met" : "MISSED";
}

static void others(const struct load_mark *m, const char *part)
{
	double c = load_others(m);

	printf("\nOther processes used %.2f CPUs meanwhile%s.\n", c,
	       c > PERTURBED ? " (PERTURBED: treat these figures with care)" : "");
	kv("bench=tier part=load of=%s others_cpus=%.3f", part, c);
}

/* ------------------------------------------------------------------ part a -- */

static struct fetch_row frows[MAX_ROWS];
static size_t nf;

static void print_fetch(const struct tier_opts *o)
{
	printf("\n## a. Fetch latency (ns per faulting touch)\n\n"
	       "A tenth of the region (runs of 8 pages) is evicted, then read one word per page "
	       "in address order by a thread on CPU %d;\nlibrwp's fault thread on the same CPU "
	       "or on CPU %d. raw: the same touches on an identical region whose pages were\n"
	       "punched, served by a minimal poll/read/UFFDIO_COPY handler pinned the same way. "
	       "Only touches of pages still out count\n(prefetch brings some in first); "
	       "`per touch` is the mean over every touch.\n\n",
	       o->cpu_a, o->cpu_b);
	printf("| backend | memory | tier | CPUs | prefetch | faults / touches | p50 | p90 | "
	       "p99 | raw p50 | raw p99 | p50 / raw | p99 / raw | per touch | raw per touch | "
	       "fault thread p50 | prefetched | data |\n"
	       "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	       "---:|---|\n");
	for (size_t i = 0; i < nf; i++) {
		const struct fetch_row *r = &frows[i];
		const char *cpus = r->same_cpu ? "same" : "cross";

		printf("| %s | %s | %s | %s | %s |", r->backend, r->mem, r->tier, cpus,
		       r->prefetch ? "on" : "off");
		if (!r->ok) {
			printf(" failed: %s |\n", r->why);
			continue;
		}
		printf(" %zu / %zu | %llu | %llu | %llu | %llu | %llu | %.2fx | %.2fx | %.0f | "
		       "%.0f | %llu | %llu | %s |\n",
		       r->faults, r->touches, (unsigned long long)r->p50,
		       (unsigned long long)r->p90, (unsigned long long)r->p99,
		       (unsigned long long)r->raw_p50, (unsigned long long)r->raw_p99,
		       ratio(r->p50, r->raw_p50), ratio(r->p99, r->raw_p99), r->mean_touch,
		       r->raw_mean, (unsigned long long)r->lib.p50_ns,
		       (unsigned long long)r->prefetched, r->intact ? "exact" : "WRONG");
		kv("bench=tier part=fetch backend=%s mem=%s tier=%s cpus=%s prefetch=%d "
		   "touches=%zu faults=%zu p50_ns=%llu p90_ns=%llu p99_ns=%llu raw_p50_ns=%llu "
		   "raw_p99_ns=%llu p50_over_raw=%.3f p99_over_raw=%.3f touch_mean_ns=%.0f "
		   "raw_touch_mean_ns=%.0f thread_p50_ns=%llu prefetched=%llu intact=%d "
		   "p50_goal_met=%d p99_goal_met=%d",
		   r->backend, r->mem, r->tier, cpus, r->prefetch, r->touches, r->faults,
		   (unsigned long long)r->p50, (unsigned long long)r->p90,
		   (unsigned long long)r->p99, (unsigned long long)r->raw_p50,
		   (unsigned long long)r->raw_p99, ratio(r->p50, r->raw_p50),
		   ratio(r->p99, r->raw_p99), r->mean_touch, r->raw_mean,
		   (unsigned long long)r->lib.p50_ns, (unsigned long long)r->prefetched, r->intact,
		   ratio(r->p50, r->raw_p50) <= FETCH_P50_GOAL,
		   ratio(r->p99, r->raw_p99) <= FETCH_P99_GOAL);
	}
}

/* ------------------------------------------------------------------ part b -- */

static struct replay_row rrows[MAX_ROWS];
static size_t nr;

static void print_replay(const struct tier_opts *o)
{
	printf("\n## b. Working-set replay (GB/s of the working set installed)\n\n"
	       "A quarter of the region (runs of 16 pages, mixed content) is recorded from its "
	       "faults, then each of %u passes\nstarts cold and replays it "
	       "(rwp_ws_replay). memory floor: one UFFDIO_COPY per run from a populated mapping"
	       " of the\nimage; source floor: each run read from the source first (image: one "
	       "pread per run; zram-lz4: LZ4_decompress_safe\nper page), then one UFFDIO_COPY. "
	       "Runs cut at 1 MiB everywhere. late faults: touches of the set that still\n"
	       "faulted after the replay. Medians.\n\n",
	       o->replay_passes);
	printf("| memory | source | pages | runs | record s | replay GB/s | memory floor GB/s | "
	       "source floor GB/s | replay / memory floor | replay / source floor | "
	       "late faults | data |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (size_t i = 0; i < nr; i++) {
		const struct replay_row *r = &rrows[i];

		printf("| %s | %s |", r->mem, r->src);
		if (!r->ok) {
			printf(" failed: %s |\n", r->why);
			continue;
		}
		printf(" %zu | %zu | %.3f | %.2f | %.2f | %.2f | %.0f%% | %.0f%% | %llu | %s |\n",
		       r->pages, r->runs, r->record_s, r->lib_gbs, r->floor_gbs, r->src_gbs,
		       100 * ratio(r->lib_gbs, r->floor_gbs), 100 * ratio(r->lib_gbs, r->src_gbs),
		       (unsigned long long)r->late_faults, r->intact ? "exact" : "WRONG");
		kv("bench=tier part=replay mem=%s src=%s pages=%zu runs=%zu record_s=%.4f "
		   "lib_gbs=%.3f floor_gbs=%.3f src_floor_gbs=%.3f over_floor=%.3f "
		   "over_src_floor=%.3f late_faults=%llu intact=%d goal_met=%d",
		   r->mem, r->src, r->pages, r->runs, r->record_s, r->lib_gbs, r->floor_gbs,
		   r->src_gbs, ratio(r->lib_gbs, r->floor_gbs), ratio(r->lib_gbs, r->src_gbs),
		   (unsigned long long)r->late_faults, r->intact,
		   ratio(r->lib_gbs, r->floor_gbs) >= REPLAY_GOAL);
	}
}

/* ------------------------------------------------------------------ part c -- */

static struct evict_row erows[MAX_ROWS];
static size_t ne;

/* Of the guest's pages, the fraction the file tier wrote (zero pages it does not). */
static double written(const struct evict_row *r)
{
	return r->pages ? (double)(r->evicted - r->zero) / r->pages : 0;
}

/* The file tier's write bandwidth over the device's: the goal's ratio. */
static double write_over_device(const struct evict_row *r)
{
	return ratio(r->lib_gbs * written(r), r->dev_gbs);
}

/* ns per guest page of storing it: the codec (zram), or the device writing it (file). */
static double store_floor(const struct evict_row *r)
{
	if (strcmp(r->tier, "file"))
		return r->compress_ns_pp;
	return r->dev_gbs > 0 ? PAGE * written(r) / r->dev_gbs : 0;
}

static void print_evict(const struct tier_opts *o)
{
	printf("\n## c. Eviction throughput (rwp_evict of a wholly cold shmem region)\n\n"
	       "GB/s of guest memory by the pass's own clock; file rows include the fsync() of "
	       "the tier's file after it. Floors,\nns per guest page, on a twin memfd with the "
	       "same bytes: capture = splice each page into a pipe, punch 256 pages,\nread the "
	       "pipe; store = zero check + lz4 / zstd-1 of every non-zero page (zram), or the "
	       "device writing the\nbytes the file tier wrote: pwrite 1 MiB at a time to a new "
	       "file in %s, then fsync() (file).\nEach page drained back and checked. Medians "
	       "of %u repetition(s).\n\n",
	       o->file_dir, o->reps);
	printf("| tier | content | pages | zero | stored ratio | GB/s | ns/page | capture floor"
	       " | store floor | librwp / floors | fsync s | device GB/s | write / device | "
	       "data |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (size_t i = 0; i < ne; i++) {
		const struct evict_row *r = &erows[i];
		bool file = !strcmp(r->tier, "file");
		double ns_pp = ratio(PAGE, r->lib_gbs);
		double fl = r->capture_ns_pp + store_floor(r);

		printf("| %s | %s |", r->tier, content_name(r->content));
		if (!r->ok) {
			printf(" failed: %s |\n", r->why);
			continue;
		}
		printf(" %llu | %llu |", (unsigned long long)r->pages, (unsigned long long)r->zero);
		if (r->ratio > 0)
			printf(" %.2f |", r->ratio);
		else
			printf(" - |");
		printf(" %.2f | %.0f | %.0f | %.0f | %.2fx |", r->lib_gbs, ns_pp, r->capture_ns_pp,
		       store_floor(r), ratio(ns_pp, fl));
		if (file)
			printf(" %.3f | %.2f | %.0f%% |", r->sync_s, r->dev_gbs,
			       100 * write_over_device(r));
		else
			printf(" - | - | - |");
		printf(" %s |\n", r->intact ? "exact" : "WRONG");
		kv("bench=tier part=evict tier=%s content=%s pages=%llu evicted=%llu zero=%llu "
		   "stored_ratio=%.3f lib_gbs=%.3f ns_pp=%.0f capture_ns_pp=%.0f store_ns_pp=%.0f "
		   "over_floors=%.3f fsync_s=%.4f dev_gbs=%.3f write_over_device=%.3f intact=%d "
		   "goal_met=%d",
		   r->tier, content_name(r->content), (unsigned long long)r->pages,
		   (unsigned long long)r->evicted, (unsigned long long)r->zero, r->ratio,
		   r->lib_gbs, ns_pp, r->capture_ns_pp, store_floor(r), ratio(ns_pp, fl),
		   r->sync_s, file ? r->dev_gbs : -1, file ? write_over_device(r) : -1, r->intact,
		   file ? write_over_device(r) >= EVICT_FILE_GOAL : r->lib_gbs >= EVICT_ZRAM_GOAL);
	}
}

/* ------------------------------------------------------------------- goals -- */

static void print_goals(const struct tier_opts *o)
{
	printf("\n## Goals (floors measured in the same run)\n\n");
	if (o->quick)
		printf("(--quick is a smoke run: no verdicts)\n\n");
	printf("| goal | row | librwp | floor | ratio | verdict |\n|---|---|---:|---:|---:|---|\n");
	for (size_t i = 0; i < nf; i++) {
		const struct fetch_row *r = &frows[i];
		double p50 = ratio(r->p50, r->raw_p50), p99 = ratio(r->p99, r->raw_p99);

		if (!r->ok)
			continue;
		printf("| fetch p50 <= %.1fx raw | %s/%s %s, %s CPU, prefetch %s | %llu ns | %llu ns "
		       "| %.2fx | %s |\n",
		       FETCH_P50_GOAL, r->backend, r->mem, r->tier, r->same_cpu ? "same" : "cross",
		       r->prefetch ? "on" : "off", (unsigned long long)r->p50,
		       (unsigned long long)r->raw_p50, p50, verdict(o, p50 <= FETCH_P50_GOAL));
		printf("| fetch p99 <= %.0fx raw | %s/%s %s, %s CPU, prefetch %s | %llu ns | %llu ns "
		       "| %.2fx | %s |\n",
		       FETCH_P99_GOAL, r->backend, r->mem, r->tier, r->same_cpu ? "same" : "cross",
		       r->prefetch ? "on" : "off", (unsigned long long)r->p99,
		       (unsigned long long)r->raw_p99, p99, verdict(o, p99 <= FETCH_P99_GOAL));
	}
	for (size_t i = 0; i < nr; i++) {
		const struct replay_row *r = &rrows[i];
		double x = ratio(r->lib_gbs, r->floor_gbs);

		if (r->ok)
			printf("| replay >= %.0f%% of bulk COPY | %s from %s | %.2f GB/s | %.2f GB/s | "
			       "%.0f%% | %s |\n",
			       100 * REPLAY_GOAL, r->mem, r->src, r->lib_gbs, r->floor_gbs, 100 * x,
			       verdict(o, x >= REPLAY_GOAL));
	}
	for (size_t i = 0; i < ne; i++) {
		const struct evict_row *r = &erows[i];

		if (!r->ok || !strcmp(r->tier, "zram-zstd"))
			continue; /* zstd: no goal, shown for its ratio */
		if (!strcmp(r->tier, "file"))
			printf("| file eviction >= %.0f%% of device writes | %s | %.2f GB/s written | "
			       "%.2f GB/s | %.0f%% | %s |\n",
			       100 * EVICT_FILE_GOAL, content_name(r->content),
			       r->dev_gbs * write_over_device(r), r->dev_gbs,
			       100 * write_over_device(r),
			       verdict(o, write_over_device(r) >= EVICT_FILE_GOAL));
		else /* the floor: capture and codec alone, one thread, no storage */
			printf("| zram-lz4 eviction >= %.0f GB/s | %s | %.2f GB/s | %.2f GB/s "
			       "(floors) | %.0f%% | %s |\n",
			       EVICT_ZRAM_GOAL, content_name(r->content), r->lib_gbs,
			       ratio(PAGE, r->capture_ns_pp + store_floor(r)),
			       100 * ratio(r->lib_gbs, ratio(PAGE, r->capture_ns_pp + store_floor(r))),
			       verdict(o, r->lib_gbs >= EVICT_ZRAM_GOAL));
	}
}

/* ----------------------------------------------------------------- options -- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rwp-bench-tier [--mb N] [--reps N] [--quick] [--parts LIST] "
		"[--no-hugetlb] [--dir DIR]\n"
		"  --mb N        region size in MiB (default 1024; --quick: 64)\n"
		"  --reps N      eviction repetitions, 3x as many replay passes (default 3;\n"
		"                --quick: 1)\n"
		"  --quick       a smoke run: small region, one repetition, no verdicts\n"
		"  --parts LIST  comma-separated: fetch, replay, evict (default: all three)\n"
		"  --no-hugetlb  skip the hugetlbfs rows of the fetch part\n"
		"  --dir DIR     the file tier and device floor's directory (default /var/tmp)\n");
}

static int parse_parts(const char *s, struct tier_opts *o)
{
	char *dup = strdup(s), *save = NULL;
	int ret = dup ? 0 : -1;

	o->fetch = o->replay = o->evict = false;
	for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "fetch"))
			o->fetch = true;
		else if (!strcmp(t, "replay"))
			o->replay = true;
		else if (!strcmp(t, "evict"))
			o->evict = true;
		else
			ret = -1;
	}
	free(dup);
	return ret;
}

static int parse(int argc, char **argv, struct tier_opts *o)
{
	static const struct option lo[] = {
		{ "mb", required_argument, NULL, 'm' },
		{ "reps", required_argument, NULL, 'r' },
		{ "quick", no_argument, NULL, 'q' },
		{ "parts", required_argument, NULL, 'p' },
		{ "no-hugetlb", no_argument, NULL, 'H' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long mb = 0, reps = 0;
	int c;

	*o = (struct tier_opts){ .fetch = true, .replay = true, .evict = true, .hugetlb = true,
				 .file_dir = "/var/tmp" };
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			mb = strtol(optarg, NULL, 10);
			break;
		case 'r':
			reps = strtol(optarg, NULL, 10);
			break;
		case 'q':
			o->quick = true;
			break;
		case 'p':
			if (parse_parts(optarg, o)) {
				fprintf(stderr, "unknown part in %s\n", optarg);
				return -1;
			}
			break;
		case 'H':
			o->hugetlb = false;
			break;
		case 'd':
			o->file_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || mb < 0 || reps < 0) {
		usage(stderr);
		return -1;
	}
	/* whole 2 MiB pages, so that hugetlbfs maps the same bytes */
	o->mb = mb ? ((size_t)mb + 1) & ~(size_t)1 : o->quick ? 64 : 1024;
	o->reps = reps ? reps : o->quick ? 1 : 3;
	/* a replay pass costs a fraction of an eviction repetition */
	o->replay_passes = 3 * o->reps;
	return 0;
}

static void header(const struct tier_opts *o, const char *corpus)
{
	struct rwp_features f;
	struct utsname u;
	char date[32] = "?";
	time_t now = time(NULL);

	strftime(date, sizeof(date), "%Y-%m-%d %H:%M", localtime(&now));
	uname(&u);
	rwp_probe(&f);
	printf("# rwp-bench-tier\n\n%s, kernel %s, %ld CPUs\n", date, u.release,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("kernel offers: native RWP %s, wp-async %s, minor shmem %s / hugetlbfs %s, "
	       "UFFDIO_MOVE %s\n",
	       f.rwp ? "yes" : "no", f.wp_async ? "yes" : "no", f.minor_shmem ? "yes" : "no",
	       f.minor_hugetlbfs ? "yes" : "no", f.move ? "yes" : "no");
	printf("region %zu MiB; %u repetition(s), %u replay passes; toucher and main thread on "
	       "CPU %d; file tier in %s; text pages: %s%s\n",
	       o->mb, o->reps, o->replay_passes, o->cpu_a, o->file_dir, corpus,
	       o->quick ? " (--quick)" : "");
	kv("bench=tier part=env date=%s kernel=%s cpus=%ld mb=%zu reps=%u cpu_a=%d cpu_b=%d "
	   "dir=%s",
	   date, u.release, sysconf(_SC_NPROCESSORS_ONLN), o->mb, o->reps, o->cpu_a, o->cpu_b,
	   o->file_dir);
}

int main(int argc, char **argv)
{
	struct tier_opts o;
	struct load_mark lm;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (parse(argc, argv, &o))
		return 2;
	snprintf(o.file_path, sizeof(o.file_path), "%s/rwp-bench-tier.%d.tier", o.file_dir,
		 (int)getpid());
	o.cpu_a = 0;
	o.cpu_b = ncpu > 1 ? 1 : 0;
	pin_self(o.cpu_a);
	setvbuf(stdout, NULL, _IOLBF, 0);
	header(&o, content_init());
	if (o.fetch) {
		load_mark(&lm);
		nf = tier_fetch_run(&o, frows, MAX_ROWS, &failed);
		print_fetch(&o);
		others(&lm, "fetch");
	}
	if (o.replay) {
		load_mark(&lm);
		nr = tier_replay_run(&o, rrows, MAX_ROWS, &failed);
		print_replay(&o);
		others(&lm, "replay");
	}
	if (o.evict) {
		load_mark(&lm);
		ne = tier_evict_run(&o, erows, MAX_ROWS, &failed);
		print_evict(&o);
		others(&lm, "evict");
	}
	print_goals(&o);
	kv_flush();
	unlink(o.file_path);
	if (failed)
		fprintf(stderr, "rwp-bench-tier: a measurement failed or a page read back wrong "
				"(see above)\n");
	return failed;
}
