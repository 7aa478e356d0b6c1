/*
 * test_compact.c -- wr_compact(): fragmented databases shrink with their
 * content unchanged; page size and fill factor; the dry run's estimate is
 * exact; damaged files are refused; generation continuity (block.c I12);
 * and the crash and ENOSPC sweeps over every mutating op (compact.c
 * C1..C8: every file old or new, never a mix that the catalog disowns).
 */
#include "helper_fill.h"
#include "helper_db.h"
#include "tap.h"

#include "wr_int.h"
#include "helper_dirsnap.h"
#include "helper_power.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>


static char *path2(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* A whole file in memory (NULL if absent). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    *len = 0;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n : 1);
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    } else {
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

static int same_bytes(const char *path, const uint8_t *buf, size_t len)
{
    size_t n;
    uint8_t *b = slurp(path, &n);
    int same = b != NULL && n == len && memcmp(b, buf, len) == 0;
    free(b);
    return same;
}

static int tmp_files_in(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd,
             "ls '%s' | grep -q '\\.compact\\.tmp$'", dir);
    return system(cmd) == 0;
}

/* --- building fragmented databases ------------------------------------- */

static bson_t *make_doc(int id, int round)
{
    char pad[3100];
    int len = 10 + (id * 7 + round * 13) % 60;
    if (id == 7 && round > 0)
        len = 3000; /* an overflow value on small pages */
    memset(pad, 'a' + (id + round) % 26, (size_t)len);
    pad[len] = '\0';
    bson_t *d = bson_new();
    BSON_APPEND_INT32(d, "_id", id);
    BSON_APPEND_UTF8(d, "city", id % 5 == 0 ? "Oslo" : "Lima");
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(d, "tags", &arr);
    BSON_APPEND_INT32(&arr, "0", id % 3);
    BSON_APPEND_INT32(&arr, "1", round);
    bson_append_array_end(d, &arr);
    BSON_APPEND_UTF8(d, "pad", pad);
    return d;
}

/* n documents, checkpointed; two thirds deleted, the rest replaced by
 * bigger ones, over several checkpoints: the files end mostly free. */
static int build_db(const char *dir, uint32_t psize, int n)
{
    wr_errbuf eb = {0};
    wr_db_opts o = {.create = true, .page_size = psize, .holder = "test"};
    wr_db *db;
    wr_coll *c;
    int rc;
    if ((rc = wr_db_open(dir, &o, &db, &eb)) != WR_OK)
        return rc;
    if ((rc = wr_coll_open(db, "c", true, &c, &eb)) != WR_OK ||
        (rc = wr_coll_add_index(c, "city", &eb)) != WR_OK ||
        (rc = wr_coll_add_index(c, "tags", &eb)) != WR_OK)
        goto out;
    for (int i = 0; i < n && rc == WR_OK; i++) {
        bson_t *d = make_doc(i, 0);
        rc = wr_coll_put(c, d, NULL, &eb);
        bson_destroy(d);
    }
    if (rc != WR_OK || (rc = wr_db_checkpoint(db, &eb)) != WR_OK)
        goto out;
    for (int i = 0; i < n && rc == WR_OK; i++) {
        if (i % 3 == 0)
            continue;
        bson_t *d = make_doc(i, 0);
        rc = wr_coll_delete(c, d, &eb);
        bson_destroy(d);
        if (rc == WR_OK && i % 50 == 0)
            rc = wr_db_checkpoint(db, &eb);
    }
    if (rc != WR_OK || (rc = wr_db_checkpoint(db, &eb)) != WR_OK)
        goto out;
    for (int i = 0; i < n && rc == WR_OK; i += 3) {
        bson_t *d = make_doc(i == 6 ? 7 : i, 1);
        rc = wr_coll_put(c, d, NULL, &eb);
        bson_destroy(d);
    }
out:
    return db_build_end(db, rc, "build_db", &eb);
}

/* CRC of everything a database shows through its catalog: every document
 * and every index entry, in order. Opening it is part of the check. */
static int db_digest(const char *dir, bool previous, uint32_t *crc_out,
                     uint64_t *n_out)
{
    wr_errbuf eb = {0};
    wr_db_opts o = {.readonly = true, .previous = previous};
    wr_db *db;
    int rc;
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t n = 0;
    if ((rc = wr_db_open(dir, &o, &db, &eb)) != WR_OK)
        return rc;
    for (size_t i = 0; i < wr_db_ncoll(db) && rc == WR_OK; i++) {
        wr_coll *c;
        if ((rc = wr_coll_open(db, wr_db_coll_name(db, i), false, &c, &eb)) !=
            WR_OK)
            break;
        for (size_t k = 0; k <= wr_coll_nindex(c) && rc == WR_OK; k++) {
            wr_doc_cursor *cur;
            const uint8_t *d;
            uint32_t len;
            rc = k == 0 ? wr_doc_cursor_open(c, &cur, &eb)
                        : wr_index_cursor_open(c, k - 1, &cur, &eb);
            if (rc != WR_OK)
                break;
            while ((rc = wr_doc_cursor_next(cur, &d, &len, &eb)) == WR_OK) {
                uint8_t l4[4];
                wri_put32(l4, len);
                crc = crc32(crc, l4, 4);
                crc = crc32(crc, d, len);
                n++;
            }
            wr_doc_cursor_close(cur);
            if (rc == WR_ENOTFOUND)
                rc = WR_OK;
        }
    }
    wr_db_close(db);
    *crc_out = (uint32_t)crc;
    *n_out = n;
    return rc;
}

static const char *const tree_names[] = {"c.main.wr", "c.idx.city.wr",
                                         "c.idx.tags.wr"};
#define NTREES 3

typedef struct snapshot {
    uint8_t *buf[NTREES + 1]; /* tree files, then the catalog */
    size_t len[NTREES + 1];
} snapshot;

static void snap_take(snapshot *s, const char *dir)
{
    for (int i = 0; i <= NTREES; i++) {
        char *p = path2(dir, i < NTREES ? tree_names[i] : WR_CATALOG_NAME);
        s->buf[i] = slurp(p, &s->len[i]);
        free(p);
    }
}

static void snap_free(snapshot *s)
{
    for (int i = 0; i <= NTREES; i++)
        free(s->buf[i]);
}

/* Every file is the old or the new one; a new tree file implies the new
 * catalog (C6). Returns the number of new tree files, or -1. */
static int snap_judge(const char *dir, const snapshot *old,
                      const snapshot *new_, int *cat_new)
{
    int nnew = 0;
    for (int i = 0; i <= NTREES; i++) {
        char *p = path2(dir, i < NTREES ? tree_names[i] : WR_CATALOG_NAME);
        int o = same_bytes(p, old->buf[i], old->len[i]);
        int n = same_bytes(p, new_->buf[i], new_->len[i]);
        free(p);
        if (!o && !n)
            return -1;
        if (i < NTREES && n && !o)
            nnew++;
        if (i == NTREES)
            *cat_new = n && !o;
    }
    if (nnew > 0 && !*cat_new)
        return -1;
    return nnew;
}

typedef struct collect {
    wr_compact_file f[8];
    int n;
} collect;

static void on_file(const wr_compact_file *f, void *arg)
{
    collect *c = arg;
    if (c->n < 8)
        c->f[c->n++] = *f; /* strings are not kept: sizes only */
}

static int compact(const char *path, const wr_compact_opts *base,
                   wr_compact_stats *st, collect *col, wr_errbuf *eb)
{
    wr_compact_opts o = {0};
    if (base != NULL)
        o = *base;
    if (col != NULL) {
        memset(col, 0, sizeof *col);
        o.on_file = on_file;
        o.arg = col;
    }
    wr_errbuf_clear(eb);
    return wr_compact(path, &o, st, eb);
}

/* --- block and bulk additions ------------------------------------------- */

/* n documents {_id: i, pad: "vvv..."} of about vlen bytes (every 97th
 * 4000: an overflow value on small pages), bulk-added in _id order. */
static void bulk_keys(wri_bulk *bk, int n, int vlen, wr_errbuf *eb, int *rc)
{
    char pad[4100];
    for (int i = 0; i < n && *rc == WR_OK; i++) {
        int len = i % 97 == 5 ? 4000 : vlen;
        memset(pad, 'v', (size_t)len);
        pad[len] = '\0';
        bson_t doc = BSON_INITIALIZER, key;
        BSON_APPEND_INT32(&doc, "_id", i);
        BSON_APPEND_UTF8(&doc, "pad", pad);
        if ((*rc = wri_key_from_doc(&doc, &key, eb)) == WR_OK) {
            *rc = wri_bulk_add(bk, bson_get_data(&key), key.len,
                               bson_get_data(&doc), doc.len, eb);
            bson_destroy(&key);
        }
        bson_destroy(&doc);
    }
}

/* I12: a file created with first_gen G commits G into slot 1; erasing the
 * other slot leaves generation G alone, and a writer can go on from it. */
static void test_block_first_gen_and_erase_other(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("firstgen");
    char *path = path2(dir, "t.wr");
    wri_block *b = NULL;
    wri_bulk *bk = NULL;
    int rc = WR_OK;
    REQUIRE_OK(wri_io_mkdir(dir, &eb), &eb);
    wri_block_cfg bad = {.page_size = 512, .role = WRI_ROLE_MAIN,
                         .coll = "c", .first_gen = 1};
    CHECK_EQ(wri_block_create(path, &bad, &b, &eb), WR_EINVAL);
    CHECK(file_size(path) == 0);
    wri_block_cfg cfg = {.page_size = 512, .role = WRI_ROLE_MAIN,
                         .coll = "c", .first_gen = 7};
    REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
    CHECK_EQ(b->cur.gen, 6);
    CHECK_EQ(b->building, 7);
    REQUIRE_OK(wri_bulk_open(b, 100, &bk, &eb), &eb);
    bulk_keys(bk, 300, 40, &eb, &rc);
    REQUIRE_OK(rc, &eb);
    REQUIRE_OK(wri_bulk_finish(bk, &eb), &eb);
    wri_bulk_free(bk);
    CHECK_EQ(b->cur.gen, 7);
    CHECK_EQ(b->chosen, 1);
    REQUIRE_OK(wri_block_erase_other(b, &eb), &eb);
    wri_block_close(b);
    REQUIRE_OK(wri_block_open(path, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    CHECK_EQ(b->cur.gen, 7);
    CHECK(!b->slots[0].valid);
    CHECK(strstr(b->slots[0].why, "all zero") != NULL);
    CHECK_EQ(b->cur.nrecords, 300);
    wri_block_close(b);
    CHECK_EQ(wri_block_open(path, WRI_BLOCK_PREVIOUS, &b, &eb), WR_ENOTFOUND);
    /* a writer goes on: generation 8 lands in slot 0 */
    REQUIRE_OK(wri_block_open_gen(path, 0, 7, &b, &eb), &eb);
    wr_addr root = b->cur.root;
    REQUIRE_OK(wri_block_checkpoint(b, &root, b->cur.nrecords, b->cur.height,
                                    &eb),
               &eb);
    CHECK_EQ(b->cur.gen, 8);
    CHECK_EQ(b->chosen, 0);
    wri_block_close(b);
    REQUIRE_OK(wr_verify_simple(path, false, &eb), &eb);
    free(path);
    free(dir);
}

/* The dry run's byte count plus the two header blocks is the size of the
 * file a real build makes, for every page size and fill factor. */
static void test_bulk_dry_run_counts_exactly(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("bulkdry");
    REQUIRE_OK(wri_io_mkdir(dir, &eb), &eb);
    static const uint32_t sizes[] = {512, 4096, 65536};
    static const unsigned fills[] = {10, 55, 100};
    for (int s = 0; s < 3; s++)
        for (int f = 0; f < 3; f++) {
            int rc = WR_OK;
            char name[64];
            snprintf(name, sizeof name, "b%d_%d.wr", s, f);
            char *path = path2(dir, name);
            wri_block_cfg cfg = {.page_size = sizes[s],
                                 .role = WRI_ROLE_MAIN, .coll = "c"};
            wri_block *b;
            wri_bulk *real, *dry;
            REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
            REQUIRE_OK(wri_bulk_open(b, fills[f], &real, &eb), &eb);
            REQUIRE_OK(wri_bulk_open_dry(sizes[s], fills[f], &dry, &eb), &eb);
            bulk_keys(real, 2000, 30 + s * 50, &eb, &rc);
            bulk_keys(dry, 2000, 30 + s * 50, &eb, &rc);
            REQUIRE_OK(rc, &eb);
            REQUIRE_OK(wri_bulk_finish(real, &eb), &eb);
            REQUIRE_OK(wri_bulk_finish(dry, &eb), &eb);
            CHECK_EQ(wri_bulk_bytes(dry), wri_bulk_bytes(real));
            CHECK_EQ(2 * (uint64_t)sizes[s] + wri_bulk_bytes(dry),
                     file_size(path));
            wri_bulk_free(real);
            wri_bulk_free(dry);
            wri_block_close(b);
            free(path);
        }
    wri_bulk *bk;
    CHECK_EQ(wri_bulk_open_dry(1000, 100, &bk, &eb), WR_EINVAL);
    free(dir);
}

/* --- compaction ---------------------------------------------------------- */

/* 512-byte pages, most of the data deleted or replaced: every file
 * shrinks, the database shows the same documents and index entries, it
 * verifies, the catalog names the same generations (prev_gen = gen), and
 * writers can go on. */
static void test_compact_fragmented_512_shrinks_keeps_content(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("frag512");
    uint32_t crc0, crc1, crcp;
    uint64_t n0, n1, np;
    wri_catalog cat0, cat1;
    wr_compact_stats st = {0};
    collect col;
    REQUIRE_OK(build_db(dir, 512, 900), &eb);
    REQUIRE_OK(db_digest(dir, false, &crc0, &n0), &eb);
    REQUIRE_OK(wri_catalog_read(dir, &cat0, &eb), &eb);
    uint64_t before[NTREES];
    for (int i = 0; i < NTREES; i++) {
        char *p = path2(dir, tree_names[i]);
        before[i] = file_size(p);
        free(p);
    }
    REQUIRE_OK(compact(dir, NULL, &st, &col, &eb), &eb);
    REQUIRE_EQ(col.n, NTREES);
    CHECK_EQ(st.files, NTREES);
    CHECK_EQ(st.compacted, NTREES);
    for (int i = 0; i < NTREES; i++) {
        char *p = path2(dir, tree_names[i]);
        uint64_t after = file_size(p);
        CHECK_EQ(col.f[i].size_before, before[i]);
        CHECK_EQ(col.f[i].size_after, after);
        CHECK_EQ(col.f[i].rc, WR_OK);
        CHECK(after * 2 < before[i]);
        printf("# %s: %llu -> %llu bytes, live data %llu\n", tree_names[i],
               (unsigned long long)before[i], (unsigned long long)after,
               (unsigned long long)col.f[i].live_bytes);
        /* no free space left: no avail or discard extent, nothing past
         * the checkpoint's logical size */
        wri_block *b;
        wri_extent_stats es;
        REQUIRE_OK(wri_block_open(p, WRI_BLOCK_RDONLY, &b, &eb), &eb);
        wri_extent_stats_get(b->em, &es);
        CHECK_EQ(es.avail_bytes + es.discard_bytes, 0);
        CHECK_EQ(b->cur.logical_size, after);
        CHECK_EQ(b->extlist_pages, 0);
        CHECK(after >= col.f[i].live_bytes);
        wri_block_close(b);
        free(p);
    }
    CHECK(!tmp_files_in(dir));
    REQUIRE_OK(db_digest(dir, false, &crc1, &n1), &eb);
    CHECK_EQ(crc1, crc0);
    CHECK_EQ(n1, n0);
    REQUIRE_OK(db_digest(dir, true, &crcp, &np), &eb);
    CHECK_EQ(crcp, crc0); /* the previous snapshot is now the same one */
    REQUIRE_OK(wr_verify_simple(dir, false, &eb), &eb);
    REQUIRE_OK(wri_catalog_read(dir, &cat1, &eb), &eb);
    CHECK_EQ(cat1.gen, cat0.gen + 1);
    REQUIRE_EQ(cat1.ncoll, 1);
    CHECK_EQ(cat1.coll[0].main.gen, cat0.coll[0].main.gen);
    CHECK_EQ(cat1.coll[0].main.prev_gen, cat1.coll[0].main.gen);
    for (size_t k = 0; k < cat1.coll[0].nidx; k++) {
        CHECK_EQ(cat1.coll[0].idx[k].gen, cat0.coll[0].idx[k].gen);
        CHECK_EQ(cat1.coll[0].idx[k].prev_gen, cat1.coll[0].idx[k].gen);
    }
    wri_catalog_free(&cat0);
    wri_catalog_free(&cat1);
    /* a writer carries on from the compacted files */
    wr_db_opts o = {.holder = "test"};
    wr_db *db;
    wr_coll *c;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "c", false, &c, &eb), &eb);
    for (int i = 1000; i < 1100; i++) {
        bson_t *d = make_doc(i, 2);
        REQUIRE_OK(wr_coll_put(c, d, NULL, &eb), &eb);
        bson_destroy(d);
    }
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wr_db_close(db);
    REQUIRE_OK(wr_verify_simple(dir, false, &eb), &eb);
    REQUIRE_OK(db_digest(dir, true, &crcp, &np), &eb);
    CHECK_EQ(crcp, crc0); /* previous = the compacted snapshot */
    free(dir);
}

/* Generation continuity (C4, I12): the compacted file holds exactly the
 * generation the catalog names, in one slot; the other slot is zero. */
static void test_compact_keeps_the_catalog_generation(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("gens");
    wri_catalog cat;
    wri_block *b;
    REQUIRE_OK(build_db(dir, 512, 120), &eb);
    REQUIRE_OK(compact(dir, NULL, NULL, NULL, &eb), &eb);
    REQUIRE_OK(wri_catalog_read(dir, &cat, &eb), &eb);
    char *p = path2(dir, cat.coll[0].main.file);
    REQUIRE_OK(wri_block_open(p, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    CHECK_EQ(b->cur.gen, cat.coll[0].main.gen);
    CHECK(!b->slots[1 - b->chosen].valid);
    CHECK(strstr(b->slots[1 - b->chosen].why, "all zero") != NULL);
    wri_block_close(b);
    free(p);
    wri_catalog_free(&cat);
    free(dir);
}

/* A crashed writer left a newer, uncommitted checkpoint in a file: the
 * compacted file keeps the catalog's generation, not the newer one. */
static void test_compact_uses_the_catalog_checkpoint(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("catgen");
    wri_catalog cat;
    wri_block *b;
    wri_btree *t;
    uint32_t crc0, crc1;
    uint64_t n0, n1;
    REQUIRE_OK(build_db(dir, 512, 120), &eb);
    REQUIRE_OK(db_digest(dir, false, &crc0, &n0), &eb);
    REQUIRE_OK(wri_catalog_read(dir, &cat, &eb), &eb);
    char *p = path2(dir, cat.coll[0].main.file);
    uint64_t g = cat.coll[0].main.gen;
    /* a checkpoint of the main table that the catalog never named */
    REQUIRE_OK(wri_block_open_gen(p, 0, g, &b, &eb), &eb);
    REQUIRE_OK(wri_btree_open(b, 1, &t, &eb), &eb);
    bson_t doc = BSON_INITIALIZER, key;
    BSON_APPEND_INT32(&doc, "_id", 3);
    REQUIRE_OK(wri_key_from_doc(&doc, &key, &eb), &eb);
    REQUIRE_OK(wri_btree_delete(t, bson_get_data(&key), key.len, &eb), &eb);
    REQUIRE_OK(wri_btree_checkpoint(t, &eb), &eb);
    CHECK_EQ(b->cur.gen, g + 1);
    bson_destroy(&key);
    bson_destroy(&doc);
    wri_btree_close(t);
    wri_block_close(b);
    REQUIRE_OK(compact(dir, NULL, NULL, NULL, &eb), &eb);
    REQUIRE_OK(wri_block_open(p, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    CHECK_EQ(b->cur.gen, g);
    wri_block_close(b);
    REQUIRE_OK(db_digest(dir, false, &crc1, &n1), &eb);
    CHECK_EQ(crc1, crc0);
    CHECK_EQ(n1, n0);
    REQUIRE_OK(wr_verify_simple(dir, false, &eb), &eb);
    free(p);
    wri_catalog_free(&cat);
    free(dir);
}

/* --page-size: 512-byte pages become 4096-byte pages and back. */
static void test_compact_changes_page_size(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("psize");
    uint32_t crc0, crc1;
    uint64_t n0, n1;
    wri_block *b;
    collect col;
    REQUIRE_OK(build_db(dir, 512, 300), &eb);
    REQUIRE_OK(db_digest(dir, false, &crc0, &n0), &eb);
    static const uint32_t want[] = {4096, 65536, 512};
    for (int r = 0; r < 3; r++) {
        wr_compact_opts o = {.page_size = want[r]};
        REQUIRE_OK(compact(dir, &o, NULL, &col, &eb), &eb);
        for (int i = 0; i < NTREES; i++) {
            char *p = path2(dir, tree_names[i]);
            REQUIRE_OK(wri_block_open(p, WRI_BLOCK_RDONLY, &b, &eb), &eb);
            CHECK_EQ(b->page_size, want[r]);
            CHECK_EQ(col.f[i].page_size_after, want[r]);
            CHECK_EQ(col.f[i].page_size_before, r == 0 ? 512 : want[r - 1]);
            wri_block_close(b);
            free(p);
        }
        REQUIRE_OK(db_digest(dir, false, &crc1, &n1), &eb);
        CHECK_EQ(crc1, crc0);
        CHECK_EQ(n1, n0);
        REQUIRE_OK(wr_verify_simple(dir, false, &eb), &eb);
    }
    free(dir);
}

/* --fill: half-full pages make a bigger file with the same content; back
 * at 100% it is as small as before. */
static void test_compact_fill_factor(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("fill");
    uint32_t crc0, crc1;
    uint64_t n0, n1, full = 0, half = 0, again = 0;
    wr_compact_stats st = {0};
    REQUIRE_OK(build_db(dir, 512, 600), &eb);
    REQUIRE_OK(db_digest(dir, false, &crc0, &n0), &eb);
    wr_compact_opts o = {.fill_pct = 100};
    REQUIRE_OK(compact(dir, &o, &st, NULL, &eb), &eb);
    full = st.size_after;
    /* every page full (issue 13): none but the last of its level had room
     * for the next page's first item; leaves are long (format 2); the
     * main table's values longer than a block keep their tails in their
     * cells (format 3), those shorter are packed whole into them (format
     * 4), so no run has a part-empty block */
    uint64_t leaves = 0;
    for (int i = 0; i < NTREES; i++) {
        char *p = path2(dir, tree_names[i]);
        fill_report fr;
        CHECK_EQ(fill_check(p, &fr), 0);
        CHECK_EQ(fr.version, i == 0 ? WRI_VERSION_PACKED
                                    : WRI_VERSION_LONG_LEAVES);
        CHECK(i == 0 ? fr.tails > 0 : fr.tails == 0);
        CHECK(i == 0 ? fr.packed > 0 : fr.packed == 0);
        CHECK_EQ(fr.ovf_waste, 0);
        CHECK(fr.long_leaves > 0);
        leaves += fr.leaves;
        printf("# %s: %llu leaves (%llu long)\n", tree_names[i],
               (unsigned long long)fr.leaves,
               (unsigned long long)fr.long_leaves);
        CHECK_EQ(fr.not_full, 0);
        if (fr.not_full != 0)
            printf("# %s: %s\n", tree_names[i], fr.first);
        free(p);
    }
    /* (these trees fit one long leaf each: test_salvage checks the fill
     * of a compacted file of several) */
    CHECK(leaves >= NTREES);
    o.fill_pct = 50;
    memset(&st, 0, sizeof st);
    REQUIRE_OK(compact(dir, &o, &st, NULL, &eb), &eb);
    half = st.size_after;
    {
        char *p = path2(dir, tree_names[0]);
        fill_report fr;
        CHECK_EQ(fill_check(p, &fr), 0);
        CHECK(fr.not_full > 0); /* 50%: room left in every page */
        /* one-block leaves: every overflow value whole in its run */
        CHECK(fr.packed == 0 && fr.tails == 0 && fr.ovf_waste > 0);
        free(p);
    }
    REQUIRE_OK(db_digest(dir, false, &crc1, &n1), &eb);
    CHECK_EQ(crc1, crc0);
    REQUIRE_OK(wr_verify_simple(dir, false, &eb), &eb);
    o.fill_pct = 0; /* default: 100 */
    memset(&st, 0, sizeof st);
    REQUIRE_OK(compact(dir, &o, &st, NULL, &eb), &eb);
    again = st.size_after;
    {
        /* those whole values packed and split again (the rule FORMAT.md
         * gives for a file of whole values: compact it) */
        char *p = path2(dir, tree_names[0]);
        fill_report fr;
        CHECK_EQ(fill_check(p, &fr), 0);
        CHECK(fr.packed > 0 && fr.tails > 0 && fr.ovf_waste == 0);
        free(p);
    }
    printf("# fill 100%%: %llu bytes, 50%%: %llu bytes\n",
           (unsigned long long)full, (unsigned long long)half);
    CHECK(half > full * 3 / 2);
    CHECK_EQ(again, full);
    o.fill_pct = 5;
    CHECK_EQ(compact(dir, &o, NULL, NULL, &eb), WR_EINVAL);
    o.fill_pct = 100;
    o.page_size = 1000;
    CHECK_EQ(compact(dir, &o, NULL, NULL, &eb), WR_EINVAL);
    free(dir);
}

/* --dry-run writes nothing (not even the lock file) and predicts every
 * file's size exactly. */
static void test_compact_dry_run_estimate_is_exact(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("dry");
    snapshot s0;
    collect dry, real;
    wr_compact_stats sd = {0}, sr = {0};
    REQUIRE_OK(build_db(dir, 512, 600), &eb);
    char *lock = path2(dir, WR_LOCK_NAME);
    unlink(lock);
    snap_take(&s0, dir);
    for (unsigned fill = 60; fill <= 100; fill += 40) {
        wr_compact_opts o = {.dry_run = true, .fill_pct = fill,
                             .page_size = fill == 60 ? 1024 : 0};
        wri_io_fault_set(NULL);
        REQUIRE_OK(compact(dir, &o, &sd, &dry, &eb), &eb);
        CHECK_EQ(wri_io_op_count(), 0);
        int cat_new = 0;
        CHECK_EQ(snap_judge(dir, &s0, &s0, &cat_new), 0);
        CHECK(file_size(lock) == 0 && access(lock, F_OK) != 0);
        CHECK(!tmp_files_in(dir));
        REQUIRE_EQ(dry.n, NTREES);
        for (int i = 0; i < NTREES; i++)
            CHECK(strcmp(dry.f[i].status, "dry-run") == 0);
    }
    /* the real run at the last settings gives exactly the sizes said */
    wr_compact_opts o = {.fill_pct = 100};
    REQUIRE_OK(compact(dir, &o, &sr, &real, &eb), &eb);
    REQUIRE_EQ(real.n, NTREES);
    for (int i = 0; i < NTREES; i++) {
        CHECK_EQ(dry.f[i].size_after, real.f[i].size_after);
        CHECK_EQ(dry.f[i].records, real.f[i].records);
        CHECK_EQ(dry.f[i].live_bytes, real.f[i].live_bytes);
    }
    snap_free(&s0);
    free(lock);
    free(dir);
}

/* Damage in any file refuses the whole database (C2): nothing changes and
 * no temporary file is left. */
static void test_compact_refuses_a_damaged_file(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("damaged");
    snapshot s0;
    wri_block *b;
    collect col;
    REQUIRE_OK(build_db(dir, 512, 300), &eb);
    /* flip a byte in the root page of the second index */
    char *p = path2(dir, tree_names[2]);
    REQUIRE_OK(wri_block_open(p, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    uint64_t off = b->cur.root.off + 100;
    wri_block_close(b);
    FILE *f = fopen(p, "r+b");
    REQUIRE(f != NULL);
    fseek(f, (long)off, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, (long)off, SEEK_SET);
    fputc(ch ^ 0x20, f);
    fclose(f);
    snap_take(&s0, dir);
    int rc = compact(dir, NULL, NULL, &col, &eb);
    CHECK_EQ(rc, WR_ECORRUPT);
    CHECK(strstr(eb.msg, tree_names[2]) != NULL);
    CHECK(strstr(eb.msg, "not compacted") != NULL);
    REQUIRE_EQ(col.n, NTREES);
    CHECK(strcmp(col.f[2].status, "damaged") == 0);
    CHECK_EQ(col.f[2].rc, WR_ECORRUPT);
    CHECK(strcmp(col.f[0].status, "skipped") == 0);
    int cat_new = 0;
    CHECK_EQ(snap_judge(dir, &s0, &s0, &cat_new), 0);
    CHECK(!tmp_files_in(dir));
    /* the dry run says so too */
    wr_compact_opts o = {.dry_run = true};
    CHECK_EQ(compact(dir, &o, NULL, NULL, &eb), WR_ECORRUPT);
    /* found by the build's own read: no backup is made either */
    char *bdir = path2(tap_tmpdir(), "damaged-backup");
    wr_compact_opts ob = {.backup_dir = bdir};
    CHECK_EQ(compact(dir, &ob, NULL, NULL, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "not compacted") != NULL);
    CHECK(access(bdir, F_OK) != 0);
    CHECK_EQ(snap_judge(dir, &s0, &s0, &cat_new), 0);
    CHECK(!tmp_files_in(dir));
    free(bdir);
    /* and a lone copy of the damaged file */
    char *lone = path2(tap_tmpdir(), "damaged-lone.wr");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", p, lone);
    REQUIRE(system(cmd) == 0);
    CHECK_EQ(compact(lone, NULL, NULL, NULL, &eb), WR_ECORRUPT);
    snap_free(&s0);
    free(lone);
    free(p);
    free(dir);
}

/* The first gathered run (longer than 64 KiB) written into a copy being
 * built (*.compact.tmp): a write of the bulk loader while the walk of the
 * original still feeds it (the loader's side of the pipe). */
typedef struct loader_write {
    uint64_t op;
} loader_write;

static void trace_loader_write(uint64_t op, const char *what,
                               const char *path, uint64_t off, size_t len,
                               void *arg)
{
    loader_write *w = arg;
    const char *tail = ".compact.tmp";
    size_t n = strlen(path), tl = strlen(tail);
    (void)off;
    if (w->op == 0 && strcmp(what, "pwrite") == 0 && len > (64u << 10) &&
        n > tl && strcmp(path + n - tl, tail) == 0)
        w->op = op;
}

/* Op op of compacting dir (a write or fsync of the copy) failing with
 * WR_ECORRUPT, then WR_EIO: the run returns that code, the file's status
 * is "failed", not "damaged" (what wr-compact --json prints), the message
 * names the copy and how (what), the original file stays as it was (orig)
 * and no copy is left. */
static void copy_op_fails(const char *dir, uint64_t op, const char *what,
                          const char *file, const uint8_t *orig, size_t len0)
{
    wr_errbuf eb = {0};
    static const int codes[] = {WR_ECORRUPT, WR_EIO};
    for (int k = 0; k < 2; k++) {
        wri_fault_plan p = {.kind = WRI_FAULT_FAIL, .at = op,
                            .err = codes[k]};
        collect col;
        wri_io_fault_set(&p);
        int rc = compact(dir, NULL, NULL, &col, &eb);
        wri_io_fault_set(NULL);
        CHECK_EQ(rc, codes[k]);
        printf("# %s: %s\n", wr_errname(codes[k]), eb.msg);
        REQUIRE(col.n == 1);
        CHECK(strcmp(col.f[0].status, "failed") == 0);
        CHECK_EQ(col.f[0].rc, codes[k]);
        CHECK(strstr(eb.msg, ".compact.tmp") != NULL);
        CHECK(strstr(eb.msg, what) != NULL);
        CHECK(strstr(eb.msg, "injected") != NULL);
        CHECK(strstr(eb.msg, "damaged") == NULL);
        CHECK(strstr(eb.msg, "not compacted") == NULL);
        CHECK(same_bytes(file, orig, len0));
        CHECK(!tmp_files_in(dir));
    }
}

/* Which side failed decides the blame (compact.c C4), not the code: a
 * write of the copy failing on the loader's side is the copy's failure,
 * even with WR_ECORRUPT (the code damage has), never "the original is
 * damaged", and the file's status says "failed", not "damaged" (what
 * wr-compact --json prints); the original stays as it was and no copy is
 * left. */
static void test_compact_blames_the_side_that_failed(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("blame");
    char *file = path2(dir, "c.main.wr");
    wr_db_opts dbo = {.create = true, .page_size = 512, .holder = "test"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    char pad[1001];
    int rc;
    memset(pad, 'q', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    REQUIRE_OK(wr_db_open(dir, &dbo, &db, &eb), &eb);
    rc = wr_coll_open(db, "c", true, &c, &eb);
    for (int i = 0; i < 1200 && rc == WR_OK; i++) {
        bson_t *d = bson_new();
        BSON_APPEND_INT32(d, "_id", i);
        BSON_APPEND_UTF8(d, "pad", pad);
        rc = wr_coll_put(c, d, NULL, &eb);
        bson_destroy(d);
    }
    REQUIRE_OK(db_build_end(db, rc, "blame", &eb), &eb);
    /* several runs' worth: the first is written while items still come */
    REQUIRE(file_size(file) > 4 * (uint64_t)(256u << 10));
    size_t len0;
    uint8_t *orig = slurp(file, &len0);
    REQUIRE(orig != NULL);
    /* the op to fail, learned on a copy (the same ops, in order) */
    char *probe = tap_fresh_path("blame-probe");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", dir, probe);
    REQUIRE(system(cmd) == 0);
    loader_write w = {0};
    wri_io_trace_set(trace_loader_write, &w);
    wri_io_fault_set(NULL);
    rc = compact(probe, NULL, NULL, NULL, &eb);
    wri_io_trace_set(NULL, NULL);
    REQUIRE_OK(rc, &eb);
    REQUIRE(w.op > 0);
    free(probe);
    copy_op_fails(dir, w.op, "pwrite", file, orig, len0);
    /* and the run the fault stopped goes through */
    REQUIRE_OK(compact(dir, NULL, NULL, NULL, &eb), &eb);
    CHECK(file_size(file) < len0);
    free(orig);
    free(file);
    free(dir);
}

/* The one fsync of the copy (*.compact.tmp: its commits skip theirs,
 * block.c I14), on C5's side thread. */
static void trace_copy_fsync(uint64_t op, const char *what, const char *path,
                             uint64_t off, size_t len, void *arg)
{
    uint64_t *at = arg;
    const char *tmp = ".compact.tmp";
    size_t n = strlen(path), k = strlen(tmp);
    (void)off;
    (void)len;
    if (*at == 0 && strcmp(what, "fsync") == 0 && n >= k &&
        strcmp(path + n - k, tmp) == 0)
        *at = op;
}

/* That fsync failing (C5's side thread) fails the file: the run returns
 * its error, the status is "failed", not "damaged", even with the code
 * damage has, the original stays as it was and no copy is left; then a
 * run goes through. */
static void test_compact_copy_fsync_fails(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("copysync");
    char *file = path2(dir, "c.main.wr");
    wr_db_opts dbo = {.create = true, .page_size = 512, .holder = "test"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    int rc;
    REQUIRE_OK(wr_db_open(dir, &dbo, &db, &eb), &eb);
    rc = wr_coll_open(db, "c", true, &c, &eb);
    for (int i = 0; i < 300 && rc == WR_OK; i++) {
        bson_t *d = BCON_NEW("_id", BCON_INT32(i), "x", BCON_INT32(i * 7));
        rc = wr_coll_put(c, d, NULL, &eb);
        bson_destroy(d);
    }
    REQUIRE_OK(db_build_end(db, rc, "copysync", &eb), &eb);
    size_t len0;
    uint8_t *orig = slurp(file, &len0);
    REQUIRE(orig != NULL);
    char *probe = tap_fresh_path("copysync-probe");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", dir, probe);
    REQUIRE(system(cmd) == 0);
    uint64_t op = 0;
    wri_io_fault_set(NULL);
    wri_io_trace_set(trace_copy_fsync, &op);
    rc = compact(probe, NULL, NULL, NULL, &eb);
    wri_io_trace_set(NULL, NULL);
    REQUIRE_OK(rc, &eb);
    REQUIRE(op > 0);
    free(probe);
    copy_op_fails(dir, op, "fsync", file, orig, len0);
    REQUIRE_OK(compact(dir, NULL, NULL, NULL, &eb), &eb);
    free(orig);
    free(file);
    free(dir);
}

/* A tree file outside any database is compacted at its latest checkpoint;
 * a file named on its own inside a database keeps the catalog's. */
static void test_compact_single_files(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("single");
    char *lonedir = tap_fresh_path("single-lone");
    wri_block *b;
    wri_catalog cat0, cat1;
    uint32_t crc0, crc1;
    uint64_t n0, n1;
    collect col;
    REQUIRE_OK(build_db(dir, 512, 300), &eb);
    REQUIRE_OK(wri_io_mkdir(lonedir, &eb), &eb);
    char *src = path2(dir, tree_names[0]);
    char *lone = path2(lonedir, "copy.wr");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, lone);
    REQUIRE(system(cmd) == 0);
    uint64_t before = file_size(lone);
    REQUIRE_OK(compact(lone, NULL, NULL, &col, &eb), &eb);
    REQUIRE_EQ(col.n, 1);
    CHECK(file_size(lone) * 2 < before);
    REQUIRE_OK(wri_block_open(lone, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    CHECK_EQ(b->cur.role, WRI_ROLE_MAIN);
    CHECK(strcmp(b->cur.coll, "c") == 0);
    wri_block_close(b);
    REQUIRE_OK(wr_verify_simple(lone, false, &eb), &eb);
    /* one index of the database, named alone */
    REQUIRE_OK(db_digest(dir, false, &crc0, &n0), &eb);
    REQUIRE_OK(wri_catalog_read(dir, &cat0, &eb), &eb);
    char *idx = path2(dir, tree_names[1]);
    REQUIRE_OK(compact(idx, NULL, NULL, &col, &eb), &eb);
    REQUIRE_EQ(col.n, 1);
    REQUIRE_OK(wri_catalog_read(dir, &cat1, &eb), &eb);
    CHECK_EQ(cat1.gen, cat0.gen + 1);
    CHECK_EQ(cat1.coll[0].idx[0].prev_gen, cat1.coll[0].idx[0].gen);
    CHECK_EQ(cat1.coll[0].main.prev_gen, cat0.coll[0].main.prev_gen);
    REQUIRE_OK(db_digest(dir, false, &crc1, &n1), &eb);
    CHECK_EQ(crc1, crc0);
    REQUIRE_OK(wr_verify_simple(dir, false, &eb), &eb);
    /* not a tree file; missing */
    char *junk = path2(lonedir, "junk.wr");
    FILE *f = fopen(junk, "w");
    fputs("hello, not a tree file\n", f);
    fclose(f);
    CHECK(compact(junk, NULL, NULL, NULL, &eb) != WR_OK);
    CHECK(access(junk, F_OK) == 0);
    char *missing = path2(lonedir, "missing.wr");
    CHECK_EQ(compact(missing, NULL, NULL, NULL, &eb), WR_ENOTFOUND);
    /* a directory of tree files without a catalog: a lost catalog,
     * damage (review4 #13), never "not a database" */
    CHECK_EQ(compact(lonedir, NULL, NULL, NULL, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "catalog is lost") != NULL);
    wri_catalog_free(&cat0);
    wri_catalog_free(&cat1);
    free(missing);
    free(junk);
    free(idx);
    free(src);
    free(lone);
    free(lonedir);
    free(dir);
}

/* --backup-dir: BACKUP/NAME/ holds the originals byte for byte, the
 * catalog and a MANIFEST; a second run into the same place goes on while
 * the files are what the first made, and is refused once they changed. */
/* C3: with a backup directory every original and the catalog are copied
 * with a manifest of CRC-32s and sizes, and the copies check. */
static void test_compact_backup(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("bdb");
    char *bdir = tap_fresh_path("backups");
    snapshot s0;
    REQUIRE_OK(build_db(dir, 512, 200), &eb);
    snap_take(&s0, dir);
    wr_compact_opts o = {.backup_dir = bdir};
    collect col;
    REQUIRE_OK(compact(dir, &o, NULL, &col, &eb), &eb);
    char *target = path2(bdir, "bdb");
    int cat_new = 0;
    CHECK_EQ(snap_judge(target, &s0, &s0, &cat_new), 0);
    char *man = path2(target, "MANIFEST");
    size_t ml;
    uint8_t *m = slurp(man, &ml);
    REQUIRE(m != NULL);
    m = realloc(m, ml + 1);
    m[ml] = 0;
    CHECK(strstr((char *)m, "c.main.wr") != NULL);
    CHECK(strstr((char *)m, WR_CATALOG_NAME) != NULL);
    CHECK(col.f[0].backup != NULL);
    free(m);
    /* the copies form the old database, complete */
    REQUIRE_OK(wr_verify_simple(target, false, &eb), &eb);
    /* another run with the same backup directory on the bytes the first
     * one made (MANIFEST.next): it goes on and keeps the backup */
    REQUIRE_OK(compact(dir, &o, NULL, NULL, &eb), &eb);
    CHECK_EQ(snap_judge(target, &s0, &s0, &cat_new), 0);
    /* once the database changed, the backup is refused */
    {
        wr_db_opts wo = {.holder = "test"};
        wr_db *db;
        wr_coll *c;
        REQUIRE_OK(wr_db_open(dir, &wo, &db, &eb), &eb);
        bson_t *d = make_doc(100000, 0);
        int prc = wr_coll_open(db, "c", false, &c, &eb);
        if (prc == WR_OK)
            prc = wr_coll_put(c, d, NULL, &eb);
        if (prc == WR_OK)
            prc = wr_db_checkpoint(db, &eb);
        bson_destroy(d);
        wr_db_close(db);
        REQUIRE_OK(prc, &eb);
    }
    snapshot s1;
    snap_take(&s1, dir);
    int rc = compact(dir, &o, NULL, NULL, &eb);
    CHECK_EQ(rc, WR_EEXIST);
    CHECK(strstr(eb.msg, "bdb") != NULL);
    CHECK_EQ(snap_judge(dir, &s1, &s1, &cat_new), 0);
    snap_free(&s0);
    snap_free(&s1);
    free(man);
    free(target);
    free(bdir);
    free(dir);
}

/* A writer holding the lock: refused, naming it. */
static void test_compact_lock_held(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("locked");
    wri_lock *lk;
    REQUIRE_OK(build_db(dir, 512, 60), &eb);
    REQUIRE_OK(wri_io_lock_dir(dir, "wr-somebody", &lk, &eb), &eb);
    CHECK_EQ(compact(dir, NULL, NULL, NULL, &eb), WR_ELOCKED);
    CHECK(strstr(eb.msg, "wr-somebody") != NULL);
    wri_io_unlock_dir(lk);
    REQUIRE_OK(compact(dir, NULL, NULL, NULL, &eb), &eb);
    free(dir);
}

/* The digests C5 compares, per file of a database, from a full verify:
 * the selected checkpoint's item digest and content digest. */
typedef struct file_digests {
    size_t n;
    char name[8][64];
    bool has_items[8], has_docs[8];
    uint8_t items[8][WR_DIGEST_LEN], docs[8][WR_DIGEST_LEN];
    uint64_t keys[8];
} file_digests;

static void verify_digests(const char *dir, bool item_digest,
                           file_digests *fd)
{
    wr_errbuf eb = {0};
    wr_verify_opts o = {.digest = WR_DIGEST_SHA256,
                        .item_digest = item_digest};
    wr_verify_report *r = NULL;
    memset(fd, 0, sizeof *fd);
    CHECK_EQ(wr_verify(dir, &o, &r, &eb), WR_OK);
    for (size_t i = 0; r != NULL && i < r->nfiles && fd->n < 8; i++) {
        const wr_verify_file *f = &r->files[i];
        for (size_t k = 0; k < f->nckpt; k++) {
            const wr_verify_ckpt *ck = &f->ckpt[k];
            if (!ck->selected)
                continue;
            const char *base = strrchr(f->path, '/');
            snprintf(fd->name[fd->n], 64, "%s", base ? base + 1 : f->path);
            fd->has_items[fd->n] = ck->has_item_digest;
            fd->has_docs[fd->n] = ck->has_digest;
            memcpy(fd->items[fd->n], ck->item_digest, WR_DIGEST_LEN);
            memcpy(fd->docs[fd->n], ck->digest, WR_DIGEST_LEN);
            fd->keys[fd->n] = ck->keys;
            fd->n++;
        }
    }
    wr_verify_report_free(r);
}

/* C5's digests depend on the items only, never on the layout: a compacted
 * database with another page size shows the same item digest and content
 * digest per file as the original's checkpoint; without the option there
 * is no item digest; an index has an item digest and no content digest;
 * and changing one document changes the main table's digests. */
static void test_compact_digests_are_layout_free(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("digests");
    file_digests before, after, none;
    REQUIRE_OK(build_db(dir, 512, 600), &eb);
    verify_digests(dir, false, &none);
    verify_digests(dir, true, &before);
    CHECK_EQ(before.n, 3);
    for (size_t i = 0; i < none.n; i++)
        CHECK(!none.has_items[i]);
    wr_compact_opts o = {.page_size = 2048};
    REQUIRE_OK(compact(dir, &o, NULL, NULL, &eb), &eb);
    verify_digests(dir, true, &after);
    CHECK_EQ(after.n, before.n);
    int mains = 0;
    for (size_t i = 0; i < before.n && i < after.n; i++) {
        CHECK(strcmp(before.name[i], after.name[i]) == 0);
        CHECK(before.has_items[i] && after.has_items[i]);
        CHECK(memcmp(before.items[i], after.items[i], WR_DIGEST_LEN) == 0);
        CHECK_EQ(before.keys[i], after.keys[i]);
        CHECK(before.has_docs[i] == after.has_docs[i]);
        if (before.has_docs[i]) {
            mains++;
            CHECK(memcmp(before.docs[i], after.docs[i], WR_DIGEST_LEN) == 0);
        }
    }
    CHECK_EQ(mains, 1);
    /* one document replaced by one of another size */
    wr_db_opts dbo = {.holder = "test"};
    wr_db *db;
    wr_coll *c;
    REQUIRE_OK(wr_db_open(dir, &dbo, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "c", false, &c, &eb), &eb);
    bson_t *d = make_doc(3, 7);
    CHECK_EQ(wr_coll_put(c, d, NULL, &eb), WR_OK);
    bson_destroy(d);
    CHECK_EQ(wr_db_checkpoint(db, &eb), WR_OK);
    wr_db_close(db);
    file_digests changed;
    verify_digests(dir, true, &changed);
    for (size_t i = 0; i < changed.n && i < after.n; i++) {
        if (!changed.has_docs[i])
            continue;
        CHECK(memcmp(changed.docs[i], after.docs[i], WR_DIGEST_LEN) != 0);
        CHECK(memcmp(changed.items[i], after.items[i], WR_DIGEST_LEN) != 0);
    }
    /* one byte of one document, its size kept: the item digest (what C5
     * compares) covers the documents' bytes, not only their lengths */
    file_digests same_size[2];
    for (int k = 0; k < 2; k++) {
        REQUIRE_OK(wr_db_open(dir, &dbo, &db, &eb), &eb);
        REQUIRE_OK(wr_coll_open(db, "c", false, &c, &eb), &eb);
        d = BCON_NEW("_id", BCON_INT32(3), "v", BCON_UTF8(k ? "xyzzy" : "xyzzz"));
        CHECK_EQ(wr_coll_put(c, d, NULL, &eb), WR_OK);
        bson_destroy(d);
        CHECK_EQ(wr_db_checkpoint(db, &eb), WR_OK);
        wr_db_close(db);
        verify_digests(dir, true, &same_size[k]);
    }
    int compared = 0;
    for (size_t i = 0; i < same_size[0].n && i < same_size[1].n; i++) {
        if (!same_size[0].has_docs[i])
            continue;
        compared++;
        CHECK(same_size[0].has_items[i] && same_size[1].has_items[i]);
        CHECK(memcmp(same_size[0].items[i], same_size[1].items[i],
                     WR_DIGEST_LEN) != 0);
    }
    CHECK_EQ(compared, 1);
    free(dir);
}

static volatile int stop_flag;

static void stop_soon(const wr_compact_progress *p, void *arg)
{
    (void)arg;
    if (strcmp(p->phase, "copying") == 0 || strcmp(p->phase, "comparing") == 0)
        stop_flag = 1;
}

/* SIGINT's flag during the copy or the comparison: WR_EINTR, the new
 * files removed, nothing replaced. */
static void test_compact_interrupted(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("intr");
    snapshot s0;
    REQUIRE_OK(build_db(dir, 512, 4000), &eb);
    snap_take(&s0, dir);
    wr_compact_opts o = {.progress = stop_soon, .interrupted = &stop_flag};
    stop_flag = 0;
    CHECK_EQ(compact(dir, &o, NULL, NULL, &eb), WR_EINTR);
    CHECK(stop_flag == 1);
    int cat_new = 0;
    CHECK_EQ(snap_judge(dir, &s0, &s0, &cat_new), 0);
    CHECK(!tmp_files_in(dir));
    snap_free(&s0);
    free(dir);
}

/* truncates the main table's original (a writer that does not take the
 * lock) when its copy begins */
static void shrink_original(const wr_compact_progress *p, void *arg)
{
    int *done = arg;
    size_t n = strlen(p->path);
    if (!*done && strcmp(p->phase, "copying") == 0 && n > 8 &&
        strcmp(p->path + n - 8, ".main.wr") == 0) {
        *done = truncate(p->path, 4096) == 0 ? 1 : -1;
    }
}

/* The original shrinks while the build reads it through its mapping (it
 * is all in the page cache: just written): WR_EIO naming the file and the
 * reason, not a verdict of damage and not SIGBUS; no new file left, the
 * lock released. Run in a child: a signal is a failed check. */
static void test_compact_original_shrinks(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("shrinks");
    REQUIRE_OK(build_db(dir, 512, 4000), &eb);
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int done = 0;
        wr_compact_opts o = {.progress = shrink_original, .arg = &done};
        int rc = wr_compact(dir, &o, NULL, &eb);
        printf("# rc %d: %s\n", rc, eb.msg);
        fflush(stdout);
        _exit(done == 1 && rc == WR_EIO &&
                      strstr(eb.msg, "c.main.wr: the file changed or shrank "
                                     "while it was read") != NULL
                  ? 0
                  : 1);
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st))
        printf("# the compaction died of signal %d\n", WTERMSIG(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(!tmp_files_in(dir));
    wri_lock *lk = NULL;
    CHECK_EQ(wri_io_lock_dir(dir, "test", &lk, &eb), WR_OK);
    wri_io_unlock_dir(lk);
    free(dir);
}

/* --- sweeps -------------------------------------------------------------- */

/* What the reference run did at each op: the catalog's commit rename, and
 * which ops are writes (only those can be torn). */
typedef struct op_marks {
    uint64_t cat_rename;
    uint8_t is_write[4096];
    pw_lock_ops lock; /* which ops release the directory lock */
} op_marks;

static void trace_ops(uint64_t op, const char *what, const char *path,
                      uint64_t off, size_t len, void *arg)
{
    op_marks *m = arg;
    size_t n = strlen(path);
    const char *tail = WR_CATALOG_NAME ".tmp";
    (void)off;
    if (strcmp(what, "rename") == 0 && n >= strlen(tail) &&
        strcmp(path + n - strlen(tail), tail) == 0)
        m->cat_rename = op;
    if (op < sizeof m->is_write && strcmp(what, "pwrite") == 0 && len > 256)
        m->is_write[op] = 1;
    pw_lock_note(&m->lock, op, what, path);
}

/* A small fragmented database (base), its content, the bytes of its files
 * before and after an undisturbed run, and a working copy (dir). */
typedef struct sweep_fixture {
    char *base, *dir;
    snapshot old, ref;
    uint32_t crc;
    uint64_t n, total;
    op_marks marks;
    uint32_t verified; /* states (new-file mask) already verified */
    wr_compact_opts o; /* the runs' options (backup_dir or none) */
} sweep_fixture;

/* dir := the base database: its files back, everything else removed
 * (and the backup directory, if the runs make one). */
static int fixture_reset(sweep_fixture *fx)
{
    if (fx->o.backup_dir != NULL && dirsnap_remove_tree(fx->o.backup_dir) != 0)
        return -1;
    DIR *d = opendir(fx->dir);
    struct dirent *de;
    if (d == NULL && mkdir(fx->dir, 0755) != 0)
        return -1;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *p = path2(fx->dir, de->d_name);
        unlink(p);
        free(p);
    }
    if (d != NULL)
        closedir(d);
    for (int i = 0; i <= NTREES; i++) {
        char *p = path2(fx->dir, i < NTREES ? tree_names[i] : WR_CATALOG_NAME);
        FILE *f = fopen(p, "wb");
        free(p);
        if (f == NULL ||
            fwrite(fx->old.buf[i], 1, fx->old.len[i], f) != fx->old.len[i]) {
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
    }
    return 0;
}

static int fixture_make(sweep_fixture *fx, const char *name, bool backup)
{
    wr_errbuf eb = {0};
    char b[64];
    memset(fx, 0, sizeof *fx);
    snprintf(b, sizeof b, "%s-base", name);
    fx->base = tap_fresh_path(b);
    fx->dir = tap_fresh_path(name);
    if (backup) {
        snprintf(b, sizeof b, "%s-backups", name);
        fx->o.backup_dir = tap_fresh_path(b);
    }
    if (build_db(fx->base, 512, 150) != WR_OK ||
        db_digest(fx->base, false, &fx->crc, &fx->n) != WR_OK)
        return -1;
    snap_take(&fx->old, fx->base);
    if (fixture_reset(fx) != 0)
        return -1;
    wri_io_trace_set(trace_ops, &fx->marks);
    wri_io_fault_set(NULL);
    int rc = compact(fx->dir, &fx->o, NULL, NULL, &eb);
    fx->total = wri_io_op_count();
    wri_io_trace_set(NULL, NULL);
    if (rc != WR_OK) {
        printf("# reference run: %s\n", eb.msg);
        return -1;
    }
    snap_take(&fx->ref, fx->dir);
    return 0;
}

static void fixture_free(sweep_fixture *fx)
{
    snap_free(&fx->old);
    snap_free(&fx->ref);
    free((char *)fx->o.backup_dir);
    free(fx->base);
    free(fx->dir);
}

/* The database opens through its catalog, shows the original content in
 * the current and the previous snapshot, and verifies. */
static int fixture_check_db(sweep_fixture *fx, const char *what)
{
    wr_errbuf eb = {0};
    uint32_t crc;
    uint64_t n;
    int rc;
    if ((rc = db_digest(fx->dir, false, &crc, &n)) != WR_OK ||
        crc != fx->crc || n != fx->n) {
        TAP_FAIL("%s: content differs or cannot be read (rc %d)", what, rc);
        return -1;
    }
    if ((rc = db_digest(fx->dir, true, &crc, &n)) != WR_OK) {
        TAP_FAIL("%s: the previous snapshot cannot be opened (rc %d)", what,
                 rc);
        return -1;
    }
    if ((rc = wr_verify_simple(fx->dir, false, &eb)) != WR_OK) {
        TAP_FAIL("%s: verify: %s", what, eb.msg);
        return -1;
    }
    return 0;
}

/* After an interruption: every file old or new, a new tree file only
 * with the new catalog (C6, C7), and the database checks out. The files
 * are byte for byte one of at most 2^4 states; each state is checked in
 * full the first time it is seen. */
static int fixture_judge(sweep_fixture *fx, const char *what, int *nnew,
                         int *cat_new)
{
    uint32_t mask = 0;
    *cat_new = 0;
    *nnew = 0;
    for (int i = 0; i <= NTREES; i++) {
        char *p = path2(fx->dir, i < NTREES ? tree_names[i] : WR_CATALOG_NAME);
        int o = same_bytes(p, fx->old.buf[i], fx->old.len[i]);
        int n = same_bytes(p, fx->ref.buf[i], fx->ref.len[i]);
        free(p);
        if (!o && !n) {
            TAP_FAIL("%s: %s is neither the old nor the new file", what,
                     i < NTREES ? tree_names[i] : WR_CATALOG_NAME);
            return -1;
        }
        if (n && !o)
            mask |= 1u << i;
    }
    *cat_new = (mask >> NTREES) & 1;
    for (int i = 0; i < NTREES; i++)
        *nnew += (mask >> i) & 1;
    if (*nnew > 0 && !*cat_new) {
        TAP_FAIL("%s: a compacted file without the new catalog", what);
        return -1;
    }
    if (fx->verified & (1u << mask))
        return 0;
    if (fixture_check_db(fx, what) != 0)
        return -1;
    fx->verified |= 1u << mask;
    return 0;
}

/* The backup holds the original files byte for byte (the copies of the
 * first run, kept by a rerun). */
static int fixture_check_backup(sweep_fixture *fx, const char *what)
{
    char *bk = path2(fx->o.backup_dir, strrchr(fx->dir, '/') + 1);
    int bad = 0;
    for (int i = 0; i <= NTREES && !bad; i++) {
        char *p = path2(bk, i < NTREES ? tree_names[i] : WR_CATALOG_NAME);
        if (!same_bytes(p, fx->old.buf[i], fx->old.len[i])) {
            TAP_FAIL("%s: the backup's %s is not the original", what, p);
            bad = 1;
        }
        free(p);
    }
    free(bk);
    return -bad;
}

/* A rerun finishes the job: the tree files end as the reference run's
 * (the catalog only differs in its generation). */
static int fixture_rerun(sweep_fixture *fx, const char *what)
{
    wr_errbuf eb = {0};
    wri_io_fault_set(NULL);
    int rc = compact(fx->dir, &fx->o, NULL, NULL, &eb);
    if (rc != WR_OK) {
        TAP_FAIL("%s: rerun: %s", what, eb.msg);
        return -1;
    }
    if (fx->o.backup_dir != NULL && fixture_check_backup(fx, what) != 0)
        return -1;
    if (tmp_files_in(fx->dir)) {
        TAP_FAIL("%s: the rerun left a temporary file", what);
        return -1;
    }
    for (int i = 0; i < NTREES; i++) {
        char *p = path2(fx->dir, tree_names[i]);
        int same = same_bytes(p, fx->ref.buf[i], fx->ref.len[i]);
        free(p);
        if (!same) {
            TAP_FAIL("%s: rerun: %s differs from the reference", what,
                     tree_names[i]);
            return -1;
        }
    }
    return fixture_check_db(fx, what);
}

/* Run compact with plan p in a child (a crash point past the last op
 * crashes at the end), then judge what it left (fixture_judge) and count
 * it in counts[0..2]: old, mixed, new. 0, or -1 after a TAP failure. */
static int fixture_crash(sweep_fixture *fx, const char *what,
                         const wri_fault_plan *p, int counts[3], int *nnew,
                         int *cat_new)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        wr_errbuf eb = {0};
        wri_io_fault_set(p);
        compact(fx->dir, &fx->o, NULL, NULL, &eb);
        if (p->at > fx->total)
            wri_io_crash_now();
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != WRI_IO_CRASH_EXIT) {
        TAP_FAIL("%s: the child did not crash (status %d)", what, st);
        return -1;
    }
    if (fixture_judge(fx, what, nnew, cat_new) != 0)
        return -1;
    counts[*nnew == 0 ? 0 : *nnew < NTREES ? 1 : 2]++;
    return 0;
}

/* Crash at every mutating op, and torn at every write: every file old or
 * new, the database opens with its content and verifies; a rerun
 * completes. */
static void test_compact_crash_sweep(void)
{
    sweep_fixture fx;
    REQUIRE(fixture_make(&fx, "crash", false) == 0);
    REQUIRE(fx.total > 20 && fx.total < sizeof fx.marks.is_write);
    REQUIRE(fx.marks.cat_rename > 0);
    int bad = 0, at[3] = {0}, points = 0;
    for (uint64_t n = 1; n <= fx.total && bad < 3; n++) {
        for (int tear = 0; tear < 2 && bad < 3; tear++) {
            char what[64];
            if (tear && !fx.marks.is_write[n])
                continue;
            snprintf(what, sizeof what, "op %llu%s", (unsigned long long)n,
                     tear ? " torn" : "");
            REQUIRE(fixture_reset(&fx) == 0);
            wri_fault_plan p = {.kind = WRI_FAULT_CRASH, .at = n,
                                .tear = tear ? 256 : 0};
            int nnew, cat_new;
            points++;
            if (fixture_crash(&fx, what, &p, at, &nnew, &cat_new) != 0) {
                bad++;
                continue;
            }
            if (n < fx.marks.cat_rename && (nnew != 0 || cat_new)) {
                TAP_FAIL("%s: changed before the catalog commit", what);
                bad++;
            }
            if ((n % 9 == 0 || n + 4 > fx.total) && tear == 0 &&
                fixture_rerun(&fx, what) != 0)
                bad++;
        }
    }
    printf("# %llu ops, %d crash points: %d old, %d mixed, %d new\n",
           (unsigned long long)fx.total, points, at[0], at[1], at[2]);
    CHECK(at[0] > 0 && at[1] > 0 && at[2] > 0);
    fixture_free(&fx);
}

/* Power loss at every op and after the last (helper_power.h): every file
 * old or new, the new
 * catalog before any new file, the content the same and verified; a rerun
 * (with the same backup directory) finishes, and the backup holds the
 * originals. */
typedef struct pw_cpt {
    sweep_fixture *fx;
    wr_errbuf eb;
} pw_cpt;

static int pw_compact(void *arg)
{
    pw_cpt *a = arg;
    return compact(a->fx->dir, &a->fx->o, NULL, NULL, &a->eb);
}

static void compact_power_sweep(bool backup)
{
    sweep_fixture fx;
    pw_learned l;
    REQUIRE(fixture_make(&fx, backup ? "pwbk" : "pw", backup) == 0);
    pw_cpt a = {.fx = &fx};
    REQUIRE(fixture_reset(&fx) == 0);
    REQUIRE_OK(pw_learn(pw_compact, &a, NULL, NULL, &l), &a.eb);
    REQUIRE_EQ(l.total, fx.total);
    int bad = 0, states = 0, at[3] = {0};
    for (uint64_t n = 1; n <= fx.total + 1 && bad < 3; n++) {
        for (int k = 0; k < pw_nstates(&l, n) && bad < 3; k++) {
            char what[64];
            int nnew, cat_new;
            wri_fault_plan p = pw_plan(&l, n, k);
            snprintf(what, sizeof what, "op %llu seed %llu%s",
                     (unsigned long long)n, (unsigned long long)p.seed,
                     p.power ? "" : " (no power loss)");
            REQUIRE(fixture_reset(&fx) == 0);
            states++;
            if (fixture_crash(&fx, what, &p, at, &nnew, &cat_new) != 0) {
                bad++;
                continue;
            }
            if (fixture_rerun(&fx, what) != 0)
                bad++;
        }
    }
    char detail[200];
    snprintf(detail, sizeof detail, "%d old, %d mixed, %d new; each rerun%s, "
             "verified and compared", at[0], at[1], at[2],
             backup ? " with the same backup directory" : "");
    pw_report(&l, backup ? "wr_compact --backup-dir (two indexes)"
                         : "wr_compact (two indexes)", states, detail);
    CHECK(at[0] > 0 && at[2] > 0);
    pw_learned_free(&l);
    fixture_free(&fx);
}

static void test_compact_power_sweep(void)
{
    compact_power_sweep(false);
}

static void test_compact_backup_power_sweep(void)
{
    compact_power_sweep(true);
}

/* ENOSPC from every op on (sticky): the run fails with WR_ENOSPC; before
 * the catalog commit nothing has changed; after it, every file is old or
 * new and consistent; a rerun completes. */
static void test_compact_enospc_sweep(void)
{
    sweep_fixture fx;
    REQUIRE(fixture_make(&fx, "nospc", false) == 0);
    int bad = 0;
    for (uint64_t n = 1; n <= fx.total && bad < 3; n++) {
        wr_errbuf eb = {0};
        char what[64];
        snprintf(what, sizeof what, "ENOSPC at op %llu",
                 (unsigned long long)n);
        REQUIRE(fixture_reset(&fx) == 0);
        wri_fault_plan p = {.kind = WRI_FAULT_FAIL, .at = n,
                            .err = WR_ENOSPC, .sticky = true};
        wri_io_fault_set(&p);
        int rc = compact(fx.dir, NULL, NULL, NULL, &eb);
        wri_io_fault_set(NULL);
        if (rc == WR_OK && pw_lock_release(&fx.marks.lock, n))
            continue; /* best effort (helper_power.h); the run stands */
        if (rc != WR_ENOSPC) {
            TAP_FAIL("%s: rc %d (%s)", what, rc, eb.msg);
            bad++;
            continue;
        }
        int nnew, cat_new;
        if (fixture_judge(&fx, what, &nnew, &cat_new) != 0) {
            bad++;
            continue;
        }
        if (n < fx.marks.cat_rename && (nnew != 0 || cat_new)) {
            TAP_FAIL("%s: changed before the catalog commit", what);
            bad++;
        }
        if (n % 6 == 0 && fixture_rerun(&fx, what) != 0)
            bad++;
    }
    printf("# %llu ENOSPC points\n", (unsigned long long)fx.total);
    fixture_free(&fx);
}

int main(void)
{
    RUN(test_block_first_gen_and_erase_other);
    RUN(test_bulk_dry_run_counts_exactly);
    RUN(test_compact_fragmented_512_shrinks_keeps_content);
    RUN(test_compact_keeps_the_catalog_generation);
    RUN(test_compact_uses_the_catalog_checkpoint);
    RUN(test_compact_changes_page_size);
    RUN(test_compact_digests_are_layout_free);
    RUN(test_compact_fill_factor);
    RUN(test_compact_dry_run_estimate_is_exact);
    RUN(test_compact_refuses_a_damaged_file);
    RUN(test_compact_blames_the_side_that_failed);
    RUN(test_compact_copy_fsync_fails);
    RUN(test_compact_single_files);
    RUN(test_compact_backup);
    RUN(test_compact_lock_held);
    RUN(test_compact_interrupted);
    RUN(test_compact_original_shrinks);
    RUN(test_compact_crash_sweep);
    RUN(test_compact_enospc_sweep);
    RUN(test_compact_power_sweep);
    RUN(test_compact_backup_power_sweep);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tap_tmpdir());
    if (tap_failed_tests == 0 && system(cmd) != 0)
        printf("# could not remove %s\n", tap_tmpdir());
    return tap_done();
}
