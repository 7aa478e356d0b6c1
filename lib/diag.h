/*
 * diag.h -- the numbered invariants of docs/FORMAT.md, lib/block.c (I),
 * lib/btree.c (B), lib/extent.c (E), lib/compact.c (C) and docs/LEGACY.md
 * (M), checked on a live writer's state and on what it committed.
 *
 * Every rule is checked by the code that owns it, never by a copy: the
 * extent lists by wri_extent_check (E1-E6); what is on disk by the page
 * source's strict walks, the ones wr-verify uses (slot probing and choice,
 * checked page reads, tree order, separator bounds and levels, extent-list
 * chains, the ownership map of every block and leaked space); a database
 * by wr_verify itself (catalog agreement, every file, the index
 * cross-check); a tree's nodes in memory by btree_diag.c
 * (wri_btree_diag, with page.c's page checker). What diag.c adds is only
 * how the writer's memory must relate to the disk right after a commit.
 *
 * In a diagnostic build (make DIAG=1, -DWR_DIAG) the engine calls these
 * after every checkpoint (block.c, btree_ckpt.c), after erasing the other
 * slot (block.c, I12) and after every catalog commit (db.c, compact.c,
 * migrate.c), and aborts with "wrtools DIAG: <invariant>: <what>" on
 * stderr when one does not hold. In other builds nothing calls them but
 * the tests (tests/unit/test_diag.c breaks each invariant and sees its
 * check fire). The engine's calls here are the one place lower modules
 * call up; they exist only in DIAG builds.
 *
 * Each returns WR_OK, WR_ECORRUPT with eb naming the invariant
 * ("I6: ..."), or an environment error.
 */
#ifndef WR_DIAG_H
#define WR_DIAG_H

#include "btree.h"
#include "wr.h"

/* A block handle right after a commit: E1-E6 (the lists in memory), I4
 * and I5 (the two slots on disk: the new one chosen, the other the
 * previous generation or empty), I6 (the lists on disk, opened afresh,
 * are exactly the writer's), I8 (no checkpoint reaches past the file). */
int wri_diag_block(wri_block *b, wr_errbuf *eb);
/* A tree right after its checkpoint: B1-B7 (wri_btree_diag), then for
 * every valid slot the page source's strict walk of its lists and tree
 * with the ownership map (order, bounds, levels, record count, every
 * block owned once, none leaked), and I1/I2/I7: no extent the writer may
 * allocate holds a page either checkpoint reaches, and no freed extent a
 * page the new one reaches. */
int wri_diag_tree(wri_btree *t, wr_errbuf *eb);
/* A database directory right after a catalog commit (C6, M3 and every
 * write transaction): wr_verify finds it clean: the catalog agrees with
 * every file's slots, every file verifies, indexes match their tables. */
int wri_diag_db(const char *dir, wr_errbuf *eb);
/* DIAG builds: when rc is not WR_OK, print eb's message and abort. */
void wri_diag_assert(int rc, const wr_errbuf *eb);

/* In the engine: WRI_DIAG(wri_diag_block, b); a no-op unless WR_DIAG. */
#ifdef WR_DIAG
#define WRI_DIAG(fn, arg)                                                     \
    do {                                                                      \
        wr_errbuf diag_eb_ = {0};                                             \
        wri_diag_assert(fn((arg), &diag_eb_), &diag_eb_);                     \
    } while (0)
#else
#define WRI_DIAG(fn, arg) ((void)0)
#endif

#endif /* WR_DIAG_H */
