/*
 * ioring.c -- io's batched reads (io.h, wri_io_pread_batch): many reads
 * at scattered offsets of one file in one system call, through an
 * io_uring made with the raw system calls (no liburing). Where there is
 * no io_uring to be had, wri_io_ring_new says NULL and the callers read
 * the usual way (wri_io_pread_some).
 *
 * One ring serves one thread at a time (the page source that owns it).
 * A batch is cut into chunks of the ring's size; each chunk is submitted
 * and waited for by one io_uring_enter (a buffered read of cached pages
 * completes inside it), more only when the kernel returns early. A read
 * that fails or comes back short is left for the caller to read again,
 * which reports it as any read would. If the system call itself fails,
 * the chunk's reads still in flight are waited for before the ring is
 * given up (their buffers are the caller's), and the ring is not used
 * again.
 *
 * Calls nothing in the library: a part of io.
 */
#include "wr_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__linux__) && defined(__NR_io_uring_setup) && \
    defined(__NR_io_uring_enter)
#include <linux/io_uring.h>
#define IOR_HAVE 1
#else
#define IOR_HAVE 0
#endif

#define IOR_ENTRIES 64u

#if IOR_HAVE

struct wri_io_ring {
    int fd;
    bool dead; /* a system call failed: not used again */
    unsigned entries;
    void *sq, *cq;
    size_t sqlen, cqlen;
    struct io_uring_sqe *sqes;
    size_t sqeslen;
    unsigned *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
};

static void *ior_map(int fd, size_t len, off_t what)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, fd, what);
    return p == MAP_FAILED ? NULL : p;
}

wri_io_ring *wri_io_ring_new(void)
{
    const char *env = getenv("WR_IO_BATCH");
    if (env != NULL && strcmp(env, "0") == 0)
        return NULL;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = (int)syscall(__NR_io_uring_setup, IOR_ENTRIES, &p);
    if (fd < 0)
        return NULL;
    wri_io_ring *r = calloc(1, sizeof *r);
    if (r == NULL) {
        close(fd);
        return NULL;
    }
    r->fd = fd;
    r->entries = p.sq_entries;
    r->sqlen = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cqlen = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single)
        r->sqlen = r->cqlen = WRI_MAX(r->sqlen, r->cqlen);
    r->sq = ior_map(fd, r->sqlen, IORING_OFF_SQ_RING);
    r->cq = single ? r->sq : ior_map(fd, r->cqlen, IORING_OFF_CQ_RING);
    r->sqeslen = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = ior_map(fd, r->sqeslen, IORING_OFF_SQES);
    if (r->sq == NULL || r->cq == NULL || r->sqes == NULL) {
        if (single)
            r->cq = NULL; /* one mapping: unmapped once */
        wri_io_ring_free(r);
        return NULL;
    }
    uint8_t *sq = r->sq, *cq = r->cq;
    r->sq_tail = (unsigned *)(void *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(void *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(void *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(void *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(void *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(void *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(void *)(cq + p.cq_off.cqes);
    return r;
}

void wri_io_ring_free(wri_io_ring *r)
{
    if (r == NULL)
        return;
    if (r->sqes != NULL)
        munmap(r->sqes, r->sqeslen);
    if (r->cq != NULL && r->cq != r->sq)
        munmap(r->cq, r->cqlen);
    if (r->sq != NULL)
        munmap(r->sq, r->sqlen);
    close(r->fd);
    free(r);
}

/* The completions there are: each into its read's got; how many. */
static unsigned ior_reap(wri_io_ring *r, wri_io_rd *rd, unsigned k)
{
    unsigned n = 0;
    unsigned head = __atomic_load_n(r->cq_head, __ATOMIC_RELAXED);
    unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    for (; head != tail; head++, n++) {
        const struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
        if (c->user_data < k)
            rd[c->user_data].got = c->res >= 0 ? c->res : -1;
    }
    __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
    return n;
}

/* io_uring_enter, again on EINTR: the reads submitted, or -1. */
static int ior_enter(wri_io_ring *r, unsigned submit, unsigned wait)
{
    for (;;) {
        long n = syscall(__NR_io_uring_enter, r->fd, submit, wait,
                         IORING_ENTER_GETEVENTS, NULL, 0);
        if (n >= 0)
            return (int)n;
        if (errno != EINTR)
            return -1;
    }
}

/* Up to r->entries reads: queued, submitted, waited for. */
static void ior_chunk(wri_io_ring *r, int fd, wri_io_rd *rd, unsigned k)
{
    unsigned tail = __atomic_load_n(r->sq_tail, __ATOMIC_RELAXED);
    for (unsigned j = 0; j < k; j++) {
        unsigned idx = (tail + j) & *r->sq_mask;
        struct io_uring_sqe *e = &r->sqes[idx];
        memset(e, 0, sizeof *e);
        e->opcode = IORING_OP_READ;
        e->fd = fd;
        e->addr = (uint64_t)(uintptr_t)rd[j].buf;
        e->len = rd[j].len;
        e->off = rd[j].off;
        e->user_data = j;
        r->sq_array[idx] = idx;
        rd[j].got = -1;
    }
    __atomic_store_n(r->sq_tail, tail + k, __ATOMIC_RELEASE);
    unsigned submitted = 0, done = 0;
    while (done < k) {
        int n = ior_enter(r, k - submitted, k - done);
        if (n < 0) {
            /* what was submitted is still the kernel's: wait for it, and
             * give the ring up (what was not stays queued: never used) */
            r->dead = true;
            while (done < submitted && ior_enter(r, 0, 1) >= 0)
                done += ior_reap(r, rd, k);
            return;
        }
        submitted += (unsigned)n;
        done += ior_reap(r, rd, k);
    }
}

void wri_io_pread_batch(wri_io_ring *r, wri_file *f, wri_io_rd *rd,
                        size_t n)
{
    for (size_t i = 0; i < n; i += IOR_ENTRIES) {
        unsigned k = (unsigned)WRI_MIN(n - i, (size_t)IOR_ENTRIES);
        if (r->dead) {
            for (unsigned j = 0; j < k; j++)
                rd[i + j].got = -1;
            continue;
        }
        ior_chunk(r, f->fd, rd + i, WRI_MIN(k, r->entries));
        for (unsigned j = WRI_MIN(k, r->entries); j < k; j++)
            rd[i + j].got = -1; /* a ring smaller than asked for */
    }
}

#else /* no io_uring: callers read the usual way */

wri_io_ring *wri_io_ring_new(void)
{
    return NULL;
}

void wri_io_ring_free(wri_io_ring *r)
{
    (void)r;
}

void wri_io_pread_batch(wri_io_ring *r, wri_file *f, wri_io_rd *rd,
                        size_t n)
{
    (void)r;
    (void)f;
    for (size_t i = 0; i < n; i++)
        rd[i].got = -1;
}

#endif
