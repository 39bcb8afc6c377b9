// SPDX-License-Identifier: MIT
/*
 * What the data pages hold besides their stamp, chosen to compress like guest memory
 * does rather than like zeros: a quarter of the pages are free (all zero), the rest are
 * 64-byte lines of 16 random bytes and 48 bytes of text. Every byte follows from the
 * page's address, so the final check needs no copy of the memory.
 */
#include "host.h"

#include <string.h>

#define LINE 64
#define RANDOM 16
#define BODY 8 /* bytes 0..7 are the stamp */

static const char text[] =
	"eth0: link up 1000Mbps full duplex; sda: cache flush ok; sched: load 0.42 0.37 0.31; "
	"nginx: GET /index.html 200 5120; postgres: checkpoint complete, 42 buffers written; ";

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static bool page_is_free(uint64_t gpa)
{
	return mix(gpa) % 4 == 0;
}

static void line(uint8_t *l, uint64_t gpa, size_t i)
{
	uint64_t r[2] = { mix(gpa + 2 * i + 1), mix(gpa + 2 * i + 2) };
	size_t at = (gpa / VMM_PAGE * 13 + i * (LINE - RANDOM)) % (sizeof(text) - 1);

	memcpy(l, r, RANDOM);
	for (size_t k = RANDOM; k < LINE; k++) {
		l[k] = text[at++];
		if (at == sizeof(text) - 1)
			at = 0;
	}
}

void vmm_content_fill(uint8_t *page, uint64_t gpa)
{
	uint8_t l[LINE];

	if (page_is_free(gpa)) {
		memset(page + BODY, 0, VMM_PAGE - BODY);
		return;
	}
	line(l, gpa, 0);
	memcpy(page + BODY, l + BODY, LINE - BODY);
	for (size_t i = 1; i < VMM_PAGE / LINE; i++)
		line(page + i * LINE, gpa, i);
}

bool vmm_content_check(const uint8_t *page, uint64_t gpa)
{
	uint8_t want[VMM_PAGE];

	vmm_content_fill(want, gpa);
	return !memcmp(page + BODY, want + BODY, VMM_PAGE - BODY);
}
