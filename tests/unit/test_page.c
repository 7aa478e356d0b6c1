/*
 * test_page.c -- the page checker's zero checks (lib/page.c): a leaf's
 * free gap and an overflow page's tail after its value must be all zero;
 * a nonzero byte anywhere in them (first, last, either side of a 32-byte
 * step, in between) is refused naming exactly that byte, and nothing
 * outside them is taken for it.
 */
#include "tap.h"

#include "wr_int.h"

#define P 4096

/* A leaf holding one small item, finished: a long zero gap. */
static void one_item_leaf(uint8_t *buf, wri_page_view *v)
{
    static const uint8_t key[] = {0x0b, 0, 0, 0, 0x10, 0, 7, 0, 0, 0, 0};
    static const uint8_t val[] = {5, 0, 0, 0, 0};
    wri_page_builder pb;
    wri_page_problem pp;
    memset(buf, 0xee, P); /* finish must zero the gap */
    wri_pb_init(&pb, buf, P, WRI_PT_LEAF, 0);
    wri_pb_add_leaf(&pb, key, sizeof key, val, sizeof val, NULL);
    wri_pb_finish(&pb, 2);
    memset(&pp, 0, sizeof pp);
    if (wri_page_check(buf, P, 1, v, &pp) != WR_OK)
        TAP_FAIL("a fresh leaf fails: %s", pp.what);
}

static void test_page_free_gap_nonzero_byte_named_exactly(void)
{
    uint8_t buf[P];
    wri_page_view v;
    wri_page_problem pp;
    one_item_leaf(buf, &v);
    uint32_t lo = v.lowest - v.free_bytes, hi = v.lowest;
    REQUIRE(hi - lo > 100);
    uint32_t at[] = {lo, lo + 1, lo + 31, lo + 32, lo + 33, lo + 63,
                     (lo + hi) / 2, hi - 33, hi - 32, hi - 1};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        buf[at[k]] = 0x40;
        memset(&pp, 0, sizeof pp);
        CHECK_EQ(wri_page_check(buf, P, 1, &v, &pp), WR_ECORRUPT);
        CHECK_EQ(pp.off, at[k]);
        char want[64];
        snprintf(want, sizeof want, "not zero at byte %u", at[k]);
        if (strstr(pp.what, want) == NULL)
            TAP_FAIL("byte %u: %s", at[k], pp.what);
        buf[at[k]] = 0;
        CHECK_EQ(wri_page_check(buf, P, 1, &v, &pp), WR_OK);
    }
}

static void test_page_overflow_tail_nonzero_byte_named_exactly(void)
{
    uint8_t val[1000], buf[P];
    wri_page_problem pp;
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (uint8_t)(i | 1); /* never zero: the value is not tail */
    uint32_t size = (uint32_t)wri_overflow_size(P, sizeof val);
    REQUIRE(size == P);
    wri_overflow_encode(buf, size, val, sizeof val, 2);
    REQUIRE_EQ(wri_overflow_check(buf, size, sizeof val, &pp), WR_OK);
    uint32_t lo = WRI_PH_LEN + sizeof val, hi = size;
    uint32_t at[] = {lo, lo + 7, lo + 32, (lo + hi) / 2, hi - 1};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        buf[at[k]] = 1;
        CHECK_EQ(wri_overflow_check(buf, size, sizeof val, &pp),
                 WR_ECORRUPT);
        CHECK_EQ(pp.off, at[k]);
        buf[at[k]] = 0;
    }
    CHECK_EQ(wri_overflow_check(buf, size, sizeof val, &pp), WR_OK);
}

int main(void)
{
    RUN(test_page_free_gap_nonzero_byte_named_exactly);
    RUN(test_page_overflow_tail_nonzero_byte_named_exactly);
    return tap_done();
}
