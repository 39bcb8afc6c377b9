/* SPDX-License-Identifier: MIT */
/* Size-versioned option structs: read a field only if the caller's struct has it. */
#ifndef RWP_OPTS_H
#define RWP_OPTS_H

#include <stdbool.h>
#include <stddef.h>

/* A struct newer than the library is fine if the fields we do not know are zero. */
static inline bool rwp_opts_valid(const void *opts, size_t known)
{
	const unsigned char *p = opts;
	size_t sz;

	if (!opts)
		return true;
	sz = *(const size_t *)opts;
	if (sz < sizeof(size_t))
		return false;
	for (size_t i = known; i < sz; i++)
		if (p[i])
			return false;
	return true;
}

#define OPTS_VALID(opts, type) rwp_opts_valid(opts, sizeof(struct type))
#define OPTS_HAS(opts, field)                                                              \
	((opts) && (opts)->sz >= offsetof(typeof(*(opts)), field) + sizeof((opts)->field))
#define OPTS_GET(opts, field, def) (OPTS_HAS(opts, field) ? (opts)->field : (def))

#endif
