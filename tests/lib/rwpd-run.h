/* SPDX-License-Identifier: MIT */
/* Start and stop an rwpd of our own, in a temporary directory, for daemon tests. */
#ifndef RWP_TEST_RWPD_RUN_H
#define RWP_TEST_RWPD_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct rwpd_run {
	char dir[64];	   /* the temporary directory */
	char socket[128];
	char conf[128];
	pid_t pid;
};

/*
 * Write extra_conf (configuration lines) plus the socket, state and ws directories into
 * a fresh directory and start build_dir/daemon/rwpd there, waiting for its socket.
 */
int rwpd_run_start(struct rwpd_run *r, const char *rwpd_path, const char *extra_conf);
/* Start it again over the same directory (after a kill). */
int rwpd_run_restart(struct rwpd_run *r, const char *rwpd_path);
/* SIGTERM (or SIGKILL) and reap. */
int rwpd_run_stop(struct rwpd_run *r, int sig);
/* Remove the directory. */
void rwpd_run_clean(struct rwpd_run *r);
/* The rwpd next to this test binary (tests/X -> daemon/rwpd in the build tree). */
const char *rwpd_path_near(const char *argv0);

/* STATUS over the protocol: the JSON text (caller frees), or NULL. */
char *rwpd_run_status(struct rwpd_run *r);
/* The same for one guest. */
char *rwpd_run_guest_status(struct rwpd_run *r, uint64_t guest_id);

/* The sequence number of a request sent with rwpd_run_call(). */
#define RWPD_RUN_SEQ 2

/*
 * Send one control request (a packet of n bytes built by an rwpd_encode_*() with
 * RWPD_RUN_SEQ) as rwpctl would, on a fresh connection. Returns the reply's status (0 or
 * -errno) or -errno of the exchange; *text, if text, gets the reply's text (caller frees).
 */
int rwpd_run_call(struct rwpd_run *r, const void *pkt, int n, char **text);

#endif
