/*
 * test_diag.c -- the invariants of lib/diag.h: each one broken on purpose
 * (in memory, on disk, or in the extent lists), and its check seen to
 * fire naming it; on clean runs every check passes. In a DIAG build
 * (make DIAG=1) the engine itself must abort at the next checkpoint or
 * commit with "wrtools DIAG: <invariant>" (run in a child process).
 *
 * The extent lists and the tree's nodes are private to extent.c and
 * the btree files; this test includes extent.c and btree_int.h so that it
 * can break them. Invariants
 * cited: E1-E6, I1, I2, I4, I5, I6, I7, I8, B1-B7, C6, M3.
 */
#include "tap.h"

#include "../../lib/extent.c"
#include "btree_int.h"

#include "diag.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmp_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tap_tmpdir(), name);
    unlink(p);
    return p;
}

static void key_of(uint64_t i, bson_t *k)
{
    bson_init(k);
    BSON_APPEND_INT64(k, "", (int64_t)i);
}

/* A tree of n keys in 512-byte pages, every 50th value an overflow one,
 * committed. */
static int tree_make(const char *name, int n, wri_block **b, wri_btree **t,
                     wr_errbuf *eb)
{
    int rc;
    static uint8_t v[900];
    wri_block_cfg cfg = {.page_size = 512, .role = WRI_ROLE_MAIN,
                         .coll = "t"};
    if ((rc = wri_block_create(tmp_path(name), &cfg, b, eb)) != WR_OK)
        return rc;
    if ((rc = wri_btree_open(*b, 1, t, eb)) != WR_OK)
        return rc;
    for (int i = 0; i < n; i++) {
        bson_t k;
        key_of((uint64_t)i, &k);
        v[0] = (uint8_t)i;
        rc = wri_btree_put(*t, bson_get_data(&k), k.len, v,
                           i % 50 == 0 ? sizeof v : 30, NULL, eb);
        bson_destroy(&k);
        if (rc != WR_OK)
            return rc;
    }
    return wri_btree_checkpoint(*t, eb);
}

static void tree_free(wri_block *b, wri_btree *t)
{
    wri_btree_close(t);
    wri_block_close(b);
}

/* rc is WR_ECORRUPT and eb's message starts with what. */
static int fired(int rc, const wr_errbuf *eb, const char *what)
{
    if (rc == WR_ECORRUPT && strncmp(eb->msg, what, strlen(what)) == 0)
        return 1;
    printf("#   expected %s, got %d: %s\n", what, rc, eb->msg);
    return 0;
}

/* The address of the first leaf of the committed tree. */
static int first_leaf(void *arg, const wri_ps_page *p)
{
    wr_addr *a = arg;
    if (p->v != NULL && p->v->type == WRI_PT_LEAF && a->off == 0)
        *a = p->addr;
    return 0;
}

static wr_addr leaf_addr(wri_block *b)
{
    wr_addr a = {0};
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    int slot = b->chosen;
    if (wri_ps_open(b->path, NULL, &ps, &eb) != WR_OK) {
        printf("# open: %s\n", eb.msg);
        return a;
    }
    wri_ps_walk w = {.nkeyelem = 1, .page = first_leaf, .arg = &a};
    if (wri_ps_walk_tree(ps, &ps->slots[slot].slot, slot, &w, &eb) != WR_OK)
        printf("# walk: %s\n", eb.msg);
    wri_ps_walk_free(&w);
    wri_ps_close(ps);
    return a;
}

/* --- clean runs ------------------------------------------------------- */

static void test_diag_clean_tree_and_database(void)
{
    wr_errbuf eb = {0};
    wri_block *b;
    wri_btree *t;
    REQUIRE_OK(tree_make("clean.wr", 3000, &b, &t, &eb), &eb);
    for (int round = 0; round < 3; round++) {
        for (int i = round; i < 3000; i += 7) {
            bson_t k;
            key_of((uint64_t)i, &k);
            REQUIRE_OK(wri_btree_delete(t, bson_get_data(&k), k.len, &eb),
                       &eb);
            bson_destroy(&k);
        }
        REQUIRE_OK(wri_btree_checkpoint(t, &eb), &eb);
        REQUIRE_OK(wri_diag_block(b, &eb), &eb);
        REQUIRE_OK(wri_diag_tree(t, &eb), &eb);
    }
    tree_free(b, t);

    char dir[512];
    wr_db *db;
    wr_coll *c;
    snprintf(dir, sizeof dir, "%s/db", tap_tmpdir());
    wr_db_opts o = {.create = true, .page_size = 512};
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "c", true, &c, &eb), &eb);
    REQUIRE_OK(wr_coll_add_index(c, "n", &eb), &eb);
    for (int i = 0; i < 300; i++) {
        bson_t d = BSON_INITIALIZER;
        BSON_APPEND_INT32(&d, "_id", i);
        BSON_APPEND_INT32(&d, "n", i % 17);
        REQUIRE_OK(wr_coll_put(c, &d, NULL, &eb), &eb);
        bson_destroy(&d);
    }
    REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
    wr_db_close(db);
    CHECK_EQ(wri_diag_db(dir, &eb), WR_OK);
    /* compaction and migration commit catalogs too (C6, M3: in a DIAG
     * build their commits are checked here) */
    wr_compact_opts co = {0};
    wr_compact_stats cs = {0};
    REQUIRE_OK(wr_compact(dir, &co, &cs, &eb), &eb);
    CHECK_EQ(wri_diag_db(dir, &eb), WR_OK);
    char leg[512], cmd[2000];
    snprintf(leg, sizeof leg, "%s/legacy", tap_tmpdir());
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && for i in 1 2 3 4 5; do "
             "echo \"{\\\"_id\\\": $i, \\\"n\\\": $((i %% 2))}\"; done "
             "> '%s/t.log' && : > '%s/t.n.idx'",
             leg, leg, leg);
    REQUIRE(system(cmd) == 0);
    wr_migrate_opts mo = {.dir = leg, .page_size = 512};
    wr_migrate_stats ms;
    memset(&ms, 0, sizeof ms);
    REQUIRE_OK(wr_migrate(&mo, &ms, &eb), &eb);
    wr_migrate_stats_free(&ms);
    CHECK_EQ(wri_diag_db(leg, &eb), WR_OK);
}

/* --- E1-E6: the extent lists (extent.c's own check) ------------------ */

static ext_node *first_of(ext_list *l)
{
    return ext_first(l);
}

/* Set an extent's length, keeping the lists' byte counts in step (so the
 * invariant, not the bookkeeping, is what breaks). */
static void set_len(ext_list *a, ext_list *b, ext_node *n, uint64_t len)
{
    a->bytes += len - n->e.len;
    if (b != NULL)
        b->bytes += len - n->e.len;
    n->e.len = len;
}

static void test_diag_extent_invariants(void)
{
    wr_errbuf eb = {0};
    wri_extmgr *em;
    wri_ext a1 = {2048, 512, 0, WRI_EXT_AVAIL};
    wri_ext a2 = {3072, 512, 0, WRI_EXT_AVAIL};
    wri_ext d1 = {5120, 512, 5, WRI_EXT_DISCARD};
    wri_ext d2 = {6144, 512, 5, WRI_EXT_DISCARD};
    REQUIRE_OK(wri_extent_create(512, 1024, 100 * 512, &em, &eb), &eb);
    REQUIRE_OK(wri_extent_insert(em, &a1, &eb), &eb);
    REQUIRE_OK(wri_extent_insert(em, &a2, &eb), &eb);
    REQUIRE_OK(wri_extent_insert(em, &d1, &eb), &eb);
    REQUIRE_OK(wri_extent_insert(em, &d2, &eb), &eb);
    REQUIRE_OK(wri_extent_check(em, &eb), &eb);
    ext_node *n = first_of(&em->avail_off), *d = first_of(&em->discard);
    /* E1: unaligned */
    n->e.off += 1;
    wr_errbuf_clear(&eb);
    CHECK(wri_extent_check(em, &eb) == WR_ECORRUPT &&
          strstr(eb.msg, "(E1)") != NULL);
    n->e.off -= 1;
    /* E2: an avail extent reaching into a discard one */
    ext_node *n2 = ext_next(&em->avail_off, n);
    set_len(&em->avail_off, &em->avail_size, n2, 2560);
    wr_errbuf_clear(&eb);
    CHECK(wri_extent_check(em, &eb) == WR_ECORRUPT &&
          strstr(eb.msg, "(E2)") != NULL);
    set_len(&em->avail_off, &em->avail_size, n2, 512);
    /* E3: two avail extents that touch */
    set_len(&em->avail_off, &em->avail_size, n, 1024);
    wr_errbuf_clear(&eb);
    CHECK(wri_extent_check(em, &eb) == WR_ECORRUPT &&
          strstr(eb.msg, "(E3)") != NULL);
    set_len(&em->avail_off, &em->avail_size, n, 512);
    /* E4: an avail extent missing from the by-size list */
    ext_unlink(&em->avail_size, n);
    wr_errbuf_clear(&eb);
    CHECK(wri_extent_check(em, &eb) == WR_ECORRUPT &&
          strstr(eb.msg, "(E4)") != NULL);
    ext_link(&em->avail_size, n);
    /* E5: two discard extents of one generation that touch */
    set_len(&em->discard, NULL, d, 1024);
    wr_errbuf_clear(&eb);
    CHECK(wri_extent_check(em, &eb) == WR_ECORRUPT &&
          strstr(eb.msg, "(E5)") != NULL);
    set_len(&em->discard, NULL, d, 512);
    /* E6: an avail extent with a generation */
    n->e.gen = 4;
    wr_errbuf_clear(&eb);
    CHECK(wri_extent_check(em, &eb) == WR_ECORRUPT &&
          strstr(eb.msg, "(E6)") != NULL);
    n->e.gen = 0;
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_extent_check(em, &eb), WR_OK);
    wri_extent_destroy(em);

    /* and through the writer's diag */
    wri_block *b;
    wri_btree *t;
    REQUIRE_OK(tree_make("e.wr", 500, &b, &t, &eb), &eb);
    n = first_of(&b->em->avail_off);
    if (n == NULL) { /* make one: free a page allocated in this build */
        uint64_t off;
        REQUIRE_OK(wri_extent_alloc(b->em, 512, &off, &eb), &eb);
        REQUIRE_OK(wri_extent_free(b->em, off, 512, b->building, &eb), &eb);
        n = first_of(&b->em->avail_off);
    }
    REQUIRE(n != NULL);
    n->e.gen = 9;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_diag_block(b, &eb), &eb, "E1-E6"));
    n->e.gen = 0;
    tree_free(b, t);
}

/* --- I1, I2, I7: what the writer may reuse holds no live page -------- */

/* A fresh committed tree with extent e added to the writer's lists over
 * its first leaf (off 0) or its list page (off 1); the diag of the tree
 * must name what. */
static void reuse_case(const char *name, uint64_t which, uint32_t kind,
                       uint64_t gen_back, const char *what)
{
    wr_errbuf eb = {0};
    wri_block *b;
    wri_btree *t;
    bson_t k;
    REQUIRE_OK(tree_make(name, 2000, &b, &t, &eb), &eb);
    key_of(1000, &k); /* a second commit, with extent lists to persist */
    REQUIRE_OK(wri_btree_delete(t, bson_get_data(&k), k.len, &eb), &eb);
    bson_destroy(&k);
    REQUIRE_OK(wri_btree_checkpoint(t, &eb), &eb);
    REQUIRE_OK(wri_diag_tree(t, &eb), &eb);
    wr_addr page = which == 0 ? leaf_addr(b) : b->cur.extlist;
    REQUIRE(page.off != 0);
    wri_ext e = {page.off, 512, kind == WRI_EXT_AVAIL ? 0 : b->cur.gen - gen_back,
                 kind};
    REQUIRE_OK(wri_extent_insert(b->em, &e, &eb), &eb);
    CHECK(fired(wri_diag_tree(t, &eb), &eb, what));
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_diag_block(b, &eb), &eb, "I6")); /* not on disk */
    tree_free(b, t);
}

static void test_diag_reuse_of_live_pages(void)
{
    /* I1: a page of the committed tree in avail */
    reuse_case("i1.wr", 0, WRI_EXT_AVAIL, 0, "I1");
    /* I2: freed in the build that committed, yet still in its tree */
    reuse_case("i2.wr", 0, WRI_EXT_DISCARD, 0, "I2");
    /* I7: the new checkpoint's own list page handed out */
    reuse_case("i7.wr", 1, WRI_EXT_AVAIL, 0, "I7");
}

/* --- I4, I5, I8, I6: slots and lists on disk --------------------------- */

/* Write slot s (valid, with its CRC) at slot position i. */
static int put_slot(wri_block *b, const wri_slot *s, int i, wr_errbuf *eb)
{
    uint8_t buf[WRI_SLOT_LEN];
    wri_slot_encode(s, buf);
    return wri_io_pwrite(b->f, buf, sizeof buf, (uint64_t)i * b->page_size,
                         eb);
}

static void test_diag_slots_and_lists(void)
{
    wr_errbuf eb = {0};
    wri_block *b;
    wri_btree *t;
    REQUIRE_OK(tree_make("slots.wr", 800, &b, &t, &eb), &eb);
    REQUIRE_OK(wri_btree_checkpoint(t, &eb), &eb); /* both slots used */
    REQUIRE_OK(wri_diag_block(b, &eb), &eb);
    int other = 1 - b->chosen;
    wri_slot prev = b->slots[other].slot;
    REQUIRE(b->slots[other].valid && prev.gen + 1 == b->cur.gen);
    /* I4: the other slot is not the previous checkpoint */
    wri_slot s = prev;
    s.gen = b->cur.gen - 2;
    REQUIRE_OK(put_slot(b, &s, other, &eb), &eb);
    CHECK(fired(wri_diag_block(b, &eb), &eb, "I4"));
    /* I5: an open would choose another slot than the one committed */
    s.gen = b->cur.gen + 1;
    REQUIRE_OK(put_slot(b, &s, other, &eb), &eb);
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_diag_block(b, &eb), &eb, "I5"));
    REQUIRE_OK(put_slot(b, &prev, other, &eb), &eb);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_diag_block(b, &eb), &eb);
    /* I8: a checkpoint reaching past the end of the file */
    uint64_t lsize = b->cur.logical_size;
    REQUIRE_OK(wri_io_truncate(b->f, lsize - 512, &eb), &eb);
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_diag_block(b, &eb), &eb, "I8"));
    REQUIRE_OK(wri_io_truncate(b->f, lsize, &eb), &eb);
    /* I6: the writer's lists are not what the commit persisted */
    uint64_t off;
    REQUIRE_OK(wri_extent_alloc(b->em, 512, &off, &eb), &eb);
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_diag_block(b, &eb), &eb, "I6"));
    REQUIRE_OK(wri_extent_free(b->em, off, 512, b->building, &eb), &eb);
    wri_extent_trim_tail(b->em);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_diag_block(b, &eb), WR_OK);
    tree_free(b, t);
}

/* --- B1-B7: the nodes in memory ---------------------------------------- */

static void test_diag_tree_nodes(void)
{
    wr_errbuf eb = {0};
    wri_block *b;
    wri_btree *t;
    t = NULL;
    REQUIRE_OK(tree_make("nodes.wr", 1500, &b, &t, &eb), &eb);
    wri_node *r = t->root;
    REQUIRE(r != NULL && r->level > 0 && r->n > 1);
    REQUIRE_OK(wri_btree_diag(t, &eb), &eb);
    wri_node *child = r->it[0].child;
    REQUIRE(child != NULL);
    /* B1: a dirty node under a clean parent */
    child->dirty = true;
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B1"));
    child->dirty = false;
    /* B2: the byte count off by one */
    r->bytes++;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B2"));
    r->bytes--;
    /* B3: item 0 of an internal node with a key */
    const uint8_t *k0 = r->it[0].key;
    r->it[0].key = r->it[1].key;
    r->it[0].klen = r->it[1].klen;
    r->bytes += r->it[1].klen;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B3"));
    r->bytes -= r->it[1].klen;
    r->it[0].key = k0;
    r->it[0].klen = 0;
    /* B4: a clean node that is not its page on disk */
    wri_item *it = &child->it[child->n - 1];
    uint8_t *kb = (uint8_t *)it->key;
    kb[it->klen - 2] ^= 0x40;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B4"));
    kb[it->klen - 2] ^= 0x40;
    /* B6: a node this engine wrote (no page buffer) longer than one
     * block */
    REQUIRE(child->page == NULL);
    child->addr.size *= 2;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B6"));
    child->addr.size /= 2;
    /* B7: a tail of an inline value (item 1: 30 bytes) */
    wri_node *lf = r;
    while (lf->level > 0 && lf->it[0].child != NULL)
        lf = lf->it[0].child;
    REQUIRE(lf->level == 0 && lf->page == NULL && lf->n > 1 &&
            lf->it[1].tlen == 0 && lf->it[1].vlen == 30);
    lf->it[1].tlen = 1;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B2")); /* not counted */
    lf->bytes++;
    lf->tails++; /* so that B2 holds */
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B7"));
    lf->it[1].tlen = 0;
    lf->bytes--;
    lf->tails--;
    /* B5: the memory count off */
    t->mem += 8;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B5"));
    t->mem -= 8;
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_diag_tree(t, &eb), WR_OK);
    tree_free(b, t);
}

/* B6 and B7 for packed values: 300-byte values on 512-byte pages are
 * packed whole in their cells (format 4) in leaves longer than a block;
 * a packed item given a run, a file whose version does not admit it, a
 * long leaf of the wrong length: each fires; and for a split one. */
static void test_diag_packed_values(void)
{
    wr_errbuf eb = {0};
    wri_block *b;
    wri_btree *t;
    static uint8_t v[300];
    wri_block_cfg cfg = {.page_size = 512, .role = WRI_ROLE_MAIN,
                         .coll = "t"};
    REQUIRE_OK(wri_block_create(tmp_path("packed.wr"), &cfg, &b, &eb), &eb);
    REQUIRE_OK(wri_btree_open(b, 1, &t, &eb), &eb);
    for (uint64_t i = 0; i < 40; i++) {
        bson_t k;
        key_of(i, &k);
        v[0] = (uint8_t)i;
        REQUIRE_OK(wri_btree_put(t, bson_get_data(&k), k.len, v, sizeof v,
                                 NULL, &eb),
                   &eb);
        bson_destroy(&k);
    }
    REQUIRE_OK(wri_btree_checkpoint(t, &eb), &eb);
    CHECK_EQ(b->cur.version, WRI_VERSION_PACKED);
    wri_node *lf = t->root;
    while (lf->level > 0 && lf->it[0].child != NULL)
        lf = lf->it[0].child;
    REQUIRE(lf->level == 0 && lf->page == NULL);
    wri_item *it = &lf->it[0];
    REQUIRE(it->tlen == it->vlen && it->ovf.off == 0);
    REQUIRE(lf->addr.size > 512); /* a long leaf of packed values */
    CHECK_EQ(wri_btree_diag(t, &eb), WR_OK);
    /* B7: a packed value that names a run */
    it->ovf.off = 2 * 512;
    it->ovf.size = 512;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B7"));
    memset(&it->ovf, 0, sizeof it->ovf);
    /* B7: a file whose version does not admit packed values */
    b->cur.version = WRI_VERSION_TAILS;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B7"));
    b->cur.version = WRI_VERSION_PACKED;
    /* B6: a long leaf one block longer than the fewest that hold it */
    lf->addr.size += 512;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B6"));
    lf->addr.size -= 512;
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_diag_tree(t, &eb), WR_OK);
    /* B7 for a value longer than a block, split by the rule: before the
     * checkpoint the item holds it whole and no run; without the value,
     * or stored whole (no tail), it fires; after, its run holds the rest */
    static uint8_t big[700];
    bson_t k;
    key_of(1000, &k);
    REQUIRE_OK(wri_btree_put(t, bson_get_data(&k), k.len, big, sizeof big,
                             NULL, &eb),
               &eb);
    bson_destroy(&k);
    lf = t->root;
    while (lf->level > 0)
        lf = lf->it[lf->n - 1].child;
    it = &lf->it[lf->n - 1];
    uint32_t tl = it->tlen;
    REQUIRE(tl == (700 + 32) % 512 && it->ovf.off == 0 && it->val != NULL);
    CHECK_EQ(wri_btree_diag(t, &eb), WR_OK);
    const uint8_t *val = it->val;
    it->val = NULL;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B7"));
    it->val = val;
    it->tlen = 0;
    lf->bytes -= tl;
    lf->tails -= tl;
    wr_errbuf_clear(&eb);
    CHECK(fired(wri_btree_diag(t, &eb), &eb, "B7"));
    it->tlen = tl;
    lf->bytes += tl;
    lf->tails += tl;
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_btree_checkpoint(t, &eb), &eb);
    CHECK(it->ovf.off != 0 && it->ovf.size == 32 + 700 - tl &&
          it->val == NULL && it->tlen == tl);
    CHECK_EQ(wri_diag_tree(t, &eb), WR_OK);
    tree_free(b, t);
}

/* --- C6 / M3: a database after its catalog commit --------------------- */

static void test_diag_database_commit(void)
{
    wr_errbuf eb = {0};
    char dir[512], main_path[600], copy[600], cmd[1400];
    wr_db *db;
    wr_coll *c;
    snprintf(dir, sizeof dir, "%s/dbc", tap_tmpdir());
    wr_db_opts o = {.create = true, .page_size = 512};
    REQUIRE_OK(wr_db_open(dir, &o, &db, &eb), &eb);
    REQUIRE_OK(wr_coll_open(db, "c", true, &c, &eb), &eb);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 100; i++) {
            bson_t d = BSON_INITIALIZER;
            BSON_APPEND_INT32(&d, "_id", i + 100 * round);
            REQUIRE_OK(wr_coll_put(c, &d, NULL, &eb), &eb);
            bson_destroy(&d);
        }
        REQUIRE_OK(wr_db_checkpoint(db, &eb), &eb);
        if (round == 0) {
            snprintf(main_path, sizeof main_path, "%s/c.main.wr", dir);
            snprintf(copy, sizeof copy, "%s/old.copy", tap_tmpdir());
            snprintf(cmd, sizeof cmd, "cp '%s' '%s'", main_path, copy);
            REQUIRE(system(cmd) == 0);
        }
    }
    wr_db_close(db);
    REQUIRE_OK(wri_diag_db(dir, &eb), &eb);
    /* the catalog names generation G+1 of the main table; put back the
     * file as it was at G-1 (no slot of G+1): catalog disagreement */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", copy, main_path);
    REQUIRE(system(cmd) == 0);
    CHECK(fired(wri_diag_db(dir, &eb), &eb, "C6/M3"));
}

/* --- DIAG builds: the engine asserts by itself -------------------------- */

#ifdef WR_DIAG
/* Run fn in a child with stderr captured; it must die of SIGABRT with
 * "wrtools DIAG: <what>" on stderr, and also say `also` (may be NULL). */
static void expect_abort(void (*fn)(void), const char *what,
                         const char *also)
{
    char errp[600], buf[4096] = {0};
    snprintf(errp, sizeof errp, "%s/child.err", tap_tmpdir());
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(errp, "w", stderr);
        (void)f;
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    FILE *f = fopen(errp, "r");
    REQUIRE(f != NULL);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char want[128];
    snprintf(want, sizeof want, "wrtools DIAG: %s", what);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    if (strstr(buf, want) == NULL || (also && strstr(buf, also) == NULL))
        TAP_FAIL("child stderr lacks \"%s\" (%s): %.300s", want,
                 also ? also : "", buf);
}

/* An extent allocated and never written: after the next checkpoint it is
 * neither in the tree nor in the lists (leaked, I6). */
static void leak_then_checkpoint(void)
{
    wr_errbuf eb = {0};
    wri_block *b;
    wri_btree *t;
    uint64_t off;
    bson_t k;
    uint8_t v[20] = {0};
    if (tree_make("leak.wr", 300, &b, &t, &eb) != WR_OK ||
        wri_extent_alloc(b->em, 512, &off, &eb) != WR_OK)
        _exit(3);
    key_of(7, &k);
    (void)wri_btree_put(t, bson_get_data(&k), k.len, v, sizeof v, NULL, &eb);
    (void)wri_btree_checkpoint(t, &eb);
}

/* A page of the committed tree wrongly freed: after the next commit it is
 * avail, reusable, while the tree still reaches it (I1). The lists on
 * disk say so too, so verify's own ownership rule is what fires. */
static void reuse_then_checkpoint(void)
{
    wr_errbuf eb = {0};
    wri_block *b;
    wri_btree *t;
    if (tree_make("reuse.wr", 2000, &b, &t, &eb) != WR_OK)
        _exit(3);
    /* a live leaf in discard as if freed building this generation: the
     * next commit makes it avail while the tree still holds it */
    wr_addr leaf = leaf_addr(b);
    wri_ext e = {leaf.off, 512, b->cur.gen, WRI_EXT_DISCARD};
    if (wri_extent_insert(b->em, &e, &eb) != WR_OK)
        _exit(3);
    (void)wri_btree_checkpoint(t, &eb); /* no change: only the lists */
}

/* A file of a database damaged behind the writer's back: the commit's
 * verify of the directory fails (C6/M3). */
static void damage_then_commit(void)
{
    wr_errbuf eb = {0};
    char dir[512], cmd[1200];
    wr_db *db;
    wr_coll *a, *z;
    snprintf(dir, sizeof dir, "%s/dbd", tap_tmpdir());
    wr_db_opts o = {.create = true, .page_size = 512};
    if (wr_db_open(dir, &o, &db, &eb) != WR_OK ||
        wr_coll_open(db, "a", true, &a, &eb) != WR_OK ||
        wr_coll_open(db, "z", true, &z, &eb) != WR_OK)
        _exit(3);
    for (int i = 0; i < 50; i++) {
        bson_t d = BSON_INITIALIZER;
        BSON_APPEND_INT32(&d, "_id", i);
        (void)wr_coll_put(a, &d, NULL, &eb);
        (void)wr_coll_put(z, &d, NULL, &eb);
        bson_destroy(&d);
    }
    if (wr_db_checkpoint(db, &eb) != WR_OK)
        _exit(3);
    /* flip a byte in the last page of z's file (not touched again) */
    snprintf(cmd, sizeof cmd,
             "f='%s/z.main.wr'; s=$(stat -c %%s \"$f\"); "
             "printf '\\377' | dd of=\"$f\" bs=1 seek=$((s - 100)) "
             "conv=notrunc status=none",
             dir);
    if (system(cmd) != 0)
        _exit(3);
    bson_t d = BSON_INITIALIZER;
    BSON_APPEND_INT32(&d, "_id", 999);
    (void)wr_coll_put(a, &d, NULL, &eb);
    (void)wr_db_checkpoint(db, &eb);
}

static void test_diag_build_asserts(void)
{
    expect_abort(leak_then_checkpoint, "I6", "leaks 512 bytes");
    expect_abort(reuse_then_checkpoint, "the checkpoint just committed",
                 "overlaps a free (avail or discard) extent");
    expect_abort(damage_then_commit, "C6/M3", "CRC mismatch");
}
#endif

int main(void)
{
    RUN(test_diag_clean_tree_and_database);
    RUN(test_diag_extent_invariants);
    RUN(test_diag_reuse_of_live_pages);
    RUN(test_diag_slots_and_lists);
    RUN(test_diag_tree_nodes);
    RUN(test_diag_packed_values);
    RUN(test_diag_database_commit);
#ifdef WR_DIAG
    RUN(test_diag_build_asserts);
#endif
    return tap_done();
}
