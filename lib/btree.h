/*
 * btree.h -- the copy-on-write B+tree of one tree file.
 *
 * Pages are read into in-memory nodes on demand. A change marks the path
 * from the leaf to the root dirty; the first time a node that lives on disk
 * becomes dirty, its page is freed to the block layer (discard list: it
 * stays intact while a committed checkpoint may reach it). A checkpoint
 * writes every dirty node to new extents, children before parents, then
 * commits the block file's checkpoint with the new root. Pages reachable
 * from a committed checkpoint are therefore never overwritten.
 *
 * Splits keep every node within one page, or a leaf that holds a value
 * tail within a long leaf (btree.c B6); a delete or a shrinking update
 * that leaves a node under a quarter full merges it with a sibling when
 * both fit in one page, and an empty node is removed, so the tree shrinks
 * as keys go and values shrink. Values longer
 * than wri_page_max_inline() live in overflow pages, except what the
 * bulk loader's rule keeps in the cell (page.h wri_leaf_tail: a value
 * shorter than a block packed whole, the last part block of a longer
 * one; btree.c B7).
 *
 * Keys are key documents (bsonkey.h) of nkeyelem elements, ordered by
 * wri_key_cmp. Calls block, page, bsonkey.
 */
#ifndef WR_BTREE_H
#define WR_BTREE_H

#include "block.h"
#include "bsoncheck.h"
#include "page.h"
#include "wr.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct wri_node wri_node;

typedef struct wri_btree {
    wri_block *blk;
    int nkeyelem;         /* 1: main table, 2: index */
    wri_node *root;       /* NULL when the tree is empty */
    wr_addr root_addr;    /* root on disk, while root is not loaded */
    uint64_t nrecords;
    uint32_t height;      /* 0 = empty, 1 = a single leaf */
    bool readonly;
    bool changed;         /* changes since the last checkpoint */
    uint64_t mem;         /* heap held by loaded nodes (B5 in btree.c) */
    uint64_t *total;      /* NULL, or a sum of trees' mem that moves with
                           * mem (the database's, db.c) */
    unsigned cursors;     /* open cursors: nodes they hold stay loaded */
    uint32_t epoch;       /* evictions so far: a node reached since the
                           * last one is warm (btree.c) */
    uint32_t leaf_max;    /* longest leaf it writes (B6): WRI_LEAF_MAX
                           * below 64 KiB pages, else one page */
    uint8_t *scratch;     /* leaf_max bytes of encode space */
} wri_btree;

/* Open the tree of the checkpoint blk was opened at. */
int wri_btree_open(wri_block *blk, int nkeyelem, wri_btree **out,
                   wr_errbuf *eb);
/* Frees memory; unsaved changes are dropped (the file keeps its last
 * checkpoint). Does not close blk. */
void wri_btree_close(wri_btree *t);

/* Look up a key: WR_OK with a malloc'd copy of the value (free() it), or
 * WR_ENOTFOUND. val_out may be NULL to test presence. */
int wri_btree_get(wri_btree *t, const uint8_t *key, uint32_t klen,
                  uint8_t **val_out, uint32_t *vlen_out, wr_errbuf *eb);
/* Insert or replace; *replaced_out (may be NULL) says which. Keys longer
 * than wri_page_max_key() are WR_EINVAL. */
int wri_btree_put(wri_btree *t, const uint8_t *key, uint32_t klen,
                  const uint8_t *val, uint32_t vlen, bool *replaced_out,
                  wr_errbuf *eb);
/* Remove a key: WR_OK or WR_ENOTFOUND. */
int wri_btree_delete(wri_btree *t, const uint8_t *key, uint32_t klen,
                     wr_errbuf *eb);
/* Write every dirty node and commit the block checkpoint. */
int wri_btree_checkpoint(wri_btree *t, wr_errbuf *eb);
/* Bound the memory: write every dirty node to new extents without
 * committing (an early write: the file's checkpoints are untouched, so a
 * crash still leaves the last commit), then forget loaded nodes, leaves
 * first and on each level those not reached since the last eviction
 * first, until t->mem <= keep. Does nothing while a cursor is open on t
 * (its nodes stay loaded; wri_cursor_open counts them). A later
 * checkpoint commits what was written. */
int wri_btree_evict(wri_btree *t, uint64_t keep, wr_errbuf *eb);
/* Are there changes not yet checkpointed? */
bool wri_btree_dirty(const wri_btree *t);

/* Ordered cursor. A cursor is invalid after the tree changes (put, delete,
 * checkpoint, evict); open a new one. A cursor frees the clean nodes it
 * has finished with, so a scan's memory does not grow with the tree. */
typedef struct wri_cursor wri_cursor;
int wri_cursor_open(wri_btree *t, wri_cursor **out, wr_errbuf *eb);
void wri_cursor_close(wri_cursor *c);
/* Position: WR_OK, or WR_ENOTFOUND when there is no such item. */
int wri_cursor_first(wri_cursor *c, wr_errbuf *eb);
int wri_cursor_last(wri_cursor *c, wr_errbuf *eb);
/* First item with key >= key. */
int wri_cursor_seek(wri_cursor *c, const uint8_t *key, uint32_t klen,
                    wr_errbuf *eb);
int wri_cursor_next(wri_cursor *c, wr_errbuf *eb);
int wri_cursor_prev(wri_cursor *c, wr_errbuf *eb);
/* Current key; valid until the cursor moves. */
void wri_cursor_key(const wri_cursor *c, const uint8_t **key, uint32_t *klen);
/* Current value (reads an overflow page if needed); valid until the
 * cursor moves. */
int wri_cursor_value(wri_cursor *c, const uint8_t **val, uint32_t *vlen,
                     wr_errbuf *eb);
/* The current value val (vlen bytes, as wri_cursor_value gave it) checked
 * as a main table's document, the way wr-verify checks one
 * (wri_block_check_document): WR_OK, or WR_ECORRUPT naming the file, the
 * page and the byte. A value of a leaf changed in memory (one the engine
 * was given, not read) is not checked: it has no place in the file. */
int wri_cursor_check_document(wri_cursor *c, const uint8_t *val,
                              uint32_t vlen, wri_bson_memo *memo,
                              wr_errbuf *eb);

/* B1-B7 (btree.c) over the nodes in memory: a clean node is exactly its
 * page on disk, read and checked as the engine reads pages. For diag.h;
 * in btree_diag.c. */
int wri_btree_diag(wri_btree *t, wr_errbuf *eb);

#endif /* WR_BTREE_H */
