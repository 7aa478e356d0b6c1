/*
 * vfdocs.c -- verify's document checks on a thread of their own
 * (vfdocs.h). A ring of batches: the caller fills one, hands it over and
 * takes the next one back, in ring order, delivering its findings and
 * feeding its documents to the digest; so findings, and the digest, come
 * in the order the documents went. Who checks a batch does not matter to
 * that order: the checker thread takes the oldest batch queued, and a
 * caller that would otherwise wait for it checks the newest one itself,
 * so the walk's thread shares the checks instead of idling.
 */
#include "wr_int.h"
#include "vfdocs.h"
#include "grow.h"
#include "cores.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>

#define WRI_VD_NBATCH 8
#define WRI_VD_BATCH (128u << 10)
/* A checker thread that ran out of batches sleeps until this many are
 * queued: when it is the faster side it would otherwise be woken for
 * each one (a futex wake on the walk's side, a switch on its own; 4% of
 * the time of a 1M-document verify). A batch it does not wake for is
 * still taken by whichever thread comes to it first. */
#define WRI_VD_WAKE 3

/* FREE: the caller's (being filled, or empty); QUEUED: handed over;
 * BUSY: being checked (by either thread); DONE: checked, its findings
 * kept with it until the caller takes it back. */
enum { VD_FREE = 0, VD_QUEUED, VD_BUSY, VD_DONE };

typedef struct vd_item {
    wri_vloc loc;       /* where the value lies in the file */
    size_t at;          /* key at buf + at, value right after it */
    uint32_t klen, vlen;
} vd_item;

/* Each batch on cache lines of its own: the walk's thread writes the
 * one it fills at every document while the checker reads the one before
 * it (sharing a line cost ~7% of the walk's time). */
typedef struct vd_batch {
    alignas(64) int state;
    uint64_t seq;   /* handed over as the seq-th batch */
    uint8_t *buf;
    size_t len, cap;
    vd_item *it;
    size_t nit, itcap;
    wr_finding *f; /* the checker's findings, in order */
    size_t nf, fcap;
    bool lost;     /* a finding could not be kept: counted as one */
} vd_batch;

/* One thread's way of checking a batch: a copy of the page source's
 * header whose sink keeps each finding with the batch being checked, and
 * its own shape memo (bsoncheck.h). */
typedef struct vd_checker {
    wri_ps shadow;
    vd_batch *cur;
    wri_bson_memo *memo;
} vd_checker;

struct wri_vd {
    wri_ps *ps;
    wr_digest *dg;
    wri_vd_flush_fn flush;
    void *arg;
    bool threaded;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t queued, done;
    bool stop;
    vd_batch b[WRI_VD_NBATCH];
    unsigned fill;  /* the batch the caller fills */
    uint64_t seq;   /* batches handed over so far */
    vd_checker thread, caller;
    uint64_t shared; /* batches the caller checked */
    wri_bson_memo *memo; /* one thread: the caller's */
};

/* *to = *at, a field at a time: at was just written by eight-byte
 * stores (wri_ps_vloc), and a sixteen-byte load of two of them cannot be
 * forwarded from the store buffer: it would wait for every store before
 * it to reach the cache, the copies of the last documents into a batch
 * included (~5% of the walk's thread). */
__attribute__((optimize("no-tree-slp-vectorize"))) static void
vd_loc_copy(wri_vloc *to, const wri_vloc *at)
{
    to->page = at->page;
    to->off = at->off;
    to->tpage = at->tpage;
    to->toff = at->toff;
    to->split = at->split;
}

/* A checker's sink: keep the finding with its batch. */
static void vd_collect(const wr_finding *f, void *arg)
{
    vd_batch *b = ((vd_checker *)arg)->cur;
    if (b->nf == b->fcap) {
        size_t ncap = b->fcap ? b->fcap * 2 : 4;
        wr_finding *nf = realloc(b->f, ncap * sizeof *nf);
        if (nf == NULL) {
            b->lost = true;
            return;
        }
        b->f = nf;
        b->fcap = ncap;
    }
    b->f[b->nf++] = *f;
}

/* Check batch b (marked BUSY by the caller, lock not held). */
static void vd_check(vd_checker *k, vd_batch *b)
{
    k->cur = b;
    for (size_t i = 0; i < b->nit; i++) {
        const vd_item *x = &b->it[i];
        const uint8_t *key = b->buf + x->at, *val = key + x->klen;
        (void)wri_ps_check_document(&k->shadow, &x->loc, key, x->klen, val,
                                    x->vlen, k->memo, WRI_BSON_PAD, NULL);
    }
}

/* The queued batch handed over first (oldest) or last; NULL if none
 * (lock held). */
static vd_batch *vd_queued(wri_vd *vd, bool oldest)
{
    vd_batch *best = NULL;
    for (unsigned i = 0; i < WRI_VD_NBATCH; i++) {
        vd_batch *b = &vd->b[i];
        if (b->state == VD_QUEUED &&
            (best == NULL || (oldest ? b->seq < best->seq
                                     : b->seq > best->seq)))
            best = b;
    }
    return best;
}

/* Check b on this thread (lock held on entry and return). */
static void vd_check_locked(wri_vd *vd, vd_checker *k, vd_batch *b)
{
    b->state = VD_BUSY;
    pthread_mutex_unlock(&vd->mu);
    vd_check(k, b);
    pthread_mutex_lock(&vd->mu);
    b->state = VD_DONE;
    pthread_cond_broadcast(&vd->done);
}

/* Batches handed over and not yet taken (lock held). */
static unsigned vd_nqueued(const wri_vd *vd)
{
    unsigned n = 0;
    for (unsigned i = 0; i < WRI_VD_NBATCH; i++)
        n += vd->b[i].state == VD_QUEUED;
    return n;
}

static void *vd_worker(void *arg)
{
    wri_vd *vd = arg;
    pthread_mutex_lock(&vd->mu);
    for (;;) {
        vd_batch *b;
        while ((b = vd_queued(vd, true)) == NULL && !vd->stop)
            pthread_cond_wait(&vd->queued, &vd->mu);
        if (vd->stop)
            break;
        vd_check_locked(vd, &vd->thread, b);
    }
    pthread_mutex_unlock(&vd->mu);
    return NULL;
}

/* Take batch i back (caller): checked by either thread (while the
 * checker thread is on it, the caller checks the newest batch queued
 * instead of waiting), then its documents digested and its findings
 * delivered, in order, and emptied. */
static void vd_reclaim(wri_vd *vd, unsigned i)
{
    vd_batch *b = &vd->b[i];
    pthread_mutex_lock(&vd->mu);
    while (b->state == VD_QUEUED || b->state == VD_BUSY) {
        vd_batch *o = b->state == VD_QUEUED ? b : vd_queued(vd, false);
        if (o != NULL) {
            vd_check_locked(vd, &vd->caller, o);
            vd->shared++;
        } else
            pthread_cond_wait(&vd->done, &vd->mu);
    }
    pthread_mutex_unlock(&vd->mu);
    if (b->state != VD_DONE)
        return;
    for (size_t k = 0; vd->dg != NULL && k < b->nit; k++)
        wr_digest_add(vd->dg, b->buf + b->it[k].at + b->it[k].klen,
                      b->it[k].vlen);
    for (size_t k = 0; k < b->nf; k++)
        vd->flush(&b->f[k], vd->arg);
    if (b->lost) {
        wr_finding f;
        memset(&f, 0, sizeof f);
        f.path = vd->ps->path;
        f.check = WR_CHECK_DOCUMENT;
        f.gen = vd->ps->gen;
        snprintf(f.detail, sizeof f.detail,
                 "out of memory for a document finding (not kept)");
        vd->flush(&f, vd->arg);
    }
    b->nf = b->nit = b->len = 0;
    b->lost = false;
    pthread_mutex_lock(&vd->mu); /* the thread reads every batch's state */
    b->state = VD_FREE;
    pthread_mutex_unlock(&vd->mu);
}

/* Hand the batch being filled over and take the next one back. */
static void vd_submit(wri_vd *vd)
{
    vd_batch *b = &vd->b[vd->fill];
    if (b->nit == 0)
        return;
    pthread_mutex_lock(&vd->mu);
    b->state = VD_QUEUED;
    b->seq = vd->seq++;
    if (vd_nqueued(vd) >= WRI_VD_WAKE)
        pthread_cond_signal(&vd->queued);
    pthread_mutex_unlock(&vd->mu);
    vd->fill = (vd->fill + 1) % WRI_VD_NBATCH;
    vd_reclaim(vd, vd->fill);
}

void wri_vd_sync(wri_vd *vd)
{
    if (vd == NULL || !vd->threaded)
        return;
    vd_submit(vd);
    for (unsigned k = 0; k < WRI_VD_NBATCH; k++)
        vd_reclaim(vd, (vd->fill + k) % WRI_VD_NBATCH);
}

int wri_vd_add(wri_vd *vd, const wri_vloc *at, const uint8_t *key,
               uint32_t klen, const uint8_t *val, uint32_t vlen, size_t pad,
               wr_errbuf *eb)
{
    if (!vd->threaded) {
        (void)wri_ps_check_document(vd->ps, at, key, klen, val, vlen,
                                    vd->memo, pad, NULL);
        if (vd->dg != NULL)
            wr_digest_add(vd->dg, val, vlen);
        return WR_OK;
    }
    size_t need = (size_t)klen + vlen;
    vd_batch *b = &vd->b[vd->fill];
    if (b->len > 0 && b->cap - b->len < need) {
        vd_submit(vd);
        b = &vd->b[vd->fill];
    }
    if ((b->len + need > b->cap &&
         !wri_grow((void **)&b->buf, &b->cap, b->len + need, 1,
                   WRI_BSON_PAD)) ||
        (b->nit == b->itcap &&
         !wri_grow((void **)&b->it, &b->itcap, b->nit + 1, sizeof *b->it,
                   0)))
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory for documents",
                      vd->ps->path);
    vd_item *x = &b->it[b->nit++];
    vd_loc_copy(&x->loc, at);
    x->at = b->len;
    x->klen = klen;
    x->vlen = vlen;
    if (val == key + klen) { /* an inline value follows its key */
        memcpy(b->buf + b->len, key, need);
    } else {
        memcpy(b->buf + b->len, key, klen);
        memcpy(b->buf + b->len + klen, val, vlen);
    }
    b->len += need;
    return WR_OK;
}

int wri_vd_new(wri_ps *ps, wr_digest *dg, unsigned threads,
               wri_vd_flush_fn flush, void *arg, wri_vd **out, wr_errbuf *eb)
{
    wri_vd *vd = wri_calloc_lines(sizeof *vd); /* the batches' lines */
    *out = NULL;
    if (vd == NULL)
        return WR_ERR(eb, WR_ENOMEM, "%s: out of memory", ps->path);
    vd->ps = ps;
    vd->dg = dg;
    vd->flush = flush;
    vd->arg = arg;
    *out = vd;
    vd->memo = wri_bson_memo_new(); /* NULL: checks without one */
    if (wri_threads(threads) < 2)
        return WR_OK;
    for (unsigned i = 0; i < WRI_VD_NBATCH; i++) {
        vd->b[i].cap = WRI_VD_BATCH;
        /* WRI_BSON_PAD bytes after the last value: the checkers' memos
         * may load them */
        if ((vd->b[i].buf = calloc(1, WRI_VD_BATCH + WRI_BSON_PAD)) == NULL)
            return WR_OK; /* no memory for the ring: inline */
    }
    if ((vd->thread.memo = wri_bson_memo_new()) == NULL ||
        (vd->caller.memo = wri_bson_memo_new()) == NULL)
        return WR_OK; /* inline */
    vd->thread.shadow = vd->caller.shadow = *ps;
    vd->thread.shadow.cfg.sink = vd->caller.shadow.cfg.sink = vd_collect;
    vd->thread.shadow.cfg.sink_arg = &vd->thread;
    vd->caller.shadow.cfg.sink_arg = &vd->caller;
    pthread_mutex_init(&vd->mu, NULL);
    pthread_cond_init(&vd->queued, NULL);
    pthread_cond_init(&vd->done, NULL);
    if (pthread_create(&vd->th, NULL, vd_worker, vd) != 0) {
        pthread_mutex_destroy(&vd->mu);
        pthread_cond_destroy(&vd->queued);
        pthread_cond_destroy(&vd->done);
        return WR_OK;
    }
    vd->threaded = true;
    return WR_OK;
}

uint64_t wri_vd_shared(const wri_vd *vd)
{
    return vd == NULL ? 0 : vd->shared;
}

void wri_vd_free(wri_vd *vd)
{
    if (vd == NULL)
        return;
    if (vd->threaded) {
        pthread_mutex_lock(&vd->mu);
        vd->stop = true;
        pthread_cond_signal(&vd->queued);
        pthread_mutex_unlock(&vd->mu);
        pthread_join(vd->th, NULL);
        pthread_mutex_destroy(&vd->mu);
        pthread_cond_destroy(&vd->queued);
        pthread_cond_destroy(&vd->done);
    }
    for (unsigned i = 0; i < WRI_VD_NBATCH; i++) {
        free(vd->b[i].buf);
        free(vd->b[i].it);
        free(vd->b[i].f);
    }
    wri_bson_memo_free(vd->thread.memo);
    wri_bson_memo_free(vd->caller.memo);
    wri_bson_memo_free(vd->memo);
    free(vd);
}
