/* SPDX-License-Identifier: MIT */
/*
 * The rwpd wire protocol, version 1 (specified in man/man7/rwp-protocol.7).
 *
 * SOCK_SEQPACKET: one message per packet. Every message starts with struct rwpd_hdr; its
 * payload follows, `len` bytes, little endian, fields naturally aligned with explicit
 * padding. File descriptors travel as SCM_RIGHTS with the message that names them; a
 * message that needs fds and has none is an error, not a retry. Field names are final.
 */
#ifndef RWP_PROTO_WIRE_H
#define RWP_PROTO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define RWPD_MAGIC 0x44505752u /* "RWPD" */
#define RWPD_VERSION 1
#define RWPD_MAX_MSG 65536	/* a packet never exceeds this */
#define RWPD_MAX_FDS 64		/* fds per message */
#define RWPD_MAX_REGIONS 32
#define RWPD_NAME_LEN 32

struct rwpd_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len; /* payload bytes after the header */
	uint32_t seq; /* chosen by the sender of a request, echoed by its reply */
};

/* The header of a message of this version: what every sender writes first. */
static inline struct rwpd_hdr rwpd_hdr_make(unsigned int type, uint32_t seq, size_t len)
{
	return (struct rwpd_hdr){ .magic = RWPD_MAGIC, .version = RWPD_VERSION,
				  .type = (uint16_t)type, .len = (uint32_t)len, .seq = seq };
}

enum rwpd_type {
	RWPD_HELLO = 1,	     /* any client first: struct rwpd_hello */
	RWPD_ATTACH = 2,     /* VMM: hand over guest memory, struct rwpd_attach + fds */
	RWPD_RESUME = 3,     /* VMM: the same again after rwpd restarted, with guest_id */
	RWPD_DETACH = 4,     /* VMM or rwpctl: struct rwpd_guest_ref */
	RWPD_STATUS = 5,     /* rwpctl: struct rwpd_status_req; reply text is JSON */
	RWPD_SET_POLICY = 6, /* rwpctl: struct rwpd_policy */
	RWPD_EVICT = 7,	     /* rwpctl: struct rwpd_evict_req */
	RWPD_METRICS = 8,    /* rwpctl: no payload; reply text is Prometheus exposition */
	RWPD_ZAP = 9,	     /* daemon to VMM, on the agent socket: struct rwpd_zap */
	RWPD_REPLY = 0x100,  /* daemon: struct rwpd_reply, then text */
};

/* Who is talking. */
enum rwpd_role { RWPD_ROLE_VMM = 1, RWPD_ROLE_CTL = 2 };

struct rwpd_hello {
	uint32_t role;	    /* enum rwpd_role */
	uint32_t flags;	    /* none defined: must be 0 */
	char name[RWPD_NAME_LEN]; /* NUL-padded, for logs */
};

/* Flags of struct rwpd_attach */
#define RWPD_ATTACH_EVICTABLE (1u << 0) /* evict, not only track */

struct rwpd_region {
	uint64_t addr;	 /* start in the VMM's address space */
	uint64_t len;	 /* bytes */
	uint64_t offset; /* of addr in its memory fd */
	uint64_t gpa;	 /* guest physical address, for reports */
	uint32_t fd;	 /* index of its memory fd among the message's fds (>= 1); 0: anon */
	uint32_t mem;	 /* enum rwp_mem */
};

/*
 * fds: [0] the userfaultfd (UFFDIO_API done by the VMM with uffd_features), then the
 * memory fds the regions name, then, if keep_fd is set, the fds the VMM keeps for the
 * daemon across its restarts (see rwpd(8), LIVENESS).
 */
struct rwpd_attach {
	uint64_t uffd_features;
	uint64_t guest_id;	  /* 0 for ATTACH; the id ATTACH returned, for RESUME */
	char name[RWPD_NAME_LEN]; /* NUL-padded */
	uint32_t flags;		  /* RWPD_ATTACH_* */
	uint32_t nr_regions;	  /* <= RWPD_MAX_REGIONS */
	uint32_t keep_fd;	  /* index of the first kept fd, 0: none */
	uint32_t nr_keep;	  /* how many kept fds follow it */
	struct rwpd_region regions[]; /* nr_regions */
};

struct rwpd_guest_ref {
	uint64_t guest_id;
};

enum rwpd_format { RWPD_FMT_TEXT = 0, RWPD_FMT_JSON = 1 };

struct rwpd_status_req {
	uint64_t guest_id; /* 0: all guests */
	uint32_t format;   /* enum rwpd_format */
	uint32_t pad;
};

/* A field left 0 keeps its value. */
struct rwpd_policy {
	uint64_t guest_id;	  /* 0: the default for guests attached later, and all now */
	uint32_t interval_ms;
	uint32_t min_idle;
	uint64_t target_resident; /* bytes */
	uint64_t max_evict;	  /* pages per interval */
	uint32_t refault_ppm;	  /* refault budget, per million of the WSS per minute */
	uint32_t flags;		  /* bit 0: evict regions whose reads are unseen */
};

/* Flags of struct rwpd_policy */
#define RWPD_POLICY_WRITE_TRACKED (1u << 0) /* RWP_POLICY_WRITE_TRACKED */
/* target_resident, max_evict, refault_ppm are set even when 0 (0 means "none") */
#define RWPD_POLICY_SET_TARGET (1u << 1)
#define RWPD_POLICY_SET_MAX_EVICT (1u << 2)
#define RWPD_POLICY_SET_REFAULT (1u << 3)
#define RWPD_POLICY_FLAGS 0xfu

struct rwpd_evict_req {
	uint64_t guest_id;
	uint64_t target_resident; /* bytes; 0: one pass of the guest's policy now */
	uint64_t max_pages;	  /* 0: no limit */
};

/*
 * Drop the PTEs of [addr, addr + len) in the VMM, as madvise(MADV_DONTNEED) there would:
 * stock kernels refuse that to another process. Sent on the agent socket the VMM handed
 * over as its third kept fd; the VMM replies with a REPLY carrying madvise's result.
 */
struct rwpd_zap {
	uint64_t addr;
	uint64_t len;
};

struct rwpd_reply {
	int32_t status;	   /* 0 or -errno */
	uint32_t pad;
	uint64_t guest_id; /* ATTACH/RESUME: the guest's id */
	/* then text: an error message, or the STATUS / METRICS output; not NUL-terminated */
};

_Static_assert(sizeof(struct rwpd_hdr) == 16, "wire");
_Static_assert(sizeof(struct rwpd_hello) == 40, "wire");
_Static_assert(sizeof(struct rwpd_region) == 40, "wire");
_Static_assert(sizeof(struct rwpd_attach) == 64, "wire");
_Static_assert(sizeof(struct rwpd_status_req) == 16, "wire");
_Static_assert(sizeof(struct rwpd_policy) == 40, "wire");
_Static_assert(sizeof(struct rwpd_evict_req) == 24, "wire");
_Static_assert(sizeof(struct rwpd_reply) == 16, "wire");
_Static_assert(sizeof(struct rwpd_zap) == 16, "wire");

#endif
