// SPDX-License-Identifier: MIT
/* Regions: validate guest memory, choose its tracking backend, register it. */
#include "../internal.h"
#include "../opts.h"
#include "maps.h"
#include "../evict/evict.h"
#include "../fetch/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

static const struct rwp_backend_ops *const backends[] = {
	[RWP_BACKEND_NATIVE] = &rwp_backend_native,
	[RWP_BACKEND_WP_ASYNC] = &rwp_backend_wp_async,
	[RWP_BACKEND_MINOR] = &rwp_backend_minor,
	[RWP_BACKEND_NONE] = &rwp_backend_none,
};

RWP_EXPORT const char *rwp_backend_name(enum rwp_backend b)
{
	if (b == RWP_BACKEND_AUTO)
		return "auto";
	if ((unsigned int)b < ARRAY_SIZE(backends) && backends[b])
		return backends[b]->name;
	return "?";
}

RWP_EXPORT const char *rwp_mem_name(enum rwp_mem m)
{
	switch (m) {
	case RWP_MEM_ANON:
		return "anon";
	case RWP_MEM_SHMEM:
		return "shmem";
	case RWP_MEM_HUGETLB:
		return "hugetlb";
	}
	return "?";
}

/* Can this context use backend b on memory m? If not, say why in why[]. */
static bool usable(struct rwp_ctx *ctx, enum rwp_backend b, enum rwp_mem m, char *why,
		   size_t n)
{
	const struct rwp_features *f = rwp_features_get();
	const struct rwp_backend_ops *ops = backends[b];
	bool kernel;

	switch (b) {
	case RWP_BACKEND_NATIVE:
		kernel = f->rwp;
		break;
	case RWP_BACKEND_WP_ASYNC:
		kernel = f->wp_async;
		break;
	case RWP_BACKEND_NONE:
		return true;
	case RWP_BACKEND_MINOR:
		if (m == RWP_MEM_ANON) {
			snprintf(why, n, "MINOR faults do not exist for private anonymous memory");
			return false;
		}
		kernel = m == RWP_MEM_SHMEM ? f->minor_shmem : f->minor_hugetlbfs;
		break;
	default:
		snprintf(why, n, "unknown backend %d", b);
		return false;
	}
	if (!kernel) {
		snprintf(why, n, "kernel %s lacks what the %s backend needs", f->kernel, ops->name);
		return false;
	}
	/* the stock backends zap shared memory's PTEs every interval */
	if (b != RWP_BACKEND_NATIVE && m != RWP_MEM_ANON && !ctx->self && !ctx->zap &&
	    !f->remote_zap) {
		snprintf(why, n, "%s must drop PTEs of pid %d; this kernel refuses that to "
				 "other processes (give rwp_ctx_opts.zap)",
			 ops->name, (int)ctx->pid);
		return false;
	}
	if ((ctx->features & ops->features) != ops->features) {
		snprintf(why, n, "the uffd was created without the %s features (%#llx)", ops->name,
			 (unsigned long long)(ops->features & ~ctx->features));
		return false;
	}
	return true;
}

static const char *why_auto(enum rwp_backend b, enum rwp_mem m, bool evictable)
{
	switch (b) {
	case RWP_BACKEND_NATIVE:
		return "kernel has userfaultfd RWP: every access, kernel ones included, is seen "
		       "without a round trip";
	case RWP_BACKEND_WP_ASYNC:
		if (m == RWP_MEM_ANON)
			return "no RWP in this kernel: private anonymous memory can only be tracked "
			       "for writes (WP-async); reads are NOT seen";
		return "no RWP in this kernel: PTEs are zapped each interval (pages stay in the "
		       "page cache) and refaults are read with PAGEMAP_SCAN, no round trip";
	default:
		if (m == RWP_MEM_HUGETLB && evictable)
			return "no RWP in this kernel: evictable hugetlbfs needs MINOR faults, the only "
			       "per-page freeze there (hugetlbfs cannot splice); one round trip per "
			       "huge page per interval";
		return "no RWP or WP-async in this kernel: MINOR faults resolved with "
		       "UFFDIO_CONTINUE, one round trip per page per interval";
	}
}

static int choose_backend(struct rwp_ctx *ctx, struct rwp_region *r, enum rwp_backend forced)
{
	char why[160] = "";
	bool evictable = r->flags & RWP_REGION_EVICTABLE;
	enum rwp_backend order[3];
	size_t n = 0;

	if (forced != RWP_BACKEND_AUTO) {
		if ((unsigned int)forced >= ARRAY_SIZE(backends) || !backends[forced])
			return rwp_err(ctx, EINVAL, "unknown backend %d", forced);
		if (!usable(ctx, forced, r->mem, why, sizeof(why)))
			return rwp_err(ctx, EOPNOTSUPP, "backend %s on %s memory: %s",
				       backends[forced]->name, rwp_mem_name(r->mem), why);
		r->ops = backends[forced];
		snprintf(r->reason, sizeof(r->reason), "forced by the caller");
		return 0;
	}
	order[n++] = RWP_BACKEND_NATIVE;
	if (r->mem == RWP_MEM_HUGETLB && evictable)
		order[n++] = RWP_BACKEND_MINOR;
	else
		order[n++] = RWP_BACKEND_WP_ASYNC;
	if (r->mem != RWP_MEM_ANON)
		order[n++] = RWP_BACKEND_MINOR;
	for (size_t i = 0; i < n; i++) {
		if (usable(ctx, order[i], r->mem, why, sizeof(why))) {
			r->ops = backends[order[i]];
			snprintf(r->reason, sizeof(r->reason), "%s",
				 why_auto(order[i], r->mem, evictable));
			return 0;
		}
	}
	return rwp_err(ctx, EOPNOTSUPP, "no tracking backend for %s memory on kernel %s%s",
		       rwp_mem_name(r->mem), rwp_features_get()->kernel,
		       r->mem == RWP_MEM_ANON ? " (private anonymous memory needs RWP, Linux >= "
						"7.3, or WP-async, Linux >= 6.7)"
					      : "");
}

struct maps_check {
	struct rwp_region *r;
	uint64_t inode;
	uintptr_t next;
	int err;
	char why[160];
};

static int check_vma(void *arg, const struct rwp_vma *v)
{
	struct maps_check *c = arg;
	struct rwp_region *r = c->r;
	uintptr_t s = v->start > r->addr ? v->start : r->addr;

	if (v->start > c->next) {
		snprintf(c->why, sizeof(c->why), "nothing is mapped at %#lx", (unsigned long)c->next);
		return c->err = ENOMEM;
	}
	if (!v->read || !v->write) {
		snprintf(c->why, sizeof(c->why), "%#lx-%#lx is not mapped read-write",
			 (unsigned long)v->start, (unsigned long)v->end);
		return c->err = EINVAL;
	}
	if (r->mem == RWP_MEM_ANON) {
		if (v->shared || (v->inode && v->path[0] == '/')) {
			snprintf(c->why, sizeof(c->why), "%#lx-%#lx is %s, not private anonymous",
				 (unsigned long)v->start, (unsigned long)v->end,
				 v->shared ? "shared" : v->path);
			return c->err = EINVAL;
		}
	} else {
		uint64_t want = (uint64_t)r->offset + (s - r->addr);

		if (!v->shared || v->inode != c->inode || v->offset + (s - v->start) != want) {
			snprintf(c->why, sizeof(c->why),
				 "%#lx-%#lx is not a shared mapping of fd %d at offset %#llx",
				 (unsigned long)v->start, (unsigned long)v->end, r->fd,
				 (unsigned long long)want);
			return c->err = EINVAL;
		}
	}
	c->next = v->end;
	return 0;
}

static int validate_memory(struct rwp_ctx *ctx, struct rwp_region *r, int fd)
{
	struct maps_check c = { .r = r, .next = r->addr };
	struct statfs sfs;
	struct stat st;
	int ret;

	if (r->mem != RWP_MEM_ANON) {
		if (fd < 0 || fstatfs(fd, &sfs) || fstat(fd, &st))
			return rwp_err(ctx, EINVAL, "%s memory needs its backing fd (got %d)",
				       rwp_mem_name(r->mem), fd);
		if (r->mem == RWP_MEM_SHMEM && sfs.f_type != TMPFS_MAGIC)
			return rwp_err(ctx, EINVAL, "fd %d is not on tmpfs/memfd", fd);
		if (r->mem == RWP_MEM_HUGETLB && sfs.f_type != (typeof(sfs.f_type))HUGETLBFS_MAGIC)
			return rwp_err(ctx, EINVAL, "fd %d is not on hugetlbfs", fd);
		if (r->mem == RWP_MEM_HUGETLB)
			r->page_size = st.st_blksize;
		if (r->offset < 0 || (uint64_t)st.st_size < (uint64_t)r->offset + r->len)
			return rwp_err(ctx, EINVAL, "fd %d is %lld bytes, shorter than offset + len",
				       fd, (long long)st.st_size);
		c.inode = st.st_ino;
	}
	if (r->addr % r->page_size || r->len % r->page_size || r->offset % r->page_size)
		return rwp_err(ctx, EINVAL,
			       "address %#lx, length %#zx and offset %#llx must be multiples of "
			       "the %zu-byte page size",
			       (unsigned long)r->addr, r->len, (unsigned long long)r->offset,
			       r->page_size);
	ret = rwp_maps_walk(ctx->self ? 0 : ctx->pid, r->addr, r->addr + r->len, check_vma, &c);
	if (ret < 0)
		return rwp_err(ctx, -ret, "cannot read the memory map of pid %d", (int)ctx->pid);
	if (!ret && c.next < r->addr + r->len) {
		snprintf(c.why, sizeof(c.why), "nothing is mapped at %#lx", (unsigned long)c.next);
		c.err = ENOMEM;
	}
	if (c.err)
		return rwp_err(ctx, c.err == ENOMEM ? EINVAL : c.err, "region %#lx+%#zx: %s",
			       (unsigned long)r->addr, r->len, c.why);
	return 0;
}

/* Index where a region starting at addr goes; regions_lock held. */
static size_t slot_for(struct rwp_ctx *ctx, uintptr_t addr)
{
	size_t lo = 0, hi = ctx->nr_regions;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ctx->regions[mid]->addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct rwp_region *rwp_region_find_locked(struct rwp_ctx *ctx, uintptr_t addr)
{
	size_t i = slot_for(ctx, addr + 1);

	if (!i)
		return NULL;
	struct rwp_region *r = ctx->regions[i - 1];

	return addr - r->addr < r->len ? r : NULL;
}

static int insert(struct rwp_ctx *ctx, struct rwp_region *r)
{
	size_t i;
	int ret = 0;

	pthread_rwlock_wrlock(&ctx->regions_lock);
	i = slot_for(ctx, r->addr);
	if ((i > 0 && ctx->regions[i - 1]->addr + ctx->regions[i - 1]->len > r->addr) ||
	    (i < ctx->nr_regions && r->addr + r->len > ctx->regions[i]->addr)) {
		ret = -EEXIST;
		goto out;
	}
	if (ctx->nr_regions == ctx->cap_regions) {
		size_t cap = ctx->cap_regions ? 2 * ctx->cap_regions : 8;
		void *v = realloc(ctx->regions, cap * sizeof(*ctx->regions));

		if (!v) {
			ret = -ENOMEM;
			goto out;
		}
		ctx->regions = v;
		ctx->cap_regions = cap;
	}
	memmove(&ctx->regions[i + 1], &ctx->regions[i],
		(ctx->nr_regions - i) * sizeof(*ctx->regions));
	ctx->regions[i] = r;
	ctx->nr_regions++;
out:
	pthread_rwlock_unlock(&ctx->regions_lock);
	return ret;
}

static void region_free(struct rwp_region *r)
{
	rwp_evict_region_teardown(r);
	if (r->fd >= 0)
		close(r->fd);
	rwp_ages_free(r);
	free(r);
}

RWP_EXPORT int rwp_region_register(struct rwp_ctx *ctx, const struct rwp_region_opts *opts,
				   struct rwp_region **out)
{
	struct rwp_region *r;
	uint64_t mode;
	int fd, ret;

	if (!ctx || !opts || !out)
		return -EINVAL;
	if (!OPTS_VALID(opts, rwp_region_opts))
		return rwp_err(ctx, EINVAL, "region: options struct of %zu bytes has fields this "
			       "library (%zu bytes) does not know set, or is too short",
			       opts->sz, sizeof(*opts));
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->ctx = ctx;
	r->fd = -1;
	r->mem = OPTS_GET(opts, mem, 0);
	r->addr = (uintptr_t)OPTS_GET(opts, addr, NULL);
	r->len = OPTS_GET(opts, len, 0);
	r->offset = OPTS_GET(opts, offset, 0);
	r->flags = OPTS_GET(opts, flags, 0);
	r->page_size = PAGE_4K;
	r->index = -1;
	snprintf(r->name, sizeof(r->name), "%s", OPTS_GET(opts, name, NULL) ?: "");
	fd = OPTS_GET(opts, fd, -1);

	ret = -EINVAL;
	if (r->mem < RWP_MEM_ANON || r->mem > RWP_MEM_HUGETLB) {
		rwp_err(ctx, EINVAL, "region: mem must be RWP_MEM_ANON, _SHMEM or _HUGETLB");
		goto err;
	}
	if (!r->addr || !r->len || r->addr + r->len < r->addr) {
		rwp_err(ctx, EINVAL, "region: empty or wrapping range %#lx+%#zx",
			(unsigned long)r->addr, r->len);
		goto err;
	}
	if (r->flags & ~(RWP_REGION_EVICTABLE | RWP_REGION_LAZY)) {
		rwp_err(ctx, EINVAL, "region: unknown flags %#x", r->flags);
		goto err;
	}
	ret = validate_memory(ctx, r, fd);
	if (ret)
		goto err;
	r->page_shift = __builtin_ctzl(r->page_size);
	r->nr_pages = r->len >> r->page_shift;
	ret = choose_backend(ctx, r, OPTS_GET(opts, backend, RWP_BACKEND_AUTO));
	if (ret)
		goto err;
	r->sees = r->ops->sees(r->mem);
	if (fd >= 0 && r->mem != RWP_MEM_ANON) {
		r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (r->fd < 0) {
			ret = rwp_err(ctx, errno, "dup(fd %d): %s", fd, strerror(errno));
			goto err;
		}
	}
	ret = rwp_ages_init(r);
	if (ret)
		goto err;
	/* registration order names the region's state files, across restarts */
	pthread_rwlock_wrlock(&ctx->regions_lock);
	r->index = ctx->next_index++;
	pthread_rwlock_unlock(&ctx->regions_lock);
	ret = rwp_evict_region_setup(r);
	if (ret)
		goto err;
	ret = insert(ctx, r);
	if (ret) {
		rwp_err(ctx, EEXIST, "region %#lx+%#zx overlaps a registered region",
			(unsigned long)r->addr, r->len);
		goto err;
	}
	mode = r->ops->register_mode;
	if (r->flags & (RWP_REGION_EVICTABLE | RWP_REGION_LAZY))
		mode |= UFFDIO_REGISTER_MODE_MISSING;
	if (!mode) {
		ret = rwp_err(ctx, EINVAL, "backend none tracks nothing: the region needs "
					   "RWP_REGION_LAZY or RWP_REGION_EVICTABLE");
		goto err_remove;
	}
	ret = rwp_uffd_register(ctx->uffd, r->addr, r->len, mode, &r->ioctls);
	if (ret) {
		rwp_err(ctx, -ret, "UFFDIO_REGISTER(%#lx+%#zx, mode %#llx, %s): %s",
			(unsigned long)r->addr, r->len, (unsigned long long)mode, r->ops->name,
			strerror(-ret));
		goto err_remove;
	}
	if (!(r->ioctls & r->ops->needed_ioctl)) {
		ret = rwp_err(ctx, EOPNOTSUPP, "%s memory at %#lx does not allow the %s backend",
			      rwp_mem_name(r->mem), (unsigned long)r->addr, r->ops->name);
		goto err_unregister;
	}
	pthread_mutex_lock(&ctx->track_lock);
	if (ctx->tracking) {
		ret = r->ops->arm(r);
		r->armed = !ret;
	}
	pthread_mutex_unlock(&ctx->track_lock);
	if (ret)
		goto err_unregister;
	rwp_log(ctx, RWP_LOG_INFO, "region %s %#lx+%#zx: %s backend: %s", r->name,
		(unsigned long)r->addr, r->len, r->ops->name, r->reason);
	*out = r;
	return 0;

err_unregister:
	rwp_uffd_unregister(ctx->uffd, r->addr, r->len);
err_remove:
	pthread_rwlock_wrlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		if (ctx->regions[i] == r) {
			memmove(&ctx->regions[i], &ctx->regions[i + 1],
				(ctx->nr_regions - i - 1) * sizeof(*ctx->regions));
			ctx->nr_regions--;
			break;
		}
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
err:
	region_free(r);
	return ret;
}

static void remove_region(struct rwp_ctx *ctx, struct rwp_region *r)
{
	pthread_mutex_lock(&ctx->track_lock);
	pthread_rwlock_wrlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		if (ctx->regions[i] == r) {
			memmove(&ctx->regions[i], &ctx->regions[i + 1],
				(ctx->nr_regions - i - 1) * sizeof(*ctx->regions));
			ctx->nr_regions--;
			break;
		}
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	pthread_mutex_unlock(&ctx->track_lock);
}

/* Bring a region's evicted pages home. */
static int64_t drain_region(struct rwp_region *r)
{
	struct rwp_ctx *ctx = r->ctx;
	size_t len = 2UL << 20;
	uint8_t *buf;
	int64_t got;

	if (!r->state || !atomic_load(&r->nonresident) || atomic_load(&r->gone))
		return 0;
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -ENOMEM;
	pthread_mutex_lock(&ctx->track_lock);
	pthread_rwlock_rdlock(&ctx->regions_lock);
	got = rwp_install_range(ctx, r, 0, r->nr_pages, buf, len);
	pthread_rwlock_unlock(&ctx->regions_lock);
	pthread_mutex_unlock(&ctx->track_lock);
	munmap(buf, len);
	return got;
}

void rwp_region_release(struct rwp_region *r)
{
	struct rwp_ctx *ctx = r->ctx;

	if (ctx->abandon) {
		/* the registration and the state stay for a successor */
		remove_region(ctx, r);
		region_free(r);
		return;
	}
	if (drain_region(r) < 0 || (r->state && atomic_load(&r->nonresident) &&
				    !atomic_load(&r->gone))) {
		for (uint64_t pg = 0; pg < r->nr_pages; pg++)
			if (ps_kind(ps_load(&r->state[pg])) != PS_RESIDENT)
				rwp_fetch_poison(ctx, r, pg);
	}
	remove_region(ctx, r);
	/* restores normal access; a region unmapped by its owner has nothing left to undo */
	if (!atomic_load(&r->gone))
		rwp_uffd_unregister(ctx->uffd, r->addr, r->len);
	region_free(r);
}

/* Evicted pages are fetched back first; if that fails the region stays registered. */
RWP_EXPORT int rwp_region_unregister(struct rwp_region *r)
{
	struct rwp_ctx *ctx;
	int64_t got;
	int ret = 0;

	if (!r)
		return -EINVAL;
	ctx = r->ctx;
	got = drain_region(r);
	if (got < 0 || (r->state && atomic_load(&r->nonresident) && !atomic_load(&r->gone)))
		return rwp_err(ctx, got < 0 ? (int)-got : EIO,
			       "region %s: evicted pages could not all be fetched back; "
			       "it stays registered", r->name);
	remove_region(ctx, r);
	if (!atomic_load(&r->gone))
		ret = rwp_uffd_unregister(ctx->uffd, r->addr, r->len);
	region_free(r);
	return ret == -ENOMEM || ret == -EINVAL ? 0 : ret;
}

RWP_EXPORT int rwp_region_info(const struct rwp_region *r, struct rwp_region_info *info)
{
	if (!r || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->addr = (void *)r->addr;
	info->len = r->len;
	info->page_size = r->page_size;
	info->nr_pages = r->nr_pages;
	info->mem = r->mem;
	info->backend = r->ops->id;
	info->sees = r->sees;
	info->flags = r->flags;
	info->gone = atomic_load(&r->gone);
	snprintf(info->name, sizeof(info->name), "%s", r->name);
	snprintf(info->reason, sizeof(info->reason), "%s", r->reason);
	return 0;
}

/* Unregister [s, e), which a gone region left registered; nothing mapped there is fine. */
static void unregister_left(struct rwp_ctx *ctx, struct rwp_region *r, uintptr_t s, uintptr_t e)
{
	int ret;

	if (s >= e)
		return;
	ret = rwp_uffd_unregister(ctx->uffd, s, e - s);
	if (ret && ret != -ENOMEM)
		rwp_log(ctx, RWP_LOG_WARN, "region %s: unregistering %#lx+%#lx it left: %s",
			r->name, (unsigned long)s, (unsigned long)(e - s), strerror(-ret));
}

/*
 * The owner unmapped or moved (to `to`, if not 0) [start, end): regions there are no longer
 * tracked. The registration still covers what is left of them and what moved; it goes too,
 * or a MINOR fault there would find no region to resolve it and fault forever. Evictable
 * regions keep theirs: a hole where a page was evicted would read as zeros.
 */
static void gone(struct rwp_ctx *ctx, uintptr_t start, uintptr_t end, uintptr_t to,
		 const char *why)
{
	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];
		uintptr_t s = start > r->addr ? start : r->addr;
		uintptr_t e = end < r->addr + r->len ? end : r->addr + r->len;

		if (s >= e || atomic_exchange(&r->gone, true))
			continue;
		rwp_log(ctx, RWP_LOG_WARN, "region %s %#lx+%#zx %s: no longer tracked", r->name,
			(unsigned long)r->addr, r->len, why);
		if (r->flags & RWP_REGION_EVICTABLE)
			continue;
		unregister_left(ctx, r, r->addr, s);
		unregister_left(ctx, r, e, r->addr + r->len);
		if (to)
			unregister_left(ctx, r, to + (s - start), to + (e - start));
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
}

void rwp_region_mark_gone(struct rwp_ctx *ctx, uintptr_t start, uintptr_t end, const char *why)
{
	gone(ctx, start, end, 0, why);
}

void rwp_region_moved(struct rwp_ctx *ctx, uintptr_t from, uintptr_t to, size_t len)
{
	gone(ctx, from, from + len, to, "was moved by mremap()");
}
