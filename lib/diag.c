/*
 * diag.c -- the invariants asserted after each commit in DIAG builds
 * (diag.h). The rules are their owners' (extent.c, pagesrc.c, btree.c,
 * verify.c); here is only how a writer's memory must match its disk.
 *
 * Calls block, btree, extent, pagesrc and verify.
 */
#include "diag.h"

#include "wr_int.h"

#include <stdio.h>
#include <stdlib.h>

void wri_diag_assert(int rc, const wr_errbuf *eb)
{
    if (rc == WR_OK)
        return;
    fprintf(stderr, "wrtools DIAG: %s\n",
            eb != NULL && eb->msg[0] ? eb->msg : wr_strerror(rc));
    fflush(stderr);
    abort();
}

/* --- the block handle ------------------------------------------------- */

typedef struct dg_cmp {
    const wri_extmgr *disk;
    wri_ext mine, found; /* the first that differs */
} dg_cmp;

/* Each of the writer's extents is exactly one of the disk's. */
static int dg_cmp_ext(const wri_ext *e, void *arg)
{
    dg_cmp *c = arg;
    wri_ext f = {0};
    if (wri_extent_find_overlap(c->disk, e->off, e->len, &f) && f.off == e->off &&
        f.len == e->len && f.gen == e->gen && f.kind == e->kind)
        return 0;
    c->mine = *e;
    c->found = f;
    return 1;
}

static const char *dg_kind(const wri_ext *e)
{
    return e->kind == WRI_EXT_AVAIL     ? "avail"
           : e->kind == WRI_EXT_DISCARD ? "discard"
                                        : "none";
}

/* I6: the checkpoint just committed, opened afresh from disk, has exactly
 * the writer's extent lists and logical size, and nothing is allocated. */
static int dg_lists_on_disk(wri_block *b, wr_errbuf *eb)
{
    int rc;
    wri_block *r = NULL;
    wri_extent_stats st, sd;
    wr_errbuf e = {0};
    wri_extent_stats_get(b->em, &st);
    if (st.alloc_count != 0)
        return WR_ERR(eb, WR_ECORRUPT,
                      "I6: %s: %llu extents still allocated after the "
                      "commit of generation %llu",
                      b->path, (unsigned long long)st.alloc_count,
                      (unsigned long long)b->cur.gen);
    if ((rc = wri_block_open_gen(b->path, WRI_BLOCK_RDONLY, b->cur.gen, &r,
                                 &e)) != WR_OK)
        return WR_ERR(eb, rc == WR_ENOMEM ? rc : WR_ECORRUPT,
                      "I6: %s: generation %llu just committed does not "
                      "open: %s",
                      b->path, (unsigned long long)b->cur.gen, e.msg);
    dg_cmp c = {.disk = r->em};
    wri_extent_stats_get(r->em, &sd);
    uint64_t lm = wri_extent_logical_size(b->em);
    uint64_t ld = wri_extent_logical_size(r->em);
    rc = WR_OK;
    if (wri_extent_walk(b->em, dg_cmp_ext, &c) != 0 ||
        st.avail_count + st.discard_count !=
            sd.avail_count + sd.discard_count ||
        lm != ld)
        rc = WR_ERR(eb, WR_ECORRUPT,
                    "I6: %s: the extent lists of generation %llu on disk "
                    "are not the writer's (%llu extents in memory, %llu on "
                    "disk; %s [%llu, +%llu) in memory is %s [%llu, +%llu) "
                    "on disk; logical size %llu in memory, %llu on disk)",
                    b->path, (unsigned long long)b->cur.gen,
                    (unsigned long long)(st.avail_count + st.discard_count),
                    (unsigned long long)(sd.avail_count + sd.discard_count),
                    dg_kind(&c.mine), (unsigned long long)c.mine.off,
                    (unsigned long long)c.mine.len, dg_kind(&c.found),
                    (unsigned long long)c.found.off,
                    (unsigned long long)c.found.len, (unsigned long long)lm,
                    (unsigned long long)ld);
    wri_block_close(r);
    return rc;
}

/* I4, I5, I8: the slots as a fresh open finds them. */
static int dg_slots(wri_block *b, wri_ps *ps, wr_errbuf *eb)
{
    int ch = -1;
    wr_errbuf e = {0};
    uint64_t G = b->cur.gen;
    if (wri_ps_choose(ps, WRI_PS_LATEST, 0, &ch, &e) != WR_OK ||
        ps->slots[ch].slot.gen != G ||
        ps->slots[ch].slot.root.off != b->cur.root.off ||
        ps->slots[ch].slot.extlist.off != b->cur.extlist.off ||
        ps->slots[ch].slot.logical_size != b->cur.logical_size ||
        ps->slots[ch].slot.nrecords != b->cur.nrecords)
        return WR_ERR(eb, WR_ECORRUPT,
                      "I5: %s: an open would not choose generation %llu "
                      "just committed (it takes %s %llu)",
                      b->path, (unsigned long long)G,
                      ch < 0 ? "no slot," : "generation",
                      (unsigned long long)(ch < 0 ? 0
                                                  : ps->slots[ch].slot.gen));
    const wri_slot_state *o = &ps->slots[1 - ch];
    if (o->valid && o->slot.gen + 1 != G)
        return WR_ERR(eb, WR_ECORRUPT,
                      "I4: %s: slot %d holds generation %llu beside %llu "
                      "in slot %d: not the previous checkpoint",
                      b->path, 1 - ch, (unsigned long long)o->slot.gen,
                      (unsigned long long)G, ch);
    for (int i = 0; i < 2; i++)
        if (ps->slots[i].valid &&
            ps->slots[i].slot.logical_size > ps->fsize)
            return WR_ERR(eb, WR_ECORRUPT,
                          "I8: %s: the checkpoint in slot %d (generation "
                          "%llu) reaches byte %llu, the file ends at %llu",
                          b->path, i,
                          (unsigned long long)ps->slots[i].slot.gen,
                          (unsigned long long)ps->slots[i].slot.logical_size,
                          (unsigned long long)ps->fsize);
    return WR_OK;
}

int wri_diag_block(wri_block *b, wr_errbuf *eb)
{
    int rc;
    wri_ps *ps = NULL;
    wr_errbuf e = {0};
    if (b->em == NULL)
        return WR_OK; /* read-only: nothing was committed */
    if (wri_extent_check(b->em, &e) != WR_OK)
        return WR_ERR(eb, WR_ECORRUPT, "E1-E6: %s: %s", b->path, e.msg);
    if ((rc = wri_ps_open_file(b->f, b->path, NULL, &ps, eb)) != WR_OK)
        return rc;
    if ((rc = dg_slots(b, ps, eb)) == WR_OK)
        rc = dg_lists_on_disk(b, eb);
    wri_ps_close(ps);
    return rc;
}

/* --- the tree --------------------------------------------------------- */

typedef struct dg_own {
    wri_ps *ps;
    int slot;
    bool current; /* the checkpoint just committed */
    wr_errbuf *eb;
} dg_own;

/* I1, I2, I7: an extent the writer may allocate (avail) holds no block
 * of either checkpoint; one it freed (discard) none of the new one. */
static int dg_own_ext(const wri_ext *e, void *arg)
{
    dg_own *o = arg;
    uint32_t P = o->ps->P;
    if (e->kind != WRI_EXT_AVAIL && !o->current)
        return 0; /* discard: may still hold the previous tree's pages */
    for (uint64_t off = e->off; off < e->off + e->len; off += P) {
        int old = wri_ps_mark(o->ps, off, P, WRI_OWN_FREE);
        if (old != WRI_OWN_TREE && old != WRI_OWN_LIST)
            continue;
        WR_ERR(o->eb, WR_ECORRUPT,
               "%s: %s: %s extent [%llu, +%llu) holds block %llu, a %s "
               "page of generation %llu (slot %d)",
               old == WRI_OWN_LIST ? "I7" : e->kind == WRI_EXT_AVAIL ? "I1"
                                                                     : "I2",
               o->ps->path, e->kind == WRI_EXT_AVAIL ? "avail" : "discard",
               (unsigned long long)e->off, (unsigned long long)e->len,
               (unsigned long long)off,
               old == WRI_OWN_LIST ? "extent-list" : "tree",
               (unsigned long long)o->ps->slots[o->slot].slot.gen, o->slot);
        return 1;
    }
    return 0;
}

/* One checkpoint through the page source's strict walks, with the
 * ownership map; then the writer's extents against that map. */
static int dg_ckpt(wri_btree *t, wri_ps *ps, int i, bool current,
                   wr_errbuf *eb)
{
    int rc;
    const wri_slot *s = &ps->slots[i].slot;
    wr_errbuf e = {0};
    wri_ps_lists lw = {.slot = i};
    wri_ps_walk w = {.nkeyelem = t->nkeyelem, .keys = true, .map = true};
    if ((rc = wri_ps_begin(ps, i, true, &e)) == WR_OK &&
        (rc = wri_ps_walk_lists(ps, s, &lw, &e)) == WR_OK)
        rc = wri_ps_walk_tree(ps, s, i, &w, &e);
    wri_ps_walk_free(&w);
    if (rc != WR_OK)
        return WR_ERR(eb, rc == WR_ENOMEM ? rc : WR_ECORRUPT,
                      "%s (generation %llu, slot %d): %s",
                      current ? "the checkpoint just committed"
                              : "the previous checkpoint",
                      (unsigned long long)s->gen, i, e.msg);
    uint64_t leaked = wri_ps_leaks(ps, s->logical_size);
    if (leaked != 0)
        return WR_ERR(eb, WR_ECORRUPT,
                      "I6: %s: generation %llu (slot %d) leaks %llu bytes: "
                      "neither its tree, its lists nor its free extents "
                      "own them",
                      ps->path, (unsigned long long)s->gen, i,
                      (unsigned long long)leaked);
    dg_own o = {ps, i, current, eb};
    if (wri_extent_walk(t->blk->em, dg_own_ext, &o) != 0)
        return WR_ECORRUPT;
    return WR_OK;
}

int wri_diag_tree(wri_btree *t, wr_errbuf *eb)
{
    int rc;
    wri_block *b = t->blk;
    wri_ps *ps = NULL;
    if ((rc = wri_btree_diag(t, eb)) != WR_OK || b->em == NULL)
        return rc;
    if ((rc = wri_ps_open_file(b->f, b->path, NULL, &ps, eb)) != WR_OK)
        return rc;
    for (int i = 0; i < 2 && rc == WR_OK; i++) {
        const wri_slot_state *st = &ps->slots[i];
        if (st->valid)
            rc = dg_ckpt(t, ps, i, st->slot.gen == b->cur.gen, eb);
    }
    wri_ps_close(ps);
    return rc;
}

/* --- the database ----------------------------------------------------- */

int wri_diag_db(const char *dir, wr_errbuf *eb)
{
    wr_verify_opts o = {.max_problems = 1};
    wr_verify_report *r = NULL;
    wr_errbuf e = {0};
    int rc = wr_verify(dir, &o, &r, &e);
    wr_verify_report_free(r);
    if (rc == WR_OK)
        return WR_OK;
    return WR_ERR(eb, rc == WR_ENOMEM ? rc : WR_ECORRUPT,
                  "C6/M3: %s after its catalog commit does not verify: %s",
                  dir, e.msg);
}
