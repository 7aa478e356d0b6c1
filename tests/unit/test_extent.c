/*
 * test_extent.c -- the in-memory extent lists: best fit, coalescing,
 * growth, discard/commit timing (DESIGN decision 7), tail trimming,
 * double-free detection, and a randomized run against a bitmap model.
 */
#include "wr_int.h"
#include "tap.h"

#define P 512u
#define FIRST (2 * (uint64_t)P)

static wri_extmgr *mk(uint64_t lsize_blocks)
{
    wri_extmgr *em = NULL;
    wr_errbuf eb = {0};
    if (wri_extent_create(P, FIRST, FIRST + lsize_blocks * P, &em, &eb) != WR_OK)
        return NULL;
    return em;
}

static uint64_t B(uint64_t blockno) /* offset of data block n */
{
    return FIRST + blockno * P;
}

static int ins(wri_extmgr *em, uint64_t off, uint64_t len, uint32_t kind,
               uint64_t gen)
{
    wr_errbuf eb = {0};
    wri_ext e = {.off = off, .len = len, .gen = gen, .kind = kind};
    return wri_extent_insert(em, &e, &eb);
}

static int checked(const wri_extmgr *em)
{
    wr_errbuf eb = {0};
    int rc = wri_extent_check(em, &eb);
    if (rc != WR_OK)
        printf("#   check: %s\n", eb.msg);
    return rc;
}

static void test_extent_best_fit_among_candidates(void)
{
    wr_errbuf eb = {0};
    wri_extmgr *em = mk(100);
    uint64_t off = 0;
    REQUIRE(em != NULL);
    /* holes of 5, 2, 3, 2, 4 blocks, separated by used blocks */
    REQUIRE_OK(ins(em, B(0), 5 * P, WRI_EXT_AVAIL, 0), &eb);
    REQUIRE_OK(ins(em, B(10), 2 * P, WRI_EXT_AVAIL, 0), &eb);
    REQUIRE_OK(ins(em, B(20), 3 * P, WRI_EXT_AVAIL, 0), &eb);
    REQUIRE_OK(ins(em, B(30), 2 * P, WRI_EXT_AVAIL, 0), &eb);
    REQUIRE_OK(ins(em, B(40), 4 * P, WRI_EXT_AVAIL, 0), &eb);
    /* 3 blocks: exactly the 3-block hole, not the first that fits */
    REQUIRE_OK(wri_extent_alloc(em, 3 * P, &off, &eb), &eb);
    CHECK_EQ(off, B(20));
    /* 2 blocks: the lowest of the two equal 2-block holes */
    REQUIRE_OK(wri_extent_alloc(em, 2 * P, &off, &eb), &eb);
    CHECK_EQ(off, B(10));
    REQUIRE_OK(wri_extent_alloc(em, 2 * P, &off, &eb), &eb);
    CHECK_EQ(off, B(30));
    /* 1 block: smallest remaining is the 4-block hole; low part taken */
    REQUIRE_OK(wri_extent_alloc(em, P, &off, &eb), &eb);
    CHECK_EQ(off, B(40));
    CHECK(wri_extent_is_avail(em, B(41), 3 * P));
    CHECK(!wri_extent_is_avail(em, B(40), P));
    /* 3 blocks now fit the 3 left at 41 exactly */
    REQUIRE_OK(wri_extent_alloc(em, 3 * P, &off, &eb), &eb);
    CHECK_EQ(off, B(41));
    wri_extent_stats st;
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.avail_count, 1);
    CHECK_EQ(st.avail_bytes, 5 * P);
    CHECK_EQ(checked(em), WR_OK);
    wri_extent_destroy(em);
}

static void test_extent_merge_with_left_right_and_both_neighbours(void)
{
    wr_errbuf eb = {0};
    wri_extmgr *em = mk(0);
    uint64_t off[6];
    wri_extent_stats st;
    REQUIRE(em != NULL);
    for (int i = 0; i < 6; i++) {
        REQUIRE_OK(wri_extent_alloc(em, P, &off[i], &eb), &eb);
        CHECK_EQ(off[i], B((uint64_t)i));
    }
    /* alloc list may coalesce; freeing pieces splits it */
    REQUIRE_OK(wri_extent_free(em, off[1], P, 2, &eb), &eb);
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.avail_count, 1);
    CHECK_EQ(st.discard_count, 0); /* allocated in this build: avail */
    /* left neighbour of off[2] is off[1]: merge with left */
    REQUIRE_OK(wri_extent_free(em, off[2], P, 2, &eb), &eb);
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.avail_count, 1);
    CHECK(wri_extent_is_avail(em, off[1], 2 * P));
    /* right neighbour of off[0] is off[1]: merge with right */
    REQUIRE_OK(wri_extent_free(em, off[0], P, 2, &eb), &eb);
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.avail_count, 1);
    CHECK(wri_extent_is_avail(em, off[0], 3 * P));
    /* off[4] alone, then off[3] bridges both */
    REQUIRE_OK(wri_extent_free(em, off[4], P, 2, &eb), &eb);
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.avail_count, 2);
    REQUIRE_OK(wri_extent_free(em, off[3], P, 2, &eb), &eb);
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.avail_count, 1);
    CHECK_EQ(st.avail_bytes, 5 * P);
    CHECK(wri_extent_is_avail(em, off[0], 5 * P));
    CHECK_EQ(st.alloc_count, 1);
    CHECK_EQ(st.alloc_bytes, P);
    /* insert() coalesces avail too */
    wri_extmgr *em2 = mk(10);
    REQUIRE(em2 != NULL);
    REQUIRE_OK(ins(em2, B(2), P, WRI_EXT_AVAIL, 0), &eb);
    REQUIRE_OK(ins(em2, B(4), P, WRI_EXT_AVAIL, 0), &eb);
    REQUIRE_OK(ins(em2, B(3), P, WRI_EXT_AVAIL, 0), &eb);
    wri_extent_stats_get(em2, &st);
    CHECK_EQ(st.avail_count, 1);
    CHECK(wri_extent_is_avail(em2, B(2), 3 * P));
    CHECK_EQ(checked(em), WR_OK);
    CHECK_EQ(checked(em2), WR_OK);
    wri_extent_destroy(em);
    wri_extent_destroy(em2);
}

static void test_extent_extends_when_nothing_fits(void)
{
    wr_errbuf eb = {0};
    wri_extmgr *em = mk(10);
    uint64_t off = 0;
    REQUIRE(em != NULL);
    REQUIRE_OK(ins(em, B(3), P, WRI_EXT_AVAIL, 0), &eb);
    REQUIRE_OK(wri_extent_alloc(em, 2 * P, &off, &eb), &eb);
    CHECK_EQ(off, B(10));
    CHECK_EQ(wri_extent_logical_size(em), B(12));
    CHECK(wri_extent_is_avail(em, B(3), P)); /* hole untouched */
    /* a free tail is used first and the file grows only by the rest */
    REQUIRE_OK(wri_extent_free(em, B(10), 2 * P, 2, &eb), &eb);
    CHECK(wri_extent_is_avail(em, B(10), 2 * P));
    REQUIRE_OK(wri_extent_alloc(em, 3 * P, &off, &eb), &eb);
    CHECK_EQ(off, B(10));
    CHECK_EQ(wri_extent_logical_size(em), B(13));
    /* bad lengths */
    CHECK_EQ(wri_extent_alloc(em, 0, &off, &eb), WR_EINVAL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_extent_alloc(em, P + 1, &off, &eb), WR_EINVAL);
    CHECK_EQ(checked(em), WR_OK);
    wri_extent_destroy(em);
}

static void test_extent_free_of_alloc_goes_to_avail_older_to_discard(void)
{
    wr_errbuf eb = {0};
    wri_extmgr *em = mk(0);
    uint64_t a = 0, b = 0, c = 0;
    wri_extent_stats st;
    REQUIRE(em != NULL);
    REQUIRE_OK(wri_extent_alloc(em, P, &a, &eb), &eb);
    REQUIRE_OK(wri_extent_alloc(em, 2 * P, &b, &eb), &eb);
    wri_extent_commit(em, 2); /* a and b belong to checkpoint 2 now */
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.alloc_count, 0);
    REQUIRE_OK(wri_extent_alloc(em, P, &c, &eb), &eb);
    REQUIRE_OK(wri_extent_free(em, c, P, 3, &eb), &eb); /* this build's */
    CHECK(wri_extent_is_avail(em, c, P));
    REQUIRE_OK(wri_extent_free(em, b, 2 * P, 3, &eb), &eb); /* older */
    CHECK(!wri_extent_is_avail(em, b, 2 * P));
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.discard_count, 1);
    CHECK_EQ(st.discard_bytes, 2 * P);
    wri_ext found;
    CHECK(wri_extent_find_overlap(em, b + P, P, &found));
    CHECK_EQ(found.kind, WRI_EXT_DISCARD);
    CHECK_EQ(found.gen, 3);
    /* a discard of another generation next to it stays apart (E5) */
    REQUIRE_OK(wri_extent_free(em, a, P, 4, &eb), &eb);
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.discard_count, 2);
    CHECK_EQ(checked(em), WR_OK);
    wri_extent_destroy(em);
}

static void test_extent_commit_moves_discard_after_next_checkpoint_only(void)
{
    wr_errbuf eb = {0};
    wri_extmgr *em = mk(0);
    uint64_t a = 0;
    REQUIRE(em != NULL);
    REQUIRE_OK(wri_extent_alloc(em, P, &a, &eb), &eb);
    wri_extent_commit(em, 2); /* checkpoint 2 holds a */
    /* freed while building 3: checkpoint 2 may still be opened */
    REQUIRE_OK(wri_extent_free(em, a, P, 3, &eb), &eb);
    wri_extent_commit(em, 3); /* slots now 2 and 3: a still needed by 2 */
    CHECK(!wri_extent_is_avail(em, a, P));
    wri_extent_stats st;
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.discard_count, 1);
    wri_extent_commit(em, 4); /* slots 3 and 4: nobody references a */
    CHECK(wri_extent_is_avail(em, a, P));
    wri_extent_stats_get(em, &st);
    CHECK_EQ(st.discard_count, 0);
    CHECK_EQ(checked(em), WR_OK);
    wri_extent_destroy(em);
}

static void test_extent_trim_tail(void)
{
    wr_errbuf eb = {0};
    wri_extmgr *em = mk(20);
    REQUIRE(em != NULL);
    REQUIRE_OK(ins(em, B(5), P, WRI_EXT_AVAIL, 0), &eb);
    CHECK_EQ(wri_extent_trim_tail(em), B(20)); /* no free tail */
    REQUIRE_OK(ins(em, B(15), 5 * P, WRI_EXT_AVAIL, 0), &eb);
    CHECK_EQ(wri_extent_trim_tail(em), B(15));
    CHECK_EQ(wri_extent_logical_size(em), B(15));
    CHECK_EQ(wri_extent_count(em), 1);
    /* a discard at the tail is not free: nothing trimmed */
    REQUIRE_OK(ins(em, B(14), P, WRI_EXT_DISCARD, 7), &eb);
    CHECK_EQ(wri_extent_trim_tail(em), B(15));
    CHECK_EQ(checked(em), WR_OK);
    wri_extent_destroy(em);
}

static void test_extent_double_free_detected(void)
{
    wr_errbuf eb = {0};
    wri_extmgr *em = mk(0);
    uint64_t a = 0, b = 0;
    REQUIRE(em != NULL);
    REQUIRE_OK(wri_extent_alloc(em, 2 * P, &a, &eb), &eb);
    REQUIRE_OK(wri_extent_alloc(em, 2 * P, &b, &eb), &eb);
    REQUIRE_OK(wri_extent_free(em, a, 2 * P, 2, &eb), &eb);
    CHECK_EQ(wri_extent_free(em, a, 2 * P, 2, &eb), WR_EINVAL);
    CHECK(strstr(eb.msg, "double free") != NULL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_extent_free(em, a + P, P, 2, &eb), WR_EINVAL);
    wr_errbuf_clear(&eb);
    wri_extent_commit(em, 2);
    REQUIRE_OK(wri_extent_free(em, b, 2 * P, 3, &eb), &eb); /* discard */
    CHECK_EQ(wri_extent_free(em, b + P, P, 3, &eb), WR_EINVAL);
    CHECK(strstr(eb.msg, "discarded") != NULL);
    wr_errbuf_clear(&eb);
    /* outside the data area or unaligned */
    CHECK_EQ(wri_extent_free(em, P, P, 3, &eb), WR_EINVAL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_extent_free(em, B(100), P, 3, &eb), WR_EINVAL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_extent_free(em, B(0) + 1, P, 3, &eb), WR_EINVAL);
    wr_errbuf_clear(&eb);
    /* partly allocated in this build */
    uint64_t c = 0;
    REQUIRE_OK(wri_extent_alloc(em, P, &c, &eb), &eb);
    CHECK_EQ(wri_extent_free(em, c - P, 2 * P, 3, &eb), WR_EINVAL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(checked(em), WR_OK);
    wri_extent_destroy(em);
}

static void test_extent_insert_overlap_is_corrupt(void)
{
    wr_errbuf eb = {0};
    wri_extmgr *em = mk(20);
    REQUIRE(em != NULL);
    REQUIRE_OK(ins(em, B(2), 3 * P, WRI_EXT_AVAIL, 0), &eb);
    CHECK_EQ(ins(em, B(4), 2 * P, WRI_EXT_DISCARD, 3), WR_ECORRUPT);
    CHECK_EQ(ins(em, B(0), 3 * P, WRI_EXT_AVAIL, 0), WR_ECORRUPT);
    CHECK_EQ(ins(em, B(19), 2 * P, WRI_EXT_AVAIL, 0), WR_ECORRUPT);
    CHECK_EQ(ins(em, B(6), 0, WRI_EXT_AVAIL, 0), WR_ECORRUPT);
    CHECK_EQ(ins(em, B(6), P, 9, 0), WR_ECORRUPT);
    CHECK_EQ(ins(em, P, P, WRI_EXT_AVAIL, 0), WR_ECORRUPT);
    CHECK_EQ(checked(em), WR_OK);
    wri_extent_destroy(em);
}

/* --- randomized against a bitmap model ---------------------------------- */

enum { M_FREE = 0, M_USED = 1, M_ALLOC = 2, M_AVAIL = 3, M_DISC = 4 };

typedef struct rnd_page {
    uint64_t off, len;
    uint64_t gen_alloc; /* building gen when allocated */
} rnd_page;

static uint64_t rnd_state = 12345;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

typedef struct mark_ctx {
    uint8_t *map;
    uint64_t nblocks;
    int bad;
} mark_ctx;

static int mark_ext(const wri_ext *e, void *arg)
{
    mark_ctx *c = arg;
    for (uint64_t o = e->off; o < e->off + e->len; o += P) {
        uint64_t i = (o - FIRST) / P;
        if (i >= c->nblocks || c->map[i] != M_FREE) {
            c->bad++;
            continue;
        }
        c->map[i] = e->kind == WRI_EXT_AVAIL ? M_AVAIL : M_DISC;
    }
    return 0;
}

static int mark_alloc(const wri_ext *e, void *arg)
{
    mark_ctx *c = arg;
    for (uint64_t o = e->off; o < e->off + e->len; o += P) {
        uint64_t i = (o - FIRST) / P;
        if (i >= c->nblocks || c->map[i] != M_USED)
            c->bad++; /* alloc must be a subset of what the model holds */
    }
    return 0;
}

static void test_extent_randomized_against_model(void)
{
    wr_errbuf eb = {0};
    wri_extmgr *em = mk(0);
    enum { MAXP = 600 };
    rnd_page pages[MAXP];
    int np = 0;
    uint64_t building = 2;
    int steps = 20000, failures = 0;
    REQUIRE(em != NULL);
    for (int s = 0; s < steps && failures == 0; s++) {
        uint64_t r = rnd() % 100;
        if (r < 50 && np < MAXP) {
            uint64_t len = (1 + rnd() % 4) * P, off = 0;
            REQUIRE_OK(wri_extent_alloc(em, len, &off, &eb), &eb);
            pages[np++] = (rnd_page){off, len, building};
        } else if (r < 92 && np > 0) {
            int i = (int)(rnd() % (uint64_t)np);
            REQUIRE_OK(wri_extent_free(em, pages[i].off, pages[i].len,
                                       building, &eb), &eb);
            pages[i] = pages[--np];
        } else {
            wri_extent_commit(em, building);
            building++;
            if (rnd() % 4 == 0)
                wri_extent_trim_tail(em);
        }
        /* every block below the logical size: model-used, avail or
         * discard, exactly once */
        uint64_t nblocks = (wri_extent_logical_size(em) - FIRST) / P;
        uint8_t *map = calloc(nblocks + 1, 1);
        REQUIRE(map != NULL);
        mark_ctx c = {map, nblocks, 0};
        for (int i = 0; i < np; i++)
            for (uint64_t o = pages[i].off; o < pages[i].off + pages[i].len;
                 o += P) {
                uint64_t k = (o - FIRST) / P;
                if (k >= nblocks || map[k] != M_FREE)
                    c.bad++;
                else
                    map[k] = M_USED;
            }
        wri_extent_walk(em, mark_ext, &c);
        wri_extent_walk_alloc(em, mark_alloc, &c);
        for (uint64_t k = 0; k < nblocks; k++)
            if (map[k] == M_FREE)
                c.bad++;
        free(map);
        if (c.bad != 0 || checked(em) != WR_OK) {
            TAP_FAIL("step %d: %d accounting errors", s, c.bad);
            failures++;
        }
    }
    wri_extent_destroy(em);
}

int main(void)
{
    RUN(test_extent_best_fit_among_candidates);
    RUN(test_extent_merge_with_left_right_and_both_neighbours);
    RUN(test_extent_extends_when_nothing_fits);
    RUN(test_extent_free_of_alloc_goes_to_avail_older_to_discard);
    RUN(test_extent_commit_moves_discard_after_next_checkpoint_only);
    RUN(test_extent_trim_tail);
    RUN(test_extent_double_free_detected);
    RUN(test_extent_insert_overlap_is_corrupt);
    RUN(test_extent_randomized_against_model);
    return tap_done();
}
