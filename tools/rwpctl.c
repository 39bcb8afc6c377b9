// SPDX-License-Identifier: MIT
/*
 * rwpctl: query and steer rwpd (rwpctl(1)). main() takes the global options, finds the
 * verb in the table below and runs it; each verb lives in its own cmd-<verb>.c.
 */
#include "rwpctl.h"

#include "../lib/proto/wire.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct rwpctl_cmd *const cmds[] = {
	&rwpctl_cmd_status,
	&rwpctl_cmd_stats,
	&rwpctl_cmd_top,
	&rwpctl_cmd_metrics,
	&rwpctl_cmd_policy,
	&rwpctl_cmd_evict,
	&rwpctl_cmd_detach,
	&rwpctl_cmd_help,
};

#define NR_CMDS (sizeof(cmds) / sizeof(cmds[0]))

const struct rwpctl_cmd *const *rwpctl_cmds(size_t *n)
{
	*n = NR_CMDS;
	return cmds;
}

const struct rwpctl_cmd *rwpctl_cmd_find(const char *name)
{
	for (size_t i = 0; i < NR_CMDS; i++)
		if (!strcmp(cmds[i]->name, name))
			return cmds[i];
	return NULL;
}

static const char common_help[] =
	"      --socket PATH   rwpd's socket (default $RWPD_SOCKET, else " RWPCTL_SOCKET ")\n"
	"      --timeout SEC   wait this long for each reply (0: for ever)\n";

void rwpctl_print_help(const struct rwpctl_cmd *cmd, bool full)
{
	printf("usage: rwpctl %s %s\n\n%s\n", cmd->name, cmd->args, cmd->summary);
	if (full && cmd->help[0])
		printf("\n%s", cmd->help);
	if (full)
		printf("\nand, as every verb:\n%s", common_help);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: rwpctl [--socket PATH] [--timeout SEC] VERB [ARGS]\n"
		   "       rwpctl --version\n\nverbs:\n");
	for (size_t i = 0; i < NR_CMDS; i++)
		fprintf(f, "  %-8s %s\n", cmds[i]->name, cmds[i]->summary);
	fprintf(f, "\nGUEST is a guest's id or its name. rwpctl help VERB for a verb's "
		   "options.\nExit status: 0 ok, 1 rwpd reported an error, 2 usage, "
		   "3 rwpd cannot be reached.\n");
}

__attribute__((noreturn, format(printf, 2, 3))) static void die(int code, const char *fmt,
							       ...)
{
	va_list ap;

	fputs("rwpctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static int run_help(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv)
{
	const struct rwpctl_cmd *c;

	(void)ctl;
	if (argc > 2)
		return ctl_usage(cmd, "one verb at a time");
	if (argc < 2) {
		usage(stdout);
		return RWPCTL_OK;
	}
	c = rwpctl_cmd_find(argv[1]);
	if (!c)
		return ctl_usage(cmd, "no verb '%s'", argv[1]);
	rwpctl_print_help(c, true);
	return RWPCTL_OK;
}

const struct rwpctl_cmd rwpctl_cmd_help = {
	.name = "help",
	.run = run_help,
	.args = "[VERB]",
	.summary = "list the verbs, or explain one",
	.help = "",
};

/*
 * A global option at argv[*i] (its value may be the next argument): NULL, or what is
 * wrong with it for main() to say. The verbs take them too (session.c).
 */
static const char *global_opt(struct rwpctl *ctl, int *i, int argc, char **argv)
{
	const char *a = argv[*i], *v;
	size_t n = strcspn(a, "=");
	bool socket = n == 8 && !strncmp(a, "--socket", n);

	if (!socket && !(n == 9 && !strncmp(a, "--timeout", n)))
		return "unknown option (rwpctl help)";
	v = a[n] ? a + n + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
	if (!v)
		return "needs a value";
	if (socket)
		ctl->socket = v;
	else if (parse_timeout(v, &ctl->timeout_ms))
		return "not a number of seconds";
	return NULL;
}

int main(int argc, char **argv)
{
	struct rwpctl ctl = { .timeout_ms = -1 };
	const struct rwpctl_cmd *cmd;
	const char *env = getenv("RWPD_SOCKET"), *opt, *why;
	int i, ret;

	ctl.socket = env && *env ? env : RWPCTL_SOCKET;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("rwpctl %s (rwpd protocol version %d)\n", RWPCTL_VERSION,
			       RWPD_VERSION);
			return RWPCTL_OK;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return RWPCTL_OK;
		}
		opt = argv[i];
		why = global_opt(&ctl, &i, argc, argv);
		if (why)
			die(RWPCTL_EUSAGE, "%.*s: %s", (int)strcspn(opt, "="), opt, why);
	}
	if (i == argc) {
		usage(stderr);
		return RWPCTL_EUSAGE;
	}
	cmd = rwpctl_cmd_find(argv[i]);
	if (!cmd)
		die(RWPCTL_EUSAGE, "no verb '%s' (rwpctl help lists them)", argv[i]);
	/* the verb parses its own argv, verb first, with getopt_long from the start */
	optind = 0;
	opterr = 0;
	ret = cmd->run(&ctl, cmd, argc - i, argv + i);
	ctl_close(&ctl);
	if (fflush(stdout) == EOF && ret == RWPCTL_OK)
		die(RWPCTL_EDAEMON, "writing the output: %s", strerror(errno));
	return ret;
}
