// SPDX-License-Identifier: MIT
/* Contexts: one userfaultfd over the memory of one process, and its fault thread. */
#include "../internal.h"
#include "../opts.h"
#include "../track/scan.h"
#include "../evict/evict.h"
#include "../fetch/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int open_target(struct rwp_ctx *ctx)
{
	char path[64];

	if (ctx->self)
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	else
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)ctx->pid);
	ctx->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ctx->pagemap_fd < 0)
		return rwp_err(ctx, errno, "cannot open %s: %s", path, strerror(errno));
	ctx->pidfd = syscall(__NR_pidfd_open, ctx->self ? getpid() : ctx->pid, 0);
	if (ctx->pidfd < 0)
		return rwp_err(ctx, errno, "pidfd_open(%d): %s", (int)ctx->pid, strerror(errno));
	return 0;
}

static int open_uffd(struct rwp_ctx *ctx, const struct rwp_ctx_opts *opts)
{
	const struct rwp_features *f = rwp_features_get();
	unsigned int flags = OPTS_GET(opts, flags, 0);
	uint64_t want;
	int ret;

	if (flags & RWP_CTX_ADOPT_UFFD) {
		ctx->uffd = OPTS_GET(opts, uffd, -1);
		ctx->features = OPTS_GET(opts, uffd_features, 0);
		ctx->own_uffd = false;
		if (ctx->uffd < 0 || fcntl(ctx->uffd, F_GETFD) < 0)
			return rwp_err(ctx, EBADF, "adopted uffd %d is not an open fd", ctx->uffd);
		return 0;
	}
	if (!f->uffd)
		return rwp_err(ctx, strstr(f->why, "permitted") ? EPERM : ENOSYS, "%s", f->why);
	ret = rwp_uffd_open(NULL);
	if (ret < 0)
		return rwp_err(ctx, -ret, "userfaultfd: %s", strerror(-ret));
	ctx->uffd = ret;
	ctx->own_uffd = true;
	want = rwp_uffd_wanted_features(f);
	if (flags & RWP_CTX_EVENT_FORK)
		want |= UFFD_FEATURE_EVENT_FORK;
	if (flags & RWP_CTX_DISCARDS)
		want |= UFFD_FEATURE_EVENT_REMOVE & f->uffd_features;
	ret = rwp_uffd_api(ctx->uffd, want, NULL, NULL);
	if (ret)
		return rwp_err(ctx, -ret, "UFFDIO_API(features=%#llx): %s",
			       (unsigned long long)want, strerror(-ret));
	ctx->features = want;
	return 0;
}

RWP_EXPORT int rwp_ctx_new(const struct rwp_ctx_opts *opts, struct rwp_ctx **out)
{
	struct rwp_ctx *ctx;
	pthread_rwlockattr_t ra;
	int ret;

	if (!out || !OPTS_VALID(opts, rwp_ctx_opts))
		return -EINVAL;
	/* a flag this library does not know asks for something it would silently not do */
	if (OPTS_GET(opts, flags, 0) & ~(RWP_CTX_ADOPT_UFFD | RWP_CTX_EVENT_FORK |
					 RWP_CTX_PIN_HANDLER | RWP_CTX_KEEP_PIPE | RWP_CTX_DISCARDS))
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->uffd = ctx->pidfd = ctx->pagemap_fd = ctx->epfd = ctx->stop_efd = ctx->kick_efd = -1;
	ctx->state_dirfd = ctx->pipe_fds[0] = ctx->pipe_fds[1] = -1;
	if (OPTS_GET(opts, flags, 0) & RWP_CTX_KEEP_PIPE) {
		ctx->keep_pipe = true;
		ctx->pipe_fds[0] = OPTS_HAS(opts, pipe_fds) ? opts->pipe_fds[0] : -1;
		ctx->pipe_fds[1] = OPTS_HAS(opts, pipe_fds) ? opts->pipe_fds[1] : -1;
	}
	rwp_fetch_defaults(&ctx->fetch);
	ctx->log = OPTS_GET(opts, log, NULL);
	ctx->log_arg = OPTS_GET(opts, log_arg, NULL);
	ctx->log_level = OPTS_GET(opts, log_level, RWP_LOG_ERR);
	ctx->pid = OPTS_GET(opts, pid, 0);
	ctx->self = ctx->pid == 0 || ctx->pid == getpid();
	ctx->pin = OPTS_GET(opts, flags, 0) & RWP_CTX_PIN_HANDLER;
	ctx->zap = OPTS_GET(opts, zap, NULL);
	ctx->zap_arg = OPTS_GET(opts, zap_arg, NULL);
	ctx->zapv = OPTS_GET(opts, zapv, NULL);
	ctx->cpu = OPTS_GET(opts, handler_cpu, 0);
	pthread_mutex_init(&ctx->log_lock, NULL);
	pthread_mutex_init(&ctx->track_lock, NULL);
	/*
	 * Readers first: the fault thread must get the lock while a writer waits, because a
	 * reader may be blocked in madvise() until the fault thread reads the REMOVE event.
	 */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_READER_NP);
	pthread_rwlock_init(&ctx->regions_lock, &ra);
	pthread_rwlockattr_destroy(&ra);

	ret = open_target(ctx);
	if (!ret)
		ret = rwp_state_dir_open(ctx, OPTS_GET(opts, state_dir, NULL));
	if (!ret && ctx->keep_pipe && (fcntl(ctx->pipe_fds[0], F_GETFD) < 0 ||
				       fcntl(ctx->pipe_fds[1], F_GETFD) < 0))
		ret = rwp_err(ctx, EBADF, "RWP_CTX_KEEP_PIPE: pipe_fds are not open");
	if (!ret)
		ret = open_uffd(ctx, opts);
	if (!ret && !(ctx->runs = calloc(1, sizeof(*ctx->runs))))
		ret = -ENOMEM;
	if (!ret)
		ret = rwp_fault_thread_start(ctx);
	if (ret) {
		rwp_ctx_free(ctx);
		return ret;
	}
	*out = ctx;
	return 0;
}

RWP_EXPORT void rwp_ctx_free(struct rwp_ctx *ctx)
{
	if (!ctx)
		return;
	/* evicted pages come home before the uffd goes: a hole would read as zeros */
	if (ctx->nr_tiers && !ctx->abandon && rwp_drain(ctx) < 0)
		rwp_log(ctx, RWP_LOG_ERR, "freeing the context: some evicted pages could not be "
					  "fetched back and are poisoned");
	while (ctx->nr_regions)
		rwp_region_release(ctx->regions[ctx->nr_regions - 1]);
	rwp_fault_thread_stop(ctx);
	rwp_recorder_free(ctx);
	rwp_evictor_free(ctx->evictor);
	rwp_tiers_free(ctx);
	if (ctx->uffd >= 0 && ctx->own_uffd)
		close(ctx->uffd);
	if (ctx->pidfd >= 0)
		close(ctx->pidfd);
	if (ctx->pagemap_fd >= 0)
		close(ctx->pagemap_fd);
	if (ctx->state_dirfd >= 0)
		close(ctx->state_dirfd);
	if (ctx->runs)
		rwp_runs_free(ctx->runs);
	free(ctx->runs);
	free(ctx->regions);
	pthread_rwlock_destroy(&ctx->regions_lock);
	pthread_mutex_destroy(&ctx->track_lock);
	pthread_mutex_destroy(&ctx->log_lock);
	free(ctx);
}

RWP_EXPORT void rwp_ctx_abandon(struct rwp_ctx *ctx)
{
	if (ctx)
		ctx->abandon = true;
}

RWP_EXPORT uint64_t rwp_ctx_uffd_features(const struct rwp_ctx *ctx)
{
	return ctx ? ctx->features : 0;
}

RWP_EXPORT size_t rwp_ctx_regions(struct rwp_ctx *ctx, struct rwp_region **v, size_t n)
{
	size_t nr;

	pthread_rwlock_rdlock(&ctx->regions_lock);
	nr = ctx->nr_regions;
	for (size_t i = 0; i < nr && i < n; i++)
		v[i] = ctx->regions[i];
	pthread_rwlock_unlock(&ctx->regions_lock);
	return nr;
}
