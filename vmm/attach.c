// SPDX-License-Identifier: MIT
/* librwp in-process: a context, the guest's data pages as one region, the tier chain. */
#include "host.h"

#include <errno.h>
#include <string.h>

/* Warnings only: an error comes back from the call that failed, with its message. */
static void log_line(void *arg, enum rwp_log_level level, const char *msg)
{
	const struct vmm_opts *o = arg;

	if (level == RWP_LOG_WARN)
		fprintf(stderr, "%s: librwp: %s\n", o->prog, msg);
}

static int add_tier(struct vmm_rwp *w, struct rwp_tier *t, unsigned int demote_age,
		    char *err, size_t errlen)
{
	int ret;

	snprintf(w->tiers[w->nr_tiers], sizeof(w->tiers[0]), "%s", rwp_tier_name(t));
	ret = rwp_tier_attach(w->ctx, t, demote_age);
	if (ret) {
		snprintf(err, errlen, "attach tier %s: %s", rwp_tier_name(t), strerror(-ret));
		rwp_tier_free(t);
		return ret;
	}
	w->nr_tiers++;
	return 0;
}

int vmm_rwp_attach(struct vmm_rwp *w, const struct vmm_ram *ram, const struct vmm_opts *o,
		   char *err, size_t errlen)
{
	RWP_OPTS(rwp_ctx_opts, co, .log = log_line, .log_arg = (void *)o,
		 .log_level = RWP_LOG_WARN);
	RWP_OPTS(rwp_region_opts, ro, .mem = RWP_MEM_SHMEM, .addr = ram->base + ram->data_gpa,
		 .len = ram->data_pages * VMM_PAGE, .fd = ram->fd, .offset = ram->data_gpa,
		 .backend = o->backend, .flags = RWP_REGION_EVICTABLE, .name = "guest data");
	RWP_OPTS(rwp_tier_zram_opts, zo, .codec = RWP_CODEC_LZ4, .max_bytes = o->zram_bytes);
	RWP_OPTS(rwp_tier_file_opts, fo, .path = o->file_tier);
	struct rwp_tier *t;
	int ret;

	memset(w, 0, sizeof(*w));
	if (o->cpu >= 0) {
		/* a fault is resolved without a cross-CPU wake-up, see rwp_ctx_opts */
		co.flags |= RWP_CTX_PIN_HANDLER;
		co.handler_cpu = o->cpu;
	}
	ret = rwp_ctx_new(&co, &w->ctx);
	if (ret) {
		snprintf(err, errlen, "librwp context: %s%s", strerror(-ret),
			 ret == -EPERM ? " (run as root, or set vm.unprivileged_userfaultfd=1)"
				       : "");
		w->ctx = NULL;
		return ret;
	}
	ret = rwp_region_register(w->ctx, &ro, &w->region);
	if (ret) {
		snprintf(err, errlen, "register guest memory: %s", rwp_ctx_last_error(w->ctx));
		goto err;
	}
	rwp_region_info(w->region, &w->info);

	ret = rwp_tier_zram_new(&zo, &t);
	if (ret) {
		snprintf(err, errlen, "compressed RAM tier: %s", strerror(-ret));
		goto err;
	}
	ret = add_tier(w, t, o->file_tier ? o->demote_age : 0, err, errlen);
	if (ret || !o->file_tier)
		goto out;
	ret = rwp_tier_file_new(&fo, &t);
	if (ret) {
		snprintf(err, errlen, "file tier %s: %s", o->file_tier, strerror(-ret));
		goto err;
	}
	ret = add_tier(w, t, 0, err, errlen);
out:
	if (!ret)
		return 0;
err:
	vmm_rwp_detach(w);
	return ret;
}

void vmm_rwp_detach(struct vmm_rwp *w)
{
	rwp_ctx_free(w->ctx);
	w->ctx = NULL;
	w->region = NULL;
}
