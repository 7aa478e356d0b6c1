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
 *   2. The builder (jb_*, below) writes the BSON from the scan's tokens as
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

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

/* Deepest container nesting accepted (the top-level object is level 1).
 * libbson's jsonsl stops at 100 levels including the innermost scalar or
 * key, so 98 containers plus one scalar is the most it can parse. */
#define JS_MAX_DEPTH 98

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

static inline bool js_isdigit(uint8_t b)
{
    return b >= '0' && b <= '9';
}

static inline int js_hexval(uint8_t b)
{
    if (b >= '0' && b <= '9')
        return b - '0';
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    if (b >= 'A' && b <= 'F')
        return b - 'A' + 10;
    return -1;
}

/* Four hex digits at s[i..i+4): their value, or -1. */
static int js_hex4(const uint8_t *s, size_t n, size_t i)
{
    if (n - i < 4)
        return -1;
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int h = js_hexval(s[i + (size_t)k]);
        if (h < 0)
            return -1;
        v = (v << 4) | h;
    }
    return v;
}

enum {
    JS_STR_ESC = 1, /* contains at least one escape */
    JS_STR_NUL = 2, /* contains \u0000 */
};

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

/* Decode the escapes of a validated string body s[0..len) into out (not
 * NUL-terminated), stopping before a character that would not fit in cap
 * bytes. Returns the bytes written; *cut tells whether it stopped early. */
static size_t js_unescape(const uint8_t *s, size_t len, uint8_t *out,
                          size_t cap, bool *cut)
{
    size_t o = 0;
    *cut = false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        if (s[i] != '\\') {
            if (o >= cap) {
                *cut = true;
                return o;
            }
            out[o++] = s[i++];
            continue;
        }
        uint8_t e = s[i + 1];
        i += 2;
        switch (e) {
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            cp = (uint32_t)js_hex4(s, len, i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* validated: a pair */
                uint32_t lo = (uint32_t)js_hex4(s, len, i + 2);
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            break;
        default: cp = e; break; /* " \\ / */
        }
        uint8_t u[4];
        size_t k;
        if (cp < 0x80) {
            u[0] = (uint8_t)cp;
            k = 1;
        } else if (cp < 0x800) {
            u[0] = (uint8_t)(0xC0 | (cp >> 6));
            u[1] = (uint8_t)(0x80 | (cp & 0x3F));
            k = 2;
        } else if (cp < 0x10000) {
            u[0] = (uint8_t)(0xE0 | (cp >> 12));
            u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            u[2] = (uint8_t)(0x80 | (cp & 0x3F));
            k = 3;
        } else {
            u[0] = (uint8_t)(0xF0 | (cp >> 18));
            u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
            u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            u[3] = (uint8_t)(0x80 | (cp & 0x3F));
            k = 4;
        }
        if (cap - o < k) {
            *cut = true;
            return o;
        }
        memcpy(out + o, u, k);
        o += k;
    }
    return o;
}

/* --- the BSON builder ---------------------------------------------------- */

/*
 * json_scan() hands every token it has validated to the builder (jb_*),
 * which writes the BSON as it goes: one pass over the line, where libbson
 * needed a second parse. It writes what bson_init_from_json() writes for
 * the same line (the differential tests and fuzz/fuzz_ejson.c hold it to
 * that), with two exceptions where libbson 1.23.1 is wrong:
 *   - "$code" strings keep an embedded \u0000 (libbson cuts the string at
 *     it: CDRIVER-1879);
 *   - {"$regex": {...}} is the $regex query operator, a plain document
 *     holding whatever the inner object is (libbson refuses it nested).
 * Extended JSON wrappers are built for the shapes the specification gives
 * (canonical, relaxed and the legacy mongoexport ones). A wrapper of any
 * other shape (keys repeated or mixed, values of an odd type, a "$type"
 * query operator, $dbPointer, an unusual $date string, a number too long
 * to read exactly, ...) is left to libbson: the builder stops ("defers")
 * and the scan goes on alone; the caller then parses the line with
 * bson_init_from_json(), exactly as before this builder existed, so such
 * lines keep their old result. jb_defers counts them (tests read it).
 */

#define JB_STACK_BUF 4096 /* BSON built on the stack before the heap */

enum { /* frame kinds */
    JF_DOC,  /* a document being written */
    JF_ARR,  /* an array being written */
    JF_PEND, /* an object value whose first key decides what it is */
    JF_WRAP, /* an Extended JSON wrapper being collected */
    JF_BODY, /* an object inside a wrapper ($binary, $timestamp, ...) */
};

enum { /* keys the builder tells apart (libbson's "known keys" and the
        * keys of wrapper bodies) */
    JN_NONE = 0,
    JN_OID, JN_DATE, JN_NINT, JN_NLONG, JN_NDOUBLE, JN_NDEC, JN_BINARY,
    JN_TYPE, JN_UUID, JN_TS, JN_REGEXDOC, JN_REGEX, JN_OPTIONS, JN_CODE,
    JN_SCOPE, JN_SYMBOL, JN_MINKEY, JN_MAXKEY, JN_UNDEF, JN_DBPTR,
    JN_B64, JN_SUBTYPE, JN_T, JN_I, JN_PATTERN, JN_ROPTS,
};

typedef struct jb_key { /* an element's key: input text or array index */
    size_t b, e;        /* s[b..e), escapes not decoded */
    uint32_t idx;
    bool esc;
    bool isidx;
} jb_key;

typedef struct jb_field { /* one key and value inside a wrapper */
    uint8_t name;         /* JN_* */
    uint8_t t;            /* value: 0 none yet, 's' string, 'n' number,
                           * 't'/'f'/'n' literal as 'l', 'o' object */
    uint8_t lit;          /* 't', 'f' or 'n' when t == 'l' */
    bool esc;             /* the value has escapes */
    bool kesc;            /* the key has escapes */
    size_t b, e;          /* the value's text (strings without quotes) */
    size_t kb, ke;        /* the key's text */
} jb_field;

typedef struct jb_frame {
    uint8_t kind;
    bool scope;     /* JF_DOC: the $scope of a code-with-scope */
    uint8_t nf, nbf;
    uint32_t idx;   /* JF_ARR: index of the next element */
    size_t start;   /* JF_DOC/JF_ARR: offset of the length; JF_WRAP with a
                     * $scope: offset of the code-with-scope length */
    jb_key key;     /* JF_DOC: key of the next element; JF_PEND/JF_WRAP:
                     * this element's key */
    jb_field f[2];  /* JF_WRAP/JF_BODY: the fields */
    jb_field bf[2]; /* JF_WRAP: the fields of its body */
} jb_frame;

typedef struct jb {
    const uint8_t *s;
    uint8_t *buf;
    size_t len, cap;
    bool heap;
    bool off;     /* deferred to libbson (or out of memory): stopped */
    bool done;    /* the top-level document is complete */
    int n;        /* frames in use */
    int in_scope; /* $scope documents open */
    jb_frame fr[JS_MAX_DEPTH + 1];
    uint8_t stackbuf[JB_STACK_BUF];
} jb;

static _Atomic unsigned long jb_defers;

static void jb_defer(jb *b)
{
    if (!b->off)
        jb_defers++;
    b->off = true;
}

static bool jb_room(jb *b, size_t k)
{
    if (b->cap - b->len >= k)
        return true;
    size_t cap = b->cap * 2;
    while (cap - b->len < k)
        cap *= 2;
    uint8_t *p = b->heap ? realloc(b->buf, cap) : malloc(cap);
    if (p == NULL) {
        jb_defer(b);
        return false;
    }
    if (!b->heap)
        memcpy(p, b->buf, b->len);
    b->buf = p;
    b->cap = cap;
    b->heap = true;
    return true;
}

static void jb_init(jb *b, const uint8_t *s)
{
    b->s = s;
    b->buf = b->stackbuf;
    b->cap = sizeof b->stackbuf;
    b->len = 0;
    b->heap = b->off = b->done = false;
    b->n = b->in_scope = 0;
}

static void jb_free(jb *b)
{
    if (b->heap)
        free(b->buf);
}

static inline void jb_put1(jb *b, uint8_t v)
{
    b->buf[b->len++] = v;
}

static inline void jb_put4(jb *b, uint32_t v)
{
    wri_put32(b->buf + b->len, v);
    b->len += 4;
}

static inline void jb_put8(jb *b, uint64_t v)
{
    wri_put64(b->buf + b->len, v);
    b->len += 8;
}

/* Text s[p..e), its escapes decoded when esc; room must be there. */
static void jb_text(jb *b, size_t p, size_t e, bool esc)
{
    if (esc) {
        bool cut;
        b->len += js_unescape(b->s + p, e - p, b->buf + b->len, e - p, &cut);
    } else {
        memcpy(b->buf + b->len, b->s + p, e - p);
        b->len += e - p;
    }
}

/* Type byte and key of a new element; false if out of memory. A key
 * never has a NUL (the scan refuses one). */
static bool jb_head(jb *b, uint8_t type, const jb_key *k, size_t more)
{
    if (!jb_room(b, 2 + (k->isidx ? 10 : k->e - k->b) + more))
        return false;
    jb_put1(b, type);
    if (k->isidx) { /* decimal, as libbson writes array keys */
        char num[10];
        int d = 0;
        uint32_t x = k->idx;
        do
            num[d++] = (char)('0' + x % 10);
        while ((x /= 10) != 0);
        while (d > 0)
            jb_put1(b, (uint8_t)num[--d]);
    } else
        jb_text(b, k->b, k->e, k->esc);
    jb_put1(b, 0);
    return true;
}

/* The key the next value of the innermost document or array goes under. */
static jb_key jb_next_key(jb_frame *f)
{
    if (f->kind == JF_ARR) {
        jb_key k = {0, 0, f->idx++, false, true};
        return k;
    }
    return f->key;
}

/* A BSON string body (int32 length, bytes, NUL) from s[p..e). */
static void jb_string_body(jb *b, size_t p, size_t e, bool esc)
{
    size_t at = b->len;
    jb_put4(b, 0);
    jb_text(b, p, e, esc);
    jb_put1(b, 0);
    wri_put32(b->buf + at, (uint32_t)(b->len - at - 4));
}

/* Decode s[p..e) (a wrapper's string) into out[cap], NUL-terminated; its
 * length, or -1 if it does not fit. */
static long jb_small(const jb *b, size_t p, size_t e, bool esc, uint8_t *out,
                     size_t cap)
{
    size_t n = e - p;
    bool cut = false;
    if (n >= cap)
        return -1;
    if (esc)
        n = js_unescape(b->s + p, n, out, cap - 1, &cut);
    else
        memcpy(out, b->s + p, n);
    out[n] = 0;
    return cut ? -1 : (long)n;
}

/* A decimal integer in v[0..n) of the plain form -?(0|[1-9][0-9]{0,18})
 * that fits int64, which every reader takes the same way (libbson refuses
 * the rest or reads them its own way). */
static bool jb_int(const uint8_t *v, size_t n, int64_t *out)
{
    bool neg = n > 0 && v[0] == '-';
    size_t i = neg;
    if (n - i < 1 || n - i > 19 || (v[i] == '0' && n - i > 1))
        return false;
    uint64_t x = 0;
    for (; i < n; i++) {
        if (!js_isdigit(v[i]))
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0'); /* 19 digits fit uint64 */
    }
    if (x > (uint64_t)INT64_MAX + neg)
        return false;
    *out = neg ? (int64_t)(0 - x) : (int64_t)x;
    return true;
}

/* A JSON number v[0..n) (checked by the scan) with at most 15 digits and
 * a decimal exponent within 22 of them: the digits make an exact double
 * and so does the power of ten, so one multiplication or division rounds
 * once, to what strtod gives (Clinger's fast path). False: use strtod. */
static bool jb_double_fast(const uint8_t *v, size_t n, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                 1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
                                 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    bool neg = v[0] == '-';
    i = neg;
    uint64_t m = 0;
    int digits = 0, exp10 = 0;
    for (; i < n && js_isdigit(v[i]); i++) {
        m = m * 10 + (uint64_t)(v[i] - '0');
        digits += m != 0;
    }
    if (i < n && v[i] == '.')
        for (i++; i < n && js_isdigit(v[i]); i++) {
            m = m * 10 + (uint64_t)(v[i] - '0');
            digits += m != 0;
            exp10--;
        }
    if (digits > 15)
        return false;
    if (i < n) { /* 'e' or 'E' */
        bool eneg = false;
        int e = 0;
        i++;
        if (v[i] == '+' || v[i] == '-')
            eneg = v[i++] == '-';
        for (; i < n; i++) {
            if (e > 1000)
                return false;
            e = e * 10 + (v[i] - '0');
        }
        exp10 += eneg ? -e : e;
    }
    if (exp10 < -22 || exp10 > 22)
        return false;
    double d = (double)m;
    d = exp10 < 0 ? d / p10[-exp10] : d * p10[exp10];
    *out = neg ? -d : d;
    return true;
}

/* A JSON number s[p..e) (already checked by the scan) as libbson stores
 * it: int32 if it fits, else int64; with a fraction or exponent a double
 * from strtod. False: leave it to libbson (too long, out of range). */
static bool jb_number(const jb *b, size_t p, size_t e, uint8_t *type,
                      uint64_t *bits)
{
    const uint8_t *v = b->s + p;
    size_t n = e - p;
    if (memchr(v, '.', n) == NULL && memchr(v, 'e', n) == NULL &&
        memchr(v, 'E', n) == NULL) {
        int64_t x;
        if (!jb_int(v, n, &x)) /* 19 digits and more: libbson's to read */
            return false;
        if (x >= INT32_MIN && x <= INT32_MAX) {
            *type = BSON_TYPE_INT32;
            *bits = (uint32_t)(int32_t)x;
        } else {
            *type = BSON_TYPE_INT64;
            *bits = (uint64_t)x;
        }
        return true;
    }
    double d;
    if (!jb_double_fast(v, n, &d)) {
        char tmp[64];
        if (n >= sizeof tmp)
            return false;
        memcpy(tmp, v, n);
        tmp[n] = 0;
        errno = 0;
        d = strtod(tmp, NULL);
        if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
            return false; /* libbson refuses it: let it say so */
    }
    *type = BSON_TYPE_DOUBLE;
    memcpy(bits, &d, 8);
    return true;
}

/* Days from 1970-01-01 to y-m-01 (proleptic Gregorian). */
static int64_t jb_days(int64_t y, int m)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int jb_digits(const uint8_t *v, int k)
{
    int x = 0;
    for (int i = 0; i < k; i++) {
        if (!js_isdigit(v[i]))
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* The usual ISO-8601 $date strings, yyyy-mm-ddThh:mm:ss[.f{1,3}] then Z
 * or +hhmm/-hhmm, with libbson's ranges (day up to 31 in any month,
 * second up to 60, both counted on as timegm does). Others: false. */
static bool jb_iso_date(const uint8_t *v, size_t n, int64_t *out)
{
    if (n < 20 || v[4] != '-' || v[7] != '-' || v[10] != 'T' ||
        v[13] != ':' || v[16] != ':')
        return false;
    int y = jb_digits(v, 4), mo = jb_digits(v + 5, 2),
        d = jb_digits(v + 8, 2), h = jb_digits(v + 11, 2),
        mi = jb_digits(v + 14, 2), s = jb_digits(v + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || s < 0 || s > 60)
        return false;
    size_t p = 19;
    int64_t ms = 0;
    if (v[p] == '.') {
        size_t q = ++p;
        while (p < n && js_isdigit(v[p]))
            p++;
        if (p == q || p - q > 3)
            return false;
        ms = jb_digits(v + q, (int)(p - q));
        ms *= p - q == 1 ? 100 : p - q == 2 ? 10 : 1;
    }
    int64_t tz = 0;
    if (p + 1 == n && v[p] == 'Z') {
        /* UTC */
    } else if (p + 5 == n && (v[p] == '+' || v[p] == '-')) {
        int th = jb_digits(v + p + 1, 2), tm = jb_digits(v + p + 3, 2);
        if (th < 0 || th > 23 || tm < 0 || tm > 59)
            return false;
        tz = (v[p] == '-' ? 1 : -1) * (tm * 60 + th * 3600);
    } else
        return false;
    int64_t secs = (jb_days(y, mo) + d - 1) * 86400 + h * 3600 + mi * 60 + s;
    *out = (secs + tz) * 1000 + ms;
    return true;
}

static int jb_b64val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Canonical base64 v[0..n) (length a multiple of 4, '=' padding only at
 * the end, unused bits zero) decoded into out; its length, or -1. */
static long jb_b64(const uint8_t *v, size_t n, uint8_t *out)
{
    size_t o = 0;
    if (n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int a = jb_b64val(v[i]), bb = jb_b64val(v[i + 1]);
        int c = jb_b64val(v[i + 2]), d = jb_b64val(v[i + 3]);
        bool last = i + 4 == n;
        if (a < 0 || bb < 0)
            return -1;
        out[o++] = (uint8_t)(a << 2 | bb >> 4);
        if (c < 0) {
            if (!last || v[i + 2] != '=' || v[i + 3] != '=' || (bb & 15))
                return -1;
            break;
        }
        out[o++] = (uint8_t)((bb & 15) << 4 | c >> 2);
        if (d < 0) {
            if (!last || v[i + 3] != '=' || (c & 3))
                return -1;
            break;
        }
        out[o++] = (uint8_t)((c & 3) << 6 | d);
    }
    return (long)o;
}

static uint8_t jb_name(const uint8_t *k, size_t len, bool body)
{
    static const struct { const char *k; uint8_t n; } wrap[] = {
        {"$oid", JN_OID}, {"$date", JN_DATE}, {"$numberInt", JN_NINT},
        {"$numberLong", JN_NLONG}, {"$numberDouble", JN_NDOUBLE},
        {"$numberDecimal", JN_NDEC}, {"$binary", JN_BINARY},
        {"$type", JN_TYPE}, {"$uuid", JN_UUID}, {"$timestamp", JN_TS},
        {"$regularExpression", JN_REGEXDOC}, {"$regex", JN_REGEX},
        {"$options", JN_OPTIONS}, {"$code", JN_CODE}, {"$scope", JN_SCOPE},
        {"$symbol", JN_SYMBOL}, {"$minKey", JN_MINKEY},
        {"$maxKey", JN_MAXKEY}, {"$undefined", JN_UNDEF},
        {"$dbPointer", JN_DBPTR},
    }, inner[] = {
        {"base64", JN_B64}, {"subType", JN_SUBTYPE}, {"t", JN_T},
        {"i", JN_I}, {"pattern", JN_PATTERN}, {"options", JN_ROPTS},
        {"$numberLong", JN_NLONG},
    };
    const size_t nw = sizeof wrap / sizeof wrap[0];
    const size_t ni = sizeof inner / sizeof inner[0];
    for (size_t i = 0; i < (body ? ni : nw); i++) {
        const char *w = body ? inner[i].k : wrap[i].k;
        if (strlen(w) == len && memcmp(w, k, len) == 0)
            return body ? inner[i].n : wrap[i].n;
    }
    return JN_NONE;
}

/* Classify the key s[p..e). */
static uint8_t jb_key_name(const jb *b, size_t p, size_t e, bool esc,
                           bool body)
{
    uint8_t dec[24];
    const uint8_t *k = b->s + p;
    size_t len = e - p;
    if (esc) {
        bool cut;
        len = js_unescape(k, len, dec, sizeof dec, &cut);
        if (cut)
            return JN_NONE;
        k = dec;
    }
    if (!body && (len == 0 || k[0] != '$'))
        return JN_NONE;
    return jb_name(k, len, body);
}

static jb_frame *jb_push(jb *b, uint8_t kind)
{
    jb_frame *f = &b->fr[b->n++];
    f->kind = kind;
    f->scope = false;
    f->nf = f->nbf = 0;
    f->idx = 0;
    return f;
}

/* Start a document or array element under key k: header and length. */
static void jb_open(jb *b, uint8_t type, const jb_key *k, uint8_t kind)
{
    if (!jb_head(b, type, k, 4))
        return;
    jb_frame *f = jb_push(b, kind);
    f->start = b->len;
    jb_put4(b, 0);
}

static void jb_obj_open(jb *b)
{
    if (b == NULL || b->off)
        return;
    if (b->n == 0) { /* the line's document */
        jb_frame *f = jb_push(b, JF_DOC);
        f->start = 0;
        jb_put4(b, 0);
        return;
    }
    jb_frame *top = &b->fr[b->n - 1];
    if (top->kind == JF_DOC || top->kind == JF_ARR) {
        jb_key k = jb_next_key(top);
        jb_push(b, JF_PEND)->key = k;
        return;
    }
    if (top->kind != JF_WRAP) { /* an object in a wrapper's body */
        jb_defer(b);
        return;
    }
    jb_field *fl = &top->f[top->nf - 1];
    if (fl->name == JN_REGEX && top->nf == 1) {
        /* {"$regex": {...}}: the query operator, a plain document */
        jb_key k = {fl->kb, fl->ke, 0, fl->kesc, false};
        jb_key outer = top->key;
        b->n--;
        jb_open(b, BSON_TYPE_DOCUMENT, &outer, JF_DOC);
        if (!b->off)
            jb_push(b, JF_PEND)->key = k;
        return;
    }
    if (fl->name == JN_SCOPE && top->nf == 2 && top->f[0].name == JN_CODE &&
        top->f[0].t == 's') {
        jb_field *code = &top->f[0];
        if (!jb_head(b, BSON_TYPE_CODEWSCOPE, &top->key,
                     4 + 4 + (code->e - code->b) + 1 + 4))
            return;
        top->start = b->len;
        jb_put4(b, 0);
        jb_string_body(b, code->b, code->e, code->esc);
        fl->t = 'o';
        jb_frame *f = jb_push(b, JF_DOC);
        f->scope = true;
        f->start = b->len;
        jb_put4(b, 0);
        b->in_scope++;
        return;
    }
    if (top->nf == 1 && (fl->name == JN_DATE || fl->name == JN_BINARY ||
                         fl->name == JN_TS || fl->name == JN_REGEXDOC)) {
        fl->t = 'o';
        jb_push(b, JF_BODY);
        return;
    }
    jb_defer(b);
}

static void jb_arr_open(jb *b)
{
    if (b == NULL || b->off)
        return;
    jb_frame *top = &b->fr[b->n - 1];
    if (top->kind != JF_DOC && top->kind != JF_ARR) {
        jb_defer(b);
        return;
    }
    jb_key k = jb_next_key(top);
    jb_open(b, BSON_TYPE_ARRAY, &k, JF_ARR);
}

static void jb_key_event(jb *b, size_t p, size_t e, unsigned fl)
{
    if (b == NULL || b->off)
        return;
    jb_frame *top = &b->fr[b->n - 1];
    bool esc = (fl & JS_STR_ESC) != 0;
    jb_key k = {p, e, 0, esc, false};
    switch (top->kind) {
    case JF_DOC:
        top->key = k;
        return;
    case JF_PEND: {
        uint8_t name = jb_key_name(b, p, e, esc, false);
        if (name == JN_NONE) { /* a plain document */
            jb_key outer = top->key;
            b->n--;
            jb_open(b, BSON_TYPE_DOCUMENT, &outer, JF_DOC);
            if (!b->off)
                b->fr[b->n - 1].key = k;
            return;
        }
        if (b->in_scope > 0 && (name == JN_CODE || name == JN_SCOPE)) {
            jb_defer(b); /* libbson has one code state for all levels */
            return;
        }
        top->kind = JF_WRAP;
        break;
    }
    case JF_WRAP:
    case JF_BODY:
        if (top->nf == 2) {
            jb_defer(b);
            return;
        }
        break;
    default:
        jb_defer(b);
        return;
    }
    jb_field *f = &top->f[top->nf++];
    f->name = jb_key_name(b, p, e, esc, top->kind == JF_BODY);
    f->t = 0;
    f->kb = p;
    f->ke = e;
    f->kesc = esc;
    if (f->name == JN_NONE)
        jb_defer(b);
}

/* A scalar value: 's' string s[p..e) (escapes per fl), 'n' number, or a
 * literal 't', 'f', 'l' (null). */
static void jb_value(jb *b, uint8_t t, size_t p, size_t e, unsigned fl)
{
    if (b == NULL || b->off)
        return;
    jb_frame *top = &b->fr[b->n - 1];
    if (top->kind == JF_WRAP || top->kind == JF_BODY) {
        jb_field *f = &top->f[top->nf - 1];
        f->t = t == 's' || t == 'n' ? t : 'l';
        f->lit = t;
        f->b = p;
        f->e = e;
        f->esc = (fl & JS_STR_ESC) != 0;
        return;
    }
    jb_key k = jb_next_key(top);
    switch (t) {
    case 's':
        if (jb_head(b, BSON_TYPE_UTF8, &k, 5 + (e - p)))
            jb_string_body(b, p, e, (fl & JS_STR_ESC) != 0);
        return;
    case 'n': {
        uint8_t type;
        uint64_t bits;
        if (!jb_number(b, p, e, &type, &bits)) {
            jb_defer(b);
            return;
        }
        if (!jb_head(b, type, &k, 8))
            return;
        if (type == BSON_TYPE_INT32)
            jb_put4(b, (uint32_t)bits);
        else
            jb_put8(b, bits);
        return;
    }
    case 't':
    case 'f':
        if (jb_head(b, BSON_TYPE_BOOL, &k, 1))
            jb_put1(b, t == 't');
        return;
    default:
        jb_head(b, BSON_TYPE_NULL, &k, 0);
        return;
    }
}

/* Finish a document or array: terminator and length. */
static void jb_end(jb *b, const jb_frame *f)
{
    if (!jb_room(b, 1))
        return;
    jb_put1(b, 0);
    wri_put32(b->buf + f->start, (uint32_t)(b->len - f->start));
}

/* Find the body field named n, or NULL. */
static const jb_field *jb_bf(const jb_frame *w, uint8_t n, uint8_t t)
{
    for (int i = 0; i < w->nbf; i++)
        if (w->bf[i].name == n)
            return w->bf[i].t == t ? &w->bf[i] : NULL;
    return NULL;
}

/* A regular expression element from pattern and options strings. */
static bool jb_regex(jb *b, const jb_key *k, const jb_field *pat,
                     const jb_field *opt)
{
    uint8_t o[16];
    long on = jb_small(b, opt->b, opt->e, opt->esc, o, sizeof o);
    if (on < 0 || memchr(o, 0, (size_t)on) != NULL)
        return false;
    size_t pn = pat->e - pat->b;
    if (!jb_head(b, BSON_TYPE_REGEX, k, pn + 1 + 8))
        return true;
    size_t at = b->len;
    jb_text(b, pat->b, pat->e, pat->esc);
    if (memchr(b->buf + at, 0, b->len - at) != NULL) {
        return false; /* libbson refuses a NUL here */
    }
    jb_put1(b, 0);
    for (const char *c = "ilmsux"; *c; c++) /* sorted, as libbson does */
        if (memchr(o, *c, (size_t)on) != NULL)
            jb_put1(b, (uint8_t)*c);
    jb_put1(b, 0);
    return true;
}

/* A binary element: base64 text and a subtype of two hex digits. */
static bool jb_binary(jb *b, const jb_key *k, const jb_field *data,
                      const jb_field *sub)
{
    uint8_t st[4];
    if (jb_small(b, sub->b, sub->e, sub->esc, st, sizeof st) != 2 ||
        js_hexval(st[0]) < 0 || js_hexval(st[1]) < 0 || data->esc)
        return false;
    uint8_t type = (uint8_t)(js_hexval(st[0]) << 4 | js_hexval(st[1]));
    size_t n = data->e - data->b;
    if (!jb_head(b, BSON_TYPE_BINARY, k, 4 + 1 + 4 + n))
        return true;
    size_t at = b->len;
    bool old = type == BSON_SUBTYPE_BINARY_DEPRECATED;
    b->len += old ? 9 : 5;
    long got = jb_b64(b->s + data->b, n, b->buf + b->len);
    if (got < 0)
        return false;
    b->len += (size_t)got;
    wri_put32(b->buf + at, (uint32_t)got + (old ? 4 : 0));
    b->buf[at + 4] = type;
    if (old)
        wri_put32(b->buf + at + 5, (uint32_t)got);
    return true;
}

/* Build the wrapper w (just closed); false: leave the line to libbson. */
static bool jb_wrap(jb *b, jb_frame *w)
{
    const jb_field *f = &w->f[0], *g = w->nf == 2 ? &w->f[1] : NULL;
    const jb_key *k = &w->key;
    uint8_t v[48];
    long vn;
    int64_t x;
    for (int i = 0; i < w->nf; i++)
        if (w->f[i].t == 0)
            return false;
    if (g != NULL) {
        if (f->t != 's' || (g->t != 's' && g->t != 'o'))
            return false;
        if (f->name == JN_CODE && g->name == JN_SCOPE && g->t == 'o') {
            wri_put32(b->buf + w->start, (uint32_t)(b->len - w->start));
            return true;
        }
        if (g->t != 's')
            return false;
        if (f->name == JN_REGEX && g->name == JN_OPTIONS)
            return jb_regex(b, k, f, g);
        if (f->name == JN_OPTIONS && g->name == JN_REGEX)
            return jb_regex(b, k, g, f);
        if (f->name == JN_BINARY && g->name == JN_TYPE)
            return jb_binary(b, k, f, g);
        if (f->name == JN_TYPE && g->name == JN_BINARY)
            return jb_binary(b, k, g, f);
        return false;
    }
    switch (f->name) {
    case JN_OID:
        vn = f->t == 's' ? jb_small(b, f->b, f->e, f->esc, v, sizeof v) : -1;
        if (vn != 24)
            return false;
        if (jb_head(b, BSON_TYPE_OID, k, 12))
            for (int i = 0; i < 12; i++)
                jb_put1(b, (uint8_t)(js_hexval(v[2 * i]) << 4 |
                                     js_hexval(v[2 * i + 1])));
        return true;
    case JN_NINT:
    case JN_NLONG:
        vn = f->t == 's' ? jb_small(b, f->b, f->e, f->esc, v, sizeof v) : -1;
        if (vn < 0 || !jb_int(v, (size_t)vn, &x))
            return false;
        if (f->name == JN_NINT) {
            if (x < INT32_MIN || x > INT32_MAX)
                return false;
            if (jb_head(b, BSON_TYPE_INT32, k, 4))
                jb_put4(b, (uint32_t)(int32_t)x);
        } else if (jb_head(b, BSON_TYPE_INT64, k, 8))
            jb_put8(b, (uint64_t)x);
        return true;
    case JN_NDOUBLE: {
        vn = f->t == 's' ? jb_small(b, f->b, f->e, f->esc, v, sizeof v) : -1;
        if (vn < 0)
            return false;
        errno = 0;
        double d = strtod((const char *)v, NULL);
        if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
            return false;
        uint64_t bits;
        memcpy(&bits, &d, 8);
        if (jb_head(b, BSON_TYPE_DOUBLE, k, 8))
            jb_put8(b, bits);
        return true;
    }
    case JN_NDEC: {
        bson_decimal128_t d;
        size_t cap = f->e - f->b + 1;
        uint8_t *dv = f->t == 's' ? malloc(cap) : NULL;
        bool ok = dv != NULL && jb_small(b, f->b, f->e, f->esc, dv, cap) >= 0 &&
                  bson_decimal128_from_string((const char *)dv, &d);
        free(dv);
        if (!ok)
            return false;
        if (jb_head(b, BSON_TYPE_DECIMAL128, k, 16)) {
            jb_put8(b, d.low);
            jb_put8(b, d.high);
        }
        return true;
    }
    case JN_SYMBOL:
    case JN_CODE:
        if (f->t != 's')
            return false;
        if (jb_head(b, f->name == JN_CODE ? BSON_TYPE_CODE : BSON_TYPE_SYMBOL,
                    k, 5 + (f->e - f->b)))
            jb_string_body(b, f->b, f->e, f->esc);
        return true;
    case JN_DATE:
        if (f->t == 'n') {
            uint8_t type;
            uint64_t bits;
            if (!jb_number(b, f->b, f->e, &type, &bits) ||
                type == BSON_TYPE_DOUBLE)
                return false;
            x = type == BSON_TYPE_INT32 ? (int32_t)(uint32_t)bits
                                        : (int64_t)bits;
        } else if (f->t == 's') {
            vn = jb_small(b, f->b, f->e, f->esc, v, sizeof v);
            if (vn < 0 || !jb_iso_date(v, (size_t)vn, &x))
                return false;
        } else {
            const jb_field *l = jb_bf(w, JN_NLONG, 's');
            if (f->t != 'o' || w->nbf != 1 || l == NULL)
                return false;
            vn = jb_small(b, l->b, l->e, l->esc, v, sizeof v);
            if (vn < 0 || !jb_int(v, (size_t)vn, &x))
                return false;
        }
        if (jb_head(b, BSON_TYPE_DATE_TIME, k, 8))
            jb_put8(b, (uint64_t)x);
        return true;
    case JN_BINARY: {
        const jb_field *d = jb_bf(w, JN_B64, 's'), *s = jb_bf(w, JN_SUBTYPE, 's');
        if (f->t != 'o' || w->nbf != 2 || d == NULL || s == NULL)
            return false;
        return jb_binary(b, k, d, s);
    }
    case JN_UUID: {
        vn = f->t == 's' ? jb_small(b, f->b, f->e, f->esc, v, sizeof v) : -1;
        if (vn != 36)
            return false;
        uint8_t u[16];
        int o = 0;
        for (int i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (v[i] != '-')
                    return false;
                continue;
            }
            int hi = js_hexval(v[i]), lo = js_hexval(v[i + 1]);
            if (hi < 0 || lo < 0)
                return false;
            u[o++] = (uint8_t)(hi << 4 | lo);
            i++;
        }
        if (jb_head(b, BSON_TYPE_BINARY, k, 5 + 16)) {
            jb_put4(b, 16);
            jb_put1(b, BSON_SUBTYPE_UUID);
            memcpy(b->buf + b->len, u, 16);
            b->len += 16;
        }
        return true;
    }
    case JN_TS: {
        const jb_field *t = jb_bf(w, JN_T, 'n'), *i = jb_bf(w, JN_I, 'n');
        int64_t tv, iv;
        if (f->t != 'o' || w->nbf != 2 || t == NULL || i == NULL ||
            !jb_int(b->s + t->b, t->e - t->b, &tv) ||
            !jb_int(b->s + i->b, i->e - i->b, &iv) || tv < 0 ||
            tv > UINT32_MAX || iv < 0 || iv > UINT32_MAX)
            return false;
        if (jb_head(b, BSON_TYPE_TIMESTAMP, k, 8)) {
            jb_put4(b, (uint32_t)iv);
            jb_put4(b, (uint32_t)tv);
        }
        return true;
    }
    case JN_REGEXDOC: {
        const jb_field *p = jb_bf(w, JN_PATTERN, 's'), *o = jb_bf(w, JN_ROPTS, 's');
        if (f->t != 'o' || w->nbf != 2 || p == NULL || o == NULL)
            return false;
        return jb_regex(b, k, p, o);
    }
    case JN_MINKEY:
    case JN_MAXKEY:
        if (f->t != 'n' || f->e - f->b != 1 || b->s[f->b] != '1')
            return false;
        jb_head(b, f->name == JN_MINKEY ? BSON_TYPE_MINKEY : BSON_TYPE_MAXKEY,
                k, 0);
        return true;
    case JN_UNDEF:
        if (f->t != 'l' || f->lit != 't')
            return false;
        jb_head(b, BSON_TYPE_UNDEFINED, k, 0);
        return true;
    default: /* $regex alone, $type, $scope first, $dbPointer, ... */
        return false;
    }
}

static void jb_close(jb *b)
{
    if (b == NULL || b->off)
        return;
    jb_frame *top = &b->fr[--b->n];
    switch (top->kind) {
    case JF_DOC:
    case JF_ARR:
        jb_end(b, top);
        if (top->scope)
            b->in_scope--;
        if (b->n == 0)
            b->done = true;
        return;
    case JF_PEND: /* {} */
        if (jb_head(b, BSON_TYPE_DOCUMENT, &top->key, 5)) {
            jb_put4(b, 5);
            jb_put1(b, 0);
        }
        return;
    case JF_WRAP:
        if (!jb_wrap(b, top))
            jb_defer(b);
        return;
    default: { /* JF_BODY: hand its fields to the wrapper */
        jb_frame *w = &b->fr[b->n - 1];
        w->nbf = top->nf;
        memcpy(w->bf, top->f, sizeof top->f);
        for (int i = 0; i < top->nf; i++)
            if (top->f[i].t == 0)
                jb_defer(b);
        return;
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
        len = js_unescape(k, len, dec, sizeof dec, &cut);
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
        len = js_unescape(v, len, dst, len, &cut);
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
        jb_value(c->jb, 's', b, i - 1, fl);
        goto after_value;
    }
    case '{':
        goto open_obj;
    case '[':
        goto open_arr;
    case 't':
        if (js_literal(c, &i, "true", 4) != 0)
            return -1;
        jb_value(c->jb, 't', 0, 0, 0);
        break;
    case 'f':
        if (kind == JK_UNDEFINED)
            return js_fail(c, i, "$undefined must be true");
        if (js_literal(c, &i, "false", 5) != 0)
            return -1;
        jb_value(c->jb, 'f', 0, 0, 0);
        break;
    case 'n':
        if (js_literal(c, &i, "null", 4) != 0)
            return -1;
        jb_value(c->jb, 'l', 0, 0, 0);
        break;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': {
        size_t b = i;
        if (js_number(c, &i) != 0)
            return -1;
        if (kind == JK_U32 && js_check_u32(c, b, i) != 0)
            return -1;
        jb_value(c->jb, 'n', b, i, 0);
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
    jb_obj_open(c->jb);
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
        jb_key_event(c->jb, b, i - 1, fl);
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
    jb_arr_open(c->jb);
    kind = JK_NONE;
    i = js_skipws(s, n, i + 1);
    if (i < n && s[i] == ']') {
        i++;
        goto close;
    }
    goto value;

close: /* a container just ended at s[i-1] */
    jb_close(c->jb);
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
        jb_init(b, c.s);
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
        jb_free(b);
    return rc;
}

int wri_json_line_parse(const char *line, size_t len, bson_t *doc,
                        bool *is_delete, char *why, size_t whylen)
{
    return wri_json_line_parse_mode(line, len, doc, is_delete, why, whylen,
                                    WRI_JSON_BUILDER);
}

unsigned long wri_json_defers(void)
{
    return jb_defers;
}
