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
 * Early writes (wri_btree_evict): the dirty nodes are written, children
 * first, exactly as a checkpoint writes them, but no slot is written, so
 * the file's committed checkpoints stay what they were (block.c I1-I3).
 * The nodes are then clean (B4) at addresses allocated in this build; a
 * later change frees such an address straight back to avail (I2), and a
 * clean node can be forgotten and read back on demand.
 */
#include "btree.h"

#include "diag.h"
#include "wr_int.h"

#include <stdio.h>
#include <stdlib.h>

#define BT_MAX_DEPTH 64

typedef struct wri_item {
    const uint8_t *key;
    uint32_t klen;
    const uint8_t *val; /* leaf: inline value, or NULL if only in overflow */
    uint32_t vlen;
    wr_addr ovf;     /* leaf: overflow page on disk (off != 0) */
    const uint8_t *tail; /* leaf: the value's last tlen bytes its cell
                            keeps (B7), in the page or in mem; all of it
                            (tlen == vlen) for a packed value */
    uint32_t tlen;
    uint8_t *mem;    /* owned copy of key (+ value), NULL if in page */
    size_t memlen;   /* bytes of mem (t->mem counts them) */
    wri_node *child; /* internal: loaded child */
    wr_addr caddr;   /* internal: child on disk */
} wri_item;

struct wri_node {
    uint16_t level;
    bool dirty;
    uint32_t n, cap;
    wri_item *it;
    uint8_t *page; /* page buffer clean items point into */
    wr_addr addr;  /* on disk; off == 0 when dirty (B1) */
    uint32_t bytes;
    uint32_t tails; /* leaf: its items' tlen summed (B2, node_fits) */
    uint32_t seen; /* t->epoch when last reached (wri_btree_evict) */
};

struct wri_cursor {
    wri_btree *t;
    int depth; /* number of levels on the stack */
    wri_node *node[BT_MAX_DEPTH];
    uint32_t idx[BT_MAX_DEPTH];
    bool valid;
    uint8_t *ovf;
    size_t ovfcap;
};

/* --- nodes ------------------------------------------------------------ */

static uint32_t bt_psize(const wri_btree *t)
{
    return t->blk->page_size;
}

static uint32_t item_size(const wri_btree *t, const wri_node *nd,
                          const wri_item *it)
{
    if (nd->level == 0)
        return wri_leaf_item_size(bt_psize(t), it->klen, it->vlen) +
               it->tlen;
    return wri_int_item_size(it->klen);
}

static bool item_is_overflow(const wri_btree *t, const wri_item *it)
{
    return it->vlen > wri_page_max_inline(bt_psize(t), it->klen);
}

/* B6: may a node at level of bytes, tails of them value tails, be
 * written as it is? One block; or a leaf of up to t->leaf_max bytes whose
 * cells without their value tails fit one block (tails lengthen a leaf,
 * never let it hold more items). */
static bool bt_fits(const wri_btree *t, uint16_t level, uint32_t bytes,
                    uint32_t tails)
{
    if (bytes <= bt_psize(t))
        return true;
    if (level > 0 || bytes > t->leaf_max)
        return false;
    return bytes - tails <= bt_psize(t);
}

static bool node_fits(const wri_btree *t, const wri_node *nd)
{
    return bt_fits(t, nd->level, nd->bytes, nd->tails);
}

/* The blocks a page of bytes takes (B6: the fewest that hold it). */
static uint32_t bt_blocks(const wri_btree *t, uint32_t bytes)
{
    return (bytes + bt_psize(t) - 1) / bt_psize(t);
}

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

/* The bytes of the page nd is written as: the fewest blocks (B6). */
static uint32_t node_page_size(const wri_btree *t, const wri_node *nd)
{
    return bt_blocks(t, nd->bytes) * bt_psize(t);
}

/* The heap a malloc'd block of n bytes costs (B5): glibc's chunk header
 * and rounding, about 16 bytes. */
#define BT_MALLOC_COST 16u

/* Every change of t->mem goes through these two: the owner's running
 * total (t->total, the database's) moves with it. */
static void bt_mem_grow(wri_btree *t, uint64_t n)
{
    t->mem += n;
    if (t->total != NULL)
        *t->total += n;
}

static void bt_mem_shrink(wri_btree *t, uint64_t n)
{
    t->mem -= n;
    if (t->total != NULL)
        *t->total -= n;
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

static wri_node *node_new(wri_btree *t, uint16_t level, uint32_t cap)
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

/* The heap node nd itself holds (B5; its children not counted): the node,
 * its item array, its page buffer and its items' own memory, each block
 * with the malloc cost. */
static uint64_t node_mem(const wri_btree *t, const wri_node *nd)
{
    uint64_t m = sizeof *nd + (uint64_t)nd->cap * sizeof *nd->it +
                 2 * BT_MALLOC_COST;
    if (nd->page != NULL) /* a page, or a long leaf (B6) */
        m += nd->addr.size + BT_MALLOC_COST;
    for (uint32_t i = 0; i < nd->n; i++)
        if (nd->it[i].mem != NULL)
            m += nd->it[i].memlen + BT_MALLOC_COST;
    return m;
}

static void node_free(wri_btree *t, wri_node *nd)
{
    if (nd == NULL)
        return;
    bt_mem_shrink(t, node_mem(t, nd));
    for (uint32_t i = 0; i < nd->n; i++) {
        free(nd->it[i].mem);
        if (nd->level > 0)
            node_free(t, nd->it[i].child);
    }
    free(nd->it);
    free(nd->page);
    free(nd);
}

static int node_reserve(wri_btree *t, wri_node *nd, uint32_t need,
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
    if ((nd = node_new(t, level, v.count)) == NULL) {
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
        node_free(t, nd);
    free(buf);
    return rc;
}

static int node_child(wri_btree *t, wri_node *nd, uint32_t i, wri_node **out,
                      wr_errbuf *eb)
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

static int tree_root(wri_btree *t, wri_node **out, wr_errbuf *eb)
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

/* Leaf: first index whose key >= key; *found if equal. */
static uint32_t leaf_search(const wri_btree *t, const wri_node *nd,
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

typedef struct bt_path {
    int depth;
    wri_node *node[BT_MAX_DEPTH];
    uint32_t idx[BT_MAX_DEPTH]; /* child index taken (internal levels) */
} bt_path;

static int bt_descend(wri_btree *t, const uint8_t *key, uint32_t klen,
                      bt_path *p, wr_errbuf *eb)
{
    int rc;
    wri_node *nd;
    p->depth = 0;
    if ((rc = tree_root(t, &nd, eb)) != WR_OK)
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
        if ((rc = node_child(t, nd, i, &nd, eb)) != WR_OK)
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
    node_free(t, t->root);
    free(t->scratch);
    free(t);
}

bool wri_btree_dirty(const wri_btree *t)
{
    return t->changed;
}

/* --- get -------------------------------------------------------------- */

static int item_value(wri_btree *t, const wri_item *it, const uint8_t **val,
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
    if ((rc = bt_descend(t, key, klen, &p, eb)) != WR_OK)
        return rc;
    if (p.depth == 0)
        return WR_ENOTFOUND;
    wri_node *leaf = p.node[p.depth - 1];
    uint32_t i = leaf_search(t, leaf, key, klen, &found);
    if (!found)
        return WR_ENOTFOUND;
    wri_item *it = &leaf->it[i];
    if (vlen_out != NULL)
        *vlen_out = it->vlen;
    if (val_out == NULL)
        return WR_OK;
    const uint8_t *v;
    if ((rc = item_value(t, it, &v, &buf, &cap, eb)) != WR_OK)
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

static void node_insert_at(wri_node *nd, uint32_t pos, const wri_item *it)
{
    memmove(&nd->it[pos + 1], &nd->it[pos],
            (size_t)(nd->n - pos) * sizeof *nd->it);
    nd->it[pos] = *it;
    nd->n++;
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

static void node_recount(wri_btree *t, wri_node *nd)
{
    nd->bytes = WRI_PH_LEN;
    nd->tails = 0;
    for (uint32_t i = 0; i < nd->n; i++)
        node_count_in(t, nd, &nd->it[i]);
}

/* Split nd (at path depth d) in two halves by bytes; or, when the item
 * that overfilled it was appended at its end (ascending keys: a load in
 * key order), keep every other item on the left, so such loads fill pages
 * instead of leaving them half empty. */
/* Move items [k, n) of dirty nd into a new right sibling; *sep gets the
 * separator (the right node's first key) pointing at it. */
static int node_cut(wri_btree *t, wri_node *nd, uint32_t k, wri_item *sep,
                    wr_errbuf *eb)
{
    int rc;
    wri_node *right = node_new(t, nd->level, nd->n - k);
    memset(sep, 0, sizeof *sep);
    if (right == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory splitting a page");
    right->dirty = true;
    memcpy(right->it, &nd->it[k], (size_t)(nd->n - k) * sizeof *nd->it);
    right->n = nd->n - k;
    nd->n = k;
    if ((rc = item_set(t, sep, right->it[0].key, right->it[0].klen, NULL, 0,
                       eb)) != WR_OK) {
        node_free(t, right);
        return rc;
    }
    node_drop_first_key(t, right);
    node_recount(t, nd);
    node_recount(t, right);
    sep->child = right;
    return WR_OK;
}

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
    if ((rc = node_cut(t, nd, k, &sep, eb)) != WR_OK)
        return rc;
    wri_node *right = sep.child;
    if (d == 0) {
        wri_node *root = node_new(t, (uint16_t)(nd->level + 1), 2);
        if (root == NULL) {
            item_mem_free(t, &sep);
            node_free(t, right);
            return WR_ERR(eb, WR_ENOMEM, "out of memory splitting the root");
        }
        root->dirty = true;
        root->it[0].child = nd;
        root->n = 1;
        node_insert_at(root, 1, &sep);
        node_recount(t, root);
        node_drop_first_key(t, root);
        t->root = root;
        t->height++;
        return WR_OK;
    }
    wri_node *parent = p->node[d - 1];
    if ((rc = node_reserve(t, parent, parent->n + 1, eb)) != WR_OK) {
        item_mem_free(t, &sep);
        node_free(t, right);
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
    if ((rc = bt_descend(t, key, klen, &p, eb)) != WR_OK)
        return rc;
    if (p.depth == 0) { /* empty tree: a leaf root */
        if ((t->root = node_new(t, 0, 8)) == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory creating a root");
        t->root->dirty = true;
        t->height = 1;
        p.node[0] = t->root;
        p.depth = 1;
    }
    if ((rc = path_dirty(t, &p, eb)) != WR_OK)
        return rc;
    wri_node *leaf = p.node[p.depth - 1];
    uint32_t i = leaf_search(t, leaf, key, klen, &found);
    if (replaced_out != NULL)
        *replaced_out = found;
    t->changed = true;
    if (found) {
        wri_item *it = &leaf->it[i];
        wr_addr old = it->ovf;
        node_count_out(t, leaf, it);
        rc = item_set(t, it, it->key, it->klen, val, vlen, eb);
        node_count_in(t, leaf, it); /* item_set changes nothing on failure */
        if (rc != WR_OK)
            return rc;
        if (old.off != 0 &&
            (rc = wri_block_free_page(t->blk, &old, eb)) != WR_OK)
            return rc;
    } else {
        wri_item it = {0};
        if ((rc = node_reserve(t, leaf, leaf->n + 1, eb)) != WR_OK ||
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
    if ((rc = node_reserve(t, left, left->n + right->n, eb)) != WR_OK)
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
    node_recount(t, left);
    node_free(t, right);
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
        if ((rc = node_child(t, parent, si, &sib, eb)) != WR_OK)
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

/* After a delete, walk up: remove empty nodes, merge underfull ones: a
 * node whose last block is less than a quarter used (a one-block node:
 * less than a quarter of a page; a long leaf of packed or split values
 * the same, so deletes that empty long leaves bring them together). */
static int bt_rebalance(wri_btree *t, bt_path *p, wr_errbuf *eb)
{
    int rc;
    for (int d = p->depth - 1; d > 0; d--) {
        wri_node *nd = p->node[d], *parent = p->node[d - 1];
        uint32_t i = p->idx[d - 1];
        bool merged;
        if (nd->n == 0) {
            node_free(t, nd);
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
        if ((rc = node_child(t, old, 0, &child, eb)) != WR_OK ||
            (rc = node_dirty(t, child, eb)) != WR_OK)
            return rc;
        old->it[0].child = NULL;
        item_mem_free(t, &old->it[0]);
        old->n = 0;
        node_free(t, old);
        t->root = child;
        t->height--;
    }
    if (t->root != NULL && t->root->n == 0) {
        node_free(t, t->root);
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
    if ((rc = bt_descend(t, key, klen, &p, eb)) != WR_OK)
        return rc;
    if (p.depth == 0)
        return WR_ENOTFOUND;
    wri_node *leaf = p.node[p.depth - 1];
    uint32_t i = leaf_search(t, leaf, key, klen, &found);
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

/* --- checkpoint ------------------------------------------------------- */

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
        if ((rc = node_reserve(t, parent, parent->n + 1, eb)) != WR_OK ||
            (rc = node_cut(t, nd, k, &sep, eb)) != WR_OK)
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
        wri_node *root = node_new(t, (uint16_t)(t->root->level + 1), 2);
        if (root == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory splitting the root");
        root->dirty = true;
        root->it[0].child = t->root;
        root->n = 1;
        node_recount(t, root);
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
            node_free(t, child);
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
        node_free(t, t->root);
        t->root = NULL;
    }
    t->epoch++; /* what is reached from now on is warm */
    return WR_OK;
}

/* --- invariants (diag.h) ---------------------------------------------- */

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

/* --- cursor ----------------------------------------------------------- */

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
        node_free(c->t, nd);
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
        if ((rc = node_child(c->t, c->node[d], c->idx[d], &child, eb)) !=
            WR_OK)
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
    if ((rc = tree_root(c->t, &root, eb)) != WR_OK)
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
    if ((rc = bt_descend(c->t, key, klen, &p, eb)) != WR_OK)
        return rc;
    if (p.depth == 0)
        return WR_ENOTFOUND;
    for (int d = 0; d < p.depth; d++) {
        c->node[d] = p.node[d];
        c->idx[d] = p.idx[d];
    }
    c->depth = p.depth;
    wri_node *leaf = p.node[p.depth - 1];
    uint32_t i = leaf_search(c->t, leaf, key, klen, &found);
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
    return item_value(c->t, it, val, &c->ovf, &c->ovfcap, eb);
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
