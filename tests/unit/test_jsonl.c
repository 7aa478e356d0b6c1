/*
 * test_jsonl.c -- the strict JSONL reader: JSONTestSuite, the BSON corpus,
 * the regressions libbson 1.23.1 lets through, the line reader (CRLF,
 * blank, torn and long lines, positions in messages), real mongoexport
 * data, a randomized mutation run, and the one-pass builder held to
 * libbson's parser over all of these (wr_ejson_diff, fuzz/fuzz_ejson.c).
 *
 * Corpora: $WR_CORPORA, else ../shared/corpora (tests run from the repo
 * root), else /work/shared/corpora.
 */
#include "wr_int.h"

#include "tap.h"

#define WR_FUZZ_REPLAY /* wr_ejson_diff, without the libFuzzer entry */
#include "../../fuzz/fuzz_ejson.c"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- helpers ------------------------------------------------------------ */

static const char *corpora(void)
{
    static char dir[PATH_MAX];
    if (dir[0] != '\0')
        return dir;
    const char *env = getenv("WR_CORPORA");
    const char *cands[] = {env, "../shared/corpora", "/work/shared/corpora"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        char probe[PATH_MAX + 32];
        if (cands[i] == NULL || cands[i][0] == '\0')
            continue;
        snprintf(probe, sizeof probe, "%s/README.md", cands[i]);
        if (access(probe, R_OK) == 0) {
            snprintf(dir, sizeof dir, "%s", cands[i]);
            return dir;
        }
    }
    snprintf(dir, sizeof dir, "/work/shared/corpora");
    return dir;
}

/* The whole file, NUL-terminated (NULL if unreadable). */
static char *slurp(const char *path, size_t *len_out)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        if (got == 0)
            break;
        len += got;
    }
    fclose(fp);
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

static char *corpus_file(const char *rel, size_t *len)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/%s", corpora(), rel);
    return slurp(path, len);
}

/* Split buf in place into lines (without "\n"); returns the count. */
static size_t split_lines(char *buf, size_t len, char ***lines_out,
                          size_t **lens_out)
{
    size_t cap = 1024, n = 0;
    char **lines = malloc(cap * sizeof *lines);
    size_t *lens = malloc(cap * sizeof *lens);
    size_t i = 0;
    while (i < len) {
        char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (n == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof *lines);
            lens = realloc(lens, cap * sizeof *lens);
        }
        lines[n] = buf + i;
        lens[n] = end - i;
        buf[end] = '\0';
        n++;
        i = end + 1;
    }
    *lines_out = lines;
    *lens_out = lens;
    return n;
}

/* Parse; on success the document must pass bson_validate and is
 * destroyed unless kept. Returns the wr_err code. */
static int parse_n(const char *s, size_t n, char *why, size_t whylen)
{
    bson_t doc;
    bool del = false;
    int rc = wri_json_line_parse(s, n, &doc, &del, why, whylen);
    if (rc == WR_OK) {
        size_t off = 0;
        if (!bson_validate(&doc, BSON_VALIDATE_UTF8 |
                                     BSON_VALIDATE_UTF8_ALLOW_NULL, &off))
            TAP_FAIL("accepted document fails bson_validate at %zu: %.*s",
                     off, (int)WRI_MIN(n, (size_t)200), s);
        bson_destroy(&doc);
    } else if (rc != WR_EBADINPUT)
        TAP_FAIL("unexpected rc %d", rc);
    return rc;
}

/* The line must be refused with a reason containing `want` (if given). */
#define REJECTS(line, want)                                                  \
    do {                                                                     \
        char why_[512];                                                      \
        int rc_ = parse_n((line), strlen(line), why_, sizeof why_);          \
        if (rc_ != WR_EBADINPUT)                                             \
            TAP_FAIL("accepted: %s", (line));                                \
        else if ((want) != NULL && strstr(why_, (want)) == NULL)             \
            TAP_FAIL("reason \"%s\" lacks \"%s\" for %s", why_,              \
                     (const char *)(want), (line));                          \
    } while (0)

#define ACCEPTS(line)                                                        \
    do {                                                                     \
        char why_[512];                                                      \
        if (parse_n((line), strlen(line), why_, sizeof why_) != WR_OK)       \
            TAP_FAIL("refused: %s: %s", (line), why_);                       \
    } while (0)

static char *hex_of(const bson_t *b)
{
    const uint8_t *d = bson_get_data(b);
    char *h = malloc(b->len * 2 + 1);
    for (uint32_t i = 0; i < b->len; i++)
        snprintf(h + 2 * i, 3, "%02X", d[i]);
    return h;
}

static const char *tmp_path(const char *name)
{
    static char path[4][PATH_MAX];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tap_tmpdir(), name);
    return path[k];
}

static const char *write_tmp(const char *name, const char *data, size_t len)
{
    const char *path = tmp_path(name);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL) {
        perror(path);
        exit(2);
    }
    if (len > 0 && fwrite(data, 1, len, fp) != len) {
        perror(path);
        exit(2);
    }
    fclose(fp);
    return path;
}

/* --- JSONTestSuite ---------------------------------------------------- */

typedef void (*suite_fn)(const char *name, const char *data, size_t len);

static int suite_each(const char *prefix, suite_fn fn)
{
    char dirpath[PATH_MAX + 64];
    snprintf(dirpath, sizeof dirpath, "%s/json-test-suite/test_parsing",
             corpora());
    struct dirent **ents = NULL;
    int n = scandir(dirpath, &ents, NULL, alphasort);
    int count = 0;
    if (n < 0) {
        TAP_FAIL("cannot list %s", dirpath);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (strncmp(ents[i]->d_name, prefix, strlen(prefix)) == 0) {
            char path[PATH_MAX + 512];
            size_t len;
            snprintf(path, sizeof path, "%s/%s", dirpath, ents[i]->d_name);
            char *data = slurp(path, &len);
            if (data == NULL)
                TAP_FAIL("cannot read %s", path);
            else
                fn(ents[i]->d_name, data, len);
            free(data);
            count++;
        }
        free(ents[i]);
    }
    free(ents);
    return count;
}

/* {"_id":1,"v":<content>} */
static char *wrap_value(const char *data, size_t len, size_t *out_len)
{
    static const char pre[] = "{\"_id\":1,\"v\":";
    char *w = malloc(len + sizeof pre + 2);
    memcpy(w, pre, sizeof pre - 1);
    memcpy(w + sizeof pre - 1, data, len);
    w[sizeof pre - 1 + len] = '}';
    *out_len = sizeof pre + len;
    w[*out_len] = '\0';
    return w;
}

/* y_ files whose value cannot be stored in BSON. Each is refused on
 * purpose, with the reason given. */
static const struct {
    const char *file, *why;
} y_skip[] = {
    {"y_object_escaped_null_in_key.json",
     "key \"foo\\u0000bar\": BSON keys are C strings, a NUL cannot be stored"},
};

static void y_one(const char *name, const char *data, size_t len)
{
    for (size_t i = 0; i < sizeof y_skip / sizeof y_skip[0]; i++)
        if (strcmp(name, y_skip[i].file) == 0) {
            printf("# skip %s: %s\n", name, y_skip[i].why);
            return;
        }
    char *copy = malloc(len + 1);
    memcpy(copy, data, len);
    while (len > 0 && copy[len - 1] == '\n')
        len--;
    for (size_t i = 0; i < len; i++)
        if (copy[i] == '\n') /* outside strings: JSON whitespace */
            copy[i] = ' ';
    size_t wl;
    char *w = wrap_value(copy, len, &wl);
    char why[512];
    if (parse_n(w, wl, why, sizeof why) != WR_OK)
        TAP_FAIL("%s refused: %s (%s)", name, why, w);
    free(w);
    free(copy);
}

static void test_jsonl_json_test_suite_y_accepted(void)
{
    CHECK(suite_each("y_", y_one) == 95);
}

static void n_one(const char *name, const char *data, size_t len)
{
    char why[512];
    if (parse_n(data, len, why, sizeof why) != WR_EBADINPUT)
        TAP_FAIL("%s accepted raw", name);
    /* Wrapping could in principle make a text valid (an n_ file invalid
     * only because of what follows it); none of the 188 is, so every
     * wrapped form must be refused too. */
    size_t wl;
    char *w = wrap_value(data, len, &wl);
    if (parse_n(w, wl, why, sizeof why) != WR_EBADINPUT)
        TAP_FAIL("%s accepted wrapped: %.200s", name, w);
    free(w);
}

static void test_jsonl_json_test_suite_n_rejected(void)
{
    CHECK(suite_each("n_", n_one) == 188);
}

static void i_one(const char *name, const char *data, size_t len)
{
    char why[512];
    size_t wl;
    (void)parse_n(data, len, why, sizeof why);
    char *w = wrap_value(data, len, &wl);
    (void)parse_n(w, wl, why, sizeof why);
    free(w);
}

static void test_jsonl_json_test_suite_i_no_crash(void)
{
    CHECK(suite_each("i_", i_one) == 35);
}

/* --- BSON corpus ------------------------------------------------------ */

static void test_jsonl_bson_corpus_parse_errors_rejected(void)
{
    size_t len, mlen;
    char *data = corpus_file("bson-corpus/parse_errors.jsonl", &len);
    char *man = corpus_file("bson-corpus/parse_errors.manifest.jsonl", &mlen);
    REQUIRE(data != NULL && man != NULL);
    char **lines, **mlines;
    size_t *lens, *mlens;
    size_t n = split_lines(data, len, &lines, &lens);
    size_t mn = split_lines(man, mlen, &mlines, &mlens);
    CHECK_EQ(n, 237);
    CHECK_EQ(mn, n);
    int rejected = 0, legacy_date = 0;
    for (size_t i = 0; i < mn && i < n; i++) {
        bson_t m;
        bson_iter_t it;
        REQUIRE(bson_init_from_json(&m, mlines[i], (ssize_t)mlens[i], NULL));
        const char *expect = "", *cas = "";
        if (bson_iter_init_find(&it, &m, "expect"))
            expect = bson_iter_utf8(&it, NULL);
        if (bson_iter_init_find(&it, &m, "case"))
            cas = bson_iter_utf8(&it, NULL);
        char why[512];
        int rc = parse_n(lines[i], lens[i], why, sizeof why);
        if (strcmp(cas, "top.json:Bad $date (number, not string or hash)") ==
            0) {
            /* The corpus says reject, but {"$date": <number>} is the legacy
             * mongoexport form real logs contain, and jsonl.h promises to
             * accept it (see test_jsonl_legacy_date_number). */
            CHECK(rc == WR_OK);
            legacy_date++;
        } else if (strncmp(expect, "reject", 6) == 0 ||
                   strcmp(expect, "skip-or-reject") == 0) {
            if (rc != WR_EBADINPUT)
                TAP_FAIL("line %zu (%s) accepted: %.200s", i + 1, cas,
                         lines[i]);
            else
                rejected++;
        } else {
            if (rc != WR_OK)
                TAP_FAIL("line %zu (%s) refused: %s", i + 1, cas, why);
        }
        bson_destroy(&m);
    }
    CHECK_EQ(legacy_date, 1);
    CHECK_EQ(rejected, 236);
    free(lines);
    free(lens);
    free(mlines);
    free(mlens);
    free(data);
    free(man);
}

/* valid.jsonl lines (by _id) libbson 1.23.1 gets wrong, which the
 * builder gets right (the expected BSON is the corpus's own). */
static bool valid_libbson_wrong(int64_t id)
{
    switch (id) {
    case 32: /* code.json:Embedded nulls */
    case 37: /* code_w_scope.json:...embedded null in code string */
        /* libbson cuts $code at the NUL (CDRIVER-1879) */
        return true;
    case 704: /* regex.json: Regular expression as value of $regex query */
    case 705: /* ... operator (with $options): libbson refuses these when
               * nested ("Unexpected nested object value for $regex") */
        return true;
    default:
        return false;
    }
}

static void test_jsonl_bson_corpus_valid_accepted_and_exact(void)
{
    size_t len, elen;
    char *data = corpus_file("bson-corpus/valid.jsonl", &len);
    char *exp = corpus_file("bson-corpus/valid.expected.jsonl", &elen);
    REQUIRE(data != NULL && exp != NULL);
    char **lines, **elines;
    size_t *lens, *elens;
    size_t n = split_lines(data, len, &lines, &lens);
    size_t en = split_lines(exp, elen, &elines, &elens);
    CHECK_EQ(n, 728);
    CHECK_EQ(en, n);
    int accepted = 0, exact = 0, lossy = 0, fixed = 0;
    for (size_t i = 0; i < n && i < en; i++) {
        bson_t e, doc;
        bson_iter_t it;
        REQUIRE(bson_init_from_json(&e, elines[i], (ssize_t)elens[i], NULL));
        int64_t id = -1;
        const char *want = "";
        bool is_lossy = false;
        if (bson_iter_init_find(&it, &e, "_id"))
            id = bson_iter_as_int64(&it);
        if (bson_iter_init_find(&it, &e, "doc_bson"))
            want = bson_iter_utf8(&it, NULL);
        if (bson_iter_init_find(&it, &e, "lossy"))
            is_lossy = bson_iter_as_bool(&it);
        char why[512];
        bool del;
        int rc = wri_json_line_parse(lines[i], lens[i], &doc, &del, why,
                                     sizeof why);
        if (rc != WR_OK) {
            TAP_FAIL("_id %lld refused: %s", (long long)id, why);
        } else {
            accepted++;
            CHECK(!del);
            char *got = hex_of(&doc);
            if (is_lossy)
                lossy++;
            else if (strcmp(got, want) == 0) {
                exact++;
                fixed += valid_libbson_wrong(id);
            } else
                TAP_FAIL("_id %lld: BSON differs:\n#  got  %s\n#  want %s",
                         (long long)id, got, want);
            free(got);
            bson_destroy(&doc);
        }
        bson_destroy(&e);
    }
    CHECK_EQ(accepted, 728);
    CHECK_EQ(lossy, 10);
    CHECK_EQ(exact, 718);
    CHECK_EQ(fixed, 4); /* the four libbson gets wrong are exact */
    free(lines);
    free(lens);
    free(elines);
    free(elens);
    free(data);
    free(exp);
}

static int count_accepted(const char *rel, size_t *lines_out)
{
    size_t len;
    char *data = corpus_file(rel, &len);
    if (data == NULL) {
        TAP_FAIL("cannot read %s", rel);
        return -1;
    }
    char **lines;
    size_t *lens;
    size_t n = split_lines(data, len, &lines, &lens);
    int ok = 0;
    for (size_t i = 0; i < n; i++) {
        char why[512];
        if (parse_n(lines[i], lens[i], why, sizeof why) == WR_OK)
            ok++;
        else
            TAP_FAIL("%s line %zu refused: %s", rel, i + 1, why);
    }
    *lines_out = n;
    free(lines);
    free(lens);
    free(data);
    return ok;
}

static void test_jsonl_bson_corpus_relaxed_and_degenerate_accepted(void)
{
    size_t n = 0;
    CHECK_EQ(count_accepted("bson-corpus/valid_relaxed.jsonl", &n), 27);
    CHECK_EQ(n, 27);
    CHECK_EQ(count_accepted("bson-corpus/valid_degenerate.jsonl", &n), 325);
    CHECK_EQ(n, 325);
}

/* --- regressions: what libbson 1.23.1 alone lets through -------------- */

static void test_jsonl_two_documents_on_one_line(void)
{
    REJECTS("{\"_id\": 4}{\"_id\": 5}", "column 11: two JSON values on one "
                                        "line");
    REJECTS("{\"_id\": 4} {\"_id\": 5}", "two JSON values");
    REJECTS("{\"_id\": 4} [1]", "two JSON values");
    REJECTS("{\"_id\": 6} xyz", "after the document");
    REJECTS("{\"_id\": 21} // comment", "comments");
    ACCEPTS("  {\"_id\": 4} \t ");
}

static void test_jsonl_nan_and_infinity_literals(void)
{
    REJECTS("{\"_id\": 16, \"v\": NaN}", "column 18: NaN is not valid JSON");
    REJECTS("{\"_id\": 17, \"v\": -Infinity}", "Infinity is not valid JSON");
    REJECTS("{\"_id\": 17, \"v\": Infinity}", "Infinity is not valid JSON");
    /* the Extended JSON spellings are fine */
    ACCEPTS("{\"_id\": 1, \"v\": {\"$numberDouble\": \"NaN\"}}");
    ACCEPTS("{\"_id\": 1, \"v\": {\"$numberDouble\": \"-Infinity\"}}");
}

static void test_jsonl_top_level_must_be_an_object(void)
{
    REJECTS("[{\"_id\": 37}]", "not an array");
    REJECTS("38", "must be a JSON object");
    REJECTS("\"x\"", "must be a JSON object");
    REJECTS("null", "must be a JSON object");
    REJECTS("", "empty line");
    REJECTS("   ", "empty line");
    REJECTS("\xEF\xBB\xBF{\"_id\": 36}", "must be a JSON object");
}

static void test_jsonl_top_level_wrapper_refused(void)
{
    REJECTS("{\"$oid\": \"56e1fc72e0c917e9c4714161\"}",
            "top-level key \"$oid\" is not allowed");
    REJECTS("{\"$date\": 1234}", "top-level key \"$date\"");
    REJECTS("{\"_id\": 1, \"$set\": {\"a\": 1}}", "top-level key \"$set\"");
    REJECTS("{\"\\u0024oid\": \"56e1fc72e0c917e9c4714161\"}",
            "top-level key \"$oid\"");
    /* $-keys deeper down are libbson's business (DBRef-like documents) */
    ACCEPTS("{\"_id\": 1, \"v\": {\"$ref\": \"c\", \"$id\": 1, \"$x\": 2}}");
}

static void test_jsonl_oid_must_be_24_hex_digits(void)
{
    REJECTS("{\"_id\": {\"$oid\": \"56e1fc72e0c917e9c471416z\"}}",
            "$oid is not 24 hex digits");
    REJECTS("{\"_id\": {\"$oid\": \"56e1fc72e0c917e9c471416\"}}",
            "$oid is not 24 hex digits");
    REJECTS("{\"_id\": {\"$oid\": \"56e1fc72e0c917e9c47141610\"}}",
            "$oid is not 24 hex digits");
    REJECTS("{\"_id\": 1, \"a\": {\"$oid\": \"                        \"}}",
            "$oid is not 24 hex digits");
    /* an escaped key or value is decoded first */
    REJECTS("{\"_id\": {\"\\u0024oid\": \"56e1fc72e0c917e9c471416z\"}}",
            "$oid is not 24 hex digits");
    ACCEPTS("{\"_id\": {\"$oid\": \"\\u0035\\u0036e1fc72e0c917e9c4714161\"}}");
    ACCEPTS("{\"_id\": {\"$oid\": \"56E1FC72E0C917E9C4714161\"}}");
    bson_t doc;
    bool del;
    char why[256];
    const char *line = "{\"_id\": {\"$oid\": \"56e1fc72e0c917e9c4714161\"}}";
    REQUIRE(wri_json_line_parse(line, strlen(line), &doc, &del, why,
                                sizeof why) == WR_OK);
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &doc, "_id") && BSON_ITER_HOLDS_OID(&it));
    char s[25];
    bson_oid_to_string(bson_iter_oid(&it), s);
    CHECK(strcmp(s, "56e1fc72e0c917e9c4714161") == 0);
    bson_destroy(&doc);
}

static void test_jsonl_number_decimal_must_be_valid(void)
{
    REJECTS("{\"_id\": 1, \"d\": {\"$numberDecimal\": \"1.2.3\"}}",
            "$numberDecimal is not a valid decimal128");
    REJECTS("{\"_id\": 1, \"d\": {\"$numberDecimal\": \"\"}}",
            "$numberDecimal");
    REJECTS("{\"_id\": 1, \"d\": {\"$numberDecimal\": \" 1\"}}",
            "$numberDecimal");
    REJECTS("{\"_id\": 1, \"d\": {\"$numberDecimal\": \"NaNx\"}}",
            "$numberDecimal");
    REJECTS("{\"_id\": 1, \"d\": {\"$numberDecimal\": \"1E+9999\"}}",
            "$numberDecimal");
    const char *good[] = {"1", "-0", "1.5E+3", "NaN", "-NaN", "Infinity",
                          "-Infinity", "Inf", "0.000001234",
                          "9.999999999999999999999999999999999E+6144"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"_id\": 1, \"d\": {\"$numberDecimal\": \"%s\"}}", good[i]);
        ACCEPTS(line);
    }
    ACCEPTS("{\"_id\": 1, \"d\": {\"$numberDecimal\": \"\\u0031\"}}");
}

/* The BSON of line, which must be accepted; compared with want[0..n). */
static void accepts_as(const char *line, const uint8_t *want, size_t n)
{
    bson_t doc;
    bool del;
    char why[512];
    if (wri_json_line_parse(line, strlen(line), &doc, &del, why,
                            sizeof why) != WR_OK) {
        TAP_FAIL("refused: %s: %s", line, why);
        return;
    }
    if (doc.len != n || memcmp(bson_get_data(&doc), want, n) != 0) {
        char *h = hex_of(&doc);
        TAP_FAIL("%s: got %s", line, h);
        free(h);
    }
    bson_destroy(&doc);
}

static void test_jsonl_code_with_embedded_nul(void)
{
    /* the builder keeps the NUL (libbson would cut "ab\0cd" to "ab") */
    static const uint8_t code[] = {
        27, 0, 0, 0, 0x10, '_', 'i', 'd', 0, 1, 0, 0, 0,
        0x0D, 'c', 0, 6, 0, 0, 0, 'a', 'b', 0, 'c', 'd', 0, 0};
    accepts_as("{\"_id\": 1, \"c\": {\"$code\": \"ab\\u0000cd\"}}", code,
               sizeof code);
    static const uint8_t cws[] = {
        33, 0, 0, 0, 0x10, '_', 'i', 'd', 0, 1, 0, 0, 0,
        0x0F, 'c', 0, 16, 0, 0, 0, 3, 0, 0, 0, 'a', 0, 0, 5, 0, 0, 0, 0,
        0};
    accepts_as("{\"_id\": 1, \"c\": {\"$code\": \"a\\u0000\", \"$scope\": {}}}",
               cws, sizeof cws);
    /* the same string where the line goes to libbson's parser (the
     * builder leaves it the $type query operator): refused, not cut */
    REJECTS("{\"_id\": 1, \"c\": {\"$code\": \"a\\u0000\"}, "
            "\"t\": {\"$type\": \"string\"}}",
            "\\u0000");
    REJECTS("{\"_id\": 1, \"c\": {\"$scope\": {}, \"$code\": \"a\\u0000\"}}",
            "\\u0000");
    REJECTS("{\"_id\": 1, \"p\": {\"$dbPointer\": {\"$ref\": \"a\\u0000b\", "
            "\"$id\": {\"$oid\": \"56e1fc72e0c917e9c4714161\"}}}}",
            "\\u0000");
    /* plain strings and symbols keep their NULs */
    ACCEPTS("{\"_id\": 1, \"s\": \"ab\\u0000cd\"}");
    ACCEPTS("{\"_id\": 1, \"c\": {\"$code\": \"abcd\"}}");
}

static void test_jsonl_other_silently_changed_wrappers(void)
{
    /* libbson 1.23.1 stores each of these as something else */
    REJECTS("{\"_id\": 1, \"d\": {\"$numberDouble\": \"1.0x\"}}",
            "$numberDouble is not a number");
    REJECTS("{\"_id\": 1, \"d\": {\"$numberDouble\": \"\"}}",
            "$numberDouble");
    REJECTS("{\"_id\": 1, \"d\": {\"$numberDouble\": \"0x10\"}}",
            "$numberDouble");
    REJECTS("{\"_id\": 1, \"d\": {\"$numberDouble\": \" 1.0\"}}",
            "$numberDouble");
    REJECTS("{\"_id\": 1, \"u\": {\"$uuid\": "
            "\"73ffd264-44b3-4c69-90e8-e7d1dfc035dz\"}}",
            "$uuid is not 8-4-4-4-12 hex digits");
    REJECTS("{\"_id\": 1, \"r\": {\"$regularExpression\": {\"pattern\": "
            "\"a\", \"options\": \"iq\"}}}",
            "option 'q' is not one of ilmsux");
    REJECTS("{\"_id\": 1, \"r\": {\"$regex\": \"a\", \"$options\": \"z\"}}",
            "not one of ilmsux");
    REJECTS("{\"_id\": 1, \"t\": {\"$timestamp\": {\"t\": 4294967296, "
            "\"i\": 1}}}",
            "$timestamp t and i must be integers");
    REJECTS("{\"_id\": 1, \"t\": {\"$timestamp\": {\"t\": 1, "
            "\"i\": 99999999999}}}",
            "$timestamp t and i");
    REJECTS("{\"_id\": 1, \"x\": {\"$undefined\": false}}",
            "$undefined must be true");
    /* and their good forms, and look-alike keys outside the wrappers */
    ACCEPTS("{\"_id\": 1, \"d\": {\"$numberDouble\": \"-1.5E+300\"}}");
    ACCEPTS("{\"_id\": 1, \"d\": {\"$numberDouble\": \"-Infinity\"}}");
    ACCEPTS("{\"_id\": 1, \"u\": {\"$uuid\": "
            "\"73ffd264-44b3-4c69-90e8-e7d1dfc035d4\"}}");
    ACCEPTS("{\"_id\": 1, \"r\": {\"$regularExpression\": {\"pattern\": "
            "\"a\", \"options\": \"imsx\"}}}");
    ACCEPTS("{\"_id\": 1, \"t\": {\"$timestamp\": {\"t\": 4294967295, "
            "\"i\": 0}}}");
    ACCEPTS("{\"_id\": 1, \"options\": \"zzz\", \"t\": 99999999999, "
            "\"v\": {\"options\": \"q\", \"i\": -1}}");
    ACCEPTS("{\"_id\": 1, \"x\": {\"$undefined\": true}}");
}

static void test_jsonl_key_with_nul_refused(void)
{
    REJECTS("{\"_id\": 35, \"a\\u0000b\": 1}", "key contains \\u0000");
    REJECTS("{\"_id\": 1, \"v\": {\"b\\u0000\": 1}}", "key contains");
}

static void test_jsonl_missing_or_bad_id(void)
{
    REJECTS("{\"a\": 1}", "missing _id");
    REJECTS("{}", "missing _id");
    REJECTS("{\"v\": {\"_id\": 1}}", "missing _id");
    REJECTS("{\"_id\": [1, 2]}", "_id must not be an array");
    REJECTS("{\"_id\": {\"$undefined\": true}}", "_id must not be undefined");
    REJECTS("{\"_id\": {\"$regularExpression\": {\"pattern\": \"a\", "
            "\"options\": \"\"}}}",
            "_id must not be a regular expression");
    REJECTS("{\"_id\": 1, \"_id\": 2}", "_id appears 2 times");
    ACCEPTS("{\"_id\": {\"a\": 1}}");
    ACCEPTS("{\"_id\": null}");
    ACCEPTS("{\"a\": 1, \"_id\": \"x\"}");
}

static void test_jsonl_deleted_line(void)
{
    bson_t doc;
    bool del = false;
    char why[256];
    const char *line = "{\"_id\": {\"$oid\": \"56e1fc72e0c917e9c4714161\"}, "
                       "\"$deleted\": true}";
    REQUIRE(wri_json_line_parse(line, strlen(line), &doc, &del, why,
                                sizeof why) == WR_OK);
    CHECK(del);
    CHECK_EQ(bson_count_keys(&doc), 1);
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &doc, "_id") && BSON_ITER_HOLDS_OID(&it));
    bson_destroy(&doc);
    /* $deleted first, other fields ignored */
    line = "{\"$deleted\": true, \"x\": 1, \"_id\": 7}";
    REQUIRE(wri_json_line_parse(line, strlen(line), &doc, &del, why,
                                sizeof why) == WR_OK);
    CHECK(del);
    CHECK_EQ(bson_count_keys(&doc), 1);
    CHECK(bson_iter_init_find(&it, &doc, "_id") && bson_iter_int32(&it) == 7);
    bson_destroy(&doc);
    line = "{\"_id\": 7, \"x\": 1}";
    REQUIRE(wri_json_line_parse(line, strlen(line), &doc, &del, why,
                                sizeof why) == WR_OK);
    CHECK(!del);
    bson_destroy(&doc);
    REJECTS("{\"_id\": 7, \"$deleted\": false}", "$deleted must be true");
    REJECTS("{\"_id\": 7, \"$deleted\": 1}", "$deleted must be true");
    REJECTS("{\"$deleted\": true}", "missing _id");
    REJECTS("{\"_id\": 7, \"$deleted\": true, \"$deleted\": false}",
            "$deleted appears 2 times");
    /* escaped spellings of the keys count too */
    REJECTS("{\"_id\": 7, \"\\u005fid\": 8}", "_id appears 2 times");
    line = "{\"\\u005fid\": 7, \"\\u0024deleted\": true}";
    REQUIRE(wri_json_line_parse(line, strlen(line), &doc, &del, why,
                                sizeof why) == WR_OK);
    CHECK(del);
    bson_destroy(&doc);
}

static void test_jsonl_legacy_date_number(void)
{
    bson_t doc;
    bool del;
    char why[256];
    const char *line = "{\"_id\": {\"$date\": 1234}}";
    REQUIRE(wri_json_line_parse(line, strlen(line), &doc, &del, why,
                                sizeof why) == WR_OK);
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &doc, "_id") &&
          BSON_ITER_HOLDS_DATE_TIME(&it) && bson_iter_date_time(&it) == 1234);
    bson_destroy(&doc);
    ACCEPTS("{\"_id\": 1, \"a\": {\"$date\": 631238400000}}");
    ACCEPTS("{\"_id\": 1, \"a\": {\"$date\": {\"$numberLong\": \"5\"}}}");
    ACCEPTS("{\"_id\": 1, \"a\": {\"$date\": \"2020-01-01T00:00:00Z\"}}");
}

static void test_jsonl_strict_json_details(void)
{
    REJECTS("{\"_id\": 7, \"v\": {\"a\": 1,}}", "trailing comma before '}'");
    REJECTS("{\"_id\": 8, \"v\": [1, 2,]}", "trailing comma before ']'");
    REJECTS("{'_id': 9}", "double quotes");
    REJECTS("{_id: 10}", "expected a quoted key");
    REJECTS("{\"_id\": 15, \"v\": 01}", "leading zero");
    REJECTS("{\"_id\": 19, \"v\": +1}", "expected a value");
    REJECTS("{\"_id\": 20, \"v\": .5}", "expected a value");
    REJECTS("{\"_id\": 1, \"v\": 1.}", "no digit after");
    REJECTS("{\"_id\": 1, \"v\": 1e}", "bad exponent");
    REJECTS("{\"_id\": 23, \"v\": \"\\x41\"}", "invalid escape");
    REJECTS("{\"_id\": 24, \"v\": \"\\u12\"}", "four hex digits");
    REJECTS("{\"_id\": 25, \"v\": \"a\tb\"}", "raw control character 0x09");
    REJECTS("{\"_id\": 28, \"v\": \"\xC3\"}", "invalid UTF-8");
    REJECTS("{\"_id\": 28, \"v\": \"\xC0\x80\"}", "invalid UTF-8");
    REJECTS("{\"_id\": 28, \"v\": \"\xED\xA0\x80\"}", "invalid UTF-8");
    REJECTS("{\"_id\": 28, \"v\": \"\xF4\x90\x80\x80\"}", "invalid UTF-8");
    REJECTS("{\"_id\": 33, \"v\": \"\\ud800\"}", "lone high surrogate");
    REJECTS("{\"_id\": 34, \"v\": \"\\udc00\"}", "lone low surrogate");
    REJECTS("{\"_id\": 22, \"v\": \"abc}", "unterminated string");
    REJECTS("{\"_id\": 2, \"v\": {\"a\": 1}", "unclosed object");
    REJECTS("{\"_id\" 13}", "expected ':'");
    REJECTS("{\"_id\": 14, \"v\": }", "expected a value before '}'");
    REJECTS("{\"_id\": 1, \"v\": tru}", "expected true");
    REJECTS("{\"_id\": 1, \"v\": 123456789012345678901234567890}",
            "invalid Extended JSON");
    ACCEPTS("{\"_id\": 1, \"v\": \"\\ud83d\\ude39 \xF0\x9F\x98\xB9 "
            "\xE2\x82\xAC\"}");
    ACCEPTS("{\"_id\":1,\"v\":[-0.5e-3,0,1E+2,-0,true,false,null,\"\\/\"]}");
}

static void test_jsonl_nesting_limit(void)
{
    /* 98 containers parse (the limit libbson itself can handle); 99 do
     * not; a huge depth is refused without recursion. */
    for (int depth = 97; depth <= 99; depth++) {
        size_t cap = 64 + (size_t)depth * 2;
        char *line = malloc(cap);
        size_t o = (size_t)snprintf(line, cap, "{\"_id\":1,\"v\":");
        for (int i = 1; i < depth; i++)
            line[o++] = '[';
        line[o++] = '1';
        for (int i = 1; i < depth; i++)
            line[o++] = ']';
        line[o++] = '}';
        line[o] = '\0';
        if (depth <= 98)
            ACCEPTS(line);
        else
            REJECTS(line, "nested deeper than 98 levels");
        free(line);
    }
    size_t big = 1u << 20;
    char *line = malloc(big + 32);
    size_t o = (size_t)snprintf(line, 32, "{\"_id\":1,\"v\":");
    memset(line + o, '[', big);
    line[o + big] = '\0';
    REJECTS(line, "nested deeper");
    free(line);
}

/* --- the reader ------------------------------------------------------- */

/* Read every line of path: counts of good lines, deletes and bad lines;
 * the message of the first bad line in first_bad. */
typedef struct read_result {
    int rc_open;
    int good, deletes, bad, io;
    uint64_t bytes_read, bytes_total;
    char first_bad[1024];
    uint64_t first_bad_line;
    bool last_torn;
} read_result;

static read_result read_all(const char *path, size_t max_line)
{
    read_result res;
    memset(&res, 0, sizeof res);
    wr_errbuf eb;
    wr_errbuf_clear(&eb);
    wri_jsonl *r = NULL;
    res.rc_open = wri_jsonl_open(path, &r, &eb);
    if (res.rc_open != WR_OK) {
        snprintf(res.first_bad, sizeof res.first_bad, "%s", eb.msg);
        return res;
    }
    if (max_line > 0)
        wri_jsonl_set_max_line(r, max_line);
    res.bytes_total = wri_jsonl_bytes_total(r);
    wri_jsonl_line line;
    for (;;) {
        wr_errbuf_clear(&eb);
        int rc = wri_jsonl_next(r, &line, &eb);
        if (rc == 1)
            break;
        res.last_torn = line.torn;
        if (rc == WR_OK) {
            res.good++;
            res.deletes += line.is_delete;
        } else if (rc == WR_EBADINPUT) {
            if (res.bad++ == 0) {
                snprintf(res.first_bad, sizeof res.first_bad, "%s", eb.msg);
                res.first_bad_line = line.lineno;
            }
        } else {
            res.io++;
            break;
        }
    }
    res.bytes_read = wri_jsonl_bytes_read(r);
    wri_jsonl_close(r);
    return res;
}

static void test_jsonl_reader_crlf_and_blank_lines(void)
{
    const char data[] = "\r\n{\"_id\": 1}\r\n\n   \t\r\n{\"_id\": 2}\n\n"
                        "{\"_id\": 3, \"$deleted\": true}\r\n  \n";
    const char *path = write_tmp("crlf.jsonl", data, sizeof data - 1);
    read_result res = read_all(path, 0);
    CHECK_EQ(res.rc_open, WR_OK);
    CHECK_EQ(res.good, 3);
    CHECK_EQ(res.deletes, 1);
    CHECK_EQ(res.bad, 0);
    CHECK_EQ(res.bytes_total, sizeof data - 1);
    CHECK_EQ(res.bytes_read, sizeof data - 1);
    CHECK(!res.last_torn);
    /* the text excludes "\r\n" and positions are right */
    wr_errbuf eb;
    wr_errbuf_clear(&eb);
    wri_jsonl *r = NULL;
    wri_jsonl_line line;
    REQUIRE_OK(wri_jsonl_open(path, &r, &eb), &eb);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    CHECK_EQ(line.lineno, 2);
    CHECK_EQ(line.offset, 2);
    CHECK_EQ(line.len, 10);
    CHECK(memcmp(line.text, "{\"_id\": 1}", 10) == 0);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    CHECK_EQ(line.lineno, 5);
    CHECK_EQ(line.offset, 21);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    CHECK_EQ(line.lineno, 7);
    CHECK(line.is_delete);
    CHECK_EQ(wri_jsonl_next(r, &line, &eb), 1);
    CHECK_EQ(wri_jsonl_next(r, &line, &eb), 1);
    wri_jsonl_close(r);
    /* an empty file and a blank-only file have no lines */
    res = read_all(write_tmp("empty.jsonl", "", 0), 0);
    CHECK_EQ(res.good + res.bad + res.io, 0);
    res = read_all(write_tmp("blank.jsonl", "\n \r\n\t", 5), 0);
    CHECK_EQ(res.good + res.bad + res.io, 0);
}

static void test_jsonl_reader_torn_last_line(void)
{
    /* good: a normal line, flagged torn */
    const char good[] = "{\"_id\": 1}\n{\"_id\": 2}";
    wr_errbuf eb;
    wr_errbuf_clear(&eb);
    wri_jsonl *r = NULL;
    wri_jsonl_line line;
    REQUIRE_OK(wri_jsonl_open(write_tmp("torn1.jsonl", good, sizeof good - 1),
                              &r, &eb),
               &eb);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    CHECK(!line.torn);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    CHECK(line.torn);
    CHECK_EQ(line.lineno, 2);
    CHECK_EQ(line.offset, 11);
    CHECK_EQ(wri_jsonl_next(r, &line, &eb), 1);
    wri_jsonl_close(r);
    /* bad: WR_EBADINPUT with torn set, then the end */
    const char bad[] = "{\"_id\": 1}\r\n{\"_id\": 2, \"v\": [1, 2";
    r = NULL;
    REQUIRE_OK(wri_jsonl_open(write_tmp("torn2.jsonl", bad, sizeof bad - 1),
                              &r, &eb),
               &eb);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    CHECK(!line.torn);
    CHECK_EQ(wri_jsonl_next(r, &line, &eb), WR_EBADINPUT);
    CHECK(line.torn);
    CHECK_EQ(line.lineno, 2);
    CHECK_EQ(line.offset, 12);
    CHECK(strstr(eb.msg, "line 2 (byte 12)") != NULL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_jsonl_next(r, &line, &eb), 1);
    CHECK_EQ(wri_jsonl_bytes_read(r), sizeof bad - 1);
    wri_jsonl_close(r);
}

static void test_jsonl_reader_messages_name_line_and_byte(void)
{
    const char data[] = "{\"_id\": 1}\n\n{\"_id\": 2, \"v\": NaN}\n"
                        "{\"_id\": 3}\n{\"a\": 1}\n";
    const char *path = write_tmp("msgs.jsonl", data, sizeof data - 1);
    wr_errbuf eb;
    wr_errbuf_clear(&eb);
    wri_jsonl *r = NULL;
    wri_jsonl_line line;
    REQUIRE_OK(wri_jsonl_open(path, &r, &eb), &eb);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    CHECK_EQ(wri_jsonl_next(r, &line, &eb), WR_EBADINPUT);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want,
             "%s: line 3 (byte 12): column 17: NaN is not valid JSON", path);
    if (strcmp(eb.msg, want) != 0)
        TAP_FAIL("message \"%s\", want \"%s\"", eb.msg, want);
    CHECK(!line.torn);
    CHECK_EQ(line.len, 20);
    /* the caller may go on after a bad line */
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    CHECK_EQ(line.lineno, 4);
    CHECK_EQ(wri_jsonl_next(r, &line, &eb), WR_EBADINPUT);
    snprintf(want, sizeof want, "%s: line 5 (byte 44): missing _id", path);
    if (strcmp(eb.msg, want) != 0)
        TAP_FAIL("message \"%s\", want \"%s\"", eb.msg, want);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_jsonl_next(r, &line, &eb), 1);
    wri_jsonl_close(r);
}

static void test_jsonl_reader_open_errors(void)
{
    wr_errbuf eb;
    wr_errbuf_clear(&eb);
    wri_jsonl *r = NULL;
    const char *path = tmp_path("does-not-exist.jsonl");
    CHECK_EQ(wri_jsonl_open(path, &r, &eb), WR_ENOTFOUND);
    CHECK(r == NULL);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s: cannot open: %s", path, strerror(ENOENT));
    CHECK(strcmp(eb.msg, want) == 0);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_jsonl_open(tap_tmpdir(), &r, &eb), WR_EIO);
    CHECK(strstr(eb.msg, "cannot open") != NULL);
}

static void test_jsonl_reader_stdin(void)
{
    const char data[] = "{\"_id\": 1}\n{\"_id\": 2, \"v\": [}\n";
    const char *path = write_tmp("stdin.jsonl", data, sizeof data - 1);
    int saved = dup(0);
    int fd = open(path, O_RDONLY);
    REQUIRE(saved >= 0 && fd >= 0);
    dup2(fd, 0);
    close(fd);
    read_result res = read_all("-", 0);
    dup2(saved, 0);
    close(saved);
    CHECK_EQ(res.rc_open, WR_OK);
    CHECK_EQ(res.good, 1);
    CHECK_EQ(res.bad, 1);
    CHECK(strncmp(res.first_bad, "<stdin>: line 2 (byte 11): ", 27) == 0);
}

static void test_jsonl_reader_15_mib_line(void)
{
    size_t big = 15u << 20;
    size_t cap = big + 256;
    char *data = malloc(cap);
    size_t o = (size_t)snprintf(data, cap, "{\"_id\": 1}\n{\"_id\": 2, \"v\": \"");
    memset(data + o, 'x', big);
    o += big;
    o += (size_t)snprintf(data + o, cap - o, "\"}\r\n{\"_id\": 3}\n");
    const char *path = write_tmp("big.jsonl", data, o);
    free(data);
    wr_errbuf eb;
    wr_errbuf_clear(&eb);
    wri_jsonl *r = NULL;
    wri_jsonl_line line;
    REQUIRE_OK(wri_jsonl_open(path, &r, &eb), &eb);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    CHECK_EQ(line.lineno, 2);
    CHECK_EQ(line.offset, 11);
    bson_iter_t it;
    uint32_t slen = 0;
    CHECK(bson_iter_init_find(&it, &line.doc, "v") &&
          bson_iter_utf8(&it, &slen) != NULL && slen == big);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    CHECK_EQ(line.lineno, 3);
    CHECK_EQ(wri_jsonl_next(r, &line, &eb), 1);
    CHECK_EQ(wri_jsonl_bytes_read(r), o);
    wri_jsonl_close(r);
    unlink(path);
}

static void test_jsonl_reader_overlong_line_skipped(void)
{
    /* With a 2 MiB limit, a 3 MiB line is refused and skipped without
     * being held whole; the next line still parses. */
    size_t big = 3u << 20;
    size_t cap = big + 256;
    char *data = malloc(cap);
    size_t o = (size_t)snprintf(data, cap, "{\"_id\": 1}\n{\"_id\": 2, \"v\": \"");
    memset(data + o, 'x', big);
    o += big;
    o += (size_t)snprintf(data + o, cap - o, "\"}\n{\"_id\": 3}\n");
    const char *path = write_tmp("long.jsonl", data, o);
    read_result res = read_all(path, 2u << 20);
    CHECK_EQ(res.good, 2);
    CHECK_EQ(res.bad, 1);
    CHECK_EQ(res.first_bad_line, 2);
    CHECK(strstr(res.first_bad, "line 2 (byte 11): line is longer than") !=
          NULL);
    CHECK_EQ(res.bytes_read, o);
    /* a short limit is enforced on lines found within the buffer too */
    res = read_all(path, 100);
    CHECK_EQ(res.good, 2);
    CHECK_EQ(res.bad, 1);
    /* an overlong torn last line */
    o -= strlen("\n{\"_id\": 3}\n");
    path = write_tmp("long2.jsonl", data, o);
    res = read_all(path, 2u << 20);
    CHECK_EQ(res.good, 1);
    CHECK_EQ(res.bad, 1);
    CHECK(res.last_torn);
    CHECK_EQ(res.bytes_read, o);
    free(data);
    unlink(path);
    unlink(tmp_path("long.jsonl"));
}

static void test_jsonl_treasury_yield_file_accepted(void)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path,
             "%s/real/treasury-yield/yield_historical_in.json", corpora());
    read_result res = read_all(path, 0);
    CHECK_EQ(res.rc_open, WR_OK);
    CHECK_EQ(res.good, 5193);
    CHECK_EQ(res.bad, 0);
    if (res.bad)
        TAP_FAIL("first bad: %s", res.first_bad);
    CHECK_EQ(res.bytes_read, res.bytes_total);
    /* the _id is a date */
    wr_errbuf eb;
    wr_errbuf_clear(&eb);
    wri_jsonl *r = NULL;
    wri_jsonl_line line;
    REQUIRE_OK(wri_jsonl_open(path, &r, &eb), &eb);
    REQUIRE_OK(wri_jsonl_next(r, &line, &eb), &eb);
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &line.doc, "_id") &&
          BSON_ITER_HOLDS_DATE_TIME(&it) &&
          bson_iter_date_time(&it) == 631238400000LL);
    wri_jsonl_close(r); /* destroys line.doc */
}

/* --- randomized mutations --------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void test_jsonl_mutations_never_crash(void)
{
    size_t len, tlen;
    char *data = corpus_file("bson-corpus/valid.jsonl", &len);
    char *tre = corpus_file("real/treasury-yield/yield_historical_in.json",
                            &tlen);
    REQUIRE(data != NULL && tre != NULL);
    char **lines, **tlines;
    size_t *lens, *tlens;
    size_t n = split_lines(data, len, &lines, &lens);
    size_t tn = split_lines(tre, tlen, &tlines, &tlens);
    static const char interesting[] = "{}[]\",:\\/0123456789eE.-+$ \t\r\n"
                                      "tfnu\x00\x7f\x80\xC3\xED\xF4\xFF";
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    int accepted = 0;
    const char *env = getenv("WR_JSONL_MUTATIONS"); /* longer campaigns */
    const int iters = env != NULL ? atoi(env) : 40000;
    for (int it = 0; it < iters; it++) {
        const char *src;
        size_t sl;
        if (rng() % 4 == 0) {
            size_t k = rng() % WRI_MIN(tn, (size_t)500);
            src = tlines[k];
            sl = tlens[k];
        } else {
            size_t k = rng() % n;
            src = lines[k];
            sl = lens[k];
        }
        if (sl >= cap / 2)
            continue;
        memcpy(buf, src, sl);
        int muts = 1 + (int)(rng() % 3);
        for (int m = 0; m < muts && sl > 0; m++) {
            size_t at = rng() % sl;
            uint8_t b = rng() % 2 ? (uint8_t)interesting[rng() %
                                                         (sizeof interesting -
                                                          1)]
                                  : (uint8_t)rng();
            switch (rng() % 5) {
            case 0: /* flip a bit */
                buf[at] ^= (char)(1u << (rng() % 8));
                break;
            case 1: /* overwrite */
                buf[at] = (char)b;
                break;
            case 2: /* insert */
                memmove(buf + at + 1, buf + at, sl - at);
                buf[at] = (char)b;
                sl++;
                break;
            case 3: /* delete */
                memmove(buf + at, buf + at + 1, sl - at - 1);
                sl--;
                break;
            default: { /* duplicate a chunk */
                char chunk[16];
                size_t from = rng() % sl;
                size_t k = WRI_MIN((size_t)(rng() % 16), sl - from);
                memcpy(chunk, buf + from, k);
                memmove(buf + at + k, buf + at, sl - at);
                memcpy(buf + at, chunk, k);
                sl += k;
                break;
            }
            }
        }
        char why[512];
        bson_t doc;
        bool del;
        int rc = wri_json_line_parse(buf, sl, &doc, &del, why, sizeof why);
        if (rc != WR_OK) {
            CHECK_EQ(rc, WR_EBADINPUT);
            continue;
        }
        accepted++;
        size_t off;
        if (!bson_validate(&doc, BSON_VALIDATE_UTF8 |
                                     BSON_VALIDATE_UTF8_ALLOW_NULL, &off))
            TAP_FAIL("accepted but invalid BSON: %.*s", (int)sl, buf);
        bson_destroy(&doc);
        /* what is accepted or refused, and why, is what the former path
         * (strict scan, then libbson's parser) makes of the line */
        char msg[1200];
        if (wr_ejson_diff(buf, sl, msg, sizeof msg) == WR_EJ_DIFFER)
            TAP_FAIL("%s: %.*s", msg, (int)sl, buf);
    }
    printf("# mutations: %d of %d accepted (valid BSON, as libbson parses "
           "them)\n",
           accepted, iters);
    free(buf);
    free(lines);
    free(lens);
    free(tlines);
    free(tlens);
    free(data);
    free(tre);
}

/* wr_ejson_diff over every line of a file; counts into n[3] (same,
 * libbson wrong, differ) and the builder's own deferrals into *defer. */
static void diff_file(const char *path, long n[3], long *defer)
{
    size_t len;
    char *data = slurp(path, &len);
    if (data == NULL) {
        TAP_FAIL("cannot read %s", path);
        return;
    }
    char **lines;
    size_t *lens;
    size_t k = split_lines(data, len, &lines, &lens);
    for (size_t i = 0; i < k; i++) {
        char msg[1200], why[512];
        bson_t doc;
        bool del;
        int r = wr_ejson_diff(lines[i], lens[i], msg, sizeof msg);
        n[r == WR_EJ_SAME ? 0 : r == WR_EJ_LIBBSON_WRONG ? 1 : 2]++;
        if (r == WR_EJ_DIFFER)
            TAP_FAIL("%s line %zu: %s", path, i + 1, msg);
        r = wri_json_line_parse_mode(lines[i], lens[i], &doc, &del, why,
                                     sizeof why, WRI_JSON_BUILDER_ONLY);
        if (r == WR_OK)
            bson_destroy(&doc);
        *defer += r == WR_ENOTSUP;
    }
    free(lines);
    free(lens);
    free(data);
}

static void test_jsonl_builder_matches_libbson_on_corpora(void)
{
    static const struct {
        const char *rel;
        long lines, wrong, defer; /* libbson wrong; left to libbson */
    } files[] = {
        /* defers: 2 $type query operators, 3 $dbPointer, and the
         * all-types document (a $dbPointer in it) */
        {"bson-corpus/valid.jsonl", 728, 4, 6},
        {"bson-corpus/valid_relaxed.jsonl", 27, 0, 0},
        /* 1 $dbPointer */
        {"bson-corpus/valid_degenerate.jsonl", 325, 0, 1},
        {"bson-corpus/parse_errors.jsonl", 237, 0, -1},
        {"real/treasury-yield/yield_historical_in.json", 5193, 0, 0},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[PATH_MAX + 64];
        long n[3] = {0, 0, 0}, defer = 0;
        snprintf(path, sizeof path, "%s/%s", corpora(), files[i].rel);
        diff_file(path, n, &defer);
        printf("# %s: %ld same, %ld libbson wrong, %ld differ; %ld left to "
               "libbson\n", files[i].rel, n[0], n[1], n[2], defer);
        CHECK_EQ(n[0] + n[1] + n[2], files[i].lines);
        CHECK_EQ(n[1], files[i].wrong);
        CHECK_EQ(n[2], 0);
        if (files[i].defer >= 0)
            CHECK_EQ(defer, files[i].defer);
    }
}

/* testdata/ejson-edge.jsonl: hand-made lines at the edges of every
 * wrapper (dates, integers, base64, subtypes, key orders, escapes,
 * repeated keys, $scope contents, nesting limits). */
static void test_jsonl_builder_matches_libbson_on_edges(void)
{
    long n[3] = {0, 0, 0}, defer = 0;
    diff_file("testdata/ejson-edge.jsonl", n, &defer);
    printf("# edges: %ld same, %ld libbson wrong, %ld differ; %ld left to "
           "libbson\n", n[0], n[1], n[2], defer);
    CHECK(n[0] + n[1] + n[2] >= 400);
    CHECK_EQ(n[1], 14); /* $code with \u0000, {"$regex": {...}} */
    CHECK_EQ(n[2], 0);
}

static void suite_diff_one(const char *name, const char *data, size_t len)
{
    size_t wl;
    char *w = wrap_value(data, len, &wl);
    const char *forms[2] = {data, w};
    size_t lens[2] = {len, wl};
    for (int i = 0; i < 2; i++) {
        char msg[1200];
        if (wr_ejson_diff(forms[i], lens[i], msg, sizeof msg) ==
            WR_EJ_DIFFER)
            TAP_FAIL("%s (%s): %s", name, i ? "wrapped" : "raw", msg);
    }
    free(w);
}

static void test_jsonl_builder_matches_libbson_on_json_test_suite(void)
{
    CHECK_EQ(suite_each("y_", suite_diff_one) +
                 suite_each("n_", suite_diff_one) +
                 suite_each("i_", suite_diff_one),
             318);
}

int main(void)
{
    RUN(test_jsonl_json_test_suite_y_accepted);
    RUN(test_jsonl_json_test_suite_n_rejected);
    RUN(test_jsonl_json_test_suite_i_no_crash);
    RUN(test_jsonl_bson_corpus_parse_errors_rejected);
    RUN(test_jsonl_bson_corpus_valid_accepted_and_exact);
    RUN(test_jsonl_bson_corpus_relaxed_and_degenerate_accepted);
    RUN(test_jsonl_two_documents_on_one_line);
    RUN(test_jsonl_nan_and_infinity_literals);
    RUN(test_jsonl_top_level_must_be_an_object);
    RUN(test_jsonl_top_level_wrapper_refused);
    RUN(test_jsonl_oid_must_be_24_hex_digits);
    RUN(test_jsonl_number_decimal_must_be_valid);
    RUN(test_jsonl_code_with_embedded_nul);
    RUN(test_jsonl_other_silently_changed_wrappers);
    RUN(test_jsonl_key_with_nul_refused);
    RUN(test_jsonl_missing_or_bad_id);
    RUN(test_jsonl_deleted_line);
    RUN(test_jsonl_legacy_date_number);
    RUN(test_jsonl_strict_json_details);
    RUN(test_jsonl_nesting_limit);
    RUN(test_jsonl_reader_crlf_and_blank_lines);
    RUN(test_jsonl_reader_torn_last_line);
    RUN(test_jsonl_reader_messages_name_line_and_byte);
    RUN(test_jsonl_reader_open_errors);
    RUN(test_jsonl_reader_stdin);
    RUN(test_jsonl_reader_15_mib_line);
    RUN(test_jsonl_reader_overlong_line_skipped);
    RUN(test_jsonl_treasury_yield_file_accepted);
    RUN(test_jsonl_mutations_never_crash);
    RUN(test_jsonl_builder_matches_libbson_on_corpora);
    RUN(test_jsonl_builder_matches_libbson_on_edges);
    RUN(test_jsonl_builder_matches_libbson_on_json_test_suite);
    return tap_done();
}
