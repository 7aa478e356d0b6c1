/*
 * test_block.c -- tree files: create/open, slot choice, page checksums,
 * persisted extent lists, checkpoints under crashes and I/O errors, and a
 * randomized run with full space accounting. Invariants I1..I11 are the
 * ones numbered at the top of lib/block.c.
 *
 * The tests keep their own "tree": data pages whose bytes derive from an
 * id, and a root page listing every live data page's address and id, so
 * any checkpoint on disk can be walked and checked without the B+tree.
 */
#include "wr_int.h"
#include "helper_page.h"
#include "tap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXPG 4096

typedef struct tpage {
    wr_addr a;
    uint32_t id;
} tpage;

typedef struct model {
    tpage p[MAXPG];
    int n;
    wr_addr root;
} model;

static char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *tpath(const char *fmt, ...)
{
    static char buf[8][512];
    static int k;
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tap_tmpdir(), name);
    return p;
}

/* --- pages of the test tree -------------------------------------------- */

static void fill_page(uint8_t *buf, uint32_t size, uint32_t id, uint64_t gen)
{
    memset(buf, 0, WRI_PH_LEN);
    buf[WRI_PH_TYPE] = WRI_PT_LEAF;
    wri_put32(buf + WRI_PH_SIZE, size);
    wri_put64(buf + WRI_PH_GEN, gen);
    wri_put64(buf + WRI_PH_AUX, id);
    for (uint32_t i = WRI_PH_LEN; i < size; i++)
        buf[i] = (uint8_t)(id * 31u + i * 7u);
}

static int page_ok(const uint8_t *buf, uint32_t size, uint32_t id)
{
    if (buf[WRI_PH_TYPE] != WRI_PT_LEAF || wri_get64(buf + WRI_PH_AUX) != id)
        return 0;
    for (uint32_t i = WRI_PH_LEN; i < size; i++)
        if (buf[i] != (uint8_t)(id * 31u + i * 7u))
            return 0;
    return 1;
}

static int write_data(wri_block *b, model *m, uint32_t id, uint32_t blocks,
                      wr_errbuf *eb)
{
    uint32_t size = blocks * b->page_size;
    uint8_t *buf = malloc(size);
    wr_addr a;
    if (buf == NULL)
        return WR_ENOMEM;
    fill_page(buf, size, id, b->building);
    int rc = wri_block_write_page(b, buf, size, &a, eb);
    free(buf);
    if (rc == WR_OK)
        m->p[m->n++] = (tpage){a, id};
    return rc;
}

static int free_data(wri_block *b, model *m, int i, wr_errbuf *eb)
{
    int rc = wri_block_free_page(b, &m->p[i].a, eb);
    if (rc == WR_OK) {
        memmove(&m->p[i], &m->p[i + 1], (size_t)(m->n - i - 1) * sizeof m->p[0]);
        m->n--;
    }
    return rc;
}

/* Rewrite the root (a page listing every data page) and checkpoint. */
static int commit(wri_block *b, model *m, wr_errbuf *eb)
{
    int rc;
    uint32_t P = b->page_size;
    uint32_t need = WRI_PH_LEN + 20u * (uint32_t)m->n;
    uint32_t size = (need + P - 1) / P * P;
    if (m->root.off != 0) {
        if ((rc = wri_block_free_page(b, &m->root, eb)) != WR_OK)
            return rc;
        m->root = (wr_addr){0};
    }
    uint8_t *buf = calloc(1, size);
    if (buf == NULL)
        return WR_ENOMEM;
    buf[WRI_PH_TYPE] = WRI_PT_INTERNAL;
    wri_put32(buf + WRI_PH_COUNT, (uint32_t)m->n);
    wri_put32(buf + WRI_PH_SIZE, size);
    wri_put64(buf + WRI_PH_GEN, b->building);
    for (int i = 0; i < m->n; i++) {
        wri_addr_encode(buf + WRI_PH_LEN + 20 * i, &m->p[i].a);
        wri_put32(buf + WRI_PH_LEN + 20 * i + 16, m->p[i].id);
    }
    rc = wri_block_write_page(b, buf, size, &m->root, eb);
    free(buf);
    if (rc != WR_OK)
        return rc;
    return wri_block_checkpoint(b, &m->root, (uint64_t)m->n, 1, eb);
}

/* --- checking a checkpoint on disk -------------------------------------- */

typedef struct vstate {
    uint8_t *map;
    uint64_t nblocks, P;
    int bad;
} vstate;

static void vnote(vstate *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void vnote(vstate *v, const char *fmt, ...)
{
    if (v->bad++ < 5) {
        va_list ap;
        va_start(ap, fmt);
        printf("#   ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}

static void vmark(vstate *v, uint64_t off, uint64_t len, const char *what)
{
    for (uint64_t o = off; o < off + len; o += v->P) {
        uint64_t i = (o - 2 * v->P) / v->P;
        if (o < 2 * v->P || i >= v->nblocks)
            vnote(v, "%s block at %llu outside the data area", what,
                  (unsigned long long)o);
        else if (v->map[i])
            vnote(v, "%s block at %llu accounted twice", what,
                  (unsigned long long)o);
        else
            v->map[i] = 1;
    }
}

static int vmark_ext(const wri_ext *e, void *arg)
{
    vmark(arg, e->off, e->len,
          e->kind == WRI_EXT_AVAIL ? "avail" : "discard");
    return 0;
}

static int vmark_alloc(const wri_ext *e, void *arg)
{
    vnote(arg, "alloc list not empty after open: %llu",
          (unsigned long long)e->off);
    return 0;
}

static int vmark_listpage(const wr_addr *a, void *arg)
{
    vmark(arg, a->off, a->size, "extent-list");
    return 0;
}

/* Open path (PREVIOUS if asked), walk the checkpoint: root, every listed
 * page (CRC and content), the extent-list chain; every block of
 * [2P, logical size) must be accounted exactly once (tree pages, list
 * pages, avail, discard). Compares with *expect when given. Returns the
 * number of problems; *gen_out gets the generation opened (0 if none). */
static int verify_ckpt(const char *path, int flags, const model *expect,
                       uint64_t *gen_out)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    vstate v = {0};
    uint8_t *buf = NULL;
    *gen_out = 0;
    wri_ps *ps = NULL;
    wri_ps_cfg strict = {0};
    int rc = wri_block_open(path, flags | WRI_BLOCK_RDONLY, &b, &eb);
    if (rc == WR_OK && (rc = wri_ps_open(path, &strict, &ps, &eb)) != WR_OK)
        wri_block_close(b);
    if (rc != WR_OK) {
        printf("#   open %s: %s\n", path, eb.msg);
        return 1;
    }
    *gen_out = b->cur.gen;
    v.P = b->page_size;
    v.nblocks = (b->cur.logical_size - 2 * v.P) / v.P;
    v.map = calloc(v.nblocks + 1, 1);
    if (b->cur.root.off != 0) {
        const wr_addr *r = &b->cur.root;
        buf = malloc(r->size);
        if (page_read(ps, r, buf, &eb) != WR_OK) {
            vnote(&v, "root: %s", eb.msg);
            goto out;
        }
        vmark(&v, r->off, r->size, "root");
        uint32_t n = wri_get32(buf + WRI_PH_COUNT);
        if (expect != NULL && (int)n != expect->n)
            vnote(&v, "root lists %u pages, expected %d", n, expect->n);
        for (uint32_t i = 0; i < n; i++) {
            wr_addr a;
            wri_addr_decode(buf + WRI_PH_LEN + 20 * i, &a);
            uint32_t id = wri_get32(buf + WRI_PH_LEN + 20 * i + 16);
            if (expect != NULL && (int)i < expect->n &&
                (expect->p[i].id != id || expect->p[i].a.off != a.off ||
                 expect->p[i].a.crc != a.crc))
                vnote(&v, "root entry %u differs from the model", i);
            uint8_t *pg = malloc(a.size);
            wr_errbuf peb = {0};
            if (page_read(ps, &a, pg, &peb) != WR_OK)
                vnote(&v, "page %u: %s", i, peb.msg);
            else if (!page_ok(pg, a.size, id))
                vnote(&v, "page %u at %llu: content is not id %u's", i,
                      (unsigned long long)a.off, id);
            vmark(&v, a.off, a.size, "data");
            free(pg);
        }
    } else if (expect != NULL && expect->n != 0) {
        vnote(&v, "empty root, expected %d pages", expect->n);
    }
    if (wri_block_read_extlists(b, &b->cur, NULL, vmark_listpage, &v, &eb) !=
        WR_OK)
        vnote(&v, "extent lists: %s", eb.msg);
    if (b->em != NULL) {
        wri_extent_walk(b->em, vmark_ext, &v);
        wri_extent_walk_alloc(b->em, vmark_alloc, &v);
        if (wri_extent_check(b->em, &eb) != WR_OK)
            vnote(&v, "extent check: %s", eb.msg);
    }
    for (uint64_t i = 0; i < v.nblocks; i++)
        if (!v.map[i])
            vnote(&v, "block at %llu is not accounted for (gen %llu)",
                  (unsigned long long)(2 * v.P + i * v.P),
                  (unsigned long long)b->cur.gen);
out:
    free(buf);
    free(v.map);
    wri_ps_close(ps);
    wri_block_close(b);
    return v.bad;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

static void poke(const char *path, uint64_t off, const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY);
    if (fd >= 0) {
        if (pwrite(fd, bytes, n, (off_t)off) != (ssize_t)n)
            printf("#   poke failed\n");
        close(fd);
    }
}

static void flip(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t c = 0;
    if (fd >= 0 && pread(fd, &c, 1, (off_t)off) == 1) {
        c ^= 0x5a;
        if (pwrite(fd, &c, 1, (off_t)off) != 1)
            printf("#   flip failed\n");
    }
    if (fd >= 0)
        close(fd);
}

static long file_len(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* A file with generations 1 (slot 0), 2 (slot 1), 3 (slot 0). */
static int make_three_gens(const char *path, uint32_t P, model *m,
                           wr_errbuf *eb)
{
    int rc;
    wri_block *b = NULL;
    wri_block_cfg cfg = {.page_size = P, .role = WRI_ROLE_MAIN, .coll = "c"};
    memset(m, 0, sizeof *m);
    unlink(path);
    if ((rc = wri_block_create(path, &cfg, &b, eb)) != WR_OK)
        return rc;
    for (uint32_t i = 0; i < 5 && rc == WR_OK; i++)
        rc = write_data(b, m, i, 1 + i % 2, eb);
    if (rc == WR_OK)
        rc = commit(b, m, eb);
    if (rc == WR_OK)
        rc = free_data(b, m, 1, eb);
    if (rc == WR_OK)
        rc = write_data(b, m, 10, 1, eb);
    if (rc == WR_OK)
        rc = commit(b, m, eb);
    wri_block_close(b);
    return rc;
}

/* --- create / open ------------------------------------------------------ */

static void test_block_create_open_round_trip_page_sizes(void)
{
    static const uint32_t sizes[] = {512, 4096, 65536};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        wr_errbuf eb = {0};
        wri_block *b = NULL;
        static model m;
        uint32_t P = sizes[k];
        const char *path = tpath("rt-%u", P);
        wri_block_cfg cfg = {.page_size = P, .role = WRI_ROLE_INDEX,
                             .coll = "people", .field = "address.city"};
        memset(&m, 0, sizeof m);
        REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
        CHECK_EQ(b->cur.gen, 1);
        CHECK_EQ(b->building, 2);
        CHECK_EQ(file_len(path), 2 * (long)P);
        REQUIRE_OK(write_data(b, &m, 1, 1, &eb), &eb);
        REQUIRE_OK(write_data(b, &m, 2, 2, &eb), &eb);
        REQUIRE_OK(write_data(b, &m, 3, 1, &eb), &eb);
        REQUIRE_OK(commit(b, &m, &eb), &eb);
        CHECK_EQ(b->cur.gen, 2);
        wri_block_close(b);
        b = NULL;
        REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
        CHECK_EQ(b->page_size, P);
        CHECK_EQ(b->cur.gen, 2);
        CHECK_EQ(b->cur.role, WRI_ROLE_INDEX);
        CHECK(strcmp(b->cur.coll, "people") == 0);
        CHECK(strcmp(b->cur.field, "address.city") == 0);
        CHECK_EQ(b->cur.nrecords, 3);
        CHECK(b->slots[0].valid && b->slots[1].valid);
        wri_block_close(b);
        b = NULL;
        uint64_t gen = 0;
        CHECK_EQ(verify_ckpt(path, 0, &m, &gen), 0);
        CHECK_EQ(gen, 2);
        /* create refuses an existing file */
        CHECK_EQ(wri_block_create(path, &cfg, &b, &eb), WR_EEXIST);
        CHECK(b == NULL);
    }
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static const uint32_t bad[] = {256, 1000, 131072, 3 * 512};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        wri_block_cfg cfg = {.page_size = bad[k]};
        wr_errbuf_clear(&eb);
        CHECK_EQ(wri_block_create(tpath("bad-%u", bad[k]), &cfg, &b, &eb),
                 WR_EINVAL);
        CHECK_EQ(file_len(tpath("bad-%u", bad[k])), -1);
    }
}

static void test_block_slot_choice_highest_generation_wins(void) /* I5 */
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("slots");
    REQUIRE_OK(make_three_gens(path, 4096, &m, &eb), &eb);
    REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
    CHECK_EQ(b->cur.gen, 3);
    CHECK_EQ(b->chosen, 0);
    CHECK(b->slots[0].valid && b->slots[1].valid);
    CHECK_EQ(b->slots[0].slot.gen, 3);
    CHECK_EQ(b->slots[1].slot.gen, 2);
    wri_block_close(b);
    uint64_t gen = 0;
    CHECK_EQ(verify_ckpt(path, 0, &m, &gen), 0);
    CHECK_EQ(verify_ckpt(path, WRI_BLOCK_PREVIOUS, NULL, &gen), 0);
    CHECK_EQ(gen, 2);
}

static void test_block_torn_newer_slot_falls_back_to_older(void) /* I3 I5 */
{
    static const uint32_t sizes[] = {512, 4096, 65536};
    for (size_t k = 0; k < 3; k++) {
        wr_errbuf eb = {0};
        wri_block *b = NULL;
        static model m;
        const char *path = tpath("torn-%u", sizes[k]);
        REQUIRE_OK(make_three_gens(path, sizes[k], &m, &eb), &eb);
        flip(path, 100); /* inside slot 0, which holds gen 3 */
        REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
        CHECK_EQ(b->cur.gen, 2);
        CHECK_EQ(b->chosen, 1);
        CHECK_EQ(b->page_size, sizes[k]); /* found by probing */
        CHECK(!b->slots[0].valid);
        CHECK(strstr(b->slots[0].why, "CRC mismatch") != NULL);
        wri_block_close(b);
        b = NULL;
        /* and the other way round: slot 1 (gen 2) torn, slot 0 wins */
        REQUIRE_OK(make_three_gens(path, sizes[k], &m, &eb), &eb);
        flip(path, sizes[k] + 30);
        REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
        CHECK_EQ(b->cur.gen, 3);
        CHECK(!b->slots[1].valid);
        CHECK(strstr(b->slots[1].why, "CRC mismatch") != NULL);
        wri_block_close(b);
        uint64_t gen = 0;
        CHECK_EQ(verify_ckpt(path, 0, &m, &gen), 0);
    }
}

static void test_block_both_slots_broken_is_corrupt(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("both");
    REQUIRE_OK(make_three_gens(path, 4096, &m, &eb), &eb);
    flip(path, 100);
    flip(path, 4096 + 100);
    CHECK_EQ(wri_block_open(path, WRI_BLOCK_RDONLY, &b, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "both checkpoint slots are invalid") != NULL);
    CHECK(strstr(eb.msg, "slot 0: CRC mismatch") != NULL);
    CHECK(strstr(eb.msg, "slot 1 (offset ") != NULL);
    CHECK(strstr(eb.msg, path) != NULL);
    CHECK(b == NULL);
}

static void test_block_zero_length_file_is_not_ours(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    const char *path = tpath("empty");
    FILE *fp = fopen(path, "w");
    REQUIRE(fp != NULL);
    fclose(fp);
    CHECK_EQ(wri_block_open(path, 0, &b, &eb), WR_ENOTOURS);
    CHECK(strstr(eb.msg, "is empty (0 bytes), not a wrtools tree file") !=
          NULL);
}

static void test_block_foreign_file_is_not_ours(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    const char *path = tpath("foreign");
    FILE *fp = fopen(path, "w");
    REQUIRE(fp != NULL);
    for (int i = 0; i < 2000; i++)
        fprintf(fp, "{\"_id\": %d, \"name\": \"x\"}\n", i);
    fclose(fp);
    CHECK_EQ(wri_block_open(path, 0, &b, &eb), WR_ENOTOURS);
    CHECK(strstr(eb.msg, "not a wrtools tree file") != NULL);
    wr_errbuf_clear(&eb);
    fp = fopen(path, "w");
    REQUIRE(fp != NULL);
    fputs("tiny", fp);
    fclose(fp);
    CHECK_EQ(wri_block_open(path, 0, &b, &eb), WR_ENOTOURS);
    CHECK_EQ(wri_block_open(tpath("no-such-file"), 0, &b, &eb),
             WR_ENOTFOUND);
}

static void test_block_truncated_file_is_refused(void) /* I8 */
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("trunc");
    wri_block_cfg cfg = {.page_size = 4096};
    memset(&m, 0, sizeof m);
    REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
    for (uint32_t i = 0; i < 20; i++)
        REQUIRE_OK(write_data(b, &m, i, 1, &eb), &eb);
    REQUIRE_OK(commit(b, &m, &eb), &eb);
    wri_block_close(b);
    b = NULL;
    REQUIRE(truncate(path, 3 * 4096) == 0);
    CHECK_EQ(wri_block_open(path, 0, &b, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "truncated") != NULL);
    CHECK(b == NULL);
}

static void test_block_debris_past_logical_size_is_ignored_and_trimmed(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("debris");
    REQUIRE_OK(make_three_gens(path, 512, &m, &eb), &eb);
    long before = file_len(path);
    uint8_t junk[4096];
    memset(junk, 0xee, sizeof junk);
    poke(path, (uint64_t)before, junk, sizeof junk); /* an unfinished ckpt */
    uint64_t gen = 0;
    CHECK_EQ(verify_ckpt(path, 0, &m, &gen), 0);
    REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
    REQUIRE_OK(commit(b, &m, &eb), &eb);
    uint64_t keep = WRI_MAX(b->slots[0].slot.logical_size,
                            b->slots[1].slot.logical_size);
    wri_block_close(b);
    CHECK_EQ(file_len(path), (long)keep);
    CHECK(file_len(path) < before + 4096); /* the junk is gone */
    CHECK_EQ(verify_ckpt(path, 0, &m, &gen), 0);
    CHECK_EQ(gen, 4);
    CHECK_EQ(verify_ckpt(path, WRI_BLOCK_PREVIOUS, NULL, &gen), 0);
}

static int find_op(const char *what, uint64_t *n_out);

static void test_block_failed_truncate_still_commits(void) /* I8 I9 */
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("trunc-fail");
    REQUIRE_OK(make_three_gens(path, 512, &m, &eb), &eb);
    long before = file_len(path);
    uint8_t junk[2048];
    memset(junk, 0xee, sizeof junk);
    poke(path, (uint64_t)before, junk, sizeof junk);
    /* learn which op truncates, on a copy */
    static model m2;
    m2 = m;
    const char *dry = tpath("trunc-fail-dry");
    REQUIRE(copy_file(path, dry) == 0);
    REQUIRE_OK(wri_block_open(dry, 0, &b, &eb), &eb);
    uint64_t n = 0;
    wri_io_fault_set(NULL);
    REQUIRE(find_op("ftruncate", NULL) == 0); /* start tracing */
    REQUIRE_OK(commit(b, &m2, &eb), &eb);
    REQUIRE(find_op("ftruncate", &n) == 1);
    wri_block_close(b);
    b = NULL;
    REQUIRE(n > 0);
    REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
    wri_fault_plan plan = {.kind = WRI_FAULT_FAIL, .at = n, .err = WR_EIO};
    wri_io_fault_set(&plan);
    CHECK_EQ(commit(b, &m, &eb), WR_EIO);
    wri_io_fault_set(NULL);
    CHECK(strstr(eb.msg, "ftruncate") != NULL);
    CHECK_EQ(b->cur.gen, 4); /* committed all the same */
    CHECK(file_len(path) > before); /* the junk is still there */
    wr_errbuf_clear(&eb);
    REQUIRE_OK(commit(b, &m, &eb), &eb); /* and the next one trims it */
    wri_block_close(b);
    CHECK(file_len(path) < before + 2048);
    uint64_t gen = 0;
    CHECK_EQ(verify_ckpt(path, 0, &m, &gen), 0);
    CHECK_EQ(gen, 5);
}

static void test_block_newer_format_version_is_refused(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("version");
    REQUIRE_OK(make_three_gens(path, 4096, &m, &eb), &eb);
    int fd = open(path, O_RDWR);
    uint8_t slot[WRI_SLOT_LEN];
    REQUIRE(pread(fd, slot, sizeof slot, 0) == (ssize_t)sizeof slot);
    wri_put32(slot + WRI_SLOT_VERSION, WR_FORMAT_VERSION + 1);
    wri_put32(slot + WRI_SLOT_CRC, wri_page_crc(slot, sizeof slot));
    REQUIRE(pwrite(fd, slot, sizeof slot, 0) == (ssize_t)sizeof slot);
    close(fd);
    CHECK_EQ(wri_block_open(path, WRI_BLOCK_RDONLY, &b, &eb), WR_EVERSION);
    CHECK(strstr(eb.msg, "newer") != NULL);
    wr_errbuf_clear(&eb);
    /* salvage's open (any file, empty or foreign too) refuses it as well:
     * a newer file is not damage to scan */
    wri_ps *ps = NULL;
    wri_ps_cfg any = {.tolerant = true, .any_file = true};
    CHECK_EQ(wri_ps_open(path, &any, &ps, &eb), WR_EVERSION);
    CHECK(strstr(eb.msg, "slot 0: format version") != NULL);
    wri_ps_close(ps);
}

static void test_block_previous_flag_opens_the_older_slot(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("previous");
    REQUIRE_OK(make_three_gens(path, 512, &m, &eb), &eb);
    REQUIRE_OK(wri_block_open(path, WRI_BLOCK_PREVIOUS, &b, &eb), &eb);
    CHECK_EQ(b->cur.gen, 2);
    CHECK(b->readonly);
    uint8_t buf[512];
    wr_addr a;
    fill_page(buf, 512, 1, 3);
    CHECK_EQ(wri_block_write_page(b, buf, 512, &a, &eb), WR_ENOTSUP);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_block_checkpoint(b, NULL, 0, 0, &eb), WR_ENOTSUP);
    wr_errbuf_clear(&eb);
    wri_block_close(b);
    b = NULL;
    /* a fresh file has only generation 1: no previous checkpoint */
    const char *fresh = tpath("previous-fresh");
    wri_block_cfg cfg = {.page_size = 512};
    REQUIRE_OK(wri_block_create(fresh, &cfg, &b, &eb), &eb);
    wri_block_close(b);
    b = NULL;
    CHECK_EQ(wri_block_open(fresh, WRI_BLOCK_PREVIOUS, &b, &eb),
             WR_ENOTFOUND);
    CHECK(strstr(eb.msg, "no previous checkpoint") != NULL);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_block_open(fresh, 0, &b, &eb), &eb);
    CHECK_EQ(b->cur.gen, 1);
    CHECK(strstr(b->slots[1].why, "all zero") != NULL);
    wri_block_close(b);
}

static void test_block_open_gen_picks_exactly_that_generation(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("opengen");
    REQUIRE_OK(make_three_gens(path, 512, &m, &eb), &eb);
    REQUIRE_OK(wri_block_open_gen(path, WRI_BLOCK_RDONLY, 2, &b, &eb), &eb);
    CHECK_EQ(b->cur.gen, 2);
    wri_block_close(b);
    b = NULL;
    REQUIRE_OK(wri_block_open_gen(path, WRI_BLOCK_RDONLY, 3, &b, &eb), &eb);
    CHECK_EQ(b->cur.gen, 3);
    wri_block_close(b);
    b = NULL;
    CHECK_EQ(wri_block_open_gen(path, 0, 7, &b, &eb), WR_ENOTFOUND);
    CHECK(strstr(eb.msg, "2 and 3") != NULL);
}

static void test_block_writer_at_older_gen_erases_newer_slot(void) /* I10 */
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m2, m3;
    const char *path = tpath("erase");
    /* gen 2's model, then gen 3's */
    REQUIRE_OK(make_three_gens(path, 512, &m3, &eb), &eb);
    REQUIRE_OK(wri_block_open_gen(path, WRI_BLOCK_RDONLY, 2, &b, &eb), &eb);
    {
        /* rebuild gen 2's model from its root */
        uint8_t *buf = malloc(b->cur.root.size);
        wri_ps *ps = NULL;
        wri_ps_cfg strict = {0};
        REQUIRE_OK(wri_ps_open(path, &strict, &ps, &eb), &eb);
        int prc = page_read(ps, &b->cur.root, buf, &eb);
        wri_ps_close(ps);
        REQUIRE_OK(prc, &eb);
        memset(&m2, 0, sizeof m2);
        m2.n = (int)wri_get32(buf + WRI_PH_COUNT);
        for (int i = 0; i < m2.n; i++) {
            wri_addr_decode(buf + WRI_PH_LEN + 20 * i, &m2.p[i].a);
            m2.p[i].id = wri_get32(buf + WRI_PH_LEN + 20 * i + 16);
        }
        m2.root = b->cur.root;
        free(buf);
    }
    wri_block_close(b);
    b = NULL;
    REQUIRE_OK(wri_block_open_gen(path, 0, 2, &b, &eb), &eb);
    /* Nothing written yet: gen 3 is still there. */
    uint64_t gen = 0;
    CHECK_EQ(verify_ckpt(path, 0, &m3, &gen), 0);
    CHECK_EQ(gen, 3);
    for (uint32_t i = 0; i < 30; i++) /* reuses gen 3's space */
        REQUIRE_OK(write_data(b, &m2, 100 + i, 1, &eb), &eb);
    CHECK(!b->slots[0].valid);
    /* gen 3 is gone: a lone open takes gen 2, never a half-reused 3 */
    CHECK_EQ(verify_ckpt(path, 0, NULL, &gen), 0);
    CHECK_EQ(gen, 2);
    REQUIRE_OK(commit(b, &m2, &eb), &eb);
    CHECK_EQ(b->cur.gen, 3);
    wri_block_close(b);
    CHECK_EQ(verify_ckpt(path, 0, &m2, &gen), 0);
    CHECK_EQ(gen, 3);
    CHECK_EQ(verify_ckpt(path, WRI_BLOCK_PREVIOUS, NULL, &gen), 0);
    CHECK_EQ(gen, 2);
}

/* --- extent lists on disk ------------------------------------------------ */

typedef struct ext_vec {
    wri_ext v[20000];
    int n;
} ext_vec;

static int collect(const wri_ext *e, void *arg)
{
    ext_vec *x = arg;
    if (x->n >= 20000)
        return 1;
    x->v[x->n++] = *e;
    return 0;
}

static void test_block_extent_lists_span_pages_and_reload_identically(void) /* I6 */
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    static ext_vec before, after;
    const char *path = tpath("lists");
    wri_block_cfg cfg = {.page_size = 512};
    memset(&m, 0, sizeof m);
    before.n = after.n = 0;
    REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
    for (uint32_t i = 0; i < 3000; i++)
        REQUIRE_OK(write_data(b, &m, i, 1 + (i % 5 == 0), &eb), &eb);
    REQUIRE_OK(commit(b, &m, &eb), &eb);
    for (int i = m.n - 1; i >= 0; i -= 2) /* every other: discard */
        REQUIRE_OK(free_data(b, &m, i, &eb), &eb);
    REQUIRE_OK(commit(b, &m, &eb), &eb);
    REQUIRE_OK(commit(b, &m, &eb), &eb); /* those become avail */
    for (int i = m.n - 1; i >= 0; i -= 3) /* fresh discards too */
        REQUIRE_OK(free_data(b, &m, i, &eb), &eb);
    REQUIRE_OK(commit(b, &m, &eb), &eb);
    wri_extent_stats st;
    wri_extent_stats_get(b->em, &st);
    CHECK(st.avail_count > 500);
    CHECK(st.discard_count > 300);
    CHECK(b->extlist_pages > 50); /* 14 entries per 512-byte page */
    wri_extent_walk(b->em, collect, &before);
    uint64_t lsize = wri_extent_logical_size(b->em);
    uint64_t npages = b->extlist_pages;
    wri_block_close(b);
    b = NULL;
    REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
    wri_extent_walk(b->em, collect, &after);
    CHECK_EQ(wri_extent_logical_size(b->em), lsize);
    CHECK_EQ(b->extlist_pages, npages);
    CHECK_EQ(after.n, before.n);
    CHECK(memcmp(before.v, after.v, (size_t)before.n * sizeof before.v[0]) ==
          0);
    /* persisted counts per page are exact: re-reading gives the same list */
    ext_vec *chain = calloc(1, sizeof *chain);
    REQUIRE_OK(wri_block_read_extlists(b, &b->cur, collect, NULL, chain, &eb),
               &eb);
    uint64_t per = (512 - WRI_EL_ENTRIES) / WRI_EL_ENTRY_LEN;
    CHECK((uint64_t)chain->n <= per * npages);       /* all fit */
    CHECK((uint64_t)chain->n > per * (npages - 2));  /* none wasted */
    free(chain);
    wri_block_close(b);
    uint64_t gen = 0;
    CHECK_EQ(verify_ckpt(path, 0, &m, &gen), 0);
    CHECK_EQ(verify_ckpt(path, WRI_BLOCK_PREVIOUS, NULL, &gen), 0);
}

static void test_block_extent_list_bad_next_is_corrupt(void) /* I11 */
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("badnext");
    wri_block_cfg cfg = {.page_size = 512};
    memset(&m, 0, sizeof m);
    REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
    for (uint32_t i = 0; i < 200; i++)
        REQUIRE_OK(write_data(b, &m, i, 1, &eb), &eb);
    REQUIRE_OK(commit(b, &m, &eb), &eb);
    for (int i = m.n - 1; i >= 0; i -= 2)
        REQUIRE_OK(free_data(b, &m, i, &eb), &eb);
    REQUIRE_OK(commit(b, &m, &eb), &eb);
    REQUIRE(b->extlist_pages >= 2);
    wr_addr first = b->cur.extlist;
    int slotpos = b->chosen;
    wri_block_close(b);
    b = NULL;
    /* Point the first list page's NEXT back at itself (a cycle), keep
     * its own CRC valid and the slot's address of it correct. The NEXT
     * address cannot carry the right CRC (it would have to contain
     * itself), so the read of the second hop fails; the chain bound is
     * the second line of defence. */
    int fd = open(path, O_RDWR);
    uint8_t pg[512], slot[WRI_SLOT_LEN];
    REQUIRE(pread(fd, pg, 512, (off_t)first.off) == 512);
    wri_addr_encode(pg + WRI_EL_NEXT, &first);
    first.crc = wri_page_crc(pg, 512);
    wri_put32(pg, first.crc);
    REQUIRE(pwrite(fd, pg, 512, (off_t)first.off) == 512);
    REQUIRE(pread(fd, slot, sizeof slot, (off_t)slotpos * 512) ==
            (ssize_t)sizeof slot);
    wri_addr_encode(slot + WRI_SLOT_EXTLIST, &first);
    wri_put32(slot, wri_page_crc(slot, sizeof slot));
    REQUIRE(pwrite(fd, slot, sizeof slot, (off_t)slotpos * 512) ==
            (ssize_t)sizeof slot);
    close(fd);
    CHECK_EQ(wri_block_open(path, 0, &b, &eb), WR_ECORRUPT);
    CHECK(b == NULL);
    CHECK(strstr(eb.msg, "stale or misdirected") != NULL);
    CHECK(strstr(eb.msg, path) != NULL);
    /* without the lists the tree is still readable */
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_block_open(path, WRI_BLOCK_NOEXT, &b, &eb), &eb);
    CHECK(b->em == NULL);
    wri_block_close(b);
}

/* --- page checks ------------------------------------------------------- */

static void test_page_read_catches_stale_and_bad_crc(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("pages");
    wri_block_cfg cfg = {.page_size = 512};
    uint8_t buf[1024];
    memset(&m, 0, sizeof m);
    REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
    REQUIRE_OK(write_data(b, &m, 1, 1, &eb), &eb);
    REQUIRE_OK(write_data(b, &m, 2, 1, &eb), &eb);
    REQUIRE_OK(write_data(b, &m, 3, 2, &eb), &eb);
    REQUIRE_OK(commit(b, &m, &eb), &eb);
    wr_addr a1 = m.p[0].a, a2 = m.p[1].a, a3 = m.p[2].a;
    wri_ps *ps = NULL;
    wri_ps_cfg strict = {0};
    REQUIRE_OK(wri_ps_open(path, &strict, &ps, &eb), &eb);
    REQUIRE_OK(page_read(ps, &a1, buf, &eb), &eb);
    CHECK(page_ok(buf, 512, 1));
    /* bad CRC: a flipped byte in the body */
    flip(path, a1.off + 300);
    CHECK_EQ(page_read(ps, &a1, buf, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "CRC mismatch") != NULL);
    CHECK(strstr(eb.msg, path) != NULL);
    wr_errbuf_clear(&eb);
    /* stale: a valid page where the address expects another one */
    fill_page(buf, 512, 99, 5);
    wri_put32(buf, wri_page_crc(buf, 512));
    poke(path, a2.off, buf, 512);
    CHECK_EQ(page_read(ps, &a2, buf, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "stale or misdirected") != NULL);
    wr_errbuf_clear(&eb);
    /* header size differs from the address */
    wr_addr a2x = a2;
    fill_page(buf, 512, 99, 5);
    wri_put32(buf + WRI_PH_SIZE, 1024);
    a2x.crc = wri_page_crc(buf, 512);
    wri_put32(buf, a2x.crc);
    poke(path, a2.off, buf, 512);
    CHECK_EQ(page_read(ps, &a2x, buf, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "header size") != NULL);
    wr_errbuf_clear(&eb);
    /* a two-block page read as one block: CRC over the wrong range */
    wr_addr a3x = a3;
    a3x.size = 512;
    CHECK_EQ(page_read(ps, &a3x, buf, &eb), WR_ECORRUPT);
    wr_errbuf_clear(&eb);
    /* outside the file, unaligned, inside the header blocks */
    wr_addr far = {.off = 1u << 30, .size = 512, .crc = 0};
    CHECK_EQ(page_read(ps, &far, buf, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "past the end") != NULL);
    wr_errbuf_clear(&eb);
    wr_addr odd = {.off = a1.off + 7, .size = 512, .crc = 0};
    CHECK_EQ(page_read(ps, &odd, buf, &eb), WR_ECORRUPT);
    wr_errbuf_clear(&eb);
    wr_addr hdr = {.off = 512, .size = 512, .crc = 0};
    CHECK_EQ(page_read(ps, &hdr, buf, &eb), WR_ECORRUPT);
    wr_errbuf_clear(&eb);
    /* write_page refuses a header whose size field is wrong */
    fill_page(buf, 512, 5, 3);
    wri_put32(buf + WRI_PH_SIZE, 1024);
    wr_addr na;
    CHECK_EQ(wri_block_write_page(b, buf, 512, &na, &eb), WR_EINVAL);
    wri_ps_close(ps);
    wri_block_close(b);
}

/* --- crash sweep --------------------------------------------------------- */

typedef struct op_trace {
    uint64_t n;
    char what[256][12];
    size_t len[256];
    uint64_t off[256];
} op_trace;

static void trace_fn(uint64_t op, const char *what, const char *path,
                     uint64_t off, size_t len, void *arg)
{
    op_trace *t = arg;
    if (op >= 1 && op <= 256) {
        snprintf(t->what[op - 1], sizeof t->what[0], "%s", what);
        t->len[op - 1] = len;
        t->off[op - 1] = off;
    }
    if (op > t->n)
        t->n = op;
}

/* find_op(what, NULL) starts tracing; find_op(what, &n) stops it and
 * returns 1 with the number of the first op named what, if any. */
static op_trace find_tr;
static int find_op(const char *what, uint64_t *n_out)
{
    if (n_out == NULL) {
        memset(&find_tr, 0, sizeof find_tr);
        wri_io_trace_set(trace_fn, &find_tr);
        return 0;
    }
    wri_io_trace_set(NULL, NULL);
    for (uint64_t i = 0; i < find_tr.n && i < 256; i++)
        if (strcmp(find_tr.what[i], what) == 0) {
            *n_out = i + 1;
            return 1;
        }
    return 0;
}

/* gens 2, 3, 4 with holes in avail, discards, a multi-page extent list */
static int build_base(const char *path, uint32_t P, model *m, wr_errbuf *eb)
{
    int rc;
    wri_block *b = NULL;
    wri_block_cfg cfg = {.page_size = P};
    memset(m, 0, sizeof *m);
    unlink(path);
    if ((rc = wri_block_create(path, &cfg, &b, eb)) != WR_OK)
        return rc;
    for (uint32_t i = 0; i < 60 && rc == WR_OK; i++)
        rc = write_data(b, m, i, i % 7 == 0 ? 2 : 1, eb);
    if (rc == WR_OK)
        rc = commit(b, m, eb);
    for (int i = m->n - 1; i >= 0 && rc == WR_OK; i -= 2)
        rc = free_data(b, m, i, eb);
    if (rc == WR_OK)
        rc = commit(b, m, eb);
    if (rc == WR_OK)
        rc = commit(b, m, eb);
    for (int i = m->n - 1; i >= 0 && rc == WR_OK; i -= 5)
        rc = free_data(b, m, i, eb);
    if (rc == WR_OK)
        rc = commit(b, m, eb);
    wri_block_close(b);
    return rc;
}

/* The second checkpoint under test: frees, new pages, commit. */
static int work(wri_block *b, model *m, wr_errbuf *eb)
{
    int rc = WR_OK;
    for (int k = 0; k < 3 && rc == WR_OK; k++)
        rc = free_data(b, m, k * 2, eb);
    static const uint32_t blocks[] = {1, 2, 1, 3, 1};
    for (uint32_t i = 0; i < 5 && rc == WR_OK; i++)
        rc = write_data(b, m, 1000 + i, blocks[i], eb);
    if (rc == WR_OK)
        rc = commit(b, m, eb);
    return rc;
}

typedef struct sweep {
    const char *base, *path;
    model *m;
    wri_fault_plan plan;
} sweep;

static void crash_child(sweep *s)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    m = *s->m;
    if (wri_block_open(s->path, 0, &b, &eb) != WR_OK)
        _exit(20);
    wri_io_fault_set(&s->plan);
    work(b, &m, &eb);
    _exit(0); /* the crash did not happen */
}

/* After a crash or failure at op N: old or new checkpoint, never a mix;
 * both slots' checkpoints complete; and the next writer works. */
static void check_after(const char *path, const model *old, const model *nw,
                        uint64_t old_gen, uint64_t want_gen, bool either,
                        const char *what, uint64_t n)
{
    uint64_t gen = 0;
    if (either) { /* a torn slot write: its CRC decides, whole or nothing */
        wr_errbuf eb0 = {0};
        wri_block *b0 = NULL;
        if (wri_block_open(path, WRI_BLOCK_NOEXT, &b0, &eb0) == WR_OK)
            want_gen = b0->cur.gen;
        wri_block_close(b0);
        if (want_gen != old_gen && want_gen != old_gen + 1) {
            TAP_FAIL("%s at op %llu: opened gen %llu", what,
                     (unsigned long long)n, (unsigned long long)want_gen);
            return;
        }
    }
    int bad = verify_ckpt(path, 0, want_gen == old_gen ? old : nw, &gen);
    if (bad || gen != want_gen)
        TAP_FAIL("%s at op %llu: gen %llu (want %llu), %d problems", what,
                 (unsigned long long)n, (unsigned long long)gen,
                 (unsigned long long)want_gen, bad);
    /* the previous checkpoint is complete too (I5), unless a torn slot
     * write destroyed the slot that held it, which is what writing a
     * slot does */
    wri_block *bp = NULL;
    wr_errbuf ebp = {0};
    int prc = wri_block_open(path, WRI_BLOCK_PREVIOUS, &bp, &ebp);
    wri_block_close(bp);
    if (!(either && prc == WR_ENOTFOUND)) {
        bad = verify_ckpt(path, WRI_BLOCK_PREVIOUS, NULL, &gen);
        if (bad || gen != want_gen - 1)
            TAP_FAIL("%s at op %llu: previous checkpoint gen %llu, %d "
                     "problems",
                     what, (unsigned long long)n, (unsigned long long)gen,
                     bad);
    }
    /* the next writer: takes the file as found, commits on top */
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    m = want_gen == old_gen ? *old : *nw;
    if (wri_block_open(path, 0, &b, &eb) != WR_OK ||
        free_data(b, &m, 1, &eb) != WR_OK ||
        write_data(b, &m, 5000, 2, &eb) != WR_OK ||
        commit(b, &m, &eb) != WR_OK) {
        TAP_FAIL("%s at op %llu: next writer: %s", what,
                 (unsigned long long)n, eb.msg);
        wri_block_close(b);
        return;
    }
    wri_block_close(b);
    bad = verify_ckpt(path, 0, &m, &gen);
    if (bad || gen != want_gen + 1)
        TAP_FAIL("%s at op %llu: after the next writer gen %llu, %d problems",
                 what, (unsigned long long)n, (unsigned long long)gen, bad);
}

static void crash_sweep(uint32_t P)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model base, nw;
    static op_trace tr;
    const char *basep = tpath("sweep-base-%u", P);
    const char *path = tpath("sweep-%u", P);
    REQUIRE_OK(build_base(basep, P, &base, &eb), &eb);
    uint64_t old_gen = 5;
    /* dry run: count and trace the ops of the second checkpoint */
    REQUIRE(copy_file(basep, path) == 0);
    nw = base;
    REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
    REQUIRE_EQ(b->cur.gen, old_gen);
    REQUIRE(P > 512 || b->extlist_pages >= 2);
    memset(&tr, 0, sizeof tr);
    wri_io_fault_set(NULL);
    wri_io_trace_set(trace_fn, &tr);
    int rc = work(b, &nw, &eb);
    wri_io_trace_set(NULL, NULL);
    uint64_t nops = wri_io_op_count();
    wri_block_close(b);
    b = NULL;
    REQUIRE_OK(rc, &eb);
    REQUIRE(nops > 8 && nops <= 256);
    uint64_t slot_op = 0;
    for (uint64_t i = 0; i < nops; i++)
        if (strcmp(tr.what[i], "pwrite") == 0 && tr.len[i] == WRI_SLOT_LEN &&
            (tr.off[i] == 0 || tr.off[i] == P))
            slot_op = i + 1;
    REQUIRE(slot_op > 0);
    printf("# P=%u: %llu ops, slot write is op %llu\n", P,
           (unsigned long long)nops, (unsigned long long)slot_op);
    for (uint64_t n = 1; n <= nops; n++) {
        /* no tear, half the write, and for the slot a tear inside its
         * fixed fields */
        for (int torn = 0; torn < 3; torn++) {
            if (torn && strcmp(tr.what[n - 1], "pwrite") != 0)
                continue;
            if (torn == 2 && n != slot_op)
                continue;
            size_t tear = torn == 1 ? tr.len[n - 1] / 2 : torn == 2 ? 40 : 0;
            REQUIRE(copy_file(basep, path) == 0);
            sweep s = {basep, path, &base,
                       {.kind = WRI_FAULT_CRASH, .at = n, .tear = tear}};
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0)
                crash_child(&s);
            int st = 0;
            waitpid(pid, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != WRI_IO_CRASH_EXIT) {
                TAP_FAIL("crash at op %llu: child status 0x%x",
                         (unsigned long long)n, st);
                continue;
            }
            /* I3: up to and including the slot write (torn or not), the
             * old checkpoint; after it, the new one. */
            uint64_t want = n <= slot_op ? old_gen : old_gen + 1;
            check_after(path, &base, &nw, old_gen, want,
                        n == slot_op && torn != 0,
                        torn ? "torn crash" : "crash", n);
        }
    }
}

/* Commit, tracing the ops: the data pages' pwrites (fewer than the pages
 * written: gathered), then an fsync, the slot, an fsync (I3, I13). */
static int gathered_commit_order(wri_block *b, model *m, wr_errbuf *eb)
{
    static op_trace tr;
    uint32_t P = b->page_size;
    memset(&tr, 0, sizeof tr);
    wri_io_fault_set(NULL);
    wri_io_trace_set(trace_fn, &tr);
    int rc = commit(b, m, eb);
    wri_io_trace_set(NULL, NULL);
    if (rc != WR_OK)
        return rc;
    uint64_t i = 0, data = 0;
    for (; i < tr.n && strcmp(tr.what[i], "pwrite") == 0 &&
           tr.off[i] >= 2 * (uint64_t)P;
         i++)
        data++;
    CHECK(data >= 1 && data < 10); /* 20 pages, the root, the lists */
    CHECK(i < tr.n && strcmp(tr.what[i], "fsync") == 0);
    CHECK(i + 2 < tr.n && strcmp(tr.what[i + 1], "pwrite") == 0 &&
          tr.len[i + 1] == WRI_SLOT_LEN && tr.off[i + 1] % P == 0 &&
          tr.off[i + 1] < 2 * (uint64_t)P);
    CHECK(i + 2 < tr.n && strcmp(tr.what[i + 2], "fsync") == 0);
    for (uint64_t k = i + 3; k < tr.n; k++)
        CHECK(strcmp(tr.what[k], "pwrite") != 0);
    return WR_OK;
}

/* Gathered writes (the bulk loader's): pages written one after another
 * go out in few pwrites, a read in between sees what was written, a
 * page written elsewhere ends the run, and the checkpoint holds them
 * all. */
static void test_block_gathered_writes(void)
{
    uint32_t P = 512;
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model m;
    const char *path = tpath("gather");
    wri_block_cfg cfg = {.page_size = P, .role = WRI_ROLE_MAIN, .coll = "c"};
    memset(&m, 0, sizeof m);
    unlink(path);
    REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
    wri_block_gather_writes(b);
    wri_io_fault_set(NULL); /* counts ops from here */
    for (uint32_t i = 0; i < 150; i++)
        REQUIRE_OK(write_data(b, &m, i, i % 7 == 0 ? 3 : 1, &eb), &eb);
    /* 150 pages, 194 blocks (97 KiB): still gathered, then one pwrite */
    CHECK_EQ(wri_io_op_count(), 0);
    uint8_t *pg = malloc(3 * P), *want = malloc(3 * P);
    REQUIRE(pg != NULL && want != NULL);
    /* a read through the handle writes what is gathered first (the
     * page is no tree page: the engine's read then refuses it) */
    wri_page_view v;
    CHECK(wri_block_read_node(b, &m.p[140].a, 0, 1, pg, &v, &eb) != WR_OK);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_io_op_count(), 1);
    wri_ps *ps = NULL;
    wri_ps_cfg strict = {0};
    REQUIRE_OK(wri_ps_open(path, &strict, &ps, &eb), &eb);
    int prc = page_read(ps, &m.p[140].a, pg, &eb);
    wri_ps_close(ps);
    REQUIRE_OK(prc, &eb);
    fill_page(want, m.p[140].a.size, m.p[140].id, b->building);
    wri_put32(want + WRI_PH_CRC, wri_get32(pg + WRI_PH_CRC));
    CHECK(memcmp(pg, want, m.p[140].a.size) == 0);
    CHECK_EQ(file_len(path), (long)(2 * P + 194 * P));
    REQUIRE_OK(free_data(b, &m, 3, &eb), &eb);
    /* two commits, the run buffer freed after the first: each writes its
     * pages gathered, all before the fsync before its slot (I3, I13) */
    for (uint32_t c = 0; c < 2; c++) {
        for (uint32_t i = 150 + 20 * c; i < 170 + 20 * c; i++)
            REQUIRE_OK(write_data(b, &m, i, 1, &eb), &eb);
        REQUIRE_OK(gathered_commit_order(b, &m, &eb), &eb);
    }
    wri_block_close(b);
    uint64_t gen = 0;
    CHECK_EQ(verify_ckpt(path, 0, &m, &gen), 0);
    CHECK_EQ(gen, 3);
    free(pg);
    free(want);
}

/* I9, I13: a gathered run whose write fails poisons the handle (its
 * pages were counted as written): every later write and free is refused,
 * naming the write that failed (file, offset, reason), and nothing more
 * reaches the file; a reopen finds the old checkpoint. */
static void test_block_gathered_write_failure_poisons(void)
{
    uint32_t P = 512;
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model base, m;
    const char *basep = tpath("gather-fail-base");
    const char *path = tpath("gather-fail");
    wri_block_cfg cfg = {.page_size = P, .role = WRI_ROLE_MAIN, .coll = "c"};
    memset(&base, 0, sizeof base);
    unlink(basep);
    REQUIRE_OK(wri_block_create(basep, &cfg, &b, &eb), &eb);
    for (uint32_t i = 0; i < 10; i++)
        REQUIRE_OK(write_data(b, &base, i, 1, &eb), &eb);
    REQUIRE_OK(commit(b, &base, &eb), &eb);
    wri_block_close(b);
    for (int when = 0; when < 2; when++) {
        REQUIRE(copy_file(basep, path) == 0);
        m = base;
        REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
        wri_block_gather_writes(b);
        wri_fault_plan plan = {.kind = WRI_FAULT_FAIL, .at = 1,
                               .err = WR_ENOSPC};
        wri_io_fault_set(&plan);
        for (uint32_t i = 0; i < 4; i++)
            REQUIRE_OK(write_data(b, &m, 500 + i, 1, &eb), &eb);
        CHECK_EQ(wri_io_op_count(), 0); /* all four gathered */
        int rc;
        if (when == 0) { /* the run ends: a page elsewhere, then a read */
            wri_page_view v;
            uint8_t pg[512];
            rc = wri_block_read_node(b, &m.p[m.n - 1].a, 0, 1, pg, &v, &eb);
        } else { /* the commit's fsync */
            rc = commit(b, &m, &eb);
        }
        wri_io_fault_set(NULL);
        CHECK_EQ(rc, WR_ENOSPC);
        char first[sizeof eb.msg];
        snprintf(first, sizeof first, "%s", eb.msg);
        printf("# %s\n", first);
        CHECK(strstr(first, path) != NULL &&
              strstr(first, "pwrite of ") != NULL &&
              strstr(first, " bytes at offset ") != NULL &&
              strstr(first, "injected ENOSPC") != NULL);
        wr_errbuf_clear(&eb);
        uint8_t pg[512];
        wr_addr a;
        fill_page(pg, 512, 1, b->building);
        uint64_t ops = wri_io_op_count();
        CHECK_EQ(wri_block_write_page(b, pg, 512, &a, &eb), WR_EIO);
        CHECK(strstr(eb.msg, "I9") != NULL && strstr(eb.msg, first) != NULL);
        wr_errbuf_clear(&eb);
        CHECK_EQ(wri_block_free_page(b, &m.p[0].a, &eb), WR_EIO);
        CHECK(strstr(eb.msg, first) != NULL);
        wr_errbuf_clear(&eb);
        CHECK_EQ(commit(b, &m, &eb), WR_EIO);
        CHECK(strstr(eb.msg, first) != NULL);
        wr_errbuf_clear(&eb);
        wri_block_close(b);
        CHECK_EQ(wri_io_op_count(), ops); /* nothing more written */
        b = NULL;
        uint64_t gen = 0;
        CHECK_EQ(verify_ckpt(path, 0, &base, &gen), 0);
        CHECK_EQ(gen, 2);
    }
}

/* Gathered runs of len bytes, the first at off, each step bytes after
 * the one before, into s until a hint: how many runs it took (0: none in
 * n runs). */
static uint32_t wb_runs_to_hint(wri_wb_stretch *s, uint64_t off,
                                uint64_t len, uint64_t step, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (wri_block_wb_add(s, off + i * step, len))
            return i + 1;
    return 0;
}

/* The writeback hint's rule (block.c, ff2e042): runs that fill at least
 * half the stretch of the file they span add up to a hint over that
 * stretch every WRI_BLOCK_WRITEBACK bytes; runs scattered over more than
 * twice their bytes start the stretch again, so they never add up to a
 * hint over most of the file. Fails if the rule is dropped (scattered
 * runs then hint) or inverted (a file written front to back then never
 * does). */
static void test_block_writeback_hint_only_over_dense_runs(void)
{
    const uint64_t R = WRI_BLOCK_RUN, W = WRI_BLOCK_WRITEBACK;
    wri_wb_stretch s = {0};
    /* a file written front to back: a hint per W bytes, over them */
    CHECK_EQ(wb_runs_to_hint(&s, 4096, R, R, 1000), W / R);
    CHECK(s.lo == 4096 && s.hi == 4096 + W);
    CHECK_EQ(wb_runs_to_hint(&s, 4096 + W, R, R, 1000), W / R);
    CHECK(s.lo == 4096 + W && s.hi == 4096 + 2 * W);
    /* runs with holes between them that still fill half their stretch */
    memset(&s, 0, sizeof s);
    CHECK_EQ(wb_runs_to_hint(&s, 0, R, 2 * R, 1000), W / R);
    CHECK(s.lo == 0 && s.hi == (W / R - 1) * 2 * R + R);
    /* runs that fill a third of their stretch: never a hint */
    memset(&s, 0, sizeof s);
    CHECK_EQ(wb_runs_to_hint(&s, 0, R, 3 * R, 4 * W / R), 0);
    /* pages rewritten here and there over a 4 GiB file: never a hint
     * (the rule dropped: one over the whole file after W bytes) */
    memset(&s, 0, sizeof s);
    CHECK_EQ(wb_runs_to_hint(&s, 0, 8192, (4ull << 30) / 4096, 4096), 0);
    CHECK_EQ(s.bytes, 8192); /* each run starts the stretch again */
    /* a scattered run ends a dense stretch: the count starts from it */
    memset(&s, 0, sizeof s);
    CHECK_EQ(wb_runs_to_hint(&s, 0, R, R, W / R - 1), 0);
    CHECK(!wri_block_wb_add(&s, 1ull << 32, R));
    CHECK(s.lo == 1ull << 32 && s.hi == (1ull << 32) + R && s.bytes == R);
    CHECK_EQ(wb_runs_to_hint(&s, (1ull << 32) + R, R, R, 1000), W / R - 1);
}

static void test_block_crash_sweep_old_or_new_never_a_mix(void) /* I1 I3 */
{
    crash_sweep(512);
    crash_sweep(4096);
}

static void test_block_injected_eio_enospc_at_every_op(void) /* I9 */
{
    uint32_t P = 512;
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model base, nw, m;
    const char *basep = tpath("fail-base");
    const char *path = tpath("fail");
    REQUIRE_OK(build_base(basep, P, &base, &eb), &eb);
    uint64_t old_gen = 5;
    static op_trace tr;
    memset(&tr, 0, sizeof tr);
    REQUIRE(copy_file(basep, path) == 0);
    nw = base;
    REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
    wri_io_fault_set(NULL);
    wri_io_trace_set(trace_fn, &tr);
    REQUIRE_OK(work(b, &nw, &eb), &eb);
    wri_io_trace_set(NULL, NULL);
    uint64_t nops = wri_io_op_count();
    wri_block_close(b);
    b = NULL;
    uint64_t slot_op = 0;
    for (uint64_t i = 0; i < nops; i++)
        if (strcmp(tr.what[i], "pwrite") == 0 && tr.len[i] == WRI_SLOT_LEN)
            slot_op = i + 1;
    REQUIRE(slot_op > 0);
    static const int errs[] = {WR_EIO, WR_ENOSPC};
    for (uint64_t n = 1; n <= nops; n++)
        for (int e = 0; e < 2; e++)
            for (int sticky = 0; sticky < 2; sticky++) {
                wr_errbuf_clear(&eb);
                REQUIRE(copy_file(basep, path) == 0);
                m = base;
                REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
                wri_fault_plan plan = {.kind = WRI_FAULT_FAIL, .at = n,
                                       .err = errs[e], .sticky = sticky};
                wri_io_fault_set(&plan);
                int rc = work(b, &m, &eb);
                wri_io_fault_set(NULL);
                if (rc != errs[e] || strstr(eb.msg, "injected") == NULL)
                    TAP_FAIL("fail at op %llu: rc %d (%s)",
                             (unsigned long long)n, rc, eb.msg);
                /* I9: once the fsync before the slot failed, or the slot
                 * write, the handle refuses to write on */
                if (n >= slot_op - 1) {
                    uint8_t pg[512];
                    wr_addr a;
                    wr_errbuf eb2 = {0};
                    fill_page(pg, 512, 1, b->building);
                    int rc2 = wri_block_write_page(b, pg, 512, &a, &eb2);
                    if (n <= slot_op + 1 && rc2 != WR_EIO)
                        TAP_FAIL("fail at op %llu: handle not poisoned (%d)",
                                 (unsigned long long)n, rc2);
                }
                wri_block_close(b);
                b = NULL;
                uint64_t want = n <= slot_op ? old_gen : old_gen + 1;
                uint64_t gen = 0;
                int bad = verify_ckpt(path, 0, want == old_gen ? &base : &nw,
                                      &gen);
                if (bad || gen != want)
                    TAP_FAIL("fail at op %llu: reopened at gen %llu (want "
                             "%llu), %d problems",
                             (unsigned long long)n, (unsigned long long)gen,
                             (unsigned long long)want, bad);
            }
}

static void test_block_checkpoint_retry_after_failed_list_write(void) /* I9 */
{
    uint32_t P = 512;
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static model base, m;
    const char *basep = tpath("retry-base");
    const char *path = tpath("retry");
    REQUIRE_OK(build_base(basep, P, &base, &eb), &eb);
    for (uint64_t n = 1; n <= 20; n++) {
        REQUIRE(copy_file(basep, path) == 0);
        m = base;
        REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
        REQUIRE_OK(free_data(b, &m, 0, &eb), &eb);
        REQUIRE_OK(write_data(b, &m, 777, 1, &eb), &eb);
        /* op 1 is the root write, 2.. the list pages */
        wri_fault_plan plan = {.kind = WRI_FAULT_FAIL, .at = n,
                               .err = WR_ENOSPC};
        wri_io_fault_set(&plan);
        CHECK_EQ(commit(b, &m, &eb), WR_ENOSPC);
        wri_io_fault_set(NULL);
        if (strstr(eb.msg, "fsync") != NULL) { /* past the list writes */
            wri_block_close(b);
            b = NULL;
            break;
        }
        wr_errbuf_clear(&eb);
        REQUIRE_OK(commit(b, &m, &eb), &eb);
        CHECK_EQ(b->cur.gen, 6);
        REQUIRE_OK(commit(b, &m, &eb), &eb);
        wri_block_close(b);
        b = NULL;
        uint64_t gen = 0;
        CHECK_EQ(verify_ckpt(path, 0, &m, &gen), 0);
        CHECK_EQ(gen, 7);
        CHECK_EQ(verify_ckpt(path, WRI_BLOCK_PREVIOUS, NULL, &gen), 0);
    }
}

/* --- randomized ---------------------------------------------------------- */

typedef struct rmodel {
    tpage p[MAXPG];
    int n;
    uint64_t gen;
} rmodel;

static uint64_t rs = 0xC0FFEE;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static int acct_alloc(const wri_ext *e, void *arg)
{
    vstate *v = arg;
    /* alloc must lie inside pages the model holds (marked 1 already) */
    for (uint64_t o = e->off; o < e->off + e->len; o += v->P) {
        uint64_t i = (o - 2 * v->P) / v->P;
        if (i >= v->nblocks || v->map[i] != 1)
            vnote(v, "alloc block at %llu is not a live page",
                  (unsigned long long)o);
    }
    return 0;
}

/* No block both live and free; every block accounted for exactly once. */
static int account(wri_block *b, const rmodel *m)
{
    wr_errbuf eb = {0};
    vstate v = {0};
    v.P = b->page_size;
    v.nblocks = (wri_extent_logical_size(b->em) - 2 * v.P) / v.P;
    v.map = calloc(v.nblocks + 1, 1);
    for (int i = 0; i < m->n; i++)
        vmark(&v, m->p[i].a.off, m->p[i].a.size, "live");
    wri_extent_walk_alloc(b->em, acct_alloc, &v);
    if (wri_block_read_extlists(b, &b->cur, NULL, vmark_listpage, &v, &eb) !=
        WR_OK)
        vnote(&v, "extent lists: %s", eb.msg);
    wri_extent_walk(b->em, vmark_ext, &v);
    for (uint64_t i = 0; i < v.nblocks; i++)
        if (!v.map[i])
            vnote(&v, "block at %llu unaccounted",
                  (unsigned long long)(2 * v.P + i * v.P));
    if (wri_extent_check(b->em, &eb) != WR_OK)
        vnote(&v, "%s", eb.msg);
    free(v.map);
    return v.bad;
}

/* Read every page of snapshot m through a fresh read-only handle. */
static int read_snapshot(const char *path, int flags, const rmodel *m)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    wri_ps *ps = NULL;
    wri_ps_cfg strict = {0};
    int bad = 0;
    if (wri_block_open(path, flags | WRI_BLOCK_NOEXT, &b, &eb) != WR_OK) {
        printf("#   open: %s\n", eb.msg);
        return 1;
    }
    if (wri_ps_open(path, &strict, &ps, &eb) != WR_OK) {
        printf("#   open: %s\n", eb.msg);
        wri_block_close(b);
        return 1;
    }
    if (b->cur.gen != m->gen) {
        printf("#   opened gen %llu, snapshot is gen %llu\n",
               (unsigned long long)b->cur.gen, (unsigned long long)m->gen);
        bad++;
    }
    uint8_t *buf = malloc(4 * b->page_size);
    for (int i = 0; i < m->n && bad < 5; i++) {
        wr_errbuf peb = {0};
        if (page_read(ps, &m->p[i].a, buf, &peb) != WR_OK) {
            printf("#   gen %llu page %d: %s\n", (unsigned long long)m->gen,
                   i, peb.msg);
            bad++;
        } else if (!page_ok(buf, m->p[i].a.size, m->p[i].id)) {
            bad++;
        }
    }
    free(buf);
    wri_ps_close(ps);
    wri_block_close(b);
    return bad;
}

static void test_block_randomized_allocs_frees_checkpoints_reopens(void)
{
    wr_errbuf eb = {0};
    wri_block *b = NULL;
    static rmodel live, cur, prev;
    bool have_prev = false;
    const char *path = tpath("random");
    wri_block_cfg cfg = {.page_size = 512};
    uint32_t next_id = 1;
    int steps = 6000, fails = 0, ckpts = 0, reopens = 0;
    memset(&live, 0, sizeof live);
    REQUIRE_OK(wri_block_create(path, &cfg, &b, &eb), &eb);
    live.gen = cur.gen = 1;
    cur.n = 0;
    for (int s = 0; s < steps && fails == 0; s++) {
        uint64_t r = rnd() % 1000;
        if (r < 500 && live.n < MAXPG - 10) {
            uint32_t blocks = 1 + (uint32_t)(rnd() % 8 == 0 ? rnd() % 3 : 0);
            static model tmp;
            tmp.n = 0;
            REQUIRE_OK(write_data(b, &tmp, next_id, blocks, &eb), &eb);
            live.p[live.n++] = (tpage){tmp.p[0].a, next_id++};
        } else if (r < 900 && live.n > 0) {
            int i = (int)(rnd() % (uint64_t)live.n);
            REQUIRE_OK(wri_block_free_page(b, &live.p[i].a, &eb), &eb);
            live.p[i] = live.p[--live.n];
        } else if (r < 960) {
            REQUIRE_OK(wri_block_checkpoint(b, NULL, 0, 0, &eb), &eb);
            ckpts++;
            prev = cur;
            have_prev = true;
            live.gen = b->cur.gen;
            cur = live;
        } else if (r < 975) {
            /* reopen the latest: uncommitted work is gone */
            wri_block_close(b);
            b = NULL;
            REQUIRE_OK(wri_block_open(path, 0, &b, &eb), &eb);
            REQUIRE_EQ(b->cur.gen, cur.gen);
            live = cur;
            reopens++;
        } else if (r < 980 && have_prev) {
            /* the catalog's choice: reopen writable at the previous gen */
            wri_block_close(b);
            b = NULL;
            REQUIRE_OK(wri_block_open_gen(path, 0, prev.gen, &b, &eb), &eb);
            live = prev;
            cur = prev;
            have_prev = false;
            reopens++;
            /* the first write erases the newer slot (I10) */
            static model tmp;
            tmp.n = 0;
            REQUIRE_OK(write_data(b, &tmp, next_id, 1, &eb), &eb);
            live.p[live.n++] = (tpage){tmp.p[0].a, next_id++};
            REQUIRE(!b->slots[1 - b->chosen].valid);
        } else {
            /* both committed checkpoints are intact while the writer
             * works (I1): read them through separate handles */
            if (read_snapshot(path, WRI_BLOCK_RDONLY, &cur) != 0) {
                TAP_FAIL("step %d: latest checkpoint damaged", s);
                fails++;
            }
            if (have_prev && b->slots[1 - b->chosen].valid &&
                read_snapshot(path, WRI_BLOCK_PREVIOUS, &prev) != 0) {
                TAP_FAIL("step %d: previous checkpoint damaged", s);
                fails++;
            }
        }
        if (account(b, &live) != 0) {
            TAP_FAIL("step %d: accounting broken", s);
            fails++;
        }
    }
    REQUIRE_OK(wri_block_checkpoint(b, NULL, 0, 0, &eb), &eb);
    wri_block_close(b);
    printf("# %d checkpoints, %d reopens\n", ckpts, reopens);
    CHECK(ckpts > 50);
}

int main(void)
{
    RUN(test_block_create_open_round_trip_page_sizes);
    RUN(test_block_slot_choice_highest_generation_wins);
    RUN(test_block_torn_newer_slot_falls_back_to_older);
    RUN(test_block_both_slots_broken_is_corrupt);
    RUN(test_block_zero_length_file_is_not_ours);
    RUN(test_block_foreign_file_is_not_ours);
    RUN(test_block_truncated_file_is_refused);
    RUN(test_block_debris_past_logical_size_is_ignored_and_trimmed);
    RUN(test_block_failed_truncate_still_commits);
    RUN(test_block_newer_format_version_is_refused);
    RUN(test_block_previous_flag_opens_the_older_slot);
    RUN(test_block_open_gen_picks_exactly_that_generation);
    RUN(test_block_writer_at_older_gen_erases_newer_slot);
    RUN(test_block_extent_lists_span_pages_and_reload_identically);
    RUN(test_block_extent_list_bad_next_is_corrupt);
    RUN(test_page_read_catches_stale_and_bad_crc);
    RUN(test_block_gathered_writes);
    RUN(test_block_gathered_write_failure_poisons);
    RUN(test_block_writeback_hint_only_over_dense_runs);
    RUN(test_block_crash_sweep_old_or_new_never_a_mix);
    RUN(test_block_injected_eio_enospc_at_every_op);
    RUN(test_block_checkpoint_retry_after_failed_list_write);
    RUN(test_block_randomized_allocs_frees_checkpoints_reopens);
    return tap_done();
}
