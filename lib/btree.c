/*
 * btree.c -- copy-on-write B+tree over a block file (see btree.h).
 *
 * In memory a tree is a tree of nodes. A node read from disk keeps its page
 * buffer and its items point into it; the first change to a node makes it
 * dirty: its page is freed to the block layer, and its items are copied into
 * memory of their own (so items can move between nodes on split and merge).
 *
 * Invariants:
 *  B1 a dirty node has addr.off == 0 and every node above it is dirty;
 *  B2 node->bytes is the exact size of the node encoded as a page, and
 *     node->tails the bytes of value tails among them (B7);
 *  B3 item 0 of an internal node has no key (klen == 0);
 *  B4 a clean node's page equals what is on disk at node->addr.
 *  B5 t->mem is the heap the loaded nodes hold: node, item array, page
 *     buffer and owned items, each with a malloc overhead (bt_mem_add).
 *  B6 pages this engine writes are one block, except a leaf that holds
 *     value tails (B7): that one is the fewest blocks that hold it, up
 *     to t->leaf_max (a long leaf, format 2), and its cells without their
 *     tails fit one block (so tails lengthen a leaf but never let it hold
 *     more items than a one-block leaf; node_fits). A long leaf whose
 *     cells do not (the bulk loader's) is read as it is, and once changed
 *     it is carved into pages that fit (bt_fit_root, at a checkpoint and
 *     an early write); until then a dirty node may exceed its limit.
 *  B7 a value the engine stores keeps in its cell exactly what the bulk
 *     loader's rule keeps (page.h wri_leaf_tail: in long leaves, all of
 *     an overflow value shorter than a block, format 4, no run; the last
 *     part block of a longer one, format 3, its run the whole blocks
 *     before it; nothing of a value that fills its blocks exactly);
 *     item_set decides it and raises the file's version. A value read
 *     from disk keeps the form it has when its node becomes dirty (a
 *     whole value is not repacked, a split value's run stays its own),
 *     so rewriting a leaf neither reads nor unpacks its values. A tail is
 *     never longer than its value, a packed value has no run, a split
 *     one's run holds the rest (until its first write the item holds the
 *     whole value and no run), and the file's version admits each.
 *
 * This file: nodes, search, put and delete. Writing the nodes
 * (checkpoints, early writes) is btree_ckpt.c's, cursors btree_cursor.c's,
 * checking B1-B7 btree_diag.c's (btree_int.h).
 */
#include "btree_int.h"

#include <stdio.h>
#include <stdlib.h>

/* --- nodes ------------------------------------------------------------ */


/* An item enters or leaves nd's count (B2). */
static void node_count_in(const wri_btree *t, wri_node *nd,
                          const wri_item *it)
{
    nd->bytes += item_size(t, nd, it);
    nd->tails += it->tlen;
}

static void node_count_out(const wri_btree *t, wri_node *nd,
                           const wri_item *it)
{
    nd->bytes -= item_size(t, nd, it);
    nd->tails -= it->tlen;
}


static void bt_mem_add(wri_btree *t, size_t n)
{
    bt_mem_grow(t, n + BT_MALLOC_COST);
}

static void bt_mem_sub(wri_btree *t, size_t n)
{
    bt_mem_shrink(t, n + BT_MALLOC_COST);
}

/* Give it memory of its own of len bytes (the old block, if any, is the
 * caller's to copy from and then release with item_mem_free). */
static uint8_t *item_mem_alloc(wri_btree *t, size_t len)
{
    uint8_t *m = malloc(len);
    if (m != NULL)
        bt_mem_add(t, len);
    return m;
}

static void item_mem_free(wri_btree *t, wri_item *it)
{
    if (it->mem == NULL)
        return;
    bt_mem_sub(t, it->memlen);
    free(it->mem);
    it->mem = NULL;
    it->memlen = 0;
}

wri_node *wri_bt_node_new(wri_btree *t, uint16_t level, uint32_t cap)
{
    wri_node *nd = calloc(1, sizeof *nd);
    if (nd == NULL)
        return NULL;
    nd->level = level;
    nd->cap = cap < 8 ? 8 : cap;
    nd->it = calloc(nd->cap, sizeof *nd->it);
    if (nd->it == NULL) {
        free(nd);
        return NULL;
    }
    nd->bytes = WRI_PH_LEN;
    nd->seen = t->epoch;
    bt_mem_add(t, sizeof *nd);
    bt_mem_add(t, (size_t)nd->cap * sizeof *nd->it);
    return nd;
}


void wri_bt_node_free(wri_btree *t, wri_node *nd)
{
    if (nd == NULL)
        return;
    bt_mem_shrink(t, node_mem(t, nd));
    for (uint32_t i = 0; i < nd->n; i++) {
        free(nd->it[i].mem);
        if (nd->level > 0)
            wri_bt_node_free(t, nd->it[i].child);
    }
    free(nd->it);
    free(nd->page);
    free(nd);
}

int wri_bt_node_reserve(wri_btree *t, wri_node *nd, uint32_t need,
                        wr_errbuf *eb)
{
    if (need <= nd->cap)
        return WR_OK;
    uint32_t cap = nd->cap * 2 > need ? nd->cap * 2 : need;
    wri_item *it = realloc(nd->it, (size_t)cap * sizeof *it);
    if (it == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory growing a tree node");
    bt_mem_grow(t, (uint64_t)(cap - nd->cap) * sizeof *it); /* one block */
    nd->it = it;
    nd->cap = cap;
    return WR_OK;
}

/* Read the page at a into a clean node of the expected level. */
static int node_load(wri_btree *t, const wr_addr *a, uint16_t level,
                     wri_node **out, wr_errbuf *eb)
{
    int rc = WR_OK;
    uint8_t *buf = NULL;
    wri_node *nd = NULL;
    wri_page_view v;
    /* a long leaf's length, once it is below the longest the file allows
     * (the read checks the address before it reads into buf) */
    uint32_t max = wri_leaf_max(t->blk->cur.version, bt_psize(t));
    size_t len = a->size > 0 && a->size <= max ? a->size : bt_psize(t);
    if ((buf = malloc(len)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory reading a page");
        goto out;
    }
    /* size, CRC, structure and level: the page source's one read */
    if ((rc = wri_block_read_node(t->blk, a, level, t->nkeyelem, buf, &v,
                                  eb)) != WR_OK)
        goto out;
    if ((nd = wri_bt_node_new(t, level, v.count)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory reading a page");
        goto out;
    }
    for (uint32_t i = 0; i < v.count; i++) {
        wri_cell c;
        wri_item *it = &nd->it[i];
        wri_page_cell(&v, i, &c);
        it->key = c.key;
        it->klen = c.klen;
        it->vlen = c.vlen;
        it->val = c.val;
        if (c.overflow)
            it->ovf = c.ovf;
        it->tail = c.tail;
        it->tlen = c.tlen;
        it->caddr = c.child;
        const char *what;
        uint32_t need = wri_cell_version(&c, &what);
        if (need > t->blk->cur.version) {
            rc = WR_ERR(eb, WR_ECORRUPT,
                        "%s: page at offset %llu, slot %u: %s (format %u) "
                        "in a format %u file",
                        t->blk->path, (unsigned long long)a->off, i, what,
                        need, t->blk->cur.version);
            goto out;
        }
        if (level == 0 && c.overflow != item_is_overflow(t, it)) {
            rc = WR_ERR(eb, WR_ECORRUPT,
                        "%s: page at offset %llu, slot %u: value of %u bytes "
                        "stored %s",
                        t->blk->path, (unsigned long long)a->off, i, c.vlen,
                        c.overflow ? "in an overflow page but fits inline"
                                   : "inline but is too long for inline");
            goto out;
        }
    }
    nd->n = v.count;
    nd->page = buf;
    buf = NULL;
    bt_mem_add(t, a->size);
    nd->addr = *a;
    nd->bytes = v.size - v.free_bytes;
    for (uint32_t i = 0; i < nd->n; i++)
        nd->tails += nd->it[i].tlen;
    *out = nd;
    nd = NULL;
out:
    if (nd != NULL)
        wri_bt_node_free(t, nd);
    free(buf);
    return rc;
}

int wri_bt_node_child(wri_btree *t, wri_node *nd, uint32_t i,
                      wri_node **out, wr_errbuf *eb)
{
    int rc;
    wri_item *it = &nd->it[i];
    if (it->child == NULL &&
        (rc = node_load(t, &it->caddr, (uint16_t)(nd->level - 1), &it->child,
                        eb)) != WR_OK)
        return rc;
    it->child->seen = t->epoch;
    *out = it->child;
    return WR_OK;
}

int wri_bt_tree_root(wri_btree *t, wri_node **out, wr_errbuf *eb)
{
    int rc;
    if (t->root == NULL && t->root_addr.off != 0) {
        if ((rc = node_load(t, &t->root_addr, (uint16_t)(t->height - 1),
                            &t->root, eb)) != WR_OK)
            return rc;
    }
    *out = t->root;
    return WR_OK;
}

/* Give an item memory of its own holding its key and what its cell holds
 * of its value: an inline value, or the tail (B7; a packed value whole). */
static int item_own(wri_btree *t, wri_item *it, wr_errbuf *eb)
{
    if (it->mem != NULL)
        return WR_OK;
    const uint8_t *v = it->val != NULL ? it->val : it->tail;
    size_t vl = it->val != NULL ? it->vlen : it->tlen;
    uint8_t *m = item_mem_alloc(t, it->klen + vl + 1);
    if (m == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory copying a tree item");
    if (it->klen > 0)
        memcpy(m, it->key, it->klen);
    if (vl > 0)
        memcpy(m + it->klen, v, vl);
    it->mem = m;
    it->memlen = it->klen + vl + 1;
    it->key = m;
    if (it->val != NULL)
        it->val = m + it->klen;
    else if (it->tail != NULL)
        it->tail = m + it->klen;
    return WR_OK;
}

/* Make a node dirty: its page on disk leaves the tree being built (B1),
 * freed once every item has memory of its own. Values keep their form
 * (B7): a split value's run stays the item's, nothing is read. */
static int node_dirty(wri_btree *t, wri_node *nd, wr_errbuf *eb)
{
    int rc;
    if (nd->dirty)
        return WR_OK;
    for (uint32_t i = 0; i < nd->n; i++)
        if ((rc = item_own(t, &nd->it[i], eb)) != WR_OK)
            return rc;
    if (nd->page != NULL)
        bt_mem_sub(t, nd->addr.size);
    free(nd->page);
    nd->page = NULL;
    wr_addr old = nd->addr;
    memset(&nd->addr, 0, sizeof nd->addr);
    nd->dirty = true;
    if (old.off != 0)
        return wri_block_free_page(t->blk, &old, eb);
    return WR_OK;
}

/* --- search ----------------------------------------------------------- */

static int bt_cmp(const wri_btree *t, const uint8_t *a, uint32_t al,
                  const uint8_t *b, uint32_t bl)
{
    (void)t;
    return wri_key_cmp(a, al, b, bl);
}

uint32_t wri_bt_leaf_search(const wri_btree *t, const wri_node *nd,
                            const uint8_t *key, uint32_t klen, bool *found)
{
    uint32_t lo = 0, hi = nd->n;
    *found = false;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = bt_cmp(t, nd->it[mid].key, nd->it[mid].klen, key, klen);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Internal: the child whose range holds key (last i with sep_i <= key). */
static uint32_t int_search(const wri_btree *t, const wri_node *nd,
                           const uint8_t *key, uint32_t klen)
{
    uint32_t lo = 1, hi = nd->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (bt_cmp(t, nd->it[mid].key, nd->it[mid].klen, key, klen) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

int wri_bt_descend(wri_btree *t, const uint8_t *key, uint32_t klen,
                   bt_path *p, wr_errbuf *eb)
{
    int rc;
    wri_node *nd;
    p->depth = 0;
    if ((rc = wri_bt_tree_root(t, &nd, eb)) != WR_OK)
        return rc;
    while (nd != NULL) {
        if (p->depth >= BT_MAX_DEPTH)
            return WR_ERR(eb, WR_ECORRUPT, "%s: tree deeper than %d levels",
                          t->blk->path, BT_MAX_DEPTH);
        p->node[p->depth] = nd;
        if (nd->level == 0) {
            p->idx[p->depth++] = 0;
            break;
        }
        uint32_t i = int_search(t, nd, key, klen);
        p->idx[p->depth++] = i;
        if ((rc = wri_bt_node_child(t, nd, i, &nd, eb)) != WR_OK)
            return rc;
    }
    return WR_OK;
}

static int path_dirty(wri_btree *t, bt_path *p, wr_errbuf *eb)
{
    int rc;
    for (int d = 0; d < p->depth; d++)
        if ((rc = node_dirty(t, p->node[d], eb)) != WR_OK)
            return rc;
    return WR_OK;
}

/* --- open / close ----------------------------------------------------- */

int wri_btree_open(wri_block *blk, int nkeyelem, wri_btree **out,
                   wr_errbuf *eb)
{
    wri_btree *t = calloc(1, sizeof *t);
    uint32_t leaf_max = wri_leaf_max(WRI_VERSION_LONG_LEAVES, blk->page_size);
    if (t == NULL || (t->scratch = malloc(leaf_max)) == NULL) {
        free(t);
        return WR_ERR(eb, WR_ENOMEM, "out of memory opening a tree");
    }
    t->blk = blk;
    t->leaf_max = leaf_max;
    t->nkeyelem = nkeyelem;
    t->root_addr = blk->cur.root;
    t->nrecords = blk->cur.nrecords;
    t->height = blk->cur.height;
    t->readonly = blk->readonly;
    /* node_write allocates page after page, so the pages of a checkpoint
     * or an early write mostly follow one another in the file: the block
     * layer writes such runs with one pwrite each (block.c I13) */
    if (!t->readonly)
        wri_block_gather_writes(blk);
    if ((t->root_addr.off == 0) != (t->height == 0) ||
        t->height > BT_MAX_DEPTH) {
        int rc = WR_ERR(eb, WR_ECORRUPT,
                        "%s: checkpoint %llu has root offset %llu but height "
                        "%u",
                        blk->path, (unsigned long long)blk->cur.gen,
                        (unsigned long long)t->root_addr.off, t->height);
        free(t->scratch);
        free(t);
        return rc;
    }
    *out = t;
    return WR_OK;
}

void wri_btree_close(wri_btree *t)
{
    if (t == NULL)
        return;
    wri_bt_node_free(t, t->root);
    free(t->scratch);
    free(t);
}

bool wri_btree_dirty(const wri_btree *t)
{
    return t->changed;
}

/* --- get -------------------------------------------------------------- */

int wri_bt_item_value(wri_btree *t, const wri_item *it, const uint8_t **val,
                      uint8_t **buf, size_t *cap, wr_errbuf *eb)
{
    if (it->val != NULL || it->vlen == 0) {
        *val = it->val;
        return WR_OK;
    }
    /* size, the 16 MiB limit and the address before any allocation, then
     * the checked read: the page source's one overflow reader */
    return wri_block_read_overflow(t->blk, &it->ovf, it->vlen, it->tail,
                                   it->tlen, buf, cap, val, eb);
}

int wri_btree_get(wri_btree *t, const uint8_t *key, uint32_t klen,
                  uint8_t **val_out, uint32_t *vlen_out, wr_errbuf *eb)
{
    int rc;
    bt_path p;
    bool found = false;
    uint8_t *buf = NULL;
    size_t cap = 0;
    if ((rc = wri_bt_descend(t, key, klen, &p, eb)) != WR_OK)
        return rc;
    if (p.depth == 0)
        return WR_ENOTFOUND;
    wri_node *leaf = p.node[p.depth - 1];
    uint32_t i = wri_bt_leaf_search(t, leaf, key, klen, &found);
    if (!found)
        return WR_ENOTFOUND;
    wri_item *it = &leaf->it[i];
    if (vlen_out != NULL)
        *vlen_out = it->vlen;
    if (val_out == NULL)
        return WR_OK;
    const uint8_t *v;
    if ((rc = wri_bt_item_value(t, it, &v, &buf, &cap, eb)) != WR_OK)
        goto out;
    if ((*val_out = malloc(it->vlen + 1)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory copying a value");
        goto out;
    }
    if (it->vlen > 0)
        memcpy(*val_out, v, it->vlen);
out:
    free(buf);
    return rc;
}

/* --- put -------------------------------------------------------------- */

/* Set *it to key and value (val NULL: a key alone, a separator). A leaf
 * value's cell keeps what the shared rule keeps (B7: all of it, packed,
 * or its last part block, split), and the file's version is raised to
 * say so; until its run is written (ovf_write) the item holds it all. */
static int item_set(wri_btree *t, wri_item *it, const uint8_t *key,
                    uint32_t klen, const uint8_t *val, uint32_t vlen,
                    wr_errbuf *eb)
{
    uint32_t tlen =
        val != NULL ? wri_leaf_tail(bt_psize(t), t->leaf_max, klen, vlen) : 0;
    uint8_t *m = item_mem_alloc(t, (size_t)klen + vlen + 1);
    if (m == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory storing an item");
    if (klen > 0)
        memcpy(m, key, klen);
    if (vlen > 0)
        memcpy(m + klen, val, vlen);
    item_mem_free(t, it);
    it->mem = m;
    it->memlen = (size_t)klen + vlen + 1;
    it->key = m;
    it->klen = klen;
    it->val = val != NULL ? m + klen : NULL;
    it->vlen = vlen;
    it->tlen = tlen;
    it->tail = tlen > 0 ? m + klen + (vlen - tlen) : NULL;
    memset(&it->ovf, 0, sizeof it->ovf);
    if (tlen > 0)
        wri_block_set_version(t->blk, wri_tail_version(vlen, tlen));
    return WR_OK;
}

/* Internal node: item 0 carries no key (B3). */
static void node_drop_first_key(wri_btree *t, wri_node *nd)
{
    if (nd->level > 0 && nd->n > 0 && nd->it[0].klen > 0) {
        nd->bytes -= nd->it[0].klen;
        nd->it[0].klen = 0;
    }
    (void)t;
}

void wri_bt_node_recount(wri_btree *t, wri_node *nd)
{
    nd->bytes = WRI_PH_LEN;
    nd->tails = 0;
    for (uint32_t i = 0; i < nd->n; i++)
        node_count_in(t, nd, &nd->it[i]);
}

int wri_bt_node_cut(wri_btree *t, wri_node *nd, uint32_t k, wri_item *sep,
                    wr_errbuf *eb)
{
    int rc;
    wri_node *right = wri_bt_node_new(t, nd->level, nd->n - k);
    memset(sep, 0, sizeof *sep);
    if (right == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory splitting a page");
    right->dirty = true;
    memcpy(right->it, &nd->it[k], (size_t)(nd->n - k) * sizeof *nd->it);
    right->n = nd->n - k;
    nd->n = k;
    if ((rc = item_set(t, sep, right->it[0].key, right->it[0].klen, NULL, 0,
                       eb)) != WR_OK) {
        wri_bt_node_free(t, right);
        return rc;
    }
    node_drop_first_key(t, right);
    wri_bt_node_recount(t, nd);
    wri_bt_node_recount(t, right);
    sep->child = right;
    return WR_OK;
}

/* Split nd (at path depth d) in two halves by bytes; or, when the item
 * that overfilled it was appended at its end (ascending keys: a load in
 * key order), keep every other item on the left, so such loads fill pages
 * instead of leaving them half empty. */
static int node_split(wri_btree *t, bt_path *p, int d, bool append,
                      wr_errbuf *eb)
{
    int rc;
    wri_node *nd = p->node[d];
    uint32_t half = (nd->bytes - WRI_PH_LEN) / 2, acc = 0, k = 0;
    while (k < nd->n - 1) {
        acc += item_size(t, nd, &nd->it[k]);
        k++;
        if (acc >= half)
            break;
    }
    if (append)
        k = nd->n - 1;
    if (k == 0)
        k = 1;
    wri_item sep;
    if ((rc = wri_bt_node_cut(t, nd, k, &sep, eb)) != WR_OK)
        return rc;
    wri_node *right = sep.child;
    if (d == 0) {
        wri_node *root = wri_bt_node_new(t, (uint16_t)(nd->level + 1), 2);
        if (root == NULL) {
            item_mem_free(t, &sep);
            wri_bt_node_free(t, right);
            return WR_ERR(eb, WR_ENOMEM, "out of memory splitting the root");
        }
        root->dirty = true;
        root->it[0].child = nd;
        root->n = 1;
        node_insert_at(root, 1, &sep);
        wri_bt_node_recount(t, root);
        node_drop_first_key(t, root);
        t->root = root;
        t->height++;
        return WR_OK;
    }
    wri_node *parent = p->node[d - 1];
    if ((rc = wri_bt_node_reserve(t, parent, parent->n + 1, eb)) != WR_OK) {
        item_mem_free(t, &sep);
        wri_bt_node_free(t, right);
        return rc;
    }
    node_insert_at(parent, p->idx[d - 1] + 1, &sep);
    parent->bytes += wri_int_item_size(sep.klen);
    return WR_OK;
}

/* append: the new item went to the end of the leaf. A level above, the
 * new separator lands at the end of its parent when the split node was
 * the parent's last child. */
static int bt_fix_overfull(wri_btree *t, bt_path *p, bool append,
                           wr_errbuf *eb)
{
    int rc;
    for (int d = p->depth - 1; d >= 0; d--) {
        if (node_fits(t, p->node[d]))
            break;
        if ((rc = node_split(t, p, d, append, eb)) != WR_OK)
            return rc;
        append = append && d > 0 && p->idx[d - 1] + 2 == p->node[d - 1]->n;
    }
    return WR_OK;
}

static int bt_check_key(wri_btree *t, uint32_t klen, uint32_t vlen,
                        wr_errbuf *eb)
{
    if (t->readonly)
        return WR_ERR(eb, WR_ENOTSUP, "%s: opened read-only", t->blk->path);
    if (klen == 0 || klen > wri_page_max_key(bt_psize(t)))
        return WR_ERR(eb, WR_EINVAL,
                      "%s: key of %u bytes; keys must be 1 to %u bytes with "
                      "%u-byte pages",
                      t->blk->path, klen, wri_page_max_key(bt_psize(t)),
                      bt_psize(t));
    if (vlen > UINT32_MAX - WRI_PH_LEN - WRI_PAGE_MAX)
        return WR_ERR(eb, WR_EINVAL, "value of %u bytes is too long", vlen);
    return WR_OK;
}

static int bt_rebalance(wri_btree *t, bt_path *p, wr_errbuf *eb);

int wri_btree_put(wri_btree *t, const uint8_t *key, uint32_t klen,
                  const uint8_t *val, uint32_t vlen, bool *replaced_out,
                  wr_errbuf *eb)
{
    int rc;
    bt_path p;
    bool found;
    static const uint8_t empty[1];
    if (val == NULL)
        val = empty;
    if ((rc = bt_check_key(t, klen, vlen, eb)) != WR_OK)
        return rc;
    if ((rc = wri_bt_descend(t, key, klen, &p, eb)) != WR_OK)
        return rc;
    if (p.depth == 0) { /* empty tree: a leaf root */
        if ((t->root = wri_bt_node_new(t, 0, 8)) == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory creating a root");
        t->root->dirty = true;
        t->height = 1;
        p.node[0] = t->root;
        p.depth = 1;
    }
    if ((rc = path_dirty(t, &p, eb)) != WR_OK)
        return rc;
    wri_node *leaf = p.node[p.depth - 1];
    uint32_t i = wri_bt_leaf_search(t, leaf, key, klen, &found);
    if (replaced_out != NULL)
        *replaced_out = found;
    t->changed = true;
    if (found) {
        wri_item *it = &leaf->it[i];
        wr_addr old = it->ovf;
        uint32_t before = leaf->bytes;
        node_count_out(t, leaf, it);
        rc = item_set(t, it, it->key, it->klen, val, vlen, eb);
        node_count_in(t, leaf, it); /* item_set changes nothing on failure */
        if (rc != WR_OK)
            return rc;
        if (old.off != 0 &&
            (rc = wri_block_free_page(t->blk, &old, eb)) != WR_OK)
            return rc;
        /* a shrinking update may leave the leaf underfull, as a delete
         * may: the same merge rule (B6) */
        if (leaf->bytes < before && node_fits(t, leaf))
            return bt_rebalance(t, &p, eb);
    } else {
        wri_item it = {0};
        if ((rc = wri_bt_node_reserve(t, leaf, leaf->n + 1, eb)) != WR_OK ||
            (rc = item_set(t, &it, key, klen, val, vlen, eb)) != WR_OK)
            return rc;
        node_insert_at(leaf, i, &it);
        node_count_in(t, leaf, &it);
        t->nrecords++;
    }
    return bt_fix_overfull(t, &p, !found && i + 1 == leaf->n, eb);
}

/* --- delete ----------------------------------------------------------- */

static int item_release(wri_btree *t, wri_node *nd, uint32_t i,
                        wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_item *it = &nd->it[i];
    if (nd->level == 0 && it->ovf.off != 0)
        rc = wri_block_free_page(t->blk, &it->ovf, eb);
    item_mem_free(t, it);
    node_count_out(t, nd, it);
    memmove(&nd->it[i], &nd->it[i + 1], (size_t)(nd->n - i - 1) * sizeof *it);
    nd->n--;
    if (i == 0)
        node_drop_first_key(t, nd);
    return rc;
}

/* Merge right into left (siblings under parent, right at index ri). */
static int node_merge(wri_btree *t, wri_node *parent, uint32_t ri,
                      wr_errbuf *eb)
{
    int rc;
    wri_node *left = parent->it[ri - 1].child, *right = parent->it[ri].child;
    if ((rc = wri_bt_node_reserve(t, left, left->n + right->n, eb)) != WR_OK)
        return rc;
    if (right->level > 0) { /* the separator comes down as a key */
        wri_item *sep = &parent->it[ri];
        if ((rc = item_set(t, &right->it[0], sep->key, sep->klen, NULL, 0,
                           eb)) != WR_OK)
            return rc;
    }
    memcpy(&left->it[left->n], right->it, (size_t)right->n * sizeof *left->it);
    left->n += right->n;
    right->n = 0;
    wri_bt_node_recount(t, left);
    wri_bt_node_free(t, right);
    parent->it[ri].child = NULL;
    return item_release(t, parent, ri, eb);
}

/* Merge child i of parent, underfull, with a sibling: the left one, else
 * the right one, the first whose merge with it fits one page (B6: a long
 * leaf too, up to t->leaf_max, its cells without their tails in one
 * block) that takes fewer blocks than the two apart. *merged: whether it
 * did. */
static int node_merge_sibling(wri_btree *t, wri_node *parent, uint32_t i,
                              bool *merged, wr_errbuf *eb)
{
    int rc;
    wri_node *nd = parent->it[i].child, *sib;
    *merged = false;
    for (int side = 0; side < 2; side++) {
        uint32_t si = side == 0 ? i - 1 : i + 1; /* i - 1 wraps when i 0 */
        if (si >= parent->n)
            continue;
        if ((rc = wri_bt_node_child(t, parent, si, &sib, eb)) != WR_OK)
            return rc;
        uint32_t ri = side == 0 ? i : si; /* merge (ri-1, ri) */
        uint32_t bytes = nd->bytes + sib->bytes - WRI_PH_LEN +
                         (nd->level > 0 ? parent->it[ri].klen : 0);
        if (!bt_fits(t, nd->level, bytes, nd->tails + sib->tails) ||
            bt_blocks(t, bytes) >=
                bt_blocks(t, nd->bytes) + bt_blocks(t, sib->bytes))
            continue;
        if ((rc = node_dirty(t, sib, eb)) != WR_OK ||
            (rc = node_merge(t, parent, ri, eb)) != WR_OK)
            return rc;
        *merged = true;
        return WR_OK;
    }
    return WR_OK;
}

/* After a delete or a shrinking update, walk up: remove empty nodes,
 * merge underfull ones: a node whose last block is less than a quarter
 * used (a one-block node: less than a quarter of a page; a long leaf of
 * packed or split values the same, so deletes and updates that empty
 * long leaves bring them together). */
static int bt_rebalance(wri_btree *t, bt_path *p, wr_errbuf *eb)
{
    int rc;
    for (int d = p->depth - 1; d > 0; d--) {
        wri_node *nd = p->node[d], *parent = p->node[d - 1];
        uint32_t i = p->idx[d - 1];
        bool merged;
        if (nd->n == 0) {
            wri_bt_node_free(t, nd);
            parent->it[i].child = NULL;
            if ((rc = item_release(t, parent, i, eb)) != WR_OK)
                return rc;
            continue;
        }
        if (node_page_size(t, nd) - nd->bytes <= bt_psize(t) / 4 * 3 ||
            parent->n < 2)
            break;
        if ((rc = node_merge_sibling(t, parent, i, &merged, eb)) != WR_OK)
            return rc;
        if (!merged)
            break;
    }
    /* Shrink the root. */
    while (t->root != NULL && t->root->level > 0 && t->root->n == 1) {
        wri_node *old = t->root, *child;
        if ((rc = wri_bt_node_child(t, old, 0, &child, eb)) != WR_OK ||
            (rc = node_dirty(t, child, eb)) != WR_OK)
            return rc;
        old->it[0].child = NULL;
        item_mem_free(t, &old->it[0]);
        old->n = 0;
        wri_bt_node_free(t, old);
        t->root = child;
        t->height--;
    }
    if (t->root != NULL && t->root->n == 0) {
        wri_bt_node_free(t, t->root);
        t->root = NULL;
        memset(&t->root_addr, 0, sizeof t->root_addr);
        t->height = 0;
    }
    return WR_OK;
}

int wri_btree_delete(wri_btree *t, const uint8_t *key, uint32_t klen,
                     wr_errbuf *eb)
{
    int rc;
    bt_path p;
    bool found = false;
    if ((rc = bt_check_key(t, klen, 0, eb)) != WR_OK)
        return rc;
    if ((rc = wri_bt_descend(t, key, klen, &p, eb)) != WR_OK)
        return rc;
    if (p.depth == 0)
        return WR_ENOTFOUND;
    wri_node *leaf = p.node[p.depth - 1];
    uint32_t i = wri_bt_leaf_search(t, leaf, key, klen, &found);
    if (!found)
        return WR_ENOTFOUND;
    if ((rc = path_dirty(t, &p, eb)) != WR_OK)
        return rc;
    t->changed = true;
    if ((rc = item_release(t, leaf, i, eb)) != WR_OK)
        return rc;
    t->nrecords--;
    return bt_rebalance(t, &p, eb);
}
