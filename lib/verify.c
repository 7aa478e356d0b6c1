/*
 * verify.c -- wr_verify(): check a database directory or one tree file,
 * read-only and streaming, and report every problem under a stable check
 * name (wr.h). What wr-verify prints; migrate and compact call it (with
 * the item digest) on what they built before replacing anything.
 *
 * One checkpoint of one file is verified in three steps:
 *   1. the extent-list chain: each page read against the address that
 *      points at it (CRC, size), its header, each entry's bounds; list
 *      pages and entries are marked in the ownership map;
 *   2. the tree, depth first from the root: each page read against its
 *      parent's address, decoded by wri_page_check() (the one page
 *      decoder), its level checked against its place, its keys checked
 *      (wri_key_check), ordered inside the page and inside the bounds the
 *      parent's separators set, and across leaves; overflow pages read;
 *      documents validated (wri_bson_check, _id == key) and, when
 *      opts.digest asks, digested in key order. Every page is marked in
 *      the map; a page found marked is reachable twice and is not
 *      descended into again (so cycles end);
 *   3. space: every block of [2P, logical size) must have been marked
 *      exactly once; unmarked runs are leaked space. Reported only when
 *      steps 1 and 2 read everything (else every unread subtree would look
 *      leaked).
 * A database adds the catalog (files exist, roles, generations) and, per
 * index, a cross-check with its main table by point lookups both ways:
 * every index entry names an existing document whose field holds the
 * value; every document has each entry it implies.
 *
 * Memory: per checkpoint a 2-bit ownership map per block (file size / P /
 * 4 bytes), one page buffer per tree level, one value buffer (the largest
 * overflow value met, at most BSON's 16 MiB); for lookups one cached page
 * per level. Nothing grows with the number of keys.
 *
 * Calls io, block, page, bsonkey, catalog and digest. Never writes: files
 * are opened with WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT, and the extent lists
 * are read here so that damage in them is reported, not fatal.
 */
#include "wr_int.h"
#include "vfdocs.h"
#include "cores.h"

#include <dirent.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define VF_MAX_DEPTH 64
#define VF_MAX_DOC (16u << 20) /* BSON's document size limit */
#define VF_DEFAULT_CAP 1000
#define VF_PROGRESS_EVERY 256
#define VF_TWIN_PUBLISH 64 /* a twin's pages between two publications */
#define VF_CACHE_BYTES (4u << 20) /* per tree, for lookups */


/* --- the run and its report -------------------------------------------- */

/* What the library keeps per file beyond the public record. */
typedef struct vf_info {
    wri_slot slot[2]; /* parallel to file->ckpt */
    bool sound[2];    /* structure read whole and consistent: lookups ok */
    bool docs_ok[2];  /* every document read and valid BSON */
    bool expect;      /* named by the catalog */
    size_t coll, xj;  /* catalog: collection, 0 main / j+1 index j */
} vf_info;

typedef struct vf_run {
    const wr_verify_opts *o;
    const wri_verify_feed *feed; /* NULL: no build reads through us */
    wr_verify_report *r;
    vf_info *info; /* parallel to r->files */
    size_t cap;    /* r->files allocated */
    uint32_t maxp;
    int env_rc; /* first environment error */
    size_t probcap;
} vf_run;

/* Where problems go: a file, maybe one of its checkpoints. */
typedef struct vf_ctx {
    vf_run *run;
    wr_verify_file *file; /* may be NULL: catalog problems */
    wr_verify_ckpt *ck;   /* may be NULL */
    const char *path;
    uint64_t gen;
    bool silent;          /* lookups and scans: report nothing */
    uint64_t nprob[WR_CHECK_NCHECKS];
    wri_vd *vd;           /* documents being checked on another thread */
} vf_ctx;

/* Keep one finding in the report (counted always, kept up to the cap). */
static void vf_add(vf_ctx *c, const wr_finding *f)
{
    vf_run *run = c->run;
    wr_verify_report *r = run->r;
    if (c->silent)
        return;
    c->nprob[f->check]++;
    r->total_problems++;
    if (c->file != NULL) {
        c->file->problems++;
        if (c->file->status == WR_OK)
            c->file->status = WR_ECORRUPT;
    }
    if (c->ck != NULL)
        c->ck->problems++;
    if (r->nproblems >= run->maxp)
        return;
    if (r->nproblems == run->probcap) {
        size_t ncap = run->probcap ? run->probcap * 2 : 16;
        wr_finding *np = realloc(r->problems, ncap * sizeof *np);
        if (np == NULL)
            return; /* counted, not kept */
        r->problems = np;
        run->probcap = ncap;
    }
    wr_finding *p = &r->problems[r->nproblems++];
    *p = *f;
    p->path = c->path; /* the report's copy */
    if (c->ck != NULL || p->gen == 0)
        p->gen = c->gen;
}

/* The page source's findings (pagesrc.h) go to the current context,
 * after those of every document queued before them (vfdocs.h). */
static void vf_sink(const wr_finding *f, void *arg)
{
    vf_ctx *c = arg;
    wri_vd_sync(c->vd);
    vf_add(c, f);
}

/* The document checker's findings, in their turn. */
static void vf_doc_finding(const wr_finding *f, void *arg)
{
    vf_add(arg, f);
}

static void vf_problem(vf_ctx *c, int check, uint64_t page, uint64_t off,
                       const char *expected, const char *found,
                       const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static void vf_problem(vf_ctx *c, int check, uint64_t page, uint64_t off,
                       const char *expected, const char *found,
                       const char *fmt, ...)
{
    wr_finding f;
    memset(&f, 0, sizeof f);
    f.check = check;
    f.gen = c->gen;
    f.page = page;
    f.offset = off;
    snprintf(f.expected, sizeof f.expected, "%s", expected ? expected : "");
    snprintf(f.found, sizeof f.found, "%s", found ? found : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f.detail, sizeof f.detail, fmt, ap);
    va_end(ap);
    vf_add(c, &f);
}

/* An environment error: remember the first, mark the file. */
static int vf_env(vf_run *run, wr_verify_file *f, int rc, const wr_errbuf *e)
{
    if (run->env_rc == WR_OK) {
        run->env_rc = rc;
        snprintf(run->r->error, sizeof run->r->error, "%s",
                 e->msg[0] ? e->msg : wr_strerror(rc));
    }
    if (f != NULL) {
        f->status = rc;
        snprintf(f->error, sizeof f->error, "%.500s",
                 e->msg[0] ? e->msg : wr_strerror(rc));
    }
    return rc;
}



/* JSON of a key (or any BSON), truncated into buf. */
static const char *vf_json(char *buf, size_t len, const uint8_t *k,
                           size_t klen)
{
    char *j = wri_key_to_json(k, klen);
    snprintf(buf, len, "%s", j ? j : "?");
    if (j != NULL && strlen(j) >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
    free(j);
    return buf;
}

/* --- one checkpoint of one tree file ------------------------------------- */

/* One checkpoint's tree as verify walks it. Its settings are handed to
 * its twin (the split) in one place, vt_twin_init: a new one is added
 * there too. */
typedef struct vf_tree {
    vf_ctx c;
    wri_ps *ps;
    uint32_t P;
    wri_slot slot;
    int si;       /* its slot */
    int nkeyelem; /* 1 main table, 2 index */
    bool quick;
    wr_digest *dg;
    bool items;       /* opts.item_digest: isum kept */
    wri_itemsum isum; /* this walk's items (a twin's: its half's) */
    wri_vd *vd;      /* document checks and digest (owns neither) */
    wr_errbuf *eb;   /* vf_ckpt's: an environment error in a callback */
    bool incomplete; /* some page or list could not be read or decoded */
    bool docs_bad;   /* some document could not be read */
    uint64_t pages_done, pages_total;
    wri_ps_cache *cache; /* lookups */
    wri_ps_walk w;
    /* the split (wri_ps_walk.twin): the tree of the walk's twin, which
     * reads through a source of its own and counts only for itself
     * (added to this one's when its half is kept; its pages_done shown
     * with this one's as it goes: twin_done) */
    struct vf_tree *twin;
    bool is_twin;
    uint64_t twin_checked, twin_bytes; /* a twin's pages and bytes */
    wr_verify_ckpt twin_ck;            /* a twin's counts */
    wr_errbuf twin_eb;
    uint64_t shown; /* the pages_done last given to opts.progress */
    /* a twin's pages_done, published every VF_TWIN_PUBLISH pages for the
     * walk's progress (relaxed: a count to show, nothing read through
     * it); on a line of its own, so the walk's reads stay in its cache */
    alignas(64) atomic_uint_least64_t twin_done;
} vf_tree;

static void vt_free(vf_tree *t)
{
    if (t->twin != NULL) {
        wri_ps *tps = t->twin->ps;
        vt_free(t->twin);
        wri_ps_close(tps);
        free(t->twin);
    }
    wri_vd_free(t->vd);
    wri_ps_cache_free(t->cache);
    wri_ps_walk_free(&t->w);
    wr_digest_free(t->dg);
    memset(t, 0, sizeof *t);
}

/* The pages t's walk has done, its twin's so far with them (as last
 * published). While the walk goes over a twin's half again (not kept:
 * wri_ps_walk.twin) that half counts twice: never past the total. */
static uint64_t vt_done(const vf_tree *t)
{
    uint64_t n = t->pages_done;
    if (t->twin == NULL)
        return n;
    uint64_t b = atomic_load_explicit(&t->twin->twin_done,
                                      memory_order_relaxed);
    uint64_t room = t->pages_total > n ? t->pages_total - n : 0;
    return n + (b < room ? b : room);
}

/* A page of n blocks done (count: it was checked, not just looked up). */
static void vt_progress(vf_tree *t, uint64_t n, bool count)
{
    vf_run *run = t->c.run;
    uint64_t before = t->pages_done;
    t->pages_done += n;
    if (t->is_twin) { /* its own thread: nothing shared but its count */
        t->twin_checked += count;
        t->twin_bytes += count ? n * t->P : 0;
        if (before / VF_TWIN_PUBLISH != t->pages_done / VF_TWIN_PUBLISH)
            atomic_store_explicit(&t->twin_done, t->pages_done,
                                  memory_order_relaxed);
        return;
    }
    if (count) {
        run->r->pages_checked++;
        run->r->bytes_checked += n * t->P;
    }
    if (run->o->progress == NULL)
        return;
    uint64_t done = vt_done(t);
    if (done / VF_PROGRESS_EVERY <= t->shown / VF_PROGRESS_EVERY)
        return;
    t->shown = done;
    wr_verify_progress p = {.phase = count ? "checking"
                                           : "index cross-check",
                            .path = t->c.path,
                            .file = run->r->nfiles,
                            .nfiles = run->cap,
                            .pages_done = done,
                            .pages_total = t->pages_total};
    run->o->progress(&p, run->o->progress_arg);
}

/* A page source error: the environment's (damage is a finding). */
static int vt_env(vf_tree *t, int rc, const wr_errbuf *e)
{
    return rc == WR_EINTR ? rc : vf_env(t->c.run, t->c.file, rc, e);
}

/* --- step 1: the extent lists ------------------------------------------- */

static int vt_list_page(void *arg, const wr_addr *a, uint32_t count,
                        const wr_addr *next)
{
    vf_tree *t = arg;
    (void)a;
    (void)count;
    (void)next;
    vt_progress(t, 1, true);
    t->c.ck->pages_extlist++;
    return 0;
}

static int vt_list_entry(void *arg, const wr_addr *page, uint32_t i,
                         const wri_ext *e, const char *bad)
{
    vf_tree *t = arg;
    (void)page;
    (void)i;
    if (bad != NULL)
        return 0;
    if (e->kind == WRI_EXT_AVAIL)
        t->c.ck->avail_bytes += e->len;
    else
        t->c.ck->discard_bytes += e->len;
    return 0;
}

/* --- step 2: the tree ---------------------------------------------------- */

static int vt_page(void *arg, const wri_ps_page *p)
{
    vf_tree *t = arg;
    if (p->v == NULL || !p->trusted)
        return 0;
    vt_progress(t, p->addr.size / t->P, true); /* a long leaf: its blocks */
    if (p->v->type == WRI_PT_LEAF)
        t->c.ck->pages_leaf++;
    else
        t->c.ck->pages_internal++;
    return 0;
}

/* One leaf item, its value read by the page source (val NULL: it could
 * not be, reported there). */
static int vt_item(void *arg, const wri_ps_page *p, uint32_t i,
                   const wri_cell *c, const uint8_t *val, const wri_vloc *at)
{
    vf_tree *t = arg;
    wr_verify_ckpt *ck = t->c.ck;
    (void)i;
    ck->keys++;
    ck->key_bytes += c->klen;
    ck->value_bytes += c->vlen;
    if (t->items && (val != NULL || t->nkeyelem == 2))
        wri_itemsum_add(&t->isum, c->key, c->klen, val,
                        t->nkeyelem == 2 ? 0 : c->vlen);
    const wri_verify_feed *fd = t->c.run->feed;
    static const uint8_t none[1];
    /* fed while nothing is wrong: damage ends the build (compact) */
    if (fd != NULL && fd->item != NULL && t->c.run->r->total_problems == 0 &&
        (val != NULL || t->nkeyelem == 2)) {
        int rc = fd->item(fd->arg, c->key, c->klen, val ? val : none,
                          t->nkeyelem == 2 ? 0 : c->vlen, t->eb);
        if (rc != WR_OK)
            return rc;
    }
    if (t->nkeyelem == 2)
        return 0;
    if (c->overflow && !wri_cell_packed(c) && val != NULL) {
        ck->pages_overflow++;
        vt_progress(t, c->ovf.size / t->P, true);
    }
    if (t->quick)
        return 0;
    if (val == NULL) {
        t->docs_bad = true;
        return 0;
    }
    /* the walk's buffers have a pad after each value (wri_ps_walk.item) */
    return wri_vd_add(t->vd, at, c->key, c->klen, val, c->vlen,
                      t->ps->mapped == NULL ? WRI_BSON_PAD : 0, t->eb);
}

/* The twin b of t (vt_twin): t's settings for its checkpoint, with counts
 * (twin_ck) and an error buffer of its own, no document checks yet (they
 * read through b's source). The one place a vf_tree's settings are
 * handed to its twin: a new one is added here. */
static void vt_twin_init(vf_tree *b, const vf_tree *t)
{
    b->c = t->c;
    b->c.ck = &b->twin_ck;
    b->c.vd = NULL;
    b->P = t->P;
    b->slot = t->slot;
    b->si = t->si;
    b->nkeyelem = t->nkeyelem;
    b->quick = t->quick;
    b->items = t->items;
    b->pages_total = t->pages_total;
    b->is_twin = true;
    b->eb = &b->twin_eb;
}

/* The twin of t's walk (wri_ps_walk.twin): the second half of the tree
 * on a thread of its own, through a source of its own, its documents
 * checked where it reads them (no copy from one thread to the other). */
static int vt_twin(vf_tree *t, wr_errbuf *e)
{
    int rc;
    vf_tree *b = wri_calloc_lines(sizeof *b); /* written by its thread */
    if (b == NULL)
        return WR_ERR(e, WR_ENOMEM, "out of memory");
    if ((rc = wri_ps_twin(t->ps, &b->ps, e)) != WR_OK) {
        free(b);
        return rc;
    }
    t->twin = b;
    vt_twin_init(b, t);
    if (!b->quick && b->nkeyelem == 1 &&
        (rc = wri_vd_new(b->ps, NULL, 1, vf_doc_finding, &b->c, &b->vd,
                         e)) != WR_OK)
        return rc;
    b->c.vd = b->vd;
    b->w.page = vt_page;
    b->w.item = vt_item;
    b->w.arg = b;
    t->w.twin = &b->w;
    t->w.twin_ps = b->ps;
    return WR_OK;
}

/* The twin's half was kept: its counts are t's. */
static void vt_twin_add(vf_tree *t)
{
    const vf_tree *b = t->twin;
    wr_verify_ckpt *ck = t->c.ck;
    ck->keys += b->twin_ck.keys;
    ck->key_bytes += b->twin_ck.key_bytes;
    ck->value_bytes += b->twin_ck.value_bytes;
    ck->pages_leaf += b->twin_ck.pages_leaf;
    ck->pages_internal += b->twin_ck.pages_internal;
    ck->pages_overflow += b->twin_ck.pages_overflow;
    wri_itemsum_merge(&t->isum, &b->isum);
    t->c.run->r->pages_checked += b->twin_checked;
    t->c.run->r->bytes_checked += b->twin_bytes;
}

/* Verify one checkpoint (slot si) of a file open in ps. */
static int vf_ckpt(vf_run *run, wr_verify_file *f, vf_info *inf, wri_ps *ps,
                   int si, bool latest, bool selected)
{
    int rc = WR_OK;
    vf_tree *t = wri_calloc_lines(sizeof *t); /* beside the twin's */
    const wri_slot *s = &ps->slots[si].slot;
    wr_errbuf e = {0};
    if (t == NULL || f->nckpt >= 2) {
        WR_ERR(&e, WR_ENOMEM, "out of memory");
        free(t);
        return vf_env(run, f, WR_ENOMEM, &e);
    }
    size_t ci = f->nckpt++;
    wr_verify_ckpt *ck = &f->ckpt[ci];
    memset(ck, 0, sizeof *ck);
    ck->gen = s->gen;
    ck->slot = si;
    ck->latest = latest;
    ck->selected = selected;
    ck->height = s->height;
    ck->records = s->nrecords;
    ck->logical_size = s->logical_size;
    inf->slot[ci] = *s;
    t->c = (vf_ctx){.run = run, .file = f, .ck = ck, .path = f->path,
                    .gen = s->gen};
    t->ps = ps;
    t->P = ps->P;
    t->slot = *s;
    t->si = si;
    t->nkeyelem = s->role == WRI_ROLE_INDEX ? 2 : 1;
    t->quick = run->o->quick;
    t->pages_total = s->logical_size / t->P;
    ps->cfg.sink_arg = &t->c;
    if ((rc = wri_ps_begin(ps, si, true, &e)) != WR_OK) {
        rc = vt_env(t, rc, &e);
        goto out;
    }
    if (!t->quick && t->nkeyelem == 1 && run->o->digest != WR_DIGEST_NONE &&
        (rc = wri_digest_new_async(run->o->digest, &t->dg, &e)) != WR_OK) {
        rc = vf_env(run, f, rc, &e);
        goto out;
    }
    t->eb = &e;
    t->items = !t->quick && run->o->item_digest;
    /* two threads: the tree split between them (vt_twin), unless
     * something must see the items in key order on one thread (the
     * content digest, a build fed by this walk) or the file is read
     * through a mapping; else the documents checked on the second one
     * (vfdocs). A feed without items splits too, and so does the item
     * fingerprint (a sum: each half adds up its own, vt_twin_add). */
    bool split = t->dg == NULL &&
                 (run->feed == NULL ||
                  (run->feed->item == NULL && !run->feed->map)) &&
                 ps->mapped == NULL && wri_threads(run->o->threads) >= 2;
    if (!t->quick && t->nkeyelem == 1) {
        if ((rc = wri_vd_new(ps, t->dg, split ? 1 : run->o->threads,
                             vf_doc_finding, &t->c, &t->vd, &e)) != WR_OK) {
            rc = vf_env(run, f, rc, &e);
            goto out;
        }
        t->c.vd = t->vd;
    }
    if (split && (rc = vt_twin(t, &e)) != WR_OK) {
        rc = vf_env(run, f, rc, &e);
        goto out;
    }
    wri_ps_lists lw = {.page = vt_list_page, .entry = vt_list_entry,
                       .arg = t, .slot = si};
    if ((rc = wri_ps_walk_lists(ps, s, &lw, &e)) < 0) {
        rc = vt_env(t, rc, &e);
        goto out;
    }
    t->incomplete |= lw.incomplete;
    t->w.nkeyelem = t->nkeyelem;
    t->w.keys = !t->quick;
    t->w.map = true;
    t->w.inplace = true; /* vt_page and vt_item read nothing */
    t->w.page = vt_page;
    t->w.item = vt_item;
    t->w.arg = t;
    rc = wri_ps_walk_tree(ps, s, si, &t->w, &e);
    wri_vd_sync(t->vd);
    if (rc >= 0 && t->w.twin_taken)
        vt_twin_add(t);
    if (rc < 0) {
        rc = vt_env(t, rc, &e);
        goto out;
    }
    t->incomplete |= t->w.incomplete;
    t->docs_bad |= t->w.values_bad;
    ck->complete = !t->incomplete;
    if (!t->incomplete)
        ck->leaked_bytes = wri_ps_leaks(ps, s->logical_size);
    if (t->dg != NULL && !t->incomplete && !t->docs_bad) {
        ck->has_digest = true;
        wr_digest_final(t->dg, ck->digest);
    }
    if (t->items && !t->incomplete && !t->docs_bad) {
        ck->has_item_digest = true;
        wri_itemsum_final(&t->isum, ck->item_digest);
    }
    inf->docs_ok[ci] = !t->docs_bad && t->c.nprob[WR_CHECK_DOCUMENT] == 0;
    inf->sound[ci] = !t->incomplete && t->c.nprob[WR_CHECK_PAGE] == 0 &&
                     t->c.nprob[WR_CHECK_ORDERING] == 0 &&
                     t->c.nprob[WR_CHECK_CHECKSUM] == 0;
out:
    wri_ps_map_end(ps);
    vt_free(t);
    free(t);
    return rc;
}

/* --- one tree file --------------------------------------------------------- */

/* What the catalog says a file is (NULL for a lone file). */
typedef struct vf_expect {
    const char *coll;
    const char *field; /* NULL: main table */
    uint64_t gen;      /* the snapshot's generation; 0: none */
    uint64_t gen2;     /* with --all-checkpoints, the other snapshot's */
    uint64_t catgen;
} vf_expect;

static void vf_copy_slots(wr_verify_file *f, const wri_ps *ps, int cur)
{
    f->page_size = ps->P;
    f->file_size = ps->fsize;
    if (cur >= 0) {
        const wri_slot *s = &ps->slots[cur].slot;
        f->role = s->role;
        snprintf(f->coll, sizeof f->coll, "%s", s->coll);
        snprintf(f->field, sizeof f->field, "%s", s->field);
    }
    for (int i = 0; i < 2; i++) {
        f->slot_valid[i] = ps->slots[i].valid;
        f->slot_gen[i] = ps->slots[i].valid ? ps->slots[i].slot.gen : 0;
        snprintf(f->slot_why[i], sizeof f->slot_why[i], "%s",
                 ps->slots[i].valid ? "" : ps->slots[i].why);
    }
}

/* Open a tree file as a tolerant page source whose findings go to c. */
static int vf_open(vf_run *run, wr_verify_file *f, vf_ctx *c, wri_ps **ps,
                   wr_errbuf *e)
{
    wri_ps_cfg cfg = {.tolerant = true,
                      .readahead = true,
                      .sink = vf_sink,
                      .sink_arg = c,
                      .interrupted = run->o->interrupted,
                      .map = run->feed != NULL && run->feed->map,
                      .batch = run->feed != NULL && run->feed->batch};
    return wri_ps_open(f->path, &cfg, ps, e);
}

/* Verify one tree file: the checkpoint asked for (or the catalog's), and
 * with --all-checkpoints the other valid one. */
static int vf_file(vf_run *run, size_t fi, const vf_expect *ex)
{
    int rc;
    wr_verify_file *f = &run->r->files[fi];
    vf_info *inf = &run->info[fi];
    const wr_verify_opts *o = run->o;
    wri_ps *ps = NULL;
    wr_errbuf e = {0};
    vf_ctx c = {.run = run, .file = f, .path = f->path};
    struct stat st;
    char x[96], y[96];
    if (stat(f->path, &st) != 0) {
        if (ex != NULL && errno == ENOENT) {
            vf_problem(&c, WR_CHECK_CATALOG, 0, 0, "a tree file", "nothing",
                       "the catalog names this file, which does not exist");
            return WR_OK;
        }
        WR_ERR(&e, errno == ENOENT ? WR_ENOTFOUND : WR_EIO, "%s: %s",
               f->path, strerror(errno));
        return vf_env(run, f, e.code, &e);
    }
    if (!S_ISREG(st.st_mode)) {
        WR_ERR(&e, WR_EINVAL, "%s: not a regular file or directory",
               f->path);
        return vf_env(run, f, WR_EINVAL, &e);
    }
    f->file_size = (uint64_t)st.st_size;
    rc = vf_open(run, f, &c, &ps, &e);
    if (rc == WR_ENOTOURS && ex != NULL) {
        /* the catalog names it: a file of ours that lost its header */
        vf_problem(&c, WR_CHECK_HEADER, 0, 0, "a wrtools tree file", NULL,
                   "%s", e.msg);
        return WR_OK;
    }
    if (rc != WR_OK)
        return vf_env(run, f, rc, &e);
    uint64_t fgen = run->feed != NULL ? run->feed->gen : 0;
    int which = ex != NULL || fgen != 0 ? WRI_PS_GEN
                : o->previous           ? WRI_PS_PREVIOUS
                                        : WRI_PS_LATEST;
    int chosen = -1, newest = -1;
    wr_errbuf ce = {0};
    int crc = wri_ps_choose(ps, which, ex ? ex->gen : fgen, &chosen, &ce);
    (void)wri_ps_choose(ps, WRI_PS_LATEST, 0, &newest, &e);
    if (crc == WR_ENOTFOUND && ex == NULL) {
        rc = vf_env(run, f, crc, &ce); /* no previous checkpoint */
        goto out;
    }
    vf_copy_slots(f, ps, chosen >= 0 ? chosen : newest);
    wri_ps_check_slots(ps, chosen >= 0 ? chosen : newest);
    if (newest < 0) {
        vf_problem(&c, WR_CHECK_HEADER, 0, 0, NULL, NULL, "%s", ce.msg);
        goto out;
    }
    const wri_slot *cur = &ps->slots[chosen >= 0 ? chosen : newest].slot;
    if (ex != NULL) {
        uint32_t role = ex->field ? WRI_ROLE_INDEX : WRI_ROLE_MAIN;
        if (cur->role != role || strcmp(cur->coll, ex->coll) != 0 ||
            strcmp(cur->field, ex->field ? ex->field : "") != 0) {
            snprintf(x, sizeof x, "%s of \"%.30s\"%s%.30s",
                     ex->field ? "index" : "main table", ex->coll,
                     ex->field ? " on " : "", ex->field ? ex->field : "");
            snprintf(y, sizeof y, "%s of \"%.30s\"%s%.30s",
                     cur->role == WRI_ROLE_INDEX ? "index" : "main table",
                     cur->coll, cur->field[0] ? " on " : "", cur->field);
            vf_problem(&c, WR_CHECK_CATALOG, 0, WRI_SLOT_ROLE, x, y,
                       "the file's header disagrees with the catalog about "
                       "what it is");
        }
    }
    /* which slots */
    int want[2] = {-1, -1};
    bool selected = true;
    if (ex != NULL) {
        want[0] = chosen;
        if (want[0] < 0) {
            bool damaged = false;
            for (int i = 0; i < 2; i++)
                damaged |= !ps->slots[i].valid &&
                           strncmp(ps->slots[i].why, "all zero", 8) != 0;
            snprintf(x, sizeof x, "generation %llu",
                     (unsigned long long)ex->gen);
            if (ps->slots[0].valid && ps->slots[1].valid)
                snprintf(y, sizeof y, "generations %llu and %llu",
                         (unsigned long long)f->slot_gen[0],
                         (unsigned long long)f->slot_gen[1]);
            else
                snprintf(y, sizeof y, "only generation %llu",
                         (unsigned long long)cur->gen);
            vf_problem(&c, WR_CHECK_CATALOG, 0, WRI_SLOT_GEN, x, y,
                       "the catalog (generation %llu) names a checkpoint "
                       "neither slot holds (%s); checking the newest one "
                       "instead",
                       (unsigned long long)ex->catgen,
                       damaged ? "the slot that held it is damaged"
                               : "a checkpoint that reached only some files");
            want[0] = newest; /* the catalog's is gone: check what is */
            selected = false;
        }
    } else if (chosen >= 0 && !wri_ps_slot_readable(ps, chosen) &&
               !o->previous && wri_ps_slot_readable(ps, 1 - chosen)) {
        want[0] = 1 - chosen; /* newest unreadable (said why above) */
        selected = false;
    } else {
        want[0] = chosen;
    }
    if (o->all_checkpoints && want[0] >= 0 && ps->slots[1 - want[0]].valid)
        want[1] = 1 - want[0];
    for (int k = 0; k < 2; k++) {
        int si = want[k];
        if (si < 0 || !wri_ps_slot_readable(ps, si))
            continue; /* reported by wri_ps_check_slots */
        if ((rc = vf_ckpt(run, f, inf, ps, si, si == newest,
                          k == 0 && selected)) != WR_OK)
            break;
        ps->cfg.sink_arg = &c;
    }
out:
    wri_ps_close(ps);
    return rc;
}

/* --- lookups and scans on verified trees ----------------------------------- *
 *
 * These run only on checkpoints the walk found sound, through a silent
 * page source: every page read is checked against the CRC its parent's
 * address carries, so it holds exactly the bytes the walk checked, and
 * its keys need no second check (the structure is still decoded by
 * wri_page_check, so nothing is ever read out of bounds). Lookups go
 * through the page source's bounded cache. Documents are revalidated
 * only if the walk found a bad one. */

static int vx_open(vf_run *run, wr_verify_file *f, const wri_slot *s,
                   vf_tree *t)
{
    int rc;
    wr_errbuf e = {0};
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true,
                      .interrupted = run->o->interrupted};
    memset(t, 0, sizeof *t);
    t->c = (vf_ctx){.run = run, .file = f, .path = f->path, .silent = true};
    if ((rc = wri_ps_open(f->path, &cfg, &t->ps, &e)) != WR_OK)
        return vf_env(run, f, rc == WR_ECORRUPT ? WR_EIO : rc, &e);
    t->P = t->ps->P;
    t->slot = *s;
    t->nkeyelem = s->role == WRI_ROLE_INDEX ? 2 : 1;
    t->pages_total = s->logical_size / t->P;
    if ((rc = wri_ps_cache_new(t->ps, VF_CACHE_BYTES, &t->cache, &e)) !=
        WR_OK)
        return vf_env(run, f, rc, &e);
    return WR_OK;
}

/* Point lookup in t: WRI_PS_FOUND / NOTFOUND / UNKNOWN or < 0. */
static int vx_lookup(vf_tree *t, const uint8_t *key, uint32_t klen,
                     wri_cell *c, uint64_t *page)
{
    wr_errbuf e = {0};
    int rc = wri_ps_lookup(t->cache, &t->slot, key, klen, c, page, &e);
    return rc < 0 ? vt_env(t, rc, &e) : rc;
}

/* The value of a found leaf cell on page `page`: WR_OK with *val, else
 * WRI_PS_BAD or < 0. */
static int vx_value(vf_tree *t, uint64_t page, const wri_cell *c,
                    const uint8_t **val)
{
    wr_errbuf e = {0};
    if (!c->overflow) {
        *val = c->val;
        return WR_OK;
    }
    int rc = wri_ps_read_overflow(t->ps, c, t->slot.logical_size, page,
                                  &t->w.val, &t->w.valcap, val, &e);
    return rc < 0 ? vt_env(t, rc, &e) : rc;
}

typedef struct vx_check vx_check;
typedef int (*vx_cell_fn)(vf_tree *t, uint64_t page, const uint8_t *buf,
                          const wri_cell *c, vx_check *x);

struct vx_check {
    vf_ctx *rep;        /* where problems go: the index file's checkpoint */
    vf_tree *self;      /* the tree scanned */
    vf_tree *other;     /* the tree looked up in */
    vx_cell_fn fn;
    const char *field;
    const char *main_path;
    bool docs_ok;       /* the main table's documents all validated */
    wr_verify_ckpt *ck; /* the index checkpoint's stats */
    const uint8_t *val; /* the scanned item's value (NULL: unreadable) */
    /* per item */
    const uint8_t *want;
    uint32_t wantlen;
    bool match;
    char have[160];
    size_t havelen;
};

static int vx_scan_page(void *arg, const wri_ps_page *p)
{
    vx_check *x = arg;
    if (p->v != NULL && p->trusted)
        vt_progress(x->self, p->addr.size / x->self->P, false);
    return 0;
}

static int vx_scan_item(void *arg, const wri_ps_page *p, uint32_t i,
                        const wri_cell *c, const uint8_t *val,
                        const wri_vloc *at)
{
    vx_check *x = arg;
    (void)i;
    (void)at;
    x->val = val;
    return x->fn(x->self, p->addr.off, p->buf, c, x);
}

/* Every leaf item of a verified tree in key order: the shared walk, no
 * values read, nothing reported. */
static int vx_scan(vf_tree *t, vx_cell_fn fn, vx_check *x)
{
    wr_errbuf e = {0};
    wri_ps_walk w = {.nkeyelem = t->nkeyelem, .page = vx_scan_page,
                     .item = vx_scan_item, .arg = x};
    int si = t->ps->slots[1].valid &&
                     t->ps->slots[1].slot.gen == t->slot.gen
                 ? 1
                 : 0;
    x->self = t;
    x->fn = fn;
    int rc = wri_ps_walk_tree(t->ps, &t->slot, si, &w, &e);
    wri_ps_walk_free(&w);
    return rc < 0 ? vt_env(t, rc, &e) : WR_OK;
}

/* --- index cross-check ------------------------------------------------- */

static int vx_match_key(const bson_t *key, void *arg)
{
    vx_check *x = arg;
    if (wri_key_cmp(bson_get_data(key), key->len, x->want, x->wantlen) == 0)
        x->match = true;
    return 0;
}

static int vx_list_key(const bson_t *key, void *arg)
{
    vx_check *x = arg;
    if (x->havelen + 8 < sizeof x->have) {
        char j[96];
        vf_json(j, sizeof j, bson_get_data(key), key->len);
        int n = snprintf(x->have + x->havelen, sizeof x->have - x->havelen,
                         "%s%s", x->havelen ? ", " : "", j);
        if (n > 0)
            x->havelen = WRI_MIN(x->havelen + (size_t)n, sizeof x->have - 1);
    }
    return 0;
}

/* Index entry -> document: the entry's _id exists and the document's
 * field holds the value. */
static int vx_entry(vf_tree *t, uint64_t page, const uint8_t *buf,
                    const wri_cell *c, vx_check *x)
{
    int rc;
    (void)t;
    bson_t kd, mk, doc;
    bson_iter_t it;
    wri_cell mc;
    uint64_t mpage;
    const uint8_t *val;
    char j[160], g[160];
    uint64_t koff = page + (uint64_t)(c->key - buf);
    x->ck->index_entries++;
    if (!bson_init_static(&kd, c->key, c->klen) || !bson_iter_init(&it, &kd) ||
        !bson_iter_next(&it) || !bson_iter_next(&it))
        return WR_OK; /* checked keys have two elements */
    wri_key_from_iter(&it, &mk);
    rc = vx_lookup(x->other, bson_get_data(&mk), mk.len, &mc, &mpage);
    if (rc == WRI_PS_NOTFOUND) {
        x->ck->index_dangling++;
        vf_problem(x->rep, WR_CHECK_INDEX, page, koff, "a document with that _id",
                   "none",
                   "entry %s points at _id %s, which is not in the main "
                   "table %s",
                   vf_json(j, sizeof j, c->key, c->klen),
                   vf_json(g, sizeof g, bson_get_data(&mk), mk.len),
                   x->main_path);
    } else if (rc == WRI_PS_FOUND) {
        rc = vx_value(x->other, mpage, &mc, &val);
        if (rc == WR_OK && mc.vlen >= 5 && bson_init_static(&doc, val, mc.vlen)) {
            wr_errbuf e = {0};
            x->want = c->key;
            x->wantlen = c->klen;
            x->match = false;
            x->have[0] = '\0';
            x->havelen = 0;
            if ((x->docs_ok ||
                 wri_bson_check(val, mc.vlen, NULL, NULL, 0) == WR_OK) &&
                wri_index_keys(&doc, x->field, vx_match_key, x, &e) == WR_OK &&
                !x->match) {
                wri_index_keys(&doc, x->field, vx_list_key, x, &e);
                x->ck->index_dangling++;
                vf_problem(x->rep, WR_CHECK_INDEX, page, koff,
                           vf_json(j, sizeof j, c->key, c->klen), x->have,
                           "entry does not match its document: field \"%s\" "
                           "of _id %s (main table page %llu) gives other "
                           "keys",
                           x->field,
                           vf_json(g, sizeof g, bson_get_data(&mk), mk.len),
                           (unsigned long long)mpage);
            }
        }
    }
    bson_destroy(&mk);
    return rc < 0 ? rc : WR_OK;
}

typedef struct vx_docctx {
    vx_check *x;
    uint64_t mpage;
    const uint8_t *id;
    uint32_t idlen;
    int rc;
} vx_docctx;

static int vx_want_key(const bson_t *key, void *arg)
{
    vx_docctx *d = arg;
    vx_check *x = d->x;
    wri_cell ic;
    uint64_t ipage;
    char j[160], g[160];
    x->ck->index_expected++;
    int rc = vx_lookup(x->other, bson_get_data(key), key->len, &ic, &ipage);
    if (rc == WRI_PS_NOTFOUND) {
        x->ck->index_missing++;
        vf_problem(x->rep, WR_CHECK_INDEX, ipage, ipage,
                   vf_json(j, sizeof j, bson_get_data(key), key->len), "none",
                   "missing entry: document _id %s (main table page %llu) "
                   "implies it",
                   vf_json(g, sizeof g, d->id, d->idlen),
                   (unsigned long long)d->mpage);
    } else if (rc < 0) {
        d->rc = rc;
        return 1;
    }
    return 0;
}

/* Document -> index: every key the document implies is there. */
static int vx_doc(vf_tree *t, uint64_t page, const uint8_t *buf,
                  const wri_cell *c, vx_check *x)
{
    const uint8_t *val;
    bson_t doc;
    (void)buf;
    (void)t;
    (void)page;
    if ((val = x->val) == NULL)
        return WR_OK; /* reported by the walk */
    if (c->vlen < 5 || !bson_init_static(&doc, val, c->vlen) ||
        (!x->docs_ok && wri_bson_check(val, c->vlen, NULL, NULL, 0) != WR_OK))
        return WR_OK; /* reported by the document check */
    vx_docctx d = {x, page, c->key, c->klen, WR_OK};
    wr_errbuf e = {0};
    wri_index_keys(&doc, x->field, vx_want_key, &d, &e);
    return d.rc;
}

/* Cross-check index file fi (checkpoint ci) with main file mi (ckpt mci). */
static int vf_xcheck(vf_run *run, size_t mi, size_t mci, size_t fi, size_t ci)
{
    int rc;
    wr_verify_file *mf = &run->r->files[mi], *xf = &run->r->files[fi];
    wr_verify_ckpt *ck = &xf->ckpt[ci];
    vf_tree *mt = calloc(1, sizeof *mt), *xt = calloc(1, sizeof *xt);
    vf_ctx rep = {.run = run, .file = xf, .ck = ck, .path = xf->path,
                  .gen = ck->gen};
    vx_check x = {.rep = &rep, .field = xf->field, .main_path = mf->path,
                  .ck = ck};
    if (mt == NULL || xt == NULL) {
        wr_errbuf e = {0};
        WR_ERR(&e, WR_ENOMEM, "out of memory");
        rc = vf_env(run, xf, WR_ENOMEM, &e);
        goto out;
    }
    if ((rc = vx_open(run, mf, &run->info[mi].slot[mci], mt)) !=
            WR_OK ||
        (rc = vx_open(run, xf, &run->info[fi].slot[ci], xt)) != WR_OK)
        goto out;
    x.docs_ok = run->info[mi].docs_ok[mci];
    ck->index_entries = ck->index_expected = 0;
    ck->index_missing = ck->index_dangling = 0;
    /* documents -> entries: every key a document implies is there */
    x.other = xt;
    if (mt->slot.root.off != 0 &&
        (rc = vx_scan(mt, vx_doc, &x)) != WR_OK)
        goto out;
    /* entries -> documents. Implied keys are distinct (each holds its
     * document's _id, and the _ids are distinct keys of the main table),
     * and so are the index's (the walk found them strictly increasing):
     * if none is missing and the counts agree, the sets are equal and no
     * entry can dangle. Otherwise find the ones that do. */
    if (x.docs_ok && ck->index_missing == 0 && ck->keys == ck->index_expected) {
        ck->index_entries = ck->keys;
    } else {
        x.other = mt;
        if (xt->slot.root.off != 0 &&
            (rc = vx_scan(xt, vx_entry, &x)) != WR_OK)
            goto out;
    }
    ck->index_checked = true;
out:
    for (int k = 0; k < 2; k++) {
        vf_tree *t = k ? xt : mt;
        if (t == NULL)
            continue;
        wri_ps *ps = t->ps;
        vt_free(t);
        wri_ps_close(ps);
        free(t);
    }
    return rc;
}

/* --- database directories ------------------------------------------------ */

static int vf_add_file(vf_run *run, const char *path, size_t *fi)
{
    wr_verify_report *r = run->r;
    if (r->nfiles >= run->cap)
        return WR_ENOMEM;
    wr_verify_file *f = &r->files[r->nfiles];
    memset(f, 0, sizeof *f);
    if ((f->path = strdup(path)) == NULL)
        return WR_ENOMEM;
    *fi = r->nfiles++;
    return WR_OK;
}

static int vf_alloc_files(vf_run *run, size_t n)
{
    n = WRI_MAX(n, 1);
    run->r->files = calloc(n, sizeof *run->r->files);
    run->info = calloc(n, sizeof *run->info);
    if (run->r->files == NULL || run->info == NULL)
        return WR_ENOMEM;
    run->cap = n;
    return WR_OK;
}

/* The catalog cannot be read: verify every *.wr file in the directory on
 * its own. */
static int vf_dir_files(vf_run *run, const char *dir)
{
    wr_errbuf e = {0};
    char **names = NULL;
    size_t n = 0;
    int rc = wri_dir_tree_files(dir, &names, &n, &e);
    if (rc == WR_OK && n > 0) {
        rc = vf_alloc_files(run, n);
        for (size_t i = 0; rc == WR_OK && i < n; i++) {
            size_t fi;
            char *path = wri_path_join(dir, names[i]);
            rc = path == NULL ? WR_ENOMEM : vf_add_file(run, path, &fi);
            free(path);
            if (rc == WR_OK)
                rc = vf_file(run, fi, NULL);
        }
    }
    wri_names_free(names, n);
    return rc;
}

/* Tree files the catalog does not name, no part of the database: the
 * proven debris of a run that never committed them (catalog.h
 * wri_tree_file_debris; the next writer removes it) is a note; any other
 * is an orphan problem, so an operator looks at it. */
static int vf_orphan(void *arg, const char *dir, const char *name,
                     bool debris, wr_errbuf *eb)
{
    vf_run *run = arg;
    wr_verify_report *r = run->r;
    char ***list = debris ? &r->debris : &r->orphans;
    size_t *nl = debris ? &r->ndebris : &r->norphans;
    char **grown = realloc(*list, (*nl + 1) * sizeof *grown);
    (void)eb;
    if (grown == NULL)
        return WR_ENOMEM;
    *list = grown;
    if ((grown[*nl] = wri_path_join(dir, name)) == NULL)
        return WR_ENOMEM;
    vf_ctx oc = {.run = run, .path = grown[(*nl)++]};
    if (!debris)
        vf_problem(&oc, WR_CHECK_ORPHAN, 0, 0, NULL, NULL,
                   "a tree file the catalog does not name, no part of "
                   "the database (debris of a failed or interrupted "
                   "run, or a file from elsewhere: move it away)");
    return WR_OK;
}

static int vf_orphans(vf_run *run, const char *dir, const wri_catalog *cat)
{
    wr_errbuf e = {0};
    return wri_dir_unnamed_files(dir, cat, vf_orphan, run, &e);
}

/* Find the checkpoint of file fi with generation gen; -1 if not verified. */
static int vf_find_ckpt(vf_run *run, size_t fi, uint64_t gen)
{
    const wr_verify_file *f = &run->r->files[fi];
    for (size_t i = 0; i < f->nckpt; i++)
        if (f->ckpt[i].gen == gen)
            return (int)i;
    return -1;
}

static int vf_db(vf_run *run, const char *dir)
{
    int rc;
    wr_verify_report *r = run->r;
    const wr_verify_opts *o = run->o;
    wri_catalog cat;
    wr_errbuf e = {0};
    r->database = true;
    if ((r->catalog_path = wri_path_join(dir, WR_CATALOG_NAME)) == NULL)
        return WR_ENOMEM;
    vf_ctx cc = {.run = run, .path = r->catalog_path};
    rc = wri_catalog_read(dir, &cat, &e);
    if (rc == WR_ENOTFOUND) {
        wr_errbuf_clear(&e);
        rc = wri_catalog_missing(dir, &e);
    }
    if (rc == WR_ENOTFOUND)
        return vf_env(run, NULL, WR_ENOTFOUND, &e);
    if (rc == WR_ENOTOURS) {
        wr_errbuf e2 = {0};
        WR_ERR(&e2, WR_ENOTFOUND,
               "%s: not a wrtools database (no readable " WR_CATALOG_NAME
               "): %s",
               dir, e.msg);
        return vf_env(run, NULL, WR_ENOTFOUND, &e2);
    }
    if (rc == WR_ECORRUPT) {
        vf_problem(&cc, WR_CHECK_CATALOG, 0, 0, NULL, NULL,
                   "%s; checking each *.wr file on its own", e.msg);
        return vf_dir_files(run, dir);
    }
    if (rc != WR_OK)
        return vf_env(run, NULL, rc, &e);
    r->catalog_gen = cat.gen;
    if (o->previous && cat.gen <= 1) { /* the first snapshot: none before */
        WR_ERR(&e, WR_ENOTFOUND,
               "%s: no previous checkpoint (catalog generation %llu is the "
               "database's first snapshot)",
               dir, (unsigned long long)cat.gen);
        rc = vf_env(run, NULL, WR_ENOTFOUND, &e);
        goto out;
    }
    if ((rc = vf_orphans(run, dir, &cat)) != WR_OK)
        goto out;
    size_t n = 0;
    for (size_t i = 0; i < cat.ncoll; i++)
        n += 1 + cat.coll[i].nidx;
    if ((rc = vf_alloc_files(run, n)) != WR_OK)
        goto out;
    /* file names must be distinct */
    for (size_t i = 0; i < cat.ncoll; i++)
        for (size_t j = 0; j <= cat.coll[i].nidx; j++) {
            const char *a = j ? cat.coll[i].idx[j - 1].file
                              : cat.coll[i].main.file;
            for (size_t k = 0; k < i; k++) {
                if (strcmp(cat.coll[k].name, cat.coll[i].name) == 0 && j == 0)
                    vf_problem(&cc, WR_CHECK_CATALOG, 0, 0, NULL, NULL,
                               "collection \"%s\" is named twice",
                               cat.coll[i].name);
                for (size_t l = 0; l <= cat.coll[k].nidx; l++)
                    if (strcmp(a, l ? cat.coll[k].idx[l - 1].file
                                    : cat.coll[k].main.file) == 0)
                        vf_problem(&cc, WR_CHECK_CATALOG, 0, 0, NULL, NULL,
                                   "file \"%s\" is named twice", a);
            }
        }
    /* every file, at the generation the snapshot names */
    size_t *mainfi = calloc(WRI_MAX(cat.ncoll, 1), sizeof *mainfi);
    if (mainfi == NULL) {
        rc = WR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cat.ncoll && rc == WR_OK; i++) {
        wri_cat_coll *c = &cat.coll[i];
        for (size_t j = 0; j <= c->nidx && rc == WR_OK; j++) {
            wri_cat_file *cf = j ? &c->idx[j - 1] : &c->main;
            vf_expect ex = {.coll = c->name,
                            .field = j ? cf->field : NULL,
                            .gen = o->previous ? cf->prev_gen : cf->gen,
                            .gen2 = o->all_checkpoints && !o->previous
                                        ? cf->prev_gen
                                        : 0,
                            .catgen = cat.gen};
            char *path = wri_path_join(dir, cf->file);
            size_t fi = 0;
            if (path == NULL) {
                rc = WR_ENOMEM;
                break;
            }
            if (ex.gen == 0) { /* not in the previous snapshot */
                free(path);
                if (j == 0)
                    mainfi[i] = SIZE_MAX;
                continue;
            }
            rc = vf_add_file(run, path, &fi);
            free(path);
            if (rc != WR_OK)
                break;
            run->info[fi].expect = true;
            run->info[fi].coll = i;
            run->info[fi].xj = j;
            if (j == 0)
                mainfi[i] = fi;
            rc = vf_file(run, fi, &ex);
            if (rc != WR_OK && rc != WR_EINTR && rc != WR_ENOMEM)
                rc = WR_OK; /* recorded; go on with the other files */
        }
    }
    /* indexes against their tables, for the snapshot(s) verified */
    for (int pass = 0; pass < 2 && rc == WR_OK && !o->quick; pass++) {
        if (pass == 1 && !(o->all_checkpoints && !o->previous))
            break;
        size_t fi = 0;
        for (size_t i = 0; i < cat.ncoll && rc == WR_OK; i++) {
            wri_cat_coll *c = &cat.coll[i];
            uint64_t mg = pass == 0 && !o->previous ? c->main.gen
                                                    : c->main.prev_gen;
            size_t mfi = mainfi[i];
            /* locate this collection's index records */
            for (size_t j = 0; j < c->nidx && rc == WR_OK; j++) {
                wri_cat_file *cf = &c->idx[j];
                uint64_t xg = pass == 0 && !o->previous ? cf->gen
                                                        : cf->prev_gen;
                size_t xfi = SIZE_MAX;
                for (fi = 0; fi < r->nfiles; fi++)
                    if (run->info[fi].expect && run->info[fi].coll == i &&
                        run->info[fi].xj == j + 1)
                        xfi = fi;
                if (xfi == SIZE_MAX || mfi == SIZE_MAX || mg == 0 || xg == 0)
                    continue;
                int mci = vf_find_ckpt(run, mfi, mg);
                int xci = vf_find_ckpt(run, xfi, xg);
                if (xci < 0)
                    continue;
                wr_verify_ckpt *xck = &r->files[xfi].ckpt[xci];
                if (xck->index_checked)
                    continue;
                if (mci < 0 || !run->info[mfi].sound[mci] ||
                    !run->info[xfi].sound[xci]) {
                    if (xck->index_note[0] == '\0')
                        snprintf(xck->index_note, sizeof xck->index_note,
                                 "not compared with the main table: %s is "
                                 "damaged",
                                 mci >= 0 && run->info[mfi].sound[mci]
                                     ? "the index"
                                     : "the main table");
                    continue;
                }
                xck->index_note[0] = '\0';
                rc = vf_xcheck(run, mfi, (size_t)mci, xfi, (size_t)xci);
                if (rc != WR_OK && rc != WR_EINTR && rc != WR_ENOMEM)
                    rc = WR_OK;
            }
        }
    }
    free(mainfi);
out:
    wri_catalog_free(&cat);
    return rc;
}

/* --- entry points ---------------------------------------------------------- */

void wr_verify_report_free(wr_verify_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i].path);
    free(r->files);
    free(r->problems);
    free(r->path);
    free(r->catalog_path);
    for (size_t i = 0; i < r->norphans; i++)
        free(r->orphans[i]);
    free(r->orphans);
    for (size_t i = 0; i < r->ndebris; i++)
        free(r->debris[i]);
    free(r->debris);
    free(r);
}

static int vf_verify(const char *path, const wr_verify_opts *opts,
                     const wri_verify_feed *feed, wr_verify_report **out,
                     wr_errbuf *eb)
{
    int rc;
    wr_verify_opts defaults = {0};
    vf_run run = {.feed = feed};
    struct stat st;
    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    wr_verify_report *r = calloc(1, sizeof *r);
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    run.o = opts;
    run.r = r;
    run.maxp = opts->max_problems ? opts->max_problems : VF_DEFAULT_CAP;
    if (stat(path, &st) != 0) {
        wr_errbuf e = {0};
        WR_ERR(&e, errno == ENOENT ? WR_ENOTFOUND : WR_EIO, "%s: %s", path,
               strerror(errno));
        rc = vf_env(&run, NULL, e.code, &e);
    } else if (S_ISDIR(st.st_mode)) {
        rc = vf_db(&run, path);
    } else {
        size_t fi;
        rc = vf_alloc_files(&run, 1);
        if (rc == WR_OK && (rc = vf_add_file(&run, path, &fi)) == WR_OK)
            rc = vf_file(&run, fi, NULL);
    }
    if (rc == WR_ENOMEM && run.env_rc == WR_OK) {
        wr_errbuf e = {0};
        WR_ERR(&e, WR_ENOMEM, "%s: out of memory", path);
        vf_env(&run, NULL, WR_ENOMEM, &e);
    }
    if (rc == WR_EINTR && run.env_rc == WR_OK) {
        wr_errbuf e = {0};
        WR_ERR(&e, WR_EINTR, "%s: interrupted", path);
        vf_env(&run, NULL, WR_EINTR, &e);
    }
    free(run.info);
    if (run.env_rc != WR_OK)
        rc = WR_ERR(eb, run.env_rc, "%s", r->error);
    else if (r->total_problems > 0)
        rc = WR_ECORRUPT;
    else
        rc = WR_OK;
    if (rc == WR_ECORRUPT && r->nproblems > 0) {
        char line[1024];
        wr_verify_problem_format(&r->problems[0], line, sizeof line);
        WR_ERR(eb, WR_ECORRUPT, "%s%s", line,
               r->total_problems > 1 ? " (and more problems)" : "");
    } else if (rc == WR_ECORRUPT) {
        WR_ERR(eb, WR_ECORRUPT, "%s: %llu problems", path,
               (unsigned long long)r->total_problems);
    }
    r->status = rc;
    *out = r;
    return rc;
}

int wr_verify(const char *path, const wr_verify_opts *opts,
              wr_verify_report **out, wr_errbuf *eb)
{
    return vf_verify(path, opts, NULL, out, eb);
}

/* One tree file, checkpoint feed->gen, the first problem in eb. */
static int vf_verify_one(const char *path, bool quick,
                         const wri_verify_feed *feed,
                         volatile int *interrupted, wr_errbuf *eb)
{
    wr_verify_opts o = {.quick = quick, .max_problems = 1,
                        .interrupted = interrupted};
    wr_verify_report *r = NULL;
    int rc = vf_verify(path, &o, feed, &r, eb);
    wr_verify_report_free(r);
    return rc;
}

int wri_verify_quick_feed(const char *path, const wri_verify_feed *feed,
                          volatile int *interrupted, wr_errbuf *eb)
{
    return vf_verify_one(path, true, feed, interrupted, eb);
}

int wri_verify_file_gen(const char *path, uint64_t gen,
                        volatile int *interrupted, wr_errbuf *eb)
{
    wri_verify_feed feed = {.gen = gen}; /* the checkpoint, no items */
    return vf_verify_one(path, false, &feed, interrupted, eb);
}

int wr_verify_simple(const char *path, bool quick, wr_errbuf *eb)
{
    wr_verify_opts o = {.quick = quick, .max_problems = 1};
    wr_verify_report *r = NULL;
    int rc = wr_verify(path, &o, &r, eb);
    wr_verify_report_free(r);
    return rc;
}
