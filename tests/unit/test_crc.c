/*
 * test_crc.c -- wri_crc32 equals zlib's crc32 on every length, alignment
 * and starting value, on each path: 256-bit (VPCLMULQDQ) and 128-bit
 * (PCLMULQDQ) folding, and the portable one (zlib).
 */
#include "tap.h"

#include "wr_int.h"

#include <zlib.h>

static const char *const path_name[] = {"portable", "128-bit", "256-bit"};

static void compare_with_zlib(int path)
{
    if (wri_crc_force(path) != path) { /* counted apart, never a pass */
        TAP_SKIP("the %s path: not on this CPU", path_name[path]);
        return;
    }
    uint64_t x = 0x853C49E6748FEA9Bull;
    uint8_t *buf = malloc(70000);
    for (size_t i = 0; i < 70000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    for (int round = 0; round < 3000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t off = (size_t)(x % 64);
        size_t n = round < 300 ? (size_t)round : (size_t)((x >> 8) % 65536);
        uint32_t start = round % 3 == 0 ? 0 : (uint32_t)(x >> 32);
        uint32_t want = (uint32_t)crc32(start, buf + off, (uInt)n);
        uint32_t got = wri_crc32(start, buf + off, n);
        if (got != want) {
            TAP_FAIL("%s: %zu bytes at +%zu from 0x%08x: 0x%08x, zlib 0x%08x",
                     path_name[path], n, off, start, got,
                     want);
            break;
        }
    }
    /* in pieces, as a stream */
    uint32_t a = 0, b = (uint32_t)crc32(0, buf, 70000);
    for (size_t off = 0; off < 70000;) {
        size_t k = WRI_MIN((size_t)(1 + (x = x * 6364136223846793005ull + 1) % 5000),
                           70000 - off);
        a = wri_crc32(a, buf + off, k);
        off += k;
    }
    CHECK_EQ(a, b);
    free(buf);
}

/* wri_crc32_after4 (a page's CRC) is zlib's CRC-32 of all but the first
 * four bytes, whatever those are, on every length around the multiples of
 * 16 and 64 and on page sizes, at every alignment mod 16. */
static void compare_after4_with_zlib(int path)
{
    uint64_t x = 0x2545F4914F6CDD1Dull;
    size_t cap = 4 * 65536 + 64;
    uint8_t *buf = malloc(cap);
    for (size_t i = 0; i < cap; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    wri_crc_force(path);
    static const size_t pages[] = {4096, 8192, 12288, 32768, 65536,
                                   4 * 65536};
    bool ok = true;
    for (int round = 0; round < 600 && ok; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t off = (size_t)(x % 16);
        size_t n = round < 300 ? (size_t)round
                   : round < 360
                       ? pages[round % 6] - 1 + (size_t)(round % 3)
                       : (size_t)((x >> 8) % 65536);
        uint32_t want = n <= 4 ? 0 : (uint32_t)crc32(0, buf + off + 4,
                                                     (uInt)(n - 4));
        uint32_t got = wri_crc32_after4(buf + off, n);
        if (got != want) {
            TAP_FAIL("%s: after4 of %zu bytes at +%zu: 0x%08x, zlib 0x%08x",
                     path_name[path], n, off, got, want);
            ok = false;
        }
    }
    CHECK(ok);
    free(buf);
}

static void test_crc32_after4_equals_zlib(void)
{
    compare_after4_with_zlib(WRI_CRC_256);
    compare_after4_with_zlib(WRI_CRC_128);
    compare_after4_with_zlib(WRI_CRC_ZLIB);
}

static void test_crc32_fast_path_equals_zlib(void)
{
    compare_with_zlib(WRI_CRC_256);
}

static void test_crc32_128_path_equals_zlib(void)
{
    compare_with_zlib(WRI_CRC_128);
}

static void test_crc32_portable_path_equals_zlib(void)
{
    compare_with_zlib(WRI_CRC_ZLIB);
}

static void test_crc32_known_answer(void)
{
    wri_crc_force_portable(false);
    CHECK_EQ(wri_crc32(0, "123456789", 9), 0xCBF43926u);
    char big[100];
    memset(big, 'a', sizeof big);
    CHECK_EQ(wri_crc32(0, big, sizeof big), (uint32_t)crc32(0, (const Bytef *)big, 100));
}

int main(void)
{
    RUN(test_crc32_fast_path_equals_zlib);
    RUN(test_crc32_128_path_equals_zlib);
    RUN(test_crc32_portable_path_equals_zlib);
    RUN(test_crc32_known_answer);
    RUN(test_crc32_after4_equals_zlib);
    return tap_done();
}
