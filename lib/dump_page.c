/*
 * dump_page.c -- wr-dump --page ADDR: one page decoded, whatever it holds
 * (header, every slot's cell that decodes, extent-list entries, an
 * overflow value, a header slot), checked as far as a page alone can be
 * and shown even when a check fails. Bytes come from the page source
 * (wri_ps_read_raw); keys get the walk's form and order checks
 * (wri_ps_check_key), a main table's values wr-verify's document check
 * (wri_ps_check_document), and values are printed by our Extended JSON
 * writer. ADDR must be a page boundary: a block inside a longer page
 * (a long leaf, an overflow run) is named by the page that starts below
 * it, as the checkpoint's tree walk (tree_walk, the one --tree and --map
 * make) finds it; so is an offset between boundaries inside such a page
 * (its nearest boundaries would be blocks inside it).
 *
 * Calls pagesrc, page, bsonkey (see dump.h).
 */
#include "dump.h"

#include <inttypes.h>
#include <stdlib.h>

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
        const wri_slot *s = &df->ps->slots[i].slot;
        if (!df->ps->slots[i].valid)
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

/* A value: checked strictly, shown as relaxed Extended JSON (text) or
 * as a document (JSON); its hex when it is not a valid document. A main
 * table's value (at: where it lies, key: its key) gets wr-verify's
 * document check (wri_ps_check_document: valid BSON, its _id equal to its
 * key); a value seen alone (at NULL: an overflow page's) the BSON check. */
static void page_value(dctx *x, dump_file *df, bson_t *jd,
                       const uint8_t *key, uint32_t klen, const wri_vloc *at,
                       const uint8_t *val, uint32_t vlen, uint64_t page,
                       uint64_t voff, uint32_t slot)
{
    size_t eoff = 0;
    char why[96];
    bool ok;
    if (at != NULL) {
        wr_errbuf e = {0};
        (void)wri_ps_check_document(df->ps, at, key, klen, val, vlen, NULL, 0,
                                    &e);
        ok = wri_bson_check(val, vlen, NULL, NULL, 0) == WR_OK;
    } else if (!(ok = wri_bson_check(val, vlen, &eoff, why, sizeof why) ==
                      WR_OK)) {
        dx_finding(x, WR_CHECK_DOCUMENT, page, voff + eoff, NULL, NULL,
                   "slot %u: value of %u bytes is not a valid BSON document "
                   "(%s of the document)",
                   slot, vlen, why);
    }
    if (!ok) {
        if (jd != NULL)
            j_hex(jd, "value_hex", val, vlen);
        else
            dx_print(x, "      value: (not BSON; see --hex)\n");
        return;
    }
    if (jd != NULL) {
        bson_t b;
        if (bson_init_static(&b, val, vlen))
            bson_append_document(jd, "value", -1, &b);
        return;
    }
    wri_strbuf sb = {0};
    if (wri_ejson_append(&sb, val, vlen, true) == WR_OK)
        dx_print(x, "      value: %s\n", sb.p);
    else
        dx_print(x, "      value: (out of memory)\n");
    free(sb.p);
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
    wri_cell prev;
    bool have_prev = false;
    if (wri_page_check(buf, len, 0, &v, &prob) != WR_OK) {
        dx_finding(x, WR_CHECK_PAGE, addr, addr + prob.off, NULL, NULL, "%s",
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
        } else if (wri_cell_packed(&c)) {
            /* format 4: no overflow page, the whole value here */
            uint32_t at = (uint32_t)(c.tail - buf);
            dx_print(x, "    slot %u: cell at %u, key %s, value %u bytes "
                        "packed whole here at %u (no overflow page)%s%s\n",
                     i, off, k ? k : "?", c.vlen, at, kbad ? "  !! key: " : "",
                     kbad ? kbad : "");
            if (jp != NULL) {
                j_key(jp, "key", c.key, c.klen);
                j_u64(jp, "value_length", c.vlen);
                j_u64(jp, "packed_at", at);
            }
            wri_vloc vl = wri_ps_vloc(addr, &c);
            page_value(x, df, jp, c.key, c.klen, nk == 1 ? &vl : NULL, c.tail,
                       c.vlen, addr, addr + at, i);
        } else if (c.overflow) {
            char tl[96] = "";
            if (c.tlen > 0)
                snprintf(tl, sizeof tl, ", its last %u bytes here at %u",
                         c.tlen, (uint32_t)(c.tail - buf));
            dx_print(x, "    slot %u: cell at %u, key %s, value %u bytes in "
                        "overflow page %" PRIu64 " (+%u, crc 0x%08x)%s%s%s\n",
                     i, off, k ? k : "?", c.vlen, c.ovf.off, c.ovf.size,
                     c.ovf.crc, tl, kbad ? "  !! key: " : "", kbad ? kbad : "");
            if (jp != NULL) {
                j_key(jp, "key", c.key, c.klen);
                j_u64(jp, "value_length", c.vlen);
                j_addr(jp, "overflow", &c.ovf);
                if (c.tlen > 0)
                    j_u64(jp, "tail_length", c.tlen);
            }
        } else {
            dx_print(x, "    slot %u: cell at %u, key %s, value %u bytes%s%s\n",
                     i, off, k ? k : "?", c.vlen, kbad ? "  !! key: " : "",
                     kbad ? kbad : "");
            if (jp != NULL) {
                j_key(jp, "key", c.key, c.klen);
                j_u64(jp, "value_length", c.vlen);
            }
            wri_vloc vl = wri_ps_vloc(addr, &c);
            if (nk != 2 || c.vlen > 0) /* index entries have no value */
                page_value(x, df, jp, c.key, c.klen, nk == 1 ? &vl : NULL,
                           c.val, c.vlen, addr,
                           addr + (uint64_t)(c.val - buf), i);
        }
        /* its form and order as the walk checks them (without the
         * parent's bounds: the page is seen alone) */
        if (!keyless && nk > 0) {
            wr_errbuf e = {0};
            if (wri_ps_check_key(df->ps, nk, addr, buf, i, &c,
                                 have_prev ? &prev : NULL, &e) == WR_OK) {
                prev = c;
                have_prev = true;
            }
        }
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

/* An extent-list page: every entry, judged by the one entry rule
 * (wri_extlist_entry) against the page's own generation and the larger of
 * the chosen checkpoint's logical size and the file's size. */
static void page_extlist(dctx *x, dump_file *df, const uint8_t *buf,
                         uint32_t len, uint64_t addr, bson_t *j)
{
    wr_addr next;
    uint32_t count = wri_get32(buf + WRI_PH_COUNT);
    uint32_t max = len >= WRI_EL_ENTRIES
                       ? (len - WRI_EL_ENTRIES) / WRI_EL_ENTRY_LEN
                       : 0;
    uint64_t gen = wri_get64(buf + WRI_PH_GEN);
    uint64_t lsize = df->chosen >= 0 ? df->cur.logical_size : df->ps->fsize;
    bson_t arr;
    char x1[32], y1[32];
    if (len < WRI_EL_ENTRIES)
        return;
    wri_addr_decode(buf + WRI_EL_NEXT, &next);
    dx_print(x, "  next list page: ");
    print_addr(x, "", &next);
    dx_print(x, "\n");
    if (count > max) {
        snprintf(x1, sizeof x1, "%u", max);
        snprintf(y1, sizeof y1, "%u", count);
        dx_finding(x, WR_CHECK_PAGE, addr, addr + WRI_PH_COUNT, x1, y1,
                   "extent-list page holds more entries than fit");
        count = max;
    }
    if (j != NULL) {
        j_addr(j, "next", &next);
        bson_append_array_begin(j, "entries", -1, &arr);
    }
    for (uint32_t i = 0; i < count; i++) {
        wri_ext e;
        const char *bad = wri_extlist_entry(buf, i, df->ps->P ? df->ps->P
                                                               : len,
                                            gen, lsize, &e);
        const char *kn = e.kind == WRI_EXT_AVAIL     ? "avail"
                         : e.kind == WRI_EXT_DISCARD ? "discard"
                                                     : "?";
        dx_print(x, "    entry %u: %-8s offset %-10" PRIu64 " size %-10" PRIu64
                    " gen %" PRIu64 "%s%s\n",
                 i, kn, e.off, e.len, e.gen, bad ? "  !! " : "",
                 bad ? bad : "");
        if (j != NULL) {
            bson_t d;
            char ik[24];
            snprintf(ik, sizeof ik, "%u", i);
            bson_append_document_begin(&arr, ik, -1, &d);
            j_str(&d, "kind", kn);
            j_u64(&d, "offset", e.off);
            j_u64(&d, "size", e.len);
            j_u64(&d, "gen", e.gen);
            if (bad != NULL)
                j_str(&d, "damage", bad);
            bson_append_document_end(&arr, &d);
        }
        if (bad != NULL)
            dx_finding(x, WR_CHECK_PAGE, addr,
                       addr + WRI_EL_ENTRIES + (uint64_t)i * WRI_EL_ENTRY_LEN,
                       NULL, NULL, "extent-list entry %u: %s", i, bad);
    }
    if (j != NULL)
        bson_append_array_end(j, &arr);
}

/* The run of a split value (format 3, FORMAT.md "Value tails"): exactly
 * full, the first vlen bytes of a document longer by less than a block,
 * whose last part is a tail in its leaf cell. Seen alone it is not a
 * whole document, and no damage: the document is checked whole through
 * its leaf. */
static bool page_split_head(uint32_t version, uint32_t P, const uint8_t *buf,
                            uint32_t len, uint64_t vlen)
{
    if (version < WRI_VERSION_TAILS || vlen < 4 || WRI_PH_LEN + vlen != len)
        return false;
    uint32_t doclen = wri_get32(buf + WRI_PH_LEN);
    return doclen > vlen && doclen - vlen < P;
}

static void page_overflow(dctx *x, dump_file *df, const uint8_t *buf,
                          uint32_t len, uint64_t addr, uint32_t P, bson_t *j)
{
    uint64_t vlen = wri_get64(buf + WRI_PH_AUX);
    char e[32], g[32];
    dx_print(x, "  value length %" PRIu64 "\n", vlen);
    if (j != NULL)
        j_u64(j, "value_length", vlen);
    if (vlen > len - WRI_PH_LEN) {
        snprintf(e, sizeof e, "at most %u", len - WRI_PH_LEN);
        snprintf(g, sizeof g, "%" PRIu64, vlen);
        dx_finding(x, WR_CHECK_PAGE, addr, addr + WRI_PH_AUX, e, g,
                   "overflow page: value does not fit in the page");
        return;
    }
    if (page_split_head(wri_ps_version(df->ps), P, buf, len, vlen)) {
        uint32_t doclen = wri_get32(buf + WRI_PH_LEN);
        dx_print(x, "  the first %" PRIu64 " bytes of a %u-byte value whose "
                    "last %" PRIu64 " bytes are a tail in its leaf cell "
                    "(format 3): checked whole through its leaf\n",
                 vlen, doclen, doclen - vlen);
        if (j != NULL)
            j_u64(j, "split_value_length", doclen);
        return;
    }
    page_value(x, df, j, NULL, 0, NULL, buf + WRI_PH_LEN, (uint32_t)vlen,
               addr, addr + WRI_PH_LEN, 0);
}

/* A header slot block shown with --page 0 or --page P. */
static void page_slot(dctx *x, dump_file *df, int i, bson_t *j)
{
    wri_ps *ps = df->ps;
    dx_print(x, "page %" PRIu64 ": checkpoint slot %d\n", ps->slot_off[i], i);
    if (j != NULL) {
        bson_t arr;
        j_str(j, "type", "slot");
        bson_append_array_begin(j, "slots", -1, &arr);
        slot_summary(x, df, i, &arr);
        bson_append_array_end(j, &arr);
    } else {
        slot_summary(x, df, i, NULL);
    }
    wri_ps_check_slot(ps, i, df->chosen);
    if (x->o->hex) {
        if (j != NULL)
            j_hex(j, "hex", ps->raw[i], ps->rawlen[i]);
        else
            hex_dump(x, ps->raw[i], ps->rawlen[i]);
    }
}

/* The checks one page can take alone: its length, size field, CRC, and
 * the CRC a slot's address expects of it. */
static void page_checks(dctx *x, dump_file *df, const uint8_t *buf,
                        uint64_t len, uint32_t hsize, uint64_t addr,
                        bson_t *jd)
{
    char e[32], g[32];
    uint32_t P = df->ps->P ? df->ps->P : WRI_PAGE_DEFAULT;
    uint32_t stored = wri_get32(buf + WRI_PH_CRC);
    if (!(len >= WRI_PH_LEN && hsize == len)) {
        snprintf(e, sizeof e, "%u", hsize > P ? hsize : P);
        snprintf(g, sizeof g, "%" PRIu64, len);
        /* truncated only where the file ends: a size the file has room
         * for but the page may not have (a long leaf in format 1, an
         * internal page of more than a block) is the header's fault */
        if (len < P || (len < (uint64_t)hsize &&
                        (uint64_t)hsize > df->ps->fsize - addr))
            dx_finding(x, WR_CHECK_SPACE, addr, addr + len, e, g,
                       "page: only %" PRIu64 " bytes in the file (truncated)",
                       len);
        else
            dx_finding(x, WR_CHECK_PAGE, addr, addr + WRI_PH_SIZE, e,
                       (snprintf(g, sizeof g, "%u", hsize), g),
                       "page: header size field disagrees with the page");
    }
    if (len < WRI_PH_LEN)
        return;
    uint32_t computed = wri_page_crc(buf, len);
    const char *what = NULL;
    int slot = -1;
    const wr_addr *named = page_named_by_slot(df, addr, &what, &slot);
    bool holds = stored == computed;
    dx_print(x, "  checksum: stored 0x%08x, computed 0x%08x over %" PRIu64
                " bytes: %s\n",
             stored, computed, len, holds ? "holds" : "MISMATCH");
    if (!holds) {
        snprintf(e, sizeof e, "0x%08x", stored);
        snprintf(g, sizeof g, "0x%08x", computed);
        dx_finding(x, WR_CHECK_CHECKSUM, addr, addr, e, g,
                   "page: CRC mismatch: the CRC stored in the page "
                   "(expected) is not the one its bytes give (found): torn "
                   "or damaged page");
    }
    if (named != NULL) {
        dx_print(x, "  slot %d's %s address expects crc 0x%08x: %s\n", slot,
                 what, named->crc, named->crc == stored ? "matches" : "DIFFERS");
        if (named->crc != stored && holds) {
            snprintf(e, sizeof e, "0x%08x", named->crc);
            snprintf(g, sizeof g, "0x%08x", stored);
            dx_finding(x, WR_CHECK_CHECKSUM, addr, addr, e, g,
                       "page: stale or misdirected page: intact, but not the "
                       "page slot %d's %s address expects",
                       slot, what);
        }
    }
    if (jd != NULL) {
        j_u64(jd, "crc_computed", computed);
        BSON_APPEND_BOOL(jd, "checksum_ok", holds);
    }
}

/* Do its own checks find a whole page at the bytes read: the size its
 * header gives, read whole, its CRC holding? */
static bool page_holds(const uint8_t *buf, uint64_t len, uint32_t hsize)
{
    return len >= WRI_PH_LEN && hsize == len &&
           wri_get32(buf + WRI_PH_CRC) == wri_page_crc(buf, len);
}

/* The page of the tree that holds a block: a long leaf (format 2) or an
 * overflow run, as the chosen checkpoint's walk finds them. */
typedef struct page_around {
    wri_ps *ps;
    wr_errbuf *eb;
    uint64_t addr, lsize;
    bool found;
    wr_addr page;     /* the page whose bytes hold addr */
    const char *what; /* "leaf", "overflow run", ... */
} page_around;

static bool addr_covers(const wr_addr *a, uint64_t off)
{
    return a->off <= off && off - a->off < a->size;
}

/* The walk's pages: a page read whole and intact (its address checked)
 * whose blocks hold addr; a trusted leaf's overflow runs (their address
 * checked as a read of them checks it) too. Nonzero stops the walk. */
static int around_page(void *arg, const wri_ps_page *p)
{
    page_around *pa = arg;
    const wri_page_view *v = p->v;
    if (!p->trusted)
        return 0; /* its address or bytes are not to be believed */
    if (addr_covers(&p->addr, pa->addr)) {
        pa->found = true;
        pa->page = p->addr;
        pa->what = v != NULL ? type_name(v->type) : "tree page";
        return 1;
    }
    for (uint32_t i = 0; v != NULL && v->type == WRI_PT_LEAF && i < v->count;
         i++) {
        wri_cell c;
        int rc;
        wri_page_cell(v, i, &c);
        if (!c.overflow || wri_cell_packed(&c) ||
            !addr_covers(&c.ovf, pa->addr))
            continue;
        if ((rc = wri_ps_addr_check(pa->ps, &c.ovf, 0, pa->lsize,
                                    p->addr.off, p->addr.off + c.off,
                                    "overflow page", pa->eb)) < 0)
            return rc;
        if (rc != WR_OK)
            continue;
        pa->found = true;
        pa->page = c.ovf;
        pa->what = "overflow run";
        return 1;
    }
    return 0;
}

/* Does the chosen checkpoint's tree put addr inside a page that starts
 * below it (a long leaf, an overflow run)? Asked of the walk --tree and
 * --map make (tree_walk), its findings dropped: they are no part of the
 * page shown, and a tree that does not say (damage on the way, no
 * checkpoint) leaves the block to be shown as it is. 1 yes (*pa says
 * which page), 0 no, or an environment error. The page source is left
 * as it was for the page's own checks (no generation on findings, no
 * ownership map). */
static int page_around_addr(dctx *x, dump_file *df, uint64_t addr,
                            page_around *pa, wr_errbuf *eb)
{
    int rc = 0;
    wri_ps_walk w;
    uint64_t gen = df->ps->gen;
    memset(&w, 0, sizeof w);
    memset(pa, 0, sizeof *pa);
    if (df->chosen < 0)
        return 0;
    pa->ps = df->ps;
    pa->eb = eb;
    pa->addr = addr;
    pa->lsize = df->cur.logical_size;
    x->mute = true;
    if ((rc = file_checkpoint(x, df, eb)) > 0) {
        w.page = around_page;
        w.arg = pa;
        rc = tree_walk(x, df, &w, eb);
    }
    x->mute = false;
    df->ps->gen = gen;
    wri_ps_map_end(df->ps);
    wri_ps_walk_free(&w);
    if (rc < 0)
        return rc;
    return pa->found && pa->page.off < addr;
}

/* addr is inside the page *pa, which starts below it: --page names
 * that page's start (WR_EINVAL). */
static int page_inside(const dump_file *df, uint64_t addr,
                       const page_around *pa, wr_errbuf *eb)
{
    return WR_ERR(eb, WR_EINVAL,
                  "%s: offset %" PRIu64 " is inside the %s at %" PRIu64
                  " (%u bytes): try --page %" PRIu64,
                  df->path, addr, pa->what, pa->page.off, pa->page.size,
                  pa->page.off);
}

/* Is the block at off a whole page of one block by its own checks (so
 * that no longer page holds it)? */
static bool page_single_at(wri_ps *ps, uint64_t off)
{
    uint32_t P = ps->P;
    uint8_t *buf = malloc(P);
    size_t got = 0;
    wr_errbuf scratch = {0};
    bool single = buf != NULL &&
                  wri_ps_read_raw(ps, off, buf, P, &got, &scratch) == WR_OK &&
                  page_holds(buf, got, wri_get32(buf + WRI_PH_SIZE));
    free(buf);
    return single;
}

/* addr (past no end) between page boundaries: a usage error naming the
 * page it is inside when that is a longer page the tree knows (a long
 * leaf, an overflow run: its nearest boundaries are blocks inside it),
 * else the nearest page boundaries (issue 11 bug 6). The tree is walked
 * only when the block below addr is no page of one block by its own
 * checks. */
static int page_unaligned(dctx *x, dump_file *df, uint64_t addr,
                          wr_errbuf *eb)
{
    wri_ps *ps = df->ps;
    uint32_t P = ps->P;
    uint64_t below = addr / P * P, above = below + P;
    page_around pa;
    int rc;
    if (!page_single_at(ps, below)) {
        if ((rc = page_around_addr(x, df, addr, &pa, eb)) < 0)
            return rc;
        if (rc > 0 && pa.page.size > P)
            return page_inside(df, addr, &pa, eb);
    }
    if (above < ps->fsize)
        return WR_ERR(eb, WR_EINVAL,
                      "%s: offset %" PRIu64 " is not a page boundary "
                      "(page size %u): the nearest pages are at %" PRIu64
                      " and %" PRIu64,
                      df->path, addr, P, below, above);
    return WR_ERR(eb, WR_EINVAL,
                  "%s: offset %" PRIu64 " is not a page boundary (page "
                  "size %u): the nearest page is at %" PRIu64,
                  df->path, addr, P, below);
}

int file_page(dctx *x, dump_file *df, uint64_t addr, bson_t *j,
              wr_errbuf *eb)
{
    int rc = WR_OK;
    wri_ps *ps = df->ps;
    uint8_t hdr[WRI_PH_LEN] = {0};
    uint8_t *buf = NULL;
    size_t got = 0;
    uint32_t P = ps->P;
    bson_t jp;
    if (addr >= ps->fsize)
        return WR_ERR(eb, WR_EINVAL,
                      "%s: offset %" PRIu64 " is past the end of the file "
                      "(%" PRIu64 " bytes)",
                      df->path, addr, ps->fsize);
    if (P != 0 && addr % P != 0)
        return page_unaligned(x, df, addr, eb);
    for (int i = 0; i < 2; i++)
        if (P != 0 && addr == ps->slot_off[i] && ps->rawlen[i] > 0) {
            if (j != NULL)
                BSON_APPEND_DOCUMENT_BEGIN(j, "page", &jp);
            page_slot(x, df, i, j != NULL ? &jp : NULL);
            if (j != NULL)
                bson_append_document_end(j, &jp);
            return WR_OK;
        }
    if ((rc = wri_ps_read_raw(ps, addr, hdr, sizeof hdr, &got, eb)) != WR_OK)
        return rc;
    uint8_t type = hdr[WRI_PH_TYPE];
    uint32_t hsize = wri_get32(hdr + WRI_PH_SIZE);
    if (P == 0) /* no slot says: believe the page, else the default */
        P = hsize >= WRI_PAGE_MIN && hsize <= WRI_PAGE_MAX &&
                    (hsize & (hsize - 1)) == 0
                ? hsize
                : WRI_PAGE_DEFAULT;
    uint64_t len = P;
    if (type == WRI_PT_OVERFLOW && hsize >= P && hsize % P == 0 &&
        hsize <= ps->fsize - addr &&
        hsize <= wri_overflow_size(P, WRI_PS_MAX_VALUE))
        len = hsize;
    if (type == WRI_PT_LEAF && hsize <= ps->fsize - addr &&
        wri_leaf_size_ok(wri_ps_version(ps), P, hsize))
        len = hsize; /* a long leaf (format 2) */
    if (len > ps->fsize - addr)
        len = ps->fsize - addr;
    if ((buf = calloc(1, len < WRI_PH_LEN ? WRI_PH_LEN : len)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    if ((rc = wri_ps_read_raw(ps, addr, buf, len, &got, eb)) != WR_OK)
        goto out;
    len = got;
    /* a block that is no whole page by its own checks may be an inner
     * block of a longer page: the tree says (only then: a walk's cost) */
    if (!page_holds(buf, len, hsize)) {
        page_around pa;
        if ((rc = page_around_addr(x, df, addr, &pa, eb)) < 0)
            goto out;
        if (rc > 0) {
            rc = page_inside(df, addr, &pa, eb);
            goto out;
        }
    }
    if (j != NULL)
        BSON_APPEND_DOCUMENT_BEGIN(j, "page", &jp);
    bson_t *jd = j != NULL ? &jp : NULL;
    dx_print(x, "page %" PRIu64 " (%" PRIu64 " bytes read, page size %u)\n",
             addr, len, P);
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
        j_u64(jd, "crc_stored", wri_get32(buf + WRI_PH_CRC));
    }
    page_checks(x, df, buf, len, hsize, addr, jd);
    if (len >= WRI_PH_LEN) {
        switch (type) {
        case WRI_PT_LEAF:
        case WRI_PT_INTERNAL:
            if (len >= WRI_PAGE_MIN)
                page_slots(x, df, buf, (uint32_t)len, addr, jd);
            break;
        case WRI_PT_OVERFLOW:
            page_overflow(x, df, buf, (uint32_t)len, addr, P, jd);
            break;
        case WRI_PT_EXTLIST:
            page_extlist(x, df, buf, (uint32_t)len, addr, jd);
            break;
        default: {
            char g[16];
            snprintf(g, sizeof g, "%u", type);
            dx_finding(x, WR_CHECK_PAGE, addr, addr + WRI_PH_TYPE, "1..4", g,
                       "unknown page type%s",
                       x->o->hex ? "" : " (see --hex)");
            break;
        }
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
