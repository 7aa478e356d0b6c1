/*
 * test_bsonkey.c -- MongoDB-order comparison of BSON keys, key building,
 * multikey index keys and key checking (lib/bsonkey.c).
 *
 * Values are written as Extended JSON with ' for " to keep them readable:
 * V("{'$numberLong': '1'}") is the key { "": NumberLong(1) }.
 */
#include "wr_int.h"

#include "tap.h"

#include <math.h>
#include <stdbool.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */

#define POOL_MAX 8192
static bson_t *pool[POOL_MAX];
static int npool;

static bson_t *pool_add(bson_t *b)
{
    if (npool == POOL_MAX) {
        printf("Bail out! key pool full\n");
        exit(2);
    }
    pool[npool++] = b;
    return b;
}

static void pool_free(void)
{
    while (npool > 0)
        bson_destroy(pool[--npool]);
}

/* Parse JSON written with ' for ". */
static bson_t *parse_json(const char *json)
{
    char buf[4096];
    bson_error_t err;
    bson_t *b;
    size_t n = strlen(json);

    if (n >= sizeof buf) {
        printf("Bail out! JSON fixture too long\n");
        exit(2);
    }
    for (size_t i = 0; i <= n; i++)
        buf[i] = json[i] == '\'' ? '"' : json[i];
    b = bson_new_from_json((const uint8_t *)buf, -1, &err);
    if (b == NULL) {
        printf("Bail out! bad JSON fixture %s: %s\n", buf, err.message);
        exit(2);
    }
    return pool_add(b);
}

/* The key { "": value } for a JSON value. */
static bson_t *V(const char *json)
{
    char buf[4096];
    bson_iter_t it;
    bson_t *doc, *k;

    snprintf(buf, sizeof buf, "{'v': %s}", json);
    doc = parse_json(buf);
    if (!bson_iter_init_find(&it, doc, "v")) {
        printf("Bail out! no v in fixture\n");
        exit(2);
    }
    k = pool_add(bson_new());
    bson_append_iter(k, "", 0, &it);
    return k;
}

static bson_t *I32(int32_t v)
{
    bson_t *k = pool_add(bson_new());
    bson_append_int32(k, "", 0, v);
    return k;
}

static bson_t *I64(int64_t v)
{
    bson_t *k = pool_add(bson_new());
    bson_append_int64(k, "", 0, v);
    return k;
}

static bson_t *D(double v)
{
    bson_t *k = pool_add(bson_new());
    bson_append_double(k, "", 0, v);
    return k;
}

static bson_t *DEC(const char *s)
{
    bson_decimal128_t d;
    bson_t *k = pool_add(bson_new());
    if (!bson_decimal128_from_string(s, &d)) {
        printf("Bail out! bad decimal fixture %s\n", s);
        exit(2);
    }
    bson_append_decimal128(k, "", 0, &d);
    return k;
}

static bson_t *DECRAW(uint64_t high, uint64_t low)
{
    bson_decimal128_t d;
    bson_t *k = pool_add(bson_new());
    d.high = high;
    d.low = low;
    bson_append_decimal128(k, "", 0, &d);
    return k;
}

static int sgn(int c)
{
    return (c > 0) - (c < 0);
}

static int raw_cmp(const bson_t *a, const bson_t *b)
{
    return sgn(wri_key_cmp(bson_get_data(a), a->len, bson_get_data(b),
                           b->len));
}

/* Compare two keys; also checks that the reverse comparison and the
 * iterator-based wri_bsonval_cmp agree. */
static int kc_at(const bson_t *a, const bson_t *b, int line)
{
    int c = raw_cmp(a, b), r = raw_cmp(b, a);
    bson_iter_t ia, ib;

    if (c != -r)
        TAP_FAIL("line %d: cmp(a,b)=%d but cmp(b,a)=%d", line, c, r);
    if (bson_iter_init(&ia, a) && bson_iter_next(&ia) &&
        bson_iter_init(&ib, b) && bson_iter_next(&ib) &&
        a->len > 5 && b->len > 5) {
        int v = sgn(wri_bsonval_cmp(&ia, &ib));
        bson_iter_t ja = ia, jb = ib;
        /* single-element keys: value cmp must equal key cmp */
        if (!bson_iter_next(&ja) && !bson_iter_next(&jb) && v != c)
            TAP_FAIL("line %d: key cmp %d, value cmp %d", line, c, v);
    }
    return c;
}
#define kc(a, b) kc_at((a), (b), __LINE__)

#define LT(a, b) CHECK(kc((a), (b)) < 0)
#define EQ(a, b) CHECK(kc((a), (b)) == 0)
#define GT(a, b) CHECK(kc((a), (b)) > 0)

/* Every a[i] < a[j] for i < j. */
static void check_strictly_ascending(bson_t **a, int n, int line)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            int want = sgn(i - j), got = kc_at(a[i], a[j], line);
            if (got != want) {
                char *ji = wri_key_to_json(bson_get_data(a[i]), a[i]->len);
                char *jj = wri_key_to_json(bson_get_data(a[j]), a[j]->len);
                TAP_FAIL("line %d: cmp(%s, %s) = %d, want %d", line, ji, jj,
                         got, want);
                free(ji);
                free(jj);
            }
        }
    }
}

/* A fixed xorshift generator: runs are reproducible. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static uint32_t rndn(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* ------------------------------------------------------------------ */
/* Type brackets                                                       */

static void test_bsonkey_type_bracket_order(void)
{
    /* One value per type, in the order of MongoDB's "Comparison/Sort
     * Order" page: MinKey, Null (undefined just below null), Numbers,
     * Symbol/String, Object, Array, BinData, ObjectId, Boolean, Date,
     * Timestamp, Regular Expression, then dbPointer, code, code with
     * scope (ours, after the server), MaxKey. Each value is the largest
     * or a very large one of its type where that makes the test harder. */
    bson_t *v[] = {
        V("{'$minKey': 1}"),
        V("{'$undefined': true}"),
        V("null"),
        V("{'$numberDouble': 'NaN'}"),
        V("{'$numberDouble': '-Infinity'}"),
        V("{'$numberLong': '-9223372036854775808'}"),
        V("0"),
        V("{'$numberDecimal': '9.999999999999999999999999999999999E+6144'}"),
        V("{'$numberDouble': 'Infinity'}"),
        V("''"),
        V("{'$symbol': 'a'}"),
        V("'b'"),
        V("'\\u00ff\\u00ff'"),
        V("{}"),
        V("{'a': {'$maxKey': 1}}"),
        V("[]"),
        V("[{'$maxKey': 1}]"),
        V("{'$binary': {'base64': '', 'subType': '00'}}"),
        V("{'$binary': {'base64': '////', 'subType': '80'}}"),
        V("{'$oid': '000000000000000000000000'}"),
        V("{'$oid': 'ffffffffffffffffffffffff'}"),
        V("false"),
        V("true"),
        V("{'$date': {'$numberLong': '-9223372036854775808'}}"),
        V("{'$date': {'$numberLong': '9223372036854775807'}}"),
        V("{'$timestamp': {'t': 0, 'i': 0}}"),
        V("{'$timestamp': {'t': 4294967295, 'i': 4294967295}}"),
        V("{'$regularExpression': {'pattern': '', 'options': ''}}"),
        V("{'$regularExpression': {'pattern': 'zz', 'options': 'x'}}"),
        V("{'$dbPointer': {'$ref': 'zzzz', '$id': {'$oid': "
          "'ffffffffffffffffffffffff'}}}"),
        V("{'$code': ''}"),
        V("{'$code': '\\u00ff'}"),
        V("{'$code': '', '$scope': {}}"),
        V("{'$code': '\\u00ff', '$scope': {'a': 1}}"),
        V("{'$maxKey': 1}"),
    };
    check_strictly_ascending(v, (int)(sizeof v / sizeof v[0]), __LINE__);
    EQ(V("'a'"), V("{'$symbol': 'a'}"));
    LT(V("{'$undefined': true}"), V("null"));
    pool_free();
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */

static void test_bsonkey_numbers_equal_across_types(void)
{
    bson_t *one[] = {
        I32(1), I64(1), D(1.0), V("1"), V("{'$numberLong': '1'}"),
        V("{'$numberDouble': '1.0'}"), DEC("1.0"), DEC("1"), DEC("0.1E1"),
        DEC("1000E-3"), DEC("0.0000000000000000000000000000000001E34"),
    };
    int n = (int)(sizeof one / sizeof one[0]);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++)
            EQ(one[i], one[j]);
        LT(one[i], I32(2));
        LT(one[i], DEC("1.000000000000000000000000000000001"));
        GT(one[i], D(0.9999999999999999));
        GT(one[i], DEC("0.9999999999999999999999999999999999"));
        LT(I64(-1), one[i]);
    }
    EQ(I32(-7), DEC("-7.000"));
    EQ(I32(INT32_MIN), I64(INT32_MIN));
    LT(I32(INT32_MAX), I64((int64_t)INT32_MAX + 1));
    EQ(DEC("1E+3"), I32(1000));
    LT(DEC("12345678901234567890123456789012E+2"),
       DEC("1234567890123456789012345678901234"));
    EQ(DEC("12345678901234567890123456789012E+2"),
       DEC("1234567890123456789012345678901200"));
    LT(DEC("-1E+6144"), DEC("-1E+6143"));
    GT(DEC("1E-6176"), DEC("0"));
    LT(DEC("-1E-6176"), D(-0.0));
    pool_free();
}

static void test_bsonkey_nan_and_negative_zero(void)
{
    bson_t *nan_d = D(NAN), *nan_neg = D(-NAN), *nan_dec = DEC("NaN");
    bson_t *snan_dec = DECRAW(0x7E00000000000000ULL, 0);
    bson_t *nans[] = {nan_d, nan_neg, nan_dec, snan_dec};
    bson_t *zeros[] = {
        D(0.0), D(-0.0), I32(0), I64(0), DEC("0"), DEC("-0"),
        DEC("0E+6111"), DEC("-0E-6176"),
        /* non-canonical decimals read as zero */
        DECRAW(0x6000000000000000ULL | (6176ULL << 47), 1),
        DECRAW(0x3040000000000000ULL | 0x1ED09BEAD87C0ULL,
               0x378D8E6400000000ULL), /* coefficient 10^34 */
    };
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++)
            EQ(nans[i], nans[j]);
        LT(nans[i], D(-INFINITY));
        LT(nans[i], DEC("-Infinity"));
        LT(nans[i], I64(INT64_MIN));
        LT(nans[i], DEC("-9.999999999999999999999999999999999E+6144"));
        GT(nans[i], V("null"));
        LT(nans[i], V("''"));
    }
    for (int i = 0; i < 10; i++) {
        for (int j = 0; j < 10; j++)
            EQ(zeros[i], zeros[j]);
        GT(zeros[i], D(-5e-324));
        LT(zeros[i], D(5e-324));
        GT(zeros[i], nan_d);
    }
    EQ(D(INFINITY), DEC("Infinity"));
    EQ(D(-INFINITY), DEC("-Infinity"));
    GT(D(INFINITY), I64(INT64_MAX));
    GT(D(INFINITY), DEC("9.999999999999999999999999999999999E+6144"));
    LT(D(-INFINITY), DEC("-9.999999999999999999999999999999999E+6144"));
    LT(D(-INFINITY), I64(INT64_MIN));
    pool_free();
}

static void test_bsonkey_int64_double_boundaries(void)
{
    const double two63 = 9223372036854775808.0, two53 = 9007199254740992.0;
    int64_t p53 = 9007199254740992LL;

    LT(I64(INT64_MAX), D(two63));
    GT(D(two63), I64(INT64_MAX));
    LT(I64(INT64_MAX), D(9223372036854775807.0)); /* that literal is 2^63 */
    GT(I64(INT64_MAX), D(9223372036854774784.0)); /* largest below 2^63 */
    EQ(I64(INT64_MIN), D(-two63));
    GT(I64(INT64_MIN), D(-9223372036854777856.0)); /* next below -2^63 */
    LT(I64(INT64_MIN + 1), D(-9223372036854774784.0));
    GT(I64(p53 + 1), D(two53));
    EQ(I64(p53), D(two53));
    LT(I64(p53 + 1), D(two53 + 2.0));
    GT(I64(-p53 - 1), D(-two53 - 2.0));
    LT(I64(-p53 - 1), D(-two53));
    LT(I32(3), D(3.5));
    GT(I32(4), D(3.5));
    GT(I32(-3), D(-3.5));
    LT(I32(-3), D(-2.5));
    EQ(I32(-3), D(-3.0));
    GT(I32(0), D(-1e-300));
    LT(I32(0), D(1e-300));
    LT(I64(INT64_MAX), D(1e300));
    GT(I64(INT64_MIN), D(-1e300));

    /* A run across the 2^53 boundary sorts consistently (transitivity). */
    bson_t *run[] = {
        D(two53 - 1.0), I64(p53), I64(p53 + 1), D(two53 + 2.0),
        I64(p53 + 3), D(two53 + 4.0), I64(INT64_MAX - 1), I64(INT64_MAX),
        D(two63), DEC("9223372036854775808.000000000000001"),
        D(18446744073709551616.0),
    };
    check_strictly_ascending(run, (int)(sizeof run / sizeof run[0]),
                             __LINE__);

    /* Random int64/double pairs against a long double oracle (exact for
     * both on x86-64; elsewhere the check is skipped). */
    if (sizeof(long double) > sizeof(double) &&
        (long double)INT64_MAX != (long double)INT64_MAX - 1) {
        for (int i = 0; i < 20000; i++) {
            int64_t x = (int64_t)rnd() >> rndn(64);
            double d;
            uint64_t bits;
            switch (rndn(3)) {
            case 0:
                d = (double)x + (double)(int)(rndn(5) - 2);
                break;
            case 1:
                d = (double)x * (rndn(2) ? 1.0 : -1.0) + 0.5;
                break;
            default:
                bits = rnd();
                memcpy(&d, &bits, sizeof d);
                if (isnan(d))
                    d = 1.0;
                break;
            }
            int want = ((long double)x > (long double)d) -
                       ((long double)x < (long double)d);
            bson_t *a = I64(x), *b = D(d);
            int got = raw_cmp(a, b);
            if (got != want) {
                TAP_FAIL("int64 %" PRId64 " vs double %.17g: got %d want %d",
                         x, d, got, want);
                break;
            }
            pool_free();
        }
    }
    pool_free();
}

/* Parse "d.ddddde[+-]x" into digits (without the dot) and exponent. */
static void split_sci(const char *s, char *digits, size_t cap, int *exp)
{
    size_t n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && n + 1 < cap)
            digits[n++] = *s;
    digits[n] = '\0';
    *exp = *s == 'e' ? atoi(s + 1) : 0;
}

/* sign(a - b) for two positive decimal strings in %e form. */
static int sci_cmp(const char *a, const char *b)
{
    static char da[1200], db[1200];
    int ea, eb;
    split_sci(a, da, sizeof da, &ea);
    split_sci(b, db, sizeof db, &eb);
    if (ea != eb)
        return ea < eb ? -1 : 1;
    size_t la = strlen(da), lb = strlen(db);
    for (size_t i = 0; i < WRI_MAX(la, lb); i++) {
        char ca = i < la ? da[i] : '0', cb = i < lb ? db[i] : '0';
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return 0;
}

static void test_bsonkey_decimal128_vs_double(void)
{
    /* 0.1 as a double is 0.1000000000000000055511151231257827021... */
    GT(D(0.1), DEC("0.1"));
    GT(D(0.1), DEC("0.1000000000000000055511151231257827"));
    LT(D(0.1), DEC("0.1000000000000000055511151231257828"));
    LT(D(-0.1), DEC("-0.1"));
    EQ(D(0.5), DEC("0.5000"));
    EQ(D(-1024.25), DEC("-102425E-2"));
    GT(DEC("9007199254740993"), D(9007199254740992.0));
    EQ(DEC("9007199254740992"), D(9007199254740992.0));
    /* the smallest subnormal is 4.9406564584124654417656879286822137...e-324 */
    LT(DEC("4.940656458412465441765687928682213E-324"), D(5e-324));
    GT(DEC("4.940656458412465441765687928682214E-324"), D(5e-324));
    GT(DEC("1E-400"), D(0.0));
    LT(DEC("1E-400"), D(5e-324));
    /* DBL_MAX is 1.7976931348623157081452742373170435679...e308 */
    LT(DEC("1.797693134862315708145274237317043E+308"), D(1.7976931348623157e308));
    GT(DEC("1.797693134862315708145274237317044E+308"), D(1.7976931348623157e308));
    GT(DEC("1E+309"), D(1.7976931348623157e308));
    LT(DEC("1E+309"), D(INFINITY));
    LT(DEC("-1E+309"), D(-1.7976931348623157e308));
    GT(DEC("1E+6144"), D(1e308));
    LT(DEC("1E-6176"), D(5e-324));
    GT(DEC("1E-6176"), D(-5e-324));
    EQ(DEC("9223372036854775807"), I64(INT64_MAX));
    GT(DEC("9223372036854775808"), I64(INT64_MAX));
    GT(DEC("9223372036854775807.5"), I64(INT64_MAX));
    EQ(DEC("-9223372036854775808"), I64(INT64_MIN));
    LT(DEC("-9223372036854775808.1"), I64(INT64_MIN));
    EQ(DEC("9223372036854775808"), D(9223372036854775808.0));

    /* Random doubles against their 34-digit rounding, with the exact
     * decimal expansion (glibc prints it exactly) as the oracle. */
    char exact[1200], rounded[64];
    for (int i = 0; i < 1500; i++) {
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d) || d == 0.0)
            continue;
        if (rndn(4) == 0) /* also numbers of everyday size */
            d = ldexp((double)(rnd() >> 11), (int)rndn(120) - 60);
        double ad = fabs(d);
        snprintf(exact, sizeof exact, "%.1100e", ad);
        snprintf(rounded, sizeof rounded, "%.33e", ad);
        int want = sci_cmp(rounded, exact);
        char dec[80];
        snprintf(dec, sizeof dec, "%s%s", d < 0 ? "-" : "", rounded);
        if (d < 0)
            want = -want;
        bson_t *kd = D(d), *kdec = DEC(dec);
        int got = raw_cmp(kdec, kd);
        if (got != want) {
            TAP_FAIL("decimal %s vs double %a: got %d want %d", dec, d, got,
                     want);
            break;
        }
        /* the decimal lies strictly between the neighbouring doubles */
        CHECK(raw_cmp(kdec, D(nextafter(d, INFINITY))) < 0);
        CHECK(raw_cmp(kdec, D(nextafter(d, -INFINITY))) > 0);
        pool_free();
    }
    pool_free();
}

/* ------------------------------------------------------------------ */
/* Documents, arrays, strings and the other types                      */

static void test_bsonkey_bsonval_cmp_on_named_elements(void)
{
    bson_t *doc = parse_json("{'x': 1, 'y': {'$numberDecimal': '1.00'}, "
                             "'zz': 'a', 'w': {'k': [1, 2]}, "
                             "'v': {'k': [1.0, 2]}}");
    bson_iter_t x, y, z, w, v;
    REQUIRE(bson_iter_init_find(&x, doc, "x"));
    REQUIRE(bson_iter_init_find(&y, doc, "y"));
    REQUIRE(bson_iter_init_find(&z, doc, "zz"));
    REQUIRE(bson_iter_init_find(&w, doc, "w"));
    REQUIRE(bson_iter_init_find(&v, doc, "v"));
    CHECK(wri_bsonval_cmp(&x, &y) == 0); /* names never matter */
    CHECK(wri_bsonval_cmp(&x, &z) < 0);
    CHECK(wri_bsonval_cmp(&z, &y) > 0);
    CHECK(wri_bsonval_cmp(&w, &v) == 0);
    CHECK(wri_bsonval_cmp(&w, &z) > 0);
    pool_free();
}

static void test_bsonkey_nested_documents_and_arrays(void)
{
    LT(V("{'a': 1}"), V("{'a': 2}"));
    EQ(V("{'a': 1}"), V("{'a': 1.0}"));
    EQ(V("{'a': {'b': [1, {'c': 2}]}}"),
       V("{'a': {'b': [1.0, {'c': {'$numberLong': '2'}}]}}"));
    LT(V("{'a': {'b': [1, {'c': 2}]}}"), V("{'a': {'b': [1, {'c': 3}]}}"));
    LT(V("{}"), V("{'a': {'$minKey': 1}}"));
    LT(V("{'a': 1}"), V("{'a': 1, 'b': 1}"));
    LT(V("{'a': 1}"), V("{'b': 1}"));
    LT(V("{'b': 1}"), V("{'a': 'x'}")); /* type before name */
    LT(V("{'a': 1, 'b': 2}"), V("{'b': 1, 'a': 2}"));
    LT(V("{'a': 9}"), V("{'aa': 1}"));
    LT(V("{'x': null}"), V("{'x': 0}"));
    LT(V("[]"), V("[1]"));
    LT(V("[1]"), V("[1, 2]"));
    LT(V("[1, 2]"), V("[2]"));
    LT(V("[1, 'a']"), V("[1, {}]"));
    LT(V("[[1]]"), V("[[1, 2]]"));
    LT(V("[{'$maxKey': 1}]"), V("{'$binary': {'base64': '', 'subType': "
                                "'00'}}"));
    GT(V("[]"), V("{'z': {'$maxKey': 1}}"));
    EQ(V("[1, [2, {'a': 'b'}]]"), V("[1.0, [2, {'a': 'b'}]]"));
    LT(V("{'$code': 'a', '$scope': {'x': 1}}"),
       V("{'$code': 'a', '$scope': {'x': 2}}"));
    LT(V("{'$code': 'a', '$scope': {'x': 9}}"),
       V("{'$code': 'b', '$scope': {}}"));

    /* compound keys: element by element, a prefix first */
    bson_t *k1 = pool_add(bson_new()), *k2 = pool_add(bson_new()),
           *k3 = pool_add(bson_new());
    bson_append_utf8(k1, "", 0, "x", 1);
    bson_append_utf8(k2, "", 0, "x", 1);
    bson_append_minkey(k2, "", 0);
    bson_append_utf8(k3, "", 0, "x", 1);
    bson_append_int32(k3, "", 0, 5);
    CHECK(raw_cmp(k1, k2) < 0);
    CHECK(raw_cmp(k2, k3) < 0);
    CHECK(raw_cmp(k3, k1) > 0);
    pool_free();
}

static void test_bsonkey_strings_with_embedded_nul(void)
{
    bson_t *a0b = pool_add(bson_new()), *a0 = pool_add(bson_new()),
           *a = pool_add(bson_new()), *a1 = pool_add(bson_new()),
           *a0b_sym = pool_add(bson_new());
    bson_append_utf8(a0b, "", 0, "a\0b", 3);
    bson_append_utf8(a0, "", 0, "a\0", 2);
    bson_append_utf8(a, "", 0, "a", 1);
    bson_append_utf8(a1, "", 0, "a\1", 2);
    bson_append_symbol(a0b_sym, "", 0, "a\0b", 3);
    GT(a0b, a);
    GT(a0, a);
    GT(a0b, a0);
    LT(a0b, a1);
    EQ(a0b, a0b_sym);
    LT(V("''"), V("'a'"));
    LT(V("'abc'"), V("'abd'"));
    LT(V("'ab'"), V("'abc'"));
    GT(V("'\\u00e9'"), V("'z'")); /* bytes compare unsigned */
    LT(V("'B'"), V("'a'"));       /* binary collation, not case-folded */
    EQ(V("{'$symbol': 'ab'}"), V("'ab'"));
    pool_free();
}

static void test_bsonkey_binary_oid_bool_date_timestamp_regex(void)
{
    /* binary: length, then subtype, then bytes */
    LT(V("{'$binary': {'base64': 'YQ==', 'subType': '80'}}"),
       V("{'$binary': {'base64': 'YWI=', 'subType': '00'}}"));
    LT(V("{'$binary': {'base64': 'YWI=', 'subType': '00'}}"),
       V("{'$binary': {'base64': 'YWE=', 'subType': '05'}}"));
    LT(V("{'$binary': {'base64': 'YWE=', 'subType': '00'}}"),
       V("{'$binary': {'base64': 'YWI=', 'subType': '00'}}"));
    LT(V("{'$oid': '00000000000000000000000f'}"),
       V("{'$oid': '0000000000000000000000f0'}"));
    EQ(V("{'$oid': '5f0000000000000000000001'}"),
       V("{'$oid': '5f0000000000000000000001'}"));
    LT(V("false"), V("true"));
    EQ(V("true"), V("true"));
    LT(V("{'$date': {'$numberLong': '-1'}}"),
       V("{'$date': {'$numberLong': '0'}}"));
    LT(V("{'$timestamp': {'t': 1, 'i': 5}}"),
       V("{'$timestamp': {'t': 2, 'i': 0}}"));
    LT(V("{'$timestamp': {'t': 1, 'i': 5}}"),
       V("{'$timestamp': {'t': 1, 'i': 6}}"));
    GT(V("{'$timestamp': {'t': 2147483648, 'i': 0}}"),
       V("{'$timestamp': {'t': 1, 'i': 0}}")); /* unsigned */
    GT(V("{'$timestamp': {'t': 1, 'i': 4294967295}}"),
       V("{'$timestamp': {'t': 1, 'i': 0}}"));
    LT(V("{'$regularExpression': {'pattern': 'a', 'options': 'i'}}"),
       V("{'$regularExpression': {'pattern': 'a', 'options': 'm'}}"));
    LT(V("{'$regularExpression': {'pattern': 'a', 'options': 'mx'}}"),
       V("{'$regularExpression': {'pattern': 'ab', 'options': ''}}"));
    LT(V("{'$dbPointer': {'$ref': 'zz', '$id': {'$oid': "
         "'ffffffffffffffffffffffff'}}}"),
       V("{'$dbPointer': {'$ref': 'aaa', '$id': {'$oid': "
         "'000000000000000000000000'}}}")); /* namespace length first */
    LT(V("{'$dbPointer': {'$ref': 'ab', '$id': {'$oid': "
         "'ffffffffffffffffffffffff'}}}"),
       V("{'$dbPointer': {'$ref': 'ac', '$id': {'$oid': "
         "'000000000000000000000000'}}}"));
    LT(V("{'$dbPointer': {'$ref': 'ab', '$id': {'$oid': "
         "'000000000000000000000000'}}}"),
       V("{'$dbPointer': {'$ref': 'ab', '$id': {'$oid': "
         "'000000000000000000000001'}}}"));
    LT(V("{'$code': 'a'}"), V("{'$code': 'b'}"));
    EQ(V("{'$minKey': 1}"), V("{'$minKey': 1}"));
    EQ(V("{'$maxKey': 1}"), V("{'$maxKey': 1}"));
    EQ(V("null"), V("null"));
    pool_free();
}

/* ------------------------------------------------------------------ */
/* Key building                                                        */

static void test_bsonkey_key_from_doc(void)
{
    wr_errbuf eb;
    bson_t key;
    char why[128];

    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_key_from_doc(parse_json("{'a': 1, '_id': {'x': [1]}}"),
                                &key, &eb),
               &eb);
    CHECK_EQ(wri_key_check(bson_get_data(&key), key.len, 1, why, sizeof why),
             WR_OK);
    EQ(&key, V("{'x': [1]}"));
    char *j = wri_key_to_json(bson_get_data(&key), key.len);
    CHECK(j != NULL && strcmp(j, "{ \"x\" : [ 1 ] }") == 0);
    free(j);
    bson_destroy(&key);

    const char *bad[] = {"{'a': 1}", "{'_id': [1]}",
                         "{'_id': {'$undefined': true}}",
                         ("{'_id': {'$regularExpression': {'pattern': 'a', "
                          "'options': ''}}}")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wr_errbuf_clear(&eb);
        CHECK_EQ(wri_key_from_doc(parse_json(bad[i]), &key, &eb), WR_EINVAL);
        CHECK(eb.code == WR_EINVAL && eb.msg[0] != '\0');
    }

    bson_iter_t it;
    REQUIRE(bson_iter_init_find(&it, parse_json("{'v': 'hi'}"), "v"));
    wri_key_from_iter(&it, &key);
    CHECK_EQ(wri_key_check(bson_get_data(&key), key.len, 1, why, sizeof why),
             WR_OK);
    j = wri_key_to_json(bson_get_data(&key), key.len);
    CHECK(j != NULL && strcmp(j, "\"hi\"") == 0);
    free(j);
    bson_destroy(&key);
    pool_free();
}

static void test_bsonkey_key_to_json(void)
{
    bson_t *k = pool_add(bson_new());
    char *j;

    bson_append_utf8(k, "", 0, "x", 1);
    bson_append_int64(k, "", 0, 5);
    j = wri_key_to_json(bson_get_data(k), k->len);
    CHECK(j != NULL && strcmp(j, "[ \"x\", 5 ]") == 0);
    free(j);
    j = wri_key_to_json(bson_get_data(k), k->len - 1); /* wrong length */
    CHECK(j != NULL && strncmp(j, "{ \"$bsonHex\" : \"", 16) == 0);
    free(j);
    bson_t *n = parse_json("{'a': 1}");
    j = wri_key_to_json(bson_get_data(n), n->len);
    CHECK(j != NULL && strcmp(j, "{ \"a\" : 1 }") == 0);
    free(j);
    bson_t *u = pool_add(bson_new());
    bson_append_utf8(u, "", 0, "\xff", 1); /* not UTF-8 */
    j = wri_key_to_json(bson_get_data(u), u->len);
    CHECK(j != NULL && strncmp(j, "{ \"$bsonHex\" : \"", 16) == 0);
    free(j);
    uint8_t junk[3] = {1, 2, 3};
    j = wri_key_to_json(junk, sizeof junk);
    CHECK(j != NULL && strcmp(j, "{ \"$bsonHex\" : \"010203\" }") == 0);
    free(j);
    /* our writer, not libbson's: a double in its shortest exact form */
    bson_t *d = pool_add(bson_new());
    bson_append_double(d, "", 0, 36.569);
    j = wri_key_to_json(bson_get_data(d), d->len);
    CHECK(j != NULL && strcmp(j, "36.569") == 0);
    free(j);
    /* an index key renamed for wr-dump: the same value bytes, new names */
    static const char *const names[] = {"key", "_id"};
    size_t len, ne;
    uint8_t *r = wri_key_renamed(bson_get_data(k), k->len, names, 2, &len,
                                 &ne);
    bson_t rd;
    bson_iter_t it;
    CHECK(r != NULL && ne == 2 && bson_init_static(&rd, r, len) &&
          bson_iter_init_find(&it, &rd, "_id") &&
          bson_iter_int64(&it) == 5 && len == k->len + 6);
    free(r);
    r = wri_key_renamed(bson_get_data(k), k->len, NULL, 0, &len, &ne);
    CHECK(r != NULL && ne == 2 && bson_init_static(&rd, r, len) &&
          bson_iter_init_find(&it, &rd, "1") && bson_iter_int64(&it) == 5);
    free(r);
    CHECK(wri_key_renamed(bson_get_data(k), k->len, names, 1, &len, &ne) ==
          NULL); /* more elements than names */
    CHECK(wri_key_renamed(bson_get_data(u), u->len, NULL, 0, &len, &ne) ==
          NULL); /* not UTF-8: refused by the strict check */
    pool_free();
}

/* ------------------------------------------------------------------ */
/* Index keys                                                          */

typedef struct collected {
    char *json[64];
    bson_t *keys[64];
    int n;
    int stop_at;
} collected;

static int collect_key(const bson_t *key, void *arg)
{
    collected *c = arg;
    char why[128];
    if (c->n == 64)
        return 99;
    if (wri_key_check(bson_get_data(key), key->len, 2, why, sizeof why) !=
        WR_OK)
        TAP_FAIL("index key fails wri_key_check: %s", why);
    c->json[c->n] = wri_key_to_json(bson_get_data(key), key->len);
    c->keys[c->n] = pool_add(bson_copy(key));
    c->n++;
    return c->n == c->stop_at ? 42 : 0;
}

static void collected_free(collected *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->json[i]);
    memset(c, 0, sizeof *c);
}

/* Index doc on path; the keys as JSON joined by " | ". */
static int index_json(const char *doc, const char *path, char *out,
                      size_t cap)
{
    collected c;
    wr_errbuf eb;
    int rc;

    memset(&c, 0, sizeof c);
    wr_errbuf_clear(&eb);
    rc = wri_index_keys(parse_json(doc), path, collect_key, &c, &eb);
    out[0] = '\0';
    for (int i = 0; i < c.n; i++) {
        if (i > 0)
            strncat(out, " | ", cap - strlen(out) - 1);
        strncat(out, c.json[i] ? c.json[i] : "?", cap - strlen(out) - 1);
        if (i > 0 && raw_cmp(c.keys[i - 1], c.keys[i]) >= 0)
            TAP_FAIL("index keys of %s not in strictly ascending order", doc);
    }
    collected_free(&c);
    return rc;
}

#define CHECK_INDEX(doc, path, want)                                         \
    do {                                                                     \
        char got_[1024];                                                     \
        int rc_ = index_json((doc), (path), got_, sizeof got_);              \
        if (rc_ != WR_OK || strcmp(got_, (want)) != 0)                       \
            TAP_FAIL("index %s on %s: rc %d, got [%s], want [%s]", (doc),    \
                     (path), rc_, got_, (want));                             \
    } while (0)

static void test_bsonkey_index_keys_dotted_path(void)
{
    CHECK_INDEX("{'_id': 1, 'a': 5}", "a", "[ 5, 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': {'b': {'c': 'x'}}}", "a.b.c",
                "[ \"x\", 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': {'b': {'c': {'d': 1}}}}", "a.b",
                "[ { \"c\" : { \"d\" : 1 } }, 1 ]");
    CHECK_INDEX("{'a': {'b': 2}, '_id': 'k'}", "a.b", "[ 2, \"k\" ]");
    /* components are field names, never array positions */
    CHECK_INDEX("{'_id': 1, 'a': {'0': 3}}", "a.0", "[ 3, 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': [{'0': 5}, 7]}", "a.0",
                "[ null, 1 ] | [ 5, 1 ]");
    pool_free();
}

static void test_bsonkey_index_keys_array_of_docs(void)
{
    CHECK_INDEX("{'_id': 1, 'a': [{'b': 3}, {'b': 1}, {'c': 2}, "
                "{'b': [4, 1]}]}",
                "a.b", "[ null, 1 ] | [ 1, 1 ] | [ 3, 1 ] | [ 4, 1 ]");
    CHECK_INDEX("{'_id': 2, 'a': [{'b': [{'c': 'z'}, {'c': 'y'}]}, "
                "{'b': {'c': 'x'}}]}",
                "a.b.c", "[ \"x\", 2 ] | [ \"y\", 2 ] | [ \"z\", 2 ]");
    /* a leaf array indexes each element, one level deep */
    CHECK_INDEX("{'_id': 3, 'a': [[2, 1], 0]}", "a",
                "[ 0, 3 ] | [ [ 2, 1 ], 3 ]");
    /* scalars inside an array the path continues through are null */
    CHECK_INDEX("{'_id': 4, 'a': [1, {'b': 2}]}", "a.b",
                "[ null, 4 ] | [ 2, 4 ]");
    pool_free();
}

static void test_bsonkey_index_keys_missing_field(void)
{
    CHECK_INDEX("{'_id': 1}", "x", "[ null, 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': 5}", "a.b", "[ null, 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': {'c': 5}}", "a.b", "[ null, 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': null}", "a", "[ null, 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': {'$undefined': true}}", "a",
                "[ { \"$undefined\" : true }, 1 ]");
    pool_free();
}

static void test_bsonkey_index_keys_empty_array(void)
{
    CHECK_INDEX("{'_id': 1, 'a': []}", "a", "[ null, 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': []}", "a.b", "[ null, 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': {'b': []}}", "a.b", "[ null, 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': [null, []]}", "a",
                "[ null, 1 ] | [ [  ], 1 ]");
    pool_free();
}

static void test_bsonkey_index_keys_duplicates(void)
{
    CHECK_INDEX("{'_id': 1, 'a': [1, 1.0, {'$numberLong': '1'}, 'x', 2, "
                "'x', {'$numberDecimal': '1.00'}]}",
                "a", "[ 1, 1 ] | [ 2, 1 ] | [ \"x\", 1 ]");
    CHECK_INDEX("{'_id': 1, 'a': [{'b': null}, {}, 5, []]}", "a.b",
                "[ null, 1 ]");
    /* the first of equal values is the one kept */
    CHECK_INDEX("{'_id': 1, 'a': [2.0, 2]}", "a", "[ 2.0, 1 ]");
    pool_free();
}

/* An array whose elements are not named "0", "1"... (BSON from disk can
 * hold one) is indexed and printed without libbson writing its "invalid
 * array" warning to stderr: the library never prints. */
static void test_bsonkey_oddly_named_array_makes_no_output(void)
{
    bson_t *doc = pool_add(bson_new());
    bson_t outer, inner;
    collected c;
    wr_errbuf eb;
    char path[256];
    FILE *tmp;
    int saved;

    bson_append_int32(doc, "_id", 3, 1);
    bson_append_array_begin(doc, "a", 1, &outer);
    bson_append_array_begin(&outer, "0", 1, &inner);
    bson_append_int32(&inner, "x", 1, 5);
    bson_append_array_end(&outer, &inner);
    bson_append_array_end(doc, &outer);

    snprintf(path, sizeof path, "%s/stderr.txt", tap_tmpdir());
    fflush(stderr);
    saved = dup(2);
    REQUIRE(saved >= 0 && (tmp = fopen(path, "w+")) != NULL);
    dup2(fileno(tmp), 2);

    memset(&c, 0, sizeof c);
    wr_errbuf_clear(&eb);
    int rc = wri_index_keys(doc, "a", collect_key, &c, &eb);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fseek(tmp, 0, SEEK_END);
    long printed = ftell(tmp);
    fclose(tmp);
    unlink(path);
    rmdir(tap_tmpdir());

    CHECK_EQ(rc, WR_OK);
    CHECK_EQ(c.n, 1);
    CHECK(c.n == 1 && strcmp(c.json[0], "[ [ 5 ], 1 ]") == 0);
    CHECK_EQ(printed, 0);
    collected_free(&c);
    pool_free();
}

static void test_bsonkey_index_keys_errors(void)
{
    collected c;
    wr_errbuf eb;
    const char *badpath[] = {"", ".a", "a.", "a..b"};

    for (size_t i = 0; i < sizeof badpath / sizeof badpath[0]; i++) {
        memset(&c, 0, sizeof c);
        wr_errbuf_clear(&eb);
        CHECK_EQ(wri_index_keys(parse_json("{'_id': 1, 'a': 1}"), badpath[i],
                                collect_key, &c, &eb),
                 WR_EINVAL);
        CHECK_EQ(c.n, 0);
        collected_free(&c);
    }
    memset(&c, 0, sizeof c);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_index_keys(parse_json("{'a': 1}"), "a", collect_key, &c,
                            &eb),
             WR_EINVAL);
    collected_free(&c);
    memset(&c, 0, sizeof c);
    c.stop_at = 2;
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_index_keys(parse_json("{'_id': 1, 'a': [3, 2, 1]}"), "a",
                            collect_key, &c, &eb),
             42);
    CHECK_EQ(c.n, 2);
    collected_free(&c);
    pool_free();
}

/* ------------------------------------------------------------------ */
/* Random values and the corpus                                        */

static const char *corpus_path(void)
{
    static const char *cands[] = {
        "../shared/corpora/bson-corpus/valid.jsonl",
        "../../shared/corpora/bson-corpus/valid.jsonl",
        "/work/shared/corpora/bson-corpus/valid.jsonl",
    };
    const char *env = getenv("WR_BSON_CORPUS");
    if (env != NULL)
        return env;
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (access(cands[i], R_OK) == 0)
            return cands[i];
    return NULL;
}

/* Append a random value, biased towards ties and boundaries. */
static void gen_value(bson_t *b, int depth)
{
    static const double dv[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.0,
                                9007199254740992.0, 9223372036854775808.0,
                                -9223372036854775808.0, 1e300, 5e-324,
                                0.1};
    static const int64_t iv[] = {0, 1, -1, 2, 9007199254740992LL,
                                 9007199254740993LL, INT64_MAX, INT64_MIN,
                                 INT32_MAX, INT32_MIN};
    static const char *decs[] = {"0", "-0", "1", "1.0", "0.5", "2", "NaN",
                                 "Infinity", "-Infinity", "0.1",
                                 "9007199254740993", "9223372036854775808",
                                 "1E-400", "1E+400", "-1"};
    static const char *strs[] = {"", "a", "ab", "b", "a\0", "a\0b", "\xc3\xa9"};
    static const size_t strl[] = {0, 1, 2, 1, 2, 3, 2};
    bson_decimal128_t dec;
    bson_oid_t oid;
    bson_t child;
    uint8_t bin[3];
    size_t k;

    switch (rndn(depth < 3 ? 16 : 13)) {
    case 0:
        bson_append_int32(b, "", 0, (int32_t)iv[rndn(4)]);
        break;
    case 1:
        bson_append_int64(b, "", 0, iv[rndn(10)]);
        break;
    case 2:
        bson_append_double(b, "", 0,
                           rndn(8) ? dv[rndn(13)] * (rndn(2) ? 1 : -1)
                                   : (rndn(2) ? NAN : INFINITY));
        break;
    case 3:
        bson_decimal128_from_string(decs[rndn(15)], &dec);
        bson_append_decimal128(b, "", 0, &dec);
        break;
    case 4:
        k = rndn(7);
        if (rndn(4))
            bson_append_utf8(b, "", 0, strs[k], (int)strl[k]);
        else
            bson_append_symbol(b, "", 0, strs[k], (int)strl[k]);
        break;
    case 5:
        bin[0] = (uint8_t)rndn(2);
        bin[1] = (uint8_t)rndn(2);
        bin[2] = (uint8_t)rndn(2);
        bson_append_binary(b, "", 0, rndn(2) ? BSON_SUBTYPE_BINARY
                                              : BSON_SUBTYPE_USER,
                           bin, rndn(4));
        break;
    case 6:
        memset(&oid, 0, sizeof oid);
        oid.bytes[11] = (uint8_t)rndn(3);
        oid.bytes[0] = (uint8_t)rndn(2);
        bson_append_oid(b, "", 0, &oid);
        break;
    case 7:
        bson_append_bool(b, "", 0, rndn(2));
        break;
    case 8:
        switch (rndn(4)) {
        case 0: bson_append_date_time(b, "", 0, (int64_t)rndn(3) - 1); break;
        case 1: bson_append_timestamp(b, "", 0, rndn(3), rndn(3)); break;
        case 2: bson_append_regex(b, "", 0, rndn(2) ? "a" : "ab",
                                  rndn(2) ? "" : "i");
            break;
        default: bson_append_code(b, "", 0, rndn(2) ? "f" : "g"); break;
        }
        break;
    case 9:
        switch (rndn(4)) {
        case 0: bson_append_null(b, "", 0); break;
        case 1: bson_append_undefined(b, "", 0); break;
        case 2: bson_append_minkey(b, "", 0); break;
        default: bson_append_maxkey(b, "", 0); break;
        }
        break;
    case 10:
        memset(&oid, 0, sizeof oid);
        oid.bytes[11] = (uint8_t)rndn(2);
        bson_append_dbpointer(b, "", 0, rndn(2) ? "c" : "cc", &oid);
        break;
    case 11: {
        bson_t scope;
        bson_init(&scope);
        if (rndn(2))
            bson_append_int32(&scope, "x", 1, (int32_t)rndn(2));
        bson_append_code_with_scope(b, "", 0, rndn(2) ? "f" : "g", &scope);
        bson_destroy(&scope);
        break;
    }
    case 12:
        bson_append_double(b, "", 0, ldexp((double)(rnd() >> 11), -52));
        break;
    case 13: case 14: { /* object with names from a small set */
        bson_append_document_begin(b, "", 0, &child);
        for (uint32_t i = 0, n = rndn(3); i < n; i++) {
            static const char *names[] = {"a", "b", "ab"};
            /* gen_value appends with an empty name: rename by copying */
            bson_t tmp;
            bson_iter_t it;
            bson_init(&tmp);
            gen_value(&tmp, depth + 1);
            if (bson_iter_init(&it, &tmp) && bson_iter_next(&it))
                bson_append_iter(&child, names[rndn(3)], -1, &it);
            bson_destroy(&tmp);
        }
        bson_append_document_end(b, &child);
        break;
    }
    default: { /* array */
        bson_append_array_begin(b, "", 0, &child);
        for (uint32_t i = 0, n = rndn(3); i < n; i++) {
            char idx[16];
            bson_t tmp;
            bson_iter_t it;
            snprintf(idx, sizeof idx, "%u", i);
            bson_init(&tmp);
            gen_value(&tmp, depth + 1);
            if (bson_iter_init(&it, &tmp) && bson_iter_next(&it))
                bson_append_iter(&child, idx, -1, &it);
            bson_destroy(&tmp);
        }
        bson_append_array_end(b, &child);
        break;
    }
    }
}

/* Keys from the corpus: for each parsable line, { "": v } and one key per
 * element of v. Returns how many were added to out. */
static int corpus_keys(bson_t **out, int cap, int *skipped)
{
    const char *path = corpus_path();
    FILE *f;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    int count = 0;

    *skipped = 0;
    if (path == NULL || (f = fopen(path, "r")) == NULL)
        return -1;
    while ((n = getline(&line, &lcap, f)) > 0 && count + 64 < cap) {
        bson_t doc;
        bson_error_t err;
        bson_iter_t it, child;
        if (!bson_init_from_json(&doc, line, n, &err)) {
            (*skipped)++;
            continue;
        }
        if (bson_iter_init_find(&it, &doc, "v")) {
            bson_t *k = bson_new();
            bson_append_iter(k, "", 0, &it);
            out[count++] = pool_add(k);
            if (BSON_ITER_HOLDS_DOCUMENT(&it) &&
                bson_iter_recurse(&it, &child)) {
                while (bson_iter_next(&child) && count < cap) {
                    k = bson_new();
                    bson_append_iter(k, "", 0, &child);
                    out[count++] = pool_add(k);
                }
            }
        }
        bson_destroy(&doc);
    }
    free(line);
    fclose(f);
    return count;
}

static int cmp_key_ptr(const void *pa, const void *pb)
{
    const bson_t *a = *(bson_t *const *)pa, *b = *(bson_t *const *)pb;
    return wri_key_cmp(bson_get_data(a), a->len, bson_get_data(b), b->len);
}

static void test_bsonkey_order_is_total_over_corpus_and_random_values(void)
{
    enum { CAP = 2600 };
    static bson_t *v[CAP];
    int skipped = 0, n = corpus_keys(v, CAP - 900, &skipped);
    char why[128];

    if (n < 0) {
        printf("# corpus valid.jsonl not found: random values only\n");
        n = 0;
    } else {
        printf("# corpus: %d keys, %d lines libbson refused\n", n, skipped);
        CHECK(n > 700);
    }
    while (n < CAP) {
        bson_t *k = bson_new();
        gen_value(k, 0);
        if (rndn(4) == 0)
            gen_value(k, 0); /* some two-element keys */
        v[n++] = pool_add(k);
    }
    for (int i = 0; i < n; i++) {
        if (wri_key_check(bson_get_data(v[i]), v[i]->len, 0, why,
                          sizeof why) != WR_OK) {
            char *j = wri_key_to_json(bson_get_data(v[i]), v[i]->len);
            TAP_FAIL("value %d %s fails key check: %s", i, j, why);
            free(j);
        }
    }
    qsort(v, (size_t)n, sizeof v[0], cmp_key_ptr);
    /* All pairs of the sorted list: reflexive, antisymmetric, and in
     * order -- which a comparison that is not transitive fails. */
    int bad = 0;
    for (int i = 0; i < n && bad < 5; i++) {
        for (int j = i; j < n && bad < 5; j++) {
            int c = raw_cmp(v[i], v[j]), r = raw_cmp(v[j], v[i]);
            if ((i == j && c != 0) || c > 0 || c != -r) {
                char *ji = wri_key_to_json(bson_get_data(v[i]), v[i]->len);
                char *jj = wri_key_to_json(bson_get_data(v[j]), v[j]->len);
                TAP_FAIL("sorted[%d]=%s vs sorted[%d]=%s: cmp %d, reverse %d",
                         i, ji, j, jj, c, r);
                free(ji);
                free(jj);
                bad++;
            }
        }
    }
    /* Random triples, unsorted: a <= b <= c implies a <= c. */
    for (int t = 0; t < 200000 && bad < 5; t++) {
        bson_t *a = v[rndn((uint32_t)n)], *b = v[rndn((uint32_t)n)],
               *c = v[rndn((uint32_t)n)];
        int ab = raw_cmp(a, b), bc = raw_cmp(b, c), ac = raw_cmp(a, c);
        if (ab <= 0 && bc <= 0 && ac > 0) {
            TAP_FAIL("not transitive");
            bad++;
        }
        if (ab == 0 && bc == 0 && ac != 0) {
            TAP_FAIL("equality not transitive");
            bad++;
        }
    }
    pool_free();
}

/* ------------------------------------------------------------------ */
/* Checking hostile bytes                                              */

static void test_bsonkey_key_check_rejects_bad_structure(void)
{
    char why[160];
    uint8_t b[64];
    bson_t *k = I32(7);

    CHECK_EQ(wri_key_check(NULL, 0, 1, why, sizeof why), WR_ECORRUPT);
    CHECK_EQ(wri_key_check(b, 4, 1, why, sizeof why), WR_ECORRUPT);
    CHECK_EQ(wri_key_check(bson_get_data(k), k->len, 1, why, sizeof why),
             WR_OK);
    CHECK_EQ(wri_key_check(bson_get_data(k), k->len, 2, why, sizeof why),
             WR_ECORRUPT);
    CHECK(strstr(why, "elements") != NULL);
    memcpy(b, bson_get_data(k), k->len);
    CHECK_EQ(wri_key_check(b, k->len - 1, 1, why, sizeof why), WR_ECORRUPT);
    CHECK(strstr(why, "length") != NULL);
    b[k->len - 1] = 1; /* terminator */
    CHECK_EQ(wri_key_check(b, k->len, 1, why, sizeof why), WR_ECORRUPT);
    b[k->len - 1] = 0;
    b[4] = 0x42; /* unknown type */
    CHECK_EQ(wri_key_check(b, k->len, 1, why, sizeof why), WR_ECORRUPT);
    /* an element with a name */
    bson_t *named = parse_json("{'a': 1}");
    CHECK_EQ(wri_key_check(bson_get_data(named), named->len, 1, why,
                           sizeof why),
             WR_ECORRUPT);
    CHECK(strstr(why, "name") != NULL);
    /* a boolean byte of 2 */
    bson_t *t = V("true");
    memcpy(b, bson_get_data(t), t->len);
    b[6] = 2;
    CHECK_EQ(wri_key_check(b, t->len, 1, why, sizeof why), WR_ECORRUPT);
    /* nesting: WRI_KEY_MAX_DEPTH levels pass, one more fails */
    for (int extra = 0; extra < 2; extra++) {
        bson_t *deep = bson_new(), *cur = deep;
        bson_t stack[WRI_KEY_MAX_DEPTH + 2];
        int levels = WRI_KEY_MAX_DEPTH + extra;
        for (int i = 0; i < levels; i++) {
            bson_append_array_begin(cur, "", 0, &stack[i]);
            cur = &stack[i];
        }
        for (int i = levels - 1; i >= 0; i--)
            bson_append_array_end(i ? &stack[i - 1] : deep, &stack[i]);
        CHECK_EQ(wri_key_check(bson_get_data(deep), deep->len, 1, why,
                               sizeof why),
                 extra ? WR_ECORRUPT : WR_OK);
        bson_destroy(deep);
    }
    pool_free();
}

static void fuzz_one(const uint8_t *buf, size_t len, const bson_t *ref,
                     int *accepted)
{
    char why[160], why2[160];
    int rc = wri_key_check(buf, len, 0, why, sizeof why);
    int rc2 = wri_key_check(buf, len, 0, why2, sizeof why2);
    if (rc != rc2 || strcmp(why, why2) != 0)
        TAP_FAIL("key_check not deterministic");
    if (rc != WR_OK) {
        if (rc != WR_ECORRUPT || why[0] == '\0')
            TAP_FAIL("rejection without WR_ECORRUPT and a reason");
        /* Callers compare only checked keys, but the comparator must
         * still stay inside the buffers (ASan watches). */
        (void)wri_key_cmp(buf, len, bson_get_data(ref), ref->len);
        (void)wri_key_cmp(bson_get_data(ref), ref->len, buf, len);
        (void)wri_key_cmp(buf, len, buf, len);
        return;
    }
    (*accepted)++;
    bson_t b;
    size_t off;
    if (!bson_init_static(&b, buf, len) ||
        !bson_validate(&b, BSON_VALIDATE_NONE, &off))
        TAP_FAIL("accepted bytes libbson calls invalid");
    if (wri_key_cmp(buf, len, buf, len) != 0)
        TAP_FAIL("accepted key not equal to itself");
    int c = sgn(wri_key_cmp(buf, len, bson_get_data(ref), ref->len));
    int r = sgn(wri_key_cmp(bson_get_data(ref), ref->len, buf, len));
    if (c != -r)
        TAP_FAIL("fuzzed key: cmp not antisymmetric");
    char *j = wri_key_to_json(buf, len);
    if (j == NULL)
        TAP_FAIL("key_to_json failed on an accepted key");
    free(j);
}

static void test_bsonkey_key_check_fuzz(void)
{
    enum { NSEED = 300 };
    static bson_t *seed[NSEED];
    uint8_t buf[512];
    int accepted = 0, truncated_accepted = 0;

    for (int i = 0; i < NSEED; i++) {
        bson_t *k = bson_new();
        do
            gen_value(k, 0);
        while (rndn(3) == 0 && k->len < 200);
        seed[i] = pool_add(k);
    }
    /* pure garbage, sometimes with a plausible frame */
    for (int i = 0; i < 3000; i++) {
        size_t len = rndn(48);
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)rnd();
        if (len >= 5 && rndn(2)) {
            wri_put32(buf, (uint32_t)len);
            buf[len - 1] = 0;
            if (rndn(2))
                buf[5] = 0; /* empty name */
            if (rndn(2))
                buf[4] = (uint8_t)(rndn(0x14) ? rndn(0x14) : 0xFF);
        }
        fuzz_one(buf, len, seed[i % NSEED], &accepted);
    }
    /* mutations of valid keys */
    for (int i = 0; i < 4000; i++) {
        const bson_t *s = seed[rndn(NSEED)];
        size_t len = s->len;
        if (len > sizeof buf)
            continue;
        memcpy(buf, bson_get_data(s), len);
        switch (rndn(4)) {
        case 0: { /* truncate without fixing the frame: always rejected */
            size_t cut = rndn((uint32_t)len);
            char why[160];
            if (wri_key_check(buf, cut, 0, why, sizeof why) == WR_OK)
                truncated_accepted++;
            fuzz_one(buf, cut, s, &accepted);
            break;
        }
        case 1: /* truncate and fix the frame */
            len = 5 + rndn((uint32_t)len - 4);
            wri_put32(buf, (uint32_t)len);
            buf[len - 1] = 0;
            fuzz_one(buf, len, s, &accepted);
            break;
        default: /* flip a few bytes after the length prefix */
            for (uint32_t f = 0, nf = 1 + rndn(3); f < nf; f++)
                buf[4 + rndn((uint32_t)len - 4)] ^= (uint8_t)(1 + rndn(255));
            fuzz_one(buf, len, s, &accepted);
            break;
        }
    }
    CHECK_EQ(truncated_accepted, 0);
    CHECK(accepted > 100); /* the fuzz reached past the frame checks */
    printf("# fuzz: %d mutated or random buffers accepted\n", accepted);
    pool_free();
}

/* wri_key_check is one pass of our own (no bson_validate after it): every
 * key it accepts, libbson's bson_validate accepts too. Shown over every
 * key the corpus gives (valid.jsonl), each cut short (frame fixed) at
 * every length and with every byte after the prefix set to 0x00, 0x01,
 * 0x02, 0x7F, 0x80, 0xFF and its bits inverted; and over the corpus's
 * decodeErrors documents (tests/NAME.json), their first element's name
 * removed so that they take a key's shape. */
static int cover_one(const uint8_t *buf, size_t len, int *accepted)
{
    bson_t b;
    size_t off;
    if (wri_key_check(buf, len, 0, NULL, 0) != WR_OK)
        return 0;
    (*accepted)++;
    if (bson_init_static(&b, buf, len) &&
        bson_validate(&b, BSON_VALIDATE_NONE, &off))
        return 0;
    char *h = wri_key_to_json(buf, len);
    printf("#   accepted, libbson refuses: %s\n", h ? h : "?");
    free(h);
    return 1;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The decodeErrors of one corpus file, each in key shape. */
static int cover_decode_errors(const char *path, int *n, int *accepted)
{
    bson_error_t err;
    int bad = 0;
    FILE *fp = fopen(path, "r");
    char *text = NULL;
    size_t cap = 0;
    if (fp == NULL)
        return 0;
    ssize_t tl = getdelim(&text, &cap, '\0', fp);
    fclose(fp);
    bson_t doc;
    bson_iter_t it, arr, el, hx;
    if (tl > 0 && bson_init_from_json(&doc, text, tl, &err)) {
        if (bson_iter_init_find(&it, &doc, "decodeErrors") &&
            bson_iter_recurse(&it, &arr))
            while (bson_iter_next(&arr)) {
                if (!bson_iter_recurse(&arr, &el) ||
                    !bson_iter_find(&el, "bson") ||
                    !BSON_ITER_HOLDS_UTF8(&el))
                    continue;
                hx = el;
                uint32_t hl;
                const char *h = bson_iter_utf8(&hx, &hl);
                size_t blen = hl / 2;
                uint8_t *raw = malloc(blen + 1);
                for (size_t i = 0; i < blen; i++)
                    raw[i] = (uint8_t)(hexval(h[2 * i]) * 16 +
                                       hexval(h[2 * i + 1]));
                /* drop the first element's name: [len][type][name\0]... */
                if (blen > 6) {
                    size_t nl = 0;
                    while (5 + nl < blen && raw[5 + nl] != 0)
                        nl++;
                    if (5 + nl < blen) {
                        memmove(raw + 5, raw + 5 + nl, blen - 5 - nl);
                        blen -= nl;
                        wri_put32(raw, wri_get32(raw) - (uint32_t)nl);
                    }
                }
                (*n)++;
                bad += cover_one(raw, blen, accepted);
                free(raw);
            }
        bson_destroy(&doc);
    }
    free(text);
    return bad;
}

static void test_bsonkey_key_check_covers_libbson_over_corpus(void)
{
    enum { CAP = 4000 };
    static bson_t *v[CAP];
    static const uint8_t set[] = {0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF};
    uint8_t buf[4096];
    int skipped = 0, n = corpus_keys(v, CAP, &skipped);
    int tried = 0, accepted = 0, bad = 0;
    REQUIRE(n > 100);
    for (int i = 0; i < n; i++) {
        size_t len = v[i]->len;
        if (len > sizeof buf)
            continue;
        for (size_t cut = 5; cut <= len; cut++) {
            memcpy(buf, bson_get_data(v[i]), cut);
            wri_put32(buf, (uint32_t)cut);
            buf[cut - 1] = 0;
            tried++;
            bad += cover_one(buf, cut, &accepted);
        }
        for (size_t at = 4; at < len; at++)
            for (size_t k = 0; k <= sizeof set; k++) {
                memcpy(buf, bson_get_data(v[i]), len);
                buf[at] = k < sizeof set ? set[k] : (uint8_t)~buf[at];
                tried++;
                bad += cover_one(buf, len, &accepted);
            }
    }
    int nerr = 0;
    char dir[600], path[700];
    const char *vp = corpus_path();
    REQUIRE(vp != NULL);
    snprintf(dir, sizeof dir, "%s", vp);
    *strrchr(dir, '/') = '\0';
    static const char *files[] = {
        "array", "binary", "boolean", "code", "code_w_scope", "datetime",
        "dbpointer", "decimal128-1", "document", "double", "int32", "int64",
        "maxkey", "minkey", "null", "oid", "regex", "string", "symbol",
        "timestamp", "top", "undefined"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/tests/%s.json", dir, files[i]);
        bad += cover_decode_errors(path, &nerr, &accepted);
    }
    printf("# %d corpus keys, %d variants, %d decodeErrors documents: %d "
           "accepted, %d of them refused by libbson\n",
           n, tried, nerr, accepted, bad);
    CHECK(nerr > 40);
    CHECK(accepted > 1000);
    CHECK_EQ(bad, 0);
    pool_free();
}

/* Two ObjectId keys compare as their 12 bytes do (wri_key_cmp's short
 * way for them), pairs sharing prefixes of every length and equal ones;
 * an ObjectId key against a longer key with the same ObjectId first, or
 * with a length prefix that disagrees, still goes the general way. */
/* wri_key_check's ObjectId shortcut ({ "": oid } in 19 bytes): every
 * byte of such a key set to every value. Whatever is accepted is one
 * element with an empty name that libbson validates; the shape itself is
 * accepted as one element and refused where two are wanted, with the
 * general check's reason. */
static void test_bsonkey_key_check_oid_shape(void)
{
    uint8_t k[19] = {19, 0, 0, 0, 0x07, 0};
    int accepted = 0, bad = 0;
    for (int i = 0; i < 12; i++)
        k[6 + i] = (uint8_t)(0x5f + 13 * i);
    for (size_t at = 0; at < sizeof k; at++)
        for (int v = 0; v < 256; v++) {
            uint8_t m[19];
            char why[160];
            memcpy(m, k, sizeof m);
            m[at] = (uint8_t)v;
            bool shape = wri_get32(m) == 19 && m[4] == 0x07 && m[5] == 0 &&
                         m[18] == 0;
            for (int nelem = 0; nelem <= 2; nelem++) {
                int rc = wri_key_check(m, sizeof m, nelem, why, sizeof why);
                if (shape && (nelem < 2) != (rc == WR_OK) && bad++ < 5)
                    TAP_FAIL("byte %zu = %d, nelem %d: rc %d", at, v, nelem,
                             rc);
                if (shape && nelem == 2 &&
                    strcmp(why, "key has 1 elements, expected 2") != 0 &&
                    bad++ < 5)
                    TAP_FAIL("byte %zu = %d: \"%s\"", at, v, why);
                if (rc != WR_OK || nelem == 2)
                    continue;
                accepted++;
                bson_t b;
                bson_iter_t it;
                size_t off;
                if ((!bson_init_static(&b, m, sizeof m) ||
                     !bson_validate(&b, BSON_VALIDATE_NONE, &off) ||
                     !bson_iter_init(&it, &b) || !bson_iter_next(&it) ||
                     bson_iter_key(&it)[0] != '\0' || bson_iter_next(&it)) &&
                    bad++ < 5)
                    TAP_FAIL("byte %zu = %d accepted as a key", at, v);
            }
        }
    CHECK(bad == 0);
    CHECK(accepted >= 2 * 12 * 256);
    printf("# %d of %d accepted\n", accepted, 19 * 256 * 2);
}

static void test_bsonkey_oid_keys_order_is_their_bytes(void)
{
    for (int round = 0; round < 20000; round++) {
        uint8_t a[19] = {19, 0, 0, 0, 0x07, 0}, b[19];
        for (int i = 6; i < 18; i++)
            a[i] = (uint8_t)rnd();
        a[18] = 0;
        memcpy(b, a, sizeof b);
        int at = (int)rndn(13); /* the first byte that differs; 12: none */
        if (at < 12)
            b[6 + at] = (uint8_t)(b[6 + at] + 1 + rndn(255));
        for (int i = at + 1; i < 12; i++) /* and the rest at random */
            b[6 + i] = (uint8_t)rnd();
        int want = memcmp(a + 6, b + 6, 12);
        want = (want > 0) - (want < 0);
        int got = wri_key_cmp(a, sizeof a, b, sizeof b);
        int back = wri_key_cmp(b, sizeof b, a, sizeof a);
        if (got != want || back != -want)
            TAP_FAIL("round %d: differ at %d: %d and %d, want %d", round, at,
                     got, back, want);
    }
    /* { "": oid, "": 1 } after { "": oid } with the same oid */
    bson_t k1 = BSON_INITIALIZER, k2 = BSON_INITIALIZER;
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, "5fee6600645eece27f795238");
    bson_append_oid(&k1, "", 0, &oid);
    bson_append_oid(&k2, "", 0, &oid);
    bson_append_int32(&k2, "", 0, 1);
    REQUIRE(k1.len == 19);
    CHECK(wri_key_cmp(bson_get_data(&k1), k1.len, bson_get_data(&k2),
                      k2.len) < 0);
    CHECK(wri_key_cmp(bson_get_data(&k2), k2.len, bson_get_data(&k1),
                      k1.len) > 0);
    CHECK(wri_key_cmp(bson_get_data(&k1), k1.len, bson_get_data(&k1),
                      k1.len) == 0);
    bson_destroy(&k1);
    bson_destroy(&k2);
}

int main(void)
{
    RUN(test_bsonkey_type_bracket_order);
    RUN(test_bsonkey_numbers_equal_across_types);
    RUN(test_bsonkey_nan_and_negative_zero);
    RUN(test_bsonkey_int64_double_boundaries);
    RUN(test_bsonkey_decimal128_vs_double);
    RUN(test_bsonkey_bsonval_cmp_on_named_elements);
    RUN(test_bsonkey_nested_documents_and_arrays);
    RUN(test_bsonkey_strings_with_embedded_nul);
    RUN(test_bsonkey_binary_oid_bool_date_timestamp_regex);
    RUN(test_bsonkey_oid_keys_order_is_their_bytes);
    RUN(test_bsonkey_key_from_doc);
    RUN(test_bsonkey_key_to_json);
    RUN(test_bsonkey_index_keys_dotted_path);
    RUN(test_bsonkey_index_keys_array_of_docs);
    RUN(test_bsonkey_index_keys_missing_field);
    RUN(test_bsonkey_index_keys_empty_array);
    RUN(test_bsonkey_index_keys_duplicates);
    RUN(test_bsonkey_index_keys_errors);
    RUN(test_bsonkey_oddly_named_array_makes_no_output);
    RUN(test_bsonkey_order_is_total_over_corpus_and_random_values);
    RUN(test_bsonkey_key_check_covers_libbson_over_corpus);
    RUN(test_bsonkey_key_check_rejects_bad_structure);
    RUN(test_bsonkey_key_check_fuzz);
    RUN(test_bsonkey_key_check_oid_shape);
    return tap_done();
}
