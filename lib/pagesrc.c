/*
 * pagesrc.c -- the page source (see pagesrc.h): every read of a tree
 * file's slots and pages, in a strict mode for the engine and a tolerant
 * one for verify, dump and salvage, with one set of rules and one shape
 * of finding.
 *
 * Shape learnt from WiredTiger's block_vrfy.c (a per-fragment map that
 * every reachable or free block is marked in, then checked for holes) and
 * bt_vrfy_dsk.c (one checker per page image, run by every reader), and
 * from bbolt's single raw page reader.
 */
#include "pagesrc_int.h"
#include "cores.h"

#include <stdio.h>
#include <stdlib.h>

/* A run's first read: small, because a walk over a file whose tree pages
 * are scattered (an original wr-compact rebuilds after much churn) often
 * reads two or three adjacent pages and jumps; a 64 KiB first window read
 * 2.9x the tree's bytes there (1.3 GB for a 456 MB tree), 8 KiB reads
 * 1.15x. A long sequential scan doubles up to WRI_PS_RUN_MAX in a few
 * reads all the same. */
#define PS_RUN_MIN (8u << 10)

static int ps_pread_file(wri_ps *ps, void *buf, size_t len, uint64_t off,
                         size_t *got, wr_errbuf *eb);

/* --- findings ------------------------------------------------------------ */

static const struct {
    const char *name;
    const char *help;
} ps_checks[WR_CHECK_NCHECKS] = {
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
                           "(strict check) and its _id equals its key"},
    [WR_CHECK_INDEX] = {"index",
                        "every index entry points at an existing document "
                        "whose field holds the value; every document has "
                        "exactly the entries it implies"},
    [WR_CHECK_CATALOG] = {"catalog",
                          "the catalog decodes; every file it names exists, "
                          "has the role it claims and holds the generation "
                          "the catalog names in one of its slots"},
    [WR_CHECK_ORPHAN] = {"orphan",
                         "every *.wr file of a database directory is named "
                         "by the catalog (another is debris of a failed or "
                         "interrupted run: no part of the database)"},
};

const char *wr_verify_check_name(int check)
{
    return check >= 0 && check < WR_CHECK_NCHECKS ? ps_checks[check].name
                                                  : "?";
}

const char *wr_verify_check_help(int check)
{
    return check >= 0 && check < WR_CHECK_NCHECKS ? ps_checks[check].help
                                                  : "";
}

void wr_verify_problem_format(const wr_finding *p, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s%spage %llu: byte %llu: %s: %s",
                     p->path ? p->path : "", p->path ? ": " : "",
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

int wri_ps_finding(wri_ps *ps, wr_errbuf *eb, int check, uint64_t page,
                   uint64_t off, const char *expected, const char *found,
                   const char *fmt, ...)
{
    wr_finding f;
    va_list ap;
    int rc = wri_ps_intact(ps, eb);
    if (rc != WR_OK)
        return rc;
    memset(&f, 0, sizeof f);
    f.path = ps->path;
    f.check = check;
    f.gen = ps->gen;
    f.page = page;
    f.offset = off;
    snprintf(f.expected, sizeof f.expected, "%s", expected ? expected : "");
    snprintf(f.found, sizeof f.found, "%s", found ? found : "");
    va_start(ap, fmt);
    vsnprintf(f.detail, sizeof f.detail, fmt, ap);
    va_end(ap);
    ps->nfindings++;
    if (ps->cfg.tolerant) {
        if (ps->cfg.sink != NULL)
            ps->cfg.sink(&f, ps->cfg.sink_arg);
        return WRI_PS_BAD;
    }
    char line[1024];
    wr_verify_problem_format(&f, line, sizeof line);
    return WR_ERR(eb, WR_ECORRUPT, "%s", line);
}

const char *wri_ps_u64(char *buf, uint64_t v)
{
    snprintf(buf, 32, "%llu", (unsigned long long)v);
    return buf;
}

const char *wri_ps_hex32(char *buf, uint32_t v)
{
    snprintf(buf, 32, "0x%08x", v);
    return buf;
}

bool wri_ps_stop(const wri_ps *ps)
{
    return (ps->cfg.interrupted != NULL && *ps->cfg.interrupted) ||
           (ps->halt != NULL &&
            atomic_load_explicit(ps->halt, memory_order_relaxed));
}

/* --- opening and the slots ----------------------------------------------- */

static bool ps_pow2_page(uint32_t p)
{
    return p >= WRI_PAGE_MIN && p <= WRI_PAGE_MAX && (p & (p - 1)) == 0;
}

/* What one probe of a slot position found. */
typedef struct ps_probe {
    wri_slot_state st;
    bool magic;
    uint8_t raw[WRI_SLOT_LEN];
    size_t rawlen;
    uint64_t off;
    int drc; /* wri_slot_decode's verdict */
} ps_probe;

static int ps_probe_at(wri_ps *ps, uint64_t off, ps_probe *pr, wr_errbuf *eb)
{
    int rc;
    memset(pr, 0, sizeof *pr);
    pr->off = off;
    pr->drc = WR_ECORRUPT;
    if (off >= ps->fsize) {
        snprintf(pr->st.why, sizeof pr->st.why,
                 "missing: the file is only %llu bytes",
                 (unsigned long long)ps->fsize);
        return WR_OK;
    }
    if ((rc = ps_pread_file(ps, pr->raw, sizeof pr->raw, off, &pr->rawlen,
                            eb)) != WR_OK)
        return rc;
    pr->magic = pr->rawlen >= WRI_SLOT_MAGIC_OFF + 8 &&
                memcmp(pr->raw + WRI_SLOT_MAGIC_OFF, WRI_SLOT_MAGIC, 8) == 0;
    pr->drc = wri_slot_decode(pr->raw, pr->rawlen, &pr->st.slot, pr->st.why,
                              sizeof pr->st.why);
    pr->st.valid = pr->drc == WR_OK;
    return WR_OK;
}

static void ps_keep(wri_ps *ps, int i, const ps_probe *pr)
{
    ps->slots[i] = pr->st;
    ps->magic[i] = pr->magic;
    memcpy(ps->raw[i], pr->raw, sizeof pr->raw);
    ps->rawlen[i] = pr->rawlen;
    ps->slot_off[i] = pr->off;
}

/* docs/FORMAT.md "Choosing a slot on open", steps 1-3. */
static int ps_probe_slots(wri_ps *ps, wr_errbuf *eb)
{
    int rc;
    ps_probe pr;
    if ((rc = ps_probe_at(ps, 0, &pr, eb)) != WR_OK)
        return rc;
    if (pr.drc == WR_EVERSION)
        return WR_ERR(eb, WR_EVERSION, "%s: slot 0: %s", ps->path,
                      pr.st.why);
    ps_keep(ps, 0, &pr);
    if (ps->slots[0].valid) {
        uint32_t P = ps->slots[0].slot.page_size;
        ps->P = P;
        if ((rc = ps_probe_at(ps, P, &pr, eb)) != WR_OK)
            return rc;
        if (pr.drc == WR_EVERSION)
            return WR_ERR(eb, WR_EVERSION, "%s: slot 1: %s", ps->path,
                          pr.st.why);
        if (pr.st.valid && pr.st.slot.page_size != P) {
            pr.st.valid = false;
            snprintf(pr.st.why, sizeof pr.st.why,
                     "page size %u disagrees with slot 0's %u",
                     pr.st.slot.page_size, P);
        }
        ps_keep(ps, 1, &pr);
        return WR_OK;
    }
    /* Slot 1 sits at offset P, and P is known only from a slot: probe
     * every possible page size, the one slot 0 claims first. */
    uint32_t claimed = 0;
    if (ps->magic[0] && ps->rawlen[0] >= WRI_SLOT_PAGESIZE + 4 &&
        ps_pow2_page(wri_get32(ps->raw[0] + WRI_SLOT_PAGESIZE)))
        claimed = wri_get32(ps->raw[0] + WRI_SLOT_PAGESIZE);
    bool found = false, kept = false;
    ps_probe keep;
    char first_why[sizeof keep.st.why] = "";
    memset(&keep, 0, sizeof keep);
    for (int k = -1; k <= 7 && !found; k++) {
        uint32_t P = k < 0 ? claimed : WRI_PAGE_MIN << k;
        if (P == 0 || (k >= 0 && P == claimed))
            continue;
        if ((rc = ps_probe_at(ps, P, &pr, eb)) != WR_OK)
            return rc;
        if (pr.drc == WR_EVERSION && pr.st.slot.page_size == P)
            return WR_ERR(eb, WR_EVERSION, "%s: slot 1 at offset %u: %s",
                          ps->path, P, pr.st.why);
        if (pr.st.valid && pr.st.slot.page_size == P) {
            ps_keep(ps, 1, &pr);
            ps->P = P;
            found = true;
        } else if ((pr.magic || k < 0) && !kept) {
            snprintf(first_why, sizeof first_why, "%.200s",
                     pr.st.valid ? "page size field disagrees with its offset"
                                 : pr.st.why);
            keep = pr;
            kept = true;
        }
    }
    if (!found) {
        if (kept) {
            ps_keep(ps, 1, &keep);
            ps->magic[1] = keep.magic;
        } else {
            memset(&keep, 0, sizeof keep);
            keep.off = claimed ? claimed : WRI_PAGE_DEFAULT;
            ps_keep(ps, 1, &keep);
        }
        ps->slots[1].valid = false;
        if (first_why[0] != '\0')
            snprintf(ps->slots[1].why, sizeof ps->slots[1].why, "%s",
                     first_why);
        else
            snprintf(ps->slots[1].why, sizeof ps->slots[1].why,
                     "no slot at any power-of-two offset %u..%u",
                     WRI_PAGE_MIN, WRI_PAGE_MAX);
        ps->P = claimed;
    }
    return WR_OK;
}

void wri_ps_close(wri_ps *ps)
{
    if (ps == NULL)
        return;
    wri_io_unmap(ps->mapped, ps->mapped_len);
    if (ps->own_file)
        wri_io_close(ps->f);
    wri_io_ring_free(ps->ring);
    free(ps->pf_buf);
    free(ps->map);
    free(ps->run);
    free(ps->path);
    free(ps);
}

/* A twin's sink: its first finding stops it (the walk makes the
 * findings of that half itself). */
static void ps_twin_sink(const wr_finding *f, void *arg)
{
    (void)f;
    atomic_store_explicit((atomic_int *)arg, 1, memory_order_relaxed);
}

int wri_ps_twin(const wri_ps *ps, wri_ps **out, wr_errbuf *eb)
{
    wri_ps *tw;
    *out = NULL;
    if (ps->mapped != NULL)
        return WR_ERR(eb, WR_EINVAL, "%s: a mapped source has no twin",
                      ps->path);
    /* on lines of its own: written by its thread */
    if ((tw = wri_calloc_lines(sizeof *tw)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", ps->path);
    /* what it shares: the file as opened, its slots and checkpoint; all
     * else is the reader's own and starts empty (run buffer, ownership
     * map, no ring: a twin reads page by page, cfg.batch is compact's;
     * no mapping, so no guard; counters) */
    tw->f = ps->f;
    tw->fsize = ps->fsize;
    tw->P = ps->P;
    memcpy(tw->slots, ps->slots, sizeof tw->slots);
    memcpy(tw->magic, ps->magic, sizeof tw->magic);
    memcpy(tw->raw, ps->raw, sizeof tw->raw);
    memcpy(tw->rawlen, ps->rawlen, sizeof tw->rawlen);
    memcpy(tw->slot_off, ps->slot_off, sizeof tw->slot_off);
    tw->cfg = ps->cfg;
    tw->gen = ps->gen;
    tw->nblocks = ps->nblocks;
    tw->shrank_at = ps->shrank_at;
    tw->path = strdup(ps->path);
    if (ps->map != NULL)
        tw->map = calloc(ps->nblocks / 4 + 1, 1);
    if (tw->path == NULL || (ps->map != NULL && tw->map == NULL)) {
        wri_ps_close(tw);
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", ps->path);
    }
    atomic_init(&tw->halt_flag, 0);
    tw->halt = &tw->halt_flag;
    tw->cfg.sink = ps_twin_sink;
    tw->cfg.sink_arg = tw->halt;
    *out = tw;
    return WR_OK;
}

/* The one verdict on a file that changed under its reader, for both ways
 * of reading it: a read through the mapping faulted (the guard says
 * where), or a pread came back shorter than the file was when opened
 * (shrank_at). The reader holds the directory's lock, so something that
 * ignores it changed the file: what was read is not the file, and no
 * damage may be concluded from it (DESIGN 12: environment, exit 3). A
 * file already shorter when opened than its checkpoint needs is damage
 * (truncated), found by the address and size checks against fsize. */
int wri_ps_intact(wri_ps *ps, wr_errbuf *eb)
{
    uint64_t at = 0;
    if (wri_io_map_changed(ps->guard, &at))
        return WR_ERR(eb, WR_EIO,
                      "%s: the file changed or shrank while it was read (a "
                      "read through its mapping failed at offset %llu of "
                      "%llu bytes: truncated by a writer that does not take "
                      "the lock, or a page the disk could not return); "
                      "nothing was concluded from it",
                      ps->path, (unsigned long long)at,
                      (unsigned long long)ps->mapped_len);
    if (ps->shrank_at == 0)
        return WR_OK;
    return WR_ERR(eb, WR_EIO,
                  "%s: the file changed or shrank while it was read (a read "
                  "at offset %llu found it shorter than the %llu bytes it "
                  "had when opened: truncated by a writer that does not "
                  "take the lock); nothing was concluded from it",
                  ps->path, (unsigned long long)(ps->shrank_at - 1),
                  (unsigned long long)ps->fsize);
}

/* pread len bytes at off from the file: a read that ends before the size
 * the file had when opened (fsize) means it shrank meanwhile: that
 * offset is kept, and wri_ps_intact says so, now and at every later
 * read and finding. */
static int ps_pread_file(wri_ps *ps, void *buf, size_t len, uint64_t off,
                         size_t *got, wr_errbuf *eb)
{
    int rc;
    ps->preads++;
    if ((rc = wri_io_pread_some(ps->f, buf, len, off, got, eb)) != WR_OK)
        return rc;
    uint64_t want = off < ps->fsize ? WRI_MIN((uint64_t)len, ps->fsize - off)
                                    : 0;
    if (*got < want && ps->shrank_at == 0)
        ps->shrank_at = 1 + off + *got;
    return wri_ps_intact(ps, eb);
}

int wri_ps_refresh_size(wri_ps *ps, wr_errbuf *eb)
{
    uint64_t now = 0;
    int rc = wri_io_size(ps->f, &now, eb);
    if (rc == WR_OK)
        ps->fsize = now;
    return rc;
}

int wri_ps_open_file(wri_file *f, const char *path, const wri_ps_cfg *cfg,
                     wri_ps **out, wr_errbuf *eb)
{
    int rc;
    wri_ps *ps = wri_calloc_lines(sizeof *ps); /* beside a twin's */
    *out = NULL;
    if (ps == NULL || (ps->path = strdup(path)) == NULL) {
        free(ps);
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
    }
    ps->f = f;
    if (cfg != NULL)
        ps->cfg = *cfg;
    if ((rc = wri_ps_refresh_size(ps, eb)) != WR_OK)
        goto fail;
    if (ps->fsize == 0 && !ps->cfg.any_file) {
        rc = WR_ERR(eb, WR_ENOTOURS,
                    "%s is empty (0 bytes), not a wrtools tree file", path);
        goto fail;
    }
    if ((rc = ps_probe_slots(ps, eb)) != WR_OK)
        goto fail;
    if (!ps->slots[0].valid && !ps->slots[1].valid && !ps->magic[0] &&
        !ps->magic[1] && !ps->cfg.any_file) {
        rc = WR_ERR(eb, WR_ENOTOURS,
                    "%s is not a wrtools tree file (no \"WRTREE\" magic in "
                    "either header slot; %llu bytes)",
                    path, (unsigned long long)ps->fsize);
        goto fail;
    }
    *out = ps;
    return WR_OK;
fail:
    wri_ps_close(ps);
    return rc;
}

int wri_ps_open(const char *path, const wri_ps_cfg *cfg, wri_ps **out,
                wr_errbuf *eb)
{
    int rc;
    wri_file *f = NULL;
    *out = NULL;
    if ((rc = wri_io_open(path, WRI_IO_RDONLY, &f, eb)) != WR_OK)
        return rc;
    if ((rc = wri_ps_open_file(f, path, cfg, out, eb)) != WR_OK) {
        wri_io_close(f);
        return rc;
    }
    (*out)->own_file = true;
    if (cfg != NULL && cfg->batch && cfg->readahead &&
        ((*out)->ring = wri_io_ring_new()) != NULL) {
        wri_io_advise_sequential(f); /* batches; never mapped */
    } else if (cfg != NULL && cfg->map && (*out)->fsize > 0 &&
        ((*out)->mapped = wri_io_map_cached(f, (*out)->fsize)) != NULL) {
        (*out)->mapped_len = (*out)->fsize;
        (*out)->guard = wri_io_map_guard((*out)->mapped);
    } else if (cfg != NULL && cfg->readahead) {
        wri_io_advise_sequential(f);
    }
    return WR_OK;
}

int wri_ps_choose(const wri_ps *ps, int which, uint64_t gen, int *slot_out,
                  wr_errbuf *eb)
{
    bool v0 = ps->slots[0].valid, v1 = ps->slots[1].valid;
    uint64_t g0 = ps->slots[0].slot.gen, g1 = ps->slots[1].slot.gen;
    *slot_out = -1;
    if (!v0 && !v1)
        return WR_ERR(eb, WR_ECORRUPT,
                      "%s: both checkpoint slots are invalid: slot 0: %s; "
                      "slot 1 (offset %llu): %s",
                      ps->path, ps->slots[0].why,
                      (unsigned long long)ps->slot_off[1], ps->slots[1].why);
    int newest = !v0 ? 1 : !v1 ? 0 : (g1 > g0 ? 1 : 0);
    if (which == WRI_PS_GEN) {
        if (v0 && g0 == gen) {
            *slot_out = 0;
            return WR_OK;
        }
        if (v1 && g1 == gen) {
            *slot_out = 1;
            return WR_OK;
        }
        char have[64];
        if (v0 && v1)
            snprintf(have, sizeof have, "%llu and %llu",
                     (unsigned long long)WRI_MIN(g0, g1),
                     (unsigned long long)WRI_MAX(g0, g1));
        else
            snprintf(have, sizeof have, "only %llu",
                     (unsigned long long)(v0 ? g0 : g1));
        return WR_ERR(eb, WR_ENOTFOUND,
                      "%s has no checkpoint of generation %llu (valid "
                      "generations: %s)",
                      ps->path, (unsigned long long)gen, have);
    }
    if (which == WRI_PS_PREVIOUS) {
        if (!(v0 && v1)) {
            int bad = v0 ? 1 : 0;
            return WR_ERR(eb, WR_ENOTFOUND,
                          "%s has no previous checkpoint: only generation "
                          "%llu is valid (slot %d: %s)",
                          ps->path, (unsigned long long)(v0 ? g0 : g1), bad,
                          ps->slots[bad].why);
        }
        *slot_out = 1 - newest;
        return WR_OK;
    }
    *slot_out = newest;
    return WR_OK;
}

bool wri_ps_slot_damaged(const wri_ps *ps, int i)
{
    const wri_slot_state *st = &ps->slots[i];
    if (st->valid || strncmp(st->why, "all zero", 8) == 0)
        return false;
    return !(strncmp(st->why, "missing", 7) == 0 && ps->slots[1 - i].valid);
}

void wri_ps_check_slot(wri_ps *ps, int i, int chosen)
{
    const wri_slot_state *st = &ps->slots[i];
    uint64_t save = ps->gen;
    if (!wri_ps_slot_damaged(ps, i))
        return;
    ps->gen = 0;
    if (chosen >= 0)
        (void)wri_ps_finding(ps, NULL, WR_CHECK_HEADER, ps->slot_off[i],
                             ps->slot_off[i], NULL, NULL,
                             "slot %d rejected: %s (slot %d, generation "
                             "%llu, is used)",
                             i, st->why, chosen,
                             (unsigned long long)ps->slots[chosen].slot.gen);
    else
        (void)wri_ps_finding(ps, NULL, WR_CHECK_HEADER, ps->slot_off[i],
                             ps->slot_off[i], NULL, NULL,
                             "slot %d rejected: %s", i, st->why);
    ps->gen = save;
}

void wri_ps_check_slots(wri_ps *ps, int chosen)
{
    char x[64], y[64];
    uint64_t P = ps->P;
    uint64_t save = ps->gen;
    for (int i = 0; i < 2; i++)
        wri_ps_check_slot(ps, i, chosen);
    ps->gen = 0;
    if (ps->slots[0].valid && ps->slots[1].valid) {
        const wri_slot *a = &ps->slots[0].slot, *s = &ps->slots[1].slot;
        if (a->gen == s->gen)
            (void)wri_ps_finding(ps, NULL, WR_CHECK_HEADER, P,
                                 P + WRI_SLOT_GEN,
                                 "two different generations",
                                 wri_ps_u64(y, a->gen),
                                 "both slots hold the same generation");
        if (a->role != s->role || strcmp(a->coll, s->coll) != 0 ||
            strcmp(a->field, s->field) != 0) {
            snprintf(x, sizeof x, "role %u \"%.20s\" \"%.20s\"", a->role,
                     a->coll, a->field);
            snprintf(y, sizeof y, "role %u \"%.20s\" \"%.20s\"", s->role,
                     s->coll, s->field);
            (void)wri_ps_finding(ps, NULL, WR_CHECK_HEADER, P,
                                 P + WRI_SLOT_ROLE, x, y,
                                 "the slots disagree on what the file is");
        }
    }
    /* the rest of a valid slot's block is zero (FORMAT.md) */
    for (int i = 0; i < 2 && P > WRI_SLOT_LEN; i++) {
        uint8_t *tail;
        size_t got = 0;
        wr_errbuf e = {0};
        if (!ps->slots[i].valid || (tail = malloc(P)) == NULL)
            continue;
        uint64_t at = ps->slot_off[i] + WRI_SLOT_LEN;
        if (wri_ps_pread(ps, tail, P - WRI_SLOT_LEN, at, &got, &e) == WR_OK)
            for (size_t z = 0; z < got; z++)
                if (tail[z] != 0) {
                    (void)wri_ps_finding(ps, NULL, WR_CHECK_HEADER,
                                         ps->slot_off[i], at + z, "0", NULL,
                                         "slot %d: the rest of its block "
                                         "after byte 512 is not zero",
                                         i);
                    break;
                }
        free(tail);
    }
    /* a valid slot whose pages lie past the end: truncated */
    for (int i = 0; i < 2; i++) {
        const wri_slot *s = &ps->slots[i].slot;
        if (!ps->slots[i].valid)
            continue;
        const wr_addr *need[2] = {&s->root, &s->extlist};
        for (int k = 0; k < 2; k++)
            if (need[k]->off != 0 &&
                need[k]->off + need[k]->size > ps->fsize)
                (void)wri_ps_finding(
                    ps, NULL, WR_CHECK_SPACE, need[k]->off, ps->fsize,
                    wri_ps_u64(x, need[k]->off + need[k]->size),
                    wri_ps_u64(y, ps->fsize),
                    "file is truncated: slot %d (generation %llu) needs its "
                    "%s at %llu",
                    i, (unsigned long long)s->gen,
                    k ? "first extent-list page" : "root page",
                    (unsigned long long)need[k]->off);
    }
    ps->gen = save;
}

uint32_t wri_ps_version(const wri_ps *ps)
{
    uint32_t v = 0;
    for (int i = 0; i < 2; i++)
        if (ps->slots[i].valid)
            v = WRI_MAX(v, ps->slots[i].slot.version);
    return v != 0 ? v : WR_FORMAT_VERSION;
}

bool wri_ps_slot_readable(const wri_ps *ps, int i)
{
    const wri_slot *s = &ps->slots[i].slot;
    if (i < 0 || !ps->slots[i].valid)
        return false;
    if (s->root.off != 0 && s->root.off + s->root.size > ps->fsize)
        return false;
    if (s->extlist.off != 0 &&
        s->extlist.off + s->extlist.size > ps->fsize)
        return false;
    return true;
}

int wri_ps_begin(wri_ps *ps, int slot, bool map, wr_errbuf *eb)
{
    int rc;
    char x[32], y[32];
    const wri_slot *s = &ps->slots[slot].slot;
    ps->gen = s->gen;
    if (s->logical_size > ps->fsize &&
        (rc = wri_ps_finding(ps, eb, WR_CHECK_SPACE, 0, ps->fsize,
                             wri_ps_u64(x, s->logical_size), wri_ps_u64(y, ps->fsize),
                             "file is shorter than checkpoint %llu's logical "
                             "size (truncated)",
                             (unsigned long long)s->gen)) < 0)
        return rc;
    if (map)
        return wri_ps_map_begin(ps, s->logical_size, eb);
    wri_ps_map_end(ps);
    return WR_OK;
}

/* --- reads ----------------------------------------------------------------- */

/* Is [off, off + len) the next page read ahead (or one soon after it:
 * pages the walk skipped)? Then *out points at it. */
static bool ps_pf_take(wri_ps *ps, size_t len, uint64_t off,
                       const uint8_t **out, size_t *got)
{
    for (size_t i = ps->pf_next; i < ps->pf_n; i++) {
        const wri_io_rd *r = &ps->pf[i];
        if (r->off != off)
            continue;
        if (r->len != len || r->got != (int64_t)len)
            return false; /* not what the batch read: read it again */
        ps->pf_next = i + 1;
        ps->pf_taken++;
        *out = ps->pf_buf + ps->pf_at[i];
        *got = len;
        return true;
    }
    return false;
}

size_t wri_ps_prefetch(wri_ps *ps, const wr_addr *a, size_t n)
{
    uint64_t P = ps->P;
    size_t i = 0, k = 0, bytes = 0;
    if (ps->ring == NULL || P == 0 || n == 0)
        return n;
    if (ps->pf_buf == NULL) { /* with a pad after it (wri_ps_walk.item) */
        if ((ps->pf_buf = aligned_alloc(4096, WRI_PS_PF_BYTES + 4096)) ==
            NULL)
            return n;
        memset(ps->pf_buf + WRI_PS_PF_BYTES, 0, 4096);
    }
    for (; i < n && k < WRI_PS_PF_MAX; i++) {
        uint64_t off = a[i].off, size = a[i].size;
        if (size == 0 || size % P != 0 || off % P != 0 || off < 2 * P ||
            off > ps->fsize || size > ps->fsize - off)
            continue; /* the read checks it, and says why */
        if (bytes + size > WRI_PS_PF_BYTES)
            break;
        ps->pf[k] = (wri_io_rd){.buf = ps->pf_buf + bytes,
                                .len = (uint32_t)size,
                                .off = off};
        ps->pf_at[k++] = bytes;
        bytes += size;
    }
    ps->pf_n = k;
    ps->pf_next = 0;
    if (k > 0) {
        wri_io_pread_batch(ps->ring, ps->f, ps->pf, k);
        ps->preads++;
        ps->batches++;
    }
    return i > 0 ? i : 1;
}

/* Up to len bytes at off: *out points at them in the mapping (cfg.map),
 * or in the run buffer when it holds them, or when this read continues
 * the previous one (a sequential scan: the run is refilled from off),
 * until the next read; else they are read straight from the file into
 * buf (*out = buf). */
static int ps_view(wri_ps *ps, uint8_t *buf, size_t len, uint64_t off,
                   const uint8_t **out, size_t *got, wr_errbuf *eb)
{
    int rc;
    *got = 0;
    *out = buf;
    /* (only a mapped source or one already shrunk can fail: no call per
     * read otherwise) */
    if ((ps->guard != NULL || ps->shrank_at != 0) &&
        (rc = wri_ps_intact(ps, eb)) != WR_OK)
        return rc;
    if (ps->pf_next < ps->pf_n && ps_pf_take(ps, len, off, out, got))
        return WR_OK;
    if (ps->mapped != NULL) { /* the file's size when it was opened */
        if (off < ps->mapped_len) {
            *out = ps->mapped + off;
            *got = (size_t)WRI_MIN((uint64_t)len, ps->mapped_len - off);
        }
        return WR_OK;
    }
    if (ps->run_len > 0 && off >= ps->run_off &&
        len <= ps->run_len && off - ps->run_off <= ps->run_len - len) {
        *out = ps->run + (off - ps->run_off);
        *got = len;
        ps->seq_next = off + len;
        ps->seq_bytes += len;
        return WR_OK;
    }
    bool seq = ps->cfg.readahead && off == ps->seq_next &&
               len <= WRI_PS_RUN_MAX / 2;
    if (!seq) {
        /* the window starts small again after a short sequential stretch
         * (scattered pages), not after a long one that a read elsewhere
         * interrupts (an internal page between runs of leaves). A stretch
         * is measured in the bytes it read, not from where it began: a
         * leaf level whose internal pages lie after their leaves is read
         * internal page, then its leaves, before that page's offset */
        uint64_t covered = ps->seq_bytes;
        bool short_run = covered < WRI_PS_RUN_MAX;
        if (short_run && (covered > ps->seq_first || ps->seq_short_before))
            ps->run_win = 0;
        ps->seq_short_before = short_run;
        ps->seq_bytes = len;
        ps->seq_first = len;
        ps->seq_next = off + len;
        return ps_pread_file(ps, buf, len, off, got, eb);
    }
    ps->seq_next = off + len;
    ps->seq_bytes += len;
    size_t win = ps->run_win ? ps->run_win * 2 : PS_RUN_MIN;
    win = WRI_MIN(win, (size_t)WRI_PS_RUN_MAX);
    win = WRI_MAX(win, len);
    if (ps->run == NULL) { /* with a pad after it (wri_ps_walk.item) */
        if ((ps->run = aligned_alloc(4096, WRI_PS_RUN_MAX + 4096)) == NULL)
            return ps_pread_file(ps, buf, len, off, got, eb);
        memset(ps->run + WRI_PS_RUN_MAX, 0, 4096);
    }
    ps->run_win = win;
    ps->run_len = 0;
    if ((rc = ps_pread_file(ps, ps->run, win, off, &ps->run_len, eb)) !=
        WR_OK) {
        ps->run_len = 0;
        return rc;
    }
    ps->run_off = off;
    *got = WRI_MIN(len, ps->run_len);
    *out = ps->run;
    return WR_OK;
}

/* Read len bytes at off into buf, through the run buffer (ps_view). */
int wri_ps_pread(wri_ps *ps, void *buf, size_t len, uint64_t off,
                    size_t *got, wr_errbuf *eb)
{
    const uint8_t *at;
    int rc = ps_view(ps, buf, len, off, &at, got, eb);
    if (rc == WR_OK && at != buf && *got > 0)
        memcpy(buf, at, *got);
    return rc;
}

int wri_ps_read_raw(wri_ps *ps, uint64_t off, void *buf, size_t len,
                    size_t *got, wr_errbuf *eb)
{
    return wri_ps_pread(ps, buf, len, off, got, eb);
}

int wri_ps_addr_check(wri_ps *ps, const wr_addr *a, uint32_t want_size,
                      uint64_t lsize, uint64_t ref_page, uint64_t ref_off,
                      const char *what, wr_errbuf *eb)
{
    int rc;
    uint64_t P = ps->P;
    char e[64], g[64];
    if (want_size != 0 && a->size != want_size)
        return wri_ps_finding(ps, eb, WR_CHECK_PAGE, ref_page, ref_off,
                              wri_ps_u64(e, want_size), wri_ps_u64(g, a->size),
                              "address of %s [%llu, +%u) is not %u bytes "
                              "long",
                              what, (unsigned long long)a->off, a->size,
                              want_size);
    if (P == 0 || a->off < 2 * P || a->off % P != 0 || a->size == 0 ||
        a->size % P != 0) {
        snprintf(e, sizeof e, "a multiple of %llu, >= %llu",
                 (unsigned long long)P, (unsigned long long)(2 * P));
        snprintf(g, sizeof g, "[%llu, +%u)", (unsigned long long)a->off,
                 a->size);
        return wri_ps_finding(ps, eb, WR_CHECK_PAGE, ref_page, ref_off, e, g,
                              "address of %s is not a page of the data area",
                              what);
    }
    if (a->off >= lsize || a->size > lsize - a->off) {
        snprintf(e, sizeof e, "below %llu", (unsigned long long)lsize);
        snprintf(g, sizeof g, "[%llu, %llu)", (unsigned long long)a->off,
                 (unsigned long long)(a->off + a->size));
        return wri_ps_finding(ps, eb, WR_CHECK_SPACE, ref_page, ref_off, e, g,
                              "%s lies past the checkpoint's logical size",
                              what);
    }
    if (a->off >= ps->fsize || a->size > ps->fsize - a->off) {
        /* a writer's own file grows: ask before calling it truncated */
        if (!ps->cfg.readahead && (rc = wri_ps_refresh_size(ps, eb)) != WR_OK)
            return rc;
        if (a->off >= ps->fsize || a->size > ps->fsize - a->off) {
            snprintf(e, sizeof e, "file of at least %llu bytes",
                     (unsigned long long)(a->off + a->size));
            snprintf(g, sizeof g, "%llu bytes",
                     (unsigned long long)ps->fsize);
            return wri_ps_finding(ps, eb, WR_CHECK_SPACE, a->off, a->off, e,
                                  g,
                                  "%s [%llu, %llu) lies past the end of the "
                                  "file (truncated)",
                                  what, (unsigned long long)a->off,
                                  (unsigned long long)(a->off + a->size));
        }
    }
    return WR_OK;
}

/* wri_ps_read; with inplace, *page points at the bytes where ps_view
 * found them (the run buffer, or buf), else they are in buf. */
static int ps_read_page(wri_ps *ps, const wr_addr *a, uint8_t *buf,
                        bool inplace, const uint8_t **page, const char *what,
                        bool *raw_ok, wr_errbuf *eb)
{
    int rc;
    size_t got = 0;
    char x[32], y[32];
    if (raw_ok != NULL)
        *raw_ok = false;
    *page = buf;
    if ((rc = inplace ? ps_view(ps, buf, a->size, a->off, page, &got, eb)
                      : wri_ps_pread(ps, buf, a->size, a->off, &got, eb)) !=
        WR_OK)
        return rc;
    const uint8_t *b = *page;
    if (got != a->size)
        return wri_ps_finding(ps, eb, WR_CHECK_SPACE, a->off, a->off + got,
                              wri_ps_u64(x, a->size), wri_ps_u64(y, got),
                              "%s: only %zu of %u bytes could be read "
                              "(past the end of the file: truncated)",
                              what, got, a->size);
    if (raw_ok != NULL)
        *raw_ok = true;
    uint32_t stored = wri_get32(b + WRI_PH_CRC);
    uint32_t computed = wri_page_crc(b, a->size);
    if (stored != computed) {
        char z[80] = "";
        if (stored != a->crc)
            snprintf(z, sizeof z, "; its address expects 0x%08x, not the "
                                  "stored CRC either", a->crc);
        return wri_ps_finding(
            ps, eb, WR_CHECK_CHECKSUM, a->off, a->off, wri_ps_hex32(x, stored),
            wri_ps_hex32(y, computed),
            "%s: CRC mismatch: the CRC stored in the page (expected) is not "
            "the one its bytes give (found): torn or damaged page%s",
            what, z);
    }
    if (stored != a->crc)
        return wri_ps_finding(ps, eb, WR_CHECK_CHECKSUM, a->off, a->off,
                              wri_ps_hex32(x, a->crc), wri_ps_hex32(y, stored),
                              "%s: stale or misdirected page: intact, but "
                              "not the page its address expects",
                              what);
    uint32_t hsize = wri_get32(b + WRI_PH_SIZE);
    if (hsize != a->size)
        return wri_ps_finding(ps, eb, WR_CHECK_PAGE, a->off,
                              a->off + WRI_PH_SIZE, wri_ps_u64(x, a->size),
                              wri_ps_u64(y, hsize),
                              "%s: header size field disagrees with its "
                              "address",
                              what);
    return WR_OK;
}

int wri_ps_read(wri_ps *ps, const wr_addr *a, uint8_t *buf, const char *what,
                bool *raw_ok, wr_errbuf *eb)
{
    const uint8_t *page;
    return ps_read_page(ps, a, buf, false, &page, what, raw_ok, eb);
}

int wri_ps_tree_addr_check(wri_ps *ps, const wr_addr *a, int level,
                           uint32_t leaf_max, uint64_t lsize,
                           uint64_t ref_page, uint64_t ref_off, wr_errbuf *eb)
{
    char e[64], g[64];
    bool long_ok = leaf_max > ps->P && level <= 0;
    if (long_ok && a->size > leaf_max)
        return wri_ps_finding(ps, eb, WR_CHECK_PAGE, ref_page, ref_off,
                              wri_ps_u64(e, leaf_max), wri_ps_u64(g, a->size),
                              "address of tree page [%llu, +%u) is longer "
                              "than the longest leaf",
                              (unsigned long long)a->off, a->size);
    return wri_ps_addr_check(ps, a, long_ok ? 0 : ps->P, lsize, ref_page,
                             ref_off, "tree page", eb);
}

int wri_ps_read_tree_page(wri_ps *ps, const wr_addr *a, int level,
                          int nkeyelem, uint8_t *buf, wri_page_view *v,
                          bool *raw_ok, bool *trusted, wr_errbuf *eb)
{
    const uint8_t *page;
    wri_ps_tree_read r = {.level = level, .nkeyelem = nkeyelem, .buf = buf};
    int rc = wri_ps_view_tree_page(ps, a, &r, &page, v, raw_ok, trusted, eb);
    return rc;
}

int wri_ps_view_tree_page(wri_ps *ps, const wr_addr *a,
                          const wri_ps_tree_read *r, const uint8_t **page,
                          wri_page_view *v, bool *raw_ok, bool *trusted,
                          wr_errbuf *eb)
{
    int rc, level = r->level;
    char x[64], y[64];
    wri_page_problem pp;
    if (trusted != NULL)
        *trusted = false;
    if ((rc = ps_read_page(ps, a, r->buf, r->inplace, page, "tree page",
                           raw_ok, eb)) != WR_OK)
        return rc;
    if (trusted != NULL)
        *trusted = true;
    if (wri_page_check_cells(*page, a->size, r->nkeyelem, v, r->cells,
                             r->ncells, &pp) != WR_OK)
        return wri_ps_finding(ps, eb,
                              pp.order ? WR_CHECK_ORDERING : WR_CHECK_PAGE,
                              a->off, a->off + pp.off, NULL, NULL, "%s",
                              pp.what);
    if (v->type != WRI_PT_LEAF && v->size != ps->P)
        return wri_ps_finding(ps, eb, WR_CHECK_PAGE, a->off,
                              a->off + WRI_PH_SIZE, wri_ps_u64(x, ps->P),
                              wri_ps_u64(y, v->size),
                              "an internal page is one block; only a leaf "
                              "may be longer");
    if ((level >= 0 && v->level != level) || v->level >= WRI_PS_MAX_DEPTH) {
        if (level >= 0)
            snprintf(x, sizeof x, "%d", level);
        else
            snprintf(x, sizeof x, "below %d", WRI_PS_MAX_DEPTH);
        return wri_ps_finding(ps, eb, WR_CHECK_PAGE, a->off,
                              a->off + WRI_PH_LEVEL, x, wri_ps_u64(y, v->level),
                              "page level does not fit its place in the tree "
                              "(leaves must all be at one depth)");
    }
    return WR_OK;
}

/* --- the ownership map ----------------------------------------------------- */

static const char *ps_owner(int who)
{
    switch (who) {
    case WRI_OWN_TREE:
        return "a page reachable from the root";
    case WRI_OWN_LIST:
        return "an extent-list page";
    case WRI_OWN_FREE:
        return "a free (avail or discard) extent";
    default:
        return "nothing";
    }
}

int wri_ps_map_begin(wri_ps *ps, uint64_t lsize, wr_errbuf *eb)
{
    wri_ps_map_end(ps);
    if (ps->P == 0)
        return WR_OK;
    ps->nblocks = WRI_MIN(lsize, ps->fsize) / ps->P;
    if ((ps->map = calloc(ps->nblocks / 4 + 1, 1)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory for the map of %s",
                      ps->path);
    return WR_OK;
}

void wri_ps_map_end(wri_ps *ps)
{
    free(ps->map);
    ps->map = NULL;
    ps->nblocks = 0;
}

static int ps_map_get(const wri_ps *ps, uint64_t b)
{
    return (ps->map[b / 4] >> ((b % 4) * 2)) & 3;
}

static void ps_map_set(wri_ps *ps, uint64_t b, int v)
{
    ps->map[b / 4] = (uint8_t)((ps->map[b / 4] & ~(3u << ((b % 4) * 2))) |
                               ((unsigned)v << ((b % 4) * 2)));
}

int wri_ps_mark(wri_ps *ps, uint64_t off, uint64_t len, int who)
{
    int first = WRI_OWN_NONE;
    if (ps->map == NULL)
        return WRI_OWN_NONE;
    uint64_t b0 = off / ps->P, n = len / ps->P;
    for (uint64_t b = b0; b < b0 + n && b < ps->nblocks; b++) {
        int old = ps_map_get(ps, b);
        if (old != WRI_OWN_NONE) {
            if (first == WRI_OWN_NONE)
                first = old;
        } else {
            ps_map_set(ps, b, who);
        }
    }
    return first;
}

int wri_ps_overlap(wri_ps *ps, uint64_t off, uint64_t len, int old,
                      const char *what, wr_errbuf *eb)
{
    char e[64], g[64];
    snprintf(e, sizeof e, "owned only by %s", what);
    snprintf(g, sizeof g, "also %s", ps_owner(old));
    return wri_ps_finding(ps, eb, WR_CHECK_SPACE, off, off, e, g,
                          "%s [%llu, %llu) overlaps %s", what,
                          (unsigned long long)off,
                          (unsigned long long)(off + len), ps_owner(old));
}

uint64_t wri_ps_leaks(wri_ps *ps, uint64_t lsize)
{
    uint64_t P = ps->P, total = 0;
    char x[64], y[64];
    if (ps->map == NULL)
        return 0;
    uint64_t end = WRI_MIN(ps->nblocks, lsize / P);
    for (uint64_t b = 2; b < end;) {
        if (ps_map_get(ps, b) != WRI_OWN_NONE) {
            b++;
            continue;
        }
        uint64_t s = b;
        while (b < end && ps_map_get(ps, b) == WRI_OWN_NONE)
            b++;
        uint64_t bytes = (b - s) * P;
        total += bytes;
        snprintf(x, sizeof x, "owned by a page or an extent");
        snprintf(y, sizeof y, "[%llu, %llu) owned by nobody",
                 (unsigned long long)(s * P), (unsigned long long)(b * P));
        (void)wri_ps_finding(ps, NULL, WR_CHECK_SPACE, s * P, s * P, x, y,
                             "leaked space: %llu bytes (%llu blocks) neither "
                             "reachable nor free",
                             (unsigned long long)bytes,
                             (unsigned long long)(b - s));
    }
    return total;
}

/* --- overflow values ------------------------------------------------------- */

int wri_ps_read_overflow(wri_ps *ps, const wri_cell *c, uint64_t lsize,
                         uint64_t page, uint8_t **buf, size_t *cap,
                         const uint8_t **val, wr_errbuf *eb)
{
    const uint8_t *raw;
    return wri_ps_read_overflow_raw(ps, c, lsize, page, buf, cap, val, &raw,
                                    eb);
}

int wri_ps_read_overflow_raw(wri_ps *ps, const wri_cell *c, uint64_t lsize,
                             uint64_t page, uint8_t **buf, size_t *cap,
                             const uint8_t **val, const uint8_t **raw,
                             wr_errbuf *eb)
{
    int rc;
    bool whole = false;
    char x[64], y[64];
    uint64_t cell = page + c->off;
    uint64_t ref = cell + WRI_LEAF_CELL_HDR + c->klen;
    /* a split value (format 3): the run holds its first vlen - tlen bytes
     * in whole blocks, the cell the rest */
    uint32_t head = c->vlen - c->tlen;
    uint64_t need = wri_overflow_size(ps->P, head);
    wri_page_problem pp;
    *val = *raw = NULL;
    if (c->vlen > WRI_PS_MAX_VALUE)
        return wri_ps_finding(ps, eb, WR_CHECK_DOCUMENT, page, cell,
                              wri_ps_u64(x, WRI_PS_MAX_VALUE), wri_ps_u64(y, c->vlen),
                              "cell at %u: value larger than BSON's 16 MiB "
                              "limit",
                              c->off);
    if (c->tlen >= ps->P)
        return wri_ps_finding(ps, eb, WR_CHECK_PAGE, page, ref,
                              wri_ps_u64(x, ps->P - 1), wri_ps_u64(y, c->tlen),
                              "cell at %u: value tail of %u bytes: the run "
                              "should hold its whole blocks",
                              c->off, c->tlen);
    if (wri_cell_packed(c)) { /* no run: the whole value is in the cell */
        *val = c->tail;
        return WR_OK;
    }
    if (c->ovf.size != need)
        return wri_ps_finding(ps, eb, WR_CHECK_PAGE, page, ref,
                              wri_ps_u64(x, need), wri_ps_u64(y, c->ovf.size),
                              "cell at %u: overflow page size for a value of "
                              "%u bytes",
                              c->off, c->vlen);
    if ((rc = wri_ps_addr_check(ps, &c->ovf, 0, lsize, page, ref,
                                "overflow page", eb)) != WR_OK)
        return rc;
    int old = wri_ps_mark(ps, c->ovf.off, c->ovf.size, WRI_OWN_TREE);
    if (old == WRI_OWN_TREE)
        return wri_ps_finding(ps, eb, WR_CHECK_ORDERING, c->ovf.off, ref, NULL,
                              NULL,
                              "overflow page reachable twice (also from page "
                              "%llu, cell at %u)",
                              (unsigned long long)page, c->off);
    if (old != WRI_OWN_NONE &&
        (rc = wri_ps_overlap(ps, c->ovf.off, c->ovf.size, old, "overflow page",
                         eb)) < 0)
        return rc;
    /* only now, with the size bound by the file, the buffer */
    if (*cap < need + c->tlen) { /* and a pad after it (pagesrc.h) */
        uint8_t *nb = realloc(*buf, need + c->tlen + WRI_BSON_PAD);
        if (nb == NULL)
            return WR_ERR(eb, WR_ENOMEM,
                          "out of memory for a value of %llu bytes",
                          (unsigned long long)(need + c->tlen));
        memset(nb + need + c->tlen, 0, WRI_BSON_PAD);
        *buf = nb;
        *cap = need + c->tlen;
    }
    rc = wri_ps_read(ps, &c->ovf, *buf, "overflow page", &whole, eb);
    if (rc == WR_OK && wri_overflow_check(*buf, need, head, &pp) != WR_OK)
        rc = wri_ps_finding(ps, eb, WR_CHECK_PAGE, c->ovf.off,
                            c->ovf.off + pp.off, NULL, NULL,
                            "overflow page: %s", pp.what);
    if (!whole || (rc != WR_OK && rc != WRI_PS_BAD))
        return rc;
    if (c->tlen > 0) /* need == 32 + head: the run is exactly full */
        memcpy(*buf + need, c->tail, c->tlen);
    *(rc == WR_OK ? val : raw) = *buf + WRI_PH_LEN;
    return rc;
}

/* --- documents ------------------------------------------------------------ */

/* JSON of a key, cut to fit buf. */
const char *wri_ps_json(char *buf, size_t len, const uint8_t *k,
                           size_t klen)
{
    char *j = wri_key_to_json(k, klen);
    snprintf(buf, len, "%s", j ? j : "?");
    if (j != NULL && strlen(j) >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
    free(j);
    return buf;
}

/* Size of a value of BSON type t at p (n bytes there), for the types an
 * _id nearly always has; 0 for any other (the general path decides). */
static size_t ps_id_size(uint8_t t, const uint8_t *p, size_t n)
{
    switch (t) {
    case 0x07:
        return 12;
    case 0x10:
        return 4;
    case 0x01: case 0x09: case 0x11: case 0x12:
        return 8;
    case 0x13:
        return 16;
    case 0x02:
        return n >= 4 ? 4 + (size_t)wri_get32(p) : 0;
    default:
        return 0;
    }
}

/* A valid document whose first element is an _id holding the key's value
 * byte for byte: equal in any order, without building a key (the common
 * case; anything else takes the general path). */
static bool ps_id_is_key(const uint8_t *val, uint32_t vlen,
                         const uint8_t *key, uint32_t klen)
{
    if (klen < 8 || vlen < 10 || wri_get32(key) != klen || key[5] != 0 ||
        key[klen - 1] != 0 || val[4] != key[4] ||
        memcmp(val + 5, "_id", 4) != 0)
        return false;
    size_t vs = klen - 7;
    return vs <= vlen - 10 && ps_id_size(val[4], val + 9, vlen - 10) == vs &&
           memcmp(val + 9, key + 6, vs) == 0;
}

wri_vloc wri_ps_vloc(uint64_t leaf, const wri_cell *c)
{
    uint64_t val = leaf + c->off + WRI_LEAF_CELL_HDR + c->klen;
    if (!c->overflow)
        return (wri_vloc){.page = leaf, .off = val, .split = c->vlen};
    return (wri_vloc){.page = c->ovf.off, .off = c->ovf.off + WRI_PH_LEN,
                      .tpage = leaf, .toff = val + WRI_ADDR_LEN,
                      .split = c->vlen - c->tlen};
}

uint64_t wri_vloc_at(const wri_vloc *at, uint64_t i, uint64_t *page)
{
    *page = i < at->split ? at->page : at->tpage;
    return i < at->split ? at->off + i : at->toff + (i - at->split);
}

int wri_ps_check_document(wri_ps *ps, const wri_vloc *at,
                          const uint8_t *key, uint32_t klen,
                          const uint8_t *val, uint32_t vlen,
                          wri_bson_memo *memo, size_t pad, wr_errbuf *eb)
{
    int rc;
    bson_t doc, k;
    bson_iter_t it;
    size_t eoff = 0;
    char x[160], y[160], why[96];
    uint64_t page, off = wri_vloc_at(at, 0, &page); /* the first byte */
    /* the length (a last byte that is not NUL is the BSON check's) */
    if (vlen < 5 || vlen > INT32_MAX || wri_get32(val) != vlen)
        return wri_ps_finding(ps, eb, WR_CHECK_DOCUMENT, page, off,
                              wri_ps_u64(x, vlen),
                              wri_ps_u64(y, vlen >= 4 ? wri_get32(val) : 0),
                              "value of key %s is not a BSON document "
                              "(length prefix disagrees with the value "
                              "length)",
                              wri_ps_json(why, sizeof why, key, klen));
    if (wri_bson_check_memo(memo, val, vlen, pad, &eoff, why, sizeof why) !=
        WR_OK) {
        off = wri_vloc_at(at, eoff, &page);
        return wri_ps_finding(ps, eb, WR_CHECK_DOCUMENT, page, off,
                              NULL, NULL,
                              "document of key %s is not valid BSON (%s of "
                              "the document)",
                              wri_ps_json(x, sizeof x, key, klen), why);
    }
    if (ps_id_is_key(val, vlen, key, klen))
        return WR_OK;
    if (!bson_init_static(&doc, val, vlen) ||
        !bson_iter_init_find(&it, &doc, "_id"))
        return wri_ps_finding(ps, eb, WR_CHECK_DOCUMENT, page, off,
                              wri_ps_json(x, sizeof x, key, klen), "no _id",
                              "document has no _id field");
    wri_key_from_iter(&it, &k);
    rc = WR_OK;
    /* equal in MongoDB's order: a replace keeps the key's bytes, so an _id
     * of 1 may sit under the key 1.0 (the same _id) */
    if (wri_key_cmp(bson_get_data(&k), k.len, key, klen) != 0) {
        off = wri_vloc_at(at, it.off, &page);
        rc = wri_ps_finding(ps, eb, WR_CHECK_DOCUMENT, page, off,
                            wri_ps_json(x, sizeof x, key, klen),
                            wri_ps_json(y, sizeof y, bson_get_data(&k), k.len),
                            "document's _id differs from its key");
    }
    bson_destroy(&k);
    return rc;
}
