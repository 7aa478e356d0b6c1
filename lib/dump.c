/*
 * dump.c -- what wr-dump prints (wr.h, "Dumping"): a file's or a
 * database's summary, one page decoded, the extent lists, the tree's
 * shape, and every document in key order.
 *
 * Output: the library never prints on its own initiative. Text goes to the
 * FILE * the caller passes (o->out); with o->json the report is appended to
 * the caller's bson_t instead; documents (WR_DUMP_DOCS) always go to o->out
 * as JSONL. Every damaged place is a "finding": one line "!! ..." in the
 * text output (not in JSONL), an entry of the file's "damage" array in
 * JSON, and a call of o->finding (so a tool can put it on stderr).
 *
 * Damaged files are the point: this module does not use wri_block_open
 * (which refuses a file it cannot trust) but reads the file itself through
 * io, read-only (WRI_IO_RDONLY), never writing. It reuses the decoders:
 * wri_slot_decode for header slots, wri_page_check / wri_page_cell_at for
 * tree pages, wri_overflow_check, wri_page_crc, wri_key_to_json and
 * wri_catalog_read. Every offset, length and count read from the file is
 * checked against the file size before it is used; walks are capped (tree
 * depth 64, one visit per block with a bitmap, list chains by the file's
 * page count), so a hostile file cannot make a dump loop, crash or
 * allocate more than a few pages per tree level plus one value.
 *
 * Memory: a tree walk holds one page per level and one overflow value;
 * documents stream out as they are read.
 *
 * Calls io, block (slot decoding, CRC, addresses), page, bsonkey, catalog.
 */
#include "wr_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define DUMP_MAX_DEPTH 64
#define DUMP_JSON_MARKS 1000       /* findings kept per file in JSON */
#define DUMP_BITMAP_MAX (256u << 20) /* bytes; past that, no revisit check */
#define DUMP_EL_PER_PAGE(P) (((P) - WRI_EL_ENTRIES) / WRI_EL_ENTRY_LEN)
#define DUMP_MAX_VALUE (16u << 20) /* BSON's document limit (db.c) */

/* --- output context ---------------------------------------------------- */

typedef struct dctx {
    const wr_dump_opts *o;
    wr_dump_stats *st;
    FILE *out;          /* text output; NULL in JSON mode */
    bool marks_inline;  /* "!!" lines go into the text output */
    const char *cur;    /* file being dumped, prefix of findings */
    char **marks;       /* JSON: the current file's findings */
    size_t nmarks;
    uint64_t file_damage; /* findings in the current file */
    char first[768];    /* the first finding, for the error buffer */
    wri_strbuf docs;    /* --docs: lines waiting to be written */
} dctx;

static void dx_print(dctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void dx_print(dctx *x, const char *fmt, ...)
{
    va_list ap;
    if (x->out == NULL)
        return;
    va_start(ap, fmt);
    vfprintf(x->out, fmt, ap);
    va_end(ap);
}

/* Record one finding: something in the file that does not decode or
 * does not hold. */
static void dx_damage(dctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void dx_damage(dctx *x, const char *fmt, ...)
{
    char msg[600], full[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s: %s", x->cur ? x->cur : "?", msg);
    x->st->damaged++;
    x->file_damage++;
    if (x->first[0] == '\0')
        snprintf(x->first, sizeof x->first, "%s", full);
    if (x->marks_inline && x->out != NULL)
        fprintf(x->out, "!! %s\n", msg);
    if (x->o->json != NULL && x->nmarks < DUMP_JSON_MARKS) {
        char **m = realloc(x->marks, (x->nmarks + 1) * sizeof *m);
        if (m != NULL) {
            x->marks = m;
            if ((m[x->nmarks] = strdup(msg)) != NULL)
                x->nmarks++;
        }
    }
    if (x->o->finding != NULL)
        x->o->finding(full, x->o->finding_arg);
}

static bool dx_stop(const dctx *x)
{
    return x->o->interrupted != NULL && *x->o->interrupted;
}

/* --- JSON helpers ---------------------------------------------------- */

/* Strings from the file may be anything: JSON gets valid UTF-8 only. */
static void j_str(bson_t *p, const char *name, const char *s)
{
    size_t n = strlen(s);
    if (bson_utf8_validate(s, n, false)) {
        bson_append_utf8(p, name, -1, s, (int)n);
        return;
    }
    char *c = malloc(n + 1);
    if (c == NULL)
        return;
    for (size_t i = 0; i <= n; i++)
        c[i] = (s[i] & 0x80) ? '?' : s[i];
    bson_append_utf8(p, name, -1, c, (int)n);
    free(c);
}

static void j_u64(bson_t *p, const char *name, uint64_t v)
{
    bson_append_int64(p, name, -1, (int64_t)v);
}

static void j_addr(bson_t *p, const char *name, const wr_addr *a)
{
    bson_t d;
    bson_append_document_begin(p, name, -1, &d);
    j_u64(&d, "offset", a->off);
    j_u64(&d, "size", a->size);
    j_u64(&d, "crc", a->crc);
    bson_append_document_end(p, &d);
}

static void j_hex(bson_t *p, const char *name, const uint8_t *b, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (s == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = hx[b[i] >> 4];
        s[2 * i + 1] = hx[b[i] & 15];
    }
    s[2 * n] = '\0';
    bson_append_utf8(p, name, -1, s, (int)(2 * n));
    free(s);
}

/* Is buf one whole, well-formed BSON document? */
static bool bson_ok(const uint8_t *buf, size_t len, bson_t *b)
{
    size_t off;
    return len >= 5 && len <= INT32_MAX && wri_get32(buf) == len &&
           bson_init_static(b, buf, len) &&
           bson_validate(b, BSON_VALIDATE_NONE, &off);
}

/* Can libbson show it as Extended JSON? Not when a string is not UTF-8,
 * which bson_validate(BSON_VALIDATE_UTF8) of libbson 1.23 lets through:
 * the only sure test is to convert. */
static bool bson_jsonable(const bson_t *b)
{
    char *s = bson_as_relaxed_extended_json(b, NULL);
    bson_free(s);
    return s != NULL;
}

/* A key as a JSON value: the bare value of a one-element key, an array
 * [value, _id] of an index key, or {"$bsonHex": ...} when it does not
 * decode. */
static void j_key(bson_t *p, const char *name, const uint8_t *k, uint32_t kl)
{
    bson_t kd, arr;
    bson_iter_t it;
    int n = 0;
    if (bson_ok(k, kl, &kd) && bson_jsonable(&kd) &&
        bson_iter_init(&it, &kd)) {
        while (bson_iter_next(&it))
            n++;
        bson_iter_init(&it, &kd);
        if (n == 1 && bson_iter_next(&it)) {
            bson_append_iter(p, name, -1, &it);
            return;
        }
        bson_append_array_begin(p, name, -1, &arr);
        for (int i = 0; bson_iter_next(&it); i++) {
            char ik[24];
            snprintf(ik, sizeof ik, "%d", i);
            bson_append_iter(&arr, ik, -1, &it);
        }
        bson_append_array_end(p, &arr);
        return;
    }
    bson_t h;
    bson_append_document_begin(p, name, -1, &h);
    j_hex(&h, "$bsonHex", k, kl);
    bson_append_document_end(p, &h);
}

static void j_marks(dctx *x, bson_t *p)
{
    bson_t arr;
    j_u64(p, "damaged", x->file_damage);
    bson_append_array_begin(p, "damage", -1, &arr);
    for (size_t i = 0; i < x->nmarks; i++) {
        char ik[24];
        snprintf(ik, sizeof ik, "%zu", i);
        j_str(&arr, ik, x->marks[i]);
        free(x->marks[i]);
    }
    bson_append_array_end(p, &arr);
    x->nmarks = 0;
}

static void dx_file_begin(dctx *x, const char *path)
{
    for (size_t i = 0; i < x->nmarks; i++)
        free(x->marks[i]);
    x->nmarks = 0;
    x->cur = path;
    x->file_damage = 0;
}

/* A key for text output (malloc'd, never NULL unless out of memory). */
static char *key_text(const uint8_t *k, uint32_t kl)
{
    char *s = wri_key_to_json(k, kl);
    return s != NULL ? s : strdup("?");
}

/* A name from the file, printable: control bytes become \xNN. */
static void safe_name(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; *s && o + 5 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* --- one tree file, read raw ----------------------------------------- */

typedef struct dump_file {
    wri_file *f;
    const char *path;
    uint64_t fsize;
    uint32_t P;          /* page size; 0 if no slot says */
    wri_slot_state slots[2];
    bool magic[2];
    uint8_t raw[2][WRI_SLOT_LEN]; /* the slots as read, for raw fields */
    size_t rawlen[2];
    uint64_t slot_off[2];
    int chosen;          /* -1: no usable checkpoint */
    char nochoice[300];  /* why, when chosen == -1 */
    bool nochoice_damage; /* ... and whether that is damage */
    wri_slot cur;
} dump_file;

static bool pow2_page(uint32_t p)
{
    return p >= WRI_PAGE_MIN && p <= WRI_PAGE_MAX && (p & (p - 1)) == 0;
}

static int df_read(dump_file *df, uint64_t off, void *buf, size_t len,
                   size_t *got, wr_errbuf *eb)
{
    *got = 0;
    if (off >= df->fsize)
        return WR_OK;
    return wri_io_pread_some(df->f, buf, len, off, got, eb);
}

static int df_probe(dump_file *df, int i, uint64_t off, wr_errbuf *eb)
{
    int rc;
    size_t got = 0;
    wri_slot_state *st = &df->slots[i];
    memset(st, 0, sizeof *st);
    memset(df->raw[i], 0, WRI_SLOT_LEN);
    df->slot_off[i] = off;
    df->magic[i] = false;
    if ((rc = df_read(df, off, df->raw[i], WRI_SLOT_LEN, &got, eb)) != WR_OK)
        return rc;
    df->rawlen[i] = got;
    if (got == 0) {
        snprintf(st->why, sizeof st->why,
                 "missing: the file is only %" PRIu64 " bytes", df->fsize);
        return WR_OK;
    }
    df->magic[i] = got >= WRI_SLOT_MAGIC_OFF + 8 &&
                   memcmp(df->raw[i] + WRI_SLOT_MAGIC_OFF, WRI_SLOT_MAGIC,
                          8) == 0;
    rc = wri_slot_decode(df->raw[i], got, &st->slot, st->why, sizeof st->why);
    st->valid = rc == WR_OK;
    if (rc == WR_EVERSION)
        return WR_ERR(eb, WR_EVERSION, "%s: slot %d: %s", df->path, i,
                      st->why);
    return WR_OK;
}

static void df_close(dump_file *df)
{
    wri_io_close(df->f);
    df->f = NULL;
}

/* Open a file read-only and find its slots (docs/FORMAT.md "Choosing a
 * slot on open"), then pick the checkpoint: generation gen if want_gen,
 * else the newest valid slot, or with previous the other valid one. A
 * file without a usable checkpoint still opens (chosen = -1): its slots
 * can be shown. */
static int df_open(dump_file *df, const char *path, bool want_gen,
                   uint64_t gen, bool previous, wr_errbuf *eb)
{
    int rc;
    memset(df, 0, sizeof *df);
    df->path = path;
    df->chosen = -1;
    if ((rc = wri_io_open(path, WRI_IO_RDONLY, &df->f, eb)) != WR_OK ||
        (rc = wri_io_size(df->f, &df->fsize, eb)) != WR_OK)
        goto fail;
    if (df->fsize == 0) {
        rc = WR_ERR(eb, WR_ENOTOURS,
                    "%s is empty (0 bytes), not a wrtools tree file", path);
        goto fail;
    }
    if ((rc = df_probe(df, 0, 0, eb)) != WR_OK)
        goto fail;
    uint32_t claimed = 0;
    if (df->slots[0].valid)
        claimed = df->slots[0].slot.page_size;
    else if (df->magic[0] && df->rawlen[0] >= WRI_SLOT_PAGESIZE + 4 &&
             pow2_page(wri_get32(df->raw[0] + WRI_SLOT_PAGESIZE)))
        claimed = wri_get32(df->raw[0] + WRI_SLOT_PAGESIZE);
    if (claimed != 0 && (rc = df_probe(df, 1, claimed, eb)) != WR_OK)
        goto fail;
    if (df->slots[0].valid) {
        df->P = claimed;
        if (df->slots[1].valid && df->slots[1].slot.page_size != claimed) {
            df->slots[1].valid = false;
            snprintf(df->slots[1].why, sizeof df->slots[1].why,
                     "page size %u disagrees with slot 0's %u",
                     df->slots[1].slot.page_size, claimed);
        }
    } else if (claimed == 0 || !df->slots[1].valid ||
               df->slots[1].slot.page_size != claimed) {
        /* Slot 1 sits at offset P; P is unknown: try every page size. */
        wri_slot_state keep = df->slots[1];
        bool keep_magic = df->magic[1];
        uint64_t keep_off = df->slot_off[1];
        bool found = false;
        for (uint32_t P = WRI_PAGE_MIN; P <= WRI_PAGE_MAX && !found; P <<= 1) {
            if (P == claimed)
                continue;
            if ((rc = df_probe(df, 1, P, eb)) != WR_OK)
                goto fail;
            if (df->slots[1].valid && df->slots[1].slot.page_size == P) {
                found = true;
            } else if (df->magic[1] && !keep_magic) {
                keep = df->slots[1];
                keep_magic = true;
                keep_off = P;
            }
        }
        if (!found) {
            if ((rc = df_probe(df, 1, keep_off ? keep_off : WRI_PAGE_DEFAULT,
                               eb)) != WR_OK)
                goto fail;
            df->slots[1] = keep;
            df->slots[1].valid = false;
            df->magic[1] = keep_magic;
            if (!keep_magic && keep.why[0] == '\0')
                snprintf(df->slots[1].why, sizeof df->slots[1].why,
                         "no slot at any power-of-two offset %u..%u",
                         WRI_PAGE_MIN, WRI_PAGE_MAX);
        }
        df->P = df->slots[1].valid ? df->slots[1].slot.page_size : claimed;
    } else {
        df->P = claimed;
    }
    bool v0 = df->slots[0].valid, v1 = df->slots[1].valid;
    if (!v0 && !v1 && !df->magic[0] && !df->magic[1]) {
        rc = WR_ERR(eb, WR_ENOTOURS,
                    "%s is not a wrtools tree file (no \"WRTREE\" magic in "
                    "either header slot)",
                    path);
        goto fail;
    }
    uint64_t g0 = df->slots[0].slot.gen, g1 = df->slots[1].slot.gen;
    int newest = !v0 ? (v1 ? 1 : -1) : !v1 ? 0 : (g1 > g0 ? 1 : 0);
    if (!v0 && !v1) {
        snprintf(df->nochoice, sizeof df->nochoice,
                 "no valid checkpoint slot");
        df->nochoice_damage = true;
    } else if (want_gen) {
        df->chosen = v0 && g0 == gen ? 0 : v1 && g1 == gen ? 1 : -1;
        if (df->chosen < 0) {
            snprintf(df->nochoice, sizeof df->nochoice,
                     "no checkpoint of generation %" PRIu64
                     " (the catalog's) in either slot",
                     gen);
            df->nochoice_damage = true;
        }
    } else if (previous) {
        if (v0 && v1) {
            df->chosen = 1 - newest;
        } else {
            int bad = v0 ? 1 : 0;
            snprintf(df->nochoice, sizeof df->nochoice,
                     "no previous checkpoint: slot %d: %s", bad,
                     df->slots[bad].why);
            df->nochoice_damage = df->magic[bad];
        }
    } else {
        df->chosen = newest;
    }
    if (df->chosen >= 0)
        df->cur = df->slots[df->chosen].slot;
    return WR_OK;
fail:
    df_close(df);
    return rc;
}

static const char *role_name(uint32_t role)
{
    return role == WRI_ROLE_MAIN ? "main" : role == WRI_ROLE_INDEX ? "index"
                                                                   : "?";
}

static const char *type_name(uint8_t t)
{
    switch (t) {
    case WRI_PT_LEAF:
        return "leaf";
    case WRI_PT_INTERNAL:
        return "internal";
    case WRI_PT_OVERFLOW:
        return "overflow";
    case WRI_PT_EXTLIST:
        return "extent-list";
    default:
        return "unknown";
    }
}

static int df_nkeyelem(const dump_file *df)
{
    if (df->chosen < 0)
        return 0;
    return df->cur.role == WRI_ROLE_INDEX ? 2 : 1;
}

/* --- reading pages by address -------------------------------------- */

/* Is a an address of an existing page of this file (tree pages: one
 * block)? *why gets the reason when not. */
static bool df_addr_ok(const dump_file *df, const wr_addr *a, bool one_block,
                       char *why, size_t n)
{
    uint64_t P = df->P;
    if (a->off < 2 * P || a->off % P != 0 || a->size == 0 ||
        a->size % P != 0 || (one_block && a->size != P)) {
        snprintf(why, n,
                 "address [%" PRIu64 ", +%u) is not a page of the data area "
                 "(page size %" PRIu64 ")",
                 a->off, a->size, P);
        return false;
    }
    if (a->off > df->fsize || a->size > df->fsize - a->off) {
        snprintf(why, n,
                 "page [%" PRIu64 ", %" PRIu64 ") lies past the end of the "
                 "file (%" PRIu64 " bytes): truncated",
                 a->off, a->off + a->size, df->fsize);
        return false;
    }
    return true;
}

/* Read the page a points to into buf (a->size bytes, checked with
 * df_addr_ok first) and check its checksum against its bytes and the
 * address. Findings are recorded; *trusted says both hold. */
static int df_read_checked(dctx *x, dump_file *df, const wr_addr *a,
                           uint8_t *buf, bool *trusted, wr_errbuf *eb)
{
    int rc;
    size_t got;
    *trusted = false;
    if ((rc = df_read(df, a->off, buf, a->size, &got, eb)) != WR_OK)
        return rc;
    if (got != a->size) {
        dx_damage(x, "page %" PRIu64 ": only %zu of %u bytes could be read",
                  a->off, got, a->size);
        return 1;
    }
    uint32_t stored = wri_get32(buf + WRI_PH_CRC);
    uint32_t computed = wri_page_crc(buf, a->size);
    if (stored != computed) {
        dx_damage(x,
                  "page %" PRIu64 ": checksum mismatch (stored 0x%08x, "
                  "computed 0x%08x)",
                  a->off, stored, computed);
        return WR_OK;
    }
    if (stored != a->crc) {
        dx_damage(x,
                  "page %" PRIu64 ": stale or misdirected: the address "
                  "expects CRC 0x%08x, the page has 0x%08x",
                  a->off, a->crc, stored);
        return WR_OK;
    }
    *trusted = true;
    return WR_OK;
}

/* Read an overflow value into *buf (grown as needed, bounded by the file
 * size). 0 with *val set, 1 when damaged (recorded), or an error. */
static int df_read_overflow(dctx *x, dump_file *df, const wri_cell *c,
                            uint8_t **buf, size_t *cap, const uint8_t **val,
                            wr_errbuf *eb)
{
    int rc;
    char why[300];
    bool trusted;
    wri_page_problem prob;
    const wr_addr *a = &c->ovf;
    if (c->vlen > DUMP_MAX_VALUE) {
        dx_damage(x, "overflow page %" PRIu64 ": value of %u bytes, larger "
                     "than a document may be (%u)",
                  a->off, c->vlen, DUMP_MAX_VALUE);
        return 1;
    }
    if (!df_addr_ok(df, a, false, why, sizeof why)) {
        dx_damage(x, "overflow page %" PRIu64 ": %s", a->off, why);
        return 1;
    }
    if (a->size != wri_overflow_size(df->P, c->vlen)) {
        dx_damage(x,
                  "overflow page %" PRIu64 ": size %u, a value of %u bytes "
                  "needs %" PRIu64,
                  a->off, a->size, c->vlen, wri_overflow_size(df->P, c->vlen));
        return 1;
    }
    if (*cap < a->size) {
        uint8_t *nb = realloc(*buf, a->size);
        if (nb == NULL)
            return WR_ERR(eb, WR_ENOMEM, "out of memory reading an overflow");
        *buf = nb;
        *cap = a->size;
    }
    if ((rc = df_read_checked(x, df, a, *buf, &trusted, eb)) != WR_OK)
        return rc;
    if (!trusted)
        return 1;
    if (wri_overflow_check(*buf, a->size, c->vlen, &prob) != WR_OK) {
        dx_damage(x, "overflow page %" PRIu64 ", byte %u: %s", a->off,
                  prob.off, prob.what);
        return 1;
    }
    *val = *buf + WRI_PH_LEN;
    return WR_OK;
}

/* --- extent lists ---------------------------------------------------- */

typedef struct ext_totals {
    uint64_t pages;
    uint64_t avail_n, avail_bytes;
    uint64_t discard_n, discard_bytes;
    uint64_t reusable_bytes; /* discard with gen <= G - 1: avail on open */
} ext_totals;

/* Walk the extent-list chain of checkpoint s. With print, show each page
 * and entry (text or into j's "pages" and "extents" arrays). Entries that
 * do not hold are shown and marked but not counted. */
static int ext_walk(dctx *x, dump_file *df, const wri_slot *s, bool print,
                    bson_t *j, ext_totals *t, wr_errbuf *eb)
{
    int rc = WR_OK;
    uint32_t P = df->P;
    uint8_t *buf = NULL;
    wr_addr a = s->extlist;
    uint64_t limit = WRI_MIN(s->logical_size, df->fsize);
    uint64_t max_pages = limit / P, idx = 0;
    bson_t jpages, jext;
    char why[300];
    memset(t, 0, sizeof *t);
    if (j != NULL) {
        bson_init(&jpages);
        bson_append_array_begin(j, "extents", -1, &jext);
    }
    if (a.off == 0) {
        if (print)
            dx_print(x, "  no extent lists: nothing was free at generation %"
                        PRIu64 "\n", s->gen);
        goto out;
    }
    if ((buf = malloc(P)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
        goto out;
    }
    while (a.off != 0) {
        if (dx_stop(x)) {
            rc = WR_ERR(eb, WR_EINTR, "interrupted");
            goto out;
        }
        if (t->pages >= max_pages) {
            dx_damage(x,
                      "extent-list chain of gen %" PRIu64 " is longer than "
                      "the file's %" PRIu64 " pages (a cycle?); stopped",
                      s->gen, max_pages);
            break;
        }
        bool addr_ok = df_addr_ok(df, &a, true, why, sizeof why);
        if (addr_ok && a.off + a.size > s->logical_size) {
            addr_ok = false;
            snprintf(why, sizeof why, "lies past the logical size %" PRIu64,
                     s->logical_size);
        }
        if (!addr_ok) {
            dx_damage(x, "extent-list page %" PRIu64 " (#%" PRIu64 "): %s",
                      a.off, t->pages, why);
            break;
        }
        bool trusted;
        if ((rc = df_read_checked(x, df, &a, buf, &trusted, eb)) < 0)
            goto out;
        if (rc == 1) {
            rc = WR_OK;
            break;
        }
        t->pages++;
        uint8_t type = buf[WRI_PH_TYPE];
        uint32_t count = wri_get32(buf + WRI_PH_COUNT);
        uint64_t pgen = wri_get64(buf + WRI_PH_GEN);
        wr_addr next;
        wri_addr_decode(buf + WRI_EL_NEXT, &next);
        if (type != WRI_PT_EXTLIST) {
            dx_damage(x,
                      "page %" PRIu64 ": type %u (%s), expected an "
                      "extent-list page (4); the chain ends here",
                      a.off, type, type_name(type));
            break;
        }
        if (pgen != s->gen)
            dx_damage(x,
                      "extent-list page %" PRIu64 ": written for gen %" PRIu64
                      ", the slot is gen %" PRIu64,
                      a.off, pgen, s->gen);
        if (count > DUMP_EL_PER_PAGE(P)) {
            dx_damage(x,
                      "extent-list page %" PRIu64 ": count %u, at most %u "
                      "entries fit; showing those",
                      a.off, count, DUMP_EL_PER_PAGE(P));
            count = DUMP_EL_PER_PAGE(P);
        }
        if (print && x->out != NULL)
            dx_print(x, "  list page %" PRIu64 ": %u entries, next %" PRIu64
                        "%s\n",
                     a.off, count, next.off, trusted ? "" : " (not trusted)");
        if (print && j != NULL) {
            bson_t pd;
            char ik[24];
            snprintf(ik, sizeof ik, "%" PRIu64, t->pages - 1);
            bson_append_document_begin(&jpages, ik, -1, &pd);
            j_u64(&pd, "offset", a.off);
            j_u64(&pd, "count", count);
            j_u64(&pd, "next", next.off);
            BSON_APPEND_BOOL(&pd, "checksum_ok", trusted);
            bson_append_document_end(&jpages, &pd);
        }
        for (uint32_t i = 0; i < count; i++, idx++) {
            wri_ext e;
            const char *bad =
                wri_extlist_entry(buf, i, P, s->gen, s->logical_size, &e);
            const char *kind = e.kind == WRI_EXT_AVAIL     ? "avail"
                               : e.kind == WRI_EXT_DISCARD ? "discard"
                                                           : "?";
            if (bad != NULL)
                dx_damage(x,
                          "extent-list page %" PRIu64 ", entry %u ([%" PRIu64
                          ", +%" PRIu64 ") kind %u gen %" PRIu64 "): %s",
                          a.off, i, e.off, e.len, e.kind, e.gen, bad);
            else if (e.kind == WRI_EXT_AVAIL) {
                t->avail_n++;
                t->avail_bytes += e.len;
            } else {
                t->discard_n++;
                t->discard_bytes += e.len;
                if (e.gen + 1 <= s->gen)
                    t->reusable_bytes += e.len;
            }
            if (!print)
                continue;
            if (x->out != NULL) {
                if (e.kind == WRI_EXT_DISCARD)
                    dx_print(x,
                             "    %-8s offset %-10" PRIu64 " size %-10" PRIu64
                             " gen %" PRIu64 "\n",
                             kind, e.off, e.len, e.gen);
                else
                    dx_print(x, "    %-8s offset %-10" PRIu64 " size %" PRIu64
                                "\n",
                             kind, e.off, e.len);
            }
            if (j != NULL) {
                bson_t ed;
                char ik[24];
                snprintf(ik, sizeof ik, "%" PRIu64, idx);
                bson_append_document_begin(&jext, ik, -1, &ed);
                j_str(&ed, "kind", kind);
                j_u64(&ed, "offset", e.off);
                j_u64(&ed, "size", e.len);
                j_u64(&ed, "gen", e.gen);
                if (bad != NULL)
                    j_str(&ed, "damage", bad);
                bson_append_document_end(&jext, &ed);
            }
        }
        if (next.off == 0 && (next.size != 0 || next.crc != 0))
            dx_damage(x,
                      "extent-list page %" PRIu64 ": next address has offset "
                      "0 but size %u",
                      a.off, next.size);
        a = next;
    }
out:
    if (j != NULL) {
        bson_append_array_end(j, &jext);
        bson_append_array(j, "list_pages", -1, &jpages);
        bson_destroy(&jpages);
    }
    free(buf);
    return rc;
}

/* --- tree walk ------------------------------------------------------- */

typedef struct walk_frame {
    uint8_t *buf;
    wri_page_view v;
    wr_addr addr;
    uint32_t next; /* next child to visit (internal pages) */
    bool trusted;  /* checksum holds and matches the parent's address */
} walk_frame;

typedef struct walker walker;
/* Called for every page reached: v is NULL when it does not decode. */
typedef int (*walk_page_fn)(walker *w, int depth, const wr_addr *a,
                            const walk_frame *fr);

struct walker {
    dctx *x;
    dump_file *df;
    int nkeyelem;
    uint8_t *seen; /* one bit per block, NULL when too large */
    uint64_t visits, max_visits;
    walk_frame fr[DUMP_MAX_DEPTH];
    walk_page_fn on_page;
    void *arg;
};

static void walk_free(walker *w)
{
    for (int i = 0; i < DUMP_MAX_DEPTH; i++)
        free(w->fr[i].buf);
    free(w->seen);
}

/* Load the tree page a into frame d, expecting level (-1: any). Returns 0
 * (decoded), 1 (recorded as damaged; do not descend), or an error. */
static int walk_load(walker *w, int d, const wr_addr *a, int level,
                     wr_errbuf *eb)
{
    int rc;
    char why[300];
    dump_file *df = w->df;
    walk_frame *fr = &w->fr[d];
    wri_page_problem prob;
    fr->addr = *a;
    fr->next = 0;
    fr->trusted = false;
    if (!df_addr_ok(df, a, true, why, sizeof why)) {
        dx_damage(w->x, "page %" PRIu64 ": %s", a->off, why);
        return 1;
    }
    uint64_t blk = a->off / df->P;
    if (w->seen != NULL) {
        if (w->seen[blk / 8] & (1u << (blk % 8))) {
            dx_damage(w->x,
                      "page %" PRIu64 ": reached a second time (shared by "
                      "two parents, or a cycle); not followed again",
                      a->off);
            return 1;
        }
        w->seen[blk / 8] |= (uint8_t)(1u << (blk % 8));
    }
    if (++w->visits > w->max_visits) {
        dx_damage(w->x,
                  "more tree pages than the file holds (%" PRIu64 "); "
                  "walk stopped at page %" PRIu64,
                  w->max_visits, a->off);
        return 1;
    }
    if (fr->buf == NULL && (fr->buf = malloc(df->P)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = df_read_checked(w->x, df, a, fr->buf, &fr->trusted, eb)) != 0)
        return rc;
    if (wri_page_check(fr->buf, df->P, w->nkeyelem, &fr->v, &prob) !=
        WR_OK) {
        if (prob.slot >= 0)
            dx_damage(w->x, "page %" PRIu64 ", byte %u (slot %d): %s", a->off,
                      prob.off, prob.slot, prob.what);
        else
            dx_damage(w->x, "page %" PRIu64 ", byte %u: %s", a->off,
                      prob.off, prob.what);
        return 1;
    }
    if (level >= 0 && fr->v.level != level) {
        dx_damage(w->x,
                  "page %" PRIu64 ": level %u, expected %d under its parent",
                  a->off, fr->v.level, level);
        return 1;
    }
    return WR_OK;
}

/* Depth-first, children in key order: every page once, one page per
 * level in memory. */
static int walk_tree(walker *w, wr_errbuf *eb)
{
    int rc = WR_OK;
    dump_file *df = w->df;
    const wri_slot *s = &df->cur;
    w->nkeyelem = df_nkeyelem(df);
    w->max_visits = df->fsize / df->P;
    uint64_t bytes = w->max_visits / 8 + 1;
    if (bytes <= DUMP_BITMAP_MAX)
        w->seen = calloc(1, bytes);
    if (s->root.off == 0)
        return WR_OK;
    int level = -1;
    if (s->height >= 1 && s->height <= DUMP_MAX_DEPTH)
        level = (int)s->height - 1;
    if ((rc = walk_load(w, 0, &s->root, -1, eb)) < 0)
        return rc;
    bool root_ok = rc == 0;
    if (root_ok && level >= 0 && w->fr[0].v.level != level)
        dx_damage(w->x,
                  "root page %" PRIu64 " is at level %u, but the slot says "
                  "height %u",
                  s->root.off, w->fr[0].v.level, s->height);
    if (root_ok && w->fr[0].v.level >= DUMP_MAX_DEPTH) {
        dx_damage(w->x, "root page %" PRIu64 ": level %u is too deep",
                  s->root.off, w->fr[0].v.level);
        root_ok = false;
    }
    if ((rc = w->on_page(w, 0, &s->root, root_ok ? &w->fr[0] : NULL)) != 0)
        return rc;
    if (!root_ok || w->fr[0].v.level == 0)
        return WR_OK;
    /* only a decoded internal root gets here */
    int d = 0;
    while (d >= 0) {
        walk_frame *fr = &w->fr[d];
        if (dx_stop(w->x))
            return WR_ERR(eb, WR_EINTR, "interrupted");
        if (fr->v.level == 0 || fr->next >= fr->v.count) {
            d--;
            continue;
        }
        wri_cell c;
        wri_page_cell(&fr->v, fr->next++, &c);
        int child_level = fr->v.level - 1;
        if ((rc = walk_load(w, d + 1, &c.child, child_level, eb)) < 0)
            return rc;
        bool ok = rc == 0;
        if ((rc = w->on_page(w, d + 1, &c.child, ok ? &w->fr[d + 1] : NULL)) !=
            0)
            return rc;
        if (ok && child_level > 0)
            d++;
    }
    return WR_OK;
}

/* --- summary ------------------------------------------------------- */

typedef struct sum_stats {
    uint64_t leaf, internal, overflow;
    uint64_t keys, key_bytes, value_bytes;
    uint64_t used, tree_bytes, ovf_bytes, ovf_used;
    uint32_t depth;
    uint64_t undecoded;
} sum_stats;

static int sum_page(walker *w, int depth, const wr_addr *a,
                    const walk_frame *fr)
{
    sum_stats *ss = w->arg;
    (void)a;
    w->x->st->pages++;
    if (fr == NULL) {
        ss->undecoded++;
        return 0;
    }
    const wri_page_view *v = &fr->v;
    if ((uint32_t)depth + 1 > ss->depth)
        ss->depth = (uint32_t)depth + 1;
    ss->tree_bytes += v->size;
    ss->used += v->size - v->free_bytes;
    if (v->type == WRI_PT_INTERNAL) {
        ss->internal++;
        return 0;
    }
    ss->leaf++;
    ss->keys += v->count;
    for (uint32_t i = 0; i < v->count; i++) {
        wri_cell c;
        wri_page_cell(v, i, &c);
        ss->key_bytes += c.klen;
        ss->value_bytes += c.vlen;
        if (c.overflow) {
            ss->overflow++;
            ss->ovf_bytes += c.ovf.size;
            ss->ovf_used += WRI_PH_LEN + (uint64_t)c.vlen;
        }
    }
    return 0;
}

static void print_addr(dctx *x, const char *what, const wr_addr *a)
{
    if (a->off == 0)
        dx_print(x, "%s none", what);
    else
        dx_print(x, "%s %" PRIu64 " (+%u, crc 0x%08x)", what, a->off, a->size,
                 a->crc);
}

/* A slot that was written and does not hold. A never-written slot is
 * normal (a new file, or a newer checkpoint erased by a writer that
 * reopened an older one); so is slot 1 lying past the end of a file
 * whose slot 0 serves. */
static bool slot_damaged(const dump_file *df, int i)
{
    const wri_slot_state *st = &df->slots[i];
    if (st->valid || strncmp(st->why, "all zero", 8) == 0)
        return false;
    return !(strncmp(st->why, "missing", 7) == 0 && df->chosen >= 0);
}

static void slot_summary(dctx *x, dump_file *df, int i, bson_t *jarr)
{
    const wri_slot_state *st = &df->slots[i];
    const wri_slot *s = &st->slot;
    if (x->out != NULL) {
        dx_print(x, "  slot %d (offset %" PRIu64 "): ", i, df->slot_off[i]);
        if (st->valid) {
            dx_print(x, "valid, gen %" PRIu64 ", ", s->gen);
            print_addr(x, "root", &s->root);
            dx_print(x, ", ");
            print_addr(x, "extent list", &s->extlist);
            dx_print(x,
                     ", logical size %" PRIu64 ", %" PRIu64
                     " records, height %u%s\n",
                     s->logical_size, s->nrecords, s->height,
                     df->chosen == i ? "  <- chosen" : "");
        } else {
            dx_print(x, "rejected: %s\n", st->why);
            if (df->magic[i] && df->rawlen[i] >= WRI_SLOT_HEIGHT + 4) {
                const uint8_t *r = df->raw[i];
                wr_addr root, el;
                wri_addr_decode(r + WRI_SLOT_ROOT, &root);
                wri_addr_decode(r + WRI_SLOT_EXTLIST, &el);
                dx_print(x,
                         "    raw fields (not trusted): version %u, page "
                         "size %u, role %u, gen %" PRIu64 ", root %" PRIu64
                         ", extent list %" PRIu64 ", logical size %" PRIu64
                         "\n",
                         wri_get32(r + WRI_SLOT_VERSION),
                         wri_get32(r + WRI_SLOT_PAGESIZE),
                         wri_get32(r + WRI_SLOT_ROLE),
                         wri_get64(r + WRI_SLOT_GEN), root.off, el.off,
                         wri_get64(r + WRI_SLOT_LSIZE));
            }
        }
    }
    if (jarr != NULL) {
        bson_t d;
        char ik[24];
        snprintf(ik, sizeof ik, "%d", i);
        bson_append_document_begin(jarr, ik, -1, &d);
        j_u64(&d, "slot", (uint64_t)i);
        j_u64(&d, "offset", df->slot_off[i]);
        BSON_APPEND_BOOL(&d, "valid", st->valid);
        BSON_APPEND_BOOL(&d, "chosen", df->chosen == i);
        if (st->valid) {
            j_u64(&d, "gen", s->gen);
            j_u64(&d, "version", s->version);
            j_u64(&d, "page_size", s->page_size);
            j_str(&d, "role", role_name(s->role));
            j_str(&d, "collection", s->coll);
            if (s->field[0])
                j_str(&d, "field", s->field);
            j_addr(&d, "root", &s->root);
            j_addr(&d, "extent_list", &s->extlist);
            j_u64(&d, "logical_size", s->logical_size);
            j_u64(&d, "records", s->nrecords);
            j_u64(&d, "height", s->height);
        } else {
            j_str(&d, "why", st->why);
        }
        bson_append_document_end(jarr, &d);
    }
    if (slot_damaged(df, i))
        dx_damage(x, "slot %d (offset %" PRIu64 "): %s", i, df->slot_off[i],
                  st->why);
}

static void role_text(const wri_slot *s, char *out, size_t n)
{
    char c[WRI_NAME_MAX * 4 + 8], f[WRI_NAME_MAX * 4 + 8];
    safe_name(s->coll, c, sizeof c);
    safe_name(s->field, f, sizeof f);
    int len; /* a display string: cutting a very long name is fine */
    if (s->role == WRI_ROLE_INDEX)
        len = snprintf(out, n, "index on \"%s\" of collection \"%s\"", f, c);
    else
        len = snprintf(out, n, "main table of collection \"%s\"", c);
    (void)len;
}

/* Is there a checkpoint to show? 1 yes; 0 no, recorded as damage; or
 * WR_ENOTFOUND when the file simply has none of the kind asked for (a
 * previous checkpoint of a file written once). */
static int file_checkpoint(dctx *x, dump_file *df, wr_errbuf *eb)
{
    if (df->chosen >= 0)
        return 1;
    if (df->nochoice_damage) {
        dx_damage(x, "%s", df->nochoice);
        return 0;
    }
    return WR_ERR(eb, WR_ENOTFOUND, "%s: %s", df->path, df->nochoice);
}

static int file_summary(dctx *x, dump_file *df, bson_t *j, wr_errbuf *eb)
{
    int rc = WR_OK;
    bson_t jslots;
    walker w;
    sum_stats ss;
    ext_totals et;
    char role[2048];
    memset(&w, 0, sizeof w);
    memset(&ss, 0, sizeof ss);
    memset(&et, 0, sizeof et);
    if (df->P != 0)
        dx_print(x, "  file size %" PRIu64 " bytes, page size %u\n",
                 df->fsize, df->P);
    else
        dx_print(x, "  file size %" PRIu64 " bytes, page size unknown (no "
                    "slot says)\n",
                 df->fsize);
    if (j != NULL) {
        j_u64(j, "file_size", df->fsize);
        j_u64(j, "page_size", df->P);
        bson_append_array_begin(j, "slots", -1, &jslots);
    }
    for (int i = 0; i < 2; i++)
        slot_summary(x, df, i, j != NULL ? &jslots : NULL);
    if (j != NULL)
        bson_append_array_end(j, &jslots);
    if ((rc = file_checkpoint(x, df, eb)) <= 0)
        return rc;
    rc = WR_OK;
    const wri_slot *s = &df->cur;
    role_text(s, role, sizeof role);
    dx_print(x, "  checkpoint: gen %" PRIu64 " (slot %d), %s\n", s->gen,
             df->chosen, role);
    if (s->logical_size > df->fsize)
        dx_damage(x,
                  "file is %" PRIu64 " bytes, shorter than the logical size "
                  "%" PRIu64 " of gen %" PRIu64 ": truncated",
                  df->fsize, s->logical_size, s->gen);
    w.x = x;
    w.df = df;
    w.on_page = sum_page;
    w.arg = &ss;
    if ((rc = walk_tree(&w, eb)) != WR_OK)
        goto out;
    if ((rc = ext_walk(x, df, s, false, NULL, &et, eb)) != WR_OK)
        goto out;
    if (ss.undecoded == 0 && ss.keys != s->nrecords)
        dx_damage(x, "the slot says %" PRIu64 " records, the tree holds %"
                     PRIu64, s->nrecords, ss.keys);
    uint64_t free_bytes = et.avail_bytes + et.discard_bytes;
    uint64_t slotted = (ss.leaf + ss.internal) * (uint64_t)df->P;
    double fill = slotted ? (double)ss.used / (double)slotted : 0.0;
    if (x->out != NULL) {
        dx_print(x, "  height %u (slot says %u): %" PRIu64 " internal, %" PRIu64
                    " leaf, %" PRIu64 " overflow, %" PRIu64
                    " extent-list pages",
                 ss.depth, s->height, ss.internal, ss.leaf, ss.overflow,
                 et.pages);
        if (ss.undecoded)
            dx_print(x, ", %" PRIu64 " pages not decoded", ss.undecoded);
        dx_print(x, "\n  keys %" PRIu64 " (slot says %" PRIu64
                    "), key bytes %" PRIu64 ", value bytes %" PRIu64 "\n",
                 ss.keys, s->nrecords, ss.key_bytes, ss.value_bytes);
        dx_print(x, "  live bytes %" PRIu64 " in tree pages of %" PRIu64
                    " bytes (fill factor %.1f%%), overflow %" PRIu64
                    " of %" PRIu64 " bytes\n",
                 ss.used, slotted, 100.0 * fill, ss.ovf_used, ss.ovf_bytes);
        dx_print(x, "  free bytes %" PRIu64 ": avail %" PRIu64 " in %" PRIu64
                    " extents, discard %" PRIu64 " in %" PRIu64
                    " extents; logical size %" PRIu64 "\n",
                 free_bytes, et.avail_bytes, et.avail_n, et.discard_bytes,
                 et.discard_n, s->logical_size);
    }
    if (j != NULL) {
        bson_t pc;
        j_u64(j, "checkpoint", s->gen);
        j_u64(j, "chosen_slot", (uint64_t)df->chosen);
        j_str(j, "role", role_name(s->role));
        j_str(j, "collection", s->coll);
        if (s->role == WRI_ROLE_INDEX)
            j_str(j, "field", s->field);
        j_u64(j, "height", ss.depth);
        BSON_APPEND_DOCUMENT_BEGIN(j, "pages", &pc);
        j_u64(&pc, "internal", ss.internal);
        j_u64(&pc, "leaf", ss.leaf);
        j_u64(&pc, "overflow", ss.overflow);
        j_u64(&pc, "extent_list", et.pages);
        j_u64(&pc, "not_decoded", ss.undecoded);
        bson_append_document_end(j, &pc);
        j_u64(j, "keys", ss.keys);
        j_u64(j, "key_bytes", ss.key_bytes);
        j_u64(j, "value_bytes", ss.value_bytes);
        j_u64(j, "live_bytes", ss.used);
        j_u64(j, "tree_bytes", slotted);
        j_u64(j, "overflow_live_bytes", ss.ovf_used);
        j_u64(j, "overflow_bytes", ss.ovf_bytes);
        j_u64(j, "free_bytes", free_bytes);
        j_u64(j, "avail_bytes", et.avail_bytes);
        j_u64(j, "discard_bytes", et.discard_bytes);
        j_u64(j, "logical_size", s->logical_size);
        BSON_APPEND_DOUBLE(j, "fill_factor", fill);
    }
out:
    walk_free(&w);
    return rc;
}

/* --- tree shape ---------------------------------------------------- */

typedef struct tree_ctx {
    bson_t *jarr;
    uint64_t n;
} tree_ctx;

static int tree_page(walker *w, int depth, const wr_addr *a,
                     const walk_frame *fr)
{
    dctx *x = w->x;
    tree_ctx *tc = w->arg;
    x->st->pages++;
    if (x->out != NULL) {
        dx_print(x, "%*s", 2 * depth + 2, "");
        if (fr == NULL) {
            dx_print(x, "page %" PRIu64 ": not decoded\n", a->off);
        } else {
            const wri_page_view *v = &fr->v;
            wri_cell c;
            uint32_t first = v->type == WRI_PT_INTERNAL ? 1 : 0;
            dx_print(x, "level %u  page %" PRIu64 "  %s  %u %s", v->level,
                     a->off, type_name(v->type), v->count,
                     v->type == WRI_PT_INTERNAL ? "children" : "items");
            if (v->count > first) {
                wri_page_cell(v, first, &c);
                char *k1 = key_text(c.key, c.klen);
                wri_page_cell(v, v->count - 1, &c);
                char *k2 = key_text(c.key, c.klen);
                dx_print(x, "  %s %s .. %s",
                         first ? "separators" : "keys", k1 ? k1 : "?",
                         k2 ? k2 : "?");
                free(k1);
                free(k2);
            }
            dx_print(x, "%s\n", fr->trusted ? "" : "  (checksum does not hold)");
        }
    }
    if (tc->jarr != NULL) {
        bson_t d;
        char ik[24];
        snprintf(ik, sizeof ik, "%" PRIu64, tc->n);
        bson_append_document_begin(tc->jarr, ik, -1, &d);
        j_u64(&d, "depth", (uint64_t)depth);
        j_u64(&d, "offset", a->off);
        BSON_APPEND_BOOL(&d, "decoded", fr != NULL);
        if (fr != NULL) {
            const wri_page_view *v = &fr->v;
            uint32_t first = v->type == WRI_PT_INTERNAL ? 1 : 0;
            j_u64(&d, "level", v->level);
            j_str(&d, "type", type_name(v->type));
            j_u64(&d, "count", v->count);
            BSON_APPEND_BOOL(&d, "checksum_ok", fr->trusted);
            if (v->count > first) {
                wri_cell c;
                wri_page_cell(v, first, &c);
                j_key(&d, "first", c.key, c.klen);
                wri_page_cell(v, v->count - 1, &c);
                j_key(&d, "last", c.key, c.klen);
            }
        }
        bson_append_document_end(tc->jarr, &d);
    }
    tc->n++;
    return 0;
}

static int file_tree(dctx *x, dump_file *df, bson_t *j, wr_errbuf *eb)
{
    int rc;
    walker w;
    tree_ctx tc = {0};
    bson_t arr;
    if ((rc = file_checkpoint(x, df, eb)) <= 0)
        return rc;
    memset(&w, 0, sizeof w);
    dx_print(x, "  tree of gen %" PRIu64 " (slot %d), height %u, %" PRIu64
                " records:\n",
             df->cur.gen, df->chosen, df->cur.height, df->cur.nrecords);
    if (j != NULL) {
        j_u64(j, "checkpoint", df->cur.gen);
        bson_append_array_begin(j, "tree", -1, &arr);
        tc.jarr = &arr;
    }
    w.x = x;
    w.df = df;
    w.on_page = tree_page;
    w.arg = &tc;
    if (df->cur.root.off == 0)
        dx_print(x, "  (empty tree)\n");
    rc = walk_tree(&w, eb);
    if (j != NULL)
        bson_append_array_end(j, &arr);
    walk_free(&w);
    return rc;
}

static int file_extents(dctx *x, dump_file *df, bson_t *j, wr_errbuf *eb)
{
    int rc;
    ext_totals t;
    if ((rc = file_checkpoint(x, df, eb)) <= 0)
        return rc;
    const wri_slot *s = &df->cur;
    dx_print(x, "  extent lists of gen %" PRIu64 " (slot %d), logical size %"
                PRIu64 ":\n",
             s->gen, df->chosen, s->logical_size);
    if (j != NULL)
        j_u64(j, "checkpoint", s->gen);
    if ((rc = ext_walk(x, df, s, true, j, &t, eb)) != WR_OK)
        return rc;
    dx_print(x, "  totals: %" PRIu64 " list pages; avail %" PRIu64
                " extents, %" PRIu64 " bytes; discard %" PRIu64 " extents, %"
                PRIu64 " bytes (%" PRIu64 " of them count as avail when gen %"
                PRIu64 " is opened); free %" PRIu64 " bytes\n",
             t.pages, t.avail_n, t.avail_bytes, t.discard_n, t.discard_bytes,
             t.reusable_bytes, s->gen, t.avail_bytes + t.discard_bytes);
    if (j != NULL) {
        bson_t d;
        BSON_APPEND_DOCUMENT_BEGIN(j, "totals", &d);
        j_u64(&d, "list_pages", t.pages);
        j_u64(&d, "avail_count", t.avail_n);
        j_u64(&d, "avail_bytes", t.avail_bytes);
        j_u64(&d, "discard_count", t.discard_n);
        j_u64(&d, "discard_bytes", t.discard_bytes);
        j_u64(&d, "discard_reusable_bytes", t.reusable_bytes);
        j_u64(&d, "free_bytes", t.avail_bytes + t.discard_bytes);
        bson_append_document_end(j, &d);
    }
    return WR_OK;
}

/* --- documents ----------------------------------------------------- */

typedef struct docs_ctx {
    uint8_t *ovf;
    size_t ovfcap;
    bool index;
    wr_errbuf *eb;
} docs_ctx;

/* Write the buffered --docs lines. */
static void docs_flush(dctx *x)
{
    if (x->docs.len > 0)
        fwrite(x->docs.p, 1, x->docs.len, x->o->out);
    x->docs.len = 0;
}

static int docs_emit(dctx *x, const uint8_t *val, uint32_t vlen,
                     const uint8_t *key, uint32_t klen, uint64_t page,
                     uint32_t slot)
{
    char why[96];
    wri_strbuf *sb = &x->docs;
    /* wri_ejson_append checks the document (bounds, strict UTF-8) and
     * writes it several times faster than libbson's printer */
    if (wri_ejson_append(sb, val, vlen, x->o->relaxed) != WR_OK) {
        char *k = key_text(key, klen);
        if (wri_bson_check(val, vlen, NULL, why, sizeof why) == WR_OK)
            snprintf(why, sizeof why, "out of memory");
        dx_damage(x,
                  "page %" PRIu64 ", slot %u (key %s): the value is not a "
                  "valid BSON document (%s); not dumped",
                  page, slot, k ? k : "?", why);
        free(k);
        return 0;
    }
    sb->p[sb->len++] = '\n'; /* the terminating NUL's place */
    if (sb->len >= (256u << 10))
        docs_flush(x);
    x->st->docs++;
    return 0;
}

/* An index entry as a line: {"key": value, "_id": id}. */
static int docs_emit_entry(dctx *x, const uint8_t *key, uint32_t klen,
                           uint64_t page, uint32_t slot)
{
    bson_t kd, out = BSON_INITIALIZER;
    bson_iter_t it;
    int rc = 0;
    if (bson_ok(key, klen, &kd) && bson_iter_init(&it, &kd) &&
        bson_iter_next(&it)) {
        bson_append_iter(&out, "key", -1, &it);
        if (bson_iter_next(&it))
            bson_append_iter(&out, "_id", -1, &it);
        rc = docs_emit(x, bson_get_data(&out), out.len, key, klen, page, slot);
    } else {
        dx_damage(x, "page %" PRIu64 ", slot %u: index key does not decode",
                  page, slot);
    }
    bson_destroy(&out);
    return rc;
}

static int docs_page(walker *w, int depth, const wr_addr *a,
                     const walk_frame *fr)
{
    dctx *x = w->x;
    docs_ctx *dc = w->arg;
    (void)depth;
    x->st->pages++;
    if (fr == NULL || fr->v.type != WRI_PT_LEAF)
        return 0;
    if (!fr->trusted) {
        dx_damage(x,
                  "page %" PRIu64 ": %u entries not dumped: the checksum "
                  "does not hold",
                  a->off, fr->v.count);
        return 0;
    }
    for (uint32_t i = 0; i < fr->v.count; i++) {
        wri_cell c;
        const uint8_t *val;
        int rc;
        if (dx_stop(x))
            return WR_ERR(dc->eb, WR_EINTR, "interrupted");
        wri_page_cell(&fr->v, i, &c);
        if (dc->index) {
            docs_emit_entry(x, c.key, c.klen, a->off, i);
            continue;
        }
        val = c.val;
        if (c.overflow) {
            rc = df_read_overflow(x, w->df, &c, &dc->ovf, &dc->ovfcap, &val,
                                  dc->eb);
            if (rc < 0)
                return rc;
            if (rc == 1)
                continue;
        }
        docs_emit(x, val, c.vlen, c.key, c.klen, a->off, i);
    }
    return 0;
}

static int file_docs(dctx *x, dump_file *df, wr_errbuf *eb)
{
    int rc;
    walker w;
    docs_ctx dc = {0};
    if ((rc = file_checkpoint(x, df, eb)) <= 0)
        return rc;
    memset(&w, 0, sizeof w);
    dc.index = df->cur.role == WRI_ROLE_INDEX;
    dc.eb = eb;
    w.x = x;
    w.df = df;
    w.on_page = docs_page;
    w.arg = &dc;
    rc = walk_tree(&w, eb);
    walk_free(&w);
    free(dc.ovf);
    return rc;
}

/* --- one page ------------------------------------------------------ */

static void hex_dump(dctx *x, const uint8_t *b, size_t n)
{
    bool starred = false;
    for (size_t i = 0; i < n; i += 16) {
        size_t m = WRI_MIN((size_t)16, n - i);
        if (i > 0 && i + 16 < n && m == 16 &&
            memcmp(b + i, b + i - 16, 16) == 0) {
            if (!starred)
                dx_print(x, "  *\n");
            starred = true;
            continue;
        }
        starred = false;
        dx_print(x, "  %06zx  ", i);
        for (size_t k = 0; k < 16; k++) {
            if (k < m)
                dx_print(x, "%02x ", b[i + k]);
            else
                dx_print(x, "   ");
            if (k == 7)
                dx_print(x, " ");
        }
        dx_print(x, " |");
        for (size_t k = 0; k < m; k++)
            dx_print(x, "%c", b[i + k] >= 0x20 && b[i + k] < 0x7f ? b[i + k]
                                                                   : '.');
        dx_print(x, "|\n");
    }
}

/* Which slot address names this page (to tell what CRC is expected)? */
static const wr_addr *page_named_by_slot(const dump_file *df, uint64_t off,
                                         const char **what, int *slot)
{
    for (int i = 0; i < 2; i++) {
        const wri_slot *s = &df->slots[i].slot;
        if (!df->slots[i].valid)
            continue;
        *slot = i;
        if (s->root.off == off) {
            *what = "root";
            return &s->root;
        }
        if (s->extlist.off == off) {
            *what = "first extent-list page";
            return &s->extlist;
        }
    }
    return NULL;
}

static void page_value(dctx *x, bson_t *jd, const uint8_t *val, uint32_t vlen,
                       uint64_t page, uint32_t slot)
{
    bson_t b;
    if (!bson_ok(val, vlen, &b)) {
        dx_damage(x, "page %" PRIu64 ", slot %u: value of %u bytes is not a "
                     "valid BSON document",
                  page, slot, vlen);
        if (jd != NULL)
            j_hex(jd, "value_hex", val, vlen);
        else
            dx_print(x, "      value: (not BSON; see --hex)\n");
        return;
    }
    char *s = bson_as_relaxed_extended_json(&b, NULL);
    if (s == NULL) {
        dx_damage(x, "page %" PRIu64 ", slot %u: value of %u bytes cannot be "
                     "shown as Extended JSON (a string that is not UTF-8?)",
                  page, slot, vlen);
        if (jd != NULL)
            j_hex(jd, "value_hex", val, vlen);
        else
            dx_print(x, "      value: (not representable; see --hex)\n");
        return;
    }
    if (jd != NULL)
        bson_append_document(jd, "value", -1, &b);
    else
        dx_print(x, "      value: %s\n", s);
    bson_free(s);
}

/* Leaf or internal page: every slot that decodes, even on a page that
 * fails its checks. */
static void page_slots(dctx *x, dump_file *df, const uint8_t *buf,
                       uint32_t len, uint64_t addr, bson_t *j)
{
    uint8_t type = buf[WRI_PH_TYPE];
    uint32_t count = wri_get32(buf + WRI_PH_COUNT);
    uint32_t max = (len - WRI_PH_LEN) / WRI_SLOT_SIZE;
    int nk = df_nkeyelem(df);
    wri_page_view v;
    wri_page_problem prob;
    bson_t arr;
    char why[200];
    if (wri_page_check(buf, len, nk, &v, &prob) != WR_OK) {
        if (prob.slot >= 0)
            dx_damage(x, "page %" PRIu64 ", byte %u (slot %d): %s", addr,
                      prob.off, prob.slot, prob.what);
        else
            dx_damage(x, "page %" PRIu64 ", byte %u: %s", addr, prob.off,
                      prob.what);
    } else {
        dx_print(x, "  free space: %u bytes between the slot array and the "
                    "lowest cell\n",
                 v.free_bytes);
        if (j != NULL)
            j_u64(j, "free_bytes", v.free_bytes);
    }
    if (count > max) {
        dx_print(x, "  (count %u: only %u slots fit; showing those)\n", count,
                 max);
        count = max;
    }
    if (j != NULL)
        bson_append_array_begin(j, "slots", -1, &arr);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t soff = WRI_PH_LEN + i * WRI_SLOT_SIZE;
        uint32_t off = wri_get16(buf + soff);
        wri_cell c;
        bson_t jd, *jp = NULL;
        if (j != NULL) {
            char ik[24];
            snprintf(ik, sizeof ik, "%u", i);
            bson_append_document_begin(&arr, ik, -1, &jd);
            jp = &jd;
            j_u64(jp, "slot", i);
            j_u64(jp, "cell_offset", off);
        }
        const char *bad = off < WRI_PH_LEN + count * WRI_SLOT_SIZE
                              ? "cell offset inside the header or slot array"
                              : wri_page_cell_at(buf, len, type, off, &c);
        if (bad != NULL) {
            dx_print(x, "    slot %u: cell at %u: !! %s\n", i, off, bad);
            if (jp != NULL) {
                j_str(jp, "damage", bad);
                bson_append_document_end(&arr, &jd);
            }
            continue;
        }
        bool keyless = type == WRI_PT_INTERNAL && i == 0;
        char *k = keyless ? strdup("(none: first child)")
                          : key_text(c.key, c.klen);
        const char *kbad = NULL;
        if (!keyless && nk > 0 &&
            wri_key_check(c.key, c.klen, nk, why, sizeof why) != WR_OK)
            kbad = why;
        if (type == WRI_PT_INTERNAL) {
            dx_print(x, "    slot %u: cell at %u, key %s, child %" PRIu64
                        " (+%u, crc 0x%08x)%s%s\n",
                     i, off, k ? k : "?", c.child.off, c.child.size,
                     c.child.crc, kbad ? "  !! key: " : "", kbad ? kbad : "");
            if (jp != NULL) {
                if (!keyless)
                    j_key(jp, "key", c.key, c.klen);
                j_addr(jp, "child", &c.child);
            }
        } else if (c.overflow) {
            dx_print(x, "    slot %u: cell at %u, key %s, value %u bytes in "
                        "overflow page %" PRIu64 " (+%u, crc 0x%08x)%s%s\n",
                     i, off, k ? k : "?", c.vlen, c.ovf.off, c.ovf.size,
                     c.ovf.crc, kbad ? "  !! key: " : "", kbad ? kbad : "");
            if (jp != NULL) {
                j_key(jp, "key", c.key, c.klen);
                j_u64(jp, "value_length", c.vlen);
                j_addr(jp, "overflow", &c.ovf);
            }
        } else {
            dx_print(x, "    slot %u: cell at %u, key %s, value %u bytes%s%s\n",
                     i, off, k ? k : "?", c.vlen, kbad ? "  !! key: " : "",
                     kbad ? kbad : "");
            if (jp != NULL) {
                j_key(jp, "key", c.key, c.klen);
                j_u64(jp, "value_length", c.vlen);
            }
            if (nk != 2 || c.vlen > 0) /* index entries have no value */
                page_value(x, jp, c.val, c.vlen, addr, i);
        }
        if (kbad != NULL)
            dx_damage(x, "page %" PRIu64 ", slot %u: key: %s", addr, i, kbad);
        if (jp != NULL) {
            if (kbad != NULL)
                j_str(jp, "damage", kbad);
            bson_append_document_end(&arr, &jd);
        }
        free(k);
    }
    if (j != NULL)
        bson_append_array_end(j, &arr);
}

static void page_extlist(dctx *x, const uint8_t *buf, uint32_t len,
                         uint64_t addr, bson_t *j)
{
    wr_addr next;
    uint32_t count = wri_get32(buf + WRI_PH_COUNT);
    uint32_t max = len >= WRI_EL_ENTRIES
                       ? (len - WRI_EL_ENTRIES) / WRI_EL_ENTRY_LEN
                       : 0;
    bson_t arr;
    if (len < WRI_EL_ENTRIES)
        return;
    wri_addr_decode(buf + WRI_EL_NEXT, &next);
    dx_print(x, "  next list page: ");
    print_addr(x, "", &next);
    dx_print(x, "\n");
    if (count > max) {
        dx_damage(x, "extent-list page %" PRIu64 ": count %u, at most %u "
                     "entries fit",
                  addr, count, max);
        count = max;
    }
    if (j != NULL) {
        j_addr(j, "next", &next);
        bson_append_array_begin(j, "entries", -1, &arr);
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p = buf + WRI_EL_ENTRIES + (size_t)i * WRI_EL_ENTRY_LEN;
        uint64_t off = wri_get64(p), l = wri_get64(p + 8),
                 g = wri_get64(p + 16);
        uint32_t kind = wri_get32(p + 24), zero = wri_get32(p + 28);
        const char *kn = kind == WRI_EXT_AVAIL     ? "avail"
                         : kind == WRI_EXT_DISCARD ? "discard"
                                                   : "?";
        dx_print(x, "    entry %u: %-8s offset %-10" PRIu64 " size %-10" PRIu64
                    " gen %" PRIu64 "%s\n",
                 i, kn, off, l, g, zero ? "  !! reserved field not zero" : "");
        if (j != NULL) {
            bson_t d;
            char ik[24];
            snprintf(ik, sizeof ik, "%u", i);
            bson_append_document_begin(&arr, ik, -1, &d);
            j_str(&d, "kind", kn);
            j_u64(&d, "offset", off);
            j_u64(&d, "size", l);
            j_u64(&d, "gen", g);
            bson_append_document_end(&arr, &d);
        }
        if (kind != WRI_EXT_AVAIL && kind != WRI_EXT_DISCARD)
            dx_damage(x, "extent-list page %" PRIu64 ", entry %u: unknown "
                         "kind %u",
                      addr, i, kind);
        if (zero)
            dx_damage(x, "extent-list page %" PRIu64 ", entry %u: reserved "
                         "field not zero",
                      addr, i);
    }
    if (j != NULL)
        bson_append_array_end(j, &arr);
}

static void page_overflow(dctx *x, const uint8_t *buf, uint32_t len,
                          uint64_t addr, bson_t *j)
{
    uint64_t vlen = wri_get64(buf + WRI_PH_AUX);
    dx_print(x, "  value length %" PRIu64 "\n", vlen);
    if (j != NULL)
        j_u64(j, "value_length", vlen);
    if (vlen > len - WRI_PH_LEN) {
        dx_damage(x, "overflow page %" PRIu64 ": value of %" PRIu64
                     " bytes does not fit in %u",
                  addr, vlen, len);
        return;
    }
    page_value(x, j, buf + WRI_PH_LEN, (uint32_t)vlen, addr, 0);
}

/* A header slot block shown with --page 0 or --page P. */
static void page_slot(dctx *x, dump_file *df, int i, bson_t *j)
{
    dx_print(x, "page %" PRIu64 ": checkpoint slot %d\n", df->slot_off[i], i);
    if (j != NULL) {
        bson_t arr;
        j_str(j, "type", "slot");
        bson_append_array_begin(j, "slots", -1, &arr);
        slot_summary(x, df, i, &arr);
        bson_append_array_end(j, &arr);
    } else {
        slot_summary(x, df, i, NULL);
    }
    if (x->o->hex) {
        if (j != NULL)
            j_hex(j, "hex", df->raw[i], df->rawlen[i]);
        else
            hex_dump(x, df->raw[i], df->rawlen[i]);
    }
}

static int file_page(dctx *x, dump_file *df, uint64_t addr, bson_t *j,
                     wr_errbuf *eb)
{
    int rc = WR_OK;
    uint8_t hdr[WRI_PH_LEN] = {0};
    uint8_t *buf = NULL;
    size_t got = 0;
    uint32_t P = df->P;
    bson_t jp;
    if (addr >= df->fsize)
        return WR_ERR(eb, WR_EINVAL,
                      "%s: offset %" PRIu64 " is past the end of the file "
                      "(%" PRIu64 " bytes)",
                      df->path, addr, df->fsize);
    for (int i = 0; i < 2; i++)
        if (P != 0 && addr == df->slot_off[i] && df->rawlen[i] > 0) {
            if (j != NULL)
                BSON_APPEND_DOCUMENT_BEGIN(j, "page", &jp);
            page_slot(x, df, i, j != NULL ? &jp : NULL);
            if (j != NULL)
                bson_append_document_end(j, &jp);
            return WR_OK;
        }
    if ((rc = df_read(df, addr, hdr, sizeof hdr, &got, eb)) != WR_OK)
        return rc;
    uint8_t type = hdr[WRI_PH_TYPE];
    uint32_t hsize = wri_get32(hdr + WRI_PH_SIZE);
    if (P == 0) /* no slot says: believe the page, else the default */
        P = pow2_page(hsize) ? hsize : WRI_PAGE_DEFAULT;
    uint64_t len = P;
    if (type == WRI_PT_OVERFLOW && hsize >= P && hsize % P == 0 &&
        hsize <= df->fsize - addr &&
        hsize <= wri_overflow_size(P, DUMP_MAX_VALUE))
        len = hsize;
    if (len > df->fsize - addr)
        len = df->fsize - addr;
    if ((buf = calloc(1, len < WRI_PH_LEN ? WRI_PH_LEN : len)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = df_read(df, addr, buf, len, &got, eb)) != WR_OK)
        goto out;
    len = got;
    if (j != NULL)
        BSON_APPEND_DOCUMENT_BEGIN(j, "page", &jp);
    bson_t *jd = j != NULL ? &jp : NULL;
    uint32_t stored = wri_get32(buf + WRI_PH_CRC);
    dx_print(x, "page %" PRIu64 " (%" PRIu64 " bytes read, page size %u)%s\n",
             addr, len, P,
             addr % P ? "  (not a multiple of the page size)" : "");
    dx_print(x, "  header: type %u (%s), flags 0x%02x, level %u, count %u, "
                "size %u, gen %" PRIu64 ", aux 0x%016" PRIx64 "\n",
             type, type_name(type), buf[WRI_PH_FLAGS],
             wri_get16(buf + WRI_PH_LEVEL), wri_get32(buf + WRI_PH_COUNT),
             hsize, wri_get64(buf + WRI_PH_GEN), wri_get64(buf + WRI_PH_AUX));
    if (jd != NULL) {
        j_u64(jd, "offset", addr);
        j_u64(jd, "bytes", len);
        j_u64(jd, "page_size", P);
        j_u64(jd, "type_code", type);
        j_str(jd, "type", type_name(type));
        j_u64(jd, "flags", buf[WRI_PH_FLAGS]);
        j_u64(jd, "level", wri_get16(buf + WRI_PH_LEVEL));
        j_u64(jd, "count", wri_get32(buf + WRI_PH_COUNT));
        j_u64(jd, "size", hsize);
        j_u64(jd, "gen", wri_get64(buf + WRI_PH_GEN));
        j_u64(jd, "aux", wri_get64(buf + WRI_PH_AUX));
        j_u64(jd, "crc_stored", stored);
    }
    bool whole = len >= WRI_PH_LEN && hsize == len;
    if (!whole) {
        if (len < (uint64_t)hsize || len < P)
            dx_damage(x, "page %" PRIu64 ": only %" PRIu64 " bytes in the "
                         "file, the page is %u: truncated",
                      addr, len, hsize > P ? hsize : P);
        else
            dx_damage(x, "page %" PRIu64 ": header size field %u, expected "
                         "%" PRIu64,
                      addr, hsize, len);
    }
    if (len >= WRI_PH_LEN) {
        uint32_t computed = wri_page_crc(buf, len);
        const char *what = NULL;
        int slot = -1;
        const wr_addr *named = page_named_by_slot(df, addr, &what, &slot);
        bool holds = stored == computed;
        dx_print(x, "  checksum: stored 0x%08x, computed 0x%08x over %" PRIu64
                    " bytes: %s\n",
                 stored, computed, len, holds ? "holds" : "MISMATCH");
        if (!holds)
            dx_damage(x, "page %" PRIu64 ": checksum mismatch (stored 0x%08x, "
                         "computed 0x%08x)",
                      addr, stored, computed);
        if (named != NULL) {
            dx_print(x, "  slot %d's %s address expects crc 0x%08x: %s\n",
                     slot, what, named->crc,
                     named->crc == stored ? "matches" : "DIFFERS");
            if (named->crc != stored)
                dx_damage(x, "page %" PRIu64 ": stale or misdirected: slot "
                             "%d's address expects CRC 0x%08x, the page has "
                             "0x%08x",
                          addr, slot, named->crc, stored);
        }
        if (jd != NULL) {
            j_u64(jd, "crc_computed", computed);
            BSON_APPEND_BOOL(jd, "checksum_ok", holds);
        }
        switch (type) {
        case WRI_PT_LEAF:
        case WRI_PT_INTERNAL:
            if (len >= WRI_PAGE_MIN)
                page_slots(x, df, buf, (uint32_t)len, addr, jd);
            break;
        case WRI_PT_OVERFLOW:
            page_overflow(x, buf, (uint32_t)len, addr, jd);
            break;
        case WRI_PT_EXTLIST:
            page_extlist(x, buf, (uint32_t)len, addr, jd);
            break;
        default:
            dx_damage(x, "page %" PRIu64 ": unknown page type %u%s", addr,
                      type, x->o->hex ? "" : " (see --hex)");
            break;
        }
    }
    if (x->o->hex) {
        if (jd != NULL)
            j_hex(jd, "hex", buf, len);
        else
            hex_dump(x, buf, len);
    }
    if (j != NULL)
        bson_append_document_end(j, &jp);
out:
    free(buf);
    return rc;
}

/* --- files and databases ------------------------------------------ */

typedef struct dtarget {
    char *path;
    const char *name;  /* as shown: the file name inside a database */
    bool want_gen;
    uint64_t gen;
    bool catalog;      /* named by the catalog: role, coll, field known */
    uint32_t role;
    const char *coll;
    const char *field;
    char *own;         /* coll read from the file's header (no catalog) */
} dtarget;

/* Dump one tree file in the mode asked for; jarr (JSON) is the "files"
 * array. Errors that stop the whole dump are returned; a file that cannot
 * be read as ours inside a database is recorded and skipped. */
static int dump_target(dctx *x, const dtarget *t, bool in_db, bson_t *jarr,
                       uint64_t idx, wr_errbuf *eb)
{
    int rc;
    dump_file df;
    bson_t jf, *j = NULL;
    wr_errbuf ob = {0};
    const wr_dump_opts *o = x->o;
    dx_file_begin(x, t->path);
    x->st->files++;
    rc = df_open(&df, t->path, t->want_gen, t->gen, o->previous, &ob);
    if (jarr != NULL) {
        char ik[24];
        snprintf(ik, sizeof ik, "%" PRIu64, idx);
        bson_append_document_begin(jarr, ik, -1, &jf);
        j = &jf;
        j_str(j, "path", t->path);
        if (in_db)
            j_str(j, "file", t->name);
    }
    if (o->mode != WR_DUMP_DOCS)
        dx_print(x, "%sfile %s\n", in_db ? "\n" : "", t->path);
    if (rc != WR_OK) {
        if (in_db && (rc == WR_ENOTOURS || rc == WR_ECORRUPT ||
                      rc == WR_ENOTFOUND)) {
            dx_damage(x, "%s", ob.msg);
            rc = WR_OK;
        } else {
            wri_err_set(eb, rc, ob.src_file, ob.src_line, "%s", ob.msg);
        }
        goto out;
    }
    if (t->catalog && df.chosen >= 0) {
        const wri_slot *s = &df.cur;
        const char *field = t->field ? t->field : "";
        if (s->role != t->role || strcmp(s->coll, t->coll) != 0 ||
            strcmp(s->field, field) != 0) {
            char have[2048];
            role_text(s, have, sizeof have);
            dx_damage(x, "the header says %s; the catalog names it for "
                         "collection \"%s\"%s%s",
                      have, t->coll, t->field ? ", index on " : "",
                      field);
        }
    }
    /* The summary shows the slots; the modes that show one checkpoint
     * say when a damaged slot may have hidden a newer one. */
    if (o->mode == WR_DUMP_TREE || o->mode == WR_DUMP_EXTENTS ||
        o->mode == WR_DUMP_DOCS)
        for (int i = 0; i < 2; i++)
            if (slot_damaged(&df, i) && df.chosen >= 0)
                dx_damage(x, "slot %d (offset %" PRIu64 "): %s; showing "
                             "gen %" PRIu64 " of slot %d",
                          i, df.slot_off[i], df.slots[i].why, df.cur.gen,
                          df.chosen);
    switch (o->mode) {
    case WR_DUMP_SUMMARY:
        rc = file_summary(x, &df, j, eb);
        break;
    case WR_DUMP_TREE:
        rc = file_tree(x, &df, j, eb);
        break;
    case WR_DUMP_EXTENTS:
        rc = file_extents(x, &df, j, eb);
        break;
    case WR_DUMP_DOCS:
        rc = file_docs(x, &df, eb);
        break;
    case WR_DUMP_PAGE:
        rc = file_page(x, &df, o->page_addr, j, eb);
        break;
    }
    df_close(&df);
out:
    if (j != NULL) {
        j_marks(x, j);
        bson_append_document_end(jarr, &jf);
    }
    return rc;
}

static void targets_free(dtarget *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].path);
        free(t[i].own);
    }
    free(t);
}

static int target_add(dtarget **t, size_t *n, const char *dir,
                      const char *name, wr_errbuf *eb)
{
    dtarget *nt = realloc(*t, (*n + 1) * sizeof *nt);
    if (nt == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    *t = nt;
    memset(&nt[*n], 0, sizeof nt[*n]);
    if ((nt[*n].path = wri_path_join(dir, name)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    nt[*n].name = strrchr(nt[*n].path, '/') + 1;
    (*n)++;
    return WR_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Without a readable catalog: every *.wr file of the directory, at its
 * newest checkpoint, its role read from its own header. */
static int targets_scan(dctx *x, const char *dir, dtarget **t, size_t *n,
                        wr_errbuf *eb)
{
    int rc = WR_OK;
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    if (d == NULL)
        return WR_ERR(eb, WR_EIO, "%s: cannot list the directory: %s", dir,
                      strerror(errno));
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 3, ".wr") != 0)
            continue;
        char **nn2 = realloc(names, (nn + 1) * sizeof *names);
        if (nn2 == NULL || (nn2[nn] = strdup(de->d_name)) == NULL) {
            names = nn2 ? nn2 : names;
            rc = WR_ERR(eb, WR_ENOMEM, "out of memory");
            goto out;
        }
        names = nn2;
        nn++;
    }
    qsort(names, nn, sizeof *names, name_cmp);
    for (size_t i = 0; i < nn && rc == WR_OK; i++)
        rc = target_add(t, n, dir, names[i], eb);
    (void)x;
out:
    closedir(d);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    return rc;
}

static void catalog_show(dctx *x, const char *dir, const wri_catalog *cat,
                         bson_t *j)
{
    char a[1024], b[1024];
    const char *only = x->o->collection;
    dx_print(x, "database %s: catalog generation %" PRIu64 ", %zu "
                "collection%s%s\n",
             dir, cat->gen, cat->ncoll, cat->ncoll == 1 ? "" : "s",
             only != NULL ? " (showing one)" : "");
    for (size_t i = 0; i < cat->ncoll; i++) {
        const wri_cat_coll *c = &cat->coll[i];
        if (only != NULL && strcmp(only, c->name) != 0)
            continue;
        safe_name(c->name, a, sizeof a);
        safe_name(c->main.file, b, sizeof b);
        dx_print(x, "  collection \"%s\": %s gen %" PRIu64 " (previous %"
                    PRIu64 ")\n",
                 a, b, c->main.gen, c->main.prev_gen);
        for (size_t k = 0; k < c->nidx; k++) {
            safe_name(c->idx[k].field, a, sizeof a);
            safe_name(c->idx[k].file, b, sizeof b);
            dx_print(x, "    index on \"%s\": %s gen %" PRIu64 " (previous %"
                        PRIu64 ")\n",
                     a, b, c->idx[k].gen, c->idx[k].prev_gen);
        }
    }
    if (j != NULL) {
        bson_t d, arr;
        BSON_APPEND_DOCUMENT_BEGIN(j, "database", &d);
        j_u64(&d, "catalog_generation", cat->gen);
        bson_append_array_begin(&d, "collections", -1, &arr);
        for (size_t i = 0, n = 0; i < cat->ncoll; i++) {
            const wri_cat_coll *c = &cat->coll[i];
            bson_t cd, ia;
            char ik[24];
            if (only != NULL && strcmp(only, c->name) != 0)
                continue;
            snprintf(ik, sizeof ik, "%zu", n++);
            bson_append_document_begin(&arr, ik, -1, &cd);
            j_str(&cd, "name", c->name);
            j_str(&cd, "file", c->main.file);
            j_u64(&cd, "gen", c->main.gen);
            j_u64(&cd, "prev_gen", c->main.prev_gen);
            bson_append_array_begin(&cd, "indexes", -1, &ia);
            for (size_t k = 0; k < c->nidx; k++) {
                bson_t id;
                snprintf(ik, sizeof ik, "%zu", k);
                bson_append_document_begin(&ia, ik, -1, &id);
                j_str(&id, "field", c->idx[k].field);
                j_str(&id, "file", c->idx[k].file);
                j_u64(&id, "gen", c->idx[k].gen);
                j_u64(&id, "prev_gen", c->idx[k].prev_gen);
                bson_append_document_end(&ia, &id);
            }
            bson_append_array_end(&cd, &ia);
            bson_append_document_end(&arr, &cd);
        }
        bson_append_array_end(&d, &arr);
        bson_append_document_end(j, &d);
    }
}

static void cat_target(dtarget *t, const wri_cat_file *f, const char *coll,
                       bool previous)
{
    t->want_gen = true;
    t->gen = previous ? f->prev_gen : f->gen;
    t->catalog = true;
    t->coll = coll;
    t->field = f->field;
    t->role = f->field ? WRI_ROLE_INDEX : WRI_ROLE_MAIN;
}

/* Pick the main table to dump documents from (--docs on a directory). */
static int docs_choose(dctx *x, const char *dir, dtarget *t, size_t n,
                       size_t *pick, wr_errbuf *eb)
{
    const char *want = x->o->collection;
    size_t nmain = 0, found = n;
    char list[1024] = "";
    size_t ll = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].role != WRI_ROLE_MAIN)
            continue;
        nmain++;
        if (ll + strlen(t[i].coll) + 4 < sizeof list)
            ll += (size_t)snprintf(list + ll, sizeof list - ll, "%s%s",
                                   ll ? ", " : "", t[i].coll);
        if (want == NULL || strcmp(t[i].coll, want) == 0)
            found = i;
    }
    if (want != NULL && found == n)
        return WR_ERR(eb, WR_EINVAL,
                      "%s: no collection \"%s\" (collections: %s)", dir, want,
                      nmain ? list : "none");
    if (want == NULL && nmain > 1)
        return WR_ERR(eb, WR_EINVAL,
                      "%s holds %zu collections (%s): choose one with "
                      "--collection NAME",
                      dir, nmain, list);
    *pick = found; /* n when there is none */
    return WR_OK;
}

static int dump_dir(dctx *x, const char *dir, bson_t *root, wr_errbuf *eb)
{
    int rc;
    const wr_dump_opts *o = x->o;
    wri_catalog cat;
    wr_errbuf cb = {0};
    dtarget *t = NULL;
    size_t n = 0;
    bson_t jarr;
    bool have_cat = false;
    if (o->mode == WR_DUMP_PAGE)
        return WR_ERR(eb, WR_EINVAL,
                      "%s is a database directory: --page needs one tree "
                      "file (e.g. %s/NAME.main.wr)",
                      dir, dir);
    dx_file_begin(x, dir);
    rc = wri_catalog_read(dir, &cat, &cb);
    if (rc == WR_ENOTFOUND) {
        return WR_ERR(eb, WR_ENOTFOUND,
                      "%s: not a wrtools database (no " WR_CATALOG_NAME ")",
                      dir);
    } else if (rc == WR_ECORRUPT) {
        dx_damage(x, "catalog: %s; showing every *.wr file at its newest "
                     "checkpoint instead",
                  cb.msg);
        if (root != NULL)
            j_marks(x, root);
        if ((rc = targets_scan(x, dir, &t, &n, eb)) != WR_OK)
            goto out;
        /* learn each file's role from its own header */
        for (size_t i = 0; i < n; i++) {
            dump_file df;
            wr_errbuf ob = {0};
            if (df_open(&df, t[i].path, false, 0, false, &ob) == WR_OK) {
                if (df.chosen >= 0) {
                    t[i].role = df.cur.role;
                    t[i].own = strdup(df.cur.coll);
                }
                df_close(&df);
            }
            t[i].coll = t[i].own != NULL ? t[i].own : "";
        }
    } else if (rc != WR_OK) {
        wri_err_set(eb, rc, cb.src_file, cb.src_line, "%s", cb.msg);
        return rc;
    } else {
        have_cat = true;
        if (o->mode != WR_DUMP_DOCS)
            catalog_show(x, dir, &cat, root);
        for (size_t i = 0; i < cat.ncoll; i++) {
            const wri_cat_coll *c = &cat.coll[i];
            if (o->collection != NULL && o->mode != WR_DUMP_DOCS &&
                strcmp(o->collection, c->name) != 0)
                continue;
            if (o->previous && c->main.prev_gen == 0) {
                if (o->mode != WR_DUMP_DOCS)
                    dx_print(x, "  collection \"%s\" is not in the previous "
                                "snapshot\n", c->name);
                continue;
            }
            if ((rc = target_add(&t, &n, dir, c->main.file, eb)) != WR_OK)
                goto out;
            cat_target(&t[n - 1], &c->main, c->name, o->previous);
            for (size_t k = 0; k < c->nidx; k++) {
                if (o->previous && c->idx[k].prev_gen == 0)
                    continue;
                if ((rc = target_add(&t, &n, dir, c->idx[k].file, eb)) !=
                    WR_OK)
                    goto out;
                cat_target(&t[n - 1], &c->idx[k], c->name, o->previous);
            }
        }
        if (o->collection != NULL && o->mode != WR_DUMP_DOCS && n == 0) {
            rc = WR_ERR(eb, WR_EINVAL, "%s: no collection \"%s\"%s", dir,
                        o->collection,
                        o->previous ? " in the previous snapshot" : "");
            goto out;
        }
    }
    if (o->mode == WR_DUMP_DOCS) {
        size_t pick = n;
        if ((rc = docs_choose(x, dir, t, n, &pick, eb)) != WR_OK)
            goto out;
        if (pick < n)
            rc = dump_target(x, &t[pick], true, NULL, 0, eb);
        goto out;
    }
    if (root != NULL)
        bson_append_array_begin(root, "files", -1, &jarr);
    for (size_t i = 0; i < n && rc == WR_OK; i++)
        rc = dump_target(x, &t[i], true, root != NULL ? &jarr : NULL, i, eb);
    if (root != NULL)
        bson_append_array_end(root, &jarr);
out:
    if (have_cat)
        wri_catalog_free(&cat);
    targets_free(t, n);
    return rc;
}

int wr_dump(const char *path, const wr_dump_opts *o, wr_dump_stats *st,
            wr_errbuf *eb)
{
    int rc;
    struct stat sb;
    dctx x;
    wr_dump_stats local;
    memset(&x, 0, sizeof x);
    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof *st);
    if (o == NULL || path == NULL || (o->out == NULL && o->json == NULL) ||
        (o->mode == WR_DUMP_DOCS && o->out == NULL))
        return WR_ERR(eb, WR_EINVAL, "wr_dump: no output");
    x.o = o;
    x.st = st;
    /* text around the results; documents are written by docs_emit */
    x.out = o->mode != WR_DUMP_DOCS && o->json == NULL ? o->out : NULL;
    x.marks_inline = x.out != NULL;
    if (stat(path, &sb) != 0)
        return WR_ERR(eb, errno == ENOENT ? WR_ENOTFOUND : WR_EIO,
                      "%s: %s", path, strerror(errno));
    if (o->json != NULL && o->mode != WR_DUMP_DOCS)
        j_str(o->json, "path", path);
    if (S_ISDIR(sb.st_mode)) {
        rc = dump_dir(&x, path, o->mode == WR_DUMP_DOCS ? NULL : o->json, eb);
    } else {
        dtarget t = {.path = (char *)path, .name = path};
        bson_t jarr;
        bson_t *j = o->mode == WR_DUMP_DOCS ? NULL : o->json;
        if (j != NULL && o->mode != WR_DUMP_PAGE)
            bson_append_array_begin(j, "files", -1, &jarr);
        if (o->mode == WR_DUMP_PAGE && j != NULL) {
            /* the page goes at the top level: {"path", "page": {...}} */
            x.marks_inline = false;
            dx_file_begin(&x, path);
            dump_file df;
            wr_errbuf ob = {0};
            st->files++;
            rc = df_open(&df, path, false, 0, o->previous, &ob);
            if (rc != WR_OK) {
                wri_err_set(eb, rc, ob.src_file, ob.src_line, "%s", ob.msg);
            } else {
                j_u64(j, "page_size", df.P);
                rc = file_page(&x, &df, o->page_addr, j, eb);
                df_close(&df);
            }
            j_marks(&x, j);
        } else {
            rc = dump_target(&x, &t, false, j != NULL ? &jarr : NULL, 0, eb);
        }
        if (j != NULL && o->mode != WR_DUMP_PAGE)
            bson_append_array_end(j, &jarr);
    }
    for (size_t i = 0; i < x.nmarks; i++)
        free(x.marks[i]);
    free(x.marks);
    docs_flush(&x);
    free(x.docs.p);
    if (o->out != NULL && fflush(o->out) != 0 && rc == WR_OK)
        rc = WR_ERR(eb, WR_EIO, "writing the dump failed: %s",
                    strerror(errno));
    if (rc == WR_OK && st->damaged > 0)
        rc = WR_ERR(eb, WR_ECORRUPT, "%" PRIu64 " damaged place%s; the first: "
                                     "%s",
                    st->damaged, st->damaged == 1 ? "" : "s", x.first);
    return rc;
}
