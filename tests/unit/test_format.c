/*
 * test_format.c -- docs/FORMAT.md tells the truth: its worked hex example
 * is the real file testdata/worked-example.wr, which this test builds
 * again through the engine (byte for byte the same), renders as xxd does
 * (lines of zeros left out) and finds, line for line, in FORMAT.md; and
 * the file verifies clean (issue 11, bug 5: the example predated the AUX
 * field and failed wr-verify).
 *
 * WR_FORMAT_PRINT=1 prints the rendering instead, to paste into
 * FORMAT.md after a deliberate format change.
 */
#include "tap.h"
#include "wr_int.h"

#include <sys/stat.h>
#include <unistd.h>

#define EX_FIXTURE "testdata/worked-example.wr"
#define EX_DOC "docs/FORMAT.md"

static char ex_path[512];

/* The file of FORMAT.md's example: generation 1 in slot 0, an empty leaf
 * committed as generation 2 (slot 1), its copy-on-write committed as
 * generation 3 (slot 0). */
static int ex_build(const char *path, wr_errbuf *eb)
{
    int rc;
    wri_block *b = NULL;
    wri_page_builder pb;
    uint8_t buf[512];
    wr_addr a1, a2;
    wri_block_cfg cfg = {.page_size = 512, .role = WRI_ROLE_MAIN,
                         .coll = "people"};
    unlink(path);
    if ((rc = wri_block_create(path, &cfg, &b, eb)) != WR_OK)
        return rc;
    wri_pb_init(&pb, buf, sizeof buf, WRI_PT_LEAF, 0);
    wri_pb_finish(&pb, b->building);
    if ((rc = wri_block_write_page(b, buf, sizeof buf, &a1, eb)) != WR_OK ||
        (rc = wri_block_checkpoint(b, &a1, 0, 1, eb)) != WR_OK ||
        (rc = wri_block_free_page(b, &a1, eb)) != WR_OK)
        goto out;
    wri_pb_init(&pb, buf, sizeof buf, WRI_PT_LEAF, 0);
    wri_pb_finish(&pb, b->building);
    if ((rc = wri_block_write_page(b, buf, sizeof buf, &a2, eb)) != WR_OK ||
        (rc = wri_block_checkpoint(b, &a2, 0, 1, eb)) != WR_OK)
        goto out;
out:
    wri_block_close(b);
    return rc;
}

static uint8_t *ex_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    *len = 0;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        rewind(f);
        if (n >= 0 && (buf = malloc((size_t)n + 1)) != NULL)
            *len = fread(buf, 1, (size_t)n, f);
    }
    fclose(f);
    return buf;
}

/* xxd's line for the 16 bytes at off. */
static void ex_xxd_line(const uint8_t *b, size_t off, char *out, size_t n)
{
    int k = snprintf(out, n, "%08zx: ", off);
    for (int i = 0; i < 16; i += 2)
        k += snprintf(out + k, n - (size_t)k, "%02x%02x%s", b[off + i],
                      b[off + i + 1], i < 14 ? " " : "  ");
    for (int i = 0; i < 16; i++) {
        uint8_t c = b[off + i];
        out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
    }
    out[k] = '\0';
}

/* The code block after marker in doc: its first line at *blk, its
 * closing fence at *end; false when there is none. */
static bool ex_block(const char *doc, const char *marker, const char **blk,
                     const char **end)
{
    const char *sec = strstr(doc, marker);
    *blk = sec ? strstr(sec, "```\n") : NULL;
    if (*blk != NULL)
        *blk += 4;
    *end = *blk ? strstr(*blk, "```") : NULL;
    return *end != NULL;
}

/* line (the file's bytes at off) is the block's next line: past it, or a
 * failure naming off. */
static bool ex_next_line(const char **blk, const char *end, const char *line,
                         size_t off)
{
    size_t ll = strlen(line);
    if ((size_t)(end - *blk) < ll + 1 || memcmp(*blk, line, ll) != 0 ||
        (*blk)[ll] != '\n') {
        TAP_FAIL("FORMAT.md's example differs at offset 0x%zx: the file has "
                 "\"%s\"",
                 off, line);
        return false;
    }
    *blk += ll + 1;
    return true;
}

static void test_format_example_is_the_engine_file(void)
{
    wr_errbuf eb = {0};
    size_t got = 0, want = 0;
    snprintf(ex_path, sizeof ex_path, "%s/example.wr", tap_tmpdir());
    REQUIRE_OK(ex_build(ex_path, &eb), &eb);
    uint8_t *a = ex_read(ex_path, &got);
    uint8_t *b = ex_read(EX_FIXTURE, &want);
    REQUIRE(a != NULL);
    CHECK_EQ(got, 2560);
    if (b == NULL)
        TAP_FAIL("%s is missing", EX_FIXTURE);
    else
        CHECK(got == want && memcmp(a, b, got) == 0);
    free(a);
    free(b);
}

static void test_format_example_verifies_clean(void)
{
    wr_errbuf eb = {0};
    wr_verify_report *r = NULL;
    wr_verify_opts o = {.all_checkpoints = true};
    int rc = wr_verify(EX_FIXTURE, &o, &r, &eb);
    CHECK_EQ(rc, WR_OK);
    if (r != NULL && r->nproblems > 0) {
        char line[1024];
        wr_verify_problem_format(&r->problems[0], line, sizeof line);
        TAP_FAIL("%s", line);
    }
    REQUIRE(r != NULL);
    REQUIRE_EQ(r->nfiles, 1);
    CHECK_EQ(r->files[0].nckpt, 2); /* generations 3 and 2 */
    wr_verify_report_free(r);
}

static void test_format_doc_shows_the_file(void)
{
    size_t len = 0, dlen = 0;
    uint8_t *b = ex_read(EX_FIXTURE, &len);
    uint8_t *doc = ex_read(EX_DOC, &dlen);
    REQUIRE(b != NULL && doc != NULL);
    doc[dlen] = '\0';
    const char *blk, *end;
    REQUIRE(ex_block((const char *)doc, "## Worked example", &blk, &end));
    bool print = getenv("WR_FORMAT_PRINT") != NULL;
    size_t lines = 0;
    for (size_t off = 0; off + 16 <= len; off += 16) {
        static const uint8_t zero[16];
        char line[128];
        if (memcmp(b + off, zero, 16) == 0)
            continue; /* lines of zeros are left out */
        ex_xxd_line(b, off, line, sizeof line);
        lines++;
        if (print) {
            printf("%s\n", line);
            continue;
        }
        /* in order, each on its own line of the block */
        if (!ex_next_line(&blk, end, line, off))
            break;
    }
    CHECK(print || blk == end); /* nothing more in the block */
    CHECK(lines > 10);
    free(b);
    free(doc);
}

/* --- "Packed values": a bulk-built file of one 1,200-byte document ---- */

/* The file of FORMAT.md's packed-value example: P = 4096, collection
 * "people", one document {_id: 7, note: 1,175 x "x"} (1,200 bytes, past
 * the inline limit of 995 next to its 11-byte key, shorter than a block)
 * bulk-loaded at fill 100%. */
static int pk_build(const char *path, wr_errbuf *eb)
{
    int rc;
    wri_block *b = NULL;
    wri_bulk *bl = NULL;
    wri_block_cfg cfg = {.page_size = 4096, .role = WRI_ROLE_MAIN,
                         .coll = "people"};
    char note[1176];
    memset(note, 'x', sizeof note - 1);
    note[sizeof note - 1] = '\0';
    bson_t d = BSON_INITIALIZER, k = BSON_INITIALIZER;
    BSON_APPEND_INT32(&d, "_id", 7);
    BSON_APPEND_UTF8(&d, "note", note);
    BSON_APPEND_INT32(&k, "", 7);
    unlink(path);
    if ((rc = wri_block_create(path, &cfg, &b, eb)) == WR_OK &&
        (rc = wri_bulk_open(b, 100, &bl, eb)) == WR_OK &&
        (rc = wri_bulk_add(bl, bson_get_data(&k), k.len, bson_get_data(&d),
                           d.len, eb)) == WR_OK)
        rc = wri_bulk_finish(bl, eb);
    wri_bulk_free(bl);
    wri_block_close(b);
    bson_destroy(&d);
    bson_destroy(&k);
    return rc;
}

/* The example's numbers hold (one leaf of one block, no overflow page,
 * version 4, the cell 24 + 11 + 1,200 bytes at the leaf's end), the file
 * verifies clean, and the first 48 bytes of the cell, rendered as xxd
 * does, are the lines of FORMAT.md's block after "Example (packed". */
static void test_format_packed_example(void)
{
    wr_errbuf eb = {0};
    char path[600];
    snprintf(path, sizeof path, "%s/packed.wr", tap_tmpdir());
    REQUIRE_OK(pk_build(path, &eb), &eb);
    size_t len = 0, dlen = 0;
    uint8_t *f = ex_read(path, &len);
    uint8_t *doc = ex_read(EX_DOC, &dlen);
    REQUIRE(f != NULL && doc != NULL);
    doc[dlen] = '\0';
    wri_block *b = NULL;
    uint8_t page[4096];
    wri_page_view v;
    wri_cell c;
    REQUIRE_OK(wri_block_open(path, WRI_BLOCK_RDONLY, &b, &eb), &eb);
    CHECK_EQ(b->cur.version, WRI_VERSION_PACKED);
    wr_addr leaf = b->cur.root;
    CHECK_EQ(leaf.size, 4096);
    CHECK_EQ(len, leaf.off + 4096); /* no overflow page after the leaf */
    REQUIRE_OK(wri_block_read_node(b, &leaf, 0, 1, page, &v, &eb), &eb);
    wri_block_close(b);
    REQUIRE_EQ(v.count, 1);
    wri_page_cell(&v, 0, &c);
    CHECK(wri_cell_packed(&c));
    CHECK_EQ(c.klen, 11);
    CHECK_EQ(c.vlen, 1200);
    CHECK_EQ(c.tlen, 1200);
    CHECK_EQ(c.off, 4096 - (24 + 11 + 1200));
    wr_verify_report *r = NULL;
    wr_verify_opts o = {0};
    CHECK_EQ(wr_verify(path, &o, &r, &eb), WR_OK);
    CHECK(r != NULL && r->nproblems == 0);
    wr_verify_report_free(r);
    const char *blk, *end;
    bool print = getenv("WR_FORMAT_PRINT") != NULL;
    bool have = ex_block((const char *)doc, "Example (packed", &blk, &end);
    CHECK(print || have);
    for (size_t off = leaf.off + c.off;
         (print || have) && off < leaf.off + c.off + 48; off += 16) {
        char line[128];
        ex_xxd_line(f, off, line, sizeof line);
        if (print)
            printf("%s\n", line);
        else if (!ex_next_line(&blk, end, line, off))
            break;
    }
    CHECK(print || (have && blk == end));
    free(f);
    free(doc);
}

int main(void)
{
    RUN(test_format_example_is_the_engine_file);
    RUN(test_format_example_verifies_clean);
    RUN(test_format_doc_shows_the_file);
    RUN(test_format_packed_example);
    return tap_done();
}
