/*
 * fuzz_input.c -- libFuzzer target for the decoders of input and of the
 * catalog (make fuzz; fuzz/fuzz.mk). tests/unit/test_fuzz_corpus.c replays
 * fuzz/corpus/input/ through the same entry point.
 *
 * Input: one mode byte, then the bytes.
 *   mode & 3 == 0: a JSONL line for wri_json_line_parse; what it accepts
 *     must pass wri_bson_check and print as Extended JSON (both forms);
 *   mode & 3 == 1: a BSON document for wri_bson_check; what it accepts must
 *     print (wri_ejson_append) and, printed canonically, parse back;
 *   mode & 3 == 2: a catalog file image for wri_catalog_decode;
 *   mode & 3 == 3: a key document for wri_key_check and wri_key_to_json.
 * Nothing may crash, leak or hang, whatever the bytes. The seeds in
 * fuzz/corpus/input/ are a few such lines, documents, keys and the catalog
 * of a small database, made by hand (the first byte is the mode).
 */
#include "wr_int.h"

#include <stdio.h>
#include <stdlib.h>

int wr_fuzz_input_one(const uint8_t *data, size_t size);

static void fz_print(const uint8_t *doc, size_t len)
{
    for (int relaxed = 0; relaxed < 2; relaxed++) {
        wri_strbuf sb = {0};
        if (wri_ejson_append(&sb, doc, len, relaxed) != WR_OK)
            abort(); /* a checked document always prints */
        free(sb.p);
    }
}

int wr_fuzz_input_one(const uint8_t *data, size_t size)
{
    char why[256];
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    data++, size--;
    switch (mode & 3) {
    case 0: {
        bson_t doc;
        bool del;
        if (wri_json_line_parse((const char *)data, size, &doc, &del, why,
                                sizeof why) == WR_OK) {
            if (wri_bson_check(bson_get_data(&doc), doc.len, NULL, NULL,
                               0) != WR_OK)
                abort(); /* accepted input stored as invalid BSON */
            fz_print(bson_get_data(&doc), doc.len);
            bson_destroy(&doc);
        }
        break;
    }
    case 1:
        if (wri_bson_check(data, size, NULL, why, sizeof why) == WR_OK)
            fz_print(data, size);
        break;
    case 2: {
        wri_catalog cat;
        if (wri_catalog_decode(data, size, &cat, why, sizeof why) == WR_OK)
            wri_catalog_free(&cat);
        break;
    }
    default:
        for (int n = 0; n <= 2; n++)
            if (wri_key_check(data, size, n, why, sizeof why) == WR_OK) {
                char *j = wri_key_to_json(data, size);
                free(j);
            }
    }
    return 0;
}

#ifndef WR_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return wr_fuzz_input_one(data, size);
}
#endif
