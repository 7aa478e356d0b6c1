/*
 * extent.c -- the alloc, avail and discard extent lists of one tree file,
 * in memory (DESIGN decision 7; see extent.h for the contract).
 *
 * Every list is a skiplist. A node carries one extent and two towers of
 * forward pointers, next[0, levels) for a list ordered by offset and
 * next[levels, 2*levels) for the avail list ordered by (size, offset), so
 * an avail extent is one node linked into both avail lists (as in
 * WiredTiger's block_ext.c) and moving an extent between lists never
 * allocates. Operations that may need new nodes first reserve them in a
 * small per-manager pool, so a failed malloc changes nothing.
 *
 * Invariants (wri_extent_check tests all of them):
 *   E1 every extent is non-empty, page-aligned and lies in
 *      [first_data, logical_size);
 *   E2 no two extents overlap, within a list or across lists;
 *   E3 avail extents are coalesced: no two are adjacent;
 *   E4 the by-size list holds exactly the avail extents;
 *   E5 discard extents of the same generation that touch are coalesced
 *      (touching ones of different generations stay apart);
 *   E6 avail extents carry gen 0, discard extents the generation that was
 *      being built when they were freed.
 */
#include "wr_int.h"

#include <stdbool.h>
#include <stdlib.h>

#define EXT_MAXLEVEL 24
#define EXT_POOL_MAX 32

typedef struct ext_node {
    wri_ext e;
    uint32_t levels;         /* 1..EXT_MAXLEVEL */
    struct ext_node *next[]; /* 2 * levels: by-offset tower, by-size tower */
} ext_node;

typedef struct ext_list {
    ext_node *head;  /* sentinel with EXT_MAXLEVEL levels */
    int half;        /* 0: ordered by offset; 1: by (len, off) */
    uint32_t level;  /* highest tower in use, 1..EXT_MAXLEVEL */
    uint64_t count;
    uint64_t bytes;
} ext_list;

struct wri_extmgr {
    uint32_t page_size;
    uint64_t first_data;
    uint64_t logical_size;
    ext_list avail_off;  /* avail by offset (half 0) */
    ext_list avail_size; /* the same nodes by (len, off) (half 1) */
    ext_list discard;    /* by offset */
    ext_list alloc;      /* by offset */
    uint64_t rng;        /* xorshift64 state for tower heights */
    ext_node *pool;      /* spare nodes, chained through next[0] */
    uint32_t npool;
};

#define NX(n, l, i) ((n)->next[(size_t)(l)->half * (n)->levels + (i)])

static uint64_t ext_end(const wri_ext *e)
{
    return e->off + e->len;
}

/* --- the skiplist ----------------------------------------------------- */

static bool ext_key_lt(const ext_list *l, const wri_ext *e, uint64_t k1,
                       uint64_t k2)
{
    if (l->half == 0)
        return e->off < k1;
    return e->len < k1 || (e->len == k1 && e->off < k2);
}

/* The last node whose key is < (k1, k2) (the head if none); fills
 * update[i] with the last such node on tower level i when update != NULL. */
static ext_node *ext_search(const ext_list *l, uint64_t k1, uint64_t k2,
                            ext_node **update)
{
    ext_node *x = l->head;
    for (int i = EXT_MAXLEVEL - 1; i >= 0; i--) {
        if ((uint32_t)i < l->level) {
            ext_node *nx;
            while ((nx = NX(x, l, i)) != NULL && ext_key_lt(l, &nx->e, k1, k2))
                x = nx;
        }
        if (update != NULL)
            update[i] = x;
    }
    return x;
}

static void ext_key(const ext_list *l, const ext_node *n, uint64_t *k1,
                    uint64_t *k2)
{
    *k1 = l->half ? n->e.len : n->e.off;
    *k2 = l->half ? n->e.off : 0;
}

static void ext_link(ext_list *l, ext_node *n)
{
    ext_node *update[EXT_MAXLEVEL];
    uint64_t k1, k2;
    ext_key(l, n, &k1, &k2);
    ext_search(l, k1, k2, update);
    for (uint32_t i = 0; i < n->levels; i++) {
        NX(n, l, i) = NX(update[i], l, i);
        NX(update[i], l, i) = n;
    }
    if (n->levels > l->level)
        l->level = n->levels;
    l->count++;
    l->bytes += n->e.len;
}

static void ext_unlink(ext_list *l, ext_node *n)
{
    ext_node *update[EXT_MAXLEVEL];
    uint64_t k1, k2;
    ext_key(l, n, &k1, &k2);
    ext_search(l, k1, k2, update);
    for (uint32_t i = 0; i < n->levels; i++)
        if (NX(update[i], l, i) == n)
            NX(update[i], l, i) = NX(n, l, i);
    while (l->level > 1 && NX(l->head, l, l->level - 1) == NULL)
        l->level--;
    l->count--;
    l->bytes -= n->e.len;
}

static ext_node *ext_first(const ext_list *l)
{
    return NX(l->head, l, 0);
}

static ext_node *ext_next(const ext_list *l, const ext_node *n)
{
    return NX(n, l, 0);
}

static ext_node *ext_first_ge(const ext_list *l, uint64_t k1, uint64_t k2)
{
    return NX(ext_search(l, k1, k2, NULL), l, 0);
}

static ext_node *ext_last_lt(const ext_list *l, uint64_t k1, uint64_t k2)
{
    ext_node *x = ext_search(l, k1, k2, NULL);
    return x == l->head ? NULL : x;
}

static ext_node *ext_last(const ext_list *l)
{
    ext_node *x = l->head;
    for (int i = (int)l->level - 1; i >= 0; i--)
        while (NX(x, l, i) != NULL)
            x = NX(x, l, i);
    return x == l->head ? NULL : x;
}

/* The extent of an offset-ordered list that overlaps [off, off+len). */
static ext_node *ext_overlap(const ext_list *l, uint64_t off, uint64_t len)
{
    ext_node *n = ext_last_lt(l, off + len, 0);
    return (n != NULL && ext_end(&n->e) > off) ? n : NULL;
}

/* --- nodes ------------------------------------------------------------ */

static ext_node *ext_node_alloc(uint32_t levels)
{
    ext_node *n = calloc(1, sizeof *n + 2 * (size_t)levels * sizeof(ext_node *));
    if (n != NULL)
        n->levels = levels;
    return n;
}

static uint32_t ext_random_level(wri_extmgr *em)
{
    uint64_t x = em->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    em->rng = x;
    uint32_t lvl = 1;
    while ((x & 3) == 0 && lvl < EXT_MAXLEVEL) { /* p = 1/4 */
        lvl++;
        x >>= 2;
    }
    return lvl;
}

/* Make sure k nodes are in the pool, so the operation cannot fail later. */
static int ext_reserve(wri_extmgr *em, uint32_t k, wr_errbuf *eb)
{
    while (em->npool < k) {
        ext_node *n = ext_node_alloc(ext_random_level(em));
        if (n == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory in the extent lists");
        n->next[0] = em->pool;
        em->pool = n;
        em->npool++;
    }
    return WR_OK;
}

static ext_node *ext_get(wri_extmgr *em, uint64_t off, uint64_t len)
{
    ext_node *n = em->pool; /* reserved beforehand: never NULL */
    em->pool = n->next[0];
    em->npool--;
    memset(n->next, 0, 2 * (size_t)n->levels * sizeof(ext_node *));
    n->e = (wri_ext){.off = off, .len = len};
    return n;
}

static void ext_put(wri_extmgr *em, ext_node *n)
{
    if (em->npool >= EXT_POOL_MAX) {
        free(n);
        return;
    }
    n->next[0] = em->pool;
    em->pool = n;
    em->npool++;
}

/* --- the three lists -------------------------------------------------- */

static void avail_del(wri_extmgr *em, ext_node *n)
{
    ext_unlink(&em->avail_off, n);
    ext_unlink(&em->avail_size, n);
}

/* Add n to avail, merging it with the neighbours it touches (E3). */
static void avail_add(wri_extmgr *em, ext_node *n)
{
    ext_node *left = ext_last_lt(&em->avail_off, n->e.off, 0);
    ext_node *right = ext_first_ge(&em->avail_off, ext_end(&n->e), 0);
    n->e.kind = WRI_EXT_AVAIL;
    n->e.gen = 0;
    if (left != NULL && ext_end(&left->e) == n->e.off) {
        avail_del(em, left);
        n->e.off = left->e.off;
        n->e.len += left->e.len;
        ext_put(em, left);
    }
    if (right != NULL && right->e.off == ext_end(&n->e)) {
        avail_del(em, right);
        n->e.len += right->e.len;
        ext_put(em, right);
    }
    ext_link(&em->avail_off, n);
    ext_link(&em->avail_size, n);
}

/* Add n to discard, merging with touching extents of the same gen (E5). */
static void discard_add(wri_extmgr *em, ext_node *n)
{
    ext_node *left = ext_last_lt(&em->discard, n->e.off, 0);
    ext_node *right = ext_first_ge(&em->discard, ext_end(&n->e), 0);
    n->e.kind = WRI_EXT_DISCARD;
    if (left != NULL && ext_end(&left->e) == n->e.off &&
        left->e.gen == n->e.gen) {
        ext_unlink(&em->discard, left);
        n->e.off = left->e.off;
        n->e.len += left->e.len;
        ext_put(em, left);
    }
    if (right != NULL && right->e.off == ext_end(&n->e) &&
        right->e.gen == n->e.gen) {
        ext_unlink(&em->discard, right);
        n->e.len += right->e.len;
        ext_put(em, right);
    }
    ext_link(&em->discard, n);
}

/* Add n to alloc, merging with touching alloc extents. */
static void alloc_add(wri_extmgr *em, ext_node *n)
{
    ext_node *left = ext_last_lt(&em->alloc, n->e.off, 0);
    ext_node *right = ext_first_ge(&em->alloc, ext_end(&n->e), 0);
    n->e.kind = 0;
    n->e.gen = 0;
    if (left != NULL && ext_end(&left->e) == n->e.off) {
        ext_unlink(&em->alloc, left);
        n->e.off = left->e.off;
        n->e.len += left->e.len;
        ext_put(em, left);
    }
    if (right != NULL && right->e.off == ext_end(&n->e)) {
        ext_unlink(&em->alloc, right);
        n->e.len += right->e.len;
        ext_put(em, right);
    }
    ext_link(&em->alloc, n);
}

static int ext_list_init(ext_list *l, int half)
{
    memset(l, 0, sizeof *l);
    l->half = half;
    l->level = 1;
    l->head = ext_node_alloc(EXT_MAXLEVEL);
    return l->head != NULL ? WR_OK : WR_ENOMEM;
}

static void ext_list_free_nodes(ext_list *l)
{
    if (l->head == NULL)
        return;
    ext_node *n = ext_first(l);
    while (n != NULL) {
        ext_node *nx = ext_next(l, n);
        free(n);
        n = nx;
    }
}

/* --- public ----------------------------------------------------------- */

int wri_extent_create(uint32_t page_size, uint64_t first_data,
                      uint64_t logical_size, wri_extmgr **out, wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_extmgr *em = NULL;
    *out = NULL;
    if (page_size == 0 || (page_size & (page_size - 1)) != 0 ||
        first_data % page_size != 0 || logical_size % page_size != 0 ||
        logical_size < first_data) {
        rc = WR_ERR(eb, WR_EINVAL,
                    "extent manager: bad geometry (page size %u, first data "
                    "%llu, logical size %llu)",
                    page_size, (unsigned long long)first_data,
                    (unsigned long long)logical_size);
        goto out;
    }
    if ((em = calloc(1, sizeof *em)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory creating the extent lists");
        goto out;
    }
    em->page_size = page_size;
    em->first_data = first_data;
    em->logical_size = logical_size;
    em->rng = 0x9E3779B97F4A7C15ull; /* fixed seed: runs are reproducible */
    if (ext_list_init(&em->avail_off, 0) != WR_OK ||
        ext_list_init(&em->avail_size, 1) != WR_OK ||
        ext_list_init(&em->discard, 0) != WR_OK ||
        ext_list_init(&em->alloc, 0) != WR_OK) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory creating the extent lists");
        goto out;
    }
    *out = em;
    em = NULL;
out:
    wri_extent_destroy(em);
    return rc;
}

void wri_extent_destroy(wri_extmgr *em)
{
    if (em == NULL)
        return;
    ext_list_free_nodes(&em->avail_off); /* avail_size holds the same nodes */
    ext_list_free_nodes(&em->discard);
    ext_list_free_nodes(&em->alloc);
    free(em->avail_off.head);
    free(em->avail_size.head);
    free(em->discard.head);
    free(em->alloc.head);
    while (em->pool != NULL) {
        ext_node *n = em->pool;
        em->pool = n->next[0];
        free(n);
    }
    free(em);
}

int wri_extent_alloc(wri_extmgr *em, uint64_t len, uint64_t *off_out,
                     wr_errbuf *eb)
{
    int rc;
    uint64_t off;
    ext_node *n;
    if (len == 0 || len % em->page_size != 0)
        return WR_ERR(eb, WR_EINVAL,
                      "extent alloc: length %llu is not a positive multiple "
                      "of the page size %u",
                      (unsigned long long)len, em->page_size);
    if ((rc = ext_reserve(em, 2, eb)) != WR_OK)
        return rc;
    n = ext_first_ge(&em->avail_size, len, 0); /* best fit */
    if (n != NULL) {
        avail_del(em, n);
        off = n->e.off;
        if (n->e.len > len)
            avail_add(em, ext_get(em, off + len, n->e.len - len));
    } else {
        /* Nothing fits: grow the file, starting inside a free tail. */
        n = ext_last(&em->avail_off);
        if (n != NULL && ext_end(&n->e) == em->logical_size)
            avail_del(em, n);
        else
            n = NULL;
        off = n != NULL ? n->e.off : em->logical_size;
        if (len > UINT64_MAX / 2 - off) {
            if (n != NULL)
                avail_add(em, n);
            return WR_ERR(eb, WR_ENOSPC,
                          "extent alloc: %llu bytes at %llu would pass the "
                          "largest file size",
                          (unsigned long long)len, (unsigned long long)off);
        }
        if (n == NULL)
            n = ext_get(em, off, len);
        em->logical_size = off + len;
    }
    n->e = (wri_ext){.off = off, .len = len};
    alloc_add(em, n);
    *off_out = off;
    return WR_OK;
}

int wri_extent_free(wri_extmgr *em, uint64_t off, uint64_t len,
                    uint64_t building_gen, wr_errbuf *eb)
{
    int rc;
    ext_node *n;
    uint64_t end = off + len;
    if (len == 0 || off % em->page_size != 0 || len % em->page_size != 0 ||
        off < em->first_data || off > em->logical_size ||
        len > em->logical_size - off)
        return WR_ERR(eb, WR_EINVAL,
                      "extent free of [%llu, +%llu): not page-aligned or "
                      "outside the data area [%llu, %llu)",
                      (unsigned long long)off, (unsigned long long)len,
                      (unsigned long long)em->first_data,
                      (unsigned long long)em->logical_size);
    if ((rc = ext_reserve(em, 2, eb)) != WR_OK)
        return rc;
    if ((n = ext_overlap(&em->alloc, off, len)) != NULL) {
        uint64_t aoff = n->e.off, aend = ext_end(&n->e);
        if (aoff > off || aend < end)
            return WR_ERR(eb, WR_EINVAL,
                          "extent free of [%llu, %llu) partly overlaps the "
                          "allocated extent [%llu, %llu)",
                          (unsigned long long)off, (unsigned long long)end,
                          (unsigned long long)aoff, (unsigned long long)aend);
        /* Allocated in this checkpoint: reusable at once. */
        ext_unlink(&em->alloc, n);
        if (aoff < off) {
            n->e.len = off - aoff;
            ext_link(&em->alloc, n);
            n = NULL;
        }
        if (end < aend) {
            if (n == NULL)
                n = ext_get(em, end, aend - end);
            n->e = (wri_ext){.off = end, .len = aend - end};
            ext_link(&em->alloc, n);
            n = NULL;
        }
        if (n == NULL)
            n = ext_get(em, off, len);
        n->e = (wri_ext){.off = off, .len = len};
        avail_add(em, n);
        return WR_OK;
    }
    if ((n = ext_overlap(&em->avail_off, off, len)) != NULL)
        return WR_ERR(eb, WR_EINVAL,
                      "extent free of [%llu, %llu): double free, overlaps "
                      "the free extent [%llu, %llu)",
                      (unsigned long long)off, (unsigned long long)end,
                      (unsigned long long)n->e.off,
                      (unsigned long long)ext_end(&n->e));
    if ((n = ext_overlap(&em->discard, off, len)) != NULL)
        return WR_ERR(eb, WR_EINVAL,
                      "extent free of [%llu, %llu): double free, overlaps "
                      "the discarded extent [%llu, %llu) of gen %llu",
                      (unsigned long long)off, (unsigned long long)end,
                      (unsigned long long)n->e.off,
                      (unsigned long long)ext_end(&n->e),
                      (unsigned long long)n->e.gen);
    n = ext_get(em, off, len);
    n->e.gen = building_gen;
    discard_add(em, n);
    return WR_OK;
}

void wri_extent_commit(wri_extmgr *em, uint64_t committed_gen)
{
    ext_node *n = ext_first(&em->discard);
    while (n != NULL) {
        ext_node *nx = ext_next(&em->discard, n);
        if (committed_gen >= 1 && n->e.gen <= committed_gen - 1) {
            ext_unlink(&em->discard, n);
            avail_add(em, n);
        }
        n = nx;
    }
    n = ext_first(&em->alloc);
    while (n != NULL) {
        ext_node *nx = ext_next(&em->alloc, n);
        ext_unlink(&em->alloc, n);
        ext_put(em, n);
        n = nx;
    }
}

uint64_t wri_extent_trim_tail(wri_extmgr *em)
{
    ext_node *n = ext_last(&em->avail_off);
    if (n != NULL && ext_end(&n->e) == em->logical_size) {
        avail_del(em, n);
        em->logical_size = n->e.off;
        ext_put(em, n);
    }
    return em->logical_size;
}

uint64_t wri_extent_logical_size(const wri_extmgr *em)
{
    return em->logical_size;
}

int wri_extent_insert(wri_extmgr *em, const wri_ext *e, wr_errbuf *eb)
{
    int rc;
    ext_node *n;
    const char *kname = e->kind == WRI_EXT_AVAIL     ? "avail"
                        : e->kind == WRI_EXT_DISCARD ? "discard"
                                                     : "unknown-kind";
    if (e->kind != WRI_EXT_AVAIL && e->kind != WRI_EXT_DISCARD)
        return WR_ERR(eb, WR_ECORRUPT,
                      "extent [%llu, +%llu): unknown kind %u",
                      (unsigned long long)e->off, (unsigned long long)e->len,
                      e->kind);
    if (e->len == 0 || e->off % em->page_size != 0 ||
        e->len % em->page_size != 0 || e->off < em->first_data ||
        e->off > em->logical_size || e->len > em->logical_size - e->off)
        return WR_ERR(eb, WR_ECORRUPT,
                      "%s extent [%llu, +%llu): empty, not page-aligned "
                      "(page size %u) or outside the data area [%llu, %llu)",
                      kname, (unsigned long long)e->off,
                      (unsigned long long)e->len, em->page_size,
                      (unsigned long long)em->first_data,
                      (unsigned long long)em->logical_size);
    wri_ext other;
    if (wri_extent_find_overlap(em, e->off, e->len, &other))
        return WR_ERR(eb, WR_ECORRUPT,
                      "%s extent [%llu, %llu) overlaps the %s extent "
                      "[%llu, %llu)",
                      kname, (unsigned long long)e->off,
                      (unsigned long long)(e->off + e->len),
                      other.kind == WRI_EXT_AVAIL     ? "avail"
                      : other.kind == WRI_EXT_DISCARD ? "discard"
                                                      : "allocated",
                      (unsigned long long)other.off,
                      (unsigned long long)(other.off + other.len));
    if ((rc = ext_reserve(em, 1, eb)) != WR_OK)
        return rc;
    n = ext_get(em, e->off, e->len);
    if (e->kind == WRI_EXT_AVAIL) {
        avail_add(em, n);
    } else {
        n->e.gen = e->gen;
        discard_add(em, n);
    }
    return WR_OK;
}

void wri_extent_stats_get(const wri_extmgr *em, wri_extent_stats *st)
{
    st->avail_count = em->avail_off.count;
    st->avail_bytes = em->avail_off.bytes;
    st->discard_count = em->discard.count;
    st->discard_bytes = em->discard.bytes;
    st->alloc_count = em->alloc.count;
    st->alloc_bytes = em->alloc.bytes;
}

static int ext_walk_list(const ext_list *l, wri_ext_visit_fn fn, void *arg)
{
    for (ext_node *n = ext_first(l); n != NULL; n = ext_next(l, n)) {
        int r = fn(&n->e, arg);
        if (r != 0)
            return r;
    }
    return 0;
}

int wri_extent_walk(const wri_extmgr *em, wri_ext_visit_fn fn, void *arg)
{
    int r = ext_walk_list(&em->avail_off, fn, arg);
    if (r != 0)
        return r;
    return ext_walk_list(&em->discard, fn, arg);
}

int wri_extent_walk_alloc(const wri_extmgr *em, wri_ext_visit_fn fn,
                          void *arg)
{
    return ext_walk_list(&em->alloc, fn, arg);
}

uint64_t wri_extent_count(const wri_extmgr *em)
{
    return em->avail_off.count + em->discard.count;
}

int wri_extent_is_avail(const wri_extmgr *em, uint64_t off, uint64_t len)
{
    ext_node *n = ext_last_lt(&em->avail_off, off + 1, 0);
    return n != NULL && n->e.off <= off && off < ext_end(&n->e) &&
           len <= ext_end(&n->e) - off;
}

int wri_extent_find_overlap(const wri_extmgr *em, uint64_t off, uint64_t len,
                            wri_ext *found)
{
    const ext_list *lists[3] = {&em->avail_off, &em->discard, &em->alloc};
    if (len == 0)
        return 0;
    for (int i = 0; i < 3; i++) {
        ext_node *n = ext_overlap(lists[i], off, len);
        if (n != NULL) {
            if (found != NULL)
                *found = n->e;
            return 1;
        }
    }
    return 0;
}

/* --- self-check ------------------------------------------------------- */

static int ext_check_list(const wri_extmgr *em, const ext_list *l,
                          const char *name, wr_errbuf *eb)
{
    uint64_t count = 0, bytes = 0;
    /* Every tower level is ordered (a skiplist level is a sublist). */
    for (uint32_t i = 0; i < EXT_MAXLEVEL; i++) {
        const ext_node *prev = NULL;
        for (const ext_node *n = NX(l->head, l, i); n != NULL;
             n = NX(n, l, i)) {
            if (i >= l->level || i >= n->levels)
                return WR_ERR(eb, WR_ECORRUPT,
                              "extent check: %s: tower level %u broken", name,
                              i);
            if (prev != NULL && !ext_key_lt(l, &prev->e, l->half ? n->e.len : n->e.off,
                                            l->half ? n->e.off : 0))
                return WR_ERR(eb, WR_ECORRUPT,
                              "extent check: %s: out of order at level %u "
                              "([%llu, +%llu) before [%llu, +%llu))",
                              name, i, (unsigned long long)prev->e.off,
                              (unsigned long long)prev->e.len,
                              (unsigned long long)n->e.off,
                              (unsigned long long)n->e.len);
            prev = n;
        }
    }
    const ext_node *prev = NULL;
    for (const ext_node *n = ext_first(l); n != NULL; n = ext_next(l, n)) {
        const wri_ext *e = &n->e;
        count++;
        bytes += e->len;
        if (e->len == 0 || e->off % em->page_size || e->len % em->page_size ||
            e->off < em->first_data || ext_end(e) > em->logical_size)
            return WR_ERR(eb, WR_ECORRUPT,
                          "extent check (E1): %s extent [%llu, +%llu) is empty, "
                          "unaligned or outside [%llu, %llu)",
                          name, (unsigned long long)e->off,
                          (unsigned long long)e->len,
                          (unsigned long long)em->first_data,
                          (unsigned long long)em->logical_size);
        if (l->half == 0 && prev != NULL) {
            const wri_ext *p = &prev->e;
            if (ext_end(p) > e->off)
                return WR_ERR(eb, WR_ECORRUPT,
                              "extent check (E2): %s extents [%llu, %llu) and "
                              "[%llu, %llu) overlap",
                              name, (unsigned long long)p->off,
                              (unsigned long long)ext_end(p),
                              (unsigned long long)e->off,
                              (unsigned long long)ext_end(e));
            if (l == &em->avail_off && ext_end(p) == e->off)
                return WR_ERR(eb, WR_ECORRUPT,
                              "extent check (E3): avail extents [%llu, %llu) "
                              "and [%llu, %llu) are not coalesced",
                              (unsigned long long)p->off,
                              (unsigned long long)ext_end(p),
                              (unsigned long long)e->off,
                              (unsigned long long)ext_end(e));
            if (l == &em->discard && ext_end(p) == e->off && p->gen == e->gen)
                return WR_ERR(eb, WR_ECORRUPT,
                              "extent check (E5): discard extents at %llu and "
                              "%llu of gen %llu are not coalesced",
                              (unsigned long long)p->off,
                              (unsigned long long)e->off,
                              (unsigned long long)e->gen);
        }
        if ((l == &em->avail_off || l == &em->avail_size) &&
            (e->kind != WRI_EXT_AVAIL || e->gen != 0))
            return WR_ERR(eb, WR_ECORRUPT,
                          "extent check (E6): avail extent at %llu has kind "
                          "%u gen %llu",
                          (unsigned long long)e->off, e->kind,
                          (unsigned long long)e->gen);
        if (l == &em->discard && e->kind != WRI_EXT_DISCARD)
            return WR_ERR(eb, WR_ECORRUPT,
                          "extent check (E6): discard extent at %llu has "
                          "kind %u",
                          (unsigned long long)e->off, e->kind);
        prev = n;
    }
    if (count != l->count || bytes != l->bytes)
        return WR_ERR(eb, WR_ECORRUPT,
                      "extent check: %s counts %llu/%llu bytes, walked "
                      "%llu/%llu",
                      name, (unsigned long long)l->count,
                      (unsigned long long)l->bytes, (unsigned long long)count,
                      (unsigned long long)bytes);
    return WR_OK;
}

int wri_extent_check(const wri_extmgr *em, wr_errbuf *eb)
{
    int rc;
    if ((rc = ext_check_list(em, &em->avail_off, "avail", eb)) != WR_OK ||
        (rc = ext_check_list(em, &em->avail_size, "avail-by-size", eb)) !=
            WR_OK ||
        (rc = ext_check_list(em, &em->discard, "discard", eb)) != WR_OK ||
        (rc = ext_check_list(em, &em->alloc, "alloc", eb)) != WR_OK)
        return rc;
    if (em->avail_size.count != em->avail_off.count ||
        em->avail_size.bytes != em->avail_off.bytes)
        return WR_ERR(eb, WR_ECORRUPT,
                      "extent check (E4): the by-size list holds %llu extents, "
                      "the by-offset list %llu",
                      (unsigned long long)em->avail_size.count,
                      (unsigned long long)em->avail_off.count);
    for (const ext_node *n = ext_first(&em->avail_size); n != NULL;
         n = ext_next(&em->avail_size, n))
        if (ext_first_ge(&em->avail_off, n->e.off, 0) != n)
            return WR_ERR(eb, WR_ECORRUPT,
                          "extent check (E4): by-size extent at %llu is not "
                          "in the by-offset list",
                          (unsigned long long)n->e.off);
    /* E2 across lists: merge the three offset-ordered lists. */
    const ext_list *lists[3] = {&em->avail_off, &em->discard, &em->alloc};
    const ext_node *cur[3];
    for (int i = 0; i < 3; i++)
        cur[i] = ext_first(lists[i]);
    uint64_t prev_end = 0;
    for (;;) {
        int best = -1;
        for (int i = 0; i < 3; i++)
            if (cur[i] != NULL &&
                (best < 0 || cur[i]->e.off < cur[best]->e.off))
                best = i;
        if (best < 0)
            break;
        const wri_ext *e = &cur[best]->e;
        if (e->off < prev_end)
            return WR_ERR(eb, WR_ECORRUPT,
                          "extent check (E2): extent [%llu, %llu) overlaps an "
                          "extent of another list ending at %llu",
                          (unsigned long long)e->off,
                          (unsigned long long)ext_end(e),
                          (unsigned long long)prev_end);
        prev_end = ext_end(e);
        cur[best] = ext_next(lists[best], cur[best]);
    }
    return WR_OK;
}
