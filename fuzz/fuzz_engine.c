/*
 * fuzz_engine.c -- libFuzzer target for the engine's strict read path on
 * hostile bytes (make fuzz; fuzz/fuzz.mk): wri_block_open with the extent
 * lists loaded, wri_btree_open, then a full cursor scan forward reading
 * every value, a scan backward, and a seek to every tenth key met. The
 * sanitizer test suite replays fuzz/corpus/engine/ through the same entry
 * point (tests/unit/test_fuzz_corpus.c).
 *
 * Input: one mode byte, then the bytes of a tree file (mode bit 0: the
 * previous checkpoint, WRI_BLOCK_PREVIOUS).
 * Strict mode refuses damage cleanly: every call returns WR_OK or
 * WR_ENOTFOUND (end of the scan, no previous checkpoint), WR_ECORRUPT,
 * WR_ENOTOURS or WR_EVERSION, never another code (ENOMEM from a length
 * read off the disk is a bug), and nothing crashes, leaks or hangs. And
 * no false refusal: when wr_verify finds that checkpoint clean, the
 * engine opens it, scans it both ways without an error, and meets exactly
 * the records its header counts.
 */
#include "fuzz_file.h"

#include <stdlib.h>

int wr_fuzz_engine_one(const uint8_t *data, size_t size);

static bool fe_refusal(int rc)
{
    return rc == WR_ENOTFOUND || rc == WR_ECORRUPT || rc == WR_ENOTOURS ||
           rc == WR_EVERSION;
}

/* Abort unless rc is success or a clean refusal. */
static int fe_ok(int rc)
{
    if (rc != WR_OK && !fe_refusal(rc))
        abort();
    return rc;
}

/* Scan forward (every value read) or backward; the items met, or -1 when
 * the engine refused the tree somewhere. Every tenth key is sought. */
static int64_t fe_scan(wri_btree *t, bool backward)
{
    wr_errbuf eb = {0};
    wri_cursor *c = NULL, *s = NULL;
    int64_t n = 0;
    if (fe_ok(wri_cursor_open(t, &c, &eb)) != WR_OK)
        return -1;
    if (fe_ok(wri_cursor_open(t, &s, &eb)) != WR_OK) {
        wri_cursor_close(c);
        return -1;
    }
    int rc = backward ? wri_cursor_last(c, &eb) : wri_cursor_first(c, &eb);
    for (; rc == WR_OK && n < 1000000; n++) {
        const uint8_t *k, *v;
        uint32_t kl, vl;
        if ((rc = fe_ok(wri_cursor_value(c, &v, &vl, &eb))) != WR_OK)
            break;
        wri_cursor_key(c, &k, &kl);
        if (n % 10 == 0 && fe_ok(wri_cursor_seek(s, k, kl, &eb)) == WR_OK) {
            const uint8_t *k2;
            uint32_t kl2;
            wri_cursor_key(s, &k2, &kl2);
            if (kl2 != kl || memcmp(k, k2, kl) != 0)
                abort(); /* a key met by a scan is found by a seek */
        }
        rc = backward ? wri_cursor_prev(c, &eb) : wri_cursor_next(c, &eb);
    }
    fe_ok(rc);
    wri_cursor_close(s);
    wri_cursor_close(c);
    return rc == WR_ENOTFOUND ? n : -1;
}

int wr_fuzz_engine_one(const uint8_t *data, size_t size)
{
    char path[64];
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    wri_btree *t = NULL;
    if (size == 0)
        return 0;
    bool previous = (data[0] & 1) != 0;
    if (!fz_scratch("engine", data + 1, size - 1, path, sizeof path))
        return 0;
    bool clean = fz_verify_clean(path, previous);
    int64_t fwd = -1, back = -1;
    uint64_t records = 0;
    int flags = WRI_BLOCK_RDONLY | (previous ? WRI_BLOCK_PREVIOUS : 0);
    if (fe_ok(wri_block_open(path, flags, &b, &eb)) == WR_OK) {
        records = b->cur.nrecords;
        int nk = b->cur.role == WRI_ROLE_INDEX ? 2 : 1;
        if (fe_ok(wri_btree_open(b, nk, &t, &eb)) == WR_OK) {
            fwd = fe_scan(t, false);
            back = fe_scan(t, true);
        }
    }
    if (clean && (fwd < 0 || back != fwd || (uint64_t)fwd != records))
        abort(); /* the engine refused or miscounted a clean checkpoint */
    wri_btree_close(t);
    wri_block_close(b);
    wr_errbuf_clear(&eb);
    unlink(path);
    return 0;
}

#ifndef WR_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return wr_fuzz_engine_one(data, size);
}
#endif
