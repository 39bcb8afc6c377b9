// SPDX-License-Identifier: MIT
/* Tiers from one-line specs: "zram-lz4,max=2G,demote=120", "file:/var/swap", "nbd:URI". */
#include "tier.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'T': v <<= 10; /* fall through */
	case 'G': v <<= 10; /* fall through */
	case 'M': v <<= 10; /* fall through */
	case 'K': v <<= 10; end++; break;
	case 0: break;
	default: return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

RWP_EXPORT int rwp_tier_from_spec(const char *spec, struct rwp_tier **out,
				  unsigned int *demote_age)
{
	char buf[4200], *opt, *kind;
	uint64_t max = 0, demote = 0;
	const char *target = "";

	if (!spec || !out || strlen(spec) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", spec);
	opt = strchr(buf, ',');
	if (opt)
		*opt++ = 0;
	/* options: max=SIZE, demote=AGE */
	for (char *o = opt, *next; o && *o; o = next) {
		next = strchr(o, ',');
		if (next)
			*next++ = 0;
		if (!strncmp(o, "max=", 4) && !parse_size(o + 4, &max))
			continue;
		if (!strncmp(o, "demote=", 7) && !parse_size(o + 7, &demote) && demote <= 127)
			continue;
		return -EINVAL;
	}
	kind = buf;
	char *colon = strchr(buf, ':');

	if (colon) {
		*colon = 0;
		target = colon + 1;
	}
	int ret = -EINVAL;

	if (!strcmp(kind, "zram-lz4") || !strcmp(kind, "zram-zstd")) {
		RWP_OPTS(rwp_tier_zram_opts, o, .max_bytes = max,
			 .codec = kind[5] == 'z' ? RWP_CODEC_ZSTD : RWP_CODEC_LZ4);

		ret = *target ? -EINVAL : rwp_tier_zram_new(&o, out);
	} else if (!strcmp(kind, "file") && *target) {
		RWP_OPTS(rwp_tier_file_opts, o, .path = target, .max_bytes = max);

		ret = rwp_tier_file_new(&o, out);
	} else if (!strcmp(kind, "nbd") && *target) {
		RWP_OPTS(rwp_tier_nbd_opts, o, .uri = target);

		ret = rwp_tier_nbd_new(&o, out);
	}
	/* nothing is written out on failure */
	if (!ret && demote_age)
		*demote_age = demote;
	return ret;
}
