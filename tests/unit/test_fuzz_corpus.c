/*
 * test_fuzz_corpus.c -- replay every fuzz seed and every committed crash
 * (fuzz/corpus/NAME/) through the fuzz targets' entry points, under the
 * sanitizer build of the test suite. One TAP line per corpus directory.
 * WR_FUZZ_CORPUS overrides the corpus root (default: fuzz/corpus, the test
 * runner's working directory being the top of the repository).
 */
#include "tap.h"

#include "../../fuzz/fuzz_verify.c"
#define WR_FUZZ_REPLAY /* no second LLVMFuzzerTestOneInput */
#include "../../fuzz/fuzz_input.c"
#include "../../fuzz/fuzz_salvage.c"
#include "../../fuzz/fuzz_ejson.c"
#include "../../fuzz/fuzz_dump.c"
#include "../../fuzz/fuzz_engine.c"

#include <dirent.h>

static int replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t))
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        uint8_t *buf = malloc(1 << 20);
        size_t len = fread(buf, 1, 1 << 20, f);
        fclose(f);
        fn(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

/* Replay fuzz/corpus/NAME (or $WR_FUZZ_CORPUS/NAME) through fn; the
 * number of inputs replayed. */
static int replay_corpus(const char *name, int (*fn)(const uint8_t *, size_t))
{
    const char *root = getenv("WR_FUZZ_CORPUS");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", root ? root : "fuzz/corpus", name);
    int n = replay_dir(dir, fn);
    printf("# %d inputs from %s\n", n, dir);
    return n;
}

static void test_fuzz_corpus_verify(void)
{
    CHECK(replay_corpus("verify", wr_fuzz_verify_one) >= 5);
}

static void test_fuzz_corpus_input(void)
{
    CHECK(replay_corpus("input", wr_fuzz_input_one) >= 10);
}

static void test_fuzz_corpus_salvage(void)
{
    CHECK(replay_corpus("salvage", wr_fuzz_salvage_one) >= 8);
}

static void test_fuzz_corpus_dump(void)
{
    CHECK(replay_corpus("dump", wr_fuzz_dump_one) >= 8);
}

static void test_fuzz_corpus_engine(void)
{
    CHECK(replay_corpus("engine", wr_fuzz_engine_one) >= 8);
}

/* Each seed line: the builder and libbson's parser agree (or libbson is
 * the one known wrong); a disagreement aborts the run. */
static void test_fuzz_corpus_ejson(void)
{
    CHECK(replay_corpus("ejson", wr_fuzz_ejson_one) >= 50);
}

/* Inputs no seed covers: edge lengths and mode bytes. The sanitizers
 * judge the runs; the decoders must also refuse what is all zeros. */
static void test_fuzz_entry_edge_inputs(void)
{
    uint8_t buf[2048] = {0};
    wri_page_view v;
    wri_page_problem prob;
    wri_slot slot;
    char why[256];
    for (int mode = 0; mode < 16; mode++) {
        buf[0] = (uint8_t)mode;
        for (size_t len = 0; len <= 1100; len += 137)
            CHECK_EQ(wr_fuzz_verify_one(buf, len), 0);
    }
    memset(buf, 0, sizeof buf);
    CHECK_EQ(wri_page_check(buf, 512, 1, &v, &prob), WR_ECORRUPT);
    CHECK(wri_slot_decode(buf, WRI_SLOT_LEN, &slot, why, sizeof why) !=
          WR_OK);
    for (size_t len = 0; len < 16; len++)
        CHECK(wri_key_check(buf, len, 1, why, sizeof why) != WR_OK);
}

int main(void)
{
    RUN(test_fuzz_corpus_verify);
    RUN(test_fuzz_corpus_input);
    RUN(test_fuzz_corpus_salvage);
    RUN(test_fuzz_corpus_dump);
    RUN(test_fuzz_corpus_engine);
    RUN(test_fuzz_corpus_ejson);
    RUN(test_fuzz_entry_edge_inputs);
    return tap_done();
}
