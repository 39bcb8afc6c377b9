/* SPDX-License-Identifier: MIT */
/*
 * rwpd protocol codec: turn one received packet into a validated message, and build
 * packets. Everything here is pure: no I/O, no allocation, no errno. The decoder is the
 * daemon's trust boundary: a message it accepts is consistent with itself and with the
 * fds that came with it, so later code never re-checks indices or lengths.
 */
#ifndef RWP_PROTO_CODEC_H
#define RWP_PROTO_CODEC_H

#include "wire.h"

#include <stdbool.h>

/* Value limits of version 1 (rwp-protocol(7)); a policy field of 0 means "keep". */
#define RWPD_INTERVAL_MS_MAX 3600000u /* one hour */
#define RWPD_MIN_IDLE_MAX 127u	      /* RWP_AGE_MAX */
#define RWPD_REFAULT_PPM_MAX 1000000u
#define RWPD_STATUS_MAX 4095	      /* a reply's status is 0 or -1..-4095 */
#define RWPD_PAGE_MIN 4096u	      /* region addr, len and offset are multiples of this */

/* The largest payload a version 1 message may carry. */
#define RWPD_ATTACH_MAX (sizeof(struct rwpd_attach) + \
			 RWPD_MAX_REGIONS * sizeof(struct rwpd_region))

/*
 * A decoded message. The payload is copied out of the packet, so the packet buffer need
 * not be aligned; only a reply's text still points into it. Which member of the union is
 * valid follows hdr.type: hello (HELLO), ref (DETACH), status (STATUS), policy
 * (SET_POLICY), evict (EVICT), reply (REPLY); ATTACH and RESUME use rwpd_msg_attach().
 * METRICS has no payload.
 */
struct rwpd_msg {
	struct rwpd_hdr hdr;
	union {
		struct rwpd_hello hello;
		struct rwpd_guest_ref ref;
		struct rwpd_status_req status;
		struct rwpd_policy policy;
		struct rwpd_evict_req evict;
		struct rwpd_reply reply;
		struct rwpd_zap zap;
		/* ATTACH, RESUME: struct rwpd_attach and its regions (a struct with a
		 * flexible array cannot be a member, hence raw storage) */
		uint64_t attach_raw[RWPD_ATTACH_MAX / sizeof(uint64_t)];
	};
	unsigned int nr_fds; /* fds that came with the packet, all named by the message */
	const char *text;    /* REPLY: into the packet, not NUL-terminated, no NUL inside */
	size_t text_len;
};

_Static_assert(RWPD_ATTACH_MAX % sizeof(uint64_t) == 0, "attach storage");

static inline const struct rwpd_attach *rwpd_msg_attach(const struct rwpd_msg *m)
{
	return (const struct rwpd_attach *)m->attach_raw;
}

/*
 * Decode and validate one packet of `len` bytes that arrived with `nr_fds` fds. On error
 * a one-line reason goes to err (errlen bytes, may be 0) and the result is:
 *   -E2BIG    packet, fd count or region count over the protocol's limits
 *   -EPROTO   wrong magic, version, or an unknown type
 *   -EBADMSG  the packet is inconsistent: header len vs packet size, payload size vs
 *             type, nr_regions vs len, fds vs what the message names
 *   -EINVAL   a field's value: undefined flags, non-zero reserved, bad names, ranges
 * Nothing is read outside buf[0, len).
 */
int rwpd_decode(const void *buf, size_t len, unsigned int nr_fds, struct rwpd_msg *msg,
		char *err, size_t errlen);

/* A name for a message type ("ATTACH"), or "?" for an unknown one. */
const char *rwpd_type_name(unsigned int type);

/*
 * Encoders write a whole packet (header and payload) to buf and return its length, or
 * -E2BIG if it does not fit cap (or the protocol's limits), -EINVAL for a name that does
 * not fit RWPD_NAME_LEN with its NUL or an attach type other than ATTACH/RESUME. They do
 * not check values the decoder checks, so tests can build bad messages with them.
 */
int rwpd_encode(void *buf, size_t cap, unsigned int type, uint32_t seq, const void *payload,
		size_t len);
int rwpd_encode_hello(void *buf, size_t cap, uint32_t seq, uint32_t role, const char *name);
/* ATTACH or RESUME (type) from a's fixed fields (a->nr_regions of them in regions). */
int rwpd_encode_attach(void *buf, size_t cap, unsigned int type, uint32_t seq,
		       const struct rwpd_attach *a, const struct rwpd_region *regions);
int rwpd_encode_detach(void *buf, size_t cap, uint32_t seq, uint64_t guest_id);
int rwpd_encode_status(void *buf, size_t cap, uint32_t seq, uint64_t guest_id,
		       uint32_t format);
int rwpd_encode_policy(void *buf, size_t cap, uint32_t seq, const struct rwpd_policy *p);
int rwpd_encode_evict(void *buf, size_t cap, uint32_t seq, const struct rwpd_evict_req *e);
int rwpd_encode_metrics(void *buf, size_t cap, uint32_t seq);
int rwpd_encode_zap(void *buf, size_t cap, uint32_t seq, uint64_t addr, uint64_t len);
int rwpd_encode_reply(void *buf, size_t cap, uint32_t seq, int32_t status, uint64_t guest_id,
		      const char *text, size_t text_len);

/* Copy name into a NUL-padded wire name; -EINVAL if it needs more than RWPD_NAME_LEN. */
int rwpd_name_set(char dst[RWPD_NAME_LEN], const char *name);

/*
 * The fds an ATTACH/RESUME must carry: one past the highest index it names (the uffd, the
 * regions' memory fds, the kept range). A VMM sends exactly this many.
 */
unsigned int rwpd_attach_nr_fds(const struct rwpd_attach *a, const struct rwpd_region *regions);

#endif
