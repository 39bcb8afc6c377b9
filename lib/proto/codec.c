// SPDX-License-Identifier: MIT
/*
 * Decoding and encoding of rwpd packets (wire.h, rwp-protocol(7)).
 *
 * The decoder copies every field out with memcpy before looking at it: the packet buffer
 * may be unaligned, and a value is checked once, in the copy that is then used. Lengths
 * are compared against the packet size before anything past the header is read.
 */
#include "codec.h"
#include "errmsg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rwp/core.h>

/* The wire is little endian; so is every host rwp runs on (x86-64, arm64). */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "rwpd's codec assumes a little-endian host"
#endif

#define HDR sizeof(struct rwpd_hdr)

static const char *type_str(unsigned int type)
{
	switch (type) {
	case RWPD_HELLO: return "HELLO";
	case RWPD_ATTACH: return "ATTACH";
	case RWPD_RESUME: return "RESUME";
	case RWPD_DETACH: return "DETACH";
	case RWPD_STATUS: return "STATUS";
	case RWPD_SET_POLICY: return "SET_POLICY";
	case RWPD_EVICT: return "EVICT";
	case RWPD_METRICS: return "METRICS";
	case RWPD_ZAP: return "ZAP";
	case RWPD_REPLY: return "REPLY";
	}
	return NULL;
}

const char *rwpd_type_name(unsigned int type)
{
	const char *s = type_str(type);

	return s ? s : "?";
}

/* A wire name: a NUL within the field, only NULs after it, printable ASCII before it. */
static int check_name(const char *name, const char *what, char *err, size_t errlen)
{
	const char *nul = memchr(name, '\0', RWPD_NAME_LEN);
	size_t i;

	if (!nul)
		return fail(err, errlen, EINVAL, "%s name has no NUL in its %d bytes", what,
			    RWPD_NAME_LEN);
	for (i = nul - name; i < RWPD_NAME_LEN; i++)
		if (name[i])
			return fail(err, errlen, EINVAL,
				    "%s name is not NUL-padded (byte %zu after its end)", what, i);
	for (i = 0; name + i < nul; i++)
		if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e)
			return fail(err, errlen, EINVAL,
				    "%s name has a non-printable byte 0x%02x at %zu", what,
				    (unsigned char)name[i], i);
	return 0;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* ends do not overflow: checked before */
	return a < b + blen && b < a + alen;
}

static const char *mem_name(uint32_t mem)
{
	return mem == RWP_MEM_SHMEM ? "shmem" : mem == RWP_MEM_HUGETLB ? "hugetlb" : "anon";
}

static int check_region(const struct rwpd_region *r, unsigned int i, unsigned int nr_fds,
			char *err, size_t errlen)
{
	if (r->mem < RWP_MEM_ANON || r->mem > RWP_MEM_HUGETLB)
		return fail(err, errlen, EINVAL, "region %u: unknown mem %u", i, r->mem);
	if (!r->len)
		return fail(err, errlen, EINVAL, "region %u: len 0", i);
	if ((r->addr | r->len | r->offset | r->gpa) % RWPD_PAGE_MIN)
		return fail(err, errlen, EINVAL,
			    "region %u: addr, len, offset and gpa must be multiples of %u", i,
			    RWPD_PAGE_MIN);
	if (r->addr + r->len < r->addr)
		return fail(err, errlen, EINVAL, "region %u: addr + len overflows", i);
	if (r->gpa + r->len < r->gpa)
		return fail(err, errlen, EINVAL, "region %u: gpa + len overflows", i);
	if (r->mem == RWP_MEM_ANON) {
		if (r->fd)
			return fail(err, errlen, EINVAL,
				    "region %u: anon memory names memory fd %u", i, r->fd);
		if (r->offset)
			return fail(err, errlen, EINVAL, "region %u: anon memory has offset %#llx",
				    i, (unsigned long long)r->offset);
		return 0;
	}
	if (!r->fd)
		return fail(err, errlen, EINVAL, "region %u: %s needs a memory fd", i,
			    mem_name(r->mem));
	if (r->fd >= nr_fds)
		return fail(err, errlen, EBADMSG, "region %u: fd index %u, but %u fds came", i,
			    r->fd, nr_fds);
	/* off_t is signed */
	if (r->offset > (uint64_t)INT64_MAX - r->len)
		return fail(err, errlen, EINVAL, "region %u: offset + len overflows", i);
	return 0;
}

/* Regions must not overlap in the VMM, in the guest, or in a memory file. */
static int check_pairs(const struct rwpd_region *r, unsigned int n, char *err, size_t errlen)
{
	unsigned int i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			if (overlap(r[i].addr, r[i].len, r[j].addr, r[j].len))
				return fail(err, errlen, EINVAL,
					    "regions %u and %u overlap in the VMM", i, j);
			if (overlap(r[i].gpa, r[i].len, r[j].gpa, r[j].len))
				return fail(err, errlen, EINVAL,
					    "regions %u and %u overlap in guest memory", i, j);
			if (!r[i].fd || r[i].fd != r[j].fd)
				continue;
			if (r[i].mem != r[j].mem)
				return fail(err, errlen, EINVAL,
					    "fd %u is %s for region %u but %s for region %u",
					    r[i].fd, mem_name(r[i].mem), i, mem_name(r[j].mem), j);
			if (overlap(r[i].offset, r[i].len, r[j].offset, r[j].len))
				return fail(err, errlen, EINVAL,
					    "regions %u and %u map the same bytes of fd %u", i, j,
					    r[i].fd);
		}
	return 0;
}

/*
 * The fds are laid out [0] uffd, [1, M] memory fds, [keep_fd, keep_fd + nr_keep) kept
 * fds, nothing else: every fd received is named exactly once as what it is, so none can
 * be mistaken for another or silently held.
 */
static int check_fd_layout(const struct rwpd_attach *a, const struct rwpd_region *r,
			   unsigned int nr_fds, char *err, size_t errlen)
{
	uint64_t named = 1; /* bit i: fd i is named (nr_fds <= RWPD_MAX_FDS = 64) */
	unsigned int i, max = 0;

	for (i = 0; i < a->nr_regions; i++) {
		named |= 1ULL << r[i].fd; /* r[i].fd < nr_fds: checked */
		if (r[i].fd > max)
			max = r[i].fd;
	}
	for (i = 1; i <= max; i++)
		if (!(named & (1ULL << i)))
			return fail(err, errlen, EBADMSG,
				    "fd %u is not named by any region (memory fds are 1..%u)", i,
				    max);
	if (!a->keep_fd) {
		if (a->nr_keep)
			return fail(err, errlen, EINVAL, "nr_keep %u without keep_fd", a->nr_keep);
		if (nr_fds != max + 1)
			return fail(err, errlen, EBADMSG,
				    "%u fds came, the message names %u", nr_fds, max + 1);
		return 0;
	}
	if (!a->nr_keep)
		return fail(err, errlen, EINVAL, "keep_fd %u with nr_keep 0", a->keep_fd);
	if (a->keep_fd <= max)
		return fail(err, errlen, EBADMSG,
			    "kept fds from %u overlap the memory fds 1..%u", a->keep_fd, max);
	if (a->keep_fd != max + 1)
		return fail(err, errlen, EBADMSG,
			    "kept fds start at %u, leaving fds %u..%u unnamed", a->keep_fd,
			    max + 1, a->keep_fd - 1);
	if ((uint64_t)a->keep_fd + a->nr_keep > nr_fds)
		return fail(err, errlen, EBADMSG, "kept fds %u..%llu out of the %u fds received",
			    a->keep_fd, (unsigned long long)a->keep_fd + a->nr_keep - 1, nr_fds);
	if ((uint64_t)a->keep_fd + a->nr_keep < nr_fds)
		return fail(err, errlen, EBADMSG, "fds %llu..%u are not named",
			    (unsigned long long)a->keep_fd + a->nr_keep, nr_fds - 1);
	return 0;
}

static int decode_attach(const unsigned char *p, size_t len, unsigned int nr_fds,
			 struct rwpd_msg *msg, char *err, size_t errlen)
{
	struct rwpd_attach *a = (struct rwpd_attach *)msg->attach_raw;
	bool resume = msg->hdr.type == RWPD_RESUME;
	const char *what = resume ? "RESUME" : "ATTACH";
	unsigned int i;
	int ret;

	if (len < sizeof(*a))
		return fail(err, errlen, EBADMSG, "%s payload of %zu bytes, shorter than %zu",
			    what, len, sizeof(*a));
	memcpy(a, p, sizeof(*a));
	if (a->nr_regions > RWPD_MAX_REGIONS)
		return fail(err, errlen, E2BIG, "%s with %u regions, at most %d", what,
			    a->nr_regions, RWPD_MAX_REGIONS);
	if (len != sizeof(*a) + a->nr_regions * sizeof(struct rwpd_region))
		return fail(err, errlen, EBADMSG, "%s payload of %zu bytes for %u regions (%zu)",
			    what, len, a->nr_regions,
			    sizeof(*a) + a->nr_regions * sizeof(struct rwpd_region));
	memcpy(a->regions, p + sizeof(*a), len - sizeof(*a));
	if (!a->nr_regions)
		return fail(err, errlen, EINVAL, "%s with no regions", what);
	if (resume && !a->guest_id)
		return fail(err, errlen, EINVAL, "RESUME with guest_id 0");
	if (!resume && a->guest_id)
		return fail(err, errlen, EINVAL, "ATTACH with guest_id %llu, must be 0",
			    (unsigned long long)a->guest_id);
	if (a->flags & ~RWPD_ATTACH_EVICTABLE)
		return fail(err, errlen, EINVAL, "%s with undefined flags %#x", what,
			    a->flags & ~RWPD_ATTACH_EVICTABLE);
	ret = check_name(a->name, what, err, errlen);
	if (ret)
		return ret;
	if (!nr_fds)
		return fail(err, errlen, EBADMSG, "%s without fds: the uffd must come with it",
			    what);
	for (i = 0; i < a->nr_regions; i++) {
		ret = check_region(&a->regions[i], i, nr_fds, err, errlen);
		if (ret)
			return ret;
	}
	ret = check_pairs(a->regions, a->nr_regions, err, errlen);
	return ret ? ret : check_fd_layout(a, a->regions, nr_fds, err, errlen);
}

/* The fixed payload of each other type, and whether it may be followed by text. */
static size_t fixed_size(unsigned int type)
{
	switch (type) {
	case RWPD_HELLO: return sizeof(struct rwpd_hello);
	case RWPD_DETACH: return sizeof(struct rwpd_guest_ref);
	case RWPD_STATUS: return sizeof(struct rwpd_status_req);
	case RWPD_SET_POLICY: return sizeof(struct rwpd_policy);
	case RWPD_EVICT: return sizeof(struct rwpd_evict_req);
	case RWPD_METRICS: return 0;
	case RWPD_ZAP: return sizeof(struct rwpd_zap);
	case RWPD_REPLY: return sizeof(struct rwpd_reply);
	}
	return 0;
}

static int check_fixed(struct rwpd_msg *m, const char *body, size_t text_len, char *err,
		       size_t errlen)
{
	switch (m->hdr.type) {
	case RWPD_HELLO:
		if (m->hello.role != RWPD_ROLE_VMM && m->hello.role != RWPD_ROLE_CTL)
			return fail(err, errlen, EINVAL, "HELLO with unknown role %u",
				    m->hello.role);
		if (m->hello.flags)
			return fail(err, errlen, EINVAL, "HELLO with undefined flags %#x",
				    m->hello.flags);
		return check_name(m->hello.name, "HELLO", err, errlen);
	case RWPD_DETACH:
		if (!m->ref.guest_id)
			return fail(err, errlen, EINVAL, "DETACH of guest_id 0");
		return 0;
	case RWPD_STATUS:
		if (m->status.format > RWPD_FMT_JSON)
			return fail(err, errlen, EINVAL, "STATUS with unknown format %u",
				    m->status.format);
		if (m->status.pad)
			return fail(err, errlen, EINVAL, "STATUS with non-zero pad");
		return 0;
	case RWPD_SET_POLICY:
		if (m->policy.flags & ~RWPD_POLICY_FLAGS)
			return fail(err, errlen, EINVAL, "SET_POLICY with undefined flags %#x",
				    m->policy.flags & ~RWPD_POLICY_FLAGS);
		if (m->policy.interval_ms > RWPD_INTERVAL_MS_MAX)
			return fail(err, errlen, EINVAL, "interval_ms %u over %u",
				    m->policy.interval_ms, RWPD_INTERVAL_MS_MAX);
		if (m->policy.min_idle > RWPD_MIN_IDLE_MAX)
			return fail(err, errlen, EINVAL, "min_idle %u over %u", m->policy.min_idle,
				    RWPD_MIN_IDLE_MAX);
		if (m->policy.refault_ppm > RWPD_REFAULT_PPM_MAX)
			return fail(err, errlen, EINVAL, "refault_ppm %u over %u",
				    m->policy.refault_ppm, RWPD_REFAULT_PPM_MAX);
		return 0;
	case RWPD_EVICT:
		if (!m->evict.guest_id)
			return fail(err, errlen, EINVAL, "EVICT of guest_id 0");
		return 0;
	case RWPD_ZAP:
		if (!m->zap.len || m->zap.addr % RWPD_PAGE_MIN || m->zap.len % RWPD_PAGE_MIN ||
		    m->zap.addr + m->zap.len < m->zap.addr)
			return fail(err, errlen, EINVAL, "ZAP of %#llx+%#llx: empty, unaligned or "
							 "wrapping", (unsigned long long)m->zap.addr,
				    (unsigned long long)m->zap.len);
		return 0;
	case RWPD_REPLY:
		if (m->reply.status > 0 || m->reply.status < -RWPD_STATUS_MAX)
			return fail(err, errlen, EINVAL, "REPLY with status %d, not 0 or -errno",
				    m->reply.status);
		if (m->reply.pad)
			return fail(err, errlen, EINVAL, "REPLY with non-zero pad");
		if (memchr(body, '\0', text_len))
			return fail(err, errlen, EINVAL, "REPLY text has a NUL byte");
		m->text = body;
		m->text_len = text_len;
		return 0;
	}
	return 0;
}

int rwpd_decode(const void *buf, size_t len, unsigned int nr_fds, struct rwpd_msg *msg,
		char *err, size_t errlen)
{
	const unsigned char *p = buf;
	struct rwpd_hdr *h = &msg->hdr;
	size_t plen, fixed;

	memset(msg, 0, sizeof(*msg));
	if (errlen)
		err[0] = '\0';
	if (len > RWPD_MAX_MSG)
		return fail(err, errlen, E2BIG, "packet of %zu bytes, at most %d", len,
			    RWPD_MAX_MSG);
	if (nr_fds > RWPD_MAX_FDS)
		return fail(err, errlen, E2BIG, "%u fds, at most %d", nr_fds, RWPD_MAX_FDS);
	if (len < HDR)
		return fail(err, errlen, EBADMSG, "packet of %zu bytes, shorter than the header",
			    len);
	memcpy(h, p, HDR);
	if (h->magic != RWPD_MAGIC)
		return fail(err, errlen, EPROTO, "bad magic %#x", h->magic);
	if (h->version != RWPD_VERSION)
		return fail(err, errlen, EPROTO, "protocol version %u, this side speaks %d",
			    h->version, RWPD_VERSION);
	if (!type_str(h->type))
		return fail(err, errlen, EPROTO, "unknown message type %#x", h->type);
	plen = len - HDR;
	if (h->len != plen)
		return fail(err, errlen, EBADMSG, "header says %u payload bytes, packet has %zu",
			    h->len, plen);
	msg->nr_fds = nr_fds;
	if (h->type == RWPD_ATTACH || h->type == RWPD_RESUME)
		return decode_attach(p + HDR, plen, nr_fds, msg, err, errlen);

	if (nr_fds)
		return fail(err, errlen, EBADMSG, "%s carries no fds, %u came",
			    rwpd_type_name(h->type), nr_fds);
	fixed = fixed_size(h->type);
	if (plen < fixed)
		return fail(err, errlen, EBADMSG, "%s payload of %zu bytes, shorter than %zu",
			    rwpd_type_name(h->type), plen, fixed);
	if (plen > fixed && h->type != RWPD_REPLY)
		return fail(err, errlen, EBADMSG, "%s payload of %zu bytes, longer than %zu",
			    rwpd_type_name(h->type), plen, fixed);
	memcpy(msg->attach_raw, p + HDR, fixed);
	return check_fixed(msg, (const char *)p + HDR + fixed, plen - fixed, err, errlen);
}

/* ------------------------------------------------------------------- encoders -- */

/* Write the header for `len` payload bytes; the caller fills them at buf + HDR. */
static int put_hdr(void *buf, size_t cap, unsigned int type, uint32_t seq, size_t len)
{
	struct rwpd_hdr h = rwpd_hdr_make(type, seq, len);

	if (len > RWPD_MAX_MSG - HDR || HDR + len > cap)
		return -E2BIG;
	memcpy(buf, &h, HDR);
	return (int)(HDR + len);
}

int rwpd_encode(void *buf, size_t cap, unsigned int type, uint32_t seq, const void *payload,
		size_t len)
{
	int n = put_hdr(buf, cap, type, seq, len);

	if (n > 0 && len)
		memcpy((char *)buf + HDR, payload, len);
	return n;
}

int rwpd_name_set(char dst[RWPD_NAME_LEN], const char *name)
{
	size_t n = name ? strnlen(name, RWPD_NAME_LEN) : 0;

	if (n == RWPD_NAME_LEN)
		return -EINVAL;
	memset(dst, 0, RWPD_NAME_LEN);
	if (n)
		memcpy(dst, name, n);
	return 0;
}

int rwpd_encode_hello(void *buf, size_t cap, uint32_t seq, uint32_t role, const char *name)
{
	struct rwpd_hello h = { .role = role };

	if (rwpd_name_set(h.name, name))
		return -EINVAL;
	return rwpd_encode(buf, cap, RWPD_HELLO, seq, &h, sizeof(h));
}

int rwpd_encode_attach(void *buf, size_t cap, unsigned int type, uint32_t seq,
		       const struct rwpd_attach *a, const struct rwpd_region *regions)
{
	size_t rlen;
	int n;

	if (type != RWPD_ATTACH && type != RWPD_RESUME)
		return -EINVAL;
	if (a->nr_regions > RWPD_MAX_REGIONS)
		return -E2BIG;
	rlen = a->nr_regions * sizeof(*regions);
	n = put_hdr(buf, cap, type, seq, sizeof(*a) + rlen);
	if (n < 0)
		return n;
	memcpy((char *)buf + HDR, a, sizeof(*a));
	if (rlen)
		memcpy((char *)buf + HDR + sizeof(*a), regions, rlen);
	return n;
}

int rwpd_encode_detach(void *buf, size_t cap, uint32_t seq, uint64_t guest_id)
{
	struct rwpd_guest_ref r = { .guest_id = guest_id };

	return rwpd_encode(buf, cap, RWPD_DETACH, seq, &r, sizeof(r));
}

int rwpd_encode_status(void *buf, size_t cap, uint32_t seq, uint64_t guest_id,
		       uint32_t format)
{
	struct rwpd_status_req s = { .guest_id = guest_id, .format = format };

	return rwpd_encode(buf, cap, RWPD_STATUS, seq, &s, sizeof(s));
}

int rwpd_encode_policy(void *buf, size_t cap, uint32_t seq, const struct rwpd_policy *p)
{
	return rwpd_encode(buf, cap, RWPD_SET_POLICY, seq, p, sizeof(*p));
}

int rwpd_encode_evict(void *buf, size_t cap, uint32_t seq, const struct rwpd_evict_req *e)
{
	return rwpd_encode(buf, cap, RWPD_EVICT, seq, e, sizeof(*e));
}

int rwpd_encode_zap(void *buf, size_t cap, uint32_t seq, uint64_t addr, uint64_t len)
{
	struct rwpd_zap z = { .addr = addr, .len = len };

	return rwpd_encode(buf, cap, RWPD_ZAP, seq, &z, sizeof(z));
}

int rwpd_encode_metrics(void *buf, size_t cap, uint32_t seq)
{
	return rwpd_encode(buf, cap, RWPD_METRICS, seq, NULL, 0);
}

int rwpd_encode_reply(void *buf, size_t cap, uint32_t seq, int32_t status, uint64_t guest_id,
		      const char *text, size_t text_len)
{
	struct rwpd_reply r = { .status = status, .guest_id = guest_id };
	int n;

	if (text_len > RWPD_MAX_MSG - HDR - sizeof(r))
		return -E2BIG;
	n = put_hdr(buf, cap, RWPD_REPLY, seq, sizeof(r) + text_len);
	if (n < 0)
		return n;
	memcpy((char *)buf + HDR, &r, sizeof(r));
	if (text_len)
		memcpy((char *)buf + HDR + sizeof(r), text, text_len);
	return n;
}

unsigned int rwpd_attach_nr_fds(const struct rwpd_attach *a, const struct rwpd_region *regions)
{
	uint64_t n = 1;
	unsigned int i;

	for (i = 0; i < a->nr_regions && i < RWPD_MAX_REGIONS; i++)
		if ((uint64_t)regions[i].fd + 1 > n)
			n = (uint64_t)regions[i].fd + 1;
	if (a->keep_fd && (uint64_t)a->keep_fd + a->nr_keep > n)
		n = (uint64_t)a->keep_fd + a->nr_keep;
	return n > UINT32_MAX ? UINT32_MAX : (unsigned int)n;
}
