// SPDX-License-Identifier: MIT
/*
 * rwpctl metrics: rwpd's Prometheus text, as it is, for a node-exporter textfile
 * (rwpctl metrics > dir/rwp.prom.$$ && mv ...) or a scrape wrapper.
 */
#include "rwpctl.h"

#include "../lib/proto/wire.h"

#include <getopt.h>
#include <stdio.h>

static const struct option opts[] = {
	RWPCTL_COMMON_OPTS,
	{ 0 },
};

static int run(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv)
{
	struct rwpctl_reply r;
	int ret;

	while (ctl_next_opt(ctl, cmd, argc, argv, opts, &ret))
		;
	if (ret != RWPCTL_NEXT)
		return ret;
	if (argc != optind)
		return ctl_usage(cmd, "no arguments");
	ret = ctl_call(ctl, RWPD_METRICS, NULL, 0, &r, RWPCTL_TIMEOUT_MS);
	if (ret)
		return ret;
	/* the exposition format wants its last line ended */
	fwrite(r.text, 1, r.len, stdout);
	if (r.len && r.text[r.len - 1] != '\n')
		putchar('\n');
	rwpctl_reply_free(&r);
	return RWPCTL_OK;
}

const struct rwpctl_cmd rwpctl_cmd_metrics = {
	.name = "metrics",
	.run = run,
	.args = "",
	.summary = "print every guest's counters in Prometheus text format",
	.help = "  The metric names are listed in rwpctl(1), METRICS.\n",
};
