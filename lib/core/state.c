// SPDX-License-Identifier: MIT
/*
 * Files that hold eviction state: in the context's state directory when it has one, so
 * that a successor can recover them, else unnamed memory-backed files.
 */
#include "../internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int rwp_state_open(struct rwp_ctx *ctx, const char *name, int *fd)
{
	if (ctx->state_dirfd < 0) {
		*fd = memfd_create(name, MFD_CLOEXEC);
		if (*fd < 0)
			return rwp_err(ctx, errno, "memfd %s: %s", name, strerror(errno));
		return 0;
	}
	*fd = openat(ctx->state_dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return rwp_err(ctx, errno, "state file %s: %s", name, strerror(errno));
	return 0;
}

/* Forget a state file (its data is no longer needed by anyone). */
void rwp_state_remove(struct rwp_ctx *ctx, const char *name)
{
	if (ctx->state_dirfd >= 0 && !ctx->abandon)
		unlinkat(ctx->state_dirfd, name, 0);
}

int rwp_state_dir_open(struct rwp_ctx *ctx, const char *dir)
{
	ctx->state_dirfd = -1;
	if (!dir)
		return 0;
	ctx->state_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->state_dirfd < 0)
		return rwp_err(ctx, errno, "state directory %s: %s", dir, strerror(errno));
	return 0;
}
