/*
 * helper_fill.h -- is a bulk-built tree file full? (issue 13: bulk-built
 * leaves, and the internal pages above them, hold as much as fits.)
 */
#ifndef WR_HELPER_FILL_H
#define WR_HELPER_FILL_H

#include <stddef.h>
#include <stdint.h>

typedef struct fill_report {
    uint64_t pages;    /* tree pages of the latest checkpoint */
    uint64_t leaves;
    uint64_t long_leaves; /* leaves longer than one block (format 2) */
    uint32_t version;     /* the checkpoint's format version */
    uint64_t not_full; /* pages, the last of each level aside, that had
                          room for the first item of the next page */
    uint64_t used;     /* bytes used in tree pages (header, slots, cells) */
    uint64_t leaf_bytes; /* bytes of leaf pages (their blocks) */
    uint64_t leaf_used;  /* of them used (header, slots, cells) */
    uint64_t tails;     /* overflow values split, their tail in the cell
                           (format 3) */
    uint64_t packed;    /* overflow values shorter than a block, whole in
                           the cell without a run (format 4) */
    uint64_t ovf_waste; /* bytes of overflow runs past their values: the
                           part block a value neither split nor packed
                           leaves empty */
    char first[256];   /* the first page found not full, and why */
} fill_report;

/* Walk the newest checkpoint of the tree file at path (it must verify
 * clean), count its split values and overflow waste, and check, level by
 * level in key order, that every page but the
 * last had no room left for the first item of the page after it: a leaf
 * (as long as the file's version lets a leaf be) for that item's cell, an
 * internal page (one block) for that page's separator (the first key of
 * the leftmost leaf under it). 0, or -1 (a message on
 * stderr) when the file cannot be walked clean. */
int fill_check(const char *path, fill_report *r);

/* Rewrite the version of every slot of the tree file at path that holds
 * the WRTREE magic (and its CRC), as a build of that version would have
 * written it: a bulk-built file made to claim an older format. Returns how
 * many slots were rewritten, or -1. */
int fill_set_version(const char *path, uint32_t version);

#endif
