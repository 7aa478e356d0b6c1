/*
 * blockfmt.c -- the bytes of a tree file that are not a tree page's
 * layout (page.c): page checksums, page addresses, checkpoint slots and
 * extent-list entries, encoded, decoded and judged. Pure functions, no
 * I/O: the page source (pagesrc.c), the page layouts (page.c) and block.c
 * all call them, so they sit below all three (block.h declares them;
 * docs/FORMAT.md is the byte-level description). Calls crc and err.
 */
#include "wr_int.h"

#include <stdio.h>
#include <stdlib.h>

/* --- checksums and addresses ------------------------------------------ */

uint32_t wri_page_crc(const uint8_t *buf, size_t size)
{
    return wri_crc32_after4(buf, size); /* zlib's CRC-32, faster (crc.c) */
}

void wri_addr_encode(uint8_t *p, const wr_addr *a)
{
    wri_put64(p, a->off);
    wri_put32(p + 8, a->size);
    wri_put32(p + 12, a->crc);
}

void wri_addr_decode(const uint8_t *p, wr_addr *a)
{
    a->off = wri_get64(p);
    a->size = wri_get32(p + 8);
    a->crc = wri_get32(p + 12);
}

uint32_t wri_leaf_max(uint32_t version, uint32_t page_size)
{
    return version >= WRI_VERSION_LONG_LEAVES && page_size < WRI_LEAF_MAX
               ? WRI_LEAF_MAX
               : page_size;
}

bool wri_leaf_size_ok(uint32_t version, uint32_t page_size, uint64_t size)
{
    return page_size > 0 && size >= page_size && size % page_size == 0 &&
           size <= wri_leaf_max(version, page_size);
}

bool wri_page_size_ok(uint32_t p)
{
    return p >= WRI_PAGE_MIN && p <= WRI_PAGE_MAX && (p & (p - 1)) == 0;
}

/* --- slots ------------------------------------------------------------ */

void wri_slot_encode(const wri_slot *s, uint8_t *buf)
{
    size_t cl = strnlen(s->coll, WRI_NAME_MAX);
    size_t fl = strnlen(s->field, WRI_NAME_MAX);
    memset(buf, 0, WRI_SLOT_LEN);
    memcpy(buf + WRI_SLOT_MAGIC_OFF, WRI_SLOT_MAGIC, 8);
    wri_put32(buf + WRI_SLOT_VERSION, s->version);
    wri_put32(buf + WRI_SLOT_PAGESIZE, s->page_size);
    wri_put32(buf + WRI_SLOT_ROLE, s->role);
    wri_put64(buf + WRI_SLOT_GEN, s->gen);
    wri_addr_encode(buf + WRI_SLOT_ROOT, &s->root);
    wri_addr_encode(buf + WRI_SLOT_EXTLIST, &s->extlist);
    wri_put64(buf + WRI_SLOT_LSIZE, s->logical_size);
    wri_put64(buf + WRI_SLOT_NRECS, s->nrecords);
    wri_put32(buf + WRI_SLOT_HEIGHT, s->height);
    wri_put16(buf + WRI_SLOT_COLL_LEN, (uint16_t)cl);
    wri_put16(buf + WRI_SLOT_FIELD_LEN, (uint16_t)fl);
    memcpy(buf + WRI_SLOT_NAMES, s->coll, cl);
    memcpy(buf + WRI_SLOT_NAMES + cl, s->field, fl);
    wri_put32(buf + WRI_SLOT_CRC, wri_crc32_after4(buf, WRI_SLOT_LEN));
}

/* Is a slot's page address sane for its geometry? */
static bool slot_addr_ok(const wr_addr *a, uint32_t P, uint64_t lsize,
                         bool one_block, const char *what, char *why,
                         size_t whylen)
{
    if (a->off == 0) {
        if (a->size == 0 && a->crc == 0)
            return true;
        snprintf(why, whylen, "%s address has offset 0 but size %u crc 0x%08x",
                 what, a->size, a->crc);
        return false;
    }
    if (a->off < 2 * (uint64_t)P || a->off % P != 0 || a->size == 0 ||
        a->size % P != 0 || (one_block && a->size != P) ||
        a->off > lsize || a->size > lsize - a->off) {
        snprintf(why, whylen,
                 "%s address [%llu, +%u) is not a page of the data area "
                 "[%llu, %llu)",
                 what, (unsigned long long)a->off, a->size,
                 (unsigned long long)(2 * (uint64_t)P),
                 (unsigned long long)lsize);
        return false;
    }
    return true;
}

int wri_slot_decode(const uint8_t *buf, size_t len, wri_slot *s, char *why,
                    size_t whylen)
{
    memset(s, 0, sizeof *s);
    if (len < WRI_SLOT_LEN) {
        snprintf(why, whylen, "only %zu of %u bytes (file truncated)", len,
                 WRI_SLOT_LEN);
        return WR_ECORRUPT;
    }
    bool zero = true;
    for (size_t i = 0; i < WRI_SLOT_LEN && zero; i++)
        zero = buf[i] == 0;
    if (zero) {
        snprintf(why, whylen, "all zero (never written)");
        return WR_ECORRUPT;
    }
    if (memcmp(buf + WRI_SLOT_MAGIC_OFF, WRI_SLOT_MAGIC, 8) != 0) {
        snprintf(why, whylen, "bad magic");
        return WR_ECORRUPT;
    }
    uint32_t stored = wri_get32(buf + WRI_SLOT_CRC);
    uint32_t computed = wri_crc32_after4(buf, WRI_SLOT_LEN);
    if (stored != computed) {
        snprintf(why, whylen, "CRC mismatch: stored 0x%08x computed 0x%08x",
                 stored, computed);
        return WR_ECORRUPT;
    }
    s->version = wri_get32(buf + WRI_SLOT_VERSION);
    s->page_size = wri_get32(buf + WRI_SLOT_PAGESIZE);
    s->role = wri_get32(buf + WRI_SLOT_ROLE);
    s->gen = wri_get64(buf + WRI_SLOT_GEN);
    wri_addr_decode(buf + WRI_SLOT_ROOT, &s->root);
    wri_addr_decode(buf + WRI_SLOT_EXTLIST, &s->extlist);
    s->logical_size = wri_get64(buf + WRI_SLOT_LSIZE);
    s->nrecords = wri_get64(buf + WRI_SLOT_NRECS);
    s->height = wri_get32(buf + WRI_SLOT_HEIGHT);
    uint32_t P = s->page_size;
    if (s->version == 0) {
        snprintf(why, whylen, "format version 0");
        return WR_ECORRUPT;
    }
    if (s->version > WR_FORMAT_VERSION) {
        snprintf(why, whylen,
                 "format version %u is newer than this build reads (%u)",
                 s->version, (unsigned)WR_FORMAT_VERSION);
        return WR_EVERSION;
    }
    if (!wri_page_size_ok(P)) {
        snprintf(why, whylen, "bad page size %u", P);
        return WR_ECORRUPT;
    }
    if (s->role != WRI_ROLE_MAIN && s->role != WRI_ROLE_INDEX) {
        snprintf(why, whylen, "bad role %u", s->role);
        return WR_ECORRUPT;
    }
    if (s->gen == 0) {
        snprintf(why, whylen, "generation 0");
        return WR_ECORRUPT;
    }
    if (s->logical_size < 2 * (uint64_t)P || s->logical_size % P != 0 ||
        s->logical_size > (uint64_t)INT64_MAX) {
        snprintf(why, whylen,
                 "bad logical size %llu (page size %u)",
                 (unsigned long long)s->logical_size, P);
        return WR_ECORRUPT;
    }
    if (!slot_addr_ok(&s->root, P, s->logical_size, false, "root", why,
                      whylen) ||
        !slot_addr_ok(&s->extlist, P, s->logical_size, true, "extent-list",
                      why, whylen))
        return WR_ECORRUPT;
    size_t cl = wri_get16(buf + WRI_SLOT_COLL_LEN);
    size_t fl = wri_get16(buf + WRI_SLOT_FIELD_LEN);
    if (cl > WRI_NAME_MAX || fl > WRI_NAME_MAX) {
        snprintf(why, whylen, "name lengths %zu and %zu exceed %d", cl, fl,
                 WRI_NAME_MAX);
        return WR_ECORRUPT;
    }
    const uint8_t *names = buf + WRI_SLOT_NAMES;
    if (memchr(names, 0, cl + fl) != NULL) {
        snprintf(why, whylen, "a NUL byte inside the names");
        return WR_ECORRUPT;
    }
    for (size_t i = WRI_SLOT_NAMES + cl + fl; i < WRI_SLOT_LEN; i++)
        if (buf[i] != 0) {
            snprintf(why, whylen, "reserved byte %zu is not zero", i);
            return WR_ECORRUPT;
        }
    memcpy(s->coll, names, cl);
    s->coll[cl] = '\0';
    memcpy(s->field, names + cl, fl);
    s->field[fl] = '\0';
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    return WR_OK;
}

/* --- extent lists on disk --------------------------------------------- */

const char *wri_extlist_entry(const uint8_t *page, uint32_t i,
                              uint32_t page_size, uint64_t gen,
                              uint64_t lsize, wri_ext *e)
{
    const uint8_t *p = page + WRI_EL_ENTRIES + (size_t)i * WRI_EL_ENTRY_LEN;
    uint64_t P = page_size;
    e->off = wri_get64(p);
    e->len = wri_get64(p + 8);
    e->gen = wri_get64(p + 16);
    e->kind = wri_get32(p + 24);
    if (e->kind != WRI_EXT_AVAIL && e->kind != WRI_EXT_DISCARD)
        return "unknown kind (1 avail, 2 discard)";
    if (wri_get32(p + 28) != 0)
        return "reserved field not zero";
    if (e->kind == WRI_EXT_AVAIL && e->gen != 0)
        return "avail entry with a generation";
    if (e->kind == WRI_EXT_DISCARD && (e->gen == 0 || e->gen > gen))
        return "discard entry's generation is 0 or newer than the checkpoint";
    if (e->len == 0 || e->off % P != 0 || e->len % P != 0 || e->off < 2 * P ||
        e->off > lsize || e->len > lsize - e->off)
        return "extent empty, unaligned or outside the data area";
    return NULL;
}
