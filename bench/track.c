// SPDX-License-Identifier: MIT
/*
 * rwp-bench-track: the tracking benchmark. For each backend the kernel offers x memory
 * type x hot fraction (1%, 10%, 50% of a 1 GiB region):
 *   1. librwp's per-interval cost (rwp_track_timing: scan, bookkeeping, protect) and the
 *      refault each touched page pays,
 *   2. the kernel floors of the same work, measured in the same run on an identical region,
 *      and the ratios of the two,
 *   3. the slowdown of a memory-bound workload under tracking with a tick every second,
 * then 4. DAMON's view of a deterministic workload next to rwp's. See BENCHMARKS.md.
 *
 * Exit status: 0, or 1 when a measurement failed or librwp reported a wrong hot set; never
 * because of a figure (the smoke test relies on that).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define NFRAC 3
static const double fracs[NFRAC] = { 0.01, 0.10, 0.50 };

static const enum rwp_backend backends[] = { RWP_BACKEND_NATIVE, RWP_BACKEND_WP_ASYNC,
					     RWP_BACKEND_MINOR };
static const enum rwp_mem mems[] = { RWP_MEM_SHMEM, RWP_MEM_HUGETLB, RWP_MEM_ANON };

#define BOOKKEEPING_GOAL 2.0 /* x the scan floor */
#define SLOWDOWN_GOAL 5.0    /* % at 10% hot, 1 s intervals */
#define PERTURBED 0.2	     /* CPUs other processes used: figures are suspect above */

/* one line of the closing goals table */
struct goal {
	enum rwp_backend b;
	enum rwp_mem mem;
	double frac;
	double book_ratio; /* < 0: not applicable */
	double others;	   /* CPUs other processes used meanwhile */
	bool has_slowdown;
	double slowdown; /* excluding the worker's wait for a CPU */
	double slowdown_wall;
};

static struct goal goals[32];
static size_t nr_goals;
/* a measurement failed or a hot set was wrong: exit 1 (never because of a figure) */
static bool failed;

struct combo {
	enum rwp_backend b;
	struct guestmem t, r; /* tracked, and the untracked twin (baseline and floors) */
	struct hotset h[NFRAC];
	double untracked_ns[NFRAC];
	struct cost c[NFRAC];
	struct floors f[NFRAC];
	struct slowdown s[NFRAC];
	bool cost_ok[NFRAC];
};

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static void print_ratio(double r, bool ok)
{
	if (ok)
		printf(" %8.2fx |", r);
	else
		printf(" %9s |", "-");
}

/* the untouched twin: the same loop over mapped pages, nothing to refault */
static double untracked_touch(const struct guestmem *g, const struct hotset *h, unsigned int k)
{
	uint64_t *v = calloc(k, sizeof(*v));
	double m;

	if (!v)
		return 0;
	hotset_touch(g, h);
	for (unsigned int i = 0; i < k; i++)
		v[i] = hotset_touch(g, h);
	m = median_u64(v, k);
	free(v);
	return m;
}

static int cost_and_floors(const struct bench_opts *o, struct combo *x)
{
	RWP_OPTS(rwp_ctx_opts, copts, .flags = RWP_CTX_PIN_HANDLER, .handler_cpu = o->cpu_main);
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *reg;
	int ret;

	if ((ret = rwp_ctx_new(&copts, &ctx)) ||
	    (ret = guestmem_register(ctx, &x->t, x->b, 0, &reg)) ||
	    (ret = rwp_track_start(ctx))) {
		printf("librwp: %s: %s\n", strerror(-ret), ctx ? rwp_ctx_last_error(ctx) : "");
		rwp_ctx_free(ctx);
		return ret;
	}
	for (int i = 0; i < NFRAC; i++) {
		x->untracked_ns[i] = untracked_touch(&x->r, &x->h[i], o->intervals);
		ret = cost_measure(ctx, reg, &x->t, &x->h[i], o->intervals, x->untracked_ns[i],
				   &x->c[i]);
		x->cost_ok[i] = !ret;
		failed |= ret || !x->c[i].exact;
		if (ret)
			printf("hot %g%%: tick failed: %s: %s\n", 100 * fracs[i], strerror(-ret),
			       rwp_ctx_last_error(ctx));
		ret = floors_measure(o, x->b, &x->r, &x->h[i], x->untracked_ns[i], &x->f[i]);
		failed |= ret != 0;
		/* the floors zapped the twin: map every page again for the next baseline */
		guestmem_populate(&x->r);
	}
	rwp_ctx_free(ctx);
	return 0;
}

static void print_cost(const struct combo *x, const char *mname)
{
	const char *b = rwp_backend_name(x->b);

	printf("\n### 1. librwp per interval (ns per page of the region; refault: ns per touched "
	       "page)\n\n");
	printf("| hot | touched | scan | bookkeeping | protect | total | refault | hot set |\n"
	       "|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (int i = 0; i < NFRAC; i++) {
		const struct cost *c = &x->c[i];

		if (!x->cost_ok[i]) {
			printf("| %g%% | %zu | failed |\n", 100 * fracs[i], x->h[i].n);
			continue;
		}
		printf("| %g%% | %zu | %.2f | %.2f | %.2f | %.2f | %.0f | %s |\n", 100 * fracs[i],
		       x->h[i].n, c->scan, c->bookkeeping, c->protect,
		       c->scan + c->bookkeeping + c->protect, c->refault,
		       c->exact ? "exact" : "WRONG");
		kv("bench=track part=cost backend=%s mem=%s hot_pct=%g touched=%zu "
		   "scan_ns_pp=%.3f bookkeeping_ns_pp=%.3f protect_ns_pp=%.3f refault_ns=%.0f "
		   "exact=%d want=%lld got=%lld",
		   b, mname, 100 * fracs[i], x->h[i].n, c->scan, c->bookkeeping, c->protect,
		   c->refault, c->exact, (long long)c->want, (long long)c->got);
	}
}

static void print_floors(const struct combo *x, const char *mname)
{
	const char *b = rwp_backend_name(x->b);
	bool minor = x->b == RWP_BACKEND_MINOR;

	printf("\n### 2. Kernel floors, same run, identical region "
	       "(ns per page of the region)\n\n");
	printf("| hot | runs | scan, report only | scan, %s flags | protect, per run | "
	       "protect, whole | arm, full range | raw %s |\n"
	       "|---:|---:|---:|---:|---:|---:|---:|---:|\n",
	       b, minor ? "round trip" : "refault");
	for (int i = 0; i < NFRAC; i++) {
		const struct floors *f = &x->f[i];

		if (!f->ok) {
			printf("| %g%% | failed: %s |\n", 100 * fracs[i], f->why);
			continue;
		}
		if (f->has_scan)
			printf("| %g%% | %zu | %.2f | %.2f |", 100 * fracs[i], f->runs,
			       f->scan_report, f->scan);
		else
			printf("| %g%% | - | - | - |", 100 * fracs[i]);
		if (f->has_protect)
			printf(" %.2f | %.2f |", f->protect_runs, f->protect_whole);
		else
			printf(" - | - |");
		printf(" %.2f | %.0f |\n", f->protect_range, f->refault);
		kv("bench=track part=floor backend=%s mem=%s hot_pct=%g runs=%zu "
		   "scan_report_ns_pp=%.3f scan_ns_pp=%.3f protect_runs_ns_pp=%.3f "
		   "protect_whole_ns_pp=%.3f arm_ns_pp=%.3f raw_refault_ns=%.0f",
		   b, mname, 100 * fracs[i], f->runs, f->scan_report, f->scan, f->protect_runs,
		   f->protect_whole, f->protect_range, f->refault);
	}

	printf("\n### Ratios (librwp over the floor; bookkeeping goal <= %.0fx the scan floor)\n\n",
	       BOOKKEEPING_GOAL);
	printf("| hot | bookkeeping / scan floor | scan / raw scan | protect / raw protect | "
	       "refault / raw |\n|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < NFRAC; i++) {
		const struct cost *c = &x->c[i];
		const struct floors *f = &x->f[i];
		bool ok = f->ok && x->cost_ok[i];
		double rb = ratio(c->bookkeeping, f->scan), rs = ratio(c->scan, f->scan);
		double rp = ratio(c->protect, f->protect), rr = ratio(c->refault, f->refault);

		printf("| %g%% |", 100 * fracs[i]);
		print_ratio(rb, ok && f->has_scan);
		print_ratio(rs, ok && f->has_scan);
		print_ratio(rp, ok && f->has_protect);
		print_ratio(rr, ok && f->refault > 0);
		printf("\n");
		if (!ok)
			continue;
		kv("bench=track part=ratio backend=%s mem=%s hot_pct=%g "
		   "bookkeeping_over_scan_floor=%.3f scan_over_floor=%.3f "
		   "protect_over_floor=%.3f refault_over_raw=%.3f bookkeeping_goal_met=%d",
		   b, mname, 100 * fracs[i], f->has_scan ? rb : -1, f->has_scan ? rs : -1,
		   f->has_protect ? rp : -1, rr, !f->has_scan || rb <= BOOKKEEPING_GOAL);
	}
}

static void print_slowdown(const struct bench_opts *o, const struct combo *x, const char *mname)
{
	const char *b = rwp_backend_name(x->b);

	printf("\n### 3. Workload slowdown, tick every 1 s (goal <= %.0f%% at 10%% hot)\n\n",
	       SLOWDOWN_GOAL);
	printf("1 worker on CPU %d, ticks on CPU %d, librwp's fault thread on CPU %d; "
	       "random 3:1 reads:writes over the hot set;\nthe baseline is the same pages "
	       "unregistered; %u run(s) per side of ~%.1f s untracked work, alternating, "
	       "medians.\nexcl. CPU wait: the worker's time waiting on a runqueue (schedstat) "
	       "taken out, so that busy neighbours do not count; the goal is judged on it.\n"
	       "raw-ioctl floor (10%% hot): the same ticks done with raw PAGEMAP_SCAN + one "
	       "zap/RWPROTECT of the region, no librwp.\n\n",
	       o->cpu_work, o->cpu_main, x->b == RWP_BACKEND_MINOR ? o->cpu_work : o->cpu_main,
	       o->reps, o->run_s);
	printf("| hot | accesses/run | untracked ns/access | tracked ns/access | slowdown | "
	       "slowdown excl. CPU wait | raw-ioctl floor (excl. wait) | ticks | "
	       "tick mean / max ms |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < NFRAC; i++) {
		const struct slowdown *s = &x->s[i];

		if (!s->ok) {
			printf("| %g%% | failed: %s |\n", 100 * fracs[i], s->why);
			continue;
		}
		printf("| %g%% | %llu | %.1f | %.1f | %.1f%%%s | %.1f%% |", 100 * fracs[i],
		       (unsigned long long)s->accesses, s->base_ns, s->tracked_ns, s->pct,
		       s->capped ? " (capped run)" : "", s->pct_nowait);
		if (s->has_floor)
			printf(" %.1f%% (%.1f%%) |", s->floor_pct, s->floor_pct_nowait);
		else
			printf(" - |");
		printf(" %u | %.2f / %.2f |\n", s->ticks, s->tick_mean_ms, s->tick_max_ms);
		kv("bench=track part=slowdown backend=%s mem=%s hot_pct=%g accesses=%llu "
		   "untracked_ns=%.2f tracked_ns=%.2f slowdown_pct=%.2f slowdown_nowait_pct=%.2f "
		   "floor_slowdown_pct=%.2f floor_slowdown_nowait_pct=%.2f ticks=%u "
		   "tick_mean_ms=%.3f tick_max_ms=%.3f capped=%d goal_met=%d",
		   b, mname, 100 * fracs[i], (unsigned long long)s->accesses, s->base_ns,
		   s->tracked_ns, s->pct, s->pct_nowait, s->has_floor ? s->floor_pct : -1,
		   s->has_floor ? s->floor_pct_nowait : -1, s->ticks, s->tick_mean_ms,
		   s->tick_max_ms, s->capped, s->pct_nowait <= SLOWDOWN_GOAL);
	}
}

static void note_goals(const struct combo *x, enum rwp_mem mem, double others)
{
	for (int i = 0; i < NFRAC && nr_goals < sizeof(goals) / sizeof(goals[0]); i++) {
		const struct floors *f = &x->f[i];

		goals[nr_goals++] = (struct goal){
			.b = x->b,
			.mem = mem,
			.frac = fracs[i],
			.others = others,
			.book_ratio = f->ok && f->has_scan && x->cost_ok[i]
					      ? ratio(x->c[i].bookkeeping, f->scan)
					      : -1,
			.has_slowdown = x->s[i].ok,
			.slowdown = x->s[i].pct_nowait,
			.slowdown_wall = x->s[i].pct,
		};
	}
}

static void run_combo(const struct bench_opts *o, enum rwp_backend b, enum rwp_mem mem)
{
	const char *mname = rwp_mem_name(mem), *why = NULL;
	struct combo *x = calloc(1, sizeof(*x));
	struct load_mark lm;
	double others;
	int ret;

	load_mark(&lm);
	printf("\n## %s on %s\n", rwp_backend_name(b), mname);
	if (!x)
		return;
	x->b = b;
	x->t.fd = x->r.fd = -1;
	if (!backend_available(b, mem, &why)) {
		printf("\nskipped: %s\n", why);
		goto out;
	}
	if ((ret = guestmem_map(&x->t, mem, o->mb << 20, &why)) ||
	    (ret = guestmem_map(&x->r, mem, o->mb << 20, &why))) {
		printf("\nskipped: %s\n", why ? why : strerror(-ret));
		goto out;
	}
	printf("\n%zu MiB: %zu pages of %zu KiB; %u measured intervals per hot fraction; "
	       "main thread and fault thread on CPU %d.\n",
	       o->mb, x->t.nr_pages, x->t.page_size >> 10, o->intervals, o->cpu_main);
	guestmem_populate(&x->t);
	guestmem_populate(&x->r);
	for (int i = 0; i < NFRAC; i++) {
		if (hotset_make(&x->h[i], x->t.nr_pages, fracs[i], 1, 1 + i)) {
			printf("out of memory\n");
			failed = true;
			goto out;
		}
	}
	fflush(stdout);
	if (cost_and_floors(o, x)) {
		failed = true;
		goto out;
	}
	others = load_others(&lm);
	print_cost(x, mname);
	print_floors(x, mname);
	printf("\nOther processes used %.2f CPUs meanwhile%s.\n", others,
	       others > PERTURBED ? " (PERTURBED: treat these figures with care)" : "");
	fflush(stdout);
	load_mark(&lm);
	for (int i = 0; i < NFRAC; i++)
		failed |= slowdown_measure(o, b, &x->t, &x->h[i], fracs[i] == 0.10, &x->s[i]) != 0;
	print_slowdown(o, x, mname);
	others = load_others(&lm);
	printf("\nOther processes used %.2f CPUs meanwhile%s.\n", others,
	       others > PERTURBED ? " (PERTURBED: treat these figures with care)" : "");
	kv("bench=track part=load backend=%s mem=%s others_cpus=%.3f", rwp_backend_name(b),
	   mname, others);
	note_goals(x, mem, others);
out:
	fflush(stdout);
	for (int i = 0; i < NFRAC; i++)
		hotset_free(&x->h[i]);
	guestmem_unmap(&x->t);
	guestmem_unmap(&x->r);
	free(x);
}

static void print_goals(const struct bench_opts *o)
{
	printf("\n## Goals\n\n| backend | memory | hot | bookkeeping / scan floor (<= %.0fx) | "
	       "slowdown excl. CPU wait (<= %.0f%% at 10%% hot) | wall-clock slowdown | "
	       "others' CPUs during slowdown |\n|---|---|---:|---:|---:|---:|---:|\n",
	       BOOKKEEPING_GOAL, SLOWDOWN_GOAL);
	if (o->quick)
		printf("(--quick is a smoke run: runs shorter than a tick, no verdicts)\n\n");
	for (size_t i = 0; i < nr_goals; i++) {
		const struct goal *g = &goals[i];
		bool ten = g->frac > 0.09 && g->frac < 0.11 && !o->quick;

		printf("| %s | %s | %g%% |", rwp_backend_name(g->b), rwp_mem_name(g->mem),
		       100 * g->frac);
		if (g->book_ratio >= 0)
			printf(" %.2fx %s |", g->book_ratio,
			       o->quick			     ? ""
			       : g->book_ratio <= BOOKKEEPING_GOAL ? "met"
								   : "MISSED");
		else
			printf(" n/a (no scan) |");
		if (!g->has_slowdown)
			printf(" not measured |");
		else if (ten)
			printf(" %.1f%% %s%s |", g->slowdown,
			       g->slowdown <= SLOWDOWN_GOAL ? "met" : "MISSED",
			       g->others > PERTURBED ? " (perturbed)" : "");
		else
			printf(" %.1f%% (no goal) |", g->slowdown);
		if (g->has_slowdown)
			printf(" %.1f%% |", g->slowdown_wall);
		else
			printf(" - |");
		printf(" %.2f |\n", g->others);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rwp-bench-track [--mb N] [--backend native|wp-async|minor] "
		"[--mem shmem|hugetlb|anon]\n"
		"                       [--quick] [--no-damon | --damon-only] [--intervals N]\n"
		"                       [--seconds S] [--reps N]\n"
		"  --mb N         region size in MiB (default 1024; --quick: 256)\n"
		"  --backend B    only this backend (default: every one the kernel offers)\n"
		"  --mem M        only this memory type (default: shmem, hugetlb, anon)\n"
		"  --quick        a smoke run: small region, short runs\n"
		"  --no-damon     skip the DAMON comparison\n"
		"  --damon-only   only the DAMON comparison\n"
		"  --intervals N  measured intervals per hot fraction (default 5)\n"
		"  --seconds S    slowdown: seconds of untracked work per run (default 4)\n"
		"  --reps N       slowdown: runs per side (default 3)\n");
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option lo[] = {
		{ "mb", required_argument, NULL, 'm' },
		{ "backend", required_argument, NULL, 'b' },
		{ "mem", required_argument, NULL, 't' },
		{ "quick", no_argument, NULL, 'q' },
		{ "no-damon", no_argument, NULL, 'D' },
		{ "damon-only", no_argument, NULL, 'O' },
		{ "intervals", required_argument, NULL, 'i' },
		{ "seconds", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long mb = 0, intervals = 0, reps = 0;
	double secs = 0;
	int c;

	*o = (struct bench_opts){ .damon = true };
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			mb = strtol(optarg, NULL, 10);
			break;
		case 'b':
			for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
				if (!strcmp(optarg, rwp_backend_name(backends[i])))
					o->backend = backends[i];
			if (!o->backend) {
				fprintf(stderr, "unknown backend %s\n", optarg);
				return -1;
			}
			break;
		case 't':
			for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++)
				if (!strcmp(optarg, rwp_mem_name(mems[i])))
					o->mem = mems[i];
			if (!o->mem) {
				fprintf(stderr, "unknown memory type %s\n", optarg);
				return -1;
			}
			break;
		case 'q':
			o->quick = true;
			break;
		case 'D':
			o->damon = false;
			break;
		case 'O':
			o->damon_only = true;
			break;
		case 'i':
			intervals = strtol(optarg, NULL, 10);
			break;
		case 's':
			secs = strtod(optarg, NULL);
			break;
		case 'r':
			reps = strtol(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || mb < 0 || intervals < 0 || reps < 0 || secs < 0 ||
	    (o->damon_only && !o->damon)) {
		usage(stderr);
		return -1;
	}
	/* whole 2 MiB pages, so that every memory type maps the same bytes */
	o->mb = mb ? ((size_t)mb + 1) & ~(size_t)1 : o->quick ? 256 : 1024;
	o->intervals = intervals ? intervals : o->quick ? 2 : 5;
	o->run_s = secs > 0 ? secs : o->quick ? 0.5 : 4;
	o->reps = reps ? reps : o->quick ? 1 : 3;
	return 0;
}

static void header(const struct bench_opts *o)
{
	struct rwp_features f;
	struct utsname u;
	char date[32] = "?", thp[64] = "?", line[128];
	time_t now = time(NULL);
	FILE *p = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (p && fgets(line, sizeof(line), p))
		snprintf(thp, sizeof(thp), "%.*s", (int)strcspn(line, "\n"), line);
	if (p)
		fclose(p);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M", localtime(&now));
	uname(&u);
	rwp_probe(&f);
	printf("# rwp-bench-track\n\n%s, kernel %s, %ld CPUs, THP %s\n", date, u.release,
	       sysconf(_SC_NPROCESSORS_ONLN), thp);
	printf("kernel offers: native RWP %s, wp-async %s, minor shmem %s / hugetlbfs %s\n",
	       f.rwp ? "yes" : "no", f.wp_async ? "yes" : "no", f.minor_shmem ? "yes" : "no",
	       f.minor_hugetlbfs ? "yes" : "no");
	printf("region %zu MiB; hot fractions 1%%, 10%%, 50%% (scattered pages, a third written); "
	       "%u intervals; slowdown %u x %.1f s per side%s\n",
	       o->mb, o->intervals, o->reps, o->run_s, o->quick ? " (--quick)" : "");
	kv("bench=track part=env date=%s kernel=%s cpus=%ld mb=%zu intervals=%u reps=%u "
	   "run_s=%.1f cpu_main=%d cpu_work=%d",
	   date, u.release, sysconf(_SC_NPROCESSORS_ONLN), o->mb, o->intervals, o->reps,
	   o->run_s, o->cpu_main, o->cpu_work);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (parse(argc, argv, &o))
		return 2;
	/* cross-CPU wakeups are slow on these machines: every thread has its CPU */
	o.cpu_main = 0;
	o.cpu_work = ncpu > 1 ? 1 : 0;
	pin_self(o.cpu_main);
	setvbuf(stdout, NULL, _IOLBF, 0);
	header(&o);
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]) && !o.damon_only; i++) {
		if (o.backend && o.backend != backends[i])
			continue;
		for (size_t j = 0; j < sizeof(mems) / sizeof(mems[0]); j++) {
			if (o.mem && o.mem != mems[j])
				continue;
			if (backends[i] == RWP_BACKEND_MINOR && mems[j] == RWP_MEM_ANON)
				continue; /* MINOR faults do not exist for anon memory */
			run_combo(&o, backends[i], mems[j]);
		}
	}
	if (!o.damon_only)
		print_goals(&o);
	if (o.damon)
		accuracy_run(&o);
	else
		printf("\n## 4. DAMON: skipped (--no-damon)\n");
	kv_flush();
	if (failed)
		fprintf(stderr, "rwp-bench-track: a measurement failed or a hot set was wrong "
				"(see above)\n");
	return failed;
}
