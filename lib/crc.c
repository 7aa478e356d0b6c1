/*
 * crc.c -- CRC-32 (zlib's: ISO 3309, reflected polynomial 0xEDB88320),
 * several times faster than zlib's table code where the CPU can multiply
 * carry-less (PCLMULQDQ): 64 bytes at a time are folded with the
 * constants of Intel's "Fast CRC Computation for Generic Polynomials
 * Using PCLMULQDQ", then reduced to 32 bits (Barrett). Every page read and
 * written is checksummed, so verify --quick is mostly this. The result is
 * always identical to zlib's crc32(); test_crc compares them on random
 * buffers. Calls zlib for short inputs and tails.
 */
#include "wr_int.h"

#include <zlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#define CRC_TARGET __attribute__((target("pclmul,sse4.1")))

CRC_TARGET static inline __attribute__((always_inline)) __m128i crc_fold(__m128i x, __m128i k, __m128i data)
{
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
                                       _mm_clmulepi64_si128(x, k, 0x11)),
                         data);
}

/* The CRC's end, from four 128-bit lanes holding the 64 bytes before p
 * folded: the rest 64 bytes at a time, then 16, then down to 32 bits.
 * Leaves the last n % 16 bytes to the caller (*done: bytes consumed since
 * start). */
CRC_TARGET static inline __attribute__((always_inline)) uint32_t crc_finish(__m128i x1, __m128i x2, __m128i x3,
                                      __m128i x4, const uint8_t *p, size_t n,
                                      const uint8_t *start, size_t *done)
{
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);
    const __m128i poly = _mm_set_epi64x(0x1f7011641, 0x1db710641);
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    for (; n >= 64; p += 64, n -= 64) {
        x1 = crc_fold(x1, k1k2,
                      _mm_loadu_si128((const __m128i *)(const void *)p));
        x2 = crc_fold(x2, k1k2,
                      _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        x3 = crc_fold(x3, k1k2,
                      _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
        x4 = crc_fold(x4, k1k2,
                      _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
    }
    x1 = crc_fold(x1, k3k4, x2);
    x1 = crc_fold(x1, k3k4, x3);
    x1 = crc_fold(x1, k3k4, x4);
    for (; n >= 16; p += 16, n -= 16)
        x1 = crc_fold(x1, k3k4,
                      _mm_loadu_si128((const __m128i *)(const void *)p));
    /* 128 -> 64 bits */
    __m128i t = _mm_srli_si128(x1, 8);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x10), t);
    /* 64 -> 32 bits */
    t = _mm_srli_si128(x1, 4);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5,
                                            0x00),
                       t);
    /* Barrett reduction */
    t = x1;
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_clmulepi64_si128(x1, poly, 0x10);
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_clmulepi64_si128(x1, poly, 0x00);
    x1 = _mm_xor_si128(x1, t);
    *done = (size_t)(p - start);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

/* The first sixteen bytes at p with the register crc taken in: xored
 * into their first four, or in their place when skip4 (those four bytes
 * read as zero). */
CRC_TARGET static inline __attribute__((always_inline)) __m128i crc_first(uint32_t crc, const uint8_t *p,
                                    bool skip4)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    return skip4 ? _mm_insert_epi32(x, (int)crc, 0)
                 : _mm_xor_si128(x, _mm_cvtsi32_si128((int)crc));
}

/* The raw (not inverted) CRC of n bytes, n >= 64: leaves the last n % 16
 * bytes to the caller (*done tells how many were consumed). skip4: the
 * first four bytes are read as zero. */
CRC_TARGET static uint32_t crc_pclmul(uint32_t crc, const uint8_t *p, size_t n,
                                      bool skip4, size_t *done)
{
    return crc_finish(
        crc_first(crc, p, skip4),
        _mm_loadu_si128((const __m128i *)(const void *)(p + 16)),
        _mm_loadu_si128((const __m128i *)(const void *)(p + 32)),
        _mm_loadu_si128((const __m128i *)(const void *)(p + 48)), p + 64,
        n - 64, p, done);
}

#define CRC_TARGET256 \
    __attribute__((target("pclmul,sse4.1,avx2,vpclmulqdq")))

CRC_TARGET256 static __m256i crc_fold256(__m256i x, __m256i k, __m256i data)
{
    return _mm256_xor_si256(
        _mm256_xor_si256(_mm256_clmulepi64_epi128(x, k, 0x00),
                         _mm256_clmulepi64_epi128(x, k, 0x11)),
        data);
}

/* crc_pclmul for n >= 256 where the CPU multiplies two lanes at once
 * (VPCLMULQDQ on 256-bit registers): 128 bytes a step in four registers
 * of two lanes, folded over 1024 bits (the constants: x^(1024+32) and
 * x^(1024-32) mod P, bit-reflected, as Intel's paper derives k1 and k2
 * for 512), then onto the four lanes crc_finish takes. Twice the bytes
 * per multiply of crc_pclmul; 512-bit registers were slower on the
 * machines measured. */
CRC_TARGET256 static uint32_t crc_vpclmul(uint32_t crc, const uint8_t *p,
                                          size_t n, bool skip4, size_t *done)
{
    const __m256i k128 = _mm256_set_epi64x(0x14a7fe880, 0x1e88ef372,
                                           0x14a7fe880, 0x1e88ef372);
    const __m256i k64 = _mm256_set_epi64x(0x1c6e41596, 0x154442bd4,
                                          0x1c6e41596, 0x154442bd4);
    const uint8_t *start = p;
    __m256i y0 = _mm256_inserti128_si256(
        _mm256_loadu_si256((const __m256i *)(const void *)p),
        crc_first(crc, p, skip4), 0);
    __m256i y1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    __m256i y2 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 64));
    __m256i y3 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 96));
    for (p += 128, n -= 128; n >= 128; p += 128, n -= 128) {
        y0 = crc_fold256(y0, k128,
                         _mm256_loadu_si256((const __m256i *)(const void *)p));
        y1 = crc_fold256(
            y1, k128, _mm256_loadu_si256((const __m256i *)(const void *)(p + 32)));
        y2 = crc_fold256(
            y2, k128, _mm256_loadu_si256((const __m256i *)(const void *)(p + 64)));
        y3 = crc_fold256(
            y3, k128, _mm256_loadu_si256((const __m256i *)(const void *)(p + 96)));
    }
    /* the first 64 bytes folded onto the last 64 */
    y2 = crc_fold256(y0, k64, y2);
    y3 = crc_fold256(y1, k64, y3);
    return crc_finish(_mm256_castsi256_si128(y2),
                      _mm256_extracti128_si256(y2, 1),
                      _mm256_castsi256_si128(y3),
                      _mm256_extracti128_si256(y3, 1), p, n, start, done);
}

static bool crc_have_vpclmul(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("vpclmulqdq");
}

static bool crc_have_pclmul(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return false;
    return (c & (1u << 1)) && (c & (1u << 19)); /* PCLMULQDQ, SSE4.1 */
}
#else
static uint32_t crc_pclmul(uint32_t crc, const uint8_t *p, size_t n,
                           bool skip4, size_t *done)
{
    (void)p, (void)n, (void)skip4;
    *done = 0;
    return crc;
}
static uint32_t crc_vpclmul(uint32_t crc, const uint8_t *p, size_t n,
                            bool skip4, size_t *done)
{
    return crc_pclmul(crc, p, n, skip4, done);
}
static bool crc_have_pclmul(void)
{
    return false;
}
static bool crc_have_vpclmul(void)
{
    return false;
}
#endif

/* The path taken: WRI_CRC_ZLIB, WRI_CRC_128 (crc_pclmul) or WRI_CRC_256
 * (crc_vpclmul for 256 bytes or more); -1: not decided yet. */
static int crc_fast = -1;

int wri_crc_force(int path)
{
    int best = !crc_have_pclmul()    ? WRI_CRC_ZLIB
               : !crc_have_vpclmul() ? WRI_CRC_128
                                     : WRI_CRC_256;
    crc_fast = path < best ? path : best;
    return crc_fast;
}

void wri_crc_force_portable(bool portable)
{
    wri_crc_force(portable ? WRI_CRC_ZLIB : WRI_CRC_256);
}

/* The raw CRC of n >= 64 bytes on the fastest path allowed. */
static uint32_t crc_wide(uint32_t crc, const uint8_t *p, size_t n, bool skip4,
                         size_t *done)
{
    if (crc_fast == WRI_CRC_256 && n >= 256)
        return crc_vpclmul(crc, p, n, skip4, done);
    return crc_pclmul(crc, p, n, skip4, done);
}

static uint32_t crc_zlib(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n > 0) { /* zlib takes uInt lengths */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

uint32_t wri_crc32(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    if (crc_fast < 0)
        wri_crc_force_portable(false);
    if (crc_fast && n >= 64) {
        size_t done;
        crc = ~crc_wide(~crc, p, n, false, &done);
        p += done;
        n -= done;
    }
    return crc_zlib(crc, p, n);
}

/* The raw register that four zero bytes take to ~0, zlib's starting
 * one (the byte step run backwards four times from ~0; test_crc checks
 * the result against zlib). */
#define CRC_BEFORE4 0x9226f562u

uint32_t wri_crc32_after4(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    if (n <= 4)
        return 0;
    if (crc_fast < 0)
        wri_crc_force_portable(false);
    if (!crc_fast || n < 64)
        return wri_crc32(0, p + 4, n - 4);
    /* the CRC of all n bytes, the first four read as zero, from the
     * register they take to ~0: a page's n is a multiple of 64, so the
     * folding takes it all and zlib gets no tail */
    size_t done;
    uint32_t crc = ~crc_wide(CRC_BEFORE4, p, n, true, &done);
    return crc_zlib(crc, p + done, n - done);
}
