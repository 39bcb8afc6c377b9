// SPDX-License-Identifier: MIT
#include "zpool.h"
#include "pagestate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE 65536u
#define CLASS_STEP 64u
#define NR_CLASSES (4096u / CLASS_STEP)
#define MAX_OBJS (BLOCK_SIZE / CLASS_STEP)
#define NO_BLOCK UINT32_MAX

struct zblock {
	uint8_t *base;
	uint32_t next_partial; /* next block of this class with room, or NO_BLOCK */
	uint16_t cls;
	uint16_t used;
	uint64_t freemap[MAX_OBJS / 64]; /* bit set = object in use */
};

struct zhandle {
	uint8_t *ptr;	/* NULL: free handle */
	uint32_t len;
	uint32_t block; /* NO_BLOCK: allocated alone */
};

struct zpool {
	struct zblock *blocks;
	uint32_t nr_blocks, cap_blocks;
	uint32_t free_block;		   /* a released zblock entry to reuse, or NO_BLOCK */
	uint32_t partial[NR_CLASSES];	   /* head of each class's list of blocks with room */
	struct zhandle *handles;
	uint32_t nr_handles, cap_handles;
	uint32_t *free_handles;
	uint32_t nr_free_handles;
	uint64_t big_bytes;
	uint32_t live_blocks;
};

static uint32_t obj_size(unsigned int cls)
{
	return (cls + 1) * CLASS_STEP;
}

static uint32_t objs_per_block(unsigned int cls)
{
	return BLOCK_SIZE / obj_size(cls);
}

struct zpool *zpool_new(void)
{
	struct zpool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->free_block = NO_BLOCK;
	for (unsigned int c = 0; c < NR_CLASSES; c++)
		p->partial[c] = NO_BLOCK;
	return p;
}

void zpool_free(struct zpool *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nr_blocks; i++)
		free(p->blocks[i].base);
	for (uint32_t i = 0; i < p->nr_handles; i++)
		if (p->handles[i].ptr && p->handles[i].block == NO_BLOCK)
			free(p->handles[i].ptr);
	free(p->blocks);
	free(p->handles);
	free(p->free_handles);
	free(p);
}

static int64_t new_handle(struct zpool *p)
{
	if (p->nr_free_handles)
		return p->free_handles[--p->nr_free_handles];
	if (p->nr_handles == p->cap_handles) {
		uint32_t cap = p->cap_handles ? p->cap_handles * 2 : 4096;
		void *h, *f;

		if (cap > PS_SLOT_MAX + 1u)
			cap = PS_SLOT_MAX + 1u;
		if (p->nr_handles >= cap)
			return -ENOSPC;
		h = realloc(p->handles, cap * sizeof(*p->handles));
		if (!h)
			return -ENOMEM;
		p->handles = h;
		f = realloc(p->free_handles, cap * sizeof(*p->free_handles));
		if (!f)
			return -ENOMEM;
		p->free_handles = f;
		p->cap_handles = cap;
	}
	return p->nr_handles++;
}

static int64_t new_block(struct zpool *p, unsigned int cls)
{
	uint32_t b;

	if (p->free_block != NO_BLOCK) {
		b = p->free_block;
		p->free_block = p->blocks[b].next_partial;
	} else {
		if (p->nr_blocks == p->cap_blocks) {
			uint32_t cap = p->cap_blocks ? p->cap_blocks * 2 : 64;
			void *v = realloc(p->blocks, cap * sizeof(*p->blocks));

			if (!v)
				return -ENOMEM;
			p->blocks = v;
			p->cap_blocks = cap;
		}
		b = p->nr_blocks++;
	}
	struct zblock *blk = &p->blocks[b];

	memset(blk, 0, sizeof(*blk));
	blk->base = malloc(BLOCK_SIZE);
	if (!blk->base) {
		blk->next_partial = p->free_block;
		p->free_block = b;
		return -ENOMEM;
	}
	blk->cls = cls;
	blk->next_partial = p->partial[cls];
	p->partial[cls] = b;
	p->live_blocks++;
	return b;
}

int64_t zpool_alloc(struct zpool *p, uint32_t len, uint8_t **buf)
{
	int64_t h = new_handle(p);

	if (h < 0)
		return h;
	struct zhandle *zh = &p->handles[h];

	if (len > 4096) {
		zh->ptr = malloc(len);
		if (!zh->ptr)
			goto nomem;
		zh->block = NO_BLOCK;
		p->big_bytes += len;
	} else {
		unsigned int cls = (len + CLASS_STEP - 1) / CLASS_STEP - (len ? 1 : 0);
		int64_t b = p->partial[cls];

		if (b == NO_BLOCK && (b = new_block(p, cls)) < 0)
			goto nomem;
		struct zblock *blk = &p->blocks[b];
		uint32_t obj = 0;

		for (uint32_t w = 0; w < MAX_OBJS / 64; w++) {
			if (~blk->freemap[w]) {
				obj = w * 64 + __builtin_ctzll(~blk->freemap[w]);
				break;
			}
		}
		blk->freemap[obj / 64] |= 1ULL << (obj % 64);
		if (++blk->used == objs_per_block(cls))
			p->partial[cls] = blk->next_partial; /* full: off the list */
		zh->ptr = blk->base + obj * obj_size(cls);
		zh->block = b;
	}
	zh->len = len;
	*buf = zh->ptr;
	return h;
nomem:
	zh->ptr = NULL;
	p->free_handles[p->nr_free_handles++] = h;
	return -ENOMEM;
}

const uint8_t *zpool_get(const struct zpool *p, uint32_t slot, uint32_t *len)
{
	if (slot >= p->nr_handles || !p->handles[slot].ptr)
		return NULL;
	*len = p->handles[slot].len;
	return p->handles[slot].ptr;
}

static void unlink_partial(struct zpool *p, uint32_t b)
{
	uint32_t *pp = &p->partial[p->blocks[b].cls];

	while (*pp != NO_BLOCK && *pp != b)
		pp = &p->blocks[*pp].next_partial;
	if (*pp == b)
		*pp = p->blocks[b].next_partial;
}

void zpool_release(struct zpool *p, uint32_t slot)
{
	struct zhandle *zh;

	if (slot >= p->nr_handles || !p->handles[slot].ptr)
		return;
	zh = &p->handles[slot];
	if (zh->block == NO_BLOCK) {
		p->big_bytes -= zh->len;
		free(zh->ptr);
	} else {
		struct zblock *blk = &p->blocks[zh->block];
		unsigned int cls = blk->cls;
		uint32_t obj = (zh->ptr - blk->base) / obj_size(cls);
		bool was_full = blk->used == objs_per_block(cls);

		blk->freemap[obj / 64] &= ~(1ULL << (obj % 64));
		blk->used--;
		if (!blk->used) {
			/* empty: give the memory back */
			if (!was_full)
				unlink_partial(p, zh->block);
			free(blk->base);
			blk->base = NULL;
			blk->next_partial = p->free_block;
			p->free_block = zh->block;
			p->live_blocks--;
		} else if (was_full) {
			blk->next_partial = p->partial[cls];
			p->partial[cls] = zh->block;
		}
	}
	zh->ptr = NULL;
	p->free_handles[p->nr_free_handles++] = slot;
}

uint64_t zpool_used_bytes(const struct zpool *p)
{
	return (uint64_t)p->live_blocks * BLOCK_SIZE + p->big_bytes +
	       (uint64_t)p->cap_handles * (sizeof(struct zhandle) + sizeof(uint32_t));
}
