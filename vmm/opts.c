// SPDX-License-Identifier: MIT
/* The command line of rwp-vm and rwp-demo-threads: one option set, one meaning. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_MEM = 256, OPT_SECONDS, OPT_INTERVAL, OPT_MIN_IDLE, OPT_BACKEND, OPT_FILE_TIER,
	OPT_DEMOTE, OPT_ZRAM, OPT_JSON, OPT_QUIET, OPT_PROGRESS, OPT_CPU, OPT_THREADS, OPT_HELP,
};

static const struct option longopts[] = {
	{ "mem-mb", required_argument, NULL, OPT_MEM },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "interval-ms", required_argument, NULL, OPT_INTERVAL },
	{ "min-idle", required_argument, NULL, OPT_MIN_IDLE },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "file-tier", required_argument, NULL, OPT_FILE_TIER },
	{ "demote-age", required_argument, NULL, OPT_DEMOTE },
	{ "zram-mb", required_argument, NULL, OPT_ZRAM },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f, const char *prog, bool threads_opt)
{
	fprintf(f,
		"usage: %s [options]\n"
		"Run a %s whose working set changes phase by phase, track it with librwp,\n"
		"evict its cold pages to compressed RAM (and a file), fetch them back on demand,\n"
		"then verify every page and print a report.\n\n"
		"  --mem-mb N        guest memory in MiB (default 1024, 8..3072)\n"
		"  --seconds S       run time (default 60)\n"
		"  --interval-ms N   tracking interval (default 1000)\n"
		"  --min-idle N      evict pages idle N intervals (default 3)\n"
		"  --backend B       auto, native, wp-async or minor (default auto)\n"
		"  --file-tier PATH  a file tier after the compressed RAM one (a directory: a\n"
		"                    temporary file in it)\n"
		"  --demote-age N    move pages idle N intervals on to the file tier (default 10)\n"
		"  --zram-mb N       compressed RAM tier limit (default unlimited)\n"
		"  --json FILE       write the time series and summary as JSON\n"
		"  --cpu N           run the guest and librwp's fault thread on CPU N (default 0;\n"
		"                    -1: no pinning)\n"
		"%s"
		"  --progress        live progress line on stderr even if it is not a terminal\n"
		"  --quiet           print only the verdict and errors\n"
		"Exit status: 0 pages verified, 1 a page was lost or wrong, 2 error, 3 no KVM.\n",
		prog, threads_opt ? "thread-based guest" : "KVM guest",
		threads_opt ? "  --threads N       guest threads (default 1)\n" : "");
}

static int number(const char *prog, const char *name, const char *s, double lo, double hi,
		  double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "%s: --%s %s: want a number from %g to %g\n", prog, name, s, lo,
			hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int backend(const char *prog, const char *s, enum rwp_backend *b)
{
	static const enum rwp_backend all[] = { RWP_BACKEND_AUTO, RWP_BACKEND_NATIVE,
						RWP_BACKEND_WP_ASYNC, RWP_BACKEND_MINOR };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(s, rwp_backend_name(all[i]))) {
			*b = all[i];
			return 0;
		}
	}
	fprintf(stderr, "%s: --backend %s: want auto, native, wp-async or minor\n", prog, s);
	return -EINVAL;
}

static int cpu_allowed(const char *prog, int cpu)
{
	cpu_set_t set;

	if (cpu < 0 || sched_getaffinity(0, sizeof(set), &set) || CPU_ISSET(cpu, &set))
		return 0;
	fprintf(stderr, "%s: --cpu %d: not a CPU this process may run on\n", prog, cpu);
	return -EINVAL;
}

int vmm_opts_parse(struct vmm_opts *o, int argc, char **argv, bool threads_opt)
{
	const char *prog = o->prog;
	bool demote_set = false, progress = false;
	double v;
	int c, ret = 0;

	*o = (struct vmm_opts){
		.prog = prog, .mem_bytes = 1024ULL << 20, .seconds = 60, .interval_ms = 1000,
		.min_idle = 3, .demote_age = 10, .cpu = 0, .threads = 1,
	};
	optind = 1;
	while (!ret && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MEM:
			ret = number(prog, "mem-mb", optarg, VMM_MEM_MIN >> 20, VMM_MEM_MAX >> 20,
				     &v);
			o->mem_bytes = (uint64_t)v << 20;
			break;
		case OPT_SECONDS:
			ret = number(prog, "seconds", optarg, 0.1, 86400, &o->seconds);
			break;
		case OPT_INTERVAL:
			ret = number(prog, "interval-ms", optarg, 10, 600000, &v);
			o->interval_ms = v;
			break;
		case OPT_MIN_IDLE:
			ret = number(prog, "min-idle", optarg, 1, RWP_AGE_MAX, &v);
			o->min_idle = v;
			break;
		case OPT_BACKEND:
			ret = backend(prog, optarg, &o->backend);
			break;
		case OPT_FILE_TIER:
			o->file_tier = optarg;
			break;
		case OPT_DEMOTE:
			ret = number(prog, "demote-age", optarg, 0, RWP_AGE_MAX, &v);
			o->demote_age = v;
			demote_set = true;
			break;
		case OPT_ZRAM:
			ret = number(prog, "zram-mb", optarg, 1, 1 << 20, &v);
			o->zram_bytes = (uint64_t)v << 20;
			break;
		case OPT_JSON:
			o->json = optarg;
			break;
		case OPT_QUIET:
			o->quiet = true;
			break;
		case OPT_PROGRESS:
			progress = true;
			break;
		case OPT_CPU:
			ret = number(prog, "cpu", optarg, -1, CPU_SETSIZE - 1, &v);
			o->cpu = v;
			if (!ret)
				ret = cpu_allowed(prog, o->cpu);
			break;
		case OPT_THREADS:
			if (!threads_opt) {
				fprintf(stderr, "%s: no --threads: one vCPU\n", prog);
				ret = -EINVAL;
				break;
			}
			ret = number(prog, "threads", optarg, 1, 64, &v);
			o->threads = v;
			break;
		case OPT_HELP:
			usage(stdout, prog, threads_opt);
			return 1;
		default:
			usage(stderr, prog, threads_opt);
			return -EINVAL;
		}
	}
	if (!ret && optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		ret = -EINVAL;
	}
	o->progress = progress || (!o->quiet && isatty(STDERR_FILENO));
	if (!ret && demote_set && !o->file_tier)
		fprintf(stderr, "%s: --demote-age has no effect without --file-tier\n", prog);
	return ret;
}
