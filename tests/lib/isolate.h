/* SPDX-License-Identifier: MIT */
/*
 * Run one TAP case in a child process with a time limit, so that a hang or a crash fails
 * that case alone and the rest still run. The case returns TAP_PASS, TAP_FAIL or TAP_SKIP
 * (with the reason in why); its diagnostics go to stdout as usual. The parent prints the
 * result line, or "not ok" when the child hung, died or sent nothing.
 */
#ifndef RWP_TEST_ISOLATE_H
#define RWP_TEST_ISOLATE_H

#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { TAP_PASS = 0, TAP_FAIL = 1, TAP_SKIP = 77 };

struct tap_result {
	int code;
	char why[240];
};

typedef int (*tap_case_fn)(void *arg, char *why, size_t why_len);

static inline void tap_isolated(const char *name, unsigned int timeout_s, tap_case_fn fn,
				void *arg)
{
	struct tap_result res = { .code = -1 };
	int p[2], status = 0;
	bool exited = false;
	pid_t pid;

	fflush(stdout);
	if (pipe(p) || (pid = fork()) < 0) {
		tap_ok(false, "%s: cannot fork: %s", name, strerror(errno));
		return;
	}
	if (pid == 0) {
		close(p[0]);
		signal(SIGALRM, SIG_DFL); /* a hang ends the child; the parent says so */
		alarm(timeout_s);
		res.code = fn(arg, res.why, sizeof(res.why));
		fflush(stdout);
		if (write(p[1], &res, sizeof(res)) != sizeof(res))
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	for (unsigned int ms = 0; ms < (timeout_s + 15) * 1000; ms += 5) {
		struct timespec ts = { 0, 5000000 };

		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = true;
			break;
		}
		nanosleep(&ts, NULL);
	}
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (read(p[0], &res, sizeof(res)) != sizeof(res))
		res.code = -1;
	close(p[0]);
	if (res.code == TAP_SKIP && exited && WIFEXITED(status) && !WEXITSTATUS(status)) {
		tap_skip(name, "%s", res.why);
	} else if (res.code >= 0 && exited && WIFEXITED(status) && !WEXITSTATUS(status)) {
		tap_ok(res.code == TAP_PASS, "%s", name);
	} else if (!exited || (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)) {
		tap_ok(false, "%s # hung: no result after %u s", name, timeout_s);
	} else if (WIFSIGNALED(status)) {
		tap_ok(false, "%s # died of signal %d (%s)", name, WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
	} else {
		tap_ok(false, "%s # the case process exited with %d and no result", name,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
}

#endif
