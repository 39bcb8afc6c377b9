// SPDX-License-Identifier: MIT
/* rwpctl detach: let a guest go, its evicted pages fetched back first. */
#include "rwpctl.h"

#include "../lib/proto/wire.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

static const struct option opts[] = {
	RWPCTL_COMMON_OPTS,
	{ 0 },
};

static int run(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv)
{
	struct rwpd_guest_ref g = { 0 };
	struct rwpctl_reply r;
	int ret;

	while (ctl_next_opt(ctl, cmd, argc, argv, opts, &ret))
		;
	if (ret != RWPCTL_NEXT)
		return ret;
	if (argc - optind != 1)
		return ctl_usage(cmd, "which guest?");
	ret = ctl_guest(ctl, argv[optind], &g.guest_id);
	if (ret)
		return ret;
	/* every evicted page comes back first: as long as that takes, unless --timeout */
	ret = ctl_call(ctl, RWPD_DETACH, &g, sizeof(g), &r, 0);
	if (ret)
		return ret;
	if (r.len)
		printf("%s\n", r.text);
	else
		printf("guest %" PRIu64 " detached\n", g.guest_id);
	rwpctl_reply_free(&r);
	return RWPCTL_OK;
}

const struct rwpctl_cmd rwpctl_cmd_detach = {
	.name = "detach",
	.run = run,
	.args = "GUEST",
	.summary = "stop managing a guest, fetching its evicted pages back first",
	.help = "",
};
