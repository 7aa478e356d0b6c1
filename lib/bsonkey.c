/*
 * bsonkey.c -- B-tree keys made of BSON values, compared in MongoDB order.
 *
 * The order is the one bsonkey.h states; this file fixes the details the
 * header leaves open:
 *
 *  1. Type ranks (lowest first), following the server's
 *     canonicalizeBSONType():
 *        MinKey, undefined, null, numbers, string/symbol, object, array,
 *        binary, ObjectId, boolean, date, timestamp, regex, dbPointer,
 *        code, code-with-scope, MaxKey.
 *     undefined and null share MongoDB's "null" bracket but are not equal:
 *     undefined sorts just below null, as in the server's key format.
 *     Symbol and string are one rank and compare as strings.
 *  2. Numbers compare by exact mathematical value, whatever the mix of
 *     int32, int64, double and decimal128: 2^53+1 (int64) > 2^53 (double),
 *     INT64_MAX < 2^63 (double), 0.1 (double) > 0.1 (decimal128, because
 *     the double is 0.1000000000000000055...). Every NaN (double, decimal
 *     qNaN or sNaN) equals every other NaN and sorts below -Infinity;
 *     -0 equals 0; +-Infinity of either type are equal to each other.
 *     (The server rounds a double to 34 digits before comparing it with a
 *     decimal; we compare exactly instead, which keeps the order total and
 *     transitive. They differ only for values equal in 34 digits.)
 *     How: int/int, double/double and int/double compare natively (the
 *     int/double case by truncation, exact below 2^63). With a decimal128
 *     in the pair, ints become decimals (coefficient |i|, exponent 0);
 *     decimal/decimal aligns coefficients at the same adjusted exponent
 *     in 128-bit arithmetic (< 10^34 < 2^113, no overflow); decimal/double
 *     first compares orders of magnitude (log10 estimate with a margin of
 *     one decade) and otherwise compares c * 10^q with m * 2^e exactly in
 *     a fixed-size on-stack big integer (no allocation).
 *  3. decimal128 decoding is BID (IEEE 754-2008 binary encoding): sign bit,
 *     14-bit exponent (bias 6176), 113-bit coefficient; the "11"
 *     combination-field form and coefficients >= 10^34 are non-canonical
 *     and read as zero, as the standard says.
 *  4. Strings, code, symbols: bytes (memcmp), then length (embedded NULs
 *     count). Objects: element by element -- type rank, then field name
 *     (bytes, then length), then value; fewer elements first. Arrays:
 *     element by element by value (names ignored); shorter first. Binary:
 *     length, subtype, bytes. dbPointer: namespace length, namespace
 *     bytes, ObjectId (the server compares the value's size, then bytes).
 *     Code-with-scope: code string, then scope as an object.
 *  5. Index keys (wri_index_keys), path a.b.c: a missing field is null;
 *     a document continues the path; an array the path continues through
 *     contributes, for each element, the element's values if it is a
 *     document and null otherwise (a scalar or a nested array has no
 *     field b: arrays directly inside arrays are not traversed); an
 *     array at the end of the path contributes each element once (one
 *     level: [[1, 2], 3] gives [1, 2] and 3); an empty array gives null
 *     (the server uses undefined at the leaf; we follow DESIGN.md).
 *     Path components are field names only: "a.0" looks for a field "0",
 *     it is not positional. Equal values (by this order) are indexed once,
 *     keeping the first in document order, and the callback sees the
 *     keys in ascending order.
 *  6. wri_key_cmp has an inline path for elements of the same common type
 *     (int32, int64, ObjectId, string) with empty names; every other
 *     element goes through the general comparator. Values are copied into
 *     keys as raw bytes: bson_append_iter prints to stderr on an array
 *     whose first element is not named "0".
 *
 * Comparison never allocates and never fails. On bytes that are not valid
 * (which callers promise never happens) it still stays inside the buffers
 * and returns some answer; only wri_key_check bounds the nesting, so
 * compare checked keys.
 *
 * Keys are bounded: a key may nest documents/arrays at most
 * WRI_KEY_MAX_DEPTH levels deep, so the recursive comparator is safe.
 */
#include "wr_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

__extension__ typedef unsigned __int128 bk_u128;

/* BSON type bytes. */
enum {
    T_DOUBLE = 0x01, T_UTF8 = 0x02, T_DOC = 0x03, T_ARRAY = 0x04,
    T_BINARY = 0x05, T_UNDEF = 0x06, T_OID = 0x07, T_BOOL = 0x08,
    T_DATE = 0x09, T_NULL = 0x0A, T_REGEX = 0x0B, T_DBPTR = 0x0C,
    T_CODE = 0x0D, T_SYMBOL = 0x0E, T_CODEWS = 0x0F, T_INT32 = 0x10,
    T_TIMESTAMP = 0x11, T_INT64 = 0x12, T_DEC128 = 0x13,
    T_MAXKEY = 0x7F, T_MINKEY = 0xFF,
};

/* Type ranks (decision 1). */
enum {
    R_MINKEY = 1, R_UNDEF, R_NULL, R_NUM, R_STR, R_OBJ, R_ARR, R_BIN,
    R_OID, R_BOOL, R_DATE, R_TS, R_REGEX, R_DBPTR, R_CODE, R_CODEWS,
    R_MAXKEY, R_UNKNOWN,
};

static int bk_rank(uint8_t t)
{
    switch (t) {
    case T_MINKEY: return R_MINKEY;
    case T_UNDEF: return R_UNDEF;
    case T_NULL: return R_NULL;
    case T_DOUBLE: case T_INT32: case T_INT64: case T_DEC128: return R_NUM;
    case T_UTF8: case T_SYMBOL: return R_STR;
    case T_DOC: return R_OBJ;
    case T_ARRAY: return R_ARR;
    case T_BINARY: return R_BIN;
    case T_OID: return R_OID;
    case T_BOOL: return R_BOOL;
    case T_DATE: return R_DATE;
    case T_TIMESTAMP: return R_TS;
    case T_REGEX: return R_REGEX;
    case T_DBPTR: return R_DBPTR;
    case T_CODE: return R_CODE;
    case T_CODEWS: return R_CODEWS;
    case T_MAXKEY: return R_MAXKEY;
    default: return R_UNKNOWN;
    }
}

#define BK_CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* ------------------------------------------------------------------ */
/* Raw element walking                                                 */

/* One element: its type, name and value bytes. */
typedef struct bk_elem {
    uint8_t type;
    const uint8_t *name;
    size_t namelen;
    const uint8_t *val;
    size_t vlen;
} bk_elem;

/* Iterator over a document's elements: p is the next type byte, end the
 * document's terminating NUL. */
typedef struct bk_iter {
    const uint8_t *p;
    const uint8_t *end;
    bool bad; /* stopped at a malformed element */
} bk_iter;

static size_t bk_cstrlen(const uint8_t *s, size_t avail)
{
    const uint8_t *z = memchr(s, 0, avail);
    return z == NULL ? SIZE_MAX : (size_t)(z - s);
}

/* Size of a value of type t at v, which has avail bytes; false if it does
 * not fit or its length fields are impossible. */
static bool bk_val_size(uint8_t t, const uint8_t *v, size_t avail,
                        size_t *size_out)
{
    size_t n, m;
    int32_t l, l2;

    switch (t) {
    case T_UNDEF: case T_NULL: case T_MINKEY: case T_MAXKEY:
        n = 0;
        break;
    case T_BOOL:
        n = 1;
        break;
    case T_INT32:
        n = 4;
        break;
    case T_DOUBLE: case T_DATE: case T_TIMESTAMP: case T_INT64:
        n = 8;
        break;
    case T_OID:
        n = 12;
        break;
    case T_DEC128:
        n = 16;
        break;
    case T_UTF8: case T_CODE: case T_SYMBOL: case T_DBPTR:
        if (avail < 4)
            return false;
        l = (int32_t)wri_get32(v);
        if (l < 1 || (size_t)l > avail - 4 || v[4 + (size_t)l - 1] != 0)
            return false;
        n = 4 + (size_t)l;
        if (t == T_DBPTR)
            n += 12;
        break;
    case T_DOC: case T_ARRAY:
        if (avail < 5)
            return false;
        l = (int32_t)wri_get32(v);
        if (l < 5 || (size_t)l > avail || v[l - 1] != 0)
            return false;
        n = (size_t)l;
        break;
    case T_BINARY:
        if (avail < 5)
            return false;
        l = (int32_t)wri_get32(v);
        if (l < 0 || (size_t)l > avail - 5)
            return false;
        n = 5 + (size_t)l;
        break;
    case T_REGEX:
        if ((n = bk_cstrlen(v, avail)) == SIZE_MAX)
            return false;
        n++;
        if ((m = bk_cstrlen(v + n, avail - n)) == SIZE_MAX)
            return false;
        n += m + 1;
        break;
    case T_CODEWS:
        /* int32 total, string (int32 len, bytes, NUL), document */
        if (avail < 14)
            return false;
        l = (int32_t)wri_get32(v);
        l2 = (int32_t)wri_get32(v + 4);
        if (l < 14 || (size_t)l > avail || l2 < 1 || l2 > l - 13 ||
            v[8 + l2 - 1] != 0)
            return false;
        if ((int32_t)wri_get32(v + 8 + l2) != l - 8 - l2 || v[l - 1] != 0)
            return false;
        n = (size_t)l;
        break;
    default:
        return false;
    }
    if (n > avail)
        return false;
    *size_out = n;
    return true;
}

/* Start iterating the document at d (len bytes available, len >= 5). */
static void bk_iter_init(bk_iter *it, const uint8_t *d, size_t avail)
{
    size_t len = avail >= 5 ? (size_t)wri_get32(d) : 0;
    it->bad = false;
    if (len < 5 || len > avail) {
        it->p = it->end = d; /* empty: never happens on valid input */
        it->bad = true;
        return;
    }
    it->p = d + 4;
    it->end = d + len - 1;
}

/* Next element; false at the end (or on malformed bytes). */
static bool bk_iter_next(bk_iter *it, bk_elem *e)
{
    const uint8_t *p = it->p;
    size_t avail, nl, vs;

    if (it->bad || p >= it->end || p[0] == 0)
        return false;
    e->type = p[0];
    e->name = p + 1;
    avail = (size_t)(it->end - e->name);
    if (avail > 0 && e->name[0] == 0) {
        nl = 0; /* the common case in keys: an empty name */
    } else if ((nl = bk_cstrlen(e->name, avail)) == SIZE_MAX) {
        it->bad = true;
        return false;
    }
    e->namelen = nl;
    e->val = e->name + nl + 1;
    avail = (size_t)(it->end - e->val);
    if (!bk_val_size(e->type, e->val, avail, &vs)) {
        it->bad = true;
        return false;
    }
    e->vlen = vs;
    it->p = e->val + vs;
    return true;
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */

enum { N_NAN = 0, N_NEGINF = 1, N_FINITE = 2, N_POSINF = 3 };
enum { K_INT, K_DBL, K_DEC };

/* A finite number's sign and magnitude, for the mixed-with-decimal path:
 * K_DEC: coef * 10^exp; K_DBL: coef * 2^exp. */
typedef struct bk_num {
    int cls;
    int sign; /* -1, 0, +1 */
    int kind;
    bk_u128 coef;
    int exp;
} bk_num;

static double bk_get_double(const uint8_t *v)
{
    uint64_t u = wri_get64(v);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static int bk_cmp_double(double a, double b)
{
    bool na = isnan(a), nb = isnan(b);
    if (na || nb)
        return (int)nb - (int)na; /* NaN lowest, NaN == NaN */
    return BK_CMP(a, b);
}

/* Exact int64 vs double. */
static int bk_cmp_i64_double(int64_t i, double d)
{
    if (isnan(d))
        return 1;
    if (d >= 9223372036854775808.0) /* 2^63 */
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    /* |d| < 2^63 or d == -2^63: the truncation is exact and fits. */
    double t = trunc(d);
    int64_t ti = (int64_t)t;
    if (i != ti)
        return BK_CMP(i, ti);
    double frac = d - t; /* exact */
    return BK_CMP(0.0, frac);
}

static bk_u128 bk_pow10(int k)
{
    static const uint64_t p64[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
        10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
        100000000000ULL, 1000000000000ULL, 10000000000000ULL,
        100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL,
        10000000000000000000ULL,
    };
    if (k < 20)
        return p64[k];
    return (bk_u128)p64[19] * p64[k - 19]; /* k <= 38 */
}

/* Number of decimal digits of c > 0 (c < 10^34). */
static int bk_digits(bk_u128 c)
{
    int d = 1;
    while (d < 38 && c >= bk_pow10(d))
        d++;
    return d;
}

static int bk_bitlen128(bk_u128 c)
{
    int n = 0;
    while (c) {
        n++;
        c >>= 1;
    }
    return n;
}

/* Decode a BID decimal128 (decision 3). */
static void bk_dec_decode(const uint8_t *v, bk_num *n)
{
    uint64_t lo = wri_get64(v), hi = wri_get64(v + 8);
    int neg = (int)(hi >> 63);
    uint32_t biased;

    n->kind = K_DEC;
    if ((hi & 0x7C00000000000000ULL) == 0x7C00000000000000ULL) {
        n->cls = N_NAN; /* qNaN and sNaN */
        n->sign = 0;
        return;
    }
    if ((hi & 0x7800000000000000ULL) == 0x7800000000000000ULL) {
        n->cls = neg ? N_NEGINF : N_POSINF;
        n->sign = neg ? -1 : 1;
        return;
    }
    n->cls = N_FINITE;
    if ((hi & 0x6000000000000000ULL) == 0x6000000000000000ULL) {
        /* "11" form: implied coefficient >= 2^113 > 10^34 - 1. */
        biased = (uint32_t)((hi >> 47) & 0x3FFF);
        n->coef = 0;
    } else {
        biased = (uint32_t)((hi >> 49) & 0x3FFF);
        n->coef = ((bk_u128)(hi & 0x1FFFFFFFFFFFFULL) << 64) | lo;
        if (n->coef >= bk_pow10(34))
            n->coef = 0;
    }
    n->exp = (int)biased - 6176;
    n->sign = n->coef == 0 ? 0 : (neg ? -1 : 1);
}

static void bk_int_decode(int64_t i, bk_num *n)
{
    n->cls = N_FINITE;
    n->kind = K_DEC;
    n->exp = 0;
    n->sign = BK_CMP(i, 0);
    n->coef = i < 0 ? (bk_u128)(0 - (uint64_t)i) : (bk_u128)(uint64_t)i;
}

static void bk_double_decode(double d, bk_num *n)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    int neg = (int)(u >> 63);
    uint32_t be = (uint32_t)((u >> 52) & 0x7FF);
    uint64_t frac = u & 0xFFFFFFFFFFFFFULL;

    n->kind = K_DBL;
    if (be == 0x7FF) {
        n->cls = frac ? N_NAN : (neg ? N_NEGINF : N_POSINF);
        n->sign = frac ? 0 : (neg ? -1 : 1);
        return;
    }
    n->cls = N_FINITE;
    if (be == 0) {
        n->coef = frac;
        n->exp = -1074;
    } else {
        n->coef = frac | (1ULL << 52);
        n->exp = (int)be - 1075;
    }
    n->sign = n->coef == 0 ? 0 : (neg ? -1 : 1);
}

/* |a| vs |b| for two nonzero decimals. */
static int bk_mag_dec_dec(const bk_num *a, const bk_num *b)
{
    int da = bk_digits(a->coef), db = bk_digits(b->coef);
    int aa = a->exp + da, ab = b->exp + db;
    bk_u128 ca = a->coef, cb = b->coef;

    if (aa != ab)
        return BK_CMP(aa, ab);
    if (da < db)
        ca *= bk_pow10(db - da);
    else if (db < da)
        cb *= bk_pow10(da - db);
    return BK_CMP(ca, cb);
}

/* A fixed-size unsigned big integer, little-endian 32-bit limbs. The
 * largest value needed is below 2^2300 (see bk_mag_dec_dbl). */
#define BK_BIG_LIMBS 80
typedef struct bk_big {
    uint32_t w[BK_BIG_LIMBS];
    int n; /* limbs in use; w[n-1] != 0 unless n == 0 */
} bk_big;

static void bk_big_set(bk_big *b, bk_u128 v)
{
    b->n = 0;
    while (v) {
        b->w[b->n++] = (uint32_t)v;
        v >>= 32;
    }
}

static void bk_big_mul(bk_big *b, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t x = (uint64_t)b->w[i] * m + carry;
        b->w[i] = (uint32_t)x;
        carry = x >> 32;
    }
    if (carry && b->n < BK_BIG_LIMBS)
        b->w[b->n++] = (uint32_t)carry;
}

static void bk_big_mul_pow10(bk_big *b, int k)
{
    for (; k >= 9; k -= 9)
        bk_big_mul(b, 1000000000u);
    if (k > 0)
        bk_big_mul(b, (uint32_t)bk_pow10(k));
}

static void bk_big_shl(bk_big *b, int bits)
{
    int limbs = bits / 32, r = bits % 32;
    if (b->n == 0)
        return;
    if (b->n + limbs + 1 > BK_BIG_LIMBS) {
        b->n = 0; /* cannot happen: bk_mag_dec_dbl bounds the operands */
        return;
    }
    b->w[b->n + limbs] = 0;
    for (int i = b->n - 1; i >= 0; i--) {
        uint32_t x = b->w[i];
        if (r) {
            b->w[i + limbs + 1] |= x >> (32 - r);
            b->w[i + limbs] = x << r;
        } else {
            b->w[i + limbs] = x;
        }
    }
    for (int i = 0; i < limbs; i++)
        b->w[i] = 0;
    b->n += limbs + 1;
    while (b->n > 0 && b->w[b->n - 1] == 0)
        b->n--;
}

static int bk_big_cmp(const bk_big *a, const bk_big *b)
{
    if (a->n != b->n)
        return BK_CMP(a->n, b->n);
    for (int i = a->n - 1; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return BK_CMP(a->w[i], b->w[i]);
    return 0;
}

/* |dec| vs |dbl|, both nonzero and finite. */
static int bk_mag_dec_dbl(const bk_num *dec, const bk_num *dbl)
{
    /* dec in [10^A, 10^(A+1)), dbl in [2^(B-1), 2^B). */
    int A = dec->exp + bk_digits(dec->coef) - 1;
    int B = bk_bitlen128(dbl->coef) + dbl->exp;
    const double log10_2 = 0.30102999566398120;
    bk_big l, r;

    if ((double)A > B * log10_2 + 1.0)
        return 1;
    if ((double)(A + 1) < (B - 1) * log10_2 - 1.0)
        return -1;
    /* Here B is in [-1073, 1024] so A is in [-327, 310] and the decimal
     * exponent in [-360, 310]; every operand below stays under 2^2300. */
    bk_big_set(&l, dec->coef);
    bk_big_set(&r, dbl->coef);
    if (dec->exp >= 0)
        bk_big_mul_pow10(&l, dec->exp);
    else
        bk_big_mul_pow10(&r, -dec->exp);
    if (dbl->exp >= 0)
        bk_big_shl(&r, dbl->exp);
    else
        bk_big_shl(&l, -dbl->exp);
    return bk_big_cmp(&l, &r);
}

/* Compare two decoded numbers of which at least one is a decimal. */
static int bk_cmp_num_general(const bk_num *a, const bk_num *b)
{
    int m;
    if (a->cls != b->cls || a->cls != N_FINITE)
        return BK_CMP(a->cls, b->cls);
    if (a->sign != b->sign)
        return BK_CMP(a->sign, b->sign);
    if (a->sign == 0)
        return 0;
    if (a->kind == K_DEC && b->kind == K_DEC)
        m = bk_mag_dec_dec(a, b);
    else if (a->kind == K_DEC)
        m = bk_mag_dec_dbl(a, b);
    else
        m = -bk_mag_dec_dbl(b, a);
    return a->sign < 0 ? -m : m;
}

static int64_t bk_get_int(uint8_t t, const uint8_t *v)
{
    return t == T_INT32 ? (int64_t)(int32_t)wri_get32(v)
                        : (int64_t)wri_get64(v);
}

static int bk_cmp_num(uint8_t ta, const uint8_t *va, uint8_t tb,
                      const uint8_t *vb)
{
    bool ia = ta == T_INT32 || ta == T_INT64;
    bool ib = tb == T_INT32 || tb == T_INT64;
    bk_num na, nb;

    if (ia && ib) {
        int64_t x = bk_get_int(ta, va), y = bk_get_int(tb, vb);
        return BK_CMP(x, y);
    }
    if (ta == T_DOUBLE && tb == T_DOUBLE)
        return bk_cmp_double(bk_get_double(va), bk_get_double(vb));
    if (ia && tb == T_DOUBLE)
        return bk_cmp_i64_double(bk_get_int(ta, va), bk_get_double(vb));
    if (ta == T_DOUBLE && ib)
        return -bk_cmp_i64_double(bk_get_int(tb, vb), bk_get_double(va));
    /* at least one decimal128 */
    if (ta == T_DEC128)
        bk_dec_decode(va, &na);
    else if (ia)
        bk_int_decode(bk_get_int(ta, va), &na);
    else
        bk_double_decode(bk_get_double(va), &na);
    if (tb == T_DEC128)
        bk_dec_decode(vb, &nb);
    else if (ib)
        bk_int_decode(bk_get_int(tb, vb), &nb);
    else
        bk_double_decode(bk_get_double(vb), &nb);
    return bk_cmp_num_general(&na, &nb);
}

/* ------------------------------------------------------------------ */
/* Values                                                              */

static int bk_cmp_bytes(const uint8_t *a, size_t la, const uint8_t *b,
                        size_t lb)
{
    size_t n = WRI_MIN(la, lb);
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return BK_CMP(la, lb);
}

/* A string value (int32 length including NUL, bytes, NUL). */
static int bk_cmp_str(const uint8_t *a, const uint8_t *b)
{
    return bk_cmp_bytes(a + 4, wri_get32(a) - 1, b + 4, wri_get32(b) - 1);
}

static int bk_cmp_val(const bk_elem *a, const bk_elem *b);

static int bk_cmp_doc(const uint8_t *a, size_t la, const uint8_t *b,
                      size_t lb, bool is_array)
{
    bk_iter ia, ib;
    bk_elem ea, eb;
    int c;

    bk_iter_init(&ia, a, la);
    bk_iter_init(&ib, b, lb);
    for (;;) {
        bool ha = bk_iter_next(&ia, &ea), hb = bk_iter_next(&ib, &eb);
        if (!ha || !hb)
            return (int)ha - (int)hb;
        if (!is_array) {
            int ra = bk_rank(ea.type), rb = bk_rank(eb.type);
            if (ra != rb)
                return BK_CMP(ra, rb);
            c = bk_cmp_bytes(ea.name, ea.namelen, eb.name, eb.namelen);
            if (c)
                return c;
        }
        if ((c = bk_cmp_val(&ea, &eb)) != 0)
            return c;
    }
}

static int bk_cmp_val(const bk_elem *a, const bk_elem *b)
{
    const uint8_t *va = a->val, *vb = b->val;
    int ra, rb, c;

    if (a->type == b->type) {
        switch (a->type) { /* fast paths */
        case T_INT32: {
            int32_t x = (int32_t)wri_get32(va), y = (int32_t)wri_get32(vb);
            return BK_CMP(x, y);
        }
        case T_INT64: {
            int64_t x = (int64_t)wri_get64(va), y = (int64_t)wri_get64(vb);
            return BK_CMP(x, y);
        }
        case T_DOUBLE:
            return bk_cmp_double(bk_get_double(va), bk_get_double(vb));
        case T_UTF8:
            return bk_cmp_str(va, vb);
        case T_OID:
            c = memcmp(va, vb, 12);
            return BK_CMP(c, 0);
        default:
            break;
        }
    }
    ra = bk_rank(a->type);
    rb = bk_rank(b->type);
    if (ra != rb)
        return BK_CMP(ra, rb);
    switch (ra) {
    case R_MINKEY: case R_MAXKEY: case R_UNDEF: case R_NULL:
        return 0;
    case R_NUM:
        return bk_cmp_num(a->type, va, b->type, vb);
    case R_STR: case R_CODE:
        return bk_cmp_str(va, vb);
    case R_OBJ:
        return bk_cmp_doc(va, a->vlen, vb, b->vlen, false);
    case R_ARR:
        return bk_cmp_doc(va, a->vlen, vb, b->vlen, true);
    case R_BIN: {
        uint32_t la = wri_get32(va), lb = wri_get32(vb);
        if (la != lb)
            return BK_CMP(la, lb);
        if (va[4] != vb[4])
            return BK_CMP(va[4], vb[4]);
        return bk_cmp_bytes(va + 5, la, vb + 5, lb);
    }
    case R_OID:
        c = memcmp(va, vb, 12);
        return BK_CMP(c, 0);
    case R_BOOL:
        return BK_CMP(va[0] != 0, vb[0] != 0);
    case R_DATE: {
        int64_t x = (int64_t)wri_get64(va), y = (int64_t)wri_get64(vb);
        return BK_CMP(x, y);
    }
    case R_TS: {
        uint64_t x = wri_get64(va), y = wri_get64(vb); /* t high, i low */
        return BK_CMP(x, y);
    }
    case R_REGEX: {
        size_t pa = strlen((const char *)va), pb = strlen((const char *)vb);
        if ((c = bk_cmp_bytes(va, pa, vb, pb)) != 0)
            return c;
        return bk_cmp_bytes(va + pa + 1, strlen((const char *)va + pa + 1),
                            vb + pb + 1, strlen((const char *)vb + pb + 1));
    }
    case R_DBPTR: {
        uint32_t la = wri_get32(va), lb = wri_get32(vb);
        if (la != lb)
            return BK_CMP(la, lb);
        if ((c = bk_cmp_str(va, vb)) != 0)
            return c;
        c = memcmp(va + 4 + la, vb + 4 + lb, 12);
        return BK_CMP(c, 0);
    }
    case R_CODEWS: {
        uint32_t sa = wri_get32(va + 4), sb = wri_get32(vb + 4);
        if ((c = bk_cmp_str(va + 4, vb + 4)) != 0)
            return c;
        return bk_cmp_doc(va + 8 + sa, a->vlen - 8 - sa, vb + 8 + sb,
                          b->vlen - 8 - sb, false);
    }
    default: /* unknown types never pass wri_key_check */
        return BK_CMP(a->type, b->type);
    }
}

/* Fill e from a libbson iterator positioned on an element. The iterator
 * has already checked that the element fits in its document. */
static void bk_elem_from_iter(const bson_iter_t *it, bk_elem *e)
{
    const char *key = bson_iter_key(it);
    size_t vs;

    e->type = (uint8_t)bson_iter_type(it);
    e->name = (const uint8_t *)key;
    e->namelen = bson_iter_key_len(it);
    e->val = e->name + e->namelen + 1;
    if (!bk_val_size(e->type, e->val, (size_t)INT32_MAX, &vs))
        vs = 0;
    e->vlen = vs;
}

int wri_bsonval_cmp(const bson_iter_t *a, const bson_iter_t *b)
{
    bk_elem ea, eb;
    bk_elem_from_iter(a, &ea);
    bk_elem_from_iter(b, &eb);
    return bk_cmp_val(&ea, &eb);
}

/* The key of an ObjectId _id, { "": oid } in exactly 19 bytes: the
 * commonest key there is. */
static bool bk_oid_key(const uint8_t *k, size_t len)
{
    return len == 19 && wri_get32(k) == 19 && k[4] == T_OID && k[5] == 0;
}

int wri_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    bk_iter ia, ib;
    bk_elem ea, eb;
    int c;

    /* Two ObjectId keys: the order of their 12 bytes, as the loop below
     * finds it, without its iterators (verify's order checks, the
     * sorter). */
    if (bk_oid_key(a, alen) && bk_oid_key(b, blen)) {
        uint64_t x = __builtin_bswap64(wri_get64(a + 6));
        uint64_t y = __builtin_bswap64(wri_get64(b + 6));
        if (x != y)
            return BK_CMP(x, y);
        uint32_t x2 = __builtin_bswap32(wri_get32(a + 14));
        uint32_t y2 = __builtin_bswap32(wri_get32(b + 14));
        return BK_CMP(x2, y2);
    }
    bk_iter_init(&ia, a, alen);
    bk_iter_init(&ib, b, blen);
    for (;;) {
        const uint8_t *pa = ia.p, *pb = ib.p;
        /* Fast path: same common type, empty names (every key element). */
        if (ia.end - pa >= 2 && ib.end - pb >= 2 && pa[0] == pb[0] &&
            pa[1] == 0 && pb[1] == 0 && !ia.bad && !ib.bad) {
            const uint8_t *va = pa + 2, *vb = pb + 2;
            size_t ra = (size_t)(ia.end - va), rb = (size_t)(ib.end - vb);
            size_t n = 0;
            switch (pa[0]) {
            case T_INT32:
                if (ra >= 4 && rb >= 4) {
                    int32_t x = (int32_t)wri_get32(va);
                    int32_t y = (int32_t)wri_get32(vb);
                    if (x != y)
                        return BK_CMP(x, y);
                    n = 4;
                }
                break;
            case T_INT64:
                if (ra >= 8 && rb >= 8) {
                    int64_t x = (int64_t)wri_get64(va);
                    int64_t y = (int64_t)wri_get64(vb);
                    if (x != y)
                        return BK_CMP(x, y);
                    n = 8;
                }
                break;
            case T_OID:
                if (ra >= 12 && rb >= 12) {
                    if ((c = memcmp(va, vb, 12)) != 0)
                        return BK_CMP(c, 0);
                    n = 12;
                }
                break;
            case T_UTF8:
                if (ra >= 5 && rb >= 5) {
                    uint32_t la = wri_get32(va), lb = wri_get32(vb);
                    if (la >= 1 && lb >= 1 && la <= ra - 4 && lb <= rb - 4) {
                        if ((c = bk_cmp_bytes(va + 4, la - 1, vb + 4,
                                              lb - 1)) != 0)
                            return c;
                        /* equal strings: equal lengths */
                        ia.p = va + 4 + la;
                        ib.p = vb + 4 + lb;
                        continue;
                    }
                }
                break;
            default:
                break;
            }
            if (n) {
                ia.p = va + n;
                ib.p = vb + n;
                continue;
            }
        }
        bool ha = bk_iter_next(&ia, &ea), hb = bk_iter_next(&ib, &eb);
        if (!ha || !hb)
            return (int)ha - (int)hb;
        if ((c = bk_cmp_val(&ea, &eb)) != 0)
            return c;
    }
}

/* ------------------------------------------------------------------ */
/* Checking                                                            */

/* Check the document at d (exactly len bytes) and everything inside it.
 * depth is the nesting level of d (the key document is 0). On failure
 * writes a reason naming the byte offset (relative to base). */
static bool bk_check_doc(const uint8_t *d, size_t len, int depth,
                         const uint8_t *base, int *count_out,
                         bool names_empty, char *why, size_t whylen)
{
    bk_iter it;
    bk_elem e;
    int count = 0;

    if (depth > WRI_KEY_MAX_DEPTH) {
        snprintf(why, whylen, "offset %zu: nested deeper than %d levels",
                 (size_t)(d - base), WRI_KEY_MAX_DEPTH);
        return false;
    }
    if (len < 5 || wri_get32(d) != len || d[len - 1] != 0) {
        snprintf(why, whylen, "offset %zu: bad document length or terminator",
                 (size_t)(d - base));
        return false;
    }
    bk_iter_init(&it, d, len);
    while (bk_iter_next(&it, &e)) {
        count++;
        if (names_empty && e.namelen != 0) {
            snprintf(why, whylen, "offset %zu: element %d has a name",
                     (size_t)(e.name - 1 - base), count);
            return false;
        }
        if (e.namelen != 0 && !wri_utf8_check(e.name, e.namelen)) {
            snprintf(why, whylen, "offset %zu: element name is not UTF-8",
                     (size_t)(e.name - base));
            return false;
        }
        if (e.type == T_BINARY && e.val[4] == 0x02 &&
            (e.vlen < 9 || wri_get32(e.val + 5) != e.vlen - 9)) {
            snprintf(why, whylen,
                     "offset %zu: old binary (subtype 2) inner length",
                     (size_t)(e.val - base));
            return false;
        }
        if (e.type == T_BOOL && e.val[0] > 1) {
            snprintf(why, whylen, "offset %zu: boolean byte is %u",
                     (size_t)(e.val - base), e.val[0]);
            return false;
        }
        if (e.type == T_DOC || e.type == T_ARRAY) {
            if (!bk_check_doc(e.val, e.vlen, depth + 1, base, NULL, false,
                              why, whylen))
                return false;
        } else if (e.type == T_CODEWS) {
            size_t sl = wri_get32(e.val + 4);
            if (!bk_check_doc(e.val + 8 + sl, e.vlen - 8 - sl, depth + 1,
                              base, NULL, false, why, whylen))
                return false;
        }
    }
    if (it.bad || it.p != it.end) {
        snprintf(why, whylen,
                 "offset %zu: element %d is malformed or overruns its "
                 "document",
                 (size_t)(it.p - base), count + 1);
        return false;
    }
    if (count_out)
        *count_out = count;
    return true;
}

int wri_key_check(const uint8_t *buf, size_t len, int nelem, char *why,
                  size_t whylen)
{
    char dummy[8];
    int count = 0;

    if (why == NULL || whylen == 0) {
        why = dummy;
        whylen = sizeof dummy;
    }
    why[0] = '\0';
    if (buf == NULL || len < 5) {
        snprintf(why, whylen, "key of %zu bytes is shorter than 5", len);
        return WR_ECORRUPT;
    }
    if (len > INT32_MAX || wri_get32(buf) != len) {
        snprintf(why, whylen,
                 "key length prefix %" PRIu32 " does not match its size %zu",
                 wri_get32(buf), len);
        return WR_ECORRUPT;
    }
    /* { "": oid } (bk_oid_key) ending in its NUL: what the general check
     * below accepts as one element, without its iterator (verify checks
     * every key) */
    if (nelem <= 1 && bk_oid_key(buf, len) && buf[len - 1] == 0)
        return WR_OK;
    if (!bk_check_doc(buf, len, 0, buf, &count, true, why, whylen))
        return WR_ECORRUPT;
    if (nelem > 0 ? count != nelem : count < 1) {
        snprintf(why, whylen, "key has %d elements, expected %s%d", count,
                 nelem > 0 ? "" : "at least ", nelem > 0 ? nelem : 1);
        return WR_ECORRUPT;
    }
    return WR_OK;
}

/* Nesting depth of the value at it (0 for a scalar), capped just above
 * limit so that hostile input cannot make this recurse far. */
static int bk_depth(uint8_t t, const uint8_t *v, size_t vlen, int limit)
{
    bk_iter it;
    bk_elem e;
    int max = 0;

    if (t == T_CODEWS) {
        size_t sl = wri_get32(v + 4);
        return bk_depth(T_DOC, v + 8 + sl, vlen - 8 - sl, limit);
    }
    if (t != T_DOC && t != T_ARRAY)
        return 0;
    if (limit <= 0)
        return 1;
    bk_iter_init(&it, v, vlen);
    while (bk_iter_next(&it, &e)) {
        int d = bk_depth(e.type, e.val, e.vlen, limit - 1);
        if (d > max)
            max = d;
    }
    return max + 1;
}

static int bk_iter_depth(const bson_iter_t *it)
{
    bk_elem e;
    bk_elem_from_iter(it, &e);
    return bk_depth(e.type, e.val, e.vlen, WRI_KEY_MAX_DEPTH);
}

/* Append the value at it to dst with an empty name, copying its bytes.
 * (bson_append_iter would do, but libbson prints a warning on stderr for
 * an array whose first element is not named "0", and the library never
 * prints.) False if out of memory or dst would grow too large. */
static bool bk_append_iter(bson_t *dst, const bson_iter_t *it)
{
    uint8_t small[256], *buf = small;
    bk_elem e;
    bson_t one;
    size_t len;
    bool ok;

    bk_elem_from_iter(it, &e);
    len = 4 + 2 + e.vlen + 1;
    if (len > INT32_MAX)
        return false;
    if (len > sizeof small && (buf = malloc(len)) == NULL)
        return false;
    wri_put32(buf, (uint32_t)len);
    buf[4] = e.type;
    buf[5] = 0;
    memcpy(buf + 6, e.val, e.vlen);
    buf[len - 1] = 0;
    ok = bson_init_static(&one, buf, len) && bson_concat(dst, &one);
    if (buf != small)
        free(buf);
    return ok;
}

/* Find the _id of doc; WR_EINVAL if missing or of a type MongoDB refuses,
 * or nested too deep for a key. */
static int bk_find_id(const bson_t *doc, bson_iter_t *id_out, wr_errbuf *eb)
{
    bson_type_t t;

    if (!bson_iter_init_find(id_out, doc, "_id"))
        return WR_ERR(eb, WR_EINVAL, "document has no _id");
    t = bson_iter_type(id_out);
    if (t == BSON_TYPE_ARRAY || t == BSON_TYPE_UNDEFINED ||
        t == BSON_TYPE_REGEX)
        return WR_ERR(eb, WR_EINVAL, "_id cannot be %s",
                      t == BSON_TYPE_ARRAY       ? "an array"
                      : t == BSON_TYPE_UNDEFINED ? "undefined"
                                                 : "a regular expression");
    if (bk_iter_depth(id_out) > WRI_KEY_MAX_DEPTH)
        return WR_ERR(eb, WR_EINVAL, "_id is nested deeper than %d levels",
                      WRI_KEY_MAX_DEPTH);
    return WR_OK;
}

int wri_key_from_doc(const bson_t *doc, bson_t *key_out, wr_errbuf *eb)
{
    bson_iter_t id;
    int rc;

    if ((rc = bk_find_id(doc, &id, eb)) != WR_OK)
        return rc;
    bson_init(key_out);
    if (!bk_append_iter(key_out, &id)) {
        bson_destroy(key_out);
        return WR_ERR(eb, WR_EINVAL, "_id too large for a key");
    }
    return WR_OK;
}

void wri_key_from_iter(const bson_iter_t *val, bson_t *key_out)
{
    bson_init(key_out);
    if (!bk_append_iter(key_out, val))
        bson_append_iter(key_out, "", 0, val); /* out of memory: try this */
}

/* ------------------------------------------------------------------ */
/* Index keys                                                          */

typedef struct ix_val {
    bson_iter_t it;
    size_t ord; /* discovery order: equal values keep the first */
} ix_val;

typedef struct ix_walk {
    char **comp;
    size_t ncomp;
    ix_val *v;
    size_t n, cap;
    bson_iter_t null_it; /* an iterator on a null value */
} ix_walk;

static int ix_push(ix_walk *w, const bson_iter_t *it)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        ix_val *nv = realloc(w->v, cap * sizeof *nv);
        if (nv == NULL)
            return WR_ENOMEM;
        w->v = nv;
        w->cap = cap;
    }
    w->v[w->n].it = *it;
    w->v[w->n].ord = w->n;
    w->n++;
    return WR_OK;
}

static int ix_walk_val(ix_walk *w, const bson_iter_t *val, size_t i);

/* Values at comp[i..] inside the document child iterates (not started). */
static int ix_walk_doc(ix_walk *w, const bson_iter_t *child, size_t i)
{
    bson_iter_t it = *child;
    if (!bson_iter_find(&it, w->comp[i]))
        return ix_push(w, &w->null_it); /* missing: null */
    return ix_walk_val(w, &it, i + 1);
}

/* Values at comp[i..] below the value val (i == ncomp: val itself). */
static int ix_walk_val(ix_walk *w, const bson_iter_t *val, size_t i)
{
    bson_iter_t child;
    size_t seen = 0;
    int rc = WR_OK;

    if (BSON_ITER_HOLDS_ARRAY(val)) {
        if (!bson_iter_recurse(val, &child))
            return WR_EINVAL;
        while (rc == WR_OK && bson_iter_next(&child)) {
            seen++;
            if (i == w->ncomp) {
                rc = ix_push(w, &child); /* leaf array: each element */
            } else if (BSON_ITER_HOLDS_DOCUMENT(&child)) {
                bson_iter_t sub;
                if (!bson_iter_recurse(&child, &sub))
                    return WR_EINVAL;
                rc = ix_walk_doc(w, &sub, i);
            } else {
                rc = ix_push(w, &w->null_it); /* no field in a scalar */
            }
        }
        if (rc == WR_OK && seen == 0)
            rc = ix_push(w, &w->null_it); /* empty array: null */
        return rc;
    }
    if (i == w->ncomp)
        return ix_push(w, val);
    if (BSON_ITER_HOLDS_DOCUMENT(val)) {
        if (!bson_iter_recurse(val, &child))
            return WR_EINVAL;
        return ix_walk_doc(w, &child, i);
    }
    return ix_push(w, &w->null_it);
}

static int ix_val_cmp(const void *pa, const void *pb)
{
    const ix_val *a = pa, *b = pb;
    int c = wri_bsonval_cmp(&a->it, &b->it);
    return c ? c : BK_CMP(a->ord, b->ord);
}

int wri_index_keys(const bson_t *doc, const char *path, wri_index_key_fn fn,
                   void *arg, wr_errbuf *eb)
{
    int rc = WR_OK;
    char *pathcopy = NULL;
    ix_walk w;
    bson_t nulldoc;
    bson_iter_t id, top;
    size_t i;

    memset(&w, 0, sizeof w);
    bson_init(&nulldoc);
    if (path == NULL || path[0] == '\0') {
        rc = WR_ERR(eb, WR_EINVAL, "empty index path");
        goto out;
    }
    if ((rc = bk_find_id(doc, &id, eb)) != WR_OK)
        goto out;
    if ((pathcopy = strdup(path)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory splitting index path");
        goto out;
    }
    w.ncomp = 1;
    for (i = 0; pathcopy[i]; i++)
        w.ncomp += pathcopy[i] == '.';
    if ((w.comp = calloc(w.ncomp, sizeof *w.comp)) == NULL) {
        rc = WR_ERR(eb, WR_ENOMEM, "out of memory splitting index path");
        goto out;
    }
    w.comp[0] = pathcopy;
    for (i = 0, w.ncomp = 1; pathcopy[i]; i++) {
        if (pathcopy[i] == '.') {
            pathcopy[i] = '\0';
            w.comp[w.ncomp++] = pathcopy + i + 1;
        }
    }
    for (i = 0; i < w.ncomp; i++) {
        if (w.comp[i][0] == '\0') {
            rc = WR_ERR(eb, WR_EINVAL,
                        "index path \"%s\" has an empty component", path);
            goto out;
        }
    }
    bson_append_null(&nulldoc, "", 0);
    if (!bson_iter_init(&w.null_it, &nulldoc) || !bson_iter_next(&w.null_it) ||
        !bson_iter_init(&top, doc)) {
        rc = WR_ERR(eb, WR_EINVAL, "document is not valid BSON");
        goto out;
    }
    if ((rc = ix_walk_doc(&w, &top, 0)) != WR_OK) {
        rc = rc == WR_ENOMEM
                 ? WR_ERR(eb, rc, "out of memory collecting index keys")
                 : WR_ERR(eb, rc, "document is not valid BSON at \"%s\"",
                          path);
        goto out;
    }
    for (i = 0; i < w.n; i++) {
        if (bk_iter_depth(&w.v[i].it) > WRI_KEY_MAX_DEPTH) {
            rc = WR_ERR(eb, WR_EINVAL,
                        "value at \"%s\" is nested deeper than %d levels",
                        path, WRI_KEY_MAX_DEPTH);
            goto out;
        }
    }
    qsort(w.v, w.n, sizeof *w.v, ix_val_cmp);
    for (i = 0; i < w.n; i++) {
        bson_t key;
        if (i > 0 && wri_bsonval_cmp(&w.v[i - 1].it, &w.v[i].it) == 0)
            continue;
        bson_init(&key);
        if (!bk_append_iter(&key, &w.v[i].it) || !bk_append_iter(&key, &id)) {
            bson_destroy(&key);
            rc = WR_ERR(eb, WR_EINVAL, "index key for \"%s\" too large",
                        path);
            goto out;
        }
        rc = fn(&key, arg);
        bson_destroy(&key);
        if (rc != 0)
            goto out;
    }
out:
    bson_destroy(&nulldoc);
    free(w.v);
    free(w.comp);
    free(pathcopy);
    return rc;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

uint8_t *wri_key_renamed(const uint8_t *key, size_t len,
                         const char *const *names, size_t nnames,
                         size_t *olen, size_t *nelem)
{
    bk_iter it;
    bk_elem e;
    size_t n = 0, size = 5;
    *olen = *nelem = 0;
    if (key == NULL || len < 5 || len > INT32_MAX || wri_get32(key) != len ||
        wri_bson_check(key, len, NULL, NULL, 0) != WR_OK)
        return NULL;
    bk_iter_init(&it, key, len);
    while (bk_iter_next(&it, &e)) {
        char ix[24];
        if (names != NULL && n >= nnames)
            return NULL;
        size += 2 + e.vlen + (names != NULL ? strlen(names[n])
                                            : (size_t)snprintf(ix, sizeof ix,
                                                               "%zu", n));
        n++;
    }
    uint8_t *out = malloc(size);
    if (out == NULL)
        return NULL;
    uint8_t *q = out + 4;
    bk_iter_init(&it, key, len);
    for (size_t i = 0; bk_iter_next(&it, &e); i++) {
        char ix[24];
        const char *nm = names != NULL ? names[i] : ix;
        if (names == NULL)
            snprintf(ix, sizeof ix, "%zu", i);
        *q++ = e.type;
        memcpy(q, nm, strlen(nm) + 1);
        q += strlen(nm) + 1;
        memcpy(q, e.val, e.vlen);
        q += e.vlen;
    }
    *q = 0;
    wri_put32(out, (uint32_t)size);
    *olen = size;
    *nelem = n;
    return out;
}

/* Through our own strict check and Extended JSON writer (ejson.h),
 * never libbson's lenient validation or printer. */
char *wri_key_to_json(const uint8_t *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    wri_strbuf sb = {0};
    if (buf != NULL && len >= 5 && len <= INT32_MAX &&
        wri_get32(buf) == len &&
        wri_bson_check(buf, len, NULL, NULL, 0) == WR_OK) {
        bk_iter it;
        bk_elem e;
        size_t n = 0;
        bool named = false;
        bk_iter_init(&it, buf, len);
        while (bk_iter_next(&it, &e)) {
            n++;
            named |= e.namelen != 0;
        }
        int rc = named || n == 0 ? wri_ejson_append(&sb, buf, len, true)
                                 : wri_ejson_append_key(&sb, buf, len, true);
        if (rc == WR_OK)
            return sb.p;
        free(sb.p); /* checked: only out of memory gets here */
        return NULL;
    }
    /* Not representable: show the raw bytes. */
    size_t n = buf != NULL ? len : 0;
    char *s = malloc(16 + 2 * n + 4);
    if (s == NULL)
        return NULL;
    char *q = s + sprintf(s, "{ \"$bsonHex\" : \"");
    for (size_t i = 0; i < n; i++) {
        *q++ = hex[buf[i] >> 4];
        *q++ = hex[buf[i] & 15];
    }
    memcpy(q, "\" }", 4);
    return s;
}
