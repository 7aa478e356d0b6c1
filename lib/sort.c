/*
 * sort.c -- external sort under a memory budget (see sort.h).
 *
 * A sorter's records sit in arena chunks (anonymous mmap, so memory given
 * back is really given back and RSS follows the budget) with an array of
 * pointers to them. Sealing a run sorts the pointer array by (key, seq)
 * and, in LAST_WINS mode, keeps only the last record of each key. Runs
 * are written to files that are unlinked as soon as they are created: the
 * open descriptor keeps the data, a crash leaves no debris.
 *
 * Merging: a binary heap of sources ordered by (key, seq, source). Runs
 * are numbered in the order they were written and each holds a contiguous
 * range of seq, so equal keys come out of the heap oldest first; in
 * LAST_WINS mode a record is superseded exactly when the second-smallest
 * source holds an equal key.
 *
 * Counting (LAST_WINS): what a put or a delete did depends only on the op
 * just before it on the same key. A record that stands for several ops
 * keeps its last op in WRI_SREC_DEL and its first in WRI_SREC_FIRST_DEL;
 * the transitions inside it were counted when it was formed (s->perm),
 * the transitions between records are counted when they meet (in a merge
 * or by the iterator), and the first op of each key is counted by the
 * final iteration, against "absent".
 */
#include "sort.h"

#include "wr_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define SORT_MIN_BUDGET (1u << 20)
#define SORT_MIN_CHUNK (64u << 10)
#define SORT_MAX_CHUNK (8u << 20)
#define SORT_PAGE 4096u
#define SORT_WBUF (1u << 20)
/* Run files are written at most this much per pwrite: larger writes make
 * the kernel put them in large page-cache folios, which on the machines
 * measured (Linux 6.18, ext4, a VM) cost up to 25x more than 128 KiB
 * writes of the same bytes (dd of 480 MiB to a new file: 65 MB/s with 1
 * MiB blocks, 3.9 GB/s with 128 KiB ones). */
#define SORT_WPIECE (128u << 10)
#define SORT_MIN_RBUF (16u << 10)
#define SORT_MAX_RBUF (1u << 20)
#define SORT_MAX_FANIN 64
#define SORT_FLAG_MASK (WRI_SREC_DEL | WRI_SREC_FIRST_DEL | 0xffffu)

typedef struct sort_chunk {
    struct sort_chunk *next;
    uint8_t *mem;
    size_t cap;
    size_t used;
} sort_chunk;

typedef struct sort_run {
    wri_file *f;
    uint64_t size;
    uint64_t nrecs;
} sort_run;

struct wri_sort_pool {
    uint64_t budget;
    uint64_t held;
    uint64_t peak;
    char *dir;
    char *prefix;
    uint64_t next_file;
    size_t chunk; /* arena chunk size */
    wri_sort **sorters;
    size_t nsorters;
};

struct wri_sort {
    wri_sort_pool *pool;
    wri_sort_mode mode;
    sort_chunk *chunks; /* newest first; the head takes new records */
    uint64_t held;      /* chunk bytes + pointer array bytes */
    const uint8_t **recs;
    size_t nrecs;
    size_t rcap;
    bool sealed;   /* recs sorted (and, LAST_WINS, deduplicated) */
    bool finished; /* no more adds */
    int busy;      /* open iterators */
    bool have_seq;
    uint64_t last_seq;
    uint64_t epoch; /* bumped by every spill */
    sort_run *runs;
    size_t nruns;
    size_t runcap;
    /* the ordered run: records whose key was above every key it held when
     * they came, in arrival order (never sorted); in chunks oldest first
     * (ord_head .. ord_tail), written to its own file (ord_f, ord_size
     * bytes) when the pool wants the memory */
    sort_chunk *ord_head, *ord_tail;
    uint64_t ord_held; /* its chunks' bytes (part of held) */
    uint64_t ord_used; /* record bytes in its chunks */
    size_t ord_next;   /* size of its next chunk */
    wri_file *ord_f;
    uint64_t ord_size;
    uint8_t *ord_last; /* its last key */
    uint32_t ord_lastlen;
    size_t ord_lastcap;
    wri_sort_counts perm;
    wri_sort_info info;
};

/* --- record helpers ------------------------------------------------------- */

static inline uint32_t rec_klen(const uint8_t *r)
{
    return wri_get32(r);
}
static inline uint32_t rec_vlen(const uint8_t *r)
{
    return wri_get32(r + 4);
}
static inline uint64_t rec_seq(const uint8_t *r)
{
    return wri_get64(r + 8);
}
static inline uint32_t rec_flags(const uint8_t *r)
{
    return wri_get32(r + 24);
}
static inline uint64_t rec_len(const uint8_t *r)
{
    return (uint64_t)WRI_SREC_HDR + rec_klen(r) + rec_vlen(r);
}

static inline int rec_key_cmp(const uint8_t *a, const uint8_t *b)
{
    return wri_key_cmp(a + WRI_SREC_HDR, rec_klen(a), b + WRI_SREC_HDR,
                       rec_klen(b));
}

static int rec_cmp(const uint8_t *a, const uint8_t *b)
{
    int c = rec_key_cmp(a, b);
    if (c != 0)
        return c;
    uint64_t sa = rec_seq(a), sb = rec_seq(b);
    return sa < sb ? -1 : sa > sb;
}

static int rec_qsort_cmp(const void *pa, const void *pb)
{
    return rec_cmp(*(const uint8_t *const *)pa, *(const uint8_t *const *)pb);
}

static void rec_fill(const uint8_t *r, wri_sort_rec *out)
{
    out->klen = rec_klen(r);
    out->vlen = rec_vlen(r);
    out->key = r + WRI_SREC_HDR;
    out->val = r + WRI_SREC_HDR + out->klen;
    out->seq = rec_seq(r);
    out->aux = wri_get64(r + 16);
    out->flags = rec_flags(r) & ~(uint32_t)WRI_SREC_FIRST_DEL;
}

/* One op on a key, given whether the key was live just before it. */
static void count_op(wri_sort_counts *c, bool was_live, bool is_del)
{
    if (is_del) {
        if (was_live)
            c->deleted++;
        else
            c->missing++;
    } else {
        if (was_live)
            c->replaced++;
        else
            c->inserted++;
    }
}

/* Record a came just before record b on the same key. */
static void count_between(wri_sort_counts *c, const uint8_t *a,
                          const uint8_t *b)
{
    count_op(c, !(rec_flags(a) & WRI_SREC_DEL),
             (rec_flags(b) & WRI_SREC_FIRST_DEL) != 0);
}

/* --- pool and memory ------------------------------------------------------- */

static size_t sort_fanin(const wri_sort_pool *p)
{
    uint64_t f = p->budget / 4 / (64u << 10);
    if (f < 2)
        f = 2;
    if (f > SORT_MAX_FANIN)
        f = SORT_MAX_FANIN;
    return (size_t)f;
}

int wri_sort_pool_create(uint64_t budget, const char *dir, const char *prefix,
                         wri_sort_pool **out, wr_errbuf *eb)
{
    wri_sort_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    p->budget = budget < SORT_MIN_BUDGET ? SORT_MIN_BUDGET : budget;
    p->dir = strdup(dir);
    p->prefix = strdup(prefix);
    if (p->dir == NULL || p->prefix == NULL) {
        wri_sort_pool_destroy(p);
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    uint64_t c = p->budget / 16;
    c = c < SORT_MIN_CHUNK ? SORT_MIN_CHUNK : c > SORT_MAX_CHUNK ? SORT_MAX_CHUNK : c;
    p->chunk = (size_t)(c / SORT_PAGE * SORT_PAGE);
    *out = p;
    return WR_OK;
}

void wri_sort_pool_destroy(wri_sort_pool *p)
{
    if (p == NULL)
        return;
    free(p->sorters);
    free(p->dir);
    free(p->prefix);
    free(p);
}

uint64_t wri_sort_pool_budget(const wri_sort_pool *p)
{
    return p->budget;
}

uint64_t wri_sort_pool_held(const wri_sort_pool *p)
{
    return p->held;
}

uint64_t wri_sort_pool_peak(const wri_sort_pool *p)
{
    return p->peak;
}

static void sort_held_add(wri_sort *s, uint64_t n)
{
    s->held += n;
    s->pool->held += n;
    if (s->pool->held > s->pool->peak)
        s->pool->peak = s->pool->held;
}

static void sort_held_sub(wri_sort *s, uint64_t n)
{
    s->held -= n;
    s->pool->held -= n;
}

/* A chunk of csize bytes (anonymous memory); NULL when out of memory. */
static sort_chunk *chunk_new(uint64_t csize)
{
    sort_chunk *c = calloc(1, sizeof *c);
    void *mem = c == NULL ? MAP_FAILED
                          : mmap(NULL, (size_t)csize, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        free(c);
        return NULL;
    }
    c->mem = mem;
    c->cap = (size_t)csize;
    return c;
}

/* Give a chunk back; the next one of its list. */
static sort_chunk *chunk_free(wri_sort *s, sort_chunk *c)
{
    sort_chunk *next = c->next;
    munmap(c->mem, c->cap);
    sort_held_sub(s, c->cap);
    free(c);
    return next;
}

/* Give back the ordered run's chunks (its file stays). */
static void ord_release(wri_sort *s)
{
    while (s->ord_head != NULL) {
        s->ord_held -= s->ord_head->cap;
        s->ord_used -= s->ord_head->used;
        s->ord_head = chunk_free(s, s->ord_head);
    }
    s->ord_tail = NULL;
}

/* Give back the in-memory run: chunks and pointer array. */
static void sort_release(wri_sort *s)
{
    while (s->chunks != NULL)
        s->chunks = chunk_free(s, s->chunks);
    free(s->recs);
    sort_held_sub(s, (uint64_t)s->rcap * sizeof *s->recs);
    s->recs = NULL;
    s->rcap = 0;
    s->nrecs = 0;
    s->sealed = false;
}

static int sort_spill(wri_sort *s, wr_errbuf *eb);
static int ord_flush(wri_sort *s, bool keep, wr_errbuf *eb);

/* Make room in the pool for `need` more bytes for sorter s, freeing memory
 * of the sorter that holds the most (which may be s): its ordered run is
 * written out when it holds half a chunk or more (an append, no sort),
 * else its other records are sorted and spilled as a run. Goes over the
 * budget rather than fail when nothing is left to free. */
static int pool_reserve(wri_sort_pool *p, wri_sort *s, uint64_t need,
                        wr_errbuf *eb)
{
    int rc;
    while (p->held + need > p->budget) {
        wri_sort *v = NULL;
        for (size_t i = 0; i < p->nsorters; i++) {
            wri_sort *t = p->sorters[i];
            if (t->busy == 0 && (t->nrecs > 0 || t->ord_head != NULL) &&
                (v == NULL || t->held > v->held))
                v = t;
        }
        if (v == NULL)
            break;
        if (v->ord_head != NULL &&
            (v->ord_used >= p->chunk / 2 || v->ord_used == 0 || v->nrecs == 0))
            rc = ord_flush(v, false, eb);
        else
            rc = sort_spill(v, eb);
        if (rc != WR_OK)
            return rc;
    }
    return WR_OK;
}

/* Room for one more record of len bytes: a chunk with space and a slot in
 * the pointer array. */
static int sort_make_room(wri_sort *s, uint64_t len, wr_errbuf *eb)
{
    int rc;
    for (;;) {
        bool need_chunk = s->chunks == NULL ||
                          s->chunks->cap - s->chunks->used < len;
        bool need_arr = s->nrecs == s->rcap;
        if (!need_chunk && !need_arr)
            return WR_OK;
        uint64_t csize = 0;
        if (need_chunk) {
            csize = s->pool->chunk;
            if (len > csize)
                csize = (len + SORT_PAGE - 1) / SORT_PAGE * SORT_PAGE;
        }
        size_t ncap = s->rcap;
        if (need_arr)
            ncap = s->rcap ? s->rcap * 2 : 1024;
        uint64_t epoch = s->epoch;
        if ((rc = pool_reserve(s->pool, s, csize + (ncap - s->rcap) *
                                                       sizeof *s->recs,
                               eb)) != WR_OK)
            return rc;
        if (s->epoch != epoch)
            continue; /* s itself was spilled: look again */
        if (need_chunk) {
            sort_chunk *c = chunk_new(csize);
            if (c == NULL)
                return WR_ERR(eb, WR_ENOMEM,
                              "sort: out of memory for a %llu-byte chunk",
                              (unsigned long long)csize);
            c->next = s->chunks;
            s->chunks = c;
            sort_held_add(s, csize);
        }
        if (need_arr) {
            const uint8_t **nr = realloc(s->recs, ncap * sizeof *nr);
            if (nr == NULL)
                return WR_ERR(eb, WR_ENOMEM, "sort: out of memory");
            s->recs = nr;
            sort_held_add(s, (uint64_t)(ncap - s->rcap) * sizeof *nr);
            s->rcap = ncap;
        }
        return WR_OK;
    }
}

int wri_sort_create(wri_sort_pool *p, wri_sort_mode mode, wri_sort **out,
                    wr_errbuf *eb)
{
    wri_sort *s = calloc(1, sizeof *s);
    wri_sort **ns = realloc(p->sorters, (p->nsorters + 1) * sizeof *ns);
    if (s == NULL || ns == NULL) {
        free(s);
        if (ns != NULL)
            p->sorters = ns;
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    }
    p->sorters = ns;
    p->sorters[p->nsorters++] = s;
    s->pool = p;
    s->mode = mode;
    *out = s;
    return WR_OK;
}

static void sort_drop_runs(wri_sort *s, size_t first, size_t n)
{
    if (n == 0)
        return;
    for (size_t i = first; i < first + n; i++)
        wri_io_close(s->runs[i].f);
    memmove(s->runs + first, s->runs + first + n,
            (s->nruns - first - n) * sizeof *s->runs);
    s->nruns -= n;
    s->info.runs = s->nruns;
}

void wri_sort_destroy(wri_sort *s)
{
    if (s == NULL)
        return;
    sort_release(s);
    ord_release(s);
    wri_io_close(s->ord_f);
    free(s->ord_last);
    sort_drop_runs(s, 0, s->nruns);
    free(s->runs);
    wri_sort_pool *p = s->pool;
    for (size_t i = 0; i < p->nsorters; i++) {
        if (p->sorters[i] == s) {
            p->sorters[i] = p->sorters[--p->nsorters];
            break;
        }
    }
    free(s);
}

void wri_sort_get_info(const wri_sort *s, wri_sort_info *out)
{
    *out = s->info;
    out->runs = s->nruns + (s->ord_f != NULL);
    out->in_memory = s->nrecs > 0;
}

/* --- adding and sealing ------------------------------------------------------ */

/* Room at the ordered run's tail for a record of len bytes with a key of
 * klen bytes (and room to remember that key). Its chunks start small and
 * double up to the pool's chunk size: a short ordered run costs little. */
static int ord_make_room(wri_sort *s, uint64_t len, uint32_t klen,
                         wr_errbuf *eb)
{
    int rc;
    if (klen > s->ord_lastcap) {
        uint8_t *nk = realloc(s->ord_last, klen);
        if (nk == NULL)
            return WR_ERR(eb, WR_ENOMEM, "sort: out of memory");
        s->ord_last = nk;
        s->ord_lastcap = klen;
    }
    wri_sort_pool *p = s->pool;
    uint64_t csize = WRI_MAX((uint64_t)s->ord_next, (uint64_t)SORT_MIN_CHUNK);
    if (csize > p->chunk)
        csize = p->chunk;
    if (len > csize)
        csize = (len + SORT_PAGE - 1) / SORT_PAGE * SORT_PAGE;
    /* the chunks after the tail are empty (written out and kept): the
     * first one the record fits in */
    for (int pass = 0; pass < 2; pass++) {
        while (s->ord_tail != NULL &&
               s->ord_tail->cap - s->ord_tail->used < len &&
               s->ord_tail->next != NULL)
            s->ord_tail = s->ord_tail->next;
        if (s->ord_tail != NULL && s->ord_tail->cap - s->ord_tail->used >= len)
            return WR_OK;
        /* the ordered run is what fills the pool: write it out and refill
         * its chunks (no memory given back and taken again) */
        if (pass > 0 || s->ord_used < p->chunk / 2 ||
            p->held + csize <= p->budget)
            break;
        if ((rc = ord_flush(s, true, eb)) != WR_OK)
            return rc;
    }
    /* may write this sorter's ordered run out: a new chunk all the same */
    if ((rc = pool_reserve(p, s, csize, eb)) != WR_OK)
        return rc;
    sort_chunk *c = chunk_new(csize);
    if (c == NULL)
        return WR_ERR(eb, WR_ENOMEM, "sort: out of memory for a %llu-byte "
                      "chunk", (unsigned long long)csize);
    if (s->ord_tail != NULL) { /* before the empty ones, if any */
        c->next = s->ord_tail->next;
        s->ord_tail->next = c;
    } else {
        c->next = s->ord_head;
        s->ord_head = c;
    }
    s->ord_tail = c;
    s->ord_held += csize;
    sort_held_add(s, csize);
    s->ord_next = (size_t)csize * 2;
    return WR_OK;
}

int wri_sort_add(wri_sort *s, const uint8_t *key, uint32_t klen,
                 const uint8_t *val, uint32_t vlen, uint64_t seq,
                 uint64_t aux, uint32_t flags, wr_errbuf *eb)
{
    int rc;
    if (s->finished)
        return WR_ERR(eb, WR_EINVAL, "sort: add after finish");
    if (s->have_seq && seq <= s->last_seq)
        return WR_ERR(eb, WR_EINVAL,
                      "sort: sequence numbers must grow (%llu after %llu)",
                      (unsigned long long)seq,
                      (unsigned long long)s->last_seq);
    if (klen == 0)
        return WR_ERR(eb, WR_EINVAL, "sort: empty key");
    uint64_t len = (uint64_t)WRI_SREC_HDR + klen + vlen;
    uint8_t *r = NULL;
    bool above = s->ord_lastlen == 0 ||
                 wri_key_cmp(key, klen, s->ord_last, s->ord_lastlen) > 0;
    if (above && (flags & WRI_SREC_DEL) && s->mode == WRI_SORT_LAST_WINS) {
        /* above every key added so far: a key never seen, so the delete
         * finds nothing; dropped here, as the ordered run's last key it
         * would shut out every later key below it */
        s->perm.missing++;
    } else if (above) {
        /* above every key added so far: appended to the ordered run */
        if ((rc = ord_make_room(s, len, klen, eb)) != WR_OK)
            return rc;
        r = s->ord_tail->mem + s->ord_tail->used;
        s->ord_tail->used += (size_t)len;
        s->ord_used += len;
        memcpy(s->ord_last, key, klen);
        s->ord_lastlen = klen;
        s->info.ordered++;
    } else {
        if ((rc = sort_make_room(s, len, eb)) != WR_OK)
            return rc;
        sort_chunk *c = s->chunks;
        r = c->mem + c->used;
        c->used += (size_t)len;
        s->recs[s->nrecs++] = r;
        s->sealed = false;
    }
    if (r != NULL) {
        flags &= WRI_SREC_DEL | 0xffffu;
        if (flags & WRI_SREC_DEL)
            flags |= WRI_SREC_FIRST_DEL;
        wri_put32(r, klen);
        wri_put32(r + 4, vlen);
        wri_put64(r + 8, seq);
        wri_put64(r + 16, aux);
        wri_put32(r + 24, flags);
        memcpy(r + WRI_SREC_HDR, key, klen);
        if (vlen > 0)
            memcpy(r + WRI_SREC_HDR + klen, val, vlen);
    }
    s->have_seq = true;
    s->last_seq = seq;
    s->info.added++;
    return WR_OK;
}

/* Sort the in-memory records; LAST_WINS keeps the last of each key. */
static void sort_seal(wri_sort *s)
{
    if (s->sealed || s->nrecs == 0) {
        s->sealed = true;
        return;
    }
    qsort(s->recs, s->nrecs, sizeof *s->recs, rec_qsort_cmp);
    if (s->mode == WRI_SORT_LAST_WINS) {
        size_t w = 0;
        for (size_t i = 0; i < s->nrecs;) {
            size_t j = i;
            while (j + 1 < s->nrecs &&
                   rec_key_cmp(s->recs[j], s->recs[j + 1]) == 0) {
                count_between(&s->perm, s->recs[j], s->recs[j + 1]);
                j++;
            }
            if (j > i) {
                /* the winner stands for records i..j: keep the first op */
                uint8_t *win = (uint8_t *)s->recs[j];
                uint32_t f = rec_flags(win) & ~(uint32_t)WRI_SREC_FIRST_DEL;
                f |= rec_flags(s->recs[i]) & WRI_SREC_FIRST_DEL;
                wri_put32(win + 24, f);
            }
            s->recs[w++] = s->recs[j];
            i = j + 1;
        }
        s->nrecs = w;
    }
    s->sealed = true;
}

/* --- run files ----------------------------------------------------------- */

typedef struct sort_writer {
    wri_sort *s;
    wri_file *f;
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint64_t off;
    uint64_t nrecs;
} sort_writer;

/* Write len bytes at off in pieces of SORT_WPIECE. */
static int run_write(wri_file *f, const uint8_t *buf, size_t len, uint64_t off,
                     wr_errbuf *eb)
{
    int rc;
    for (size_t done = 0; done < len;) {
        size_t n = WRI_MIN(len - done, (size_t)SORT_WPIECE);
        if ((rc = wri_io_pwrite(f, buf + done, n, off + done, eb)) != WR_OK)
            return rc;
        done += n;
    }
    return WR_OK;
}

/* A new run file in the pool's directory, unlinked at once. */
static int run_file_open(wri_sort_pool *p, wri_file **out, wr_errbuf *eb)
{
    int rc;
    for (int tries = 0;; tries++) {
        char name[512];
        snprintf(name, sizeof name, "%s.%llu", p->prefix,
                 (unsigned long long)p->next_file++);
        char *path = wri_path_join(p->dir, name);
        if (path == NULL)
            return WR_ERR(eb, WR_ENOMEM, "sort: out of memory");
        rc = wri_io_open(path,
                         WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_EXCL, out, eb);
        if (rc == WR_EEXIST && tries < 100) {
            wr_errbuf_clear(eb);
            free(path);
            continue;
        }
        /* unlinked at once: the descriptor keeps the data; a crash leaves
         * nothing behind */
        if (rc == WR_OK && (rc = wri_io_unlink(path, eb)) != WR_OK) {
            wri_io_close(*out);
            *out = NULL;
        }
        free(path);
        return rc;
    }
}

static int writer_open(wri_sort *s, sort_writer *w, wr_errbuf *eb)
{
    memset(w, 0, sizeof *w);
    w->s = s;
    w->cap = SORT_WBUF;
    if ((w->buf = malloc(w->cap)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "sort: out of memory");
    return run_file_open(s->pool, &w->f, eb);
}

/* Append the ordered run's chunks to its file (made when there is
 * something to write), in order; keep: the chunks stay, emptied, for the
 * run to refill from its first; else each is given back once written. */
static int ord_flush(wri_sort *s, bool keep, wr_errbuf *eb)
{
    int rc;
    if (s->ord_f == NULL && s->ord_used > 0) {
        if ((rc = run_file_open(s->pool, &s->ord_f, eb)) != WR_OK)
            return rc;
        s->info.runs_written++;
    }
    for (sort_chunk *c = s->ord_head; c != NULL; c = c->next) {
        if ((rc = run_write(s->ord_f, c->mem, c->used, s->ord_size, eb)) !=
            WR_OK)
            return rc;
        s->ord_size += c->used;
        s->info.spilled += c->used;
        s->ord_used -= c->used;
        c->used = 0;
    }
    s->ord_tail = s->ord_head;
    if (!keep)
        ord_release(s);
    return WR_OK;
}

static int writer_flush(sort_writer *w, wr_errbuf *eb)
{
    int rc;
    if (w->len == 0)
        return WR_OK;
    if ((rc = run_write(w->f, w->buf, w->len, w->off, eb)) != WR_OK)
        return rc;
    w->off += w->len;
    w->s->info.spilled += w->len;
    w->len = 0;
    return WR_OK;
}

static int writer_put(sort_writer *w, const uint8_t *r, uint32_t flags,
                      wr_errbuf *eb)
{
    int rc;
    uint64_t len = rec_len(r);
    if (w->len + len > w->cap && (rc = writer_flush(w, eb)) != WR_OK)
        return rc;
    if (len > w->cap) { /* a huge record: straight to the file */
        if ((rc = run_write(w->f, r, (size_t)len, w->off, eb)) != WR_OK)
            return rc;
        /* the flags on disk must be the merged ones */
        uint8_t fl[4];
        wri_put32(fl, flags);
        if ((rc = wri_io_pwrite(w->f, fl, 4, w->off + 24, eb)) != WR_OK)
            return rc;
        w->off += len;
        w->s->info.spilled += len;
    } else {
        memcpy(w->buf + w->len, r, (size_t)len);
        wri_put32(w->buf + w->len + 24, flags);
        w->len += (size_t)len;
    }
    w->nrecs++;
    return WR_OK;
}

/* Finish a writer: the run goes into the run list at position `at`. */
static int writer_close(sort_writer *w, size_t at, wr_errbuf *eb)
{
    int rc;
    wri_sort *s = w->s;
    if ((rc = writer_flush(w, eb)) != WR_OK)
        return rc;
    if (s->nruns == s->runcap) {
        size_t nc = s->runcap ? s->runcap * 2 : 8;
        sort_run *nr = realloc(s->runs, nc * sizeof *nr);
        if (nr == NULL)
            return WR_ERR(eb, WR_ENOMEM, "sort: out of memory");
        s->runs = nr;
        s->runcap = nc;
    }
    if (s->nruns > at)
        memmove(s->runs + at + 1, s->runs + at,
                (s->nruns - at) * sizeof *s->runs);
    s->runs[at].f = w->f;
    s->runs[at].size = w->off;
    s->runs[at].nrecs = w->nrecs;
    s->nruns++;
    s->info.runs = s->nruns;
    s->info.runs_written++;
    w->f = NULL;
    free(w->buf);
    w->buf = NULL;
    return WR_OK;
}

static void writer_abort(sort_writer *w)
{
    wri_io_close(w->f);
    free(w->buf);
    w->f = NULL;
    w->buf = NULL;
}

/* --- merging --------------------------------------------------------------- */

typedef struct sort_src {
    /* a run in memory */
    const uint8_t **recs;
    size_t i;
    size_t n;
    /* the ordered run in memory: its chunks in order */
    const sort_chunk *ch;
    size_t chpos;
    /* a run file */
    wri_file *f;
    uint64_t size;
    uint64_t off; /* file offset of the byte after the buffer's data */
    uint8_t *buf;
    size_t cap;
    size_t pos; /* start of the current record in buf */
    size_t len; /* bytes of data in buf */
    const uint8_t *cur; /* current record, NULL when exhausted */
    size_t order;       /* older sources first on ties */
} sort_src;

typedef struct sort_merge {
    wri_sort_mode mode;
    sort_src *src;
    size_t nsrc;
    size_t *heap;
    size_t nheap;
    sort_src *pending; /* returned last time: advance before going on */
    wri_sort_counts *counts;
} sort_merge;

static int src_cmp(const sort_src *a, const sort_src *b)
{
    int c = rec_cmp(a->cur, b->cur);
    if (c != 0)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Make the record at buf[pos] complete in the buffer; cur = NULL at EOF. */
static int src_load(sort_src *sr, wr_errbuf *eb)
{
    int rc;
    for (;;) {
        size_t have = sr->len - sr->pos;
        uint64_t need = WRI_SREC_HDR;
        if (have >= WRI_SREC_HDR)
            need = rec_len(sr->buf + sr->pos);
        if (have >= need) {
            sr->cur = sr->buf + sr->pos;
            return WR_OK;
        }
        uint64_t left = sr->size - sr->off;
        if (have == 0 && left == 0) {
            sr->cur = NULL;
            return WR_OK;
        }
        if (need - have > left)
            return WR_ERR(eb, WR_ECORRUPT,
                          "%s: sort run ends inside a record (offset %llu)",
                          sr->f->path,
                          (unsigned long long)(sr->off - have));
        /* move the partial record to the front, grow if it cannot fit */
        memmove(sr->buf, sr->buf + sr->pos, have);
        sr->pos = 0;
        sr->len = have;
        if (need > sr->cap) {
            uint8_t *nb = realloc(sr->buf, (size_t)need);
            if (nb == NULL)
                return WR_ERR(eb, WR_ENOMEM, "sort: out of memory");
            sr->buf = nb;
            sr->cap = (size_t)need;
        }
        size_t want = sr->cap - sr->len;
        if (want > left)
            want = (size_t)left;
        if ((rc = wri_io_pread(sr->f, sr->buf + sr->len, want, sr->off, eb)) !=
            WR_OK)
            return rc;
        sr->off += want;
        sr->len += want;
    }
}

/* The ordered run in memory: the record at chpos, skipping to the next
 * chunk at the end of one. */
static void src_chunk_cur(sort_src *sr)
{
    while (sr->ch != NULL && sr->chpos >= sr->ch->used) {
        sr->ch = sr->ch->next;
        sr->chpos = 0;
    }
    sr->cur = sr->ch != NULL ? sr->ch->mem + sr->chpos : NULL;
}

static int src_advance(sort_src *sr, wr_errbuf *eb)
{
    if (sr->ch != NULL) {
        sr->chpos += (size_t)rec_len(sr->cur);
        src_chunk_cur(sr);
        return WR_OK;
    }
    if (sr->f == NULL) {
        sr->i++;
        sr->cur = sr->i < sr->n ? sr->recs[sr->i] : NULL;
        return WR_OK;
    }
    sr->pos += (size_t)rec_len(sr->cur);
    return src_load(sr, eb);
}

static void heap_down(sort_merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->nheap &&
            src_cmp(&m->src[m->heap[l]], &m->src[m->heap[min]]) < 0)
            min = l;
        if (r < m->nheap &&
            src_cmp(&m->src[m->heap[r]], &m->src[m->heap[min]]) < 0)
            min = r;
        if (min == i)
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[min];
        m->heap[min] = t;
        i = min;
    }
}

/* Advance the source at the top of the heap and restore the heap. */
static int heap_advance_top(sort_merge *m, wr_errbuf *eb)
{
    int rc;
    sort_src *sr = &m->src[m->heap[0]];
    if ((rc = src_advance(sr, eb)) != WR_OK)
        return rc;
    if (sr->cur == NULL)
        m->heap[0] = m->heap[--m->nheap];
    if (m->nheap > 0)
        heap_down(m, 0);
    return WR_OK;
}

static void merge_free(sort_merge *m)
{
    for (size_t i = 0; i < m->nsrc; i++)
        free(m->src[i].buf);
    free(m->src);
    free(m->heap);
    memset(m, 0, sizeof *m);
}

/* A run file as a source, with a read buffer of rb bytes. */
static int src_open_file(sort_src *sr, wri_file *f, uint64_t size,
                         uint64_t rb, wr_errbuf *eb)
{
    sr->f = f;
    sr->size = size;
    sr->cap = (size_t)rb;
    if ((sr->buf = malloc(sr->cap)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "sort: out of memory");
    return src_load(sr, eb);
}

/* Set up a merge of runs [first, first + n) and, if mem, the in-memory
 * run after them, and, if ord, the ordered run (in its file or its
 * chunks). */
static int merge_open(wri_sort *s, size_t first, size_t n, bool mem, bool ord,
                      wri_sort_counts *counts, sort_merge *m, wr_errbuf *eb)
{
    int rc;
    memset(m, 0, sizeof *m);
    m->mode = s->mode;
    m->counts = counts;
    ord = ord && (s->ord_f != NULL || s->ord_head != NULL);
    size_t total = n + (mem ? 1 : 0) + (ord ? 1 : 0);
    size_t nfiles = n + (ord && s->ord_f != NULL ? 1 : 0);
    m->src = calloc(total ? total : 1, sizeof *m->src);
    m->heap = calloc(total ? total : 1, sizeof *m->heap);
    if (m->src == NULL || m->heap == NULL) {
        merge_free(m);
        return WR_ERR(eb, WR_ENOMEM, "sort: out of memory");
    }
    uint64_t rb = s->pool->budget / 4 / (nfiles ? nfiles : 1);
    rb = rb < SORT_MIN_RBUF ? SORT_MIN_RBUF : rb > SORT_MAX_RBUF ? SORT_MAX_RBUF : rb;
    for (size_t i = 0; i < n; i++) {
        sort_src *sr = &m->src[m->nsrc++];
        sr->order = i;
        if ((rc = src_open_file(sr, s->runs[first + i].f,
                                s->runs[first + i].size, rb, eb)) != WR_OK) {
            merge_free(m);
            return rc;
        }
    }
    if (mem) {
        sort_src *sr = &m->src[m->nsrc++];
        sr->order = n;
        sr->recs = s->recs;
        sr->n = s->nrecs;
        sr->cur = sr->n > 0 ? sr->recs[0] : NULL;
    }
    if (ord) { /* (key, seq) never ties across sources: any order will do */
        sort_src *sr = &m->src[m->nsrc++];
        sr->order = n + 1;
        if (s->ord_f != NULL) {
            if ((rc = src_open_file(sr, s->ord_f, s->ord_size, rb, eb)) !=
                WR_OK) {
                merge_free(m);
                return rc;
            }
        } else {
            sr->ch = s->ord_head;
            src_chunk_cur(sr);
        }
    }
    for (size_t i = 0; i < m->nsrc; i++)
        if (m->src[i].cur != NULL)
            m->heap[m->nheap++] = i;
    for (size_t i = m->nheap / 2; i-- > 0;)
        heap_down(m, i);
    return WR_OK;
}

/* The next record of the merge: every record in PLAIN mode; in LAST_WINS
 * mode the last record of the next key (deletes included), with *first_del
 * telling whether the key's earliest op in this merge was a delete. 1 at
 * the end. */
static int merge_next(sort_merge *m, const uint8_t **out, bool *first_del,
                      wr_errbuf *eb)
{
    int rc;
    if (m->pending != NULL) {
        m->pending = NULL;
        if ((rc = heap_advance_top(m, eb)) != WR_OK)
            return rc;
    }
    if (m->nheap == 0)
        return 1;
    bool in_group = false, fdel = false;
    for (;;) {
        sort_src *top = &m->src[m->heap[0]];
        const uint8_t *r = top->cur;
        if (!in_group)
            fdel = (rec_flags(r) & WRI_SREC_FIRST_DEL) != 0;
        if (m->mode == WRI_SORT_LAST_WINS && m->nheap > 1) {
            size_t second = 1;
            if (m->nheap > 2 &&
                src_cmp(&m->src[m->heap[2]], &m->src[m->heap[1]]) < 0)
                second = 2;
            const uint8_t *r2 = m->src[m->heap[second]].cur;
            if (rec_key_cmp(r, r2) == 0) {
                /* superseded by a later record of the same key */
                count_between(m->counts, r, r2);
                in_group = true;
                if ((rc = heap_advance_top(m, eb)) != WR_OK)
                    return rc;
                continue;
            }
        }
        *out = r;
        *first_del = fdel;
        m->pending = top;
        return WR_OK;
    }
}

/* Merge runs [first, first + n) into one run that takes their place. */
static int sort_merge_runs(wri_sort *s, size_t first, size_t n, wr_errbuf *eb)
{
    int rc;
    sort_merge m;
    sort_writer w = {0};
    const uint8_t *r;
    bool fdel;
    if ((rc = merge_open(s, first, n, false, false, &s->perm, &m, eb)) !=
        WR_OK)
        return rc;
    if ((rc = writer_open(s, &w, eb)) != WR_OK)
        goto out;
    while ((rc = merge_next(&m, &r, &fdel, eb)) == WR_OK) {
        uint32_t f = rec_flags(r);
        if (s->mode == WRI_SORT_LAST_WINS)
            f = (f & ~(uint32_t)WRI_SREC_FIRST_DEL) |
                (fdel ? WRI_SREC_FIRST_DEL : 0);
        if ((rc = writer_put(&w, r, f, eb)) != WR_OK)
            goto out;
    }
    if (rc != 1)
        goto out;
    merge_free(&m);
    sort_drop_runs(s, first, n);
    rc = writer_close(&w, first, eb);
    s->info.merges++;
out:
    merge_free(&m);
    if (rc != WR_OK)
        writer_abort(&w);
    return rc;
}

/* The n consecutive runs with the fewest bytes: merging like-sized
 * neighbours (not always the oldest, which would rewrite one ever-growing
 * run again and again) keeps the bytes rewritten near n log n. */
static size_t sort_smallest_window(const wri_sort *s, size_t n)
{
    size_t best = 0;
    uint64_t sum = 0, min = 0;
    for (size_t i = 0; i < s->nruns; i++) {
        sum += s->runs[i].size;
        if (i >= n)
            sum -= s->runs[i - n].size;
        if (i + 1 >= n && (i + 1 == n || sum < min)) {
            min = sum;
            best = i + 1 - n;
        }
    }
    return best;
}

/* Merge groups of consecutive runs until at most `limit` are left. */
static int sort_reduce_runs(wri_sort *s, size_t limit, wr_errbuf *eb)
{
    int rc;
    size_t f = sort_fanin(s->pool);
    while (s->nruns > limit) {
        size_t n = s->nruns - limit + 1; /* merging n runs removes n - 1 */
        if (n > f)
            n = f;
        if ((rc = sort_merge_runs(s, sort_smallest_window(s, n), n, eb)) !=
            WR_OK)
            return rc;
    }
    return WR_OK;
}

/* Write the in-memory run to a run file and give its memory back. */
static int sort_spill(wri_sort *s, wr_errbuf *eb)
{
    int rc;
    sort_writer w;
    if (s->nrecs == 0)
        return WR_OK;
    sort_seal(s);
    if ((rc = writer_open(s, &w, eb)) != WR_OK)
        return rc;
    for (size_t i = 0; i < s->nrecs; i++) {
        if ((rc = writer_put(&w, s->recs[i], rec_flags(s->recs[i]), eb)) !=
            WR_OK) {
            writer_abort(&w);
            return rc;
        }
    }
    if ((rc = writer_close(&w, s->nruns, eb)) != WR_OK) {
        writer_abort(&w);
        return rc;
    }
    sort_release(s);
    s->epoch++;
    /* keep the number of open run files bounded */
    size_t f = sort_fanin(s->pool);
    if (s->nruns >= 2 * f &&
        (rc = sort_merge_runs(s, sort_smallest_window(s, f), f, eb)) != WR_OK)
        return rc;
    return WR_OK;
}

int wri_sort_finish(wri_sort *s, uint64_t reserve, wr_errbuf *eb)
{
    int rc;
    wri_sort_pool *p = s->pool;
    sort_seal(s);
    s->finished = true;
    /* an ordered run that went to its file goes there whole */
    if (s->ord_f != NULL && (rc = ord_flush(s, false, eb)) != WR_OK)
        return rc;
    /* the sorted run stays in memory if the pool keeps `reserve` free
     * with it there and, when files are merged with it, their read
     * buffers (a quarter of the budget) */
    uint64_t need = reserve;
    if (s->nruns > 0 || s->ord_f != NULL)
        need += p->budget / 4;
    if (s->nrecs > 0 && (p->held > p->budget || p->budget - p->held < need) &&
        (rc = sort_spill(s, eb)) != WR_OK)
        return rc;
    return sort_reduce_runs(s, sort_fanin(p), eb);
}

/* --- iteration ------------------------------------------------------------- */

struct wri_sort_iter {
    wri_sort *s;
    sort_merge m;
    wri_sort_counts counts;
};

int wri_sort_iter_open(wri_sort *s, wri_sort_iter **out, wr_errbuf *eb)
{
    int rc;
    wri_sort_iter *it;
    if (!s->finished)
        return WR_ERR(eb, WR_EINVAL, "sort: iterate before finish");
    /* the pool may have spilled the last run since finish */
    size_t f = sort_fanin(s->pool);
    size_t other = (s->nrecs > 0) + (s->ord_f != NULL || s->ord_head != NULL);
    if (s->busy == 0 && s->nruns + other > f &&
        (rc = sort_reduce_runs(s, f > other ? f - other : 1, eb)) != WR_OK)
        return rc;
    if ((it = calloc(1, sizeof *it)) == NULL)
        return WR_ERR(eb, WR_ENOMEM, "out of memory");
    it->s = s;
    if ((rc = merge_open(s, 0, s->nruns, s->nrecs > 0, true, &it->counts,
                         &it->m, eb)) != WR_OK) {
        free(it);
        return rc;
    }
    s->busy++;
    *out = it;
    return WR_OK;
}

int wri_sort_iter_next(wri_sort_iter *it, wri_sort_rec *rec, wr_errbuf *eb)
{
    int rc;
    const uint8_t *r;
    bool fdel;
    for (;;) {
        if ((rc = merge_next(&it->m, &r, &fdel, eb)) != WR_OK)
            return rc;
        if (it->s->mode == WRI_SORT_LAST_WINS) {
            count_op(&it->counts, false, fdel); /* the key's first op */
            if (rec_flags(r) & WRI_SREC_DEL)
                continue;
        }
        rec_fill(r, rec);
        return WR_OK;
    }
}

void wri_sort_iter_counts(const wri_sort_iter *it, wri_sort_counts *out)
{
    const wri_sort_counts *a = &it->s->perm, *b = &it->counts;
    out->inserted = a->inserted + b->inserted;
    out->replaced = a->replaced + b->replaced;
    out->deleted = a->deleted + b->deleted;
    out->missing = a->missing + b->missing;
}

void wri_sort_iter_close(wri_sort_iter *it)
{
    if (it == NULL)
        return;
    merge_free(&it->m);
    it->s->busy--;
    free(it);
}
