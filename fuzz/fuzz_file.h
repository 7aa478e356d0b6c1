/*
 * fuzz_file.h -- what the whole-file fuzz targets (fuzz_dump.c,
 * fuzz_engine.c) share: the input written to a scratch file, and
 * wr_verify's verdict on it, the oracle they hold the other readers to.
 */
#ifndef WR_FUZZ_FILE_H
#define WR_FUZZ_FILE_H

#include "wr_int.h"

#include <stdio.h>
#include <unistd.h>

/* Write data to /tmp/wrfuzz-TAG.PID.wr (path, of len bytes); false if it
 * could not be written (nothing is left behind then). */
static inline bool fz_scratch(const char *tag, const uint8_t *data,
                              size_t size, char *path, size_t len)
{
    snprintf(path, len, "/tmp/wrfuzz-%s.%ld.wr", tag, (long)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return false;
    bool ok = size == 0 || fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !ok) {
        unlink(path);
        return false;
    }
    return true;
}

/* Does wr_verify find the checkpoint (latest or previous) clean? */
static inline bool fz_verify_clean(const char *path, bool previous)
{
    wr_errbuf eb = {0};
    wr_verify_opts vo = {.previous = previous, .max_problems = 1};
    wr_verify_report *r = NULL;
    bool clean = wr_verify(path, &vo, &r, &eb) == WR_OK;
    wr_verify_report_free(r);
    return clean;
}

#endif /* WR_FUZZ_FILE_H */
