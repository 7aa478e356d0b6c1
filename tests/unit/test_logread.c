/*
 * test_logread.c -- the log reader with its parse threads (logread.h): it
 * hands out exactly what a one-thread read gives (wri_jsonl_next with the
 * same check), in order, across many batches, with bad lines, lines the
 * check refuses, a line the line reader refuses and a torn last line in
 * their places; it stops early without leaks; it reports a missing file;
 * read to the end, it has the CRC-32 of every byte of the file.
 */
#include "wr_int.h"

#include "backup.h"
#include "logread.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NLINES 3000
#define MAX_LINE 300

/* Refuse every document whose "n" is a multiple of 7 (as migrate's size
 * checks refuse a document). */
static int check_fn(void *arg, const wri_jsonl_line *line, bson_t *key,
                    char *why, size_t whylen)
{
    bson_iter_t it;
    wr_errbuf kb = {0};
    (void)arg;
    if (bson_iter_init_find(&it, &line->doc, "n") &&
        BSON_ITER_HOLDS_INT32(&it) && bson_iter_int32(&it) % 7 == 0) {
        snprintf(why, whylen, "n is a multiple of 7");
        return WR_EBADINPUT;
    }
    return wri_key_from_doc(&line->doc, key, &kb);
}

/* A log of NLINES lines: documents, with a malformed line every 97, a
 * blank line every 101, a too-long line at 1500 and a torn last line. */
static void write_log(const char *path)
{
    FILE *fp = fopen(path, "w");
    for (int i = 1; i <= NLINES; i++) {
        if (i % 97 == 0)
            fprintf(fp, "{\"_id\": %d, \"n\": NaN}\n", i);
        else if (i % 101 == 0)
            fprintf(fp, "   \n");
        else if (i == 1500)
            fprintf(fp, "{\"_id\": %d, \"s\": \"%0*d\"}\n", i, MAX_LINE, 0);
        else if (i % 13 == 0)
            fprintf(fp, "{\"_id\": %d, \"$deleted\": true}\n", i - 1);
        else
            fprintf(fp, "{\"_id\": %d, \"n\": %d, \"s\": \"line %d\"}\n", i,
                    i, i);
    }
    fprintf(fp, "{\"_id\": \"torn\", \"n\": ");
    fclose(fp);
}

typedef struct seen {
    int rc;
    uint64_t lineno, offset;
    bool torn, is_delete, unparsed;
    char msg[1024];
    uint8_t doc[128], key[64];
    uint32_t doclen, keylen;
} seen;

static void record(seen *s, int rc, const wri_jsonl_line *line,
                   const bson_t *key, bool unparsed, const wr_errbuf *eb)
{
    memset(s, 0, sizeof *s);
    s->rc = rc;
    s->lineno = line->lineno;
    s->offset = line->offset;
    s->torn = line->torn;
    s->unparsed = unparsed;
    if (rc != WR_OK) {
        snprintf(s->msg, sizeof s->msg, "%s", eb->msg);
        return;
    }
    s->is_delete = line->is_delete;
    s->doclen = line->doc.len < sizeof s->doc ? line->doc.len : 0;
    memcpy(s->doc, bson_get_data(&line->doc), s->doclen);
    s->keylen = key->len < sizeof s->key ? key->len : 0;
    memcpy(s->key, bson_get_data(key), s->keylen);
}

/* The one-thread reference: the line reader parsing, then the check. */
static size_t reference(const char *path, seen *out, size_t max)
{
    wri_jsonl *r = NULL;
    wri_jsonl_line line;
    wr_errbuf eb = {0};
    size_t n = 0;
    memset(&line, 0, sizeof line);
    if (wri_jsonl_open(path, &r, &eb) != WR_OK)
        return 0;
    wri_jsonl_set_max_line(r, MAX_LINE);
    for (int rc; n < max && (rc = wri_jsonl_next(r, &line, &eb)) != 1;) {
        if (rc == WR_OK) {
            bson_t key;
            char why[512];
            int crc = check_fn(NULL, &line, &key, why, sizeof why);
            if (crc == WR_OK) {
                record(&out[n++], WR_OK, &line, &key, false, &eb);
                bson_destroy(&key);
            } else {
                wr_errbuf cb = {0};
                WR_ERR(&cb, crc, "%s: line %llu (byte %llu): %s", path,
                       (unsigned long long)line.lineno,
                       (unsigned long long)line.offset, why);
                record(&out[n++], crc, &line, NULL, false, &cb);
            }
        } else if (rc == WR_EBADINPUT) {
            record(&out[n++], rc, &line, NULL, true, &eb);
        } else {
            break;
        }
        wr_errbuf_clear(&eb);
    }
    wri_jsonl_close(r);
    return n;
}

static void test_logread_matches_one_thread_read(void)
{
    char path[512];
    static seen want[NLINES + 1], got[NLINES + 1];
    size_t nw, ng = 0;
    wri_logread *lr = NULL;
    wr_errbuf eb = {0};
    /* small batches (the 32 KiB floor): many of them, ring wrapped */
    wri_logread_opts o = {.memory = 1, .check = check_fn, .max_line = MAX_LINE,
                          .crc = true};
    int rc;
    uint64_t size, fsize;
    uint32_t crc, fcrc;
    snprintf(path, sizeof path, "%s/order.log", tap_tmpdir());
    write_log(path);
    nw = reference(path, want, NLINES + 1);
    REQUIRE(nw > 2800);
    REQUIRE_OK(wri_logread_open(path, &o, &lr, &eb), &eb);
    CHECK(!wri_logread_crc(lr, &size, &crc)); /* not before the end */
    for (;;) {
        const wri_jsonl_line *line;
        const bson_t *key;
        bool unparsed;
        rc = wri_logread_next(lr, &line, &key, &unparsed, &eb);
        if (rc == 1 || (rc != WR_OK && rc != WR_EBADINPUT) || ng == nw)
            break;
        CHECK(rc == WR_OK ? key != NULL : key == NULL);
        record(&got[ng++], rc, line, key, unparsed, &eb);
        wr_errbuf_clear(&eb);
    }
    CHECK_EQ(rc, 1);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(wri_logread_bytes_read(lr), st.st_size);
    /* the CRC of every byte, the skipped overlong line and the torn last
     * line included: what the file holds */
    REQUIRE_OK(wri_file_crc(path, &fsize, &fcrc, &eb), &eb);
    CHECK(wri_logread_crc(lr, &size, &crc));
    CHECK_EQ(size, fsize);
    CHECK_EQ(crc, fcrc);
    wri_logread_close(lr);
    REQUIRE_EQ(ng, nw);
    size_t bad = 0, refused = 0, deletes = 0;
    for (size_t i = 0; i < nw; i++) {
        if (memcmp(&got[i], &want[i], sizeof got[i]) != 0) {
            TAP_FAIL("entry %zu (line %llu) differs: rc %d/%d, msg '%s' / "
                     "'%s'",
                     i, (unsigned long long)want[i].lineno, got[i].rc,
                     want[i].rc, got[i].msg, want[i].msg);
            break;
        }
        bad += got[i].unparsed;
        refused += got[i].rc == WR_EBADINPUT && !got[i].unparsed;
        deletes += got[i].is_delete;
    }
    /* the kinds of line the log holds all came through */
    CHECK(bad > 30);
    CHECK(refused > 300);
    CHECK(deletes > 100);
    CHECK(got[nw - 1].torn && got[nw - 1].unparsed);
    CHECK(strstr(got[nw - 1].msg, "line 3001 (byte") != NULL);
}

/* A line the line reader itself refuses (too long) comes in its place,
 * after the lines before it, and reading goes on after it. */
static void test_logread_refused_line_in_place(void)
{
    char path[512];
    wri_logread *lr = NULL;
    wr_errbuf eb = {0};
    wri_logread_opts o = {.max_line = 64};
    const wri_jsonl_line *line;
    const bson_t *key;
    bool unparsed;
    snprintf(path, sizeof path, "%s/long.log", tap_tmpdir());
    FILE *fp = fopen(path, "w");
    fprintf(fp, "{\"_id\": 1}\n{\"_id\": 2, \"s\": \"%0100d\"}\n{\"_id\": 3}\n",
            0);
    fclose(fp);
    REQUIRE_OK(wri_logread_open(path, &o, &lr, &eb), &eb);
    CHECK_EQ(wri_logread_next(lr, &line, &key, &unparsed, &eb), WR_OK);
    CHECK_EQ(line->lineno, 1);
    CHECK_EQ(wri_logread_next(lr, &line, &key, &unparsed, &eb),
             WR_EBADINPUT);
    CHECK_EQ(line->lineno, 2);
    CHECK(unparsed);
    CHECK(strstr(eb.msg, "line 2") != NULL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_logread_next(lr, &line, &key, &unparsed, &eb), WR_OK);
    CHECK_EQ(line->lineno, 3);
    CHECK_EQ(wri_logread_next(lr, &line, &key, &unparsed, &eb), 1);
    CHECK_EQ(wri_logread_next(lr, &line, &key, &unparsed, &eb), 1);
    wri_logread_close(lr);
}

/* Closing in the middle (the first bad line stops a migration) joins the
 * threads and frees every batch in flight (ASan checks the leaks). */
static void test_logread_stop_early(void)
{
    char path[512];
    wri_logread *lr = NULL;
    wr_errbuf eb = {0};
    wri_logread_opts o = {.memory = 1, .check = check_fn, .max_line = MAX_LINE,
                          .crc = true};
    const wri_jsonl_line *line;
    const bson_t *key;
    bool unparsed;
    uint64_t size;
    uint32_t crc;
    snprintf(path, sizeof path, "%s/stop.log", tap_tmpdir());
    write_log(path);
    REQUIRE_OK(wri_logread_open(path, &o, &lr, &eb), &eb);
    int rc;
    while ((rc = wri_logread_next(lr, &line, &key, &unparsed, &eb)) == WR_OK)
        ;
    CHECK_EQ(rc, WR_EBADINPUT);
    CHECK_EQ(line->lineno, 7); /* n = 7 refused by the check */
    CHECK(!unparsed);
    CHECK(strstr(eb.msg, "stop.log: line 7 (byte ") != NULL);
    CHECK(strstr(eb.msg, "n is a multiple of 7") != NULL);
    CHECK(!wri_logread_crc(lr, &size, &crc)); /* not read to the end */
    wri_logread_close(lr);
    wri_logread_close(NULL);
}

static void test_logread_missing_file(void)
{
    char path[512];
    wri_logread *lr = NULL;
    wr_errbuf eb = {0};
    snprintf(path, sizeof path, "%s/absent.log", tap_tmpdir());
    CHECK_EQ(wri_logread_open(path, NULL, &lr, &eb), WR_ENOTFOUND);
    CHECK(lr == NULL);
    CHECK(strstr(eb.msg, "absent.log") != NULL);
}

int main(void)
{
    RUN(test_logread_matches_one_thread_read);
    RUN(test_logread_refused_line_in_place);
    RUN(test_logread_stop_early);
    RUN(test_logread_missing_file);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tap_tmpdir());
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tap_tmpdir());
    return tap_done();
}
