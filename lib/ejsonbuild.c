/*
 * ejsonbuild.c -- the BSON builder under the strict Extended JSON scan
 * (ejsonread.c): the scan hands it every token it has validated and it
 * writes the BSON as it goes (see ejsonbuild.h).
 */
#include "wr_int.h"
#include "ejsonbuild.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Decode the escapes of a validated string body s[0..len) into out (not
 * NUL-terminated), stopping before a character that would not fit in cap
 * bytes. Returns the bytes written; *cut tells whether it stopped early. */
size_t wri_json_unescape(const uint8_t *s, size_t len, uint8_t *out,
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
 * lines keep their old result.
 */


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


static void jb_defer(jb *b)
{
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

void wri_jb_init(jb *b, const uint8_t *s)
{
    b->s = s;
    b->buf = b->stackbuf;
    b->cap = sizeof b->stackbuf;
    b->len = 0;
    b->heap = b->off = b->done = false;
    b->n = b->in_scope = 0;
}

void wri_jb_free(jb *b)
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
        b->len += wri_json_unescape(b->s + p, e - p, b->buf + b->len, e - p, &cut);
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
        n = wri_json_unescape(b->s + p, n, out, cap - 1, &cut);
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
        len = wri_json_unescape(k, len, dec, sizeof dec, &cut);
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

void wri_jb_obj_open(jb *b)
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

void wri_jb_arr_open(jb *b)
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

void wri_jb_key_event(jb *b, size_t p, size_t e, unsigned fl)
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
void wri_jb_value(jb *b, uint8_t t, size_t p, size_t e, unsigned fl)
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

void wri_jb_close(jb *b)
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
