/*
 * fuzz_dump.c -- libFuzzer target for wr-dump on hostile bytes (make fuzz;
 * fuzz/fuzz.mk): the file dumped in every mode (summary, tree, extents,
 * docs, stats, map, and --page at the slots, the first data pages, an
 * address the mode byte picks and one that is not a page boundary), text
 * and JSON. The sanitizer test suite replays fuzz/corpus/dump/ through the
 * same entry point (tests/unit/test_fuzz_corpus.c).
 *
 * Input: one mode byte, then the bytes of a tree file. Mode bit 0: the
 * previous checkpoint; bit 1: --hex; bit 2: relaxed documents; bits 3-7:
 * one more --page address, (mode >> 3) * 512.
 * Whatever the bytes, every call returns WR_OK, WR_ECORRUPT (shown, with
 * findings), WR_EINVAL (the request does not fit the file: an address
 * past its end or off a page boundary), WR_ENOTFOUND (no previous
 * checkpoint), WR_ENOTOURS or WR_EVERSION; nothing crashes, leaks, hangs
 * or allocates without bound. And no false report of damage: when
 * wr_verify finds the checkpoint clean, every mode dumps it with WR_OK
 * and no finding.
 */
#include "fuzz_file.h"

#include <stdlib.h>

int wr_fuzz_dump_one(const uint8_t *data, size_t size);

static void fd_finding(const char *msg, void *arg)
{
    (void)msg;
    (*(uint64_t *)arg)++;
}

/* One wr_dump call; aborts on a code no file may cause. */
static void fd_run(const char *path, const wr_dump_opts *o, bool clean)
{
    wr_errbuf eb = {0};
    wr_dump_stats st = {0};
    uint64_t nf = 0;
    wr_dump_opts x = *o;
    x.finding = fd_finding;
    x.finding_arg = &nf;
    int rc = wr_dump(path, &x, &st, &eb);
    if (rc != WR_OK && rc != WR_ECORRUPT && rc != WR_EINVAL &&
        rc != WR_ENOTFOUND && rc != WR_ENOTOURS && rc != WR_EVERSION)
        abort();
    if (clean && o->mode != WR_DUMP_PAGE && (rc != WR_OK || nf != 0))
        abort(); /* dump reports damage verify does not see */
    wr_errbuf_clear(&eb);
}

static void fd_modes(const char *path, uint8_t mode, bool clean, FILE *out)
{
    static const wr_dump_mode modes[] = {
        WR_DUMP_SUMMARY, WR_DUMP_TREE, WR_DUMP_EXTENTS, WR_DUMP_DOCS,
        WR_DUMP_STATS,   WR_DUMP_MAP,  WR_DUMP_PAGE};
    uint64_t addrs[] = {0, 512, 1024, 2048, 4096, 8192,
                        (uint64_t)(mode >> 3) * 512, 1536 + 24};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        size_t na = modes[m] == WR_DUMP_PAGE ? sizeof addrs / sizeof *addrs
                                             : 1;
        for (int json = 0; json < 2; json++)
            for (size_t a = 0; a < na; a++) {
                bson_t j = BSON_INITIALIZER;
                wr_dump_opts o = {.mode = modes[m],
                                  .previous = (mode & 1) != 0,
                                  .page_addr = addrs[a],
                                  .hex = (mode & 2) != 0,
                                  .relaxed = (mode & 4) != 0,
                                  .out = out};
                if (json && modes[m] != WR_DUMP_DOCS &&
                    modes[m] != WR_DUMP_MAP)
                    o.json = &j;
                fd_run(path, &o, clean);
                bson_destroy(&j);
            }
    }
}

int wr_fuzz_dump_one(const uint8_t *data, size_t size)
{
    char path[64];
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    if (!fz_scratch("dump", data + 1, size - 1, path, sizeof path))
        return 0;
    bool clean = fz_verify_clean(path, (mode & 1) != 0);
    FILE *out = fopen("/dev/null", "w");
    if (out != NULL) {
        fd_modes(path, mode, clean, out);
        fclose(out);
    }
    unlink(path);
    return 0;
}

#ifndef WR_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return wr_fuzz_dump_one(data, size);
}
#endif
