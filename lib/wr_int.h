/*
 * wr_int.h -- library-internal umbrella: error helpers, little-endian
 * get/put helpers, and the module headers. Tools never include this file.
 */
#ifndef WR_INT_H
#define WR_INT_H

#include "wr.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

/* Set an error once; every corruption report passes through wri_err_set,
 * so one debugger breakpoint catches them all. Returns code. */
int wri_err_set(wr_errbuf *eb, int code, const char *src_file, int src_line,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define WR_ERR(eb, code, ...) \
    wri_err_set((eb), (code), __FILE__, __LINE__, __VA_ARGS__)

/* Little-endian helpers: never cast a buffer to a struct. */
static inline uint16_t wri_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t wri_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t wri_get64(const uint8_t *p)
{
    return (uint64_t)wri_get32(p) | ((uint64_t)wri_get32(p + 4) << 32);
}
static inline void wri_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void wri_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void wri_put64(uint8_t *p, uint64_t v)
{
    wri_put32(p, (uint32_t)v);
    wri_put32(p + 4, (uint32_t)(v >> 32));
}

/* crc.c: zlib's CRC-32 (crc32(crc, buf, n)), with carry-less multiply
 * where the CPU has it; wri_crc_force_portable(true) makes it call zlib
 * alone (tests compare both). */
uint32_t wri_crc32(uint32_t crc, const void *buf, size_t n);
/* wri_crc32(0, buf + 4, n - 4) (0 if n <= 4), a page's CRC (it skips the
 * stored one), with no short tail left to zlib when n is a multiple of
 * 16. */
uint32_t wri_crc32_after4(const void *buf, size_t n);
void wri_crc_force_portable(bool portable);
/* The paths: zlib's tables, 128-bit carry-less folding (PCLMULQDQ), and
 * 256-bit (VPCLMULQDQ, AVX2) for 256 bytes or more. wri_crc_force takes
 * the fastest one at most `path` that the CPU has and returns it (tests
 * run each). */
enum { WRI_CRC_ZLIB = 0, WRI_CRC_128 = 1, WRI_CRC_256 = 2 };
int wri_crc_force(int path);

/* digest.c: use the portable SHA-256 code even where the CPU has SHA
 * extensions (tests compare both). */
void wri_digest_force_portable(bool portable);
/* digest.c: a SHA-256 digest hashed on a thread of its own (a byte pipe,
 * ipipe.h, where there are two cores or more; else inline): same result
 * as wr_digest_new_kind's, the caller's cost is a copy of the bytes.
 * Other kinds hash inline. */
int wri_digest_new_async(wr_digest_kind kind, wr_digest **out,
                         wr_errbuf *eb);
/* digest.c: how many of the byte pipe's batches were hashed on a thread
 * other than the one that made the digest (tests: a silent fallback to
 * inline hashing shows as 0); read it after wr_digest_final. */
uint64_t wri_digest_batches_elsewhere(const wr_digest *d);
/* digest.c: the item fingerprint (wr_verify_ckpt's item_digest): the sum,
 * modulo 2^128, of one XXH3-128 hash per leaf item (its value's bytes
 * hashed with a seed made from its key and value length; an index entry
 * has no value), and the item count. A sum does not depend on the order
 * in which items are added, so a tree walked in two halves on two
 * threads adds up to what one walk gives (wri_itemsum_merge); the order
 * of the items is the verify's to check (keys ascending), not the
 * fingerprint's. Against bugs, not adversaries. Zeroed: no items. */
typedef struct wri_itemsum {
    uint64_t lo, hi, n;
} wri_itemsum;
void wri_itemsum_add(wri_itemsum *s, const uint8_t *key, uint32_t klen,
                     const uint8_t *val, uint32_t vlen);
void wri_itemsum_merge(wri_itemsum *s, const wri_itemsum *o);
/* The fingerprint: XXH3-128 of the sum and the count, 16 bytes (the
 * rest of out zeroed). */
void wri_itemsum_final(const wri_itemsum *s, uint8_t out[WR_DIGEST_LEN]);

/* verify.c: a quick check of one tree file (wr_verify_simple's) that
 * hands each item of checkpoint gen (0: the latest) to item, in key order,
 * as its checked leaf is read, while nothing wrong has been found: so a
 * build from the file (compact) reads it once. Index entries come with an
 * empty value. An error item returns (with eb set) ends the check with
 * it; damage anywhere is WR_ECORRUPT, eb holding the first finding. */
typedef struct wri_verify_feed {
    uint64_t gen;
    int (*item)(void *arg, const uint8_t *key, uint32_t klen,
                const uint8_t *val, uint32_t vlen, wr_errbuf *eb);
    void *arg;
    bool map; /* nothing should change the file while it is read (the
                 directory's lock is held): read it through a mapping
                 when it is all cached (wri_ps_cfg.map; a file that
                 shrinks all the same is WR_EIO) */
    bool batch; /* its leaves are scattered: read them ahead in batches
                   (wri_ps_cfg.batch), rather than mapped */
} wri_verify_feed;
int wri_verify_quick_feed(const char *path, const wri_verify_feed *feed,
                          volatile int *interrupted, wr_errbuf *eb);
/* verify.c: every check wr_verify makes of one tree file (keys,
 * documents, structure, space), of checkpoint gen (0: the latest); damage
 * is WR_ECORRUPT with the first finding in eb. What compact runs on an
 * original whose items the build refused or whose copy failed its verify,
 * to name the damage in the original that the quick check cannot see (a
 * key or document inside a page whose checksum holds). */
int wri_verify_file_gen(const char *path, uint64_t gen,
                        volatile int *interrupted, wr_errbuf *eb);

#define WRI_MIN(a, b) ((a) < (b) ? (a) : (b))
#define WRI_MAX(a, b) ((a) > (b) ? (a) : (b))

#include "io.h"
#include "extent.h"
#include "block.h"
#include "bsonkey.h"
#include "bsoncheck.h"
#include "ejson.h"
#include "docsout.h"
#include "ejsonread.h"
#include "jsonl.h"
#include "page.h"
#include "pagesrc.h"
#include "btree.h"
#include "bulk.h"
#include "catalog.h"

/* db.c: the heap the budget covers now: the loaded pages of db's open
 * trees (the running total the DIAG build checks against a walk of the
 * trees after every change, B5) and their blocks' gathered-write buffers
 * (wri_db_runs); bounded by wr_db_opts.memory plus the change in
 * progress. For tests. */
uint64_t wri_db_mem(wr_db *db);
uint64_t wri_db_runs(wr_db *db);

/* db.c: a document cursor whose wr_doc_cursor_next leaves the document
 * check to the caller, who makes it with wri_doc_cursor_check on the
 * document the cursor is on (wr-diff: once for two documents of the
 * same bytes). */
int wri_doc_cursor_open_nocheck(wr_coll *c, wr_doc_cursor **out,
                                wr_errbuf *eb);
int wri_doc_cursor_check(wr_doc_cursor *cur, const uint8_t *doc,
                         uint32_t len, wr_errbuf *eb);

#endif /* WR_INT_H */
