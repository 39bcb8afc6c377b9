// SPDX-License-Identifier: MIT
/* rwpctl evict: evict a guest now, one policy pass or down to a target. */
#include "rwpctl.h"

#include "../lib/proto/wire.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

enum { O_TARGET = 256, O_MAX };

static const struct option opts[] = {
	{ "target", required_argument, NULL, O_TARGET },
	{ "max", required_argument, NULL, O_MAX },
	RWPCTL_COMMON_OPTS,
	{ 0 },
};

static int run(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv)
{
	struct rwpd_evict_req e = { 0 };
	struct rwpctl_reply r;
	char t[FMT_LEN];
	int opt, ret;

	while ((opt = ctl_next_opt(ctl, cmd, argc, argv, opts, &ret))) {
		if (opt == O_TARGET && (parse_size(optarg, &e.target_resident) ||
					!e.target_resident))
			return ctl_usage(cmd, "--target: '%s' is not a size above 0 (a number, "
					      "then K, M, G or T)", optarg);
		if (opt == O_MAX && parse_u64(optarg, 0, UINT64_MAX, &e.max_pages))
			return ctl_usage(cmd, "--max: '%s' is not a number of pages", optarg);
	}
	if (ret != RWPCTL_NEXT)
		return ret;
	if (argc - optind != 1)
		return ctl_usage(cmd, "which guest?");
	ret = ctl_guest(ctl, argv[optind], &e.guest_id);
	if (ret)
		return ret;
	/* a pass down to a large target can take a while: no timeout unless asked */
	ret = ctl_call(ctl, RWPD_EVICT, &e, sizeof(e), &r, 0);
	if (ret)
		return ret;
	if (r.len)
		printf("%s\n", r.text);
	else if (e.target_resident)
		printf("guest %" PRIu64 ": evicted down to %s\n", e.guest_id,
		       fmt_size(t, (double)e.target_resident));
	else
		printf("guest %" PRIu64 ": eviction pass done\n", e.guest_id);
	rwpctl_reply_free(&r);
	return RWPCTL_OK;
}

const struct rwpctl_cmd rwpctl_cmd_evict = {
	.name = "evict",
	.run = run,
	.args = "GUEST [--target SIZE] [--max PAGES]",
	.summary = "evict a guest's cold pages now",
	.help = "      --target SIZE   evict, oldest first, down to SIZE resident (K, M, G, T);\n"
		"                      without it, one pass of the guest's policy\n"
		"      --max PAGES     evict at most PAGES pages (0: no limit, the default)\n",
};
