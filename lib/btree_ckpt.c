/*
 * btree_ckpt.c -- writing a tree's dirty nodes (btree.h): a checkpoint,
 * and an early write that bounds the memory (wri_btree_evict). Calls
 * btree.c (btree_int.h), block, page.
 *
 * A checkpoint first carves every dirty node too long to be written into
 * nodes that fit (B6), then writes the dirty nodes children first (a
 * value's overflow run before its leaf), so each parent names its
 * children's new addresses, and commits the block file's checkpoint with
 * the new root.
 *
 * Early writes (wri_btree_evict): the dirty nodes are written, children
 * first, exactly as a checkpoint writes them, but no slot is written, so
 * the file's committed checkpoints stay what they were (block.c I1-I3).
 * The nodes are then clean (B4) at addresses allocated in this build; a
 * later change frees such an address straight back to avail (I2), and a
 * clean node can be forgotten and read back on demand.
 */
#include "btree_int.h"

#include "diag.h"

#include <stdlib.h>

/* Write the run of an overflow value: all of it, or (B7, split) all but
 * the tail its cell keeps. */
static int ovf_write(wri_btree *t, wri_item *it, wr_errbuf *eb)
{
    int rc;
    uint32_t runlen = it->vlen - it->tlen;
    uint64_t size = wri_overflow_size(bt_psize(t), runlen);
    uint8_t *buf = malloc(size);
    if (buf == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory writing an overflow");
    wri_overflow_encode(buf, (uint32_t)size, it->val, runlen,
                        t->blk->building);
    rc = wri_block_write_page(t->blk, buf, (uint32_t)size, &it->ovf, eb);
    free(buf);
    if (rc != WR_OK)
        return rc;
    /* Keep only the key and the tail in memory; the rest is on disk. */
    size_t keep = (size_t)it->klen + it->tlen + 1;
    if (it->tlen > 0)
        memmove(it->mem + it->klen, it->tail, it->tlen);
    uint8_t *m = realloc(it->mem, keep);
    if (m != NULL) {
        bt_mem_shrink(t, it->memlen - keep);
        it->mem = m;
        it->memlen = keep;
    }
    it->key = it->mem;
    it->tail = it->tlen > 0 ? it->mem + it->klen : NULL;
    it->val = NULL;
    return WR_OK;
}

static int node_write(wri_btree *t, wri_node *nd, wr_errbuf *eb)
{
    int rc;
    wri_page_builder pb;
    if (!nd->dirty)
        return WR_OK;
    if (!node_fits(t, nd)) /* B6: bt_fit_root ran before */
        return WR_ERR(eb, WR_EINVAL,
                      "%s: internal error: a changed page of %u bytes was "
                      "not split before it was written",
                      t->blk->path, nd->bytes);
    uint32_t size = node_page_size(t, nd);
    for (uint32_t i = 0; i < nd->n; i++) {
        wri_item *it = &nd->it[i];
        if (nd->level > 0 && it->child != NULL) {
            if ((rc = node_write(t, it->child, eb)) != WR_OK)
                return rc;
            it->caddr = it->child->addr;
        } else if (nd->level == 0 && it->ovf.off == 0 &&
                   it->tlen < it->vlen && item_is_overflow(t, it)) {
            if ((rc = ovf_write(t, it, eb)) != WR_OK)
                return rc;
        }
    }
    wri_pb_init(&pb, t->scratch, size,
                nd->level ? WRI_PT_INTERNAL : WRI_PT_LEAF, nd->level);
    for (uint32_t i = 0; i < nd->n; i++) {
        const wri_item *it = &nd->it[i];
        if (nd->level > 0)
            wri_pb_add_internal(&pb, it->key, it->klen, &it->caddr);
        else if (it->tlen > 0) /* packed: the address is all zero */
            wri_pb_add_leaf_tail(&pb, it->key, it->klen, it->vlen, &it->ovf,
                                 it->tail, it->tlen);
        else
            wri_pb_add_leaf(&pb, it->key, it->klen, it->val, it->vlen,
                            it->ovf.off ? &it->ovf : NULL);
    }
    wri_pb_finish(&pb, t->blk->building);
    if ((rc = wri_block_write_page(t->blk, t->scratch, size, &nd->addr,
                                   eb)) != WR_OK)
        return rc;
    nd->dirty = false;
    return WR_OK;
}

/* B6: carve child i of dirty parent, too long to be written, into pieces
 * that fit (node_fits; each full but the last), inserted after it.
 * *added gets the number of pieces added. */
static int node_carve(wri_btree *t, wri_node *parent, uint32_t i,
                      uint32_t *added, wr_errbuf *eb)
{
    int rc;
    wri_node *nd = parent->it[i].child;
    *added = 0;
    while (!node_fits(t, nd)) {
        uint32_t used = WRI_PH_LEN, base = WRI_PH_LEN, k = 0;
        for (; k < nd->n; k++) {
            uint32_t sz = item_size(t, nd, &nd->it[k]);
            uint32_t tl = nd->level == 0 ? nd->it[k].tlen : 0;
            if (base + sz - tl > bt_psize(t) || used + sz > t->leaf_max)
                break;
            used += sz;
            base += sz - tl;
        }
        if (k == 0)
            k = 1; /* cannot happen: an item is at most a quarter page */
        wri_item sep;
        if ((rc = wri_bt_node_reserve(t, parent, parent->n + 1, eb)) !=
                WR_OK ||
            (rc = wri_bt_node_cut(t, nd, k, &sep, eb)) != WR_OK)
            return rc;
        node_insert_at(parent, i + 1, &sep);
        parent->bytes += wri_int_item_size(sep.klen);
        (*added)++;
        i++;
        nd = sep.child;
    }
    return WR_OK;
}

/* B6: every dirty node under nd fits (nd itself may not: its parent
 * carves it). Bottom-up, before anything is written. */
static int bt_fit(wri_btree *t, wri_node *nd, wr_errbuf *eb)
{
    int rc;
    if (!nd->dirty || nd->level == 0)
        return WR_OK;
    for (uint32_t i = 0; i < nd->n; i++) {
        wri_node *c = nd->it[i].child;
        uint32_t added = 0;
        if (c == NULL || !c->dirty)
            continue;
        if ((rc = bt_fit(t, c, eb)) != WR_OK ||
            (!node_fits(t, c) &&
             (rc = node_carve(t, nd, i, &added, eb)) != WR_OK))
            return rc;
        i += added;
    }
    return WR_OK;
}

/* B6 at the root: above a root too long to be written, a new root. */
static int bt_fit_root(wri_btree *t, wr_errbuf *eb)
{
    int rc;
    uint32_t added;
    if (t->root == NULL)
        return WR_OK;
    if ((rc = bt_fit(t, t->root, eb)) != WR_OK)
        return rc;
    while (t->root->dirty && !node_fits(t, t->root)) {
        wri_node *root =
            wri_bt_node_new(t, (uint16_t)(t->root->level + 1), 2);
        if (root == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory splitting the root");
        root->dirty = true;
        root->it[0].child = t->root;
        root->n = 1;
        wri_bt_node_recount(t, root);
        t->root = root;
        t->height++;
        if ((rc = node_carve(t, root, 0, &added, eb)) != WR_OK)
            return rc;
    }
    return WR_OK;
}

int wri_btree_checkpoint(wri_btree *t, wr_errbuf *eb)
{
    int rc;
    if (t->readonly)
        return WR_ERR(eb, WR_ENOTSUP, "%s: opened read-only", t->blk->path);
    if ((rc = bt_fit_root(t, eb)) != WR_OK)
        return rc;
    if (t->root != NULL) {
        if ((rc = node_write(t, t->root, eb)) != WR_OK)
            return rc;
        t->root_addr = t->root->addr;
    }
    if ((rc = wri_block_checkpoint(t->blk, &t->root_addr, t->nrecords,
                                   t->height, eb)) != WR_OK)
        return rc;
    t->changed = false;
    WRI_DIAG(wri_diag_tree, t);
    return WR_OK;
}

/* Forget loaded nodes at level (all clean) below nd, leftmost first,
 * until t->mem <= keep; with cold, only those not reached since the last
 * eviction. */
static void bt_forget(wri_btree *t, wri_node *nd, uint16_t level,
                      uint64_t keep, bool cold)
{
    if (nd->level <= level)
        return;
    for (uint32_t i = 0; i < nd->n && t->mem > keep; i++) {
        wri_node *child = nd->it[i].child;
        if (child == NULL)
            continue;
        if (child->level > level) {
            bt_forget(t, child, level, keep, cold);
        } else if (!cold || child->seen != t->epoch) {
            wri_bt_node_free(t, child);
            nd->it[i].child = NULL;
        }
    }
}

int wri_btree_evict(wri_btree *t, uint64_t keep, wr_errbuf *eb)
{
    int rc;
    if (t->root == NULL || t->cursors > 0) /* a cursor holds its nodes */
        return WR_OK;
    if ((rc = bt_fit_root(t, eb)) != WR_OK ||
        (rc = node_write(t, t->root, eb)) != WR_OK)
        return rc;
    t->root_addr = t->root->addr; /* every node is clean now (B1, B4) */
    /* leaves first; on each level the cold nodes first */
    for (uint16_t lvl = 0; lvl < t->root->level && t->mem > keep; lvl++) {
        bt_forget(t, t->root, lvl, keep, true);
        bt_forget(t, t->root, lvl, keep, false);
    }
    if (t->mem > keep) {
        wri_bt_node_free(t, t->root);
        t->root = NULL;
    }
    t->epoch++; /* what is reached from now on is warm */
    return WR_OK;
}
