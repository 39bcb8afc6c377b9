/* SPDX-License-Identifier: MIT */
/*
 * rwpd: the daemon's own state. A thin front end over librwp: each guest is one librwp
 * context over the userfaultfd its VMM handed over; the daemon adds the socket protocol,
 * per-guest interval threads, the Firecracker handoff and the state directory that lets a
 * restarted rwpd (or the VMM itself) resume.
 */
#ifndef RWPD_RWPD_H
#define RWPD_RWPD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include <rwp/rwp.h>

#include "../lib/proto/transport.h"
#include "../lib/proto/wire.h"
#include "config.h"
#include "snapshot.h"

#define RWPD_VERSION_STRING "0.1.0"

#define RWPD_KEEP_PIPE_RD 0 /* the kept fds of ATTACH/RESUME, in order */
#define RWPD_KEEP_PIPE_WR 1
#define RWPD_KEEP_AGENT 2   /* a socket the VMM zaps its own PTEs through, when asked */
#define RWPD_KEEP_MAX 3

struct rwpd;
struct guest;

/* Everything the main loop waits on. */
enum source_kind {
	SRC_LISTEN,	  /* the protocol socket */
	SRC_FC_LISTEN,	  /* a Firecracker handoff socket */
	SRC_CONN,	  /* a client connection (VMM or rwpctl) */
	SRC_FC_CONN,	  /* the connection Firecracker keeps open while it runs */
	SRC_VMM_EXIT,	  /* a VMM's pidfd */
	SRC_SIGNAL,
};

struct source {
	enum source_kind kind;
	int fd;
	unsigned int idx;	/* SRC_FC_LISTEN: the configuration entry */
	struct conn *conn;	/* SRC_CONN */
	struct guest *g;	/* SRC_FC_CONN, SRC_VMM_EXIT */
};

struct conn {
	struct source src;
	struct rwpd_peer peer;
	uint32_t role;		/* enum rwpd_role, 0 before HELLO */
};

struct guest {
	struct rwpd *d;
	struct guest *next;
	uint64_t id;
	char name[RWPD_NAME_LEN];
	enum rwpd_guest_kind kind;
	_Atomic int phase; /* enum rwpd_guest_phase */
	pid_t pid;
	int pidfd;	   /* readable when the VMM exits */
	struct source exit_src;
	int conn;	   /* Firecracker's connection, kept open while it runs; else -1 */
	struct source conn_src;
	char dir[RWPD_CONF_PATH_MAX + 32]; /* its state directory */
	double started;

	/* what the VMM handed over, kept open for the guest's lifetime */
	int uffd;
	int memfds[RWPD_MAX_REGIONS];
	unsigned int nr_memfds;
	int keep[RWPD_KEEP_MAX];
	unsigned int nr_keep;
	pthread_mutex_t agent_lock; /* one zap exchange at a time on keep[RWPD_KEEP_AGENT] */
	uint32_t agent_seq;	    /* the last zap request's, under agent_lock */

	struct rwp_ctx *ctx;
	struct rwp_region *regions[RWPD_MAX_REGIONS];
	struct rwpd_region_snap layout[RWPD_MAX_REGIONS];
	unsigned int nr_regions;

	/* the interval thread */
	pthread_t thread;
	bool thread_started;
	int wake_efd; /* policy changed, or stop */
	atomic_bool stop;
	pthread_mutex_t policy_lock;
	struct rwpd_policy_conf policy;
	atomic_uint_fast64_t evict_passes, evict_ns;
	bool evictable;
	bool write_tracked; /* also evict regions whose reads are unseen (policy flag) */

	/* Firecracker: the working set recorded on a first restore, replayed on the next */
	char ws_path[RWPD_CONF_PATH_MAX + 64];
	bool recording;
};

struct rwpd {
	struct rwpd_config cfg;
	const char *config_path;
	int epfd;
	int listen_fd;
	int signal_fd;
	struct source listen_src, signal_src;
	struct source fc_src[RWPD_CONF_MAX_FC];
	double started;
	bool stopping;
	pthread_mutex_t lock; /* the guest list */
	struct guest *guests;
	uint64_t next_id;
	enum rwp_log_level log_level;
};

/* main.c */
void rwpd_log(struct rwpd *d, enum rwp_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
double rwpd_now(void);

/* guest.c */
struct guest_spec {
	enum rwpd_guest_kind kind;
	uint64_t resume_id;	/* RESUME: the guest to take up again; 0: a new one */
	const char *name;
	pid_t pid;
	int uffd;
	uint64_t uffd_features;
	unsigned int flags;	/* RWPD_ATTACH_* */
	const struct rwpd_region *regions;
	unsigned int nr_regions;
	const int *fds;		/* the message's fds: [0] uffd, then memory fds, then kept */
	unsigned int nr_fds;
	unsigned int keep_fd, nr_keep;
	/* Firecracker: the snapshot memory file every region restores from */
	int image_fd;
	const uint64_t *image_offsets;
};

/* Take the spec's fds (closed on failure too) and start the guest. */
int guest_create(struct rwpd *d, const struct guest_spec *spec, struct guest **out,
		 char *err, size_t errlen);
/* Stop it. drain: bring every page home and forget its state; else keep it for a RESUME. */
void guest_destroy(struct guest *g, bool drain);
/* Its VMM is gone, memory and all: forget everything without touching that memory. */
void guest_forget(struct guest *g);
struct guest *guest_find(struct rwpd *d, const char *id_or_name, uint64_t id);
void guest_set_policy(struct guest *g, const struct rwpd_policy *p);
int guest_evict_now(struct guest *g, const struct rwpd_evict_req *req, char *msg, size_t n);
void guest_snapshot(struct guest *g, struct rwpd_guest_snap *s);

/* agent.c: zaps through the VMM, for stock kernels that refuse to zap another process */
int guest_agent_zap(void *arg, uintptr_t addr, size_t len);
int guest_agent_zapv(void *arg, const struct iovec *v, unsigned int n);

/* fc.c: the Firecracker handoff */
int fc_listen(struct rwpd *d);
void fc_accept(struct rwpd *d, struct source *src);
void fc_guest_done(struct guest *g);

/* loop.c */
int rwpd_watch(struct rwpd *d, struct source *s);
void rwpd_conn_close(struct rwpd *d, struct conn *c);
void rwpd_unwatch(struct rwpd *d, struct source *s);
int rwpd_run(struct rwpd *d);

/* requests.c: one handler per message type */
void rwpd_handle(struct rwpd *d, struct conn *c, const void *pkt, size_t len, int *fds,
		 unsigned int nr_fds);

#endif
