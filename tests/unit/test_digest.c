/*
 * test_digest.c -- the SHA-256 behind content digests: known answers
 * (FIPS 180-4 examples) on both the portable and the SHA-NI code, and the
 * two paths agreeing on random input fed in random pieces; the digest
 * hashed on its own thread (wri_digest_new_async) agreeing with both,
 * across its chunk boundaries and when reused after wr_digest_final.
 */
#include "tap.h"

#include "wr_int.h"

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
    if ((async_mode ? wri_digest_new_async(&d, &eb)
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

/* Inputs up to 1.5 MB (several 128 KiB chunks, pieces larger and smaller
 * than a chunk), hashed on the thread and inline; one async digest reused
 * after each final, as a caller hashing several trees would. */
static void test_sha256_async_agrees_with_inline(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    wr_errbuf eb = {0};
    wr_digest *reused;
    if (wri_digest_new_async(&reused, &eb) != WR_OK)
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

int main(void)
{
    RUN(test_sha256_portable_known_answers);
    RUN(test_sha256_fast_path_known_answers);
    RUN(test_sha256_paths_agree_on_random_pieces);
    RUN(test_sha256_async_known_answers);
    RUN(test_sha256_async_agrees_with_inline);
    return tap_done();
}
