// SPDX-License-Identifier: MIT
/*
 * Exactness through KVM: a 32-bit guest touches a changing list of its pages (one read or
 * write each) per interval, and every backend's hot set must equal the ground truth, which
 * is those pages plus the guest's own code, command block and stack pages: 100% precision
 * and recall, and the dirty set too where the backend reports one. The guest's writes must
 * land in the memfd. Also times each backend per interval and per guest page access.
 *
 * Guest memory is one memfd slot at guest physical 0, all of it registered with librwp.
 * The host reads guest memory only through a second, unregistered mapping, so that its
 * checks never count as accesses; it writes the command block through the tracked one,
 * as a VMM would (the guest reads that page anyway).
 */
#define _GNU_SOURCE
#include "../lib/guestmem.h"
#include "../lib/tap.h"
#include "vmm/guest.h"
#include "vmm/guest/track.h"
#include "vmm/kvm.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

TAP_DEFINE;

#define GUEST_BYTES (64UL << 20)
#define PAGE 4096UL
#define CODE_GPA 0x1000UL
#define CMD_GPA 0x2000UL
#define STACK_TOP 0x5000UL   /* the call pushes into page 4 */
#define DATA_FIRST 16	     /* data pages start at 64 KiB; pages 0..15 are the guest's own */
#define REPORT_PORT 0x10
#define INTERVALS 10
#define MIN_PAGES 100
#define MAX_PAGES 300
#define RUN_PAGES 32	     /* a contiguous run that moves every interval */
#define CARRY_ONE_IN 4	     /* re-touch about a quarter of the last interval's pages */

_Static_assert(MAX_PAGES <= TRACK_MAX_ENTRIES, "the command block is one page");

enum touch { NONE, READ, WRITE, OWN_READ, OWN_WRITE }; /* OWN_*: the guest's own pages */

struct tcase {
	const char *label;
	enum rwp_backend backend; /* RWP_BACKEND_AUTO here: untracked baseline */
	bool pin;		  /* vCPU and fault thread both on CPU 0 */
};

static const struct tcase cases[] = {
	{ "untracked", RWP_BACKEND_AUTO, false },
	{ "native", RWP_BACKEND_NATIVE, false },
	{ "wp-async", RWP_BACKEND_WP_ASYNC, false },
	{ "minor", RWP_BACKEND_MINOR, false },
	{ "minor, pinned", RWP_BACKEND_MINOR, true },
};

struct guest {
	struct guestmem g;	 /* memfd, tracked mapping */
	const uint8_t *view;	 /* second mapping of the memfd, never tracked */
	struct vmm_vm vm;
	struct vmm_cpu cpu;
};

/* One interval's plan: which pages, how, and what the guest must report. */
struct plan {
	uint8_t *touch; /* per page: enum touch */
	uint32_t *pages, n, prev_n;
	uint32_t *prev;
	struct track_entry entry[MAX_PAGES];
	uint32_t sum; /* of the dwords the guest reads */
};

struct timing {
	uint64_t run_ns, tick_ns, accesses;
	int intervals;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint32_t view32(const struct guest *gs, uint32_t gpa)
{
	return *(const volatile uint32_t *)(gs->view + gpa);
}

static void guest_free(struct guest *gs)
{
	if (gs->cpu.fd >= 0)
		vmm_cpu_destroy(&gs->cpu);
	vmm_vm_destroy(&gs->vm);
	if (gs->view && gs->view != MAP_FAILED)
		munmap((void *)gs->view, gs->g.len);
	guestmem_unmap(&gs->g);
}

/* Memory filled with a pattern, the track guest at CODE_GPA, a vCPU ready to enter it. */
static int guest_boot(struct guest *gs, char *err, size_t errlen)
{
	const struct vmm_guest_image *img = &vmm_guest_track;
	struct vmm_regs32 regs = {
		.eip = CODE_GPA, .esp = STACK_TOP, .esi = CMD_GPA, .edx = REPORT_PORT,
	};
	const char *why = NULL;
	int ret;

	memset(gs, 0, sizeof(*gs));
	gs->cpu.fd = -1;
	gs->vm.vm_fd = gs->vm.kvm_fd = -1;
	ret = guestmem_map(&gs->g, RWP_MEM_SHMEM, GUEST_BYTES, &why);
	if (ret) {
		snprintf(err, errlen, "guest memory: %s", why ? why : strerror(-ret));
		return ret;
	}
	gs->view = mmap(NULL, gs->g.len, PROT_READ, MAP_SHARED, gs->g.fd, 0);
	if (gs->view == MAP_FAILED) {
		snprintf(err, errlen, "second mapping: %s", strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < gs->g.len / 4; i++)
		((uint32_t *)gs->g.base)[i] = (uint32_t)i * 2654435761u;
	if (img->size > CMD_GPA - CODE_GPA) {
		snprintf(err, errlen, "guest image of %zu bytes overlaps the command block",
			 img->size);
		return -E2BIG;
	}
	memcpy(gs->g.base + CODE_GPA, img->code, img->size);

	ret = vmm_vm_create(&gs->vm);
	if (ret) {
		snprintf(err, errlen, "%s", gs->vm.err);
		return ret;
	}
	ret = vmm_mem_add(&gs->vm, 0, gs->g.base, gs->g.len);
	if (ret < 0) {
		snprintf(err, errlen, "%s", gs->vm.err);
		return ret;
	}
	ret = vmm_cpu_create(&gs->vm, 0, &gs->cpu);
	if (!ret)
		ret = vmm_cpu_setup_pm32(&gs->cpu);
	if (!ret)
		ret = vmm_cpu_set_regs32(&gs->cpu, &regs);
	if (ret)
		snprintf(err, errlen, "%s", gs->cpu.err);
	return ret;
}

/* Mark the pages [gpa, gpa + len) spans, keeping a write where one is already marked. */
static void mark(uint8_t *touch, uint64_t gpa, uint64_t len, enum touch how)
{
	for (uint64_t pg = gpa / PAGE; pg <= (gpa + len - 1) / PAGE; pg++)
		if (how > touch[pg])
			touch[pg] = how;
}

static void add_page(struct plan *p, const struct guest *gs, uint32_t pg, uint64_t *seed)
{
	uint32_t addr = pg * PAGE + (test_rand(seed) % (PAGE / 4)) * 4;
	bool write = test_rand(seed) % 3 == 0;

	if (p->touch[pg] || p->n == MAX_PAGES)
		return;
	p->touch[pg] = write ? WRITE : READ;
	p->pages[p->n] = pg;
	p->entry[p->n++] = (struct track_entry){
		.addr = addr | (write ? TRACK_WRITE : 0),
		.value = write ? (uint32_t)test_rand(seed) : 0,
	};
	if (!write)
		p->sum += view32(gs, addr);
}

/*
 * Choose 100..300 data pages: some of the last interval's (a page hot twice in a row
 * must be seen twice), a moving contiguous run, and random ones; in random order.
 */
static void choose(struct plan *p, const struct guest *gs, int iv, uint64_t *seed)
{
	size_t nr = gs->g.nr_pages;
	uint32_t want = MIN_PAGES + test_rand(seed) % (MAX_PAGES - MIN_PAGES + 1);
	uint32_t at = DATA_FIRST + (uint64_t)iv * 7919 * RUN_PAGES % (nr - DATA_FIRST - RUN_PAGES);

	memset(p->touch, NONE, nr);
	p->n = 0;
	p->sum = 0;
	for (uint32_t i = 0; i < p->prev_n; i++)
		if (test_rand(seed) % CARRY_ONE_IN == 0)
			add_page(p, gs, p->prev[i], seed);
	for (uint32_t pg = at; pg < at + RUN_PAGES; pg++)
		add_page(p, gs, pg, seed);
	while (p->n < want)
		add_page(p, gs, DATA_FIRST + test_rand(seed) % (nr - DATA_FIRST), seed);
	for (uint32_t i = p->n - 1; i > 0; i--) {
		uint32_t j = test_rand(seed) % (i + 1);
		struct track_entry e = p->entry[i];

		p->entry[i] = p->entry[j];
		p->entry[j] = e;
	}
	memcpy(p->prev, p->pages, p->n * sizeof(*p->pages));
	p->prev_n = p->n;

	/* what the guest touches to do it: code and command block read, stack written */
	mark(p->touch, CODE_GPA, vmm_guest_track.size, OWN_READ);
	mark(p->touch, CMD_GPA, sizeof(struct track_cmd) + p->n * sizeof(struct track_entry),
	     OWN_WRITE); /* written by the host */
	mark(p->touch, STACK_TOP - 4, 4, OWN_WRITE);
}

/* Hand the plan to the guest and run it to its HLT; check what it reports. */
static int guest_run(struct guest *gs, const struct plan *p, char *err, size_t errlen)
{
	struct track_cmd *cmd = (struct track_cmd *)(gs->g.base + CMD_GPA);
	struct vmm_exit ex;
	int ret;

	cmd->count = p->n;
	memcpy(cmd->entry, p->entry, p->n * sizeof(*p->entry));
	ret = vmm_cpu_run(&gs->cpu, &ex);
	if (ret) {
		snprintf(err, errlen, "%s", gs->cpu.err);
		return ret;
	}
	if (ex.kind != VMM_EXIT_IO || ex.port != REPORT_PORT || !ex.out || ex.size != 4 ||
	    ex.value != p->sum) {
		snprintf(err, errlen, "exit %d port 0x%x out %d size %u value 0x%x, want OUT 0x%x",
			 ex.kind, ex.port, ex.out, ex.size, ex.value, p->sum);
		return -EPROTO;
	}
	ret = vmm_cpu_run(&gs->cpu, &ex);
	if (ret) {
		snprintf(err, errlen, "%s", gs->cpu.err);
		return ret;
	}
	if (ex.kind != VMM_EXIT_HLT) {
		snprintf(err, errlen, "exit %d after the report, want HLT", ex.kind);
		return -EPROTO;
	}
	return 0;
}

/* bits must hold exactly the pages touched (or only those written, for a dirty set). */
static bool compare(const char *what, int iv, const uint64_t *bits, const uint8_t *touch,
		    size_t n, bool writes_only)
{
	size_t tp = 0, fp = 0, fn = 0;

	for (size_t pg = 0; pg < n; pg++) {
		bool got = bits[pg / 64] & (1ULL << (pg % 64));
		bool want = writes_only ? touch[pg] == WRITE || touch[pg] == OWN_WRITE
					: touch[pg] != NONE;

		if (got != want && fp + fn < 8)
			tap_diag("interval %d: %s page %zu (touch %d): %s", iv, what, pg, touch[pg],
				 got ? "false positive" : "missed");
		tp += got && want;
		fp += got && !want;
		fn += !got && want;
	}
	if (fp || fn)
		tap_diag("interval %d: %s: %zu right, %zu false positives, %zu missed", iv, what,
			 tp, fp, fn);
	return !fp && !fn;
}

static bool writes_landed(const struct guest *gs, const struct plan *p, int iv)
{
	for (uint32_t i = 0; i < p->n; i++) {
		const struct track_entry *e = &p->entry[i];

		if (!(e->addr & TRACK_WRITE))
			continue;
		if (view32(gs, e->addr & ~TRACK_WRITE) != e->value) {
			tap_diag("interval %d: gpa 0x%x holds 0x%x, guest wrote 0x%x", iv,
				 e->addr & ~TRACK_WRITE, view32(gs, e->addr & ~TRACK_WRITE),
				 e->value);
			return false;
		}
	}
	return true;
}

static int ctx_new(const struct tcase *tc, struct rwp_ctx **ctx)
{
	cpu_set_t cpu0;

	if (!tc->pin)
		return test_ctx_new(0, ctx);
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	if (sched_setaffinity(0, sizeof(cpu0), &cpu0))
		return -errno;
	RWP_OPTS(rwp_ctx_opts, o, .flags = RWP_CTX_PIN_HANDLER, .handler_cpu = 0);
	return rwp_ctx_new(&o, ctx);
}

static void report(const struct tcase *tc, const struct timing *t, struct rwp_ctx *ctx)
{
	struct rwp_track_timing tt = { 0 };

	tap_diag("%s: %d intervals, %.2f ms guest run per interval, %.2f us per guest page "
		 "access (%llu accesses)", tc->label, t->intervals,
		 t->run_ns / 1e6 / t->intervals, (double)t->run_ns / 1e3 / t->accesses,
		 (unsigned long long)t->accesses);
	if (!ctx || rwp_track_timing(ctx, &tt))
		return;
	tap_diag("%s: tick %.2f ms per interval (scan %.2f, bookkeeping %.2f, re-arm %.2f)",
		 tc->label, t->tick_ns / 1e6 / t->intervals, tt.scan_ns / 1e6 / tt.ticks,
		 tt.bookkeeping_ns / 1e6 / tt.ticks, tt.protect_ns / 1e6 / tt.ticks);
}

static void run_case(const struct tcase *tc)
{
	bool tracked = tc->backend != RWP_BACKEND_AUTO;
	char name[128], err[VMM_ERR_LEN + 64] = "";
	const char *why = NULL;
	struct guest gs;
	struct plan p = { 0 };
	struct timing t = { 0 };
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r = NULL;
	struct rwp_region_info info = { 0 };
	uint64_t *bits = NULL, seed = 7 + tc->backend * 131 + tc->pin;
	cpu_set_t cpus;
	bool ok = false;
	int ret;

	snprintf(name, sizeof(name), "%s: KVM guest accesses %s over %d intervals, writes land",
		 tc->label, tracked ? "tracked exactly" : "run untracked", INTERVALS);
	if (tracked && !backend_available(tc->backend, RWP_MEM_SHMEM, &why)) {
		tap_skip(name, "%s", why);
		return;
	}
	sched_getaffinity(0, sizeof(cpus), &cpus);
	ret = guest_boot(&gs, err, sizeof(err));
	CHECK(!ret, out, "boot: %s", err);
	p.touch = calloc(gs.g.nr_pages, 1);
	p.pages = calloc(MAX_PAGES, sizeof(*p.pages));
	p.prev = calloc(MAX_PAGES, sizeof(*p.prev));
	bits = calloc(gs.g.nr_pages / 64 + 1, sizeof(*bits));
	CHECK(p.touch && p.pages && p.prev && bits, out, "out of memory");
	if (tracked) {
		ret = ctx_new(tc, &ctx);
		CHECK(!ret, out, "context: %s", strerror(-ret));
		ret = guestmem_register(ctx, &gs.g, tc->backend, 0, &r);
		CHECK(!ret, out, "register: %s", rwp_ctx_last_error(ctx));
		rwp_region_info(r, &info);
		CHECK(info.backend == tc->backend && (info.sees & RWP_SEES_KERNEL) &&
			      (info.sees & RWP_SEES_READS),
		      out, "%s sees 0x%x: not reads and kernel accesses", info.name, info.sees);
		CHECK(!rwp_track_start(ctx), out, "start: %s", rwp_ctx_last_error(ctx));
	}

	for (int iv = 0; iv < INTERVALS; iv++) {
		uint64_t t0, t1, t2;
		int64_t hot = 0;

		choose(&p, &gs, iv, &seed);
		t0 = now_ns();
		ret = guest_run(&gs, &p, err, sizeof(err));
		t1 = now_ns();
		CHECK(!ret, out, "interval %d: %s", iv, err);
		if (tracked)
			hot = rwp_track_tick(ctx);
		t2 = now_ns();
		t.run_ns += t1 - t0;
		t.tick_ns += t2 - t1;
		t.accesses += p.n;
		t.intervals++;
		CHECK(writes_landed(&gs, &p, iv), out, "interval %d: guest writes lost", iv);
		if (!tracked)
			continue;

		size_t want = 0;

		for (size_t pg = 0; pg < gs.g.nr_pages; pg++)
			want += p.touch[pg] != NONE;
		CHECK(hot >= 0, out, "tick: %s", rwp_ctx_last_error(ctx));
		CHECK(rwp_region_hot_bitmap(r, bits, gs.g.nr_pages) == hot, out, "bitmap count");
		CHECK(compare("hot", iv, bits, p.touch, gs.g.nr_pages, false) &&
			      hot == (int64_t)want,
		      out, "interval %d: %lld hot, truth %zu", iv, (long long)hot, want);
		if (info.sees & RWP_SEES_DIRTY) {
			CHECK(rwp_region_dirty_bitmap(r, bits, gs.g.nr_pages) >= 0, out, "dirty");
			CHECK(compare("dirty", iv, bits, p.touch, gs.g.nr_pages, true), out,
			      "interval %d: dirty set differs", iv);
		}
		tap_diag("%s interval %d: %u data + %zu own pages hot of %zu, exact%s", tc->label,
			 iv, p.n, want - p.n, gs.g.nr_pages,
			 info.sees & RWP_SEES_DIRTY ? " (and dirty set)" : "");
	}
	report(tc, &t, ctx);
	ok = true;
out:
	tap_ok(ok, "%s", name);
	rwp_ctx_free(ctx);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	guest_free(&gs);
	free(p.touch);
	free(p.pages);
	free(p.prev);
	free(bits);
}

/* KVM present and usable? Else *why says what is missing. */
static bool kvm_available(char *why, size_t len)
{
	struct vmm_vm vm;
	int ret = vmm_vm_create(&vm);

	if (ret)
		snprintf(why, len, "%s", vm.err);
	vmm_vm_destroy(&vm);
	return !ret || (ret != -ENOENT && ret != -ENXIO && ret != -ENODEV && ret != -EACCES &&
			ret != -EOPNOTSUPP && ret != -EPERM);
}

int main(void)
{
	char why[VMM_ERR_LEN];

	tap_init();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!kvm_available(why, sizeof(why)))
			tap_skip(cases[i].label, "no usable KVM: %s", why);
		else
			run_case(&cases[i]);
	}
	return tap_done();
}
