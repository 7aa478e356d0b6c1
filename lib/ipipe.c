/*
 * ipipe.c -- leaf items handed, in order, to a function on a thread of
 * its own (ipipe.h). The producer fills batch `fill` and queues it; the
 * consumer takes the batches in ring order, calls fn on each item (a
 * byte pipe's fn once, on the batch's bytes) and frees the batch; the
 * producer waits only when the next batch of the ring is still queued
 * (the consumer is the slower side).
 */
#include "wr_int.h"
#include "ipipe.h"
#include "cores.h"
#include "grow.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct ip_item {
    size_t at; /* key at buf + at, value right after it */
    uint32_t klen, vlen;
} ip_item;

typedef struct ip_batch {
    bool queued; /* handed to the consumer, not done yet */
    uint8_t *buf;
    size_t len, cap;
    ip_item *it;
    size_t nit, itcap;
} ip_batch;

struct wri_ipipe {
    wri_ipipe_fn fn;
    wri_ipipe_bytes_fn bytes; /* a byte pipe's (fn NULL) */
    void *arg;
    bool threaded;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t queued, freed;
    bool stop;
    ip_batch b[WRI_IPIPE_NBATCH];
    unsigned fill; /* the batch the producer fills */
    unsigned next; /* the batch the consumer takes next */
    int rc;        /* the consumer's first error */
    wr_errbuf eb;
};

/* fn on every item of b (a byte pipe's on its bytes), unless an error
 * came before (no lock held). */
static int ip_run(wri_ipipe *p, const ip_batch *b, int rc, wr_errbuf *eb)
{
    if (p->bytes != NULL)
        return rc == WR_OK ? p->bytes(p->arg, b->buf, b->len, eb) : rc;
    for (size_t i = 0; i < b->nit && rc == WR_OK; i++) {
        const ip_item *x = &b->it[i];
        const uint8_t *key = b->buf + x->at;
        rc = p->fn(p->arg, key, x->klen, key + x->klen, x->vlen, eb);
    }
    return rc;
}

static void *ip_worker(void *arg)
{
    wri_ipipe *p = arg;
    wr_errbuf eb = {0};
    int rc = WR_OK;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        ip_batch *b = &p->b[p->next];
        while (!b->queued && !p->stop)
            pthread_cond_wait(&p->queued, &p->mu);
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->mu);
        int r = ip_run(p, b, rc, &eb);
        pthread_mutex_lock(&p->mu);
        if (r != WR_OK && rc == WR_OK) {
            rc = p->rc = r;
            p->eb = eb;
        }
        b->len = b->nit = 0;
        b->queued = false;
        p->next = (p->next + 1) % WRI_IPIPE_NBATCH;
        pthread_cond_broadcast(&p->freed);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* The consumer's error into eb (lock held). */
static int ip_error(wri_ipipe *p, wr_errbuf *eb)
{
    if (p->rc != WR_OK)
        *eb = p->eb;
    return p->rc;
}

/* Queue the batch being filled (if it holds anything) and wait until the
 * next one is free. */
static int ip_submit(wri_ipipe *p, wr_errbuf *eb)
{
    ip_batch *b = &p->b[p->fill];
    pthread_mutex_lock(&p->mu);
    if (b->nit > 0 || b->len > 0) {
        b->queued = true;
        pthread_cond_signal(&p->queued);
        p->fill = (p->fill + 1) % WRI_IPIPE_NBATCH;
    }
    while (p->b[p->fill].queued)
        pthread_cond_wait(&p->freed, &p->mu);
    int rc = ip_error(p, eb);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int wri_ipipe_add(wri_ipipe *p, const uint8_t *key, uint32_t klen,
                  const uint8_t *val, uint32_t vlen, wr_errbuf *eb)
{
    int rc;
    if (!p->threaded)
        return p->fn(p->arg, key, klen, val, vlen, eb);
    size_t need = (size_t)klen + vlen;
    ip_batch *b = &p->b[p->fill];
    if (b->len > 0 && b->cap - b->len < need) {
        if ((rc = ip_submit(p, eb)) != WR_OK)
            return rc;
        b = &p->b[p->fill];
    }
    if (!wri_grow((void **)&b->buf, &b->cap, b->len + need, 1, 0) ||
        !wri_grow((void **)&b->it, &b->itcap, b->nit + 1, sizeof *b->it, 0))
        return WR_ERR(eb, WR_ENOMEM, "out of memory for a value of %u bytes",
                      vlen);
    b->it[b->nit++] = (ip_item){.at = b->len, .klen = klen, .vlen = vlen};
    memcpy(b->buf + b->len, key, klen);
    memcpy(b->buf + b->len + klen, val, vlen);
    b->len += need;
    return WR_OK;
}

int wri_ipipe_put(wri_ipipe *p, const void *bytes, size_t n, wr_errbuf *eb)
{
    const uint8_t *s = bytes;
    if (!p->threaded)
        return n > 0 ? p->bytes(p->arg, s, n, eb) : WR_OK;
    while (n > 0) {
        ip_batch *b = &p->b[p->fill];
        size_t k = WRI_MIN(n, b->cap - b->len);
        memcpy(b->buf + b->len, s, k);
        b->len += k;
        s += k;
        n -= k;
        int rc = b->len == b->cap ? ip_submit(p, eb) : WR_OK;
        if (rc != WR_OK)
            return rc;
    }
    return WR_OK;
}

int wri_ipipe_finish(wri_ipipe *p, wr_errbuf *eb)
{
    if (!p->threaded)
        return WR_OK;
    int rc = ip_submit(p, eb);
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < WRI_IPIPE_NBATCH; i++)
        while (p->b[i].queued)
            pthread_cond_wait(&p->freed, &p->mu);
    if (rc == WR_OK)
        rc = ip_error(p, eb);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* A pipe calling fn or bytes (the other NULL). */
static int ip_new(wri_ipipe_fn fn, wri_ipipe_bytes_fn bytes, void *arg,
                  unsigned threads, wri_ipipe **out, wr_errbuf *eb)
{
    wri_ipipe *p = calloc(1, sizeof *p);
    *out = NULL;
    if (p == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    p->fn = fn;
    p->bytes = bytes;
    p->arg = arg;
    *out = p;
    if (wri_threads(threads) < 2)
        return WR_OK;
    for (unsigned i = 0; i < WRI_IPIPE_NBATCH; i++) {
        p->b[i].cap = WRI_IPIPE_BATCH;
        if ((p->b[i].buf = malloc(WRI_IPIPE_BATCH)) == NULL)
            return WR_OK; /* no memory for the ring: inline */
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->queued, NULL);
    pthread_cond_init(&p->freed, NULL);
    if (pthread_create(&p->th, NULL, ip_worker, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->queued);
        pthread_cond_destroy(&p->freed);
        return WR_OK;
    }
    p->threaded = true;
    return WR_OK;
}

int wri_ipipe_new(wri_ipipe_fn fn, void *arg, unsigned threads,
                  wri_ipipe **out, wr_errbuf *eb)
{
    return ip_new(fn, NULL, arg, threads, out, eb);
}

int wri_ipipe_new_bytes(wri_ipipe_bytes_fn fn, void *arg, unsigned threads,
                        wri_ipipe **out, wr_errbuf *eb)
{
    return ip_new(NULL, fn, arg, threads, out, eb);
}

bool wri_ipipe_threaded(const wri_ipipe *p)
{
    return p != NULL && p->threaded;
}

void wri_ipipe_free(wri_ipipe *p)
{
    if (p == NULL)
        return;
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_signal(&p->queued);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->queued);
        pthread_cond_destroy(&p->freed);
    }
    for (unsigned i = 0; i < WRI_IPIPE_NBATCH; i++) {
        free(p->b[i].buf);
        free(p->b[i].it);
    }
    free(p);
}
