/*
 * test_docin.c -- the JSON-array and BSON readers of wr-load (docin.c):
 * elements cut at the right bytes whatever strings and nesting hold,
 * pretty-printed arrays, BSON documents and their _id rules, bad elements
 * skippable, broken structures fatal, format hints, the rejects record.
 */
#include "tap.h"

#include "docin.h"
#include "wr_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *write_tmp(const char *name, const void *data, size_t len)
{
    static char path[4][PATH_MAX];
    static int k;
    FILE *fp;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tap_tmpdir(), name);
    if ((fp = fopen(path[k], "wb")) == NULL ||
        (len > 0 && fwrite(data, 1, len, fp) != len)) {
        perror(path[k]);
        exit(2);
    }
    fclose(fp);
    return path[k];
}

/* What reading a file gave: the _ids (int32) of its good elements, the
 * number of bad (skippable) ones, whether the last error was fatal and
 * its message. */
typedef struct got {
    int32_t ids[8];
    int n, bad;
    bool fatal;
    char msg[1024];
} got;

/* Read every element of path in format into *g; the last rc. */
static int read_all(const char *path, int format, got *g)
{
    wri_docin *d = NULL;
    wri_jsonl_line line;
    wr_errbuf eb = {0};
    int rc;
    g->n = g->bad = 0;
    g->fatal = false;
    g->msg[0] = '\0';
    if ((rc = wri_docin_open(path, format, &d, &eb)) != WR_OK)
        return rc;
    for (;;) {
        rc = wri_docin_next(d, &line, &g->fatal, &eb);
        if (rc == WR_OK) {
            bson_iter_t it;
            if (bson_iter_init_find(&it, &line.doc, "_id") &&
                BSON_ITER_HOLDS_INT32(&it) && g->n < 8)
                g->ids[g->n++] = bson_iter_int32(&it);
            continue;
        }
        if (rc == WR_EBADINPUT && !g->fatal) {
            g->bad++;
            snprintf(g->msg, sizeof g->msg, "%s", eb.msg);
            wr_errbuf_clear(&eb);
            continue;
        }
        if (rc != 1)
            snprintf(g->msg, sizeof g->msg, "%s", eb.msg);
        break;
    }
    wri_docin_close(d);
    return rc;
}

static void test_docin_array_elements_cut_at_the_right_bytes(void)
{
    /* brackets, braces, quotes and backslashes inside strings; nesting;
     * pretty-printed across lines */
    const char *text =
        "  [\n"
        "  {\"_id\": 1, \"s\": \"]}{[\\\"\\\\\", \"a\": [1, [2, {\"x\": \"}\"}]]},\n"
        "  {\n    \"_id\": 2,\n    \"o\": {\"p\": {}}\n  }\n"
        "  ,{\"_id\": 3}\n"
        "]\n\n";
    const char *path = write_tmp("a.json", text, strlen(text));
    got g;
    CHECK_EQ(read_all(path, WR_LOAD_JSON_ARRAY, &g), 1);
    CHECK_EQ(g.n, 3);
    CHECK_EQ(g.bad, 0);
    CHECK(g.n == 3 && g.ids[0] == 1 && g.ids[1] == 2 && g.ids[2] == 3);
    path = write_tmp("e.json", " [ ] ", 5);
    CHECK_EQ(read_all(path, WR_LOAD_JSON_ARRAY, &g), 1);
    CHECK_EQ(g.n, 0);
}

static void test_docin_array_bad_element_skippable_line_named(void)
{
    const char *text = "[{\"_id\": 1},\n{\"_id\": 2, \"x\": NaN},\n{\"_id\": 3}]";
    const char *path = write_tmp("b.json", text, strlen(text));
    got g;
    CHECK_EQ(read_all(path, WR_LOAD_JSON_ARRAY, &g), 1);
    CHECK_EQ(g.n, 2);
    CHECK_EQ(g.bad, 1);
    CHECK(strstr(g.msg, "line 2 (byte 13): element 2: ") != NULL);
}

static void test_docin_array_broken_structure_is_fatal(void)
{
    static const char *cases[][2] = {
        {"[{\"_id\": 1} {\"_id\": 2}]", "expected ',' or ']'"},
        {"[{\"_id\": 1},", "not closed"},
        {"[{\"_id\": 1, \"s\": \"open", "ends inside an element"},
        {"[{\"_id\": 1}] x", "data after the array's ']'"},
        {"[1, 2]", "not an object"},
        {"{\"_id\": 1}\n", "this looks like JSONL: use --format jsonl"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path =
            write_tmp("c.json", cases[i][0], strlen(cases[i][0]));
        got g;
        CHECK_EQ(read_all(path, WR_LOAD_JSON_ARRAY, &g), WR_EBADINPUT);
        CHECK(g.fatal);
        if (strstr(g.msg, cases[i][1]) == NULL)
            TAP_FAIL("case %zu: '%s' lacks '%s'", i, g.msg, cases[i][1]);
    }
}

static size_t put_doc(uint8_t *out, const bson_t *b)
{
    memcpy(out, bson_get_data(b), b->len);
    return b->len;
}

static void test_docin_bson_documents_and_rules(void)
{
    uint8_t buf[4096];
    size_t n = 0;
    bson_t *a = BCON_NEW("_id", BCON_INT32(1), "s", BCON_UTF8("x"));
    bson_t *b = BCON_NEW("x", BCON_INT32(2)); /* no _id */
    bson_t *c = BCON_NEW("_id", BCON_INT32(3), "$deleted", BCON_BOOL(true));
    bson_t *e = BCON_NEW("_id", BCON_INT32(4), "$set", BCON_INT32(1));
    n += put_doc(buf + n, a);
    n += put_doc(buf + n, b);
    n += put_doc(buf + n, c);
    n += put_doc(buf + n, e);
    n += put_doc(buf + n, a);
    const char *path = write_tmp("d.bson", buf, n);
    got g;
    CHECK_EQ(read_all(path, WR_LOAD_BSON, &g), 1);
    CHECK_EQ(g.n, 3); /* 1, the delete of 3, 1 again */
    CHECK_EQ(g.bad, 2);
    CHECK(strstr(g.msg, "document 4 (byte ") != NULL &&
          strstr(g.msg, "starts with '$'") != NULL);
    /* truncated: fatal, named */
    path = write_tmp("t.bson", buf, n - 3);
    CHECK_EQ(read_all(path, WR_LOAD_BSON, &g), WR_EBADINPUT);
    CHECK(g.fatal);
    CHECK(strstr(g.msg, "document 5") != NULL &&
          strstr(g.msg, "ends inside a document") != NULL);
    /* a BSON file read as JSONL, and JSONL read as BSON: hints */
    path = write_tmp("d2.bson", buf, n);
    wri_docin *d = NULL;
    wri_jsonl_line line;
    wr_errbuf eb = {0};
    REQUIRE_OK(wri_docin_open(path, WR_LOAD_JSONL, &d, &eb), &eb);
    CHECK_EQ(wri_docin_next(d, &line, &g.fatal, &eb), WR_EBADINPUT);
    CHECK(strstr(eb.msg, "this looks like BSON: use --format bson") != NULL);
    wri_docin_close(d);
    path = write_tmp("j.jsonl", "[{\"_id\": 1}]\n", 13);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_docin_open(path, WR_LOAD_JSONL, &d, &eb), &eb);
    CHECK_EQ(wri_docin_next(d, &line, &g.fatal, &eb), WR_EBADINPUT);
    CHECK(strstr(eb.msg, "this looks like a JSON array: use --format "
                         "json-array") != NULL);
    wri_docin_close(d);
    bson_destroy(a);
    bson_destroy(b);
    bson_destroy(c);
    bson_destroy(e);
}

static void test_docin_reject_record(void)
{
    wri_jsonl_line line = {.lineno = 7, .offset = 99, .text = "not json",
                           .len = 8};
    size_t len = 0;
    char *j = wri_reject_json("in.jsonl", &line, "column 1: x", false, &len);
    REQUIRE(j != NULL);
    CHECK(len > 0 && j[len - 1] == '\n');
    CHECK(strstr(j, "\"line\" : 7") != NULL);
    CHECK(strstr(j, "\"offset\" : 99") != NULL);
    CHECK(strstr(j, "\"text\" : \"not json\"") != NULL);
    CHECK(strstr(j, "\"reason\" : \"column 1: x\"") != NULL);
    free(j);
    /* a reader's message: its file, line and byte are the fields, not
     * part of the reason (wr-load and wr-migrate alike) */
    j = wri_reject_json("d/c.log", &line,
                        "d/c.log: line 7 (byte 99): column 1: x", false, &len);
    REQUIRE(j != NULL);
    CHECK(strstr(j, "\"reason\" : \"column 1: x\"") != NULL);
    CHECK(strstr(j, "\"file\" : \"d/c.log\"") != NULL);
    /* a rejects file is known as one by its first line (wr-load empties
     * no other file) */
    CHECK(wri_reject_head_is(j, len));
    CHECK(!wri_reject_head_is("{\"_id\": 1}\n", 11));
    CHECK(!wri_reject_head_is(j, 5));
    free(j);
    line.text = "\xff\x01";
    line.len = 2;
    j = wri_reject_json("in.bson", &line, "bad", false, &len);
    REQUIRE(j != NULL);
    CHECK(strstr(j, "\"hex\" : \"ff01\"") != NULL);
    CHECK(wri_reject_head_is(j, len));
    free(j);
}

int main(void)
{
    RUN(test_docin_array_elements_cut_at_the_right_bytes);
    RUN(test_docin_array_bad_element_skippable_line_named);
    RUN(test_docin_array_broken_structure_is_fatal);
    RUN(test_docin_bson_documents_and_rules);
    RUN(test_docin_reject_record);
    return tap_done();
}
