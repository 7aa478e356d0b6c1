/*
 * bsoncheck.c -- strict validation of a BSON document (bsoncheck.h,
 * wri_bson_check).
 *
 * One pass over the bytes, no allocation: every length is checked against
 * its container before use, nesting is bounded, and strings, keys and
 * regexes must be strict UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). Stricter than libbson 1.23's
 * bson_validate(BSON_VALIDATE_UTF8), which lets some invalid sequences
 * through, and several times faster on ASCII-heavy documents because runs
 * of ASCII are checked sixteen (SSE2) or eight bytes at a time, and a key
 * is found and checked in the same scan.
 *
 * Fast paths (bc_doc, wri_bson_check): a key of up to fifteen ASCII bytes
 * is found and checked with one sixteen-byte load, a value of fixed size
 * and a string skip the general switch, and an ASCII string is checked
 * sixteen bytes a load. Each takes only the case it is sure of, with the
 * result the general code would give; everything else, every failure
 * included, goes the general way, so the byte and the reason of a
 * finding never depend on the path. wri_bson_check_plain runs without
 * them and test_bsoncheck compares the two on the corpus, on generated
 * documents and on hundreds of thousands of mutations. Calls nothing else.
 *
 * A shape memo (wri_bson_check_memo, below) goes further for a caller
 * that checks many documents of one collection: an element whose type,
 * key and NUL equal those last accepted at its place is taken without
 * finding its key, a fixed-size value by its size alone, and
 * (bc_memo_take) a string of up to 64 bytes of ASCII and two-byte
 * sequences without a branch on its length or its bytes: what costs a
 * document check is the instructions per element and the branches
 * mispredicted on lengths and shapes that vary from one document to the
 * next. test_bsoncheck compares it with the plain check
 * the same way, the memo primed by documents of the same shape, and on
 * strings of every length and byte class, valid and not.
 */
#include "wr_int.h"
#include "cores.h"

#include <stdio.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BC_MAX_DEPTH 200

typedef struct bc {
    const uint8_t *base;
    const uint8_t *limit; /* the end of the buffer checked */
    size_t err_off;
    const char *why;
    bool fast; /* take the fast paths (bc_doc) */
    wri_bson_memo *memo;    /* shapes met before (NULL: none) */
    const uint8_t *rlimit;  /* loads may reach this far (limit + pad) */
} bc;

static int bc_fail(bc *c, const uint8_t *at, const char *why)
{
    c->err_off = (size_t)(at - c->base);
    c->why = why;
    return -1;
}

/* Words whose bytes are flagged where a byte is NUL or has its top bit
 * set: in flagged order the first flag is exact (a borrow only starts at
 * a NUL byte), later ones may not be. */
#define BC_ONES 0x0101010101010101ull
#define BC_HIGH 0x8080808080808080ull

static uint64_t bc_flags(uint64_t w, bool nul_ok)
{
    return (w | (nul_ok ? 0 : (w - BC_ONES) & ~w)) & BC_HIGH;
}

/* The first byte of [s, end) that is not ASCII (or is NUL, unless
 * nul_ok), or end. With SSE2, sixteen bytes at a time, also near the end
 * of a string: the sixteen bytes are loaded from inside the checked
 * buffer (ending at its end when s is closer to it than that) and the
 * flags past end are masked, so short keys and strings take one step.
 * Else eight bytes at a time, then one. */
static const uint8_t *bc_ascii_run(const bc *c, const uint8_t *s,
                                   const uint8_t *end, bool nul_ok)
{
#ifdef __SSE2__
    if (c->limit - c->base >= 16) {
        const __m128i zero = _mm_setzero_si128();
        while (s < end) {
            size_t n = (size_t)(end - s), shift = 0;
            const uint8_t *at = s;
            if (c->limit - s < 16) {
                at = c->limit - 16;
                shift = (size_t)(s - at);
            }
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)at);
            unsigned m = (unsigned)_mm_movemask_epi8(v);
            if (!nul_ok)
                m |= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
            m >>= shift;
            if (n < 16)
                m |= ~0u << n; /* stop at end */
            if (m != 0)
                return s + __builtin_ctz(m);
            s += 16;
        }
        return end;
    }
#endif
    while (end - s >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        uint64_t m = bc_flags(w, nul_ok);
        if (m != 0)
            return s + (__builtin_ctzll(m) >> 3); /* little-endian */
        s += 8;
    }
    while (s < end && *s < 0x80 && (nul_ok || *s != 0))
        s++;
    return s;
}

/* Strict UTF-8 of n bytes; NUL allowed when nul_ok. */
static int bc_utf8(bc *c, const uint8_t *s, size_t n, bool nul_ok)
{
    const uint8_t *end = s + n;
    while ((s = bc_ascii_run(c, s, end, nul_ok)) < end) {
        uint8_t b = *s;
        if (b == 0)
            return bc_fail(c, s, "NUL byte inside a key");
        size_t k;
        uint32_t cp, min;
        if ((b & 0xE0) == 0xC0)
            k = 1, cp = b & 0x1F, min = 0x80;
        else if ((b & 0xF0) == 0xE0)
            k = 2, cp = b & 0x0F, min = 0x800;
        else if ((b & 0xF8) == 0xF0)
            k = 3, cp = b & 0x07, min = 0x10000;
        else
            return bc_fail(c, s, "invalid UTF-8 lead byte");
        if ((size_t)(end - s) <= k)
            return bc_fail(c, s, "UTF-8 sequence cut short");
        for (size_t i = 1; i <= k; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return bc_fail(c, s + i, "invalid UTF-8 continuation byte");
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if (cp < min)
            return bc_fail(c, s, "overlong UTF-8 encoding");
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return bc_fail(c, s, "UTF-8 encodes a surrogate or a code "
                                 "point past U+10FFFF");
        s += k + 1;
    }
    return 0;
}

bool wri_utf8_check(const uint8_t *s, size_t n)
{
    bc c = {.base = s, .limit = s + n};
    return bc_utf8(&c, s, n, false) == 0;
}

size_t wri_utf8_seq(const uint8_t *s, size_t n)
{
    for (size_t k = 1; k <= 4 && k <= n; k++)
        if (wri_utf8_check(s, k))
            return k;
    return 0;
}

char *wr_utf8_replace(const char *s, size_t n, size_t *len_out)
{
    size_t k = 0;
    char *out = malloc(3 * n + 1); /* one byte becomes at most three */
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t l = wri_utf8_seq((const uint8_t *)s + i, n - i);
        if (l == 0) {
            memcpy(out + k, "\xEF\xBF\xBD", 3); /* U+FFFD */
            k += 3, i++;
        } else {
            memcpy(out + k, s + i, l);
            k += l, i += l;
        }
    }
    out[k] = '\0';
    if (len_out != NULL)
        *len_out = k;
    return out;
}

/* 1 + the size of a value of type t when that size is fixed (what
 * bc_value says it is), else 0. A boolean (1 byte) must also be 0 or 1. */
static const uint8_t bc_fixed1[256] = {
    [0x01] = 9, [0x09] = 9, [0x11] = 9, [0x12] = 9, [0x10] = 5,
    [0x13] = 17, [0x07] = 13, [0x06] = 1, [0x0A] = 1, [0x7F] = 1,
    [0xFF] = 1, [0x08] = 2,
};

#ifdef __SSE2__
/* The sixteen bytes that hold [s, s+16) when the buffer has them, else
 * the last sixteen of the buffer (*shift: where s is in them); false when
 * the buffer is shorter than sixteen bytes. */
static inline bool bc_load16(const bc *c, const uint8_t *s, __m128i *v,
                             unsigned *shift)
{
    const uint8_t *at = s;
    *shift = 0;
    if (c->limit - s < 16) {
        if (c->limit - c->base < 16)
            return false;
        at = c->limit - 16;
        *shift = (unsigned)(s - at);
    }
    *v = _mm_loadu_si128((const __m128i *)(const void *)at);
    return true;
}
#endif

/* A key of at most fifteen ASCII bytes ending before end, found with one
 * load from inside the buffer: what bc_cstring finds for it (its first
 * byte that is NUL or not ASCII is a NUL before end). false: let
 * bc_cstring decide. */
static inline bool bc_key_fast(const bc *c, const uint8_t *q,
                               const uint8_t *end, size_t *klen)
{
#ifdef __SSE2__
    __m128i v;
    unsigned shift;
    if (!bc_load16(c, q, &v, &shift))
        return false;
    unsigned z = (unsigned)_mm_movemask_epi8(
                     _mm_cmpeq_epi8(v, _mm_setzero_si128())) >> shift;
    unsigned h = (unsigned)_mm_movemask_epi8(v) >> shift;
    size_t n = (size_t)__builtin_ctz(z | 0x10000u);
    if (n >= 16 - shift || n >= (size_t)(end - q) ||
        (h & ((1u << n) - 1)) != 0)
        return false;
    *klen = n;
    return true;
#else
    (void)c, (void)q, (void)end, (void)klen;
    return false;
#endif
}

/* Are the n bytes at s (inside the buffer) all ASCII, NUL included? One
 * load per sixteen bytes, none outside the buffer; false also when it
 * cannot tell (a buffer shorter than sixteen bytes). */
static inline bool bc_ascii_fast(const bc *c, const uint8_t *s, size_t n)
{
#ifdef __SSE2__
    __m128i v;
    unsigned shift;
    if (n >= 16) {
        for (size_t i = 0; i + 16 < n; i += 16)
            if (_mm_movemask_epi8(
                    _mm_loadu_si128((const __m128i *)(const void *)(s + i))))
                return false;
        return _mm_movemask_epi8(_mm_loadu_si128(
                   (const __m128i *)(const void *)(s + n - 16))) == 0;
    }
    if (!bc_load16(c, s, &v, &shift))
        return false;
    return (((unsigned)_mm_movemask_epi8(v) >> shift) & ((1u << n) - 1)) ==
           0;
#else
    (void)c, (void)s, (void)n;
    return false;
#endif
}

/* A cstring starting at p, ending before end: returns its length. An
 * all-ASCII cstring (keys, nearly always) is found and checked in one
 * scan; otherwise its NUL is looked for first, then its UTF-8 checked. */
static int bc_cstring(bc *c, const uint8_t *p, const uint8_t *end,
                      size_t *len)
{
    const uint8_t *z = bc_ascii_run(c, p, end, false);
    if (z < end && *z == 0) {
        *len = (size_t)(z - p);
        return 0;
    }
    z = z < end ? memchr(z, 0, (size_t)(end - z)) : NULL;
    if (z == NULL)
        return bc_fail(c, p, "string without its terminating NUL");
    *len = (size_t)(z - p);
    return bc_utf8(c, p, *len, false);
}

/* int32-length-prefixed string at p (before end); *size = bytes taken. */
static int bc_string(bc *c, const uint8_t *p, const uint8_t *end,
                     size_t *size)
{
    if (end - p < 5)
        return bc_fail(c, p, "string length runs past its document");
    int32_t n = (int32_t)wri_get32(p);
    if (n < 1 || (size_t)n > (size_t)(end - p) - 4)
        return bc_fail(c, p, "string length out of bounds");
    if (p[4 + n - 1] != 0)
        return bc_fail(c, p + 4 + n - 1, "string not NUL-terminated");
    *size = 4 + (size_t)n;
    if (c->fast && bc_ascii_fast(c, p + 4, (size_t)n - 1))
        return 0; /* all ASCII (a NUL is fine in a string) */
    return bc_utf8(c, p + 4, (size_t)n - 1, true);
}

static int bc_doc(bc *c, const uint8_t *p, size_t avail, int depth,
                  unsigned slot, size_t *size);

/* The value of the element at elem (type t) at p; *size = bytes taken. */
static int bc_value(bc *c, const uint8_t *elem, const uint8_t *p,
                    const uint8_t *end, int depth, unsigned slot,
                    size_t *size)
{
    uint8_t t = elem[0];
    size_t avail = (size_t)(end - p), a, b;
    switch (t) {
    case 0x01: case 0x09: case 0x11: case 0x12: /* double date ts int64 */
        *size = 8;
        break;
    case 0x10: /* int32 */
        *size = 4;
        break;
    case 0x13: /* decimal128 */
        *size = 16;
        break;
    case 0x07: /* ObjectId */
        *size = 12;
        break;
    case 0x06: case 0x0A: case 0x7F: case 0xFF: /* undefined null max min */
        *size = 0;
        break;
    case 0x08: /* boolean */
        if (avail < 1)
            return bc_fail(c, p, "value runs past its document");
        if (p[0] > 1)
            return bc_fail(c, p, "boolean neither 0 nor 1");
        *size = 1;
        break;
    case 0x02: case 0x0D: case 0x0E: /* string, code, symbol */
        return bc_string(c, p, end, size);
    case 0x03: case 0x04: /* document, array */
        return bc_doc(c, p, avail, depth + 1, slot, size);
    case 0x05: { /* binary */
        if (avail < 5)
            return bc_fail(c, p, "binary header runs past its document");
        int32_t n = (int32_t)wri_get32(p);
        if (n < 0 || (size_t)n > avail - 5)
            return bc_fail(c, p, "binary length out of bounds");
        if (p[4] == 0x02 &&
            (n < 4 || (int32_t)wri_get32(p + 5) != n - 4))
            return bc_fail(c, p, "old binary (subtype 2) inner length");
        *size = 5 + (size_t)n;
        break;
    }
    case 0x0B: /* regex: pattern, options */
        if (bc_cstring(c, p, end, &a) != 0 ||
            bc_cstring(c, p + a + 1, end, &b) != 0)
            return -1;
        *size = a + b + 2;
        break;
    case 0x0C: /* DBPointer: string, ObjectId */
        if (bc_string(c, p, end, &a) != 0)
            return -1;
        *size = a + 12;
        break;
    case 0x0F: { /* code with scope: int32 total, string, document */
        if (avail < 4)
            return bc_fail(c, p, "code-with-scope runs past its document");
        int32_t n = (int32_t)wri_get32(p);
        if (n < 14 || (size_t)n > avail)
            return bc_fail(c, p, "code-with-scope length out of bounds");
        const uint8_t *cend = p + n;
        if (bc_string(c, p + 4, cend, &a) != 0 ||
            bc_doc(c, p + 4 + a, (size_t)(cend - p - 4 - a), depth + 1,
                   slot, &b) != 0)
            return -1;
        if (4 + a + b != (size_t)n)
            return bc_fail(c, p, "code-with-scope length disagrees with "
                                 "its parts");
        *size = (size_t)n;
        break;
    }
    default:
        return bc_fail(c, elem, "unknown element type");
    }
    if (*size > avail)
        return bc_fail(c, p, "value runs past its document");
    return 0;
}

/* --- the shape memo ------------------------------------------------------
 *
 * Documents of one collection nearly all have the same keys in the same
 * places. The memo remembers, for each place (an element's index inside
 * its document and the place of that document; a hash, so two places may
 * share an entry), the type byte, key and NUL last found there. An
 * element whose first bytes equal its place's entry needs neither its
 * key found nor its type dispatched: the key is one the general path
 * accepted, the value's size rule is the type's. This turns the chain
 * from one element to the next from a data dependency (find the key's
 * NUL, then the value's size) into a predicted branch. Only what the
 * general path would accept, with the same size, is taken this way;
 * everything else, every failure included, goes the general way, so
 * verdict, byte and reason are the same with or without a memo.
 */
#define BC_MEMO_SLOTS 256

/* What an entry's value is: how the hit path takes it. */
enum { BC_K_FIXED = 1, BC_K_BOOL, BC_K_STRING, BC_K_DOC };

typedef struct bc_ment {
    uint8_t pat[16]; /* type byte, key, NUL; zero after */
    uint32_t need;   /* the compare bits that must be set: (1 << n) - 1;
                        an empty entry 1 << 16, which no compare sets */
    uint8_t n;       /* bytes of pat that count (3..16) */
    uint8_t kind;    /* BC_K_*; taken from pat[0] when kept */
    uint8_t skip;    /* FIXED, BOOL: n + the value's size */
} bc_ment;

struct wri_bson_memo {
    bc_ment e[BC_MEMO_SLOTS];
    uint64_t hits; /* elements taken by their entry (tests) */
};

wri_bson_memo *wri_bson_memo_new(void)
{
    /* written at every element: lines of its own (cores.h) */
    wri_bson_memo *m = wri_calloc_lines(sizeof(wri_bson_memo));
    for (unsigned i = 0; m != NULL && i < BC_MEMO_SLOTS; i++)
        m->e[i].need = 1u << 16;
    return m;
}

void wri_bson_memo_free(wri_bson_memo *m)
{
    free(m);
}

uint64_t wri_bson_memo_hits(const wri_bson_memo *m)
{
    return m->hits;
}

/* The entry of element i of the document whose own place is parent:
 * the top byte of bc_slot_hash(parent, i), which grows by BC_SLOT_MUL
 * from one element to the next (arithmetic mod 2^32). */
#define BC_SLOT_MUL 0x85EBCA77u
static inline uint32_t bc_slot_hash(unsigned parent, unsigned i)
{
    return (parent * 0x9E3779B1u + i + 1) * BC_SLOT_MUL;
}

/* Remember the element at q (type t, a key of klen ASCII bytes, found by
 * bc_key_fast, and a value the general path accepted). */
static inline void bc_memo_keep(bc *c, unsigned s, const uint8_t *q,
                                size_t klen, uint8_t t)
{
    bc_ment *e = &c->memo->e[s];
    uint8_t kind = t == 0x08         ? BC_K_BOOL
                   : bc_fixed1[t]    ? BC_K_FIXED
                   : t == 0x02       ? BC_K_STRING
                   : t == 0x03 || t == 0x04 ? BC_K_DOC
                                            : 0;
    if (klen + 2 > sizeof e->pat || kind == 0) {
        e->need = 1u << 16;
        e->n = 0;
        return;
    }
    memset(e->pat, 0, sizeof e->pat);
    memcpy(e->pat, q, klen + 2);
    e->n = (uint8_t)(klen + 2);
    e->need = (1u << e->n) - 1;
    e->kind = kind;
    e->skip = (uint8_t)(e->n + bc_fixed1[t] - (bc_fixed1[t] != 0));
}

#ifdef __SSE2__
/* Does the element at q (its document's NUL at end) start with entry e's
 * type, key and NUL? The sixteen bytes at q are inside what may be
 * loaded. */
static inline bool bc_memo_hit(const bc_ment *e, const uint8_t *q,
                               const uint8_t *end)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
    __m128i w = _mm_loadu_si128((const __m128i *)(const void *)e->pat);
    unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, w));
    return (eq & e->need) == e->need && (size_t)(end - q) >= e->n;
}
#else
static inline bool bc_memo_hit(const bc_ment *e, const uint8_t *q,
                               const uint8_t *end)
{
    (void)e, (void)q, (void)end;
    return false;
}
#endif

#ifdef __SSE2__
/* Bits of the sixteen bytes at s: bytes equal to want under mask. */
static inline uint32_t bc_bits16(const uint8_t *s, uint8_t mask, uint8_t want)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
        _mm_and_si128(v, _mm_set1_epi8((char)mask)),
        _mm_set1_epi8((char)want)));
}

/* Bits of the 64 bytes at s: bytes equal to want under mask. */
static inline uint64_t bc_bits64(const uint8_t *s, uint8_t mask, uint8_t want)
{
    return (uint64_t)bc_bits16(s, mask, want) |
           (uint64_t)bc_bits16(s + 16, mask, want) << 16 |
           (uint64_t)bc_bits16(s + 32, mask, want) << 32 |
           (uint64_t)bc_bits16(s + 48, mask, want) << 48;
}

/* Are the n bytes at s (n <= 64) strict UTF-8 made of ASCII (NUL
 * included) and two-byte sequences only (U+0080..U+07FF: most accented
 * Latin, Greek, Cyrillic text)? Without a branch per byte: every byte
 * with its top bit set is a lead C2..DF or a continuation 80..BF, and the
 * continuations are exactly the bytes after the leads. false also for
 * any other valid string (three- and four-byte sequences): bc_utf8
 * decides those. Loads the 64 bytes at s. */
static inline bool bc_utf8_two(const uint8_t *s, size_t n)
{
    uint64_t in = n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
    uint64_t high = ~bc_bits64(s, 0x80, 0x00) & in;
    uint64_t cont = bc_bits64(s, 0xC0, 0x80) & in;
    /* C2..DF: C0..DF but not C0, C1 (overlong) */
    uint64_t lead = (bc_bits64(s, 0xE0, 0xC0) & ~bc_bits64(s, 0xFE, 0xC0)) &
                    in;
    /* a lead as the last byte wants a continuation at bit n: not in cont;
     * as byte 63, its continuation would be past the mask: refused */
    return high == (lead | cont) && cont == (lead << 1) &&
           (lead >> 63) == 0;
}
#endif

/* Bytes past an element's start that bc_memo_take may load: its entry's
 * sixteen, then from the value (at most sixteen in) a string's length and
 * 64 bytes after it. */
#define BC_TAKE_LOADS 84
_Static_assert(WRI_BSON_PAD >= BC_TAKE_LOADS,
               "a padded document's last elements take the fastest path");

/* The value of a string element whose type, key and NUL matched entry e
 * (bc_memo_hit), taken without a branch on its length or its bytes when
 * the general path surely accepts it: up to 64 bytes (ASCII and two-byte
 * sequences, bc_utf8_two) whose length fits and whose NUL is there.
 * *size: the element's bytes. false: let bc_string decide. The
 * BC_TAKE_LOADS bytes at q may be loaded. */
static inline bool bc_memo_take(const bc_ment *e, const uint8_t *q,
                                const uint8_t *end, size_t *size)
{
#ifdef __SSE2__
    const uint8_t *v = q + e->n;
    uint32_t n = wri_get32(v);
    size_t sz = (size_t)e->n + 4 + n;
    if (sz > (size_t)(end - q) || n - 1 >= 64)
        return false;
    uint32_t len = n - 1; /* the bytes before its NUL */
    uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_loadu_si128(
                     (const __m128i *)(const void *)(v + 4))) |
                 (uint32_t)_mm_movemask_epi8(_mm_loadu_si128(
                     (const __m128i *)(const void *)(v + 20)))
                     << 16;
    if (len < 32)
        m &= (uint32_t)(((uint64_t)1 << len) - 1);
    if (v[3 + n] != 0 || ((m != 0 || len > 32) && !bc_utf8_two(v + 4, len)))
        return false;
    *size = sz;
    return true;
#else
    (void)e, (void)q, (void)end, (void)size;
    return false;
#endif
}

static int bc_doc(bc *c, const uint8_t *p, size_t avail, int depth,
                  unsigned slot, size_t *size)
{
    if (depth > BC_MAX_DEPTH)
        return bc_fail(c, p, "documents nested too deeply");
    if (avail < 5)
        return bc_fail(c, p, "document shorter than 5 bytes");
    int32_t n = (int32_t)wri_get32(p);
    if (n < 5 || (size_t)n > avail)
        return bc_fail(c, p, "document length out of bounds");
    const uint8_t *end = p + n - 1; /* the terminating NUL */
    if (*end != 0)
        return bc_fail(c, end, "document not NUL-terminated");
    const uint8_t *q = p + 4;
    const bool fast = c->fast;
    wri_bson_memo *const memo = c->memo;
    const uint8_t *const rlimit = c->rlimit;
    /* every element starts before end: when the loads may reach that far
     * past it (a caller's pad), no element needs to ask */
    const bool room = rlimit - end >= BC_TAKE_LOADS;
    /* element i's entry: the top byte of bc_slot_hash(slot, i) */
    uint32_t h = bc_slot_hash(slot, 0);
    for (; q < end; h += BC_SLOT_MUL) {
        unsigned s = memo != NULL ? h >> 24 : 0;
        size_t klen, vlen, fx;

        if (memo != NULL && (room || rlimit - q >= 16) &&
            bc_memo_hit(&memo->e[s], q, end)) {
            /* the type, key and NUL of an element accepted before: the
             * value as the general path below takes it */
            const bc_ment *e = &memo->e[s];
            const uint8_t *v = q + e->n;
            const size_t skip = e->skip;
            const uint8_t kind = e->kind;
            memo->hits++;
            switch (kind) {
            case BC_K_BOOL:
                if (v[0] > 1)
                    break;
                /* fall through */
            case BC_K_FIXED:
                if (skip > (size_t)(end - q))
                    break;
                q += skip;
                continue;
            case BC_K_STRING:
                if ((room || rlimit - q >= BC_TAKE_LOADS) &&
                    bc_memo_take(e, q, end, &vlen)) {
                    q += vlen;
                    continue;
                }
                if (bc_string(c, v, end, &vlen) != 0)
                    return -1;
                q = v + vlen;
                continue;
            default: /* BC_K_DOC */
                if (bc_doc(c, v, (size_t)(end - v), depth + 1, s, &vlen) !=
                    0)
                    return -1;
                q = v + vlen;
                continue;
            }
        }
        const uint8_t *at = q;
        uint8_t t = *q++;
        bool kfast = fast && bc_key_fast(c, q, end, &klen);
        if (!kfast && bc_cstring(c, q, end, &klen) != 0)
            return -1;
        q += klen + 1;
        /* fast: a value of fixed size that fits (a boolean 0 or 1), or a
         * string; anything else, and every failure, takes bc_value */
        fx = bc_fixed1[t];
        if (fast && fx != 0 && fx - 1 <= (size_t)(end - q) &&
            (t != 0x08 || q[0] <= 1))
            vlen = fx - 1;
        else if (fast && t == 0x02) {
            if (bc_string(c, q, end, &vlen) != 0)
                return -1;
        } else if (bc_value(c, at, q, end, depth, s, &vlen) != 0)
            return -1;
        q += vlen;
        if (memo != NULL && kfast)
            bc_memo_keep(c, s, at, klen, t);
    }
    if (q != end)
        return bc_fail(c, end, "element runs over the document's end");
    *size = (size_t)n;
    return 0;
}

static int bc_run(const uint8_t *buf, size_t len, bool fast,
                  wri_bson_memo *memo, size_t pad, size_t *err_off,
                  char *why, size_t whylen)
{
    bc c = {buf, buf + len, 0, NULL, fast, memo, buf + len + pad};
    size_t size;
    if (bc_doc(&c, buf, len, 0, 0, &size) == 0 && size != len)
        bc_fail(&c, buf + size, "bytes after the document's end");
    if (c.why == NULL)
        return WR_OK;
    if (err_off != NULL)
        *err_off = c.err_off;
    if (why != NULL)
        snprintf(why, whylen, "byte %zu: %s", c.err_off, c.why);
    return WR_ECORRUPT;
}

int wri_bson_check(const uint8_t *buf, size_t len, size_t *err_off,
                   char *why, size_t whylen)
{
    return bc_run(buf, len, true, NULL, 0, err_off, why, whylen);
}

int wri_bson_check_plain(const uint8_t *buf, size_t len, size_t *err_off,
                         char *why, size_t whylen)
{
    return bc_run(buf, len, false, NULL, 0, err_off, why, whylen);
}

int wri_bson_check_memo(wri_bson_memo *memo, const uint8_t *buf, size_t len,
                        size_t pad, size_t *err_off, char *why,
                        size_t whylen)
{
    return bc_run(buf, len, true, memo, pad, err_off, why, whylen);
}
