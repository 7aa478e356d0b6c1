/*
 * salvage.h -- salvage's two halves (DESIGN decision 14; wr.h has the
 * public wr_salvage()).
 *
 * salvage_tree.c recovers the documents of one main-table file: it scans
 * every page of the file by offset, walks the chosen checkpoint's tree,
 * and decides for each document whether it belongs to the collection
 * (keep) or to the lost-and-found (lost). Where it lost something it adds
 * a wr_salvage_loss to the collection's report.
 *
 * Rules (each is tested by the damage trials in tests/cli/wr-salvage.bats):
 *   S1 A document is kept only when the page that holds it is reached
 *      from the checkpoint's header slot through addresses whose CRCs
 *      match, or (inside the key range of a damaged page) when its leaf,
 *      found by the scan, has the CRC and size the damaged page's address
 *      names and only keys of that range (the page itself, moved), or
 *      when the checkpoint's extent lists, read whole, account its block
 *      as live, the walk refused no page at that block, and no other live
 *      leaf of that range overlaps it, or (when the checkpoint's tree
 *      cannot be walked at all: its root lost) when the leaf was written
 *      for the checkpoint's own generation and overlaps no other such
 *      leaf: nothing newer can cover its keys. A page the walk refused at
 *      its own offset is, for every other damaged range, a scanned page
 *      like any other (kept by the rules above, else in lost+found).
 *   S2 Every kept document passes the strict check: valid BSON, length
 *      prefix equal to the value length, an _id whose key equals the
 *      cell's key, keys inside the range the parent gives the page.
 *   S3 Every other copy of a key in a damaged range goes to lost+found,
 *      newest generation first; a key inside the [first, last] range of a
 *      newer page found for that range is decided by that page (a later
 *      delete is not undone by an older page). A leaf whose one fault is
 *      keys outside the range its parent gives it (intact, reached
 *      through its address) is the checkpoint's leaf of that range: the
 *      documents of its keys inside the range are kept (S1, S2 hold for
 *      them, and no other page may hold those keys); those outside it go
 *      to lost+found (they are in no range of the tree, nor in a hole).
 *   S4 Pages past the checkpoint's logical size, or of a generation newer
 *      than it, are debris: never kept.
 *
 * Every byte is read through the page source in its tolerant mode
 * (pagesrc.h: slot choice, checked reads, overflow values, extent lists,
 * the scan by offset, the document check); calls page (the page checker)
 * and bsonkey (key order, JSON of keys).
 * salvage.c (the database, DEST, the report) calls this.
 */
#ifndef WR_SALVAGE_H
#define WR_SALVAGE_H

#include "wr.h"

#include <stdbool.h>
#include <stdint.h>

/* What a sink did besides its job (keep: kept; lost: written), else
 * < 0 (an error). */
enum {
    WRI_SV_TO_LOST = 1, /* keep: refused, the document went to lost+found */
    WRI_SV_HELD = 2     /* lost (or keep, refused): lost+found holds these
                           very bytes already; nothing written, not counted */
};

typedef struct wri_sv_sink {
    /* a document that belongs to the collection: WR_OK, WRI_SV_TO_LOST
     * or WRI_SV_HELD */
    int (*keep)(void *arg, const uint8_t *doc, uint32_t len, wr_errbuf *eb);
    /* a value for the lost-and-found: from page `page`, written for
     * generation gen; valid says whether it passed the document check.
     * WR_OK, or WRI_SV_HELD: each value (valid and its bytes) once in a
     * collection's lost+found (the same document in a damaged leaf and in
     * its older copies, in two stale leaves) */
    int (*lost)(void *arg, const uint8_t *val, uint32_t len, bool valid,
                uint64_t gen, uint64_t page, const char *why, wr_errbuf *eb);
    void *arg;
} wri_sv_sink;

typedef struct wri_sv_tree_opts {
    uint64_t gen;  /* the generation the catalog names; 0: by `previous` */
    bool previous; /* without gen: the older valid slot, else the newest */
    const wri_sv_sink *sink;
    void (*progress)(const wr_salvage_progress *p, void *arg);
    void *progress_arg;
    volatile int *interrupted;
} wri_sv_tree_opts;

/* Recover the documents of the main-table file at path into o->sink and
 * fill rep (name and file are the caller's). WR_OK whatever the damage
 * (rep->complete says whether all was recovered); WR_ENOTOURS (not a
 * tree file), an I/O error, WR_EINTR, or a sink's error. *scanned gets
 * the bytes read. */
int wri_salvage_tree(const char *path, const wri_sv_tree_opts *o,
                     wr_salvage_coll *rep, uint64_t *scanned, wr_errbuf *eb);

#endif /* WR_SALVAGE_H */
