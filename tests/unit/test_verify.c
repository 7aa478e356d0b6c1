/*
 * test_verify.c -- wr_verify on clean databases and files, and on files
 * damaged at offsets computed from the format (docs/FORMAT.md): flipped
 * bits in each kind of page and in each header slot, truncation, a stale
 * page, overlapping and leaked space, index entries removed and added, a
 * document's _id changed under a correct CRC. Each damage must be named by
 * the right check at the right page, and nothing may crash.
 */
#include "helper_db.h"
#include "tap.h"

#include "wr_int.h"
#include "vfdocs.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#define P512 512u

/* --- scratch databases ---------------------------------------------------- */

static char *join(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static bson_t *make_doc(int id, int big)
{
    static const char *cities[] = {"Oslo", "Lima", "Pune", "Kyiv", "Quito"};
    bson_t *d = bson_new(), sub, arr;
    BSON_APPEND_INT32(d, "_id", id);
    BSON_APPEND_INT32(d, "age", id % 13);
    BSON_APPEND_DOCUMENT_BEGIN(d, "address", &sub);
    BSON_APPEND_UTF8(&sub, "city", cities[id % 5]);
    bson_append_document_end(d, &sub);
    BSON_APPEND_ARRAY_BEGIN(d, "tags", &arr);
    BSON_APPEND_UTF8(&arr, "0", cities[(id + 1) % 5]);
    BSON_APPEND_UTF8(&arr, "1", cities[(id + 3) % 5]);
    bson_append_array_end(d, &arr);
    if (big) {
        /* past wri_page_max_inline(512), and 992 bytes in all: it fills
         * the two blocks of its overflow page exactly, so the engine keeps
         * it whole there (a longer or shorter one it would split or pack
         * into a long leaf, docs/FORMAT.md "Value tails"); the element is
         * 11 bytes and the string */
        char s[1000];
        uint32_t n = 992 - 11 - d->len;
        memset(s, 'a' + id % 26, n);
        s[n] = 0;
        BSON_APPEND_UTF8(d, "text", s);
    }
    return d;
}

/* A database in dir: collection "people" with indexes on "age" and
 * "tags", n documents (every 10th big), several checkpoints with updates
 * and deletes so that the files hold discard and avail extents and both
 * slots. */
static int build_db(const char *dir, int n, uint32_t psize)
{
    wr_errbuf eb = {0};
    wr_db_opts o = {.create = true, .page_size = psize, .holder = "test"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    int rc;
    if ((rc = wr_db_open(dir, &o, &db, &eb)) != WR_OK ||
        (rc = wr_coll_open(db, "people", true, &c, &eb)) != WR_OK ||
        (rc = wr_coll_add_index(c, "age", &eb)) != WR_OK ||
        (rc = wr_coll_add_index(c, "tags", &eb)) != WR_OK)
        goto out;
    for (int round = 0; round < 3 && rc == WR_OK; round++) {
        for (int i = 0; i < n && rc == WR_OK; i++) {
            if (round > 0 && i % 3 != round)
                continue;
            bson_t *d = make_doc(i, i % 10 == 0);
            rc = wr_coll_put(c, d, NULL, &eb);
            bson_destroy(d);
        }
        if (round == 2)
            for (int i = 5; i < n && rc == WR_OK; i += 17) {
                bson_t *id = BCON_NEW("_id", BCON_INT32(i));
                rc = wr_coll_delete(c, id, &eb);
                bson_destroy(id);
            }
        if (rc == WR_OK && round < 2)
            rc = wr_db_checkpoint(db, &eb);
    }
out:
    return db_build_end(db, rc, "build_db", &eb); /* round 2's checkpoint */
}

/* A fresh copy of a template database (built once per page size). */
static char *fresh_db(const char *name)
{
    static char *tmpl = NULL;
    if (tmpl == NULL) {
        tmpl = tap_fresh_path("template");
        if (build_db(tmpl, 300, P512) != WR_OK)
            exit(2);
    }
    char *dir = tap_fresh_path(name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", tmpl, dir);
    if (system(cmd) != 0)
        exit(2);
    return dir;
}

/* --- running the verifier ------------------------------------------------ */

static int verify(const char *path, const wr_verify_opts *o,
                  wr_verify_report **r)
{
    wr_errbuf eb = {0};
    wr_verify_opts def = {0};
    return wr_verify(path, o ? o : &def, r, &eb);
}

static void dump_problems(const wr_verify_report *r)
{
    char line[1200];
    for (size_t i = 0; i < r->nproblems && i < 8; i++) {
        wr_verify_problem_format(&r->problems[i], line, sizeof line);
        printf("#   %s\n", line);
    }
}

/* Is there a problem of this check in a file whose path ends with
 * suffix, on page (or any page with page == UINT64_MAX)? */
static bool has(const wr_verify_report *r, int check, const char *suffix,
                uint64_t page)
{
    for (size_t i = 0; i < r->nproblems; i++) {
        const wr_verify_problem *p = &r->problems[i];
        size_t pl = strlen(p->path), sl = strlen(suffix);
        if (p->check == check && pl >= sl &&
            strcmp(p->path + pl - sl, suffix) == 0 &&
            (page == UINT64_MAX || p->page == page))
            return true;
    }
    return false;
}

#define EXPECT_PROBLEM(r, check, suffix, page)                               \
    do {                                                                     \
        if (!has((r), (check), (suffix), (page))) {                          \
            TAP_FAIL("no %s problem in %s at page %lld",                     \
                     wr_verify_check_name(check), (suffix),                  \
                     (long long)(page));                                     \
            dump_problems(r);                                                \
        }                                                                    \
    } while (0)

/* --- raw file access ------------------------------------------------------- */

static void raw_read(const char *path, uint64_t off, void *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL || fseeko(f, (off_t)off, SEEK_SET) != 0 ||
        fread(buf, 1, len, f) != len)
        exit(3);
    fclose(f);
}

static void raw_write(const char *path, uint64_t off, const void *buf,
                      size_t len)
{
    FILE *f = fopen(path, "r+b");
    if (f == NULL || fseeko(f, (off_t)off, SEEK_SET) != 0 ||
        fwrite(buf, 1, len, f) != len)
        exit(3);
    fclose(f);
}

static void flip_bit(const char *path, uint64_t off, int bit)
{
    uint8_t b;
    raw_read(path, off, &b, 1);
    b ^= (uint8_t)(1u << bit);
    raw_write(path, off, &b, 1);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The newest slot of a file (what the catalog names after a checkpoint). */
static void slot_of(const char *path, wri_slot *s, int *idx, uint32_t *P)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    if (wri_block_open(path, WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT, &b, &eb) !=
        WR_OK) {
        printf("# slot_of %s: %s\n", path, eb.msg);
        exit(3);
    }
    *s = b->cur;
    *idx = b->chosen;
    *P = b->page_size;
    wri_block_close(b);
}

/* Pages of the newest checkpoint found by a raw depth-first walk. */
typedef struct pages {
    uint64_t leaf[4096]; /* leaves in key order */
    int nleaf;
    uint64_t internal[16];
    int ninternal;
    uint64_t ovf;        /* an overflow page and the leaf that holds it */
    uint64_t ovf_leaf;
    uint64_t parent_of_leaf1; /* the page pointing at leaf[1] */
    uint64_t extlist;    /* first extent-list page */
} pages;

static void walk(const char *path, uint32_t P, const wr_addr *a, uint64_t parent,
                 pages *pg)
{
    /* a page is its address's size: a long leaf (of packed or split
     * values, which the engine writes) too */
    uint32_t size = a->size >= P && a->size <= WRI_LEAF_MAX ? a->size : P;
    uint8_t *buf = malloc(size);
    wri_page_view v;
    wri_page_problem pp;
    raw_read(path, a->off, buf, size);
    if (wri_page_check(buf, size, 0, &v, &pp) != WR_OK) {
        free(buf);
        return;
    }
    if (v.type == WRI_PT_LEAF) {
        if (pg->nleaf == 1)
            pg->parent_of_leaf1 = parent;
        if (pg->nleaf < 4096)
            pg->leaf[pg->nleaf++] = a->off;
        for (uint32_t i = 0; i < v.count; i++) {
            wri_cell c;
            wri_page_cell(&v, i, &c);
            if (c.overflow && pg->ovf == 0) {
                pg->ovf = c.ovf.off;
                pg->ovf_leaf = a->off;
            }
        }
    } else {
        if (pg->ninternal < 16)
            pg->internal[pg->ninternal++] = a->off;
        for (uint32_t i = 0; i < v.count; i++) {
            wri_cell c;
            wri_page_cell(&v, i, &c);
            walk(path, P, &c.child, a->off, pg);
        }
    }
    free(buf);
}

static void find_pages(const char *path, pages *pg)
{
    wri_slot s;
    int idx;
    uint32_t P;
    memset(pg, 0, sizeof *pg);
    slot_of(path, &s, &idx, &P);
    pg->extlist = s.extlist.off;
    if (s.root.off)
        walk(path, P, &s.root, 0, pg);
}

/* After changing the page at off, give it a correct CRC and carry the new
 * CRC up through every address that points at it, to the newest slot. */
static bool fix_ref(const char *path, uint32_t P, const wr_addr *a,
                    uint64_t target, uint32_t crc);

static void fix_crc(const char *path, uint64_t off)
{
    wri_slot s;
    int idx;
    uint32_t P;
    uint8_t hdr[WRI_PH_LEN];
    slot_of(path, &s, &idx, &P);
    raw_read(path, off, hdr, sizeof hdr);
    uint32_t size = wri_get32(hdr + WRI_PH_SIZE);
    if (size < P || size > (64u << 20))
        size = P;
    uint8_t *buf = malloc(size);
    raw_read(path, off, buf, size);
    uint32_t crc = wri_page_crc(buf, size);
    wri_put32(buf, crc);
    raw_write(path, off, buf, 4);
    free(buf);
    if (s.root.off == off || s.extlist.off == off) {
        uint8_t sb[WRI_SLOT_LEN];
        if (s.root.off == off)
            s.root.crc = crc;
        else
            s.extlist.crc = crc;
        wri_slot_encode(&s, sb);
        raw_write(path, (uint64_t)idx * P, sb, sizeof sb);
        return;
    }
    /* an extent-list page's predecessor */
    wr_addr l = s.extlist;
    uint8_t page[65536];
    while (l.off != 0) {
        wr_addr next;
        raw_read(path, l.off, page, P);
        wri_addr_decode(page + WRI_EL_NEXT, &next);
        if (next.off == off) {
            wri_put32(page + WRI_EL_NEXT + 12, crc);
            raw_write(path, l.off, page, P);
            fix_crc(path, l.off);
            return;
        }
        l = next;
    }
    if (s.root.off != 0 && fix_ref(path, P, &s.root, off, crc))
        return;
    printf("# fix_crc: nothing points at %llu\n", (unsigned long long)off);
}

static bool fix_ref(const char *path, uint32_t P, const wr_addr *a,
                    uint64_t target, uint32_t crc)
{
    uint8_t *buf = malloc(P);
    wri_page_view v;
    wri_page_problem pp;
    bool done = false;
    raw_read(path, a->off, buf, P);
    if (wri_page_check(buf, P, 0, &v, &pp) != WR_OK) {
        free(buf);
        return false;
    }
    for (uint32_t i = 0; i < v.count && !done; i++) {
        wri_cell c;
        wri_page_cell(&v, i, &c);
        uint64_t at = 0;
        if (v.type == WRI_PT_INTERNAL && c.child.off == target)
            at = c.off + 4 + 12;
        else if (v.type == WRI_PT_LEAF && c.overflow && c.ovf.off == target)
            at = c.off + WRI_LEAF_CELL_HDR + c.klen + 12;
        if (at != 0) {
            wri_put32(buf + at, crc);
            raw_write(path, a->off, buf, P);
            fix_crc(path, a->off);
            done = true;
        } else if (v.type == WRI_PT_INTERNAL) {
            done = fix_ref(path, P, &c.child, target, crc);
        }
    }
    free(buf);
    return done;
}

/* --- clean files ------------------------------------------------------------ */

static void test_digest_known_answer(void)
{
    wr_errbuf eb = {0};
    wr_digest *d = NULL;
    uint8_t out[WR_DIGEST_LEN];
    char hex[2 * WR_DIGEST_LEN + 1];
    REQUIRE_OK(wr_digest_new(&d, &eb), &eb);
    wr_digest_final(d, out);
    wr_digest_hex(WR_DIGEST_SHA256, out, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    wr_digest_add(d, (const uint8_t *)"abc", 3);
    wr_digest_final(d, out);
    wr_digest_hex(WR_DIGEST_SHA256, out, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    /* 1,000,000 'a', fed in uneven pieces */
    uint8_t chunk[997];
    memset(chunk, 'a', sizeof chunk);
    size_t left = 1000000;
    while (left > 0) {
        size_t n = WRI_MIN(left, sizeof chunk - left % 7);
        wr_digest_add(d, chunk, (uint32_t)n);
        left -= n;
    }
    wr_digest_final(d, out);
    wr_digest_hex(WR_DIGEST_SHA256, out, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    wr_digest_free(d);
}

static void test_verify_clean_database(void)
{
    char *dir = fresh_db("clean");
    wr_verify_report *r = NULL;
    /* no digest unless asked for */
    int rc = verify(dir, NULL, &r);
    REQUIRE(r != NULL);
    CHECK_EQ(rc, WR_OK);
    for (size_t i = 0; i < r->nfiles; i++)
        CHECK(r->files[i].nckpt == 1 && !r->files[i].ckpt[0].has_digest &&
              r->files[i].ckpt[0].keys == r->files[i].ckpt[0].records);
    wr_verify_report_free(r);
    r = NULL;
    wr_verify_opts dgo = {.digest = WR_DIGEST_SHA256};
    rc = verify(dir, &dgo, &r);
    REQUIRE(r != NULL);
    if (rc != WR_OK)
        dump_problems(r);
    CHECK_EQ(rc, WR_OK);
    CHECK(r->database);
    CHECK_EQ(r->nfiles, 3);
    CHECK_EQ(r->total_problems, 0);
    for (size_t i = 0; i < r->nfiles; i++) {
        const wr_verify_file *f = &r->files[i];
        REQUIRE_EQ(f->nckpt, 1);
        const wr_verify_ckpt *ck = &f->ckpt[0];
        CHECK(ck->complete);
        CHECK(ck->selected && ck->latest);
        CHECK_EQ(ck->leaked_bytes, 0);
        CHECK(ck->pages_leaf > 1);
        CHECK_EQ(ck->keys, ck->records);
        if (f->role == 1) {
            CHECK(ck->pages_internal > 0);
            CHECK(ck->pages_overflow > 0);
            CHECK(ck->has_digest);
            CHECK(ck->pages_extlist > 0);
        } else {
            CHECK(ck->index_checked);
            CHECK_EQ(ck->index_entries, ck->keys);
            CHECK_EQ(ck->index_expected, ck->keys);
            CHECK_EQ(ck->index_missing + ck->index_dangling, 0);
        }
    }
    /* the digest equals the one of the collection as the library sees it */
    wr_errbuf eb = {0};
    wr_db_opts o = {.readonly = true};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    uint8_t dg[WR_DIGEST_LEN];
    uint64_t n = 0;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "people", false, &c, &eb), &eb);
    REQUIRE_OK(wr_coll_digest(c, dg, &n, &eb), &eb);
    CHECK_EQ(n, r->files[0].ckpt[0].keys);
    CHECK(memcmp(dg, r->files[0].ckpt[0].digest, WR_DIGEST_LEN) == 0);
    wr_db_close(db);
    wr_verify_report_free(r);
    free(dir);
}

/* Threads of this process now (/proc/self/task). */
static unsigned threads_now(void)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

/* The most threads seen so far. */
static void count_threads(const wr_verify_progress *p, void *arg)
{
    unsigned *most = arg, n = threads_now();
    (void)p;
    if (n > most[0])
        most[0] = n;
    most[1]++; /* calls */
}

/* The digest's thread runs only when a digest is asked for (documents
 * checked on the walk's thread here, threads = 1, so the walk is the
 * only thread but for the digest's; a sanitizer may run one of its own:
 * counted before). */
static void test_verify_no_digest_no_thread(void)
{
    char *dir = tap_fresh_path("nothread");
    unsigned before = threads_now();
    REQUIRE(build_db(dir, 1500, P512) == WR_OK); /* > 256 pages: progress */
    char *main_file = join(dir, "people.main.wr");
    for (int asked = 0; asked < 2; asked++) {
        unsigned most[2] = {0, 0};
        wr_verify_opts o = {.threads = 1,
                            .digest = asked ? WR_DIGEST_SHA256
                                            : WR_DIGEST_NONE,
                            .progress = count_threads,
                            .progress_arg = most};
        wr_verify_report *r = NULL;
        CHECK_EQ(verify(main_file, &o, &r), WR_OK);
        CHECK(r != NULL && r->files[0].ckpt[0].has_digest == (asked == 1));
        wr_verify_report_free(r);
        REQUIRE(most[1] > 0); /* the progress callback ran mid-walk */
        if (sysconf(_SC_NPROCESSORS_ONLN) >= 2)
            CHECK_EQ(most[0], before + (asked ? 1u : 0u));
    }
    free(main_file);
    free(dir);
}

static void test_verify_clean_previous_and_all_checkpoints(void)
{
    char *dir = fresh_db("clean-prev");
    wr_verify_report *r = NULL;
    wr_verify_opts o = {.previous = true};
    int rc = verify(dir, &o, &r);
    if (rc != WR_OK)
        dump_problems(r);
    CHECK_EQ(rc, WR_OK);
    for (size_t i = 0; i < r->nfiles; i++) {
        CHECK_EQ(r->files[i].nckpt, 1);
        CHECK(!r->files[i].ckpt[0].latest);
    }
    wr_verify_report_free(r);
    wr_verify_opts all = {.all_checkpoints = true};
    rc = verify(dir, &all, &r);
    if (rc != WR_OK)
        dump_problems(r);
    CHECK_EQ(rc, WR_OK);
    for (size_t i = 0; i < r->nfiles; i++) {
        CHECK_EQ(r->files[i].nckpt, 2);
        CHECK(r->files[i].ckpt[0].gen != r->files[i].ckpt[1].gen);
        CHECK(r->files[i].ckpt[1].complete);
    }
    wr_verify_report_free(r);
    free(dir);
}

static void test_verify_clean_single_files_and_quick(void)
{
    char *dir = fresh_db("clean-files");
    const char *names[] = {"people.main.wr", "people.idx.age.wr",
                           "people.idx.tags.wr"};
    for (int i = 0; i < 3; i++) {
        char *p = join(dir, names[i]);
        wr_verify_report *r = NULL;
        int rc = verify(p, NULL, &r);
        if (rc != WR_OK)
            dump_problems(r);
        CHECK_EQ(rc, WR_OK);
        CHECK(!r->database);
        CHECK_EQ(r->files[0].role, i == 0 ? 1 : 2);
        CHECK(strcmp(r->files[0].coll, "people") == 0);
        wr_verify_report_free(r);
        wr_verify_opts q = {.quick = true, .all_checkpoints = true,
                            .digest = WR_DIGEST_SHA256};
        rc = verify(p, &q, &r);
        CHECK_EQ(rc, WR_OK);
        CHECK(!r->files[0].ckpt[0].has_digest);
        wr_verify_report_free(r);
        wr_errbuf eb = {0};
        CHECK_EQ(wr_verify_simple(p, false, &eb), WR_OK);
        free(p);
    }
    wr_errbuf eb = {0};
    CHECK_EQ(wr_verify_simple(dir, true, &eb), WR_OK);
    free(dir);
}

static void test_verify_fresh_and_empty_collections(void)
{
    char *dir = tap_fresh_path("fresh");
    wr_errbuf eb = {0};
    wr_db_opts o = {.create = true, .page_size = 4096, .holder = "t"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "empty", true, &c, &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(c, "x", &eb), &eb);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    /* a collection emptied again */
    REQUIRE_OK(wr_coll_open(db, "gone", true, &c, &eb), &eb);
    bson_t *d = make_doc(1, 0);
    REQUIRE_OK(wr_coll_put(c, d, NULL, &eb), &eb);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    REQUIRE_OK(wr_coll_delete(c, d, &eb), &eb);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    bson_destroy(d);
    wr_db_close(db);
    wr_verify_report *r = NULL;
    wr_verify_opts all = {.all_checkpoints = true};
    int rc = verify(dir, &all, &r);
    if (rc != WR_OK)
        dump_problems(r);
    CHECK_EQ(rc, WR_OK);
    wr_verify_report_free(r);
    rc = verify(dir, NULL, &r);
    CHECK_EQ(rc, WR_OK);
    wr_verify_report_free(r);
    free(dir);
}

/* --- damage -------------------------------------------------------------- */

/* Flip one bit in the middle of a page of the main table; expect a
 * checksum problem on that page, in full and in quick mode. */
static void damage_page_bit(const char *name, int which)
{
    char *dir = fresh_db(name);
    char *path = join(dir, "people.main.wr");
    pages pg;
    find_pages(path, &pg);
    uint64_t page = which == 0   ? pg.leaf[1]
                    : which == 1 ? pg.internal[0]
                    : which == 2 ? pg.ovf
                                 : pg.extlist;
    REQUIRE(page != 0);
    flip_bit(path, page + 300, 3);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_CHECKSUM, "people.main.wr", page);
    CHECK_EQ(r->files[0].status, WR_ECORRUPT);
    CHECK_EQ(r->files[1].status, WR_OK);
    wr_verify_report_free(r);
    wr_verify_opts q = {.quick = true};
    CHECK_EQ(verify(path, &q, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_CHECKSUM, "people.main.wr", page);
    wr_verify_report_free(r);
    wr_errbuf eb = {0};
    CHECK_EQ(wr_verify_simple(dir, false, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "checksum") != NULL);
    free(path);
    free(dir);
}

static void test_verify_flipped_bit_in_leaf(void)
{
    damage_page_bit("bit-leaf", 0);
}

static void test_verify_flipped_bit_in_internal_page(void)
{
    damage_page_bit("bit-internal", 1);
}

static void test_verify_flipped_bit_in_overflow_page(void)
{
    damage_page_bit("bit-overflow", 2);
}

static void test_verify_flipped_bit_in_extent_list_page(void)
{
    damage_page_bit("bit-extlist", 3);
}

static void test_verify_flipped_bit_in_each_header_slot(void)
{
    for (int slot = 0; slot < 2; slot++) {
        char name[32];
        snprintf(name, sizeof name, "bit-slot%d", slot);
        char *dir = fresh_db(name);
        char *path = join(dir, "people.main.wr");
        flip_bit(path, (uint64_t)slot * P512 + 100, 1);
        wr_verify_report *r = NULL;
        /* alone: the other slot is used, the damaged one reported */
        CHECK_EQ(verify(path, NULL, &r), WR_ECORRUPT);
        EXPECT_PROBLEM(r, WR_CHECK_HEADER, "people.main.wr",
                       (uint64_t)slot * P512);
        CHECK_EQ(r->files[0].nckpt, 1);
        CHECK(!r->files[0].slot_valid[slot]);
        CHECK(strstr(r->files[0].slot_why[slot], "CRC") != NULL);
        wr_verify_report_free(r);
        /* in the database: also reported */
        CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
        EXPECT_PROBLEM(r, WR_CHECK_HEADER, "people.main.wr",
                       (uint64_t)slot * P512);
        wr_verify_report_free(r);
        free(path);
        free(dir);
    }
    /* both slots: nothing to read, still a header problem, no crash */
    char *dir = fresh_db("bit-slots");
    char *path = join(dir, "people.main.wr");
    flip_bit(path, 100, 1);
    flip_bit(path, P512 + 100, 1);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(path, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_HEADER, "people.main.wr", 0);
    wr_verify_report_free(r);
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_HEADER, "people.main.wr", 0);
    wr_verify_report_free(r);
    free(path);
    free(dir);
}

static void test_verify_truncated_file(void)
{
    char *dir = fresh_db("truncated");
    char *path = join(dir, "people.main.wr");
    uint64_t size = file_size(path);
    for (int k = 0; k < 4; k++) {
        uint64_t cut = k == 0   ? size - P512
                       : k == 1 ? size / 2 / P512 * P512
                       : k == 2 ? 3 * P512 + 17
                                : 700;
        REQUIRE(truncate(path, (off_t)cut) == 0);
        wr_verify_report *r = NULL;
        CHECK_EQ(verify(path, NULL, &r), WR_ECORRUPT);
        EXPECT_PROBLEM(r, WR_CHECK_SPACE, "people.main.wr", UINT64_MAX);
        wr_verify_report_free(r);
        CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
        wr_verify_report_free(r);
    }
    /* emptied: alone it is not a wrtools file (exit 3, issue 11 bug 7);
     * named by the catalog it is a damaged file of ours */
    REQUIRE(truncate(path, 0) == 0);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(path, NULL, &r), WR_ENOTOURS);
    wr_verify_report_free(r);
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_HEADER, "people.main.wr", 0);
    wr_verify_report_free(r);
    free(path);
    free(dir);
}

/* Leaf 1 replaced by an older copy of itself: intact, wrong CRC. */
static void test_verify_stale_page(void)
{
    char *dir = tap_fresh_path("stale");
    REQUIRE(build_db(dir, 200, P512) == WR_OK);
    char *path = join(dir, "people.main.wr");
    pages before, after;
    find_pages(path, &before);
    uint8_t old[P512];
    raw_read(path, before.leaf[1], old, sizeof old);
    /* change a document of that leaf: copy-on-write moves the leaf */
    wri_page_view v;
    wri_page_problem pp;
    wri_cell c;
    REQUIRE(wri_page_check(old, P512, 1, &v, &pp) == WR_OK);
    wri_page_cell(&v, 0, &c);
    bson_t key;
    bson_iter_t it;
    REQUIRE(bson_init_static(&key, c.key, c.klen));
    REQUIRE(bson_iter_init(&it, &key) && bson_iter_next(&it));
    int id = bson_iter_int32(&it);
    wr_errbuf eb = {0};
    wr_db_opts o = {.holder = "t"};
    wr_db *db = NULL;
    wr_coll *coll = NULL;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "people", false, &coll, &eb), &eb);
    bson_t *d = make_doc(id, 0);
    BSON_APPEND_UTF8(d, "changed", "yes");
    REQUIRE_OK(wr_coll_put(coll, d, NULL, &eb), &eb);
    bson_destroy(d);
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wr_db_close(db);
    find_pages(path, &after);
    REQUIRE(after.leaf[1] != before.leaf[1]);
    raw_write(path, after.leaf[1], old, sizeof old);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_CHECKSUM, "people.main.wr", after.leaf[1]);
    bool stale = false;
    for (size_t i = 0; i < r->nproblems; i++)
        stale |= strstr(r->problems[i].detail, "stale") != NULL;
    CHECK(stale);
    wr_verify_report_free(r);
    free(path);
    free(dir);
}

/* The first extent entry moved over a live leaf: two owners. */
static void test_verify_overlapping_pages(void)
{
    char *dir = fresh_db("overlap");
    char *path = join(dir, "people.main.wr");
    pages pg;
    find_pages(path, &pg);
    REQUIRE(pg.extlist != 0);
    uint8_t buf[P512];
    raw_read(path, pg.extlist, buf, sizeof buf);
    REQUIRE(wri_get32(buf + WRI_PH_COUNT) > 0);
    wri_put64(buf + WRI_EL_ENTRIES, pg.leaf[2]);
    wri_put64(buf + WRI_EL_ENTRIES + 8, P512);
    raw_write(path, pg.extlist, buf, sizeof buf);
    fix_crc(path, pg.extlist);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(path, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_SPACE, "people.main.wr", pg.leaf[2]);
    wr_verify_report_free(r);
    free(path);
    free(dir);
}

/* Two parents for one child: an internal page's second child pointer
 * copied over its third. */
static void test_verify_page_reachable_twice(void)
{
    char *dir = fresh_db("twice");
    char *path = join(dir, "people.main.wr");
    pages pg;
    find_pages(path, &pg);
    uint64_t ip = pg.parent_of_leaf1;
    REQUIRE(ip != 0);
    uint8_t buf[P512];
    wri_page_view v;
    wri_page_problem pp;
    wri_cell c1, c2;
    raw_read(path, ip, buf, sizeof buf);
    REQUIRE(wri_page_check(buf, P512, 0, &v, &pp) == WR_OK);
    REQUIRE(v.count >= 3);
    wri_page_cell(&v, 1, &c1);
    wri_page_cell(&v, 2, &c2);
    memcpy(buf + c2.off + 4, buf + c1.off + 4, WRI_ADDR_LEN);
    raw_write(path, ip, buf, sizeof buf);
    fix_crc(path, ip);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(path, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_ORDERING, "people.main.wr", c1.child.off);
    /* the lost child's blocks are leaked only if the walk was complete:
     * it was, so they are */
    EXPECT_PROBLEM(r, WR_CHECK_SPACE, "people.main.wr", UINT64_MAX);
    wr_verify_report_free(r);
    free(path);
    free(dir);
}

/* One avail/discard entry dropped from the lists: its blocks leak. */
static void test_verify_leaked_extent(void)
{
    char *dir = fresh_db("leak");
    char *path = join(dir, "people.main.wr");
    pages pg;
    find_pages(path, &pg);
    REQUIRE(pg.extlist != 0);
    uint8_t buf[P512];
    raw_read(path, pg.extlist, buf, sizeof buf);
    uint32_t n = wri_get32(buf + WRI_PH_COUNT);
    REQUIRE(n > 0);
    uint64_t lost = wri_get64(buf + WRI_EL_ENTRIES + (size_t)(n - 1) * 32);
    memset(buf + WRI_EL_ENTRIES + (size_t)(n - 1) * 32, 0, 32);
    wri_put32(buf + WRI_PH_COUNT, n - 1);
    raw_write(path, pg.extlist, buf, sizeof buf);
    fix_crc(path, pg.extlist);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_SPACE, "people.main.wr", lost);
    CHECK(r->files[0].ckpt[0].leaked_bytes > 0);
    CHECK_EQ(r->files[0].ckpt[0].problems, 1);
    wr_verify_report_free(r);
    free(path);
    free(dir);
}

/* Where the tests that damage one leaf start: a fresh copy of the test
 * database (dir), its main table (path, pg) and leaf i of it read into buf
 * and checked (v). 0, or -1 if that leaf does not check. */
typedef struct leaf_fx {
    char *dir, *path;
    pages pg;
    uint64_t leaf;
    uint8_t buf[P512];
    wri_page_view v;
} leaf_fx;

static int leaf_fx_open(leaf_fx *f, const char *name, int i)
{
    wri_page_problem pp;
    f->dir = fresh_db(name);
    f->path = join(f->dir, "people.main.wr");
    find_pages(f->path, &f->pg);
    f->leaf = f->pg.leaf[i];
    raw_read(f->path, f->leaf, f->buf, sizeof f->buf);
    return wri_page_check(f->buf, P512, 1, &f->v, &pp) == WR_OK ? 0 : -1;
}

static void leaf_fx_free(leaf_fx *f)
{
    free(f->path);
    free(f->dir);
}

/* A document's _id changed, the page re-CRC'd and the change carried up
 * to the slot: only the document check can see it. */
static void test_verify_document_id_changed(void)
{
    leaf_fx f;
    REQUIRE(leaf_fx_open(&f, "idchange", 3) == 0);
    char *dir = f.dir, *path = f.path;
    uint64_t leaf = f.leaf;
    uint8_t *buf = f.buf;
    wri_page_view v = f.v;
    wri_cell c;
    uint32_t i = 0;
    for (; i < v.count; i++) {
        wri_page_cell(&v, i, &c);
        if (!c.overflow)
            break;
    }
    REQUIRE(i < v.count);
    /* the document starts with the int32 _id: len(4) type(1) "_id\0" */
    size_t at = (size_t)(c.val - buf) + 4 + 1 + 4;
    REQUIRE(buf[at - 5] == BSON_TYPE_INT32);
    buf[at] ^= 0x40;
    raw_write(path, leaf, buf, P512);
    fix_crc(path, leaf);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_DOCUMENT, "people.main.wr", leaf);
    CHECK(!has(r, WR_CHECK_CHECKSUM, "people.main.wr", UINT64_MAX));
    /* the indexes disagree with the document now too */
    EXPECT_PROBLEM(r, WR_CHECK_INDEX, "people.idx.age.wr", UINT64_MAX);
    wr_verify_report_free(r);
    /* quick mode does not decode documents */
    wr_verify_opts q = {.quick = true};
    CHECK_EQ(verify(dir, &q, &r), WR_OK);
    wr_verify_report_free(r);
    leaf_fx_free(&f);
}

/* A compacted database on 2 KiB pages: its long leaves hold the big
 * documents (992 bytes: past the inline limit, shorter than a block)
 * packed whole in their cells (format 4). One such document's
 * second element made an unknown type, the leaf re-CRC'd and the change
 * carried up: the document finding names its byte in the leaf's cell
 * (where the value starts in the cell, plus the checker's offset). */
static void test_verify_packed_document_damage_has_its_place(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("packed");
    REQUIRE_OK(build_db(dir, 300, 2048), &eb);
    wr_compact_opts co = {0};
    REQUIRE_OK(wr_compact(dir, &co, NULL, &eb), &eb);
    char *path = join(dir, "people.main.wr");
    wri_block *b = NULL;
    uint8_t *page = malloc(WRI_LEAF_MAX);
    REQUIRE(page != NULL);
    REQUIRE_OK(wri_block_open(path, WRI_BLOCK_RDONLY | WRI_BLOCK_NOEXT, &b,
                              &eb),
               &eb);
    CHECK_EQ(b->cur.version, WRI_VERSION_PACKED);
    wr_addr a = b->cur.root;
    wri_page_view v;
    wri_cell c = {0};
    for (int level = (int)b->cur.height - 1; level >= 0; level--) {
        REQUIRE_OK(wri_block_read_node(b, &a, level, 1, page, &v, &eb), &eb);
        if (level > 0) {
            wri_page_cell(&v, 0, &c);
            a = c.child;
        }
    }
    wri_block_close(b);
    uint32_t i = 0;
    for (; i < v.count; i++) {
        wri_page_cell(&v, i, &c);
        if (wri_cell_packed(&c))
            break;
    }
    REQUIRE(i < v.count);
    CHECK_EQ(c.tlen, c.vlen);
    /* len(4), then the int32 _id: type(1) "_id\0"(4) value(4) */
    uint32_t at = (uint32_t)(c.tail - page) + 13;
    REQUIRE(page[at - 9] == BSON_TYPE_INT32);
    page[at] = 0x55;
    /* the checker's own offset into the document (bsoncheck.h) */
    size_t eoff = 0;
    char why[96];
    REQUIRE(wri_bson_check(c.tail, c.vlen, &eoff, why, sizeof why) != WR_OK);
    uint64_t want = a.off + (uint64_t)(c.tail - page) + eoff;
    raw_write(path, a.off, page, a.size);
    fix_crc(path, a.off);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    REQUIRE(r != NULL);
    bool found = false;
    for (size_t j = 0; j < r->nproblems; j++) {
        const wr_verify_problem *p = &r->problems[j];
        if (p->check != WR_CHECK_DOCUMENT || p->page != a.off)
            continue;
        found = true;
        CHECK_EQ(p->offset, want); /* in the leaf's cell, not a run */
    }
    CHECK(found);
    CHECK(!has(r, WR_CHECK_CHECKSUM, "people.main.wr", UINT64_MAX));
    if (!found)
        dump_problems(r);
    wr_verify_report_free(r);
    free(page);
    free(path);
    free(dir);
}

/* A key in a leaf made larger than its right neighbour. */
static void test_verify_keys_out_of_order(void)
{
    leaf_fx f;
    REQUIRE(leaf_fx_open(&f, "order", 2) == 0);
    char *path = f.path;
    uint64_t leaf = f.leaf;
    uint8_t *buf = f.buf;
    wri_page_view v = f.v;
    wri_cell c;
    REQUIRE(v.count >= 2);
    wri_page_cell(&v, 0, &c);
    /* key {"": int32}: len(4) type(1) name "\0"(1) value(4) */
    REQUIRE(c.klen == 11 && c.key[4] == BSON_TYPE_INT32);
    wri_put32(buf + (c.key - buf) + 6, 1000000);
    raw_write(path, leaf, buf, P512);
    fix_crc(path, leaf);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(path, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_ORDERING, "people.main.wr", leaf);
    EXPECT_PROBLEM(r, WR_CHECK_DOCUMENT, "people.main.wr", leaf);
    wr_verify_report_free(r);
    leaf_fx_free(&f);
}

/* A leaf's level made 1: its place says 0. */
static void test_verify_page_level_out_of_place(void)
{
    char *dir = fresh_db("level");
    char *path = join(dir, "people.main.wr");
    pages pg;
    find_pages(path, &pg);
    uint8_t buf[P512];
    raw_read(path, pg.internal[0], buf, sizeof buf);
    wri_put16(buf + WRI_PH_LEVEL, (uint16_t)(wri_get16(buf + WRI_PH_LEVEL) + 1));
    raw_write(path, pg.internal[0], buf, sizeof buf);
    fix_crc(path, pg.internal[0]);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(path, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_PAGE, "people.main.wr", pg.internal[0]);
    wr_verify_report_free(r);
    free(path);
    free(dir);
}

/* Change the index file through the B-tree and make the catalog name the
 * new checkpoint, as if the engine had lost or invented an entry. */
static void index_edit(const char *dir, bool add)
{
    wr_errbuf eb = {0};
    wri_catalog cat;
    wri_block *b = NULL;
    wri_btree *t = NULL;
    wri_cursor *cur = NULL;
    char *path = join(dir, "people.idx.age.wr");
    REQUIRE_OK(wri_catalog_read(dir, &cat, &eb), &eb);
    REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
    REQUIRE_OK(wri_btree_open(b, 2, &t, &eb), &eb);
    if (add) {
        bson_t *k = BCON_NEW("", BCON_INT32(5), "", BCON_INT32(123456));
        REQUIRE_OK(wri_btree_put(t, bson_get_data(k), k->len, NULL, 0, NULL,
                                 &eb),
                   &eb);
        bson_destroy(k);
    } else {
        const uint8_t *key;
        uint32_t klen;
        uint8_t copy[256];
        REQUIRE_OK(wri_cursor_open(t, &cur, &eb), &eb);
        REQUIRE_OK(wri_cursor_first(cur, &eb), &eb);
        REQUIRE_OK(wri_cursor_next(cur, &eb), &eb);
        wri_cursor_key(cur, &key, &klen);
        memcpy(copy, key, klen);
        wri_cursor_close(cur);
        REQUIRE_OK(wri_btree_delete(t, copy, klen, &eb), &eb);
    }
    REQUIRE_OK(wri_btree_checkpoint(t, &eb), &eb);
    /* as wr_db_checkpoint: unchanged files keep their generation in both */
    cat.coll[0].main.prev_gen = cat.coll[0].main.gen;
    for (size_t j = 0; j < cat.coll[0].nidx; j++) {
        cat.coll[0].idx[j].prev_gen = cat.coll[0].idx[j].gen;
        if (strcmp(cat.coll[0].idx[j].field, "age") == 0)
            cat.coll[0].idx[j].gen = b->cur.gen;
    }
    cat.gen++;
    REQUIRE_OK(wri_catalog_write(dir, &cat, NULL, &eb), &eb);
    wri_btree_close(t);
    wri_block_close(b);
    wri_catalog_free(&cat);
    free(path);
}

static void test_verify_index_entry_removed(void)
{
    char *dir = fresh_db("idx-removed");
    index_edit(dir, false);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_INDEX, "people.idx.age.wr", UINT64_MAX);
    CHECK(!has(r, WR_CHECK_INDEX, "people.idx.tags.wr", UINT64_MAX));
    const wr_verify_ckpt *ck = &r->files[1].ckpt[0];
    CHECK(ck->index_checked);
    CHECK_EQ(ck->index_missing, 1);
    CHECK_EQ(ck->index_dangling, 0);
    CHECK_EQ(ck->index_expected, ck->index_entries + 1);
    CHECK_EQ(r->total_problems, 1);
    wr_verify_report_free(r);
    /* the previous snapshot is still consistent */
    wr_verify_opts o = {.previous = true};
    CHECK_EQ(verify(dir, &o, &r), WR_OK);
    wr_verify_report_free(r);
    free(dir);
}

static void test_verify_index_entry_added(void)
{
    char *dir = fresh_db("idx-added");
    index_edit(dir, true);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_INDEX, "people.idx.age.wr", UINT64_MAX);
    const wr_verify_ckpt *ck = &r->files[1].ckpt[0];
    CHECK_EQ(ck->index_dangling, 1);
    CHECK_EQ(ck->index_missing, 0);
    CHECK_EQ(r->total_problems, 1);
    wr_verify_report_free(r);
    free(dir);
}

static void test_verify_catalog_problems(void)
{
    wr_errbuf eb = {0};
    wri_catalog cat;
    /* a file the catalog names is gone */
    char *dir = fresh_db("cat-missing");
    char *p = join(dir, "people.idx.tags.wr");
    REQUIRE(unlink(p) == 0);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_CATALOG, "people.idx.tags.wr", 0);
    wr_verify_report_free(r);
    free(p);
    free(dir);
    /* the catalog names a generation no slot holds */
    dir = fresh_db("cat-gen");
    REQUIRE_OK(wri_catalog_read(dir, &cat, &eb), &eb);
    cat.coll[0].main.gen += 7;
    REQUIRE_OK(wri_catalog_write(dir, &cat, NULL, &eb), &eb);
    wri_catalog_free(&cat);
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_CATALOG, "people.main.wr", UINT64_MAX);
    wr_verify_report_free(r);
    free(dir);
    /* a file with the wrong role */
    dir = fresh_db("cat-role");
    REQUIRE_OK(wri_catalog_read(dir, &cat, &eb), &eb);
    char *tmp = cat.coll[0].idx[0].file;
    cat.coll[0].idx[0].file = cat.coll[0].idx[1].file;
    cat.coll[0].idx[1].file = tmp;
    REQUIRE_OK(wri_catalog_write(dir, &cat, NULL, &eb), &eb);
    wri_catalog_free(&cat);
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_CATALOG, "people.idx.age.wr", UINT64_MAX);
    wr_verify_report_free(r);
    free(dir);
    /* a damaged catalog: each file still checked on its own */
    dir = fresh_db("cat-damaged");
    p = join(dir, WR_CATALOG_NAME);
    flip_bit(p, 40, 2);
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_CATALOG, WR_CATALOG_NAME, 0);
    CHECK_EQ(r->nfiles, 3);
    CHECK_EQ(r->total_problems, 1);
    wr_verify_report_free(r);
    free(p);
    free(dir);
}

static void test_verify_environment_errors(void)
{
    wr_verify_report *r = NULL;
    char *missing = tap_fresh_path("no-such-thing");
    CHECK_EQ(verify(missing, NULL, &r), WR_ENOTFOUND);
    REQUIRE(r != NULL);
    CHECK(strstr(r->error, "no-such-thing") != NULL);
    wr_verify_report_free(r);
    /* a directory that is not a database */
    char *dir = tap_fresh_path("not-a-db");
    REQUIRE(mkdir(dir, 0755) == 0);
    CHECK_EQ(verify(dir, NULL, &r), WR_ENOTFOUND);
    wr_verify_report_free(r);
    /* a file that is not ours: "not a wrtools file", an environment
     * error as in dump and compact, its real size in the report (issue
     * 11 bug 7) */
    char *p = join(dir, "junk");
    FILE *f = fopen(p, "wb");
    for (int i = 0; i < 5000; i++)
        fputc(i * 7, f);
    fclose(f);
    CHECK_EQ(verify(p, NULL, &r), WR_ENOTOURS);
    REQUIRE(r != NULL);
    CHECK(strstr(r->error, "not a wrtools tree file") != NULL);
    CHECK_EQ(r->nfiles, 1);
    CHECK_EQ(r->files[0].file_size, 5000);
    CHECK_EQ(r->total_problems, 0);
    wr_verify_report_free(r);
    /* --checkpoint previous of a file that has only one checkpoint */
    char *one = join(dir, "one.wr");
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    wri_block_cfg cfg = {.page_size = 512, .role = 1, .coll = "x"};
    REQUIRE_OK(wri_block_create(one, &cfg, &b, &eb), &eb);
    wri_block_close(b);
    CHECK_EQ(verify(one, NULL, &r), WR_OK);
    wr_verify_report_free(r);
    wr_verify_opts o = {.previous = true};
    CHECK_EQ(verify(one, &o, &r), WR_ENOTFOUND);
    wr_verify_report_free(r);
    free(one);
    free(p);
    free(dir);
    free(missing);
}

/* Many problems: the report keeps max_problems, counts them all. */
static void test_verify_problem_cap(void)
{
    char *dir = fresh_db("cap");
    char *path = join(dir, "people.main.wr");
    pages pg;
    find_pages(path, &pg);
    for (int i = 0; i < pg.nleaf; i++)
        flip_bit(path, pg.leaf[i] + 200, 0);
    wr_verify_report *r = NULL;
    wr_verify_opts o = {.max_problems = 5};
    CHECK_EQ(verify(path, &o, &r), WR_ECORRUPT);
    CHECK_EQ(r->nproblems, 5);
    CHECK(r->total_problems >= (uint64_t)pg.nleaf);
    char line[1200];
    wr_verify_problem_format(&r->problems[0], line, sizeof line);
    CHECK(strstr(line, ": page ") != NULL);
    CHECK(strstr(line, ": checksum: ") != NULL);
    CHECK(strstr(line, "(expected 0x") != NULL);
    wr_verify_report_free(r);
    free(path);
    free(dir);
}

/* The first inline document of a leaf: its cell (buf holds the page). */
static bool first_inline(uint8_t *buf, wri_cell *c)
{
    wri_page_view v;
    wri_page_problem pp;
    if (wri_page_check(buf, P512, 1, &v, &pp) != WR_OK)
        return false;
    for (uint32_t i = 0; i < v.count; i++) {
        wri_page_cell(&v, i, c);
        if (!c->overflow)
            return true;
    }
    return false;
}

/* Damage in many leaves, of kinds found by the walk (checksums, key
 * order) and by the document checks (an _id changed): one and two
 * threads report the same findings in the same order, also under a cap. */
/* vfdocs with the checks shared: a caller far faster than the checks
 * (it only queues) fills the ring at once, so it checks batches itself
 * beside the thread. Findings still come in the order the documents
 * went, each before the caller's own findings made after it (a sync),
 * and the digest is the one thread's. */
typedef struct vd_log {
    uint64_t at[4000];
    size_t n;
} vd_log;

static void vd_log_add(const wr_finding *f, void *arg)
{
    vd_log *l = arg;
    if (l->n < 4000)
        l->at[l->n++] = f->page;
}

static void test_vfdocs_shared_checks_keep_order(void)
{
    char *dir = tap_fresh_path("vfdocs");
    REQUIRE(build_db(dir, 50, P512) == WR_OK);
    char *path = join(dir, "people.main.wr");
    wr_errbuf eb = {0};
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true};
    wri_ps *ps = NULL;
    REQUIRE(wri_ps_open(path, &cfg, &ps, &eb) == WR_OK);
    enum { NDOC = 20000 };
    vd_log *lg[2];
    uint8_t dig[2][WR_DIGEST_LEN];
    uint64_t shared = 0;
    bson_t **doc = calloc(NDOC, sizeof *doc), **key = calloc(NDOC, sizeof *key);
    char accents[601]; /* UTF-8 checked a character at a time */
    for (int j = 0; j < 300; j++)
        accents[2 * j] = (char)0xc3, accents[2 * j + 1] = (char)0xa9;
    accents[600] = 0;
    for (int i = 0; i < NDOC; i++) { /* made first: queueing is a copy */
        bson_t arr; /* many small elements and accented text: slow to
                     * check (the shape memo does not help those), quick
                     * to copy */
        doc[i] = bson_new();
        key[i] = bson_new();
        BSON_APPEND_INT32(doc[i], "_id", i);
        BSON_APPEND_UTF8(doc[i], "text", accents);
        BSON_APPEND_ARRAY_BEGIN(doc[i], "a", &arr);
        for (int j = 0; j < 40 + i % 60; j++) {
            char k[16];
            snprintf(k, sizeof k, "%d", j);
            BSON_APPEND_INT32(&arr, k, j);
        }
        bson_append_array_end(doc[i], &arr);
        bson_append_int32(key[i], "", 0, i % 97 == 5 ? i + 1 : i);
    }
    for (int th = 0; th < 2; th++) {
        wr_digest *dg = NULL;
        wri_vd *vd = NULL;
        lg[th] = calloc(1, sizeof *lg[th]);
        ps->cfg.sink = vd_log_add; /* one thread: findings come straight */
        ps->cfg.sink_arg = lg[th];
        REQUIRE(wr_digest_new(&dg, &eb) == WR_OK);
        REQUIRE(wri_vd_new(ps, dg, (unsigned)th + 1, vd_log_add, lg[th], &vd,
                           &eb) == WR_OK);
        for (int i = 0; i < NDOC; i++) {
            wri_vloc at = {.page = (uint64_t)i, .split = UINT32_MAX};
            CHECK_EQ(wri_vd_add(vd, &at, bson_get_data(key[i]), key[i]->len,
                                bson_get_data(doc[i]), doc[i]->len, 0, &eb),
                     WR_OK);
            if (i % 2503 == 3) { /* a finding of the walk's own */
                wri_vd_sync(vd);
                vd_log_add(&(wr_finding){.page = UINT64_MAX - (uint64_t)i},
                           lg[th]);
            }
        }
        wri_vd_sync(vd);
        if (th == 1)
            shared = wri_vd_shared(vd);
        wri_vd_free(vd);
        wr_digest_final(dg, dig[th]);
        wr_digest_free(dg);
    }
    for (int i = 0; i < NDOC; i++) {
        bson_destroy(doc[i]);
        bson_destroy(key[i]);
    }
    free(doc);
    free(key);
    CHECK_EQ(lg[0]->n, (size_t)(NDOC / 97 + 1 + NDOC / 2503 + 1));
    CHECK_EQ(lg[0]->n, lg[1]->n);
    CHECK(memcmp(lg[0]->at, lg[1]->at, lg[0]->n * sizeof lg[0]->at[0]) ==
          0);
    CHECK(memcmp(dig[0], dig[1], WR_DIGEST_LEN) == 0);
    CHECK(shared > 0); /* the caller did check batches */
    printf("# %zu findings in order, %llu batches checked by the caller\n",
           lg[1]->n, (unsigned long long)shared);
    free(lg[0]);
    free(lg[1]);
    wri_ps_close(ps);
    free(path);
    free(dir);
}

/* Both reports alike, finding for finding and count for count. */
static bool reports_same(const wr_verify_report *r1,
                         const wr_verify_report *r2)
{
    bool same = r1->nfiles == r2->nfiles &&
                r1->total_problems == r2->total_problems &&
                r1->nproblems == r2->nproblems &&
                r1->pages_checked == r2->pages_checked &&
                r1->bytes_checked == r2->bytes_checked;
    for (size_t i = 0; same && i < r1->nfiles; i++)
        same = r1->files[i].nckpt == r2->files[i].nckpt &&
               memcmp(r1->files[i].ckpt, r2->files[i].ckpt,
                      r1->files[i].nckpt * sizeof r1->files[i].ckpt[0]) == 0;
    for (size_t i = 0; same && i < r1->nproblems; i++) {
        char l1[1200], l2[1200];
        wr_verify_problem_format(&r1->problems[i], l1, sizeof l1);
        wr_verify_problem_format(&r2->problems[i], l2, sizeof l2);
        if (strcmp(l1, l2) != 0) {
            printf("# finding %zu differs:\n# %s\n# %s\n", i, l1, l2);
            same = false;
        }
    }
    return same;
}

/* DIR verified on one thread and on two (quick or full; a full one with
 * the item fingerprint, which the two threads add up in halves): each
 * returns want, the one-thread run checks more than min_pages pages, and
 * the two reports are the same, fingerprints included. Returns the
 * two-thread report (the caller frees). */
static wr_verify_report *threads_agree(const char *dir, bool quick, int want,
                                       uint64_t min_pages)
{
    wr_verify_report *r1 = NULL, *r2 = NULL;
    wr_verify_opts o1 = {.threads = 1, .quick = quick, .item_digest = !quick};
    wr_verify_opts o2 = {.threads = 2, .quick = quick, .item_digest = !quick};
    CHECK_EQ(verify(dir, &o1, &r1), want);
    CHECK_EQ(verify(dir, &o2, &r2), want);
    CHECK(r1 != NULL && r1->pages_checked > min_pages);
    CHECK(r1 != NULL && r2 != NULL && reports_same(r1, r2));
    size_t fingerprints = 0;
    for (size_t i = 0; r2 != NULL && i < r2->nfiles; i++)
        for (size_t k = 0; k < r2->files[i].nckpt; k++)
            fingerprints += r2->files[i].ckpt[k].has_item_digest;
    CHECK(quick ? fingerprints == 0 : want != WR_OK || fingerprints > 0);
    wr_verify_report_free(r1);
    return r2;
}

static void test_verify_threads_same_findings(void)
{
    char *dir = tap_fresh_path("threads");
    REQUIRE(build_db(dir, 4000, P512) == WR_OK);
    char *path = join(dir, "people.main.wr");
    pages *pg = calloc(1, sizeof *pg);
    find_pages(path, pg);
    REQUIRE(pg->nleaf > 600);
    uint8_t buf[P512];
    wri_cell c;
    int ndoc = 0, nord = 0;
    for (int j = 5; j < pg->nleaf; j += 7) {
        raw_read(path, pg->leaf[j], buf, sizeof buf);
        if (!first_inline(buf, &c))
            continue;
        if (j % 3 == 0) { /* the _id's int32 (len, type, "_id\0") */
            size_t at = (size_t)(c.val - buf) + 4 + 1 + 4;
            REQUIRE(buf[at - 5] == BSON_TYPE_INT32);
            buf[at] ^= 0x40;
            ndoc++;
        } else if (j % 3 == 1 && c.klen == 11) { /* key {"": int32} */
            wri_put32(buf + (c.key - buf) + 6, 1000000);
            nord++;
        } else {
            continue;
        }
        raw_write(path, pg->leaf[j], buf, sizeof buf);
        fix_crc(path, pg->leaf[j]);
    }
    for (int j = 12; j < pg->nleaf; j += 70) /* checksums last */
        flip_bit(path, pg->leaf[j] + 300, 1);
    REQUIRE(ndoc > 20 && nord > 20);
    uint32_t caps[] = {0, 7, 100};
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        wr_verify_report *r1 = NULL, *r2 = NULL;
        wr_verify_opts o1 = {.threads = 1, .max_problems = caps[k]};
        wr_verify_opts o2 = {.threads = 2, .max_problems = caps[k]};
        CHECK_EQ(verify(dir, &o1, &r1), WR_ECORRUPT);
        CHECK_EQ(verify(dir, &o2, &r2), WR_ECORRUPT);
        CHECK_EQ(r1->total_problems, r2->total_problems);
        CHECK_EQ(r1->nproblems, r2->nproblems);
        bool same = reports_same(r1, r2);
        int kinds = 0, last = -1;
        for (size_t i = 0; i < r1->nproblems; i++) {
            if (r1->problems[i].check != last)
                kinds++; /* a change of kind: findings interleave */
            last = r1->problems[i].check;
        }
        CHECK(same);
        if (caps[k] == 0) { /* all kept: documents among the others */
            CHECK(r1->total_problems > (uint64_t)(ndoc + nord));
            CHECK(kinds > 20);
            CHECK(has(r1, WR_CHECK_DOCUMENT, "people.main.wr", UINT64_MAX));
            CHECK(has(r1, WR_CHECK_CHECKSUM, "people.main.wr", UINT64_MAX));
            CHECK(has(r1, WR_CHECK_ORDERING, "people.main.wr", UINT64_MAX));
        }
        wr_verify_report_free(r1);
        wr_verify_report_free(r2);
    }
    free(pg);
    free(path);
    free(dir);
}

/* --- the split: the root's second half on a thread of its own ---------- */

static int sp_item(void *arg, const wri_ps_page *p, uint32_t i,
                   const wri_cell *c, const uint8_t *val, const wri_vloc *at)
{
    (void)p, (void)i, (void)c, (void)val, (void)at;
    (*(uint64_t *)arg)++;
    return 0;
}

/* The split (wri_ps_walk.twin): the root's second half walked by a twin
 * on a thread of its own. On a clean file its half is kept: the two
 * walks' items add up to the records and its blocks join the map (none
 * leaked), and verify with two threads reports what one thread does,
 * count for count. A leaf of the first half that an internal page of the
 * second half also points at (--quick: no key bounds catch it first)
 * does not fit: the second half is walked again by the walk itself,
 * which finds the page reachable twice, as one thread does. */
/* One walk of path's newest checkpoint with a twin: its items (n[0] the
 * walk's, n[1] the twin's), whether the twin's part was kept, the keys
 * found, the findings and the blocks leaked; false if it would not run. */
static bool sp_walk(const char *path, uint64_t n[2], bool *taken,
                    uint64_t *keys, uint64_t *findings, uint64_t *leaked,
                    uint64_t *records)
{
    wr_errbuf eb = {0};
    wri_ps *ps = NULL, *tps = NULL;
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true};
    int slot = -1;
    bool ok = false;
    n[0] = n[1] = 0;
    if (wri_ps_open(path, &cfg, &ps, &eb) != WR_OK ||
        wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb) != WR_OK ||
        wri_ps_begin(ps, slot, true, &eb) != WR_OK ||
        wri_ps_twin(ps, &tps, &eb) != WR_OK)
        goto out;
    const wri_slot *s = &ps->slots[slot].slot;
    wri_ps_walk w = {.nkeyelem = 1, .keys = true, .map = true,
                     .inplace = true, .item = sp_item, .arg = &n[0]};
    wri_ps_walk w2 = {.item = sp_item, .arg = &n[1]};
    w.twin = &w2;
    w.twin_ps = tps;
    wri_ps_lists l = {.slot = slot};
    ok = s->height >= 3 && wri_ps_walk_lists(ps, s, &l, &eb) == WR_OK &&
         wri_ps_walk_tree(ps, s, slot, &w, &eb) == WR_OK;
    *taken = w.twin_taken;
    *keys = w.keys_found;
    *findings = ps->nfindings;
    *leaked = wri_ps_leaks(ps, s->logical_size);
    *records = s->nrecords;
    wri_ps_walk_free(&w);
    wri_ps_walk_free(&w2);
out:
    wri_ps_close(tps);
    wri_ps_close(ps);
    return ok;
}

static void test_verify_split_halves(void)
{
    char *dir = tap_fresh_path("split");
    REQUIRE(build_db(dir, 4000, P512) == WR_OK);
    char *path = join(dir, "people.main.wr");
    /* which thread takes how many of the root's children is the
     * scheduler's affair: a few walks, one at least with both at work */
    bool both = false;
    for (int k = 0; k < 20 && !both; k++) {
        uint64_t n[2], keys = 0, findings = 1, leaked = 1, records = 0;
        bool taken = false;
        REQUIRE(sp_walk(path, n, &taken, &keys, &findings, &leaked,
                        &records));
        CHECK(taken);
        CHECK_EQ(n[0] + n[1], records);
        CHECK_EQ(keys, records);
        CHECK_EQ(findings, 0);
        CHECK_EQ(leaked, 0); /* the twin's blocks are in the map */
        both = n[0] > 0 && n[1] > 0;
    }
    CHECK(both);
    for (int q = 0; q < 2; q++) {
        wr_verify_report *r2 = threads_agree(dir, q == 1, WR_OK, 600);
        wr_verify_report_free(r2);
    }
    /* the first level-1 page of the last half points at leaf[1] too */
    pages *pg = calloc(1, sizeof *pg);
    find_pages(path, pg);
    wri_slot ns;
    int idx;
    uint32_t P;
    slot_of(path, &ns, &idx, &P);
    uint8_t buf[P512], pb[P512];
    wri_page_view v, pv;
    wri_page_problem pp;
    wri_cell c, pc;
    wr_addr a = ns.root;
    for (int d = 0; d < 64; d++) { /* down the last children to level 1 */
        raw_read(path, a.off, buf, sizeof buf);
        REQUIRE(wri_page_check(buf, P512, 0, &v, &pp) == WR_OK &&
                v.type == WRI_PT_INTERNAL);
        if (v.level == 1)
            break;
        wri_page_cell(&v, v.count - 1, &c);
        a = c.child;
    }
    raw_read(path, pg->parent_of_leaf1, pb, sizeof pb);
    REQUIRE(wri_page_check(pb, P512, 0, &pv, &pp) == WR_OK);
    wri_page_cell(&pv, 1, &pc);
    REQUIRE(pc.child.off == pg->leaf[1]);
    wri_page_cell(&v, 0, &c);
    memcpy(buf + c.off + 4, pb + pc.off + 4, WRI_ADDR_LEN);
    raw_write(path, a.off, buf, sizeof buf);
    fix_crc(path, a.off);
    for (int q = 0; q < 2; q++) {
        wr_verify_report *r2 = threads_agree(dir, q == 0, WR_ECORRUPT, 0);
        if (q == 0)
            CHECK(has(r2, WR_CHECK_ORDERING, "people.main.wr", pg->leaf[1]));
        wr_verify_report_free(r2);
    }
    free(pg);
    free(path);
    free(dir);
}

/* The split's progress: the most pages_done the checking phase showed,
 * each call slowed (so the walk's thread, which reports, does less of the
 * tree than its twin, whatever the scheduler does). */
static void sp_progress(const wr_verify_progress *p, void *arg)
{
    uint64_t *most = arg;
    if (strcmp(p->phase, "checking") == 0 && p->pages_done > most[0])
        most[0] = p->pages_done;
    most[1] = p->pages_total;
    usleep(3000);
}

/* With two threads the progress counts the twin's pages as it goes: what
 * it shows before the end reaches well past half of the pages checked
 * (it showed the walk's thread's alone, its twin's added at the end),
 * never past the total; the counts stay one thread's. */
static void test_verify_split_progress(void)
{
    char *dir = tap_fresh_path("splitprog");
    REQUIRE(build_db(dir, 4000, P512) == WR_OK);
    char *path = join(dir, "people.main.wr");
    uint64_t most[2] = {0, 0};
    wr_verify_opts o = {.threads = 2, .progress = sp_progress,
                        .progress_arg = most};
    wr_verify_report *r1 = NULL, *r2 = NULL;
    wr_verify_opts o1 = {.threads = 1};
    CHECK_EQ(verify(path, &o1, &r1), WR_OK);
    CHECK_EQ(verify(path, &o, &r2), WR_OK);
    REQUIRE(r1 != NULL && r2 != NULL && r1->pages_checked > 600);
    CHECK(reports_same(r1, r2));
    CHECK_EQ(r2->pages_checked, r1->pages_checked);
    CHECK_EQ(r2->bytes_checked, r1->bytes_checked);
    uint64_t blocks = r2->bytes_checked / P512; /* pages_done's unit */
    printf("# progress showed %llu of %llu blocks checked\n",
           (unsigned long long)most[0], (unsigned long long)blocks);
    CHECK(most[0] * 3 > blocks * 2);
    CHECK(most[0] <= most[1]);
    wr_verify_report_free(r1);
    wr_verify_report_free(r2);
    free(path);
    free(dir);
}

/* --- the walk in place against the copying walk ------------------------- */

/* Everything a walk reports, in order, folded into a running hash: each
 * finding's line, each page (address, trusted, decoded, its bytes), each
 * item (slot, key, value or none, the value's offset). */
typedef struct wtrace {
    uint64_t h, findings, pages, items, inplace;
    const wri_ps *ps;
} wtrace;

static void wt_add(wtrace *t, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        t->h = (t->h ^ b[i]) * 0x100000001b3ull;
    t->h = (t->h ^ n) * 0x100000001b3ull;
}

static void wt_sink(const wr_finding *f, void *arg)
{
    wtrace *t = arg;
    char line[1200];
    wr_verify_problem_format(f, line, sizeof line);
    wt_add(t, line, strlen(line));
    t->findings++;
}

static int wt_page(void *arg, const wri_ps_page *p)
{
    wtrace *t = arg;
    uint64_t x[4] = {p->addr.off, p->addr.size, p->trusted, p->v != NULL};
    wt_add(t, x, sizeof x);
    if (p->buf != NULL)
        wt_add(t, p->buf, p->addr.size);
    if (p->buf != NULL && t->ps->run != NULL && p->buf >= t->ps->run &&
        p->buf < t->ps->run + WRI_PS_RUN_MAX)
        t->inplace++;
    t->pages++;
    return 0;
}

static int wt_item(void *arg, const wri_ps_page *p, uint32_t i,
                   const wri_cell *c, const uint8_t *val, const wri_vloc *at)
{
    wtrace *t = arg;
    uint64_t x[6] = {p->addr.off, i, c->vlen, at->off, at->toff, val != NULL};
    wt_add(t, x, sizeof x);
    wt_add(t, c->key, c->klen);
    if (val != NULL)
        wt_add(t, val, c->vlen);
    t->items++;
    return 0;
}

/* Walk the newest checkpoint of path as verify does, in place or not. */
static void wt_walk(const char *path, bool inplace, wtrace *t)
{
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true, .sink = wt_sink,
                      .sink_arg = t};
    int slot = -1;
    memset(t, 0, sizeof *t);
    t->h = 0xcbf29ce484222325ull;
    if (wri_ps_open(path, &cfg, &ps, &eb) != WR_OK ||
        wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb) != WR_OK ||
        wri_ps_begin(ps, slot, true, &eb) != WR_OK) {
        wt_add(t, eb.msg, strlen(eb.msg));
        wri_ps_close(ps);
        return;
    }
    t->ps = ps;
    const wri_slot *s = &ps->slots[slot].slot;
    wri_ps_walk w = {.nkeyelem = 1, .keys = true, .map = true,
                     .inplace = inplace, .page = wt_page, .item = wt_item,
                     .arg = t};
    wri_ps_lists l = {.slot = slot};
    int rc = wri_ps_walk_lists(ps, s, &l, &eb);
    rc = rc < 0 ? rc : wri_ps_walk_tree(ps, s, slot, &w, &eb);
    uint64_t x[6] = {(uint64_t)rc, w.incomplete, w.values_bad, w.keys_found,
                     l.incomplete,
                     w.incomplete ? 0 : wri_ps_leaks(ps, s->logical_size)};
    wt_add(t, x, sizeof x);
    wri_ps_walk_free(&w);
    wri_ps_close(ps);
}

/* A leaf of a verify walk is checked where the read put it, in the run
 * buffer (a leaf with an overflow value is copied first: its values are
 * read through the same buffer). Against the copying walk, on a clean
 * file and on 120 damaged copies (bits flipped in leaves with their CRCs
 * carried up, so the damage reaches the decoder and the key checks; in
 * overflow pages; anywhere): the same findings, pages, bytes and items
 * in the same order, and the leaves really were checked in place. */
/* A churned file whose leaves hold values of one to six blocks: rounds
 * of puts and deletes, a checkpoint each, so that a leaf's overflow
 * pages lie before it, after it, and past the read run it came in. */
static int build_overflowing(const char *dir)
{
    wr_errbuf eb = {0};
    wr_db_opts o = {.create = true, .page_size = P512, .holder = "test"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    uint64_t seed = 7;
    int rc;
    if ((rc = wr_db_open(dir, &o, &db, &eb)) != WR_OK ||
        (rc = wr_coll_open(db, "people", true, &c, &eb)) != WR_OK)
        goto out;
    for (int round = 0; round < 8 && rc == WR_OK; round++) {
        for (int k = 0; k < 400 && rc == WR_OK; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int id = (int)((seed >> 33) % 1500);
            if ((seed >> 20) % 4 == 0) {
                bson_t *d = BCON_NEW("_id", BCON_INT32(id));
                rc = wr_coll_delete(c, d, &eb);
                bson_destroy(d);
                if (rc == WR_ENOTFOUND) {
                    rc = WR_OK;
                    wr_errbuf_clear(&eb);
                }
                continue;
            }
            bson_t *d = make_doc(id, 0);
            if ((seed >> 40) % 3 == 0) { /* one to six blocks */
                char str[3000];
                size_t n = 500 + (size_t)(seed >> 44) % 2400;
                memset(str, 'a' + id % 26, n);
                str[n] = 0;
                BSON_APPEND_UTF8(d, "long", str);
            }
            rc = wr_coll_put(c, d, NULL, &eb);
            bson_destroy(d);
        }
        if (rc == WR_OK && round < 7)
            rc = wr_db_checkpoint(db, &eb);
    }
out:
    return db_build_end(db, rc, "build_overflowing", &eb);
}

static void test_walk_in_place_equals_copying(void)
{
    char *dir = tap_fresh_path("inplace");
    REQUIRE(build_overflowing(dir) == WR_OK);
    char *path = join(dir, "people.main.wr");
    uint64_t size = file_size(path);
    uint8_t *orig = malloc(size);
    raw_read(path, 0, orig, size);
    pages *pg = calloc(1, sizeof *pg);
    find_pages(path, pg);
    REQUIRE(pg->nleaf > 300 && pg->ovf != 0);
    uint64_t seed = 0x9E3779B97F4A7C15ull, inplace = 0, differ = 0;
    uint64_t findings = 0, damaged = 0;
    for (int round = 0; round <= 120; round++) {
        raw_write(path, 0, orig, size);
        for (int k = 0; round > 0 && k < 1 + round % 3; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t r = seed >> 16;
            uint64_t at;
            switch (round % 4) {
            case 0: case 1: /* a leaf, CRC carried up: decoder, keys */
                at = pg->leaf[r % (uint64_t)pg->nleaf];
                flip_bit(path, at + 32 + (r >> 20) % (P512 - 32),
                         (int)(r >> 8) & 7);
                fix_crc(path, at);
                break;
            case 2: /* the overflow value or its leaf */
                at = (r & 1) ? pg->ovf : pg->ovf_leaf;
                flip_bit(path, at + 32 + (r >> 20) % (P512 - 32),
                         (int)(r >> 8) & 7);
                if (r & 2)
                    fix_crc(path, at);
                break;
            default: /* anywhere */
                flip_bit(path, (r >> 4) % size, (int)(r >> 8) & 7);
                break;
            }
        }
        wtrace a, b;
        wt_walk(path, false, &a);
        wt_walk(path, true, &b);
        if (a.h != b.h || a.findings != b.findings || a.pages != b.pages ||
            a.items != b.items) {
            if (differ++ < 5)
                TAP_FAIL("round %d: copying %llu findings %llu pages %llu "
                         "items, in place %llu %llu %llu",
                         round, (unsigned long long)a.findings,
                         (unsigned long long)a.pages,
                         (unsigned long long)a.items,
                         (unsigned long long)b.findings,
                         (unsigned long long)b.pages,
                         (unsigned long long)b.items);
        }
        CHECK_EQ(a.inplace, 0);
        inplace += b.inplace;
        findings += b.findings;
        damaged += b.findings > 0;
    }
    printf("# 121 walks: %llu findings (%llu damaged walks), %llu pages "
           "checked in place\n",
           (unsigned long long)findings, (unsigned long long)damaged,
           (unsigned long long)inplace);
    CHECK_EQ(differ, 0);
    CHECK(damaged > 50);
    CHECK(inplace > 121 * 20);
    free(pg);
    free(orig);
    free(path);
    free(dir);
}

/* Random damage anywhere in each file: never a crash, never a leak, and
 * a damaged file is never called clean unless the byte was unused. */
static void test_verify_random_damage_never_crashes(void)
{
    char *dir = fresh_db("random");
    char *path = join(dir, "people.main.wr");
    uint64_t size = file_size(path);
    uint8_t *orig = malloc(size);
    raw_read(path, 0, orig, size);
    uint64_t seed = 12345;
    for (int k = 0; k < 150; k++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t off = (seed >> 20) % size;
        raw_write(path, 0, orig, size);
        flip_bit(path, off, (int)(seed >> 60) & 7);
        wr_verify_report *r = NULL;
        wr_verify_opts o = {.all_checkpoints = k % 2 == 0, .quick = k % 5 == 0};
        int rc = verify(dir, &o, &r);
        CHECK(rc == WR_OK || rc == WR_ECORRUPT);
        wr_verify_report_free(r);
    }
    free(orig);
    free(path);
    free(dir);
}

/* A random workload of puts, deletes and checkpoints, some documents big,
 * some collections emptied: every checkpoint of every file verifies clean
 * after every round (no false alarm in the space accounting). */
static void test_verify_random_workload_stays_clean(void)
{
    char *dir = tap_fresh_path("workload");
    wr_errbuf eb = {0};
    wr_db_opts o = {.create = true, .page_size = P512, .holder = "t"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    uint64_t seed = 99;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "w", true, &c, &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(c, "address.city", &eb), &eb);
    for (int round = 0; round < 12; round++) {
        int nops = round == 6 ? 0 : 150;
        for (int k = 0; k < nops; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int id = (int)((seed >> 33) % 400);
            if ((seed >> 20) % 3 == 0 || round == 9) {
                bson_t *d = BCON_NEW("_id", BCON_INT32(id));
                int rc = wr_coll_delete(c, d, &eb);
                bson_destroy(d);
                REQUIRE(rc == WR_OK || rc == WR_ENOTFOUND);
                wr_errbuf_clear(&eb);
            } else {
                bson_t *d = make_doc(id, (seed >> 40) % 7 == 0);
                REQUIRE_OK(wr_coll_put(c, d, NULL, &eb), &eb);
                bson_destroy(d);
            }
        }
        if (round == 9) /* empty it */
            for (int id = 0; id < 400; id++) {
                bson_t *d = BCON_NEW("_id", BCON_INT32(id));
                (void)wr_coll_delete(c, d, &eb);
                wr_errbuf_clear(&eb);
                bson_destroy(d);
            }
        REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
        wr_verify_report *r = NULL;
        wr_verify_opts all = {.all_checkpoints = true};
        int rc = verify(dir, &all, &r);
        if (rc != WR_OK) {
            printf("# round %d\n", round);
            dump_problems(r);
        }
        CHECK_EQ(rc, WR_OK);
        wr_verify_report_free(r);
        /* the first snapshot has none before it (exit 3 in wr-verify) */
        wr_verify_opts prev = {.previous = true};
        CHECK_EQ(verify(dir, &prev, &r), round == 0 ? WR_ENOTFOUND : WR_OK);
        if (round == 0)
            CHECK(r != NULL && strstr(r->error, "no previous checkpoint"));
        wr_verify_report_free(r);
        if (rc != WR_OK)
            break;
    }
    wr_db_close(db);
    free(dir);
}

/* Issue 11 bug 1: a flipped bit in the catalog's version field is damage
 * (exit 1), not "a newer format" (exit 3); a newer version under a good
 * CRC is still WR_EVERSION. Bug 3: the catalog's bytes 28-31 are zero. */
static void test_verify_catalog_version_bit_is_damage(void)
{
    char *dir = fresh_db("cat-version");
    char *p = join(dir, WR_CATALOG_NAME);
    uint64_t len = file_size(p);
    uint8_t *buf = malloc(len);
    wri_catalog cat;
    char why[256];
    REQUIRE(buf != NULL);
    raw_read(p, 0, buf, len);
    buf[12] ^= 0x04; /* version 1 -> 5 */
    CHECK_EQ(wri_catalog_decode(buf, len, &cat, why, sizeof why),
             WR_ECORRUPT);
    CHECK(strstr(why, "CRC mismatch") != NULL);
    raw_write(p, 0, buf, len);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(dir, NULL, &r), WR_ECORRUPT);
    EXPECT_PROBLEM(r, WR_CHECK_CATALOG, WR_CATALOG_NAME, 0);
    wr_verify_report_free(r);
    /* the same version with its CRC made good: a newer format */
    wri_put32(buf, wri_crc32(0, buf + 4, len - 4));
    CHECK_EQ(wri_catalog_decode(buf, len, &cat, why, sizeof why),
             WR_EVERSION);
    /* reserved bytes 28-31 */
    buf[12] ^= 0x04;
    buf[29] = 1;
    wri_put32(buf, wri_crc32(0, buf + 4, len - 4));
    CHECK_EQ(wri_catalog_decode(buf, len, &cat, why, sizeof why),
             WR_ECORRUPT);
    CHECK(strstr(why, "28-31") != NULL);
    buf[29] = 0;
    wri_put32(buf, wri_crc32(0, buf + 4, len - 4));
    CHECK_EQ(wri_catalog_decode(buf, len, &cat, why, sizeof why), WR_OK);
    wri_catalog_free(&cat);
    free(buf);
    free(p);
    free(dir);
}

/* Issue 11 bug 3: bytes the format says are zero, set under good CRCs
 * (carried up to the slot), are page-structure problems, as
 * bt_vrfy_dsk.c reports them: the AUX high word, the free gap, a cell's
 * padding, the overflow tail, the extent-list page's tail. */
static void test_verify_nonzero_reserved_bytes(void)
{
    const char *what[] = {"AUX high word", "free gap", "cell padding",
                          "overflow tail", "extent-list tail"};
    for (int k = 0; k < 5; k++) {
        char name[32];
        snprintf(name, sizeof name, "zero%d", k);
        char *dir = fresh_db(name);
        char *path = join(dir, "people.main.wr");
        pages pg;
        find_pages(path, &pg);
        uint8_t buf[P512];
        wri_page_view v;
        wri_page_problem pp;
        wri_cell c;
        uint64_t page = pg.leaf[1], at = 0;
        raw_read(path, page, buf, sizeof buf);
        REQUIRE(wri_page_check(buf, P512, 1, &v, &pp) == WR_OK);
        switch (k) {
        case 0:
            at = WRI_PH_AUX + 4;
            break;
        case 1:
            REQUIRE(v.free_bytes > 0);
            at = v.lowest - 1;
            break;
        case 2:
            wri_page_cell(&v, 0, &c);
            at = c.off + 3;
            break;
        case 3: {
            /* an overflow page with room after its value: the engine
             * splits an 800-byte document (_id -1: the first overflow
             * value in key order), compacting at fill 50% (one-block
             * leaves, which keep no tail) puts it whole in a run */
            wr_errbuf eb = {0};
            wr_db_opts o = {.holder = "test"};
            wr_db *db = NULL;
            wr_coll *coll = NULL;
            static char x[800];
            memset(x, 'x', sizeof x - 1);
            bson_t *d = bson_new();
            BSON_APPEND_INT32(d, "_id", -1);
            BSON_APPEND_UTF8(d, "text", x);
            REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
            REQUIRE_OK(wr_coll_open(db, "people", false, &coll, &eb), &eb);
            REQUIRE_OK(wr_coll_put(coll, d, NULL, &eb), &eb);
            REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
            wr_db_close(db);
            bson_destroy(d);
            wr_compact_opts co = {.fill_pct = 50};
            REQUIRE_OK(wr_compact(dir, &co, NULL, &eb), &eb);
            find_pages(path, &pg);
            page = pg.ovf;
            REQUIRE(page != 0);
            raw_read(path, page, buf, sizeof buf);
            uint32_t size = wri_get32(buf + WRI_PH_SIZE);
            uint64_t vlen = wri_get64(buf + WRI_PH_AUX);
            REQUIRE(WRI_PH_LEN + vlen < size);
            at = size - 1; /* the page's last byte */
            break;
        }
        default:
            page = pg.extlist;
            REQUIRE(page != 0);
            raw_read(path, page, buf, sizeof buf);
            REQUIRE(WRI_EL_ENTRIES +
                        wri_get32(buf + WRI_PH_COUNT) * WRI_EL_ENTRY_LEN <
                    P512);
            at = P512 - 1;
            break;
        }
        uint8_t one = 0x01;
        raw_write(path, page + at, &one, 1);
        fix_crc(path, page);
        wr_verify_report *r = NULL;
        CHECK_EQ(verify(path, NULL, &r), WR_ECORRUPT);
        bool found = false;
        for (size_t i = 0; r != NULL && i < r->nproblems; i++)
            found |= r->problems[i].check == WR_CHECK_PAGE &&
                     r->problems[i].page == page &&
                     r->problems[i].offset == page + at;
        if (!found) {
            TAP_FAIL("%s: no page-structure problem at byte %llu", what[k],
                     (unsigned long long)(page + at));
            if (r != NULL)
                dump_problems(r);
        }
        CHECK(!has(r, WR_CHECK_CHECKSUM, "people.main.wr", UINT64_MAX));
        wr_verify_report_free(r);
        free(path);
        free(dir);
    }
}

/* Issue 11 bug 3: the rest of a slot's block (a 4 KiB file) is zero. */
static void test_verify_nonzero_slot_tail(void)
{
    char *dir = tap_fresh_path("slot-tail");
    REQUIRE(mkdir(dir, 0755) == 0);
    REQUIRE(build_db(dir, 20, 4096) == WR_OK);
    char *path = join(dir, "people.main.wr");
    uint8_t one = 0x01;
    raw_write(path, 4096 + 4000, &one, 1);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(path, NULL, &r), WR_ECORRUPT);
    bool found = false;
    for (size_t i = 0; r != NULL && i < r->nproblems; i++)
        found |= r->problems[i].check == WR_CHECK_HEADER &&
                 r->problems[i].page == 4096 &&
                 r->problems[i].offset == 4096 + 4000;
    CHECK(found);
    wr_verify_report_free(r);
    free(path);
    free(dir);
}

/* Issue 11 bug 4: an overflow cell whose length (and page size) say 2 GiB
 * is damage, found before anything is allocated: WR_ECORRUPT from the
 * engine, not ENOMEM. */
static void test_btree_hostile_overflow_length(void)
{
    char *dir = fresh_db("ovf-len");
    char *path = join(dir, "people.main.wr");
    pages pg;
    find_pages(path, &pg);
    REQUIRE(pg.ovf_leaf != 0);
    uint8_t buf[P512], key[P512];
    uint32_t klen = 0;
    wri_page_view v;
    wri_page_problem pp;
    raw_read(path, pg.ovf_leaf, buf, sizeof buf);
    REQUIRE(wri_page_check(buf, P512, 1, &v, &pp) == WR_OK);
    for (uint32_t i = 0; i < v.count; i++) {
        wri_cell c;
        wri_page_cell(&v, i, &c);
        if (!c.overflow || c.ovf.off != pg.ovf)
            continue;
        uint32_t vlen = 0x7fffff00u;
        wri_put32(buf + c.off + 4, vlen);
        wri_put32(buf + c.off + WRI_LEAF_CELL_HDR + c.klen + 8,
                  (uint32_t)wri_overflow_size(P512, vlen));
        memcpy(key, c.key, c.klen);
        klen = c.klen;
    }
    REQUIRE(klen > 0);
    raw_write(path, pg.ovf_leaf, buf, sizeof buf);
    fix_crc(path, pg.ovf_leaf);
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    wri_btree *t = NULL;
    uint8_t *val = NULL;
    uint32_t vl = 0;
    REQUIRE_OK(wri_block_open(path, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    REQUIRE_OK(wri_btree_open(b, 1, &t, &eb), &eb);
    CHECK_EQ(wri_btree_get(t, key, klen, &val, &vl, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "16 MiB") != NULL);
    free(val);
    wri_btree_close(t);
    wri_block_close(b);
    free(path);
    free(dir);
}

/* An _id replaced by an equal one of another numeric type (1 by 1.0,
 * NumberLong(2) by 2): the key keeps its first bytes, the document holds
 * the new type; the same _id in MongoDB's order, so not damage (verify
 * and dump reported it as a document problem). */
static void test_verify_id_of_another_numeric_type_is_clean(void)
{
    char *dir = tap_fresh_path("id-types");
    wr_errbuf eb = {0};
    wr_db_opts o = {.create = true, .page_size = 512, .holder = "test"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "people", true, &c, &eb), &eb);
    bson_t *docs[] = {BCON_NEW("_id", BCON_INT32(1), "v", BCON_INT32(1)),
                      BCON_NEW("_id", BCON_INT64(2), "v", BCON_INT32(1)),
                      BCON_NEW("_id", BCON_DOUBLE(1.0), "v", BCON_INT32(2)),
                      BCON_NEW("_id", BCON_INT32(2), "v", BCON_INT32(2))};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(wr_coll_put(c, docs[i], NULL, &eb), WR_OK);
        bson_destroy(docs[i]);
    }
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wr_db_close(db);
    wr_verify_report *r = NULL;
    CHECK_EQ(verify(dir, NULL, &r), WR_OK);
    if (r != NULL && r->nproblems > 0)
        dump_problems(r);
    wr_verify_report_free(r);
    free(dir);
}

/* --- keys outside the bounds their parent's separators set ------------------
 * A child may hold only keys in [its separator, the next separator) (the
 * bounds an ancestor passes down where the parent has none). Each case
 * puts one key of one page outside them -- at its first, a middle or its
 * last slot, below the lower bound or at/above the upper one -- in a
 * one-block leaf, a long leaf and an internal page, keeping every CRC and
 * every document's _id right, and wants the exact ordering finding
 * (page, byte, slot, message, both keys) and nothing it cannot explain. */

/* One collection, "bounds", without indexes: n small documents with _id
 * 0, 10, 20, ... (room between any two keys) on 512-byte pages; when
 * compact, compacted (long leaves). Its main table's path. */
static char *bounds_db(const char *name, int n, bool compact)
{
    wr_errbuf eb = {0};
    wr_db_opts o = {.create = true, .page_size = P512, .holder = "test"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    char *dir = tap_fresh_path(name);
    int rc;
    if ((rc = wr_db_open(dir, &o, &db, &eb)) == WR_OK &&
        (rc = wr_coll_open(db, "bounds", true, &c, &eb)) == WR_OK)
        for (int i = 0; i < n && rc == WR_OK; i++) {
            bson_t *d = make_doc(10 * i, 0);
            rc = wr_coll_put(c, d, NULL, &eb);
            bson_destroy(d);
        }
    if (db_build_end(db, rc, "bounds_db", &eb) != WR_OK)
        exit(2);
    wr_compact_opts co = {0};
    if (compact && wr_compact(dir, &co, NULL, &eb) != WR_OK) {
        printf("# bounds_db: %s\n", eb.msg);
        exit(2);
    }
    char *path = join(dir, "bounds.main.wr");
    free(dir);
    return path;
}

/* A fresh copy of the database whose main table is tmpl, for case
 * NAME-pos-upper: its main table's path. */
static char *bounds_copy(const char *tmpl, const char *name, int pos,
                         int upper)
{
    char nm[64], cmd[2400];
    snprintf(nm, sizeof nm, "%s-%d-%d", name, pos, upper);
    char *dir = tap_fresh_path(nm), *src = strdup(tmpl);
    *strrchr(src, '/') = 0;
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", src, dir);
    if (system(cmd) != 0)
        exit(2);
    char *path = join(dir, "bounds.main.wr");
    free(src);
    free(dir);
    return path;
}

/* A tree page read whole (a leaf may be a run of blocks). */
typedef struct tpage {
    wr_addr a;
    uint8_t buf[WRI_LEAF_MAX];
    wri_page_view v;
} tpage;

static void tpage_read(const char *path, const wr_addr *a, tpage *t)
{
    wri_page_problem pp;
    t->a = *a;
    raw_read(path, a->off, t->buf, a->size);
    if (wri_page_check(t->buf, a->size, 1, &t->v, &pp) != WR_OK) {
        printf("# page %llu: %s\n", (unsigned long long)a->off, pp.what);
        exit(3);
    }
}

static wri_cell tpage_cell(const tpage *t, uint32_t i)
{
    wri_cell c;
    wri_page_cell(&t->v, i, &c);
    return c;
}

/* Key i's _id: {"": int32}: len(4) type(1) name "\0"(1) value(4). */
static int32_t tpage_id(const tpage *t, uint32_t i)
{
    wri_cell c = tpage_cell(t, i);
    if (c.klen != 11 || c.key[4] != BSON_TYPE_INT32)
        exit(3);
    return (int32_t)wri_get32(c.key + 6);
}

/* Key i := id, and in a leaf its document's _id too (inline: len(4)
 * type(1) "_id\0"(4) int32), so only the key's place is wrong; then the
 * page's CRC and every address up to the slot made good. */
static void tpage_set_id(const char *path, tpage *t, uint32_t i, int32_t id)
{
    wri_cell c = tpage_cell(t, i);
    if (c.klen != 11 || c.key[4] != BSON_TYPE_INT32)
        exit(3);
    wri_put32(t->buf + (c.key - t->buf) + 6, (uint32_t)id);
    if (t->v.type == WRI_PT_LEAF) {
        if (c.val == NULL || c.vlen < 13 || c.val[4] != BSON_TYPE_INT32 ||
            memcmp(c.val + 5, "_id", 4) != 0)
            exit(3);
        wri_put32(t->buf + (c.val - t->buf) + 9, (uint32_t)id);
    }
    raw_write(path, t->a.off, t->buf, t->a.size);
    fix_crc(path, t->a.off);
}

/* The walk's down-the-tree path to a page with both bounds: child k of
 * parent, whose separators k and k + 1 are the bounds. */
typedef struct bplace {
    tpage *parent, *child;
    uint32_t k;
    int32_t lo, hi; /* the parent's separators k and k + 1 */
} bplace;

/* Child k of a checked internal page (its level one less). */
static void bplace_open(const char *path, const wr_addr *pa, uint32_t k,
                        bplace *b)
{
    b->parent = malloc(sizeof *b->parent);
    b->child = malloc(sizeof *b->child);
    if (b->parent == NULL || b->child == NULL)
        exit(3);
    tpage_read(path, pa, b->parent);
    if (b->parent->v.type != WRI_PT_INTERNAL || k < 1 ||
        k + 1 >= b->parent->v.count) {
        printf("# page %llu: no child %u with two bounds\n",
               (unsigned long long)pa->off, k);
        exit(3);
    }
    b->k = k;
    b->lo = tpage_id(b->parent, k);
    b->hi = tpage_id(b->parent, k + 1);
    wri_cell c = tpage_cell(b->parent, k);
    tpage_read(path, &c.child, b->child);
}

static void bplace_free(bplace *b)
{
    free(b->parent);
    free(b->child);
}

/* The page at level (0: the leaves) reached from the root of the file's
 * newest checkpoint through middle children. */
static wr_addr middle_at(const char *path, int level)
{
    wri_slot s;
    int idx;
    uint32_t P;
    slot_of(path, &s, &idx, &P);
    wr_addr a = s.root;
    tpage *t = malloc(sizeof *t);
    if (t == NULL || (int)s.height <= level)
        exit(3);
    for (int l = (int)s.height - 1; l > level; l--) {
        tpage_read(path, &a, t);
        a = tpage_cell(t, t->v.count / 2).child;
    }
    free(t);
    return a;
}

/* The exact message ps_key gives for slot i of a page whose key breaks
 * the lower (or upper) bound. */
static void bound_detail(char *buf, size_t len, uint32_t i, bool upper)
{
    if (upper)
        snprintf(buf, len,
                 "slot %u: key not below the upper bound the parent's next "
                 "separator sets (expected: less than the first)",
                 i);
    else
        snprintf(buf, len,
                 "slot %u: key below the lower bound the parent's separator "
                 "sets (expected: at least the first)",
                 i);
}

/* Does the report hold the bound finding for slot i of page t, whose key
 * is id and whose broken bound is bound: the main table's ordering check,
 * that page, the key's first byte, that message, the bound expected and
 * the key found (an int32 key's value shows as its number)? */
static bool has_bound(const wr_verify_report *r, const tpage *t, uint32_t i,
                      bool upper, int32_t bound, int32_t id)
{
    char want[200], b[32], k[32];
    wri_cell c = tpage_cell(t, i);
    bound_detail(want, sizeof want, i, upper);
    snprintf(b, sizeof b, "%d", bound);
    snprintf(k, sizeof k, "%d", id);
    for (size_t j = 0; j < r->nproblems; j++) {
        const wr_verify_problem *p = &r->problems[j];
        size_t pl = strlen(p->path);
        if (p->check == WR_CHECK_ORDERING && pl >= 15 &&
            strcmp(p->path + pl - 15, "/bounds.main.wr") == 0 &&
            p->page == t->a.off &&
            p->offset == t->a.off + (uint64_t)(c.key - t->buf) &&
            strcmp(p->detail, want) == 0 && strcmp(p->expected, b) == 0 &&
            strcmp(p->found, k) == 0)
            return true;
    }
    TAP_FAIL("no finding \"%s\" (bound %d, key %d) at page %llu", want,
             bound, id, (unsigned long long)t->a.off);
    dump_problems(r);
    return false;
}

/* Verify path (the file, then its database: the same findings): exit 1
 * (WR_ECORRUPT), only ordering findings, nfind of them. The report of
 * the file's run, for the caller's has_bound and free. */
static wr_verify_report *verify_bounds(const char *path, size_t nfind)
{
    wr_verify_report *r = NULL, *rd = NULL;
    char *dir = strdup(path);
    *strrchr(dir, '/') = 0;
    CHECK_EQ(verify(path, NULL, &r), WR_ECORRUPT);
    if (r == NULL)
        exit(3);
    size_t order = 0;
    for (size_t j = 0; j < r->nproblems; j++)
        order += r->problems[j].check == WR_CHECK_ORDERING;
    CHECK_EQ(r->total_problems, nfind);
    CHECK_EQ(order, nfind);
    if (r->total_problems != nfind || order != nfind)
        dump_problems(r);
    CHECK_EQ(verify(dir, NULL, &rd), WR_ECORRUPT);
    if (rd != NULL)
        CHECK_EQ(rd->total_problems, nfind);
    wr_verify_report_free(rd);
    free(dir);
    return r;
}

/* The six places of a bad key in a leaf with two bounds (child 1 of a
 * page at level 1), each in a fresh copy of the database whose main table
 * is tmpl: the first, a middle and the last slot, below the lower bound
 * and at/above the upper one. */
static void bounds_in_leaf(const char *tmpl, const char *name)
{
    for (int pos = 0; pos < 3; pos++)
        for (int upper = 0; upper <= 1; upper++) {
            char *path = bounds_copy(tmpl, name, pos, upper);
            wr_addr pa = middle_at(path, 1);
            bplace b;
            bplace_open(path, &pa, 1, &b);
            tpage *c = b.child;
            uint32_t n = c->v.count;
            REQUIRE(c->v.type == WRI_PT_LEAF && n >= 3);
            if (strstr(name, "long") != NULL)
                CHECK(c->a.size > P512); /* a long leaf */
            uint32_t i = pos == 0 ? 0 : pos == 1 ? n / 2 : n - 1;
            int32_t id;
            size_t nfind = 1;
            uint32_t also = UINT32_MAX; /* a slot now out of order */
            if (pos == 0 && !upper) {
                /* the parent's separator raised past the first key: a
                 * key between the left sibling's and the separator */
                id = tpage_id(c, 0);
                b.lo = tpage_id(c, 1);
                tpage_set_id(path, b.parent, b.k, b.lo);
            } else if (pos == 2 && upper) {
                /* the next separator lowered onto the last key: a key at
                 * the upper bound, below the right sibling's keys */
                id = tpage_id(c, n - 1);
                b.hi = id;
                tpage_set_id(path, b.parent, b.k + 1, b.hi);
            } else {
                /* the key itself moved out: 5 past the bound, between
                 * the neighbours' keys; a key moved out of the middle is
                 * out of order with one neighbour too */
                id = upper ? b.hi + 5 : b.lo - 5;
                tpage_set_id(path, c, i, id);
                if (upper && i + 1 < n)
                    also = i + 1;
                else if (!upper && i > 0)
                    also = i;
                nfind += also != UINT32_MAX;
            }
            wr_verify_report *r = verify_bounds(path, nfind);
            CHECK(has_bound(r, c, i, upper, upper ? b.hi : b.lo, id));
            if (also != UINT32_MAX) { /* the in-page order finding */
                bool found = false;
                char want[64];
                snprintf(want, sizeof want, "slot %u: key not greater than",
                         also);
                for (size_t j = 0; j < r->nproblems; j++)
                    found |= r->problems[j].page == c->a.off &&
                             strncmp(r->problems[j].detail, want,
                                     strlen(want)) == 0;
                CHECK(found);
            }
            wr_verify_report_free(r);
            bplace_free(&b);
            free(path);
        }
}

/* A leaf key outside the bounds its parent gives it, in a tree of n
 * documents (compacted or not) whose height is exactly height, or at
 * least height when at_least. */
static void bounds_leaf_case(const char *name, int n, bool compact,
                             uint32_t height, bool at_least)
{
    char *path = bounds_db(name, n, compact);
    wri_slot s;
    int idx;
    uint32_t P;
    slot_of(path, &s, &idx, &P);
    if (at_least)
        REQUIRE(s.height >= height);
    else
        REQUIRE(s.height == height);
    bounds_in_leaf(path, name);
    free(path);
}

/* One-block leaves: a tree three or more levels high (the leaf's parent
 * has bounds of its own). */
static void test_verify_key_outside_parent_bounds_leaf(void)
{
    bounds_leaf_case("bounds-leaf", 2000, false, 3, true);
}

/* Long leaves (format 4, compacted): a tree two levels high (the leaf's
 * parent: the root). */
static void test_verify_key_outside_parent_bounds_long_leaf(void)
{
    bounds_leaf_case("bounds-long", 3000, true, 2, false);
}

/* An internal page's separator outside the bounds its parent sets for it:
 * its first (slot 1: slot 0 has no key), a middle and its last key. The
 * child it bounds then has an empty range: each of that child's keys is
 * out of it too, and named. */
static void test_verify_key_outside_parent_bounds_internal(void)
{
    char *tmpl = bounds_db("bounds-int", 2000, false);
    for (int pos = 0; pos < 3; pos++)
        for (int upper = 0; upper <= 1; upper++) {
            char *path = bounds_copy(tmpl, "bounds-int", pos, upper);
            wri_slot s;
            int idx;
            uint32_t P;
            slot_of(path, &s, &idx, &P);
            REQUIRE(s.height >= 3);
            wr_addr pa = middle_at(path, 2);
            bplace b;
            bplace_open(path, &pa, 1, &b);
            tpage *ip = b.child;
            uint32_t n = ip->v.count;
            REQUIRE(ip->v.type == WRI_PT_INTERNAL && n >= 4);
            uint32_t i = pos == 0 ? 1 : pos == 1 ? n / 2 : n - 1;
            int32_t id = upper ? b.hi + (pos == 2 ? 0 : 5) : b.lo - 5;
            /* the child the moved key leaves an empty range: right of
             * it when the key is at/above hi (the range starts there),
             * left of it when the key is below lo (the range ends
             * there); the other neighbour's range only grew */
            uint32_t emptied = upper ? i : i - 1;
            tpage *e = malloc(sizeof *e);
            REQUIRE(e != NULL);
            wri_cell ec = tpage_cell(ip, emptied);
            tpage_read(path, &ec.child, e);
            REQUIRE(e->v.type == WRI_PT_LEAF);
            size_t nfind = 1 + e->v.count;
            uint32_t also = UINT32_MAX;
            if (upper && i + 1 < n)
                also = i + 1;
            else if (!upper && i > 1)
                also = i;
            nfind += also != UINT32_MAX;
            tpage_set_id(path, ip, i, id);
            wr_verify_report *r = verify_bounds(path, nfind);
            CHECK(has_bound(r, ip, i, upper, upper ? b.hi : b.lo, id));
            /* every key of the emptied child: below the lower bound
             * (upper: its range starts at the moved key) or not below
             * the upper bound (lower: its range ends at the moved key) */
            for (uint32_t j = 0; j < e->v.count; j++)
                CHECK(has_bound(r, e, j, !upper, id, tpage_id(e, j)));
            wr_verify_report_free(r);
            free(e);
            bplace_free(&b);
            free(path);
        }
    free(tmpl);
}

int main(void)
{
    RUN(test_digest_known_answer);
    RUN(test_verify_clean_database);
    RUN(test_verify_no_digest_no_thread);
    RUN(test_verify_clean_previous_and_all_checkpoints);
    RUN(test_verify_clean_single_files_and_quick);
    RUN(test_verify_fresh_and_empty_collections);
    RUN(test_verify_flipped_bit_in_leaf);
    RUN(test_verify_flipped_bit_in_internal_page);
    RUN(test_verify_flipped_bit_in_overflow_page);
    RUN(test_verify_flipped_bit_in_extent_list_page);
    RUN(test_verify_flipped_bit_in_each_header_slot);
    RUN(test_verify_truncated_file);
    RUN(test_verify_stale_page);
    RUN(test_verify_overlapping_pages);
    RUN(test_verify_page_reachable_twice);
    RUN(test_verify_leaked_extent);
    RUN(test_verify_document_id_changed);
    RUN(test_verify_packed_document_damage_has_its_place);
    RUN(test_verify_keys_out_of_order);
    RUN(test_verify_page_level_out_of_place);
    RUN(test_verify_key_outside_parent_bounds_leaf);
    RUN(test_verify_key_outside_parent_bounds_long_leaf);
    RUN(test_verify_key_outside_parent_bounds_internal);
    RUN(test_verify_index_entry_removed);
    RUN(test_verify_index_entry_added);
    RUN(test_verify_catalog_problems);
    RUN(test_verify_environment_errors);
    RUN(test_verify_problem_cap);
    RUN(test_verify_threads_same_findings);
    RUN(test_verify_split_halves);
    RUN(test_verify_split_progress);
    RUN(test_walk_in_place_equals_copying);
    RUN(test_vfdocs_shared_checks_keep_order);
    RUN(test_verify_catalog_version_bit_is_damage);
    RUN(test_verify_nonzero_reserved_bytes);
    RUN(test_verify_nonzero_slot_tail);
    RUN(test_btree_hostile_overflow_length);
    RUN(test_verify_id_of_another_numeric_type_is_clean);
    RUN(test_verify_random_damage_never_crashes);
    RUN(test_verify_random_workload_stays_clean);
    return tap_done();
}
