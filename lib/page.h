/*
 * page.h -- tree page layouts: encode, decode and check one page alone.
 *
 * Leaf and internal pages are one block (P bytes; in a format 2 file a
 * leaf may be a run of blocks up to WRI_LEAF_MAX, block.h, with the same
 * layout over the whole run: nothing here depends on the length) and
 * slotted: after the
 * 32-byte common header (block.h WRI_PH_*) comes an array of u16 cell
 * offsets, one per item, in key order; cells are packed from the end of
 * the page downwards.
 *
 *   +--------+-----------------+ - - free - - +-------+-------+-------+
 *   | header | slot[0..n-1] u16|              | cell  | cell  | cell  |
 *   +--------+-----------------+ - - - - - - -+-------+-------+-------+
 *   0        32         32+2n                 lowest cell          P
 *
 * Header AUX (24-31) of leaf/internal pages: u32 lowest cell offset, u32 0.
 *
 * Leaf cell:      00-01 u16 key length K
 *                 02    u8  flags (WRI_CELL_OVERFLOW: value is in an
 *                                  overflow page)
 *                 03    u8  0
 *                 04-07 u32 value length V (full length, even if overflow)
 *                 08-.. key (K bytes), then the value (V bytes) or, for an
 *                       overflow value, its page address (16 bytes);
 *                       with WRI_CELL_TAIL too (format 3, a value split by
 *                       the bulk loader), the address of a run that holds
 *                       the value's first V - T bytes in whole blocks
 *                       (T = V + 32 - run size), then its last T bytes;
 *                       a zero address (format 4, a value shorter than a
 *                       block packed by the bulk loader): no run, the
 *                       cell holds the whole value (T = V)
 * Internal cell:  00-01 u16 key length K (0 for the first cell)
 *                 02-03 u16 0
 *                 04-19 child page address (16 bytes)
 *                 20-.. key (K bytes): the lowest key the child may hold
 * Overflow page:  header (count 1, AUX = u64 value length V), the value
 *                 from byte 32; the page is the fewest blocks that hold it.
 *
 * Limits: a key is at most wri_page_max_key(P) bytes; a leaf value longer
 * than wri_page_max_inline(P, K) goes to an overflow page. With these, any
 * page holds at least four cells, so a split always succeeds.
 *
 * Calls blockfmt (addresses; block.h's header constants) and bsonkey
 * (key checks).
 */
#ifndef WR_PAGE_H
#define WR_PAGE_H

#include "block.h"
#include "wr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WRI_SLOT_SIZE 2
#define WRI_LEAF_CELL_HDR 8
#define WRI_INT_CELL_HDR 20
#define WRI_CELL_OVERFLOW 0x01
#define WRI_CELL_TAIL 0x02 /* with OVERFLOW: the value's tail follows the
                              address (format 3, docs/FORMAT.md) */
#define WRI_PH_LOWEST 24 /* AUX: u32 offset of the lowest cell */

uint32_t wri_page_max_key(uint32_t page_size);
/* Largest value stored inline in a leaf next to a key of klen bytes. */
uint32_t wri_page_max_inline(uint32_t page_size, uint32_t klen);
/* Bytes a leaf item takes in a page (cell + slot). */
uint32_t wri_leaf_item_size(uint32_t page_size, uint32_t klen, uint32_t vlen);
uint32_t wri_int_item_size(uint32_t klen);
/* Size of the overflow page that holds a value of vlen bytes. */
uint64_t wri_overflow_size(uint32_t page_size, uint64_t vlen);
/* A value split into whole blocks and a tail (format 3): the tail's length
 * T when the bulk loader keeps an overflow value's last bytes in its leaf
 * cell ((vlen + 32) mod P, when the value fills at least one block), vlen
 * when the value and a header fit in less than a block (format 4: the cell
 * holds it all, no run), else 0 (a value that fills its blocks exactly
 * stays whole in its overflow page). */
uint32_t wri_value_tail(uint32_t page_size, uint32_t vlen);
/* The one rule for how many of a leaf item's value bytes its cell keeps
 * beside an overflow address, in leaves that may be leaf_max bytes long
 * (block.h wri_leaf_max): in long leaves (leaf_max > page_size), an
 * overflow value's wri_value_tail; else 0 (also for an inline value).
 * The bulk loader and the engine (btree.c) both write by it. */
uint32_t wri_leaf_tail(uint32_t page_size, uint32_t leaf_max, uint32_t klen,
                       uint32_t vlen);
/* The format version a cell keeping tlen of a value's vlen bytes needs:
 * WRI_VERSION_PACKED for all of them, WRI_VERSION_TAILS for a part,
 * WRI_VERSION_1 for none. */
uint32_t wri_tail_version(uint32_t vlen, uint32_t tlen);

/* One decoded cell; pointers point into the page buffer. */
typedef struct wri_cell {
    const uint8_t *key;
    uint32_t klen;
    const uint8_t *val; /* leaf, inline value; NULL when overflow */
    uint32_t vlen;      /* leaf: full value length */
    bool overflow;      /* leaf: value in the overflow page at ovf */
    wr_addr ovf;
    const uint8_t *tail; /* leaf, split value: its last tlen bytes, in the
                            cell (the run at ovf holds vlen - tlen); a
                            packed value (ovf all zero): tlen == vlen */
    uint32_t tlen;
    wr_addr child;      /* internal */
    uint32_t off;       /* byte offset of the cell in the page */
} wri_cell;

/* A leaf cell's overflow value packed whole in the cell: no run (format
 * 4; flags 3, its address all zero, tlen == vlen). */
bool wri_cell_packed(const wri_cell *c);
/* The oldest format version that may hold leaf cell c (1, or
 * WRI_VERSION_TAILS for a split value, WRI_VERSION_PACKED for a packed
 * one), and what makes it need that version (for messages). */
uint32_t wri_cell_version(const wri_cell *c, const char **what);

typedef struct wri_page_view {
    const uint8_t *buf;
    uint32_t size;
    uint8_t type;
    uint16_t level;
    uint32_t count;
    uint64_t gen;
    uint32_t lowest;     /* lowest cell offset */
    uint32_t free_bytes; /* between the slot array and the lowest cell */
} wri_page_view;

/* A problem found by wri_page_check: where and what. */
typedef struct wri_page_problem {
    uint32_t off;   /* byte offset inside the page */
    int slot;       /* slot index, or -1 for the header */
    bool order;     /* keys out of order (an "ordering" finding), not a
                       page that does not decode */
    char what[256];
} wri_page_problem;

/* Check one leaf or internal page in isolation, safe on arbitrary bytes:
 * header fields, every slot and cell inside the page, cells not
 * overlapping the slot array or each other, key documents well formed
 * (nkeyelem elements; 0 = don't look inside keys), keys strictly
 * increasing. CRC is not checked here (block does). On success fills *v.
 * Returns WR_OK or WR_ECORRUPT with *prob filled. */
int wri_page_check(const uint8_t *buf, size_t len, int nkeyelem,
                   wri_page_view *v, wri_page_problem *prob);
/* The same, and cells[i] gets cell i (as wri_page_cell decodes it) for
 * the first ncells cells of a page that checks: the walk's one decoding
 * of them. */
int wri_page_check_cells(const uint8_t *buf, size_t len, int nkeyelem,
                         wri_page_view *v, wri_cell *cells, uint32_t ncells,
                         wri_page_problem *prob);
/* Decode cell i of a checked page (no checks repeated). */
void wri_page_cell(const wri_page_view *v, uint32_t i, wri_cell *c);
/* Decode the cell at byte off of a leaf (type 1) or internal page of size
 * bytes, trusting nothing: NULL, or the reason it does not fit (static
 * text). For the dumper, which shows every cell of a damaged page that
 * still decodes; c's pointers are valid only when NULL is returned. */
const char *wri_page_cell_at(const uint8_t *buf, uint32_t size, uint8_t type,
                             uint32_t off, wri_cell *c);
/* Check an overflow page's header against the value length expected. */
int wri_overflow_check(const uint8_t *buf, size_t len, uint64_t vlen,
                       wri_page_problem *prob);

/* Building a page: items are added in key order. */
typedef struct wri_page_builder {
    uint8_t *buf;
    uint32_t size;
    uint32_t count;
    uint32_t lowest; /* lowest cell offset so far */
    uint8_t type;
    uint16_t level;
} wri_page_builder;

void wri_pb_init(wri_page_builder *pb, uint8_t *buf, uint32_t size,
                 uint8_t type, uint16_t level);
/* Bytes used so far (header, slots and cells). */
uint32_t wri_pb_used(const wri_page_builder *pb);
/* Leaf item: inline value, or (ovf != NULL) a reference to an overflow
 * page holding vlen bytes. The caller checks it fits. */
void wri_pb_add_leaf(wri_page_builder *pb, const uint8_t *key, uint32_t klen,
                     const uint8_t *val, uint32_t vlen, const wr_addr *ovf);
/* Leaf item of a split value: the run at ovf holds its first vlen - tlen
 * bytes (ovf->size = 32 + vlen - tlen), tail its last tlen. */
void wri_pb_add_leaf_tail(wri_page_builder *pb, const uint8_t *key,
                          uint32_t klen, uint32_t vlen, const wr_addr *ovf,
                          const uint8_t *tail, uint32_t tlen);
void wri_pb_add_internal(wri_page_builder *pb, const uint8_t *key,
                         uint32_t klen, const wr_addr *child);
/* Move the page being built into its first size bytes (size >= used, and
 * at most its size): every cell moves down by the difference, so the
 * free gap shrinks by it. The bulk loader gives its last, part-full long
 * leaf the fewest blocks that hold it. */
void wri_pb_shrink(wri_page_builder *pb, uint32_t size);
/* Fill the header (CRC is set by block on write) and zero the free gap. */
void wri_pb_finish(wri_page_builder *pb, uint64_t gen);
/* Fill an overflow page buffer (size = wri_overflow_size). */
void wri_overflow_encode(uint8_t *buf, uint32_t size, const uint8_t *val,
                         uint64_t vlen, uint64_t gen);

#endif /* WR_PAGE_H */
