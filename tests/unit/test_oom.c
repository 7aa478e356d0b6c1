/*
 * test_oom.c -- the engine under a failing allocation: a call that
 * returns WR_ENOMEM leaves the tree as it was, so the caller can carry
 * on (wr_coll_put keeps the handle usable). Linked with
 * -Wl,--wrap=malloc (Makefile): malloc fails for one chosen size.
 */
#include "tap.h"
#include "wr_int.h"
#include "block.h"
#include "btree.h"

#include <unistd.h>

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);

static size_t fail_size; /* 0: none fails */

void *__wrap_malloc(size_t n)
{
    if (fail_size != 0 && n == fail_size)
        return NULL;
    return __real_malloc(n);
}

static void key_of(int i, bson_t *k)
{
    bson_init(k);
    BSON_APPEND_INT32(k, "", i);
}

/* Keys from to to - 1, each with a 300-byte value of v. */
static void put_range(wri_btree *t, int from, int to, const uint8_t *v,
                      wr_errbuf *eb)
{
    bson_t k;
    for (int i = from; i < to; i++) {
        key_of(i, &k);
        CHECK_EQ(wri_btree_put(t, bson_get_data(&k), k.len, v, 300, NULL,
                               eb),
                 WR_OK);
        bson_destroy(&k);
    }
}

/* A leaf of ten 300-byte values; eight replaces fail for lack of memory;
 * eight more values join. Before the fix each failed replace took its
 * item's bytes off the leaf's count, so the leaf looked roomier than it
 * was (diag: B2) and the checkpoint wrote past its page buffer. */
static void test_oom_failed_replace_keeps_the_leaf_count(void)
{
    wr_errbuf eb = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/oom.wr", tap_tmpdir());
    unlink(path);
    wri_block_cfg cfg = {.page_size = 4096, .role = WRI_ROLE_MAIN,
                         .coll = "t"};
    wri_block *b = NULL;
    wri_btree *t = NULL;
    uint8_t v[512];
    memset(v, 'x', sizeof v);
    bson_t k;
    REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
    REQUIRE_OK(wri_btree_open(b, 1, &t, &eb), &eb);
    put_range(t, 0, 10, v, &eb);
    for (int i = 0; i < 8; i++) {
        key_of(i, &k);
        fail_size = (size_t)k.len + 301 + 1; /* the item's key+value copy */
        int rc = wri_btree_put(t, bson_get_data(&k), k.len, v, 301, NULL,
                               &eb);
        fail_size = 0;
        CHECK_EQ(rc, WR_ENOMEM);
        wr_errbuf_clear(&eb);
        bson_destroy(&k);
    }
    REQUIRE_OK(wri_btree_diag(t, &eb), &eb);
    put_range(t, 10, 18, v, &eb);
    REQUIRE_OK(wri_btree_diag(t, &eb), &eb);
    REQUIRE_OK(wri_btree_checkpoint(t, &eb), &eb);
    CHECK_EQ(t->nrecords, 18);
    wri_btree_close(t);
    wri_block_close(b);
}

int main(void)
{
    RUN(test_oom_failed_replace_keeps_the_leaf_count);
    return tap_done();
}
