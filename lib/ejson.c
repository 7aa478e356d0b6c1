/*
 * ejson.c -- BSON documents as MongoDB Extended JSON v2, fast (ejson.h,
 * wri_ejson_append).
 *
 * wr-dump --docs spends its time here: libbson's writer formats through
 * printf and many small string appends, about 80% of a dump. This one
 * walks the bytes of a document that wri_bson_check has accepted and
 * appends to one growing buffer. The layout is libbson's ("{ "k" : v }",
 * "[ v, w ]"), so dumps look as they always did, with one difference:
 * a double is written in the fewest digits that read back as the same
 * double ("36.569", not libbson's "36.569000000000002615"). test_ejson
 * checks every corpus document: our output parses back to the same BSON,
 * and equals libbson's text wherever no double is involved.
 */
#include "wr_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static __attribute__((noinline)) int sb_grow_slow(wri_strbuf *sb,
                                                   size_t more)
{
    size_t cap = sb->cap ? sb->cap * 2 : 4096;
    while (cap < sb->len + more + 1)
        cap *= 2;
    char *p = realloc(sb->p, cap);
    if (p == NULL)
        return -1;
    sb->p = p;
    sb->cap = cap;
    return 0;
}

/* Room for more bytes and the terminating NUL: 0, or -1 (out of memory). */
static inline int sb_grow(wri_strbuf *sb, size_t more)
{
    if (sb->len + more + 1 <= sb->cap)
        return 0;
    return sb_grow_slow(sb, more);
}

static inline int sb_put(wri_strbuf *sb, const char *s, size_t n)
{
    if (sb_grow(sb, n) != 0)
        return -1;
    memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    sb->p[sb->len] = '\0';
    return 0;
}

int wri_strbuf_add(wri_strbuf *sb, const char *s)
{
    return sb_put(sb, s, strlen(s));
}

#define SB_LIT(sb, lit) sb_put((sb), (lit), sizeof(lit) - 1)

static int sb_printf(wri_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int sb_printf(wri_strbuf *sb, const char *fmt, ...)
{
    char tmp[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    return sb_put(sb, tmp, (size_t)n);
}

/* Does any byte of w need an escape in a JSON string ('"', '\\', below
 * 0x20)? The "has a zero byte" / "has a byte below n" word tests: their
 * yes or no is exact (not which byte). */
static bool word_needs_escape(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = ones << 7;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t low = (w - ones * 0x20) & ~w;
    return ((low | ((q - ones) & ~q) | ((b - ones) & ~b)) & high) != 0;
}

static bool byte_needs_escape(uint8_t c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/* Copy n bytes of s to o if none needs an escape (true); false if one
 * does (o then holds anything). Words are checked whole: two overlapping
 * loads cover a string of 4 to 16 bytes, so short strings (most names
 * and values) take no loop. */
static bool copy_plain(char *o, const uint8_t *s, size_t n)
{
    uint64_t w;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&w, s + i, 8);
            if (word_needs_escape(w))
                return false;
            memcpy(o + i, &w, 8);
        }
        memcpy(&w, s + n - 8, 8);
        if (word_needs_escape(w))
            return false;
        memcpy(o + n - 8, &w, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        if (word_needs_escape(a | (uint64_t)b << 32))
            return false;
        memcpy(o, &a, 4);
        memcpy(o + n - 4, &b, 4);
    } else if (n > 0) {
        uint8_t a = s[0], b = s[n / 2], c = s[n - 1];
        if (byte_needs_escape(a) || byte_needs_escape(b) ||
            byte_needs_escape(c))
            return false;
        o[0] = (char)a, o[n / 2] = (char)b, o[n - 1] = (char)c;
    }
    return true;
}

/* A JSON string: quotes, and escapes for '"', '\\' and control bytes.
 * The input is valid UTF-8 (wri_bson_check); other bytes pass through. */
static int sb_jstr(wri_strbuf *sb, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (sb_grow(sb, n + 2) != 0)
        return -1;
    char *o = sb->p + sb->len;
    *o++ = '"';
    if (copy_plain(o, s, n)) {
        o += n;
        goto done;
    }
    for (size_t i = 0; i < n;) {
        uint64_t w;
        while (i + 8 <= n && (memcpy(&w, s + i, 8),
                              !word_needs_escape(w))) {
            memcpy(o, &w, 8);
            o += 8, i += 8;
        }
        if (i == n)
            break;
        uint8_t c = s[i++];
        if (!byte_needs_escape(c)) {
            *o++ = (char)c;
            continue;
        }
        sb->len = (size_t)(o - sb->p); /* room for 6 more, the rest, '"' */
        if (sb_grow(sb, 6 + (n - i) + 1) != 0)
            return -1;
        o = sb->p + sb->len;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u', *o++ = '0', *o++ = '0';
            *o++ = hex[c >> 4], *o++ = hex[c & 15];
        }
    }
done:
    *o++ = '"';
    sb->len = (size_t)(o - sb->p);
    sb->p[sb->len] = '\0';
    return 0;
}

/* Decimal digits of u. */
static int ndigits(uint64_t u)
{
    int n = 1;
    if (u >= 10000000000000000ull)
        n += 16, u /= 10000000000000000ull;
    if (u >= 100000000)
        n += 8, u /= 100000000;
    if (u >= 10000)
        n += 4, u /= 10000;
    if (u >= 100)
        n += 2, u /= 100;
    return n + (u >= 10);
}

/* The n lowest decimal digits of u, written to o[0..n) (leading zeros
 * kept), two at a time. */
static void put_digits(char *o, uint64_t u, int n)
{
    static const char two[] = "00010203040506070809101112131415161718192021"
                              "22232425262728293031323334353637383940414243"
                              "44454647484950515253545556575859606162636465"
                              "66676869707172737475767778798081828384858687"
                              "888990919293949596979899";
    for (; n >= 2; n -= 2, u /= 100)
        memcpy(o + n - 2, two + 2 * (u % 100), 2);
    if (n == 1)
        o[0] = (char)('0' + u % 10);
}

/* A decimal integer, without printf. */
static int sb_int(wri_strbuf *sb, int64_t v)
{
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int n = ndigits(u);
    if (sb_grow(sb, 21) != 0)
        return -1;
    char *o = sb->p + sb->len;
    if (v < 0)
        *o++ = '-';
    put_digits(o, u, n);
    o[n] = '\0';
    sb->len = (size_t)(o + n - sb->p);
    return 0;
}

/* The text of sb_double_digits for the doubles most documents hold
 * (prices, coordinates): d is m / 10^k for an integer m < 10^15, and
 * 1e-4 <= |d| < 1e15. Then "%.15g" already reads back (m / 10^k is
 * within half an ulp of d, far less than half a unit of the 15th digit,
 * so rounding d to 15 digits gives m / 10^k exactly) and is fixed-point:
 * m's digits with the point k places from the right, trailing zeros
 * gone ("1.0" when none is left). The test m / 10^k == d in doubles is
 * exact: m and 10^k (k <= 22) are exact doubles, and the division rounds
 * the same rational to the nearest double as strtod rounds the text.
 * One k is tried: the largest that keeps m below 10^15 (for a short
 * decimal, d * 10^k is then within 0.2 of an integer). Writes at most 24
 * bytes to out; returns their number, 0 if d is not such a double (the
 * caller takes the printf way). */
static size_t dbl_fixed(double d, char *out)
{
#if FLT_EVAL_METHOD != 0
    (void)d, (void)out;
    return 0; /* extended precision: the exact-division argument fails */
#else
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                 1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                 1e14, 1e15, 1e16, 1e17, 1e18};
    static const double lo[] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0,  1e1,
                                1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                1e14, 1e15}; /* lo[i] = 10^(i - 4) */
    double a = fabs(d);
    uint64_t bits;
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    /* e = floor(log10(a)), from the binary exponent (log10(2) ~
     * 78913 / 2^18), then made exact against the table; a wrong e would
     * only cost the fast way, never the text */
    memcpy(&bits, &a, 8);
    int e = (((int)(bits >> 52) - 1023) * 78913) >> 18;
    if (e < -4)
        e = -4;
    while (e > -4 && a < lo[e + 4])
        e--;
    while (e < 14 && a >= lo[e + 5])
        e++;
    int k = 14 - e;
    double r = nearbyint(a * p10[k]);
    if (!(r < 1e15) || r / p10[k] != a)
        return 0;
    uint64_t m = (uint64_t)r;
    /* trailing zeros go, at most k (m < 10^15 has at most 14): 8, 4, 2
     * and 1 at a time strip any number up to 15 */
    if (k >= 8 && m % 100000000 == 0)
        m /= 100000000, k -= 8;
    if (k >= 4 && m % 10000 == 0)
        m /= 10000, k -= 4;
    if (k >= 2 && m % 100 == 0)
        m /= 100, k -= 2;
    if (k >= 1 && m % 10 == 0)
        m /= 10, k -= 1;
    uint64_t scale = (uint64_t)p10[k]; /* exact: k <= 18 */
    uint64_t ip = m / scale, fp = m % scale;
    int ni = ndigits(ip);
    char *o = out;
    if (d < 0)
        *o++ = '-';
    put_digits(o, ip, ni);
    o += ni;
    *o++ = '.';
    if (k == 0)
        *o++ = '0';
    put_digits(o, fp, k);
    return (size_t)(o + k - out);
#endif
}

/* The fewest significant digits that read back as exactly d: "%.15g",
 * else "%.16g", else "%.17g", with ".0" after what looks like an
 * integer. */
static int sb_double_digits(wri_strbuf *sb, double d)
{
    char tmp[40];
    if (sb_grow(sb, 24) != 0)
        return -1;
    size_t n = dbl_fixed(d, sb->p + sb->len);
    if (n > 0) {
        sb->len += n;
        sb->p[sb->len] = '\0';
        return 0;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d)
            break;
    }
    n = strlen(tmp);
    if (strpbrk(tmp, ".eEn") == NULL) { /* looks like an integer */
        tmp[n++] = '.';
        tmp[n++] = '0';
        tmp[n] = '\0';
    }
    return sb_put(sb, tmp, n);
}

static int sb_double(wri_strbuf *sb, double d, bool relaxed)
{
    bool finite = isfinite(d);
    if (relaxed && finite)
        return sb_double_digits(sb, d);
    if (SB_LIT(sb, "{ \"$numberDouble\" : \"") != 0)
        return -1;
    int rc = isnan(d)   ? SB_LIT(sb, "NaN")
             : !finite  ? (d > 0 ? SB_LIT(sb, "Infinity")
                                 : SB_LIT(sb, "-Infinity"))
                        : sb_double_digits(sb, d);
    return rc != 0 ? -1 : SB_LIT(sb, "\" }");
}

static int sb_oid(wri_strbuf *sb, const uint8_t *p)
{
    static const char hex[] = "0123456789abcdef";
    char h[24];
    for (int i = 0; i < 12; i++)
        h[2 * i] = hex[p[i] >> 4], h[2 * i + 1] = hex[p[i] & 15];
    if (SB_LIT(sb, "{ \"$oid\" : \"") != 0 || sb_put(sb, h, 24) != 0)
        return -1;
    return SB_LIT(sb, "\" }");
}

static int sb_base64(wri_strbuf *sb, const uint8_t *p, size_t n)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (sb_grow(sb, (n + 2) / 3 * 4) != 0)
        return -1;
    char *o = sb->p + sb->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64[v >> 18], *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63], *o++ = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        *o++ = b64[v >> 18], *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    sb->len = (size_t)(o - sb->p);
    sb->p[sb->len] = '\0';
    return 0;
}

/* Relaxed dates between 1970 and 9999 as ISO-8601, as the spec says. */
static int sb_date(wri_strbuf *sb, int64_t ms, bool relaxed)
{
    if (!relaxed || ms < 0 || ms > 253402300799999LL) {
        if (SB_LIT(sb, "{ \"$date\" : { \"$numberLong\" : \"") != 0 ||
            sb_int(sb, ms) != 0)
            return -1;
        return SB_LIT(sb, "\" } }");
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char t[40];
    gmtime_r(&secs, &tm);
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ms % 1000)
        return sb_printf(sb, "{ \"$date\" : \"%s.%03dZ\" }", t,
                         (int)(ms % 1000));
    return sb_printf(sb, "{ \"$date\" : \"%sZ\" }", t);
}

static int ej_doc(wri_strbuf *sb, const uint8_t *p, bool array, bool relaxed,
                  int depth, bool top);

/* The value of type t at p (checked input). */
static int ej_value(wri_strbuf *sb, uint8_t t, const uint8_t *p,
                    bool relaxed, int depth)
{
    switch (t) {
    case 0x01: {
        double d;
        memcpy(&d, p, 8); /* little-endian host: BSON's byte order */
        return sb_double(sb, d, relaxed);
    }
    case 0x02:
        return sb_jstr(sb, p + 4, wri_get32(p) - 1);
    case 0x03:
    case 0x04:
        return ej_doc(sb, p, t == 0x04, relaxed, depth + 1, false);
    case 0x05: {
        uint32_t n = wri_get32(p);
        const uint8_t *data = p + 5;
        if (p[4] == 0x02) { /* old binary: the spec shows the payload
                               without its inner length */
            data += 4;
            n -= 4;
        }
        if (SB_LIT(sb, "{ \"$binary\" : { \"base64\" : \"") != 0 ||
            sb_base64(sb, data, n) != 0)
            return -1;
        return sb_printf(sb, "\", \"subType\" : \"%02x\" } }", p[4]);
    }
    case 0x06:
        return SB_LIT(sb, "{ \"$undefined\" : true }");
    case 0x07:
        return sb_oid(sb, p);
    case 0x08:
        return p[0] ? SB_LIT(sb, "true") : SB_LIT(sb, "false");
    case 0x09:
        return sb_date(sb, (int64_t)wri_get64(p), relaxed);
    case 0x0A:
        return SB_LIT(sb, "null");
    case 0x0B: {
        size_t pl = strlen((const char *)p);
        const uint8_t *opt = p + pl + 1;
        if (SB_LIT(sb, "{ \"$regularExpression\" : { \"pattern\" : ") != 0 ||
            sb_jstr(sb, p, pl) != 0 ||
            SB_LIT(sb, ", \"options\" : ") != 0 ||
            sb_jstr(sb, opt, strlen((const char *)opt)) != 0)
            return -1;
        return SB_LIT(sb, " } }");
    }
    case 0x0C: {
        uint32_t n = wri_get32(p);
        if (SB_LIT(sb, "{ \"$dbPointer\" : { \"$ref\" : ") != 0 ||
            sb_jstr(sb, p + 4, n - 1) != 0 ||
            SB_LIT(sb, ", \"$id\" : ") != 0 || sb_oid(sb, p + 4 + n) != 0)
            return -1;
        return SB_LIT(sb, " } }");
    }
    case 0x0D:
    case 0x0E:
        if ((t == 0x0D ? SB_LIT(sb, "{ \"$code\" : ")
                       : SB_LIT(sb, "{ \"$symbol\" : ")) != 0 ||
            sb_jstr(sb, p + 4, wri_get32(p) - 1) != 0)
            return -1;
        return SB_LIT(sb, " }");
    case 0x0F: {
        uint32_t n = wri_get32(p + 4);
        if (SB_LIT(sb, "{ \"$code\" : ") != 0 ||
            sb_jstr(sb, p + 8, n - 1) != 0 ||
            SB_LIT(sb, ", \"$scope\" : ") != 0 ||
            ej_doc(sb, p + 8 + n, false, relaxed, depth + 1, true) != 0)
            return -1;
        return SB_LIT(sb, " }");
    }
    case 0x10:
        if (relaxed)
            return sb_int(sb, (int32_t)wri_get32(p));
        if (SB_LIT(sb, "{ \"$numberInt\" : \"") != 0 ||
            sb_int(sb, (int32_t)wri_get32(p)) != 0)
            return -1;
        return SB_LIT(sb, "\" }");
    case 0x11:
        return sb_printf(sb, "{ \"$timestamp\" : { \"t\" : %u, \"i\" : %u } }",
                         wri_get32(p + 4), wri_get32(p));
    case 0x12:
        if (relaxed)
            return sb_int(sb, (int64_t)wri_get64(p));
        if (SB_LIT(sb, "{ \"$numberLong\" : \"") != 0 ||
            sb_int(sb, (int64_t)wri_get64(p)) != 0)
            return -1;
        return SB_LIT(sb, "\" }");
    case 0x13: {
        bson_decimal128_t dec;
        char s[BSON_DECIMAL128_STRING];
        dec.low = wri_get64(p);
        dec.high = wri_get64(p + 8);
        bson_decimal128_to_string(&dec, s);
        return sb_printf(sb, "{ \"$numberDecimal\" : \"%s\" }", s);
    }
    case 0x7F:
        return SB_LIT(sb, "{ \"$maxKey\" : 1 }");
    case 0xFF:
        return SB_LIT(sb, "{ \"$minKey\" : 1 }");
    default:
        return -1;
    }
}

/* Bytes a value of type t at p takes (checked input). */
static size_t ej_size(uint8_t t, const uint8_t *p)
{
    switch (t) {
    case 0x01: case 0x09: case 0x11: case 0x12:
        return 8;
    case 0x10:
        return 4;
    case 0x13:
        return 16;
    case 0x07:
        return 12;
    case 0x08:
        return 1;
    case 0x02: case 0x0D: case 0x0E:
        return 4 + wri_get32(p);
    case 0x03: case 0x04: case 0x0F:
        return wri_get32(p);
    case 0x05:
        return 5 + wri_get32(p);
    case 0x0B: {
        size_t a = strlen((const char *)p) + 1;
        return a + strlen((const char *)p + a) + 1;
    }
    case 0x0C:
        return 4 + wri_get32(p) + 12;
    default: /* undefined, null, minKey, maxKey */
        return 0;
    }
}

/* top: the document itself or a code scope, which libbson writes as
 * "{ }" when empty; "{  }" for an empty document inside another. */
static int ej_doc(wri_strbuf *sb, const uint8_t *p, bool array, bool relaxed,
                  int depth, bool top)
{
    const uint8_t *end = p + wri_get32(p) - 1, *q = p + 4;
    bool first = true;
    if (depth > 200)
        return -1;
    if ((array ? SB_LIT(sb, "[ ") : SB_LIT(sb, "{ ")) != 0)
        return -1;
    while (q < end) {
        uint8_t t = *q++;
        size_t kl = strlen((const char *)q);
        if (!first && SB_LIT(sb, ", ") != 0)
            return -1;
        first = false;
        if (!array && (sb_jstr(sb, q, kl) != 0 || SB_LIT(sb, " : ") != 0))
            return -1;
        q += kl + 1;
        if (ej_value(sb, t, q, relaxed, depth) != 0)
            return -1;
        q += ej_size(t, q);
    }
    if (array)
        return SB_LIT(sb, " ]");
    if (first)
        return top ? SB_LIT(sb, "}") : SB_LIT(sb, " }");
    return SB_LIT(sb, " }");
}

static int ejson_append(wri_strbuf *sb, const uint8_t *doc, size_t len,
                        bool relaxed, bool check)
{
    size_t start = sb->len;
    if ((check && wri_bson_check(doc, len, NULL, NULL, 0) != WR_OK) ||
        ej_doc(sb, doc, false, relaxed, 0, true) != 0) {
        sb->len = start; /* nothing half-written */
        if (sb->p != NULL)
            sb->p[start] = '\0';
        return WR_ECORRUPT;
    }
    return WR_OK;
}

int wri_ejson_append(wri_strbuf *sb, const uint8_t *doc, size_t len,
                     bool relaxed)
{
    return ejson_append(sb, doc, len, relaxed, true);
}

int wri_ejson_append_checked(wri_strbuf *sb, const uint8_t *doc, size_t len,
                             bool relaxed)
{
    return ejson_append(sb, doc, len, relaxed, false);
}

int wri_ejson_append_key(wri_strbuf *sb, const uint8_t *key, size_t len,
                         bool relaxed)
{
    size_t start = sb->len;
    const uint8_t *q = key + 4;
    int rc = -1;
    if (wri_bson_check(key, len, NULL, NULL, 0) != WR_OK || len < 7)
        goto out; /* not a key document of at least one element */
    q += 1 + strlen((const char *)q + 1) + 1; /* type, name */
    if (q + ej_size(key[4], q) + 1 < key + len) /* more than one element */
        rc = ej_doc(sb, key, true, relaxed, 0, true);
    else
        rc = ej_value(sb, key[4], q, relaxed, 0);
out:
    if (rc != 0) {
        sb->len = start;
        if (sb->p != NULL)
            sb->p[start] = '\0';
        return WR_ECORRUPT;
    }
    return WR_OK;
}
