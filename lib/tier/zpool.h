/* SPDX-License-Identifier: MIT */
/*
 * A compact pool for compressed pages: objects up to 4 KiB packed by size class (64-byte
 * steps) into 64 KiB blocks, bigger ones (compressed huge pages) allocated alone. A slot
 * is an index into a table of handles, 16 bytes per stored object.
 */
#ifndef RWP_ZPOOL_H
#define RWP_ZPOOL_H

#include <stddef.h>
#include <stdint.h>

struct zpool;

struct zpool *zpool_new(void);
void zpool_free(struct zpool *p);
/* Reserve len bytes; returns the slot (>= 0) and the buffer to fill in *buf. */
int64_t zpool_alloc(struct zpool *p, uint32_t len, uint8_t **buf);
/* The object of a slot and its length. */
const uint8_t *zpool_get(const struct zpool *p, uint32_t slot, uint32_t *len);
void zpool_release(struct zpool *p, uint32_t slot);
/* Bytes of memory the pool holds (blocks, big objects, the handle table). */
uint64_t zpool_used_bytes(const struct zpool *p);

#endif
