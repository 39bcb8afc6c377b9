// SPDX-License-Identifier: MIT
/*
 * Write fuzz-proto's seed corpus into DIR: one file per packet, byte 0 the number of fds
 * that come with it (as fuzz-proto reads them). Valid messages of every type, built with
 * the encoders, and a few near misses.
 */
#include "../../lib/proto/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rwp/core.h>

static const char *dir;
static unsigned char buf[RWPD_MAX_MSG + 1];

static void put(const char *name, unsigned int nfds, int len)
{
	char path[512];
	FILE *f;

	if (len < 0) {
		fprintf(stderr, "%s: encoding failed (%d)\n", name, len);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fputc((int)nfds, f) == EOF || fwrite(buf + 1, 1, len, f) != (size_t)len ||
	    fclose(f)) {
		perror(path);
		exit(1);
	}
}

#define ENC buf + 1, sizeof(buf) - 1

static uint64_t abuf[RWPD_ATTACH_MAX / 8];
#define A ((struct rwpd_attach *)abuf)

static void attach_base(void)
{
	memset(abuf, 0, sizeof(abuf));
	rwpd_name_set(A->name, "vm-7");
	A->uffd_features = 0x7fe;
	A->flags = RWPD_ATTACH_EVICTABLE;
	A->nr_regions = 3;
	A->keep_fd = 3;
	A->nr_keep = 1;
	A->regions[0] = (struct rwpd_region){ .addr = 0x7f0000000000, .len = 1 << 30, .fd = 1,
					      .mem = RWP_MEM_SHMEM };
	A->regions[1] = (struct rwpd_region){ .addr = 0x7f1000000000, .len = 1 << 20,
					      .gpa = 0xfff00000, .mem = RWP_MEM_ANON };
	A->regions[2] = (struct rwpd_region){ .addr = 0x7f2000000000, .len = 2ULL << 30,
					      .gpa = 1ULL << 32, .fd = 2,
					      .mem = RWP_MEM_HUGETLB };
}

int main(int argc, char **argv)
{
	struct rwpd_policy pol = { .guest_id = 3, .interval_ms = 500, .min_idle = 9,
				   .target_resident = 1 << 30, .max_evict = 4096,
				   .refault_ppm = 2000, .flags = RWPD_POLICY_WRITE_TRACKED };
	struct rwpd_evict_req ev = { .guest_id = 3, .target_resident = 1 << 29 };
	static const char json[] = "{\"guests\":[{\"id\":1,\"name\":\"vm-7\"}]}";
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	put("hello-vmm", 0, rwpd_encode_hello(ENC, 1, RWPD_ROLE_VMM, "qemu-1"));
	put("hello-ctl", 0, rwpd_encode_hello(ENC, 2, RWPD_ROLE_CTL, ""));
	attach_base();
	put("attach", 4, rwpd_encode_attach(ENC, RWPD_ATTACH, 3, A, A->regions));
	A->guest_id = 9;
	put("resume", 4, rwpd_encode_attach(ENC, RWPD_RESUME, 4, A, A->regions));
	A->guest_id = 0;
	A->nr_regions = 1;
	A->regions[0] = A->regions[1];
	A->keep_fd = A->nr_keep = 0;
	put("attach-anon", 1, rwpd_encode_attach(ENC, RWPD_ATTACH, 5, A, A->regions));
	A->nr_regions = RWPD_MAX_REGIONS;
	for (unsigned int i = 0; i < RWPD_MAX_REGIONS; i++)
		A->regions[i] = (struct rwpd_region){ .addr = 0x100000000ULL * (i + 1),
						      .len = 1 << 21,
						      .offset = (uint64_t)i << 21,
						      .gpa = (uint64_t)i << 21, .fd = 1 + i % 4,
						      .mem = RWP_MEM_SHMEM };
	A->keep_fd = 5;
	A->nr_keep = RWPD_MAX_FDS - 5;
	put("attach-max", RWPD_MAX_FDS, rwpd_encode_attach(ENC, RWPD_ATTACH, 6, A, A->regions));
	put("detach", 0, rwpd_encode_detach(ENC, 7, 9));
	put("status-text", 0, rwpd_encode_status(ENC, 8, 0, RWPD_FMT_TEXT));
	put("status-json", 0, rwpd_encode_status(ENC, 9, 9, RWPD_FMT_JSON));
	put("policy", 0, rwpd_encode_policy(ENC, 10, &pol));
	put("evict", 0, rwpd_encode_evict(ENC, 11, &ev));
	put("metrics", 0, rwpd_encode_metrics(ENC, 12));
	put("reply-json", 0, rwpd_encode_reply(ENC, 8, 0, 0, json, strlen(json)));
	put("reply-attach", 0, rwpd_encode_reply(ENC, 3, 0, 9, NULL, 0));
	put("reply-error", 0, rwpd_encode_reply(ENC, 3, -22, 0, "region 1: len 0", 15));

	/* near misses */
	attach_base();
	A->regions[2].fd = 3;
	A->keep_fd = 4;
	put("bad-attach-fd-gap", 5, rwpd_encode_attach(ENC, RWPD_ATTACH, 3, A, A->regions));
	attach_base();
	put("bad-attach-no-fds", 0, rwpd_encode_attach(ENC, RWPD_ATTACH, 3, A, A->regions));
	attach_base();
	A->nr_regions = RWPD_MAX_REGIONS + 1;
	put("bad-attach-too-many", 4, rwpd_encode(ENC, RWPD_ATTACH, 3, A, sizeof(*A)));
	n = rwpd_encode_metrics(ENC, 1);
	buf[1] ^= 0xff;
	put("bad-magic", 0, n);
	n = rwpd_encode_detach(ENC, 1, 1);
	put("bad-short", 0, n - 1);
	put("header-only", 0, 16);
	return 0;
}
