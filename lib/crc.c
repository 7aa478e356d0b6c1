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

CRC_TARGET static __m128i crc_fold(__m128i x, __m128i k, __m128i data)
{
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
                                       _mm_clmulepi64_si128(x, k, 0x11)),
                         data);
}

/* The raw (not inverted) CRC of n bytes, n >= 64: leaves the last n % 16
 * bytes to the caller (*done tells how many were consumed). skip4: the
 * first four bytes are read as zero. */
CRC_TARGET static uint32_t crc_pclmul(uint32_t crc, const uint8_t *p, size_t n,
                                      bool skip4, size_t *done)
{
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);
    const __m128i poly = _mm_set_epi64x(0x1f7011641, 0x1db710641);
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    const uint8_t *start = p;
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    x1 = skip4 ? _mm_insert_epi32(x1, (int)crc, 0)
               : _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    p += 64;
    n -= 64;
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
static bool crc_have_pclmul(void)
{
    return false;
}
#endif

static int crc_fast = -1; /* -1: not decided yet */

void wri_crc_force_portable(bool portable)
{
    crc_fast = portable ? 0 : (crc_have_pclmul() ? 1 : 0);
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
        crc = ~crc_pclmul(~crc, p, n, false, &done);
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
    uint32_t crc = ~crc_pclmul(CRC_BEFORE4, p, n, true, &done);
    return crc_zlib(crc, p + done, n - done);
}
