/*
 * test_dump.c -- wr_dump on files built with the library (512-byte pages,
 * so many pages), intact and damaged: every mode prints, marks what does
 * not decode, never crashes.
 */
#include "tap.h"

#include "wr_int.h"
#include "helper_db.h"

#include <sys/stat.h>
#include <unistd.h>

#define NDOCS 400

static char fixture[512]; /* a database: people (+ index on city), logs */

static char *copy_db(const char *name)
{
    char *p = tap_fresh_path(name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", fixture, p);
    if (system(cmd) != 0)
        exit(2);
    return p;
}

static char *join(const char *dir, const char *name)
{
    return wri_path_join(dir, name);
}

static bson_t *person(int64_t id, int variant)
{
    static const char *cities[] = {"Oslo", "Lima", "Pune", "Kyiv"};
    bson_t *d = bson_new();
    BSON_APPEND_INT64(d, "_id", id);
    BSON_APPEND_UTF8(d, "city", cities[id % 4]);
    BSON_APPEND_INT32(d, "variant", variant);
    BSON_APPEND_DOUBLE(d, "score", (double)id / 7.0);
    if (id % 25 == 0) { /* big: an overflow page */
        char s[1500];
        memset(s, 'a' + (int)(id % 26), sizeof s - 1);
        s[sizeof s - 1] = 0;
        BSON_APPEND_UTF8(d, "text", s);
    }
    return d;
}

/* logs: 5 documents (its own session: creating a second collection in
 * one session trips a use-after-free in db.c, reported). Then 400 people
 * (+ index on city), every third deleted (checkpoint), some updated
 * (checkpoint): both slots valid, avail and discard extents. */
static int build_fixture(void)
{
    wr_errbuf eb = {0};
    wr_db *db = NULL;
    wr_coll *c = NULL, *logs = NULL;
    wr_db_opts o = {.create = true, .page_size = 512, .holder = "test"};
    char *p = tap_fresh_path("fixture");
    snprintf(fixture, sizeof fixture, "%s", p);
    free(p);
    if (wr_db_open(fixture, &o, &db, &eb) != WR_OK ||
        wr_coll_open(db, "logs", true, &logs, &eb) != WR_OK)
        goto fail;
    for (int64_t i = 0; i < 5; i++) {
        bson_t *d = BCON_NEW("_id", BCON_INT64(i), "msg", BCON_UTF8("hi"));
        int rc = wr_coll_put(logs, d, NULL, &eb);
        bson_destroy(d);
        if (rc != WR_OK)
            goto fail;
    }
    if (wr_db_checkpoint(db, &eb) != WR_OK)
        goto fail;
    wr_db_close(db);
    db = NULL;
    if (wr_db_open(fixture, &o, &db, &eb) != WR_OK ||
        wr_coll_open(db, "people", true, &c, &eb) != WR_OK ||
        wr_coll_add_index(c, "city", &eb) != WR_OK)
        goto fail;
    for (int64_t i = 0; i < NDOCS; i++) {
        bson_t *d = person(i, 0);
        int rc = wr_coll_put(c, d, NULL, &eb);
        bson_destroy(d);
        if (rc != WR_OK)
            goto fail;
    }
    if (wr_db_checkpoint(db, &eb) != WR_OK)
        goto fail;
    for (int64_t i = 0; i < NDOCS; i += 3) {
        bson_t *d = BCON_NEW("_id", BCON_INT64(i));
        int rc = wr_coll_delete(c, d, &eb);
        bson_destroy(d);
        if (rc != WR_OK)
            goto fail;
    }
    if (wr_db_checkpoint(db, &eb) != WR_OK)
        goto fail;
    for (int64_t i = 1; i < NDOCS; i += 10) {
        if (i % 3 == 0)
            continue;
        bson_t *d = person(i, 1);
        int rc = wr_coll_put(c, d, NULL, &eb);
        bson_destroy(d);
        if (rc != WR_OK)
            goto fail;
    }
    if (wr_db_checkpoint(db, &eb) != WR_OK)
        goto fail;
    wr_db_close(db);
    return 0;
fail:
    printf("# fixture: %s\n", eb.msg);
    wr_db_close(db);
    return -1;
}

static uint64_t live_docs(void)
{
    uint64_t n = 0;
    for (int64_t i = 0; i < NDOCS; i++)
        n += i % 3 != 0;
    return n;
}

/* Run a dump into memory; returns rc, *text the output (free it). */
typedef struct dres {
    int rc;
    char *text;
    size_t len;
    wr_dump_stats st;
    wr_errbuf eb;
    uint64_t findings;
} dres;

static void on_finding(const char *msg, void *arg)
{
    dres *r = arg;
    (void)msg;
    r->findings++;
}

static dres run(const char *path, wr_dump_mode mode, wr_dump_opts *extra)
{
    dres r;
    memset(&r, 0, sizeof r);
    wr_dump_opts o = {0};
    if (extra != NULL)
        o = *extra;
    o.mode = mode;
    FILE *f = open_memstream(&r.text, &r.len);
    o.out = f;
    o.finding = on_finding;
    o.finding_arg = &r;
    r.rc = wr_dump(path, &o, &r.st, &r.eb);
    fclose(f);
    return r;
}

/* JSON report: rc, and the document (bson_destroy it). */
static int run_json(const char *path, wr_dump_mode mode, wr_dump_opts *extra,
                    bson_t *out, uint64_t *findings)
{
    wr_dump_opts o = {0};
    wr_errbuf eb = {0};
    wr_dump_stats st;
    if (extra != NULL)
        o = *extra;
    o.mode = mode;
    bson_init(out);
    o.json = out;
    int rc = wr_dump(path, &o, &st, &eb);
    if (findings)
        *findings = st.damaged;
    return rc;
}

static size_t count_lines(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Offsets of pages of a level in --tree text output. */
static size_t tree_pages(const char *text, unsigned level, uint64_t *offs,
                         size_t max)
{
    char pat[32];
    size_t n = 0;
    snprintf(pat, sizeof pat, "level %u  page ", level);
    for (const char *p = text; (p = strstr(p, pat)) != NULL && n < max; p++)
        offs[n++] = strtoull(p + strlen(pat), NULL, 10);
    return n;
}

static void flip(const char *path, uint64_t off, uint8_t mask)
{
    FILE *f = fopen(path, "r+b");
    int c;
    if (f == NULL)
        return;
    fseek(f, (long)off, SEEK_SET);
    c = fgetc(f);
    fseek(f, (long)off, SEEK_SET);
    fputc((c ^ mask) & 0xff, f);
    fclose(f);
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* The JSON report always converts to JSON text (one object). */
static bool json_prints(const bson_t *b)
{
    char *s = bson_as_relaxed_extended_json(b, NULL);
    bool ok = s != NULL && s[0] == '{';
    bson_free(s);
    return ok;
}

/* --- intact files -------------------------------------------------- */

static void test_dump_summary_of_a_database(void)
{
    dres r = run(fixture, WR_DUMP_SUMMARY, NULL);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK(strstr(r.text, "catalog generation 4") != NULL);
    CHECK(strstr(r.text, "collection \"people\"") != NULL);
    CHECK(strstr(r.text, "index on \"city\"") != NULL);
    CHECK(strstr(r.text, "people.main.wr") != NULL);
    CHECK(strstr(r.text, "slot 0 (offset 0): valid") != NULL);
    CHECK(strstr(r.text, "slot 1 (offset 512): valid") != NULL);
    CHECK(strstr(r.text, "page size 512") != NULL);
    CHECK(strstr(r.text, "main table of collection \"people\"") != NULL);
    CHECK(strstr(r.text, "index on \"city\" of collection \"people\"") !=
          NULL);
    CHECK(strstr(r.text, "fill factor") != NULL);
    CHECK(strstr(r.text, "free bytes") != NULL);
    char want[64];
    snprintf(want, sizeof want, "keys %llu (slot says %llu)",
             (unsigned long long)live_docs(), (unsigned long long)live_docs());
    CHECK(strstr(r.text, want) != NULL);
    CHECK(strstr(r.text, "!!") == NULL);
    CHECK_EQ(r.st.files, 3);
    CHECK_EQ(r.findings, 0);
    free(r.text);
}

static void test_dump_summary_json_fields(void)
{
    bson_t j;
    bson_iter_t it;
    char *main_path = join(fixture, "people.main.wr");
    REQUIRE_OK(run_json(main_path, WR_DUMP_SUMMARY, NULL, &j, NULL),
               &(wr_errbuf){0});
    CHECK(json_prints(&j));
    CHECK(bson_iter_init_find(&it, &j, "files.0.keys") ||
          (bson_iter_init(&it, &j) &&
           bson_iter_find_descendant(&it, "files.0.keys", &it)));
    CHECK_EQ(bson_iter_as_int64(&it), live_docs());
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "files.0.role", &it));
    CHECK(strcmp(bson_iter_utf8(&it, NULL), "main") == 0);
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "files.0.pages.leaf", &it));
    CHECK(bson_iter_as_int64(&it) > 10);
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "files.0.pages.overflow", &it));
    CHECK(bson_iter_as_int64(&it) > 0);
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "files.0.slots.1.valid", &it));
    CHECK(bson_iter_as_bool(&it));
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "files.0.fill_factor", &it));
    CHECK(bson_iter_double(&it) > 0.2 && bson_iter_double(&it) <= 1.0);
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "files.0.damaged", &it));
    CHECK_EQ(bson_iter_as_int64(&it), 0);
    bson_destroy(&j);
    free(main_path);
}

/* A name from the file that is not strict UTF-8 (RFC 3629: here an
 * encoded surrogate) is printed with U+FFFD for each stray byte, by the
 * one rule (wr_utf8_replace, on the strict UTF-8 check): the --json
 * report holds only strict UTF-8. */
static void test_dump_json_names_are_strict_utf8(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    char *path = tap_fresh_path("surrogate.wr");
    const char *bad = "c\xed\xa0\x80x"; /* an encoded surrogate */
    wri_block_cfg cfg = {.page_size = 512, .role = WRI_ROLE_MAIN,
                         .coll = bad};
    REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
    wri_block_close(b);
    bson_t j;
    REQUIRE_OK(run_json(path, WR_DUMP_SUMMARY, NULL, &j, NULL), &eb);
    CHECK_EQ(wri_bson_check(bson_get_data(&j), j.len, NULL, NULL, 0),
             WR_OK);
    bson_iter_t it;
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "files.0.collection", &it) &&
          strcmp(bson_iter_utf8(&it, NULL),
                 "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx") == 0);
    bson_destroy(&j);
    free(path);
}

static void test_dump_docs_in_key_order(void)
{
    wr_dump_opts o = {.collection = "people"};
    dres r = run(fixture, WR_DUMP_DOCS, &o);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK_EQ(r.st.docs, live_docs());
    char *line = r.text, *nl;
    int64_t prev = -1, n = 0;
    while ((nl = strchr(line, '\n')) != NULL) {
        bson_error_t err;
        bson_t *d = bson_new_from_json((const uint8_t *)line, nl - line, &err);
        REQUIRE(d != NULL);
        bson_iter_t it;
        REQUIRE(bson_iter_init_find(&it, d, "_id"));
        CHECK(BSON_ITER_HOLDS_INT64(&it)); /* canonical keeps the type */
        int64_t id = bson_iter_int64(&it);
        CHECK(id > prev);
        CHECK(id % 3 != 0);
        bson_t *want = person(id, id % 10 == 1 ? 1 : 0);
        CHECK(bson_equal(d, want));
        bson_destroy(want);
        bson_destroy(d);
        prev = id;
        n++;
        line = nl + 1;
    }
    CHECK_EQ(n, live_docs());
    free(r.text);
}

static void test_dump_docs_relaxed(void)
{
    wr_dump_opts o = {.collection = "logs", .relaxed = true};
    dres r = run(fixture, WR_DUMP_DOCS, &o);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK_EQ(r.st.docs, 5);
    CHECK(strstr(r.text, "{ \"_id\" : 0, \"msg\" : \"hi\" }\n") != NULL);
    free(r.text);
    o.relaxed = false;
    r = run(fixture, WR_DUMP_DOCS, &o);
    CHECK(strstr(r.text, "\"$numberLong\" : \"0\"") != NULL);
    free(r.text);
}

static void test_dump_docs_needs_a_collection(void)
{
    dres r = run(fixture, WR_DUMP_DOCS, NULL);
    CHECK_EQ(r.rc, WR_EINVAL);
    CHECK(strstr(r.eb.msg, "--collection") != NULL);
    CHECK(strstr(r.eb.msg, "people") != NULL);
    CHECK_EQ(r.len, 0);
    free(r.text);
    wr_dump_opts o = {.collection = "nobody"};
    r = run(fixture, WR_DUMP_DOCS, &o);
    CHECK_EQ(r.rc, WR_EINVAL);
    CHECK(strstr(r.eb.msg, "no collection \"nobody\"") != NULL);
    free(r.text);
}

static void test_dump_docs_of_an_index_file(void)
{
    char *p = join(fixture, "people.idx.city.wr");
    dres r = run(p, WR_DUMP_DOCS, NULL);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK_EQ(r.st.docs, live_docs());
    CHECK(strncmp(r.text, "{ \"key\" : \"Kyiv\", \"_id\" : ", 26) == 0);
    free(r.text);
    free(p);
}

/* A string of printable bytes with now and then one that needs an
 * escape, of 0 to 60 bytes. */
static void odd_string(uint64_t r, char *s)
{
    static const char esc[] = {'"', '\\', '\n', '\t', 0x01, 0x1f, 0x7f};
    size_t n = r % 61;
    for (size_t i = 0; i < n; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        s[i] = (r >> 33) % 11 == 0 ? esc[(r >> 40) % 7]
                                   : (char)(' ' + 1 + (r >> 45) % 90);
    }
    s[n] = '\0';
}

/* The BSON corpus (valid.jsonl) and 20,000 documents of strings that need
 * escapes, doubles, integers, dates and nested documents: about 70
 * batches of the lines' writer. Returns the number put, 0 on failure. */
static size_t build_many(const char *dir)
{
    wr_errbuf eb = {0};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    wr_db_opts o = {.create = true, .holder = "test"};
    char path[1024];
    size_t n = 0;
    bson_error_t err;
    snprintf(path, sizeof path, "%s/bson-corpus/valid.jsonl",
             getenv("WR_CORPORA") ? getenv("WR_CORPORA")
                                  : "../shared/corpora");
    bson_json_reader_t *jr = bson_json_reader_new_from_file(path, &err);
    if (jr == NULL || wr_db_open(dir, &o, &db, &eb) != WR_OK ||
        wr_coll_open(db, "c", true, &c, &eb) != WR_OK) {
        printf("# many: %s %s\n", eb.msg, jr == NULL ? err.message : "");
        if (jr != NULL)
            bson_json_reader_destroy(jr);
        wr_db_close(db);
        return 0;
    }
    bson_t d = BSON_INITIALIZER;
    while (bson_json_reader_read(jr, &d, &err) > 0) {
        n += wr_coll_put(c, &d, NULL, &eb) == WR_OK;
        eb.code = WR_OK; /* a document the collection refuses: next */
        bson_reinit(&d);
    }
    bson_destroy(&d);
    bson_json_reader_destroy(jr);
    uint64_t r = 42;
    for (int64_t i = 0; i < 20000; i++) {
        char s1[64], s2[64], k[16];
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        odd_string(r >> 7, s1);
        odd_string(r >> 19, s2);
        bson_t *x = bson_new(), sub;
        BSON_APPEND_INT64(x, "_id", 100000 + i);
        BSON_APPEND_UTF8(x, "name", s1);
        BSON_APPEND_DOUBLE(x, "price", (double)(r % 10000000) / 100.0);
        BSON_APPEND_DOUBLE(x, "ratio", (double)(int64_t)r / 3e15);
        BSON_APPEND_INT32(x, "n", (int32_t)(r >> 32));
        BSON_APPEND_DATE_TIME(x, "at", (int64_t)(r % 4000000000000ull));
        BSON_APPEND_DOCUMENT_BEGIN(x, s2, &sub);
        snprintf(k, sizeof k, "k%d", (int)(i % 97));
        BSON_APPEND_INT64(&sub, k, (int64_t)r);
        BSON_APPEND_BOOL(&sub, "b", i % 2);
        bson_append_document_end(x, &sub);
        int rc = wr_coll_put(c, x, NULL, &eb);
        bson_destroy(x);
        if (rc != WR_OK) {
            printf("# many: %s\n", eb.msg);
            wr_db_close(db);
            return 0;
        }
        n++;
    }
    return db_build_end(db, WR_OK, "many", &eb) == WR_OK ? n : 0;
}

/* What the documents' lines must be: each document as the library's
 * cursor reads it, through wri_ejson_append alone, one a line. */
static char *lines_one_by_one(const char *dir, bool relaxed, size_t *n)
{
    wr_errbuf eb = {0};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    wr_doc_cursor *cur = NULL;
    wr_db_opts o = {.holder = "test"};
    wri_strbuf sb = {0};
    const uint8_t *doc;
    uint32_t len;
    *n = 0;
    if (wr_db_open(dir, &o, &db, &eb) != WR_OK ||
        wr_coll_open(db, "c", false, &c, &eb) != WR_OK ||
        wr_doc_cursor_open(c, &cur, &eb) != WR_OK) {
        printf("# reading back: %s\n", eb.msg);
        wr_db_close(db);
        return NULL;
    }
    while (wr_doc_cursor_next(cur, &doc, &len, &eb) == WR_OK) {
        if (wri_ejson_append(&sb, doc, len, relaxed) != WR_OK ||
            wri_strbuf_add(&sb, "\n") != 0)
            break;
        (*n)++;
    }
    wr_doc_cursor_close(cur);
    wr_db_close(db);
    return sb.p;
}

/* wr-dump --docs formats on a second thread, in batches: its output is
 * byte for byte the documents formatted one at a time, in order, in both
 * modes, over the corpus and many batches. */
static char many[512]; /* build_many's database, once built */

static void test_dump_docs_equal_one_by_one(void)
{
    char *dir = tap_fresh_path("many");
    size_t n = build_many(dir), m;
    if (n > 0)
        snprintf(many, sizeof many, "%s", dir);
    REQUIRE(n > 20300); /* the corpus is there too */
    for (int relaxed = 0; relaxed < 2; relaxed++) {
        char *want = lines_one_by_one(dir, relaxed, &m);
        REQUIRE(want != NULL);
        CHECK_EQ(m, n);
        wr_dump_opts o = {.relaxed = relaxed};
        dres r = run(dir, WR_DUMP_DOCS, &o);
        REQUIRE_OK(r.rc, &r.eb);
        CHECK_EQ(r.st.docs, n);
        CHECK_EQ(r.len, strlen(want));
        CHECK(r.len > 5u << 20); /* many batches */
        CHECK(r.text != NULL && strcmp(r.text, want) == 0);
        free(r.text);
        free(want);
    }
    free(dir);
}

/* A full disk: the dump stops, says so, and the error is WR_ENOSPC (the
 * tools' exit 3), not success: when the last lines are written (a few
 * documents) and when a batch is (many). */
static void test_dump_docs_to_a_full_disk(void)
{
    const char *dirs[] = {fixture, many};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen("/dev/full", "w");
        REQUIRE(f != NULL);
        wr_dump_opts o = {.mode = WR_DUMP_DOCS, .out = f,
                          .collection = i == 0 ? "people" : NULL};
        wr_errbuf eb = {0};
        wr_dump_stats st;
        REQUIRE(dirs[i][0] != '\0');
        int rc = wr_dump(dirs[i], &o, &st, &eb);
        fclose(f);
        CHECK_EQ(rc, WR_ENOSPC);
        CHECK(strstr(eb.msg, "writing the dump failed: No space left on "
                             "device") != NULL);
        if (i == 1) /* stopped early, not after every document */
            CHECK(st.docs < 20000);
    }
}

static void test_dump_tree_one_line_per_page(void)
{
    char *p = join(fixture, "people.main.wr");
    dres r = run(p, WR_DUMP_TREE, NULL);
    REQUIRE_OK(r.rc, &r.eb);
    size_t lines = count_lines(r.text, "  page ");
    CHECK_EQ(lines, r.st.pages);
    CHECK(count_lines(r.text, "level 0  page ") > 10);
    CHECK(count_lines(r.text, " internal ") >= 1);
    CHECK(strstr(r.text, "keys 1 .. ") != NULL); /* first leaf from 1 */
    free(r.text);
    bson_t j;
    bson_iter_t it;
    REQUIRE_OK(run_json(p, WR_DUMP_TREE, NULL, &j, NULL), &(wr_errbuf){0});
    CHECK(json_prints(&j));
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "files.0.tree.0.first", &it));
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "files.0.tree.1.level", &it));
    bson_destroy(&j);
    free(p);
}

static void test_dump_extents_after_deletes(void)
{
    char *p = join(fixture, "people.main.wr");
    dres r = run(p, WR_DUMP_EXTENTS, NULL);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK(strstr(r.text, "list page ") != NULL);
    CHECK(strstr(r.text, "totals: ") != NULL);
    CHECK(strstr(r.text, "avail ") != NULL || strstr(r.text, "discard ") !=
          NULL);
    free(r.text);
    bson_t j;
    bson_iter_t it;
    REQUIRE_OK(run_json(p, WR_DUMP_EXTENTS, NULL, &j, NULL), &(wr_errbuf){0});
    CHECK(json_prints(&j));
    REQUIRE(bson_iter_init(&it, &j) &&
            bson_iter_find_descendant(&it, "files.0.totals.free_bytes", &it));
    int64_t free_bytes = bson_iter_as_int64(&it);
    CHECK(free_bytes > 0);
    bson_destroy(&j);
    /* the summary's free bytes are the same */
    REQUIRE_OK(run_json(p, WR_DUMP_SUMMARY, NULL, &j, NULL), &(wr_errbuf){0});
    REQUIRE(bson_iter_init(&it, &j) &&
            bson_iter_find_descendant(&it, "files.0.free_bytes", &it));
    CHECK_EQ(bson_iter_as_int64(&it), free_bytes);
    bson_destroy(&j);
    free(p);
}

static void test_dump_page_root_and_slots(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    char *p = join(fixture, "people.main.wr");
    REQUIRE_OK(wri_block_open(p, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    uint64_t root = b->cur.root.off;
    wri_block_close(b);
    wr_dump_opts o = {.page_addr = root, .hex = true};
    dres r = run(p, WR_DUMP_PAGE, &o);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK(strstr(r.text, "type 2 (internal)") != NULL);
    CHECK(strstr(r.text, ": holds") != NULL);
    CHECK(strstr(r.text, "root address expects crc") != NULL);
    CHECK(strstr(r.text, "slot 0: cell at") != NULL);
    CHECK(strstr(r.text, "key (none: first child)") != NULL);
    CHECK(strstr(r.text, "free space: ") != NULL);
    CHECK(strstr(r.text, "  000000  ") != NULL); /* hex dump */
    free(r.text);
    o.page_addr = 0;
    r = run(p, WR_DUMP_PAGE, &o);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK(strstr(r.text, "checkpoint slot 0") != NULL);
    CHECK(strstr(r.text, "WRTREE") != NULL);
    free(r.text);
    /* a leaf: values as Extended JSON */
    dres t = run(p, WR_DUMP_TREE, NULL);
    uint64_t leaf;
    REQUIRE(tree_pages(t.text, 0, &leaf, 1) == 1);
    free(t.text);
    o.page_addr = leaf;
    o.hex = false;
    r = run(p, WR_DUMP_PAGE, &o);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK(strstr(r.text, "type 1 (leaf)") != NULL);
    CHECK(strstr(r.text, "value: { \"_id\" : 1, \"city\" : \"Lima\"") != NULL);
    free(r.text);
    bson_t j;
    bson_iter_t it;
    o.page_addr = leaf;
    REQUIRE_OK(run_json(p, WR_DUMP_PAGE, &o, &j, NULL), &(wr_errbuf){0});
    CHECK(json_prints(&j));
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "page.slots.0.value.city", &it));
    CHECK(bson_iter_init(&it, &j) &&
          bson_iter_find_descendant(&it, "page.checksum_ok", &it) &&
          bson_iter_as_bool(&it));
    bson_destroy(&j);
    free(p);
}

static void test_dump_page_usage_errors(void)
{
    char *p = join(fixture, "people.main.wr");
    wr_dump_opts o = {.page_addr = 1ull << 40};
    dres r = run(p, WR_DUMP_PAGE, &o);
    CHECK_EQ(r.rc, WR_EINVAL);
    CHECK(strstr(r.eb.msg, "past the end") != NULL);
    free(r.text);
    o.page_addr = 1024;
    r = run(fixture, WR_DUMP_PAGE, &o);
    CHECK_EQ(r.rc, WR_EINVAL);
    CHECK(strstr(r.eb.msg, "directory") != NULL);
    free(r.text);
    r = run("/nonexistent/wr-dump-test", WR_DUMP_SUMMARY, NULL);
    CHECK_EQ(r.rc, WR_ENOTFOUND);
    free(r.text);
    free(p);
}

/* The first overflow run the leaves of a table point to (each leaf's
 * --page JSON, in key order): false if none. */
static bool first_run(const char *path, wr_addr *ovf)
{
    uint64_t leaves[512];
    bool found = false;
    dres t = run(path, WR_DUMP_TREE, NULL);
    size_t n = tree_pages(t.text, 0, leaves, 512);
    free(t.text);
    for (size_t i = 0; i < n && !found; i++) {
        wr_dump_opts o = {.page_addr = leaves[i]};
        bson_t j;
        bson_iter_t it, slots, a;
        if (run_json(path, WR_DUMP_PAGE, &o, &j, NULL) == WR_OK &&
            bson_iter_init(&it, &j) &&
            bson_iter_find_descendant(&it, "page.slots", &it) &&
            bson_iter_recurse(&it, &slots))
            while (!found && bson_iter_next(&slots)) {
                if (!bson_iter_recurse(&slots, &a) ||
                    !bson_iter_find_descendant(&a, "overflow.offset", &a))
                    continue;
                ovf->off = (uint64_t)bson_iter_as_int64(&a);
                bson_iter_recurse(&slots, &a);
                found = bson_iter_find_descendant(&a, "overflow.size", &a);
                ovf->size = found ? (uint32_t)bson_iter_as_int64(&a) : 0;
            }
        bson_destroy(&j);
    }
    return found;
}

/* review4 #6: a block inside an overflow run is no page: WR_EINVAL naming
 * the run's start, no finding; the run's start dumps clean. */
static void test_dump_page_inside_a_run(void)
{
    char *p = join(fixture, "people.main.wr");
    char want[200];
    wr_addr ovf = {0};
    REQUIRE(first_run(p, &ovf));
    REQUIRE(ovf.size > 512);
    for (uint64_t at = ovf.off + 512; at < ovf.off + ovf.size; at += 512) {
        snprintf(want, sizeof want, ": offset %llu is inside the overflow "
                 "run at %llu (%u bytes): try --page %llu",
                 (unsigned long long)at, (unsigned long long)ovf.off,
                 ovf.size, (unsigned long long)ovf.off);
        wr_dump_opts o = {.page_addr = at};
        dres r = run(p, WR_DUMP_PAGE, &o);
        CHECK_EQ(r.rc, WR_EINVAL);
        CHECK(strstr(r.eb.msg, want) != NULL);
        CHECK_EQ(r.findings, 0);
        CHECK_EQ(r.st.damaged, 0);
        free(r.text);
    }
    wr_dump_opts o = {.page_addr = ovf.off};
    dres r = run(p, WR_DUMP_PAGE, &o);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK(strstr(r.text, "type 3 (overflow)") != NULL);
    CHECK(strstr(r.text, ": holds") != NULL);
    CHECK_EQ(r.findings, 0);
    free(r.text);
    free(p);
}

static void test_dump_previous_checkpoint(void)
{
    wr_dump_opts o = {.collection = "people", .previous = true};
    dres r = run(fixture, WR_DUMP_DOCS, &o);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK_EQ(r.st.docs, live_docs()); /* the deletes, before the updates */
    CHECK(strstr(r.text, "\"variant\" : { \"$numberInt\" : \"1\" }") == NULL);
    free(r.text);
    o.previous = false;
    r = run(fixture, WR_DUMP_DOCS, &o);
    CHECK(strstr(r.text, "\"variant\" : { \"$numberInt\" : \"1\" }") != NULL);
    free(r.text);
    /* a lone file: its older slot */
    char *p = join(fixture, "people.main.wr");
    dres a = run(p, WR_DUMP_SUMMARY, NULL);
    dres b = run(p, WR_DUMP_SUMMARY, &(wr_dump_opts){.previous = true});
    REQUIRE_OK(a.rc, &a.eb);
    REQUIRE_OK(b.rc, &b.eb);
    CHECK(strstr(a.text, "checkpoint: gen 4") != NULL);
    CHECK(strstr(b.text, "checkpoint: gen 3") != NULL);
    free(a.text);
    free(b.text);
    free(p);
}

static void test_dump_fresh_file_has_no_previous(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    char *p = tap_fresh_path("fresh.wr");
    wri_block_cfg cfg = {.page_size = 512, .role = WRI_ROLE_MAIN,
                         .coll = "fresh"};
    REQUIRE_OK(wri_block_create(p, &cfg, &b, &eb), &eb);
    wri_block_close(b);
    dres r = run(p, WR_DUMP_SUMMARY, NULL);
    REQUIRE_OK(r.rc, &r.eb); /* a never-written slot 1 is not damage */
    CHECK(strstr(r.text, "slot 1 (offset 512): rejected: all zero") != NULL);
    CHECK(strstr(r.text, "(empty tree)") == NULL);
    free(r.text);
    r = run(p, WR_DUMP_DOCS, NULL);
    REQUIRE_OK(r.rc, &r.eb);
    CHECK_EQ(r.len, 0);
    free(r.text);
    r = run(p, WR_DUMP_DOCS, &(wr_dump_opts){.previous = true});
    CHECK_EQ(r.rc, WR_ENOTFOUND);
    CHECK(strstr(r.eb.msg, "no previous checkpoint") != NULL);
    free(r.text);
    free(p);
}

/* --- damaged files ------------------------------------------------- */

static void test_dump_flipped_leaf_byte(void)
{
    char *dir = copy_db("flipleaf");
    char *p = join(dir, "people.main.wr");
    dres t = run(p, WR_DUMP_TREE, NULL);
    uint64_t leaves[4];
    REQUIRE(tree_pages(t.text, 0, leaves, 4) == 4);
    free(t.text);
    flip(p, leaves[2] + 300, 0x10);
    char mark[128];
    snprintf(mark, sizeof mark,
             "!! page %llu: byte %llu: checksum: tree page: CRC mismatch",
             (unsigned long long)leaves[2], (unsigned long long)leaves[2]);
    wr_dump_mode modes[] = {WR_DUMP_SUMMARY, WR_DUMP_TREE};
    for (size_t i = 0; i < 2; i++) {
        dres r = run(p, modes[i], NULL);
        CHECK_EQ(r.rc, WR_ECORRUPT);
        CHECK(strstr(r.text, mark) != NULL);
        CHECK(r.findings >= 1);
        CHECK(strstr(r.eb.msg, "CRC mismatch") != NULL);
        free(r.text);
    }
    /* documents: the damaged leaf is left out, the rest comes out */
    dres r = run(p, WR_DUMP_DOCS, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(r.st.docs > 0 && r.st.docs < live_docs());
    CHECK(strstr(r.text, "!!") == NULL); /* JSONL stays clean */
    CHECK(r.findings >= 1);
    free(r.text);
    /* the page itself, decoded anyway */
    wr_dump_opts o = {.page_addr = leaves[2], .hex = true};
    r = run(p, WR_DUMP_PAGE, &o);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(strstr(r.text, "MISMATCH") != NULL);
    CHECK(strstr(r.text, "slot 0: cell at") != NULL);
    free(r.text);
    /* the directory summary names it too and goes on to the other files */
    r = run(dir, WR_DUMP_SUMMARY, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(strstr(r.text, mark) != NULL);
    CHECK(strstr(r.text, "logs.main.wr") != NULL);
    free(r.text);
    free(p);
    free(dir);
}

static void test_dump_damaged_page_structure(void)
{
    char *dir = copy_db("badslot");
    char *p = join(dir, "people.main.wr");
    dres t = run(p, WR_DUMP_TREE, NULL);
    uint64_t leaf;
    REQUIRE(tree_pages(t.text, 0, &leaf, 1) == 1);
    free(t.text);
    /* a slot offset pointing past the page, CRC made to hold again */
    uint8_t buf[512];
    FILE *f = fopen(p, "r+b");
    REQUIRE(f != NULL);
    fseek(f, (long)leaf, SEEK_SET);
    REQUIRE(fread(buf, 1, 512, f) == 512);
    wri_put16(buf + WRI_PH_LEN + 2, 600);
    wri_put32(buf, wri_page_crc(buf, 512));
    fseek(f, (long)leaf, SEEK_SET);
    fwrite(buf, 1, 512, f);
    fclose(f);
    wr_dump_opts o = {.page_addr = leaf};
    dres r = run(p, WR_DUMP_PAGE, &o);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(strstr(r.text, ": page-structure: slot 1: cell offset 600") !=
          NULL);
    CHECK(strstr(r.text, "slot 0: cell at") != NULL); /* still shown */
    CHECK(strstr(r.text, "slot 1: cell at 600: !!") != NULL);
    free(r.text);
    r = run(p, WR_DUMP_TREE, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(strstr(r.text, ": not decoded") != NULL);
    free(r.text);
    free(p);
    free(dir);
}

static void test_dump_truncated_file(void)
{
    char *dir = copy_db("trunc");
    char *p = join(dir, "people.main.wr");
    uint64_t size = file_size(p);
    REQUIRE(truncate(p, (off_t)(size / 2)) == 0);
    wr_dump_mode modes[] = {WR_DUMP_SUMMARY, WR_DUMP_TREE, WR_DUMP_EXTENTS,
                            WR_DUMP_DOCS};
    for (size_t i = 0; i < 4; i++) {
        dres r = run(p, modes[i], NULL);
        CHECK_EQ(r.rc, WR_ECORRUPT);
        CHECK(r.findings >= 1);
        free(r.text);
    }
    dres r = run(p, WR_DUMP_SUMMARY, NULL);
    CHECK(strstr(r.text, "truncated") != NULL);
    free(r.text);
    /* cut inside slot 1 */
    REQUIRE(truncate(p, 700) == 0);
    r = run(p, WR_DUMP_SUMMARY, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(strstr(r.text, "slot 0 (offset 0)") != NULL);
    free(r.text);
    free(p);
    free(dir);
}

static void test_dump_broken_slots(void)
{
    char *dir = copy_db("slots");
    char *p = join(dir, "people.main.wr");
    flip(p, 100, 0x01); /* slot 0's reserved area: CRC fails */
    dres r = run(p, WR_DUMP_SUMMARY, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(strstr(r.text, "slot 0 (offset 0): rejected: CRC mismatch") !=
          NULL);
    CHECK(strstr(r.text, "raw fields (not trusted)") != NULL);
    CHECK(strstr(r.text, "<- chosen") != NULL); /* slot 1 still serves */
    free(r.text);
    flip(p, 512 + 100, 0x01); /* and slot 1 */
    r = run(p, WR_DUMP_SUMMARY, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(strstr(r.text, "slot 1 (offset 512): rejected: CRC mismatch") !=
          NULL);
    CHECK(strstr(r.text, "!! page 0: byte 0: header: ") != NULL);
    CHECK(strstr(r.text, "both checkpoint slots are invalid") != NULL);
    free(r.text);
    r = run(p, WR_DUMP_DOCS, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK_EQ(r.len, 0);
    free(r.text);
    bson_t j;
    uint64_t nf = 0;
    CHECK_EQ(run_json(p, WR_DUMP_SUMMARY, NULL, &j, &nf), WR_ECORRUPT);
    CHECK(json_prints(&j));
    CHECK(nf >= 2);
    bson_destroy(&j);
    free(p);
    free(dir);
}

static void test_dump_damaged_extent_list(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    char *dir = copy_db("extlist");
    char *p = join(dir, "people.main.wr");
    REQUIRE_OK(wri_block_open(p, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    uint64_t el = b->cur.extlist.off;
    wri_block_close(b);
    REQUIRE(el != 0);
    flip(p, el + WRI_EL_ENTRIES + 3, 0x80);
    dres r = run(p, WR_DUMP_EXTENTS, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    char mark[96];
    snprintf(mark, sizeof mark,
             "!! page %llu: byte %llu: checksum: extent-list page: CRC",
             (unsigned long long)el, (unsigned long long)el);
    CHECK(strstr(r.text, mark) != NULL);
    CHECK(strstr(r.text, "totals: ") != NULL);
    free(r.text);
    free(p);
    free(dir);
}

static void test_dump_shared_child_is_followed_once(void)
{
    /* A hostile tree: the root's second child pointer made equal to the
     * first, every CRC (root page, slot) recomputed so that only the
     * structure is wrong. */
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    char *dir = copy_db("shared");
    char *p = join(dir, "people.main.wr");
    REQUIRE_OK(wri_block_open(p, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    wri_slot s = b->cur;
    int chosen = b->chosen;
    uint32_t P = b->page_size;
    wri_block_close(b);
    uint8_t page[512], slot[WRI_SLOT_LEN];
    FILE *f = fopen(p, "r+b");
    REQUIRE(f != NULL);
    fseek(f, (long)s.root.off, SEEK_SET);
    REQUIRE(fread(page, 1, 512, f) == 512);
    uint32_t c0 = wri_get16(page + WRI_PH_LEN);
    uint32_t c1 = wri_get16(page + WRI_PH_LEN + 2);
    memcpy(page + c1 + 4, page + c0 + 4, WRI_ADDR_LEN);
    wri_put32(page, wri_page_crc(page, 512));
    fseek(f, (long)s.root.off, SEEK_SET);
    fwrite(page, 1, 512, f);
    s.root.crc = wri_get32(page);
    wri_slot_encode(&s, slot);
    fseek(f, (long)chosen * P, SEEK_SET);
    fwrite(slot, 1, WRI_SLOT_LEN, f);
    fclose(f);
    dres r = run(p, WR_DUMP_TREE, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(strstr(r.text, ": ordering: page reachable twice") != NULL);
    free(r.text);
    r = run(p, WR_DUMP_DOCS, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(r.st.docs < live_docs());
    free(r.text);
    free(p);
    free(dir);
}

static void test_dump_not_a_tree_file(void)
{
    char *p = tap_fresh_path("garbage.wr");
    FILE *f = fopen(p, "wb");
    REQUIRE(f != NULL);
    for (int i = 0; i < 3000; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    dres r = run(p, WR_DUMP_SUMMARY, NULL);
    CHECK_EQ(r.rc, WR_ENOTOURS);
    free(r.text);
    f = fopen(p, "wb");
    fclose(f);
    r = run(p, WR_DUMP_TREE, NULL);
    CHECK_EQ(r.rc, WR_ENOTOURS);
    free(r.text);
    free(p);
}

static void test_dump_damaged_catalog_falls_back_to_files(void)
{
    char *dir = copy_db("catalog");
    char *c = join(dir, WR_CATALOG_NAME);
    flip(c, 40, 0xff);
    dres r = run(dir, WR_DUMP_SUMMARY, NULL);
    CHECK_EQ(r.rc, WR_ECORRUPT);
    CHECK(strstr(r.text, "!! page 0: byte 0: catalog: ") != NULL);
    CHECK(strstr(r.text, "people.idx.city.wr") != NULL);
    CHECK(strstr(r.text, "logs.main.wr") != NULL);
    free(r.text);
    wr_dump_opts o = {.collection = "logs"};
    r = run(dir, WR_DUMP_DOCS, &o);
    CHECK_EQ(r.rc, WR_ECORRUPT); /* the catalog finding */
    CHECK_EQ(r.st.docs, 5);
    free(r.text);
    free(c);
    free(dir);
}

/* Arbitrary damage, many times over: every mode returns, text and JSON. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* WR_DUMP_FUZZ_ROUNDS=N runs a longer campaign (default 120),
 * WR_DUMP_FUZZ_SEED=S another one. */
static void test_dump_random_damage_never_crashes(void)
{
    char *dir = copy_db("random");
    char *p = join(dir, "logs.main.wr");
    char *srcs[2] = {join(fixture, "people.main.wr"),
                     join(fixture, "people.idx.city.wr")};
    char cmd[1200];
    int bad_rc = 0, rounds = 120;
    const char *env = getenv("WR_DUMP_FUZZ_ROUNDS");
    if (env != NULL && atoi(env) > 0)
        rounds = atoi(env);
    if ((env = getenv("WR_DUMP_FUZZ_SEED")) != NULL && strtoull(env, NULL, 0))
        rng = strtoull(env, NULL, 0);
    for (int round = 0; round < rounds; round++) {
        const char *src = srcs[round % 5 == 4];
        uint64_t size = file_size(src);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, p);
        REQUIRE(system(cmd) == 0);
        int kind = round % 4;
        if (kind == 0) { /* a few random bytes anywhere */
            for (int k = 0; k < 1 + (int)(rnd() % 6); k++)
                flip(p, rnd() % size, (uint8_t)(1 + rnd() % 255));
        } else if (kind == 1) { /* one page of garbage */
            uint64_t pg = 2 + rnd() % (size / 512 - 2);
            for (int k = 0; k < 512; k++)
                flip(p, pg * 512 + k, (uint8_t)rnd());
        } else if (kind == 2) { /* header fields of a page, CRC fixed */
            uint64_t pg = 2 + rnd() % (size / 512 - 2);
            uint8_t buf[512];
            FILE *f = fopen(p, "r+b");
            fseek(f, (long)(pg * 512), SEEK_SET);
            if (fread(buf, 1, 512, f) == 512) {
                int at = (int)(rnd() % 48);
                buf[at] ^= (uint8_t)(1 + rnd() % 255);
                wri_put32(buf, wri_page_crc(buf, 512));
                fseek(f, (long)(pg * 512), SEEK_SET);
                fwrite(buf, 1, 512, f);
            }
            fclose(f);
        } else { /* truncated anywhere */
            REQUIRE(truncate(p, (off_t)(rnd() % size)) == 0);
        }
        for (int m = 0; m < 5; m++) {
            wr_dump_opts o = {.page_addr = (rnd() % (size / 512)) * 512,
                              .hex = true};
            dres r = run(p, (wr_dump_mode)m, &o);
            if (r.rc != WR_OK && r.rc != WR_ECORRUPT && r.rc != WR_EINVAL &&
                r.rc != WR_ENOTOURS && r.rc != WR_ENOTFOUND)
                bad_rc++;
            free(r.text);
            if (m == WR_DUMP_DOCS)
                continue;
            bson_t j;
            int rc = run_json(p, (wr_dump_mode)m, &o, &j, NULL);
            if (rc == WR_OK || rc == WR_ECORRUPT)
                CHECK(json_prints(&j));
            bson_destroy(&j);
        }
    }
    CHECK_EQ(bad_rc, 0);
    free(p);
    free(srcs[0]);
    free(srcs[1]);
    free(dir);
}

int main(void)
{
    if (build_fixture() != 0) {
        printf("not ok 1 - fixture\n1..1\n");
        return 1;
    }
    RUN(test_dump_summary_of_a_database);
    RUN(test_dump_summary_json_fields);
    RUN(test_dump_json_names_are_strict_utf8);
    RUN(test_dump_docs_in_key_order);
    RUN(test_dump_docs_relaxed);
    RUN(test_dump_docs_needs_a_collection);
    RUN(test_dump_docs_of_an_index_file);
    RUN(test_dump_docs_equal_one_by_one);
    RUN(test_dump_docs_to_a_full_disk);
    RUN(test_dump_tree_one_line_per_page);
    RUN(test_dump_extents_after_deletes);
    RUN(test_dump_page_root_and_slots);
    RUN(test_dump_page_usage_errors);
    RUN(test_dump_page_inside_a_run);
    RUN(test_dump_previous_checkpoint);
    RUN(test_dump_fresh_file_has_no_previous);
    RUN(test_dump_flipped_leaf_byte);
    RUN(test_dump_damaged_page_structure);
    RUN(test_dump_truncated_file);
    RUN(test_dump_broken_slots);
    RUN(test_dump_damaged_extent_list);
    RUN(test_dump_shared_child_is_followed_once);
    RUN(test_dump_not_a_tree_file);
    RUN(test_dump_damaged_catalog_falls_back_to_files);
    RUN(test_dump_random_damage_never_crashes);
    return tap_done();
}
