/*
 * test_diff.c -- wr_diff_doc (the first differing field) and wr_diff
 * (databases and logs merged in MongoDB key order, the migrate rules for
 * a log, indexes, bounded memory, the item formats).
 */
#include "tap.h"
#include "wr_int.h"

#include <sys/stat.h>

/* --- documents -------------------------------------------------------- */

static bson_t *json(const char *s)
{
    bson_error_t err;
    bson_t *b = bson_new_from_json((const uint8_t *)s, -1, &err);
    if (b == NULL)
        printf("# bad test JSON %s: %s\n", s, err.message);
    return b;
}

/* wr_diff_doc on two JSON documents: 0 or 1, path and why. */
static int doc_diff(const char *a, const char *b, char *path,
                    const char **why)
{
    bson_t *da = json(a), *db = json(b);
    int r = -1;
    if (da != NULL && db != NULL)
        r = wr_diff_doc(bson_get_data(da), da->len, bson_get_data(db),
                        db->len, path, 256, why);
    bson_destroy(da);
    bson_destroy(db);
    return r;
}

static void test_diff_doc_equal_documents(void)
{
    char path[256];
    const char *why = NULL;
    CHECK_EQ(doc_diff("{\"_id\": 1, \"a\": {\"b\": [1, 2]}}",
                      "{\"_id\": 1, \"a\": {\"b\": [1, 2]}}", path, &why),
             0);
}

static void test_diff_doc_nested_value(void)
{
    char path[256];
    const char *why = NULL;
    REQUIRE_EQ(doc_diff("{\"_id\": 1, \"address\": {\"city\": \"Oslo\", "
                        "\"zip\": \"1\"}}",
                        "{\"_id\": 1, \"address\": {\"city\": \"Lima\", "
                        "\"zip\": \"1\"}}",
                        path, &why),
               1);
    CHECK(strcmp(path, "address.city") == 0);
    CHECK(strcmp(why, "value") == 0);
    /* deeper, through an array of documents */
    REQUIRE_EQ(doc_diff("{\"x\": [{\"a\": 1}, {\"a\": {\"b\": true}}]}",
                        "{\"x\": [{\"a\": 1}, {\"a\": {\"b\": false}}]}",
                        path, &why),
               1);
    CHECK(strcmp(path, "x.1.a.b") == 0);
}

static void test_diff_doc_array_elements(void)
{
    char path[256];
    const char *why = NULL;
    REQUIRE_EQ(doc_diff("{\"tags\": [\"a\", \"b\", \"c\"]}",
                        "{\"tags\": [\"a\", \"b\", \"d\"]}", path, &why),
               1);
    CHECK(strcmp(path, "tags.2") == 0);
    CHECK(strcmp(why, "value") == 0);
    REQUIRE_EQ(doc_diff("{\"tags\": [\"a\"]}", "{\"tags\": [\"a\", \"b\"]}",
                        path, &why),
               1);
    CHECK(strcmp(path, "tags.1") == 0);
    CHECK(strcmp(why, "only in B") == 0);
}

/* 1 and 1.0 are one value in key order, but a document that changed one
 * into the other is not the same document. */
static void test_diff_doc_int_double_is_a_type_change(void)
{
    char path[256];
    const char *why = NULL;
    REQUIRE_EQ(doc_diff("{\"n\": {\"$numberInt\": \"1\"}}",
                        "{\"n\": {\"$numberDouble\": \"1.0\"}}", path, &why),
               1);
    CHECK(strcmp(path, "n") == 0);
    CHECK(strcmp(why, "type") == 0);
    REQUIRE_EQ(doc_diff("{\"n\": {\"$numberLong\": \"1\"}}",
                        "{\"n\": {\"$numberInt\": \"1\"}}", path, &why),
               1);
    CHECK(strcmp(why, "type") == 0);
}

static void test_diff_doc_missing_and_reordered_fields(void)
{
    char path[256];
    const char *why = NULL;
    REQUIRE_EQ(doc_diff("{\"a\": 1, \"b\": 2, \"c\": 3}",
                        "{\"a\": 1, \"c\": 3}", path, &why),
               1);
    CHECK(strcmp(path, "b") == 0);
    CHECK(strcmp(why, "only in A") == 0);
    REQUIRE_EQ(doc_diff("{\"a\": 1}", "{\"a\": 1, \"z\": {\"y\": 0}}", path,
                        &why),
               1);
    CHECK(strcmp(path, "z") == 0);
    CHECK(strcmp(why, "only in B") == 0);
    REQUIRE_EQ(doc_diff("{\"s\": {\"a\": 1, \"b\": 2}}",
                        "{\"s\": {\"b\": 2, \"a\": 1}}", path, &why),
               1);
    CHECK(strcmp(path, "s.a") == 0);
    CHECK(strcmp(why, "field order") == 0);
}

/* --- databases and logs --------------------------------------------------- */

static const char *sub(const char *name)
{
    static char path[8][512];
    static int n;
    char *p = path[n++ % 8];
    snprintf(p, 512, "%s/%s", tap_tmpdir(), name);
    return p;
}

/* A database at DIR (512-byte pages) with collection NAME holding the
 * documents of the NULL-terminated JSON list, and an index on INDEX. */
static int make_db(const char *dir, const char *name, const char *index,
                   const char *const *docs, wr_errbuf *eb)
{
    wr_db *db = NULL;
    wr_coll *c = NULL;
    wr_db_opts o = {.create = true, .page_size = 512};
    int rc = wr_db_open(dir, &o, &db, eb);
    if (rc == WR_OK)
        rc = wr_coll_open(db, name, true, &c, eb);
    if (rc == WR_OK && index != NULL)
        rc = wr_coll_add_index(c, index, eb);
    for (size_t i = 0; rc == WR_OK && docs[i] != NULL; i++) {
        bson_t *d = json(docs[i]);
        rc = d != NULL ? wr_coll_put(c, d, NULL, eb) : WR_EINVAL;
        bson_destroy(d);
    }
    if (rc == WR_OK)
        rc = wr_db_checkpoint(db, eb);
    wr_db_close(db);
    return rc;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

typedef struct got {
    int n;
    char line[32][300];
    int notes;
} got;

static int collect(const wr_diff_item *it, void *arg)
{
    got *g = arg;
    char *s = wr_diff_item_format(it, false);
    if (g->n < 32 && s != NULL)
        snprintf(g->line[g->n], sizeof g->line[0], "%s", s);
    g->n++;
    free(s);
    return 0;
}

static void note(const char *msg, void *arg)
{
    got *g = arg;
    (void)msg;
    g->notes++;
}

static int run_diff(const char *a, const char *b, uint64_t memory, got *g,
                    wr_diff_stats *st, wr_errbuf *eb)
{
    wr_diff_opts o = {.a = a, .b = b, .memory = memory, .on_item = collect,
                      .on_note = note, .arg = g, .tmpdir = tap_tmpdir()};
    memset(g, 0, sizeof *g);
    return wr_diff(&o, st, eb);
}

/* _ids pair in MongoDB order, not by bytes: int 1 meets double 1.0 (a
 * type change of _id), NumberLong(2) meets int 2, and 1.5 sorts between
 * them on its side. */
static void test_diff_pairs_ids_in_mongodb_order(void)
{
    wr_errbuf eb = {0};
    got g;
    wr_diff_stats st;
    const char *a[] = {"{\"_id\": {\"$numberInt\": \"1\"}, \"v\": 1}",
                       "{\"_id\": 1.5, \"v\": 1}",
                       "{\"_id\": {\"$numberLong\": \"2\"}, \"v\": 1}",
                       "{\"_id\": \"s\", \"v\": 1}", NULL};
    const char *b[] = {"{\"_id\": {\"$numberDouble\": \"1.0\"}, \"v\": 1}",
                       "{\"_id\": {\"$numberInt\": \"2\"}, \"v\": 1}",
                       "{\"_id\": 3, \"v\": 1}",
                       "{\"_id\": \"s\", \"v\": 1}", NULL};
    REQUIRE_OK(make_db(sub("ka"), "c", NULL, a, &eb), &eb);
    REQUIRE_OK(make_db(sub("kb"), "c", NULL, b, &eb), &eb);
    REQUIRE_OK(run_diff(sub("ka"), sub("kb"), 0, &g, &st, &eb), &eb);
    REQUIRE_EQ(g.n, 4);
    CHECK(strcmp(g.line[0], "c: different: _id 1: _id (type)") == 0);
    CHECK(strcmp(g.line[1], "c: only in A: _id 1.5") == 0);
    CHECK(strcmp(g.line[2], "c: different: _id 2: _id (type)") == 0);
    CHECK(strcmp(g.line[3], "c: only in B: _id 3") == 0);
    CHECK_EQ(st.changed, 2);
    CHECK_EQ(st.only_a, 1);
    CHECK_EQ(st.only_b, 1);
    CHECK_EQ(st.same, 1);
    CHECK_EQ(st.docs_a, 4);
    CHECK_EQ(st.docs_b, 4);
}

static void test_diff_identical_databases(void)
{
    wr_errbuf eb = {0};
    got g;
    wr_diff_stats st;
    const char *d[] = {"{\"_id\": 1, \"age\": 5}", "{\"_id\": 2, \"age\": 7}",
                       NULL};
    REQUIRE_OK(make_db(sub("ia"), "p", "age", d, &eb), &eb);
    REQUIRE_OK(make_db(sub("ib"), "p", "age", d, &eb), &eb);
    REQUIRE_OK(run_diff(sub("ia"), sub("ib"), 0, &g, &st, &eb), &eb);
    CHECK_EQ(g.n, 0);
    CHECK_EQ(st.same, 2);
    CHECK_EQ(st.index_entries, 4);
    CHECK_EQ(st.collections, 1);
}

/* A log side: the last line per _id wins, $deleted deletes, a torn last
 * line is dropped with a note; index entries are derived from it. */
static void test_diff_log_side_follows_the_migrate_rules(void)
{
    wr_errbuf eb = {0};
    got g;
    wr_diff_stats st;
    const char *d[] = {"{\"_id\": 1, \"age\": 5}", "{\"_id\": 2, \"age\": 7}",
                       NULL};
    REQUIRE_OK(make_db(sub("la"), "p", "age", d, &eb), &eb);
    REQUIRE(write_file(sub("l.jsonl"),
                       "{\"_id\": 2, \"age\": 1}\n"
                       "{\"_id\": 3, \"age\": 9}\n"
                       "{\"_id\": 1, \"age\": 5}\n"
                       "{\"_id\": 2, \"age\": 7}\n"
                       "{\"_id\": 3, \"$deleted\": true}\n"
                       "{\"_id\": 4, \"age\":") == 0);
    REQUIRE_OK(run_diff(sub("la"), sub("l.jsonl"), 0, &g, &st, &eb), &eb);
    CHECK_EQ(g.n, 0);
    CHECK_EQ(st.same, 2);
    CHECK_EQ(st.torn, 1);
    CHECK_EQ(g.notes, 1);
    CHECK_EQ(st.index_entries, 4); /* derived from the live set */
    /* a bad line that is not the last one is damage, not a difference */
    REQUIRE(write_file(sub("bad.jsonl"), "{\"_id\": 1, \"age\": 5}\n"
                                         "{\"_id\": 2, \"age\": NaN}\n"
                                         "{\"_id\": 2, \"age\": 7}\n") == 0);
    wr_errbuf_clear(&eb);
    CHECK_EQ(run_diff(sub("la"), sub("bad.jsonl"), 0, &g, &st, &eb),
             WR_EBADINPUT);
    CHECK(strstr(eb.msg, "bad.jsonl") != NULL);
    CHECK(strstr(eb.msg, "line 2") != NULL);
}

static void test_diff_indexes_in_one_side_and_entries(void)
{
    wr_errbuf eb = {0};
    got g;
    wr_diff_stats st;
    const char *d[] = {"{\"_id\": 1, \"age\": 5}", NULL};
    const char *e[] = {"{\"_id\": 1, \"age\": 6}", NULL};
    REQUIRE_OK(make_db(sub("xa"), "p", "age", d, &eb), &eb);
    REQUIRE_OK(make_db(sub("xb"), "p", NULL, d, &eb), &eb);
    REQUIRE_OK(run_diff(sub("xa"), sub("xb"), 0, &g, &st, &eb), &eb);
    REQUIRE_EQ(g.n, 1);
    CHECK(strcmp(g.line[0], "p: index age: only in A: the whole index") == 0);
    CHECK_EQ(st.indexes_only, 1);
    /* a changed value: the document and both index entries */
    REQUIRE_OK(make_db(sub("xc"), "p", "age", e, &eb), &eb);
    REQUIRE_OK(run_diff(sub("xa"), sub("xc"), 0, &g, &st, &eb), &eb);
    REQUIRE_EQ(g.n, 3);
    CHECK(strcmp(g.line[0], "p: different: _id 1: age (value)") == 0);
    CHECK(strcmp(g.line[1],
                 "p: index age: only in A: entry [ 5, 1 ] (value, _id)") == 0);
    CHECK(strcmp(g.line[2],
                 "p: index age: only in B: entry [ 6, 1 ] (value, _id)") == 0);
}

static void test_diff_collection_in_one_side(void)
{
    wr_errbuf eb = {0};
    got g;
    wr_diff_stats st;
    const char *d[] = {"{\"_id\": 1}", "{\"_id\": 2}", NULL};
    REQUIRE_OK(make_db(sub("ca"), "p", NULL, d, &eb), &eb);
    REQUIRE_OK(make_db(sub("cb"), "q", NULL, d, &eb), &eb);
    REQUIRE_OK(run_diff(sub("ca"), sub("cb"), 0, &g, &st, &eb), &eb);
    REQUIRE_EQ(g.n, 2);
    CHECK(strcmp(g.line[0],
                 "p: only in A: the whole collection (2 documents)") == 0);
    CHECK(strcmp(g.line[1],
                 "q: only in B: the whole collection (2 documents)") == 0);
    CHECK_EQ(st.colls_only, 2);
    /* --collection naming neither side */
    wr_diff_opts o = {.a = sub("ca"), .b = sub("cb"), .collection = "zz"};
    CHECK_EQ(wr_diff(&o, &st, &eb), WR_EINVAL);
}

/* A log larger than the budget spills sorted runs and still pairs every
 * document. */
static void test_diff_log_larger_than_memory_spills(void)
{
    wr_errbuf eb = {0};
    got g;
    wr_diff_stats st;
    const char *none[] = {NULL};
    const char *big = sub("big.jsonl");
    FILE *f = fopen(big, "w");
    REQUIRE(f != NULL);
    /* 20,000 documents of ~200 bytes in a scattered order, twice each */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 20000; i++)
            fprintf(f, "{\"_id\": %d, \"pad\": \"%0180d\", \"p\": %d}\n",
                    (i * 7919) % 20000, i, pass);
    REQUIRE(fclose(f) == 0);
    REQUIRE_OK(make_db(sub("sa"), "big", NULL, none, &eb), &eb);
    REQUIRE_OK(run_diff(big, big, 1u << 20, &g, &st, &eb), &eb);
    CHECK_EQ(g.n, 0);
    CHECK_EQ(st.same, 20000);
    CHECK(st.sort_spilled > 0);
    CHECK(st.sort_peak <= (1u << 20) + 64 * 1024);
    /* against an empty collection: everything only in B */
    REQUIRE_OK(run_diff(sub("sa"), big, 1u << 20, &g, &st, &eb), &eb);
    CHECK_EQ(st.only_b, 20000);
}

static void test_diff_item_json_carries_typed_values(void)
{
    bson_t k = BSON_INITIALIZER;
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, "000102030405060708090a0b");
    BSON_APPEND_OID(&k, "", &oid);
    wr_diff_item it = {.coll = "p\"q", .what = WR_DIFF_DOC,
                       .kind = WR_DIFF_CHANGED, .key = bson_get_data(&k),
                       .klen = k.len, .path = "a.b", .why = "type"};
    char *j = wr_diff_item_format(&it, true);
    char *t = wr_diff_item_format(&it, false);
    REQUIRE(j != NULL && t != NULL);
    bson_t *back = json(j);
    REQUIRE(back != NULL);
    bson_iter_t i;
    CHECK(bson_iter_init_find(&i, back, "_id") && BSON_ITER_HOLDS_OID(&i));
    CHECK(bson_iter_init_find(&i, back, "collection") &&
          strcmp(bson_iter_utf8(&i, NULL), "p\"q") == 0);
    CHECK(bson_iter_init_find(&i, back, "path") &&
          strcmp(bson_iter_utf8(&i, NULL), "a.b") == 0);
    CHECK(strstr(t, "_id { \"$oid\" : \"000102030405060708090a0b\" }: a.b "
                    "(type)") != NULL);
    bson_destroy(back);
    bson_destroy(&k);
    free(j);
    free(t);
}

int main(void)
{
    RUN(test_diff_doc_equal_documents);
    RUN(test_diff_doc_nested_value);
    RUN(test_diff_doc_array_elements);
    RUN(test_diff_doc_int_double_is_a_type_change);
    RUN(test_diff_doc_missing_and_reordered_fields);
    RUN(test_diff_pairs_ids_in_mongodb_order);
    RUN(test_diff_identical_databases);
    RUN(test_diff_log_side_follows_the_migrate_rules);
    RUN(test_diff_indexes_in_one_side_and_entries);
    RUN(test_diff_collection_in_one_side);
    RUN(test_diff_log_larger_than_memory_spills);
    RUN(test_diff_item_json_carries_typed_values);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tap_tmpdir());
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tap_tmpdir());
    return tap_done();
}
