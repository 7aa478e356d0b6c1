/*
 * test_sort.c -- the external sorter: order, spills, merges, last-wins,
 * deletes, counts, shared budgets, no debris.
 */
#include "tap.h"
#include "wr_int.h"
#include "sort.h"

#include <dirent.h>
#include <sys/stat.h>

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* { "": v } as a key document. */
static void key_int(bson_t *k, int64_t v)
{
    bson_init(k);
    if (v >= INT32_MIN && v <= INT32_MAX)
        bson_append_int32(k, "", 0, (int32_t)v);
    else
        bson_append_int64(k, "", 0, v);
}

static int key_value(const uint8_t *key, uint32_t klen, int64_t *out)
{
    bson_t k;
    bson_iter_t it;
    if (!bson_init_static(&k, key, klen) || !bson_iter_init(&it, &k) ||
        !bson_iter_next(&it))
        return -1;
    *out = bson_iter_as_int64(&it);
    return 0;
}

static const char *sub_dir(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tap_tmpdir(), name);
    mkdir(path, 0755);
    return path;
}

static int dir_entries(const char *path)
{
    int n = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static int add_int(wri_sort *s, int64_t k, uint64_t seq, bool del,
                   size_t vlen, wr_errbuf *eb)
{
    bson_t key;
    uint8_t val[4096];
    key_int(&key, k);
    if (vlen > sizeof val)
        vlen = sizeof val;
    for (size_t i = 0; i < vlen; i++)
        val[i] = (uint8_t)(seq + i);
    int rc = wri_sort_add(s, bson_get_data(&key), key.len, val,
                          (uint32_t)vlen, seq, seq * 10, del ? WRI_SREC_DEL : 0,
                          eb);
    bson_destroy(&key);
    return rc;
}

/* PLAIN: everything comes out in key order, nothing lost, nothing left. */
static void check_plain(uint64_t budget, int n, const char *dname)
{
    wr_errbuf eb = {0};
    wri_sort_pool *p = NULL;
    wri_sort *s = NULL;
    wri_sort_iter *it = NULL;
    wri_sort_rec r;
    const char *dir = sub_dir(dname);
    REQUIRE_OK(wri_sort_pool_create(budget, dir, "t.sort", &p, &eb), &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_PLAIN, &s, &eb), &eb);
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        int64_t k = (int64_t)(rng() % 1000000) - 500000;
        sum += k;
        REQUIRE_OK(add_int(s, k, (uint64_t)i + 1, false, 40, &eb), &eb);
    }
    CHECK_EQ(dir_entries(dir), 0); /* run files are unlinked at once */
    REQUIRE_OK(wri_sort_finish(s, 0, &eb), &eb);
    REQUIRE_OK(wri_sort_iter_open(s, &it, &eb), &eb);
    int got = 0, rc;
    int64_t prev = INT64_MIN, gsum = 0;
    uint64_t prevseq = 0;
    while ((rc = wri_sort_iter_next(it, &r, &eb)) == WR_OK) {
        int64_t k;
        REQUIRE(key_value(r.key, r.klen, &k) == 0);
        CHECK(k > prev || (k == prev && r.seq > prevseq));
        CHECK_EQ(r.vlen, 40);
        CHECK_EQ(r.aux, r.seq * 10);
        CHECK_EQ(r.val[0], (uint8_t)r.seq);
        prev = k;
        prevseq = r.seq;
        gsum += k;
        got++;
    }
    CHECK_EQ(rc, 1);
    CHECK_EQ(got, n);
    CHECK_EQ(gsum, sum);
    wri_sort_iter_close(it);
    wri_sort_info info;
    wri_sort_get_info(s, &info);
    printf("# budget %llu, %d records: %llu runs written, %llu merges, "
           "%llu bytes spilled, peak %llu\n",
           (unsigned long long)budget, n,
           (unsigned long long)info.runs_written,
           (unsigned long long)info.merges, (unsigned long long)info.spilled,
           (unsigned long long)wri_sort_pool_peak(p));
    CHECK(wri_sort_pool_peak(p) <= wri_sort_pool_budget(p) + (64u << 10));
    if (budget <= (1u << 20) && n >= 100000) {
        CHECK(info.runs_written > 8);
        CHECK(info.merges > 0);
    }
    wri_sort_destroy(s);
    CHECK_EQ(wri_sort_pool_held(p), 0);
    wri_sort_pool_destroy(p);
    CHECK_EQ(dir_entries(dir), 0);
}

/* Hundreds of runs under the smallest budget: the intermediate merges
 * rewrite each byte a few times, not once per merge. */
static void test_sort_many_runs_rewrite_little(void)
{
    wr_errbuf eb = {0};
    wri_sort_pool *p = NULL;
    wri_sort *s = NULL;
    wri_sort_iter *it = NULL;
    wri_sort_rec r;
    REQUIRE_OK(wri_sort_pool_create(1u << 20, sub_dir("many"), "m", &p, &eb),
               &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_LAST_WINS, &s, &eb), &eb);
    uint64_t bytes = 0;
    int n = 250000;
    for (int i = 0; i < n; i++) {
        REQUIRE_OK(add_int(s, (int64_t)(rng() % 200000), (uint64_t)i + 1,
                           false, 80, &eb), &eb);
        bytes += WRI_SREC_HDR + 7 + 80;
    }
    REQUIRE_OK(wri_sort_finish(s, 0, &eb), &eb);
    REQUIRE_OK(wri_sort_iter_open(s, &it, &eb), &eb);
    int got = 0, rc;
    int64_t prev = -1;
    while ((rc = wri_sort_iter_next(it, &r, &eb)) == WR_OK) {
        int64_t k;
        REQUIRE(key_value(r.key, r.klen, &k) == 0);
        CHECK(k > prev);
        prev = k;
        got++;
    }
    CHECK_EQ(rc, 1);
    wri_sort_counts c;
    wri_sort_iter_counts(it, &c);
    CHECK_EQ(c.inserted, (uint64_t)got);
    CHECK_EQ(c.inserted + c.replaced, (uint64_t)n);
    wri_sort_iter_close(it);
    wri_sort_info info;
    wri_sort_get_info(s, &info);
    printf("# %d records (%llu bytes): %llu runs, %llu merges, %llu bytes "
           "spilled (%.1fx)\n", n, (unsigned long long)bytes,
           (unsigned long long)info.runs_written,
           (unsigned long long)info.merges, (unsigned long long)info.spilled,
           (double)info.spilled / (double)bytes);
    CHECK(info.runs_written > 20);
    CHECK(info.spilled < 6 * bytes);
    wri_sort_destroy(s);
    wri_sort_pool_destroy(p);
}

/* PLAIN with each key twice in a row: the first goes to the ordered run,
 * the second (equal, not above it) is sorted; both come out, in (key,
 * seq) order, in memory and spilled. */
static void check_plain_pairs(uint64_t budget, int n, const char *dname)
{
    wr_errbuf eb = {0};
    wri_sort_pool *p = NULL;
    wri_sort *s = NULL;
    wri_sort_iter *it = NULL;
    wri_sort_rec r;
    REQUIRE_OK(wri_sort_pool_create(budget, sub_dir(dname), "pp", &p, &eb),
               &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_PLAIN, &s, &eb), &eb);
    for (int i = 0; i < n; i++)
        REQUIRE_OK(add_int(s, i / 2, (uint64_t)i + 1, false, 60, &eb), &eb);
    REQUIRE_OK(wri_sort_finish(s, 0, &eb), &eb);
    REQUIRE_OK(wri_sort_iter_open(s, &it, &eb), &eb);
    int got = 0, rc;
    while ((rc = wri_sort_iter_next(it, &r, &eb)) == WR_OK) {
        int64_t k;
        REQUIRE(key_value(r.key, r.klen, &k) == 0);
        if (k != got / 2 || r.seq != (uint64_t)got + 1) {
            TAP_FAIL("record %d: key %lld seq %llu", got, (long long)k,
                     (unsigned long long)r.seq);
            break;
        }
        CHECK_EQ(r.val[0], (uint8_t)r.seq);
        got++;
    }
    CHECK_EQ(rc, 1);
    CHECK_EQ(got, n);
    wri_sort_iter_close(it);
    wri_sort_info info;
    wri_sort_get_info(s, &info);
    CHECK_EQ(info.ordered, (uint64_t)(n + 1) / 2);
    if (budget < (64u << 20))
        CHECK(info.spilled > 0);
    else
        CHECK_EQ(info.runs_written, 0);
    wri_sort_destroy(s);
    wri_sort_pool_destroy(p);
    CHECK_EQ(dir_entries(sub_dir(dname)), 0);
}

static void test_sort_plain_equal_keys_in_order(void)
{
    check_plain_pairs(64u << 20, 20001, "pairs-mem");
    check_plain_pairs(1u << 20, 100001, "pairs-spill");
}

static void test_sort_in_memory_plain(void)
{
    check_plain(64u << 20, 20000, "mem");
}

static void test_sort_spills_and_merges(void)
{
    check_plain(1u << 20, 150000, "spill");
}

/* A model of LAST_WINS: apply the ops in order. */
typedef struct lw_model {
    int nkeys;
    int *last;      /* -1 never, 0 put, 1 delete */
    uint64_t *seq;  /* seq of the last op */
    wri_sort_counts c;
} lw_model;

/* How check_last_wins picks the key of each op. KEYS_LOG is an append
 * log: inserts of new keys in (nearly) increasing order, a tenth of them
 * swapped with their neighbour, between updates and deletes of keys
 * inserted before (and deletes of keys never inserted). */
typedef enum { KEYS_RANDOM, KEYS_LOG } key_order;

typedef struct key_gen {
    key_order order;
    int nkeys;
    int *perm; /* KEYS_LOG: the insert order */
    int next;  /* KEYS_LOG: inserts so far */
} key_gen;

static void key_gen_init(key_gen *g, key_order order, int nkeys)
{
    g->order = order;
    g->nkeys = nkeys;
    g->next = 0;
    g->perm = calloc((size_t)nkeys, sizeof *g->perm);
    for (int i = 0; i < nkeys; i++)
        g->perm[i] = i;
    for (int i = 0; i + 1 < nkeys; i++) {
        if (rng() % 10 == 0) {
            int t = g->perm[i];
            g->perm[i] = g->perm[i + 1];
            g->perm[i + 1] = t;
            i++;
        }
    }
}

static int key_gen_next(key_gen *g, bool *del)
{
    if (g->order == KEYS_RANDOM)
        return (int)(rng() % (uint64_t)g->nkeys);
    if (g->next < g->nkeys && (g->next == 0 || rng() % 100 < 70)) {
        *del = false;
        return g->perm[g->next++];
    }
    if (rng() % 10 == 0) { /* a delete of any key: may find nothing */
        *del = true;
        return (int)(rng() % (uint64_t)g->nkeys);
    }
    return g->perm[rng() % (uint64_t)g->next];
}

static void check_last_wins_keys(uint64_t budget, int nkeys, int nops,
                                 int pdel, size_t vmax, key_order order,
                                 const char *dname)
{
    wr_errbuf eb = {0};
    wri_sort_pool *p = NULL;
    wri_sort *s = NULL;
    wri_sort_iter *it = NULL;
    wri_sort_rec r;
    lw_model m = {nkeys, calloc(nkeys, sizeof(int)),
                  calloc(nkeys, sizeof(uint64_t)), {0}};
    for (int i = 0; i < nkeys; i++)
        m.last[i] = -1;
    REQUIRE_OK(wri_sort_pool_create(budget, sub_dir(dname), "lw", &p, &eb),
               &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_LAST_WINS, &s, &eb), &eb);
    key_gen g;
    key_gen_init(&g, order, nkeys);
    int ord_max = -1;     /* the highest key the ordered run took */
    uint64_t ordered = 0; /* ops it should have taken */
    uint64_t bytes = 0;   /* of the records added */
    for (int i = 0; i < nops; i++) {
        bool del = (int)(rng() % 100) < pdel;
        int k = key_gen_next(&g, &del);
        uint64_t seq = (uint64_t)i * 3 + 7; /* gaps are fine */
        if (k > ord_max && !del) {
            ord_max = k;
            ordered++;
        }
        bool live = m.last[k] == 0;
        if (del)
            live ? m.c.deleted++ : m.c.missing++;
        else
            live ? m.c.replaced++ : m.c.inserted++;
        m.last[k] = del ? 1 : 0;
        m.seq[k] = seq;
        size_t vlen = (size_t)(rng() % (vmax + 1));
        bytes += WRI_SREC_HDR + 11 + vlen;
        REQUIRE_OK(add_int(s, k, seq, del, vlen, &eb), &eb);
    }
    REQUIRE_OK(wri_sort_finish(s, 0, &eb), &eb);
    for (int pass = 0; pass < 2; pass++) { /* iterating twice is the same */
        REQUIRE_OK(wri_sort_iter_open(s, &it, &eb), &eb);
        int rc, expect = 0, got = 0;
        int64_t prev = -1;
        while (expect < nkeys && m.last[expect] != 0)
            expect++;
        while ((rc = wri_sort_iter_next(it, &r, &eb)) == WR_OK) {
            int64_t k;
            REQUIRE(key_value(r.key, r.klen, &k) == 0);
            CHECK(k > prev);
            if (k != expect) {
                TAP_FAIL("pass %d: got key %lld, expected %d", pass,
                         (long long)k, expect);
                break;
            }
            CHECK_EQ(r.seq, m.seq[k]);
            CHECK(!(r.flags & WRI_SREC_DEL));
            prev = k;
            got++;
            expect++;
            while (expect < nkeys && m.last[expect] != 0)
                expect++;
        }
        CHECK_EQ(rc, 1);
        CHECK_EQ(expect, nkeys);
        wri_sort_counts c;
        wri_sort_iter_counts(it, &c);
        CHECK_EQ(c.inserted, m.c.inserted);
        CHECK_EQ(c.replaced, m.c.replaced);
        CHECK_EQ(c.deleted, m.c.deleted);
        CHECK_EQ(c.missing, m.c.missing);
        CHECK_EQ(c.inserted - c.deleted, (uint64_t)got);
        wri_sort_iter_close(it);
    }
    wri_sort_info info;
    wri_sort_get_info(s, &info);
    printf("# %s: %d ops on %d keys, %llu in order, %llu runs, %llu merges, "
           "%llu bytes spilled; inserted %llu replaced %llu deleted %llu "
           "missing %llu\n",
           dname, nops, nkeys, (unsigned long long)info.ordered,
           (unsigned long long)info.runs_written,
           (unsigned long long)info.merges, (unsigned long long)info.spilled,
           (unsigned long long)m.c.inserted, (unsigned long long)m.c.replaced,
           (unsigned long long)m.c.deleted, (unsigned long long)m.c.missing);
    CHECK_EQ(info.ordered, ordered);
    CHECK_EQ(info.added, (uint64_t)nops);
    if (order == KEYS_LOG) /* most inserts came in order */
        CHECK(info.ordered > (uint64_t)nkeys * 7 / 10);
    if (budget >= (64u << 20))
        CHECK_EQ(info.runs_written, 0);
    if (bytes > 2 * budget)
        CHECK(info.spilled > 0);
    CHECK(wri_sort_pool_peak(p) <= wri_sort_pool_budget(p) + (64u << 10));
    wri_sort_destroy(s);
    CHECK_EQ(wri_sort_pool_held(p), 0);
    wri_sort_pool_destroy(p);
    CHECK_EQ(dir_entries(sub_dir(dname)), 0);
    free(g.perm);
    free(m.last);
    free(m.seq);
}

static void check_last_wins(uint64_t budget, int nkeys, int nops, int pdel,
                            size_t vmax, const char *dname)
{
    check_last_wins_keys(budget, nkeys, nops, pdel, vmax, KEYS_RANDOM, dname);
}

static void test_sort_last_wins_in_memory(void)
{
    check_last_wins(64u << 20, 500, 5000, 20, 64, "lw-mem");
}

static void test_sort_last_wins_across_runs(void)
{
    /* tiny budget: many runs, intermediate merges, keys spread over all */
    check_last_wins(1u << 20, 3000, 120000, 25, 200, "lw-spill");
}

/* An append log: most inserts go to the ordered run (never sorted), the
 * updates and deletes to the sorted runs; the merge of the two gives
 * what applying the ops in order gives, counts included: in memory, and
 * with both the ordered run and the sorted runs in files. */
static void test_sort_last_wins_ordered_log(void)
{
    check_last_wins_keys(64u << 20, 3000, 5000, 30, 64, KEYS_LOG, "lw-ord");
    check_last_wins_keys(1u << 20, 30000, 60000, 30, 200, KEYS_LOG,
                         "lw-ord-spill");
}

static void test_sort_deletes_only(void)
{
    check_last_wins(1u << 20, 100, 2000, 100, 0, "lw-del");
}

static void test_sort_deletes_remove_and_reinsert(void)
{
    wr_errbuf eb = {0};
    wri_sort_pool *p = NULL;
    wri_sort *s = NULL;
    wri_sort_iter *it = NULL;
    wri_sort_rec r;
    REQUIRE_OK(wri_sort_pool_create(1u << 20, sub_dir("del"), "d", &p, &eb),
               &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_LAST_WINS, &s, &eb), &eb);
    /* 1: put, del  -> gone;  2: put, del, put -> back;  3: del -> missing */
    REQUIRE_OK(add_int(s, 1, 1, false, 8, &eb), &eb);
    REQUIRE_OK(add_int(s, 2, 2, false, 8, &eb), &eb);
    REQUIRE_OK(add_int(s, 1, 3, true, 0, &eb), &eb);
    REQUIRE_OK(add_int(s, 2, 4, true, 0, &eb), &eb);
    REQUIRE_OK(add_int(s, 3, 5, true, 0, &eb), &eb);
    REQUIRE_OK(add_int(s, 2, 6, false, 8, &eb), &eb);
    REQUIRE_OK(wri_sort_finish(s, 0, &eb), &eb);
    REQUIRE_OK(wri_sort_iter_open(s, &it, &eb), &eb);
    int64_t k;
    REQUIRE_OK(wri_sort_iter_next(it, &r, &eb), &eb);
    REQUIRE(key_value(r.key, r.klen, &k) == 0);
    CHECK_EQ(k, 2);
    CHECK_EQ(r.seq, 6);
    CHECK_EQ(wri_sort_iter_next(it, &r, &eb), 1);
    wri_sort_counts c;
    wri_sort_iter_counts(it, &c);
    CHECK_EQ(c.inserted, 3);
    CHECK_EQ(c.deleted, 2);
    CHECK_EQ(c.missing, 1);
    CHECK_EQ(c.replaced, 0);
    wri_sort_iter_close(it);
    wri_sort_destroy(s);
    wri_sort_pool_destroy(p);
}

/* 1, 1.0 and NumberLong(1) are one _id in MongoDB order: the last wins. */
static void test_sort_numeric_types_are_one_key(void)
{
    wr_errbuf eb = {0};
    wri_sort_pool *p = NULL;
    wri_sort *s = NULL;
    wri_sort_iter *it = NULL;
    wri_sort_rec r;
    bson_t k1, k2, k3;
    bson_init(&k1);
    bson_append_int32(&k1, "", 0, 1);
    bson_init(&k2);
    bson_append_double(&k2, "", 0, 1.0);
    bson_init(&k3);
    bson_append_int64(&k3, "", 0, 1);
    REQUIRE_OK(wri_sort_pool_create(1u << 20, sub_dir("num"), "n", &p, &eb),
               &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_LAST_WINS, &s, &eb), &eb);
    REQUIRE_OK(wri_sort_add(s, bson_get_data(&k1), k1.len, NULL, 0, 1, 0, 0,
                            &eb), &eb);
    REQUIRE_OK(wri_sort_add(s, bson_get_data(&k3), k3.len, NULL, 0, 2, 0, 0,
                            &eb), &eb);
    REQUIRE_OK(wri_sort_add(s, bson_get_data(&k2), k2.len, NULL, 0, 3, 0, 0,
                            &eb), &eb);
    REQUIRE_OK(wri_sort_finish(s, 0, &eb), &eb);
    REQUIRE_OK(wri_sort_iter_open(s, &it, &eb), &eb);
    REQUIRE_OK(wri_sort_iter_next(it, &r, &eb), &eb);
    CHECK_EQ(r.seq, 3);
    CHECK(r.klen == k2.len && memcmp(r.key, bson_get_data(&k2), k2.len) == 0);
    CHECK_EQ(wri_sort_iter_next(it, &r, &eb), 1);
    wri_sort_iter_close(it);
    wri_sort_destroy(s);
    wri_sort_pool_destroy(p);
    bson_destroy(&k1);
    bson_destroy(&k2);
    bson_destroy(&k3);
}

/* A record larger than the whole budget still goes through a spill and a
 * merge intact. */
static void test_sort_record_larger_than_budget(void)
{
    wr_errbuf eb = {0};
    wri_sort_pool *p = NULL;
    wri_sort *s = NULL;
    wri_sort_iter *it = NULL;
    wri_sort_rec r;
    uint32_t big = 3u << 20;
    uint8_t *val = malloc(big);
    REQUIRE(val != NULL);
    for (uint32_t i = 0; i < big; i++)
        val[i] = (uint8_t)(i * 7);
    REQUIRE_OK(wri_sort_pool_create(1u << 20, sub_dir("big"), "b", &p, &eb),
               &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_LAST_WINS, &s, &eb), &eb);
    uint64_t seq = 1;
    for (int i = 0; i < 3000; i++)
        REQUIRE_OK(add_int(s, i, seq++, false, 100, &eb), &eb);
    bson_t k;
    key_int(&k, 1500);
    REQUIRE_OK(wri_sort_add(s, bson_get_data(&k), k.len, val, big, seq++, 0,
                            0, &eb), &eb);
    for (int i = 3000; i < 6000; i++)
        REQUIRE_OK(add_int(s, i, seq++, false, 100, &eb), &eb);
    REQUIRE_OK(wri_sort_finish(s, 0, &eb), &eb);
    REQUIRE_OK(wri_sort_iter_open(s, &it, &eb), &eb);
    int n = 0, rc;
    bool seen = false;
    while ((rc = wri_sort_iter_next(it, &r, &eb)) == WR_OK) {
        n++;
        if (r.vlen == big) {
            seen = true;
            CHECK(memcmp(r.val, val, big) == 0);
            CHECK(r.klen == k.len && memcmp(r.key, bson_get_data(&k), k.len) == 0);
        }
    }
    CHECK_EQ(rc, 1);
    CHECK_EQ(n, 6000);
    CHECK(seen);
    wri_sort_iter_close(it);
    wri_sort_destroy(s);
    wri_sort_pool_destroy(p);
    bson_destroy(&k);
    free(val);
}

static void test_sort_seq_must_grow(void)
{
    wr_errbuf eb = {0};
    wri_sort_pool *p = NULL;
    wri_sort *s = NULL;
    REQUIRE_OK(wri_sort_pool_create(1u << 20, sub_dir("seq"), "s", &p, &eb),
               &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_LAST_WINS, &s, &eb), &eb);
    REQUIRE_OK(add_int(s, 1, 5, false, 1, &eb), &eb);
    CHECK_EQ(add_int(s, 2, 5, false, 1, &eb), WR_EINVAL);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_sort_finish(s, 0, &eb), &eb);
    CHECK_EQ(add_int(s, 2, 9, false, 1, &eb), WR_EINVAL);
    wri_sort_destroy(s);
    wri_sort_pool_destroy(p);
}

/* Two sorters share one budget: a finished sorter holding its records in
 * memory has them written out when the other needs room (one run either
 * way), and both still iterate. Its records come in reverse key order (a
 * sorted run, spilled) or in order (its ordered run, appended to its file
 * unsorted). */
static void check_pool_shared(bool a_in_order, const char *dname)
{
    wr_errbuf eb = {0};
    wri_sort_pool *p = NULL;
    wri_sort *a = NULL, *b = NULL;
    wri_sort_iter *it = NULL;
    wri_sort_rec r;
    wri_sort_info ia, ib;
    REQUIRE_OK(wri_sort_pool_create(2u << 20, sub_dir(dname), "p", &p, &eb),
               &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_LAST_WINS, &a, &eb), &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_PLAIN, &b, &eb), &eb);
    for (int i = 0; i < 8000; i++)
        REQUIRE_OK(add_int(a, a_in_order ? i + 1 : 8000 - i, (uint64_t)i + 1,
                           false, 100, &eb), &eb);
    REQUIRE_OK(wri_sort_finish(a, 0, &eb), &eb);
    wri_sort_get_info(a, &ia);
    CHECK_EQ(ia.in_memory, !a_in_order); /* the sorted run */
    CHECK_EQ(ia.ordered, a_in_order ? 8000 : 1);
    CHECK_EQ(ia.runs_written, 0);
    for (int i = 0; i < 30000; i++)
        REQUIRE_OK(add_int(b, i % 977, (uint64_t)i + 1, false, 60, &eb), &eb);
    wri_sort_get_info(a, &ia);
    CHECK_EQ(ia.runs_written, 1); /* a was the largest: written out once */
    CHECK(!ia.in_memory);
    if (a_in_order) /* appended as it was: 11 bytes of key, 100 of value */
        CHECK_EQ(ia.spilled, 8000u * (WRI_SREC_HDR + 11 + 100));
    REQUIRE_OK(wri_sort_finish(b, 0, &eb), &eb);
    wri_sort_get_info(b, &ib);
    CHECK(ib.runs_written > 0);
    CHECK(wri_sort_pool_peak(p) <= (2u << 20) + (128u << 10));
    int n = 0, rc;
    REQUIRE_OK(wri_sort_iter_open(a, &it, &eb), &eb);
    while ((rc = wri_sort_iter_next(it, &r, &eb)) == WR_OK) {
        int64_t k;
        REQUIRE(key_value(r.key, r.klen, &k) == 0);
        if (k != n + 1)
            break;
        n++;
    }
    CHECK_EQ(rc, 1);
    CHECK_EQ(n, 8000);
    wri_sort_iter_close(it);
    n = 0;
    REQUIRE_OK(wri_sort_iter_open(b, &it, &eb), &eb);
    while ((rc = wri_sort_iter_next(it, &r, &eb)) == WR_OK)
        n++;
    CHECK_EQ(rc, 1);
    CHECK_EQ(n, 30000);
    wri_sort_iter_close(it);
    wri_sort_destroy(a);
    wri_sort_destroy(b);
    wri_sort_pool_destroy(p);
    CHECK_EQ(dir_entries(sub_dir(dname)), 0);
}

static void test_sort_pool_shared_budget(void)
{
    check_pool_shared(false, "pool");
    check_pool_shared(true, "pool-ord");
}

/* A full disk while spilling comes back as WR_ENOSPC. */
static void test_sort_spill_enospc(void)
{
    wr_errbuf eb = {0};
    wri_sort_pool *p = NULL;
    wri_sort *s = NULL;
    int rc = WR_OK;
    REQUIRE_OK(wri_sort_pool_create(1u << 20, sub_dir("nospc"), "x", &p, &eb),
               &eb);
    REQUIRE_OK(wri_sort_create(p, WRI_SORT_PLAIN, &s, &eb), &eb);
    wri_fault_plan plan = {.kind = WRI_FAULT_FAIL, .at = 3, .err = WR_ENOSPC,
                           .sticky = true};
    wri_io_fault_set(&plan);
    for (int i = 0; i < 100000 && rc == WR_OK; i++)
        rc = add_int(s, i, (uint64_t)i + 1, false, 50, &eb);
    if (rc == WR_OK)
        rc = wri_sort_finish(s, 0, &eb);
    wri_io_fault_set(NULL);
    CHECK_EQ(rc, WR_ENOSPC);
    CHECK(strstr(eb.msg, "ENOSPC") != NULL);
    wri_sort_destroy(s);
    wri_sort_pool_destroy(p);
}

int main(void)
{
    RUN(test_sort_in_memory_plain);
    RUN(test_sort_spills_and_merges);
    RUN(test_sort_many_runs_rewrite_little);
    RUN(test_sort_last_wins_in_memory);
    RUN(test_sort_last_wins_across_runs);
    RUN(test_sort_last_wins_ordered_log);
    RUN(test_sort_plain_equal_keys_in_order);
    RUN(test_sort_deletes_only);
    RUN(test_sort_deletes_remove_and_reinsert);
    RUN(test_sort_numeric_types_are_one_key);
    RUN(test_sort_record_larger_than_budget);
    RUN(test_sort_seq_must_grow);
    RUN(test_sort_pool_shared_budget);
    RUN(test_sort_spill_enospc);
    return tap_done();
}
