// SPDX-License-Identifier: MIT
/*
 * The rwpd codec (lib/proto/codec.c): every message type round-trips through its encoder
 * and the decoder, and each kind of malformed packet is refused with its errno and a
 * reason, never read past its end (the ASan build checks that: packets are decoded from
 * exactly sized heap copies).
 */
#include "../../lib/proto/codec.h"
#include "../lib/tap.h"

#include <errno.h>
#include <rwp/core.h>

TAP_DEFINE;

#define CAP (RWPD_MAX_MSG + 64)

static unsigned char pkt[CAP];

/*
 * Decode a heap copy of exactly len bytes, so ASan sees any read past the packet. The
 * copy lives until the next call: a reply's text points into it.
 */
static int decode(const void *buf, size_t len, unsigned int nfds, struct rwpd_msg *m,
		  char *err, size_t errlen)
{
	static unsigned char *copy;

	free(copy);
	copy = malloc(len ? len : 1);
	memcpy(copy, buf, len);
	return rwpd_decode(copy, len, nfds, m, err, errlen);
}

/* Decode, re-encode from the decoded message and compare with the original bytes. */
static bool reencodes(const struct rwpd_msg *m, const void *orig, int len)
{
	static unsigned char again[CAP];
	const struct rwpd_attach *a = rwpd_msg_attach(m);
	int n = -1;

	switch (m->hdr.type) {
	case RWPD_HELLO:
		n = rwpd_encode_hello(again, CAP, m->hdr.seq, m->hello.role, m->hello.name);
		break;
	case RWPD_ATTACH:
	case RWPD_RESUME:
		n = rwpd_encode_attach(again, CAP, m->hdr.type, m->hdr.seq, a, a->regions);
		break;
	case RWPD_DETACH:
		n = rwpd_encode_detach(again, CAP, m->hdr.seq, m->ref.guest_id);
		break;
	case RWPD_STATUS:
		n = rwpd_encode_status(again, CAP, m->hdr.seq, m->status.guest_id,
				       m->status.format);
		break;
	case RWPD_SET_POLICY:
		n = rwpd_encode_policy(again, CAP, m->hdr.seq, &m->policy);
		break;
	case RWPD_EVICT:
		n = rwpd_encode_evict(again, CAP, m->hdr.seq, &m->evict);
		break;
	case RWPD_METRICS:
		n = rwpd_encode_metrics(again, CAP, m->hdr.seq);
		break;
	case RWPD_ZAP:
		n = rwpd_encode_zap(again, CAP, m->hdr.seq, m->zap.addr, m->zap.len);
		break;
	case RWPD_REPLY:
		n = rwpd_encode_reply(again, CAP, m->hdr.seq, m->reply.status, m->reply.guest_id,
				      m->text, m->text_len);
		break;
	}
	return n == len && !memcmp(again, orig, len);
}

/*
 * A valid ATTACH: shmem at fd 1, anon, hugetlb at fd 2, two kept fds 3 and 4. Raw
 * storage, as a struct with a flexible array cannot be a member of another.
 */
static uint64_t abuf[(sizeof(struct rwpd_attach) +
		      (RWPD_MAX_REGIONS + 1) * sizeof(struct rwpd_region)) / 8];
#define A ((struct rwpd_attach *)abuf)
static unsigned int a_nfds;

static void base_attach(void)
{
	struct rwpd_region *r = A->regions;

	memset(abuf, 0, sizeof(abuf));
	A->uffd_features = 0x1234;
	rwpd_name_set(A->name, "vm-7");
	A->flags = RWPD_ATTACH_EVICTABLE;
	A->nr_regions = 3;
	A->keep_fd = 3;
	A->nr_keep = 2;
	r[0] = (struct rwpd_region){ .addr = 0x7f0000000000, .len = 1 << 30, .offset = 0,
				     .gpa = 0, .fd = 1, .mem = RWP_MEM_SHMEM };
	r[1] = (struct rwpd_region){ .addr = 0x7f1000000000, .len = 1 << 20, .gpa = 0xfff00000,
				     .mem = RWP_MEM_ANON };
	r[2] = (struct rwpd_region){ .addr = 0x7f2000000000, .len = 2ULL << 30,
				     .offset = 4 << 20, .gpa = 1ULL << 32, .fd = 2,
				     .mem = RWP_MEM_HUGETLB };
	a_nfds = 5;
}

static int enc_attach(unsigned int type)
{
	return rwpd_encode_attach(pkt, CAP, type, 42, A, A->regions);
}

static void roundtrips(void)
{
	struct rwpd_policy pol = { .guest_id = 3, .interval_ms = 500, .min_idle = 9,
				   .target_resident = 1 << 30, .max_evict = 4096,
				   .refault_ppm = 2000, .flags = RWPD_POLICY_WRITE_TRACKED };
	struct rwpd_evict_req ev = { .guest_id = 3, .target_resident = 1 << 29, .max_pages = 7 };
	static const char text[] = "{\"guests\":[]}";
	struct rwpd_msg m;
	char err[160];
	int n, ret;

	n = rwpd_encode_hello(pkt, CAP, 1, RWPD_ROLE_VMM, "qemu-1");
	ret = decode(pkt, n, 0, &m, err, sizeof(err));
	tap_ok(n == 56 && !ret && m.hdr.type == RWPD_HELLO && m.hdr.seq == 1 &&
	       m.hello.role == RWPD_ROLE_VMM && !strcmp(m.hello.name, "qemu-1") &&
	       reencodes(&m, pkt, n), "HELLO round trip %s", err);

	n = rwpd_encode_hello(pkt, CAP, 2, RWPD_ROLE_CTL, "");
	ret = decode(pkt, n, 0, &m, err, sizeof(err));
	tap_ok(!ret && m.hello.role == RWPD_ROLE_CTL && reencodes(&m, pkt, n),
	       "HELLO with an empty name %s", err);

	base_attach();
	n = enc_attach(RWPD_ATTACH);
	ret = decode(pkt, n, a_nfds, &m, err, sizeof(err));
	tap_ok(n == 16 + 64 + 3 * 40 && !ret && m.nr_fds == 5 &&
	       rwpd_msg_attach(&m)->nr_regions == 3 &&
	       rwpd_msg_attach(&m)->regions[2].mem == RWP_MEM_HUGETLB &&
	       rwpd_msg_attach(&m)->regions[2].offset == 4 << 20 &&
	       !strcmp(rwpd_msg_attach(&m)->name, "vm-7") && reencodes(&m, pkt, n),
	       "ATTACH round trip %s", err);
	tap_ok(rwpd_attach_nr_fds(A, A->regions) == 5, "rwpd_attach_nr_fds counts the kept fds");

	A->guest_id = 77;
	n = enc_attach(RWPD_RESUME);
	ret = decode(pkt, n, a_nfds, &m, err, sizeof(err));
	tap_ok(!ret && m.hdr.type == RWPD_RESUME && rwpd_msg_attach(&m)->guest_id == 77 &&
	       reencodes(&m, pkt, n), "RESUME round trip %s", err);

	/* the smallest: one anon region, only the uffd */
	base_attach();
	A->nr_regions = 1;
	A->regions[0] = A->regions[1];
	A->keep_fd = A->nr_keep = 0;
	n = enc_attach(RWPD_ATTACH);
	ret = decode(pkt, n, 1, &m, err, sizeof(err));
	tap_ok(!ret && rwpd_attach_nr_fds(A, A->regions) == 1 && reencodes(&m, pkt, n),
	       "ATTACH of anon memory with the uffd only %s", err);

	/* the largest: RWPD_MAX_REGIONS regions sharing one memfd */
	base_attach();
	A->nr_regions = RWPD_MAX_REGIONS;
	A->keep_fd = A->nr_keep = 0;
	for (unsigned int i = 0; i < RWPD_MAX_REGIONS; i++)
		A->regions[i] = (struct rwpd_region){ .addr = 0x100000000ULL * (i + 1),
						      .len = 1 << 21,
						      .offset = (uint64_t)i << 21,
						      .gpa = (uint64_t)i << 21, .fd = 1,
						      .mem = RWP_MEM_SHMEM };
	n = enc_attach(RWPD_ATTACH);
	ret = decode(pkt, n, 2, &m, err, sizeof(err));
	tap_ok(!ret && reencodes(&m, pkt, n), "ATTACH of %d regions on one memfd %s",
	       RWPD_MAX_REGIONS, err);

	n = rwpd_encode_detach(pkt, CAP, 5, 9);
	ret = decode(pkt, n, 0, &m, err, sizeof(err));
	tap_ok(!ret && m.ref.guest_id == 9 && reencodes(&m, pkt, n), "DETACH round trip %s",
	       err);

	n = rwpd_encode_status(pkt, CAP, 6, 0, RWPD_FMT_JSON);
	ret = decode(pkt, n, 0, &m, err, sizeof(err));
	tap_ok(!ret && m.status.format == RWPD_FMT_JSON && reencodes(&m, pkt, n),
	       "STATUS round trip %s", err);

	n = rwpd_encode_policy(pkt, CAP, 7, &pol);
	ret = decode(pkt, n, 0, &m, err, sizeof(err));
	tap_ok(!ret && !memcmp(&m.policy, &pol, sizeof(pol)) && reencodes(&m, pkt, n),
	       "SET_POLICY round trip %s", err);

	n = rwpd_encode_evict(pkt, CAP, 8, &ev);
	ret = decode(pkt, n, 0, &m, err, sizeof(err));
	tap_ok(!ret && !memcmp(&m.evict, &ev, sizeof(ev)) && reencodes(&m, pkt, n),
	       "EVICT round trip %s", err);

	n = rwpd_encode_metrics(pkt, CAP, 9);
	ret = decode(pkt, n, 0, &m, err, sizeof(err));
	tap_ok(n == 16 && !ret && m.hdr.len == 0 && reencodes(&m, pkt, n),
	       "METRICS round trip %s", err);

	n = rwpd_encode_zap(pkt, CAP, 11, 0x7f0000001000ULL, 8192);
	ret = decode(pkt, n, 0, &m, err, sizeof(err));
	tap_ok(!ret && m.zap.addr == 0x7f0000001000ULL && m.zap.len == 8192 &&
	       reencodes(&m, pkt, n), "ZAP round trip %s", err);

	n = rwpd_encode_reply(pkt, CAP, 10, 0, 12, text, strlen(text));
	ret = decode(pkt, n, 0, &m, err, sizeof(err));
	tap_ok(!ret && m.reply.guest_id == 12 && m.text_len == strlen(text) &&
	       !memcmp(m.text, text, m.text_len) && reencodes(&m, pkt, n),
	       "REPLY with text round trip %s", err);

	n = rwpd_encode_reply(pkt, CAP, 11, -ENOENT, 0, NULL, 0);
	ret = decode(pkt, n, 0, &m, err, sizeof(err));
	tap_ok(!ret && m.reply.status == -ENOENT && m.text_len == 0 && reencodes(&m, pkt, n),
	       "REPLY without text round trip %s", err);

	/* the largest packet there is */
	{
		static char big[RWPD_MAX_MSG - 32];

		memset(big, 'x', sizeof(big));
		n = rwpd_encode_reply(pkt, CAP, 12, 0, 0, big, sizeof(big));
		ret = decode(pkt, n, 0, &m, err, sizeof(err));
		tap_ok(n == RWPD_MAX_MSG && !ret && m.text_len == sizeof(big),
		       "REPLY of RWPD_MAX_MSG bytes %s", err);
		tap_ok(rwpd_encode_reply(pkt, CAP, 12, 0, 0, big, sizeof(big) + 1) == -E2BIG,
		       "an encoder refuses a packet over RWPD_MAX_MSG");
	}

	/* unaligned buffer */
	n = rwpd_encode_policy(pkt + 1, CAP - 1, 7, &pol);
	ret = decode(pkt + 1, n, 0, &m, err, sizeof(err));
	tap_ok(!ret && m.policy.max_evict == 4096, "decodes from an unaligned buffer %s", err);

	tap_ok(rwpd_encode_hello(pkt, CAP, 1, 1, "0123456789012345678901234567890") > 0 &&
	       rwpd_encode_hello(pkt, CAP, 1, 1, "01234567890123456789012345678901") == -EINVAL,
	       "a name of 31 bytes fits, 32 does not");
	tap_ok(rwpd_encode_metrics(pkt, 15, 1) == -E2BIG, "an encoder refuses a small buffer");
	base_attach();
	A->nr_regions = RWPD_MAX_REGIONS + 1;
	tap_ok(enc_attach(RWPD_ATTACH) == -E2BIG && enc_attach(RWPD_HELLO) == -EINVAL,
	       "the attach encoder refuses too many regions and other types");
	tap_ok(!strcmp(rwpd_type_name(RWPD_SET_POLICY), "SET_POLICY") &&
	       !strcmp(rwpd_type_name(77), "?"), "rwpd_type_name");
}

/* ------------------------------------------------------------- malformed -- */

enum mut {
	A_SHORT, A_TOO_MANY, A_NR_VS_LEN, A_NO_REGIONS, A_ATTACH_ID, A_RESUME_NO_ID, A_FLAGS,
	A_NAME_NO_NUL, A_NAME_PAD, A_NAME_CTRL, A_NO_FDS, A_MEM_0, A_MEM_4, A_LEN_0,
	A_UNALIGNED, A_ADDR_WRAP, A_GPA_WRAP, A_ANON_FD, A_ANON_OFFSET, A_SHMEM_NO_FD,
	A_FD_RANGE, A_OFFSET_WRAP, A_OVERLAP, A_GPA_OVERLAP, A_FILE_OVERLAP, A_FD_TWO_MEMS,
	A_FD_GAP, A_KEEP_NO_NR, A_NR_NO_KEEP, A_KEEP_OVERLAP, A_KEEP_RANGE, A_KEEP_GAP,
	A_EXTRA_FDS, A_EXTRA_FDS_NO_KEEP, A_KEEP_WRAP,
};

static const struct {
	enum mut m;
	const char *name;
	int err;
} attach_cases[] = {
	{ A_SHORT, "payload shorter than struct rwpd_attach", EBADMSG },
	{ A_TOO_MANY, "nr_regions > RWPD_MAX_REGIONS", E2BIG },
	{ A_NR_VS_LEN, "nr_regions not matching len", EBADMSG },
	{ A_NO_REGIONS, "no regions", EINVAL },
	{ A_ATTACH_ID, "ATTACH with a guest_id", EINVAL },
	{ A_RESUME_NO_ID, "RESUME with guest_id 0", EINVAL },
	{ A_FLAGS, "undefined attach flags", EINVAL },
	{ A_NAME_NO_NUL, "name without a NUL", EINVAL },
	{ A_NAME_PAD, "name not NUL-padded", EINVAL },
	{ A_NAME_CTRL, "name with a control character", EINVAL },
	{ A_NO_FDS, "ATTACH without fds", EBADMSG },
	{ A_MEM_0, "mem 0", EINVAL },
	{ A_MEM_4, "mem 4", EINVAL },
	{ A_LEN_0, "region len 0", EINVAL },
	{ A_UNALIGNED, "region addr not page-aligned", EINVAL },
	{ A_ADDR_WRAP, "addr + len overflowing", EINVAL },
	{ A_GPA_WRAP, "gpa + len overflowing", EINVAL },
	{ A_ANON_FD, "memory fd for anon memory", EINVAL },
	{ A_ANON_OFFSET, "offset for anon memory", EINVAL },
	{ A_SHMEM_NO_FD, "shmem without a memory fd", EINVAL },
	{ A_FD_RANGE, "region fd index past the fds received", EBADMSG },
	{ A_OFFSET_WRAP, "offset + len past off_t", EINVAL },
	{ A_OVERLAP, "regions overlapping in the VMM", EINVAL },
	{ A_GPA_OVERLAP, "regions overlapping in the guest", EINVAL },
	{ A_FILE_OVERLAP, "regions mapping the same bytes of a memfd", EINVAL },
	{ A_FD_TWO_MEMS, "one fd as shmem and hugetlb", EINVAL },
	{ A_FD_GAP, "a memory fd no region names", EBADMSG },
	{ A_KEEP_NO_NR, "keep_fd with nr_keep 0", EINVAL },
	{ A_NR_NO_KEEP, "nr_keep without keep_fd", EINVAL },
	{ A_KEEP_OVERLAP, "kept fds overlapping region fds", EBADMSG },
	{ A_KEEP_RANGE, "kept fds past the fds received", EBADMSG },
	{ A_KEEP_GAP, "kept fds leaving a gap after the memory fds", EBADMSG },
	{ A_EXTRA_FDS, "fds after the kept ones", EBADMSG },
	{ A_EXTRA_FDS_NO_KEEP, "fds no one names, no kept fds", EBADMSG },
	{ A_KEEP_WRAP, "keep_fd + nr_keep overflowing 32 bits", EBADMSG },
};

/* Build the mutated ATTACH into pkt: its length, *nfds and *type. */
static int mutate(enum mut m, unsigned int *nfds, unsigned int *type)
{
	struct rwpd_region *r = A->regions;
	int n;

	base_attach();
	*type = RWPD_ATTACH;
	switch (m) {
	case A_SHORT:
		*nfds = a_nfds;
		return rwpd_encode(pkt, CAP, RWPD_ATTACH, 1, A, sizeof(*A) - 4);
	case A_TOO_MANY:
		A->nr_regions = RWPD_MAX_REGIONS + 1;
		*nfds = a_nfds;
		return rwpd_encode(pkt, CAP, RWPD_ATTACH, 1, A,
				   sizeof(*A) + (RWPD_MAX_REGIONS + 1) * sizeof(*r));
	case A_NR_VS_LEN:
		n = enc_attach(RWPD_ATTACH);
		A->nr_regions = 2;
		memcpy(pkt + 16, A, sizeof(*A));
		*nfds = a_nfds;
		return n;
	case A_NO_REGIONS: A->nr_regions = 0; A->keep_fd = A->nr_keep = 0; a_nfds = 1; break;
	case A_ATTACH_ID: A->guest_id = 1; break;
	case A_RESUME_NO_ID: *type = RWPD_RESUME; break;
	case A_FLAGS: A->flags |= 1u << 5; break;
	case A_NAME_NO_NUL: memset(A->name, 'a', RWPD_NAME_LEN); break;
	case A_NAME_PAD: A->name[20] = 'x'; break;
	case A_NAME_CTRL: A->name[1] = '\n'; break;
	case A_NO_FDS: a_nfds = 0; break;
	case A_MEM_0: r[1].mem = 0; break;
	case A_MEM_4: r[1].mem = 4; break;
	case A_LEN_0: r[0].len = 0; break;
	case A_UNALIGNED: r[0].addr += 512; break;
	case A_ADDR_WRAP: r[1].addr = -4096ULL; r[1].len = 8192; break;
	case A_GPA_WRAP: r[1].gpa = -4096ULL; r[1].len = 8192; break;
	case A_ANON_FD: r[1].fd = 1; break;
	case A_ANON_OFFSET: r[1].offset = 4096; break;
	case A_SHMEM_NO_FD: r[0].fd = 0; break;
	case A_FD_RANGE: r[2].fd = 9; break;
	case A_OFFSET_WRAP: r[2].offset = ((uint64_t)INT64_MAX & ~4095ULL) - 4096; break;
	case A_OVERLAP: r[1].addr = r[0].addr + r[0].len - 4096; break;
	case A_GPA_OVERLAP: r[1].gpa = 4096; break;
	case A_FILE_OVERLAP:
		r[2].fd = 1;
		r[2].mem = RWP_MEM_SHMEM;
		r[2].offset = 8192;
		A->keep_fd = 2;
		a_nfds = 4;
		break;
	case A_FD_TWO_MEMS:
		r[2].fd = 1;
		r[2].offset = 2ULL << 30;
		A->keep_fd = 2;
		a_nfds = 4;
		break;
	case A_FD_GAP: r[2].fd = 3; A->keep_fd = 4; A->nr_keep = 1; break;
	case A_KEEP_NO_NR: A->nr_keep = 0; a_nfds = 3; break;
	case A_NR_NO_KEEP: A->keep_fd = 0; a_nfds = 3; break;
	case A_KEEP_OVERLAP: A->keep_fd = 2; A->nr_keep = 3; break;
	case A_KEEP_RANGE: A->nr_keep = 3; break;
	case A_KEEP_GAP: A->keep_fd = 4; A->nr_keep = 1; break;
	case A_EXTRA_FDS: a_nfds = 6; break;
	case A_EXTRA_FDS_NO_KEEP: A->keep_fd = A->nr_keep = 0; a_nfds = 4; break;
	case A_KEEP_WRAP: A->nr_keep = UINT32_MAX; break;
	}
	*nfds = a_nfds;
	return enc_attach(*type);
}

static void expect(const void *buf, int n, unsigned int nfds, int want, const char *name)
{
	struct rwpd_msg m;
	char err[160] = "unset";
	int ret = decode(buf, n, nfds, &m, err, sizeof(err));

	tap_ok(ret == -want && err[0] && strcmp(err, "unset") != 0, "refused: %s (%s: %s)", name,
	       strerror(-ret), err);
}

static void malformed_attach(void)
{
	unsigned int i, nfds, type;
	int n;

	for (i = 0; i < sizeof(attach_cases) / sizeof(attach_cases[0]); i++) {
		n = mutate(attach_cases[i].m, &nfds, &type);
		if (n < 0) {
			tap_ok(false, "%s: could not build (%d)", attach_cases[i].name, n);
			continue;
		}
		expect(pkt, n, nfds, attach_cases[i].err, attach_cases[i].name);
	}
}

static void put32(size_t off, uint32_t v)
{
	memcpy(pkt + off, &v, 4);
}

static void malformed_other(void)
{
	struct rwpd_policy pol = { 0 };
	struct rwpd_hello h = { .role = 1 };
	struct rwpd_msg m;
	uint16_t v16;
	int n;

	n = rwpd_encode_metrics(pkt, CAP, 1);
	expect(pkt, 0, 0, EBADMSG, "an empty packet");
	expect(pkt, 8, 0, EBADMSG, "a packet shorter than the header");
	tap_ok(rwpd_decode(pkt, 8, 0, &m, NULL, 0) == -EBADMSG,
	       "the decoder takes no error buffer");
	put32(0, 0x12345678);
	expect(pkt, n, 0, EPROTO, "wrong magic");
	n = rwpd_encode_metrics(pkt, CAP, 1);
	v16 = 2;
	memcpy(pkt + 4, &v16, 2);
	expect(pkt, n, 0, EPROTO, "wrong version");
	n = rwpd_encode(pkt, CAP, 0, 1, NULL, 0);
	expect(pkt, n, 0, EPROTO, "type 0");
	n = rwpd_encode(pkt, CAP, 10, 1, NULL, 0);
	expect(pkt, n, 0, EPROTO, "type 10");
	n = rwpd_encode(pkt, CAP, RWPD_ZAP, 1, NULL, 0);
	expect(pkt, n, 0, EBADMSG, "ZAP without its payload");
	n = rwpd_encode_zap(pkt, CAP, 1, 4096, 0);
	expect(pkt, n, 0, EINVAL, "ZAP of nothing");
	n = rwpd_encode_zap(pkt, CAP, 1, 4097, 4096);
	expect(pkt, n, 0, EINVAL, "ZAP unaligned");
	n = rwpd_encode_zap(pkt, CAP, 1, UINT64_MAX - 4095, 8192);
	expect(pkt, n, 0, EINVAL, "ZAP wrapping");
	n = rwpd_encode(pkt, CAP, 0x101, 1, NULL, 0);
	expect(pkt, n, 0, EPROTO, "type 0x101");
	n = rwpd_encode_detach(pkt, CAP, 1, 4);
	put32(8, 9);
	expect(pkt, n, 0, EBADMSG, "len larger than the packet");
	put32(8, 7);
	expect(pkt, n, 0, EBADMSG, "len smaller than the packet");
	put32(8, UINT32_MAX);
	expect(pkt, n, 0, EBADMSG, "len of 4 GiB");
	n = rwpd_encode_metrics(pkt, CAP, 1);
	expect(pkt, RWPD_MAX_MSG + 1, 0, E2BIG, "a packet over RWPD_MAX_MSG");
	expect(pkt, n, RWPD_MAX_FDS + 1, E2BIG, "more than RWPD_MAX_FDS fds");
	expect(pkt, n, 1, EBADMSG, "fds with METRICS");
	n = rwpd_encode(pkt, CAP, RWPD_METRICS, 1, &pol, 8);
	expect(pkt, n, 0, EBADMSG, "METRICS with a payload");

	n = rwpd_encode(pkt, CAP, RWPD_HELLO, 1, &h, sizeof(h) - 1);
	expect(pkt, n, 0, EBADMSG, "HELLO payload short by one byte");
	{
		unsigned char longer[sizeof(h) + 1] = { 1 };

		n = rwpd_encode(pkt, CAP, RWPD_HELLO, 1, longer, sizeof(longer));
		expect(pkt, n, 0, EBADMSG, "HELLO payload long by one byte");
	}
	h.role = 3;
	n = rwpd_encode(pkt, CAP, RWPD_HELLO, 1, &h, sizeof(h));
	expect(pkt, n, 0, EINVAL, "HELLO with role 3");
	h.role = 2;
	h.flags = 1;
	n = rwpd_encode(pkt, CAP, RWPD_HELLO, 1, &h, sizeof(h));
	expect(pkt, n, 0, EINVAL, "HELLO with flags");
	h.flags = 0;
	memset(h.name, 'n', sizeof(h.name));
	n = rwpd_encode(pkt, CAP, RWPD_HELLO, 1, &h, sizeof(h));
	expect(pkt, n, 0, EINVAL, "HELLO name without NUL");
	n = rwpd_encode_hello(pkt, CAP, 1, 1, "abc");
	expect(pkt, n, 1, EBADMSG, "HELLO with an fd");
	pkt[16 + offsetof(struct rwpd_hello, name) + 8] = 'z'; /* past "abc" and its NUL */
	expect(pkt, n, 0, EINVAL, "HELLO name with bytes after its NUL");
	n = rwpd_encode_hello(pkt, CAP, 1, 1, "a\x7f");
	expect(pkt, n, 0, EINVAL, "HELLO name with DEL");

	n = rwpd_encode_detach(pkt, CAP, 1, 0);
	expect(pkt, n, 0, EINVAL, "DETACH of guest 0");
	n = rwpd_encode_evict(pkt, CAP, 1, &(struct rwpd_evict_req){ .max_pages = 3 });
	expect(pkt, n, 0, EINVAL, "EVICT of guest 0");
	n = rwpd_encode_status(pkt, CAP, 1, 0, 2);
	expect(pkt, n, 0, EINVAL, "STATUS format 2");
	n = rwpd_encode(pkt, CAP, RWPD_STATUS, 1,
			&(struct rwpd_status_req){ .pad = 1 }, sizeof(struct rwpd_status_req));
	expect(pkt, n, 0, EINVAL, "STATUS with non-zero pad");

	pol.flags = RWPD_POLICY_FLAGS + 1;
	n = rwpd_encode_policy(pkt, CAP, 1, &pol);
	expect(pkt, n, 0, EINVAL, "SET_POLICY with undefined flags");
	pol.flags = 0;
	pol.interval_ms = RWPD_INTERVAL_MS_MAX + 1;
	n = rwpd_encode_policy(pkt, CAP, 1, &pol);
	expect(pkt, n, 0, EINVAL, "SET_POLICY interval_ms over an hour");
	pol.interval_ms = 0;
	pol.min_idle = RWPD_MIN_IDLE_MAX + 1;
	n = rwpd_encode_policy(pkt, CAP, 1, &pol);
	expect(pkt, n, 0, EINVAL, "SET_POLICY min_idle 128");
	pol.min_idle = 0;
	pol.refault_ppm = RWPD_REFAULT_PPM_MAX + 1;
	n = rwpd_encode_policy(pkt, CAP, 1, &pol);
	expect(pkt, n, 0, EINVAL, "SET_POLICY refault_ppm over a million");

	n = rwpd_encode_reply(pkt, CAP, 1, 1, 0, NULL, 0);
	expect(pkt, n, 0, EINVAL, "REPLY with a positive status");
	n = rwpd_encode_reply(pkt, CAP, 1, -5000, 0, NULL, 0);
	expect(pkt, n, 0, EINVAL, "REPLY with status -5000");
	n = rwpd_encode_reply(pkt, CAP, 1, 0, 0, "a\0b", 3);
	expect(pkt, n, 0, EINVAL, "REPLY text with a NUL");
	n = rwpd_encode_reply(pkt, CAP, 1, 0, 0, NULL, 0);
	put32(16 + 4, 1);
	expect(pkt, n, 0, EINVAL, "REPLY with non-zero pad");
	n = rwpd_encode(pkt, CAP, RWPD_REPLY, 1, &pol, 12);
	expect(pkt, n, 0, EBADMSG, "REPLY shorter than struct rwpd_reply");
	n = rwpd_encode_reply(pkt, CAP, 1, 0, 0, "x", 1);
	expect(pkt, n, 2, EBADMSG, "REPLY with fds");
}

int main(void)
{
	tap_init();
	roundtrips();
	malformed_attach();
	malformed_other();
	return tap_done();
}
