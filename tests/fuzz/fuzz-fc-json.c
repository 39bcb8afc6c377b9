// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: rwpd_fc_parse() over arbitrary bytes, as Firecracker's handoff JSON.
 * Accepted regions must satisfy everything the parser promises: a common power-of-two
 * page size, aligned non-empty ranges that neither overflow nor overlap.
 */
#include "../../lib/proto/fc.h"
#include "../../lib/proto/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rwpd_fc_region r[RWPD_MAX_REGIONS];
	char err[160];
	int n, i, j;

	/* the caller's array may be smaller than the protocol's limit */
	n = rwpd_fc_parse((const char *)data, size, r, size ? 1 + data[0] % RWPD_MAX_REGIONS : 1,
			  err, sizeof(err));
	if (n < 0) {
		if (n != -EBADMSG && n != -EINVAL && n != -E2BIG && n != -EOPNOTSUPP &&
		    n != -ENOMEM)
			abort();
		if (n != -ENOMEM && !err[0])
			abort();
		return 0;
	}
	if (n < 1 || n > RWPD_MAX_REGIONS)
		abort();
	for (i = 0; i < n; i++) {
		uint64_t ps = r[i].page_size;

		if (ps != r[0].page_size || ps < 4096 || (ps & (ps - 1)) || !r[i].size ||
		    (r[i].host_addr | r[i].size | r[i].offset) & (ps - 1) ||
		    r[i].host_addr + r[i].size < r[i].host_addr ||
		    r[i].offset + r[i].size < r[i].offset)
			abort();
		for (j = 0; j < i; j++)
			if (r[i].host_addr < r[j].host_addr + r[j].size &&
			    r[j].host_addr < r[i].host_addr + r[i].size)
				abort();
	}
	rwpd_fc_check_file(r, n, size * 4096ULL, err, sizeof(err));
	return 0;
}
