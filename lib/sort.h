/*
 * sort.h -- external sort of (key, seq, value) records under a memory
 * budget: what wr-migrate uses to turn append logs into sorted input for
 * the bulk loader (DESIGN decision 10).
 *
 * Records are added in any key order; each carries a key document
 * (bsonkey.h, compared with wri_key_cmp), a sequence number that must grow
 * with every add to one sorter, an opaque u64 (wr-migrate: the byte offset
 * of the line), flags, and a value. Records live in arena chunks; when the
 * sorters of one pool together hold more than the pool's budget, the
 * sorter holding the most memory sorts its records into a run and writes
 * the run to a temporary file in the pool's directory (created through io,
 * unlinked at once, so a crash leaves nothing behind). Iteration merges the
 * runs (and a last run kept in memory) with a heap; too many runs are first
 * merged in groups of consecutive runs (the group with the fewest bytes each
 * time, so no run is rewritten over and over), so the fan-in and the read
 * buffers stay within the budget.
 *
 * The ordered run: a record whose key is above every key added before is
 * appended to it and never sorted (an append log's inserts mostly are);
 * when the pool wants memory it is appended to its own file, once, rather
 * than sorted and spilled, and the merge reads it as one more source. A
 * key's record in it is always the key's first. In LAST_WINS mode a delete
 * of a key above every key added before (a key never seen) is counted as
 * `missing` and dropped.
 *
 * Modes:
 *   WRI_SORT_PLAIN      every record comes out, in (key, seq) order.
 *   WRI_SORT_LAST_WINS  of the records with equal keys only the one with
 *                       the highest seq survives; if it has WRI_SREC_DEL
 *                       set (a delete), nothing comes out for that key.
 *                       Superseded records are dropped as early as
 *                       possible (when a run is sorted, and in every
 *                       merge). The sorter counts what each record did to
 *                       its key (inserted, replaced, deleted, a delete of an
 *                       absent key) exactly as applying the records in seq
 *                       order would have; the counts are complete after a
 *                       full iteration (wri_sort_iter_counts).
 *
 * Memory: the pool's budget covers the arena chunks and record pointer
 * arrays of every sorter in it; merge read buffers take at most a quarter
 * of it. A single record larger than the budget is still accepted (it
 * becomes a run of its own). Calls io, bsonkey, err.
 */
#ifndef WR_SORT_H
#define WR_SORT_H

#include "wr.h"

#include <stdbool.h>
#include <stdint.h>

/* Record flags. The low 16 bits are the caller's; DEL and FIRST_DEL are
 * the sorter's business in LAST_WINS mode. */
enum {
    WRI_SREC_DEL = 1u << 30,       /* this record deletes its key */
    WRI_SREC_FIRST_DEL = 1u << 31, /* internal: the earliest record this
                                      one stands for was a delete */
};

/* Fixed header of a record, in memory and in run files (little-endian):
 * 00-03 u32 key length, 04-07 u32 value length, 08-15 u64 seq, 16-23 u64
 * aux, 24-27 u32 flags, then the key bytes, then the value bytes. */
#define WRI_SREC_HDR 28

typedef enum wri_sort_mode {
    WRI_SORT_PLAIN = 0,
    WRI_SORT_LAST_WINS = 1,
} wri_sort_mode;

typedef struct wri_sort_rec {
    const uint8_t *key;
    uint32_t klen;
    const uint8_t *val;
    uint32_t vlen;
    uint64_t seq;
    uint64_t aux;
    uint32_t flags;
} wri_sort_rec;

/* What the records did, in LAST_WINS mode. */
typedef struct wri_sort_counts {
    uint64_t inserted; /* a put of a key that was absent (or deleted) */
    uint64_t replaced; /* a put of a key that was present */
    uint64_t deleted;  /* a delete of a present key */
    uint64_t missing;  /* a delete of an absent key */
} wri_sort_counts;

typedef struct wri_sort_pool wri_sort_pool;
typedef struct wri_sort wri_sort;
typedef struct wri_sort_iter wri_sort_iter;

/* A pool: the shared budget (bytes; at least 1 MiB is used) and where run
 * files go: DIR/PREFIX.N. */
int wri_sort_pool_create(uint64_t budget, const char *dir, const char *prefix,
                         wri_sort_pool **out, wr_errbuf *eb);
/* Frees the pool; its sorters must have been destroyed. */
void wri_sort_pool_destroy(wri_sort_pool *p);
uint64_t wri_sort_pool_budget(const wri_sort_pool *p);
/* Bytes the pool's sorters hold now, and the most they ever held. */
uint64_t wri_sort_pool_held(const wri_sort_pool *p);
uint64_t wri_sort_pool_peak(const wri_sort_pool *p);

int wri_sort_create(wri_sort_pool *p, wri_sort_mode mode, wri_sort **out,
                    wr_errbuf *eb);
/* Closes (and so removes) its run files and frees its memory. */
void wri_sort_destroy(wri_sort *s);

/* Add a record; the bytes are copied. seq must be greater than the seq of
 * the previous add (WR_EINVAL otherwise). May spill this or another sorter
 * of the pool to a run file. */
int wri_sort_add(wri_sort *s, const uint8_t *key, uint32_t klen,
                 const uint8_t *val, uint32_t vlen, uint64_t seq,
                 uint64_t aux, uint32_t flags, wr_errbuf *eb);

/* No more adds: sort what is in memory, and merge runs down to what one
 * merge can read within the budget. The last run stays in memory when the
 * sorter never spilled and the pool keeps at least `reserve` bytes free
 * with it there; otherwise it is spilled too. */
int wri_sort_finish(wri_sort *s, uint64_t reserve, wr_errbuf *eb);

/* Iterate a finished sorter; may be done more than once. While an iterator
 * is open the sorter is never chosen to spill. */
int wri_sort_iter_open(wri_sort *s, wri_sort_iter **out, wr_errbuf *eb);
/* WR_OK with the next record (its pointers valid until the next call), 1
 * at the end, or an error. */
int wri_sort_iter_next(wri_sort_iter *it, wri_sort_rec *rec, wr_errbuf *eb);
/* LAST_WINS: the counts of the whole sort; complete once iteration has
 * reached the end. */
void wri_sort_iter_counts(const wri_sort_iter *it, wri_sort_counts *out);
void wri_sort_iter_close(wri_sort_iter *it);

/* Facts for reports and tests. */
typedef struct wri_sort_info {
    uint64_t added;        /* records added */
    uint64_t ordered;      /* of them, taken into the ordered run */
    uint64_t runs_written; /* runs spilled (including merged runs) */
    uint64_t spilled;      /* bytes written to run files */
    uint64_t merges;       /* intermediate merges */
    uint64_t runs;         /* runs on disk now (the ordered run's file
                              included) */
    bool in_memory;        /* a sorted run is held in memory */
} wri_sort_info;
void wri_sort_get_info(const wri_sort *s, wri_sort_info *out);

#endif /* WR_SORT_H */
