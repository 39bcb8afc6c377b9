// SPDX-License-Identifier: MIT
/*
 * rwpctl stats: one guest in detail, for an operator asking "why is this guest slow or
 * big": its regions' backends and why, tiers, fetch latency, prefetch value, tick cost.
 */
#include "rwpctl.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

static void sizes_line(struct json_object *g)
{
	uint64_t guest = ju(g, "memory.guest_bytes"), res = ju(g, "memory.resident_bytes");
	char b[4][FMT_LEN];

	printf("memory    guest %s, resident %s, evicted %s (%" PRIu64 " pages, %" PRIu64
	       " zero), saved %s\n",
	       fmt_size(b[0], (double)guest), fmt_size(b[1], (double)res),
	       fmt_size(b[2], guest > res ? (double)(guest - res) : 0),
	       ju(g, "memory.evicted_pages"), ju(g, "memory.zero_pages"),
	       fmt_size(b[3], (double)ji(g, "memory.saved_bytes")));
	printf("wss       1 interval: %s, 4: %s, 16: %s\n",
	       fmt_size(b[0], (double)ju(g, "wss_bytes.1")),
	       fmt_size(b[1], (double)ju(g, "wss_bytes.4")),
	       fmt_size(b[2], (double)ju(g, "wss_bytes.16")));
}

static void policy_line(struct json_object *g)
{
	uint64_t target = ju(g, "policy.target_resident"), max = ju(g, "policy.max_evict");
	char t[FMT_LEN];

	printf("policy    interval %" PRIu64 " ms, min idle %" PRIu64 ", target %s, ",
	       ju(g, "policy.interval_ms"), ju(g, "policy.min_idle"),
	       target ? fmt_size(t, (double)target) : "none");
	if (max)
		printf("max evict %" PRIu64 " pages, ", max);
	else
		printf("max evict unlimited, ");
	if (ju(g, "policy.refault_ppm"))
		printf("refault budget %" PRIu64 " ppm, ", ju(g, "policy.refault_ppm"));
	else
		printf("no refault budget, ");
	printf("write-tracked %s\n", jb(g, "policy.write_tracked") ? "yes" : "no");
}

static void fetch_lines(struct json_object *g)
{
	uint64_t pre = ju(g, "fetch.prefetched"), hits = ju(g, "fetch.prefetch_hits");
	char b[5][FMT_LEN];

	printf("faults    missing %" PRIu64 ", minor %" PRIu64 ", rwp %" PRIu64 ", held %" PRIu64
	       "\n",
	       ju(g, "faults.missing"), ju(g, "faults.minor"), ju(g, "faults.rwp"),
	       ju(g, "faults.held"));
	printf("fetch     %" PRIu64 " pages (%" PRIu64 " zero); prefetched %" PRIu64
	       ": %" PRIu64 " hits (%.1f%%), %" PRIu64 " waste; %" PRIu64 " errors, %" PRIu64
	       " poisoned; refault rate %.4g\n",
	       ju(g, "fetch.fetched"), ju(g, "fetch.zero"), pre, hits,
	       pre ? 100.0 * (double)hits / (double)pre : 0.0, ju(g, "fetch.prefetch_waste"),
	       ju(g, "fetch.errors"), ju(g, "fetch.poisoned"), jd(g, "fetch.refault_rate"));
	if (!ju(g, "fetch.latency_ns.count")) {
		printf("latency   no fault served yet\n");
		return;
	}
	printf("latency   p50 %s, p90 %s, p99 %s, max %s, mean %s (%" PRIu64 " faults)\n",
	       fmt_ns(b[0], ju(g, "fetch.latency_ns.p50")),
	       fmt_ns(b[1], ju(g, "fetch.latency_ns.p90")),
	       fmt_ns(b[2], ju(g, "fetch.latency_ns.p99")),
	       fmt_ns(b[3], ju(g, "fetch.latency_ns.max")),
	       fmt_ns(b[4], ju(g, "fetch.latency_ns.mean")), ju(g, "fetch.latency_ns.count"));
}

static void work_lines(struct json_object *g)
{
	char t[FMT_LEN];

	printf("evict     %" PRIu64 " pages in %" PRIu64 " passes, %" PRIu64 " failures, %s\n",
	       ju(g, "evict.total"), ju(g, "evict.passes"), ju(g, "evict.failures"),
	       fmt_ns(t, ju(g, "evict.ns")));
	printf("tick      %" PRIu64 " ticks; per page: scan %.2f ns, bookkeeping %.2f ns, "
	       "protect %.2f ns\n",
	       ju(g, "tick.ticks"), jd(g, "tick.ns_per_page_scan"),
	       jd(g, "tick.ns_per_page_bookkeeping"), jd(g, "tick.ns_per_page_protect"));
}

static void tiers(struct json_object *g)
{
	struct json_object *a = jget(g, "tiers");
	size_t n = json_object_array_length(a);
	char b[3][FMT_LEN];

	printf("\ntiers\n");
	if (!n) {
		printf("  none: tracked, not evicted\n");
		return;
	}
	printf("  %-5s  %-8s  %10s  %10s  %10s  %10s  %10s  %7s\n", "LEVEL", "NAME", "PAGES",
	       "SIZE", "USED", "STORES", "LOADS", "ERRORS");
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(a, i);

		printf("  %-5zu  %-8s  %10" PRIu64 "  %10s  %10s  %10" PRIu64 "  %10" PRIu64
		       "  %7" PRIu64 "\n",
		       i, js(t, "name"), ju(t, "pages"), fmt_size(b[0], (double)ju(t, "bytes")),
		       fmt_size(b[1], (double)ju(t, "used_bytes")), ju(t, "stores"),
		       ju(t, "loads"), ju(t, "errors"));
	}
}

static void sees(struct json_object *r, char *buf, size_t cap)
{
	struct json_object *a = jget(r, "sees");
	size_t n = json_object_array_length(a), len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "",
					json_object_get_string(json_object_array_get_idx(a, i)));
	if (!n)
		snprintf(buf, cap, "-");
}

static void regions(struct json_object *g)
{
	struct json_object *a = jget(g, "regions");
	size_t n = json_object_array_length(a);
	char b[4][FMT_LEN], s[64];

	printf("\nregions\n  %-16s  %10s  %-14s  %8s  %-7s  %-8s  %s\n", "ADDR", "SIZE", "GPA",
	       "PAGE", "MEM", "BACKEND", "SEES");
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(a, i);

		sees(r, s, sizeof(s));
		snprintf(b[2], FMT_LEN, "0x%" PRIx64, ju(r, "gpa"));
		snprintf(b[3], FMT_LEN, "0x%" PRIx64, ju(r, "addr"));
		printf("  %-16s  %10s  %-14s  %8s  %-7s  %-8s  %s\n", b[3],
		       fmt_size(b[0], (double)ju(r, "len")), b[2],
		       fmt_size(b[1], (double)ju(r, "page_size")), js(r, "mem"),
		       js(r, "backend"), s);
		if (*js(r, "reason"))
			printf("      %s\n", js(r, "reason"));
	}
}

static void detail(struct json_object *g)
{
	char up[FMT_LEN];

	printf("guest %" PRIu64 " %s: %s, %s, pid %" PRId64 ", up %s, %" PRIu64 " intervals\n",
	       ju(g, "id"), js(g, "name"), js(g, "kind"), js(g, "phase"), ji(g, "pid"),
	       fmt_dur(up, jd(g, "uptime_s")), ju(g, "intervals"));
	policy_line(g);
	sizes_line(g);
	fetch_lines(g);
	work_lines(g);
	tiers(g);
	regions(g);
}

static const struct option opts[] = {
	{ "json", no_argument, NULL, 'j' },
	RWPCTL_COMMON_OPTS,
	{ 0 },
};

static int run(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv)
{
	struct json_object *root, *g;
	bool json = false;
	uint64_t id;
	int opt, ret;

	while ((opt = ctl_next_opt(ctl, cmd, argc, argv, opts, &ret)))
		json = opt == 'j' || json;
	if (ret != RWPCTL_NEXT)
		return ret;
	if (argc - optind != 1)
		return ctl_usage(cmd, "which guest?");
	ret = ctl_guest(ctl, argv[optind], &id);
	if (ret)
		return ret;
	ret = ctl_status(ctl, id, &root);
	if (ret)
		return ret;
	g = json_object_array_get_idx(jget(root, "guests"), 0);
	if (!g || ju(g, "id") != id)
		ret = ctl_err(RWPCTL_EDAEMON, "rwpd's STATUS of guest %" PRIu64 " lacks it", id);
	else if (json)
		ret = print_json(root);
	else
		detail(g);
	json_object_put(root);
	return ret;
}

const struct rwpctl_cmd rwpctl_cmd_stats = {
	.name = "stats",
	.run = run,
	.args = "GUEST [--json]",
	.summary = "show one guest in detail: regions, tiers, faults, fetch latency, costs",
	.help = "      --json          print rwpd's STATUS document of this guest\n",
};
