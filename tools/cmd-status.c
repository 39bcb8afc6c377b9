// SPDX-License-Identifier: MIT
/* rwpctl status: the daemon and a table of its guests, or STATUS's JSON as it is. */
#include "rwpctl.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

void status_daemon_line(struct json_object *root, const char *eol)
{
	struct json_object *d = jget(root, "rwpd");
	char up[FMT_LEN], rss[FMT_LEN];
	uint64_t n = ju(d, "nr_guests");

	printf("rwpd %s, pid %" PRId64 ", up %s, kernel %s (%s), rss %s, %" PRIu64 " guest%s%s",
		js(d, "version"), ji(d, "pid"), fmt_dur(up, jd(d, "uptime_s")), js(d, "kernel"),
		jb(d, "native_rwp") ? "native RWP" : "RWP emulated",
	       fmt_size(rss, (double)ju(d, "rss_bytes")), n, n == 1 ? "" : "s", eol);
}

static int name_width(struct json_object *guests, size_t n)
{
	int w = 4;

	for (size_t i = 0; i < n; i++) {
		int l = (int)strlen(js(json_object_array_get_idx(guests, i), "name"));

		w = l > w ? l : w;
	}
	return w;
}

static void table(struct json_object *guests)
{
	size_t n = json_object_array_length(guests);
	int w = name_width(guests, n);
	char b[9][FMT_LEN];

	if (!n) {
		printf("no guests\n");
		return;
	}
	printf("%4s  %-*s  %-11s  %-9s  %7s  %9s  %9s  %9s  %9s  %8s  %8s  %8s\n", "ID", w,
	       "NAME", "KIND", "PHASE", "UPTIME", "GUEST", "RESIDENT", "EVICTED", "SAVED",
	       "WSS1", "WSS4", "WSS16");
	for (size_t i = 0; i < n; i++) {
		struct json_object *g = json_object_array_get_idx(guests, i);
		uint64_t guest = ju(g, "memory.guest_bytes"), res = ju(g, "memory.resident_bytes");

		printf("%4" PRIu64 "  %-*s  %-11s  %-9s  %7s  %9s  %9s  %9s  %9s  %8s  %8s  %8s\n",
		       ju(g, "id"), w, js(g, "name"), js(g, "kind"), js(g, "phase"),
		       fmt_dur(b[0], jd(g, "uptime_s")), fmt_mib(b[1], (double)guest),
		       fmt_mib(b[2], (double)res),
		       fmt_mib(b[3], guest > res ? (double)(guest - res) : 0),
		       fmt_mib(b[4], (double)ji(g, "memory.saved_bytes")),
		       fmt_mib(b[5], (double)ju(g, "wss_bytes.1")),
		       fmt_mib(b[6], (double)ju(g, "wss_bytes.4")),
		       fmt_mib(b[7], (double)ju(g, "wss_bytes.16")));
	}
	printf("sizes in MiB; WSSn: accessed within the last n intervals\n");
}

int print_json(struct json_object *root)
{
	const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_SPACED |
							     JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s)
		return ctl_err(RWPCTL_EDAEMON, "out of memory");
	printf("%s\n", s);
	return RWPCTL_OK;
}

static const struct option opts[] = {
	{ "json", no_argument, NULL, 'j' },
	RWPCTL_COMMON_OPTS,
	{ 0 },
};

static int run(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv)
{
	struct json_object *root;
	bool json = false;
	uint64_t id = 0;
	int opt, ret;

	while ((opt = ctl_next_opt(ctl, cmd, argc, argv, opts, &ret)))
		json = opt == 'j' || json;
	if (ret != RWPCTL_NEXT)
		return ret;
	if (argc - optind > 1)
		return ctl_usage(cmd, "one guest at most");
	if (optind < argc) {
		ret = ctl_guest(ctl, argv[optind], &id);
		if (ret)
			return ret;
	}
	ret = ctl_status(ctl, id, &root);
	if (ret)
		return ret;
	if (json) {
		ret = print_json(root);
	} else {
		status_daemon_line(root, "\n\n");
		table(jget(root, "guests"));
	}
	json_object_put(root);
	return ret;
}

const struct rwpctl_cmd rwpctl_cmd_status = {
	.name = "status",
	.run = run,
	.args = "[GUEST] [--json]",
	.summary = "show rwpd and its guests: memory, evicted, saved, working sets",
	.help = "      --json          print rwpd's STATUS document (rwpctl(1), JSON SCHEMA)\n",
};
