/*
 * page.c -- leaf, internal and overflow page layouts (see page.h).
 *
 * wri_page_check() is the one decoder of tree pages: the B+tree, the
 * verifier and the dumper all call it, so it must be safe on any bytes.
 */
#include "page.h"

#include "wr_int.h"

#include <stdio.h>

/* Every cell is at most a quarter of the usable page, so a page holds at
 * least four and any split succeeds. */
static uint32_t page_cell_max(uint32_t page_size)
{
    return (page_size - WRI_PH_LEN) / 4;
}

uint32_t wri_page_max_key(uint32_t page_size)
{
    return page_cell_max(page_size) - (WRI_LEAF_CELL_HDR + WRI_ADDR_LEN +
                                       WRI_SLOT_SIZE);
}

uint32_t wri_page_max_inline(uint32_t page_size, uint32_t klen)
{
    uint32_t fixed = WRI_LEAF_CELL_HDR + WRI_SLOT_SIZE + klen;
    uint32_t max = page_cell_max(page_size);
    return max > fixed ? max - fixed : 0;
}

uint32_t wri_leaf_item_size(uint32_t page_size, uint32_t klen, uint32_t vlen)
{
    uint32_t v = vlen <= wri_page_max_inline(page_size, klen) ? vlen
                                                              : WRI_ADDR_LEN;
    return WRI_SLOT_SIZE + WRI_LEAF_CELL_HDR + klen + v;
}

uint32_t wri_int_item_size(uint32_t klen)
{
    return WRI_SLOT_SIZE + WRI_INT_CELL_HDR + klen;
}

uint64_t wri_overflow_size(uint32_t page_size, uint64_t vlen)
{
    uint64_t need = WRI_PH_LEN + vlen;
    return (need + page_size - 1) / page_size * page_size;
}

uint32_t wri_value_tail(uint32_t page_size, uint32_t vlen)
{
    uint64_t need = WRI_PH_LEN + (uint64_t)vlen;
    return need < page_size ? vlen : (uint32_t)(need % page_size);
}

uint32_t wri_leaf_tail(uint32_t page_size, uint32_t leaf_max, uint32_t klen,
                       uint32_t vlen)
{
    return vlen > wri_page_max_inline(page_size, klen) && leaf_max > page_size
               ? wri_value_tail(page_size, vlen)
               : 0;
}

uint32_t wri_tail_version(uint32_t vlen, uint32_t tlen)
{
    if (tlen == 0)
        return WRI_VERSION_1;
    return tlen == vlen ? WRI_VERSION_PACKED : WRI_VERSION_TAILS;
}

bool wri_cell_packed(const wri_cell *c)
{
    /* tlen > 0: a flags 3 cell (a flags 1 cell with a zero address is an
     * overflow value whose address is damaged, not a packed one) */
    return c->overflow && c->tlen > 0 && c->ovf.size == 0;
}

uint32_t wri_cell_version(const wri_cell *c, const char **what)
{
    if (wri_cell_packed(c)) {
        *what = "an overflow value packed whole in its cell";
        return WRI_VERSION_PACKED;
    }
    if (c->tlen > 0) {
        *what = "a value tail in its cell";
        return WRI_VERSION_TAILS;
    }
    *what = "a cell";
    return WRI_VERSION_1;
}

static int page_fail(wri_page_problem *prob, uint32_t off, int slot,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int page_fail(wri_page_problem *prob, uint32_t off, int slot,
                     const char *fmt, ...)
{
    if (prob != NULL) {
        va_list ap;
        prob->off = off;
        prob->slot = slot;
        prob->order = false;
        va_start(ap, fmt);
        vsnprintf(prob->what, sizeof prob->what, fmt, ap);
        va_end(ap);
    }
    return WR_ECORRUPT;
}

/* Decode cell at offset off of a page of size bytes, checking bounds.
 * Returns 0 or a reason (static string). */
static const char *page_cell_decode(const uint8_t *buf, uint32_t size,
                                    uint8_t type, uint32_t off, wri_cell *c)
{
    /* every field set (not a memset: this runs for every cell a reader
     * meets, and a 96-byte memset is a rep stos here) */
    static const wr_addr none = {0};
    c->key = c->val = c->tail = NULL;
    c->klen = c->vlen = c->tlen = 0;
    c->overflow = false;
    c->ovf = c->child = none;
    c->off = off;
    if (type == WRI_PT_LEAF) {
        if (off + WRI_LEAF_CELL_HDR > size)
            return "leaf cell header runs past the page end";
        c->klen = wri_get16(buf + off);
        uint8_t flags = buf[off + 2];
        c->vlen = wri_get32(buf + off + 4);
        if (flags != 0 && flags != WRI_CELL_OVERFLOW &&
            flags != (WRI_CELL_OVERFLOW | WRI_CELL_TAIL))
            return "unknown cell flags";
        uint64_t end = (uint64_t)off + WRI_LEAF_CELL_HDR + c->klen;
        c->key = buf + off + WRI_LEAF_CELL_HDR;
        if (flags & WRI_CELL_OVERFLOW) {
            c->overflow = true;
            if (end + WRI_ADDR_LEN > size)
                return "overflow address runs past the page end";
            wri_addr_decode(buf + end, &c->ovf);
            if (flags & WRI_CELL_TAIL) {
                /* the run holds whole blocks of the value, the cell the
                 * rest: at least one byte in each; or there is no run
                 * (a zero address) and the cell holds it all */
                if (c->ovf.size == 0) {
                    if (c->ovf.off != 0 || c->ovf.crc != 0)
                        return "packed value: an address of no blocks "
                               "that is not all zero";
                    if (c->vlen == 0)
                        return "packed value: an empty value";
                } else if (c->ovf.size <= WRI_PH_LEN ||
                           c->ovf.size - WRI_PH_LEN >= (uint64_t)c->vlen)
                    return "value tail: the run's size leaves no tail";
                c->tlen = c->ovf.size == 0
                              ? c->vlen
                              : c->vlen - (c->ovf.size - WRI_PH_LEN);
                if (end + WRI_ADDR_LEN + c->tlen > size)
                    return "value tail runs past the page end";
                c->tail = buf + end + WRI_ADDR_LEN;
            }
        } else {
            if (end + c->vlen > size)
                return "cell key or value runs past the page end";
            c->val = buf + end;
        }
        return NULL;
    }
    if (off + WRI_INT_CELL_HDR > size)
        return "internal cell header runs past the page end";
    c->klen = wri_get16(buf + off);
    wri_addr_decode(buf + off + 4, &c->child);
    if ((uint64_t)off + WRI_INT_CELL_HDR + c->klen > size)
        return "separator key runs past the page end";
    c->key = buf + off + WRI_INT_CELL_HDR;
    return NULL;
}

static uint32_t page_cell_len(const wri_cell *c, uint8_t type)
{
    if (type == WRI_PT_LEAF)
        return WRI_LEAF_CELL_HDR + c->klen +
               (c->overflow ? WRI_ADDR_LEN + c->tlen : c->vlen);
    return WRI_INT_CELL_HDR + c->klen;
}

/* The first byte of buf[from, to) that is not zero, or to: 32 bytes at a
 * time where it can (free space and overflow tails are mostly long runs
 * of zeros; a byte loop was a tenth of a quick check's time). */
static size_t page_nonzero(const uint8_t *buf, size_t from, size_t to)
{
    size_t i = from;
    for (; i + 32 <= to; i += 32) {
        uint64_t w[4];
        memcpy(w, buf + i, sizeof w);
        if ((w[0] | w[1] | w[2] | w[3]) != 0)
            break;
    }
    while (i < to && buf[i] == 0)
        i++;
    return i;
}

static int page_check_header(const uint8_t *buf, size_t len, wri_page_view *v,
                             wri_page_problem *prob)
{
    if (len < WRI_PAGE_MIN || len > WRI_PAGE_MAX)
        return page_fail(prob, 0, -1, "page length %zu is not a page size",
                         len);
    v->buf = buf;
    v->size = (uint32_t)len;
    v->type = buf[WRI_PH_TYPE];
    v->level = wri_get16(buf + WRI_PH_LEVEL);
    v->count = wri_get32(buf + WRI_PH_COUNT);
    v->gen = wri_get64(buf + WRI_PH_GEN);
    v->lowest = wri_get32(buf + WRI_PH_LOWEST);
    uint32_t hsize = wri_get32(buf + WRI_PH_SIZE);
    if (v->type != WRI_PT_LEAF && v->type != WRI_PT_INTERNAL)
        return page_fail(prob, WRI_PH_TYPE, -1,
                         "page type %u is not a leaf (1) or internal (2) page",
                         v->type);
    if (hsize != len)
        return page_fail(prob, WRI_PH_SIZE, -1,
                         "header size %u != page size %zu", hsize, len);
    if ((v->type == WRI_PT_LEAF) != (v->level == 0))
        return page_fail(prob, WRI_PH_LEVEL, -1,
                         "%s page at level %u",
                         v->type == WRI_PT_LEAF ? "leaf" : "internal",
                         v->level);
    if (buf[WRI_PH_FLAGS] != 0)
        return page_fail(prob, WRI_PH_FLAGS, -1, "page flags 0x%02x not zero",
                         buf[WRI_PH_FLAGS]);
    if (wri_get32(buf + WRI_PH_LOWEST + 4) != 0)
        return page_fail(prob, WRI_PH_LOWEST + 4, -1,
                         "AUX high word 0x%08x not zero (bytes 28-31)",
                         wri_get32(buf + WRI_PH_LOWEST + 4));
    uint64_t slots_end = WRI_PH_LEN + (uint64_t)v->count * WRI_SLOT_SIZE;
    if (slots_end > len)
        return page_fail(prob, WRI_PH_COUNT, -1,
                         "item count %u: slot array ends at %llu, past the "
                         "page end %zu",
                         v->count, (unsigned long long)slots_end, len);
    if (v->type == WRI_PT_INTERNAL && v->count == 0)
        return page_fail(prob, WRI_PH_COUNT, -1, "internal page with no child");
    if (v->lowest < slots_end || v->lowest > len)
        return page_fail(prob, WRI_PH_LOWEST, -1,
                         "lowest cell offset %u outside [%llu, %zu]",
                         v->lowest, (unsigned long long)slots_end, len);
    v->free_bytes = v->lowest - (uint32_t)slots_end;
    size_t nz = page_nonzero(buf, (size_t)slots_end, v->lowest);
    if (nz < v->lowest)
        return page_fail(prob, (uint32_t)nz, -1,
                         "free space [%llu, %u) is not zero at byte %zu",
                         (unsigned long long)slots_end, v->lowest, nz);
    return WR_OK;
}

int wri_page_check(const uint8_t *buf, size_t len, int nkeyelem,
                   wri_page_view *v, wri_page_problem *prob)
{
    return wri_page_check_cells(buf, len, nkeyelem, v, NULL, 0, prob);
}

int wri_page_check_cells(const uint8_t *buf, size_t len, int nkeyelem,
                         wri_page_view *v, wri_cell *cells, uint32_t ncells,
                         wri_page_problem *prob)
{
    int rc;
    if ((rc = page_check_header(buf, len, v, prob)) != WR_OK)
        return rc;
    /* Cells are packed downwards in slot order's reverse, so walking the
     * slots, each cell must end where the previous slot's cell starts
     * (page end for slot 0): that proves no overlap without sorting. */
    uint32_t expect_end = v->size;
    const uint8_t *prev_key = NULL; /* the previous cell's key */
    uint32_t prev_klen = 0;
    wri_cell own = {0}; /* a cell past ncells */
    char why[160];
    for (uint32_t i = 0; i < v->count; i++) {
        uint32_t soff = WRI_PH_LEN + i * WRI_SLOT_SIZE;
        uint32_t off = wri_get16(buf + soff);
        if (off < v->lowest || off >= v->size)
            return page_fail(prob, soff, (int)i,
                             "slot %u: cell offset %u outside [%u, %u)", i,
                             off, v->lowest, v->size);
        wri_cell *c = i < ncells ? &cells[i] : &own;
        const char *bad = page_cell_decode(buf, v->size, v->type, off, c);
        if (bad != NULL)
            return page_fail(prob, off, (int)i, "slot %u: %s", i, bad);
        if ((v->type == WRI_PT_LEAF && buf[off + 3] != 0) ||
            (v->type == WRI_PT_INTERNAL && wri_get16(buf + off + 2) != 0))
            return page_fail(prob, off + (v->type == WRI_PT_LEAF ? 3 : 2),
                             (int)i, "slot %u: cell padding not zero", i);
        if (off + page_cell_len(c, v->type) != expect_end)
            return page_fail(prob, off, (int)i,
                             "slot %u: cell [%u, %u) overlaps or leaves a gap "
                             "before the next cell at %u",
                             i, off, off + page_cell_len(c, v->type),
                             expect_end);
        expect_end = off;
        if (v->type == WRI_PT_INTERNAL) {
            if (i == 0 && c->klen != 0)
                return page_fail(prob, off, 0,
                                 "first child carries a separator key");
            if (c->child.off == 0 || c->child.size == 0)
                return page_fail(prob, off + 4, (int)i,
                                 "slot %u: null child address", i);
            if (i == 0)
                continue;
        }
        if (c->klen == 0)
            return page_fail(prob, off, (int)i, "slot %u: empty key", i);
        if (nkeyelem > 0) {
            if (wri_key_check(c->key, c->klen, nkeyelem, why, sizeof why) !=
                WR_OK)
                return page_fail(prob, c->key - buf, (int)i, "slot %u: key: %s",
                                 i, why);
            if (prev_key != NULL &&
                wri_key_cmp(prev_key, prev_klen, c->key, c->klen) >= 0) {
                page_fail(prob, c->key - buf, (int)i,
                          "slot %u: key not greater than slot %u's", i,
                          i - 1);
                if (prob != NULL)
                    prob->order = true;
                return WR_ECORRUPT;
            }
        }
        prev_key = c->key;
        prev_klen = c->klen;
    }
    if (expect_end != v->lowest)
        return page_fail(prob, WRI_PH_LOWEST, -1,
                         "lowest cell offset %u, but cells start at %u",
                         v->lowest, expect_end);
    return WR_OK;
}

void wri_page_cell(const wri_page_view *v, uint32_t i, wri_cell *c)
{
    uint32_t off = wri_get16(v->buf + WRI_PH_LEN + i * WRI_SLOT_SIZE);
    (void)page_cell_decode(v->buf, v->size, v->type, off, c);
}

const char *wri_page_cell_at(const uint8_t *buf, uint32_t size, uint8_t type,
                             uint32_t off, wri_cell *c)
{
    return page_cell_decode(buf, size, type, off, c);
}

int wri_overflow_check(const uint8_t *buf, size_t len, uint64_t vlen,
                       wri_page_problem *prob)
{
    if (len < WRI_PH_LEN)
        return page_fail(prob, 0, -1, "overflow page shorter than a header");
    if (buf[WRI_PH_TYPE] != WRI_PT_OVERFLOW)
        return page_fail(prob, WRI_PH_TYPE, -1,
                         "page type %u, expected overflow (3)",
                         buf[WRI_PH_TYPE]);
    uint64_t have = wri_get64(buf + WRI_PH_AUX);
    if (have != vlen)
        return page_fail(prob, WRI_PH_AUX, -1,
                         "overflow holds %llu bytes, the leaf expects %llu",
                         (unsigned long long)have, (unsigned long long)vlen);
    if (WRI_PH_LEN + vlen > len)
        return page_fail(prob, WRI_PH_AUX, -1,
                         "overflow value of %llu bytes does not fit in %zu",
                         (unsigned long long)vlen, len);
    size_t nz = page_nonzero(buf, WRI_PH_LEN + (size_t)vlen, len);
    if (nz < len)
        return page_fail(prob, (uint32_t)nz, -1,
                         "overflow tail after the value is not zero at "
                         "byte %zu",
                         nz);
    return WR_OK;
}

void wri_pb_init(wri_page_builder *pb, uint8_t *buf, uint32_t size,
                 uint8_t type, uint16_t level)
{
    pb->buf = buf;
    pb->size = size;
    pb->count = 0;
    pb->lowest = size;
    pb->type = type;
    pb->level = level;
}

uint32_t wri_pb_used(const wri_page_builder *pb)
{
    return WRI_PH_LEN + pb->count * WRI_SLOT_SIZE + (pb->size - pb->lowest);
}

static uint8_t *pb_new_cell(wri_page_builder *pb, uint32_t len)
{
    pb->lowest -= len;
    /* A 64 KiB page's slot cannot hold 65536, but cells never start at the
     * page end, so offsets always fit. */
    wri_put16(pb->buf + WRI_PH_LEN + pb->count * WRI_SLOT_SIZE,
              (uint16_t)pb->lowest);
    pb->count++;
    return pb->buf + pb->lowest;
}

void wri_pb_add_leaf(wri_page_builder *pb, const uint8_t *key, uint32_t klen,
                     const uint8_t *val, uint32_t vlen, const wr_addr *ovf)
{
    uint32_t len = WRI_LEAF_CELL_HDR + klen + (ovf ? WRI_ADDR_LEN : vlen);
    uint8_t *p = pb_new_cell(pb, len);
    wri_put16(p, (uint16_t)klen);
    p[2] = ovf ? WRI_CELL_OVERFLOW : 0;
    p[3] = 0;
    wri_put32(p + 4, vlen);
    memcpy(p + WRI_LEAF_CELL_HDR, key, klen);
    if (ovf)
        wri_addr_encode(p + WRI_LEAF_CELL_HDR + klen, ovf);
    else if (vlen > 0)
        memcpy(p + WRI_LEAF_CELL_HDR + klen, val, vlen);
}

void wri_pb_add_leaf_tail(wri_page_builder *pb, const uint8_t *key,
                          uint32_t klen, uint32_t vlen, const wr_addr *ovf,
                          const uint8_t *tail, uint32_t tlen)
{
    uint32_t len = WRI_LEAF_CELL_HDR + klen + WRI_ADDR_LEN + tlen;
    uint8_t *p = pb_new_cell(pb, len);
    wri_put16(p, (uint16_t)klen);
    p[2] = WRI_CELL_OVERFLOW | WRI_CELL_TAIL;
    p[3] = 0;
    wri_put32(p + 4, vlen);
    memcpy(p + WRI_LEAF_CELL_HDR, key, klen);
    wri_addr_encode(p + WRI_LEAF_CELL_HDR + klen, ovf);
    memcpy(p + WRI_LEAF_CELL_HDR + klen + WRI_ADDR_LEN, tail, tlen);
}

void wri_pb_add_internal(wri_page_builder *pb, const uint8_t *key,
                         uint32_t klen, const wr_addr *child)
{
    if (pb->count == 0)
        klen = 0; /* the first child has no separator */
    uint8_t *p = pb_new_cell(pb, WRI_INT_CELL_HDR + klen);
    wri_put16(p, (uint16_t)klen);
    wri_put16(p + 2, 0);
    wri_addr_encode(p + 4, child);
    if (klen > 0)
        memcpy(p + WRI_INT_CELL_HDR, key, klen);
}

void wri_pb_shrink(wri_page_builder *pb, uint32_t size)
{
    uint32_t delta = pb->size - size;
    if (delta == 0)
        return;
    memmove(pb->buf + pb->lowest - delta, pb->buf + pb->lowest,
            pb->size - pb->lowest);
    for (uint32_t i = 0; i < pb->count; i++) {
        uint8_t *s = pb->buf + WRI_PH_LEN + i * WRI_SLOT_SIZE;
        wri_put16(s, (uint16_t)(wri_get16(s) - delta));
    }
    pb->lowest -= delta;
    pb->size = size;
}

void wri_pb_finish(wri_page_builder *pb, uint64_t gen)
{
    uint8_t *b = pb->buf;
    uint32_t slots_end = WRI_PH_LEN + pb->count * WRI_SLOT_SIZE;
    memset(b, 0, WRI_PH_LEN);
    b[WRI_PH_TYPE] = pb->type;
    wri_put16(b + WRI_PH_LEVEL, pb->level);
    wri_put32(b + WRI_PH_COUNT, pb->count);
    wri_put32(b + WRI_PH_SIZE, pb->size);
    wri_put64(b + WRI_PH_GEN, gen);
    wri_put32(b + WRI_PH_LOWEST, pb->lowest);
    memset(b + slots_end, 0, pb->lowest - slots_end);
}

void wri_overflow_encode(uint8_t *buf, uint32_t size, const uint8_t *val,
                         uint64_t vlen, uint64_t gen)
{
    memset(buf, 0, WRI_PH_LEN);
    buf[WRI_PH_TYPE] = WRI_PT_OVERFLOW;
    wri_put32(buf + WRI_PH_COUNT, 1);
    wri_put32(buf + WRI_PH_SIZE, size);
    wri_put64(buf + WRI_PH_GEN, gen);
    wri_put64(buf + WRI_PH_AUX, vlen);
    memcpy(buf + WRI_PH_LEN, val, vlen);
    memset(buf + WRI_PH_LEN + vlen, 0, size - WRI_PH_LEN - vlen);
}
