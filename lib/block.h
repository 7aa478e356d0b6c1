/*
 * block.h -- one tree file: header slots, page I/O with checksums,
 * free space (through extent.h) and checkpoints.
 *
 * File layout (docs/FORMAT.md is the byte-level truth):
 *   [0, P)      checkpoint slot 0 (a 512-byte record, rest of block zero)
 *   [P, 2P)     checkpoint slot 1
 *   [2P, ...)   pages: tree pages, overflow pages, extent-list pages
 * P is the page size, fixed at creation (512..65536, a power of two).
 *
 * Every page starts with the common page header (WRI_PH_*): a CRC32 (zlib)
 * over bytes [4, size) of the page, then type, level, item count, size and
 * the generation it was written for. A page is one block, except overflow
 * pages, which are one contiguous run of blocks. A page address (wr_addr)
 * carries offset, size and the page's CRC, so a reader can tell a stale or
 * misdirected page from the one that was meant.
 *
 * Checkpoint (commit) order, DESIGN decision 5; the invariants are numbered
 * at the top of block.c. Calls io, extent, the page source (every read,
 * in its strict mode) and blockfmt.c (the pure format functions declared
 * here: page CRC, addresses, slots, extent-list entries).
 */
#ifndef WR_BLOCK_H
#define WR_BLOCK_H

#include "extent.h"
#include "io.h"
#include "wr.h"

#include <stdbool.h>
#include <stdint.h>

#define WRI_PAGE_MIN 512u
#define WRI_PAGE_MAX 65536u
#define WRI_PAGE_DEFAULT 4096u

/* Tree-file format versions (slot field `version`, docs/FORMAT.md). */
#define WRI_VERSION_1 1u /* every leaf and internal page is one block */
#define WRI_VERSION_LONG_LEAVES 2u /* a leaf may be a run of blocks of up
                                      to WRI_LEAF_MAX bytes (bulk-built) */
#define WRI_VERSION_TAILS 3u /* a long leaf's cell may hold the tail of an
                                overflow value (page.h WRI_CELL_TAIL) */
#define WRI_VERSION_PACKED 4u /* ... or a whole overflow value shorter than
                                 a block, with no run (a zero address) */
#define WRI_LEAF_MAX 65536u
/* The longest leaf a file of this version and page size may hold. */
uint32_t wri_leaf_max(uint32_t version, uint32_t page_size);
/* The one rule for a leaf's length (docs/FORMAT.md "Long leaves"): one
 * block, or a run of whole blocks no longer than wri_leaf_max allows in a
 * file of this version. Whether it fits in the file is the caller's. */
bool wri_leaf_size_ok(uint32_t version, uint32_t page_size, uint64_t size);

/* --- checkpoint slot (512 bytes at offset 0 and at offset P) --- */
#define WRI_SLOT_LEN 512u
#define WRI_SLOT_MAGIC "WRTREE\r\n" /* 8 bytes */
#define WRI_SLOT_CRC 0       /* 00-03 u32 crc32 over [4, 512) */
#define WRI_SLOT_MAGIC_OFF 4 /* 04-11 magic */
#define WRI_SLOT_VERSION 12  /* 12-15 u32 format version */
#define WRI_SLOT_PAGESIZE 16 /* 16-19 u32 page size */
#define WRI_SLOT_ROLE 20     /* 20-23 u32 role (wri_role) */
#define WRI_SLOT_GEN 24      /* 24-31 u64 generation */
#define WRI_SLOT_ROOT 32     /* 32-47 addr of the root page (0 = empty) */
#define WRI_SLOT_EXTLIST 48  /* 48-63 addr of the first extent-list page */
#define WRI_SLOT_LSIZE 64    /* 64-71 u64 logical file size */
#define WRI_SLOT_NRECS 72    /* 72-79 u64 records in the tree */
#define WRI_SLOT_HEIGHT 80   /* 80-83 u32 tree height (0 = empty) */
#define WRI_SLOT_COLL_LEN 84 /* 84-85 u16 collection name length */
#define WRI_SLOT_FIELD_LEN 86 /* 86-87 u16 field path length (index) */
#define WRI_SLOT_NAMES 88    /* 88-...: collection name, then field path */
#define WRI_NAME_MAX 200     /* each name at most 200 bytes */

typedef enum wri_role {
    WRI_ROLE_MAIN = 1,  /* main table of a collection: _id -> document */
    WRI_ROLE_INDEX = 2, /* index on a field: (value, _id) -> nothing */
} wri_role;

/* --- page address (16 bytes on disk) --- */
typedef struct wr_addr {
    uint64_t off;  /* 00-07 byte offset; 0 = no page */
    uint32_t size; /* 08-11 bytes */
    uint32_t crc;  /* 12-15 the page's CRC32 */
} wr_addr;
#define WRI_ADDR_LEN 16
void wri_addr_encode(uint8_t *p, const wr_addr *a);
void wri_addr_decode(const uint8_t *p, wr_addr *a);

/* --- common page header (32 bytes at the start of every page) --- */
#define WRI_PH_CRC 0    /* 00-03 u32 crc32 over [4, size) */
#define WRI_PH_TYPE 4   /* 04    u8  wri_page_type */
#define WRI_PH_FLAGS 5  /* 05    u8  type-specific flags */
#define WRI_PH_LEVEL 6  /* 06-07 u16 level: 0 = leaf */
#define WRI_PH_COUNT 8  /* 08-11 u32 item count */
#define WRI_PH_SIZE 12  /* 12-15 u32 page size in bytes (blocks * P) */
#define WRI_PH_GEN 16   /* 16-23 u64 generation being built when written */
#define WRI_PH_AUX 24   /* 24-31 u64 type-specific */
#define WRI_PH_LEN 32

typedef enum wri_page_type {
    WRI_PT_LEAF = 1,
    WRI_PT_INTERNAL = 2,
    WRI_PT_OVERFLOW = 3,
    WRI_PT_EXTLIST = 4,
} wri_page_type;

/* --- extent-list page: header, next addr, entries --- */
#define WRI_EL_NEXT 32     /* 32-47 addr of the next extent-list page */
#define WRI_EL_ENTRIES 48  /* 48-...: entries of WRI_EL_ENTRY_LEN bytes */
#define WRI_EL_ENTRY_LEN 32 /* off u64, len u64, gen u64, kind u32, 0 u32 */

/* A decoded checkpoint slot. */
typedef struct wri_slot {
    uint32_t version;
    uint32_t page_size;
    uint32_t role;
    uint64_t gen;
    wr_addr root;
    wr_addr extlist;
    uint64_t logical_size;
    uint64_t nrecords;
    uint32_t height;
    char coll[WRI_NAME_MAX + 1];
    char field[WRI_NAME_MAX + 1];
} wri_slot;

/* What open found in each slot. */
typedef struct wri_slot_state {
    bool valid;
    char why[256]; /* when !valid: why it was rejected */
    wri_slot slot;
} wri_slot_state;

/* Encode a slot into 512 bytes (CRC included) / decode and check one
 * (blockfmt.c, like wri_addr_*, wri_page_crc and wri_extlist_entry: the
 * pure format functions under the page source). */
void wri_slot_encode(const wri_slot *s, uint8_t *buf);
/* Returns WR_OK, or an error with the reason in why (buffer of whylen). */
int wri_slot_decode(const uint8_t *buf, size_t len, wri_slot *s, char *why,
                    size_t whylen);

typedef struct wri_block_cfg {
    uint32_t page_size; /* 0 = default */
    uint32_t role;
    const char *coll;
    const char *field; /* index only */
    /* Generation of the first checkpoint committed on the new file: create
     * writes slot 0 at first_gen - 1 (an empty tree). 0 = 2, the default
     * (slot 0 holds generation 1). Compaction passes the generation the
     * catalog names for the file it replaces (DESIGN decision 6). */
    uint64_t first_gen;
    /* The file is nobody's until its creator fsyncs it whole (compact's
     * FILE.compact.tmp): its commits skip their fsyncs (block.c I14). */
    bool defer_sync;
} wri_block_cfg;

enum {
    WRI_BLOCK_RDONLY = 1,   /* never writes; opens with O_RDONLY */
    WRI_BLOCK_PREVIOUS = 2, /* open the older valid slot (implies RDONLY) */
    WRI_BLOCK_NOEXT = 4,    /* do not load the extent lists (quick reads;
                               implies RDONLY: writing needs the lists) */
};

typedef struct wri_block {
    wri_file *f;
    char *path;
    uint32_t page_size;
    bool readonly;
    wri_slot_state slots[2]; /* as found on open */
    int chosen;              /* index of the slot opened */
    wri_slot cur;            /* the checkpoint opened / last committed */
    wri_extmgr *em;          /* NULL when opened with NOEXT */
    uint64_t building;       /* generation being built (cur.gen + 1) */
    uint64_t file_size;      /* physical size at open */
    uint64_t extlist_pages;  /* pages of the persisted lists read on open */
    /* NULL, or a running total the gathered-write buffer (I13) moves
     * with while it is allocated: the memory budget of the database the
     * tree belongs to (db.c). The buffer then takes what room the total
     * leaves under held_max, up to WRI_BLOCK_RUN, in whole pages; with
     * less than two pages of room, pages are written one at a time. */
    uint64_t *held;
    uint64_t held_max;
} wri_block;

/* Create a new, empty tree file (fails with WR_EEXIST if present): slot 0
 * holds generation 1 (cfg->first_gen - 1 if set) with an empty tree, slot 1
 * is left zero. */
int wri_block_create(const char *path, const wri_block_cfg *cfg,
                     wri_block **out, wr_errbuf *eb);
/* Open: takes the valid slot with the highest generation (or, with
 * WRI_BLOCK_PREVIOUS, the other valid one); slots[] records why a slot
 * was rejected. Refuses zero-length, truncated, foreign, newer-version and
 * both-slots-broken files with a message. */
int wri_block_open(const char *path, int flags, wri_block **out,
                   wr_errbuf *eb);
/* Open at the slot with exactly generation gen (the catalog names it). */
int wri_block_open_gen(const char *path, int flags, uint64_t gen,
                       wri_block **out, wr_errbuf *eb);
void wri_block_close(wri_block *b);

/* Raise the format version the next checkpoint's slot carries (a file
 * keeps its version otherwise; a lower version is ignored): the bulk
 * loader raises a new file to WRI_VERSION_LONG_LEAVES before it writes a
 * long leaf, and further for the cells it writes (page.h
 * wri_cell_version). */
void wri_block_set_version(wri_block *b, uint32_t version);
/* From now on, pages written one right after another are gathered and
 * written together, up to WRI_BLOCK_RUN bytes per pwrite (the bulk
 * loader's new files, and every tree the engine writes: the pages of its
 * checkpoints and early writes are allocated one after another, so they
 * mostly follow one another in the file):
 * every read, fsync, slot write, truncate and close of the handle writes
 * what is gathered first (block.c I13). The run's buffer is allocated at
 * the first write and freed after each commit (b->held counts it);
 * without memory for it, pages are written one at a time. A failed write
 * of a run poisons the handle (I9). */
#define WRI_BLOCK_RUN (256u << 10)
/* and after every WRI_BLOCK_WRITEBACK bytes so gathered into runs that
 * mostly fill the stretch of the file they span (a file written front to
 * back), their writing back to the disk is started (a hint,
 * wri_io_writeback), so the fsync that ends the build does not wait for
 * the whole file. */
#define WRI_BLOCK_WRITEBACK (8u << 20)
void wri_block_gather_writes(wri_block *b);
/* The rule of that hint (block.c): the gathered runs written since the
 * last hint span [lo, hi) of the file and hold bytes of it. A run of len
 * bytes at off joins them when together they fill at least half the
 * stretch they span, else starts the stretch again (runs scattered over a
 * file). True when the stretch holds WRI_BLOCK_WRITEBACK bytes: hint
 * [lo, hi), the next run starts a new one. */
typedef struct wri_wb_stretch {
    uint64_t lo, hi, bytes;
} wri_wb_stretch;
bool wri_block_wb_add(wri_wb_stretch *s, uint64_t off, uint64_t len);
/* Allocate size bytes (a multiple of P), set the page CRC and write it;
 * fills *addr_out. buf's header fields other than CRC are the caller's. */
int wri_block_write_page(wri_block *b, uint8_t *buf, uint32_t size,
                         wr_addr *addr_out, wr_errbuf *eb);
/* Read the tree page at addr (one page of the file's size, or a long leaf
 * of a format 2 file: buf holds addr.size bytes) at `level`,
 * decoded with nkeyelem key elements: the page source's checked read of a
 * tree page (wri_ps_read_tree_page), strict. */
struct wri_page_view; /* page.h, which includes this header */
int wri_block_read_node(wri_block *b, const wr_addr *addr, int level,
                        int nkeyelem, uint8_t *buf, struct wri_page_view *v,
                        wr_errbuf *eb);
/* The overflow value of vlen bytes at ovf (a leaf cell's): the page
 * source's overflow read (wri_ps_read_overflow), strict: the length and
 * size are checked, then the address, and only then *buf grown and read.
 * *val points at the value inside *buf. A split value (format 3): the
 * run holds its first vlen - tlen bytes, tail (in the cell) the rest; a
 * packed one (format 4, ovf all zero, tlen == vlen): *val is tail. */
int wri_block_read_overflow(wri_block *b, const wr_addr *ovf, uint32_t vlen,
                            const uint8_t *tail, uint32_t tlen,
                            uint8_t **buf, size_t *cap, const uint8_t **val,
                            wr_errbuf *eb);
/* A main table's document as wr-verify checks it (the page source's
 * wri_ps_check_document, strict): WR_OK, or WR_ECORRUPT with the
 * finding's line (file, page, byte, "document"). at: where its bytes lie
 * (pagesrc.h wri_vloc); memo may be NULL (bsoncheck.h). */
struct wri_vloc;
struct wri_bson_memo;
int wri_block_check_document(wri_block *b, const struct wri_vloc *at,
                             const uint8_t *key, uint32_t klen,
                             const uint8_t *val, uint32_t vlen,
                             struct wri_bson_memo *memo, wr_errbuf *eb);
/* The page at addr is no longer part of the tree being built. */
int wri_block_free_page(wri_block *b, const wr_addr *addr, wr_errbuf *eb);

/* Commit a checkpoint: write the extent lists, fsync, write the older slot
 * with generation + 1, fsync, trim the free tail. On success b->cur is the
 * new checkpoint. On failure before the slot write nothing is committed and
 * the handle stays usable (a retry is fine); after a failed fsync or slot
 * write the handle refuses further writes (WR_EIO) and the file must be
 * reopened. If only the final truncation of debris fails, the checkpoint
 * is committed (b->cur moved) and the error is still returned. */
int wri_block_checkpoint(wri_block *b, const wr_addr *root, uint64_t nrecords,
                         uint32_t height, wr_errbuf *eb);

/* A writer giving up without committing: cut the file back to the larger
 * logical size of the two slots as the disk holds them now (I8), dropping
 * the debris of the checkpoint it did not finish (e.g. the pages a full
 * disk stopped). The slots are read again, since after a failed slot write
 * either may be there. A no-op when there is no debris. */
int wri_block_trim(wri_block *b, wr_errbuf *eb);

/* Zero the slot that does not hold the current checkpoint, and fsync, so
 * the file keeps one checkpoint only (I12). For a file just built with
 * first_gen, whose empty first_gen - 1 slot must never be taken for a
 * previous checkpoint. A failure poisons the handle (I9). */
int wri_block_erase_other(wri_block *b, wr_errbuf *eb);

/* A tree file's name in its database directory: "NAME.main.wr" or
 * "NAME.idx.FIELD.wr" (malloc'd). A collection name never holds the
 * separator WRI_IDX_SEP nor ends in ".idx" (wri_check_coll_name), so the
 * first WRI_IDX_SEP of a name ends NAME and no two trees share a file;
 * names older databases hold are kept (their catalogs name the files). */
#define WRI_IDX_SEP ".idx."
char *wri_tree_file_name(const char *coll, const char *field);
/* The other way (salvage, when a file's header is gone): the collection
 * (and field) a tree file's name says; coll and field hold WRI_NAME_MAX+1
 * bytes. 1 main table, 2 index, 0 not such a name. */
int wri_tree_file_parse(const char *fname, char *coll, char *field);

/* A page size this format allows: a power of two in [WRI_PAGE_MIN,
 * WRI_PAGE_MAX]. */
bool wri_page_size_ok(uint32_t p);

/* CRC32 of a page (over [4, size)). */
uint32_t wri_page_crc(const uint8_t *buf, size_t size);

/* Decode entry i of an extent-list page (bounds of the page are the
 * caller's: i < the entries that fit) and judge it against the checkpoint
 * it belongs to (generation gen, logical size lsize): NULL if it is a
 * valid avail or discard extent, else why not. The one place these rules
 * live: block (open), verify and dump all call it. */
const char *wri_extlist_entry(const uint8_t *page, uint32_t i,
                              uint32_t page_size, uint64_t gen,
                              uint64_t lsize, wri_ext *e);

/* Read the extent-list chain of a slot, calling fn for every entry; page
 * problems come back as WR_ECORRUPT. Used by open, verify and dump.
 * page_fn (may be NULL) is called with each list page's address. */
typedef int (*wri_extlist_page_fn)(const wr_addr *a, void *arg);
int wri_block_read_extlists(wri_block *b, const wri_slot *s,
                            wri_ext_visit_fn fn, wri_extlist_page_fn page_fn,
                            void *arg, wr_errbuf *eb);

#endif /* WR_BLOCK_H */
