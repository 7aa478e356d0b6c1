/*
 * ejsonread.c -- one line of strict Extended JSON into BSON, in one pass
 * (see ejsonread.h for the contract).
 *
 * A line goes through three steps (the first two in one pass):
 *
 *   1. json_scan(): one pass over the bytes, no allocation, no recursion
 *      (an explicit stack of at most JS_MAX_DEPTH containers). It enforces
 *      RFC 8259 exactly (no NaN/Infinity, no trailing commas, no comments,
 *      no raw control characters in strings, valid escapes, paired
 *      surrogates, valid UTF-8, numbers per the grammar), exactly one
 *      top-level object followed only by whitespace, and, in the same pass,
 *      the Extended JSON checks libbson 1.23.1 misses:
 *        - a "$oid" string must be exactly 24 hex digits (libbson checks
 *          only the length and stores garbage bytes);
 *        - a "$numberDecimal" string must parse as decimal128 (libbson
 *          < 1.25 stores NaN for a malformed one);
 *        - "$ref" strings must not contain \u0000 (libbson cuts them at the
 *          NUL: silent data loss); a "$code" string may (the builder keeps
 *          the NUL), unless the line is left to libbson (then refused);
 *        - the same kind of silent change in other wrappers: "$numberDouble"
 *          must be a JSON number, "Infinity", "-Infinity" or "NaN" (libbson
 *          reads "1.0x" as 1.0 and "" as 0.0), "$uuid" must be 8-4-4-4-12
 *          hex digits (libbson stores garbage), regular expression options
 *          ("$options", or "options" in a "$regularExpression" body) only
 *          "ilmsux" (libbson drops others), "$timestamp" t and i integers
 *          below 2^32 (libbson wraps), "$undefined" true;
 *        - no key may contain \u0000 (BSON keys are C strings);
 *        - top-level keys starting with '$' are refused, except "$deleted":
 *          this also refuses a line that is itself a wrapper ({"$oid": ..}).
 *      Keys are compared on their raw bytes; only a key that contains an
 *      escape is decoded (rare), so "\u0024oid" is still caught.
 *   2. The builder (ejsonbuild.c) writes the BSON from the scan's tokens as
 *      they come; for the rare line it defers, bson_init_from_json() with
 *      the explicit length, after the scan.
 *   3. Semantic checks on the top-level BSON: exactly one _id, not an
 *      array, undefined or regex; at most one "$deleted", which must be
 *      true and makes the line a delete whose document is reduced to
 *      {_id: X}. The scan counts both keys, so only _id is looked up.
 *
 * The nesting limit matches libbson's own parser (jsonsl, 100 levels
 * counting the innermost scalar or key), so anything deeper is refused here
 * with a clear reason instead of libbson's "LEVELS_EXCEEDED".
 */
#include "wr_int.h"
#include "ejsonbuild.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>


/* --- error text --------------------------------------------------------- */

typedef struct js_ctx {
    const uint8_t *s;
    size_t n;
    char *why;
    size_t whylen;
    int nid;      /* top-level "_id" keys seen */
    int ndeleted; /* top-level "$deleted" keys seen */
    bool code_nul; /* a "$code" string holds \u0000 */
    struct jb *jb; /* the BSON builder fed by the scan */
} js_ctx;

static int js_fail(js_ctx *c, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "column N: reason" (1-based byte column). Always returns -1. */
static int js_fail(js_ctx *c, size_t pos, const char *fmt, ...)
{
    if (c->why == NULL || c->whylen == 0)
        return -1;
    int k = snprintf(c->why, c->whylen, "column %zu: ", pos + 1);
    if (k < 0 || (size_t)k >= c->whylen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why + k, c->whylen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

static void js_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void js_why(char *why, size_t whylen, const char *fmt, ...)
{
    if (why == NULL || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* A byte shown in a message: 'x' when printable ASCII, else its hex. */
static const char *js_show(uint8_t b, char buf[8])
{
    if (b >= 0x21 && b < 0x7f && b != '\'')
        snprintf(buf, 8, "'%c'", b);
    else if (b == ' ')
        snprintf(buf, 8, "space");
    else
        snprintf(buf, 8, "0x%02X", b);
    return buf;
}

/* --- the scanner -------------------------------------------------------- */

/* String bytes: 0 plain, 1 '"', 2 '\\', 3 control, 4 UTF-8 lead. */
static const uint8_t js_strcls[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

static inline bool js_isws(uint8_t b)
{
    return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

static inline size_t js_skipws(const uint8_t *s, size_t n, size_t i)
{
    while (i < n && js_isws(s[i]))
        i++;
    return i;
}


/* One UTF-8 sequence starting at s[i] (a byte >= 0x80): its length, or 0
 * if it is not well-formed (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF). */
static size_t js_utf8(const uint8_t *s, size_t n, size_t i)
{
    uint8_t b = s[i];
    size_t left = n - i;
    uint8_t lo = 0x80, hi = 0xBF;
    size_t len;
    if (b >= 0xC2 && b <= 0xDF)
        len = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (left < len)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return len;
}

/* Word-at-a-time test for "a byte needs a look" (a borrow can only add
 * false positives, never hide the lowest special byte). */
#define JS_ONES 0x0101010101010101ULL

/* Scan the string whose opening quote is at s[*pos]. On success *pos is
 * just past the closing quote and *flags says JS_STR_ESC / JS_STR_NUL. */
static int js_string(js_ctx *c, size_t *pos, unsigned *flags)
{
    const uint8_t *s = c->s;
    size_t n = c->n;
    size_t i = *pos + 1;
    unsigned fl = 0;
    for (;;) {
        /* eight plain bytes at a time (no '"', '\\', control or >= 0x80);
         * the byte loop below finds the first special one */
        while (n - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (((x - JS_ONES * 0x20) | ((x ^ (JS_ONES * '"')) - JS_ONES) |
                 ((x ^ (JS_ONES * '\\')) - JS_ONES) | x) &
                (JS_ONES * 0x80))
                break;
            i += 8;
        }
        while (i < n && js_strcls[s[i]] == 0)
            i++;
        if (i >= n)
            return js_fail(c, *pos, "unterminated string");
        switch (js_strcls[s[i]]) {
        case 1:
            *pos = i + 1;
            *flags = fl;
            return 0;
        case 2: {
            fl |= JS_STR_ESC;
            if (i + 1 >= n)
                return js_fail(c, *pos, "unterminated string");
            uint8_t e = s[i + 1];
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' ||
                e == 'n' || e == 'r' || e == 't') {
                i += 2;
                break;
            }
            if (e != 'u') {
                char sb[8];
                return js_fail(c, i, "invalid escape \\%s", js_show(e, sb));
            }
            int v = js_hex4(s, n, i + 2);
            if (v < 0)
                return js_fail(c, i, "\\u needs four hex digits");
            if (v == 0)
                fl |= JS_STR_NUL;
            if (v >= 0xDC00 && v <= 0xDFFF)
                return js_fail(c, i, "lone low surrogate \\u%04X", v);
            if (v >= 0xD800 && v <= 0xDBFF) {
                int w = -1;
                if (n - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u')
                    w = js_hex4(s, n, i + 8);
                if (w < 0xDC00 || w > 0xDFFF)
                    return js_fail(c, i, "lone high surrogate \\u%04X", v);
                i += 12;
            } else
                i += 6;
            break;
        }
        case 3:
            return js_fail(c, i, "raw control character 0x%02X in a string",
                           s[i]);
        default: {
            size_t k = js_utf8(s, n, i);
            if (k == 0)
                return js_fail(c, i, "invalid UTF-8");
            i += k;
            break;
        }
        }
    }
}


/* What the value after a key must be. Keys starting with '$' are
 * classified (a byte compare, only for keys that start with '$'); "t"/"i"
 * and "options" only inside a $timestamp / $regularExpression body. */
enum {
    JK_NONE = 0,
    JK_OID,       /* $oid: exactly 24 hex digits */
    JK_DECIMAL,   /* $numberDecimal: a valid decimal128 string */
    JK_NONUL,     /* $ref: no \u0000 (libbson cuts at the NUL) */
    JK_CODE,      /* $code: \u0000 noted (only the builder keeps it) */
    JK_DOUBLE,    /* $numberDouble: a JSON number, Infinity, -Infinity, NaN
                   * (libbson takes "1.0x" as 1.0 and "" as 0.0) */
    JK_UUID,      /* $uuid: 8-4-4-4-12 hex digits (else garbage bytes) */
    JK_REOPTS,    /* $options, options: only "ilmsux" (others dropped) */
    JK_UNDEFINED, /* $undefined: true (false is stored as undefined too) */
    JK_U32,       /* $timestamp t, i: an integer 0..2^32-1 (else wraps) */
    JK_TIMESTAMP, /* $timestamp: its object body gets JK_U32 keys */
    JK_REGEXDOC,  /* $regularExpression: its body gets JK_REOPTS */
};

/* Classify a decoded key k[0..len) that starts with '$'. */
static int js_key_kind(const uint8_t *k, size_t len)
{
    switch (len) {
    case 4:
        if (memcmp(k, "$oid", 4) == 0)
            return JK_OID;
        if (memcmp(k, "$ref", 4) == 0)
            return JK_NONUL;
        break;
    case 5:
        if (memcmp(k, "$code", 5) == 0)
            return JK_CODE;
        if (memcmp(k, "$uuid", 5) == 0)
            return JK_UUID;
        break;
    case 8:
        if (memcmp(k, "$options", 8) == 0)
            return JK_REOPTS;
        break;
    case 10:
        if (memcmp(k, "$timestamp", 10) == 0)
            return JK_TIMESTAMP;
        if (memcmp(k, "$undefined", 10) == 0)
            return JK_UNDEFINED;
        break;
    case 13:
        if (memcmp(k, "$numberDouble", 13) == 0)
            return JK_DOUBLE;
        break;
    case 14:
        if (memcmp(k, "$numberDecimal", 14) == 0)
            return JK_DECIMAL;
        break;
    case 18:
        if (memcmp(k, "$regularExpression", 18) == 0)
            return JK_REGEXDOC;
        break;
    }
    return JK_NONE;
}

/* Check the key whose body is s[b..e) (quote at b-1), at container depth
 * `depth`; `body` is JK_TIMESTAMP / JK_REGEXDOC when this object is the
 * body of such a wrapper. Sets *kind for the value that follows. */
static int js_key(js_ctx *c, size_t b, size_t e, unsigned fl, int depth,
                  int body, int *kind)
{
    const uint8_t *k = c->s + b;
    size_t len = e - b;
    uint8_t dec[32];
    bool cut = false;
    *kind = JK_NONE;
    if (fl & JS_STR_NUL)
        return js_fail(c, b - 1, "key contains \\u0000 (BSON keys cannot)");
    if (fl & JS_STR_ESC) { /* rare: decode enough to classify it */
        len = wri_json_unescape(k, len, dec, sizeof dec, &cut);
        k = dec;
    }
    if (cut)
        len = sizeof dec + 1; /* longer than any key of interest */
    if (body == JK_TIMESTAMP) {
        if (len == 1 && (k[0] == 't' || k[0] == 'i'))
            *kind = JK_U32;
        return 0;
    }
    if (body == JK_REGEXDOC) {
        if (len == 7 && memcmp(k, "options", 7) == 0)
            *kind = JK_REOPTS;
        return 0;
    }
    if (depth == 1 && len == 3 && memcmp(k, "_id", 3) == 0)
        c->nid++; /* an escaped spelling */
    if (len == 0 || k[0] != '$')
        return 0;
    if (depth == 1) {
        if (len == 8 && memcmp(k, "$deleted", 8) == 0) {
            c->ndeleted++;
            return 0;
        }
        int show = (int)WRI_MIN(len, (size_t)24);
        for (int i = 0; i < show; i++)
            if (k[i] < 0x20 || k[i] == '"' || k[i] >= 0x7f)
                show = i;
        return js_fail(c, b - 1,
                       "top-level key \"%.*s%s\" is not allowed (only "
                       "$deleted may start with $)",
                       show, (const char *)k, (size_t)show < len ? "..." : "");
    }
    *kind = js_key_kind(k, len);
    return 0;
}

/* Does v[0..len) follow the JSON number grammar? */
static bool js_is_number(const uint8_t *v, size_t len)
{
    size_t i = 0;
    if (i < len && v[i] == '-')
        i++;
    if (i >= len || !js_isdigit(v[i]))
        return false;
    if (v[i] == '0')
        i++;
    else
        while (i < len && js_isdigit(v[i]))
            i++;
    if (i < len && v[i] == '.') {
        if (++i >= len || !js_isdigit(v[i]))
            return false;
        while (i < len && js_isdigit(v[i]))
            i++;
    }
    if (i < len && (v[i] == 'e' || v[i] == 'E')) {
        i++;
        if (i < len && (v[i] == '+' || v[i] == '-'))
            i++;
        if (i >= len || !js_isdigit(v[i]))
            return false;
        while (i < len && js_isdigit(v[i]))
            i++;
    }
    return i == len;
}

/* Check the decoded, NUL-terminated string value v[0..len) of kind. */
static int js_check_string(js_ctx *c, size_t at, int kind, const uint8_t *v,
                           size_t len)
{
    switch (kind) {
    case JK_OID: {
        bool ok = len == 24;
        for (size_t i = 0; ok && i < 24; i++)
            ok = js_hexval(v[i]) >= 0;
        return ok ? 0 : js_fail(c, at, "$oid is not 24 hex digits");
    }
    case JK_DECIMAL: {
        /* from a NUL-terminated copy: libbson 1.23.1 matches "NaN" and
         * "Infinity" up to a NUL even in the _w_len variant */
        bson_decimal128_t d;
        if (len > INT32_MAX ||
            !bson_decimal128_from_string_w_len((const char *)v, (int)len, &d))
            return js_fail(c, at, "$numberDecimal is not a valid decimal128 "
                                  "string");
        return 0;
    }
    case JK_DOUBLE:
        if ((len == 3 && memcmp(v, "NaN", 3) == 0) ||
            (len == 8 && memcmp(v, "Infinity", 8) == 0) ||
            (len == 9 && memcmp(v, "-Infinity", 9) == 0) ||
            js_is_number(v, len))
            return 0;
        return js_fail(c, at, "$numberDouble is not a number, Infinity, "
                              "-Infinity or NaN");
    case JK_UUID: {
        bool ok = len == 36;
        for (size_t i = 0; ok && i < 36; i++)
            ok = (i == 8 || i == 13 || i == 18 || i == 23)
                     ? v[i] == '-'
                     : js_hexval(v[i]) >= 0;
        return ok ? 0 : js_fail(c, at, "$uuid is not 8-4-4-4-12 hex digits");
    }
    case JK_REOPTS:
        for (size_t i = 0; i < len; i++)
            if (v[i] == 0 || strchr("ilmsux", v[i]) == NULL) {
                char sb[8];
                return js_fail(c, at, "regular expression option %s is "
                                      "not one of ilmsux",
                               js_show(v[i], sb));
            }
        return 0;
    default:
        return 0;
    }
}

/* Check the string value s[b..e) (quote at b-1) that follows a key of
 * kind (not JK_NONE). */
static int js_wrapped_value(js_ctx *c, int kind, size_t b, size_t e,
                            unsigned fl)
{
    const uint8_t *v = c->s + b;
    size_t len = e - b;
    uint8_t small[128];
    uint8_t *heap = NULL, *dst = small;
    bool cut;
    int rc;
    if (kind == JK_NONUL) {
        if (fl & JS_STR_NUL)
            return js_fail(c, b - 1,
                           "string contains \\u0000, which libbson would "
                           "cut off ($ref)");
        return 0;
    }
    if (kind == JK_CODE) {
        if (fl & JS_STR_NUL)
            c->code_nul = true;
        return 0;
    }
    if (kind == JK_OID && fl == 0) { /* the common case, no copy */
        bool ok = len == 24;
        for (size_t i = 0; ok && i < 24; i++)
            ok = js_hexval(v[i]) >= 0;
        return ok ? 0 : js_fail(c, b - 1, "$oid is not 24 hex digits");
    }
    if (kind == JK_UNDEFINED || kind == JK_U32 || kind == JK_TIMESTAMP ||
        kind == JK_REGEXDOC)
        return 0; /* a string there is libbson's to refuse */
    /* Rare wrappers: check a decoded, NUL-terminated copy. */
    if (len >= sizeof small) {
        heap = malloc(len + 1);
        if (heap == NULL)
            return js_fail(c, b - 1, "out of memory");
        dst = heap;
    }
    if (fl & JS_STR_ESC)
        len = wri_json_unescape(v, len, dst, len, &cut);
    else
        memcpy(dst, v, len);
    dst[len] = '\0';
    rc = js_check_string(c, b - 1, kind, dst, len);
    free(heap);
    return rc;
}

/* A $timestamp "t" or "i" number s[b..e): an integer that fits 32 bits
 * (libbson 1.23.1 silently wraps larger ones). */
static int js_check_u32(js_ctx *c, size_t b, size_t e)
{
    bool ok = e - b <= 10;
    for (size_t i = b; ok && i < e; i++)
        ok = js_isdigit(c->s[i]);
    if (ok && e - b == 10)
        ok = memcmp(c->s + b, "4294967295", 10) <= 0;
    return ok ? 0 : js_fail(c, b, "$timestamp t and i must be integers "
                                  "0..4294967295");
}

/* Scan a number starting at s[*pos] ('-' or a digit). */
static int js_number(js_ctx *c, size_t *pos)
{
    const uint8_t *s = c->s;
    size_t n = c->n;
    size_t i = *pos;
    if (s[i] == '-') {
        i++;
        if (i < n && s[i] == 'I')
            return js_fail(c, *pos, "Infinity is not valid JSON");
    }
    if (i >= n || !js_isdigit(s[i]))
        return js_fail(c, *pos, "invalid number");
    if (s[i] == '0') {
        i++;
        if (i < n && js_isdigit(s[i]))
            return js_fail(c, *pos, "number with a leading zero");
    } else
        while (i < n && js_isdigit(s[i]))
            i++;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !js_isdigit(s[i]))
            return js_fail(c, *pos, "invalid number (no digit after '.')");
        while (i < n && js_isdigit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !js_isdigit(s[i]))
            return js_fail(c, *pos, "invalid number (bad exponent)");
        while (i < n && js_isdigit(s[i]))
            i++;
    }
    *pos = i;
    return 0;
}

static int js_literal(js_ctx *c, size_t *pos, const char *lit, size_t len)
{
    if (c->n - *pos < len || memcmp(c->s + *pos, lit, len) != 0)
        return js_fail(c, *pos, "invalid literal (expected %s)", lit);
    *pos += len;
    return 0;
}

/* The whole strict scan of one line. 0 if it is one well-formed JSON
 * object (with sane Extended JSON wrappers), -1 with why set otherwise. */
static int json_scan(js_ctx *c)
{
    const uint8_t *s = c->s;
    size_t n = c->n;
    uint8_t stack[JS_MAX_DEPTH]; /* '{' or '[' per open container */
    int depth = 0;
    int kind = JK_NONE; /* check for the value after the last key */
    int body = JK_NONE; /* this wrapper's body is open at depth body_depth */
    int body_depth = -1;
    size_t i = js_skipws(s, n, 0);
    char sb[8];

    if (i >= n)
        return js_fail(c, i, "empty line");
    if (s[i] != '{') {
        if (s[i] == '[')
            return js_fail(c, i, "a line must be a JSON object, not an "
                                 "array");
        return js_fail(c, i, "a line must be a JSON object");
    }
    goto open_obj;

value: /* s[i] is the first byte of a value (i may be n) */
    if (i >= n)
        return js_fail(c, i, "unexpected end of line, expected a value");
    switch (s[i]) {
    case '"': {
        size_t b = i + 1;
        unsigned fl;
        if (js_string(c, &i, &fl) != 0)
            return -1;
        if (kind != JK_NONE) {
            if (js_wrapped_value(c, kind, b, i - 1, fl) != 0)
                return -1;
            kind = JK_NONE;
        }
        wri_jb_value(c->jb, 's', b, i - 1, fl);
        goto after_value;
    }
    case '{':
        goto open_obj;
    case '[':
        goto open_arr;
    case 't':
        if (js_literal(c, &i, "true", 4) != 0)
            return -1;
        wri_jb_value(c->jb, 't', 0, 0, 0);
        break;
    case 'f':
        if (kind == JK_UNDEFINED)
            return js_fail(c, i, "$undefined must be true");
        if (js_literal(c, &i, "false", 5) != 0)
            return -1;
        wri_jb_value(c->jb, 'f', 0, 0, 0);
        break;
    case 'n':
        if (js_literal(c, &i, "null", 4) != 0)
            return -1;
        wri_jb_value(c->jb, 'l', 0, 0, 0);
        break;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': {
        size_t b = i;
        if (js_number(c, &i) != 0)
            return -1;
        if (kind == JK_U32 && js_check_u32(c, b, i) != 0)
            return -1;
        wri_jb_value(c->jb, 'n', b, i, 0);
        break;
    }
    case 'N':
        return js_fail(c, i, "NaN is not valid JSON");
    case 'I':
        return js_fail(c, i, "Infinity is not valid JSON");
    case '\'':
        return js_fail(c, i, "strings need double quotes");
    case ']':
    case '}':
        return js_fail(c, i, "expected a value before %s", js_show(s[i], sb));
    default:
        return js_fail(c, i, "unexpected %s, expected a value",
                       js_show(s[i], sb));
    }
    kind = JK_NONE;
    goto after_value;

open_obj: /* s[i] == '{' */
    if (depth == JS_MAX_DEPTH)
        return js_fail(c, i, "nested deeper than %d levels", JS_MAX_DEPTH);
    stack[depth++] = '{';
    wri_jb_obj_open(c->jb);
    if (kind == JK_TIMESTAMP || kind == JK_REGEXDOC) {
        body = kind;
        body_depth = depth;
    }
    kind = JK_NONE;
    i = js_skipws(s, n, i + 1);
    if (i < n && s[i] == '}') {
        i++;
        goto close;
    }
    goto key;

key: /* s[i] should be the opening quote of a key */
    if (i >= n)
        return js_fail(c, i, "unexpected end of line, expected a key");
    if (s[i] != '"') {
        if (s[i] == '}')
            return js_fail(c, i, "trailing comma before '}'");
        if (s[i] == '\'')
            return js_fail(c, i, "keys need double quotes");
        return js_fail(c, i, "unexpected %s, expected a quoted key",
                       js_show(s[i], sb));
    }
    {
        size_t b = i + 1;
        unsigned fl;
        if (js_string(c, &i, &fl) != 0)
            return -1;
        /* fast path: a plain key not starting with '$' needs nothing */
        if (fl != 0 || s[b] == '$' || depth == body_depth) {
            if (js_key(c, b, i - 1, fl, depth,
                       depth == body_depth ? body : JK_NONE, &kind) != 0)
                return -1;
        } else if (depth == 1 && i - 1 - b == 3 && s[b] == '_' &&
                   s[b + 1] == 'i' && s[b + 2] == 'd')
            c->nid++;
        wri_jb_key_event(c->jb, b, i - 1, fl);
    }
    i = js_skipws(s, n, i);
    if (i >= n || s[i] != ':') {
        if (i >= n)
            return js_fail(c, i, "unexpected end of line, expected ':'");
        return js_fail(c, i, "unexpected %s, expected ':'", js_show(s[i], sb));
    }
    i = js_skipws(s, n, i + 1);
    goto value;

open_arr: /* s[i] == '[' */
    if (depth == JS_MAX_DEPTH)
        return js_fail(c, i, "nested deeper than %d levels", JS_MAX_DEPTH);
    stack[depth++] = '[';
    wri_jb_arr_open(c->jb);
    kind = JK_NONE;
    i = js_skipws(s, n, i + 1);
    if (i < n && s[i] == ']') {
        i++;
        goto close;
    }
    goto value;

close: /* a container just ended at s[i-1] */
    wri_jb_close(c->jb);
    if (depth == body_depth) {
        body = JK_NONE;
        body_depth = -1;
    }
    depth--;
    kind = JK_NONE;
    if (depth == 0)
        goto done;
    /* fall through */

after_value:
    i = js_skipws(s, n, i);
    if (i >= n)
        return js_fail(c, i, "unexpected end of line (unclosed %s)",
                       stack[depth - 1] == '{' ? "object" : "array");
    if (stack[depth - 1] == '{') {
        if (s[i] == ',') {
            i = js_skipws(s, n, i + 1);
            goto key;
        }
        if (s[i] == '}') {
            i++;
            goto close;
        }
        return js_fail(c, i, "unexpected %s, expected ',' or '}'",
                       js_show(s[i], sb));
    }
    if (s[i] == ',') {
        i = js_skipws(s, n, i + 1);
        if (i < n && s[i] == ']')
            return js_fail(c, i, "trailing comma before ']'");
        goto value;
    }
    if (s[i] == ']') {
        i++;
        goto close;
    }
    return js_fail(c, i, "unexpected %s, expected ',' or ']'",
                   js_show(s[i], sb));

done:
    i = js_skipws(s, n, i);
    if (i < n) {
        if (s[i] == '{' || s[i] == '[')
            return js_fail(c, i, "two JSON values on one line");
        if (s[i] == '/')
            return js_fail(c, i, "comments are not valid JSON");
        return js_fail(c, i, "unexpected %s after the document",
                       js_show(s[i], sb));
    }
    return 0;
}

/* --- one line ----------------------------------------------------------- */

/* Top-level checks on the parsed document, using what the scan counted
 * (so the document's keys need not be walked); may reduce it to
 * {_id: X}. */
static int json_doc_check(const js_ctx *c, bson_t *doc, bool *is_delete,
                          char *why, size_t whylen)
{
    bson_iter_t it, id;
    if (c->nid == 0) {
        js_why(why, whylen, "missing _id");
        return -1;
    }
    if (c->nid > 1) {
        js_why(why, whylen, "_id appears %d times", c->nid);
        return -1;
    }
    if (!bson_iter_init_find(&id, doc, "_id")) { /* cannot happen */
        js_why(why, whylen, "libbson lost the _id");
        return -1;
    }
    switch (bson_iter_type(&id)) {
    case BSON_TYPE_ARRAY:
        js_why(why, whylen, "_id must not be an array");
        return -1;
    case BSON_TYPE_UNDEFINED:
        js_why(why, whylen, "_id must not be undefined");
        return -1;
    case BSON_TYPE_REGEX:
        js_why(why, whylen, "_id must not be a regular expression");
        return -1;
    default:
        break;
    }
    if (c->ndeleted == 0)
        return 0;
    if (c->ndeleted > 1) {
        js_why(why, whylen, "$deleted appears %d times", c->ndeleted);
        return -1;
    }
    if (!bson_iter_init_find(&it, doc, "$deleted") ||
        !BSON_ITER_HOLDS_BOOL(&it) || !bson_iter_bool(&it)) {
        js_why(why, whylen, "$deleted must be true");
        return -1;
    }
    bson_t tmp;
    bson_init(&tmp);
    if (!bson_append_iter(&tmp, "_id", 3, &id)) {
        bson_destroy(&tmp);
        js_why(why, whylen, "cannot build the delete's _id document");
        return -1;
    }
    bson_destroy(doc);
    bson_steal(doc, &tmp);
    *is_delete = true;
    return 0;
}

/* The line's document from the builder, or from libbson when the builder
 * deferred (or mode says libbson). */
static int json_build(js_ctx *c, const char *line, size_t len, bson_t *doc,
                      char *why, size_t whylen)
{
    bson_error_t err;
    if (c->jb != NULL && !c->jb->off && c->jb->done) {
        bson_t tmp;
        if (!bson_init_static(&tmp, c->jb->buf, c->jb->len)) {
            js_why(why, whylen, "cannot build the document");
            return -1;
        }
        bson_copy_to(&tmp, doc);
        return 0;
    }
    if (c->code_nul) { /* libbson would cut the string at the NUL */
        js_why(why, whylen, "a $code string contains \\u0000 and this line "
                            "needs libbson's parser, which would cut it off");
        return -1;
    }
    if (len > SSIZE_MAX) {
        js_why(why, whylen, "line too long");
        return -1;
    }
    if (!bson_init_from_json(doc, line, (ssize_t)len, &err)) {
        js_why(why, whylen, "invalid Extended JSON: %s", err.message);
        return -1;
    }
    return 0;
}

int wri_json_line_parse_mode(const char *line, size_t len, bson_t *doc,
                             bool *is_delete, char *why, size_t whylen,
                             int mode)
{
    js_ctx c = {(const uint8_t *)line, len, why, whylen, 0, 0, false, NULL};
    /* per thread, not on the stack: 25 KB there costs sanitizer builds
     * megabytes of memory (the parse runs on several threads) */
    static _Thread_local jb store;
    jb *b = NULL;
    int rc = WR_EBADINPUT;
    *is_delete = false;
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (mode != WRI_JSON_LIBBSON) {
        b = &store;
        wri_jb_init(b, c.s);
        c.jb = b;
    }
    if (json_scan(&c) != 0)
        goto out;
    if (mode == WRI_JSON_BUILDER_ONLY && (b == NULL || b->off || !b->done)) {
        js_why(why, whylen, "deferred to libbson");
        rc = WR_ENOTSUP;
        goto out;
    }
    if (json_build(&c, line, len, doc, why, whylen) != 0)
        goto out;
    if (json_doc_check(&c, doc, is_delete, why, whylen) != 0) {
        bson_destroy(doc);
        *is_delete = false;
        goto out;
    }
    rc = WR_OK;
out:
    if (b != NULL)
        wri_jb_free(b);
    return rc;
}

int wri_json_line_parse(const char *line, size_t len, bson_t *doc,
                        bool *is_delete, char *why, size_t whylen)
{
    return wri_json_line_parse_mode(line, len, doc, is_delete, why, whylen,
                                    WRI_JSON_BUILDER);
}

