// SPDX-License-Identifier: MIT
/*
 * rwpctl policy: change how a guest (or every guest, and the default) is tracked and
 * evicted; with no option, show the policies in force.
 */
#include "rwpctl.h"

#include "../lib/proto/codec.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

enum { O_INTERVAL = 256, O_MIN_IDLE, O_TARGET, O_MAX_EVICT, O_REFAULT, O_WRITE_TRACKED };

static const struct option opts[] = {
	{ "interval", required_argument, NULL, O_INTERVAL },
	{ "min-idle", required_argument, NULL, O_MIN_IDLE },
	{ "target", required_argument, NULL, O_TARGET },
	{ "max-evict", required_argument, NULL, O_MAX_EVICT },
	{ "refault-ppm", required_argument, NULL, O_REFAULT },
	{ "write-tracked", no_argument, NULL, O_WRITE_TRACKED },
	RWPCTL_COMMON_OPTS,
	{ 0 },
};

static void show_one(struct json_object *g, int w)
{
	uint64_t target = ju(g, "policy.target_resident"), max = ju(g, "policy.max_evict");
	char t[FMT_LEN], m[FMT_LEN];

	uint64_t ppm = ju(g, "policy.refault_ppm");
	char r[FMT_LEN];

	snprintf(m, sizeof(m), "%" PRIu64, max);
	snprintf(r, sizeof(r), "%" PRIu64, ppm);
	printf("%4" PRIu64 "  %-*s  %9" PRIu64 "  %8" PRIu64 "  %10s  %9s  %11s  %s\n",
	       ju(g, "id"), w, js(g, "name"), ju(g, "policy.interval_ms"),
	       ju(g, "policy.min_idle"), target ? fmt_size(t, (double)target) : "none",
	       max ? m : "unlimited", ppm ? r : "none",
	       jb(g, "policy.write_tracked") ? "yes" : "no");
}

static int show(struct rwpctl *ctl, uint64_t id)
{
	struct json_object *root, *guests;
	size_t n;
	int w = 4, ret;

	ret = ctl_status(ctl, id, &root);
	if (ret)
		return ret;
	guests = jget(root, "guests");
	n = json_object_array_length(guests);
	for (size_t i = 0; i < n; i++) {
		int l = (int)strlen(js(json_object_array_get_idx(guests, i), "name"));

		w = l > w ? l : w;
	}
	if (n)
		printf("%4s  %-*s  %9s  %8s  %10s  %9s  %11s  %s\n", "ID", w, "NAME",
		       "INTERVAL", "MIN-IDLE", "TARGET", "MAX-EVICT", "REFAULT-PPM",
		       "WRITE-TRACKED");
	else
		printf("no guests\n");
	for (size_t i = 0; i < n; i++)
		show_one(json_object_array_get_idx(guests, i), w);
	if (n)
		printf("interval in ms, min idle in intervals, max evict in pages per interval\n");
	json_object_put(root);
	return RWPCTL_OK;
}

/* interval and min idle have no "none": 0 on the wire keeps them, so it is refused */
static int number(const struct rwpctl_cmd *cmd, const char *opt, const char *s,
		  uint64_t min, uint64_t max, uint64_t *v)
{
	*v = 0;
	if (!parse_u64(s, min, max, v))
		return RWPCTL_OK;
	return ctl_usage(cmd, "%s: '%s' is not a number from %" PRIu64 " to %" PRIu64, opt, s,
			 min, max);
}

/* Fields that can be none are sent with their SET flag, so that 0 means none, not keep. */
static int parse(const struct rwpctl_cmd *cmd, int opt, struct rwpd_policy *p)
{
	uint64_t v;
	int ret = RWPCTL_OK;

	switch (opt) {
	case O_INTERVAL:
		ret = number(cmd, "--interval", optarg, 1, RWPD_INTERVAL_MS_MAX, &v);
		p->interval_ms = (uint32_t)v;
		break;
	case O_MIN_IDLE:
		ret = number(cmd, "--min-idle", optarg, 1, RWPD_MIN_IDLE_MAX, &v);
		p->min_idle = (uint32_t)v;
		break;
	case O_TARGET:
		if (parse_size(optarg, &p->target_resident))
			return ctl_usage(cmd, "--target: '%s' is not a size (a number, then K, M, "
					      "G or T)", optarg);
		p->flags |= RWPD_POLICY_SET_TARGET;
		break;
	case O_MAX_EVICT:
		ret = number(cmd, "--max-evict", optarg, 0, UINT64_MAX, &p->max_evict);
		p->flags |= RWPD_POLICY_SET_MAX_EVICT;
		break;
	case O_REFAULT:
		ret = number(cmd, "--refault-ppm", optarg, 0, RWPD_REFAULT_PPM_MAX, &v);
		p->refault_ppm = (uint32_t)v;
		p->flags |= RWPD_POLICY_SET_REFAULT;
		break;
	case O_WRITE_TRACKED:
		p->flags |= RWPD_POLICY_WRITE_TRACKED;
		break;
	}
	return ret;
}

static int run(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv)
{
	struct rwpd_policy p = { 0 };
	struct rwpctl_reply r;
	bool any = false;
	const char *who;
	int opt, ret;

	while ((opt = ctl_next_opt(ctl, cmd, argc, argv, opts, &ret))) {
		ret = parse(cmd, opt, &p);
		if (ret)
			return ret;
		any = true;
	}
	if (ret != RWPCTL_NEXT)
		return ret;
	if (argc - optind != 1)
		return ctl_usage(cmd, "which guest, or all?");
	who = argv[optind];
	if (strcmp(who, "all")) {
		ret = ctl_guest(ctl, who, &p.guest_id);
		if (ret)
			return ret;
	}
	if (!any)
		return show(ctl, p.guest_id);
	ret = ctl_call(ctl, RWPD_SET_POLICY, &p, sizeof(p), &r, RWPCTL_TIMEOUT_MS);
	if (ret)
		return ret;
	if (r.len)
		printf("%s\n", r.text);
	else if (p.guest_id)
		printf("policy of guest %" PRIu64 " set\n", p.guest_id);
	else
		printf("policy of every guest, and the default, set\n");
	rwpctl_reply_free(&r);
	return RWPCTL_OK;
}

const struct rwpctl_cmd rwpctl_cmd_policy = {
	.name = "policy",
	.run = run,
	.args = "GUEST|all [--interval MS] [--min-idle N] [--target SIZE] [--max-evict N] "
		"[--refault-ppm N] [--write-tracked]",
	.summary = "change a guest's tracking and eviction policy, or show it",
	.help = "      --interval MS   tracking interval, 1 to 3600000 ms\n"
		"      --min-idle N    evict pages idle N intervals or more, 1 to 127\n"
		"      --target SIZE   evict, oldest first, down to SIZE resident (K, M, G, T);\n"
		"                      0: no target\n"
		"      --max-evict N   evict at most N pages per interval; 0: no limit\n"
		"      --refault-ppm N refault budget: fetches per minute in millionths of the\n"
		"                      working set, up to 1000000; 0: no budget\n"
		"      --write-tracked also evict regions whose reads rwp cannot see\n"
		"  Fields not given keep their value; none given shows the policies in force.\n"
		"  all also sets the default for guests attached later.\n",
};
