/*
 * btree_diag.c -- the invariants B1-B7 (btree.c) checked over a tree's
 * nodes in memory: a clean node is exactly its page on disk, read and
 * checked as the engine reads pages (wri_btree_diag, for diag.h). Calls
 * block (btree_int.h's helpers inline).
 */
#include "btree_int.h"

#include <stdlib.h>

/* B1-B4, B6 and B7 for node nd (parent_dirty: its parent is dirty; root:
 * true);
 * *mem gets the heap of nd and the nodes below it (B5). */
static int diag_node(wri_btree *t, const wri_node *nd, bool parent_dirty,
                     uint8_t *buf, uint64_t *mem, wr_errbuf *eb)
{
    int rc;
    const char *path = t->blk->path;
    uint32_t bytes = WRI_PH_LEN, tails = 0;
    wri_page_view v;
    if (nd->dirty ? nd->addr.off != 0 || !parent_dirty : nd->addr.off == 0)
        return WR_ERR(eb, WR_ECORRUPT,
                      "B1: %s: a %s node at level %u has page offset %llu "
                      "under a %s parent",
                      path, nd->dirty ? "dirty" : "clean", nd->level,
                      (unsigned long long)nd->addr.off,
                      parent_dirty ? "dirty" : "clean");
    if (nd->level > 0 && nd->n > 0 && nd->it[0].klen != 0)
        return WR_ERR(eb, WR_ECORRUPT,
                      "B3: %s: item 0 of an internal node at level %u has a "
                      "key of %u bytes",
                      path, nd->level, nd->it[0].klen);
    for (uint32_t i = 0; i < nd->n; i++) {
        bytes += item_size(t, nd, &nd->it[i]);
        tails += nd->it[i].tlen;
    }
    if (bytes != nd->bytes || tails != nd->tails)
        return WR_ERR(eb, WR_ECORRUPT,
                      "B2: %s: node at level %u counts %u bytes (%u of "
                      "tails), its items take %u (%u)",
                      path, nd->level, nd->bytes, nd->tails, bytes, tails);
    if (!nd->dirty && (nd->page == NULL || nd->level > 0) &&
        (nd->addr.size != node_page_size(t, nd) || !node_fits(t, nd)))
        /* a clean node without its page buffer was written by this
         * engine; only a leaf read as it is, or one holding a value tail,
         * may be long, and then the fewest blocks that hold it */
        return WR_ERR(eb, WR_ECORRUPT,
                      "B6: %s: a clean node at level %u is %u bytes on disk "
                      "(%u in use), not the fewest blocks of %u that hold "
                      "it (more than one only for a leaf read as it is or "
                      "holding a value tail, up to %u)",
                      path, nd->level, nd->addr.size, nd->bytes,
                      bt_psize(t), t->leaf_max);
    for (uint32_t i = 0; nd->level == 0 && i < nd->n; i++) {
        const wri_item *it = &nd->it[i];
        const char *why = NULL;
        if (it->val != NULL && item_is_overflow(t, it) &&
            it->tlen != wri_leaf_tail(bt_psize(t), t->leaf_max, it->klen,
                                      it->vlen))
            why = "a value stored not as the bulk loader's rule keeps it";
        else if (it->tlen == 0)
            continue;
        else if (!item_is_overflow(t, it) || it->tlen > it->vlen ||
                 it->tail == NULL)
            why = "a tail of a value that is not an overflow value";
        else if (it->tlen == it->vlen
                     ? it->ovf.off != 0 || it->ovf.size != 0
                 : it->ovf.off == 0
                     ? it->val == NULL /* its run not yet written */
                     : it->ovf.size != WRI_PH_LEN + it->vlen - it->tlen)
            why = "a tail beside a run that does not hold the rest";
        else if (wri_tail_version(it->vlen, it->tlen) >
                 t->blk->cur.version)
            why = "a tail the file's format version does not admit";
        if (why != NULL)
            return WR_ERR(eb, WR_ECORRUPT,
                          "B7: %s: item %u of a %s leaf: %s (a %u-byte tail "
                          "of a %u-byte value, run of %u bytes at %llu, "
                          "format %u)",
                          path, i, nd->dirty ? "dirty" : "clean", why,
                          it->tlen, it->vlen, it->ovf.size,
                          (unsigned long long)it->ovf.off,
                          t->blk->cur.version);
    }
    if (!nd->dirty) {
        /* B4: the page at addr, as the engine reads it, is this node */
        wr_errbuf e = {0};
        if ((rc = wri_block_read_node(t->blk, &nd->addr, nd->level,
                                      t->nkeyelem, buf, &v, &e)) != WR_OK)
            return WR_ERR(eb, rc, "B4: %s: %s", path, e.msg);
        bool same = v.count == nd->n &&
                    v.size - v.free_bytes == nd->bytes;
        for (uint32_t i = 0; same && i < nd->n; i++) {
            const wri_item *it = &nd->it[i];
            wri_cell c;
            wri_page_cell(&v, i, &c);
            wr_addr child = it->child ? it->child->addr : it->caddr;
            same = c.klen == it->klen && c.tlen == it->tlen &&
                   (it->klen == 0 || memcmp(c.key, it->key, it->klen) == 0) &&
                   (c.tlen == 0 || memcmp(c.tail, it->tail, c.tlen) == 0) &&
                   (nd->level > 0
                        ? c.child.off == child.off && c.child.crc == child.crc
                        : c.vlen == it->vlen &&
                              (c.overflow ? c.ovf.off == it->ovf.off
                                          : it->val != NULL &&
                                                memcmp(c.val, it->val,
                                                       it->vlen) == 0));
        }
        if (!same)
            return WR_ERR(eb, WR_ECORRUPT,
                          "B4: %s: the clean node at level %u differs from "
                          "its page %llu on disk",
                          path, nd->level, (unsigned long long)nd->addr.off);
    }
    *mem += node_mem(t, nd);
    for (uint32_t i = 0; nd->level > 0 && i < nd->n; i++)
        if (nd->it[i].child != NULL &&
            (rc = diag_node(t, nd->it[i].child, nd->dirty, buf, mem, eb)) !=
                WR_OK)
            return rc;
    return WR_OK;
}

int wri_btree_diag(wri_btree *t, wr_errbuf *eb)
{
    int rc;
    if (t->root == NULL)
        return WR_OK;
    uint8_t *buf = malloc(WRI_MAX(bt_psize(t), WRI_LEAF_MAX)); /* B6 */
    if (buf == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    uint64_t mem = 0;
    rc = diag_node(t, t->root, true, buf, &mem, eb);
    free(buf);
    if (rc == WR_OK && mem != t->mem)
        rc = WR_ERR(eb, WR_ECORRUPT,
                    "B5: %s: the loaded nodes hold %llu bytes, the tree "
                    "counts %llu",
                    t->blk->path, (unsigned long long)mem,
                    (unsigned long long)t->mem);
    return rc;
}
