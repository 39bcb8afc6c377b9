/* SPDX-License-Identifier: MIT */
/*
 * A compact pool for compressed pages, kept entirely in one file (a memfd, or a file in
 * the context's state directory) so that it outlives the process that filled it: objects
 * up to 4 KiB are packed by size class (64-byte steps) into 64 KiB blocks, bigger ones
 * (compressed huge pages) take runs of whole blocks. A slot indexes a table of handles
 * in the file. Empty blocks are punched, so the file's blocks are the pool's true size.
 */
#ifndef RWP_ZPOOL_H
#define RWP_ZPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zpool;

/*
 * Open the pool in fd (an empty file starts a new pool). Fails with -EINVAL on a file
 * that is not a pool.
 */
int zpool_open(int fd, struct zpool **out);
void zpool_close(struct zpool *p);
/* Reserve len bytes for an object of `kind` (the caller's tag); slot >= 0, buffer in *buf. */
int64_t zpool_alloc(struct zpool *p, uint32_t len, uint8_t kind, uint8_t **buf);
/* The object of a slot, its length and kind; NULL for a free slot. */
const uint8_t *zpool_get(const struct zpool *p, uint32_t slot, uint32_t *len, uint8_t *kind);
void zpool_release(struct zpool *p, uint32_t slot);
/* Slots in use, for the owner to free the ones nothing refers to after a crash. */
bool zpool_in_use(const struct zpool *p, uint32_t slot);
uint32_t zpool_slot_limit(const struct zpool *p);
/* Bytes of memory the pool's file really holds. */
uint64_t zpool_used_bytes(const struct zpool *p);

#endif
