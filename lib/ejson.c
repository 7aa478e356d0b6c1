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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int sb_grow(wri_strbuf *sb, size_t more)
{
    if (sb->len + more + 1 <= sb->cap)
        return 0;
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

static int sb_put(wri_strbuf *sb, const char *s, size_t n)
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

/* A JSON string: quotes, and escapes for '"', '\\' and control bytes.
 * The input is valid UTF-8 (wri_bson_check); other bytes pass through. */
static int sb_jstr(wri_strbuf *sb, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (sb_grow(sb, n + 2) != 0)
        return -1;
    sb->p[sb->len++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (sb_put(sb, (const char *)s + run, i - run) != 0)
            return -1;
        run = i + 1;
        char e[7] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u', e[2] = '0', e[3] = '0';
            e[4] = hex[c >> 4], e[5] = hex[c & 15];
            el = 6;
        }
        if (sb_put(sb, e, el) != 0)
            return -1;
    }
    if (sb_put(sb, (const char *)s + run, n - run) != 0)
        return -1;
    return SB_LIT(sb, "\"");
}

/* A decimal integer, without printf. */
static int sb_int(wri_strbuf *sb, int64_t v)
{
    char tmp[24], *e = tmp + sizeof tmp, *q = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--q = '-';
    return sb_put(sb, q, (size_t)(e - q));
}

/* The fewest significant digits that read back as exactly d. */
static int sb_double_digits(wri_strbuf *sb, double d)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d)
            break;
    }
    size_t n = strlen(tmp);
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

int wri_ejson_append(wri_strbuf *sb, const uint8_t *doc, size_t len,
                     bool relaxed)
{
    size_t start = sb->len;
    if (wri_bson_check(doc, len, NULL, NULL, 0) != WR_OK ||
        ej_doc(sb, doc, false, relaxed, 0, true) != 0) {
        sb->len = start; /* nothing half-written */
        if (sb->p != NULL)
            sb->p[start] = '\0';
        return WR_ECORRUPT;
    }
    return WR_OK;
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
