/*
 * peer.h -- what the peer loaders (peer_wt.c, peer_lmdb.c, peer_sqlite.c)
 * share: reading the benchmark's JSONL with libbson, exactly as the parse
 * limit does, and putting the records in key order with the last version
 * of each _id winning and deletes applied (what wr-migrate does with a
 * legacy log). Header-only, so that each bench .c file stays one binary.
 *
 * Keys are the _id's value bytes: 12 raw bytes for an ObjectId, whose
 * memcmp order is the BSON order. Other _id types (not produced by
 * bench/gen) get their type byte and raw value bytes: a stable order, not
 * MongoDB's.
 *
 * The peers' libraries are opened with dlopen() at run time: the
 * Makefile links every bench binary against libwr and libbson only, and
 * `make bench` must build without the peers installed. A binary whose
 * header was missing at build time, or whose library is missing at run
 * time, says "peer not installed" and exits PEER_EXIT_ABSENT.
 */
#ifndef BENCH_PEER_H
#define BENCH_PEER_H

#include <bson/bson.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PEER_EXIT_ABSENT 77

typedef struct peer_rec {
    uint64_t off;  /* key bytes at arena + off, value right after */
    uint32_t klen; /* key length */
    uint32_t vlen; /* BSON length; 0 for a delete */
    uint32_t seq;  /* line order */
} peer_rec;

typedef struct peer_input {
    uint8_t *arena;
    uint64_t used, cap;
    peer_rec *rec;
    size_t n, cap_rec;
    uint64_t lines, deletes, bad;
    double t_parse, t_sort;
} peer_input;

static inline double peer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void peer_oom(void)
{
    fprintf(stderr, "peer: out of memory\n");
    exit(3);
}

static inline uint8_t *peer_reserve(peer_input *in, uint64_t need)
{
    if (in->used + need > in->cap) {
        uint64_t cap = in->cap ? in->cap : (64u << 20);
        while (cap < in->used + need)
            cap *= 2;
        uint8_t *a = realloc(in->arena, cap);
        if (a == NULL)
            peer_oom();
        in->arena = a;
        in->cap = cap;
    }
    return in->arena + in->used;
}

/* Parse one line into a record; false if libbson rejects it or it has
 * no _id. */
static inline bool peer_add_line(peer_input *in, const char *line,
                                 size_t len)
{
    bson_t doc;
    bson_error_t err;
    bson_iter_t it;
    const uint8_t *kp;
    uint8_t kbuf[64];
    uint32_t klen;
    bool del;
    if (!bson_init_from_json(&doc, line, (ssize_t)len, &err))
        return false;
    if (!bson_iter_init_find(&it, &doc, "_id")) {
        bson_destroy(&doc);
        return false;
    }
    if (BSON_ITER_HOLDS_OID(&it)) {
        kp = bson_iter_oid(&it)->bytes;
        klen = 12;
    } else {
        /* type byte + raw value bytes, truncated to the buffer */
        bson_iter_t nx = it;
        uint32_t start = bson_iter_offset(&it) + 1 + bson_iter_key_len(&it) + 1;
        uint32_t stop = bson_iter_next(&nx) ? bson_iter_offset(&nx)
                                            : doc.len - 1;
        uint32_t vlen = stop > start ? stop - start : 0;
        if (vlen > sizeof kbuf - 1)
            vlen = sizeof kbuf - 1;
        kbuf[0] = (uint8_t)bson_iter_type(&it);
        memcpy(kbuf + 1, bson_get_data(&doc) + start, vlen);
        kp = kbuf;
        klen = vlen + 1;
    }
    del = bson_iter_init_find(&it, &doc, "$deleted");
    if (in->n == in->cap_rec) {
        size_t cap = in->cap_rec ? in->cap_rec * 2 : 65536;
        peer_rec *r = realloc(in->rec, cap * sizeof *r);
        if (r == NULL)
            peer_oom();
        in->rec = r;
        in->cap_rec = cap;
    }
    uint8_t *dst = peer_reserve(in, (uint64_t)klen + (del ? 0 : doc.len));
    memcpy(dst, kp, klen);
    if (!del)
        memcpy(dst + klen, bson_get_data(&doc), doc.len);
    peer_rec *r = &in->rec[in->n];
    r->off = in->used;
    r->klen = klen;
    r->vlen = del ? 0 : doc.len;
    r->seq = (uint32_t)in->n;
    in->n++;
    in->used += klen + r->vlen;
    in->deletes += del;
    bson_destroy(&doc);
    return true;
}

/* Read every line of a JSONL file. A line libbson rejects is counted and
 * skipped. Returns 0, or 3 if the file cannot be read. */
static inline int peer_read(const char *path, peer_input *in)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    double t0 = peer_now();
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "peer: %s: %s\n", path, strerror(errno));
        return 3;
    }
    if (st.st_size > 0) {
        const char *base = mmap(NULL, (size_t)st.st_size, PROT_READ,
                                MAP_PRIVATE, fd, 0);
        if (base == MAP_FAILED) {
            fprintf(stderr, "peer: %s: mmap: %s\n", path, strerror(errno));
            close(fd);
            return 3;
        }
        peer_reserve(in, (uint64_t)st.st_size);
        const char *p = base, *end = base + st.st_size;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *e = nl ? nl : end;
            size_t len = (size_t)(e - p);
            if (len > 0 && p[len - 1] == '\r')
                len--;
            if (len > 0) {
                in->lines++;
                if (!peer_add_line(in, p, len))
                    in->bad++;
            }
            p = e + 1;
        }
        munmap((void *)base, (size_t)st.st_size);
    }
    close(fd);
    in->t_parse = peer_now() - t0;
    return 0;
}

static const uint8_t *peer_sort_arena;

static inline int peer_cmp(const void *a, const void *b)
{
    const peer_rec *x = a, *y = b;
    uint32_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(peer_sort_arena + x->off, peer_sort_arena + y->off, n);
    if (c == 0)
        c = x->klen < y->klen ? -1 : x->klen > y->klen;
    if (c == 0)
        c = x->seq < y->seq ? -1 : x->seq > y->seq;
    return c;
}

/* Key order, last version of each key wins, deletes dropped. */
static inline void peer_sort_last_wins(peer_input *in)
{
    double t0 = peer_now();
    size_t w = 0;
    peer_sort_arena = in->arena;
    qsort(in->rec, in->n, sizeof *in->rec, peer_cmp);
    for (size_t i = 0; i < in->n; i++) {
        const peer_rec *r = &in->rec[i];
        if (i + 1 < in->n && r->klen == in->rec[i + 1].klen &&
            memcmp(in->arena + r->off, in->arena + in->rec[i + 1].off,
                   r->klen) == 0)
            continue; /* a later version follows */
        if (r->vlen == 0)
            continue; /* deleted */
        in->rec[w++] = *r;
    }
    in->n = w;
    in->t_sort = peer_now() - t0;
}

static inline const uint8_t *peer_key(const peer_input *in, size_t i)
{
    return in->arena + in->rec[i].off;
}

static inline const uint8_t *peer_val(const peer_input *in, size_t i)
{
    return in->arena + in->rec[i].off + in->rec[i].klen;
}

static inline void peer_free(peer_input *in)
{
    free(in->arena);
    free(in->rec);
}

/* One line on stderr saying where a loader's time went. */
static inline void peer_report(const char *peer, const char *mode,
                               const peer_input *in, double t_store)
{
    fprintf(stderr,
            "%s %s: %llu lines (%llu deletes, %llu rejected) -> %zu "
            "records; parse %.3fs, sort %.3fs, store %.3fs\n",
            peer, mode, (unsigned long long)in->lines,
            (unsigned long long)in->deletes, (unsigned long long)in->bad,
            in->n, in->t_parse, in->t_sort, t_store);
}

static inline int peer_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s load DIR FILE    bulk-load FILE (sorted, last "
            "version wins)\n"
            "       %s apply DIR FILE   apply FILE's lines in order "
            "(upsert/delete)\n"
            "       %s --check          exit 0 if the peer is usable\n",
            prog, prog, prog);
    return 2;
}

#endif /* BENCH_PEER_H */
