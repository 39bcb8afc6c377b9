/* SPDX-License-Identifier: MIT */
/*
 * Firecracker's userfaultfd handoff (snapshot restore with mem_backend "Uffd"): on a
 * stream socket the handler listens on, Firecracker connects and sends, in one sendmsg,
 * the JSON array of its GuestRegionUffdMapping structs and exactly one fd, its uffd.
 * Nothing else is ever sent or expected on that connection. rwp-protocol(7), FIRECRACKER.
 *
 * The JSON, per region (serde of GuestRegionUffdMapping):
 *   base_host_virt_addr  Firecracker's address of the region (where UFFDIO_COPY goes)
 *   size                 bytes
 *   offset               bytes into the snapshot memory file (regions back to back)
 *   page_size            bytes; since Firecracker 1.12
 *   page_size_kib        ALSO BYTES despite its name (a field name that shipped cannot
 *                        change); since 1.7, deprecated for page_size
 * Older versions lack page_size and/or page_size_kib: without both, pages are 4 KiB
 * (hugetlbfs guest memory came with page_size_kib in 1.7).
 */
#ifndef RWP_PROTO_FC_H
#define RWP_PROTO_FC_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define RWPD_FC_JSON_MAX 65536 /* a receive buffer for the handoff */
#define RWPD_FC_PAGE_DEFAULT 4096u

struct rwpd_fc_region {
	uint64_t host_addr; /* base_host_virt_addr */
	uint64_t size;
	uint64_t offset;
	uint64_t page_size; /* the same for every region */
};

/*
 * Parse and validate the handoff JSON (len bytes, no NUL needed) into out[0, max).
 * Returns the number of regions, or -errno with a reason in err:
 *   -EBADMSG     not JSON, trailing bytes, not an array of objects, a field missing or
 *                not a non-negative integer
 *   -EINVAL      empty array; size 0; page size not a power of two in [4 KiB, 1 GiB],
 *                differing between regions, or page_size != page_size_kib; an address,
 *                size or offset not a multiple of the page size; a range overflowing;
 *                regions overlapping in Firecracker or in the memory file
 *   -E2BIG       more than max or RWPD_MAX_REGIONS regions
 *   -EOPNOTSUPP  a guest_memfd mapping (is_guest_memfd: true, Firecracker's secret
 *                hiding branch), which speaks another protocol
 *   -ENOMEM
 * Unknown keys are ignored: newer Firecrackers add fields (gpa_start).
 */
int rwpd_fc_parse(const char *json, size_t len, struct rwpd_fc_region *out, size_t max,
		  char *err, size_t errlen);

/* Every region lies inside the snapshot memory file of file_size bytes: 0 or -EINVAL. */
int rwpd_fc_check_file(const struct rwpd_fc_region *r, size_t n, uint64_t file_size,
		       char *err, size_t errlen);

/*
 * Receive the handoff on a connection Firecracker made: one recvmsg of up to cap - 1
 * bytes of JSON into buf and exactly one fd (O_CLOEXEC) into *uffd. *len gets the JSON's
 * length. Errors: -ECONNRESET (closed before sending), -EBADMSG (no fd, or more than one:
 * all are closed), -EMSGSIZE (cap bytes or more: the JSON may be cut), -ETOOMANYREFS, or
 * what recvmsg returned. No fd stays open on an error.
 */
int rwpd_fc_recv(int sock, char *buf, size_t cap, size_t *len, int *uffd);

/* 1 if fd is a userfaultfd, 0 if it is something else, -errno if that cannot be told. */
int rwpd_fd_is_uffd(int fd);

#endif
