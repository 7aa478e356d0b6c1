/*
 * verify.c -- wr_verify(): check a database directory or one tree file,
 * read-only and streaming, and report every problem under a stable check
 * name (wr.h). What wr-verify prints; migrate and compact call
 * wr_verify_simple() on what they built before replacing anything.
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
 *      documents validated (bson_validate, _id == key) and digested in key
 *      order. Every page is marked in the map; a page found marked is
 *      reachable twice and is not descended into again (so cycles end);
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

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define VF_MAX_DEPTH 64
#define VF_MAX_DOC (16u << 20) /* BSON's document size limit */
#define VF_DEFAULT_CAP 1000
#define VF_PROGRESS_EVERY 256
#define VF_CACHE_BYTES (4u << 20) /* per tree, for lookups */

/* Page results besides negative wr_err codes. */
enum { VF_OK = 0, VF_BAD = 1 };
/* Lookup results. */
enum { VF_NOTFOUND = 0, VF_FOUND = 1, VF_UNKNOWN = 2 };
/* Owners of a block in the map. */
enum { VF_NONE = 0, VF_TREE = 1, VF_LIST = 2, VF_FREE = 3 };

static const struct {
    const char *name;
    const char *help;
} vf_checks[WR_CHECK_NCHECKS] = {
    [WR_CHECK_HEADER] = {"header",
                         "both checkpoint slots decode (magic, CRC, format "
                         "version, page size, role, addresses); the rejected "
                         "one and why; both slots describe the same tree; "
                         "the slot's height and record count match the tree"},
    [WR_CHECK_CHECKSUM] = {"checksum",
                           "every reachable page and every extent-list page "
                           "has a CRC that matches its bytes and equals the "
                           "CRC its parent's address expects (a stale or "
                           "misdirected page is caught)"},
    [WR_CHECK_PAGE] = {"page-structure",
                       "page header, every slot, cell, length and overflow "
                       "reference inside the page; keys well-formed; page "
                       "types and levels consistent with their place in "
                       "the tree; extent-list entries well-formed"},
    [WR_CHECK_ORDERING] = {"ordering",
                           "keys strictly increasing inside each page and "
                           "across leaves, inside the bounds the parent's "
                           "separators set; no page reachable twice, no "
                           "cycle"},
    [WR_CHECK_SPACE] = {"space",
                        "tree pages, extent-list pages, avail and discard "
                        "extents cover [2P, logical size) exactly once: "
                        "overlaps, leaked blocks (owned by nobody), pages "
                        "past the end of the file (truncation)"},
    [WR_CHECK_DOCUMENT] = {"document",
                           "every value of a main table is valid BSON "
                           "(bson_validate) and its _id equals its key"},
    [WR_CHECK_INDEX] = {"index",
                        "every index entry points at an existing document "
                        "whose field holds the value; every document has "
                        "exactly the entries it implies"},
    [WR_CHECK_CATALOG] = {"catalog",
                          "the catalog decodes; every file it names exists, "
                          "has the role it claims and holds the generation "
                          "the catalog names in one of its slots"},
};

const char *wr_verify_check_name(int check)
{
    return check >= 0 && check < WR_CHECK_NCHECKS ? vf_checks[check].name
                                                  : "?";
}

const char *wr_verify_check_help(int check)
{
    return check >= 0 && check < WR_CHECK_NCHECKS ? vf_checks[check].help
                                                  : "";
}

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
} vf_ctx;

static void vf_problem(vf_ctx *c, int check, uint64_t page, uint64_t off,
                       const char *expected, const char *found,
                       const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static void vf_problem(vf_ctx *c, int check, uint64_t page, uint64_t off,
                       const char *expected, const char *found,
                       const char *fmt, ...)
{
    vf_run *run = c->run;
    wr_verify_report *r = run->r;
    if (c->silent)
        return;
    c->nprob[check]++;
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
        wr_verify_problem *np = realloc(r->problems, ncap * sizeof *np);
        if (np == NULL)
            return; /* counted, not kept */
        r->problems = np;
        run->probcap = ncap;
    }
    wr_verify_problem *p = &r->problems[r->nproblems++];
    memset(p, 0, sizeof *p);
    p->path = c->path;
    p->check = check;
    p->gen = c->gen;
    p->page = page;
    p->offset = off;
    snprintf(p->expected, sizeof p->expected, "%s", expected ? expected : "");
    snprintf(p->found, sizeof p->found, "%s", found ? found : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof p->detail, fmt, ap);
    va_end(ap);
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

static const char *vf_u64(char *buf, uint64_t v)
{
    snprintf(buf, 32, "%llu", (unsigned long long)v);
    return buf;
}

static const char *vf_hex32(char *buf, uint32_t v)
{
    snprintf(buf, 32, "0x%08x", v);
    return buf;
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

typedef struct vf_cache {
    uint8_t *buf;
    wr_addr addr;
    bool valid;
    wri_page_view v;
} vf_cache;

typedef struct vf_bound {
    const uint8_t *key; /* NULL: unbounded */
    uint32_t len;
} vf_bound;

typedef struct vf_tree {
    vf_ctx c;
    wri_file *f;
    uint32_t P;
    uint64_t fsize;
    wri_slot slot;
    int nkeyelem; /* 1 main table, 2 index */
    bool quick;
    uint8_t *map;     /* 2 bits per block */
    uint64_t nblocks; /* blocks the map covers */
    uint8_t *pg[VF_MAX_DEPTH];
    uint8_t *val;
    size_t valcap;
    uint8_t *last; /* last key of the previous leaf */
    uint32_t lastlen;
    bool havelast;
    wr_digest *dg;
    bool incomplete; /* some page or list could not be read or decoded */
    bool docs_bad;   /* some document could not be read */
    uint64_t pages_done, pages_total;
    vf_cache *cache; /* lookups: direct-mapped by page number */
    size_t ncache;
} vf_tree;

static void vt_free(vf_tree *t)
{
    free(t->map);
    for (int i = 0; i < VF_MAX_DEPTH; i++)
        free(t->pg[i]);
    for (size_t i = 0; i < t->ncache; i++)
        free(t->cache[i].buf);
    free(t->cache);
    free(t->val);
    free(t->last);
    wr_digest_free(t->dg);
    memset(t, 0, sizeof *t);
}

static bool vt_interrupted(const vf_tree *t)
{
    const wr_verify_opts *o = t->c.run->o;
    return o->interrupted != NULL && *o->interrupted;
}

/* A page of n blocks done (count: it was checked, not just looked up). */
static void vt_progress(vf_tree *t, uint64_t n, bool count)
{
    vf_run *run = t->c.run;
    if (count) {
        run->r->pages_checked++;
        run->r->bytes_checked += n * t->P;
    }
    uint64_t before = t->pages_done;
    t->pages_done += n;
    if (before / VF_PROGRESS_EVERY == t->pages_done / VF_PROGRESS_EVERY ||
        run->o->progress == NULL)
        return;
    wr_verify_progress p = {.phase = count ? "checking"
                                           : "index cross-check",
                            .path = t->c.path,
                            .file = run->r->nfiles,
                            .nfiles = run->cap,
                            .pages_done = t->pages_done,
                            .pages_total = t->pages_total};
    run->o->progress(&p, run->o->progress_arg);
}

static int vt_map_get(const vf_tree *t, uint64_t b)
{
    return (t->map[b / 4] >> ((b % 4) * 2)) & 3;
}

static void vt_map_set(vf_tree *t, uint64_t b, int v)
{
    t->map[b / 4] = (uint8_t)((t->map[b / 4] & ~(3u << ((b % 4) * 2))) |
                              ((unsigned)v << ((b % 4) * 2)));
}

/* Mark [off, off+len) as owned by who; returns the first other owner
 * found (VF_NONE if none). Blocks already owned keep their owner. Blocks
 * past the map (past the end of the file) are not tracked. */
static int vt_mark(vf_tree *t, uint64_t off, uint64_t len, int who)
{
    int first = VF_NONE;
    if (t->map == NULL)
        return VF_NONE;
    uint64_t b0 = off / t->P, n = len / t->P;
    for (uint64_t b = b0; b < b0 + n && b < t->nblocks; b++) {
        int old = vt_map_get(t, b);
        if (old != VF_NONE) {
            if (first == VF_NONE)
                first = old;
        } else {
            vt_map_set(t, b, who);
        }
    }
    return first;
}

static const char *vf_owner(int who)
{
    switch (who) {
    case VF_TREE:
        return "a page reachable from the root";
    case VF_LIST:
        return "an extent-list page";
    case VF_FREE:
        return "a free (avail or discard) extent";
    default:
        return "nothing";
    }
}

/* Is a is a sane page address of this checkpoint? Reports at (ref_page,
 * ref_off) -- where the address was found -- when not. */
static bool vt_addr_ok(vf_tree *t, const wr_addr *a, uint64_t ref_page,
                       uint64_t ref_off, const char *what)
{
    uint64_t P = t->P, L = t->slot.logical_size;
    char e[64], g[64];
    if (a->off < 2 * P || a->off % P != 0 || a->size == 0 ||
        a->size % P != 0) {
        snprintf(e, sizeof e, "a multiple of %llu, >= %llu",
                 (unsigned long long)P, (unsigned long long)(2 * P));
        snprintf(g, sizeof g, "[%llu, +%u)", (unsigned long long)a->off,
                 a->size);
        vf_problem(&t->c, WR_CHECK_PAGE, ref_page, ref_off, e, g,
                   "address of %s is not a page of the data area", what);
        return false;
    }
    if (a->off >= L || a->size > L - a->off) {
        snprintf(e, sizeof e, "below %llu", (unsigned long long)L);
        snprintf(g, sizeof g, "[%llu, %llu)", (unsigned long long)a->off,
                 (unsigned long long)(a->off + a->size));
        vf_problem(&t->c, WR_CHECK_SPACE, ref_page, ref_off, e, g,
                   "%s lies past the checkpoint's logical size", what);
        return false;
    }
    if (a->off >= t->fsize || a->size > t->fsize - a->off) {
        snprintf(e, sizeof e, "file of at least %llu bytes",
                 (unsigned long long)(a->off + a->size));
        snprintf(g, sizeof g, "%llu bytes", (unsigned long long)t->fsize);
        vf_problem(&t->c, WR_CHECK_SPACE, a->off, a->off, e, g,
                   "%s at %llu lies past the end of the file (truncated)",
                   what, (unsigned long long)a->off);
        return false;
    }
    return true;
}

/* Read the page at a (already vt_addr_ok) into buf and check it against
 * its address: CRC over its bytes, the CRC the address expects, the size
 * field. VF_OK, VF_BAD (reported) or a negative wr_err. */
static int vt_read(vf_tree *t, const wr_addr *a, uint8_t *buf,
                   const char *what)
{
    int rc;
    wr_errbuf e = {0};
    char x[32], y[32];
    if ((rc = wri_io_pread(t->f, buf, a->size, a->off, &e)) != WR_OK) {
        if (rc == WR_ECORRUPT) { /* short read: the file shrank */
            vf_problem(&t->c, WR_CHECK_SPACE, a->off, a->off, NULL, NULL,
                       "%s: %s", what, e.msg);
            return VF_BAD;
        }
        return vf_env(t->c.run, t->c.file, rc, &e);
    }
    uint32_t stored = wri_get32(buf + WRI_PH_CRC);
    uint32_t computed = wri_page_crc(buf, a->size);
    if (stored != computed) {
        vf_problem(&t->c, WR_CHECK_CHECKSUM, a->off, a->off,
                   vf_hex32(x, stored), vf_hex32(y, computed),
                   "%s: CRC does not match the page's bytes (torn or "
                   "damaged page)%s",
                   what,
                   stored == a->crc ? ""
                                    : "; the stored CRC also differs from "
                                      "the one its address expects");
        return VF_BAD;
    }
    if (stored != a->crc) {
        vf_problem(&t->c, WR_CHECK_CHECKSUM, a->off, a->off,
                   vf_hex32(x, a->crc), vf_hex32(y, stored),
                   "%s: stale or misdirected page: intact, but not the page "
                   "its address expects",
                   what);
        return VF_BAD;
    }
    uint32_t hsize = wri_get32(buf + WRI_PH_SIZE);
    if (hsize != a->size) {
        vf_problem(&t->c, WR_CHECK_PAGE, a->off, a->off + WRI_PH_SIZE,
                   vf_u64(x, a->size), vf_u64(y, hsize),
                   "%s: header size field disagrees with its address", what);
        return VF_BAD;
    }
    return VF_OK;
}

static int vt_grow_val(vf_tree *t, size_t need)
{
    if (t->valcap >= need)
        return WR_OK;
    uint8_t *nb = realloc(t->val, need);
    if (nb == NULL) {
        wr_errbuf e = {0};
        WR_ERR(&e, WR_ENOMEM, "out of memory for a value of %zu bytes", need);
        return vf_env(t->c.run, t->c.file, WR_ENOMEM, &e);
    }
    t->val = nb;
    t->valcap = need;
    return WR_OK;
}

/* --- step 1: the extent lists ------------------------------------------- */

static void vt_mark_report(vf_tree *t, uint64_t off, uint64_t len, int who,
                           int old, const char *what)
{
    char e[64], g[64];
    snprintf(e, sizeof e, "owned only by %s", what);
    snprintf(g, sizeof g, "also %s", vf_owner(old));
    vf_problem(&t->c, WR_CHECK_SPACE, off, off, e, g,
               "%s [%llu, %llu) overlaps %s", what, (unsigned long long)off,
               (unsigned long long)(off + len), vf_owner(old));
    (void)who;
}

static int vt_extlists(vf_tree *t)
{
    int rc;
    uint32_t P = t->P;
    uint32_t per = (P - WRI_EL_ENTRIES) / WRI_EL_ENTRY_LEN;
    uint64_t L = t->slot.logical_size, maxpages = L / P, n = 0;
    uint64_t ref_page = (uint64_t)(t->c.ck ? t->c.ck->slot : 0) * P;
    uint64_t ref_off = ref_page + WRI_SLOT_EXTLIST;
    wr_addr a = t->slot.extlist;
    uint8_t *buf = malloc(P);
    char x[64], y[64];
    if (buf == NULL) {
        wr_errbuf e = {0};
        WR_ERR(&e, WR_ENOMEM, "out of memory");
        return vf_env(t->c.run, t->c.file, WR_ENOMEM, &e);
    }
    rc = WR_OK;
    while (a.off != 0) {
        if (++n > maxpages) {
            vf_problem(&t->c, WR_CHECK_SPACE, a.off, ref_off, NULL, NULL,
                       "extent-list chain longer than the file's %llu pages "
                       "(a cycle)",
                       (unsigned long long)maxpages);
            t->incomplete = true;
            break;
        }
        if (a.size != P) {
            vf_problem(&t->c, WR_CHECK_PAGE, ref_page, ref_off,
                       vf_u64(x, P), vf_u64(y, a.size),
                       "extent-list page address is not one page long");
            t->incomplete = true;
            break;
        }
        if (!vt_addr_ok(t, &a, ref_page, ref_off, "extent-list page")) {
            t->incomplete = true;
            break;
        }
        int old = vt_mark(t, a.off, P, VF_LIST);
        if (old == VF_LIST) {
            vf_problem(&t->c, WR_CHECK_SPACE, a.off, ref_off, NULL, NULL,
                       "extent-list chain visits page %llu twice (a cycle)",
                       (unsigned long long)a.off);
            t->incomplete = true;
            break;
        }
        if (old != VF_NONE)
            vt_mark_report(t, a.off, P, VF_LIST, old, "extent-list page");
        if ((rc = vt_read(t, &a, buf, "extent-list page")) != VF_OK) {
            t->incomplete = true;
            break;
        }
        vt_progress(t, 1, true);
        if (t->c.ck)
            t->c.ck->pages_extlist++;
        uint8_t type = buf[WRI_PH_TYPE];
        uint32_t count = wri_get32(buf + WRI_PH_COUNT);
        uint64_t pgen = wri_get64(buf + WRI_PH_GEN);
        if (type != WRI_PT_EXTLIST) {
            vf_problem(&t->c, WR_CHECK_PAGE, a.off, a.off + WRI_PH_TYPE,
                       vf_u64(x, WRI_PT_EXTLIST), vf_u64(y, type),
                       "page type of an extent-list page");
            t->incomplete = true;
            break;
        }
        if (pgen != t->slot.gen)
            vf_problem(&t->c, WR_CHECK_PAGE, a.off, a.off + WRI_PH_GEN,
                       vf_u64(x, t->slot.gen), vf_u64(y, pgen),
                       "extent-list page written for another generation");
        if (count > per) {
            vf_problem(&t->c, WR_CHECK_PAGE, a.off, a.off + WRI_PH_COUNT,
                       vf_u64(x, per), vf_u64(y, count),
                       "extent-list page holds more entries than fit");
            t->incomplete = true;
            break;
        }
        for (uint32_t i = 0; i < count; i++) {
            size_t eo = WRI_EL_ENTRIES + (size_t)i * WRI_EL_ENTRY_LEN;
            wri_ext e;
            const char *bad =
                wri_extlist_entry(buf, i, P, t->slot.gen, L, &e);
            if (bad != NULL) {
                snprintf(y, sizeof y, "[%llu, +%llu) kind %u gen %llu",
                         (unsigned long long)e.off, (unsigned long long)e.len,
                         e.kind, (unsigned long long)e.gen);
                vf_problem(&t->c, WR_CHECK_PAGE, a.off, a.off + eo, NULL, y,
                           "extent-list entry %u: %s", i, bad);
                t->incomplete = true;
                continue;
            }
            if (t->c.ck) {
                if (e.kind == WRI_EXT_AVAIL)
                    t->c.ck->avail_bytes += e.len;
                else
                    t->c.ck->discard_bytes += e.len;
            }
            old = vt_mark(t, e.off, e.len, VF_FREE);
            if (old != VF_NONE)
                vt_mark_report(t, e.off, e.len, VF_FREE, old,
                               e.kind == WRI_EXT_AVAIL ? "avail extent"
                                                       : "discard extent");
        }
        wr_addr next;
        wri_addr_decode(buf + WRI_EL_NEXT, &next);
        if (next.off == 0 && (next.size != 0 || next.crc != 0))
            vf_problem(&t->c, WR_CHECK_PAGE, a.off, a.off + WRI_EL_NEXT, NULL,
                       NULL, "next address has offset 0 but size %u",
                       next.size);
        ref_page = a.off;
        ref_off = a.off + WRI_EL_NEXT;
        a = next;
    }
    free(buf);
    return rc < 0 ? rc : WR_OK;
}

/* --- step 2: the tree ---------------------------------------------------- */

static int vt_cmp(const uint8_t *a, uint32_t al, const uint8_t *b,
                  uint32_t bl)
{
    return wri_key_cmp(a, al, b, bl);
}

/* A main-table value: valid BSON whose _id equals its key. */
static void vt_document(vf_tree *t, uint64_t page, uint64_t voff,
                        const uint8_t *key, uint32_t klen, const uint8_t *val,
                        uint32_t vlen)
{
    bson_t doc;
    bson_iter_t it;
    size_t eoff = 0;
    char x[160], y[160], n1[32], n2[32];
    if (vlen < 5 || wri_get32(val) != vlen ||
        !bson_init_static(&doc, val, vlen)) {
        vf_problem(&t->c, WR_CHECK_DOCUMENT, page, voff, vf_u64(n1, vlen),
                   vf_u64(n2, vlen >= 4 ? wri_get32(val) : 0),
                   "value of key %s is not a BSON document (length prefix "
                   "disagrees with the value length)",
                   vf_json(x, sizeof x, key, klen));
        return;
    }
    char why[96];
    if (wri_bson_check(val, vlen, &eoff, why, sizeof why) != WR_OK) {
        vf_problem(&t->c, WR_CHECK_DOCUMENT, page, voff + eoff, NULL, NULL,
                   "document of key %s is not valid BSON (%s of the "
                   "document)",
                   vf_json(x, sizeof x, key, klen), why);
        return;
    }
    if (!bson_iter_init_find(&it, &doc, "_id")) {
        vf_problem(&t->c, WR_CHECK_DOCUMENT, page, voff,
                   vf_json(x, sizeof x, key, klen), "no _id",
                   "document has no _id field");
        return;
    }
    bson_t k;
    wri_key_from_iter(&it, &k);
    if (k.len != klen || memcmp(bson_get_data(&k), key, klen) != 0) {
        vf_problem(&t->c, WR_CHECK_DOCUMENT, page, voff + it.off,
                   vf_json(x, sizeof x, key, klen),
                   vf_json(y, sizeof y, bson_get_data(&k), k.len),
                   "document's _id differs from its key");
    }
    bson_destroy(&k);
}

/* One leaf item: value placement, overflow page, document checks. */
static int vt_leaf_cell(vf_tree *t, uint64_t page, const uint8_t *buf,
                        uint32_t i, const wri_cell *c)
{
    int rc;
    uint32_t P = t->P;
    char x[64], y[64];
    wr_verify_ckpt *ck = t->c.ck;
    ck->keys++;
    ck->key_bytes += c->klen;
    ck->value_bytes += c->vlen;
    uint64_t cell = page + c->off;
    bool want_ovf = c->vlen > wri_page_max_inline(P, c->klen);
    if (t->nkeyelem == 2) {
        if (c->vlen != 0 || c->overflow)
            vf_problem(&t->c, WR_CHECK_PAGE, page, cell, "0", vf_u64(y, c->vlen),
                       "slot %u: an index entry carries a value", i);
        return WR_OK;
    }
    if (c->overflow != want_ovf)
        vf_problem(&t->c, WR_CHECK_PAGE, page, cell,
                   want_ovf ? "overflow page" : "inline",
                   c->overflow ? "overflow page" : "inline",
                   "slot %u: value of %u bytes stored in the wrong place", i,
                   c->vlen);
    const uint8_t *val = c->val;
    uint64_t voff = c->val ? page + (uint64_t)(c->val - buf) : 0;
    if (c->overflow) {
        uint64_t ref = cell + WRI_LEAF_CELL_HDR + c->klen;
        uint64_t need = wri_overflow_size(P, c->vlen);
        if (c->vlen > VF_MAX_DOC) {
            vf_problem(&t->c, WR_CHECK_DOCUMENT, page, cell,
                       vf_u64(x, VF_MAX_DOC), vf_u64(y, c->vlen),
                       "slot %u: value larger than BSON's 16 MiB limit", i);
            t->docs_bad = true;
            return WR_OK;
        }
        if (c->ovf.size != need) {
            vf_problem(&t->c, WR_CHECK_PAGE, page, ref, vf_u64(x, need),
                       vf_u64(y, c->ovf.size),
                       "slot %u: overflow page size for a value of %u bytes",
                       i, c->vlen);
            t->incomplete = t->docs_bad = true;
            return WR_OK;
        }
        if (!vt_addr_ok(t, &c->ovf, page, ref, "overflow page")) {
            t->incomplete = t->docs_bad = true;
            return WR_OK;
        }
        int old = vt_mark(t, c->ovf.off, c->ovf.size, VF_TREE);
        if (old == VF_TREE) {
            vf_problem(&t->c, WR_CHECK_ORDERING, c->ovf.off, ref, NULL, NULL,
                       "overflow page reachable twice (also from page %llu "
                       "slot %u)",
                       (unsigned long long)page, i);
            t->docs_bad = true;
            return WR_OK;
        }
        if (old != VF_NONE)
            vt_mark_report(t, c->ovf.off, c->ovf.size, VF_TREE, old,
                           "overflow page");
        if ((rc = vt_grow_val(t, need)) != WR_OK)
            return rc;
        if ((rc = vt_read(t, &c->ovf, t->val, "overflow page")) != VF_OK) {
            t->incomplete = t->docs_bad = true;
            return rc < 0 ? rc : WR_OK;
        }
        wri_page_problem pp;
        if (wri_overflow_check(t->val, need, c->vlen, &pp) != WR_OK) {
            vf_problem(&t->c, WR_CHECK_PAGE, c->ovf.off, c->ovf.off + pp.off,
                       NULL, NULL, "overflow page: %s", pp.what);
            t->incomplete = t->docs_bad = true;
            return WR_OK;
        }
        ck->pages_overflow++;
        vt_progress(t, need / P, true);
        val = t->val + WRI_PH_LEN;
        voff = c->ovf.off + WRI_PH_LEN;
    }
    if (t->quick)
        return WR_OK;
    if (val == NULL && c->vlen > 0) {
        t->docs_bad = true;
        return WR_OK;
    }
    vt_document(t, page, voff, c->key, c->klen, val ? val : (const uint8_t *)"",
                c->vlen);
    if (t->dg != NULL && val != NULL)
        wr_digest_add(t->dg, val, c->vlen);
    return WR_OK;
}

/* Check one key of a page: well formed, after the previous key, inside
 * [lo, hi). Returns false if it is not well formed (the page's keys
 * cannot be trusted after it). */
static bool vt_key(vf_tree *t, uint64_t page, const uint8_t *buf, uint32_t i,
                   const wri_cell *c, const wri_cell *prev, vf_bound lo,
                   vf_bound hi)
{
    char why[160], x[160], y[160];
    uint64_t koff = page + (uint64_t)(c->key - buf);
    if (wri_key_check(c->key, c->klen, t->nkeyelem, why, sizeof why) !=
        WR_OK) {
        vf_problem(&t->c, WR_CHECK_PAGE, page, koff, NULL, NULL,
                   "slot %u: malformed key: %s", i, why);
        return false;
    }
    if (prev != NULL && vt_cmp(prev->key, prev->klen, c->key, c->klen) >= 0)
        vf_problem(&t->c, WR_CHECK_ORDERING, page, koff,
                   vf_json(x, sizeof x, prev->key, prev->klen),
                   vf_json(y, sizeof y, c->key, c->klen),
                   "slot %u: key not greater than slot %u's (expected: "
                   "greater than the first)",
                   i, i - 1);
    if (lo.key != NULL && vt_cmp(c->key, c->klen, lo.key, lo.len) < 0)
        vf_problem(&t->c, WR_CHECK_ORDERING, page, koff,
                   vf_json(x, sizeof x, lo.key, lo.len),
                   vf_json(y, sizeof y, c->key, c->klen),
                   "slot %u: key below the lower bound the parent's "
                   "separator sets (expected: at least the first)",
                   i);
    if (hi.key != NULL && vt_cmp(c->key, c->klen, hi.key, hi.len) >= 0)
        vf_problem(&t->c, WR_CHECK_ORDERING, page, koff,
                   vf_json(x, sizeof x, hi.key, hi.len),
                   vf_json(y, sizeof y, c->key, c->klen),
                   "slot %u: key not below the upper bound the parent's "
                   "next separator sets (expected: less than the first)",
                   i);
    return true;
}

static int vt_node(vf_tree *t, int depth, const wr_addr *a, int level,
                   uint64_t ref_page, uint64_t ref_off, vf_bound lo,
                   vf_bound hi)
{
    int rc;
    uint32_t P = t->P;
    char x[64], y[64];
    wri_page_view v;
    wri_page_problem pp;
    if (vt_interrupted(t))
        return WR_EINTR;
    if (depth >= VF_MAX_DEPTH) {
        vf_problem(&t->c, WR_CHECK_PAGE, ref_page, ref_off, NULL, NULL,
                   "tree deeper than %d levels", VF_MAX_DEPTH);
        t->incomplete = true;
        return WR_OK;
    }
    if (a->size != P) {
        vf_problem(&t->c, WR_CHECK_PAGE, ref_page, ref_off, vf_u64(x, P),
                   vf_u64(y, a->size),
                   "tree page address is not one page long");
        t->incomplete = true;
        return WR_OK;
    }
    if (!vt_addr_ok(t, a, ref_page, ref_off, "tree page")) {
        t->incomplete = true;
        return WR_OK;
    }
    int old = vt_mark(t, a->off, P, VF_TREE);
    if (old == VF_TREE) {
        vf_problem(&t->c, WR_CHECK_ORDERING, a->off, ref_off, NULL, NULL,
                   "page reachable twice (a second parent, page %llu, or a "
                   "cycle)",
                   (unsigned long long)ref_page);
        return WR_OK;
    }
    if (old != VF_NONE)
        vt_mark_report(t, a->off, P, VF_TREE, old, "tree page");
    if (t->pg[depth] == NULL && (t->pg[depth] = malloc(P)) == NULL) {
        wr_errbuf e = {0};
        WR_ERR(&e, WR_ENOMEM, "out of memory");
        return vf_env(t->c.run, t->c.file, WR_ENOMEM, &e);
    }
    uint8_t *buf = t->pg[depth];
    if ((rc = vt_read(t, a, buf, "tree page")) != VF_OK) {
        t->incomplete = true;
        return rc < 0 ? rc : WR_OK;
    }
    vt_progress(t, 1, true);
    if (wri_page_check(buf, P, 0, &v, &pp) != WR_OK) {
        vf_problem(&t->c, WR_CHECK_PAGE, a->off, a->off + pp.off, NULL, NULL,
                   "%s", pp.what);
        t->incomplete = true;
        return WR_OK;
    }
    if ((level >= 0 && v.level != level) || v.level >= VF_MAX_DEPTH) {
        if (level >= 0)
            snprintf(x, sizeof x, "%d", level);
        else
            snprintf(x, sizeof x, "below %d", VF_MAX_DEPTH);
        vf_problem(&t->c, WR_CHECK_PAGE, a->off, a->off + WRI_PH_LEVEL, x,
                   vf_u64(y, v.level),
                   "page level does not fit its place in the tree (leaves "
                   "must all be at one depth)");
        t->incomplete = true;
        return WR_OK;
    }
    if (v.type == WRI_PT_LEAF)
        t->c.ck->pages_leaf++;
    else
        t->c.ck->pages_internal++;
    /* keys: well formed, ordered, inside the parent's bounds */
    wri_cell c, prev;
    bool haveprev = false;
    if (!t->quick) {
        for (uint32_t i = 0; i < v.count; i++) {
            wri_page_cell(&v, i, &c);
            if (v.type == WRI_PT_INTERNAL && i == 0)
                continue;
            if (!vt_key(t, a->off, buf, i, &c, haveprev ? &prev : NULL, lo,
                        hi)) {
                t->incomplete = true;
                return WR_OK;
            }
            prev = c;
            haveprev = true;
        }
    }
    if (v.type == WRI_PT_LEAF) {
        if (!t->quick && v.count > 0) {
            wri_cell first, lastc;
            char e[160], g[160];
            wri_page_cell(&v, 0, &first);
            if (t->havelast &&
                vt_cmp(t->last, t->lastlen, first.key, first.klen) >= 0)
                vf_problem(&t->c, WR_CHECK_ORDERING, a->off,
                           a->off + (uint64_t)(first.key - buf),
                           vf_json(e, sizeof e, t->last, t->lastlen),
                           vf_json(g, sizeof g, first.key, first.klen),
                           "first key of this leaf is not greater than the "
                           "last key of the previous leaf (expected: "
                           "greater than the first)");
            wri_page_cell(&v, v.count - 1, &lastc);
            memcpy(t->last, lastc.key, lastc.klen);
            t->lastlen = lastc.klen;
            t->havelast = true;
        }
        for (uint32_t i = 0; i < v.count; i++) {
            wri_page_cell(&v, i, &c);
            if ((rc = vt_leaf_cell(t, a->off, buf, i, &c)) != WR_OK)
                return rc;
        }
        return WR_OK;
    }
    for (uint32_t i = 0; i < v.count; i++) {
        wri_cell next;
        vf_bound clo = lo, chi = hi;
        wri_page_cell(&v, i, &c);
        if (i > 0)
            clo = (vf_bound){c.key, c.klen};
        if (i + 1 < v.count) {
            wri_page_cell(&v, i + 1, &next);
            chi = (vf_bound){next.key, next.klen};
        }
        if (t->quick)
            clo.key = chi.key = NULL;
        if ((rc = vt_node(t, depth + 1, &c.child, v.level - 1, a->off,
                          a->off + c.off + 4, clo, chi)) != WR_OK)
            return rc;
    }
    return WR_OK;
}

/* --- step 3: space ------------------------------------------------------- */

static void vt_leaks(vf_tree *t)
{
    uint64_t P = t->P;
    uint64_t end = WRI_MIN(t->nblocks, t->slot.logical_size / P);
    char x[64], y[64];
    for (uint64_t b = 2; b < end;) {
        if (vt_map_get(t, b) != VF_NONE) {
            b++;
            continue;
        }
        uint64_t s = b;
        while (b < end && vt_map_get(t, b) == VF_NONE)
            b++;
        uint64_t bytes = (b - s) * P;
        t->c.ck->leaked_bytes += bytes;
        snprintf(x, sizeof x, "owned by a page or an extent");
        snprintf(y, sizeof y, "[%llu, %llu) owned by nobody",
                 (unsigned long long)(s * P), (unsigned long long)(b * P));
        vf_problem(&t->c, WR_CHECK_SPACE, s * P, s * P, x, y,
                   "leaked space: %llu bytes (%llu blocks) neither "
                   "reachable nor free",
                   (unsigned long long)bytes, (unsigned long long)(b - s));
    }
}

/* Verify one checkpoint (slot s, index si) of an open file. */
static int vf_ckpt(vf_run *run, wr_verify_file *f, vf_info *inf, wri_block *b,
                   int si, bool latest, bool selected)
{
    int rc = WR_OK;
    vf_tree *t = calloc(1, sizeof *t);
    const wri_slot *s = &b->slots[si].slot;
    uint64_t P = b->page_size;
    char x[64], y[64];
    if (t == NULL || f->nckpt >= 2) {
        wr_errbuf e = {0};
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
    t->f = b->f;
    t->P = (uint32_t)P;
    t->fsize = b->file_size;
    t->slot = *s;
    t->nkeyelem = s->role == WRI_ROLE_INDEX ? 2 : 1;
    t->quick = run->o->quick;
    t->pages_total = s->logical_size / P;
    if (s->logical_size > t->fsize)
        vf_problem(&t->c, WR_CHECK_SPACE, 0, t->fsize,
                   vf_u64(x, s->logical_size), vf_u64(y, t->fsize),
                   "file is shorter than checkpoint %llu's logical size "
                   "(truncated)",
                   (unsigned long long)s->gen);
    t->nblocks = WRI_MIN(s->logical_size, t->fsize) / P;
    if ((t->map = calloc(t->nblocks / 4 + 1, 1)) == NULL ||
        (t->last = malloc(P)) == NULL) {
        wr_errbuf e = {0};
        WR_ERR(&e, WR_ENOMEM, "out of memory for the map of %s",
               f->path);
        rc = vf_env(run, f, WR_ENOMEM, &e);
        goto out;
    }
    if (!t->quick && t->nkeyelem == 1) {
        wr_errbuf e = {0};
        if ((rc = wr_digest_new(&t->dg, &e)) != WR_OK) {
            rc = vf_env(run, f, rc, &e);
            goto out;
        }
    }
    if ((rc = vt_extlists(t)) != WR_OK)
        goto out;
    if (s->root.off != 0) {
        int level = -1;
        if (s->height >= 1 && s->height <= VF_MAX_DEPTH)
            level = (int)s->height - 1;
        else
            vf_problem(&t->c, WR_CHECK_HEADER, (uint64_t)si * P,
                       (uint64_t)si * P + WRI_SLOT_HEIGHT, "1..64",
                       vf_u64(y, s->height), "slot's tree height");
        rc = vt_node(t, 0, &s->root, level, (uint64_t)si * P,
                     (uint64_t)si * P + WRI_SLOT_ROOT, (vf_bound){0},
                     (vf_bound){0});
        if (rc != WR_OK)
            goto out;
    } else if (s->height != 0) {
        vf_problem(&t->c, WR_CHECK_HEADER, (uint64_t)si * P,
                   (uint64_t)si * P + WRI_SLOT_HEIGHT, "0",
                   vf_u64(y, s->height), "empty tree with a height");
    }
    ck->complete = !t->incomplete;
    if (!t->incomplete) {
        if (ck->keys != s->nrecords)
            vf_problem(&t->c, WR_CHECK_HEADER, (uint64_t)si * P,
                       (uint64_t)si * P + WRI_SLOT_NRECS,
                       vf_u64(x, ck->keys), vf_u64(y, s->nrecords),
                       "slot's record count disagrees with the tree "
                       "(expected: the keys found)");
        vt_leaks(t);
    }
    if (t->dg != NULL && !t->incomplete && !t->docs_bad) {
        ck->has_digest = true;
        wr_digest_final(t->dg, ck->digest);
    }
    inf->docs_ok[ci] = !t->docs_bad && t->c.nprob[WR_CHECK_DOCUMENT] == 0;
    inf->sound[ci] = !t->incomplete && t->c.nprob[WR_CHECK_PAGE] == 0 &&
                     t->c.nprob[WR_CHECK_ORDERING] == 0 &&
                     t->c.nprob[WR_CHECK_CHECKSUM] == 0;
out:
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

/* The file would not open: find out what we can from its raw slots. */
static void vf_diagnose(vf_run *run, wr_verify_file *f, const char *msg)
{
    vf_ctx c = {.run = run, .file = f, .path = f->path};
    wri_file *fh = NULL;
    wr_errbuf e = {0};
    uint64_t fsize = 0;
    bool told = false;
    if (wri_io_open(f->path, WRI_IO_RDONLY, &fh, &e) == WR_OK &&
        wri_io_size(fh, &fsize, &e) == WR_OK) {
        f->file_size = fsize;
        uint8_t buf[WRI_SLOT_LEN];
        uint32_t P = 0;
        for (int i = 0; i < 2; i++) {
            size_t got = 0;
            wri_slot s;
            char why[256];
            uint64_t at = i == 0 ? 0 : P;
            if (i == 1 && P == 0)
                break;
            memset(buf, 0, sizeof buf);
            if (wri_io_pread_some(fh, buf, sizeof buf, at, &got, &e) != WR_OK)
                break;
            if (wri_slot_decode(buf, got, &s, why, sizeof why) != WR_OK) {
                if (i == 0 && got >= 20 &&
                    memcmp(buf + WRI_SLOT_MAGIC_OFF, WRI_SLOT_MAGIC, 8) == 0) {
                    uint32_t p = wri_get32(buf + WRI_SLOT_PAGESIZE);
                    if (p >= WRI_PAGE_MIN && p <= WRI_PAGE_MAX &&
                        (p & (p - 1)) == 0)
                        P = p;
                }
                continue;
            }
            if (i == 0)
                P = s.page_size;
            f->page_size = s.page_size;
            const wr_addr *need[2] = {&s.root, &s.extlist};
            for (int k = 0; k < 2; k++)
                if (need[k]->off != 0 &&
                    need[k]->off + need[k]->size > fsize) {
                    char x[64], y[64];
                    vf_problem(&c, WR_CHECK_SPACE, need[k]->off, fsize,
                               vf_u64(x, need[k]->off + need[k]->size),
                               vf_u64(y, fsize),
                               "file is truncated: slot %d (generation "
                               "%llu) needs its %s at %llu",
                               i, (unsigned long long)s.gen,
                               k ? "first extent-list page" : "root page",
                               (unsigned long long)need[k]->off);
                    told = true;
                }
        }
    }
    wri_io_close(fh);
    if (!told)
        vf_problem(&c, WR_CHECK_HEADER, 0, 0, NULL, NULL, "%s", msg);
}

static void vf_copy_slots(wr_verify_file *f, const wri_block *b)
{
    f->page_size = b->page_size;
    f->file_size = b->file_size;
    f->role = b->cur.role;
    snprintf(f->coll, sizeof f->coll, "%s", b->cur.coll);
    snprintf(f->field, sizeof f->field, "%s", b->cur.field);
    for (int i = 0; i < 2; i++) {
        f->slot_valid[i] = b->slots[i].valid;
        f->slot_gen[i] = b->slots[i].valid ? b->slots[i].slot.gen : 0;
        snprintf(f->slot_why[i], sizeof f->slot_why[i], "%s",
                 b->slots[i].valid ? "" : b->slots[i].why);
    }
}

/* Header checks that need both slots. */
static void vf_header(vf_run *run, wr_verify_file *f, const wri_block *b)
{
    vf_ctx c = {.run = run, .file = f, .path = f->path};
    uint64_t P = b->page_size;
    char x[64], y[64];
    for (int i = 0; i < 2; i++) {
        const wri_slot_state *st = &b->slots[i];
        if (st->valid || strncmp(st->why, "all zero", 8) == 0)
            continue;
        vf_problem(&c, WR_CHECK_HEADER, i * P, i * P, NULL, NULL,
                   "slot %d rejected: %s (slot %d, generation %llu, is used)",
                   i, st->why, b->chosen,
                   (unsigned long long)b->cur.gen);
    }
    if (b->slots[0].valid && b->slots[1].valid) {
        const wri_slot *a = &b->slots[0].slot, *s = &b->slots[1].slot;
        if (a->gen == s->gen)
            vf_problem(&c, WR_CHECK_HEADER, P, P + WRI_SLOT_GEN,
                       "two different generations", vf_u64(y, a->gen),
                       "both slots hold the same generation");
        if (a->role != s->role || strcmp(a->coll, s->coll) != 0 ||
            strcmp(a->field, s->field) != 0) {
            snprintf(x, sizeof x, "role %u \"%.20s\" \"%.20s\"", a->role,
                     a->coll, a->field);
            snprintf(y, sizeof y, "role %u \"%.20s\" \"%.20s\"", s->role,
                     s->coll, s->field);
            vf_problem(&c, WR_CHECK_HEADER, P, P + WRI_SLOT_ROLE, x, y,
                       "the slots disagree on what the file is");
        }
    }
    /* a valid slot whose pages lie past the end: truncated */
    for (int i = 0; i < 2; i++) {
        const wri_slot *s = &b->slots[i].slot;
        if (!b->slots[i].valid)
            continue;
        const wr_addr *need[2] = {&s->root, &s->extlist};
        for (int k = 0; k < 2; k++)
            if (need[k]->off != 0 &&
                need[k]->off + need[k]->size > b->file_size)
                vf_problem(&c, WR_CHECK_SPACE, need[k]->off, b->file_size,
                           vf_u64(x, need[k]->off + need[k]->size),
                           vf_u64(y, b->file_size),
                           "file is truncated: slot %d (generation %llu) "
                           "needs its %s at %llu",
                           i, (unsigned long long)s->gen,
                           k ? "first extent-list page" : "root page",
                           (unsigned long long)need[k]->off);
    }
}

static bool vf_slot_readable(const wri_block *b, int i)
{
    const wri_slot *s = &b->slots[i].slot;
    if (!b->slots[i].valid)
        return false;
    if (s->root.off != 0 && s->root.off + s->root.size > b->file_size)
        return false;
    if (s->extlist.off != 0 &&
        s->extlist.off + s->extlist.size > b->file_size)
        return false;
    return true;
}

/* Verify one tree file: the checkpoint asked for (or the catalog's), and
 * with --all-checkpoints the other valid one. */
static int vf_file(vf_run *run, size_t fi, const vf_expect *ex)
{
    int rc;
    wr_verify_file *f = &run->r->files[fi];
    vf_info *inf = &run->info[fi];
    const wr_verify_opts *o = run->o;
    wri_block *b = NULL;
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
    int flags = WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT;
    if (ex == NULL && o->previous)
        flags |= WRI_BLOCK_PREVIOUS;
    rc = wri_block_open(f->path, flags, &b, &e);
    if (rc == WR_ECORRUPT && !(flags & WRI_BLOCK_PREVIOUS)) {
        /* the newest slot may be unreadable (truncated): try the other */
        wr_errbuf e2 = {0};
        if (wri_block_open(f->path, flags | WRI_BLOCK_PREVIOUS, &b, &e2) ==
            WR_OK) {
            rc = WR_OK;
            if (ex == NULL)
                b->chosen = -1; /* the one asked for cannot be read */
        }
    }
    if (rc == WR_ENOTOURS) {
        vf_problem(&c, WR_CHECK_HEADER, 0, 0, "a wrtools tree file", NULL,
                   "%s", e.msg);
        return WR_OK;
    }
    if (rc == WR_ECORRUPT) {
        vf_diagnose(run, f, e.msg);
        return WR_OK;
    }
    if (rc != WR_OK)
        return vf_env(run, f, rc, &e);
    vf_copy_slots(f, b);
    vf_header(run, f, b);
    if (ex != NULL) {
        uint32_t role = ex->field ? WRI_ROLE_INDEX : WRI_ROLE_MAIN;
        if (b->cur.role != role || strcmp(b->cur.coll, ex->coll) != 0 ||
            strcmp(b->cur.field, ex->field ? ex->field : "") != 0) {
            snprintf(x, sizeof x, "%s of \"%.30s\"%s%.30s",
                     ex->field ? "index" : "main table", ex->coll,
                     ex->field ? " on " : "", ex->field ? ex->field : "");
            snprintf(y, sizeof y, "%s of \"%.30s\"%s%.30s",
                     b->cur.role == WRI_ROLE_INDEX ? "index" : "main table",
                     b->cur.coll, b->cur.field[0] ? " on " : "",
                     b->cur.field);
            vf_problem(&c, WR_CHECK_CATALOG, 0, WRI_SLOT_ROLE, x, y,
                       "the file's header disagrees with the catalog about "
                       "what it is");
        }
    }
    /* which slots */
    int newest = !b->slots[1].valid ? 0
                 : !b->slots[0].valid
                     ? 1
                     : (b->slots[1].slot.gen > b->slots[0].slot.gen ? 1 : 0);
    int want[2] = {-1, -1};
    if (ex != NULL) {
        for (int i = 0; i < 2; i++)
            if (b->slots[i].valid && b->slots[i].slot.gen == ex->gen)
                want[0] = i;
        if (want[0] < 0) {
            bool damaged = false;
            for (int i = 0; i < 2; i++)
                damaged |= !b->slots[i].valid &&
                           strncmp(b->slots[i].why, "all zero", 8) != 0;
            snprintf(x, sizeof x, "generation %llu",
                     (unsigned long long)ex->gen);
            if (b->slots[0].valid && b->slots[1].valid)
                snprintf(y, sizeof y, "generations %llu and %llu",
                         (unsigned long long)f->slot_gen[0],
                         (unsigned long long)f->slot_gen[1]);
            else
                snprintf(y, sizeof y, "only generation %llu",
                         (unsigned long long)b->cur.gen);
            vf_problem(&c, WR_CHECK_CATALOG, 0, WRI_SLOT_GEN, x, y,
                       "the catalog (generation %llu) names a checkpoint "
                       "neither slot holds (%s); checking the newest one "
                       "instead",
                       (unsigned long long)ex->catgen,
                       damaged ? "the slot that held it is damaged"
                               : "a checkpoint that reached only some files");
        }
    } else if (b->chosen >= 0) {
        want[0] = b->chosen;
    } else {
        want[0] = 1 - newest; /* newest unreadable (vf_header said why) */
    }
    bool selected = want[0] >= 0;
    if (want[0] < 0)
        want[0] = newest; /* the catalog's is gone: check what is there */
    if (o->all_checkpoints && b->slots[1 - want[0]].valid)
        want[1] = 1 - want[0];
    for (int k = 0; k < 2; k++) {
        int si = want[k];
        if (si < 0 || !vf_slot_readable(b, si))
            continue; /* reported by vf_header */
        if ((rc = vf_ckpt(run, f, inf, b, si, si == newest,
                          k == 0 && selected)) !=
            WR_OK)
            break;
    }
    wri_block_close(b);
    return rc;
}

/* --- lookups and scans on verified trees ----------------------------------- *
 *
 * These run only on checkpoints the walk found sound, starting from the
 * slot copy the walk used: every page read is checked against the CRC its
 * parent's address carries, so it holds exactly the bytes the walk
 * checked, and its keys need no second wri_key_check (the structure is
 * still decoded by wri_page_check, so nothing is ever read out of
 * bounds). Documents are revalidated only if the walk found a bad one. */

static int vx_open(vf_run *run, wr_verify_file *f, const wri_slot *s,
                   wri_block **bo, vf_tree *t)
{
    int rc;
    wr_errbuf e = {0};
    memset(t, 0, sizeof *t);
    if ((rc = wri_block_open_gen(f->path, WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT,
                                 s->gen, bo, &e)) != WR_OK)
        return vf_env(run, f, rc == WR_ECORRUPT ? WR_EIO : rc, &e);
    t->c = (vf_ctx){.run = run, .file = f, .path = f->path, .silent = true};
    t->f = (*bo)->f;
    t->P = (*bo)->page_size;
    t->fsize = (*bo)->file_size;
    t->slot = *s;
    t->nkeyelem = s->role == WRI_ROLE_INDEX ? 2 : 1;
    t->ncache = WRI_MAX(VF_CACHE_BYTES / t->P, 16);
    t->pages_total = s->logical_size / t->P;
    if ((t->cache = calloc(t->ncache, sizeof *t->cache)) == NULL) {
        WR_ERR(&e, WR_ENOMEM, "out of memory");
        return vf_env(run, f, WR_ENOMEM, &e);
    }
    return WR_OK;
}

/* The page at a, from the cache or read and decoded into it: VF_OK with
 * *out, VF_BAD or < 0. */
static int vx_page(vf_tree *t, const wr_addr *a, int level, vf_cache **out)
{
    int rc;
    vf_cache *pc = &t->cache[(a->off / t->P) % t->ncache];
    wri_page_problem pp;
    *out = pc;
    if (pc->valid && pc->addr.off == a->off && pc->addr.crc == a->crc &&
        (level < 0 || pc->v.level == level))
        return VF_OK;
    pc->valid = false;
    if (a->size != t->P || a->off < 2 * (uint64_t)t->P ||
        a->off % t->P != 0 || a->off >= t->fsize ||
        a->size > t->fsize - a->off)
        return VF_BAD;
    if (pc->buf == NULL && (pc->buf = malloc(t->P)) == NULL) {
        wr_errbuf e = {0};
        WR_ERR(&e, WR_ENOMEM, "out of memory");
        return vf_env(t->c.run, t->c.file, WR_ENOMEM, &e);
    }
    if ((rc = vt_read(t, a, pc->buf, "tree page")) != VF_OK)
        return rc;
    if (wri_page_check(pc->buf, t->P, 0, &pc->v, &pp) != WR_OK ||
        (level >= 0 && pc->v.level != level))
        return VF_BAD;
    pc->addr = *a;
    pc->valid = true;
    return VF_OK;
}

/* Point lookup: VF_FOUND (*c into the cached leaf, *page its address),
 * VF_NOTFOUND (*page: the leaf where it would be), VF_UNKNOWN, or < 0. */
static int vx_lookup(vf_tree *t, const uint8_t *key, uint32_t klen,
                     wri_cell *c, uint64_t *page)
{
    int rc, level = -1;
    wr_addr a = t->slot.root;
    *page = 0;
    for (int d = 0;; d++) {
        if (a.off == 0)
            return VF_NOTFOUND;
        if (d >= VF_MAX_DEPTH)
            return VF_UNKNOWN;
        vf_cache *pc;
        if ((rc = vx_page(t, &a, level, &pc)) != VF_OK)
            return rc < 0 ? rc : VF_UNKNOWN;
        const wri_page_view *v = &pc->v;
        wri_cell cc;
        if (v->type == WRI_PT_LEAF) {
            uint32_t lo = 0, hi = v->count;
            *page = a.off;
            while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                wri_page_cell(v, mid, &cc);
                int r = vt_cmp(cc.key, cc.klen, key, klen);
                if (r == 0) {
                    *c = cc;
                    return VF_FOUND;
                }
                if (r < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            return VF_NOTFOUND;
        }
        uint32_t lo = 1, hi = v->count;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            wri_page_cell(v, mid, &cc);
            if (vt_cmp(cc.key, cc.klen, key, klen) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        wri_page_cell(v, lo - 1, &cc);
        a = cc.child;
        level = v->level - 1;
    }
}

/* The value of a leaf cell (inline, or read from its overflow page into
 * t->val): VF_OK, VF_BAD or < 0. */
static int vx_value(vf_tree *t, const wri_cell *c, const uint8_t **val)
{
    int rc;
    wri_page_problem pp;
    if (!c->overflow) {
        *val = c->val;
        return VF_OK;
    }
    uint64_t need = wri_overflow_size(t->P, c->vlen);
    if (c->vlen > VF_MAX_DOC || c->ovf.size != need ||
        c->ovf.off < 2 * (uint64_t)t->P || c->ovf.off >= t->fsize ||
        need > t->fsize - c->ovf.off)
        return VF_BAD;
    if ((rc = vt_grow_val(t, need)) != WR_OK)
        return rc;
    if ((rc = vt_read(t, &c->ovf, t->val, "overflow page")) != VF_OK)
        return rc;
    if (wri_overflow_check(t->val, need, c->vlen, &pp) != WR_OK)
        return VF_BAD;
    *val = t->val + WRI_PH_LEN;
    return VF_OK;
}

typedef int (*vx_cell_fn)(vf_tree *t, uint64_t page, const uint8_t *buf,
                          const wri_cell *c, void *arg);

/* Every leaf item of a verified tree in key order (depth first, one page
 * per level). */
static int vx_scan(vf_tree *t, int depth, const wr_addr *a, int level,
                   vx_cell_fn fn, void *arg)
{
    int rc;
    wri_page_view v;
    wri_page_problem pp;
    if (vt_interrupted(t))
        return WR_EINTR;
    if (depth >= VF_MAX_DEPTH || a->size != t->P ||
        a->off < 2 * (uint64_t)t->P || a->off >= t->fsize ||
        a->size > t->fsize - a->off)
        return WR_OK;
    if (t->pg[depth] == NULL && (t->pg[depth] = malloc(t->P)) == NULL) {
        wr_errbuf e = {0};
        WR_ERR(&e, WR_ENOMEM, "out of memory");
        return vf_env(t->c.run, t->c.file, WR_ENOMEM, &e);
    }
    uint8_t *buf = t->pg[depth];
    if ((rc = vt_read(t, a, buf, "tree page")) != VF_OK)
        return rc < 0 ? rc : WR_OK;
    vt_progress(t, 1, false);
    if (wri_page_check(buf, t->P, 0, &v, &pp) != WR_OK ||
        (level >= 0 && v.level != level))
        return WR_OK;
    for (uint32_t i = 0; i < v.count; i++) {
        wri_cell c;
        wri_page_cell(&v, i, &c);
        rc = v.type == WRI_PT_LEAF
                 ? fn(t, a->off, buf, &c, arg)
                 : vx_scan(t, depth + 1, &c.child, v.level - 1, fn, arg);
        if (rc != WR_OK)
            return rc;
    }
    return WR_OK;
}

/* --- index cross-check ------------------------------------------------- */

typedef struct vx_check {
    vf_ctx *rep;        /* where problems go: the index file's checkpoint */
    vf_tree *other;     /* the tree looked up in */
    const char *field;
    const char *main_path;
    bool docs_ok;       /* the main table's documents all validated */
    wr_verify_ckpt *ck; /* the index checkpoint's stats */
    /* per item */
    const uint8_t *want;
    uint32_t wantlen;
    bool match;
    char have[160];
    size_t havelen;
} vx_check;

static int vx_match_key(const bson_t *key, void *arg)
{
    vx_check *x = arg;
    if (vt_cmp(bson_get_data(key), key->len, x->want, x->wantlen) == 0)
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
                    const wri_cell *c, void *arg)
{
    int rc;
    vx_check *x = arg;
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
    if (rc == VF_NOTFOUND) {
        x->ck->index_dangling++;
        vf_problem(x->rep, WR_CHECK_INDEX, page, koff, "a document with that _id",
                   "none",
                   "entry %s points at _id %s, which is not in the main "
                   "table %s",
                   vf_json(j, sizeof j, c->key, c->klen),
                   vf_json(g, sizeof g, bson_get_data(&mk), mk.len),
                   x->main_path);
    } else if (rc == VF_FOUND) {
        rc = vx_value(x->other, &mc, &val);
        if (rc == VF_OK && mc.vlen >= 5 && bson_init_static(&doc, val, mc.vlen)) {
            wr_errbuf e = {0};
            x->want = c->key;
            x->wantlen = c->klen;
            x->match = false;
            x->have[0] = '\0';
            x->havelen = 0;
            size_t eo;
            if ((x->docs_ok || bson_validate(&doc, BSON_VALIDATE_NONE, &eo)) &&
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
    if (rc == VF_NOTFOUND) {
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
                  const wri_cell *c, void *arg)
{
    int rc;
    vx_check *x = arg;
    const uint8_t *val;
    bson_t doc;
    size_t eo;
    (void)buf;
    if ((rc = vx_value(t, c, &val)) != VF_OK)
        return rc < 0 ? rc : WR_OK;
    if (c->vlen < 5 || !bson_init_static(&doc, val, c->vlen) ||
        (!x->docs_ok && !bson_validate(&doc, BSON_VALIDATE_NONE, &eo)))
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
    wri_block *mb = NULL, *xb = NULL;
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
    if ((rc = vx_open(run, mf, &run->info[mi].slot[mci], &mb, mt)) !=
            WR_OK ||
        (rc = vx_open(run, xf, &run->info[fi].slot[ci], &xb, xt)) != WR_OK)
        goto out;
    x.docs_ok = run->info[mi].docs_ok[mci];
    ck->index_entries = ck->index_expected = 0;
    ck->index_missing = ck->index_dangling = 0;
    /* documents -> entries: every key a document implies is there */
    x.other = xt;
    if (mt->slot.root.off != 0 &&
        (rc = vx_scan(mt, 0, &mt->slot.root, (int)mt->slot.height - 1, vx_doc,
                      &x)) != WR_OK)
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
            (rc = vx_scan(xt, 0, &xt->slot.root, (int)xt->slot.height - 1,
                          vx_entry, &x)) != WR_OK)
            goto out;
    }
    ck->index_checked = true;
out:
    if (mt)
        vt_free(mt);
    if (xt)
        vt_free(xt);
    free(mt);
    free(xt);
    wri_block_close(mb);
    wri_block_close(xb);
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

static int vf_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The catalog cannot be read: verify every *.wr file in the directory on
 * its own. */
static int vf_dir_files(vf_run *run, const char *dir)
{
    int rc = WR_OK;
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    if (d == NULL)
        return WR_OK;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 3, ".wr") != 0 ||
            de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (nn == NULL) {
                rc = WR_ENOMEM;
                break;
            }
            names = nn;
        }
        if ((names[n] = wri_path_join(dir, de->d_name)) == NULL) {
            rc = WR_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == WR_OK && n > 0) {
        qsort(names, n, sizeof *names, vf_name_cmp);
        rc = vf_alloc_files(run, n);
        for (size_t i = 0; rc == WR_OK && i < n; i++) {
            size_t fi;
            if ((rc = vf_add_file(run, names[i], &fi)) == WR_OK)
                rc = vf_file(run, fi, NULL);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
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
    if (rc == WR_ENOTFOUND || rc == WR_ENOTOURS) {
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
    free(r);
}

int wr_verify(const char *path, const wr_verify_opts *opts,
              wr_verify_report **out, wr_errbuf *eb)
{
    int rc;
    wr_verify_opts defaults = {0};
    vf_run run = {0};
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

void wr_verify_problem_format(const wr_verify_problem *p, char *buf,
                              size_t len)
{
    int n = snprintf(buf, len, "%s: page %llu: byte %llu: %s: %s", p->path,
                     (unsigned long long)p->page,
                     (unsigned long long)p->offset,
                     wr_verify_check_name(p->check), p->detail);
    if (n < 0 || (size_t)n >= len)
        return;
    if (p->expected[0] || p->found[0])
        snprintf(buf + n, len - (size_t)n, " (expected %s, found %s)",
                 p->expected[0] ? p->expected : "-",
                 p->found[0] ? p->found : "-");
}

int wr_verify_simple(const char *path, bool quick, wr_errbuf *eb)
{
    wr_verify_opts o = {.quick = quick, .max_problems = 1};
    wr_verify_report *r = NULL;
    int rc = wr_verify(path, &o, &r, eb);
    wr_verify_report_free(r);
    return rc;
}
