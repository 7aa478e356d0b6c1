/*
 * fuzz_verify.c -- libFuzzer target for the decoders of hostile bytes and
 * for whole-file verification (make fuzz; fuzz/fuzz.mk). The sanitizer
 * test suite replays fuzz/corpus/verify/ through the same entry point
 * (tests/unit/test_fuzz_corpus.c), so every seed and every crash found and
 * committed stays a regression test.
 *
 * Input: one mode byte, then the bytes.
 *   mode bit 0 clear: the bytes are one page, zero-padded or cut to
 *     512 << ((mode >> 1) & 7) bytes: wri_page_check (with 0, 1 and 2 key
 *     elements), every cell decoded, wri_overflow_check, wri_slot_decode,
 *     wri_key_check, wri_key_to_json on each key;
 *   mode bit 0 set: the bytes are a whole tree file, written to a scratch
 *     file and verified with wr_verify (bit 1: --all-checkpoints, bit 2:
 *     --quick, bit 3: --checkpoint previous), and walked by wr_verify_simple.
 *     wr-dump and the engine's open and scan have targets of their own
 *     (fuzz_dump.c, fuzz_engine.c).
 * Whatever the bytes, nothing may crash, leak, hang or allocate without
 * bound; verification returns WR_OK or WR_ECORRUPT (or WR_ENOTFOUND when
 * the bytes hold no previous checkpoint, WR_ENOTOURS when neither slot
 * has the magic).
 */
#include "wr_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int wr_fuzz_verify_one(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_page(uint8_t mode, const uint8_t *data, size_t size)
{
    size_t len = (size_t)WRI_PAGE_MIN << ((mode >> 1) & 7);
    uint8_t *buf = calloc(1, len);
    wri_page_view v;
    wri_page_problem prob;
    char why[256];
    wri_slot s;
    if (buf == NULL)
        return;
    memcpy(buf, data, WRI_MIN(size, len));
    for (int nk = 0; nk <= 2; nk++) {
        if (wri_page_check(buf, len, nk, &v, &prob) != WR_OK)
            continue;
        for (uint32_t i = 0; i < v.count; i++) {
            wri_cell c;
            wri_page_cell(&v, i, &c);
            if (nk > 0 && c.klen > 0) {
                char *j = wri_key_to_json(c.key, c.klen);
                free(j);
            }
        }
    }
    (void)wri_overflow_check(buf, len, wri_get64(buf + WRI_PH_AUX), &prob);
    (void)wri_slot_decode(data, size, &s, why, sizeof why);
    if (wri_key_check(data, size, 0, why, sizeof why) == WR_OK) {
        char *j = wri_key_to_json(data, size);
        free(j);
    }
    free(buf);
}

static void fz_file(uint8_t mode, const uint8_t *data, size_t size)
{
    char path[64];
    wr_errbuf eb = {0};
    wr_verify_report *r = NULL;
    wr_verify_opts o = {.all_checkpoints = (mode & 2) != 0,
                        .quick = (mode & 4) != 0,
                        .previous = (mode & 8) != 0,
                        .max_problems = 50};
    snprintf(path, sizeof path, "/tmp/wrfuzz.%ld.wr", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return;
    if (size > 0 && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return;
    }
    fclose(f);
    int rc = wr_verify(path, &o, &r, &eb);
    if (rc != WR_OK && rc != WR_ECORRUPT && rc != WR_ENOTFOUND &&
        rc != WR_EVERSION && rc != WR_ENOTOURS)
        abort(); /* nothing else can go wrong with a readable file */
    if (r != NULL && rc == WR_OK && r->total_problems != 0)
        abort();
    wr_verify_report_free(r);
    wr_errbuf_clear(&eb);
    (void)wr_verify_simple(path, false, &eb);
    unlink(path);
}

int wr_fuzz_verify_one(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    if (mode & 1)
        fz_file(mode, data + 1, size - 1);
    else
        fz_page(mode, data + 1, size - 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return wr_fuzz_verify_one(data, size);
}
