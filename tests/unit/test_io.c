/*
 * test_io.c -- errno translation, short reads, fault injection (crash,
 * torn write, EIO/ENOSPC, sticky, WR_IO_FAULT, WR_IO_STATS), the
 * directory lock, and the power-loss model (what an fsync makes durable,
 * what a lost op takes with it, torn lost writes).
 */
#include "wr_int.h"
#include "tap.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", tap_tmpdir(), name);
    return p;
}

static long file_len(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Run fn in a child; return its wait status. */
static int in_child(void (*fn)(void *), void *arg)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

/* --- environment (must run before this process makes any io call) ----- */

static void child_env_crash(void *arg)
{
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    setenv("WR_IO_FAULT", "crash=3,tear=5", 1);
    if (wri_io_open((const char *)arg, WRI_IO_RDWR | WRI_IO_CREATE, &f, &eb))
        _exit(10); /* op 1 */
    if (wri_io_pwrite(f, "AAAAAAAAAA", 10, 0, &eb)) /* op 2 */
        _exit(11);
    wri_io_pwrite(f, "BBBBBBBBBB", 10, 10, &eb); /* op 3: torn, crash */
    _exit(12);
}

static void test_io_env_fault_plan_crash_with_tear(void)
{
    const char *p = tpath("env-crash");
    int st = in_child(child_env_crash, (void *)p);
    REQUIRE(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
    CHECK_EQ(file_len(p), 15); /* 10 bytes, then 5 of the torn write */
}

static void child_env_fail(void *arg)
{
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    setenv("WR_IO_FAULT", "fail=2,err=ENOSPC,sticky", 1);
    setenv("WR_IO_STATS", (const char *)arg, 1);
    if (wri_io_open(tpath("env-fail"), WRI_IO_RDWR | WRI_IO_CREATE, &f, &eb))
        _exit(10);
    if (wri_io_pwrite(f, "x", 1, 0, &eb) != WR_ENOSPC)
        _exit(11);
    if (strstr(eb.msg, "injected") == NULL)
        _exit(12);
    wr_errbuf_clear(&eb);
    if (wri_io_fsync(f, &eb) != WR_ENOSPC) /* sticky */
        _exit(13);
    wri_io_close(f);
    exit(0); /* runs the WR_IO_STATS handler: 3 ops */
}

static void test_io_env_fault_plan_fail_sticky_and_stats(void)
{
    const char *stats = tpath("env-stats");
    int st = in_child(child_env_fail, (void *)stats);
    REQUIRE(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    FILE *fp = fopen(stats, "r");
    REQUIRE(fp != NULL);
    unsigned long long n = 0;
    CHECK_EQ(fscanf(fp, "%llu", &n), 1);
    fclose(fp);
    CHECK_EQ(n, 3);
}

/* --- plain I/O --------------------------------------------------------- */

static void test_io_errno_translation(void)
{
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    wri_io_fault_set(NULL);
    CHECK_EQ(wri_io_open(tpath("missing"), WRI_IO_RDONLY, &f, &eb),
             WR_ENOTFOUND);
    CHECK(strstr(eb.msg, "missing") != NULL);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_io_open(tpath("exists"), WRI_IO_RDWR | WRI_IO_CREATE, &f,
                           &eb), &eb);
    wri_io_close(f);
    f = NULL;
    CHECK_EQ(wri_io_open(tpath("exists"),
                         WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_EXCL, &f, &eb),
             WR_EEXIST);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_io_unlink(tpath("missing"), &eb), WR_ENOTFOUND);
    CHECK(strstr(eb.msg, "unlink") != NULL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_io_rename(tpath("missing"), tpath("other"), &eb),
             WR_ENOTFOUND);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_io_mkdir(tpath("d"), &eb), &eb);
    CHECK_EQ(wri_io_mkdir(tpath("d"), &eb), WR_EEXIST);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_io_fsync_dir(tpath("d"), &eb), &eb);      /* a dir */
    REQUIRE_OK(wri_io_fsync_dir(tpath("exists"), &eb), &eb); /* its parent */
    REQUIRE_OK(wri_io_rename(tpath("exists"), tpath("renamed"), &eb), &eb);
    REQUIRE_OK(wri_io_unlink(tpath("renamed"), &eb), &eb);
    /* a write to a read-only handle */
    REQUIRE_OK(wri_io_open(tpath("d"), WRI_IO_RDONLY, &f, &eb), &eb);
    CHECK(wri_io_pwrite(f, "x", 1, 0, &eb) != WR_OK);
    wri_io_close(f);
}

static void test_io_short_read_is_corrupt_and_read_some_stops_at_eof(void)
{
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    char buf[64];
    size_t got = 99;
    wri_io_fault_set(NULL);
    REQUIRE_OK(wri_io_open(tpath("short"), WRI_IO_RDWR | WRI_IO_CREATE, &f,
                           &eb), &eb);
    REQUIRE_OK(wri_io_pwrite(f, "0123456789", 10, 0, &eb), &eb);
    REQUIRE_OK(wri_io_pread(f, buf, 10, 0, &eb), &eb);
    CHECK(memcmp(buf, "0123456789", 10) == 0);
    CHECK_EQ(wri_io_pread(f, buf, 20, 0, &eb), WR_ECORRUPT);
    CHECK(strstr(eb.msg, "short read") != NULL);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_io_pread_some(f, buf, 20, 4, &got, &eb), &eb);
    CHECK_EQ(got, 6);
    REQUIRE_OK(wri_io_pread_some(f, buf, 20, 100, &got, &eb), &eb);
    CHECK_EQ(got, 0);
    uint64_t size = 0;
    REQUIRE_OK(wri_io_size(f, &size, &eb), &eb);
    CHECK_EQ(size, 10);
    REQUIRE_OK(wri_io_truncate(f, 4, &eb), &eb);
    REQUIRE_OK(wri_io_size(f, &size, &eb), &eb);
    CHECK_EQ(size, 4);
    REQUIRE_OK(wri_io_fsync(f, &eb), &eb);
    wri_io_close(f);
}

/* A whole small file (catalog, manifest, journal): its bytes and a NUL
 * after them; a file over the limit is refused before anything is
 * allocated, naming the file and what it should have been; the path
 * helpers beside it. */
static void test_io_read_whole_and_paths(void)
{
    wr_errbuf eb = {0};
    uint8_t *buf = NULL;
    size_t len = 99;
    FILE *fp = fopen(tpath("whole"), "w");
    REQUIRE(fp != NULL);
    fputs("hello", fp);
    fclose(fp);
    REQUIRE_OK(wri_io_read_whole(tpath("whole"), 5, "a test file", &buf,
                                 &len, &eb), &eb);
    CHECK_EQ(len, 5);
    CHECK(memcmp(buf, "hello", 6) == 0); /* with its NUL */
    free(buf);
    buf = NULL;
    CHECK_EQ(wri_io_read_whole(tpath("whole"), 4, "a test file", &buf, &len,
                               &eb),
             WR_ECORRUPT);
    CHECK(buf == NULL);
    CHECK(strstr(eb.msg, "whole: 5 bytes, too large for a test file") !=
          NULL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_io_read_whole(tpath("absent"), 4, "a test file", &buf, &len,
                               &eb),
             WR_ENOTFOUND);
    CHECK(wri_path_exists(tpath("whole")));
    CHECK(!wri_path_is_dir(tpath("whole")));
    CHECK(wri_path_is_dir(tap_tmpdir()));
    CHECK(!wri_path_exists(tpath("absent")));
    CHECK(symlink("absent", tpath("dangling")) == 0);
    CHECK(wri_path_exists(tpath("dangling"))); /* lstat: the link itself */
    CHECK(!wri_path_is_dir(tpath("dangling")));
}

/* wri_path_within: real paths compared, as far as each exists (links,
 * "..", "." resolved), the rest as given; a name that merely starts
 * with dir's is not inside it; a path whose only existing ancestor is
 * the root is resolved too. */
static void test_io_path_within(void)
{
    char in[700], link[600], far[64];
    mkdir(tpath("w"), 0700);
    mkdir(tpath("w/d"), 0700);
    mkdir(tpath("w/dx"), 0700);
    CHECK(wri_path_within(tpath("w/d"), tpath("w/d")));
    CHECK(wri_path_within(tpath("w/d/"), tpath("w/d")));
    CHECK(wri_path_within(tpath("w/d/new/deeper"), tpath("w/d")));
    CHECK(wri_path_within(tpath("w/dx/../d/n"), tpath("w/d")));
    CHECK(!wri_path_within(tpath("w/dx"), tpath("w/d")));
    CHECK(!wri_path_within(tpath("w"), tpath("w/d")));
    CHECK(!wri_path_within(tpath("w/d/../dx/n"), tpath("w/d")));
    snprintf(link, sizeof link, "%s", tpath("w/l"));
    CHECK(symlink("d", link) == 0);
    CHECK(wri_path_within(tpath("w/l/not/yet"), tpath("w/d")));
    CHECK(wri_path_within(tpath("w/d/x"), link));
    CHECK(!wri_path_within(tpath("w/l/../dx"), tpath("w/d")));
    CHECK(wri_path_within(tpath("w/d"), "/"));
    /* nothing below the root exists: the root resolves */
    snprintf(far, sizeof far, "/wr-test-absent-%ld", (long)getpid());
    snprintf(in, sizeof in, "%s/a/b", far);
    CHECK(wri_path_within(in, far));
    CHECK(!wri_path_within(far, in));
    CHECK(wri_path_within(far, "/"));
}

/* wri_io_same_file: the same device and inode, whatever the path (a
 * symbolic link, a hard link, "..") or descriptor; a file of the same
 * bytes elsewhere, or a new file renamed over the name, is another. */
static void test_io_same_file(void)
{
    struct stat a, b;
    char p[600];
    int fd;
    mkdir(tpath("s"), 0700);
    fd = open(tpath("s/f"), O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1);
    snprintf(p, sizeof p, "%s", tpath("s/link"));
    CHECK(symlink("f", p) == 0);
    snprintf(p, sizeof p, "%s", tpath("s/hard"));
    CHECK(link(tpath("s/f"), p) == 0);
    CHECK(stat(tpath("s/f"), &a) == 0);
    CHECK(stat(tpath("s/link"), &b) == 0 && wri_io_same_file(&a, &b));
    CHECK(stat(tpath("s/hard"), &b) == 0 && wri_io_same_file(&a, &b));
    CHECK(stat(tpath("s/../s/./f"), &b) == 0 && wri_io_same_file(&a, &b));
    CHECK(fstat(fd, &b) == 0 && wri_io_same_file(&a, &b));
    CHECK(lstat(tpath("s/link"), &b) == 0 && !wri_io_same_file(&a, &b));
    close(fd);
    fd = open(tpath("s/g"), O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1);
    close(fd);
    CHECK(stat(tpath("s/g"), &b) == 0 && !wri_io_same_file(&a, &b));
    snprintf(p, sizeof p, "%s", tpath("s/f"));
    CHECK(rename(tpath("s/g"), p) == 0);
    CHECK(stat(tpath("s/f"), &b) == 0 && !wri_io_same_file(&a, &b));
    CHECK(stat(tpath("s/hard"), &b) == 0 && wri_io_same_file(&a, &b));
}

/* --- fault plans -------------------------------------------------------- */

static void test_io_op_counter_counts_mutating_ops_only(void)
{
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    char c;
    wri_io_fault_set(NULL);
    REQUIRE_OK(wri_io_open(tpath("count"), WRI_IO_RDWR | WRI_IO_CREATE, &f,
                           &eb), &eb);                    /* 1 */
    REQUIRE_OK(wri_io_pwrite(f, "x", 1, 0, &eb), &eb);    /* 2 */
    REQUIRE_OK(wri_io_pread(f, &c, 1, 0, &eb), &eb);      /* read: no */
    wri_io_writeback(f, 0, 1);                            /* a hint: no */
    REQUIRE_OK(wri_io_pread(f, &c, 1, 0, &eb), &eb);
    CHECK_EQ(c, 'x');
    REQUIRE_OK(wri_io_fsync(f, &eb), &eb);                /* 3 */
    REQUIRE_OK(wri_io_truncate(f, 0, &eb), &eb);          /* 4 */
    REQUIRE_OK(wri_io_fsync_dir(tpath("count"), &eb), &eb); /* 5 */
    wri_io_close(f);
    f = NULL;
    REQUIRE_OK(wri_io_open(tpath("count"), WRI_IO_RDWR, &f, &eb), &eb); /* no */
    wri_io_close(f);
    CHECK_EQ(wri_io_op_count(), 5);
}

/* Pages of the file at path in the page cache (mincore of a mapping). */
static size_t resident_pages(const char *path, size_t len)
{
    int fd = open(path, O_RDONLY);
    long pg = sysconf(_SC_PAGESIZE);
    size_t n = (len + (size_t)pg - 1) / (size_t)pg, in = 0;
    unsigned char *vec = malloc(n);
    void *m = fd < 0 ? MAP_FAILED : mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (m != MAP_FAILED && vec != NULL && mincore(m, len, vec) == 0)
        for (size_t i = 0; i < n; i++)
            in += vec[i] & 1;
    if (m != MAP_FAILED)
        munmap(m, len);
    if (fd >= 0)
        close(fd);
    free(vec);
    return in;
}

/* wri_io_forget: no mutating op, the bytes stay, and (where the page
 * cache can drop a file's pages: not tmpfs, whose pages are the file)
 * its clean cached pages are gone. */
static void test_io_forget_drops_clean_cached_pages(void)
{
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    enum { LEN = 1 << 20 };
    uint8_t *buf = malloc(LEN), *back = malloc(LEN);
    REQUIRE(buf != NULL && back != NULL);
    for (size_t i = 0; i < LEN; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    REQUIRE_OK(wri_io_open(tpath("forget"), WRI_IO_RDWR | WRI_IO_CREATE, &f,
                           &eb), &eb);
    REQUIRE_OK(wri_io_pwrite(f, buf, LEN, 0, &eb), &eb);
    if (fsync(f->fd) != 0) /* clean pages, whatever WR_IO_NOSYNC says */
        TAP_FAIL("fsync: %s", strerror(errno));
    REQUIRE_OK(wri_io_pread(f, back, LEN, 0, &eb), &eb);
    size_t before = resident_pages(tpath("forget"), LEN);
    CHECK(before > 0);
    wri_io_fault_set(NULL);
    wri_io_forget(tpath("forget"));
    wri_io_forget(tpath("no-such-file")); /* a hint: nothing happens */
    CHECK_EQ(wri_io_op_count(), 0);
    struct statfs sf;
    REQUIRE(statfs(tpath("forget"), &sf) == 0);
    if (sf.f_type != 0x01021994) /* TMPFS_MAGIC */
        CHECK(resident_pages(tpath("forget"), LEN) < before / 4);
    memset(back, 0, LEN);
    REQUIRE_OK(wri_io_pread(f, back, LEN, 0, &eb), &eb);
    CHECK(memcmp(back, buf, LEN) == 0);
    wri_io_close(f);
    free(buf);
    free(back);
}

static void test_io_injected_fail_once_and_sticky(void)
{
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    wri_io_fault_set(NULL);
    REQUIRE_OK(wri_io_open(tpath("fail"), WRI_IO_RDWR | WRI_IO_CREATE, &f,
                           &eb), &eb);
    wri_fault_plan plan = {.kind = WRI_FAULT_FAIL, .at = 2, .err = WR_EIO};
    wri_io_fault_set(&plan);
    REQUIRE_OK(wri_io_pwrite(f, "aaaa", 4, 0, &eb), &eb); /* op 1 */
    CHECK_EQ(wri_io_pwrite(f, "bbbb", 4, 4, &eb), WR_EIO); /* op 2 */
    CHECK(strstr(eb.msg, "injected EIO") != NULL);
    CHECK(strstr(eb.msg, "offset 4") != NULL);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wri_io_fsync(f, &eb), &eb); /* op 3: not sticky */
    CHECK_EQ(file_len(tpath("fail")), 4); /* the failed write wrote nothing */

    plan = (wri_fault_plan){.kind = WRI_FAULT_FAIL, .at = 1, .err = WR_ENOSPC,
                            .sticky = true};
    wri_io_fault_set(&plan);
    CHECK_EQ(wri_io_fsync(f, &eb), WR_ENOSPC);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_io_truncate(f, 0, &eb), WR_ENOSPC);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_io_unlink(tpath("fail"), &eb), WR_ENOSPC);
    CHECK(strstr(eb.msg, "injected ENOSPC") != NULL);
    wr_errbuf_clear(&eb);
    wri_io_fault_set(NULL);
    REQUIRE_OK(wri_io_fsync(f, &eb), &eb);
    wri_io_close(f);
}

typedef struct crash_arg {
    const char *path;
    size_t tear;
} crash_arg;

static void child_crash(void *arg)
{
    crash_arg *a = arg;
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    uint8_t buf[100];
    memset(buf, 'z', sizeof buf);
    if (wri_io_open(a->path, WRI_IO_RDWR | WRI_IO_CREATE | WRI_IO_TRUNC, &f,
                    &eb))
        _exit(10);
    wri_fault_plan plan = {.kind = WRI_FAULT_CRASH, .at = 2, .tear = a->tear};
    wri_io_fault_set(&plan);
    wri_io_pwrite(f, buf, 100, 0, &eb);   /* op 1 */
    wri_io_pwrite(f, buf, 100, 100, &eb); /* op 2: crash */
    _exit(11);
}

static void test_io_injected_crash_and_torn_write(void)
{
    crash_arg a = {tpath("crash"), 0};
    int st = in_child(child_crash, &a);
    REQUIRE(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
    CHECK_EQ(file_len(a.path), 100);
    a.tear = 37;
    st = in_child(child_crash, &a);
    REQUIRE(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
    CHECK_EQ(file_len(a.path), 137);
    a.tear = 1000; /* more than the write: all of it, then the crash */
    st = in_child(child_crash, &a);
    REQUIRE(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
    CHECK_EQ(file_len(a.path), 200);
}

typedef struct trace_log {
    int n;
    char what[8][16];
    size_t len[8];
} trace_log;

static void trace_fn(uint64_t op, const char *what, const char *path,
                     uint64_t off, size_t len, void *arg)
{
    trace_log *t = arg;
    if (t->n < 8) {
        snprintf(t->what[t->n], sizeof t->what[0], "%s", what);
        t->len[t->n] = len;
    }
    t->n++;
}

static void test_io_trace_sees_every_mutating_op(void)
{
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    trace_log t = {0};
    wri_io_fault_set(NULL);
    wri_io_trace_set(trace_fn, &t);
    REQUIRE_OK(wri_io_open(tpath("trace"), WRI_IO_RDWR | WRI_IO_CREATE, &f,
                           &eb), &eb);
    REQUIRE_OK(wri_io_pwrite(f, "hello", 5, 0, &eb), &eb);
    REQUIRE_OK(wri_io_fsync(f, &eb), &eb);
    wri_io_trace_set(NULL, NULL);
    REQUIRE_OK(wri_io_fsync(f, &eb), &eb);
    wri_io_close(f);
    CHECK_EQ(t.n, 3);
    CHECK(strcmp(t.what[0], "create") == 0);
    CHECK(strcmp(t.what[1], "pwrite") == 0);
    CHECK_EQ(t.len[1], 5);
    CHECK(strcmp(t.what[2], "fsync") == 0);
}

/* --- directory lock ---------------------------------------------------- */

static void child_try_lock(void *arg)
{
    wr_errbuf eb = {0};
    wri_lock *lk = NULL;
    int rc = wri_io_lock_dir((const char *)arg, "wr-child", &lk, &eb);
    wri_io_unlock_dir(lk);
    _exit(rc == WR_ELOCKED ? 0 : 1);
}

static void test_io_lock_dir_refuses_second_holder_and_names_it(void)
{
    wr_errbuf eb = {0};
    wri_lock *lk = NULL, *lk2 = NULL;
    const char *dir = tpath("lockdir");
    wri_io_fault_set(NULL);
    REQUIRE_OK(wri_io_mkdir(dir, &eb), &eb);
    REQUIRE_OK(wri_io_lock_dir(dir, "wr-test", &lk, &eb), &eb);
    /* a second open file description in this process is refused too */
    CHECK_EQ(wri_io_lock_dir(dir, "wr-other", &lk2, &eb), WR_ELOCKED);
    char want[128];
    snprintf(want, sizeof want, "is locked by pid %ld (wr-test)",
             (long)getpid());
    CHECK(strstr(eb.msg, want) != NULL);
    CHECK(strstr(eb.msg, dir) != NULL);
    wr_errbuf_clear(&eb);
    /* the refused taker left the holder's record alone */
    CHECK_EQ(wri_io_lock_dir(dir, "wr-third", &lk2, &eb), WR_ELOCKED);
    CHECK(strstr(eb.msg, want) != NULL);
    wr_errbuf_clear(&eb);
    int st = in_child(child_try_lock, (void *)dir);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    wri_io_unlock_dir(lk);
    lk = NULL;
    REQUIRE_OK(wri_io_lock_dir(dir, "wr-again", &lk, &eb), &eb);
    wri_io_unlock_dir(lk);
    /* the first holder created LOCK and removed it on release */
    CHECK(access(tpath("lockdir/LOCK"), F_OK) != 0);
    CHECK_EQ(wri_io_lock_dir(tpath("no-such-dir"), "x", &lk, &eb),
             WR_ENOTFOUND);
}

/* --- the power-loss model ---------------------------------------------- */

static char *slurp_text(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void pw_fresh(const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir -p '%s' '%s'", a, b,
             a, b);
    if (system(cmd) != 0)
        return;
}

/* A durable file: created, written, fsynced, its directory fsynced. */
static int pw_durable_file(const char *dir, const char *name, const char *text,
                           wr_errbuf *eb)
{
    wri_file *f = NULL;
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int rc = wri_io_open(p, WRI_IO_RDWR | WRI_IO_CREATE, &f, eb);
    if (rc == WR_OK)
        rc = wri_io_pwrite(f, text, strlen(text), 0, eb);
    if (rc == WR_OK)
        rc = wri_io_fsync(f, eb);
    wri_io_close(f);
    return rc == WR_OK ? wri_io_fsync_dir(dir, eb) : rc;
}

typedef struct pw_case {
    const char *a, *b;
    int variant;
    uint64_t seed;
} pw_case;

static void pw_install(uint64_t seed)
{
    wri_fault_plan p = {.kind = WRI_FAULT_CRASH, .at = 1000000, .power = true,
                        .seed = seed};
    wri_io_fault_set(&p);
}

/* variant 0: rename A/x -> B/x, fsync B only; 1: fsync both; 2: fsync A
 * only */
static void child_pw_rename(void *arg)
{
    pw_case *c = arg;
    wr_errbuf eb = {0};
    char from[600], to[600];
    pw_install(c->seed);
    if (pw_durable_file(c->a, "x", "hello", &eb) != WR_OK)
        _exit(10);
    snprintf(from, sizeof from, "%s/x", c->a);
    snprintf(to, sizeof to, "%s/x", c->b);
    if (wri_io_rename(from, to, &eb) != WR_OK)
        _exit(11);
    if (c->variant != 2 && wri_io_fsync_dir(c->b, &eb) != WR_OK)
        _exit(12);
    if (c->variant >= 1 && wri_io_fsync_dir(c->a, &eb) != WR_OK)
        _exit(13);
    if (wri_io_power_pending() != (c->variant == 1 ? 0u : 1u))
        _exit(14);
    wri_io_crash_now();
    _exit(15);
}

static void test_io_power_rename_needs_both_directories(void)
{
    const char *a = tpath("pw-a"), *b = tpath("pw-b");
    char ax[600], bx[600];
    snprintf(ax, sizeof ax, "%s/x", a);
    snprintf(bx, sizeof bx, "%s/x", b);
    for (int v = 0; v < 3; v++) {
        pw_fresh(a, b);
        pw_case c = {a, b, v, 0};
        int st = in_child(child_pw_rename, &c);
        REQUIRE(WIFEXITED(st));
        REQUIRE_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
        if (v == 1) { /* durable: the rename stays */
            CHECK(file_len(ax) < 0);
            CHECK(file_len(bx) == 5);
        } else { /* lost: the file is back where it was, whole */
            CHECK(file_len(bx) < 0);
            const char *t = slurp_text(ax);
            CHECK(t != NULL && strcmp(t, "hello") == 0);
        }
    }
}

/* a durable file; "NEW" over its start, fsynced; then 2000 bytes of 'z'
 * appended, not fsynced; then an unlink of another durable file, no
 * directory fsync */
static void child_pw_writes(void *arg)
{
    pw_case *c = arg;
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    char p[600], q[600], z[2000];
    memset(z, 'z', sizeof z);
    pw_install(c->seed);
    if (pw_durable_file(c->a, "w", "old-old-old", &eb) != WR_OK ||
        pw_durable_file(c->a, "u", "keep me", &eb) != WR_OK)
        _exit(10);
    snprintf(p, sizeof p, "%s/w", c->a);
    snprintf(q, sizeof q, "%s/u", c->a);
    if (wri_io_open(p, WRI_IO_RDWR, &f, &eb) != WR_OK ||
        wri_io_pwrite(f, "NEW", 3, 0, &eb) != WR_OK ||
        wri_io_fsync(f, &eb) != WR_OK ||
        wri_io_pwrite(f, z, sizeof z, 11, &eb) != WR_OK)
        _exit(11);
    wri_io_close(f);
    if (wri_io_unlink(q, &eb) != WR_OK)
        _exit(12);
    wri_io_crash_now();
    _exit(13);
}

static void test_io_power_fsynced_write_survives_the_rest_may_not(void)
{
    const char *a = tpath("pw-w"), *b = tpath("pw-w2");
    char p[600], q[600];
    snprintf(p, sizeof p, "%s/w", a);
    snprintf(q, sizeof q, "%s/u", a);
    int whole = 0, gone = 0, torn = 0, unlinked = 0, back = 0;
    for (uint64_t seed = 0; seed < 48; seed++) {
        pw_fresh(a, b);
        pw_case c = {a, b, 0, seed};
        int st = in_child(child_pw_writes, &c);
        REQUIRE(WIFEXITED(st));
        REQUIRE_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
        const char *t = slurp_text(p);
        REQUIRE(t != NULL);
        /* the fsynced write is always there */
        CHECK(strncmp(t, "NEW-old-old", 11) == 0);
        long n = file_len(p);
        if (n == 2011) {
            bool allz = true;
            for (int i = 11; i < 2011; i++)
                allz = allz && t[i] == 'z';
            CHECK(allz);
            whole++;
        } else if (n == 11) {
            gone++;
        } else {
            /* torn: a 512-aligned prefix of the lost write */
            CHECK(n > 11 && n < 2011 && (n - 11) % 512 == 0);
            torn++;
        }
        if (file_len(q) < 0) {
            unlinked++;
        } else {
            const char *u = slurp_text(q);
            CHECK(u != NULL && strcmp(u, "keep me") == 0);
            back++;
        }
        if (seed == 0)
            CHECK(n == 11 && file_len(q) == 7); /* seed 0: all lost */
    }
    printf("# 48 seeds: write whole %d, lost %d, torn %d; unlink kept %d, "
           "lost %d\n", whole, gone, torn, unlinked, back);
    CHECK(whole > 0 && gone > 0 && torn > 0 && unlinked > 0 && back > 0);
}

/* A durable file of 8 KiB of 'o'; then 16 KiB of 'n' at offset 2048 (a
 * gathered run over five 4 KiB pieces of the file, three past its end),
 * not fsynced; then the power goes. */
#define PWP_OLD 8192
#define PWP_OFF 2048
#define PWP_LEN 16384
static void child_pw_pieces(void *arg)
{
    pw_case *c = arg;
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    char p[600];
    static char o[PWP_OLD + 1], n[PWP_LEN];
    memset(o, 'o', PWP_OLD);
    memset(n, 'n', PWP_LEN);
    pw_install(c->seed);
    if (pw_durable_file(c->a, "w", o, &eb) != WR_OK)
        _exit(10);
    snprintf(p, sizeof p, "%s/w", c->a);
    if (wri_io_open(p, WRI_IO_RDWR, &f, &eb) != WR_OK ||
        wri_io_pwrite(f, n, PWP_LEN, PWP_OFF, &eb) != WR_OK)
        _exit(11);
    wri_io_close(f);
    wri_io_crash_now();
    _exit(13);
}

/* What a power loss leaves of a lost write across several 4 KiB pieces of
 * the file: nothing, all of it, a 512-byte-aligned prefix, or any subset
 * of its pieces, each piece whole (new bytes, or the old ones: 'o' below
 * the old end, zeros in a hole past it), the file as long as the old one
 * or as the last piece that landed. */
static void test_io_power_write_torn_in_pieces(void)
{
    const char *a = tpath("pw-p"), *b = tpath("pw-p2");
    char p[600];
    static uint8_t buf[PWP_OFF + PWP_LEN + 1];
    snprintf(p, sizeof p, "%s/w", a);
    int whole = 0, gone = 0, prefix = 0, scattered = 0, bad = 0;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        pw_fresh(a, b);
        pw_case c = {a, b, 0, seed};
        int st = in_child(child_pw_pieces, &c);
        REQUIRE(WIFEXITED(st));
        REQUIRE_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
        long len = file_len(p);
        FILE *f = fopen(p, "rb");
        REQUIRE(f != NULL && len >= PWP_OLD &&
                len <= PWP_OFF + PWP_LEN);
        REQUIRE(fread(buf, 1, (size_t)len, f) == (size_t)len);
        fclose(f);
        /* each byte: new, or what was there (zero in a hole) */
        long last_new = -1, first_old = -1;
        bool piecewise = true;
        for (long i = 0; i < len; i++) {
            bool in = i >= PWP_OFF;
            uint8_t old = i < PWP_OLD ? 'o' : 0;
            bool isnew = in && buf[i] == 'n';
            if (!isnew && buf[i] != old) {
                bad++;
                break;
            }
            if (isnew)
                last_new = i;
            else if (in && first_old < 0)
                first_old = i;
            /* a piece is whole: the same fate as the byte before it */
            if (in && i > PWP_OFF && i % 4096 != 0 &&
                isnew != (buf[i - 1] == 'n'))
                piecewise = false;
        }
        /* the file ends at the old end or after the last new byte */
        CHECK(len == PWP_OLD || len == last_new + 1);
        if (last_new < 0)
            gone++;
        else if (first_old < 0 && len == PWP_OFF + PWP_LEN)
            whole++;
        else if (first_old < 0 || first_old > last_new)
            prefix++; /* new bytes, then old ones (maybe piecewise too) */
        else if (piecewise)
            scattered++; /* an old piece before a new one */
        else
            bad++;
    }
    printf("# 64 seeds: the write whole %d, lost %d, a prefix %d, "
           "pieces with a gap %d, neither %d\n",
           whole, gone, prefix, scattered, bad);
    CHECK_EQ(bad, 0);
    CHECK(whole > 0 && gone > 0 && prefix > 0 && scattered > 0);
}

/* a lost create takes the later rename of the file with it; a lost mkdir
 * takes what is inside even when that was made durable */
static void child_pw_create(void *arg)
{
    pw_case *c = arg;
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    char t[600], fin[600], sub[600];
    pw_install(c->seed);
    snprintf(t, sizeof t, "%s/t", c->a);
    snprintf(fin, sizeof fin, "%s/f", c->a);
    snprintf(sub, sizeof sub, "%s/sub", c->b);
    if (wri_io_open(t, WRI_IO_RDWR | WRI_IO_CREATE, &f, &eb) != WR_OK ||
        wri_io_pwrite(f, "data", 4, 0, &eb) != WR_OK ||
        wri_io_fsync(f, &eb) != WR_OK)
        _exit(10);
    wri_io_close(f);
    if (wri_io_rename(t, fin, &eb) != WR_OK)
        _exit(11);
    if (wri_io_mkdir(sub, &eb) != WR_OK ||
        pw_durable_file(sub, "in", "inside", &eb) != WR_OK)
        _exit(12);
    wri_io_crash_now();
    _exit(13);
}

static void test_io_power_lost_create_and_mkdir_take_dependents(void)
{
    const char *a = tpath("pw-c"), *b = tpath("pw-c2");
    char t[600], fin[600], sub[600], in[600];
    snprintf(t, sizeof t, "%s/t", a);
    snprintf(fin, sizeof fin, "%s/f", a);
    snprintf(sub, sizeof sub, "%s/sub", b);
    snprintf(in, sizeof in, "%s/sub/in", b);
    int none = 0, tonly = 0, fonly = 0, subgone = 0, subkept = 0;
    for (uint64_t seed = 0; seed < 40; seed++) {
        pw_fresh(a, b);
        pw_case c = {a, b, 0, seed};
        int st = in_child(child_pw_create, &c);
        REQUIRE(WIFEXITED(st));
        REQUIRE_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
        long lt = file_len(t), lf = file_len(fin);
        if (lt < 0 && lf < 0)
            none++;
        else if (lt == 4 && lf < 0)
            tonly++;
        else if (lf == 4 && lt < 0)
            fonly++;
        else
            TAP_FAIL("seed %llu: t %ld bytes, f %ld bytes",
                     (unsigned long long)seed, lt, lf);
        struct stat sb;
        if (stat(sub, &sb) != 0) {
            subgone++;
        } else {
            CHECK(file_len(in) == 6);
            subkept++;
        }
    }
    printf("# 40 seeds: none %d, create only %d, renamed %d; mkdir lost %d, "
           "kept %d\n", none, tonly, fonly, subgone, subkept);
    CHECK(none > 0 && tonly > 0 && fonly > 0 && subgone > 0 && subkept > 0);
}

/* The LOCK file goes through the io layer (lock.c): its mutations are
 * numbered ops the fault plans can hit, and the power model covers them. */
static void trace_lock(uint64_t op, const char *what, const char *path,
                       uint64_t off, size_t len, void *arg)
{
    char *seen = arg;
    size_t n = strlen(path);
    (void)op;
    (void)off;
    (void)len;
    if (n >= 5 && strcmp(path + n - 5, "/LOCK") == 0 &&
        strlen(seen) + strlen(what) + 2 < 256) {
        strcat(seen, what);
        strcat(seen, " ");
    }
}

/* variant 0: take the lock, lose power; 1: take it, fsync the directory,
 * release it (LOCK removed), lose power */
static void child_pw_lock(void *arg)
{
    pw_case *c = arg;
    wr_errbuf eb = {0};
    wri_lock *lk = NULL;
    pw_install(c->seed);
    if (wri_io_lock_dir(c->a, "wr-test", &lk, &eb) != WR_OK)
        _exit(10);
    if (c->variant == 1) {
        if (wri_io_fsync_dir(c->a, &eb) != WR_OK)
            _exit(11);
        wri_io_unlock_dir(lk);
    }
    wri_io_crash_now();
    _exit(12);
}

static void test_io_power_covers_the_lock_file(void)
{
    wr_errbuf eb = {0};
    wri_lock *lk = NULL;
    const char *a = tpath("pw-lock"), *b = tpath("pw-lock-b");
    char lock[600], seen[256] = "";
    snprintf(lock, sizeof lock, "%s/LOCK", a);
    pw_fresh(a, b);
    wri_io_fault_set(NULL);
    wri_io_trace_set(trace_lock, seen);
    REQUIRE_OK(wri_io_lock_dir(a, "wr-test", &lk, &eb), &eb);
    wri_io_unlock_dir(lk);
    wri_io_trace_set(NULL, NULL);
    CHECK(strcmp(seen, "create ftruncate pwrite unlink ") == 0);
    printf("# LOCK ops: %s\n", seen);
    /* a fault plan hits them: ENOSPC creating LOCK is the writer's error */
    wri_fault_plan f = {.kind = WRI_FAULT_FAIL, .at = 1, .err = WR_ENOSPC};
    wri_io_fault_set(&f);
    CHECK_EQ(wri_io_lock_dir(a, "wr-test", &lk, &eb), WR_ENOSPC);
    wri_io_fault_set(NULL);
    wr_errbuf_clear(&eb);
    CHECK(file_len(lock) < 0);
    /* a LOCK never made durable is gone after a power loss */
    pw_case c = {a, b, 0, 0};
    int st = in_child(child_pw_lock, &c);
    REQUIRE(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
    CHECK(file_len(lock) < 0);
    /* a removal not made durable is undone: LOCK is back (empty: its
     * record was never fsynced), and it blocks nobody */
    c.variant = 1;
    st = in_child(child_pw_lock, &c);
    REQUIRE(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
    CHECK_EQ(file_len(lock), 0);
    REQUIRE_OK(wri_io_lock_dir(a, "wr-after", &lk, &eb), &eb);
    wri_io_unlock_dir(lk);
    CHECK(file_len(lock) < 0); /* found, not created: removed all the same */
}

/* A reader in another process, just before one of a writer's release ops:
 * exit 1 if refused naming the writer, 2 if refused otherwise (an empty
 * record: "holder not recorded yet"), 0 if it got the lock. */
static void child_reader_before_release(void *arg)
{
    wr_errbuf eb = {0};
    wri_lock *lk = NULL;
    wri_io_trace_set(NULL, NULL);
    wri_io_fault_set(NULL);
    int rc = wri_io_lock_take((const char *)arg, "wr-reader",
                              WRI_LOCK_SHARED, &lk, &eb);
    wri_io_unlock_dir(lk);
    _exit(rc == WR_OK                                          ? 0
          : rc == WR_ELOCKED && strstr(eb.msg, "(wr-test)") ? 1
                                                               : 2);
}

typedef struct release_probe {
    const char *dir;
    char seen[128]; /* the release's LOCK ops, and what the reader got */
} release_probe;

/* Stops before every LOCK op (io.c traces an op before doing it) and lets
 * a reader try the lock there. */
static void trace_release_probe(uint64_t op, const char *what,
                                const char *path, uint64_t off, size_t len,
                                void *arg)
{
    release_probe *p = arg;
    size_t n = strlen(path);
    (void)op;
    (void)off;
    (void)len;
    if (n < 5 || strcmp(path + n - 5, "/LOCK") != 0 ||
        strlen(p->seen) + strlen(what) + 4 >= sizeof p->seen)
        return;
    int st = in_child(child_reader_before_release, (void *)p->dir);
    char got[8];
    snprintf(got, sizeof got, ":%d ", WIFEXITED(st) ? WEXITSTATUS(st) : 9);
    strcat(p->seen, what);
    strcat(p->seen, got);
}

/* Release w with every LOCK operation probed (into p->seen). */
static void release_probed(wri_lock *w, release_probe *p)
{
    p->seen[0] = '\0';
    wri_io_trace_set(trace_release_probe, p);
    wri_io_unlock_dir(w);
    wri_io_trace_set(NULL, NULL);
}

/* A writer's release never shows a reader an empty record while it still
 * holds the lock (readers.bats once saw "locked by another process (holder
 * not recorded yet)" from a release that emptied LOCK before removing it):
 * the LOCK it created, or found (a crash left it), is removed with its
 * record; one it failed to remove is emptied (a stale LOCK names no
 * holder). The probe runs before each op, so the moment after the last
 * one (before the close drops the flock) is not probed: that is why the
 * ops must be exactly these, with no emptying last but after a failed
 * unlink (a found LOCK emptied last showed a reader opening it then an
 * empty record). */
static void test_io_lock_release_keeps_the_record_while_held(void)
{
    wr_errbuf eb = {0};
    wri_lock *w = NULL;
    const char *dir = tpath("release-race");
    char lock[600];
    release_probe p = {.dir = dir};
    snprintf(lock, sizeof lock, "%s/LOCK", dir);
    wri_io_fault_set(NULL);
    REQUIRE_OK(wri_io_mkdir(dir, &eb), &eb);
    /* created: removed, the reader refused before it names the writer */
    REQUIRE_OK(wri_io_lock_dir(dir, "wr-test", &w, &eb), &eb);
    release_probed(w, &p);
    printf("# created: %s\n", p.seen);
    CHECK(strcmp(p.seen, "unlink:1 ") == 0);
    CHECK(file_len(lock) < 0);
    /* its unlink failing: emptied while still held, so the reader before
     * that still names the writer, and the LOCK left names nobody */
    REQUIRE_OK(wri_io_lock_dir(dir, "wr-test", &w, &eb), &eb);
    wri_fault_plan f = {.kind = WRI_FAULT_FAIL, .at = 1, .err = WR_EIO};
    wri_io_fault_set(&f);
    release_probed(w, &p);
    wri_io_fault_set(NULL);
    printf("# unlink failed: %s\n", p.seen);
    CHECK(strcmp(p.seen, "unlink:1 ftruncate:1 ") == 0);
    CHECK_EQ(file_len(lock), 0);
    /* found (that stale LOCK): removed as one created is, never emptied
     * while held */
    REQUIRE_OK(wri_io_lock_dir(dir, "wr-test", &w, &eb), &eb);
    CHECK(file_len(lock) > 0);
    release_probed(w, &p);
    printf("# found: %s\n", p.seen);
    CHECK(strcmp(p.seen, "unlink:1 ") == 0);
    CHECK(file_len(lock) < 0);
    /* released: a reader gets it */
    int st = in_child(child_reader_before_release, (void *)dir);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* WR_IO_FAULT="crash=N,power=0" with N past the last op: the power goes
 * when the process exits */
static void child_pw_env_exit(void *arg)
{
    wr_errbuf eb = {0};
    wri_file *f = NULL;
    setenv("WR_IO_FAULT", "crash=99,power=0", 1);
    if (wri_io_open((const char *)arg, WRI_IO_RDWR | WRI_IO_CREATE, &f, &eb) ||
        wri_io_pwrite(f, "abc", 3, 0, &eb) || wri_io_fsync(f, &eb))
        _exit(10);
    wri_io_close(f);
    exit(0);
}

static void test_io_power_env_plan_past_the_end(void)
{
    const char *p = tpath("pw-env");
    unlink(p);
    int st = in_child(child_pw_env_exit, (void *)p);
    REQUIRE(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), WRI_IO_CRASH_EXIT);
    CHECK(file_len(p) < 0); /* its directory was never fsynced */
}

static void child_try_shared(void *arg)
{
    wr_errbuf eb = {0};
    wri_lock *lk = NULL;
    int rc = wri_io_lock_take((const char *)arg, "wr-reader",
                              WRI_LOCK_SHARED, &lk, &eb);
    wri_io_unlock_dir(lk);
    _exit(rc == WR_OK ? 0 : rc == WR_ELOCKED ? 1 : 2);
}

/* Readers share the lock; a writer excludes them and they it; the last
 * reader out removes an empty LOCK, whichever reader created it, and
 * leaves a dead writer's record; a writer removes it either way; a stale
 * LOCK (a dead holder's record) blocks nobody. */
static void test_io_lock_shared_and_exclusive(void)
{
    wr_errbuf eb = {0};
    wri_lock *r1 = NULL, *r2 = NULL, *w = NULL;
    const char *dir = tpath("rwdir");
    char lock[512], who[64];
    snprintf(lock, sizeof lock, "%s/LOCK", dir);
    wri_io_fault_set(NULL);
    REQUIRE_OK(wri_io_mkdir(dir, &eb), &eb);
    /* two readers at once; a reader writes nothing into LOCK */
    REQUIRE_OK(wri_io_lock_take(dir, "wr-verify", WRI_LOCK_SHARED, &r1, &eb),
               &eb);
    REQUIRE_OK(wri_io_lock_take(dir, "wr-dump", WRI_LOCK_SHARED, &r2, &eb),
               &eb);
    CHECK_EQ(file_len(lock), 0);
    CHECK(!wri_io_lock_writer(dir, who, sizeof who));
    /* a writer is refused while they read, and told it is readers */
    CHECK_EQ(wri_io_lock_dir(dir, "wr-load", &w, &eb), WR_ELOCKED);
    CHECK(strstr(eb.msg, "reader") != NULL);
    CHECK(strstr(eb.msg, dir) != NULL);
    wr_errbuf_clear(&eb);
    CHECK_EQ(file_len(lock), 0); /* the refused writer recorded nothing */
    /* r1 created LOCK but r2 still reads: it stays */
    wri_io_unlock_dir(r1);
    CHECK(access(lock, F_OK) == 0);
    wri_io_unlock_dir(r2);
    CHECK(access(lock, F_OK) != 0); /* r2 found it, but is the last out */
    /* a writer excludes readers, here and in another process */
    REQUIRE_OK(wri_io_lock_dir(dir, "wr-load", &w, &eb), &eb);
    CHECK(wri_io_lock_writer(dir, who, sizeof who));
    char want[64];
    snprintf(want, sizeof want, "%ld wr-load", (long)getpid());
    CHECK(strcmp(who, want) == 0);
    CHECK_EQ(wri_io_lock_take(dir, "wr-verify", WRI_LOCK_SHARED, &r1, &eb),
             WR_ELOCKED);
    snprintf(want, sizeof want, "locked by pid %ld (wr-load)",
             (long)getpid());
    CHECK(strstr(eb.msg, want) != NULL);
    wr_errbuf_clear(&eb);
    int st = in_child(child_try_shared, (void *)dir);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    wri_io_unlock_dir(w);
    CHECK(file_len(lock) < 0); /* removed with its record */
    st = in_child(child_try_shared, (void *)dir);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* a stale record of a dead writer blocks nobody */
    FILE *fp = fopen(lock, "w");
    REQUIRE(fp != NULL);
    fputs("999999 wr-crashed\n", fp);
    fclose(fp);
    REQUIRE_OK(wri_io_lock_take(dir, "wr-verify", WRI_LOCK_SHARED, &r1, &eb),
               &eb);
    wri_io_unlock_dir(r1);
    CHECK(access(lock, F_OK) == 0); /* a writer's record: a reader leaves it */
    REQUIRE_OK(wri_io_lock_dir(dir, "wr-load", &w, &eb), &eb);
    wri_io_unlock_dir(w);
    CHECK(access(lock, F_OK) != 0); /* found by a writer: removed */
    /* a reader of a directory that does not exist: ENOTFOUND, not made */
    CHECK_EQ(wri_io_lock_take(tpath("no-such-dir"), "r", WRI_LOCK_SHARED,
                              &r1, &eb),
             WR_ENOTFOUND);
    CHECK(access(tpath("no-such-dir"), F_OK) != 0);
}

/* A reader in its own process: takes the shared lock, says so on ready
 * ("1", or "0" refused), releases it when go is written to, and exits. */
typedef struct reader_proc {
    const char *dir;
    int ready[2], go[2];
    pid_t pid;
} reader_proc;

static void reader_proc_start(reader_proc *r, const char *dir)
{
    r->dir = dir;
    REQUIRE(pipe(r->ready) == 0 && pipe(r->go) == 0);
    fflush(stdout);
    r->pid = fork();
    REQUIRE(r->pid >= 0);
    if (r->pid == 0) {
        wr_errbuf eb = {0};
        wri_lock *lk = NULL;
        char c = wri_io_lock_take(dir, "wr-reader", WRI_LOCK_SHARED, &lk,
                                  &eb) == WR_OK
                     ? '1'
                     : '0';
        if (write(r->ready[1], &c, 1) != 1 || read(r->go[0], &c, 1) != 1)
            _exit(2);
        wri_io_unlock_dir(lk);
        _exit(0);
    }
    char c = 0;
    CHECK(read(r->ready[0], &c, 1) == 1 && c == '1');
}

static void reader_proc_end(reader_proc *r)
{
    int st = 0;
    CHECK(write(r->go[1], "g", 1) == 1);
    waitpid(r->pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(r->ready[0]);
    close(r->ready[1]);
    close(r->go[0]);
    close(r->go[1]);
}

/* Overlapping readers in separate processes (review4 #15): A creates
 * LOCK, B opens it, A ends while B reads (so A cannot take it
 * exclusively), then B ends: B, the last one out, removes it though
 * another reader created it. An empty LOCK the directory had before
 * (a power loss brought back a removed one) goes the same way; a dead
 * writer's record stays. */
static void test_io_lock_overlapping_readers_leave_none(void)
{
    wr_errbuf eb = {0};
    const char *dir = tpath("overlap");
    char lock[512];
    reader_proc a, b;
    snprintf(lock, sizeof lock, "%s/LOCK", dir);
    wri_io_fault_set(NULL);
    REQUIRE_OK(wri_io_mkdir(dir, &eb), &eb);
    reader_proc_start(&a, dir);
    CHECK_EQ(file_len(lock), 0); /* A made it */
    reader_proc_start(&b, dir);
    reader_proc_end(&a);
    CHECK_EQ(file_len(lock), 0); /* B still reads */
    reader_proc_end(&b);
    CHECK(file_len(lock) < 0);
    /* the other order: the creator is the last out */
    reader_proc_start(&a, dir);
    reader_proc_start(&b, dir);
    reader_proc_end(&b);
    CHECK_EQ(file_len(lock), 0);
    reader_proc_end(&a);
    CHECK(file_len(lock) < 0);
    /* an empty LOCK found: removed by the reader */
    int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0644);
    REQUIRE(fd >= 0);
    close(fd);
    reader_proc_start(&a, dir);
    reader_proc_end(&a);
    CHECK(file_len(lock) < 0);
    /* a dead writer's record: left, with it, for the next writer */
    FILE *fp = fopen(lock, "w");
    REQUIRE(fp != NULL);
    fputs("999999 wr-crashed\n", fp);
    fclose(fp);
    reader_proc_start(&a, dir);
    reader_proc_start(&b, dir);
    reader_proc_end(&a);
    reader_proc_end(&b);
    CHECK_EQ(file_len(lock), (long)strlen("999999 wr-crashed\n"));
}

/* A process holding DIR/LOCK exclusively with no record in it (what a
 * writer is between its flock and its record, and the last reader out
 * while it removes LOCK): holds it until go is written to, or for
 * hold_ms once ready is written. */
typedef struct bare_holder {
    int ready[2], go[2];
    pid_t pid;
} bare_holder;

static void bare_holder_start(bare_holder *h, const char *lock, int hold_ms)
{
    REQUIRE(pipe(h->ready) == 0 && pipe(h->go) == 0);
    fflush(stdout);
    h->pid = fork();
    REQUIRE(h->pid >= 0);
    if (h->pid == 0) {
        char c = 'r';
        int fd = open(lock, O_RDWR | O_CREAT, 0644);
        if (fd < 0 || flock(fd, LOCK_EX) != 0 ||
            write(h->ready[1], &c, 1) != 1)
            _exit(2);
        if (hold_ms > 0)
            usleep((useconds_t)hold_ms * 1000);
        else if (read(h->go[0], &c, 1) != 1)
            _exit(3);
        _exit(0);
    }
    char c = 0;
    REQUIRE(read(h->ready[0], &c, 1) == 1);
}

static void bare_holder_end(bare_holder *h)
{
    int st = 0;
    CHECK(write(h->go[1], "g", 1) == 1);
    waitpid(h->pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(h->ready[0]);
    close(h->ready[1]);
    close(h->go[0]);
    close(h->go[1]);
}

/* A lock held exclusively with no record is a moment: a reader (or a
 * writer) refused by it looks again, and gets the lock once it is over
 * (it was refused at once, "holder not recorded yet"); one held so for
 * longer is still refused, with that message. */
static void test_io_lock_unrecorded_holder_is_waited_for(void)
{
    wr_errbuf eb = {0};
    char who[256];
    const char *dir = tpath("unrecorded");
    char lock[512];
    bare_holder h;
    wri_lock *lk = NULL;
    snprintf(lock, sizeof lock, "%s/LOCK", dir);
    wri_io_fault_set(NULL);
    REQUIRE_OK(wri_io_mkdir(dir, &eb), &eb);
    bare_holder_start(&h, lock, 30);
    CHECK_EQ(wri_io_lock_take(dir, "wr-reader", WRI_LOCK_SHARED, &lk, &eb),
             WR_OK);
    wri_io_unlock_dir(lk);
    lk = NULL;
    bare_holder_end(&h);
    bare_holder_start(&h, lock, 30);
    CHECK_EQ(wri_io_lock_dir(dir, "wr-writer", &lk, &eb), WR_OK);
    wri_io_unlock_dir(lk);
    lk = NULL;
    bare_holder_end(&h);
    /* so is the question whether a writer holds it (an unlocked reader's) */
    bare_holder_start(&h, lock, 30);
    CHECK(!wri_io_lock_writer(dir, who, sizeof who));
    bare_holder_end(&h);
    bare_holder_start(&h, lock, 0);
    wr_errbuf_clear(&eb);
    CHECK_EQ(wri_io_lock_take(dir, "wr-reader", WRI_LOCK_SHARED, &lk, &eb),
             WR_ELOCKED);
    CHECK(strstr(eb.msg, "holder not recorded yet") != NULL);
    CHECK(wri_io_lock_writer(dir, who, sizeof who) && who[0] == '\0');
    wri_io_unlock_dir(lk);
    bare_holder_end(&h);
}

static void child_hold_then_remove(const char *dir, int ready)
{
    /* hold LOCK (created here) for a while, then release: the release
     * removes it while the parent waits on the same file; says so on
     * ready once it holds it (the parent waited for LOCK to exist, and
     * took it between the child's create and its flock) */
    wr_errbuf eb = {0};
    wri_lock *lk = NULL;
    if (wri_io_lock_dir(dir, "wr-child", &lk, &eb) != WR_OK ||
        write(ready, "h", 1) != 1)
        _exit(1);
    usleep(300 * 1000);
    wri_io_unlock_dir(lk);
    _exit(0);
}

/* A writer retrying behind a holder that created LOCK and removes it on
 * release gets the lock on a LOCK the name points to (and others see it). */
static void test_io_lock_survives_removal_by_holder(void)
{
    wr_errbuf eb = {0};
    const char *dir = tpath("rmdir-race");
    char lock[512];
    snprintf(lock, sizeof lock, "%s/LOCK", dir);
    wri_io_fault_set(NULL);
    REQUIRE_OK(wri_io_mkdir(dir, &eb), &eb);
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0)
        child_hold_then_remove(dir, ready[1]);
    close(ready[1]);
    wri_lock *w = NULL;
    int rc = WR_ELOCKED;
    char h;
    CHECK(read(ready[0], &h, 1) == 1); /* until the child holds it */
    close(ready[0]);
    for (int i = 0; i < 200 && rc == WR_ELOCKED; i++) {
        wr_errbuf_clear(&eb);
        rc = wri_io_lock_dir(dir, "wr-parent", &w, &eb);
        if (rc == WR_ELOCKED)
            usleep(10 * 1000);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    REQUIRE_OK(rc, &eb);
    /* what we hold is the file the name points to */
    struct stat a, b;
    CHECK(stat(lock, &a) == 0);
    CHECK(lstat(lock, &b) == 0 && a.st_ino == b.st_ino);
    wri_lock *other = NULL;
    CHECK_EQ(wri_io_lock_take(dir, "r", WRI_LOCK_SHARED, &other, &eb),
             WR_ELOCKED);
    wri_io_unlock_dir(other);
    wri_io_unlock_dir(w);
    CHECK(access(lock, F_OK) != 0); /* we created the new one: removed */
}

int main(void)
{
    /* These two fork before this process has touched io, so the children
     * read the environment themselves. */
    RUN(test_io_env_fault_plan_crash_with_tear);
    RUN(test_io_power_env_plan_past_the_end);
    RUN(test_io_env_fault_plan_fail_sticky_and_stats);
    RUN(test_io_errno_translation);
    RUN(test_io_short_read_is_corrupt_and_read_some_stops_at_eof);
    RUN(test_io_read_whole_and_paths);
    RUN(test_io_op_counter_counts_mutating_ops_only);
    RUN(test_io_forget_drops_clean_cached_pages);
    RUN(test_io_injected_fail_once_and_sticky);
    RUN(test_io_injected_crash_and_torn_write);
    RUN(test_io_trace_sees_every_mutating_op);
    RUN(test_io_lock_dir_refuses_second_holder_and_names_it);
    RUN(test_io_power_rename_needs_both_directories);
    RUN(test_io_power_fsynced_write_survives_the_rest_may_not);
    RUN(test_io_power_write_torn_in_pieces);
    RUN(test_io_power_lost_create_and_mkdir_take_dependents);
    RUN(test_io_lock_shared_and_exclusive);
    RUN(test_io_lock_survives_removal_by_holder);
    RUN(test_io_lock_overlapping_readers_leave_none);
    RUN(test_io_lock_unrecorded_holder_is_waited_for);
    RUN(test_io_lock_release_keeps_the_record_while_held);
    RUN(test_io_power_covers_the_lock_file);
    RUN(test_io_path_within);
    RUN(test_io_same_file);
    return tap_done();
}
