/*
 * test_pagesrc.c -- the page source (lib/pagesrc.h): one reader, strict
 * for the engine and tolerant for the tools, with the same coordinates;
 * sequential runs (few preads for many pages, the same bytes); the scan
 * of every page by offset that salvage builds on.
 */
#include "helper_db.h"
#include "helper_fill.h"
#include "tap.h"

#include "wr_int.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dbdir[512], mainf[600];

/* 3000 documents in 512-byte pages, some with overflow values, built in
 * one session: a bulk-like layout with many pages in a row. */
static int build(void)
{
    wr_errbuf eb = {0};
    wr_db_opts o = {.create = true, .page_size = 512, .holder = "test"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    int rc;
    snprintf(dbdir, sizeof dbdir, "%s/db", tap_tmpdir());
    snprintf(mainf, sizeof mainf, "%s/people.main.wr", dbdir);
    if ((rc = wr_db_open(dbdir, &o, &db, &eb)) != WR_OK ||
        (rc = wr_coll_open(db, "people", true, &c, &eb)) != WR_OK)
        goto out;
    for (int i = 0; i < 3000 && rc == WR_OK; i++) {
        char s[700];
        memset(s, 'a' + i % 26, sizeof s - 1);
        s[i % 50 == 0 ? sizeof s - 1 : 20] = '\0';
        bson_t *d = BCON_NEW("_id", BCON_INT32(i), "s", BCON_UTF8(s));
        rc = wr_coll_put(c, d, NULL, &eb);
        bson_destroy(d);
    }
out:
    return db_build_end(db, rc, "build", &eb);
}

typedef struct scan_count {
    uint64_t pages, ok, bad, bytes, last;
    bool ordered;
} scan_count;

static int count_page(void *arg, uint64_t off, const uint8_t *page,
                      uint32_t size, bool crc_ok)
{
    scan_count *sc = arg;
    (void)page;
    sc->ordered &= off >= sc->last;
    sc->last = off + size;
    sc->pages++;
    if (crc_ok) {
        sc->ok++;
        sc->bytes += size;
    } else {
        sc->bad++;
    }
    return 0;
}

static void test_pagesrc_scan_reads_in_runs(void)
{
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true};
    REQUIRE_OK(wri_ps_open(mainf, &cfg, &ps, &eb), &eb);
    scan_count sc = {.ordered = true};
    uint64_t before = ps->preads;
    REQUIRE_OK(wri_ps_scan(ps, 0, ps->fsize, count_page, &sc, &eb), &eb);
    uint64_t reads = ps->preads - before;
    printf("# scan: %llu pages (%llu intact, %llu bytes) in %llu preads, "
           "file %llu bytes\n",
           (unsigned long long)sc.pages, (unsigned long long)sc.ok,
           (unsigned long long)sc.bytes, (unsigned long long)reads,
           (unsigned long long)ps->fsize);
    CHECK(sc.ordered);
    CHECK(sc.ok > 100);
    CHECK_EQ(sc.bad, 0);
    /* many pages per pread: at least 16 on average */
    CHECK(reads * 16 < sc.pages);
    wri_ps_close(ps);
}

typedef struct walk_count {
    uint64_t pages, items, nleaves, leaves, findings;
    uint32_t crc;         /* over every item's key and value, in order */
    uint64_t leaf[64];    /* the first leaves met, by address */
    char first[1024];     /* the first finding, formatted (walk_sink) */
} walk_count;

static int wc_page(void *arg, const wri_ps_page *p)
{
    walk_count *w = arg;
    w->pages += p->v != NULL && p->trusted;
    w->nleaves += p->v != NULL && p->v->type == WRI_PT_LEAF;
    if (p->v != NULL && p->v->type == WRI_PT_LEAF && w->leaves < 64)
        w->leaf[w->leaves++] = p->addr.off;
    return 0;
}

static int wc_item(void *arg, const wri_ps_page *p, uint32_t i,
                   const wri_cell *c, const uint8_t *val, const wri_vloc *at)
{
    walk_count *w = arg;
    (void)p;
    (void)i;
    (void)at;
    w->items += val != NULL || c->vlen == 0;
    w->crc = wri_crc32(w->crc, c->key, c->klen);
    if (val != NULL)
        w->crc = wri_crc32(w->crc, val, c->vlen);
    return 0;
}

/* A copy of the test file at name in the temporary directory. */
static void copy_to(const char *name, char *out, size_t len)
{
    char cmd[1500];
    snprintf(out, len, "%s/%s", tap_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", mainf, out);
    REQUIRE(system(cmd) == 0);
}

/* A source on path through a mapping: its pages are read into the page
 * cache first (a few tries: memory pressure may evict one in between). */
static wri_ps *open_mapped(const char *path, const wri_ps_cfg *cfg)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cat '%s' > /dev/null", path);
    for (int tries = 0; tries < 5; tries++) {
        wr_errbuf eb = {0};
        wri_ps *ps = NULL;
        if (system(cmd) != 0 || wri_ps_open(path, cfg, &ps, &eb) != WR_OK)
            return NULL;
        if (ps->mapped != NULL)
            return ps;
        wri_ps_close(ps);
    }
    return NULL;
}

/* The same walk without runs, with runs and through a mapping of the
 * file (cfg.map, the file all cached): the same pages and items, no
 * findings, fewer preads with runs and none at all mapped. */
static void test_pagesrc_walk_same_with_runs(void)
{
    uint64_t preads[3] = {0, 0, 0}, items[3] = {0, 0, 0};
    uint64_t pages[3] = {0, 0, 0};
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cat '%s' > /dev/null", mainf);
    REQUIRE(system(cmd) == 0); /* in the page cache, for the mapping */
    for (int ra = 0; ra < 3; ra++) {
        wr_errbuf eb = {0};
        wri_ps *ps = NULL;
        wri_ps_cfg cfg = {.tolerant = true, .readahead = ra >= 1,
                          .map = ra == 2};
        int slot = -1;
        if (ra == 2)
            ps = open_mapped(mainf, &cfg);
        else
            REQUIRE_OK(wri_ps_open(mainf, &cfg, &ps, &eb), &eb);
        REQUIRE(ps != NULL);
        CHECK((ps->mapped != NULL) == (ra == 2));
        uint64_t opened = ps->preads; /* the slots' probes */
        REQUIRE_OK(wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb), &eb);
        REQUIRE_OK(wri_ps_begin(ps, slot, true, &eb), &eb);
        walk_count wc = {0};
        wri_ps_walk w = {.nkeyelem = 1, .keys = true, .map = true,
                         .page = wc_page, .item = wc_item, .arg = &wc};
        wri_ps_lists l = {.slot = slot};
        REQUIRE_OK(wri_ps_walk_lists(ps, &ps->slots[slot].slot, &l, &eb),
                   &eb);
        REQUIRE_OK(wri_ps_walk_tree(ps, &ps->slots[slot].slot, slot, &w, &eb),
                   &eb);
        CHECK(!w.incomplete && !w.values_bad && !l.incomplete);
        CHECK_EQ(wri_ps_leaks(ps, ps->slots[slot].slot.logical_size), 0);
        CHECK_EQ(ps->nfindings, 0);
        CHECK_EQ(w.keys_found, 3000);
        preads[ra] = ps->preads - opened;
        items[ra] = wc.items;
        pages[ra] = wc.pages;
        wri_ps_walk_free(&w);
        wri_ps_close(ps);
    }
    printf("# walk: %llu pages, %llu preads without runs, %llu with, "
           "%llu mapped\n",
           (unsigned long long)pages[0], (unsigned long long)preads[0],
           (unsigned long long)preads[1], (unsigned long long)preads[2]);
    CHECK_EQ(items[0], 3000);
    CHECK_EQ(items[1], items[0]);
    CHECK_EQ(items[2], items[0]);
    CHECK_EQ(pages[1], pages[0]);
    CHECK_EQ(pages[2], pages[0]);
    CHECK(preads[1] < preads[0]);
    CHECK_EQ(preads[2], 0);
}

/* Reads of 4 KiB pages through a read-only source on a plain file: a long
 * stretch of pages in order, one page elsewhere (an internal page), the
 * next stretch (its children): the run's window goes on at its size,
 * not from 8 KiB again; stretches of three pages with jumps between
 * (scattered leaves) keep it small. The bytes are the file's. */
static void test_pagesrc_window_survives_a_detour(void)
{
    char path[700];
    const size_t fsize = 8u << 20, P = 4096;
    uint8_t *file = malloc(fsize), page[4096];
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < fsize; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        file[i] = (uint8_t)x;
    }
    snprintf(path, sizeof path, "%s/plain.bin", dbdir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL && fwrite(file, 1, fsize, f) == fsize);
    fclose(f);
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true, .any_file = true};
    REQUIRE_OK(wri_ps_open(path, &cfg, &ps, &eb), &eb);
    bool same = true;
    uint64_t reads[2];
    /* a stretch of 100 pages, a detour, the next 100 pages: twice */
    for (int round = 0; round < 2; round++) {
        uint64_t start = 2 * P + (uint64_t)round * 101 * P;
        uint64_t before = ps->preads;
        size_t got = 0;
        REQUIRE_OK(wri_ps_read_raw(ps, 6u << 20, page, P, &got, &eb), &eb);
        for (uint64_t off = start; off < start + 100 * P; off += P) {
            REQUIRE_OK(wri_ps_read_raw(ps, off, page, P, &got, &eb), &eb);
            same &= got == P && memcmp(page, file + off, P) == 0;
        }
        reads[round] = ps->preads - before;
    }
    printf("# 100 pages after a detour: %llu preads the first time, %llu "
           "after a long stretch\n",
           (unsigned long long)reads[0], (unsigned long long)reads[1]);
    CHECK(same);
    CHECK(reads[0] >= 6);  /* from 8 KiB: 8, 16, ... 256 KiB */
    CHECK(reads[1] <= 4);  /* the detour, then 256 KiB windows */
    /* scattered: three pages, a jump, three pages... */
    for (uint64_t k = 0; k < 50; k++) {
        uint64_t start = (4u << 20) + k * 13 * P;
        size_t got = 0;
        for (uint64_t off = start; off < start + 3 * P; off += P) {
            REQUIRE_OK(wri_ps_read_raw(ps, off, page, P, &got, &eb), &eb);
            same &= got == P && memcmp(page, file + off, P) == 0;
        }
    }
    CHECK(same);
    CHECK(ps->run_win <= 16384); /* short stretches: small windows */
    /* single pages scattered after a long stretch: the first may be an
     * internal page between runs, the ones after it are not: the next
     * pair reads a small window, not 256 KiB */
    const uint64_t far = 7u << 20, mid = 5u << 20;
    size_t got = 0;
    uint64_t singles[] = {far, far + 20 * P, far + 40 * P};
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t off = mid; off < mid + 100 * P; off += P)
            REQUIRE_OK(wri_ps_read_raw(ps, off, page, P, &got, &eb), &eb);
        CHECK_EQ(ps->run_win, WRI_PS_RUN_MAX);
        if (pass == 0) {
            for (size_t k = 0; k < 3; k++)
                REQUIRE_OK(wri_ps_read_raw(ps, singles[k], page, P, &got,
                                           &eb), &eb);
        } else { /* a page elsewhere, one the run still holds (before
                    where that stretch began), one elsewhere again */
            REQUIRE_OK(wri_ps_read_raw(ps, far + 80 * P, page, P, &got,
                                       &eb), &eb);
            uint64_t before = ps->preads;
            REQUIRE_OK(wri_ps_read_raw(ps, mid + 99 * P, page, P, &got,
                                       &eb), &eb);
            CHECK_EQ(ps->preads, before); /* from the run */
            same &= memcmp(page, file + mid + 99 * P, P) == 0;
            REQUIRE_OK(wri_ps_read_raw(ps, 3u << 20, page, P, &got, &eb),
                       &eb);
        }
        uint64_t pair = (3u << 20) + 20 * P;
        REQUIRE_OK(wri_ps_read_raw(ps, pair, page, P, &got, &eb), &eb);
        REQUIRE_OK(wri_ps_read_raw(ps, pair + P, page, P, &got, &eb), &eb);
        same &= memcmp(page, file + pair + P, P) == 0;
        CHECK(ps->run_win <= 16384);
    }
    CHECK(same);
    wri_ps_close(ps);
    unlink(path);
    free(file);
}

/* The leaf level as a bulk build lays it out: each internal page right
 * after the hundred leaves it points to, read before them (the walk
 * reads the parent, then its children, whose first ones the run read
 * for the group before may still hold). Each internal page interrupts a
 * long stretch: the window stays at its size, a few preads a group; the
 * window counted from where the stretch began (the internal page, after
 * its leaves) went back to 8 KiB at every group: 7,302 preads instead
 * of 3,053 for the 1M-document bench database. */
static void test_pagesrc_window_survives_parents_after_leaves(void)
{
    char path[700];
    const size_t P = 4096, group = 101 * P, ngroups = 12;
    const size_t fsize = 2 * P + ngroups * group;
    uint8_t *file = malloc(fsize), page[4096];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < fsize; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        file[i] = (uint8_t)x;
    }
    snprintf(path, sizeof path, "%s/layout.bin", dbdir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL && fwrite(file, 1, fsize, f) == fsize);
    fclose(f);
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true, .any_file = true};
    REQUIRE_OK(wri_ps_open(path, &cfg, &ps, &eb), &eb);
    bool same = true;
    uint64_t before = 0;
    for (size_t g = 0; g < ngroups; g++) {
        uint64_t leaves = 2 * P + g * group, parent = leaves + 100 * P;
        size_t got = 0;
        if (g == 2)
            before = ps->preads; /* the window has grown by now */
        REQUIRE_OK(wri_ps_read_raw(ps, parent, page, P, &got, &eb), &eb);
        same &= got == P && memcmp(page, file + parent, P) == 0;
        for (uint64_t off = leaves; off < parent; off += P) {
            REQUIRE_OK(wri_ps_read_raw(ps, off, page, P, &got, &eb), &eb);
            same &= got == P && memcmp(page, file + off, P) == 0;
        }
    }
    uint64_t n = ps->preads - before;
    printf("# %zu groups of 100 leaves after their parent: %llu preads\n",
           ngroups - 2, (unsigned long long)n);
    CHECK(same);
    /* a group: its parent, then about two 256 KiB runs (6+ from 8 KiB) */
    CHECK(n <= (ngroups - 2) * 4);
    wri_ps_close(ps);
    unlink(path);
    free(file);
}

static void sink(const wr_finding *f, void *arg)
{
    wr_finding *first = arg;
    if (first->detail[0] == '\0')
        *first = *f;
}

/* A damaged page: the tolerant source reports a finding and goes on; the
 * strict one refuses with the same file, page, byte and check in its
 * message. */
static void test_pagesrc_strict_and_tolerant_agree(void)
{
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    wr_finding first;
    memset(&first, 0, sizeof first);
    wri_ps_cfg cfg = {.tolerant = true, .sink = sink, .sink_arg = &first};
    int slot = -1;
    char copy[700];
    snprintf(copy, sizeof copy, "%s/copy.wr", tap_tmpdir());
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", mainf, copy);
    REQUIRE(system(cmd) == 0);
    REQUIRE_OK(wri_ps_open(copy, &cfg, &ps, &eb), &eb);
    REQUIRE_OK(wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb), &eb);
    wr_addr root = ps->slots[slot].slot.root;
    wri_ps_close(ps);
    ps = NULL;
    FILE *f = fopen(copy, "r+b");
    REQUIRE(f != NULL);
    fseek(f, (long)root.off + 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, (long)root.off + 100, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
    uint8_t buf[512];
    REQUIRE_OK(wri_ps_open(copy, &cfg, &ps, &eb), &eb);
    CHECK_EQ(wri_ps_read(ps, &root, buf, "tree page", NULL, &eb), WRI_PS_BAD);
    CHECK_EQ(first.check, WR_CHECK_CHECKSUM);
    CHECK_EQ(first.page, root.off);
    CHECK_EQ(first.offset, root.off);
    char line[1024], mline[1024];
    wr_verify_problem_format(&first, line, sizeof line);
    wri_ps_close(ps);
    /* read through a mapping: the same finding */
    wri_ps_cfg mcfg = cfg;
    mcfg.readahead = mcfg.map = true;
    memset(&first, 0, sizeof first);
    REQUIRE((ps = open_mapped(copy, &mcfg)) != NULL);
    CHECK_EQ(wri_ps_read(ps, &root, buf, "tree page", NULL, &eb), WRI_PS_BAD);
    wr_verify_problem_format(&first, mline, sizeof mline);
    CHECK(strcmp(mline, line) == 0);
    wri_ps_close(ps);
    wri_ps_cfg strict = {0};
    REQUIRE_OK(wri_ps_open(copy, &strict, &ps, &eb), &eb);
    CHECK_EQ(wri_ps_read(ps, &root, buf, "tree page", NULL, &eb),
             WR_ECORRUPT);
    CHECK(strcmp(eb.msg, line) == 0);
    wri_ps_close(ps);
    /* the engine, through block.c, says the same */
    wri_block *b = NULL;
    wr_errbuf e2 = {0};
    REQUIRE_OK(wri_block_open(copy, WRI_BLOCK_RDONLY, &b, &e2), &e2);
    wri_page_view v;
    CHECK_EQ(wri_block_read_node(b, &root, (int)b->cur.height - 1, 1, buf, &v,
                                 &e2),
             WR_ECORRUPT);
    CHECK(strstr(e2.msg, ": checksum: ") != NULL);
    wri_block_close(b);
}

/* --- batches of reads ahead (cfg.batch, compact's original) ----------- */

static void bw_sink(const wr_finding *f, void *arg)
{
    walk_count *w = arg;
    if (w->findings++ == 0)
        wr_verify_problem_format(f, w->first, sizeof w->first);
}

/* One tolerant walk of path's latest checkpoint, with or without batches;
 * *ps_out (may be NULL) gets the source, still open, for its counters. */
static void bw_walk(const char *path, bool batch, walk_count *bw,
                    wri_ps **ps_out)
{
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true, .batch = batch,
                      .sink = bw_sink, .sink_arg = bw};
    int slot = -1;
    memset(bw, 0, sizeof *bw);
    REQUIRE_OK(wri_ps_open(path, &cfg, &ps, &eb), &eb);
    REQUIRE_OK(wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb), &eb);
    REQUIRE_OK(wri_ps_begin(ps, slot, true, &eb), &eb);
    wri_ps_walk w = {.nkeyelem = 1, .keys = true, .map = true,
                     .inplace = true, .page = wc_page, .item = wc_item,
                     .arg = bw};
    CHECK(wri_ps_walk_tree(ps, &ps->slots[slot].slot, slot, &w, &eb) >= 0);
    wri_ps_walk_free(&w);
    if (ps_out != NULL)
        *ps_out = ps;
    else
        wri_ps_close(ps);
}

/* The leaves of each page of level 1 read ahead in batches: the same
 * pages, the same items with the same bytes, no findings, every leaf
 * taken from a batch and many leaves a batch; without io_uring
 * (WR_IO_BATCH=0, or a kernel that has none) the source reads as before,
 * the same again. */
static void test_pagesrc_batch_walk_same(void)
{
    walk_count plain, batched, off;
    wri_ps *ps = NULL;
    bw_walk(mainf, false, &plain, NULL);
    bw_walk(mainf, true, &batched, &ps);
    REQUIRE(ps != NULL);
    bool ring = ps->ring != NULL;
    uint64_t batches = ps->batches, from_batch = ps->pf_taken;
    wri_ps_close(ps);
    CHECK_EQ(plain.items, 3000);
    CHECK_EQ(plain.findings, 0);
    CHECK_EQ(batched.findings, 0);
    CHECK_EQ(batched.items, plain.items);
    CHECK_EQ(batched.pages, plain.pages);
    CHECK_EQ(batched.crc, plain.crc);
    setenv("WR_IO_BATCH", "0", 1);
    bw_walk(mainf, true, &off, &ps);
    unsetenv("WR_IO_BATCH");
    REQUIRE(ps != NULL);
    CHECK(ps->ring == NULL);
    CHECK_EQ(ps->batches, 0);
    wri_ps_close(ps);
    CHECK_EQ(off.items, plain.items);
    CHECK_EQ(off.crc, plain.crc);
    if (!ring) {
        TAP_SKIP("no io_uring on this kernel: no batches to count");
        return;
    }
    printf("# batch walk: %llu pages, %llu leaves, %llu of them read in "
           "%llu batches\n",
           (unsigned long long)batched.pages,
           (unsigned long long)batched.nleaves,
           (unsigned long long)from_batch, (unsigned long long)batches);
    CHECK_EQ(from_batch, batched.nleaves);
    CHECK(batches > 0 && batches * 4 < batched.nleaves);
}

/* A damaged leaf read from a batch is the same finding, with the same
 * file, page, byte and check, as read alone; the walk goes on past it
 * the same way. */
static void test_pagesrc_batch_damaged_leaf_same_finding(void)
{
    walk_count plain, batched;
    char copy[700];
    copy_to("batch-damaged.wr", copy, sizeof copy);
    bw_walk(copy, false, &plain, NULL);
    REQUIRE(plain.leaves > 10);
    uint64_t victim = plain.leaf[plain.leaves / 2];
    FILE *f = fopen(copy, "r+b");
    REQUIRE(f != NULL);
    fseek(f, (long)victim + 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, (long)victim + 100, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
    bw_walk(copy, false, &plain, NULL);
    bw_walk(copy, true, &batched, NULL);
    CHECK(plain.findings > 0);
    CHECK(strstr(plain.first, "CRC mismatch") != NULL);
    CHECK_EQ(batched.findings, plain.findings);
    CHECK(strcmp(batched.first, plain.first) == 0);
    CHECK_EQ(batched.items, plain.items);
    CHECK_EQ(batched.crc, plain.crc);
    CHECK(plain.items < 3000);
}

/* A source on path that reads in batches, its findings to bw; *out NULL
 * (failed, or skipped) where it could not be made or has no ring (no
 * io_uring on this kernel). */
static void batch_open(const char *path, walk_count *bw, wri_ps **out)
{
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true, .batch = true,
                      .sink = bw_sink, .sink_arg = bw};
    *out = NULL;
    REQUIRE_OK(wri_ps_open(path, &cfg, &ps, &eb), &eb);
    if (ps->ring == NULL) {
        TAP_SKIP("no io_uring on this kernel: no batches");
        wri_ps_close(ps);
        return;
    }
    *out = ps;
}

/* A page taken from a batch lies where the walk checks it (inplace), and
 * like every buffer a source that is not mapped hands out it has
 * WRI_BSON_PAD bytes after it that the document check may load
 * (pagesrc.h, wri_ps_walk.item): also the last page of a batch that
 * fills the whole read-ahead buffer. */
static void test_pagesrc_batch_page_has_pad(void)
{
    char copy[700];
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    walk_count bw = {0};
    copy_to("batch-pad.wr", copy, sizeof copy);
    /* room for one batch of WRI_PS_PF_BYTES, whatever the bytes */
    REQUIRE(truncate(copy, 4 * WRI_PS_PF_BYTES) == 0);
    batch_open(copy, &bw, &ps);
    if (ps == NULL) {
        unlink(copy);
        return;
    }
    uint32_t sz = WRI_PS_PF_BYTES / WRI_PS_PF_MAX;
    wr_addr a[WRI_PS_PF_MAX];
    for (unsigned i = 0; i < WRI_PS_PF_MAX; i++)
        a[i] = (wr_addr){.off = 2 * (uint64_t)ps->P + (uint64_t)i * sz,
                         .size = sz};
    CHECK_EQ(wri_ps_prefetch(ps, a, WRI_PS_PF_MAX), WRI_PS_PF_MAX);
    CHECK_EQ(ps->pf_n, WRI_PS_PF_MAX);
    uint8_t *room = malloc(sz);
    REQUIRE(room != NULL);
    const uint8_t *page = NULL;
    wri_page_view v;
    bool raw_ok = false;
    wri_ps_tree_read tr = {.level = 0, .buf = room, .inplace = true};
    for (unsigned i = 0; i < WRI_PS_PF_MAX; i++)
        (void)wri_ps_view_tree_page(ps, &a[i], &tr, &page, &v, &raw_ok, NULL,
                                    &eb); /* not pages: CRC findings */
    CHECK(raw_ok && page != room);
    CHECK_EQ(ps->pf_taken, WRI_PS_PF_MAX);
    unsigned pad = 0;
    for (size_t k = 0; k < WRI_BSON_PAD; k++)
        pad |= page[sz + k];
    CHECK_EQ(pad, 0);
    free(room);
    wri_ps_close(ps);
    unlink(copy);
}

/* The file shrinks under a walk that reads in batches, between a page of
 * level 1 and the batch of its leaves (a writer that does not take the
 * lock): the batch's reads come back short, the leaves are read again
 * the usual way, and the walk ends with the one verdict on a file that
 * shrank (wri_ps_intact: WR_EIO), no "truncated" finding. */
typedef struct shrink_walk {
    const char *path;
    uint64_t size;
    bool done;
} shrink_walk;

static int sw_page(void *arg, const wri_ps_page *p)
{
    shrink_walk *sw = arg;
    if (!sw->done && p->v != NULL && p->v->type == WRI_PT_INTERNAL &&
        p->v->level == 1) {
        sw->done = true;
        if (truncate(sw->path, (off_t)sw->size) != 0)
            return -1;
    }
    return 0;
}

static void test_pagesrc_batch_shrunk_is_env_error(void)
{
    char copy[700];
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    walk_count bw = {0};
    int slot = -1;
    copy_to("shrunk-batch.wr", copy, sizeof copy);
    batch_open(copy, &bw, &ps);
    if (ps == NULL) {
        unlink(copy);
        return;
    }
    REQUIRE_OK(wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb), &eb);
    REQUIRE_OK(wri_ps_begin(ps, slot, true, &eb), &eb);
    shrink_walk sw = {.path = copy, .size = 2 * (uint64_t)ps->P};
    wri_ps_walk w = {.nkeyelem = 1, .keys = true, .map = true,
                     .inplace = true, .page = sw_page, .arg = &sw};
    int rc = wri_ps_walk_tree(ps, &ps->slots[slot].slot, slot, &w, &eb);
    printf("# %s\n", eb.msg);
    CHECK(sw.done);
    CHECK_EQ(ps->batches, 1);
    CHECK_EQ(ps->pf_taken, 0);
    CHECK_EQ(rc, WR_EIO);
    CHECK_EQ(bw.findings, 0);
    CHECK_EQ(ps->nfindings, 0);
    CHECK(strstr(eb.msg, "changed or shrank while it was read") != NULL);
    wri_ps_walk_free(&w);
    wri_ps_close(ps);
    unlink(copy);
}

/* A walk's twin (wri_ps_twin, verify's split) shares the file, its slots
 * and checkpoint, and nothing a reader keeps for itself: the twin of a
 * source that has read in batches has no ring, no pages read ahead, no
 * run, an empty map of its own, counters at zero, its own sink and halt;
 * a mapped source has none (and nothing is left allocated: ASan). */
static void test_pagesrc_twin_shares_only_the_file(void)
{
    walk_count bw;
    wri_ps *ps = NULL, *tw = NULL;
    wr_errbuf eb = {0};
    bw_walk(mainf, true, &bw, &ps);
    REQUIRE(ps != NULL);
    if (ps->ring != NULL)
        CHECK(ps->batches > 0 && ps->pf_taken > 0 && ps->pf_n > 0);
    REQUIRE_OK(wri_ps_twin(ps, &tw, &eb), &eb);
    CHECK(tw->f == ps->f && !tw->own_file);
    CHECK(tw->fsize == ps->fsize && tw->P == ps->P && tw->gen == ps->gen);
    CHECK(memcmp(tw->slots, ps->slots, sizeof tw->slots) == 0);
    CHECK(strcmp(tw->path, ps->path) == 0 && tw->path != ps->path);
    CHECK(tw->ring == NULL && tw->pf_buf == NULL && tw->pf_n == 0 &&
          tw->pf_next == 0);
    CHECK(tw->batches == 0 && tw->pf_taken == 0 && tw->preads == 0 &&
          tw->nfindings == 0);
    CHECK(tw->run == NULL && tw->run_len == 0 && tw->seq_next == 0);
    CHECK(tw->mapped == NULL && tw->guard == NULL);
    CHECK(tw->map != NULL && tw->map != ps->map && tw->nblocks == ps->nblocks);
    CHECK(tw->halt == &tw->halt_flag && ps->halt == NULL);
    CHECK(tw->cfg.sink != ps->cfg.sink && tw->cfg.sink_arg == tw->halt);
    wri_ps_close(tw);
    wri_ps_close(ps);

    wri_ps_cfg cfg = {.tolerant = true, .readahead = true, .map = true};
    ps = open_mapped(mainf, &cfg);
    if (ps == NULL) {
        TAP_SKIP("the file would not stay cached: no mapped source");
        return;
    }
    tw = (wri_ps *)1;
    CHECK_EQ(wri_ps_twin(ps, &tw, &eb), WR_EINVAL);
    CHECK(tw == NULL);
    wri_ps_close(ps);
}

/* The engine reads tree pages through the page source's one tree-page
 * read (size, CRC, structure, level), not a second copy of those checks:
 * a root page whose level field was changed (its CRC and the slot's
 * address fixed, so only the level is wrong) is refused by the engine
 * with the very line the tolerant walk reports. */
static void test_pagesrc_engine_reads_nodes_through_it(void)
{
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    int slot = -1;
    char copy[700], cmd[1500];
    snprintf(copy, sizeof copy, "%s/level.wr", tap_tmpdir());
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", mainf, copy);
    REQUIRE(system(cmd) == 0);
    REQUIRE_OK(wri_ps_open(copy, NULL, &ps, &eb), &eb);
    REQUIRE_OK(wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb), &eb);
    wri_slot s = ps->slots[slot].slot;
    wri_ps_close(ps);
    REQUIRE(s.height >= 2);
    uint8_t page[512], sb[WRI_SLOT_LEN];
    FILE *f = fopen(copy, "r+b");
    REQUIRE(f != NULL);
    REQUIRE(fseek(f, (long)s.root.off, SEEK_SET) == 0 &&
            fread(page, 1, sizeof page, f) == sizeof page);
    wri_put16(page + WRI_PH_LEVEL, (uint16_t)(s.height + 1));
    wri_put32(page + WRI_PH_CRC, wri_page_crc(page, sizeof page));
    s.root.crc = wri_get32(page + WRI_PH_CRC);
    wri_slot_encode(&s, sb);
    REQUIRE(fseek(f, (long)s.root.off, SEEK_SET) == 0 &&
            fwrite(page, 1, sizeof page, f) == sizeof page &&
            fseek(f, (long)slot * 512, SEEK_SET) == 0 &&
            fwrite(sb, 1, sizeof sb, f) == sizeof sb);
    fclose(f);
    /* the tolerant walk (wr-verify's) */
    wr_finding first;
    memset(&first, 0, sizeof first);
    wri_ps_cfg cfg = {.tolerant = true, .sink = sink, .sink_arg = &first};
    REQUIRE_OK(wri_ps_open(copy, &cfg, &ps, &eb), &eb);
    wri_ps_walk w = {.nkeyelem = 1};
    CHECK_EQ(wri_ps_walk_tree(ps, &s, slot, &w, &eb), WR_OK);
    wri_ps_walk_free(&w);
    CHECK_EQ(first.check, WR_CHECK_PAGE);
    CHECK_EQ(first.offset, s.root.off + WRI_PH_LEVEL);
    char line[1024];
    wr_verify_problem_format(&first, line, sizeof line);
    wri_ps_close(ps);
    /* the engine */
    wri_block *b = NULL;
    wri_btree *t = NULL;
    wri_cursor *c = NULL;
    REQUIRE_OK(wri_block_open(copy, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    REQUIRE_OK(wri_btree_open(b, 1, &t, &eb), &eb);
    REQUIRE_OK(wri_cursor_open(t, &c, &eb), &eb);
    CHECK_EQ(wri_cursor_first(c, &eb), WR_ECORRUPT);
    if (strcmp(eb.msg, line) != 0)
        TAP_FAIL("engine: %s\n#   walk:   %s", eb.msg, line);
    wri_cursor_close(c);
    wri_btree_close(t);
    wri_block_close(b);
}

/* --- long leaves (format 2) ------------------------------------------- */

typedef struct long_walk {
    uint64_t leaves, long_leaves;
    wr_finding first;
    uint64_t findings;
} long_walk;

static int lw_page(void *arg, const wri_ps_page *p)
{
    long_walk *lw = arg;
    if (p->v != NULL && p->v->type == WRI_PT_LEAF) {
        lw->leaves++;
        lw->long_leaves += p->addr.size > 512;
    }
    return 0;
}

static void lw_sink(const wr_finding *f, void *arg)
{
    long_walk *lw = arg;
    if (lw->findings++ == 0)
        lw->first = *f;
}

static void lw_walk(const char *path, long_walk *lw)
{
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    wri_ps_cfg cfg = {.tolerant = true, .sink = lw_sink, .sink_arg = lw};
    int slot = -1;
    memset(lw, 0, sizeof *lw);
    REQUIRE_OK(wri_ps_open(path, &cfg, &ps, &eb), &eb);
    REQUIRE_OK(wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb), &eb);
    REQUIRE_OK(wri_ps_begin(ps, slot, true, &eb), &eb);
    wri_ps_walk w = {.nkeyelem = 1, .keys = true, .map = true,
                     .page = lw_page, .arg = lw};
    REQUIRE_OK(wri_ps_walk_tree(ps, &ps->slots[slot].slot, slot, &w, &eb),
               &eb);
    wri_ps_walk_free(&w);
    wri_ps_close(ps);
}

/* A bulk-built file of 512-byte blocks holds long leaves and says format
 * 2; the same bytes under a slot that says format 1 are damage: a leaf
 * longer than a block is allowed only by version 2. */
static void test_pagesrc_long_leaves_only_in_format_2(void)
{
    wr_errbuf eb = {0};
    char path[700];
    wri_block_cfg bc = {.page_size = 512, .role = WRI_ROLE_MAIN,
                        .coll = "t"};
    wri_block *b = NULL;
    wri_bulk *bk = NULL;
    snprintf(path, sizeof path, "%s/long.wr", tap_tmpdir());
    REQUIRE_OK(wri_block_create(path, &bc, &b, &eb), &eb);
    REQUIRE_OK(wri_bulk_open(b, 100, &bk, &eb), &eb);
    for (int i = 0; i < 3000; i++) {
        bson_t *k = BCON_NEW("", BCON_INT32(i));
        bson_t *d = BCON_NEW("_id", BCON_INT32(i), "s", BCON_UTF8("x"));
        REQUIRE_OK(wri_bulk_add(bk, bson_get_data(k), k->len,
                                bson_get_data(d), d->len, &eb),
                   &eb);
        bson_destroy(k);
        bson_destroy(d);
    }
    REQUIRE_OK(wri_bulk_finish(bk, &eb), &eb);
    wri_bulk_free(bk);
    wri_block_close(b);
    long_walk lw;
    lw_walk(path, &lw);
    CHECK_EQ(lw.findings, 0);
    CHECK(lw.long_leaves > 1);
    /* slot 1 (the bulk build's) rewritten to say format 1 */
    CHECK(fill_set_version(path, WRI_VERSION_1) >= 1);
    lw_walk(path, &lw);
    CHECK(lw.findings > 0);
    CHECK_EQ(lw.first.check, WR_CHECK_PAGE);
    CHECK(strstr(lw.first.detail, "is not 512 bytes long") != NULL);
    CHECK_EQ(lw.long_leaves, 0); /* not followed */
    /* the engine refuses it too */
    wri_btree *t = NULL;
    wri_cursor *c = NULL;
    REQUIRE_OK(wri_block_open(path, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    REQUIRE_OK(wri_btree_open(b, 1, &t, &eb), &eb);
    REQUIRE_OK(wri_cursor_open(t, &c, &eb), &eb);
    CHECK_EQ(wri_cursor_first(c, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "is not 512 bytes long") != NULL);
    wri_cursor_close(c);
    wri_btree_close(t);
    wri_block_close(b);
}

static int nsunk;
static void count_sink(const wr_finding *f, void *arg)
{
    (void)f;
    (void)arg;
    nsunk++;
}

/* The file shrinks while a source reads it (a writer that does not take
 * the lock), through its mapping or by pread (a cold file, or a source
 * not mapped: verify's): either way the walk ends with WR_EIO naming the
 * file, the offset and the reason, no finding is reported from what was
 * read (zeros, or a short read: no "truncated" damage), and no signal
 * ends the process (run in a child, so a SIGBUS is a failed check, not a
 * dead test). */
static void pagesrc_shrunk_is_env_error(bool mapped)
{
    char copy[700];
    copy_to(mapped ? "shrunk-map.wr" : "shrunk-pread.wr", copy, sizeof copy);
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        wr_errbuf eb = {0};
        wri_ps_cfg cfg = {.tolerant = true, .readahead = true,
                          .map = mapped, .sink = count_sink};
        wri_ps *ps = NULL;
        int slot = -1;
        if (mapped)
            ps = open_mapped(copy, &cfg);
        else if (wri_ps_open(copy, &cfg, &ps, &eb) != WR_OK)
            ps = NULL;
        if (ps == NULL || (ps->mapped != NULL) != mapped)
            _exit(10);
        if (wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb) != WR_OK ||
            wri_ps_begin(ps, slot, true, &eb) != WR_OK)
            _exit(11);
        if (truncate(copy, 4096) != 0)
            _exit(12);
        walk_count wc = {0};
        wri_ps_walk w = {.nkeyelem = 1, .keys = true, .map = true,
                         .page = wc_page, .item = wc_item, .arg = &wc};
        int rc = wri_ps_walk_tree(ps, &ps->slots[slot].slot, slot, &w, &eb);
        printf("# %s\n", eb.msg);
        bool ok = rc == WR_EIO && nsunk == 0 && ps->nfindings == 0 &&
                  strstr(eb.msg, copy) != NULL &&
                  strstr(eb.msg, "changed or shrank while it was read") &&
                  strstr(eb.msg, "at offset ") != NULL;
        /* every later read says so too, before it reads (also one the
         * shrunk file still holds) */
        uint8_t buf[512];
        size_t got = 0;
        ok &= wri_ps_read_raw(ps, 0, buf, sizeof buf, &got, &eb) == WR_EIO;
        wri_ps_walk_free(&w);
        wri_ps_close(ps);
        fflush(stdout);
        _exit(ok ? 0 : 13);
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(!WIFSIGNALED(st));
    if (WIFSIGNALED(st))
        printf("# the child died of signal %d\n", WTERMSIG(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    unlink(copy);
}

static void test_pagesrc_map_shrunk_is_env_error(void)
{
    pagesrc_shrunk_is_env_error(true);
}

static void test_pagesrc_pread_shrunk_is_env_error(void)
{
    pagesrc_shrunk_is_env_error(false);
}

static int bus_seen;
static void bus_counter(int sig)
{
    (void)sig;
    bus_seen++;
}

/* The guard's SIGBUS handler is there only while a mapping is, and a
 * SIGBUS that is no fault in a mapping goes to the handler before it. */
static void test_pagesrc_map_guard_chains(void)
{
    struct sigaction mine, now;
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = bus_counter;
    sigemptyset(&mine.sa_mask);
    REQUIRE(sigaction(SIGBUS, &mine, NULL) == 0);
    char copy[700];
    copy_to("chain.wr", copy, sizeof copy);
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true, .map = true};
    wri_ps *ps = open_mapped(copy, &cfg);
    REQUIRE(ps != NULL);
    REQUIRE(sigaction(SIGBUS, NULL, &now) == 0);
    CHECK(now.sa_handler != bus_counter);
    raise(SIGBUS);
    CHECK_EQ(bus_seen, 1);
    wr_errbuf eb = {0};
    CHECK_EQ(wri_ps_intact(ps, &eb), WR_OK);
    wri_ps_close(ps);
    REQUIRE(sigaction(SIGBUS, NULL, &now) == 0);
    CHECK(now.sa_handler == bus_counter);
    signal(SIGBUS, SIG_DFL);
    unlink(copy);
}

/* A file not all in the page cache is read by pread, not mapped (a cold
 * file's faults are slow and a disk error would end them), and reads the
 * same. */
static void test_pagesrc_map_cold_file_preads(void)
{
    char copy[700];
    copy_to("cold.wr", copy, sizeof copy);
    int fd = open(copy, O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(fsync(fd) == 0); /* clean pages: the kernel may drop them */
    close(fd);
    wri_io_forget(copy);
    wr_errbuf eb = {0};
    wri_ps *ps = NULL;
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true, .map = true};
    REQUIRE_OK(wri_ps_open(copy, &cfg, &ps, &eb), &eb);
    CHECK(ps->mapped == NULL);
    int slot = -1;
    REQUIRE_OK(wri_ps_choose(ps, WRI_PS_LATEST, 0, &slot, &eb), &eb);
    REQUIRE_OK(wri_ps_begin(ps, slot, true, &eb), &eb);
    walk_count wc = {0};
    wri_ps_walk w = {.nkeyelem = 1, .keys = true, .map = true,
                     .page = wc_page, .item = wc_item, .arg = &wc};
    REQUIRE_OK(wri_ps_walk_tree(ps, &ps->slots[slot].slot, slot, &w, &eb),
               &eb);
    CHECK_EQ(wc.items, 3000);
    CHECK(ps->preads > 0 && ps->nfindings == 0);
    wri_ps_walk_free(&w);
    wri_ps_close(ps);
    unlink(copy);
}

/* mincore tells a process that neither owns nor may write the file that
 * every page is cached: such a reader is never mapped, it preads (run as
 * root: a child that becomes nobody reads root's 0644 file, cached). */
static void test_pagesrc_map_not_for_non_owners(void)
{
    if (geteuid() != 0) {
        TAP_SKIP("needs root, to read as another user");
        return;
    }
    char copy[700];
    copy_to("others.wr", copy, sizeof copy);
    REQUIRE(chmod(copy, 0644) == 0 && chmod(tap_tmpdir(), 0755) == 0);
    wri_ps_cfg cfg = {.tolerant = true, .readahead = true, .map = true};
    wri_ps *ps = open_mapped(copy, &cfg); /* root may map it */
    CHECK(ps != NULL);
    wri_ps_close(ps);
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        wr_errbuf eb = {0};
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(10);
        ps = NULL;
        if (wri_ps_open(copy, &cfg, &ps, &eb) != WR_OK)
            _exit(11);
        bool ok = ps->mapped == NULL;
        wri_ps_close(ps);
        _exit(ok ? 0 : 12);
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    unlink(copy);
}

int main(void)
{
    if (build() != WR_OK)
        return 1;
    RUN(test_pagesrc_scan_reads_in_runs);
    RUN(test_pagesrc_walk_same_with_runs);
    RUN(test_pagesrc_window_survives_a_detour);
    RUN(test_pagesrc_window_survives_parents_after_leaves);
    RUN(test_pagesrc_strict_and_tolerant_agree);
    RUN(test_pagesrc_engine_reads_nodes_through_it);
    RUN(test_pagesrc_long_leaves_only_in_format_2);
    RUN(test_pagesrc_map_shrunk_is_env_error);
    RUN(test_pagesrc_pread_shrunk_is_env_error);
    RUN(test_pagesrc_map_guard_chains);
    RUN(test_pagesrc_map_cold_file_preads);
    RUN(test_pagesrc_map_not_for_non_owners);
    RUN(test_pagesrc_batch_walk_same);
    RUN(test_pagesrc_batch_damaged_leaf_same_finding);
    RUN(test_pagesrc_batch_page_has_pad);
    RUN(test_pagesrc_twin_shares_only_the_file);
    RUN(test_pagesrc_batch_shrunk_is_env_error);
    return tap_done();
}
