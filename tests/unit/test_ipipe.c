/*
 * test_ipipe.c -- items handed to a function on a thread of its own
 * (lib/ipipe.c): every item arrives, whole and in order, on one thread or
 * two, values larger than a batch included; the consumer's first error
 * (code and message) comes back from the next add or from finish, and fn
 * is not called after it; freeing with items still queued neither hangs
 * nor leaks; a byte pipe hands the stream on in full batches, in order,
 * its pieces of any size, and its consumer's error comes back too;
 * threads 0 asks the cores this process may run on (taskset),
 * not those online (lib/cores.c: wri_cores, wri_threads); the batches'
 * growing arrays double from 64 and keep their slack zero (lib/grow.c).
 */
#include "tap.h"

#include "ipipe.h"
#include "cores.h"
#include "grow.h"
#include "wr_int.h"

#include <sched.h>

/* What the consumer saw: a running CRC over every key and value in the
 * order they came, and how many; fails with WR_EIO at item fail_at. */
typedef struct seen {
    uint32_t crc;
    uint64_t n;
    uint64_t fail_at; /* 0: never */
} seen;

static int take(void *arg, const uint8_t *key, uint32_t klen,
                const uint8_t *val, uint32_t vlen, wr_errbuf *eb)
{
    seen *s = arg;
    s->n++;
    if (s->fail_at != 0 && s->n == s->fail_at)
        return WR_ERR(eb, WR_EIO, "item %llu refused",
                      (unsigned long long)s->n);
    uint8_t len[8];
    wri_put32(len, klen);
    wri_put32(len + 4, vlen);
    s->crc = wri_crc32(s->crc, len, sizeof len);
    s->crc = wri_crc32(s->crc, key, klen);
    s->crc = wri_crc32(s->crc, val, vlen);
    return WR_OK;
}

#define BIG (3u * WRI_IPIPE_BATCH + 17) /* larger than any batch */

/* Item i: a key of 1..40 bytes and a value of 0..3000 bytes (every 500th
 * one BIG), bytes made from i. */
static void item(uint8_t *buf, uint32_t i, uint32_t *klen, uint32_t *vlen)
{
    *klen = 1 + i % 40;
    *vlen = i % 500 == 499 ? BIG : (i * 7919u) % 3001;
    for (uint32_t k = 0; k < *klen + *vlen; k++)
        buf[k] = (uint8_t)(i * 31 + k);
}

/* Feed n items through a pipe of `threads`; what the consumer saw, and
 * the first error of add or finish (rc, message). */
static int feed(unsigned threads, uint32_t n, seen *s, bool *threaded,
                wr_errbuf *eb)
{
    wri_ipipe *p = NULL;
    uint8_t *buf = malloc(40 + BIG);
    int rc = buf == NULL ? WR_ENOMEM
                         : wri_ipipe_new(take, s, threads, &p, eb);
    for (uint32_t i = 0; rc == WR_OK && i < n; i++) {
        uint32_t kl, vl;
        item(buf, i, &kl, &vl);
        rc = wri_ipipe_add(p, buf, kl, buf + kl, vl, eb);
    }
    if (rc == WR_OK)
        rc = wri_ipipe_finish(p, eb);
    *threaded = wri_ipipe_threaded(p);
    wri_ipipe_free(p);
    free(buf);
    return rc;
}

static void test_ipipe_every_item_in_order_on_one_thread_or_two(void)
{
    wr_errbuf eb = {0};
    seen one = {0}, two = {0};
    bool t1, t2;
    REQUIRE_OK(feed(1, 5000, &one, &t1, &eb), &eb);
    REQUIRE_OK(feed(2, 5000, &two, &t2, &eb), &eb);
    CHECK(!t1);
    CHECK(t2); /* a thread of its own, asked for explicitly */
    CHECK_EQ(one.n, 5000);
    CHECK_EQ(two.n, 5000);
    CHECK_EQ(one.crc, two.crc);
    CHECK(one.crc != 0);
    /* nothing at all: finish with an empty ring */
    seen none = {0};
    REQUIRE_OK(feed(2, 0, &none, &t2, &eb), &eb);
    CHECK_EQ(none.n, 0);
}

static void test_ipipe_consumer_error_comes_back_and_stops_it(void)
{
    for (unsigned threads = 1; threads <= 2; threads++) {
        wr_errbuf eb = {0};
        seen s = {.fail_at = 1234};
        bool t;
        int rc = feed(threads, 5000, &s, &t, &eb);
        CHECK_EQ(rc, WR_EIO);
        CHECK(strstr(eb.msg, "item 1234 refused") != NULL);
        CHECK_EQ(s.n, 1234); /* not called again after its error */
    }
    /* an error in the very last batch comes back from finish */
    wr_errbuf eb = {0};
    seen s = {.fail_at = 5000};
    bool t;
    CHECK_EQ(feed(2, 5000, &s, &t, &eb), WR_EIO);
    CHECK(strstr(eb.msg, "item 5000 refused") != NULL);
}

static void test_ipipe_free_with_items_queued(void)
{
    wr_errbuf eb = {0};
    wri_ipipe *p = NULL;
    seen s = {0};
    uint8_t buf[64] = {1, 2, 3};
    REQUIRE_OK(wri_ipipe_new(take, &s, 2, &p, &eb), &eb);
    for (int i = 0; i < 100000; i++)
        REQUIRE_OK(wri_ipipe_add(p, buf, 8, buf + 8, 56, &eb), &eb);
    wri_ipipe_free(p); /* no finish: what is queued is dropped */
    CHECK(s.n <= 100000);
    wri_ipipe_free(NULL);
}

/* What a byte pipe's consumer saw: a running CRC of the stream, its
 * length, the calls and their sizes; fails with WR_EIO at call fail_at. */
typedef struct seenb {
    uint32_t crc;
    uint64_t len, calls, fail_at;
    uint64_t short_calls; /* calls of fewer than WRI_IPIPE_BATCH bytes */
    uint64_t empty;       /* calls of no bytes (none should be) */
    size_t most;          /* the largest call */
} seenb;

static int take_bytes(void *arg, const uint8_t *p, size_t n, wr_errbuf *eb)
{
    seenb *s = arg;
    s->calls++;
    if (s->fail_at != 0 && s->calls == s->fail_at)
        return WR_ERR(eb, WR_EIO, "batch %llu refused",
                      (unsigned long long)s->calls);
    s->empty += n == 0;
    s->crc = wri_crc32(s->crc, p, n);
    s->len += n;
    s->short_calls += n < WRI_IPIPE_BATCH;
    s->most = WRI_MAX(s->most, n);
    return WR_OK;
}

/* Piece i of a stream into buf, its length: 0..3000 bytes, every 300th
 * one BIG, every 7th empty, made from i. */
static size_t piece(uint8_t *buf, uint32_t i)
{
    size_t n = i % 7 == 0 ? 0 : i % 300 == 299 ? BIG : (i * 7919u) % 3001;
    for (size_t k = 0; k < n; k++)
        buf[k] = (uint8_t)(i * 31 + k);
    return n;
}

/* n pieces onto a byte pipe of `threads`, as feed() does items; the
 * stream's CRC and length into *crc, *len. */
static int feed_bytes(unsigned threads, uint32_t n, seenb *s, uint32_t *crc,
                      uint64_t *len, bool *threaded, wr_errbuf *eb)
{
    wri_ipipe *p = NULL;
    uint8_t *buf = malloc(BIG);
    int rc = buf == NULL ? WR_ENOMEM
                         : wri_ipipe_new_bytes(take_bytes, s, threads, &p,
                                               eb);
    *crc = 0;
    *len = 0;
    for (uint32_t i = 0; rc == WR_OK && i < n; i++) {
        size_t k = piece(buf, i);
        *crc = wri_crc32(*crc, buf, k);
        *len += k;
        rc = wri_ipipe_put(p, buf, k, eb);
    }
    if (rc == WR_OK)
        rc = wri_ipipe_finish(p, eb);
    *threaded = wri_ipipe_threaded(p);
    wri_ipipe_free(p);
    free(buf);
    return rc;
}

static void test_ipipe_bytes_whole_stream_in_full_batches(void)
{
    for (unsigned threads = 1; threads <= 2; threads++) {
        wr_errbuf eb = {0};
        seenb s = {0};
        uint32_t crc;
        uint64_t len;
        bool t;
        REQUIRE_OK(feed_bytes(threads, 3000, &s, &crc, &len, &t, &eb), &eb);
        CHECK_EQ(t, threads == 2);
        CHECK_EQ(s.len, len);
        CHECK_EQ(s.crc, crc);
        CHECK_EQ(s.empty, 0);
        CHECK(len > 10 * (uint64_t)BIG);
        if (threads == 2) { /* batches, full but the last, none larger */
            CHECK_EQ(s.calls, (len + WRI_IPIPE_BATCH - 1) / WRI_IPIPE_BATCH);
            CHECK_EQ(s.short_calls, len % WRI_IPIPE_BATCH != 0);
            CHECK_EQ(s.most, WRI_IPIPE_BATCH);
        } else { /* the pieces as put, the empty ones not at all */
            CHECK_EQ(s.calls, 3000 - 3000 / 7 - (3000 % 7 != 0));
            CHECK_EQ(s.most, BIG);
        }
    }
    /* nothing at all, and then only empty pieces */
    for (uint32_t n = 0; n <= 1; n++) {
        wr_errbuf eb = {0};
        seenb s = {0};
        uint32_t crc;
        uint64_t len;
        bool t;
        REQUIRE_OK(feed_bytes(2, n, &s, &crc, &len, &t, &eb), &eb);
        CHECK_EQ(s.calls, 0);
    }
}

static void test_ipipe_bytes_consumer_error_comes_back(void)
{
    for (unsigned threads = 1; threads <= 2; threads++) {
        wr_errbuf eb = {0};
        seenb s = {.fail_at = 5};
        uint32_t crc;
        uint64_t len;
        bool t;
        CHECK_EQ(feed_bytes(threads, 3000, &s, &crc, &len, &t, &eb), WR_EIO);
        CHECK(strstr(eb.msg, "batch 5 refused") != NULL);
        CHECK_EQ(s.calls, 5); /* not called again after its error */
    }
}

static void test_grow_doubles_and_keeps(void)
{
    uint32_t *a = NULL;
    size_t cap = 0;
    REQUIRE(wri_grow((void **)&a, &cap, 1, sizeof *a, 0));
    CHECK_EQ(cap, 64);
    a[0] = 7;
    REQUIRE(wri_grow((void **)&a, &cap, 65, sizeof *a, 0));
    CHECK_EQ(cap, 128);
    CHECK_EQ(a[0], 7);
    REQUIRE(wri_grow((void **)&a, &cap, 100, sizeof *a, 0)); /* fits */
    CHECK_EQ(cap, 128);
    free(a);
    /* slack: zero bytes after the elements, kept zero as it grows */
    uint8_t *b = NULL;
    size_t bcap = 0;
    REQUIRE(wri_grow((void **)&b, &bcap, 10, 1, 16));
    for (size_t i = 0; i < bcap + 16; i++)
        CHECK_EQ(b[i], 0);
    memset(b, 0xff, bcap);
    REQUIRE(wri_grow((void **)&b, &bcap, 100, 1, 16));
    CHECK_EQ(b[0], 0xff);
    for (size_t i = 64; i < bcap + 16; i++)
        CHECK_EQ(b[i], 0);
    free(b);
}

static bool ipipe_threaded_by_default(void)
{
    seen s = {0};
    wri_ipipe *p = NULL;
    wr_errbuf eb = {0};
    if (wri_ipipe_new(take, &s, 0, &p, &eb) != WR_OK)
        return false;
    bool threaded = wri_ipipe_threaded(p);
    wri_ipipe_free(p);
    return threaded;
}

/* `taskset -c N`: one core allowed, so one thread, however many are
 * online; the whole set back, two where it has two */
static void test_cores_are_the_affinity_not_the_online(void)
{
    cpu_set_t all, one;
    REQUIRE(sched_getaffinity(0, sizeof all, &all) == 0);
    CHECK_EQ(wri_cores(), (long)CPU_COUNT(&all));
    int first = 0;
    while (!CPU_ISSET(first, &all))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
    CHECK_EQ(wri_cores(), 1L);
    CHECK_EQ(wri_threads(0), 1u);
    CHECK_EQ(wri_threads(2), 2u); /* asked for: as asked */
    CHECK(!ipipe_threaded_by_default());
    REQUIRE(sched_setaffinity(0, sizeof all, &all) == 0);
    CHECK_EQ(wri_threads(0), CPU_COUNT(&all) >= 2 ? 2u : 1u);
    CHECK_EQ(wri_threads(1), 1u);
    CHECK_EQ(ipipe_threaded_by_default(), CPU_COUNT(&all) >= 2);
}

int main(void)
{
    RUN(test_ipipe_every_item_in_order_on_one_thread_or_two);
    RUN(test_ipipe_consumer_error_comes_back_and_stops_it);
    RUN(test_ipipe_free_with_items_queued);
    RUN(test_ipipe_bytes_whole_stream_in_full_batches);
    RUN(test_ipipe_bytes_consumer_error_comes_back);
    RUN(test_grow_doubles_and_keeps);
    RUN(test_cores_are_the_affinity_not_the_online);
    return tap_done();
}
