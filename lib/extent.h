/*
 * extent.h -- free-space bookkeeping of one tree file, in memory.
 *
 * Owns three extent lists (DESIGN decision 7):
 *   alloc   extents handed out while building the checkpoint in progress;
 *           not reachable from any committed checkpoint, so freeing one
 *           returns it to avail at once. Memory only; empty after a commit.
 *   avail   free extents, indexed by two skiplists: by offset (to coalesce
 *           neighbours) and by size (best fit: the smallest extent that
 *           fits, lowest offset among equals).
 *   discard extents freed while building checkpoint G (tagged G) that may
 *           still be reachable from the committed checkpoints; they move to
 *           avail once checkpoint G+1 has committed, so the trees behind
 *           both header slots stay complete on disk.
 * Invariants: extents are block-aligned (multiples of the page size), never
 * overlap across or within lists, and lie below the logical size; adjacent
 * avail extents are always coalesced.
 *
 * This module does no I/O: block.c persists the lists in extent-list
 * pages (wri_extent_walk() gives it the entries to write at a checkpoint;
 * on open, pagesrc.c's wri_ps_walk_lists() reads them, wri_extlist_entry()
 * judges each, and wri_extent_insert() takes them back in). Calls only
 * err.
 */
#ifndef WR_EXTENT_H
#define WR_EXTENT_H

#include "wr.h"

#include <stdint.h>

typedef enum wri_ext_kind {
    WRI_EXT_AVAIL = 1,
    WRI_EXT_DISCARD = 2,
} wri_ext_kind;

typedef struct wri_ext {
    uint64_t off;
    uint64_t len;
    uint64_t gen; /* discard: generation being built when freed; avail: 0 */
    uint32_t kind; /* wri_ext_kind */
} wri_ext;

typedef struct wri_extmgr wri_extmgr;

/* A manager for a file of page_size blocks whose data ends at logical_size
 * (header blocks included). first_data is the first offset pages may use. */
int wri_extent_create(uint32_t page_size, uint64_t first_data,
                      uint64_t logical_size, wri_extmgr **out, wr_errbuf *eb);
void wri_extent_destroy(wri_extmgr *em);

/* Best-fit allocation of len bytes (a multiple of the page size); extends
 * the logical size when no avail extent fits. Records the extent in alloc. */
int wri_extent_alloc(wri_extmgr *em, uint64_t len, uint64_t *off_out,
                     wr_errbuf *eb);
/* Free [off, off+len): to avail if it was allocated in this checkpoint
 * (alloc list), else to discard tagged building_gen. Freeing something not
 * owned (overlapping avail or discard, or past the logical size) is
 * WR_EINVAL. */
int wri_extent_free(wri_extmgr *em, uint64_t off, uint64_t len,
                    uint64_t building_gen, wr_errbuf *eb);
/* Checkpoint committed_gen is durable: discard extents tagged
 * <= committed_gen - 1 move to avail, alloc empties. */
void wri_extent_commit(wri_extmgr *em, uint64_t committed_gen);
/* If the highest avail extent ends at the logical size, remove it and
 * lower the logical size (the free tail is given back). Returns the new
 * logical size. */
uint64_t wri_extent_trim_tail(wri_extmgr *em);

uint64_t wri_extent_logical_size(const wri_extmgr *em);
/* Add an extent read from disk (open): avail extents coalesce; overlaps
 * with what is already present are WR_ECORRUPT. */
int wri_extent_insert(wri_extmgr *em, const wri_ext *e, wr_errbuf *eb);

/* Counts and byte totals. */
typedef struct wri_extent_stats {
    uint64_t avail_count, avail_bytes;
    uint64_t discard_count, discard_bytes;
    uint64_t alloc_count, alloc_bytes;
} wri_extent_stats;
void wri_extent_stats_get(const wri_extmgr *em, wri_extent_stats *st);

/* Iterate avail (by offset) then discard (by offset); the callback returns
 * nonzero to stop. Returns what the callback returned, or 0. */
typedef int (*wri_ext_visit_fn)(const wri_ext *e, void *arg);
int wri_extent_walk(const wri_extmgr *em, wri_ext_visit_fn fn, void *arg);
/* Iterate the alloc list by offset. */
int wri_extent_walk_alloc(const wri_extmgr *em, wri_ext_visit_fn fn,
                          void *arg);
/* Number of avail + discard entries, as persisted. */
uint64_t wri_extent_count(const wri_extmgr *em);

/* Is [off, off+len) entirely free (in avail)? For tests and verify. */
int wri_extent_is_avail(const wri_extmgr *em, uint64_t off, uint64_t len);
/* Does [off, off+len) overlap any avail, discard or alloc extent? Returns
 * 1 and copies the first one found into *found (may be NULL; an alloc
 * extent has kind 0), else 0. For open, tests and verify. */
int wri_extent_find_overlap(const wri_extmgr *em, uint64_t off, uint64_t len,
                            wri_ext *found);
/* Check every invariant of the lists (E1..E6 in extent.c): ordering of
 * every skiplist level, no overlap, coalescing, by-size list consistent.
 * WR_ECORRUPT naming the broken one. For tests and verify. */
int wri_extent_check(const wri_extmgr *em, wr_errbuf *eb);

#endif /* WR_EXTENT_H */
