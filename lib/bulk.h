/*
 * bulk.h -- build a tree bottom-up from keys in sorted order.
 *
 * Leaves are filled to the fill factor and written as they fill (at 100%
 * they are long leaves, up to WRI_LEAF_MAX bytes, and the file's format
 * version is raised to WRI_VERSION_LONG_LEAVES; the last leaf takes the
 * fewest blocks that hold it; an overflow value's whole blocks go to its
 * run and its last part block into its cell, WRI_VERSION_TAILS; one
 * shorter than a block goes whole into its cell, WRI_VERSION_PACKED); each
 * written page adds its first key and address to a page of the level above,
 * which is written when it fills in turn. No path copying: every page is
 * written once. wri_bulk_finish() writes the partial pages of every level
 * and commits the block checkpoint. The block file must hold an empty tree
 * (freshly created); a dry run (wri_bulk_open_dry) counts pages instead
 * of writing them. Memory: one page per level. Calls block, page,
 * bsonkey.
 */
#ifndef WR_BULK_H
#define WR_BULK_H

#include "block.h"
#include "wr.h"

#include <stdint.h>

typedef struct wri_bulk wri_bulk;

/* fill_pct: 10..100, how full to make each page (100 = as full as fits). */
int wri_bulk_open(wri_block *blk, unsigned fill_pct, wri_bulk **out,
                  wr_errbuf *eb);
/* A dry run: the same build with nothing written; page writes only count
 * bytes, so wri_bulk_bytes() after wri_bulk_finish() is exactly what a
 * real build into a new file of page_size pages adds past the two header
 * blocks (compaction's --dry-run estimate). */
int wri_bulk_open_dry(uint32_t page_size, unsigned fill_pct, wri_bulk **out,
                      wr_errbuf *eb);
/* Bytes an item of these lengths takes inside the pages this loader
 * writes: its leaf cell with its slot entry, and for an overflow value
 * its run's header (none for a packed value) and its bytes. Reads only
 * what the open set, so another thread than the one adding may call it. */
uint64_t wri_bulk_item_live(const wri_bulk *b, uint32_t klen, uint32_t vlen);
/* Keys must be strictly increasing (wri_key_cmp); WR_EINVAL otherwise. */
int wri_bulk_add(wri_bulk *b, const uint8_t *key, uint32_t klen,
                 const uint8_t *val, uint32_t vlen, wr_errbuf *eb);
/* Write what is pending and commit the checkpoint. */
int wri_bulk_finish(wri_bulk *b, wr_errbuf *eb);
void wri_bulk_free(wri_bulk *b);
uint64_t wri_bulk_count(const wri_bulk *b);
/* Bytes of pages written (or, dry, counted) so far: leaf, internal and
 * overflow pages. */
uint64_t wri_bulk_bytes(const wri_bulk *b);

#endif /* WR_BULK_H */
