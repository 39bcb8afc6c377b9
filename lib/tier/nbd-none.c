// SPDX-License-Identifier: MIT
/* Built without libnbd (the static test build): the NBD tier says so. */
#include "tier.h"

#include <errno.h>

RWP_EXPORT int rwp_tier_nbd_new(const struct rwp_tier_nbd_opts *opts, struct rwp_tier **out)
{
	(void)opts, (void)out;
	return -EOPNOTSUPP;
}
