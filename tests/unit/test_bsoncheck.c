/*
 * test_bsoncheck.c -- wri_bson_check against the BSON corpus (every valid
 * case accepted, every decodeErrors case refused) and against libbson on
 * mutated documents (never more lenient, never a crash).
 */
#include "tap.h"

#include "wr_int.h"

#include <dirent.h>

static const char *corpus_dir(void)
{
    static char p[512];
    const char *base = getenv("WR_CORPORA");
    snprintf(p, sizeof p, "%s/bson-corpus/tests",
             base ? base : "../shared/corpora");
    return p;
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = strlen(h) / 2;
    if (n > cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            return 0;
        out[i] = (uint8_t)v;
    }
    return n;
}

typedef struct cases {
    uint8_t *buf[2000];
    size_t len[2000];
    char *what[2000];
    size_t n;
} cases;

static void cases_add(cases *c, const char *hex, const char *file,
                      const char *desc)
{
    uint8_t tmp[1 << 16];
    size_t n = unhex(hex, tmp, sizeof tmp);
    if (c->n >= 2000)
        return;
    c->buf[c->n] = malloc(n + 1);
    memcpy(c->buf[c->n], tmp, n);
    c->len[c->n] = n;
    c->what[c->n] = malloc(strlen(file) + strlen(desc) + 3);
    sprintf(c->what[c->n], "%s: %s", file, desc);
    c->n++;
}

/* Collect the hex of every valid case (field "canonical_bson") or every
 * decodeErrors case (field "bson") of every corpus file. */
static void load_cases(cases *c, const char *array, const char *field)
{
    DIR *d = opendir(corpus_dir());
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".json") == NULL)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", corpus_dir(), e->d_name);
        bson_error_t err;
        bson_json_reader_t *r = bson_json_reader_new_from_file(path, &err);
        bson_t doc = BSON_INITIALIZER;
        if (r == NULL)
            continue;
        if (bson_json_reader_read(r, &doc, &err) > 0) {
            bson_iter_t it, arr, one;
            if (bson_iter_init_find(&it, &doc, array) &&
                bson_iter_recurse(&it, &arr)) {
                while (bson_iter_next(&arr)) {
                    bson_iter_t f, ds;
                    if (!bson_iter_recurse(&arr, &one))
                        continue;
                    f = one;
                    ds = one;
                    const char *desc = bson_iter_find(&ds, "description")
                                           ? bson_iter_utf8(&ds, NULL)
                                           : "?";
                    if (bson_iter_find(&f, field) && BSON_ITER_HOLDS_UTF8(&f))
                        cases_add(c, bson_iter_utf8(&f, NULL), e->d_name,
                                  desc);
                }
            }
        }
        bson_destroy(&doc);
        bson_json_reader_destroy(r);
    }
    closedir(d);
}

static void cases_free(cases *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->buf[i]);
        free(c->what[i]);
    }
}

static void test_bsoncheck_accepts_every_valid_corpus_case(void)
{
    static cases c;
    char why[128];
    load_cases(&c, "valid", "canonical_bson");
    REQUIRE(c.n > 300);
    for (size_t i = 0; i < c.n; i++)
        if (wri_bson_check(c.buf[i], c.len[i], NULL, why, sizeof why) !=
            WR_OK)
            TAP_FAIL("%s refused: %s", c.what[i], why);
    printf("# %zu valid cases\n", c.n);
    cases_free(&c);
}

static void test_bsoncheck_refuses_every_decode_error(void)
{
    static cases c;
    load_cases(&c, "decodeErrors", "bson");
    REQUIRE(c.n > 50);
    for (size_t i = 0; i < c.n; i++)
        if (wri_bson_check(c.buf[i], c.len[i], NULL, NULL, 0) == WR_OK)
            TAP_FAIL("%s accepted", c.what[i]);
    printf("# %zu decode errors\n", c.n);
    cases_free(&c);
}

static void test_bsoncheck_utf8_rules(void)
{
    static const struct {
        const char *s;
        size_t n;
        int ok;
    } v[] = {
        {"plain ascii", 11, 1},
        {"caf\xc3\xa9", 5, 1},
        {"\xf0\x9f\x98\x80", 4, 1},      /* U+1F600 */
        {"a\0b", 3, 1},                   /* NUL inside a string */
        {"\xc0\x80", 2, 0},               /* overlong NUL */
        {"\xe0\x80\xaf", 3, 0},           /* overlong '/' */
        {"\xed\xa0\x80", 3, 0},           /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, 0},       /* past U+10FFFF */
        {"\xc3", 1, 0},                   /* cut short */
        {"\x80", 1, 0},                   /* stray continuation */
        {"abcdefgh\xff", 9, 0},           /* after a fast 8-byte run */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        bson_t d = BSON_INITIALIZER;
        bson_append_utf8(&d, "s", 1, v[i].s, (int)v[i].n);
        int rc = wri_bson_check(bson_get_data(&d), d.len, NULL, NULL, 0);
        if ((rc == WR_OK) != v[i].ok)
            TAP_FAIL("case %zu: expected %s", i, v[i].ok ? "ok" : "refused");
        bson_destroy(&d);
    }
}

/* Mutated documents: never a crash; whatever we accept, libbson accepts
 * too (we are the stricter of the two). */
static void test_bsoncheck_mutations_never_more_lenient(void)
{
    static cases c;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int accepted = 0;
    load_cases(&c, "valid", "canonical_bson");
    REQUIRE(c.n > 0);
    for (int round = 0; round < 40000; round++) {
        size_t i = (size_t)(x % c.n);
        size_t n = c.len[i];
        uint8_t *b = malloc(n + 1);
        memcpy(b, c.buf[i], n);
        for (int k = 0; k < 3; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (n > 0)
                b[x % n] ^= (uint8_t)(1u << ((x >> 8) % 8));
        }
        size_t cut = (x >> 20) % 4 == 0 && n > 0 ? (x >> 24) % n : n;
        if (wri_bson_check(b, cut, NULL, NULL, 0) == WR_OK) {
            bson_t d;
            accepted++;
            if (!bson_init_static(&d, b, cut) ||
                !bson_validate(&d, BSON_VALIDATE_UTF8 |
                                       BSON_VALIDATE_UTF8_ALLOW_NULL,
                               NULL))
                TAP_FAIL("round %d: accepted what libbson refuses", round);
        }
        free(b);
    }
    printf("# %d of 40000 mutations accepted\n", accepted);
    cases_free(&c);
}

int main(void)
{
    RUN(test_bsoncheck_accepts_every_valid_corpus_case);
    RUN(test_bsoncheck_refuses_every_decode_error);
    RUN(test_bsoncheck_utf8_rules);
    RUN(test_bsoncheck_mutations_never_more_lenient);
    return tap_done();
}
