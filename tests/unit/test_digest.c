/*
 * test_digest.c -- the SHA-256 behind content digests: known answers
 * (FIPS 180-4 examples) on both the portable and the SHA-NI code, and the
 * two paths agreeing on random input fed in random pieces; the digest
 * hashed on its own thread (wri_digest_new_async) agreeing with both,
 * across its byte pipe's batch boundaries (lib/ipipe.c) and when reused
 * after wr_digest_final, and really hashing on that thread.
 * The XXH3-128 fingerprint: a known answer, libxxhash's one-shot
 * XXH3_128bits agreeing with ours fed in pieces, its canonical byte
 * order, and the item digest's bytes (key length, key, value length,
 * value).
 */
#include "tap.h"

#include "ipipe.h"
#include "wr_int.h"

#include <xxhash.h>

/* Digest of raw bytes: wr_digest_add takes documents, but hashes their
 * bytes as given, so feeding arbitrary pieces is hashing their
 * concatenation. */
static void sha_feed(wr_digest *d, const uint8_t *p, size_t n, size_t piece,
                     char hex[65])
{
    uint8_t out[WR_DIGEST_LEN];
    for (size_t off = 0; off < n;) {
        size_t k = piece ? WRI_MIN(piece, n - off) : n - off;
        wr_digest_add(d, p + off, (uint32_t)k);
        off += k;
    }
    wr_digest_final(d, out);
    for (int i = 0; i < WR_DIGEST_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", out[i]);
}

static bool async_mode; /* sha_of hashes on the digest's own thread */

static void sha_of(const uint8_t *p, size_t n, size_t piece, char hex[65])
{
    wr_errbuf eb = {0};
    wr_digest *d;
    if ((async_mode ? wri_digest_new_async(WR_DIGEST_SHA256, &d, &eb)
                    : wr_digest_new(&d, &eb)) != WR_OK)
        abort();
    sha_feed(d, p, n, piece, hex);
    wr_digest_free(d);
}

static void known_answers(bool portable)
{
    char hex[65];
    static const char abc[] = "abc";
    static const char two[] =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    wri_digest_force_portable(portable);
    sha_of(NULL, 0, 0, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                      "27ae41e4649b934ca495991b7852b855") == 0);
    sha_of((const uint8_t *)abc, 3, 0, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223"
                      "b00361a396177a9cb410ff61f20015ad") == 0);
    sha_of((const uint8_t *)two, strlen(two), 0, hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039"
                      "a33ce45964ff2167f6ecedd419db06c1") == 0);
    size_t n = 1000000;
    uint8_t *a = malloc(n);
    memset(a, 'a', n);
    sha_of(a, n, 4093, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
                      "f1809a48a497200e046d39ccc7112cd0") == 0);
    free(a);
}

static void test_sha256_portable_known_answers(void)
{
    known_answers(true);
}

static void test_sha256_fast_path_known_answers(void)
{
    known_answers(false); /* SHA-NI where the CPU has it */
}

static void test_sha256_paths_agree_on_random_pieces(void)
{
    uint64_t x = 0x243F6A8885A308D3ull;
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(x % 5000);
        uint8_t *p = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p[i] = (uint8_t)x;
        }
        size_t piece = 1 + (size_t)(x % 300);
        char a[65], b[65];
        wri_digest_force_portable(true);
        sha_of(p, n, piece, a);
        wri_digest_force_portable(false);
        sha_of(p, n, 0, b);
        if (strcmp(a, b) != 0)
            TAP_FAIL("round %d: %zu bytes in pieces of %zu: %s != %s",
                     round, n, piece, a, b);
        free(p);
    }
}

static void test_sha256_async_known_answers(void)
{
    async_mode = true;
    known_answers(true);
    known_answers(false);
    async_mode = false;
}

/* Inputs up to 1.5 MB (several of the byte pipe's WRI_IPIPE_BATCH
 * batches, pieces larger and smaller than one), hashed on the thread and
 * inline; one async digest reused
 * after each final, as a caller hashing several trees would. */
static void test_sha256_async_agrees_with_inline(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    wr_errbuf eb = {0};
    wr_digest *reused;
    if (wri_digest_new_async(WR_DIGEST_SHA256, &reused, &eb) != WR_OK)
        abort();
    wri_digest_force_portable(false);
    for (int round = 0; round < 24; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = (size_t)(x % 1500000);
        uint8_t *p = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)(x >> (i % 57));
        size_t piece = round % 3 == 0 ? 0 : 1 + (size_t)(x % 300000);
        char a[65], b[65], c[65];
        async_mode = false;
        sha_of(p, n, 0, a);
        async_mode = true;
        sha_of(p, n, piece, b);
        async_mode = false;
        sha_feed(reused, p, n, piece, c);
        if (strcmp(a, b) != 0 || strcmp(a, c) != 0)
            TAP_FAIL("round %d: %zu bytes in pieces of %zu: inline %s, "
                     "async %s, reused %s", round, n, piece, a, b, c);
        free(p);
    }
    wr_digest_free(reused);
}

static int no_bytes(void *arg, const uint8_t *p, size_t n, wr_errbuf *eb)
{
    (void)arg, (void)p, (void)n, (void)eb;
    return WR_OK;
}

/* Every answer above would be the same if wri_digest_new_async fell back
 * to hashing inline: the batches are hashed on another thread wherever a
 * byte pipe gets one (two cores or more, as wri_ipipe_threaded says),
 * all of them (3 whole and a short last one), and on none elsewhere. */
static void test_sha256_async_hashes_on_its_thread(void)
{
    wr_errbuf eb = {0};
    wri_ipipe *p = NULL;
    wr_digest *d = NULL;
    uint8_t out[WR_DIGEST_LEN];
    size_t n = 3 * (size_t)WRI_IPIPE_BATCH + 5;
    uint8_t *buf;
    REQUIRE_OK(wri_ipipe_new_bytes(no_bytes, NULL, 0, &p, &eb), &eb);
    bool threaded = wri_ipipe_threaded(p);
    wri_ipipe_free(p);
    printf("# a byte pipe %s a thread here\n", threaded ? "gets" : "lacks");
    REQUIRE_OK(wri_digest_new_async(WR_DIGEST_SHA256, &d, &eb), &eb);
    if ((buf = calloc(1, n)) == NULL)
        abort();
    wr_digest_add(d, buf, (uint32_t)n);
    wr_digest_final(d, out);
    CHECK_EQ(wri_digest_batches_elsewhere(d), threaded ? 4u : 0u);
    /* reused after final: on the same thread again */
    wr_digest_add(d, buf, (uint32_t)n);
    wr_digest_final(d, out);
    CHECK_EQ(wri_digest_batches_elsewhere(d), threaded ? 8u : 0u);
    wr_digest_free(d);
    free(buf);
}

/* Ours, fed in pieces (through wri_digest_new_async, which hashes
 * XXH128 inline), as hex. */
static void xxh_of(const uint8_t *p, size_t n, size_t piece, char hex[65])
{
    wr_errbuf eb = {0};
    wr_digest *d;
    if (wri_digest_new_async(WR_DIGEST_XXH128, &d, &eb) != WR_OK)
        abort();
    sha_feed(d, p, n, piece, hex);
    wr_digest_free(d);
}

/* libxxhash's one-shot answer, canonical (big-endian) bytes, as hex,
 * padded with zeros to WR_DIGEST_LEN bytes as wr_digest_final writes. */
static void xxh_ref(const uint8_t *p, size_t n, char hex[65])
{
    XXH128_hash_t h = XXH3_128bits(p, n);
    for (int i = 0; i < 16; i++) {
        uint64_t half = i < 8 ? h.high64 : h.low64;
        snprintf(hex + 2 * i, 3, "%02x",
                 (unsigned)(half >> (56 - 8 * (i % 8))) & 0xff);
    }
    memset(hex + 32, '0', 32);
    hex[64] = '\0';
}

static void test_xxh128_known_answer_and_library(void)
{
    char a[65], b[65];
    wr_errbuf eb = {0};
    wr_digest *d = NULL;
    CHECK_EQ(wr_digest_len(WR_DIGEST_XXH128), 16);
    CHECK_EQ(wr_digest_len(WR_DIGEST_SHA256), 32);
    CHECK_EQ(wr_digest_len(WR_DIGEST_NONE), 0);
    CHECK_EQ(wr_digest_new_kind(WR_DIGEST_NONE, &d, &eb), WR_EINVAL);
    CHECK(d == NULL);
    /* XXH3-128 of nothing (xxHash's test vectors) */
    xxh_of(NULL, 0, 0, a);
    CHECK(strcmp(a, "99aa06d3014798d86001c324468d497f"
                    "00000000000000000000000000000000") == 0);
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (int round = 0; round < 200; round++) {
        size_t n = round < 100 ? (size_t)round * 7 : (size_t)(x % 300000);
        uint8_t *p = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p[i] = (uint8_t)x;
        }
        size_t piece = round % 4 == 0 ? 0 : 1 + (size_t)(x % 5000);
        xxh_of(p, n, piece, a);
        xxh_ref(p, n, b);
        if (strcmp(a, b) != 0)
            TAP_FAIL("round %d: %zu bytes in pieces of %zu: %s != %s",
                     round, n, piece, a, b);
        free(p);
    }
}

/* The item fingerprint is XXH3-128 of (sum mod 2^128, count), the sum
 * over items of XXH3-128(value, seed XXH3-64(key, seed vlen)): checked
 * against libxxhash directly, short keys and long, an empty value. */
static void test_itemsum_known_answer(void)
{
    uint8_t key[600], val[900], out[WR_DIGEST_LEN], b[24];
    wri_itemsum s = {0};
    uint64_t lo = 0, hi = 0;
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (uint8_t)(i * 13 + 5);
    const uint32_t klen[3] = {12, 256, 600}, vlen[3] = {900, 0, 33};
    for (int k = 0; k < 3; k++) {
        wri_itemsum_add(&s, key, klen[k], val, vlen[k]);
        XXH128_hash_t h = XXH3_128bits_withSeed(
            val, vlen[k], XXH3_64bits_withSeed(key, klen[k], vlen[k]));
        uint64_t was = lo;
        lo += h.low64;
        hi += h.high64 + (lo < was);
    }
    wri_put64(b, lo);
    wri_put64(b + 8, hi);
    wri_put64(b + 16, 3);
    char a[65], r[65];
    wri_itemsum_final(&s, out);
    for (int i = 0; i < WR_DIGEST_LEN; i++)
        snprintf(a + 2 * i, 3, "%02x", out[i]);
    xxh_ref(b, sizeof b, r);
    CHECK(strcmp(a, r) == 0);
}

/* The fingerprint of items added in halves and merged (the verify's two
 * threads) is the one of a single pass, whatever the order; one byte of
 * one value more or less, one item fewer, two values swapped between
 * their keys, or one item twice instead of another: another. A carry
 * out of the low half reaches the high one. */
static void test_itemsum_merge_and_differences(void)
{
    uint8_t key[4][8], val[4][300];
    uint8_t one[WR_DIGEST_LEN], other[WR_DIGEST_LEN];
    for (int k = 0; k < 4; k++) {
        memset(key[k], 'a' + k, sizeof key[k]);
        for (size_t i = 0; i < sizeof val[k]; i++)
            val[k][i] = (uint8_t)(i * (k + 3));
    }
    wri_itemsum all = {0}, lo = {0}, hi = {0}, t = {0};
    for (int k = 0; k < 4; k++)
        wri_itemsum_add(&all, key[k], 8, val[k], 300);
    wri_itemsum_final(&all, one);
    wri_itemsum_add(&hi, key[3], 8, val[3], 300); /* backwards, in halves */
    wri_itemsum_add(&hi, key[2], 8, val[2], 300);
    wri_itemsum_add(&lo, key[1], 8, val[1], 300);
    wri_itemsum_add(&lo, key[0], 8, val[0], 300);
    wri_itemsum_merge(&lo, &hi);
    CHECK_EQ(lo.n, 4u);
    wri_itemsum_final(&lo, other);
    CHECK(memcmp(one, other, WR_DIGEST_LEN) == 0);
    for (int v = 0; v < 4; v++) { /* each variant must differ */
        memset(&t, 0, sizeof t);
        for (int k = 0; k < 4; k++) {
            if (v == 0)
                wri_itemsum_add(&t, key[k], 8, val[k], k == 2 ? 299 : 300);
            else if (v == 1 && k != 3)
                wri_itemsum_add(&t, key[k], 8, val[k], 300);
            else if (v == 2)
                wri_itemsum_add(&t, key[k], 8, val[k ^ 1], 300);
            else if (v == 3)
                wri_itemsum_add(&t, key[k == 3 ? 2 : k], 8,
                                val[k == 3 ? 2 : k], 300);
        }
        wri_itemsum_final(&t, other);
        CHECK(memcmp(one, other, WR_DIGEST_LEN) != 0);
    }
    wri_itemsum c = {.lo = UINT64_MAX, .hi = 7, .n = 1};
    wri_itemsum d = {.lo = 2, .hi = 0, .n = 1};
    wri_itemsum_merge(&c, &d);
    CHECK_EQ(c.lo, 1u);
    CHECK_EQ(c.hi, 8u);
    CHECK_EQ(c.n, 2u);
}

/* wr_digest_hex prints the kind's length: 32 hex digits for XXH3-128
 * (not 64 with the zero padding wr_digest_final leaves after it), 64 for
 * SHA-256, none for no digest. */
static void test_digest_hex_prints_the_kinds_length(void)
{
    wr_errbuf eb = {0};
    wr_digest *d = NULL;
    uint8_t out[WR_DIGEST_LEN];
    char hex[2 * WR_DIGEST_LEN + 1];
    REQUIRE_OK(wr_digest_new_kind(WR_DIGEST_XXH128, &d, &eb), &eb);
    wr_digest_final(d, out);
    wr_digest_free(d);
    memset(hex, 'x', sizeof hex);
    wr_digest_hex(WR_DIGEST_XXH128, out, hex);
    CHECK(strcmp(hex, "99aa06d3014798d86001c324468d497f") == 0);
    REQUIRE_OK(wr_digest_new_kind(WR_DIGEST_SHA256, &d, &eb), &eb);
    wr_digest_add(d, (const uint8_t *)"abc", 3);
    wr_digest_final(d, out);
    wr_digest_free(d);
    memset(hex, 'x', sizeof hex);
    wr_digest_hex(WR_DIGEST_SHA256, out, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223"
                   "b00361a396177a9cb410ff61f20015ad") == 0);
    wr_digest_hex(WR_DIGEST_NONE, out, hex);
    CHECK(strcmp(hex, "") == 0);
}

int main(void)
{
    RUN(test_sha256_portable_known_answers);
    RUN(test_sha256_fast_path_known_answers);
    RUN(test_sha256_paths_agree_on_random_pieces);
    RUN(test_sha256_async_known_answers);
    RUN(test_sha256_async_agrees_with_inline);
    RUN(test_sha256_async_hashes_on_its_thread);
    RUN(test_xxh128_known_answer_and_library);
    RUN(test_itemsum_known_answer);
    RUN(test_itemsum_merge_and_differences);
    RUN(test_digest_hex_prints_the_kinds_length);
    return tap_done();
}
