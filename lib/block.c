/*
 * block.c -- one tree file: the two checkpoint slots, page I/O with
 * checksums, free space (through extent.c) and checkpoints.
 * docs/FORMAT.md is the byte-level description; block.h has the offsets.
 *
 * Crash-safety invariants. Tests cite them by number.
 *
 * I1  No write touches a page reachable from a committed checkpoint in
 *     either slot. Pages are written only into extents handed out by the
 *     extent manager, and its avail list never holds a page of either
 *     slot's checkpoint (I2, I7).
 * I2  A page freed while building generation G that was allocated in an
 *     earlier build goes to discard tagged G and becomes avail only when
 *     checkpoint G+1 commits (then neither slot, G nor G+1, references
 *     it). A page allocated and freed within the same build goes straight
 *     back to avail: no committed checkpoint has seen it.
 * I3  Commit order: data pages; extent-list pages, written last to first
 *     so that each NEXT address carries its successor's CRC; fsync; the
 *     new slot (one 512-byte write); fsync. Until the slot write the old
 *     slots are untouched; a torn slot write fails the slot CRC, so a
 *     crash at any instant leaves the old or the new checkpoint.
 * I4  The new slot is written into the position that does not hold the
 *     checkpoint being extended (the older or the invalid slot): the
 *     current checkpoint's slot is never written.
 * I5  Slot choice on open: a slot is valid when its CRC, magic, version
 *     and fields check; the valid slot with the highest generation wins
 *     (WRI_BLOCK_PREVIOUS: the other valid one; open_gen: exactly the one
 *     asked for). Both slots' checkpoints are complete on disk (I1, I2).
 * I6  The extent lists persisted with checkpoint G are avail and discard
 *     as they stand just before G commits, and they exclude the list
 *     pages themselves (those are allocated first, to a fixed point,
 *     before the entries are encoded). Opening G loads them and applies
 *     the commit of G (discard tagged <= G-1 becomes avail), which gives
 *     exactly the state the writer had right after committing G.
 * I7  The extent-list pages of checkpoint G are referenced by slot G only;
 *     the next checkpoint frees them to discard (tagged G+1), like any
 *     other page of G.
 * I8  Blocks at or past a checkpoint's logical size belong to no
 *     checkpoint: they are debris of an unfinished one. The file is
 *     truncated only after a commit, never below the larger logical size
 *     of the two slots' checkpoints. A root or extent-list page past the
 *     end of the file is a truncated file (WR_ECORRUPT).
 * I9  Failures: a failed page or list write before the slot write rolls
 *     the allocation back and leaves the handle usable. A failed fsync, or
 *     a failure writing the slot, poisons the handle (what reached the
 *     disk is unknown): it refuses further writes and frees, each refusal
 *     naming the failure that poisoned it, close still works, and a
 *     reopen takes whatever slot is valid. With gathered writes (I13) a
 *     failed write of a gathered run poisons the handle too: its pages
 *     were counted as written (their callers hold the addresses).
 * I13 Gathered writes (wri_block_gather_writes: the bulk loader and the
 *     engine) keep I3's order: pages written one right after another are
 *     held in one run and written with one pwrite when the next page is
 *     not the next in the file, the run is full, or before anything else
 *     touches the file through the handle: every read of a page (so a
 *     read sees what was written), every fsync (so the pages are durable
 *     before the slot that points at them is written), every slot write,
 *     truncate, trim and close. A run is written into free space only
 *     (I1), so a power loss that drops or tears part of it leaves the
 *     committed checkpoints whole, like the single page writes it
 *     replaces.
 * I10 A writable open at a generation older than the other valid slot
 *     (open_gen, the catalog's choice) zeroes that newer slot, and fsyncs,
 *     before its first write: the writer reuses pages the newer
 *     checkpoint references, so that slot must never be chosen again.
 * I11 Every offset, length and count read from disk is checked before it
 *     is used: slot fields against the page size and logical size, page
 *     addresses against the data area and the file, list chains against
 *     logical_size / P pages (no cycles, no unbounded walks).
 * I12 A file created with first_gen G (compaction) starts with an empty
 *     checkpoint G-1 in slot 0 so that its first commit is G in slot 1;
 *     wri_block_erase_other() then zeroes slot 0 and fsyncs, so the
 *     empty G-1 can never be opened as a "previous" checkpoint. The
 *     catalog names G, which the file holds whichever of the old and the
 *     compacted file is in place.
 * I14 A file created with wri_block_cfg.defer_sync (compaction's
 *     FILE.compact.tmp: no catalog or header names it, a crash leaves it
 *     as debris to remove) skips the fsyncs of I3, I10 and I12 (blk_fsync):
 *     the order they give matters only once something names the file,
 *     and its creator fsyncs it whole (wri_io_fsync) before anything
 *     does. The writeback hints still start its writes early.
 */
#include "diag.h"
#include "wr_int.h"

#include <stdio.h>
#include <stdlib.h>

/* The layout constants of block.h fit together (docs/FORMAT.md). */
_Static_assert(WRI_SLOT_MAGIC_OFF + 8 == WRI_SLOT_VERSION, "slot magic");
_Static_assert(WRI_SLOT_ROOT + WRI_ADDR_LEN == WRI_SLOT_EXTLIST, "slot root");
_Static_assert(WRI_SLOT_EXTLIST + WRI_ADDR_LEN == WRI_SLOT_LSIZE,
               "slot extlist");
_Static_assert(WRI_SLOT_NAMES + 2 * WRI_NAME_MAX <= WRI_SLOT_LEN,
               "slot names fit");
_Static_assert(WRI_SLOT_LEN <= WRI_PAGE_MIN, "a slot fits in a block");
_Static_assert(WRI_PH_AUX + 8 == WRI_PH_LEN, "page header length");
_Static_assert(WRI_PH_LEN == WRI_EL_NEXT, "extent-list next follows header");
_Static_assert(WRI_EL_NEXT + WRI_ADDR_LEN == WRI_EL_ENTRIES,
               "extent-list entries follow next");
_Static_assert(sizeof(WRI_SLOT_MAGIC) - 1 == 8, "magic is 8 bytes");

/* What the handle keeps beyond block.h's public fields. */
typedef struct blk_priv {
    wri_block pub;    /* first: a wri_block * is a blk_priv * */
    wr_addr *el;      /* extent-list pages of the current checkpoint */
    uint64_t nel;
    uint64_t nel_freed; /* of them, already freed for the next checkpoint */
    bool poisoned;    /* I9 */
    char poison[320]; /* the failure that poisoned it, as reported */
    bool erase_other; /* I10 */
    bool defer_sync;  /* I14 */
    wri_ps *ps;       /* the page source: every read (strict) */
    /* pages written one after another, gathered into one pwrite
     * (wri_block_gather_writes, I13): wrun is allocated at the first
     * such write and freed after each commit; wlen 0: none pending */
    bool gather;
    uint8_t *wrun;
    size_t wcap; /* its bytes */
    size_t wlen;
    uint64_t woff;
    /* gathered runs written since the last writeback hint */
    wri_wb_stretch wb;
} blk_priv;

static blk_priv *blk_priv_of(wri_block *b)
{
    return (blk_priv *)b;
}

/* I9: what reached the disk is unknown; the handle refuses writes from
 * now on, naming this first failure (eb's message) in every refusal. */
static void blk_poison(wri_block *b, const wr_errbuf *eb)
{
    blk_priv *pv = blk_priv_of(b);
    if (!pv->poisoned)
        snprintf(pv->poison, sizeof pv->poison, "%.*s",
                 (int)sizeof pv->poison - 1, eb->msg);
    pv->poisoned = true;
}

#define EL_PER_PAGE(P) (((P) - WRI_EL_ENTRIES) / WRI_EL_ENTRY_LEN)

/* --- version ---------------------------------------------------------- */

void wri_block_set_version(wri_block *b, uint32_t version)
{
    if (version > b->cur.version)
        b->cur.version = version;
}

/* --- handle ----------------------------------------------------------- */

/* After every WRI_BLOCK_WRITEBACK bytes of gathered runs that mostly fill
 * the stretch of the file they span (a new file written front to back,
 * by the bulk loader or the engine), the kernel is asked to start writing
 * them to the disk (wri_io_writeback): the final fsync then waits for the
 * last few megabytes, not for the whole file, and the disk works while
 * the build goes on. Runs scattered over more than twice the bytes they
 * hold (the engine rewriting pages here and there) start the stretch
 * again: a hint over most of a file for a few pages in it costs more
 * than it gives (measured: 3 s of system time in the 1M churn load). A
 * hint only: durability still comes from the fsyncs alone. */
bool wri_block_wb_add(wri_wb_stretch *s, uint64_t off, uint64_t len)
{
    uint64_t lo = WRI_MIN(s->lo, off), hi = WRI_MAX(s->hi, off + len);
    if (s->bytes == 0 || (hi - lo) / 2 > s->bytes + len) {
        s->lo = off;
        s->hi = off + len;
        s->bytes = 0;
    } else {
        s->lo = lo;
        s->hi = hi;
    }
    s->bytes += len;
    if (s->bytes < WRI_BLOCK_WRITEBACK)
        return false;
    s->bytes = 0;
    return true;
}

static void blk_writeback(blk_priv *pv)
{
    if (wri_block_wb_add(&pv->wb, pv->woff, pv->wlen))
        wri_io_writeback(pv->pub.f, pv->wb.lo, pv->wb.hi - pv->wb.lo);
}

/* Write the gathered run, if any. A failure leaves pages the caller
 * counts as written unwritten: the handle is poisoned (I9). */
static int blk_flush_run(wri_block *b, wr_errbuf *eb)
{
    int rc;
    blk_priv *pv = blk_priv_of(b);
    if (pv->wlen == 0)
        return WR_OK;
    rc = wri_io_pwrite(b->f, pv->wrun, pv->wlen, pv->woff, eb);
    if (rc == WR_OK)
        blk_writeback(pv);
    pv->wlen = 0;
    if (rc != WR_OK)
        blk_poison(b, eb);
    return rc;
}

void wri_block_gather_writes(wri_block *b)
{
    blk_priv_of(b)->gather = true;
}

/* The run buffer, allocated at the first gathered write: WRI_BLOCK_RUN
 * bytes, or with an owner's total (held) what room it leaves up to that,
 * in whole pages, counted there. NULL (write each page at once) when
 * gathering is off, the room is less than two pages, or there is no
 * memory. */
static uint8_t *blk_run_buf(blk_priv *pv)
{
    uint64_t *held = pv->pub.held, cap = WRI_BLOCK_RUN;
    uint32_t P = pv->pub.page_size;
    if (!pv->gather || pv->wrun != NULL)
        return pv->wrun;
    if (held != NULL) {
        uint64_t room = *held < pv->pub.held_max ? pv->pub.held_max - *held
                                                 : 0;
        cap = WRI_MIN(cap, room) / P * P;
    }
    if (cap < 2 * (uint64_t)P || (pv->wrun = malloc(cap)) == NULL)
        return NULL;
    pv->wcap = cap;
    if (held != NULL)
        *held += cap;
    return pv->wrun;
}

/* Free the run buffer (nothing is pending in it) and uncount it. */
static void blk_run_free(blk_priv *pv)
{
    if (pv->wrun != NULL && pv->pub.held != NULL)
        *pv->pub.held -= pv->wcap;
    free(pv->wrun);
    pv->wrun = NULL;
    pv->wcap = 0;
}

void wri_block_close(wri_block *b)
{
    if (b == NULL)
        return;
    blk_priv *pv = blk_priv_of(b);
    wr_errbuf scratch = {0};
    (void)blk_flush_run(b, &scratch); /* nothing committed depends on it */
    blk_run_free(pv);
    wri_ps_close(pv->ps);
    wri_io_close(b->f);
    wri_extent_destroy(b->em);
    free(b->path);
    free(pv->el);
    free(pv);
}

static int blk_alloc_handle(const char *path, wri_block **out, wr_errbuf *eb)
{
    blk_priv *pv = calloc(1, sizeof *pv);
    if (pv == NULL || (pv->pub.path = strdup(path)) == NULL) {
        free(pv);
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
    }
    *out = &pv->pub;
    return WR_OK;
}

/* Write a full page at off: set its CRC, pwrite, fill the address. */
static int blk_write_at(wri_block *b, uint8_t *buf, uint32_t size,
                        uint64_t off, wr_addr *addr_out, wr_errbuf *eb)
{
    int rc;
    blk_priv *pv = blk_priv_of(b);
    uint32_t crc = wri_page_crc(buf, size);
    wri_put32(buf + WRI_PH_CRC, crc);
    if (blk_run_buf(pv) != NULL && size <= pv->wcap) {
        if (pv->wlen > 0 &&
            (off != pv->woff + pv->wlen || pv->wlen + size > pv->wcap) &&
            (rc = blk_flush_run(b, eb)) != WR_OK)
            return rc;
        if (pv->wlen == 0)
            pv->woff = off;
        memcpy(pv->wrun + pv->wlen, buf, size);
        pv->wlen += size;
    } else if ((rc = blk_flush_run(b, eb)) != WR_OK ||
               (rc = wri_io_pwrite(b->f, buf, size, off, eb)) != WR_OK) {
        return rc;
    }
    if (off + size > b->file_size)
        b->file_size = off + size;
    if (blk_priv_of(b)->ps != NULL)
        blk_priv_of(b)->ps->fsize = b->file_size;
    addr_out->off = off;
    addr_out->size = size;
    addr_out->crc = crc;
    return WR_OK;
}

/* May this handle change the file at all? (I9) */
static int blk_check_writable(wri_block *b, wr_errbuf *eb)
{
    if (b->readonly || b->em == NULL)
        return WR_ERR(eb, WR_ENOTSUP, "%s: opened read-only", b->path);
    if (blk_priv_of(b)->poisoned)
        return WR_ERR(eb, WR_EIO,
                      "%s: no more writes through this handle: an earlier "
                      "write failed after writing began, what reached the "
                      "disk is unknown (invariant I9; the file keeps its "
                      "last commit): %s; reopen the file",
                      b->path, blk_priv_of(b)->poison);
    return WR_OK;
}

/* The fsync of I3, I10 and I12 (none with defer_sync, I14). */
static int blk_fsync(wri_block *b, wr_errbuf *eb)
{
    return blk_priv_of(b)->defer_sync ? WR_OK : wri_io_fsync(b->f, eb);
}

/* Zero the slot not holding the current checkpoint and fsync (I10, I12);
 * why says, for slots[], why it is gone. */
static int blk_erase_other_slot(wri_block *b, const char *why, wr_errbuf *eb)
{
    int rc;
    blk_priv *pv = blk_priv_of(b);
    int other = 1 - b->chosen;
    uint8_t zero[WRI_SLOT_LEN] = {0};
    if ((rc = blk_flush_run(b, eb)) != WR_OK)
        return rc;
    if ((rc = wri_io_pwrite(b->f, zero, sizeof zero,
                            (uint64_t)other * b->page_size, eb)) != WR_OK)
        return rc;
    if ((rc = blk_fsync(b, eb)) != WR_OK) {
        blk_poison(b, eb);
        return rc;
    }
    pv->erase_other = false;
    b->slots[other].valid = false;
    snprintf(b->slots[other].why, sizeof b->slots[other].why, "%s", why);
    return WR_OK;
}

/* Before the first write of a writer opened at an older generation,
 * zero the newer slot (I10). */
static int blk_prepare_write(wri_block *b, wr_errbuf *eb)
{
    int rc;
    char why[128];
    if ((rc = blk_check_writable(b, eb)) != WR_OK)
        return rc;
    if (!blk_priv_of(b)->erase_other)
        return WR_OK;
    snprintf(why, sizeof why,
             "erased: newer than generation %llu, opened for writing",
             (unsigned long long)b->cur.gen);
    return blk_erase_other_slot(b, why, eb);
}

int wri_block_erase_other(wri_block *b, wr_errbuf *eb)
{
    int rc;
    char why[128];
    if ((rc = blk_check_writable(b, eb)) != WR_OK)
        return rc;
    snprintf(why, sizeof why,
             "erased: the file keeps only generation %llu (invariant I12)",
             (unsigned long long)b->cur.gen);
    if ((rc = blk_erase_other_slot(b, why, eb)) != WR_OK)
        return rc;
    WRI_DIAG(wri_diag_block, b);
    return WR_OK;
}

/* --- create ----------------------------------------------------------- */

int wri_block_create(const char *path, const wri_block_cfg *cfg,
                     wri_block **out, wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_block *b = NULL;
    uint8_t *buf = NULL;
    bool created = false;
    wri_slot s;
    uint32_t P = cfg != NULL && cfg->page_size ? cfg->page_size
                                               : WRI_PAGE_DEFAULT;
    uint32_t role = cfg != NULL && cfg->role ? cfg->role : WRI_ROLE_MAIN;
    const char *coll = cfg != NULL && cfg->coll ? cfg->coll : "";
    const char *field = cfg != NULL && cfg->field ? cfg->field : "";
    uint64_t first_gen = cfg != NULL && cfg->first_gen ? cfg->first_gen : 2;
    *out = NULL;
    if (first_gen < 2 || first_gen > (uint64_t)INT64_MAX) {
        rc = WR_ERR(eb, WR_EINVAL,
                    "%s: first generation %llu must be at least 2 (I12)",
                    path, (unsigned long long)first_gen);
        goto out;
    }
    if (!wri_page_size_ok(P)) {
        rc = WR_ERR(eb, WR_EINVAL,
                    "%s: page size %u is not a power of two from %u to %u",
                    path, P, WRI_PAGE_MIN, WRI_PAGE_MAX);
        goto out;
    }
    if (role != WRI_ROLE_MAIN && role != WRI_ROLE_INDEX) {
        rc = WR_ERR(eb, WR_EINVAL, "%s: bad role %u", path, role);
        goto out;
    }
    if (strlen(coll) > WRI_NAME_MAX || strlen(field) > WRI_NAME_MAX) {
        rc = WR_ERR(eb, WR_EINVAL,
                    "%s: collection or field name longer than %d bytes", path,
                    WRI_NAME_MAX);
        goto out;
    }
    memset(&s, 0, sizeof s);
    s.version = WRI_VERSION_1; /* the bulk loader may raise it (block.h) */
    s.page_size = P;
    s.role = role;
    s.gen = first_gen - 1;
    s.logical_size = 2 * (uint64_t)P;
    snprintf(s.coll, sizeof s.coll, "%s", coll);
    snprintf(s.field, sizeof s.field, "%s", field);
    if ((rc = blk_alloc_handle(path, &b, eb)) != WR_OK)
        goto out;
    if ((buf = calloc(2, P)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    wri_slot_encode(&s, buf);
    if ((rc = wri_io_open(path, WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_EXCL,
                          &b->f, eb)) != WR_OK)
        goto out;
    created = true;
    blk_priv_of(b)->defer_sync = cfg != NULL && cfg->defer_sync;
    if ((rc = wri_io_pwrite(b->f, buf, 2 * (size_t)P, 0, eb)) != WR_OK ||
        (rc = blk_fsync(b, eb)) != WR_OK ||
        (rc = wri_io_fsync_dir(path, eb)) != WR_OK)
        goto out;
    if ((rc = wri_extent_create(P, 2 * (uint64_t)P, 2 * (uint64_t)P, &b->em,
                                eb)) != WR_OK ||
        (rc = wri_ps_open_file(b->f, path, NULL, &blk_priv_of(b)->ps, eb)) !=
            WR_OK)
        goto out;
    b->page_size = P;
    b->readonly = false;
    b->slots[0].valid = true;
    b->slots[0].slot = s;
    b->slots[1].valid = false;
    snprintf(b->slots[1].why, sizeof b->slots[1].why,
             "all zero (never written)");
    b->chosen = 0;
    b->cur = s;
    b->building = first_gen;
    b->file_size = 2 * (uint64_t)P;
    *out = b;
    b = NULL;
out:
    if (b != NULL && created) {
        wr_errbuf scratch = {0};
        wri_io_close(b->f);
        b->f = NULL;
        wri_io_unlink(path, &scratch); /* best effort: no half-made file */
    }
    wri_block_close(b);
    free(buf);
    return rc;
}

/* --- open ------------------------------------------------------------- */

typedef struct blk_load_ctx {
    wri_block *b;
    wr_errbuf *eb;
} blk_load_ctx;

static int blk_load_entry(const wri_ext *e, void *arg)
{
    blk_load_ctx *c = arg;
    return wri_extent_insert(c->b->em, e, c->eb);
}

static int blk_load_page(const wr_addr *a, void *arg)
{
    blk_load_ctx *c = arg;
    blk_priv *pv = blk_priv_of(c->b);
    wr_addr *n = realloc(pv->el, (size_t)(pv->nel + 1) * sizeof *n);
    if (n == NULL)
        return WR_ERR(c->eb, WR_ENOMEM, "%s: out of memory", c->b->path);
    pv->el = n;
    pv->el[pv->nel++] = *a;
    return 0;
}

/* Rebuild the extent manager from the chosen slot's lists (I6). */
static int blk_load_extents(wri_block *b, wr_errbuf *eb)
{
    int rc;
    blk_priv *pv = blk_priv_of(b);
    uint32_t P = b->page_size;
    blk_load_ctx ctx = {b, eb};
    wri_ext other;
    if ((rc = wri_extent_create(P, 2 * (uint64_t)P, b->cur.logical_size,
                                &b->em, eb)) != WR_OK)
        return rc;
    if ((rc = wri_block_read_extlists(b, &b->cur, blk_load_entry,
                                      blk_load_page, &ctx, eb)) != WR_OK)
        return rc;
    for (uint64_t i = 0; i < pv->nel; i++)
        if (wri_extent_find_overlap(b->em, pv->el[i].off, pv->el[i].size,
                                    &other))
            return WR_ERR(eb, WR_ECORRUPT,
                          "%s: extent-list page at offset %llu of gen %llu "
                          "lies inside a free extent [%llu, %llu)",
                          b->path, (unsigned long long)pv->el[i].off,
                          (unsigned long long)b->cur.gen,
                          (unsigned long long)other.off,
                          (unsigned long long)(other.off + other.len));
    if (b->cur.root.off != 0 &&
        wri_extent_find_overlap(b->em, b->cur.root.off, b->cur.root.size,
                                &other))
        return WR_ERR(eb, WR_ECORRUPT,
                      "%s: root page at offset %llu of gen %llu lies inside "
                      "a free extent [%llu, %llu)",
                      b->path, (unsigned long long)b->cur.root.off,
                      (unsigned long long)b->cur.gen,
                      (unsigned long long)other.off,
                      (unsigned long long)(other.off + other.len));
    wri_extent_commit(b->em, b->cur.gen);
    b->extlist_pages = pv->nel;
    return WR_OK;
}

static int blk_open(const char *path, int flags, bool want_gen, uint64_t gen,
                    wri_block **out, wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_block *b = NULL;
    wri_ps *ps = NULL;
    bool ro = (flags & (WRI_BLOCK_RDONLY | WRI_BLOCK_PREVIOUS |
                        WRI_BLOCK_NOEXT)) != 0;
    uint64_t fsize = 0;
    *out = NULL;
    if ((rc = blk_alloc_handle(path, &b, eb)) != WR_OK)
        goto out;
    b->readonly = ro;
    if ((rc = wri_io_open(path, ro ? WRI_IO_RDONLY : WRI_IO_RDWR, &b->f,
                          eb)) != WR_OK ||
        (rc = wri_ps_open_file(b->f, path, NULL, &blk_priv_of(b)->ps, eb)) !=
            WR_OK)
        goto out;
    ps = blk_priv_of(b)->ps;
    fsize = b->file_size = ps->fsize;
    b->page_size = ps->P;
    b->slots[0] = ps->slots[0];
    b->slots[1] = ps->slots[1];
    if ((rc = wri_ps_choose(ps,
                            want_gen                       ? WRI_PS_GEN
                            : (flags & WRI_BLOCK_PREVIOUS) ? WRI_PS_PREVIOUS
                                                           : WRI_PS_LATEST,
                            gen, &b->chosen, eb)) != WR_OK)
        goto out;
    b->cur = b->slots[b->chosen].slot;
    b->building = b->cur.gen + 1;
    /* I8: the root and the list head must be inside the file. */
    const wr_addr *need[2] = {&b->cur.root, &b->cur.extlist};
    const char *needname[2] = {"root page", "first extent-list page"};
    for (int i = 0; i < 2; i++)
        if (need[i]->off != 0 && need[i]->off + need[i]->size > fsize) {
            rc = WR_ERR(eb, WR_ECORRUPT,
                        "%s is truncated: it is %llu bytes, but checkpoint "
                        "%llu's %s is [%llu, %llu) (logical size %llu)",
                        path, (unsigned long long)fsize,
                        (unsigned long long)b->cur.gen, needname[i],
                        (unsigned long long)need[i]->off,
                        (unsigned long long)(need[i]->off + need[i]->size),
                        (unsigned long long)b->cur.logical_size);
            goto out;
        }
    if (!(flags & WRI_BLOCK_NOEXT) &&
        (rc = blk_load_extents(b, eb)) != WR_OK)
        goto out;
    int other = 1 - b->chosen;
    if (!ro && b->slots[other].valid && b->slots[other].slot.gen > b->cur.gen)
        blk_priv_of(b)->erase_other = true; /* I10 */
    *out = b;
    b = NULL;
out:
    wri_block_close(b);
    return rc;
}

int wri_block_open(const char *path, int flags, wri_block **out,
                   wr_errbuf *eb)
{
    return blk_open(path, flags, false, 0, out, eb);
}

int wri_block_open_gen(const char *path, int flags, uint64_t gen,
                       wri_block **out, wr_errbuf *eb)
{
    return blk_open(path, flags, true, gen, out, eb);
}

/* --- pages ------------------------------------------------------------ */

int wri_block_write_page(wri_block *b, uint8_t *buf, uint32_t size,
                         wr_addr *addr_out, wr_errbuf *eb)
{
    int rc;
    uint64_t off = 0;
    if ((rc = blk_prepare_write(b, eb)) != WR_OK)
        return rc;
    if (size < WRI_PH_LEN || size % b->page_size != 0)
        return WR_ERR(eb, WR_EINVAL,
                      "%s: page of %u bytes is not a positive multiple of "
                      "the page size %u",
                      b->path, size, b->page_size);
    if (wri_get32(buf + WRI_PH_SIZE) != size)
        return WR_ERR(eb, WR_EINVAL,
                      "%s: page header says %u bytes, written as %u",
                      b->path, wri_get32(buf + WRI_PH_SIZE), size);
    if ((rc = wri_extent_alloc(b->em, size, &off, eb)) != WR_OK)
        return rc;
    if ((rc = blk_write_at(b, buf, size, off, addr_out, eb)) != WR_OK) {
        wr_errbuf scratch = {0};
        if (wri_extent_free(b->em, off, size, b->building, &scratch) != WR_OK)
            blk_poison(b, &scratch);
        return rc;
    }
    return WR_OK;
}

int wri_block_read_node(wri_block *b, const wr_addr *addr, int level,
                        int nkeyelem, uint8_t *buf, wri_page_view *v,
                        wr_errbuf *eb)
{
    int rc;
    wri_ps *ps = blk_priv_of(b)->ps;
    ps->gen = 0;
    if ((rc = blk_flush_run(b, eb)) != WR_OK)
        return rc;
    if ((rc = wri_ps_tree_addr_check(
             ps, addr, level, wri_leaf_max(b->cur.version, b->page_size),
             UINT64_MAX, addr->off, addr->off, eb)) != WR_OK)
        return rc;
    return wri_ps_read_tree_page(ps, addr, level, nkeyelem, buf, v, NULL,
                                 NULL, eb);
}

int wri_block_read_overflow(wri_block *b, const wr_addr *ovf, uint32_t vlen,
                            const uint8_t *tail, uint32_t tlen,
                            uint8_t **buf, size_t *cap, const uint8_t **val,
                            wr_errbuf *eb)
{
    int rc;
    wri_ps *ps = blk_priv_of(b)->ps;
    wri_cell c = {.vlen = vlen, .overflow = true, .ovf = *ovf,
                  .tail = tail, .tlen = tlen};
    ps->gen = 0;
    if ((rc = blk_flush_run(b, eb)) != WR_OK)
        return rc;
    return wri_ps_read_overflow(ps, &c, UINT64_MAX, 0, buf, cap, val, eb);
}

int wri_block_check_document(wri_block *b, const wri_vloc *at,
                             const uint8_t *key, uint32_t klen,
                             const uint8_t *val, uint32_t vlen,
                             wri_bson_memo *memo, wr_errbuf *eb)
{
    wri_ps *ps = blk_priv_of(b)->ps;
    ps->gen = 0;
    return wri_ps_check_document(ps, at, key, klen, val, vlen, memo, 0, eb);
}

int wri_block_free_page(wri_block *b, const wr_addr *addr, wr_errbuf *eb)
{
    int rc;
    if ((rc = blk_check_writable(b, eb)) != WR_OK)
        return rc;
    if (addr->off == 0 || addr->size == 0)
        return WR_ERR(eb, WR_EINVAL, "%s: free of the empty page address",
                      b->path);
    return wri_extent_free(b->em, addr->off, addr->size, b->building, eb);
}

/* --- extent lists on disk --------------------------------------------- */

typedef struct blk_lists {
    wri_ext_visit_fn fn;
    wri_extlist_page_fn page_fn;
    void *arg;
} blk_lists;

static int blk_lists_page(void *arg, const wr_addr *a, uint32_t count,
                          const wr_addr *next)
{
    blk_lists *l = arg;
    (void)count;
    (void)next;
    return l->page_fn != NULL ? l->page_fn(a, l->arg) : 0;
}

static int blk_lists_entry(void *arg, const wr_addr *page, uint32_t i,
                           const wri_ext *e, const char *bad)
{
    blk_lists *l = arg;
    (void)page;
    (void)i;
    (void)bad; /* strict: a bad entry already stopped the walk */
    return l->fn != NULL ? l->fn(e, l->arg) : 0;
}

int wri_block_read_extlists(wri_block *b, const wri_slot *s,
                            wri_ext_visit_fn fn, wri_extlist_page_fn page_fn,
                            void *arg, wr_errbuf *eb)
{
    int rc;
    wri_ps *ps = blk_priv_of(b)->ps;
    blk_lists l = {fn, page_fn, arg};
    if ((rc = blk_flush_run(b, eb)) != WR_OK)
        return rc;
    wri_ps_lists w = {.page = blk_lists_page, .entry = blk_lists_entry,
                      .arg = &l};
    w.slot = b->slots[1].valid && b->slots[1].slot.gen == s->gen ? 1 : 0;
    ps->gen = s->gen;
    return wri_ps_walk_lists(ps, s, &w, eb);
}

/* --- checkpoint ------------------------------------------------------- */

typedef struct blk_collect {
    wri_ext *v;
    uint64_t n, cap;
} blk_collect;

static int blk_collect_ext(const wri_ext *e, void *arg)
{
    blk_collect *c = arg;
    if (c->n >= c->cap)
        return 1; /* lists changed under us: cannot happen */
    c->v[c->n++] = *e;
    return 0;
}

/* Give back list pages allocated by a checkpoint that did not reach its
 * slot write (I9). */
static void blk_rollback_pages(wri_block *b, const uint64_t *pages,
                               uint64_t np)
{
    wr_errbuf scratch = {0};
    for (uint64_t i = 0; i < np; i++)
        if (wri_extent_free(b->em, pages[i], b->page_size, b->building,
                            &scratch) != WR_OK)
            blk_poison(b, &scratch);
}

int wri_block_checkpoint(wri_block *b, const wr_addr *root, uint64_t nrecords,
                         uint32_t height, wr_errbuf *eb)
{
    int rc;
    blk_priv *pv = blk_priv_of(b);
    uint32_t P = b->page_size;
    uint32_t per = EL_PER_PAGE(P);
    uint64_t *pages = NULL, np = 0;
    wr_addr *addrs = NULL;
    uint8_t *buf = NULL;
    blk_collect col = {0};
    bool rollback = false;
    wri_slot ns;
    uint8_t slotbuf[WRI_SLOT_LEN];
    wr_addr zero_addr = {0};
    if (root == NULL)
        root = &zero_addr;
    if ((rc = blk_prepare_write(b, eb)) != WR_OK)
        goto out;
    if (root->off != 0 &&
        (root->off < 2 * (uint64_t)P || root->off % P != 0 ||
         root->size == 0 || root->size % P != 0 ||
         root->off + root->size > wri_extent_logical_size(b->em))) {
        rc = WR_ERR(eb, WR_EINVAL,
                    "%s: checkpoint root [%llu, +%u) is not a page of the "
                    "file",
                    b->path, (unsigned long long)root->off, root->size);
        goto out;
    }
    /* (1) the current checkpoint's list pages are free once the next one
     * commits (I7); remember progress so a retry does not free twice. */
    while (pv->nel_freed < pv->nel) {
        const wr_addr *a = &pv->el[pv->nel_freed];
        if ((rc = wri_extent_free(b->em, a->off, a->size, b->building, eb)) !=
            WR_OK)
            goto out;
        pv->nel_freed++;
    }
    /* (2) give the free tail back. */
    wri_extent_trim_tail(b->em);
    /* (3) allocate list pages until they hold every entry; allocation only
     * keeps or lowers the entry count, so this ends (I6). */
    rollback = true;
    for (;;) {
        uint64_t n = wri_extent_count(b->em);
        uint64_t need = (n + per - 1) / per;
        if (np >= need)
            break;
        uint64_t *np_pages = realloc(pages, (size_t)(np + 1) * sizeof *pages);
        if (np_pages == NULL) {
            rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", b->path);
            goto out;
        }
        pages = np_pages;
        if ((rc = wri_extent_alloc(b->em, P, &pages[np], eb)) != WR_OK)
            goto out;
        np++;
    }
    col.cap = wri_extent_count(b->em);
    if ((col.v = malloc((size_t)WRI_MAX(col.cap, 1) * sizeof *col.v)) == NULL ||
        (addrs = calloc((size_t)WRI_MAX(np, 1), sizeof *addrs)) == NULL ||
        (buf = malloc(P)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "%s: out of memory", b->path);
        goto out;
    }
    wri_extent_walk(b->em, blk_collect_ext, &col);
    /* (4) write the list pages last to first; entries spread evenly. */
    {
        wr_addr next = {0};
        for (uint64_t i = np; i-- > 0;) {
            uint64_t first = col.n * i / np, last = col.n * (i + 1) / np;
            uint32_t cnt = (uint32_t)(last - first);
            memset(buf, 0, P);
            buf[WRI_PH_TYPE] = WRI_PT_EXTLIST;
            wri_put32(buf + WRI_PH_COUNT, cnt);
            wri_put32(buf + WRI_PH_SIZE, P);
            wri_put64(buf + WRI_PH_GEN, b->building);
            wri_addr_encode(buf + WRI_EL_NEXT, &next);
            for (uint32_t k = 0; k < cnt; k++) {
                const wri_ext *e = &col.v[first + k];
                uint8_t *p = buf + WRI_EL_ENTRIES + (size_t)k * WRI_EL_ENTRY_LEN;
                wri_put64(p, e->off);
                wri_put64(p + 8, e->len);
                wri_put64(p + 16, e->gen);
                wri_put32(p + 24, e->kind);
                wri_put32(p + 28, 0);
            }
            if ((rc = blk_write_at(b, buf, P, pages[i], &addrs[i], eb)) != WR_OK)
                goto out;
            next = addrs[i];
        }
    }
    /* (5) everything the new slot points at is durable before the slot. */
    rollback = false;
    if ((rc = blk_flush_run(b, eb)) != WR_OK ||
        (rc = blk_fsync(b, eb)) != WR_OK) {
        blk_poison(b, eb);
        goto out;
    }
    /* (6) the slot, into the position not holding the current one (I4). */
    int other = 1 - b->chosen;
    ns = b->cur;
    ns.version = b->cur.version; /* a file keeps its format version */
    ns.gen = b->building;
    ns.root = *root;
    ns.nrecords = nrecords;
    ns.height = height;
    ns.extlist = np > 0 ? addrs[0] : zero_addr;
    ns.logical_size = wri_extent_logical_size(b->em);
    wri_slot_encode(&ns, slotbuf);
    if ((rc = wri_io_pwrite(b->f, slotbuf, sizeof slotbuf,
                            (uint64_t)other * P, eb)) != WR_OK ||
        (rc = blk_fsync(b, eb)) != WR_OK) {
        blk_poison(b, eb); /* (7) failed: the slot may or may not be there */
        goto out;
    }
    /* (8) committed. */
    uint64_t prev_lsize = b->cur.logical_size;
    b->slots[other].valid = true;
    b->slots[other].why[0] = '\0';
    b->slots[other].slot = ns;
    b->chosen = other;
    b->cur = ns;
    free(pv->el);
    pv->el = addrs;
    addrs = NULL;
    pv->nel = np;
    pv->nel_freed = 0;
    b->extlist_pages = np;
    wri_extent_commit(b->em, ns.gen);
    b->building = ns.gen + 1;
    blk_run_free(pv); /* nothing pending (5): an idle handle holds none */
    /* (9) drop debris past both checkpoints (I8); the commit stands even
     * if this fails. */
    uint64_t keep = WRI_MAX(ns.logical_size, prev_lsize);
    if (b->file_size > keep) {
        if ((rc = wri_io_truncate(b->f, keep, eb)) != WR_OK)
            goto out;
        b->file_size = keep;
    }
    WRI_DIAG(wri_diag_block, b);
out:
    if (rc != WR_OK && rollback)
        blk_rollback_pages(b, pages, np);
    free(pages);
    free(addrs);
    free(col.v);
    free(buf);
    return rc;
}

int wri_block_trim(wri_block *b, wr_errbuf *eb)
{
    int rc;
    uint32_t P = b->page_size;
    uint64_t fsize, keep = 2 * (uint64_t)P;
    wri_ps *ps = NULL;
    if (b->readonly)
        return WR_OK;
    if ((rc = blk_flush_run(b, eb)) != WR_OK ||
        (rc = wri_io_size(b->f, &fsize, eb)) != WR_OK ||
        (rc = wri_ps_open_file(b->f, b->path, NULL, &ps, eb)) != WR_OK)
        return rc;
    for (int i = 0; i < 2; i++)
        if (ps->slots[i].valid)
            keep = WRI_MAX(keep, ps->slots[i].slot.logical_size);
    wri_ps_close(ps);
    if (fsize <= keep)
        return WR_OK;
    if ((rc = wri_io_truncate(b->f, keep, eb)) != WR_OK)
        return rc;
    b->file_size = keep;
    return WR_OK;
}

/* --- names ---------------------------------------------------------------- */

char *wri_tree_file_name(const char *coll, const char *field)
{
    size_t n = strlen(coll) + (field ? strlen(field) : 0) + 16;
    char *p = malloc(n);
    if (p == NULL)
        return NULL;
    if (field)
        snprintf(p, n, "%s" WRI_IDX_SEP "%s.wr", coll, field);
    else
        snprintf(p, n, "%s.main.wr", coll);
    return p;
}

int wri_tree_file_parse(const char *fname, char *coll, char *field)
{
    size_t n = strlen(fname);
    const char *ix = strstr(fname, WRI_IDX_SEP);
    field[0] = '\0';
    /* the first WRI_IDX_SEP ends the collection's name (wri_tree_file_name) */
    if (ix == NULL && n > 8 && strcmp(fname + n - 8, ".main.wr") == 0 &&
        n - 8 <= WRI_NAME_MAX) {
        snprintf(coll, WRI_NAME_MAX + 1, "%.*s", (int)(n - 8), fname);
        return 1;
    }
    if (ix != NULL && ix > fname && n > 3 && strcmp(fname + n - 3, ".wr") == 0 &&
        ix + 5 < fname + n - 3 && ix - fname <= WRI_NAME_MAX &&
        fname + n - 3 - (ix + 5) <= WRI_NAME_MAX) {
        snprintf(coll, WRI_NAME_MAX + 1, "%.*s", (int)(ix - fname), fname);
        snprintf(field, WRI_NAME_MAX + 1, "%.*s",
                 (int)(fname + n - 3 - (ix + 5)), ix + 5);
        return 2;
    }
    return 0;
}
