// SPDX-License-Identifier: MIT
/*
 * rwpctl top: guests refreshed in place, with rates from successive STATUS samples. On
 * a terminal it draws on the alternate screen and puts the terminal back however it
 * ends (q, SIGINT, SIGTERM, SIGHUP, an error; and around a SIGTSTP); elsewhere it
 * prints one frame per interval.
 */
#include "rwpctl.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

struct sample {
	uint64_t id, faults, fetched;
};

struct top {
	double interval;
	uint64_t frames;	/* 0: until stopped */
	bool tty;		/* stdout: draw in place */
	bool keys;		/* stdin a terminal too: read q without Enter */
	struct termios saved;
	FILE *err;		/* stderr while on the alternate screen */
	char *errbuf;
	size_t errlen;
	struct sample *prev;
	size_t nprev;
	double prev_t;
};

static volatile sig_atomic_t stop_sig, tstp_sig;

static void on_stop(int sig)
{
	stop_sig = sig;
}

static void on_tstp(int sig)
{
	tstp_sig = sig;
}

static void handlers(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	/* no SA_RESTART: poll() must return to notice */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_tstp;
	sigaction(SIGTSTP, &sa, NULL);
}

static void enter(struct top *t)
{
	struct termios raw;

	if (!t->tty)
		return;
	/* what goes to stderr on the alternate screen would vanish with it: hold it */
	t->err = open_memstream(&t->errbuf, &t->errlen);
	ctl_err_to(t->err);
	if (t->keys && !tcgetattr(STDIN_FILENO, &t->saved)) {
		raw = t->saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	} else {
		t->keys = false;
	}
	/* alternate screen, cursor hidden */
	fputs("\033[?1049h\033[?25l", stdout);
	fflush(stdout);
}

static void leave(struct top *t)
{
	if (!t->tty)
		return;
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (t->keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	ctl_err_to(NULL);
	if (t->err) {
		fclose(t->err);
		fwrite(t->errbuf, 1, t->errlen, stderr);
		free(t->errbuf);
		t->err = NULL;
		t->errbuf = NULL;
	}
}

/* Stopped by ^Z: give the terminal back while stopped, take it again after. */
static void suspend(struct top *t)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	tstp_sig = 0;
	leave(t);
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGTSTP, &dfl, NULL);
	raise(SIGTSTP);
	handlers();
	enter(t);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until the next frame is due: false if told to stop meanwhile. */
static bool wait_frame(struct top *t, double until)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	char c;

	for (;;) {
		double left = until - now();

		if (stop_sig)
			return false;
		if (tstp_sig) {
			suspend(t);
			return true; /* redraw at once */
		}
		if (left <= 0)
			return true;
		if (poll(&p, t->keys, (int)(left * 1000) + 1) > 0 &&
		    read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
			return false;
	}
}

static const struct sample *find(const struct top *t, uint64_t id)
{
	for (size_t i = 0; i < t->nprev; i++)
		if (t->prev[i].id == id)
			return &t->prev[i];
	return NULL;
}

static void rate(char buf[FMT_LEN], const struct sample *old, uint64_t cur, uint64_t was,
		 double dt)
{
	if (!old || dt <= 0 || cur < was)
		snprintf(buf, FMT_LEN, "-");
	else
		snprintf(buf, FMT_LEN, "%.1f", (double)(cur - was) / dt);
}

static int frame(struct top *t, struct json_object *root, double at)
{
	struct json_object *guests = jget(root, "guests");
	size_t n = json_object_array_length(guests);
	struct sample *cur = calloc(n ? n : 1, sizeof(*cur));
	const char *eol = t->tty ? "\033[K\n" : "\n";
	char b[6][FMT_LEN], clock[16];
	time_t wall = time(NULL);
	size_t shown = n;
	int w = 4;

	if (!cur)
		return ctl_err(RWPCTL_EDAEMON, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int l = (int)strlen(js(json_object_array_get_idx(guests, i), "name"));

		w = l > w ? l : w;
	}
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&wall));
	/* a frame taller than the terminal would scroll and tear: show what fits */
	if (t->tty) {
		struct winsize ws;

		if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row > 8 &&
		    n > (size_t)ws.ws_row - 7)
			shown = (size_t)ws.ws_row - 7;
		fputs("\033[H", stdout);
	}
	status_daemon_line(root, eol);
	printf("%s, every %gs%s%s%s", clock, t->interval, t->keys ? "; q quits" : "", eol, eol);
	printf("%4s  %-*s  %-9s  %9s  %9s  %9s  %9s  %9s  %10s%s", "ID", w, "NAME", "PHASE",
	       "WSS1", "RESIDENT", "EVICTED", "FAULTS/s", "FETCH/s", "P99", eol);
	for (size_t i = 0; i < n; i++) {
		struct json_object *g = json_object_array_get_idx(guests, i);
		uint64_t guest = ju(g, "memory.guest_bytes"), res = ju(g, "memory.resident_bytes");
		const struct sample *old = find(t, ju(g, "id"));

		cur[i] = (struct sample){ ju(g, "id"),
					  ju(g, "faults.missing") + ju(g, "faults.minor") +
						  ju(g, "faults.rwp"),
					  ju(g, "fetch.fetched") };
		rate(b[3], old, cur[i].faults, old ? old->faults : 0, at - t->prev_t);
		rate(b[4], old, cur[i].fetched, old ? old->fetched : 0, at - t->prev_t);
		if (ju(g, "fetch.latency_ns.count"))
			fmt_ns(b[5], ju(g, "fetch.latency_ns.p99"));
		else
			snprintf(b[5], FMT_LEN, "-");
		if (i >= shown)
			continue;
		printf("%4" PRIu64 "  %-*s  %-9s  %9s  %9s  %9s  %9s  %9s  %10s%s", cur[i].id, w,
		       js(g, "name"), js(g, "phase"), fmt_mib(b[0], (double)ju(g, "wss_bytes.1")),
		       fmt_mib(b[1], (double)res),
		       fmt_mib(b[2], guest > res ? (double)(guest - res) : 0), b[3], b[4], b[5],
		       eol);
	}
	if (!n)
		printf("no guests%s", eol);
	if (shown < n)
		printf("... and %zu more guests (rwpctl status lists them all)%s", n - shown, eol);
	printf("sizes in MiB; P99: fetch latency since the guest attached%s", eol);
	if (t->tty)
		fputs("\033[J", stdout);
	fflush(stdout);
	free(t->prev);
	t->prev = cur;
	t->nprev = n;
	t->prev_t = at;
	return RWPCTL_OK;
}

enum { O_INTERVAL = 256, O_ITERATIONS };

static const struct option opts[] = {
	{ "interval", required_argument, NULL, O_INTERVAL },
	{ "iterations", required_argument, NULL, O_ITERATIONS },
	RWPCTL_COMMON_OPTS,
	{ 0 },
};

static int run(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv)
{
	struct top t = { .interval = 2 };
	struct json_object *root;
	int opt, ret = RWPCTL_OK;
	double next;

	while ((opt = ctl_next_opt(ctl, cmd, argc, argv, opts, &ret))) {
		if (opt == O_INTERVAL && parse_seconds(optarg, &t.interval))
			return ctl_usage(cmd, "--interval: '%s' is not a number of seconds",
					 optarg);
		if (opt == O_ITERATIONS && parse_u64(optarg, 1, UINT64_MAX, &t.frames))
			return ctl_usage(cmd, "--iterations: '%s' is not a count", optarg);
	}
	if (ret != RWPCTL_NEXT)
		return ret;
	if (argc != optind)
		return ctl_usage(cmd, "no guest argument: top shows them all");
	t.tty = isatty(STDOUT_FILENO);
	/* in the background, touching the terminal's modes would stop us (SIGTTOU) */
	t.keys = t.tty && isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	stop_sig = tstp_sig = 0;
	handlers();
	enter(&t);
	next = now();
	for (uint64_t i = 0; !t.frames || i < t.frames; i++) {
		if (i && !wait_frame(&t, next))
			break;
		ret = ctl_status(ctl, 0, &root);
		if (ret)
			break;
		if (i && !t.tty)
			printf("\n");
		ret = frame(&t, root, now());
		json_object_put(root);
		if (ret)
			break;
		next += t.interval;
		/* fell behind (a slow daemon, a ^Z): keep the pace from here */
		if (next < now())
			next = now() + t.interval;
	}
	leave(&t);
	free(t.prev);
	return ret;
}

const struct rwpctl_cmd rwpctl_cmd_top = {
	.name = "top",
	.run = run,
	.args = "[--interval S] [--iterations N]",
	.summary = "watch every guest live: working set, resident, faults/s, fetches/s, p99",
	.help = "      --interval S    seconds between frames, fractions allowed (default 2)\n"
		"      --iterations N  stop after N frames (default: until q or Ctrl-C)\n"
		"  Rates need two frames: the first shows '-'.\n",
};
