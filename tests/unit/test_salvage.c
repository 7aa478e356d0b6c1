/*
 * test_salvage.c -- wr_salvage() and the rules of salvage.h (S1-S4):
 * a clean database coming back whole, a
 * damaged internal page whose leaves come back through the extent lists
 * (S1) without undoing a later delete (S3), a damaged leaf's documents
 * going to lost+found only, a truncated file's older pages staying out of
 * the collection (S4), and a DEST that exists being refused.
 */
#include "helper_db.h"
#include "helper_fill.h"
#include "tap.h"

#include "wr_int.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[256];

static void sv_rm(const char *p)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0)
        abort();
}

static void sv_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", root, name);
}

static void put_doc(wr_coll *c, int id, const char *name, wr_errbuf *eb,
                    int *rc)
{
    bson_t d = BSON_INITIALIZER;
    BSON_APPEND_INT32(&d, "_id", id);
    BSON_APPEND_UTF8(&d, "name", name);
    BSON_APPEND_INT32(&d, "age", id % 13);
    if (*rc == WR_OK)
        *rc = wr_coll_put(c, &d, NULL, eb);
    bson_destroy(&d);
}

static void del_doc(wr_coll *c, int id, wr_errbuf *eb, int *rc)
{
    bson_t d = BSON_INITIALIZER;
    BSON_APPEND_INT32(&d, "_id", id);
    if (*rc == WR_OK)
        *rc = wr_coll_delete(c, &d, eb);
    bson_destroy(&d);
}

/* 400 documents on 512-byte pages with an index on age; then ids 100-199
 * deleted; then every 7th document renamed: three checkpoints. */
static int make_db(const char *dir, wr_errbuf *eb)
{
    int rc = WR_OK;
    wr_db *db = NULL;
    wr_coll *c = NULL;
    wr_db_opts o = {.create = true, .page_size = 512, .holder = "test"};
    char name[32];
    if ((rc = wr_db_open(dir, &o, &db, eb)) != WR_OK)
        return rc;
    if ((rc = wr_coll_open(db, "people", true, &c, eb)) == WR_OK)
        rc = wr_coll_add_index(c, "age", eb);
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof name, "user%d", i);
        put_doc(c, i, name, eb, &rc);
    }
    if (rc == WR_OK)
        rc = wr_db_checkpoint(db, eb);
    for (int i = 100; i < 200; i++)
        del_doc(c, i, eb, &rc);
    if (rc == WR_OK)
        rc = wr_db_checkpoint(db, eb);
    for (int i = 0; i < 400; i += 7) {
        snprintf(name, sizeof name, "renamed%d", i);
        if (i < 100 || i >= 200)
            put_doc(c, i, name, eb, &rc);
    }
    if (rc == WR_OK)
        rc = wr_db_checkpoint(db, eb);
    wr_db_close(db);
    return rc;
}

/* The ids in a salvaged collection, and whether each is the latest
 * version (renamed where it should be). */
static int check_dest(const char *dest, int *n, int *deleted_back,
                      int *stale, wr_errbuf *eb)
{
    int rc;
    wr_db *db = NULL;
    wr_coll *c = NULL;
    wr_doc_cursor *cur = NULL;
    const uint8_t *d;
    uint32_t len;
    wr_db_opts o = {.readonly = true};
    *n = *deleted_back = *stale = 0;
    if ((rc = wr_db_open(dest, &o, &db, eb)) != WR_OK)
        return rc;
    if ((rc = wr_coll_open(db, "people", false, &c, eb)) == WR_OK &&
        (rc = wr_doc_cursor_open(c, &cur, eb)) == WR_OK) {
        while ((rc = wr_doc_cursor_next(cur, &d, &len, eb)) == WR_OK) {
            bson_t doc;
            bson_iter_t it;
            char want[32];
            bson_init_static(&doc, d, len);
            bson_iter_init_find(&it, &doc, "_id");
            int id = bson_iter_int32(&it);
            bson_iter_init_find(&it, &doc, "name");
            snprintf(want, sizeof want, "%s%d", id % 7 == 0 ? "renamed" : "user",
                     id);
            (*n)++;
            *deleted_back += id >= 100 && id < 200;
            *stale += strcmp(bson_iter_utf8(&it, NULL), want) != 0;
        }
        if (rc == WR_ENOTFOUND)
            rc = WR_OK;
    }
    wr_doc_cursor_close(cur);
    wr_db_close(db);
    return rc;
}

/* make_db into src (root/name); file gets its main table's path, *cur
 * the checkpoint the file's newest slot holds. */
static void make_db_file(const char *name, char *src, size_t srclen,
                         char *file, size_t filelen, wri_slot *cur)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    sv_path(src, srclen, name);
    REQUIRE_OK(make_db(src, &eb), &eb);
    snprintf(file, filelen, "%s/people.main.wr", src);
    REQUIRE_OK(wri_block_open(file, WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT, &b,
                              &eb),
               &eb);
    *cur = b->cur;
    wri_block_close(b);
}

static void zero_page(const char *file, uint64_t off, uint32_t len)
{
    uint8_t z[512] = {0};
    int fd = open(file, O_WRONLY);
    for (uint32_t k = 0; fd >= 0 && k < len; k += sizeof z)
        if (pwrite(fd, z, sizeof z, (off_t)(off + k)) != (ssize_t)sizeof z)
            abort();
    if (fd >= 0)
        close(fd);
}

/* The first leaf of a file's tree: its address. */
static wr_addr first_leaf(const char *file, wr_errbuf *eb)
{
    wri_block *b = NULL;
    wr_addr a = {0};
    uint8_t *page = malloc(WRI_LEAF_MAX);
    if (page == NULL ||
        wri_block_open(file, WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT, &b, eb) !=
            WR_OK) {
        free(page);
        return a;
    }
    a = b->cur.root;
    for (int level = (int)b->cur.height - 1;; level--) {
        wri_page_view v;
        wri_cell cell;
        if (wri_block_read_node(b, &a, level, 1, page, &v, eb) != WR_OK) {
            memset(&a, 0, sizeof a);
            break;
        }
        if (v.type == WRI_PT_LEAF)
            break;
        wri_page_cell(&v, 0, &cell);
        a = cell.child;
    }
    wri_block_close(b);
    free(page);
    return a;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static const wr_salvage_coll *people(const wr_salvage_report *r)
{
    for (size_t i = 0; r != NULL && i < r->ncolls; i++)
        if (strcmp(r->colls[i].name, "people") == 0)
            return &r->colls[i];
    return NULL;
}

static void test_salvage_clean_database_comes_back_whole(void)
{
    wr_errbuf eb = {0};
    wr_salvage_report *r = NULL;
    char src[300], dst[300];
    int n, back, stale;
    sv_path(src, sizeof src, "clean");
    sv_path(dst, sizeof dst, "clean.out");
    REQUIRE_OK(make_db(src, &eb), &eb);
    REQUIRE_OK(wr_salvage(src, dst, NULL, &r, &eb), &eb);
    const wr_salvage_coll *c = people(r);
    REQUIRE(c != NULL);
    CHECK(c->complete);
    CHECK_EQ(c->recovered, 300);
    CHECK_EQ(c->expected, 300);
    CHECK_EQ(c->lost_found, 0);
    CHECK_EQ(c->nlosses, 0);
    CHECK_EQ(c->nindexes, 1);
    CHECK(r->verified);
    CHECK(strcmp(r->catalog, "intact") == 0);
    REQUIRE_OK(check_dest(dst, &n, &back, &stale, &eb), &eb);
    CHECK_EQ(n, 300);
    CHECK_EQ(back, 0);
    CHECK_EQ(stale, 0);
    wr_errbuf ve = {0};
    CHECK_EQ(wr_verify_simple(dst, false, &ve), WR_OK);
    wr_salvage_report_free(r);
}

/* S1, S3: the root gone, the leaves come back through the extent lists;
 * the older pages in free space that still hold ids 100-199 and the
 * names before the renames stay out. */
static void test_salvage_internal_page_lost_no_delete_undone(void)
{
    wr_errbuf eb = {0};
    wr_salvage_report *r = NULL;
    wri_slot cur;
    char src[300], dst[300], file[400];
    int n, back, stale;
    make_db_file("internal", src, sizeof src, file, sizeof file, &cur);
    sv_path(dst, sizeof dst, "internal.out");
    REQUIRE(cur.height >= 2);
    uint64_t rootoff = cur.root.off;
    zero_page(file, rootoff, 512);
    int rc = wr_salvage(src, dst, NULL, &r, &eb);
    CHECK_EQ(rc, WR_OK);
    const wr_salvage_coll *c = people(r);
    REQUIRE(c != NULL);
    CHECK_EQ(c->recovered, 300);
    CHECK_EQ(c->from_scan, 300);
    CHECK(c->complete);
    REQUIRE_EQ(c->nlosses, 1);
    CHECK(strcmp(c->losses[0].what, "internal") == 0);
    CHECK_EQ(c->losses[0].page, rootoff);
    REQUIRE_OK(check_dest(dst, &n, &back, &stale, &eb), &eb);
    CHECK_EQ(n, 300);
    CHECK_EQ(back, 0);  /* no deleted document came back */
    CHECK_EQ(stale, 0); /* no name from before the renames */
    wr_salvage_report_free(r);
}

/* The lines of a lost+found file: each one's value (what follows
 * "document" or "bsonHex": the rest of the line), sorted; *n the lines. */
static char **lf_values(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char **v = NULL, *line = NULL;
    size_t cap = 0, lcap = 0;
    ssize_t len;
    *n = 0;
    while (f != NULL && (len = getline(&line, &lcap, f)) > 0) {
        /* a key, not inside the "why" string (its quotes are escaped) */
        char *at = strstr(line, "\"document\" : ");
        if (at == NULL)
            at = strstr(line, "\"bsonHex\" : ");
        if (*n == cap && (v = realloc(v, (cap = cap * 2 + 64) *
                                             sizeof *v)) == NULL)
            abort();
        v[(*n)++] = strdup(at != NULL ? at : line);
    }
    free(line);
    if (f != NULL)
        fclose(f);
    if (*n > 1)
        qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

/* A leaf lost: its documents only in lost+found, named by a key range,
 * each value once: the damaged leaf's slots still decode, and its older
 * copies (the generations before the renames) in free space, found by
 * the scan for the same range, hold the unchanged documents again, the
 * same bytes. */
static void test_salvage_damaged_leaf_goes_to_lost_found(void)
{
    wr_errbuf eb = {0};
    wr_salvage_report *r = NULL;
    char src[300], dst[300], file[400], lf[400];
    int n, back, stale;
    sv_path(src, sizeof src, "leaf");
    sv_path(dst, sizeof dst, "leaf.out");
    REQUIRE_OK(make_db(src, &eb), &eb);
    snprintf(file, sizeof file, "%s/people.main.wr", src);
    /* the first leaf of the tree: the leftmost child, down from the root */
    wr_addr a = first_leaf(file, &eb);
    REQUIRE(a.off != 0);
    /* damage a cell in the middle: the CRC fails, most slots decode */
    int fd = open(file, O_WRONLY);
    REQUIRE(fd >= 0);
    uint8_t x = 0x5a;
    REQUIRE(pwrite(fd, &x, 1, (off_t)(a.off + 300)) == 1);
    close(fd);
    int rc = wr_salvage(src, dst, NULL, &r, &eb);
    CHECK_EQ(rc, WR_ECORRUPT);
    const wr_salvage_coll *c = people(r);
    REQUIRE(c != NULL);
    CHECK(!c->complete);
    CHECK(c->recovered < 300 && c->recovered > 250);
    CHECK(c->lost_found > 0);
    REQUIRE_EQ(c->nlosses, 1);
    CHECK(strcmp(c->losses[0].what, "leaf") == 0);
    CHECK(c->losses[0].after == NULL); /* the first leaf: from the start */
    CHECK(c->losses[0].before != NULL);
    CHECK(r->verified);
    REQUIRE_OK(check_dest(dst, &n, &back, &stale, &eb), &eb);
    CHECK_EQ(n, (int)c->recovered);
    CHECK_EQ(stale, 0);
    snprintf(lf, sizeof lf, "%s/lost+found/people.jsonl", dst);
    size_t nl = 0, dups = 0;
    char **v = lf_values(lf, &nl);
    for (size_t i = 1; i < nl; i++)
        if (strcmp(v[i - 1], v[i]) == 0 && ++dups)
            printf("# twice: %.200s", v[i]);
    CHECK(nl >= 4);
    CHECK_EQ(dups, 0);
    CHECK_EQ(c->lost_found, nl);
    CHECK_EQ(c->losses[0].to_lost_found, nl);
    for (size_t i = 0; i < nl; i++)
        free(v[i]);
    free(v);
    wr_salvage_report_free(r);
}

/* S4 and the no-tree case: a file cut before its root keeps nothing but
 * what was written for its own generation. */
static void test_salvage_truncated_keeps_only_its_generation(void)
{
    wr_errbuf eb = {0};
    wr_salvage_report *r = NULL;
    char src[300], dst[300], file[400];
    int n, back, stale;
    wri_slot cur;
    make_db_file("trunc", src, sizeof src, file, sizeof file, &cur);
    sv_path(dst, sizeof dst, "trunc.out");
    uint64_t cut = cur.root.off;
    REQUIRE(truncate(file, (off_t)cut) == 0);
    int rc = wr_salvage(src, dst, NULL, &r, &eb);
    CHECK_EQ(rc, WR_ECORRUPT);
    const wr_salvage_coll *c = people(r);
    REQUIRE(c != NULL);
    CHECK(c->nlosses >= 1);
    REQUIRE_OK(check_dest(dst, &n, &back, &stale, &eb), &eb);
    CHECK_EQ(back, 0);
    CHECK_EQ(stale, 0);
    CHECK_EQ(n, (int)c->recovered);
    wr_salvage_report_free(r);
}

/* --- long leaves (format 2) ------------------------------------------- */

/* Checkpoint db (if rc is still WR_OK), close it, compact dir. */
static int checkpoint_compact(wr_db *db, const char *dir, int rc,
                              wr_errbuf *eb)
{
    rc = db_build_end(db, rc, dir, eb);
    wr_compact_opts co = {0};
    if (rc == WR_OK)
        rc = wr_compact(dir, &co, NULL, eb);
    return rc;
}

/* make_db, 3000 more documents, then compacted: bulk-built long leaves
 * of up to 64 KiB on 512-byte pages (3300 live documents). */
static int make_long_db(const char *dir, wr_errbuf *eb)
{
    int rc = make_db(dir, eb);
    wr_db *db = NULL;
    wr_coll *c = NULL;
    wr_db_opts o = {.holder = "test"};
    char name[32];
    if (rc == WR_OK && (rc = wr_db_open(dir, &o, &db, eb)) == WR_OK)
        rc = wr_coll_open(db, "people", false, &c, eb);
    for (int i = 1000; i < 4000; i++) {
        snprintf(name, sizeof name, "%s%d", i % 7 == 0 ? "renamed" : "user",
                 i);
        put_doc(c, i, name, eb, &rc);
    }
    return checkpoint_compact(db, dir, rc, eb);
}

/* A compacted file's long leaves verify; its root lost, the scan finds
 * them and every document comes back. */
static void test_salvage_long_leaves_root_lost(void)
{
    wr_errbuf eb = {0};
    wr_salvage_report *r = NULL;
    wri_block *b = NULL;
    char src[300], dst[300], file[400];
    int n, back, stale;
    fill_report fr;
    sv_path(src, sizeof src, "long");
    sv_path(dst, sizeof dst, "long.out");
    REQUIRE_OK(make_long_db(src, &eb), &eb);
    snprintf(file, sizeof file, "%s/people.main.wr", src);
    REQUIRE_OK(fill_check(file, &fr), &eb);
    CHECK_EQ(fr.version, WRI_VERSION_LONG_LEAVES);
    CHECK(fr.long_leaves >= 2);
    CHECK_EQ(fr.not_full, 0);
    REQUIRE_OK(wr_verify_simple(src, false, &eb), &eb);
    REQUIRE_OK(wri_block_open(file, WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT, &b,
                              &eb),
               &eb);
    REQUIRE(b->cur.height >= 2);
    CHECK_EQ(b->cur.version, WRI_VERSION_LONG_LEAVES);
    uint64_t rootoff = b->cur.root.off;
    wri_block_close(b);
    zero_page(file, rootoff, 512);
    CHECK_EQ(wr_salvage(src, dst, NULL, &r, &eb), WR_OK);
    const wr_salvage_coll *c = people(r);
    REQUIRE(c != NULL);
    CHECK_EQ(c->recovered, 3300);
    CHECK_EQ(c->from_scan, 3300);
    CHECK(c->complete);
    CHECK(r->verified);
    REQUIRE_OK(check_dest(dst, &n, &back, &stale, &eb), &eb);
    CHECK_EQ(n, 3300);
    CHECK_EQ(back, 0);
    CHECK_EQ(stale, 0);
    wr_salvage_report_free(r);
}

/* A byte changed deep inside a long leaf (past its first block): verify
 * names that leaf; salvage keeps the rest and gives the leaf's cells
 * that still decode, from all its blocks, to lost+found. */
static void test_salvage_long_leaf_damaged(void)
{
    wr_errbuf eb = {0};
    wr_salvage_report *r = NULL;
    wr_verify_report *vr = NULL;
    wr_verify_opts vo = {0};
    char src[300], dst[300], file[400];
    sv_path(src, sizeof src, "longleaf");
    sv_path(dst, sizeof dst, "longleaf.out");
    REQUIRE_OK(make_long_db(src, &eb), &eb);
    snprintf(file, sizeof file, "%s/people.main.wr", src);
    wr_addr a = first_leaf(file, &eb);
    REQUIRE(a.off != 0);
    REQUIRE(a.size >= 40 * 512);
    int fd = open(file, O_WRONLY);
    REQUIRE(fd >= 0);
    uint8_t x = 0x5a;
    REQUIRE(pwrite(fd, &x, 1, (off_t)(a.off + 20 * 512 + 100)) == 1);
    close(fd);
    CHECK_EQ(wr_verify(src, &vo, &vr, &eb), WR_ECORRUPT);
    REQUIRE(vr != NULL && vr->nproblems > 0);
    CHECK_EQ(vr->problems[0].page, a.off);
    CHECK_EQ(vr->problems[0].check, WR_CHECK_CHECKSUM);
    wr_verify_report_free(vr);
    CHECK_EQ(wr_salvage(src, dst, NULL, &r, &eb), WR_ECORRUPT);
    const wr_salvage_coll *c = people(r);
    REQUIRE(c != NULL);
    CHECK(!c->complete);
    printf("# %llu recovered, %llu to lost+found\n",
           (unsigned long long)c->recovered,
           (unsigned long long)c->lost_found);
    CHECK(c->recovered < 3300);
    CHECK(c->lost_found > 100); /* far more than one block holds */
    CHECK(c->recovered + c->lost_found >= 3290);
    CHECK(r->verified);
    wr_salvage_report_free(r);
}

static void test_salvage_refuses_an_existing_dest(void)
{
    wr_errbuf eb = {0};
    wr_salvage_report *r = NULL;
    char src[300], dst[300], keep[400];
    sv_path(src, sizeof src, "refuse");
    sv_path(dst, sizeof dst, "refuse.out");
    REQUIRE_OK(make_db(src, &eb), &eb);
    REQUIRE_OK(wri_io_mkdir(dst, &eb), &eb);
    snprintf(keep, sizeof keep, "%s/keep", dst);
    FILE *f = fopen(keep, "w");
    REQUIRE(f != NULL);
    fputs("mine\n", f);
    fclose(f);
    CHECK_EQ(wr_salvage(src, dst, NULL, &r, &eb), WR_EINVAL);
    CHECK(strstr(eb.msg, "not empty") != NULL);
    CHECK(access(keep, R_OK) == 0);
    wr_salvage_report_free(r);
}

/* The one long-leaf rule (wri_leaf_size_ok): a compacted file made to
 * claim format 1, where every leaf is one block, has damage for verify,
 * for wr-dump --page of a long leaf, and for salvage, whose walk and scan
 * take no long leaf from it (the documents only they hold are lost). */
static void test_salvage_long_leaves_in_format_1(void)
{
    wr_errbuf eb = {0};
    wr_salvage_report *r = NULL;
    wr_verify_report *vr = NULL;
    wr_verify_opts vo = {0};
    char src[300], dst[300], file[400];
    int n, back, stale;
    sv_path(src, sizeof src, "long1");
    sv_path(dst, sizeof dst, "long1.out");
    REQUIRE_OK(make_long_db(src, &eb), &eb);
    snprintf(file, sizeof file, "%s/people.main.wr", src);
    wr_addr a = first_leaf(file, &eb);
    REQUIRE(a.size > 512);
    REQUIRE(fill_set_version(file, WRI_VERSION_1) >= 1);
    /* verify */
    CHECK_EQ(wr_verify(src, &vo, &vr, &eb), WR_ECORRUPT);
    REQUIRE(vr != NULL && vr->nproblems > 0);
    CHECK_EQ(vr->problems[0].check, WR_CHECK_PAGE);
    CHECK(strstr(vr->problems[0].detail, "is not 512 bytes long") != NULL);
    wr_verify_report_free(vr);
    /* dump --page of the first long leaf: read as one block, its header
     * size and CRC disagree */
    char *text = NULL;
    size_t tlen = 0;
    FILE *out = open_memstream(&text, &tlen);
    REQUIRE(out != NULL);
    wr_dump_opts d = {.mode = WR_DUMP_PAGE, .page_addr = a.off, .out = out};
    wr_dump_stats st = {0};
    CHECK_EQ(wr_dump(file, &d, &st, &eb), WR_ECORRUPT);
    fclose(out);
    CHECK(st.damaged >= 1);
    CHECK(strstr(text, "512 bytes read") != NULL);
    CHECK(strstr(text, "header size field disagrees") != NULL);
    free(text);
    /* salvage: neither its walk nor its scan takes a long leaf */
    CHECK_EQ(wr_salvage(src, dst, NULL, &r, &eb), WR_ECORRUPT);
    const wr_salvage_coll *c = people(r);
    REQUIRE(c != NULL);
    CHECK(!c->complete);
    CHECK(c->nlosses >= 1);
    CHECK(c->recovered < 3300);
    REQUIRE_OK(check_dest(dst, &n, &back, &stale, &eb), &eb);
    CHECK_EQ(n, (int)c->recovered);
    wr_salvage_report_free(r);
}

/* --- value tails (formats 3 and 4) ------------------------------------ */

/* 300 documents of 200 to 2,700 bytes on 512-byte pages (ids 1000-1299,
 * every 7th "renamed", as check_dest expects), compacted or as the engine
 * wrote them: long leaves whose cells keep the tails of the overflow
 * values longer than a block (format 3) and the whole of those shorter
 * (format 4), by the one rule both follow. */
static int make_tail_db(const char *dir, bool compact, wr_errbuf *eb)
{
    int rc;
    wr_db *db = NULL;
    wr_coll *c = NULL;
    wr_db_opts o = {.create = true, .page_size = 512, .holder = "test"};
    static char pad[3000];
    memset(pad, 'p', sizeof pad - 1);
    if ((rc = wr_db_open(dir, &o, &db, eb)) != WR_OK)
        return rc;
    rc = wr_coll_open(db, "people", true, &c, eb);
    for (int i = 1000; i < 1300 && rc == WR_OK; i++) {
        char name[32];
        bson_t d = BSON_INITIALIZER;
        snprintf(name, sizeof name, "%s%d", i % 7 == 0 ? "renamed" : "user",
                 i);
        BSON_APPEND_INT32(&d, "_id", i);
        BSON_APPEND_UTF8(&d, "name", name);
        bson_append_utf8(&d, "pad", 3, pad, 150 + (i * 37) % 2500);
        rc = wr_coll_put(c, &d, NULL, eb);
        bson_destroy(&d);
    }
    return compact ? checkpoint_compact(db, dir, rc, eb)
                   : db_build_end(db, rc, dir, eb);
}

/* Below the page at a (level): the first leaf, in key order, with a
 * split value whose tail is over 16 bytes (packed: a value packed whole
 * in its cell); *leaf, *run, *tail_off as first_tail says. */
static int find_tail(wri_block *b, const wr_addr *a, int level, bool packed,
                     wr_addr *leaf, wr_addr *run, uint64_t *tail_off,
                     wr_errbuf *eb)
{
    uint8_t *page = malloc(WRI_LEAF_MAX);
    wri_page_view v;
    int found = 0;
    if (page == NULL || wri_block_read_node(b, a, level, 1, page, &v, eb) !=
                            WR_OK) {
        free(page);
        return 0;
    }
    for (uint32_t i = 0; i < v.count && !found; i++) {
        wri_cell c;
        wri_page_cell(&v, i, &c);
        if (level > 0)
            found = find_tail(b, &c.child, level - 1, packed, leaf, run,
                              tail_off, eb);
        else if (c.tlen > 16 && wri_cell_packed(&c) == packed) {
            *leaf = *a;
            *run = c.ovf;
            *tail_off = a->off + (uint64_t)(c.tail - page);
            found = 1;
        }
    }
    free(page);
    return found;
}

/* The first split value (packed: value packed whole in its cell) in key
 * order: its leaf, the value's run (all zero for a packed value), and the
 * file offset of its tail (in the leaf's cell). */
static int first_tail(const char *file, bool packed, wr_addr *leaf,
                      wr_addr *run, uint64_t *tail_off, wr_errbuf *eb)
{
    wri_block *b = NULL;
    int found = 0;
    if (wri_block_open(file, WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT, &b, eb) ==
        WR_OK)
        found = find_tail(b, &b->cur.root, (int)b->cur.height - 1, packed,
                          leaf, run, tail_off, eb);
    wri_block_close(b);
    return found;
}

static void flip_byte(const char *file, uint64_t off)
{
    int fd = open(file, O_RDWR);
    uint8_t x = 0;
    REQUIRE(fd >= 0);
    REQUIRE(pread(fd, &x, 1, (off_t)off) == 1);
    x ^= 0x01;
    REQUIRE(pwrite(fd, &x, 1, (off_t)off) == 1);
    close(fd);
}

/* Verify and salvage on a database with split values (compacted, or as
 * the engine wrote them): clean (0), the run of one value damaged (1),
 * the tail in its leaf damaged (2), the whole leaf zeroed, its values'
 * runs left without it (3), or a value packed whole in its leaf's cell
 * damaged (4). */
static void tail_case(const char *name, int what, bool compact)
{
    wr_errbuf eb = {0};
    wr_salvage_report *r = NULL;
    wr_verify_report *vr = NULL;
    wr_verify_opts vo = {0};
    char src[300], dst[310], file[400];
    int n, back, stale;
    fill_report fr;
    wr_addr leaf, run;
    uint64_t toff;
    sv_path(src, sizeof src, name);
    snprintf(dst, sizeof dst, "%s.out", src);
    REQUIRE_OK(make_tail_db(src, compact, &eb), &eb);
    snprintf(file, sizeof file, "%s/people.main.wr", src);
    REQUIRE_OK(fill_check(file, &fr), &eb);
    CHECK_EQ(fr.version, WRI_VERSION_PACKED);
    CHECK(fr.tails > 100);
    CHECK(fr.packed > 10);
    CHECK_EQ(fr.ovf_waste, 0);
    REQUIRE(first_tail(file, what == 4, &leaf, &run, &toff, &eb));
    if (what == 4)
        CHECK(run.off == 0 && run.size == 0 && run.crc == 0);
    if (what == 1)
        flip_byte(file, run.off + 200); /* the value's head, in its run */
    else if (what == 2 || what == 4)
        flip_byte(file, toff + 5); /* its tail, in the leaf */
    else if (what == 3)
        zero_page(file, leaf.off, leaf.size);
    uint64_t page = what == 1 ? run.off : leaf.off;
    int vrc = wr_verify(src, &vo, &vr, &eb);
    REQUIRE(vr != NULL);
    if (what == 0) {
        CHECK_EQ(vrc, WR_OK);
        CHECK_EQ(vr->nproblems, 0);
    } else {
        CHECK_EQ(vrc, WR_ECORRUPT);
        REQUIRE(vr->nproblems > 0);
        CHECK_EQ(vr->problems[0].page, page);
        CHECK_EQ(vr->problems[0].check, WR_CHECK_CHECKSUM);
    }
    wr_verify_report_free(vr);
    CHECK_EQ(wr_salvage(src, dst, NULL, &r, &eb),
             what == 0 ? WR_OK : WR_ECORRUPT);
    const wr_salvage_coll *c = people(r);
    REQUIRE(c != NULL);
    REQUIRE_OK(check_dest(dst, &n, &back, &stale, &eb), &eb);
    CHECK_EQ(n, (int)c->recovered);
    CHECK_EQ(stale, 0);
    if (what == 0) {
        CHECK(c->complete);
        CHECK_EQ(c->recovered, 300);
    } else if (what == 1) {
        /* the one value whose run is damaged is lost, named by its key */
        CHECK(!c->complete);
        CHECK_EQ(c->recovered, 299);
        CHECK(c->nlosses >= 1);
    } else if (what == 2 || what == 4) {
        /* the leaf is damaged: its cells that decode, with their tails
         * (or packed values), go to lost+found; the others come back */
        CHECK(!c->complete);
        CHECK(c->recovered < 300);
        CHECK(c->lost_found > 0);
        CHECK_EQ(c->recovered + c->lost_found, 300);
    } else {
        /* runs without their leaf hold no whole document (nor a key):
         * the leaf's documents are a loss, nothing is made of the runs */
        CHECK(!c->complete);
        CHECK(c->nlosses >= 1);
        CHECK(c->recovered < 300);
        CHECK_EQ(c->lost_found, 0);
    }
    CHECK(r->verified);
    wr_salvage_report_free(r);
}

/* The five cases of tail_case, their databases named prefix + what. */
static void tail_cases(const char *prefix, bool compact)
{
    static const char *const what[] = {"tails", "tailrun", "tailleaf",
                                       "tailnoleaf", "packedleaf"};
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s", prefix, what[i]);
        tail_case(name, i, compact);
    }
}

static void test_salvage_value_tails(void)
{
    tail_cases("", true);
}

/* The same on the engine's own split and packed values (wr-load). */
static void test_salvage_engine_value_tails(void)
{
    tail_cases("e", false);
}

/* Power-loss debris from before a checkpoint: make_db's database (format
 * 1, one-block leaves), then a load that writes early (a small memory
 * budget) long leaves of packed and split values, new documents and new
 * versions of committed ones, and dies before its checkpoint. The file
 * still says format 1 and holds those pages past its checkpoint; salvage
 * gives back exactly the committed documents, from the tree and (the root
 * zeroed) from its whole-file scan: none of the debris (its newer
 * generation; its long leaves are no leaves in a format 1 file), no
 * stale name, nothing in lost+found. */
static void test_salvage_packed_debris(void)
{
    wr_errbuf eb = {0};
    char src[300], dst[320], file[400];
    int n, back, stale;
    wri_slot cur;
    make_db_file("debris", src, sizeof src, file, sizeof file, &cur);
    uint64_t lsize = cur.logical_size, rootoff = cur.root.off;
    CHECK_EQ(cur.version, WRI_VERSION_1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        static char pad[1200];
        wr_db *db = NULL;
        wr_coll *c = NULL;
        wr_db_opts o = {.memory = 16u << 10, .holder = "test"};
        memset(pad, 'd', sizeof pad);
        if (wr_db_open(src, &o, &db, &eb) != WR_OK ||
            wr_coll_open(db, "people", false, &c, &eb) != WR_OK)
            _exit(2);
        for (int i = 0; i < 1300; i++) {
            bson_t d = BSON_INITIALIZER;
            BSON_APPEND_INT32(&d, "_id", i < 400 ? i : i + 600);
            BSON_APPEND_UTF8(&d, "name", "debris");
            bson_append_utf8(&d, "pad", 3, pad, i % 3 ? 300 : 1100);
            if (wr_coll_put(c, &d, NULL, &eb) != WR_OK)
                _exit(2);
            bson_destroy(&d);
        }
        _exit(0); /* no checkpoint: the power goes */
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
            WEXITSTATUS(st) == 0);
    struct stat sb;
    REQUIRE(stat(file, &sb) == 0);
    CHECK((uint64_t)sb.st_size > lsize + 64 * 512); /* the debris */
    for (int zeroed = 0; zeroed < 2; zeroed++) {
        wr_salvage_report *r = NULL;
        snprintf(dst, sizeof dst, "%s.out%d", src, zeroed);
        if (zeroed)
            zero_page(file, rootoff, 512);
        CHECK_EQ(wr_salvage(src, dst, NULL, &r, &eb), WR_OK);
        const wr_salvage_coll *c = people(r);
        REQUIRE(c != NULL);
        CHECK(c->complete);
        CHECK_EQ(c->recovered, 300);
        CHECK_EQ(c->lost_found, 0);
        CHECK_EQ(c->from_scan, zeroed ? 300 : 0);
        REQUIRE_OK(check_dest(dst, &n, &back, &stale, &eb), &eb);
        CHECK_EQ(n, 300);
        CHECK_EQ(back, 0);
        CHECK_EQ(stale, 0); /* no "debris" name */
        CHECK(r->verified);
        wr_salvage_report_free(r);
    }
}

/* Whether any problem of vr has `what` in its detail. */
static bool vr_says(const wr_verify_report *vr, const char *what)
{
    for (size_t i = 0; i < vr->nproblems; i++)
        if (vr->problems[i].check == WR_CHECK_PAGE &&
            strstr(vr->problems[i].detail, what) != NULL)
            return true;
    return false;
}

/* A split value where the slot says format 2, or a packed one where it
 * says 3: damage for verify (and the engine refuses the leaf); wr-dump
 * --page shows where the tail (the packed value) is. */
static void value_tails_need(const char *name, bool packed)
{
    wr_errbuf eb = {0};
    wr_verify_report *vr = NULL;
    wr_verify_opts vo = {0};
    char src[300], file[400];
    wr_addr leaf, run;
    uint64_t toff;
    sv_path(src, sizeof src, name);
    REQUIRE_OK(make_tail_db(src, true, &eb), &eb);
    snprintf(file, sizeof file, "%s/people.main.wr", src);
    REQUIRE(first_tail(file, packed, &leaf, &run, &toff, &eb));
    char *text = NULL;
    size_t tlen = 0;
    FILE *out = open_memstream(&text, &tlen);
    REQUIRE(out != NULL);
    wr_dump_opts d = {.mode = WR_DUMP_PAGE, .page_addr = leaf.off,
                      .out = out};
    wr_dump_stats st = {0};
    CHECK_EQ(wr_dump(file, &d, &st, &eb), WR_OK);
    fclose(out);
    char want[96];
    if (packed) {
        snprintf(want, sizeof want, "packed whole here at %llu (no overflow "
                                    "page)\n",
                 (unsigned long long)(toff - leaf.off));
        CHECK(strstr(text, want) != NULL);
    } else {
        snprintf(want, sizeof want, "in overflow page %llu (+%u",
                 (unsigned long long)run.off, run.size);
        CHECK(strstr(text, want) != NULL);
        snprintf(want, sizeof want, "here at %llu\n",
                 (unsigned long long)(toff - leaf.off));
        CHECK(strstr(text, want) != NULL);
    }
    free(text);
    const char *says = packed ? "an overflow value packed whole in its cell "
                                "(format 4) in a format 3 file"
                              : "a value tail in its cell (format 3) in a "
                                "format 2 file";
    REQUIRE(fill_set_version(file, packed ? WRI_VERSION_TAILS
                                          : WRI_VERSION_LONG_LEAVES) >= 1);
    CHECK_EQ(wr_verify(src, &vo, &vr, &eb), WR_ECORRUPT);
    REQUIRE(vr != NULL && vr->nproblems > 0);
    CHECK(vr_says(vr, says));
    /* a format 3 file's split values are no damage */
    if (packed)
        CHECK(!vr_says(vr, "a value tail in its cell"));
    wr_verify_report_free(vr);
    wri_block *b = NULL;
    wri_btree *t = NULL;
    wri_cursor *c = NULL;
    REQUIRE_OK(wri_block_open(file, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    REQUIRE_OK(wri_btree_open(b, 1, &t, &eb), &eb);
    REQUIRE_OK(wri_cursor_open(t, &c, &eb), &eb);
    CHECK_EQ(wri_cursor_first(c, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, packed ? "packed whole in its cell (format 4)"
                                : "in its cell (format") != NULL);
    wri_cursor_close(c);
    wri_btree_close(t);
    wri_block_close(b);
}

static void test_salvage_value_tails_need_format_3(void)
{
    value_tails_need("tails2", false);
}

static void test_salvage_packed_values_need_format_4(void)
{
    value_tails_need("packed3", true);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/test_salvage.%ld", (long)getpid());
    sv_rm(root);
    wr_errbuf eb = {0};
    if (wri_io_mkdir(root, &eb) != WR_OK)
        return 1;
    RUN(test_salvage_clean_database_comes_back_whole);
    RUN(test_salvage_internal_page_lost_no_delete_undone);
    RUN(test_salvage_damaged_leaf_goes_to_lost_found);
    RUN(test_salvage_truncated_keeps_only_its_generation);
    RUN(test_salvage_refuses_an_existing_dest);
    RUN(test_salvage_long_leaves_root_lost);
    RUN(test_salvage_long_leaf_damaged);
    RUN(test_salvage_long_leaves_in_format_1);
    RUN(test_salvage_value_tails);
    RUN(test_salvage_engine_value_tails);
    RUN(test_salvage_packed_debris);
    RUN(test_salvage_value_tails_need_format_3);
    RUN(test_salvage_packed_values_need_format_4);
    sv_rm(root);
    return tap_done();
}
