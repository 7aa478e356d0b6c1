/*
 * fuzz_salvage.c -- libFuzzer target for wr_salvage on arbitrary files
 * (make fuzz; fuzz/fuzz.mk). The sanitizer test suite replays
 * fuzz/corpus/salvage/ through the same entry point
 * (tests/unit/test_fuzz_corpus.c).
 *
 * Input: one mode byte, then the bytes of a tree file, written as
 * x.main.wr into a scratch directory and salvaged from there (mode bit 0:
 * the directory, else the file alone; bit 1: --checkpoint previous; bit
 * 2: a real DEST is built and verified, else --dry-run). Whatever the
 * bytes, nothing may crash, leak, hang or allocate without bound; the
 * result is WR_OK or WR_ECORRUPT (something lost, named in the report),
 * or WR_ENOTOURS / WR_EVERSION / WR_EINVAL (an index file alone) for a
 * file alone; a DEST that was built verifies clean.
 */
#include "wr_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int wr_fuzz_salvage_one(const uint8_t *data, size_t size);

static void fz_rm(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        abort();
}

int wr_fuzz_salvage_one(const uint8_t *data, size_t size)
{
    char dir[128], path[256], dest[256];
    wr_errbuf eb = {0};
    wr_salvage_report *r = NULL;
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    wr_salvage_opts o = {.previous = (mode & 2) != 0,
                         .dry_run = (mode & 4) == 0};
    snprintf(dir, sizeof dir, "/tmp/wrfuzz-salvage.%ld", (long)getpid());
    fz_rm(dir);
    snprintf(path, sizeof path, "%s/src", dir);
    if (wri_io_mkdir(dir, &eb) != WR_OK || wri_io_mkdir(path, &eb) != WR_OK)
        abort();
    snprintf(path, sizeof path, "%s/src/x.main.wr", dir);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)
        abort();
    fclose(f);
    snprintf(dest, sizeof dest, "%s/out", dir);
    if (mode & 1)
        snprintf(path, sizeof path, "%s/src", dir);
    int rc = wr_salvage(path, dest, &o, &r, &eb);
    if (rc != WR_OK && rc != WR_ECORRUPT && rc != WR_ENOTOURS &&
        rc != WR_EVERSION && rc != WR_EINVAL && rc != WR_ENOTFOUND)
        abort(); /* nothing else can go wrong with a readable file */
    if ((rc == WR_EINVAL || rc == WR_ENOTOURS) && (mode & 1))
        abort(); /* a directory always gives a report */
    if (r != NULL && r->verified) {
        wr_errbuf ve = {0};
        if (wr_verify_simple(dest, false, &ve) != WR_OK)
            abort();
    }
    wr_salvage_report_free(r);
    fz_rm(dir);
    return 0;
}

#ifndef WR_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return wr_fuzz_salvage_one(data, size);
}
#endif
