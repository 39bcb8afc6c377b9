// SPDX-License-Identifier: MIT
/* Operations on the managed process's address space, local or remote. */
#include "../internal.h"

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * Drop the PTEs of [addr, addr + len): shared memory stays in the page cache, so the next
 * access refaults in the kernel. Another process is zapped through the context's zap hook
 * (its owner does it) or, where the kernel allows, with process_madvise().
 */
int rwp_zap(struct rwp_ctx *ctx, uintptr_t addr, size_t len)
{
	if (ctx->self)
		return madvise((void *)addr, len, MADV_DONTNEED) ? -errno : 0;
	if (ctx->zap)
		return ctx->zap(ctx->zap_arg, addr, len);

	struct iovec iov = { .iov_base = (void *)addr, .iov_len = len };

	while (iov.iov_len) {
		long n = syscall(__NR_process_madvise, ctx->pidfd, &iov, 1, MADV_DONTNEED, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= n;
	}
	return 0;
}

int rwp_zapv(struct rwp_ctx *ctx, const struct iovec *v, unsigned int n)
{
	int ret = 0;

	if (!ctx->self && ctx->zap && ctx->zapv)
		return ctx->zapv(ctx->zap_arg, v, n);
	for (unsigned int i = 0; i < n; i++) {
		int r = rwp_zap(ctx, (uintptr_t)v[i].iov_base, v[i].iov_len);

		ret = ret ?: r;
	}
	return ret;
}
