/* SPDX-License-Identifier: MIT */
/*
 * Ground truth for tracking tests: what a test did to each page of a guestmem (nothing,
 * read, write), the value it expects at one probe word per page, and the idle ages that
 * follow. truth_check() compares a region's last interval against it, page by page.
 */
#ifndef RWP_TEST_TRUTH_H
#define RWP_TEST_TRUTH_H

#include "guestmem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { TOUCH_NONE = 0, TOUCH_READ = 1, TOUCH_WRITE = 2 };

struct truth {
	struct guestmem *g;
	size_t nr_pages;
	uint8_t min_touch;   /* TOUCH_READ, or TOUCH_WRITE if the backend sees writes only */
	bool dirty;	     /* the backend reports the written set */
	uint8_t *touch;	     /* this interval, per page */
	uint8_t *age;	     /* expected idle ages */
	uint64_t *shadow;    /* expected value of each page's probe word */
	uint64_t *bits;	     /* scratch bitmap */
	uint8_t *ages;	     /* scratch ages */
	size_t bad_data;     /* probe words that read back wrong */
};

/*
 * The probe word of a page: somewhere inside it, not only at its start, and in a different
 * 4 KiB subpage of each huge page.
 */
static inline volatile uint64_t *probe_word(const struct guestmem *g, size_t pg)
{
	size_t off = (pg * 4160) % g->page_size & ~7UL;

	return (volatile uint64_t *)(g->base + pg * g->page_size + off);
}

static inline uint64_t stamp(size_t pg, unsigned int gen)
{
	return ((uint64_t)gen << 40) ^ (pg * 0x9e3779b97f4a7c15ULL) ^ 0x5a5a;
}

int truth_init(struct truth *t, struct guestmem *g);
void truth_free(struct truth *t);
/* What the region's backend sees (RWP_SEES_*) decides what counts as an access. */
void truth_sees(struct truth *t, unsigned int sees);

/* Before registration: write stamp(pg, 0) into pages [first, first + n), not counted. */
void truth_populate(struct truth *t, size_t first, size_t n);

/* Accesses the test makes through the guest mapping; reads verify the shadow value. */
void truth_read(struct truth *t, size_t pg);
void truth_write(struct truth *t, size_t pg, uint64_t v);
/* Record an access made by other means (the kernel, a child): TOUCH_READ or TOUCH_WRITE. */
void truth_note(struct truth *t, size_t pg, int kind);

/* About one page in `one_in` read or written at random (a third of them written). */
void truth_touch_random(struct truth *t, size_t first, size_t n, unsigned int one_in,
			unsigned int gen, uint64_t *seed);

/* Pages of this interval that the backend must report hot. */
size_t truth_expected_hot(const struct truth *t);

/*
 * After a tick: the region's hot set, dirty set, ages and working-set sizes must equal the
 * truth. Starts the next interval of the truth. Prints what differs and returns false.
 */
bool truth_check(struct truth *t, const struct rwp_region *r, const char *what);

/*
 * A directory on a disk filesystem (not tmpfs, ramfs or hugetlbfs): RWP_TEST_DIR, TMPDIR,
 * /var/tmp, /tmp or the working directory. NULL if there is none.
 */
const char *test_disk_dir(void);

#endif
