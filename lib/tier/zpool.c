// SPDX-License-Identifier: MIT
/*
 * File layout (offsets fixed, the file sparse):
 *   [0, 4K)            header
 *   [HANDLES, +16*NH)  handle table: {u64 off, u32 len, u8 kind, u8 used, u16 pad}
 *   [METAS, +136*NB)   block metadata: {u16 class, u16 used, u32 run, u64 bitmap[16]}
 *   [BLOCKS, ...)      64 KiB blocks
 * A used handle points into a block whose bitmap has the object's bit set. What is only
 * in memory (lists of blocks with room, free handles) is rebuilt when the file is opened.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "zpool.h"
#include "pagestate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC 0x4c4f4f505a505752ULL /* "RWPZPOOL" */
#define BLOCK 65536u
#define STEP 64u
#define NR_CLASSES (4096u / STEP)
#define MAX_OBJS (BLOCK / STEP)
#define BIG 0xffff	     /* class of a block run holding one big object */
#define CONT 0xfffe	     /* class of the blocks a run continues into */
#define NH (1ULL << 27)	     /* handles: every slot a page state can name */
#define NB (1ULL << 20)	     /* blocks: 64 GiB of compressed data */
#define HANDLES 4096ULL
#define METAS (HANDLES + NH * 16)
#define BLOCKS ((METAS + NB * 136 + BLOCK - 1) / BLOCK * BLOCK)
#define FILE_SIZE (BLOCKS + NB * BLOCK)
#define NONE UINT32_MAX

struct zheader {
	uint64_t magic;
	uint32_t version;
	uint32_t pad;
	uint64_t handles_hw; /* handles ever used: [0, hw) */
	uint64_t blocks_hw;  /* blocks ever used */
};

struct zhandle {
	uint64_t off;
	uint32_t len;
	uint8_t kind;
	uint8_t used;
	uint16_t pad;
};

struct zmeta {
	uint16_t cls;
	uint16_t used;
	uint32_t run; /* BIG: blocks in the run */
	uint64_t bitmap[MAX_OBJS / 64];
};

struct zpool {
	int fd;
	uint8_t *map;
	struct zheader *hdr;
	struct zhandle *handles;
	struct zmeta *metas;
	/* in memory only */
	uint32_t *next_partial; /* per block: the next block of its class with room */
	uint32_t partial[NR_CLASSES];
	uint32_t *free_handles;
	uint64_t nr_free_handles, cap_free_handles;
	uint32_t *free_blocks;
	uint64_t nr_free_blocks, cap_free_blocks;
};

static uint32_t obj_size(unsigned int cls)
{
	return (cls + 1) * STEP;
}

static uint32_t objs_per_block(unsigned int cls)
{
	return BLOCK / obj_size(cls);
}

static uint32_t block_of(uint64_t off)
{
	return (off - BLOCKS) / BLOCK;
}

static int push(uint32_t **v, uint64_t *n, uint64_t *cap, uint32_t x)
{
	if (*n == *cap) {
		uint64_t c = *cap ? *cap * 2 : 1024;
		void *nv = realloc(*v, c * sizeof(**v));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

static void punch(struct zpool *p, uint32_t b, uint32_t n)
{
	/* gives the memory back; the metadata says the blocks are free */
	fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		  BLOCKS + (uint64_t)b * BLOCK, (uint64_t)n * BLOCK);
}

/*
 * Rebuild from the file. The handle table is the truth: a block's bitmap and count are
 * recomputed from the handles that point into it, so whatever an owner killed between
 * two stores left behind is at worst space freed again, never an object shared.
 */
static int rebuild(struct zpool *p)
{
	for (unsigned int c = 0; c < NR_CLASSES; c++)
		p->partial[c] = NONE;
	for (uint64_t b = 0; b < p->hdr->blocks_hw; b++) {
		struct zmeta *m = &p->metas[b];

		m->used = 0;
		memset(m->bitmap, 0, sizeof(m->bitmap));
		if (m->cls == CONT)
			m->cls = 0; /* a run is re-marked from its big object below */
	}
	for (uint64_t h = 0; h < p->hdr->handles_hw; h++) {
		struct zhandle *zh = &p->handles[h];
		uint32_t b;
		struct zmeta *m;

		if (!zh->used)
			continue;
		if (zh->off < BLOCKS || (b = block_of(zh->off)) >= p->hdr->blocks_hw) {
			*zh = (struct zhandle){ 0 }; /* points nowhere: forget it */
			continue;
		}
		m = &p->metas[b];
		if (zh->len > 4096) {
			uint32_t n = (zh->len + BLOCK - 1) / BLOCK;

			*m = (struct zmeta){ .cls = BIG, .used = 1, .run = n };
			for (uint32_t i = 1; i < n && b + i < p->hdr->blocks_hw; i++)
				p->metas[b + i] = (struct zmeta){ .cls = CONT };
			continue;
		}
		uint32_t obj = (zh->off - (BLOCKS + (uint64_t)b * BLOCK)) / obj_size(m->cls);

		m->bitmap[obj / 64] |= 1ULL << (obj % 64);
		m->used++;
	}
	for (uint64_t h = 0; h < p->hdr->handles_hw; h++)
		if (!p->handles[h].used && push(&p->free_handles, &p->nr_free_handles,
						&p->cap_free_handles, h))
			return -ENOMEM;
	for (uint64_t b = p->hdr->blocks_hw; b-- > 0;) {
		struct zmeta *m = &p->metas[b];

		if (m->cls == CONT)
			continue;
		if (!m->used) {
			punch(p, b, 1);
			if (push(&p->free_blocks, &p->nr_free_blocks, &p->cap_free_blocks, b))
				return -ENOMEM;
			continue;
		}
		if (m->cls < NR_CLASSES && m->used < objs_per_block(m->cls)) {
			p->next_partial[b] = p->partial[m->cls];
			p->partial[m->cls] = b;
		}
	}
	return 0;
}

int zpool_open(int fd, struct zpool **out)
{
	struct zpool *p = calloc(1, sizeof(*p));
	struct stat st;
	int ret = -ENOMEM;

	if (!p)
		return -ENOMEM;
	p->fd = fd;
	if (fstat(fd, &st) || ((uint64_t)st.st_size < FILE_SIZE && ftruncate(fd, FILE_SIZE))) {
		ret = -errno;
		goto err;
	}
	p->map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p->map == MAP_FAILED) {
		p->map = NULL;
		ret = -errno;
		goto err;
	}
	p->hdr = (struct zheader *)p->map;
	p->handles = (struct zhandle *)(p->map + HANDLES);
	p->metas = (struct zmeta *)(p->map + METAS);
	if (!p->hdr->magic) {
		p->hdr->version = 1;
		p->hdr->magic = MAGIC;
	} else if (p->hdr->magic != MAGIC || p->hdr->version != 1) {
		ret = -EINVAL;
		goto err;
	}
	p->next_partial = calloc(NB, sizeof(*p->next_partial));
	if (!p->next_partial || rebuild(p))
		goto err;
	*out = p;
	return 0;
err:
	zpool_close(p);
	return ret;
}

void zpool_close(struct zpool *p)
{
	if (!p)
		return;
	if (p->map)
		munmap(p->map, FILE_SIZE);
	free(p->next_partial);
	free(p->free_handles);
	free(p->free_blocks);
	free(p);
}

static int64_t new_handle(struct zpool *p)
{
	if (p->nr_free_handles)
		return p->free_handles[--p->nr_free_handles];
	if (p->hdr->handles_hw == NH)
		return -ENOSPC;
	return p->hdr->handles_hw++;
}

/*
 * n free consecutive blocks (n == 1 reuses a freed one). Their memory is allocated and
 * mapped in one call rather than by a fault per 4 KiB as objects are written.
 */
static int64_t new_blocks(struct zpool *p, uint32_t n)
{
	uint64_t b;

	if (n == 1 && p->nr_free_blocks) {
		b = p->free_blocks[--p->nr_free_blocks];
	} else {
		if (p->hdr->blocks_hw + n > NB)
			return -ENOSPC;
		b = p->hdr->blocks_hw;
		p->hdr->blocks_hw += n;
	}
	/* best effort: without it (Linux < 5.14) the writes fault the pages in */
	madvise(p->map + BLOCKS + b * BLOCK, (size_t)n * BLOCK, MADV_POPULATE_WRITE);
	return b;
}

int64_t zpool_alloc(struct zpool *p, uint32_t len, uint8_t kind, uint8_t **buf)
{
	int64_t h = new_handle(p), b;
	struct zhandle *zh;
	uint64_t off;

	if (h < 0)
		return h;
	if (len > 4096) {
		uint32_t n = (len + BLOCK - 1) / BLOCK;

		b = new_blocks(p, n);
		if (b < 0)
			goto fail;
		p->metas[b] = (struct zmeta){ .cls = BIG, .used = 1, .run = n };
		for (uint32_t i = 1; i < n; i++)
			p->metas[b + i] = (struct zmeta){ .cls = CONT };
		off = BLOCKS + (uint64_t)b * BLOCK;
	} else {
		unsigned int cls = len ? (len - 1) / STEP : 0;
		struct zmeta *m;
		uint32_t obj = 0;

		b = p->partial[cls];
		if (b == NONE) {
			b = new_blocks(p, 1);
			if (b < 0)
				goto fail;
			p->metas[b] = (struct zmeta){ .cls = cls };
			p->next_partial[b] = NONE;
			p->partial[cls] = b;
		}
		m = &p->metas[b];
		for (uint32_t w = 0; w < MAX_OBJS / 64; w++) {
			if (~m->bitmap[w]) {
				obj = w * 64 + __builtin_ctzll(~m->bitmap[w]);
				break;
			}
		}
		m->bitmap[obj / 64] |= 1ULL << (obj % 64);
		if (++m->used == objs_per_block(cls))
			p->partial[cls] = p->next_partial[b]; /* full: off the list */
		off = BLOCKS + (uint64_t)b * BLOCK + (uint64_t)obj * obj_size(cls);
	}
	zh = &p->handles[h];
	*zh = (struct zhandle){ .off = off, .len = len, .kind = kind, .used = 1 };
	*buf = p->map + off;
	return h;
fail:
	push(&p->free_handles, &p->nr_free_handles, &p->cap_free_handles, h);
	return b;
}

const uint8_t *zpool_get(const struct zpool *p, uint32_t slot, uint32_t *len, uint8_t *kind)
{
	const struct zhandle *zh;

	if (slot >= p->hdr->handles_hw || !p->handles[slot].used)
		return NULL;
	zh = &p->handles[slot];
	*len = zh->len;
	*kind = zh->kind;
	return p->map + zh->off;
}

bool zpool_in_use(const struct zpool *p, uint32_t slot)
{
	return slot < p->hdr->handles_hw && p->handles[slot].used;
}

uint32_t zpool_slot_limit(const struct zpool *p)
{
	return p->hdr->handles_hw;
}

static void unlink_partial(struct zpool *p, uint32_t b)
{
	uint32_t *pp = &p->partial[p->metas[b].cls];

	while (*pp != NONE && *pp != b)
		pp = &p->next_partial[*pp];
	if (*pp == b)
		*pp = p->next_partial[b];
}

void zpool_release(struct zpool *p, uint32_t slot)
{
	struct zhandle *zh;
	struct zmeta *m;
	uint32_t b;

	if (!zpool_in_use(p, slot))
		return;
	zh = &p->handles[slot];
	b = block_of(zh->off);
	m = &p->metas[b];
	uint64_t off = zh->off;

	/* the handle goes first: a crash after it leaves space unused, not an object shared */
	__atomic_store_n(&zh->used, 0, __ATOMIC_RELEASE);
	if (m->cls == BIG) {
		uint32_t n = m->run;

		for (uint32_t i = 0; i < n; i++)
			p->metas[b + i] = (struct zmeta){ 0 };
		punch(p, b, n);
		for (uint32_t i = 0; i < n; i++)
			push(&p->free_blocks, &p->nr_free_blocks, &p->cap_free_blocks, b + i);
	} else {
		unsigned int cls = m->cls;
		uint32_t obj = (off - (BLOCKS + (uint64_t)b * BLOCK)) / obj_size(cls);
		bool was_full = m->used == objs_per_block(cls);

		m->bitmap[obj / 64] &= ~(1ULL << (obj % 64));
		m->used--;
		if (!m->used) {
			if (!was_full)
				unlink_partial(p, b);
			punch(p, b, 1);
			push(&p->free_blocks, &p->nr_free_blocks, &p->cap_free_blocks, b);
		} else if (was_full) {
			p->next_partial[b] = p->partial[cls];
			p->partial[cls] = b;
		}
	}
	*zh = (struct zhandle){ 0 };
	push(&p->free_handles, &p->nr_free_handles, &p->cap_free_handles, slot);
}

uint64_t zpool_used_bytes(const struct zpool *p)
{
	struct stat st;

	return fstat(p->fd, &st) ? 0 : (uint64_t)st.st_blocks * 512;
}
