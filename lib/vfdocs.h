/*
 * vfdocs.h -- verify's document checks on a thread of their own.
 *
 * Owns: the queue of a main table's documents between verify's tree walk
 * (the caller's thread) and a checker thread that runs
 * wri_ps_check_document on each one. Findings stay in the order a single
 * thread makes them: whoever checks a batch keeps its findings with it,
 * the caller takes batches back in the order it handed them over, feeds
 * their documents to the content digest (so the digest sees key order)
 * and delivers their findings (flush callback), and the caller calls
 * wri_vd_sync before it makes a finding of its own (so every document
 * queued before that finding has been judged and reported first).
 *
 * Balance: the checker thread takes the oldest batch queued; a caller
 * that would wait for a batch still being checked checks the newest one
 * queued itself meanwhile: when the checks are the slower side, the walk's
 * thread shares them instead of idling. When they are the faster side,
 * the checker thread, out of batches, sleeps until a few are queued
 * (WRI_VD_WAKE), not for each one.
 *
 * One thread (threads 1, or no memory for the ring, or one core): each
 * document is checked and digested on the caller's thread as it comes,
 * with the same results.
 *
 * Memory: WRI_VD_NBATCH batches of WRI_VD_BATCH bytes (1 MiB in all); a
 * batch grows to hold one value larger than that (at most 16 MiB, the
 * walk's limit).
 *
 * Calls pagesrc (the document check), digest, grow (wri_grow) and cores
 * (how many threads). Each checking thread reports through a copy of the
 * page source's header with its own sink: wri_ps_check_document reads
 * only path, gen and cfg and counts in nfindings, so the copy never
 * touches the caller's reads.
 */
#ifndef WR_VFDOCS_H
#define WR_VFDOCS_H

#include "pagesrc.h"

typedef struct wri_vd wri_vd;

/* Where the checker's findings go, on the caller's thread. */
typedef void (*wri_vd_flush_fn)(const wr_finding *f, void *arg);

/* threads: 1 checks inline, 2 (or 0: 2 where there are two cores) on a
 * thread of its own. dg may be NULL (no digest). */
int wri_vd_new(wri_ps *ps, wr_digest *dg, unsigned threads,
               wri_vd_flush_fn flush, void *arg, wri_vd **out,
               wr_errbuf *eb);
/* One document (the value of key, lying where `at` says), copied when
 * queued. pad: 0 or WRI_BSON_PAD, bytes after val that may be loaded
 * when it is checked inline (one thread). */
int wri_vd_add(wri_vd *vd, const wri_vloc *at, const uint8_t *key,
               uint32_t klen, const uint8_t *val, uint32_t vlen, size_t pad,
               wr_errbuf *eb);
/* Wait until every document queued has been checked and digested, and
 * deliver their findings. */
void wri_vd_sync(wri_vd *vd);
/* Batches the caller's thread checked itself (tests). */
uint64_t wri_vd_shared(const wri_vd *vd);
/* Stops the thread (what is still queued is dropped); NULL is fine. */
void wri_vd_free(wri_vd *vd);

#endif
