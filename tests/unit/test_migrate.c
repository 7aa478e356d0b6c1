/*
 * test_migrate.c -- legacy directory listing, backups and manifests, the
 * replace protocol's restart rules, wr_migrate end to end (index sorter
 * spills, interruption, a log changing underneath), the automatic
 * migration of wr_db_open, and an in-process crash sweep that tears every
 * write at several lengths and fails every op with EIO.
 */
#include "helper_fill.h"
#include "tap.h"
#include "wr_int.h"
#include "legacy.h"
#include "migrate.h"
#include "replace.h"
#include "helper_dirsnap.h"
#include "helper_power.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", tap_tmpdir(), name);
    return p;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f == NULL)
        return;
    fputs(text, f);
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static const char *fresh_dir(const char *name)
{
    const char *d = tmp_path(name);
    sh("rm -rf '%s' && mkdir -p '%s'", d, d);
    return d;
}

/* Digest of every collection of a database, "name:count:hex;..." */
static int db_digests(const char *dir, char *out, size_t len)
{
    wr_db *db = NULL;
    wr_errbuf eb = {0};
    wr_db_opts ro = {.readonly = true};
    size_t k = 0;
    out[0] = '\0';
    if (wr_db_open(dir, &ro, &db, &eb) != WR_OK)
        return -1;
    for (size_t i = 0; i < wr_db_ncoll(db); i++) {
        wr_coll *c;
        uint8_t dg[WR_DIGEST_LEN];
        char hex[2 * WR_DIGEST_LEN + 1];
        uint64_t n;
        if (wr_coll_open(db, wr_db_coll_name(db, i), false, &c, &eb) != WR_OK ||
            wr_coll_digest(c, dg, &n, &eb) != WR_OK) {
            wr_db_close(db);
            return -1;
        }
        wr_digest_hex(WR_DIGEST_SHA256, dg, hex);
        k += (size_t)snprintf(out + k, len - k, "%s:%llu:%s;",
                              wr_db_coll_name(db, i), (unsigned long long)n,
                              hex);
    }
    wr_db_close(db);
    return 0;
}

static int migrate(const char *dir, wr_migrate_stats *st, wr_errbuf *eb)
{
    wr_migrate_opts o = {.dir = dir};
    wr_errbuf_clear(eb);
    return wr_migrate(&o, st, eb);
}

/* --- legacy listing ------------------------------------------------------ */

static void test_legacy_scan_kinds(void)
{
    wri_legacy_dir ld;
    wr_errbuf eb = {0};
    CHECK_EQ(wri_legacy_scan(tmp_path("nope"), &ld, &eb), WR_ENOTFOUND);
    const char *d = fresh_dir("scan");
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_legacy_scan(d, &ld, &eb), &eb);
    CHECK_EQ(ld.kind, WRI_DIR_EMPTY);
    wri_legacy_free(&ld);
    write_file(d, "a.log", "");
    write_file(d, "a.b.log", "");
    write_file(d, "a.b.c.idx", "junk");   /* a.b on c (longest name) */
    write_file(d, "a.x.y.idx", "");       /* a on x.y */
    write_file(d, "zz.q.idx", "");        /* orphan */
    write_file(d, ".hidden.log", "");     /* not looked at */
    write_file(d, "notes.txt", "");
    REQUIRE_OK(wri_legacy_scan(d, &ld, &eb), &eb);
    CHECK_EQ(ld.kind, WRI_DIR_LEGACY);
    REQUIRE_EQ(ld.ncoll, 2);
    CHECK(strcmp(ld.coll[0].name, "a") == 0);
    CHECK(strcmp(ld.coll[1].name, "a.b") == 0);
    REQUIRE_EQ(ld.coll[0].nfields, 1);
    CHECK(strcmp(ld.coll[0].fields[0], "x.y") == 0);
    REQUIRE_EQ(ld.coll[1].nfields, 1);
    CHECK(strcmp(ld.coll[1].fields[0], "c") == 0);
    CHECK_EQ(ld.norphans, 1);
    CHECK_EQ(ld.nfiles, 5);
    CHECK(wri_legacy_is_file(&ld, "zz.q.idx"));
    CHECK(!wri_legacy_is_file(&ld, "notes.txt"));
    REQUIRE_OK(wri_legacy_add_index(&ld, "a.b.k", &eb), &eb);
    CHECK_EQ(ld.coll[1].nfields, 2);
    REQUIRE_OK(wri_legacy_add_index(&ld, "a.b.k", &eb), &eb); /* no dup */
    CHECK_EQ(ld.coll[1].nfields, 2);
    CHECK_EQ(wri_legacy_add_index(&ld, "q.k", &eb), WR_EINVAL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_legacy_add_index(&ld, "a.$bad", &eb), WR_EINVAL);
    wr_errbuf_clear(&eb);
    wri_legacy_free(&ld);
    write_file(d, WR_CATALOG_NAME, "");
    REQUIRE_OK(wri_legacy_scan(d, &ld, &eb), &eb);
    CHECK_EQ(ld.kind, WRI_DIR_MIXED);
    wri_legacy_free(&ld);
    /* a log name that cannot be a collection name */
    const char *e = fresh_dir("scan-bad");
    write_file(e, "bad\001name.log", "");
    CHECK_EQ(wri_legacy_scan(e, &ld, &eb), WR_EBADINPUT);
    CHECK(strstr(eb.msg, "control") != NULL);
}

/* --- backups ----------------------------------------------------------------- */

static void test_backup_manifest_and_reuse(void)
{
    wr_errbuf eb = {0};
    wri_backup b, r;
    const char *d = fresh_dir("bk");
    write_file(d, "x.log", "{\"_id\": 1}\n");
    write_file(d, "y name.log", "{\"_id\": 2}\n{\"_id\": 3}\n");
    char px[600], py[600];
    snprintf(px, sizeof px, "%s/x.log", d);
    snprintf(py, sizeof py, "%s/y name.log", d);
    /* byte copies (share false): a damaged copy below is the copy alone */
    wri_backup_src src[2] = {{px, "x.log", false, 0, 0, false},
                             {py, "y name.log", false, 0, 0, false}};
    REQUIRE_OK(wri_file_crc(px, &src[0].size, &src[0].crc, &eb), &eb);
    REQUIRE_OK(wri_file_crc(py, &src[1].size, &src[1].crc, &eb), &eb);
    src[0].check = src[1].check = true;
    REQUIRE_OK(wri_backup_make(d, NULL, src, 2, &b, &eb), &eb);
    CHECK(!b.reused);
    CHECK(strstr(b.path, "/" WRI_BACKUP_PREFIX) != NULL);
    REQUIRE_OK(wri_backup_read(b.path, &r, &eb), &eb);
    CHECK_EQ(r.nfiles, 2);
    const wri_backup_file *f = wri_backup_find(&r, "y name.log");
    REQUIRE(f != NULL);
    CHECK_EQ(f->size, src[1].size);
    CHECK_EQ(f->crc, src[1].crc);
    REQUIRE_OK(wri_backup_check(&r, &eb), &eb);
    wri_backup_free(&r);
    /* the same bytes again: the complete backup is reused */
    wri_backup b2;
    REQUIRE_OK(wri_backup_make(d, NULL, src, 2, &b2, &eb), &eb);
    CHECK(b2.reused);
    CHECK(strcmp(b2.path, b.path) == 0);
    wri_backup_free(&b2);
    /* a damaged copy is caught by the check */
    sh("echo x >> '%s/x.log'", b.path);
    CHECK_EQ(wri_backup_check(&b, &eb), WR_EIO);
    CHECK(strstr(eb.msg, "does not match") != NULL);
    wr_errbuf_clear(&eb);
    /* a damaged manifest is refused */
    sh("sed -i 's/^\\([0-9a-f]*\\) 11 /\\1 12 /' '%s/MANIFEST'", b.path);
    CHECK_EQ(wri_backup_read(b.path, &r, &eb), WR_ECORRUPT);
    wr_errbuf_clear(&eb);
    /* a source that changed since the caller read it is refused */
    src[0].crc ^= 1;
    CHECK_EQ(wri_backup_make(d, tmp_path("bk-other"), src, 2, &b2, &eb),
             WR_EIO);
    CHECK(strstr(eb.msg, "changed while it was being migrated") != NULL);
    wri_backup_free(&b2);
    wr_errbuf_clear(&eb);
    src[0].crc ^= 1;
    /* an unfinished backup there (no MANIFEST) is taken over */
    REQUIRE_OK(wri_backup_make(d, tmp_path("bk-other"), src, 2, &b2, &eb),
               &eb);
    CHECK(!b2.reused);
    wri_backup_free(&b2);
    /* a directory with other things in it is not used */
    const char *o = fresh_dir("bk-foreign");
    write_file(o, "keep.txt", "mine");
    CHECK_EQ(wri_backup_make(d, o, src, 2, &b2, &eb), WR_EEXIST);
    wri_backup_free(&b2);
    wri_backup_free(&b);
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

static dev_t dev_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_dev : 0;
}

/* A log backed up with share: the same file (a hard link; on this test
 * machine's file systems there are no reflinks) in a backup on the same
 * file system, a byte copy on another one; without share always a copy.
 * Each is fsynced, listed in the manifest and checked against it. */
static void test_backup_shares_or_copies(void)
{
    wr_errbuf eb = {0};
    wri_backup b;
    const char *d = fresh_dir("bk-share");
    write_file(d, "a.log", "{\"_id\": 1}\n{\"_id\": 2}\n");
    char pa[600], pb[1200];
    snprintf(pa, sizeof pa, "%s/a.log", d);
    wri_backup_src src[1] = {{pa, "a.log", true, 0, 0, true}};
    REQUIRE_OK(wri_file_crc(pa, &src[0].size, &src[0].crc, &eb), &eb);
    /* same file system, share: a link to the same file */
    REQUIRE_OK(wri_backup_make(d, tmp_path("bk-share-same"), src, 1, &b, &eb),
               &eb);
    snprintf(pb, sizeof pb, "%s/a.log", b.path);
    CHECK(inode_of(pb) != 0);
    CHECK(inode_of(pb) == inode_of(pa));
    REQUIRE_OK(wri_backup_check(&b, &eb), &eb);
    wri_backup_free(&b);
    /* same file system, no share: a copy */
    src[0].share = false;
    REQUIRE_OK(wri_backup_make(d, tmp_path("bk-share-copy"), src, 1, &b, &eb),
               &eb);
    snprintf(pb, sizeof pb, "%s/a.log", b.path);
    CHECK(inode_of(pb) != 0 && inode_of(pb) != inode_of(pa));
    REQUIRE_OK(wri_backup_check(&b, &eb), &eb);
    wri_backup_free(&b);
    /* another file system (the scratch directory is on a tmpfs or not;
     * one of these is elsewhere), share: a copy */
    static const char *const cands[] = {"/tmp", "/var/tmp", "/dev/shm"};
    char other[200] = "";
    for (size_t i = 0; i < 3 && other[0] == '\0'; i++)
        if (access(cands[i], W_OK) == 0 && dev_of(cands[i]) != dev_of(d))
            snprintf(other, sizeof other, "%s/wr-test-bk-%d", cands[i],
                     (int)getpid());
    if (other[0] == '\0') {
        printf("# no second file system here: the copy across file systems "
               "is not tested\n");
        return;
    }
    sh("rm -rf '%s'", other);
    REQUIRE_OK(wri_backup_make(d, other, src, 1, &b, &eb), &eb);
    snprintf(pb, sizeof pb, "%s/a.log", other);
    CHECK(dev_of(pb) != dev_of(pa));
    REQUIRE_OK(wri_backup_check(&b, &eb), &eb);
    uint64_t size;
    uint32_t crc;
    REQUIRE_OK(wri_file_crc(pb, &size, &crc, &eb), &eb);
    CHECK_EQ(size, src[0].size);
    CHECK_EQ(crc, src[0].crc);
    wri_backup_free(&b);
    sh("rm -rf '%s'", other);
}

/* Bytes this process has read so far (/proc/self/io rchar: every read
 * and pread, from the page cache or not); 0 if it cannot be had. */
static uint64_t bytes_read(void)
{
    char line[128];
    unsigned long long n = 0;
    FILE *fp = fopen("/proc/self/io", "r");
    while (fp != NULL && fgets(line, sizeof line, fp) != NULL)
        if (sscanf(line, "rchar: %llu", &n) == 1)
            break;
    if (fp != NULL)
        fclose(fp);
    return n;
}

/* A shared copy (here a hard link: the log itself) is read once, for its
 * CRC, not read back again after the manifest (that was a second pass over
 * the whole log, the same bytes against the same CRC); a byte copy is
 * still read back: the source read as it is copied, then the copy. */
static void test_backup_reads_a_shared_copy_once(void)
{
    wr_errbuf eb = {0};
    wri_backup b;
    const char *d = fresh_dir("bk-reads");
    const size_t n = 4u << 20;
    char *text = malloc(n + 1);
    REQUIRE(text != NULL);
    for (size_t i = 0; i < n; i++)
        text[i] = i % 64 == 63 ? '\n' : 'a' + (char)(i % 26);
    text[n] = '\0';
    write_file(d, "big.log", text);
    free(text);
    char pa[600], pb[1200];
    snprintf(pa, sizeof pa, "%s/big.log", d);
    wri_backup_src src[1] = {{pa, "big.log", true, 0, 0, true}};
    REQUIRE_OK(wri_file_crc(pa, &src[0].size, &src[0].crc, &eb), &eb);
    REQUIRE(bytes_read() > 0);
    uint64_t before = bytes_read();
    REQUIRE_OK(wri_backup_make(d, tmp_path("bk-reads-link"), src, 1, &b, &eb),
               &eb);
    uint64_t shared = bytes_read() - before;
    snprintf(pb, sizeof pb, "%s/big.log", b.path);
    CHECK(inode_of(pb) == inode_of(pa)); /* a hard link */
    CHECK(b.nfiles == 1 && b.files[0].shared);
    wri_backup_free(&b);
    src[0].share = false;
    before = bytes_read();
    REQUIRE_OK(wri_backup_make(d, tmp_path("bk-reads-copy"), src, 1, &b, &eb),
               &eb);
    uint64_t copied = bytes_read() - before;
    CHECK(b.nfiles == 1 && !b.files[0].shared);
    wri_backup_free(&b);
    printf("# bytes read backing up a %zu-byte log: %llu shared, %llu "
           "copied\n",
           n, (unsigned long long)shared, (unsigned long long)copied);
    CHECK(shared >= n && shared < n + n / 2);
    CHECK(copied >= 2 * n);
}

/* --- migrations ------------------------------------------------------------------ */

static const char *TINY =
    "{\"_id\": 1, \"a\": \"x\", \"k\": 1}\n"
    "{\"_id\": 2, \"a\": \"y\", \"k\": [2, 3]}\n"
    "{\"_id\": 3, \"a\": \"z\", \"k\": 3}\n"
    "{\"_id\": 2, \"a\": \"y2\", \"k\": 5}\n"
    "{\"_id\": 1, \"$deleted\": true}\n";

static void make_tiny(const char *d)
{
    sh("rm -rf '%s' && mkdir -p '%s'", d, d);
    write_file(d, "t.log", TINY);
    write_file(d, "t.k.idx", "");
}

/* A migration reports a SHA-256 digest or none: another kind is a usage
 * error before anything is read or written. */
static void test_migrate_refuses_other_digest_kinds(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    const char *d = tmp_path("kind");
    memset(&st, 0, sizeof st);
    make_tiny(d);
    wr_migrate_opts o = {.dir = d, .digest = WR_DIGEST_XXH128};
    CHECK_EQ(wr_migrate(&o, &st, &eb), WR_EINVAL);
    CHECK(strstr(eb.msg, "digest kind") != NULL);
    CHECK(exists(d, "t.log") && exists(d, "t.k.idx"));
    CHECK(!exists(d, "t.main.wr") && !exists(d, WRI_MIGRATE_STAGING));
    wr_migrate_stats_free(&st);
}

static void test_migrate_tiny_and_again(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    char dg[512];
    const char *d = tmp_path("tiny");
    make_tiny(d);
    REQUIRE_OK(migrate(d, &st, &eb), &eb);
    CHECK_EQ(st.state, WR_MIGRATE_LEGACY);
    CHECK_EQ(st.live, 2);
    CHECK_EQ(st.updated, 1);
    CHECK_EQ(st.deleted, 1);
    CHECK_EQ(st.puts, 4);
    CHECK_EQ(st.deletes, 1);
    REQUIRE_EQ(st.ncoll, 1);
    CHECK_EQ(st.coll[0].nindex, 1);
    CHECK(st.coll[0].digest[0] == '\0'); /* none unless opts.digest */
    wr_migrate_stats_free(&st);
    CHECK(!exists(d, "t.log") && !exists(d, "t.k.idx"));
    CHECK(exists(d, "t.main.wr") && exists(d, "t.idx.k.wr"));
    CHECK(!exists(d, WRI_MIGRATE_STAGING) && !exists(d, WRI_MIGRATE_JOURNAL));
    REQUIRE_OK(wr_verify_simple(d, false, &eb), &eb);
    REQUIRE(db_digests(d, dg, sizeof dg) == 0);
    CHECK(strncmp(dg, "t:2:", 4) == 0);
    REQUIRE_OK(migrate(d, &st, &eb), &eb);
    CHECK_EQ(st.state, WR_MIGRATE_DONE);
    wr_migrate_stats_free(&st);
}

/* A log several times the budget with an index: both the main and the
 * index sorter spill, and the content check still passes. */
static void test_migrate_index_sorter_spills(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    const char *d = fresh_dir("spill");
    char p[600];
    snprintf(p, sizeof p, "%s/s.log", d);
    FILE *f = fopen(p, "w");
    REQUIRE(f != NULL);
    for (int i = 0; i < 12000; i++)
        fprintf(f, "{\"_id\": %d, \"k\": [\"key-%07d-%0200d\", %d], "
                   "\"n\": %d}\n",
                (i * 7919) % 100003, (i * 31) % 9973, i, i, i);
    for (int i = 0; i < 3000; i++)
        fprintf(f, "{\"_id\": %d, \"$deleted\": true}\n", (i * 7919 * 3) % 100003);
    fclose(f);
    write_file(d, "s.k.idx", "");
    wr_migrate_opts o = {.dir = d, .memory = 1u << 20};
    REQUIRE_OK(wr_migrate(&o, &st, &eb), &eb);
    printf("# %llu live, %llu sort runs, %llu bytes spilled, peak %llu\n",
           (unsigned long long)st.live, (unsigned long long)st.sort_runs,
           (unsigned long long)st.sort_spilled,
           (unsigned long long)st.sort_peak);
    CHECK(st.sort_runs > 4); /* main and index sorters */
    CHECK(st.sort_peak <= (1u << 20) + (64u << 10));
    CHECK_EQ(st.live + st.deleted, 12000 - st.updated);
    wr_migrate_stats_free(&st);
    REQUIRE_OK(wr_verify_simple(d, false, &eb), &eb);
    /* bulk-built full (issue 13): no page but the last of its level had
     * room for the first item of the next */
    static const char *const files[] = {"s.main.wr", "s.idx.k.wr"};
    for (int i = 0; i < 2; i++) {
        fill_report fr;
        snprintf(p, sizeof p, "%s/%s", d, files[i]);
        CHECK_EQ(fill_check(p, &fr), 0);
        CHECK(fr.leaves > 1);
        CHECK_EQ(fr.not_full, 0);
        if (fr.not_full != 0)
            printf("# %s: %s\n", files[i], fr.first);
    }
}

static int interrupt_flag;
static void interrupt_on_build(const wr_migrate_stats *st, void *arg)
{
    if (st->phase != NULL && strcmp(st->phase, (const char *)arg) == 0)
        interrupt_flag = 1;
}

static void test_migrate_interrupted_leaves_legacy(void)
{
    const char *phases[] = {"reading", "building", "checking"};
    for (size_t i = 0; i < 3; i++) {
        wr_errbuf eb = {0};
        wr_migrate_stats st;
        const char *d = tmp_path("intr");
        make_tiny(d);
        interrupt_flag = 0;
        wr_migrate_opts o = {.dir = d, .progress = interrupt_on_build,
                             .progress_arg = (void *)phases[i],
                             .interrupted = &interrupt_flag};
        CHECK_EQ(wr_migrate(&o, &st, &eb), WR_EINTR);
        wr_migrate_stats_free(&st);
        CHECK(exists(d, "t.log") && !exists(d, WR_CATALOG_NAME));
        CHECK(!exists(d, WRI_MIGRATE_STAGING));
        CHECK(!exists(d, "t.main.wr"));
    }
}

/* Stands in for a bug between the build and the commit: one staged
 * document changed, its size, _id and index key kept, through the engine
 * (so the staged database still verifies clean). */
static void change_staged_doc(const wr_migrate_stats *st, void *arg)
{
    static bool done;
    const char *d = arg;
    if (st->phase == NULL || strcmp(st->phase, "verifying") != 0 || done)
        return;
    done = true;
    wr_errbuf eb = {0};
    wr_db_opts o = {.holder = "test"};
    wr_db *db = NULL;
    wr_coll *c = NULL;
    char staging[600];
    snprintf(staging, sizeof staging, "%s/%s", d, WRI_MIGRATE_STAGING);
    bson_t *doc = BCON_NEW("_id", BCON_INT32(3), "a", BCON_UTF8("q"),
                           "k", BCON_INT32(3));
    if (wr_db_open(staging, &o, &db, &eb) != WR_OK ||
        wr_coll_open(db, "t", false, &c, &eb) != WR_OK ||
        wr_coll_put(c, doc, NULL, &eb) != WR_OK ||
        wr_db_checkpoint(db, &eb) != WR_OK)
        TAP_FAIL("changing the staged document: %s", eb.msg);
    bson_destroy(doc);
    wr_db_close(db);
}

/* The content check compares what the build fed with what the new file's
 * verify read (fingerprints): a staged document that differs is refused,
 * nothing replaced, although the staged database verifies clean. */
static void test_migrate_content_check_finds_a_changed_document(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    const char *d = tmp_path("changed");
    make_tiny(d);
    wr_migrate_opts o = {.dir = d, .progress = change_staged_doc,
                         .progress_arg = (void *)d};
    CHECK_EQ(wr_migrate(&o, &st, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "content check") != NULL &&
          strstr(eb.msg, "fingerprints differ") != NULL);
    if (strstr(eb.msg, "fingerprints differ") == NULL)
        printf("# %s\n", eb.msg);
    wr_migrate_stats_free(&st);
    CHECK(exists(d, "t.log") && !exists(d, WR_CATALOG_NAME));
    CHECK(!exists(d, "t.main.wr"));
    /* unchanged, the same log migrates */
    wr_errbuf eb2 = {0};
    REQUIRE_OK(migrate(d, &st, &eb2), &eb2);
    wr_migrate_stats_free(&st);
    CHECK(exists(d, "t.main.wr") && !exists(d, "t.log"));
}

/* A legacy writer appending while the migration reads: refused, nothing
 * replaced. */
static void append_once(const wr_migrate_stats *st, void *arg)
{
    static int done;
    if (st->phase != NULL && strcmp(st->phase, "backing up") == 0 && !done) {
        done = 1;
        sh("echo '{\"_id\": 99}' >> '%s/t.log'", (const char *)arg);
    }
}

static void test_migrate_refuses_a_log_changing_underneath(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    const char *d = tmp_path("changing");
    make_tiny(d);
    wr_migrate_opts o = {.dir = d, .progress = append_once,
                         .progress_arg = (void *)d};
    CHECK_EQ(wr_migrate(&o, &st, &eb), WR_EIO);
    CHECK(strstr(eb.msg, "changed while it was being migrated") != NULL);
    wr_migrate_stats_free(&st);
    CHECK(exists(d, "t.log") && !exists(d, WR_CATALOG_NAME));
    /* a rerun takes the new line in */
    REQUIRE_OK(migrate(d, &st, &eb), &eb);
    CHECK_EQ(st.live, 3);
    wr_migrate_stats_free(&st);
}

/* --- restart rules ------------------------------------------------------------------ */

#define OPS_MAX 256

typedef struct op_log {
    char what[OPS_MAX][16];
    char path[OPS_MAX][256];
    size_t len[OPS_MAX];
    uint64_t count;
    pw_lock_ops lock; /* which ops release the directory lock */
} op_log;

static void trace_ops(uint64_t op, const char *what, const char *path,
                      uint64_t off, size_t len, void *arg)
{
    op_log *l = arg;
    if (op <= OPS_MAX) {
        snprintf(l->what[op - 1], 16, "%s", what);
        snprintf(l->path[op - 1], 256, "%s", path);
        l->len[op - 1] = len;
    }
    pw_lock_note(&l->lock, op, what, path);
    l->count = op;
}

/* Learn the ops of a migration of a tiny directory. */
static void learn_ops(op_log *l)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    const char *d = tmp_path("learn");
    make_tiny(d);
    memset(l, 0, sizeof *l);
    wri_io_fault_set(NULL);
    wri_io_trace_set(trace_ops, l);
    int rc = migrate(d, &st, &eb);
    wri_io_trace_set(NULL, NULL);
    wr_migrate_stats_free(&st);
    CHECK_EQ(rc, WR_OK);
    CHECK(l->count <= OPS_MAX);
}

/* The op number of the first op whose path ends with suffix. */
static uint64_t op_named(const op_log *l, const char *what, const char *suffix)
{
    for (uint64_t i = 0; i < l->count && i < OPS_MAX; i++) {
        size_t n = strlen(l->path[i]), s = strlen(suffix);
        if (strcmp(l->what[i], what) == 0 && n >= s &&
            strcmp(l->path[i] + n - s, suffix) == 0)
            return i + 1;
    }
    return 0;
}

/* Run a migration of d in a child that crashes at op n (tear bytes). */
static int crash_at(const char *d, uint64_t n, size_t tear)
{
    pid_t pid = fork();
    if (pid == 0) {
        wr_errbuf eb = {0};
        wr_migrate_stats st;
        wri_fault_plan p = {.kind = WRI_FAULT_CRASH, .at = n, .tear = tear};
        wri_io_fault_set(&p);
        migrate(d, &st, &eb);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static op_log l; /* big: keep it off the stack */

static void test_restart_rolls_back_when_the_log_changed(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    learn_ops(&l);
    /* crash right after the journal landed, before any move */
    uint64_t j = op_named(&l, "rename", WRI_MIGRATE_JOURNAL ".tmp");
    REQUIRE(j > 0);
    const char *d = tmp_path("rollback");
    make_tiny(d);
    REQUIRE_EQ(crash_at(d, j + 2, 0), WRI_IO_CRASH_EXIT);
    REQUIRE(exists(d, WRI_MIGRATE_JOURNAL));
    /* a legacy writer appends before anyone reruns */
    sh("echo '{\"_id\": 77, \"late\": true}' >> '%s/t.log'", d);
    REQUIRE_OK(migrate(d, &st, &eb), &eb);
    CHECK_EQ(st.live, 3); /* the late line is in */
    bool noted = false;
    for (size_t i = 0; i < st.nnotes; i++)
        noted = noted || strstr(st.notes[i], "rolled back") != NULL;
    CHECK(noted);
    wr_migrate_stats_free(&st);
    REQUIRE_OK(wr_verify_simple(d, false, &eb), &eb);
}

static void test_restart_refuses_a_foreign_catalog(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    learn_ops(&l);
    uint64_t j = op_named(&l, "rename", WRI_MIGRATE_JOURNAL ".tmp");
    REQUIRE(j > 0);
    const char *d = tmp_path("foreign");
    make_tiny(d);
    REQUIRE_EQ(crash_at(d, j + 2, 0), WRI_IO_CRASH_EXIT);
    /* someone makes a database here in the meantime */
    const char *other = tmp_path("foreign-src");
    make_tiny(other);
    REQUIRE_OK(migrate(other, &st, &eb), &eb);
    wr_migrate_stats_free(&st);
    sh("cp '%s/" WR_CATALOG_NAME "' '%s/'", other, d);
    sh("echo junk >> '%s/" WR_CATALOG_NAME "'", d);
    CHECK_EQ(migrate(d, &st, &eb), WR_EEXIST);
    CHECK(strstr(eb.msg, "refusing") != NULL);
    CHECK_EQ(st.state, WR_MIGRATE_MIXED);
    wr_migrate_stats_free(&st);
    CHECK(exists(d, WRI_MIGRATE_JOURNAL) && exists(d, "t.log"));
}

static void test_restart_keeps_a_legacy_file_changed_after_the_commit(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    learn_ops(&l);
    /* crash at the first removal of a legacy file: committed already */
    uint64_t u = op_named(&l, "unlink", "/t.k.idx");
    REQUIRE(u > 0);
    const char *d = tmp_path("kept");
    make_tiny(d);
    REQUIRE_EQ(crash_at(d, u, 0), WRI_IO_CRASH_EXIT);
    REQUIRE(exists(d, WR_CATALOG_NAME));
    sh("echo '{\"_id\": 5}' >> '%s/t.log'", d);
    CHECK_EQ(migrate(d, &st, &eb), WR_EEXIST); /* finished, then: mixed */
    CHECK(strstr(eb.msg, "changed after they were backed up") != NULL);
    CHECK_EQ(st.state, WR_MIGRATE_MIXED);
    wr_migrate_stats_free(&st);
    CHECK(exists(d, "t.log") && !exists(d, "t.k.idx"));
    CHECK(!exists(d, WRI_MIGRATE_JOURNAL));
    REQUIRE_OK(wr_verify_simple(d, false, &eb), &eb);
}

/* The state a power loss left on a file system that does not keep the
 * order of directory operations (issue 10): the commit and the moves out
 * of the staging directory lost, the removal of the legacy files kept.
 * Crash at the first removal (committed), then undo the moves by hand. */
static const char *gone_originals(const char *name)
{
    const char *d = tmp_path(name);
    make_tiny(d);
    uint64_t u = op_named(&l, "unlink", "/t.k.idx");
    if (u == 0 || crash_at(d, u, 0) != WRI_IO_CRASH_EXIT)
        return NULL;
    sh("cd '%s' && mv " WR_CATALOG_NAME " *.wr " WRI_MIGRATE_STAGING "/ && "
       "rm t.log t.k.idx", d);
    return exists(d, WR_CATALOG_NAME) || exists(d, "t.log") ? NULL : d;
}

static void test_restart_rolls_forward_when_the_originals_are_gone(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    char want[512], dg[512];
    learn_ops(&l);
    const char *ref = tmp_path("gone-ref");
    make_tiny(ref);
    REQUIRE_OK(migrate(ref, &st, &eb), &eb);
    wr_migrate_stats_free(&st);
    REQUIRE(db_digests(ref, want, sizeof want) == 0);
    const char *d = gone_originals("gone");
    REQUIRE(d != NULL);
    /* the staged database is the only complete copy in DIR: recovery
     * must roll it forward, not roll back and delete it */
    REQUIRE_OK(migrate(d, &st, &eb), &eb);
    CHECK_EQ(st.state, WR_MIGRATE_RESUMED);
    bool noted = false;
    for (size_t i = 0; i < st.nnotes; i++)
        noted = noted || strstr(st.notes[i], "rolled forward") != NULL;
    CHECK(noted);
    wr_migrate_stats_free(&st);
    CHECK(!exists(d, WRI_MIGRATE_JOURNAL) && !exists(d, WRI_MIGRATE_STAGING));
    REQUIRE_OK(wr_verify_simple(d, false, &eb), &eb);
    REQUIRE(db_digests(d, dg, sizeof dg) == 0);
    CHECK(strcmp(dg, want) == 0);
}

/* docs/LEGACY.md M1: a legacy file is removed only when a checked copy
 * exists; recovery never deletes the only copy. */
static void test_restart_never_deletes_the_only_copy(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    learn_ops(&l);
    /* the backup copy of a gone original does not check: refuse */
    const char *d = gone_originals("gone-badcopy");
    REQUIRE(d != NULL);
    sh("echo junk >> \"$(ls -d '%s'/" WRI_BACKUP_PREFIX "*)/t.log\"", d);
    CHECK_EQ(migrate(d, &st, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "refusing to touch anything") != NULL);
    wr_migrate_stats_free(&st);
    CHECK(exists(d, WRI_MIGRATE_JOURNAL));
    CHECK(exists(d, WRI_MIGRATE_STAGING "/" WR_CATALOG_NAME));
    CHECK(exists(d, WRI_MIGRATE_STAGING "/t.main.wr"));
    /* one original gone, another changed: refuse as well */
    d = gone_originals("gone-changed");
    REQUIRE(d != NULL);
    write_file(d, "t.log", "{\"_id\": 9}\n");
    CHECK_EQ(migrate(d, &st, &eb), WR_EEXIST);
    CHECK(strstr(eb.msg, "refusing to touch anything") != NULL);
    wr_migrate_stats_free(&st);
    CHECK(exists(d, WRI_MIGRATE_STAGING "/" WR_CATALOG_NAME));
    CHECK(exists(d, WRI_MIGRATE_STAGING "/t.main.wr"));
}

/* --- the in-process sweep ------------------------------------------------------------ */

/* Is d exactly the tiny legacy directory, give or take protocol debris? */
static bool still_legacy(const char *d, const char *orig)
{
    return !exists(d, WR_CATALOG_NAME) &&
           sh("cmp -s '%s/t.log' '%s/t.log' && cmp -s '%s/t.k.idx' "
              "'%s/t.k.idx'", d, orig, d, orig) == 0;
}

static bool finished(const char *d, const char *want)
{
    char dg[512];
    wr_errbuf eb = {0};
    return !exists(d, "t.log") && !exists(d, "t.k.idx") &&
           !exists(d, WRI_MIGRATE_JOURNAL) && !exists(d, WRI_MIGRATE_STAGING) &&
           wr_verify_simple(d, false, &eb) == WR_OK &&
           db_digests(d, dg, sizeof dg) == 0 && strcmp(dg, want) == 0 &&
           sh("test $(ls -d '%s'/" WRI_BACKUP_PREFIX "* | wc -l) -eq 1", d) == 0;
}

static bool finished2(const char *d, const char *want)
{
    return !exists(d, "t.a.idx") && finished(d, want);
}

/* A crash at every op (whole or torn) and EIO at every op: the directory
 * is the legacy one, byte for byte (docs/LEGACY.md M1, M2), or the new
 * database that verifies with the reference content (M3); an EIO aborts
 * to one of those (M5); a rerun finishes from wherever it stopped (M4). */
static void test_migrate_sweep_tears_and_eio(void)
{
    wr_errbuf eb = {0};
    wr_migrate_stats st;
    char want[512];
    const char *orig = tmp_path("sw-orig"), *d = tmp_path("sw");
    make_tiny(orig);
    learn_ops(&l);
    {
        const char *ref = tmp_path("sw-ref");
        make_tiny(ref);
        REQUIRE_OK(migrate(ref, &st, &eb), &eb);
        wr_migrate_stats_free(&st);
        REQUIRE(db_digests(ref, want, sizeof want) == 0);
    }
    int bad = 0, old = 0, neu = 0, cases = 0;
    for (uint64_t n = 1; n <= l.count && n <= OPS_MAX && bad < 5; n++) {
        size_t tears[4] = {0};
        int nt = 1;
        if (strcmp(l.what[n - 1], "pwrite") == 0 && l.len[n - 1] > 2) {
            tears[nt++] = 1;
            tears[nt++] = l.len[n - 1] / 2;
            tears[nt++] = l.len[n - 1] - 1;
        }
        for (int t = 0; t < nt + 1; t++) {
            sh("rm -rf '%s' && cp -a '%s' '%s'", d, orig, d);
            if (t < nt) {
                if (crash_at(d, n, tears[t]) != WRI_IO_CRASH_EXIT) {
                    TAP_FAIL("op %llu (%s): no crash", (unsigned long long)n,
                             l.what[n - 1]);
                    bad++;
                    continue;
                }
            } else { /* the op fails once with EIO instead */
                wri_fault_plan p = {.kind = WRI_FAULT_FAIL, .at = n,
                                    .err = WR_EIO};
                wri_io_fault_set(&p);
                int rc = migrate(d, &st, &eb);
                wri_io_fault_set(NULL);
                wr_migrate_stats_free(&st);
                /* the lock's release is best effort (helper_power.h) */
                if (rc != WR_EIO && !(rc == WR_OK &&
                                      pw_lock_release(&l.lock, n))) {
                    TAP_FAIL("op %llu (%s): EIO gave %d", (unsigned long long)n,
                             l.what[n - 1], rc);
                    bad++;
                }
            }
            cases++;
            char dg[512];
            if (still_legacy(d, orig)) {
                old++;
            } else if (exists(d, WR_CATALOG_NAME) &&
                       wr_verify_simple(d, false, &eb) == WR_OK &&
                       db_digests(d, dg, sizeof dg) == 0 &&
                       strcmp(dg, want) == 0) {
                neu++;
            } else {
                TAP_FAIL("op %llu (%s %s) case %d: neither old nor new: %s",
                         (unsigned long long)n, l.what[n - 1], l.path[n - 1],
                         t, eb.msg);
                wr_errbuf_clear(&eb);
                bad++;
                continue;
            }
            wr_errbuf_clear(&eb);
            int rc = migrate(d, &st, &eb);
            wr_migrate_stats_free(&st);
            if (rc != WR_OK || !finished(d, want)) {
                TAP_FAIL("op %llu (%s %s) case %d: the rerun did not finish "
                         "(%d: %s)", (unsigned long long)n, l.what[n - 1],
                         l.path[n - 1], t, rc, eb.msg);
                bad++;
            }
        }
    }
    printf("# %llu ops, %d cases: %d old, %d new\n",
           (unsigned long long)l.count, cases, old, neu);
    CHECK(old > 0 && neu > 0);
}

/* --- the power-loss sweep ------------------------------------------------------------ */

/* A legacy directory with two indexes on t (and, with bad, a bad line). */
static void make_two_index(const char *d, bool bad)
{
    make_tiny(d);
    write_file(d, "t.a.idx", "");
    if (bad)
        sh("echo '{\"_id\": 9, oops' >> '%s/t.log' && "
           "echo '{\"_id\": 10, \"a\": \"w\", \"k\": 7}' >> '%s/t.log'", d, d);
}

static bool still_legacy2(const char *d, const char *orig)
{
    return !exists(d, WR_CATALOG_NAME) &&
           sh("cmp -s '%s/t.log' '%s/t.log' && cmp -s '%s/t.k.idx' "
              "'%s/t.k.idx' && cmp -s '%s/t.a.idx' '%s/t.a.idx'",
              d, orig, d, orig, d, orig) == 0;
}

typedef struct pw_mig {
    const char *dir;
    bool skip_bad;
    wr_errbuf eb;
} pw_mig;

static int pw_migrate(void *arg)
{
    pw_mig *a = arg;
    wr_migrate_stats st;
    wr_migrate_opts o = {.dir = a->dir, .skip_bad = a->skip_bad};
    wr_errbuf_clear(&a->eb);
    int rc = wr_migrate(&o, &st, &a->eb);
    wr_migrate_stats_free(&st);
    return rc;
}

/* M3a. Power lost at every op and after the last (helper_power.h): the
 * directory is the legacy one or the migrated database with the reference
 * content; a rerun finishes (no legacy file, journal or staging left, one
 * backup), and the database verifies. */
static void migrate_power_sweep(bool skip_bad)
{
    char want[512], dg[512];
    const char *orig = tmp_path(skip_bad ? "pw-orig-bad" : "pw-orig");
    const char *d = tmp_path(skip_bad ? "pw-bad" : "pw");
    dirsnap snap;
    pw_learned pl;
    make_two_index(orig, skip_bad);
    REQUIRE(dirsnap_take(&snap, orig) == 0);
    REQUIRE(dirsnap_restore(&snap, d) == 0);
    pw_mig a = {.dir = d, .skip_bad = skip_bad};
    memset(&l, 0, sizeof l);
    int rrc = pw_learn(pw_migrate, &a, trace_ops, &l, &pl);
    REQUIRE_OK(rrc, &a.eb);
    uint64_t total = pl.total;
    REQUIRE(total < OPS_MAX);
    REQUIRE(db_digests(d, want, sizeof want) == 0);
    REQUIRE(strstr(want, skip_bad ? "t:3:" : "t:2:") != NULL);
    int bad = 0, states = 0, old = 0, neu = 0;
    for (uint64_t n = 1; n <= total + 1 && bad < 5; n++) {
        for (int k = 0; k < pw_nstates(&pl, n) && bad < 5; k++) {
            wri_fault_plan p = pw_plan(&pl, n, k);
            REQUIRE(dirsnap_restore(&snap, d) == 0);
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                wri_io_fault_set(&p);
                pw_migrate(&a);
                wri_io_crash_now(); /* a crash point past the last op */
                _exit(0);
            }
            int ws;
            waitpid(pid, &ws, 0);
            states++;
            const char *what = n <= total ? l.what[n - 1] : "end";
            const char *path = n <= total ? l.path[n - 1] : "";
            if (!WIFEXITED(ws) || WEXITSTATUS(ws) != WRI_IO_CRASH_EXIT) {
                TAP_FAIL("op %llu (%s %s) seed %llu: no crash (%d)",
                         (unsigned long long)n, what, path,
                         (unsigned long long)p.seed, ws);
                bad++;
                continue;
            }
            if (still_legacy2(d, orig)) {
                old++;
            } else if (exists(d, WR_CATALOG_NAME) &&
                       db_digests(d, dg, sizeof dg) == 0 &&
                       strcmp(dg, want) == 0) {
                neu++;
            } else {
                TAP_FAIL("op %llu (%s %s) seed %llu: neither the legacy "
                         "files nor the migrated database",
                         (unsigned long long)n, what, path,
                         (unsigned long long)p.seed);
                bad++;
                continue;
            }
            int rc = pw_migrate(&a);
            if (rc != WR_OK || !finished2(d, want)) {
                TAP_FAIL("op %llu (%s %s) seed %llu: the rerun did not "
                         "finish (%d: %s)", (unsigned long long)n, what, path,
                         (unsigned long long)p.seed, rc, a.eb.msg);
                bad++;
            }
        }
    }
    char detail[160];
    snprintf(detail, sizeof detail, "%d legacy, %d migrated; each rerun, "
             "verified and compared", old, neu);
    pw_report(&pl, skip_bad ? "wr_migrate --skip-bad (two indexes)"
                            : "wr_migrate (two indexes)", states, detail);
    CHECK(old > 0 && neu > 0);
    pw_learned_free(&pl);
    dirsnap_free(&snap);
}

static void test_migrate_power_sweep(void)
{
    migrate_power_sweep(false);
}

static void test_migrate_skip_bad_power_sweep(void)
{
    migrate_power_sweep(true);
}

int main(void)
{
    /* hundreds of fsyncs: on tmpfs they cost nothing */
    if (getenv("TMPDIR") == NULL && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 0);
    RUN(test_legacy_scan_kinds);
    RUN(test_backup_manifest_and_reuse);
    RUN(test_backup_shares_or_copies);
    RUN(test_backup_reads_a_shared_copy_once);
    RUN(test_migrate_tiny_and_again);
    RUN(test_migrate_refuses_other_digest_kinds);
    RUN(test_migrate_index_sorter_spills);
    RUN(test_migrate_interrupted_leaves_legacy);
    RUN(test_migrate_content_check_finds_a_changed_document);
    RUN(test_migrate_refuses_a_log_changing_underneath);
    RUN(test_restart_rolls_back_when_the_log_changed);
    RUN(test_restart_refuses_a_foreign_catalog);
    RUN(test_restart_keeps_a_legacy_file_changed_after_the_commit);
    RUN(test_restart_rolls_forward_when_the_originals_are_gone);
    RUN(test_restart_never_deletes_the_only_copy);
    RUN(test_migrate_sweep_tears_and_eio);
    RUN(test_migrate_power_sweep);
    RUN(test_migrate_skip_bad_power_sweep);
    int rc = tap_done();
    sh("rm -rf '%s'", tap_tmpdir());
    return rc;
}
