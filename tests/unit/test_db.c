/*
 * test_db.c -- collections, secondary indexes and database checkpoints
 * through the catalog, against an in-memory model; and the wr_load crash,
 * ENOSPC and power-loss sweeps.
 */
#include "tap.h"

#include "wr_int.h"
#include "helper_dirsnap.h"
#include "helper_fill.h"
#include "helper_power.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- the model: _id key -> document, sorted by key -------------------- */

typedef struct mdoc {
    bson_t *key;
    bson_t *doc;
} mdoc;

typedef struct model {
    mdoc *d;
    size_t n, cap;
} model;

static size_t model_find(const model *m, const bson_t *key, int *found)
{
    size_t lo = 0, hi = m->n;
    *found = 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = wri_key_cmp(bson_get_data(m->d[mid].key), m->d[mid].key->len,
                            bson_get_data(key), key->len);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void model_put(model *m, const bson_t *doc)
{
    bson_t key;
    wr_errbuf eb = {0};
    int found;
    if (wri_key_from_doc(doc, &key, &eb) != WR_OK)
        abort();
    size_t i = model_find(m, &key, &found);
    if (found) {
        bson_destroy(m->d[i].doc);
        m->d[i].doc = bson_copy(doc);
        bson_destroy(&key);
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->d = realloc(m->d, m->cap * sizeof *m->d);
    }
    memmove(&m->d[i + 1], &m->d[i], (m->n - i) * sizeof *m->d);
    m->d[i].key = bson_copy(&key);
    m->d[i].doc = bson_copy(doc);
    m->n++;
    bson_destroy(&key);
}

static int model_del(model *m, const bson_t *id_doc)
{
    bson_t key;
    wr_errbuf eb = {0};
    int found;
    if (wri_key_from_doc(id_doc, &key, &eb) != WR_OK)
        abort();
    size_t i = model_find(m, &key, &found);
    bson_destroy(&key);
    if (!found)
        return 0;
    bson_destroy(m->d[i].key);
    bson_destroy(m->d[i].doc);
    memmove(&m->d[i], &m->d[i + 1], (m->n - i - 1) * sizeof *m->d);
    m->n--;
    return 1;
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        bson_destroy(m->d[i].key);
        bson_destroy(m->d[i].doc);
    }
    free(m->d);
    memset(m, 0, sizeof *m);
}

static void model_copy(model *dst, const model *src)
{
    model_free(dst);
    for (size_t i = 0; i < src->n; i++)
        model_put(dst, src->d[i].doc);
}

/* --- expected index contents ------------------------------------------- */

typedef struct keyset {
    bson_t **k;
    size_t n, cap;
} keyset;

static int keyset_add(const bson_t *key, void *arg)
{
    keyset *ks = arg;
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 64;
        ks->k = realloc(ks->k, ks->cap * sizeof *ks->k);
    }
    ks->k[ks->n++] = bson_copy(key);
    return 0;
}

static int keyset_cmp(const void *a, const void *b)
{
    const bson_t *x = *(bson_t *const *)a, *y = *(bson_t *const *)b;
    return wri_key_cmp(bson_get_data(x), x->len, bson_get_data(y), y->len);
}

static void keyset_free(keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        bson_destroy(ks->k[i]);
    free(ks->k);
}

/* The collection equals the model, and every index holds exactly the keys
 * the documents imply. */
static int coll_matches(wr_coll *c, const model *m)
{
    wr_errbuf eb = {0};
    wr_doc_cursor *cur;
    const uint8_t *d;
    uint32_t dl;
    size_t i = 0;
    int ok = 1, rc;
    if (wr_doc_cursor_open(c, &cur, &eb) != WR_OK)
        return 0;
    while ((rc = wr_doc_cursor_next(cur, &d, &dl, &eb)) == WR_OK) {
        if (i >= m->n || dl != m->d[i].doc->len ||
            memcmp(d, bson_get_data(m->d[i].doc), dl) != 0) {
            printf("# document %zu differs\n", i);
            ok = 0;
            break;
        }
        i++;
    }
    wr_doc_cursor_close(cur);
    if (ok && (rc != WR_ENOTFOUND || i != m->n)) {
        printf("# %zu documents, model has %zu (rc %d %s)\n", i, m->n, rc,
               eb.msg);
        ok = 0;
    }
    if (ok && wr_coll_count(c) != m->n) {
        printf("# count %llu, model %zu\n",
               (unsigned long long)wr_coll_count(c), m->n);
        ok = 0;
    }
    for (size_t x = 0; ok && x < wr_coll_nindex(c); x++) {
        keyset ks = {0};
        for (size_t j = 0; j < m->n; j++)
            wri_index_keys(m->d[j].doc, wr_coll_index_field(c, x), keyset_add,
                           &ks, &eb);
        if (ks.n > 1)
            qsort(ks.k, ks.n, sizeof *ks.k, keyset_cmp);
        size_t k = 0;
        if (wr_index_cursor_open(c, x, &cur, &eb) != WR_OK) {
            ok = 0;
            keyset_free(&ks);
            break;
        }
        while ((rc = wr_doc_cursor_next(cur, &d, &dl, &eb)) == WR_OK) {
            if (k >= ks.n || dl != ks.k[k]->len ||
                memcmp(d, bson_get_data(ks.k[k]), dl) != 0) {
                printf("# index %s entry %zu differs\n",
                       wr_coll_index_field(c, x), k);
                ok = 0;
                break;
            }
            k++;
        }
        if (ok && k != ks.n) {
            printf("# index %s has %zu entries, expected %zu\n",
                   wr_coll_index_field(c, x), k, ks.n);
            ok = 0;
        }
        wr_doc_cursor_close(cur);
        keyset_free(&ks);
    }
    return ok;
}

static int db_matches(const char *dir, bool previous, const char *coll,
                      const model *m)
{
    wr_errbuf eb = {0};
    wr_db *db;
    wr_coll *c;
    wr_db_opts o = {.readonly = true, .previous = previous};
    if (wr_db_open(dir, &o, &db, &eb) != WR_OK) {
        printf("# open %s: %s\n", dir, eb.msg);
        return 0;
    }
    int rc = wr_coll_open(db, coll, false, &c, &eb);
    int ok;
    if (rc == WR_ENOTFOUND && m->n == 0)
        ok = 1;
    else if (rc != WR_OK) {
        printf("# coll open: %s\n", eb.msg);
        ok = 0;
    } else {
        ok = coll_matches(c, m);
    }
    wr_db_close(db);
    return ok;
}

/* --- documents ---------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Documents from the BSON corpus: {"_id": N, "case": ..., "v": ...}. */
static bson_t **corpus;
static size_t ncorpus;

static void corpus_load(void)
{
    const char *base = getenv("WR_CORPORA");
    char path[512];
    snprintf(path, sizeof path, "%s/bson-corpus/valid.jsonl",
             base ? base : "../shared/corpora");
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (f == NULL) {
        printf("not ok - cannot read %s (set WR_CORPORA)\n", path);
        exit(1);
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        bson_error_t err;
        bson_t *d = bson_new_from_json((const uint8_t *)line, n, &err);
        if (d == NULL)
            continue;
        corpus = realloc(corpus, (ncorpus + 1) * sizeof *corpus);
        corpus[ncorpus++] = d;
    }
    free(line);
    fclose(f);
}

static bson_t *make_doc(uint64_t id, int variant)
{
    static const char *cities[] = {"Oslo", "Lima", "Pune", "Kyiv", "Quito"};
    bson_t *d = bson_new(), sub, arr;
    if (ncorpus > 0 && variant % 4 == 0) {
        /* a corpus document under a new _id */
        bson_t *src = corpus[id % ncorpus];
        bson_iter_t it;
        BSON_APPEND_INT64(d, "_id", (int64_t)id);
        bson_iter_init(&it, src);
        while (bson_iter_next(&it))
            if (strcmp(bson_iter_key(&it), "_id") != 0)
                bson_append_iter(d, NULL, 0, &it);
        return d;
    }
    if (id % 2)
        BSON_APPEND_INT64(d, "_id", (int64_t)id);
    else
        BSON_APPEND_DOUBLE(d, "_id", (double)id);
    BSON_APPEND_INT32(d, "n", (int32_t)(rnd() % 50));
    BSON_APPEND_DOCUMENT_BEGIN(d, "address", &sub);
    if (rnd() % 5)
        BSON_APPEND_UTF8(&sub, "city", cities[rnd() % 5]);
    bson_append_document_end(d, &sub);
    BSON_APPEND_ARRAY_BEGIN(d, "tags", &arr);
    for (uint64_t i = 0, k = rnd() % 4; i < k; i++) {
        char key[8];
        snprintf(key, sizeof key, "%u", (unsigned)i);
        BSON_APPEND_UTF8(&arr, key, cities[rnd() % 5]);
    }
    bson_append_array_end(d, &arr);
    if (variant % 7 == 0) { /* sometimes a big one: overflow pages */
        size_t len = 3000 + rnd() % 20000;
        char *s = malloc(len + 1);
        memset(s, 'a' + (int)(id % 26), len);
        s[len] = 0;
        BSON_APPEND_UTF8(d, "text", s);
        free(s);
    }
    return d;
}

/* A random run of puts, deletes, gets, checkpoints, reopens and a late
 * index against the model. memory: wr_db_opts.memory (0: the default);
 * *peak gets the most the trees held after any change. */
static void db_model_run(uint32_t psize, int steps, uint64_t memory,
                         uint64_t *peak)
{
    wr_errbuf eb = {0};
    char name[64];
    *peak = 0;
    snprintf(name, sizeof name, "dbmodel-%u-%llu", psize,
             (unsigned long long)memory);
    char *dir = tap_fresh_path(name);
    wr_db_opts o = {.create = true, .page_size = psize, .holder = "test",
                    .memory = memory};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    model m = {0}, last = {0}, prev = {0};
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "people", true, &c, &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(c, "address.city", &eb), &eb);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    for (int s = 0; s < steps; s++) {
        uint32_t op = (uint32_t)(rnd() % 1000);
        uint64_t id = rnd() % 400;
        if (op < 600) {
            bson_t *d = make_doc(id, (int)(rnd() % 28));
            int rc = wr_coll_put(c, d, NULL, &eb);
            if (rc == WR_OK)
                model_put(&m, d);
            else if (rc != WR_EINVAL) /* a key too long for small pages */
                TAP_FAIL("step %d: put: %s", s, eb.msg);
            wr_errbuf_clear(&eb);
            bson_destroy(d);
        } else if (op < 850) {
            bson_t *d = BCON_NEW("_id", BCON_INT64((int64_t)id));
            int had = model_del(&m, d);
            int rc = wr_coll_delete(c, d, &eb);
            if (rc != (had ? WR_OK : WR_ENOTFOUND))
                TAP_FAIL("step %d: delete -> %d, model %d: %s", s, rc, had,
                         eb.msg);
            bson_destroy(d);
        } else if (op < 870) {
            /* get by _id, given as another numeric type where it can be:
             * 1, 1.0 and NumberLong(1) are the same _id */
            bson_t *q = BCON_NEW("_id", BCON_DOUBLE((double)id));
            uint8_t *got = NULL;
            uint32_t gl = 0;
            int found;
            bson_t key;
            wr_errbuf kb = {0};
            wri_key_from_doc(q, &key, &kb);
            size_t at = model_find(&m, &key, &found);
            bson_destroy(&key);
            int rc = wr_coll_get(c, q, &got, &gl, &eb);
            if (rc != (found ? WR_OK : WR_ENOTFOUND) ||
                (found && (gl != m.d[at].doc->len ||
                           memcmp(got, bson_get_data(m.d[at].doc), gl) != 0)))
                TAP_FAIL("step %d: get _id %llu -> %d, model found %d", s,
                         (unsigned long long)id, rc, found);
            free(got);
            bson_destroy(q);
        } else if (op < 880 && s > steps / 3) {
            /* an index created late is built from what is there */
            REQUIRE_OK(wr_coll_add_index(c, "tags", &eb), &eb);
        } else if (op < 950) {
            uint64_t g = wr_db_generation(db);
            REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
            if (wr_db_generation(db) != g) { /* nothing changed: no new
                                                snapshot */
                model_copy(&prev, &last);
                model_copy(&last, &m);
            }
        } else if (op < 985) {
            wr_db_close(db);
            REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
            REQUIRE_OK(wr_coll_open(db, "people", false, &c, &eb), &eb);
            model_copy(&m, &last);
            if (!coll_matches(c, &m))
                TAP_FAIL("step %d: after reopen", s);
        } else {
            /* the previous snapshot is readable while we hold the lock */
            if (!db_matches(dir, true, "people", &prev))
                TAP_FAIL("step %d: previous snapshot differs", s);
        }
        if (s % 300 == 0 && !coll_matches(c, &m))
            TAP_FAIL("step %d: collection differs from the model", s);
        if (wri_db_mem(db) > *peak)
            *peak = wri_db_mem(db);
        /* the bound is kept after each put, delete and get (scans only
         * hold their path) */
        if (memory > 0 && op < 870 && s % 300 != 0 &&
            wri_db_mem(db) > memory)
            TAP_FAIL("step %d: the trees hold %llu bytes, over the %llu "
                     "budget", s, (unsigned long long)wri_db_mem(db),
                     (unsigned long long)memory);
    }
    CHECK(coll_matches(c, &m));
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wr_db_close(db);
    CHECK(db_matches(dir, false, "people", &m));
    model_free(&m);
    model_free(&last);
    model_free(&prev);
    free(dir);
}

static void test_db_model_512(void)
{
    uint64_t peak;
    db_model_run(512, 2500, 0, &peak);
}

/* The same random run within a 24 KiB budget: changed pages are written
 * early and pages forgotten and read back, again and again, and every
 * snapshot, reopen and get still agrees with the model; the trees never
 * hold more than the budget after a change, where the default run holds
 * several times as much. */
static void test_db_model_small_memory(void)
{
    uint64_t budget = 24u << 10;
    uint64_t peak, free_peak;
    db_model_run(512, 2500, budget, &peak);
    db_model_run(512, 2500, 0, &free_peak);
    printf("# the trees' peak: %llu bytes with a %llu budget, %llu without\n",
           (unsigned long long)peak, (unsigned long long)budget,
           (unsigned long long)free_peak);
    CHECK(peak <= budget);
    CHECK(free_peak > 4 * budget);
}

/* The heap the process holds now, by the allocator's count: ASan's in
 * the sanitizer build, glibc's otherwise. */
#ifdef __SANITIZE_ADDRESS__
size_t __sanitizer_get_current_allocated_bytes(void);
static uint64_t heap_live(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
static uint64_t heap_live(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}
#endif

/* The memory budget covers the gathered-write buffers of the trees being
 * written (up to WRI_BLOCK_RUN each, from the first early write to the
 * commit, all within a quarter of the budget) as it covers their pages: a
 * load into a collection with three indexes under a 2 MiB budget, in
 * scrambled _id order. After every put the heap the load added since the
 * trees were opened, by the allocator's count, is what wri_db_mem says,
 * give or take less than one buffer (extent lists, the document in
 * flight), and wri_db_mem stays within the budget; the buffers fill their
 * quarter. Before, the buffers lived outside the budget: 1 MiB (one per
 * tree) held that nothing counted. */
static void test_db_budget_counts_write_buffers(void)
{
    enum { N = 12000 };
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("budget-runs");
    uint64_t budget = 2u << 20;
    wr_db_opts o = {.create = true, .holder = "test", .memory = budget};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    char pad[200];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "people", true, &c, &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(c, "a", &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(c, "b", &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(c, "pad", &eb), &eb);
    uint64_t base = heap_live(), worst = 0, runs = 0, over = 0;
    for (uint64_t i = 0; i < N; i++) {
        uint64_t id = i * 7919 % N;
        bson_t *d = bson_new();
        BSON_APPEND_INT64(d, "_id", (int64_t)id);
        BSON_APPEND_INT64(d, "a", (int64_t)(id * 31 % 1000));
        BSON_APPEND_INT64(d, "b", (int64_t)(N - id));
        pad[id % 150] = (char)('a' + id % 26);
        BSON_APPEND_UTF8(d, "pad", pad);
        pad[id % 150] = 'p';
        REQUIRE_OK(wr_coll_put(c, d, NULL, &eb), &eb);
        bson_destroy(d);
        uint64_t live = heap_live(), mem = wri_db_mem(db);
        uint64_t added = live > base ? live - base : 0;
        if (added > mem && added - mem > worst)
            worst = added - mem;
        if (wri_db_runs(db) > runs)
            runs = wri_db_runs(db);
        if (mem > budget)
            over++;
    }
    printf("# %d puts: at most %llu bytes of heap added beyond what the "
           "budget counts; buffers counted at most %llu\n",
           N, (unsigned long long)worst, (unsigned long long)runs);
    CHECK_EQ(over, 0);
    CHECK_EQ(runs, budget / 4);
    CHECK(worst < WRI_BLOCK_RUN);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    CHECK_EQ(wri_db_runs(db), 0); /* freed at each tree's commit */
    wr_db_close(db);
    free(dir);
}

/* Gets under a small budget while two cursors walk the same collection:
 * the budget never frees a node a cursor stands on (btree.c counts open
 * cursors; before, a get past the budget freed the page the cursor's last
 * document pointed into: ASan saw the use after free). */
static void test_db_cursor_beside_small_memory(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("cursor-budget");
    wr_db_opts o = {.create = true, .page_size = 512, .holder = "test",
                    .memory = 16u << 10};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "people", true, &c, &eb), &eb);
    for (uint64_t id = 0; id < 600; id++) {
        bson_t *d = make_doc(id, (int)(id % 28));
        REQUIRE_OK(wr_coll_put(c, d, NULL, &eb), &eb);
        bson_destroy(d);
    }
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wr_doc_cursor *a = NULL, *b = NULL;
    REQUIRE_OK(wr_doc_cursor_open(c, &a, &eb), &eb);
    REQUIRE_OK(wr_doc_cursor_open(c, &b, &eb), &eb);
    uint64_t n = 0, bad = 0;
    const uint8_t *doc, *doc2;
    uint32_t len, len2;
    while (wr_doc_cursor_next(a, &doc, &len, &eb) == WR_OK) {
        if (wr_doc_cursor_next(b, &doc2, &len2, &eb) != WR_OK)
            bad++;
        bson_t *id = BCON_NEW("_id", BCON_INT64((int64_t)((n * 7) % 600)));
        uint8_t *got = NULL;
        uint32_t glen = 0;
        if (wr_coll_get(c, id, &got, &glen, &eb) != WR_OK)
            bad++;
        free(got);
        bson_destroy(id);
        bson_t bd, bd2;
        if (!bson_init_static(&bd, doc, len) ||
            !bson_init_static(&bd2, doc2, len2) || !bson_equal(&bd, &bd2))
            bad++;
        n++;
    }
    CHECK(n == 600);
    CHECK(bad == 0);
    wr_doc_cursor_close(a);
    wr_doc_cursor_close(b);
    wr_db_close(db);
    free(dir);
}

static void test_db_model_4096(void)
{
    uint64_t peak;
    db_model_run(4096, 4000, 0, &peak);
}

static void test_db_lock_refuses_second_writer(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("locked");
    wr_db_opts o = {.create = true, .holder = "first"};
    wr_db *a, *b;
    REQUIRE_OK(wr_db_open(dir, &o, &a, &eb), &eb);
    pid_t pid = fork();
    if (pid == 0) {
        wr_errbuf e2 = {0};
        int rc = wr_db_open(dir, &o, &b, &e2);
        _exit(rc == WR_ELOCKED && strstr(e2.msg, "first") ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    wr_db_close(a);
    free(dir);
}

static void test_db_missing_and_not_a_db(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("nothing-here");
    wr_db *db;
    wr_db_opts o = {.readonly = true};
    CHECK_EQ(wr_db_open(dir, &o, &db, &eb), WR_ENOTFOUND);
    CHECK(strstr(eb.msg, dir) != NULL);
    free(dir);
}

static void note_rmdir(uint64_t op, const char *what, const char *path,
                       uint64_t off, size_t len, void *arg)
{
    if (strcmp(what, "rmdir") == 0)
        ++*(int *)arg;
}

/* A handle removes the directory it made only when nothing was
 * committed: after a checkpoint it does not even try. */
static void test_db_close_keeps_a_committed_directory(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("made-here");
    wr_db_opts o = {.create = true, .holder = "test"};
    wr_db *db;
    wr_coll *c;
    int rmdirs = 0;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    wri_io_trace_set(note_rmdir, &rmdirs);
    wr_db_close(db); /* nothing committed: the directory goes */
    CHECK_EQ(rmdirs, 1);
    CHECK(access(dir, F_OK) != 0);
    rmdirs = 0;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "c", true, &c, &eb), &eb);
    bson_t *d = BCON_NEW("_id", BCON_INT32(1));
    REQUIRE_OK(wr_coll_put(c, d, NULL, &eb), &eb);
    bson_destroy(d);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wr_db_close(db);
    wri_io_trace_set(NULL, NULL);
    CHECK_EQ(rmdirs, 0);
    CHECK(access(dir, F_OK) == 0);
    free(dir);
}

/* wr.catalog a symbolic link: a writer's open refuses it (a reader's
 * reads through it), and so does the commit, for a link that appeared
 * after the open: the link stays, its target keeps the old catalog. */
static void test_db_catalog_link_refused(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("catlink");
    char *away = tap_fresh_path("catlink.away");
    char cat[1024], link[2200];
    wr_db_opts o = {.create = true, .holder = "test"};
    wr_db_opts ro = {.readonly = true};
    wr_db *db;
    wr_coll *c;
    bson_t *d = BCON_NEW("_id", BCON_INT32(1));
    snprintf(cat, sizeof cat, "%s/" WR_CATALOG_NAME, dir);
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "c", true, &c, &eb), &eb);
    REQUIRE_OK(wr_coll_put(c, d, NULL, &eb), &eb);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    REQUIRE_OK(wr_coll_put(c, d, NULL, &eb), &eb);
    /* the catalog moved away and linked back while the writer works */
    REQUIRE(rename(cat, away) == 0);
    REQUIRE(symlink(away, cat) == 0);
    CHECK_EQ(wr_db_checkpoint(db, &eb), WR_ENOTSUP);
    snprintf(link, sizeof link, "%s is a symbolic link (to %s)", cat, away);
    CHECK(strstr(eb.msg, link) != NULL);
    wr_db_close(db);
    struct stat st;
    CHECK(lstat(cat, &st) == 0 && S_ISLNK(st.st_mode));
    wri_catalog onlink;
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_catalog_read(dir, &onlink, &eb), &eb);
    CHECK_EQ(onlink.gen, 1);
    wri_catalog_free(&onlink);
    /* a writer's open refuses it; a reader's reads through it */
    wr_errbuf_clear(&eb);
    CHECK_EQ(wr_db_open(dir, &o, &db, &eb), WR_ENOTSUP);
    CHECK(strstr(eb.msg, link) != NULL);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wr_db_open(dir, &ro, &db, &eb), &eb);
    CHECK_EQ(wr_db_generation(db), 1);
    wr_db_close(db);
    bson_destroy(d);
    free(away);
    free(dir);
}

static void test_catalog_decode_rejects_garbage(void)
{
    uint8_t buf[512];
    wri_catalog cat;
    char why[256];
    for (int i = 0; i < 3000; i++) {
        size_t n = rnd() % sizeof buf;
        for (size_t j = 0; j < n; j++)
            buf[j] = (uint8_t)rnd();
        if (n > 12 && i % 2)
            memcpy(buf + 4, WRI_CAT_MAGIC, 8);
        int rc = wri_catalog_decode(buf, n, &cat, why, sizeof why);
        if (rc == WR_OK)
            wri_catalog_free(&cat);
        CHECK(rc != WR_OK);
    }
}

/* A wr.catalog larger than any catalog can be is damage named as such,
 * refused before it is read into memory. */
static void test_catalog_read_refuses_an_oversized_file(void)
{
    wr_errbuf eb = {0};
    wri_catalog cat;
    char *dir = tap_fresh_path("huge-catalog");
    char path[600];
    REQUIRE(mkdir(dir, 0755) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/" WR_CATALOG_NAME, dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    CHECK(ftruncate(fd, (off_t)WRI_CAT_MAX + 1) == 0); /* sparse */
    close(fd);
    CHECK_EQ(wri_catalog_read(dir, &cat, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, WR_CATALOG_NAME ": 16777217 bytes, too large for "
                         "a catalog") != NULL);
    free(dir);
}

/* --- crash sweep of wr_load --------------------------------------------- */

/* Documents _id from..to-1, then deletes of every third _id from 0 (del
 * of them). pad > 0: each document gets a "pad" string that depends on
 * pad too, so that on 512-byte pages every document is longer than fits
 * inline: of 100 to 399 bytes, shorter than a block, packed whole in its
 * leaf cell (FORMAT.md "Packed values"); every fourth (by _id and pad) of
 * 600 to 1,399 bytes, longer than a block, split: a run of whole blocks
 * and the tail in its cell ("Value tails"); another pad changes each one
 * and which are split. */
static const char *write_jsonl_pad(const char *name, int from, int to,
                                   int del, int pad)
{
    static char path[512];
    char fill[1400];
    snprintf(path, sizeof path, "%s/%s", tap_tmpdir(), name);
    FILE *f = fopen(path, "w");
    for (int i = from; i < to; i++) {
        int n = pad <= 0               ? 0
                : (i + pad) % 4 == 0 ? 600 + (i * 53 + pad * 71) % 800
                                       : 100 + (i * 37 + pad * 101) % 300;
        memset(fill, 'a' + (i + pad) % 26, (size_t)n);
        fill[n] = 0;
        fprintf(f,
                "{\"_id\": %d, \"name\": \"n%d\", \"address\": {\"city\": "
                "\"c%d\"}, \"tags\": [\"t%d\", \"t%d\"]%s%s%s}\n",
                i, i, i % 7, i % 3, i % 5, pad > 0 ? ", \"pad\": \"" : "",
                fill, pad > 0 ? "\"" : "");
    }
    for (int i = 0; i < del; i++)
        fprintf(f, "{\"_id\": %d, \"$deleted\": true}\n", i * 3);
    fclose(f);
    return path;
}

static const char *write_jsonl(const char *name, int from, int to, int del)
{
    return write_jsonl_pad(name, from, to, del, 0);
}

static void model_from_jsonl(model *m, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        bson_error_t err;
        bson_t *d = bson_new_from_json((const uint8_t *)line, n, &err);
        bson_iter_t it;
        if (bson_iter_init_find(&it, d, "$deleted"))
            model_del(m, d);
        else
            model_put(m, d);
        bson_destroy(d);
    }
    free(line);
    fclose(f);
}

static int run_load(const char *dir, const char *input,
                    const wri_fault_plan *plan, uint64_t *ops)
{
    static const char *const idx[] = {"address.city", "tags"};
    wr_load_opts o = {.dir = dir, .coll = "c", .input = input, .index = idx,
                      .nindex = 2, .page_size = 512};
    wr_load_stats st;
    wr_errbuf eb = {0};
    wri_io_fault_set(plan);
    int rc = wr_load(&o, &st, &eb);
    if (ops)
        *ops = wri_io_op_count();
    wri_io_fault_set(NULL);
    return rc;
}

/* Crash at every mutating op of a second load (with and without a torn
 * write): the database reopens at the first or the second snapshot,
 * exactly, with indexes agreeing with the table. */
static void test_load_crash_sweep(void)
{
    char *base = tap_fresh_path("crash-base");
    char *dir = tap_fresh_path("crash");
    const char *in1 = write_jsonl("in1.jsonl", 0, 60, 0);
    model m1 = {0}, m2 = {0};
    model_from_jsonl(&m1, in1);
    REQUIRE_EQ(run_load(base, in1, NULL, NULL), WR_OK);
    const char *in2 = write_jsonl("in2.jsonl", 40, 120, 15);
    char in2copy[512];
    snprintf(in2copy, sizeof in2copy, "%s", in2);
    model_copy(&m2, &m1);
    model_from_jsonl(&m2, in2copy);
    uint64_t total = 0;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dir, base,
             dir);
    REQUIRE(system(cmd) == 0);
    REQUIRE_EQ(run_load(dir, in2copy, NULL, &total), WR_OK);
    REQUIRE(db_matches(dir, false, "c", &m2));
    REQUIRE(total > 5);
    int bad = 0, at_old = 0, at_new = 0;
    for (uint64_t n = 1; n <= total && bad < 3; n++) {
        for (int tear = 0; tear < 2; tear++) {
            REQUIRE(system(cmd) == 0);
            pid_t pid = fork();
            if (pid == 0) {
                wri_fault_plan p = {.kind = WRI_FAULT_CRASH, .at = n,
                                    .tear = tear ? 200 : 0};
                run_load(dir, in2copy, &p, NULL);
                _exit(0);
            }
            int st;
            waitpid(pid, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != WRI_IO_CRASH_EXIT) {
                TAP_FAIL("op %llu: child did not crash (status %d)",
                         (unsigned long long)n, st);
                bad++;
                continue;
            }
            if (db_matches(dir, false, "c", &m1))
                at_old++;
            else if (db_matches(dir, false, "c", &m2))
                at_new++;
            else {
                TAP_FAIL("op %llu tear %d: neither snapshot",
                         (unsigned long long)n, tear);
                bad++;
            }
        }
        /* and a rerun after the crash completes the job */
        if (n % 7 == 0) {
            REQUIRE_EQ(run_load(dir, in2copy, NULL, NULL), WR_OK);
            CHECK(db_matches(dir, false, "c", &m2));
        }
    }
    printf("# %llu crash points: %d at the old snapshot, %d at the new\n",
           (unsigned long long)total, at_old, at_new);
    CHECK(at_old > 0 && at_new > 0);
    model_free(&m1);
    model_free(&m2);
    free(base);
    free(dir);
}

static void trace_last_dirsync(uint64_t op, const char *what,
                               const char *path, uint64_t off, size_t len,
                               void *arg)
{
    (void)path;
    (void)off;
    (void)len;
    if (strcmp(what, "fsync-dir") == 0)
        *(uint64_t *)arg = op;
}

/* ENOSPC at any op: the load fails with WR_ENOSPC and the database is
 * still exactly the first snapshot. */
static void test_load_enospc_sweep(void)
{
    char *base = tap_fresh_path("nospc-base");
    char *dir = tap_fresh_path("nospc");
    const char *in1 = write_jsonl("s1.jsonl", 0, 30, 0);
    model m1 = {0};
    model_from_jsonl(&m1, in1);
    REQUIRE_EQ(run_load(base, in1, NULL, NULL), WR_OK);
    const char *in2 = write_jsonl("s2.jsonl", 20, 80, 5);
    model m2 = {0};
    model_copy(&m2, &m1);
    model_from_jsonl(&m2, in2);
    uint64_t total = 0;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dir, base,
             dir);
    REQUIRE(system(cmd) == 0);
    uint64_t commit_sync = 0;
    wri_io_trace_set(trace_last_dirsync, &commit_sync);
    REQUIRE_EQ(run_load(dir, in2, NULL, &total), WR_OK);
    wri_io_trace_set(NULL, NULL);
    REQUIRE(commit_sync > 0);
    for (uint64_t n = 1; n <= total; n++) {
        REQUIRE(system(cmd) == 0);
        wri_fault_plan p = {.kind = WRI_FAULT_FAIL, .at = n,
                            .err = WR_ENOSPC, .sticky = true};
        int rc = run_load(dir, in2, &p, NULL);
        if (rc == WR_OK)
            continue; /* the op that failed was after the commit point */
        if (rc != WR_ENOSPC)
            TAP_FAIL("op %llu: rc %d", (unsigned long long)n, rc);
        /* the directory fsync after the catalog's rename: the new
         * snapshot is in place, its durability unknown */
        if (n == commit_sync && db_matches(dir, false, "c", &m2))
            continue;
        if (!db_matches(dir, false, "c", &m1))
            TAP_FAIL("op %llu: database changed after ENOSPC",
                     (unsigned long long)n);
    }
    model_free(&m1);
    model_free(&m2);
    free(base);
    free(dir);
}

/* --- power-loss sweep of wr_load ----------------------------------------- */

/* "count:sha256" of collection c of the current snapshot ("-" if the
 * database or the collection cannot be opened). */
static void coll_digest(const char *dir, char *out, size_t len)
{
    wr_errbuf eb = {0};
    wr_db *db;
    wr_coll *c;
    wr_db_opts o = {.readonly = true};
    uint8_t dg[WR_DIGEST_LEN];
    char hex[2 * WR_DIGEST_LEN + 1];
    uint64_t n;
    snprintf(out, len, "-");
    if (wr_db_open(dir, &o, &db, &eb) != WR_OK)
        return;
    if (wr_coll_open(db, "c", false, &c, &eb) == WR_OK &&
        wr_coll_digest(c, dg, &n, &eb) == WR_OK) {
        wr_digest_hex(WR_DIGEST_SHA256, dg, hex);
        snprintf(out, len, "%llu:%s", (unsigned long long)n, hex);
    }
    wr_db_close(db);
}

typedef struct cat_commits {
    uint64_t op[64];
    int n;
} cat_commits;

static void trace_commits(uint64_t op, const char *what, const char *path,
                          uint64_t off, size_t len, void *arg)
{
    cat_commits *c = arg;
    const char *tail = WR_CATALOG_NAME ".tmp";
    size_t n = strlen(path), t = strlen(tail);
    (void)off;
    (void)len;
    if (strcmp(what, "rename") == 0 && n >= t &&
        strcmp(path + n - t, tail) == 0 && c->n < 64)
        c->op[c->n++] = op;
}

#define PW_EVERY 20 /* --checkpoint-every */

typedef struct pw_load {
    const char *dir, *input;
    uint64_t every, memory; /* --checkpoint-every, --memory */
    int to;                 /* the second input: _id 40..to-1 */
    int pad;                /* write_jsonl_pad's: packed documents */
    uint32_t page;          /* page size; 0: 512 */
    wr_errbuf eb;
} pw_load;

static int load_every(void *arg)
{
    static const char *const idx[] = {"address.city", "tags"};
    pw_load *a = arg;
    wr_load_opts o = {.dir = a->dir, .coll = "c", .input = a->input,
                      .index = idx, .nindex = 2,
                      .page_size = a->page ? a->page : 512,
                      .checkpoint_every = a->every, .memory = a->memory};
    wr_load_stats st;
    wr_errbuf_clear(&a->eb);
    return wr_load(&o, &st, &a->eb);
}

/* Run load_every in a child with this crash plan. */
static int load_crash(pw_load *a, wri_fault_plan p)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        wri_io_fault_set(&p);
        load_every(a);
        wri_io_crash_now(); /* a crash point past the last op */
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A second load (a->every, a->memory) into a database with two indexes,
 * power lost at every op and after the last (helper_power.h): the
 * collection is one of the committed versions (the first load's, or one
 * of the second's checkpoints) and the database verifies; a rerun of the
 * load gives the final content and verifies. */
static void load_power_sweep(pw_load a, const char *what)
{
    char *base = tap_fresh_path("pw-base");
    char *dir = tap_fresh_path("pw");
    char in1[512], in2[512];
    dirsnap snap;
    pw_learned l;
    snprintf(in1, sizeof in1, "%s",
             write_jsonl_pad("pw1.jsonl", 0, 50, 0, a.pad));
    snprintf(in2, sizeof in2, "%s",
             write_jsonl_pad("pw2.jsonl", 40, a.to, 10, 2 * a.pad));
    REQUIRE_EQ(run_load(base, in1, NULL, NULL), WR_OK);
    REQUIRE(dirsnap_take(&snap, base) == 0);
    a.dir = dir;
    a.input = in2;
    /* the reference run: its ops, and where the catalog is committed */
    cat_commits cc = {0};
    REQUIRE(dirsnap_restore(&snap, dir) == 0);
    int rc = pw_learn(load_every, &a, trace_commits, &cc, &l);
    REQUIRE_OK(rc, &a.eb);
    /* checkpoints every a.every documents and at the end */
    REQUIRE(cc.n >= (a.every ? 3 : 1));
    /* the committed versions: the base, and the state after each commit */
    char versions[65][80], final[80], dg[80];
    int nv = 0;
    coll_digest(dir, final, sizeof final);
    if (a.memory > 0) { /* the budget makes the run write early, and more */
        pw_load plain = a;
        plain.memory = 0;
        REQUIRE(dirsnap_restore(&snap, dir) == 0);
        wri_io_fault_set(NULL);
        REQUIRE_OK(load_every(&plain), &plain.eb);
        printf("# the same load: %llu ops, %llu with the budget\n",
               (unsigned long long)wri_io_op_count(),
               (unsigned long long)l.total);
        CHECK(l.total > wri_io_op_count() + 10);
    }
    REQUIRE(dirsnap_restore(&snap, dir) == 0);
    coll_digest(dir, versions[nv++], sizeof versions[0]);
    for (int i = 0; i < cc.n; i++) {
        wri_fault_plan p = {.kind = WRI_FAULT_CRASH, .at = cc.op[i] + 1};
        REQUIRE(dirsnap_restore(&snap, dir) == 0);
        REQUIRE_EQ(load_crash(&a, p), WRI_IO_CRASH_EXIT);
        coll_digest(dir, versions[nv++], sizeof versions[0]);
    }
    REQUIRE(strcmp(versions[nv - 1], final) == 0);
    int bad = 0, states = 0, first = 0, last = 0, between = 0;
    for (uint64_t n = 1; n <= l.total + 1 && bad < 3; n++) {
        for (int k = 0; k < pw_nstates(&l, n) && bad < 3; k++) {
            wri_fault_plan p = pw_plan(&l, n, k);
            REQUIRE(dirsnap_restore(&snap, dir) == 0);
            states++;
            if (load_crash(&a, p) != WRI_IO_CRASH_EXIT) {
                TAP_FAIL("op %llu seed %llu: no crash", (unsigned long long)n,
                         (unsigned long long)p.seed);
                bad++;
                continue;
            }
            coll_digest(dir, dg, sizeof dg);
            int v = -1;
            for (int i = 0; i < nv && v < 0; i++)
                if (strcmp(dg, versions[i]) == 0)
                    v = i;
            if (v < 0) {
                TAP_FAIL("op %llu seed %llu: the collection (%s) is none of "
                         "the %d committed versions", (unsigned long long)n,
                         (unsigned long long)p.seed, dg, nv);
                bad++;
                continue;
            }
            first += v == 0;
            last += v == nv - 1;
            between += v > 0 && v < nv - 1;
            wr_errbuf_clear(&a.eb);
            if ((rc = wr_verify_simple(dir, false, &a.eb)) != WR_OK) {
                TAP_FAIL("op %llu seed %llu: verify: %s",
                         (unsigned long long)n, (unsigned long long)p.seed,
                         a.eb.msg);
                bad++;
                continue;
            }
            rc = load_every(&a);
            coll_digest(dir, dg, sizeof dg);
            if (rc != WR_OK || strcmp(dg, final) != 0 ||
                wr_verify_simple(dir, false, &a.eb) != WR_OK) {
                TAP_FAIL("op %llu seed %llu: the rerun: %d, %s",
                         (unsigned long long)n, (unsigned long long)p.seed, rc,
                         a.eb.msg);
                bad++;
            }
        }
    }
    char detail[160];
    snprintf(detail, sizeof detail, "%d at the first version, %d between, "
             "%d at the last of %d; each verified, rerun, verified and "
             "compared", first, between, last, nv);
    pw_report(&l, what, states, detail);
    CHECK(first > 0 && last > 0 && (between > 0 || a.every == 0));
    pw_learned_free(&l);
    dirsnap_free(&snap);
    free(base);
    free(dir);
}

static void test_load_power_sweep(void)
{
    pw_load a = {.every = PW_EVERY, .to = 90};
    load_power_sweep(a, "wr_load --checkpoint-every 20 (two indexes)");
}

/* Packed and split values (FORMAT.md "Packed values", "Value tails"):
 * every document of both loads keeps all (packed) or the last part block
 * (split) of its value in its leaf cell, the second load replaces ten of
 * the first's (their leaves rewritten with the values they keep, a
 * replaced split value's run freed and a new one written), deletes ten
 * and adds more, so long leaves of packed and split values and the runs
 * beside them are written, freed and rewritten at every checkpoint. */
static void test_load_power_sweep_packed(void)
{
    pw_load a = {.every = 15, .to = 70, .pad = 1};
    char *dir = tap_fresh_path("pw-packed-check");
    const char *in = write_jsonl_pad("pwp.jsonl", 0, 50, 0, 1);
    REQUIRE_EQ(run_load(dir, in, NULL, NULL), WR_OK);
    /* the documents are packed or split, none whole in a run with a part
     * empty block: the main table says format 4 */
    char *path = NULL;
    fill_report fr;
    REQUIRE(asprintf(&path, "%s/c.main.wr", dir) > 0);
    REQUIRE(fill_check(path, &fr) == 0);
    CHECK_EQ(fr.version, WRI_VERSION_PACKED);
    CHECK(fr.packed > 20 && fr.tails > 8);
    CHECK_EQ(fr.ovf_waste, 0);
    free(path);
    free(dir);
    load_power_sweep(a, "wr_load of packed documents --checkpoint-every 15 "
                        "(two indexes)");
}

/* The early writes of a small --memory (db.c): changed pages go to disk
 * long before the one commit at the end, and a power loss anywhere still
 * leaves the first version or the last, never a mix. */
static void test_load_power_sweep_memory(void)
{
    pw_load a = {.memory = 20u << 10, .to = 50};
    load_power_sweep(a, "wr_load --memory 20K, no checkpoints (two "
                        "indexes)");
}

/* The longest pwrite into the main table: a gathered run (block.c I13). */
typedef struct pw_run {
    uint64_t op, off;
    size_t len;
    char path[512];
} pw_run;

static void trace_run(uint64_t op, const char *what, const char *path,
                      uint64_t off, size_t len, void *arg)
{
    pw_run *r = arg;
    size_t n = strlen(path);
    if (strcmp(what, "pwrite") == 0 && len > r->len && n > 8 &&
        strcmp(path + n - 8, ".main.wr") == 0) {
        *r = (pw_run){.op = op, .off = off, .len = len};
        snprintf(r->path, sizeof r->path, "%s", path);
    }
}

/* The bytes [off, off + len) of the file as they are now (zeros past its
 * end) into buf. */
static void read_region(const pw_run *r, uint8_t *buf)
{
    memset(buf, 0, r->len);
    int fd = open(r->path, O_RDONLY);
    if (fd < 0)
        return;
    ssize_t got = pread(fd, buf, r->len, (off_t)r->off);
    (void)got; /* a short read leaves zeros: what a hole reads */
    close(fd);
}

/* A load's checkpoint writes its changed pages as gathered runs, one
 * pwrite of many 4 KiB pages each (block.c I13). The power goes right
 * after the longest run into the main table, before the fsync that would
 * make it durable, with 64 seeds: the run lost, kept, or torn -- among
 * them runs of which some 4 KiB pages reached the disk and others did not
 * (io.h "Power loss"). Every state holds the committed collection (the
 * first load's: nothing committed lost, nothing half-written taken),
 * verifies, and a rerun of the load finishes, with the final content,
 * and verifies. */
static void test_load_power_torn_run(void)
{
    pw_load a = {.to = 400, .pad = 2, .page = 4096};
    char *base = tap_fresh_path("pwr-base");
    char *dir = tap_fresh_path("pwr");
    char in2[512], first[80], final[80], dg[80];
    dirsnap snap;
    pw_learned l;
    pw_run run = {0};
    a.dir = base;
    a.input = write_jsonl_pad("pwr1.jsonl", 0, 50, 0, 1);
    REQUIRE_OK(load_every(&a), &a.eb);
    REQUIRE(dirsnap_take(&snap, base) == 0);
    snprintf(in2, sizeof in2, "%s",
             write_jsonl_pad("pwr2.jsonl", 40, a.to, 10, 2));
    a.dir = dir;
    a.input = in2;
    REQUIRE(dirsnap_restore(&snap, dir) == 0);
    coll_digest(dir, first, sizeof first);
    REQUIRE_OK(pw_learn(load_every, &a, trace_run, &run, &l), &a.eb);
    coll_digest(dir, final, sizeof final);
    printf("# the longest run: op %llu, %zu bytes at %llu\n",
           (unsigned long long)run.op, run.len,
           (unsigned long long)run.off);
    REQUIRE(run.len >= 8 * 4096 && run.off % 4096 == 0);
    REQUIRE(strcmp(first, final) != 0);
    /* the run whole (a process crash after it) and lost (power, seed 0) */
    uint8_t *whole = malloc(run.len), *none = malloc(run.len),
            *got = malloc(run.len);
    REQUIRE(whole != NULL && none != NULL && got != NULL);
    wri_fault_plan p = {.kind = WRI_FAULT_CRASH, .at = run.op + 1};
    REQUIRE(dirsnap_restore(&snap, dir) == 0);
    REQUIRE_EQ(load_crash(&a, p), WRI_IO_CRASH_EXIT);
    read_region(&run, whole);
    p.power = true;
    REQUIRE(dirsnap_restore(&snap, dir) == 0);
    REQUIRE_EQ(load_crash(&a, p), WRI_IO_CRASH_EXIT);
    read_region(&run, none);
    int torn = 0, kept = 0, lost = 0, bad = 0;
    for (uint64_t seed = 1; seed <= 64 && bad < 3; seed++) {
        p.seed = seed;
        REQUIRE(dirsnap_restore(&snap, dir) == 0);
        if (load_crash(&a, p) != WRI_IO_CRASH_EXIT) {
            TAP_FAIL("seed %llu: no crash", (unsigned long long)seed);
            bad++;
            continue;
        }
        read_region(&run, got);
        int landed = 0, missing = 0;
        for (size_t k = 0; k < run.len; k += 4096) {
            bool w = memcmp(got + k, whole + k, 4096) == 0;
            bool n = memcmp(got + k, none + k, 4096) == 0;
            landed += w && !n;
            missing += n && !w;
        }
        torn += landed > 0 && missing > 0;
        kept += missing == 0;
        lost += landed == 0;
        coll_digest(dir, dg, sizeof dg);
        wr_errbuf_clear(&a.eb);
        if (strcmp(dg, first) != 0 ||
            wr_verify_simple(dir, false, &a.eb) != WR_OK) {
            TAP_FAIL("seed %llu (%d pages of the run landed, %d not): the "
                     "collection %s (committed: %s), verify: %s",
                     (unsigned long long)seed, landed, missing, dg, first,
                     a.eb.msg);
            bad++;
            continue;
        }
        int rc = load_every(&a);
        coll_digest(dir, dg, sizeof dg);
        if (rc != WR_OK || strcmp(dg, final) != 0 ||
            wr_verify_simple(dir, false, &a.eb) != WR_OK) {
            TAP_FAIL("seed %llu: the rerun: %d, %s", (unsigned long long)seed,
                     rc, a.eb.msg);
            bad++;
        }
    }
    printf("# 64 power losses after a run of %zu pages: torn %d, kept %d, "
           "lost %d; each the committed version, verified, rerun, "
           "verified\n",
           run.len / 4096, torn, kept, lost);
    CHECK(torn > 0 && kept > 0 && lost > 0);
    free(whole);
    free(none);
    free(got);
    pw_learned_free(&l);
    dirsnap_free(&snap);
    free(base);
    free(dir);
}

/* A million small documents load, checkpoint, and scan back in order. */
static void test_million_small_documents(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("million");
    wr_db_opts o = {.create = true, .holder = "test"};
    wr_db *db;
    wr_coll *c;
    const uint32_t n = 1000000;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "m", true, &c, &eb), &eb);
    for (uint32_t i = 0; i < n; i++) {
        /* a scrambled insertion order: i * 7919 mod n visits every id */
        int64_t id = (int64_t)(((uint64_t)i * 7919u) % n);
        bson_t d = BSON_INITIALIZER;
        BSON_APPEND_INT64(&d, "_id", id);
        BSON_APPEND_INT32(&d, "v", (int32_t)(id % 1000));
        int rc = wr_coll_put(c, &d, NULL, &eb);
        bson_destroy(&d);
        REQUIRE_OK(rc, &eb);
    }
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wr_db_close(db);
    wr_db_opts ro = {.readonly = true};
    REQUIRE_OK(wr_db_open(dir, &ro, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "m", false, &c, &eb), &eb);
    CHECK_EQ(wr_coll_count(c), n);
    wr_doc_cursor *cur;
    const uint8_t *d;
    uint32_t dl;
    int64_t expect = 0;
    int rc;
    REQUIRE_OK(wr_doc_cursor_open(c, &cur, &eb), &eb);
    while ((rc = wr_doc_cursor_next(cur, &d, &dl, &eb)) == WR_OK) {
        bson_t doc;
        bson_iter_t it;
        if (!bson_init_static(&doc, d, dl) ||
            !bson_iter_init_find(&it, &doc, "_id") ||
            bson_iter_int64(&it) != expect) {
            TAP_FAIL("document %lld out of order", (long long)expect);
            break;
        }
        expect++;
    }
    CHECK_EQ(rc, WR_ENOTFOUND);
    CHECK_EQ(expect, n);
    wr_doc_cursor_close(cur);
    wr_db_close(db);
    free(dir);
}

/* The op number of the directory fsync right after the catalog's rename. */
typedef struct {
    bool renamed; /* the op before was the catalog's rename */
    uint64_t op;
} cat_sync;

static void trace_catalog_sync(uint64_t op, const char *what,
                               const char *path, uint64_t off, size_t len,
                               void *arg)
{
    cat_sync *s = arg;
    const char *tmp = WR_CATALOG_NAME ".tmp";
    size_t n = strlen(path), k = strlen(tmp);
    (void)off;
    (void)len;
    if (strcmp(what, "fsync-dir") == 0 && s->renamed && s->op == 0)
        s->op = op;
    s->renamed = strcmp(what, "rename") == 0 && n >= k &&
                 strcmp(path + n - k, tmp) == 0;
}

/* *db: a database at dir holding _id 1 committed and _id 2 not yet (NULL
 * if that fails). */
static void one_committed_one_not(const char *dir, wr_db **db, wr_coll **c)
{
    wr_errbuf eb = {0};
    wr_db_opts o = {.create = true, .holder = "test"};
    bson_t *d1 = BCON_NEW("_id", BCON_INT32(1));
    bson_t *d2 = BCON_NEW("_id", BCON_INT32(2));
    if (wr_db_open(dir, &o, db, &eb) != WR_OK)
        *db = NULL;
    else if (wr_coll_open(*db, "c", true, c, &eb) != WR_OK ||
             wr_coll_put(*c, d1, NULL, &eb) != WR_OK ||
             wr_db_checkpoint(*db, &eb) != WR_OK ||
             wr_coll_put(*c, d2, NULL, &eb) != WR_OK) {
        wr_db_close(*db);
        *db = NULL;
    }
    if (*db == NULL)
        TAP_FAIL("%s: %s", dir, eb.msg);
    bson_destroy(d1);
    bson_destroy(d2);
}

/* A checkpoint whose new catalog took its name but whose directory fsync
 * then failed: the checkpoint fails (its durability is unknown), but the
 * generation is the new catalog's, the one readers of the directory see,
 * not lowered back (the next checkpoint would have committed a second,
 * different catalog of that generation); the next checkpoint commits the
 * one after it, and everything is there. */
static void test_db_checkpoint_dir_fsync_fails_after_rename(void)
{
    wr_errbuf eb = {0};
    char *learn = tap_fresh_path("dirsync-learn");
    char *dir = tap_fresh_path("dirsync");
    wr_coll *c;
    wri_catalog cat = {0};
    cat_sync cs = {false, 0};
    /* the same checkpoint, traced: which op is that fsync */
    wr_db *db;
    one_committed_one_not(learn, &db, &c);
    REQUIRE(db != NULL);
    wri_io_fault_set(NULL);
    wri_io_trace_set(trace_catalog_sync, &cs);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wri_io_trace_set(NULL, NULL);
    wr_db_close(db);
    REQUIRE(cs.op > 0);
    one_committed_one_not(dir, &db, &c);
    REQUIRE(db != NULL);
    uint64_t gen = wr_db_generation(db);
    wri_fault_plan p = {.kind = WRI_FAULT_FAIL, .at = cs.op, .err = WR_EIO};
    wri_io_fault_set(&p);
    CHECK_EQ(wr_db_checkpoint(db, &eb), WR_EIO);
    wri_io_fault_set(NULL);
    CHECK(strstr(eb.msg, "fsync-dir failed") != NULL);
    CHECK_EQ(wr_db_generation(db), gen + 1);
    REQUIRE_OK(wri_catalog_read(dir, &cat, &eb), &eb);
    CHECK_EQ(cat.gen, gen + 1); /* what readers see */
    wri_catalog_free(&cat);
    /* the next checkpoint works, and commits the generation after it */
    wr_errbuf_clear(&eb);
    bson_t *d = BCON_NEW("_id", BCON_INT32(3));
    REQUIRE_OK(wr_coll_put(c, d, NULL, &eb), &eb);
    bson_destroy(d);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    CHECK_EQ(wr_db_generation(db), gen + 2);
    wr_db_close(db);
    wr_db_opts ro = {.readonly = true};
    REQUIRE_OK(wr_db_open(dir, &ro, &db, &eb), &eb);
    CHECK_EQ(wr_db_generation(db), gen + 2);
    REQUIRE_OK(wr_coll_open(db, "c", false, &c, &eb), &eb);
    CHECK_EQ(wr_coll_count(c), 3);
    wr_db_close(db);
    free(learn);
    free(dir);
}

/* The op numbers of the catalog's rename and of the directory fsync
 * right after it. */
typedef struct {
    uint64_t rename;
    cat_sync sync;
} cat_ops;

static void trace_catalog_ops(uint64_t op, const char *what,
                              const char *path, uint64_t off, size_t len,
                              void *arg)
{
    cat_ops *s = arg;
    trace_catalog_sync(op, what, path, off, len, &s->sync);
    if (s->sync.renamed && s->rename == 0)
        s->rename = op;
}

/* A checkpoint whose catalog write fails (its rename, or the directory's
 * fsync after it) leaves the catalog to write again: the next checkpoint
 * writes it though nothing changed since, and the documents the failed
 * one committed to the tree are there on reopen. It returned WR_OK and
 * wrote nothing: the trees' new generations were in no catalog on disk
 * (the rename's failure) or in one not made durable. */
static void test_db_checkpoint_after_failed_catalog_writes_it(void)
{
    wr_errbuf eb = {0};
    char *learn = tap_fresh_path("catretry-learn");
    wr_coll *c;
    wr_db *db;
    cat_ops co = {0, {false, 0}};
    one_committed_one_not(learn, &db, &c);
    REQUIRE(db != NULL);
    wri_io_fault_set(NULL);
    wri_io_trace_set(trace_catalog_ops, &co);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wri_io_trace_set(NULL, NULL);
    wr_db_close(db);
    uint64_t ops[2] = {co.rename, co.sync.op};
    REQUIRE(ops[0] > 0 && ops[1] == ops[0] + 1);
    for (int k = 0; k < 2; k++) { /* the rename, the directory's fsync */
        char *dir = tap_fresh_path(k == 0 ? "catretry-rename"
                                          : "catretry-dirsync");
        one_committed_one_not(dir, &db, &c);
        REQUIRE(db != NULL);
        uint64_t gen = wr_db_generation(db);
        wri_fault_plan p = {.kind = WRI_FAULT_FAIL, .at = ops[k],
                            .err = WR_EIO};
        wri_io_fault_set(&p);
        CHECK_EQ(wr_db_checkpoint(db, &eb), WR_EIO);
        wri_io_fault_set(NULL);
        CHECK_EQ(wr_db_generation(db), gen + (uint64_t)k);
        wr_errbuf_clear(&eb);
        REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb); /* nothing changed */
        CHECK_EQ(wr_db_generation(db), gen + 1 + (uint64_t)k);
        wr_db_close(db);
        wri_catalog cat = {0};
        REQUIRE_OK(wri_catalog_read(dir, &cat, &eb), &eb);
        CHECK_EQ(cat.gen, gen + 1 + (uint64_t)k);
        wri_catalog_free(&cat);
        wr_db_opts ro = {.readonly = true};
        REQUIRE_OK(wr_db_open(dir, &ro, &db, &eb), &eb);
        REQUIRE_OK(wr_coll_open(db, "c", false, &c, &eb), &eb);
        CHECK_EQ(wr_coll_count(c), 2);
        wr_db_close(db);
        free(dir);
    }
    free(learn);
}

/* Regression (found by the wr-dump work): creating a second collection
 * moved the catalog array under the first one's open trees. */
static void test_db_two_new_collections_one_session(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("two-colls");
    wr_db_opts o = {.create = true, .page_size = 512, .holder = "test"};
    wr_db *db;
    wr_coll *a, *b, *c;
    bson_t *d = BCON_NEW("_id", BCON_INT32(1), "x", BCON_UTF8("y"));
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "a", true, &a, &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(a, "x", &eb), &eb);
    REQUIRE_OK(wr_coll_put(a, d, NULL, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "b", true, &b, &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(b, "x", &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(b, "z", &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "c", true, &c, &eb), &eb);
    REQUIRE_OK(wr_coll_put(b, d, NULL, &eb), &eb);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wr_db_close(db);
    wr_db_opts ro = {.readonly = true};
    REQUIRE_OK(wr_db_open(dir, &ro, &db, &eb), &eb);
    CHECK_EQ(wr_db_ncoll(db), 3);
    REQUIRE_OK(wr_coll_open(db, "b", false, &b, &eb), &eb);
    CHECK_EQ(wr_coll_count(b), 1);
    CHECK_EQ(wr_coll_nindex(b), 2);
    wr_db_close(db);
    bson_destroy(d);
    free(dir);
}

/* wr_coll_check_put answers as wr_coll_put would (the same message for a
 * too long _id or index key), and changes nothing (wr-load's check pass). */
static void test_db_check_put_agrees_with_put(void)
{
    wr_errbuf eb = {0}, eb2 = {0};
    char *dir = tap_fresh_path("check-put");
    wr_db_opts o = {.create = true, .page_size = 512, .holder = "test"};
    wr_db *db;
    wr_coll *c;
    char big[400];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    bson_t *good = BCON_NEW("_id", BCON_INT32(1), "x", BCON_UTF8("y"));
    bson_t *longid = BCON_NEW("_id", BCON_UTF8(big), "x", BCON_UTF8("y"));
    bson_t *longkey = BCON_NEW("_id", BCON_INT32(2), "x", BCON_UTF8(big));
    bson_t *all[] = {good, longid, longkey};
    int want[] = {WR_OK, WR_EINVAL, WR_EINVAL};
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "c", true, &c, &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(c, "x", &eb), &eb);
    for (size_t i = 0; i < 3; i++) {
        uint64_t n = wr_coll_count(c);
        CHECK_EQ(wr_coll_check_put(c, all[i], &eb), want[i]);
        CHECK_EQ(wr_coll_count(c), n);
        CHECK_EQ(wr_coll_put(c, all[i], NULL, &eb2), want[i]);
        CHECK(strcmp(eb.msg, eb2.msg) == 0);
        CHECK(want[i] == WR_OK || strstr(eb.msg, "longer than") != NULL);
        wr_errbuf_clear(&eb);
        wr_errbuf_clear(&eb2);
    }
    CHECK_EQ(wr_coll_count(c), 1);
    wr_db_close(db);
    bson_destroy(good);
    bson_destroy(longid);
    bson_destroy(longkey);
    free(dir);
}

/* A database of collection "a" holding {_id: 1}, committed and closed. */
static int one_doc_db(const char *dir, wr_errbuf *eb)
{
    wr_db_opts o = {.create = true, .holder = "test"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    bson_t *d = BCON_NEW("_id", BCON_INT32(1));
    int rc = wr_db_open(dir, &o, &db, eb);
    if (rc == WR_OK && (rc = wr_coll_open(db, "a", true, &c, eb)) == WR_OK &&
        (rc = wr_coll_put(c, d, NULL, eb)) == WR_OK)
        rc = wr_db_checkpoint(db, eb);
    wr_db_close(db);
    bson_destroy(d);
    return rc;
}

/* A collection without indexes whose main table cannot be opened gives
 * the open's error (before: coll_load's cleanup closed index 0 of a NULL
 * array, a crash). */
static void test_db_coll_open_fails_cleanly(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("bad-main");
    char path[700];
    wr_db_opts o = {.create = true, .holder = "test"};
    wr_db *db;
    wr_coll *c;
    REQUIRE_OK(one_doc_db(dir, &eb), &eb);
    snprintf(path, sizeof path, "%s/a.main.wr", dir);
    REQUIRE(truncate(path, 0) == 0);
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    CHECK(wr_coll_open(db, "a", false, &c, &eb) != WR_OK);
    CHECK(strstr(eb.msg, "a.main.wr") != NULL);
    wr_db_close(db);
    free(dir);
}

/* A collection name holding the separator of index file names is
 * refused, so no two trees of a new database share a file name; the
 * file names read back to what made them. */
static void test_db_names_unambiguous(void)
{
    wr_errbuf eb = {0};
    const char *bad[] = {"c.idx.x", "c.idx", "a.idx.", ".idx.b", "x.idx.idx"};
    const char *good[] = {"c.idx2.x", "c.idxx", "idx.c", "c.ix.x", "idx"};
    char coll[WRI_NAME_MAX + 1], field[WRI_NAME_MAX + 1];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wr_errbuf_clear(&eb);
        CHECK_EQ(wri_check_coll_name(bad[i], &eb), WR_EINVAL);
        CHECK(strstr(eb.msg, ".idx") != NULL);
    }
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char *m = wri_tree_file_name(good[i], NULL);
        char *x = wri_tree_file_name(good[i], "x.main");
        CHECK_EQ(wri_check_coll_name(good[i], &eb), WR_OK);
        CHECK_EQ(wri_tree_file_parse(m, coll, field), 1);
        CHECK(strcmp(coll, good[i]) == 0 && field[0] == '\0');
        CHECK_EQ(wri_tree_file_parse(x, coll, field), 2);
        CHECK(strcmp(coll, good[i]) == 0 && strcmp(field, "x.main") == 0);
        free(m);
        free(x);
    }
}

/* A database an older wrtools made may hold a collection "c.idx.x", whose
 * main table c.idx.x.main.wr is also the file of the index on "x.main" of
 * "c": adding that index is refused naming both, and the file is left as
 * it was (before, it was unlinked and replaced by the new index). The old
 * collection still opens. */
static void test_db_index_never_replaces_a_named_file(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("legacy-names");
    char path[700];
    wri_block *b = NULL;
    wri_btree *bt = NULL;
    bson_t key;
    bson_t *d = BCON_NEW("_id", BCON_INT32(1), "v", BCON_UTF8("keep me"));
    REQUIRE(mkdir(dir, 0755) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/c.idx.x.main.wr", dir);
    wri_block_cfg cfg = {.role = WRI_ROLE_MAIN, .coll = "c.idx.x"};
    REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
    REQUIRE_OK(wri_btree_open(b, 1, &bt, &eb), &eb);
    REQUIRE_OK(wri_key_from_doc(d, &key, &eb), &eb);
    REQUIRE_OK(wri_btree_put(bt, bson_get_data(&key), key.len,
                             bson_get_data(d), d->len, NULL, &eb),
               &eb);
    REQUIRE_OK(wri_btree_checkpoint(bt, &eb), &eb);
    uint64_t gen = b->cur.gen;
    wri_btree_close(bt);
    wri_block_close(b);
    bson_destroy(&key);
    wri_cat_coll cc = {.name = "c.idx.x",
                       .main = {.file = "c.idx.x.main.wr", .gen = gen}};
    wri_catalog cat = {.gen = 1, .coll = &cc, .ncoll = 1};
    REQUIRE_OK(wri_catalog_write(dir, &cat, NULL, &eb), &eb);
    struct stat before, after;
    REQUIRE(stat(path, &before) == 0);

    wr_db_opts o = {.create = true, .holder = "test"};
    wr_db *db;
    wr_coll *c, *old;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "c.idx.x", false, &old, &eb), &eb);
    CHECK_EQ(wr_coll_count(old), 1);
    REQUIRE_OK(wr_coll_open(db, "c", true, &c, &eb), &eb);
    CHECK_EQ(wr_coll_add_index(c, "x.main", &eb), WR_EINVAL);
    CHECK(strstr(eb.msg, "c.idx.x.main.wr") != NULL);
    CHECK(strstr(eb.msg, "index on \"x.main\" of collection \"c\"") != NULL);
    CHECK(strstr(eb.msg, "main table of collection \"c.idx.x\"") != NULL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wr_coll_nindex(c), 0);
    CHECK_EQ(wr_coll_add_index(c, "y", &eb), WR_OK);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wr_db_close(db);
    REQUIRE(stat(path, &after) == 0);
    CHECK(before.st_ino == after.st_ino && before.st_size == after.st_size);
    wr_db_opts ro = {.readonly = true};
    REQUIRE_OK(wr_db_open(dir, &ro, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "c.idx.x", false, &old, &eb), &eb);
    CHECK_EQ(wr_coll_count(old), 1);
    wr_db_close(db);
    bson_destroy(d);
    free(dir);
}

/* A new, never committed tree file at its own name, as wri_block_create
 * leaves it. */
static int debris_make(const char *dir, const char *name, const char *coll,
                       wr_errbuf *eb)
{
    char path[700];
    wri_block *b = NULL;
    wri_block_cfg cfg = {.role = WRI_ROLE_MAIN, .coll = coll};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = wri_block_create(path, &cfg, &b, eb);
    wri_block_close(b);
    return rc;
}

static bool exists_in(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

typedef struct unnamed_seen {
    char list[512];
    int n, stop_after; /* 0: never */
} unnamed_seen;

static int unnamed_note(void *arg, const char *dir, const char *name,
                        bool debris, wr_errbuf *eb)
{
    unnamed_seen *u = arg;
    size_t at = strlen(u->list);
    (void)dir;
    (void)eb;
    snprintf(u->list + at, sizeof u->list - at, "%s %s, ", name,
             debris ? "debris" : "kept");
    return ++u->n == u->stop_after ? WR_EINTR : WR_OK;
}

/* Only what no catalog can ever have named is debris: an empty file, or
 * generation 1 only with the header of the tree its name is for. A
 * writer removes exactly those; a committed file, one whose header names
 * another tree and one with a torn slot stay. */
static void test_db_debris_is_proven_only(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("debris");
    char path[700];
    wr_db_opts o = {.create = true, .holder = "test"};
    wr_db *db;
    REQUIRE_OK(one_doc_db(dir, &eb), &eb);
    REQUIRE_OK(debris_make(dir, "b.main.wr", "b", &eb), &eb);
    REQUIRE_OK(debris_make(dir, "other.main.wr", "b2", &eb), &eb);
    REQUIRE_OK(debris_make(dir, "torn.main.wr", "torn", &eb), &eb);
    snprintf(path, sizeof path, "%s/torn.main.wr", dir);
    int fd = open(path, O_WRONLY);
    REQUIRE(fd >= 0);
    char junk[512];
    memset(junk, 0x5a, sizeof junk);
    CHECK(pwrite(fd, junk, sizeof junk, WRI_PAGE_DEFAULT) ==
          (ssize_t)sizeof junk); /* slot 1: written, and not a slot */
    close(fd);
    snprintf(path, sizeof path, "%s/empty.idx.x.wr", dir);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    REQUIRE(fd >= 0);
    close(fd);
    snprintf(path, sizeof path, "cp '%s/a.main.wr' '%s/copy.main.wr'", dir,
             dir);
    REQUIRE(system(path) == 0); /* committed, header says "a" */
    CHECK(wri_tree_file_debris(dir, "b.main.wr"));
    CHECK(wri_tree_file_debris(dir, "empty.idx.x.wr"));
    CHECK(!wri_tree_file_debris(dir, "other.main.wr"));
    CHECK(!wri_tree_file_debris(dir, "torn.main.wr"));
    CHECK(!wri_tree_file_debris(dir, "copy.main.wr"));
    CHECK(!wri_tree_file_debris(dir, "a.main.wr"));
    CHECK(!wri_tree_file_debris(dir, "missing.main.wr"));
    /* the one walk over the files the catalog does not name (verify's
     * orphans and debris, a writer's removal): in name order, each with
     * the verdict, the named one left out, stopped by its callback */
    wri_catalog cat;
    REQUIRE_OK(wri_catalog_read(dir, &cat, &eb), &eb);
    unnamed_seen seen = {.stop_after = 0};
    CHECK_EQ(wri_dir_unnamed_files(dir, &cat, unnamed_note, &seen, &eb),
             WR_OK);
    CHECK(strcmp(seen.list, "b.main.wr debris, copy.main.wr kept, "
                            "empty.idx.x.wr debris, other.main.wr kept, "
                            "torn.main.wr kept, ") == 0);
    unnamed_seen two = {.stop_after = 2};
    CHECK_EQ(wri_dir_unnamed_files(dir, &cat, unnamed_note, &two, &eb),
             WR_EINTR);
    CHECK(strcmp(two.list, "b.main.wr debris, copy.main.wr kept, ") == 0);
    memset(&seen, 0, sizeof seen);
    CHECK_EQ(wri_dir_unnamed_files(dir, NULL, unnamed_note, &seen, &eb),
             WR_OK);
    CHECK(strncmp(seen.list, "a.main.wr kept, b.main.wr debris, ", 34) == 0);
    wri_catalog_free(&cat);
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb); /* a writer */
    wr_db_close(db);
    CHECK(!exists_in(dir, "b.main.wr"));
    CHECK(!exists_in(dir, "empty.idx.x.wr"));
    CHECK(exists_in(dir, "other.main.wr"));
    CHECK(exists_in(dir, "torn.main.wr"));
    CHECK(exists_in(dir, "copy.main.wr"));
    CHECK(exists_in(dir, "a.main.wr"));
    free(dir);
}

int main(void)
{
    corpus_load();
    RUN(test_db_model_512);
    RUN(test_db_model_4096);
    RUN(test_db_model_small_memory);
    RUN(test_db_cursor_beside_small_memory);
    RUN(test_db_budget_counts_write_buffers);
    RUN(test_db_lock_refuses_second_writer);
    RUN(test_db_two_new_collections_one_session);
    RUN(test_db_check_put_agrees_with_put);
    RUN(test_db_coll_open_fails_cleanly);
    RUN(test_db_names_unambiguous);
    RUN(test_db_index_never_replaces_a_named_file);
    RUN(test_db_debris_is_proven_only);
    RUN(test_db_missing_and_not_a_db);
    RUN(test_db_close_keeps_a_committed_directory);
    RUN(test_db_checkpoint_dir_fsync_fails_after_rename);
    RUN(test_db_catalog_link_refused);
    RUN(test_db_checkpoint_after_failed_catalog_writes_it);
    RUN(test_catalog_decode_rejects_garbage);
    RUN(test_catalog_read_refuses_an_oversized_file);
    RUN(test_load_crash_sweep);
    RUN(test_load_enospc_sweep);
    RUN(test_load_power_sweep);
    RUN(test_load_power_sweep_memory);
    RUN(test_load_power_sweep_packed);
    RUN(test_load_power_torn_run);
    RUN(test_million_small_documents);
    for (size_t i = 0; i < ncorpus; i++)
        bson_destroy(corpus[i]);
    free(corpus);
    return tap_done();
}
