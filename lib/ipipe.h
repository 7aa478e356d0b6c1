/*
 * ipipe.h -- leaf items (key, value) handed, in order, to a function that
 * runs on a thread of its own.
 *
 * Owns: a ring of batches between a producer (the caller's thread, say a
 * tree walk) and a consumer thread that calls fn on every item, in the
 * order they were added. Compact's build uses it so that the walk of the
 * original (reads, checksums, page checks) and the bulk loader (pages,
 * fingerprint, writes) run on two cores; dump --docs (docsout.c) to
 * format and write on the second.
 *
 * A byte pipe (wri_ipipe_new_bytes) carries a stream instead of items:
 * wri_ipipe_put appends bytes, and the consumer gets them in batches of
 * WRI_IPIPE_BATCH bytes (the last one shorter), whose concatenation is
 * what was put, in order; a batch never grows. The content digest hashes
 * on one (digest.c).
 *
 * Errors: the consumer's first error (fn's return, with its message) is
 * kept; fn is not called again; the next wri_ipipe_add (wri_ipipe_put)
 * or wri_ipipe_finish returns it. Items (bytes) added after it are
 * dropped.
 *
 * One thread (threads 1, one core, or no memory or thread for the ring):
 * wri_ipipe_add (wri_ipipe_put) calls fn directly, with the same results
 * (a byte pipe's fn sees the pieces as put, not batches).
 *
 * Memory: WRI_IPIPE_NBATCH batches of WRI_IPIPE_BATCH bytes; an item
 * pipe's batch grows to hold one item larger than that (a value, at most
 * 16 MiB).
 *
 * Calls nothing of the library but err, cores and grow.
 */
#ifndef WR_IPIPE_H
#define WR_IPIPE_H

#include "wr.h"

#include <stddef.h>
#include <stdint.h>

#define WRI_IPIPE_NBATCH 4
#define WRI_IPIPE_BATCH (256u << 10)

typedef struct wri_ipipe wri_ipipe;

typedef int (*wri_ipipe_fn)(void *arg, const uint8_t *key, uint32_t klen,
                            const uint8_t *val, uint32_t vlen,
                            wr_errbuf *eb);
/* A byte pipe's consumer: the next n bytes of the stream (n > 0). */
typedef int (*wri_ipipe_bytes_fn)(void *arg, const uint8_t *p, size_t n,
                                  wr_errbuf *eb);

/* threads: 1 calls fn inline, 2 on a thread of its own, 0 as
 * wri_threads(0) says (cores.h). */
int wri_ipipe_new(wri_ipipe_fn fn, void *arg, unsigned threads,
                  wri_ipipe **out, wr_errbuf *eb);
/* A byte pipe, threads as above; give it bytes with wri_ipipe_put only. */
int wri_ipipe_new_bytes(wri_ipipe_bytes_fn fn, void *arg, unsigned threads,
                        wri_ipipe **out, wr_errbuf *eb);
/* One item, copied (or handed to fn at once, inline). */
int wri_ipipe_add(wri_ipipe *p, const uint8_t *key, uint32_t klen,
                  const uint8_t *val, uint32_t vlen, wr_errbuf *eb);
/* n bytes onto a byte pipe's stream, copied (or handed to fn at once,
 * inline; n 0 is nothing). */
int wri_ipipe_put(wri_ipipe *p, const void *bytes, size_t n, wr_errbuf *eb);
/* Wait until fn has seen every item added; the consumer's error, if any. */
int wri_ipipe_finish(wri_ipipe *p, wr_errbuf *eb);
/* Do items go to a thread of their own? (tests; digest.c keeps a byte
 * pipe only when they do) */
bool wri_ipipe_threaded(const wri_ipipe *p);
/* Stops the thread: items still queued are dropped. NULL is fine. */
void wri_ipipe_free(wri_ipipe *p);

#endif
