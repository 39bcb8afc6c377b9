// SPDX-License-Identifier: MIT
/* Logging through the user's callback, and the last error kept for rwp_ctx_last_error(). */
#include "../internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vlog(struct rwp_ctx *ctx, enum rwp_log_level lvl, const char *fmt, va_list ap)
{
	char msg[256];

	if (!ctx)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	pthread_mutex_lock(&ctx->log_lock);
	if (lvl == RWP_LOG_ERR)
		memcpy(ctx->last_error, msg, sizeof(msg));
	pthread_mutex_unlock(&ctx->log_lock);
	if (ctx->log && lvl <= ctx->log_level)
		ctx->log(ctx->log_arg, lvl, msg);
}

void rwp_log(struct rwp_ctx *ctx, enum rwp_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(ctx, lvl, fmt, ap);
	va_end(ap);
}

int rwp_err(struct rwp_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(ctx, RWP_LOG_ERR, fmt, ap);
	va_end(ap);
	return -err;
}

RWP_EXPORT const char *rwp_ctx_last_error(const struct rwp_ctx *ctx)
{
	return ctx ? ctx->last_error : "";
}
