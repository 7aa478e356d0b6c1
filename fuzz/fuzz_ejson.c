/*
 * fuzz_ejson.c -- libFuzzer target holding the one-pass Extended JSON
 * builder (lib/ejsonread.c, lib/ejsonbuild.c) to libbson's parser (make fuzz; fuzz/fuzz.mk).
 * tests/unit/test_fuzz_corpus.c replays fuzz/corpus/ejson/ through the same
 * entry point, and tests/unit/test_jsonl.c runs wr_ejson_diff() over the
 * BSON corpus, JSONTestSuite and the real dataset.
 *
 * Input: one JSONL line. wri_json_line_parse (the builder) and the former
 * path (the same strict scan, then bson_init_from_json) must agree: both
 * accept with the same bytes and the same delete flag, or both refuse with
 * the same reason. The one allowed difference is where libbson 1.23.1 is
 * wrong and the builder right: a "$code" string with \u0000 (libbson cuts
 * it, so the former path refuses the line) and the {"$regex": {...}} query
 * operator (libbson refuses it nested). What the builder accepts must also
 * pass the strict BSON check. A disagreement aborts.
 */
#include "wr_int.h"

#include <stdio.h>
#include <stdlib.h>

enum { WR_EJ_SAME = 0, WR_EJ_LIBBSON_WRONG = 1, WR_EJ_DIFFER = -1 };

int wr_ejson_diff(const char *line, size_t len, char *msg, size_t msglen);
int wr_fuzz_ejson_one(const uint8_t *data, size_t size);

/* Did the former path refuse the line for one of libbson's known faults? */
static bool ej_libbson_fault(const char *why)
{
    return strstr(why, "Unexpected nested object value for \"$regex\"") !=
               NULL ||
           strstr(why, "$code string contains \\u0000") != NULL;
}

int wr_ejson_diff(const char *line, size_t len, char *msg, size_t msglen)
{
    bson_t a, b;
    bool da = false, db = false;
    char wa[512], wb[512];
    int ra = wri_json_line_parse_mode(line, len, &a, &da, wa, sizeof wa,
                                      WRI_JSON_BUILDER);
    int rb = wri_json_line_parse_mode(line, len, &b, &db, wb, sizeof wb,
                                      WRI_JSON_LIBBSON);
    int res = WR_EJ_SAME;
    msg[0] = '\0';
    if (ra == WR_OK && wri_bson_check(bson_get_data(&a), a.len, NULL, NULL,
                                      0) != WR_OK) {
        snprintf(msg, msglen, "builder output fails the BSON check");
        res = WR_EJ_DIFFER;
    } else if (ra == WR_OK && rb == WR_OK) {
        if (a.len != b.len || da != db ||
            memcmp(bson_get_data(&a), bson_get_data(&b), a.len) != 0) {
            snprintf(msg, msglen, "both accept, different BSON (%u vs %u "
                                  "bytes)", a.len, b.len);
            res = WR_EJ_DIFFER;
        }
    } else if (ra != WR_OK && rb != WR_OK) {
        if (strcmp(wa, wb) != 0 && ej_libbson_fault(wb)) {
            res = WR_EJ_LIBBSON_WRONG; /* ours refuses for a later check */
        } else if (strcmp(wa, wb) != 0) {
            snprintf(msg, msglen, "both refuse, different reasons: \"%s\" vs "
                                  "\"%s\"", wa, wb);
            res = WR_EJ_DIFFER;
        }
    } else if (ra == WR_OK) {
        if (ej_libbson_fault(wb))
            res = WR_EJ_LIBBSON_WRONG;
        else {
            snprintf(msg, msglen, "builder accepts, libbson path refuses: %s",
                     wb);
            res = WR_EJ_DIFFER;
        }
    } else {
        snprintf(msg, msglen, "builder refuses (%s), libbson path accepts",
                 wa);
        res = WR_EJ_DIFFER;
    }
    if (ra == WR_OK)
        bson_destroy(&a);
    if (rb == WR_OK)
        bson_destroy(&b);
    return res;
}

int wr_fuzz_ejson_one(const uint8_t *data, size_t size)
{
    char msg[1200];
    if (wr_ejson_diff((const char *)data, size, msg, sizeof msg) ==
        WR_EJ_DIFFER) {
        fprintf(stderr, "fuzz_ejson: %s\n  line: %.*s\n", msg,
                (int)(size < 2000 ? size : 2000), (const char *)data);
        abort();
    }
    return 0;
}

#ifndef WR_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return wr_fuzz_ejson_one(data, size);
}
#endif
