/*
 * peer_sqlite.c -- the SQLite peer: load the benchmark's JSONL into
 * CREATE TABLE docs(id BLOB PRIMARY KEY, doc BLOB) WITHOUT ROWID, in one
 * transaction, with SQLite's defaults (4 KiB pages, rollback journal,
 * synchronous=FULL).
 *
 *   peer_sqlite load FILE.db FILE    parse with libbson, sort, last
 *                                    version wins, INSERT in key order,
 *                                    COMMIT
 *   peer_sqlite apply FILE.db FILE   INSERT OR REPLACE / DELETE in file
 *                                    order, one transaction
 *   peer_sqlite --check              exit 0 if SQLite is usable here
 *
 * Built only where <sqlite3.h> exists (libsqlite3-dev); libsqlite3 is
 * opened with dlopen (see peer.h).
 */
#include <stdio.h>

#if defined(__has_include)
#if __has_include(<sqlite3.h>)
#define HAVE_PEER 1
#endif
#endif

#ifndef HAVE_PEER
int main(void)
{
    fprintf(stderr, "peer_sqlite: peer not installed (no sqlite3.h at build "
                    "time; make bench-peers, then make bench)\n");
    return 77;
}
#else

#include "peer.h"

#include <dlfcn.h>
#include <sqlite3.h>

#define SQL_FUNCS(X)                                                         \
    X(sqlite3_open)                                                          \
    X(sqlite3_close)                                                         \
    X(sqlite3_exec)                                                          \
    X(sqlite3_prepare_v2)                                                    \
    X(sqlite3_bind_blob)                                                     \
    X(sqlite3_step)                                                          \
    X(sqlite3_reset)                                                         \
    X(sqlite3_finalize)                                                      \
    X(sqlite3_errmsg)                                                        \
    X(sqlite3_libversion)

#define SQL_PTR(f) static __typeof__(f) *p_##f;
SQL_FUNCS(SQL_PTR)

static int sql_dlopen(void)
{
    static const char *const names[] = {"libsqlite3.so.0", "libsqlite3.so"};
    void *h = NULL;
    for (size_t i = 0; i < 2 && h == NULL; i++)
        h = dlopen(names[i], RTLD_NOW);
    if (h == NULL) {
        fprintf(stderr, "peer_sqlite: peer not installed (%s)\n", dlerror());
        return -1;
    }
#define SQL_SYM(f)                                                           \
    if ((p_##f = (__typeof__(p_##f))dlsym(h, #f)) == NULL) {                 \
        fprintf(stderr, "peer_sqlite: peer not installed (no %s)\n", #f);    \
        return -1;                                                           \
    }
    SQL_FUNCS(SQL_SYM)
    return 0;
}

#define SQL_TRY(what, call)                                                  \
    do {                                                                     \
        if ((call) != SQLITE_OK) {                                           \
            fprintf(stderr, "peer_sqlite: %s: %s\n", what,                   \
                    p_sqlite3_errmsg(db));                                   \
            rc = 3;                                                          \
            goto out;                                                        \
        }                                                                    \
    } while (0)

static int sql_run(sqlite3 *db, sqlite3_stmt *st)
{
    int ret = p_sqlite3_step(st);
    p_sqlite3_reset(st);
    return ret == SQLITE_DONE ? SQLITE_OK : ret;
}

int main(int argc, char **argv)
{
    int rc = 0;
    peer_input in = {0};
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *del = NULL;
    bool load;
    double t0;
    if (argc == 2 && strcmp(argv[1], "--check") == 0) {
        if (sql_dlopen() != 0)
            return PEER_EXIT_ABSENT;
        printf("%s\n", p_sqlite3_libversion());
        return 0;
    }
    if (argc != 4 || (strcmp(argv[1], "load") != 0 &&
                      strcmp(argv[1], "apply") != 0))
        return peer_usage("peer_sqlite");
    load = strcmp(argv[1], "load") == 0;
    if (sql_dlopen() != 0)
        return PEER_EXIT_ABSENT;
    if ((rc = peer_read(argv[3], &in)) != 0)
        goto out;
    if (load)
        peer_sort_last_wins(&in);
    t0 = peer_now();
    if (p_sqlite3_open(argv[2], &db) != SQLITE_OK) {
        fprintf(stderr, "peer_sqlite: %s: cannot open\n", argv[2]);
        rc = 3;
        goto out;
    }
    SQL_TRY("create", p_sqlite3_exec(db,
                                     "CREATE TABLE IF NOT EXISTS docs(id BLOB "
                                     "PRIMARY KEY, doc BLOB) WITHOUT ROWID",
                                     NULL, NULL, NULL));
    SQL_TRY("begin", p_sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
    SQL_TRY("prepare",
            p_sqlite3_prepare_v2(db,
                                 load ? "INSERT INTO docs VALUES(?1, ?2)"
                                      : "INSERT OR REPLACE INTO docs "
                                        "VALUES(?1, ?2)",
                                 -1, &ins, NULL));
    SQL_TRY("prepare", p_sqlite3_prepare_v2(
                           db, "DELETE FROM docs WHERE id = ?1", -1, &del,
                           NULL));
    for (size_t i = 0; i < in.n; i++) {
        sqlite3_stmt *st = in.rec[i].vlen == 0 ? del : ins;
        SQL_TRY("bind", p_sqlite3_bind_blob(st, 1, peer_key(&in, i),
                                            (int)in.rec[i].klen,
                                            SQLITE_STATIC));
        if (st == ins)
            SQL_TRY("bind", p_sqlite3_bind_blob(st, 2, peer_val(&in, i),
                                                (int)in.rec[i].vlen,
                                                SQLITE_STATIC));
        SQL_TRY(st == ins ? "insert" : "delete", sql_run(db, st));
    }
    SQL_TRY("commit", p_sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
    peer_report("peer_sqlite", argv[1], &in, peer_now() - t0);
out:
    if (ins != NULL)
        p_sqlite3_finalize(ins);
    if (del != NULL)
        p_sqlite3_finalize(del);
    if (db != NULL)
        p_sqlite3_close(db);
    peer_free(&in);
    return rc;
}
#endif
