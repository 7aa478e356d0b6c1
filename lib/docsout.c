/*
 * docsout.c -- wr-dump --docs's lines, formatted on a second thread
 * (docsout.h).
 *
 * A ring of DO_NJOB batches. The caller fills the batch at `fill` with
 * documents' bytes (each one starts with its own length), hands it over
 * (QUEUED) and moves to the next; the thread formats queued batches in
 * ring order (DONE); before the caller fills a batch again it writes that
 * batch's text. Ring order is document order both ways, so the output is
 * in order with no sequence numbers. The walk (reads, checks) and the
 * writes run on the caller's thread, the formatting on the other: about
 * half each for wr-dump's documents.
 */
#include "wr_int.h"
#include "docsout.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#define DO_BATCH (128u << 10) /* documents' bytes per batch */
#define DO_NJOB 3
#define DO_WRITE (256u << 10) /* bytes per fwrite: larger ones into fresh
                                 page cache are slow on some VMs */

enum { DO_FREE, DO_QUEUED, DO_DONE };

typedef struct do_job {
    uint8_t *raw; /* the documents, back to back */
    size_t rlen, rcap;
    wri_strbuf text; /* their lines, once formatted */
    bool oom;        /* formatting ran out of memory */
    int state;       /* DO_*; under mu once the thread runs */
} do_job;

struct wri_docsout {
    FILE *out;
    bool relaxed;
    bool threaded;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t queued, done;
    bool stop;
    do_job job[DO_NJOB];
    unsigned fill; /* the caller's batch */
    unsigned next; /* the thread's next batch */
    int rc;        /* WR_OK, or the failure that stopped the output */
    int err;       /* its errno */
};

/* The lines of a batch (either thread). */
static void do_format(const wri_docsout *d, do_job *j)
{
    const uint8_t *p = j->raw, *end = j->raw + j->rlen;
    j->text.len = 0;
    j->oom = false;
    while (p < end) {
        uint32_t n = wri_get32(p);
        if (wri_ejson_append_checked(&j->text, p, n, d->relaxed) != WR_OK) {
            j->oom = true; /* checked documents: only memory fails */
            return;
        }
        j->text.p[j->text.len++] = '\n'; /* the terminating NUL's place */
        p += n;
    }
}

static void do_fail(wri_docsout *d, int rc, int err)
{
    if (d->rc == WR_OK) {
        d->rc = rc;
        d->err = err;
    }
}

/* Write a formatted batch (the caller's thread) and empty it. */
static void do_write(wri_docsout *d, do_job *j)
{
    if (j->oom)
        do_fail(d, WR_ENOMEM, ENOMEM);
    for (size_t off = 0; d->rc == WR_OK && off < j->text.len;) {
        size_t n = j->text.len - off < DO_WRITE ? j->text.len - off
                                                : DO_WRITE;
        errno = 0;
        if (fwrite(j->text.p + off, 1, n, d->out) != n) {
            int e = errno ? errno : EIO;
            do_fail(d, e == ENOSPC ? WR_ENOSPC : WR_EIO, e);
        }
        off += n;
    }
    j->rlen = 0;
    j->text.len = 0;
}

/* The cores this process may run on (taskset, cpusets), else online. */
static long do_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    return sysconf(_SC_NPROCESSORS_ONLN);
}

static void *do_thread(void *arg)
{
    wri_docsout *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        do_job *j = &d->job[d->next];
        while (j->state != DO_QUEUED && !d->stop)
            pthread_cond_wait(&d->queued, &d->mu);
        if (j->state != DO_QUEUED)
            break; /* stopped, nothing left */
        pthread_mutex_unlock(&d->mu);
        do_format(d, j);
        pthread_mutex_lock(&d->mu);
        j->state = DO_DONE;
        d->next = (d->next + 1) % DO_NJOB;
        pthread_cond_signal(&d->done);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* Wait until batch j is not being formatted, then write it if it was. */
static void do_collect(wri_docsout *d, do_job *j)
{
    if (d->threaded) {
        pthread_mutex_lock(&d->mu);
        while (j->state == DO_QUEUED)
            pthread_cond_wait(&d->done, &d->mu);
        pthread_mutex_unlock(&d->mu);
    }
    if (j->state != DO_DONE)
        return;
    do_write(d, j);
    if (d->threaded)
        pthread_mutex_lock(&d->mu); /* the thread may be waiting on it */
    j->state = DO_FREE;
    if (d->threaded)
        pthread_mutex_unlock(&d->mu);
}

/* Hand the caller's batch over (or format it here) and move on to the
 * next one, written out first if it holds formatted text. */
static void do_submit(wri_docsout *d)
{
    do_job *j = &d->job[d->fill];
    if (!d->threaded) {
        do_format(d, j);
        do_write(d, j);
        return;
    }
    pthread_mutex_lock(&d->mu);
    j->state = DO_QUEUED;
    pthread_cond_signal(&d->queued);
    pthread_mutex_unlock(&d->mu);
    d->fill = (d->fill + 1) % DO_NJOB;
    do_collect(d, &d->job[d->fill]);
}

int wri_docsout_new(FILE *out, bool relaxed, wri_docsout **dp)
{
    wri_docsout *d = calloc(1, sizeof *d);
    *dp = NULL;
    if (d == NULL)
        return WR_ENOMEM;
    d->out = out;
    d->relaxed = relaxed;
    if (do_cores() >= 2) {
        pthread_mutex_init(&d->mu, NULL);
        pthread_cond_init(&d->queued, NULL);
        pthread_cond_init(&d->done, NULL);
        d->threaded = pthread_create(&d->th, NULL, do_thread, d) == 0;
        if (!d->threaded) { /* one thread it is: the same text */
            pthread_mutex_destroy(&d->mu);
            pthread_cond_destroy(&d->queued);
            pthread_cond_destroy(&d->done);
        }
    }
    *dp = d;
    return WR_OK;
}

int wri_docsout_add(wri_docsout *d, const uint8_t *doc, size_t len,
                    bool checked)
{
    do_job *j = &d->job[d->fill];
    if (d->rc != WR_OK)
        return d->rc;
    if (!checked && wri_bson_check(doc, len, NULL, NULL, 0) != WR_OK)
        return WR_ECORRUPT;
    if (j->rlen + len > j->rcap) {
        size_t cap = j->rcap ? j->rcap : DO_BATCH + 4096;
        while (cap < j->rlen + len)
            cap *= 2;
        uint8_t *p = realloc(j->raw, cap);
        if (p == NULL) {
            do_fail(d, WR_ENOMEM, ENOMEM);
            return d->rc;
        }
        j->raw = p;
        j->rcap = cap;
    }
    memcpy(j->raw + j->rlen, doc, len);
    j->rlen += len;
    if (j->rlen >= DO_BATCH)
        do_submit(d);
    return d->rc;
}

int wri_docsout_error(const wri_docsout *d, wr_errbuf *eb)
{
    if (d == NULL || d->rc == WR_OK)
        return WR_OK;
    if (d->rc == WR_ENOMEM)
        return WR_ERR(eb, WR_ENOMEM, "out of memory writing the dump");
    return WR_ERR(eb, d->rc, "writing the dump failed: %s",
                  strerror(d->err));
}

int wri_docsout_end(wri_docsout *d, wr_errbuf *eb)
{
    if (d == NULL)
        return WR_OK;
    if (d->job[d->fill].rlen > 0) {
        if (d->threaded) {
            pthread_mutex_lock(&d->mu);
            d->job[d->fill].state = DO_QUEUED;
            pthread_cond_signal(&d->queued);
            pthread_mutex_unlock(&d->mu);
        } else {
            do_format(d, &d->job[d->fill]);
            d->job[d->fill].state = DO_DONE;
        }
    }
    /* oldest first: the batch after the caller's, ..., the caller's */
    for (unsigned k = 1; k <= DO_NJOB; k++)
        do_collect(d, &d->job[(d->fill + k) % DO_NJOB]);
    if (d->threaded) {
        pthread_mutex_lock(&d->mu);
        d->stop = true;
        pthread_cond_signal(&d->queued);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->th, NULL);
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->queued);
        pthread_cond_destroy(&d->done);
    }
    int rc = wri_docsout_error(d, eb);
    for (unsigned i = 0; i < DO_NJOB; i++) {
        free(d->job[i].raw);
        free(d->job[i].text.p);
    }
    free(d);
    return rc;
}
