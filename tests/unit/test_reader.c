/*
 * test_reader.c -- readers beside writers (reader.c): the shared lock
 * against a writer, waiting for it, and the --no-lock signature that turns
 * a change under the reader into WR_ECHANGED.
 */
#include "tap.h"

#include "wr_int.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A database of one collection "c" with n documents, one checkpoint. */
static int make_db(const char *dir, int from, int n, wr_errbuf *eb)
{
    int rc;
    wr_db *db = NULL;
    wr_coll *c = NULL;
    wr_db_opts o = {.create = true, .holder = "wr-test"};
    if ((rc = wr_db_open(dir, &o, &db, eb)) != WR_OK)
        return rc;
    if ((rc = wr_coll_open(db, "c", true, &c, eb)) != WR_OK)
        goto out;
    for (int i = from; i < from + n; i++) {
        bson_t *d = BCON_NEW("_id", BCON_INT32(i), "v", BCON_INT32(i * 7));
        rc = wr_coll_put(c, d, NULL, eb);
        bson_destroy(d);
        if (rc != WR_OK)
            goto out;
    }
    rc = wr_db_checkpoint(db, eb);
out:
    wr_db_close(db);
    return rc;
}

static bool exists(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* A reader beside a writer: refused naming it; the writer gone, the
 * reader reads and leaves no LOCK it made. */
static void test_read_lock_refused_by_writer(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("locked");
    wr_db *w = NULL;
    wr_read *rd = NULL;
    REQUIRE_OK(make_db(dir, 0, 50, &eb), &eb);
    CHECK(!exists(dir, WR_LOCK_NAME)); /* the writer made it, and removed it */
    wr_db_opts wo = {.holder = "wr-load"};
    REQUIRE_OK(wr_db_open(dir, &wo, &w, &eb), &eb);
    pid_t pid = fork();
    if (pid == 0) { /* another process: flock is per open file anyway */
        wr_errbuf e2 = {0};
        wr_read_opts ro = {.holder = "wr-verify"};
        char want[64];
        snprintf(want, sizeof want, "locked by pid %ld (wr-load)",
                 (long)getppid());
        int rc = wr_read_begin(dir, &ro, &rd, &e2);
        _exit(rc == WR_ELOCKED && strstr(e2.msg, want) ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* a tree file inside the directory is covered by the same lock */
    char file[600];
    snprintf(file, sizeof file, "%s/c.main.wr", dir);
    wr_read_opts ro = {.holder = "wr-dump"};
    CHECK_EQ(wr_read_begin(file, &ro, &rd, &eb), WR_ELOCKED);
    wr_errbuf_clear(&eb);
    wr_db_close(w);
    REQUIRE_OK(wr_read_begin(dir, &ro, &rd, &eb), &eb);
    CHECK(wr_read_note(rd) == NULL);
    CHECK(exists(dir, WR_LOCK_NAME));
    /* a writer cannot start while the reader reads */
    CHECK_EQ(wr_db_open(dir, &wo, &w, &eb), WR_ELOCKED);
    CHECK(strstr(eb.msg, "reader") != NULL);
    wr_errbuf_clear(&eb);
    REQUIRE_OK(wr_read_end(rd, &eb), &eb);
    CHECK(!exists(dir, WR_LOCK_NAME));
    /* a path that does not exist is the reader's to report */
    snprintf(file, sizeof file, "%s/nothing-here", dir);
    REQUIRE_OK(wr_read_begin(file, &ro, &rd, &eb), &eb);
    REQUIRE_OK(wr_read_end(rd, &eb), &eb);
    free(dir);
}

typedef struct waited {
    unsigned calls;
    char who[256];
    int release; /* the pipe end that lets the writer go; -1 once used */
} waited;

static void on_waiting(const char *who, unsigned seconds, void *arg)
{
    waited *w = arg;
    (void)seconds;
    w->calls++;
    snprintf(w->who, sizeof w->who, "%s", who);
    if (w->release >= 0) { /* the reader is waiting: now let the writer go */
        CHECK(write(w->release, "g", 1) == 1);
        close(w->release);
        w->release = -1;
    }
}

/* WR_READ_WAIT waits while a writer holds the lock, saying who it is. The
 * writer is a child that holds the lock until the reader has said it is
 * waiting: pipes, not timing, order the steps. */
static void test_read_wait_for_writer(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("wait");
    int held[2], go[2];
    REQUIRE_OK(make_db(dir, 0, 10, &eb), &eb);
    REQUIRE(pipe(held) == 0 && pipe(go) == 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        wr_errbuf e2 = {0};
        wr_db *w = NULL;
        wr_db_opts wo = {.holder = "wr-slow"};
        char b;
        close(held[0]);
        close(go[1]);
        if (wr_db_open(dir, &wo, &w, &e2) != WR_OK)
            _exit(1);
        /* held until told; 60 s at most, so a reader that never says it
         * waits fails the checks below instead of hanging the test */
        struct pollfd pf = {.fd = go[0], .events = POLLIN};
        if (write(held[1], "h", 1) != 1 || poll(&pf, 1, 60 * 1000) != 1 ||
            read(go[0], &b, 1) != 1)
            _exit(1);
        wr_db_close(w);
        _exit(0);
    }
    close(held[1]);
    close(go[0]);
    char b = 0;
    CHECK(read(held[0], &b, 1) == 1 && b == 'h'); /* the writer has the lock */
    close(held[0]);
    char who[64] = "";
    CHECK(wri_io_lock_writer(dir, who, sizeof who));
    CHECK(strstr(who, "wr-slow") != NULL);
    waited wt = {.release = go[1]};
    wr_read *rd = NULL;
    wr_read_opts ro = {.mode = WR_READ_WAIT, .holder = "wr-verify",
                       .waiting = on_waiting, .arg = &wt};
    REQUIRE_OK(wr_read_begin(dir, &ro, &rd, &eb), &eb);
    CHECK(wt.calls >= 1);
    CHECK(strstr(wt.who, "wr-slow") != NULL);
    int st;
    waitpid(pid, &st, 0); /* the writer finished before we got the lock */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    REQUIRE_OK(wr_read_end(rd, &eb), &eb);
    /* an interrupted wait stops with WR_EINTR */
    wr_db *w = NULL;
    wr_db_opts wo = {.holder = "wr-load"};
    REQUIRE_OK(wr_db_open(dir, &wo, &w, &eb), &eb);
    volatile int stop = 1;
    ro.interrupted = &stop;
    CHECK_EQ(wr_read_begin(dir, &ro, &rd, &eb), WR_EINTR);
    wr_errbuf_clear(&eb);
    wr_db_close(w);
    free(dir);
}

/* WR_READ_NOLOCK: nothing moved -> WR_OK; a checkpoint, or a new tree
 * file, under the reader -> WR_ECHANGED saying what moved. */
static void test_read_nolock_sees_changes(void)
{
    wr_errbuf eb = {0};
    char *dir = tap_fresh_path("nolock");
    wr_read *rd = NULL;
    wr_read_opts ro = {.mode = WR_READ_NOLOCK, .holder = "wr-verify"};
    REQUIRE_OK(make_db(dir, 0, 20, &eb), &eb);
    /* nothing moved; no LOCK taken or made */
    REQUIRE_OK(wr_read_begin(dir, &ro, &rd, &eb), &eb);
    CHECK(wr_read_note(rd) != NULL);
    CHECK(!exists(dir, WR_LOCK_NAME));
    REQUIRE_OK(wr_read_end(rd, &eb), &eb);
    /* a writer checkpoints under the reader */
    REQUIRE_OK(wr_read_begin(dir, &ro, &rd, &eb), &eb);
    REQUIRE_OK(make_db(dir, 100, 5, &eb), &eb);
    CHECK_EQ(wr_read_end(rd, &eb), WR_ECHANGED);
    CHECK(strstr(eb.msg, "changed during the check") != NULL);
    CHECK(strstr(eb.msg, "catalog generation") != NULL);
    wr_errbuf_clear(&eb);
    /* a lone tree file: its slots are the signature */
    char file[600];
    snprintf(file, sizeof file, "%s/c.main.wr", dir);
    REQUIRE_OK(wr_read_begin(file, &ro, &rd, &eb), &eb);
    REQUIRE_OK(make_db(dir, 200, 5, &eb), &eb);
    CHECK_EQ(wr_read_end(rd, &eb), WR_ECHANGED);
    CHECK(strstr(eb.msg, "slots") != NULL);
    wr_errbuf_clear(&eb);
    /* a writer holding the lock while a file the catalog does not name
     * is there: the directory is changing */
    wr_db *w = NULL;
    wr_coll *c = NULL;
    wr_db_opts wo = {.holder = "wr-load"};
    REQUIRE_OK(wr_db_open(dir, &wo, &w, &eb), &eb);
    REQUIRE_OK(wr_coll_open(w, "fresh", true, &c, &eb), &eb);
    REQUIRE_OK(wr_read_begin(dir, &ro, &rd, &eb), &eb);
    CHECK_EQ(wr_read_end(rd, &eb), WR_ECHANGED);
    CHECK(strstr(eb.msg, "fresh.main.wr") != NULL);
    CHECK(strstr(eb.msg, "wr-load") != NULL);
    wr_errbuf_clear(&eb);
    wr_db_close(w);
    free(dir);
}

int main(void)
{
    RUN(test_read_lock_refused_by_writer);
    RUN(test_read_wait_for_writer);
    RUN(test_read_nolock_sees_changes);
    return tap_done();
}
