/*
 * peer_lmdb.c -- the LMDB peer: load the benchmark's JSONL into the main
 * database of an environment, `_id` -> BSON, in one write transaction.
 *
 *   peer_lmdb load DIR FILE    parse with libbson, sort, last version
 *                              wins, mdb_put(MDB_APPEND) in key order,
 *                              commit (LMDB syncs at commit)
 *   peer_lmdb apply DIR FILE   puts and deletes in file order, one commit
 *   peer_lmdb dump DIR [--relaxed]
 *                              every value in key order as one line of
 *                              Extended JSON on stdout (canonical, or
 *                              relaxed), the format wr-dump --docs
 *                              writes: a read-only transaction's cursor
 *                              walk, libbson's bson_as_canonical_extended_
 *                              json (bson_as_relaxed_extended_json), and
 *                              stdio's fwrite into a 256 KiB buffer
 *   peer_lmdb --check          exit 0 if LMDB is usable here
 *
 * Built only where <lmdb.h> exists; liblmdb is opened with dlopen (see
 * peer.h).
 */
#include <stdio.h>

#if defined(__has_include)
#if __has_include(<lmdb.h>)
#define HAVE_PEER 1
#endif
#endif

#ifndef HAVE_PEER
int main(void)
{
    fprintf(stderr, "peer_lmdb: peer not installed (no lmdb.h at build "
                    "time; make bench-peers, then make bench)\n");
    return 77;
}
#else

#include "peer.h"

#include <dlfcn.h>
#include <lmdb.h>

#define LMDB_FUNCS(X)                                                        \
    X(mdb_env_create)                                                        \
    X(mdb_env_set_mapsize)                                                   \
    X(mdb_env_open)                                                          \
    X(mdb_env_close)                                                         \
    X(mdb_txn_begin)                                                         \
    X(mdb_txn_commit)                                                        \
    X(mdb_txn_abort)                                                         \
    X(mdb_dbi_open)                                                          \
    X(mdb_put)                                                               \
    X(mdb_del)                                                               \
    X(mdb_strerror)                                                          \
    X(mdb_cursor_open)                                                       \
    X(mdb_cursor_get)                                                        \
    X(mdb_cursor_close)                                                      \
    X(mdb_version)

#define LMDB_PTR(f) static __typeof__(f) *p_##f;
LMDB_FUNCS(LMDB_PTR)

static int lmdb_dlopen(void)
{
    static const char *const names[] = {"liblmdb.so.0", "liblmdb.so"};
    void *h = NULL;
    for (size_t i = 0; i < 2 && h == NULL; i++)
        h = dlopen(names[i], RTLD_NOW);
    if (h == NULL) {
        fprintf(stderr, "peer_lmdb: peer not installed (%s)\n", dlerror());
        return -1;
    }
#define LMDB_SYM(f)                                                          \
    if ((p_##f = (__typeof__(p_##f))dlsym(h, #f)) == NULL) {                 \
        fprintf(stderr, "peer_lmdb: peer not installed (no %s)\n", #f);      \
        return -1;                                                           \
    }
    LMDB_FUNCS(LMDB_SYM)
    return 0;
}

#define MDB_TRY(what, call)                                                  \
    do {                                                                     \
        int ret_ = (call);                                                   \
        if (ret_ != 0) {                                                     \
            fprintf(stderr, "peer_lmdb: %s: %s\n", what,                     \
                    p_mdb_strerror(ret_));                                   \
            rc = 3;                                                          \
            goto out;                                                        \
        }                                                                    \
    } while (0)

static int lmdb_usage(void)
{
    int rc = peer_usage("peer_lmdb");
    fprintf(stderr, "       peer_lmdb dump DIR [--relaxed]   every value as "
                    "one line of Extended JSON\n");
    return rc;
}

/* peer_lmdb dump: what a C program would write to print every document
 * of an LMDB database as JSONL with libbson. libbson formats doubles as
 * "%.20g" where wr-dump writes the fewest digits that read back as the
 * same double; everything else is the same text (bench/run.sh says
 * where the two outputs differ). */
static int dump(const char *dir, bool relaxed)
{
    static char buf[256 << 10];
    int rc = 0;
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_dbi dbi;
    MDB_val k, v;
    int ret;
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    MDB_TRY("mdb_env_create", p_mdb_env_create(&env));
    MDB_TRY("mdb_env_open", p_mdb_env_open(env, dir, MDB_RDONLY, 0644));
    MDB_TRY("mdb_txn_begin", p_mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    MDB_TRY("mdb_dbi_open", p_mdb_dbi_open(txn, NULL, 0, &dbi));
    MDB_TRY("mdb_cursor_open", p_mdb_cursor_open(txn, dbi, &cur));
    while ((ret = p_mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        bson_t doc;
        size_t len;
        char *s;
        if (!bson_init_static(&doc, v.mv_data, v.mv_size)) {
            fprintf(stderr, "peer_lmdb: a value is not BSON\n");
            rc = 1;
            goto out;
        }
        s = relaxed ? bson_as_relaxed_extended_json(&doc, &len)
                    : bson_as_canonical_extended_json(&doc, &len);
        if (s == NULL) {
            fprintf(stderr, "peer_lmdb: a value is not valid BSON\n");
            rc = 1;
            goto out;
        }
        fwrite(s, 1, len, stdout);
        putc('\n', stdout);
        bson_free(s);
    }
    if (ret != MDB_NOTFOUND)
        MDB_TRY("mdb_cursor_get", ret);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "peer_lmdb: stdout: %s\n", strerror(errno));
        rc = 3;
    }
out:
    if (cur != NULL)
        p_mdb_cursor_close(cur);
    if (txn != NULL)
        p_mdb_txn_abort(txn);
    if (env != NULL)
        p_mdb_env_close(env);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;
    peer_input in = {0};
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    struct stat st;
    bool load;
    double t0;
    if (argc == 2 && strcmp(argv[1], "--check") == 0) {
        if (lmdb_dlopen() != 0)
            return PEER_EXIT_ABSENT;
        printf("%s\n", p_mdb_version(NULL, NULL, NULL));
        return 0;
    }
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "dump") == 0) {
        if (argc == 4 && strcmp(argv[3], "--relaxed") != 0)
            return lmdb_usage();
        if (lmdb_dlopen() != 0)
            return PEER_EXIT_ABSENT;
        return dump(argv[2], argc == 4);
    }
    if (argc != 4 || (strcmp(argv[1], "load") != 0 &&
                      strcmp(argv[1], "apply") != 0))
        return lmdb_usage();
    load = strcmp(argv[1], "load") == 0;
    if (lmdb_dlopen() != 0)
        return PEER_EXIT_ABSENT;
    if (mkdir(argv[2], 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "peer_lmdb: %s: %s\n", argv[2], strerror(errno));
        return 3;
    }
    if (stat(argv[3], &st) != 0) {
        fprintf(stderr, "peer_lmdb: %s: %s\n", argv[3], strerror(errno));
        return 3;
    }
    if ((rc = peer_read(argv[3], &in)) != 0)
        goto out;
    if (load)
        peer_sort_last_wins(&in);
    t0 = peer_now();
    MDB_TRY("mdb_env_create", p_mdb_env_create(&env));
    /* the map only reserves address space; the file grows as written */
    MDB_TRY("mdb_env_set_mapsize",
            p_mdb_env_set_mapsize(env, (size_t)(4 * (uint64_t)st.st_size +
                                                (1ull << 30))));
    MDB_TRY("mdb_env_open", p_mdb_env_open(env, argv[2], 0, 0644));
    MDB_TRY("mdb_txn_begin", p_mdb_txn_begin(env, NULL, 0, &txn));
    MDB_TRY("mdb_dbi_open", p_mdb_dbi_open(txn, NULL, 0, &dbi));
    for (size_t i = 0; i < in.n; i++) {
        MDB_val k = {.mv_size = in.rec[i].klen,
                     .mv_data = (void *)peer_key(&in, i)};
        if (in.rec[i].vlen == 0) {
            int ret = p_mdb_del(txn, dbi, &k, NULL);
            if (ret != 0 && ret != MDB_NOTFOUND)
                MDB_TRY("mdb_del", ret);
        } else {
            MDB_val v = {.mv_size = in.rec[i].vlen,
                         .mv_data = (void *)peer_val(&in, i)};
            MDB_TRY("mdb_put",
                    p_mdb_put(txn, dbi, &k, &v, load ? MDB_APPEND : 0));
        }
    }
    MDB_TRY("mdb_txn_commit", p_mdb_txn_commit(txn));
    txn = NULL;
    peer_report("peer_lmdb", argv[1], &in, peer_now() - t0);
out:
    if (txn != NULL)
        p_mdb_txn_abort(txn);
    if (env != NULL)
        p_mdb_env_close(env);
    peer_free(&in);
    return rc;
}
#endif
