/*
 * digest.c -- content digests of collections (wr.h, wr_digest_*).
 *
 * The digest of a collection is the SHA-256 (FIPS 180-4) of its documents'
 * BSON bytes concatenated in ascending _id order (MongoDB key order, the
 * order of the main table). Each BSON document starts with its own int32
 * length, so the concatenation is unambiguous. The digest depends on the
 * documents only, never on page size, page layout, fill factor or
 * checkpoint history: two databases, or a database and the legacy log it
 * was migrated from, hold the same content exactly when their digests are
 * equal. wr-verify --digest and wr-migrate --digest show it.
 *
 * WR_DIGEST_XXH128 is XXH3-128 from libxxhash, 10-20x faster than
 * SHA-256. The fingerprint compact and migrate compare (what a build
 * wrote against what the new file's verify read) is not a stream but a
 * sum of one XXH3-128 hash per item (wri_itemsum), so that the verify can
 * take it in two halves on two threads; it catches bugs, not
 * adversaries, so a non-cryptographic 128-bit hash is enough there.
 *
 * Calls nothing in the library but err, ipipe (the byte pipe of
 * wri_digest_new_async) and the public cursor API for wr_coll_digest.
 */
#include "wr_int.h"
#include "ipipe.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

struct wr_digest {
    wr_digest_kind kind;
    uint32_t h[8];    /* SHA-256: */
    uint64_t len;     /* bytes hashed so far */
    uint8_t buf[64];  /* partial block */
    size_t nbuf;
    XXH3_state_t *xxh; /* XXH128 */
    uint64_t ndocs;
    /* wri_digest_new_async: the documents' bytes are copied onto a byte
     * pipe, hashed on its thread batch by batch; wr_digest_final waits
     * for it to drain. NULL: hashed on the caller's thread. */
    wri_ipipe *pipe;
    wr_errbuf pipe_eb; /* the pipe's errors: none, dg_take cannot fail */
    pthread_t maker;   /* the thread that made it, and the batches hashed */
    uint64_t elsewhere; /* on another (wri_digest_batches_elsewhere) */
};

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t sha_ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t sha_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void sha_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, hh;
    for (int i = 0; i < 16; i++)
        w[i] = sha_be32(p + 4 * i);
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = sha_ror(w[i - 15], 7) ^ sha_ror(w[i - 15], 18) ^
                      (w[i - 15] >> 3);
        uint32_t s1 = sha_ror(w[i - 2], 17) ^ sha_ror(w[i - 2], 19) ^
                      (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0], b = h[1], c = h[2], d = h[3];
    e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = sha_ror(e, 6) ^ sha_ror(e, 11) ^ sha_ror(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + s1 + ch + sha_k[i] + w[i];
        uint32_t s0 = sha_ror(a, 2) ^ sha_ror(a, 13) ^ sha_ror(a, 22);
        uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = s0 + mj;
        hh = g, g = f, f = e, e = d + t1;
        d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
    h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

/* --- SHA-256 with the x86 SHA extensions (SHA-NI) ---------------------
 * Same function as sha_block, over n blocks, four rounds per step with
 * the message schedule in four-word vectors (Intel's SHA extensions
 * white paper). Chosen at run time when the CPU has them; the digest is
 * identical either way (test_digest checks both paths against known
 * answers and against each other). */
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

__attribute__((target("sha,sse4.1,ssse3"))) static void
sha_blocks_ni(uint32_t h[8], const uint8_t *p, size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
                                         0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);
    __m128i st1 = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);       /* CDAB */
    st1 = _mm_shuffle_epi32(st1, 0x1B);       /* EFGH */
    __m128i st0 = _mm_alignr_epi8(tmp, st1, 8); /* ABEF */
    st1 = _mm_blend_epi16(st1, tmp, 0xF0);      /* CDGH */
    for (; n > 0; n--, p += 64) {
        __m128i save0 = st0, save1 = st1, w[4], msg;
        for (int g = 0; g < 16; g++) {
            __m128i wg;
            if (g < 4) {
                wg = _mm_shuffle_epi8(
                    _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * g)),
                    bswap);
            } else {
                __m128i t = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(w[(g + 3) & 3],
                                                     w[(g + 2) & 3], 4));
                wg = _mm_sha256msg2_epu32(t, w[(g + 3) & 3]);
            }
            w[g & 3] = wg;
            msg = _mm_add_epi32(
                wg, _mm_loadu_si128((const __m128i *)(const void *)&sha_k[4 * g]));
            st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
            msg = _mm_shuffle_epi32(msg, 0x0E);
            st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
        }
        st0 = _mm_add_epi32(st0, save0);
        st1 = _mm_add_epi32(st1, save1);
    }
    tmp = _mm_shuffle_epi32(st0, 0x1B);       /* FEBA */
    st1 = _mm_shuffle_epi32(st1, 0xB1);       /* DCHG */
    st0 = _mm_blend_epi16(tmp, st1, 0xF0);    /* DCBA */
    st1 = _mm_alignr_epi8(st1, tmp, 8);       /* ABEF */
    _mm_storeu_si128((__m128i *)(void *)&h[0], st0);
    _mm_storeu_si128((__m128i *)(void *)&h[4], st1);
}

static bool sha_have_ni(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 29)))
        return false; /* CPUID.7.0:EBX bit 29: SHA */
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return false;
    return (c & (1u << 19)) && (c & (1u << 9)); /* SSE4.1, SSSE3 */
}
#else
static void sha_blocks_ni(uint32_t h[8], const uint8_t *p, size_t n)
{
    (void)h, (void)p, (void)n;
}
static bool sha_have_ni(void)
{
    return false;
}
#endif

/* 1: use SHA-NI, 0: portable code, -1: not decided yet. WR_SHA_PORTABLE=1
 * forces the portable code (tests compare the two). */
static int sha_ni = -1;

void wri_digest_force_portable(bool portable)
{
    sha_ni = portable ? 0 : (sha_have_ni() ? 1 : 0);
}

static void sha_blocks(uint32_t h[8], const uint8_t *p, size_t n)
{
    if (sha_ni < 0) {
        const char *e = getenv("WR_SHA_PORTABLE");
        wri_digest_force_portable(e != NULL && *e != '\0' && *e != '0');
    }
    if (sha_ni) {
        sha_blocks_ni(h, p, n);
        return;
    }
    for (; n > 0; n--, p += 64)
        sha_block(h, p);
}

static void sha_update(wr_digest *d, const uint8_t *p, size_t n)
{
    d->len += n;
    if (d->nbuf > 0) {
        size_t k = WRI_MIN(n, 64 - d->nbuf);
        memcpy(d->buf + d->nbuf, p, k);
        d->nbuf += k;
        p += k;
        n -= k;
        if (d->nbuf < 64)
            return;
        sha_blocks(d->h, d->buf, 1);
        d->nbuf = 0;
    }
    if (n >= 64) {
        sha_blocks(d->h, p, n / 64);
        p += n / 64 * 64;
        n %= 64;
    }
    if (n > 0)
        memcpy(d->buf, p, n);
    d->nbuf = n;
}

static void digest_reset(wr_digest *d)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(d->h, iv, sizeof iv);
    d->len = 0;
    d->nbuf = 0;
    d->ndocs = 0;
    if (d->xxh != NULL)
        XXH3_128bits_reset(d->xxh);
}

size_t wr_digest_len(wr_digest_kind kind)
{
    return kind == WR_DIGEST_SHA256 ? 32 : kind == WR_DIGEST_XXH128 ? 16 : 0;
}

int wr_digest_new_kind(wr_digest_kind kind, wr_digest **out, wr_errbuf *eb)
{
    wr_digest *d;
    *out = NULL;
    if (wr_digest_len(kind) == 0)
        return WR_ERR(eb, WR_EINVAL, "no such digest kind: %d", (int)kind);
    if ((d = calloc(1, sizeof *d)) == NULL ||
        (kind == WR_DIGEST_XXH128 && (d->xxh = XXH3_createState()) == NULL)) {
        free(d);
        return WR_ERR(eb, WR_ENOMEM, "out of memory for a digest");
    }
    d->kind = kind;
    digest_reset(d);
    *out = d;
    return WR_OK;
}

int wr_digest_new(wr_digest **out, wr_errbuf *eb)
{
    return wr_digest_new_kind(WR_DIGEST_SHA256, out, eb);
}

/* Bytes into the hash, on the calling thread. */
static void dg_hash(wr_digest *d, const uint8_t *p, size_t n)
{
    if (d->xxh != NULL)
        XXH3_128bits_update(d->xxh, p, n);
    else
        sha_update(d, p, n);
}

/* A batch of the byte pipe, on its thread (never fails). */
static int dg_take(void *arg, const uint8_t *p, size_t n, wr_errbuf *eb)
{
    wr_digest *d = arg;
    (void)eb;
    if (!pthread_equal(pthread_self(), d->maker))
        d->elsewhere++;
    dg_hash(d, p, n);
    return WR_OK;
}

int wri_digest_new_async(wr_digest_kind kind, wr_digest **out,
                         wr_errbuf *eb)
{
    int rc = wr_digest_new_kind(kind, out, eb);
    /* XXH3 hashes faster than the copy into the ring: inline */
    if (rc != WR_OK || kind != WR_DIGEST_SHA256)
        return rc;
    wr_digest *d = *out;
    d->maker = pthread_self();
    /* one core, or no memory or thread for the pipe: hash inline */
    if (wri_ipipe_new_bytes(dg_take, d, 0, &d->pipe, &d->pipe_eb) == WR_OK &&
        !wri_ipipe_threaded(d->pipe)) {
        wri_ipipe_free(d->pipe);
        d->pipe = NULL;
    }
    return WR_OK;
}

/* Bytes into the digest: to its thread, or hashed here. */
static void dg_bytes(wr_digest *d, const uint8_t *p, size_t n)
{
    if (d->pipe != NULL)
        (void)wri_ipipe_put(d->pipe, p, n, &d->pipe_eb);
    else
        dg_hash(d, p, n);
}

void wr_digest_add(wr_digest *d, const uint8_t *doc, uint32_t len)
{
    dg_bytes(d, doc, len);
    d->ndocs++;
}

/* One item's hash: the value's XXH3-128 seeded with its key's hash (and
 * its length), so that a key and its value are bound together: a sum of
 * separate key and value hashes would not see two values swapped. */
static XXH128_hash_t is_item(const uint8_t *key, uint32_t klen,
                             const uint8_t *val, uint32_t vlen)
{
    static const uint8_t none[1];
    uint64_t seed = XXH3_64bits_withSeed(key, klen, vlen);
    return XXH3_128bits_withSeed(vlen > 0 ? val : none, vlen, seed);
}

void wri_itemsum_add(wri_itemsum *s, const uint8_t *key, uint32_t klen,
                     const uint8_t *val, uint32_t vlen)
{
    XXH128_hash_t h = is_item(key, klen, val, vlen);
    s->lo += h.low64;
    s->hi += h.high64 + (s->lo < h.low64); /* the carry */
    s->n++;
}

void wri_itemsum_merge(wri_itemsum *s, const wri_itemsum *o)
{
    s->lo += o->lo;
    s->hi += o->hi + (s->lo < o->lo);
    s->n += o->n;
}

void wri_itemsum_final(const wri_itemsum *s, uint8_t out[WR_DIGEST_LEN])
{
    uint8_t b[24];
    XXH128_canonical_t c;
    wri_put64(b, s->lo);
    wri_put64(b + 8, s->hi);
    wri_put64(b + 16, s->n);
    XXH128_canonicalFromHash(&c, XXH3_128bits(b, sizeof b));
    memset(out, 0, WR_DIGEST_LEN);
    memcpy(out, c.digest, sizeof c.digest);
}

void wr_digest_final(wr_digest *d, uint8_t out[WR_DIGEST_LEN])
{
    if (d->pipe != NULL) /* the thread is idle from here on */
        (void)wri_ipipe_finish(d->pipe, &d->pipe_eb);
    if (d->xxh != NULL) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(d->xxh));
        memset(out, 0, WR_DIGEST_LEN);
        memcpy(out, c.digest, sizeof c.digest);
        digest_reset(d);
        return;
    }
    uint64_t bits = d->len * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (d->nbuf < 56 ? 56 : 120) - d->nbuf;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha_update(d, pad, padlen + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(d->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(d->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(d->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)d->h[i];
    }
    digest_reset(d);
}

uint64_t wri_digest_batches_elsewhere(const wr_digest *d)
{
    return d->elsewhere;
}

void wr_digest_free(wr_digest *d)
{
    if (d == NULL)
        return;
    wri_ipipe_free(d->pipe);
    XXH3_freeState(d->xxh);
    free(d);
}

void wr_digest_hex(wr_digest_kind kind, const uint8_t dg[WR_DIGEST_LEN],
                   char out[2 * WR_DIGEST_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = wr_digest_len(kind);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[dg[i] >> 4];
        out[2 * i + 1] = hex[dg[i] & 15];
    }
    out[2 * n] = '\0';
}

int wr_coll_digest(wr_coll *c, uint8_t out[WR_DIGEST_LEN],
                   uint64_t *ndocs_out, wr_errbuf *eb)
{
    int rc;
    wr_digest *d = NULL;
    wr_doc_cursor *cur = NULL;
    const uint8_t *doc;
    uint32_t len;
    if ((rc = wr_digest_new(&d, eb)) != WR_OK ||
        (rc = wr_doc_cursor_open(c, &cur, eb)) != WR_OK)
        goto out;
    while ((rc = wr_doc_cursor_next(cur, &doc, &len, eb)) == WR_OK)
        wr_digest_add(d, doc, len);
    if (rc != WR_ENOTFOUND)
        goto out;
    rc = WR_OK;
    if (ndocs_out != NULL)
        *ndocs_out = d->ndocs;
    wr_digest_final(d, out);
out:
    wr_doc_cursor_close(cur);
    wr_digest_free(d);
    return rc;
}
