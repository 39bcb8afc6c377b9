/* SPDX-License-Identifier: MIT */
/*
 * rwpctl: the command table (one cmd-<verb>.c per verb, listed in rwpctl.c), the
 * session every verb shares, and the units it reads and prints. Verbs return an exit
 * status and print their own errors; only main() ends the process.
 */
#ifndef RWPCTL_H
#define RWPCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client.h"

struct json_object;

/* Exit statuses, rwpctl(1) EXIT STATUS */
enum {
	RWPCTL_OK = 0,
	RWPCTL_EDAEMON = 1,	/* rwpd answered with an error (or nonsense) */
	RWPCTL_EUSAGE = 2,
	RWPCTL_EREACH = 3,	/* rwpd could not be reached or spoken to */
};

#define RWPCTL_SOCKET "/run/rwpd/rwpd.sock"
#define RWPCTL_TIMEOUT_MS 30000 /* for quick requests; evict and detach wait for ever */

struct rwpctl {
	const char *socket;	/* --socket, else $RWPD_SOCKET, else RWPCTL_SOCKET */
	int timeout_ms;		/* --timeout; -1: the verb's default */
	bool connected;
	struct rwpctl_client client;
};

struct rwpctl_cmd {
	const char *name;
	int (*run)(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv);
	const char *args;	/* "[GUEST] [--json]" */
	const char *summary;	/* one line, for `rwpctl help` */
	const char *help;	/* options and details, for `rwpctl help VERB` */
};

extern const struct rwpctl_cmd rwpctl_cmd_status, rwpctl_cmd_stats, rwpctl_cmd_policy,
	rwpctl_cmd_evict, rwpctl_cmd_detach, rwpctl_cmd_metrics, rwpctl_cmd_top,
	rwpctl_cmd_help;

/* rwpctl.c: the table */
const struct rwpctl_cmd *rwpctl_cmd_find(const char *name);
const struct rwpctl_cmd *const *rwpctl_cmds(size_t *n);
void rwpctl_print_help(const struct rwpctl_cmd *cmd, bool full);

/* ------------------------------------------------------------- session.c -- */

/* Options every verb takes, after its own in a getopt_long table. */
#define RWPCTL_COMMON_OPTS                                                                 \
	{ "socket", required_argument, NULL, 'S' },                                        \
	{ "timeout", required_argument, NULL, 'T' },                                       \
	{ "help", no_argument, NULL, 'h' }

#define RWPCTL_NEXT (-1)

/*
 * The next of the verb's own options (getopt_long over opts, which end with
 * RWPCTL_COMMON_OPTS; val must not be 'S', 'T', 'h', ':' or '?'), common ones handled
 * here. Returns 0 when there are no more: *status is then RWPCTL_NEXT to go on, or
 * the exit status (--help printed, or a usage error said).
 */
struct option;
int ctl_next_opt(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv,
		 const struct option *opts, int *status);

/* Print "rwpctl VERB: <message>" and the verb's usage line; RWPCTL_EUSAGE. */
__attribute__((format(printf, 2, 3))) int ctl_usage(const struct rwpctl_cmd *cmd,
						    const char *fmt, ...);

/* Print "rwpctl: <message>" to stderr (or where ctl_err_to() said); returns code. */
__attribute__((format(printf, 2, 3))) int ctl_err(int code, const char *fmt, ...);
void ctl_err_to(FILE *f); /* NULL: stderr again */

/*
 * One request, connecting first if need be. An exit status: RWPCTL_OK with the reply
 * in r (free it), or the error printed and nothing to free.
 */
int ctl_call(struct rwpctl *ctl, unsigned int type, const void *payload, size_t len,
	     struct rwpctl_reply *r, int default_timeout_ms);

/* STATUS (JSON) of guest id, 0 for all, parsed into *root (json_object_put it). */
int ctl_status(struct rwpctl *ctl, uint64_t id, struct json_object **root);

/* GUEST as typed (an id, or a name looked up with STATUS) to a guest id. */
int ctl_guest(struct rwpctl *ctl, const char *arg, uint64_t *id);

void ctl_close(struct rwpctl *ctl);

/* ------------------------------------- cmd-status.c, for stats and top too -- */

/* "rwpd VERSION, pid N, up T, kernel K (native RWP), rss S, N guests", then eol */
void status_daemon_line(struct json_object *root, const char *eol);
/* A document pretty-printed to stdout. */
int print_json(struct json_object *root);

/* ----------------------------------------------- units.c: read and print -- */

/* "4096", "512K", "2G" (binary: K = 1024): 0 or -EINVAL / -ERANGE. */
int parse_size(const char *s, uint64_t *out);
/* A decimal integer in [min, max]: 0 or -EINVAL / -ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Seconds, fractions allowed, > 0 and at most a day. */
int parse_seconds(const char *s, double *out);
/* --timeout: such seconds, or 0 for ever, in ms. */
int parse_timeout(const char *s, int *ms);

#define FMT_LEN 24
const char *fmt_mib(char buf[FMT_LEN], double bytes);	/* "1024.0" */
const char *fmt_size(char buf[FMT_LEN], double bytes);	/* "1.5 GiB", "512 B" */
const char *fmt_ns(char buf[FMT_LEN], uint64_t ns);	/* "850 ns", "12.3 us", "1.20 ms" */
const char *fmt_dur(char buf[FMT_LEN], double s);	/* "45s", "12m03s", "3h02m", "2d03h" */

/* ------------------------------------------------------------------ json.c -- */

/* Members of a STATUS document by dotted path ("fetch.latency_ns.p99"); 0 or "" if absent. */
struct json_object *jget(struct json_object *o, const char *path);
uint64_t ju(struct json_object *o, const char *path);
int64_t ji(struct json_object *o, const char *path);
double jd(struct json_object *o, const char *path);
const char *js(struct json_object *o, const char *path);
bool jb(struct json_object *o, const char *path);

#endif
