/*
 * btree_int.h -- what the files of the B+tree share; not for other
 * modules (btree.h is the API). btree.c: nodes, search, put, delete, and
 * the invariants B1-B7 at its top; btree_ckpt.c: writing the dirty nodes
 * (checkpoints, early writes); btree_cursor.c: cursors; btree_diag.c:
 * B1-B7 checked (diag.h). btree_ckpt.c and btree_cursor.c call btree.c,
 * never the other way.
 */
#ifndef WR_BTREE_INT_H
#define WR_BTREE_INT_H

#include "btree.h"
#include "wr_int.h"

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

typedef struct bt_path {
    int depth;
    wri_node *node[BT_MAX_DEPTH];
    uint32_t idx[BT_MAX_DEPTH]; /* child index taken (internal levels) */
} bt_path;

static inline uint32_t bt_psize(const wri_btree *t)
{
    return t->blk->page_size;
}

static inline uint32_t item_size(const wri_btree *t, const wri_node *nd,
                                 const wri_item *it)
{
    if (nd->level == 0)
        return wri_leaf_item_size(bt_psize(t), it->klen, it->vlen) +
               it->tlen;
    return wri_int_item_size(it->klen);
}

static inline bool item_is_overflow(const wri_btree *t, const wri_item *it)
{
    return it->vlen > wri_page_max_inline(bt_psize(t), it->klen);
}

/* B6: may a node at level of bytes, tails of them value tails, be
 * written as it is? One block; or a leaf of up to t->leaf_max bytes whose
 * cells without their value tails fit one block (tails lengthen a leaf,
 * never let it hold more items). */
static inline bool bt_fits(const wri_btree *t, uint16_t level,
                           uint32_t bytes, uint32_t tails)
{
    if (bytes <= bt_psize(t))
        return true;
    if (level > 0 || bytes > t->leaf_max)
        return false;
    return bytes - tails <= bt_psize(t);
}

static inline bool node_fits(const wri_btree *t, const wri_node *nd)
{
    return bt_fits(t, nd->level, nd->bytes, nd->tails);
}

/* The blocks a page of bytes takes (B6: the fewest that hold it). */
static inline uint32_t bt_blocks(const wri_btree *t, uint32_t bytes)
{
    return (bytes + bt_psize(t) - 1) / bt_psize(t);
}

/* The bytes of the page nd is written as: the fewest blocks (B6). */
static inline uint32_t node_page_size(const wri_btree *t,
                                      const wri_node *nd)
{
    return bt_blocks(t, nd->bytes) * bt_psize(t);
}

/* The heap a malloc'd block of n bytes costs (B5): glibc's chunk header
 * and rounding, about 16 bytes. */
#define BT_MALLOC_COST 16u

/* Every change of t->mem goes through these two: the owner's running
 * total (t->total, the database's) moves with it. */
static inline void bt_mem_grow(wri_btree *t, uint64_t n)
{
    t->mem += n;
    if (t->total != NULL)
        *t->total += n;
}

static inline void bt_mem_shrink(wri_btree *t, uint64_t n)
{
    t->mem -= n;
    if (t->total != NULL)
        *t->total -= n;
}

/* The heap node nd itself holds (B5; its children not counted): the node,
 * its item array, its page buffer and its items' own memory, each block
 * with the malloc cost. */
static inline uint64_t node_mem(const wri_btree *t, const wri_node *nd)
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

static inline void node_insert_at(wri_node *nd, uint32_t pos,
                                  const wri_item *it)
{
    memmove(&nd->it[pos + 1], &nd->it[pos],
            (size_t)(nd->n - pos) * sizeof *nd->it);
    nd->it[pos] = *it;
    nd->n++;
}


/* btree.c: nodes (B5 counts what they hold) */
wri_node *wri_bt_node_new(wri_btree *t, uint16_t level, uint32_t cap);
void wri_bt_node_free(wri_btree *t, wri_node *nd);
/* Room for need items in nd's item array. */
int wri_bt_node_reserve(wri_btree *t, wri_node *nd, uint32_t need,
                        wr_errbuf *eb);
/* nd->bytes and nd->tails counted afresh from its items (B2). */
void wri_bt_node_recount(wri_btree *t, wri_node *nd);
/* Move items [k, n) of dirty nd into a new right sibling; *sep gets the
 * separator (the right node's first key) pointing at it. */
int wri_bt_node_cut(wri_btree *t, wri_node *nd, uint32_t k, wri_item *sep,
                    wr_errbuf *eb);
/* Child i of internal node nd, read if it is not loaded (and warm). */
int wri_bt_node_child(wri_btree *t, wri_node *nd, uint32_t i,
                      wri_node **out, wr_errbuf *eb);
/* The root, read if it is not loaded; NULL for an empty tree. */
int wri_bt_tree_root(wri_btree *t, wri_node **out, wr_errbuf *eb);

/* btree.c: search */
/* Leaf: first index whose key >= key; *found if equal. */
uint32_t wri_bt_leaf_search(const wri_btree *t, const wri_node *nd,
                            const uint8_t *key, uint32_t klen, bool *found);
/* The path from the root to the leaf whose range holds key (depth 0: an
 * empty tree). */
int wri_bt_descend(wri_btree *t, const uint8_t *key, uint32_t klen,
                   bt_path *p, wr_errbuf *eb);
/* A leaf item's value: inline, or read from its overflow run into *buf
 * (*cap bytes, grown as needed). */
int wri_bt_item_value(wri_btree *t, const wri_item *it, const uint8_t **val,
                      uint8_t **buf, size_t *cap, wr_errbuf *eb);

#endif /* WR_BTREE_INT_H */
