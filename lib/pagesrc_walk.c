/*
 * pagesrc_walk.c -- the page source's walks (see pagesrc.h): the
 * extent-list chain, the tree (structure, levels, keys, order, bounds,
 * values), point lookups through a bounded cache, and the scan of every
 * page by offset. Reads and findings go through pagesrc.c.
 */
#include "pagesrc_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* --- the extent-list chain ------------------------------------------------- */

int wri_ps_walk_lists(wri_ps *ps, const wri_slot *s, wri_ps_lists *w,
                      wr_errbuf *eb)
{
    int rc = WR_OK, r;
    uint32_t P = ps->P;
    uint32_t per = (P - WRI_EL_ENTRIES) / WRI_EL_ENTRY_LEN;
    uint64_t L = s->logical_size, maxpages = L / P, n = 0;
    uint64_t ref_page = (uint64_t)w->slot * P;
    uint64_t ref_off = ref_page + WRI_SLOT_EXTLIST;
    wr_addr a = s->extlist;
    uint8_t *buf = NULL;
    char x[64], y[64];
    w->incomplete = false;
    w->pages = 0;
    if (a.off == 0)
        return WR_OK;
    if ((buf = malloc(P)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", ps->path);
    while (a.off != 0) {
        if (wri_ps_stop(ps)) {
            rc = WR_ERR(eb, WR_EINTR, "%s: interrupted", ps->path);
            goto out;
        }
        if (++n > maxpages) {
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_SPACE, a.off, ref_off,
                                  NULL, NULL,
                                  "extent-list chain longer than the file's "
                                  "%llu pages (a cycle)",
                                  (unsigned long long)maxpages));
            w->incomplete = true;
            break;
        }
        if ((r = wri_ps_addr_check(ps, &a, P, L, ref_page, ref_off,
                                   "extent-list page", eb)) != WR_OK) {
            PS_TRY(r);
            w->incomplete = true;
            break;
        }
        int old = wri_ps_mark(ps, a.off, P, WRI_OWN_LIST);
        if (old == WRI_OWN_LIST) {
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_SPACE, a.off, ref_off, NULL,
                                  NULL,
                                  "extent-list chain visits page %llu twice "
                                  "(a cycle)",
                                  (unsigned long long)a.off));
            w->incomplete = true;
            break;
        }
        if (old != WRI_OWN_NONE)
            PS_TRY(wri_ps_overlap(ps, a.off, P, old, "extent-list page", eb));
        if ((r = wri_ps_read(ps, &a, buf, "extent-list page", NULL, eb)) !=
            WR_OK) {
            PS_TRY(r);
            w->incomplete = true;
            break;
        }
        w->pages++;
        uint8_t type = buf[WRI_PH_TYPE];
        uint32_t count = wri_get32(buf + WRI_PH_COUNT);
        uint64_t pgen = wri_get64(buf + WRI_PH_GEN);
        if (type != WRI_PT_EXTLIST) {
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_PAGE, a.off,
                                  a.off + WRI_PH_TYPE,
                                  wri_ps_u64(x, WRI_PT_EXTLIST), wri_ps_u64(y, type),
                                  "page type of an extent-list page"));
            w->incomplete = true;
            break;
        }
        if (pgen != s->gen)
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_PAGE, a.off,
                                  a.off + WRI_PH_GEN, wri_ps_u64(x, s->gen),
                                  wri_ps_u64(y, pgen),
                                  "extent-list page written for another "
                                  "generation"));
        if (count > per) {
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_PAGE, a.off,
                                  a.off + WRI_PH_COUNT, wri_ps_u64(x, per),
                                  wri_ps_u64(y, count),
                                  "extent-list page holds more entries than "
                                  "fit"));
            w->incomplete = true;
            break;
        }
        /* bytes the format says are zero (bt_vrfy_dsk.c checks them
         * too: they catch a writer's bugs that a CRC cannot) */
        if (buf[WRI_PH_FLAGS] != 0 || wri_get16(buf + WRI_PH_LEVEL) != 0 ||
            wri_get64(buf + WRI_PH_AUX) != 0)
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_PAGE, a.off,
                                  a.off + WRI_PH_FLAGS, "0", NULL,
                                  "extent-list page: flags, level or aux "
                                  "not zero"));
        for (size_t z = WRI_EL_ENTRIES + (size_t)count * WRI_EL_ENTRY_LEN;
             z < P; z++)
            if (buf[z] != 0) {
                PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_PAGE, a.off, a.off + z,
                                      "0", NULL,
                                      "extent-list page: bytes after the "
                                      "last entry are not zero"));
                break;
            }
        wr_addr next;
        wri_addr_decode(buf + WRI_EL_NEXT, &next);
        if (w->page != NULL && (rc = w->page(w->arg, &a, count, &next)) != 0)
            goto out;
        for (uint32_t i = 0; i < count; i++) {
            size_t eo = WRI_EL_ENTRIES + (size_t)i * WRI_EL_ENTRY_LEN;
            wri_ext e;
            const char *bad = wri_extlist_entry(buf, i, P, s->gen, L, &e);
            if (bad != NULL) {
                snprintf(y, sizeof y, "[%llu, +%llu) kind %u gen %llu",
                         (unsigned long long)e.off, (unsigned long long)e.len,
                         e.kind, (unsigned long long)e.gen);
                PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_PAGE, a.off, a.off + eo,
                                      NULL, y, "extent-list entry %u: %s", i,
                                      bad));
                w->incomplete = true;
            } else {
                old = wri_ps_mark(ps, e.off, e.len, WRI_OWN_FREE);
                if (old != WRI_OWN_NONE)
                    PS_TRY(wri_ps_overlap(ps, e.off, e.len, old,
                                      e.kind == WRI_EXT_AVAIL
                                          ? "avail extent"
                                          : "discard extent",
                                      eb));
            }
            if (w->entry != NULL &&
                (rc = w->entry(w->arg, &a, i, &e, bad)) != 0)
                goto out;
        }
        if (next.off == 0 && (next.size != 0 || next.crc != 0))
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_PAGE, a.off,
                                  a.off + WRI_EL_NEXT, NULL, NULL,
                                  "next address has offset 0 but size %u",
                                  next.size));
        ref_page = a.off;
        ref_off = a.off + WRI_EL_NEXT;
        a = next;
    }
out:
    free(buf);
    return rc;
}

/* --- the tree -------------------------------------------------------------- */

typedef struct ps_bound {
    const uint8_t *key; /* NULL: unbounded */
    uint32_t len;
} ps_bound;

/* One key of a page: well formed, after the previous key, inside
 * [lo, hi). WRI_PS_BAD when it is not well formed (the page's keys
 * cannot be trusted after it). */
static int ps_key(wri_ps *ps, int nkeyelem, uint64_t page,
                  const uint8_t *buf, uint32_t i, const wri_cell *c,
                  const wri_cell *prev, ps_bound lo, ps_bound hi,
                  wr_errbuf *eb)
{
    int rc = WR_OK;
    char why[160], x[160], y[160];
    uint64_t koff = page + (uint64_t)(c->key - buf);
    if (wri_key_check(c->key, c->klen, nkeyelem, why, sizeof why) !=
        WR_OK) {
        rc = wri_ps_finding(ps, eb, WR_CHECK_PAGE, page, koff, NULL, NULL,
                            "slot %u: malformed key: %s", i, why);
        return rc < 0 ? rc : WRI_PS_BAD;
    }
    if (prev != NULL &&
        wri_key_cmp(prev->key, prev->klen, c->key, c->klen) >= 0)
        PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_ORDERING, page, koff,
                              wri_ps_json(x, sizeof x, prev->key, prev->klen),
                              wri_ps_json(y, sizeof y, c->key, c->klen),
                              "slot %u: key not greater than slot %u's "
                              "(expected: greater than the first)",
                              i, i - 1));
    if (lo.key != NULL && wri_key_cmp(c->key, c->klen, lo.key, lo.len) < 0)
        PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_ORDERING, page, koff,
                              wri_ps_json(x, sizeof x, lo.key, lo.len),
                              wri_ps_json(y, sizeof y, c->key, c->klen),
                              "slot %u: key below the lower bound the "
                              "parent's separator sets (expected: at least "
                              "the first)",
                              i));
    if (hi.key != NULL && wri_key_cmp(c->key, c->klen, hi.key, hi.len) >= 0)
        PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_ORDERING, page, koff,
                              wri_ps_json(x, sizeof x, hi.key, hi.len),
                              wri_ps_json(y, sizeof y, c->key, c->klen),
                              "slot %u: key not below the upper bound the "
                              "parent's next separator sets (expected: less "
                              "than the first)",
                              i));
    rc = WR_OK;
out:
    return rc;
}

/* Would ps_key find nothing wrong with any key of page v (an internal
 * page's first cell has none)? Every key well formed and greater than the
 * one before it: then all lie in [lo, hi) when the first is at least lo
 * and the last below hi, so two bound comparisons do for the page's 2n.
 * false sends the page through ps_key, key by key, for its findings. */
static bool ps_keys_clean(const wri_ps_walk *w, const wri_page_view *v,
                          const wri_cell *cells, ps_bound lo, ps_bound hi)
{
    uint32_t first = v->type == WRI_PT_INTERNAL ? 1 : 0;
    if (v->count <= first)
        return true;
    for (uint32_t i = first; i < v->count; i++) {
        const wri_cell *c = &cells[i];
        if (wri_key_check(c->key, c->klen, w->nkeyelem, NULL, 0) != WR_OK ||
            (i > first && wri_key_cmp(cells[i - 1].key, cells[i - 1].klen,
                                      c->key, c->klen) >= 0))
            return false;
    }
    const wri_cell *a = &cells[first], *z = &cells[v->count - 1];
    return (lo.key == NULL || wri_key_cmp(a->key, a->klen, lo.key, lo.len) >= 0) &&
           (hi.key == NULL || wri_key_cmp(z->key, z->klen, hi.key, hi.len) < 0);
}

int wri_ps_check_key(wri_ps *ps, int nkeyelem, uint64_t page,
                     const uint8_t *buf, uint32_t i, const wri_cell *c,
                     const wri_cell *prev, wr_errbuf *eb)
{
    return ps_key(ps, nkeyelem, page, buf, i, c, prev, (ps_bound){0},
                  (ps_bound){0}, eb);
}

/* One leaf item: where its value lives, its overflow page, then the
 * caller's look at it. */
static int ps_item(wri_ps *ps, wri_ps_walk *w, const wri_ps_page *p,
                   uint32_t i, const wri_cell *c, wr_errbuf *eb)
{
    int rc = WR_OK, r;
    uint32_t P = ps->P;
    char x[64], y[64];
    uint64_t page = p->addr.off, cell = page + c->off;
    const uint8_t *val = c->val;
    wri_vloc at = wri_ps_vloc(page, c);
    w->keys_found++;
    if (w->nkeyelem == 2) {
        if (c->vlen != 0 || c->overflow)
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_PAGE, page, cell, "0",
                                  wri_ps_u64(y, c->vlen),
                                  "slot %u: an index entry carries a value",
                                  i));
    } else {
        bool want_ovf = c->vlen > wri_page_max_inline(P, c->klen);
        if (c->overflow != want_ovf)
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_PAGE, page, cell,
                                  want_ovf ? "overflow page" : "inline",
                                  c->overflow ? "overflow page" : "inline",
                                  "slot %u: value of %u bytes stored in the "
                                  "wrong place",
                                  i, c->vlen));
        const char *what;
        uint32_t need = wri_cell_version(c, &what);
        if (need > w->version)
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_PAGE, page, cell, "0",
                                  wri_ps_u64(y, c->tlen),
                                  "slot %u: %s (format %u) in a format %u "
                                  "file",
                                  i, what, need, w->version));
        if (c->overflow) {
            r = wri_ps_read_overflow(ps, c, w->lsize, page, &w->val,
                                     &w->valcap, &val, eb);
            PS_TRY(r);
            if (r != WR_OK) {
                w->values_bad = true;
                if (c->vlen <= WRI_PS_MAX_VALUE)
                    w->incomplete = true;
                val = NULL;
            }
        }
        (void)x;
    }
    if (w->item != NULL)
        rc = w->item(w->arg, p, i, c, val, &at);
out:
    return rc;
}

/* The walk's first room for a page's cells (grown for a page with more). */
#define PS_CELLS_FIRST 256

/* Does a leaf hold a value in an overflow run? */
static bool ps_has_overflow(const wri_page_view *v, const wri_cell *cells)
{
    if (v->type != WRI_PT_LEAF)
        return false;
    for (uint32_t i = 0; i < v->count; i++)
        if (cells[i].overflow)
            return true;
    return false;
}

static int ps_node(wri_ps *ps, wri_ps_walk *w, int depth, const wr_addr *a,
                   int level, uint64_t ref_page, uint64_t ref_off,
                   ps_bound lo, ps_bound hi, wr_errbuf *eb);

/* The children [from, to) of v into w->kids[0..), for a batch of reads
 * ahead: how many (0 when there is no room for them: no batch, the reads
 * go one by one). */
static uint32_t ps_kids(wri_ps_walk *w, const wri_page_view *v,
                        uint32_t from, uint32_t to)
{
    wri_cell c;
    uint32_t n = to - from;
    if (n > w->kidcap) {
        wr_addr *nk = realloc(w->kids, n * sizeof *nk);
        if (nk == NULL)
            return 0;
        w->kids = nk;
        w->kidcap = n;
    }
    for (uint32_t i = 0; i < n; i++) {
        wri_page_cell(v, from + i, &c);
        w->kids[i] = c.child;
    }
    return n;
}

/* Children [from, to) of the internal page v at a (at depth), each
 * inside the bounds its separators set. */
static int ps_children(wri_ps *ps, wri_ps_walk *w, int depth,
                       const wr_addr *a, const wri_page_view *v,
                       uint32_t from, uint32_t to, ps_bound lo, ps_bound hi,
                       wr_errbuf *eb)
{
    int rc;
    wri_cell c, next;
    /* the leaves of a page of level 1, read ahead in batches (cfg.batch:
     * scattered leaves; the reads below take them in this order) */
    uint32_t nkids = 0, ahead = from;
    if (ps->ring != NULL && v->level == 1)
        nkids = ps_kids(w, v, from, to);
    for (uint32_t i = from; i < to; i++) {
        ps_bound clo = lo, chi = hi;
        if (i - from < nkids && i == ahead)
            ahead = i + (uint32_t)wri_ps_prefetch(ps, w->kids + (i - from),
                                                  nkids - (i - from));
        wri_page_cell(v, i, &c);
        if (i > 0)
            clo = (ps_bound){c.key, c.klen};
        if (i + 1 < v->count) {
            wri_page_cell(v, i + 1, &next);
            chi = (ps_bound){next.key, next.klen};
        }
        if (!w->keys)
            clo.key = chi.key = NULL;
        if ((rc = ps_node(ps, w, depth + 1, &c.child, v->level - 1, a->off,
                          a->off + c.off + 4, clo, chi, eb)) != WR_OK)
            return rc;
    }
    return WR_OK;
}

/* --- the split: the root's last children on a thread of their own ------- */

/* The root's children, shared out: this thread takes them from the
 * front, the twin from the back (the last one is its from the start),
 * one at a time, until they meet; so the twin's part is always the last
 * children, [next, count) at the end. */
typedef struct ps_half {
    wri_ps *ps;             /* the twin's */
    wri_ps_walk *w;
    const wr_addr *a;
    const wri_page_view *v; /* the root: only read while both run */
    ps_bound lo, hi;
    pthread_mutex_t mu;
    uint32_t next, end;     /* children not yet taken: [next, end) */
    int rc;
    bool misfit;            /* its children's keys are out of order */
    uint8_t *first;         /* the first key of the children it did */
    uint32_t firstlen;
    wr_errbuf eb;
} ps_half;

/* The next child from the front (back: from the back); false: none. */
static bool ps_take(ps_half *h, bool back, uint32_t *i)
{
    bool got;
    pthread_mutex_lock(&h->mu);
    got = h->next < h->end;
    if (got)
        *i = back ? --h->end : h->next++;
    pthread_mutex_unlock(&h->mu);
    return got;
}

/* The twin: children from the back, each walked as the walk would. Its
 * keys in order across them (each child's last below the first of the
 * child after it), and in the end its first and last key, as if it had
 * walked them front to back. */
static void *ps_half_main(void *arg)
{
    ps_half *h = arg;
    wri_ps_walk *tw = h->w;
    bool any = false;
    uint32_t i = h->v->count - 1; /* its own from the start */
    bool mine = true;
    uint8_t *hilast = malloc(h->ps->P);
    uint32_t hilastlen = 0;
    h->rc = hilast == NULL ? WR_ERR(&h->eb, WR_ENOMEM, "out of memory")
                           : WR_OK;
    while (h->rc == WR_OK && (mine || ps_take(h, true, &i))) {
        mine = false;
        tw->havelast = false;
        h->rc = ps_children(h->ps, tw, 0, h->a, h->v, i, i + 1, h->lo, h->hi,
                            &h->eb);
        if (h->rc != WR_OK || !tw->havelast)
            continue;
        if (any && wri_key_cmp(tw->last, tw->lastlen, h->first,
                               h->firstlen) >= 0) {
            h->misfit = true; /* the walk makes the finding itself */
            break;
        }
        if (!any) {
            memcpy(hilast, tw->last, tw->lastlen);
            hilastlen = tw->lastlen;
        }
        memcpy(h->first, tw->first, tw->firstlen);
        h->firstlen = tw->firstlen;
        any = true;
    }
    tw->havelast = any;
    if (any) {
        memcpy(tw->last, hilast, hilastlen);
        tw->lastlen = hilastlen;
    }
    free(hilast);
    return NULL;
}

/* Did the twin's part go as the walk's own would have, without a
 * finding? Then its blocks join the map and its keys the walk's. */
static bool ps_twin_fits(wri_ps *ps, wri_ps_walk *w, const ps_half *h)
{
    wri_ps *tp = h->ps;
    wri_ps_walk *tw = h->w;
    if (h->rc != WR_OK || h->misfit || tp->nfindings != 0 ||
        tw->incomplete || tw->values_bad)
        return false;
    if (w->keys && w->havelast && tw->havelast &&
        wri_key_cmp(w->last, w->lastlen, h->first, h->firstlen) >= 0)
        return false;
    if (ps->map != NULL) {
        size_t n = ps->nblocks / 4 + 1;
        for (size_t i = 0; i < n; i++) {
            unsigned b = tp->map[i];
            /* the two bits of each block the twin owns */
            unsigned m = (b | b >> 1) & 0x55u;
            if ((ps->map[i] & (m | m << 1)) != 0)
                return false;
        }
        for (size_t i = 0; i < n; i++)
            ps->map[i] |= tp->map[i];
    }
    w->keys_found += tw->keys_found;
    if (tw->havelast) {
        memcpy(w->last, tw->last, tw->lastlen);
        w->lastlen = tw->lastlen;
        w->havelast = true;
    }
    return true;
}

/* The twin tw of w for one split: w's settings (what its caller set but
 * the callbacks and their arg, which are tw's own, and what the
 * checkpoint set), its results cleared, no twin of its own; its buffers
 * are kept, made once for every split. The one place a setting of
 * wri_ps_walk is handed to the twin: a new one is added here. */
static void ps_walk_twin_init(wri_ps_walk *tw, const wri_ps_walk *w)
{
    tw->nkeyelem = w->nkeyelem;
    tw->keys = w->keys;
    tw->map = w->map;
    tw->inplace = w->inplace;
    tw->lsize = w->lsize;
    tw->leaf_max = w->leaf_max;
    tw->version = w->version;
    tw->incomplete = tw->values_bad = tw->havelast = false;
    tw->keys_found = 0;
    tw->twin = NULL;
}

/* The root's children (v, at a) shared out with the twin (ps_half), then,
 * unless the twin's part fits (ps_twin_fits), that part again here, in
 * order. */
static int ps_split(wri_ps *ps, wri_ps_walk *w, const wr_addr *a,
                    const wri_page_view *v, ps_bound lo, ps_bound hi,
                    wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_ps_walk *tw = w->twin;
    pthread_t th;
    uint32_t i;
    ps_walk_twin_init(tw, w);
    ps_half h = {.ps = w->twin_ps, .w = tw, .a = a, .v = v, .lo = lo,
                 .hi = hi, .next = 0, .end = v->count - 1};
    if ((tw->last == NULL && (tw->last = malloc(ps->P)) == NULL) ||
        (tw->first == NULL && (tw->first = malloc(ps->P)) == NULL) ||
        (h.first = malloc(ps->P)) == NULL)
        goto alone;
    pthread_mutex_init(&h.mu, NULL);
    if (pthread_create(&th, NULL, ps_half_main, &h) != 0) {
        pthread_mutex_destroy(&h.mu);
        goto alone;
    }
    while (rc == WR_OK && ps_take(&h, false, &i))
        rc = ps_children(ps, w, 0, a, v, i, i + 1, lo, hi, eb);
    if (rc != WR_OK)
        atomic_store_explicit(h.ps->halt, 1, memory_order_relaxed);
    pthread_join(th, NULL);
    pthread_mutex_destroy(&h.mu);
    ps->preads += h.ps->preads;
    if (rc == WR_OK && ps_twin_fits(ps, w, &h))
        w->twin_taken = true;
    else if (rc == WR_OK) /* the twin's part, again: h.next is its start */
        rc = ps_children(ps, w, 0, a, v, h.next, v->count, lo, hi, eb);
    free(h.first);
    return rc;
alone:
    free(h.first);
    return ps_children(ps, w, 0, a, v, 0, v->count, lo, hi, eb);
}

static int ps_node(wri_ps *ps, wri_ps_walk *w, int depth, const wr_addr *a,
                   int level, uint64_t ref_page, uint64_t ref_off,
                   ps_bound lo, ps_bound hi, wr_errbuf *eb)
{
    int rc = WR_OK, r;
    uint32_t P = ps->P;
    wri_page_view v;
    wri_page_problem pp;
    wri_ps_page p = {.depth = depth, .addr = *a};
    if (wri_ps_stop(ps))
        return WR_ERR(eb, WR_EINTR, "%s: interrupted", ps->path);
    if (depth >= WRI_PS_MAX_DEPTH) {
        w->incomplete = true;
        r = wri_ps_finding(ps, eb, WR_CHECK_PAGE, ref_page, ref_off, NULL,
                           NULL, "tree deeper than %d levels",
                           WRI_PS_MAX_DEPTH);
        return r < 0 ? r : WR_OK;
    }
    if ((r = wri_ps_tree_addr_check(ps, a, level, w->leaf_max, w->lsize,
                                    ref_page, ref_off, eb)) != WR_OK) {
        PS_TRY(r);
        w->incomplete = true;
        goto page;
    }
    if (w->map) {
        int old = wri_ps_mark(ps, a->off, a->size, WRI_OWN_TREE);
        if (old == WRI_OWN_TREE) {
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_ORDERING, a->off, ref_off,
                                  NULL, NULL,
                                  "page reachable twice (a second parent, "
                                  "page %llu, or a cycle)",
                                  (unsigned long long)ref_page));
            goto page;
        }
        if (old != WRI_OWN_NONE)
            PS_TRY(wri_ps_overlap(ps, a->off, a->size, old, "tree page",
                                  eb));
    }
    /* room for any tree page of any version (a walk may be reused) */
    if (w->pg[depth] == NULL &&
        (w->pg[depth] = calloc(1, WRI_MAX(P, WRI_LEAF_MAX) + WRI_BSON_PAD)) ==
            NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", ps->path);
        goto out;
    }
    if (w->cells == NULL &&
        (w->cells = malloc(PS_CELLS_FIRST * sizeof *w->cells)) != NULL)
        w->cellcap = PS_CELLS_FIRST;
    /* a leaf of a verify walk is checked where the read put it (the run
     * buffer); anything that must outlive the next read is copied */
    wri_ps_tree_read tr = {.level = level, .buf = w->pg[depth],
                           .inplace = w->inplace && level == 0,
                           .cells = w->cells, .ncells = w->cellcap};
    const uint8_t *buf;
    bool raw_ok = false, trusted = false;
    if ((r = wri_ps_view_tree_page(ps, a, &tr, &buf, &v, &raw_ok, &trusted,
                                   eb)) != WR_OK) {
        PS_TRY(r);
        w->incomplete = true;
        if (trusted) { /* read whole and intact, but does not decode */
            p.buf = buf;
            p.trusted = true;
        } else if (raw_ok &&
                   wri_page_check(buf, a->size, 0, &v, &pp) == WR_OK) {
            /* shown (marked untrusted) when it still decodes; not followed */
            p.v = &v;
            p.buf = buf;
        }
        goto page;
    }
    /* the cells, decoded once by the page checker, for the key checks and
     * a leaf's items (an internal page's children decode theirs again
     * below: the walk into them reuses w->cells) */
    if (v.count > w->cellcap) {
        wri_cell *nc = realloc(w->cells, v.count * sizeof *nc);
        if (nc == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", ps->path);
            goto out;
        }
        w->cells = nc;
        w->cellcap = v.count;
        for (uint32_t i = 0; i < v.count; i++)
            wri_page_cell(&v, i, &w->cells[i]);
    }
    const wri_cell *cells = w->cells;
    if (buf != w->pg[depth] && ps_has_overflow(&v, cells)) {
        /* its values are read next, through the run buffer */
        memcpy(w->pg[depth], buf, a->size);
        buf = w->pg[depth];
        v.buf = buf;
        for (uint32_t i = 0; i < v.count; i++)
            wri_page_cell(&v, i, &w->cells[i]);
    }
    p.buf = buf;
    p.trusted = true;
    p.v = &v;
    if (w->page != NULL && (rc = w->page(w->arg, &p)) != 0)
        goto out;
    /* keys: well formed, ordered, inside the parent's bounds (a page whose
     * keys are all clean, nearly every one, is known so at a cost of one
     * comparison a key: ps_keys_clean) */
    const wri_cell *prev = NULL;
    if (w->keys && !ps_keys_clean(w, &v, cells, lo, hi)) {
        for (uint32_t i = 0; i < v.count; i++) {
            if (v.type == WRI_PT_INTERNAL && i == 0)
                continue;
            r = ps_key(ps, w->nkeyelem, a->off, buf, i, &cells[i], prev, lo,
                       hi, eb);
            PS_TRY(r);
            if (r != WR_OK) {
                w->incomplete = true;
                goto out;
            }
            prev = &cells[i];
        }
    }
    if (v.type == WRI_PT_LEAF) {
        if (w->keys && v.count > 0) {
            const wri_cell *first = &cells[0], *lastc = &cells[v.count - 1];
            char e[160], g[160];
            if (w->havelast &&
                wri_key_cmp(w->last, w->lastlen, first->key, first->klen) >=
                    0)
                PS_TRY(wri_ps_finding(
                    ps, eb, WR_CHECK_ORDERING, a->off,
                    a->off + (uint64_t)(first->key - buf),
                    wri_ps_json(e, sizeof e, w->last, w->lastlen),
                    wri_ps_json(g, sizeof g, first->key, first->klen),
                    "first key of this leaf is not greater than the last key "
                    "of the previous leaf (expected: greater than the "
                    "first)"));
            if (!w->havelast && w->first != NULL) { /* a twin's */
                memcpy(w->first, first->key, first->klen);
                w->firstlen = first->klen;
            }
            memcpy(w->last, lastc->key, lastc->klen);
            w->lastlen = lastc->klen;
            w->havelast = true;
        }
        for (uint32_t i = 0; i < v.count; i++)
            if ((rc = ps_item(ps, w, &p, i, &cells[i], eb)) != WR_OK)
                goto out;
        goto out;
    }
    if (depth == 0 && w->twin != NULL && v.count >= 2)
        rc = ps_split(ps, w, a, &v, lo, hi, eb);
    else
        rc = ps_children(ps, w, depth, a, &v, 0, v.count, lo, hi, eb);
    goto out;
page:
    if (w->page != NULL)
        rc = w->page(w->arg, &p);
out:
    return rc;
}

int wri_ps_walk_tree(wri_ps *ps, const wri_slot *s, int slot,
                     wri_ps_walk *w, wr_errbuf *eb)
{
    int rc = WR_OK;
    uint64_t P = ps->P, sp = (uint64_t)slot * P;
    char y[64];
    w->incomplete = w->values_bad = w->twin_taken = false;
    w->keys_found = 0;
    w->havelast = false;
    w->lsize = s->logical_size;
    w->leaf_max = wri_leaf_max(s->version, (uint32_t)P);
    w->version = s->version;
    if (w->last == NULL && (w->last = malloc(P)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", ps->path);
    if (s->root.off == 0) {
        if (s->height != 0)
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_HEADER, sp,
                                  sp + WRI_SLOT_HEIGHT, "0",
                                  wri_ps_u64(y, s->height),
                                  "empty tree with a height"));
    } else {
        int level = -1;
        if (s->height >= 1 && s->height <= WRI_PS_MAX_DEPTH)
            level = (int)s->height - 1;
        else
            PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_HEADER, sp,
                                  sp + WRI_SLOT_HEIGHT, "1..64",
                                  wri_ps_u64(y, s->height), "slot's tree height"));
        if ((rc = ps_node(ps, w, 0, &s->root, level, sp, sp + WRI_SLOT_ROOT,
                          (ps_bound){0}, (ps_bound){0}, eb)) != WR_OK)
            goto out;
    }
    if (!w->incomplete && w->keys_found != s->nrecords) {
        char x[32];
        PS_TRY(wri_ps_finding(ps, eb, WR_CHECK_HEADER, sp, sp + WRI_SLOT_NRECS,
                              wri_ps_u64(x, w->keys_found),
                              wri_ps_u64(y, s->nrecords),
                              "slot's record count disagrees with the tree "
                              "(expected: the keys found)"));
    }
    rc = WR_OK;
out:
    if (rc >= 0) { /* the last pages' bytes were used after their reads */
        int r = wri_ps_intact(ps, eb);
        rc = r != WR_OK ? r : rc;
    }
    return rc;
}

void wri_ps_walk_free(wri_ps_walk *w)
{
    for (int i = 0; i < WRI_PS_MAX_DEPTH; i++) {
        free(w->pg[i]);
        w->pg[i] = NULL;
    }
    free(w->val);
    free(w->last);
    free(w->first);
    free(w->cells);
    free(w->kids);
    w->val = w->last = w->first = NULL;
    w->cells = NULL;
    w->kids = NULL;
    w->valcap = 0;
    w->cellcap = 0;
    w->kidcap = 0;
}

/* --- point lookups through a bounded cache --------------------------------- */

typedef struct ps_cached {
    uint8_t *buf;
    uint32_t cap;
    wr_addr addr;
    bool valid;
    wri_page_view v;
} ps_cached;

struct wri_ps_cache {
    wri_ps *ps;
    ps_cached *slot;
    size_t n;
};

int wri_ps_cache_new(wri_ps *ps, size_t bytes, wri_ps_cache **out,
                     wr_errbuf *eb)
{
    wri_ps_cache *pc = calloc(1, sizeof *pc);
    *out = NULL;
    if (pc == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    pc->ps = ps;
    pc->n = WRI_MAX(bytes / WRI_MAX(ps->P, 1), 16);
    if ((pc->slot = calloc(pc->n, sizeof *pc->slot)) == NULL) {
        free(pc);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    *out = pc;
    return WR_OK;
}

void wri_ps_cache_free(wri_ps_cache *pc)
{
    if (pc == NULL)
        return;
    for (size_t i = 0; i < pc->n; i++)
        free(pc->slot[i].buf);
    free(pc->slot);
    free(pc);
}

/* The page at a, from the cache or read and decoded into it: WR_OK,
 * WRI_PS_BAD or < 0. */
static int ps_cached_page(wri_ps_cache *pc, const wr_addr *a, int level,
                          uint32_t leaf_max, uint64_t lsize, ps_cached **out,
                          wr_errbuf *eb)
{
    int rc;
    wri_ps *ps = pc->ps;
    ps_cached *e = &pc->slot[(a->off / ps->P) % pc->n];
    wri_page_problem pp;
    *out = e;
    if (e->valid && e->addr.off == a->off && e->addr.size == a->size &&
        e->addr.crc == a->crc &&
        (level < 0 || e->v.level == level))
        return WR_OK;
    e->valid = false;
    if ((rc = wri_ps_tree_addr_check(ps, a, level, leaf_max, lsize, 0, 0,
                                     eb)) != WR_OK)
        return rc;
    if (e->cap < a->size) {
        uint8_t *nb = realloc(e->buf, a->size);
        if (nb == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory");
        e->buf = nb;
        e->cap = a->size;
    }
    if ((rc = wri_ps_read(ps, a, e->buf, "tree page", NULL, eb)) != WR_OK)
        return rc;
    if (wri_page_check(e->buf, a->size, 0, &e->v, &pp) != WR_OK ||
        (level >= 0 && e->v.level != level) ||
        (e->v.type != WRI_PT_LEAF && a->size != ps->P))
        return WRI_PS_BAD;
    e->addr = *a;
    e->valid = true;
    return WR_OK;
}

int wri_ps_lookup(wri_ps_cache *pc, const wri_slot *s, const uint8_t *key,
                  uint32_t klen, wri_cell *c, uint64_t *page, wr_errbuf *eb)
{
    int rc, level = -1;
    wr_addr a = s->root;
    *page = 0;
    for (int d = 0;; d++) {
        if (a.off == 0)
            return WRI_PS_NOTFOUND;
        if (d >= WRI_PS_MAX_DEPTH)
            return WRI_PS_UNKNOWN;
        ps_cached *e;
        if ((rc = ps_cached_page(pc, &a, level,
                                 wri_leaf_max(s->version, pc->ps->P),
                                 s->logical_size, &e, eb)) != WR_OK)
            return rc < 0 ? rc : WRI_PS_UNKNOWN;
        const wri_page_view *v = &e->v;
        wri_cell cc;
        if (v->type == WRI_PT_LEAF) {
            uint32_t lo = 0, hi = v->count;
            *page = a.off;
            while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                wri_page_cell(v, mid, &cc);
                int r = wri_key_cmp(cc.key, cc.klen, key, klen);
                if (r == 0) {
                    *c = cc;
                    return WRI_PS_FOUND;
                }
                if (r < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            return WRI_PS_NOTFOUND;
        }
        uint32_t lo = 1, hi = v->count;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            wri_page_cell(v, mid, &cc);
            if (wri_key_cmp(cc.key, cc.klen, key, klen) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        wri_page_cell(v, lo - 1, &cc);
        a = cc.child;
        level = v->level - 1;
    }
}

/* --- every page by offset -------------------------------------------------- */

int wri_ps_scan(wri_ps *ps, uint64_t from, uint64_t to, wri_ps_scan_fn fn,
                void *arg, wr_errbuf *eb)
{
    int rc = WR_OK;
    uint32_t P = ps->P, version = wri_ps_version(ps);
    uint8_t *big = NULL;
    size_t bigcap = 0;
    if (P == 0)
        return WR_ERR(eb, WR_EINVAL, "%s: page size unknown", ps->path);
    to = WRI_MIN(to, ps->fsize / P * P);
    from = WRI_MAX(from, 2 * (uint64_t)P);
    from = (from + P - 1) / P * P;
    ps->seq_next = from; /* a scan is sequential from its first read */
    for (uint64_t off = from; off + P <= to;) {
        uint8_t hdr[WRI_PH_LEN];
        size_t got = 0;
        if (wri_ps_stop(ps)) {
            rc = WR_ERR(eb, WR_EINTR, "%s: interrupted", ps->path);
            goto out;
        }
        /* the whole block comes into the run; the header is its start */
        if ((rc = wri_ps_pread(ps, hdr, sizeof hdr, off, &got, eb)) != WR_OK)
            goto out;
        if (got < sizeof hdr)
            break;
        uint8_t type = hdr[WRI_PH_TYPE];
        uint32_t size = wri_get32(hdr + WRI_PH_SIZE);
        uint64_t limit = wri_overflow_size(P, WRI_PS_MAX_VALUE);
        if (type < WRI_PT_LEAF || type > WRI_PT_EXTLIST || size < P ||
            size % P != 0 || size > to - off || size > limit ||
            (type != WRI_PT_OVERFLOW && size != P &&
             !(type == WRI_PT_LEAF && wri_leaf_size_ok(version, P, size)))) {
            ps->seq_next = off + P;
            off += P;
            continue;
        }
        if (bigcap < size) {
            uint8_t *nb = realloc(big, size);
            if (nb == NULL) {
                rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
                goto out;
            }
            big = nb;
            bigcap = size;
        }
        ps->seq_next = off; /* continue the run: the header was its start */
        if ((rc = wri_ps_pread(ps, big, size, off, &got, eb)) != WR_OK)
            goto out;
        if (got < size)
            break;
        bool ok = wri_get32(big + WRI_PH_CRC) == wri_page_crc(big, size);
        if ((rc = fn(arg, off, big, size, ok)) != 0)
            goto out;
        off += ok ? size : P;
        ps->seq_next = off;
    }
out:
    free(big);
    return rc;
}
