/*
 * btree_cursor.c -- ordered cursors over a tree (btree.h). A cursor holds
 * the path from the root to its leaf item; the clean nodes it leaves are
 * freed, so a scan's memory does not grow with the tree. Calls btree.c
 * (btree_int.h), block.
 */
#include "btree_int.h"

#include <stdlib.h>

struct wri_cursor {
    wri_btree *t;
    int depth; /* number of levels on the stack */
    wri_node *node[BT_MAX_DEPTH];
    uint32_t idx[BT_MAX_DEPTH];
    bool valid;
    uint8_t *ovf;
    size_t ovfcap;
};

int wri_cursor_open(wri_btree *t, wri_cursor **out, wr_errbuf *eb)
{
    wri_cursor *c = calloc(1, sizeof *c);
    if (c == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory opening a cursor");
    c->t = t;
    t->cursors++;
    *out = c;
    return WR_OK;
}

void wri_cursor_close(wri_cursor *c)
{
    if (c == NULL)
        return;
    c->t->cursors--;
    free(c->ovf);
    free(c);
}

/* Leave depth d: forget the node there if it is clean (nothing below a
 * clean node is dirty, B1; its parent's item holds its address). */
static void cur_leave(wri_cursor *c, int d)
{
    if (d == 0)
        return;
    wri_node *nd = c->node[d], *parent = c->node[d - 1];
    if (c->t->cursors == 1 && /* another cursor may stand on nd */
        !nd->dirty && parent->it[c->idx[d - 1]].child == nd) {
        parent->it[c->idx[d - 1]].child = NULL;
        wri_bt_node_free(c->t, nd);
    }
}

/* From node[d] at idx[d], go down to a leaf along the first (or last)
 * children. */
static int cur_down(wri_cursor *c, int d, bool last, wr_errbuf *eb)
{
    int rc;
    while (c->node[d]->level > 0) {
        wri_node *child;
        if (d + 1 >= BT_MAX_DEPTH)
            return WR_ERR(eb, WR_ECORRUPT, "tree deeper than %d levels",
                          BT_MAX_DEPTH);
        if ((rc = wri_bt_node_child(c->t, c->node[d], c->idx[d], &child,
                                    eb)) != WR_OK)
            return rc;
        d++;
        c->node[d] = child;
        c->idx[d] = last && child->n > 0 ? child->n - 1 : 0;
    }
    c->depth = d + 1;
    return WR_OK;
}

/* Step to the next (dir > 0) or previous leaf item, climbing as needed. */
static int cur_step(wri_cursor *c, int dir, wr_errbuf *eb)
{
    int d = c->depth - 1;
    for (;;) {
        wri_node *nd = c->node[d];
        bool more = dir > 0 ? c->idx[d] + 1 < nd->n : c->idx[d] > 0;
        if (more) {
            c->idx[d] = dir > 0 ? c->idx[d] + 1 : c->idx[d] - 1;
            if (nd->level == 0)
                return WR_OK;
            int rc = cur_down(c, d, dir < 0, eb);
            if (rc != WR_OK)
                return rc;
            if (c->node[c->depth - 1]->n > 0)
                return WR_OK;
            d = c->depth - 1; /* an empty leaf (damaged file): keep going */
            continue;
        }
        if (d == 0) {
            c->valid = false;
            return WR_ENOTFOUND;
        }
        cur_leave(c, d);
        d--;
        c->depth = d + 1;
    }
}

static int cur_start(wri_cursor *c, bool last, wr_errbuf *eb)
{
    int rc;
    wri_node *root;
    c->valid = false;
    if ((rc = wri_bt_tree_root(c->t, &root, eb)) != WR_OK)
        return rc;
    if (root == NULL || root->n == 0)
        return WR_ENOTFOUND;
    c->node[0] = root;
    c->idx[0] = last ? root->n - 1 : 0;
    if ((rc = cur_down(c, 0, last, eb)) != WR_OK)
        return rc;
    c->valid = true;
    if (c->node[c->depth - 1]->n == 0)
        return cur_step(c, last ? -1 : 1, eb);
    return WR_OK;
}

int wri_cursor_first(wri_cursor *c, wr_errbuf *eb)
{
    return cur_start(c, false, eb);
}

int wri_cursor_last(wri_cursor *c, wr_errbuf *eb)
{
    return cur_start(c, true, eb);
}

int wri_cursor_seek(wri_cursor *c, const uint8_t *key, uint32_t klen,
                    wr_errbuf *eb)
{
    int rc;
    bt_path p;
    bool found;
    c->valid = false;
    if ((rc = wri_bt_descend(c->t, key, klen, &p, eb)) != WR_OK)
        return rc;
    if (p.depth == 0)
        return WR_ENOTFOUND;
    for (int d = 0; d < p.depth; d++) {
        c->node[d] = p.node[d];
        c->idx[d] = p.idx[d];
    }
    c->depth = p.depth;
    wri_node *leaf = p.node[p.depth - 1];
    uint32_t i = wri_bt_leaf_search(c->t, leaf, key, klen, &found);
    c->valid = true;
    if (i < leaf->n) {
        c->idx[p.depth - 1] = i;
        return WR_OK;
    }
    c->idx[p.depth - 1] = leaf->n > 0 ? leaf->n - 1 : 0;
    if (leaf->n == 0) {
        /* only an empty root leaf; nothing follows */
        c->valid = false;
        return WR_ENOTFOUND;
    }
    return cur_step(c, 1, eb);
}

int wri_cursor_next(wri_cursor *c, wr_errbuf *eb)
{
    if (!c->valid)
        return WR_ENOTFOUND;
    return cur_step(c, 1, eb);
}

int wri_cursor_prev(wri_cursor *c, wr_errbuf *eb)
{
    if (!c->valid)
        return WR_ENOTFOUND;
    return cur_step(c, -1, eb);
}

void wri_cursor_key(const wri_cursor *c, const uint8_t **key, uint32_t *klen)
{
    const wri_item *it = &c->node[c->depth - 1]->it[c->idx[c->depth - 1]];
    *key = it->key;
    *klen = it->klen;
}

int wri_cursor_value(wri_cursor *c, const uint8_t **val, uint32_t *vlen,
                     wr_errbuf *eb)
{
    const wri_item *it = &c->node[c->depth - 1]->it[c->idx[c->depth - 1]];
    *vlen = it->vlen;
    return wri_bt_item_value(c->t, it, val, &c->ovf, &c->ovfcap, eb);
}

int wri_cursor_check_document(wri_cursor *c, const uint8_t *val,
                              uint32_t vlen, wri_bson_memo *memo,
                              wr_errbuf *eb)
{
    const wri_node *nd = c->node[c->depth - 1];
    const wri_item *it = &nd->it[c->idx[c->depth - 1]];
    uint64_t leaf = nd->addr.off;
    if (nd->dirty || leaf == 0 || nd->page == NULL || it->mem != NULL)
        return WR_OK; /* not read from the file as it is */
    /* where its bytes lie (pagesrc.h wri_ps_vloc's rule): inline in the
     * leaf, or a run at ovf whose last tlen bytes (all of a packed one)
     * are the tail in the leaf */
    wri_vloc at = {.page = leaf, .split = vlen};
    if (it->val != NULL) {
        at.off = leaf + (uint64_t)(it->val - nd->page);
    } else {
        at.page = it->ovf.off;
        at.off = it->ovf.off + WRI_PH_LEN;
        at.split = vlen - it->tlen;
        at.tpage = leaf;
        at.toff = it->tail != NULL ? leaf + (uint64_t)(it->tail - nd->page)
                                   : 0;
    }
    return wri_block_check_document(c->t->blk, &at, it->key, it->klen, val,
                                    vlen, memo, eb);
}
