/*
 * salvage_tree.c -- the documents of one damaged main-table file
 * (salvage.h: rules S1-S4).
 *
 * Four steps, all read-only:
 *   1. scan: every block of the file, in large sequential reads; each
 *      block that starts a page is judged by its CRC and, for leaves, by
 *      the page checker, and intact leaves remember their key range;
 *   2. the checkpoint's extent lists mark which blocks are not its tree's;
 *   3. walk: the checkpoint's tree from its slot, every page read through
 *      the address that reaches it; documents of intact leaves are kept,
 *      each damaged page leaves a hole (a key range) behind;
 *   4. holes: the scanned leaves of each hole's range decide, newest
 *      generation first, what is kept (S1) and what goes to lost+found.
 * Everything is read through the page source in its tolerant mode
 * (pagesrc.h, DESIGN decision 11): raw bytes through sv_read, checked
 * pages through sv_read_page, overflow values, extent lists, the scan and
 * the document check through its functions; its findings give the
 * reasons the report names.
 */
#include "wr_int.h"

#include "salvage.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define SV_CHUNK (1u << 20) /* bytes per sequential scan read */
#define SV_MAX_DEPTH 64

enum { SV_NONE = 0, SV_INTACT, SV_DAMAGED };
enum {
    SV_VISITED = 1,  /* reached by the walk */
    SV_MISMATCH = 2, /* the walk reached this offset and refused the page */
    SV_FREE = 4,     /* avail, discard or an extent-list page (step 2) */
    SV_INNER = 8,    /* inside an intact overflow page */
    SV_COUNTED = 16, /* counted in pages_damaged by the walk */
};

typedef struct sv_blk {
    uint64_t gen;
    uint32_t crc;
    uint16_t level;
    uint8_t type;
    uint8_t state;
    uint8_t flags;
} sv_blk;

typedef struct sv_leaf {
    uint64_t off, gen;
    uint32_t size; /* one block, or a long leaf's run (format 2) */
    uint8_t *first, *last;
    uint32_t flen, llen;
} sv_leaf;

typedef struct sv_hole {
    uint8_t *lo, *hi; /* [lo, hi); NULL: unbounded */
    uint32_t lolen, hilen;
    bool single;      /* exactly the key lo */
    bool certain_ok;  /* a live scanned leaf may be kept (internal page) */
    uint64_t certain_gen; /* no tree: a leaf of this generation may be */
    uint64_t gmin, gmax; /* generations of the pages that may fill it */
    uint64_t lsize;   /* pages must end before this */
    uint64_t page;    /* the damaged page */
    size_t loss;      /* index in rep->losses */
    bool taken;       /* a document hole: its page is intact and the walk
                         already put the document in lost+found, so
                         sv_damaged_slots takes nothing from it again */
    bool has_addr;    /* want: the address that named the damaged page */
    wr_addr want;
    bool resolved;    /* a page certainly the checkpoint's filled it */
} sv_hole;

typedef struct sv_tree {
    const char *path;
    const wri_sv_tree_opts *o;
    wr_salvage_coll *rep;
    wri_ps *ps;     /* the file, read through the page source */
    int slot;       /* the slot whose tree is walked, or -1 */
    wri_slot cur;   /* its checkpoint */
    char finding[1024]; /* the page source's last finding, as a line */
    uint32_t P;
    uint64_t fsize, lsize, G;
    sv_blk *map;
    uint64_t nblk;
    sv_leaf *leaves;
    size_t nleaves, capleaves;
    sv_hole *holes;
    size_t nholes;
    bool ext_ok;
    sv_leaf **cert;    /* leaves of the chosen generation, by first key,
                          kept while an older tree is walked */
    size_t ncert;
    uint8_t *last_key; /* last key kept by the walk */
    uint32_t last_klen;
    size_t after_from; /* losses from here on wait for their "before" key */
    uint8_t *vbuf;     /* overflow page */
    size_t vcap;
    uint64_t *scanned;
    wr_errbuf *scan_eb; /* the scan's callback reports through it */
} sv_tree;

/* The format version whose rules the pages are judged by: the walked
 * checkpoint's, else what the file's slots say (pagesrc.h). */
static uint32_t sv_version(const sv_tree *t)
{
    return t->slot >= 0 ? t->cur.version : wri_ps_version(t->ps);
}

/* --- reads ---------------------------------------------------------------- */

/* The one raw read of salvage: up to len bytes at off. */
static int sv_read(sv_tree *t, uint8_t *buf, size_t len, uint64_t off,
                   size_t *got, wr_errbuf *eb)
{
    int rc = wri_ps_read_raw(t->ps, off, buf, len, got, eb);
    if (rc == WR_OK)
        *t->scanned += *got;
    return rc;
}

/* Findings of the page source (tolerant mode): the last one is the
 * reason a read or a check failed. */
static void sv_finding(const wr_finding *f, void *arg)
{
    sv_tree *t = arg;
    wr_verify_problem_format(f, t->finding, sizeof t->finding);
}

/* The one checked page read: a page of size bytes through the address
 * that reaches it. WRI_PS_BAD: t->finding says why. */
static int sv_read_page(sv_tree *t, const wr_addr *a, uint32_t size,
                        uint8_t *buf, const char *what, wr_errbuf *eb)
{
    int rc = wri_ps_addr_check(t->ps, a, size, t->lsize, a->off, a->off,
                               what, eb);
    if (rc == WR_OK)
        rc = wri_ps_read(t->ps, a, buf, what, NULL, eb);
    return rc;
}

static bool sv_intr(const sv_tree *t)
{
    return t->o->interrupted != NULL && *t->o->interrupted;
}

/* --- keys ------------------------------------------------------------------ */

static uint8_t *sv_dup(const uint8_t *p, uint32_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d != NULL && n)
        memcpy(d, p, n);
    return d;
}

static int sv_cmp(const uint8_t *a, uint32_t al, const uint8_t *b,
                  uint32_t bl)
{
    return wri_key_cmp(a, al, b, bl);
}

/* Is key inside the hole? */
static bool sv_in_hole(const sv_hole *h, const uint8_t *k, uint32_t kl)
{
    if (h->single)
        return sv_cmp(k, kl, h->lo, h->lolen) == 0;
    return (h->lo == NULL || sv_cmp(k, kl, h->lo, h->lolen) >= 0) &&
           (h->hi == NULL || sv_cmp(k, kl, h->hi, h->hilen) < 0);
}

/* Does the leaf's [first, last] meet the hole? */
static bool sv_leaf_meets(const sv_leaf *l, const sv_hole *h)
{
    if (h->single)
        return sv_cmp(h->lo, h->lolen, l->first, l->flen) >= 0 &&
               sv_cmp(h->lo, h->lolen, l->last, l->llen) <= 0;
    return (h->hi == NULL || sv_cmp(l->first, l->flen, h->hi, h->hilen) < 0) &&
           (h->lo == NULL || sv_cmp(l->last, l->llen, h->lo, h->lolen) >= 0);
}

static bool sv_leaf_covers(const sv_leaf *l, const uint8_t *k, uint32_t kl)
{
    return sv_cmp(k, kl, l->first, l->flen) >= 0 &&
           sv_cmp(k, kl, l->last, l->llen) <= 0;
}

/* --- documents ------------------------------------------------------------- */

/* --- losses ---------------------------------------------------------------- */

static wr_salvage_loss *sv_loss_add(sv_tree *t, const char *what,
                                    uint64_t page, uint64_t len,
                                    const char *why)
{
    wr_salvage_coll *r = t->rep;
    wr_salvage_loss *n =
        realloc(r->losses, (r->nlosses + 1) * sizeof *r->losses);
    if (n == NULL)
        return NULL;
    r->losses = n;
    wr_salvage_loss *l = &n[r->nlosses++];
    memset(l, 0, sizeof *l);
    snprintf(l->what, sizeof l->what, "%s", what);
    snprintf(l->why, sizeof l->why, "%s", why);
    l->page = page;
    l->length = len;
    if (t->last_key != NULL)
        l->after = wri_key_to_json(t->last_key, t->last_klen);
    return l;
}

/* A hole: the key range [lo, hi) (or the one key lo) of a damaged page. */
static int sv_hole_add(sv_tree *t, const char *what, uint64_t page,
                       uint64_t len, const char *why, const uint8_t *lo,
                       uint32_t lol, const uint8_t *hi, uint32_t hil,
                       bool single, bool certain_ok, wr_errbuf *eb)
{
    sv_hole *n = realloc(t->holes, (t->nholes + 1) * sizeof *n);
    if (n == NULL || sv_loss_add(t, what, page, len, why) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
    t->holes = n;
    sv_hole *h = &n[t->nholes++];
    memset(h, 0, sizeof *h);
    h->single = single;
    h->certain_ok = certain_ok;
    h->gmax = t->G;
    h->lsize = t->lsize;
    h->page = page;
    h->loss = t->rep->nlosses - 1;
    if ((lo != NULL && (h->lo = sv_dup(lo, lol)) == NULL) ||
        (hi != NULL && (h->hi = sv_dup(hi, hil)) == NULL))
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
    h->lolen = lol;
    h->hilen = hil;
    if (single && lo != NULL &&
        (t->rep->losses[h->loss].key = wri_key_to_json(lo, lol)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
    return WR_OK;
}

static int sv_gen_add(wr_salvage_coll *r, uint64_t gen)
{
    for (size_t i = 0; i < r->ngens; i++)
        if (r->gens[i].gen == gen) {
            r->gens[i].docs++;
            return WR_OK;
        }
    wr_salvage_gen *n = realloc(r->gens, (r->ngens + 1) * sizeof *n);
    if (n == NULL)
        return WR_ENOMEM;
    r->gens = n;
    n[r->ngens].gen = gen;
    n[r->ngens].docs = 1;
    r->ngens++;
    return WR_OK;
}

/* A document for the collection (S1, S2 checked by the caller). */
static int sv_keep(sv_tree *t, const uint8_t *key, uint32_t klen,
                   const uint8_t *val, uint32_t vlen, uint64_t gen,
                   bool walked, wr_errbuf *eb)
{
    int rc;
    const wri_sv_sink *s = t->o->sink;
    if ((rc = s->keep(s->arg, val, vlen, eb)) == WRI_SV_TO_LOST ||
        rc == WRI_SV_HELD) {
        /* the sink could not place it: in lost+found (now or before) */
        t->rep->lost_found += rc == WRI_SV_TO_LOST;
        return WR_OK;
    }
    if (rc != WR_OK)
        return rc;
    t->rep->recovered++;
    if (sv_gen_add(t->rep, gen) != WR_OK)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
    if (!walked)
        return WR_OK;
    /* the walk keeps keys in order: this one follows every loss since
     * the last kept key */
    for (size_t i = t->after_from; i < t->rep->nlosses; i++)
        if (t->rep->losses[i].before == NULL)
            t->rep->losses[i].before = wri_key_to_json(key, klen);
    t->after_from = t->rep->nlosses;
    free(t->last_key);
    if ((t->last_key = sv_dup(key, klen)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
    t->last_klen = klen;
    return WR_OK;
}

/* A value to lost+found, counted (and against loss, unless NULL) when
 * written: not when lost+found holds it already (WRI_SV_HELD). */
static int sv_lost(sv_tree *t, wr_salvage_loss *loss, const uint8_t *val,
                   uint32_t vlen, bool valid, uint64_t gen, uint64_t page,
                   const char *why, wr_errbuf *eb)
{
    const wri_sv_sink *s = t->o->sink;
    int rc = s->lost(s->arg, val, vlen, valid, gen, page, why, eb);
    if (rc == WRI_SV_HELD)
        return WR_OK;
    if (rc == WR_OK) {
        t->rep->lost_found++;
        if (loss != NULL)
            loss->to_lost_found++;
    }
    return rc;
}

/* The value of leaf cell c of the page at `page`: inline, or its
 * overflow page read through its address and checked (pagesrc.h). NULL
 * with why when it cannot be had; then *raw (raw may be NULL) is the
 * value as the file holds it when its run's bytes could be read whole
 * (wri_ps_read_overflow_raw), else NULL. */
static int sv_value(sv_tree *t, const wri_cell *c, uint64_t page,
                    const uint8_t **val, const uint8_t **raw, char *why,
                    size_t wl, wr_errbuf *eb)
{
    int rc;
    const uint8_t *r = NULL;
    if (raw != NULL)
        *raw = NULL;
    if (!c->overflow) {
        *val = c->val;
        return WR_OK;
    }
    rc = wri_ps_read_overflow_raw(t->ps, c, t->lsize, page, &t->vbuf,
                                  &t->vcap, val, &r, eb);
    if (rc == WRI_PS_BAD) {
        *val = NULL;
        if (raw != NULL)
            *raw = r;
        snprintf(why, wl, "%.390s", t->finding);
        return WR_OK;
    }
    return rc;
}

/* S2 through the page source's one document check: a whole, strictly
 * valid BSON document whose _id equals its key (c: a cell of the leaf at
 * `page`). */
static bool sv_doc_ok(sv_tree *t, uint64_t page, const wri_cell *c,
                      const uint8_t *val, char *why, size_t wl, wr_errbuf *eb)
{
    wri_vloc at = wri_ps_vloc(page, c);
    int rc = wri_ps_check_document(t->ps, &at, c->key, c->klen, val,
                                   c->vlen, NULL, 0, eb);
    if (rc != WR_OK)
        snprintf(why, wl, "%.390s", rc == WRI_PS_BAD ? t->finding : eb->msg);
    return rc == WR_OK;
}

/* An overflow value of cell c (of the leaf at `page`, written for gen)
 * that cannot be had (why), its bytes as the file holds them at raw
 * (sv_value): to lost+found, as the document if they still pass the
 * document check, counted against loss. */
static int sv_lost_raw(sv_tree *t, const wri_cell *c, uint64_t page,
                       uint64_t gen, const char *why, const uint8_t *raw,
                       wr_salvage_loss *loss, wr_errbuf *eb)
{
    char w[1024], bad[400];
    bool valid = sv_doc_ok(t, page, c, raw, bad, sizeof bad, eb);
    snprintf(w, sizeof w, "%.390s; the value as the file holds it%s%.390s",
             why, valid ? "" : ", not a valid document: ", valid ? "" : bad);
    return sv_lost(t, loss, raw, c->vlen, valid, gen, c->ovf.off, w, eb);
}

/* --- 1. scan --------------------------------------------------------------- */

static int sv_leaf_add(sv_tree *t, uint64_t off, const wri_page_view *v,
                       wr_errbuf *eb)
{
    wri_cell a, b;
    if (v->count == 0)
        return WR_OK;
    if (t->nleaves == t->capleaves) {
        size_t cap = t->capleaves ? 2 * t->capleaves : 64;
        sv_leaf *n = realloc(t->leaves, cap * sizeof *n);
        if (n == NULL)
            return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
        t->leaves = n;
        t->capleaves = cap;
    }
    wri_page_cell(v, 0, &a);
    wri_page_cell(v, v->count - 1, &b);
    t->leaves[t->nleaves].size = v->size;
    sv_leaf *l = &t->leaves[t->nleaves];
    l->off = off;
    l->gen = v->gen;
    l->flen = a.klen;
    l->llen = b.klen;
    l->first = sv_dup(a.key, a.klen);
    l->last = sv_dup(b.key, b.klen);
    if (l->first == NULL || l->last == NULL) {
        free(l->first);
        free(l->last);
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
    }
    t->nleaves++;
    return WR_OK;
}

static void sv_progress(sv_tree *t, const char *phase, uint64_t done,
                        uint64_t total)
{
    if (t->o->progress != NULL) {
        wr_salvage_progress p = {phase, t->path, done, total};
        t->o->progress(&p, t->o->progress_arg);
    }
}

/* A block where the page source's scan found a plausible page header:
 * judged by its CRC and, for a leaf, the page checker. */
static int sv_scan_page(void *arg, uint64_t off, const uint8_t *p,
                        uint32_t size, bool crc_ok)
{
    int rc;
    sv_tree *t = arg;
    uint64_t b = off / t->P;
    sv_blk *m = &t->map[b];
    m->type = p[WRI_PH_TYPE];
    m->level = wri_get16(p + WRI_PH_LEVEL);
    m->gen = wri_get64(p + WRI_PH_GEN);
    m->crc = wri_get32(p + WRI_PH_CRC);
    m->state = SV_DAMAGED;
    t->rep->pages_read++;
    *t->scanned += size;
    if (off / SV_CHUNK != (off + size) / SV_CHUNK)
        sv_progress(t, "scanning", off + size, t->fsize);
    bool ok = crc_ok;
    if (ok && m->type == WRI_PT_LEAF) {
        wri_page_view v;
        wri_page_problem prob;
        ok = wri_page_check(p, size, 1, &v, &prob) == WR_OK;
        if (ok && (rc = sv_leaf_add(t, off, &v, t->scan_eb)) != WR_OK)
            return rc;
    }
    if (!ok) {
        t->rep->pages_damaged++;
        return 0;
    }
    m->state = SV_INTACT;
    for (uint64_t i = 1; i < size / t->P; i++)
        t->map[b + i].flags |= SV_INNER;
    return 0;
}

/* Every block of the file, in the page source's sequential runs. */
static int sv_scan(sv_tree *t, wr_errbuf *eb)
{
    t->scan_eb = eb;
    return wri_ps_scan(t->ps, 2 * (uint64_t)t->P, t->fsize, sv_scan_page, t,
                       eb);
}

/* --- 2. extent lists ------------------------------------------------------- */

static void sv_mark_free(sv_tree *t, uint64_t off, uint64_t len)
{
    for (uint64_t b = off / t->P; b < (off + len) / t->P && b < t->nblk; b++)
        t->map[b].flags |= SV_FREE;
}

static int sv_ext_entry(void *arg, const wr_addr *page, uint32_t i,
                        const wri_ext *e, const char *bad)
{
    if (bad == NULL)
        sv_mark_free(arg, e->off, e->len);
    return 0;
}

static int sv_ext_page(void *arg, const wr_addr *a, uint32_t count,
                       const wr_addr *next)
{
    sv_mark_free(arg, a->off, a->size);
    return 0;
}

/* The checkpoint's extent lists, tolerantly: ext_ok only when every page
 * and entry could be used (S1 needs them whole). */
static int sv_extents(sv_tree *t, wr_errbuf *eb)
{
    wri_ps_lists w = {.page = sv_ext_page, .entry = sv_ext_entry, .arg = t,
                      .slot = t->slot};
    int rc = wri_ps_walk_lists(t->ps, &t->cur, &w, eb);
    t->ext_ok = rc == WR_OK && !w.incomplete;
    return rc == WRI_PS_BAD ? WR_OK : rc;
}

/* --- 3. walk --------------------------------------------------------------- */

typedef struct sv_range {
    const uint8_t *lo, *hi;
    uint32_t lol, hil;
} sv_range;

/* Is key inside the range [lo, hi) (NULL: unbounded)? */
static bool sv_range_has(const sv_range *r, const uint8_t *k, uint32_t kl)
{
    return (r->lo == NULL || sv_cmp(k, kl, r->lo, r->lol) >= 0) &&
           (r->hi == NULL || sv_cmp(k, kl, r->hi, r->hil) < 0);
}

static int sv_walk(sv_tree *t, const wr_addr *a, sv_range r, int level,
                   int depth, wr_errbuf *eb);

static int sv_walk_hole(sv_tree *t, const wr_addr *a, sv_range r, int level,
                        const char *why, wr_errbuf *eb)
{
    const char *what = level == 0 ? "leaf" : level > 0 ? "internal" : "page";
    int rc = sv_hole_add(t, what, a->off, a->size, why, r.lo, r.lol, r.hi,
                         r.hil, false, true, eb);
    if (rc == WR_OK) {
        t->holes[t->nholes - 1].has_addr = true;
        t->holes[t->nholes - 1].want = *a;
    }
    return rc;
}

/* A page the walk found damaged that the scan did not count (zeroed,
 * misdirected, stale, or not decoding): counted once. */
static void sv_count_damaged(sv_tree *t, uint64_t off)
{
    uint64_t b = off / t->P;
    if (off % t->P != 0 || b >= t->nblk || t->map[b].state == SV_DAMAGED ||
        (t->map[b].flags & SV_COUNTED))
        return;
    t->map[b].flags |= SV_COUNTED;
    t->rep->pages_damaged++;
}

/* A finding of the page source about the page at a, at byte `at` of it,
 * named as every tool names a place (wr_verify_problem_format): it is in
 * t->finding. WRI_PS_BAD, or an error (the file changed under the
 * reader). */
static int sv_walk_vfinding(sv_tree *t, const wr_addr *a, wr_errbuf *eb,
                            int check, uint32_t at, const char *fmt,
                            va_list ap)
{
    char detail[400];
    vsnprintf(detail, sizeof detail, fmt, ap);
    return wri_ps_finding(t->ps, eb, check, a->off, a->off + at, NULL, NULL,
                          "%s", detail);
}

/* The finding into t->finding; WR_OK, or an error. */
static int sv_walk_why(sv_tree *t, const wr_addr *a, wr_errbuf *eb,
                       int check, uint32_t at, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int sv_walk_why(sv_tree *t, const wr_addr *a, wr_errbuf *eb,
                       int check, uint32_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sv_walk_vfinding(t, a, eb, check, at, fmt, ap);
    va_end(ap);
    return rc == WRI_PS_BAD ? WR_OK : rc;
}

/* The page at a, read whole and intact by its CRC, cannot be the one its
 * parent names: a hole whose reason is the finding. */
static int sv_walk_bad(sv_tree *t, const wr_addr *a, sv_range r, int level,
                       wr_errbuf *eb, int check, uint32_t at,
                       const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static int sv_walk_bad(sv_tree *t, const wr_addr *a, sv_range r, int level,
                       wr_errbuf *eb, int check, uint32_t at,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sv_walk_vfinding(t, a, eb, check, at, fmt, ap);
    va_end(ap);
    if (rc != WRI_PS_BAD)
        return rc;
    sv_count_damaged(t, a->off);
    return sv_walk_hole(t, a, r, level, t->finding, eb);
}

/* Is key inside the range of a leaf of the chosen generation? */
static bool sv_cert_covers(const sv_tree *t, const uint8_t *k, uint32_t kl)
{
    size_t lo = 0, hi = t->ncert; /* the last leaf whose first <= k */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sv_cmp(t->cert[mid]->first, t->cert[mid]->flen, k, kl) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && sv_leaf_covers(t->cert[lo - 1], k, kl);
}

/* Cell i of the leaf at off, its key outside the range the leaf's parent
 * gives it: its document (its key, when the value cannot be had) to
 * lost+found, counted on loss. */
static int sv_outside(sv_tree *t, const wri_page_view *v, uint64_t off,
                      uint32_t i, const wri_cell *c, size_t loss,
                      wr_errbuf *eb)
{
    int rc;
    const uint8_t *val, *raw;
    char why[400] = "";
    if ((rc = sv_value(t, c, off, &val, &raw, why, sizeof why, eb)) != WR_OK)
        return rc;
    if (raw != NULL) /* an overflow value's bytes as the file holds them */
        return sv_lost_raw(t, c, off, v->gen, why, raw, &t->rep->losses[loss],
                           eb);
    wr_salvage_loss *l = &t->rep->losses[loss];
    if (val == NULL)
        return sv_lost(t, l, c->key, c->klen, false, v->gen, off, why, eb);
    bool valid = sv_doc_ok(t, off, c, val, why, sizeof why, eb);
    if (valid)
        snprintf(why, sizeof why,
                 "slot %u of the page at %llu (generation %llu): its key "
                 "lies outside the range the page's parent gives it",
                 i, (unsigned long long)off, (unsigned long long)v->gen);
    return sv_lost(t, l, val, c->vlen, valid, v->gen, off, why, eb);
}

/* The documents of a leaf the walk reached, in key order. With bounds (a
 * leaf, intact and reached through its address, holding keys outside the
 * range its parent gives it; bwhy says so): the keys inside are kept as
 * any leaf's (S2 holds for them, and no other page of the tree may hold
 * them); each run of those outside goes to lost+found under a loss naming
 * the leaf (S3: no range of the tree is theirs). */
static int sv_walk_leaf(sv_tree *t, const wri_page_view *v, uint64_t off,
                        const sv_range *bounds, const char *bwhy,
                        wr_errbuf *eb)
{
    int rc;
    char why[400];
    size_t loss = SIZE_MAX; /* the current run outside the range's */
    for (uint32_t i = 0; i < v->count; i++) {
        wri_cell c;
        const uint8_t *val, *raw;
        why[0] = '\0';
        wri_page_cell(v, i, &c);
        if (sv_cert_covers(t, c.key, c.klen))
            continue; /* a newer page decides this key (S3) */
        if (bounds != NULL && !sv_range_has(bounds, c.key, c.klen)) {
            /* a new run once a key was kept since the last one began */
            if (loss == SIZE_MAX || loss < t->after_from) {
                if (sv_loss_add(t, "leaf", off, v->size, bwhy) == NULL)
                    return WR_ERR(eb, WR_ENOMEM, "%s: out of memory",
                                  t->path);
                loss = t->rep->nlosses - 1;
            }
            if ((rc = sv_outside(t, v, off, i, &c, loss, eb)) != WR_OK)
                return rc;
            continue;
        }
        if ((rc = sv_value(t, &c, off, &val, &raw, why, sizeof why, eb)) !=
            WR_OK)
            return rc;
        if (val == NULL) {
            bool packed = wri_cell_packed(&c); /* its place: the leaf */
            if ((rc = sv_hole_add(t, packed ? "document" : "overflow",
                                  packed ? off : c.ovf.off,
                                  packed ? v->size : c.ovf.size, why,
                                  c.key, c.klen, NULL, 0, true, false, eb)) !=
                    WR_OK ||
                (raw != NULL &&
                 (rc = sv_lost_raw(t, &c, off, v->gen, why, raw,
                                   &t->rep->losses[t->rep->nlosses - 1],
                                   eb)) != WR_OK))
                return rc;
            t->holes[t->nholes - 1].taken = raw != NULL;
            continue;
        }
        if (!sv_doc_ok(t, off, &c, val, why, sizeof why, eb)) {
            t->rep->bad_docs++;
            if ((rc = sv_hole_add(t, "document", off, v->size, why, c.key,
                                  c.klen, NULL, 0, true, false, eb)) !=
                    WR_OK ||
                (rc = sv_lost(t, &t->rep->losses[t->rep->nlosses - 1],
                              val, c.vlen, false, v->gen, off, why, eb)) !=
                    WR_OK)
                return rc;
            t->holes[t->nholes - 1].taken = true;
            continue;
        }
        if ((rc = sv_keep(t, c.key, c.klen, val, c.vlen, v->gen, true, eb)) !=
            WR_OK)
            return rc;
    }
    return WR_OK;
}

static int sv_walk_internal(sv_tree *t, const wri_page_view *v, sv_range r,
                            int depth, wr_errbuf *eb)
{
    int rc;
    for (uint32_t i = 0; i < v->count; i++) {
        wri_cell c, n;
        sv_range cr = r;
        wri_page_cell(v, i, &c);
        if (i > 0) {
            cr.lo = c.key;
            cr.lol = c.klen;
        }
        if (i + 1 < v->count) {
            wri_page_cell(v, i + 1, &n);
            cr.hi = n.key;
            cr.hil = n.klen;
        }
        if ((rc = sv_walk(t, &c.child, cr, v->level - 1, depth + 1, eb)) !=
            WR_OK)
            return rc;
    }
    return WR_OK;
}

/* Are the page's keys inside the range its parent gives it? */
static bool sv_page_in_range(const wri_page_view *v, sv_range r)
{
    wri_cell a, b;
    if (v->count == 0)
        return true;
    wri_page_cell(v, v->type == WRI_PT_INTERNAL ? WRI_MIN(1, v->count - 1)
                                                 : 0,
                  &a);
    wri_page_cell(v, v->count - 1, &b);
    if (v->type == WRI_PT_INTERNAL && v->count == 1)
        return true;
    return sv_range_has(&r, a.key, a.klen) && sv_range_has(&r, b.key, b.klen);
}

static int sv_walk(sv_tree *t, const wr_addr *a, sv_range r, int level,
                   int depth, wr_errbuf *eb)
{
    int rc = WR_OK;
    uint8_t *buf = NULL;
    wri_page_view v;
    wri_page_problem prob;
    char why[400];
    if (sv_intr(t))
        return WR_ERR(eb, WR_EINTR, "%s: interrupted", t->path);
    /* one block, or a long leaf where the checkpoint's version allows one
     * (that it is a leaf is checked once it is read) */
    if (depth > SV_MAX_DEPTH ||
        (level > 0 ? a->size != t->P
                   : !wri_leaf_size_ok(sv_version(t), t->P, a->size)))
        return sv_walk_hole(t, a, r, level,
                            depth > SV_MAX_DEPTH ? "tree deeper than 64 levels"
                                                 : "address size is not one "
                                                   "page or a leaf's run",
                            eb);
    if ((buf = malloc(a->size)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
    uint64_t b = a->off / t->P;
    rc = sv_read_page(t, a, a->size, buf, "tree page", eb);
    if (rc == WRI_PS_BAD) {
        if (a->off % t->P == 0 && b < t->nblk)
            t->map[b].flags |= SV_MISMATCH;
        sv_count_damaged(t, a->off);
        rc = sv_walk_hole(t, a, r, level, t->finding, eb);
        goto out;
    }
    if (rc != WR_OK)
        goto out;
    if (wri_page_check(buf, a->size, 1, &v, &prob) != WR_OK) {
        rc = sv_walk_bad(t, a, r, level, eb, WR_CHECK_PAGE, prob.off, "%s",
                         prob.what);
        goto out;
    }
    if (v.type != WRI_PT_LEAF && v.size != t->P) {
        rc = sv_walk_bad(t, a, r, level, eb, WR_CHECK_PAGE, WRI_PH_SIZE,
                         "an internal page of %u bytes (one block expected)",
                         v.size);
        goto out;
    }
    static const char outside[] =
        "holding keys outside the range its parent gives it";
    const char *refused =
        (t->map[b].flags & SV_VISITED) ? "reached twice"
        : v.gen > t->G                 ? "newer than the checkpoint"
        : (level >= 0 && v.level != level)
            ? "not at the level its parent expects"
        : !sv_page_in_range(&v, r) ? outside
                                   : NULL;
    if (refused == outside && v.type == WRI_PT_LEAF) {
        /* intact, reached through its address: only its keys outside
         * the range are in doubt (the parent or the leaf is wrong) */
        if ((rc = sv_walk_why(t, a, eb, WR_CHECK_ORDERING, 0,
                              "tree page (generation %llu, level %u) is %s: "
                              "the documents of those keys go to "
                              "lost+found, the others are kept",
                              (unsigned long long)v.gen, v.level,
                              refused)) != WR_OK)
            goto out;
        snprintf(why, sizeof why, "%.399s", t->finding);
        sv_count_damaged(t, a->off);
        t->map[b].flags |= SV_VISITED;
        rc = sv_walk_leaf(t, &v, a->off, &r, why, eb);
        goto out;
    }
    if (refused != NULL) {
        t->map[b].flags |= SV_MISMATCH;
        rc = sv_walk_bad(t, a, r, level, eb,
                         refused == outside ? WR_CHECK_ORDERING
                                            : WR_CHECK_PAGE,
                         0,
                         "tree page (generation %llu, level %u) is %s: a "
                         "stale or misdirected page",
                         (unsigned long long)v.gen, v.level, refused);
        goto out;
    }
    t->map[b].flags |= SV_VISITED;
    if (v.type == WRI_PT_LEAF)
        rc = sv_walk_leaf(t, &v, a->off, NULL, NULL, eb);
    else
        rc = sv_walk_internal(t, &v, r, depth, eb);
out:
    free(buf);
    return rc;
}

/* --- 4. holes -------------------------------------------------------------- */

typedef struct sv_cand {
    sv_leaf *l;
    bool live;
    bool exact; /* its CRC and size are those the hole's address names */
} sv_cand;

/* The page the hole's address names first, then newest first (S3). */
static int sv_cand_cmp(const void *x, const void *y)
{
    const sv_cand *a = x, *b = y;
    if (a->exact != b->exact)
        return a->exact ? -1 : 1;
    if (a->l->gen != b->l->gen)
        return a->l->gen > b->l->gen ? -1 : 1;
    return a->l->off < b->l->off ? -1 : a->l->off > b->l->off;
}

/* Read a scanned page again (the scan kept only its range), through the
 * address its own CRC makes: the bytes must be those the scan judged. */
static int sv_reread(sv_tree *t, const sv_leaf *l, uint8_t *buf,
                     wri_page_view *v, bool *ok, wr_errbuf *eb)
{
    int rc;
    wri_page_problem prob;
    uint64_t off = l->off;
    wr_addr a = {off, l->size, t->map[off / t->P].crc};
    uint64_t lsize = t->lsize;
    *ok = false;
    t->lsize = t->fsize; /* a scanned page may lie past a lost checkpoint */
    rc = sv_read_page(t, &a, l->size, buf, "scanned leaf", eb);
    t->lsize = lsize;
    if (rc == WRI_PS_BAD)
        return WR_OK;
    if (rc != WR_OK)
        return rc;
    *ok = wri_page_check(buf, l->size, 1, v, &prob) == WR_OK;
    return WR_OK;
}

/* One cell of a candidate page inside hole h. */
static int sv_fill_cell(sv_tree *t, sv_hole *h, const sv_cand *c,
                        const wri_cell *cell, wr_errbuf *eb)
{
    int rc;
    const uint8_t *val, *raw;
    char why[400] = "";
    wr_salvage_loss *loss = &t->rep->losses[h->loss];
    if ((rc = sv_value(t, cell, c->l->off, &val, &raw, why, sizeof why,
                       eb)) != WR_OK)
        return rc;
    if (raw != NULL) /* what is left of it, else its key */
        return sv_lost_raw(t, cell, c->l->off, c->l->gen, why, raw, loss, eb);
    if (val == NULL)
        return sv_lost(t, loss, cell->key, cell->klen, false, c->l->gen,
                       c->l->off, why, eb);
    bool valid = sv_doc_ok(t, c->l->off, cell, val, why, sizeof why, eb);
    if (valid && c->live) {
        t->rep->from_scan++;
        loss->rescued++;
        h->resolved = true;
        return sv_keep(t, cell->key, cell->klen, val, cell->vlen, c->l->gen,
                       false, eb);
    }
    if (valid)
        snprintf(why, sizeof why,
                 "from a page of generation %llu found by the scan: not "
                 "certainly the checkpoint's",
                 (unsigned long long)c->l->gen);
    return sv_lost(t, loss, val, cell->vlen, valid, c->l->gen, c->l->off,
                   why, eb);
}

/* Is the scanned leaf l the very page the hole's address names: its CRC
 * and size those of the address, every key inside the hole's range (the
 * walk would have kept it, had it been there)? */
static bool sv_leaf_named(const sv_tree *t, const sv_leaf *l,
                          const sv_hole *h)
{
    return h->has_addr && !h->single && l->size == h->want.size &&
           t->map[l->off / t->P].crc == h->want.crc &&
           sv_in_hole(h, l->first, l->flen) && sv_in_hole(h, l->last, l->llen);
}

/* Did the hole of a page the walk refused at l's own offset already
 * take this cell (sv_damaged_slots: the cells inside its range)? Then no
 * other hole takes it again. */
static bool sv_slot_taken(const sv_tree *t, const sv_hole *h,
                          const sv_leaf *l, const wri_cell *cell)
{
    if (!(t->map[l->off / t->P].flags & SV_MISMATCH))
        return false;
    for (size_t i = 0; i < t->nholes; i++) {
        const sv_hole *o = &t->holes[i];
        if (o != h && o->page == l->off && !o->taken &&
            sv_in_hole(o, cell->key, cell->klen))
            return true;
    }
    return false;
}

/* The slots of a damaged leaf that still decode go to lost+found. */
static int sv_damaged_slots(sv_tree *t, sv_hole *h, uint8_t *buf,
                            wr_errbuf *eb)
{
    int rc;
    size_t got = 0;
    uint64_t off = h->page;
    if (h->taken || off % t->P != 0 || off < 2 * (uint64_t)t->P ||
        off >= t->fsize)
        return WR_OK;
    if ((rc = sv_read(t, buf, t->P, off, &got, eb)) != WR_OK)
        return rc;
    if (got < t->P || buf[WRI_PH_TYPE] != WRI_PT_LEAF)
        return WR_OK;
    /* a long leaf (format 2), if its header's size is still believable */
    uint32_t size = t->P, hsize = wri_get32(buf + WRI_PH_SIZE);
    if (hsize > t->P && hsize <= t->fsize - off &&
        wri_leaf_size_ok(sv_version(t), t->P, hsize)) {
        if ((rc = sv_read(t, buf, hsize, off, &got, eb)) != WR_OK)
            return rc;
        size = (uint32_t)got / t->P * t->P;
    }
    uint64_t gen = wri_get64(buf + WRI_PH_GEN);
    uint32_t count = wri_get32(buf + WRI_PH_COUNT);
    uint32_t max = (size - WRI_PH_LEN) / WRI_SLOT_SIZE;
    wr_salvage_loss *loss = &t->rep->losses[h->loss];
    for (uint32_t i = 0; i < WRI_MIN(count, max); i++) {
        wri_cell c;
        char why[400], kw[96];
        const uint8_t *val;
        uint32_t coff = wri_get16(buf + WRI_PH_LEN + i * WRI_SLOT_SIZE);
        if (coff < WRI_PH_LEN ||
            wri_page_cell_at(buf, size, WRI_PT_LEAF, coff, &c) != NULL ||
            wri_key_check(c.key, c.klen, 1, kw, sizeof kw) != WR_OK ||
            !sv_in_hole(h, c.key, c.klen))
            continue;
        if ((rc = sv_value(t, &c, off, &val, NULL, why, sizeof why, eb)) !=
            WR_OK)
            return rc;
        if (val == NULL)
            continue;
        bool valid = sv_doc_ok(t, off, &c, val, why, sizeof why, eb);
        if (valid)
            snprintf(why, sizeof why,
                     "slot %u of the damaged page at %llu (generation %llu "
                     "by its header)",
                     i, (unsigned long long)off, (unsigned long long)gen);
        if ((rc = sv_lost(t, loss, val, c.vlen, valid, gen, off, why, eb)) !=
            WR_OK)
            return rc;
    }
    return WR_OK;
}

static int sv_fill_hole_in(sv_tree *t, sv_hole *h, wr_errbuf *eb)
{
    int rc = WR_OK;
    sv_cand *c = NULL;
    size_t n = 0;
    uint8_t *buf = malloc(WRI_MAX(t->P, WRI_LEAF_MAX));
    if (buf == NULL ||
        (t->nleaves && (c = calloc(t->nleaves, sizeof *c)) == NULL)) {
        rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
        goto out;
    }
    for (size_t i = 0; i < t->nleaves; i++) {
        sv_leaf *l = &t->leaves[i];
        const sv_blk *m = &t->map[l->off / t->P];
        /* a page the walk refused at its own offset is that hole's
         * (sv_damaged_slots); for every other hole it is a scanned page
         * like any other, but its block's place in the extent lists says
         * nothing of its bytes */
        bool refused = (m->flags & SV_MISMATCH) != 0;
        if ((m->flags & SV_VISITED) ||
            (refused && l->off == h->page) || l->gen > h->gmax ||
            l->gen < h->gmin || l->off + l->size > h->lsize ||
            !sv_leaf_meets(l, h))
            continue;
        c[n].l = l;
        c[n].exact = sv_leaf_named(t, l, h);
        c[n].live = c[n].exact ||
                    (!refused && h->certain_ok && t->ext_ok &&
                     !(m->flags & SV_FREE)) ||
                    (!refused && h->certain_gen != 0 &&
                     l->gen == h->certain_gen);
        n++;
    }
    /* two live leaves of one range cannot both be the checkpoint's; the
     * page its address names is, whatever else claims the range */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (c[i].live && c[j].live &&
                sv_cmp(c[i].l->first, c[i].l->flen, c[j].l->last,
                       c[j].l->llen) <= 0 &&
                sv_cmp(c[j].l->first, c[j].l->flen, c[i].l->last,
                       c[i].l->llen) <= 0) {
                c[i].live = c[i].exact && !c[j].exact;
                c[j].live = c[j].exact && !c[i].exact;
            }
    if (n > 1)
        qsort(c, n, sizeof *c, sv_cand_cmp);
    if ((rc = sv_damaged_slots(t, h, buf, eb)) != WR_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        wri_page_view v;
        bool ok;
        if (sv_intr(t)) {
            rc = WR_ERR(eb, WR_EINTR, "%s: interrupted", t->path);
            goto out;
        }
        if ((rc = sv_reread(t, c[i].l, buf, &v, &ok, eb)) != WR_OK)
            goto out;
        if (!ok)
            continue;
        for (uint32_t k = 0; k < v.count; k++) {
            wri_cell cell;
            wri_page_cell(&v, k, &cell);
            if (!sv_in_hole(h, cell.key, cell.klen) ||
                sv_slot_taken(t, h, c[i].l, &cell))
                continue;
            bool decided = false; /* S3: a newer page's range decides */
            for (size_t j = 0; j < i && !decided; j++)
                decided = sv_leaf_covers(c[j].l, cell.key, cell.klen);
            if (!decided && (rc = sv_fill_cell(t, h, &c[i], &cell, eb)) !=
                                WR_OK)
                goto out;
        }
    }
out:
    free(c);
    free(buf);
    return rc;
}

static int sv_fill_hole(sv_tree *t, sv_hole *h, wr_errbuf *eb)
{
    uint64_t lsize = t->lsize;
    t->lsize = h->lsize; /* values of scanned pages may lie up to there */
    int rc = sv_fill_hole_in(t, h, eb);
    t->lsize = lsize;
    return rc;
}

/* --- the file -------------------------------------------------------------- */

/* The page size of a file with no valid slot: the P at which most of
 * the first blocks start intact one-block pages (leaf, internal or extent
 * list pages are exactly P bytes). 0: none. */
static uint32_t sv_guess_page_size(sv_tree *t, wr_errbuf *eb)
{
    uint8_t *buf = malloc(WRI_PAGE_MAX);
    uint32_t found = 0, best = 0;
    if (buf == NULL)
        return 0;
    for (uint32_t P = WRI_PAGE_MIN; P <= WRI_PAGE_MAX; P *= 2) {
        uint32_t hits = 0;
        for (uint64_t k = 2; k < 66 && (k + 1) * P <= t->fsize; k++) {
            size_t got = 0;
            if (sv_read(t, buf, P, k * P, &got, eb) != WR_OK || got < P)
                break;
            uint8_t type = buf[WRI_PH_TYPE];
            if (wri_get32(buf + WRI_PH_SIZE) == P &&
                (type == WRI_PT_LEAF || type == WRI_PT_INTERNAL ||
                 type == WRI_PT_EXTLIST) &&
                wri_page_crc(buf, P) == wri_get32(buf))
                hits++;
        }
        if (hits > best) {
            best = hits;
            found = P;
        }
    }
    free(buf);
    return found;
}

static void sv_free(sv_tree *t)
{
    for (size_t i = 0; i < t->nleaves; i++) {
        free(t->leaves[i].first);
        free(t->leaves[i].last);
    }
    for (size_t i = 0; i < t->nholes; i++) {
        free(t->holes[i].lo);
        free(t->holes[i].hi);
    }
    free(t->leaves);
    free(t->cert);
    free(t->holes);
    free(t->map);
    free(t->last_key);
    free(t->vbuf);
    wri_ps_close(t->ps);
}

/* The checkpoint to walk, as the page source chooses it: *chosen is its
 * slot, or -1 (the report's note says why); *older a valid slot of an
 * older generation whose tree lies inside the file (-1: none). */
static int sv_choose(sv_tree *t, int *chosen, int *older, wr_errbuf *eb)
{
    const wri_sv_tree_opts *o = t->o;
    wr_salvage_coll *r = t->rep;
    wri_ps *ps = t->ps;
    wr_errbuf e2 = {0};
    int which = o->gen != 0 ? WRI_PS_GEN
                : o->previous ? WRI_PS_PREVIOUS
                              : WRI_PS_LATEST;
    int rc = wri_ps_choose(ps, which, o->gen, chosen, &e2);
    *older = -1;
    if ((rc != WR_OK && rc != WR_ECORRUPT && rc != WR_ENOTFOUND) ||
        (rc == WR_ENOTFOUND && which == WRI_PS_PREVIOUS)) {
        *eb = e2; /* no previous checkpoint to salvage */
        return rc;
    }
    if (rc != WR_OK) {
        *chosen = -1;
        snprintf(r->note, sizeof r->note, "%.500s", e2.msg);
    } else if (!wri_ps_slot_readable(ps, *chosen)) {
        const wri_slot *s = &ps->slots[*chosen].slot;
        snprintf(r->note, sizeof r->note,
                 "%.200s is truncated: it is %llu bytes, but checkpoint "
                 "%llu's root page ends at %llu and its first extent-list "
                 "page at %llu (logical size %llu)",
                 t->path, (unsigned long long)t->fsize,
                 (unsigned long long)s->gen,
                 (unsigned long long)(s->root.off + s->root.size),
                 (unsigned long long)(s->extlist.off + s->extlist.size),
                 (unsigned long long)s->logical_size);
    }
    uint64_t want = *chosen >= 0 ? ps->slots[*chosen].slot.gen : o->gen;
    for (int i = 0; i < 2; i++)
        if (i != *chosen && wri_ps_slot_readable(ps, i) &&
            (want == 0 || ps->slots[i].slot.gen < want) &&
            (*older < 0 ||
             ps->slots[i].slot.gen > ps->slots[*older].slot.gen))
            *older = i;
    return WR_OK;
}

/* Walk the tree of slot i (its extent lists with it when lists). */
static int sv_walk_slot(sv_tree *t, int i, bool lists, wr_errbuf *eb)
{
    int rc;
    sv_range all = {NULL, NULL, 0, 0};
    t->slot = i;
    t->cur = t->ps->slots[i].slot;
    t->lsize = t->cur.logical_size;
    if ((rc = wri_ps_begin(t->ps, i, false, eb)) < 0)
        return rc;
    if (lists && (rc = sv_extents(t, eb)) != WR_OK)
        return rc;
    if (t->cur.root.off == 0)
        return WR_OK;
    return sv_walk(t, &t->cur.root, all, (int)t->cur.height - 1, 0, eb);
}

/* The root of generation G when its slot is gone: the one intact page
 * written for G at the highest level (every checkpoint writes its root
 * anew, above every other page it writes). 0: none, or not unique. */
static uint64_t sv_find_root(const sv_tree *t, uint16_t *level)
{
    uint64_t found = 0;
    int best = -1, nbest = 0;
    for (uint64_t b = 2; b < t->nblk; b++) {
        const sv_blk *m = &t->map[b];
        if (m->state != SV_INTACT || m->gen != t->G ||
            (m->type != WRI_PT_LEAF && m->type != WRI_PT_INTERNAL))
            continue;
        if (m->level > best) {
            best = m->level;
            nbest = 1;
            found = b * t->P;
        } else if (m->level == best) {
            nbest++;
        }
    }
    *level = (uint16_t)(best < 0 ? 0 : best);
    return nbest == 1 ? found : 0;
}

/* A hole over the whole key space for pages of generations
 * [gmin, G] that no walked tree covers. */
static int sv_hole_all(sv_tree *t, const char *what, uint64_t gmin,
                       wr_errbuf *eb)
{
    int rc;
    char why[600];
    snprintf(why, sizeof why, "no tree to walk for generation %llu: %.500s",
             (unsigned long long)t->G, t->rep->note);
    if ((rc = sv_hole_add(t, what, 0, t->fsize, why, NULL, 0, NULL, 0, false,
                          false, eb)) != WR_OK)
        return rc;
    sv_hole *h = &t->holes[t->nholes - 1];
    wr_salvage_loss *l = &t->rep->losses[t->rep->nlosses - 1];
    free(l->after); /* it names no key range: all of them */
    l->after = NULL;
    t->after_from = t->rep->nlosses;
    h->gmin = gmin;
    h->gmax = t->G;
    h->lsize = t->fsize;
    /* pages of the checkpoint's own generation are its: nothing newer
     * can cover their keys */
    h->certain_gen = t->G != UINT64_MAX && gmin == 0 ? t->G : 0;
    return WR_OK;
}

static int sv_leafp_cmp(const void *x, const void *y)
{
    const sv_leaf *a = *(sv_leaf *const *)x, *b = *(sv_leaf *const *)y;
    return sv_cmp(a->first, a->flen, b->first, b->flen);
}

/* Before an older checkpoint is walked in place of generation gen, whose
 * tree is gone: the leaves written for gen are gen's (nothing newer can
 * cover their keys), unless two of them overlap. Their documents are
 * kept, and their key ranges decide those keys (S3): the older walk skips
 * them. Counted against loss h. */
static int sv_certain_gen(sv_tree *t, uint64_t gen, size_t h, wr_errbuf *eb)
{
    int rc = WR_OK;
    size_t n = 0;
    bool *bad = NULL;
    uint8_t *buf = malloc(WRI_MAX(t->P, WRI_LEAF_MAX));
    if (buf == NULL ||
        (t->nleaves && (t->cert = calloc(t->nleaves, sizeof *t->cert)) ==
                           NULL)) {
        free(buf);
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
    }
    for (size_t i = 0; i < t->nleaves; i++)
        if (t->leaves[i].gen == gen &&
            !(t->map[t->leaves[i].off / t->P].flags &
              (SV_VISITED | SV_MISMATCH)))
            t->cert[n++] = &t->leaves[i];
    if (n > 1)
        qsort(t->cert, n, sizeof *t->cert, sv_leafp_cmp);
    if (n > 0 && (bad = calloc(n, sizeof *bad)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1;
             j < n && sv_cmp(t->cert[j]->first, t->cert[j]->flen,
                             t->cert[i]->last, t->cert[i]->llen) <= 0;
             j++)
            bad[i] = bad[j] = true;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!bad[i])
            t->cert[k++] = t->cert[i];
    t->ncert = k;
    uint64_t lsize = t->lsize;
    t->lsize = t->fsize; /* their values may lie anywhere in the file */
    for (size_t i = 0; i < t->ncert && rc == WR_OK; i++) {
        wri_page_view v;
        bool ok;
        sv_leaf *l = t->cert[i];
        sv_cand c = {l, true, false};
        t->map[l->off / t->P].flags |= SV_VISITED;
        if ((rc = sv_reread(t, l, buf, &v, &ok, eb)) != WR_OK || !ok)
            continue;
        sv_hole all = {0};
        all.loss = h;
        for (uint32_t j = 0; j < v.count && rc == WR_OK; j++) {
            wri_cell cell;
            wri_page_cell(&v, j, &cell);
            rc = sv_fill_cell(t, &all, &c, &cell, eb);
        }
    }
    t->lsize = lsize;
out:
    free(bad);
    free(buf);
    return rc;
}

static int sv_tree_run(sv_tree *t, wr_errbuf *eb)
{
    int rc, chosen, older;
    bool walked = false, found_root = false;
    wr_salvage_coll *r = t->rep;
    wri_ps *ps = t->ps;
    if ((rc = sv_choose(t, &chosen, &older, eb)) != WR_OK)
        return rc;
    bool exact = chosen >= 0 && wri_ps_slot_readable(ps, chosen);
    t->P = ps->P != 0 ? ps->P : sv_guess_page_size(t, eb);
    if (t->P == 0)
        return WR_ERR(eb, WR_ENOTOURS,
                      "%s: no valid header slot and no intact page at any "
                      "page size: nothing to salvage (%s)",
                      t->path, r->note);
    ps->P = t->P; /* no slot said: the page size the pages say */
    t->G = chosen >= 0       ? ps->slots[chosen].slot.gen
           : t->o->gen != 0 ? t->o->gen
                            : UINT64_MAX;
    t->lsize = t->fsize;
    if (chosen >= 0) {
        r->checkpoint = t->G;
        r->expected = ps->slots[chosen].slot.nrecords;
        r->expected_known = true;
    }
    r->page_size = t->P;
    t->nblk = t->fsize / t->P;
    if ((t->map = calloc(t->nblk + 1, sizeof *t->map)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", t->path);
    if ((rc = sv_scan(t, eb)) != WR_OK)
        return rc;
    const wri_slot *cs = chosen >= 0 ? &ps->slots[chosen].slot : NULL;
    if (exact) {
        if ((rc = sv_walk_slot(t, chosen, true, eb)) != WR_OK)
            return rc;
        walked = true;
    } else if (cs != NULL && cs->root.off != 0 &&
               cs->root.off + cs->root.size <= t->fsize) {
        /* the slot holds but its file does not (its extent lists lie past
         * the end): the tree without them */
        if ((rc = sv_walk_slot(t, chosen, false, eb)) != WR_OK)
            return rc;
        walked = true;
    } else {
        uint16_t level = 0;
        uint64_t root =
            cs == NULL && t->G != UINT64_MAX ? sv_find_root(t, &level) : 0;
        if (root != 0) {
            sv_range all = {NULL, NULL, 0, 0};
            found_root = true;
            wr_addr a = {root, t->P, t->map[root / t->P].crc};
            r->checkpoint = t->G;
            snprintf(r->note + strlen(r->note),
                     sizeof r->note - strlen(r->note),
                     "; its root was found by generation at offset %llu",
                     (unsigned long long)root);
            if ((rc = sv_walk(t, &a, all, level, 0, eb)) != WR_OK)
                return rc;
            /* nothing says the tree was whole: the slot is a loss */
            if ((rc = sv_hole_add(t, "header slot", 0, 2 * (uint64_t)t->P,
                                  r->note, NULL, 0, NULL, 0, false, false,
                                  eb)) != WR_OK)
                return rc;
            t->holes[t->nholes - 1].gmax = 0; /* nothing fills it */
            wr_salvage_loss *l = &r->losses[r->nlosses - 1];
            free(l->after); /* it names no key range: all of them */
            l->after = NULL;
        } else if (older >= 0 && t->G != UINT64_MAX) {
            /* the leaves written for the generation asked for decide
             * their key ranges; the older checkpoint's tree gives the
             * rest; every other newer page is uncertain */
            uint64_t want = t->G, og = ps->slots[older].slot.gen;
            if ((rc = sv_hole_all(t, "newer checkpoint", og + 1, eb)) !=
                    WR_OK ||
                (rc = sv_certain_gen(t, want, r->nlosses - 1, eb)) != WR_OK)
                return rc;
            t->G = og;
            r->checkpoint = og;
            r->expected_known = false;
            if ((rc = sv_walk_slot(t, older, true, eb)) != WR_OK)
                return rc;
            t->G = want;
        } else if ((rc = sv_hole_all(t, "tree", 0, eb)) != WR_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < t->nholes; i++)
        if ((rc = sv_fill_hole(t, &t->holes[i], eb)) != WR_OK)
            return rc;
    /* a damaged internal page, or a hole a page certainly the
     * checkpoint's filled, loses nothing by itself: the record count
     * says whether all came back; a header slot gone takes that count
     * with it, and loses nothing else */
    bool lost = false;
    for (size_t i = 0; i < r->nlosses; i++) {
        bool resolved = strcmp(r->losses[i].what, "internal") == 0 ||
                        strcmp(r->losses[i].what, "header slot") == 0;
        for (size_t j = 0; j < t->nholes && !resolved; j++)
            resolved = t->holes[j].loss == i && t->holes[j].resolved;
        lost = lost || !resolved;
    }
    r->complete = !lost && walked && r->recovered == r->expected;
    r->unconfirmed = !lost && found_root;
    if (r->unconfirmed) /* the slot's loss says why */
        snprintf(r->note, sizeof r->note,
                 "%llu documents were recovered and none is known lost, but "
                 "no header slot holds the record count that would confirm "
                 "it",
                 (unsigned long long)r->recovered);
    else if (!r->complete && !lost && r->note[0] == '\0')
        snprintf(r->note, sizeof r->note,
                 "checkpoint %llu counts %llu records, %llu were recovered",
                 (unsigned long long)r->checkpoint,
                 (unsigned long long)r->expected,
                 (unsigned long long)r->recovered);
    return WR_OK;
}

int wri_salvage_tree(const char *path, const wri_sv_tree_opts *o,
                     wr_salvage_coll *rep, uint64_t *scanned, wr_errbuf *eb)
{
    int rc;
    sv_tree t;
    uint64_t dummy = 0;
    memset(&t, 0, sizeof t);
    t.path = path;
    t.o = o;
    t.rep = rep;
    t.scanned = scanned != NULL ? scanned : &dummy;
    t.slot = -1;
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true,
                      .sink = sv_finding, .sink_arg = &t,
                      .interrupted = o->interrupted, .any_file = true};
    if ((rc = wri_ps_open(path, &cfg, &t.ps, eb)) == WR_OK) {
        t.fsize = t.ps->fsize;
        rc = sv_tree_run(&t, eb);
    }
    sv_free(&t);
    return rc;
}
