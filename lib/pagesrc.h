/*
 * pagesrc.h -- the page source: every read of a tree file's header slots
 * and pages goes through here (DESIGN decision 11), so each format rule
 * for reading lives in one place.
 *
 * Owns: slot probing and choice (docs/FORMAT.md "Choosing a slot on
 * open"), address checks, the checked page read (CRC over the bytes, the
 * CRC the parent's address expects, the header's size field against the
 * address), overflow reads, the extent-list chain walk, the tree walk
 * (page structure, levels, key form, order and the parent's bounds, value
 * placement), the ownership map of [2P, logical size) and a whole-file
 * scan by offset.
 *
 * Two modes, one set of rules:
 *   strict    (the engine, block.c/btree.c): the first finding is returned
 *             as WR_ECORRUPT with eb holding the finding's one-line form;
 *   tolerant  (verify, dump, salvage): each finding goes to the sink with
 *             file, page, byte and check (wr_finding, wr.h) and the walk
 *             goes on past it; calls return WRI_PS_BAD for "damaged,
 *             reported". A tool that prints findings prints the same
 *             coordinates whichever tool it is.
 * Return values: WR_OK, WRI_PS_BAD (tolerant only: a finding was made) or
 * a negative wr_err (environment errors in both modes; damage in strict).
 *
 * Reads: read-only sources (cfg.readahead) read in sequential runs: a read
 * that starts where the previous one ended is served from a run buffer
 * that doubles from 8 KiB up to WRI_PS_RUN_MAX, so a scan or a walk over
 * a file laid out in order does one pread per run, not one per page; a
 * read elsewhere sends it back to 8 KiB only when the stretch before was
 * short (scattered pages), not when it interrupts a long one (an internal
 * page between the runs of leaves it points to) (and
 * the file is opened with POSIX_FADV_SEQUENTIAL, so the kernel reads
 * further ahead when it is not cached). Random reads go straight to the
 * file. A source opened with cfg.map whose file is all in the page cache
 * reads through a mapping instead: every read is a pointer into it (a
 * copy for wri_ps_pread), no system call. A file that shrinks under
 * any kind of read is an environment error (WR_EIO, wri_ps_intact),
 * never a crash and never a finding. A source opened with cfg.batch (a
 * walk over scattered leaves: compact's original) reads the leaves of
 * each internal page of level 1 ahead, in batches of one system call
 * each (wri_ps_prefetch, io.h's wri_io_pread_batch) where the kernel has
 * io_uring, and is then not mapped: on a virtual machine the first touch
 * of each mapped page costs more than its copy by a batched read (the
 * 1M-document compact's walk: 108,000 page reads in 2,350 batches). A
 * page the batch did not get whole is read again as any page, so its
 * findings are the same. A source used by a writer (the engine) has no run
 * buffer: what it reads is always what is on disk. A walk that asks
 * (wri_ps_walk.inplace, verify's) checks each leaf where the read put it
 * in the run buffer, without a copy; a leaf whose values are in overflow
 * runs is copied first, since reading them moves the run.
 *
 * Bounded: every offset, length and count read from the file is checked
 * before use; walks are capped (depth 64, one visit per block, list chains
 * by the file's page count); the largest allocation is one overflow value
 * of at most 16 MiB, made only after its address was checked against the
 * file.
 *
 * A walk that asks (wri_ps_walk.twin, verify's) walks the second half of
 * the root's children on a thread of its own through a twin source
 * (wri_ps_twin), speculatively: kept only when clean, else walked again.
 *
 * Calls io, cores, blockfmt (slot decoding, addresses, extent entries: never
 * block.c, which reads through this), page (the page checker), bsoncheck
 * and bsonkey (key checks and order). Never writes.
 */
#ifndef WR_PAGESRC_H
#define WR_PAGESRC_H

#include "block.h"
#include "bsoncheck.h"
#include "page.h"
#include "wr.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define WRI_PS_BAD 1                 /* tolerant: damage found, reported */
#define WRI_PS_MAX_DEPTH 64          /* tree depth a walk follows */
#define WRI_PS_MAX_VALUE (16u << 20) /* BSON's document size limit */
#define WRI_PS_RUN_MAX (256u << 10)  /* largest sequential read */
#define WRI_PS_PF_MAX 64             /* pages a batch reads ahead */
#define WRI_PS_PF_BYTES (1u << 20)   /* bytes a batch reads ahead */

/* Where findings go (tolerant mode). */
typedef void (*wri_ps_sink_fn)(const wr_finding *f, void *arg);

typedef struct wri_ps_cfg {
    bool tolerant;      /* report and go on; else refuse (strict) */
    bool readahead;     /* read-only source: sequential runs */
    wri_ps_sink_fn sink;
    void *sink_arg;
    volatile int *interrupted; /* walks stop with WR_EINTR when set */
    bool any_file;      /* open any file, empty or foreign too (salvage:
                           its pages may still be found by a scan); a
                           newer format version is refused all the same */
    bool map;           /* read-only source nothing should change while
                           it is open (compact's original, under the
                           directory's lock): read through a mapping of
                           the file, no system call or copy per page, when
                           all of it is in the page cache
                           (wri_io_map_cached); else by pread as any
                           source. If the file shrinks or a page cannot be
                           read back all the same, the read gives zeros,
                           not SIGBUS, and the source's next read, finding
                           or walk end says WR_EIO (wri_ps_intact), as a
                           pread that finds it shorter does */
    bool batch;         /* a walk over scattered leaves (compact's
                           original): the leaves of each internal page of
                           level 1 are read ahead together, one batch of
                           reads a system call (wri_ps_prefetch), where the
                           kernel allows (wri_io_ring_new); then the file
                           is not mapped (map), which costs more per page
                           on a virtual machine than the batch */
} wri_ps_cfg;

/* Owners of a block in the ownership map. */
enum { WRI_OWN_NONE = 0, WRI_OWN_TREE, WRI_OWN_LIST, WRI_OWN_FREE };

typedef struct wri_ps {
    wri_file *f;
    bool own_file;
    char *path;
    uint64_t fsize;           /* physical size when opened */
    uint32_t P;               /* page size; 0 when no slot says */
    wri_slot_state slots[2];  /* as probed */
    bool magic[2];            /* the slot had the WRTREE magic */
    uint8_t raw[2][WRI_SLOT_LEN]; /* the slots as read */
    size_t rawlen[2];
    uint64_t slot_off[2];     /* where each slot was read (slot 1: P) */
    wri_ps_cfg cfg;
    uint64_t gen;             /* stamped on findings (0: none) */
    uint64_t nfindings;
    /* ownership map of one checkpoint, 2 bits per block (optional) */
    uint8_t *map;
    uint64_t nblocks;
    /* cfg.map: the whole file, mapped (NULL: not mapped) */
    const uint8_t *mapped;
    uint64_t mapped_len;
    const wri_io_guard *guard; /* the mapping's (wri_io_map_guard) */
    uint64_t shrank_at;       /* 0, or 1 + where a pread ended before
                                 fsize: the file shrank (wri_ps_intact) */
    /* sequential runs */
    uint8_t *run;
    uint64_t run_off;
    size_t run_len, run_win;
    uint64_t seq_next;
    uint64_t seq_bytes;       /* read in the current sequential stretch
                                 (its first read, run hits, refills) */
    size_t seq_first;         /* the length of the read that began it */
    bool seq_short_before;    /* the stretch before it was short */
    /* cfg.batch: the pages read ahead (wri_ps_prefetch): pf[i] at
     * pf_buf + pf_at[i], handed out in order from pf_next */
    wri_io_ring *ring;        /* NULL: no batches */
    uint8_t *pf_buf;
    wri_io_rd pf[WRI_PS_PF_MAX];
    size_t pf_at[WRI_PS_PF_MAX];
    size_t pf_n, pf_next;
    uint64_t preads; /* system reads made (tests, bench) */
    uint64_t batches; /* of them, batches of reads (wri_ps_prefetch) */
    uint64_t pf_taken; /* pages read taken from a batch */
    atomic_int *halt; /* set (a twin: wri_ps_twin): stop as if
                         interrupted */
    atomic_int halt_flag;
} wri_ps;

/* cfg.batch: read the pages at a[0..n) ahead, in one batch, as far as
 * WRI_PS_PF_MAX pages and WRI_PS_PF_BYTES go: the reads of them that
 * follow, in this order, take them from the batch (a read that the batch
 * did not get, or of anything else, reads the file as usual). Addresses
 * that do not lie inside the file in whole blocks are skipped, left to
 * the read that checks them. Returns how many of a[] it went through (at
 * least one; n when there is nothing to batch with): the caller asks
 * again from there once it has read them. */
size_t wri_ps_prefetch(wri_ps *ps, const wr_addr *a, size_t n);

/* Open path read-only and probe both slots. Damaged slots are recorded in
 * slots[] (never an error); WR_ENOTOURS if the file is empty or neither
 * slot has the magic ("not a wrtools file"), WR_EVERSION if a slot is of
 * a newer format, or an I/O error. */
int wri_ps_open(const char *path, const wri_ps_cfg *cfg, wri_ps **out,
                wr_errbuf *eb);
/* The same on a file the caller holds open (the engine); f stays theirs. */
int wri_ps_open_file(wri_file *f, const char *path, const wri_ps_cfg *cfg,
                     wri_ps **out, wr_errbuf *eb);
void wri_ps_close(wri_ps *ps);
/* WR_OK, or WR_EIO when the file changed or shrank while it was read,
 * whichever way the source reads it: a read through its mapping faulted,
 * or a pread ended before the size the file had when opened (a writer
 * without the lock, a page the disk could not return): what was read is
 * not the file, and no damage may be reported from it (an environment
 * error, exit 3, never a "truncated" finding). Every read and every
 * finding asks first; a caller that used mapped bytes after the source's
 * last read (another thread) asks before it trusts them. */
int wri_ps_intact(wri_ps *ps, wr_errbuf *eb);
/* The file grew (a writer appended): re-read its size. */
int wri_ps_refresh_size(wri_ps *ps, wr_errbuf *eb);

/* Which checkpoint: the newest valid slot, the other valid one, or the
 * one with exactly generation gen (the catalog's). */
enum { WRI_PS_LATEST = 0, WRI_PS_PREVIOUS, WRI_PS_GEN };
/* *slot_out gets 0 or 1. WR_ECORRUPT when no slot is valid (eb names
 * each slot's reason), WR_ENOTFOUND when the one asked for is not there
 * (no previous checkpoint; no slot of that generation). */
int wri_ps_choose(const wri_ps *ps, int which, uint64_t gen, int *slot_out,
                  wr_errbuf *eb);
/* A slot that was written and does not hold: not "all zero (never
 * written)", not missing past the end of a file whose other slot serves. */
bool wri_ps_slot_damaged(const wri_ps *ps, int i);

/* Findings about the slots themselves, at their offsets: a slot that was
 * written and rejected (and why), two slots with one generation or that
 * disagree on what the file is, a valid slot whose root or first list
 * page lies past the end of the file. chosen: the slot in use, or -1. */
void wri_ps_check_slots(wri_ps *ps, int chosen);
/* The first of those for slot i alone. */
void wri_ps_check_slot(wri_ps *ps, int i, int chosen);
/* Is slot i valid with its root and first list page inside the file? */
bool wri_ps_slot_readable(const wri_ps *ps, int i);
/* The file's format version as its valid slots say (the higher of two);
 * with no valid slot, the newest this build reads: a page found without a
 * slot (a scan, wr-dump --page) is judged by the most lenient rules. */
uint32_t wri_ps_version(const wri_ps *ps);
/* Start on checkpoint `slot`: findings get its generation, a file shorter
 * than its logical size is a finding, and with map the ownership map of
 * [2P, logical size) is made empty. */
int wri_ps_begin(wri_ps *ps, int slot, bool map, wr_errbuf *eb);

/* Make a finding at (page, offset) under check. Tolerant: to the sink,
 * WRI_PS_BAD. Strict: WR_ECORRUPT with eb set to the finding's line. */
int wri_ps_finding(wri_ps *ps, wr_errbuf *eb, int check, uint64_t page,
                   uint64_t off, const char *expected, const char *found,
                   const char *fmt, ...) __attribute__((format(printf, 8, 9)));

/* Is a the address of a page of this file: want_size bytes (0: any
 * positive multiple of P), aligned, inside [2P, lsize) (UINT64_MAX: no
 * logical bound) and inside the file? (ref_page, ref_off): where the
 * address was found. */
int wri_ps_addr_check(wri_ps *ps, const wr_addr *a, uint32_t want_size,
                      uint64_t lsize, uint64_t ref_page, uint64_t ref_off,
                      const char *what, wr_errbuf *eb);
/* Read the page at a (checked with wri_ps_addr_check) into buf (a->size
 * bytes) and check it against its address: CRC over its bytes, the CRC
 * the address expects, the header size field. *raw_ok (may be NULL) says
 * whether all the bytes could be read, even if a check then failed (a
 * dumper may show them, marked untrusted). */
int wri_ps_read(wri_ps *ps, const wr_addr *a, uint8_t *buf, const char *what,
                bool *raw_ok, wr_errbuf *eb);
/* A tree page at a (its address checked by the caller, a->size bytes)
 * read into buf and decoded: the checked read (wri_ps_read), the page
 * checker (wri_page_check; nkeyelem 0: keys not looked into) and the
 * page's level against `level` (-1: any below WRI_PS_MAX_DEPTH). *v on
 * WR_OK. *raw_ok (may be NULL): all the bytes were read; *trusted (may
 * be NULL): they passed the read's checks (CRC, address), whatever the
 * decoding then found. The engine (wri_block_read_node) and the tree walk
 * both read tree pages here. */
int wri_ps_read_tree_page(wri_ps *ps, const wr_addr *a, int level,
                          int nkeyelem, uint8_t *buf, wri_page_view *v,
                          bool *raw_ok, bool *trusted, wr_errbuf *eb);
/* The same read, for a walk: with inplace, *page may point into the run
 * buffer instead of buf (no copy; valid until the next read of ps), and
 * the page checker's decoding of the first ncells cells goes to cells
 * (may be NULL). */
typedef struct wri_ps_tree_read {
    int level, nkeyelem; /* as wri_ps_read_tree_page's */
    uint8_t *buf;        /* room for the page */
    bool inplace;
    wri_cell *cells;
    uint32_t ncells;
} wri_ps_tree_read;
int wri_ps_view_tree_page(wri_ps *ps, const wr_addr *a,
                          const wri_ps_tree_read *r, const uint8_t **page,
                          wri_page_view *v, bool *raw_ok, bool *trusted,
                          wr_errbuf *eb);
/* The address of a tree page at level (-1: not known) checked as
 * wri_ps_addr_check does: one block, or, for a leaf of a file whose
 * version allows long leaves (leaf_max > P, wri_leaf_max), a run of
 * blocks of at most leaf_max bytes (docs/FORMAT.md "Long leaves"). The
 * walk, the lookups and the engine (wri_block_read_node) all use it. */
int wri_ps_tree_addr_check(wri_ps *ps, const wr_addr *a, int level,
                           uint32_t leaf_max, uint64_t lsize,
                           uint64_t ref_page, uint64_t ref_off,
                           wr_errbuf *eb);
/* Bytes at off, no checks (wr-dump --page, --hex): *got may be short. */
int wri_ps_read_raw(wri_ps *ps, uint64_t off, void *buf, size_t len,
                    size_t *got, wr_errbuf *eb);
/* The overflow value of leaf cell c (found on page `page`): its length
 * against the 16 MiB limit and the page size the length needs, the
 * address, then (only then) the buffer grown, the page read and its
 * header checked. *val points at the value inside *buf. A split value
 * (c->tlen > 0, format 3): the run holds its first vlen - tlen bytes, the
 * tail (shorter than a block) is appended from the cell. A packed value
 * (wri_cell_packed, format 4) has no run: *val points at it in the cell
 * (valid as long as the page's buffer), *buf untouched. */
int wri_ps_read_overflow(wri_ps *ps, const wri_cell *c, uint64_t lsize,
                         uint64_t page, uint8_t **buf, size_t *cap,
                         const uint8_t **val, wr_errbuf *eb);
/* The same read; when the run's address held and its bytes were read
 * whole but failed a check (CRC, stale, header: WRI_PS_BAD), *raw points
 * at the value as the file holds it, in *buf (its tail appended), else
 * NULL: what is left of a damaged value, for salvage's lost+found. */
int wri_ps_read_overflow_raw(wri_ps *ps, const wri_cell *c, uint64_t lsize,
                             uint64_t page, uint8_t **buf, size_t *cap,
                             const uint8_t **val, const uint8_t **raw,
                             wr_errbuf *eb);

/* --- the ownership map of one checkpoint (tolerant walks) ------------ */
int wri_ps_map_begin(wri_ps *ps, uint64_t lsize, wr_errbuf *eb);
void wri_ps_map_end(wri_ps *ps);
/* Mark [off, off+len) for who; returns the first other owner met (the
 * blocks keep it), WRI_OWN_NONE if none. No map: WRI_OWN_NONE. */
int wri_ps_mark(wri_ps *ps, uint64_t off, uint64_t len, int who);
/* Every unowned run of [2P, lsize): a space finding each; returns the
 * bytes leaked. */
uint64_t wri_ps_leaks(wri_ps *ps, uint64_t lsize);

/* --- the extent-list chain of a checkpoint --------------------------- */
typedef struct wri_ps_lists {
    /* each list page read (trusted), with its entry count and next */
    int (*page)(void *arg, const wr_addr *a, uint32_t count,
                const wr_addr *next);
    /* each entry: bad is NULL or why it does not hold (reported) */
    int (*entry)(void *arg, const wr_addr *page, uint32_t i,
                 const wri_ext *e, const char *bad);
    void *arg;
    int slot;         /* which slot the chain starts from (coordinates) */
    /* out */
    bool incomplete;  /* a page or an entry could not be used */
    uint64_t pages;
} wri_ps_lists;
int wri_ps_walk_lists(wri_ps *ps, const wri_slot *s, wri_ps_lists *w,
                      wr_errbuf *eb);

/* --- the tree of a checkpoint, depth first in key order -------------- */
/* Where a leaf item's value lies in the file, so that a finding names
 * the page and byte that hold the bad byte: its first `split` bytes from
 * file offset `off` in the page at `page` (the leaf for an inline value,
 * the run for an overflow value), the rest (a split value's tail, format
 * 3, or a packed value whole, format 4: split 0) from `toff` in the leaf
 * at `tpage`. */
typedef struct wri_vloc {
    uint64_t page, off;
    uint64_t tpage, toff;
    uint32_t split; /* bytes before the tail (the value's length if none) */
} wri_vloc;
/* The value of leaf cell c in the leaf at file offset leaf. */
wri_vloc wri_ps_vloc(uint64_t leaf, const wri_cell *c);
/* File offset of byte i of that value; *page gets the page holding it. */
uint64_t wri_vloc_at(const wri_vloc *at, uint64_t i, uint64_t *page);

typedef struct wri_ps_page {
    int depth;
    wr_addr addr;
    const wri_page_view *v; /* NULL: not decoded (a finding says why) */
    const uint8_t *buf;     /* the bytes, when they could be read */
    bool trusted;           /* CRC holds and matches the address */
} wri_ps_page;

/* A walk's settings are handed to its twin (below) in one place,
 * pagesrc_walk.c ps_walk_twin_init: a new setting is added there too. */
typedef struct wri_ps_walk {
    int nkeyelem;      /* 1 main table, 2 index */
    bool keys;         /* check key form, order and bounds (not --quick) */
    bool map;          /* mark pages in the ownership map */
    bool inplace;      /* leaves checked in the run buffer: the callbacks
                          read nothing through ps (verify's do not) */
    /* every address reached (v NULL when it did not decode) */
    int (*page)(void *arg, const wri_ps_page *p);
    /* every leaf item of a trusted leaf, in key order; val is the value
     * (inline or read from its overflow page) or NULL when it could not
     * be read (reported); at where its bytes lie. Unless the source is
     * mapped (cfg.map), WRI_BSON_PAD bytes after the value may be loaded
     * (wri_bson_check_memo's pad): its buffers have them. */
    int (*item)(void *arg, const wri_ps_page *p, uint32_t i,
                const wri_cell *c, const uint8_t *val, const wri_vloc *at);
    void *arg;
    /* out */
    bool incomplete;   /* some page could not be read or decoded */
    bool values_bad;   /* some value could not be read */
    uint64_t keys_found;
    /* private */
    uint8_t *pg[WRI_PS_MAX_DEPTH];
    uint8_t *val;
    size_t valcap;
    uint8_t *last;
    uint32_t lastlen;
    wri_cell *cells;   /* the cells of the page being looked at */
    uint32_t cellcap;
    wr_addr *kids;     /* cfg.batch: the children read ahead */
    uint32_t kidcap;
    bool havelast;
    uint64_t lsize;
    uint32_t leaf_max; /* the longest leaf the file's version allows */
    uint32_t version;  /* the checkpoint's format version */
    /* The split (verify, pagesrc_walk.c): with twin set, the second half
     * of the root's children is walked at the same time on a thread of
     * its own, by twin (callbacks and arg of its own, nothing else set)
     * through twin_ps (wri_ps_twin), speculatively. Its work is kept
     * (twin_taken: its callbacks' counts are the caller's to add) only
     * when it made no finding at all and fits the first half's: no block
     * owned twice across the halves, its first key above the first
     * half's last. Else this walk goes over that half again itself, so
     * the findings are always the one thread's, in its order. */
    struct wri_ps_walk *twin;
    wri_ps *twin_ps;
    bool twin_taken;
    uint8_t *first;    /* the twin's: its first leaf's first key */
    uint32_t firstlen;
} wri_ps_walk;
int wri_ps_walk_tree(wri_ps *ps, const wri_slot *s, int slot,
                     wri_ps_walk *w, wr_errbuf *eb);
/* Slot i's key (cell c of the tree page at file offset page, whose bytes
 * are buf) as the walk checks it, without the parent's bounds: well
 * formed (else a PAGE finding and WRI_PS_BAD: it is no key to compare
 * the next one with) and greater than prev's (the slot before; NULL: none)
 * (else an ORDERING finding). For a page looked at alone
 * (wr-dump --page). */
int wri_ps_check_key(wri_ps *ps, int nkeyelem, uint64_t page,
                     const uint8_t *buf, uint32_t i, const wri_cell *c,
                     const wri_cell *prev, wr_errbuf *eb);
void wri_ps_walk_free(wri_ps_walk *w);
/* A source for a walk's twin: ps's file, slots and checkpoint, a run
 * buffer and an ownership map (empty) of its own, and a sink that stops
 * it at its first finding (a finding undoes the split: the findings are
 * made again by the walk itself). Not for a mapped source (cfg.map).
 * Close it with wri_ps_close (ps's file stays open). */
int wri_ps_twin(const wri_ps *ps, wri_ps **out, wr_errbuf *eb);

/* A main table's value, strictly: one whole BSON document (our own
 * check, wri_bson_check, never libbson's lenient one) whose _id equals
 * its key. A DOCUMENT finding at the byte that breaks it otherwise, named
 * by its page and file offset (at: a split value's tail lies in its
 * leaf, the rest in its run). memo (may be NULL) and pad:
 * wri_bson_check_memo's, for a caller that checks a whole collection (the
 * findings are the same). */
int wri_ps_check_document(wri_ps *ps, const wri_vloc *at,
                          const uint8_t *key, uint32_t klen,
                          const uint8_t *val, uint32_t vlen,
                          wri_bson_memo *memo, size_t pad, wr_errbuf *eb);

/* --- point lookups in a checkpoint already walked clean -------------- */
/* A bounded read-only page cache (direct-mapped, at most `bytes` of
 * pages) and a B-tree descent through it. */
typedef struct wri_ps_cache wri_ps_cache;
int wri_ps_cache_new(wri_ps *ps, size_t bytes, wri_ps_cache **out,
                     wr_errbuf *eb);
void wri_ps_cache_free(wri_ps_cache *pc);
enum { WRI_PS_NOTFOUND = 0, WRI_PS_FOUND = 1, WRI_PS_UNKNOWN = 2 };
/* FOUND (*c points into a cached leaf, *page its address), NOTFOUND
 * (*page: the leaf where it would be), UNKNOWN (a page would not read), or
 * < 0. */
int wri_ps_lookup(wri_ps_cache *pc, const wri_slot *s, const uint8_t *key,
                  uint32_t klen, wri_cell *c, uint64_t *page, wr_errbuf *eb);

/* --- every page of a file by offset (salvage) ------------------------ */
/* From `from` to `to` (block-aligned), in sequential runs: fn gets each
 * block whose header is plausible (a known type, a size that is a
 * multiple of P and fits), with crc_ok when the page's CRC holds over
 * its size; a page whose CRC holds is skipped over whole. */
typedef int (*wri_ps_scan_fn)(void *arg, uint64_t off, const uint8_t *page,
                              uint32_t size, bool crc_ok);
int wri_ps_scan(wri_ps *ps, uint64_t from, uint64_t to, wri_ps_scan_fn fn,
                void *arg, wr_errbuf *eb);

#endif /* WR_PAGESRC_H */
