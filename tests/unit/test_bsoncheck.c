/*
 * test_bsoncheck.c -- wri_bson_check against the BSON corpus (every valid
 * case accepted, every decodeErrors case refused) and against libbson on
 * mutated documents (never more lenient, never a crash); and
 * wri_ejson_append, the Extended JSON writer, against libbson's on the
 * same corpus, and its fast ways (doubles, strings, integers) against the
 * rules they follow, written here with printf.
 */
#include "tap.h"

#include "wr_int.h"

#include <dirent.h>
#include <math.h>

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

/* The one replacement rule (review4 #5): each byte that starts no valid
 * character (by the check above) becomes U+FFFD, valid ones are kept,
 * and the result passes the check. */
static void test_utf8_replace_marks_each_stray_byte(void)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        {"plain", "plain"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
        {"caf\xe9", "caf\xef\xbf\xbd"},
        {"\xc0\x80x", "\xef\xbf\xbd\xef\xbf\xbdx"},     /* overlong */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"a\xf0\x9f\x98\x80\xc3", "a\xf0\x9f\x98\x80\xef\xbf\xbd"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = 0;
        char *r = wr_utf8_replace(v[i].in, strlen(v[i].in), &n);
        REQUIRE(r != NULL);
        if (strcmp(r, v[i].out) != 0 || n != strlen(v[i].out) ||
            !wri_utf8_check((const uint8_t *)r, n))
            TAP_FAIL("case %zu: got \"%s\"", i, r);
        free(r);
    }
}

/* An element of an unknown type is named at its type byte, not at the
 * key's NUL before its value: { "a": 1, "abcd": <type 0x20> } with the
 * type byte at 11 (plain, fast and memo paths alike, the memo primed
 * with a valid document of the same shape). */
static void test_bsoncheck_unknown_type_names_its_type_byte(void)
{
    bson_t d = BSON_INITIALIZER;
    bson_append_int32(&d, "a", 1, 1);
    bson_append_int32(&d, "abcd", 4, 2);
    uint8_t buf[64];
    memcpy(buf, bson_get_data(&d), d.len);
    size_t len = d.len;
    bson_destroy(&d);
    wri_bson_memo *memo = wri_bson_memo_new();
    size_t off = 0;
    char why[128];
    if (wri_bson_check_memo(memo, buf, len, 0, &off, why, sizeof why) !=
        WR_OK)
        TAP_FAIL("the valid document was refused: %s", why);
    if (buf[11] != 0x10)
        TAP_FAIL("layout: byte 11 is 0x%02x, not int32's type", buf[11]);
    buf[11] = 0x20;
    for (int way = 0; way < 3; way++) {
        int rc = way == 0   ? wri_bson_check_plain(buf, len, &off, why,
                                                   sizeof why)
                 : way == 1 ? wri_bson_check(buf, len, &off, why, sizeof why)
                            : wri_bson_check_memo(memo, buf, len, 0, &off,
                                                  why, sizeof why);
        if (rc != WR_ECORRUPT || off != 11 ||
            strstr(why, "unknown element type") == NULL)
            TAP_FAIL("way %d: rc %d, byte %zu, \"%s\" (want byte 11)", way,
                     rc, off, why);
    }
    wri_bson_memo_free(memo);
}

/* The sixteen- and eight-byte ASCII scans hand over at every position:
 * strings and keys of 1..48 bytes, a bad byte (or a NUL in a key, or a
 * good two-byte character) placed at each offset, are refused (or
 * accepted) with the error at exactly that byte. */
static void test_bsoncheck_utf8_at_every_offset(void)
{
    for (size_t n = 1; n <= 48; n++) {
        for (size_t at = 0; at < n; at++) {
            for (int kind = 0; kind < 4; kind++) {
                char s[64];
                memset(s, 'a', n);
                s[n] = '\0';
                size_t want_ok = kind == 3;
                if (kind == 0 || kind == 2)
                    s[at] = (char)0xff; /* bad lead byte */
                else if (kind == 1)
                    s[at] = (char)0x80; /* stray continuation */
                else if (at + 1 < n)
                    s[at] = (char)0xc3, s[at + 1] = (char)0xa9; /* é */
                else
                    continue;
                bson_t d = BSON_INITIALIZER;
                size_t where; /* the bad byte's offset in the document */
                if (kind == 2) { /* in the key */
                    bson_append_int32(&d, s, (int)n, 1);
                    where = 4 + 1 + at;
                } else {
                    bson_append_utf8(&d, "s", 1, s, (int)n);
                    where = 4 + 1 + 2 + 4 + at;
                }
                size_t off = 0;
                int rc = wri_bson_check(bson_get_data(&d), d.len, &off,
                                        NULL, 0);
                if ((rc == WR_OK) != want_ok || (!want_ok && off != where))
                    TAP_FAIL("n %zu, byte %zu, kind %d: rc %d at %zu, want "
                             "%s at %zu", n, at, kind, rc, off,
                             want_ok ? "ok" : "refused", where);
                bson_destroy(&d);
            }
        }
    }
    /* a NUL inside a key's bytes ends the key: the rest is read as the
     * value, which no longer fits */
    uint8_t doc[] = {19, 0, 0, 0, 0x10, 'k', 'e', 'y', 0, 'x', 0,
                     1, 0, 0, 0, 0, 0, 0, 0};
    CHECK(wri_bson_check(doc, sizeof doc, NULL, NULL, 0) == WR_ECORRUPT);
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

/* The memo every check of same_verdict shares: primed by whatever was
 * checked before, as verify's is by the collection's documents. */
static wri_bson_memo *shared_memo;

/* rc, byte and reason of one way of checking */
typedef struct verdict {
    int rc;
    size_t off;
    char why[128];
} verdict;

static bool verdict_eq(const verdict *a, const verdict *b)
{
    return a->rc == b->rc && a->off == b->off && strcmp(a->why, b->why) == 0;
}

/* The memo's check of b (n bytes) with memo m: the buffer exactly n
 * bytes long (pad 0) or with WRI_BSON_PAD readable bytes after it. */
static verdict memo_verdict(wri_bson_memo *m, const uint8_t *b, size_t n,
                            bool pad)
{
    verdict v = {0};
    uint8_t *copy = malloc(n + (pad ? WRI_BSON_PAD : 0) + 1);
    memcpy(copy, b, n);
    if (pad) /* bytes the check may load, never judge: not BSON */
        memset(copy + n, 0xAB, WRI_BSON_PAD);
    v.rc = wri_bson_check_memo(m, copy, n, pad ? WRI_BSON_PAD : 0, &v.off,
                               v.why, sizeof v.why);
    free(copy);
    return v;
}

/* The fast paths (wri_bson_check), the shape memo with and without pad
 * bytes, and the plain check (wri_bson_check_plain) agree on rc, byte and
 * reason. */
static void same_verdict(const uint8_t *b, size_t n, const char *what,
                         int *disagree)
{
    verdict f = {0}, p = {0}, m0, m1;
    f.rc = wri_bson_check(b, n, &f.off, f.why, sizeof f.why);
    p.rc = wri_bson_check_plain(b, n, &p.off, p.why, sizeof p.why);
    if (shared_memo == NULL)
        shared_memo = wri_bson_memo_new();
    m0 = memo_verdict(shared_memo, b, n, false);
    m1 = memo_verdict(shared_memo, b, n, true);
    if (!verdict_eq(&f, &p) || !verdict_eq(&m0, &p) ||
        !verdict_eq(&m1, &p)) {
        if ((*disagree)++ < 10)
            TAP_FAIL("%s: fast %d \"%s\", memo %d \"%s\", padded %d \"%s\", "
                     "plain %d \"%s\"",
                     what, f.rc, f.why, m0.rc, m0.why, m1.rc, m1.why, p.rc,
                     p.why);
    }
}

/* Documents of this shape (key and string lengths 0..40 at every place
 * against the end of the buffer, ASCII or not, in nested documents and
 * arrays, every fixed-size type) and every corpus case, then random bit
 * flips and cuts of them: the fast paths change nothing but the time. */
static void test_bsoncheck_fast_paths_equal_plain(void)
{
    static cases c;
    int disagree = 0;
    size_t checked = 0;
    uint64_t x = 0x2545F4914F6CDD1Dull;
    load_cases(&c, "valid", "canonical_bson");
    load_cases(&c, "decodeErrors", "bson");
    REQUIRE(c.n > 350);
    /* generated: keys and strings of every length near the buffer's end */
    for (size_t kl = 0; kl <= 40; kl++)
        for (size_t sl = 0; sl <= 40; sl++)
            for (int v = 0; v < 4; v++) {
                char key[64], str[64];
                memset(key, 'k', kl);
                key[kl] = 0;
                memset(str, 's', sl);
                str[sl] = 0;
                if (v == 1 && sl > 1) /* a two-byte character at the end */
                    str[sl - 2] = (char)0xc3, str[sl - 1] = (char)0xa9;
                if (v == 2 && kl > 0) /* a bad byte ending the key */
                    key[kl - 1] = (char)0xff;
                bson_t d = BSON_INITIALIZER, sub;
                if (v == 3) {
                    BSON_APPEND_DOCUMENT_BEGIN(&d, "a", &sub);
                    bson_append_utf8(&sub, key, (int)kl, str, (int)sl);
                    bson_append_bool(&sub, "b", 1, true);
                    bson_append_document_end(&d, &sub);
                } else {
                    bson_append_int32(&d, key, (int)kl, 7);
                    bson_append_utf8(&d, key, (int)kl, str, (int)sl);
                }
                uint8_t b[256];
                memcpy(b, bson_get_data(&d), d.len);
                same_verdict(b, d.len, "generated", &disagree);
                for (int k = 0; k < 8; k++, checked++) { /* one change */
                    uint8_t m[256];
                    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                    memcpy(m, b, d.len);
                    m[x % d.len] ^= (uint8_t)(1u << ((x >> 8) % 8));
                    same_verdict(m, d.len - (k == 7), "generated, changed",
                                 &disagree);
                }
                checked++;
                bson_destroy(&d);
            }
    for (size_t i = 0; i < c.n; i++, checked++)
        same_verdict(c.buf[i], c.len[i], c.what[i], &disagree);
    for (int round = 0; round < 200000; round++, checked++) {
        size_t i = (size_t)(x % c.n), n = c.len[i];
        uint8_t *b = malloc(n + 1);
        memcpy(b, c.buf[i], n);
        for (int k = 0; k < 1 + round % 3; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (n > 0 && (x >> 40) % 4 == 0)
                b[x % n] = (uint8_t)(x >> 16); /* a byte replaced */
            else if (n > 0)
                b[x % n] ^= (uint8_t)(1u << ((x >> 8) % 8));
        }
        size_t cut = (x >> 20) % 4 == 0 && n > 0 ? (x >> 24) % n : n;
        same_verdict(b, cut, c.what[i], &disagree);
        free(b);
    }
    CHECK(disagree == 0);
    printf("# %zu documents, fast, memo and plain agree on %zu (%" PRIu64
           " elements by the memo)\n",
           checked, checked - (size_t)disagree,
           wri_bson_memo_hits(shared_memo));
    CHECK(wri_bson_memo_hits(shared_memo) > 0);
    wri_bson_memo_free(shared_memo);
    shared_memo = NULL;
    cases_free(&c);
}

/* A document shaped like the bench's (and many real collections'):
 * ObjectId _id, ASCII and UTF-8 strings, numbers of every width, a
 * boolean, a null, a date, a nested document holding an array, arrays of
 * strings and of numbers whose lengths vary with i. */
static bson_t *memo_doc(uint32_t i)
{
    static const char *cities[] = {"Oslo", "Kraków", "São Paulo", "Lima"};
    bson_t *d = bson_new(), sub, arr;
    bson_oid_t oid;
    uint8_t raw[12] = {0x5f, 0xee, 0x66, 0x00, 0x64, 0x5e, 0xec, 0xe2,
                       (uint8_t)(i >> 24), (uint8_t)(i >> 16),
                       (uint8_t)(i >> 8), (uint8_t)i};
    char key[16], str[64];
    bson_oid_init_from_data(&oid, raw);
    BSON_APPEND_OID(d, "_id", &oid);
    snprintf(str, sizeof str, "name %u", i * 7919u);
    BSON_APPEND_UTF8(d, "name", str);
    BSON_APPEND_INT32(d, "age", (int32_t)(i % 90));
    BSON_APPEND_BOOL(d, "active", i % 3 != 0);
    BSON_APPEND_DOUBLE(d, "balance", i * 1.25);
    BSON_APPEND_INT64(d, "visits", (int64_t)i * 1000003);
    BSON_APPEND_DATE_TIME(d, "created", (int64_t)i * 86400000);
    BSON_APPEND_DOCUMENT_BEGIN(d, "address", &sub);
    BSON_APPEND_UTF8(&sub, "city", cities[i % 4]);
    BSON_APPEND_ARRAY_BEGIN(&sub, "geo", &arr);
    BSON_APPEND_DOUBLE(&arr, "0", 36.7);
    BSON_APPEND_DOUBLE(&arr, "1", -11.5);
    bson_append_array_end(&sub, &arr);
    bson_append_document_end(d, &sub);
    BSON_APPEND_ARRAY_BEGIN(d, "tags", &arr);
    for (uint32_t k = 0; k < i % 4; k++) {
        snprintf(key, sizeof key, "%u", k);
        BSON_APPEND_UTF8(&arr, key, k % 2 ? "eco" : "café");
    }
    bson_append_array_end(d, &arr);
    if (i % 5 == 0)
        BSON_APPEND_NULL(d, "ref");
    if (i % 7 == 0) /* a number's type changes at its place */
        BSON_APPEND_INT32(d, "version", 1);
    else
        BSON_APPEND_DOUBLE(d, "version", 1.5);
    return d;
}

/* Documents of one shape through one memo (as verify checks a
 * collection), then every byte of one of them changed in several ways,
 * the memo primed by the unchanged document before each change and, in
 * a second pass, by the changed ones too: the memo's verdict, byte and
 * reason are always the plain check's, and the memo did take elements. */
static void test_bsoncheck_memo_equals_plain(void)
{
    wri_bson_memo *m = wri_bson_memo_new();
    int disagree = 0;
    size_t checked = 0;
    REQUIRE(m != NULL);
    for (uint32_t i = 0; i < 400; i++, checked++) {
        bson_t *d = memo_doc(i);
        verdict p = {0}, v = memo_verdict(m, bson_get_data(d), d->len, true);
        p.rc = wri_bson_check_plain(bson_get_data(d), d->len, &p.off, p.why,
                                    sizeof p.why);
        CHECK_EQ(p.rc, WR_OK);
        if (!verdict_eq(&v, &p) && disagree++ < 10)
            TAP_FAIL("document %u: memo %d \"%s\"", i, v.rc, v.why);
        bson_destroy(d);
    }
    uint64_t hits = wri_bson_memo_hits(m);
    printf("# 400 documents of one shape: %" PRIu64 " elements by the memo\n",
           hits);
    CHECK(hits > 400 * 10);
    static const uint8_t flips[] = {0x01, 0x80, 0x20, 0xff};
    for (int pass = 0; pass < 2; pass++) {
        bson_t *d = memo_doc(35); /* a ref, an int32 version, three tags */
        const uint8_t *orig = bson_get_data(d);
        size_t n = d->len;
        uint8_t *b = malloc(n);
        for (size_t at = 0; at < n; at++)
            for (size_t k = 0; k < sizeof flips + 2; k++, checked++) {
                memcpy(b, orig, n);
                if (k < sizeof flips)
                    b[at] ^= flips[k];
                else
                    b[at] = k == sizeof flips ? 0 : (uint8_t)(b[at] + 1);
                if (pass == 0)
                    (void)memo_verdict(m, orig, n, true);
                size_t len = (at + k) % 11 == 0 ? n - 1 - at % 7 : n;
                verdict p = {0};
                p.rc = wri_bson_check_plain(b, len, &p.off, p.why,
                                            sizeof p.why);
                for (int pad = 0; pad < 2; pad++) {
                    verdict v = memo_verdict(m, b, len, pad);
                    if (!verdict_eq(&v, &p) && disagree++ < 10)
                        TAP_FAIL("pass %d, byte %zu change %zu, %zu bytes: "
                                 "memo %d \"%s\" (pad %d), plain %d \"%s\"",
                                 pass, at, k, len, v.rc, v.why, pad, p.rc,
                                 p.why);
                }
            }
        free(b);
        bson_destroy(d);
    }
    CHECK(disagree == 0);
    printf("# %zu documents, memo and plain agree\n", checked);
    wri_bson_memo_free(m);
}

/* One string's bytes for test_bsoncheck_memo_strings_equal_plain: len
 * bytes of pieces drawn by x (a piece cut at the end is a sequence cut
 * short); valid pieces only when good. */
static void memo_string(uint8_t *str, size_t len, bool good, uint64_t *x)
{
    static const struct {
        const char *s;
        size_t n;
    } pieces[] = {
        /* valid: ASCII, NUL, two-byte sequences and their edges */
        {"a", 1}, {"Z", 1}, {"\x00", 1}, {"\xc3\xa9", 2}, {"\xc2\x80", 2},
        {"\xdf\xbf", 2},
        /* valid, taken by bc_utf8: three- and four-byte sequences */
        {"\xe2\x82\xac", 3}, {"\xf0\x9f\x98\x80", 4},
        /* faults: overlong leads, lone continuations, a lead alone,
         * surrogates, past U+10FFFF, never UTF-8, overlong three bytes */
        {"\xc0\x80", 2}, {"\xc1\xbf", 2}, {"\x80", 1}, {"\xbf", 1},
        {"\xc3", 1}, {"\xed\xa0\x80", 3}, {"\xf4\x90\x80\x80", 4},
        {"\xff", 1}, {"\xe0\x80\x80", 3},
    };
    size_t n = 0;
    while (n < len) {
        *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
        size_t k = (size_t)(*x % (good ? 8 : sizeof pieces / sizeof *pieces));
        if (k < 6 && (*x >> 32) % 3 != 0)
            k = 0; /* mostly ASCII, as text is */
        size_t take = WRI_MIN(pieces[k].n, len - n);
        memcpy(str + n, pieces[k].s, take);
        n += take;
    }
}

/* Strings of every length 0..70 at a place the memo knows (their bytes
 * ASCII, NUL, two-, three- and four-byte sequences, their edges, and
 * every kind of fault), far from the buffer's end (taken by the memo
 * without a branch on their length) and last in the document (taken the
 * general way), their length fields off by one and worse: the memo's
 * verdict, byte and reason are the plain check's. */
static void test_bsoncheck_memo_strings_equal_plain(void)
{
    wri_bson_memo *m = wri_bson_memo_new();
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int disagree = 0;
    size_t checked = 0, bad = 0;
    char filler[100];
    REQUIRE(m != NULL);
    memset(filler, 'z', sizeof filler);
    for (size_t len = 0; len <= 70; len++)
        for (int v = 0; v < 60; v++)
            for (int last = 0; last < 2; last++) {
                uint8_t str[80];
                memo_string(str, len, v % 3 != 0, &x);
                bson_t d = BSON_INITIALIZER;
                BSON_APPEND_INT32(&d, "a", 1);
                bson_append_utf8(&d, "s", 1, (const char *)str, (int)len);
                if (!last)
                    bson_append_utf8(&d, "z", 1, filler, sizeof filler);
                size_t n = d.len;
                uint8_t b[256];
                memcpy(b, bson_get_data(&d), n);
                bson_destroy(&d);
                /* the string's length field (after 4 + 7 + 3 bytes) */
                for (int k = 0; k < 6; k++, checked++) {
                    static const int32_t moved[] = {0, 1, -1, 2, -70, 0};
                    uint8_t c[256];
                    memcpy(c, b, n);
                    int32_t sl = (int32_t)wri_get32(c + 14);
                    sl = k == 5 ? INT32_MIN : sl + moved[k];
                    wri_put32(c + 14, (uint32_t)sl);
                    verdict p = {0};
                    p.rc = wri_bson_check_plain(c, n, &p.off, p.why,
                                                sizeof p.why);
                    bad += p.rc != WR_OK;
                    for (int pad = 0; pad < 2; pad++) {
                        /* primed: this shape's "s" accepted before */
                        const uint8_t prime[] = {
                            20, 0, 0, 0, 0x10, 'a', 0, 1, 0, 0, 0,
                            0x02, 's', 0, 2, 0, 0, 0, 'x', 0};
                        (void)memo_verdict(m, prime, sizeof prime, true);
                        verdict mv = memo_verdict(m, c, n, pad);
                        if (!verdict_eq(&mv, &p) && disagree++ < 10)
                            TAP_FAIL("string of %zu bytes (variant %d, "
                                     "length %+d, last %d, pad %d): memo %d "
                                     "\"%s\", plain %d \"%s\"",
                                     len, v, k == 5 ? 9999 : moved[k], last,
                                     pad, mv.rc, mv.why, p.rc, p.why);
                    }
                }
            }
    CHECK(disagree == 0);
    CHECK(bad > checked / 4 && bad < checked);
    printf("# %zu documents (%zu refused), memo and plain agree, %" PRIu64
           " elements by the memo\n",
           checked, bad, wri_bson_memo_hits(m));
    CHECK(wri_bson_memo_hits(m) > checked);
    wri_bson_memo_free(m);
}

/* The real dataset (one collection, numbers whose type changes from
 * document to document) through one memo: as the plain check. */
static void test_bsoncheck_memo_real_dataset(void)
{
    char path[512];
    const char *base = getenv("WR_CORPORA");
    snprintf(path, sizeof path, "%s/real/treasury-yield/"
             "yield_historical_in.json", base ? base : "../shared/corpora");
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    wri_bson_memo *m = wri_bson_memo_new();
    char *line = NULL;
    size_t cap = 0, docs = 0;
    ssize_t r;
    int disagree = 0;
    while ((r = getline(&line, &cap, f)) > 0) {
        bson_error_t err;
        bson_t *d = bson_new_from_json((const uint8_t *)line, r, &err);
        if (d == NULL)
            continue;
        verdict p = {0}, v = memo_verdict(m, bson_get_data(d), d->len,
                                          docs % 2 == 0);
        p.rc = wri_bson_check_plain(bson_get_data(d), d->len, &p.off, p.why,
                                    sizeof p.why);
        if ((!verdict_eq(&v, &p) || p.rc != WR_OK) && disagree++ < 10)
            TAP_FAIL("line %zu: memo %d \"%s\", plain %d \"%s\"", docs + 1,
                     v.rc, v.why, p.rc, p.why);
        bson_destroy(d);
        docs++;
    }
    free(line);
    fclose(f);
    CHECK(docs > 5000);
    CHECK(disagree == 0);
    CHECK(wri_bson_memo_hits(m) > docs * 5);
    printf("# %zu documents, %" PRIu64 " elements by the memo\n", docs,
           wri_bson_memo_hits(m));
    wri_bson_memo_free(m);
}

/* Does the document hold a double anywhere? (Our doubles are shorter
 * than libbson's, so only documents without one compare as text.) */
static bool has_double(const bson_t *d)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, d))
        return false;
    while (bson_iter_next(&it)) {
        if (BSON_ITER_HOLDS_DOUBLE(&it))
            return true;
        if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it) ||
            BSON_ITER_HOLDS_CODEWSCOPE(&it)) {
            const uint8_t *b;
            uint32_t n;
            bson_t sub;
            if (BSON_ITER_HOLDS_CODEWSCOPE(&it)) {
                uint32_t cl;
                bson_iter_codewscope(&it, &cl, &n, &b);
            } else if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
                bson_iter_document(&it, &n, &b);
            } else {
                bson_iter_array(&it, &n, &b);
            }
            if (bson_init_static(&sub, b, n) && has_double(&sub))
                return true;
        }
    }
    return false;
}

/* Every corpus document: our canonical text parses back to the same
 * bytes, our relaxed text to what libbson's relaxed text parses to, and
 * without doubles both texts equal libbson's. */
static void test_ejson_matches_libbson_on_the_corpus(void)
{
    static cases c;
    int same_text = 0, compared = 0;
    load_cases(&c, "valid", "canonical_bson");
    REQUIRE(c.n > 300);
    for (size_t i = 0; i < c.n; i++) {
        bson_t d;
        if (wri_bson_check(c.buf[i], c.len[i], NULL, NULL, 0) != WR_OK ||
            !bson_init_static(&d, c.buf[i], c.len[i]))
            continue;
        for (int relaxed = 0; relaxed < 2; relaxed++) {
            wri_strbuf sb = {0};
            size_t ll;
            char *lib = relaxed ? bson_as_relaxed_extended_json(&d, &ll)
                                : bson_as_canonical_extended_json(&d, &ll);
            if (lib == NULL)
                continue; /* libbson cannot print it (not UTF-8) */
            compared++;
            if (wri_ejson_append(&sb, c.buf[i], c.len[i], relaxed) != WR_OK) {
                TAP_FAIL("%s: not printed", c.what[i]);
                bson_free(lib);
                continue;
            }
            /* canonical must read back as the document itself; relaxed
             * (which forgets numeric types) as libbson's relaxed text
             * does. Where libbson cannot read its own text back, or
             * writes a relaxed date the spec does not allow (year
             * 10000), ours must still read back as the document. */
            bson_error_t err;
            bson_t back, want;
            bool ok1 = bson_init_from_json(&back, sb.p, (ssize_t)sb.len, &err);
            bool ok2 = relaxed && strstr(lib, "\"10000-") == NULL &&
                       bson_init_from_json(&want, lib, (ssize_t)ll, &err);
            const bson_t *ref = ok2 ? &want : &d;
            bool lib_unreadable = relaxed && !ok2 &&
                                  strstr(lib, "\"10000-") == NULL;
            bool same = strcmp(sb.p, lib) == 0; /* e.g. lossy decimals */
            if (!lib_unreadable && !same &&
                (!ok1 || back.len != ref->len ||
                 memcmp(bson_get_data(&back), bson_get_data(ref),
                        back.len) != 0))
                TAP_FAIL("%s (%s): reads back differently\n#   ours: %s\n#   "
                         "libbson: %s",
                         c.what[i], relaxed ? "relaxed" : "canonical", sb.p,
                         lib);
            if (!has_double(&d) && strstr(lib, "\"10000-") == NULL) {
                if (strcmp(sb.p, lib) == 0)
                    same_text++;
                else
                    TAP_FAIL("%s: text differs\n#   ours: %s\n#   "
                             "libbson: %s",
                             c.what[i], sb.p, lib);
            }
            if (ok1)
                bson_destroy(&back);
            if (ok2)
                bson_destroy(&want);
            bson_free(lib);
            free(sb.p);
        }
    }
    printf("# %d printed and read back, %d equal to libbson's text\n",
           compared, same_text);
    cases_free(&c);
}

static void test_ejson_doubles_are_short_and_exact(void)
{
    static const double v[] = {36.569, 0.1, 1.0, -0.0, 1e300, 5e-324,
                                123456789012345678.0, 2.5};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        bson_t d = BSON_INITIALIZER;
        wri_strbuf sb = {0};
        BSON_APPEND_DOUBLE(&d, "x", v[i]);
        REQUIRE(wri_ejson_append(&sb, bson_get_data(&d), d.len, true) ==
                WR_OK);
        const char *num = strstr(sb.p, ": ") + 2;
        double back = strtod(num, NULL);
        CHECK(back == v[i] && signbit(back) == signbit(v[i]));
        CHECK(strlen(num) <= 26); /* "36.569 }", never 20 digits */
        bson_destroy(&d);
        free(sb.p);
    }
}

/* The rule the writer states for a double: "%.15g", else "%.16g", else
 * "%.17g", whichever reads back first, ".0" after what looks like an
 * integer. Written here with printf only, to hold the fast ways to it. */
static void ref_double(double d, char *out, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d)
            break;
    }
    if (strpbrk(out, ".eEn") == NULL)
        strcat(out, ".0");
}

/* Our relaxed text of {"x": d} equals "{ \"x\" : REF }". */
static int double_text_ok(double d)
{
    bson_t b = BSON_INITIALIZER;
    wri_strbuf sb = {0};
    char ref[64], want[96];
    BSON_APPEND_DOUBLE(&b, "x", d);
    ref_double(d, ref, sizeof ref);
    snprintf(want, sizeof want, "{ \"x\" : %s }", ref);
    int ok = wri_ejson_append(&sb, bson_get_data(&b), b.len, true) == WR_OK &&
             strcmp(sb.p, want) == 0;
    if (!ok)
        TAP_FAIL("%.17g: ours %s, the rule %s", d, sb.p ? sb.p : "(none)",
                 want);
    bson_destroy(&b);
    free(sb.p);
    return ok;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* Doubles of every kind print as the rule says: short decimals (the fast
 * way: m / 10^k, 1e-4 <= |d| < 1e15), their neighbours one ulp away,
 * the bounds of the fast way, and random bit patterns. */
static void test_ejson_doubles_follow_the_printf_rule(void)
{
    static const double fixed[] = {
        0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 2.5, 15027.8, 36.7253, -11.4847,
        1e-4, 1.5e-4, 9.9999e-5, 1e-5, 0.00012345678901234, 1e14, 1e15,
        999999999999999.0, 999999999999999.9, 1e15 - 0.5, 123456789012345.0,
        0.123456789012345, 1.23456789012345e-4, 4503599627370496.5,
        9007199254740993.0, 1e16, 1e22, 1e23, 5e-324, 1.7976931348623157e308,
        0.3, 0.7, 100.0, 1234.5678, 3.14159265358979, 2.718281828459045};
    int bad = 0, n = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        for (int sgn = 0; sgn < 2; sgn++) {
            double d = sgn ? -fixed[i] : fixed[i];
            double nb[3] = {d, nextafter(d, INFINITY),
                            nextafter(d, -INFINITY)};
            for (int j = 0; j < 3; j++, n++)
                if (isfinite(nb[j])) /* the rule is for finite ones */
                    bad += !double_text_ok(nb[j]);
        }
    uint64_t st = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000 && bad < 20; i++, n++) {
        uint64_t r = rng_next(&st);
        double d;
        if (i % 3 == 0) { /* random bits */
            memcpy(&d, &r, 8);
            if (!isfinite(d))
                continue;
        } else { /* m / 10^k, m of 1 to 16 digits */
            int k = (int)(r % 19), digits = 1 + (int)((r >> 8) % 16);
            double m = (double)((r >> 16) % (uint64_t)pow(10, digits));
            d = m / pow(10, k);
            if (i % 2)
                d = -d;
            if (i % 7 == 0)
                d = nextafter(d, INFINITY);
        }
        bad += !double_text_ok(d);
    }
    CHECK_EQ(bad, 0);
    printf("# %d doubles compared with the printf rule\n", n);
}

/* Strings with and without characters to escape, at every length
 * around the word sizes, print as the byte-wise rule says. */
static void test_ejson_strings_escape_at_every_length(void)
{
    static const char specials[] = {'"', '\\', '\n', '\t', 0x01, 0x1f,
                                    '\b', '\f', '\r', 'a', ' ', 0x7f};
    uint64_t st = 12345;
    int bad = 0;
    for (int len = 0; len <= 40 && bad < 10; len++)
        for (int trial = 0; trial < 60; trial++) {
            char v[48], want[400], *w = want;
            for (int i = 0; i < len; i++) {
                uint64_t r = rng_next(&st);
                /* mostly plain bytes, a special one now and then, and
                 * some strings with none at all */
                v[i] = trial < 20 || r % 9 ? (char)('A' + r % 26)
                                           : specials[(r >> 8) % 12];
            }
            v[len] = '\0';
            w += sprintf(w, "{ \"s\" : \"");
            for (int i = 0; i < len; i++) {
                unsigned char c = (unsigned char)v[i];
                if (c == '"' || c == '\\')
                    w += sprintf(w, "\\%c", c);
                else if (c == '\n')
                    w += sprintf(w, "\\n");
                else if (c == '\t')
                    w += sprintf(w, "\\t");
                else if (c == '\b')
                    w += sprintf(w, "\\b");
                else if (c == '\f')
                    w += sprintf(w, "\\f");
                else if (c == '\r')
                    w += sprintf(w, "\\r");
                else if (c < 0x20)
                    w += sprintf(w, "\\u%04x", c);
                else
                    *w++ = (char)c;
            }
            sprintf(w, "\" }");
            bson_t b = BSON_INITIALIZER;
            wri_strbuf sb = {0};
            BSON_APPEND_UTF8(&b, "s", v);
            if (wri_ejson_append(&sb, bson_get_data(&b), b.len, false) !=
                    WR_OK ||
                strcmp(sb.p, want) != 0) {
                TAP_FAIL("length %d: ours %s, want %s", len,
                         sb.p ? sb.p : "(none)", want);
                bad++;
            }
            bson_destroy(&b);
            free(sb.p);
        }
    CHECK_EQ(bad, 0);
}

/* Integers at every digit count, both signs, and the extremes. */
static void test_ejson_integers(void)
{
    int bad = 0;
    for (int relaxed = 0; relaxed < 2; relaxed++)
        for (int i = 0; i <= 19; i++)
            for (int sgn = 0; sgn < 2; sgn++) {
                int64_t v = i == 19 ? (sgn ? INT64_MIN : INT64_MAX)
                                    : (int64_t)pow(10, i) - (i % 2);
                if (sgn && i != 19)
                    v = -v;
                bson_t b = BSON_INITIALIZER;
                wri_strbuf sb = {0};
                char want[96];
                BSON_APPEND_INT64(&b, "n", v);
                if (relaxed)
                    snprintf(want, sizeof want, "{ \"n\" : %" PRId64 " }",
                             v);
                else
                    snprintf(want, sizeof want,
                             "{ \"n\" : { \"$numberLong\" : \"%" PRId64
                             "\" } }",
                             v);
                if (wri_ejson_append(&sb, bson_get_data(&b), b.len,
                                     relaxed) != WR_OK ||
                    strcmp(sb.p, want) != 0) {
                    TAP_FAIL("ours %s, want %s", sb.p ? sb.p : "(none)",
                             want);
                    bad++;
                }
                bson_destroy(&b);
                free(sb.p);
            }
    CHECK_EQ(bad, 0);
}

int main(void)
{
    RUN(test_bsoncheck_accepts_every_valid_corpus_case);
    RUN(test_bsoncheck_refuses_every_decode_error);
    RUN(test_bsoncheck_utf8_rules);
    RUN(test_utf8_replace_marks_each_stray_byte);
    RUN(test_bsoncheck_unknown_type_names_its_type_byte);
    RUN(test_bsoncheck_utf8_at_every_offset);
    RUN(test_bsoncheck_mutations_never_more_lenient);
    RUN(test_bsoncheck_fast_paths_equal_plain);
    RUN(test_bsoncheck_memo_equals_plain);
    RUN(test_bsoncheck_memo_strings_equal_plain);
    RUN(test_bsoncheck_memo_real_dataset);
    RUN(test_ejson_matches_libbson_on_the_corpus);
    RUN(test_ejson_doubles_are_short_and_exact);
    RUN(test_ejson_doubles_follow_the_printf_rule);
    RUN(test_ejson_strings_escape_at_every_length);
    RUN(test_ejson_integers);
    return tap_done();
}
